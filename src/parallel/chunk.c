/*
 * The worker's side of pools: run a task over the items of one chunk and
 * send back their results and failures in one message. A failing item does
 * not stop the chunk: its message is recorded with its index and the other
 * items still run (Python delivers them; map reports the failure).
 */
#include <string.h>

#include "objects.h"
#include "parallel.h"
#include "proto.h"

typedef mpmp__fail_buf_t fail_buf_t;

/* Record item `index`'s failure. Out of memory, the message goes (the
 * record says so by its length 0) but never the failure itself: an item
 * reported as done would be a wrong result. */
static void add_failure(fail_buf_t *f, uint64_t index, int code,
                        const char *msg) {
  size_t mlen = strlen(msg), need = f->len + sizeof(mpmp__fail_rec_t) + mlen;
  if (need > f->cap) {
    size_t cap = need * 2;
    char *d = mpmp__realloc(f->data, cap);
    if (d == NULL) { /* keep the failure, drop its words */
      mlen = 0;
      need = cap = f->len + sizeof(mpmp__fail_rec_t);
      d = need > f->cap ? mpmp__realloc(f->data, cap) : f->data;
      if (d == f->data)
        cap = f->cap;
    }
    if (d == NULL) {
      MPMP__ERROR("out of memory recording the failure of item %llu",
                  (unsigned long long)index);
      mpmp__abort_job();
    }
    f->data = d;
    f->cap = cap;
  }
  mpmp__fail_rec_t rec = {.index = index, .len = (uint32_t)mlen,
                          .code = code};
  memcpy(f->data + f->len, &rec, sizeof rec);
  memcpy(f->data + f->len + sizeof rec, msg, mlen);
  f->len = need;
  f->n++;
}

/* Run one item (ctx prepared by the caller); a failure leaves its message
 * in `f`. This is the per-item hot path of every map: keep it lean. */
void mpmp__item_failed(const mpmp__task_entry_t *t, int rc, mpmp_ctx_t *ctx) {
  char msg[200];
  if (rc < 0)
    snprintf(msg, sizeof msg, "task '%s' returned %d (%s) without a message",
             t->name, rc, mpmp_strerror(rc));
  else /* Python's terminate fails the results of the tasks it stopped;
          one that never asked (mpmp_should_stop) returned a whole result,
          which is kept */
    snprintf(msg, sizeof msg, "task '%s' returned after it was asked to "
             "stop (its pool was terminated or its map stopped): its result "
             "is taken as cut short", t->name);
  ctx->errmsg = mpmp__strdup(msg);
}

static void run_item(const mpmp__chunk_hdr_t *h, const mpmp__task_entry_t *t,
                     uint32_t i, mpmp_ctx_t *ctx, fail_buf_t *f,
                     uint32_t seq0) {
  int rc = t->fn(ctx);
  if (__builtin_expect(ctx->out != NULL, 0)) /* mpmp_out()'s buffer */
    mpmp__out_check(ctx);
  /* The stop words are read only once a stop request came in since the
   * chunk began (one load per item; the words were a fifth of a x*x
   * item's time); one that came before it skipped the chunk. */
  if (__builtin_expect(ctx->errmsg == NULL &&
                       (rc < 0 || atomic_load_explicit(&mpmp__rt.stop_seq,
                                                       memory_order_acquire) !=
                                      seq0),
                       0))
    mpmp__item_verdict(t, rc, ctx);
  if (ctx->errmsg != NULL)
    add_failure(f, h->first + i, MPMP_ETASK, ctx->errmsg);
}

static void check_send(int rc) {
  if (rc < 0) { /* losing results would hang the caller */
    MPMP__ERROR("could not send results to the main rank: %s", mpmp_errmsg());
    mpmp__abort_job();
  }
}

/*
 * The header (with small results inline, and the failures), then bigger
 * results as their own message, which the main rank receives in place.
 * Neither waits for the main rank to take it: the worker starts its next
 * chunk (already queued: two are in flight) at once instead of idling for
 * the main rank's wake-up, which cost 1 ms tasks 15-30 % of their time,
 * and 10 000-item chunks of x*x some 60 us each. The header's progress is
 * the agent thread's job; the results' buffer (`out`) is waited for only
 * when it comes round again (result_buf). Without `out` (an apply's own
 * result), the results go out before this returns.
 */
static void send_done(const mpmp__chunk_hdr_t *h, const void *res,
                      size_t res_len, const fail_buf_t *f,
                      struct mpmp__result_buf *out) {
  mpmp__obj_fence(); /* the tasks' puts are in their queues before the
                     * results say the tasks are done */
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
  if (!res_len || inline_len)
    return;
  if (out != NULL) {
    check_send(mpmp__send_post(0, MPMP__TAG_CHUNK_DATA, res, res_len,
                               &out->req));
    out->busy = 1;
  } else {
    check_send(mpmp__send_data(0, MPMP__TAG_CHUNK_DATA, res, res_len));
  }
}

/* Wait until the results in `b` went out (the main rank took them). */
static int result_sent(struct mpmp__result_buf *b, double deadline) {
  if (!b->busy)
    return 0;
  int rc = mpmp__send_wait(0, &b->req, deadline);
  if (rc == 0)
    b->busy = 0;
  return rc;
}

/* The next of the reused buffers for a map chunk's results, once the
 * results it held last went out (long ago: at most two chunks are in
 * flight, and there are three buffers): `size` bytes, with the guard set
 * after them (mpmp__chunk_guard). */
static struct mpmp__result_buf *result_buf(size_t size) {
  struct mpmp__result_buf *b = &mpmp__par.chunk_out[mpmp__par.chunk_next];
  check_send(result_sent(b, INFINITY));
  if (size > b->cap) { /* nothing in it to keep */
    mpmp__free(b->buf);
    b->cap = 0;
    if ((b->buf = mpmp__malloc_big(size + MPMP__OUT_GUARD)) == NULL)
      return NULL;
    b->cap = size;
  }
  mpmp__guard_set(b->buf + size);
  mpmp__par.chunk_next = (mpmp__par.chunk_next + 1) % MPMP__RESULT_BUFS;
  return b;
}

/* Whether item `index` has a record in f's bytes [from, to). */
static int recorded(const fail_buf_t *f, size_t from, size_t to,
                    uint64_t index) {
  while (from < to) {
    mpmp__fail_rec_t rec;
    memcpy(&rec, f->data + from, sizeof rec);
    if (rec.index == index)
      return 1;
    from += sizeof rec + rec.len;
  }
  return 0;
}

/*
 * A map's results lie side by side, so a task that writes past its slot
 * writes into the next item's, which that item then writes again: only
 * the chunk's last item damages what lies after the chunk's results (the
 * heap). The result buffers have MPMP__OUT_GUARD bytes more, set before
 * the chunk runs; changed, the chunk's last item fails, saying why (a
 * chunk task: the whole chunk, as its other failures), its result dropped.
 */
void mpmp__chunk_guard(const mpmp__chunk_hdr_t *h, const mpmp__task_entry_t *t,
                       char *res, fail_buf_t *f) {
  size_t bytes = (size_t)h->count * h->out_size;
  size_t k = mpmp__guard_changed(res + bytes);
  if (k == MPMP__OUT_GUARD || h->count == 0)
    return;
  char msg[400];
  uint64_t last = h->first + h->count - 1;
  if (t->kind == MPMP__TASK_CHUNK) {
    if (f->n > 0)
      return; /* failed already: all of it */
    snprintf(msg, sizeof msg, "chunk task '%s' wrote past the end of its "
             "chunk's results (%u results of %llu bytes; byte %zu after "
             "them was changed): the chunk's results are dropped", t->name,
             h->count, (unsigned long long)h->out_size, k);
    memset(res, 0, bytes);
    for (uint32_t i = 0; i < h->count; i++)
      add_failure(f, h->first + i, MPMP_ETASK, msg);
    return;
  }
  if (recorded(f, 0, f->len, last))
    return;
  mpmp__slot_overrun(msg, sizeof msg, t->name, h->out_size, k);
  memset(res + bytes - h->out_size, 0, h->out_size);
  add_failure(f, last, MPMP_ETASK, msg);
}

void mpmp__slot_overrun(char *msg, size_t len, const char *task,
                        uint64_t out_size, size_t k) {
  snprintf(msg, len, "task '%s' wrote past the end of its %llu-byte result "
           "slot (byte %zu after the chunk's last slot was changed): its "
           "result is dropped. A map's task must write no more than the "
           "map's result size", task, (unsigned long long)out_size, k);
}

int mpmp__chunk_sends_idle(void) {
  for (int i = 0; i < MPMP__RESULT_BUFS; i++)
    if (result_sent(&mpmp__par.chunk_out[i], 0) < 0)
      return 0;
  return 1;
}

void mpmp__chunk_fini(void) {
  mpmp__zc_fini();
  for (int i = 0; i < MPMP__RESULT_BUFS; i++) {
    struct mpmp__result_buf *b = &mpmp__par.chunk_out[i];
    if (result_sent(b, mpmp__deadline(10)) < 0) {
      MPMP__WARN("the results of a map chunk were not taken by the main "
                 "rank in 10 s");
      continue; /* the send still uses the buffer: keep it */
    }
    mpmp__free(b->buf);
    b->buf = NULL;
    b->cap = 0;
  }
}

/* An item of mpmp__chunk_items that failed, was stopped, or left a scratch
 * buffer (it asked mpmp_out() for another size): what run_item and the
 * loop of mpmp__chunk_run do for it, and the next item's context as the
 * chunk's again (mpmp_out() set out_size to the size asked for). */
__attribute__((noinline)) static void fixed_rare(const mpmp__chunk_hdr_t *h,
                                                 const mpmp__task_entry_t *t,
                                                 uint32_t i, int rc,
                                                 mpmp_ctx_t *ctx,
                                                 fail_buf_t *f,
                                                 uint32_t seq0) {
  if (ctx->errmsg == NULL &&
      (rc < 0 || atomic_load_explicit(&mpmp__rt.stop_seq,
                                      memory_order_acquire) != seq0))
    mpmp__item_verdict(t, rc, ctx);
  if (ctx->errmsg != NULL) {
    add_failure(f, h->first + i, MPMP_ETASK, ctx->errmsg);
    /* a failed item's result reads as zeros (pool.h), also when its task
     * wrote its slot before it failed or was cut short (the loop set
     * ctx->slot to item i's slot) */
    if (h->out_size > 0 && ctx->slot != NULL)
      memset(ctx->slot, 0, h->out_size);
  }
  if (ctx->out != NULL || ctx->errmsg != NULL)
    mpmp__ctx_fini(ctx);
  ctx->out_size = h->out_size;
}

/* The item loop of a task registered by hand (mpmp_task_register): task.h's
 * loop, calling the task through its pointer. */
static uint32_t loop_by_call(struct mpmp__loop *l, uint32_t i,
                             mpmp_ctx_t *ctx, mpmp_task_fn fn) {
  return mpmp__loop_items(l, i, ctx, fn);
}

/*
 * The items of a fixed-size map's chunk: item i's argument at in + i *
 * in_size, its result in its slot of `res` (a buffer of this worker's, or
 * the block of a zero-copy map: chunktask.c). This is the per-item hot path
 * of every map (with x*x items the loop cost more than the items), so it
 * is task.h's loop: MPMP_TASK's own, with the task inlined, or the same
 * loop calling a task registered by hand. Each rare item (a failure, an
 * error code, a scratch buffer, a stop request since the chunk began)
 * returns from the loop, is handled here out of line, and the loop goes
 * on from the next. A crash report finds the item from the context's
 * slot (mpmp__crash_item).
 */
void mpmp__chunk_items(const mpmp__chunk_hdr_t *h, const mpmp__task_entry_t *t,
                       const char *in, char *res, mpmp_ctx_t *ctx,
                       fail_buf_t *f, uint32_t seq0) {
  _Static_assert(sizeof(uint32_t) == sizeof mpmp__rt.stop_seq,
                 "the loop reads the stop count as a plain word");
  const uint32_t count = h->count;
  struct mpmp__loop l = {
      .in = in, .res = res, .in_size = h->in_size, .out_size = h->out_size,
      .first = h->first, .stop_seq = (const uint32_t *)&mpmp__rt.stop_seq,
      .seq0 = seq0, .count = count};
  ctx->slot = res;
  mpmp__par.crash_ctx = ctx;
  atomic_store(&mpmp__par.crash_loop, &l);
  for (uint32_t i = 0;
       (i = t->loop != NULL ? t->loop(&l, i, ctx)
                            : loop_by_call(&l, i, ctx, t->fn)) < count;
       i++)
    fixed_rare(h, t, i, l.rc, ctx, f, seq0);
  atomic_store(&mpmp__par.crash_loop, NULL);
}

/* A chunk of a job that was stopped before the chunk began: none of its
 * items runs, and the main rank hears that none ran (count 0). */
static int chunk_stopped(const mpmp__chunk_hdr_t *h) {
  mpmp__rt_t *rt = &mpmp__rt;
  uint64_t id = mpmp__chunk_stop_id(h);
  if (!mpmp__stop_named(rt->stop, id))
    return 0;
  mpmp__chunk_done_t *d = mpmp__malloc(sizeof *d);
  if (d == NULL)
    check_send(mpmp__err(MPMP_ENOMEM, "out of memory"));
  *d = (mpmp__chunk_done_t){.job = h->job, .first = h->first,
                            .skipped = h->count};
  mpmp__obj_fence(); /* as send_done */
  check_send(mpmp__send_nb(0, MPMP__TAG_CHUNK_DONE, d, sizeof *d));
  return 1;
}

static void host_failure(void *arg, uint64_t index, int code,
                         const char *msg) {
  add_failure(arg, index, code, msg);
}

/* An isolated chunk: its items run in this worker's task host. If no
 * host can run them, every item fails, saying why, and its slot reads as
 * zeros (`res` is a reused buffer: it holds an earlier chunk's results).
 * A worker that has no host (its fork server died, or never started)
 * fails them with MPMP__NOHOST_CODE (proto.h): not runs of theirs, the
 * main rank deals them again to a worker that has one. */
static void run_isolated(const mpmp__chunk_hdr_t *h, const char *in,
                         char *res, void **own, size_t *own_len,
                         fail_buf_t *f) {
  size_t had = f->len; /* the records before this chunk's */
  char why[300];
  /* (a request the host took itself is run out, its host dead or not) */
  int nohost = !mpmp__host_ready() && !mpmp__host_adopting();
  int rc = !nohost
               ? mpmp__host_run(h, in, res, own, own_len, host_failure, f)
               : mpmp__err(MPMP_ENOTSUP, "%s",
                           mpmp__host_none_why(why, sizeof why));
  if (rc == 0)
    return;
  if (res != NULL)
    memset(res, 0, (size_t)h->count * h->out_size);
  char msg[700];
  snprintf(msg, sizeof msg, "isolated item not run on rank %d: %s",
           mpmp__net.rank, mpmp_errmsg());
  /* (host.c reports the items a dying fork server cut short itself; one
   * that dies where it does not look still leaves no host here) */
  int code = nohost || !mpmp__host_ready() ? MPMP__NOHOST_CODE : rc;
  /* the items the host reported before it gave up keep their own record
   * (a crash, a timeout) and get no second one */
  size_t told = f->len;
  for (uint32_t i = 0; i < h->count; i++)
    if (!recorded(f, had, told, h->first + i))
      add_failure(f, h->first + i,
                  code == MPMP__NOHOST_CODE && i == 0 ? code + (int)h->tried
                                                      : code,
                  msg);
}

/* A chunk of variable-size items (proto.h: mpmp__chunk_hdr_t.var): each
 * item's result is what its task wrote with mpmp_out() (up to out_max
 * bytes), appended to one buffer behind the results' sizes, which goes
 * back inline. Results past 1 GiB in all fail their items: one message
 * carries them. An isolated chunk's results come from its host the same
 * way (host.c builds them with these). */
#define VAR_RESULTS_MAX ((size_t)INT32_MAX / 2)

int mpmp__var_res_init(mpmp__var_res_t *r, uint32_t count) {
  size_t sizes = (size_t)count * sizeof(uint64_t);
  *r = (mpmp__var_res_t){.used = sizes, .cap = sizes + 4096};
  if ((r->buf = mpmp__calloc(1, r->cap)) == NULL)
    return mpmp__err(MPMP_ENOMEM, "out of memory for the results of %u "
                     "items", count);
  return 0;
}

const char *mpmp__var_res_put(mpmp__var_res_t *r, uint32_t i,
                              const void *data, size_t size) {
  if (size > VAR_RESULTS_MAX - r->used)
    return "the results of this chunk pass 1 GiB in all: give a smaller "
           "chunksize";
  if (r->used + size > r->cap) {
    size_t want = (r->used + size) * 2;
    char *p = mpmp__realloc(r->buf, want);
    if (p == NULL)
      return "out of memory for the chunk's results on the worker";
    r->buf = p;
    r->cap = want;
  }
  uint64_t size64 = size;
  memcpy(r->buf + (size_t)i * sizeof size64, &size64, sizeof size64);
  if (size > 0)
    memcpy(r->buf + r->used, data, size);
  r->used += size;
  return NULL;
}

static void run_var(const mpmp__chunk_hdr_t *h, const mpmp__task_entry_t *t,
                    size_t len, uint32_t seq0) {
  const uint64_t *off = (const uint64_t *)(h + 1);
  size_t head = ((size_t)h->count + 1) * sizeof *off;
  if (len < sizeof *h + head || off[h->count] > len - sizeof *h - head) {
    MPMP__ERROR("bad chunk of %u variable-size items", h->count);
    mpmp__abort_job();
  }
  const char *data = (const char *)(h + 1) + head;
  mpmp__var_res_t res;
  fail_buf_t f = {0};
  if (mpmp__var_res_init(&res, h->count) < 0) {
    MPMP__ERROR("%s", mpmp_errmsg());
    mpmp__abort_job();
  }
  mpmp_ctx_t ctx = {.out_max = h->out_max, .stoppable = 1,
                    .id = mpmp__chunk_stop_id(h)};
  mpmp__crash_chunk(t->name, h->base, 0);
  for (uint32_t i = 0; i < h->count; i++) {
    atomic_store_explicit(&mpmp__par.crash_item, h->first + i + 1,
                          memory_order_relaxed);
    ctx.arg = data + off[i];
    ctx.arg_size = (size_t)(off[i + 1] - off[i]);
    ctx.out_size = 0; /* (the buffer stays for the next item's result: */
    if (ctx.out != NULL) /* its guard where an item that asks none ends) */
      mpmp__guard_set(ctx.out);
    run_item(h, t, i, &ctx, &f, seq0);
    const char *why = ctx.errmsg == NULL
                          ? mpmp__var_res_put(&res, i, ctx.out, ctx.out_size)
                          : NULL;
    if (why != NULL)
      add_failure(&f, h->first + i, MPMP_ETASK, why);
    if (ctx.errmsg != NULL)
      mpmp__ctx_fini(&ctx); /* the rare case: keep no scratch buffer */
  }
  atomic_store(&mpmp__par.crash_task, NULL);
  mpmp__free(ctx.out);
  send_done(h, res.buf, res.used, &f, NULL);
  mpmp__free(res.buf);
  mpmp__free(f.data);
}

void mpmp__chunk_run(const void *buf, size_t len) {
  const mpmp__chunk_hdr_t *h = buf;
  /* The snapshot first: a stop request after it changes the count, one
   * before it is seen by chunk_stopped. */
  uint32_t seq0 = atomic_load(&mpmp__rt.stop_seq);
  if (!mpmp__host_adopting() && chunk_stopped(h))
    return;
  const mpmp__task_entry_t *t = mpmp__task_get(h->task);
  if (t != NULL && !h->isolate && (h->shm || t->kind == MPMP__TASK_CHUNK)) {
    mpmp__chunk_direct(h, t, len, seq0); /* chunktask.c */
    return;
  }
  if (h->var && !h->isolate && t != NULL) { /* isolated: as any chunk */
    double t0 = mpmp__rt.trace ? mpmp__trace_begin(MPMP__TRACE_CHUNK, h->task,
                                                   h->first, h->count, NULL)
                               : 0;
    run_var(h, t, len, seq0);
    if (mpmp__rt.trace)
      mpmp__trace_add(MPMP__TRACE_CHUNK, h->task, h->first, h->count, NULL,
                      t0, mpmp__trace_clock());
    return;
  }
  size_t fixed = (size_t)h->count * h->out_size;
  fail_buf_t f = {0};
  struct mpmp__result_buf *out = fixed ? result_buf(fixed) : NULL;
  char *res = out ? out->buf : NULL, *own = NULL;
  if ((fixed && out == NULL) || t == NULL ||
      len < sizeof *h + (size_t)h->count * h->in_size) {
    MPMP__ERROR("cannot run a chunk of %u items (out of memory or bad "
                "request)", h->count);
    mpmp__abort_job();
  }
  const char *in = (const char *)(h + 1);
  mpmp_ctx_t ctx = {.arg_size = h->in_size, .out_size = h->out_size,
                    .out_max = h->out_size ? h->out_size : h->out_max,
                    .stoppable = 1,
                    .id = mpmp__chunk_stop_id(h)};
  double t0 = mpmp__rt.trace ? mpmp__trace_begin(MPMP__TRACE_CHUNK, h->task,
                                                 h->first, h->count, NULL)
                             : 0;
  if (h->isolate) {
    void *iso_own = NULL;
    size_t own_len = 0;
    run_isolated(h, in, res, &iso_own, &own_len, &f);
    if (iso_own != NULL) {
      own = res = iso_own;
      fixed = own_len;
    }
  }
  mpmp__crash_chunk(t->name, h->base, out == NULL);
  if (out != NULL && !h->isolate) { /* a map's chunk */
    mpmp__chunk_items(h, t, in, res, &ctx, &f, seq0);
    mpmp__chunk_guard(h, t, res, &f);
  }
  for (uint32_t i = 0; out == NULL && !h->isolate && i < h->count; i++) {
    atomic_store_explicit(&mpmp__par.crash_item, h->first + i + 1,
                          memory_order_relaxed);
    ctx.arg = in + (size_t)i * h->in_size; /* (no slot: results of any
                                              size, up to out_max) */
    run_item(h, t, i, &ctx, &f, seq0);
    if (!fixed && ctx.errmsg == NULL && ctx.out_size > 0) {
      own = ctx.out; /* apply: one result of its own size; keep it */
      res = own;
      fixed = ctx.out_size;
      ctx.out = NULL;
    }
    if (ctx.out != NULL || ctx.errmsg != NULL)
      mpmp__ctx_fini(&ctx); /* the rare case: a failure or a scratch buffer */
  }
  atomic_store(&mpmp__par.crash_task, NULL);
  if (mpmp__rt.trace)
    mpmp__trace_add(MPMP__TRACE_CHUNK, h->task, h->first, h->count, NULL, t0,
                    mpmp__trace_clock());
  send_done(h, res, fixed, &f, own ? NULL : out);
  mpmp__free(own);
  mpmp__free(f.data);
}

/* A map's results that the main rank never took (chunk_fini gave up on
 * them after 10 s): their send may still read the buffer, so it is left
 * allocated, but a later mpmp_init() must not wait for that request. */
void mpmp__chunk_forget_sends(void) {
  for (int i = 0; i < MPMP__RESULT_BUFS; i++) {
    struct mpmp__result_buf *b = &mpmp__par.chunk_out[i];
    if (b->busy)
      mpmp__send_forget(&b->req);
    if (b->busy)
      *b = (struct mpmp__result_buf){.req = MPI_REQUEST_NULL};
  }
}

/* chunktask.c's way to the failure records, the reused result buffers and
 * the reply of a chunk. */
void mpmp__chunk_fail(void *f, uint64_t index, int code, const char *msg) {
  add_failure(f, index, code, msg);
}

struct mpmp__result_buf *mpmp__chunk_out(size_t size) {
  return result_buf(size);
}

void mpmp__chunk_reply(const mpmp__chunk_hdr_t *h, const void *res,
                       size_t res_len, const mpmp__fail_buf_t *f,
                       struct mpmp__result_buf *out) {
  send_done(h, res, res_len, f, out);
}
