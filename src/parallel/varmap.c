/*
 * Maps over variable-size items and results (Arrow's variable-size binary
 * layout): the items are one buffer and n + 1 offsets, item i being the
 * bytes in + off[i] .. in + off[i + 1]. A chunk is a contiguous range of
 * them, so it travels as its count + 1 offsets (made relative to its first
 * item) and then its bytes, in one message. Each result is what its task
 * wrote with mpmp_out() (up to the pool's max_result); a chunk's come back
 * inline with their sizes (chunk.c), are kept here as they arrive, and
 * are gathered into one buffer with n + 1 offsets once the job is ready.
 *
 * The job (pool.c) does the dealing, failures, terminate and callbacks as
 * for any map; imap.c streams slots of variable-size items through the
 * feed below.
 */
#include <string.h>

#include "parallel.h"

/* What one chunk carries at most: a message stays well under MPI's int
 * count, and a chunk of tiny items under the count field. */
#define CHUNK_BYTES_MAX ((size_t)64 << 20)
#define CHUNK_ITEMS_MAX ((size_t)1 << 20)
#define ITEM_MAX MPMP__ELEM_MAX /* as for fixed-size items */

typedef struct var_chunk {
  size_t first;
  uint32_t count;
  char *res; /* count uint64 sizes, then the bytes */
} var_chunk_t;

struct mpmp__var {
  const char *in;
  const size_t *off;
  size_t n;
  var_chunk_t *chunks; /* as they came back */
  size_t nchunks, cap;
  /* gathered once the job is ready, or when the caller let it go
   * (mpmp__var_let_go; results after that are dropped) (mpmp__par.lock) */
  int gathered, dropped;
  mpmp_varbuf_t out;
};

mpmp__var_t *mpmp__var_new(const char *in, const size_t *off, size_t n) {
  mpmp__var_t *v = mpmp__calloc(1, sizeof *v);
  if (v != NULL) {
    v->in = in;
    v->off = off;
    v->n = n;
  }
  return v;
}

static void free_chunks(mpmp__var_t *v) {
  for (size_t k = 0; k < v->nchunks; k++)
    mpmp__free(v->chunks[k].res);
  mpmp__free(v->chunks);
  v->chunks = NULL;
  v->nchunks = v->cap = 0;
}

void mpmp__var_free(mpmp__var_t *v) {
  if (v == NULL)
    return;
  free_chunks(v);
  mpmp_varbuf_free(&v->out);
  mpmp__free(v);
}

void mpmp__var_input(const mpmp__var_t *v, const void **bytes, size_t *len,
                     const size_t **off) {
  *bytes = v->n ? v->in + v->off[0] : NULL;
  *len = v->n ? v->off[v->n] - v->off[0] : 0;
  *off = v->off;
}

uint64_t mpmp__var_digest(const mpmp__var_t *v, size_t first, size_t count) {
  const size_t *off = v->off + first;
  return mpmp__hash_sizes(off, count,
                          mpmp__hash64(v->in + off[0], off[count] - off[0],
                                       0x1A));
}

size_t mpmp__var_fit(const mpmp__var_t *v, size_t first, size_t count) {
  if (count > CHUNK_ITEMS_MAX)
    count = CHUNK_ITEMS_MAX;
  size_t c = 1; /* one item always goes, whatever its size */
  while (c < count && v->off[first + c + 1] - v->off[first] <= CHUNK_BYTES_MAX)
    c++;
  return c;
}

size_t mpmp__var_chunk_bytes(const mpmp__var_t *v, size_t first,
                             size_t count) {
  return (count + 1) * sizeof(uint64_t) +
         (v->off[first + count] - v->off[first]);
}

void mpmp__var_chunk_fill(const mpmp__var_t *v, size_t first, size_t count,
                          void *dst) {
  char *p = dst;
  for (size_t i = 0; i <= count; i++) {
    uint64_t o = v->off[first + i] - v->off[first];
    memcpy(p + i * sizeof o, &o, sizeof o);
  }
  size_t len = v->off[first + count] - v->off[first];
  if (len > 0) /* (items all empty: in may be NULL) */
    memcpy(p + (count + 1) * sizeof(uint64_t), v->in + v->off[first], len);
}

int mpmp__var_take(mpmp__var_t *v, size_t first, uint32_t count,
                   const char *data, size_t len) {
  if (len == 0 || v->dropped)
    return 0; /* none came back (their host could not run them), or too
                 late: the caller has had the results (mpmp__var_let_go) */
  size_t sizes = (size_t)count * sizeof(uint64_t), total = sizes;
  for (uint32_t i = 0; i < count && len >= sizes; i++) {
    uint64_t s;
    memcpy(&s, data + (size_t)i * sizeof s, sizeof s);
    total += s;
  }
  if (len < sizes || total != len)
    return mpmp__err(MPMP_EMPI, "the results of items %zu to %zu came "
                     "back garbled (%zu bytes)", first,
                     first + count - 1, len);
  if (v->nchunks == v->cap) {
    size_t cap = v->cap ? 2 * v->cap : 16;
    var_chunk_t *c = mpmp__realloc(v->chunks, cap * sizeof *c);
    if (c == NULL)
      return mpmp__err(MPMP_ENOMEM, "out of memory keeping the results of "
                       "items %zu to %zu", first, first + count - 1);
    v->chunks = c;
    v->cap = cap;
  }
  char *res = mpmp__malloc(len);
  if (res == NULL)
    return mpmp__err(MPMP_ENOMEM, "out of memory keeping the %zu bytes of "
                     "results of items %zu to %zu", len, first,
                     first + count - 1);
  memcpy(res, data, len);
  v->chunks[v->nchunks++] = (var_chunk_t){first, count, res};
  return 0;
}

/* The results in one buffer: item i's at off[i] (the items whose chunk
 * never came back, and failed ones, are empty). An item whose host died
 * is empty in its chunk and comes back again in a chunk of its own (a
 * retry, or a rerun's journal record): the result that is not empty
 * counts, and a chunk with such an item is copied item by item. */
static int gather(mpmp__var_t *v, const char *fn) {
  size_t n = v->n, *off = mpmp__calloc(n + 1, sizeof *off), total = 0;
  if (off == NULL)
    return mpmp__err(MPMP_ENOMEM, "%s: out of memory for %zu offsets", fn, n);
  /* sizes first (into off[i + 1]), then the running sum */
  for (size_t k = 0; k < v->nchunks; k++) {
    const var_chunk_t *c = &v->chunks[k];
    for (uint32_t i = 0; i < c->count; i++) {
      uint64_t s;
      memcpy(&s, c->res + (size_t)i * sizeof s, sizeof s);
      if (s > 0)
        off[c->first + i + 1] = (size_t)s;
    }
  }
  for (size_t i = 0; i < n; i++)
    total = off[i + 1] += total;
  char *data = mpmp__malloc(total ? total : 1);
  if (data == NULL) {
    mpmp__free(off);
    return mpmp__err(MPMP_ENOMEM, "%s: out of memory for %zu bytes of "
                     "results", fn, total);
  }
  for (size_t k = 0; k < v->nchunks; k++) {
    const var_chunk_t *c = &v->chunks[k];
    size_t sizes = (size_t)c->count * sizeof(uint64_t), pos = 0;
    for (uint32_t i = 0; i < c->count; i++) {
      uint64_t s;
      memcpy(&s, c->res + (size_t)i * sizeof s, sizeof s);
      pos += (size_t)s;
    }
    if (pos == off[c->first + c->count] - off[c->first]) {
      memcpy(data + off[c->first], c->res + sizes, pos);
      continue;
    }
    pos = 0;
    for (uint32_t i = 0; i < c->count; i++) {
      uint64_t s;
      size_t at = c->first + i;
      memcpy(&s, c->res + (size_t)i * sizeof s, sizeof s);
      if (s > 0 && s == off[at + 1] - off[at])
        memcpy(data + off[at], c->res + sizes + pos, (size_t)s);
      pos += (size_t)s;
    }
  }
  free_chunks(v);
  v->out = (mpmp_varbuf_t){.data = data, .off = off, .n = n};
  v->gathered = 1;
  return 0;
}

/* The gathered results of a ready job (gathered at the first look). */
static int results_of(mpmp_async_t *res, mpmp_varbuf_t *view,
                      const char *fn) {
  /* a finished result is read after finalize as before it (pool.h) */
  int rc = mpmp_initialized() ? mpmp__check_main(fn) : 0;
  if (rc < 0)
    return rc;
  if (res == NULL || view == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the %s is NULL", fn,
                     res == NULL ? "result" : "output");
  mpmp__var_t *v = mpmp__async_var(res);
  if (v == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: this result is not of a map over "
                     "variable-size items (mpmp_pool_map_var_async)", fn);
  if (!mpmp__async_done(res))
    return mpmp__err(MPMP_EAGAIN, "%s: the map is not ready yet: "
                     "mpmp_async_get() it first", fn);
  pthread_mutex_lock(&mpmp__par.lock);
  rc = v->gathered ? 0 : gather(v, fn);
  if (rc == 0)
    *view = v->out;
  pthread_mutex_unlock(&mpmp__par.lock);
  return rc;
}

/* A map past its timeout that its caller lets go (executor.c): the
 * results that came back so far are the caller's now, the items still
 * running or never run empty; what comes back later is dropped. Nothing
 * reads the caller's input afterwards: chunks carry copies of their items
 * (mpmp__var_chunk_fill), and a stopped job deals nothing again. */
int mpmp__var_let_go(mpmp_async_t *j, mpmp_varbuf_t *out, const char *fn) {
  mpmp__var_t *v = mpmp__async_var(j);
  pthread_mutex_lock(&mpmp__par.lock);
  int rc = v->gathered ? 0 : gather(v, fn);
  if (rc == 0) {
    *out = v->out;
    v->out = (mpmp_varbuf_t){0};
  }
  v->dropped = 1;
  pthread_mutex_unlock(&mpmp__par.lock);
  return rc;
}

MPMP_API int mpmp_async_var_results(mpmp_async_t *res, mpmp_varbuf_t *view) {
  return results_of(res, view, "mpmp_async_var_results");
}

MPMP_API void mpmp_varbuf_free(mpmp_varbuf_t *b) {
  if (b == NULL)
    return;
  mpmp__free(b->data);
  mpmp__free(b->off);
  *b = (mpmp_varbuf_t){0};
}

/* ---- input checks ----------------------------------------------------------- */

int mpmp__var_check(const void *in, const size_t *off, size_t n,
                    const char *fn) {
  if (n == 0)
    return 0;
  if (in == NULL || off == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: %s is NULL for %zu items", fn,
                     in == NULL ? "the input" : "the offsets array", n);
  if (n >= SIZE_MAX / sizeof *off) /* n + 1 offsets: no room for them */
    return mpmp__err(MPMP_EINVAL, "%s: %zu items is no count (a negative "
                     "number cast to size_t?): their n + 1 offsets cannot "
                     "fit in memory", fn, n);
  int rc = mpmp__check_extent(off, n + 1, sizeof *off, "the offsets", fn);
  if (rc < 0)
    return rc;
  for (size_t i = 0; i < n; i++) {
    if (off[i + 1] < off[i])
      return mpmp__err(MPMP_EINVAL, "%s: the offsets go down at item %zu "
                       "(%zu, then %zu): item i is in + off[i] .. in + "
                       "off[i + 1], so the n + 1 offsets must not decrease",
                       fn, i, off[i], off[i + 1]);
    if (off[i + 1] - off[i] > ITEM_MAX)
      return mpmp__err(MPMP_EINVAL, "%s: item %zu has %zu bytes: an item must be "
                       MPMP__ELEM_MAX_SAYS, fn, i, off[i + 1] - off[i]);
  }
  if (off[n] > off[0])
    return mpmp__check_extent((const char *)in + off[0], off[n] - off[0], 1,
                              "the input bytes", fn);
  return 0;
}

static int map_var_async(mpmp_pool_t *pool, mpmp_task_fn fn, const void *in,
                         const size_t *in_off, size_t n, size_t chunksize,
                         mpmp_async_cb cb, void *user, mpmp_async_t **res,
                         const char *name) {
  if (res != NULL) /* NULL on failure: a cleanup may destroy it */
    *res = NULL;
  int rc = mpmp__check_main(name);
  if (rc < 0)
    return rc;
  if (pool == NULL || res == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the %s is NULL", name,
                     pool == NULL ? "pool" : "result pointer");
  if ((rc = mpmp__var_check(in, in_off, n, name)) < 0)
    return rc;
  mpmp__var_t *v = mpmp__var_new(in, in_off, n);
  if (v == NULL)
    return mpmp__err(MPMP_ENOMEM, "%s: out of memory", name);
  rc = mpmp__pool_map_var(pool, fn, v, n, chunksize, cb, user, res, 0, NULL,
                          0, 0, name);
  if (rc < 0)
    mpmp__var_free(v);
  return rc;
}

MPMP_API int mpmp_pool_map_var_async(mpmp_pool_t *pool, mpmp_task_fn fn,
                                     const void *in, const size_t *in_off,
                                     size_t n, size_t chunksize,
                                     mpmp_async_cb cb, void *user,
                                     mpmp_async_t **res) {
  return map_var_async(pool, fn, in, in_off, n, chunksize, cb, user, res,
                       "mpmp_pool_map_var_async");
}

int mpmp__var_collect(mpmp_async_t *j, int rc, mpmp_varbuf_t *out,
                      const char *name) {
  mpmp_varbuf_t view;
  int vrc = results_of(j, &view, name);
  if (vrc == 0) { /* the job's buffers are the caller's now */
    mpmp__var_t *v = mpmp__async_var(j);
    *out = view;
    v->out = (mpmp_varbuf_t){0};
  }
  mpmp_async_destroy(j);
  return rc < 0 ? rc : vrc;
}

MPMP_API int mpmp_pool_map_var(mpmp_pool_t *pool, mpmp_task_fn fn,
                               const void *in, const size_t *in_off, size_t n,
                               size_t chunksize, mpmp_varbuf_t *out) {
  const char *name = "mpmp_pool_map_var";
  if (out == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the output is NULL", name);
  *out = (mpmp_varbuf_t){0};
  mpmp_async_t *j = NULL;
  int rc = mpmp__may_wait(name);
  if (rc == 0)
    rc = map_var_async(pool, fn, in, in_off, n, chunksize, NULL, NULL, &j,
                       name);
  if (rc < 0)
    return rc;
  /* failed items leave the others' results, and the get's message */
  return mpmp__var_collect(j, mpmp__async_get(j, MPMP_FOREVER, name), out,
                           name);
}

/* ---- imap over variable-size items (imap.c's slots) ------------------------- */

/* Each slot of the iterator's window holds its chunk's items, copied from
 * the producer: their bytes and offsets. The result handed out last is a
 * copy of the iterator's (its slot's job may be dropped right after). */
typedef struct feed_slot {
  char *data;
  size_t cap, *off; /* off: chunk + 1 */
} feed_slot_t;

/* The result handed out last to one thread: threads may read one
 * iterator at once, and each one's result stays valid until its own next
 * read (imap.c). */
typedef struct cur_buf {
  pthread_t thread;
  char *p;
  size_t cap;
} cur_buf_t;

struct mpmp__varfeed {
  mpmp_produce_var_fn produce;
  void *user;
  feed_slot_t *slots;
  int nslots;
  cur_buf_t *cur; /* one per thread that read the iterator */
  int ncur;
};

void mpmp__varfeed_free(mpmp__varfeed_t *f) {
  if (f == NULL)
    return;
  for (int k = 0; f->slots != NULL && k < f->nslots; k++) {
    mpmp__free(f->slots[k].data);
    mpmp__free(f->slots[k].off);
  }
  mpmp__free(f->slots);
  for (int i = 0; i < f->ncur; i++)
    mpmp__free(f->cur[i].p);
  mpmp__free(f->cur);
  mpmp__free(f);
}

mpmp__varfeed_t *mpmp__varfeed_new(mpmp_produce_var_fn produce, void *user,
                                   int nslots, size_t chunk) {
  mpmp__varfeed_t *f = mpmp__calloc(1, sizeof *f);
  if (f == NULL)
    return NULL;
  *f = (mpmp__varfeed_t){.produce = produce, .user = user, .nslots = nslots};
  f->slots = mpmp__calloc((size_t)nslots, sizeof *f->slots);
  for (int k = 0; f->slots != NULL && k < nslots; k++)
    if ((f->slots[k].off = mpmp__calloc(chunk + 1, sizeof(size_t))) == NULL)
      break;
  if (f->slots == NULL || f->slots[nslots - 1].off == NULL) {
    mpmp__varfeed_free(f);
    return NULL;
  }
  return f;
}

int mpmp__varfeed_produce(mpmp__varfeed_t *f, int slot, size_t i,
                          int *theirs) {
  feed_slot_t *s = &f->slots[slot];
  const void *item = NULL;
  size_t size = 0;
  int rc = f->produce(f->user, &item, &size);
  *theirs = rc < 0;
  if (rc <= 0)
    return rc;
  if (item == NULL && size > 0)
    return mpmp__err(MPMP_EINVAL, "mpmp_imap_next_var: the producer gave a "
                     "NULL item of %zu bytes", size);
  if (size > ITEM_MAX)
    return mpmp__err(MPMP_EINVAL, "mpmp_imap_next_var: the producer gave an "
                     "item of %zu bytes: an item must be " MPMP__ELEM_MAX_SAYS,
                     size);
  size_t at = s->off[i];
  if (size > s->cap - at) {
    size_t cap = (at + size) * 2;
    char *d = mpmp__realloc(s->data, cap);
    if (d == NULL)
      return mpmp__err(MPMP_ENOMEM, "mpmp_imap_next_var: out of memory for "
                       "an item of %zu bytes", size);
    s->data = d;
    s->cap = cap;
  }
  if (size > 0)
    memcpy(s->data + at, item, size);
  s->off[i + 1] = at + size;
  return 1;
}

int mpmp__varfeed_submit(mpmp__varfeed_t *f, int slot, size_t n,
                         mpmp_pool_t *pool, mpmp_task_fn fn,
                         mpmp_async_cb cb, void *user, mpmp_async_t **res,
                         mpmp__journal_t *jr, uint64_t base, uint64_t group) {
  feed_slot_t *s = &f->slots[slot];
  mpmp__var_t *v = mpmp__var_new(s->data, s->off, n);
  if (v == NULL)
    return mpmp__err(MPMP_ENOMEM, "mpmp_imap_next_var: out of memory");
  int rc = mpmp__pool_map_var(pool, fn, v, n, n, cb, user, res, 1, jr, base,
                              group, "mpmp_imap_next_var");
  if (rc < 0)
    mpmp__var_free(v);
  return rc;
}

int mpmp__varfeed_result(mpmp__varfeed_t *f, mpmp_async_t *job, size_t at,
                         const void **data, size_t *size) {
  mpmp_varbuf_t view;
  int rc = results_of(job, &view, "mpmp_imap_next_var");
  if (rc < 0)
    return rc;
  size_t len = view.off[at + 1] - view.off[at];
  cur_buf_t *b = NULL;
  pthread_t me = pthread_self();
  for (int i = 0; i < f->ncur && b == NULL; i++) /* (one, most often) */
    if (pthread_equal(f->cur[i].thread, me))
      b = &f->cur[i];
  if (b == NULL) {
    cur_buf_t *t = mpmp__realloc(f->cur, (size_t)(f->ncur + 1) * sizeof *t);
    if (t == NULL)
      return mpmp__err(MPMP_ENOMEM, "mpmp_imap_next_var: out of memory");
    f->cur = t;
    b = &f->cur[f->ncur++];
    *b = (cur_buf_t){.thread = me};
  }
  if (len + 1 > b->cap) {
    char *p = mpmp__realloc(b->p, len + 1);
    if (p == NULL)
      return mpmp__err(MPMP_ENOMEM, "mpmp_imap_next_var: out of memory for "
                       "a result of %zu bytes", len);
    b->p = p;
    b->cap = len + 1;
  }
  memcpy(b->p, view.data + view.off[at], len);
  b->p[len] = '\0'; /* a text result reads as a string */
  *data = b->p;
  if (size)
    *size = len;
  return 0;
}
