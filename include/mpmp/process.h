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
#include "mpmp/task.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A process (main-rank object). */
typedef struct mpmp_process mpmp_process_t;

/** Exit code of a body that stopped after terminate() (-SIGTERM). */
#define MPMP_EXIT_TERMINATED (-15)
/** Exit code of a body that failed with mpmp_fail() (Python: exception). */
#define MPMP_EXIT_FAILED 1

/** Options for mpmp_process_create(); a NULL pointer means all defaults. */
typedef struct mpmp_process_opts {
  const char *name; /**< "Process-N" when NULL; copied. */
  int daemon;       /**< 1: terminated (not joined) at mpmp_finalize(). */
  size_t max_result; /**< bytes the body may return with mpmp_out(); 0: 64 KiB */
  /** Run the body in a task host (see mpmp_pool_opts_t.isolate): a crash
   *  ends the process, not the job (exitcode -signal, or the exit status),
   *  and terminate() kills a body that ignores mpmp_should_stop() after
   *  MPMP_TERM_GRACE (exitcode -9). ::MPMP_ISOLATE_DEFAULT: isolated where
   *  the worker has a task host (unless MPMP_ISOLATE=never);
   *  ::MPMP_ISOLATE_NEVER: in the worker rank itself, as a body that calls
   *  MPI needs. */
  int isolate;
} mpmp_process_opts_t;

/**
 * Create a process that will run \p fn with a copy of \p arg.
 * \return 0, ::MPMP_ENOTASK if \p fn is not registered, ::MPMP_ENOTMAIN on a
 * worker rank, ::MPMP_EINVAL.
 */
MPMP_API int mpmp_process_create(mpmp_process_t **p, mpmp_task_fn fn,
                                 const void *arg, size_t arg_size,
                                 const mpmp_process_opts_t *opts);
/** Start it on a free worker rank. \return 0, ::MPMP_EBUSY, ::MPMP_EPERM (started twice). */
MPMP_API int mpmp_process_start(mpmp_process_t *p);
/**
 * Wait until the body returns. \p timeout in seconds (negative: forever).
 * \return 0 when it has ended, ::MPMP_ETIMEDOUT (the process keeps running;
 * join again later), ::MPMP_EPERM if never started.
 */
MPMP_API int mpmp_process_join(mpmp_process_t *p, double timeout);
/** \return 1 while started and not ended, else 0; or a negative code. */
MPMP_API int mpmp_process_is_alive(mpmp_process_t *p);
/**
 * \param[out] exitcode  the body's return value, ::MPMP_EXIT_FAILED after
 * mpmp_fail(), ::MPMP_EXIT_TERMINATED after terminate().
 * \return 0, or ::MPMP_EAGAIN while it runs (Python: None), ::MPMP_EPERM if
 * never started.
 */
MPMP_API int mpmp_process_exitcode(mpmp_process_t *p, int *exitcode);
/** \return the failure message of an ended body ("" if none). */
MPMP_API const char *mpmp_process_errmsg(const mpmp_process_t *p);
/**
 * The bytes the body wrote with mpmp_out() (an mpmp extension: Python needs a
 * Queue for this); also after a terminate() the body stopped for, none after
 * a failure. \return 0, or ::MPMP_EAGAIN while it runs.
 */
MPMP_API int mpmp_process_result(const mpmp_process_t *p, const void **data,
                                 size_t *size);
/** Ask the body to stop (sets its mpmp_should_stop() flag); does not wait. */
MPMP_API int mpmp_process_terminate(mpmp_process_t *p);
/** Set the daemon flag; only before start. */
MPMP_API int mpmp_process_set_daemon(mpmp_process_t *p, int daemon);
MPMP_API int mpmp_process_daemon(const mpmp_process_t *p);
MPMP_API const char *mpmp_process_name(const mpmp_process_t *p);
/** \return the pid of the rank running it (0 before start);
 * ::MPMP_EINVAL for NULL. */
MPMP_API int mpmp_process_pid(const mpmp_process_t *p);
/** \return the rank running it (-1 before start); ::MPMP_EINVAL for NULL. */
MPMP_API int mpmp_process_rank(const mpmp_process_t *p);
/** \return the node name of the rank running it ("" before start). */
MPMP_API const char *mpmp_process_node(const mpmp_process_t *p);
/**
 * Free the process object (Python's close()). \return ::MPMP_EPERM while it
 * is still running (join it first).
 */
MPMP_API int mpmp_process_destroy(mpmp_process_t *p);

/**
 * The processes started and not yet joined-and-ended (Python's
 * active_children(), which also reaps the ended ones).
 * \param[out] out  up to \p max pointers; may be NULL with max 0.
 * \return the number of active children, or a negative code.
 */
MPMP_API int mpmp_active_children(mpmp_process_t **out, int max);

/** What a body knows about itself (Python's current_process()). */
typedef struct mpmp_process_info {
  char name[64];   /**< the process name; "MainProcess" on the main rank */
  int pid;         /**< real pid of this rank */
  int rank;        /**< this rank */
  char node[256];  /**< this rank's node name */
  int daemon;
} mpmp_process_info_t;

/** Fill \p info for the calling rank (inside a body, or on the main rank). */
MPMP_API int mpmp_current_process(mpmp_process_info_t *info);

#ifdef __cplusplus
}
#endif
#endif /* MPMP_PROCESS_H */
