/*
 * The worker rank's service loop: wait (sleeping) for a body to run, run it
 * in the rank's main thread, report how it ended, repeat until the main
 * rank shuts the job down. Messages for the rank that arrive while a body
 * runs are handled by the agent thread (wait.c).
 */
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "parallel.h"
#include "objects.h"
#include "proto.h"

typedef struct mpmp__job {
  struct mpmp__job *next;
  mpmp__run_hdr_t *hdr; /* the received message: header, then argument */
  size_t len;
  int tag;              /* RUN_PROC or RUN_CHUNK */
  int reused;           /* hdr may be one of in_bufs (job_free) */
} mpmp__job_t;

static void enqueue(int src, int tag, void *buf, size_t len, size_t min,
                    int reused) {
  mpmp__job_t *job = mpmp__malloc(sizeof *job);
  if (job == NULL || len < min) {
    MPMP__ERROR("bad or unallocatable request from rank %d", src);
    mpmp__abort_job();
  }
  *job = (mpmp__job_t){NULL, buf, len, tag, reused};
  pthread_mutex_lock(&mpmp__par.lock);
  if (mpmp__par.jobq_tail)
    mpmp__par.jobq_tail->next = job;
  else
    mpmp__par.jobq_head = job;
  mpmp__par.jobq_tail = job;
  atomic_fetch_add_explicit(&mpmp__par.jobq_len, 1, memory_order_release);
  pthread_mutex_unlock(&mpmp__par.lock);
  mpmp__ring_rank(mpmp__net.rank); /* the service thread may sleep */
}

static void on_run(int src, void *buf, size_t len) {
  enqueue(src, MPMP__TAG_RUN_PROC, buf, len, sizeof(mpmp__run_hdr_t), 0);
}

/*
 * Reused buffers for the chunks whose items come as their own message: a
 * fresh buffer per chunk faulted in every page of it again (a 4 MiB chunk
 * is 1 000 faults, 12.5 us each on a VM: more than its items' time). A
 * worker holds at most three such chunks at once (two dealt, and the one
 * whose results went back before its buffer is given back here), so four
 * buffers serve every map; they only grow, up to IN_KEEP_MAX each (a
 * bigger chunk, only from an explicit chunksize, gets a buffer of its own
 * and frees it). Taken by whichever thread receives (the agent or a
 * waiter), given back by the thread that ran the chunk: mpmp__par.lock.
 */
#define IN_BUFS 4
#define IN_KEEP_MAX ((size_t)64 << 20)

static struct in_buf {
  char *buf;
  size_t cap;
  int used;
} in_bufs[IN_BUFS];

static char *in_buf_get(size_t size) {
  struct in_buf *b = NULL;
  pthread_mutex_lock(&mpmp__par.lock);
  for (int i = 0; size <= IN_KEEP_MAX && i < IN_BUFS; i++)
    if (!in_bufs[i].used &&
        (b == NULL || (b->cap < size ? in_bufs[i].cap > b->cap
                                     : in_bufs[i].cap >= size &&
                                           in_bufs[i].cap < b->cap)))
      b = &in_bufs[i]; /* the smallest that fits, else the biggest */
  if (b != NULL)
    b->used = 1;
  pthread_mutex_unlock(&mpmp__par.lock);
  if (b == NULL)
    return mpmp__malloc(size);
  if (b->cap < size) { /* grow: nothing in it to keep */
    mpmp__free(b->buf);
    b->cap = 0;
    if ((b->buf = mpmp__malloc_big(size)) != NULL)
      b->cap = size;
  }
  return b->buf; /* NULL (out of memory): the slot stays taken, empty */
}

/* Give back a job and its message: a reused buffer stays, any other is
 * freed (one that in_buf_get had to allocate, all four being in use, too).
 * Only a job marked reused takes the lock: a task, or a chunk of one item,
 * pays nothing here. */
static void job_free(mpmp__job_t *job) {
  void *buf = job->hdr;
  if (job->reused) {
    pthread_mutex_lock(&mpmp__par.lock);
    for (int i = 0; i < IN_BUFS; i++)
      if (in_bufs[i].used && in_bufs[i].buf == buf) {
        in_bufs[i].used = 0;
        buf = NULL;
        break;
      }
    pthread_mutex_unlock(&mpmp__par.lock);
  }
  mpmp__free(buf);
  mpmp__free(job);
}

/* At teardown: free the buffers not in use (one still held by a job that
 * never ran is that job's, left as the job is). */
static void in_bufs_fini(void) {
  for (int i = 0; i < IN_BUFS; i++) {
    if (!in_bufs[i].used)
      mpmp__free(in_bufs[i].buf);
    in_bufs[i] = (struct in_buf){0};
  }
}

/* The chunk's items follow its header as their own message (sent from the
 * caller's memory): take them now, into one (reused) buffer behind the
 * header. Only the thread holding the progress lock probes, and MPI keeps
 * one sender's messages in order, so the next CHUNK_INPUT from src is
 * this. */
static void on_chunk(int src, void *buf, size_t len) {
  mpmp__chunk_hdr_t *h = buf;
  size_t bytes = len == sizeof *h ? (size_t)h->count * h->in_size : 0;
  int reused = bytes > 0 && sizeof *h + bytes <= IN_KEEP_MAX;
  if (bytes > 0) {
    char *job = in_buf_get(sizeof *h + bytes);
    if (job == NULL) {
      MPMP__ERROR("out of memory for a chunk of %zu bytes", bytes);
      mpmp__abort_job();
    }
    memcpy(job, h, sizeof *h);
    mpmp__free(buf);
    MPMP__MPI_CHECK(MPI_Recv(job + sizeof *h, (int)bytes, MPI_BYTE, src,
                             MPMP__TAG_CHUNK_INPUT, mpmp__net.data_comm,
                             MPI_STATUS_IGNORE),
                    "MPI_Recv of a chunk's items");
    buf = job;
    len = sizeof *h + bytes;
  }
  enqueue(src, MPMP__TAG_RUN_CHUNK, buf, len, sizeof(mpmp__chunk_hdr_t),
          reused);
}

/* A stop request. One for all of a pool's jobs keeps the highest id
 * named (ids only grow, so every older job stays stopped however many
 * were in flight); one for a single job or process joins the last
 * MPMP__STOPS_KEPT of them (mpmp__stop_one). */
static void on_terminate(int src, void *buf, size_t len) {
  mpmp__rt_t *rt = &mpmp__rt;
  mpmp__term_hdr_t t;
  (void)src;
  if (len >= sizeof t) {
    memcpy(&t, buf, sizeof t);
    if (t.upto) {
      uint64_t old = atomic_load(&rt->stop->upto);
      while (old < t.id &&
             !atomic_compare_exchange_weak(&rt->stop->upto, &old, t.id))
        ;
    } else {
      mpmp__stop_one(rt->stop, t.id);
    }
    atomic_fetch_add(&rt->stop_seq, 1);
  }
  mpmp__free(buf);
}

/* Take out of the queue the first job that match(job, arg) names, under
 * the lock every taker holds (pop_job, pop_helpable, a revoke): NULL if
 * none. */
static mpmp__job_t *take_queued(int (*match)(const mpmp__job_t *, const void *),
                                const void *arg) {
  pthread_mutex_lock(&mpmp__par.lock);
  mpmp__job_t *prev = NULL, *job = mpmp__par.jobq_head;
  while (job != NULL && !match(job, arg)) {
    prev = job;
    job = job->next;
  }
  if (job != NULL) {
    if (prev)
      prev->next = job->next;
    else
      mpmp__par.jobq_head = job->next;
    if (mpmp__par.jobq_tail == job)
      mpmp__par.jobq_tail = prev;
    job->next = NULL;
    atomic_fetch_sub_explicit(&mpmp__par.jobq_len, 1, memory_order_relaxed);
  }
  pthread_mutex_unlock(&mpmp__par.lock);
  return job;
}

/* The chunk a revoke names (on_revoke). */
static int is_chunk(const mpmp__job_t *job, const void *arg) {
  const mpmp__revoke_t *r = arg;
  const mpmp__chunk_hdr_t *h = (const mpmp__chunk_hdr_t *)job->hdr;
  return job->tag == MPMP__TAG_RUN_CHUNK && h->job == r->job &&
         h->first == r->first;
}

/*
 * The main rank wants back a chunk it queued here behind a running one:
 * another worker of the pool is idle, with nothing else to run (pool.c,
 * "Taking back a queued chunk"). Taken out of the queue under the lock
 * that every taker holds (the service loop's pop_job, a waiting task's
 * pop_helpable), so it either is still queued and never runs here, or
 * was taken and runs: no chunk is run twice nor lost. One that a task
 * host took from the rings itself (host.c's loan) is not in the queue,
 * and stays the host's. Either way an answer goes back, so that the main
 * rank knows the revoke is over.
 */
static void on_revoke(int src, void *buf, size_t len) {
  mpmp__revoke_t r;
  (void)src;
  if (len < sizeof r) {
    MPMP__ERROR("a bad revoke request (%zu bytes)", len);
    mpmp__free(buf);
    return;
  }
  memcpy(&r, buf, sizeof r);
  mpmp__free(buf);
  mpmp__job_t *found = take_queued(is_chunk, &r);
  mpmp__chunk_done_t *d = mpmp__malloc(sizeof *d);
  if (d == NULL) { /* the main rank would wait for ever on the chunk */
    MPMP__ERROR("out of memory answering a revoke of a chunk");
    mpmp__abort_job();
  }
  *d = (mpmp__chunk_done_t){
      .job = r.job, .first = r.first,
      .count = found ? ((const mpmp__chunk_hdr_t *)found->hdr)->count : 0,
      .revoked = found ? MPMP__REVOKE_RETURNED : MPMP__REVOKE_KEPT};
  if (found != NULL)
    job_free(found);
  if (mpmp__send_nb(0, MPMP__TAG_CHUNK_DONE, d, sizeof *d) < 0) {
    MPMP__ERROR("could not answer a revoke of a chunk: %s", mpmp_errmsg());
    mpmp__abort_job();
  }
}

/* ---- nested submission: a task's side ----------------------------------------
 * A task that submits to an executor by ref (executor.c) sends its item to
 * the main rank, whose pool runs it like any other; the answer fills the
 * task's future here. While the task waits on it, this worker is free to
 * the pool (secede) and runs the pool's chunks dealt to it meanwhile in
 * the wait (help-while-waiting, Dask's secede/rejoin), so a pool of one
 * worker whose task waits on its own sub-task still completes. */

typedef struct nest_pending {
  struct nest_pending *next;
  uint64_t req;
  mpmp_async_t *j;
} nest_pending_t;

/* Futures waiting for their answer, the next request id, the last cancel
 * answer (mpmp__par.lock); how deep this thread is in pool chunks. */
static nest_pending_t *nest_head;
static uint64_t nest_next_req;
static uint64_t cancel_req;
static int cancel_ans;
static _Atomic uint64_t cancel_seq;
static int chunk_depth;

static void on_nest_rep(int src, void *buf, size_t len) {
  const mpmp__nest_hdr_t *h = buf;
  (void)src;
  if (len < sizeof *h || len - sizeof *h < h->msglen ||
      len - sizeof *h - h->msglen < h->len) {
    MPMP__ERROR("a bad answer to a sub-task (%zu bytes)", len);
    mpmp__free(buf);
    return;
  }
  pthread_mutex_lock(&mpmp__par.lock);
  if (h->kind == MPMP__NEST_CANCEL) {
    cancel_req = h->req;
    cancel_ans = h->code;
    atomic_fetch_add(&cancel_seq, 1);
    pthread_mutex_unlock(&mpmp__par.lock);
    mpmp__free(buf);
    mpmp__ring_rank(mpmp__net.rank);
    return;
  }
  mpmp_async_t *j = NULL;
  for (nest_pending_t **pp = &nest_head; *pp; pp = &(*pp)->next)
    if ((*pp)->req == h->req) {
      nest_pending_t *p = *pp;
      *pp = p->next;
      j = p->j;
      mpmp__free(p);
      break;
    }
  pthread_mutex_unlock(&mpmp__par.lock);
  if (j == NULL) { /* not ours (any more): nothing waits for it */
    mpmp__free(buf);
    return;
  }
  const char *msg = (const char *)(h + 1);
  mpmp__async_remote_done(j, h->code, h->rank, msg, h->msglen, buf,
                          msg + h->msglen, h->len);
  mpmp__ring_rank(mpmp__net.rank); /* the task's wait sleeps */
}

static int nest_send(int kind, uint64_t req, uint64_t token, int task,
                     const void *arg, size_t len) {
  mpmp__nest_hdr_t h = {.req = req, .token = token, .kind = kind,
                        .task = task, .len = len};
  mpmp__obj_fence(); /* the task's puts before what it submits */
  return mpmp__send(0, MPMP__TAG_NEST, &h, sizeof h, arg, len);
}

int mpmp__nest_submit(uint64_t token, int task, const void *arg,
                      size_t arg_size, mpmp_async_t **res) {
  nest_pending_t *p = mpmp__malloc(sizeof *p);
  pthread_mutex_lock(&mpmp__par.lock);
  uint64_t req = ++nest_next_req;
  pthread_mutex_unlock(&mpmp__par.lock);
  mpmp_async_t *j = p ? mpmp__async_remote_new(req) : NULL;
  if (j == NULL) {
    mpmp__free(p);
    return mpmp__err(MPMP_ENOMEM, "mpmp_executor_submit: out of memory");
  }
  *p = (nest_pending_t){.req = req, .j = j};
  pthread_mutex_lock(&mpmp__par.lock);
  p->next = nest_head;
  nest_head = p;
  pthread_mutex_unlock(&mpmp__par.lock);
  int rc = nest_send(MPMP__NEST_SUBMIT, req, token, task, arg, arg_size);
  if (rc < 0) {
    pthread_mutex_lock(&mpmp__par.lock);
    for (nest_pending_t **pp = &nest_head; *pp; pp = &(*pp)->next)
      if (*pp == p) {
        *pp = p->next;
        break;
      }
    pthread_mutex_unlock(&mpmp__par.lock);
    mpmp__free(p);
    mpmp_async_destroy(j);
    return rc;
  }
  *res = j;
  return 0;
}

/* A chunk queued here that a waiting task's worker runs in its wait: one
 * that keeps no reused result buffer (as pool.c's helpable deals them). */
static int helpable(const mpmp__job_t *job) {
  const mpmp__chunk_hdr_t *h = (const mpmp__chunk_hdr_t *)job->hdr;
  return job->tag == MPMP__TAG_RUN_CHUNK && !h->isolate && h->out_size == 0 &&
         !h->var;
}

typedef struct nest_wait {
  mpmp_async_t *j;
  int help;
} nest_wait_t;

static int nest_ready(void *arg) {
  nest_wait_t *w = arg;
  if (mpmp__async_done(w->j))
    return 1;
  if (!w->help)
    return 0;
  int work = 0;
  pthread_mutex_lock(&mpmp__par.lock);
  for (mpmp__job_t *job = mpmp__par.jobq_head; job && !work; job = job->next)
    work = helpable(job);
  pthread_mutex_unlock(&mpmp__par.lock);
  return work;
}

static int helpable_job(const mpmp__job_t *job, const void *unused) {
  (void)unused;
  return helpable(job);
}

static mpmp__job_t *pop_helpable(void) {
  return take_queued(helpable_job, NULL);
}

/* Run a chunk inside a waiting task; the crash report names the waiting
 * task again afterwards. */
static void run_nested(mpmp__job_t *job) {
  const char *task = atomic_load(&mpmp__par.crash_task);
  uint64_t item = atomic_load(&mpmp__par.crash_item);
  uint64_t base = atomic_load(&mpmp__par.crash_base);
  uint32_t apply = atomic_load(&mpmp__par.crash_apply);
  const struct mpmp__loop *loop = atomic_load(&mpmp__par.crash_loop);
  const mpmp_ctx_t *ctx = mpmp__par.crash_ctx;
  atomic_store(&mpmp__par.crash_loop, NULL); /* the nested chunk's items
                                               are its own */
  chunk_depth++;
  mpmp__chunk_run(job->hdr, job->len);
  chunk_depth--;
  mpmp__par.crash_ctx = ctx;
  atomic_store(&mpmp__par.crash_loop, loop);
  mpmp__crash_chunk(task, base, (int)apply);
  atomic_store(&mpmp__par.crash_item, item);
  job_free(job);
}

/* How long a wait that helped past its deadline still waits for the
 * answer of the work it ran (a round trip through the main rank; a loaded
 * host or another node: milliseconds). */
#define NEST_ANSWER_GRACE_S 0.2

int mpmp__nest_wait(mpmp_async_t *j, double timeout, double deadline,
                    const char *fn) {
  /* A pool's task (in this thread, not a task host) gives its slot back
   * while it waits; a Process body has no slot, and runs nothing else. */
  nest_wait_t w = {j, mpmp__net.rank != 0 && chunk_depth > 0 &&
                          mpmp__host_worker_pid() == 0};
  int rc = 0;
  if (mpmp__async_done(j))
    return 0;
  if (w.help && (rc = nest_send(MPMP__NEST_SECEDE, 0, 0, 0, NULL, 0)) < 0)
    return rc;
  for (;;) {
    rc = mpmp__wait_until(nest_ready, &w, deadline);
    if (mpmp__async_done(j)) {
      rc = 0;
      break;
    }
    if (rc < 0)
      break;
    mpmp__job_t *job = w.help ? pop_helpable() : NULL;
    if (job == NULL)
      continue;
    run_nested(job);
    /* The work may have outlasted the deadline, and it may have been the
     * awaited sub-task itself, whose answer comes back through the main
     * rank (a round trip): wait for that answer, not for more work,
     * before saying the sub-task is not done. */
    if (!mpmp__async_done(j) && mpmp__now() >= deadline) {
      nest_wait_t answer = {j, 0};
      (void)mpmp__wait_until(nest_ready, &answer,
                             mpmp__now() + NEST_ANSWER_GRACE_S);
      /* The timeout is seen between tasks (executor.h): the wait took
       * the next queued task at once, for as long as the main rank dealt
       * more to this seceded worker, and a wait of 0 s ran 5 s of them. */
      if (!mpmp__async_done(j)) {
        rc = MPMP_ETIMEDOUT;
        break;
      }
    }
  }
  if (w.help) {
    int src = nest_send(MPMP__NEST_REJOIN, 0, 0, 0, NULL, 0);
    if (rc == 0)
      rc = src;
  }
  if (rc == MPMP_ETIMEDOUT)
    return mpmp__err(rc, "%s: timed out: the sub-task is not done after %g "
                     "s; it keeps running", fn, timeout);
  return rc;
}

typedef struct cancel_wait {
  uint64_t seq;
  mpmp_async_t *j;
} cancel_wait_t;

static int cancel_answered(void *arg) {
  cancel_wait_t *c = arg;
  return atomic_load(&cancel_seq) != c->seq;
}

/* Ask the main rank to cancel the sub-task (it can while no worker took
 * it) and wait for its answer: 1 cancelled, 0 not. The answer comes after
 * the future's own (DONE, ECANCELED), on the same channel. */
int mpmp__nest_cancel(mpmp_async_t *j) {
  if (mpmp__async_done(j))
    return mpmp__async_cancelled(j);
  pthread_mutex_lock(&mpmp__par.lock);
  uint64_t req = 0;
  for (nest_pending_t *p = nest_head; p != NULL; p = p->next)
    if (p->j == j)
      req = p->req;
  pthread_mutex_unlock(&mpmp__par.lock);
  if (req == 0)
    return mpmp__async_cancelled(j);
  /* Its answer is a message: inside a done-callback (a handler) none can
   * be taken while we wait, and the wait sat out its 60 s, holding this
   * rank's progress, to say ETIMEDOUT while the sub-task was cancelled. */
  int rc = mpmp__may_wait("mpmp_future_cancel");
  if (rc < 0)
    return rc;
  for (;;) {
    cancel_wait_t c = {atomic_load(&cancel_seq), j};
    rc = nest_send(MPMP__NEST_CANCEL, req, 0, 0, NULL, 0);
    if (rc < 0)
      return rc;
    /* the main rank answers at once (a handler): a long wait is a job
     * that ends anyway */
    rc = mpmp__wait_until(cancel_answered, &c, mpmp__deadline(60));
    pthread_mutex_lock(&mpmp__par.lock);
    int mine = cancel_req == req, ans = cancel_ans;
    pthread_mutex_unlock(&mpmp__par.lock);
    if (rc < 0)
      return mpmp__err(rc, "mpmp_future_cancel: the main rank did not "
                       "answer in 60 s");
    if (mine)
      return ans == 1 ? 1 : mpmp__async_cancelled(j);
  }
}

static void on_shutdown(int src, void *buf, size_t len) {
  (void)src, (void)len;
  mpmp__free(buf);
  atomic_store(&mpmp__par.shutdown, 1);
  mpmp__ring_rank(mpmp__net.rank);
}

/* A run of mpmp leaves the queue's ends, the shutdown flag and the crash
 * report's record behind; a later mpmp_init() starts from nothing. */
int mpmp__worker_init(void) {
  mpmp__par_t *par = &mpmp__par;
  nest_head = NULL; /* a future left unanswered by an earlier run: leaked */
  chunk_depth = 0;
  atomic_store(&par->shutdown, 0);
  par->jobq_head = par->jobq_tail = NULL;
  atomic_store(&par->jobq_len, 0);
  par->current = NULL;
  atomic_store(&par->crash_task, NULL);
  atomic_store(&par->crash_item, 0);
  atomic_store(&par->crash_base, 0);
  par->chunk_next = 0;
  return 0;
}

void mpmp__worker_setup(int is_main) {
  if (is_main)
    return;
  mpmp__crash_report_install();
  mpmp__set_handler(MPMP__TAG_RUN_PROC, on_run);
  mpmp__set_handler(MPMP__TAG_RUN_CHUNK, on_chunk);
  mpmp__set_handler(MPMP__TAG_TERMINATE, on_terminate);
  mpmp__set_handler(MPMP__TAG_SHUTDOWN, on_shutdown);
  mpmp__set_handler(MPMP__TAG_NEST_REP, on_nest_rep);
  mpmp__set_handler(MPMP__TAG_REVOKE, on_revoke);
}

int mpmp__worker_has_work(void) {
  return atomic_load_explicit(&mpmp__par.jobq_len, memory_order_acquire) > 0 ||
         atomic_load(&mpmp__par.shutdown);
}

static int have_work(void *arg) {
  (void)arg;
  return mpmp__worker_has_work();
}

static mpmp__job_t *pop_job(void) {
  pthread_mutex_lock(&mpmp__par.lock);
  mpmp__job_t *job = mpmp__par.jobq_head;
  if (job) {
    mpmp__par.jobq_head = job->next;
    if (mpmp__par.jobq_head == NULL)
      mpmp__par.jobq_tail = NULL;
    atomic_fetch_sub_explicit(&mpmp__par.jobq_len, 1, memory_order_relaxed);
  }
  pthread_mutex_unlock(&mpmp__par.lock);
  return job;
}

/* How the body ended, as Python would report it. */
static int exit_code(int rc, mpmp_ctx_t *ctx, const char *task) {
  if (ctx->errmsg == NULL && rc < 0)
    mpmp_fail(ctx, "task '%s' returned %d (%s) without a message", task, rc,
              mpmp_strerror(rc));
  if (ctx->errmsg != NULL)
    return MPMP_EXIT_FAILED;
  if (mpmp_should_stop(ctx))
    return MPMP_EXIT_TERMINATED;
  return rc;
}

static void report_done(const mpmp__run_hdr_t *h, int exitcode,
                        mpmp_ctx_t *ctx) {
  size_t msglen = ctx->errmsg ? strlen(ctx->errmsg) : 0;
  mpmp__done_hdr_t d = {.id = h->id, .exitcode = exitcode,
                        .msglen = (uint32_t)msglen,
                        .resultlen = ctx->errmsg ? 0 : ctx->out_size};
  size_t plen = msglen + d.resultlen;
  char *payload = mpmp__malloc(plen);
  if (payload == NULL) { /* keep the message: drop the result */
    d.resultlen = 0;
    plen = msglen;
    payload = ctx->errmsg;
  } else {
    memcpy(payload, ctx->errmsg ? ctx->errmsg : "", msglen);
    if (d.resultlen)
      memcpy(payload + msglen, ctx->out, d.resultlen);
  }
  mpmp__obj_fence(); /* the body's puts are in their queues: join sees them */
  int rc = mpmp__send(0, MPMP__TAG_PROC_DONE, &d, sizeof d, payload, plen);
  if (rc < 0) {
    MPMP__ERROR("could not report the end of process '%s': %s", h->name,
                mpmp_errmsg());
    mpmp__abort_job();
  }
  if (payload != ctx->errmsg)
    mpmp__free(payload);
}

typedef struct body_fail {
  mpmp_ctx_t *ctx;
  int code;
} body_fail_t;

static void body_failed(void *arg, uint64_t index, int code, const char *msg) {
  body_fail_t *bf = arg;
  (void)index;
  if (bf->ctx->errmsg == NULL) {
    bf->ctx->errmsg = mpmp__strdup(msg);
    bf->code = code;
  }
}

/* The body in this worker's task host; its exit code as Python's. */
static int run_isolated(const mpmp__run_hdr_t *h, size_t arg_size,
                        mpmp_ctx_t *ctx) {
  mpmp__chunk_hdr_t c = {.job = h->id, .count = 1, .task = h->task,
                         .isolate = 1, .in_size = arg_size,
                         .out_max = h->max_result};
  body_fail_t bf = {ctx, 0};
  void *out = NULL;
  size_t out_len = 0;
  int ret = 0, died = 0;
  char why[300];
  int rc = mpmp__host_ready()
               ? mpmp__host_body(&c, h, (const char *)(h + 1), &out, &out_len,
                                 body_failed, &bf, &ret, &died)
               : mpmp__err(MPMP_ENOTSUP, "%s",
                           mpmp__host_none_why(why, sizeof why));
  if (rc < 0) {
    mpmp_fail(ctx, "process '%s' did not run on rank %d: %s", h->name,
              mpmp__net.rank, mpmp_errmsg());
    return MPMP_EXIT_FAILED;
  }
  if (bf.code == MPMP_ECRASHED && died == 0 && h->pool_init == 0) {
    /* its host exited with status 0: the body called exit(0) or _exit(0),
     * Python's sys.exit(0), which ends a Process with exitcode 0. Not so
     * for an isolated pool's initializer: what it set up was to stay in
     * that host for the pool's tasks, and it would end every new host the
     * same way (each item then failing), so it fails the pool's create */
    mpmp__free(out);
    mpmp__free(ctx->errmsg);
    ctx->errmsg = NULL;
    return 0;
  }
  if (bf.code == MPMP_ECRASHED || bf.code == MPMP_ETIMEDOUT) {
    mpmp__free(out);
    return died != 0 ? died : MPMP_EXIT_FAILED;
  }
  if (ctx->errmsg != NULL && bf.code == MPMP_ETASK && mpmp__stopped(ctx)) {
    mpmp__free(ctx->errmsg); /* it returned when asked to: terminated, */
    ctx->errmsg = NULL;      /* with no error and its result, as in the */
    ctx->out = out;          /* worker */
    ctx->out_size = out_len;
    return MPMP_EXIT_TERMINATED;
  }
  if (ctx->errmsg != NULL) { /* mpmp_fail */
    mpmp__free(out);
    return MPMP_EXIT_FAILED;
  }
  ctx->out = out;
  ctx->out_size = out_len;
  return ret;
}

static void run_job(mpmp__job_t *job) {
  mpmp__rt_t *rt = &mpmp__rt;
  const mpmp__run_hdr_t *h = job->hdr;
  const mpmp__task_entry_t *task = mpmp__task_get(h->task);
  mpmp_ctx_t ctx = {.arg = h + 1, .arg_size = job->len - sizeof *h,
                    .out_max = h->max_result, .stoppable = 1,
                    .id = h->id};
  mpmp__par.current = job;
  mpmp_errmsg_clear(); /* a new process: no message of an earlier body's */
  /* A new process in Python's terms: locks an earlier body left held are
   * not this one's (object.c). */
  mpmp__owner_renew();
  mpmp__queue_forget_closed();
  atomic_store(&mpmp__par.crash_item, 0);
  atomic_store(&mpmp__par.crash_base, 0);
  atomic_store(&mpmp__par.crash_body, h->name);
  atomic_store(&mpmp__par.crash_task, task ? task->name : NULL);
  double t0 = rt->trace ? mpmp__trace_begin(MPMP__TRACE_BODY, h->task, h->id,
                                            0, h->name)
                        : 0;
  /* isolate 2: by default, where this worker has a task host */
  int isolated = task != NULL && (h->isolate == 1 ||
                                  (h->isolate == 2 && mpmp__host_ready()));
  int iso_code = 0;
  if (isolated) {
    atomic_store(&mpmp__par.crash_task, NULL); /* a crash is the host's */
    iso_code = run_isolated(h, job->len - sizeof *h, &ctx);
  }
  int rc = isolated ? 0
           : task   ? task->fn(&ctx)
                    : mpmp_fail(&ctx, "unknown task id %d", (int)h->task);
  if (!isolated && ctx.out != NULL)
    mpmp__out_check(&ctx);
  if (rt->trace)
    mpmp__trace_add(MPMP__TRACE_BODY, h->task, h->id, 0, h->name, t0,
                    mpmp__trace_clock());
  atomic_store(&mpmp__par.crash_task, NULL);
  /* And once more at its end: pool tasks that run on this thread later are
   * another process too. (A pool's tasks keep one owner between them, as
   * the tasks of one Python pool worker do; an initializer's locks are not
   * theirs, which is where mpmp differs.) */
  mpmp__owner_renew();
  mpmp__queue_forget_closed();
  int code = isolated ? iso_code : exit_code(rc, &ctx, task ? task->name : "?");
  mpmp__par.current = NULL;
  report_done(h, code, &ctx);
  mpmp__ctx_fini(&ctx);
}

void mpmp__worker_serve(void) {
  for (;;) {
    if (!have_work(NULL)) {
      /* Idle after an isolated chunk: its host takes the next ones
       * itself while this rank sleeps (host.c). */
      size_t len;
      void *taken = mpmp__host_lend(&len);
      if (taken != NULL) {
        mpmp__chunk_run(taken, len);
        mpmp__host_after_job(taken, 1);
        mpmp__free(taken);
        continue;
      }
    }
    mpmp__wait_until(have_work, NULL, mpmp__deadline(-1));
    mpmp__job_t *job = pop_job();
    if (job == NULL) {
      if (atomic_load(&mpmp__par.shutdown))
        break;
      continue;
    }
    if (job->tag == MPMP__TAG_RUN_CHUNK) {
      chunk_depth++; /* its tasks may wait on sub-tasks: they secede */
      mpmp__chunk_run(job->hdr, job->len);
      chunk_depth--;
    } else
      run_job(job);
    mpmp__host_after_job(job->hdr, job->tag == MPMP__TAG_RUN_CHUNK);
    job_free(job);
  }
  mpmp__chunk_fini();
}

/* Filled on any rank: a worker reports the body it runs now. */
MPMP_API int mpmp_current_process(mpmp_process_info_t *info) {
  int rc = mpmp__check_init("mpmp_current_process");
  if (rc < 0)
    return rc;
  if (info == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_current_process: info is NULL");
  memset(info, 0, sizeof *info);
  const mpmp__job_t *job = mpmp__par.current;
  const mpmp__run_hdr_t *body = mpmp__host_current(); /* in a task host */
  if (body == NULL && job != NULL && job->tag == MPMP__TAG_RUN_PROC)
    body = job->hdr;
  if (mpmp__net.rank == 0)
    snprintf(info->name, sizeof info->name, "MainProcess");
  else if (body != NULL)
    snprintf(info->name, sizeof info->name, "%s", body->name);
  else
    snprintf(info->name, sizeof info->name, "Worker-%d", mpmp__net.rank);
  info->daemon = body != NULL ? body->daemon : 0;
  /* In a task host: the worker rank's, as mpmp_process_pid() says */
  info->pid = mpmp__host_worker_pid() ? mpmp__host_worker_pid()
                                      : (int)getpid();
  info->rank = mpmp__net.rank;
  snprintf(info->node, sizeof info->node, "%s", mpmp__net.ranks[mpmp__net.rank].host);
  return 0;
}

/* ---- crash report ---------------------------------------------------------- */

/*
 * A task that crashes its worker cannot be recovered: an MPI rank that dies
 * takes the job with it (Open MPI ends every rank at once, so nothing
 * hangs). Before that happens, say which task and which item did it, in
 * one write(2).
 *
 * The handler runs in whatever state the task left the process: a task
 * that wrote past its buffer dies inside malloc with the arena's lock
 * held. So it does only what is async-signal-safe: format into the stack,
 * write(2), restore the default action and raise the signal again, so the
 * rank dies of it at once and mpirun ends the job. It does not chain to
 * the handler that was there before (Open MPI's backtrace printer), which
 * mallocs: it waited for ever on that lock, and the job hung.
 *
 * The signals: the faults, abort() and failed asserts (SIGABRT), a system
 * call refused by seccomp (SIGSYS) and a stray breakpoint (SIGTRAP; a
 * debugger sees it before any handler).
 */
static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL,
                                    SIGABRT, SIGSYS, SIGTRAP};
#define MPMP__NCRASH (sizeof crash_signals / sizeof crash_signals[0])
/* The handler's stack: a task that overflows its own stack is named too. */
#define MPMP__ALTSTACK ((size_t)64 << 10)

/* Append a decimal number; async-signal-safe (no stdio in a signal handler). */
static size_t put_num(char *b, size_t at, uint64_t v) {
  char tmp[24];
  size_t n = 0;
  do
    tmp[n++] = (char)('0' + v % 10);
  while ((v /= 10) > 0);
  while (n > 0)
    b[at++] = tmp[--n];
  return at;
}

static size_t put_str(char *b, size_t at, size_t cap, const char *s) {
  while (*s && at < cap)
    b[at++] = *s++;
  return at;
}

/* "[0002] ERROR: rank 2", like every other mpmp log line. */
static size_t put_head(char *b) {
  int rank = mpmp__net.rank;
  size_t at = put_str(b, 0, 8, "[");
  for (int d = 1000; d > 1 && rank < d; d /= 10)
    b[at++] = '0';
  at = put_num(b, at, (uint64_t)rank);
  at = put_str(b, at, 64, "] ERROR: rank ");
  return put_num(b, at, (uint64_t)rank);
}

/* "task 'name' on item 5", "task 'name' (an apply or a submit)", or
 * "task 'name' (the body of process 'P')" (a pool's initializer runs as
 * one: pool.c names it). */
static size_t put_task(char *b, size_t at, const char *task, uint64_t item) {
  uint32_t count = atomic_load(&mpmp__par.crash_count);
  at = put_str(b, at, 400, "task '");
  at = put_str(b, at, 400, task);
  if (item == 0) {
    const char *body = atomic_load(&mpmp__par.crash_body);
    if (body == NULL || body[0] == '\0')
      return put_str(b, at, 420, "' (a process body)");
    at = put_str(b, at, 420, "' (the body of process '");
    at = put_str(b, at, 486, body);
    return put_str(b, at, 488, "')");
  }
  if (atomic_load(&mpmp__par.crash_apply)) /* one call, no item */
    return put_str(b, at, 420, "' (an apply or a submit)");
  if (count > 1) { /* a chunk task: one call for the chunk's items */
    at = put_str(b, at, 420, "' on items ");
    at = put_num(b, at, item - 1);
    at = put_str(b, at, 420, " to ");
    return put_num(b, at, item - 2 + count);
  }
  at = put_str(b, at, 420, "' on item ");
  return put_num(b, at, item - 1);
}

/* The rank process itself (set at install): a child that a task forks
 * inherits the handlers below, and must neither say that the job ends
 * nor have its exit status changed (helper 59). */
static pid_t rank_pid;

static void on_crash(int sig) {
  char b[512];
  if (getpid() != rank_pid) /* a task's child: its own default death */
    mpmp__die_by(sig);
  const char *task = atomic_load(&mpmp__par.crash_task);
  uint64_t item = mpmp__crash_item();
  size_t at = put_head(b);
  at = put_str(b, at, 420, " crashed with signal ");
  at = put_num(b, at, (uint64_t)sig);
  at = put_str(b, at, 420, task ? " in " : " outside any task");
  if (task)
    at = put_task(b, at, task, item);
  at = put_str(b, at, sizeof b, ": the job ends now\n");
  ssize_t ignored = write(STDERR_FILENO, b, at);
  (void)ignored;
  /* raise the signal once more (unblocked: it may have come from
   * sigqueue while blocked) with its default action, and the rank dies
   * of it, with its core dump where one is wanted */
  mpmp__die_by(sig);
}

/*
 * exit() inside a task ends the rank without MPI_Finalize, and mpirun then
 * ends the job: say so, naming the task. The other exit handlers are
 * skipped (after stdio is flushed, as exit() would): Open MPI's and the
 * program's own would tear down a runtime that the agent thread is still
 * using, and could hang instead of ending.
 *
 * exit(0) leaves the rank with status 1: the job did not finish its work,
 * and its launcher must not report success. (Open MPI's mpirun fails a job
 * whose rank exits without MPI_Finalize whatever the status; MPICH's
 * mpiexec, in about one run of three here, exited with 0.)
 */
static void on_task_exit(int status, void *arg) {
  (void)arg;
  const char *task = atomic_load(&mpmp__par.crash_task);
  if (task != NULL && getpid() != rank_pid) {
    /* a child a task forked, ending with exit(): its status as it gave
     * it, and none of the rank's exit handlers (Open MPI's would tear
     * down what the rank still uses) */
    fflush(NULL);
    _exit(status);
  }
  if (task == NULL || mpmp__net.rank == 0)
    return; /* the worker's own end (or the main rank): nothing to say */
  char b[512];
  size_t at = put_head(b);
  at = put_str(b, at, 420, ": ");
  at = put_task(b, at, task, mpmp__crash_item());
  at = put_str(b, at, 440, " called exit(");
  if (status < 0)
    at = put_str(b, at, 440, "-");
  at = put_num(b, at, status < 0 ? 0 - (uint64_t)status : (uint64_t)status);
  at = put_str(b, at, sizeof b, "): the job ends now\n");
  fflush(NULL);
  ssize_t ignored = write(STDERR_FILENO, b, at);
  (void)ignored;
  _exit(status != 0 ? status : 1);
}

void mpmp__crash_report_install(void) {
  static int exit_hooked, stack_set;
  /* (held here too, so that a leak checker sees it in use) */
  static void *alt_stack;
  rank_pid = getpid();
  if (!exit_hooked) /* once per process: mpmp_init may run again */
    exit_hooked = on_exit(on_task_exit, NULL) == 0;
  /* Tasks run in this thread (the worker's service loop): give it a stack
   * for the handler, kept for the process's life. */
  if (!stack_set) {
    if (alt_stack == NULL)
      alt_stack = mpmp__malloc(MPMP__ALTSTACK);
    stack_t ss = {.ss_sp = alt_stack, .ss_size = MPMP__ALTSTACK};
    stack_set = ss.ss_sp != NULL && sigaltstack(&ss, NULL) == 0;
  }
  if (mpmp__par.crash_old == NULL) /* installed once per run */
    mpmp__par.crash_old = mpmp__calloc(MPMP__NCRASH, sizeof(struct sigaction));
  for (size_t i = 0; i < MPMP__NCRASH; i++) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_crash;
    /* NODEFER: a fault inside the handler finds the default action (it
     * was reset on entry) and ends the rank, instead of blocking. */
    sa.sa_flags = SA_RESETHAND | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(crash_signals[i], &sa,
              mpmp__par.crash_old ? &mpmp__par.crash_old[i] : NULL);
  }
}

/* At teardown: give the signals back to the handlers that were there
 * before (the program's, Open MPI's), so that mpmp's report does not
 * outlive its run, and a later mpmp_init() saves those again, not ours. */
static void crash_report_remove(void) {
  if (mpmp__par.crash_old == NULL)
    return;
  for (size_t i = 0; i < MPMP__NCRASH; i++)
    sigaction(crash_signals[i], &mpmp__par.crash_old[i], NULL);
  mpmp__free(mpmp__par.crash_old);
  mpmp__par.crash_old = NULL;
}

void mpmp__worker_fini(void) {
  mpmp__host_stop();
  mpmp__host_end_strays();
  mpmp__chunk_forget_sends();
  crash_report_remove();
  in_bufs_fini();
}
