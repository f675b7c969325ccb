/*
 * Settings from the environment. The table is env_defs.h; this file turns
 * it into a parser, the MPMP_INFO=1 listing and the messages, so a new
 * setting is one line and its range is said the same way everywhere.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base.h"

extern char **environ;

/* ---- the table as data ------------------------------------------------------- */

typedef struct setting {
  const char *name; /* without MPMP_ */
  mpmp__env_type_t type;
  const char *def;
  double lo, hi;
  const char *unit, *words;
} setting_t;

static const setting_t settings[] = {
#define MPMP__ENV_ROW(name, type, def, lo, hi, unit, words, desc) \
  {#name, MPMP__ENV_##type, def, lo, hi, unit, words},
    MPMP_ENV_MAP(MPMP__ENV_ROW)
#undef MPMP__ENV_ROW
};
enum { NSETTINGS = sizeof settings / sizeof settings[0] };

static const setting_t *find_setting(const char *name) {
  for (int i = 0; i < NSETTINGS; i++)
    if (!strcmp(settings[i].name, name))
      return &settings[i];
  return NULL;
}

/* Bytes with the largest suffix that divides them: 65536 -> "64K". */
static void fmt_bytes(char *b, size_t n, double v) {
  static const char suffix[] = "KMGT";
  unsigned long long x = (unsigned long long)v;
  int s = -1;
  while (s < 3 && x >= 1024 && x % 1024 == 0) {
    x /= 1024;
    s++;
  }
  if (s < 0)
    snprintf(b, n, "%llu", x);
  else
    snprintf(b, n, "%llu%c", x, suffix[s]);
}

/* "core|numa|none" -> "core, numa or none" */
static void fmt_words(char *b, size_t n, const char *words) {
  size_t at = 0;
  const char *w = words;
  while (*w && at + 1 < n) {
    size_t len = strcspn(w, "|");
    const char *sep = w[len] == '\0' ? "" : strchr(w + len + 1, '|') ? ", " : " or ";
    int k = snprintf(b + at, n - at, "%.*s%s", (int)len, w, sep);
    if (k < 0)
      break;
    at += (size_t)k < n - at ? (size_t)k : n - at - 1;
    w += len + (w[len] != '\0');
  }
  b[at] = '\0';
}

static void fmt_range(char *b, size_t n, const setting_t *s) {
  char lo[32], hi[32];
  if (s->type == MPMP__ENV_SIZE) {
    fmt_bytes(lo, sizeof lo, s->lo);
    fmt_bytes(hi, sizeof hi, s->hi);
  } else {
    snprintf(lo, sizeof lo, "%.15g", s->lo);
    snprintf(hi, sizeof hi, "%.15g", s->hi);
  }
  snprintf(b, n, "%s to %s", lo, hi);
}

const char *mpmp__env_allowed(const char *name, char *buf, size_t n) {
  const setting_t *s = find_setting(name);
  char range[80];
  if (n == 0)
    return buf;
  buf[0] = '\0';
  if (s == NULL)
    return buf;
  switch (s->type) {
  case MPMP__ENV_SIZE:
  case MPMP__ENV_DOUBLE:
    fmt_range(range, sizeof range, s);
    snprintf(buf, n, "%s %s%s", range, s->unit,
             s->def[0] ? "" : " (empty: off)");
    break;
  case MPMP__ENV_BOOL:
    snprintf(buf, n, "1 or 0");
    break;
  case MPMP__ENV_STR:
    if (s->words[0])
      fmt_words(buf, n, s->words);
    else
      snprintf(buf, n, "%s", s->unit);
    break;
  }
  return buf;
}

/* ---- parsers: 0, or MPMP_EENV naming the variable and the range ------------- */

static int parse_bool(const setting_t *d, const char *s, int *out) {
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
  return mpmp__err(MPMP_EENV, "MPMP_%s='%s' is not a boolean: use 1 or 0 "
                   "(yes/no, true/false and on/off work too)", d->name, s);
}

static int size_error(const setting_t *d, const char *s, const char *what) {
  char range[80];
  fmt_range(range, sizeof range, d);
  return mpmp__err(MPMP_EENV, "MPMP_%s='%s' is %s: use bytes from %s, with an "
                   "optional K, M, G or T suffix (e.g. MPMP_%s=%s)", d->name,
                   s, what, range, d->name, d->def);
}

/*
 * Digits, an optional K/M/G/T suffix (powers of 1024) and an optional B.
 * strtoull alone would take leading spaces and a sign ("-5" wraps to
 * 2^64 - 5), so the first character must be a digit; what overflows is
 * out of range, as is anything outside [lo, hi].
 */
static int parse_size(const setting_t *d, const char *s, size_t *out) {
  if (!isdigit((unsigned char)s[0]))
    return size_error(d, s, "not a size");
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  int overflow = errno == ERANGE;
  unsigned shift = 0;
  switch (toupper((unsigned char)*end)) {
  case 'K': shift = 10; end++; break;
  case 'M': shift = 20; end++; break;
  case 'G': shift = 30; end++; break;
  case 'T': shift = 40; end++; break;
  default: break;
  }
  if (*end == 'B' || *end == 'b')
    end++;
  if (*end != '\0')
    return size_error(d, s, "not a size");
  if (overflow || v > (SIZE_MAX >> shift))
    return size_error(d, s, "out of range");
  v <<= shift;
  if ((double)v < d->lo || (double)v > d->hi)
    return size_error(d, s, "out of range");
  *out = (size_t)v;
  return 0;
}

/* A plain decimal number within [lo, hi]: no leading space, no hex, no
 * NaN or infinity (NaN compares false with every bound, so a range check
 * alone would let it through). A setting whose default is empty is off
 * (0) when unset or empty; a value given must be in its range. */
static int parse_double(const setting_t *d, const char *s, double *out) {
  char range[80];
  char *end = NULL;
  const char *off = d->def[0] ? "" : " (unset or empty: off)";
  if (!d->def[0] && !*s) {
    *out = 0;
    return 0;
  }
  fmt_range(range, sizeof range, d);
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || isspace((unsigned char)s[0]) ||
      strpbrk(s, "xX") != NULL || isnan(v))
    return mpmp__err(MPMP_EENV, "MPMP_%s='%s' is not a number: use %s from "
                     "%s%s", d->name, s, d->unit, range, off);
  /* ERANGE on underflow (1e-400) leaves a value next to 0, which is
   * judged as such; on overflow v is HUGE_VAL, not finite */
  if (!isfinite(v) || v < d->lo || v > d->hi)
    return mpmp__err(MPMP_EENV, "MPMP_%s='%s' is out of range: use %s from "
                     "%s%s", d->name, s, d->unit, range, off);
  *out = v;
  return 0;
}

/* Whether s is one of "a|b|c", ignoring case. */
static int is_word(const char *words, const char *s) {
  size_t n = strlen(s);
  for (const char *w = words; *w;) {
    size_t len = strcspn(w, "|");
    if (len == n && n > 0 && strncasecmp(w, s, n) == 0)
      return 1;
    w += len + (w[len] != '\0');
  }
  return 0;
}

static int parse_str(const setting_t *d, const char *s, const char **out) {
  if (d->words[0] && !is_word(d->words, s)) {
    char list[128];
    fmt_words(list, sizeof list, d->words);
    return mpmp__err(MPMP_EENV, "MPMP_%s='%s' is not a valid value: use %s",
                     d->name, s, list);
  }
  *out = s;
  return 0;
}

/* A field of whole digits: its value, or -1 (none, or too long). */
static double digits(const char *s, const char **end) {
  const char *p = s;
  double v = 0;
  while (isdigit((unsigned char)*p) && p - s < 18)
    v = v * 10 + (*p++ - '0');
  *end = p;
  return p == s || isdigit((unsigned char)*p) ? -1 : v;
}

/* "S" (seconds, a plain decimal: digits, then a fraction), "MM:SS",
 * "HH:MM:SS", "D-HH", "D-HH:MM", "D-HH:MM:SS" (Slurm's --time and
 * squeue's %L, PBS's walltime): the seconds, or -1 for anything else
 * (spaces, signs, exponents, hex, a minute or second field past 59, an
 * hour past 23 after a day). The documented forms only, as every other
 * setting: "1e3" or "0x10" would have been read as numbers strtod
 * knows, and any '-' (an exponent's) taken for the day's. */
double mpmp__env_duration(const char *s) {
  const char *p;
  double f[4];
  int n = 0, days = 0;
  if ((f[0] = digits(s, &p)) < 0)
    return -1;
  if (*p == '.' || *p == '\0') { /* plain seconds */
    double frac = 0, scale = 1;
    if (*p == '.')
      for (p++; isdigit((unsigned char)*p) && scale > 1e-12; p++)
        frac += (*p - '0') * (scale /= 10);
    while (isdigit((unsigned char)*p)) /* past what a double keeps */
      p++;
    return *p == '\0' ? f[0] + frac : -1;
  }
  n = 1;
  if (*p == '-') { /* D-HH... */
    days = 1;
    if ((f[n++] = digits(p + 1, &p)) < 0)
      return -1;
  }
  while (*p == ':' && n < 4)
    if ((f[n++] = digits(p + 1, &p)) < 0)
      return -1;
  if (*p != '\0' || n < 2)
    return -1;
  double secs;
  if (days) { /* D-HH[:MM[:SS]] */
    if (f[1] > 23 || (n > 2 && f[2] > 59) || (n > 3 && f[3] > 59))
      return -1;
    secs = f[0] * 86400 + f[1] * 3600 + (n > 2 ? f[2] * 60 : 0) +
           (n > 3 ? f[3] : 0);
  } else if (n == 2) { /* MM:SS (minutes may pass 59) */
    if (f[1] > 59)
      return -1;
    secs = f[0] * 60 + f[1];
  } else if (n == 3) { /* HH:MM:SS (hours may pass 23) */
    if (f[1] > 59 || f[2] > 59)
      return -1;
    secs = f[0] * 3600 + f[1] * 60 + f[2];
  } else {
    return -1;
  }
  return secs;
}

#define MPMP__PARSE_STR parse_str
#define MPMP__PARSE_BOOL parse_bool
#define MPMP__PARSE_SIZE parse_size
#define MPMP__PARSE_DOUBLE parse_double

int mpmp__env_load(mpmp__env_t *env) {
  const setting_t *d = settings;
  const char *s;
  int rc;
#define MPMP__ENV_LOAD(name, type, def, ...)              \
  s = getenv("MPMP_" #name);                              \
  env->from_env_##name = (s != NULL);                     \
  rc = MPMP__PARSE_##type(d++, s ? s : def, &env->name);  \
  if (rc < 0)                                             \
    return rc;
  MPMP_ENV_MAP(MPMP__ENV_LOAD)
#undef MPMP__ENV_LOAD
  /* MPMP_WALLTIME is free text to the table; its forms are checked here,
   * so that mpmp_print_settings() before init says what init would */
  if (env->WALLTIME[0] && mpmp__env_duration(env->WALLTIME) < 0)
    return mpmp__err(MPMP_EENV, "MPMP_WALLTIME='%s' is not a valid value: "
                     "use seconds (e.g. 3600) or [D-]HH:MM:SS as in Slurm's "
                     "--time (e.g. 01:00:00)", env->WALLTIME);
  return 0;
}

/* ---- the MPMP_INFO=1 listing ------------------------------------------------ */

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
  char value[128], allowed[128];
  fprintf(out, "%-22s %-12s %-8s %-30s %s\n", "setting", "value", "source",
          "values", "meaning");
#define MPMP__ENV_PRINT(name, type, def, lo, hi, unit, words, desc)       \
  MPMP__FMT_##type(value, sizeof value, env->name);                       \
  fprintf(out, "%-22s %-12s %-8s %-30s %s\n", "MPMP_" #name, value,       \
          env->from_env_##name ? "env" : "default",                       \
          mpmp__env_allowed(#name, allowed, sizeof allowed), desc);
  MPMP_ENV_MAP(MPMP__ENV_PRINT)
#undef MPMP__ENV_PRINT
}

/* ---- unknown MPMP_* variables ----------------------------------------------- */

/*
 * MPMP_* variables that are not library settings but belong to the
 * project's own scripts and tests (scripts/, tests/, cmake/, .ci/): they
 * reach every test program's environment, and a warning would fail every
 * test (a WARN line fails it). Add a name here when a script gets a new
 * one. MPMP_TEST_* is kept for test programs as a whole (prefix below).
 */
static const char *const not_settings[] = {
    "_SIGINT_RESTORED", /* scripts/common.sh: re-ran once with SIGINT */
    "ARGS",          /* scripts/pbs.job: the program's arguments */
    "BUILD_DIR",     /* scripts/test.sh, demo.sh: the build folder */
    "CI_STAGES",     /* .ci/run: which stages to run */
    "CMAKE_ARGS",    /* scripts/test.sh: extra cmake options */
    "JOB_SCRIPT",    /* scripts/pbs.job: the script a stopped job resubmits */
    "COMMON_SOURCED",/* scripts/common.sh: sourced once */
    "LAUNCHER",      /* scripts/slurm.sbatch: srun or mpirun */
    "MPIRUN",        /* scripts/common.sh: the launcher to use */
    "MPIRUN_ARGS",   /* scripts/run-mpi.sh: extra mpirun options */
    "NP",            /* scripts/slurm.sbatch, pbs.job: rank count */
    "PROGRAM",       /* scripts/pbs.job: the program to run */
    "PSEUDO_JOB",    /* scripts/pseudo-mpirun.sh: marks its job's processes */
    "PSEUDO_SLOTS",  /* scripts/pseudo-mpirun.sh: slots per pseudo-node */
    "RESUBMITS",     /* scripts/slurm.sbatch, pbs.job: most resubmits of a
                        stopped job */
    "RESUBMITTED",   /* scripts/pbs.job: this job's resubmits so far */
    "ROOT",          /* scripts/common.sh: the source tree */
    "SANITIZE",      /* sanitizer builds (a CMake option; scripts may
                        take it from the environment) */
    "SHM_TEST_NS",   /* tests/mpi/test_shm_devshm.sh: in its namespace */
    "SKIP_SETUP",    /* scripts/common.sh: install no packages */
    "TIMEOUT",       /* scripts/slurm.sbatch, pbs.job: job time limit */
    "TIMEOUT_SCALE", /* scripts/run-mpi.sh: sanitizer builds' slower runs */
};
#define NOT_SETTING_PREFIX "TEST_" /* MPMP_TEST_FILTER, MPMP_TEST_NODES ... */

static int is_known(const char *name, size_t len) {
  for (int i = 0; i < NSETTINGS; i++)
    if (strlen(settings[i].name) == len && !strncmp(settings[i].name, name, len))
      return 1;
  for (size_t i = 0; i < sizeof not_settings / sizeof *not_settings; i++)
    if (strlen(not_settings[i]) == len && !strncmp(not_settings[i], name, len))
      return 1;
  return !strncmp(name, NOT_SETTING_PREFIX, strlen(NOT_SETTING_PREFIX));
}

/* Edit distance (insert, delete, replace; case ignored), for "did you mean". */
static size_t distance(const char *a, size_t la, const char *b) {
  size_t lb = strlen(b), row[64];
  if (la >= 63 || lb >= 63)
    return SIZE_MAX;
  for (size_t j = 0; j <= lb; j++)
    row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t same = toupper((unsigned char)a[i - 1]) ==
                    toupper((unsigned char)b[j - 1]);
      size_t best = diag + !same;
      if (up + 1 < best)
        best = up + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

/* The setting nearest to a typo, or NULL when none is near: a name of 63
 * characters or more got SIZE_MAX from every setting, and the first of
 * them (MPMP_BIND) was suggested for MPMP_HEAPSIZEXXX...; a name far from
 * every setting (MPMP_FOO) gets no suggestion either. The first 62
 * characters are compared. */
static const char *closest_setting(const char *name, size_t len) {
  const char *best = NULL;
  size_t best_d = SIZE_MAX;
  if (len > 62)
    len = 62;
  for (int i = 0; i < NSETTINGS; i++) {
    size_t d = distance(name, len, settings[i].name);
    if (d < best_d) {
      best_d = d;
      best = settings[i].name;
    }
  }
  return best_d <= 3 + len / 3 ? best : NULL;
}

/* Once per process: a typo does not change between two mpmp_init()s. */
void mpmp__env_warn_unknown(void) {
  static _Atomic int done;
  if (atomic_exchange(&done, 1))
    return;
  for (char **e = environ; e != NULL && *e != NULL; e++) {
    if (strncmp(*e, "MPMP_", 5) != 0)
      continue;
    const char *name = *e + 5;
    size_t len = strcspn(name, "=");
    if (is_known(name, len))
      continue;
    const char *near = closest_setting(name, len);
    if (near != NULL)
      MPMP__WARN("MPMP_%.*s is not an mpmp setting and is ignored: did you "
                 "mean MPMP_%s? (MPMP_INFO=1 lists the settings)", (int)len,
                 name, near);
    else
      MPMP__WARN("MPMP_%.*s is not an mpmp setting and is ignored "
                 "(MPMP_INFO=1 lists the settings)", (int)len, name);
  }
  /* MPMP_TRACE_FLUSH_S alone writes nothing: said, as a typo is, rather
   * than a run that silently leaves no trace (MPMP_CHECKPOINT_MODE alone
   * is fine: mpmp_pool_opts_t::checkpoint may name the journal) */
  const char *flush = getenv("MPMP_TRACE_FLUSH_S");
  const char *trace = getenv("MPMP_TRACE");
  if (flush != NULL && *flush != '\0' && (trace == NULL || *trace == '\0'))
    MPMP__WARN("MPMP_TRACE_FLUSH_S=%s does nothing without MPMP_TRACE, which "
               "is not set: set MPMP_TRACE=FILE too, or leave "
               "MPMP_TRACE_FLUSH_S out", flush);
}

/* ---- the job's settings are the main rank's ---------------------------------- */

/*
 * mpirun forwards a user's environment to the ranks on its own node, but
 * ranks on other nodes get the remote shell's (unless every variable is
 * named with -x), and a setting such as MPMP_HEAP_SIZE must agree across
 * ranks. So at init the main rank sends "NAME=value" for each setting it
 * has, and every rank sets those and unsets the ones the main rank lacks,
 * then parses again: the same strings give the same verdict everywhere,
 * so a bad value fails init on every rank together (runtime.c's agree()),
 * each with the same message. The main rank sends its values even when
 * they are bad, for that reason. Collective over `comm`.
 */
int mpmp__env_share(MPI_Comm comm, int rank, mpmp__env_t *env) {
  static const char *const names[] = {
#define MPMP__ENV_NAME(name, ...) "MPMP_" #name,
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
  /* Every rank learns the length, makes room, and tells whether it could:
   * a rank that left the second broadcast alone would hang the others. */
  int rc = MPI_Bcast(&len, 1, MPI_INT, 0, comm);
  int ok = 1, all_ok = 0;
  if (rc == MPI_SUCCESS && rank != 0)
    ok = (buf = mpmp__malloc((size_t)len + 1)) != NULL;
  if (rc == MPI_SUCCESS)
    rc = MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, comm);
  if (rc == MPI_SUCCESS && all_ok && len > 0)
    rc = MPI_Bcast(buf, len, MPI_CHAR, 0, comm);
  if (rc != MPI_SUCCESS || !all_ok) {
    mpmp__free(buf);
    return rc != MPI_SUCCESS
               ? mpmp__mpi_err(rc, "MPI_Bcast of the main rank's settings")
               : mpmp__err(MPMP_ENOMEM, "out of memory for the main rank's "
                           "settings");
  }
  if (rank != 0) {
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
