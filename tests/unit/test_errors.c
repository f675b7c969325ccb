/* Errors, settings and calls before mpmp_init(), in one process, no MPI. */
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "rt.h"

static void errors_every_code_has_name_and_text(void **state) {
  (void)state;
#define CHECK_CODE(name, value, msg)                               \
  assert_true(MPMP_##name < 0);                                    \
  assert_string_equal(mpmp_strerror(MPMP_##name), msg);            \
  assert_string_equal(mpmp_err_name(MPMP_##name), "MPMP_" #name);
  MPMP_ERRNO_MAP(CHECK_CODE)
#undef CHECK_CODE
  assert_string_equal(mpmp_strerror(0), "success");
  assert_string_equal(mpmp_err_name(-987654), "MPMP_EUNKNOWN");
  assert_string_equal(mpmp_strerror(-987654), "unknown error");
}

static void errors_codes_are_distinct(void **state) {
  (void)state;
  int codes[] = {
#define LIST_CODE(name, value, msg) MPMP_##name,
      MPMP_ERRNO_MAP(LIST_CODE)
#undef LIST_CODE
  };
  size_t n = sizeof codes / sizeof codes[0];
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++)
      assert_int_not_equal(codes[i], codes[j]);
}

static void errors_detail_message_is_thread_local_text(void **state) {
  (void)state;
  assert_int_equal(mpmp__err(MPMP_EINVAL, "item %d is bad", 5), MPMP_EINVAL);
  assert_string_equal(mpmp_errmsg(), "item 5 is bad");
}


/* n bytes of text in which any shift or lost byte shows (no NUL). */
static char *long_text(size_t n) {
  char *t = malloc(n + 1);
  assert_non_null(t);
  for (size_t k = 0; k < n; k++)
    t[k] = (char)('a' + (k * 7 + k / 4093) % 26);
  t[n] = '\0';
  return t;
}

static void errors_long_message_arrives_whole(void **state) {
  (void)state;
  size_t n = (size_t)1 << 20;
  char *t = long_text(n);
  assert_int_equal(mpmp__err(MPMP_ETASK, "%s", t), MPMP_ETASK);
  assert_int_equal(strlen(mpmp_errmsg()), n);
  assert_memory_equal(mpmp_errmsg(), t, n);
  /* made from the message before it, long or short, in either order */
  assert_int_equal(mpmp__err(MPMP_ETASK, "x: %s", mpmp_errmsg()), MPMP_ETASK);
  assert_int_equal(strlen(mpmp_errmsg()), n + 3);
  assert_memory_equal(mpmp_errmsg(), "x: ", 3);
  assert_memory_equal(mpmp_errmsg() + 3, t, n);
  mpmp__err(MPMP_EINVAL, "short %d", 1);
  mpmp__err(MPMP_EINVAL, "%s and %s", mpmp_errmsg(), "more");
  assert_string_equal(mpmp_errmsg(), "short 1 and more");
  t[1023] = '\0'; /* just fits the small buffers, then just does not */
  mpmp__err(MPMP_EINVAL, "%s", t);
  assert_string_equal(mpmp_errmsg(), t);
  mpmp__err(MPMP_EINVAL, "%s!", mpmp_errmsg());
  assert_int_equal(strlen(mpmp_errmsg()), 1024);
  assert_memory_equal(mpmp_errmsg(), t, 1023);
  free(t);
}

static char *vformat(size_t *len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *p = mpmp__vformat(fmt, ap, len);
  va_end(ap);
  return p;
}

/* Past the limit (16 MiB) the message is cut there, visibly. */
static void errors_message_over_limit_is_marked(void **state) {
  (void)state;
  size_t n = 20000000, max = (size_t)16 << 20;
  char *t = long_text(n);
  mpmp__err(MPMP_ETASK, "%s", t);
  const char *m = mpmp_errmsg();
  assert_memory_equal(m, t, max);
  assert_string_equal(m + max, "... [cut: 20000000 bytes in all]");
  size_t len = 0, task_max = max - ((size_t)64 << 10); /* room to wrap */
  char *f = vformat(&len, "%s", t);
  assert_int_equal(len, task_max + strlen("... [cut: 20000000 bytes in all]"));
  assert_memory_equal(f, t, task_max);
  assert_string_equal(f + task_max, "... [cut: 20000000 bytes in all]");
  mpmp__free(f);
  free(t);
}

/* A failing task's message, as mpmp_fail keeps it for the caller. */
static void errors_fail_keeps_long_messages(void **state) {
  (void)state;
  size_t n = (size_t)1 << 20, max = (size_t)16 << 20;
  char *t = long_text(n);
  mpmp_ctx_t ctx = {0};
  assert_int_equal(mpmp_fail(&ctx, "%s", t), MPMP_ETASK);
  assert_int_equal(strlen(ctx.errmsg), n);
  assert_memory_equal(ctx.errmsg, t, n);
  mpmp_fail(&ctx, "a second failure does not replace the first");
  assert_int_equal(strlen(ctx.errmsg), n);
  mpmp__ctx_fini(&ctx);
  free(t);
  t = long_text(max + 1);
  size_t task_max = max - ((size_t)64 << 10); /* room for the caller's words */
  assert_int_equal(mpmp_fail(&ctx, "%s", t), MPMP_ETASK);
  assert_memory_equal(ctx.errmsg, t, task_max);
  assert_string_equal(ctx.errmsg + task_max, "... [cut: 16777217 bytes in all]");
  mpmp__ctx_fini(&ctx);
  free(t);
}

static void *long_error_then_exit(void *arg) {
  mpmp__err(MPMP_ETASK, "%s", (const char *)arg);
  return strlen(mpmp_errmsg()) == strlen(arg) ? arg : NULL;
}

/* A thread's long message is freed when the thread ends. */
static void errors_thread_exit_frees_message(void **state) {
  (void)state;
  char *t = long_text((size_t)2 << 20);
  struct mallinfo2 before = mallinfo2();
  for (int i = 0; i < 32; i++) {
    pthread_t th;
    void *res = NULL;
    assert_int_equal(pthread_create(&th, NULL, long_error_then_exit, t), 0);
    assert_int_equal(pthread_join(th, &res), 0);
    assert_ptr_equal(res, t);
  }
  struct mallinfo2 after = mallinfo2();
#if !defined(__SANITIZE_ADDRESS__) /* ASan's own allocator; LSan checks it */
  assert_true(after.uordblks < before.uordblks + ((size_t)8 << 20));
#endif
  (void)before, (void)after;
  free(t);
}

/* A log line too long for one write says that it was cut. */
static void errors_long_log_line_is_marked(void **state) {
  (void)state;
  char path[] = "/tmp/mpmp-log-XXXXXX";
  int fd = mkstemp(path), saved = dup(2);
  assert_true(fd >= 0 && saved >= 0);
  unlink(path);
  char *t = long_text(5000);
  fflush(stderr);
  dup2(fd, 2);
  mpmp__log("NOTE", "%s", t);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  char line[2048] = "";
  ssize_t got = pread(fd, line, sizeof line - 1, 0);
  close(fd);
  assert_true(got > 100);
  /* "[0000] NOTE: " and the 5 000 bytes */
  assert_non_null(strstr(line, "... [cut: 5013 bytes in all]\n"));
  assert_memory_equal(line, "[0000] NOTE: ", 13);
  assert_memory_equal(line + 13, t, 1000);
  free(t);
}

static void clear_env(void) {
#define UNSET(name, ...) unsetenv("MPMP_" #name);
  MPMP_ENV_MAP(UNSET)
#undef UNSET
}

static void env_defaults(void **state) {
  (void)state;
  mpmp__env_t env;
  clear_env();
  assert_int_equal(mpmp__env_load(&env), 0);
  assert_string_equal(env.BIND, "core");
  assert_int_equal(env.HEAP_SIZE, 16u << 20);
  assert_int_equal(env.REPORT_BINDINGS, 0);
  assert_int_equal(env.from_env_BIND, 0);
}

static void env_values_and_sources(void **state) {
  (void)state;
  mpmp__env_t env;
  clear_env();
  setenv("MPMP_HEAP_SIZE", "64M", 1);
  setenv("MPMP_REPORT_BINDINGS", "yes", 1);
  setenv("MPMP_SPIN_US", "12.5", 1);
  assert_int_equal(mpmp__env_load(&env), 0);
  assert_int_equal(env.HEAP_SIZE, 64u << 20);
  assert_int_equal(env.REPORT_BINDINGS, 1);
  assert_true(env.SPIN_US == 12.5);
  assert_int_equal(env.from_env_HEAP_SIZE, 1);
  setenv("MPMP_HEAP_SIZE", "1G", 1);
  assert_int_equal(mpmp__env_load(&env), 0);
  assert_int_equal(env.HEAP_SIZE, 1u << 30);
  clear_env();
}

static void expect_bad(const char *var, const char *value) {
  mpmp__env_t env;
  clear_env();
  setenv(var, value, 1);
  assert_int_equal(mpmp__env_load(&env), MPMP_EENV);
  assert_non_null(strstr(mpmp_errmsg(), var));
  clear_env();
}

static void env_bad_values_name_the_variable(void **state) {
  (void)state;
  expect_bad("MPMP_HEAP_SIZE", "12X");
  expect_bad("MPMP_HEAP_SIZE", "-5");
  expect_bad("MPMP_REPORT_BINDINGS", "maybe");
  expect_bad("MPMP_SPIN_US", "-1");
  expect_bad("MPMP_POLL_MS", "fast");
}

static void env_listing_names_every_setting(void **state) {
  (void)state;
  char buf[8192] = "";
  FILE *f = fmemopen(buf, sizeof buf - 1, "w");
  mpmp__env_t env;
  clear_env();
  setenv("MPMP_BIND", "numa", 1);
  assert_int_equal(mpmp__env_load(&env), 0);
  mpmp__env_print(&env, f);
  fclose(f);
#define IN_LISTING(name, ...) \
  assert_non_null(strstr(buf, "MPMP_" #name));
  MPMP_ENV_MAP(IN_LISTING)
#undef IN_LISTING
  assert_non_null(strstr(buf, "numa"));
  assert_non_null(strstr(buf, "env"));
  assert_non_null(strstr(buf, "default"));
  clear_env();
}

static void runtime_calls_before_init_fail_clearly(void **state) {
  (void)state;
  mpmp_process_t *p = NULL;
  assert_int_equal(mpmp_initialized(), 0);
  assert_int_equal(mpmp_rank(), MPMP_ENOTINIT);
  assert_non_null(strstr(mpmp_errmsg(), "mpmp_init"));
  assert_int_equal(mpmp_world_size(), MPMP_ENOTINIT);
  assert_int_equal(mpmp_finalize(), MPMP_ENOTINIT);
  assert_int_equal(mpmp_process_create(&p, NULL, NULL, 0, NULL), MPMP_ENOTINIT);
  assert_null(p);
  assert_string_equal(mpmp_node_name(), "");
}

static void runtime_version_matches_header(void **state) {
  (void)state;
  assert_string_equal(mpmp_version(), MPMP_VERSION_STRING);
  assert_int_equal(mpmp_version_hex(), MPMP_VERSION_HEX);
  assert_int_equal(MPMP_VERSION_HEX >> 16, MPMP_VERSION_MAJOR);
}

static void runtime_cpu_count_before_init(void **state) {
  (void)state;
  assert_true(mpmp_cpu_count() >= 1);
}

static int a_task(mpmp_ctx_t *ctx) { (void)ctx; return 0; }
MPMP_TASK(a_task);

static void task_registered_by_macro(void **state) {
  (void)state;
  assert_string_equal(mpmp_task_name(a_task), "a_task");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(errors_every_code_has_name_and_text),
      cmocka_unit_test(errors_codes_are_distinct),
      cmocka_unit_test(errors_detail_message_is_thread_local_text),
      cmocka_unit_test(errors_long_message_arrives_whole),
      cmocka_unit_test(errors_message_over_limit_is_marked),
      cmocka_unit_test(errors_fail_keeps_long_messages),
      cmocka_unit_test(errors_thread_exit_frees_message),
      cmocka_unit_test(errors_long_log_line_is_marked),
      cmocka_unit_test(env_defaults),
      cmocka_unit_test(env_values_and_sources),
      cmocka_unit_test(env_bad_values_name_the_variable),
      cmocka_unit_test(env_listing_names_every_setting),
      cmocka_unit_test(runtime_calls_before_init_fail_clearly),
      cmocka_unit_test(runtime_version_matches_header),
      cmocka_unit_test(runtime_cpu_count_before_init),
      cmocka_unit_test(task_registered_by_macro),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
