/**
 * \file mpmp/sync.h
 * \brief Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition and
 *        Barrier shared by all ranks (Python's multiprocessing
 *        synchronization primitives).
 *
 * \code
 * mpmp_lock_t lock;                 // lock = Lock()
 * mpmp_lock_create(&lock);
 * // copy `lock` into a Process argument; in the body:
 * if (mpmp_lock_acquire(lock, 5.0) == 0) {   // with lock: (5 s at most)
 *   ...
 *   mpmp_lock_release(lock);
 * }
 * \endcode
 *
 * Handles are shared-object handles (mpmp/shared.h): plain values valid on
 * every rank. Every blocking call takes a timeout in seconds (negative:
 * forever, 0: try once) and returns ::MPMP_ETIMEDOUT when it passes, leaving
 * the object usable. Blocked callers sleep in the kernel (futex) and are
 * woken by the releasing side; nobody spins a core for more than a few
 * microseconds.
 *
 * A lock is owned by the rank and thread that acquired it: releasing a lock
 * you do not hold is ::MPMP_EPERM (Python's RLock and threading.Lock
 * semantics; a multiprocessing.Lock would let anyone release it). Locks
 * bound bypass: a rank that finds the lock free takes it even past waiters
 * (a busy lock stays on one core), until the longest waiter has waited
 * 100 us; from then on waiters are served in arrival order, so a rank that
 * releases and re-acquires in a loop cannot starve a waiter.
 *
 * **Timeouts.** Seconds: negative (also -inf) waits as long as it takes,
 * 0 and -0.0 try once, +inf and any huge value wait as long as it takes
 * (asleep); NaN is ::MPMP_EINVAL and changes nothing (no lock or unit
 * taken, no barrier broken, a Condition's lock still held).
 *
 * **Lifetime** (the rules of mpmp/shared.h, and):
 * - Lock/RLock: releasing a lock that this rank and thread do not hold
 *   (free, held by another thread or rank, or released once too often) is
 *   ::MPMP_EPERM and leaves it as it was. The holder is the Process (the
 *   body) and thread that acquired it: a lock still held when a body
 *   returns stays held by that ended body, as in Python; the next body on
 *   the same rank is another process and neither holds nor may release
 *   it. A Lock freed while held is gone for everyone (::MPMP_EBADF), its
 *   holder included; acquires waiting for it return ::MPMP_EBADF ("the Lock
 *   was freed while this call waited"), those on the lock of a Value,
 *   Array or Condition when that object is freed ("the Value this Lock
 *   belongs to was freed ...").
 *   A lock whose holder was a task host (an isolated task, see mpmp/pool.h)
 *   that died, of a crash or a kill, is taken over by the next acquire,
 *   which returns ::MPMP_EOWNERDEAD with the lock held by the caller (at
 *   one level, for an RLock), as a robust pthread mutex does; the caller
 *   releases it as usual. Acquires already waiting find out by themselves
 *   within about 20 ms (one of them takes it); a try (timeout 0) too. Not
 *   seen: a host killed in the few instructions between taking the lock
 *   and recording itself as its holder, or between clearing that record
 *   and freeing the lock (the lock then stays held).
 * - Condition: a wait whose lock is taken back from a task host that died
 *   holding it returns ::MPMP_EOWNERDEAD, the lock held.
 * - Barrier: a task host that dies while it waits still counts as arrived;
 *   the other parties' timed waits end (::MPMP_ETIMEDOUT, which breaks the
 *   barrier, or the round completes without it), and a round it never
 *   left never ends: free such a barrier.
 * - Semaphore: a release that would take the value past INT32_MAX, or a
 *   BoundedSemaphore's past its initial value, is refused (::MPMP_EINVAL,
 *   ::MPMP_EPERM) and leaves the value as it was.
 * - Condition: wait and notify without its lock are ::MPMP_EPERM. A
 *   Condition made with a Lock of yours uses that Lock: the Lock must
 *   outlive it; once the Lock is freed, the Condition's calls are
 *   ::MPMP_EBADF. Freeing the Condition frees its own RLock, not yours.
 *   A wait on a Condition that is freed returns ::MPMP_EBADF: with its own
 *   RLock, that lock is gone with it (not held, its release is
 *   ::MPMP_EBADF); with a Lock of yours, the wait first takes your Lock
 *   back, as every wait does, waiting for it if another holds it, so
 *   release it as usual. A wait whose Lock (yours) is freed meanwhile
 *   ends as it would (notify, timeout, the Condition freed) and then
 *   returns ::MPMP_EBADF, your Lock not held: freeing the Lock does not
 *   notify the Condition.
 * - Barrier: after mpmp_barrier_abort() (or a waiter's timeout) every wait
 *   is ::MPMP_EBROKEN until mpmp_barrier_reset(); abort and reset may be
 *   called any number of times. A Barrier freed while parties wait: each
 *   returns ::MPMP_EBADF.
 * - Semaphore, Event: an acquire or wait in progress when the object is
 *   freed returns ::MPMP_EBADF and takes nothing.
 * - After mpmp_finalize(): ::MPMP_ENOTINIT from every call.
 */
#ifndef MPMP_SYNC_H
#define MPMP_SYNC_H

#include "mpmp/common.h"
#include "mpmp/shared.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A Semaphore or BoundedSemaphore. */
typedef struct mpmp_sem { mpmp_ref_t ref; } mpmp_sem_t;
/** An Event. */
typedef struct mpmp_event { mpmp_ref_t ref; } mpmp_event_t;
/** A Condition (with its lock). */
typedef struct mpmp_cond { mpmp_ref_t ref; } mpmp_cond_t;
/** A Barrier. */
typedef struct mpmp_barrier { mpmp_ref_t ref; } mpmp_barrier_t;

/* ---- Lock and RLock ------------------------------------------------------ */

/** Lock(): acquiring it again from its owner waits (a self-deadlock until the timeout). */
MPMP_API int mpmp_lock_create(mpmp_lock_t *lock);
/** RLock(): its owner may acquire it again; release once per acquire. */
MPMP_API int mpmp_rlock_create(mpmp_lock_t *lock);
/** ::MPMP_EINVAL for the lock of a Value/Array/Condition (it goes with its object). */
MPMP_API int mpmp_lock_free(mpmp_lock_t lock);
/**
 * 0, ::MPMP_ETIMEDOUT, or ::MPMP_EOWNERDEAD: the holder was a task host
 * that died; the lock is now held by the caller (see Lifetime above).
 */
MPMP_API int mpmp_lock_acquire(mpmp_lock_t lock, double timeout);
/** 0, or ::MPMP_EPERM if this rank and thread do not hold it. */
MPMP_API int mpmp_lock_release(mpmp_lock_t lock);
/** 1 if this rank and thread hold it, 0 if not, or a negative error. */
MPMP_API int mpmp_lock_is_mine(mpmp_lock_t lock);

/* ---- Semaphore and BoundedSemaphore --------------------------------------- */

/** Semaphore(value). */
MPMP_API int mpmp_sem_create(mpmp_sem_t *sem, unsigned value);
/** BoundedSemaphore(value): releasing it above \p value is ::MPMP_EPERM. */
MPMP_API int mpmp_bsem_create(mpmp_sem_t *sem, unsigned value);
MPMP_API int mpmp_sem_free(mpmp_sem_t sem);
/** Take one unit: 0, or ::MPMP_ETIMEDOUT. Not FIFO (neither is Python's). */
MPMP_API int mpmp_sem_acquire(mpmp_sem_t sem, double timeout);
/** Give one unit back; ::MPMP_EPERM past a BoundedSemaphore's value. */
MPMP_API int mpmp_sem_release(mpmp_sem_t sem);
/** The current value (get_value()), or a negative error. */
MPMP_API int mpmp_sem_value(mpmp_sem_t sem);

/* ---- Event ----------------------------------------------------------------- */

MPMP_API int mpmp_event_create(mpmp_event_t *ev);
MPMP_API int mpmp_event_free(mpmp_event_t ev);
MPMP_API int mpmp_event_set(mpmp_event_t ev);
MPMP_API int mpmp_event_clear(mpmp_event_t ev);
/** 1 if set, 0 if not, or a negative error. */
MPMP_API int mpmp_event_is_set(mpmp_event_t ev);
/**
 * 0 once the event is set (also if it was cleared again before this waiter
 * ran, as in Python), ::MPMP_ETIMEDOUT if it was not set in time.
 */
MPMP_API int mpmp_event_wait(mpmp_event_t ev, double timeout);

/* ---- Condition ------------------------------------------------------------- */

/**
 * Condition(lock): \p lock (may be NULL: a new RLock, as in Python) must
 * live on the node where the condition is created (::MPMP_EINVAL
 * otherwise) and must outlive it.
 */
MPMP_API int mpmp_cond_create(mpmp_cond_t *cond, const mpmp_lock_t *lock);
MPMP_API int mpmp_cond_free(mpmp_cond_t cond);
/** The condition's lock (for `with cond:`: acquire, then release). */
MPMP_API int mpmp_cond_get_lock(mpmp_cond_t cond, mpmp_lock_t *lock);
MPMP_API int mpmp_cond_acquire(mpmp_cond_t cond, double timeout);
MPMP_API int mpmp_cond_release(mpmp_cond_t cond);
/**
 * With the lock held (else ::MPMP_EPERM): release it, sleep until notified
 * or the timeout, and take it back before returning, whatever the outcome.
 * 0 when notified (possibly spuriously: re-check your predicate, or use
 * mpmp_cond_wait_for()), ::MPMP_ETIMEDOUT otherwise; ::MPMP_EOWNERDEAD
 * (the lock held) if it took the lock back from a task host that died.
 */
MPMP_API int mpmp_cond_wait(mpmp_cond_t cond, double timeout);
/**
 * Wait until \p pred(\p arg) returns non-zero (it is called with the lock
 * held, on the calling rank). 0, or ::MPMP_ETIMEDOUT if it is still false
 * at the timeout.
 */
MPMP_API int mpmp_cond_wait_for(mpmp_cond_t cond, int (*pred)(void *arg),
                                void *arg, double timeout);
/** Wake up to \p n waiters (lock held, else ::MPMP_EPERM). */
MPMP_API int mpmp_cond_notify(mpmp_cond_t cond, unsigned n);
MPMP_API int mpmp_cond_notify_all(mpmp_cond_t cond);

/* ---- Barrier --------------------------------------------------------------- */

/** Barrier(parties), parties >= 1. */
MPMP_API int mpmp_barrier_create(mpmp_barrier_t *b, unsigned parties);
MPMP_API int mpmp_barrier_free(mpmp_barrier_t b);
/**
 * Wait for all parties. Returns the arrival index 0..parties-1 (distinct
 * within a round), ::MPMP_EBROKEN if the barrier is or becomes broken
 * (abort, reset while waiting, or another waiter's timeout), and
 * ::MPMP_ETIMEDOUT for the waiter whose timeout passed, which breaks the
 * barrier for everyone (as in Python).
 */
MPMP_API int mpmp_barrier_wait(mpmp_barrier_t b, double timeout);
/** Break it: waiters and later callers get ::MPMP_EBROKEN until reset. */
MPMP_API int mpmp_barrier_abort(mpmp_barrier_t b);
/** Back to empty; current waiters get ::MPMP_EBROKEN. */
MPMP_API int mpmp_barrier_reset(mpmp_barrier_t b);
/** 1 if broken, 0 if not, or a negative error. */
MPMP_API int mpmp_barrier_broken(mpmp_barrier_t b);
/** Parties waiting now (or a negative error). */
MPMP_API int mpmp_barrier_n_waiting(mpmp_barrier_t b);
MPMP_API int mpmp_barrier_parties(mpmp_barrier_t b);

#ifdef __cplusplus
}
#endif
#endif /* MPMP_SYNC_H */
