/*
 * The settings (src/env_defs.h, src/env.c), in one process, no MPI: every
 * value outside a setting's documented range is refused with MPMP_EENV and
 * a message naming the variable and the range; the edges are accepted;
 * the MPMP_INFO=1 listing and README's table show the same ranges; an
 * unknown MPMP_* variable is named with the closest setting, and the
 * project's own script variables are not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "base.h"

static void clear_env(void) {
#define UNSET(name, ...) unsetenv("MPMP_" #name);
  MPMP_ENV_MAP(UNSET)
#undef UNSET
}

/* Load with one variable set; returns the code, the message in msg. */
static int load_with(const char *var, const char *value, mpmp__env_t *env,
                     char *msg, size_t n) {
  clear_env();
  setenv(var, value, 1);
  int rc = mpmp__env_load(env);
  snprintf(msg, n, "%s", mpmp_errmsg());
  clear_env();
  return rc;
}

typedef struct {
  const char *var, *value, *says;
} bad_t;

/* What a user might type, and the words the message must have. */
static const bad_t bad[] = {
    {"MPMP_HEAP_SIZE", "18446744073709551615",
     "MPMP_HEAP_SIZE='18446744073709551615' is out of range: use bytes from "
     "64K to 1T"},
    {"MPMP_HEAP_SIZE", "99999999999999999999999", "is out of range"},
    {"MPMP_HEAP_SIZE", "17179869184T", "is out of range"},
    {"MPMP_HEAP_SIZE", "16777216T", "is out of range"},
    {"MPMP_HEAP_SIZE", "2T", "is out of range: use bytes from 64K to 1T"},
    {"MPMP_HEAP_SIZE", "65535", "is out of range"},
    {"MPMP_HEAP_SIZE", "0", "is out of range"},
    {"MPMP_HEAP_SIZE", " -5", "MPMP_HEAP_SIZE=' -5' is not a size"},
    {"MPMP_HEAP_SIZE", "-5", "is not a size"},
    {"MPMP_HEAP_SIZE", "+16M", "is not a size"},
    {"MPMP_HEAP_SIZE", " 16M", "is not a size"},
    {"MPMP_HEAP_SIZE", "16M ", "is not a size"},
    {"MPMP_HEAP_SIZE", "1.5G", "is not a size"},
    {"MPMP_HEAP_SIZE", "0x100000", "is not a size"},
    {"MPMP_HEAP_SIZE", "16MM", "is not a size"},
    {"MPMP_HEAP_SIZE", "", "is not a size"},
    {"MPMP_MAILBOX", "17M", "MPMP_MAILBOX='17M' is out of range: use bytes "
     "from 0 to 16M"},
    {"MPMP_MAILBOX", "-1", "is not a size"},
    {"MPMP_SPIN_US", "inf",
     "MPMP_SPIN_US='inf' is out of range: use microseconds from 0 to 1000000"},
    {"MPMP_SPIN_US", "-inf", "is out of range"},
    {"MPMP_SPIN_US", "nan", "MPMP_SPIN_US='nan' is not a number: use "
     "microseconds from 0 to 1000000"},
    {"MPMP_SPIN_US", "1000001", "is out of range"},
    {"MPMP_SPIN_US", "1e400", "is out of range"},
    {"MPMP_SPIN_US", "-1", "is out of range"},
    {"MPMP_SPIN_US", " 5", "is not a number"},
    {"MPMP_SPIN_US", "0x10", "is not a number"},
    {"MPMP_SPIN_US", "5us", "is not a number"},
    {"MPMP_SPIN_US", "", "is not a number"},
    {"MPMP_SPIN_REMOTE_US", "Infinity", "is out of range"},
    {"MPMP_SPIN_REMOTE_US", "NAN(1)", "is not a number"},
    {"MPMP_POLL_MS", "0", "MPMP_POLL_MS='0' is out of range: use "
     "milliseconds from 0.01 to 1000"},
    {"MPMP_POLL_MS", "1001", "is out of range"},
    {"MPMP_POLL_MS", "fast", "is not a number"},
    {"MPMP_TERM_GRACE", "nan", "MPMP_TERM_GRACE='nan' is not a number: use "
     "seconds from 0 to 86400"},
    {"MPMP_TERM_GRACE", "1e300", "is out of range"},
    {"MPMP_TERM_GRACE", "-0.5", "is out of range"},
    {"MPMP_TRACE_FLUSH_S", "0", "MPMP_TRACE_FLUSH_S='0' is out of range: "
     "use seconds from 0.1 to 86400 (unset or empty: off)"},
    {"MPMP_TRACE_FLUSH_S", "0.05", "is out of range"},
    {"MPMP_TRACE_FLUSH_S", "-1", "is out of range"},
    {"MPMP_TRACE_FLUSH_S", "86401", "is out of range"},
    {"MPMP_TRACE_FLUSH_S", "inf", "is out of range"},
    {"MPMP_TRACE_FLUSH_S", "nan", "MPMP_TRACE_FLUSH_S='nan' is not a number: "
     "use seconds from 0.1 to 86400 (unset or empty: off)"},
    {"MPMP_TRACE_FLUSH_S", "5s", "is not a number"},
    {"MPMP_TRACE_FLUSH_S", " ", "is not a number"},
    {"MPMP_PROGRESS", "bogus", "MPMP_PROGRESS='bogus' is not a valid value: "
     "use auto, 1 or 0"},
    {"MPMP_PROGRESS", "", "is not a valid value"},
    {"MPMP_PROGRESS", "auto ", "is not a valid value"},
    {"MPMP_BIND", "cores", "MPMP_BIND='cores' is not a valid value: use "
     "core, numa, socket or none"},
    {"MPMP_BIND", "", "is not a valid value"},
    {"MPMP_REPORT_BINDINGS", "maybe", "MPMP_REPORT_BINDINGS='maybe' is not "
     "a boolean: use 1 or 0"},
    {"MPMP_INFO", "2", "is not a boolean"},
    /* free text to the table, but only the documented forms (walltime.c
     * refused them at init, while mpmp_print_settings() took them) */
    {"MPMP_WALLTIME", "-1", "MPMP_WALLTIME='-1' is not a valid value: use "
     "seconds (e.g. 3600) or [D-]HH:MM:SS"},
    {"MPMP_WALLTIME", "1:60", "MPMP_WALLTIME='1:60' is not a valid value"},
    {"MPMP_WALLTIME", "1e3", "MPMP_WALLTIME='1e3' is not a valid value"},
};

static void env_out_of_range_is_refused_naming_variable_and_range(void **s) {
  (void)s;
  mpmp__env_t env;
  char msg[1024];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = load_with(bad[i].var, bad[i].value, &env, msg, sizeof msg);
    if (rc != MPMP_EENV || strstr(msg, bad[i].says) == NULL)
      fail_msg("%s='%s': got %d '%s', expected MPMP_EENV saying '%s'",
               bad[i].var, bad[i].value, rc, msg, bad[i].says);
  }
}

static void env_edges_of_each_range_are_accepted(void **s) {
  (void)s;
  mpmp__env_t env;
  char msg[1024];
  assert_int_equal(load_with("MPMP_HEAP_SIZE", "64K", &env, msg, sizeof msg), 0);
  assert_int_equal(env.HEAP_SIZE, 64u << 10);
  assert_int_equal(load_with("MPMP_HEAP_SIZE", "1t", &env, msg, sizeof msg), 0);
  assert_true(env.HEAP_SIZE == (size_t)1 << 40);
  assert_int_equal(load_with("MPMP_HEAP_SIZE", "16MB", &env, msg, sizeof msg), 0);
  assert_int_equal(env.HEAP_SIZE, 16u << 20);
  assert_int_equal(load_with("MPMP_HEAP_SIZE", "65536", &env, msg, sizeof msg), 0);
  assert_int_equal(load_with("MPMP_HEAP_SIZE", "16777216b", &env, msg, sizeof msg), 0);
  assert_int_equal(env.HEAP_SIZE, 16u << 20); /* as the README says */
  assert_int_equal(load_with("MPMP_MAILBOX", "0", &env, msg, sizeof msg), 0);
  assert_int_equal(env.MAILBOX, 0);
  assert_int_equal(load_with("MPMP_MAILBOX", "16M", &env, msg, sizeof msg), 0);
  assert_int_equal(load_with("MPMP_SPIN_US", "0", &env, msg, sizeof msg), 0);
  assert_int_equal(load_with("MPMP_SPIN_US", "1e6", &env, msg, sizeof msg), 0);
  assert_true(env.SPIN_US == 1e6);
  /* an underflow (strtod's ERANGE) is a value next to 0, judged as such */
  assert_int_equal(load_with("MPMP_SPIN_US", "1e-400", &env, msg, sizeof msg), 0);
  assert_true(env.SPIN_US < 1e-300);
  assert_int_equal(load_with("MPMP_TERM_GRACE", "1e-400", &env, msg, sizeof msg), 0);
  assert_int_equal(load_with("MPMP_POLL_MS", "1e-400", &env, msg, sizeof msg),
                   MPMP_EENV); /* below its 0.01 */
  assert_int_equal(load_with("MPMP_POLL_MS", "0.01", &env, msg, sizeof msg), 0);
  assert_int_equal(load_with("MPMP_POLL_MS", "1000", &env, msg, sizeof msg), 0);
  assert_int_equal(load_with("MPMP_TERM_GRACE", "86400", &env, msg, sizeof msg), 0);
  assert_int_equal(load_with("MPMP_TERM_GRACE", "0", &env, msg, sizeof msg), 0);
  assert_int_equal(load_with("MPMP_PROGRESS", "AUTO", &env, msg, sizeof msg), 0);
  assert_int_equal(load_with("MPMP_PROGRESS", "1", &env, msg, sizeof msg), 0);
  assert_int_equal(load_with("MPMP_BIND", "None", &env, msg, sizeof msg), 0);
  assert_int_equal(load_with("MPMP_TRACE", "/any/path", &env, msg, sizeof msg), 0);
  assert_true(env.TRACE_FLUSH_S == 0); /* unset: off */
  assert_int_equal(load_with("MPMP_TRACE_FLUSH_S", "", &env, msg, sizeof msg), 0);
  assert_true(env.TRACE_FLUSH_S == 0); /* empty: off */
  assert_int_equal(load_with("MPMP_TRACE_FLUSH_S", "0.1", &env, msg, sizeof msg), 0);
  assert_true(env.TRACE_FLUSH_S == 0.1);
  assert_int_equal(load_with("MPMP_TRACE_FLUSH_S", "86400", &env, msg, sizeof msg), 0);
  assert_int_equal(load_with("MPMP_INFO", "on", &env, msg, sizeof msg), 0);
  assert_int_equal(env.INFO, 1);
}

/* The values column of the MPMP_INFO=1 listing, for each setting. */
static void env_listing_shows_each_range(void **s) {
  (void)s;
  char buf[16384] = "", allowed[128], line[512];
  FILE *f = fmemopen(buf, sizeof buf - 1, "w");
  mpmp__env_t env;
  clear_env();
  assert_int_equal(mpmp__env_load(&env), 0);
  mpmp__env_print(&env, f);
  fclose(f);
#define IN_LISTING(name, ...)                                             \
  mpmp__env_allowed(#name, allowed, sizeof allowed);                      \
  assert_true(allowed[0] != '\0');                                        \
  snprintf(line, sizeof line, "MPMP_" #name);                             \
  assert_non_null(strstr(buf, line));                                     \
  assert_non_null(strstr(strstr(buf, line), allowed));
  MPMP_ENV_MAP(IN_LISTING)
#undef IN_LISTING
  assert_non_null(strstr(buf, "0 to 1000000 microseconds"));
  assert_non_null(strstr(buf, "64K to 1T bytes"));
  assert_non_null(strstr(buf, "core, numa, socket or none"));
  assert_string_equal(mpmp__env_allowed("NO_SUCH", allowed, sizeof allowed), "");
}

/* README's Settings table: the row of each setting says its range as the
 * listing does, so the two cannot drift apart. */
static void env_readme_table_shows_each_range(void **s) {
  (void)s;
  FILE *f = fopen(MPMP_README, "r");
  assert_non_null(f);
  static char text[1 << 20];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  char allowed[128], key[64];
#define IN_README(name, ...)                                              \
  do {                                                                    \
    snprintf(key, sizeof key, "| `MPMP_" #name "` |");                    \
    const char *row = strstr(text, key);                                  \
    if (row == NULL)                                                      \
      fail_msg("README has no Settings row for MPMP_" #name);             \
    const char *end = strchr(row, '\n');                                  \
    mpmp__env_allowed(#name, allowed, sizeof allowed);                    \
    char *hit = strstr(row, allowed);                                     \
    if (hit == NULL || (end != NULL && hit > end))                        \
      fail_msg("README's row for MPMP_" #name " lacks '%s'", allowed);    \
  } while (0);
  MPMP_ENV_MAP(IN_README)
#undef IN_README
}

/* stderr of mpmp__env_warn_unknown(), caught in a file. */
static void warn_unknown_caught(char *out, size_t n) {
  char path[] = "/tmp/mpmp-test-env-XXXXXX";
  int fd = mkstemp(path), saved = dup(STDERR_FILENO);
  assert_true(fd >= 0 && saved >= 0);
  fflush(stderr);
  dup2(fd, STDERR_FILENO);
  mpmp__env_warn_unknown();
  mpmp__env_warn_unknown(); /* once per process: nothing more */
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  ssize_t got = pread(fd, out, n - 1, 0);
  out[got > 0 ? got : 0] = '\0';
  close(fd);
  unlink(path);
}

static void env_unknown_variable_names_the_closest_setting(void **s) {
  (void)s;
  char out[4096];
  clear_env();
  setenv("MPMP_SPIN_USS", "3", 1);
  setenv("MPMP_HEAPSIZE", "1G", 1);
  setenv("MPMP_poll_ms", "1", 1);
  /* far from every setting, or past 62 characters: no suggestion (a long
   * name got MPMP_BIND, the first setting, and so did MPMP_QWERTYUIOP) */
  setenv("MPMP_QWERTYUIOP", "1", 1);
  setenv("MPMP_HEAP_SIZE_OF_THE_NODE_SEGMENT_IN_BYTES_FOR_ALL_THE_RANKS_X",
         "1", 1);
  /* the project's scripts' own variables, and MPMP_TEST_*: no warning */
  setenv("MPMP_BUILD_DIR", "build", 1);
  setenv("MPMP_MPIRUN_ARGS", "", 1);
  setenv("MPMP_ROOT", "/", 1);
  setenv("MPMP_TEST_FILTER", "x*", 1);
  setenv("MPMP_TEST_SOMETHING_NEW", "1", 1);
  setenv("MPMP_SPIN_US", "7", 1); /* a setting */
  setenv("MPMP_TRACE_FLUSH_S", "2", 1); /* a setting, but alone */
  warn_unknown_caught(out, sizeof out);
  assert_non_null(strstr(out, "WARN: MPMP_TRACE_FLUSH_S=2 does nothing "
                              "without MPMP_TRACE, which is not set"));
  assert_null(strstr(out, "MPMP_TRACE_FLUSH_S is not"));
  assert_non_null(strstr(out, "WARN: MPMP_SPIN_USS is not an mpmp setting "
                              "and is ignored: did you mean MPMP_SPIN_US?"));
  assert_non_null(strstr(out, "MPMP_HEAPSIZE is not an mpmp setting and is "
                              "ignored: did you mean MPMP_HEAP_SIZE?"));
  assert_non_null(strstr(out, "did you mean MPMP_POLL_MS?"));
  assert_non_null(strstr(out, "WARN: MPMP_QWERTYUIOP is not an mpmp setting "
                              "and is ignored (MPMP_INFO=1 lists"));
  assert_non_null(strstr(out, "_RANKS_X is not an mpmp setting and is "
                              "ignored"));
  assert_null(strstr(out, "MPMP_BIND?"));
  assert_null(strstr(out, "BUILD_DIR"));
  assert_null(strstr(out, "MPIRUN_ARGS"));
  assert_null(strstr(out, "MPMP_ROOT"));
  assert_null(strstr(out, "TEST_"));
  assert_null(strstr(out, "MPMP_SPIN_US is"));
  /* once: the second call added nothing */
  assert_null(strstr(strstr(out, "MPMP_SPIN_USS") + 1, "MPMP_SPIN_USS is"));
  unsetenv("MPMP_SPIN_USS");
  unsetenv("MPMP_QWERTYUIOP");
  unsetenv("MPMP_HEAP_SIZE_OF_THE_NODE_SEGMENT_IN_BYTES_FOR_ALL_THE_RANKS_X");
  unsetenv("MPMP_TRACE_FLUSH_S");
  unsetenv("MPMP_HEAPSIZE");
  unsetenv("MPMP_poll_ms");
  unsetenv("MPMP_BUILD_DIR");
  unsetenv("MPMP_MPIRUN_ARGS");
  unsetenv("MPMP_ROOT");
  unsetenv("MPMP_TEST_FILTER");
  unsetenv("MPMP_TEST_SOMETHING_NEW");
  clear_env();
}

/* Before mpmp_init: what init would use, to stdout by default. */
static void env_print_settings_before_init(void **s) {
  (void)s;
  clear_env();
  assert_int_equal(mpmp_print_settings(NULL), 0);
  setenv("MPMP_SPIN_US", "inf", 1);
  assert_int_equal(mpmp_print_settings(NULL), MPMP_EENV);
  assert_non_null(strstr(mpmp_errmsg(), "MPMP_SPIN_US='inf'"));
  clear_env();
  setenv("MPMP_WALLTIME", "1-25:00", 1); /* init refuses it: so does this */
  assert_int_equal(mpmp_print_settings(NULL), MPMP_EENV);
  assert_non_null(strstr(mpmp_errmsg(), "MPMP_WALLTIME='1-25:00'"));
  setenv("MPMP_WALLTIME", "1-23:59:59", 1);
  assert_int_equal(mpmp_print_settings(NULL), 0);
  clear_env();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(env_out_of_range_is_refused_naming_variable_and_range),
      cmocka_unit_test(env_edges_of_each_range_are_accepted),
      cmocka_unit_test(env_listing_shows_each_range),
      cmocka_unit_test(env_readme_table_shows_each_range),
      cmocka_unit_test(env_unknown_variable_names_the_closest_setting),
      cmocka_unit_test(env_print_settings_before_init),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
