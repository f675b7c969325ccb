/* A stop (SIGUSR1: what mpirun forwards from a batch system's warning)
 * that comes once every chunk of an isolated map was dealt, while one
 * item ignores it: that item's host is killed after MPMP_TERM_GRACE, and
 * the map says MPMP_EINTERRUPTED (a rerun resumes it), not that an item
 * crashed (helper 56: MPMP_ECRASHED, with no word of the rerun); so does
 * an apply, in its own words. Alone in its program: a stop lasts for the
 * rest of the run. */
#include <signal.h>
#include <stdint.h>
#include <unistd.h>

#include "mpitest.h"

/* x*x; item 7 runs until its host is killed, whatever it is asked. */
static int ignore_at_7(mpmp_ctx_t *ctx) {
  int64_t x = *(const int64_t *)mpmp_arg(ctx, NULL);
  while (x == 7)
    usleep(1000);
  *(int64_t *)mpmp_out(ctx, sizeof x) = x * x;
  return 0;
}
MPMP_TASK(ignore_at_7);

static void stop_after_everything_dealt_interrupts(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_ALWAYS};
  mpmp_pool_t *pool = NULL;
  OK(mpmp_pool_create(&pool, &o));
  int64_t in[16], out[16];
  for (int i = 0; i < 16; i++)
    in[i] = i;
  mpmp_async_t *res = NULL;
  OK(mpmp_pool_map_async(pool, ignore_at_7, in, 16, sizeof *in, out,
                         sizeof *out, 4, NULL, NULL, &res));
  mpmp_async_t *one = NULL; /* an apply that ignores the stop too */
  OK(mpmp_pool_apply_async(pool, ignore_at_7, &in[7], sizeof in[7], NULL,
                           NULL, &one));
  test_sleep(1.0); /* every other chunk ran (one queued behind item 7's
                      went to the other worker); item 7's chunk is dealt,
                      and its items after 7 never run */
  assert_int_equal(raise(SIGUSR1), 0);
  RC(mpmp_async_get(res, T_OUT), MPMP_EINTERRUPTED);
  HAS_MSG("SIGUSR1");
  HAS_MSG("cut short by the stop");
  mpmp_async_destroy(res);
  /* not a map: no items, no journal (it said "the map was stopped: 0 of 1
   * items done; rerun with MPMP_CHECKPOINT=DIR to resume") */
  RC(mpmp_async_get(one, T_OUT), MPMP_EINTERRUPTED);
  HAS_MSG("the task was stopped (");
  HAS_MSG("a rerun runs it again");
  mpmp_async_destroy(one);
  OK(mpmp_pool_destroy(pool));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(stop_after_everything_dealt_interrupts),
};
MPMP_TEST_MAIN(tests)
