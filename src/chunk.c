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

/* Run one item; a failure leaves its message in `f`. */
static void run_item(const mpmp__chunk_hdr_t *h, const mpmp__task_entry_t *t,
                     uint32_t i, char *slot, mpmp_ctx_t *ctx, fail_buf_t *f) {
  const char *in = (const char *)(h + 1);
  *ctx = (mpmp_ctx_t){.arg = in + (size_t)i * h->in_size,
                      .arg_size = h->in_size, .slot = slot,
                      .out_size = slot ? h->out_size : 0,
                      .out_max = h->out_size ? h->out_size : h->out_max,
                      .stop_id = &mpmp__rt.stop_id, .id = h->job};
  if (slot)
    memset(slot, 0, h->out_size);
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

static void send_done(const mpmp__chunk_hdr_t *h, char *msg, size_t data_len,
                      const fail_buf_t *f) {
  mpmp__chunk_done_t *d = (mpmp__chunk_done_t *)msg;
  *d = (mpmp__chunk_done_t){.job = h->job, .first = h->first,
                            .count = h->count, .nfail = f->n,
                            .data_len = data_len};
  int rc = mpmp__send(0, MPMP__TAG_CHUNK_DONE, msg, sizeof *d + data_len,
                      f->data, f->len);
  if (rc < 0) { /* losing results would hang the caller */
    MPMP__ERROR("could not send results to the main rank: %s", mpmp_errmsg());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
}

void mpmp__chunk_run(const void *buf, size_t len) {
  const mpmp__chunk_hdr_t *h = buf;
  const mpmp__task_entry_t *t = mpmp__task_get(h->task);
  size_t fixed = (size_t)h->count * h->out_size;
  fail_buf_t f = {0};
  char *msg = mpmp__malloc(sizeof(mpmp__chunk_done_t) + fixed);
  if (msg == NULL || t == NULL ||
      len < sizeof *h + (size_t)h->count * h->in_size) {
    MPMP__ERROR("cannot run a chunk of %u items (out of memory or bad "
                "request)", h->count);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  char *res = msg + sizeof(mpmp__chunk_done_t);
  atomic_store(&mpmp__rt.running_id, h->job);
  for (uint32_t i = 0; i < h->count; i++) {
    mpmp_ctx_t ctx;
    run_item(h, t, i, h->out_size ? res + (size_t)i * h->out_size : NULL,
             &ctx, &f);
    if (h->out_size == 0 && ctx.errmsg == NULL && ctx.out_size > 0) {
      /* apply: one result of its own size */
      char *m = mpmp__realloc(msg, sizeof(mpmp__chunk_done_t) + ctx.out_size);
      if (m != NULL) {
        msg = m;
        memcpy(msg + sizeof(mpmp__chunk_done_t), ctx.out, ctx.out_size);
        fixed = ctx.out_size;
      }
    }
    mpmp__ctx_fini(&ctx);
  }
  atomic_store(&mpmp__rt.running_id, 0);
  send_done(h, msg, fixed, &f);
  mpmp__free(msg);
  mpmp__free(f.data);
}
