/* Lock and RLock (mpmp/sync.h): Python's semantics, release by a non-owner,
 * recursion levels, the owner is the process (or thread), NaN timeouts,
 * timed-out messages, mutual exclusion and fairness.
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

/* ---- 2. Lock semantics ---------------------------------------------------- */

static void sync_lock_basics(void **state) {
  objspec_t sp = {0};
  objset_t s;
  mpmp_lock_t cl;
  objs_make(state, &sp, &s);
  EQ(mpmp_lock_is_mine(s.lock), 0);
  EQ(mpmp_lock_acquire(s.lock, 0), 0);
  EQ(mpmp_lock_is_mine(s.lock), 1);
  /* A Lock is not re-entrant: its owner waits for itself until the timeout. */
  double t0 = test_now();
  EQ(mpmp_lock_acquire(s.lock, 0.2), MPMP_ETIMEDOUT);
  IN(test_now() - t0, 0.15, 2.0);
  t0 = test_now();
  EQ(mpmp_lock_acquire(s.lock, 0), MPMP_ETIMEDOUT);
  IN(test_now() - t0, 0.0, 0.5);
  EQ(mpmp_lock_is_mine(s.lock), 1);
  EQ(mpmp_lock_release(s.lock), 0);
  EQ(mpmp_lock_is_mine(s.lock), 0);
  EQ(mpmp_lock_release(s.lock), MPMP_EPERM); /* not held */
  EQ(mpmp_lock_acquire(s.lock, 1), 0);       /* still usable */
  EQ(mpmp_lock_release(s.lock), 0);
  EQ(mpmp_lock_acquire(s.lock, MPMP_FOREVER), 0);
  EQ(mpmp_lock_release(s.lock), 0);

  /* RLock: N acquires need N releases. */
  enum { N = 5 };
  for (int i = 0; i < N; i++)
    EQ(mpmp_lock_acquire(s.rlock, i % 2 ? 0 : 1), 0);
  for (int i = 0; i < N; i++) {
    EQ(mpmp_lock_is_mine(s.rlock), 1);
    EQ(mpmp_lock_release(s.rlock), 0);
  }
  EQ(mpmp_lock_is_mine(s.rlock), 0);
  EQ(mpmp_lock_release(s.rlock), MPMP_EPERM);
  EQ(mpmp_lock_acquire(s.rlock, 0), 0);
  EQ(mpmp_lock_release(s.rlock), 0);

  /* The lock of a Condition is a Lock, but it goes with the Condition. */
  EQ(mpmp_cond_get_lock(s.cond, &cl), 0);
  EQ(mpmp_lock_free(cl), MPMP_EINVAL);
  EQ(mpmp_lock_acquire(cl, 1), 0);
  EQ(mpmp_lock_is_mine(cl), 1);
  EQ(mpmp_lock_release(cl), 0);
  objs_free(&s);
}

/* Another rank: trying the locks fails; releasing the RLock it does not
 * hold is EPERM, but the Lock is Python's multiprocessing.Lock, which any
 * process may release while it is held (once). */
static int foreign_part(const objset_t *s, char *err) {
  EXPECT_EQ(mpmp_lock_is_mine(s->lock), 0);
  EXPECT_EQ(mpmp_lock_locked(s->lock), 1);
  EXPECT_EQ(mpmp_lock_acquire(s->lock, 0), MPMP_ETIMEDOUT);
  EXPECT_EQ(mpmp_lock_release(s->lock), 0);
  EXPECT_EQ(mpmp_lock_locked(s->lock), 0);
  EXPECT_EQ(mpmp_lock_release(s->lock), MPMP_EPERM); /* not held now */
  /* the call named once, whichever node the Lock is on */
  EXPECT_MSG("mpmp_lock_release: the Lock is not held");
  EXPECT(strstr(mpmp_errmsg(), "mpmp_lock_release: mpmp_lock_release") == NULL);
  EXPECT_EQ(mpmp_lock_locked(s->rlock), 1);
  EXPECT_EQ(mpmp_lock_release(s->rlock), MPMP_EPERM);
  EXPECT_EQ(mpmp_lock_is_mine(s->rlock), 0);
  EXPECT_EQ(mpmp_lock_acquire(s->rlock, 0), MPMP_ETIMEDOUT);
  EXPECT_EQ(mpmp_lock_release(s->lock2), MPMP_EPERM); /* held by nobody */
  EXPECT_EQ(mpmp_cond_release(s->cond), MPMP_EPERM);
  return 0;
}

static int foreign_body(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  BODY(ctx, foreign_part, &a->s);
  return 0;
}
MPMP_TASK(foreign_body);

static void sync_lock_release_by_non_owner(void **state) {
  objspec_t sp = {0};
  objargs_t a = {0};
  objs_make(state, &sp, &a.s);
  EQ(mpmp_lock_acquire(a.s.lock, 5), 0);
  EQ(mpmp_lock_acquire(a.s.rlock, 5), 0);
  EQ(mpmp_lock_acquire(a.s.rlock, 5), 0);
  join_destroy(start_process(foreign_body, &a, sizeof a));
  EQ(mpmp_lock_is_mine(a.s.lock), 0); /* the body released it */
  EQ(mpmp_lock_release(a.s.lock), MPMP_EPERM);
  EQ(mpmp_lock_is_mine(a.s.rlock), 1); /* still held by the main rank */
  EQ(mpmp_lock_release(a.s.rlock), 0);
  EQ(mpmp_lock_release(a.s.rlock), 0);
  EQ(mpmp_lock_release(a.s.rlock), MPMP_EPERM);

  /* The main rank releasing a Lock a worker holds: it is free at once,
   * and the worker's own release later finds it free. */
  mpmp_process_t *p = start_process(lock_holder, &a, sizeof a);
  EQ(wait_at_least(a.s.v[0], 1, 10), 0);
  EQ(mpmp_lock_is_mine(a.s.lock), 0);
  EQ(mpmp_lock_acquire(a.s.lock, 0), MPMP_ETIMEDOUT); /* held */
  EQ(mpmp_lock_release(a.s.lock), 0);
  EQ(mpmp_lock_locked(a.s.lock), 0);
  EQ(mpmp_lock_acquire(a.s.lock, 0), 0);
  EQ(mpmp_lock_is_mine(a.s.lock), 1);
  EQ(mpmp_lock_release(a.s.lock), 0);
  EQ(mpmp_event_set(a.s.ev2), 0);
  res_t r = join_res(p);
  EQ(r.rc[0], 0);
  EQ(r.rc[1], 0);
  EQ(r.rc[2], MPMP_EPERM); /* released already */
  objs_free(&a.s);
}

/* RLock re-entry from a body: N acquires, N releases, the next is EPERM. */
static int rlock_part(const objset_t *s, char *err) {
  for (int i = 0; i < 4; i++)
    EXPECT_EQ(mpmp_lock_acquire(s->rlock, 5), 0);
  for (int i = 0; i < 4; i++) {
    EXPECT_EQ(mpmp_lock_is_mine(s->rlock), 1);
    EXPECT_EQ(mpmp_lock_release(s->rlock), 0);
  }
  EXPECT_EQ(mpmp_lock_is_mine(s->rlock), 0);
  EXPECT_EQ(mpmp_lock_release(s->rlock), MPMP_EPERM);
  /* a plain Lock: the second acquire times out (0.1 s) and leaves it held */
  EXPECT_EQ(mpmp_lock_acquire(s->lock, 5), 0);
  double t0 = test_now();
  EXPECT_EQ(mpmp_lock_acquire(s->lock, 0.1), MPMP_ETIMEDOUT);
  EXPECT_IN(test_now() - t0, 0.05, 2.0);
  EXPECT_EQ(mpmp_lock_is_mine(s->lock), 1);
  EXPECT_EQ(mpmp_lock_release(s->lock), 0);
  EXPECT_EQ(mpmp_lock_release(s->lock), MPMP_EPERM);
  return 0;
}

static int rlock_body(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  BODY(ctx, rlock_part, &a->s);
  return 0;
}
MPMP_TASK(rlock_body);

/* A try from another rank: rc[0] = acquire(lock, 0) (released at once). */
static int try_rlock(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  res_t *r = mpmp_out(ctx, sizeof *r);
  memset(r, 0, sizeof *r);
  r->rc[0] = mpmp_lock_acquire(a->s.rlock, 0);
  if (r->rc[0] == 0)
    r->rc[1] = mpmp_lock_release(a->s.rlock);
  return 0;
}
MPMP_TASK(try_rlock);

static void sync_rlock_levels(void **state) {
  objspec_t sp = {0};
  objargs_t a = {0};
  objs_make(state, &sp, &a.s);
  join_destroy(start_process(rlock_body, &a, sizeof a));
  /* The main rank holds 3 levels: others get it only after the third
   * release. */
  for (int i = 0; i < 3; i++)
    EQ(mpmp_lock_acquire(a.s.rlock, 5), 0);
  EQ(mpmp_lock_release(a.s.rlock), 0);
  EQ(mpmp_lock_release(a.s.rlock), 0);
  res_t r = join_res(start_process(try_rlock, &a, sizeof a));
  EQ(r.rc[0], MPMP_ETIMEDOUT);
  EQ(mpmp_lock_is_mine(a.s.rlock), 1);
  EQ(mpmp_lock_release(a.s.rlock), 0);
  r = join_res(start_process(try_rlock, &a, sizeof a));
  EQ(r.rc[0], 0);
  EQ(r.rc[1], 0);
  EQ(mpmp_lock_release(a.s.rlock), MPMP_EPERM);
  RUN(rlock_part, &a.s);
  objs_free(&a.s);
}

/* The owner is the process, not the rank: a body that ends holding a Lock
 * and an RLock does not hand them to the next body on its rank and thread
 * (Python: they stay held by the dead process). */
static int leave_locks_held(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  if (mpmp_lock_acquire(a->s.lock, 5) < 0 ||
      mpmp_lock_acquire(a->s.rlock, 5) < 0 ||
      mpmp_lock_acquire(a->s.rlock, 5) < 0)
    return mpmp_fail(ctx, "acquire: %s", mpmp_errmsg());
  return 0; /* and never release them */
}
MPMP_TASK(leave_locks_held);

static int stranger_part(const objset_t *s, char *err) {
  EXPECT_EQ(mpmp_lock_is_mine(s->lock), 0);
  EXPECT_EQ(mpmp_lock_is_mine(s->rlock), 0);
  EXPECT_EQ(mpmp_lock_locked(s->lock), 1);
  EXPECT_EQ(mpmp_lock_locked(s->rlock), 1);
  EXPECT_EQ(mpmp_lock_release(s->rlock), MPMP_EPERM);
  double t0 = test_now();
  EXPECT_EQ(mpmp_lock_acquire(s->lock, 0.1), MPMP_ETIMEDOUT);
  EXPECT_EQ(mpmp_lock_acquire(s->rlock, 0.1), MPMP_ETIMEDOUT);
  EXPECT_IN(test_now() - t0, 0.15, 5.0);
  return 0;
}

static int stranger_body(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  BODY(ctx, stranger_part, &a->s);
  *(int *)mpmp_out(ctx, sizeof(int)) = mpmp_rank();
  return 0;
}
MPMP_TASK(stranger_body);

static void sync_lock_owner_is_the_process(void **state) {
  objspec_t sp = {0};
  objargs_t a = {0};
  objs_make(state, &sp, &a.s);
  mpmp_process_t *p = start_process(leave_locks_held, &a, sizeof a);
  join_ok(p);
  int rank = mpmp_process_rank(p);
  EQ(mpmp_process_destroy(p), 0);
  /* The next body takes the lowest free worker: the same rank, and the
   * same thread (a worker runs bodies in its main thread). */
  p = start_process(stranger_body, &a, sizeof a);
  join_ok(p);
  EQ(mpmp_process_rank(p), rank);
  EQ(mpmp_process_destroy(p), 0);
  /* A pool's tasks on that rank are another process too. */
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t po = {.processes = 1};
  EQ(mpmp_pool_create(&pool, &po), 0);
  int where = -1;
  EQ(mpmp_pool_apply(pool, stranger_body, &a, sizeof a, &where, sizeof where,
                     NULL), 0);
  EQ(where, rank);
  EQ(mpmp_pool_destroy(pool), 0);
  /* still held by the ended body, for the main rank as well */
  RUN(stranger_part, &a.s);
  /* which may release the Lock (Python's multiprocessing.Lock), not the
   * RLock */
  EQ(mpmp_lock_release(a.s.lock), 0);
  EQ(mpmp_lock_locked(a.s.lock), 0);
  EQ(mpmp_lock_acquire(a.s.lock, 1), 0);
  EQ(mpmp_lock_release(a.s.lock), 0);
  EQ(mpmp_lock_locked(a.s.rlock), 1);
  objs_free(&a.s);
}

/* A NaN timeout is refused (MPMP_EINVAL, naming NaN) by every call that
 * takes one, before anything is done: a lock stays free, a semaphore
 * keeps its value, a barrier is not passed, a Condition's lock stays held.
 * (It was taken as "try once", and made cond_wait wait for ever.) */
static int pred_true(void *arg) {
  (void)arg;
  return 1;
}

#define EXPECT_NAN(call)                                                        do {                                                                           EXPECT_EQ(call, MPMP_EINVAL);                                                 EXPECT(strstr(mpmp_errmsg(), "NaN") != NULL);                               } while (0)

static int nan_part(const objset_t *s, char *err) {
  const double nans[] = {NAN, -NAN};
  EXPECT_EQ(mpmp_event_set(s->ev), 0); /* a wait that would not block */
  for (int k = 0; k < 2; k++) {
    double t = nans[k];
    EXPECT_NAN(mpmp_lock_acquire(s->lock, t));
    EXPECT_EQ(mpmp_lock_is_mine(s->lock), 0);
    EXPECT_NAN(mpmp_lock_acquire(s->rlock, t));
    EXPECT_EQ(mpmp_lock_is_mine(s->rlock), 0);
    EXPECT_NAN(mpmp_sem_acquire(s->sem, t));
    EXPECT_EQ(mpmp_sem_value(s->sem), 2);
    EXPECT_NAN(mpmp_sem_acquire(s->bsem, t));
    EXPECT_EQ(mpmp_sem_value(s->bsem), 1);
    EXPECT_NAN(mpmp_event_wait(s->ev, t));
    EXPECT_NAN(mpmp_event_wait(s->ev2, t));
    EXPECT_NAN(mpmp_cond_acquire(s->cond, t));
    EXPECT_EQ(mpmp_cond_acquire(s->ucond, 5), 0);
    EXPECT_NAN(mpmp_cond_wait(s->ucond, t));
    EXPECT_NAN(mpmp_cond_wait_for(s->ucond, pred_true, NULL, t));
    EXPECT_EQ(mpmp_lock_is_mine(s->lock2), 1); /* never let go */
    EXPECT_EQ(mpmp_cond_release(s->ucond), 0);
    EXPECT_NAN(mpmp_barrier_wait(s->bar, t)); /* 1 party: it would pass */
    EXPECT_EQ(mpmp_barrier_n_waiting(s->bar), 0);
    EXPECT_EQ(mpmp_barrier_broken(s->bar), 0);
  }
  /* all free and usable */
  EXPECT_EQ(mpmp_lock_acquire(s->lock, 0), 0);
  EXPECT_EQ(mpmp_lock_release(s->lock), 0);
  EXPECT_EQ(mpmp_lock_acquire(s->rlock, 0), 0);
  EXPECT_EQ(mpmp_lock_release(s->rlock), 0);
  EXPECT_EQ(mpmp_cond_acquire(s->cond, 0), 0);
  EXPECT_EQ(mpmp_cond_release(s->cond), 0);
  EXPECT_EQ(mpmp_barrier_wait(s->bar, 5), 0);
  EXPECT_EQ(mpmp_event_clear(s->ev), 0);
  return 0;
}

static int nan_body(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  BODY(ctx, nan_part, &a->s);
  return 0;
}
MPMP_TASK(nan_body);

static void sync_nan_timeouts_refused(void **state) {
  objspec_t sp = {.sem = 2};
  objargs_t a = {0};
  objs_make(state, &sp, &a.s);
  RUN(nan_part, &a.s);
  join_destroy(start_process(nan_body, &a, sizeof a)); /* from a worker rank */
  objs_free(&a.s);
}

/* A call that times out says so, also on an object of another node: the
 * home rank answered with whatever message it had from an earlier error
 * ("... do not hold: acquire it first" for a timed-out cond_wait). */
#define EXPECT_TIMED_OUT(call)                                                \
  do {                                                                       \
    EXPECT_EQ(mpmp_cond_wait(s->cond, 0.01), MPMP_EPERM); /* an old error */  \
    EXPECT_EQ(call, MPMP_ETIMEDOUT);                                          \
    EXPECT(strstr(mpmp_errmsg(), "timed out") != NULL);                       \
    EXPECT(strstr(mpmp_errmsg(), "acquire it first") == NULL);                \
  } while (0)

static int timed_out_part(const objset_t *s, char *err) {
  EXPECT_TIMED_OUT(mpmp_event_wait(s->ev, 0.01));
  EXPECT_TIMED_OUT(mpmp_sem_acquire(s->sem, 0.01));
  EXPECT_TIMED_OUT(mpmp_barrier_wait(s->bar2, 0.01));
  EXPECT_EQ(mpmp_barrier_reset(s->bar2), 0);
  EXPECT_EQ(mpmp_cond_acquire(s->ucond, 5), 0);
  EXPECT_EQ(mpmp_lock_acquire(s->lock, 5), 0);
  EXPECT_EQ(mpmp_cond_wait(s->ucond, 0.01), MPMP_ETIMEDOUT);
  EXPECT(strstr(mpmp_errmsg(), "timed out") != NULL);
  EXPECT(strstr(mpmp_errmsg(), "acquire it first") == NULL);
  EXPECT_EQ(mpmp_cond_release(s->ucond), 0);
  EXPECT_EQ(mpmp_lock_release(s->lock), 0);
  return 0;
}

static int timed_out_body(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  BODY(ctx, timed_out_part, &a->s);
  return 0;
}
MPMP_TASK(timed_out_body);

static void sync_timeouts_say_timed_out(void **state) {
  objspec_t sp = {.parties2 = 2};
  objargs_t a = {0};
  objs_make(state, &sp, &a.s);
  RUN(timed_out_part, &a.s);
  join_destroy(start_process(timed_out_body, &a, sizeof a));
  objs_free(&a.s);
}

/* Ownership is per rank and thread: another thread of the main rank is
 * a stranger to the main thread's locks (local objects only: calls on
 * remote objects from extra threads are not part of this test). */
typedef struct { const objset_t *s; int rc[8]; } thr_t;

static void *other_thread(void *arg) {
  thr_t *t = arg;
  t->rc[0] = mpmp_lock_release(t->s->lock);
  t->rc[1] = mpmp_lock_is_mine(t->s->lock);
  t->rc[2] = mpmp_lock_acquire(t->s->lock, 0);
  t->rc[3] = mpmp_lock_acquire(t->s->rlock, 0.05); /* no re-entry for us */
  t->rc[4] = mpmp_lock_release(t->s->rlock);
  t->rc[5] = mpmp_lock_acquire(t->s->lock2, 1);
  t->rc[6] = mpmp_lock_is_mine(t->s->lock2);
  t->rc[7] = mpmp_lock_release(t->s->lock2);
  return NULL;
}

static void sync_lock_owned_by_thread(void **state) {
  objspec_t sp = {0};
  objset_t s;
  pthread_t th;
  objs_make(state, &sp, &s);
  thr_t t = {.s = &s};
  EQ(mpmp_lock_acquire(s.lock, 1), 0);
  EQ(mpmp_lock_acquire(s.rlock, 1), 0);
  EQ(pthread_create(&th, NULL, other_thread, &t), 0);
  EQ(pthread_join(th, NULL), 0);
  EQ(t.rc[0], 0); /* a Lock: any thread may release it */
  EQ(t.rc[1], 0);
  EQ(t.rc[2], 0); /* and then take it */
  EQ(t.rc[3], MPMP_ETIMEDOUT);
  EQ(t.rc[4], MPMP_EPERM);
  EQ(t.rc[5], 0);
  EQ(t.rc[6], 1);
  EQ(t.rc[7], 0);
  EQ(mpmp_lock_is_mine(s.lock), 0); /* the thread's now, still held */
  EQ(mpmp_lock_locked(s.lock), 1);
  EQ(mpmp_lock_release(s.lock), 0);
  EQ(mpmp_lock_locked(s.lock), 0);
  EQ(mpmp_lock_is_mine(s.rlock), 1);
  EQ(mpmp_lock_release(s.rlock), 0);
  objs_free(&s);
}

/* Mutual exclusion: non-atomic read-modify-write of v[0] under `lock`. */
typedef struct { objset_t s; int local_n, remote_n; } mx_t;

static int mx_part(const mx_t *a, int64_t *done, char *err) {
  int n = mpmp_node_id() == a->s.node ? a->local_n : a->remote_n;
  EXPECT_EQ(mpmp_value_add(a->s.v[3], 1, NULL), 0); /* ready */
  EXPECT_EQ(mpmp_event_wait(a->s.ev, 30), 0);        /* all start together */
  for (int i = 0; i < n; i++) {
    int64_t x = 0;
    EXPECT_EQ(mpmp_lock_acquire(a->s.lock, 30), 0);
    EXPECT_EQ(mpmp_value_load(a->s.v[0], &x), 0);
    x++;
    EXPECT_EQ(mpmp_value_store(a->s.v[0], &x), 0);
    EXPECT_EQ(mpmp_lock_release(a->s.lock), 0);
  }
  *done = n;
  return 0;
}

static int mx_body(mpmp_ctx_t *ctx) {
  res_t *r = mpmp_out(ctx, sizeof *r);
  memset(r, 0, sizeof *r);
  BODY(ctx, mx_part, (const mx_t *)mpmp_arg(ctx, NULL), &r->n);
  return 0;
}
MPMP_TASK(mx_body);

static void sync_lock_mutual_exclusion(void **state) {
  objspec_t sp = {0};
  mx_t a = {.local_n = 2000, .remote_n = 150};
  mpmp_process_t *ps[5];
  int64_t mine = 0, total = 0;
  objs_make(state, &sp, &a.s);
  int n = imin(5, mpmp_worker_count());
  for (int i = 0; i < n; i++)
    ps[i] = start_process(mx_body, &a, sizeof a);
  EQ(wait_at_least(a.s.v[3], n, 10), 0);
  EQ(mpmp_event_set(a.s.ev), 0);
  RUN(mx_part, &a, &mine);
  total = mine;
  for (int i = 0; i < n; i++)
    total += join_res(ps[i]).n;
  EQ(get(a.s.v[0]), total);
  EQ(mpmp_lock_is_mine(a.s.lock), 0);
  EQ(mpmp_lock_acquire(a.s.lock, 0), 0); /* free at the end */
  EQ(mpmp_lock_release(a.s.lock), 0);
  objs_free(&a.s);
}

/* ---- 3. fairness ---------------------------------------------------------- */

/* Once ev is set, acquire `lock` 5 times while the main rank hammers it:
 * t[i] = each wait; v[0] = 1 at the end (stop). */
static int fair_acquirer(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  res_t *r = mpmp_out(ctx, sizeof *r);
  memset(r, 0, sizeof *r);
  int rc = mpmp_event_wait(a->s.ev, 30);
  for (int i = 0; rc == 0 && i < 5; i++) {
    test_sleep(i == 0 ? 0.1 : 0.02);
    double t0 = test_now();
    r->rc[i] = mpmp_lock_acquire(a->s.lock, 10);
    r->t[i] = test_now() - t0;
    if (r->rc[i] == 0)
      r->rc[8 + i] = mpmp_lock_release(a->s.lock);
  }
  mpmp_value_set_i64(a->s.v[0], 1);
  return rc < 0 ? mpmp_fail(ctx, "event wait: %s", mpmp_errmsg()) : 0;
}
MPMP_TASK(fair_acquirer);

/* Acquire and release `lock` as fast as possible until v[0] != 0 (10 s at
 * most); v[1] = 1 once started; n = iterations. */
static int fair_hammer(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  res_t *r = mpmp_out(ctx, sizeof *r);
  memset(r, 0, sizeof *r);
  double end = test_now() + 10;
  int64_t stop = 0;
  while (stop == 0 && test_now() < end) {
    int rc = mpmp_lock_acquire(a->s.lock, 5);
    if (rc < 0)
      return mpmp_fail(ctx, "hammer acquire: %s", mpmp_errmsg());
    if ((rc = mpmp_lock_release(a->s.lock)) < 0)
      return mpmp_fail(ctx, "hammer release: %s", mpmp_errmsg());
    if (r->n++ == 0)
      mpmp_value_set_i64(a->s.v[1], 1);
    mpmp_value_get_i64(a->s.v[0], &stop);
  }
  return stop ? 0 : mpmp_fail(ctx, "never told to stop");
}
MPMP_TASK(fair_hammer);

static void sync_lock_fairness(void **state) {
  objspec_t sp = {0};
  objargs_t a = {0};
  objs_make(state, &sp, &a.s);

  /* The main rank hammers; a worker still gets the lock promptly. */
  mpmp_process_t *p = start_process(fair_acquirer, &a, sizeof a);
  EQ(mpmp_event_set(a.s.ev), 0);
  double end = test_now() + 20;
  long iters = 0;
  while (get(a.s.v[0]) == 0 && test_now() < end) {
    EQ(mpmp_lock_acquire(a.s.lock, 5), 0);
    EQ(mpmp_lock_release(a.s.lock), 0);
    iters++;
  }
  res_t r = join_res(p);
  for (int i = 0; i < 5; i++) {
    EQ(r.rc[i], 0);
    EQ(r.rc[8 + i], 0);
    IN(r.t[i], 0.0, 1.0);
  }
  assert_true(iters > 10);

  /* A worker hammers; the main rank still gets it promptly. */
  EQ(mpmp_value_set_i64(a.s.v[0], 0), 0);
  p = start_process(fair_hammer, &a, sizeof a);
  EQ(wait_at_least(a.s.v[1], 1, 10), 0);
  for (int i = 0; i < 5; i++) {
    test_sleep(i == 0 ? 0.1 : 0.02);
    double t0 = test_now();
    EQ(mpmp_lock_acquire(a.s.lock, 10), 0);
    double waited = test_now() - t0;
    EQ(mpmp_lock_release(a.s.lock), 0);
    IN(waited, 0.0, 1.0);
  }
  EQ(mpmp_value_set_i64(a.s.v[0], 1), 0);
  r = join_res(p);
  assert_true(r.n > 10);
  objs_free(&a.s);
}

/* CPython's _test_multiprocessing test_lock (and locked()): acquire() is
 * True, acquire(False) False, release() None, a second release raises
 * ValueError; locked() follows. And its release by another process
 * (_test_lock_release_f style): a Lock the main rank holds, a body
 * releases. RLock.locked() too. */
static int release_other_part(const objset_t *s, char *err) {
  EXPECT_EQ(mpmp_lock_locked(s->lock), 1);
  EXPECT_EQ(mpmp_lock_release(s->lock), 0);
  return 0;
}

static int release_other_body(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  BODY(ctx, release_other_part, &a->s);
  return 0;
}
MPMP_TASK(release_other_body);

static void sync_lock_python_test_lock(void **state) {
  objspec_t sp = {0};
  objargs_t a = {0};
  objs_make(state, &sp, &a.s);
  EQ(mpmp_lock_locked(a.s.lock), 0);
  EQ(mpmp_lock_acquire(a.s.lock, MPMP_FOREVER), 0); /* True */
  EQ(mpmp_lock_locked(a.s.lock), 1);
  EQ(mpmp_lock_acquire(a.s.lock, 0), MPMP_ETIMEDOUT); /* acquire(False) */
  EQ(mpmp_lock_release(a.s.lock), 0);                 /* None */
  EQ(mpmp_lock_locked(a.s.lock), 0);
  EQ(mpmp_lock_release(a.s.lock), MPMP_EPERM);         /* ValueError */
  assert_non_null(strstr(mpmp_errmsg(), "not held"));
  /* released by another process while held, then ours again */
  EQ(mpmp_lock_acquire(a.s.lock, 5), 0);
  join_destroy(start_process(release_other_body, &a, sizeof a));
  EQ(mpmp_lock_locked(a.s.lock), 0);
  EQ(mpmp_lock_acquire(a.s.lock, 0), 0);
  EQ(mpmp_lock_release(a.s.lock), 0);
  /* RLock: locked() at every level, free after the last release */
  EQ(mpmp_lock_locked(a.s.rlock), 0);
  EQ(mpmp_lock_acquire(a.s.rlock, 5), 0);
  EQ(mpmp_lock_acquire(a.s.rlock, 5), 0);
  EQ(mpmp_lock_locked(a.s.rlock), 1);
  EQ(mpmp_lock_release(a.s.rlock), 0);
  EQ(mpmp_lock_locked(a.s.rlock), 1);
  EQ(mpmp_lock_release(a.s.rlock), 0);
  EQ(mpmp_lock_locked(a.s.rlock), 0);
  mpmp_lock_t gone;
  EQ(mpmp_lock_create(&gone), 0);
  EQ(mpmp_lock_free(gone), 0);
  EQ(mpmp_lock_locked(gone), MPMP_EBADF);
  objs_free(&a.s);
}

static const struct CMUnitTest tests[] = {
    BOTH(sync_lock_python_test_lock),
    BOTH(sync_lock_basics),
    BOTH(sync_lock_release_by_non_owner),
    BOTH(sync_rlock_levels),
    BOTH(sync_lock_owner_is_the_process),
    BOTH(sync_nan_timeouts_refused),
    BOTH(sync_timeouts_say_timed_out),
    TEST_AT(sync_lock_owned_by_thread, 0, "_main_home"),
    BOTH(sync_lock_mutual_exclusion),
    BOTH(sync_lock_fairness),
};

MPMP_TEST_MAIN(tests)
