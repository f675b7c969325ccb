/* MPMP_PROGRESS=1: a map running over 2 s reports its progress on stderr
 * (checked by ctest: items done/total, failures, rate, ETA; plain lines in
 * a log, a status line on a terminal's last row, or a bar redrawn in place
 * when the terminal's size is unknown), for pool maps, executor maps and
 * imaps. */
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

static int next_int(void *user, void *item) {
  int *next = user;
  if (*next == 40)
    return 0;
  *(int *)item = (*next)++;
  return 1;
}

/* An imap's line: the count, then the total once the input has ended. */
static void progress_on_imap(void **state) {
  (void)state;
  mpmp_pool_opts_t o = {.processes = 1}; /* 40 x 60 ms: 2.4 s */
  mpmp_pool_t *pool;
  mpmp_imap_t *it;
  int next = 0, got = 0, x;
  assert_int_equal(mpmp_pool_create(&pool, &o), 0);
  assert_int_equal(mpmp_pool_imap(pool, slow_or_fail, next_int, &next,
                                  sizeof(int), sizeof(int), 1, 0, &it), 0);
  int rc;
  while ((rc = mpmp_imap_next(it, &x, NULL, 30)) != MPMP_EEOF)
    got += rc == 0;
  assert_int_equal(got, 36);
  mpmp_imap_destroy(it);
  mpmp_pool_destroy(pool);
}

/* An executor's map (the task prints a line of its own as it goes: on a
 * terminal the bar must leave it whole). */
static int slow_and_say(mpmp_ctx_t *ctx) {
  int x = *(const int *)mpmp_arg(ctx, NULL);
  test_sleep(0.06);
  printf("item %d said this line\n", x);
  fflush(stdout);
  *(int *)mpmp_out(ctx, sizeof(int)) = x;
  return 0;
}
MPMP_TASK(slow_and_say);

static void progress_on_executor_map(void **state) {
  (void)state;
  int in[40], out[40];
  mpmp_executor_opts_t o = {.max_workers = 1};
  mpmp_executor_t *ex;
  for (int i = 0; i < 40; i++)
    in[i] = i;
  assert_int_equal(mpmp_executor_create(&ex, &o), 0);
  assert_int_equal(mpmp_executor_map(ex, slow_and_say, in, 40, sizeof *in, out,
                                     sizeof *out, 1, 30), 0);
  for (int i = 0; i < 40; i++)
    assert_int_equal(out[i], i);
  assert_int_equal(mpmp_executor_destroy(ex), 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(progress_bar_on_long_map),
    cmocka_unit_test(progress_counts_failures),
    cmocka_unit_test(progress_on_imap),
    cmocka_unit_test(progress_on_executor_map),
};
MPMP_TEST_MAIN(tests)
