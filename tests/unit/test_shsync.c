/*
 * Shared-memory Lock, RLock, Semaphore, Event, Condition and Barrier across
 * forked processes: the objects live in a MAP_SHARED anonymous mapping, the
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

/* ---- helpers ---------------------------------------------------------------- */

/* In a child: report the failed check and make it the exit status. */
#define CHECK(cond)                                                    \
  do {                                                                 \
    if (!(cond)) {                                                     \
      fprintf(stderr, "child %d: line %d: check failed: %s\n",        \
              (int)getpid(), __LINE__, #cond);                         \
      return 1;                                                        \
    }                                                                  \
  } while (0)

typedef int (*child_fn)(void *shared, int id);

static void *shm(size_t n) {
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                 -1, 0);
  assert_true(p != MAP_FAILED);
  memset(p, 0, n);
  return p;
}

static pid_t spawn(child_fn fn, void *shared, int id) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    alarm(20); /* a hang kills the child; the parent sees the signal */
    _exit(fn(shared, id));
  }
  return pid;
}

static void join_ok(pid_t pid) {
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  if (WIFSIGNALED(st))
    fail_msg("child %d killed by signal %d", (int)pid, WTERMSIG(st));
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
}

/* Run fn in n children (ids 0..n-1) and check they all succeed. */
static void run_children(child_fn fn, void *shared, int n) {
  pid_t pids[16];
  assert_true(n <= 16);
  for (int i = 0; i < n; i++)
    pids[i] = spawn(fn, shared, i);
  for (int i = 0; i < n; i++)
    join_ok(pids[i]);
}

static uint64_t me(int thread) {
  return (uint64_t)getpid() << 32 | (uint32_t)(thread + 1);
}

static void sleep_s(double s) {
  struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
  nanosleep(&ts, NULL);
}

/* Poll (in the parent) until *w reaches want, for at most 5 s. */
static void await_u32(_Atomic uint32_t *w, uint32_t want) {
  double end = mpmp__now() + 5;
  while (atomic_load(w) < want && mpmp__now() < end)
    sleep_s(0.001);
  assert_true(atomic_load(w) >= want);
}

/* Poll (in the parent) until *w == want, for at most 5 s. */
static void await_u64_eq(_Atomic uint64_t *w, uint64_t want) {
  double end = mpmp__now() + 5;
  while (atomic_load(w) != want && mpmp__now() < end)
    sleep_s(0.001);
  assert_true(atomic_load(w) == want);
}

static double child_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

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

/* ---- Semaphore -------------------------------------------------------------- */

struct sem_sh {
  mpmp__shsem_t sem;
  _Atomic int holders, max_holders;
};

static int sem_child(void *p, int id) {
  struct sem_sh *sh = p;
  (void)id;
  for (int i = 0; i < 200; i++) {
    CHECK(mpmp__shsem_acquire(&sh->sem, INFINITY) == 0);
    int h = atomic_fetch_add(&sh->holders, 1) + 1;
    int m = atomic_load(&sh->max_holders);
    while (h > m && !atomic_compare_exchange_weak(&sh->max_holders, &m, h)) {
    }
    sleep_s(20e-6);
    atomic_fetch_sub(&sh->holders, 1);
    CHECK(mpmp__shsem_release(&sh->sem, 1) == 0);
  }
  return 0;
}

static void shsem_limits_holders(void **state) {
  (void)state;
  struct sem_sh *sh = shm(sizeof *sh);
  assert_int_equal(mpmp__shsem_init(&sh->sem, 2, 0), 0);
  run_children(sem_child, sh, 5);
  assert_int_equal(atomic_load(&sh->max_holders), 2);
  assert_int_equal(mpmp__shsem_value(&sh->sem), 2);
  munmap(sh, sizeof *sh);
}

static void shsem_bounded_over_release(void **state) {
  (void)state;
  mpmp__shsem_t *s = shm(sizeof *s);
  assert_int_equal(mpmp__shsem_init(s, 3, 2), MPMP_EINVAL);
  assert_int_equal(mpmp__shsem_init(s, 1, 2), 0);
  assert_int_equal(mpmp__shsem_release(s, 1), 0);
  assert_int_equal(mpmp__shsem_release(s, 1), MPMP_EPERM);
  assert_string_equal(mpmp_errmsg(),
                      "BoundedSemaphore released too many times (value would exceed 2)");
  assert_int_equal(mpmp__shsem_value(s), 2);
  assert_int_equal(mpmp__shsem_acquire(s, mpmp__now()), 0);
  assert_int_equal(mpmp__shsem_release(s, 2), MPMP_EPERM);
  assert_int_equal(mpmp__shsem_release(s, 0), MPMP_EINVAL);
  assert_int_equal(mpmp__shsem_value(s), 1);
  /* Unbounded: any number of releases, up to INT32_MAX. */
  assert_int_equal(mpmp__shsem_init(s, 0, 0), 0);
  assert_int_equal(mpmp__shsem_release(s, 1000), 0);
  assert_int_equal(mpmp__shsem_value(s), 1000);
  assert_int_equal(mpmp__shsem_release(s, INT32_MAX), MPMP_EINVAL);
  munmap(s, sizeof *s);
}

static int sem_wait_child(void *p, int id) {
  mpmp__shsem_t *s = p;
  (void)id;
  double t0 = mpmp__now();
  CHECK(mpmp__shsem_acquire(s, mpmp__deadline(0.1)) == MPMP_ETIMEDOUT);
  CHECK(mpmp__now() - t0 >= 0.09 && mpmp__now() - t0 < 0.3);
  CHECK(mpmp__shsem_acquire(s, mpmp__deadline(5)) == 0); /* parent releases */
  return 0;
}

static void shsem_timeout_and_wake(void **state) {
  (void)state;
  mpmp__shsem_t *s = shm(sizeof *s); /* all zero: value 0, unbounded */
  assert_int_equal(mpmp__shsem_acquire(s, mpmp__now()), MPMP_ETIMEDOUT);
  pid_t a = spawn(sem_wait_child, s, 0), b = spawn(sem_wait_child, s, 1);
  sleep_s(0.3);
  assert_int_equal(mpmp__shsem_release(s, 2), 0); /* wakes both */
  join_ok(a);
  join_ok(b);
  assert_int_equal(mpmp__shsem_value(s), 0);
  munmap(s, sizeof *s);
}

/* ---- Event ------------------------------------------------------------------ */

struct event_sh {
  mpmp__shevent_t ev;
  _Atomic uint32_t ready;
};

static int event_child(void *p, int id) {
  struct event_sh *sh = p;
  (void)id;
  double t0 = mpmp__now();
  CHECK(mpmp__shevent_wait(&sh->ev, mpmp__deadline(0.05)) == MPMP_ETIMEDOUT);
  CHECK(mpmp__now() - t0 >= 0.045);
  atomic_fetch_add(&sh->ready, 1);
  CHECK(mpmp__shevent_wait(&sh->ev, mpmp__deadline(5)) == 0);
  return 0;
}

static void shevent_wait_set_across_processes(void **state) {
  (void)state;
  struct event_sh *sh = shm(sizeof *sh);
  mpmp__shevent_t *e = &sh->ev;
  assert_false(mpmp__shevent_is_set(e));
  assert_int_equal(mpmp__shevent_wait(e, mpmp__now()), MPMP_ETIMEDOUT);
  pid_t pids[3];
  for (int i = 0; i < 3; i++)
    pids[i] = spawn(event_child, sh, i);
  await_u32(&sh->ready, 3);
  await_u32(&e->waiters, 3);
  sleep_s(0.05);
  /* Set then clear at once: every waiter still wakes, as in Python. */
  mpmp__shevent_set(e);
  mpmp__shevent_clear(e);
  for (int i = 0; i < 3; i++)
    join_ok(pids[i]);
  assert_false(mpmp__shevent_is_set(e));
  mpmp__shevent_set(e);
  mpmp__shevent_set(e);
  assert_true(mpmp__shevent_is_set(e));
  assert_int_equal(mpmp__shevent_wait(e, mpmp__now()), 0);
  munmap(sh, sizeof *sh);
}

/* ---- Condition -------------------------------------------------------------- */

#define PC_ITEMS 2000
#define PC_CAP 8

struct pc_sh {
  mpmp__shlock_t lock;
  mpmp__shcond_t not_empty, not_full;
  int buf[PC_CAP];
  int head, len, produced, consumed;
  long sum;
};

static int pc_has_items(void *p) {
  struct pc_sh *sh = p;
  return sh->len > 0 || sh->consumed + sh->len >= PC_ITEMS;
}

static int pc_has_room(void *p) { return ((struct pc_sh *)p)->len < PC_CAP; }

static int pc_producer(void *p, int id) {
  struct pc_sh *sh = p;
  uint64_t o = me(id);
  for (int i = 0; i < PC_ITEMS / 2; i++) {
    CHECK(mpmp__shlock_acquire(&sh->lock, o, INFINITY) == 0);
    CHECK(mpmp__shcond_wait_for(&sh->not_full, &sh->lock, o, pc_has_room, sh,
                                mpmp__deadline(10)) == 0);
    sh->buf[(sh->head + sh->len++) % PC_CAP] = ++sh->produced;
    mpmp__shcond_notify(&sh->not_empty, 1);
    CHECK(mpmp__shlock_release(&sh->lock, o) == 0);
  }
  return 0;
}

/* Each consumer takes items until all PC_ITEMS are consumed. */
static int pc_consumer(void *p, int id) {
  struct pc_sh *sh = p;
  uint64_t o = me(id);
  CHECK(mpmp__shlock_acquire(&sh->lock, o, INFINITY) == 0);
  for (;;) {
    CHECK(mpmp__shcond_wait_for(&sh->not_empty, &sh->lock, o, pc_has_items,
                                sh, mpmp__deadline(10)) == 0);
    if (sh->len == 0)
      break; /* everything was consumed */
    sh->sum += sh->buf[sh->head];
    sh->head = (sh->head + 1) % PC_CAP;
    sh->len--;
    if (++sh->consumed == PC_ITEMS)
      mpmp__shcond_notify_all(&sh->not_empty); /* release the other one */
    mpmp__shcond_notify(&sh->not_full, 1);
  }
  CHECK(mpmp__shlock_release(&sh->lock, o) == 0);
  return 0;
}

static void shcond_producer_consumer(void **state) {
  (void)state;
  struct pc_sh *sh = shm(sizeof *sh);
  pid_t pids[4] = {spawn(pc_consumer, sh, 0), spawn(pc_consumer, sh, 1),
                   spawn(pc_producer, sh, 2), spawn(pc_producer, sh, 3)};
  for (int i = 0; i < 4; i++)
    join_ok(pids[i]);
  assert_int_equal(sh->consumed, PC_ITEMS);
  assert_int_equal(sh->sum, (long)PC_ITEMS * (PC_ITEMS + 1) / 2);
  munmap(sh, sizeof *sh);
}

struct notify_sh {
  mpmp__shlock_t lock;
  mpmp__shcond_t cond;
  _Atomic uint32_t waiting, woken;
};

static int notify_child(void *p, int id) {
  struct notify_sh *sh = p;
  uint64_t o = me(id);
  CHECK(mpmp__shlock_acquire(&sh->lock, o, INFINITY) == 0);
  atomic_fetch_add(&sh->waiting, 1);
  CHECK(mpmp__shcond_wait(&sh->cond, &sh->lock, o, mpmp__deadline(10)) == 0);
  CHECK(mpmp__shlock_owner(&sh->lock) == o);
  atomic_fetch_add(&sh->woken, 1);
  CHECK(mpmp__shlock_release(&sh->lock, o) == 0);
  return 0;
}

static void notify_locked(struct notify_sh *sh, unsigned n) {
  assert_int_equal(mpmp__shlock_acquire(&sh->lock, me(0), INFINITY), 0);
  if (n == UINT_MAX)
    mpmp__shcond_notify_all(&sh->cond);
  else
    mpmp__shcond_notify(&sh->cond, n);
  assert_int_equal(mpmp__shlock_release(&sh->lock, me(0)), 0);
}

static void shcond_notify_one_then_all(void **state) {
  (void)state;
  struct notify_sh *sh = shm(sizeof *sh);
  pid_t pids[4];
  for (int i = 0; i < 4; i++)
    pids[i] = spawn(notify_child, sh, i + 1);
  await_u32(&sh->waiting, 4);
  await_u32(&sh->cond.waiters, 4);
  sleep_s(0.05); /* all asleep in the kernel */
  notify_locked(sh, 1);
  await_u32(&sh->woken, 1);
  sleep_s(0.1);
  assert_int_equal(atomic_load(&sh->woken), 1);
  notify_locked(sh, 0); /* wakes nobody */
  sleep_s(0.05);
  assert_int_equal(atomic_load(&sh->woken), 1);
  notify_locked(sh, UINT_MAX);
  for (int i = 0; i < 4; i++)
    join_ok(pids[i]);
  assert_int_equal(atomic_load(&sh->woken), 4);
  munmap(sh, sizeof *sh);
}

static int cond_timeout_child(void *p, int id) {
  struct notify_sh *sh = p;
  uint64_t o = me(id);
  CHECK(mpmp__shlock_acquire(&sh->lock, o, INFINITY) == 0);
  CHECK(mpmp__shlock_acquire(&sh->lock, o, INFINITY) == 0); /* 2 levels */
  double t0 = mpmp__now();
  CHECK(mpmp__shcond_wait(&sh->cond, &sh->lock, o, t0 + 0.1) == MPMP_ETIMEDOUT);
  /* The parent held the lock until 0.4 s: the wait got it back first. */
  CHECK(mpmp__now() - t0 >= 0.35);
  CHECK(mpmp__shlock_owner(&sh->lock) == o);
  CHECK(mpmp__shlock_release(&sh->lock, o) == 0);
  CHECK(mpmp__shlock_release(&sh->lock, o) == 0);
  CHECK(mpmp__shlock_release(&sh->lock, o) == MPMP_EPERM);
  return 0;
}

static void shcond_wait_timeout_reacquires(void **state) {
  (void)state;
  struct notify_sh *sh = shm(sizeof *sh);
  mpmp__shlock_init(&sh->lock, 1);
  assert_int_equal(mpmp__shcond_wait(&sh->cond, &sh->lock, me(0), INFINITY),
                   MPMP_EPERM);
  assert_string_equal(mpmp_errmsg(), "cannot wait on un-acquired lock");
  double t0 = mpmp__now();
  pid_t pid = spawn(cond_timeout_child, sh, 1);
  await_u32(&sh->cond.waiters, 1);
  /* The waiting child released both of its levels. */
  assert_int_equal(mpmp__shlock_acquire(&sh->lock, me(0), mpmp__deadline(1)), 0);
  sleep_s(0.4 - (mpmp__now() - t0));
  assert_int_equal(mpmp__shlock_release(&sh->lock, me(0)), 0);
  join_ok(pid);
  munmap(sh, sizeof *sh);
}

/* ---- Barrier ---------------------------------------------------------------- */

#define GENS 100
#define PARTIES 4

struct gen_sh {
  mpmp__shbarrier_t bar;
  _Atomic int arrived[GENS];
  _Atomic int seen[GENS][PARTIES];
};

static int gen_child(void *p, int id) {
  struct gen_sh *sh = p;
  (void)id;
  for (int g = 0; g < GENS; g++) {
    unsigned idx = PARTIES;
    atomic_fetch_add(&sh->arrived[g], 1);
    CHECK(mpmp__shbarrier_wait(&sh->bar, mpmp__deadline(10), &idx) == 0);
    CHECK(idx < PARTIES);
    CHECK(atomic_load(&sh->arrived[g]) == PARTIES); /* nobody left early */
    atomic_fetch_add(&sh->seen[g][idx], 1);
  }
  return 0;
}

static void shbarrier_generations(void **state) {
  (void)state;
  struct gen_sh *sh = shm(sizeof *sh);
  assert_int_equal(mpmp__shbarrier_init(&sh->bar, 0), MPMP_EINVAL);
  assert_int_equal(mpmp__shbarrier_init(&sh->bar, PARTIES), 0);
  double t0 = mpmp__now();
  run_children(gen_child, sh, PARTIES);
  print_message("%d processes x %d generations: %.3f s\n", PARTIES, GENS,
                mpmp__now() - t0);
  for (int g = 0; g < GENS; g++)
    for (int i = 0; i < PARTIES; i++)
      assert_int_equal(atomic_load(&sh->seen[g][i]), 1);
  assert_false(mpmp__shbarrier_broken(&sh->bar));
  assert_int_equal(mpmp__shbarrier_n_waiting(&sh->bar), 0);
  munmap(sh, sizeof *sh);
}

struct bar_sh {
  mpmp__shbarrier_t bar;
  _Atomic int rc[4];
};

static int bar_short_child(void *p, int id) {
  struct bar_sh *sh = p;
  atomic_store(&sh->rc[id], mpmp__shbarrier_wait(&sh->bar, mpmp__deadline(0.1), NULL));
  return 0;
}

static int bar_long_child(void *p, int id) {
  struct bar_sh *sh = p;
  atomic_store(&sh->rc[id], mpmp__shbarrier_wait(&sh->bar, mpmp__deadline(5), NULL));
  return 0;
}

static int bar_ok_child(void *p, int id) {
  struct bar_sh *sh = p;
  unsigned idx;
  CHECK(mpmp__shbarrier_wait(&sh->bar, mpmp__deadline(5), &idx) == 0);
  atomic_store(&sh->rc[id], (int)idx);
  return 0;
}

static void await_waiting(mpmp__shbarrier_t *b, unsigned n) {
  double end = mpmp__now() + 5;
  while (mpmp__shbarrier_n_waiting(b) < n && mpmp__now() < end)
    sleep_s(0.001);
  assert_int_equal(mpmp__shbarrier_n_waiting(b), n);
}

/* A full generation of 3 still works: indices 0, 1, 2 in some order. */
static void bar_full_generation(struct bar_sh *sh) {
  pid_t a = spawn(bar_ok_child, sh, 0), b = spawn(bar_ok_child, sh, 1);
  unsigned idx;
  await_waiting(&sh->bar, 2);
  assert_int_equal(mpmp__shbarrier_wait(&sh->bar, mpmp__deadline(5), &idx), 0);
  assert_int_equal(idx, 2); /* the last to arrive */
  join_ok(a);
  join_ok(b);
  assert_int_equal(atomic_load(&sh->rc[0]) + atomic_load(&sh->rc[1]), 1);
}

static void shbarrier_timeout_breaks(void **state) {
  (void)state;
  struct bar_sh *sh = shm(sizeof *sh);
  assert_int_equal(mpmp__shbarrier_init(&sh->bar, 3), 0);
  double t0 = mpmp__now();
  pid_t a = spawn(bar_long_child, sh, 0), b = spawn(bar_short_child, sh, 1);
  join_ok(b);
  join_ok(a);
  assert_true(mpmp__now() - t0 < 1.0);
  assert_int_equal(atomic_load(&sh->rc[1]), MPMP_ETIMEDOUT);
  assert_int_equal(atomic_load(&sh->rc[0]), MPMP_EBROKEN);
  assert_true(mpmp__shbarrier_broken(&sh->bar));
  assert_int_equal(mpmp__shbarrier_wait(&sh->bar, INFINITY, NULL), MPMP_EBROKEN);
  mpmp__shbarrier_reset(&sh->bar);
  assert_false(mpmp__shbarrier_broken(&sh->bar));
  bar_full_generation(sh);
  munmap(sh, sizeof *sh);
}

static void shbarrier_abort_and_reset(void **state) {
  (void)state;
  struct bar_sh *sh = shm(sizeof *sh);
  assert_int_equal(mpmp__shbarrier_init(&sh->bar, 3), 0);
  /* abort: the waiter gets EBROKEN, and so does everyone after. */
  pid_t a = spawn(bar_long_child, sh, 0);
  await_waiting(&sh->bar, 1);
  mpmp__shbarrier_abort(&sh->bar);
  join_ok(a);
  assert_int_equal(atomic_load(&sh->rc[0]), MPMP_EBROKEN);
  assert_true(mpmp__shbarrier_broken(&sh->bar));
  assert_int_equal(mpmp__shbarrier_n_waiting(&sh->bar), 0);
  mpmp__shbarrier_reset(&sh->bar);
  /* reset with waiters: they get EBROKEN, the barrier is not broken. */
  a = spawn(bar_long_child, sh, 0);
  pid_t b = spawn(bar_long_child, sh, 1);
  await_waiting(&sh->bar, 2);
  mpmp__shbarrier_reset(&sh->bar);
  join_ok(a);
  join_ok(b);
  assert_int_equal(atomic_load(&sh->rc[0]), MPMP_EBROKEN);
  assert_int_equal(atomic_load(&sh->rc[1]), MPMP_EBROKEN);
  assert_false(mpmp__shbarrier_broken(&sh->bar));
  bar_full_generation(sh);
  assert_int_equal(mpmp__shbarrier_n_waiting(&sh->bar), 0);
  munmap(sh, sizeof *sh);
}

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
  await_u32(&sh->cond.waiters, 2 * KILL_OTHER);
  await_u32(&sh->bar.cond.waiters, 2 * KILL_OTHER);
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
  case KW_COND: return atomic_load(&sh->cond.waiters) > 0;
  default: return atomic_load(&sh->bar.cond.waiters) > 0;
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
      cmocka_unit_test(shsem_limits_holders),
      cmocka_unit_test(shsem_bounded_over_release),
      cmocka_unit_test(shsem_timeout_and_wake),
      cmocka_unit_test(shevent_wait_set_across_processes),
      cmocka_unit_test(shcond_producer_consumer),
      cmocka_unit_test(shcond_notify_one_then_all),
      cmocka_unit_test(shcond_wait_timeout_reacquires),
      cmocka_unit_test(shbarrier_generations),
      cmocka_unit_test(shbarrier_timeout_breaks),
      cmocka_unit_test(shbarrier_abort_and_reset),
      cmocka_unit_test(shsync_kill_wakes_every_waiter),
      cmocka_unit_test(shsync_kill_races_with_sleep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
