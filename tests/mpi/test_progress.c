/* MPMP_PROGRESS=1: a map running over 2 s draws a progress bar on stderr
 * (checked by ctest: items done/total, rate, ETA). */
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

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(progress_bar_on_long_map),
};
MPMP_TEST_MAIN(tests)
