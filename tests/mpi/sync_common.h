/* What the synchronization tests (test_sync_*.c) have in common: the
 * objects of a test, made on the main rank ("main home") or by a process
 * body on a worker ("worker home"), generic bodies, and the registration of
 * a test for both homes under a watchdog. */
#ifndef MPMP_SYNC_COMMON_H
#define MPMP_SYNC_COMMON_H

#include "mpitest.h"

/* The state of each test: where its objects live, and its name. */
typedef struct { int home; const char *name; } test_home_t;

int home_of(void **state);
/* CMocka setup and teardown: the watchdog (WATCHDOG_S) of one test. */
#define WATCHDOG_S 60
int watchdog_arm(void **state);
int watchdog_disarm(void **state);

/* A test for one home (0: main, 1: worker), and for both. */
#define TEST_AT(fn, home, where)                                         \
  {#fn where, fn, watchdog_arm, watchdog_disarm,                          \
   &(test_home_t){home, #fn where}}
#define BOTH(fn) TEST_AT(fn, 0, "_main_home"), TEST_AT(fn, 1, "_worker_home")

/* ---- the objects of a test ------------------------------------------------ */

typedef struct objspec {
  unsigned sem;      /* Semaphore(sem) */
  unsigned bsem;     /* BoundedSemaphore(bsem), 0: 1 */
  unsigned parties;  /* Barrier(parties), 0: 1 */
  unsigned parties2; /* second Barrier, 0: 1 */
} objspec_t;

#define ARR_LEN 64

typedef struct objset {
  mpmp_lock_t lock, lock2, rlock; /* Lock, Lock, RLock */
  mpmp_sem_t sem, bsem;
  mpmp_event_t ev, ev2;
  mpmp_cond_t cond;  /* Condition() (its own RLock) */
  mpmp_cond_t ucond; /* Condition(lock2) */
  mpmp_barrier_t bar, bar2;
  mpmp_value_t v[4]; /* RawValue('q', 0) */
  mpmp_array_t arr;  /* RawArray('q', ARR_LEN) */
  int node;          /* where they live */
} objset_t;

/* Creates the objects on its worker's node and hands the handles back. */
int maker(mpmp_ctx_t *ctx);
/* Makes them in the test's home (home_of(state)). */
void objs_make(void **state, const objspec_t *sp, objset_t *s);
/* Free what is left (a test zeroes the handles it freed itself). */
void objs_free(objset_t *s);

/* What a body reports. */
typedef struct { int rc[16]; double t[16]; int64_t n; } res_t;

/* Join (T_OUT at most), copy its res_t out, destroy. */
res_t join_res(mpmp_process_t *p);

/* A value's int64 (the test fails if it cannot be read). */
int64_t get(mpmp_value_t v);
/* Poll until the value reaches `want`: 0, or MPMP_ETIMEDOUT. */
int wait_at_least(mpmp_value_t v, int64_t want, double timeout);
/* Predicates of cond_wait_for: *(mpmp_value_t *)arg != 0, == 0, never. */
int v_nonzero(void *arg);
int v_zero(void *arg);
int never(void *arg);

/* ---- generic bodies ------------------------------------------------------- */

typedef struct { objset_t s; double timeout; int rounds; } objargs_t;

/* Wait on bar2 `rounds` times: rc[i] and t[i] for each. */
int barrier_waiter(mpmp_ctx_t *ctx);
/* Hold `lock` until ev2 is set: v[0] = 1 once held. */
int lock_holder(mpmp_ctx_t *ctx);

#endif /* MPMP_SYNC_COMMON_H */
