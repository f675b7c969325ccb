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
 *   joins the pools left; destroy() them afterwards (that is allowed). A
 *   task that does not stop within MPMP_TERM_GRACE of that terminate is
 *   killed if isolated (its item fails); one in its worker rank cannot be
 *   killed alone, so finalize aborts the job then, saying so (it waited
 *   for ever); after a stop (walltime, SIGUSR1, SIGTERM) only once the
 *   stop's reserve (2 x MPMP_STOP_GRACE from the stop) is over.
 * - AsyncResult: valid until mpmp_async_destroy(), also after its pool
 *   was destroyed and after mpmp_finalize() (a destroyed running apply is
 *   dropped when it completes; a destroyed running map stops, so that its
 *   buffers may be freed: see mpmp_async_destroy()). A finished one is read after finalize as
 *   before it (get, wait, ready, successful, result, failures); waiting
 *   for an unfinished one then is ::MPMP_ENOTINIT.
 * - imap iterator: valid until mpmp_imap_destroy(), also after its pool
 *   was terminated or destroyed: it then hands out what had completed and
 *   ends with ::MPMP_EPERM.
 * - Timeouts are seconds: negative waits forever, 0 does not block, NaN is
 *   ::MPMP_EINVAL.
 * - These are pointers of the main rank's process: in a task or a Process
 *   body (another process, often on another node) they point at nothing,
 *   and a call on one copied into a task's argument is undefined (it may
 *   crash the worker). A task that submits work gets its executor from an
 *   mpmp_executor_ref() (executor.h); shared objects travel by their
 *   handles (shared.h, sync.h, queue.h), which are plain bytes.
 */
#ifndef MPMP_POOL_H
#define MPMP_POOL_H

#include <stddef.h>
#include "mpmp/common.h"
#include "mpmp/shm.h"
#include "mpmp/task.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A pool of worker ranks (Python's Pool); main-rank object, made by
 *  mpmp_pool_create() and freed by mpmp_pool_destroy(). */
typedef struct mpmp_pool mpmp_pool_t;
/** An asynchronous result (Python's AsyncResult); main-rank object. */
typedef struct mpmp_async mpmp_async_t;

/** Where a pool's tasks run (mpmp_pool_opts_t.isolate). */
enum {
  MPMP_ISOLATE_DEFAULT = 0, /**< as the MPMP_ISOLATE setting says */
  MPMP_ISOLATE_ALWAYS = 1,  /**< in a task host: a crash costs the item */
  MPMP_ISOLATE_NEVER = 2    /**< in the worker rank: a crash ends the job */
};

/** Options of mpmp_pool_create(); a NULL pointer means all defaults, and
 *  so does a zeroed struct. */
typedef struct mpmp_pool_opts {
  /** Workers to claim, 1 or more; 0 (a zeroed struct's): every free
   *  worker, as Python's processes=None takes every CPU. Python's
   *  processes=0 (ValueError) has no counterpart here: 0 is the default.
   *  Negative: ::MPMP_EINVAL. */
  int processes;
  mpmp_task_fn initializer; /**< run once on each worker at create; may be NULL */
  const void *initarg;      /**< its argument bytes (copied) */
  size_t initarg_size;      /**< their size in bytes */
  size_t max_result;        /**< largest apply result; 0: 64 KiB */
  /** Run the tasks in task hosts (child processes of the workers that
   *  never call MPI): a task that crashes, aborts, exits or runs past
   *  \p task_timeout fails its item with ::MPMP_ECRASHED (or
   *  ::MPMP_ETIMEDOUT) and the pool goes on. ::MPMP_ISOLATE_DEFAULT (0):
   *  as MPMP_ISOLATE says (auto: only when \p task_timeout or
   *  \p max_retries is set). */
  int isolate;
  /** Seconds one item may run (0: no limit); needs isolation. It bounds
   *  the initializer's run at create as well (mpmp_pool_create() then
   *  fails with ::MPMP_ETIMEDOUT), and its run in every new host (after
   *  a crash, or \p maxtasksperchild: the item dealt there fails, saying
   *  the initializer did not return); without it, create and the map
   *  wait for the initializer as long as it runs. */
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
  /** Python's maxtasksperchild: a worker's task host is replaced by a
   *  fresh one (the initializer runs again in it) after it ran this many
   *  tasks; 0 (Python's None): never. A task counts as Python counts it:
   *  a map's chunk is one (give chunksize 1 for one item per task), an
   *  apply or executor submit one. The worker rank stays (it is an MPI
   *  rank); its host, where the tasks run, is what is replaced, so this
   *  needs isolation (MPMP_ISOLATE_DEFAULT then isolates). Negative:
   *  ::MPMP_EINVAL. */
  int maxtasksperchild;
} mpmp_pool_opts_t;

/**
 * Called on the main rank when an async call completes (\p ok = 1) or fails
 * (\p ok = 0), from whichever thread receives the last result: it must not
 * block or wait on mpmp (as in Python, where it would block the result
 * handler thread). It runs inside mpmp's progress engine, where nothing
 * else can arrive: every call that would wait there for something that
 * is not ready (get or wait on another result, apply, map, join, destroy
 * of a busy pool, shutdown with wait or destroy of an executor, process
 * join, futures wait, mpmp_finalize, a Manager call or a shared object's
 * call that needs another node's answer) returns ::MPMP_EPERM at once,
 * saying so, and changes nothing. Calls that do not wait (apply_async,
 * submit, get of this result, shutdown without wait) work there, and so
 * do Manager and shared-object calls served on this node.
 * \param res   the result that is now ready (mpmp_async_get() on it returns
 *              at once).
 * \param ok    1 when every item succeeded, 0 when one failed (or the work
 *              was cancelled, terminated or stopped).
 * \param user  the pointer given with the callback.
 */
typedef void (*mpmp_async_cb)(mpmp_async_t *res, int ok, void *user);

/**
 * Claim workers and run the initializer on each (Python's Pool()).
 * \param[out] pool  the new pool.
 * \param opts       the options; NULL: the defaults.
 * \return 0, ::MPMP_EBUSY (not enough free workers: says how many are
 * free), ::MPMP_ETASK (the initializer failed: its message and rank),
 * ::MPMP_ETIMEDOUT (the initializer ran past task_timeout: killed),
 * ::MPMP_ENOTASK (an initializer that is not a task), ::MPMP_EINVAL (NULL
 * \p pool, negative processes or maxtasksperchild, a bad isolate,
 * task_timeout or max_retries, or one that needs task hosts where
 * MPMP_ISOLATE=never or isolate is ::MPMP_ISOLATE_NEVER),
 * ::MPMP_ECHECKPOINT (the checkpoint directory cannot be made or
 * written), ::MPMP_ENOTMAIN, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_pool_create(mpmp_pool_t **pool, const mpmp_pool_opts_t *opts);
/**
 * The pool's size.
 * \param pool  the pool.
 * \return the number of worker ranks of the pool (0 once joined);
 * ::MPMP_EINVAL for NULL.
 */
MPMP_API int mpmp_pool_size(const mpmp_pool_t *pool);

/**
 * Apply \p fn to \p n items; blocks until all are done (Python's map()).
 * Item i is `in + i * in_size`, and its result (what the task wrote with
 * mpmp_out(), exactly \p out_size bytes) lands in `out + i * out_size`.
 * \param pool       the pool.
 * \param fn         the task, run once per item.
 * \param in         the items (may be NULL when \p n is 0).
 * \param n          the number of items (0: nothing to do, returns 0).
 * \param in_size    the size of one item in bytes (1 B to 1 GiB - 1).
 * \param out        room for \p n results (may be NULL when \p n is 0),
 *                   apart from the items (a result may land before a later
 *                   item is read).
 * \param out_size   the size of one result in bytes (1 B to 1 GiB - 1).
 * \param chunksize  items per message to a worker; 0: n / (4 x workers),
 *                   rounded up.
 * \return 0, ::MPMP_ETASK if items failed (the others' results are in
 * \p out; mpmp_errmsg() names the first failed item, its rank and message),
 * ::MPMP_ECRASHED or ::MPMP_ETIMEDOUT when that item's task host died or
 * ran past task_timeout, ::MPMP_EPERM after close/terminate, ::MPMP_EINVAL
 * (NULL buffers, zero sizes, elements of 1 GiB or more, results that overlap
 * the items, or \p n items that
 * cannot be in memory: a negative count cast to size_t is caught here),
 * ::MPMP_ENOTASK, ::MPMP_ECHECKPOINT (the journal of this map belongs to
 * another), ::MPMP_EINTERRUPTED (stopped before its end: README, "Long
 * jobs").
 */
MPMP_API int mpmp_pool_map(mpmp_pool_t *pool, mpmp_task_fn fn, const void *in,
                           size_t n, size_t in_size, void *out,
                           size_t out_size, size_t chunksize);
/**
 * Python's starmap: each item is a struct holding the call's arguments
 * (C's tuple); the same call as mpmp_pool_map().
 * \param pool       the pool.
 * \param fn         the task, run once per item.
 * \param in         the items, structs of \p in_size bytes.
 * \param n          the number of items.
 * \param in_size    the size of one item in bytes.
 * \param out        room for \p n results.
 * \param out_size   the size of one result in bytes.
 * \param chunksize  items per message to a worker; 0: chosen as by map.
 * \return as mpmp_pool_map().
 */
MPMP_API int mpmp_pool_starmap(mpmp_pool_t *pool, mpmp_task_fn fn,
                               const void *in, size_t n, size_t in_size,
                               void *out, size_t out_size, size_t chunksize);
/**
 * map without waiting: \p in and \p out must stay valid until the result is
 * ready. \p cb (may be NULL) runs once, at completion or failure.
 * \param pool       the pool.
 * \param fn         the task, run once per item.
 * \param in         the items (as for mpmp_pool_map()).
 * \param n          the number of items.
 * \param in_size    the size of one item in bytes.
 * \param out        room for \p n results.
 * \param out_size   the size of one result in bytes.
 * \param chunksize  items per message to a worker; 0: chosen as by map.
 * \param cb         called when it is ready; may be NULL.
 * \param user       passed to \p cb.
 * \param[out] res   the result: wait with mpmp_async_get(), free with
 *                   mpmp_async_destroy().
 * \return 0 once it is submitted (failed items show in mpmp_async_get()),
 * or the argument and state errors of mpmp_pool_map(), nothing submitted.
 */
MPMP_API int mpmp_pool_map_async(mpmp_pool_t *pool, mpmp_task_fn fn,
                                 const void *in, size_t n, size_t in_size,
                                 void *out, size_t out_size, size_t chunksize,
                                 mpmp_async_cb cb, void *user,
                                 mpmp_async_t **res);
/**
 * starmap without waiting (see mpmp_pool_map_async).
 * \param pool       the pool.
 * \param fn         the task, run once per item.
 * \param in         the items, structs of \p in_size bytes.
 * \param n          the number of items.
 * \param in_size    the size of one item in bytes.
 * \param out        room for \p n results.
 * \param out_size   the size of one result in bytes.
 * \param chunksize  items per message to a worker; 0: chosen as by map.
 * \param cb         called when it is ready; may be NULL.
 * \param user       passed to \p cb.
 * \param[out] res   the result.
 * \return as mpmp_pool_map_async().
 */
MPMP_API int mpmp_pool_starmap_async(mpmp_pool_t *pool, mpmp_task_fn fn,
                                     const void *in, size_t n, size_t in_size,
                                     void *out, size_t out_size,
                                     size_t chunksize, mpmp_async_cb cb,
                                     void *user, mpmp_async_t **res);
/**
 * map with a chunk task (::mpmp_chunk_fn, registered with
 * MPMP_CHUNK_TASK): the task is called once per chunk, with pointers to
 * the chunk's items and to room for their results and their count, so a
 * tight kernel runs at the speed of a plain loop over each chunk. Items,
 * results, chunks and their dealing are those of mpmp_pool_map(); the
 * worker hands the task the chunk's items where they arrived and the
 * results' buffer they leave from (no copy per item).
 *
 * Failures are per chunk: a chunk task that returns non-zero (or calls
 * mpmp_fail()) fails every item of its chunk, each with the chunk's
 * message (mpmp_async_failure() lists them all; mpmp_errmsg() names the
 * first), and their results read as zeros; the other chunks' results are
 * all in \p out. Give a smaller chunksize where a failure should cost
 * fewer items. A pool that isolates its tasks (task hosts) cannot run
 * chunk tasks (::MPMP_ENOTSUP): they run in the worker rank.
 * Checkpoint journals work as for mpmp_pool_map().
 * \param pool       the pool.
 * \param fn         the chunk task, run once per chunk.
 * \param in         the items (may be NULL when \p n is 0).
 * \param n          the number of items (0: nothing to do, returns 0).
 * \param in_size    the size of one item in bytes (1 B to 1 GiB - 1).
 * \param out        room for \p n results (may be NULL when \p n is 0).
 * \param out_size   the size of one result in bytes (1 B to 1 GiB - 1).
 * \param chunksize  items per call of \p fn (and per message to a
 *                   worker); 0: about 512 KiB of items and results (they
 *                   then stay in the worker's cache from their arrival to
 *                   their reply), at most n / (4 x workers), rounded up.
 * \return as mpmp_pool_map(), and ::MPMP_ENOTASK for a per-item task (or
 * an unregistered function), ::MPMP_EINVAL for a NULL \p fn,
 * ::MPMP_ENOTSUP in an isolating pool.
 */
MPMP_API int mpmp_pool_map_chunks(mpmp_pool_t *pool, mpmp_chunk_fn fn,
                                  const void *in, size_t n, size_t in_size,
                                  void *out, size_t out_size,
                                  size_t chunksize);
/**
 * mpmp_pool_map_chunks() without waiting: \p in and \p out must stay
 * valid until the result is ready; as mpmp_pool_map_async().
 * \param pool       the pool.
 * \param fn         the chunk task, run once per chunk.
 * \param in         the items.
 * \param n          the number of items.
 * \param in_size    the size of one item in bytes.
 * \param out        room for \p n results.
 * \param out_size   the size of one result in bytes.
 * \param chunksize  items per call of \p fn; 0: as mpmp_pool_map_chunks().
 * \param cb         called when it is ready; may be NULL.
 * \param user       passed to \p cb.
 * \param[out] res   the result: mpmp_async_get(), mpmp_async_destroy().
 * \return 0 once it is submitted, or the errors of
 * mpmp_pool_map_chunks(), nothing submitted.
 */
MPMP_API int mpmp_pool_map_chunks_async(mpmp_pool_t *pool, mpmp_chunk_fn fn,
                                        const void *in, size_t n,
                                        size_t in_size, void *out,
                                        size_t out_size, size_t chunksize,
                                        mpmp_async_cb cb, void *user,
                                        mpmp_async_t **res);
/**
 * Zero-copy map: the items and the results lie in SharedMemory blocks
 * (mpmp/shm.h) of the main rank's node, and the workers of that node read
 * the items and write the results in place, through their own mapping of
 * the blocks: no item or result is copied or sent (a chunk's message
 * carries the blocks' names and where the chunk lies). Item i is at byte
 * `in_offset + i * in_size` of \p in, its result at `out_offset + i *
 * out_size` of \p out. The two may be one block, with the results apart
 * from the items (::MPMP_EINVAL if they overlap: a result could overwrite
 * an item that another worker has still to read, and a per-item task's
 * result slot is cleared just before its item runs). The one exception: a
 * chunk task may write its results over its own items (same offset, same
 * size; it reads them first).
 *
 * Why an explicit call and not a map that recognises such pointers: the
 * blocks must be named to the workers, which a bare pointer does not do
 * cheaply or safely (a block closed and made again under its name would
 * be another block: the call names the very block, and a worker that
 * finds another one under the name fails the chunk rather than touch it).
 * A worker attaches each block once and keeps it for the next maps (so
 * its pages are not faulted in again at every map), until it sees another
 * block under that name or the job ends.
 *
 * Workers of another node (or pseudo-node, MPMP_PSEUDO_NODES) cannot map
 * the blocks: their chunks travel as in mpmp_pool_map(), read from and
 * written into the main rank's mapping (a copy, the same results). So do
 * the chunks of a pool that isolates its tasks.
 *
 * Give exactly one of \p fn (a per-item task: as mpmp_pool_map()) and
 * \p chunk_fn (a chunk task: as mpmp_pool_map_chunks(); then no isolating
 * pool). Failures, results of failed items (zeros) and checkpoints as for
 * those. The blocks must stay open, and keep their names (not unlinked),
 * until the map returns: a worker maps them by name, and one that cannot
 * (or that finds another block under the name) fails the items of its
 * chunks, saying why, and leaves their results as they were.
 *
 * A worker keeps its views of the last 8 blocks it mapped for the next
 * maps: their memory is freed when the last view goes (Python's rule), so
 * a block unlinked and closed by the main rank lives on in those workers
 * until they map 8 others or mpmp_finalize().
 * \param pool        the pool.
 * \param fn          the per-item task, or NULL.
 * \param chunk_fn    the chunk task, or NULL.
 * \param in          the block holding the items.
 * \param in_offset   where item 0 starts in it (bytes).
 * \param n           the number of items (0: nothing to do).
 * \param in_size     the size of one item in bytes (1 B to 1 GiB - 1).
 * \param out         the block for the results (may be \p in).
 * \param out_offset  where result 0 goes in it (bytes).
 * \param out_size    the size of one result in bytes (1 B to 1 GiB - 1).
 * \param chunksize   items per chunk; 0: as mpmp_pool_map().
 * \return as mpmp_pool_map() (::MPMP_ETASK: items failed, their results
 * zeros); ::MPMP_EINVAL for a NULL block, both or neither of \p fn and
 * \p chunk_fn, items or results that run past the end of their block,
 * or results that overlap the items (but for a chunk task in place);
 * ::MPMP_ENOTASK, ::MPMP_ENOTSUP as mpmp_pool_map_chunks().
 */
MPMP_API int mpmp_pool_map_shm(mpmp_pool_t *pool, mpmp_task_fn fn,
                               mpmp_chunk_fn chunk_fn, mpmp_shm_t *in,
                               size_t in_offset, size_t n, size_t in_size,
                               mpmp_shm_t *out, size_t out_offset,
                               size_t out_size, size_t chunksize);
/**
 * mpmp_pool_map_shm() without waiting: the blocks must stay open until
 * the result is ready.
 * \param pool        the pool.
 * \param fn          the per-item task, or NULL.
 * \param chunk_fn    the chunk task, or NULL.
 * \param in          the block holding the items.
 * \param in_offset   where item 0 starts in it.
 * \param n           the number of items.
 * \param in_size     the size of one item in bytes.
 * \param out         the block for the results.
 * \param out_offset  where result 0 goes in it.
 * \param out_size    the size of one result in bytes.
 * \param chunksize   items per chunk; 0: as mpmp_pool_map().
 * \param cb          called when it is ready; may be NULL.
 * \param user        passed to \p cb.
 * \param[out] res    the result: mpmp_async_get(), mpmp_async_destroy().
 * \return 0 once it is submitted, or the errors of mpmp_pool_map_shm(),
 * nothing submitted.
 */
MPMP_API int mpmp_pool_map_shm_async(mpmp_pool_t *pool, mpmp_task_fn fn,
                                     mpmp_chunk_fn chunk_fn, mpmp_shm_t *in,
                                     size_t in_offset, size_t n,
                                     size_t in_size, mpmp_shm_t *out,
                                     size_t out_offset, size_t out_size,
                                     size_t chunksize, mpmp_async_cb cb,
                                     void *user, mpmp_async_t **res);
/**
 * Variable-size elements in one buffer (Arrow's variable-size binary
 * layout): element i is the `off[i + 1] - off[i]` bytes at
 * `data + off[i]`. What mpmp_pool_map_var() and mpmp_executor_map_var()
 * hand back (the caller's: free it with mpmp_varbuf_free()), and what
 * mpmp_async_var_results() shows (the result's: valid until
 * mpmp_async_destroy(), not to be freed).
 */
typedef struct mpmp_varbuf {
  char *data;  /**< the elements' bytes, one after another (never NULL
                    after a successful call, even when they are 0 bytes) */
  size_t *off; /**< n + 1 offsets into data, off[0] = 0, non-decreasing */
  size_t n;    /**< the number of elements */
} mpmp_varbuf_t;

/**
 * Free the buffers of an mpmp_varbuf_t that a call handed to the caller,
 * and zero it (freeing it again is a no-op).
 * \param b  the buffer (NULL: nothing).
 */
MPMP_API void mpmp_varbuf_free(mpmp_varbuf_t *b);

/**
 * Python's map over variable-size items (strings, lists, records), with
 * variable-size results; blocks until all are done. Item i is the
 * `in_off[i + 1] - in_off[i]` bytes at `in + in_off[i]` (the task reads
 * them with mpmp_arg(), size included); its result is whatever the task
 * wrote with mpmp_out(), up to the pool's max_result bytes (0 bytes when
 * it wrote none), and is element i of \p out. The items still travel in
 * chunks (a chunk is a range of items, its offsets and bytes in one
 * message, up to 64 MiB): as fast as fixed-size items of their size.
 * A failed item's result is empty and the call returns ::MPMP_ETASK, as
 * mpmp_pool_map() does; the other results are in \p out all the same.
 * In a pool that isolates its tasks, a crash, a task_timeout or a retry
 * concerns only its item, as in mpmp_pool_map(); with a checkpoint
 * directory the map keeps a journal as mpmp_pool_map() does (its records
 * carry the results' sizes; its input's digest, the items' bytes and
 * sizes), and a rerun resumes it.
 * \param pool       the pool.
 * \param fn         the task, run once per item.
 * \param in         the items' bytes (may be NULL when \p n is 0).
 * \param in_off     n + 1 offsets into \p in, non-decreasing; in_off[0]
 *                   need not be 0 (may be NULL when \p n is 0).
 * \param n          the number of items (0: \p out gets 0 results).
 * \param chunksize  items per message to a worker; 0: n / (4 x workers),
 *                   rounded up (a chunk is cut earlier at 64 MiB).
 * \param[out] out   the results: the caller's after any return that
 *                   submitted the map (0, ::MPMP_ETASK, ::MPMP_ECRASHED,
 *                   ::MPMP_EINTERRUPTED): free with mpmp_varbuf_free(); else
 *                   zeroed.
 * \return 0, ::MPMP_ETASK (items failed: mpmp_errmsg() names the first),
 * ::MPMP_EINVAL (NULL \p pool, \p out, or \p in or \p in_off for n > 0;
 * offsets that go down; an item of 1 GiB or more; arrays not all in memory),
 * ::MPMP_EPERM after close/terminate, ::MPMP_ENOTASK, ::MPMP_ENOMEM,
 * ::MPMP_ECRASHED, ::MPMP_ETIMEDOUT (isolated items), ::MPMP_ECHECKPOINT
 * (the journal is another map's), ::MPMP_EINTERRUPTED.
 */
MPMP_API int mpmp_pool_map_var(mpmp_pool_t *pool, mpmp_task_fn fn,
                               const void *in, const size_t *in_off, size_t n,
                               size_t chunksize, mpmp_varbuf_t *out);
/**
 * mpmp_pool_map_var() without waiting: \p in and \p in_off must stay valid
 * until the result is ready; read the results with
 * mpmp_async_var_results() once mpmp_async_get() returned.
 * \param pool       the pool.
 * \param fn         the task, run once per item.
 * \param in         the items' bytes.
 * \param in_off     n + 1 offsets into \p in, non-decreasing.
 * \param n          the number of items.
 * \param chunksize  items per message to a worker; 0: chosen as by map.
 * \param cb         called when it is ready; may be NULL.
 * \param user       passed to \p cb.
 * \param[out] res   the result: mpmp_async_get(), mpmp_async_var_results(),
 *                   mpmp_async_destroy().
 * \return 0 once it is submitted, or the argument and state errors of
 * mpmp_pool_map_var() (nothing submitted).
 */
MPMP_API int mpmp_pool_map_var_async(mpmp_pool_t *pool, mpmp_task_fn fn,
                                     const void *in, const size_t *in_off,
                                     size_t n, size_t chunksize,
                                     mpmp_async_cb cb, void *user,
                                     mpmp_async_t **res);
/**
 * The results of a ready mpmp_pool_map_var_async(), gathered into one
 * buffer (at the first call): result i is `view->off[i + 1] -
 * view->off[i]` bytes at `view->data + view->off[i]` (failed items:
 * empty).
 * \param res        the result.
 * \param[out] view  the results; they belong to \p res: valid until
 *                   mpmp_async_destroy(), not to be freed.
 * \return 0, ::MPMP_EAGAIN (not ready yet), ::MPMP_EINVAL (NULL, or not a
 * variable-size map's result), ::MPMP_ENOMEM.
 */
MPMP_API int mpmp_async_var_results(mpmp_async_t *res, mpmp_varbuf_t *view);

/**
 * Run \p fn once with \p arg (copied); blocks (Python's apply()). The
 * result (up to \p out_cap bytes) goes to \p out and its size to
 * \p out_size (may be NULL).
 * \param pool           the pool.
 * \param fn             the task.
 * \param arg            its argument bytes (may be NULL when \p arg_size
 *                       is 0).
 * \param arg_size       their size (under 1 GiB).
 * \param out            room for the result; may be NULL when \p out_cap
 *                       is 0.
 * \param out_cap        the room in \p out.
 * \param[out] out_size  the result's size; may be NULL.
 * \return 0, ::MPMP_ETASK (the task failed: its message in mpmp_errmsg()),
 * ::MPMP_EMSGSIZE (the result is larger than \p out_cap: \p out_size says
 * how large), ::MPMP_EPERM after close/terminate, ::MPMP_EINVAL,
 * ::MPMP_ENOTASK.
 */
MPMP_API int mpmp_pool_apply(mpmp_pool_t *pool, mpmp_task_fn fn,
                             const void *arg, size_t arg_size, void *out,
                             size_t out_cap, size_t *out_size);
/**
 * apply without waiting; read the result with mpmp_async_result().
 * \param pool      the pool.
 * \param fn        the task.
 * \param arg       its argument bytes, copied (may be NULL when
 *                  \p arg_size is 0).
 * \param arg_size  their size (under 1 GiB).
 * \param cb        called when it is ready; may be NULL.
 * \param user      passed to \p cb.
 * \param[out] res  the result: mpmp_async_get(), then mpmp_async_result();
 *                  free it with mpmp_async_destroy().
 * \return 0 once it is submitted, ::MPMP_EPERM after close/terminate,
 * ::MPMP_EINVAL, ::MPMP_ENOTASK.
 */
MPMP_API int mpmp_pool_apply_async(mpmp_pool_t *pool, mpmp_task_fn fn,
                                   const void *arg, size_t arg_size,
                                   mpmp_async_cb cb, void *user,
                                   mpmp_async_t **res);

/**
 * Produces the next item for imap: writes in_size bytes to \p item.
 * \param user  the pointer given to mpmp_pool_imap().
 * \param item  room for one item of the iterator's in_size bytes.
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
 * in a thread that calls mpmp_imap_next(), never in two at once (it need
 * not be thread-safe when several threads read the imap). An imap started
 * before mpmp_pool_close() runs to its end, as in Python: it reads its
 * input and delivers every result after the close. mpmp_pool_join() waits for it
 * too (its feed, then its work) when another thread reads it; in the
 * thread that reads it (the last to call mpmp_imap_next(), or the one
 * that made it before any read) join would wait for ever, and returns
 * ::MPMP_EPERM at once instead: read it to its end first.
 * \param pool        the pool.
 * \param fn          the task, run once per item.
 * \param produce     gives the items, one per call.
 * \param user        passed to \p produce.
 * \param in_size     the size of one item in bytes (1 B to 1 GiB - 1).
 * \param out_size    the size of one result in bytes (1 B to 1 GiB - 1).
 * \param chunksize   items per chunk; 0: 64.
 * \param buffersize  items held at once; 0: 4 x chunksize x workers.
 * \param[out] it     the iterator: read it with mpmp_imap_next(), free it
 *                    with mpmp_imap_destroy().
 * \return 0, ::MPMP_EPERM when the pool is not running, ::MPMP_EINVAL,
 * ::MPMP_ENOTASK, ::MPMP_ECHECKPOINT, or the producer's code when its
 * first call fails (mpmp_errmsg() says so).
 */
MPMP_API int mpmp_pool_imap(mpmp_pool_t *pool, mpmp_task_fn fn,
                            mpmp_produce_fn produce, void *user,
                            size_t in_size, size_t out_size, size_t chunksize,
                            size_t buffersize, mpmp_imap_t **it);
/**
 * imap_unordered: results in the order they are ready (see index), chunk
 * by chunk; otherwise as mpmp_pool_imap().
 * \param pool        the pool.
 * \param fn          the task, run once per item.
 * \param produce     gives the items, one per call.
 * \param user        passed to \p produce.
 * \param in_size     the size of one item in bytes.
 * \param out_size    the size of one result in bytes.
 * \param chunksize   items per chunk; 0: 64.
 * \param buffersize  items held at once; 0: 4 x chunksize x workers.
 * \param[out] it     the iterator.
 * \return as mpmp_pool_imap().
 */
MPMP_API int mpmp_pool_imap_unordered(mpmp_pool_t *pool, mpmp_task_fn fn,
                                      mpmp_produce_fn produce, void *user,
                                      size_t in_size, size_t out_size,
                                      size_t chunksize, size_t buffersize,
                                      mpmp_imap_t **it);
/**
 * Produces the next variable-size item for mpmp_pool_imap_var(): points
 * \p item at its bytes and sets \p size; the bytes are copied before the
 * next call, so they may live in one reused buffer.
 * \param user       the pointer given to mpmp_pool_imap_var().
 * \param[out] item  the item's bytes (may be NULL when \p size is 0).
 * \param[out] size  their size (under 1 GiB).
 * \return 1 when it gave one, 0 at the end, a negative code on error.
 */
typedef int (*mpmp_produce_var_fn)(void *user, const void **item,
                                   size_t *size);

/**
 * imap over variable-size items with variable-size results: as
 * mpmp_pool_imap(), but each item comes from \p produce as a pointer and
 * a size, each result is whatever its task wrote with mpmp_out() (up to
 * the pool's max_result bytes), and they are read with
 * mpmp_imap_next_var(). Chunks of \p chunksize items travel as one
 * message each. Isolating pools and checkpoints as for mpmp_pool_imap()
 * (a resumed imap_var needs a producer that yields the same items).
 * \param pool        the pool.
 * \param fn          the task, run once per item.
 * \param produce     gives the items, one per call.
 * \param user        passed to \p produce.
 * \param chunksize   items per chunk; 0: 64.
 * \param buffersize  items held at once; 0: 4 x chunksize x workers.
 * \param[out] it     the iterator: mpmp_imap_next_var(),
 *                    mpmp_imap_destroy().
 * \return as mpmp_pool_imap().
 */
MPMP_API int mpmp_pool_imap_var(mpmp_pool_t *pool, mpmp_task_fn fn,
                                mpmp_produce_var_fn produce, void *user,
                                size_t chunksize, size_t buffersize,
                                mpmp_imap_t **it);
/**
 * imap_unordered over variable-size items: results in the order their
 * chunks are ready; otherwise as mpmp_pool_imap_var().
 * \param pool        the pool.
 * \param fn          the task, run once per item.
 * \param produce     gives the items, one per call.
 * \param user        passed to \p produce.
 * \param chunksize   items per chunk; 0: 64.
 * \param buffersize  items held at once; 0: 4 x chunksize x workers.
 * \param[out] it     the iterator.
 * \return as mpmp_pool_imap_var().
 */
MPMP_API int mpmp_pool_imap_unordered_var(mpmp_pool_t *pool, mpmp_task_fn fn,
                                          mpmp_produce_var_fn produce,
                                          void *user, size_t chunksize,
                                          size_t buffersize, mpmp_imap_t **it);
/**
 * The next result of a variable-size imap (mpmp_pool_imap_var()); the
 * same returns as mpmp_imap_next().
 * \param it          the iterator.
 * \param[out] data   the result's bytes: the iterator's, valid until this
 *                    thread's next mpmp_imap_next_var() on it, or
 *                    mpmp_imap_destroy() (another thread's reads leave
 *                    them be; never NULL on success; a failed item's is
 *                    empty).
 * \param[out] size   their size (may be NULL).
 * \param[out] index  the item's index in the input (may be NULL).
 * \param timeout     seconds to wait for it (negative: forever).
 * \return as mpmp_imap_next(); ::MPMP_EINVAL also for an iterator of
 * fixed-size items (read those with mpmp_imap_next()).
 */
MPMP_API int mpmp_imap_next_var(mpmp_imap_t *it, const void **data,
                                size_t *size, size_t *index, double timeout);

/**
 * The next result into \p out (out_size bytes) and its item index.
 *
 * Threads: any number of threads may call mpmp_imap_next() (or
 * mpmp_imap_next_var()) on one iterator at once, as Python's
 * IMapIterator.next() allows. Each result goes to exactly one caller; an
 * ordered imap hands them out in item order (in the order of the calls
 * that took them: which thread gets which is not said), imap_unordered in
 * any order. Once the results are all handed out, every caller gets
 * ::MPMP_EEOF (or the code that ended the input), each call as often as it
 * is made. Each caller's \p timeout holds for it alone: one waiting while
 * another thread reads or runs the producer returns ::MPMP_ETIMEDOUT by
 * its own deadline. mpmp_imap_destroy() must not run while another thread
 * is still in a call on the iterator (as for every object here).
 *
 * \param it          the iterator.
 * \param out         room for one result (the iterator's out_size bytes).
 * \param[out] index  the item's index in the input (may be NULL).
 * \param timeout     seconds to wait for the next result (negative:
 *                    forever).
 * \return 0; ::MPMP_EEOF after the last; ::MPMP_ETIMEDOUT (call again);
 * ::MPMP_ETASK when this item failed (its message in mpmp_errmsg(); the
 * iteration goes on; ::MPMP_ECRASHED or ::MPMP_ETIMEDOUT when its task
 * host died or ran past task_timeout); the producer's negative code,
 * once the results before it are handed out (mpmp_errmsg() names the
 * item; every later call says the same);
 * ::MPMP_EPERM once the pool was terminated, joined or destroyed before the
 * input was all read (every later call says the same);
 * ::MPMP_ECHECKPOINT, ::MPMP_EINTERRUPTED (a checkpointed imap: README,
 * "Long jobs"); ::MPMP_EINVAL for a variable-size iterator (read it with
 * mpmp_imap_next_var()).
 */
MPMP_API int mpmp_imap_next(mpmp_imap_t *it, void *out, size_t *index,
                            double timeout);
/**
 * How many of the results handed out so far came from the checkpoint
 * journal instead of running (README, "Long jobs: checkpoint and
 * resume"), as mpmp_async_resumed() says for a map: counted chunk by
 * chunk, as each chunk's last result is handed out, so the count is the
 * whole iterator's once every result was. A read: any thread, at any
 * time until mpmp_imap_destroy(), also after mpmp_finalize().
 * \param it     the iterator.
 * \param[out] n  the count.
 * \return 0, ::MPMP_EINVAL for NULL.
 */
MPMP_API int mpmp_imap_resumed(mpmp_imap_t *it, size_t *n);
/**
 * Stop and free: items not started are dropped, running tasks are asked
 * to stop (mpmp_should_stop()) and, isolated, killed after MPMP_TERM_GRACE
 * if they ignore it, as by mpmp_pool_terminate() for this iterator's work
 * alone; waits for the chunks out to come back, as they write into the
 * iterator's buffers. A checkpointed imap's items cut short stay
 * resumable. In a done-callback, where nothing can come back, it does not
 * wait: the chunks out are dropped, and the iterator's buffers, which
 * they may still write into, are kept until the process ends.
 * \param it  the iterator (NULL: nothing); invalid afterwards.
 */
MPMP_API void mpmp_imap_destroy(mpmp_imap_t *it);

/**
 * No more work may be submitted; running work completes (Python's
 * close()). Closing again is 0.
 * \param pool  the pool.
 * \return 0, ::MPMP_EINVAL, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_pool_close(mpmp_pool_t *pool);
/**
 * Stop now: work not yet dealt (or dealt and not yet begun) is dropped,
 * and its items fail with "terminated before it ran" (rank -1 in
 * mpmp_async_failure(), counted by mpmp_async_failed_count(), their
 * result slots zeros); the running tasks of every job of the pool see
 * mpmp_should_stop(), and chunks a worker has not started are skipped.
 * Does not wait: join the pool.
 * \param pool  the pool.
 * \return 0, ::MPMP_EINVAL, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_pool_terminate(mpmp_pool_t *pool);
/**
 * Wait for the workers to finish (after close or terminate; ::MPMP_EPERM
 * before) and give them back.
 * \param pool     the pool.
 * \param timeout  seconds (negative: forever).
 * After close, an imap of the pool that another thread reads is waited
 * for until its input is all read and its work done (Python's join waits
 * for an imap's feed).
 * \return 0 (also when joined before) or ::MPMP_ETIMEDOUT (join again
 * later); ::MPMP_EPERM before close/terminate, and after close while an
 * imap of the pool that this thread reads still reads input.
 */
MPMP_API int mpmp_pool_join(mpmp_pool_t *pool, double timeout);
/** terminate + join + free (Python's `with Pool() as p:` exit); a NULL
 * pool is a no-op; allowed after mpmp_finalize(). Its results and imap
 * iterators stay valid (see the lifetimes above).
 * \param pool  the pool (NULL: nothing); invalid afterwards.
 * \return 0, or the code of the join (the pool is freed all the same);
 * ::MPMP_EPERM inside a done-callback for a pool not joined yet (nothing
 * done: destroy it outside the callback).
 */
MPMP_API int mpmp_pool_destroy(mpmp_pool_t *pool);

/**
 * Wait for the result. As in Python, it returns once the result's
 * callback (and any done-callback) has run, whichever thread ran it: what
 * the callback uses may be freed then (a done-callback's own get of its
 * result returns at once).
 * \param res      the result.
 * \param timeout  seconds (negative: forever).
 * \return 0 when all items succeeded,
 * ::MPMP_ETASK (mpmp_errmsg(): the first failed item, its rank and
 * message; also when the pool was terminated before all items ran),
 * ::MPMP_ECRASHED or ::MPMP_ETIMEDOUT (the first failed item's task host
 * died or ran past task_timeout), ::MPMP_ETIMEDOUT (still running; get
 * again later), ::MPMP_ECANCELED (a cancelled future),
 * ::MPMP_EINTERRUPTED (a map stopped before its end).
 */
MPMP_API int mpmp_async_get(mpmp_async_t *res, double timeout);
/**
 * Wait without judging the outcome; as mpmp_async_get(), once the
 * result's callbacks have run.
 * \param res      the result.
 * \param timeout  seconds (negative: forever).
 * \return 0 when ready, or ::MPMP_ETIMEDOUT.
 */
MPMP_API int mpmp_async_wait(mpmp_async_t *res, double timeout);
/**
 * Whether the result is ready (Python's ready()).
 * \param res  the result.
 * \return 1 when complete, 0 if not yet, ::MPMP_EINVAL for NULL. */
MPMP_API int mpmp_async_ready(mpmp_async_t *res);
/**
 * Whether it succeeded (Python's successful()).
 * \param res  the result.
 * \return 1 if complete without failures, 0 if failed, ::MPMP_EAGAIN if
 * not ready, ::MPMP_EINVAL for NULL. */
MPMP_API int mpmp_async_successful(mpmp_async_t *res);
/**
 * How many items failed.
 * \param res  the result.
 * \return the number of failed items; ::MPMP_EAGAIN if not ready,
 * ::MPMP_EINVAL for NULL. */
MPMP_API int mpmp_async_failed_count(mpmp_async_t *res);
/**
 * The \p k-th failure (in item order): its item index, the rank it ran on,
 * and its message (valid until destroy).
 * \param res         the result.
 * \param k           0 to mpmp_async_failed_count() - 1.
 * \param[out] index  the failed item's index (may be NULL).
 * \param[out] rank   the rank it ran on (may be NULL).
 * \param[out] msg    its failure message (may be NULL).
 * \return 0, ::MPMP_EAGAIN if not ready, ::MPMP_EINVAL (NULL, or no
 * failure \p k).
 */
MPMP_API int mpmp_async_failure(mpmp_async_t *res, int k, size_t *index,
                                int *rank, const char **msg);
/**
 * How many of the map's items came from its checkpoint journal instead of
 * running (README, "Long jobs: checkpoint and resume") into \p n.
 * \param res     the result.
 * \param[out] n  the count.
 * \return 0, ::MPMP_EAGAIN if not ready, ::MPMP_EINVAL for NULL.
 */
MPMP_API int mpmp_async_resumed(mpmp_async_t *res, size_t *n);
/**
 * The result bytes of an apply_async (or of an executor's future), read
 * in place: no copy is made, however large (up to max_result), and every
 * call hands out the same pointer.
 * \param res         the result.
 * \param[out] data   the bytes the task wrote with mpmp_out(), valid until
 *                    mpmp_async_destroy() (also after the pool was
 *                    destroyed and after mpmp_finalize()); may be NULL.
 * \param[out] size   their size (may be NULL).
 * \return 0, ::MPMP_EAGAIN (not ready), ::MPMP_ETASK (the task failed),
 * ::MPMP_ECANCELED.
 */
MPMP_API int mpmp_async_result(mpmp_async_t *res, const void **data,
                               size_t *size);
/**
 * Free the result object; also after mpmp_finalize(). A running apply or
 * submit is dropped: it runs to its end, its result is thrown away. A
 * running map (map_async, starmap_async, map_var_async) stops first, as
 * mpmp_pool_terminate() would stop it alone: no more items are dealt, its
 * running tasks are asked to stop (mpmp_should_stop()), their results are
 * dropped, and once this returns nothing reads its input or writes its
 * output, which the caller may free (Python runs the rest of a dropped
 * map_async: it copied the items when the map began). It waits for that
 * up to 10 s, then for the map's end. Called from a done-callback, which
 * cannot wait, it only drops the map: its buffers must then stay valid
 * until the pool is joined. A zero-copy map's workers go on writing the
 * block until they are done.
 * \param res  the result (NULL: nothing); invalid afterwards.
 */
MPMP_API void mpmp_async_destroy(mpmp_async_t *res);

#ifdef __cplusplus
}
#endif
#endif /* MPMP_POOL_H */
