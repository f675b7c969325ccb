/* Pool: the tutorials' Pool examples, failures, states and asynchrony.
 * Runs on 1 node (2, 4, 6 ranks) and on 2 pseudo-nodes. */
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mpitest.h"

static int square(mpmp_ctx_t *ctx) {
  const int64_t *x = mpmp_arg(ctx, NULL);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = *x * *x;
  return 0;
}
MPMP_TASK(square);

typedef struct { int64_t x, y; } pair_t;
static int multiply(mpmp_ctx_t *ctx) { /* starmap: the struct is the tuple */
  const pair_t *p = mpmp_arg(ctx, NULL);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = p->x * p->y;
  return 0;
}
MPMP_TASK(multiply);

static int add(mpmp_ctx_t *ctx) {
  const pair_t *p = mpmp_arg(ctx, NULL);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = p->x + p->y;
  return 0;
}
MPMP_TASK(add);

static int may_fail(mpmp_ctx_t *ctx) {
  const int64_t *x = mpmp_arg(ctx, NULL);
  if (*x == 5)
    return mpmp_fail(ctx, "Can't process %lld", (long long)*x);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = *x * 10;
  return 0;
}
MPMP_TASK(may_fail);

static int which_rank(mpmp_ctx_t *ctx) {
  mpmp_process_info_t me;
  mpmp_current_process(&me);
  test_sleep(0.002); /* long enough that every worker gets items */
  *(int32_t *)mpmp_out(ctx, sizeof(int32_t)) = me.rank;
  return 0;
}
MPMP_TASK(which_rank);

/* The initializer sets per-worker state that later tasks read. */
static int64_t offset_state;
static int set_offset(mpmp_ctx_t *ctx) {
  offset_state = *(const int64_t *)mpmp_arg(ctx, NULL);
  return 0;
}
MPMP_TASK(set_offset);
static int add_offset(mpmp_ctx_t *ctx) {
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) =
      *(const int64_t *)mpmp_arg(ctx, NULL) + offset_state;
  return 0;
}
MPMP_TASK(add_offset);

static int failing_init(mpmp_ctx_t *ctx) {
  return mpmp_fail(ctx, "no database here");
}
MPMP_TASK(failing_init);

static int slow_item(mpmp_ctx_t *ctx) {
  test_sleep(0.05);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = 1;
  return 0;
}
MPMP_TASK(slow_item);

/* Slower, for a timeout that must run out first even when a loaded host
 * keeps the main rank off its core for tens of milliseconds. */
static int slower_item(mpmp_ctx_t *ctx) {
  test_sleep(0.5);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = 1;
  return 0;
}
MPMP_TASK(slower_item);

/* FNV-1a of the argument, and its size. */
static uint64_t digest_of(const unsigned char *p, size_t n) {
  uint64_t h = 1469598103934665603u;
  for (size_t k = 0; k < n; k++)
    h = (h ^ p[k]) * 1099511628211u;
  return h ^ n;
}

/* The digest, and how many digests this worker made before. */
static int digest(mpmp_ctx_t *ctx) {
  static uint64_t calls;
  size_t n = 0;
  const unsigned char *p = mpmp_arg(ctx, &n);
  uint64_t *out = mpmp_out(ctx, 2 * sizeof(uint64_t));
  out[0] = digest_of(p, n);
  out[1] = calls++;
  return 0;
}
MPMP_TASK(digest);

static mpmp_pool_t *pool_of(int n) {
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.processes = n};
  assert_int_equal(mpmp_pool_create(&pool, &o), 0);
  return pool;
}

static void finish(mpmp_pool_t *pool) {
  assert_int_equal(mpmp_pool_close(pool), 0);
  assert_int_equal(mpmp_pool_join(pool, 30), 0);
  assert_int_equal(mpmp_pool_destroy(pool), 0);
}

/* mp1: squares of 1..9 on a pool of 4 (or all) workers: sum 285. */
static void pool_map_squares(void **state) {
  (void)state;
  int64_t x[9], r[9], sum = 0;
  for (int i = 0; i < 9; i++)
    x[i] = i + 1;
  int n = mpmp_worker_count() < 4 ? mpmp_worker_count() : 4;
  mpmp_pool_t *pool = pool_of(n);
  assert_int_equal(mpmp_pool_size(pool), n);
  assert_int_equal(mpmp_pool_map(pool, square, x, 9, sizeof *x, r, sizeof *r, 0), 0);
  for (int i = 0; i < 9; i++) {
    assert_int_equal(r[i], x[i] * x[i]);
    sum += r[i];
  }
  assert_int_equal(sum, 285);
  finish(pool);
}

/* mp2: starmap of x*y with y reversed. */
static void pool_starmap_products(void **state) {
  (void)state;
  pair_t in[9];
  int64_t r[9], sum = 0, want[9] = {9, 16, 21, 24, 25, 24, 21, 16, 9};
  for (int i = 0; i < 9; i++)
    in[i] = (pair_t){i + 1, 9 - i};
  mpmp_pool_t *pool = pool_of(0);
  assert_int_equal(mpmp_pool_starmap(pool, multiply, in, 9, sizeof *in, r, sizeof *r, 0), 0);
  for (int i = 0; i < 9; i++) {
    assert_int_equal(r[i], want[i]);
    sum += r[i];
  }
  assert_int_equal(sum, 165);
  finish(pool);
}

static void pool_map_async_get_timeout(void **state) {
  (void)state;
  int64_t x[10], r[10];
  mpmp_async_t *res;
  for (int i = 0; i < 10; i++)
    x[i] = i;
  mpmp_pool_t *pool = pool_of(0);
  assert_int_equal(mpmp_pool_map_async(pool, square, x, 10, sizeof *x, r, sizeof *r, 0, NULL, NULL, &res), 0);
  assert_int_equal(mpmp_async_get(res, 10), 0);
  assert_int_equal(mpmp_async_ready(res), 1);
  assert_int_equal(mpmp_async_successful(res), 1);
  for (int i = 0; i < 10; i++)
    assert_int_equal(r[i], i * i);
  mpmp_async_destroy(res);
  /* a slow map: get(0.05) times out, the result stays usable */
  int64_t s[40];
  assert_int_equal(mpmp_pool_map_async(pool, slow_item, x, 10, sizeof *x, s, sizeof *s, 1, NULL, NULL, &res), 0);
  double t0 = test_now();
  assert_int_equal(mpmp_async_get(res, 0.05), MPMP_ETIMEDOUT);
  assert_true(test_now() - t0 < 0.3);
  assert_int_equal(mpmp_async_successful(res), MPMP_EAGAIN);
  assert_int_equal(mpmp_async_get(res, 30), 0);
  mpmp_async_destroy(res);
  finish(pool);
}

static void pool_apply_and_apply_async(void **state) {
  (void)state;
  pair_t a = {1, 2};
  int64_t r = 0;
  size_t size = 0;
  const void *data;
  mpmp_async_t *res;
  mpmp_pool_t *pool = pool_of(0);
  assert_int_equal(mpmp_pool_apply(pool, add, &a, sizeof a, &r, sizeof r, &size), 0);
  assert_int_equal(r, 3);
  assert_int_equal(size, sizeof r);
  assert_int_equal(mpmp_pool_apply_async(pool, add, &a, sizeof a, NULL, NULL, &res), 0);
  assert_int_equal(mpmp_async_get(res, 10), 0);
  assert_int_equal(mpmp_async_result(res, &data, &size), 0);
  assert_int_equal(*(const int64_t *)data, 3);
  mpmp_async_destroy(res);
  finish(pool);
}

/*
 * A stream of apply_async with arguments of every size, all queued at
 * once on one worker: small ones travel through the worker's mailbox,
 * middle ones inside an MPI header, big ones as a header and a data
 * message. Each task sees its own argument, and they run in the order
 * they were submitted, as on a Python pool of one process: no message
 * overtakes another. (pool_smallbox runs this with 1 KiB mailboxes, so
 * the three ways interleave and the mailbox fills up and overflows.)
 */
static void pool_apply_stream_of_every_size(void **state) {
  (void)state;
  static const size_t sizes[] = {8, 600, 3000, 9000, 40, 5000, 300, 20000};
  enum { N = 400, NS = sizeof sizes / sizeof *sizes };
  mpmp_async_t *res[N];
  uint64_t want[N];
  unsigned char *arg = malloc(20000);
  assert_non_null(arg);
  mpmp_pool_t *pool = pool_of(1);
  for (int i = 0; i < N; i++) {
    size_t n = sizes[i % NS];
    for (size_t k = 0; k < n; k++)
      arg[k] = (unsigned char)(i * 31 + k);
    want[i] = digest_of(arg, n);
    assert_int_equal(mpmp_pool_apply_async(pool, digest, arg, n, NULL, NULL, &res[i]), 0);
  }
  uint64_t first = 0;
  for (int i = 0; i < N; i++) {
    const uint64_t *got;
    size_t size = 0;
    assert_int_equal(mpmp_async_get(res[i], 30), 0);
    assert_int_equal(mpmp_async_result(res[i], (const void **)&got, &size), 0);
    assert_int_equal(size, 2 * sizeof(uint64_t));
    assert_int_equal(got[0], want[i]);
    if (i == 0)
      first = got[1];
    assert_int_equal(got[1], first + (uint64_t)i); /* ran in order */
    mpmp_async_destroy(res[i]);
  }
  free(arg);
  finish(pool);
}

/* may_fail: item 5 fails with its message; the 9 others succeed. */
static void pool_failing_item_reports_index_and_message(void **state) {
  (void)state;
  int64_t x[10], r[10];
  size_t index;
  int rank;
  const char *msg;
  mpmp_async_t *res;
  for (int i = 0; i < 10; i++)
    x[i] = i;
  mpmp_pool_t *pool = pool_of(0);
  assert_int_equal(mpmp_pool_map(pool, may_fail, x, 10, sizeof *x, r, sizeof *r, 1), MPMP_ETASK);
  assert_non_null(strstr(mpmp_errmsg(), "item 5"));
  assert_non_null(strstr(mpmp_errmsg(), "Can't process 5"));
  for (int i = 0; i < 10; i++)
    if (i != 5)
      assert_int_equal(r[i], i * 10);
  assert_int_equal(mpmp_pool_map_async(pool, may_fail, x, 10, sizeof *x, r, sizeof *r, 3, NULL, NULL, &res), 0);
  assert_int_equal(mpmp_async_get(res, 30), MPMP_ETASK);
  assert_int_equal(mpmp_async_successful(res), 0);
  assert_int_equal(mpmp_async_failed_count(res), 1);
  assert_int_equal(mpmp_async_failure(res, 0, &index, &rank, &msg), 0);
  assert_int_equal(index, 5);
  assert_true(rank >= 1 && rank < mpmp_world_size());
  assert_string_equal(msg, "Can't process 5");
  mpmp_async_destroy(res);
  /* one task's failure reads as one task's, not as a map's "1 of 1" */
  int64_t five = 5, got;
  assert_int_equal(mpmp_pool_apply(pool, may_fail, &five, sizeof five, &got,
                                   sizeof got, NULL), MPMP_ETASK);
  assert_non_null(strstr(mpmp_errmsg(), "the task failed on rank"));
  assert_non_null(strstr(mpmp_errmsg(), "Can't process 5"));
  assert_null(strstr(mpmp_errmsg(), "items failed"));
  finish(pool);
}

static int cb_calls, cb_ok;
static void on_done(mpmp_async_t *res, int ok, void *user) {
  (void)res;
  cb_calls++;
  cb_ok = ok;
  *(int *)user = 42;
}

static void pool_callbacks_run_once(void **state) {
  (void)state;
  int64_t x[10], r[10];
  int mark = 0;
  mpmp_async_t *res;
  for (int i = 0; i < 10; i++)
    x[i] = i;
  mpmp_pool_t *pool = pool_of(0);
  cb_calls = 0;
  assert_int_equal(mpmp_pool_map_async(pool, square, x, 10, sizeof *x, r, sizeof *r, 2, on_done, &mark, &res), 0);
  assert_int_equal(mpmp_async_wait(res, 30), 0);
  assert_int_equal(cb_calls, 1);
  assert_int_equal(cb_ok, 1);
  assert_int_equal(mark, 42);
  mpmp_async_destroy(res);
  assert_int_equal(mpmp_pool_map_async(pool, may_fail, x, 10, sizeof *x, r, sizeof *r, 2, on_done, &mark, &res), 0);
  assert_int_equal(mpmp_async_wait(res, 30), 0);
  assert_int_equal(cb_calls, 2);
  assert_int_equal(cb_ok, 0); /* the error callback */
  mpmp_async_destroy(res);
  finish(pool);
}

/* Python's ApplyResult runs its callback before get() and wait() return:
 * a caller may free what the callback uses as soon as they do. The
 * callback can run on another thread (the rank's agent): get() returned
 * while it was still running. */
static atomic_int slow_cb_done;
static void slow_callback(mpmp_async_t *res, int ok, void *user) {
  (void)res;
  (void)ok;
  (void)user;
  test_sleep(0.3);
  atomic_store(&slow_cb_done, 1);
}

static void pool_get_returns_after_the_callback(void **state) {
  (void)state;
  mpmp_pool_t *pool = pool_of(1);
  for (int k = 0; k < 4; k++) {
    atomic_store(&slow_cb_done, 0);
    int64_t x = 3;
    mpmp_async_t *res;
    assert_int_equal(mpmp_pool_apply_async(pool, square, &x, sizeof x,
                                           slow_callback, NULL, &res), 0);
    test_sleep(0.05 * k); /* the result back before the get, or not */
    int rc = k % 2 ? mpmp_async_wait(res, 30) : mpmp_async_get(res, 30);
    assert_int_equal(rc, 0);
    if (!atomic_load(&slow_cb_done))
      fail_msg("mpmp_async_%s returned before the result's callback had "
               "run (round %d)", k % 2 ? "wait" : "get", k);
    mpmp_async_destroy(res);
  }
  finish(pool);
}

static void pool_initializer_runs_on_every_worker(void **state) {
  (void)state;
  int64_t off = 1000, x[20], r[20];
  mpmp_pool_opts_t o = {.initializer = set_offset, .initarg = &off, .initarg_size = sizeof off};
  mpmp_pool_t *pool = NULL;
  for (int i = 0; i < 20; i++)
    x[i] = i;
  assert_int_equal(mpmp_pool_create(&pool, &o), 0);
  assert_int_equal(mpmp_pool_map(pool, add_offset, x, 20, sizeof *x, r, sizeof *r, 1), 0);
  for (int i = 0; i < 20; i++)
    assert_int_equal(r[i], 1000 + i);
  finish(pool);
  o.initializer = failing_init;
  assert_int_equal(mpmp_pool_create(&pool, &o), MPMP_ETASK);
  assert_non_null(strstr(mpmp_errmsg(), "no database here"));
  assert_non_null(strstr(mpmp_errmsg(), "failing_init"));
  pool = pool_of(0); /* the workers were given back */
  finish(pool);
}

/* Every worker of the pool really runs items (real ranks, not one). */
static void pool_items_spread_over_workers(void **state) {
  (void)state;
  enum { N = 200 };
  int64_t x[N];
  int32_t r[N];
  int seen[64] = {0};
  for (int i = 0; i < N; i++)
    x[i] = i;
  mpmp_pool_t *pool = pool_of(0);
  assert_int_equal(mpmp_pool_map(pool, which_rank, x, N, sizeof *x, r, sizeof *r, 1), 0);
  for (int i = 0; i < N; i++) {
    assert_true(r[i] >= 1 && r[i] < mpmp_world_size());
    seen[r[i]] = 1;
  }
  for (int w = 1; w < mpmp_world_size(); w++)
    assert_int_equal(seen[w], 1);
  finish(pool);
}

/* 1 000 000 items in chunks of 10 000, and with the automatic chunk size. */
static void pool_map_million_items_chunked(void **state) {
  (void)state;
  size_t n = 1000000;
  int64_t *x = malloc(n * sizeof *x), *r = malloc(n * sizeof *r);
  for (size_t i = 0; i < n; i++)
    x[i] = (int64_t)i;
  mpmp_pool_t *pool = pool_of(0);
  assert_int_equal(mpmp_pool_map(pool, square, x, n, sizeof *x, r, sizeof *r, 10000), 0);
  for (size_t i = 0; i < n; i++)
    assert_true(r[i] == (int64_t)i * (int64_t)i);
  memset(r, 0, n * sizeof *r);
  assert_int_equal(mpmp_pool_map(pool, square, x, n, sizeof *x, r, sizeof *r, 0), 0);
  for (size_t i = 0; i < n; i++)
    assert_true(r[i] == (int64_t)i * (int64_t)i);
  finish(pool);
  free(x);
  free(r);
}

/* Item 3 asks mpmp_out() for 4 bytes in a map of 8-byte results: that
 * item fails, and the items after it in the same chunk, which ask for the
 * right size, still deliver theirs. */
static int square_but_3_asks_4(mpmp_ctx_t *ctx) {
  const int64_t *x = mpmp_arg(ctx, NULL);
  size_t size = *x == 3 ? 4 : sizeof(int64_t);
  int64_t *y = mpmp_out(ctx, size);
  if (size == sizeof *y)
    *y = *x * *x;
  return 0;
}
MPMP_TASK(square_but_3_asks_4);

static void pool_map_wrong_result_size_fails_only_its_item(void **state) {
  (void)state;
  enum { N = 10 };
  int64_t x[N], r[N];
  for (int i = 0; i < N; i++)
    x[i] = i;
  mpmp_pool_t *pool = pool_of(0);
  mpmp_async_t *res;
  assert_int_equal(mpmp_pool_map_async(pool, square_but_3_asks_4, x, N,
                                       sizeof *x, r, sizeof *r, N, NULL, NULL,
                                       &res), 0);
  assert_int_equal(mpmp_async_get(res, 30), MPMP_ETASK);
  assert_non_null(strstr(mpmp_errmsg(), "4-byte result"));
  size_t index = 0;
  assert_int_equal(mpmp_async_failed_count(res), 1);
  assert_int_equal(mpmp_async_failure(res, 0, &index, NULL, NULL), 0);
  assert_int_equal(index, 3);
  for (int i = 0; i < N; i++)
    if (i != 3)
      assert_true(r[i] == (int64_t)i * i);
  mpmp_async_destroy(res);
  finish(pool);
}

/* Every rare case of a map's item loop, mixed: items that write nothing
 * (zeros), fail (mpmp_fail), return an error code, or ask for a result
 * of another size. MPMP_TASK runs maps through a loop with the body
 * inlined (task.h); the same function registered by hand runs the loop
 * calling it. All must give the same results and failures, in chunks that
 * cross the loop's 64-slot clearing blocks, over result buffers that
 * held earlier results. */
static int mixed_item(mpmp_ctx_t *ctx) {
  const int64_t *x = mpmp_arg(ctx, NULL);
  if (*x % 7 == 0)
    return 0; /* writes nothing */
  if (*x % 11 == 0)
    return mpmp_fail(ctx, "item %lld fails", (long long)*x);
  if (*x % 13 == 0)
    return -5; /* an error code, no message */
  if (*x % 17 == 0) {
    int32_t *small = mpmp_out(ctx, 4); /* not the map's 8 */
    if (small != NULL)
      *small = 1;
    return 0;
  }
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = *x * 3;
  return 0;
}
MPMP_TASK(mixed_item);

static int mixed_item_by_hand(mpmp_ctx_t *ctx) { return mixed_item(ctx); }
__attribute__((constructor)) static void register_by_hand(void) {
  mpmp_task_register(mixed_item_by_hand, "mixed_item_by_hand", __FILE__);
}

/* The results and failures of a map of mixed_item over x (1..N). */
static void check_mixed(mpmp_async_t *res, const int64_t *x, const int64_t *r,
                        int n) {
  assert_int_equal(mpmp_async_get(res, 30), MPMP_ETASK);
  int failed = 0;
  for (int i = 0; i < n; i++) {
    int64_t v = x[i];
    int fails = v % 7 != 0 && (v % 11 == 0 || v % 13 == 0 || v % 17 == 0);
    failed += fails;
    if (!fails)
      assert_true(r[i] == (v % 7 == 0 ? 0 : v * 3));
  }
  assert_int_equal(mpmp_async_failed_count(res), failed);
  size_t prev = 0;
  for (int f = 0; f < failed; f++) {
    size_t index;
    const char *msg;
    assert_int_equal(mpmp_async_failure(res, f, &index, NULL, &msg), 0);
    int64_t v = x[index];
    assert_true(f == 0 || index > prev);
    prev = index;
    if (v % 11 == 0)
      assert_non_null(strstr(msg, "fails"));
    else if (v % 13 == 0)
      assert_non_null(strstr(msg, "returned -5"));
    else
      assert_non_null(strstr(msg, "4-byte result"));
  }
  mpmp_async_destroy(res);
}

/* The same through the loop, by hand, and in place in SharedMemory (a
 * zero-copy map runs the same loop over the block). */
static void pool_map_loop_and_call_agree(void **state) {
  (void)state;
  enum { N = 1000 };
  static int64_t x[N], r[N];
  for (int i = 0; i < N; i++)
    x[i] = i + 1;
  mpmp_pool_t *pool = pool_of(0);
  mpmp_shm_t *in = NULL, *out = NULL;
  assert_int_equal(mpmp_shm_create(&in, NULL, sizeof x), 0);
  assert_int_equal(mpmp_shm_create(&out, NULL, sizeof r), 0);
  memcpy(mpmp_shm_buf(in), x, sizeof x);
  int64_t *zr = mpmp_shm_buf(out);
  mpmp_task_fn fns[2] = {mixed_item, mixed_item_by_hand};
  size_t chunks[3] = {1, 100, 333};
  for (int k = 0; k < 9; k++) {
    int zc = k % 3 == 2;
    int64_t *res_at = zc ? zr : r;
    for (int i = 0; i < N; i++)
      res_at[i] = -1; /* stale bytes where zeros must come */
    mpmp_async_t *res;
    if (zc)
      assert_int_equal(mpmp_pool_map_shm_async(pool, mixed_item, NULL, in, 0,
                                               N, sizeof *x, out, 0,
                                               sizeof *r, chunks[k / 3],
                                               NULL, NULL, &res), 0);
    else
      assert_int_equal(mpmp_pool_map_async(pool, fns[k % 3], x, N, sizeof *x,
                                           r, sizeof *r, chunks[k / 3], NULL,
                                           NULL, &res), 0);
    check_mixed(res, x, res_at, N);
  }
  mpmp_shm_unlink(in);
  mpmp_shm_unlink(out);
  mpmp_shm_close(in);
  mpmp_shm_close(out);
  finish(pool);
}

/* A slow square (20 ms), for maps destroyed while they run. */
static int slow_square(mpmp_ctx_t *ctx) {
  const int64_t *x = mpmp_arg(ctx, NULL);
  test_sleep(0.02);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = *x * *x;
  return 0;
}
MPMP_TASK(slow_square);

/* mpmp_async_destroy() of a running map: the caller may free its buffers
 * once it returns (the map wrote results into a freed and reused buffer
 * for as long as it ran), and the pool goes on. */
static void pool_async_destroy_lets_go_of_buffers(void **state) {
  (void)state;
  enum { N = 64 };
  int64_t in[N], out[N];
  for (int i = 0; i < N; i++)
    in[i] = i + 1;
  mpmp_pool_t *pool = pool_of(0);
  mpmp_async_t *r;
  assert_int_equal(mpmp_pool_map_async(pool, slow_square, in, N, sizeof *in,
                                       out, sizeof *out, 1, NULL, NULL, &r),
                   0);
  test_sleep(0.1);
  double t0 = test_now();
  mpmp_async_destroy(r);
  assert_true(test_now() - t0 < 5);
  for (int i = 0; i < N; i++)
    out[i] = -1; /* as if freed and reused */
  test_sleep(1);
  for (int i = 0; i < N; i++)
    assert_true(out[i] == -1);
  assert_int_equal(mpmp_pool_map(pool, slow_square, in, 8, sizeof *in, out,
                                 sizeof *out, 1), 0);
  for (int i = 0; i < 8; i++)
    assert_true(out[i] == in[i] * in[i]);
  finish(pool);
}

/* A buffer whose last bytes are not mapped (a size that overstates it):
 * every call that reads or writes a caller's buffer refuses it with
 * MPMP_EINVAL, naming it, before touching it (most read it and crashed;
 * only the maps checked). */
static void calls_refuse_buffers_past_their_end(void **state) {
  (void)state;
  long page = sysconf(_SC_PAGESIZE);
  char *two = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  /* (mapped before the hole is made: a later mapping may fill it) */
  char *fresh = mmap(NULL, 3 * (size_t)page, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  /* 8 bytes, then a guard page (PROT_NONE: it stays reserved) */
  char *guard = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(two != MAP_FAILED && fresh != MAP_FAILED &&
              guard != MAP_FAILED);
  assert_int_equal(mprotect(guard + page, (size_t)page, PROT_NONE), 0);
  char *g8 = guard + page - 8;
  memset(g8, 0, 8);
  assert_int_equal(munmap(two + page, (size_t)page), 0);
  char *e8 = two + page - 8; /* 8 bytes, then nothing */
  memset(e8, 0, 8);
  const size_t big = 64;
#define REFUSED(call, what)                                                  \
  do {                                                                       \
    assert_int_equal((call), MPMP_EINVAL);                                   \
    assert_non_null(strstr(mpmp_errmsg(), what));                            \
    assert_non_null(strstr(mpmp_errmsg(), "not all in memory"));             \
  } while (0)
  mpmp_pool_t *pool = pool_of(0);
  int64_t r[8] = {0};
  mpmp_async_t *res = NULL;
  REFUSED(mpmp_pool_apply(pool, square, e8, big, r, sizeof r, NULL),
          "the argument");
  REFUSED(mpmp_pool_apply(pool, square, r, sizeof(int64_t), e8, big, NULL),
          "the result buffer");
  REFUSED(mpmp_pool_apply_async(pool, square, e8, big, NULL, NULL, &res),
          "the argument");
  assert_null(res);
  mpmp_process_t *p = NULL;
  REFUSED(mpmp_process_create(&p, square, e8, big, NULL), "the argument");
  mpmp_queue_t q;
  size_t n;
  assert_int_equal(mpmp_queue_create(&q, 4, 64), 0);
  REFUSED(mpmp_queue_put(q, e8, big, 1), "the item");
  REFUSED(mpmp_queue_put_nowait(q, e8, big), "the item");
  assert_int_equal(mpmp_queue_put(q, r, big, 1), 0);
  REFUSED(mpmp_queue_get(q, e8, big, &n, 1), "the buffer");
  assert_int_equal(mpmp_queue_get(q, r, big, &n, 1), 0); /* still there */
  assert_int_equal(mpmp_queue_free(q), 0);
  mpmp_conn_t a, b;
  assert_int_equal(mpmp_pipe_create(&a, &b, 1), 0);
  REFUSED(mpmp_conn_send(a, e8, big, 1), "the message");
  assert_int_equal(mpmp_conn_send(a, r, big, 1), 0);
  REFUSED(mpmp_conn_recv(b, e8, big, &n, 1), "the buffer");
  assert_int_equal(mpmp_pipe_free(a, b), 0);
  mpmp_array_t arr;
  REFUSED(mpmp_array_create(&arr, MPMP_INT64, 8, e8, 0), "initial values");
  assert_int_equal(mpmp_array_create(&arr, MPMP_INT64, 8, NULL, 0), 0);
  REFUSED(mpmp_array_write(arr, 0, 8, e8), "the buffer");
  REFUSED(mpmp_array_read(arr, 0, 8, e8), "the buffer");
  assert_int_equal(mpmp_array_free(arr), 0);
  mpmp_barrier_t bar;
  REFUSED(mpmp_barrier_create_ex(&bar, 1, square, e8, big, 1),
          "the action's argument");
  /* a buffer checked once, then unmapped, then given again (a cache of
   * the last page found mapped let it through: a crash), and a guard
   * page (mapped, PROT_NONE: mincore said fine) */
  char *span = fresh + page - 8; /* 16 bytes over a page boundary */
  memset(span, 0, 16);
  assert_int_equal(mpmp_pool_apply(pool, square, span, 16, r, sizeof r, NULL),
                   0);
  assert_int_equal(munmap(fresh + page, (size_t)page), 0);
  REFUSED(mpmp_pool_apply(pool, square, span, 16, r, sizeof r, NULL),
          "the argument");
  assert_int_equal(mprotect(fresh + 2 * (size_t)page, (size_t)page,
                            PROT_NONE), 0);
  REFUSED(mpmp_pool_apply(pool, square, fresh + 2 * page - 8, 16, r,
                          sizeof r, NULL), "the argument");
  /* arrays of handles, flags and futures that run past the end */
  assert_int_equal(mpmp_pipe_create(&a, &b, 1), 0);
  mpmp_ref_t ends[2] = {a.ref, b.ref};
  REFUSED(mpmp_conn_wait((const mpmp_ref_t *)g8, 1, 0, NULL), "the objects");
  REFUSED(mpmp_conn_wait(ends, 2, 0, (int *)(void *)(g8 + 4)),
          "the ready flags");
  assert_int_equal(mpmp_pipe_free(a, b), 0);
  REFUSED(mpmp_futures_wait((mpmp_future_t *const *)g8, 2,
                            MPMP_ALL_COMPLETED, 0), "the futures");
  mpmp_as_completed_t *ac = NULL;
  REFUSED(mpmp_as_completed((mpmp_future_t *const *)g8, 2, 0, &ac),
          "the futures");
  /* one element that crosses into the unmapped page */
  mpmp_value_t v;
  assert_int_equal(mpmp_value_create(&v, MPMP_INT64, NULL, 0), 0);
  REFUSED(mpmp_value_load(v, g8 + 4), "the buffer");
  REFUSED(mpmp_value_store(v, g8 + 4), "the buffer");
  assert_int_equal(mpmp_value_free(v), 0);
  assert_int_equal(mpmp_array_create(&arr, MPMP_INT64, 8, NULL, 0), 0);
  REFUSED(mpmp_array_get(arr, 1, g8 + 4), "the buffer");
  REFUSED(mpmp_array_set(arr, 1, g8 + 4), "the buffer");
  assert_int_equal(mpmp_array_free(arr), 0);
  finish(pool); /* (the Manager's server takes a worker's rank) */
  mpmp_manager_t m;
  mpmp_dict_t d;
  mpmp_list_t l;
  assert_int_equal(mpmp_manager_start(&m), 0);
  assert_int_equal(mpmp_dict_create(m, &d), 0);
  assert_int_equal(mpmp_list_create(m, &l), 0);
  REFUSED(mpmp_dict_set(d, "k", e8, big), "the value");
  assert_int_equal(mpmp_dict_set(d, "k", r, big), 0);
  REFUSED(mpmp_dict_get(d, "k", e8, big, &n), "the buffer");
  const void *vals[2] = {r, r};
  size_t sizes[2] = {8, 8};
  REFUSED(mpmp_list_extend(l, 2, (const void *const *)e8, sizes), "the values");
  assert_int_equal(mpmp_list_extend(l, 2, vals, sizes), 0);
  REFUSED(mpmp_dict_get_or(d, "none", r, big, &n, g8, big), "the default");
  REFUSED(mpmp_dict_pop_or(d, "k", r, big, &n, g8, big), "the default");
  assert_int_equal(mpmp_dict_get(d, "k", r, big, &n), 0); /* not popped */
  mpmp_value_t mv;
  REFUSED(mpmp_manager_value(m, &mv, MPMP_INT64, g8 + 4, 0),
          "the initial value");
  assert_int_equal(mpmp_manager_shutdown(m), 0);
#undef REFUSED
  munmap(two, (size_t)page);
  munmap(fresh, (size_t)page);
  munmap(fresh + 2 * page, (size_t)page);
  munmap(guard, 2 * (size_t)page);
}

/* A create that fails leaves its output NULL (it kept what was there: a
 * destroyed iterator's address, which a cleanup then destroyed again). */
static int produce_one(void *user, void *item) {
  (void)user;
  *(int64_t *)item = 1;
  return 1;
}

static void failed_creates_leave_null(void **state) {
  (void)state;
  void *stale = (void *)(uintptr_t)0x1000;
  mpmp_pool_t *bad = stale;
  mpmp_pool_opts_t neg = {.processes = -5};
  assert_int_equal(mpmp_pool_create(&bad, &neg), MPMP_EINVAL);
  assert_null(bad);
  mpmp_executor_t *ex = stale;
  mpmp_executor_opts_t eneg = {.max_workers = -5};
  assert_int_equal(mpmp_executor_create(&ex, &eneg), MPMP_EINVAL);
  assert_null(ex);
  mpmp_pool_t *pool = pool_of(0);
  int64_t x = 3, r;
  mpmp_async_t *res = stale;
  assert_int_equal(mpmp_pool_map_async(pool, square, &x, 1, sizeof x, NULL,
                                       sizeof r, 1, NULL, NULL, &res),
                   MPMP_EINVAL);
  assert_null(res);
  res = stale;
  assert_int_equal(mpmp_pool_apply_async(pool, NULL, &x, sizeof x, NULL,
                                         NULL, &res), MPMP_EINVAL);
  assert_null(res);
  mpmp_imap_t *it = stale;
  assert_int_equal(mpmp_pool_imap(pool, square, NULL, NULL, sizeof x,
                                  sizeof r, 1, 0, &it), MPMP_EINVAL);
  assert_null(it);
  mpmp_process_t *p = stale;
  assert_int_equal(mpmp_process_create(&p, NULL, NULL, 0, NULL), MPMP_EINVAL);
  assert_null(p);
  mpmp_as_completed_t *ac = stale;
  assert_int_equal(mpmp_as_completed(NULL, 1, 1, &ac), MPMP_EINVAL);
  assert_null(ac);
  /* a zero-copy map's own checks (neither task given; items past the
   * block) */
  mpmp_shm_t *blk;
  assert_int_equal(mpmp_shm_create(&blk, NULL, 64), 0);
  res = stale;
  assert_int_equal(mpmp_pool_map_shm_async(pool, NULL, NULL, blk, 0, 1, 8,
                                           blk, 8, 8, 1, NULL, NULL, &res),
                   MPMP_EINVAL);
  assert_null(res);
  res = stale;
  assert_int_equal(mpmp_pool_map_shm_async(pool, square, NULL, blk, 0, 100,
                                           8, blk, 0, 8, 1, NULL, NULL, &res),
                   MPMP_EINVAL);
  assert_null(res);
  mpmp_shm_unlink(blk);
  mpmp_shm_close(blk);
  finish(pool);
  /* an executor's calls after its shutdown, and on NULL */
  mpmp_future_t *f = stale;
  assert_int_equal(mpmp_executor_submit(NULL, square, &x, sizeof x, &f),
                   MPMP_EINVAL);
  assert_null(f);
  assert_int_equal(mpmp_executor_create(&ex, NULL), 0);
  assert_int_equal(mpmp_executor_shutdown(ex, 1, 0), 0);
  f = stale;
  assert_int_equal(mpmp_executor_submit(ex, square, &x, sizeof x, &f),
                   MPMP_EPERM);
  assert_null(f);
  it = stale;
  assert_int_equal(mpmp_executor_map_stream(ex, square, produce_one, NULL,
                                            sizeof x, sizeof r, 1, 0, &it),
                   MPMP_EPERM);
  assert_null(it);
  it = stale;
  assert_int_equal(mpmp_executor_map_unordered(ex, square, produce_one, NULL,
                                               sizeof x, sizeof r, 1, 0, &it),
                   MPMP_EPERM);
  assert_null(it);
  /* the variable-size map's buffer is zeroed: freeing it is safe */
  mpmp_varbuf_t vb;
  memset(&vb, 0x41, sizeof vb);
  size_t off[2] = {0, sizeof x};
  assert_int_equal(mpmp_executor_map_var(ex, square, &x, off, 1, 1, 10, &vb),
                   MPMP_EPERM);
  assert_null(vb.data);
  assert_null(vb.off);
  assert_int_equal(vb.n, 0);
  mpmp_varbuf_free(&vb);
  memset(&vb, 0x41, sizeof vb);
  assert_true(mpmp_executor_map_var(ex, square, &x, off, 1, 1, NAN, &vb) <
              0);
  assert_null(vb.data);
  mpmp_varbuf_free(&vb);
  assert_int_equal(mpmp_executor_destroy(ex), 0);
}

/* A failed create of a shared object zeroes its handle: a cleanup that
 * frees it must not free the object the variable named before. */
static void failed_object_creates_zero_the_handle(void **state) {
  (void)state;
  mpmp_queue_t q, keep;
  assert_int_equal(mpmp_queue_create(&q, 4, 8), 0);
  keep = q;
  assert_int_equal(mpmp_queue_create(&q, 4, 0), MPMP_EINVAL);
  assert_true(mpmp_queue_free(q) < 0); /* names nothing */
  assert_int_equal(mpmp_queue_put(keep, "12345678", 8, 0), 0);
  mpmp_value_t v, vkeep;
  assert_int_equal(mpmp_value_create(&v, MPMP_INT32, NULL, 1), 0);
  vkeep = v;
  assert_int_equal(mpmp_value_create(&v, (mpmp_type_t)99, NULL, 1),
                   MPMP_EINVAL);
  assert_true(mpmp_value_free(v) < 0);
  mpmp_sem_t s, skeep;
  assert_int_equal(mpmp_sem_create(&s, 1), 0);
  skeep = s;
  assert_int_equal(mpmp_sem_create(&s, UINT32_MAX), MPMP_EINVAL);
  assert_true(mpmp_sem_free(s) < 0);
  mpmp_barrier_t b, bkeep;
  assert_int_equal(mpmp_barrier_create(&b, 2), 0);
  bkeep = b;
  assert_int_equal(mpmp_barrier_create(&b, 0), MPMP_EINVAL);
  assert_true(mpmp_barrier_free(b) < 0);
  assert_int_equal(mpmp_barrier_free(bkeep), 0);
  assert_int_equal(mpmp_sem_free(skeep), 0);
  assert_int_equal(mpmp_value_free(vkeep), 0);
  assert_int_equal(mpmp_queue_free(keep), 0);
}

/* Python's AsyncResult is ready once its callback ran: get(0) after
 * ready() never times out. */
static void pool_ready_means_get_returns(void **state) {
  (void)state;
  mpmp_pool_t *pool = pool_of(1);
  int64_t x = 3, r;
  mpmp_async_t *res;
  atomic_store(&slow_cb_done, 0);
  assert_int_equal(mpmp_pool_apply_async(pool, square, &x, sizeof x,
                                         slow_callback, NULL, &res), 0);
  double end = test_now() + 30;
  while (mpmp_async_ready(res) != 1 && test_now() < end)
    test_sleep(0.001);
  assert_int_equal(atomic_load(&slow_cb_done), 1);
  assert_int_equal(mpmp_async_successful(res), 1);
  assert_int_equal(mpmp_async_get(res, 0), 0);
  const void *data;
  size_t size;
  assert_int_equal(mpmp_async_result(res, &data, &size), 0);
  assert_int_equal(size, sizeof r);
  memcpy(&r, data, sizeof r);
  assert_int_equal(r, 9);
  mpmp_async_destroy(res);
  finish(pool);
}

/* 64 KiB items summed: chunks whose items come as their own message, of
 * sizes that make the worker's reused buffers grow, serve smaller chunks,
 * and pass the size it keeps (64 MiB: a buffer of its own, freed). */
typedef struct { int64_t w[8192]; } big_item_t;
static int sum_item(mpmp_ctx_t *ctx) {
  size_t size;
  const big_item_t *b = mpmp_arg(ctx, &size);
  int64_t s = 0;
  for (size_t k = 0; k < sizeof b->w / sizeof b->w[0]; k++)
    s += b->w[k];
  *(int64_t *)mpmp_out(ctx, sizeof s) = size == sizeof *b ? s : -1;
  return 0;
}
MPMP_TASK(sum_item);

static void pool_map_chunk_buffers_of_every_size(void **state) {
  (void)state;
  const size_t n = 1100; /* 70 MiB of items */
  const size_t chunks[] = {1, 16, 300, n, 4, 0, 2};
  big_item_t *x = malloc(n * sizeof *x);
  int64_t *r = malloc(n * sizeof *r);
  assert_non_null(x);
  assert_non_null(r);
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < 8192; k++)
      x[i].w[k] = (int64_t)(i * 8192 + k);
  mpmp_pool_t *pool = pool_of(0);
  for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
    memset(r, 0, n * sizeof *r);
    assert_int_equal(mpmp_pool_map(pool, sum_item, x, n, sizeof *x, r,
                                   sizeof *r, chunks[c]), 0);
    for (size_t i = 0; i < n; i++) /* sum of i*8192 .. i*8192 + 8191 */
      assert_true(r[i] == (int64_t)(i * 8192) * 8192 + 8191 * 8192 / 2);
  }
  finish(pool);
  free(x);
  free(r);
}

/* The accessors behave alike inline (task.h) and called by name. */
static int accessors_agree(mpmp_ctx_t *ctx) {
  size_t a = 0, b = 0;
  const void *p = mpmp_arg(ctx, &a), *q = (mpmp_arg)(ctx, &b);
  int64_t *y = mpmp_out(ctx, sizeof *y);
  int64_t *z = (mpmp_out)(ctx, sizeof *z);
  if (p != q || a != b || a != sizeof(int64_t) || y != z)
    return mpmp_fail(ctx, "inline and called accessors differ");
  *y = *(const int64_t *)p + 1;
  return 0;
}
MPMP_TASK(accessors_agree);

static void pool_accessors_inline_and_called(void **state) {
  (void)state;
  int64_t x[5] = {1, 2, 3, 4, 5}, r[5] = {0};
  size_t size = 7;
  assert_null(mpmp_arg(NULL, &size));
  assert_int_equal(size, 0);
  assert_null(mpmp_out(NULL, 8));
  mpmp_pool_t *pool = pool_of(0);
  assert_int_equal(mpmp_pool_map(pool, accessors_agree, x, 5, sizeof *x, r,
                                 sizeof *r, 2), 0);
  for (int i = 0; i < 5; i++)
    assert_true(r[i] == x[i] + 1);
  finish(pool);
}

static void pool_edge_sizes(void **state) {
  (void)state;
  int64_t x = 7, r = 0;
  mpmp_pool_t *pool = pool_of(0);
  assert_int_equal(mpmp_pool_map(pool, square, NULL, 0, sizeof x, NULL, sizeof r, 0), 0);
  assert_int_equal(mpmp_pool_map(pool, square, &x, 1, sizeof x, &r, sizeof r, 0), 0);
  assert_int_equal(r, 49);
  /* a result size that does not match what the task writes */
  int32_t small[1];
  assert_int_equal(mpmp_pool_map(pool, square, &x, 1, sizeof x, small, sizeof small[0], 0), MPMP_ETASK);
  assert_non_null(strstr(mpmp_errmsg(), "bytes each"));
  assert_int_equal(mpmp_pool_map(pool, square, NULL, 3, sizeof x, &r, sizeof r, 0), MPMP_EINVAL);
  assert_int_equal(mpmp_pool_map(pool, square, &x, 1, 0, &r, sizeof r, 0), MPMP_EINVAL);
  assert_int_equal(mpmp_pool_map(NULL, square, &x, 1, sizeof x, &r, sizeof r, 0), MPMP_EINVAL);
  finish(pool);
}

static void pool_states_close_terminate_join(void **state) {
  (void)state;
  int64_t x[40], r[40];
  mpmp_async_t *res;
  for (int i = 0; i < 40; i++)
    x[i] = i;
  mpmp_pool_t *pool = pool_of(0), *other = NULL;
  assert_int_equal(mpmp_pool_join(pool, 1), MPMP_EPERM); /* before close */
  assert_int_equal(mpmp_pool_create(&other, NULL), MPMP_EBUSY);
  assert_non_null(strstr(mpmp_errmsg(), "mpirun -n"));
  assert_int_equal(mpmp_pool_close(pool), 0);
  assert_int_equal(mpmp_pool_map(pool, square, x, 1, sizeof *x, r, sizeof *r, 0), MPMP_EPERM);
  assert_int_equal(mpmp_pool_join(pool, 30), 0);
  assert_int_equal(mpmp_pool_destroy(pool), 0);
  /* terminate drops what was not dealt yet */
  pool = pool_of(0);
  assert_int_equal(mpmp_pool_map_async(pool, slow_item, x, 40, sizeof *x, r, sizeof *r, 1, NULL, NULL, &res), 0);
  test_sleep(0.02);
  assert_int_equal(mpmp_pool_terminate(pool), 0);
  assert_int_equal(mpmp_async_get(res, 30), MPMP_ETASK);
  assert_non_null(strstr(mpmp_errmsg(), "terminated"));
  assert_int_equal(mpmp_pool_join(pool, 30), 0);
  mpmp_async_destroy(res);
  assert_int_equal(mpmp_pool_destroy(pool), 0);
}

/* x == 0: 0.3 s of work that never asks whether to stop, a whole result;
 * else: works until asked to stop (its result is then partial). */
static int whole_or_cut(mpmp_ctx_t *ctx) {
  if (*(const int64_t *)mpmp_arg(ctx, NULL) == 0)
    test_sleep(0.3);
  else
    for (int i = 0; i < 20000 && !mpmp_should_stop(ctx); i++)
      test_sleep(0.001);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = 100;
  return 0;
}
MPMP_TASK(whole_or_cut);

/* Terminate asks the running tasks to stop: one that returns after it was
 * told (mpmp_should_stop) is cut short and fails; one that never asked
 * returned a whole result, which is kept (it was failed as "terminated"). */
static void pool_terminate_keeps_whole_results(void **state) {
  (void)state;
  for (int64_t kind = 0; kind < 2; kind++) {
    int64_t r = 0;
    mpmp_async_t *res;
    mpmp_pool_t *pool = pool_of(1);
    assert_int_equal(mpmp_pool_map_async(pool, whole_or_cut, &kind, 1, sizeof kind, &r, sizeof r, 1, NULL, NULL, &res), 0);
    test_sleep(0.1); /* running by now */
    assert_int_equal(mpmp_pool_terminate(pool), 0);
    if (kind == 0) {
      assert_int_equal(mpmp_async_get(res, 30), 0);
      assert_int_equal(r, 100);
    } else {
      assert_int_equal(mpmp_async_get(res, 30), MPMP_ETASK);
      assert_non_null(strstr(mpmp_errmsg(), "asked to stop"));
    }
    assert_int_equal(mpmp_pool_join(pool, 30), 0);
    mpmp_async_destroy(res);
    assert_int_equal(mpmp_pool_destroy(pool), 0);
  }
}

/* Asynchronous means asynchronous: the map completes while the main rank
 * computes for 2 s without calling mpmp. */
static void pool_map_async_progresses_while_main_computes(void **state) {
  (void)state;
  int64_t x[20], r[20] = {0};
  mpmp_async_t *res;
  for (int i = 0; i < 20; i++)
    x[i] = i;
  mpmp_pool_t *pool = pool_of(0); /* 20 x 50 ms: 1 s on one worker */
  assert_int_equal(mpmp_pool_map_async(pool, slow_item, x, 20, sizeof *x, r, sizeof *r, 1, NULL, NULL, &res), 0);
  volatile double acc = 0;
  double end = test_now() + 2.0;
  while (test_now() < end)
    for (int i = 0; i < 1000; i++)
      acc += i * 0.5;
  /* Read the output without calling mpmp: the agent thread filled it. */
  for (int i = 0; i < 20; i++)
    assert_int_equal(__atomic_load_n(&r[i], __ATOMIC_ACQUIRE), 1);
  assert_int_equal(mpmp_async_get(res, 0), 0);
  mpmp_async_destroy(res);
  finish(pool);
}

/* Staged maps (pool.c, "Staging"): int32 x -> int64 x*x, failing every
 * item whose x is a multiple of 9973 (but 0), item 0 of a map whose x[0]
 * is -1 sleeping 0.3 s first (its worker's queued chunk is then taken back
 * and dealt again elsewhere). */
static int staged_sq(mpmp_ctx_t *ctx) {
  int32_t x = *(const int32_t *)mpmp_arg(ctx, NULL);
  if (x == -1)
    test_sleep(0.3);
  if (x != 0 && x % 9973 == 0)
    return mpmp_fail(ctx, "no %d", (int)x);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = (int64_t)x * x;
  return 0;
}
MPMP_TASK(staged_sq);

/* 3-byte items -> 5-byte results: the bytes' sum, then the bytes again. */
static int staged_odd(mpmp_ctx_t *ctx) {
  const unsigned char *b = mpmp_arg(ctx, NULL);
  unsigned char *o = mpmp_out(ctx, 5);
  unsigned s = (unsigned)b[0] + b[1] + b[2];
  o[0] = (unsigned char)s;
  o[1] = (unsigned char)(s >> 8);
  memcpy(o + 2, b, 3);
  return 0;
}
MPMP_TASK(staged_odd);

static int staged_chunk(mpmp_ctx_t *ctx, const void *in, void *out,
                        size_t count) {
  (void)ctx;
  const int32_t *x = in;
  int64_t *y = out;
  for (size_t i = 0; i < count; i++)
    y[i] = (int64_t)x[i] * x[i] + 1;
  return 0;
}
MPMP_CHUNK_TASK(staged_chunk);

/* r holds every x*x but those of the multiples of 9973 (failed, each
 * listed with its message). */
static void check_staged(mpmp_async_t *res, const int32_t *x,
                         const int64_t *r, size_t n) {
  size_t fails = 0;
  for (size_t i = 0; i < n; i++) {
    int64_t v = x[i];
    if (v != 0 && v % 9973 == 0) {
      fails++;
      continue;
    }
    if (r[i] != v * v)
      fail_msg("item %zu: %lld, not %lld", i, (long long)r[i],
               (long long)v * v);
  }
  assert_int_equal(mpmp_async_failed_count(res), (int)fails);
  for (size_t k = 0; k < fails; k++) {
    size_t index;
    const char *msg;
    char want[32];
    assert_int_equal(mpmp_async_failure(res, (int)k, &index, NULL, &msg), 0);
    snprintf(want, sizeof want, "no %d", (int)x[index]);
    assert_string_equal(msg, want);
  }
}

/* Maps whose chunks go through the workers' staging slots: several at once
 * on one pool (chunks find both of a worker's slots taken and travel the
 * ordinary way), chunk sizes below, at and past a slot (512 KiB of items
 * and results), a queued chunk taken back and dealt again, odd item sizes,
 * failing items and a chunk task: every result at its place, every failure
 * listed. On another node's workers the chunks travel as before. */
static void pool_staged_maps_agree(void **state) {
  (void)state;
  enum { N = 400000, MAPS = 4 };
  int32_t *x = test_malloc(N * sizeof *x);
  int64_t *r[MAPS];
  for (size_t i = 0; i < N; i++)
    x[i] = (int32_t)(i * 7 + 3) % 200000;
  for (int m = 0; m < MAPS; m++)
    r[m] = test_malloc(N * sizeof *r[m]);
  mpmp_pool_t *pool = pool_of(0);
  mpmp_async_t *res[MAPS];
  /* automatic chunks, then 43 688 items (a slot of 512 KiB exactly, the
   * results after the items on a cache line), 43 689 (over a slot) and
   * 200 000 */
  size_t chunks[MAPS] = {0, 43688, 43689, 200000};
  for (int round = 0; round < 2; round++) {
    for (int m = 0; m < MAPS; m++) {
      memset(r[m], 0x5a, N * sizeof *r[m]);
      assert_int_equal(mpmp_pool_map_async(pool, staged_sq, x, N, sizeof *x,
                                           r[m], sizeof *r[m], chunks[m],
                                           NULL, NULL, &res[m]), 0);
    }
    for (int m = 0; m < MAPS; m++) {
      assert_int_equal(mpmp_async_get(res[m], 60), MPMP_ETASK);
      check_staged(res[m], x, r[m], N);
      mpmp_async_destroy(res[m]);
    }
  }
  /* a slow item 0: its worker's queued chunk is taken back (2+ workers) */
  int32_t saved = x[0];
  x[0] = -1;
  assert_int_equal(mpmp_pool_map_async(pool, staged_sq, x, N, sizeof *x,
                                       r[0], sizeof *r[0], 20000, NULL, NULL,
                                       &res[0]), 0);
  assert_int_equal(mpmp_async_get(res[0], 60), MPMP_ETASK);
  check_staged(res[0], x, r[0], N);
  mpmp_async_destroy(res[0]);
  x[0] = saved;
  /* 3-byte items, 5-byte results */
  unsigned char *b = test_malloc(3 * (size_t)N), *o = test_malloc(5 * (size_t)N);
  for (size_t i = 0; i < 3 * (size_t)N; i++)
    b[i] = (unsigned char)(i * 31 + 7);
  assert_int_equal(mpmp_pool_map(pool, staged_odd, b, N, 3, o, 5, 0), 0);
  for (size_t i = 0; i < N; i++) {
    const unsigned char *p = b + 3 * i, *q = o + 5 * i;
    unsigned s = (unsigned)p[0] + p[1] + p[2];
    if (q[0] != (unsigned char)s || q[1] != (unsigned char)(s >> 8) ||
        memcmp(q + 2, p, 3) != 0)
      fail_msg("3-byte item %zu: wrong result", i);
  }
  /* a chunk task */
  assert_int_equal(mpmp_pool_map_chunks(pool, staged_chunk, x, N, sizeof *x,
                                        r[1], sizeof *r[1], 0), 0);
  for (size_t i = 0; i < N; i++)
    if (r[1][i] != (int64_t)x[i] * x[i] + 1)
      fail_msg("chunk task item %zu: %lld", i, (long long)r[1][i]);
  /* results larger than the last-level cache (or 32 MiB where it is not
   * known), through the staging slots chunk after chunk */
  long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  size_t big = (l3 > 0 ? (size_t)l3 : (size_t)32 << 20) / sizeof(int64_t) +
               100003;
  int32_t *bx = malloc(big * sizeof *bx);
  int64_t *br = malloc(big * sizeof *br);
  assert_non_null(bx);
  assert_non_null(br);
  for (size_t i = 0; i < big; i++) { /* no failing or sleeping item */
    int32_t v = (int32_t)i - 3000000;
    bx[i] = v == -1 || v % 9973 == 0 ? v + 2 : v;
  }
  memset(br, 0x5a, big * sizeof *br);
  assert_int_equal(mpmp_pool_map(pool, staged_sq, bx, big, sizeof *bx, br,
                                 sizeof *br, 0), 0);
  for (size_t i = 0; i < big; i++)
    if (br[i] != (int64_t)bx[i] * bx[i])
      fail_msg("item %zu of %zu: %lld, not %lld", i, big, (long long)br[i],
               (long long)bx[i] * bx[i]);
  free(bx);
  free(br);
  finish(pool);
  test_free(b);
  test_free(o);
  for (int m = 0; m < MAPS; m++)
    test_free(r[m]);
  test_free(x);
}

/* imap's producer: the integers 0..limit-1, counting how many are out. */
typedef struct { int64_t next, limit, max_ahead; int64_t *taken; } counter_t;
static int produce_int(void *user, void *item) {
  counter_t *c = user;
  if (c->next == c->limit)
    return 0;
  *(int64_t *)item = c->next++;
  int64_t ahead = c->next - *c->taken; /* read but not yet returned */
  if (ahead > c->max_ahead)
    c->max_ahead = ahead;
  return 1;
}

/* imap over 1 000 000 items: in order, in bounded memory. */
static void pool_imap_million_in_order_bounded(void **state) {
  (void)state;
  int64_t taken = 0, r;
  size_t idx;
  counter_t c = {0, 1000000, 0, &taken};
  mpmp_imap_t *it;
  mpmp_pool_t *pool = pool_of(0);
  assert_int_equal(mpmp_pool_imap(pool, square, produce_int, &c, sizeof(int64_t), sizeof r, 1000, 20000, &it), 0);
  while (mpmp_imap_next(it, &r, &idx, 30) == 0) {
    assert_int_equal(idx, (size_t)taken);
    assert_true(r == (int64_t)idx * (int64_t)idx);
    taken++;
  }
  assert_int_equal(taken, 1000000);
  assert_true(c.max_ahead <= 20000); /* never more than buffersize out */
  assert_int_equal(mpmp_imap_next(it, &r, &idx, 1), MPMP_EEOF);
  mpmp_imap_destroy(it);
  finish(pool);
}

static void pool_imap_unordered_million(void **state) {
  (void)state;
  int64_t taken = 0, r;
  size_t idx;
  counter_t c = {0, 1000000, 0, &taken};
  unsigned char *seen = calloc(1000000, 1);
  mpmp_imap_t *it;
  mpmp_pool_t *pool = pool_of(0);
  assert_int_equal(mpmp_pool_imap_unordered(pool, square, produce_int, &c, sizeof(int64_t), sizeof r, 1000, 0, &it), 0);
  while (mpmp_imap_next(it, &r, &idx, 30) == 0) {
    assert_true(idx < 1000000 && !seen[idx]);
    seen[idx] = 1;
    assert_true(r == (int64_t)idx * (int64_t)idx);
    taken++;
  }
  assert_int_equal(taken, 1000000);
  mpmp_imap_destroy(it);
  free(seen);
  finish(pool);
}

/* Item `slow` takes 1.5 s, the others no time: returns the item squared. */
typedef struct { int64_t next, limit, slow; } slowprod_t;
static int produce_slowprod(void *user, void *item) {
  slowprod_t *c = user;
  if (c->next == c->limit)
    return 0;
  int64_t *x = item;
  x[0] = c->next++;
  x[1] = x[0] == c->slow;
  return 1;
}
static int one_slow_item(mpmp_ctx_t *ctx) {
  const int64_t *x = mpmp_arg(ctx, NULL);
  if (x[1])
    test_sleep(1.5);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = x[0] * x[0];
  return 0;
}
MPMP_TASK(one_slow_item);

/* Results come chunk by chunk, not window by window: imap hands out the
 * items before a slow one as soon as they are done, and imap_unordered
 * hands out the others before the slow one. */
static void pool_imap_streams_per_chunk(void **state) {
  (void)state;
  if (mpmp_worker_count() < 2)
    skip(); /* one worker runs the slow item before the others */
  mpmp_pool_t *pool = pool_of(0);
  mpmp_imap_t *it;
  int64_t r;
  size_t idx;
  slowprod_t c = {0, 8, 3};
  double t0 = test_now();
  assert_int_equal(mpmp_pool_imap(pool, one_slow_item, produce_slowprod, &c, 2 * sizeof(int64_t), sizeof r, 1, 0, &it), 0);
  for (int64_t i = 0; i < 3; i++) {
    assert_int_equal(mpmp_imap_next(it, &r, &idx, 30), 0);
    assert_true(idx == (size_t)i && r == i * i);
  }
  assert_true(test_now() - t0 < 1.0); /* items 0..2 did not wait for 3 */
  for (int64_t i = 3; i < 8; i++) {
    assert_int_equal(mpmp_imap_next(it, &r, &idx, 30), 0);
    assert_true(idx == (size_t)i && r == i * i);
  }
  assert_true(test_now() - t0 >= 1.4);
  assert_int_equal(mpmp_imap_next(it, &r, &idx, 1), MPMP_EEOF);
  mpmp_imap_destroy(it);

  c = (slowprod_t){0, 8, 0};
  int seen[8] = {0};
  t0 = test_now();
  assert_int_equal(mpmp_pool_imap_unordered(pool, one_slow_item, produce_slowprod, &c, 2 * sizeof(int64_t), sizeof r, 1, 0, &it), 0);
  for (int k = 0; k < 8; k++) {
    assert_int_equal(mpmp_imap_next(it, &r, &idx, 30), 0);
    assert_true(idx < 8 && !seen[idx] && r == (int64_t)(idx * idx));
    seen[idx] = 1;
    /* the quick ones come first, at once, but for the one dealt to the
     * slow item's worker behind it (two chunks in flight per worker) */
    if (k < 6)
      assert_true(idx != 0 && test_now() - t0 < 1.0);
  }
  assert_int_equal(mpmp_imap_next(it, &r, &idx, 1), MPMP_EEOF);
  mpmp_imap_destroy(it);
  finish(pool);
}

/* Item 0 naps 0.3 s, the others 0.1 s; the result is the rank it ran on. */
static int nap_where(mpmp_ctx_t *ctx) {
  test_sleep(*(const int64_t *)mpmp_arg(ctx, NULL) == 0 ? 0.3 : 0.1);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = mpmp_rank();
  return 0;
}
MPMP_TASK(nap_where);

/* The end of a map is not dealt ahead: with 4 items on 2 workers, items
 * 1..3 all run on the worker that is not stuck on item 0 (0.3 s instead
 * of 0.4 s); a chunk queued behind item 0 would wait there meanwhile. */
static void pool_tail_not_queued_behind_a_slow_item(void **state) {
  (void)state;
  if (mpmp_worker_count() < 2)
    skip();
  int64_t x[4] = {0, 1, 2, 3}, where[4];
  mpmp_pool_t *pool = pool_of(2);
  assert_int_equal(mpmp_pool_map(pool, nap_where, x, 4, sizeof *x, where, sizeof *where, 1), 0);
  for (int i = 1; i < 4; i++)
    if (where[i] == where[0])
      fail_msg("item %d ran on rank %lld behind the slow item 0", i,
               (long long)where[i]);
  finish(pool);
}

/* Naps the seconds it is given; the result is the rank it ran on. */
static int nap_for(mpmp_ctx_t *ctx) {
  test_sleep(*(const double *)mpmp_arg(ctx, NULL));
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = mpmp_rank();
  return 0;
}
MPMP_TASK(nap_for);

/* With one worker busy (a 1 s apply), a map's first items go to the idle
 * worker, not behind the apply: items 0 and 1 (no nap) are done within
 * 0.5 s while item 2 naps 2 s (CPython's test_map_timeout with a worker
 * busy; the build before queued item 0 behind the apply). */
static void pool_idle_worker_gets_the_next_item(void **state) {
  (void)state;
  if (mpmp_worker_count() < 2)
    skip();
  mpmp_pool_t *pool = pool_of(2);
  double one = 1.0, naps[3] = {0, 0, 2.0};
  int64_t r[3] = {-1, -1, -1}, busy_rank;
  mpmp_async_t *busy, *map;
  assert_int_equal(mpmp_pool_apply_async(pool, nap_for, &one, sizeof one,
                                         NULL, NULL, &busy), 0);
  test_sleep(0.1); /* running by now */
  assert_int_equal(mpmp_pool_map_async(pool, nap_for, naps, 3, sizeof *naps,
                                       r, sizeof *r, 1, NULL, NULL, &map), 0);
  assert_int_equal(mpmp_async_wait(map, 0.5), MPMP_ETIMEDOUT);
  assert_true(__atomic_load_n(&r[0], __ATOMIC_ACQUIRE) > 0);
  assert_true(__atomic_load_n(&r[1], __ATOMIC_ACQUIRE) > 0);
  assert_int_equal(mpmp_async_get(busy, 30), 0);
  const void *data;
  size_t size;
  assert_int_equal(mpmp_async_result(busy, &data, &size), 0);
  memcpy(&busy_rank, data, sizeof busy_rank);
  assert_true(r[0] != busy_rank && r[1] != busy_rank);
  assert_int_equal(mpmp_async_get(map, 30), 0);
  mpmp_async_destroy(busy);
  mpmp_async_destroy(map);
  finish(pool);
}

/* A failing item is reported at its place; the iteration goes on. */
static void pool_imap_failure_and_timeout(void **state) {
  (void)state;
  int64_t taken = 0, r;
  size_t idx;
  counter_t c = {0, 10, 0, &taken};
  mpmp_imap_t *it;
  mpmp_pool_t *pool = pool_of(0);
  assert_int_equal(mpmp_pool_imap(pool, may_fail, produce_int, &c, sizeof(int64_t), sizeof r, 1, 4, &it), 0);
  int ok = 0, failed = 0, rc;
  while ((rc = mpmp_imap_next(it, &r, &idx, 30)) != MPMP_EEOF) {
    if (rc == MPMP_ETASK) {
      assert_int_equal(idx, 5);
      assert_non_null(strstr(mpmp_errmsg(), "Can't process 5"));
      failed++;
    } else {
      assert_int_equal(rc, 0);
      assert_int_equal(r, (int64_t)idx * 10);
      ok++;
    }
  }
  assert_int_equal(ok, 9);
  assert_int_equal(failed, 1);
  mpmp_imap_destroy(it);
  counter_t slow = {0, 8, 0, &taken};
  assert_int_equal(mpmp_pool_imap(pool, slower_item, produce_int, &slow, sizeof(int64_t), sizeof r, 1, 0, &it), 0);
  assert_int_equal(mpmp_imap_next(it, &r, &idx, 0.01), MPMP_ETIMEDOUT);
  mpmp_imap_destroy(it); /* stops with items still running */
  finish(pool);
}

/* A task forks a child that exits with the status given (or, for -1,
 * crashes): its result is the child's status as waitpid() saw it. */
static int fork_a_child(mpmp_ctx_t *ctx) {
  const int *how = mpmp_arg(ctx, NULL);
  pid_t p = fork();
  if (p == 0) {
    if (*how < 0)
      raise(SIGSEGV);
    exit(*how);
  }
  int st = 0;
  if (p < 0 || waitpid(p, &st, 0) != p)
    return mpmp_fail(ctx, "fork or waitpid failed");
  *(int *)mpmp_out(ctx, sizeof(int)) =
      WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
  return 0;
}
MPMP_TASK(fork_a_child);

/* The worker's exit hook and crash report are the rank's, not its
 * children's: a child's exit(0) ended with status 1 (and said that the
 * job ends now), a crashing child said the rank crashed (helper 59). */
static void pool_task_child_keeps_its_exit_status(void **state) {
  (void)state;
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_NEVER};
  OK(mpmp_pool_create(&pool, &o));
  const int how[] = {0, 3, -1};
  for (int k = 0; k < 3; k++) {
    int st = -99;
    OK(mpmp_pool_apply(pool, fork_a_child, &how[k], sizeof how[k], &st,
                       sizeof st, NULL));
    EQ(st, how[k] < 0 ? -SIGSEGV : how[k]);
  }
  OK(mpmp_pool_destroy(pool));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(pool_map_squares),
    cmocka_unit_test(pool_map_loop_and_call_agree),
    cmocka_unit_test(pool_staged_maps_agree),
    cmocka_unit_test(pool_async_destroy_lets_go_of_buffers),
    cmocka_unit_test(calls_refuse_buffers_past_their_end),
    cmocka_unit_test(failed_creates_leave_null),
    cmocka_unit_test(failed_object_creates_zero_the_handle),
    cmocka_unit_test(pool_ready_means_get_returns),
    cmocka_unit_test(pool_starmap_products),
    cmocka_unit_test(pool_map_async_get_timeout),
    cmocka_unit_test(pool_apply_and_apply_async),
    cmocka_unit_test(pool_apply_stream_of_every_size),
    cmocka_unit_test(pool_failing_item_reports_index_and_message),
    cmocka_unit_test(pool_callbacks_run_once),
    cmocka_unit_test(pool_get_returns_after_the_callback),
    cmocka_unit_test(pool_initializer_runs_on_every_worker),
    cmocka_unit_test(pool_items_spread_over_workers),
    cmocka_unit_test(pool_map_million_items_chunked),
    cmocka_unit_test(pool_edge_sizes),
    cmocka_unit_test(pool_map_wrong_result_size_fails_only_its_item),
    cmocka_unit_test(pool_map_chunk_buffers_of_every_size),
    cmocka_unit_test(pool_accessors_inline_and_called),
    cmocka_unit_test(pool_states_close_terminate_join),
    cmocka_unit_test(pool_terminate_keeps_whole_results),
    cmocka_unit_test(pool_map_async_progresses_while_main_computes),
    cmocka_unit_test(pool_imap_million_in_order_bounded),
    cmocka_unit_test(pool_imap_unordered_million),
    cmocka_unit_test(pool_imap_failure_and_timeout),
    cmocka_unit_test(pool_imap_streams_per_chunk),
    cmocka_unit_test(pool_tail_not_queued_behind_a_slow_item),
    cmocka_unit_test(pool_idle_worker_gets_the_next_item),
    cmocka_unit_test(pool_task_child_keeps_its_exit_status),
};
MPMP_TEST_MAIN(tests)
