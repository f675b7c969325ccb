/*
 * Executor and futures: concurrent.futures on top of a pool. A future is a
 * pool result of one task (apply_async); what futures add — cancel,
 * running, done-callbacks — lives with the pool's job state (pool.c).
 */
#include <string.h>

#include "internal.h"

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
                            .max_result = o->max_result};
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
    return mpmp__err(MPMP_EPERM, "%s: the executor was shut down", fn);
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
  int rc = check_ex(ex, "mpmp_executor_map");
  if (rc < 0 || (rc = mpmp_pool_map_async(ex->pool, fn, in, n, in_size, out,
                                          out_size, chunksize, NULL, NULL,
                                          &j)) < 0)
    return rc;
  rc = mpmp_async_get(j, timeout);
  if (rc == MPMP_ETIMEDOUT) {
    /* As Python does: the calls not started are cancelled. The ones
     * running finish first, so nothing writes to `out` after we return. */
    mpmp__async_stop(j);
    mpmp_async_wait(j, MPMP_FOREVER);
    rc = mpmp__err(MPMP_ETIMEDOUT, "executor map: not done after %g s; the "
                   "calls not yet started were cancelled", timeout);
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
  rc = mpmp_pool_join(ex->pool, MPMP_FOREVER);
  mpmp_pool_destroy(ex->pool);
  mpmp__free(ex);
  return rc;
}

/* ---- futures --------------------------------------------------------------- */

MPMP_API int mpmp_future_result(mpmp_future_t *f, double timeout,
                                const void **data, size_t *size) {
  int rc = mpmp_async_get(f, timeout);
  if (rc < 0)
    return rc;
  return mpmp_async_result(f, data, size);
}

MPMP_API int mpmp_future_exception(mpmp_future_t *f, double timeout,
                                   const char **msg) {
  int rc = mpmp_async_wait(f, timeout);
  if (rc < 0)
    return rc;
  if (mpmp__async_cancelled(f))
    return mpmp__err(MPMP_ECANCELED, "the task was cancelled before it ran");
  if (msg)
    *msg = mpmp__async_error(f);
  return 0;
}

MPMP_API int mpmp_future_done(mpmp_future_t *f) { return mpmp_async_ready(f); }

MPMP_API int mpmp_future_running(mpmp_future_t *f) {
  if (f == NULL)
    return 0;
  mpmp__progress();
  return mpmp__async_running(f);
}

MPMP_API int mpmp_future_cancel(mpmp_future_t *f) {
  return f ? mpmp__async_cancel(f) : 0;
}

MPMP_API int mpmp_future_cancelled(mpmp_future_t *f) {
  return f ? mpmp__async_cancelled(f) : 0;
}

MPMP_API int mpmp_future_add_done_callback(mpmp_future_t *f, mpmp_async_cb cb,
                                           void *user) {
  if (f == NULL || cb == NULL)
    return mpmp__err(MPMP_EINVAL, "add_done_callback: NULL future or callback");
  return mpmp__async_add_callback(f, cb, user);
}

MPMP_API void mpmp_future_destroy(mpmp_future_t *f) { mpmp_async_destroy(f); }

/* ---- as_completed and wait ------------------------------------------------- */

struct mpmp_as_completed {
  mpmp_future_t **fs;
  unsigned char *yielded;
  int n, left;
  double deadline;
};

MPMP_API int mpmp_as_completed(mpmp_future_t *const *fs, int n, double timeout,
                               mpmp_as_completed_t **out) {
  if (out == NULL || n < 0 || (fs == NULL && n > 0))
    return mpmp__err(MPMP_EINVAL, "mpmp_as_completed: bad arguments");
  mpmp_as_completed_t *it = mpmp__calloc(1, sizeof *it);
  if (it == NULL || (it->fs = mpmp__calloc((size_t)n, sizeof *fs)) == NULL ||
      (it->yielded = mpmp__calloc((size_t)n, 1)) == NULL) {
    mpmp_as_completed_destroy(it);
    return mpmp__err(MPMP_ENOMEM, "out of memory for as_completed");
  }
  if (n > 0)
    memcpy(it->fs, fs, (size_t)n * sizeof *fs);
  it->n = it->left = n;
  it->deadline = mpmp__deadline(timeout);
  *out = it;
  return 0;
}

static int any_new(void *arg) {
  mpmp_as_completed_t *it = arg;
  for (int i = 0; i < it->n; i++)
    if (!it->yielded[i] && mpmp__async_done(it->fs[i]))
      return 1;
  return 0;
}

MPMP_API int mpmp_as_completed_next(mpmp_as_completed_t *it, mpmp_future_t **f) {
  if (it == NULL || f == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_as_completed_next: NULL argument");
  if (it->left == 0)
    return MPMP_EEOF;
  int rc = mpmp__wait_until(any_new, it, it->deadline);
  if (rc < 0)
    return mpmp__err(rc, "as_completed: %d of %d futures unfinished at the "
                     "timeout", it->left, it->n);
  for (int i = 0; i < it->n; i++)
    if (!it->yielded[i] && mpmp__async_done(it->fs[i])) {
      it->yielded[i] = 1;
      it->left--;
      *f = it->fs[i];
      return 0;
    }
  return MPMP_EAGAIN; /* not reached: any_new was true */
}

MPMP_API void mpmp_as_completed_destroy(mpmp_as_completed_t *it) {
  if (it == NULL)
    return;
  mpmp__free(it->fs);
  mpmp__free(it->yielded);
  mpmp__free(it);
}

typedef struct wait_arg {
  mpmp_future_t *const *fs;
  int n, when, done;
} wait_arg_t;

static int wait_pred(void *arg) {
  wait_arg_t *w = arg;
  int failed = 0;
  w->done = 0;
  for (int i = 0; i < w->n; i++)
    if (mpmp__async_done(w->fs[i])) {
      w->done++;
      failed |= mpmp__async_error(w->fs[i]) != NULL;
    }
  if (w->when == MPMP_FIRST_COMPLETED && w->done > 0)
    return 1;
  if (w->when == MPMP_FIRST_EXCEPTION && failed)
    return 1;
  return w->done == w->n;
}

MPMP_API int mpmp_futures_wait(mpmp_future_t *const *fs, int n,
                               int return_when, double timeout) {
  int rc = mpmp__check_main("mpmp_futures_wait");
  if (rc < 0)
    return rc;
  if (n < 0 || (fs == NULL && n > 0) || return_when < MPMP_FIRST_COMPLETED ||
      return_when > MPMP_ALL_COMPLETED)
    return mpmp__err(MPMP_EINVAL, "mpmp_futures_wait: bad arguments (use "
                     "MPMP_FIRST_COMPLETED, MPMP_FIRST_EXCEPTION or "
                     "MPMP_ALL_COMPLETED)");
  wait_arg_t w = {fs, n, return_when, 0};
  mpmp__wait_until(wait_pred, &w, mpmp__deadline(timeout));
  wait_pred(&w);
  return w.done;
}
