/*
 * Command-line values and allocations of the tools (apps/) and examples
 * (apps/examples/), checked alike: a value is the whole string, a number
 * within its range, or the program says which option was wrong and what it
 * takes (atoi and atof took "abc" as 0, strtoull "-1" as 2^64 - 1, and a
 * cast to int cut 4294967297 to 1). An allocation that fails says how much
 * was asked for (mpmp_errmsg() knows nothing of the program's own mallocs).
 * Included by each program (static inline functions: a program uses some).
 */
#ifndef MPMP_APPS_ARGS_H
#define MPMP_APPS_ARGS_H

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <mpmp.h>

/* `s`, the value of option `opt` of program `prog`, as a whole number in
 * [lo, hi] into *out; 0, or -1 after the message on stderr. */
static inline int mpmp_app_int(const char *prog, const char *opt,
                               const char *s, long long lo, long long hi,
                               long long *out) {
  char *end = NULL;
  long long v = 0;
  errno = 0;
  if (s != NULL && *s != '\0' && !isspace((unsigned char)*s))
    v = strtoll(s, &end, 10);
  if (end == NULL || end == s || *end != '\0' || errno == ERANGE || v < lo ||
      v > hi) {
    fprintf(stderr, "%s: %s '%s' is not valid: give a whole number from "
            "%lld to %lld\n", prog, opt, s ? s : "", lo, hi);
    return -1;
  }
  *out = v;
  return 0;
}

/* The same for a finite real number in [lo, hi] (no inf, nan or 1e300). */
static inline int mpmp_app_real(const char *prog, const char *opt,
                                const char *s, double lo, double hi,
                                double *out) {
  char *end = NULL;
  double v = 0;
  errno = 0;
  if (s != NULL && *s != '\0' && !isspace((unsigned char)*s))
    v = strtod(s, &end);
  if (end == NULL || end == s || *end != '\0' || errno == ERANGE ||
      !isfinite(v) || v < lo || v > hi) {
    fprintf(stderr, "%s: %s '%s' is not valid: give a number from %.15g "
            "to %.15g\n", prog, opt, s ? s : "", lo, hi);
    return -1;
  }
  *out = v;
  return 0;
}

/* calloc(n, size) for `what`; NULL after the message on stderr. */
static inline void *mpmp_app_alloc(const char *prog, size_t n, size_t size,
                                   const char *what) {
  void *p = calloc(n ? n : 1, size);
  if (p == NULL)
    fprintf(stderr, "%s: out of memory: %zu x %zu bytes for %s could not be "
            "allocated: ask for fewer items\n", prog, n, size, what);
  return p;
}

/* The tutorials' one optional argument, on the main rank after
 * mpmp_init: the seconds their processes pause (default `def`). A bad one
 * (atof took "abc" as 0 and "-1" as no pause) ends the program with
 * status 2 after mpmp_finalize. */
static inline double mpmp_app_pause(int argc, char **argv, double def) {
  double v = def;
  if (argc > 2)
    fprintf(stderr, "usage: %s [seconds to pause, default %g]\n", argv[0],
            def);
  if (argc > 2 ||
      (argc == 2 && mpmp_app_real(argv[0], "the pause", argv[1], 0, 3600,
                                  &v) < 0)) {
    mpmp_finalize();
    exit(2);
  }
  return v;
}

#endif /* MPMP_APPS_ARGS_H */
