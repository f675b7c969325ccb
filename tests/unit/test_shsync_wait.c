/*
 * Shared-memory Semaphore, Event, Condition and Barrier across forked
 * processes. The objects live in a MAP_SHARED anonymous mapping, the
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
  _Atomic uint32_t waiting, woken, timed_out;
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
  await_cond_waiters(&sh->cond, 4);
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

/* A waiter with a deadline that counts how its wait ended. */
static int timed_child(void *p, int id) {
  struct notify_sh *sh = p;
  uint64_t o = me(id);
  CHECK(mpmp__shlock_acquire(&sh->lock, o, INFINITY) == 0);
  atomic_fetch_add(&sh->waiting, 1);
  int rc = mpmp__shcond_wait(&sh->cond, &sh->lock, o, mpmp__deadline(0.5));
  CHECK(rc == 0 || rc == MPMP_ETIMEDOUT);
  atomic_fetch_add(rc == 0 ? &sh->woken : &sh->timed_out, 1);
  CHECK(mpmp__shlock_release(&sh->lock, o) == 0);
  return 0;
}

/* Python's Condition: notify(n) wakes n of the waiters, and the others'
 * waits end at their timeout as timed out (wait() returns False). They
 * said "notified" too: every waiter that reached its deadline after any
 * notify took the moved word for its own wake-up. */
static void shcond_notify_n_the_rest_time_out(void **state) {
  (void)state;
  for (unsigned n = 1; n <= 2; n++) {
    struct notify_sh *sh = shm(sizeof *sh);
    pid_t pids[4];
    for (int i = 0; i < 4; i++)
      pids[i] = spawn(timed_child, sh, i + 1);
    await_u32(&sh->waiting, 4);
    await_cond_waiters(&sh->cond, 4);
    sleep_s(0.05);
    notify_locked(sh, n);
    for (int i = 0; i < 4; i++)
      join_ok(pids[i]);
    assert_int_equal(atomic_load(&sh->woken), n);
    assert_int_equal(atomic_load(&sh->timed_out), 4 - n);
    assert_int_equal(atomic_load(&sh->cond.wt), 0); /* nothing left over */
    munmap(sh, sizeof *sh);
  }
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
  await_cond_waiters(&sh->cond, 1);
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(shsem_limits_holders),
      cmocka_unit_test(shsem_bounded_over_release),
      cmocka_unit_test(shsem_timeout_and_wake),
      cmocka_unit_test(shevent_wait_set_across_processes),
      cmocka_unit_test(shcond_producer_consumer),
      cmocka_unit_test(shcond_notify_one_then_all),
      cmocka_unit_test(shcond_notify_n_the_rest_time_out),
      cmocka_unit_test(shcond_wait_timeout_reacquires),
      cmocka_unit_test(shbarrier_generations),
      cmocka_unit_test(shbarrier_timeout_breaks),
      cmocka_unit_test(shbarrier_abort_and_reset),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
