/*
 * Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition and Barrier
 * as shared objects (mpmp/sync.h): each is a shsync.c primitive in the body
 * of a heap object, reached through object.c's one call path, so ranks on
 * the home node use it directly and others through the home node.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "object.h"

/* ---- operations (run on the home node) ------------------------------------ */

/* Each body is its primitive and, on the same line as the words its calls
 * write, the lane they count themselves in (object.c, "Lifetime"); a
 * Lock's lane follows the lock itself (mpmp__lock_lane). */
typedef struct { mpmp__shsem_t s; _Atomic uint64_t lane; } sem_body_t;
typedef struct { mpmp__shevent_t e; _Atomic uint64_t lane; } ev_body_t;
typedef struct { mpmp__shcond_t c; _Atomic uint64_t lane; } cond_body_t;
/* A Barrier's action (its task id + 1; 0: none), the action's argument
 * bytes and its default timeout (seconds, negative: none) are set at
 * create and only read after. */
typedef struct {
  mpmp__shbarrier_t b;
  _Atomic uint64_t lane;
  double timeout;
  int32_t action;
  uint32_t arg_size;
  unsigned char arg[]; /* arg_size bytes */
} bar_body_t;

_Static_assert(sizeof(sem_body_t) <= 64 && sizeof(ev_body_t) <= 64 &&
                   sizeof(cond_body_t) <= 64,
               "a primitive and its lane share one line");
/* (a Barrier spans two lines; its lane sits with its condition and state,
 * which every wait writes) */
_Static_assert(offsetof(bar_body_t, lane) / 64 ==
                   offsetof(mpmp__shbarrier_t, state) / 64,
               "the Barrier's lane is on the line of its state");

static sem_body_t *semb(mpmp__obj_t *o) { return mpmp__obj_data(o); }
static ev_body_t *evb(mpmp__obj_t *o) { return mpmp__obj_data(o); }
static cond_body_t *condb(mpmp__obj_t *o) { return mpmp__obj_data(o); }
static bar_body_t *barb(mpmp__obj_t *o) { return mpmp__obj_data(o); }
static mpmp__shsem_t *sem_of(mpmp__obj_t *o) { return &semb(o)->s; }
static mpmp__shevent_t *ev_of(mpmp__obj_t *o) { return &evb(o)->e; }
static mpmp__shcond_t *cond_of(mpmp__obj_t *o) { return &condb(o)->c; }
static mpmp__shbarrier_t *bar_of(mpmp__obj_t *o) { return &barb(o)->b; }

/* An operation on the lock an object uses: its own, or a Condition's
 * external Lock, on which it then holds a reference while it runs (it may
 * sleep there, and the Lock may be freed meanwhile). */
typedef int (*lock_op_fn)(mpmp__obj_t *o, mpmp__shlock_t *l,
                          mpmp__oparg_t *a);

static int with_lock(mpmp__obj_t *o, mpmp__oparg_t *a, lock_op_fn fn) {
  mpmp__obj_t *held;
  mpmp__shlock_t *l = mpmp__obj_lock_enter(o, &held);
  if (l == NULL)
    return MPMP_EBADF;
  int rc = fn(o, l, a);
  if (held != NULL) {
    if (rc == MPMP_EBADF && mpmp__obj_dead(held))
      rc = mpmp__err(rc, "the Lock of this Condition was freed %s",
                     a->deadline != -INFINITY ? "while this call waited"
                                              : "during this call");
    mpmp__obj_leave(held, mpmp__lock_lane(l));
  }
  return rc;
}

static int lock_acquire(mpmp__obj_t *o, mpmp__shlock_t *l, mpmp__oparg_t *a) {
  (void)o;
  return mpmp__shlock_acquire(l, a->owner, a->deadline);
}

/* A Lock (not recursive: a user's Lock; every embedded lock is an RLock)
 * is Python's multiprocessing.Lock, a semaphore of one: any process may
 * release it while it is held, and a release of a free one is refused. */
#define NOT_HELD "the Lock is not held (released more often than acquired)"
static int lock_not_held(const char *fn) {
  return mpmp__err(MPMP_EPERM, "%s: " NOT_HELD, fn);
}

static int lock_release(mpmp__obj_t *o, mpmp__shlock_t *l, mpmp__oparg_t *a) {
  (void)o;
  if (!l->recursive) /* (the caller names the call: mpmp__obj_call) */
    return mpmp__shlock_release_any(l) == 0
               ? 0 : mpmp__err(MPMP_EPERM, NOT_HELD);
  if (mpmp__shlock_owner(l) != a->owner)
    return mpmp__err(MPMP_EPERM, "release of a lock this process and thread "
                     "do not hold (rank %d)", mpmp__owner_rank(a->owner));
  return mpmp__shlock_release(l, a->owner);
}

/* x 1: locked() (held by anyone); else: held by the caller. */
static int lock_mine(mpmp__obj_t *o, mpmp__shlock_t *l, mpmp__oparg_t *a) {
  (void)o;
  if (a->x == 1)
    return mpmp__shlock_locked(l);
  return mpmp__shlock_owner(l) == a->owner;
}

static int op_lock_acquire(mpmp__obj_t *o, mpmp__oparg_t *a) {
  return with_lock(o, a, lock_acquire);
}

static int op_lock_release(mpmp__obj_t *o, mpmp__oparg_t *a) {
  return with_lock(o, a, lock_release);
}

static int op_lock_mine(mpmp__obj_t *o, mpmp__oparg_t *a) {
  return with_lock(o, a, lock_mine);
}

static int op_sem_acquire(mpmp__obj_t *o, mpmp__oparg_t *a) {
  return mpmp__shsem_acquire(sem_of(o), a->deadline);
}

static int op_sem_release(mpmp__obj_t *o, mpmp__oparg_t *a) {
  (void)a;
  return mpmp__shsem_release(sem_of(o), 1);
}

static int op_sem_value(mpmp__obj_t *o, mpmp__oparg_t *a) {
  (void)a;
  return (int)mpmp__shsem_value(sem_of(o));
}

static int op_ev_set(mpmp__obj_t *o, mpmp__oparg_t *a) {
  (void)a;
  mpmp__shevent_set(ev_of(o));
  return 0;
}

static int op_ev_clear(mpmp__obj_t *o, mpmp__oparg_t *a) {
  (void)a;
  mpmp__shevent_clear(ev_of(o));
  return 0;
}

static int op_ev_is_set(mpmp__obj_t *o, mpmp__oparg_t *a) {
  (void)a;
  return mpmp__shevent_is_set(ev_of(o));
}

static int op_ev_wait(mpmp__obj_t *o, mpmp__oparg_t *a) {
  return mpmp__shevent_wait(ev_of(o), a->deadline);
}

/* A Condition freed while this waits: MPMP_EBADF (object.c says so),
 * its own lock gone with it, or a Lock of the user's taken back first. */
static int cond_wait(mpmp__obj_t *o, mpmp__shlock_t *l, mpmp__oparg_t *a) {
  int rc = mpmp__shcond_wait(cond_of(o), l, a->owner, a->deadline);
  return rc == MPMP_EPERM
             ? mpmp__err(rc, "wait on a Condition whose lock this process "
                         "and thread do not hold: acquire it first")
             : rc;
}

static int cond_notify(mpmp__obj_t *o, mpmp__shlock_t *l, mpmp__oparg_t *a) {
  if (mpmp__shlock_owner(l) != a->owner)
    return mpmp__err(MPMP_EPERM, "notify on a Condition whose lock this "
                     "process and thread do not hold: acquire it first");
  mpmp__shcond_notify(cond_of(o), (unsigned)a->x);
  return 0;
}

static int op_cond_wait(mpmp__obj_t *o, mpmp__oparg_t *a) {
  return with_lock(o, a, cond_wait);
}

static int op_cond_notify(mpmp__obj_t *o, mpmp__oparg_t *a) {
  return with_lock(o, a, cond_notify);
}

/* x 1: the caller asked for the barrier's default timeout, which is read
 * here, on its home node (whose clock the deadline is on). r0: the action
 * (task id + 1) that the caller, the last to arrive, must run before the
 * others are released (then MPMP__OP_BAR_ACTED); 0 otherwise. */
static int op_bar_wait(mpmp__obj_t *o, mpmp__oparg_t *a) {
  unsigned index = 0;
  bar_body_t *bb = barb(o);
  if (a->x == 1)
    a->deadline = mpmp__deadline(bb->timeout);
  a->r0 = 0;
  int rc = mpmp__shbarrier_wait_act(&bb->b, a->deadline, &index,
                                    bb->action != 0, mpmp__owner_id());
  if (rc == MPMP__SHBARRIER_ACT) {
    a->r0 = bb->action;
    a->out_len = bb->arg_size <= a->out_max ? bb->arg_size : 0;
    if (a->out_len > 0)
      memcpy(a->out, bb->arg, a->out_len);
  }
  return rc < 0 ? rc : (int)index;
}

static int op_bar_acted(mpmp__obj_t *o, mpmp__oparg_t *a) {
  return mpmp__shbarrier_acted(bar_of(o), a->x == 1);
}

static int op_bar_abort(mpmp__obj_t *o, mpmp__oparg_t *a) {
  (void)a;
  mpmp__shbarrier_abort(bar_of(o));
  return 0;
}

static int op_bar_reset(mpmp__obj_t *o, mpmp__oparg_t *a) {
  (void)a;
  mpmp__shbarrier_reset(bar_of(o));
  return 0;
}

static int op_bar_broken(mpmp__obj_t *o, mpmp__oparg_t *a) {
  (void)a;
  return mpmp__shbarrier_broken(bar_of(o));
}

static int op_bar_waiting(mpmp__obj_t *o, mpmp__oparg_t *a) {
  (void)a;
  return (int)mpmp__shbarrier_n_waiting(bar_of(o));
}

/* ---- lifetime: lanes, and kills that wake every waiter (object.c) -------- */

/* A Lock object's lock ops count in its lock's lane (object.c's choice
 * for every lock); FREE and INFO go to the header. */
static void kill_lock(mpmp__obj_t *o) {
  mpmp__shlock_t *l = mpmp__obj_own_lock(o);
  mpmp__shlock_kill(l);
  mpmp__lane_close(o, mpmp__lock_lane(l));
}

static void kill_sem(mpmp__obj_t *o) {
  mpmp__shsem_kill(sem_of(o));
  mpmp__lane_close(o, &semb(o)->lane);
}

static void kill_event(mpmp__obj_t *o) {
  mpmp__shevent_kill(ev_of(o));
  mpmp__lane_close(o, &evb(o)->lane);
}

/* (a Condition's own RLock is object.c's to kill, as an embedded lock) */
static void kill_cond(mpmp__obj_t *o) {
  mpmp__shcond_kill(cond_of(o));
  mpmp__lane_close(o, &condb(o)->lane);
}

static void kill_barrier(mpmp__obj_t *o) {
  mpmp__shbarrier_kill(bar_of(o));
  mpmp__lane_close(o, &barb(o)->lane);
}

void mpmp__sync_setup(int is_main) {
  (void)is_main;
  static const struct {
    int op;
    mpmp__op_fn fn;
    int blocking;
  } table[] = {
      {MPMP__OP_LOCK_ACQUIRE, op_lock_acquire, MPMP__OPB_TRY},
      {MPMP__OP_LOCK_RELEASE, op_lock_release, MPMP__OPB_NO},
      {MPMP__OP_LOCK_MINE, op_lock_mine, MPMP__OPB_NO},
      {MPMP__OP_SEM_ACQUIRE, op_sem_acquire, MPMP__OPB_TRY},
      {MPMP__OP_SEM_RELEASE, op_sem_release, MPMP__OPB_NO},
      {MPMP__OP_SEM_VALUE, op_sem_value, MPMP__OPB_NO},
      {MPMP__OP_EV_SET, op_ev_set, MPMP__OPB_NO},
      {MPMP__OP_EV_CLEAR, op_ev_clear, MPMP__OPB_NO},
      {MPMP__OP_EV_IS_SET, op_ev_is_set, MPMP__OPB_NO},
      {MPMP__OP_EV_WAIT, op_ev_wait, MPMP__OPB_TRY},
      {MPMP__OP_COND_WAIT, op_cond_wait, MPMP__OPB_ALWAYS},
      {MPMP__OP_COND_NOTIFY, op_cond_notify, MPMP__OPB_NO},
      {MPMP__OP_BAR_WAIT, op_bar_wait, MPMP__OPB_ALWAYS},
      {MPMP__OP_BAR_ABORT, op_bar_abort, MPMP__OPB_NO},
      {MPMP__OP_BAR_RESET, op_bar_reset, MPMP__OPB_NO},
      {MPMP__OP_BAR_BROKEN, op_bar_broken, MPMP__OPB_NO},
      {MPMP__OP_BAR_WAITING, op_bar_waiting, MPMP__OPB_NO},
      {MPMP__OP_BAR_ACTED, op_bar_acted, MPMP__OPB_NO},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    mpmp__op_register(table[i].op, table[i].fn, table[i].blocking);
  mpmp__kind_register(MPMP__K_LOCK, &(mpmp__kind_ops_t){kill_lock, 0});
  mpmp__kind_register(MPMP__K_SEM, &(mpmp__kind_ops_t){kill_sem, 0});
  mpmp__kind_register(MPMP__K_EVENT, &(mpmp__kind_ops_t){kill_event, 0});
  mpmp__kind_register(MPMP__K_COND, &(mpmp__kind_ops_t){kill_cond, 0});
  mpmp__kind_register(MPMP__K_BARRIER,
                      &(mpmp__kind_ops_t){kill_barrier, 0});
  /* every call of a kind but its free and info counts in its lane */
  for (int op = MPMP__OP_SEM_ACQUIRE; op <= MPMP__OP_SEM_VALUE; op++)
    mpmp__lane_register(MPMP__K_SEM, op, offsetof(sem_body_t, lane));
  for (int op = MPMP__OP_EV_SET; op <= MPMP__OP_EV_WAIT; op++)
    mpmp__lane_register(MPMP__K_EVENT, op, offsetof(ev_body_t, lane));
  mpmp__lane_register(MPMP__K_COND, MPMP__OP_COND_WAIT,
                      offsetof(cond_body_t, lane));
  mpmp__lane_register(MPMP__K_COND, MPMP__OP_COND_NOTIFY,
                      offsetof(cond_body_t, lane));
  for (int op = MPMP__OP_BAR_WAIT; op <= MPMP__OP_BAR_ACTED; op++)
    mpmp__lane_register(MPMP__K_BARRIER, op, offsetof(bar_body_t, lane));
}

/* ---- the public calls -------------------------------------------------------- */

/* One operation that does not wait (its deadline: try once). */
static int call(const mpmp_ref_t *ref, int kind, int op, int64_t x,
                const char *fn) {
  mpmp__oparg_t a = {.x = x, .deadline = -INFINITY};
  return mpmp__obj_call(ref, kind, op, &a, fn);
}

/* One that may wait: the caller's timeout (seconds; negative: forever; 0:
 * try once) as mpmp__timeout makes it a deadline, a NaN refused before
 * anything is done. */
static int call_until(const mpmp_ref_t *ref, int kind, int op,
                      double deadline, const char *fn) {
  mpmp__oparg_t a = {.deadline = deadline};
  return mpmp__obj_call(ref, kind, op, &a, fn);
}
static int call_wait(const mpmp_ref_t *ref, int kind, int op, double timeout,
                     const char *fn) {
  double deadline;
  int rc = mpmp__timeout(timeout, &deadline, fn);
  return rc < 0 ? rc : call_until(ref, kind, op, deadline, fn);
}

/* mpmp__timeout for Lock's hot path: forever and try-once, what almost
 * every acquire asks for, cost no call (mpmp__timeout's own answers for
 * them); anything else, a NaN included (it fails both tests), goes
 * through it. */
static inline int lock_deadline(double timeout, double *deadline,
                                const char *fn) {
  if (timeout < 0 || timeout == 0) {
    *deadline = timeout < 0 ? INFINITY : -INFINITY;
    return 0;
  }
  return mpmp__timeout(timeout, deadline, fn);
}

/* The hot path of Lock: a lock on this node, straight to shsync (*o: the
 * object that holds it). */
static mpmp__shlock_t *local_lock(const mpmp_ref_t *ref, mpmp__obj_t **o) {
  *o = mpmp__obj_local(ref, MPMP__K_LOCK);
  return *o != NULL && !((*o)->flags & MPMP__OF_EXTLOCK)
             ? mpmp__obj_own_lock(*o) : NULL;
}

/* An acquire of a local lock that may wait. It counts itself in the
 * lock's lane (object.c, "Lifetime"), so that a free wakes it and keeps
 * the memory until it has left: on the lock's own line, which the acquire
 * writes anyway; and straight, not through mpmp__obj_call, which would
 * validate the handle again and dispatch. A contended lock takes this path
 * at most turns: through mpmp__obj_call, mpmp-bench value_locked_add_per_s
 * (2 ranks) lost about 9%; this way it measures as before, within noise. */
static int lock_wait(const mpmp_ref_t *ref, mpmp__obj_t *o,
                     mpmp__shlock_t *l, double deadline, const char *fn) {
  _Atomic uint64_t *lane = mpmp__lock_lane(l);
  if (!mpmp__obj_enter(o, lane, ref->gen))
    return mpmp__err(MPMP_EBADF, "%s: stale handle: the object was freed",
                     fn);
  int rc = mpmp__shlock_acquire(l, mpmp__owner_id(), deadline);
  if (rc == MPMP_EBADF) { /* only a kill makes shsync say so */
    mpmp__obj_freed(o, MPMP__K_LOCK, deadline != -INFINITY);
    rc = mpmp__err(rc, "%s: %s", fn, mpmp_errmsg());
  } else if (rc == MPMP_ETIMEDOUT) {
    rc = mpmp__err(rc, "%s: timed out", fn);
  } else if (rc == MPMP_EOWNERDEAD || rc == MPMP_ENOTINIT) {
    /* held (shsync took it over), or mpmp_finalize() came */
    rc = mpmp__err(rc, "%s: %s", fn, mpmp_errmsg());
  }
  mpmp__obj_leave(o, lane);
  mpmp__waits_leave(); /* off the segment: see shsync.h */
  return rc;
}

static int free_as(const mpmp_ref_t *ref, int kind, const char *fn) {
  int rc = mpmp__obj_guard(fn); /* (object.h) */
  return rc < 0 ? rc
                : mpmp__obj_unguard(call(ref, kind, MPMP__OP_FREE, kind, fn));
}

static int create_lock_in(mpmp_lock_t *lock, int recursive, const char *fn);

/* Creates are guarded against a finalize in another thread (object.h). */
static int create_lock(mpmp_lock_t *lock, int recursive, const char *fn) {
  mpmp__ref_clear(lock ? &lock->ref : NULL);
  int rc = mpmp__obj_guard(fn);
  return rc < 0 ? rc : mpmp__obj_unguard(create_lock_in(lock, recursive, fn));
}

static int create_lock_in(mpmp_lock_t *lock, int recursive, const char *fn) {
  mpmp__obj_t *o;
  int rc = mpmp__obj_create(lock ? &lock->ref : NULL, MPMP__K_LOCK,
                            recursive, 0, 0, MPMP__LOCK_SLOT, 0, &o, fn);
  if (rc == 0) {
    mpmp__shlock_init(mpmp__obj_data(o), recursive);
    mpmp__lane_open(o, mpmp__lock_lane(mpmp__obj_data(o)));
  }
  return rc;
}

MPMP_API int mpmp_lock_create(mpmp_lock_t *lock) {
  return create_lock(lock, 0, "mpmp_lock_create");
}
MPMP_API int mpmp_rlock_create(mpmp_lock_t *lock) {
  return create_lock(lock, 1, "mpmp_rlock_create");
}
MPMP_API int mpmp_lock_free(mpmp_lock_t lock) {
  return free_as(&lock.ref, MPMP__K_LOCK, "mpmp_lock_free");
}
/* A free lock (or an RLock's next level) is taken here, uncounted: the
 * hot path stays a CAS on the lock's own line (see object.c, "Lifetime").
 * One that may wait is counted (lock_wait). */
MPMP_API int mpmp_lock_acquire(mpmp_lock_t lock, double timeout) {
  const char *fn = "mpmp_lock_acquire";
  mpmp__obj_t *o;
  double deadline;
  int rc = lock_deadline(timeout, &deadline, fn);
  if (rc < 0 || (rc = mpmp__obj_fence_call(&lock.ref, &deadline, fn)) < 0)
    return rc; /* (the fence: no longer than the timeout, object.c) */
  mpmp__shlock_t *l = local_lock(&lock.ref, &o);
  if (l != NULL) {
    if (mpmp__shlock_try(l, mpmp__owner_id()))
      return 0;
    return lock_wait(&lock.ref, o, l, deadline, fn);
  }
  /* (the deadline the fence waited against: one budget for both) */
  return call_until(&lock.ref, MPMP__K_LOCK, MPMP__OP_LOCK_ACQUIRE, deadline,
                    fn);
}
MPMP_API int mpmp_lock_release(mpmp_lock_t lock) {
  mpmp__obj_t *o;
  mpmp__shlock_t *l = local_lock(&lock.ref, &o);
  if (l != NULL && !l->recursive) /* Python's Lock: anyone's release */
    return mpmp__shlock_release_any(l) == 0
               ? 0 : lock_not_held("mpmp_lock_release");
  uint64_t me = mpmp__owner_id();
  if (l != NULL && mpmp__shlock_owner(l) == me)
    return mpmp__shlock_release(l, me);
  return call(&lock.ref, MPMP__K_LOCK, MPMP__OP_LOCK_RELEASE, 0,
              "mpmp_lock_release");
}
MPMP_API int mpmp_lock_is_mine(mpmp_lock_t lock) {
  return call(&lock.ref, MPMP__K_LOCK, MPMP__OP_LOCK_MINE, 0,
              "mpmp_lock_is_mine");
}
MPMP_API int mpmp_lock_locked(mpmp_lock_t lock) {
  return call(&lock.ref, MPMP__K_LOCK, MPMP__OP_LOCK_MINE, 1,
              "mpmp_lock_locked");
}

static int create_sem_in(mpmp_sem_t *sem, unsigned value, int bounded,
                         const char *fn);

static int create_sem(mpmp_sem_t *sem, unsigned value, int bounded,
                      const char *fn) {
  mpmp__ref_clear(sem ? &sem->ref : NULL);
  int rc = mpmp__obj_guard(fn);
  return rc < 0 ? rc
                : mpmp__obj_unguard(create_sem_in(sem, value, bounded, fn));
}

static int create_sem_in(mpmp_sem_t *sem, unsigned value, int bounded,
                         const char *fn) {
  if (value > INT32_MAX)
    return mpmp__err(MPMP_EINVAL, "%s: value %u is over %d", fn, value,
                     INT32_MAX);
  mpmp__obj_t *o;
  int rc = mpmp__obj_create(sem ? &sem->ref : NULL, MPMP__K_SEM, bounded, 0,
                            0, sizeof(sem_body_t), 0, &o, fn);
  if (rc == 0) {
    if (bounded)
      mpmp__shsem_init_bounded(sem_of(o), value);
    else
      mpmp__shsem_init(sem_of(o), value, 0);
    mpmp__lane_open(o, &semb(o)->lane);
  }
  return rc;
}

MPMP_API int mpmp_sem_create(mpmp_sem_t *sem, unsigned value) {
  return create_sem(sem, value, 0, "mpmp_sem_create");
}
/* BoundedSemaphore(0) is allowed, as Python allows it: it starts at 0
 * and every release is refused (released too many times). */
MPMP_API int mpmp_bsem_create(mpmp_sem_t *sem, unsigned value) {
  return create_sem(sem, value, 1, "mpmp_bsem_create");
}
MPMP_API int mpmp_sem_free(mpmp_sem_t sem) {
  return free_as(&sem.ref, MPMP__K_SEM, "mpmp_sem_free");
}
MPMP_API int mpmp_sem_acquire(mpmp_sem_t sem, double timeout) {
  return call_wait(&sem.ref, MPMP__K_SEM, MPMP__OP_SEM_ACQUIRE, timeout,
                   "mpmp_sem_acquire");
}
MPMP_API int mpmp_sem_release(mpmp_sem_t sem) {
  return call(&sem.ref, MPMP__K_SEM, MPMP__OP_SEM_RELEASE, 0,
              "mpmp_sem_release");
}
MPMP_API int mpmp_sem_value(mpmp_sem_t sem) {
  return call(&sem.ref, MPMP__K_SEM, MPMP__OP_SEM_VALUE, 0, "mpmp_sem_value");
}

static int event_create_in(mpmp_event_t *ev);

MPMP_API int mpmp_event_create(mpmp_event_t *ev) {
  mpmp__ref_clear(ev ? &ev->ref : NULL);
  int rc = mpmp__obj_guard("mpmp_event_create");
  return rc < 0 ? rc : mpmp__obj_unguard(event_create_in(ev));
}

static int event_create_in(mpmp_event_t *ev) {
  mpmp__obj_t *o;
  int rc = mpmp__obj_create(ev ? &ev->ref : NULL, MPMP__K_EVENT, 0, 0, 0,
                            sizeof(ev_body_t), 0, &o, "mpmp_event_create");
  if (rc == 0)
    mpmp__lane_open(o, &evb(o)->lane);
  return rc;
}
MPMP_API int mpmp_event_free(mpmp_event_t ev) {
  return free_as(&ev.ref, MPMP__K_EVENT, "mpmp_event_free");
}
MPMP_API int mpmp_event_set(mpmp_event_t ev) {
  return call(&ev.ref, MPMP__K_EVENT, MPMP__OP_EV_SET, 0, "mpmp_event_set");
}
MPMP_API int mpmp_event_clear(mpmp_event_t ev) {
  return call(&ev.ref, MPMP__K_EVENT, MPMP__OP_EV_CLEAR, 0,
              "mpmp_event_clear");
}
MPMP_API int mpmp_event_is_set(mpmp_event_t ev) {
  return call(&ev.ref, MPMP__K_EVENT, MPMP__OP_EV_IS_SET, 0,
              "mpmp_event_is_set");
}
MPMP_API int mpmp_event_wait(mpmp_event_t ev, double timeout) {
  return call_wait(&ev.ref, MPMP__K_EVENT, MPMP__OP_EV_WAIT, timeout,
                   "mpmp_event_wait");
}

static int cond_create_in(mpmp_cond_t *cond, const mpmp_lock_t *lock);

MPMP_API int mpmp_cond_create(mpmp_cond_t *cond, const mpmp_lock_t *lock) {
  if (cond != NULL && (const void *)cond != (const void *)lock)
    mpmp__ref_clear(&cond->ref); /* (a lock passed as its own output: the
                                    create's checks refuse it) */
  int rc = mpmp__obj_guard("mpmp_cond_create");
  return rc < 0 ? rc : mpmp__obj_unguard(cond_create_in(cond, lock));
}

static int cond_create_in(mpmp_cond_t *cond, const mpmp_lock_t *lock) {
  const char *fn = "mpmp_cond_create";
  int rc;
  if (lock != NULL) {
    if ((rc = mpmp__check_init(fn)) < 0 ||
        (rc = mpmp__ref_check(&lock->ref, MPMP__K_LOCK, fn)) < 0)
      return rc;
    if (!mpmp__ref_is_local(&lock->ref))
      return mpmp__err(MPMP_EINVAL, "%s: the Lock lives on node %u, but a "
                       "Condition is created on this rank's node (%d) and "
                       "must share it: create the Lock on this node",
                       fn, lock->ref.node, mpmp__net.node);
    if (mpmp__obj_resolve(&lock->ref) == NULL)
      return mpmp__err(MPMP_EBADF, "%s: stale Lock handle: it was freed", fn);
  }
  mpmp__obj_t *o;
  rc = mpmp__obj_create(cond ? &cond->ref : NULL, MPMP__K_COND, 0, 0, 0,
                        sizeof(cond_body_t), lock == NULL, &o, fn);
  if (rc < 0)
    return rc;
  if (lock != NULL) {
    o->flags |= MPMP__OF_EXTLOCK;
    o->ext = lock->ref;
  }
  mpmp__lane_open(o, &condb(o)->lane);
  return 0;
}
MPMP_API int mpmp_cond_free(mpmp_cond_t cond) {
  return free_as(&cond.ref, MPMP__K_COND, "mpmp_cond_free");
}
MPMP_API int mpmp_cond_get_lock(mpmp_cond_t cond, mpmp_lock_t *lock) {
  int rc = mpmp__obj_alive(&cond.ref, MPMP__K_COND, "mpmp_cond_get_lock");
  if (rc < 0)
    return rc;
  if (lock == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_cond_get_lock: lock is NULL");
  mpmp__obj_lock_ref(&cond.ref, &lock->ref); /* follows an external lock */
  return 0;
}
/* The condition's lock handle, for calls that use it at once (they find a
 * freed condition themselves). */
static int cond_lock(mpmp_cond_t cond, mpmp_lock_t *l, const char *fn) {
  int rc = mpmp__check_init(fn);
  if (rc < 0 || (rc = mpmp__ref_check(&cond.ref, MPMP__K_COND, fn)) < 0)
    return rc;
  mpmp__obj_lock_ref(&cond.ref, &l->ref);
  return 0;
}

MPMP_API int mpmp_cond_acquire(mpmp_cond_t cond, double timeout) {
  mpmp_lock_t l;
  int rc = cond_lock(cond, &l, "mpmp_cond_acquire");
  return rc < 0 ? rc : call_wait(&l.ref, MPMP__K_LOCK, MPMP__OP_LOCK_ACQUIRE,
                                 timeout, "mpmp_cond_acquire");
}
MPMP_API int mpmp_cond_release(mpmp_cond_t cond) {
  mpmp_lock_t l;
  int rc = cond_lock(cond, &l, "mpmp_cond_release");
  return rc < 0 ? rc : call(&l.ref, MPMP__K_LOCK, MPMP__OP_LOCK_RELEASE, 0,
                            "mpmp_cond_release");
}

static int cond_wait_until(mpmp_cond_t cond, double deadline, const char *fn) {
  return call_until(&cond.ref, MPMP__K_COND, MPMP__OP_COND_WAIT, deadline, fn);
}

MPMP_API int mpmp_cond_wait(mpmp_cond_t cond, double timeout) {
  double deadline;
  int rc = mpmp__timeout(timeout, &deadline, "mpmp_cond_wait");
  return rc < 0 ? rc : cond_wait_until(cond, deadline, "mpmp_cond_wait");
}

MPMP_API int mpmp_cond_wait_for(mpmp_cond_t cond, int (*pred)(void *arg),
                                void *arg, double timeout) {
  const char *fn = "mpmp_cond_wait_for";
  double deadline;
  mpmp_lock_t l;
  int rc = mpmp__timeout(timeout, &deadline, fn);
  if (rc < 0 || (rc = cond_lock(cond, &l, fn)) < 0)
    return rc;
  if (pred == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: pred is NULL", fn);
  if ((rc = call(&l.ref, MPMP__K_LOCK, MPMP__OP_LOCK_MINE, 0, fn)) <= 0)
    return rc < 0 ? rc : mpmp__err(MPMP_EPERM, "%s: this process and thread "
                                   "do not hold the Condition's lock: "
                                   "acquire it first", fn);
  while (!pred(arg)) {
    rc = cond_wait_until(cond, deadline, fn);
    if (rc == MPMP_ETIMEDOUT)
      return pred(arg) ? 0 : rc;
    if (rc < 0)
      return rc;
  }
  return 0;
}

MPMP_API int mpmp_cond_notify(mpmp_cond_t cond, unsigned n) {
  return call(&cond.ref, MPMP__K_COND, MPMP__OP_COND_NOTIFY, n,
              "mpmp_cond_notify");
}
MPMP_API int mpmp_cond_notify_all(mpmp_cond_t cond) {
  return call(&cond.ref, MPMP__K_COND, MPMP__OP_COND_NOTIFY, UINT32_MAX,
              "mpmp_cond_notify_all");
}

static int barrier_create_in(mpmp_barrier_t *b, unsigned parties,
                             mpmp_task_fn action, const void *arg,
                             size_t arg_size, double timeout, const char *fn);

static int barrier_create(mpmp_barrier_t *b, unsigned parties,
                          mpmp_task_fn action, const void *arg,
                          size_t arg_size, double timeout, const char *fn) {
  mpmp__ref_clear(b ? &b->ref : NULL);
  int rc = mpmp__obj_guard(fn);
  return rc < 0 ? rc
                : mpmp__obj_unguard(barrier_create_in(b, parties, action, arg,
                                                      arg_size, timeout, fn));
}

static int barrier_create_in(mpmp_barrier_t *b, unsigned parties,
                             mpmp_task_fn action, const void *arg,
                             size_t arg_size, double timeout, const char *fn) {
  int id = -1, rc;
  if (arg_size > MPMP_BARRIER_MAX_ARG || (arg == NULL && arg_size > 0))
    return mpmp__err(MPMP_EINVAL, "%s: the action's argument must be NULL "
                     "with size 0, or at most %d bytes (not %zu): pass a "
                     "handle to larger data", fn, MPMP_BARRIER_MAX_ARG,
                     arg_size);
  if (isnan(timeout))
    return mpmp__err(MPMP_EINVAL, "%s: the default timeout is NaN: give "
                     "seconds, or a negative value for none", fn);
  if ((rc = mpmp__check_extent(arg, 1, arg_size, "the action's argument",
                               fn)) < 0)
    return rc;
  if (action != NULL && (rc = mpmp__check_init(fn)) < 0)
    return rc;
  if (action != NULL && (id = mpmp__task_id(action, NULL)) < 0) {
    char why[256]; /* (mpmp__err writes the buffer mpmp_errmsg() reads) */
    snprintf(why, sizeof why, "%s", mpmp_errmsg());
    return mpmp__err(id, "%s: the action is not a registered task: put "
                     "MPMP_TASK(fn); next to it (%s)", fn, why);
  }
  if (parties == 0 || parties > INT32_MAX)
    return mpmp__err(MPMP_EINVAL, "%s: parties must be 1..%d, not %u", fn,
                     INT32_MAX, parties);
  mpmp__obj_t *o;
  rc = mpmp__obj_create(b ? &b->ref : NULL, MPMP__K_BARRIER, 0, parties,
                            0, sizeof(bar_body_t) + arg_size, 0, &o, fn);
  if (rc == 0) {
    mpmp__shbarrier_init(bar_of(o), parties);
    barb(o)->timeout = timeout;
    barb(o)->action = id + 1;
    barb(o)->arg_size = (uint32_t)arg_size;
    if (arg_size > 0)
      memcpy(barb(o)->arg, arg, arg_size);
    mpmp__lane_open(o, &barb(o)->lane);
  }
  return rc;
}

MPMP_API int mpmp_barrier_create(mpmp_barrier_t *b, unsigned parties) {
  return barrier_create(b, parties, NULL, NULL, 0, -1.0,
                        "mpmp_barrier_create");
}
MPMP_API int mpmp_barrier_create_ex(mpmp_barrier_t *b, unsigned parties,
                                    mpmp_task_fn action, const void *arg,
                                    size_t arg_size, double timeout) {
  return barrier_create(b, parties, action, arg, arg_size, timeout,
                        "mpmp_barrier_create_ex");
}
MPMP_API int mpmp_barrier_free(mpmp_barrier_t b) {
  return free_as(&b.ref, MPMP__K_BARRIER, "mpmp_barrier_free");
}
/* Run the barrier's action (task id + 1 = `action`) here, in the party
 * that completed the round, as Python runs it in one of the waiting
 * threads; then let the others go (or break the barrier if it failed). */
static int run_action(const mpmp_ref_t *ref, int64_t action,
                      const void *arg, size_t arg_size, int index,
                      const char *fn) {
  const mpmp__task_entry_t *t = mpmp__task_get((int)action - 1);
  mpmp_ctx_t ctx = {.arg = arg, .arg_size = arg_size};
  int ret = t != NULL ? t->fn(&ctx)
                      : mpmp_fail(&ctx, "unknown task id %d", (int)action - 1);
  int ok = ret >= 0 && ctx.errmsg == NULL;
  mpmp__oparg_t a = {.x = ok, .deadline = -INFINITY};
  int rc = mpmp__obj_call(ref, MPMP__K_BARRIER, MPMP__OP_BAR_ACTED, &a, fn);
  if (!ok)
    rc = mpmp__err(MPMP_ETASK, "%s: the Barrier's action %s failed, which "
                   "broke the barrier: %s", fn, t ? t->name : "?",
                   ctx.errmsg ? ctx.errmsg : "it returned an error code");
  else if (rc == MPMP_EBROKEN)
    rc = mpmp__err(rc, "%s: the barrier was broken or reset while its "
                   "action ran", fn);
  mpmp__ctx_fini(&ctx);
  return rc < 0 ? rc : index;
}

MPMP_API int mpmp_barrier_wait(mpmp_barrier_t b, double timeout) {
  const char *fn = "mpmp_barrier_wait";
  /* (the action's argument comes back in argbuf, with r0) */
  unsigned char argbuf[MPMP_BARRIER_MAX_ARG + 1];
  mpmp__oparg_t a = {.out = argbuf, .out_max = MPMP_BARRIER_MAX_ARG};
  int rc = 0;
  if (timeout == MPMP_DEFAULT_TIMEOUT) {
    a.x = 1; /* the home node reads the barrier's default ... */
    a.deadline = INFINITY; /* ... and sets the deadline (its clock) */
  } else {
    rc = mpmp__timeout(timeout, &a.deadline, fn);
  }
  if (rc == 0)
    rc = mpmp__obj_call(&b.ref, MPMP__K_BARRIER, MPMP__OP_BAR_WAIT, &a, fn);
  if (rc >= 0 && a.r0 != 0)
    return run_action(&b.ref, a.r0, argbuf, a.out_len, rc, fn);
  if (rc == MPMP_EBROKEN && strstr(mpmp_errmsg(), "broken") == NULL)
    return mpmp__err(rc, "mpmp_barrier_wait: the barrier is broken");
  return rc;
}
MPMP_API int mpmp_barrier_abort(mpmp_barrier_t b) {
  return call(&b.ref, MPMP__K_BARRIER, MPMP__OP_BAR_ABORT, 0,
              "mpmp_barrier_abort");
}
MPMP_API int mpmp_barrier_reset(mpmp_barrier_t b) {
  return call(&b.ref, MPMP__K_BARRIER, MPMP__OP_BAR_RESET, 0,
              "mpmp_barrier_reset");
}
MPMP_API int mpmp_barrier_broken(mpmp_barrier_t b) {
  return call(&b.ref, MPMP__K_BARRIER, MPMP__OP_BAR_BROKEN, 0,
              "mpmp_barrier_broken");
}
MPMP_API int mpmp_barrier_n_waiting(mpmp_barrier_t b) {
  return call(&b.ref, MPMP__K_BARRIER, MPMP__OP_BAR_WAITING, 0,
              "mpmp_barrier_n_waiting");
}
MPMP_API int mpmp_barrier_parties(mpmp_barrier_t b) {
  mpmp__oparg_t a = {0};
  int rc = mpmp__obj_call(&b.ref, MPMP__K_BARRIER, MPMP__OP_INFO, &a,
                          "mpmp_barrier_parties");
  return rc < 0 ? rc : (int)a.r0;
}
