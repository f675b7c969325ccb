/**
 * \file mpmp/common.h
 * \brief Export macro and the error codes shared by every mpmp call.
 *
 * Every mpmp call returns `int`: 0 (or a documented non-negative value) on
 * success, or a negative `MPMP_E*` code. `mpmp_strerror()` names the code in
 * words, `mpmp_err_name()` as an identifier, and `mpmp_errmsg()` gives the
 * detail of the last error raised in the calling thread (which task, which
 * rank, which setting, and how to fix it).
 */
#ifndef MPMP_COMMON_H
#define MPMP_COMMON_H

#include <errno.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** \def MPMP_API
 * Marks a function of mpmp's API: exported from libmpmp, whose other
 * symbols are hidden (GCC and Clang; empty elsewhere). */
/** \def MPMP_PRINTF(f, a)
 * Lets the compiler check the printf-style arguments of a call (GCC and
 * Clang; empty elsewhere).
 * \param f  the position of the format argument (1: the first).
 * \param a  the position of the first value it formats. */
#if defined(__GNUC__)
#define MPMP_API __attribute__((visibility("default")))
#define MPMP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MPMP_API
#define MPMP_PRINTF(f, a)
#endif

/**
 * The one list of error codes: XX(name, value, message). It expands into the
 * enum below and into mpmp_strerror()/mpmp_err_name(). errno values are
 * reused where the meaning is the same; mpmp's own codes live below -3000.
 * (Each code's entry in ::mpmp_errno_t says when it is returned.)
 * \param XX  a macro of three arguments: the code's name without its
 *            `MPMP_` prefix, its value, and the sentence mpmp_strerror()
 *            gives for it.
 */
#define MPMP_ERRNO_MAP(XX)                                                   \
  XX(EINVAL, -EINVAL, "invalid argument")                                    \
  XX(ENOMEM, -ENOMEM, "out of memory")                                       \
  XX(ETIMEDOUT, -ETIMEDOUT, "timed out")                                     \
  XX(EBADF, -EBADF, "bad, stale or freed handle")                            \
  XX(EAGAIN, -EAGAIN, "not ready yet")                                       \
  XX(EBUSY, -EBUSY, "no free worker rank")                                   \
  XX(EPERM, -EPERM, "operation not permitted in this state")                 \
  XX(ENOTSUP, -ENOTSUP, "operation not supported")                           \
  XX(EMSGSIZE, -EMSGSIZE, "buffer too small or message too large")          \
  XX(ENOSPC, -ENOSPC, "shared heap exhausted")                               \
  XX(EPIPE, -EPIPE, "closed")                                                \
  XX(ECANCELED, -ECANCELED, "cancelled")                                     \
  XX(ENOTINIT, -3001, "mpmp is not initialized (or already finalized)")      \
  XX(EALREADY, -3002, "mpmp is already initialized")                         \
  XX(ENOTASK, -3003, "function is not a registered task")                    \
  XX(ETASK, -3004, "the task failed")                                        \
  XX(EMISMATCH, -3005, "ranks disagree (different binaries?)")               \
  XX(EMPI, -3006, "an MPI call failed")                                      \
  XX(ENOTMAIN, -3007, "only the main rank (rank 0) may do this")             \
  XX(EENV, -3008, "bad value in an MPMP_* environment variable")             \
  XX(ETOPO, -3009, "hwloc topology or binding failed")                       \
  XX(EEOF, -3010, "end of file")                                             \
  XX(EBROKEN, -3011, "broken (aborted or timed out) barrier")                \
  XX(EDEAD, -3012, "the rank serving this object is gone")                  \
  XX(ECRASHED, -3013, "the task's host process died (a crash, abort, exit "  \
     "or kill)")                                                             \
  XX(EOWNERDEAD, -3014, "the lock's owner died while holding it; the lock "  \
     "is now yours")                                                         \
  XX(ECHECKPOINT, -3015, "the checkpoint journal cannot be used (another "   \
     "program's or input's, or its directory cannot be written)")            \
  XX(EINTERRUPTED, -3253, "the map was stopped before its end (walltime, "   \
     "SIGUSR1 or SIGTERM); its finished items are in the checkpoint")

/**
 * The exit status of a program whose main() returns ::MPMP_EINTERRUPTED
 * (-3253 is 75 modulo 256: sysexits.h's EX_TEMPFAIL, "try again later").
 * A batch script tests it to resubmit the job (scripts/slurm.sbatch).
 */
#define MPMP_EXIT_INTERRUPTED 75

/**
 * The error codes: what every mpmp call returns when it fails, as a
 * negative `int` (the calls return `int`, not this type). Where an errno
 * value means the same it is reused (::MPMP_EINVAL is -EINVAL); mpmp's own
 * codes lie below -3000. mpmp_strerror() gives a code's sentence,
 * mpmp_err_name() its identifier, and mpmp_errmsg() the detail of the last
 * failure of the calling thread. Each function's documentation lists the
 * codes it returns; these are their meanings.
 */
typedef enum {
#define MPMP__ERR_ENUM(name, value, msg) MPMP_##name = (value),
  MPMP_ERRNO_MAP(MPMP__ERR_ENUM)
#undef MPMP__ERR_ENUM
  MPMP_OK = 0 /**< Success (0; mpmp_err_name() calls it "MPMP_OK"). */
} mpmp_errno_t;

/*
 * The entries of the codes, which the X-macro above cannot hold: one per
 * XX() line, in its order. mpmp_strerror()'s sentence comes first.
 */
/** \var MPMP_EINVAL
 * "invalid argument" (-EINVAL): a NULL object, buffer or output pointer, a
 * size or count out of range (also one that cannot be in memory, such as a
 * negative count cast to `size_t`), a NaN timeout, a bad enum value, a key,
 * attribute or index that is not there (Python's KeyError, AttributeError,
 * IndexError, ValueError). Nothing was done; mpmp_errmsg() says which
 * argument and why. */
/** \var MPMP_ENOMEM
 * "out of memory" (-ENOMEM): malloc() or a mapping failed in this process
 * (the shared node heap has ::MPMP_ENOSPC instead). */
/** \var MPMP_ETIMEDOUT
 * "timed out" (-ETIMEDOUT): a call with a timeout found its object not
 * ready when the timeout passed (Python's queue.Empty, queue.Full,
 * TimeoutError); the object is left usable and the call may be made again.
 * Also the failure of an item whose task host ran past the pool's
 * `task_timeout` (mpmp_pool_opts_t::task_timeout), and of a Manager call
 * whose server did not answer within ::MPMP_MANAGER_TIMEOUT. */
/** \var MPMP_EBADF
 * "bad, stale or freed handle" (-EBADF): a shared-object or manager handle
 * that is zeroed, garbage, of another mpmp_init() round, or of an object
 * that was freed, also while the call waited in it (mpmp/shared.h,
 * "Lifetime"). Never a crash: nothing is touched. ::MPMP_SHM_ENOENT is the
 * same value. */
/** \var MPMP_EAGAIN
 * "not ready yet" (-EAGAIN): the result of a running Process or of an
 * asynchronous call is asked for before it has ended
 * (mpmp_process_exitcode(), mpmp_async_result() ...); ask again later, or
 * wait for it first. */
/** \var MPMP_EBUSY
 * "no free worker rank" (-EBUSY): a Process, Pool, executor or Manager
 * needs worker ranks that are all taken (each worker serves one of them at
 * a time); start the job with more ranks (`mpirun -n N`), or end what
 * holds them. The message says how many are free. */
/** \var MPMP_EPERM
 * "operation not permitted in this state" (-EPERM): the call is not allowed
 * now: work submitted to a closed pool or a shut-down executor, a second
 * start, a release of a lock the caller does not hold, a wait or notify of
 * a Condition without its lock, the wrong end of a one-way pipe.
 * ::MPMP_SHM_EEXIST is the same value. */
/** \var MPMP_ENOTSUP
 * "operation not supported" (-ENOTSUP): the object cannot do that: the lock
 * of a RawValue or RawArray, task_done() on a Queue that is not joinable,
 * mpmp_array_data() from another node, SharedMemory without memfd_create(). */
/** \var MPMP_EMSGSIZE
 * "buffer too small or message too large" (-EMSGSIZE): the next item,
 * message or value does not fit in the buffer given (the size it needs is
 * returned, and nothing is taken), or what is sent is over the object's
 * limit (a Queue's max_item, ::MPMP_PIPE_MAX_MESSAGE,
 * ::MPMP_MANAGER_MAX_VALUE). */
/** \var MPMP_ENOSPC
 * "shared heap exhausted" (-ENOSPC): the node's shared heap
 * (`MPMP_HEAP_SIZE`) has no room for the new object (the message says how
 * much is in use: free objects, or raise the setting), or at mpmp_init()
 * the heap does not fit in /dev/shm; also a full SharedMemory name table
 * (::MPMP_SHM_MAX_BLOCKS). */
/** \var MPMP_EPIPE
 * "closed" (-EPIPE): a put to a closed Queue, a send or recv on a closed
 * pipe end, a send to a pipe whose other end is closed (BrokenPipeError),
 * or a pipe broken by a task host that died in the middle of a message. */
/** \var MPMP_ECANCELED
 * "cancelled" (-ECANCELED): the result of a future that was cancelled
 * before it ran (mpmp_future_cancel(), or a shutdown with cancel_futures;
 * Python's CancelledError). */
/** \var MPMP_ENOTINIT
 * "mpmp is not initialized (or already finalized)" (-3001): a call before
 * mpmp_init() or after mpmp_finalize() (the destroy and free calls, and
 * reading what an ended process left, excepted: each header's "Lifetime"
 * says which work then), or a second mpmp_finalize(). */
/** \var MPMP_EALREADY
 * "mpmp is already initialized" (-3002): mpmp_init() called while mpmp
 * runs, or after MPI was finalized in this process. */
/** \var MPMP_ENOTASK
 * "function is not a registered task" (-3003): a function passed as a task
 * that no ::MPMP_TASK registered; the message names it (through dladdr():
 * link the program with `-rdynamic`). */
/** \var MPMP_ETASK
 * "the task failed" (-3004): a task returned mpmp_fail() (Python: it raised
 * an exception). mpmp_errmsg() holds its message, with the item and the
 * rank for a map; the other items' results are still delivered. */
/** \var MPMP_EMISMATCH
 * "ranks disagree (different binaries?)" (-3005): at mpmp_init() the ranks
 * registered different tasks (run the same binary on every rank); also a
 * malformed answer from a Manager's server. */
/** \var MPMP_EMPI
 * "an MPI call failed" (-3006): MPI returned an error (the message names
 * the call and MPI's error string), or the program runs with another MPI
 * library than the one mpmp was built with. */
/** \var MPMP_ENOTMAIN
 * "only the main rank (rank 0) may do this" (-3007): a main-rank call (a
 * Process, Pool, executor or Manager call, mpmp_finalize()) made on a
 * worker rank. */
/** \var MPMP_EENV
 * "bad value in an MPMP_* environment variable" (-3008): a setting that is
 * not valid or out of its range (the message names the variable and the
 * values it takes; README.md, "Settings"), or an `MPMP_TRACE` file that
 * cannot be opened or written. mpmp_init() fails with it on every rank. */
/** \var MPMP_ETOPO
 * "hwloc topology or binding failed" (-3009): hwloc could not load the
 * node's topology or count its CPUs, or the library runs with another hwloc
 * API than it was built with. */
/** \var MPMP_EEOF
 * "end of file" (-3010): the end of an iteration or of a stream: no more
 * results from mpmp_imap_next() or mpmp_as_completed_next(); a Queue closed
 * and empty; a pipe whose other end is closed and all of whose messages
 * were received (Python's EOFError, StopIteration). */
/** \var MPMP_EBROKEN
 * "broken (aborted or timed out) barrier" (-3011): a Barrier was aborted,
 * reset while the caller waited, or another party's wait timed out
 * (Python's BrokenBarrierError); it stays broken until
 * mpmp_barrier_reset(). */
/** \var MPMP_EDEAD
 * "the rank serving this object is gone" (-3012): a call on a Manager that
 * was shut down, or on one of its objects; a SharedMemory block whose
 * creating rank has ended. */
/** \var MPMP_ECRASHED
 * "the task's host process died (a crash, abort, exit or kill)" (-3013): an
 * isolated task (mpmp_pool_opts_t::isolate) crashed, aborted, called exit()
 * or was killed: its item fails with this code and the pool goes on
 * (after mpmp_pool_opts_t::max_retries more attempts, if set). */
/** \var MPMP_EOWNERDEAD
 * "the lock's owner died while holding it; the lock is now yours" (-3014):
 * a Lock or RLock (or a Condition's lock) held by a task host that died was
 * taken over by this acquire or wait: the caller holds it now, and should
 * check the data it protects before releasing it as usual (a robust
 * pthread mutex's EOWNERDEAD). */
/** \var MPMP_ECHECKPOINT
 * "the checkpoint journal cannot be used (another program's or input's, or
 * its directory cannot be written)" (-3015): the map's journal in the
 * checkpoint directory belongs to another map (another task, item count,
 * element size or input: the message says what differs), or the directory
 * (`MPMP_CHECKPOINT`, mpmp_pool_opts_t::checkpoint) cannot be made or
 * written. Remove the directory, or set `MPMP_CHECKPOINT_MODE=fresh`, to
 * start over (README.md, "Long jobs: checkpoint and resume"). */
/** \var MPMP_EINTERRUPTED
 * "the map was stopped before its end (walltime, SIGUSR1 or SIGTERM); its
 * finished items are in the checkpoint" (-3253): the job's end drew near
 * (`MPMP_WALLTIME`, Slurm's end time) or the main rank got SIGUSR1 or
 * SIGTERM: the map dealt no more work and its finished chunks are in its
 * checkpoint journal; later maps return it at once. Return it from main()
 * (exit status ::MPMP_EXIT_INTERRUPTED) and rerun the program with the
 * same `MPMP_CHECKPOINT` to resume. */

/**
 * The sentence that describes an error code.
 * \param err  an ::mpmp_errno_t code, or any int.
 * \return the code's sentence ("timed out"); "success" for 0, "unknown
 * error" for a value that is no code. A static string.
 */
MPMP_API const char *mpmp_strerror(int err);
/**
 * The identifier of an error code.
 * \param err  an ::mpmp_errno_t code, or any int.
 * \return the code's identifier ("MPMP_ETIMEDOUT"); "MPMP_OK" for 0,
 * "MPMP_EUNKNOWN" for a value that is no code. A static string.
 */
MPMP_API const char *mpmp_err_name(int err);
/**
 * The detail of the last failure in this thread.
 * \return the detail of the last error raised in this thread: what exactly
 * went wrong and how to fix it. Empty string when there was none.
 * \note The string is thread-local and valid until the next failing call
 * in this thread (or the thread's end). It is whole up to 16 MiB (a task's
 * failure message can be that long); a longer one is cut there and ends
 * with "... [cut: N bytes in all]" (N: its whole length).
 */
MPMP_API const char *mpmp_errmsg(void);
/**
 * Empty the calling thread's detail message (as `errno = 0` does), so
 * that a later look shows whether a call since has set one.
 */
MPMP_API void mpmp_errmsg_clear(void);

/**
 * Wait forever (any negative timeout does the same). Every call that takes
 * a timeout in seconds reads it the same way: negative waits forever, 0
 * tries once without blocking, a positive value waits at most that long,
 * and a NaN is refused with ::MPMP_EINVAL before anything is done.
 */
#define MPMP_FOREVER (-1.0)

#ifdef __cplusplus
}
#endif
#endif /* MPMP_COMMON_H */
