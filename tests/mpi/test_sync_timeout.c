/* Timeouts of every blocking call of mpmp/sync.h, and the objects still
 * usable afterwards.
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

/* ---- 4. timeouts ---------------------------------------------------------- */

#define TMO 0.1
#define TLO 0.08
#define THI 2.0

/* With `lock` held by another rank, sem at 0, ev2 clear, nobody notifying
 * and bar (2 parties) alone: every wait times out in time, and each object
 * is usable afterwards. */
static int timeouts_part(const objset_t *s, char *err) {
  mpmp_lock_t cl;
  double t0 = test_now();
  EXPECT_EQ(mpmp_lock_acquire(s->lock, TMO), MPMP_ETIMEDOUT);
  EXPECT_IN(test_now() - t0, TLO, THI);
  t0 = test_now();
  EXPECT_EQ(mpmp_lock_acquire(s->lock, 0), MPMP_ETIMEDOUT); /* try once */
  EXPECT_IN(test_now() - t0, 0, 0.5);
  EXPECT_EQ(mpmp_lock_is_mine(s->lock), 0);

  EXPECT_EQ(mpmp_sem_value(s->sem), 0);
  t0 = test_now();
  EXPECT_EQ(mpmp_sem_acquire(s->sem, TMO), MPMP_ETIMEDOUT);
  EXPECT_IN(test_now() - t0, TLO, THI);
  t0 = test_now();
  EXPECT_EQ(mpmp_sem_acquire(s->sem, 0), MPMP_ETIMEDOUT);
  EXPECT_IN(test_now() - t0, 0, 0.5);
  EXPECT_EQ(mpmp_sem_value(s->sem), 0);

  t0 = test_now();
  EXPECT_EQ(mpmp_event_wait(s->ev2, TMO), MPMP_ETIMEDOUT);
  EXPECT_IN(test_now() - t0, TLO, THI);
  t0 = test_now();
  EXPECT_EQ(mpmp_event_wait(s->ev2, 0), MPMP_ETIMEDOUT);
  EXPECT_IN(test_now() - t0, 0, 0.5);
  EXPECT_EQ(mpmp_event_is_set(s->ev2), 0);

  EXPECT_EQ(mpmp_cond_get_lock(s->cond, &cl), 0);
  EXPECT_EQ(mpmp_cond_acquire(s->cond, 5), 0);
  t0 = test_now();
  EXPECT_EQ(mpmp_cond_wait(s->cond, TMO), MPMP_ETIMEDOUT);
  EXPECT_IN(test_now() - t0, TLO, THI);
  EXPECT_EQ(mpmp_lock_is_mine(cl), 1); /* held again */
  t0 = test_now();
  EXPECT_EQ(mpmp_cond_wait_for(s->cond, never, NULL, TMO), MPMP_ETIMEDOUT);
  EXPECT_IN(test_now() - t0, TLO, THI);
  EXPECT_EQ(mpmp_lock_is_mine(cl), 1);
  t0 = test_now();
  EXPECT_EQ(mpmp_cond_wait(s->cond, 0), MPMP_ETIMEDOUT);
  EXPECT_IN(test_now() - t0, 0, 0.5);
  EXPECT_EQ(mpmp_lock_is_mine(cl), 1);
  EXPECT_EQ(mpmp_cond_release(s->cond), 0);
  EXPECT_EQ(mpmp_lock_is_mine(cl), 0);

  EXPECT_EQ(mpmp_barrier_n_waiting(s->bar), 0);
  t0 = test_now();
  EXPECT_EQ(mpmp_barrier_wait(s->bar, TMO), MPMP_ETIMEDOUT);
  EXPECT_IN(test_now() - t0, TLO, THI);
  EXPECT_EQ(mpmp_barrier_broken(s->bar), 1);
  t0 = test_now();
  EXPECT_EQ(mpmp_barrier_wait(s->bar, 5), MPMP_EBROKEN);
  EXPECT_IN(test_now() - t0, 0, 0.5);
  EXPECT_EQ(mpmp_barrier_reset(s->bar), 0);
  EXPECT_EQ(mpmp_barrier_broken(s->bar), 0);
  EXPECT_EQ(mpmp_barrier_wait(s->bar, 0), MPMP_ETIMEDOUT); /* try once */
  EXPECT_EQ(mpmp_barrier_broken(s->bar), 1);
  EXPECT_EQ(mpmp_barrier_reset(s->bar), 0);
  EXPECT_EQ(mpmp_barrier_n_waiting(s->bar), 0);
  return 0;
}

static int timeouts_body(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  BODY(ctx, timeouts_part, &a->s);
  return 0;
}
MPMP_TASK(timeouts_body);

/* Afterwards: a barrier round of 2 (rc[0]), a condition wait for v[2]
 * (rc[1]), a semaphore unit (rc[2]), the event (rc[3]). */
static int after_timeouts(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  res_t *r = mpmp_out(ctx, sizeof *r);
  memset(r, 0, sizeof *r);
  r->rc[0] = mpmp_barrier_wait(a->s.bar, 30);
  if (mpmp_cond_acquire(a->s.cond, 30) == 0) {
    mpmp_value_add(a->s.v[3], 1, NULL);
    r->rc[1] = mpmp_cond_wait_for(a->s.cond, v_nonzero, (void *)&a->s.v[2], 30);
    mpmp_cond_release(a->s.cond);
  } else {
    r->rc[1] = -1;
  }
  r->rc[2] = mpmp_sem_acquire(a->s.sem, 30);
  r->rc[3] = mpmp_event_wait(a->s.ev2, 30);
  return 0;
}
MPMP_TASK(after_timeouts);

static void sync_timeouts(void **state) {
  objspec_t sp = {.sem = 0, .parties = 2, .parties2 = 3};
  objargs_t a = {0};
  objs_make(state, &sp, &a.s);

  /* A worker times out on objects the main rank holds or leaves alone. */
  EQ(mpmp_lock_acquire(a.s.lock, 5), 0);
  join_destroy(start_process(timeouts_body, &a, sizeof a));
  EQ(mpmp_lock_is_mine(a.s.lock), 1);
  EQ(mpmp_lock_release(a.s.lock), 0);

  /* The main rank times out on a lock a worker holds, and on the rest. */
  mpmp_process_t *p = start_process(lock_holder, &a, sizeof a);
  EQ(wait_at_least(a.s.v[0], 1, 10), 0);
  RUN(timeouts_part, &a.s);
  EQ(mpmp_event_set(a.s.ev2), 0);
  res_t r = join_res(p);
  EQ(r.rc[0], 0);
  EQ(r.rc[1], 0);
  EQ(r.rc[2], 0);
  EQ(mpmp_event_clear(a.s.ev2), 0);
  EQ(mpmp_lock_acquire(a.s.lock, 5), 0);
  EQ(mpmp_lock_release(a.s.lock), 0);

  /* Everything still works between two ranks. */
  p = start_process(after_timeouts, &a, sizeof a);
  int idx = mpmp_barrier_wait(a.s.bar, 30);
  assert_true(idx == 0 || idx == 1);
  EQ(wait_at_least(a.s.v[3], 1, 10), 0);
  EQ(mpmp_cond_acquire(a.s.cond, 10), 0); /* the worker waits inside */
  EQ(mpmp_value_set_i64(a.s.v[2], 1), 0);
  EQ(mpmp_cond_notify(a.s.cond, 1), 0);
  EQ(mpmp_cond_release(a.s.cond), 0);
  EQ(mpmp_sem_release(a.s.sem), 0);
  EQ(mpmp_event_set(a.s.ev2), 0);
  r = join_res(p);
  EQ(r.rc[0], 1 - idx);
  EQ(r.rc[1], 0);
  EQ(r.rc[2], 0);
  EQ(r.rc[3], 0);
  EQ(mpmp_sem_value(a.s.sem), 0);

  /* One party's timeout breaks the barrier for the others waiting. */
  objargs_t b = a;
  b.timeout = 30;
  b.rounds = 1;
  p = start_process(barrier_waiter, &b, sizeof b);
  double end = test_now() + 10;
  while (mpmp_barrier_n_waiting(a.s.bar2) < 1 && test_now() < end)
    test_sleep(0.001);
  EQ(mpmp_barrier_n_waiting(a.s.bar2), 1);
  double t0 = test_now();
  EQ(mpmp_barrier_wait(a.s.bar2, 0.3), MPMP_ETIMEDOUT);
  IN(test_now() - t0, 0.25, THI);
  r = join_res(p);
  EQ(r.rc[0], MPMP_EBROKEN);
  IN(r.t[0], 0.25, 10);
  EQ(mpmp_barrier_broken(a.s.bar2), 1);
  EQ(mpmp_barrier_reset(a.s.bar2), 0);
  EQ(mpmp_barrier_broken(a.s.bar2), 0);
  objs_free(&a.s);
}

static const struct CMUnitTest tests[] = {
    BOTH(sync_timeouts),
};

MPMP_TEST_MAIN(tests)
