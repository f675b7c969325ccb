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
#include <stdint.h>
#include "mpmp/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The context a task runs in (argument, result, failure, stop flag). */
typedef struct mpmp_ctx mpmp_ctx_t;

/**
 * A task. Returns 0 on success (for a Process: its exit code; any value
 * >= 0), or the value of mpmp_fail() on failure.
 * \param ctx  its context: mpmp_arg(), mpmp_out(), mpmp_fail(),
 *             mpmp_should_stop(); valid while the task runs.
 */
typedef int (*mpmp_task_fn)(mpmp_ctx_t *ctx);

/** \cond
 * The head of a task's context: what the inline mpmp_arg()/mpmp_out()
 * below and a map's item loop read (the library's first fields; its
 * layout is part of the ABI).
 */
struct mpmp__ctx_head {
  const void *arg;
  size_t arg_size;
  void *slot;      /* a map's result slot, out_size bytes; else NULL */
  size_t out_size;
  void *out;       /* a result buffer of the task's own (mpmp_out()) */
  char *errmsg;    /* mpmp_fail()'s message */
};

/*
 * A map's loop over the items of one chunk. MPMP_TASK(fn) defines one
 * per task, with fn's body inlined where the compiler sees it (the task
 * in the same file, as usual): a map of a tight body (x*x) then pays no
 * indirect call per item, which with the context's stores was several
 * times the body. The library fills the loop's description and runs the
 * rare cases (a failure, a scratch result buffer, a stop request) itself:
 * the loop returns at the item that needs one, with its return value in
 * rc, and is called again from the next item. A crash report finds the
 * item from the context's result slot. The library runs the same loop,
 * calling the task through its pointer, for a task registered by hand.
 * Library-internal; the layout is part of the ABI.
 */
struct mpmp__loop {
  const char *in;       /* the chunk's items, in_size bytes each */
  char *res;            /* their result slots, out_size bytes each */
  size_t in_size;
  size_t out_size;
  uint64_t first;       /* the map index of the chunk's first item */
  const uint32_t *stop_seq; /* the stop requests' count ... */
  uint32_t seq0;            /* ... when the chunk began */
  uint32_t count;       /* the chunk's items */
  int rc;               /* out: what the item the loop returned at gave */
};
/* MPMP_TASK's loop inlines the task's body, and what the body calls that
 * the compiler sees: GCC at -O2 inlines no function of more than a few
 * instructions on its own (x*x through mpmp_arg/mpmp_out stayed a call,
 * 2.5x the loop's time per item); `flatten` overrides that for this one
 * function. A helper the body calls that should stay a call can be marked
 * __attribute__((noinline)). */
#if defined(__GNUC__)
#define MPMP__FLATTEN __attribute__((flatten))
#else
#define MPMP__FLATTEN
#endif
typedef uint32_t (*mpmp__loop_fn)(struct mpmp__loop *l, uint32_t from,
                                  mpmp_ctx_t *ctx);
/* mpmp_task_register() with the task's loop (what MPMP_TASK expands to). */
MPMP_API void mpmp__task_register_loop(mpmp_task_fn fn, const char *name,
                                       const char *file, mpmp__loop_fn loop);

static inline __attribute__((always_inline)) uint32_t
mpmp__loop_items(struct mpmp__loop *l, uint32_t i, mpmp_ctx_t *ctx,
                 mpmp_task_fn fn) {
  struct mpmp__ctx_head *h = (struct mpmp__ctx_head *)ctx;
  const char *in = l->in;
  char *res = l->res;
  const size_t in_size = l->in_size, out_size = l->out_size;
  const uint32_t *stop_seq = l->stop_seq;
  const uint32_t count = l->count, seq0 = l->seq0;
  uint32_t cleared = i; /* the slots before it are cleared */
  for (; i < count; i++) {
    char *slot = res + (size_t)i * out_size;
    if (i == cleared) { /* an item that writes nothing reads as zeros:
                           64 slots at a time, just before they are
                           written (a store per item was a fifth of x*x) */
      uint32_t n = count - i < 64 ? count - i : 64;
      __builtin_memset(slot, 0, (size_t)n * out_size);
      cleared = i + n;
    }
    h->arg = in + (size_t)i * in_size;
    h->slot = slot; /* (a crash report reads it) */
    int rc = fn(ctx);
    if (__builtin_expect(rc < 0 || h->out != NULL || h->errmsg != NULL ||
                             __atomic_load_n(stop_seq, __ATOMIC_ACQUIRE) !=
                                 seq0,
                         0)) {
      l->rc = rc;
      return i;
    }
  }
  return count;
}
/** \endcond */

/**
 * Register \p fn as a task; use once, at file scope, per task function
 * (`MPMP_TASK(square);`). It registers the function when the program (or
 * the shared library that holds it) is loaded, before main(), under its
 * name, as mpmp_task_register(fn, "fn", __FILE__) does, with the loop
 * that maps run over its items (fn inlined).
 * \param fn  the task function, an ::mpmp_task_fn: `int fn(mpmp_ctx_t *)`.
 */
#define MPMP_TASK(fn)                                                       \
  MPMP__FLATTEN static uint32_t mpmp__loop_##fn(struct mpmp__loop *l,       \
                                                uint32_t i,                 \
                                                mpmp_ctx_t *ctx) {          \
    return mpmp__loop_items(l, i, ctx, (mpmp_task_fn)(fn));                 \
  }                                                                         \
  __attribute__((constructor)) static void mpmp__register_##fn(void) {      \
    mpmp__task_register_loop((mpmp_task_fn)(fn), #fn, __FILE__,             \
                             mpmp__loop_##fn);                              \
  }                                                                         \
  struct mpmp__task_##fn##_semicolon /* makes MPMP_TASK(fn); legal */

/**
 * Register a task under a name (what MPMP_TASK expands to). Must be called
 * before mpmp_init(), identically on every rank (mpmp_init() fails with
 * ::MPMP_EMISMATCH otherwise). Registering a function again does nothing;
 * two different functions under one name and file make mpmp_init() fail
 * with ::MPMP_EINVAL; a NULL \p fn or \p name is ignored. A task registered after
 * mpmp_init() (until mpmp_finalize()) is not added: calls given it fail
 * with ::MPMP_ENOTASK, saying it was registered too late.
 * \param fn    the task function.
 * \param name  its name (kept, not copied: a string literal), under which
 *              errors and mpmp_task_name() know it.
 * \param file  the source file that defines it (kept; may be NULL); with
 *              the name it orders the task table alike on every rank.
 */
MPMP_API void mpmp_task_register(mpmp_task_fn fn, const char *name,
                                 const char *file);

/**
 * A chunk task: called once per chunk of a map with the chunk's items and
 * room for their results, so that a tight kernel pays no per-item call,
 * context or copy (the per-item form, ::mpmp_task_fn, costs some
 * nanoseconds per item: more than an x*x body). Run it with
 * mpmp_pool_map_chunks() or mpmp_pool_map_shm() (mpmp/pool.h); any other
 * call refuses it with ::MPMP_ENOTASK, as a chunk map refuses a per-item
 * task.
 *
 * \code
 * static int square_chunk(mpmp_ctx_t *ctx, const void *in, void *out,
 *                         size_t count) {
 *     const int32_t *x = in;
 *     int64_t *y = out;
 *     for (size_t i = 0; i < count; i++)
 *         y[i] = (int64_t)x[i] * x[i];
 *     return 0;
 * }
 * MPMP_CHUNK_TASK(square_chunk);
 * \endcode
 *
 * \param ctx    its context: mpmp_fail() and mpmp_should_stop() work as in
 *               a per-item task (mpmp_arg() gives the chunk's items, its
 *               size their bytes; mpmp_out() is not for chunk tasks: it
 *               fails the chunk); valid while it runs.
 * \param in     the chunk's \p count items, one after another (the map's
 *               in_size bytes each); valid while it runs, not to be written.
 * \param out    room for their \p count results (out_size bytes each), in
 *               the same order: the task writes every one of them (the
 *               buffer is not cleared first; a failed chunk's results read
 *               as zeros).
 * \param count  the number of items in the chunk (1 or more).
 * \return 0 when every item succeeded. Anything else (or mpmp_fail())
 * fails every item of the chunk with the message (mpmp_fail's, or one
 * naming the task and the value it returned).
 */
typedef int (*mpmp_chunk_fn)(mpmp_ctx_t *ctx, const void *in, void *out,
                             size_t count);

/**
 * Register \p fn as a chunk task; use once, at file scope, per chunk task
 * function (`MPMP_CHUNK_TASK(square_chunk);`), as MPMP_TASK: it resolves
 * under its name on every rank of the binary, and mpmp_init() checks that
 * all ranks agree. A function with another signature does not compile.
 * \param fn  the chunk task, an ::mpmp_chunk_fn.
 */
#define MPMP_CHUNK_TASK(fn)                                                 \
  __attribute__((constructor)) static void mpmp__register_chunk_##fn(void) {\
    mpmp_chunk_task_register((fn), #fn, __FILE__);                          \
  }                                                                         \
  struct mpmp__chunk_task_##fn##_semicolon /* makes it end with ; */

/**
 * Register a chunk task under a name (what MPMP_CHUNK_TASK expands to);
 * the rules of mpmp_task_register() hold.
 * \param fn    the chunk task.
 * \param name  its name (kept, not copied: a string literal).
 * \param file  the source file that defines it (kept; may be NULL).
 */
MPMP_API void mpmp_chunk_task_register(mpmp_chunk_fn fn, const char *name,
                                       const char *file);

/**
 * The task's argument: a copy of the bytes the caller passed.
 * \param ctx        the task's context.
 * \param[out] size  may be NULL; receives the argument's size in bytes.
 * \return the argument bytes (never NULL; valid for the task's duration).
 */
MPMP_API const void *mpmp_arg(const mpmp_ctx_t *ctx, size_t *size);

/**
 * The buffer for the task's result bytes.
 * \param ctx   the task's context.
 * \param size  the result's size in bytes.
 * \return a buffer of \p size bytes for the task's result. For a map,
 * \p size must be the map's result size; otherwise it must not exceed what
 * the caller accepts (a Process's max_result, a pool's max_result). A size
 * that breaks this fails the task with a message saying so, and a scratch
 * buffer is still returned so that the task cannot crash on it; NULL only
 * when out of memory (also, without trying, for more bytes than the
 * machine has). Calling it again replaces the previous buffer (a call
 * with a size that broke the rule has failed the task all the same). A task
 * that never calls it returns no bytes (a map item: zeros). A task that
 * writes up to 64 bytes past the buffer is failed with a message saying
 * so, its result dropped (a map's fixed-size slots lie side by side: there
 * only a chunk's last item is caught); further out, it damages memory as
 * in any C program.
 */
MPMP_API void *mpmp_out(mpmp_ctx_t *ctx, size_t size);

/** \cond
 * The inline fast paths of mpmp_arg() and mpmp_out(): a map calls its task
 * once per item, and two calls into the library were a third of a x*x
 * item's time. They read the head of the context (the library's first
 * fields; its layout is part of the ABI from here on) and leave every
 * other case to the functions, so a call behaves exactly as the
 * function's. `(mpmp_arg)(ctx, size)` or a pointer to mpmp_arg still calls
 * the function itself.
 */
static inline const void *mpmp__arg_inline(const mpmp_ctx_t *ctx,
                                           size_t *size) {
  const struct mpmp__ctx_head *h = (const struct mpmp__ctx_head *)ctx;
  if (h == NULL)
    return (mpmp_arg)(ctx, size);
  if (size != NULL)
    *size = h->arg_size;
  return h->arg;
}

static inline void *mpmp__out_inline(mpmp_ctx_t *ctx, size_t size) {
  const struct mpmp__ctx_head *h = (const struct mpmp__ctx_head *)ctx;
  if (h != NULL && h->slot != NULL && size == h->out_size)
    return h->slot;
  return (mpmp_out)(ctx, size);
}

#define mpmp_arg(ctx, size) mpmp__arg_inline((ctx), (size))
#define mpmp_out(ctx, size) mpmp__out_inline((ctx), (size))
/** \endcond */

/**
 * Fail the task with a printf-style message that reaches the caller intact
 * (`mpmp_errmsg()` after a failed get/join, mpmp_async_failure(),
 * mpmp_future_exception(), or a Process's error message), up to 16 MiB
 * less 64 KiB (room for what the caller's message adds around it). A
 * longer message is cut there and ends with "... [cut: N bytes in all]"
 * (N: its whole length); so does one for which memory ran out ("...; out
 * of memory]", after what fitted). Only the first call's message is kept.
 * \param ctx  the task's context.
 * \param fmt  a printf format, followed by its values.
 * \return ::MPMP_ETASK, to be returned by the task.
 */
MPMP_API int mpmp_fail(mpmp_ctx_t *ctx, const char *fmt, ...) MPMP_PRINTF(2, 3);

/**
 * Whether the task was asked to stop. Costs one load: a long task checks it
 * often.
 * \param ctx  the task's context.
 * \return 1 once the caller asked this task to stop (Process terminate,
 * pool terminate, executor shutdown or map timeout, a map stopped by the
 * walltime or a signal): the body should clean up and return; else 0.
 */
MPMP_API int mpmp_should_stop(const mpmp_ctx_t *ctx);

/**
 * The name a task was registered under.
 * \param fn  a function.
 * \return the registered name of \p fn, or NULL if it is not a task.
 */
MPMP_API const char *mpmp_task_name(mpmp_task_fn fn);

#ifdef __cplusplus
}
#endif
#endif /* MPMP_TASK_H */
