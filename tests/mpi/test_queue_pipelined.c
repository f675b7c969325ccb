/* Pipelined puts to a queue of another node (object.c, "Pipelined puts"):
 * a put to an unbounded queue of another node does not wait for the home
 * node, and yet what a user checks still holds: every item arrives, in
 * each producer's order; a put happens before what the producer does next
 * (an Event set, its end, a put to another queue, a get); a failure the
 * home node meets later (the queue was closed) is reported by the next
 * put, with the count of items not delivered; an item too big is refused
 * at once. The same for adds to a Value or Array whose old value nobody
 * asked for (pipelined too): all made, before the adder's next call, and
 * a free reported by the next add. And for sends on a pipe end whose pipe
 * lives on another node (pipelined while the room its node reported
 * lasts): every message, in order, past the ring's size many times, with
 * two senders on one end, and a close reported by the next send.
 *
 * Runs on 1 node (where every put is local: the same checks must hold)
 * and on 2 and 3 pseudo-nodes, where the producers' bodies run on another
 * node than the main rank, which makes the queues. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queue_common.h"

#define N 5000 /* items per producer: many batches */

typedef struct pargs {
  place_t where;
  mpmp_queue_t q, q2; /* q2: a second queue (alternating puts) */
  mpmp_event_t ev;     /* set after the puts (or not used) */
  mpmp_sem_t sem;      /* M_BOUNDED_SIGNAL: released after them */
  mpmp_queue_t ready, go;
  mpmp_value_t v, v2;  /* adds: an INT64 Value and an INT32 one */
  mpmp_value_t v3;     /* stores, and v += 1 under its lock */
  mpmp_array_t arr;    /* adds: an INT16 Array of 8 */
  mpmp_conn_t out;     /* sends: the sending end of a one-way pipe */
  mpmp_conn_t in;      /* its receiving end (M_OWN_CLOSE) */
  int mode;
  int anywhere; /* 1: runs wherever it was started (no placement) */
  int id;       /* sends: this sender's number */
  char mark[64]; /* M_BOUNDED_STUCK: a file it makes after its checks */
  mpmp_dict_t d; /* M_DICT: its "done" is set after the puts */
} pargs_t;

enum {
  M_PUT_RETURN, M_PUT_EVENT, M_ALTERNATE, M_CLOSED, M_BIG, M_OWN_GET,
  M_ADDS, M_ADD_FREED, M_SENDS, M_SEND_CLOSED, M_OWN_CLOSE, M_BOUNDED_FULL,
  M_BOUNDED_OVERRUN, M_BOUNDED_STUCK, M_BOUNDED_SIGNAL, M_CLOSE_RACE, M_SEND_RACE, M_DICT,
  M_HEAP_FULL, M_PUT_ABORT, M_MAKE_FAR
};

/* M_MAKE_FAR: a bounded queue and a pipe made on the body's node */
typedef struct far_objs {
  mpmp_queue_t q;
  mpmp_conn_t in, out;
} far_objs_t;

/* M_HEAP_FULL: items of BIG_ITEM bytes (pipelined: under 8 KiB), more of
 * them than the node heap (16 MiB) holds at once */
#define BIG_ITEM 6000
#define NBIG 4000

#define CAP 100 /* M_BOUNDED_FULL: the bounded queue's maxsize */

#define NS 20000 /* messages per sender: the ring (64 KiB) many times */

/* Message i of sender `id`: 1 to 300 bytes, each a function of (id, i, j). */
static size_t msg_len(int64_t i) { return 1 + (size_t)(i * 37 % 300); }
static unsigned char msg_byte(int id, int64_t i, size_t j) {
  return (unsigned char)(i * 7 + (int64_t)j * 13 + id * 101);
}

typedef struct presult {
  int rc[6];
  char msg[6][200];
  int extra; /* M_BOUNDED_STUCK: its puts that went on its credits */
} presult_t;

static int producer(mpmp_ctx_t *ctx) {
  const pargs_t *a = mpmp_arg(ctx, NULL);
  if (!a->anywhere && misplaced(ctx, &a->where))
    return 0;
  presult_t *r = mpmp_out(ctx, sizeof *r);
  memset(r, 0, sizeof *r);
  int64_t v;
  switch (a->mode) {
  case M_PUT_RETURN: /* the main rank joins, then finds every item */
  case M_PUT_EVENT:  /* the main rank waits for the Event, then finds them */
    for (v = 0; v < N; v++)
      if (mpmp_queue_put(a->q, &v, sizeof v, T) < 0)
        return mpmp_fail(ctx, "put %lld: %s", (long long)v, mpmp_errmsg());
    if (a->mode == M_PUT_EVENT && mpmp_event_set(a->ev) < 0)
      return mpmp_fail(ctx, "set: %s", mpmp_errmsg());
    if (a->mode == M_PUT_EVENT && /* stay until the main rank checked */
        mpmp_queue_get(a->go, &v, sizeof v, NULL, T) < 0)
      return mpmp_fail(ctx, "go: %s", mpmp_errmsg());
    return 0;
  case M_HEAP_FULL: { /* item v: its number in its first 8 bytes */
    static char item[BIG_ITEM];
    for (v = 0; v < NBIG; v++) {
      memcpy(item, &v, sizeof v);
      if (mpmp_queue_put(a->q, item, sizeof item, MPMP_FOREVER) < 0)
        return mpmp_fail(ctx, "put %lld: %s", (long long)v, mpmp_errmsg());
    }
    return 0;
  }
  case M_PUT_ABORT: /* puts, adds or sends (id 0, 1, 2), then a crash */
    for (v = 0; v < N; v++)
      if ((a->id == 0   ? mpmp_queue_put(a->q, &v, sizeof v, T)
           : a->id == 1 ? mpmp_value_add(a->v, 1, NULL)
                        : mpmp_conn_send(a->out, &v, sizeof v, T)) < 0)
        return mpmp_fail(ctx, "call %lld: %s", (long long)v, mpmp_errmsg());
    sleep(1); /* computing: no mpmp call takes the acknowledgements */
    abort();
  case M_MAKE_FAR: { /* objects of this node, for the main rank's threads */
    far_objs_t f;
    if (mpmp_queue_create(&f.q, 8, 16) < 0 ||
        mpmp_pipe_create(&f.in, &f.out, 0) < 0 ||
        mpmp_queue_put(a->ready, &f, sizeof f, T) < 0)
      return mpmp_fail(ctx, "make: %s", mpmp_errmsg());
    return 0;
  }
  case M_OWN_GET: /* its own gets find every item it put, at once */
    for (v = 0; v < N; v++)
      if (mpmp_queue_put(a->q, &v, sizeof v, T) < 0)
        return mpmp_fail(ctx, "put %lld: %s", (long long)v, mpmp_errmsg());
    for (int64_t i = 0; i < N; i++) {
      if (mpmp_queue_get_nowait(a->q, &v, sizeof v, NULL) < 0)
        return mpmp_fail(ctx, "get %lld: %s", (long long)i, mpmp_errmsg());
      if (v != i)
        return mpmp_fail(ctx, "got %lld for item %lld", (long long)v,
                         (long long)i);
    }
    return 0;
  case M_ALTERNATE: /* two queues: each one's items in order */
    for (v = 0; v < N; v++)
      if (mpmp_queue_put(v % 3 ? a->q : a->q2, &v, sizeof v, T) < 0)
        return mpmp_fail(ctx, "put %lld: %s", (long long)v, mpmp_errmsg());
    return 0;
  case M_CLOSED:
  case M_BIG:
  case M_BOUNDED_OVERRUN:
  case M_BOUNDED_STUCK:
  case M_BOUNDED_SIGNAL: {
    /* an ordinary put first: the queue is then known unbounded (or, when
     * bounded, this rank has credits for half its room) */
    v = -1;
    if (mpmp_queue_put(a->q, &v, sizeof v, T) < 0 ||
        mpmp_queue_put(a->ready, &v, sizeof v, T) < 0 ||
        mpmp_queue_get(a->go, &v, sizeof v, NULL, T) < 0)
      return mpmp_fail(ctx, "%s", mpmp_errmsg());
    if (a->mode == M_BOUNDED_SIGNAL) {
      /* the same overrun, then calls that take no timeout: an Event set
       * and a Semaphore release come after the waiting items, however
       * long they wait (they returned MPMP_ETIMEDOUT after a second, not
       * made: the signal was lost) */
      for (v = 0; v < CAP / 4; v++)
        if (mpmp_queue_put(a->q, &v, sizeof v, T) < 0)
          return mpmp_fail(ctx, "put %lld: %s", (long long)v, mpmp_errmsg());
      r->rc[0] = mpmp_event_set(a->ev);
      snprintf(r->msg[0], sizeof r->msg[0], "%s", mpmp_errmsg());
      r->rc[1] = mpmp_sem_release(a->sem);
      snprintf(r->msg[1], sizeof r->msg[1], "%s", mpmp_errmsg());
      return 0;
    }
    if (a->mode == M_BOUNDED_OVERRUN || a->mode == M_BOUNDED_STUCK) {
      /* the main rank filled the queue itself meanwhile: these CAP / 4
       * puts count on room that is gone; they return, and their items
       * wait on the queue's node until the main rank takes its own; the
       * put to `ready` (a call after them) waits until they are in */
      for (v = 0; v < CAP / 4; v++)
        if (mpmp_queue_put(a->q, &v, sizeof v, T) < 0)
          return mpmp_fail(ctx, "put %lld: %s", (long long)v, mpmp_errmsg());
      if (a->mode == M_BOUNDED_STUCK) {
        /* while they wait, calls with a timeout wait no longer than it
         * (a put, a put_nowait: queue.Full; a put to another queue) and
         * are not made: nothing to find of them later */
        int64_t no = -2;
        for (int k = 0; k < 3; k++) {
          double t0 = test_now();
          /* (puts on what is left of its credits go, and their items
           * wait behind the others) */
          while (k == 0 && r->extra <= CAP &&
                 mpmp_queue_put(a->q, &no, sizeof no, 0.3) == 0) {
            r->extra++;
            t0 = test_now();
          }
          r->rc[2 * k] =
              k == 0 ? mpmp_queue_put(a->q, &no, sizeof no, 0.3)
              : k == 1 ? mpmp_queue_put_nowait(a->q, &no, sizeof no)
                       : mpmp_queue_put(a->ready, &no, sizeof no, 0.3);
          snprintf(r->msg[2 * k], sizeof r->msg[2 * k], "%s", mpmp_errmsg());
          r->rc[2 * k + 1] = (int)((test_now() - t0) * 1000);
        }
        FILE *f = fopen(a->mark, "w");
        if (f == NULL || fclose(f) != 0)
          return mpmp_fail(ctx, "cannot make %s", a->mark);
      }
      if (mpmp_queue_put(a->ready, &v, sizeof v, T) < 0)
        return mpmp_fail(ctx, "ready: %s", mpmp_errmsg());
      return 0;
    }
    if (a->mode == M_BIG) { /* more than max_item (8 bytes): at once */
      char big[64] = {0};
      r->rc[0] = mpmp_queue_put(a->q, big, sizeof big, T);
      snprintf(r->msg[0], sizeof r->msg[0], "%s", mpmp_errmsg());
      v = 7;
      r->rc[1] = mpmp_queue_put(a->q, &v, sizeof v, T);
      return 0;
    }
    /* the main rank closed q: this put may go before the home node says
     * so; a fence (a call on an object of this node) waits for its word;
     * the next put then says what became of it, and the one after fails
     * as any put would */
    v = 1;
    r->rc[0] = mpmp_queue_put(a->q, &v, sizeof v, T);
    snprintf(r->msg[0], sizeof r->msg[0], "%s", mpmp_errmsg());
    mpmp_event_t here;
    if (mpmp_event_create(&here) < 0 || mpmp_event_is_set(here) != 0 ||
        mpmp_event_free(here) < 0)
      return mpmp_fail(ctx, "event: %s", mpmp_errmsg());
    r->rc[1] = mpmp_queue_put(a->q, &v, sizeof v, T);
    snprintf(r->msg[1], sizeof r->msg[1], "%s", mpmp_errmsg());
    r->rc[2] = mpmp_queue_put(a->q, &v, sizeof v, T);
    snprintf(r->msg[2], sizeof r->msg[2], "%s", mpmp_errmsg());
    return 0;
  }
  case M_ADDS: { /* adds without the old value: in order with the rest */
    for (int64_t i = 0; i < N; i++) {
      int rc = mpmp_value_add(a->v, 1, NULL);
      if (rc == 0)
        rc = mpmp_value_add(a->v2, i % 2 ? 1 : -3, NULL); /* wraps at 32 */
      if (rc == 0)
        rc = mpmp_array_add(a->arr, (size_t)(i % 3), 7, NULL);
      if (rc < 0)
        return mpmp_fail(ctx, "add %lld: %s", (long long)i, mpmp_errmsg());
    }
    /* a load after adds sees them; an add that returns the old value
     * comes after them */
    int64_t x = 0, old = 0;
    if (mpmp_value_load(a->v, &x) < 0 || x != N)
      return mpmp_fail(ctx, "own load: %lld, not %d", (long long)x, N);
    if (mpmp_value_add(a->v, 10, &old) < 0 || old != N)
      return mpmp_fail(ctx, "old value %lld, not %d", (long long)old, N);
    for (int64_t i = 0; i < N; i++) /* and more, to end with */
      if (mpmp_value_add(a->v, 2, NULL) < 0)
        return mpmp_fail(ctx, "add: %s", mpmp_errmsg());
    /* stores: the last one stays, and a load after them sees it */
    for (int64_t i = 0; i < N; i++)
      if (mpmp_value_store(a->v3, &i) < 0)
        return mpmp_fail(ctx, "store: %s", mpmp_errmsg());
    if (mpmp_value_load(a->v3, &x) < 0 || x != N - 1)
      return mpmp_fail(ctx, "own load after stores: %lld", (long long)x);
    if (mpmp_queue_put(a->ready, &x, sizeof x, T) < 0) /* main's turn too */
      return mpmp_fail(ctx, "ready: %s", mpmp_errmsg());
    /* v3 += 1 under its lock, while the main rank does the same: a store
     * on its way must not be overtaken by the release after it */
    mpmp_lock_t l;
    if (mpmp_value_get_lock(a->v3, &l) < 0)
      return mpmp_fail(ctx, "get_lock: %s", mpmp_errmsg());
    for (int i = 0; i < 300; i++) {
      if (mpmp_lock_acquire(l, T) < 0 || mpmp_value_load(a->v3, &x) < 0)
        return mpmp_fail(ctx, "locked load: %s", mpmp_errmsg());
      x++;
      if (mpmp_value_store(a->v3, &x) < 0 || mpmp_lock_release(l) < 0)
        return mpmp_fail(ctx, "locked store: %s", mpmp_errmsg());
    }
    if (a->mode == M_ADDS && mpmp_event_set(a->ev) < 0)
      return mpmp_fail(ctx, "set: %s", mpmp_errmsg());
    return 0;
  }
  case M_SENDS: { /* [id][i] then the pattern; the receiver checks all */
    unsigned char m[300];
    for (int64_t i = 0; i < NS; i++) {
      size_t n = msg_len(i);
      for (size_t j = 0; j < n; j++)
        m[j] = msg_byte(a->id, i, j);
      m[0] = (unsigned char)a->id;
      if (mpmp_conn_send(a->out, m, n, T) < 0)
        return mpmp_fail(ctx, "send %lld: %s", (long long)i, mpmp_errmsg());
    }
    return 0;
  }
  case M_SEND_CLOSED: {
    /* an ordinary send first: the room is then known */
    v = -1;
    if (mpmp_conn_send(a->out, &v, sizeof v, T) < 0 ||
        mpmp_queue_put(a->ready, &v, sizeof v, T) < 0 ||
        mpmp_queue_get(a->go, &v, sizeof v, NULL, T) < 0)
      return mpmp_fail(ctx, "%s", mpmp_errmsg());
    /* the main rank closed its end: as for puts after a close */
    v = 1;
    r->rc[0] = mpmp_conn_send(a->out, &v, sizeof v, T);
    snprintf(r->msg[0], sizeof r->msg[0], "%s", mpmp_errmsg());
    mpmp_event_t here;
    if (mpmp_event_create(&here) < 0 || mpmp_event_free(here) < 0)
      return mpmp_fail(ctx, "event: %s", mpmp_errmsg());
    r->rc[1] = mpmp_conn_send(a->out, &v, sizeof v, T);
    snprintf(r->msg[1], sizeof r->msg[1], "%s", mpmp_errmsg());
    r->rc[2] = mpmp_conn_send(a->out, &v, sizeof v, T);
    snprintf(r->msg[2], sizeof r->msg[2], "%s", mpmp_errmsg());
    return 0;
  }
  case M_OWN_CLOSE: {
    /* after its own close or free, a put, send or add fails at once,
     * even once the object is known (no pipelined call that "succeeds") */
    int64_t v1 = 1;
    if (mpmp_queue_put(a->q, &v1, sizeof v1, T) < 0 ||
        mpmp_queue_put(a->q, &v1, sizeof v1, T) < 0 ||
        mpmp_conn_send(a->out, &v1, sizeof v1, T) < 0 ||
        mpmp_conn_send(a->out, &v1, sizeof v1, T) < 0 ||
        mpmp_value_add(a->v, 1, NULL) < 0 ||
        mpmp_value_add(a->v, 1, NULL) < 0)
      return mpmp_fail(ctx, "learning: %s", mpmp_errmsg());
    if (mpmp_queue_close(a->q) < 0 || mpmp_value_free(a->v) < 0 ||
        mpmp_conn_close(a->in) < 0)
      return mpmp_fail(ctx, "close: %s", mpmp_errmsg());
    r->rc[0] = mpmp_queue_put(a->q, &v1, sizeof v1, T);
    r->rc[1] = mpmp_value_add(a->v, 1, NULL);
    r->rc[2] = mpmp_conn_send(a->out, &v1, sizeof v1, T);
    return 0;
  }
  case M_BOUNDED_FULL: { /* a bounded queue nobody takes from: CAP puts go
                            in (pipelined from another node while the room
                            lasts), the next ones find it full */
    for (v = 0; v < CAP; v++)
      if (mpmp_queue_put(a->q, &v, sizeof v, T) < 0)
        return mpmp_fail(ctx, "put %lld: %s", (long long)v, mpmp_errmsg());
    r->rc[3] = mpmp_queue_qsize(a->q); /* its next call sees them all */
    double t0 = test_now();
    r->rc[0] = mpmp_queue_put(a->q, &v, sizeof v, 0.3);
    r->rc[1] = (int)((test_now() - t0) * 1000); /* ms it waited */
    r->rc[2] = mpmp_queue_put_nowait(a->q, &v, sizeof v);
    return 0;
  }
  case M_ADD_FREED: { /* the main rank freed v after the first add */
    int64_t v1 = 0;
    if (mpmp_value_add(a->v, 1, NULL) < 0 ||
        mpmp_queue_put(a->ready, &v1, sizeof v1, T) < 0 ||
        mpmp_queue_get(a->go, &v1, sizeof v1, NULL, T) < 0)
      return mpmp_fail(ctx, "%s", mpmp_errmsg());
    r->rc[0] = mpmp_value_add(a->v, 1, NULL);
    r->rc[1] = mpmp_value_add(a->v, 1, NULL);
    snprintf(r->msg[1], sizeof r->msg[1], "%s", mpmp_errmsg());
    mpmp_event_t here; /* a fence: the adds' word has come */
    if (mpmp_event_create(&here) < 0 || mpmp_event_free(here) < 0)
      return mpmp_fail(ctx, "event: %s", mpmp_errmsg());
    r->rc[2] = mpmp_value_add(a->v, 1, NULL);
    snprintf(r->msg[2], sizeof r->msg[2], "%s", mpmp_errmsg());
    r->rc[3] = mpmp_value_add(a->v, 1, NULL);
    snprintf(r->msg[3], sizeof r->msg[3], "%s", mpmp_errmsg());
    return 0;
  }
  case M_CLOSE_RACE:
  case M_SEND_RACE: {
    /* the main rank closes the queue (its end of the pipe) while this
     * one streams: it puts until a put fails, and says how many returned
     * 0 and how many of those the failure says were not delivered; every
     * put (send) after that fails as well */
    int rc;
    for (v = 0;; v++) {
      rc = a->mode == M_CLOSE_RACE ? mpmp_queue_put(a->q, &v, sizeof v, T)
                                   : mpmp_conn_send(a->out, &v, sizeof v, T);
      if (rc < 0)
        break;
      r->rc[0]++;
    }
    r->rc[3] = rc;
    snprintf(r->msg[0], sizeof r->msg[0], "%s", mpmp_errmsg());
    const char *c = strstr(r->msg[0], ": ");
    if (c != NULL && strstr(c, "before were not delivered") != NULL)
      r->rc[1] = atoi(c + 2);
    for (int k = 0; k < 10; k++) {
      int64_t no = -1;
      rc = a->mode == M_CLOSE_RACE ? mpmp_queue_put(a->q, &no, sizeof no, T)
                                   : mpmp_conn_send(a->out, &no, sizeof no, T);
      if (rc != MPMP_EPIPE) {
        r->rc[2]++;
        snprintf(r->msg[1], sizeof r->msg[1], "%d: %s", rc, mpmp_errmsg());
      }
    }
    return 0;
  }
  case M_DICT: { /* puts, then a set of a dict (in place where the dict
                    lives on this node): the main rank, once it sees it,
                    finds every item */
    for (v = 0; v < N; v++)
      if (mpmp_queue_put(a->q, &v, sizeof v, T) < 0)
        return mpmp_fail(ctx, "put %lld: %s", (long long)v, mpmp_errmsg());
    int64_t one = 1;
    if (mpmp_dict_set(a->d, "done", &one, sizeof one) < 0 ||
        mpmp_queue_get(a->go, &v, sizeof v, NULL, T) < 0)
      return mpmp_fail(ctx, "%s", mpmp_errmsg());
    return 0;
  }
  }
  return mpmp_fail(ctx, "unknown mode %d", a->mode);
}
MPMP_TASK(producer);

/* Start the producer on another node where there is one (else here). */
static mpmp_process_t *start_producer(pargs_t *a, parked_t *pk) {
  pk->n = 0;
  if (!other_node_exists()) { /* on this node, as misplaced() sees it */
    a->where = (place_t){.main_node = mpmp_node_id(), .want_local = 1};
    return start_process(producer, a, sizeof *a);
  }
  mpmp_process_t *p = start_where(producer, a, sizeof *a, 0, pk);
  assert_non_null(p);
  return p;
}

/* The next items of q are first, first + 1, ... (count of them), there
 * at once (no waiting). */
static void expect_now(mpmp_queue_t q, int64_t first, int64_t count,
                       int64_t step) {
  for (int64_t i = 0; i < count; i++) {
    int64_t v = -99;
    size_t n;
    int rc = mpmp_queue_get_nowait(q, &v, sizeof v, &n);
    if (rc != 0)
      fail_msg("item %lld of %lld is not there: %s", (long long)i,
               (long long)count, mpmp_strerror(rc));
    assert_int_equal(v, first + i * step);
  }
}

static void puts_arrive_before_the_join(void **state) {
  (void)state;
  mpmp_queue_t qs[3];
  assert_int_equal(mpmp_queue_create(&qs[0], 0, 8), 0);
  assert_int_equal(mpmp_joinable_queue_create(&qs[1], 0, 8), 0);
  assert_int_equal(mpmp_simple_queue_create(&qs[2], 8), 0);
  for (int k = 0; k < 3; k++) {
    pargs_t a = {.q = qs[k], .mode = M_PUT_RETURN};
    parked_t pk;
    mpmp_process_t *p = start_producer(&a, &pk);
    join_destroy_within(p, 60);
    unpark(&pk);
    if (k != 2)
      assert_int_equal(mpmp_queue_qsize(qs[k]), N);
    expect_now(qs[k], 0, N, 1);
    assert_int_equal(mpmp_queue_get_nowait(qs[k], NULL, 0, NULL),
                     MPMP_ETIMEDOUT);
    assert_int_equal(mpmp_queue_free(qs[k]), 0);
  }
}

/* A body that puts, adds and sends, then computes and crashes: what its
 * calls returned 0 for arrives all the same (a task host of another node
 * kept what gathered behind a batch in flight until its next call: 2 of
 * 5000 arrived), as a Python process's queue feeder sends its items while
 * the process computes. */
static void calls_before_a_crash_arrive(void **state) {
  (void)state;
  for (int id = 0; id < 3; id++) {
    pargs_t a = {.mode = M_PUT_ABORT, .id = id};
    mpmp_conn_t in;
    assert_int_equal(mpmp_queue_create(&a.q, 0, 8), 0);
    assert_int_equal(mpmp_value_create(&a.v, MPMP_INT64, NULL, 0), 0);
    assert_int_equal(mpmp_pipe_create(&in, &a.out, 0), 0);
    parked_t pk;
    mpmp_process_t *p = start_producer(&a, &pk);
    int64_t v, got = 0;
    size_t n;
    while (id == 2 && got < N && mpmp_conn_recv(in, &v, sizeof v, &n, 60) == 0) {
      assert_int_equal(v, got); /* (the pipe holds 64 KiB: read as it goes) */
      got++;
    }
    assert_int_equal(mpmp_process_join(p, 60), 0);
    int code = 0;
    assert_int_equal(mpmp_process_exitcode(p, &code), 0);
    assert_int_equal(code, -SIGABRT);
    assert_int_equal(mpmp_process_destroy(p), 0);
    unpark(&pk);
    if (id == 0)
      expect_now(a.q, 0, N, 1);
    assert_int_equal(mpmp_value_load(a.v, &v), 0);
    assert_int_equal(v, id == 1 ? N : 0);
    assert_int_equal(got, id == 2 ? N : 0);
    assert_int_equal(mpmp_queue_free(a.q), 0);
    assert_int_equal(mpmp_value_free(a.v), 0);
    assert_int_equal(mpmp_pipe_free(in, a.out), 0);
  }
}

/* An isolated map's item puts its index, then returns 1000 + it; every
 * item 13 of a chunk of 16 crashes its host after the puts before it. */
typedef struct { mpmp_queue_t q; int64_t x; } put_item_t;
static int put_then_return(mpmp_ctx_t *ctx) {
  const put_item_t *a = mpmp_arg(ctx, NULL);
  if (a->x % 16 == 13) {
    usleep(100000); /* the puts before it wait behind a batch in flight */
    abort();
  }
  if (mpmp_queue_put(a->q, &a->x, sizeof a->x, T) < 0)
    return mpmp_fail(ctx, "put: %s", mpmp_errmsg());
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = 1000 + a->x;
  return 0;
}
MPMP_TASK(put_then_return);

/* The items of a chunk that ran before its host crashed are reported
 * done: their puts are in the queue (a host of another node kept them
 * gathering behind a batch in flight, and they died with it: 11 of 12
 * lost per chunk). */
static void items_done_before_a_crash_have_their_puts(void **state) {
  (void)state;
  enum { NI = 64 };
  put_item_t in[NI];
  int64_t out[NI], v;
  mpmp_queue_t q;
  assert_int_equal(mpmp_queue_create(&q, 0, 8), 0);
  for (int i = 0; i < NI; i++)
    in[i] = (put_item_t){.q = q, .x = i};
  mpmp_pool_t *pool;
  mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_ALWAYS};
  assert_int_equal(mpmp_pool_create(&pool, &o), 0);
  assert_int_equal(mpmp_pool_map(pool, put_then_return, in, NI, sizeof *in,
                                 out, sizeof *out, 16), MPMP_ECRASHED);
  char seen[NI] = {0};
  size_t n;
  while (mpmp_queue_get_nowait(q, &v, sizeof v, &n) == 0) {
    assert_true(v >= 0 && v < NI && !seen[v]);
    seen[v] = 1;
  }
  int done = 0;
  for (int i = 0; i < NI; i++)
    if (out[i] == 1000 + i) {
      done++;
      if (!seen[i])
        fail_msg("item %d is done but its put is not in the queue", i);
    }
  assert_true(done >= 4 * 13); /* items 0..12 of each chunk */
  assert_int_equal(mpmp_pool_destroy(pool), 0);
  assert_int_equal(mpmp_queue_free(q), 0);
}

/* Threads of one rank that put to and take from one bounded queue (or
 * send on and receive from one pipe) of another node: every item arrives
 * once, in each producer's order. The producers' pipelined batches waited
 * on the home node for room that only this rank's gets could make, and
 * those gets waited behind the batches (10 of 11 runs stalled). */
#define TP 3    /* producer and consumer threads */
#define TN 3000 /* items per producer */
typedef struct tq {
  far_objs_t *f;
  int pipe, id;
  _Atomic long *got;
  _Atomic int *errs;
  unsigned char *seen; /* [TP][TN] */
} tq_t;

static void *tq_produce(void *arg) {
  tq_t *t = arg;
  for (int64_t i = 0; i < TN; i++) {
    int64_t it[2] = {t->id, i};
    int rc = t->pipe ? mpmp_conn_send(t->f->out, it, sizeof it, 30)
                     : mpmp_queue_put(t->f->q, it, sizeof it, 30);
    if (rc < 0) {
      fprintf(stderr, "put %lld: %s\n", (long long)i, mpmp_errmsg());
      atomic_fetch_add(t->errs, 1);
      return NULL;
    }
  }
  return NULL;
}

static void *tq_consume(void *arg) {
  tq_t *t = arg;
  int64_t last[TP] = {-1, -1, -1};
  double end = test_now() + 60;
  while (atomic_load(t->got) < TP * TN && test_now() < end) {
    int64_t it[2];
    size_t n;
    int rc = t->pipe ? mpmp_conn_recv(t->f->in, it, sizeof it, &n, 0.2)
                     : mpmp_queue_get(t->f->q, it, sizeof it, &n, 0.2);
    if (rc == MPMP_ETIMEDOUT)
      continue;
    if (rc < 0 || it[0] < 0 || it[0] >= TP || it[1] < 0 || it[1] >= TN ||
        t->seen[it[0] * TN + it[1]]++ || it[1] <= last[it[0]]) {
      atomic_fetch_add(t->errs, 1);
      return NULL;
    }
    last[it[0]] = it[1];
    atomic_fetch_add(t->got, 1);
  }
  return NULL;
}

static void threads_put_and_get_on_a_far_bounded_queue(void **state) {
  (void)state;
  pargs_t a = {.mode = M_MAKE_FAR};
  assert_int_equal(mpmp_queue_create(&a.ready, 0, sizeof(far_objs_t)), 0);
  parked_t pk;
  mpmp_process_t *p = start_producer(&a, &pk);
  far_objs_t f;
  size_t n;
  assert_int_equal(mpmp_queue_get(a.ready, &f, sizeof f, &n, 60), 0);
  join_destroy_within(p, 60);
  unpark(&pk);
  for (int pipe = 0; pipe <= 1; pipe++) {
    static unsigned char seen[TP * TN];
    memset(seen, 0, sizeof seen);
    _Atomic long got = 0;
    _Atomic int errs = 0;
    pthread_t th[2 * TP];
    tq_t t[2 * TP];
    for (int k = 0; k < 2 * TP; k++) {
      t[k] = (tq_t){.f = &f, .pipe = pipe, .id = k % TP, .got = &got,
                    .errs = &errs, .seen = seen};
      assert_int_equal(pthread_create(&th[k], NULL,
                                      k < TP ? tq_produce : tq_consume,
                                      &t[k]), 0);
    }
    for (int k = 0; k < 2 * TP; k++)
      pthread_join(th[k], NULL);
    assert_int_equal(atomic_load(&errs), 0);
    assert_int_equal(atomic_load(&got), TP * TN);
  }
  assert_int_equal(mpmp_queue_free(f.q), 0);
  assert_int_equal(mpmp_pipe_free(f.in, f.out), 0);
  assert_int_equal(mpmp_queue_free(a.ready), 0);
}

/* An unbounded queue whose node heap fills while its consumer is away:
 * puts without a timeout wait for room, on this node and from another
 * (the heap runs low: its producers' batches then wait on its node for
 * room, as a put of this node does), and every item arrives in order once
 * the consumer comes. From another node the puts failed with
 * MPMP_ENOSPC and items already on their way were lost. */
static void puts_wait_for_room_when_the_heap_is_full(void **state) {
  (void)state;
  pargs_t a = {.mode = M_HEAP_FULL};
  assert_int_equal(mpmp_queue_create(&a.q, 0, BIG_ITEM), 0);
  parked_t pk;
  mpmp_process_t *p = start_producer(&a, &pk);
  test_sleep(2); /* the heap fills: 24 MB of items */
  static char item[BIG_ITEM];
  for (int64_t i = 0; i < NBIG; i++) {
    size_t n = 0;
    int rc = mpmp_queue_get(a.q, item, sizeof item, &n, 30);
    if (rc != 0)
      fail_msg("item %lld of %d did not come: %s", (long long)i, NBIG,
               mpmp_errmsg());
    int64_t v;
    memcpy(&v, item, sizeof v);
    assert_int_equal(v, i);
    assert_int_equal(n, BIG_ITEM);
  }
  join_destroy_within(p, 60);
  unpark(&pk);
  assert_int_equal(mpmp_queue_free(a.q), 0);
}

static void puts_arrive_before_an_event(void **state) {
  (void)state;
  pargs_t a = {.mode = M_PUT_EVENT};
  assert_int_equal(mpmp_queue_create(&a.q, 0, 8), 0);
  assert_int_equal(mpmp_queue_create(&a.go, 0, 8), 0);
  assert_int_equal(mpmp_event_create(&a.ev), 0);
  parked_t pk;
  mpmp_process_t *p = start_producer(&a, &pk);
  assert_int_equal(mpmp_event_wait(a.ev, 60), 0);
  assert_int_equal(mpmp_queue_qsize(a.q), N); /* all of them, already */
  expect_now(a.q, 0, N, 1);
  int64_t go = 1;
  assert_int_equal(mpmp_queue_put(a.go, &go, sizeof go, T), 0);
  join_destroy_within(p, 60);
  unpark(&pk);
  assert_int_equal(mpmp_queue_free(a.q), 0);
  assert_int_equal(mpmp_queue_free(a.go), 0);
  assert_int_equal(mpmp_event_free(a.ev), 0);
}

static void a_producers_own_gets_find_its_puts(void **state) {
  (void)state;
  pargs_t a = {.mode = M_OWN_GET};
  assert_int_equal(mpmp_queue_create(&a.q, 0, 8), 0);
  parked_t pk;
  mpmp_process_t *p = start_producer(&a, &pk);
  join_destroy_within(p, 120);
  unpark(&pk);
  assert_int_equal(mpmp_queue_get_nowait(a.q, NULL, 0, NULL), MPMP_ETIMEDOUT);
  assert_int_equal(mpmp_queue_free(a.q), 0);
}

static void puts_alternating_between_queues_keep_order(void **state) {
  (void)state;
  pargs_t a = {.mode = M_ALTERNATE};
  assert_int_equal(mpmp_queue_create(&a.q, 0, 8), 0);
  assert_int_equal(mpmp_queue_create(&a.q2, 0, 8), 0);
  parked_t pk;
  mpmp_process_t *p = start_producer(&a, &pk);
  join_destroy_within(p, 120);
  unpark(&pk);
  /* q2 has 0, 3, 6, ...; q the others, in order */
  expect_now(a.q2, 0, (N + 2) / 3, 3);
  int64_t want = 1;
  for (int64_t i = 0; i < N - (N + 2) / 3; i++, want += want % 3 == 1 ? 1 : 2) {
    int64_t v;
    assert_int_equal(mpmp_queue_get_nowait(a.q, &v, sizeof v, NULL), 0);
    assert_int_equal(v, want);
  }
  assert_int_equal(mpmp_queue_get_nowait(a.q, NULL, 0, NULL), MPMP_ETIMEDOUT);
  assert_int_equal(mpmp_queue_free(a.q), 0);
  assert_int_equal(mpmp_queue_free(a.q2), 0);
}

/* Start a producer that makes its first (ordinary) put to a queue of
 * `maxsize`, and wait until it has (its item taken). */
static mpmp_process_t *start_learned(pargs_t *a, parked_t *pk, int maxsize) {
  assert_int_equal(mpmp_queue_create(&a->q, maxsize, 8), 0);
  assert_int_equal(mpmp_queue_create(&a->ready, 0, 8), 0);
  assert_int_equal(mpmp_queue_create(&a->go, 0, 8), 0);
  mpmp_process_t *p = start_producer(a, pk);
  int64_t v;
  assert_int_equal(mpmp_queue_get(a->ready, &v, sizeof v, NULL, 60), 0);
  assert_int_equal(mpmp_queue_get(a->q, &v, sizeof v, NULL, T), 0);
  assert_int_equal(v, -1);
  return p;
}

static void finish_learned(pargs_t *a, mpmp_process_t *p, parked_t *pk,
                           presult_t *r) {
  int64_t go = 1;
  assert_int_equal(mpmp_queue_put(a->go, &go, sizeof go, T), 0);
  size_t size;
  const presult_t *res = join_result_within(p, 60, &size);
  assert_int_equal(size, sizeof *r);
  *r = *res;
  mpmp_process_destroy(p);
  unpark(pk);
}

static void free_learned(pargs_t *a) {
  assert_int_equal(mpmp_queue_free(a->q), 0);
  assert_int_equal(mpmp_queue_free(a->ready), 0);
  assert_int_equal(mpmp_queue_free(a->go), 0);
}

static void put_after_a_close_is_reported_by_the_next_put(void **state) {
  (void)state;
  pargs_t a = {.mode = M_CLOSED};
  parked_t pk;
  presult_t r;
  mpmp_process_t *p = start_learned(&a, &pk, 0);
  assert_int_equal(mpmp_queue_close(a.q), 0);
  finish_learned(&a, p, &pk, &r);
  /* pipelined (another node): the first put went out and returned 0, the
   * next one says it was not delivered; on one node: refused at once */
  if (r.rc[0] == 0) {
    assert_int_equal(r.rc[1], MPMP_EPIPE);
    assert_non_null(strstr(r.msg[1], "1 item(s) put to this queue before "
                                     "were not delivered"));
    assert_non_null(strstr(r.msg[1], "closed"));
  } else {
    assert_int_equal(r.rc[0], MPMP_EPIPE);
    assert_int_equal(r.rc[1], MPMP_EPIPE);
  }
  assert_int_equal(r.rc[2], MPMP_EPIPE);
  assert_non_null(strstr(r.msg[2], "closed"));
  assert_int_equal(mpmp_queue_get(a.q, NULL, 0, NULL, 0), MPMP_EEOF);
  free_learned(&a);
}

/* A bounded queue of another node: puts go in while it has room (a
 * producer pipelines them only while its share of the room its node
 * reported lasts), and once it is full a put waits its timeout and says
 * so (queue.Full), put_nowait at once: no put "succeeds" past maxsize.
 * Then the items are all there, in order. */
static void bounded_puts_stop_at_maxsize(void **state) {
  (void)state;
  pargs_t a = {.mode = M_BOUNDED_FULL};
  assert_int_equal(mpmp_queue_create(&a.q, CAP, 8), 0);
  parked_t pk;
  mpmp_process_t *p = start_producer(&a, &pk);
  size_t size;
  const presult_t *r = join_result_within(p, 60, &size);
  assert_int_equal(size, sizeof *r);
  assert_int_equal(r->rc[0], MPMP_ETIMEDOUT);
  IN(r->rc[1], 250, 20000); /* it waited its 0.3 s */
  assert_int_equal(r->rc[2], MPMP_ETIMEDOUT);
  assert_int_equal(r->rc[3], CAP);
  mpmp_process_destroy(p);
  unpark(&pk);
  assert_int_equal(mpmp_queue_qsize(a.q), CAP);
  assert_int_equal(mpmp_queue_full(a.q), 1);
  expect_now(a.q, 0, CAP, 1);
  assert_int_equal(mpmp_queue_get_nowait(a.q, NULL, 0, NULL), MPMP_ETIMEDOUT);
  assert_int_equal(mpmp_queue_free(a.q), 0);
}

/* A producer of a bounded queue (maxsize CAP) with its credits, which
 * the main rank then fills itself before it lets the producer go on. */
static mpmp_process_t *start_overrun(pargs_t *a, parked_t *pk) {
  mpmp_process_t *p = start_learned(a, pk, CAP);
  int64_t v;
  for (v = 1000; v < 1000 + CAP; v++)
    assert_int_equal(mpmp_queue_put(a->q, &v, sizeof v, T), 0);
  assert_int_equal(mpmp_queue_put(a->go, &v, sizeof v, T), 0);
  return p;
}

/* Credits are not a reservation: a producer of another node that
 * counted on room the main rank then took has its puts return, and
 * their items wait on the queue's node, in order, while the queue stays
 * at maxsize; its next call (a put to another queue) waits until they are
 * in, which is after the main rank took its own items. Nothing lost. */
static void bounded_puts_wait_for_room_taken_by_others(void **state) {
  (void)state;
  pargs_t a = {.mode = M_BOUNDED_OVERRUN};
  parked_t pk;
  mpmp_process_t *p = start_overrun(&a, &pk);
  int64_t v;
  test_sleep(0.3); /* the producer's puts meanwhile: none gets in */
  assert_int_equal(mpmp_queue_qsize(a.q), CAP);
  assert_int_equal(mpmp_queue_get_nowait(a.ready, &v, sizeof v, NULL),
                   MPMP_ETIMEDOUT); /* its next call still waits */
  for (int64_t i = 0; i < CAP; i++) { /* its own first, then the others' */
    assert_int_equal(mpmp_queue_get(a.q, &v, sizeof v, NULL, T), 0);
    assert_int_equal(v, 1000 + i);
    assert_true(mpmp_queue_qsize(a.q) <= CAP);
  }
  for (int64_t i = 0; i < CAP / 4; i++) {
    assert_int_equal(mpmp_queue_get(a.q, &v, sizeof v, NULL, T), 0);
    assert_int_equal(v, i);
  }
  assert_int_equal(mpmp_queue_get(a.ready, &v, sizeof v, NULL, T), 0);
  assert_int_equal(v, CAP / 4);
  assert_int_equal(mpmp_queue_get_nowait(a.q, NULL, 0, NULL), MPMP_ETIMEDOUT);
  size_t size;
  join_result_within(p, 60, &size);
  mpmp_process_destroy(p);
  unpark(&pk);
  free_learned(&a);
}

/* The same, and the producer's calls meanwhile have timeouts: none of
 * them waits for those items longer than its timeout (a try-once call a
 * second), each says what it waits for, and none is made (its item would
 * come before the ones waiting). Once the main rank makes room, the
 * waiting items arrive, in order, and nothing else. Only across nodes:
 * on one node the producer's puts themselves wait for room. */
static void calls_after_items_waiting_for_room_keep_their_timeout(
    void **state) {
  (void)state;
  if (!other_node_exists())
    skip();
  pargs_t a = {.mode = M_BOUNDED_STUCK};
  snprintf(a.mark, sizeof a.mark, "/tmp/mpmp-stuck-%ld-%d", (long)getpid(),
           (int)(test_now() * 1000) % 100000);
  unlink(a.mark);
  parked_t pk;
  mpmp_process_t *p = start_overrun(&a, &pk);
  int64_t v;
  double t0 = test_now();
  while (access(a.mark, F_OK) != 0) {
    if (test_now() - t0 > 60)
      fail_msg("the producer's timed calls did not return in 60 s");
    test_sleep(0.02);
  }
  unlink(a.mark);
  assert_int_equal(mpmp_queue_qsize(a.q), CAP);
  assert_int_equal(mpmp_queue_get_nowait(a.ready, &v, sizeof v, NULL),
                   MPMP_ETIMEDOUT); /* its timed-out put was not made */
  for (int64_t i = 0; i < CAP; i++) {
    assert_int_equal(mpmp_queue_get(a.q, &v, sizeof v, NULL, T), 0);
    assert_int_equal(v, 1000 + i);
  }
  for (int64_t i = 0; i < CAP / 4; i++) {
    assert_int_equal(mpmp_queue_get(a.q, &v, sizeof v, NULL, T), 0);
    assert_int_equal(v, i);
  }
  size_t size;
  const presult_t *r = join_result_within(p, 60, &size);
  assert_int_equal(size, sizeof *r);
  IN(r->extra, 0, CAP / 2 - CAP / 4); /* no more than its credits */
  for (int i = 0; i < r->extra; i++) {
    assert_int_equal(mpmp_queue_get_nowait(a.q, &v, sizeof v, NULL), 0);
    assert_int_equal(v, -2);
  }
  assert_int_equal(mpmp_queue_get_nowait(a.ready, &v, sizeof v, NULL), 0);
  assert_int_equal(v, CAP / 4);
  assert_int_equal(mpmp_queue_get_nowait(a.q, NULL, 0, NULL), MPMP_ETIMEDOUT);
  assert_int_equal(mpmp_queue_get_nowait(a.ready, NULL, 0, NULL),
                   MPMP_ETIMEDOUT);
  for (int k = 0; k < 3; k++) {
    if (r->rc[2 * k] != MPMP_ETIMEDOUT)
      fail_msg("call %d returned %d (%s), not MPMP_ETIMEDOUT", k,
               r->rc[2 * k], r->msg[2 * k]);
    assert_non_null(strstr(r->msg[2 * k], "wait there for room"));
  }
  IN(r->rc[1], 250, 20000); /* its 0.3 s */
  IN(r->rc[3], 500, 20000); /* a second, for a try-once call */
  IN(r->rc[5], 250, 20000);
  assert_non_null(strstr(r->msg[0], "mpmp_queue_put:"));
  assert_non_null(strstr(r->msg[2], "mpmp_queue_put_nowait:"));
  mpmp_process_destroy(p);
  unpark(&pk);
  free_learned(&a);
}

/* Calls that take no timeout (an Event set, a Semaphore release) behind
 * items that wait for room on the queue's node: made once the items are
 * in, however long that takes, and never dropped (helper 57). */
static void signals_after_items_waiting_for_room_are_not_lost(void **state) {
  (void)state;
  if (!other_node_exists())
    skip(); /* (on one node the puts themselves wait for room) */
  pargs_t a = {.mode = M_BOUNDED_SIGNAL};
  assert_int_equal(mpmp_event_create(&a.ev), 0);
  assert_int_equal(mpmp_sem_create(&a.sem, 0), 0);
  parked_t pk;
  mpmp_process_t *p = start_overrun(&a, &pk);
  test_sleep(1.5); /* past the second a try-once call waits */
  assert_int_equal(mpmp_event_is_set(a.ev), 0); /* after the items */
  int64_t v;
  for (int64_t i = 0; i < CAP + CAP / 4; i++)
    assert_int_equal(mpmp_queue_get(a.q, &v, sizeof v, NULL, T), 0);
  assert_int_equal(mpmp_event_wait(a.ev, T), 0);
  assert_int_equal(mpmp_sem_acquire(a.sem, T), 0);
  size_t size;
  const presult_t *r = join_result_within(p, 60, &size);
  assert_int_equal(size, sizeof *r);
  if (r->rc[0] != 0 || r->rc[1] != 0)
    fail_msg("event_set %d (%s), sem_release %d (%s)", r->rc[0], r->msg[0],
             r->rc[1], r->msg[1]);
  mpmp_process_destroy(p);
  unpark(&pk);
  free_learned(&a);
  assert_int_equal(mpmp_event_free(a.ev), 0);
  assert_int_equal(mpmp_sem_free(a.sem), 0);
}

static void a_big_item_is_refused_at_once(void **state) {
  (void)state;
  pargs_t a = {.mode = M_BIG};
  parked_t pk;
  presult_t r;
  mpmp_process_t *p = start_learned(&a, &pk, 0);
  finish_learned(&a, p, &pk, &r);
  assert_int_equal(r.rc[0], MPMP_EMSGSIZE);
  assert_non_null(strstr(r.msg[0], "max item size"));
  assert_int_equal(r.rc[1], 0); /* and the queue goes on */
  int64_t v;
  assert_int_equal(mpmp_queue_get(a.q, &v, sizeof v, NULL, T), 0);
  assert_int_equal(v, 7);
  free_learned(&a);
}

/* Adds to Values and an Array of the main rank's node: every one made
 * (sums that wrap as one by one), seen by the main rank after the Event
 * the adder sets, and by the adder's own load and fetching add. */
static void adds_and_stores_arrive_in_order(void **state) {
  (void)state;
  pargs_t a = {.mode = M_ADDS};
  assert_int_equal(mpmp_value_create(&a.v, MPMP_INT64, NULL, 0), 0);
  int32_t near_min = INT32_MIN + 5;
  assert_int_equal(mpmp_value_create(&a.v2, MPMP_INT32, &near_min, 0), 0);
  assert_int_equal(mpmp_array_create(&a.arr, MPMP_INT16, 8, NULL, 0), 0);
  assert_int_equal(mpmp_value_create(&a.v3, MPMP_INT64, NULL, 1), 0);
  assert_int_equal(mpmp_queue_create(&a.ready, 0, 8), 0);
  assert_int_equal(mpmp_event_create(&a.ev), 0);
  parked_t pk;
  mpmp_process_t *p = start_producer(&a, &pk);
  /* v3 += 1 under its lock here too, once the adder's stores are over
   * (the last one, N - 1, is there: it was put before the word came) */
  mpmp_lock_t l;
  int64_t x;
  assert_int_equal(mpmp_value_get_lock(a.v3, &l), 0);
  assert_int_equal(mpmp_queue_get(a.ready, &x, sizeof x, NULL, 60), 0);
  for (int i = 0; i < 300; i++) {
    assert_int_equal(mpmp_lock_acquire(l, T), 0);
    assert_int_equal(mpmp_value_load(a.v3, &x), 0);
    x++;
    assert_int_equal(mpmp_value_store(a.v3, &x), 0);
    assert_int_equal(mpmp_lock_release(l), 0);
  }
  assert_int_equal(mpmp_event_wait(a.ev, 60), 0);
  assert_int_equal(mpmp_value_load(a.v3, &x), 0);
  assert_int_equal(x, N - 1 + 600); /* no locked update lost */
  assert_int_equal(mpmp_value_load(a.v, &x), 0);
  assert_int_equal(x, N + 10 + 2 * N);
  int32_t y;
  assert_int_equal(mpmp_value_load(a.v2, &y), 0);
  /* N/2 adds of -3 and N/2 of 1 from INT32_MIN + 5, wrapping at 32 bits */
  int32_t want = (int32_t)(uint32_t)((uint32_t)near_min +
                                     (uint32_t)(-(int64_t)N));
  assert_int_equal(y, want);
  for (size_t i = 0; i < 3; i++) {
    int16_t e;
    assert_int_equal(mpmp_array_get(a.arr, i, &e), 0);
    assert_int_equal(e, (int16_t)(7 * ((N - (int64_t)i + 2) / 3)));
  }
  join_destroy_within(p, 60);
  unpark(&pk);
  assert_int_equal(mpmp_value_free(a.v), 0);
  assert_int_equal(mpmp_value_free(a.v2), 0);
  assert_int_equal(mpmp_value_free(a.v3), 0);
  assert_int_equal(mpmp_queue_free(a.ready), 0);
  assert_int_equal(mpmp_array_free(a.arr), 0);
  assert_int_equal(mpmp_event_free(a.ev), 0);
}

/* A Value freed while another node's adds are on their way: the failure
 * is told by the next add, with the count of adds not made; the adds
 * after it fail as any would. */
static void add_after_a_free_is_reported_by_the_next_add(void **state) {
  (void)state;
  pargs_t a = {.mode = M_ADD_FREED};
  assert_int_equal(mpmp_value_create(&a.v, MPMP_INT64, NULL, 0), 0);
  assert_int_equal(mpmp_queue_create(&a.ready, 0, 8), 0);
  assert_int_equal(mpmp_queue_create(&a.go, 0, 8), 0);
  parked_t pk;
  mpmp_process_t *p = start_producer(&a, &pk);
  int64_t v;
  assert_int_equal(mpmp_queue_get(a.ready, &v, sizeof v, NULL, 60), 0);
  assert_int_equal(mpmp_value_load(a.v, &v), 0);
  assert_int_equal(v, 1);
  assert_int_equal(mpmp_value_free(a.v), 0);
  presult_t r;
  finish_learned(&a, p, &pk, &r);
  if (r.rc[0] == 0) { /* pipelined: told by a later add */
    int told = r.rc[1] == MPMP_EBADF ? 1 : 2;
    if (told == 2)
      assert_int_equal(r.rc[1], 0);
    assert_int_equal(r.rc[told], MPMP_EBADF);
    assert_non_null(strstr(r.msg[told], "made to this Value before were not "
                                        "applied"));
    assert_int_equal(r.rc[3], MPMP_EBADF);
  } else { /* one node: refused at once */
    for (int k = 0; k < 4; k++)
      assert_int_equal(r.rc[k], MPMP_EBADF);
  }
  assert_non_null(strstr(r.msg[3], "freed"));
  assert_int_equal(mpmp_queue_free(a.ready), 0);
  assert_int_equal(mpmp_queue_free(a.go), 0);
}

/* Receive `senders` streams of NS messages from `in` and check each
 * message, and each sender's order. */
static void expect_streams(mpmp_conn_t in, int senders) {
  int64_t next[2] = {0, 0};
  unsigned char m[512];
  for (int64_t k = 0; k < (int64_t)senders * NS; k++) {
    size_t n = 0;
    int rc = mpmp_conn_recv(in, m, sizeof m, &n, 60);
    if (rc != 0)
      fail_msg("message %lld: %s", (long long)k, mpmp_errmsg());
    int id = m[0];
    assert_true(id >= 0 && id < senders);
    int64_t i = next[id]++;
    assert_int_equal(n, msg_len(i));
    for (size_t j = 1; j < n; j++)
      if (m[j] != msg_byte(id, i, j))
        fail_msg("sender %d, message %lld: byte %zu is %u, not %u", id,
                 (long long)i, j, m[j], msg_byte(id, i, j));
  }
  assert_int_equal(next[0], NS);
  if (senders > 1)
    assert_int_equal(next[1], NS);
  assert_int_equal(mpmp_conn_poll(in, 0), 0); /* nothing more */
}

/* A stream many times the ring's size from another node: the receiver
 * starts late (the ring fills, the sender's room runs out and it waits),
 * and gets every message, in order. */
static void sends_arrive_in_order_past_the_ring(void **state) {
  (void)state;
  pargs_t a = {.mode = M_SENDS};
  mpmp_conn_t in;
  assert_int_equal(mpmp_pipe_create(&in, &a.out, 0), 0);
  parked_t pk;
  mpmp_process_t *p = start_producer(&a, &pk);
  test_sleep(0.2);
  expect_streams(in, 1);
  join_destroy_within(p, 120);
  unpark(&pk);
  assert_int_equal(mpmp_pipe_free(in, a.out), 0);
}

/* Two senders on one end (one on another node where there is one, the
 * other wherever a worker is free): each counts on the room it last
 * heard of, which the other takes too; the home node then waits for room
 * for one of them, and nothing is lost or reordered. */
static void two_senders_on_one_end_lose_nothing(void **state) {
  (void)state;
  pargs_t a = {.mode = M_SENDS}, b;
  mpmp_conn_t in;
  assert_int_equal(mpmp_pipe_create(&in, &a.out, 0), 0);
  parked_t pk;
  mpmp_process_t *p = start_producer(&a, &pk), *q = NULL;
  b = a;
  b.anywhere = 1;
  b.id = 1;
  assert_int_equal(mpmp_process_create(&q, producer, &b, sizeof b, NULL), 0);
  int rc = mpmp_process_start(q);
  if (rc == MPMP_EBUSY) { /* no second worker (-n 2) */
    mpmp_process_destroy(q);
    q = NULL;
  } else {
    assert_int_equal(rc, 0);
  }
  test_sleep(0.3);
  expect_streams(in, q != NULL ? 2 : 1);
  join_destroy_within(p, 120);
  if (q != NULL)
    join_destroy_within(q, 120);
  unpark(&pk);
  assert_int_equal(mpmp_pipe_free(in, a.out), 0);
}

/* The receiving end closed while a send is on its way: the next send says
 * it was not delivered, the one after fails as any send would. */
static void send_after_a_close_is_reported_by_the_next_send(void **state) {
  (void)state;
  pargs_t a = {.mode = M_SEND_CLOSED};
  mpmp_conn_t in;
  assert_int_equal(mpmp_pipe_create(&in, &a.out, 0), 0);
  assert_int_equal(mpmp_queue_create(&a.ready, 0, 8), 0);
  assert_int_equal(mpmp_queue_create(&a.go, 0, 8), 0);
  parked_t pk;
  presult_t r;
  mpmp_process_t *p = start_producer(&a, &pk);
  int64_t v;
  assert_int_equal(mpmp_queue_get(a.ready, &v, sizeof v, NULL, 60), 0);
  assert_int_equal(mpmp_conn_recv(in, &v, sizeof v, NULL, T), 0);
  assert_int_equal(v, -1);
  assert_int_equal(mpmp_conn_close(in), 0);
  finish_learned(&a, p, &pk, &r);
  if (r.rc[0] == 0) { /* pipelined: told by the next send */
    assert_int_equal(r.rc[1], MPMP_EPIPE);
    assert_non_null(strstr(r.msg[1], "1 message(s) sent on this connection "
                                     "before were not delivered"));
    assert_non_null(strstr(r.msg[1], "closed"));
  } else { /* one node: refused at once */
    assert_int_equal(r.rc[0], MPMP_EPIPE);
    assert_int_equal(r.rc[1], MPMP_EPIPE);
  }
  assert_int_equal(r.rc[2], MPMP_EPIPE);
  assert_non_null(strstr(r.msg[2], "closed"));
  assert_int_equal(mpmp_queue_free(a.ready), 0);
  assert_int_equal(mpmp_queue_free(a.go), 0);
  assert_int_equal(mpmp_pipe_free(in, a.out), 0);
}

/* A Process closes a queue and a pipe's receiving end and frees a Value,
 * all of the main rank's node, after puts, sends and adds that made them
 * known: its next put, add and send fail at once (not pipelined), as they
 * do on one node; what it put and sent before is there. */
static void calls_after_own_close_fail_at_once(void **state) {
  (void)state;
  pargs_t a = {.mode = M_OWN_CLOSE};
  assert_int_equal(mpmp_queue_create(&a.q, 0, 8), 0);
  assert_int_equal(mpmp_value_create(&a.v, MPMP_INT64, NULL, 0), 0);
  assert_int_equal(mpmp_pipe_create(&a.in, &a.out, 0), 0);
  parked_t pk;
  mpmp_process_t *p = start_producer(&a, &pk);
  size_t size;
  const presult_t *r = join_result_within(p, 60, &size);
  assert_int_equal(size, sizeof *r);
  assert_int_equal(r->rc[0], MPMP_EPIPE);
  assert_int_equal(r->rc[1], MPMP_EBADF);
  assert_int_equal(r->rc[2], MPMP_EPIPE);
  mpmp_process_destroy(p);
  unpark(&pk);
  int64_t v;
  expect_now(a.q, 1, 2, 0);
  assert_int_equal(mpmp_queue_get(a.q, &v, sizeof v, NULL, 0), MPMP_EEOF);
  assert_int_equal(mpmp_queue_free(a.q), 0);
  assert_int_equal(mpmp_pipe_free(a.in, a.out), 0);
}

/* The main rank closes a queue (bounded or not) while a producer of
 * another node streams puts into it: the first put that fails says how
 * many of those that returned 0 were not delivered, and the count is
 * exact (what returned 0, less those, is what the main rank got); every
 * put after it fails (MPMP_EPIPE), none returns 0 and loses its item.
 * Racy: a few rounds. */
static void puts_racing_a_close_are_all_accounted_for(void **state) {
  (void)state;
  for (int round = 0; round < 6; round++) {
    pargs_t a = {.mode = M_CLOSE_RACE};
    int maxsize = round % 2 ? 64 : 0;
    assert_int_equal(mpmp_queue_create(&a.q, maxsize, 8), 0);
    parked_t pk;
    mpmp_process_t *p = start_producer(&a, &pk);
    int64_t v, got = 0, last = -1;
    double t0 = test_now();
    while (test_now() - t0 < 0.15 + 0.05 * round)
      if (mpmp_queue_get(a.q, &v, sizeof v, NULL, 0.05) == 0) {
        assert_int_equal(v, last + 1);
        last = v;
        got++;
      }
    assert_int_equal(mpmp_queue_close(a.q), 0);
    int rc;
    while ((rc = mpmp_queue_get(a.q, &v, sizeof v, NULL, T)) == 0) {
      assert_int_equal(v, last + 1);
      last = v;
      got++;
    }
    assert_int_equal(rc, MPMP_EEOF);
    size_t size;
    const presult_t *r = join_result_within(p, 60, &size);
    assert_int_equal(size, sizeof *r);
    if (r->rc[3] != MPMP_EPIPE || r->rc[2] != 0 ||
        r->rc[0] - r->rc[1] != got)
      fail_msg("round %d (maxsize %d): %d puts returned 0, %d said not "
               "delivered, %lld got; stopped by %d [%s]; %d later puts "
               "did not fail [%s]", round, maxsize, r->rc[0], r->rc[1],
               (long long)got, r->rc[3], r->msg[0], r->rc[2], r->msg[1]);
    mpmp_process_destroy(p);
    unpark(&pk);
    assert_int_equal(mpmp_queue_free(a.q), 0);
  }
}

/* The same for sends on a pipe whose receiving end the main rank closes:
 * once a send failed, every later one does (none returns 0). */
static void sends_racing_a_close_all_fail_after_the_first(void **state) {
  (void)state;
  for (int round = 0; round < 4; round++) {
    pargs_t a = {.mode = M_SEND_RACE};
    mpmp_conn_t in;
    assert_int_equal(mpmp_pipe_create(&in, &a.out, 0), 0);
    parked_t pk;
    mpmp_process_t *p = start_producer(&a, &pk);
    int64_t v;
    double t0 = test_now();
    while (test_now() - t0 < 0.15 + 0.05 * round)
      (void)mpmp_conn_recv(in, &v, sizeof v, NULL, 0.05);
    assert_int_equal(mpmp_conn_close(in), 0);
    size_t size;
    const presult_t *r = join_result_within(p, 60, &size);
    assert_int_equal(size, sizeof *r);
    if (r->rc[3] != MPMP_EPIPE || r->rc[2] != 0)
      fail_msg("round %d: stopped by %d [%s]; %d later sends did not fail "
               "[%s]", round, r->rc[3], r->msg[0], r->rc[2], r->msg[1]);
    mpmp_process_destroy(p);
    unpark(&pk);
    assert_int_equal(mpmp_pipe_free(in, a.out), 0);
  }
}

/* Puts, then a set of a Manager dict that runs in place (the producer on
 * the dict's node): the main rank, once it sees the set, finds every
 * item in the queue. */
static void puts_happen_before_a_managers_call_in_place(void **state) {
  (void)state;
  if (mpmp_world_size() < 4) /* the server and a producer besides main */
    skip();
  mpmp_manager_t m;
  assert_int_equal(mpmp_manager_start(&m), 0);
  for (int round = 0; round < 3; round++) {
    pargs_t a = {.mode = M_DICT};
    assert_int_equal(mpmp_queue_create(&a.q, 0, 8), 0);
    assert_int_equal(mpmp_queue_create(&a.go, 0, 8), 0);
    assert_int_equal(mpmp_dict_create(m, &a.d), 0);
    int64_t v = 0;
    size_t n;
    assert_int_equal(mpmp_dict_set(a.d, "done", &v, sizeof v), 0);
    parked_t pk;
    mpmp_process_t *p = start_producer(&a, &pk);
    double t0 = test_now();
    while (v != 1) {
      assert_int_equal(mpmp_dict_get(a.d, "done", &v, sizeof v, &n), 0);
      if (test_now() - t0 > 60)
        fail_msg("the producer did not set done");
    }
    assert_int_equal(mpmp_queue_qsize(a.q), N);
    assert_int_equal(mpmp_queue_put(a.go, &v, sizeof v, T), 0);
    join_destroy_within(p, 60);
    unpark(&pk);
    assert_int_equal(mpmp_queue_free(a.q), 0);
    assert_int_equal(mpmp_queue_free(a.go), 0);
  }
  assert_int_equal(mpmp_manager_shutdown(m), 0);
}

/* A put to a Manager's queue after this rank shut the Manager down is
 * MPMP_EBADF, also once earlier puts made the queue known (pipelined
 * from another node than the server's). */
static void puts_after_a_managers_shutdown_fail(void **state) {
  (void)state;
  for (int maxsize = 0; maxsize <= 4; maxsize += 4) {
    mpmp_manager_t m;
    mpmp_queue_t q;
    assert_int_equal(mpmp_manager_start(&m), 0);
    assert_int_equal(mpmp_manager_queue(m, &q, maxsize, 8), 0);
    int64_t v = 1;
    assert_int_equal(mpmp_queue_put(q, &v, sizeof v, T), 0);
    assert_int_equal(mpmp_queue_put(q, &v, sizeof v, T), 0);
    assert_int_equal(mpmp_queue_get(q, &v, sizeof v, NULL, T), 0);
    assert_int_equal(mpmp_manager_shutdown(m), 0);
    for (int k = 0; k < 3; k++)
      assert_int_equal(mpmp_queue_put(q, &v, sizeof v, T), MPMP_EBADF);
  }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(puts_arrive_before_the_join),
    cmocka_unit_test(calls_before_a_crash_arrive),
    cmocka_unit_test(items_done_before_a_crash_have_their_puts),
    cmocka_unit_test(threads_put_and_get_on_a_far_bounded_queue),
    cmocka_unit_test(puts_arrive_before_an_event),
    cmocka_unit_test(puts_wait_for_room_when_the_heap_is_full),
    cmocka_unit_test(a_producers_own_gets_find_its_puts),
    cmocka_unit_test(puts_alternating_between_queues_keep_order),
    cmocka_unit_test(put_after_a_close_is_reported_by_the_next_put),
    cmocka_unit_test(a_big_item_is_refused_at_once),
    cmocka_unit_test(bounded_puts_stop_at_maxsize),
    cmocka_unit_test(bounded_puts_wait_for_room_taken_by_others),
    cmocka_unit_test(calls_after_items_waiting_for_room_keep_their_timeout),
    cmocka_unit_test(signals_after_items_waiting_for_room_are_not_lost),
    cmocka_unit_test(adds_and_stores_arrive_in_order),
    cmocka_unit_test(add_after_a_free_is_reported_by_the_next_add),
    cmocka_unit_test(sends_arrive_in_order_past_the_ring),
    cmocka_unit_test(two_senders_on_one_end_lose_nothing),
    cmocka_unit_test(send_after_a_close_is_reported_by_the_next_send),
    cmocka_unit_test(calls_after_own_close_fail_at_once),
    cmocka_unit_test(puts_racing_a_close_are_all_accounted_for),
    cmocka_unit_test(sends_racing_a_close_all_fail_after_the_first),
    cmocka_unit_test(puts_happen_before_a_managers_call_in_place),
    cmocka_unit_test(puts_after_a_managers_shutdown_fail),
};

MPMP_TEST_MAIN(tests)
