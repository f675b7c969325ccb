/* MPMP_PROGRESS=1: a map running over 2 s reports its progress on stderr
 * (checked by ctest: items done/total, failures, rate, ETA; plain lines in
 * a log, a status line on a terminal's last row, or a bar redrawn in place
 * when the terminal's size is unknown), for pool maps, executor maps,
 * variable-size maps and imaps. */
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

/* Variable-size items (their maps wait as the others do): each item is
 * i + 1 bytes of 'a' + i % 26, its result the same bytes upper-cased, or
 * a failure for items 3, 13, 23 and 33 (ctest checks "4 failed" on the
 * pool's line and a clean line for the executor's). */
static int upper(mpmp_ctx_t *ctx, int fail) {
  size_t len;
  const char *s = mpmp_arg(ctx, &len);
  test_sleep(0.06);
  if (fail && len % 10 == 4)
    return mpmp_fail(ctx, "item of %zu bytes fails", len);
  char *o = mpmp_out(ctx, len);
  for (size_t i = 0; i < len; i++)
    o[i] = (char)(s[i] - 'a' + 'A');
  return 0;
}
static int slow_upper(mpmp_ctx_t *ctx) { return upper(ctx, 0); }
static int slow_upper_or_fail(mpmp_ctx_t *ctx) { return upper(ctx, 1); }
MPMP_TASK(slow_upper);
MPMP_TASK(slow_upper_or_fail);

static void var_items(char *bytes, size_t *off, size_t n) {
  off[0] = 0;
  for (size_t i = 0; i < n; i++) {
    memset(bytes + off[i], 'a' + (int)(i % 26), i + 1);
    off[i + 1] = off[i] + i + 1;
  }
}

static void check_var_results(const mpmp_varbuf_t *out, size_t n,
                              int with_fails) {
  assert_int_equal(out->n, n);
  for (size_t i = 0; i < n; i++) {
    size_t len = out->off[i + 1] - out->off[i];
    if (with_fails && i % 10 == 3) {
      assert_int_equal(len, 0);
      continue;
    }
    assert_int_equal(len, i + 1);
    for (size_t k = 0; k < len; k++)
      assert_int_equal(out->data[out->off[i] + k], 'A' + (int)(i % 26));
  }
}

static void progress_on_var_maps(void **state) {
  (void)state;
  enum { N = 40 }; /* 40 x 60 ms on one worker: 2.4 s each */
  static char bytes[N * (N + 1) / 2];
  size_t off[N + 1];
  mpmp_varbuf_t out;
  var_items(bytes, off, N);
  mpmp_pool_opts_t o = {.processes = 1};
  mpmp_pool_t *pool;
  assert_int_equal(mpmp_pool_create(&pool, &o), 0);
  assert_int_equal(mpmp_pool_map_var(pool, slow_upper_or_fail, bytes, off, N, 1, &out),
                   MPMP_ETASK);
  check_var_results(&out, N, 1);
  mpmp_varbuf_free(&out);
  mpmp_pool_destroy(pool);

  mpmp_executor_opts_t eo = {.max_workers = 1};
  mpmp_executor_t *ex;
  assert_int_equal(mpmp_executor_create(&ex, &eo), 0);
  assert_int_equal(mpmp_executor_map_var(ex, slow_upper, bytes, off, N, 1, 30,
                                         &out), 0);
  check_var_results(&out, N, 0);
  mpmp_varbuf_free(&out);
  assert_int_equal(mpmp_executor_destroy(ex), 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(progress_bar_on_long_map),
    cmocka_unit_test(progress_counts_failures),
    cmocka_unit_test(progress_on_imap),
    cmocka_unit_test(progress_on_executor_map),
    cmocka_unit_test(progress_on_var_maps),
};
MPMP_TEST_MAIN(tests)
