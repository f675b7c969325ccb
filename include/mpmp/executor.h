/**
 * \file mpmp/executor.h
 * \brief Executor and futures (Python's concurrent.futures.ProcessPoolExecutor).
 *
 * \code
 * mpmp_executor_t *ex;
 * mpmp_future_t *fs[10];
 * mpmp_executor_create(&ex, NULL);
 * for (long i = 0; i < 10; i++)
 *     mpmp_executor_submit(ex, process_item, &i, sizeof i, &fs[i]);
 * mpmp_as_completed_t *it;
 * mpmp_future_t *f;
 * mpmp_as_completed(fs, 10, MPMP_FOREVER, &it);
 * while (mpmp_as_completed_next(it, &f) == 0) { ... mpmp_future_result(f, 0, &data, &size); }
 * mpmp_as_completed_destroy(it);
 * mpmp_executor_shutdown(ex, 1, 0);
 * \endcode
 *
 * The executor runs on a pool of worker ranks; a future is the pool's
 * asynchronous result of one task (so mpmp_async_* calls work on it too).
 * A failing task's message is the future's exception.
 *
 * Lifetimes: an executor is valid until mpmp_executor_destroy(); after
 * mpmp_executor_shutdown() it takes no work (::MPMP_EPERM) but its calls
 * stay safe. Futures are valid until mpmp_future_destroy(), whatever
 * happens to the executor, and also after mpmp_finalize(). A future
 * destroyed while an as_completed iterator or a futures_wait watches it
 * leaves them (it is neither waited for nor returned). Every call answers
 * NULL with ::MPMP_EINVAL, a NaN timeout with ::MPMP_EINVAL, and calls after
 * mpmp_finalize() with ::MPMP_ENOTINIT (destroy calls excepted).
 */
#ifndef MPMP_EXECUTOR_H
#define MPMP_EXECUTOR_H

#include <stddef.h>
#include "mpmp/common.h"
#include "mpmp/pool.h"
#include "mpmp/task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mpmp_executor mpmp_executor_t;
/** A future: the asynchronous result of one submitted task. */
typedef mpmp_async_t mpmp_future_t;

/** Options; NULL means all defaults. */
typedef struct mpmp_executor_opts {
  int max_workers;          /**< 0: every free worker rank */
  mpmp_task_fn initializer; /**< run once on each worker; may be NULL */
  const void *initarg;
  size_t initarg_size;
  size_t max_result;        /**< largest result; 0: 64 KiB */
  int isolate;              /**< as mpmp_pool_opts_t.isolate */
  double task_timeout;      /**< as mpmp_pool_opts_t.task_timeout */
  int max_retries;          /**< as mpmp_pool_opts_t.max_retries */
  const char *checkpoint;   /**< as mpmp_pool_opts_t.checkpoint */
} mpmp_executor_opts_t;

/** \return 0, ::MPMP_EBUSY (too few free workers), ::MPMP_ETASK (initializer failed). */
MPMP_API int mpmp_executor_create(mpmp_executor_t **ex,
                                  const mpmp_executor_opts_t *opts);
/** Schedule fn(arg) (copied). \return 0, or ::MPMP_EPERM after shutdown. */
MPMP_API int mpmp_executor_submit(mpmp_executor_t *ex, mpmp_task_fn fn,
                                  const void *arg, size_t arg_size,
                                  mpmp_future_t **future);
/**
 * Python's executor.map with results in order; fixed-size elements as in
 * mpmp_pool_map(). Only the chunks in flight are ever out (two per worker).
 * At the timeout the calls not started are cancelled, the running ones
 * are asked to stop (mpmp_should_stop()) and waited for, so that nothing
 * writes to \p out after the return.
 * \return 0, ::MPMP_ETASK (first failure in mpmp_errmsg()), ::MPMP_ETIMEDOUT.
 */
MPMP_API int mpmp_executor_map(mpmp_executor_t *ex, mpmp_task_fn fn,
                               const void *in, size_t n, size_t in_size,
                               void *out, size_t out_size, size_t chunksize,
                               double timeout);
/**
 * executor.map over an input of any length, in bounded memory (Python
 * 3.14's map(..., buffersize=n)): items come from \p produce as they are
 * needed and results are read with mpmp_imap_next(), in order, with its
 * timeout; at most \p buffersize items are out at once. The same iterator
 * as mpmp_pool_imap() (see pool.h), on the executor's workers.
 * \return 0, ::MPMP_EPERM after shutdown, ::MPMP_EINVAL.
 */
MPMP_API int mpmp_executor_map_stream(mpmp_executor_t *ex, mpmp_task_fn fn,
                                      mpmp_produce_fn produce, void *user,
                                      size_t in_size, size_t out_size,
                                      size_t chunksize, size_t buffersize,
                                      mpmp_imap_t **it);
/**
 * No more submissions (submit, map and map_stream then return
 * ::MPMP_EPERM). \p cancel_futures: cancel the futures not started yet.
 * \p wait: wait for the running ones and give the workers back. With both,
 * running futures that have not ended after MPMP_TERM_GRACE / 2 seconds
 * are terminated as by mpmp_pool_terminate() (asked to stop, and their
 * task host killed after MPMP_TERM_GRACE more if they ignore it): they
 * fail, saying so. Tasks that end sooner keep their results, as Python's. The
 * executor object stays valid (and shut down) until
 * mpmp_executor_destroy(); calling shutdown again is harmless.
 * \return 0; ::MPMP_EPERM with \p wait when a map_stream iterator still
 * reads its input (read it to its end, or destroy it, first).
 */
MPMP_API int mpmp_executor_shutdown(mpmp_executor_t *ex, int wait,
                                    int cancel_futures);
/**
 * Python's `with ProcessPoolExecutor() as ex:` exit: shutdown(wait = 1)
 * and free the executor (a map_stream iterator still reading is ended
 * first: its next mpmp_imap_next() says so). Futures stay valid until
 * destroyed; a NULL \p ex is a no-op. Also safe after mpmp_finalize().
 * \return 0, or the code of the shutdown.
 */
MPMP_API int mpmp_executor_destroy(mpmp_executor_t *ex);

/**
 * The result bytes (valid until destroy). \return 0, ::MPMP_ETIMEDOUT,
 * ::MPMP_ETASK (the task failed: mpmp_errmsg() has its message),
 * ::MPMP_ECANCELED.
 */
MPMP_API int mpmp_future_result(mpmp_future_t *f, double timeout,
                                const void **data, size_t *size);
/**
 * \param[out] msg  NULL if the task succeeded, else its failure message.
 * \return 0, ::MPMP_ETIMEDOUT, ::MPMP_ECANCELED.
 */
MPMP_API int mpmp_future_exception(mpmp_future_t *f, double timeout,
                                   const char **msg);
/** \return 1 when finished or cancelled, else 0; ::MPMP_EINVAL for NULL. */
MPMP_API int mpmp_future_done(mpmp_future_t *f);
/** \return 1 while a worker runs it, else 0; ::MPMP_EINVAL for NULL. */
MPMP_API int mpmp_future_running(mpmp_future_t *f);
/** Cancel if not started. \return 1 if it is (now) cancelled, else 0;
 * ::MPMP_EINVAL for NULL. */
MPMP_API int mpmp_future_cancel(mpmp_future_t *f);
/** \return 1 if cancelled, else 0; ::MPMP_EINVAL for NULL. */
MPMP_API int mpmp_future_cancelled(mpmp_future_t *f);
/** Run \p cb when done (at once if it already is); same rules as pool callbacks. */
MPMP_API int mpmp_future_add_done_callback(mpmp_future_t *f, mpmp_async_cb cb,
                                           void *user);
MPMP_API void mpmp_future_destroy(mpmp_future_t *f);

/** Python's as_completed(): yields futures as they finish. */
typedef struct mpmp_as_completed mpmp_as_completed_t;
/**
 * \p timeout bounds the whole iteration, as in Python. A future given
 * more than once is yielded once (Python takes set(fs)); those already
 * finished come first. O(n log n) in all over n futures.
 * \return 0, ::MPMP_EINVAL (a NULL entry, n < 0, NaN timeout).
 */
MPMP_API int mpmp_as_completed(mpmp_future_t *const *fs, int n, double timeout,
                               mpmp_as_completed_t **it);
/**
 * The next finished future. \return 0, ::MPMP_EEOF when all were yielded,
 * ::MPMP_ETIMEDOUT when the iteration's time is up.
 */
MPMP_API int mpmp_as_completed_next(mpmp_as_completed_t *it, mpmp_future_t **f);
MPMP_API void mpmp_as_completed_destroy(mpmp_as_completed_t *it);

/** return_when of mpmp_futures_wait(). */
enum {
  MPMP_FIRST_COMPLETED = 1,
  MPMP_FIRST_EXCEPTION = 2,
  MPMP_ALL_COMPLETED = 3
};
/**
 * Python's concurrent.futures.wait(). FIRST_EXCEPTION returns when a future
 * fails (a cancelled one did not fail), else when all are done.
 * \return the number of distinct done futures (check each with
 * mpmp_future_done()); it returns at the timeout too, as Python does, with
 * fewer done; ::MPMP_EINVAL for a NULL entry, n < 0, a bad return_when or
 * a NaN timeout.
 */
MPMP_API int mpmp_futures_wait(mpmp_future_t *const *fs, int n,
                               int return_when, double timeout);

#ifdef __cplusplus
}
#endif
#endif /* MPMP_EXECUTOR_H */
