/*
 * The worker's side of pools: run a task over the items of one chunk and
 * send back their results and failures in one message. A failing item does
 * not stop the chunk: its message is recorded with its index and the other
 * items still run (Python delivers them; map reports the failure).
 */
#include <string.h>

#include "internal.h"
#include "proto.h"

typedef struct fail_buf {
  char *data;
  size_t len, cap;
  uint32_t n;
} fail_buf_t;

static void add_failure(fail_buf_t *f, uint64_t index, const char *msg) {
  size_t mlen = strlen(msg), need = f->len + sizeof(mpmp__fail_rec_t) + mlen;
  if (need > f->cap) {
    size_t cap = need * 2;
    char *d = mpmp__realloc(f->data, cap);
    if (d == NULL)
      return; /* the item still counts as failed: see nfail below */
    f->data = d;
    f->cap = cap;
  }
  mpmp__fail_rec_t rec = {.index = index, .len = (uint32_t)mlen};
  memcpy(f->data + f->len, &rec, sizeof rec);
  memcpy(f->data + f->len + sizeof rec, msg, mlen);
  f->len = need;
  f->n++;
}

/* Run one item (ctx prepared by the caller); a failure leaves its message
 * in `f`. This is the per-item hot path of every map: keep it lean. */
static void run_item(const mpmp__chunk_hdr_t *h, const mpmp__task_entry_t *t,
                     uint32_t i, mpmp_ctx_t *ctx, fail_buf_t *f) {
  int rc = t->fn(ctx);
  if (ctx->errmsg == NULL && rc < 0) {
    char msg[200];
    snprintf(msg, sizeof msg, "task '%s' returned %d (%s) without a message",
             t->name, rc, mpmp_strerror(rc));
    ctx->errmsg = mpmp__strdup(msg);
  }
  if (ctx->errmsg != NULL)
    add_failure(f, h->first + i, ctx->errmsg);
}

static void check_send(int rc) {
  if (rc < 0) { /* losing results would hang the caller */
    MPMP__ERROR("could not send results to the main rank: %s", mpmp_errmsg());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
}

/*
 * The header (with small results inline, and the failures), then bigger
 * results as their own message, which the main rank receives in place.
 * The header goes without waiting for the main rank to take it: the
 * worker starts its next chunk (already queued: two are in flight) at
 * once instead of idling for the main rank's wake-up, which cost 1 ms
 * tasks 15-30 % of their time. Its progress is the agent thread's job.
 */
static void send_done(const mpmp__chunk_hdr_t *h, const void *res,
                      size_t res_len, const fail_buf_t *f) {
  size_t inline_len = !h->out_size || res_len <= MPMP__INLINE_MAX ? res_len : 0;
  size_t hlen = sizeof(mpmp__chunk_done_t) + inline_len;
  char *msg = mpmp__malloc(hlen + f->len);
  if (msg == NULL)
    check_send(mpmp__err(MPMP_ENOMEM, "out of memory"));
  *(mpmp__chunk_done_t *)msg = (mpmp__chunk_done_t){
      .job = h->job, .first = h->first, .count = h->count, .nfail = f->n,
      .data_len = inline_len};
  if (inline_len)
    memcpy(msg + sizeof(mpmp__chunk_done_t), res, inline_len);
  if (f->len)
    memcpy(msg + hlen, f->data, f->len);
  check_send(mpmp__send_nb(0, MPMP__TAG_CHUNK_DONE, msg, hlen + f->len));
  if (res_len && !inline_len)
    check_send(mpmp__send(0, MPMP__TAG_CHUNK_DATA, res, res_len, NULL, 0));
}

/* The reused buffer for a map chunk's results. */
static char *result_buf(size_t size) {
  mpmp__rt_t *rt = &mpmp__rt;
  if (size > rt->chunk_buf_cap) {
    char *b = mpmp__realloc(rt->chunk_buf, size);
    if (b == NULL)
      return NULL;
    rt->chunk_buf = b;
    rt->chunk_buf_cap = size;
  }
  return rt->chunk_buf;
}

void mpmp__chunk_run(const void *buf, size_t len) {
  const mpmp__chunk_hdr_t *h = buf;
  const mpmp__task_entry_t *t = mpmp__task_get(h->task);
  size_t fixed = (size_t)h->count * h->out_size;
  fail_buf_t f = {0};
  char *res = fixed ? result_buf(fixed) : NULL, *own = NULL;
  if ((fixed && res == NULL) || t == NULL ||
      len < sizeof *h + (size_t)h->count * h->in_size) {
    MPMP__ERROR("cannot run a chunk of %u items (out of memory or bad "
                "request)", h->count);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  if (fixed)
    memset(res, 0, fixed); /* an item that writes nothing reads as zeros */
  const char *in = (const char *)(h + 1);
  mpmp_ctx_t ctx = {.arg_size = h->in_size, .out_size = h->out_size,
                    .out_max = h->out_size ? h->out_size : h->out_max,
                    .stop_id = &mpmp__rt.stop_id, .id = h->job};
  atomic_store_explicit(&mpmp__rt.crash_task, t->name, memory_order_relaxed);
  double t0 = mpmp__rt.trace ? mpmp__trace_clock() : 0;
  for (uint32_t i = 0; i < h->count; i++) {
    atomic_store_explicit(&mpmp__rt.crash_item, h->first + i + 1,
                          memory_order_relaxed);
    ctx.arg = in + (size_t)i * h->in_size;
    ctx.slot = fixed ? res + (size_t)i * h->out_size : NULL;
    run_item(h, t, i, &ctx, &f);
    if (!fixed && ctx.errmsg == NULL && ctx.out_size > 0) {
      own = ctx.out; /* apply: one result of its own size; keep it */
      res = own;
      fixed = ctx.out_size;
      ctx.out = NULL;
    }
    if (ctx.out != NULL || ctx.errmsg != NULL)
      mpmp__ctx_fini(&ctx); /* the rare case: a failure or a scratch buffer */
  }
  atomic_store(&mpmp__rt.crash_task, NULL);
  if (mpmp__rt.trace)
    mpmp__trace_add(MPMP__TRACE_CHUNK, h->task, h->first, h->count, NULL, t0,
                    mpmp__trace_clock());
  send_done(h, res, fixed, &f);
  mpmp__free(own);
  mpmp__free(f.data);
}
