/**
 * \file mpmp/pool.h
 * \brief Pool: a task over many items on worker ranks
 *        (Python's multiprocessing.Pool).
 *
 * \code
 * static int square(mpmp_ctx_t *ctx) {
 *     const long *x = mpmp_arg(ctx, NULL);
 *     *(long *)mpmp_out(ctx, sizeof(long)) = *x * *x;
 *     return 0;
 * }
 * MPMP_TASK(square);
 * ...
 * long in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, out[9];
 * mpmp_pool_t *pool;
 * mpmp_pool_create(&pool, NULL);                       // Pool()
 * mpmp_pool_map(pool, square, in, 9, sizeof *in, out, sizeof *out, 0);
 * mpmp_pool_close(pool); mpmp_pool_join(pool, MPMP_FOREVER);
 * mpmp_pool_destroy(pool);
 * \endcode
 *
 * Items and results are fixed-size elements, like qsort's: item i is
 * `in + i * in_size`, its result lands in `out + i * out_size`, in order.
 * The items are dealt to the workers in chunks (dynamic self-scheduling,
 * two chunks in flight per worker to hide latency); chunksize 0 chooses one
 * as Python does (n / (4 * workers), rounded up).
 *
 * A failing item (mpmp_fail) does not stop the others: every other result
 * still lands in `out`, get() returns ::MPMP_ETASK with the first failure's
 * index, rank and message, and mpmp_async_failure() lists them all.
 *
 * A pool claims its worker ranks for its lifetime; pools and processes use
 * disjoint workers. Asynchronous calls progress while the main rank
 * computes (the rank's agent thread feeds the workers).
 *
 * Lifetimes (all main-rank objects; every call below answers NULL with
 * ::MPMP_EINVAL, and calls before mpmp_init() or after mpmp_finalize()
 * with ::MPMP_ENOTINIT unless said otherwise):
 * - Pool: running -> close() or terminate() -> join() -> destroy(). After
 *   close/terminate no work can be submitted (::MPMP_EPERM, Python's
 *   "Pool not running"); close and terminate may be called again, join
 *   again returns 0. An imap started before close() runs to its end.
 *   destroy() terminates and joins a pool that was not joined, and frees
 *   it; the pointer is invalid afterwards. mpmp_finalize() terminates and
 *   joins the pools left; destroy() them afterwards (that is allowed).
 * - AsyncResult: valid until mpmp_async_destroy(), also after its pool
 *   was destroyed and after mpmp_finalize() (a destroyed running one is
 *   dropped when it completes).
 * - imap iterator: valid until mpmp_imap_destroy(), also after its pool
 *   was terminated or destroyed: it then hands out what had completed and
 *   ends with ::MPMP_EPERM.
 * - Timeouts are seconds: negative waits forever, 0 does not block, NaN is
 *   ::MPMP_EINVAL.
 */
#ifndef MPMP_POOL_H
#define MPMP_POOL_H

#include <stddef.h>
#include "mpmp/common.h"
#include "mpmp/task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mpmp_pool mpmp_pool_t;
/** An asynchronous result (Python's AsyncResult); main-rank object. */
typedef struct mpmp_async mpmp_async_t;

/** Options; a NULL pointer means all defaults. */
/** Where a pool's tasks run (mpmp_pool_opts_t.isolate). */
enum {
  MPMP_ISOLATE_DEFAULT = 0, /**< as the MPMP_ISOLATE setting says */
  MPMP_ISOLATE_ALWAYS = 1,  /**< in a task host: a crash costs the item */
  MPMP_ISOLATE_NEVER = 2    /**< in the worker rank: a crash ends the job */
};

typedef struct mpmp_pool_opts {
  int processes;            /**< workers to claim; 0: every free worker */
  mpmp_task_fn initializer; /**< run once on each worker at create; may be NULL */
  const void *initarg;      /**< its argument bytes (copied) */
  size_t initarg_size;
  size_t max_result;        /**< largest apply result; 0: 64 KiB */
  /** Run the tasks in task hosts (child processes of the workers that
   *  never call MPI): a task that crashes, aborts, exits or runs past
   *  \p task_timeout fails its item with ::MPMP_ECRASHED (or
   *  ::MPMP_ETIMEDOUT) and the pool goes on. ::MPMP_ISOLATE_DEFAULT (0):
   *  as MPMP_ISOLATE says (auto: only when \p task_timeout or
   *  \p max_retries is set). */
  int isolate;
  /** Seconds one item may run (0: no limit); needs isolation. */
  double task_timeout;
  /** How many more times an item runs after its host crashed or ran
   *  past \p task_timeout; 0 (the default): none. Each run is dealt anew
   *  by the main rank, to another worker of the pool when it has more
   *  than one. The last failure says how many attempts were made. A
   *  task's own failure (mpmp_fail) is never retried. Needs isolation. */
  int max_retries;
  /** A directory for the checkpoint journals of the pool's maps (made if
   *  missing; copied): every map, starmap, imap and executor map records
   *  its finished chunks there, and a rerun of the program takes them from
   *  there instead of running them (README, "Long jobs: checkpoint and
   *  resume"). NULL: as MPMP_CHECKPOINT says (unset: no journal).
   *  ::MPMP_ECHECKPOINT at create when it cannot be written. */
  const char *checkpoint;
} mpmp_pool_opts_t;

/**
 * Called on the main rank when an async call completes (\p ok = 1) or fails
 * (\p ok = 0), from whichever thread receives the last result: it must not
 * block or wait on mpmp (as in Python, where it would block the result
 * handler thread).
 */
typedef void (*mpmp_async_cb)(mpmp_async_t *res, int ok, void *user);

/**
 * Claim workers and run the initializer on each. \return 0, ::MPMP_EBUSY
 * (not enough free workers: says how many are free), ::MPMP_ETASK (the
 * initializer failed: its message and rank).
 */
MPMP_API int mpmp_pool_create(mpmp_pool_t **pool, const mpmp_pool_opts_t *opts);
/** \return the number of worker ranks of the pool. */
MPMP_API int mpmp_pool_size(const mpmp_pool_t *pool);

/**
 * Apply \p fn to \p n items; blocks until all are done.
 * \return 0, ::MPMP_ETASK if items failed (the others' results are in
 * \p out), ::MPMP_EPERM after close/terminate, ::MPMP_EINVAL (NULL
 * buffers, zero sizes, elements over 1 GiB, or \p n items that cannot be
 * in memory: a negative count cast to size_t is caught here).
 */
MPMP_API int mpmp_pool_map(mpmp_pool_t *pool, mpmp_task_fn fn, const void *in,
                           size_t n, size_t in_size, void *out,
                           size_t out_size, size_t chunksize);
/**
 * Python's starmap: each item is a struct holding the call's arguments
 * (C's tuple); the same call as mpmp_pool_map().
 */
MPMP_API int mpmp_pool_starmap(mpmp_pool_t *pool, mpmp_task_fn fn,
                               const void *in, size_t n, size_t in_size,
                               void *out, size_t out_size, size_t chunksize);
/**
 * map without waiting: \p in and \p out must stay valid until the result is
 * ready. \p cb (may be NULL) runs once, at completion or failure.
 */
MPMP_API int mpmp_pool_map_async(mpmp_pool_t *pool, mpmp_task_fn fn,
                                 const void *in, size_t n, size_t in_size,
                                 void *out, size_t out_size, size_t chunksize,
                                 mpmp_async_cb cb, void *user,
                                 mpmp_async_t **res);
/** starmap without waiting (see mpmp_pool_map_async). */
MPMP_API int mpmp_pool_starmap_async(mpmp_pool_t *pool, mpmp_task_fn fn,
                                     const void *in, size_t n, size_t in_size,
                                     void *out, size_t out_size,
                                     size_t chunksize, mpmp_async_cb cb,
                                     void *user, mpmp_async_t **res);
/**
 * Run \p fn once with \p arg (copied); blocks. The result (up to \p out_cap
 * bytes) goes to \p out and its size to \p out_size (may be NULL).
 */
MPMP_API int mpmp_pool_apply(mpmp_pool_t *pool, mpmp_task_fn fn,
                             const void *arg, size_t arg_size, void *out,
                             size_t out_cap, size_t *out_size);
/** apply without waiting; read the result with mpmp_async_result(). */
MPMP_API int mpmp_pool_apply_async(mpmp_pool_t *pool, mpmp_task_fn fn,
                                   const void *arg, size_t arg_size,
                                   mpmp_async_cb cb, void *user,
                                   mpmp_async_t **res);

/**
 * Produces the next item for imap: writes in_size bytes to \p item.
 * \return 1 when it wrote one, 0 at the end, a negative code on error.
 */
typedef int (*mpmp_produce_fn)(void *user, void *item);

/** A streaming map (Python's imap / imap_unordered iterator). */
typedef struct mpmp_imap mpmp_imap_t;

/**
 * Python's imap: items come from \p produce as they are needed and results
 * are read with mpmp_imap_next(), in item order. At most \p buffersize
 * items (0: 4 x chunksize x workers) are held at once — read from the
 * producer and not yet returned — so a map over 10^8 items streams in
 * bounded memory. \p chunksize 0 means 64 (the input's length is unknown,
 * so Python's n / (4 x workers) cannot be used; Python's imap default of 1
 * balances best but costs a message per item). Each chunk is its own job:
 * a chunk's results are handed out as soon as it is back. The producer runs
 * in the thread that calls mpmp_imap_next(). An imap started before
 * mpmp_pool_close() runs to its end, as in Python; mpmp_pool_join() waits
 * for the pool's work but returns ::MPMP_EPERM at once while an imap still
 * reads input (it is fed by whoever reads it: read it to its end first).
 * \return 0, ::MPMP_EPERM when the pool is not running, ::MPMP_EINVAL.
 */
MPMP_API int mpmp_pool_imap(mpmp_pool_t *pool, mpmp_task_fn fn,
                            mpmp_produce_fn produce, void *user,
                            size_t in_size, size_t out_size, size_t chunksize,
                            size_t buffersize, mpmp_imap_t **it);
/** imap_unordered: results in the order they are ready (see index). */
MPMP_API int mpmp_pool_imap_unordered(mpmp_pool_t *pool, mpmp_task_fn fn,
                                      mpmp_produce_fn produce, void *user,
                                      size_t in_size, size_t out_size,
                                      size_t chunksize, size_t buffersize,
                                      mpmp_imap_t **it);
/**
 * The next result into \p out (out_size bytes) and its item index.
 * \return 0; ::MPMP_EEOF after the last; ::MPMP_ETIMEDOUT (call again);
 * ::MPMP_ETASK when this item failed (its message in mpmp_errmsg(); the
 * iteration goes on; ::MPMP_ECRASHED or ::MPMP_ETIMEDOUT when its task
 * host died or ran past task_timeout); the producer's negative code; ::MPMP_EPERM once the
 * pool was terminated, joined or destroyed before the input was all read
 * (every later call says the same).
 */
MPMP_API int mpmp_imap_next(mpmp_imap_t *it, void *out, size_t *index,
                            double timeout);
/** Stop (items not started are dropped) and free. */
MPMP_API void mpmp_imap_destroy(mpmp_imap_t *it);

/** No more work may be submitted; running work completes. */
MPMP_API int mpmp_pool_close(mpmp_pool_t *pool);
/**
 * Stop now: work not yet dealt is dropped and its results fail with
 * "terminated"; the running tasks of every job of the pool see
 * mpmp_should_stop(), and chunks a worker has not started are skipped.
 */
MPMP_API int mpmp_pool_terminate(mpmp_pool_t *pool);
/**
 * Wait for the workers to finish (after close or terminate; ::MPMP_EPERM
 * before) and give them back. \return 0 or ::MPMP_ETIMEDOUT;
 * ::MPMP_EPERM after close while an imap of the pool still reads input.
 */
MPMP_API int mpmp_pool_join(mpmp_pool_t *pool, double timeout);
/** terminate + join + free (Python's `with Pool() as p:` exit); a NULL
 * pool is a no-op; allowed after mpmp_finalize(). Its results and imap
 * iterators stay valid (see the lifetimes above). */
MPMP_API int mpmp_pool_destroy(mpmp_pool_t *pool);

/**
 * Wait for the result. \return 0 when all items succeeded,
 * ::MPMP_ETASK (mpmp_errmsg(): the first failed item, its rank and
 * message), ::MPMP_ETIMEDOUT (still running; get again later).
 */
MPMP_API int mpmp_async_get(mpmp_async_t *res, double timeout);
/** Wait without judging the outcome: 0 when ready, or ::MPMP_ETIMEDOUT. */
MPMP_API int mpmp_async_wait(mpmp_async_t *res, double timeout);
/** \return 1 when complete, 0 if not yet, ::MPMP_EINVAL for NULL. */
MPMP_API int mpmp_async_ready(mpmp_async_t *res);
/** \return 1 if complete without failures, 0 if failed, ::MPMP_EAGAIN if
 * not ready, ::MPMP_EINVAL for NULL. */
MPMP_API int mpmp_async_successful(mpmp_async_t *res);
/** \return the number of failed items; ::MPMP_EAGAIN if not ready,
 * ::MPMP_EINVAL for NULL. */
MPMP_API int mpmp_async_failed_count(mpmp_async_t *res);
/**
 * The \p k-th failure (in item order): its item index, the rank it ran on,
 * and its message (valid until destroy). \return 0, ::MPMP_EAGAIN if not
 * ready, ::MPMP_EINVAL (NULL, or no failure \p k).
 */
MPMP_API int mpmp_async_failure(mpmp_async_t *res, int k, size_t *index,
                                int *rank, const char **msg);
/**
 * How many of the map's items came from its checkpoint journal instead of
 * running (README, "Long jobs: checkpoint and resume") into \p n.
 * \return 0, ::MPMP_EAGAIN if not ready, ::MPMP_EINVAL for NULL.
 */
MPMP_API int mpmp_async_resumed(mpmp_async_t *res, size_t *n);
/** The result bytes of an apply_async. \return 0, ::MPMP_EAGAIN, ::MPMP_ETASK. */
MPMP_API int mpmp_async_result(mpmp_async_t *res, const void **data,
                               size_t *size);
/** Free the result object (it may still be running: it is then dropped). */
MPMP_API void mpmp_async_destroy(mpmp_async_t *res);

#ifdef __cplusplus
}
#endif
#endif /* MPMP_POOL_H */
