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
  _Atomic int shutdown;
  const struct mpmp__job *current;
  /* what the worker runs now, for the crash report (worker.c) */
  const char *_Atomic crash_task;
  _Atomic uint64_t crash_item;  /* item index + 1; 0: a process body */
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
  if (__builtin_expect(ctx->errmsg == NULL && (rc < 0 || mpmp__stopped(ctx)),
                       0))
    mpmp__item_failed(t, rc, ctx);
}

void mpmp__crash_report_install(void); /* worker ranks: name the task on a crash */
/* Run one RUN_CHUNK message and report it. */
void mpmp__chunk_run(const void *msg, size_t len);
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
/* Run the chunk's items in the host: results into `out` (apply: a new
 * *own of *own_len bytes), each failure through fail(arg, ...). */
struct mpmp__chunk_hdr;
int mpmp__host_run(const struct mpmp__chunk_hdr *h, const char *in, char *out,
                   void **own, size_t *own_len,
                   void (*fail)(void *arg, uint64_t index, int code,
                                const char *msg),
                   void *arg);

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
/* Future support on pool results (pool.c, used by executor.c). */
int mpmp__async_cancel(mpmp_async_t *j);
/* get/wait/ready with the public call's name in the messages. */
int mpmp__async_get(mpmp_async_t *j, double timeout, const char *fn);
int mpmp__async_wait(mpmp_async_t *j, double timeout, const char *fn);
int mpmp__async_ready(mpmp_async_t *j, const char *fn);
/* Deal no more of the job and ask its running tasks to stop. */
void mpmp__async_terminate(mpmp_async_t *j);
int mpmp__async_done(const mpmp_async_t *j);
int mpmp__async_cancelled(const mpmp_async_t *j);
int mpmp__async_running(mpmp_async_t *j);
int mpmp__async_add_callback(mpmp_async_t *j, mpmp_async_cb cb, void *user);
const char *mpmp__async_error(const mpmp_async_t *j);
void mpmp__async_stop(mpmp_async_t *j);
void mpmp__pool_cancel_pending(mpmp_pool_t *pool);
/* The failure of item `index` of a finished job, or NULL (imap.c). */
const char *mpmp__async_item_error(const mpmp_async_t *j, size_t index,
                                   int *rank, int *code);
/* A finished job all of whose items ran (not cut short by terminate). */
int mpmp__async_complete(const mpmp_async_t *j);

/* imap (imap.c) on a pool (pool.c): a map job of the iterator, which may
 * still be submitted after close() (Python lets an imap finish), and the
 * pool's record of its live iterators (mpmp__par.lock taken inside). */
struct mpmp__journal;
int mpmp__pool_map_stream(mpmp_pool_t *pool, mpmp_task_fn fn, const void *in,
                          size_t n, size_t in_size, void *out,
                          size_t out_size, mpmp_async_cb cb, void *user,
                          mpmp_async_t **res, struct mpmp__journal *jr,
                          uint64_t base);
/* The directory of the pool's checkpoint journals, or NULL (none). */
const char *mpmp__pool_checkpoint(const mpmp_pool_t *pool);
/* A finished job that a stop (walltime.c) cut short. */
int mpmp__async_interrupted(const mpmp_async_t *j);
/* mpmp__wait_until that also sees a stop (walltime.c) come: it ends the
 * jobs that can end, and after MPMP_STOP_GRACE tells the running tasks to
 * stop. For every wait on a pool's job. */
int mpmp__wait_job(mpmp__pred_fn pred, void *arg, double deadline);
int mpmp__pool_iter_add(mpmp_pool_t *pool, mpmp_imap_t *it);
/* Its producer ended: pool_join no longer waits for it. */
void mpmp__pool_iter_fed(mpmp_pool_t *pool, mpmp_imap_t *it);
void mpmp__pool_iter_remove(mpmp_pool_t *pool, mpmp_imap_t *it);
/* The pool is being destroyed (its jobs are all complete): the iterator
 * must not touch it again (imap.c). */
void mpmp__imap_pool_gone(mpmp_imap_t *it);

/*
 * Watches (as_completed, futures_wait): a set of distinct jobs, each of
 * which reports its completion here when it happens, so that a waiter
 * neither rescans every job at every look nor misses one. All fields but
 * `seq` are guarded by mpmp__par.lock; `seq` changes at every event, for a wait
 * predicate that takes no lock.
 */
typedef struct mpmp__watch {
  mpmp_async_t **pending;  /* slot -> the job, until it completes */
  mpmp_async_t **done;     /* done[head..ndone): completed, not yet taken */
  size_t n;                /* distinct jobs watched */
  size_t ndone, head;
  size_t ncompleted;       /* ever completed (taken or not) */
  size_t gone;             /* destroyed by the user before completing */
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
enum { MPMP__JOURNAL_MAP = 1, MPMP__JOURNAL_IMAP = 2 };
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
} mpmp__journal_id_t;
typedef void (*mpmp__journal_fail_fn)(void *arg, uint64_t index, int rank,
                                      int code, const char *msg, size_t len);
uint64_t mpmp__hash64(const void *data, size_t len, uint64_t seed);
/* The next map's journal in `dir` (NULL or "": *jr NULL, no journal):
 * made, or found and checked against `id` (MPMP_ECHECKPOINT naming what
 * differs), its torn end cut off. */
int mpmp__journal_open(const char *dir, const mpmp__journal_id_t *id,
                       mpmp__journal_t **jr, const char *fn);
size_t mpmp__journal_records(const mpmp__journal_t *j);
const char *mpmp__journal_path(const mpmp__journal_t *j);
int mpmp__journal_replay(mpmp__journal_t *j, uint64_t base, size_t n,
                         const char *in, char *out, unsigned char *bits,
                         size_t *ndone, mpmp__journal_fail_fn fail, void *arg,
                         const char *fn);
void mpmp__journal_append(mpmp__journal_t *j, uint64_t base, uint64_t first,
                          uint32_t count, const char *res, const char *fails,
                          uint32_t nwire, int stopped, int rank,
                          uint64_t in_digest);
void mpmp__journal_sync(mpmp__journal_t *j);
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
/* Jobs live in pools and journals used: a signal then stops the maps
 * instead of ending the program (walltime.c reads, pool.c counts). */
extern _Atomic int mpmp__stop_armed;
void mpmp__journal_used(void); /* once a journal is used: armed for good */

#endif /* MPMP_PARALLEL_H */
