/*
 * Executor and futures: concurrent.futures on top of a pool. A future is a
 * pool result of one task (apply_async); what futures add — cancel,
 * running, done-callbacks — lives with the pool's job state (pool.c).
 */
#include <string.h>

#include "parallel.h"
#include "proto.h"

/* On the main rank, an executor is its pool, registered under its token
 * so that tasks can submit to it by ref (nested submission). Inside a
 * task (`attached`), it is a proxy: the token and nothing else; its
 * submissions go to the main rank (worker.c). */
struct mpmp_executor {
  mpmp_pool_t *pool;
  int shut, attached;
  uint64_t token;
  mpmp_executor_t *reg_next; /* the main rank's registry */
};

/* The magic of a ref, so that a zeroed or garbage one is told apart. */
#define REF_MAGIC 0x4D504D58u /* "MPMX" */

/* ---- the main rank's registry of executors (nested submission) --------------
 * reg_lock guards it and every executor's `shut` seen by a submission by
 * ref; it is taken before mpmp__par.lock, never after. Tokens are never
 * reused in this process, so a ref from an executor destroyed, or from an
 * earlier mpmp_init, finds nothing. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static mpmp_executor_t *reg_head;
static uint64_t reg_next_token;

static void reg_add(mpmp_executor_t *ex) {
  pthread_mutex_lock(&reg_lock);
  ex->token = ++reg_next_token;
  ex->reg_next = reg_head;
  reg_head = ex;
  pthread_mutex_unlock(&reg_lock);
}

static void reg_remove(mpmp_executor_t *ex) {
  pthread_mutex_lock(&reg_lock);
  for (mpmp_executor_t **pp = &reg_head; *pp; pp = &(*pp)->reg_next)
    if (*pp == ex) {
      *pp = ex->reg_next;
      break;
    }
  pthread_mutex_unlock(&reg_lock);
}

/* Submit fn(arg) to the executor of `token` (main rank): what a task's
 * submission and an executor attached on the main rank do. The executor
 * cannot be shut down or destroyed meanwhile (reg_lock). */
static int submit_by_token(uint64_t token, mpmp_task_fn fn, const void *arg,
                           size_t arg_size, mpmp_async_cb cb, void *user,
                           mpmp_async_t **res, const char *name) {
  int rc;
  pthread_mutex_lock(&reg_lock);
  mpmp_executor_t *ex = reg_head;
  while (ex != NULL && ex->token != token)
    ex = ex->reg_next;
  if (ex == NULL)
    rc = mpmp__err(MPMP_EBADF, "%s: the executor of this ref was destroyed "
                   "(or the ref is not from this run of mpmp): keep the "
                   "executor alive while its tasks submit to it", name);
  else if (ex->shut)
    rc = mpmp__err(MPMP_EPERM, "%s: the executor was shut down (Python: "
                   "RuntimeError \"cannot schedule new futures after "
                   "shutdown\")", name);
  else
    rc = mpmp__err_as(mpmp_pool_apply_async(ex->pool, fn, arg, arg_size, cb,
                                            user, res),
                      "mpmp_pool_apply_async", name);
  pthread_mutex_unlock(&reg_lock);
  return rc;
}

MPMP_API int mpmp_executor_create(mpmp_executor_t **out,
                                  const mpmp_executor_opts_t *o) {
  if (out != NULL) /* NULL on failure: a cleanup may destroy it */
    *out = NULL;
  int rc = mpmp__check_main("mpmp_executor_create");
  if (rc < 0)
    return rc;
  if (out == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_executor_create: out is NULL");
  mpmp_executor_t *ex = mpmp__calloc(1, sizeof *ex);
  if (ex == NULL)
    return mpmp__err(MPMP_ENOMEM, "out of memory for an executor");
  mpmp_pool_opts_t po = {0};
  if (o != NULL)
    po = (mpmp_pool_opts_t){.processes = o->max_workers,
                            .initializer = o->initializer,
                            .initarg = o->initarg,
                            .initarg_size = o->initarg_size,
                            .max_result = o->max_result,
                            .isolate = o->isolate,
                            .task_timeout = o->task_timeout,
                            .max_retries = o->max_retries,
                            .checkpoint = o->checkpoint,
                            .maxtasksperchild = o->max_tasks_per_child};
  static const mpmp__pool_names_t nm = {"mpmp_executor_create", "max_workers",
                                        "max_tasks_per_child", "executor"};
  if ((rc = mpmp__pool_create_as(&ex->pool, &po, &nm)) < 0) {
    mpmp__free(ex);
    return rc;
  }
  reg_add(ex);
  *out = ex;
  return 0;
}

static int check_ex(const mpmp_executor_t *ex, const char *fn) {
  int rc = ex != NULL && ex->attached ? mpmp__check_init(fn)
                                      : mpmp__check_main(fn);
  if (rc < 0)
    return rc;
  if (ex == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the executor is NULL", fn);
  if (ex->attached)
    return mpmp__err(MPMP_ENOTSUP, "%s: not on an executor attached from a "
                     "ref (mpmp_executor_attach): submit its items one by one "
                     "with mpmp_executor_submit, or call it on the main rank's "
                     "executor", fn);
  if (ex->shut)
    return mpmp__err(MPMP_EPERM, "%s: the executor was shut down (Python: "
                     "RuntimeError \"cannot schedule new futures after "
                     "shutdown\")", fn);
  return 0;
}

MPMP_API int mpmp_executor_ref(const mpmp_executor_t *ex,
                               mpmp_executor_ref_t *ref) {
  const char *name = "mpmp_executor_ref";
  int rc = mpmp__check_init(name);
  if (rc < 0)
    return rc;
  if (ex == NULL || ref == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the %s is NULL", name,
                     ex == NULL ? "executor" : "ref pointer");
  if (ex->shut && !ex->attached)
    return mpmp__err(MPMP_EPERM, "%s: the executor was shut down: its "
                     "tasks could not submit to it", name);
  *ref = (mpmp_executor_ref_t){.token = ex->token, .magic = REF_MAGIC};
  return 0;
}

MPMP_API int mpmp_executor_attach(mpmp_executor_t **out,
                                  mpmp_executor_ref_t ref) {
  const char *name = "mpmp_executor_attach";
  if (out != NULL)
    *out = NULL;
  int rc = mpmp__check_init(name);
  if (rc < 0)
    return rc;
  if (out == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: out is NULL", name);
  *out = NULL;
  if (ref.magic != REF_MAGIC || ref.token == 0 || ref.reserved != 0)
    return mpmp__err(MPMP_EINVAL, "%s: not an executor ref (zeroed or "
                     "garbage bytes): make it with mpmp_executor_ref() on the "
                     "main rank and pass it in the task's argument", name);
  if (mpmp__host_worker_pid() != 0)
    return mpmp__err(MPMP_ENOTSUP, "%s: this task runs isolated in a task "
                     "host, which cannot submit: run it unisolated (isolate = "
                     "MPMP_ISOLATE_NEVER in the executor's, pool's or "
                     "Process's options, with no task_timeout, max_retries "
                     "or max_tasks_per_child)", name);
  mpmp_executor_t *ex = mpmp__calloc(1, sizeof *ex);
  if (ex == NULL)
    return mpmp__err(MPMP_ENOMEM, "%s: out of memory", name);
  ex->attached = 1;
  ex->token = ref.token;
  *out = ex;
  return 0;
}

/* Where a sub-task's answer goes: the worker's future `req`. Records of
 * the sub-tasks in flight, for a cancel (sub_lock; taken alone). */
typedef struct sub {
  struct sub *next;
  int rank;
  uint64_t req;
  mpmp_async_t *job;
  int linked, pinned, finished;
} sub_t;
static pthread_mutex_t sub_lock = PTHREAD_MUTEX_INITIALIZER;
static sub_t *sub_head;

static void sub_unlink(sub_t *e) {
  for (sub_t **pp = &sub_head; *pp; pp = &(*pp)->next)
    if (*pp == e) {
      *pp = e->next;
      break;
    }
  e->linked = 0;
}

/* Answer the worker (a small eager message, or the result: never waits). */
static void nest_reply(int rank, uint64_t req, int kind, int code, int where,
                       const char *msg, const void *data, size_t size) {
  size_t msglen = msg ? strlen(msg) : 0;
  mpmp__nest_hdr_t *h = mpmp__malloc(sizeof *h + msglen + size);
  if (h == NULL) { /* the worker would wait for ever: the job cannot go on */
    MPMP__ERROR("out of memory for the answer to rank %d's sub-task", rank);
    mpmp__abort_job();
  }
  *h = (mpmp__nest_hdr_t){.req = req, .kind = kind, .code = code,
                          .rank = where, .msglen = (uint32_t)msglen,
                          .len = size};
  memcpy(h + 1, msg ? msg : "", msglen);
  if (size)
    memcpy((char *)(h + 1) + msglen, data, size);
  if (mpmp__send_nb(rank, MPMP__TAG_NEST_REP, h, sizeof *h + msglen + size) < 0)
    MPMP__ERROR("could not answer rank %d's sub-task: %s", rank,
                mpmp_errmsg());
}

/* The sub-task is done (progress context, or a cancel's): its outcome to
 * the worker, and the job goes (unless a cancel holds it: it frees it). */
static void sub_done(mpmp_async_t *j, int ok, void *user) {
  sub_t *e = user;
  const void *data = NULL;
  size_t size = 0;
  const char *msg = NULL;
  int where = 0;
  (void)ok;
  int code = mpmp__async_outcome(j, &data, &size, &msg, &where);
  nest_reply(e->rank, e->req, MPMP__NEST_DONE, code, where, msg, data, size);
  pthread_mutex_lock(&sub_lock);
  e->finished = 1;
  int pinned = e->pinned, owner = e->linked && !pinned;
  if (e->linked)
    sub_unlink(e);
  pthread_mutex_unlock(&sub_lock);
  if (!pinned)
    mpmp_async_destroy(j);
  if (owner)
    mpmp__free(e);
}

static void nest_submit(int src, const mpmp__nest_hdr_t *h, const char *arg) {
  const mpmp__task_entry_t *t = mpmp__task_get(h->task);
  sub_t *e = mpmp__calloc(1, sizeof *e);
  mpmp_async_t *j = NULL;
  int rc = t == NULL ? mpmp__err(MPMP_ENOTASK, "mpmp_executor_submit: rank "
                                 "%d submitted task id %d, which the main "
                                 "rank does not have", src, (int)h->task)
           : e == NULL ? mpmp__err(MPMP_ENOMEM, "mpmp_executor_submit: out "
                                   "of memory on the main rank")
                       : 0;
  if (rc == 0) {
    *e = (sub_t){.rank = src, .req = h->req};
    rc = submit_by_token(h->token, t->fn, arg, h->len, sub_done, e, &j,
                         "mpmp_executor_submit");
  }
  if (rc < 0) {
    nest_reply(src, h->req, MPMP__NEST_DONE, rc, 0, mpmp_errmsg(), NULL, 0);
    mpmp__free(e);
    return;
  }
  pthread_mutex_lock(&sub_lock);
  int finished = e->finished; /* done at once (a stop came) */
  if (!finished) {
    e->job = j;
    e->next = sub_head;
    sub_head = e;
    e->linked = 1;
  }
  pthread_mutex_unlock(&sub_lock);
  if (finished)
    mpmp__free(e);
}

static void nest_cancel(int src, uint64_t req) {
  pthread_mutex_lock(&sub_lock);
  sub_t *e = sub_head;
  while (e != NULL && !(e->rank == src && e->req == req))
    e = e->next;
  if (e != NULL)
    e->pinned = 1;
  pthread_mutex_unlock(&sub_lock);
  int cancelled = e != NULL && mpmp__async_cancel(e->job) == 1;
  if (e != NULL) {
    pthread_mutex_lock(&sub_lock);
    e->pinned = 0;
    int finished = e->finished;
    pthread_mutex_unlock(&sub_lock);
    if (finished) { /* its answer went out: the job and record are ours */
      mpmp_async_destroy(e->job);
      mpmp__free(e);
    }
  }
  nest_reply(src, req, MPMP__NEST_CANCEL, cancelled, 0, NULL, NULL, 0);
}

/* MPMP__TAG_NEST on the main rank (a handler: nothing here blocks; a
 * submission only queues the job and deals it). */
static void on_nest(int src, void *buf, size_t len) {
  const mpmp__nest_hdr_t *h = buf;
  if (len < sizeof *h ||
      (h->kind == MPMP__NEST_SUBMIT && len - sizeof *h < h->len)) {
    MPMP__ERROR("a bad nested request from rank %d (%zu bytes)", src, len);
  } else if (h->kind == MPMP__NEST_SUBMIT) {
    nest_submit(src, h, (const char *)(h + 1));
  } else if (h->kind == MPMP__NEST_CANCEL) {
    nest_cancel(src, h->req);
  } else if (h->kind == MPMP__NEST_SECEDE || h->kind == MPMP__NEST_REJOIN) {
    mpmp__pool_secede(src, h->kind == MPMP__NEST_SECEDE ? 1 : -1);
  }
  mpmp__free(buf);
}

void mpmp__executor_setup(int is_main) {
  if (is_main) {
    /* The executors of an earlier round (finalized, not destroyed) are
     * stale: a ref of theirs finds nothing (MPMP_EBADF, as executor.h
     * says), where it found the old executor and said its pool was
     * joined (MPMP_EPERM); their destroy's reg_remove finds nothing. */
    pthread_mutex_lock(&reg_lock);
    reg_head = NULL;
    pthread_mutex_unlock(&reg_lock);
    mpmp__set_handler(MPMP__TAG_NEST, on_nest);
  }
}

MPMP_API int mpmp_executor_submit(mpmp_executor_t *ex, mpmp_task_fn fn,
                                  const void *arg, size_t arg_size,
                                  mpmp_future_t **future) {
  const char *name = "mpmp_executor_submit";
  if (future != NULL)
    *future = NULL;
  if (ex != NULL && ex->attached) {
    int rc = mpmp__check_init(name);
    if (rc < 0)
      return rc;
    if (ex->shut)
      return mpmp__err(MPMP_EPERM, "%s: this attached executor was shut down "
                       "(mpmp_executor_shutdown on it)", name);
    int task = mpmp__apply_check(fn, arg, arg_size, future, name);
    if (task < 0)
      return task;
    if (mpmp__net.rank == 0) /* attached on the main rank: a plain submit */
      return submit_by_token(ex->token, fn, arg, arg_size, NULL, NULL,
                             future, name);
    return mpmp__nest_submit(ex->token, task, arg, arg_size, future);
  }
  int rc = check_ex(ex, "mpmp_executor_submit");
  return rc < 0 ? rc
                : mpmp__err_as(mpmp_pool_apply_async(ex->pool, fn, arg,
                                                     arg_size, NULL, NULL,
                                                     future),
                               "mpmp_pool_apply_async",
                               "mpmp_executor_submit");
}

/* A map past its timeout: deal no more, ask its running tasks to stop, and
 * let go of its buffers without waiting for those tasks (Python's map
 * raises TimeoutError at once: a task that never checks the stop held the
 * call for its whole run, and an endless one for ever). Where that cannot
 * be done in a few seconds (a worker that takes no messages), wait for the
 * job: nothing may write into the caller's memory after the return. */
static void let_go(mpmp_async_t *j, const char *fn) {
  if (mpmp__async_detach(j, mpmp__deadline(10)) != 0)
    mpmp__async_wait(j, MPMP_FOREVER, fn);
}

MPMP_API int mpmp_executor_map(mpmp_executor_t *ex, mpmp_task_fn fn,
                               const void *in, size_t n, size_t in_size,
                               void *out, size_t out_size, size_t chunksize,
                               double timeout) {
  mpmp_async_t *j;
  double deadline;
  int rc = check_ex(ex, "mpmp_executor_map");
  if (rc == 0)
    rc = mpmp__may_wait("mpmp_executor_map");
  if (rc < 0 || (rc = mpmp__timeout(timeout, &deadline,
                                    "mpmp_executor_map")) < 0 ||
      (rc = mpmp_pool_map_async(ex->pool, fn, in, n, in_size, out, out_size,
                                chunksize, NULL, NULL, &j)) < 0)
    return mpmp__err_as(rc, "mpmp_pool_map_async", "mpmp_executor_map");
  rc = mpmp__async_get(j, timeout, "mpmp_executor_map");
  if (rc == MPMP_ETIMEDOUT) {
    /* As Python does: the calls not started are cancelled, the running
     * ones asked to stop and left to run; nothing touches `in` or `out`
     * after we return (let_go). */
    let_go(j, "mpmp_executor_map");
    rc = mpmp__err(MPMP_ETIMEDOUT, "mpmp_executor_map: timed out: not done "
                   "after %g s; the calls not yet started were cancelled, "
                   "the running ones asked to stop (their results are "
                   "dropped)", timeout);
  }
  mpmp_async_destroy(j);
  return rc;
}

/* executor.map over variable-size items: as mpmp_executor_map, with its
 * results gathered (varmap.c) once the map is over. */
MPMP_API int mpmp_executor_map_var(mpmp_executor_t *ex, mpmp_task_fn fn,
                                   const void *in, const size_t *in_off,
                                   size_t n, size_t chunksize, double timeout,
                                   mpmp_varbuf_t *out) {
  const char *name = "mpmp_executor_map_var";
  mpmp_async_t *j;
  double deadline;
  if (out != NULL) /* zeroed whatever fails: mpmp_varbuf_free() is safe */
    *out = (mpmp_varbuf_t){0};
  int rc = check_ex(ex, name);
  if (rc == 0 && out == NULL)
    rc = mpmp__err(MPMP_EINVAL, "%s: the output is NULL", name);
  if (rc == 0)
    rc = mpmp__may_wait(name);
  if (rc < 0 || (rc = mpmp__timeout(timeout, &deadline, name)) < 0)
    return rc;
  *out = (mpmp_varbuf_t){0};
  if ((rc = mpmp_pool_map_var_async(ex->pool, fn, in, in_off, n, chunksize,
                                    NULL, NULL, &j)) < 0)
    return mpmp__err_as(rc, "mpmp_pool_map_var_async", name);
  rc = mpmp__async_get(j, timeout, name);
  if (rc != MPMP_ETIMEDOUT)
    return mpmp__var_collect(j, rc, out, name);
  /* As mpmp_executor_map: the running calls are asked to stop and left to
   * run; the results that came back are the caller's, later ones dropped
   * (varmap.c keeps them in the job, never in the caller's memory). */
  mpmp__async_terminate(j);
  int vrc = mpmp__var_let_go(j, out, name);
  mpmp_async_destroy(j);
  return vrc < 0 ? vrc
                 : mpmp__err(MPMP_ETIMEDOUT, "%s: timed out: not done after "
                             "%g s; the calls not yet started were cancelled, "
                             "the running ones asked to stop (their results "
                             "are empty)", name, timeout);
}

MPMP_API int mpmp_executor_map_stream(mpmp_executor_t *ex, mpmp_task_fn fn,
                                      mpmp_produce_fn produce, void *user,
                                      size_t in_size, size_t out_size,
                                      size_t chunksize, size_t buffersize,
                                      mpmp_imap_t **it) {
  if (it != NULL)
    *it = NULL;
  int rc = check_ex(ex, "mpmp_executor_map_stream");
  return rc < 0 ? rc
                : mpmp__err_as(mpmp_pool_imap(ex->pool, fn, produce, user,
                                              in_size, out_size, chunksize,
                                              buffersize, it),
                               "mpmp_pool_imap", "mpmp_executor_map_stream");
}

/* A starmap item is a struct of the call's arguments: to the executor it
 * is an item like any other (pool.c's starmap is its map too). */
MPMP_API int mpmp_executor_starmap(mpmp_executor_t *ex, mpmp_task_fn fn,
                                   const void *in, size_t n, size_t in_size,
                                   void *out, size_t out_size,
                                   size_t chunksize, double timeout) {
  int rc = check_ex(ex, "mpmp_executor_starmap");
  return rc < 0 ? rc
                : mpmp__err_as(mpmp_executor_map(ex, fn, in, n, in_size, out,
                                                 out_size, chunksize, timeout),
                               "mpmp_executor_map", "mpmp_executor_starmap");
}

MPMP_API int mpmp_executor_map_unordered(mpmp_executor_t *ex, mpmp_task_fn fn,
                                         mpmp_produce_fn produce, void *user,
                                         size_t in_size, size_t out_size,
                                         size_t chunksize, size_t buffersize,
                                         mpmp_imap_t **it) {
  if (it != NULL)
    *it = NULL;
  int rc = check_ex(ex, "mpmp_executor_map_unordered");
  return rc < 0 ? rc
                : mpmp__err_as(mpmp_pool_imap_unordered(ex->pool, fn, produce,
                                                        user, in_size,
                                                        out_size, chunksize,
                                                        buffersize, it),
                               "mpmp_pool_imap_unordered",
                               "mpmp_executor_map_unordered");
}

MPMP_API int mpmp_executor_shutdown(mpmp_executor_t *ex, int wait,
                                    int cancel_futures) {
  if (ex != NULL && ex->attached) { /* the proxy only: no more submits */
    ex->shut = 1;
    return 0;
  }
  int rc = mpmp__check_main("mpmp_executor_shutdown");
  if (rc < 0)
    return rc;
  if (ex == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_executor_shutdown: the executor is NULL");
  if (wait && (rc = mpmp__may_wait("mpmp_executor_shutdown")) < 0)
    return rc; /* (nothing changed: shut down with wait = 0 there) */
  if (wait && mpmp__pool_fed_here(ex->pool)) /* refused: nothing changes */
    return mpmp__err(MPMP_EPERM, "mpmp_executor_shutdown: an imap iterator "
                     "of this executor (map_stream, map_unordered) still "
                     "reads input, and this thread feeds it: read it to its "
                     "end (or destroy it) before a shutdown that waits, or "
                     "shut down with wait = 0; nothing changed");
  if (!ex->shut) {
    pthread_mutex_lock(&reg_lock); /* no submission by ref after this */
    ex->shut = 1;
    pthread_mutex_unlock(&reg_lock);
    mpmp_pool_close(ex->pool);
  }
  /* also at a second shutdown: Python's later shutdown(cancel_futures=
   * True) cancels what is still pending (a first one without it had
   * left them to run) */
  if (cancel_futures)
    mpmp__pool_cancel_pending(ex->pool);
  if (!wait)
    return 0;
  if (cancel_futures) {
    /* Running futures get half of MPMP_TERM_GRACE to end on their own
     * (Python lets them finish: a short one keeps its result), then the
     * pool's terminate: a request to stop, and a task host whose task
     * ignores it is killed after MPMP_TERM_GRACE. So a runaway task cannot
     * hold the shutdown for ever (where it runs isolated). */
    rc = mpmp_pool_join(ex->pool, mpmp__rt.env.TERM_GRACE / 2);
    if (rc != MPMP_ETIMEDOUT)
      return mpmp__err_as(rc, "mpmp_pool_join", "mpmp_executor_shutdown");
    mpmp_pool_terminate(ex->pool);
  }
  return mpmp__err_as(mpmp_pool_join(ex->pool, MPMP_FOREVER), "mpmp_pool_join",
                      "mpmp_executor_shutdown");
}

MPMP_API int mpmp_executor_destroy(mpmp_executor_t *ex) {
  if (ex == NULL)
    return 0;
  if (ex->attached) { /* a proxy: the main rank's executor lives on */
    mpmp__free(ex);
    return 0;
  }
  int rc = mpmp_initialized() ? mpmp__may_wait("mpmp_executor_destroy") : 0;
  if (rc < 0)
    return rc; /* (the executor is left as it was) */
  reg_remove(ex);
  if (mpmp_initialized()) {
    rc = mpmp_executor_shutdown(ex, 1, 0);
    if (rc == MPMP_EPERM) { /* a map_stream still reads: end it */
      mpmp_executor_shutdown(ex, 0, 0);
      mpmp_pool_terminate(ex->pool);
    }
    if (rc < 0)
      rc = mpmp_pool_join(ex->pool, MPMP_FOREVER);
  }
  int drc = mpmp_pool_destroy(ex->pool);
  mpmp__free(ex);
  return rc < 0 ? rc : drc;
}

/* ---- futures --------------------------------------------------------------- */

MPMP_API int mpmp_future_result(mpmp_future_t *f, double timeout,
                                const void **data, size_t *size) {
  int rc = mpmp__async_get(f, timeout, "mpmp_future_result");
  if (rc < 0)
    return rc;
  return mpmp_async_result(f, data, size);
}

MPMP_API int mpmp_future_exception(mpmp_future_t *f, double timeout,
                                   const char **msg) {
  int rc = mpmp__async_wait(f, timeout, "mpmp_future_exception");
  if (rc < 0)
    return rc;
  if (mpmp__async_cancelled(f))
    return mpmp__err(MPMP_ECANCELED, "mpmp_future_exception: the task was "
                     "cancelled before it ran");
  if (msg)
    *msg = mpmp__async_error(f);
  return 0;
}

MPMP_API int mpmp_future_done(mpmp_future_t *f) {
  return mpmp__async_ready(f, "mpmp_future_done");
}

static int check_future(const mpmp_future_t *f, const char *fn) {
  return f ? 0 : mpmp__err(MPMP_EINVAL, "%s: the future is NULL", fn);
}

MPMP_API int mpmp_future_running(mpmp_future_t *f) {
  int rc = check_future(f, "mpmp_future_running");
  if (rc < 0)
    return rc;
  if (mpmp_initialized())
    mpmp__progress();
  return mpmp__async_running(f);
}

MPMP_API int mpmp_future_cancel(mpmp_future_t *f) {
  int rc = check_future(f, "mpmp_future_cancel");
  return rc < 0 ? rc : mpmp__async_cancel(f);
}

MPMP_API int mpmp_future_cancelled(mpmp_future_t *f) {
  int rc = check_future(f, "mpmp_future_cancelled");
  return rc < 0 ? rc : mpmp__async_cancelled(f);
}

MPMP_API int mpmp_future_add_done_callback(mpmp_future_t *f, mpmp_async_cb cb,
                                           void *user) {
  if (f == NULL || cb == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_future_add_done_callback: NULL %s",
                     f == NULL ? "future" : "callback");
  if (!mpmp_initialized() && mpmp_async_ready(f) != 1) /* it never would run */
    return mpmp__err(MPMP_ENOTINIT, "mpmp_future_add_done_callback: mpmp "
                     "was finalized and the future is not done");
  return mpmp__async_add_callback(f, cb, user);
}

MPMP_API void mpmp_future_destroy(mpmp_future_t *f) { mpmp_async_destroy(f); }

/* ---- as_completed and wait ------------------------------------------------- */

/* Both watch the futures (pool.c): each one that completes is reported
 * once, so an iteration over n futures costs O(n log n) in all, not a
 * rescan of all n at every look, and a future given twice counts once
 * (Python: as_completed and wait take set(fs), bpo-20367). */
struct mpmp_as_completed {
  mpmp__watch_t w;
  double deadline;
};

static int check_futures(mpmp_future_t *const *fs, int n, double timeout,
                         double *deadline, const char *fn) {
  int rc = mpmp__check_main(fn);
  if (rc < 0)
    return rc;
  if (n < 0 || (fs == NULL && n > 0))
    return mpmp__err(MPMP_EINVAL, "%s: %s", fn, n < 0 ? "n is negative"
                     : "the future array is NULL");
  if ((rc = mpmp__check_extent(fs, (size_t)n, sizeof *fs, "the futures",
                               fn)) < 0)
    return rc;
  return mpmp__timeout(timeout, deadline, fn);
}

MPMP_API int mpmp_as_completed(mpmp_future_t *const *fs, int n, double timeout,
                               mpmp_as_completed_t **out) {
  double deadline;
  if (out != NULL) /* NULL on failure: a cleanup may destroy it */
    *out = NULL;
  int rc = check_futures(fs, n, timeout, &deadline, "mpmp_as_completed");
  if (rc < 0)
    return rc;
  if (out == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_as_completed: the iterator pointer "
                     "is NULL");
  mpmp_as_completed_t *it = mpmp__calloc(1, sizeof *it);
  if (it == NULL)
    return mpmp__err(MPMP_ENOMEM, "out of memory for as_completed");
  if ((rc = mpmp__watch_init(&it->w, fs, (size_t)n, "mpmp_as_completed")) < 0) {
    mpmp__free(it);
    return rc;
  }
  it->deadline = deadline;
  *out = it;
  return 0;
}

typedef struct seq_wait {
  const mpmp__watch_t *w;
  uint64_t seen;
} seq_wait_t;

static int seq_changed(void *arg) {
  const seq_wait_t *s = arg;
  return atomic_load(&s->w->seq) != s->seen;
}

/* Every future given was yielded, or destroyed before it completed. */
static int all_yielded(const mpmp__watch_t *w) {
  pthread_mutex_lock(&mpmp__par.lock);
  int all = w->head + w->gone >= w->n;
  pthread_mutex_unlock(&mpmp__par.lock);
  return all;
}

MPMP_API int mpmp_as_completed_next(mpmp_as_completed_t *it, mpmp_future_t **f) {
  int rc = mpmp__check_main("mpmp_as_completed_next");
  if (rc < 0)
    return rc;
  if (it == NULL || f == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_as_completed_next: the %s is NULL",
                     it == NULL ? "iterator" : "output pointer");
  for (;;) {
    seq_wait_t sw = {&it->w, atomic_load(&it->w.seq)};
    mpmp_async_t *j = mpmp__watch_take(&it->w);
    if (j != NULL) {
      *f = j;
      return 0;
    }
    if (all_yielded(&it->w))
      return mpmp__err(MPMP_EEOF, "mpmp_as_completed_next: every future "
                       "was handed out (Python's StopIteration)");
    if ((rc = mpmp__wait_job(seq_changed, &sw, it->deadline)) < 0) {
      if (rc != MPMP_ETIMEDOUT) /* (inside a done-callback: said why) */
        return mpmp__err_as(rc, "a wait for results",
                            "mpmp_as_completed_next");
      pthread_mutex_lock(&mpmp__par.lock);
      size_t left = it->w.n - it->w.head - it->w.gone;
      pthread_mutex_unlock(&mpmp__par.lock);
      return mpmp__err(rc, "mpmp_as_completed_next: %zu of %zu futures "
                       "unfinished at the timeout", left, it->w.n);
    }
  }
}

MPMP_API void mpmp_as_completed_destroy(mpmp_as_completed_t *it) {
  if (it == NULL)
    return;
  mpmp__watch_fini(&it->w);
  mpmp__free(it);
}

typedef struct wait_arg {
  mpmp__watch_t *w;
  int when;
  uint64_t seen;  /* seq at the last look */
  int looked, met;
} wait_arg_t;

/* Python's rules: FIRST_EXCEPTION waits for a future that raised (a
 * cancelled one did not), and else for all, like ALL_COMPLETED. */
static int wait_pred(void *arg) {
  wait_arg_t *a = arg;
  uint64_t seq = atomic_load(&a->w->seq);
  if (a->looked && seq == a->seen)
    return a->met;
  a->looked = 1;
  a->seen = seq;
  pthread_mutex_lock(&mpmp__par.lock);
  const mpmp__watch_t *w = a->w;
  int all = w->ncompleted + w->gone >= w->n;
  if (a->when == MPMP_FIRST_COMPLETED)
    a->met = w->ncompleted > 0 || all;
  else if (a->when == MPMP_FIRST_EXCEPTION)
    a->met = w->failed > 0 || all;
  else
    a->met = all;
  pthread_mutex_unlock(&mpmp__par.lock);
  return a->met;
}

MPMP_API int mpmp_futures_wait(mpmp_future_t *const *fs, int n,
                               int return_when, double timeout) {
  double deadline;
  int rc = check_futures(fs, n, timeout, &deadline, "mpmp_futures_wait");
  if (rc < 0)
    return rc;
  if (return_when < MPMP_FIRST_COMPLETED || return_when > MPMP_ALL_COMPLETED)
    return mpmp__err(MPMP_EINVAL, "mpmp_futures_wait: return_when is %d: use "
                     "MPMP_FIRST_COMPLETED, MPMP_FIRST_EXCEPTION or "
                     "MPMP_ALL_COMPLETED", return_when);
  mpmp__watch_t w;
  if ((rc = mpmp__watch_init(&w, fs, (size_t)n, "mpmp_futures_wait")) < 0)
    return rc;
  wait_arg_t a = {.w = &w, .when = return_when};
  if (!wait_pred(&a) &&
      (rc = mpmp__may_wait_for("mpmp_futures_wait", deadline)) < 0) {
    mpmp__watch_fini(&w);
    return rc;
  }
  if (!a.met)
    mpmp__wait_job(wait_pred, &a, deadline);
  pthread_mutex_lock(&mpmp__par.lock);
  size_t done = w.ncompleted;
  pthread_mutex_unlock(&mpmp__par.lock);
  mpmp__watch_fini(&w);
  return (int)done;
}
