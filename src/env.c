/*
 * Settings from the environment. The table is env_defs.h; this file turns
 * it into a parser and the MPMP_INFO=1 listing, so a new setting is one line.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static int parse_bool(const char *var, const char *s, int *out) {
  if (!strcmp(s, "1") || !strcasecmp(s, "yes") || !strcasecmp(s, "true") ||
      !strcasecmp(s, "on")) {
    *out = 1;
    return 0;
  }
  if (!strcmp(s, "0") || !strcasecmp(s, "no") || !strcasecmp(s, "false") ||
      !strcasecmp(s, "off") || !*s) {
    *out = 0;
    return 0;
  }
  return mpmp__err(MPMP_EENV, "%s='%s' is not a boolean: use 1 or 0", var, s);
}

static int parse_size(const char *var, const char *s, size_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s || errno || *s == '-')
    goto bad;
  unsigned long long mult = 1;
  switch (toupper((unsigned char)*end)) {
  case 'K': mult = 1ull << 10; end++; break;
  case 'M': mult = 1ull << 20; end++; break;
  case 'G': mult = 1ull << 30; end++; break;
  default: break;
  }
  if (*end == 'B' || *end == 'b')
    end++;
  if (*end != '\0' || v > SIZE_MAX / mult)
    goto bad;
  *out = (size_t)(v * mult);
  return 0;
bad:
  return mpmp__err(MPMP_EENV,
                   "%s='%s' is not a size: use bytes with an optional K, M or G "
                   "suffix, e.g. %s=64M", var, s, var);
}

static int parse_double(const char *var, const char *s, double *out) {
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || errno || v < 0)
    return mpmp__err(MPMP_EENV, "%s='%s' is not a non-negative number", var, s);
  *out = v;
  return 0;
}

static int parse_str(const char *var, const char *s, const char **out) {
  (void)var;
  *out = s;
  return 0;
}

#define MPMP__PARSE_STR parse_str
#define MPMP__PARSE_BOOL parse_bool
#define MPMP__PARSE_SIZE parse_size
#define MPMP__PARSE_DOUBLE parse_double

int mpmp__env_load(mpmp__env_t *env) {
  const char *s;
  int rc;
#define MPMP__ENV_LOAD(name, type, def, desc)                      \
  s = getenv("MPMP_" #name);                                       \
  env->from_env_##name = (s != NULL);                              \
  rc = MPMP__PARSE_##type("MPMP_" #name, s ? s : def, &env->name); \
  if (rc < 0)                                                      \
    return rc;
  MPMP_ENV_MAP(MPMP__ENV_LOAD)
#undef MPMP__ENV_LOAD
  return 0;
}

/* Each type formats its value into a buffer, so the listing lines up. */
static void fmt_str(char *b, size_t n, const char *v) { snprintf(b, n, "%s", v); }
static void fmt_bool(char *b, size_t n, int v) { snprintf(b, n, "%d", v); }
static void fmt_size(char *b, size_t n, size_t v) { snprintf(b, n, "%zu", v); }
static void fmt_double(char *b, size_t n, double v) { snprintf(b, n, "%g", v); }
#define MPMP__FMT_STR fmt_str
#define MPMP__FMT_BOOL fmt_bool
#define MPMP__FMT_SIZE fmt_size
#define MPMP__FMT_DOUBLE fmt_double

void mpmp__env_print(const mpmp__env_t *env, FILE *out) {
  char value[128];
  fprintf(out, "%-22s %-12s %-8s %s\n", "setting", "value", "source",
          "meaning");
#define MPMP__ENV_PRINT(name, type, def, desc)                        \
  MPMP__FMT_##type(value, sizeof value, env->name);                   \
  fprintf(out, "%-22s %-12s %-8s %s\n", "MPMP_" #name, value,         \
          env->from_env_##name ? "env" : "default", desc);
  MPMP_ENV_MAP(MPMP__ENV_PRINT)
#undef MPMP__ENV_PRINT
}

/*
 * The job's settings are the main rank's. mpirun forwards a user's
 * environment to the ranks on its own node, but ranks on other nodes get
 * the remote shell's (unless every variable is named with -x), and a
 * setting such as MPMP_HEAP_SIZE must agree across ranks. So at init the
 * main rank sends "NAME=value" for each setting it has, and every rank sets
 * those and unsets the ones the main rank lacks, then parses again.
 * Collective over `comm`.
 */
int mpmp__env_share(MPI_Comm comm, int rank, mpmp__env_t *env) {
  static const char *const names[] = {
#define MPMP__ENV_NAME(name, type, def, desc) "MPMP_" #name,
      MPMP_ENV_MAP(MPMP__ENV_NAME)
#undef MPMP__ENV_NAME
  };
  enum { N = sizeof names / sizeof names[0] };
  char *buf = NULL;
  int len = 0;
  if (rank == 0) { /* name\0value\0 for each setting the main rank has */
    size_t total = 0;
    for (int i = 0; i < N; i++) {
      const char *v = getenv(names[i]);
      total += v ? strlen(names[i]) + strlen(v) + 2 : 0;
    }
    if (total > INT32_MAX)
      total = 0; /* absurd; share nothing rather than a cut string */
    buf = mpmp__malloc(total + 1);
    if (buf == NULL)
      total = 0;
    for (int i = 0; buf != NULL && i < N; i++) {
      const char *v = getenv(names[i]);
      if (v != NULL)
        len += snprintf(buf + len, total + 1 - (size_t)len, "%s%c%s%c",
                        names[i], 0, v, 0);
    }
  }
  MPI_Bcast(&len, 1, MPI_INT, 0, comm);
  if (rank != 0 && (buf = mpmp__malloc((size_t)len + 1)) == NULL)
    len = 0; /* keep this rank's own settings */
  if (len > 0)
    MPI_Bcast(buf, len, MPI_CHAR, 0, comm);
  int rc = 0;
  if (rank != 0 && buf != NULL) {
    for (int i = 0; i < N; i++)
      unsetenv(names[i]);
    for (const char *p = buf; p < buf + len;) {
      const char *v = p + strlen(p) + 1;
      setenv(p, v, 1);
      p = v + strlen(v) + 1;
    }
    rc = mpmp__env_load(env);
  }
  mpmp__free(buf);
  return rc;
}
