/*
 * Pool (the main rank's side): jobs split into chunks that are dealt to the
 * pool's worker ranks as they free up (dynamic self-scheduling), two chunks
 * in flight per worker so a worker never waits for the main rank. Results
 * arrive as CHUNK_DONE messages; whichever thread drives progress (a waiter
 * in get(), or the agent while the program computes) copies them into the
 * caller's output, records failures and deals the next chunk, so
 * asynchronous maps progress without the main rank calling mpmp.
 *
 * All pool and job state is guarded by mpmp__par.lock.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "objects.h"
#include "parallel.h"
#include "proto.h"

#define INFLIGHT 2 /* chunks per worker: one running, one waiting */
#define DEFAULT_MAX_RESULT (64 * 1024)

enum { POOL_RUN, POOL_CLOSED, POOL_TERMINATED };

typedef struct fail {
  size_t index;
  int rank, code; /* code: MPMP_ETASK, MPMP_ECRASHED, MPMP_ETIMEDOUT */
  char *msg;
} fail_t;

/* A job's place in a watch (as_completed, futures_wait): see "watches". */
typedef struct watch_link {
  mpmp__watch_t *w;
  size_t slot;
} watch_link_t;

struct mpmp_async {
  mpmp_async_t *next;       /* in the pool's list of unfinished jobs */
  mpmp_pool_t *pool;        /* NULL once complete: the pool may go first */
  uint64_t id;
  int task, orphan;         /* orphan: destroyed by the user while running */
  const char *in;
  char *out, *own_in;       /* own_in: apply's copy of its argument */
  size_t n, in_size, out_size, out_max, chunk, next_item, done_items;
  int chunks_out;           /* chunks dealt and not yet back */
  _Atomic int ready;
  fail_t *fails;
  int nfails, fails_cap;
  fail_t *retries;          /* items to deal again: their hosts died (code:
                               the runs so far, rank: where the last was) */
  int nretry, retry_cap;
  size_t lost_fails;        /* failures not recorded: out of memory */
  struct never { size_t first, count; } *never; /* items that never ran: */
  int nnever, never_cap;    /* the pool was terminated (or the map stopped) */
  size_t never_n;           /* before they were dealt or begun (add_never) */
  void *result;             /* apply: its bytes, in result_msg */
  size_t result_size;
  void *result_msg;         /* the CHUNK_DONE message holding them (kept:
                               no copy of a large result) */
  mpmp_async_cb cb;
  void *user;
  struct { mpmp_async_cb cb; void *user; } *more; /* add_done_callback */
  int nmore, cancelled, stopped; /* stopped: deal no more (map timeout) */
  _Atomic int in_callback; /* ready, callbacks not yet run: destroy must
                            * not free (written under mpmp__par.lock; a
                            * get reads it without: async_wait_cbs) */
  double t_submit;  /* MPMP_TRACE: when it was submitted */
  watch_link_t link;     /* the first watch it is in (link.w NULL: none) */
  watch_link_t *links;   /* further watches */
  int nlinks, links_cap;
  /* checkpoints (journal.c): the map's journal (own_jr: closed when the
   * job completes; else an imap's), where item 0 of the job is in it, the
   * items it had done before this run (done_bits: NULL when none) */
  mpmp__journal_t *jr;
  mpmp_async_t *prev;    /* in the pool's list (with next): a cancel takes
                            its job out at once, not from the list's head */
  uint64_t jbase;
  uint64_t group; /* the id its stops name: an imap's, for its sub-maps
                    (one stop reaches them all); else its own id */
  unsigned char *done_bits;
  size_t resumed;
  char *jpath;           /* the journal's path, for the messages */
  int interrupted;       /* ended by a stop (walltime, SIGUSR1, SIGTERM) */
  int receiving;         /* results being received into `out` now, outside
                            the lock (on_chunk_done): a detach waits. (In
                            the hole before `var`: the job's size moves
                            task_async_per_s; see `back`) */
  mpmp__var_t *var;      /* variable-size items and results (varmap.c) */
  mpmp__shm_ref_t *zc;   /* zero-copy (chunktask.c): where its items and
                            results lie for the workers of this node; NULL:
                            they travel */
  size_t *home;          /* a zero-copy map's home ranges (send_home): the
                            next and the end item of worker w's at 2w, 2w+1;
                            NULL: dealt in order */
  int nhome;             /* workers with a home range; -1: dealt in order */
  /* A worker's future of a sub-task that the main rank runs (nested
   * submission, worker.c): no pool here; the main rank's answer fills it
   * (mpmp__async_remote_done). remote_rank: where it ran. */
  int remote, remote_rank;
  /* (in the hole before `back`: the job stays 400 bytes) own_jr: the
   * journal is the job's own; jr_digest: records carry their input's
   * digest */
  unsigned char own_jr, jr_digest;
  unsigned char jr_broken; /* its journal stopped recording (a full disk) */
  /* Chunks a worker gave back unrun (a revoke: see "Taking back a queued
   * chunk"), made at the job's first revoke; NULL: none. One pointer: a
   * job of 424 bytes instead of 392 halved task_async_per_s (300 k
   * against 700 k tasks/s, -n 2 on this VM: malloc's size classes, it
   * seems); 400 bytes do not. */
  struct back {
    struct never *r;  /* dealt again before the items not dealt yet */
    int n, cap;
    size_t items;     /* in r */
    int out;          /* revokes not yet answered: each has its place in r */
  } *back;
};

struct mpmp_pool {
  mpmp_pool_t *next;        /* in mpmp__par.pools */
  int nworkers, state, joined;
  int *ranks, *inflight;
  int *seceded;             /* tasks of the worker that wait on a sub-task
                               (nested submission): each gives its slot
                               back while it waits and runs sub-tasks */
  size_t max_result;
  int isolate;              /* run the tasks in task hosts */
  uint32_t id;              /* an isolated pool's: its hosts are its own */
  double task_timeout;      /* seconds per item in a host; 0: no limit */
  int max_retries;          /* more runs of an item whose host died */
  int max_tasks;            /* tasks a host runs before it is replaced; 0 */
  mpmp_async_t *jobs, *jobs_tail;
  uint64_t last_id;         /* the newest job submitted: terminate stops
                               every job up to it */
  mpmp_imap_t **iters;      /* live imap iterators (imap.c) */
  int niters, iters_cap;
  int feeding;              /* of those, the ones whose producer has not
                               ended yet */
  char *checkpoint;         /* its journals' directory (NULL: MPMP_CHECKPOINT) */
  /* The chunk dealt last to each worker (the one queued there, while its
   * inflight is 2; not kept in a pool of one worker), and the chunk of
   * each a revoke asks back (job 0: none): see "Taking back a queued
   * chunk". */
  struct chunk_at { uint64_t job; size_t first; uint32_t tried; } *last,
      *revoke;
  /* Workers that have no task host any more (an isolated pool's: the
   * fork server of hostless[w] died, or never started), and how many: see
   * "Workers without a task host". They are dealt nothing while another
   * worker of the pool has a host. */
  unsigned char *hostless;
  int nohost;
  struct stage *stage;      /* staging slots of its workers of this node
                               (see "Staging"); NULL: none (yet) */
  int stage_failed;         /* they could not be made: never again */
  int cancelled;            /* its executor was shut down with
                               cancel_futures: no imap sub-map either */
};

/* After a stop (walltime.c), the grace is over and the running tasks of
 * every pool were told to stop. */
static _Atomic int stop_told;

/* Jobs and processes share one id space: a terminate names an id, and a
 * worker compares it with whatever it runs. */
static uint64_t next_job_id(void) {
  return atomic_fetch_add(&mpmp__par.next_id, 1) + 1;
}

/* An id for a group of jobs that stop together (an imap's sub-maps),
 * below every id of its jobs: a pool's terminate stops jobs up to an id. */
uint64_t mpmp__pool_group_id(void) { return next_job_id(); }

/* ---- dealing chunks (mpmp__par.lock held) --------------------------------------- */

/* The retry of `j` that rank may run (another worker's, unless the pool
 * has only one), or -1. */
static int retry_for(const mpmp_pool_t *pool, const mpmp_async_t *j,
                     int rank) {
  /* (the one worker that has a task host runs it again itself) */
  for (int k = 0; k < j->nretry; k++)
    if (j->retries[k].rank != rank || pool->nworkers - pool->nohost <= 1)
      return k;
  return -1;
}

/* Is worker w dealt nothing: it has no task host, and another worker of
 * the pool has one? (When none has, all are dealt to, and their items
 * fail there: not_run_there.) */
static int skip_hostless(const mpmp_pool_t *pool, int w) {
  return pool->hostless[w] && pool->nohost < pool->nworkers;
}

/* Can a worker whose task waits on a sub-task run the job's chunks in its
 * wait? Only those that keep no reused result buffer (chunk.c): applies,
 * and maps with no fixed-size results, not isolated ones. */
static int helpable(const mpmp_pool_t *pool, const mpmp_async_t *j) {
  return j->out_size == 0 && j->var == NULL && !pool->isolate;
}

/* The first job with work for `rank`: a retry it may run (*retry), or
 * items not dealt yet (*retry = -1). help: only jobs a waiting task's
 * worker runs (helpable). */
static mpmp_async_t *job_for(mpmp_pool_t *pool, int rank, int *retry,
                             int help) {
  for (mpmp_async_t *j = pool->jobs; j != NULL; j = j->next) {
    if (help && !helpable(pool, j))
      continue;
    *retry = j->stopped ? -1 : retry_for(pool, j, rank);
    if (*retry >= 0 || (j->back != NULL && j->back->n > 0) ||
        j->next_item < j->n)
      return j;
  }
  return NULL;
}

/* Does rank read the job's items and write its results in place (a
 * zero-copy map, a worker of this node, no task host between)? Its chunks
 * then carry no items, and their CHUNK_DONE no results. */
static int in_place(const mpmp_async_t *j, int rank) {
  return j->zc != NULL && !j->pool->isolate &&
         mpmp__net.ranks[rank].node == mpmp__net.node;
}

static int stage_kind(const mpmp_async_t *j);
static int worker_here(const mpmp_pool_t *pool, int w);

/* Are all of the pool's workers on this node, with staging slots for j's
 * chunks? Then an automatic chunk fills a slot (see "Staging"). */
static int all_staged(const mpmp_pool_t *pool, const mpmp_async_t *j) {
  if (pool->stage == NULL || !stage_kind(j))
    return 0;
  for (int w = 0; w < pool->nworkers; w++)
    if (!worker_here(pool, w))
      return 0;
  return pool->nworkers > 0;
}

/* Do all of the pool's workers run j in place? Then its chunks move no
 * items and no results, and an automatic chunk needs no byte cap (submit):
 * Python's n / (4 x workers) alone, fewer chunks and so fewer wake-ups of
 * the main rank (a 10^7-int zero-copy map at -n 3: 3.1 ms against 3.5 ms
 * with 4 MiB chunks). */
static int all_in_place(const mpmp_pool_t *pool, const mpmp_async_t *j) {
  for (int w = 0; w < pool->nworkers; w++)
    if (!in_place(j, pool->ranks[w]))
      return 0;
  return pool->nworkers > 0;
}

/*
 * Staging. A copying map's chunk for a worker of the main rank's node goes
 * through shared memory: the main rank copies its items into one of the
 * worker's staging slots (INFLIGHT per worker, STAGE_SLOT bytes each, in
 * one block of the pool's made at its first large map), the worker runs
 * it in place as a zero-copy chunk (MPMP__SHM_STAGED: the slot's offsets
 * are the chunk's own) and writes its results into the slot, and the main
 * rank copies them into the caller's output when the chunk is done. The
 * items and results otherwise travel as MPI messages, which Open MPI
 * moves between two processes of a node with its single copy (CMA:
 * process_vm_readv, pinning each page), each side waiting on the other;
 * memcpy moves an x*x item's 12 bytes in 0.7 ns here, and the main
 * rank's copies overlap the worker's run of its other slot (the worker
 * runs a staged chunk on private copies: chunktask.c). A map of 10^7 ints
 * to x*x at -n 2: 20 ms staged against 33 ms through MPI in the same
 * period (slots of 256 KiB to 2 MiB within 10 % of each other; 512 KiB,
 * the chunk maps' cache-sized chunk, was the fastest).
 * The slots stay mapped in the workers (chunktask.c's views) from map to
 * map, so their pages fault in once. A chunk that does not fit a slot,
 * or finds both of its worker's slots taken, goes the ordinary way; so
 * do the chunks of isolated pools (their task hosts map no blocks),
 * variable-size maps and applies. Chunks of a worker of another node
 * travel as before.
 */
#define STAGE_SLOT ((size_t)512 * 1024)
#define STAGE_ALIGN 64 /* the results start on a cache line of the slot */

struct stage {
  mpmp_shm_t *shm;
  char *buf;
  mpmp__shm_ref_t ref; /* the block's name and generation */
  struct stage_use { uint64_t job, first; } use[]; /* per slot; job 0: free */
};

static size_t stage_in_bytes(size_t bytes) {
  return (bytes + STAGE_ALIGN - 1) / STAGE_ALIGN * STAGE_ALIGN;
}

/* Could j's chunks be staged (the kind of map, not yet the chunk)? */
static int stage_kind(const mpmp_async_t *j) {
  return j->zc == NULL && j->var == NULL && j->out != NULL &&
         j->out_size > 0 && !j->pool->isolate && j->in_size <= STAGE_SLOT &&
         j->out_size <= STAGE_SLOT;
}

static int worker_here(const mpmp_pool_t *pool, int w) {
  return mpmp__net.ranks[pool->ranks[w]].node == mpmp__net.node;
}

/* A free staging slot of worker w for a chunk of `count` items of j, or
 * -1: the chunk goes the ordinary way (small enough to go inline, too
 * large for a slot, no slot free, a worker of another node). */
static int stage_slot(const mpmp_async_t *j, int w, size_t count) {
  const struct stage *st = j->pool->stage;
  if (st == NULL || !stage_kind(j) || !worker_here(j->pool, w))
    return -1;
  size_t in = count * j->in_size, out = count * j->out_size;
  if ((in <= MPMP__INLINE_MAX && out <= MPMP__INLINE_MAX) ||
      count > STAGE_SLOT || stage_in_bytes(in) + out > STAGE_SLOT)
    return -1;
  for (int k = w * INFLIGHT; k < (w + 1) * INFLIGHT; k++)
    if (st->use[k].job == 0)
      return k;
  return -1;
}

/* The slot of worker w that holds chunk (job, first), or -1. */
static int stage_find(const mpmp_pool_t *pool, int w, uint64_t job,
                      uint64_t first) {
  const struct stage *st = pool != NULL ? pool->stage : NULL;
  for (int k = w * INFLIGHT; st != NULL && w >= 0 && k < (w + 1) * INFLIGHT;
       k++)
    if (st->use[k].job == job && st->use[k].first == first)
      return k;
  return -1;
}

static void stage_free(struct stage *st) {
  if (st == NULL)
    return;
  if (mpmp_initialized())
    mpmp_shm_unlink(st->shm);
  mpmp_shm_close(st->shm);
  mpmp__free(st);
}

/* The pool's staging block, made before j is queued if j is a map that
 * would use it (outside mpmp__par.lock: a block is a memfd and a name in
 * the node's table). It fails quietly: the chunks then travel as before. */
static void stage_make(mpmp_pool_t *pool, const mpmp_async_t *j) {
  if (pool->stage != NULL || pool->stage_failed || !stage_kind(j) ||
      j->n <= 2 * MPMP__INLINE_MAX / (j->in_size + j->out_size))
    return; /* (an apply leaves here: no result slots) */
  int here = 0;
  for (int w = 0; w < pool->nworkers && !here; w++)
    here = worker_here(pool, w);
  if (!here)
    return;
  size_t slots = (size_t)pool->nworkers * INFLIGHT;
  mpmp__errmark_t mark = mpmp__err_mark();
  struct stage *st = mpmp__calloc(1, sizeof *st + slots * sizeof st->use[0]);
  if (st == NULL || mpmp_shm_create(&st->shm, NULL, slots * STAGE_SLOT) < 0) {
    mpmp__free(st);
    pool->stage_failed = 1;
    mpmp__err_restore(mark); /* (the map goes on without) */
    return;
  }
  st->buf = mpmp_shm_buf(st->shm);
  snprintf(st->ref.in_name, sizeof st->ref.in_name, "%s",
           mpmp_shm_name(st->shm));
  memcpy(st->ref.out_name, st->ref.in_name, sizeof st->ref.out_name);
  st->ref.in_gen = st->ref.out_gen = mpmp__shm_gen(st->shm);
  pthread_mutex_lock(&mpmp__par.lock);
  int mine = pool->stage == NULL;
  if (mine)
    pool->stage = st;
  pthread_mutex_unlock(&mpmp__par.lock);
  if (!mine) /* another thread's map made one meanwhile */
    stage_free(st);
}

/* The header, then the items straight from the caller's memory (valid
 * until the job completes, which needs this chunk back), or through a
 * staging slot. */
static int send_items(mpmp_async_t *j, int w, size_t first, size_t count,
                      uint32_t tried) {
  int rank = j->pool->ranks[w];
  size_t bytes = count * j->in_size;
  size_t inl = bytes <= MPMP__INLINE_MAX ? bytes : 0;
  int zc = in_place(j, rank);
  int slot = zc ? -1 : stage_slot(j, w, count);
  mpmp__shm_ref_t staged;
  if (slot >= 0) { /* the items into the slot, the results after them */
    struct stage *st = j->pool->stage;
    size_t at = (size_t)slot * STAGE_SLOT;
    if (bytes > 0)
      memcpy(st->buf + at, j->in + first * j->in_size, bytes);
    staged = st->ref;
    staged.in_off = at;
    staged.out_off = at + stage_in_bytes(bytes);
    st->use[slot] = (struct stage_use){j->id, first};
    zc = (int)MPMP__SHM_STAGED;
  }
  if (zc)
    inl = sizeof *j->zc;
  if (j->var) /* offsets and items inline: the items are not contiguous
                 with anything the worker could receive in place */
    inl = mpmp__var_chunk_bytes(j->var, first, count);
  const char *items = j->in + first * j->in_size;
  mpmp__chunk_hdr_t *h = mpmp__malloc(sizeof *h + inl);
  if (h == NULL)
    return mpmp__err(MPMP_ENOMEM, "out of memory for a chunk");
  *h = (mpmp__chunk_hdr_t){.job = j->id, .first = first,
                           .count = (uint32_t)count, .task = j->task,
                           .in_size = j->in_size, .out_size = j->out_size,
                           .out_max = j->out_max,
                           .isolate = (uint32_t)j->pool->isolate,
                           .pool = j->pool->isolate ? j->pool->id : 0,
                           .task_timeout = j->pool->task_timeout,
                           .max_retries = (uint32_t)j->pool->max_retries,
                           .tried = tried,
                           .redeal = j->pool->nworkers > 1,
                           .var = j->var != NULL,
                           .max_tasks = (uint32_t)j->pool->max_tasks,
                           .shm = (uint32_t)zc, .base = j->jbase,
                           .group = j->group};
  if (j->var)
    mpmp__var_chunk_fill(j->var, first, count, h + 1);
  else if (slot >= 0)
    memcpy(h + 1, &staged, sizeof staged);
  else if (zc)
    memcpy(h + 1, j->zc, sizeof *j->zc);
  else if (inl)
    memcpy(h + 1, items, inl);
  /* (a pool of one worker never revokes: nothing to keep) */
  if (j->pool->nworkers > 1)
    j->pool->last[w] = (struct chunk_at){j->id, first, tried};
  int rc = mpmp__send_nb(rank, MPMP__TAG_RUN_CHUNK, h, sizeof *h + inl);
  if (rc < 0 && slot >= 0)
    j->pool->stage->use[slot].job = 0;
  if (rc == 0 && bytes > 0 && !inl)
    rc = mpmp__send_data_nb(rank, MPMP__TAG_CHUNK_INPUT, items, bytes);
  j->chunks_out++;
  return rc;
}

static int is_done(const unsigned char *bits, size_t i) {
  return (bits[i >> 3] >> (i & 7)) & 1;
}

/*
 * Items that will never run: the pool was terminated (or the map stopped
 * at its timeout) before they were dealt, or before their worker began
 * their chunk. They are failures as an item cut short is ("terminated"),
 * counted and listed by mpmp_async_failed_count/_failure, and their
 * result slots read as zeros: before, they were left out of both, and a
 * caller that trusted the failure list read whatever the buffer held as
 * their results. Kept as ranges (a terminated map of 10^8 items is a
 * few); out of memory, they are counted only (lost_fails).
 */
static void add_never(mpmp_async_t *j, size_t first, size_t count) {
  if (count == 0)
    return;
  if (j->nnever == j->never_cap) {
    int cap = j->never_cap ? 2 * j->never_cap : 8;
    struct never *p = mpmp__realloc(j->never, (size_t)cap * sizeof *p);
    if (p == NULL) {
      j->lost_fails += count;
      return;
    }
    j->never = p;
    j->never_cap = cap;
  }
  j->never[j->nnever++] = (struct never){first, count};
  j->never_n += count;
}

/* Past the items a resumed job had from its journal. */
static void skip_done(mpmp_async_t *j) {
  if (j->done_bits == NULL)
    return;
  while (j->next_item < j->n) {
    uint64_t w;
    if ((j->next_item & 63) == 0 && j->next_item + 64 <= j->n &&
        (memcpy(&w, j->done_bits + (j->next_item >> 3), 8), w == ~0ull))
      j->next_item += 64; /* a resumed map skips millions of items */
    else if (is_done(j->done_bits, j->next_item))
      j->next_item++;
    else
      break;
  }
  if (j->next_item > j->n)
    j->next_item = j->n;
}

/* Deal no more of j: what it has not dealt never runs (the items a
 * resumed job had done are not among them). */
static void drop_undealt(mpmp_async_t *j) {
  for (int k = 0; k < j->nhome; k++) { /* home ranges (zero-copy maps) */
    add_never(j, j->home[2 * k], j->home[2 * k + 1] - j->home[2 * k]);
    j->home[2 * k] = j->home[2 * k + 1];
  }
  for (int k = 0; j->back != NULL && k < j->back->n; k++) /* (revoked) */
    add_never(j, j->back->r[k].first, j->back->r[k].count);
  if (j->back != NULL) {
    j->back->n = 0;
    j->back->items = 0;
  }
  while (j->nhome <= 0 && j->next_item < j->n) {
    size_t first = j->next_item;
    while (j->next_item < j->n &&
           (j->done_bits == NULL || !is_done(j->done_bits, j->next_item)))
      j->next_item++;
    add_never(j, first, j->next_item - first);
    skip_done(j);
  }
  j->next_item = j->n;
}

/*
 * A zero-copy map over several workers gives each worker its own share of
 * the items, its home range (the share of worker w of W: items w*n/W up to
 * (w+1)*n/W), and deals it that range's chunks in order; a worker whose
 * range is dealt takes the last chunk of the range with the most items left.
 * Why: a worker reads and writes a block's pages through its own mapping,
 * and the first touch of each page there costs a page fault (12-16 us on
 * this project's VM, whose paging is shadowed; 0.2-1 us on bare metal). In
 * order, a chunk went to whichever worker asked first, so every map of the
 * same block gave each worker some pages it had never touched: at -n 3 one
 * chunk in 15 (700 faults, 10-15 ms against 0.2 ms for a warm one) and the
 * map ran at 0.4x the serial loop. With home ranges, the next map of the
 * block gives each worker the pages it touched at the last one (OpenMP's
 * static schedule, for the same reason: first-touch locality, also of
 * NUMA memory), and the steals at the end keep the balance of dynamic
 * dealing. A resumed map (done items to skip) deals in order.
 */
static int home_ranges(mpmp_async_t *j) {
  if (j->nhome == 0) {
    int w = j->pool->nworkers;
    j->nhome = -1;
    if (j->zc != NULL && j->done_bits == NULL && j->var == NULL && w > 1 &&
        j->next_item == 0 &&
        (j->home = mpmp__malloc(2 * (size_t)w * sizeof *j->home)) != NULL) {
      size_t base = j->n / (size_t)w, rem = j->n % (size_t)w;
      for (int k = 0; k < w; k++) {
        size_t uk = (size_t)k;
        j->home[2 * k] = uk * base + (uk < rem ? uk : rem);
        j->home[2 * k + 1] = j->home[2 * k] + base + (uk < rem);
      }
      j->nhome = w;
    } /* else (out of memory too): in order, as any map */
  }
  return j->nhome > 0;
}

/* The next chunk of worker w's home range, or one stolen from the end of
 * the range with the most left. next_item counts the items dealt. */
static int send_home(mpmp_async_t *j, int w) {
  size_t *r = w < j->nhome ? &j->home[2 * w] : NULL;
  int steal = r == NULL || r[0] == r[1];
  for (int k = 0; steal && k < j->nhome; k++)
    if (k == 0 || j->home[2 * k + 1] - j->home[2 * k] > r[1] - r[0])
      r = &j->home[2 * k];
  size_t count = r[1] - r[0] < j->chunk ? r[1] - r[0] : j->chunk;
  size_t first = steal ? (r[1] -= count) : (r[0] += count) - count;
  j->next_item += count;
  return send_items(j, w, first, count, 0);
}

/* The next chunk for worker w: up to `chunk` items, none of them done
 * (resumed). */
static int send_chunk(mpmp_async_t *j, int w) {
  if (home_ranges(j))
    return send_home(j, w);
  size_t count = j->n - j->next_item < j->chunk ? j->n - j->next_item : j->chunk;
  for (size_t c = 1; j->done_bits != NULL && c < count; c++)
    if (is_done(j->done_bits, j->next_item + c))
      count = c;
  if (j->var)
    count = mpmp__var_fit(j->var, j->next_item, count);
  int rc = send_items(j, w, j->next_item, count, 0);
  j->next_item += count;
  skip_done(j);
  return rc;
}

/* Deal again the last chunk that a worker gave back unrun (revoke). */
static int send_back(mpmp_async_t *j, int w) {
  struct never b = j->back->r[--j->back->n];
  j->back->items -= b.count;
  return send_items(j, w, b.first, b.count, 0);
}

/* Deal retry k of j to worker w: a chunk of its one item. */
static int send_retry(mpmp_async_t *j, int k, int w) {
  fail_t r = j->retries[k];
  memmove(&j->retries[k], &j->retries[k + 1],
          (size_t)(j->nretry - k - 1) * sizeof *j->retries);
  j->nretry--;
  mpmp__free(r.msg);
  return send_items(j, w, r.index, 1, (uint32_t)r.code);
}

/* Are at least `items` items left to deal? (Stops counting there: an
 * executor may hold thousands of one-item jobs.) */
static int work_left(const mpmp_pool_t *pool, size_t items) {
  size_t left = 0;
  for (const mpmp_async_t *j = pool->jobs; j != NULL && left < items;
       j = j->next)
    left += j->n - j->next_item + (size_t)j->nretry +
            (j->back ? j->back->items : 0);
  return left >= items;
}

/*
 * Round 0 gives every idle worker a chunk; round 1 queues a second one
 * behind a busy worker's, to hide the round trip, but only while enough
 * work remains for every worker to get a chunk after it: at the end of a
 * map, a chunk queued behind a long one would wait there while another
 * worker sits idle (16 items of 6 ms on 2 workers: one item of imbalance
 * is 12 % of the map).
 */
static void deal(mpmp_pool_t *pool) {
  if (pool->state == POOL_TERMINATED || mpmp__stopping())
    return;
  for (int round = 0; round < INFLIGHT; round++)
    for (int w = 0; w < pool->nworkers; w++) {
      mpmp_async_t *j;
      int k = -1;
      /* A worker whose tasks wait on sub-tasks (seceded) has their slots
       * back, for what it can run while they wait; it takes them whatever
       * work is left (its waiting task may need the one sub-task there is). */
      int help = pool->seceded[w] > 0;
      int busy = pool->inflight[w] - pool->seceded[w];
      /* round 0 serves the idle workers only: an item queued behind a
       * busy worker's task while another sat idle waited there (Python's
       * free worker takes the next item of the shared queue) */
      if (busy >= INFLIGHT || (round == 0 && busy > 0 && !help) ||
          (__builtin_expect(pool->nohost != 0, 0) && skip_hostless(pool, w)) ||
          (j = job_for(pool, pool->ranks[w], &k, help)) == NULL)
        continue;
      if (k < 0 && busy > 0 && !help &&
          !work_left(pool, ((size_t)pool->nworkers + 1) * j->chunk))
        continue;
      if ((k >= 0       ? send_retry(j, k, w)
           : j->back != NULL && j->back->n > 0 ? send_back(j, w)
                          : send_chunk(j, w)) == 0)
        pool->inflight[w]++;
      else
        MPMP__ERROR("could not deal a chunk to rank %d: %s", pool->ranks[w],
                    mpmp_errmsg());
    }
}

/* ---- results (progress context) ------------------------------------------------ */

static void add_fail(mpmp_async_t *j, size_t index, int rank, int code,
                     const char *msg, size_t len) {
  if (j->nfails == j->fails_cap) {
    int cap = j->fails_cap ? 2 * j->fails_cap : 8;
    fail_t *f = mpmp__realloc(j->fails, (size_t)cap * sizeof *f);
    if (f == NULL) { /* the failure counts, its record is lost */
      j->lost_fails++;
      return;
    }
    j->fails = f;
    j->fails_cap = cap;
  }
  char *m = mpmp__malloc(len + 1);
  if (m != NULL) {
    memcpy(m, msg, len);
    m[len] = '\0';
  }
  j->fails[j->nfails++] = (fail_t){index, rank, code, m};
}

/* Item `index`, whose host died in its `tried`-th run on `rank` and which
 * has retries left, is dealt again (deal): 1. Out of memory it is not, and
 * fails as it died: 0. */
static int add_retry(mpmp_async_t *j, size_t index, int rank, int tried,
                     const char *msg, size_t len) {
  char *m = mpmp__malloc(len + 1);
  if (j->nretry == j->retry_cap && m != NULL) {
    int cap = j->retry_cap ? 2 * j->retry_cap : 4;
    fail_t *r = mpmp__realloc(j->retries, (size_t)cap * sizeof *r);
    if (r != NULL) {
      j->retries = r;
      j->retry_cap = cap;
    }
  }
  if (m == NULL || j->nretry == j->retry_cap) {
    mpmp__free(m);
    add_fail(j, index, rank, MPMP_ECRASHED, msg, len);
    return 0;
  }
  memcpy(m, msg, len);
  m[len] = '\0';
  j->retries[j->nretry++] = (fail_t){index, rank, tried, m};
  return 1;
}

/*
 * A map chunk's results follow the header as their own message: receive
 * them straight into the caller's output (no copy, no buffer to fault in).
 * MPI keeps messages of one sender in order, and only the thread holding
 * the progress lock probes, so the next message from `src` with this tag is
 * this chunk's. mpmp__par.lock is not held: a large receive may take a while.
 */
static void recv_results(int src, char *dst, size_t len) {
  char *tmp = dst ? NULL : mpmp__malloc(len); /* job gone: drain it */
  MPI_Request req;
  int done = 0;
  int rc = MPI_Irecv(dst ? dst : tmp, (int)len, MPI_BYTE, src,
                     MPMP__TAG_CHUNK_DATA, mpmp__net.data_comm, &req);
  /* The worker computes its next chunk meanwhile; where MPI moves a large
   * message in fragments that the sender pushes, ring it now and then so
   * that its agent thread drives them (with single-copy, one look). */
  for (unsigned i = 1; rc == MPI_SUCCESS; i++) {
    rc = MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    if (done)
      break;
    if ((i & 255) == 0)
      mpmp__ring_rank(src);
  }
  if (rc != MPI_SUCCESS) {
    MPMP__ERROR("receiving results from rank %d: %s", src,
                (mpmp__mpi_err(rc, "MPI_Irecv"), mpmp_errmsg()));
    mpmp__abort_job();
  }
  mpmp__free(tmp);
}

/* A variable-size chunk's results (inline) are kept by the job's var;
 * results it cannot keep fail their items, saying why. */
static void take_var(mpmp_async_t *j, const mpmp__chunk_done_t *d, int rank) {
  if (d->count == 0 || mpmp__var_take(j->var, d->first, d->count,
                                      (const char *)(d + 1), d->data_len) == 0)
    return;
  const char *why = mpmp_errmsg();
  for (uint32_t k = 0; k < d->count; k++)
    add_fail(j, d->first + k, rank, MPMP_ETASK, why, strlen(why));
}

static int worker_index(const mpmp_pool_t *pool, int rank);

/*
 * Workers without a task host. A worker's fork server may die (the OOM
 * killer, a kill): its host dies with it, and the worker cannot fork
 * another fork server, as the first was forked at mpmp_init before any
 * thread of mpmp's, Open MPI's or PMIx's ran (a fork of the worker now
 * could copy a lock one of them holds, held for ever in every host: the
 * reason for a fork server at all). Restarting it is thus not safe, so
 * the worker, for the rest of the job, sends back the items it cannot
 * run (MPMP__NOHOST_CODE, proto.h: those queued, and the one its host
 * was running) and the pool deals it nothing more while another of its
 * workers has a host: those items are dealt again there, first (as a
 * revoked chunk's), as items never run: no retry counted (a retry's
 * item keeps the runs it had). An item cut short with its host ran
 * again elsewhere; as each worker can lose its fork server once, that is
 * at most once per worker. When no worker of the pool has a host, the
 * items fail, saying so (Python's Pool would replace the worker process;
 * these are MPI ranks).
 */

/* Room in j's `back` for one more range besides those there and those
 * kept for the revokes not yet answered (each has its place): j->back, or
 * NULL out of memory. */
__attribute__((noinline, cold)) static struct back *back_room(
    mpmp_async_t *j) {
  if (j->back == NULL && (j->back = mpmp__calloc(1, sizeof *j->back)) == NULL)
    return NULL;
  struct back *bk = j->back;
  if (bk->n + bk->out >= bk->cap) {
    int cap = bk->cap ? 2 * bk->cap : 4;
    struct never *b = mpmp__realloc(bk->r, (size_t)cap * sizeof *b);
    if (b == NULL)
      return NULL;
    bk->r = b;
    bk->cap = cap;
  }
  return bk;
}

/* Items [first, first + count) of j go back to be dealt again first.
 * 0 out of memory. */
__attribute__((noinline, cold)) static int back_add(mpmp_async_t *j,
                                                    size_t first,
                                                    size_t count) {
  struct back *bk = back_room(j);
  if (bk == NULL)
    return 0;
  bk->r[bk->n++] = (struct never){first, count};
  bk->items += count;
  return 1;
}

/* A record of item rec->index that `rank` could not run, having no task
 * host (MPMP__NOHOST_CODE + its runs so far), in the results of chunk d:
 * the worker gets no more, and the item is dealt again (1), or, when no
 * worker of the pool has a host, fails (0). */
__attribute__((noinline, cold)) static int not_run_there(
    mpmp_async_t *j, const mpmp__chunk_done_t *d, const mpmp__fail_rec_t *rec,
    const char *msg, int rank) {
  mpmp_pool_t *pool = j->pool;
  int w = pool ? worker_index(pool, rank) : -1;
  int tried = rec->code - MPMP__NOHOST_CODE;
  if (w >= 0 && !pool->hostless[w]) {
    pool->hostless[w] = 1;
    pool->nohost++;
  }
  if (pool != NULL && pool->nohost < pool->nworkers) {
    if (j->stopped || pool->state == POOL_TERMINATED || mpmp__stopping()) {
      add_never(j, rec->index, 1); /* as a revoked chunk's (on_revoked) */
      return 1;
    }
    if (tried > 0) /* a retry: the next runs it, as it would have */
      return add_retry(j, rec->index, rank, tried, msg, rec->len);
    struct back *bk = j->back;
    struct never *last = bk && bk->n > 0 ? &bk->r[bk->n - 1] : NULL;
    if (last != NULL && last->first >= d->first &&
        last->first + last->count == rec->index) {
      last->count++; /* the next of this chunk's: one chunk again */
      bk->items++;
      return 1;
    }
    if (back_add(j, rec->index, 1))
      return 1;
  }
  char text[900], ranks[200] = "";
  size_t at = 0;
  for (int v = 0; pool != NULL && v < pool->nworkers && at < sizeof ranks;
       v++)
    at += (size_t)snprintf(ranks + at, sizeof ranks - at, "%s%d",
                           v ? ", " : "", pool->ranks[v]);
  int n = snprintf(text, sizeof text, "%.*s; no worker of the pool has a "
                   "task host any more (%s %s)", (int)rec->len, msg,
                   pool && pool->nworkers == 1 ? "rank" : "ranks", ranks);
  add_fail(j, rec->index, rank, MPMP_ECRASHED, text,
           n < 0 ? 0 : (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
  return 0;
}

static void take_results(mpmp_async_t *j, const mpmp__chunk_done_t *d,
                         int rank) {
  const char *data = (const char *)(d + 1), *p = data + d->data_len;
  if (j->var != NULL)
    take_var(j, d, rank);
  else if (j->out_size > 0 && d->data_len > 0 && j->out != NULL)
    memcpy(j->out + d->first * j->out_size, data, d->data_len); /* inline */
  else if (j->out_size == 0 && d->data_len > 0 && j->result_msg == NULL) {
    /* apply: the result stays in its message, which the job keeps (the
     * caller then does not free it): read in place, up to max_result */
    j->result_msg = (void *)d;
    j->result = (void *)data;
    j->result_size = d->data_len;
  }
  size_t again = 0;
  for (uint32_t k = 0; k < d->nfail; k++) {
    mpmp__fail_rec_t rec;
    memcpy(&rec, p, sizeof rec);
    if (__builtin_expect(rec.code >= MPMP__NOHOST_CODE, 0))
      again += not_run_there(j, d, &rec, p + sizeof rec, rank);
    else if (rec.code >= MPMP__RETRY_CODE)
      again += add_retry(j, rec.index, rank, rec.code - MPMP__RETRY_CODE,
                         p + sizeof rec, rec.len);
    else
      add_fail(j, rec.index, rank, rec.code ? rec.code : MPMP_ETASK,
               p + sizeof rec, rec.len);
    p += sizeof rec + rec.len;
  }
  j->done_items += d->count - again;
  add_never(j, d->first, d->skipped);
}

/* Take the job at *pp (after `prev`, NULL: the first) out of the pool's
 * list. */
static mpmp_async_t *unlink_at(mpmp_pool_t *pool, mpmp_async_t **pp,
                               mpmp_async_t *prev) {
  mpmp_async_t *j = *pp;
  *pp = j->next;
  if (j->next != NULL)
    j->next->prev = prev;
  if (pool->jobs_tail == j)
    pool->jobs_tail = prev;
  j->next = j->prev = NULL;
  atomic_fetch_sub(&mpmp__stop_armed, 1);
  return j;
}

/* Job j out of the pool's list, if it is there. */
static mpmp_async_t *unlink_job(mpmp_pool_t *pool, mpmp_async_t *j) {
  if (j->prev == NULL && pool->jobs != j)
    return NULL; /* (taken out already) */
  return unlink_at(pool, j->prev != NULL ? &j->prev->next : &pool->jobs,
                   j->prev);
}

static mpmp_async_t *find_job(mpmp_pool_t *pool, uint64_t id) {
  for (mpmp_async_t *j = pool->jobs; j != NULL; j = j->next)
    if (j->id == id)
      return j;
  return NULL;
}

static int worker_index(const mpmp_pool_t *pool, int rank) {
  for (int w = 0; w < pool->nworkers; w++)
    if (pool->ranks[w] == rank)
      return w;
  return -1;
}

static int cmp_fail(const void *a, const void *b) {
  const fail_t *x = a, *y = b;
  return (x->index > y->index) - (x->index < y->index);
}

static int cmp_never(const void *a, const void *b) {
  const struct never *x = a, *y = b;
  return (x->first > y->first) - (x->first < y->first);
}

static void job_free(mpmp_async_t *j);
static void notify_watches(mpmp_async_t *j);
static void send_stop(mpmp_pool_t *pool, uint64_t id, int upto);

/* A job is complete once every item is back (or it was terminated) and no
 * chunk of it is still out; it then leaves the pool's list and forgets
 * the pool, which a complete job never needs again (so that the user may
 * destroy the pool before its results). "No chunk out" also when every
 * item is back: on_chunk_done() uses the job outside the lock (results,
 * journal) after another thread's on_chunk_done() may have counted the
 * last items, and a job made ready then could be freed under it (ASan saw
 * it in pool_smallbox_np3). */
/*
 * Jobs complete whose done-callbacks have not returned yet (in_callback
 * set: maybe_complete, a cancel, a sub-task's answer). A job leaves its
 * pool's list when it completes, before its callbacks run outside the
 * lock; a join that looked at the list alone returned while a callback
 * still ran, and an executor's destroy freed what that callback used
 * (mpmp_executor_submit on it read freed memory). pool_idle waits for
 * this count too: Python's shutdown(wait=True) returns after the
 * callbacks. One count for all pools (a job keeps no pointer to its pool
 * once complete: its pool may go first). A callback in the progress
 * engine may not wait for a pool (mpmp__may_wait); one that runs in the
 * caller's thread (a cancel's, a shutdown's with cancel_futures, a
 * terminate's) may, as in Python, so a join does not count the callbacks
 * owed by its own thread (cbs_here): that thread runs them, but only
 * after the join returns, and it waited for them for ever (a cancelled
 * future's callback that shut its executor down with wait hung).
 */
static _Atomic int cbs_pending;
/* Of cbs_pending, the callbacks this thread owes: each count is taken by
 * the thread that later runs the callbacks (run_callback) and gives it
 * back. */
static _Thread_local int cbs_here;
/* The job whose callbacks this thread runs now (NULL: none), and the
 * chain of those it runs next (run_callbacks): a get or wait of one of
 * them from a callback does not wait for the callbacks to return (it
 * would wait for itself, or for what its thread runs after it). */
static _Thread_local const mpmp_async_t *cb_running, *cb_rest;

static int cbs_run_here(const mpmp_async_t *j) {
  if (j == cb_running)
    return 1;
  for (const mpmp_async_t *c = cb_rest; c != NULL; c = c->next)
    if (c == j)
      return 1;
  return 0;
}

static void cbs_owe(void) {
  atomic_fetch_add(&cbs_pending, 1);
  cbs_here++;
}

static mpmp_async_t *maybe_complete(mpmp_pool_t *pool, mpmp_async_t *j) {
  if (atomic_load(&j->ready) || j->chunks_out > 0)
    return NULL;
  /* a job stopped (walltime, SIGTERM) before all of it ran; also one
   * whose items all came back after the grace, some of them failed: those
   * were cut short by the stop (killed in their hosts), and a rerun runs
   * them (journal_chunk: not final), so it is interrupted, not crashed */
  int stop = mpmp__stopping() &&
             (j->done_items < j->n ||
              (j->nfails > 0 && atomic_load(&stop_told)));
  int finished = j->done_items == j->n ||
                 pool->state == POOL_TERMINATED || j->stopped || stop;
  if (!finished)
    return NULL;
  j->interrupted = stop && !j->stopped && pool->state != POOL_TERMINATED;
  if (j->jr != NULL && j->interrupted) /* the node may go next: on disk now */
    j->jr_broken = (unsigned char)mpmp__journal_sync(j->jr);
  if (j->own_jr) {
    mpmp__journal_close(j->jr);
    j->own_jr = 0;
  }
  j->jr = NULL;
  /* stopped before their retries ran: they failed as their hosts died;
   * in an interrupted job they are resumable as the items never run (not
   * in its journal, run again by the rerun), so not failures either */
  for (int k = 0; k < j->nretry; k++) {
    fail_t *r = &j->retries[k];
    if (!j->interrupted)
      add_fail(j, r->index, r->rank, MPMP_ECRASHED, r->msg,
               r->msg ? strlen(r->msg) : 0);
    mpmp__free(r->msg);
  }
  j->nretry = 0;
  unlink_job(pool, j);
  j->pool = NULL;
  if (j->nfails > 1)
    qsort(j->fails, (size_t)j->nfails, sizeof *j->fails, cmp_fail);
  if (j->interrupted || j->cancelled) { /* resumable, or never a failure */
    j->nnever = 0;
    j->never_n = 0;
  }
  if (j->nnever > 1)
    qsort(j->never, (size_t)j->nnever, sizeof *j->never, cmp_never);
  for (int k = 0; k < j->nnever && j->out != NULL && j->var == NULL; k++)
    memset(j->out + j->never[k].first * j->out_size, 0,
           j->never[k].count * j->out_size);
  /* run_callback() clears it. A job without callbacks has none to run:
   * nobody needs it after this (a callback added from now on runs at once,
   * as the job is ready), and its waiter may destroy it at once. One that
   * its owner destroyed while it ran (orphan) goes through run_callback()
   * all the same, which frees it: nobody else will (it leaked, with an
   * apply's copy of its argument, at every fire-and-forget apply_async). */
  int call = j->cb != NULL || j->nmore > 0 || j->orphan;
  atomic_store_explicit(&j->in_callback, call,
                        memory_order_relaxed); /* (before `ready`) */
  if (call)
    cbs_owe();
  if (mpmp__rt.trace)
    mpmp__trace_add(MPMP__TRACE_JOB, j->task, j->id, (uint32_t)j->n, NULL,
                    j->t_submit, mpmp__trace_clock());
  atomic_store(&j->ready, 1);
  notify_watches(j);
  return atomic_load_explicit(&j->in_callback, memory_order_relaxed) ? j
                                                                      : NULL;
}

static int job_ok(const mpmp_async_t *j) {
  return j->nfails == 0 && j->lost_fails == 0 && j->done_items == j->n &&
         !j->cancelled;
}

/* Python's "raised an exception": failed or cut short, not cancelled. */
static int job_exception(const mpmp_async_t *j) {
  return !j->cancelled && !job_ok(j);
}

/*
 * Called, without mpmp__par.lock, for a job that has just become ready. The
 * waiting thread may see `ready` and destroy the job at any moment: while
 * in_callback is set, destroy only marks it an orphan, and whoever clears
 * in_callback last frees it. Callbacks see the job ready, as in Python.
 */

static void run_callback(mpmp_async_t *j) {
  pthread_mutex_lock(&mpmp__par.lock);
  int orphan = j->orphan;
  pthread_mutex_unlock(&mpmp__par.lock);
  if (!orphan) {
    const mpmp_async_t *outer = cb_running; /* (a callback's cancel) */
    cb_running = j;
    if (j->cb != NULL)
      j->cb(j, job_ok(j), j->user);
    for (int k = 0; k < j->nmore; k++)
      j->more[k].cb(j, job_ok(j), j->more[k].user);
    cb_running = outer;
  }
  pthread_mutex_lock(&mpmp__par.lock);
  atomic_store_explicit(&j->in_callback, 0, memory_order_release);
  atomic_fetch_sub(&cbs_pending, 1);
  cbs_here--;
  orphan = j->orphan;
  pthread_mutex_unlock(&mpmp__par.lock);
  if (orphan)
    job_free(j);
  /* a get or wait sleeping until its callbacks are over, a join */
  mpmp__ring_rank(mpmp__net.rank);
}

/* The callbacks of jobs completed under the lock, chained by `next` (a
 * chain's jobs are out of every pool's list), in chain order. */
static void run_callbacks(mpmp_async_t *chain) {
  const mpmp_async_t *outer = cb_rest; /* (a callback's cancel) */
  while (chain != NULL) {
    mpmp_async_t *next = chain->next;
    chain->next = NULL;
    cb_rest = next;
    run_callback(chain);
    chain = next;
  }
  cb_rest = outer;
}

/* The digest of items [first, first + count) of an imap's job, which its
 * chunk's journal record carries. */
static uint64_t range_digest(void *arg, uint64_t first, uint32_t count) {
  const mpmp_async_t *j = arg;
  if (j->var != NULL)
    return mpmp__var_digest(j->var, (size_t)first, count);
  return mpmp__hash64(j->in + first * j->in_size, (size_t)count * j->in_size,
                      0x1A);
}

/* The chunk's record in the job's journal: its results are in place in
 * the job's output (the job cannot complete before its chunks_out drops).
 * Failures of a job that was stopped are not final (items cut short say
 * "terminated"): a rerun runs them. */
static void journal_chunk(const mpmp_async_t *j, const mpmp__chunk_done_t *d,
                          int src, int stopped) {
  const char *fails = (const char *)(d + 1) + d->data_len;
  uint64_t in_digest =
      j->jr_digest ? range_digest((void *)j, d->first, d->count) : 0;
  /* a variable-size map's results as they came (inline, with sizes) */
  const char *res = j->var ? (const char *)(d + 1)
                           : j->out + d->first * j->out_size;
  mpmp__journal_append(j->jr, j->jbase, d->first, d->count, res,
                       j->var ? (size_t)d->data_len : 0, fails, d->nfail,
                       stopped, src, in_digest);
}

/*
 * Taking back a queued chunk. Round 1 of deal() queues a chunk behind a
 * worker's running one; when that one runs long, or waits for what a
 * later task does (a file, a queue put), the queued chunk waited there
 * while the other workers finished the rest and sat idle: a task waiting
 * on a later one's work deadlocked, where Python's pools feed one shared
 * queue that the first free worker takes from. So when a worker goes
 * idle and there is nothing to deal to it, one worker with a chunk
 * queued (inflight 2) is asked to give that chunk back (MPMP__TAG_REVOKE,
 * the worker's on_revoke): given back unrun, its items are dealt again
 * before any other (job->back), to the idle worker; begun already, the
 * answer says so and its ordinary CHUNK_DONE comes. Only then: while
 * every worker has work none is sent, nor in a pool of one worker. One
 * revoke at a time per worker; its chunk stays counted out (chunks_out,
 * inflight) until the answer. Not asked back: a chunk of a stopped or
 * terminated job (it is skipped anyway), a retried item (its run count
 * and its last host's rank would need keeping; one item), the chunks of
 * a worker whose task waits on a sub-task (seceded: what runs in the wait
 * is not in order). An isolated pool's too: a chunk its task host took
 * from the rings itself (host.c's loan) is not in the worker's queue,
 * and the worker answers KEPT; the loan ends at the revoke's message.
 */
__attribute__((noinline, cold)) static void revoke_for(mpmp_pool_t *pool,
                                                     int idle) {
  if (pool->state == POOL_TERMINATED || mpmp__stopping() ||
      (pool->nohost != 0 && skip_hostless(pool, idle)))
    return; /* (one that has no host is idle for good: it takes none) */
  for (int v = 0; v < pool->nworkers; v++) {
    if (v == idle || pool->inflight[v] < INFLIGHT || pool->seceded[v] > 0 ||
        pool->revoke[v].job != 0 || pool->last[v].job == 0 ||
        pool->last[v].tried > 0)
      continue;
    mpmp_async_t *j = find_job(pool, pool->last[v].job);
    if (j == NULL || j->stopped)
      continue;
    /* its place in `back`, kept now: the answer must not fail for memory
     * (out of memory: it runs where it is, later) */
    struct back *bk = back_room(j);
    if (bk == NULL)
      return;
    mpmp__revoke_t *m = mpmp__malloc(sizeof *m);
    if (m == NULL)
      return;
    *m = (mpmp__revoke_t){.job = j->id, .first = pool->last[v].first};
    if (mpmp__send_nb(pool->ranks[v], MPMP__TAG_REVOKE, m, sizeof *m) < 0) {
      MPMP__ERROR("could not ask rank %d for a queued chunk back: %s",
                  pool->ranks[v], mpmp_errmsg());
      return; /* it runs where it is */
    }
    pool->revoke[v] = pool->last[v];
    bk->out++;
    return;
  }
}

/* The answer to a revoke (revoke_for): a chunk given back unrun is out
 * no more, and its items are dealt again first, unless its job was
 * stopped meanwhile (then they never run, as a chunk skipped). Not a run
 * of them: no results, no journal record, no retry counted. */
__attribute__((noinline, cold)) static void on_revoked(
    int src, const mpmp__chunk_done_t *d) {
  mpmp_async_t *done = NULL;
  pthread_mutex_lock(&mpmp__par.lock);
  mpmp_pool_t *pool = mpmp__par.pool_of_rank ? mpmp__par.pool_of_rank[src] : NULL;
  int w = pool ? worker_index(pool, src) : -1;
  if (w < 0 || pool->revoke[w].job != d->job ||
      pool->revoke[w].first != d->first) {
    pthread_mutex_unlock(&mpmp__par.lock); /* not this pool's (any more) */
    return;
  }
  pool->revoke[w].job = 0;
  /* what is queued there now is not known (begun, or given back): not
   * asked again until a chunk is dealt to it (else a KEPT answer, while
   * the CHUNK_DONE of the chunk before is on its way, asked again) */
  pool->last[w].job = 0;
  mpmp_async_t *j = find_job(pool, d->job);
  if (j != NULL && j->back != NULL) /* (made when the revoke was sent) */
    j->back->out--;
  if (d->revoked == MPMP__REVOKE_RETURNED) {
    int slot = stage_find(pool, w, d->job, d->first);
    if (slot >= 0) /* unrun: its items are copied in again where dealt */
      pool->stage->use[slot].job = 0;
    pool->inflight[w]--;
    if (j != NULL) {
      j->chunks_out--;
      if (j->stopped || pool->state == POOL_TERMINATED || mpmp__stopping())
        add_never(j, d->first, d->count);
      else if (d->count > 0 && j->back != NULL) { /* (room kept) */
        j->back->r[j->back->n++] = (struct never){d->first, d->count};
        j->back->items += d->count;
      }
    }
    deal(pool);
    if (j != NULL)
      done = maybe_complete(pool, j);
  }
  /* a worker still idle may have another worker's queued chunk */
  for (int v = 0; v < pool->nworkers; v++)
    if (pool->inflight[v] == 0 && pool->seceded[v] == 0)
      revoke_for(pool, v);
  pthread_mutex_unlock(&mpmp__par.lock);
  mpmp__ring_rank(mpmp__net.rank);
  if (done != NULL)
    run_callback(done);
}

static void on_chunk_done(int src, void *buf, size_t len) {
  const mpmp__chunk_done_t *d = buf;
  mpmp_async_t *done = NULL;
  if (__builtin_expect(len >= sizeof *d && d->revoked != 0, 0)) {
    on_revoked(src, d);
    mpmp__free(buf);
    return;
  }
  pthread_mutex_lock(&mpmp__par.lock);
  mpmp_pool_t *pool = mpmp__par.pool_of_rank ? mpmp__par.pool_of_rank[src] : NULL;
  int w = pool ? worker_index(pool, src) : -1;
  mpmp_async_t *j = pool && len >= sizeof *d ? find_job(pool, d->job) : NULL;
  int slot = len >= sizeof *d ? stage_find(pool, w, d->job, d->first) : -1;
  size_t map_bytes = j && !in_place(j, src) ? (size_t)d->count * j->out_size
                                             : 0;
  if (slot >= 0 || (len >= sizeof *d && d->data_len > 0))
    map_bytes = 0; /* the results came inline, or lie in the slot */
  char *dst = j && j->out ? j->out + d->first * j->out_size : NULL;
  if (slot >= 0 && j != NULL && dst != NULL && d->count > 0) {
    /* the slot stays taken while its results are copied: nothing is
     * dealt into it before */
    const struct stage *st = pool->stage;
    const char *res = st->buf + (size_t)slot * STAGE_SLOT +
                      stage_in_bytes((size_t)d->count * j->in_size);
    size_t res_bytes = (size_t)d->count * j->out_size;
    j->receiving++;
    pthread_mutex_unlock(&mpmp__par.lock);
    memcpy(dst, res, res_bytes);
    pthread_mutex_lock(&mpmp__par.lock);
    j->receiving--;
  }
  if (slot >= 0)
    pool->stage->use[slot].job = 0;
  if (map_bytes > 0) { /* the job stays: its chunks_out counts this chunk */
    if (dst != NULL)
      j->receiving++;
    pthread_mutex_unlock(&mpmp__par.lock);
    recv_results(src, dst, map_bytes);
    pthread_mutex_lock(&mpmp__par.lock);
    if (dst != NULL)
      j->receiving--;
  }
  if (w >= 0)
    pool->inflight[w]--;
  mpmp__journal_t *jr = NULL;
  int stopped = 0, kept = 0;
  if (j != NULL) {
    take_results(j, d, src);
    kept = j->result_msg == buf; /* the job's now: freed with it */
    jr = (j->var != NULL || (j->out != NULL && j->out_size > 0)) &&
                 d->count > 0
             ? j->jr
             : NULL;
    stopped = j->stopped || pool->state == POOL_TERMINATED;
  }
  if (pool != NULL) {
    deal(pool); /* the worker's next chunk before the journal's write */
    /* nothing to deal to it: another worker's queued chunk, if any */
    if (w >= 0 && pool->inflight[w] == 0 && pool->seceded[w] == 0 &&
        pool->nworkers > 1)
      revoke_for(pool, w);
  }
  if (jr != NULL) { /* outside the lock: a chunk's results may be megabytes */
    pthread_mutex_unlock(&mpmp__par.lock);
    journal_chunk(j, d, src, stopped || atomic_load(&stop_told));
    pthread_mutex_lock(&mpmp__par.lock);
  }
  if (j != NULL) {
    j->chunks_out--;
    done = maybe_complete(pool, j);
  }
  pthread_mutex_unlock(&mpmp__par.lock);
  if (!kept)
    mpmp__free(buf);
  mpmp__ring_rank(mpmp__net.rank); /* wake a get() that sleeps */
  if (done != NULL)
    run_callback(done);
}

/* A task on worker `rank` waits on a sub-task (delta 1: its slot is free
 * for what the worker can run meanwhile) or is done waiting (-1). Counted
 * apart from inflight, which its chunk's CHUNK_DONE takes back: the two
 * messages may pass each other, and a count off by one for that moment
 * only deals a chunk sooner or later. */
void mpmp__pool_secede(int rank, int delta) {
  pthread_mutex_lock(&mpmp__par.lock);
  mpmp_pool_t *pool = mpmp__par.pool_of_rank && rank > 0 &&
                              rank < mpmp__net.size
                          ? mpmp__par.pool_of_rank[rank]
                          : NULL;
  int w = pool ? worker_index(pool, rank) : -1;
  if (w >= 0) {
    pool->seceded[w] += delta;
    deal(pool);
  }
  pthread_mutex_unlock(&mpmp__par.lock);
}

void mpmp__pool_setup(int is_main) {
  atomic_store(&stop_told, 0);
  if (is_main)
    mpmp__set_handler(MPMP__TAG_CHUNK_DONE, on_chunk_done);
  mpmp__executor_setup(is_main);
}

/* ---- pools ------------------------------------------------------------------ */

static int check_pool(const mpmp_pool_t *pool, const char *fn) {
  int rc = mpmp__check_main(fn);
  if (rc < 0)
    return rc;
  if (pool == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the pool is NULL", fn);
  return 0;
}

static int free_workers(void) {
  int n = 0;
  for (int r = 1; r < mpmp__net.size; r++)
    n += !mpmp__par.worker_busy[r];
  return n;
}

/* Claim `want` workers (0: all free ones) for the pool (mpmp__par.lock held). */
static int claim(mpmp_pool_t *pool, int want,
                 const mpmp__pool_names_t *nm) {
  int avail = free_workers();
  if (want == 0)
    want = avail;
  if (want == 0 || want > avail)
    return mpmp__err(MPMP_EBUSY, "%s: %s %s of %d workers needs that many "
                     "free worker ranks; %d of the job's %d workers are "
                     "free: close other pools and executors, join "
                     "processes, or start the job with more ranks (mpirun "
                     "-n %lld)", nm->fn, mpmp__a(nm->noun), nm->noun,
                     want ? want : 1, avail, mpmp__net.size - 1,
                     (long long)mpmp__net.size + (want ? want : 1) - avail);
  pool->ranks = mpmp__calloc((size_t)want, sizeof(int));
  pool->inflight = mpmp__calloc((size_t)want, sizeof(int));
  pool->seceded = mpmp__calloc((size_t)want, sizeof(int));
  pool->last = mpmp__calloc((size_t)want, sizeof *pool->last);
  pool->revoke = mpmp__calloc((size_t)want, sizeof *pool->revoke);
  pool->hostless = mpmp__calloc((size_t)want, 1);
  if (pool->ranks == NULL || pool->inflight == NULL || pool->seceded == NULL ||
      pool->last == NULL || pool->revoke == NULL || pool->hostless == NULL)
    return mpmp__err(MPMP_ENOMEM, "out of memory for a pool");
  for (int w = 0; w < want; w++) {
    pool->ranks[w] = mpmp__claim_worker();
    mpmp__par.pool_of_rank[pool->ranks[w]] = pool;
  }
  pool->nworkers = want;
  return 0;
}

/* Give the workers back and forget the pool (mpmp__par.lock held). */
static void release(mpmp_pool_t *pool) {
  for (int w = 0; w < pool->nworkers; w++) {
    mpmp__par.worker_busy[pool->ranks[w]] = 0;
    mpmp__par.pool_of_rank[pool->ranks[w]] = NULL;
  }
  for (mpmp_pool_t **pp = &mpmp__par.pools; *pp; pp = &(*pp)->next)
    if (*pp == pool) {
      *pp = pool->next;
      break;
    }
  pool->nworkers = 0;
}

/* Run the initializer on every worker, as a process bound to that rank. */
static int run_initializer(mpmp_pool_t *pool, const mpmp_pool_opts_t *o,
                           const mpmp__pool_names_t *nm) {
  char name[40];
  snprintf(name, sizeof name, "the %s's initializer", nm->noun);
  int n = pool->nworkers, rc = 0;
  mpmp_process_t **ps = mpmp__calloc((size_t)n, sizeof *ps);
  if (ps == NULL)
    return mpmp__err(MPMP_ENOMEM, "out of memory for the initializer");
  for (int w = 0; w < n && rc == 0; w++) {
    /* where the pool's tasks find what it set up: the worker rank, or
     * the task host (and every host that replaces it: host.c) */
    mpmp_process_opts_t po = {.isolate = pool->isolate ? MPMP_ISOLATE_ALWAYS
                                                       : MPMP_ISOLATE_NEVER,
                              .name = name};
    rc = mpmp_process_create(&ps[w], o->initializer, o->initarg,
                             o->initarg_size, &po);
    if (rc == 0)
      rc = mpmp__process_start_on(ps[w], pool->ranks[w],
                                  pool->isolate ? pool->id : 0);
  }
  /* an isolated pool's task_timeout bounds its initializer as well: one
   * that never returned held mpmp_pool_create for ever (it is killed, as
   * an item past the limit is) */
  double limit = pool->isolate && pool->task_timeout > 0 ? pool->task_timeout
                                                         : MPMP_FOREVER;
  double deadline = mpmp__deadline(limit);
  /* The first failure's message is kept apart: the joins and terminates
   * of the other workers' initializers that follow set mpmp_errmsg() of
   * their own (a join of 0 s that times out), which would replace it. */
  char *why = rc < 0 ? mpmp__strdup(mpmp_errmsg()) : NULL;
  int late = 0; /* initializers past the limit: terminated, joined below */
  for (int w = 0; w < n && ps[w] != NULL; w++) {
    int code = 0;
    double left = isfinite(deadline) ? fmax(deadline - mpmp__now(), 0)
                                     : MPMP_FOREVER;
    if (mpmp_process_join(ps[w], left) == MPMP_ETIMEDOUT) {
      /* asked to stop now, all of them before any is waited for: their
       * grace periods run together, not one after another */
      mpmp_process_terminate(ps[w]);
      late = 1;
      if (rc == 0) {
        rc = mpmp__err(MPMP_ETIMEDOUT, "%s: %s '%s' did not return within "
                       "the %s's task_timeout (%g s) on rank %d: it was "
                       "killed", nm->fn, name, mpmp_task_name(o->initializer),
                       nm->noun, limit, pool->ranks[w]);
        why = mpmp__strdup(mpmp_errmsg());
      }
      continue;
    }
    mpmp_process_exitcode(ps[w], &code);
    if (code != 0 && rc == 0) {
      rc = mpmp__err(MPMP_ETASK, "%s: %s '%s' failed on rank %d: %s",
                     nm->fn, name, mpmp_task_name(o->initializer),
                     pool->ranks[w], mpmp_process_errmsg(ps[w]));
      why = mpmp__strdup(mpmp_errmsg());
    }
    mpmp_process_destroy(ps[w]);
    ps[w] = NULL;
  }
  for (int w = 0; late && w < n; w++)
    if (ps[w] != NULL) {
      mpmp_process_join(ps[w], MPMP_FOREVER);
      mpmp_process_destroy(ps[w]);
    }
  if (rc < 0 && why != NULL)
    mpmp__err(rc, "%s", why);
  mpmp__free(why);
  mpmp__free(ps);
  return rc;
}

/*
 * Where the pool's tasks run. MPMP_ISOLATE=auto (the default) keeps them
 * in the worker rank unless a time limit is asked for, which only a task
 * host can enforce (it is killed): an isolated item costs two copies of
 * its bytes and a hand-over between processes (README, "When a task
 * crashes"), which a map of small items would feel.
 */
static int isolation(mpmp_pool_t *pool, const mpmp_pool_opts_t *o,
                     const mpmp__pool_names_t *nm) {
  int want = o ? o->isolate : MPMP_ISOLATE_DEFAULT;
  double limit = o ? o->task_timeout : 0;
  int retries = o ? o->max_retries : 0;
  int max_tasks = o ? o->maxtasksperchild : 0;
  const char *env = mpmp__rt.env.ISOLATE;
  if (want < MPMP_ISOLATE_DEFAULT || want > MPMP_ISOLATE_NEVER)
    return mpmp__err(MPMP_EINVAL, "%s: isolate is %d: use "
                     "MPMP_ISOLATE_DEFAULT, _ALWAYS or _NEVER", nm->fn, want);
  if (!(limit >= 0) || limit > 1e9) /* NaN too */
    return mpmp__err(MPMP_EINVAL, "%s: task_timeout is %g: "
                     "use seconds from 0 (no limit) to 1e9", nm->fn, limit);
  if (retries < 0 || retries > 1000)
    return mpmp__err(MPMP_EINVAL, "%s: max_retries is %d: use "
                     "0 to 1000", nm->fn, retries);
  if (max_tasks < 0)
    return mpmp__err(MPMP_EINVAL, "%s: %s is %d: use 1 or more, or 0 for "
                     "hosts that are never replaced (Python's None)", nm->fn,
                     nm->maxtasks, max_tasks);
  /* What needs a host: a time limit (the host is killed), retries (the
   * item outlives its host's crash), a host replaced after N tasks. */
  const char *needs = limit > 0      ? "task_timeout"
                      : retries > 0  ? "max_retries"
                      : max_tasks > 0 ? nm->maxtasks
                                      : NULL;
  int off = strcasecmp(env, "never") == 0;
  if (off && want != MPMP_ISOLATE_NEVER &&
      (want == MPMP_ISOLATE_ALWAYS || needs != NULL))
    return mpmp__err(MPMP_EINVAL, "%s: isolated tasks%s%s%s "
                     "are off in this job (MPMP_ISOLATE=never): unset it or "
                     "use auto", nm->fn, needs ? " (needed by " : "",
                     needs ? needs : "", needs ? ")" : "");
  if (want == MPMP_ISOLATE_DEFAULT)
    want = strcasecmp(env, "always") == 0 || needs != NULL
               ? MPMP_ISOLATE_ALWAYS : MPMP_ISOLATE_NEVER;
  if (want == MPMP_ISOLATE_NEVER && needs != NULL)
    return mpmp__err(MPMP_EINVAL, "%s: %s needs isolated "
                     "tasks (a runaway task is stopped, a crashed one run "
                     "again, in a task host): leave isolate at "
                     "MPMP_ISOLATE_DEFAULT or _ALWAYS", nm->fn, needs);
  pool->isolate = want == MPMP_ISOLATE_ALWAYS;
  pool->task_timeout = limit;
  pool->max_retries = retries;
  pool->max_tasks = max_tasks;
  return 0;
}

MPMP_API int mpmp_pool_create(mpmp_pool_t **out, const mpmp_pool_opts_t *o) {
  static const mpmp__pool_names_t nm = {"mpmp_pool_create", "processes",
                                        "maxtasksperchild", "pool"};
  if (out != NULL) /* NULL whatever fails (README: failed creates) */
    *out = NULL;
  int rc = mpmp__check_main(nm.fn);
  return rc < 0 ? rc : mpmp__pool_create_as(out, o, &nm);
}

int mpmp__check_elem_sizes(size_t in_size, size_t out_size, const char *fn) {
  if (in_size <= MPMP__ELEM_MAX && out_size <= MPMP__ELEM_MAX)
    return 0;
  int in = in_size > MPMP__ELEM_MAX;
  return mpmp__err(MPMP_EINVAL, "%s: %s of %zu bytes is too large: items "
                   "and results must be " MPMP__ELEM_MAX_SAYS, fn,
                   in ? "in_size" : "out_size", in ? in_size : out_size);
}

int mpmp__pool_create_as(mpmp_pool_t **out, const mpmp_pool_opts_t *o,
                         const mpmp__pool_names_t *nm) {
  if (out != NULL) /* NULL on failure: a cleanup may destroy it */
    *out = NULL;
  int rc;
  if (out == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the output pointer is NULL", nm->fn);
  if (o && o->processes < 0) /* Python: "Number of processes must be at
                                least 1"; 0 is the default here */
    return mpmp__err(MPMP_EINVAL, "%s: %s is %d: the number of processes "
                     "must be at least 1, or 0 for every free worker",
                     nm->fn, nm->processes, o->processes);
  if (o && o->initarg == NULL && o->initarg_size > 0)
    return mpmp__err(MPMP_EINVAL, "%s: initarg is NULL but initarg_size is "
                     "%zu", nm->fn, o->initarg_size);
  if (o && o->initarg_size > MPMP__ELEM_MAX)
    return mpmp__err(MPMP_EINVAL, "%s: initarg_size of %zu bytes is too large: "
                     "an initializer's argument must be " MPMP__ELEM_MAX_SAYS, nm->fn,
                     o->initarg_size);
  if (o && o->initializer && (rc = mpmp__task_id(o->initializer, nm->fn)) < 0)
    return rc;
  /* the initializer's end must be waited for, which a done-callback
   * cannot do: its join failed there, its failure was lost and 0 came
   * back */
  if (o && o->initializer && (rc = mpmp__may_wait(nm->fn)) < 0)
    return rc;
  mpmp_pool_t *pool = mpmp__calloc(1, sizeof *pool);
  if (pool == NULL)
    return mpmp__err(MPMP_ENOMEM, "out of memory for a pool");
  pool->max_result = o && o->max_result ? o->max_result : DEFAULT_MAX_RESULT;
  char what[64];
  snprintf(what, sizeof what, "%s: checkpoint", nm->fn);
  if ((rc = isolation(pool, o, nm)) < 0 ||
      (o && o->checkpoint && o->checkpoint[0] &&
       ((rc = mpmp__journal_check_dir(o->checkpoint, what)) < 0 ||
        (pool->checkpoint = mpmp__strdup(o->checkpoint)) == NULL))) {
    mpmp__free(pool);
    return rc < 0 ? rc : mpmp__err(MPMP_ENOMEM, "out of memory for a pool");
  }
  static _Atomic uint32_t pool_ids;
  pool->id = atomic_fetch_add(&pool_ids, 1) + 1;
  pthread_mutex_lock(&mpmp__par.lock);
  if (mpmp__par.pool_of_rank == NULL)
    mpmp__par.pool_of_rank = mpmp__calloc((size_t)mpmp__net.size, sizeof *mpmp__par.pool_of_rank);
  rc = mpmp__par.pool_of_rank ? claim(pool, o ? o->processes : 0, nm)
                        : mpmp__err(MPMP_ENOMEM, "out of memory for a pool");
  if (rc == 0) {
    pool->next = mpmp__par.pools;
    mpmp__par.pools = pool;
  }
  pthread_mutex_unlock(&mpmp__par.lock);
  if (rc == 0 && o && o->initializer)
    rc = run_initializer(pool, o, nm);
  if (rc < 0) {
    pthread_mutex_lock(&mpmp__par.lock);
    release(pool);
    pthread_mutex_unlock(&mpmp__par.lock);
    mpmp__free(pool->ranks);
    mpmp__free(pool->inflight);
    mpmp__free(pool->seceded);
    mpmp__free(pool->last);
    mpmp__free(pool->revoke);
    mpmp__free(pool->hostless);
    mpmp__free(pool->checkpoint);
    mpmp__free(pool);
    return rc;
  }
  *out = pool;
  return 0;
}

MPMP_API int mpmp_pool_size(const mpmp_pool_t *pool) {
  return pool ? pool->nworkers : mpmp__err(MPMP_EINVAL, "the pool is NULL");
}

/* ---- submitting --------------------------------------------------------------- */

/* An automatic chunk's items and results together stay under this many
 * bytes. Python's rule alone makes a 10^8-int map's chunks 100 MB: each
 * lands in a buffer that big on the worker, above glibc's mmap threshold,
 * so every chunk faulted in ~25 000 fresh pages (12.5 us each on a VM),
 * and the main rank's results of a whole chunk arrived at once. 4 MiB is
 * many chunks in flight for any big map, buffers the worker keeps and
 * reuses (chunk.c), and still ~350 000 x*x items a chunk: the per-chunk
 * cost (two messages, a wake-up: ~10-20 us) stays under 2 % of it. */
#define AUTO_CHUNK_BYTES ((size_t)4 << 20)

/* Python's rule: n / (4 * workers), rounded up (without overflowing for
 * any n: a chunk is never empty), then capped at cap_bytes of items and
 * results (at least one item). A map's cap is AUTO_CHUNK_BYTES; a chunk
 * task's is its own (chunktask.c). */
size_t mpmp__auto_chunk(size_t n, int workers, size_t item_bytes,
                        size_t cap_bytes) {
  size_t per = (size_t)(workers > 0 ? workers : 1) * 4;
  size_t chunk = n == 0 ? 1 : n / per + (n % per != 0);
  size_t cap = item_bytes ? cap_bytes / item_bytes : SIZE_MAX;
  return chunk <= cap ? chunk : cap ? cap : 1;
}

static const char *state_name(const mpmp_pool_t *pool) {
  if (pool->joined)
    return "joined";
  return pool->state == POOL_CLOSED ? "closed" : "terminated";
}

/*
 * Queue a job and deal what can be dealt. A job of an imap iterator
 * (`stream`) may still come after close(): Python lets an imap that was
 * started before close() run to its end. The chunk size is chosen here,
 * under the lock, where the pool is known to be running (a joined pool
 * has no workers to divide by).
 */
static int submit(mpmp_pool_t *pool, mpmp_async_t *j, size_t chunksize,
                  int stream, const char *fn) {
  mpmp__rt_t *rt = &mpmp__rt;
  mpmp_async_t *done = NULL;
  int rc = 0;
  mpmp__obj_fence(); /* this rank's puts happen before the tasks run */
  if (j->n > 0 && pool->state == POOL_RUN && !pool->joined)
    stage_make(pool, j);
  pthread_mutex_lock(&mpmp__par.lock);
  if (pool->state == POOL_TERMINATED || pool->joined ||
      (pool->state == POOL_CLOSED && (!stream || pool->cancelled))) {
    rc = mpmp__err(MPMP_EPERM, "%s: the pool is %s: no more work can be "
                   "submitted (Python: ValueError \"Pool not running\")", fn,
                   state_name(pool));
  } else if (j->n == 0) {
    atomic_store(&j->ready, 1); /* nothing to do: ready at once */
    j->pool = NULL;
  } else {
    /* a chunk is one MPI message: stay under 1 GiB */
    size_t el = j->in_size > j->out_size ? j->in_size : j->out_size;
    size_t cap = el ? MPMP__ELEM_MAX / el : SIZE_MAX;
    j->chunk = chunksize ? chunksize
                         : mpmp__auto_chunk(j->n, pool->nworkers,
                                            j->in_size + j->out_size,
                                            all_in_place(pool, j)
                                                ? SIZE_MAX
                                            : all_staged(pool, j)
                                                ? STAGE_SLOT - STAGE_ALIGN
                                                : AUTO_CHUNK_BYTES);
    if (j->chunk > cap)
      j->chunk = cap ? cap : 1;
    j->id = next_job_id();
    if (j->group == 0) /* (its own stops name the job itself) */
      j->group = j->id;
    pool->last_id = j->id;
    j->t_submit = rt->trace ? mpmp__trace_job_begin(j->task, j->id,
                                                    (uint32_t)j->n)
                            : 0;
    j->prev = pool->jobs_tail;
    j->next = NULL;
    if (pool->jobs_tail)
      pool->jobs_tail->next = j;
    else
      pool->jobs = j;
    pool->jobs_tail = j;
    atomic_fetch_add(&mpmp__stop_armed, 1); /* unlink_job takes it back */
    skip_done(j);
    deal(pool);
    /* all of it from the journal, or a stop came: complete at once */
    done = maybe_complete(pool, j);
  }
  pthread_mutex_unlock(&mpmp__par.lock);
  if (rc == 0 && j->n == 0 && j->cb)
    j->cb(j, 1, j->user);
  if (done != NULL)
    run_callback(done);
  return rc;
}

static int check_map(mpmp_pool_t *pool, const void *in, size_t n,
                     size_t in_size, const void *out, size_t out_size,
                     const char *fn) {
  int rc = check_pool(pool, fn);
  if (rc < 0)
    return rc;
  if (n > 0 && (in == NULL || out == NULL))
    return mpmp__err(MPMP_EINVAL, "%s: %s is NULL for %zu items", fn,
                     in == NULL ? "the input" : "the output", n);
  if (n > 0 && (in_size == 0 || out_size == 0))
    return mpmp__err(MPMP_EINVAL, "%s: %s size is 0: items and results are "
                     "fixed-size elements of at least 1 byte", fn,
                     in_size == 0 ? "the item" : "the result");
  if ((rc = mpmp__check_elem_sizes(in_size, out_size, fn)) < 0)
    return rc;
  if ((rc = mpmp__check_extent(in, n, in_size, "the input", fn)) < 0 ||
      (rc = mpmp__check_extent(out, n, out_size, "the output", fn)) < 0)
    return rc;
  return 0;
}

/* A copying map's results land while later items are still to be read
 * (dealt, retried, digested for the journal): a result over an item would
 * be read as that item. Python's map makes a new list; here they must lie
 * apart. (A zero-copy map checks its blocks itself, chunktask.c.) */
static int check_apart(const void *in, size_t n, size_t in_size,
                       const void *out, size_t out_size, const char *fn) {
  uintptr_t i0 = (uintptr_t)in, o0 = (uintptr_t)out;
  if (n > 0 && i0 < o0 + n * out_size && o0 < i0 + n * in_size)
    return mpmp__err(MPMP_EINVAL, "%s: the results (%zu bytes at %p) overlap "
                     "the items (%zu bytes at %p): a result would overwrite "
                     "an item not yet read; give the results their own "
                     "buffer (to map in place, put the items in a "
                     "SharedMemory block and use mpmp_pool_map_shm with a "
                     "chunk task)", fn, n * out_size, out, n * in_size, in);
  return 0;
}

const char *mpmp__pool_checkpoint(const mpmp_pool_t *pool) {
  const char *dir = pool->checkpoint ? pool->checkpoint
                                     : mpmp__rt.env.CHECKPOINT;
  return dir && dir[0] ? dir : NULL;
}

static void replayed_fail(void *arg, uint64_t index, int rank, int code,
                          const char *msg, size_t len) {
  add_fail(arg, (size_t)index, rank, code, msg, len);
}

/* A variable-size map's results from its journal, kept as a chunk's. */
static int replayed_var(void *arg, uint64_t first, uint32_t count,
                        const char *res, size_t len) {
  mpmp_async_t *j = arg;
  return mpmp__var_take(j->var, (size_t)first, count, res, len);
}

/* What the job's journal says is done already: its results into the
 * output, its failures recorded; the job then deals only the rest. */
static int resume(mpmp_async_t *j, const char *name) {
  if (j->jr == NULL || mpmp__journal_records(j->jr) == 0 || j->n == 0)
    return 0;
  if ((j->done_bits = mpmp__calloc(j->n / 8 + 1, 1)) == NULL)
    return mpmp__err(MPMP_ENOMEM, "%s: out of memory resuming %zu items",
                     name, j->n);
  size_t done = 0;
  int rc = mpmp__journal_replay(j->jr, j->jbase, j->n,
                                j->jr_digest ? range_digest : NULL, j->out,
                                j->done_bits, &done, replayed_fail,
                                j->var ? replayed_var : NULL, j, name);
  j->done_items = j->resumed = done;
  return rc;
}

/* A map's journal, when its pool checkpoints (an imap's chunk gets the
 * iterator's, `jr`, with its place `base`). */
static int map_journal(mpmp_async_t *j, mpmp_task_fn fn, mpmp__journal_t *jr,
                       uint64_t base, const char *name) {
  int rc = 0;
  if (jr != NULL) {
    j->jr = jr;
    j->jbase = base;
    j->jr_digest = 1;
  } else if (mpmp__pool_checkpoint(j->pool) != NULL) {
    mpmp__journal_id_t id = {
        .kind = MPMP__JOURNAL_MAP, .task = mpmp_task_name(fn), .n = j->n,
        .in_size = j->in_size, .out_size = j->out_size, .input = j->in,
        .input_len = j->n * j->in_size};
    if (j->var != NULL) { /* its bytes, and its sizes in the digest */
      id.kind = MPMP__JOURNAL_MAP_VAR;
      mpmp__var_input(j->var, &id.input, &id.input_len, &id.var_off);
    }
    rc = mpmp__journal_open(mpmp__pool_checkpoint(j->pool), &id, &j->jr,
                            name);
    j->own_jr = j->jr != NULL;
  }
  if (rc == 0 && j->jr != NULL) {
    mpmp__journal_used();
    j->jpath = mpmp__strdup(mpmp__journal_path(j->jr));
    rc = resume(j, name);
  }
  return rc;
}

/* A map's journal (its own, or an imap's `jr` at `base`) and the job
 * submitted; on failure the caller frees the job. */
static int start_map(mpmp_pool_t *pool, mpmp_async_t *j, mpmp_task_fn fn,
                     size_t chunksize, mpmp__journal_t *jr, uint64_t base,
                     int stream, const char *name) {
  int rc;
  j->jbase = base; /* (also without a journal: messages count from it) */
  if ((!stream || jr != NULL) && j->n > 0 &&
      (rc = map_journal(j, fn, jr, base, name)) < 0)
    return rc;
  /* the job may complete (and drop its journal) before seal() is done */
  mpmp__journal_t *seal = j->own_jr ? j->jr : NULL;
  if (seal != NULL)
    mpmp__journal_ref(seal);
  /* The digest reads the items after submit() (overlapping the workers'
   * first chunks) unless they may change first, and then before:
   * - a map in place (a chunk task over one SharedMemory block, its
   *   results over its items) overwrites them as the workers go: hashed
   *   while they computed, results were mixed in, and every rerun of the
   *   same program was refused ("its input differs");
   * - a done-callback runs when the job is ready, which can be inside
   *   submit() (a stop came: the map ends at once) or before the seal
   *   below (small maps on a busy node), and may free or reuse the items:
   *   the seal then read freed memory (SIGSEGV on an unmapped buffer) or
   *   hashed other bytes. */
  int in_place = j->in != NULL && j->out != NULL &&
                 (uintptr_t)j->in < (uintptr_t)j->out + j->n * j->out_size &&
                 (uintptr_t)j->out < (uintptr_t)j->in + j->n * j->in_size;
  if (seal != NULL && (in_place || j->cb != NULL || mpmp__stopping()))
    mpmp__journal_seal(seal);
  if ((rc = submit(pool, j, chunksize, stream, name)) < 0) {
    mpmp__journal_close(seal);
    return rc;
  }
  if (seal != NULL) {
    mpmp__journal_seal(seal);
    mpmp__journal_close(seal);
  }
  return 0;
}

/* kind: the task's (MPMP__TASK_*: a chunk task's fn is its
 * mpmp_chunk_fn converted); zc: where a zero-copy map's items and results
 * lie (copied into the job), or NULL. */
static int map_job(mpmp_pool_t *pool, mpmp_task_fn fn, const void *in,
                   size_t n, size_t in_size, void *out, size_t out_size,
                   size_t chunksize, mpmp_async_cb cb, void *user,
                   mpmp_async_t **res, mpmp__journal_t *jr, uint64_t base,
                   uint64_t group, int stream, int kind,
                   const mpmp__shm_ref_t *zc, const char *name) {
  if (res != NULL) /* NULL on failure: a cleanup may destroy it */
    *res = NULL;
  int rc = check_map(pool, in, n, in_size, out, out_size, name);
  if (rc == 0 && zc == NULL)
    rc = check_apart(in, n, in_size, out, out_size, name);
  if (rc < 0)
    return rc;
  if (res == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the result pointer is NULL", name);
  int task = mpmp__task_id_kind(fn, kind, name);
  if (task < 0)
    return task;
  if (kind == MPMP__TASK_CHUNK && pool->isolate)
    return mpmp__err(MPMP_ENOTSUP, "%s: this pool runs its tasks in task "
                     "hosts (isolate): a chunk task runs in the worker rank; "
                     "use a pool with isolate MPMP_ISOLATE_NEVER, or a "
                     "per-item task", name);
  mpmp_async_t *j = mpmp__calloc(1, sizeof *j);
  if (j == NULL)
    return mpmp__err(MPMP_ENOMEM, "out of memory for a result");
  *j = (mpmp_async_t){.pool = pool, .task = task, .in = in, .out = out,
                      .n = n, .in_size = in_size, .out_size = out_size,
                      .cb = cb, .user = user, .group = group};
  if (zc != NULL && (j->zc = mpmp__malloc(sizeof *zc)) == NULL) {
    job_free(j);
    return mpmp__err(MPMP_ENOMEM, "out of memory for a result");
  }
  if (zc != NULL)
    *j->zc = *zc;
  if ((rc = start_map(pool, j, fn, chunksize, jr, base, stream, name)) < 0) {
    job_free(j);
    return rc;
  }
  *res = j;
  return 0;
}

static int map_async(mpmp_pool_t *pool, mpmp_task_fn fn, const void *in,
                     size_t n, size_t in_size, void *out, size_t out_size,
                     size_t chunksize, mpmp_async_cb cb, void *user,
                     mpmp_async_t **res, const char *name) {
  return map_job(pool, fn, in, n, in_size, out, out_size, chunksize, cb, user,
                 res, NULL, 0, 0, 0, MPMP__TASK_ITEM, NULL, name);
}

int mpmp__pool_map_how(mpmp_pool_t *pool, mpmp_task_fn fn, int kind,
                       const mpmp__shm_ref_t *zc, const void *in, size_t n,
                       size_t in_size, void *out, size_t out_size,
                       size_t chunksize, mpmp_async_cb cb, void *user,
                       mpmp_async_t **res, const char *name) {
  return map_job(pool, fn, in, n, in_size, out, out_size, chunksize, cb, user,
                 res, NULL, 0, 0, 0, kind, zc, name);
}

/* A map over variable-size items (journaled as any map, its records with
 * its results' sizes). On success the job owns `v`; on failure the caller
 * keeps it. */
int mpmp__pool_map_var(mpmp_pool_t *pool, mpmp_task_fn fn, mpmp__var_t *v,
                       size_t n, size_t chunksize, mpmp_async_cb cb,
                       void *user, mpmp_async_t **res, int stream,
                       mpmp__journal_t *jr, uint64_t base, uint64_t group,
                       const char *name) {
  int task = mpmp__task_id(fn, name);
  if (task < 0)
    return task;
  mpmp_async_t *j = mpmp__calloc(1, sizeof *j);
  if (j == NULL)
    return mpmp__err(MPMP_ENOMEM, "%s: out of memory for a result", name);
  *j = (mpmp_async_t){.pool = pool, .task = task, .n = n,
                      .out_max = pool->max_result, .cb = cb, .user = user,
                      .var = v, .group = group};
  int rc = start_map(pool, j, fn, chunksize, jr, base, stream, name);
  if (rc < 0) {
    j->var = NULL;
    job_free(j);
    return rc;
  }
  *res = j;
  return 0;
}

mpmp__var_t *mpmp__async_var(const mpmp_async_t *j) { return j->var; }

int mpmp__pool_map_stream(mpmp_pool_t *pool, mpmp_task_fn fn, const void *in,
                          size_t n, size_t in_size, void *out,
                          size_t out_size, mpmp_async_cb cb, void *user,
                          mpmp_async_t **res, mpmp__journal_t *jr,
                          uint64_t base, uint64_t group) {
  return map_job(pool, fn, in, n, in_size, out, out_size, n, cb, user, res, jr,
                 base, group, 1, MPMP__TASK_ITEM, NULL, "mpmp_imap_next");
}

MPMP_API int mpmp_pool_map_async(mpmp_pool_t *pool, mpmp_task_fn fn,
                                 const void *in, size_t n, size_t in_size,
                                 void *out, size_t out_size, size_t chunksize,
                                 mpmp_async_cb cb, void *user,
                                 mpmp_async_t **res) {
  return map_async(pool, fn, in, n, in_size, out, out_size, chunksize, cb,
                   user, res, "mpmp_pool_map_async");
}

MPMP_API int mpmp_pool_starmap_async(mpmp_pool_t *pool, mpmp_task_fn fn,
                                     const void *in, size_t n, size_t in_size,
                                     void *out, size_t out_size,
                                     size_t chunksize, mpmp_async_cb cb,
                                     void *user, mpmp_async_t **res) {
  return map_async(pool, fn, in, n, in_size, out, out_size, chunksize, cb,
                   user, res, "mpmp_pool_starmap_async");
}

static int get_and_destroy(mpmp_async_t *j) {
  int rc = mpmp_async_get(j, MPMP_FOREVER);
  mpmp_async_destroy(j);
  return rc;
}

MPMP_API int mpmp_pool_map(mpmp_pool_t *pool, mpmp_task_fn fn, const void *in,
                           size_t n, size_t in_size, void *out,
                           size_t out_size, size_t chunksize) {
  mpmp_async_t *j = NULL;
  int rc = mpmp__may_wait("mpmp_pool_map");
  if (rc == 0)
    rc = map_async(pool, fn, in, n, in_size, out, out_size, chunksize, NULL,
                   NULL, &j, "mpmp_pool_map");
  return rc < 0 ? rc : get_and_destroy(j);
}

MPMP_API int mpmp_pool_starmap(mpmp_pool_t *pool, mpmp_task_fn fn,
                               const void *in, size_t n, size_t in_size,
                               void *out, size_t out_size, size_t chunksize) {
  mpmp_async_t *j = NULL;
  int rc = mpmp__may_wait("mpmp_pool_starmap");
  if (rc == 0)
    rc = map_async(pool, fn, in, n, in_size, out, out_size, chunksize, NULL,
                   NULL, &j, "mpmp_pool_starmap");
  return rc < 0 ? rc : get_and_destroy(j);
}

/* An apply's (or a task's submit's) arguments: the task's id, or < 0. */
int mpmp__apply_check(mpmp_task_fn fn, const void *arg, size_t arg_size,
                      mpmp_async_t **res, const char *name) {
  if (res == NULL || (arg == NULL && arg_size > 0))
    return mpmp__err(MPMP_EINVAL, "%s: %s is NULL", name,
                     res == NULL ? "the result pointer" : "arg");
  if (arg_size > MPMP__ELEM_MAX)
    return mpmp__err(MPMP_EINVAL, "%s: an argument of %zu bytes is too large: "
                     "a task's must be " MPMP__ELEM_MAX_SAYS, name, arg_size);
  int rc = mpmp__check_extent(arg, 1, arg_size, "the argument", name);
  return rc < 0 ? rc : mpmp__task_id(fn, name);
}

static int apply_async(mpmp_pool_t *pool, mpmp_task_fn fn, const void *arg,
                       size_t arg_size, mpmp_async_cb cb, void *user,
                       mpmp_async_t **res, const char *name) {
  if (res != NULL) /* NULL on failure: a cleanup may destroy it */
    *res = NULL;
  int rc = check_pool(pool, name);
  if (rc < 0)
    return rc;
  int task = mpmp__apply_check(fn, arg, arg_size, res, name);
  if (task < 0)
    return task;
  mpmp_async_t *j = mpmp__calloc(1, sizeof *j);
  char *copy = mpmp__malloc(arg_size);
  if (j == NULL || copy == NULL) {
    mpmp__free(j);
    mpmp__free(copy);
    return mpmp__err(MPMP_ENOMEM, "%s: out of memory", name);
  }
  if (arg_size)
    memcpy(copy, arg, arg_size);
  /* One item of arg_size bytes (at least 1, so the chunk carries it). */
  *j = (mpmp_async_t){.pool = pool, .task = task, .in = copy, .own_in = copy,
                      .n = 1, .in_size = arg_size,
                      .out_max = pool->max_result, .cb = cb, .user = user};
  if ((rc = submit(pool, j, 1, 0, name)) < 0) {
    job_free(j);
    return rc;
  }
  *res = j;
  return 0;
}

MPMP_API int mpmp_pool_apply_async(mpmp_pool_t *pool, mpmp_task_fn fn,
                                   const void *arg, size_t arg_size,
                                   mpmp_async_cb cb, void *user,
                                   mpmp_async_t **res) {
  return apply_async(pool, fn, arg, arg_size, cb, user, res,
                     "mpmp_pool_apply_async");
}

MPMP_API int mpmp_pool_apply(mpmp_pool_t *pool, mpmp_task_fn fn,
                             const void *arg, size_t arg_size, void *out,
                             size_t out_cap, size_t *out_size) {
  mpmp_async_t *j = NULL;
  const void *data;
  size_t size = 0;
  if (out == NULL && out_cap > 0)
    return mpmp__err(MPMP_EINVAL, "mpmp_pool_apply: out is NULL but out_cap "
                     "is %zu: give a buffer, or out_cap 0 for no result",
                     out_cap);
  int rc = mpmp__may_wait("mpmp_pool_apply");
  if (rc == 0)
    rc = mpmp__check_extent(out, 1, out_cap, "the result buffer",
                            "mpmp_pool_apply");
  if (rc == 0)
    rc = apply_async(pool, fn, arg, arg_size, NULL, NULL, &j,
                     "mpmp_pool_apply");
  if (rc < 0)
    return rc;
  if ((rc = mpmp_async_get(j, MPMP_FOREVER)) == 0 &&
      (rc = mpmp_async_result(j, &data, &size)) == 0) {
    if (size > out_cap)
      rc = mpmp__err(MPMP_EMSGSIZE, "mpmp_pool_apply: the result has %zu "
                     "bytes, the buffer %zu", size, out_cap);
    else if (size > 0)
      memcpy(out, data, size);
  }
  if (out_size)
    *out_size = size;
  mpmp_async_destroy(j);
  return rc;
}

/* ---- results ------------------------------------------------------------------ */

/* Ready, without driving progress: for wait predicates, which run right
 * after mpmp__wait_until() has progressed. */
int mpmp__async_done(const mpmp_async_t *j) { return atomic_load(&j->ready); }

static int job_ready(void *arg) { return mpmp__async_done(arg); }

/* ---- a stop (walltime.c) ------------------------------------------------------ */

/*
 * The stop came: every job that has no chunk out ends now (MPMP_EINTERRUPTED;
 * deal() deals nothing any more), the others when their chunks are back.
 * Once MPMP_STOP_GRACE is over, the running tasks of every pool are told
 * to stop (mpmp_should_stop()), as terminate does; their items are not
 * recorded as done, and a rerun runs them.
 */
static void stop_pools(void) {
  mpmp_async_t *done = NULL;
  int tell = mpmp__now() >= mpmp__stop_next() &&
             !atomic_exchange(&stop_told, 1);
  pthread_mutex_lock(&mpmp__par.lock);
  for (mpmp_pool_t *pool = mpmp__par.pools; pool != NULL; pool = pool->next) {
    if (tell && pool->jobs != NULL)
      send_stop(pool, pool->last_id, 1);
    for (mpmp_async_t *j = pool->jobs, *next; j != NULL; j = next) {
      next = j->next;
      mpmp_async_t *d = maybe_complete(pool, j);
      if (d) {
        d->next = done;
        done = d;
      }
    }
  }
  pthread_mutex_unlock(&mpmp__par.lock);
  run_callbacks(done);
}

typedef struct stop_wait {
  mpmp__pred_fn pred;
  void *arg;
  int seen; /* the stop was seen already */
} stop_wait_t;

static int pred_or_stop(void *arg) {
  stop_wait_t *w = arg;
  return w->pred(w->arg) || (!w->seen && mpmp__stopping());
}

int mpmp__wait_job(mpmp__pred_fn pred, void *arg, double deadline) {
  if (__builtin_expect(mpmp__in_handler, 0) && !pred(arg)) {
    /* (callers name theirs) */
    int rc = mpmp__may_wait_for("a wait for results", deadline);
    return rc < 0 ? rc : MPMP_ETIMEDOUT; /* a zero timeout only looked */
  }
  for (;;) {
    stop_wait_t w = {pred, arg, mpmp__stopping()};
    if (w.seen)
      stop_pools();
    double next = w.seen && atomic_load(&stop_told) ? INFINITY
                                                    : mpmp__stop_next();
    int rc = mpmp__wait_until(pred_or_stop, &w, fmin(deadline, next));
    if (pred(arg))
      return 0;
    if (rc == MPMP_ETIMEDOUT && !(next < deadline))
      return rc;
    if (rc < 0 && rc != MPMP_ETIMEDOUT) /* finalized meanwhile */
      return rc;
  }
}

/* Wait in slices; the meter shows the map's state when a line is due
 * (progress.c), and the last one when it is done. */
static int wait_with_progress(mpmp_async_t *j, double deadline,
                              mpmp__meter_t *m) {
  int rc;
  do {
    double slice = fmin(deadline, mpmp__now() + 0.5);
    rc = mpmp__wait_job(job_ready, j, slice);
    if (rc != 0 && rc != MPMP_ETIMEDOUT)
      break;
    pthread_mutex_lock(&mpmp__par.lock); /* the progress engine counts */
    size_t done = j->done_items, failed = (size_t)j->nfails + j->lost_fails;
    pthread_mutex_unlock(&mpmp__par.lock);
    mpmp__meter_show(m, done, j->n, failed, j->resumed, rc == 0);
  } while (rc == MPMP_ETIMEDOUT && mpmp__now() < deadline);
  if (rc != 0)
    mpmp__meter_end(m);
  return rc;
}

/* A public call on a result: main rank, mpmp running, a result given. */
static int check_async(const mpmp_async_t *j, const char *fn) {
  int rc = j != NULL && j->remote ? mpmp__check_init(fn) : mpmp__check_main(fn);
  if (rc < 0)
    return rc;
  if (j == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the result (future) is NULL", fn);
  return 0;
}

/* (no lock: a get of a result with no callback pays one load; set before
 * `ready`, whose acquire the waiter has seen; cleared with release after
 * the callbacks ran) */
static int callbacks_over(void *arg) {
  const mpmp_async_t *j = arg;
  return !atomic_load_explicit(&j->in_callback, memory_order_acquire);
}

/* Waits for j. With `cbs` (the pool's get and wait: Python's ApplyResult
 * runs its callback before it sets the result), also for j's done-
 * callbacks, which another thread (the agent) may still be running when
 * j is ready: a caller that frees what its callback uses once get()
 * returns must not race it. Not in the progress engine's callbacks,
 * which may be j's own, nor for a job whose callbacks this thread runs
 * (cbs_run_here); a Future's result does not wait for them, as in
 * concurrent.futures. */
static int not_ready(mpmp_async_t *j, const char *fn, double timeout) {
  pthread_mutex_lock(&mpmp__par.lock); /* the progress engine counts */
  size_t done = j->done_items;
  pthread_mutex_unlock(&mpmp__par.lock);
  return mpmp__err(MPMP_ETIMEDOUT, "%s: timed out: the result is not ready "
                   "after %g s (%zu of %zu items done); it keeps running", fn,
                   timeout, done, j->n);
}

static int async_wait_cbs(mpmp_async_t *j, double timeout, int cbs,
                          const char *fn) {
  double deadline;
  /* A finished one is read, not waited for: also after mpmp_finalize()
   * (the headers: results and futures stay valid until destroyed; a
   * future finalize failed must still say why) */
  int read_only = j != NULL && atomic_load(&j->ready) && !mpmp_initialized();
  int rc = read_only ? 0 : check_async(j, fn);
  if (rc < 0 || (rc = mpmp__timeout(timeout, &deadline, fn)) < 0)
    return rc;
  if (read_only)
    return 0; /* (nothing to wait for, and nothing to wait with) */
  if (!atomic_load(&j->ready) && mpmp__in_handler && deadline == -INFINITY)
    return not_ready(j, fn, timeout); /* a zero timeout only looks: a
      callback's look at another future times out, as Python's result(0)
      does there, and is not refused as a wait */
  if (!atomic_load(&j->ready) && (rc = mpmp__may_wait(fn)) < 0)
    return rc;
  if (j->remote) /* a sub-task's, in a task (worker.c) */
    return mpmp__nest_wait(j, timeout, deadline, fn);
  mpmp__meter_t m = {0};
  if (j->n > 1) /* a map of any kind (an apply is one item) */
    mpmp__meter_start(&m, "map");
  if (mpmp__meter_on(&m))
    rc = wait_with_progress(j, deadline, &m);
  else
    rc = mpmp__wait_job(job_ready, j, deadline);
  if (rc == 0 && cbs && mpmp__in_handler == 0 && !callbacks_over(j) &&
      !cbs_run_here(j) &&
      mpmp__wait_until(callbacks_over, j, deadline) != 0)
    return mpmp__err(MPMP_ETIMEDOUT, "%s: timed out: the result is ready, "
                     "but its done-callback is still running after %g s",
                     fn, timeout);
  if (rc == MPMP_ETIMEDOUT)
    return not_ready(j, fn, timeout);
  return rc;
}

/* The verdict on a ready job, as get() reports it. */
static int job_verdict(const mpmp_async_t *j) {
  if (j->cancelled)
    return mpmp__err(MPMP_ECANCELED, "the task was cancelled before it ran");
  /* (items that failed, some cut short by the stop, are back but not
   * done: a rerun runs those the stop cut short) */
  size_t nf = (size_t)j->nfails, ok = j->done_items > nf ? j->done_items - nf
                                                         : 0;
  char failed[96] = "";
  if (j->interrupted && nf > 0)
    snprintf(failed, sizeof failed, " (%zu more failed or were cut short by "
             "the stop)", nf);
  if (j->interrupted && j->jpath != NULL && j->jr_broken)
    return mpmp__err(MPMP_EINTERRUPTED, "the map was stopped (%s): %zu of "
                     "%zu items done%s; the checkpoint journal %s could not "
                     "record them all (a write failed: a full disk? see the "
                     "warning): make room, and rerun the program with the "
                     "same MPMP_CHECKPOINT to resume what it holds",
                     mpmp__stop_reason(), ok, j->n, failed, j->jpath);
  if (j->interrupted && j->jpath != NULL)
    return mpmp__err(MPMP_EINTERRUPTED, "the map was stopped (%s): %zu of "
                     "%zu items done%s; they are in the checkpoint journal "
                     "%s: rerun the program with the same MPMP_CHECKPOINT to "
                     "resume", mpmp__stop_reason(), ok, j->n, failed,
                     j->jpath);
  if (j->interrupted && j->n == 1 && ok == 0) /* an apply, a submit */
    return mpmp__err(MPMP_EINTERRUPTED, "the task was stopped (%s) before "
                     "it finished%s; a rerun runs it again (checkpoints keep "
                     "only maps' results)", mpmp__stop_reason(), nf > 0 ?
                     " (cut short by the stop)" : "");
  if (j->interrupted)
    return mpmp__err(MPMP_EINTERRUPTED, "the map was stopped (%s): %zu of "
                     "%zu items done%s; rerun with MPMP_CHECKPOINT=DIR to "
                     "resume (this run kept no checkpoint)",
                     mpmp__stop_reason(), ok, j->n, failed);
  if (j->nfails > 0 && j->remote) {
    const fail_t *f = &j->fails[0];
    if (f->code == MPMP_ETASK || f->code == MPMP_ECRASHED)
      return mpmp__err(f->code, "the sub-task failed on rank %d: %s",
                       f->rank, f->msg ? f->msg : "?");
    return mpmp__err(f->code, "%s", f->msg ? f->msg : "?");
  }
  if (j->stopped == 2 && j->never_n > 0 && j->nfails == 0)
    return mpmp__err(MPMP_ECANCELED, "the executor's shutdown "
                     "(cancel_futures) cancelled %zu of the map's %zu items "
                     "before they ran; the other results are in place",
                     j->never_n, j->n);
  if (j->nfails > 0 && j->never_n > 0) {
    const fail_t *f = &j->fails[0];
    return mpmp__err(f->code < 0 ? f->code : MPMP_ETASK, "item %zu failed "
                     "on rank %d: %s (%zu of %zu items failed, %zu of them "
                     "never ran: %s; the others' results are in place)",
                     f->index, f->rank, f->msg ? f->msg : "?",
                     (size_t)j->nfails + j->never_n, j->n, j->never_n,
                     j->stopped ? "the map was stopped"
                                : "the pool was terminated");
  }
  if (j->nfails > 0 && j->own_in != NULL) { /* one task: apply, submit */
    const fail_t *f = &j->fails[0];
    if (f->code == MPMP_ECRASHED) /* its message names the task and rank */
      return mpmp__err(f->code, "%s", f->msg ? f->msg : "the task crashed");
    return mpmp__err(f->code < 0 ? f->code : MPMP_ETASK, "the task failed "
                     "on rank %d: %s", f->rank, f->msg ? f->msg : "?");
  }
  if (j->nfails > 0) {
    const fail_t *f = &j->fails[0];
    return mpmp__err(f->code < 0 ? f->code : MPMP_ETASK, "item %zu failed on rank %d: %s (%d of %zu "
                     "items failed; the others' results are in place)",
                     f->index, f->rank, f->msg ? f->msg : "?", j->nfails, j->n);
  }
  if (j->lost_fails > 0)
    return mpmp__err(MPMP_ETASK, "%zu items failed; the main rank ran out of "
                     "memory for their records", j->lost_fails);
  if (j->done_items < j->n)
    return mpmp__err(MPMP_ETASK, "the pool was terminated: %zu of %zu items "
                     "done", j->done_items, j->n);
  return 0;
}

int mpmp__async_wait(mpmp_async_t *j, double timeout, const char *fn) {
  return async_wait_cbs(j, timeout, 0, fn);
}

int mpmp__async_get(mpmp_async_t *j, double timeout, const char *fn) {
  int rc = async_wait_cbs(j, timeout, 0, fn);
  return rc < 0 ? rc : job_verdict(j);
}

MPMP_API int mpmp_async_wait(mpmp_async_t *j, double timeout) {
  return async_wait_cbs(j, timeout, 1, "mpmp_async_wait");
}

MPMP_API int mpmp_async_get(mpmp_async_t *j, double timeout) {
  int rc = async_wait_cbs(j, timeout, 1, "mpmp_async_get");
  return rc < 0 ? rc : job_verdict(j);
}

/* Ready now? Lets what has arrived in first (mpmp running). */
static int ready_now(mpmp_async_t *j) {
  if (mpmp_initialized())
    mpmp__progress();
  return atomic_load(&j->ready);
}

int mpmp__async_ready(mpmp_async_t *j, const char *fn) {
  if (j == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the result (future) is NULL", fn);
  return ready_now(j);
}

/* A pool's result is ready once its done-callbacks ran, as Python's
 * ApplyResult sets its event after its callback: get(0) after ready()
 * never times out (async_wait_cbs). In a callback, as get there, it does
 * not wait for them (it may be j's own). A Future is done before its
 * callbacks run, as in concurrent.futures (mpmp__async_ready). */
static int ready_after_cbs(mpmp_async_t *j, const char *fn) {
  int rc = mpmp__async_ready(j, fn);
  return rc > 0 && mpmp__in_handler == 0 && !callbacks_over(j) ? 0 : rc;
}

MPMP_API int mpmp_async_ready(mpmp_async_t *j) {
  return ready_after_cbs(j, "mpmp_async_ready");
}

MPMP_API int mpmp_async_successful(mpmp_async_t *j) {
  int rc = ready_after_cbs(j, "mpmp_async_successful");
  if (rc <= 0)
    return rc < 0 ? rc : mpmp__err(MPMP_EAGAIN, "mpmp_async_successful: the "
                                   "result is not ready");
  return job_ok(j);
}

/* ---- what a Future adds (executor.c) ----------------------------------------- */

/* A job not dealt yet never runs: it is ready, cancelled; run_callback()
 * is owed (mpmp__par.lock held; unlinked from its pool by the caller). */
static void cancel_unlinked(mpmp_async_t *j) {
  j->pool = NULL;
  j->cancelled = 1;
  atomic_store_explicit(&j->in_callback, 1, memory_order_relaxed);
  cbs_owe();
  atomic_store(&j->ready, 1);
  notify_watches(j);
}

/* Not dealt yet, nor complete (mpmp__par.lock held). */
static int not_started(const mpmp_async_t *j) {
  return !atomic_load(&j->ready) && j->next_item == 0 && j->chunks_out == 0;
}

int mpmp__async_cancel(mpmp_async_t *j) {
  int cancelled = 0;
  if (j->remote)
    return mpmp__nest_cancel(j);
  pthread_mutex_lock(&mpmp__par.lock);
  if (not_started(j)) {
    unlink_job(j->pool, j);
    cancel_unlinked(j);
    cancelled = 1;
  }
  int now = j->cancelled;
  pthread_mutex_unlock(&mpmp__par.lock);
  if (cancelled) {
    mpmp__ring_rank(mpmp__net.rank);
    run_callback(j);
  }
  return now;
}

int mpmp__async_cancelled(const mpmp_async_t *j) { return j->cancelled; }

/* Deal no more of the job; it completes once its chunks out are back. */
void mpmp__async_stop(mpmp_async_t *j) {
  mpmp_async_t *done = NULL;
  pthread_mutex_lock(&mpmp__par.lock);
  if (!atomic_load(&j->ready)) {
    j->stopped = 1;
    drop_undealt(j);
    done = maybe_complete(j->pool, j);
  }
  pthread_mutex_unlock(&mpmp__par.lock);
  if (done)
    run_callback(done);
}

/* Tell the workers to stop the tasks of jobs up to `id` (upto = 1: every
 * job of the pool, for terminate) or of job `id` alone (mpmp__par.lock held). */
static void send_stop(mpmp_pool_t *pool, uint64_t id, int upto) {
  for (int w = 0; w < pool->nworkers; w++) {
    if (pool->inflight[w] == 0)
      continue;
    mpmp__term_hdr_t *m = mpmp__malloc(sizeof *m);
    if (m == NULL)
      continue; /* the tasks run to their end: nothing is lost */
    *m = (mpmp__term_hdr_t){.id = id, .upto = (uint32_t)upto};
    mpmp__send_nb(pool->ranks[w], MPMP__TAG_TERMINATE, m, sizeof *m);
  }
}

/* Stop the job: deal no more, and ask its running tasks to stop. */
void mpmp__async_terminate(mpmp_async_t *j) {
  pthread_mutex_lock(&mpmp__par.lock);
  if (!atomic_load(&j->ready) && j->pool != NULL)
    send_stop(j->pool, j->group, 0);
  pthread_mutex_unlock(&mpmp__par.lock);
  mpmp__async_stop(j);
}

/*
 * An executor's shutdown(cancel_futures): every job of the pool that has
 * not started is cancelled (MPMP_ECANCELED), and a map that has started
 * deals no more: its items not dealt yet are cancelled (stopped = 2; its
 * get says MPMP_ECANCELED once the running chunks are back, and those
 * items read as failures "cancelled before it ran"), as Python cancels
 * the futures of Executor.map's calls not started. One pass under the
 * lock: a victim picked and then cancelled outside it could be dealt in
 * between, and the loop that stopped at the first such one left thousands
 * of jobs to run (4000 submits, 2 workers); and each cancel looked for its
 * job from the list's head again. Their callbacks run after, in order.
 */
void mpmp__pool_cancel_pending(mpmp_pool_t *pool) {
  mpmp_async_t *victims = NULL, **vt = &victims, *done = NULL;
  pthread_mutex_lock(&mpmp__par.lock);
  pool->cancelled = 1;
  for (mpmp_async_t **pp = &pool->jobs, *prev = NULL; *pp != NULL;) {
    mpmp_async_t *j = *pp;
    if (!not_started(j)) {
      /* a map under way: the rest is cancelled (not an imap's part: its
       * iterator stops reading input, and ends at its first item
       * cancelled, imap.c; not a submit) */
      if (!atomic_load(&j->ready) && !j->stopped && j->group == j->id &&
          j->n > 1) { /* (a submit dealt already runs, or the terminate
                          ends it: it says so) */
        j->stopped = 2;
        drop_undealt(j);
      }
      prev = j;
      pp = &j->next;
      continue;
    }
    cancel_unlinked(unlink_at(pool, pp, prev)); /* (pp: now the next) */
    *vt = j;
    vt = &j->next;
  }
  /* the started ones whose chunks are all back complete now */
  for (mpmp_async_t *j = pool->jobs, *next; j != NULL; j = next) {
    next = j->next;
    mpmp_async_t *d = j->stopped == 2 ? maybe_complete(pool, j) : NULL;
    if (d != NULL) {
      d->next = done;
      done = d;
    }
  }
  pthread_mutex_unlock(&mpmp__par.lock);
  mpmp__ring_rank(mpmp__net.rank);
  run_callbacks(victims);
  run_callbacks(done);
}

static int not_receiving(void *arg) {
  mpmp_async_t *j = arg;
  pthread_mutex_lock(&mpmp__par.lock);
  int idle = j->receiving == 0;
  pthread_mutex_unlock(&mpmp__par.lock);
  return idle;
}

int mpmp__async_detach(mpmp_async_t *j, double deadline) {
  pthread_mutex_lock(&mpmp__par.lock);
  int ready = atomic_load(&j->ready);
  int busy = j->zc != NULL || j->pool == NULL; /* workers write `out` */
  if (!ready && !busy) /* before the stop, which may finish the job at */
    j->out = NULL;     /* once: later results are drained, journaled
                          nowhere, and items that never ran not cleared */
  pthread_mutex_unlock(&mpmp__par.lock);
  mpmp__async_terminate(j);
  if (ready || busy)
    return ready ? 0 : MPMP_EBUSY;
  int rc = mpmp__wait_until(not_receiving, j, deadline);
  if (rc == 0 && j->in_size > 0)
    rc = mpmp__sends_wait_range(j->in, j->n * j->in_size, deadline);
  return rc;
}

int mpmp__async_running(mpmp_async_t *j) {
  pthread_mutex_lock(&mpmp__par.lock);
  int running = !atomic_load(&j->ready) && (j->chunks_out > 0 || j->remote);
  pthread_mutex_unlock(&mpmp__par.lock);
  return running;
}

/* Python: a callback added to a finished future runs at once. */
int mpmp__async_add_callback(mpmp_async_t *j, mpmp_async_cb cb, void *user) {
  int now = 0;
  pthread_mutex_lock(&mpmp__par.lock);
  if (atomic_load(&j->ready)) {
    now = 1;
  } else {
    void *m = mpmp__realloc(j->more, (size_t)(j->nmore + 1) * sizeof *j->more);
    if (m == NULL) {
      pthread_mutex_unlock(&mpmp__par.lock);
      return mpmp__err(MPMP_ENOMEM, "out of memory for a callback");
    }
    j->more = m;
    j->more[j->nmore].cb = cb;
    j->more[j->nmore++].user = user;
  }
  pthread_mutex_unlock(&mpmp__par.lock);
  if (now)
    cb(j, job_ok(j), user);
  return 0;
}

const char *mpmp__async_item_error(const mpmp_async_t *j, size_t index,
                                   int *rank, int *code) {
  int lo = 0, hi = j->nfails - 1; /* fails are sorted by index */
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    if (j->fails[mid].index == index) {
      *rank = j->fails[mid].rank;
      *code = j->fails[mid].code < 0 ? j->fails[mid].code : MPMP_ETASK;
      return j->fails[mid].msg ? j->fails[mid].msg : "";
    }
    if (j->fails[mid].index < index)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return NULL;
}

int mpmp__async_interrupted(const mpmp_async_t *j) {
  return atomic_load(&j->ready) && j->interrupted;
}

int mpmp__async_complete(const mpmp_async_t *j) {
  return atomic_load(&j->ready) && !j->cancelled && j->done_items == j->n;
}

/* The first failure's message, or NULL. */
const char *mpmp__async_error(const mpmp_async_t *j) {
  if (j->cancelled)
    return "cancelled";
  if (j->interrupted)
    return "interrupted: the job was stopped before its end";
  if (j->nfails > 0)
    return j->fails[0].msg ? j->fails[0].msg : "";
  if (j->lost_fails > 0)
    return "failed (its message was lost: out of memory)";
  if (j->done_items < j->n && j->stopped == 2)
    return "cancelled: the executor's shutdown (cancel_futures) came before "
           "some of its items ran";
  return j->done_items < j->n ? "the pool was terminated" : NULL;
}

MPMP_API int mpmp_async_failed_count(mpmp_async_t *j) {
  int rc = mpmp__async_ready(j, "mpmp_async_failed_count");
  if (rc <= 0)
    return rc < 0 ? rc : mpmp__err(MPMP_EAGAIN, "mpmp_async_failed_count: "
                                   "the result is not ready");
  size_t all = (size_t)j->nfails + j->never_n;
  return all < INT_MAX ? (int)all : INT_MAX;
}

/* What an item that never ran says (add_never). */
static const char *never_msg(const mpmp_async_t *j) {
  return j->stopped == 2 ? "cancelled before it ran (the executor's "
                           "shutdown with cancel_futures)"
         : j->stopped   ? "cancelled before it ran (the map was stopped)"
                        : "terminated before it ran (the pool was terminated)";
}

/* Failure k in item order, of the recorded ones and the items that never
 * ran (both sorted; no item is in both): 0 with the record's number in
 * j->fails, or with the item's index and *never set when it never ran;
 * -1 past the last. Each range of items that never ran is placed among the
 * records by a binary search, so that a caller who lists every failure
 * (k = 0, 1, ...) takes time linear in their number: walking the records
 * one by one from the first took 45 s for 160 000 failures. */
static int nth_failure(const mpmp_async_t *j, size_t k, size_t *at,
                       int *never) {
  size_t nf = j->nfails > 0 ? (size_t)j->nfails : 0, passed = 0;
  for (int r = 0; r < j->nnever; r++) {
    /* the records before range r: those whose index is below its first */
    size_t lo = 0, hi = nf;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (j->fails[mid].index < j->never[r].first)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (k < lo + passed) { /* a record before this range */
      *at = k - passed;
      *never = 0;
      return 0;
    }
    if (k - (lo + passed) < j->never[r].count) {
      *at = j->never[r].first + (k - (lo + passed));
      *never = 1;
      return 0;
    }
    passed += j->never[r].count;
  }
  if (k - passed < nf) { /* a record after the last range */
    *at = k - passed;
    *never = 0;
    return 0;
  }
  return -1;
}

size_t mpmp__async_resumed(const mpmp_async_t *j) { return j->resumed; }

MPMP_API int mpmp_async_resumed(mpmp_async_t *j, size_t *n) {
  int rc = mpmp__async_ready(j, "mpmp_async_resumed");
  if (rc <= 0)
    return rc < 0 ? rc : mpmp__err(MPMP_EAGAIN, "mpmp_async_resumed: the "
                                   "result is not ready");
  if (n == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_async_resumed: n is NULL");
  *n = j->resumed;
  return 0;
}

MPMP_API int mpmp_async_failure(mpmp_async_t *j, int k, size_t *index,
                                int *rank, const char **msg) {
  int rc = mpmp__async_ready(j, "mpmp_async_failure");
  if (rc <= 0)
    return rc < 0 ? rc : mpmp__err(MPMP_EAGAIN, "mpmp_async_failure: the "
                                   "result is not ready");
  size_t at = 0;
  int never = 0, count = mpmp_async_failed_count(j);
  if (k < 0 || k >= count || nth_failure(j, (size_t)k, &at, &never) < 0)
    return mpmp__err(MPMP_EINVAL, "mpmp_async_failure: no failure number %d "
                     "(there are %d)", k, count);
  if (never) { /* it ran nowhere */
    if (index)
      *index = at;
    if (rank)
      *rank = -1;
    if (msg)
      *msg = never_msg(j);
    return 0;
  }
  if (index)
    *index = j->fails[at].index;
  if (rank)
    *rank = j->fails[at].rank;
  if (msg)
    *msg = j->fails[at].msg ? j->fails[at].msg : "";
  return 0;
}

MPMP_API int mpmp_async_result(mpmp_async_t *j, const void **data,
                               size_t *size) {
  int rc = mpmp__async_ready(j, "mpmp_async_result");
  if (rc <= 0)
    return rc < 0 ? rc : mpmp__err(MPMP_EAGAIN, "mpmp_async_result: the "
                                   "result is not ready");
  if (j->cancelled)
    return mpmp__err(MPMP_ECANCELED, "the task was cancelled before it ran");
  if (!job_ok(j))
    return mpmp__err(MPMP_ETASK, "the task failed: %s", mpmp__async_error(j));
  if (data)
    *data = j->result;
  if (size)
    *size = j->result_size;
  return 0;
}

/* ---- watches (as_completed, futures_wait) ----------------------------------- */

static int link_add(mpmp_async_t *j, mpmp__watch_t *w, size_t slot) {
  if (j->link.w == NULL) {
    j->link = (watch_link_t){w, slot};
    return 0;
  }
  if (j->nlinks == j->links_cap) {
    int cap = j->links_cap ? 2 * j->links_cap : 4;
    watch_link_t *l = mpmp__realloc(j->links, (size_t)cap * sizeof *l);
    if (l == NULL)
      return mpmp__err(MPMP_ENOMEM, "out of memory for a watch");
    j->links = l;
    j->links_cap = cap;
  }
  j->links[j->nlinks++] = (watch_link_t){w, slot};
  return 0;
}

static void link_remove(mpmp_async_t *j, const mpmp__watch_t *w) {
  if (j->link.w == w) {
    j->link = j->nlinks > 0 ? j->links[--j->nlinks] : (watch_link_t){0};
    return;
  }
  for (int k = 0; k < j->nlinks; k++)
    if (j->links[k].w == w) {
      j->links[k] = j->links[--j->nlinks];
      return;
    }
}

static void watch_done(mpmp__watch_t *w, size_t slot, mpmp_async_t *j) {
  w->pending[slot] = NULL;
  w->at[slot] = w->ndone;
  w->done[w->ndone++] = j;
  w->ncompleted++;
  w->failed += job_exception(j);
  atomic_fetch_add(&w->seq, 1);
}

/* The job just completed (mpmp__par.lock held): every watch it is in learns it;
 * it stays linked until it is taken or the watch ends. */
static void notify_watches(mpmp_async_t *j) {
  if (j->link.w != NULL)
    watch_done(j->link.w, j->link.slot, j);
  for (int k = 0; k < j->nlinks; k++)
    watch_done(j->links[k].w, j->links[k].slot, j);
}

/* The user destroys a watched job (mpmp__par.lock held): it leaves its watches,
 * which count it gone, so that nothing waits for it or returns it. A
 * completed one leaves a hole in `done`, which a take passes over: O(1),
 * where a search and a memmove of the rest made destroying n futures
 * under a live as_completed iterator O(n^2) (100 000: 2.3 s). */
static void watch_forget(mpmp__watch_t *w, size_t slot, mpmp_async_t *j) {
  if (w->pending[slot] == j) {
    w->pending[slot] = NULL;
  } else {
    size_t k = w->at[slot];
    if (k >= w->head && k < w->ndone && w->done[k] == j) {
      w->done[k] = NULL;
      w->ncompleted--;
      w->failed -= job_exception(j);
    }
  }
  w->gone++;
  atomic_fetch_add(&w->seq, 1);
}

static void unwatch_all(mpmp_async_t *j) {
  while (j->link.w != NULL) {
    watch_link_t l = j->link;
    watch_forget(l.w, l.slot, j);
    link_remove(j, l.w);
  }
}

typedef struct fs_entry {
  mpmp_async_t *j;
  size_t at;
} fs_entry_t;

static int cmp_entry(const void *a, const void *b) {
  const fs_entry_t *x = a, *y = b;
  uintptr_t p = (uintptr_t)x->j, q = (uintptr_t)y->j;
  if (p != q)
    return (p > q) - (p < q);
  return (x->at > y->at) - (x->at < y->at);
}

/* The distinct jobs of fs, in the order of their first appearance. */
static size_t distinct(mpmp_async_t *const *fs, size_t n, mpmp_async_t **out,
                       fs_entry_t *tmp) {
  for (size_t i = 0; i < n; i++)
    tmp[i] = (fs_entry_t){fs[i], i};
  if (n > 1)
    qsort(tmp, n, sizeof *tmp, cmp_entry);
  for (size_t i = 0; i < n; i++) /* mark the first of each run */
    out[i] = NULL;
  for (size_t i = 0; i < n; i++)
    if (i == 0 || tmp[i].j != tmp[i - 1].j)
      out[tmp[i].at] = tmp[i].j;
  size_t u = 0;
  for (size_t i = 0; i < n; i++)
    if (out[i] != NULL)
      out[u++] = out[i];
  return u;
}

int mpmp__watch_init(mpmp__watch_t *w, mpmp_async_t *const *fs, size_t n,
                     const char *fn) {
  memset(w, 0, sizeof *w);
  if (fs == NULL && n > 0)
    return mpmp__err(MPMP_EINVAL, "%s: the future array is NULL", fn);
  for (size_t i = 0; i < n; i++)
    if (fs[i] == NULL)
      return mpmp__err(MPMP_EINVAL, "%s: future %zu of %zu is NULL", fn, i, n);
  fs_entry_t *tmp = mpmp__malloc(n * sizeof *tmp);
  w->pending = mpmp__calloc(n, sizeof *w->pending);
  w->done = mpmp__calloc(n, sizeof *w->done);
  w->at = mpmp__calloc(n, sizeof *w->at);
  if (tmp == NULL || w->pending == NULL || w->done == NULL || w->at == NULL) {
    mpmp__free(tmp);
    mpmp__watch_fini(w);
    return mpmp__err(MPMP_ENOMEM, "%s: out of memory for %zu futures", fn, n);
  }
  w->n = distinct(fs, n, w->pending, tmp);
  mpmp__free(tmp);
  int rc = 0;
  pthread_mutex_lock(&mpmp__par.lock);
  for (size_t k = 0; k < w->n; k++) {
    mpmp_async_t *j = w->pending[k];
    if (link_add(j, w, k) < 0) {
      for (size_t i = k; i < w->n; i++)
        w->pending[i] = NULL; /* not linked: fini must not unlink them */
      rc = MPMP_ENOMEM;
      break;
    }
    if (atomic_load(&j->ready))
      watch_done(w, k, j);
  }
  pthread_mutex_unlock(&mpmp__par.lock);
  if (rc < 0) {
    mpmp__watch_fini(w);
    return mpmp__err(rc, "%s: out of memory for %zu futures", fn, n);
  }
  return 0;
}

mpmp_async_t *mpmp__watch_take(mpmp__watch_t *w) {
  mpmp_async_t *j = NULL;
  pthread_mutex_lock(&mpmp__par.lock);
  while (j == NULL && w->head < w->ndone) {
    j = w->done[w->head++];
    if (j == NULL) /* a hole (watch_forget): head counts it now */
      w->gone--;
    else
      link_remove(j, w);
  }
  pthread_mutex_unlock(&mpmp__par.lock);
  return j;
}

void mpmp__watch_fini(mpmp__watch_t *w) {
  pthread_mutex_lock(&mpmp__par.lock);
  for (size_t k = 0; w->pending != NULL && k < w->n; k++)
    if (w->pending[k] != NULL)
      link_remove(w->pending[k], w);
  for (size_t k = w->head; w->done != NULL && k < w->ndone; k++)
    if (w->done[k] != NULL)
      link_remove(w->done[k], w);
  pthread_mutex_unlock(&mpmp__par.lock);
  mpmp__free(w->pending);
  mpmp__free(w->done);
  mpmp__free(w->at);
  memset(w, 0, sizeof *w);
}

/* ---- a worker's futures of sub-tasks (nested submission, worker.c) ------------ */

/* A ready apply's outcome for the worker that submitted it (no progress:
 * called in a done-callback): 0 and its result, MPMP_ECANCELED, or the
 * failure's code, message and rank. */
int mpmp__async_outcome(const mpmp_async_t *j, const void **data,
                        size_t *size, const char **msg, int *rank) {
  if (j->cancelled)
    return MPMP_ECANCELED;
  if (job_ok(j)) {
    *data = j->result;
    *size = j->result_size;
    return 0;
  }
  *msg = mpmp__async_error(j);
  if (j->nfails > 0) {
    *rank = j->fails[0].rank;
    return j->fails[0].code < 0 ? j->fails[0].code : MPMP_ETASK;
  }
  return MPMP_ETASK;
}

mpmp_async_t *mpmp__async_remote_new(uint64_t id) {
  mpmp_async_t *j = mpmp__calloc(1, sizeof *j);
  if (j != NULL)
    *j = (mpmp_async_t){.id = id, .n = 1, .remote = 1, .remote_rank = -1};
  return j;
}

/* The main rank's answer: code 0 (the result is the `size` bytes at
 * `result`, inside `msg_buf`, which the future keeps), MPMP_ECANCELED,
 * or a failure with its message. A future destroyed meanwhile is freed. */
void mpmp__async_remote_done(mpmp_async_t *j, int code, int rank,
                             const char *msg, size_t msglen, void *msg_buf,
                             const void *result, size_t size) {
  pthread_mutex_lock(&mpmp__par.lock);
  int orphan = j->orphan;
  if (!orphan) {
    j->remote_rank = rank;
    if (code == 0) {
      j->done_items = 1;
      j->result_msg = msg_buf;
      j->result = (void *)result;
      j->result_size = size;
      msg_buf = NULL;
    } else if (code == MPMP_ECANCELED) {
      j->cancelled = 1;
    } else {
      add_fail(j, 0, rank, code, msg, msglen);
    }
    atomic_store_explicit(&j->in_callback, 1, memory_order_relaxed);
    cbs_owe(); /* (run_callback() clears both) */
    atomic_store(&j->ready, 1);
    notify_watches(j);
  }
  pthread_mutex_unlock(&mpmp__par.lock);
  mpmp__free(msg_buf);
  if (orphan)
    job_free(j);
  else
    run_callback(j); /* its done-callbacks, here (the worker's agent) */
}

/* ---- destroying a result -------------------------------------------------------- */

static void job_free(mpmp_async_t *j) {
  if (j->own_jr)
    mpmp__journal_close(j->jr);
  mpmp__free(j->done_bits);
  mpmp__free(j->jpath);
  mpmp__free(j->more);
  mpmp__free(j->links);
  for (int k = 0; k < j->nfails; k++)
    mpmp__free(j->fails[k].msg);
  mpmp__free(j->fails);
  mpmp__free(j->never);
  if (j->back != NULL)
    mpmp__free(j->back->r);
  mpmp__free(j->back);
  for (int k = 0; k < j->nretry; k++)
    mpmp__free(j->retries[k].msg);
  mpmp__free(j->retries);
  mpmp__free(j->result_msg); /* holds j->result */
  mpmp__free(j->own_in);
  mpmp__var_free(j->var);
  mpmp__free(j->zc);
  mpmp__free(j->home);
  mpmp__free(j);
}

/* How long mpmp_async_destroy() waits for a running map to let go of the
 * caller's buffers (a worker that takes no messages): then it waits for
 * the map itself. */
#define DESTROY_LET_GO_S 10.0

/* Does the job read or write the caller's memory (a map's in and out;
 * apply copied its argument, and a zero-copy map's workers write a block
 * they map themselves)? Under mpmp__par.lock. */
static int holds_callers(const mpmp_async_t *j) {
  return j->own_in == NULL && j->zc == NULL && j->pool != NULL &&
         (j->in != NULL || j->out != NULL);
}

MPMP_API void mpmp_async_destroy(mpmp_async_t *j) {
  if (j == NULL)
    return;
  int busy = 0;
  /* A running map: the caller may free its in and out once this returns
   * (it can no longer learn when the map is over), so the map stops here,
   * as mpmp_pool_terminate() would stop it alone: no item is dealt any
   * more, its running tasks are asked to stop, and their results are
   * dropped (Python runs the rest of a dropped map_async; it copied the
   * items when the map began). Not from a callback, which cannot wait:
   * there the buffers must outlive the pool's join (pool.h). */
  pthread_mutex_lock(&mpmp__par.lock);
  int let_go = mpmp_initialized() && !mpmp__in_handler &&
               !atomic_load(&j->ready) && holds_callers(j);
  pthread_mutex_unlock(&mpmp__par.lock);
  if (let_go && mpmp__async_detach(j, mpmp__deadline(DESTROY_LET_GO_S)) != 0)
    mpmp__async_wait(j, MPMP_FOREVER, "mpmp_async_destroy");
  pthread_mutex_lock(&mpmp__par.lock);
  unwatch_all(j);
  if (mpmp_initialized()) {
    busy = !atomic_load(&j->ready) ||
           atomic_load_explicit(&j->in_callback, memory_order_relaxed);
    j->orphan = busy; /* run_callback() frees it when it is done */
  }
  pthread_mutex_unlock(&mpmp__par.lock);
  if (!busy)
    job_free(j);
}

/* ---- close, terminate, join --------------------------------------------------- */

MPMP_API int mpmp_pool_close(mpmp_pool_t *pool) {
  int rc = check_pool(pool, "mpmp_pool_close");
  if (rc < 0)
    return rc;
  pthread_mutex_lock(&mpmp__par.lock);
  if (pool->state == POOL_RUN)
    pool->state = POOL_CLOSED;
  pthread_mutex_unlock(&mpmp__par.lock);
  return 0;
}

/*
 * Stop now. Every worker with work of this pool is told to stop every job
 * up to the pool's newest (one message, whatever number of jobs are in
 * flight: a worker keeps the highest such id, and its tasks of older jobs
 * see mpmp_should_stop(), while chunks it has not started are skipped).
 */
MPMP_API int mpmp_pool_terminate(mpmp_pool_t *pool) {
  mpmp_async_t *done = NULL;
  int rc = check_pool(pool, "mpmp_pool_terminate");
  if (rc < 0)
    return rc;
  pthread_mutex_lock(&mpmp__par.lock);
  pool->state = POOL_TERMINATED;
  if (pool->jobs != NULL)
    send_stop(pool, pool->last_id, 1);
  for (mpmp_async_t *j = pool->jobs, *next; j != NULL; j = next) {
    next = j->next;
    drop_undealt(j); /* deal nothing more */
    mpmp_async_t *d = maybe_complete(pool, j);
    if (d) { /* chain the completed ones for their callbacks */
      d->next = done;
      done = d;
    }
  }
  pthread_mutex_unlock(&mpmp__par.lock);
  mpmp__ring_rank(mpmp__net.rank);
  run_callbacks(done);
  return 0;
}

/* No work out, and (closed) no imap that still reads input: it may
 * submit more (Python's join waits for an imap's feed too). */
static int pool_idle(void *arg) {
  mpmp_pool_t *pool = arg;
  int idle = 1;
  pthread_mutex_lock(&mpmp__par.lock);
  for (int w = 0; w < pool->nworkers; w++)
    idle &= pool->inflight[w] == 0;
  idle &= pool->jobs == NULL;
  idle &= atomic_load(&cbs_pending) == cbs_here; /* (see cbs_pending) */
  idle &= pool->state == POOL_TERMINATED || pool->feeding == 0;
  pthread_mutex_unlock(&mpmp__par.lock);
  return idle;
}

/* How many of the pool's imaps still read input, and whether one of them
 * is read in this thread (mpmp__par.lock held). */
static int feeding_here(const mpmp_pool_t *pool) {
  for (int i = 0; i < pool->niters; i++)
    if (mpmp__imap_fed_here(pool->iters[i]))
      return 1;
  return 0;
}

int mpmp__pool_cancelled(mpmp_pool_t *pool) {
  pthread_mutex_lock(&mpmp__par.lock);
  int c = pool->cancelled;
  pthread_mutex_unlock(&mpmp__par.lock);
  return c;
}

int mpmp__pool_fed_here(mpmp_pool_t *pool) {
  pthread_mutex_lock(&mpmp__par.lock);
  int here = pool->feeding > 0 && feeding_here(pool);
  pthread_mutex_unlock(&mpmp__par.lock);
  return here;
}

MPMP_API int mpmp_pool_join(mpmp_pool_t *pool, double timeout) {
  double deadline;
  int rc = check_pool(pool, "mpmp_pool_join");
  if (rc < 0 || (rc = mpmp__timeout(timeout, &deadline, "mpmp_pool_join")) < 0)
    return rc;
  pthread_mutex_lock(&mpmp__par.lock);
  int state = pool->state, joined = pool->joined, feeding = pool->feeding;
  int here = feeding > 0 && feeding_here(pool);
  pthread_mutex_unlock(&mpmp__par.lock);
  if (state == POOL_RUN)
    return mpmp__err(MPMP_EPERM, "mpmp_pool_join: join a pool after close() "
                     "or terminate(), as in Python");
  if (joined)
    return 0;
  /* An imap feeds the pool from the thread that reads it: a join in that
   * thread would wait for ever. One read by another thread is waited for
   * (pool_idle), as Python's join waits for an imap's feed. */
  if (state == POOL_CLOSED && here)
    return mpmp__err(MPMP_EPERM, "mpmp_pool_join: an imap iterator of this "
                     "pool still reads input, and this thread feeds it: "
                     "read it to the end (or destroy it, or terminate the "
                     "pool) before joining");
  if (!pool_idle(pool) && (rc = mpmp__may_wait("mpmp_pool_join")) < 0)
    return rc;
  rc = mpmp__wait_job(pool_idle, pool, deadline);
  if (rc < 0) {
    pthread_mutex_lock(&mpmp__par.lock);
    feeding = pool->state == POOL_CLOSED ? pool->feeding : 0;
    pthread_mutex_unlock(&mpmp__par.lock);
    return mpmp__err(rc, "mpmp_pool_join: timed out: %s after %g s",
                     feeding > 0 ? "an imap of the pool still reads input"
                                 : "the workers are still busy", timeout);
  }
  pthread_mutex_lock(&mpmp__par.lock);
  release(pool);
  pool->joined = 1;
  pthread_mutex_unlock(&mpmp__par.lock);
  return 0;
}

/* ---- imap iterators of a pool (imap.c) ------------------------------------------ */

int mpmp__pool_iter_add(mpmp_pool_t *pool, mpmp_imap_t *it) {
  int rc = 0;
  pthread_mutex_lock(&mpmp__par.lock);
  if (pool->state != POOL_RUN) {
    rc = mpmp__err(MPMP_EPERM, "imap: the pool is %s: no more work can be "
                   "submitted (Python: ValueError \"Pool not running\")",
                   state_name(pool));
  } else if (pool->niters == pool->iters_cap) {
    int cap = pool->iters_cap ? 2 * pool->iters_cap : 4;
    mpmp_imap_t **t = mpmp__realloc(pool->iters, (size_t)cap * sizeof *t);
    if (t == NULL)
      rc = mpmp__err(MPMP_ENOMEM, "out of memory for an imap");
    else {
      pool->iters = t;
      pool->iters_cap = cap;
    }
  }
  if (rc == 0) {
    pool->iters[pool->niters++] = it;
    pool->feeding++;
  }
  pthread_mutex_unlock(&mpmp__par.lock);
  return rc;
}

void mpmp__pool_iter_fed(mpmp_pool_t *pool, mpmp_imap_t *it) {
  (void)it;
  pthread_mutex_lock(&mpmp__par.lock);
  pool->feeding--;
  pthread_mutex_unlock(&mpmp__par.lock);
  mpmp__ring_rank(mpmp__net.rank); /* a join in another thread waits */
}

void mpmp__pool_iter_remove(mpmp_pool_t *pool, mpmp_imap_t *it) {
  pthread_mutex_lock(&mpmp__par.lock);
  for (int i = 0; i < pool->niters; i++)
    if (pool->iters[i] == it) {
      pool->iters[i] = pool->iters[--pool->niters];
      break;
    }
  pthread_mutex_unlock(&mpmp__par.lock);
}

/* ---- destroy, and the end of the job ----------------------------------------- */

MPMP_API int mpmp_pool_destroy(mpmp_pool_t *pool) {
  if (pool == NULL)
    return 0;
  int rc = 0;
  if (mpmp_initialized() && (rc = mpmp__check_main("mpmp_pool_destroy")) < 0)
    return rc;
  if (!pool->joined && mpmp_initialized()) { /* finalize joined the others */
    if ((rc = mpmp__may_wait("mpmp_pool_destroy")) < 0)
      return rc; /* (the pool is left as it was) */
    mpmp_pool_terminate(pool);
    rc = mpmp_pool_join(pool, MPMP_FOREVER);
  }
  /* Its iterators outlive it: they end with an error (imap.c). */
  pthread_mutex_lock(&mpmp__par.lock);
  mpmp_imap_t **iters = pool->iters;
  int niters = pool->niters;
  pool->iters = NULL;
  pool->niters = 0;
  pthread_mutex_unlock(&mpmp__par.lock);
  for (int i = 0; i < niters; i++)
    mpmp__imap_pool_gone(iters[i]);
  mpmp__free(iters);
  stage_free(pool->stage);
  mpmp__free(pool->ranks);
  mpmp__free(pool->inflight);
  mpmp__free(pool->seceded);
  mpmp__free(pool->last);
  mpmp__free(pool->revoke);
  mpmp__free(pool->hostless);
  mpmp__free(pool->checkpoint);
  mpmp__free(pool);
  return rc;
}

/* At finalize: the pools the program left are terminated, like Python's
 * atexit; their objects stay the program's to destroy. */
int mpmp__pool_finalize(void) {
  for (;;) {
    pthread_mutex_lock(&mpmp__par.lock);
    mpmp_pool_t *pool = mpmp__par.pools;
    pthread_mutex_unlock(&mpmp__par.lock);
    if (pool == NULL)
      break;
    mpmp_pool_terminate(pool);
    /* A task that ignores mpmp_should_stop() runs on: an isolated one's
     * host is killed after MPMP_TERM_GRACE (give that a moment to be
     * reported); one in a worker rank cannot be killed alone, and the job
     * could never end (it hung here): it is aborted, as for a daemon
     * Process (process.c). */
    double grace = mpmp__rt.env.TERM_GRACE + (pool->isolate ? 2 : 0);
    /* After a stop (the walltime, SIGUSR1, SIGTERM) a task that still
     * runs may end with its item, and the program then exits to be
     * requeued: it gets the rest of the stop's reserve (2 x
     * MPMP_STOP_GRACE from the stop: walltime.c), not the job's abort. */
    if (mpmp__stopping())
      grace = fmax(grace, mpmp__stop_next() + mpmp__stop_grace() -
                              mpmp__now());
    if (mpmp_pool_join(pool, grace) == MPMP_ETIMEDOUT) {
      char ranks[160] = "";
      size_t at = 0;
      pthread_mutex_lock(&mpmp__par.lock);
      for (int w = 0; w < pool->nworkers && at + 16 < sizeof ranks; w++)
        if (pool->inflight[w] > 0)
          at += (size_t)snprintf(ranks + at, sizeof ranks - at, "%s%d",
                                 at ? ", " : "", pool->ranks[w]);
      pthread_mutex_unlock(&mpmp__par.lock);
      MPMP__ERROR("mpmp_finalize: a pool's tasks on rank %s did not stop "
                  "within MPMP_TERM_GRACE=%g s of its terminate(): aborting "
                  "the job (let the task check mpmp_should_stop(), or "
                  "isolate the pool so that its hosts are killed)",
                  at ? ranks : "?", mpmp__rt.env.TERM_GRACE);
      mpmp__abort_job();
    }
  }
  mpmp__free(mpmp__par.pool_of_rank);
  mpmp__par.pool_of_rank = NULL;
  return 0;
}
