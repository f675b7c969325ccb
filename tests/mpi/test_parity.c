/* Python parity of Pool and executor: executor starmap and unordered map
 * (mpi4py's test_futures.py), a future's result read in place,
 * processes=0 and negative, maxtasksperchild
 * (CPython's _test_multiprocessing.py test_pool_worker_lifetime*), and an
 * imap started before close() (it runs to its end; join waits for it). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpitest.h"

/* ---- tasks ------------------------------------------------------------------- */

typedef struct pair {
  int64_t a, b;
} pair_t;

/* pow(a, b) modulo 2^64: Python's pow on integers, wrapped */
static uint64_t upow(uint64_t a, uint64_t b) {
  uint64_t r = 1;
  while (b-- > 0)
    r *= a;
  return r;
}

static int pow_pair(mpmp_ctx_t *ctx) { /* starmap(pow, pairs) */
  const pair_t *p = mpmp_arg(ctx, NULL);
  *(uint64_t *)mpmp_out(ctx, sizeof(uint64_t)) =
      upow((uint64_t)p->a, (uint64_t)p->b);
  return 0;
}
MPMP_TASK(pow_pair);

static int divmod_pair(mpmp_ctx_t *ctx) { /* divmod(a, b) */
  const pair_t *p = mpmp_arg(ctx, NULL);
  if (p->b == 0)
    return mpmp_fail(ctx, "ZeroDivisionError: integer division or modulo "
                     "by zero");
  int64_t *r = mpmp_out(ctx, 2 * sizeof *r);
  r[0] = p->a / p->b;
  r[1] = p->a % p->b;
  return 0;
}
MPMP_TASK(divmod_pair);

static int sleep_secs(mpmp_ctx_t *ctx) { /* time.sleep(x); returns x */
  const double *s = mpmp_arg(ctx, NULL);
  test_sleep(*s);
  *(double *)mpmp_out(ctx, sizeof(double)) = *s;
  return 0;
}
MPMP_TASK(sleep_secs);

static int square(mpmp_ctx_t *ctx) {
  const int64_t *x = mpmp_arg(ctx, NULL);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = *x * *x;
  return 0;
}
MPMP_TASK(square);

/* A result of `n` bytes, test_fill_pattern(seed 7). */
static int big_result(mpmp_ctx_t *ctx) {
  const size_t *n = mpmp_arg(ctx, NULL);
  test_fill_pattern(mpmp_out(ctx, *n), *n, 7);
  return 0;
}
MPMP_TASK(big_result);

/* What a task sees of the process it runs in: its pid, how many tasks this
 * process ran (a static counter: a fresh host starts at 0), and what the
 * initializer left there. */
typedef struct seen {
  int64_t pid, count, init, x2;
} seen_t;

static int64_t ran_here, init_mark;

static int set_mark(mpmp_ctx_t *ctx) { /* the pool's initializer */
  init_mark = *(const int64_t *)mpmp_arg(ctx, NULL);
  return 0;
}
MPMP_TASK(set_mark);

static int who_runs(mpmp_ctx_t *ctx) {
  const int64_t *x = mpmp_arg(ctx, NULL);
  seen_t *s = mpmp_out(ctx, sizeof *s);
  *s = (seen_t){.pid = getpid(), .count = ++ran_here, .init = init_mark,
                .x2 = *x * *x};
  return 0;
}
MPMP_TASK(who_runs);

/* ---- producers ----------------------------------------------------------------- */

typedef struct gen {
  const void *items;
  size_t n, size, next;
} gen_t;

/* The items of an array, one per call (Python: iter(sequence)). */
static int produce_array(void *user, void *item) {
  gen_t *g = user;
  if (g->next == g->n)
    return 0;
  memcpy(item, (const char *)g->items + g->next++ * g->size, g->size);
  return 1;
}

/* 0, 1, 2, ... n - 1, counting how many were produced (atomic: a reader
 * thread produces while the main thread looks). */
typedef struct count_gen {
  int64_t n;
  _Atomic int64_t next;
} count_gen_t;

static int produce_count(void *user, void *item) {
  count_gen_t *g = user;
  int64_t i = atomic_load(&g->next);
  if (i == g->n)
    return 0;
  *(int64_t *)item = i;
  atomic_store(&g->next, i + 1);
  return 1;
}

/* ---- helpers --------------------------------------------------------------------- */

static mpmp_executor_t *executor(int workers) {
  mpmp_executor_t *ex = NULL;
  mpmp_executor_opts_t o = {.max_workers = workers};
  OK(mpmp_executor_create(&ex, &o));
  return ex;
}

static void destroy_executor(mpmp_executor_t *ex) {
  OK(mpmp_executor_shutdown(ex, 1, 0));
  OK(mpmp_executor_destroy(ex));
}

static void pairs(pair_t *p, int n) { /* [(a, a) for a in range(n)] */
  for (int a = 0; a < n; a++)
    p[a] = (pair_t){a, a};
}

/* ---- executor starmap (mpi4py test_starmap, test_starmap_chunksize) -------- */

static void executor_starmap(void **state) {
  (void)state;
  pair_t seq[40];
  uint64_t out[40];
  pairs(seq, 40);
  mpmp_executor_t *ex = executor(0);
  static const size_t chunks[] = {0, 6, 50, 40, 1};
  for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
    int n = c == 0 ? 10 : 40;
    memset(out, 0xff, sizeof out);
    OK(mpmp_executor_starmap(ex, pow_pair, seq, (size_t)n, sizeof *seq, out,
                             sizeof *out, chunks[c], T_OUT));
    for (int a = 0; a < n; a++)
      if (out[a] != upow((uint64_t)a, (uint64_t)a))
        fail_msg("chunksize %zu: starmap(pow)[%d] is %llu", chunks[c], a,
                 (unsigned long long)out[a]);
  }
  /* a failing call: ETASK naming it, the other results in place */
  pair_t dm[4] = {{1, 2}, {1, 3}, {1, 0}, {1, 5}};
  int64_t r[4][2];
  RC(mpmp_executor_starmap(ex, divmod_pair, dm, 4, sizeof *dm, r, sizeof *r,
                           1, T_OUT), MPMP_ETASK);
  HAS_MSG("ZeroDivisionError");
  EQ(r[0][0], 0);
  EQ(r[0][1], 1);
  EQ(r[3][1], 1);
  RC(mpmp_executor_starmap(NULL, pow_pair, seq, 1, sizeof *seq, out,
                           sizeof *out, 0, T_OUT), MPMP_EINVAL);
  HAS_MSG("mpmp_executor_starmap");
  OK(mpmp_executor_shutdown(ex, 1, 0));
  RC(mpmp_executor_starmap(ex, pow_pair, seq, 1, sizeof *seq, out,
                           sizeof *out, 0, T_OUT), MPMP_EPERM);
  HAS_MSG("mpmp_executor_starmap: the executor was shut down");
  OK(mpmp_executor_destroy(ex));
}

/* ---- executor map(..., unordered=True) --------------------------------------- */

/* Reads the whole iteration: every index once, each result pow(i, i). */
static void read_pows(mpmp_imap_t *it, int n, const char *what) {
  char seen[64] = {0};
  uint64_t r;
  size_t idx;
  int got = 0, rc;
  while ((rc = mpmp_imap_next(it, &r, &idx, T_OUT)) == 0) {
    if (idx >= (size_t)n || seen[idx])
      fail_msg("%s: index %zu out of range or seen twice", what, idx);
    seen[idx] = 1;
    if (r != upow(idx, idx))
      fail_msg("%s: result of %zu is %llu", what, idx, (unsigned long long)r);
    got++;
  }
  if (rc != MPMP_EEOF)
    fail_msg("%s: %s: %s", what, mpmp_err_name(rc), mpmp_errmsg());
  EQ(got, n);
}

/* test_map_unordered and test_map_unordered_chunksize: the same results,
 * as a set (here: each with its index). */
static void executor_map_unordered(void **state) {
  (void)state;
  pair_t seq[40];
  pairs(seq, 40);
  mpmp_executor_t *ex = executor(0);
  static const size_t chunks[] = {0, 6, 50, 40, 1};
  for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
    gen_t g = {seq, c == 0 ? 10 : 40, sizeof *seq, 0};
    mpmp_imap_t *it = NULL;
    OK(mpmp_executor_map_unordered(ex, pow_pair, produce_array, &g,
                                   sizeof *seq, sizeof(uint64_t), chunks[c], 0,
                                   &it));
    char what[32];
    snprintf(what, sizeof what, "chunksize %zu", chunks[c]);
    read_pows(it, (int)g.n, what);
    mpmp_imap_destroy(it);
  }
  mpmp_imap_t *it = NULL;
  gen_t g = {seq, 1, sizeof *seq, 0};
  RC(mpmp_executor_map_unordered(ex, pow_pair, NULL, &g, sizeof *seq, 8, 0, 0,
                                 &it), MPMP_EINVAL);
  RC(mpmp_executor_map_unordered(NULL, pow_pair, produce_array, &g,
                                 sizeof *seq, 8, 0, 0, &it), MPMP_EINVAL);
  HAS_MSG("mpmp_executor_map_unordered");
  OK(mpmp_executor_shutdown(ex, 1, 0));
  RC(mpmp_executor_map_unordered(ex, pow_pair, produce_array, &g, sizeof *seq,
                                 8, 0, 0, &it), MPMP_EPERM);
  HAS_MSG("shut down");
  OK(mpmp_executor_destroy(ex));
}

/* test_map_unordered_timeout: one slow item first and a fast one for each
 * other worker: the fast ones come first, then a wait past the timeout
 * times out, and (unlike Python, where the iterator is spent) the slow one
 * comes when waited for. */
static void executor_map_unordered_as_completed(void **state) {
  (void)state;
  int w = nworkers();
  double args[MAXW] = {0.6};
  mpmp_executor_t *ex = executor(w);
  gen_t g = {args, (size_t)w, sizeof *args, 0};
  mpmp_imap_t *it = NULL;
  OK(mpmp_executor_map_unordered(ex, sleep_secs, produce_array, &g,
                                 sizeof *args, sizeof(double), 1, 0, &it));
  double r;
  size_t idx;
  for (int k = 1; k < w; k++) { /* the fast ones, before the slow one */
    OK(mpmp_imap_next(it, &r, &idx, 0.4));
    IN((double)idx, 1, w - 1);
    EQ(r, 0);
  }
  RC(mpmp_imap_next(it, &r, &idx, 0.1), MPMP_ETIMEDOUT);
  OK(mpmp_imap_next(it, &r, &idx, T_OUT));
  EQ(idx, 0);
  IN(r, 0.6, 0.6);
  RC(mpmp_imap_next(it, &r, &idx, T_OUT), MPMP_EEOF);
  mpmp_imap_destroy(it);
  destroy_executor(ex);
}

/* test_map_unordered_exception: divmod by zero fails its item only; the
 * iteration goes on and every other result comes. */
static void executor_map_unordered_exception(void **state) {
  (void)state;
  pair_t dm[4] = {{1, 2}, {1, 3}, {1, 0}, {1, 5}};
  mpmp_executor_t *ex = executor(0);
  gen_t g = {dm, 4, sizeof *dm, 0};
  mpmp_imap_t *it = NULL;
  OK(mpmp_executor_map_unordered(ex, divmod_pair, produce_array, &g,
                                 sizeof *dm, 2 * sizeof(int64_t), 1, 0, &it));
  int64_t r[2];
  size_t idx;
  int rc, ok = 0, failed = 0;
  while ((rc = mpmp_imap_next(it, r, &idx, T_OUT)) != MPMP_EEOF) {
    if (rc == MPMP_ETASK) {
      EQ(idx, 2);
      HAS_MSG("ZeroDivisionError");
      failed++;
      continue;
    }
    OK(rc);
    EQ(r[0], 0);
    EQ(r[1], 1);
    ok++;
  }
  EQ(ok, 3);
  EQ(failed, 1);
  mpmp_imap_destroy(it);
  destroy_executor(ex);
}

/* ---- a future's result, read in place ----------------------------------------- */

/* A 1 MiB result: mpmp_future_result hands out the same bytes at every
 * read (no copy), valid until the future is destroyed, also after its
 * executor was. */
static void future_result_in_place(void **state) {
  (void)state;
  size_t n = (size_t)1 << 20;
  mpmp_executor_opts_t o = {.max_workers = 1, .max_result = 2 * n};
  mpmp_executor_t *ex = NULL;
  OK(mpmp_executor_create(&ex, &o));
  mpmp_future_t *f = NULL;
  OK(mpmp_executor_submit(ex, big_result, &n, sizeof n, &f));
  const void *a = NULL, *b = NULL, *c = NULL;
  size_t sa = 0, sb = 0;
  OK(mpmp_future_result(f, T_OUT, &a, &sa));
  OK(mpmp_future_result(f, 0, &b, &sb));
  OK(mpmp_async_result(f, &c, NULL));
  assert_ptr_equal(a, b);
  assert_ptr_equal(a, c);
  EQ(sa, n);
  EQ(sb, n);
  destroy_executor(ex);
  char err[ERRLEN];
  if (check_pattern(err, a, n, 7) < 0)
    fail_msg("%s", err);
  mpmp_future_destroy(f);
}

/* ---- processes = 0, negative ------------------------------------------------------ */

/* CPython test_pool: Pool(0) is ValueError("Number of processes must be at
 * least 1"); in mpmp 0 is the zeroed struct's default, every free worker
 * (Python's processes=None), and a negative count is refused. */
static void pool_processes_zero_and_negative(void **state) {
  (void)state;
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t zero = {.processes = 0};
  OK(mpmp_pool_create(&pool, &zero));
  EQ(mpmp_pool_size(pool), mpmp_worker_count());
  int64_t in[3] = {1, 2, 3}, out[3];
  OK(mpmp_pool_map(pool, square, in, 3, sizeof *in, out, sizeof *out, 0));
  EQ(out[2], 9);
  OK(mpmp_pool_destroy(pool));
  static const int bad[] = {-1, -7, INT32_MIN};
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    mpmp_pool_opts_t o = {.processes = bad[k]};
    pool = NULL;
    RC(mpmp_pool_create(&pool, &o), MPMP_EINVAL);
    HAS_MSG("must be at least 1");
    assert_null(pool);
  }
  mpmp_executor_opts_t eo = {.max_workers = -1};
  mpmp_executor_t *ex = NULL;
  RC(mpmp_executor_create(&ex, &eo), MPMP_EINVAL);
  HAS_MSG("must be at least 1");
  /* the workers are all free again: a pool of all of them */
  OK(mpmp_pool_create(&pool, NULL));
  EQ(mpmp_pool_size(pool), mpmp_worker_count());
  OK(mpmp_pool_destroy(pool));
}

/* ---- maxtasksperchild ---------------------------------------------------------- */

static mpmp_pool_t *lifetime_pool(int processes, int maxtasks, int64_t mark) {
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.processes = processes, .maxtasksperchild = maxtasks,
                        .initializer = mark ? set_mark : NULL,
                        .initarg = &mark, .initarg_size = sizeof mark};
  OK(mpmp_pool_create(&pool, &o));
  return pool;
}

/* One worker, maxtasksperchild 3, chunks of one item: tasks 1-3 run in
 * one host, 4-6 in a fresh one (its counter starts again, another pid,
 * the initializer ran in it too), and so on. */
static void pool_maxtasksperchild_fresh_host(void **state) {
  (void)state;
  if (test_hosts_off()) { /* it needs task hosts */
    mpmp_pool_t *pool = NULL;
    mpmp_pool_opts_t o = {.maxtasksperchild = 3};
    RC(mpmp_pool_create(&pool, &o), MPMP_EINVAL);
    HAS_MSG("maxtasksperchild");
    return;
  }
  mpmp_pool_t *pool = lifetime_pool(1, 3, 42);
  int64_t in[12];
  seen_t out[12];
  for (int i = 0; i < 12; i++)
    in[i] = i;
  OK(mpmp_pool_map(pool, who_runs, in, 12, sizeof *in, out, sizeof *out, 1));
  for (int i = 0; i < 12; i++) {
    EQ(out[i].x2, (int64_t)i * i);
    EQ(out[i].count, i % 3 + 1);
    EQ(out[i].init, 42);
    if (i % 3 != 0)
      EQ(out[i].pid, out[i - 1].pid);
    else if (i > 0 && out[i].pid == out[i - 1].pid)
      fail_msg("task %d ran in the host of task %d: not replaced after 3 "
               "tasks", i, i - 1);
  }
  /* Python counts a chunk as one task */
  OK(mpmp_pool_map(pool, who_runs, in, 12, sizeof *in, out, sizeof *out, 4));
  for (int i = 0; i < 12; i++) { /* 3 chunks: one (fresh) host */
    EQ(out[i].count, i + 1);
    EQ(out[i].pid, out[0].pid);
  }
  OK(mpmp_pool_map(pool, who_runs, in, 4, sizeof *in, out, sizeof *out, 4));
  EQ(out[0].count, 1); /* that host ran its 3 tasks: a fresh one */
  OK(mpmp_pool_close(pool));
  OK(mpmp_pool_join(pool, T_OUT));
  OK(mpmp_pool_destroy(pool));
}

/* test_pool_worker_lifetime: Pool(3, maxtasksperchild=10), 100 apply_async:
 * right results, and no host ran more than 10 tasks. Here every worker,
 * maxtasksperchild 2. */
static void pool_maxtasksperchild_apply(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = lifetime_pool(0, 2, 0);
  enum { N = 40 };
  mpmp_async_t *rs[N];
  for (int64_t i = 0; i < N; i++)
    OK(mpmp_pool_apply_async(pool, who_runs, &i, sizeof i, NULL, NULL,
                             &rs[i]));
  int64_t pids[N];
  for (int i = 0; i < N; i++) {
    const seen_t *s;
    size_t size;
    OK(mpmp_async_get(rs[i], T_OUT));
    OK(mpmp_async_result(rs[i], (const void **)&s, &size));
    EQ(size, sizeof *s);
    EQ(s->x2, (int64_t)i * i);
    IN((double)s->count, 1, 2);
    pids[i] = s->pid;
  }
  for (int i = 0; i < N; i++) {
    int same = 0;
    for (int k = 0; k < N; k++)
      same += pids[k] == pids[i];
    if (same > 2)
      fail_msg("%d tasks ran in host %lld: maxtasksperchild is 2", same,
               (long long)pids[i]);
    mpmp_async_destroy(rs[i]);
  }
  OK(mpmp_pool_close(pool));
  OK(mpmp_pool_join(pool, T_OUT));
  OK(mpmp_pool_destroy(pool));
}

/* test_pool_worker_lifetime_early_close: Pool(1, maxtasksperchild=1), a
 * few apply_async, close, join: every result is there. The executor's
 * max_tasks_per_child (Python 3.11) does the same. */
static void pool_maxtasksperchild_early_close(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = lifetime_pool(1, 1, 0);
  mpmp_async_t *rs[3];
  double secs = 0.05;
  for (int i = 0; i < 3; i++)
    OK(mpmp_pool_apply_async(pool, sleep_secs, &secs, sizeof secs, NULL,
                             NULL, &rs[i]));
  OK(mpmp_pool_close(pool));
  OK(mpmp_pool_join(pool, T_OUT));
  for (int i = 0; i < 3; i++) {
    const double *r;
    OK(mpmp_async_get(rs[i], 0));
    OK(mpmp_async_result(rs[i], (const void **)&r, NULL));
    IN(*r, 0.05, 0.05);
    mpmp_async_destroy(rs[i]);
  }
  OK(mpmp_pool_destroy(pool));

  mpmp_executor_opts_t eo = {.max_workers = 1, .max_tasks_per_child = 2};
  mpmp_executor_t *ex = NULL;
  OK(mpmp_executor_create(&ex, &eo));
  mpmp_future_t *fs[6];
  for (int64_t i = 0; i < 6; i++)
    OK(mpmp_executor_submit(ex, who_runs, &i, sizeof i, &fs[i]));
  int64_t last = 0;
  for (int i = 0; i < 6; i++) {
    const seen_t *s;
    OK(mpmp_future_result(fs[i], T_OUT, (const void **)&s, NULL));
    EQ(s->count, i % 2 + 1);
    if (i % 2 == 0 && s->pid == last)
      fail_msg("future %d ran in the host of future %d", i, i - 1);
    last = s->pid;
    mpmp_future_destroy(fs[i]);
  }
  destroy_executor(ex);
}

static void pool_maxtasksperchild_bad(void **state) {
  (void)state;
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t neg = {.maxtasksperchild = -1};
  RC(mpmp_pool_create(&pool, &neg), MPMP_EINVAL);
  HAS_MSG("maxtasksperchild is -1");
  mpmp_pool_opts_t never = {.maxtasksperchild = 2,
                            .isolate = MPMP_ISOLATE_NEVER};
  RC(mpmp_pool_create(&pool, &never), MPMP_EINVAL);
  HAS_MSG("maxtasksperchild needs isolated tasks");
  assert_null(pool);
}

/* ---- an imap started before close() ---------------------------------------------- */

/* Python lets an imap that was started before close() feed all its items:
 * the lazy feed goes on after close, every result comes, in order (or
 * each once, unordered); join waits for the pool's work after that. */
static void imap_runs_to_its_end_after_close(void **state) {
  (void)state;
  for (int ordered = 0; ordered < 2; ordered++) {
    mpmp_pool_t *pool = NULL;
    OK(mpmp_pool_create(&pool, NULL));
    count_gen_t g = {.n = 50};
    mpmp_imap_t *it = NULL;
    /* a window of 2 items: nearly all of the input is read after close */
    if (ordered)
      OK(mpmp_pool_imap(pool, square, produce_count, &g, sizeof(int64_t),
                        sizeof(int64_t), 1, 2, &it));
    else
      OK(mpmp_pool_imap_unordered(pool, square, produce_count, &g,
                                  sizeof(int64_t), sizeof(int64_t), 1, 2,
                                  &it));
    OK(mpmp_pool_close(pool));
    IN((double)atomic_load(&g.next), 1, 2);
    /* this thread feeds it: joining here cannot wait for it */
    RC(mpmp_pool_join(pool, T_OUT), MPMP_EPERM);
    HAS_MSG("this thread feeds it");
    char seen[50] = {0};
    int64_t r;
    size_t idx;
    for (int k = 0; k < 50; k++) {
      OK(mpmp_imap_next(it, &r, &idx, T_OUT));
      if (ordered)
        EQ(idx, k);
      assert_true(idx < 50 && !seen[idx]);
      seen[idx] = 1;
      EQ(r, (int64_t)(idx * idx));
    }
    RC(mpmp_imap_next(it, &r, &idx, T_OUT), MPMP_EEOF);
    OK(mpmp_pool_join(pool, T_OUT));
    mpmp_imap_destroy(it);
    OK(mpmp_pool_destroy(pool));
  }
}

typedef struct reader {
  mpmp_imap_t *it;
  int n, bad;
  _Atomic int got;
} reader_t;

static void *read_slowly(void *arg) {
  reader_t *r = arg;
  int64_t v;
  size_t idx;
  while (mpmp_imap_next(r->it, &v, &idx, T_OUT) == 0) {
    r->bad += idx != (size_t)r->got || v != (int64_t)(idx * idx);
    atomic_fetch_add(&r->got, 1);
    test_sleep(0.01);
  }
  return NULL;
}

/* The imap is read (and so fed) by another thread: join in the main
 * thread waits until its input is all read and its work is done. */
static void imap_join_waits_for_its_feed(void **state) {
  (void)state;
  mpmp_pool_t *pool = NULL;
  OK(mpmp_pool_create(&pool, NULL));
  count_gen_t g = {.n = 40};
  reader_t rd = {.n = 40};
  OK(mpmp_pool_imap(pool, square, produce_count, &g, sizeof(int64_t),
                    sizeof(int64_t), 1, 2, &rd.it));
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, read_slowly, &rd), 0);
  /* the thread that reads it feeds it (until then: the one that made it) */
  double t0 = test_now();
  while (atomic_load(&rd.got) == 0 && test_now() - t0 < T_OUT)
    test_sleep(0.001);
  OK(mpmp_pool_close(pool));
  RC(mpmp_pool_join(pool, 0.05), MPMP_ETIMEDOUT); /* 40 x 10 ms to read */
  HAS_MSG("an imap of the pool still reads input");
  OK(mpmp_pool_join(pool, T_OUT));
  EQ(atomic_load(&g.next), 40); /* every item was fed before join returned */
  assert_int_equal(pthread_join(th, NULL), 0);
  EQ(rd.got, 40);
  EQ(rd.bad, 0);
  mpmp_imap_destroy(rd.it);
  OK(mpmp_pool_destroy(pool));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(executor_starmap),
    cmocka_unit_test(executor_map_unordered),
    cmocka_unit_test(executor_map_unordered_as_completed),
    cmocka_unit_test(executor_map_unordered_exception),
    cmocka_unit_test(future_result_in_place),
    cmocka_unit_test(pool_processes_zero_and_negative),
    cmocka_unit_test(pool_maxtasksperchild_fresh_host),
    cmocka_unit_test(pool_maxtasksperchild_apply),
    cmocka_unit_test(pool_maxtasksperchild_early_close),
    cmocka_unit_test(pool_maxtasksperchild_bad),
    cmocka_unit_test(imap_runs_to_its_end_after_close),
    cmocka_unit_test(imap_join_waits_for_its_feed),
};

MPMP_TEST_MAIN(tests)
