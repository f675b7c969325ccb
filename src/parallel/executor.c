/*
 * Executor and futures: concurrent.futures on top of a pool. A future is a
 * pool result of one task (apply_async); what futures add — cancel,
 * running, done-callbacks — lives with the pool's job state (pool.c).
 */
#include <string.h>

#include "parallel.h"

struct mpmp_executor {
  mpmp_pool_t *pool;
  int shut;
};

MPMP_API int mpmp_executor_create(mpmp_executor_t **out,
                                  const mpmp_executor_opts_t *o) {
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
                            .checkpoint = o->checkpoint};
  if ((rc = mpmp_pool_create(&ex->pool, &po)) < 0) {
    mpmp__free(ex);
    return rc;
  }
  *out = ex;
  return 0;
}

static int check_ex(const mpmp_executor_t *ex, const char *fn) {
  int rc = mpmp__check_main(fn);
  if (rc < 0)
    return rc;
  if (ex == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the executor is NULL", fn);
  if (ex->shut)
    return mpmp__err(MPMP_EPERM, "%s: the executor was shut down (Python: "
                     "RuntimeError \"cannot schedule new futures after "
                     "shutdown\")", fn);
  return 0;
}

MPMP_API int mpmp_executor_submit(mpmp_executor_t *ex, mpmp_task_fn fn,
                                  const void *arg, size_t arg_size,
                                  mpmp_future_t **future) {
  int rc = check_ex(ex, "mpmp_executor_submit");
  return rc < 0 ? rc
                : mpmp_pool_apply_async(ex->pool, fn, arg, arg_size, NULL,
                                        NULL, future);
}

MPMP_API int mpmp_executor_map(mpmp_executor_t *ex, mpmp_task_fn fn,
                               const void *in, size_t n, size_t in_size,
                               void *out, size_t out_size, size_t chunksize,
                               double timeout) {
  mpmp_async_t *j;
  double deadline;
  int rc = check_ex(ex, "mpmp_executor_map");
  if (rc < 0 || (rc = mpmp__timeout(timeout, &deadline,
                                    "mpmp_executor_map")) < 0 ||
      (rc = mpmp_pool_map_async(ex->pool, fn, in, n, in_size, out, out_size,
                                chunksize, NULL, NULL, &j)) < 0)
    return rc;
  rc = mpmp__async_get(j, timeout, "mpmp_executor_map");
  if (rc == MPMP_ETIMEDOUT) {
    /* As Python does: the calls not started are cancelled; the running
     * ones are asked to stop (mpmp_should_stop) and waited for, so that
     * nothing writes to `out` after we return. */
    mpmp__async_terminate(j);
    mpmp__async_wait(j, MPMP_FOREVER, "mpmp_executor_map");
    rc = mpmp__err(MPMP_ETIMEDOUT, "mpmp_executor_map: timed out: not done "
                   "after %g s; the calls not yet started were cancelled",
                   timeout);
  }
  mpmp_async_destroy(j);
  return rc;
}

MPMP_API int mpmp_executor_map_stream(mpmp_executor_t *ex, mpmp_task_fn fn,
                                      mpmp_produce_fn produce, void *user,
                                      size_t in_size, size_t out_size,
                                      size_t chunksize, size_t buffersize,
                                      mpmp_imap_t **it) {
  int rc = check_ex(ex, "mpmp_executor_map_stream");
  return rc < 0 ? rc : mpmp_pool_imap(ex->pool, fn, produce, user, in_size,
                                      out_size, chunksize, buffersize, it);
}

MPMP_API int mpmp_executor_shutdown(mpmp_executor_t *ex, int wait,
                                    int cancel_futures) {
  int rc = mpmp__check_main("mpmp_executor_shutdown");
  if (rc < 0)
    return rc;
  if (ex == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_executor_shutdown: the executor is NULL");
  if (!ex->shut) {
    ex->shut = 1;
    if (cancel_futures)
      mpmp__pool_cancel_pending(ex->pool);
    mpmp_pool_close(ex->pool);
  }
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
      return rc;
    mpmp_pool_terminate(ex->pool);
  }
  return mpmp_pool_join(ex->pool, MPMP_FOREVER);
}

MPMP_API int mpmp_executor_destroy(mpmp_executor_t *ex) {
  if (ex == NULL)
    return 0;
  int rc = 0;
  if (mpmp_initialized()) {
    rc = mpmp_executor_shutdown(ex, 1, 0);
    if (rc == MPMP_EPERM) /* a map_stream still reads: end it */
      mpmp_pool_terminate(ex->pool);
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
  return mpmp__timeout(timeout, deadline, fn);
}

MPMP_API int mpmp_as_completed(mpmp_future_t *const *fs, int n, double timeout,
                               mpmp_as_completed_t **out) {
  double deadline;
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
      return MPMP_EEOF;
    if ((rc = mpmp__wait_job(seq_changed, &sw, it->deadline)) < 0) {
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
  if (!wait_pred(&a))
    mpmp__wait_job(wait_pred, &a, deadline);
  pthread_mutex_lock(&mpmp__par.lock);
  size_t done = w.ncompleted;
  pthread_mutex_unlock(&mpmp__par.lock);
  mpmp__watch_fini(&w);
  return (int)done;
}
