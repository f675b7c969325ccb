/*
 * mpmp internals shared by the library's files. Never installed.
 *
 * Layers (no upward calls):
 *   errors, alloc, env  — services
 *   topo                — hwloc placement and binding
 *   wait, mailbox, transport — sleeping waits, messages between ranks
 *   runtime, worker     — init/finalize, the worker service loop
 *   task, process       — what users call
 */
#ifndef MPMP_INTERNAL_H
#define MPMP_INTERNAL_H

#include <math.h>
#include <mpi.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "mailbox.h"
#include "mpmp.h"
#include "topo.h"

#define MPMP__HIDDEN __attribute__((visibility("hidden")))

/* ---- errors ------------------------------------------------------------- */

/* Set the thread's detail message and return `code`. */
int mpmp__err(int code, const char *fmt, ...) MPMP_PRINTF(2, 3);
int mpmp__verr(int code, const char *fmt, va_list ap);
/* Messages (the thread's detail, a task's failure) are kept whole up to
 * this many bytes; a longer one is cut there and ends with
 * "... [cut: N bytes in all]" (also when memory runs out: then with
 * "; out of memory" and at a smaller size). Documented in mpmp/common.h. */
#define MPMP__MSG_MAX ((size_t)16 << 20)
#define MPMP__CUT_ROOM 64 /* bytes for that marker and the NUL */
/* Format into a new mpmp__malloc'ed string (cut as above; len may be
 * NULL). NULL only when not even a few KiB could be allocated. */
char *mpmp__vformat(const char *fmt, va_list ap, size_t *len);
/* Convert an MPI error code into MPMP_EMPI with the MPI error string. */
int mpmp__mpi_err(int mpi_rc, const char *what);
/* An MPI error nobody can be told of (progress, handlers): log it and end
 * the job, so that nothing waits for ever for a lost message. */
_Noreturn void mpmp__mpi_fatal(int mpi_rc, const char *what);
/* The check for those calls: one predictable branch on the hot path. */
#define MPMP__MPI_CHECK(call, what)                        \
  do {                                                     \
    int mpi_rc_ = (call);                                  \
    if (__builtin_expect(mpi_rc_ != MPI_SUCCESS, 0))       \
      mpmp__mpi_fatal(mpi_rc_, what);                      \
  } while (0)

/* "[0003] WARN: ..." on stderr, prefixed with the rank. */
void mpmp__log(const char *level, const char *fmt, ...) MPMP_PRINTF(2, 3);
#define MPMP__WARN(...) mpmp__log("WARN", __VA_ARGS__)
#define MPMP__ERROR(...) mpmp__log("ERROR", __VA_ARGS__)

/* ---- allocation: every allocation goes through these ------------------- */

void *mpmp__malloc(size_t n);
void *mpmp__calloc(size_t n, size_t size);
void *mpmp__realloc(void *p, size_t n);
char *mpmp__strdup(const char *s);
void mpmp__free(void *p);

/* ---- monotonic time ----------------------------------------------------- */

double mpmp__now(void); /* seconds, CLOCK_MONOTONIC */
/* deadline for a timeout in seconds: negative timeout -> +infinity */
double mpmp__deadline(double timeout);
/* A public call's timeout (seconds) as a deadline: negative or >= 1e9 s ->
 * +INFINITY (forever), 0 -> -INFINITY (try once, no clock read), else
 * now + timeout.
 * MPMP_EINVAL naming `fn` for NaN. Every public call that takes a timeout
 * goes through this. */
int mpmp__timeout(double timeout, double *deadline, const char *fn);
/* Has an absolute deadline passed? -INFINITY (try once) and +INFINITY
 * (forever) cost no clock read. */
static inline int mpmp__expired(double deadline) {
  if (deadline == -INFINITY)
    return 1;
  return deadline < INFINITY && mpmp__now() >= deadline;
}

/* Tell the CPU we are spinning (frees the pipeline for a sibling thread,
 * and stops the memory-order mis-speculation when the word changes). */
static inline void mpmp__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield" ::: "memory");
#else
  atomic_signal_fence(memory_order_seq_cst);
#endif
}

/* ---- settings: the one table (env_defs.h) ------------------------------ */

#include "env_defs.h"

typedef enum { MPMP__ENV_STR, MPMP__ENV_BOOL, MPMP__ENV_SIZE, MPMP__ENV_DOUBLE } mpmp__env_type_t;

typedef struct mpmp__env {
#define MPMP__ENV_FIELD_STR const char *
#define MPMP__ENV_FIELD_BOOL int
#define MPMP__ENV_FIELD_SIZE size_t
#define MPMP__ENV_FIELD_DOUBLE double
#define MPMP__ENV_FIELD(name, type, ...) MPMP__ENV_FIELD_##type name;
  MPMP_ENV_MAP(MPMP__ENV_FIELD)
#undef MPMP__ENV_FIELD
  /* where each value came from: 1 = environment, 0 = default */
#define MPMP__ENV_SRC(name, type, ...) unsigned char from_env_##name;
  MPMP_ENV_MAP(MPMP__ENV_SRC)
#undef MPMP__ENV_SRC
} mpmp__env_t;

/* Parse every MPMP_* variable; 0 or MPMP_EENV naming the variable and
 * the values it takes. */
int mpmp__env_load(mpmp__env_t *env);
void mpmp__env_print(const mpmp__env_t *env, FILE *out);
/* What setting `name` (without MPMP_) takes, as the listing and README
 * say it, e.g. "0 to 1000000 microseconds"; "" for an unknown name. */
const char *mpmp__env_allowed(const char *name, char *buf, size_t n);
/* Warn (once per process) about MPMP_* variables that are no setting,
 * naming the closest setting. The main rank, at init. */
void mpmp__env_warn_unknown(void);
/* Give every rank the main rank's settings (collective; see env.c). */
int mpmp__env_share(MPI_Comm comm, int rank, mpmp__env_t *env);

/* Bytes of the node control block, between the doorbells and the heap. */
#define MPMP__CTL_SIZE 64

/* ---- waiting: doorbells in the node segment ----------------------------- */

/*
 * One doorbell per rank, in the node's shared segment. A sender on the same
 * node increments `seq` after its message is visible and wakes the rank's
 * sleepers with a futex; a sleeper records `seq`, re-checks its condition and
 * sleeps on `seq` only if nothing changed, so no wake-up is lost. Ranks on
 * other nodes cannot ring it: when the job spans nodes, sleeps are capped at
 * MPMP_POLL_MS and the rank polls MPI after each.
 */
typedef struct mpmp__bell {
  _Atomic uint32_t seq;
  _Atomic uint32_t sleepers;
  char pad[56]; /* one cache line per rank: no false sharing */
} mpmp__bell_t;

void mpmp__bell_ring(mpmp__bell_t *b);
/* Sleep until `b->seq` != seq or `timeout` seconds pass (negative: forever). */
void mpmp__bell_sleep(mpmp__bell_t *b, uint32_t seq, double timeout);
/* Wake threads of this process waiting in mpmp__futex_wait_private(). */
void mpmp__futex_wake_private(_Atomic uint32_t *w, int n);
void mpmp__futex_wait_private(_Atomic uint32_t *w, uint32_t val, double timeout);

typedef int (*mpmp__pred_fn)(void *arg);
/*
 * Wait until pred(arg) is true, driving message progress meanwhile: poll
 * for MPMP_SPIN_US, then sleep on this rank's doorbell. 0 when pred became
 * true, MPMP_ETIMEDOUT at the deadline (absolute, mpmp__now() seconds).
 */
int mpmp__wait_until(mpmp__pred_fn pred, void *arg, double deadline);
/* Count this thread as driving progress across several waits in a row, so
 * that the agent stays parked in between (what mpmp__wait_until does). */
void mpmp__driver_enter(void);
void mpmp__driver_leave(void);

/* The progress thread ("agent") of every rank; see wait.c. */
int mpmp__agent_start(void);
void mpmp__agent_stop(void);

/* ---- transport: messages on the private communicator ------------------- */

enum {
  MPMP__TAG_RUN_PROC = 1, /* main -> worker: run a process body */
  MPMP__TAG_PROC_DONE,    /* worker -> main: the body returned */
  MPMP__TAG_TERMINATE,    /* main -> worker: set the stop flag */
  MPMP__TAG_SHUTDOWN,     /* main -> worker: leave the service loop */
  MPMP__TAG_RUN_CHUNK,    /* main -> worker: run a task over some items */
  MPMP__TAG_CHUNK_DONE,   /* worker -> main: their results and failures */
  MPMP__TAG_CHUNK_INPUT,  /* main -> worker: a chunk's items, received by
                             the RUN_CHUNK handler, sent from the caller's
                             memory */
  MPMP__TAG_CHUNK_DATA,   /* worker -> main: a map chunk's results, received
                             straight into the caller's output */
  MPMP__TAG_OBJ_REQ,      /* any -> a rank of an object's home node */
  MPMP__TAG_OBJ_REP,      /* its answer */
  MPMP__TAG_MGR_REQ,      /* any -> a Manager's server rank (manager.c) */
  MPMP__TAG_MGR_REP,      /* its answer */
  MPMP__TAG_TRACE,        /* worker -> main at the end: its MPMP_TRACE records */
  MPMP__TAG_MAX
};

/*
 * A handler owns `buf` (mpmp__malloc'ed) and must free or keep it. Handlers
 * run with the progress lock held, in whichever thread drives progress:
 * they must not block, and may only send small (eager) messages.
 */
typedef void (*mpmp__handler_fn)(int src, void *buf, size_t len);
/* How many map chunks' results a worker may have on their way at once. */
#define MPMP__RESULT_BUFS 3
void mpmp__set_handler(int tag, mpmp__handler_fn fn);
/* Receive and dispatch what has arrived; returns the number handled. */
int mpmp__progress(void);
/* The same, for a thread that sleeps next (sleeping = 1) unless something
 * was handled: if another thread is progressing, it looks again for us. */
int mpmp__progress_before_sleep(int sleeping);
/* Send `len` bytes (header and payload gathered) to world rank `dest`. */
int mpmp__send(int dest, int tag, const void *hdr, size_t hlen,
               const void *payload, size_t plen);
/*
 * Send without waiting: `buf` (mpmp__malloc'ed, `len` bytes) is owned by
 * the transport and freed once the send completes. Safe inside handlers.
 * Progress completes it; while sends are pending, sleeps are capped so
 * that the sender keeps pushing them even when nobody else calls MPI.
 */
int mpmp__send_nb(int dest, int tag, void *buf, size_t len);
/*
 * Bulk data that the receiving handler takes itself with MPI_Recv/Irecv
 * on rt->data_comm right after the message announcing it: always MPI,
 * never a mailbox, so the progress loop's probes never see it.
 *   send_data_nb: memory the caller keeps valid until the send completes;
 *   send_data: waits until it went out;
 *   send_post + send_wait: post it, and wait for it later (rings the
 *   receiver meanwhile; polls, then sleeps): 0 once it went out,
 *   MPMP_ETIMEDOUT at the deadline (the send is still pending).
 */
int mpmp__send_data_nb(int dest, int tag, const void *buf, size_t len);
int mpmp__send_data(int dest, int tag, const void *buf, size_t len);
int mpmp__send_post(int dest, int tag, const void *buf, size_t len,
                    MPI_Request *req);
int mpmp__send_wait(int dest, MPI_Request *req, double deadline);
/* The same-node mailboxes (mailbox.h) in the node segment; area NULL or
 * cap 0: every message goes through MPI. */
int mpmp__transport_setup(char *area, size_t cap);
void mpmp__transport_fini(void);
/* 0: no send pending; 1: only to ranks of this node (they ring us once
 * they took it); 2: some to another node (nobody will ring: poll). */
int mpmp__sends_pending(void);
/* Ring a rank's doorbell if it lives on this node. */
void mpmp__ring_rank(int rank);

/* ---- the runtime context: the only global mutable state ----------------- */

typedef struct mpmp__rank_info {
  int pid;
  int node;        /* node index 0..nnodes-1 */
  int node_rank;   /* index on its node */
  int numa;        /* NUMA node OS index, -1 if several/none */
  char host[64];
  char cores[64];
} mpmp__rank_info_t;

typedef enum { MPMP__UNINIT = 0, MPMP__RUNNING, MPMP__FINALIZED } mpmp__state_t;

struct mpmp__task_entry;
struct mpmp__job;
struct mpmp_process;

typedef struct mpmp__rt {
  _Atomic int state;
  pthread_mutex_t life_lock; /* held while mpmp_init/mpmp_finalize change state */
  int mpi_owned;            /* mpmp called MPI_Init_thread */
  MPI_Comm comm;            /* private duplicate of MPI_COMM_WORLD */
  MPI_Comm data_comm;       /* another: bulk data received by handlers */
  MPI_Comm node_comm;       /* ranks sharing memory with this one */
  int rank, size, node_rank, node_size, node, nnodes;
  int *world_of_node_rank;  /* node rank -> world rank (this node) */
  mpmp__rank_info_t *ranks; /* every rank of the job, indexed by rank */
  mpmp__env_t env;
  mpmp__topo_t topo;
  mpmp__bind_t bind;

  /* the node's shared segment: doorbells, control block, shared heap */
  MPI_Win node_win;
  char *node_base;
  mpmp__bell_t *bells;      /* indexed by node rank */
  struct mpmp__node_ctl *node_ctl;
  char *heap_base;          /* the node heap (heap.c), objects (object.c) */
  size_t heap_size;
  uint64_t obj_secret;      /* the same on every rank: handle tags */
  int *node_first;          /* node k's ranks: node_members[node_first[k]..] */
  int *node_members;
  _Atomic int nproxies;     /* threads waiting for remote callers */

  /* same-node mailboxes (transport.c) */
  char *mbox_area;          /* in the node segment; NULL: off */
  size_t mbox_cap;          /* bytes per ring; 0: off */
  struct mpmp__mbox_out {   /* per node rank we send to */
    pthread_mutex_t lock;   /* our threads take turns on the ring */
    mpmp__mbox_tx_t tx;
    uint64_t mpi_sent;      /* our MPI messages to it ... */
    uint64_t mpi_done;      /* ... and how many it dispatched, last seen */
  } *mbox_out;
  struct mpmp__mbox_in {    /* per node rank we receive from */
    uint64_t head, mpi_done;
  } *mbox_in;
  uint32_t mbox_seen;       /* our doorbell when the rings were last read */

  /* progress */
  pthread_mutex_t progress_lock;
  _Atomic int progress_req; /* a thread found the lock taken: look again */
  pthread_mutex_t send_lock;      /* guards the pending sends */
  struct mpmp__pending *pending;  /* non-blocking sends in flight */
  _Atomic int npending, npending_remote;
  mpmp__handler_fn handlers[MPMP__TAG_MAX];
  _Atomic uint32_t drivers; /* threads of this rank waiting in mpmp__wait_until */
  pthread_t agent;
  int agent_running;
  _Atomic int agent_stop;
  _Atomic int agent_deep;   /* the parked agent wants a wake when drivers hits 0 */
  double spin_s, poll_s;
  int spin_yield;           /* yield at every poll: our cores are crowded */

  /* tasks */
  struct mpmp__task_entry *tasks; /* sorted by name; index = task id */
  int ntasks, tasks_cap;
  struct mpmp__task_entry **tasks_by_fn; /* sorted by function pointer */

  /* main rank: processes and worker occupancy (guarded by lock) */
  pthread_mutex_t lock;
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
  /* Stop requests (see mpmp_should_stop): every job with an id up to
   * stop_upto (a pool's terminate), and the one job or process stop_one */
  _Atomic uint64_t stop_upto, stop_one;
  const struct mpmp__job *current;
  /* what the worker runs now, for the crash report (worker.c) */
  const char *_Atomic crash_task;
  _Atomic uint64_t crash_item;
  struct sigaction *crash_old;  /* the actions before ours, for teardown */  /* item index + 1; 0: a process body */
  struct mpmp__result_buf {   /* map results, reused (no page faults) */
    char *buf;
    size_t cap;
    int busy;                 /* req is a send still to be completed */
    MPI_Request req;
  } chunk_out[MPMP__RESULT_BUFS];
  int chunk_next;             /* the chunk_out to use next */
  struct mpmp__trace *trace;  /* MPMP_TRACE records; NULL when off */
} mpmp__rt_t;

extern mpmp__rt_t mpmp__rt;

/* MPMP_ENOTINIT unless between init and finalize (message set). */
int mpmp__check_init(const char *fn);
/* MPMP_ENOTMAIN unless on the main rank (message set). */
int mpmp__check_main(const char *fn);
int mpmp__is_local(int rank); /* same node as this rank */

/* ---- tasks -------------------------------------------------------------- */

typedef struct mpmp__task_entry {
  mpmp_task_fn fn;
  const char *name;
  const char *file;
} mpmp__task_entry_t;

/* Sort the table and check that all ranks agree (collective). */
int mpmp__tasks_setup(MPI_Comm comm);
void mpmp__tasks_fini(void);
/* Task id of fn, or MPMP_ENOTASK with a message naming fn. */
int mpmp__task_id(mpmp_task_fn fn);
const mpmp__task_entry_t *mpmp__task_get(int id);

struct mpmp_ctx {
  const void *arg;
  size_t arg_size;
  void *out;
  size_t out_size, out_max;
  void *slot;              /* map: the item's fixed-size result slot */
  char *errmsg;            /* set by mpmp_fail */
  int stoppable;           /* the stop requests below apply to this task */
  uint64_t id;             /* its job or process id */
};
void mpmp__ctx_fini(mpmp_ctx_t *ctx);
/* mpmp_should_stop() without the call through the PLT: a map's worker
 * asks it after every item (x*x items: it was a sixth of their time). */
static inline int mpmp__stopped(const mpmp_ctx_t *ctx) {
  return ctx->stoppable &&
         (ctx->id <= atomic_load_explicit(&mpmp__rt.stop_upto,
                                          memory_order_relaxed) ||
          ctx->id == atomic_load_explicit(&mpmp__rt.stop_one,
                                          memory_order_relaxed));
}

/* ---- worker and process ------------------------------------------------- */

void mpmp__worker_setup(void);   /* installs the worker's handlers */
void mpmp__crash_report_install(void); /* worker ranks: name the task on a crash */
void mpmp__crash_report_remove(void);  /* at teardown: the handlers before */
void mpmp__worker_serve(void);   /* the service loop, until SHUTDOWN */
void mpmp__process_setup(void);  /* installs the main rank's handlers */
int mpmp__process_finalize(void);/* join/terminate children at finalize */
void mpmp__process_fini(void);
void mpmp__pool_setup(void);     /* installs the main rank's pool handlers */
void mpmp__pool_finalize(void);  /* terminate and free the remaining pools */
/* Worker side: run one RUN_CHUNK message and report it. */
void mpmp__chunk_run(const void *msg, size_t len);
/* The worker is done with maps: wait for its results to go out. */
void mpmp__chunk_fini(void);
/* Main side: claim/free worker ranks (rt->lock held). */
int mpmp__claim_worker(void);
int mpmp__process_start_on(struct mpmp_process *p, int rank);
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
                                   int *rank);
/* A finished job all of whose items ran (not cut short by terminate). */
int mpmp__async_complete(const mpmp_async_t *j);

/* imap (imap.c) on a pool (pool.c): a map job of the iterator, which may
 * still be submitted after close() (Python lets an imap finish), and the
 * pool's record of its live iterators (rt->lock taken inside). */
int mpmp__pool_map_stream(mpmp_pool_t *pool, mpmp_task_fn fn, const void *in,
                          size_t n, size_t in_size, void *out,
                          size_t out_size, mpmp_async_cb cb, void *user,
                          mpmp_async_t **res);
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
 * `seq` are guarded by rt->lock; `seq` changes at every event, for a wait
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

/* Shared objects (object.c, value.c, sync.c). */
void mpmp__value_ops_register(void);
void mpmp__sync_ops_register(void);
void mpmp__queue_ops_register(void);
/* Manager (manager.c): handlers on every rank; shut servers down at
 * finalize (main rank, before processes are joined). */
void mpmp__manager_setup(void);
void mpmp__manager_finalize(void);
/* SharedMemory (shm.c): release what this process still holds in the
 * node's name table; every rank, at teardown, while the heap is mapped. */
void mpmp__shm_fini(void);

/* MPMP_TRACE (trace.c). Record only when mpmp__rt.trace is set; one
 * thread at a time (a worker's service thread; rt->lock on the main rank). */
enum { MPMP__TRACE_CHUNK, MPMP__TRACE_BODY, MPMP__TRACE_JOB };
int mpmp__trace_init(void);   /* every rank, before the agent starts;
                                 * the main rank opens the file */
double mpmp__trace_clock(void);
void mpmp__trace_add(int kind, int task, uint64_t first, uint32_t count,
                     const char *label, double t0, double t1);
void mpmp__trace_send(void);  /* worker ranks, after the service loop */
int mpmp__trace_write(void);  /* main rank, after SHUTDOWN went out */
void mpmp__trace_fini(void);

#endif /* MPMP_INTERNAL_H */
