/* Queues, Locks, Events and Values owned by a Manager (manager.Queue() &
 * co.): CPython's manager variants of _TestQueue, _TestLock, _TestEvent
 * and _TestValue (Lib/test/_test_multiprocessing.py, TYPE 'manager'),
 * with other inputs, the other side in a process on a worker rank; then
 * their lifetime (the manager's: freed at its shutdown, also under a
 * waiting get) and the ways a user gets them wrong. Runs with np3 (the
 * manager takes one worker, a process the other) and on 2 pseudo-nodes,
 * where the server (rank 1) and so the objects are on the other node than
 * the main rank. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manager_common.h"

#define DELTA 0.1
#define TIMEOUT1 0.1
#define TIMEOUT2 0.2
#define TIMEOUT3 0.1

/* ---- process bodies ------------------------------------------------------ */

typedef struct qev_arg {
  mpmp_queue_t q;
  mpmp_event_t child_can_start, parent_can_continue;
  int n;
} qev_arg_t;

/* _test_put: wait for the go, take n items, say so. */
static int take_n_run(const qev_arg_t *a, char *err) {
  char item[16];
  size_t n;
  EXPECT_OK(mpmp_event_wait(a->child_can_start, T_OUT));
  for (int i = 0; i < a->n; i++)
    EXPECT_OK(mpmp_queue_get(a->q, item, sizeof item, &n, T_OUT));
  EXPECT_OK(mpmp_event_set(a->parent_can_continue));
  return 0;
}

static int take_n(mpmp_ctx_t *ctx) {
  BODY(ctx, take_n_run, mpmp_arg(ctx, NULL));
  return 0;
}
MPMP_TASK(take_n);

/* _test_get: wait for the go, put 12, 13, 14, 15 (ints), say so. */
static int put_four_run(const qev_arg_t *a, char *err) {
  EXPECT_OK(mpmp_event_wait(a->child_can_start, T_OUT));
  for (int v = 12; v <= 15; v++)
    EXPECT_OK(mpmp_queue_put(a->q, &v, sizeof v, T_OUT));
  EXPECT_OK(mpmp_event_set(a->parent_can_continue));
  return 0;
}

static int put_four(mpmp_ctx_t *ctx) {
  BODY(ctx, put_four_run, mpmp_arg(ctx, NULL));
  return 0;
}
MPMP_TASK(put_four);

/* _test_fork: put 40..46. */
static int put_forties(mpmp_ctx_t *ctx) {
  const mpmp_queue_t *q = mpmp_arg(ctx, NULL);
  for (int v = 40; v < 47; v++)
    if (mpmp_queue_put(*q, &v, sizeof v, T_OUT) < 0)
      return mpmp_fail(ctx, "put %d: %s", v, mpmp_errmsg());
  return 0;
}
MPMP_TASK(put_forties);

/* _test_task_done: get until the sentinel (an empty item), task_done each. */
static int done_worker(mpmp_ctx_t *ctx) {
  const mpmp_queue_t *q = mpmp_arg(ctx, NULL);
  int v;
  size_t n;
  for (;;) {
    if (mpmp_queue_get(*q, &v, sizeof v, &n, T_OUT) < 0)
      return mpmp_fail(ctx, "get: %s", mpmp_errmsg());
    if (n == 0)
      return 0;
    test_sleep(0.01);
    if (mpmp_queue_task_done(*q) < 0)
      return mpmp_fail(ctx, "task_done: %s", mpmp_errmsg());
  }
}
MPMP_TASK(done_worker);

typedef struct lev_arg {
  mpmp_lock_t lock;
  mpmp_event_t ev;
  mpmp_value_t res;
} lev_arg_t;

/* _test_lock_locked_2processes: take the lock, store locked() in res, set
 * the event, and end holding the lock. */
static int lock_and_tell_run(const lev_arg_t *a, char *err) {
  EXPECT_OK(mpmp_lock_acquire(a->lock, T_OUT));
  int8_t locked = (int8_t)mpmp_lock_locked(a->lock);
  EXPECT_OK(mpmp_value_store(a->res, &locked));
  EXPECT_OK(mpmp_event_set(a->ev));
  return 0;
}

static int lock_and_tell(mpmp_ctx_t *ctx) {
  BODY(ctx, lock_and_tell_run, mpmp_arg(ctx, NULL));
  return 0;
}
MPMP_TASK(lock_and_tell);

/* _test_event: sleep a while, then set the event. */
static int set_later(mpmp_ctx_t *ctx) {
  const mpmp_event_t *ev = mpmp_arg(ctx, NULL);
  test_sleep(TIMEOUT2);
  return mpmp_event_set(*ev) < 0 ? mpmp_fail(ctx, "%s", mpmp_errmsg()) : 0;
}
MPMP_TASK(set_later);

/* _TestValue's codes_values, with other numbers: the first is given at
 * creation, the process stores the second. */
typedef struct vals_arg {
  mpmp_value_t i, d, h, q, c;
} vals_arg_t;

static const int32_t I0 = 1717, I1 = -9090;
static const double D0 = 2.5, D1 = -0.125;
static const int16_t H0 = -77, H1 = 31000;
static const int64_t Q0 = (int64_t)1 << 40, Q1 = -((int64_t)1 << 41);
static const char C0 = 'm', C1 = 'n';

static int set_values(mpmp_ctx_t *ctx) {
  const vals_arg_t *a = mpmp_arg(ctx, NULL);
  if (mpmp_value_store(a->i, &I1) < 0 || mpmp_value_store(a->d, &D1) < 0 ||
      mpmp_value_store(a->h, &H1) < 0 || mpmp_value_store(a->q, &Q1) < 0 ||
      mpmp_value_store(a->c, &C1) < 0)
    return mpmp_fail(ctx, "%s", mpmp_errmsg());
  return 0;
}
MPMP_TASK(set_values);

/* Makes a Queue and a Lock of the manager it got, puts an item, takes the
 * lock, and hands back both handles: they outlive this process. */
typedef struct made_t {
  mpmp_queue_t q;
  mpmp_lock_t l;
} made_t;

static int maker(mpmp_ctx_t *ctx) {
  const mpmp_manager_t *m = mpmp_arg(ctx, NULL);
  made_t *r = mpmp_out(ctx, sizeof *r);
  int v = 4242;
  if (mpmp_manager_queue(*m, &r->q, 4, sizeof v) < 0 ||
      mpmp_queue_put(r->q, &v, sizeof v, T_OUT) < 0 ||
      mpmp_manager_lock(*m, &r->l) < 0 || mpmp_lock_acquire(r->l, T_OUT) < 0)
    return mpmp_fail(ctx, "%s", mpmp_errmsg());
  return 0;
}
MPMP_TASK(maker);

/* Waits in a get on an empty Queue; its result is the get's code. */
static int waiting_get(mpmp_ctx_t *ctx) {
  const qev_arg_t *a = mpmp_arg(ctx, NULL);
  int *rc = mpmp_out(ctx, sizeof *rc);
  char item[16];
  size_t n;
  if (mpmp_event_set(a->child_can_start) < 0)
    return mpmp_fail(ctx, "%s", mpmp_errmsg());
  *rc = mpmp_queue_get(a->q, item, sizeof item, &n, T_OUT);
  return 0;
}
MPMP_TASK(waiting_get);

/* ---- Queue --------------------------------------------------------------- */

static void manager_queue_put(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  enum { MAXSIZE = 5 };
  qev_arg_t a = {.n = MAXSIZE};
  OK(mpmp_manager_queue(m, &a.q, MAXSIZE, 16));
  OK(mpmp_manager_event(m, &a.child_can_start));
  OK(mpmp_manager_event(m, &a.parent_can_continue));
  mpmp_process_t *p = start_process(take_n, &a, sizeof a);
  EQ(mpmp_queue_empty(a.q), 1);
  EQ(mpmp_queue_full(a.q), 0);
  const char *items[MAXSIZE] = {"ant", "bee", "cat", "dog", "eel"};
  OK(mpmp_queue_put(a.q, items[0], 4, MPMP_FOREVER)); /* put(1) */
  OK(mpmp_queue_put(a.q, items[1], 4, T_OUT));        /* put(2, True) */
  OK(mpmp_queue_put(a.q, items[2], 4, 0));            /* put(4, False) */
  OK(mpmp_queue_put(a.q, items[3], 4, 0));
  OK(mpmp_queue_put_nowait(a.q, items[4], 4));
  EQ(mpmp_queue_empty(a.q), 0);
  EQ(mpmp_queue_full(a.q), 1);
  EQ(mpmp_queue_qsize(a.q), MAXSIZE);
  /* Full, at once or after the timeout */
  double t0 = test_now();
  RC(mpmp_queue_put(a.q, "fox", 4, 0), MPMP_ETIMEDOUT);
  RC(mpmp_queue_put_nowait(a.q, "fox", 4), MPMP_ETIMEDOUT);
  IN(test_now() - t0, 0, 0.5);
  t0 = test_now();
  RC(mpmp_queue_put(a.q, "fox", 4, TIMEOUT1), MPMP_ETIMEDOUT);
  IN(test_now() - t0, TIMEOUT1 * 0.9, TIMEOUT1 + 1.0);
  OK(mpmp_event_set(a.child_can_start));
  OK(mpmp_event_wait(a.parent_can_continue, T_OUT));
  EQ(mpmp_queue_empty(a.q), 1);
  EQ(mpmp_queue_full(a.q), 0);
  join_destroy(p);
}

static void manager_queue_get(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  qev_arg_t a = {0};
  OK(mpmp_manager_queue(m, &a.q, 0, sizeof(int)));
  OK(mpmp_manager_event(m, &a.child_can_start));
  OK(mpmp_manager_event(m, &a.parent_can_continue));
  mpmp_process_t *p = start_process(put_four, &a, sizeof a);
  EQ(mpmp_queue_empty(a.q), 1);
  OK(mpmp_event_set(a.child_can_start));
  OK(mpmp_event_wait(a.parent_can_continue, T_OUT));
  EQ(mpmp_queue_empty(a.q), 0);
  int v = 0;
  size_t n = 0;
  OK(mpmp_queue_get(a.q, &v, sizeof v, &n, MPMP_FOREVER)); /* get(True, None) */
  EQ(v, 12);
  OK(mpmp_queue_get(a.q, &v, sizeof v, &n, T_OUT));
  EQ(v, 13);
  OK(mpmp_queue_get(a.q, &v, sizeof v, &n, 1.0)); /* get(timeout=1) */
  EQ(v, 14);
  OK(mpmp_queue_get_nowait(a.q, &v, sizeof v, &n));
  EQ(v, 15);
  EQ(n, sizeof v);
  EQ(mpmp_queue_empty(a.q), 1);
  double t0 = test_now();
  RC(mpmp_queue_get(a.q, &v, sizeof v, &n, 0), MPMP_ETIMEDOUT);
  RC(mpmp_queue_get_nowait(a.q, &v, sizeof v, &n), MPMP_ETIMEDOUT);
  IN(test_now() - t0, 0, 0.5);
  t0 = test_now();
  RC(mpmp_queue_get(a.q, &v, sizeof v, &n, TIMEOUT3), MPMP_ETIMEDOUT);
  IN(test_now() - t0, TIMEOUT3 * 0.9, TIMEOUT3 + 1.0);
  join_destroy(p);
}

static void manager_queue_fork(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  mpmp_queue_t q;
  OK(mpmp_manager_queue(m, &q, 0, sizeof(int)));
  for (int v = 30; v < 37; v++)
    OK(mpmp_queue_put(q, &v, sizeof v, T_OUT));
  mpmp_process_t *p = start_process(put_forties, &q, sizeof q);
  int want[14];
  for (int i = 0; i < 7; i++)
    want[i] = 30 + i, want[7 + i] = 40 + i;
  for (int i = 0; i < 14; i++) {
    int v = -1;
    size_t n;
    OK(mpmp_queue_get(q, &v, sizeof v, &n, T_OUT));
    EQ(v, want[i]);
  }
  int v;
  size_t n;
  RC(mpmp_queue_get(q, &v, sizeof v, &n, 0), MPMP_ETIMEDOUT);
  join_destroy(p);
}

static void manager_queue_qsize(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  mpmp_queue_t q;
  OK(mpmp_manager_queue(m, &q, 3, 8));
  EQ(mpmp_queue_qsize(q), 0);
  EQ(mpmp_queue_capacity(q), 3);
  OK(mpmp_queue_put(q, "seven", 6, 0));
  EQ(mpmp_queue_qsize(q), 1);
  OK(mpmp_queue_put(q, "eleven", 7, 0));
  EQ(mpmp_queue_qsize(q), 2);
  char b[8];
  size_t n;
  OK(mpmp_queue_get(q, b, sizeof b, &n, 0));
  EQ(mpmp_queue_qsize(q), 1);
  EQ(n, 6);
  OK(mpmp_queue_get(q, b, sizeof b, &n, 0));
  EQ(mpmp_queue_qsize(q), 0);
  assert_string_equal(b, "eleven");
}

static void manager_joinable_queue_task_done(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  mpmp_queue_t q;
  OK(mpmp_manager_joinable_queue(m, &q, 0, sizeof(int)));
  int nw = imin(free_workers_after_manager(), 4);
  assert_true(nw >= 1);
  mpmp_queue_t args[4] = {q, q, q, q};
  group_t g;
  group_start(&g, nw, done_worker, args, sizeof q);
  for (int v = 100; v < 108; v++)
    OK(mpmp_queue_put(q, &v, sizeof v, T_OUT));
  OK(mpmp_queue_join(q, T_OUT));
  EQ(mpmp_queue_qsize(q), 0);
  for (int i = 0; i < nw; i++)
    OK(mpmp_queue_put(q, NULL, 0, T_OUT)); /* the sentinels */
  group_join(&g);
  group_destroy(&g);
  /* the sentinels were never marked done; beyond them task_done is
   * EPERM, as for the plain JoinableQueue */
  RC(mpmp_queue_join(q, 0), MPMP_ETIMEDOUT);
  for (int i = 0; i < nw; i++)
    OK(mpmp_queue_task_done(q));
  OK(mpmp_queue_join(q, 0));
  RC(mpmp_queue_task_done(q), MPMP_EPERM);
}

/* ---- Lock, RLock --------------------------------------------------------- */

static void manager_lock(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  mpmp_lock_t l;
  OK(mpmp_manager_lock(m, &l));
  OK(mpmp_lock_acquire(l, MPMP_FOREVER));
  EQ(mpmp_lock_locked(l), 1);
  RC(mpmp_lock_acquire(l, 0), MPMP_ETIMEDOUT);
  OK(mpmp_lock_release(l));
  EQ(mpmp_lock_locked(l), 0);
  RC(mpmp_lock_release(l), MPMP_EPERM);
}

static void manager_rlock(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  mpmp_lock_t l;
  OK(mpmp_manager_rlock(m, &l));
  for (int i = 0; i < 3; i++)
    OK(mpmp_lock_acquire(l, 0));
  EQ(mpmp_lock_is_mine(l), 1);
  for (int i = 0; i < 3; i++)
    OK(mpmp_lock_release(l));
  RC(mpmp_lock_release(l), MPMP_EPERM);
}

/* test_lock_locked_2processes, with the manager's Lock, Event and Value. */
static void manager_lock_locked_2processes(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  lev_arg_t a;
  int8_t zero = 0, res = -1;
  OK(mpmp_manager_lock(m, &a.lock));
  OK(mpmp_manager_event(m, &a.ev));
  OK(mpmp_manager_value(m, &a.res, MPMP_INT8, &zero, 0));
  mpmp_process_t *p = start_process(lock_and_tell, &a, sizeof a);
  OK(mpmp_event_wait(a.ev, T_OUT));
  EQ(mpmp_lock_locked(a.lock), 1);
  OK(mpmp_value_load(a.res, &res));
  EQ(res, 1);
  join_destroy(p);
  /* held by the ended body: still held; any process may release a Lock */
  RC(mpmp_lock_acquire(a.lock, 0), MPMP_ETIMEDOUT);
  OK(mpmp_lock_release(a.lock));
  OK(mpmp_lock_acquire(a.lock, 0));
  OK(mpmp_lock_release(a.lock));
}

/* ---- Event --------------------------------------------------------------- */

static void manager_event(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  mpmp_event_t ev;
  OK(mpmp_manager_event(m, &ev));
  EQ(mpmp_event_is_set(ev), 0);
  double t0 = test_now();
  RC(mpmp_event_wait(ev, 0.0), MPMP_ETIMEDOUT);
  IN(test_now() - t0, 0, 0.5);
  t0 = test_now();
  RC(mpmp_event_wait(ev, TIMEOUT1), MPMP_ETIMEDOUT);
  IN(test_now() - t0, TIMEOUT1 * 0.9, TIMEOUT1 + 1.0);
  OK(mpmp_event_set(ev));
  EQ(mpmp_event_is_set(ev), 1);
  OK(mpmp_event_wait(ev, MPMP_FOREVER));
  t0 = test_now();
  OK(mpmp_event_wait(ev, TIMEOUT1));
  IN(test_now() - t0, 0, 0.5);
  OK(mpmp_event_set(ev)); /* setting twice: still set */
  EQ(mpmp_event_is_set(ev), 1);
  OK(mpmp_event_clear(ev));
  EQ(mpmp_event_is_set(ev), 0);
  mpmp_process_t *p = start_process(set_later, &ev, sizeof ev);
  OK(mpmp_event_wait(ev, T_OUT));
  EQ(mpmp_event_is_set(ev), 1);
  join_destroy(p);
}

/* ---- Value --------------------------------------------------------------- */

static void manager_value(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  vals_arg_t a;
  OK(mpmp_manager_value(m, &a.i, MPMP_INT32, &I0, 0));
  OK(mpmp_manager_value(m, &a.d, MPMP_DOUBLE, &D0, 0));
  OK(mpmp_manager_value(m, &a.h, MPMP_INT16, &H0, 0));
  OK(mpmp_manager_value(m, &a.q, mpmp_typecode('q'), &Q0, 1));
  OK(mpmp_manager_value(m, &a.c, mpmp_typecode('c'), &C0, 0));
  int32_t i;
  double d;
  int16_t h;
  int64_t q;
  char c;
  OK(mpmp_value_load(a.i, &i));
  OK(mpmp_value_load(a.d, &d));
  OK(mpmp_value_load(a.h, &h));
  OK(mpmp_value_load(a.q, &q));
  OK(mpmp_value_load(a.c, &c));
  EQ(i, I0);
  assert_true(d == D0);
  EQ(h, H0);
  EQ(q, Q0);
  EQ(c, C0);
  run_one(set_values, &a, sizeof a);
  OK(mpmp_value_load(a.i, &i));
  OK(mpmp_value_load(a.d, &d));
  OK(mpmp_value_load(a.h, &h));
  OK(mpmp_value_load(a.q, &q));
  OK(mpmp_value_load(a.c, &c));
  EQ(i, I1);
  assert_true(d == D1);
  EQ(h, H1);
  EQ(q, Q1);
  EQ(c, C1);
  /* no init: zero; the lock when asked for, none otherwise */
  mpmp_value_t z;
  mpmp_lock_t lk;
  OK(mpmp_manager_value(m, &z, MPMP_UINT64, NULL, 0));
  uint64_t u = 99;
  OK(mpmp_value_load(z, &u));
  EQ(u, 0);
  OK(mpmp_value_get_lock(a.q, &lk));
  OK(mpmp_lock_acquire(lk, T_OUT));
  OK(mpmp_lock_release(lk));
  assert_true(mpmp_value_get_lock(z, &lk) < 0);
}

/* ---- lifetime ------------------------------------------------------------ */

/* Objects made by a process belong to the manager, not to that process:
 * they work after it ended, until the shutdown. */
static void manager_objects_outlive_their_creator(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  mpmp_process_t *p = start_process(maker, &m, sizeof m);
  size_t size = 0;
  const made_t *r = join_result_within(p, T_OUT, &size);
  EQ(size, sizeof *r);
  made_t made = *r;
  mpmp_process_destroy(p);
  int v = 0;
  size_t n;
  OK(mpmp_queue_get(made.q, &v, sizeof v, &n, T_OUT));
  EQ(v, 4242);
  EQ(mpmp_lock_locked(made.l), 1);
  OK(mpmp_lock_release(made.l));
  OK(mpmp_manager_shutdown(m));
  RC(mpmp_queue_put(made.q, &v, sizeof v, 0), MPMP_EBADF);
  RC(mpmp_lock_acquire(made.l, 0), MPMP_EBADF);
}

/* The shutdown frees every object, on every rank: calls are EBADF, a get
 * waiting on another rank returns EBADF; creating more is EDEAD. */
static void manager_objects_after_shutdown(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  qev_arg_t a = {0};
  mpmp_queue_t jq;
  mpmp_lock_t l, rl;
  mpmp_value_t v;
  OK(mpmp_manager_queue(m, &a.q, 2, 16));
  OK(mpmp_manager_joinable_queue(m, &jq, 2, 16));
  OK(mpmp_manager_event(m, &a.child_can_start));
  OK(mpmp_manager_lock(m, &l));
  OK(mpmp_manager_rlock(m, &rl));
  OK(mpmp_manager_value(m, &v, MPMP_INT32, NULL, 1));
  OK(mpmp_lock_acquire(l, 0)); /* held at the shutdown: freed all the same */
  mpmp_process_t *p = start_process(waiting_get, &a, sizeof a);
  /* the child's event goes with the manager too: wait for it first */
  OK(mpmp_event_wait(a.child_can_start, T_OUT));
  test_sleep(DELTA); /* the get is waiting now (or about to) */
  double t0 = test_now();
  OK(mpmp_manager_shutdown(m));
  size_t size = 0;
  const int *rc = join_result_within(p, T_OUT, &size);
  EQ(size, sizeof *rc);
  EQ(*rc, MPMP_EBADF);
  IN(test_now() - t0, 0, T_OUT / 2);
  mpmp_process_destroy(p);
  int x = 1;
  size_t n;
  RC(mpmp_queue_put(a.q, &x, sizeof x, 0), MPMP_EBADF);
  RC(mpmp_queue_get(a.q, &x, sizeof x, &n, 0), MPMP_EBADF);
  RC(mpmp_queue_join(jq, 0), MPMP_EBADF);
  RC(mpmp_event_set(a.child_can_start), MPMP_EBADF);
  RC(mpmp_lock_release(l), MPMP_EBADF);
  RC(mpmp_lock_acquire(rl, 0), MPMP_EBADF);
  RC(mpmp_value_load(v, &x), MPMP_EBADF);
  RC(mpmp_queue_free(a.q), MPMP_EBADF); /* freed by the shutdown */
  /* creating after the shutdown: EDEAD, the handle zeroed */
  mpmp_queue_t q2;
  memset(&q2, 0xab, sizeof q2);
  RC(mpmp_manager_queue(m, &q2, 1, 1), MPMP_EDEAD);
  HAS_MSG("shut down");
  HAS_MSG("mpmp_manager_queue");
  RC(mpmp_queue_qsize(q2), MPMP_EBADF);
  RC(mpmp_manager_lock(m, &l), MPMP_EDEAD);
  RC(mpmp_manager_rlock(m, &l), MPMP_EDEAD);
  RC(mpmp_manager_event(m, &a.child_can_start), MPMP_EDEAD);
  RC(mpmp_manager_value(m, &v, MPMP_INT32, NULL, 0), MPMP_EDEAD);
  RC(mpmp_manager_joinable_queue(m, &jq, 1, 1), MPMP_EDEAD);
}

/* Freed by the user before the shutdown (Python's release of the last
 * proxy): a second free is EBADF, the shutdown leaves it alone; creating
 * and freeing many leaves the heap as it was. */
static void manager_objects_freed_early(void **state) {
  (void)state;
  mpmp_heap_info_t before, after;
  OK(mpmp_heap_info(&before));
  mpmp_manager_t m = started_manager();
  mpmp_queue_t q;
  mpmp_lock_t l;
  mpmp_event_t e;
  mpmp_value_t v;
  OK(mpmp_manager_queue(m, &q, 1, 1));
  OK(mpmp_queue_free(q));
  RC(mpmp_queue_free(q), MPMP_EBADF);
  RC(mpmp_queue_put(q, "x", 1, 0), MPMP_EBADF);
  for (int i = 0; i < 100; i++) { /* more than the owned list's first room */
    OK(mpmp_manager_lock(m, &l));
    OK(mpmp_manager_event(m, &e));
    int64_t init = i, got = -1;
    OK(mpmp_manager_value(m, &v, MPMP_INT64, &init, 0));
    OK(mpmp_value_load(v, &got));
    EQ(got, i);
    OK(mpmp_lock_free(l));
    OK(mpmp_event_free(e));
    if (i % 2)
      OK(mpmp_value_free(v)); /* the other half goes with the manager */
  }
  OK(mpmp_manager_lock(m, &l)); /* left for the shutdown */
  OK(mpmp_manager_shutdown(m));
  RC(mpmp_lock_free(l), MPMP_EBADF);
  RC(mpmp_value_free(v), MPMP_EBADF); /* the last, an even one's: freed */
  /* on one node the objects shared the main rank's heap: all gone */
  OK(mpmp_heap_info(&after));
  if (mpmp_node_count() == 1)
    EQ(after.objects, before.objects);
}

/* ---- misuse -------------------------------------------------------------- */

static void manager_objects_misuse(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  mpmp_queue_t q;
  mpmp_lock_t l;
  mpmp_event_t e;
  mpmp_value_t v;
  /* NULL handle pointers */
  RC(mpmp_manager_queue(m, NULL, 1, 1), MPMP_EINVAL);
  HAS_MSG("NULL");
  RC(mpmp_manager_joinable_queue(m, NULL, 1, 1), MPMP_EINVAL);
  RC(mpmp_manager_lock(m, NULL), MPMP_EINVAL);
  RC(mpmp_manager_rlock(m, NULL), MPMP_EINVAL);
  RC(mpmp_manager_event(m, NULL), MPMP_EINVAL);
  RC(mpmp_manager_value(m, NULL, MPMP_INT32, NULL, 0), MPMP_EINVAL);
  /* bad arguments: the plain create's checks, its message passed on */
  RC(mpmp_manager_queue(m, &q, 1, 0), MPMP_EINVAL);
  HAS_MSG("mpmp_manager_queue");
  RC(mpmp_queue_qsize(q), MPMP_EBADF); /* zeroed */
  HAS_MSG("never created");
  RC(mpmp_manager_value(m, &v, (mpmp_type_t)99, NULL, 0), MPMP_EINVAL);
  RC(mpmp_manager_value(m, &v, mpmp_typecode('x'), NULL, 0), MPMP_EINVAL);
  /* not a manager: zeroed, garbage, a dict's handle */
  mpmp_manager_t zero, garbage = m;
  memset(&zero, 0, sizeof zero);
  garbage.ref.tag ^= 0x40;
  RC(mpmp_manager_lock(zero, &l), MPMP_EBADF);
  HAS_MSG("never created");
  RC(mpmp_manager_event(garbage, &e), MPMP_EBADF);
  mpmp_dict_t d;
  OK(mpmp_dict_create(m, &d));
  mpmp_manager_t d_as_m;
  memcpy(&d_as_m, &d, sizeof d_as_m);
  RC(mpmp_manager_queue(d_as_m, &q, 1, 1), MPMP_EBADF);
  HAS_MSG("dict, not of a Manager");
  /* the wrong kind of object: as for plain objects */
  OK(mpmp_manager_queue(m, &q, 1, 1));
  OK(mpmp_manager_event(m, &e));
  mpmp_lock_t q_as_l;
  memcpy(&q_as_l, &q, sizeof q_as_l);
  RC(mpmp_lock_acquire(q_as_l, 0), MPMP_EBADF);
  HAS_MSG("Queue, not of a Lock");
  RC(mpmp_lock_free(q_as_l), MPMP_EBADF);
  mpmp_value_t e_as_v;
  memcpy(&e_as_v, &e, sizeof e_as_v);
  RC(mpmp_value_free(e_as_v), MPMP_EBADF);
  HAS_MSG("the handle of an Event, not of a Value"); /* (it said "a Event") */
  /* neither was freed by the wrong calls */
  OK(mpmp_queue_put(q, "y", 1, 0));
  OK(mpmp_event_set(e));
  /* shutting down twice */
  OK(mpmp_manager_shutdown(m));
  OK(mpmp_manager_shutdown(m));
  RC(mpmp_event_is_set(e), MPMP_EBADF);
}

/* Left running with objects on purpose: mpmp_finalize() shuts it down and
 * frees them (a leak or a hang would show at the job's end). */
static void manager_objects_left_for_finalize(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  mpmp_queue_t q;
  mpmp_lock_t l;
  OK(mpmp_manager_queue(m, &q, 4, 8));
  OK(mpmp_queue_put(q, "left", 5, 0));
  OK(mpmp_manager_lock(m, &l));
  OK(mpmp_lock_acquire(l, 0));
}

static const struct CMUnitTest tests[] = {
    T(manager_queue_put),
    T(manager_queue_get),
    T(manager_queue_fork),
    T(manager_queue_qsize),
    T(manager_joinable_queue_task_done),
    T(manager_lock),
    T(manager_rlock),
    T(manager_lock_locked_2processes),
    T(manager_event),
    T(manager_value),
    T(manager_objects_outlive_their_creator),
    T(manager_objects_after_shutdown),
    T(manager_objects_freed_early),
    T(manager_objects_misuse),
    cmocka_unit_test(manager_objects_left_for_finalize), /* last */
};

MPMP_TEST_MAIN(tests)
