/*
 * The parallel layer: Process (process.c), the worker ranks' service loop
 * (worker.c) and their side of maps (chunk.c), Pool (pool.c), imap
 * (imap.c), and the executor's futures (executor.c). Above the objects
 * (a Process body is a new lock owner) and the runtime.
 */
#ifndef MPMP_PARALLEL_H
#define MPMP_PARALLEL_H

#include <signal.h>

#include "rt.h"

struct mpmp__job;
struct mpmp_process;

/* How many map chunks' results a worker may have on their way at once. */
#define MPMP__RESULT_BUFS 3

/* The layer's state: the main rank's processes and worker occupancy, and a
 * worker rank's queue of bodies (guarded by `lock`). Defined in process.c. */
typedef struct mpmp__par {
  pthread_mutex_t lock;
  /* main rank */
  unsigned char *worker_busy; /* indexed by rank */
  struct mpmp_process **procs;
  struct mpmp_pool **pool_of_rank; /* the pool that owns each worker rank */
  struct mpmp_pool *pools;         /* every live pool */
  int nprocs, procs_cap;
  _Atomic uint64_t next_id; /* process and pool job ids (one space) */
  int proc_counter;

  /* worker rank: the queued bodies and the one running now */
  struct mpmp__job *jobq_head, *jobq_tail;
  _Atomic int jobq_len; /* how many: an idle worker's polls read it without
                         * the lock, which cost a third of its poll */
  _Atomic int shutdown;
  const struct mpmp__job *current;
  /* what the worker runs now, for the crash report (worker.c) */
  const char *_Atomic crash_task;
  _Atomic uint64_t crash_item;  /* item index + 1; 0: a process body */
  _Atomic uint64_t crash_base;  /* what the chunk's job's item 0 is to the
                                   user (an imap's sub-map: its start) */
  /* or, while a map chunk's item loop runs (chunk.c), the item is the
   * one whose result slot its context points at: mpmp__crash_item() */
  const struct mpmp__loop *_Atomic crash_loop;
  const mpmp_ctx_t *crash_ctx;
  const char *_Atomic crash_body; /* that process's name (its job's) */
  _Atomic uint32_t crash_count; /* > 1: a chunk task's items, from it */
  _Atomic uint32_t crash_apply; /* an apply's or submit's one call: no
                                   item to name */
  struct sigaction *crash_old;  /* the actions before ours, for teardown */
  struct mpmp__result_buf {   /* map results, reused (no page faults) */
    char *buf;
    size_t cap;
    int busy;                 /* req is a send still to be completed */
    MPI_Request req;
  } chunk_out[MPMP__RESULT_BUFS];
  int chunk_next;             /* the chunk_out to use next */
} mpmp__par_t;

extern mpmp__par_t mpmp__par;

/* The index + 1 of the item the worker runs now, counted from the user's
 * item 0 (0: a process body), for crash and exit reports: from the running loop's context (a map's
 * results are never empty, so out_size > 0), else as stored. Reads only,
 * so a signal handler may call it. */
static inline uint64_t mpmp__crash_item(void) {
  const struct mpmp__loop *l = atomic_load(&mpmp__par.crash_loop);
  uint64_t base = atomic_load(&mpmp__par.crash_base);
  if (l != NULL) {
    const char *slot = (const char *)mpmp__par.crash_ctx->slot;
    return base + l->first + (uint64_t)(slot - l->res) / l->out_size + 1;
  }
  uint64_t item = atomic_load(&mpmp__par.crash_item);
  return item != 0 ? base + item : 0;
}

/* A chunk's items begin to run: name its task in a crash report, its items
 * counted from the user's item 0 (an imap's sub-map starts at its base),
 * or, for an apply's or submit's one call (`apply`), no item. */
static inline void mpmp__crash_chunk(const char *task, uint64_t base,
                                     int apply) {
  atomic_store_explicit(&mpmp__par.crash_base, base, memory_order_relaxed);
  atomic_store_explicit(&mpmp__par.crash_apply, (uint32_t)apply,
                        memory_order_relaxed);
  atomic_store_explicit(&mpmp__par.crash_task, task, memory_order_relaxed);
}

/* ---- the layer's hooks (src/mpmp.c lists them) ---------------------------- */

int mpmp__process_init(void);          /* every rank: worker occupancy */
void mpmp__process_setup(int is_main); /* the main rank's handlers */
int mpmp__process_finalize(void);      /* join/terminate children */
void mpmp__process_fini(void);
int mpmp__worker_init(void);           /* a fresh queue (after a finalize) */
void mpmp__worker_setup(int is_main);  /* worker ranks: handlers, crash report */
void mpmp__worker_serve(void);         /* the service loop, until SHUTDOWN */
void mpmp__worker_fini(void);
void mpmp__pool_setup(int is_main);    /* the main rank's pool handlers */
int mpmp__pool_finalize(void);         /* terminate and free the pools left */

/* ---- worker side --------------------------------------------------------- */

/* An item's task returned `rc`: an item that returned an error without a
 * message, or returned once terminate() asked it to stop (it did not
 * finish), gets its failure message. The per-item hot path of every map
 * (in the worker and in a task host): one predictable branch. */
void mpmp__item_failed(const mpmp__task_entry_t *t, int rc, mpmp_ctx_t *ctx);
static inline void mpmp__item_verdict(const mpmp__task_entry_t *t, int rc,
                                      mpmp_ctx_t *ctx) {
  if (__builtin_expect(ctx->out != NULL, 0)) /* mpmp_out()'s buffer */
    mpmp__out_check(ctx);
  if (__builtin_expect(ctx->errmsg == NULL &&
                           (rc < 0 || ((ctx->saw_stop || ctx->body) &&
                                       mpmp__stopped(ctx))),
                       0))
    mpmp__item_failed(t, rc, ctx);
  ctx->saw_stop = 0; /* the context goes on to the chunk's next item */
}

void mpmp__crash_report_install(void); /* worker ranks: name the task on a crash */
/* A job waits in this worker's queue, or the worker is to shut down
 * (worker.c). */
int mpmp__worker_has_work(void);
/* Run one RUN_CHUNK message and report it. */
void mpmp__chunk_run(const void *msg, size_t len);
/* An automatic chunk size (pool.c): Python's n / (4 * workers), at most
 * cap_bytes of items and results (item_bytes each), never 0. */
size_t mpmp__auto_chunk(size_t n, int workers, size_t item_bytes,
                        size_t cap_bytes);
/* A chunk's failure records, as they go back (proto.h: mpmp__fail_rec_t
 * and its message, n of them). */
typedef struct mpmp__fail_buf {
  char *data;
  size_t len, cap;
  uint32_t n;
} mpmp__fail_buf_t;
/* chunktask.c: a chunk of a chunk task, or a zero-copy chunk (its items
 * and results in place in shared memory), run and answered; chunk.c's
 * failure records (f: an mpmp__fail_buf_t), reused result buffers and
 * reply, for it; the views of the blocks it keeps, closed. */
struct mpmp__chunk_hdr;
void mpmp__chunk_direct(const struct mpmp__chunk_hdr *h,
                        const mpmp__task_entry_t *t, size_t len,
                        uint32_t seq0);
void mpmp__chunk_fail(void *f, uint64_t index, int code, const char *msg);
/* chunk.c: the items of a fixed-size map's chunk through the task's item
 * loop, each result in its slot of res (out_size bytes each, never 0: the
 * maps refuse empty results), failures recorded in f; ctx: the chunk's
 * context (arg_size, out_size, out_max, stoppable, id set). */
void mpmp__chunk_items(const struct mpmp__chunk_hdr *h,
                       const mpmp__task_entry_t *t, const char *in,
                       char *res, mpmp_ctx_t *ctx, mpmp__fail_buf_t *f,
                       uint32_t seq0);
/* A buffer for `size` bytes of a chunk's results, guarded after them
 * (MPMP__OUT_GUARD bytes): checked by mpmp__chunk_guard once the chunk
 * ran, which fails its last item (a chunk task: all) when its task wrote
 * past the results. */
struct mpmp__result_buf *mpmp__chunk_out(size_t size);
void mpmp__chunk_guard(const struct mpmp__chunk_hdr *h,
                       const mpmp__task_entry_t *t, char *res,
                       mpmp__fail_buf_t *f);
/* The message of an item whose task wrote past its result slot (k: the
 * first changed byte of the guard after it). */
void mpmp__slot_overrun(char *msg, size_t len, const char *task,
                        uint64_t out_size, size_t k);
void mpmp__chunk_reply(const struct mpmp__chunk_hdr *h, const void *res,
                       size_t res_len, const mpmp__fail_buf_t *f,
                       struct mpmp__result_buf *out);
void mpmp__zc_fini(void);
/* The worker is done with maps: wait for its results to go out. */
void mpmp__chunk_fini(void);
/* At teardown: results the main rank never took (chunk_fini gave up on
 * them) must not hold a later run up. */
void mpmp__chunk_forget_sends(void);

/* Task hosts (host.c): a worker's child processes that run isolated
 * items, so that a crash costs the item. start: fork the fork server
 * (at setup, before any thread of ours runs); stop: end it and its host. */
int mpmp__host_start(void);
void mpmp__hosts_setup(int is_main);
void mpmp__host_stop(void);
/* A worker rank at its finalize, after mpmp__host_stop: ends (and warns
 * of) the processes its tasks started and left running (host.c). */
void mpmp__host_end_strays(void);
/* The worker's loan of its mailboxes with the main rank to its task host
 * (host.c): after each job, what it was (a chunk's header, or not a
 * chunk); when idle, lend: returns when the loan ended, with NULL, or
 * with a chunk the host took and left unanswered (*len bytes, for
 * mpmp__chunk_run, which then takes over the host's request: while
 * mpmp__host_adopting() says so, the chunk is not checked for a stop). */
void mpmp__host_after_job(const void *hdr, int is_chunk);
/* chunk.c: 1 when no map chunk's results are still on their way (the
 * sends that are through are completed now). */
int mpmp__chunk_sends_idle(void);
void *mpmp__host_lend(size_t *len);
int mpmp__host_adopting(void);
int mpmp__host_ready(void);
/* Why this worker has no task host (its fork server died, could not
 * start, or MPMP_ISOLATE=never), in words, in buf. */
const char *mpmp__host_none_why(char *buf, size_t n);
/* Run the chunk's items in the host: results into `out` (apply: a new
 * *own of *own_len bytes; a variable-size chunk: a new *own of its
 * results as the worker sends them, mpmp__var_res_t), each failure
 * through fail(arg, ...). */
struct mpmp__chunk_hdr;
int mpmp__host_run(const struct mpmp__chunk_hdr *h, const char *in, char *out,
                   void **own, size_t *own_len,
                   void (*fail)(void *arg, uint64_t index, int code,
                                const char *msg),
                   void *arg);

/* A variable-size chunk's results as they are built (chunk.c): count
 * uint64 sizes (0 until set), then the results' bytes in item order, as
 * they go back (proto.h). put: item i's result (items in order), NULL, or
 * why it cannot be kept (past 1 GiB in all, out of memory): the item
 * then fails with that message. */
typedef struct mpmp__var_res {
  char *buf;
  size_t used, cap;
} mpmp__var_res_t;
int mpmp__var_res_init(mpmp__var_res_t *r, uint32_t count);
const char *mpmp__var_res_put(mpmp__var_res_t *r, uint32_t i,
                              const void *data, size_t size);

/* A Process body in the host (one item, as an apply): its result in a
 * new *out, its failure through fail(), its return value in *ret, and
 * *exitcode -signal or the exit status if its host died (else 0). */
struct mpmp__run_hdr;
int mpmp__host_body(const struct mpmp__chunk_hdr *h,
                    const struct mpmp__run_hdr *body, const char *arg,
                    void **out, size_t *out_len,
                    void (*fail)(void *arg, uint64_t index, int code,
                                 const char *msg),
                    void *fail_arg, int *ret, int *exitcode);
/* In a host running a Process body: that body's header (its name, its
 * daemon flag); else NULL. And the pid of the host's worker rank (0 when
 * not in a host): a Process is its rank, for mpmp_process_pid too. */
const struct mpmp__run_hdr *mpmp__host_current(void);
int mpmp__host_worker_pid(void);

/* ---- main side ----------------------------------------------------------- */

/* Main side: claim/free worker ranks (mpmp__par.lock held). */
int mpmp__claim_worker(void);
/* Start an initializer of a pool on one of its workers; pool_init: the
 * isolated pool's id (its hosts run it again when they are replaced), or
 * 0 (it runs in the worker rank). */
int mpmp__process_start_on(struct mpmp_process *p, int rank,
                           uint32_t pool_init);
/* 1: p is a Manager's server, which only its Manager may destroy
 * (mpmp_process_destroy() is MPMP_EPERM: the Manager would join and
 * destroy it again at its shutdown); 0: an ordinary process again. */
void mpmp__process_keep(struct mpmp_process *p, int kept);
/* Future support on pool results (pool.c, used by executor.c). */
int mpmp__async_cancel(mpmp_async_t *j);
/* get/wait/ready with the public call's name in the messages. */
int mpmp__async_get(mpmp_async_t *j, double timeout, const char *fn);
int mpmp__async_wait(mpmp_async_t *j, double timeout, const char *fn);
int mpmp__async_ready(mpmp_async_t *j, const char *fn);
/* Deal no more of the job and ask its running tasks to stop. */
void mpmp__async_terminate(mpmp_async_t *j);
/* Stop the job (mpmp__async_terminate) and let go of its `in` and `out`
 * before it is over: its later results are dropped, and the elements of
 * `out` whose items never ran are left as they were. Waits (up to the
 * deadline) only for a receive into `out` and the sends from `in` in
 * progress (the workers take them at once). 0; MPMP_ETIMEDOUT;
 * MPMP_EBUSY where the workers write `out` in place (a zero-copy map):
 * wait for the job. */
int mpmp__async_detach(mpmp_async_t *j, double deadline);
int mpmp__async_done(const mpmp_async_t *j);
int mpmp__async_cancelled(const mpmp_async_t *j);
int mpmp__async_running(mpmp_async_t *j);
int mpmp__async_add_callback(mpmp_async_t *j, mpmp_async_cb cb, void *user);
const char *mpmp__async_error(const mpmp_async_t *j);
void mpmp__async_stop(mpmp_async_t *j);
void mpmp__pool_cancel_pending(mpmp_pool_t *pool);
/* Does an imap iterator of the pool read input in this thread (which a
 * join there would wait for)? */
int mpmp__pool_fed_here(mpmp_pool_t *pool);
/* Was the pool's executor shut down with cancel_futures (its imaps then
 * submit nothing more)? */
int mpmp__pool_cancelled(mpmp_pool_t *pool);
/* The failure of item `index` of a finished job, or NULL (imap.c). */
const char *mpmp__async_item_error(const mpmp_async_t *j, size_t index,
                                   int *rank, int *code);
/* A finished job all of whose items ran (not cut short by terminate). */
int mpmp__async_complete(const mpmp_async_t *j);
/* How many of j's items came from its checkpoint journal (set as it is
 * submitted). */
size_t mpmp__async_resumed(const mpmp_async_t *j);

/* Nested submission: tasks that submit to an executor of the main rank
 * (executor.c: the refs and the main rank's side; worker.c: a worker's
 * side; pool.c: its futures and its slots).
 *   pool_secede: a task on worker `rank` waits on a sub-task (+1) or is
 *     done waiting (-1): its slot is free meanwhile (main rank).
 *   async_remote_new/done: a worker's future of sub-task `id`, and the
 *     main rank's answer to it (code 0, MPMP_ECANCELED or a failure).
 *   nest_submit: send fn(arg) to the executor `token` of the main rank.
 *   nest_wait: wait for a remote future (help-while-waiting: the worker
 *     runs the pool's chunks dealt to it meanwhile); nest_cancel. */
void mpmp__pool_secede(int rank, int delta);
int mpmp__apply_check(mpmp_task_fn fn, const void *arg, size_t arg_size,
                      mpmp_async_t **res, const char *name);
mpmp_async_t *mpmp__async_remote_new(uint64_t id);
void mpmp__async_remote_done(mpmp_async_t *j, int code, int rank,
                             const char *msg, size_t msglen, void *msg_buf,
                             const void *result, size_t size);
int mpmp__nest_submit(uint64_t token, int task, const void *arg,
                      size_t arg_size, mpmp_async_t **res);
int mpmp__nest_wait(mpmp_async_t *j, double timeout, double deadline,
                    const char *fn);
int mpmp__nest_cancel(mpmp_async_t *j);
int mpmp__async_outcome(const mpmp_async_t *j, const void **data,
                        size_t *size, const char **msg, int *rank);
/* executor.c: the main rank's handler of nested requests. */
void mpmp__executor_setup(int is_main);

/* imap (imap.c) on a pool (pool.c): a map job of the iterator, which may
 * still be submitted after close() (Python lets an imap finish), and the
 * pool's record of its live iterators (mpmp__par.lock taken inside). */
struct mpmp__journal;
int mpmp__pool_map_stream(mpmp_pool_t *pool, mpmp_task_fn fn, const void *in,
                          size_t n, size_t in_size, void *out,
                          size_t out_size, mpmp_async_cb cb, void *user,
                          mpmp_async_t **res, struct mpmp__journal *jr,
                          uint64_t base, uint64_t group);
/* A new id for jobs that stop together (an imap's sub-maps: `group` of
 * mpmp__pool_map_stream and mpmp__pool_map_var), below their own. */
uint64_t mpmp__pool_group_id(void);
/* A map job of a chunk task (kind MPMP__TASK_CHUNK: fn is its
 * mpmp_chunk_fn converted) or a zero-copy map (zc: where its items and
 * results lie, copied; NULL: none), for chunktask.c; else as
 * mpmp_pool_map_async(). */
struct mpmp__shm_ref;
int mpmp__pool_map_how(mpmp_pool_t *pool, mpmp_task_fn fn, int kind,
                       const struct mpmp__shm_ref *zc, const void *in,
                       size_t n, size_t in_size, void *out, size_t out_size,
                       size_t chunksize, mpmp_async_cb cb, void *user,
                       mpmp_async_t **res, const char *name);
/* Maps over variable-size items (varmap.c): a job's items are
 * in + off[i] .. in + off[i + 1] (borrowed: the caller's, or an imap
 * slot's), and its results, which come back inline chunk by chunk, are
 * kept here until they are gathered into one buffer. The job owns it
 * (job_free frees it). */
typedef struct mpmp__var mpmp__var_t;
mpmp__var_t *mpmp__var_new(const char *in, const size_t *off, size_t n);
/* The input checks of a variable-size map (NULL, offsets that go down,
 * items over 1 GiB, arrays not in memory), naming fn. */
int mpmp__var_check(const void *in, const size_t *off, size_t n,
                    const char *fn);
/* A ready variable-size job's gathered results handed to *out (the
 * caller's to free), then the job destroyed; rc: the job's get. */
int mpmp__var_collect(mpmp_async_t *j, int rc, mpmp_varbuf_t *out,
                      const char *name);
/* A running variable-size job let go (a map past its timeout): the results
 * so far handed to *out, later ones dropped; the caller then destroys j. */
int mpmp__var_let_go(mpmp_async_t *j, mpmp_varbuf_t *out, const char *fn);
void mpmp__var_free(mpmp__var_t *v);
/* Its items' bytes (all of them, in one piece) and offsets (n + 1); the
 * digest of items [first, first + count) (bytes and sizes). */
void mpmp__var_input(const mpmp__var_t *v, const void **bytes, size_t *len,
                     const size_t **off);
uint64_t mpmp__var_digest(const mpmp__var_t *v, size_t first, size_t count);
/* How many of the `count` items from `first` one chunk carries (at least
 * one: every item is under 1 GiB), and the bytes after its header. */
size_t mpmp__var_fit(const mpmp__var_t *v, size_t first, size_t count);
size_t mpmp__var_chunk_bytes(const mpmp__var_t *v, size_t first,
                             size_t count);
void mpmp__var_chunk_fill(const mpmp__var_t *v, size_t first, size_t count,
                          void *dst);
/* A chunk's results (mpmp__par.lock held); < 0 when they cannot be kept
 * (out of memory, or not what a chunk of `count` sends): they are lost,
 * and the items fail. */
int mpmp__var_take(mpmp__var_t *v, size_t first, uint32_t count,
                   const char *data, size_t len);
/* A variable-size map job on the pool (pool.c); stream: an imap's, which
 * may still come after close(), journaled in the imap's `jr` (or NULL)
 * as its items from `base` on. */
int mpmp__pool_map_var(mpmp_pool_t *pool, mpmp_task_fn fn, mpmp__var_t *v,
                       size_t n, size_t chunksize, mpmp_async_cb cb,
                       void *user, mpmp_async_t **res, int stream,
                       struct mpmp__journal *jr, uint64_t base,
                       uint64_t group, const char *name);
mpmp__var_t *mpmp__async_var(const mpmp_async_t *j);
/* imap over variable-size items (imap.c): the items of each slot of the
 * iterator's window (copied from the producer), and the result handed
 * out last to each thread. produce: item i of the slot (1, 0 at the end,
 * or < 0; *theirs: a negative code is the producer's, not a refusal of
 * what it gave, which has its message); submit: the slot's n items as a
 * job; result: item `at` of a slot's ready job, valid until this thread's
 * next result or the feed's end. */
typedef struct mpmp__varfeed mpmp__varfeed_t;
mpmp__varfeed_t *mpmp__varfeed_new(mpmp_produce_var_fn produce, void *user,
                                   int nslots, size_t chunk);
void mpmp__varfeed_free(mpmp__varfeed_t *f);
int mpmp__varfeed_produce(mpmp__varfeed_t *f, int slot, size_t i,
                          int *theirs);
int mpmp__varfeed_submit(mpmp__varfeed_t *f, int slot, size_t n,
                         mpmp_pool_t *pool, mpmp_task_fn fn,
                         mpmp_async_cb cb, void *user, mpmp_async_t **res,
                         struct mpmp__journal *jr, uint64_t base,
                         uint64_t group);
int mpmp__varfeed_result(mpmp__varfeed_t *f, mpmp_async_t *job, size_t at,
                         const void **data, size_t *size);
/* The directory of the pool's checkpoint journals, or NULL (none). */
const char *mpmp__pool_checkpoint(const mpmp_pool_t *pool);
/* The largest item, result or task argument (1 GiB - 1: a chunk's in and
 * out fit one int-counted MPI message), and how messages say it. */
#define MPMP__ELEM_MAX ((size_t)INT32_MAX / 2)
#define MPMP__ELEM_MAX_SAYS "under 1 GiB (1073741823 bytes at most)"
/* Items and results of in_size and out_size bytes within MPMP__ELEM_MAX:
 * 0, or MPMP_EINVAL naming fn and the size too large (pool.c). */
int mpmp__check_elem_sizes(size_t in_size, size_t out_size, const char *fn);
/* A finished job that a stop (walltime.c) cut short. */
int mpmp__async_interrupted(const mpmp_async_t *j);
/* mpmp__wait_until that also sees a stop (walltime.c) come: it ends the
 * jobs that can end, and after MPMP_STOP_GRACE tells the running tasks to
 * stop. For every wait on a pool's job. */
int mpmp__wait_job(mpmp__pred_fn pred, void *arg, double deadline);

/* What a pool's option checks call the function and two of its fields:
 * an executor creates its pool with its own names (max_workers...). */
typedef struct mpmp__pool_names {
  const char *fn, *processes, *maxtasks;
  const char *noun; /* what its messages call it: "pool", "executor" */
} mpmp__pool_names_t;
int mpmp__pool_create_as(struct mpmp_pool **out, const mpmp_pool_opts_t *o,
                         const mpmp__pool_names_t *nm);

/* MPMP_PROGRESS (progress.c): a map's progress line on the main rank. A
 * meter lives on its waiter's stack, or in its iterator, for one map:
 * start, show at each state (it draws only when a line is due), end when
 * the map ended before a `last` show (an error, a time-out). */
typedef struct mpmp__meter {
  const char *what; /* "map", "imap" */
  int mode, drawn;
  double t0, next; /* next: when a line is due */
} mpmp__meter_t;
void mpmp__meter_start(mpmp__meter_t *m, const char *what);
int mpmp__meter_on(const mpmp__meter_t *m);
/* done of total items (total 0: not known yet), failed, resumed: from the
 * checkpoint; last: the map is over (its final line). */
void mpmp__meter_show(mpmp__meter_t *m, size_t done, size_t total,
                      size_t failed, size_t resumed, int last);
void mpmp__meter_end(mpmp__meter_t *m);
int mpmp__pool_iter_add(mpmp_pool_t *pool, mpmp_imap_t *it);
/* Its producer ended: pool_join no longer waits for it (and wakes). */
void mpmp__pool_iter_fed(mpmp_pool_t *pool, mpmp_imap_t *it);
void mpmp__pool_iter_remove(mpmp_pool_t *pool, mpmp_imap_t *it);
/* The pool is being destroyed (its jobs are all complete): the iterator
 * must not touch it again (imap.c). */
void mpmp__imap_pool_gone(mpmp_imap_t *it);
/* Its producer has not ended, and this thread is the one that reads it
 * (feeds it): a join here cannot wait for it. */
int mpmp__imap_fed_here(const mpmp_imap_t *it);

/*
 * Watches (as_completed, futures_wait): a set of distinct jobs, each of
 * which reports its completion here when it happens, so that a waiter
 * neither rescans every job at every look nor misses one. All fields but
 * `seq` are guarded by mpmp__par.lock; `seq` changes at every event, for a wait
 * predicate that takes no lock.
 */
typedef struct mpmp__watch {
  mpmp_async_t **pending;  /* slot -> the job, until it completes */
  mpmp_async_t **done;     /* done[head..ndone): completed, not yet taken
                              (NULL: destroyed since, a hole) */
  size_t *at;              /* slot -> its index in done, once completed */
  size_t n;                /* distinct jobs watched */
  size_t ndone, head;
  size_t ncompleted;       /* ever completed (taken or not) */
  size_t gone;             /* destroyed by the user before completing, or
                              completed and not taken (its hole in done
                              not passed yet) */
  size_t failed;           /* completed with an exception (not cancelled) */
  _Atomic uint64_t seq;
} mpmp__watch_t;
/* Watch the n jobs of fs (duplicates count once; NULL entries are
 * MPMP_EINVAL naming fn); those already complete are done at once. */
int mpmp__watch_init(mpmp__watch_t *w, mpmp_async_t *const *fs, size_t n,
                     const char *fn);
/* The next completed job, or NULL; it leaves the watch. */
mpmp_async_t *mpmp__watch_take(mpmp__watch_t *w);
/* Stop watching: every job still linked leaves it. */
void mpmp__watch_fini(mpmp__watch_t *w);

/* ---- checkpoints and stops (journal.c, walltime.c; main rank) ------------ */

/* A map's checkpoint journal (journal.c): who it is, checked at open. */
enum {
  MPMP__JOURNAL_MAP = 1,
  MPMP__JOURNAL_IMAP = 2,
  MPMP__JOURNAL_MAP_VAR = 3, /* variable-size items and results */
  MPMP__JOURNAL_IMAP_VAR = 4
};
typedef struct mpmp__journal mpmp__journal_t;
typedef struct mpmp__journal_id {
  int kind;
  const char *task;
  uint64_t n;       /* items (imap: 0, unknown) */
  uint64_t in_size, out_size;
  uint64_t chunk;   /* imap: items per chunk (records fall on its bounds) */
  const void *input; /* map: its items, whose digest identifies it (imap:
                        NULL; each record carries its items' digest) */
  size_t input_len;
  const size_t *var_off; /* MAP_VAR: the n + 1 offsets of its items (their
                            sizes are in the digest too); else NULL */
} mpmp__journal_id_t;
typedef void (*mpmp__journal_fail_fn)(void *arg, uint64_t index, int rank,
                                      int code, const char *msg, size_t len);
/* A *_VAR record's results (proto.h's wire form: sizes, then bytes) of
 * items [first, first + count) relative to the replay's base; < 0 when
 * they cannot be kept (the record's items then run again). */
typedef int (*mpmp__journal_take_fn)(void *arg, uint64_t first,
                                     uint32_t count, const char *res,
                                     size_t len);
uint64_t mpmp__hash64(const void *data, size_t len, uint64_t seed);
/* h with the sizes of the n items at offsets off[0..n] mixed in. */
uint64_t mpmp__hash_sizes(const size_t *off, size_t n, uint64_t h);
/* The digest of an imap chunk's items [first, first + count) (relative to
 * the replay's base), which its record carries. */
typedef uint64_t (*mpmp__journal_digest_fn)(void *arg, uint64_t first,
                                            uint32_t count);
/* The next map's journal in `dir` (NULL or "": *jr NULL, no journal):
 * made, or found and checked against `id` (MPMP_ECHECKPOINT naming what
 * differs), its torn end cut off. */
int mpmp__journal_open(const char *dir, const mpmp__journal_id_t *id,
                       mpmp__journal_t **jr, const char *fn);
size_t mpmp__journal_records(const mpmp__journal_t *j);
const char *mpmp__journal_path(const mpmp__journal_t *j);
int mpmp__journal_replay(mpmp__journal_t *j, uint64_t base, size_t n,
                         mpmp__journal_digest_fn digest, char *out,
                         unsigned char *bits,
                         size_t *ndone, mpmp__journal_fail_fn fail,
                         mpmp__journal_take_fn take, void *arg,
                         const char *fn);
/* res: count * out_size bytes (*_VAR: res_len bytes, the wire form) */
void mpmp__journal_append(mpmp__journal_t *j, uint64_t base, uint64_t first,
                          uint32_t count, const char *res, size_t res_len,
                          const char *fails, uint32_t nwire, int stopped,
                          int rank, uint64_t in_digest);
/* 1: the journal stopped recording (a write failed: a full disk) */
int mpmp__journal_sync(mpmp__journal_t *j);
/* A new map journal gets its input's digest here (the map's thread, after
 * the first chunks were dealt: the hash overlaps the workers' work). */
void mpmp__journal_seal(mpmp__journal_t *j);
/* References: open gives one; close drops one (the last seals and frees). */
void mpmp__journal_ref(mpmp__journal_t *j);
void mpmp__journal_close(mpmp__journal_t *j);
int mpmp__journal_check_dir(const char *dir, const char *what);

/* The stop of a batch job (walltime.c): SIGUSR1/SIGTERM on the main rank,
 * or MPMP_WALLTIME / Slurm's / PBS's limit drawing near. Once stopped,
 * pools deal no more work and maps end with MPMP_EINTERRUPTED. */
int mpmp__walltime_init(void);        /* main: MPMP_CHECKPOINT, MPMP_WALLTIME */
void mpmp__walltime_setup(int is_main); /* signal handlers, the stop point */
void mpmp__walltime_fini(void);
/* 1 once stopped (reads the clock against the stop point, and then
 * notes the stop itself). */
int mpmp__stopping(void);
/* Why the stop came ("SIGUSR1 came", "the walltime ... ends in ..."). */
const char *mpmp__stop_reason(void);
/* The next moment something is due: the stop point, or the end of the
 * grace after a stop (INFINITY: nothing). */
double mpmp__stop_next(void);
/* The running chunks' time after the stop that came (MPMP_STOP_GRACE, or
 * less after a walltime stop whose reserve was cut to a tenth). */
double mpmp__stop_grace(void);
/* Jobs live in pools and journals used: a signal then stops the maps
 * instead of ending the program (walltime.c reads, pool.c counts). */
extern _Atomic int mpmp__stop_armed;
void mpmp__journal_used(void); /* once a journal is used: armed for good */

#endif /* MPMP_PARALLEL_H */
