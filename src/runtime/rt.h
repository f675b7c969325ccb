/*
 * The runtime layer: mpmp_init and mpmp_finalize over the layers' hooks
 * (runtime.c), the task table and task contexts (task.c), MPMP_TRACE
 * (trace.c). It sets up MPI, the node segment and the transport, and calls
 * the layers above only through the hooks the front door (src/mpmp.c)
 * hands it.
 */
#ifndef MPMP_RT_H
#define MPMP_RT_H

#include <pthread.h>

#include "base.h"
#include "topo.h"
#include "transport.h"

/* Bytes of the node control block, between the doorbells and the heap. */
#define MPMP__CTL_SIZE 64

/* ---- the layers' hooks ----------------------------------------------------- */

/*
 * What a module (a file of a layer above the runtime) asks the runtime to
 * call. The front door lists the modules in the order of the layers, lowest
 * first; any hook may be NULL.
 *   init      every rank, at mpmp_init, in table order, once MPI, the node
 *             segment and the transport are up; collective: a failure on
 *             any rank fails mpmp_init on all of them.
 *   setup     every rank (is_main: the main rank), in table order, after
 *             every init and before the progress thread starts: install
 *             message handlers, register operations.
 *   serve     worker ranks: serve the main rank until it shuts the job
 *             down (one module has it).
 *   finalize  the main rank, at mpmp_finalize, before the workers are told
 *             to stop: end what the user left running. In order of
 *             exit_priority, highest first, as Python's atexit runs its
 *             finalizers (a Pool's 15, a Manager's 0, then the processes
 *             still alive are joined or terminated); the first error is
 *             mpmp_finalize's.
 *   fini      every rank, at teardown (also of a failed init), in reverse
 *             table order: release what init made; safe on a partial init.
 */
typedef struct mpmp__module {
  const char *name;
  int (*init)(void);
  void (*setup)(int is_main);
  void (*serve)(void);
  int (*finalize)(void);
  int exit_priority;
  void (*fini)(void);
} mpmp__module_t;

/* mpmp_init and mpmp_finalize, for the front door: `mods` (n of them, at
 * most MPMP__MAX_MODULES) must live until the process ends. */
#define MPMP__MAX_MODULES 32
int mpmp__runtime_init(const mpmp__module_t *mods, int n, int *argc,
                       char ***argv);
/* The same over the program's communicator, `root` its main rank (MPI
 * already initialized by the program). */
int mpmp__runtime_init_comm(const mpmp__module_t *mods, int n, MPI_Comm comm,
                            int root);
int mpmp__runtime_finalize(void);

/* ---- the runtime's state ----------------------------------------------------- */

typedef enum { MPMP__UNINIT = 0, MPMP__RUNNING, MPMP__FINALIZED } mpmp__state_t;

struct mpmp__task_entry;

typedef struct mpmp__rt {
  _Atomic int state;
  pthread_mutex_t life_lock; /* held while mpmp_init/mpmp_finalize change state */
  int mpi_owned;            /* mpmp called MPI_Init_thread */
  /* the ranks mpmp runs on (mpmp_init: MPI_COMM_WORLD; mpmp_init_comm:
   * the program's) and the one of them that is the main rank */
  MPI_Comm base_comm;
  int base_root;
  MPI_Comm node_comm;       /* ranks sharing memory with this one */
  mpmp__env_t env;
  mpmp__topo_t topo;
  mpmp__bind_t bind;

  /* the node's shared segment: doorbells, control block, shared heap;
   * an MPI shared window (node_win), or on a node of one rank a shared
   * mapping of mpmp's own (node_map, node_map_size: make_segment says why) */
  MPI_Win node_win;
  void *node_map;
  size_t node_map_size;
  char *node_base;
  struct mpmp__node_ctl *node_ctl; /* its layout: objects/object.c */
  char *heap_base;          /* the node heap (heap.c), objects (object.c) */
  size_t heap_size;
  uint64_t obj_secret;      /* the same on every rank: handle tags */
  int *node_first;          /* node k's ranks: node_members[node_first[k]..] */
  int *node_members;
  _Atomic int nproxies;     /* threads waiting for remote callers */
  int waits_left;           /* calls still waiting in the segment at
                             * finalize (objects' fini: shsync.h) */

  /* tasks */
  struct mpmp__task_entry *tasks; /* sorted by name; index = task id */
  int ntasks, tasks_cap;
  struct mpmp__task_entry **tasks_by_fn; /* sorted by function pointer */
  /* Stop requests (see mpmp_should_stop): every job with an id up to
   * `upto` (a pool's terminate), and the single jobs or processes named
   * one by one: the latest in `one`, the last MPMP__STOPS_KEPT of them in
   * `kept` (ring at `next`), so that a second job's stop does not take
   * the first one's back (its queued chunks ran, its running task was no
   * longer asked to stop, and a caller waiting for it could wait for
   * ever). They are read through `stop`: this process's own words, or the
   * copy it shares with its task host (parallel/host.c), which reads the
   * same. */
#define MPMP__STOPS_KEPT 16
  struct mpmp__stops {
    _Atomic uint64_t upto, one;
    _Atomic uint64_t kept[MPMP__STOPS_KEPT];
    _Atomic uint32_t next;
  } stop_own, *stop;
  /* Bumped after each stop request changed the words: a map's item loop
   * compares it with its snapshot (one load) before it reads them. */
  _Atomic uint32_t stop_seq;

  struct mpmp__trace *trace;  /* MPMP_TRACE records; NULL when off */
} mpmp__rt_t;

extern mpmp__rt_t mpmp__rt;

/* MPMP_ENOTINIT unless between init and finalize (message set). */
int mpmp__check_init(const char *fn);
/* MPMP_ENOTMAIN unless on the main rank (message set). */
int mpmp__check_main(const char *fn);

/* ---- tasks -------------------------------------------------------------- */

/* A task's kind: called once per item (MPMP_TASK), or once per chunk of a
 * map with its items and results (MPMP_CHUNK_TASK, parallel/chunktask.c;
 * fn then holds an mpmp_chunk_fn). */
enum { MPMP__TASK_ITEM = 0, MPMP__TASK_CHUNK = 1 };

typedef struct mpmp__task_entry {
  mpmp_task_fn fn;
  const char *name;
  const char *file;
  int kind;                /* MPMP__TASK_* */
  mpmp__loop_fn loop;      /* MPMP_TASK's item loop for maps, or NULL */
} mpmp__task_entry_t;

/* Sort the table and check that all ranks agree (collective). */
int mpmp__tasks_setup(MPI_Comm comm);
void mpmp__tasks_fini(void);
/* Task id of fn, or MPMP_ENOTASK with a message naming fn (also for a
 * chunk task: every caller but a chunk map takes per-item tasks), or
 * MPMP_EINVAL for NULL. The message starts with "call: " (NULL: no
 * prefix, for a caller that wraps it). */
int mpmp__task_id(mpmp_task_fn fn, const char *call);
/* The same for a task of either kind (MPMP__TASK_*; a chunk task's fn is
 * its mpmp_chunk_fn converted): MPMP_ENOTASK for one of the other kind or
 * an unregistered function, saying which to use. */
int mpmp__task_id_kind(mpmp_task_fn fn, int kind, const char *call);
const mpmp__task_entry_t *mpmp__task_get(int id);

struct mpmp_ctx {
  /* The head that task.h's inline mpmp_arg()/mpmp_out() read, under the
   * names the library uses: same types, same order (checked below). */
  union {
    struct mpmp__ctx_head head;
    struct {
      const void *arg;
      size_t arg_size;
      void *slot;          /* map: the item's fixed-size result slot */
      size_t out_size;
      void *out;
      char *errmsg;        /* set by mpmp_fail */
    };
  };
  size_t out_max;
  int stoppable;           /* the stop requests below apply to this task */
  int saw_stop;            /* mpmp_should_stop() said 1 to it: whatever it
                              returns then may be partial (a pool's item
                              that never asked returned a whole result) */
  int body;                /* a Process body (in a task host): a stop
                              terminates it, whatever it asked */
  uint64_t id;             /* its job or process id */
};
_Static_assert(offsetof(struct mpmp_ctx, arg) ==
                   offsetof(struct mpmp__ctx_head, arg) &&
               offsetof(struct mpmp_ctx, arg_size) ==
                   offsetof(struct mpmp__ctx_head, arg_size) &&
               offsetof(struct mpmp_ctx, slot) ==
                   offsetof(struct mpmp__ctx_head, slot) &&
               offsetof(struct mpmp_ctx, out_size) ==
                   offsetof(struct mpmp__ctx_head, out_size) &&
               offsetof(struct mpmp_ctx, out) ==
                   offsetof(struct mpmp__ctx_head, out) &&
               offsetof(struct mpmp_ctx, errmsg) ==
                   offsetof(struct mpmp__ctx_head, errmsg),
               "mpmp_ctx_t's head must match task.h's mpmp__ctx_head");
void mpmp__ctx_fini(mpmp_ctx_t *ctx);
/* A result buffer of mpmp_out() has this many guard bytes after it; a
 * task that changed them is failed with a message saying so (task.c).
 * Called where a task returned with ctx->out set, before its result is
 * taken. */
#define MPMP__OUT_GUARD 64
void mpmp__out_check(mpmp_ctx_t *ctx);
/* The same guard after other result buffers (a map chunk's): set it in
 * the MPMP__OUT_GUARD bytes at `end`; the index of its first changed byte,
 * or MPMP__OUT_GUARD when it is intact. */
void mpmp__guard_set(void *end);
size_t mpmp__guard_changed(const void *end);
/* Whether the stop words `st` name job or process `id`: the latest
 * single stop first (one load), then the ones kept before it. */
static inline int mpmp__stop_named(const struct mpmp__stops *st,
                                   uint64_t id) {
  if (id <= atomic_load_explicit(&st->upto, memory_order_relaxed) ||
      id == atomic_load_explicit(&st->one, memory_order_relaxed))
    return 1;
  if (atomic_load_explicit(&st->next, memory_order_relaxed) < 2)
    return 0; /* none but `one` */
  for (int i = 0; i < MPMP__STOPS_KEPT; i++)
    if (id == atomic_load_explicit(&st->kept[i], memory_order_relaxed))
      return 1;
  return 0;
}

/* mpmp_should_stop() without the call through the PLT: a map's worker
 * asks it after an item only once a stop request came in (stop_seq). */
static inline int mpmp__stopped(const mpmp_ctx_t *ctx) {
  return ctx->stoppable && mpmp__stop_named(mpmp__rt.stop, ctx->id);
}

/* A single job's or process's stop, into the words `st` (one writer: the
 * rank's progress engine). */
static inline void mpmp__stop_one(struct mpmp__stops *st, uint64_t id) {
  uint32_t n = atomic_load_explicit(&st->next, memory_order_relaxed);
  atomic_store_explicit(&st->kept[n % MPMP__STOPS_KEPT], id,
                        memory_order_relaxed);
  atomic_store_explicit(&st->next, n + 1, memory_order_relaxed);
  atomic_store_explicit(&st->one, id, memory_order_release);
}

/*
 * MPMP_TRACE (trace.c). Record only when mpmp__rt.trace is set. A worker
 * records its chunks and process bodies (begin, then add at the end; one
 * at a time), the main rank its jobs (job_begin at submission, add with
 * MPMP__TRACE_JOB when ready). The file is written at init, every
 * MPMP_TRACE_FLUSH_S seconds, at finalize, and on SIGTERM or SIGINT.
 */
enum { MPMP__TRACE_CHUNK, MPMP__TRACE_BODY, MPMP__TRACE_JOB };
int mpmp__trace_init(void);   /* every rank (collective), before the
                                 * layers' setup and the agent; the main
                                 * rank opens the file */
double mpmp__trace_clock(void);
/* A chunk or body starts (the time); it ends with mpmp__trace_add. */
double mpmp__trace_begin(int kind, int task, uint64_t first, uint32_t count,
                         const char *label);
/* A job was submitted (the time, its t0 for mpmp__trace_add). */
double mpmp__trace_job_begin(int task, uint64_t id, uint32_t items);
void mpmp__trace_add(int kind, int task, uint64_t first, uint32_t count,
                     const char *label, double t0, double t1);
/* From a signal handler (async-signal-safe): `sig` came and stops the
 * maps, without ending the process: write the file now. */
void mpmp__trace_stop_signal(int sig);
/* End the process by signal `sig` (unblocked, its default action), as it
 * would have died without the handler that calls this: async-signal-safe. */
_Noreturn void mpmp__die_by(int sig);
void mpmp__trace_send(void);  /* worker ranks, after the service loop */
int mpmp__trace_write(void);  /* main rank, after SHUTDOWN went out */
void mpmp__trace_fini(void);


#endif /* MPMP_RT_H */
