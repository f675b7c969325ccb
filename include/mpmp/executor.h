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
 * mpmp_finalize() with ::MPMP_ENOTINIT, except destroy calls and the reads
 * of a finished future (result, exception, done, cancelled, running: its
 * outcome, also one that finalize failed, stays readable; waiting for an
 * unfinished one is ::MPMP_ENOTINIT).
 */
#ifndef MPMP_EXECUTOR_H
#define MPMP_EXECUTOR_H

#include <stddef.h>
#include <stdint.h>
#include "mpmp/common.h"
#include "mpmp/pool.h"
#include "mpmp/task.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An executor (Python's ProcessPoolExecutor); main-rank object, made by
 *  mpmp_executor_create() and freed by mpmp_executor_destroy(). */
typedef struct mpmp_executor mpmp_executor_t;
/** A future: the asynchronous result of one submitted task. */
typedef mpmp_async_t mpmp_future_t;

/** Options of mpmp_executor_create(); NULL means all defaults, and so does
 *  a zeroed struct. */
typedef struct mpmp_executor_opts {
  int max_workers;          /**< 0: every free worker rank */
  mpmp_task_fn initializer; /**< run once on each worker; may be NULL */
  const void *initarg;      /**< its argument bytes (copied) */
  size_t initarg_size;      /**< their size in bytes */
  size_t max_result;        /**< largest result; 0: 64 KiB */
  int isolate;              /**< as mpmp_pool_opts_t.isolate */
  double task_timeout;      /**< as mpmp_pool_opts_t.task_timeout */
  int max_retries;          /**< as mpmp_pool_opts_t.max_retries */
  const char *checkpoint;   /**< as mpmp_pool_opts_t.checkpoint */
  /** Python 3.11's max_tasks_per_child: as mpmp_pool_opts_t.maxtasksperchild
   *  (0: never replaced; the tasks then run isolated). */
  int max_tasks_per_child;
} mpmp_executor_opts_t;

/**
 * Start an executor on a pool of worker ranks (Python's
 * ProcessPoolExecutor()).
 * \param[out] ex  the new executor.
 * \param opts     the options; NULL: the defaults.
 * \return 0, ::MPMP_EBUSY (too few free workers), ::MPMP_ETASK (initializer
 * failed), and the other errors of mpmp_pool_create().
 */
MPMP_API int mpmp_executor_create(mpmp_executor_t **ex,
                                  const mpmp_executor_opts_t *opts);
/**
 * Schedule fn(arg) (copied) (Python's submit()).
 * \param ex          the executor.
 * \param fn          the task.
 * \param arg         its argument bytes, copied (may be NULL when
 *                    \p arg_size is 0).
 * \param arg_size    their size (under 1 GiB).
 * \param[out] future the future: mpmp_future_result(); free it with
 *                    mpmp_future_destroy().
 * \return 0, or ::MPMP_EPERM after shutdown, ::MPMP_EINVAL, ::MPMP_ENOTASK.
 */
MPMP_API int mpmp_executor_submit(mpmp_executor_t *ex, mpmp_task_fn fn,
                                  const void *arg, size_t arg_size,
                                  mpmp_future_t **future);
/**
 * Python's executor.map with results in order; fixed-size elements as in
 * mpmp_pool_map(). Only the chunks in flight are ever out (two per worker).
 * At the timeout it returns ::MPMP_ETIMEDOUT, as Python raises
 * TimeoutError: the calls not started are cancelled, the running ones are
 * asked to stop (mpmp_should_stop(); isolated ones are killed after
 * MPMP_TERM_GRACE) and run on without it: their results are dropped, and
 * nothing reads \p in or writes to \p out after the return (it waits only
 * for a transfer in progress, milliseconds). The results that came
 * before the timeout are in place; the other elements of \p out are left
 * as they were.
 * \param ex         the executor.
 * \param fn         the task, run once per item.
 * \param in         the items (as for mpmp_pool_map()).
 * \param n          the number of items.
 * \param in_size    the size of one item in bytes.
 * \param out        room for \p n results.
 * \param out_size   the size of one result in bytes.
 * \param chunksize  items per message to a worker; 0: n / (4 x workers),
 *                   rounded up (Python's default is 1).
 * \param timeout    seconds for the whole map (negative: forever).
 * \return 0, ::MPMP_ETASK (first failure in mpmp_errmsg()), ::MPMP_ETIMEDOUT,
 * ::MPMP_EPERM after shutdown, and the other errors of mpmp_pool_map().
 */
MPMP_API int mpmp_executor_map(mpmp_executor_t *ex, mpmp_task_fn fn,
                               const void *in, size_t n, size_t in_size,
                               void *out, size_t out_size, size_t chunksize,
                               double timeout);
/**
 * mpi4py's executor.starmap(fn, iterable): each item holds the arguments of
 * one call. Items are bytes in mpmp, so an item is a struct of the call's
 * arguments (C's tuple), as for mpmp_pool_starmap(): the same call as
 * mpmp_executor_map(), results in order, same timeout rule.
 * \param ex         the executor.
 * \param fn         the task, run once per item (reads its struct with
 *                   mpmp_arg()).
 * \param in         the items, structs of \p in_size bytes.
 * \param n          the number of items.
 * \param in_size    the size of one item in bytes.
 * \param out        room for \p n results.
 * \param out_size   the size of one result in bytes.
 * \param chunksize  items per message to a worker; 0: as mpmp_executor_map().
 * \param timeout    seconds for the whole map (negative: forever).
 * \return as mpmp_executor_map().
 */
MPMP_API int mpmp_executor_starmap(mpmp_executor_t *ex, mpmp_task_fn fn,
                                   const void *in, size_t n, size_t in_size,
                                   void *out, size_t out_size,
                                   size_t chunksize, double timeout);
/**
 * mpi4py's executor.map(..., unordered=True): results in the order they
 * complete, each with its item's index (mpmp_imap_next()'s \p index), chunk
 * by chunk; items come from \p produce as they are needed, in bounded
 * memory. The same iterator as mpmp_pool_imap_unordered() (see pool.h), on
 * the executor's workers; otherwise as mpmp_executor_map_stream(). A failed
 * item is that mpmp_imap_next()'s ::MPMP_ETASK and the iteration goes on.
 * \param ex          the executor.
 * \param fn          the task, run once per item.
 * \param produce     gives the items, one per call.
 * \param user        passed to \p produce.
 * \param in_size     the size of one item in bytes.
 * \param out_size    the size of one result in bytes.
 * \param chunksize   items per chunk; 0: 64 (1: each result as soon as
 *                    its item is done).
 * \param buffersize  items held at once; 0: 4 x chunksize x workers.
 * \param[out] it     the iterator: mpmp_imap_next(), mpmp_imap_destroy();
 *                    valid until destroyed, as any imap iterator.
 * \return 0, ::MPMP_EPERM after shutdown, ::MPMP_EINVAL, and the other
 * errors of mpmp_pool_imap_unordered().
 */
MPMP_API int mpmp_executor_map_unordered(mpmp_executor_t *ex, mpmp_task_fn fn,
                                         mpmp_produce_fn produce, void *user,
                                         size_t in_size, size_t out_size,
                                         size_t chunksize, size_t buffersize,
                                         mpmp_imap_t **it);
/**
 * executor.map over variable-size items with variable-size results (see
 * mpmp_pool_map_var() in pool.h): item i is the `in_off[i + 1] -
 * in_off[i]` bytes at `in + in_off[i]`, and its result (what the task
 * wrote with mpmp_out(), up to the executor's max_result bytes) is
 * element i of \p out. At the timeout the call returns, as
 * mpmp_executor_map() does: the calls not started are cancelled and the
 * running ones asked to stop and left to run; the results of the calls
 * done by then are in \p out, the others empty (late results are
 * dropped).
 * \param ex         the executor.
 * \param fn         the task, run once per item.
 * \param in         the items' bytes (may be NULL when \p n is 0).
 * \param in_off     n + 1 offsets into \p in, non-decreasing.
 * \param n          the number of items.
 * \param chunksize  items per message to a worker; 0: n / (4 x workers),
 *                   rounded up.
 * \param timeout    seconds for the whole map (negative: forever).
 * \param[out] out   the results, the caller's after any return that ran
 *                   the map (0, ::MPMP_ETASK, ::MPMP_ETIMEDOUT, ...): free
 *                   them with mpmp_varbuf_free(); else zeroed.
 * \return 0, ::MPMP_ETASK (first failure in mpmp_errmsg()),
 * ::MPMP_ETIMEDOUT, ::MPMP_EPERM after shutdown, and the other errors of
 * mpmp_pool_map_var().
 */
MPMP_API int mpmp_executor_map_var(mpmp_executor_t *ex, mpmp_task_fn fn,
                                   const void *in, const size_t *in_off,
                                   size_t n, size_t chunksize, double timeout,
                                   mpmp_varbuf_t *out);
/**
 * executor.map over an input of any length, in bounded memory (Python
 * 3.14's map(..., buffersize=n)): items come from \p produce as they are
 * needed and results are read with mpmp_imap_next(), in order, with its
 * timeout; at most \p buffersize items are out at once. The same iterator
 * as mpmp_pool_imap() (see pool.h), on the executor's workers.
 * \param ex          the executor.
 * \param fn          the task, run once per item.
 * \param produce     gives the items, one per call.
 * \param user        passed to \p produce.
 * \param in_size     the size of one item in bytes.
 * \param out_size    the size of one result in bytes.
 * \param chunksize   items per chunk; 0: 64.
 * \param buffersize  items held at once; 0: 4 x chunksize x workers.
 * \param[out] it     the iterator: mpmp_imap_next(), mpmp_imap_destroy().
 * \return 0, ::MPMP_EPERM after shutdown, ::MPMP_EINVAL, and the other
 * errors of mpmp_pool_imap().
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
 * mpmp_executor_destroy(); calling shutdown again is harmless, and one
 * with \p cancel_futures then cancels what an earlier one left pending.
 * A shutdown that waits returns after the done-callbacks of the
 * finished futures have returned (those running in mpmp's progress
 * engine too), as Python's does.
 * \param ex              the executor.
 * \param wait            1: wait for the running futures and give the
 *                        workers back; 0: return at once.
 * \param cancel_futures  1: cancel the futures not started yet
 *                        (::MPMP_ECANCELED), the items not started of a
 *                        mpmp_executor_map under way (its call returns
 *                        ::MPMP_ECANCELED once the running ones are back,
 *                        their results in place; the others read as
 *                        failures "cancelled before it ran"), and the
 *                        chunks of map_stream
 *                        and map_unordered iterators not started: they
 *                        read no more input, hand out what ran, and end
 *                        with ::MPMP_EPERM at the first item that did not
 *                        (Python's map raises CancelledError there); 0:
 *                        they run, and the iterators read their input to
 *                        its end.
 * \return 0; ::MPMP_EPERM with \p wait when a map_stream or map_unordered
 * iterator that this thread reads still reads its input (read it to its
 * end, or destroy it, first), and then nothing changed (call it again
 * with wait = 0 to shut down now); one read by another thread is waited
 * for.
 */
MPMP_API int mpmp_executor_shutdown(mpmp_executor_t *ex, int wait,
                                    int cancel_futures);
/**
 * Python's `with ProcessPoolExecutor() as ex:` exit: shutdown(wait = 1)
 * and free the executor (a map_stream iterator still reading is ended
 * first: its next mpmp_imap_next() says so). Futures stay valid until
 * destroyed; a NULL \p ex is a no-op. Also safe after mpmp_finalize().
 * \param ex  the executor (NULL: nothing); invalid afterwards.
 * \return 0, or the code of the shutdown.
 */
MPMP_API int mpmp_executor_destroy(mpmp_executor_t *ex);

/**
 * A passable handle of an executor, for tasks that submit sub-tasks to it
 * (nested parallelism, as Ray's and Dask's tasks that submit tasks): plain
 * bytes, to put in a task's argument. Made by mpmp_executor_ref() on the
 * main rank; a task turns it into an executor with mpmp_executor_attach().
 * A zeroed one is no ref (::MPMP_EINVAL).
 */
typedef struct mpmp_executor_ref {
  uint64_t token;    /**< which executor (never reused in a process) */
  uint32_t magic;    /**< tells a ref from zeroed or garbage bytes */
  uint32_t reserved; /**< 0 */
} mpmp_executor_ref_t;

/**
 * The executor's passable handle, for its tasks (and their sub-tasks) to
 * submit to it: see mpmp_executor_attach().
 * \param ex        the executor (main rank), not shut down.
 * \param[out] ref  its ref: copy it into a task's argument.
 * \return 0, ::MPMP_EINVAL (NULL), ::MPMP_EPERM (shut down), ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_executor_ref(const mpmp_executor_t *ex,
                               mpmp_executor_ref_t *ref);
/**
 * Inside a task: an executor that submits to the main rank's executor of
 * \p ref. On it, mpmp_executor_submit() works as on the main rank: the
 * sub-task is queued on the main rank's executor like any other, and its
 * future here takes mpmp_future_result(), _exception(), _done(),
 * _running() (1 until its answer came), _cancel(), _cancelled(),
 * _add_done_callback() and _destroy() (not as_completed nor futures_wait,
 * which are the main rank's). A task that waits on a sub-task gives its
 * worker's slot back while it waits: the worker runs the pool's tasks
 * dealt to it meanwhile, so a pool of one worker whose task waits on its
 * own sub-task completes (Dask's secede/rejoin). A timed wait there
 * returns by its timeout unless it is running such a task then: it
 * returns when that task ends (a task cannot be cut short), with the
 * sub-task's answer if it is done by then. The maps, shutdown(wait)
 * and the pool's other calls stay the main rank's: on an attached
 * executor they are ::MPMP_ENOTSUP (mpmp_executor_shutdown() only stops
 * this proxy's submissions).
 *
 * Tasks that run isolated, in a task host (an executor or pool with
 * isolate ::MPMP_ISOLATE_ALWAYS, or one needing it: task_timeout,
 * max_retries, max_tasks_per_child; a Process, by default), cannot
 * submit: this returns ::MPMP_ENOTSUP there; use isolate
 * ::MPMP_ISOLATE_NEVER for tasks that submit. A Process body that runs
 * unisolated may attach and submit (it has no pool slot to give back).
 *
 * Lifetimes: the proxy is valid until mpmp_executor_destroy(), which
 * frees it only. A submission through it after the main rank's executor
 * was shut down fails with ::MPMP_EPERM, after it was destroyed (or with a
 * ref of an earlier mpmp_init) with ::MPMP_EBADF: the future's result
 * (the submission itself is not waited for) says so. So keep the executor
 * alive while its tasks submit; its shutdown(wait) waits for the sub-tasks
 * submitted before it, as for any future. On the main rank, attaching
 * works too (a proxy of the same executor, whose futures are plain ones).
 * \param[out] ex  the proxy.
 * \param ref      a ref from mpmp_executor_ref().
 * \return 0, ::MPMP_EINVAL (NULL \p ex, a zeroed or garbage ref),
 * ::MPMP_ENOTSUP (in a task host), ::MPMP_ENOMEM, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_executor_attach(mpmp_executor_t **ex,
                                  mpmp_executor_ref_t ref);

/**
 * Wait for the future's result (Python's result(timeout)).
 * \param f           the future.
 * \param timeout     seconds (negative: forever).
 * \param[out] data   the result bytes the task wrote with mpmp_out(), read
 *                    in place (no copy, however large: up to max_result;
 *                    every call gives the same pointer); valid until
 *                    mpmp_future_destroy(), also after the executor was
 *                    destroyed and after mpmp_finalize(); may be NULL.
 * \param[out] size   their size (may be NULL).
 * \return 0, ::MPMP_ETIMEDOUT,
 * ::MPMP_ETASK (the task failed: mpmp_errmsg() has its message),
 * ::MPMP_ECRASHED (its task host died), ::MPMP_ECANCELED.
 */
MPMP_API int mpmp_future_result(mpmp_future_t *f, double timeout,
                                const void **data, size_t *size);
/**
 * Wait for the future and say how it failed, if it did (Python's
 * exception(timeout)).
 * \param f         the future.
 * \param timeout   seconds (negative: forever).
 * \param[out] msg  NULL if the task succeeded, else its failure message
 *                  (valid until mpmp_future_destroy()); may be NULL.
 * \return 0, ::MPMP_ETIMEDOUT, ::MPMP_ECANCELED.
 */
MPMP_API int mpmp_future_exception(mpmp_future_t *f, double timeout,
                                   const char **msg);
/**
 * Whether the future is done (Python's done()).
 * \param f  the future.
 * \return 1 when finished or cancelled, else 0; ::MPMP_EINVAL for NULL. */
MPMP_API int mpmp_future_done(mpmp_future_t *f);
/**
 * Whether it was dealt to a worker and is not done (Python's running()):
 * it may still wait there behind the worker's task before it (then
 * mpmp_future_cancel() no longer takes it back), as a Python future taken
 * from the call queue does.
 * \param f  the future.
 * \return 1 from its dealing until it is done, else 0; ::MPMP_EINVAL for
 * NULL. */
MPMP_API int mpmp_future_running(mpmp_future_t *f);
/**
 * Cancel if not started (Python's cancel()); a running or finished future
 * cannot be cancelled.
 * \param f  the future.
 * \return 1 if it is (now) cancelled, else 0; ::MPMP_EINVAL for NULL. */
MPMP_API int mpmp_future_cancel(mpmp_future_t *f);
/**
 * Whether it was cancelled (Python's cancelled()).
 * \param f  the future.
 * \return 1 if cancelled, else 0; ::MPMP_EINVAL for NULL. */
MPMP_API int mpmp_future_cancelled(mpmp_future_t *f);
/**
 * Run \p cb when done (at once, in this thread, if it already is); same
 * rules as pool callbacks (::mpmp_async_cb). Callbacks run in the order
 * they were added.
 * \param f     the future.
 * \param cb    the callback; its \p ok is 1 when the task succeeded.
 * \param user  passed to \p cb.
 * \return 0, ::MPMP_EINVAL (NULL \p f or \p cb), ::MPMP_ENOMEM,
 * ::MPMP_ENOTINIT after mpmp_finalize() for a future not done (on a done
 * one it runs at once, as before finalize).
 */
MPMP_API int mpmp_future_add_done_callback(mpmp_future_t *f, mpmp_async_cb cb,
                                           void *user);
/**
 * Free the future (mpmp_async_destroy()): a running one is dropped, and
 * an as_completed iterator or a futures_wait that watches it leaves it.
 * Also after mpmp_finalize().
 * \param f  the future (NULL: nothing); invalid afterwards.
 */
MPMP_API void mpmp_future_destroy(mpmp_future_t *f);

/** Python's as_completed(): yields futures as they finish. */
typedef struct mpmp_as_completed mpmp_as_completed_t;
/**
 * Start iterating over futures as they finish (Python's
 * as_completed(fs, timeout)).
 * \p timeout bounds the whole iteration, as in Python. A future given
 * more than once is yielded once (Python takes set(fs)); those already
 * finished come first. O(n log n) in all over n futures.
 * \param fs        the futures (may be NULL when \p n is 0).
 * \param n         their number.
 * \param timeout   seconds for the whole iteration (negative: forever).
 * \param[out] it   the iterator: mpmp_as_completed_next(), then
 *                  mpmp_as_completed_destroy().
 * \return 0, ::MPMP_EINVAL (a NULL entry, n < 0, NaN timeout).
 */
MPMP_API int mpmp_as_completed(mpmp_future_t *const *fs, int n, double timeout,
                               mpmp_as_completed_t **it);
/**
 * The next finished future.
 * \param it      the iterator.
 * \param[out] f  the future (one of those given).
 * \return 0, ::MPMP_EEOF when all were yielded,
 * ::MPMP_ETIMEDOUT when the iteration's time is up.
 */
MPMP_API int mpmp_as_completed_next(mpmp_as_completed_t *it, mpmp_future_t **f);
/**
 * Free the iterator (not the futures).
 * \param it  the iterator (NULL: nothing); invalid afterwards.
 */
MPMP_API void mpmp_as_completed_destroy(mpmp_as_completed_t *it);

/** return_when of mpmp_futures_wait(). */
enum {
  MPMP_FIRST_COMPLETED = 1, /**< return when any future is done */
  MPMP_FIRST_EXCEPTION = 2, /**< when one fails (raises), else when all are */
  MPMP_ALL_COMPLETED = 3    /**< when all are done */
};
/**
 * Python's concurrent.futures.wait(). FIRST_EXCEPTION returns when a future
 * fails (a cancelled one did not fail), else when all are done.
 * \return the number of distinct done futures (check each with
 * mpmp_future_done()); it returns at the timeout too, as Python does, with
 * fewer done; ::MPMP_EINVAL for a NULL entry, n < 0, a bad return_when or
 * a NaN timeout.
 * \param fs           the futures (may be NULL when \p n is 0).
 * \param n            their number.
 * \param return_when  ::MPMP_FIRST_COMPLETED, ::MPMP_FIRST_EXCEPTION or
 *                     ::MPMP_ALL_COMPLETED.
 * \param timeout      seconds (negative: forever).
 */
MPMP_API int mpmp_futures_wait(mpmp_future_t *const *fs, int n,
                               int return_when, double timeout);

#ifdef __cplusplus
}
#endif
#endif /* MPMP_EXECUTOR_H */
