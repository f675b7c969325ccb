/*
 * Shared-memory Lock and RLock across forked processes: exclusion, levels,
 * timeouts, fairness, sleeping waiters, and the spinning waiter (exact
 * counts, bounded bypass, timeouts while spinning, queue overflow). The
 * objects live in a MAP_SHARED anonymous mapping, the children check what
 * they see and _exit() with 0 or the failing line.
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

/* ---- Lock ------------------------------------------------------------------- */

/* The lock is idle with nobody queued, asleep or marked. */
static void assert_lock_settled(mpmp__shlock_t *l) {
  assert_int_equal(atomic_load(&l->word), 0);
  assert_int_equal(atomic_load(&l->hungry), 0);
  assert_int_equal(atomic_load(&l->next), atomic_load(&l->serving));
  assert_int_equal(atomic_load(&l->gone), 0);
  assert_int_equal(atomic_load(&l->asleep), 0);
  assert_int_equal(atomic_load(&l->overflow_asleep), 0);
  assert_int_equal(mpmp__shlock_owner(l), 0);
}

static void shlock_uncontended_pair_time(void **state) {
  (void)state;
  mpmp__shlock_t *l = shm(sizeof *l);
  const int n = 5000000;
  uint64_t id = me(0);
  double t0 = mpmp__now();
  for (int i = 0; i < n; i++) {
    mpmp__shlock_acquire(l, id, INFINITY);
    mpmp__shlock_release(l, id);
  }
  double ns = (mpmp__now() - t0) / n * 1e9;
  print_message("uncontended acquire+release: %.1f ns\n", ns);
  assert_true(ns < 1000);
  assert_int_equal(mpmp__shlock_owner(l), 0);
  munmap(l, sizeof *l);
}

struct mutex_sh {
  mpmp__shlock_t lock;
  long counter; /* not atomic: the lock must protect it */
};

static int mutex_child(void *p, int id) {
  struct mutex_sh *sh = p;
  uint64_t owner = me(id);
  for (int i = 0; i < 10000; i++) {
    CHECK(mpmp__shlock_acquire(&sh->lock, owner, INFINITY) == 0);
    CHECK(mpmp__shlock_owner(&sh->lock) == owner);
    volatile long *c = &sh->counter;
    long v = *c;
    if ((i & 63) == 0)
      sched_yield(); /* widen the window a broken lock would show */
    *c = v + 1;
    CHECK(mpmp__shlock_release(&sh->lock, owner) == 0);
  }
  return 0;
}

static void shlock_mutual_exclusion(void **state) {
  (void)state;
  struct mutex_sh *sh = shm(sizeof *sh);
  double t0 = mpmp__now();
  run_children(mutex_child, sh, 4);
  print_message("4 x 10000 contended pairs: %.3f s\n", mpmp__now() - t0);
  assert_int_equal(sh->counter, 40000);
  munmap(sh, sizeof *sh);
}

static int rlock_child(void *p, int id) {
  mpmp__shlock_t *l = p;
  (void)id;
  /* The parent holds two levels: we can neither take nor release it. */
  CHECK(mpmp__shlock_release(l, me(0)) == MPMP_EPERM);
  CHECK(mpmp__shlock_acquire(l, me(0), mpmp__deadline(0.05)) ==
        MPMP_ETIMEDOUT);
  CHECK(mpmp__shlock_acquire(l, me(0), mpmp__deadline(5)) == 0);
  CHECK(mpmp__shlock_release(l, me(0)) == 0);
  return 0;
}

static void shlock_rlock_levels(void **state) {
  (void)state;
  mpmp__shlock_t *l = shm(sizeof *l);
  mpmp__shlock_init(l, 1);
  uint64_t a = me(0), b = me(1);
  assert_int_equal(mpmp__shlock_release(l, a), MPMP_EPERM);
  assert_string_equal(mpmp_errmsg(), "release of a lock this thread does not hold");
  for (int i = 0; i < 3; i++)
    assert_int_equal(mpmp__shlock_acquire(l, a, mpmp__now()), 0);
  assert_int_equal(mpmp__shlock_owner(l), a);
  assert_int_equal(mpmp__shlock_release(l, b), MPMP_EPERM);
  assert_int_equal(mpmp__shlock_acquire(l, b, mpmp__now()), MPMP_ETIMEDOUT);
  assert_int_equal(mpmp__shlock_release(l, a), 0);
  pid_t pid = spawn(rlock_child, l, 0);
  sleep_s(0.2); /* two levels still held: the child times out */
  assert_int_equal(mpmp__shlock_release(l, a), 0);
  assert_int_equal(mpmp__shlock_owner(l), a);
  assert_int_equal(mpmp__shlock_release(l, a), 0); /* the child gets it */
  join_ok(pid);
  assert_int_equal(mpmp__shlock_release(l, a), MPMP_EPERM);
  assert_int_equal(mpmp__shlock_acquire(l, 0, INFINITY), MPMP_EINVAL);
  munmap(l, sizeof *l);
}

static void shlock_plain_lock_is_not_recursive(void **state) {
  (void)state;
  mpmp__shlock_t *l = shm(sizeof *l); /* all zero: a plain Lock */
  uint64_t a = me(0);
  assert_int_equal(mpmp__shlock_acquire(l, a, INFINITY), 0);
  /* Like Python's Lock: acquiring it again waits (here until the deadline). */
  double t0 = mpmp__now();
  assert_int_equal(mpmp__shlock_acquire(l, a, mpmp__deadline(0.05)),
                   MPMP_ETIMEDOUT);
  assert_true(mpmp__now() - t0 >= 0.045);
  assert_int_equal(mpmp__shlock_release(l, me(1)), MPMP_EPERM);
  assert_int_equal(mpmp__shlock_release(l, a), 0);
  assert_int_equal(mpmp__shlock_release(l, a), MPMP_EPERM);
  assert_int_equal(mpmp__shlock_acquire(l, a, mpmp__now()), 0);
  assert_int_equal(mpmp__shlock_release(l, a), 0);
  munmap(l, sizeof *l);
}

static int timeout_child(void *p, int id) {
  mpmp__shlock_t *l = p;
  double t0 = mpmp__now();
  CHECK(mpmp__shlock_acquire(l, me(id), mpmp__deadline(0.1)) == MPMP_ETIMEDOUT);
  double dt = mpmp__now() - t0;
  CHECK(dt >= 0.09 && dt <= 0.3);
  t0 = mpmp__now();
  CHECK(mpmp__shlock_acquire(l, me(id), mpmp__now()) == MPMP_ETIMEDOUT);
  CHECK(mpmp__now() - t0 < 0.01); /* a try does not wait */
  return 0;
}

static void shlock_timeout_then_usable(void **state) {
  (void)state;
  mpmp__shlock_t *l = shm(sizeof *l);
  uint64_t a = me(0);
  assert_int_equal(mpmp__shlock_acquire(l, a, INFINITY), 0);
  run_children(timeout_child, l, 3); /* three abandoned tickets */
  assert_int_equal(mpmp__shlock_release(l, a), 0);
  /* The turn skipped the abandoned tickets: the lock is free again. */
  assert_lock_settled(l);
  assert_int_equal(mpmp__shlock_acquire(l, me(1), mpmp__now()), 0);
  assert_int_equal(mpmp__shlock_release(l, me(1)), 0);
  munmap(l, sizeof *l);
}

struct stress_sh {
  mpmp__shlock_t lock;
  long counter;
  _Atomic long ok, timeouts;
};

/* Short random deadlines: turns keep reaching tickets as they give up. */
static int stress_child(void *p, int id) {
  struct stress_sh *sh = p;
  unsigned seed = (unsigned)getpid();
  for (int i = 0; i < 3000; i++) {
    double tmo = (1 + rand_r(&seed) % 30) * 1e-6;
    int rc = mpmp__shlock_acquire(&sh->lock, me(id), mpmp__deadline(tmo));
    if (rc == MPMP_ETIMEDOUT) {
      atomic_fetch_add(&sh->timeouts, 1);
      continue;
    }
    CHECK(rc == 0);
    volatile long *c = &sh->counter;
    long v = *c;
    double until = mpmp__now() + 5e-6; /* hold it a while */
    while (mpmp__now() < until) {
    }
    *c = v + 1;
    atomic_fetch_add(&sh->ok, 1);
    CHECK(mpmp__shlock_release(&sh->lock, me(id)) == 0);
  }
  return 0;
}

static void shlock_timeouts_stress(void **state) {
  (void)state;
  struct stress_sh *sh = shm(sizeof *sh);
  run_children(stress_child, sh, 6);
  print_message("acquired %ld, timed out %ld\n", atomic_load(&sh->ok),
                atomic_load(&sh->timeouts));
  assert_int_equal(sh->counter, atomic_load(&sh->ok));
  assert_int_equal(atomic_load(&sh->ok) + atomic_load(&sh->timeouts), 18000);
  assert_true(atomic_load(&sh->timeouts) > 0);
  assert_lock_settled(&sh->lock);
  munmap(sh, sizeof *sh);
}

struct fair_sh {
  mpmp__shlock_t lock;
  _Atomic int stop;
  _Atomic long loops[2];
  double worst; /* the third process's slowest acquire */
};

/*
 * Hold the lock 0.5 ms, release and take it again at once. With a lock
 * that lets a running process barge (glibc's process-shared mutex, for
 * one), the third process, which has to be woken and scheduled first,
 * finds it taken again nearly every time: on 2 cores, a quarter of its
 * 100 ms acquires fail.
 */
static int fair_looper(void *p, int id) {
  struct fair_sh *sh = p;
  double end = mpmp__now() + 2.0;
  while (mpmp__now() < end) {
    CHECK(mpmp__shlock_acquire(&sh->lock, me(id), INFINITY) == 0);
    atomic_fetch_add(&sh->loops[id], 1);
    double until = mpmp__now() + 0.5e-3;
    while (mpmp__now() < until) {
    }
    CHECK(mpmp__shlock_release(&sh->lock, me(id)) == 0);
  }
  return 0;
}

static int fair_third(void *p, int id) {
  struct fair_sh *sh = p;
  sleep_s(0.1); /* let the loopers get going */
  for (int i = 0; i < 50; i++) {
    double t0 = mpmp__now();
    CHECK(mpmp__shlock_acquire(&sh->lock, me(id), t0 + 0.1) == 0);
    double dt = mpmp__now() - t0;
    sh->worst = fmax(sh->worst, dt);
    CHECK(mpmp__shlock_release(&sh->lock, me(id)) == 0);
    sleep_s(0.02);
  }
  return 0;
}

static void shlock_fairness(void **state) {
  (void)state;
  struct fair_sh *sh = shm(sizeof *sh);
  pid_t a = spawn(fair_looper, sh, 0), b = spawn(fair_looper, sh, 1);
  pid_t c = spawn(fair_third, sh, 2);
  join_ok(c);
  join_ok(a);
  join_ok(b);
  print_message("loopers: %ld + %ld turns in 2 s; third's worst acquire %.3f ms\n",
                atomic_load(&sh->loops[0]), atomic_load(&sh->loops[1]),
                sh->worst * 1e3);
  assert_true(atomic_load(&sh->loops[0]) > 100);
  assert_true(atomic_load(&sh->loops[1]) > 100);
  munmap(sh, sizeof *sh);
}

static int blocked_child(void *p, int id) {
  mpmp__shlock_t *l = p;
  CHECK(mpmp__shlock_acquire(l, me(id), INFINITY) == 0);
  CHECK(mpmp__shlock_release(l, me(id)) == 0);
  return 0;
}

static void shlock_sleeper_uses_no_cpu(void **state) {
  (void)state;
  mpmp__shlock_t *l = shm(sizeof *l);
  assert_int_equal(mpmp__shlock_acquire(l, me(0), INFINITY), 0);
  double cpu0 = child_cpu_s();
  pid_t pid = spawn(blocked_child, l, 1);
  await_u32(&l->next, 1); /* it holds a ticket: it is waiting */
  await_u32(&l->word, 2); /* at the head, it polled, then slept */
  sleep_s(1.0);
  double t0 = mpmp__now();
  assert_int_equal(mpmp__shlock_release(l, me(0)), 0);
  join_ok(pid);
  assert_lock_settled(l);
  double cpu = child_cpu_s() - cpu0, wake = mpmp__now() - t0;
  print_message("child blocked 1 s used %.1f ms CPU; woke and exited in %.2f ms\n",
                cpu * 1e3, wake * 1e3);
  assert_true(cpu < 0.02);
  munmap(l, sizeof *l);
}

/* ---- Lock: the spinning waiter -------------------------------------------- */

#define MANY_PROCS 4
#define MANY_ITERS 100000

struct many_sh {
  mpmp__shlock_t lock;
  long counter; /* shares the lock's cache line */
  char pad[64];
  long far_counter; /* a line of its own */
  double start;     /* a common start time */
};

static int many_child(void *p, int id) {
  struct many_sh *sh = p;
  uint64_t owner = me(id);
  volatile long *c = &sh->counter, *f = &sh->far_counter;
  while (mpmp__now() < sh->start) {
  }
  for (int i = 0; i < MANY_ITERS; i++) {
    CHECK(mpmp__shlock_acquire(&sh->lock, owner, INFINITY) == 0);
    long v = *c, w = *f;
    *c = v + 1;
    *f = w + 1;
    CHECK(mpmp__shlock_release(&sh->lock, owner) == 0);
  }
  return 0;
}

/* More processes than cores, all in a tight loop: the next in line spins,
 * the others sleep and are woken early; not one increment may be lost. */
static void shlock_many_processes_exact(void **state) {
  (void)state;
  struct many_sh *sh = shm(sizeof *sh);
  sh->start = mpmp__now() + 0.05;
  run_children(many_child, sh, MANY_PROCS);
  double dt = mpmp__now() - sh->start;
  print_message("%d x %d locked increments: %.3f s (%.2f M/s)\n", MANY_PROCS,
                MANY_ITERS, dt, MANY_PROCS * MANY_ITERS / dt * 1e-6);
  assert_int_equal(sh->counter, (long)MANY_PROCS * MANY_ITERS);
  assert_int_equal(sh->far_counter, (long)MANY_PROCS * MANY_ITERS);
  assert_lock_settled(&sh->lock);
  munmap(sh, sizeof *sh);
}

#define BYPASS_ITERS 20000

struct bypass_sh {
  mpmp__shlock_t lock;
  _Atomic int done;
  long looper_turns, waiter_turns, waiter_queued; /* guarded by the lock */
  double worst_wait, total_wait;                  /* the waiter's */
  double start; /* a common start time */
};

static void busy_s(double s) {
  double until = mpmp__now() + s;
  while (mpmp__now() < until) {
  }
}

/*
 * Releases and re-acquires at once, as long as the waiter runs; now and
 * then it holds the lock past the spin phase, so that the waiter also goes
 * through sleeping and being woken. It may take the lock past the queued
 * waiter (a newcomer may barge: that keeps a busy lock on one core); the
 * waiter must still get every one of its turns promptly, and the lock must
 * end settled. (shlock_fairness shows the bound on barging: without it,
 * its third process starves.)
 */
static int bypass_looper(void *p, int id) {
  struct bypass_sh *sh = p;
  uint64_t o = me(id);
  while (mpmp__now() < sh->start) {
  }
  for (long i = 0; !atomic_load(&sh->done); i++) {
    CHECK(mpmp__shlock_acquire(&sh->lock, o, INFINITY) == 0);
    sh->looper_turns++;
    if (i % 1000 == 999)
      busy_s(100e-6); /* past the spin: the waiter sleeps */
    uint32_t queued =
        atomic_load(&sh->lock.next) - atomic_load(&sh->lock.serving);
    CHECK(queued <= 1);
    sh->waiter_queued += queued;
    CHECK(mpmp__shlock_release(&sh->lock, o) == 0);
  }
  return 0;
}

static int bypass_waiter(void *p, int id) {
  struct bypass_sh *sh = p;
  uint64_t o = me(id);
  while (mpmp__now() < sh->start) {
  }
  for (int i = 0; i < BYPASS_ITERS; i++) {
    double t0 = mpmp__now();
    CHECK(mpmp__shlock_acquire(&sh->lock, o, INFINITY) == 0);
    double dt = mpmp__now() - t0;
    sh->worst_wait = fmax(sh->worst_wait, dt);
    sh->total_wait += dt;
    sh->waiter_turns++;
    CHECK(mpmp__shlock_release(&sh->lock, o) == 0);
    if (i % 1000 == 500)
      sleep_s(200e-6); /* let the looper have a run of its own */
  }
  atomic_store(&sh->done, 1);
  return 0;
}

static void shlock_bypass_is_bounded(void **state) {
  (void)state;
  struct bypass_sh *sh = shm(sizeof *sh);
  sh->start = mpmp__now() + 0.05;
  pid_t a = spawn(bypass_looper, sh, 0), b = spawn(bypass_waiter, sh, 1);
  join_ok(b);
  join_ok(a);
  print_message("looper %ld turns, %ld of them with the waiter queued; "
                "waiter %ld turns, mean wait %.2f us, worst %.3f ms\n",
                sh->looper_turns, sh->waiter_queued, sh->waiter_turns,
                sh->total_wait / BYPASS_ITERS * 1e6, sh->worst_wait * 1e3);
  assert_int_equal(sh->waiter_turns, BYPASS_ITERS);
  /* Microseconds, or the scheduler's hiccups on a loaded 2-core machine. */
  assert_true(sh->worst_wait < 0.1);
  assert_lock_settled(&sh->lock);
  munmap(sh, sizeof *sh);
}

struct spin_tmo_sh {
  mpmp__shlock_t lock;
  long counter;
  _Atomic long ok, timeouts, early;
  _Atomic int done;
};

/* Tight loop, no deadline: keeps a spinning waiter next in line. */
static int spin_tmo_looper(void *p, int id) {
  struct spin_tmo_sh *sh = p;
  uint64_t o = me(id);
  unsigned seed = (unsigned)getpid();
  while (!atomic_load(&sh->done)) {
    CHECK(mpmp__shlock_acquire(&sh->lock, o, INFINITY) == 0);
    volatile long *c = &sh->counter;
    long v = *c;
    if (rand_r(&seed) % 8 == 0)
      busy_s((rand_r(&seed) % 60) * 1e-6); /* around the spin phase */
    *c = v + 1;
    atomic_fetch_add(&sh->ok, 1);
    CHECK(mpmp__shlock_release(&sh->lock, o) == 0);
  }
  return 0;
}

/* Deadlines from 1 to 60 us: they pass while spinning, while asleep, and
 * just as the turn comes. A timed-out acquire never returns early. */
static int spin_tmo_child(void *p, int id) {
  struct spin_tmo_sh *sh = p;
  uint64_t o = me(id);
  unsigned seed = (unsigned)getpid();
  double end = mpmp__now() + 5;
  while (atomic_load(&sh->ok) < 1000 && mpmp__now() < end)
    sched_yield(); /* the loopers are going */
  end = mpmp__now() + 0.3;
  while (mpmp__now() < end) {
    double deadline = mpmp__deadline((1 + rand_r(&seed) % 60) * 1e-6);
    int rc = mpmp__shlock_acquire(&sh->lock, o, deadline);
    if (rc == MPMP_ETIMEDOUT) {
      if (mpmp__now() < deadline)
        atomic_fetch_add(&sh->early, 1);
      atomic_fetch_add(&sh->timeouts, 1);
      continue;
    }
    CHECK(rc == 0);
    CHECK(mpmp__shlock_owner(&sh->lock) == o);
    volatile long *c = &sh->counter;
    long v = *c;
    *c = v + 1;
    atomic_fetch_add(&sh->ok, 1);
    CHECK(mpmp__shlock_release(&sh->lock, o) == 0);
  }
  return 0;
}

static void shlock_timeouts_while_spinning(void **state) {
  (void)state;
  struct spin_tmo_sh *sh = shm(sizeof *sh);
  pid_t loopers[2] = {spawn(spin_tmo_looper, sh, 0),
                      spawn(spin_tmo_looper, sh, 1)};
  pid_t timed[2] = {spawn(spin_tmo_child, sh, 2), spawn(spin_tmo_child, sh, 3)};
  join_ok(timed[0]);
  join_ok(timed[1]);
  atomic_store(&sh->done, 1);
  join_ok(loopers[0]);
  join_ok(loopers[1]);
  print_message("acquired %ld, timed out %ld\n", atomic_load(&sh->ok),
                atomic_load(&sh->timeouts));
  assert_int_equal(sh->counter, atomic_load(&sh->ok));
  assert_true(atomic_load(&sh->timeouts) > 0);
  assert_int_equal(atomic_load(&sh->early), 0);
  assert_lock_settled(&sh->lock);
  /* The lock works as before. */
  assert_int_equal(mpmp__shlock_acquire(&sh->lock, me(0), mpmp__now()), 0);
  assert_int_equal(mpmp__shlock_release(&sh->lock, me(0)), 0);
  munmap(sh, sizeof *sh);
}

/* More waiters than the queue holds: threads in two processes. */
struct ovf_sh {
  mpmp__shlock_t lock;
  long counter;
};

struct ovf_arg {
  struct ovf_sh *sh;
  int thread, rc;
};

static void *ovf_thread(void *p) {
  struct ovf_arg *a = p;
  uint64_t owner = me(a->thread);
  a->rc = -1;
  if (mpmp__shlock_acquire(&a->sh->lock, owner, mpmp__deadline(10)) != 0)
    return NULL;
  a->sh->counter++;
  a->rc = mpmp__shlock_release(&a->sh->lock, owner);
  return NULL;
}

#define OVF_THREADS 40

static int ovf_child(void *p, int id) {
  (void)id;
  pthread_t th[OVF_THREADS];
  struct ovf_arg args[OVF_THREADS];
  for (int i = 0; i < OVF_THREADS; i++) {
    args[i] = (struct ovf_arg){p, i, 0};
    CHECK(pthread_create(&th[i], NULL, ovf_thread, &args[i]) == 0);
  }
  for (int i = 0; i < OVF_THREADS; i++) {
    pthread_join(th[i], NULL);
    CHECK(args[i].rc == 0);
  }
  return 0;
}

static void shlock_queue_overflow(void **state) {
  (void)state;
  struct ovf_sh *sh = shm(sizeof *sh);
  mpmp__shlock_t *l = &sh->lock;
  assert_int_equal(mpmp__shlock_acquire(l, me(0), INFINITY), 0);
  pid_t a = spawn(ovf_child, sh, 0), b = spawn(ovf_child, sh, 1);
  await_u32(&l->next, MPMP__SHLOCK_QUEUE); /* the queue is full */
  sleep_s(0.05);
  assert_int_equal(atomic_load(&l->next) - atomic_load(&l->serving),
                   MPMP__SHLOCK_QUEUE);
  /* The head (ticket 0) sleeps on the word, tickets 1..63 on the queue,
   * and so do the threads that found no room. */
  await_u32(&l->word, 2);
  await_u64_eq(&l->asleep, ~1ull);
  await_u32(&l->overflow_asleep, 2 * OVF_THREADS - MPMP__SHLOCK_QUEUE);
  /* A try from outside the queue fails at once. */
  assert_int_equal(mpmp__shlock_acquire(l, me(1), mpmp__now()), MPMP_ETIMEDOUT);
  assert_int_equal(mpmp__shlock_release(l, me(0)), 0);
  join_ok(a);
  join_ok(b);
  assert_int_equal(sh->counter, 2 * OVF_THREADS);
  assert_lock_settled(l);
  munmap(sh, sizeof *sh);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(shlock_uncontended_pair_time),
      cmocka_unit_test(shlock_mutual_exclusion),
      cmocka_unit_test(shlock_rlock_levels),
      cmocka_unit_test(shlock_plain_lock_is_not_recursive),
      cmocka_unit_test(shlock_timeout_then_usable),
      cmocka_unit_test(shlock_timeouts_stress),
      cmocka_unit_test(shlock_fairness),
      cmocka_unit_test(shlock_sleeper_uses_no_cpu),
      cmocka_unit_test(shlock_queue_overflow),
      cmocka_unit_test(shlock_many_processes_exact),
      cmocka_unit_test(shlock_bypass_is_bounded),
      cmocka_unit_test(shlock_timeouts_while_spinning),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
