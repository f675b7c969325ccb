/* Stale and wrong-kind handles to every call of mpmp/sync.h, and objects
 * of all kinds homed on each node, blocking from every rank at once.
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

/* ---- 9. stale and wrong-kind handles ------------------------------------- */

static int stale_part(const objset_t *s, char *err) {
  mpmp_lock_t cl;
  EXPECT_EQ(mpmp_lock_acquire(s->lock, 0), MPMP_EBADF);
  EXPECT_EQ(mpmp_lock_acquire(s->lock, 1), MPMP_EBADF);
  EXPECT_EQ(mpmp_lock_release(s->lock), MPMP_EBADF);
  EXPECT_EQ(mpmp_lock_is_mine(s->lock), MPMP_EBADF);
  EXPECT_EQ(mpmp_lock_free(s->lock), MPMP_EBADF);
  EXPECT_EQ(mpmp_lock_acquire(s->rlock, 1), MPMP_EBADF);
  EXPECT_EQ(mpmp_lock_free(s->rlock), MPMP_EBADF);
  EXPECT_EQ(mpmp_sem_acquire(s->sem, 1), MPMP_EBADF);
  EXPECT_EQ(mpmp_sem_release(s->sem), MPMP_EBADF);
  EXPECT_EQ(mpmp_sem_value(s->sem), MPMP_EBADF);
  EXPECT_EQ(mpmp_sem_free(s->sem), MPMP_EBADF);
  EXPECT_EQ(mpmp_sem_release(s->bsem), MPMP_EBADF);
  EXPECT_EQ(mpmp_event_set(s->ev), MPMP_EBADF);
  EXPECT_EQ(mpmp_event_clear(s->ev), MPMP_EBADF);
  EXPECT_EQ(mpmp_event_is_set(s->ev), MPMP_EBADF);
  EXPECT_EQ(mpmp_event_wait(s->ev, 1), MPMP_EBADF);
  EXPECT_EQ(mpmp_event_free(s->ev), MPMP_EBADF);
  EXPECT_EQ(mpmp_cond_acquire(s->cond, 1), MPMP_EBADF);
  EXPECT_EQ(mpmp_cond_release(s->cond), MPMP_EBADF);
  EXPECT_EQ(mpmp_cond_notify(s->cond, 1), MPMP_EBADF);
  EXPECT_EQ(mpmp_cond_notify_all(s->cond), MPMP_EBADF);
  EXPECT_EQ(mpmp_cond_wait(s->cond, 1), MPMP_EBADF);
  EXPECT_EQ(mpmp_cond_wait_for(s->cond, never, NULL, 1), MPMP_EBADF);
  EXPECT_EQ(mpmp_cond_free(s->cond), MPMP_EBADF);
  if (mpmp_cond_get_lock(s->cond, &cl) == 0) /* a handle, unusable */
    EXPECT_EQ(mpmp_lock_acquire(cl, 1), MPMP_EBADF);
  EXPECT_EQ(mpmp_cond_acquire(s->ucond, 1), MPMP_EBADF);
  EXPECT_EQ(mpmp_barrier_wait(s->bar, 1), MPMP_EBADF);
  EXPECT_EQ(mpmp_barrier_abort(s->bar), MPMP_EBADF);
  EXPECT_EQ(mpmp_barrier_reset(s->bar), MPMP_EBADF);
  EXPECT_EQ(mpmp_barrier_broken(s->bar), MPMP_EBADF);
  EXPECT_EQ(mpmp_barrier_n_waiting(s->bar), MPMP_EBADF);
  EXPECT_EQ(mpmp_barrier_parties(s->bar), MPMP_EBADF);
  EXPECT_EQ(mpmp_barrier_free(s->bar), MPMP_EBADF);
  return 0;
}

static int stale_body(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  BODY(ctx, stale_part, &a->s);
  return 0;
}
MPMP_TASK(stale_body);

/* One kind's handle passed as another's, zeroed and garbage handles. */
static int wrong_kind_part(const objset_t *s, char *err) {
  mpmp_sem_t lock_as_sem = {s->lock.ref};
  mpmp_event_t sem_as_ev = {s->sem.ref};
  mpmp_cond_t ev_as_cond = {s->ev.ref};
  mpmp_barrier_t cond_as_bar = {s->cond.ref};
  mpmp_lock_t bar_as_lock = {s->bar.ref}, val_as_lock = {s->v[0].ref};
  mpmp_lock_t sem_as_lock = {s->sem.ref};
  mpmp_value_t lock_as_val = {s->lock.ref};
  mpmp_cond_t lock_as_cond = {s->lock.ref};
  int64_t x;
  EXPECT_EQ(mpmp_sem_acquire(lock_as_sem, 0), MPMP_EBADF);
  EXPECT_EQ(mpmp_sem_release(lock_as_sem), MPMP_EBADF);
  EXPECT_EQ(mpmp_sem_value(lock_as_sem), MPMP_EBADF);
  EXPECT_EQ(mpmp_event_set(sem_as_ev), MPMP_EBADF);
  EXPECT_EQ(mpmp_event_wait(sem_as_ev, 0.1), MPMP_EBADF);
  EXPECT_EQ(mpmp_cond_notify(ev_as_cond, 1), MPMP_EBADF);
  EXPECT_EQ(mpmp_cond_acquire(ev_as_cond, 0.1), MPMP_EBADF);
  EXPECT_EQ(mpmp_cond_get_lock(ev_as_cond, &bar_as_lock), MPMP_EBADF);
  EXPECT_EQ(mpmp_cond_acquire(lock_as_cond, 0.1), MPMP_EBADF);
  EXPECT_EQ(mpmp_barrier_wait(cond_as_bar, 0.1), MPMP_EBADF);
  EXPECT_EQ(mpmp_barrier_parties(cond_as_bar), MPMP_EBADF);
  bar_as_lock.ref = s->bar.ref;
  EXPECT_EQ(mpmp_lock_acquire(bar_as_lock, 0.1), MPMP_EBADF);
  EXPECT_EQ(mpmp_lock_is_mine(bar_as_lock), MPMP_EBADF);
  EXPECT_EQ(mpmp_lock_acquire(val_as_lock, 0.1), MPMP_EBADF);
  EXPECT_EQ(mpmp_lock_free(sem_as_lock), MPMP_EBADF);
  EXPECT_EQ(mpmp_event_free(sem_as_ev), MPMP_EBADF);
  EXPECT_EQ(mpmp_barrier_free(cond_as_bar), MPMP_EBADF);
  EXPECT_EQ(mpmp_value_get_i64(lock_as_val, &x), MPMP_EBADF);
  /* zeroed and garbage */
  mpmp_lock_t zl;
  mpmp_sem_t zs;
  mpmp_event_t ze;
  mpmp_cond_t zc;
  mpmp_barrier_t zb;
  for (int fill = 0; fill < 2; fill++) {
    int byte = fill ? 0xa5 : 0;
    memset(&zl, byte, sizeof zl);
    memset(&zs, byte, sizeof zs);
    memset(&ze, byte, sizeof ze);
    memset(&zc, byte, sizeof zc);
    memset(&zb, byte, sizeof zb);
    EXPECT_EQ(mpmp_lock_acquire(zl, 0.1), MPMP_EBADF);
    EXPECT_EQ(mpmp_lock_release(zl), MPMP_EBADF);
    EXPECT_EQ(mpmp_sem_acquire(zs, 0.1), MPMP_EBADF);
    EXPECT_EQ(mpmp_event_wait(ze, 0.1), MPMP_EBADF);
    EXPECT_EQ(mpmp_cond_acquire(zc, 0.1), MPMP_EBADF);
    EXPECT_EQ(mpmp_cond_notify(zc, 1), MPMP_EBADF);
    EXPECT_EQ(mpmp_barrier_wait(zb, 0.1), MPMP_EBADF);
    EXPECT_EQ(mpmp_barrier_free(zb), MPMP_EBADF);
  }
  /* the real objects were not touched */
  EXPECT_EQ(mpmp_sem_value(s->sem), 1);
  EXPECT_EQ(mpmp_lock_acquire(s->lock, 1), 0);
  EXPECT_EQ(mpmp_lock_release(s->lock), 0);
  EXPECT_EQ(mpmp_event_is_set(s->ev), 0);
  EXPECT_EQ(mpmp_barrier_parties(s->bar), 1);
  return 0;
}

static int wrong_kind_body(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  BODY(ctx, wrong_kind_part, &a->s);
  return 0;
}
MPMP_TASK(wrong_kind_body);

static void sync_bad_handles(void **state) {
  objspec_t sp = {.sem = 1};
  objargs_t a = {0};
  objs_make(state, &sp, &a.s);
  RUN(wrong_kind_part, &a.s);
  join_destroy(start_process(wrong_kind_body, &a, sizeof a));
  objs_free(&a.s);
  RUN(stale_part, &a.s);
  join_destroy(start_process(stale_body, &a, sizeof a));
  /* a new object where the old one was: the old handle stays stale */
  objargs_t b = {0};
  objs_make(state, &sp, &b.s);
  RUN(stale_part, &a.s);
  EQ(mpmp_lock_acquire(b.s.lock, 1), 0);
  EQ(mpmp_lock_release(b.s.lock), 0);
  EQ(mpmp_sem_value(b.s.sem), 1);
  objs_free(&b.s);
}

/* ---- 8. objects homed on each node, all kinds at once --------------------- */

/* Every blocking operation from a worker, on objects of some node: a lock
 * wait (main holds it), a semaphore wait, an event wait, a condition wait,
 * a barrier wait; v[3] counts them ready, rc[i]/t[i] each result. */
static int blocking_mix(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  res_t *r = mpmp_out(ctx, sizeof *r);
  memset(r, 0, sizeof *r);
  mpmp_value_add(a->s.v[3], 1, NULL);
  double t0 = test_now();
  r->rc[0] = mpmp_lock_acquire(a->s.lock, 30);
  r->t[0] = test_now() - t0;
  if (r->rc[0] == 0)
    r->rc[8] = mpmp_lock_release(a->s.lock);
  t0 = test_now();
  r->rc[1] = mpmp_sem_acquire(a->s.sem, 30);
  r->t[1] = test_now() - t0;
  t0 = test_now();
  r->rc[2] = mpmp_event_wait(a->s.ev, 30);
  r->t[2] = test_now() - t0;
  if (mpmp_cond_acquire(a->s.cond, 30) == 0) {
    t0 = test_now();
    r->rc[3] = mpmp_cond_wait_for(a->s.cond, v_nonzero, (void *)&a->s.v[0], 30);
    r->t[3] = test_now() - t0;
    r->rc[9] = mpmp_cond_release(a->s.cond);
  } else {
    r->rc[3] = -1;
  }
  r->rc[4] = mpmp_barrier_wait(a->s.bar, 30);
  /* One of them then wakes the main rank: ev2, then v[1] under cond. */
  int64_t order = -1;
  mpmp_value_add(a->s.v[2], 1, &order);
  if (order == 0) {
    test_sleep(0.1);
    r->rc[5] = mpmp_event_set(a->s.ev2);
    test_sleep(0.1);
    r->rc[6] = mpmp_cond_acquire(a->s.cond, 30);
    r->rc[7] = mpmp_value_set_i64(a->s.v[1], 1);
    r->rc[10] = mpmp_cond_notify_all(a->s.cond);
    r->rc[11] = mpmp_cond_release(a->s.cond);
  }
  return 0;
}
MPMP_TASK(blocking_mix);

static void sync_blocking_from_every_rank(void **state) {
  int n = imin(5, mpmp_worker_count());
  objspec_t sp = {.sem = 0, .parties = (unsigned)(n + 1)};
  objargs_t a = {0};
  mpmp_process_t *ps[5];
  objs_make(state, &sp, &a.s);
  EQ(mpmp_lock_acquire(a.s.lock, 5), 0);
  for (int i = 0; i < n; i++)
    ps[i] = start_process(blocking_mix, &a, sizeof a);
  EQ(wait_at_least(a.s.v[3], n, 10), 0);
  test_sleep(0.2);
  EQ(mpmp_lock_release(a.s.lock), 0); /* they pass the lock round */
  test_sleep(0.1);
  for (int i = 0; i < n; i++) /* one unit each */
    EQ(mpmp_sem_release(a.s.sem), 0);
  test_sleep(0.1);
  EQ(mpmp_event_set(a.s.ev), 0);
  test_sleep(0.1);
  EQ(mpmp_cond_acquire(a.s.cond, 10), 0);
  EQ(mpmp_value_set_i64(a.s.v[0], 1), 0);
  EQ(mpmp_cond_notify_all(a.s.cond), 0);
  EQ(mpmp_cond_release(a.s.cond), 0);
  int seen[8] = {0};
  int idx = mpmp_barrier_wait(a.s.bar, 30);
  assert_true(idx >= 0 && idx <= n);
  seen[idx]++;
  /* The main rank waits too: for an event and a condition a worker sets. */
  double t0 = test_now();
  EQ(mpmp_event_wait(a.s.ev2, 30), 0);
  IN(test_now() - t0, 0.05, 10);
  EQ(mpmp_cond_acquire(a.s.cond, 10), 0);
  t0 = test_now();
  EQ(mpmp_cond_wait_for(a.s.cond, v_nonzero, (void *)&a.s.v[1], 30), 0);
  IN(test_now() - t0, 0.0, 10);
  EQ(mpmp_cond_release(a.s.cond), 0);
  for (int i = 0; i < n; i++) {
    res_t r = join_res(ps[i]);
    for (int k = 5; k < 12; k++)
      if (k != 8 && k != 9)
        EQ(r.rc[k], 0);
    for (int k = 0; k < 4; k++)
      if (r.rc[k] != 0)
        fail_msg("worker %d: blocking operation %d: %s", i, k,
                 mpmp_err_name(r.rc[k]));
    EQ(r.rc[8], 0);
    EQ(r.rc[9], 0);
    IN(r.t[0], 0.1, 10); /* each really waited */
    assert_true(r.rc[4] >= 0 && r.rc[4] <= n);
    seen[r.rc[4]]++;
  }
  for (int i = 0; i <= n; i++)
    EQ(seen[i], 1);
  EQ(mpmp_sem_value(a.s.sem), 0);
  objs_free(&a.s);
}

static const struct CMUnitTest tests[] = {
    BOTH(sync_blocking_from_every_rank),
    BOTH(sync_bad_handles),
};

MPMP_TEST_MAIN(tests)
