/*
 * Process: a task body run on a free worker rank (the main rank's side).
 *
 * start() claims the lowest free worker rank and sends it the body's task id
 * and argument; the worker answers with PROC_DONE when the body returns, and
 * the handler below (run by whichever thread drives progress) records the
 * exit code, message and result and frees the rank.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <math.h>

#include "objects.h"
#include "parallel.h"
#include "proto.h"

enum { P_CREATED, P_STARTED };

#define DEFAULT_MAX_RESULT (64 * 1024)

struct mpmp_process {
  uint64_t id;
  int task;
  void *arg;
  size_t arg_size, max_result;
  char name[64];
  int daemon, state, rank;
  int isolate;              /* the body runs in a task host */
  int pool_owned; /* an initializer on a pool's worker: keep it claimed */
  int kept;       /* a Manager's server: its Manager destroys it */
  uint32_t pool_init; /* of an isolated pool: its id (proto.h) */
  _Atomic int done;
  int exitcode;
  char *errmsg;
  void *result;
  size_t result_size;
};

/* ---- the table of started processes (mpmp__par.lock) ---------------------------- */

static int table_add(mpmp_process_t *p) {
  if (mpmp__par.nprocs == mpmp__par.procs_cap) {
    int cap = mpmp__par.procs_cap ? 2 * mpmp__par.procs_cap : 16;
    mpmp_process_t **t = mpmp__realloc(mpmp__par.procs, (size_t)cap * sizeof *t);
    if (t == NULL)
      return mpmp__err(MPMP_ENOMEM, "out of memory for the process table");
    mpmp__par.procs = t;
    mpmp__par.procs_cap = cap;
  }
  mpmp__par.procs[mpmp__par.nprocs++] = p;
  return 0;
}

static void table_remove(mpmp_process_t *p) {
  for (int i = 0; i < mpmp__par.nprocs; i++)
    if (mpmp__par.procs[i] == p) {
      mpmp__par.procs[i] = mpmp__par.procs[--mpmp__par.nprocs];
      return;
    }
}

static mpmp_process_t *table_find(uint64_t id) {
  for (int i = 0; i < mpmp__par.nprocs; i++)
    if (mpmp__par.procs[i]->id == id)
      return mpmp__par.procs[i];
  return NULL;
}

/* ---- PROC_DONE ------------------------------------------------------------ */

static void record_done(mpmp_process_t *p, const mpmp__done_hdr_t *d,
                        const char *payload) {
  p->exitcode = d->exitcode;
  if (d->msglen) {
    p->errmsg = mpmp__malloc(d->msglen + 1);
    if (p->errmsg) {
      memcpy(p->errmsg, payload, d->msglen);
      p->errmsg[d->msglen] = '\0';
    }
  }
  if (d->resultlen) {
    p->result = mpmp__malloc(d->resultlen);
    if (p->result) {
      memcpy(p->result, payload + d->msglen, d->resultlen);
      p->result_size = d->resultlen;
    }
  }
}

static void on_done(int src, void *buf, size_t len) {
  const mpmp__done_hdr_t *d = buf;
  if (len < sizeof *d || len != sizeof *d + d->msglen + d->resultlen) {
    MPMP__ERROR("malformed process report from rank %d", src);
    mpmp__free(buf);
    return;
  }
  pthread_mutex_lock(&mpmp__par.lock);
  mpmp_process_t *p = table_find(d->id);
  if (p != NULL) {
    record_done(p, d, (const char *)(d + 1));
    atomic_store(&p->done, 1);
  }
  if (p == NULL || !p->pool_owned)
    mpmp__par.worker_busy[src] = 0;
  pthread_mutex_unlock(&mpmp__par.lock);
  mpmp__free(buf);
  mpmp__ring_rank(mpmp__net.rank); /* a joiner may sleep on our doorbell */
}

/* Statically initialised: the lock holds before the first mpmp_init(). */
mpmp__par_t mpmp__par = {.lock = PTHREAD_MUTEX_INITIALIZER};

int mpmp__process_init(void) {
  mpmp__par.worker_busy = mpmp__calloc((size_t)mpmp__net.size, 1);
  return mpmp__par.worker_busy == NULL
             ? mpmp__err(MPMP_ENOMEM, "out of memory at init") : 0;
}

static int sentinel_ready(const mpmp_ref_t *r, const char *fn);

void mpmp__process_setup(int is_main) {
  if (is_main)
    mpmp__set_handler(MPMP__TAG_PROC_DONE, on_done);
  mpmp__queue_waitable(sentinel_ready); /* (off the main rank: EPERM) */
}

/* ---- the API ---------------------------------------------------------------- */

#define CHECK_PROC(p, fn)                                                \
  do {                                                                   \
    int rc_ = mpmp__check_main(fn);                                      \
    if (rc_ < 0)                                                         \
      return rc_;                                                        \
    if ((p) == NULL)                                                     \
      return mpmp__err(MPMP_EINVAL, "%s: the process is NULL", fn);      \
  } while (0)

MPMP_API int mpmp_process_create(mpmp_process_t **out, mpmp_task_fn fn,
                                 const void *arg, size_t arg_size,
                                 const mpmp_process_opts_t *opts) {
  if (out != NULL) /* NULL on failure: a cleanup may destroy it */
    *out = NULL;
  int rc = mpmp__check_main("mpmp_process_create");
  if (rc == MPMP_ENOTMAIN) /* in a task: say what it can do instead */
    return mpmp__err(rc, "mpmp_process_create: only the main rank creates "
                     "processes (this is rank %d); a task submits nested "
                     "work through an executor ref (mpmp_executor_ref, "
                     "mpmp_executor_attach)", mpmp__net.rank);
  if (rc < 0)
    return rc;
  if (out == NULL || (arg == NULL && arg_size > 0))
    return mpmp__err(MPMP_EINVAL, "mpmp_process_create: %s is NULL",
                     out == NULL ? "the output pointer" : "arg (with arg_size > 0)");
  if (arg_size > MPMP__ELEM_MAX)
    return mpmp__err(MPMP_EINVAL, "mpmp_process_create: an argument of %zu "
                     "bytes is too large: a body's must be " MPMP__ELEM_MAX_SAYS,
                     arg_size);
  if ((rc = mpmp__check_extent(arg, 1, arg_size, "the argument",
                               "mpmp_process_create")) < 0)
    return rc;
  int task = mpmp__task_id(fn, "mpmp_process_create");
  if (task < 0)
    return task;
  mpmp_process_t *p = mpmp__calloc(1, sizeof *p);
  if (p == NULL || (p->arg = mpmp__malloc(arg_size)) == NULL) {
    mpmp__free(p);
    return mpmp__err(MPMP_ENOMEM, "out of memory for a process");
  }
  if (arg_size)
    memcpy(p->arg, arg, arg_size);
  p->arg_size = arg_size;
  p->task = task;
  p->rank = -1;
  p->daemon = opts ? (opts->daemon != 0) : 0;
  int iso = opts ? opts->isolate : MPMP_ISOLATE_DEFAULT;
  const char *env = mpmp__rt.env.ISOLATE;
  if (iso < MPMP_ISOLATE_DEFAULT || iso > MPMP_ISOLATE_NEVER ||
      (iso == MPMP_ISOLATE_ALWAYS && strcasecmp(env, "never") == 0)) {
    mpmp__free(p->arg);
    mpmp__free(p);
    return mpmp__err(MPMP_EINVAL, "mpmp_process_create: isolate is %d: %s",
                     iso, iso == MPMP_ISOLATE_ALWAYS
                              ? "task hosts are off in this job "
                                "(MPMP_ISOLATE=never)"
                              : "use MPMP_ISOLATE_DEFAULT, _ALWAYS or _NEVER");
  }
  /* 1: in a task host; 2: in one where the worker has it (the default:
   * see the README, "When a task crashes"); 0: in the worker rank */
  p->isolate = iso == MPMP_ISOLATE_ALWAYS ? 1
               : iso == MPMP_ISOLATE_NEVER || strcasecmp(env, "never") == 0
                   ? 0
               : strcasecmp(env, "always") == 0 ? 1
                                                : 2;
  p->max_result = opts && opts->max_result ? opts->max_result : DEFAULT_MAX_RESULT;
  pthread_mutex_lock(&mpmp__par.lock);
  int n = ++mpmp__par.proc_counter;
  pthread_mutex_unlock(&mpmp__par.lock);
  if (opts && opts->name)
    snprintf(p->name, sizeof p->name, "%s", opts->name);
  else
    snprintf(p->name, sizeof p->name, "Process-%d", n);
  *out = p;
  return 0;
}

/* Claim the lowest free worker rank; -1 when all are busy. */
int mpmp__claim_worker(void) {
  for (int r = 1; r < mpmp__net.size; r++)
    if (!mpmp__par.worker_busy[r]) {
      mpmp__par.worker_busy[r] = 1;
      return r;
    }
  return -1;
}

/* (mpmp__par.lock held) */
static int no_free_worker(void) {
  int w = mpmp__net.size - 1, procs = 0;
  for (int i = 0; i < mpmp__par.nprocs; i++)
    procs += !mpmp__par.procs[i]->pool_owned &&
             !atomic_load(&mpmp__par.procs[i]->done);
  if (procs > w)
    procs = w;
  /* the others are held by pools and executors (a pool keeps its workers
   * until it is destroyed): more ranks for the job do not help while a
   * pool takes every free one */
  return mpmp__err(MPMP_EBUSY,
                   "no free worker rank: all %d worker ranks are busy, %d "
                   "with running processes%s and %d held by pools or "
                   "executors (the "
                   "job has %d ranks, rank 0 is the main rank); %s, or start "
                   "the job with more ranks (mpirun -n %d)",
                   w, procs, procs ? " (a Manager's server counts as one)" : "",
                   w - procs, mpmp__net.size,
                   w == 0       ? "a job of one rank has no worker"
                   : procs == w ? "join a process first"
                   : procs == 0 ? "destroy a pool or executor first (or give "
                                  "it fewer processes)"
                                : "join a process or destroy a pool or "
                                  "executor first",
                   mpmp__net.size + 1);
}

static int start_on(mpmp_process_t *p, int rank);

MPMP_API int mpmp_process_start(mpmp_process_t *p) {
  CHECK_PROC(p, "mpmp_process_start");
  if (p->state != P_CREATED)
    return mpmp__err(MPMP_EPERM, "process '%s' was already started: a process "
                     "can be started once", p->name);
  mpmp__obj_fence(); /* this rank's puts happen before the body runs */
  pthread_mutex_lock(&mpmp__par.lock);
  int rank = mpmp__claim_worker();
  int rc = rank < 0 ? no_free_worker() : table_add(p);
  if (rank >= 0 && rc < 0)
    mpmp__par.worker_busy[rank] = 0;
  pthread_mutex_unlock(&mpmp__par.lock);
  return rc < 0 ? rc : start_on(p, rank);
}

/* Run a body on a rank the caller has claimed (a pool's initializer). */
int mpmp__process_start_on(mpmp_process_t *p, int rank, uint32_t pool_init) {
  pthread_mutex_lock(&mpmp__par.lock);
  int rc = table_add(p);
  pthread_mutex_unlock(&mpmp__par.lock);
  p->pool_owned = 1;
  p->pool_init = pool_init;
  return rc < 0 ? rc : start_on(p, rank);
}

static int start_on(mpmp_process_t *p, int rank) {
  int rc;
  /* The id is drawn at start, not at create: a worker's stop requests
   * name the newest id they stop (see worker.c on_terminate), so an id
   * must be newer than any job the rank ran before. */
  p->id = atomic_fetch_add(&mpmp__par.next_id, 1) + 1;
  p->rank = rank;
  p->state = P_STARTED;
  mpmp__run_hdr_t h = {.id = p->id, .task = p->task, .daemon = p->daemon,
                       .max_result = p->max_result, .isolate = p->isolate,
                       .pool_init = p->pool_init};
  memcpy(h.name, p->name, sizeof h.name);
  rc = mpmp__send(rank, MPMP__TAG_RUN_PROC, &h, sizeof h, p->arg, p->arg_size);
  if (rc < 0) {
    pthread_mutex_lock(&mpmp__par.lock);
    if (!p->pool_owned)
      mpmp__par.worker_busy[rank] = 0;
    table_remove(p);
    pthread_mutex_unlock(&mpmp__par.lock);
    p->state = P_CREATED;
    p->rank = -1;
  }
  return rc;
}

static int proc_done(void *arg) {
  return atomic_load(&((mpmp_process_t *)arg)->done);
}

MPMP_API int mpmp_process_join(mpmp_process_t *p, double timeout) {
  CHECK_PROC(p, "mpmp_process_join");
  if (p->state != P_STARTED)
    return mpmp__err(MPMP_EPERM, "can only join a started process ('%s' was "
                     "never started)", p->name);
  double deadline;
  int rc = mpmp__timeout(timeout, &deadline, "mpmp_process_join");
  if (rc < 0)
    return rc;
  if (!proc_done(p) &&
      (rc = mpmp__may_wait_for("mpmp_process_join", deadline)) < 0)
    return rc;
  rc = deadline == -INFINITY && mpmp__in_handler
           ? (proc_done(p) ? 0 : MPMP_ETIMEDOUT)
           : mpmp__wait_until(proc_done, p, deadline);
  if (rc == MPMP_ETIMEDOUT)
    return mpmp__err(rc, "mpmp_process_join: timed out: process '%s' (rank "
                     "%d) still runs after %g s; it keeps running: join "
                     "again later", p->name, p->rank, timeout);
  return rc;
}

MPMP_API int mpmp_process_is_alive(mpmp_process_t *p) {
  CHECK_PROC(p, "mpmp_process_is_alive");
  if (p->state != P_STARTED)
    return 0;
  mpmp__progress(); /* let a pending report in */
  return !atomic_load(&p->done);
}

static int check_ended(mpmp_process_t *p, const char *fn) {
  if (p->state != P_STARTED)
    return mpmp__err(MPMP_EPERM, "%s: process '%s' was never started", fn,
                     p->name);
  if (mpmp_initialized())
    mpmp__progress();
  if (!atomic_load(&p->done))
    return mpmp__err(MPMP_EAGAIN, "%s: process '%s' is still running: join it "
                     "first", fn, p->name);
  return 0;
}

MPMP_API int mpmp_process_exitcode(mpmp_process_t *p, int *exitcode) {
  if (p == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_process_exitcode: the process is NULL");
  int rc = check_ended(p, "mpmp_process_exitcode");
  if (rc == 0 && exitcode)
    *exitcode = p->exitcode;
  return rc;
}

MPMP_API const char *mpmp_process_errmsg(const mpmp_process_t *p) {
  if (p == NULL || !atomic_load(&p->done) || p->errmsg == NULL)
    return "";
  return p->errmsg;
}

MPMP_API int mpmp_process_result(const mpmp_process_t *p, const void **data,
                                 size_t *size) {
  if (p == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_process_result: the process is NULL");
  int rc = check_ended((mpmp_process_t *)p, "mpmp_process_result");
  if (rc < 0)
    return rc;
  if (data)
    *data = p->result;
  if (size)
    *size = p->result_size;
  return 0;
}

MPMP_API int mpmp_process_terminate(mpmp_process_t *p) {
  CHECK_PROC(p, "mpmp_process_terminate");
  if (p->state != P_STARTED || atomic_load(&p->done))
    return 0; /* as in Python: nothing to stop */
  mpmp__term_hdr_t t = {.id = p->id};
  return mpmp__send(p->rank, MPMP__TAG_TERMINATE, &t, sizeof t, NULL, 0);
}

/* A sentinel's kind and check value: outside the shared objects' kinds
 * (object.h), so no object call takes one for an object's handle. */
#define SENTINEL_KIND 0x5e01u
static uint32_t sentinel_tag(uint64_t id) {
  return (uint32_t)((id * 0x9e3779b97f4a7c15ULL) >> 32) ^ 0x5e5e5e5eu;
}

MPMP_API int mpmp_process_sentinel(const mpmp_process_t *p,
                                   mpmp_ref_t *sentinel) {
  CHECK_PROC(p, "mpmp_process_sentinel");
  if (sentinel == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_process_sentinel: the output "
                     "pointer is NULL");
  if (p->state != P_STARTED)
    return mpmp__err(MPMP_EPERM, "mpmp_process_sentinel: process '%s' was "
                     "never started: a sentinel names a started process",
                     p->name);
  memset(sentinel, 0, sizeof *sentinel);
  sentinel->off = p->id;
  sentinel->gen = 1;
  sentinel->kind = SENTINEL_KIND;
  sentinel->tag = sentinel_tag(p->id);
  return 0;
}

/* A waitable of mpmp_conn_wait (registered at setup: objects.h): 2 if
 * `r` is no sentinel (not -1: that is MPMP_EPERM); else 1 if its process
 * has ended, 0 while it runs, or an error (a process destroyed, a wait off
 * the main rank, a damaged sentinel). */
static int sentinel_ready(const mpmp_ref_t *r, const char *fn) {
  if (r->kind != SENTINEL_KIND)
    return 2;
  if (r->tag != sentinel_tag(r->off) || r->gen != 1)
    return mpmp__err(MPMP_EBADF, "%s: a damaged Process sentinel (copy the "
                     "one mpmp_process_sentinel gave whole)", fn);
  if (mpmp__net.rank != 0)
    return mpmp__err(MPMP_EPERM, "%s: a Process sentinel can be waited on "
                     "only on the main rank, where its Process is (this is "
                     "rank %d)", fn, mpmp__net.rank);
  mpmp__progress(); /* let a pending report in */
  pthread_mutex_lock(&mpmp__par.lock);
  mpmp_process_t *p = table_find(r->off);
  int rc = p == NULL ? MPMP_EBADF : atomic_load(&p->done) != 0;
  pthread_mutex_unlock(&mpmp__par.lock);
  if (rc == MPMP_EBADF)
    return mpmp__err(rc, "%s: the process of this sentinel was destroyed "
                     "(mpmp_process_destroy)", fn);
  return rc;
}

MPMP_API int mpmp_process_set_daemon(mpmp_process_t *p, int daemon) {
  CHECK_PROC(p, "mpmp_process_set_daemon");
  if (p->state != P_CREATED)
    return mpmp__err(MPMP_EPERM, "the daemon flag of '%s' can only be set "
                     "before start", p->name);
  p->daemon = daemon != 0;
  return 0;
}

MPMP_API int mpmp_process_daemon(const mpmp_process_t *p) {
  return p ? p->daemon : mpmp__err(MPMP_EINVAL, "the process is NULL");
}

MPMP_API const char *mpmp_process_name(const mpmp_process_t *p) {
  return p ? p->name : "";
}

MPMP_API int mpmp_process_pid(const mpmp_process_t *p) {
  if (p == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_process_pid: the process is NULL");
  if (p->rank < 0 || !mpmp_initialized())
    return 0;
  return mpmp__net.ranks[p->rank].pid;
}

MPMP_API int mpmp_process_rank(const mpmp_process_t *p) {
  return p ? p->rank : mpmp__err(MPMP_EINVAL, "mpmp_process_rank: the "
                                 "process is NULL");
}

MPMP_API const char *mpmp_process_node(const mpmp_process_t *p) {
  if (p == NULL || p->rank < 0 || !mpmp_initialized())
    return "";
  return mpmp__net.ranks[p->rank].host;
}

static void free_process(mpmp_process_t *p) {
  mpmp__free(p->arg);
  mpmp__free(p->errmsg);
  mpmp__free(p->result);
  mpmp__free(p);
}

void mpmp__process_keep(mpmp_process_t *p, int kept) { p->kept = kept; }

MPMP_API int mpmp_process_destroy(mpmp_process_t *p) {
  if (p == NULL)
    return 0;
  if (!mpmp_initialized()) { /* after finalize: it has been joined there */
    free_process(p);
    return 0;
  }
  int rc = mpmp__check_main("mpmp_process_destroy");
  if (rc < 0)
    return rc;
  if (p->kept)
    return mpmp__err(MPMP_EPERM, "process '%s' is the server of a Manager: "
                     "mpmp_manager_shutdown() ends and frees it", p->name);
  if (p->state == P_STARTED && !atomic_load(&p->done))
    return mpmp__err(MPMP_EPERM, "process '%s' is still running on rank %d: "
                     "join it before destroying it", p->name, p->rank);
  pthread_mutex_lock(&mpmp__par.lock);
  table_remove(p);
  pthread_mutex_unlock(&mpmp__par.lock);
  free_process(p);
  return 0;
}

MPMP_API int mpmp_active_children(mpmp_process_t **out, int max) {
  int rc = mpmp__check_main("mpmp_active_children");
  if (rc < 0)
    return rc;
  if (max < 0 || (out == NULL && max > 0))
    return mpmp__err(MPMP_EINVAL, "mpmp_active_children: bad output array");
  mpmp__progress();
  int n = 0;
  pthread_mutex_lock(&mpmp__par.lock);
  for (int i = 0; i < mpmp__par.nprocs; i++) {
    mpmp_process_t *p = mpmp__par.procs[i];
    if (atomic_load(&p->done))
      continue;
    if (n < max)
      out[n] = p;
    n++;
  }
  pthread_mutex_unlock(&mpmp__par.lock);
  return n;
}

/* ---- at finalize ------------------------------------------------------------ */

/* Snapshot of the running processes (the table may change meanwhile). */
static int running(mpmp_process_t ***list) {
  int n = mpmp_active_children(NULL, 0);
  if (n <= 0)
    return n;
  *list = mpmp__calloc((size_t)n, sizeof **list);
  if (*list == NULL)
    return mpmp__err(MPMP_ENOMEM, "out of memory at finalize");
  return mpmp_active_children(*list, n);
}

int mpmp__process_finalize(void) {
  mpmp_process_t **list = NULL;
  int n = running(&list), rc = n < 0 ? n : 0;
  for (int i = 0; i < n; i++) /* Python: daemons are terminated ... */
    if (list[i]->daemon)
      mpmp_process_terminate(list[i]);
  for (int i = 0; i < n; i++) /* ... and the others joined */
    if (!list[i]->daemon)
      mpmp_process_join(list[i], MPMP_FOREVER);
  for (int i = 0; i < n; i++) {
    mpmp_process_t *p = list[i];
    /* An isolated body's worker kills its host at the end of the same
     * grace: give that a moment to be reported. */
    double grace = mpmp__rt.env.TERM_GRACE + (p->isolate ? 2 : 0);
    if (!p->daemon || mpmp_process_join(p, grace) == 0)
      continue;
    /* An MPI rank cannot be killed alone; at the end of the job it may. */
    MPMP__ERROR("daemon process '%s' on rank %d did not stop within "
                "MPMP_TERM_GRACE=%g s of terminate(): aborting the job (let "
                "its body check mpmp_should_stop())", p->name, p->rank,
                mpmp__rt.env.TERM_GRACE);
    mpmp__abort_job();
  }
  mpmp__free(list);
  return rc;
}

/* Free what the user never destroyed. */
void mpmp__process_fini(void) {
  /* The objects stay the user's: exit codes can be read and destroy()
   * frees them after finalize. */
  pthread_mutex_lock(&mpmp__par.lock);
  mpmp__free(mpmp__par.procs);
  mpmp__par.procs = NULL;
  mpmp__par.nprocs = mpmp__par.procs_cap = 0;
  mpmp__free(mpmp__par.worker_busy);
  mpmp__par.worker_busy = NULL;
  pthread_mutex_unlock(&mpmp__par.lock);
}
