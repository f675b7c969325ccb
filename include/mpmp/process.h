/**
 * \file mpmp/process.h
 * \brief Process: run one task body on a free worker rank
 *        (Python's multiprocessing.Process).
 *
 * \code
 * mpmp_process_t *p;
 * mpmp_process_create(&p, worker, "Alice", 6, NULL);   // Process(target, args)
 * mpmp_process_start(p);
 * mpmp_process_join(p, MPMP_FOREVER);
 * mpmp_process_destroy(p);
 * \endcode
 *
 * A "process" is a worker rank that runs the body; it has the rank's real pid
 * and node name. Starting more processes than there are free worker ranks is
 * ::MPMP_EBUSY: start the job with more ranks (`mpirun -n N`).
 *
 * terminate() is cooperative: the body sees mpmp_should_stop() turn 1 and
 * returns; its exit code is then -15 (as Python reports SIGTERM). An MPI
 * rank cannot be killed without killing the job, so a body that never checks
 * the flag runs to its end; at mpmp_finalize() such a daemon body gets
 * `MPMP_TERM_GRACE` seconds and then the job is aborted.
 *
 * Lifetime: created -> start() (once) -> join() -> destroy(). Calls on a
 * NULL process are ::MPMP_EINVAL; destroy() of a running process is
 * ::MPMP_EPERM (join it first). After mpmp_finalize() (which joins
 * non-daemon processes and terminates daemon ones) exitcode, errmsg,
 * result and destroy still work; the other calls are ::MPMP_ENOTINIT.
 * A NaN join timeout is ::MPMP_EINVAL.
 */
#ifndef MPMP_PROCESS_H
#define MPMP_PROCESS_H

#include <stddef.h>
#include "mpmp/common.h"
#include "mpmp/shared.h"
#include "mpmp/task.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A process (main-rank object): made by mpmp_process_create(), freed by
 *  mpmp_process_destroy(). */
typedef struct mpmp_process mpmp_process_t;

/** Exit code of a body that stopped after terminate() (-SIGTERM). */
#define MPMP_EXIT_TERMINATED (-15)
/** Exit code of a body that failed with mpmp_fail() (Python: exception). */
#define MPMP_EXIT_FAILED 1

/** Options for mpmp_process_create(); a NULL pointer means all defaults,
 *  and so does a zeroed struct. */
typedef struct mpmp_process_opts {
  const char *name; /**< "Process-N" when NULL; copied (its first 63
                         bytes: mpmp_process_name() and the crash
                         reports show no more). */
  int daemon;       /**< 1: terminated (not joined) at mpmp_finalize();
                         0: joined there. */
  size_t max_result; /**< bytes the body may return with mpmp_out(); 0: 64 KiB */
  /** Run the body in a task host (see mpmp_pool_opts_t.isolate): a crash
   *  ends the process, not the job (exitcode -signal, or the exit status),
   *  and terminate() kills a body that ignores mpmp_should_stop() after
   *  MPMP_TERM_GRACE (exitcode -9). The host is its worker's, which the
   *  next body on that worker uses too: globals and threads a body leaves
   *  behind are seen there (README, "When a task crashes").
   *  ::MPMP_ISOLATE_DEFAULT: isolated where
   *  the worker has a task host (unless MPMP_ISOLATE=never);
   *  ::MPMP_ISOLATE_NEVER: in the worker rank itself, as a body that calls
   *  MPI needs. */
  int isolate;
} mpmp_process_opts_t;

/**
 * Create a process that will run \p fn with a copy of \p arg (Python's
 * Process(target, args)); mpmp_process_start() starts it.
 * \param[out] p    the new process.
 * \param fn        the body, a registered task (::MPMP_TASK).
 * \param arg       its argument bytes, copied (may be NULL when \p arg_size
 *                  is 0).
 * \param arg_size  their size (under 1 GiB).
 * \param opts      the options; NULL: the defaults.
 * \return 0, ::MPMP_ENOTASK if \p fn is not registered, ::MPMP_ENOTMAIN on a
 * worker rank, ::MPMP_EINVAL (NULL \p p, NULL \p arg with a size, a bad
 * isolate, or ::MPMP_ISOLATE_ALWAYS where MPMP_ISOLATE=never),
 * ::MPMP_ENOMEM.
 */
MPMP_API int mpmp_process_create(mpmp_process_t **p, mpmp_task_fn fn,
                                 const void *arg, size_t arg_size,
                                 const mpmp_process_opts_t *opts);
/**
 * Start it on a free worker rank (the lowest one), and return at once.
 * \param p  the process.
 * \return 0, ::MPMP_EBUSY (every worker rank is taken: the message says
 * how many ranks to start the job with), ::MPMP_EPERM (started twice).
 */
MPMP_API int mpmp_process_start(mpmp_process_t *p);
/**
 * Wait until the body returns.
 * \param p        the process.
 * \param timeout  seconds (negative, ::MPMP_FOREVER: forever; 0: do not
 *                 wait).
 * \return 0 when it has ended, ::MPMP_ETIMEDOUT (the process keeps running;
 * join again later), ::MPMP_EPERM if never started.
 */
MPMP_API int mpmp_process_join(mpmp_process_t *p, double timeout);
/**
 * Whether the body runs (Python's is_alive()).
 * \param p  the process.
 * \return 1 while started and not ended, else 0; or a negative code
 * (::MPMP_EINVAL, ::MPMP_ENOTINIT).
 */
MPMP_API int mpmp_process_is_alive(mpmp_process_t *p);
/**
 * The exit code of an ended body (Python's exitcode); also after
 * mpmp_finalize().
 * \param p              the process.
 * \param[out] exitcode  the body's return value, ::MPMP_EXIT_FAILED after
 * mpmp_fail(), ::MPMP_EXIT_TERMINATED after terminate(); for an isolated
 * body that crashed, -signal or its exit status (may be NULL).
 * \return 0, or ::MPMP_EAGAIN while it runs (Python: None), ::MPMP_EPERM if
 * never started, ::MPMP_EINVAL for NULL \p p.
 */
MPMP_API int mpmp_process_exitcode(mpmp_process_t *p, int *exitcode);
/**
 * The failure message of an ended body (what it passed to mpmp_fail());
 * also after mpmp_finalize().
 * \param p  the process.
 * \return the message ("" if none, while it runs, or for NULL); valid until
 * mpmp_process_destroy().
 */
MPMP_API const char *mpmp_process_errmsg(const mpmp_process_t *p);
/**
 * The bytes the body wrote with mpmp_out() (an mpmp extension: Python needs a
 * Queue for this); also after a terminate() the body stopped for, none after
 * a failure. Also after mpmp_finalize().
 * \param p           the process.
 * \param[out] data   the bytes (may be NULL); valid until
 *                    mpmp_process_destroy(); NULL when there are none.
 * \param[out] size   their size (may be NULL); 0 when there are none.
 * \return 0, or ::MPMP_EAGAIN while it runs, ::MPMP_EPERM if never
 * started, ::MPMP_EINVAL for NULL \p p.
 */
MPMP_API int mpmp_process_result(const mpmp_process_t *p, const void **data,
                                 size_t *size);
/**
 * Ask the body to stop (sets its mpmp_should_stop() flag); does not wait:
 * join it. An isolated body that ignores the flag is killed after
 * MPMP_TERM_GRACE seconds.
 * \param p  the process.
 * \return 0 (also when it never started or has ended: nothing to stop), or
 * a negative code.
 */
MPMP_API int mpmp_process_terminate(mpmp_process_t *p);
/**
 * Python's `p.sentinel`: a reference that mpmp_conn_wait() takes among
 * its objects, ready once the process has ended (as Python's sentinel
 * becomes ready when the process exits), e.g. to wait for "a message on
 * this pipe or the end of that process". It stays valid until
 * mpmp_process_destroy(): after that a wait on it is ::MPMP_EBADF. It can
 * be waited on only on the main rank (where the Process object is;
 * elsewhere ::MPMP_EPERM); it is no handle of a shared object, and no
 * other call takes it.
 * \param p              the process.
 * \param[out] sentinel  the reference (copy it whole).
 * \return 0; ::MPMP_EPERM if \p p was never started (Python: ValueError);
 * ::MPMP_EINVAL for NULL; ::MPMP_ENOTMAIN on a worker rank.
 */
MPMP_API int mpmp_process_sentinel(const mpmp_process_t *p,
                                   mpmp_ref_t *sentinel);
/**
 * Set the daemon flag (mpmp_process_opts_t::daemon); only before start.
 * \param p       the process.
 * \param daemon  1: a daemon (terminated at mpmp_finalize()); 0: not.
 * \return 0, ::MPMP_EPERM once started.
 */
MPMP_API int mpmp_process_set_daemon(mpmp_process_t *p, int daemon);
/**
 * The daemon flag.
 * \param p  the process.
 * \return 1 for a daemon, 0 if not; ::MPMP_EINVAL for NULL.
 */
MPMP_API int mpmp_process_daemon(const mpmp_process_t *p);
/**
 * The process's name (mpmp_process_opts_t::name, or "Process-N").
 * \param p  the process.
 * \return its name ("" for NULL); valid until mpmp_process_destroy().
 */
MPMP_API const char *mpmp_process_name(const mpmp_process_t *p);
/**
 * The pid of the rank that runs the body (of the worker rank, also for an
 * isolated body).
 * \param p  the process.
 * \return the pid of the rank running it (0 before start);
 * ::MPMP_EINVAL for NULL. */
MPMP_API int mpmp_process_pid(const mpmp_process_t *p);
/**
 * The rank that runs the body.
 * \param p  the process.
 * \return the rank running it (-1 before start); ::MPMP_EINVAL for NULL. */
MPMP_API int mpmp_process_rank(const mpmp_process_t *p);
/**
 * The node of the rank that runs the body.
 * \param p  the process.
 * \return the node name of the rank running it ("" before start, for NULL
 * or after mpmp_finalize()). */
MPMP_API const char *mpmp_process_node(const mpmp_process_t *p);
/**
 * Free the process object (Python's close()); also after mpmp_finalize().
 * \param p  the process (NULL: nothing); invalid afterwards.
 * \return 0, ::MPMP_EPERM while it is still running (join it first), and
 * for a Manager's server (mpmp_manager_shutdown() frees it).
 */
MPMP_API int mpmp_process_destroy(mpmp_process_t *p);

/**
 * The processes started and not yet ended (Python's active_children(),
 * which also reaps the ended ones), a Manager's server among them.
 * \param[out] out  up to \p max pointers; may be NULL with max 0.
 * \param max       the room in \p out (>= 0).
 * \return the number of active children (which may be more than \p max:
 * call again with room for them), or a negative code (::MPMP_EINVAL,
 * ::MPMP_ENOTMAIN, ::MPMP_ENOTINIT).
 */
MPMP_API int mpmp_active_children(mpmp_process_t **out, int max);

/** What a body knows about itself (Python's current_process()). */
typedef struct mpmp_process_info {
  char name[64];   /**< the process name; "MainProcess" on the main rank */
  int pid;         /**< real pid of this rank */
  int rank;        /**< this rank */
  char node[256];  /**< this rank's node name */
  int daemon;      /**< 1 inside a daemon process's body, else 0 */
} mpmp_process_info_t;

/**
 * Fill \p info for the calling rank (inside a body, or on the main rank;
 * in a pool's task the name is "Worker-N", N the rank).
 * \param[out] info  what the caller is.
 * \return 0, ::MPMP_EINVAL for NULL, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_current_process(mpmp_process_info_t *info);

#ifdef __cplusplus
}
#endif
#endif /* MPMP_PROCESS_H */
