/* Barrier (mpmp/sync.h): abort, reset and broken barriers.
 *
 * Most tests run twice: on objects the main rank created ("main home") and
 * on objects a Process body created on its worker and handed back ("worker
 * home"). On 2 pseudo-nodes the first worker (rank 1) is on the other node
 * than the main rank, so every object is remote for some of its users,
 * blocking calls included. Every blocking call has a timeout, and a
 * watchdog ends a test stuck anyway: a bug fails a check instead of
 * hanging the job. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sync_common.h"

/* ---- 7. Barrier ----------------------------------------------------------- */

static mpmp_process_t **start_waiters(const objargs_t *a, int n) {
  mpmp_process_t **ps = calloc((size_t)n, sizeof *ps);
  assert_non_null(ps);
  for (int i = 0; i < n; i++)
    ps[i] = start_process(barrier_waiter, a, sizeof *a);
  return ps;
}

static void wait_n_waiting(mpmp_barrier_t b, int n) {
  double end = test_now() + 10;
  while (mpmp_barrier_n_waiting(b) != n && test_now() < end)
    test_sleep(0.002);
  EQ(mpmp_barrier_n_waiting(b), n);
}

static void sync_barrier_abort_reset(void **state) {
  int k = imin(3, mpmp_worker_count());
  objspec_t sp = {.parties = 1, .parties2 = (unsigned)(k + 1)};
  objargs_t a = {.timeout = 30, .rounds = 1};
  objs_make(state, &sp, &a.s);
  EQ(mpmp_barrier_parties(a.s.bar2), k + 1);
  EQ(mpmp_barrier_broken(a.s.bar2), 0);
  EQ(mpmp_barrier_n_waiting(a.s.bar2), 0);

  /* abort: the waiters and later callers are told it is broken */
  mpmp_process_t **ps = start_waiters(&a, k);
  wait_n_waiting(a.s.bar2, k);
  EQ(mpmp_barrier_abort(a.s.bar2), 0);
  for (int i = 0; i < k; i++) {
    res_t r = join_res(ps[i]);
    EQ(r.rc[0], MPMP_EBROKEN);
  }
  free(ps);
  EQ(mpmp_barrier_broken(a.s.bar2), 1);
  double t0 = test_now();
  EQ(mpmp_barrier_wait(a.s.bar2, 5), MPMP_EBROKEN);
  IN(test_now() - t0, 0, 0.5);
  EQ(mpmp_barrier_n_waiting(a.s.bar2), 0);
  EQ(mpmp_barrier_reset(a.s.bar2), 0);
  EQ(mpmp_barrier_broken(a.s.bar2), 0);

  /* reset while they wait: they leave broken, the barrier is usable */
  ps = start_waiters(&a, k);
  wait_n_waiting(a.s.bar2, k);
  EQ(mpmp_barrier_reset(a.s.bar2), 0);
  for (int i = 0; i < k; i++) {
    res_t r = join_res(ps[i]);
    EQ(r.rc[0], MPMP_EBROKEN);
  }
  free(ps);
  EQ(mpmp_barrier_broken(a.s.bar2), 0);
  EQ(mpmp_barrier_n_waiting(a.s.bar2), 0);

  /* and a full round works: indices 0..k, each once */
  ps = start_waiters(&a, k);
  int seen[8] = {0};
  int idx = mpmp_barrier_wait(a.s.bar2, 30);
  assert_true(idx >= 0 && idx <= k);
  seen[idx]++;
  for (int i = 0; i < k; i++) {
    res_t r = join_res(ps[i]);
    assert_true(r.rc[0] >= 0 && r.rc[0] <= k);
    seen[r.rc[0]]++;
  }
  free(ps);
  for (int i = 0; i <= k; i++)
    EQ(seen[i], 1);

  /* Barrier(1) never waits; Barrier(0) does not exist. */
  EQ(mpmp_barrier_parties(a.s.bar), 1);
  EQ(mpmp_barrier_wait(a.s.bar, 0), 0);
  EQ(mpmp_barrier_wait(a.s.bar, 5), 0);
  if (home_of(state) == 0) {
    mpmp_barrier_t x;
    EQ(mpmp_barrier_create(&x, 0), MPMP_EINVAL);
    EQ(mpmp_barrier_create(&x, 0x80000000u), MPMP_EINVAL);
    EQ(mpmp_barrier_create(NULL, 2), MPMP_EINVAL);
    EQ(mpmp_lock_create(NULL), MPMP_EINVAL);
    EQ(mpmp_rlock_create(NULL), MPMP_EINVAL);
    EQ(mpmp_event_create(NULL), MPMP_EINVAL);
    EQ(mpmp_cond_create(NULL, NULL), MPMP_EINVAL);
  }
  objs_free(&a.s);
}

static int free_unregistered(mpmp_ctx_t *ctx) {
  (void)ctx;
  return 0;
}

/* ---- Python's action and default timeout ----------------------------- */

/* The action: "results.append(True)" on the Value its argument names; it
 * fails when that Value says so (v[1] != 0). */
typedef struct { mpmp_value_t count, fail; } act_arg_t;

static int append_true(mpmp_ctx_t *ctx) {
  size_t n = 0;
  const act_arg_t *x = mpmp_arg(ctx, &n);
  int64_t fail = 0;
  if (n != sizeof *x || mpmp_value_load(x->fail, &fail) < 0)
    return mpmp_fail(ctx, "bad argument (%zu bytes)", n);
  if (fail)
    return mpmp_fail(ctx, "the action raised");
  return mpmp_value_add(x->count, 1, NULL) < 0
             ? mpmp_fail(ctx, "add: %s", mpmp_errmsg()) : 0;
}
MPMP_TASK(append_true);

typedef struct { mpmp_barrier_t b; act_arg_t x; int mode; } party_t;

/* mode 0 (CPython _test_action_f): wait, then the action has run once:
 * rc[0] the index, rc[1] the count seen. mode 1: rc[0] the wait's code.
 * mode 2 (_test_default_timeout_f): i = wait(20); the party of index
 * parties/2 sleeps 1 s; then wait() with the default: rc[1]. */
static int party(mpmp_ctx_t *ctx) {
  const party_t *p = mpmp_arg(ctx, NULL);
  res_t *r = mpmp_out(ctx, sizeof *r);
  memset(r, 0, sizeof *r);
  r->rc[0] = mpmp_barrier_wait(p->b, 20);
  if (p->mode == 0)
    r->rc[1] = (int)get(p->x.count);
  if (p->mode == 2) {
    if (r->rc[0] == mpmp_barrier_parties(p->b) / 2)
      test_sleep(1.0);
    r->rc[1] = mpmp_barrier_wait(p->b, MPMP_DEFAULT_TIMEOUT);
  }
  return 0;
}
MPMP_TASK(party);

static mpmp_process_t **start_parties(const party_t *p, int n) {
  mpmp_process_t **ps = calloc((size_t)n, sizeof *ps);
  assert_non_null(ps);
  for (int i = 0; i < n; i++)
    ps[i] = start_process(party, p, sizeof *p);
  return ps;
}

/* CPython test_action: the action runs once per round, in one party,
 * before any party leaves its wait; a failing action breaks the barrier:
 * its party gets MPMP_ETASK (Python: the exception), the others
 * MPMP_EBROKEN. */
static void sync_barrier_python_action(void **state) {
  (void)state;
  int k = imin(3, mpmp_worker_count());
  party_t p = {.mode = 0};
  EQ(mpmp_value_create(&p.x.count, MPMP_INT64, NULL, 0), 0);
  EQ(mpmp_value_create(&p.x.fail, MPMP_INT64, NULL, 0), 0);
  EQ(mpmp_barrier_create_ex(&p.b, (unsigned)k + 1, append_true, &p.x,
                            sizeof p.x, -1), 0);
  EQ(mpmp_barrier_parties(p.b), k + 1);
  for (int round = 1; round <= 2; round++) {
    mpmp_process_t **ps = start_parties(&p, k);
    int idx = mpmp_barrier_wait(p.b, 20);
    assert_true(idx >= 0 && idx <= k);
    EQ(get(p.x.count), round);
    for (int i = 0; i < k; i++) {
      res_t r = join_res(ps[i]);
      assert_true(r.rc[0] >= 0 && r.rc[0] <= k);
      EQ(r.rc[1], round); /* len(results) == 1 after wait() */
    }
    free(ps);
  }
  /* the action raises: one ETASK with its message, the rest EBROKEN */
  EQ(mpmp_value_set_i64(p.x.fail, 1), 0);
  p.mode = 1;
  mpmp_process_t **ps = start_parties(&p, k);
  int rcs[8], ntask = 0, nbroken = 0;
  rcs[k] = mpmp_barrier_wait(p.b, 20);
  if (rcs[k] == MPMP_ETASK)
    assert_non_null(strstr(mpmp_errmsg(), "the action raised"));
  for (int i = 0; i < k; i++)
    rcs[i] = join_res(ps[i]).rc[0];
  free(ps);
  for (int i = 0; i <= k; i++) {
    ntask += rcs[i] == MPMP_ETASK;
    nbroken += rcs[i] == MPMP_EBROKEN;
  }
  EQ(ntask, 1);
  EQ(nbroken, k);
  EQ(get(p.x.count), 2);
  EQ(mpmp_barrier_broken(p.b), 1);
  EQ(mpmp_barrier_wait(p.b, 1), MPMP_EBROKEN);
  /* reset, and it works again */
  EQ(mpmp_value_set_i64(p.x.fail, 0), 0);
  EQ(mpmp_barrier_reset(p.b), 0);
  p.mode = 0;
  ps = start_parties(&p, k);
  assert_true(mpmp_barrier_wait(p.b, 20) >= 0);
  for (int i = 0; i < k; i++)
    EQ(join_res(ps[i]).rc[1], 3);
  free(ps);
  /* Barrier(1) with an action: every wait runs it */
  mpmp_barrier_t one;
  EQ(mpmp_barrier_create_ex(&one, 1, append_true, &p.x, sizeof p.x, -1), 0);
  EQ(mpmp_barrier_wait(one, 0), 0);
  EQ(get(p.x.count), 4);
  EQ(mpmp_barrier_free(one), 0);
  /* misuse */
  EQ(mpmp_barrier_create_ex(&one, 2, NULL, NULL, MPMP_BARRIER_MAX_ARG + 1,
                            -1), MPMP_EINVAL);
  EQ(mpmp_barrier_create_ex(&one, 2, NULL, NULL, 0, NAN), MPMP_EINVAL);
  EQ(mpmp_barrier_create_ex(&one, 2, (mpmp_task_fn)free_unregistered, NULL,
                            0, -1), MPMP_ENOTASK);
  EQ(mpmp_barrier_free(p.b), 0);
  EQ(mpmp_value_free(p.x.count), 0);
  EQ(mpmp_value_free(p.x.fail), 0);
}

/* CPython test_default_timeout: Barrier(parties, timeout=0.5); one party
 * is late by 1 s to a wait that uses the default: every party's wait
 * fails (Python: BrokenBarrierError for all; here the one whose timeout
 * passed says MPMP_ETIMEDOUT, the others MPMP_EBROKEN). */
static void sync_barrier_python_default_timeout(void **state) {
  (void)state;
  int k = imin(3, mpmp_worker_count());
  party_t p = {.mode = 2};
  EQ(mpmp_barrier_create_ex(&p.b, (unsigned)k + 1, NULL, NULL, 0, 0.5), 0);
  mpmp_process_t **ps = start_parties(&p, k);
  int rcs[8], nto = 0, nbroken = 0;
  double t0 = test_now();
  int i0 = mpmp_barrier_wait(p.b, 20);
  assert_true(i0 >= 0 && i0 <= k);
  if (i0 == (k + 1) / 2)
    test_sleep(1.0);
  rcs[k] = mpmp_barrier_wait(p.b, MPMP_DEFAULT_TIMEOUT);
  for (int i = 0; i < k; i++) {
    res_t r = join_res(ps[i]);
    assert_true(r.rc[0] >= 0 && r.rc[0] <= k);
    rcs[i] = r.rc[1];
  }
  free(ps);
  IN(test_now() - t0, 0.4, 15);
  for (int i = 0; i <= k; i++) {
    nto += rcs[i] == MPMP_ETIMEDOUT;
    nbroken += rcs[i] == MPMP_EBROKEN;
  }
  assert_true(nto >= 1);
  EQ(nto + nbroken, k + 1); /* len(results) == parties */
  EQ(mpmp_barrier_broken(p.b), 1);
  /* MPMP_DEFAULT_TIMEOUT on a barrier without one: forever (a round
   * completes) */
  mpmp_barrier_t one;
  EQ(mpmp_barrier_create(&one, 1), 0);
  EQ(mpmp_barrier_wait(one, MPMP_DEFAULT_TIMEOUT), 0);
  EQ(mpmp_barrier_free(one), 0);
  EQ(mpmp_barrier_free(p.b), 0);
}

/* A wait that times out while the previous round still drains breaks
 * the barrier once that round has drained (Python: its _enter() has no
 * timeout, and the wait then times out in _wait(), which breaks it). It
 * returned MPMP_ETIMEDOUT and left the barrier whole, so the next round's
 * other party waited for it to its own timeout (for ever without one;
 * helper 76). */
typedef struct enter_args {
  mpmp_barrier_t b;
} enter_args_t;

static int two_rounds(mpmp_ctx_t *ctx) {
  const enter_args_t *a = mpmp_arg(ctx, NULL);
  int r1 = mpmp_barrier_wait(a->b, T_OUT);
  test_sleep(0.1); /* the main rank's second wait comes and goes */
  double t0 = test_now();
  int r2 = mpmp_barrier_wait(a->b, 10);
  if (r1 < 0 || r2 != MPMP_EBROKEN || test_now() - t0 > 5)
    return mpmp_fail(ctx, "round 1: %d, round 2: %d after %.2f s", r1, r2,
                     test_now() - t0);
  return 0;
}
MPMP_TASK(two_rounds);

static void sync_barrier_timeout_while_draining_breaks_it(void **state) {
  (void)state;
  for (int round = 0; round < 3; round++) {
    enter_args_t a;
    EQ(mpmp_barrier_create(&a.b, 2), 0);
    mpmp_process_t *p = start_process(two_rounds, &a, sizeof a);
    test_sleep(0.2);
    assert_true(mpmp_barrier_wait(a.b, T_OUT) >= 0); /* the last to come */
    EQ(mpmp_barrier_wait(a.b, 0), MPMP_ETIMEDOUT);   /* while it drains */
    EQ(mpmp_process_join(p, T_OUT), 0);
    int code = -1;
    EQ(mpmp_process_exitcode(p, &code), 0);
    if (code != 0)
      fail_msg("%s", mpmp_process_errmsg(p));
    EQ(mpmp_barrier_broken(a.b), 1);
    mpmp_process_destroy(p);
    EQ(mpmp_barrier_free(a.b), 0);
  }
}

static const struct CMUnitTest tests[] = {
    BOTH(sync_barrier_abort_reset),
    TEST_AT(sync_barrier_python_action, 0, "_main_home"),
    TEST_AT(sync_barrier_python_default_timeout, 0, "_main_home"),
    TEST_AT(sync_barrier_timeout_while_draining_breaks_it, 0, "_main_home"),
};

MPMP_TEST_MAIN(tests)
