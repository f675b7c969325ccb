/*
 * Fuzz: Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition and
 * Barrier in the wrong state (release of a free lock or of someone else's,
 * over-release, wait without the lock, wait on an aborted barrier), with
 * bad creation arguments, with NaN timeouts (MPMP_EINVAL, and nothing
 * taken, set or broken) and with the legal odd timeouts (inf, -inf, 1e300:
 * wait until ready, asleep; -0.0: do not wait). Each group runs in the
 * three places of fuzz_objs.h.
 */
#include <stdatomic.h>

#include "fuzz_objs.h"

enum { G_STATES, G_TIMEOUTS };

/* ---- a second thread of this rank that holds a lock ---------------------- */

typedef struct holder {
  pthread_t t;
  mpmp_lock_t lock;
  double hold; /* seconds to hold it; 0: until told (state 2) */
  _Atomic int state; /* 1: holds it, 2: told to let go, 3: done, -1: failed */
} holder_t;

static void *holder_main(void *arg) {
  holder_t *h = arg;
  if (mpmp_lock_acquire(h->lock, 10) != 0) {
    atomic_store(&h->state, -1);
    return NULL;
  }
  atomic_store(&h->state, 1);
  if (h->hold > 0)
    test_sleep(h->hold);
  else
    while (atomic_load(&h->state) != 2)
      test_sleep(0.001);
  mpmp_lock_release(h->lock);
  atomic_store(&h->state, 3);
  return NULL;
}

/* Start a holder and wait until it has the lock. */
static int holder_start(holder_t *h, mpmp_lock_t lock, double hold) {
  memset(h, 0, sizeof *h);
  h->lock = lock;
  h->hold = hold;
  if (pthread_create(&h->t, NULL, holder_main, h) != 0)
    return -1;
  while (atomic_load(&h->state) == 0)
    test_sleep(0.001);
  return atomic_load(&h->state) == 1 ? 0 : -1;
}

static void holder_stop(holder_t *h) {
  int one = 1;
  atomic_compare_exchange_strong(&h->state, &one, 2);
  pthread_join(h->t, NULL);
}

/* ---- states --------------------------------------------------------------- */

static void lock_states(const fz_objs_t *o) {
  holder_t h;
  FZ_ERR(MPMP_EINVAL, mpmp_lock_create(NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_rlock_create(NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_lock_acquire(o->lock, NAN));
  FZ_EQ(0, mpmp_lock_is_mine(o->lock)); /* NaN took nothing */
  FZ_ERR(MPMP_EPERM, mpmp_lock_release(o->lock)); /* free */
  FZ_EQ(0, mpmp_lock_acquire(o->lock, 5));
  FZ_TIMEOUT(mpmp_lock_acquire(o->lock, 0.05)); /* self-deadlock */
  FZ_ERR(MPMP_EINVAL, mpmp_lock_acquire(o->lock, NAN));
  FZ_EQ(1, mpmp_lock_is_mine(o->lock));
  FZ_EQ(0, mpmp_lock_release(o->lock));
  FZ_ERR(MPMP_EPERM, mpmp_lock_release(o->lock)); /* released twice */
  /* another thread's lock: not taken by us (a Lock, though, anyone may
   * release: see sync_lock_python_test_lock) */
  FZ_TRUE(holder_start(&h, o->lock, 0) == 0, "the holder thread failed");
  FZ_EQ(1, mpmp_lock_locked(o->lock));
  FZ_EQ(0, mpmp_lock_is_mine(o->lock));
  FZ_TIMEOUT(mpmp_lock_acquire(o->lock, 0));
  FZ_TIMEOUT(mpmp_lock_acquire(o->lock, -0.0));
  holder_stop(&h);
  FZ_EQ(0, mpmp_lock_acquire(o->lock, 0));
  FZ_EQ(0, mpmp_lock_release(o->lock));
  /* RLock: once per acquire, then no more */
  FZ_EQ(0, mpmp_lock_acquire(o->rlock, 5));
  FZ_EQ(0, mpmp_lock_acquire(o->rlock, 5));
  FZ_ERR(MPMP_EINVAL, mpmp_lock_acquire(o->rlock, NAN));
  FZ_EQ(0, mpmp_lock_release(o->rlock));
  FZ_EQ(1, mpmp_lock_is_mine(o->rlock));
  FZ_EQ(0, mpmp_lock_release(o->rlock));
  FZ_ERR(MPMP_EPERM, mpmp_lock_release(o->rlock));
  FZ_EQ(0, mpmp_lock_is_mine(o->rlock));
  /* a Lock freed while held is gone, for its holder too */
  mpmp_lock_t l;
  if (mpmp_lock_create(&l) == 0) {
    FZ_EQ(0, mpmp_lock_acquire(l, 5));
    FZ_EQ(0, mpmp_lock_free(l));
    FZ_ERR(MPMP_EBADF, mpmp_lock_release(l));
    FZ_ERR(MPMP_EBADF, mpmp_lock_is_mine(l));
    FZ_ERR(MPMP_EBADF, mpmp_lock_acquire(l, 0));
  }
}

static void sem_states(const fz_objs_t *o) {
  mpmp_sem_t s;
  FZ_ERR(MPMP_EINVAL, mpmp_sem_create(NULL, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_bsem_create(NULL, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_sem_create(&s, (unsigned)INT32_MAX + 1u));
  FZ_ERR(MPMP_EINVAL, mpmp_sem_create(&s, UINT32_MAX));
  /* BoundedSemaphore(0): allowed, as in Python; it refuses every release */
  if (mpmp_bsem_create(&s, 0) == 0) {
    FZ_EQ(0, mpmp_sem_value(s));
    FZ_TIMEOUT(mpmp_sem_acquire(s, 0));
    FZ_ERR(MPMP_EPERM, mpmp_sem_release(s));
    FZ_EQ(0, mpmp_sem_value(s));
    FZ_EQ(0, mpmp_sem_free(s));
  } else {
    FZ_TRUE(0, "mpmp_bsem_create(&s, 0) failed");
  }
  FZ_ERR(MPMP_EINVAL, mpmp_bsem_create(&s, UINT32_MAX));
  FZ_ERR(MPMP_EINVAL, mpmp_sem_acquire(o->sem, NAN));
  FZ_EQ((int)FZ_SEM0, mpmp_sem_value(o->sem)); /* NaN took nothing */
  for (unsigned i = 0; i < FZ_SEM0; i++)
    FZ_EQ(0, mpmp_sem_acquire(o->sem, 0));
  FZ_ERR(MPMP_EINVAL, mpmp_sem_acquire(o->sem, NAN));
  FZ_TIMEOUT(mpmp_sem_acquire(o->sem, 0));
  FZ_TIMEOUT(mpmp_sem_acquire(o->sem, -0.0));
  FZ_TIMEOUT(mpmp_sem_acquire(o->sem, 0.01));
  for (unsigned i = 0; i < FZ_SEM0; i++)
    FZ_EQ(0, mpmp_sem_release(o->sem));
  FZ_EQ((int)FZ_SEM0, mpmp_sem_value(o->sem));
  /* BoundedSemaphore: over-release refused, value unchanged */
  FZ_ERR(MPMP_EPERM, mpmp_sem_release(o->bsem));
  FZ_EQ((int)FZ_BSEM0, mpmp_sem_value(o->bsem));
  FZ_EQ(0, mpmp_sem_acquire(o->bsem, 0));
  FZ_EQ(0, mpmp_sem_release(o->bsem));
  FZ_ERR(MPMP_EPERM, mpmp_sem_release(o->bsem));
  FZ_EQ((int)FZ_BSEM0, mpmp_sem_value(o->bsem));
  /* a Semaphore at the top of its range: a release cannot wrap it */
  if (mpmp_sem_create(&s, INT32_MAX) == 0) {
    FZ_ERR(0, mpmp_sem_release(s));
    FZ_EQ(INT32_MAX, mpmp_sem_value(s));
    FZ_EQ(0, mpmp_sem_free(s));
  }
}

static void event_states(const fz_objs_t *o) {
  FZ_ERR(MPMP_EINVAL, mpmp_event_create(NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_event_wait(o->ev, NAN));
  FZ_TIMEOUT(mpmp_event_wait(o->ev, 0));
  FZ_TIMEOUT(mpmp_event_wait(o->ev, -0.0));
  FZ_EQ(0, mpmp_event_clear(o->ev));
  FZ_EQ(0, mpmp_event_set(o->ev));
  FZ_EQ(0, mpmp_event_set(o->ev));
  FZ_ERR(MPMP_EINVAL, mpmp_event_wait(o->ev, NAN));
  FZ_EQ(0, mpmp_event_wait(o->ev, -0.0));
  FZ_EQ(1, mpmp_event_is_set(o->ev));
  FZ_EQ(0, mpmp_event_clear(o->ev));
  FZ_EQ(0, mpmp_event_is_set(o->ev));
}

/* Guard against a NaN wait that never ends: some time later, set the
 * flag the predicate reads and notify, whatever the waiter did. */
static _Atomic int cond_flag;
static mpmp_cond_t cond_poked;

static int pred_flag(void *arg) {
  (void)arg;
  return atomic_load(&cond_flag) != 0;
}

static void poke_cond(void *arg) {
  (void)arg;
  for (int round = 0; round < 2; round++) {
    test_sleep(0.3);
    if (mpmp_cond_acquire(cond_poked, 2) == 0) {
      atomic_store(&cond_flag, 1);
      mpmp_cond_notify_all(cond_poked);
      mpmp_cond_release(cond_poked);
    }
  }
}

static void cond_states(const fz_objs_t *o) {
  mpmp_cond_t c;
  mpmp_lock_t lk;
  mpmp_lock_t zero = {{0}};
  fz_later_t poke;
  FZ_ERR(MPMP_EINVAL, mpmp_cond_create(NULL, NULL));
  FZ_ERR(MPMP_EBADF, mpmp_cond_create(&c, &zero));
  if (o->lock.ref.node != (uint32_t)mpmp_node_id())
    FZ_ERR(MPMP_EINVAL, mpmp_cond_create(&c, &o->lock));
  else if (mpmp_cond_create(&c, &o->lock) == 0)
    FZ_EQ(0, mpmp_cond_free(c));
  FZ_ERR(MPMP_EINVAL, mpmp_cond_get_lock(o->cond, NULL));
  FZ_EQ(0, mpmp_cond_get_lock(o->cond, &lk));
  /* without the lock; a timeout after that says it timed out (on another
   * node, the same helper thread of the home rank may serve both) */
  FZ_ERR(MPMP_EPERM, mpmp_cond_wait(o->cond, 0.01));
  FZ_TIMEOUT(mpmp_event_wait(o->ev, 0.01));
  FZ_ERR(MPMP_EPERM, mpmp_cond_wait(o->cond, 0.01));
  FZ_ERR(MPMP_EPERM, mpmp_cond_wait_for(o->cond, pred_flag, NULL, 0.01));
  FZ_ERR(MPMP_EPERM, mpmp_cond_notify(o->cond, 1));
  FZ_ERR(MPMP_EPERM, mpmp_cond_notify_all(o->cond));
  FZ_ERR(MPMP_EPERM, mpmp_cond_release(o->cond));
  FZ_ERR(MPMP_EINVAL, mpmp_cond_acquire(o->cond, NAN));
  FZ_EQ(0, mpmp_lock_is_mine(lk));
  /* with it */
  FZ_EQ(0, mpmp_cond_acquire(o->cond, 5));
  FZ_ERR(MPMP_EINVAL, mpmp_cond_wait_for(o->cond, NULL, NULL, 0.01));
  atomic_store(&cond_flag, 0);
  cond_poked = o->cond;
  fz_later(&poke, 0, poke_cond, NULL);
  FZ_ERR(MPMP_EINVAL, mpmp_cond_wait(o->cond, NAN));
  FZ_EQ(1, mpmp_lock_is_mine(lk));
  FZ_ERR(MPMP_EINVAL, mpmp_cond_wait_for(o->cond, pred_flag, NULL, NAN));
  FZ_EQ(1, mpmp_lock_is_mine(lk));
  FZ_EQ(0, mpmp_cond_notify(o->cond, 0));
  FZ_EQ(0, mpmp_cond_notify(o->cond, UINT32_MAX));
  FZ_TIMEOUT(mpmp_cond_wait(o->cond, -0.0));
  FZ_EQ(1, mpmp_lock_is_mine(lk));
  FZ_EQ(0, mpmp_cond_release(o->cond));
  fz_later_join(&poke);
  FZ_EQ(0, mpmp_lock_is_mine(lk));
  /* a Condition whose Lock was freed: its calls say so; it still frees */
  mpmp_lock_t own;
  if (mpmp_lock_create(&own) == 0 && mpmp_cond_create(&c, &own) == 0) {
    FZ_EQ(0, mpmp_lock_free(own));
    FZ_ERR(MPMP_EBADF, mpmp_cond_acquire(c, 0));
    FZ_ERR(MPMP_EBADF, mpmp_cond_release(c));
    FZ_ERR(MPMP_EBADF, mpmp_cond_notify(c, 1));
    FZ_ERR(MPMP_EBADF, mpmp_cond_wait(c, 0.01));
    FZ_EQ(0, mpmp_cond_free(c));
  }
}

static void barrier_states(const fz_objs_t *o) {
  mpmp_barrier_t b;
  FZ_ERR(MPMP_EINVAL, mpmp_barrier_create(NULL, 2));
  FZ_ERR(MPMP_EINVAL, mpmp_barrier_create(&b, 0));
  FZ_ERR(MPMP_EINVAL, mpmp_barrier_create(&b, (unsigned)INT32_MAX + 1u));
  FZ_ERR(MPMP_EINVAL, mpmp_barrier_create(&b, UINT32_MAX));
  /* Barrier(parties, action, timeout): the same checks, and its own */
  int64_t x = 7;
  FZ_ERR(MPMP_EINVAL, mpmp_barrier_create_ex(NULL, 2, NULL, NULL, 0, -1));
  FZ_ERR(MPMP_EINVAL, mpmp_barrier_create_ex(&b, 0, NULL, NULL, 0, -1));
  FZ_ERR(MPMP_EINVAL, mpmp_barrier_create_ex(&b, UINT32_MAX, NULL, NULL, 0,
                                             -1));
  FZ_ERR(MPMP_EINVAL, mpmp_barrier_create_ex(&b, 2, NULL, NULL, 8, -1));
  FZ_ERR(MPMP_EINVAL, mpmp_barrier_create_ex(&b, 2, NULL, &x, SIZE_MAX, -1));
  FZ_ERR(MPMP_EINVAL, mpmp_barrier_create_ex(&b, 2, NULL, &x,
                                             MPMP_BARRIER_MAX_ARG + 1, -1));
  FZ_ERR(MPMP_EINVAL, mpmp_barrier_create_ex(&b, 2, NULL, NULL, 0, NAN));
  FZ_ERR(MPMP_EINVAL, mpmp_barrier_create_ex(&b, 2, NULL, NULL, 0, -NAN));
  /* an infinite default timeout is no timeout; -inf, as any negative */
  if (mpmp_barrier_create_ex(&b, 1, NULL, &x, sizeof x, INFINITY) == 0) {
    FZ_EQ(0, mpmp_barrier_wait(b, MPMP_DEFAULT_TIMEOUT));
    FZ_EQ(0, mpmp_barrier_free(b));
    FZ_ERR(MPMP_EBADF, mpmp_barrier_wait(b, MPMP_DEFAULT_TIMEOUT));
    FZ_ERR(MPMP_EBADF, mpmp_barrier_free(b));
  }
  if (mpmp_barrier_create_ex(&b, 1, NULL, NULL, 0, -INFINITY) == 0) {
    FZ_EQ(0, mpmp_barrier_wait(b, MPMP_DEFAULT_TIMEOUT));
    FZ_EQ(0, mpmp_barrier_free(b));
  }
  FZ_ERR(MPMP_EINVAL, mpmp_barrier_wait(o->bar, NAN));
  FZ_EQ(0, mpmp_barrier_broken(o->bar)); /* NaN broke nothing */
  FZ_EQ(0, mpmp_barrier_n_waiting(o->bar));
  /* a waiter that times out breaks it for everyone */
  FZ_TIMEOUT(mpmp_barrier_wait(o->bar, -0.0));
  FZ_EQ(1, mpmp_barrier_broken(o->bar));
  FZ_ERR(MPMP_EBROKEN, mpmp_barrier_wait(o->bar, 0.02));
  FZ_EQ(0, mpmp_barrier_reset(o->bar));
  FZ_EQ(0, mpmp_barrier_broken(o->bar));
  /* after abort */
  FZ_EQ(0, mpmp_barrier_abort(o->bar));
  FZ_EQ(0, mpmp_barrier_abort(o->bar));
  FZ_EQ(1, mpmp_barrier_broken(o->bar));
  FZ_ERR(MPMP_EBROKEN, mpmp_barrier_wait(o->bar, 0.02));
  FZ_ERR(MPMP_EBROKEN, mpmp_barrier_wait(o->bar, 0));
  FZ_ERR2(MPMP_EBROKEN, MPMP_EINVAL, mpmp_barrier_wait(o->bar, NAN));
  FZ_EQ(0, mpmp_barrier_n_waiting(o->bar));
  FZ_EQ(2, mpmp_barrier_parties(o->bar));
  FZ_EQ(0, mpmp_barrier_reset(o->bar));
  FZ_EQ(0, mpmp_barrier_broken(o->bar));
  /* one party: never waits */
  if (mpmp_barrier_create(&b, 1) == 0) {
    FZ_EQ(0, mpmp_barrier_wait(b, 0));
    FZ_EQ(0, mpmp_barrier_wait(b, -0.0));
    FZ_EQ(0, mpmp_barrier_free(b));
  }
}

/* ---- odd timeouts: the object becomes ready a little later ---------------- */


static const fz_objs_t *later_objs;

static void later_sem(void *arg) {
  (void)arg;
  mpmp_sem_release(later_objs->sem);
}
static void later_event(void *arg) {
  (void)arg;
  mpmp_event_set(later_objs->ev);
}
static void later_notify(void *arg) {
  (void)arg;
  if (mpmp_cond_acquire(later_objs->cond, 10) == 0) {
    mpmp_cond_notify_all(later_objs->cond);
    mpmp_cond_release(later_objs->cond);
  }
}
static void later_barrier(void *arg) {
  (void)arg;
  mpmp_barrier_wait(later_objs->bar, 10);
}


static void odd_timeouts(const fz_objs_t *o) {
  holder_t h;
  later_objs = o;
  for (unsigned i = 0; i < FZ_SEM0; i++)
    FZ_EQ(0, mpmp_sem_acquire(o->sem, 0));
  for (size_t k = 0; k < FZ_NODD; k++) {
    double t = fz_odd_timeouts[k];
    if (t == 0) { /* -0.0: try once, do not wait */
      FZ_TRUE(holder_start(&h, o->lock, 0) == 0, "the holder failed");
      FZ_TIMEOUT(mpmp_lock_acquire(o->lock, t));
      holder_stop(&h);
      FZ_TIMEOUT(mpmp_sem_acquire(o->sem, t));
      FZ_TIMEOUT(mpmp_event_wait(o->ev, t));
      continue;
    }
    FZ_TRUE(holder_start(&h, o->lock, FZ_LATER_S) == 0, "the holder failed");
    double cpu = fz_thread_cpu();
    FZ_EQ(0, mpmp_lock_acquire(o->lock, t));
    cpu = fz_thread_cpu() - cpu;
    FZ_TRUE(cpu < FZ_MAX_CPU_S, "mpmp_lock_acquire(%g) used %.3f s of CPU "
            "while it waited %.1f s", t, cpu, FZ_LATER_S);
    holder_stop(&h);
    FZ_EQ(0, mpmp_lock_release(o->lock));
    FZ_WAIT_FOR_LATER(later_sem, mpmp_sem_acquire(o->sem, t));
    FZ_WAIT_FOR_LATER(later_event, mpmp_event_wait(o->ev, t));
    FZ_EQ(0, mpmp_event_clear(o->ev));
    FZ_EQ(0, mpmp_cond_acquire(o->cond, 5));
    FZ_WAIT_FOR_LATER(later_notify, mpmp_cond_wait(o->cond, t));
    FZ_EQ(0, mpmp_cond_release(o->cond));
    FZ_WAIT_FOR_LATER(later_barrier, mpmp_barrier_wait(o->bar, t));
  }
  for (unsigned i = 0; i < FZ_SEM0; i++)
    FZ_EQ(0, mpmp_sem_release(o->sem));
}

static void fz_group(int group, const fz_objs_t *o, uint64_t seed) {
  (void)seed;
  if (group == G_TIMEOUTS) {
    odd_timeouts(o);
    return;
  }
  lock_states(o);
  sem_states(o);
  event_states(o);
  cond_states(o);
  barrier_states(o);
}

/* A body that takes a Lock and ends: the next body on the same rank is
 * another process and does not hold it (issue 13, defect 17). */
static int take_lock(mpmp_ctx_t *ctx) {
  const mpmp_lock_t *l = mpmp_arg(ctx, NULL);
  return mpmp_lock_acquire(*l, 10) == 0 ? 0 : mpmp_fail(ctx, "no lock");
}
MPMP_TASK(take_lock);

static int lock_not_mine(mpmp_ctx_t *ctx) {
  const mpmp_lock_t *l = mpmp_arg(ctx, NULL);
  FZ_EQ(0, mpmp_lock_is_mine(*l));
  FZ_EQ(1, mpmp_lock_locked(*l));
  FZ_TIMEOUT(mpmp_lock_acquire(*l, 0));
  /* a Lock, which any process may release (Python's multiprocessing.Lock) */
  FZ_EQ(0, mpmp_lock_release(*l));
  FZ_ERR(MPMP_EPERM, mpmp_lock_release(*l));
  fz_send_notes(ctx);
  return 0;
}
MPMP_TASK(lock_not_mine);

static void fuzz_lock_owner_is_the_process(void **state) {
  (void)state;
  mpmp_lock_t l;
  mpmp_process_t *p = NULL;
  assert_int_equal(mpmp_lock_create(&l), 0);
  FZ_EQ(0, mpmp_process_create(&p, take_lock, &l, sizeof l, NULL));
  FZ_EQ(0, mpmp_process_start(p));
  FZ_EQ(0, mpmp_process_join(p, 30));
  int rank = mpmp_process_rank(p);
  FZ_EQ(0, mpmp_process_destroy(p));
  /* the lowest free worker again: the same rank */
  fz_run_remote(lock_not_mine, &l, sizeof l, __FILE__, __LINE__);
  FZ_EQ(1, rank);
  FZ_EQ(0, mpmp_lock_free(l));
  FZ_DONE();
}

FZ_PLACES(fuzz_sync_states, G_STATES)
FZ_PLACES(fuzz_sync_odd_timeouts, G_TIMEOUTS)

static const struct CMUnitTest tests[] = {
    FZ_PLACES_TESTS(fuzz_sync_states),
    FZ_PLACES_TESTS(fuzz_sync_odd_timeouts),
    cmocka_unit_test(fuzz_lock_owner_is_the_process),
};

MPMP_TEST_MAIN(tests)
