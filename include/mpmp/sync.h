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
 * A Lock is Python's multiprocessing.Lock, a semaphore of one: any
 * process (rank, thread, task) may release it while it is held, whoever
 * acquired it; releasing a free Lock is ::MPMP_EPERM (Python's ValueError).
 * An RLock is owned by the rank and thread that acquired it: releasing
 * one you do not hold is ::MPMP_EPERM (Python's RLock). Locks
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
 * - Lock: releasing a free Lock (released once too often) is ::MPMP_EPERM
 *   and leaves it as it was; any process may release a held one.
 *   RLock: releasing an RLock that this rank and thread do not hold
 *   (free, held by another thread or rank, or released once too often) is
 *   ::MPMP_EPERM and leaves it as it was. The holder is the Process (the
 *   body) and thread that acquired it: a lock still held when a body
 *   returns stays held by that ended body, as in Python; the next body on
 *   the same rank is another process and does not hold it (nor may it
 *   release an RLock; a Lock, anyone may). A Lock freed while held is gone for everyone (::MPMP_EBADF), its
 *   holder included; acquires waiting for it return ::MPMP_EBADF ("the Lock
 *   was freed while this call waited"), those on the lock of a Value,
 *   Array or Condition when that object is freed ("the Value this Lock
 *   belongs to was freed ...").
 *   A lock whose holder was a task host (an isolated task, see mpmp/pool.h)
 *   that died, of a crash or a kill, is taken over by the next acquire,
 *   which returns ::MPMP_EOWNERDEAD with the lock held by the caller (at
 *   one level, for an RLock), as a robust pthread mutex does; the caller
 *   releases it as usual. Acquires already waiting find out by themselves
 *   within about 20 ms (one of them takes it); a try (timeout 0) too. The
 *   host may be on another node than the lock: its worker tells the lock's
 *   node of the death before it reports the task's or body's end. Not
 *   seen: a host killed in the few instructions between taking the lock
 *   and recording itself as its holder, or between clearing that record
 *   and freeing the lock (the lock then stays held). A host killed while
 *   it waited for the lock takes nothing: its place in line is skipped
 *   after about 50 ms (a waiter that stays off its core that long while
 *   the lock is free may lose its place too, never the lock's exclusion).
 * - Condition: a wait whose lock is taken back from a task host that died
 *   holding it returns ::MPMP_EOWNERDEAD, the lock held.
 * - Barrier: a task host that dies while it waits still counts as arrived;
 *   the other parties' timed waits end (::MPMP_ETIMEDOUT, which breaks the
 *   barrier, or the round completes without it). Once that round is
 *   released, broken or reset, a dead host of the barrier's node is let
 *   out as it would have left (within about 20 ms), and the next round
 *   fills as usual. Not watched: hosts of other nodes, and more than 8
 *   hosts waiting at once in one barrier; a round such a dead one never
 *   left never ends: free such a barrier.
 * - Semaphore: a release that would take the value past INT32_MAX, or a
 *   BoundedSemaphore's past its initial value, is refused (::MPMP_EINVAL,
 *   ::MPMP_EPERM) and leaves the value as it was. A BoundedSemaphore(0)
 *   (allowed, as in Python) refuses every release.
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
 * - Barrier action (mpmp_barrier_create_ex()): a task host of the
 *   barrier's node that dies while it runs the action breaks the barrier
 *   within about 20 ms; one of another node leaves the others waiting
 *   until their timeouts (which break it).
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
#include "mpmp/task.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A timeout for mpmp_barrier_wait() that means "the barrier's default"
 * (Python's wait(timeout=None)): the timeout given to
 * mpmp_barrier_create_ex(), forever if none. Elsewhere, as any negative
 * timeout, it waits forever.
 */
#define MPMP_DEFAULT_TIMEOUT (-2.0)

/** The most argument bytes a Barrier's action may be given. */
#define MPMP_BARRIER_MAX_ARG 1024

/** A Semaphore or BoundedSemaphore. */
typedef struct mpmp_sem {
  mpmp_ref_t ref; /**< its reference: opaque, copy it whole */
} mpmp_sem_t;
/** An Event. */
typedef struct mpmp_event {
  mpmp_ref_t ref; /**< its reference: opaque, copy it whole */
} mpmp_event_t;
/** A Condition (with its lock). */
typedef struct mpmp_cond {
  mpmp_ref_t ref; /**< its reference: opaque, copy it whole */
} mpmp_cond_t;
/** A Barrier. */
typedef struct mpmp_barrier {
  mpmp_ref_t ref; /**< its reference: opaque, copy it whole */
} mpmp_barrier_t;

/* ---- Lock and RLock ------------------------------------------------------ */

/**
 * Lock(): acquiring it again from its owner waits (a self-deadlock until
 * the timeout).
 * \param[out] lock  the new lock's handle.
 * \return 0, ::MPMP_EINVAL (NULL), ::MPMP_ENOSPC (the node heap is full),
 * ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_lock_create(mpmp_lock_t *lock);
/**
 * RLock(): its owner may acquire it again; release once per acquire.
 * \param[out] lock  the new lock's handle.
 * \return 0, ::MPMP_EINVAL (NULL), ::MPMP_ENOSPC, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_rlock_create(mpmp_lock_t *lock);
/**
 * Free a Lock or RLock; its acquires that wait return ::MPMP_EBADF.
 * \param lock  the lock.
 * \return 0, ::MPMP_EINVAL for the lock of a Value/Array/Condition (it goes
 * with its object), ::MPMP_EBADF (freed already), ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_lock_free(mpmp_lock_t lock);
/**
 * Acquire the lock, waiting up to \p timeout seconds.
 * \param lock     the lock.
 * \param timeout  seconds (negative: forever; 0: try once).
 * \return 0, ::MPMP_ETIMEDOUT, or ::MPMP_EOWNERDEAD: the holder was a task
 * host that died; the lock is now held by the caller (see Lifetime above);
 * ::MPMP_EBADF (freed, also while waiting), ::MPMP_EINVAL (NaN timeout).
 */
MPMP_API int mpmp_lock_acquire(mpmp_lock_t lock, double timeout);
/**
 * Release the lock (one level of an RLock). A Lock may be released by any
 * process, as Python's multiprocessing.Lock; an RLock only by its holder.
 * \param lock  the lock.
 * \return 0, or ::MPMP_EPERM: a Lock that is not held, an RLock that this
 * rank and thread do not hold; ::MPMP_EBADF.
 */
MPMP_API int mpmp_lock_release(mpmp_lock_t lock);
/**
 * locked(): whether anyone holds the lock (Lock or RLock).
 * \param lock  the lock.
 * \return 1 if it is held (by anyone), 0 if it is free, or a negative
 * error (::MPMP_EBADF); a snapshot.
 */
MPMP_API int mpmp_lock_locked(mpmp_lock_t lock);
/**
 * Whether the caller holds the lock.
 * \param lock  the lock.
 * \return 1 if this rank and thread hold it, 0 if not, or a negative
 * error (::MPMP_EBADF).
 */
MPMP_API int mpmp_lock_is_mine(mpmp_lock_t lock);

/* ---- Semaphore and BoundedSemaphore --------------------------------------- */

/**
 * Semaphore(value).
 * \param[out] sem  the new semaphore's handle.
 * \param value     its initial value (0 to INT32_MAX).
 * \return 0, ::MPMP_EINVAL (NULL, value over INT32_MAX), ::MPMP_ENOSPC,
 * ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_sem_create(mpmp_sem_t *sem, unsigned value);
/**
 * BoundedSemaphore(value): releasing it above \p value is ::MPMP_EPERM.
 * A value of 0 is allowed, as in Python: it never has a unit to give, and
 * every release of it is ::MPMP_EPERM.
 * \param[out] sem  the new semaphore's handle.
 * \param value     its initial and largest value (0 to INT32_MAX).
 * \return 0, ::MPMP_EINVAL (NULL, value over INT32_MAX),
 * ::MPMP_ENOSPC, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_bsem_create(mpmp_sem_t *sem, unsigned value);
/**
 * Free a Semaphore or BoundedSemaphore; its acquires that wait return
 * ::MPMP_EBADF.
 * \param sem  the semaphore.
 * \return 0, ::MPMP_EBADF, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_sem_free(mpmp_sem_t sem);
/**
 * Take one unit. Not FIFO (neither is Python's).
 * \param sem      the semaphore.
 * \param timeout  seconds (negative: forever; 0: try once).
 * \return 0, or ::MPMP_ETIMEDOUT; ::MPMP_EBADF, ::MPMP_EINVAL (NaN).
 */
MPMP_API int mpmp_sem_acquire(mpmp_sem_t sem, double timeout);
/**
 * Give one unit back.
 * \param sem  the semaphore.
 * \return 0; ::MPMP_EPERM past a BoundedSemaphore's value, ::MPMP_EINVAL
 * past INT32_MAX (the value is left as it was); ::MPMP_EBADF.
 */
MPMP_API int mpmp_sem_release(mpmp_sem_t sem);
/**
 * The current value (get_value()): a snapshot.
 * \param sem  the semaphore.
 * \return the value (>= 0), or a negative error.
 */
MPMP_API int mpmp_sem_value(mpmp_sem_t sem);

/* ---- Event ----------------------------------------------------------------- */

/**
 * Event(): a flag, initially not set, that waiters sleep on.
 * \param[out] ev  the new event's handle.
 * \return 0, ::MPMP_EINVAL (NULL), ::MPMP_ENOSPC, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_event_create(mpmp_event_t *ev);
/**
 * Free an Event; its waits return ::MPMP_EBADF.
 * \param ev  the event.
 * \return 0, ::MPMP_EBADF, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_event_free(mpmp_event_t ev);
/**
 * set(): set the flag and wake every waiter.
 * \param ev  the event.
 * \return 0, or a negative error (::MPMP_EBADF).
 */
MPMP_API int mpmp_event_set(mpmp_event_t ev);
/**
 * clear(): reset the flag; later waits sleep until the next set().
 * \param ev  the event.
 * \return 0, or a negative error (::MPMP_EBADF).
 */
MPMP_API int mpmp_event_clear(mpmp_event_t ev);
/**
 * is_set().
 * \param ev  the event.
 * \return 1 if set, 0 if not, or a negative error.
 */
MPMP_API int mpmp_event_is_set(mpmp_event_t ev);
/**
 * wait(timeout): sleep until the event is set.
 * \param ev       the event.
 * \param timeout  seconds (negative: forever; 0: look once).
 * \return 0 once the event is set (also if it was cleared again before this
 * waiter ran, as in Python), ::MPMP_ETIMEDOUT if it was not set in time;
 * ::MPMP_EBADF (freed, also while waiting), ::MPMP_EINVAL (NaN).
 */
MPMP_API int mpmp_event_wait(mpmp_event_t ev, double timeout);

/* ---- Condition ------------------------------------------------------------- */

/**
 * Condition(lock): \p lock (may be NULL: a new RLock, as in Python) must
 * live on the node where the condition is created (::MPMP_EINVAL
 * otherwise) and must outlive it.
 * \param[out] cond  the new condition's handle.
 * \param lock       the lock it uses; NULL: an RLock of its own.
 * \return 0, ::MPMP_EINVAL, ::MPMP_EBADF (a freed \p lock), ::MPMP_ENOSPC,
 * ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_cond_create(mpmp_cond_t *cond, const mpmp_lock_t *lock);
/**
 * Free a Condition (and its own RLock, not a Lock of yours); its waits
 * return ::MPMP_EBADF (see Lifetime above).
 * \param cond  the condition.
 * \return 0, ::MPMP_EBADF, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_cond_free(mpmp_cond_t cond);
/**
 * The condition's lock (for `with cond:`: acquire, then release).
 * \param cond        the condition.
 * \param[out] lock   its lock: the one given at create, or its own RLock.
 * \return 0, ::MPMP_EBADF, ::MPMP_EINVAL (NULL \p lock).
 */
MPMP_API int mpmp_cond_get_lock(mpmp_cond_t cond, mpmp_lock_t *lock);
/**
 * Acquire the condition's lock (mpmp_lock_acquire() on it).
 * \param cond     the condition.
 * \param timeout  seconds (negative: forever; 0: try once).
 * \return as mpmp_lock_acquire().
 */
MPMP_API int mpmp_cond_acquire(mpmp_cond_t cond, double timeout);
/**
 * Release the condition's lock (mpmp_lock_release() on it).
 * \param cond  the condition.
 * \return as mpmp_lock_release().
 */
MPMP_API int mpmp_cond_release(mpmp_cond_t cond);
/**
 * With the lock held (else ::MPMP_EPERM): release it, sleep until notified
 * or the timeout, and take it back before returning, whatever the outcome.
 * \param cond     the condition.
 * \param timeout  seconds (negative: forever).
 * \return 0 when notified: a notify of n makes at most n of the waits
 * under way return 0, as Python's wait() returns True (another thread may
 * still take what the notify was for: re-check your predicate, or use
 * mpmp_cond_wait_for()). A Process killed while it waited on this node
 * (terminated) stays counted as a waiter: a wake-up a notify gives it is
 * never taken, and a later wait may take it, so such a wait can return 0
 * for a notify meant for another; ::MPMP_ETIMEDOUT otherwise;
 * ::MPMP_EOWNERDEAD
 * (the lock held) if it took the lock back from a task host that died;
 * ::MPMP_EPERM, ::MPMP_EBADF (see Lifetime above), ::MPMP_EINVAL (NaN).
 */
MPMP_API int mpmp_cond_wait(mpmp_cond_t cond, double timeout);
/**
 * Wait until \p pred(\p arg) returns non-zero (it is called with the lock
 * held, on the calling rank), as Python's wait_for(); the lock must be
 * held (else ::MPMP_EPERM).
 * \param cond     the condition.
 * \param pred     the predicate; checked first, then after each wake-up.
 * \param arg      passed to \p pred.
 * \param timeout  seconds for the whole wait (negative: forever).
 * \return 0, or ::MPMP_ETIMEDOUT if it is still false at the timeout; the
 * errors of mpmp_cond_wait().
 */
MPMP_API int mpmp_cond_wait_for(mpmp_cond_t cond, int (*pred)(void *arg),
                                void *arg, double timeout);
/**
 * Wake up to \p n waiters (lock held, else ::MPMP_EPERM).
 * \param cond  the condition.
 * \param n     how many (0: none).
 * \return 0, ::MPMP_EPERM, ::MPMP_EBADF.
 */
MPMP_API int mpmp_cond_notify(mpmp_cond_t cond, unsigned n);
/**
 * Wake every waiter (lock held, else ::MPMP_EPERM).
 * \param cond  the condition.
 * \return 0, ::MPMP_EPERM, ::MPMP_EBADF.
 */
MPMP_API int mpmp_cond_notify_all(mpmp_cond_t cond);

/* ---- Barrier --------------------------------------------------------------- */

/**
 * Barrier(parties), parties >= 1.
 * \param[out] b    the new barrier's handle.
 * \param parties   how many waits complete a round (1 to INT32_MAX).
 * \return 0, ::MPMP_EINVAL, ::MPMP_ENOSPC, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_barrier_create(mpmp_barrier_t *b, unsigned parties);
/**
 * Barrier(parties, action, timeout).
 * \param[out] b    the new barrier's handle.
 * \param parties   how many waits complete a round (1 to INT32_MAX).
 * \param action    NULL, or a registered task (MPMP_TASK) run by the party
 *                  whose wait completes a round, in its own process,
 *                  before any party of that round is released; if it fails
 *                  (mpmp_fail(), a negative return), the barrier breaks:
 *                  that party's wait returns ::MPMP_ETASK with the
 *                  action's message, the others ::MPMP_EBROKEN. (Python's
 *                  action is any callable; C functions are known across
 *                  ranks only as registered tasks.) The action's time
 *                  counts against the other parties' timeouts: one whose
 *                  timeout passes while it runs returns ::MPMP_ETIMEDOUT
 *                  and breaks the barrier (the action's party then gets
 *                  ::MPMP_EBROKEN), where Python's waiter returns once the
 *                  action ends (its wait cannot retake the lock the action
 *                  holds); give the waits room for the action.
 * \param arg       the action's argument bytes (mpmp_arg()), copied; may
 *                  be NULL with \p arg_size 0.
 * \param arg_size  their size, at most ::MPMP_BARRIER_MAX_ARG.
 * \param timeout   the default timeout in seconds, used by waits given
 *                  ::MPMP_DEFAULT_TIMEOUT; negative: none (forever).
 * \return 0, ::MPMP_EINVAL (parties, arg_size, a NaN timeout),
 * ::MPMP_ENOTASK
 * (\p action is not a registered task), ::MPMP_ENOSPC, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_barrier_create_ex(mpmp_barrier_t *b, unsigned parties,
                                    mpmp_task_fn action, const void *arg,
                                    size_t arg_size, double timeout);
/**
 * Free a Barrier; the parties that wait return ::MPMP_EBADF.
 * \param b  the barrier.
 * \return 0, ::MPMP_EBADF, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_barrier_free(mpmp_barrier_t b);
/**
 * Wait for all parties (the last to arrive first runs the barrier's action,
 * if it has one).
 * \param b        the barrier.
 * \param timeout  seconds (negative: forever), or ::MPMP_DEFAULT_TIMEOUT:
 *                 the barrier's default timeout.
 * \return the arrival index 0..parties-1 (distinct within a round),
 * ::MPMP_EBROKEN if the barrier is or becomes broken (abort, reset while
 * waiting, or another waiter's timeout), and ::MPMP_ETIMEDOUT for the
 * waiter whose timeout passed, which breaks the barrier for everyone (as in
 * Python); ::MPMP_ETASK for the party whose action failed (the barrier is
 * broken); ::MPMP_EBADF, ::MPMP_EINVAL (NaN).
 */
MPMP_API int mpmp_barrier_wait(mpmp_barrier_t b, double timeout);
/**
 * Break it: waiters and later callers get ::MPMP_EBROKEN until reset.
 * \param b  the barrier.
 * \return 0, or a negative error (::MPMP_EBADF).
 */
MPMP_API int mpmp_barrier_abort(mpmp_barrier_t b);
/**
 * Back to empty; current waiters get ::MPMP_EBROKEN.
 * \param b  the barrier.
 * \return 0, or a negative error (::MPMP_EBADF).
 */
MPMP_API int mpmp_barrier_reset(mpmp_barrier_t b);
/**
 * Whether it is broken.
 * \param b  the barrier.
 * \return 1 if broken, 0 if not, or a negative error.
 */
MPMP_API int mpmp_barrier_broken(mpmp_barrier_t b);
/**
 * Parties waiting now (n_waiting): a snapshot.
 * \param b  the barrier.
 * \return the number (>= 0), or a negative error.
 */
MPMP_API int mpmp_barrier_n_waiting(mpmp_barrier_t b);
/**
 * Its number of parties.
 * \param b  the barrier.
 * \return the parties given at create, or a negative error.
 */
MPMP_API int mpmp_barrier_parties(mpmp_barrier_t b);

#ifdef __cplusplus
}
#endif
#endif /* MPMP_SYNC_H */
