/* Condition (mpmp/sync.h): the rules of its lock, a user lock, notify one
 * and all, wait(0) letting the others in.
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

/* ---- 6. Condition --------------------------------------------------------- */

/* Wait on ucond (a plain user Lock) until v[0] != 0; v[1] = ready. */
static int ucond_waiter(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  res_t *r = mpmp_out(ctx, sizeof *r);
  memset(r, 0, sizeof *r);
  if (mpmp_lock_acquire(a->s.lock2, 30) < 0)
    return mpmp_fail(ctx, "acquire: %s", mpmp_errmsg());
  mpmp_value_set_i64(a->s.v[1], 1);
  r->rc[0] = mpmp_cond_wait_for(a->s.ucond, v_nonzero, (void *)&a->s.v[0], 30);
  r->rc[1] = mpmp_lock_is_mine(a->s.lock2);
  r->rc[2] = mpmp_lock_release(a->s.lock2);
  /* a Condition on this rank with a Lock of another node is refused */
  mpmp_cond_t c;
  mpmp_lock_t mine;
  r->rc[3] = mpmp_cond_create(&c, &a->s.lock);
  if (r->rc[3] == 0)
    mpmp_cond_free(c);
  r->rc[4] = mpmp_lock_create(&mine);
  r->rc[5] = mpmp_cond_create(&c, &mine);
  r->rc[6] = mpmp_cond_free(c);
  r->rc[7] = mpmp_lock_free(mine);
  r->n = mpmp_node_id();
  return 0;
}
MPMP_TASK(ucond_waiter);

static void sync_condition_rules(void **state) {
  objspec_t sp = {0};
  objargs_t a = {0};
  mpmp_lock_t cl, ul;
  objs_make(state, &sp, &a.s);

  /* Without the lock: EPERM; without a predicate: EINVAL. */
  EQ(mpmp_cond_notify(a.s.cond, 1), MPMP_EPERM);
  EQ(mpmp_cond_notify_all(a.s.cond), MPMP_EPERM);
  EQ(mpmp_cond_wait(a.s.cond, 0.1), MPMP_EPERM);
  EQ(mpmp_cond_wait_for(a.s.cond, never, NULL, 0.1), MPMP_EPERM);
  EQ(mpmp_cond_wait_for(a.s.cond, NULL, NULL, 0.1), MPMP_EINVAL);
  EQ(mpmp_cond_release(a.s.cond), MPMP_EPERM);
  EQ(mpmp_cond_get_lock(a.s.cond, NULL), MPMP_EINVAL);

  /* get_lock gives the lock itself: take it one way, release it the other. */
  EQ(mpmp_cond_get_lock(a.s.cond, &cl), 0);
  EQ(mpmp_lock_acquire(cl, 5), 0);
  EQ(mpmp_cond_notify(a.s.cond, 1), 0); /* nobody waits: a no-op */
  EQ(mpmp_cond_notify_all(a.s.cond), 0);
  EQ(mpmp_cond_wait_for(a.s.cond, NULL, NULL, 0.1), MPMP_EINVAL);
  EQ(mpmp_cond_acquire(a.s.cond, 0), 0); /* an RLock by default */
  EQ(mpmp_cond_release(a.s.cond), 0);
  EQ(mpmp_lock_is_mine(cl), 1);
  EQ(mpmp_cond_release(a.s.cond), 0);
  EQ(mpmp_lock_is_mine(cl), 0);
  EQ(mpmp_lock_release(cl), MPMP_EPERM);

  /* Condition(lock2): the user's plain Lock. */
  EQ(mpmp_cond_get_lock(a.s.ucond, &ul), 0);
  EQ(mpmp_lock_acquire(a.s.lock2, 5), 0);
  EQ(mpmp_lock_is_mine(ul), 1);
  EQ(mpmp_cond_notify(a.s.ucond, 1), 0);
  EQ(mpmp_cond_acquire(a.s.ucond, 0.1), MPMP_ETIMEDOUT); /* not re-entrant */
  EQ(mpmp_lock_release(ul), 0);
  EQ(mpmp_lock_is_mine(a.s.lock2), 0);
  EQ(mpmp_cond_notify(a.s.ucond, 1), MPMP_EPERM);
  EQ(mpmp_cond_acquire(a.s.ucond, 1), 0);
  EQ(mpmp_lock_is_mine(a.s.lock2), 1);
  EQ(mpmp_lock_release(a.s.lock2), 0);

  /* A worker waits on it; the main rank notifies under the user Lock. */
  mpmp_process_t *p = start_process(ucond_waiter, &a, sizeof a);
  EQ(wait_at_least(a.s.v[1], 1, 10), 0);
  EQ(mpmp_lock_acquire(a.s.lock2, 10), 0); /* the waiter let it go */
  EQ(mpmp_value_set_i64(a.s.v[0], 1), 0);
  EQ(mpmp_cond_notify_all(a.s.ucond), 0);
  EQ(mpmp_lock_release(a.s.lock2), 0);
  res_t r = join_res(p);
  EQ(r.rc[0], 0);
  EQ(r.rc[1], 1);
  EQ(r.rc[2], 0);
  EQ(r.rc[3], r.n == a.s.node ? 0 : MPMP_EINVAL);
  EQ(r.rc[4], 0);
  EQ(r.rc[5], 0);
  EQ(r.rc[6], 0);
  EQ(r.rc[7], 0);

  /* The same check from the main rank. */
  mpmp_cond_t c;
  int rc = mpmp_cond_create(&c, &a.s.lock);
  if (a.s.node == mpmp_node_id()) {
    EQ(rc, 0);
    EQ(mpmp_cond_free(c), 0);
  } else {
    EQ(rc, MPMP_EINVAL);
  }

  /* Freeing the user Lock leaves the Condition unusable (EBADF). */
  EQ(mpmp_lock_free(a.s.lock2), 0);
  EQ(mpmp_cond_acquire(a.s.ucond, 0), MPMP_EBADF);
  EQ(mpmp_cond_release(a.s.ucond), MPMP_EBADF);
  EQ(mpmp_cond_notify(a.s.ucond, 1), MPMP_EBADF);
  EQ(mpmp_cond_notify_all(a.s.ucond), MPMP_EBADF);
  EQ(mpmp_cond_wait(a.s.ucond, 0.1), MPMP_EBADF);
  EQ(mpmp_cond_wait_for(a.s.ucond, never, NULL, 0.1), MPMP_EBADF);
  EQ(mpmp_lock_acquire(ul, 0), MPMP_EBADF);
  EQ(mpmp_cond_free(a.s.ucond), 0);
  memset(&a.s.lock2, 0, sizeof a.s.lock2);
  memset(&a.s.ucond, 0, sizeof a.s.ucond);
  objs_free(&a.s);
}

/* Wait once on cond (no predicate): v[1] ready, v[2] woken. */
static int cond_waiter(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  res_t *r = mpmp_out(ctx, sizeof *r);
  mpmp_lock_t cl;
  memset(r, 0, sizeof *r);
  if (mpmp_cond_acquire(a->s.cond, 30) < 0)
    return mpmp_fail(ctx, "acquire: %s", mpmp_errmsg());
  mpmp_cond_get_lock(a->s.cond, &cl);
  mpmp_value_add(a->s.v[1], 1, NULL);
  double t0 = test_now();
  r->rc[0] = mpmp_cond_wait(a->s.cond, 30);
  r->t[0] = test_now() - t0;
  mpmp_value_add(a->s.v[2], 1, NULL);
  r->rc[1] = mpmp_lock_is_mine(cl);
  r->rc[2] = mpmp_cond_release(a->s.cond);
  return 0;
}
MPMP_TASK(cond_waiter);

static void wait_woken(const objargs_t *a, int64_t want) {
  EQ(wait_at_least(a->s.v[2], want, 10), 0);
  test_sleep(0.2); /* no more than that */
  EQ(get(a->s.v[2]), want);
}

static void sync_condition_notify_one_and_all(void **state) {
  if (mpmp_worker_count() < 2)
    skip();
  objspec_t sp = {0};
  objargs_t a = {0};
  mpmp_process_t *ps[4];
  int n = imin(4, mpmp_worker_count());
  objs_make(state, &sp, &a.s);
  for (int i = 0; i < n; i++)
    ps[i] = start_process(cond_waiter, &a, sizeof a);
  EQ(wait_at_least(a.s.v[1], n, 10), 0);
  EQ(mpmp_cond_acquire(a.s.cond, 10), 0); /* all of them wait inside now */
  test_sleep(0.1);                        /* and sleep */
  EQ(mpmp_cond_notify(a.s.cond, 1), 0);
  EQ(mpmp_cond_release(a.s.cond), 0);
  wait_woken(&a, 1);
  if (n > 2) {
    EQ(mpmp_cond_acquire(a.s.cond, 10), 0);
    EQ(mpmp_cond_notify(a.s.cond, 1), 0);
    EQ(mpmp_cond_release(a.s.cond), 0);
    wait_woken(&a, 2);
  }
  EQ(mpmp_cond_acquire(a.s.cond, 10), 0);
  EQ(mpmp_cond_notify_all(a.s.cond), 0);
  EQ(mpmp_cond_release(a.s.cond), 0);
  wait_woken(&a, n);
  for (int i = 0; i < n; i++) {
    res_t r = join_res(ps[i]);
    EQ(r.rc[0], 0);
    EQ(r.rc[1], 1);
    EQ(r.rc[2], 0);
  }
  objs_free(&a.s);
}

/* Queue for cond's lock once v[1] says the main rank holds it; hold it a
 * moment, count the turn in v[2]. */
static int cond_taker(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  res_t *r = mpmp_out(ctx, sizeof *r);
  memset(r, 0, sizeof *r);
  r->rc[0] = mpmp_cond_acquire(a->s.cond, 20);
  if (r->rc[0] == 0) {
    test_sleep(0.02);
    mpmp_value_add(a->s.v[2], 1, NULL);
    r->rc[1] = mpmp_cond_release(a->s.cond);
  }
  return 0;
}
MPMP_TASK(cond_taker);

/* wait(0) releases the lock and takes it back: the ranks queued for it
 * have their turn in between (FIFO), and the call still returns promptly,
 * whichever rank serves it. */
static void sync_condition_wait_zero_lets_others_in(void **state) {
  objspec_t sp = {0};
  objargs_t a = {0};
  mpmp_process_t *ps[3];
  mpmp_lock_t cl;
  int n = imin(3, mpmp_worker_count());
  objs_make(state, &sp, &a.s);
  EQ(mpmp_cond_get_lock(a.s.cond, &cl), 0);
  EQ(mpmp_cond_acquire(a.s.cond, 5), 0);
  for (int i = 0; i < n; i++)
    ps[i] = start_process(cond_taker, &a, sizeof a);
  test_sleep(0.3); /* they queue for the lock */
  EQ(get(a.s.v[2]), 0);
  double t0 = test_now();
  EQ(mpmp_cond_wait(a.s.cond, 0), MPMP_ETIMEDOUT);
  IN(test_now() - t0, 0, 5.0);
  EQ(mpmp_lock_is_mine(cl), 1);
  EQ(get(a.s.v[2]), n); /* all of them had their turn */
  t0 = test_now();
  EQ(mpmp_cond_wait_for(a.s.cond, never, NULL, 0), MPMP_ETIMEDOUT);
  IN(test_now() - t0, 0, 5.0);
  EQ(mpmp_lock_is_mine(cl), 1);
  EQ(mpmp_cond_release(a.s.cond), 0);
  for (int i = 0; i < n; i++) {
    res_t r = join_res(ps[i]);
    EQ(r.rc[0], 0);
    EQ(r.rc[1], 0);
  }
  objs_free(&a.s);
}

static const struct CMUnitTest tests[] = {
    BOTH(sync_condition_rules),
    BOTH(sync_condition_notify_one_and_all),
    BOTH(sync_condition_wait_zero_lets_others_in),
};

MPMP_TEST_MAIN(tests)
