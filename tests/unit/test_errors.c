/* Errors, settings and calls before mpmp_init(), in one process, no MPI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"

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
