/* A shared object freed while a call waits in it (issue 13): the waiter
 * returns MPMP_EBADF within a second, also with MPMP_FOREVER, with a
 * message saying the object was freed while it waited, and nothing it does
 * touches the objects created afterwards in the freed memory; once it has
 * left, the node heap is back where it was (the block was given back).
 *
 * Every blocking call of every kind, in five ways: the waiter is a Process
 * body or a second thread of the main rank, and the objects live on the
 * main rank's node ("main home") or were made by a Process body on a
 * worker ("worker home"). On 2 pseudo-nodes the first worker (rank 1) is
 * on the other node, so a body waiting on a main-home object and a thread
 * waiting on a worker-home object wait remotely (in a helper thread of the
 * home node), and the main rank frees worker-home objects remotely. The
 * fifth way waits with a timeout (2 s) instead: a waiter that is not
 * woken by the free wakes at its deadline in memory that new objects have
 * taken, where it would take or add an item, a unit, a message. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpitest.h"

/* Sanitizer builds run slower: their runs set MPMP_TIMEOUT_SCALE. */
static double scale(void) {
  const char *s = getenv("MPMP_TIMEOUT_SCALE");
  double k = s != NULL ? atof(s) : 1.0;
  return k >= 1.0 ? k : 1.0;
}

/* ---- the cases ------------------------------------------------------------- */

enum {
  C_QGET,   /* get on an empty Queue */
  C_SQGET,  /* get on an empty SimpleQueue */
  C_QPUT,   /* put on a full Queue */
  C_QJOIN,  /* join on a JoinableQueue with an unfinished item */
  C_LOCK,   /* acquire of a held Lock */
  C_RLOCK,  /* acquire of a held RLock */
  C_VLOCK,  /* acquire of the held lock of a Value (the Value is freed) */
  C_SEM,    /* acquire of a Semaphore at 0 */
  C_EVENT,  /* wait on a clear Event */
  C_COND,   /* wait on a Condition with its own lock */
  C_UCOND,  /* wait on a Condition with a Lock of the user's */
  C_BARRIER,/* wait on a Barrier of 2 */
  C_PRECV,  /* recv on an empty Pipe */
  C_PSEND,  /* send on a full one-way Pipe */
  C_PPOLL,  /* poll on an empty Pipe */
  C_WAIT1,  /* connection.wait() on one Queue */
  C_WAIT2,  /* connection.wait() on a Pipe end and a Queue (the end goes) */
  C_COUNT
};

#define QITEM 64
#define PMSG (8u << 10)

typedef struct objs {
  int kind;
  mpmp_queue_t q;
  mpmp_lock_t lock;   /* C_LOCK, C_RLOCK; the Value's lock for C_VLOCK; the
                         Condition's Lock for C_UCOND */
  mpmp_value_t v;
  mpmp_sem_t sem;
  mpmp_event_t ev;
  mpmp_cond_t cond;
  mpmp_barrier_t bar;
  mpmp_conn_t c1, c2;
  mpmp_heap_info_t before; /* the home node's heap before they were made */
} objs_t;

/* Make the objects of a case, in the state where its call waits. */
static int make_objs(int kind, objs_t *o, char *err) {
  char item[QITEM] = {0};
  memset(o, 0, sizeof *o);
  o->kind = kind;
  EXPECT_EQ(mpmp_heap_info(&o->before), 0);
  switch (kind) {
  case C_QGET: case C_WAIT1:
    EXPECT_EQ(mpmp_queue_create(&o->q, 4, QITEM), 0);
    break;
  case C_SQGET:
    EXPECT_EQ(mpmp_simple_queue_create(&o->q, QITEM), 0);
    break;
  case C_QPUT:
    EXPECT_EQ(mpmp_queue_create(&o->q, 1, QITEM), 0);
    EXPECT_EQ(mpmp_queue_put(o->q, item, 8, 0), 0);
    break;
  case C_QJOIN:
    EXPECT_EQ(mpmp_joinable_queue_create(&o->q, 4, QITEM), 0);
    EXPECT_EQ(mpmp_queue_put(o->q, item, 8, 0), 0);
    break;
  case C_LOCK: case C_RLOCK:
    EXPECT_EQ((kind == C_LOCK ? mpmp_lock_create : mpmp_rlock_create)(&o->lock),
          0);
    break;
  case C_VLOCK:
    EXPECT_EQ(mpmp_value_create(&o->v, MPMP_INT64, NULL, 1), 0);
    EXPECT_EQ(mpmp_value_get_lock(o->v, &o->lock), 0);
    break;
  case C_SEM:
    EXPECT_EQ(mpmp_sem_create(&o->sem, 0), 0);
    break;
  case C_EVENT:
    EXPECT_EQ(mpmp_event_create(&o->ev), 0);
    break;
  case C_COND:
    EXPECT_EQ(mpmp_cond_create(&o->cond, NULL), 0);
    break;
  case C_UCOND:
    EXPECT_EQ(mpmp_lock_create(&o->lock), 0);
    EXPECT_EQ(mpmp_cond_create(&o->cond, &o->lock), 0);
    break;
  case C_BARRIER:
    EXPECT_EQ(mpmp_barrier_create(&o->bar, 2), 0);
    break;
  case C_PRECV: case C_PPOLL:
    EXPECT_EQ(mpmp_pipe_create(&o->c1, &o->c2, 1), 0);
    break;
  case C_PSEND: {
    /* one-way: c2 sends; fill it until a try does not fit */
    static char msg[PMSG];
    int rc, n = 0;
    EXPECT_EQ(mpmp_pipe_create(&o->c1, &o->c2, 0), 0);
    while ((rc = mpmp_conn_send(o->c2, msg, sizeof msg, 0)) == 0 && n < 64)
      n++;
    EXPECT_EQ(rc, MPMP_ETIMEDOUT);
    break;
  }
  case C_WAIT2:
    EXPECT_EQ(mpmp_pipe_create(&o->c1, &o->c2, 1), 0);
    EXPECT_EQ(mpmp_queue_create(&o->q, 4, QITEM), 0);
    break;
  }
  return 0;
}

static int maker(mpmp_ctx_t *ctx) {
  const int *kind = mpmp_arg(ctx, NULL);
  objs_t *o = mpmp_out(ctx, sizeof *o);
  BODY(ctx, make_objs, *kind, o);
  return 0;
}
MPMP_TASK(maker);

/* ---- the waiter ------------------------------------------------------------ */

typedef struct warg {
  objs_t o;
  mpmp_value_t ready; /* 1 once the waiter is about to block */
  double timeout;     /* of its call: MPMP_FOREVER, or TIMED_S */
} warg_t;

#define TIMED_S 2.0

typedef struct wres {
  int rc;        /* the blocking call's */
  int after[2];  /* what the waiter checks afterwards (see block) */
  char msg[400]; /* its message */
} wres_t;

/* The blocking call of the case. */
static int block_call(const objs_t *o, double tmo) {
  char buf[QITEM] = {0}; /* a put sends its bytes: set them */
  size_t n;
  switch (o->kind) {
  case C_QGET: case C_SQGET:
    return mpmp_queue_get(o->q, buf, sizeof buf, &n, tmo);
  case C_QPUT:
    return mpmp_queue_put(o->q, buf, 8, tmo);
  case C_QJOIN:
    return mpmp_queue_join(o->q, tmo);
  case C_LOCK: case C_RLOCK: case C_VLOCK:
    return mpmp_lock_acquire(o->lock, tmo);
  case C_SEM:
    return mpmp_sem_acquire(o->sem, tmo);
  case C_EVENT:
    return mpmp_event_wait(o->ev, tmo);
  case C_COND: case C_UCOND:
    return mpmp_cond_wait(o->cond, tmo);
  case C_BARRIER:
    return mpmp_barrier_wait(o->bar, tmo);
  case C_PRECV:
    return mpmp_conn_recv(o->c1, buf, sizeof buf, &n, tmo);
  case C_PSEND: {
    static char msg[PMSG];
    return mpmp_conn_send(o->c2, msg, sizeof msg, tmo);
  }
  case C_PPOLL:
    return mpmp_conn_poll(o->c1, tmo);
  case C_WAIT1:
    return mpmp_conn_wait(&o->q.ref, 1, tmo, NULL);
  case C_WAIT2: {
    mpmp_ref_t refs[2] = {o->c1.ref, o->q.ref};
    return mpmp_conn_wait(refs, 2, tmo, NULL);
  }
  }
  return -999;
}

/* Block (a Condition's waiter holds its lock first), then record. After a
 * Condition's wait: with the user's Lock, the wait took it back
 * (after[0] = is_mine, after[1] = its release); with its own lock, that
 * went with it (after[0] = the release, MPMP_EBADF). */
static void block(const warg_t *w, wres_t *r) {
  const objs_t *o = &w->o;
  memset(r, 0, sizeof *r);
  if ((o->kind == C_COND || o->kind == C_UCOND) &&
      (r->rc = mpmp_cond_acquire(o->cond, 10)) < 0) {
    snprintf(r->msg, sizeof r->msg, "cond_acquire: %s", mpmp_errmsg());
    mpmp_value_set_i64(w->ready, 1);
    return;
  }
  mpmp_value_set_i64(w->ready, 1);
  r->rc = block_call(o, w->timeout);
  snprintf(r->msg, sizeof r->msg, "%s", mpmp_errmsg());
  if (o->kind == C_UCOND) {
    r->after[0] = mpmp_lock_is_mine(o->lock);
    r->after[1] = mpmp_lock_release(o->lock);
  } else if (o->kind == C_COND) {
    r->after[0] = mpmp_cond_release(o->cond);
  }
}

static int waiter_body(mpmp_ctx_t *ctx) {
  const warg_t *w = mpmp_arg(ctx, NULL);
  block(w, mpmp_out(ctx, sizeof(wres_t)));
  return 0;
}
MPMP_TASK(waiter_body);

typedef struct wthread {
  pthread_t th;
  warg_t arg;
  wres_t res;
  _Atomic int done;
} wthread_t;

static void *waiter_thread(void *p) {
  wthread_t *t = p;
  block(&t->arg, &t->res);
  atomic_store(&t->done, 1);
  return NULL;
}

/* ---- the objects made in the freed memory ---------------------------------- */

#define NREUSE 16

/* How many: a SimpleQueue takes 1 MiB, a Pipe 128 KiB of the 16 MiB. */
static int nreuse(int kind) {
  return kind == C_SQGET ? 4 : kind >= C_PRECV ? 8 : NREUSE;
}

/* Make objects of the case's kind and shape (the freed block is the first
 * the heap hands out for them), mark each, give any stray waiter time to
 * act (until `settle`, 0.1 s at least), and check the marks: nothing
 * taken, nothing added. Then free them, and check that the node heap is
 * back to `before`: every block of the case, the freed one included, went
 * back. */
static int reuse(const objs_t *x, double settle, char *err) {
  objs_t r[NREUSE];
  char err2[ERRLEN];
  const int nr = nreuse(x->kind);
  for (int i = 0; i < nr; i++) {
    int64_t mark = 1000 + i;
    char buf[QITEM];
    size_t n = 0;
    objs_t *o = &r[i];
    if (make_objs(x->kind, o, err2) < 0)
      EXPECT_FAIL("remaking: %.400s", err2);
    switch (x->kind) {
    case C_QGET: case C_SQGET: case C_WAIT1: case C_WAIT2: case C_QJOIN:
      EXPECT_EQ(mpmp_queue_put(o->q, &mark, sizeof mark, 0), 0);
      break;
    case C_QPUT: /* full: take the setup's item, put the mark */
      EXPECT_EQ(mpmp_queue_get(o->q, buf, sizeof buf, &n, 0), 0);
      EXPECT_EQ(mpmp_queue_put(o->q, &mark, sizeof mark, 0), 0);
      break;
    case C_LOCK: case C_RLOCK: case C_VLOCK:
      if (x->kind == C_VLOCK)
        EXPECT_EQ(mpmp_value_set_i64(o->v, mark), 0);
      EXPECT_EQ(mpmp_lock_acquire(o->lock, 0), 0);
      break;
    case C_SEM:
      EXPECT_EQ(mpmp_sem_release(o->sem), 0);
      break;
    case C_COND: case C_UCOND:
      EXPECT_EQ(mpmp_cond_acquire(o->cond, 0), 0);
      break;
    case C_PRECV: case C_PPOLL:
      EXPECT_EQ(mpmp_conn_send(o->c2, &mark, sizeof mark, 0), 0);
      break;
    case C_PSEND: /* full: take one message, so a stray send would fit */
      EXPECT_EQ(mpmp_conn_recv(o->c1, NULL, 0, &n, 0), MPMP_EMSGSIZE);
      {
        static char msg[PMSG];
        EXPECT_EQ(mpmp_conn_recv(o->c1, msg, sizeof msg, &n, 0), 0);
      }
      break;
    default:
      break;
    }
  }
  double left = settle - test_now();
  test_sleep(left > 0.1 * scale() ? left : 0.1 * scale());
  for (int i = 0; i < nr; i++) {
    int64_t mark = 1000 + i, got = 0;
    size_t n = 0;
    objs_t *o = &r[i];
    switch (x->kind) {
    case C_QGET: case C_SQGET: case C_WAIT1: case C_WAIT2: case C_QJOIN:
    case C_QPUT:
      EXPECT_EQ(mpmp_queue_qsize(o->q), x->kind == C_QJOIN ? 2 : 1);
      if (x->kind == C_QJOIN) /* the setup's item first */
        EXPECT_EQ(mpmp_queue_get(o->q, &got, sizeof got, &n, 0), 0);
      EXPECT_EQ(mpmp_queue_get(o->q, &got, sizeof got, &n, 0), 0);
      EXPECT_EQ(got, mark);
      break;
    case C_LOCK: case C_RLOCK: case C_VLOCK:
      EXPECT_EQ(mpmp_lock_is_mine(o->lock), 1);
      EXPECT_EQ(mpmp_lock_release(o->lock), 0);
      if (x->kind == C_VLOCK) {
        EXPECT_EQ(mpmp_value_get_i64(o->v, &got), 0);
        EXPECT_EQ(got, mark);
      }
      break;
    case C_SEM:
      EXPECT_EQ(mpmp_sem_value(o->sem), 1);
      break;
    case C_EVENT:
      EXPECT_EQ(mpmp_event_is_set(o->ev), 0);
      break;
    case C_COND: case C_UCOND:
      EXPECT_EQ(mpmp_cond_notify_all(o->cond), 0);
      EXPECT_EQ(mpmp_cond_release(o->cond), 0);
      break;
    case C_BARRIER:
      EXPECT_EQ(mpmp_barrier_n_waiting(o->bar), 0);
      EXPECT_EQ(mpmp_barrier_broken(o->bar), 0);
      break;
    case C_PRECV: case C_PPOLL:
      EXPECT_EQ(mpmp_conn_poll(o->c1, 0), 1);
      EXPECT_EQ(mpmp_conn_recv(o->c1, &got, sizeof got, &n, 0), 0);
      EXPECT_EQ(got, mark);
      break;
    case C_PSEND: /* still full but for the message taken */
      {
        static char msg[PMSG];
        EXPECT_EQ(mpmp_conn_send(o->c2, msg, sizeof msg, 0), 0);
        EXPECT_EQ(mpmp_conn_send(o->c2, msg, sizeof msg, 0), MPMP_ETIMEDOUT);
      }
      break;
    default:
      break;
    }
  }
  for (int i = 0; i < nr; i++) {
    objs_t *o = &r[i];
    switch (x->kind) {
    case C_QGET: case C_SQGET: case C_WAIT1: case C_QPUT: case C_QJOIN:
      EXPECT_EQ(mpmp_queue_free(o->q), 0);
      break;
    case C_WAIT2:
      EXPECT_EQ(mpmp_queue_free(o->q), 0);
      EXPECT_EQ(mpmp_pipe_free(o->c1, o->c2), 0);
      break;
    case C_LOCK: case C_RLOCK:
      EXPECT_EQ(mpmp_lock_free(o->lock), 0);
      break;
    case C_VLOCK:
      EXPECT_EQ(mpmp_value_free(o->v), 0);
      break;
    case C_SEM:
      EXPECT_EQ(mpmp_sem_free(o->sem), 0);
      break;
    case C_EVENT:
      EXPECT_EQ(mpmp_event_free(o->ev), 0);
      break;
    case C_COND:
      EXPECT_EQ(mpmp_cond_free(o->cond), 0);
      break;
    case C_UCOND:
      EXPECT_EQ(mpmp_cond_free(o->cond), 0);
      EXPECT_EQ(mpmp_lock_free(o->lock), 0);
      break;
    case C_BARRIER:
      EXPECT_EQ(mpmp_barrier_free(o->bar), 0);
      break;
    default:
      EXPECT_EQ(mpmp_pipe_free(o->c1, o->c2), 0);
      break;
    }
  }
  mpmp_heap_info_t now;
  EXPECT_EQ(mpmp_heap_info(&now), 0);
  EXPECT_EQ(now.objects, x->before.objects);
  EXPECT_EQ(now.in_use, x->before.in_use);
  return 0;
}

static int reuse_body(mpmp_ctx_t *ctx) {
  const objs_t *x = mpmp_arg(ctx, NULL);
  BODY(ctx, reuse, x, 0);
  return 0;
}
MPMP_TASK(reuse_body);

/* ---- the test -------------------------------------------------------------- */

typedef struct wstate {
  int kind;
  int home;   /* 0: the main rank makes the objects; 1: a body does */
  int thread; /* 0: a body waits; 1: a thread of the main rank */
  int timed;  /* the waiter's timeout: 0 MPMP_FOREVER, 1 TIMED_S */
  const char *name;
} wstate_t;

/* Join (30 s at most), copy out its result, destroy. */
static void join_result(mpmp_process_t *p, void *out, size_t size) {
  if (out != NULL) {
    size_t got = 0;
    const void *data = join_result_within(p, T_OUT, &got);
    EQ(got, size);
    memcpy(out, data, size);
    OK(mpmp_process_destroy(p));
  } else {
    join_destroy(p);
  }
}

/* The one object of the case that the main rank frees under the waiter.
 * Of a pipe, the waiter's end: a free of the other end closes the pipe
 * for it, which a send reports as a broken pipe (MPMP_EPIPE). */
static int free_it(const objs_t *o) {
  switch (o->kind) {
  case C_QGET: case C_SQGET: case C_QPUT: case C_QJOIN: case C_WAIT1:
    return mpmp_queue_free(o->q);
  case C_LOCK: case C_RLOCK:
    return mpmp_lock_free(o->lock);
  case C_VLOCK:
    return mpmp_value_free(o->v);
  case C_SEM:
    return mpmp_sem_free(o->sem);
  case C_EVENT:
    return mpmp_event_free(o->ev);
  case C_COND: case C_UCOND:
    return mpmp_cond_free(o->cond);
  case C_BARRIER:
    return mpmp_barrier_free(o->bar);
  case C_PSEND:
    return mpmp_conn_free(o->c2);
  default:
    return mpmp_conn_free(o->c1);
  }
}

/* What is left of the case once the waiter is done. */
static void free_rest(const objs_t *o) {
  if (o->kind == C_UCOND)
    EQ(mpmp_lock_free(o->lock), 0);
  if (o->kind >= C_PRECV && o->kind != C_WAIT1)
    EQ(mpmp_conn_free(o->kind == C_PSEND ? o->c1 : o->c2), 0);
  if (o->kind == C_WAIT2)
    EQ(mpmp_queue_free(o->q), 0);
}

/* The free did not end the wait: a waiter still inside would hang the job
 * at finalize, so end it now, saying first what it did to the objects made
 * in the freed memory meanwhile, looked at after its deadline (`settle`). */
_Noreturn static void stuck(const wstate_t *st, const objs_t *o,
                            mpmp_value_t ready, double settle) {
  char err[ERRLEN] = "";
  if (st->home == 0) {
    mpmp_value_free(ready);
    free_rest(o);
    if (reuse(o, settle, err) == 0)
      snprintf(err, sizeof err, "the new objects are intact");
  }
  fprintf(stderr, "test_free_waiters: %s: the waiter did not return within "
          "%.1f s of the free; then: %s (the job ends)\n", st->name,
          st->timed ? scale() : 5 * scale(), err);
  fflush(stderr);
  _exit(3);
}

static void run_case(void **state) {
  const wstate_t *st = *state;
  const double tmax = scale(); /* the waiter returns within this */
  warg_t w;
  memset(&w, 0, sizeof w);
  /* the objects, in their waiting state */
  if (st->home == 0) {
    RUN(make_objs, st->kind, &w.o);
  } else {
    join_result(start_process(maker, &st->kind, sizeof st->kind), &w.o, sizeof w.o);
  }
  /* (made after the heap's `before`, and freed before reuse() compares) */
  mpmp_value_t ready;
  EQ(mpmp_value_create(&ready, MPMP_INT64, NULL, 0), 0);
  w.ready = ready;
  w.timeout = st->timed ? TIMED_S * scale() : MPMP_FOREVER;
  /* the main rank holds the lock that the waiter wants */
  if (st->kind == C_LOCK || st->kind == C_RLOCK || st->kind == C_VLOCK)
    EQ(mpmp_lock_acquire(w.o.lock, 10), 0);

  /* the waiter blocks */
  mpmp_process_t *p = NULL;
  static wthread_t t;
  memset(&t, 0, sizeof t);
  if (st->thread) {
    t.arg = w;
    EQ(pthread_create(&t.th, NULL, waiter_thread, &t), 0);
  } else {
    p = start_process(waiter_body, &w, sizeof w);
  }
  int64_t x = 0;
  for (double end = test_now() + 30; x == 0 && test_now() < end;) {
    EQ(mpmp_value_get_i64(ready, &x), 0);
    test_sleep(0.001);
  }
  EQ(x, 1);
  /* its deadline, if it has one, and when to look at the new objects */
  const double settle = test_now() + (st->timed ? w.timeout + 0.5 * scale()
                                                : 0);
  test_sleep(0.3 * scale()); /* asleep by now (remote: in a helper) */

  /* the free, and the waiter's return (a timed one: before its deadline) */
  double t0 = test_now(), wait_s = st->timed ? tmax : 5 * scale();
  EQ(free_it(&w.o), 0);
  wres_t r;
  double took;
  if (st->thread) {
    while (!atomic_load(&t.done) && test_now() - t0 < wait_s)
      test_sleep(0.001);
    took = test_now() - t0;
    if (!atomic_load(&t.done))
      stuck(st, &w.o, ready, settle);
    EQ(pthread_join(t.th, NULL), 0);
    r = t.res;
  } else {
    int rc = mpmp_process_join(p, wait_s);
    took = test_now() - t0;
    if (rc == MPMP_ETIMEDOUT)
      stuck(st, &w.o, ready, settle);
    EQ(rc, 0);
    join_result(p, &r, sizeof r);
  }
  if (r.rc != MPMP_EBADF || strstr(r.msg, "freed while this call waited") ==
                                NULL)
    fail_msg("the waiter returned %d %s (%s), expected MPMP_EBADF saying the "
             "object was freed while it waited", r.rc, test_code_name(r.rc),
             r.msg);
  if (took > tmax)
    fail_msg("the waiter returned %.3f s after the free, not within %.1f s",
             took, tmax);
  if (st->kind == C_UCOND) { /* it took the user's Lock back */
    EQ(r.after[0], 1);
    EQ(r.after[1], 0);
  } else if (st->kind == C_COND) { /* its own lock went with it */
    EQ(r.after[0], MPMP_EBADF);
  }
  free_rest(&w.o);
  EQ(mpmp_value_free(ready), 0);

  /* new objects in the freed memory stay untouched; the heap is back */
  if (st->home == 0) {
    RUN(reuse, &w.o, 0);
  } else {
    join_result(start_process(reuse_body, &w.o, sizeof w.o), NULL, 0);
  }
}

/* The free lands anywhere on the waiter's way in, from before its call to
 * deep asleep (a random 0 to 300 us after it started): whatever it
 * caught, the waiter returns MPMP_EBADF ("stale handle" when the free came
 * first), never sleeps on, and the heap is back where it was. A thread of
 * the main rank waits, on this node's objects. */
static void free_races_with_waits(void **state) {
  static const int kinds[] = {C_QGET, C_QPUT, C_QJOIN, C_LOCK, C_SEM,
                              C_EVENT, C_COND, C_BARRIER, C_PRECV, C_PSEND,
                              C_PPOLL};
  const int rounds = 60;
  unsigned seed = 4242;
  (void)state;
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
    for (int round = 0; round < rounds; round++) {
      static wthread_t t;
      memset(&t, 0, sizeof t);
      RUN(make_objs, kinds[k], &t.arg.o);
      EQ(mpmp_value_create(&t.arg.ready, MPMP_INT64, NULL, 0), 0);
      t.arg.timeout = MPMP_FOREVER;
      if (kinds[k] == C_LOCK)
        EQ(mpmp_lock_acquire(t.arg.o.lock, 10), 0);
      EQ(pthread_create(&t.th, NULL, waiter_thread, &t), 0);
      seed = seed * 1103515245u + 12345u;
      for (double end = test_now() + (seed >> 16) % 300 * 1e-6;
           test_now() < end;)
        ;
      double t0 = test_now();
      EQ(free_it(&t.arg.o), 0);
      while (!atomic_load(&t.done) && test_now() - t0 < 5 * scale())
        test_sleep(0.0002);
      if (!atomic_load(&t.done)) {
        fprintf(stderr, "test_free_waiters: kind %d, round %d: the waiter "
                "slept through the free (the job ends)\n", kinds[k], round);
        _exit(3);
      }
      EQ(pthread_join(t.th, NULL), 0);
      if (t.res.rc != MPMP_EBADF)
        fail_msg("kind %d, round %d: the waiter returned %d %s (%s)",
                 kinds[k], round, t.res.rc, test_code_name(t.res.rc), t.res.msg);
      free_rest(&t.arg.o);
      EQ(mpmp_value_free(t.arg.ready), 0);
      mpmp_heap_info_t now;
      EQ(mpmp_heap_info(&now), 0);
      EQ(now.objects, t.arg.o.before.objects);
      EQ(now.in_use, t.arg.o.before.in_use);
    }
  }
}

/* The harness's watchdog: a test that hangs ends the job with its name. */
static int arm(void **state) {
  watchdog_start(((const wstate_t *)*state)->name, (unsigned)(60 * scale()));
  return 0;
}

static int disarm(void **state) {
  (void)state;
  watchdog_stop();
  return 0;
}

#define T1(k, home, thread, timed, name)                                   \
  {name, run_case, arm, disarm, &(wstate_t){k, home, thread, timed, name}}
#define T4(k, what)                                                          \
  T1(k, 0, 0, 0, what ": body waits, main home"),                           \
  T1(k, 0, 1, 0, what ": thread waits, main home"),                         \
  T1(k, 1, 0, 0, what ": body waits, worker home"),                         \
  T1(k, 1, 1, 0, what ": thread waits, worker home"),                       \
  T1(k, 0, 0, 1, what ": body waits with a timeout, main home")

static const struct CMUnitTest tests[] = {
    T4(C_QGET, "queue_get"),     T4(C_SQGET, "simple_queue_get"),
    T4(C_QPUT, "queue_put"),     T4(C_QJOIN, "queue_join"),
    T4(C_LOCK, "lock_acquire"),  T4(C_RLOCK, "rlock_acquire"),
    T4(C_VLOCK, "value_lock_acquire"),
    T4(C_SEM, "sem_acquire"),    T4(C_EVENT, "event_wait"),
    T4(C_COND, "cond_wait"),     T4(C_UCOND, "cond_wait_user_lock"),
    T4(C_BARRIER, "barrier_wait"),
    T4(C_PRECV, "pipe_recv"),    T4(C_PSEND, "pipe_send"),
    T4(C_PPOLL, "pipe_poll"),    T4(C_WAIT1, "conn_wait_one"),
    T4(C_WAIT2, "conn_wait_two"),
    {"free_races_with_waits", free_races_with_waits, arm, disarm,
     &(wstate_t){0, 0, 1, 0, "free_races_with_waits"}},
};

MPMP_TEST_MAIN(tests)
