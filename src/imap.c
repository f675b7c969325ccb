/*
 * imap / imap_unordered: a streaming map in bounded memory. Items are
 * pulled from the producer into batches; at most two batches are out at
 * once (one being computed while the caller reads the other), each a pool
 * map job, so memory holds at most `buffersize` items whatever the input's
 * length. Ordered imap returns the oldest batch's results in item order;
 * unordered returns from whichever batch is ready first.
 */
#include <string.h>

#include "internal.h"

typedef struct batch {
  char *in, *out;
  size_t n, first, pos; /* pos: next result to hand out */
  mpmp_async_t *job;
} batch_t;

struct mpmp_imap {
  mpmp_pool_t *pool;
  mpmp_task_fn fn;
  mpmp_produce_fn produce;
  void *user;
  size_t in_size, out_size, chunk, cap, produced;
  int ordered, ended, error;
  batch_t b[2];
};

/* Fill a free batch from the producer and start it. 1: started, 0: none. */
static int start_batch(mpmp_imap_t *it, batch_t *b) {
  b->n = b->pos = 0;
  b->first = it->produced;
  while (!it->ended && b->n < it->cap) {
    int rc = it->produce(it->user, b->in + b->n * it->in_size);
    if (rc < 0) {
      it->error = rc;
      it->ended = 1;
    } else if (rc == 0) {
      it->ended = 1;
    } else {
      b->n++;
    }
  }
  if (b->n == 0)
    return 0;
  it->produced += b->n;
  int rc = mpmp_pool_map_async(it->pool, it->fn, b->in, b->n, it->in_size,
                               b->out, it->out_size, it->chunk, NULL, NULL,
                               &b->job);
  if (rc < 0) {
    it->error = rc;
    b->n = 0;
    return 0;
  }
  return 1;
}

static int create(mpmp_pool_t *pool, mpmp_task_fn fn, mpmp_produce_fn produce,
                  void *user, size_t in_size, size_t out_size, size_t chunk,
                  size_t buffersize, int ordered, mpmp_imap_t **out) {
  if (pool == NULL || produce == NULL || out == NULL || in_size == 0 ||
      out_size == 0)
    return mpmp__err(MPMP_EINVAL, "imap: NULL pool, producer or iterator, "
                     "or a zero item or result size");
  int workers = mpmp_pool_size(pool);
  size_t c = chunk ? chunk : 64, cap;
  cap = (buffersize ? buffersize : 4 * c * (size_t)workers) / 2;
  if (cap == 0)
    cap = 1;
  mpmp_imap_t *it = mpmp__calloc(1, sizeof *it);
  if (it == NULL)
    return mpmp__err(MPMP_ENOMEM, "out of memory for imap");
  *it = (mpmp_imap_t){pool, fn, produce, user, in_size, out_size, c, cap,
                      0, ordered, 0, 0, {{0}}};
  for (int k = 0; k < 2; k++) {
    it->b[k].in = mpmp__malloc(cap * in_size);
    it->b[k].out = mpmp__malloc(cap * out_size);
    if (it->b[k].in == NULL || it->b[k].out == NULL) {
      mpmp_imap_destroy(it);
      return mpmp__err(MPMP_ENOMEM, "out of memory for imap buffers of %zu "
                       "items", cap);
    }
  }
  for (int k = 0; k < 2; k++)
    start_batch(it, &it->b[k]);
  if (it->error < 0 && it->b[0].n == 0) {
    int rc = it->error;
    mpmp_imap_destroy(it);
    return rc;
  }
  *out = it;
  return 0;
}

MPMP_API int mpmp_pool_imap(mpmp_pool_t *pool, mpmp_task_fn fn,
                            mpmp_produce_fn produce, void *user,
                            size_t in_size, size_t out_size, size_t chunksize,
                            size_t buffersize, mpmp_imap_t **it) {
  return create(pool, fn, produce, user, in_size, out_size, chunksize,
                buffersize, 1, it);
}

MPMP_API int mpmp_pool_imap_unordered(mpmp_pool_t *pool, mpmp_task_fn fn,
                                      mpmp_produce_fn produce, void *user,
                                      size_t in_size, size_t out_size,
                                      size_t chunksize, size_t buffersize,
                                      mpmp_imap_t **it) {
  return create(pool, fn, produce, user, in_size, out_size, chunksize,
                buffersize, 0, it);
}

/* The batch to read from: the oldest (ordered), or any ready one. */
static batch_t *pick(mpmp_imap_t *it) {
  batch_t *a = &it->b[0], *b = &it->b[1];
  if (a->n == 0)
    return b->n ? b : NULL;
  if (b->n == 0)
    return a;
  batch_t *old = a->first < b->first ? a : b, *young = old == a ? b : a;
  if (!it->ordered && !mpmp__async_done(old->job) &&
      mpmp__async_done(young->job))
    return young;
  return old;
}

static int any_ready(void *arg) {
  mpmp_imap_t *it = arg;
  for (int k = 0; k < 2; k++)
    if (it->b[k].n && mpmp__async_done(it->b[k].job))
      return 1;
  return 0;
}

MPMP_API int mpmp_imap_next(mpmp_imap_t *it, void *out, size_t *index,
                            double timeout) {
  if (it == NULL || out == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_imap_next: NULL argument");
  /* Refill drained batches now, not when their last result was handed
   * out: so at most 2 x cap items are ever out of the caller's hands. */
  for (int k = 0; k < 2; k++)
    if (it->b[k].n == 0 && !it->ended)
      start_batch(it, &it->b[k]);
  batch_t *b = pick(it);
  if (b == NULL)
    return it->error < 0 ? it->error : MPMP_EEOF;
  int rc = it->ordered ? mpmp_async_wait(b->job, timeout)
                       : mpmp__wait_until(any_ready, it, mpmp__deadline(timeout));
  if (rc < 0)
    return mpmp__err(MPMP_ETIMEDOUT, "imap: no result within %g s", timeout);
  b = pick(it); /* unordered: the one that is ready now */
  size_t k = b->pos++, idx = b->first + k;
  memcpy(out, b->out + k * it->out_size, it->out_size);
  if (index)
    *index = idx;
  int rank = -1;
  const char *err = mpmp__async_item_error(b->job, idx - b->first, &rank);
  rc = err == NULL ? 0 : mpmp__err(MPMP_ETASK, "item %zu failed on rank %d: "
                                   "%s", idx, rank, err);
  if (b->pos == b->n) { /* drained (err is freed too): the next call refills */
    mpmp_async_destroy(b->job);
    b->job = NULL;
    b->n = 0;
  }
  return rc;
}

MPMP_API void mpmp_imap_destroy(mpmp_imap_t *it) {
  if (it == NULL)
    return;
  for (int k = 0; k < 2; k++) {
    if (it->b[k].job != NULL && it->b[k].n > 0) {
      /* the job writes into our buffers until its chunks are back */
      mpmp__async_stop(it->b[k].job);
      mpmp_async_wait(it->b[k].job, MPMP_FOREVER);
      mpmp_async_destroy(it->b[k].job);
    }
    mpmp__free(it->b[k].in);
    mpmp__free(it->b[k].out);
  }
  mpmp__free(it);
}
