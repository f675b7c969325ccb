/**
 * \file mpmp/task.h
 * \brief Tasks: the C functions that worker ranks run.
 *
 * Python pickles a function by its qualified name; mpmp registers functions
 * at load time instead. Put `MPMP_TASK(fn);` at file scope next to the
 * function: every rank of the (same) binary then knows it under the same id,
 * and the caller passes the plain function pointer. mpmp_init() checks that
 * all ranks registered the same tasks.
 *
 * A task reads its argument bytes, writes its result bytes, and may fail with
 * a message (the analog of raising an exception):
 *
 * \code
 * static int square(mpmp_ctx_t *ctx) {
 *     const long *x = mpmp_arg(ctx, NULL);
 *     long *y = mpmp_out(ctx, sizeof *y);
 *     if (*x < 0) return mpmp_fail(ctx, "can't square %ld", *x);
 *     *y = *x * *x;
 *     return 0;
 * }
 * MPMP_TASK(square);
 * \endcode
 */
#ifndef MPMP_TASK_H
#define MPMP_TASK_H

#include <stddef.h>
#include "mpmp/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The context a task runs in (argument, result, failure, stop flag). */
typedef struct mpmp_ctx mpmp_ctx_t;

/**
 * A task. Returns 0 on success (for a Process: its exit code; any value
 * >= 0), or the value of mpmp_fail() on failure.
 */
typedef int (*mpmp_task_fn)(mpmp_ctx_t *ctx);

/** Register \p fn as a task; use once, at file scope, per task function. */
#define MPMP_TASK(fn)                                                       \
  __attribute__((constructor)) static void mpmp__register_##fn(void) {      \
    mpmp_task_register((mpmp_task_fn)(fn), #fn, __FILE__);                  \
  }                                                                         \
  struct mpmp__task_##fn##_semicolon /* makes MPMP_TASK(fn); legal */

/**
 * Register a task under a name (what MPMP_TASK expands to). Must be called
 * before mpmp_init(), identically on every rank.
 */
MPMP_API void mpmp_task_register(mpmp_task_fn fn, const char *name,
                                 const char *file);

/**
 * \param[out] size  may be NULL; receives the argument's size in bytes.
 * \return the argument bytes (never NULL; valid for the task's duration).
 */
MPMP_API const void *mpmp_arg(const mpmp_ctx_t *ctx, size_t *size);

/**
 * \return a buffer of \p size bytes for the task's result. For a map,
 * \p size must be the map's result size; otherwise it must not exceed what
 * the caller accepts (a Process's max_result, a pool's max_result). A size
 * that breaks this fails the task with a message saying so, and a scratch
 * buffer is still returned so that the task cannot crash on it; NULL only
 * when out of memory. Calling it again replaces the previous buffer. A task
 * that never calls it returns no bytes (a map item: zeros).
 */
MPMP_API void *mpmp_out(mpmp_ctx_t *ctx, size_t size);

/**
 * Fail the task with a printf-style message that reaches the caller intact
 * (`mpmp_errmsg()` after a failed get/join, mpmp_async_failure(),
 * mpmp_future_exception(), or a Process's error message), up to 16 MiB. A
 * longer message is cut there and ends with "... [cut: N bytes in all]"
 * (N: its whole length); so does one for which memory ran out ("...; out
 * of memory]", after what fitted). Only the first call's message is kept.
 * \return ::MPMP_ETASK, to be returned by the task.
 */
MPMP_API int mpmp_fail(mpmp_ctx_t *ctx, const char *fmt, ...) MPMP_PRINTF(2, 3);

/**
 * \return 1 once the caller asked this task to stop (Process terminate,
 * pool terminate): the body should clean up and return. Costs one load.
 */
MPMP_API int mpmp_should_stop(const mpmp_ctx_t *ctx);

/** \return the registered name of \p fn, or NULL if it is not a task. */
MPMP_API const char *mpmp_task_name(mpmp_task_fn fn);

#ifdef __cplusplus
}
#endif
#endif /* MPMP_TASK_H */
