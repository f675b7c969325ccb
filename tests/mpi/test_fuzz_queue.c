/*
 * Fuzz: Queue, JoinableQueue, SimpleQueue, Pipe and connection.wait() with
 * NULL pointers, zero and huge sizes, NaN timeouts (MPMP_EINVAL, and
 * nothing put, taken or lost), in the wrong state (after close, on the
 * wrong end of a one-way pipe, after the other end was closed or freed,
 * task_done too often), and with the legal odd timeouts (inf, -inf, 1e300:
 * wait until ready, asleep; -0.0: do not wait). Each group runs in the
 * three places of fuzz_objs.h.
 */
#include "fuzz_objs.h"

enum { G_QUEUE, G_PIPE, G_TIMEOUTS };

static void queue_create_args(void) {
  mpmp_queue_t q;
  FZ_ERR(MPMP_EINVAL, mpmp_queue_create(NULL, 1, 8));
  FZ_ERR(MPMP_EINVAL, mpmp_joinable_queue_create(NULL, 1, 8));
  FZ_ERR(MPMP_EINVAL, mpmp_simple_queue_create(NULL, 8));
  FZ_ERR(MPMP_EINVAL, mpmp_queue_create(&q, 1, 0));
  FZ_ERR(MPMP_EINVAL, mpmp_joinable_queue_create(&q, 1, 0));
  FZ_ERR(MPMP_EINVAL, mpmp_simple_queue_create(&q, 0));
  for (size_t k = 0; k < FZ_NHUGE; k++) {
    FZ_ERR(MPMP_EINVAL, mpmp_queue_create(&q, 1, fz_huge[k]));
    FZ_ERR(MPMP_EINVAL, mpmp_simple_queue_create(&q, fz_huge[k]));
    FZ_ERR2(MPMP_EINVAL, MPMP_ENOSPC, mpmp_queue_create(&q, fz_huge[k], 8));
    FZ_ERR2(MPMP_EINVAL, MPMP_ENOSPC,
            mpmp_joinable_queue_create(&q, fz_huge[k], 8));
  }
}

/* Put and get with bad arguments: refused, and the queue as it was. */
static void queue_args(mpmp_queue_t q) {
  char big[FZ_QITEM + 1] = {0}, buf[FZ_QITEM];
  size_t n = 0;
  FZ_ERR(MPMP_EINVAL, mpmp_queue_put(q, NULL, 5, 0));
  FZ_ERR(MPMP_EINVAL, mpmp_queue_put_nowait(q, NULL, 5));
  for (size_t k = 0; k < FZ_NHUGE; k++) {
    FZ_ERR(MPMP_EMSGSIZE, mpmp_queue_put(q, big, fz_huge[k], 0));
    FZ_ERR(MPMP_EMSGSIZE, mpmp_queue_put_nowait(q, big, fz_huge[k]));
  }
  FZ_ERR(MPMP_EMSGSIZE, mpmp_queue_put(q, big, sizeof big, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_queue_put(q, "x", 1, NAN));
  FZ_EQ(0, mpmp_queue_qsize(q)); /* nothing was put */
  FZ_EQ(0, mpmp_queue_put(q, "hello", 5, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_queue_get(q, NULL, 8, &n, 0));
  FZ_ERR(MPMP_EINVAL, mpmp_queue_get_nowait(q, NULL, 8, &n));
  FZ_ERR(MPMP_EMSGSIZE, mpmp_queue_get(q, buf, 2, &n, 0));
  FZ_TRUE(n == 5, "EMSGSIZE reported a size of %zu, not 5", n);
  FZ_ERR(MPMP_EMSGSIZE, mpmp_queue_get(q, NULL, 0, &n, 0));
  FZ_ERR(MPMP_EINVAL, mpmp_queue_get(q, buf, sizeof buf, &n, NAN));
  FZ_EQ(1, mpmp_queue_qsize(q)); /* the item stays */
  FZ_EQ(0, mpmp_queue_get(q, buf, sizeof buf, NULL, 0));
  FZ_TRUE(!memcmp(buf, "hello", 5), "the item came back changed");
  FZ_TIMEOUT(mpmp_queue_get(q, buf, sizeof buf, &n, 0));
  FZ_TIMEOUT(mpmp_queue_get(q, buf, sizeof buf, &n, -0.0));
  FZ_TIMEOUT(mpmp_queue_get_nowait(q, buf, sizeof buf, &n));
  FZ_TIMEOUT(mpmp_queue_get(q, buf, sizeof buf, &n, 0.01));
}

static void queue_full(mpmp_queue_t q) {
  char buf[FZ_QITEM];
  for (int i = 0; i < FZ_QMAX; i++)
    FZ_EQ(0, mpmp_queue_put(q, "i", 1, 1));
  FZ_EQ(1, mpmp_queue_full(q));
  FZ_EQ(0, mpmp_queue_empty(q));
  FZ_EQ(FZ_QMAX, mpmp_queue_capacity(q));
  FZ_TIMEOUT(mpmp_queue_put(q, "x", 1, 0));
  FZ_TIMEOUT(mpmp_queue_put(q, "x", 1, -0.0));
  FZ_TIMEOUT(mpmp_queue_put_nowait(q, "x", 1));
  FZ_ERR(MPMP_EINVAL, mpmp_queue_put(q, "x", 1, NAN));
  FZ_EQ(FZ_QMAX, mpmp_queue_qsize(q));
  for (int i = 0; i < FZ_QMAX; i++)
    FZ_EQ(0, mpmp_queue_get(q, buf, sizeof buf, NULL, 1));
  FZ_EQ(1, mpmp_queue_empty(q));
}

static void queue_joinable(const fz_objs_t *o) {
  char buf[FZ_QITEM];
  size_t n = 9;
  FZ_ERR(MPMP_ENOTSUP, mpmp_queue_task_done(o->q));
  FZ_ERR(MPMP_ENOTSUP, mpmp_queue_join(o->q, 0));
  FZ_ERR2(MPMP_ENOTSUP, MPMP_EINVAL, mpmp_queue_join(o->q, NAN));
  FZ_ERR(MPMP_EPERM, mpmp_queue_task_done(o->jq)); /* nothing was put */
  FZ_EQ(0, mpmp_queue_join(o->jq, 0));
  FZ_EQ(0, mpmp_queue_put(o->jq, NULL, 0, 1)); /* a sentinel */
  FZ_TIMEOUT(mpmp_queue_join(o->jq, 0));
  FZ_ERR(MPMP_EINVAL, mpmp_queue_join(o->jq, NAN));
  FZ_EQ(0, mpmp_queue_get(o->jq, buf, sizeof buf, &n, 1));
  FZ_TRUE(n == 0, "the empty item came back with %zu bytes", n);
  FZ_TIMEOUT(mpmp_queue_join(o->jq, 0.01));
  FZ_EQ(0, mpmp_queue_task_done(o->jq));
  FZ_ERR(MPMP_EPERM, mpmp_queue_task_done(o->jq));
  FZ_EQ(0, mpmp_queue_join(o->jq, 0));
}

/* After close: no puts, the queued items still come, then end of file. */
static void queue_closed(mpmp_queue_t q) {
  char buf[FZ_QITEM];
  size_t n = 0;
  FZ_EQ(0, mpmp_queue_put(q, "last", 4, 1));
  FZ_EQ(0, mpmp_queue_close(q));
  FZ_EQ(0, mpmp_queue_close(q));
  FZ_ERR(MPMP_EPIPE, mpmp_queue_put(q, "x", 1, 0));
  FZ_ERR(MPMP_EPIPE, mpmp_queue_put(q, "x", 1, 0.01));
  FZ_ERR(MPMP_EPIPE, mpmp_queue_put_nowait(q, "x", 1));
  FZ_ERR2(MPMP_EPIPE, MPMP_EINVAL, mpmp_queue_put(q, "x", 1, NAN));
  FZ_EQ(1, mpmp_queue_qsize(q));
  FZ_ERR2(MPMP_EINVAL, MPMP_EMSGSIZE, mpmp_queue_get(q, buf, 2, &n, NAN));
  FZ_EQ(0, mpmp_queue_get(q, buf, sizeof buf, &n, 0));
  FZ_TRUE(n == 4 && !memcmp(buf, "last", 4), "the last item was lost");
  FZ_ERR(MPMP_EEOF, mpmp_queue_get(q, buf, sizeof buf, &n, 0));
  FZ_ERR(MPMP_EEOF, mpmp_queue_get(q, buf, sizeof buf, &n, 0.01));
  FZ_ERR(MPMP_EEOF, mpmp_queue_get_nowait(q, buf, sizeof buf, &n));
  FZ_ERR2(MPMP_EEOF, MPMP_EINVAL, mpmp_queue_get(q, buf, sizeof buf, &n, NAN));
  FZ_EQ(1, mpmp_queue_empty(q));
  FZ_EQ(0, mpmp_queue_full(q));
  FZ_EQ(0, mpmp_queue_qsize(q));
}

/* ---- Pipe ------------------------------------------------------------------ */

static void pipe_args(const fz_objs_t *o) {
  mpmp_conn_t a, b;
  char buf[FZ_QITEM];
  size_t n = 0;
  FZ_ERR(MPMP_EINVAL, mpmp_pipe_create(NULL, &b, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_pipe_create(&a, NULL, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_pipe_create(NULL, NULL, 0));
  FZ_ERR(MPMP_EINVAL, mpmp_conn_send(o->c1, NULL, 5, 0));
  for (size_t k = 0; k < FZ_NHUGE; k++)
    FZ_ERR(MPMP_EMSGSIZE, mpmp_conn_send(o->c1, buf, fz_huge[k], 0));
  FZ_ERR(MPMP_EMSGSIZE, mpmp_conn_send(o->c1, buf, MPMP_PIPE_MAX_MESSAGE + 1, 0));
  FZ_ERR(MPMP_EINVAL, mpmp_conn_send(o->c1, "x", 1, NAN));
  FZ_EQ(0, mpmp_conn_poll(o->c2, 0)); /* nothing was sent */
  FZ_EQ(0, mpmp_conn_send(o->c1, "hello", 5, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_conn_poll(o->c2, NAN));
  FZ_ERR(MPMP_EINVAL, mpmp_conn_recv(o->c2, NULL, 8, &n, 0));
  FZ_ERR(MPMP_EMSGSIZE, mpmp_conn_recv(o->c2, buf, 2, &n, 0));
  FZ_TRUE(n == 5, "EMSGSIZE reported a size of %zu, not 5", n);
  FZ_ERR(MPMP_EINVAL, mpmp_conn_recv(o->c2, buf, sizeof buf, &n, NAN));
  FZ_EQ(1, mpmp_conn_poll(o->c2, 0)); /* the message stays */
  FZ_EQ(0, mpmp_conn_recv(o->c2, buf, sizeof buf, &n, 0));
  FZ_TRUE(n == 5 && !memcmp(buf, "hello", 5), "the message came changed");
  FZ_TIMEOUT(mpmp_conn_recv(o->c2, buf, sizeof buf, &n, 0));
  FZ_TIMEOUT(mpmp_conn_recv(o->c2, buf, sizeof buf, &n, -0.0));
  FZ_TIMEOUT(mpmp_conn_recv(o->c2, buf, sizeof buf, &n, 0.01));
  FZ_EQ(0, mpmp_conn_poll(o->c2, -0.0));
  FZ_EQ(0, mpmp_conn_send(o->c2, NULL, 0, 1)); /* an empty message */
  FZ_EQ(0, mpmp_conn_recv(o->c1, NULL, 0, &n, 1));
  FZ_TRUE(n == 0, "the empty message came with %zu bytes", n);
}

static void pipe_one_way(const fz_objs_t *o) {
  char buf[FZ_QITEM];
  size_t n;
  FZ_ERR(MPMP_EPERM, mpmp_conn_send(o->rx, "x", 1, 0));
  FZ_ERR(MPMP_EPERM, mpmp_conn_recv(o->tx, buf, sizeof buf, &n, 0));
  FZ_ERR(MPMP_EPERM, mpmp_conn_poll(o->tx, 0));
  FZ_ERR(MPMP_EPERM, mpmp_conn_wait(&o->tx.ref, 1, 0, NULL));
  FZ_EQ(0, mpmp_conn_poll(o->rx, 0));
}

static void conn_wait_args(const fz_objs_t *o) {
  mpmp_ref_t objs[3] = {o->c2.ref, o->q.ref, o->c1.ref};
  mpmp_ref_t bad[2] = {o->c2.ref, o->freed[KQ]};
  mpmp_ref_t zero[2] = {o->c2.ref, {0}};
  int ready[3] = {-1, -1, -1};
  char buf[FZ_QITEM];
  FZ_ERR(MPMP_EINVAL, mpmp_conn_wait(NULL, 1, 0, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_conn_wait(objs, 0, 0, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_conn_wait(objs, -1, 0, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_conn_wait(objs, INT32_MIN, 0, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_conn_wait(objs, 2, NAN, ready));
  FZ_ERR(MPMP_EINVAL, mpmp_conn_wait(objs, 1, NAN, ready));
  FZ_ERR(MPMP_EBADF, mpmp_conn_wait(bad, 2, 0, NULL));
  FZ_ERR(MPMP_EBADF, mpmp_conn_wait(zero, 2, 0, NULL));
  FZ_TIMEOUT(mpmp_conn_wait(objs, 2, 0, ready));
  FZ_TIMEOUT(mpmp_conn_wait(objs, 2, -0.0, ready));
  FZ_TIMEOUT(mpmp_conn_wait(objs, 3, 0.01, NULL));
  FZ_EQ(0, mpmp_queue_put(o->q, "w", 1, 1));
  FZ_EQ(1, mpmp_conn_wait(objs, 2, 1, ready));
  FZ_TRUE(ready[0] == 1, "the ready object is %d, not 1 (the queue)", ready[0]);
  FZ_EQ(1, mpmp_conn_wait(objs, 2, 1, NULL));
  FZ_EQ(0, mpmp_queue_get(o->q, buf, sizeof buf, NULL, 1));
}

/* Close one end: its calls are EPIPE; the other end reads what was sent,
 * then end of file, and cannot send. Then free an end. */
static void pipe_closed(const fz_objs_t *o) {
  char buf[FZ_QITEM];
  size_t n = 0;
  FZ_EQ(0, mpmp_conn_send(o->c1, "last", 4, 1));
  FZ_EQ(0, mpmp_conn_close(o->c1));
  FZ_EQ(0, mpmp_conn_close(o->c1));
  FZ_ERR(MPMP_EPIPE, mpmp_conn_send(o->c1, "x", 1, 0));
  FZ_ERR(MPMP_EPIPE, mpmp_conn_recv(o->c1, buf, sizeof buf, &n, 0));
  FZ_ERR(MPMP_EPIPE, mpmp_conn_recv(o->c1, buf, sizeof buf, &n, 0.01));
  FZ_ERR(MPMP_EPIPE, mpmp_conn_poll(o->c1, 0));
  FZ_ERR(MPMP_EPIPE, mpmp_conn_send(o->c2, "x", 1, 0));
  FZ_ERR(MPMP_EPIPE, mpmp_conn_send(o->c2, "x", 1, 0.01));
  FZ_EQ(1, mpmp_conn_poll(o->c2, 0));
  FZ_EQ(0, mpmp_conn_recv(o->c2, buf, sizeof buf, &n, 0));
  FZ_TRUE(n == 4 && !memcmp(buf, "last", 4), "the last message was lost");
  FZ_ERR(MPMP_EEOF, mpmp_conn_recv(o->c2, buf, sizeof buf, &n, 0));
  FZ_ERR(MPMP_EEOF, mpmp_conn_recv(o->c2, buf, sizeof buf, &n, 0.01));
  FZ_EQ(1, mpmp_conn_poll(o->c2, 0)); /* end of file: recv does not wait */
  FZ_EQ(1, mpmp_conn_wait(&o->c2.ref, 1, 0, NULL));
  /* the one-way pipe: free the sending end */
  FZ_EQ(0, mpmp_conn_free(o->tx));
  FZ_ERR(MPMP_EBADF, mpmp_conn_send(o->tx, "x", 1, 0));
  FZ_ERR(MPMP_EBADF, mpmp_conn_free(o->tx));
  FZ_ERR(MPMP_EEOF, mpmp_conn_recv(o->rx, buf, sizeof buf, &n, 0));
  FZ_EQ(1, mpmp_conn_poll(o->rx, 0));
}

/* ---- this process's close (Python's close) --------------------------------- */

/* A Queue and a Pipe closed for this process only: its own calls are
 * EPIPE, the counts still answer, closing again is harmless; a zeroed or
 * freed handle is EBADF; the object stays whole for the others (its free
 * works, the item put before is still counted). */
static void local_closes(void) {
  mpmp_queue_t q, zq = {{0}};
  mpmp_conn_t a, b, zc = {{0}};
  char buf[FZ_QITEM];
  size_t n = 0;
  int ready = -1;
  FZ_ERR(MPMP_EBADF, mpmp_queue_close_local(zq));
  FZ_ERR(MPMP_EBADF, mpmp_conn_close_local(zc));
  if (mpmp_queue_create(&q, 4, FZ_QITEM) == 0) {
    FZ_EQ(0, mpmp_queue_put(q, "kept", 4, 1));
    FZ_EQ(0, mpmp_queue_close_local(q));
    FZ_EQ(0, mpmp_queue_close_local(q));
    FZ_ERR(MPMP_EPIPE, mpmp_queue_put(q, "x", 1, 0));
    FZ_ERR(MPMP_EPIPE, mpmp_queue_put_nowait(q, "x", 1));
    FZ_ERR2(MPMP_EPIPE, MPMP_EINVAL, mpmp_queue_put(q, "x", 1, NAN));
    FZ_ERR(MPMP_EPIPE, mpmp_queue_get(q, buf, sizeof buf, &n, 0.01));
    FZ_ERR(MPMP_EPIPE, mpmp_queue_get_nowait(q, buf, sizeof buf, &n));
    FZ_ERR(MPMP_EPIPE, mpmp_conn_wait(&q.ref, 1, 0, &ready));
    FZ_EQ(1, mpmp_queue_qsize(q));
    FZ_EQ(0, mpmp_queue_empty(q));
    FZ_EQ(0, mpmp_queue_free(q));
    FZ_ERR(MPMP_EBADF, mpmp_queue_close_local(q));
    FZ_ERR(MPMP_EBADF, mpmp_queue_put(q, "x", 1, 0));
  }
  if (mpmp_pipe_create(&a, &b, 1) == 0) {
    FZ_EQ(0, mpmp_conn_send(a, "kept", 4, 1));
    FZ_EQ(0, mpmp_conn_close_local(a));
    FZ_EQ(0, mpmp_conn_close_local(a));
    FZ_ERR(MPMP_EPIPE, mpmp_conn_send(a, "x", 1, 0));
    FZ_ERR(MPMP_EPIPE, mpmp_conn_recv(a, buf, sizeof buf, &n, 0.01));
    FZ_ERR(MPMP_EPIPE, mpmp_conn_poll(a, 0));
    FZ_ERR(MPMP_EPIPE, mpmp_conn_wait(&a.ref, 1, 0, &ready));
    /* (this process's close of one end leaves the other end's reader
     * waiting: no EOF, handles are not counted) */
    FZ_EQ(1, mpmp_conn_poll(b, 0));
    FZ_EQ(0, mpmp_conn_close_local(b));
    FZ_ERR(MPMP_EPIPE, mpmp_conn_recv(b, buf, sizeof buf, &n, 0));
    FZ_EQ(0, mpmp_conn_free(a));
    FZ_EQ(0, mpmp_conn_free(b));
    FZ_ERR(MPMP_EBADF, mpmp_conn_close_local(a));
  }
}

/* ---- odd timeouts: ready a little later ------------------------------------ */


static const fz_objs_t *later_objs;

static void later_put(void *arg) {
  (void)arg;
  mpmp_queue_put(later_objs->q, "p", 1, 10);
}
static void later_get(void *arg) {
  char buf[FZ_QITEM];
  (void)arg;
  mpmp_queue_get(later_objs->q, buf, sizeof buf, NULL, 10);
}
static void later_task_done(void *arg) {
  (void)arg;
  mpmp_queue_task_done(later_objs->jq);
}
static void later_send(void *arg) {
  (void)arg;
  mpmp_conn_send(later_objs->c1, "s", 1, 10);
}


static void odd_timeouts(const fz_objs_t *o) {
  char buf[FZ_QITEM];
  mpmp_ref_t objs[2] = {o->q.ref, o->c2.ref};
  later_objs = o;
  for (size_t k = 0; k < FZ_NODD; k++) {
    double t = fz_odd_timeouts[k];
    if (t == 0) {
      FZ_TIMEOUT(mpmp_queue_get(o->q, buf, sizeof buf, NULL, t));
      FZ_EQ(0, mpmp_conn_poll(o->c2, t));
      continue;
    }
    FZ_WAIT_FOR_LATER(later_put, mpmp_queue_get(o->q, buf, sizeof buf, NULL, t));
    for (int i = 0; i < FZ_QMAX; i++)
      FZ_EQ(0, mpmp_queue_put(o->q, "f", 1, 1));
    FZ_WAIT_FOR_LATER(later_get, mpmp_queue_put(o->q, "f", 1, t));
    for (int i = 0; i < FZ_QMAX; i++)
      FZ_EQ(0, mpmp_queue_get(o->q, buf, sizeof buf, NULL, 1));
    FZ_EQ(0, mpmp_queue_put(o->jq, "j", 1, 1));
    FZ_EQ(0, mpmp_queue_get(o->jq, buf, sizeof buf, NULL, 1));
    FZ_WAIT_FOR_LATER(later_task_done, mpmp_queue_join(o->jq, t));
    FZ_WAIT_FOR_LATER(later_send, mpmp_conn_recv(o->c2, buf, sizeof buf, NULL, t));
    FZ_WAIT_FOR_LATER(later_send, mpmp_conn_poll(o->c2, t));
    FZ_EQ(0, mpmp_conn_recv(o->c2, buf, sizeof buf, NULL, 1));
    FZ_WAIT_FOR_LATER(later_put, mpmp_conn_wait(objs, 2, t, NULL));
    FZ_WAIT_FOR_LATER(later_send, mpmp_conn_wait(&objs[1], 1, t, NULL));
    FZ_EQ(0, mpmp_queue_get(o->q, buf, sizeof buf, NULL, 1));
    FZ_EQ(0, mpmp_conn_recv(o->c2, buf, sizeof buf, NULL, 1));
  }
}

static void fz_group(int group, const fz_objs_t *o, uint64_t seed) {
  (void)seed;
  if (group == G_QUEUE) {
    queue_create_args();
    queue_args(o->q);
    queue_full(o->q);
    queue_joinable(o);
    queue_closed(o->q);
    local_closes();
  } else if (group == G_PIPE) {
    pipe_args(o);
    pipe_one_way(o);
    conn_wait_args(o);
    pipe_closed(o);
  } else {
    odd_timeouts(o);
  }
}

FZ_PLACES(fuzz_queue, G_QUEUE)
FZ_PLACES(fuzz_pipe, G_PIPE)
FZ_PLACES(fuzz_queue_pipe_odd_timeouts, G_TIMEOUTS)

static const struct CMUnitTest tests[] = {
    FZ_PLACES_TESTS(fuzz_queue),
    FZ_PLACES_TESTS(fuzz_pipe),
    FZ_PLACES_TESTS(fuzz_queue_pipe_odd_timeouts),
};

MPMP_TEST_MAIN(tests)
