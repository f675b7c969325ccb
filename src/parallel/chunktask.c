/*
 * Chunk tasks and zero-copy maps (mpmp/pool.h: mpmp_pool_map_chunks,
 * mpmp_pool_map_shm).
 *
 * A chunk task (MPMP_CHUNK_TASK) is called once per chunk with pointers to
 * the chunk's items and results and their count: for a kernel of a few
 * nanoseconds per item (x*x), the per-item call, context and failure check
 * of a map cost more than the work; a chunk task pays them once per chunk.
 * It shares the task table with the per-item tasks (runtime/task.c), so it
 * resolves by name on every rank; its kind keeps either from being called
 * as the other.
 *
 * A zero-copy map names two SharedMemory blocks of the main rank's node
 * instead of sending the items: a worker of that node maps the blocks
 * (once: it keeps its views for the next maps, so their pages are not
 * faulted in again at every map) and reads the items and writes the
 * results where they lie; its CHUNK_DONE carries no results. Workers of
 * another node get the chunk as any map's (pool.c: in_place decides, on
 * both sides, from the rank's node). The main rank's side is pool.c's map
 * job, with the chunk task's kind and the blocks' reference; the worker's
 * side is here, behind chunk.c's mpmp__chunk_run.
 */
#include <stdlib.h>
#include <string.h>

#include "objects.h"
#include "parallel.h"
#include "proto.h"

_Static_assert(sizeof(((mpmp__shm_ref_t *)0)->in_name) == MPMP_SHM_NAME_SIZE,
               "a block's name fits the chunk's reference");

/* ---- the main rank: the calls ------------------------------------------- */

static mpmp_task_fn as_task(mpmp_chunk_fn fn) {
  mpmp_task_fn t; /* kept as a task pointer in the table: never called so */
  memcpy(&t, &fn, sizeof t);
  return t;
}

static int wait_map(int rc, mpmp_async_t *j) {
  if (rc < 0)
    return rc;
  rc = mpmp_async_get(j, MPMP_FOREVER);
  mpmp_async_destroy(j);
  return rc;
}

/*
 * A chunk map's automatic chunk: its items and results travel, so a chunk
 * of about CACHE_CHUNK bytes of both stays in the worker's cache (an EPYC
 * core's L2 is 512 KiB) from its arrival through the task to its reply.
 * x*x, int32 -> int64, -n 3 on a loaded 2-core host: 16 K to 64 K items
 * per chunk (192-768 KiB) ran 3-15x faster than the map's n / (4 x
 * workers), whose megabytes go through memory three times, and 1 MiB or
 * more fell back (the runs were too noisy to rank 256 KiB against 768 KiB).
 * Never more than the map's rule, which balances the workers. A zero-copy
 * map moves nothing and keeps the map's rule.
 */
#define CACHE_CHUNK ((size_t)512 * 1024)

static size_t chunk_of(mpmp_pool_t *pool, size_t n, size_t in_size,
                       size_t out_size, size_t chunksize) {
  int workers = pool ? mpmp_pool_size(pool) : 0;
  if (chunksize != 0 || n == 0 || workers <= 0 || in_size > SIZE_MAX / 2 ||
      out_size > SIZE_MAX / 2)
    return chunksize; /* the map's own checks say what is wrong */
  return mpmp__auto_chunk(n, workers, in_size + out_size, CACHE_CHUNK);
}

MPMP_API int mpmp_pool_map_chunks_async(mpmp_pool_t *pool, mpmp_chunk_fn fn,
                                        const void *in, size_t n,
                                        size_t in_size, void *out,
                                        size_t out_size, size_t chunksize,
                                        mpmp_async_cb cb, void *user,
                                        mpmp_async_t **res) {
  return mpmp__pool_map_how(pool, as_task(fn), MPMP__TASK_CHUNK, NULL, in, n,
                            in_size, out, out_size,
                            chunk_of(pool, n, in_size, out_size, chunksize),
                            cb, user, res, "mpmp_pool_map_chunks_async");
}

MPMP_API int mpmp_pool_map_chunks(mpmp_pool_t *pool, mpmp_chunk_fn fn,
                                  const void *in, size_t n, size_t in_size,
                                  void *out, size_t out_size,
                                  size_t chunksize) {
  mpmp_async_t *j = NULL;
  int rc = mpmp__may_wait("mpmp_pool_map_chunks");
  if (rc == 0)
    rc = mpmp__pool_map_how(
        pool, as_task(fn), MPMP__TASK_CHUNK, NULL, in, n, in_size, out,
        out_size, chunk_of(pool, n, in_size, out_size, chunksize), NULL, NULL,
        &j, "mpmp_pool_map_chunks");
  return wait_map(rc, j);
}

/* `n` elements of `size` bytes from `off` must lie inside the block. */
static int in_block(const mpmp_shm_t *b, size_t off, size_t n, size_t size,
                    const char *what, const char *fn) {
  size_t cap = mpmp_shm_size(b);
  if (off > cap || (size > 0 && n > (cap - off) / size))
    return mpmp__err(MPMP_EINVAL, "%s: %zu %s of %zu bytes from byte %zu run "
                     "past the end of block '%s' (%zu bytes): is n, the "
                     "offset or a size wrong?", fn, n, what, size, off,
                     mpmp_shm_name(b), cap);
  return 0;
}

/* The job of a zero-copy map: its checks, the blocks' reference, and the
 * main rank's own view of the items and results (for the workers of other
 * nodes, and the checkpoint journal). */
static int map_shm(mpmp_pool_t *pool, mpmp_task_fn fn, mpmp_chunk_fn chunk_fn,
                   mpmp_shm_t *in, size_t in_offset, size_t n, size_t in_size,
                   mpmp_shm_t *out, size_t out_offset, size_t out_size,
                   size_t chunksize, mpmp_async_cb cb, void *user,
                   mpmp_async_t **res, const char *name) {
  if (res != NULL) /* NULL whatever fails (README: failed creates) */
    *res = NULL;
  int rc = mpmp__check_main(name);
  if (rc < 0)
    return rc;
  if ((fn == NULL) == (chunk_fn == NULL))
    return mpmp__err(MPMP_EINVAL, "%s: give exactly one of fn (a per-item "
                     "task) and chunk_fn (a chunk task); %s", name,
                     fn ? "both were given" : "both are NULL");
  if (in == NULL || out == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the %s block is NULL: allocate the "
                     "items and results with mpmp_shm_create()", name,
                     in == NULL ? "input" : "output");
  if ((rc = in_block(in, in_offset, n, in_size, "items", name)) < 0 ||
      (rc = in_block(out, out_offset, n, out_size, "results", name)) < 0)
    return rc;
  /* One block for both: the results may not land on items that another
   * chunk (another worker) has still to read, nor, for a per-item task, on
   * any item (its result slot is cleared before it runs). Only a chunk
   * task's exact in-place map (same offset, same size) is safe. */
  if (n > 0 && strcmp(mpmp_shm_name(in), mpmp_shm_name(out)) == 0) {
    size_t in_end = in_offset + n * in_size, out_end = out_offset + n * out_size;
    int exact = chunk_fn != NULL && in_offset == out_offset &&
                in_size == out_size;
    if (!exact && in_offset < out_end && out_offset < in_end)
      return mpmp__err(MPMP_EINVAL, "%s: the results (bytes %zu..%zu) overlap "
                       "the items (bytes %zu..%zu) in block '%s': a result "
                       "would overwrite an item not yet read; put them "
                       "apart (only a chunk task may map in place, with the "
                       "same offset and size)", name, out_offset, out_end,
                       in_offset, in_end, mpmp_shm_name(in));
  }
  mpmp__shm_ref_t ref = {.in_gen = mpmp__shm_gen(in),
                         .out_gen = mpmp__shm_gen(out),
                         .in_off = in_offset, .out_off = out_offset};
  snprintf(ref.in_name, sizeof ref.in_name, "%s", mpmp_shm_name(in));
  snprintf(ref.out_name, sizeof ref.out_name, "%s", mpmp_shm_name(out));
  const char *items = (const char *)mpmp_shm_buf(in) + in_offset;
  char *results = (char *)mpmp_shm_buf(out) + out_offset;
  return mpmp__pool_map_how(pool, fn ? fn : as_task(chunk_fn),
                            fn ? MPMP__TASK_ITEM : MPMP__TASK_CHUNK, &ref,
                            items, n, in_size, results, out_size, chunksize,
                            cb, user, res, name);
}

MPMP_API int mpmp_pool_map_shm_async(mpmp_pool_t *pool, mpmp_task_fn fn,
                                     mpmp_chunk_fn chunk_fn, mpmp_shm_t *in,
                                     size_t in_offset, size_t n,
                                     size_t in_size, mpmp_shm_t *out,
                                     size_t out_offset, size_t out_size,
                                     size_t chunksize, mpmp_async_cb cb,
                                     void *user, mpmp_async_t **res) {
  return map_shm(pool, fn, chunk_fn, in, in_offset, n, in_size, out,
                 out_offset, out_size, chunksize, cb, user, res,
                 "mpmp_pool_map_shm_async");
}

MPMP_API int mpmp_pool_map_shm(mpmp_pool_t *pool, mpmp_task_fn fn,
                               mpmp_chunk_fn chunk_fn, mpmp_shm_t *in,
                               size_t in_offset, size_t n, size_t in_size,
                               mpmp_shm_t *out, size_t out_offset,
                               size_t out_size, size_t chunksize) {
  mpmp_async_t *j = NULL;
  int rc = mpmp__may_wait("mpmp_pool_map_shm");
  if (rc == 0)
    rc = map_shm(pool, fn, chunk_fn, in, in_offset, n, in_size, out,
                 out_offset, out_size, chunksize, NULL, NULL, &j,
                 "mpmp_pool_map_shm");
  return wait_map(rc, j);
}

/* ---- a worker: its views of the blocks ----------------------------------- */

/*
 * The blocks a worker has mapped, by name and generation (a block made
 * again under a name is another block: its generation differs, and the
 * old view is dropped). A few, kept across maps: a map's pages are then
 * in this process's page tables already at the next map (a fresh mapping
 * of 120 MB faults 30 000 pages in, which took longer than the map).
 * Only the worker's service thread runs zero-copy chunks (they are not
 * helpable: pool.c), but the lock keeps the table safe at teardown.
 */
#define VIEWS 8

static struct view {
  mpmp_shm_t *shm;
  uint32_t gen;
  char name[MPMP_SHM_NAME_SIZE];
} views[VIEWS];
static unsigned next_view;
static pthread_mutex_t views_lock = PTHREAD_MUTEX_INITIALIZER;

/* The view of block `name` of generation `gen`, or NULL with *why set.
 * A view made here takes a free slot, else the next in turn but `keep`
 * (the chunk's other block, which it uses too). */
static mpmp_shm_t *view_of(const char *name, uint32_t gen,
                           const mpmp_shm_t *keep, char *why,
                           size_t why_len) {
  pthread_mutex_lock(&views_lock);
  mpmp_shm_t *s = NULL;
  for (int i = 0; i < VIEWS && s == NULL; i++) {
    struct view *v = &views[i];
    if (v->shm == NULL || strcmp(v->name, name) != 0)
      continue;
    if (v->gen == gen) {
      s = v->shm;
    } else if (v->shm != keep) { /* another block of that name: drop it */
      mpmp_shm_close(v->shm);
      v->shm = NULL;
    }
  }
  if (s == NULL) {
    int rc = mpmp_shm_attach(&s, name);
    if (rc == 0 && mpmp__shm_gen(s) != gen) {
      mpmp_shm_close(s);
      s = NULL;
      snprintf(why, why_len, "block '%s' is not the one the map named: it "
               "was closed and made again while the map ran", name);
    } else if (rc < 0) {
      s = NULL;
      snprintf(why, why_len, "rank %d cannot map block '%s': %s",
               mpmp__net.rank, name, mpmp_errmsg());
    } else {
      struct view *v = NULL;
      for (int i = 0; i < VIEWS && v == NULL; i++)
        if (views[i].shm == NULL)
          v = &views[i];
      while (v == NULL || (v->shm != NULL && v->shm == keep))
        v = &views[next_view++ % VIEWS];
      if (v->shm != NULL)
        mpmp_shm_close(v->shm);
      *v = (struct view){.shm = s, .gen = gen};
      snprintf(v->name, sizeof v->name, "%s", name);
    }
  }
  pthread_mutex_unlock(&views_lock);
  return s;
}

/*
 * A staged chunk (pool.c, "Staging") runs on private copies of its items
 * and results: the main rank has just written the slot's items from its
 * core, and will read the results from its own, so in place each item's
 * line moved between the cores inside the item loop (10^7 x*x items at
 * -n 2: 41 ms a map, against 20 ms with the copies, and 33 ms for the
 * same map through MPI). One pair of buffers per nesting depth: a task
 * that waits on a sub-task runs the chunks dealt meanwhile inside its own
 * (worker.c), whose copies must stay; deeper than that, in place.
 */
#define STAGE_DEPTHS 4
static struct { char *buf; size_t cap; } stage_buf[STAGE_DEPTHS];
static int stage_depth;

/* The chunk's items copied out of the slot, and its results to be made
 * apart (*slot: where they go after); the depth to restore, or -1: it
 * runs in place. */
static int stage_private(const mpmp__chunk_hdr_t *h, const char **in,
                         char **out, char **slot) {
  int d = stage_depth;
  size_t ib = (size_t)h->count * h->in_size, ob = (size_t)h->count * h->out_size;
  size_t at = (ib + 63) / 64 * 64;
  if (d >= STAGE_DEPTHS)
    return -1;
  if (stage_buf[d].cap < at + ob) {
    char *b = mpmp__malloc(at + ob + MPMP__OUT_GUARD);
    if (b == NULL)
      return -1; /* in place, then */
    mpmp__free(stage_buf[d].buf);
    stage_buf[d].buf = b;
    stage_buf[d].cap = at + ob;
  }
  memcpy(stage_buf[d].buf, *in, ib);
  mpmp__guard_set(stage_buf[d].buf + at + ob);
  *in = stage_buf[d].buf;
  *slot = *out;
  *out = stage_buf[d].buf + at;
  stage_depth = d + 1;
  return d;
}

void mpmp__zc_fini(void) {
  for (int d = 0; d < STAGE_DEPTHS; d++) {
    mpmp__free(stage_buf[d].buf);
    stage_buf[d].buf = NULL;
    stage_buf[d].cap = 0;
  }
  pthread_mutex_lock(&views_lock);
  for (int i = 0; i < VIEWS; i++) {
    if (views[i].shm != NULL)
      mpmp_shm_close(views[i].shm);
    views[i].shm = NULL;
  }
  pthread_mutex_unlock(&views_lock);
}

/* Where chunk h's `count` elements of `size` bytes lie in block `name`
 * (from byte off + first * size; a staged chunk's from byte off), or NULL
 * with *why set; *view: the view it used, which a view made for `keep`'s
 * sake must not replace. */
static char *place(const char *name, uint32_t gen, uint64_t off,
                   const mpmp__chunk_hdr_t *h, uint64_t size,
                   mpmp_shm_t **view, const mpmp_shm_t *keep, char *why,
                   size_t why_len) {
  mpmp_shm_t *s = *view = view_of(name, gen, keep, why, why_len);
  if (s == NULL)
    return NULL;
  size_t cap = mpmp_shm_size(s);
  uint64_t from = h->shm == MPMP__SHM_STAGED ? 0 : h->first;
  uint64_t end = from + h->count;
  if (size > 0 && (end > (UINT64_MAX - off) / size ||
                   off + end * size > cap)) {
    snprintf(why, why_len, "items %llu..%llu run past the end of block '%s' "
             "(%zu bytes)", (unsigned long long)h->first,
             (unsigned long long)(h->first + h->count) - 1, name, cap);
    return NULL;
  }
  return (char *)mpmp_shm_buf(s) + off + from * size;
}

/* ---- a worker: running the chunk ----------------------------------------- */

/* Every item of the chunk failed with `msg`; their results read as zeros. */
static void fail_all(const mpmp__chunk_hdr_t *h, char *out, const char *msg,
                     mpmp__fail_buf_t *f) {
  if (out != NULL)
    memset(out, 0, (size_t)h->count * h->out_size);
  for (uint32_t i = 0; i < h->count; i++)
    mpmp__chunk_fail(f, h->first + i, MPMP_ETASK, msg);
}

/* The chunk task, once: a failure (a message, a non-zero return, or a
 * stop that came while it ran: it may not have finished) fails the chunk. */
static void run_chunk_fn(const mpmp__chunk_hdr_t *h,
                         const mpmp__task_entry_t *t, const char *in,
                         char *out, mpmp__fail_buf_t *f) {
  mpmp_chunk_fn fn;
  memcpy(&fn, &t->fn, sizeof fn);
  /* out_max 0: mpmp_out() has no place in a chunk task and fails it */
  mpmp_ctx_t ctx = {.arg = in, .arg_size = (size_t)h->count * h->in_size,
                    .stoppable = 1, .id = mpmp__chunk_stop_id(h)};
  int rc = fn(&ctx, in, out, h->count);
  if (ctx.errmsg == NULL && rc > 0) {
    char msg[200];
    snprintf(msg, sizeof msg, "chunk task '%s' returned %d without a "
             "message", t->name, rc);
    ctx.errmsg = mpmp__strdup(msg);
  }
  mpmp__item_verdict(t, rc, &ctx);
  if (ctx.errmsg != NULL)
    fail_all(h, out, ctx.errmsg, f);
  mpmp__ctx_fini(&ctx);
}

/* A per-item task over items in place: chunk.c's item loop, with the
 * result slots in the block. */
static void run_items(const mpmp__chunk_hdr_t *h, const mpmp__task_entry_t *t,
                      const char *in, char *out, mpmp__fail_buf_t *f,
                      uint32_t seq0) {
  mpmp_ctx_t ctx = {.arg_size = h->in_size, .out_size = h->out_size,
                    .out_max = h->out_size, .stoppable = 1,
                    .id = mpmp__chunk_stop_id(h)};
  mpmp__chunk_items(h, t, in, out, &ctx, f, seq0);
}

void mpmp__chunk_direct(const mpmp__chunk_hdr_t *h,
                        const mpmp__task_entry_t *t, size_t len,
                        uint32_t seq0) {
  mpmp__fail_buf_t f = {0};
  struct mpmp__result_buf *rb = NULL;
  const char *in = NULL;
  char *out = NULL, why[400] = "";
  size_t res_len = 0;
  if (h->shm) { /* in place: no results travel back */
    const mpmp__shm_ref_t *r = (const void *)(h + 1);
    if (len < sizeof *h + sizeof *r) {
      MPMP__ERROR("bad zero-copy chunk of %u items", h->count);
      mpmp__abort_job();
    }
    mpmp__shm_ref_t ref;
    memcpy(&ref, r, sizeof ref); /* aligned, and its names terminated */
    ref.in_name[sizeof ref.in_name - 1] = ref.out_name[sizeof ref.out_name - 1] =
        '\0';
    mpmp_shm_t *in_view = NULL, *out_view = NULL;
    in = place(ref.in_name, ref.in_gen, ref.in_off, h, h->in_size, &in_view,
               NULL, why, sizeof why);
    if (in != NULL)
      out = place(ref.out_name, ref.out_gen, ref.out_off, h, h->out_size,
                  &out_view, in_view, why, sizeof why);
  } else {
    res_len = (size_t)h->count * h->out_size;
    rb = res_len ? mpmp__chunk_out(res_len) : NULL;
    if ((res_len && rb == NULL) ||
        len < sizeof *h + (size_t)h->count * h->in_size) {
      MPMP__ERROR("cannot run a chunk of %u items (out of memory or bad "
                  "request)", h->count);
      mpmp__abort_job();
    }
    in = (const char *)(h + 1);
    out = rb ? rb->buf : NULL;
  }
  double t0 = mpmp__rt.trace ? mpmp__trace_begin(MPMP__TRACE_CHUNK, h->task,
                                                 h->first, h->count, NULL)
                             : 0;
  mpmp__crash_chunk(t->name, h->base, 0);
  atomic_store_explicit(&mpmp__par.crash_item, h->first + 1,
                        memory_order_relaxed);
  char *slot_out = NULL; /* a staged chunk's results, once copied out */
  int depth = -1;
  if (h->shm == MPMP__SHM_STAGED && in != NULL && out != NULL)
    depth = stage_private(h, &in, &out, &slot_out);
  if (in == NULL || out == NULL) /* a block it cannot map: nothing runs */
    fail_all(h, NULL, why, &f);
  else if (t->kind == MPMP__TASK_CHUNK) {
    /* one call for them all: a crash names the chunk's items */
    atomic_store_explicit(&mpmp__par.crash_count, h->count,
                          memory_order_relaxed);
    run_chunk_fn(h, t, in, out, &f);
    atomic_store_explicit(&mpmp__par.crash_count, 0, memory_order_relaxed);
  } else
    run_items(h, t, in, out, &f, seq0);
  /* our own buffers are guarded; a block in place is the caller's */
  if (in != NULL && out != NULL && (slot_out != NULL || rb != NULL))
    mpmp__chunk_guard(h, t, out, &f);
  atomic_store(&mpmp__par.crash_task, NULL);
  if (slot_out != NULL) { /* (failed items' slots: zeros, as in place) */
    memcpy(slot_out, out, (size_t)h->count * h->out_size);
    out = slot_out;
    stage_depth = depth;
  }
  if (mpmp__rt.trace)
    mpmp__trace_add(MPMP__TRACE_CHUNK, h->task, h->first, h->count, NULL, t0,
                    mpmp__trace_clock());
  mpmp__chunk_reply(h, out, res_len, &f, rb);
  mpmp__free(f.data);
}
