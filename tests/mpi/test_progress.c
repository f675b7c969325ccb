/* MPMP_PROGRESS=1: a map running over 2 s reports its progress on stderr
 * (checked by ctest: items done/total, failures, rate, ETA; plain lines in
 * a log, a bar redrawn in place on a terminal). */
#include "mpitest.h"

static int slow(mpmp_ctx_t *ctx) {
  test_sleep(0.06);
  *(int *)mpmp_out(ctx, sizeof(int)) = *(const int *)mpmp_arg(ctx, NULL);
  return 0;
}
MPMP_TASK(slow);

static void progress_bar_on_long_map(void **state) {
  (void)state;
  int in[50], out[50];
  mpmp_pool_opts_t o = {.processes = 1}; /* 50 x 60 ms: 3 s */
  mpmp_pool_t *pool;
  for (int i = 0; i < 50; i++)
    in[i] = i;
  assert_int_equal(mpmp_pool_create(&pool, &o), 0);
  assert_int_equal(mpmp_pool_map(pool, slow, in, 50, sizeof *in, out, sizeof *out, 1), 0);
  for (int i = 0; i < 50; i++)
    assert_int_equal(out[i], i);
  mpmp_pool_destroy(pool);
}

static int slow_or_fail(mpmp_ctx_t *ctx) {
  int x = *(const int *)mpmp_arg(ctx, NULL);
  test_sleep(0.06);
  if (x % 10 == 3)
    return mpmp_fail(ctx, "item %d fails", x);
  *(int *)mpmp_out(ctx, sizeof(int)) = x;
  return 0;
}
MPMP_TASK(slow_or_fail);

/* The failures are counted on the line (ctest checks "4 failed"). */
static void progress_counts_failures(void **state) {
  (void)state;
  int in[40], out[40];
  mpmp_pool_opts_t o = {.processes = 1}; /* 40 x 60 ms: 2.4 s */
  mpmp_pool_t *pool;
  for (int i = 0; i < 40; i++)
    in[i] = i;
  assert_int_equal(mpmp_pool_create(&pool, &o), 0);
  assert_int_equal(mpmp_pool_map(pool, slow_or_fail, in, 40, sizeof *in, out,
                                 sizeof *out, 1), MPMP_ETASK);
  mpmp_pool_destroy(pool);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(progress_bar_on_long_map),
    cmocka_unit_test(progress_counts_failures),
};
MPMP_TEST_MAIN(tests)
