/*
 * Synchronization primitives that live in shared memory: Lock/RLock,
 * Semaphore/BoundedSemaphore, Event, Condition and Barrier with Python's
 * threading/multiprocessing semantics, for processes (the ranks of one
 * node) that map the same segment, possibly at different addresses.
 *
 * Every object is a fixed-size struct with no pointers inside, operated on
 * with C11 atomics; waiters sleep in the kernel on (non-private, so
 * cross-process) Linux futexes and are woken by the releasing side. An
 * all-zero object is valid: an unlocked Lock, a Semaphore of value 0
 * (unbounded), a clear Event, a Condition; a Barrier needs its init.
 *
 * Blocking calls take an absolute `deadline` in mpmp__now() seconds (see
 * mpmp__deadline(): +INFINITY waits forever, a deadline already past tries
 * once) and return MPMP_ETIMEDOUT when it passes; the object stays usable.
 *
 * An `owner` is the caller's 64-bit id (rank and thread combined), never 0
 * (object.c draws them; the layout is below).
 *
 * Killing: every primitive has a kill call that marks it dead and wakes
 * all of its sleepers; from then on every call that would wait (and every
 * waiter, as soon as it wakes) returns MPMP_EBADF instead, with no message
 * (the caller knows what was freed). The memory must stay mapped until
 * every caller has left (object.c counts them). A call that completes at
 * once (a free lock, a set event) may still complete on a dead primitive:
 * it raced with the kill and came first.
 *
 * Dead owners. A rank that dies ends the job (mpmp ranks end together), but
 * a task host (parallel/host.c: a child of a worker rank that runs
 * isolated tasks) may die alone, of a crash or a kill, while it holds a
 * Lock. Its owner ids say "task host of rank r, generation g", and the
 * fork server that reaps a host records its generation in the node
 * segment before anyone hears of the death (mpmp__owner_dead), and its
 * worker tells the other nodes whose objects the host used (object.c,
 * "Dead hosts of other nodes"), before it reports the death. The next
 * acquirer then takes the lock over, as from a robust pthread mutex: its
 * acquire returns MPMP_EOWNERDEAD with the lock held by it (an RLock at
 * one level), to be released as usual. Exactly one acquirer takes it: it
 * moves `owner` from the dead id to its own with a CAS; the word stays
 * held throughout. Nobody has to wake the waiters for it: the head of the
 * queue sleeps in slices of MPMP__SHLOCK_DEAD_SLICE_S while the holder is
 * a task host (or not known yet), and looks each time. With any other
 * holder nothing changes: the hot paths never look at `owner`.
 *   A host killed between taking the word and writing its owner id, or
 * between clearing the id and freeing the word, is found as well: the CAS
 * that takes the word writes the host's claim into it (shsync.c), and the
 * next acquirer takes the word over from a dead claim with a CAS on the
 * word (then `owner` may be 0, and the message names the claim).
 *   Not excluded: a stranger's release (Python's Lock may be released by
 * any process) of a dead host's hold, with a takeover landing between the
 * stranger's clearing of `owner` and its freeing of the word: the
 * taker's hold is then freed by that release. And the word keeps 16 bits
 * of a host's generation: a lock left held by a dead host is no longer
 * seen as such once its worker has had 32768 more host deaths. A process
 * that is not a task host and dies holding a lock leaves it held (that
 * ends the job anyway).
 */
#ifndef MPMP_SHSYNC_H
#define MPMP_SHSYNC_H

#include <stdatomic.h>
#include <stdint.h>

/* Futexes on shared (cross-process) words. Sleep while *w == val, until a
 * wake whose bitset meets `bits` (FUTEX_BITSET_MATCH_ANY: any), or until
 * the absolute mpmp__now() `deadline` (+INFINITY: none); returns whenever:
 * callers re-check their condition. */
void mpmp__futex_wait_until(_Atomic uint32_t *w, uint32_t val, uint32_t bits,
                            double deadline);
void mpmp__futex_wake(_Atomic uint32_t *w, int n, uint32_t bits);

/* ---- this process's waits, and finalize ----------------------------------
 *
 * mpmp_finalize() unmaps the node's segment, and a thread of the rank may
 * be asleep in it then (a queue get, a lock acquire in another thread).
 * So a call that leaves its fast path to spin or sleep on the segment
 * joins this process's list of waiters (mpmp__waits_join: a seq_cst
 * store to the thread's own node, paid only by calls about to wait; the
 * node is linked once per thread, under a mutex), sleeps through
 * mpmp__waits_sleep, which shows the list the word it sleeps on, and
 * leaves the list where the call stops touching the segment
 * (mpmp__waits_leave: object.c's run_op, sync.c's lock_wait; one
 * thread-local load for a call that did not wait). Finalize
 * (mpmp__waits_end) marks the process as quitting, wakes every listed
 * sleeper, and waits until no call is listed: a woken waiter sees the
 * mark and returns MPMP_ENOTINIT. The fast paths never look at any of
 * it.
 */
extern _Thread_local int mpmp__waits_in __attribute__((tls_model("initial-exec")));
void mpmp__waits_join(void);
void mpmp__waits_leave_slow(void);
static inline void mpmp__waits_leave(void) {
  if (__builtin_expect(mpmp__waits_in, 0))
    mpmp__waits_leave_slow();
}
/* A call that waits on several objects in turn (mpmp_conn_wait) holds its
 * place in the list across the calls it makes: +1 before, -1 after (the
 * last -1 leaves). */
void mpmp__waits_hold(int d);
/* Finalize began: MPMP_ENOTINIT with its message, else 0.
 *   The same for a home-node helper that waits for a task host of another
 * node (object.c's serve_proxy sets mpmp__waits_for to the host's owner
 * id) once that host is dead (mpmp__owner_dead, which this node knows
 * before anyone hears of the death: object.c): woken by a release, a put,
 * a get or a notify, it leaves as at finalize, taking nothing (no unit,
 * item, lock or slot goes to the dead; its answer would be dropped), and
 * gives the wake-up on to a live waiter. Nothing wakes it at the death
 * itself: it sleeps on until such a wake-up, its deadline, the object's
 * free or finalize (a sliced sleep would see every notify of a Condition
 * as its own: shsync.c's cond_sleep). */
int mpmp__waits_quit(void);
extern _Thread_local uint64_t mpmp__waits_for;
/* A registered sleep on *w (as mpmp__futex_wait_until): 0, or
 * MPMP_ENOTINIT (message set) once finalize began. Joins the list. */
int mpmp__waits_sleep(_Atomic uint32_t *w, uint32_t val, uint32_t bits,
                      double deadline);
/* Called with 1 before and 0 after each such sleep when set (in a task
 * host: object.c shows its worker the calls the host sleeps in). Set
 * once, before the process's first call. */
extern void (*mpmp__waits_sleep_hook)(int asleep);
/* Finalize: every later wait returns MPMP_ENOTINIT; wake the listed ones
 * and wait up to max_s seconds for them to leave: how many are left. */
int mpmp__waits_end(double max_s);
/* Init: waits wait again. */
void mpmp__waits_start(void);

/* ---- owner ids ----------------------------------------------------------- */

/*
 * Bits 63..40: the rank + 1. Bit 39: a task host's id; then bits 38..16
 * are the host's generation (its worker counts the hosts it starts, from
 * 1) and bits 15..0 the thread within the host. Other ids have a counter
 * in bits 38..0.
 */
#define MPMP__OWNER_RANK_SHIFT 40
#define MPMP__OWNER_HOST (UINT64_C(1) << 39)
#define MPMP__OWNER_GEN_SHIFT 16
#define MPMP__OWNER_GEN_MASK ((UINT32_C(1) << 23) - 1)

static inline int mpmp__owner_rank(uint64_t owner) {
  return (int)(owner >> MPMP__OWNER_RANK_SHIFT) - 1;
}
static inline int mpmp__owner_is_host(uint64_t owner) {
  return (owner & MPMP__OWNER_HOST) != 0;
}
/* 1 if `owner` is the id of a task host that has died (its fork server
 * reaped it; of a rank of another node: once its worker told this node):
 * never true of a live one. (object.c) */
int mpmp__owner_dead(uint64_t owner);
/* A task host's claim on the queue slots it fills (queue.c) and on the
 * locks and dict stripes it takes (the lock word names it: shsync.c):
 * non-zero, below bit 31, in a host (mpmp__owner_host); 0 in any other
 * process. (object.c) */
extern uint32_t mpmp__claim_self;
/* 1 if the host of that claim has died (mpmp__owner_dead's record). */
int mpmp__claim_dead(uint32_t claim);
/* The claim that the task host `owner` carries if it is a host of this
 * node (as its mpmp__claim_self), else 0. (object.c) */
uint32_t mpmp__owner_claim(uint64_t owner);

/* ---- Lock and RLock ------------------------------------------------------ */

/* Tickets of the waiters' queue, whose holders may time out while queued
 * (see shsync.c); more waiters than this wait, unordered, for a place in
 * the queue. */
#define MPMP__SHLOCK_QUEUE 64
/* How long the head of the queue lets newcomers take the lock first. */
#define MPMP__SHLOCK_STARVE_S 100e-6
/* How often the head looks whether a holder that is a task host died. */
#define MPMP__SHLOCK_DEAD_SLICE_S 0.02

/*
 * A lock with bounded bypass (see shsync.c): a process that finds it free
 * takes it at once, even past waiters, until the longest waiter has waited
 * MPMP__SHLOCK_STARVE_S; from then on the lock goes to that waiter. Waiters
 * queue in FIFO order. A non-recursive lock that its owner acquires again
 * simply waits, as Python's Lock does: a deadlock until the deadline.
 * mpmp__shlock_release lets only the owner release it (MPMP_EPERM); a
 * user's Lock object (sync.c) lets anyone, as Python's does
 * (mpmp__shlock_release_any).
 */
typedef struct mpmp__shlock {
  _Atomic uint32_t word;    /* futex word: 0 free, 1 held, 2 held and the
                               head of the queue sleeps (or is about to) */
  _Atomic uint32_t hungry;  /* the head has waited too long: no barging
                               (when, in ms: shsync.c) */
  _Atomic uint64_t owner;   /* 0 when free */
  _Atomic uint32_t count;   /* RLock levels held by owner */
  uint32_t recursive;
  /* the waiters' queue: a ticket lock whose holder is the head */
  _Atomic uint32_t next;    /* the ticket dispenser */
  _Atomic uint32_t serving; /* futex word: the ticket at the head */
  _Atomic uint64_t gone;    /* bit t % 64: ticket t timed out while queued */
  _Atomic uint64_t asleep;  /* bit t % 64: ticket t sleeps (or is about to) */
  _Atomic uint32_t overflow_asleep; /* waiters for a ticket, sleeping */
  _Atomic uint32_t dead;    /* killed: waits end with MPMP_EBADF */
} mpmp__shlock_t;

void mpmp__shlock_init(mpmp__shlock_t *l, int recursive);
/* 0, MPMP_ETIMEDOUT, or MPMP_EBADF once killed. An RLock's owner gains one
 * more level at once. MPMP_EOWNERDEAD (with a message): the holder was a
 * task host that died; the lock is now held by `owner` (one level), also
 * when the deadline had passed already (a try). */
int mpmp__shlock_acquire(mpmp__shlock_t *l, uint64_t owner, double deadline);
/* The acquire that never waits: 1 if `owner` now holds the lock (it was
 * free, and no waiter starves; or an RLock's owner gains a level), else 0
 * (nothing changed; a dead holder is not looked for: that is
 * mpmp__shlock_acquire's). The hot path tries this before it counts
 * itself. */
int mpmp__shlock_try(mpmp__shlock_t *l, uint64_t owner);
/* Mark dead and wake every waiter: their acquires return MPMP_EBADF. */
void mpmp__shlock_kill(mpmp__shlock_t *l);
/* 0, or MPMP_EPERM if `owner` does not hold it. An RLock drops one level. */
int mpmp__shlock_release(mpmp__shlock_t *l, uint64_t owner);
/* A Lock (not recursive) released by any process, as Python's
 * multiprocessing.Lock allows: 0 if it was held, MPMP_EPERM (no message)
 * if it was free. Never on an RLock, nor on a lock that others release
 * with mpmp__shlock_release. */
int mpmp__shlock_release_any(mpmp__shlock_t *l);
/* 1 if anyone holds it (locked()), else 0: a snapshot. */
int mpmp__shlock_locked(const mpmp__shlock_t *l);
/* The holder's id, 0 if free (a snapshot, exact only for the holder). */
uint64_t mpmp__shlock_owner(const mpmp__shlock_t *l);

/* ---- Semaphore and BoundedSemaphore -------------------------------------- */

typedef struct mpmp__shsem {
  _Atomic uint32_t value;   /* futex word; bit 31: dead (values are at
                               most INT32_MAX) */
  _Atomic uint32_t waiters; /* sleeping or about to: release must wake */
  uint32_t max;             /* a bounded one's largest value */
  uint32_t bounded;         /* 0: unbounded (max unused) */
} mpmp__shsem_t;

/* MPMP_EINVAL if value > max (bounded) or value > INT32_MAX. */
int mpmp__shsem_init(mpmp__shsem_t *s, unsigned value, unsigned max);
/* A bounded one whose largest value is `value`, 0 included (then every
 * release is refused). */
int mpmp__shsem_init_bounded(mpmp__shsem_t *s, unsigned value);
/* 0, MPMP_ETIMEDOUT, or MPMP_EBADF once killed. */
int mpmp__shsem_acquire(mpmp__shsem_t *s, double deadline);
/* Add n (>= 1): MPMP_EPERM past a bounded semaphore's max, MPMP_EINVAL for
 * n == 0 or past INT32_MAX, MPMP_EBADF once killed; nothing is added
 * then. */
int mpmp__shsem_release(mpmp__shsem_t *s, unsigned n);
void mpmp__shsem_kill(mpmp__shsem_t *s);
unsigned mpmp__shsem_value(const mpmp__shsem_t *s);

/* ---- Event --------------------------------------------------------------- */

typedef struct mpmp__shevent {
  _Atomic uint32_t word;    /* futex word: set-count << 1 | is-set */
  _Atomic uint32_t waiters;
  _Atomic uint32_t dead;
} mpmp__shevent_t;

void mpmp__shevent_set(mpmp__shevent_t *e);
void mpmp__shevent_clear(mpmp__shevent_t *e);
int mpmp__shevent_is_set(const mpmp__shevent_t *e);
/* 0 once set (even if cleared again before the waiter ran, as in Python),
 * MPMP_ETIMEDOUT otherwise; MPMP_EBADF once killed. */
int mpmp__shevent_wait(mpmp__shevent_t *e, double deadline);
void mpmp__shevent_kill(mpmp__shevent_t *e);

/* ---- Condition ----------------------------------------------------------- */

typedef struct mpmp__shcond {
  _Atomic uint32_t seq;     /* futex word: bumped by every notify */
  _Atomic uint32_t dead;
  /* waiters << 32 | wake-ups given and not yet taken: one word, so that
   * a waiter leaves at its deadline only when none is left for it */
  _Atomic uint64_t wt;
} mpmp__shcond_t;

/*
 * `owner` must hold `l` (else MPMP_EPERM). Releases it (every level of an
 * RLock), sleeps until notified or the deadline, and re-acquires it (with
 * its levels) before returning, whatever the outcome: 0 when notified,
 * MPMP_ETIMEDOUT otherwise. A notify(n) makes at most n of the waiters
 * that wait at that moment return 0 (Python's threading.Condition); the
 * others go on waiting. Loop on the predicate all the same (another
 * thread may take what the notify was for), or use
 * mpmp__shcond_wait_for().
 *   MPMP_EBADF if the condition is killed (at once if it was dead at the
 * start: then nothing is released): the lock is re-acquired unless it was
 * killed too (then it is not held). Also MPMP_EBADF, the lock not held,
 * if the lock is killed while the waiter wants it back. MPMP_EOWNERDEAD
 * if it took the lock back from a task host that died holding it: held
 * again, with the waiter's levels.
 */
int mpmp__shcond_wait(mpmp__shcond_t *c, mpmp__shlock_t *l, uint64_t owner,
                      double deadline);
/* Wait until pred(arg) holds (checked with `l` held): 0, or MPMP_ETIMEDOUT
 * if it is still false at the deadline; MPMP_EPERM as above. */
int mpmp__shcond_wait_for(mpmp__shcond_t *c, mpmp__shlock_t *l,
                          uint64_t owner, int (*pred)(void *), void *arg,
                          double deadline);
/* Wake up to n waiters / all of them. Call with the lock held (as Python
 * requires; not checked here). */
void mpmp__shcond_notify(mpmp__shcond_t *c, unsigned n);
void mpmp__shcond_notify_all(mpmp__shcond_t *c);
void mpmp__shcond_kill(mpmp__shcond_t *c);

/* ---- Barrier ------------------------------------------------------------- */

/* Python's threading.Barrier over an internal lock and condition. */
#define MPMP__SHBARRIER_HOSTS 8
typedef struct mpmp__shbarrier {
  /* task hosts inside wait() and the one running the action, guarded by
   * lock: one that dies is let out for it (shsync.c, b_reap); first, so
   * that the state stays on the line its users' lane follows (sync.c) */
  uint64_t hosts[MPMP__SHBARRIER_HOSTS];
  uint64_t actor;
  mpmp__shlock_t lock;
  mpmp__shcond_t cond;
  uint32_t parties;
  uint32_t count;       /* threads inside wait(), guarded by lock */
  _Atomic int32_t state; /* 0 filling, 1 draining, 2 acting, -1 resetting,
                            -2 broken */
  uint32_t break_due;   /* a wait timed out while the previous round
                           drained (or a reset or the action ran): break
                           the barrier once it has (guarded by lock) */
} mpmp__shbarrier_t;

/* MPMP_EINVAL unless 1 <= parties <= INT32_MAX. */
int mpmp__shbarrier_init(mpmp__shbarrier_t *b, unsigned parties);
/*
 * 0 with *index (may be NULL) the arrival order 0..parties-1 (distinct in a
 * generation; the last to arrive releases the others). MPMP_EBROKEN if the
 * barrier is broken, or breaks or is reset while waiting; MPMP_ETIMEDOUT
 * for the waiter whose deadline passed, which breaks the barrier for all;
 * MPMP_EBADF once killed (the barrier is then left as it is). A task host
 * that dies in its wait still counts as arrived: the others' waits end at
 * their deadlines (MPMP_ETIMEDOUT, which breaks the barrier) or complete
 * the round. Once its round is released, broken or reset, it is let out
 * as it would have left (found within about 20 ms), so the next round
 * fills; one that dies running the action breaks the barrier (as a failed
 * action does). `who` (mpmp__owner_id(), 0 for none) says who waits; more
 * than MPMP__SHBARRIER_HOSTS task hosts inside at once are not all
 * recorded, and one not recorded is never let out (later waits time out).
 */
int mpmp__shbarrier_wait(mpmp__shbarrier_t *b, double deadline,
                         unsigned *index);
/* mpmp__shbarrier_wait, where `act` says that the barrier has an action:
 * the last to arrive then gets MPMP__SHBARRIER_ACT (and *index) instead of
 * releasing the others; it runs the action and calls
 * mpmp__shbarrier_acted, which releases them (ok) or breaks the barrier. */
#define MPMP__SHBARRIER_ACT 1
int mpmp__shbarrier_wait_act(mpmp__shbarrier_t *b, double deadline,
                             unsigned *index, int act, uint64_t who);
/* The action ended (ok: it succeeded): 0, MPMP_EBROKEN if the barrier was
 * broken or reset meanwhile (or the action failed: ok 0), MPMP_EBADF. */
int mpmp__shbarrier_acted(mpmp__shbarrier_t *b, int ok);
/* Break it: current and future waiters get MPMP_EBROKEN until reset. */
void mpmp__shbarrier_abort(mpmp__shbarrier_t *b);
/* Back to empty and usable; current waiters get MPMP_EBROKEN. */
void mpmp__shbarrier_reset(mpmp__shbarrier_t *b);
int mpmp__shbarrier_broken(const mpmp__shbarrier_t *b);
unsigned mpmp__shbarrier_n_waiting(mpmp__shbarrier_t *b);
/* Kill its lock and condition: every wait returns MPMP_EBADF. */
void mpmp__shbarrier_kill(mpmp__shbarrier_t *b);

#endif /* MPMP_SHSYNC_H */
