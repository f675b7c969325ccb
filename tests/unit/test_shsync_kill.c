/*
 * Killing the shared-memory primitives of a freed object: every waiter of
 * every kind wakes with MPMP_EBADF, also when the kill races with a waiter
 * going to sleep. The objects live in a MAP_SHARED anonymous mapping, the
 * children check what they see and _exit() with 0 or the failing line.
 */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "base.h"
#include "shsync.h"

#include "shsync_common.h"

/* ---- Kill: the primitives of a freed object ---------------------------------- */

#define KILL_LOCK_THREADS 36 /* per child: two children fill the queue */
#define KILL_OTHER 2         /* per child, on each other primitive */

struct kill_sh {
  mpmp__shlock_t lock;  /* held by the parent */
  mpmp__shlock_t clock; /* the condition's */
  mpmp__shsem_t sem;
  mpmp__shevent_t ev;
  mpmp__shcond_t cond;
  mpmp__shbarrier_t bar; /* one party more than its waiters: never full */
  _Atomic uint32_t cond_in;
  _Atomic int64_t killed_ns; /* mpmp__now() of the kills, in ns */
};

enum { KW_LOCK, KW_SEM, KW_EVENT, KW_COND, KW_BAR };

struct kill_arg {
  struct kill_sh *sh;
  int what, thread, rc;
  double late; /* seconds from the kills to the return */
};

static void *kill_waiter(void *p) {
  struct kill_arg *a = p;
  struct kill_sh *sh = a->sh;
  uint64_t owner = me(a->thread);
  switch (a->what) {
  case KW_LOCK:
    a->rc = mpmp__shlock_acquire(&sh->lock, owner, INFINITY);
    break;
  case KW_SEM:
    a->rc = mpmp__shsem_acquire(&sh->sem, INFINITY);
    break;
  case KW_EVENT:
    a->rc = mpmp__shevent_wait(&sh->ev, INFINITY);
    break;
  case KW_COND:
    if ((a->rc = mpmp__shlock_acquire(&sh->clock, owner, INFINITY)) != 0)
      break;
    atomic_fetch_add(&sh->cond_in, 1);
    a->rc = mpmp__shcond_wait(&sh->cond, &sh->clock, owner, INFINITY);
    /* the lock came back, unless it was killed first */
    if (mpmp__shlock_owner(&sh->clock) == owner)
      mpmp__shlock_release(&sh->clock, owner);
    break;
  case KW_BAR:
    a->rc = mpmp__shbarrier_wait(&sh->bar, INFINITY, NULL);
    break;
  }
  a->late = mpmp__now() - (double)atomic_load(&sh->killed_ns) * 1e-9;
  return NULL;
}

static int kill_child(void *p, int id) {
  enum { N = KILL_LOCK_THREADS + 4 * KILL_OTHER };
  pthread_t th[N];
  struct kill_arg args[N];
  for (int i = 0; i < N; i++) {
    int what = i < KILL_LOCK_THREADS ? KW_LOCK
                                     : 1 + (i - KILL_LOCK_THREADS) / KILL_OTHER;
    args[i] = (struct kill_arg){p, what, id * N + i, 0, 0};
    CHECK(pthread_create(&th[i], NULL, kill_waiter, &args[i]) == 0);
  }
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    if (args[i].rc != MPMP_EBADF || args[i].late > 1.0)
      fprintf(stderr, "child %d: waiter %d (kind %d): rc %d, %.3f s after "
              "the kill\n", id, i, args[i].what, args[i].rc, args[i].late);
    CHECK(args[i].rc == MPMP_EBADF);
    CHECK(args[i].late < 1.0);
  }
  return 0;
}

/* Processes sleep in every primitive with no deadline (the lock's queue
 * full, with overflow sleepers), each primitive is killed: every waiter
 * returns MPMP_EBADF at once; later calls do too, without waiting. */
static void shsync_kill_wakes_every_waiter(void **state) {
  (void)state;
  struct kill_sh *sh = shm(sizeof *sh);
  mpmp__shlock_init(&sh->lock, 0);
  mpmp__shlock_init(&sh->clock, 1);
  assert_int_equal(mpmp__shsem_init(&sh->sem, 0, 0), 0);
  assert_int_equal(mpmp__shbarrier_init(&sh->bar, 2 * KILL_OTHER + 1), 0);
  assert_int_equal(mpmp__shlock_acquire(&sh->lock, me(0), INFINITY), 0);
  pid_t a = spawn(kill_child, sh, 0), b = spawn(kill_child, sh, 1);
  /* all asleep: the lock's queue, its overflow, and the others */
  await_u32(&sh->lock.next, MPMP__SHLOCK_QUEUE);
  await_u32(&sh->lock.overflow_asleep,
            2 * KILL_LOCK_THREADS - MPMP__SHLOCK_QUEUE);
  await_u32(&sh->lock.word, 2);
  await_u32(&sh->sem.waiters, 2 * KILL_OTHER);
  await_u32(&sh->ev.waiters, 2 * KILL_OTHER);
  await_u32(&sh->cond_in, 2 * KILL_OTHER);
  await_cond_waiters(&sh->cond, 2 * KILL_OTHER);
  await_cond_waiters(&sh->bar.cond, 2 * KILL_OTHER);
  sleep_s(0.05);
  atomic_store(&sh->killed_ns, (int64_t)(mpmp__now() * 1e9));
  mpmp__shlock_kill(&sh->lock);
  mpmp__shsem_kill(&sh->sem);
  mpmp__shevent_kill(&sh->ev);
  mpmp__shcond_kill(&sh->cond);
  mpmp__shlock_kill(&sh->clock); /* an own lock goes with its object */
  mpmp__shbarrier_kill(&sh->bar);
  join_ok(a);
  join_ok(b);
  /* Later calls do not wait, whatever the deadline. */
  assert_int_equal(mpmp__shlock_acquire(&sh->lock, me(1), INFINITY),
                   MPMP_EBADF);
  assert_int_equal(mpmp__shlock_acquire(&sh->lock, me(1), -INFINITY),
                   MPMP_EBADF);
  assert_int_equal(mpmp__shlock_try(&sh->lock, me(1)), 0);
  assert_int_equal(mpmp__shsem_acquire(&sh->sem, INFINITY), MPMP_EBADF);
  assert_int_equal(mpmp__shsem_release(&sh->sem, 1), MPMP_EBADF);
  assert_int_equal(mpmp__shsem_value(&sh->sem), 0);
  assert_int_equal(mpmp__shevent_wait(&sh->ev, INFINITY), MPMP_EBADF);
  assert_false(mpmp__shevent_is_set(&sh->ev));
  assert_int_equal(mpmp__shbarrier_wait(&sh->bar, INFINITY, NULL),
                   MPMP_EBADF);
  /* a Condition's wait on a dead one releases nothing */
  mpmp__shlock_t *l = &sh->lock;
  mpmp__shlock_init(l, 0);
  assert_int_equal(mpmp__shlock_acquire(l, me(0), INFINITY), 0);
  assert_int_equal(mpmp__shcond_wait(&sh->cond, l, me(0), INFINITY),
                   MPMP_EBADF);
  assert_int_equal(mpmp__shlock_owner(l), me(0));
  munmap(sh, sizeof *sh);
}

/* The kill lands at every point of a waiter's way into its sleep: right
 * after it announced itself (the window between its last look at the dead
 * mark and the kernel's check of the futex word is a few hundred ns), or a
 * little later, or before it started. It must never sleep through the
 * kill. One waiter, many rounds, each primitive. */
struct race_arg {
  struct kill_sh *sh;
  int what;
  _Atomic int done;
  int rc;
};

static void *race_waiter(void *p) {
  struct race_arg *a = p;
  struct kill_arg k = {a->sh, a->what, 1, 0, 0};
  kill_waiter(&k);
  a->rc = k.rc;
  atomic_store(&a->done, 1);
  return NULL;
}

/* The waiter has announced itself (or is already done). */
static int race_announced(struct race_arg *a) {
  struct kill_sh *sh = a->sh;
  if (atomic_load(&a->done))
    return 1;
  switch (a->what) {
  case KW_LOCK: return atomic_load(&sh->lock.word) == 2;
  case KW_SEM: return atomic_load(&sh->sem.waiters) > 0;
  case KW_EVENT: return atomic_load(&sh->ev.waiters) > 0;
  case KW_COND: return cond_waiters(&sh->cond) > 0;
  default: return cond_waiters(&sh->bar.cond) > 0;
  }
}

static void race_kill(struct kill_sh *sh, int what) {
  switch (what) {
  case KW_LOCK: mpmp__shlock_kill(&sh->lock); break;
  case KW_SEM: mpmp__shsem_kill(&sh->sem); break;
  case KW_EVENT: mpmp__shevent_kill(&sh->ev); break;
  case KW_COND:
    mpmp__shcond_kill(&sh->cond);
    mpmp__shlock_kill(&sh->clock);
    break;
  default: mpmp__shbarrier_kill(&sh->bar); break;
  }
}

static void shsync_kill_races_with_sleep(void **state) {
  (void)state;
  struct kill_sh *sh = shm(sizeof *sh);
  unsigned seed = 12345;
  for (int what = KW_LOCK; what <= KW_BAR; what++) {
    for (int round = 0; round < 400; round++) {
      memset(sh, 0, sizeof *sh);
      mpmp__shlock_init(&sh->lock, 0);
      mpmp__shlock_init(&sh->clock, 1);
      assert_int_equal(mpmp__shbarrier_init(&sh->bar, 2), 0);
      assert_int_equal(mpmp__shlock_acquire(&sh->lock, me(0), INFINITY), 0);
      struct race_arg a = {sh, what, 0, 0};
      pthread_t th;
      assert_int_equal(pthread_create(&th, NULL, race_waiter, &a), 0);
      seed = seed * 1103515245u + 12345u;
      unsigned r = seed >> 16;
      if (r % 8 != 0) { /* 1 round in 8 kills before the waiter starts */
        double end = mpmp__now() + 5;
        while (!race_announced(&a) && mpmp__now() < end)
          mpmp__cpu_relax();
        for (unsigned i = r % 64; i > 0; i--) /* then 0 to ~2 us */
          mpmp__cpu_relax();
      }
      race_kill(sh, what);
      double end = mpmp__now() + 5;
      while (!atomic_load(&a.done) && mpmp__now() < end)
        sleep_s(0.0002);
      if (!atomic_load(&a.done))
        fail_msg("kind %d, round %d: the waiter slept through the kill",
                 what, round);
      pthread_join(th, NULL);
      assert_int_equal(a.rc, MPMP_EBADF);
    }
  }
  munmap(sh, sizeof *sh);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(shsync_kill_wakes_every_waiter),
      cmocka_unit_test(shsync_kill_races_with_sleep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
