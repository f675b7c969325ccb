/* Queue, Pipe and connection.wait: every timeout (and the object usable
 * after it), a blocked get woken by a put, and every error, random bytes as
 * handles included.
 *
 * Runs on 1 node and on 2 pseudo-nodes, where objects made by the main rank
 * are remote for ranks 1 and 3, and objects made in their process bodies
 * are remote for the main rank. */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "queue_common.h"

/* ---- timeouts ------------------------------------------------------------ */

static void queue_timeouts_leave_it_usable(void **state) {
  (void)state;
  mpmp_queue_t q;
  char b[8];
  size_t n;
  assert_int_equal(mpmp_queue_create(&q, 2, 8), 0);
  double t0 = test_now();
  assert_int_equal(mpmp_queue_get(q, b, sizeof b, &n, 0.2), MPMP_ETIMEDOUT);
  assert_waited(t0, 0.2);
  assert_non_null(strstr(mpmp_errmsg(), "mpmp_queue_get"));
  assert_int_equal(mpmp_queue_get_nowait(q, b, sizeof b, &n), MPMP_ETIMEDOUT);
  assert_int_equal(mpmp_queue_get(q, b, sizeof b, &n, 0), MPMP_ETIMEDOUT);
  assert_int_equal(mpmp_queue_put(q, "a", 1, 0), 0);
  assert_int_equal(mpmp_queue_put_nowait(q, "b", 1), 0);
  assert_int_equal(mpmp_queue_full(q), 1);
  assert_int_equal(mpmp_queue_qsize(q), 2);
  t0 = test_now();
  assert_int_equal(mpmp_queue_put(q, "c", 1, 0.2), MPMP_ETIMEDOUT);
  assert_waited(t0, 0.2);
  assert_int_equal(mpmp_queue_put_nowait(q, "c", 1), MPMP_ETIMEDOUT);
  assert_int_equal(mpmp_queue_get(q, b, sizeof b, &n, T), 0);
  assert_true(n == 1 && b[0] == 'a');
  assert_int_equal(mpmp_queue_put(q, "c", 1, T), 0);
  assert_int_equal(mpmp_queue_get(q, b, sizeof b, &n, T), 0);
  assert_true(n == 1 && b[0] == 'b');
  assert_int_equal(mpmp_queue_get(q, b, sizeof b, &n, T), 0);
  assert_true(n == 1 && b[0] == 'c');
  assert_int_equal(mpmp_queue_empty(q), 1);
  assert_int_equal(mpmp_queue_free(q), 0);
}

typedef struct late {
  mpmp_queue_t q;
  mpmp_conn_t c;
  double delay;
  int use_pipe;
} late_t;

/* Put (or send) one item after a delay. */
static int late_sender(mpmp_ctx_t *ctx) {
  const late_t *a = mpmp_arg(ctx, NULL);
  test_sleep(a->delay);
  int rc = a->use_pipe ? mpmp_conn_send(a->c, "late", 4, T)
                       : mpmp_queue_put(a->q, "late", 4, T);
  return rc < 0 ? mpmp_fail(ctx, "%s", mpmp_errmsg()) : 0;
}
MPMP_TASK(late_sender);

/* A blocked get (and recv, poll) sleeps and wakes promptly on a put. */
static void queue_blocked_get_wakes_on_put(void **state) {
  (void)state;
  late_t a = {.delay = 0.2};
  mpmp_conn_t mine;
  char b[8];
  size_t n;
  assert_int_equal(mpmp_queue_create(&a.q, 4, 8), 0);
  assert_int_equal(mpmp_pipe_create(&mine, &a.c, 1), 0);
  for (int use_pipe = 0; use_pipe < 2; use_pipe++) {
    a.use_pipe = use_pipe;
    mpmp_process_t *p = start_process(late_sender, &a, sizeof a);
    double t0 = test_now();
    if (use_pipe) {
      assert_int_equal(mpmp_conn_poll(mine, T), 1);
      assert_int_equal(mpmp_conn_recv(mine, b, sizeof b, &n, T), 0);
    } else {
      assert_int_equal(mpmp_queue_get(a.q, b, sizeof b, &n, T), 0);
    }
    double w = elapsed_since(t0);
    assert_true(w >= 0.15 && w < 2.0);
    assert_int_equal(n, 4);
    assert_memory_equal(b, "late", 4);
    join_destroy_within(p, 60);
  }
  assert_int_equal(mpmp_queue_free(a.q), 0);
  assert_int_equal(mpmp_pipe_free(mine, a.c), 0);
}

static void pipe_poll_timeouts(void **state) {
  (void)state;
  mpmp_conn_t a, b;
  char buf[8];
  size_t n;
  assert_int_equal(mpmp_pipe_create(&a, &b, 1), 0);
  double t0 = test_now();
  mpmp_errmsg_clear();
  assert_int_equal(mpmp_conn_poll(a, 0.2), 0);
  assert_waited(t0, 0.2);
  /* "nothing to read" is an answer: no message, as errno after success */
  assert_string_equal(mpmp_errmsg(), "");
  assert_int_equal(mpmp_conn_recv(a, buf, sizeof buf, &n, 0), MPMP_ETIMEDOUT);
  char before[256];
  snprintf(before, sizeof before, "%s", mpmp_errmsg());
  assert_int_equal(mpmp_conn_poll(a, 0), 0);
  assert_string_equal(mpmp_errmsg(), before); /* the earlier one stays */
  t0 = test_now();
  assert_int_equal(mpmp_conn_recv(a, buf, sizeof buf, &n, 0.2),
                   MPMP_ETIMEDOUT);
  assert_waited(t0, 0.2);
  assert_int_equal(mpmp_conn_send(b, "xy", 2, 0), 0);
  assert_int_equal(mpmp_conn_poll(a, 0), 1);
  assert_int_equal(mpmp_conn_poll(a, T), 1);
  assert_int_equal(mpmp_conn_recv(a, buf, sizeof buf, &n, 0), 0);
  assert_int_equal(n, 2);
  assert_int_equal(mpmp_conn_poll(a, 0), 0);
  assert_int_equal(mpmp_conn_poll(b, 0), 0);
  /* a full pipe: a send that cannot fit times out, and is withdrawn */
  size_t big = MPMP_PIPE_BUFFER / 2;
  char *m = calloc(1, big);
  assert_int_equal(mpmp_conn_send(a, m, big, T), 0);
  t0 = test_now();
  assert_int_equal(mpmp_conn_send(a, m, big, 0.2), MPMP_ETIMEDOUT);
  assert_waited(t0, 0.2);
  assert_int_equal(mpmp_conn_send(a, m, big, 0), MPMP_ETIMEDOUT);
  assert_int_equal(mpmp_conn_recv(b, m, big, &n, T), 0);
  assert_int_equal(n, big);
  assert_int_equal(mpmp_conn_poll(b, 0), 0); /* the withdrawn one is gone */
  assert_int_equal(mpmp_conn_send(a, "ok", 2, T), 0);
  assert_int_equal(mpmp_conn_recv(b, buf, sizeof buf, &n, T), 0);
  assert_true(n == 2 && memcmp(buf, "ok", 2) == 0);
  free(m);
  assert_int_equal(mpmp_pipe_free(a, b), 0);
}

/* wait([...]) on several connections and queues. */
static void conn_wait_several_objects(void **state) {
  (void)state;
  late_t a = {.delay = 0.1, .use_pipe = 1};
  mpmp_conn_t x1, x2, y1;
  mpmp_queue_t q;
  int ready[4] = {-1, -1, -1, -1};
  assert_int_equal(mpmp_pipe_create(&x1, &x2, 1), 0);
  assert_int_equal(mpmp_pipe_create(&y1, &a.c, 1), 0);
  assert_int_equal(mpmp_queue_create(&q, 0, 8), 0);
  mpmp_ref_t objs[3] = {x1.ref, q.ref, y1.ref};
  double t0 = test_now();
  assert_int_equal(mpmp_conn_wait(objs, 3, 0.2, ready), MPMP_ETIMEDOUT);
  assert_waited(t0, 0.2);
  assert_int_equal(mpmp_conn_wait(objs, 3, 0, ready), MPMP_ETIMEDOUT);
  mpmp_process_t *p = start_process(late_sender, &a, sizeof a);
  t0 = test_now();
  assert_int_equal(mpmp_conn_wait(objs, 3, T, ready), 1);
  assert_true(elapsed_since(t0) < 2.0);
  assert_int_equal(ready[0], 2);
  join_destroy_within(p, 60);
  assert_int_equal(mpmp_queue_put(q, "q", 1, T), 0);
  assert_int_equal(mpmp_conn_wait(objs, 3, T, ready), 2);
  assert_int_equal(ready[0], 1);
  assert_int_equal(ready[1], 2);
  assert_int_equal(mpmp_conn_wait(objs, 3, T, NULL), 2);
  /* one object: sleeps on it */
  assert_int_equal(mpmp_conn_wait(&objs[1], 1, T, ready), 1);
  assert_int_equal(ready[0], 0);
  assert_int_equal(mpmp_conn_wait(&objs[0], 1, 0.05, ready), MPMP_ETIMEDOUT);
  /* EOF counts as ready, for queues and for pipes */
  char b[8];
  size_t n;
  assert_int_equal(mpmp_queue_get(q, b, sizeof b, &n, T), 0);
  assert_int_equal(mpmp_queue_close(q), 0);
  assert_int_equal(mpmp_conn_close(x2), 0);
  mpmp_ref_t two[2] = {x1.ref, q.ref};
  assert_int_equal(mpmp_conn_wait(two, 2, T, ready), 2);
  /* bad arguments */
  assert_int_equal(mpmp_conn_wait(objs, 0, T, ready), MPMP_EINVAL);
  mpmp_ref_t bad[2] = {x1.ref, {0}};
  assert_int_equal(mpmp_conn_wait(bad, 2, T, ready), MPMP_EBADF);
  assert_non_null(strstr(mpmp_errmsg(), "object 1"));
  mpmp_value_t v;
  assert_int_equal(mpmp_value_create(&v, MPMP_INT32, NULL, 0), 0);
  bad[1] = v.ref;
  assert_int_equal(mpmp_conn_wait(bad, 2, T, ready), MPMP_EBADF);
  assert_int_equal(mpmp_value_free(v), 0);
  assert_int_equal(mpmp_pipe_free(x1, x2), 0);
  assert_int_equal(mpmp_pipe_free(y1, a.c), 0);
  assert_int_equal(mpmp_queue_free(q), 0);
}

/* ---- errors -------------------------------------------------------------- */

static void queue_errors_are_clear(void **state) {
  (void)state;
  mpmp_queue_t q, j;
  char big[100] = {0}, b[16];
  size_t n = 0;
  assert_int_equal(mpmp_queue_create(&q, 0, 0), MPMP_EINVAL);
  assert_int_equal(mpmp_queue_create(NULL, 0, 8), MPMP_EINVAL);
  /* the largest item is 4 GiB less a slot's header, as queue.h says */
  assert_int_equal(mpmp_queue_create(&q, 1, (size_t)UINT32_MAX - 127),
                   MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "over the limit of 4294967167"));
  assert_int_equal(mpmp_queue_create(&q, 1, (size_t)UINT32_MAX - 128),
                   MPMP_ENOSPC); /* allowed, but not in this heap */
  assert_int_equal(mpmp_queue_create(&q, (size_t)1 << 30, 64), MPMP_ENOSPC);
  assert_non_null(strstr(mpmp_errmsg(), "MPMP_HEAP_SIZE"));
  /* an unbounded one (or a SimpleQueue) has no maxsize to make smaller:
   * the advice is the item size (it said "pass a smaller maxsize") */
  assert_int_equal(mpmp_queue_create(&q, 0, (size_t)1 << 20), MPMP_ENOSPC);
  assert_non_null(strstr(mpmp_errmsg(), "smaller max_item"));
  assert_null(strstr(mpmp_errmsg(), "smaller maxsize"));
  assert_int_equal(mpmp_simple_queue_create(&q, (size_t)1 << 20), MPMP_ENOSPC);
  assert_non_null(strstr(mpmp_errmsg(), "smaller max_item"));
  /* a count no memory holds (a negative one cast) is a mistake: EINVAL */
  assert_int_equal(mpmp_queue_create(&q, (size_t)-1, 8), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "negative count"));
  assert_int_equal(mpmp_queue_create(&q, SIZE_MAX / 64 + 1, 8), MPMP_EINVAL);
  assert_int_equal(mpmp_queue_create(&q, (size_t)INT32_MAX + 1, 8), MPMP_EINVAL);
  assert_int_equal(mpmp_joinable_queue_create(&q, (size_t)-3, 8), MPMP_EINVAL);
  assert_int_equal(mpmp_queue_create(&q, 0, 16), 0);
  assert_true(mpmp_queue_capacity(q) >= 64);
  /* too large for the queue */
  assert_int_equal(mpmp_queue_put(q, big, 17, T), MPMP_EMSGSIZE);
  assert_non_null(strstr(mpmp_errmsg(), "16 bytes"));
  assert_int_equal(mpmp_queue_put(q, NULL, 3, T), MPMP_EINVAL);
  /* too large for the buffer: reported, and left in the queue */
  assert_int_equal(mpmp_queue_put(q, "0123456789", 10, T), 0);
  assert_int_equal(mpmp_queue_put(q, "ab", 2, T), 0);
  assert_int_equal(mpmp_queue_get(q, b, 4, &n, T), MPMP_EMSGSIZE);
  assert_int_equal(n, 10);
  assert_non_null(strstr(mpmp_errmsg(), "10 bytes"));
  assert_int_equal(mpmp_queue_get(q, NULL, 0, &n, 0), MPMP_EMSGSIZE);
  assert_int_equal(n, 10);
  assert_int_equal(mpmp_queue_qsize(q), 2);
  assert_int_equal(mpmp_queue_get(q, b, sizeof b, &n, T), 0);
  assert_true(n == 10 && memcmp(b, "0123456789", 10) == 0);
  /* close: no more puts; what is queued is delivered; then EOF at once */
  assert_int_equal(mpmp_queue_close(q), 0);
  assert_int_equal(mpmp_queue_close(q), 0);
  assert_int_equal(mpmp_queue_put(q, "x", 1, T), MPMP_EPIPE);
  assert_non_null(strstr(mpmp_errmsg(), "closed"));
  assert_int_equal(mpmp_queue_get(q, b, sizeof b, &n, T), 0);
  assert_true(n == 2 && memcmp(b, "ab", 2) == 0);
  double t0 = test_now();
  assert_int_equal(mpmp_queue_get(q, b, sizeof b, &n, MPMP_FOREVER),
                   MPMP_EEOF);
  assert_true(elapsed_since(t0) < 1.0);
  assert_int_equal(mpmp_queue_get_nowait(q, b, sizeof b, &n), MPMP_EEOF);
  /* JoinableQueue calls on a plain queue */
  assert_int_equal(mpmp_queue_task_done(q), MPMP_ENOTSUP);
  assert_int_equal(mpmp_queue_join(q, 0), MPMP_ENOTSUP);
  assert_int_equal(mpmp_queue_free(q), 0);
  /* a freed queue's handle is stale */
  assert_int_equal(mpmp_queue_put(q, "x", 1, T), MPMP_EBADF);
  assert_int_equal(mpmp_queue_free(q), MPMP_EBADF);
  assert_int_equal(mpmp_joinable_queue_create(&j, 4, 8), 0);
  assert_int_equal(mpmp_queue_task_done(j), MPMP_EPERM);
  assert_int_equal(mpmp_queue_put(j, "x", 1, T), 0);
  assert_int_equal(mpmp_queue_get(j, b, sizeof b, &n, T), 0);
  assert_int_equal(mpmp_queue_task_done(j), 0);
  assert_int_equal(mpmp_queue_task_done(j), MPMP_EPERM);
  assert_int_equal(mpmp_queue_join(j, 0), 0);
  assert_int_equal(mpmp_queue_free(j), 0);
}

static void handles_random_bytes_are_ebadf(void **state) {
  (void)state;
  mpmp_queue_t q;
  mpmp_conn_t c;
  char b[8];
  size_t n;
  srand(12345);
  for (int i = 0; i < 100; i++) {
    unsigned char *p = (unsigned char *)&q;
    for (size_t k = 0; k < sizeof q; k++)
      p[k] = (unsigned char)rand();
    memcpy(&c, &q, sizeof c);
    assert_int_equal(mpmp_queue_put(q, "x", 1, 0), MPMP_EBADF);
    assert_int_equal(mpmp_queue_get(q, b, sizeof b, &n, 0), MPMP_EBADF);
    assert_int_equal(mpmp_queue_qsize(q), MPMP_EBADF);
    assert_int_equal(mpmp_conn_send(c, "x", 1, 0), MPMP_EBADF);
    assert_int_equal(mpmp_conn_recv(c, b, sizeof b, &n, 0), MPMP_EBADF);
    assert_int_equal(mpmp_conn_poll(c, 0), MPMP_EBADF);
    assert_int_equal(mpmp_conn_close(c), MPMP_EBADF);
  }
  memset(&q, 0, sizeof q);
  assert_int_equal(mpmp_queue_put(q, "x", 1, 0), MPMP_EBADF);
  assert_non_null(strstr(mpmp_errmsg(), "never created"));
  /* one kind's handle where another is expected */
  mpmp_conn_t c1, c2;
  assert_int_equal(mpmp_pipe_create(&c1, &c2, 1), 0);
  memcpy(&q, &c1, sizeof q);
  assert_int_equal(mpmp_queue_put(q, "x", 1, 0), MPMP_EBADF);
  assert_non_null(strstr(mpmp_errmsg(), "Pipe connection"));
  assert_int_equal(mpmp_pipe_free(c1, c2), 0);
}

static void pipe_errors_are_clear(void **state) {
  (void)state;
  mpmp_conn_t r, s, a, b;
  char buf[64];
  size_t n;
  assert_int_equal(mpmp_pipe_create(NULL, &s, 1), MPMP_EINVAL);
  /* one handle for both ends: the first end would be lost, never freed */
  assert_int_equal(mpmp_pipe_create(&s, &s, 1), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "same handle"));
  /* one-way: the first end receives, the second sends */
  assert_int_equal(mpmp_pipe_create(&r, &s, 0), 0);
  assert_int_equal(mpmp_conn_send(r, "x", 1, T), MPMP_EPERM);
  assert_non_null(strstr(mpmp_errmsg(), "receive-only"));
  assert_int_equal(mpmp_conn_recv(s, buf, sizeof buf, &n, T), MPMP_EPERM);
  assert_non_null(strstr(mpmp_errmsg(), "send-only"));
  assert_int_equal(mpmp_conn_poll(s, 0), MPMP_EPERM);
  assert_int_equal(mpmp_conn_send(s, "one-way", 7, T), 0);
  assert_int_equal(mpmp_conn_recv(r, buf, sizeof buf, &n, T), 0);
  assert_true(n == 7 && memcmp(buf, "one-way", 7) == 0);
  /* too small a buffer: the size, and the message stays */
  assert_int_equal(mpmp_conn_send(s, "0123456789", 10, T), 0);
  assert_int_equal(mpmp_conn_recv(r, buf, 3, &n, T), MPMP_EMSGSIZE);
  assert_int_equal(n, 10);
  assert_non_null(strstr(mpmp_errmsg(), "10 bytes"));
  assert_int_equal(mpmp_conn_poll(r, 0), 1);
  assert_int_equal(mpmp_conn_recv(r, buf, sizeof buf, &n, T), 0);
  assert_true(n == 10 && memcmp(buf, "0123456789", 10) == 0);
  /* empty messages are messages */
  assert_int_equal(mpmp_conn_send(s, NULL, 0, T), 0);
  assert_int_equal(mpmp_conn_recv(r, NULL, 0, &n, T), 0);
  assert_int_equal(n, 0);
  assert_int_equal(mpmp_conn_send(s, NULL, 5, T), MPMP_EINVAL);
  assert_int_equal(mpmp_conn_send(s, buf, MPMP_PIPE_MAX_MESSAGE + 1, T),
                   MPMP_EMSGSIZE);
  /* close: what was sent still arrives, then EOF; closed ends refuse */
  assert_int_equal(mpmp_conn_send(s, "last", 4, T), 0);
  assert_int_equal(mpmp_conn_close(s), 0);
  assert_int_equal(mpmp_conn_close(s), 0);
  assert_int_equal(mpmp_conn_send(s, "x", 1, T), MPMP_EPIPE);
  assert_non_null(strstr(mpmp_errmsg(), "this connection is closed"));
  assert_int_equal(mpmp_conn_recv(r, buf, sizeof buf, &n, T), 0);
  assert_true(n == 4 && memcmp(buf, "last", 4) == 0);
  double t0 = test_now();
  assert_int_equal(mpmp_conn_recv(r, buf, sizeof buf, &n, MPMP_FOREVER),
                   MPMP_EEOF);
  assert_true(elapsed_since(t0) < 1.0);
  assert_int_equal(mpmp_conn_close(r), 0);
  assert_int_equal(mpmp_conn_recv(r, buf, sizeof buf, &n, T), MPMP_EPIPE);
  /* the wrong direction stays EPERM once closed (queue.h: whatever the
   * state; it was EPIPE) */
  assert_int_equal(mpmp_conn_recv(s, buf, sizeof buf, &n, T), MPMP_EPERM);
  assert_int_equal(mpmp_conn_poll(s, 0), MPMP_EPERM);
  assert_int_equal(mpmp_conn_send(r, "x", 1, T), MPMP_EPERM);
  assert_int_equal(mpmp_pipe_free(r, s), 0);
  assert_int_equal(mpmp_conn_send(s, "x", 1, T), MPMP_EBADF);
  assert_int_equal(mpmp_conn_free(r), MPMP_EBADF);
  /* duplex: the peer's close breaks our sends; freeing one end is a close */
  assert_int_equal(mpmp_pipe_create(&a, &b, 1), 0);
  assert_int_equal(mpmp_conn_close(a), 0);
  assert_int_equal(mpmp_conn_send(b, "x", 1, T), MPMP_EPIPE);
  assert_non_null(strstr(mpmp_errmsg(), "other end"));
  assert_int_equal(mpmp_conn_recv(b, buf, sizeof buf, &n, T), MPMP_EEOF);
  assert_int_equal(mpmp_conn_free(a), 0);
  assert_int_equal(mpmp_conn_poll(a, 0), MPMP_EBADF);
  assert_int_equal(mpmp_conn_recv(b, buf, sizeof buf, &n, T), MPMP_EEOF);
  assert_int_equal(mpmp_conn_free(b), 0);
  assert_int_equal(mpmp_conn_free(b), MPMP_EBADF);
}

/* A get or recv into memory that cannot be written (a PROT_READ mapping,
 * a string literal) is MPMP_EINVAL, and the item or message stays for the
 * next get: the copy came after the take, crashed the caller, and lost the
 * item for everyone (helper 70; on one node a recv so broke the pipe). */
typedef struct ro_objs {
  mpmp_queue_t q;
  mpmp_conn_t c1, c2; /* c2 sends, c1 receives */
} ro_objs_t;

static const char *ro_check(const ro_objs_t *o) {
  static char why[512];
  char *ro = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *lit = (char *)"a string literal, in read-only memory";
  char b[16];
  size_t n = 9;
  if (ro == MAP_FAILED)
    return "mmap failed";
  why[0] = '\0';
  if (mpmp_queue_put(o->q, "item", 4, T) != 0 ||
      mpmp_conn_send(o->c2, "msg", 3, T) != 0)
    snprintf(why, sizeof why, "put/send: %s", mpmp_errmsg());
  for (int k = 0; k < 3 && !why[0]; k++) {
    char *bad = k == 0 ? ro : k == 1 ? ro + 4090 : lit; /* (crosses) */
    int qrc = mpmp_queue_get(o->q, bad, 16, &n, T);
    int said = strstr(mpmp_errmsg(), "cannot be written") != NULL;
    int crc = mpmp_conn_recv(o->c1, bad, 16, &n, T);
    said = said && strstr(mpmp_errmsg(), "cannot be written") != NULL;
    if (qrc != MPMP_EINVAL || crc != MPMP_EINVAL || !said || n != 0)
      snprintf(why, sizeof why, "read-only buffer %d: get %s, recv %s (%s)",
               k, test_code_name(qrc), test_code_name(crc), mpmp_errmsg());
  }
  if (!why[0] && (mpmp_queue_get(o->q, b, sizeof b, &n, T) != 0 || n != 4 ||
                  memcmp(b, "item", 4) != 0))
    snprintf(why, sizeof why, "the item did not stay: %s", mpmp_errmsg());
  if (!why[0] && (mpmp_conn_recv(o->c1, b, sizeof b, &n, T) != 0 || n != 3 ||
                  memcmp(b, "msg", 3) != 0))
    snprintf(why, sizeof why, "the message did not stay: %s",
             mpmp_errmsg());
  munmap(ro, 8192);
  return why[0] ? why : NULL;
}

static int ro_body(mpmp_ctx_t *ctx) {
  const char *why = ro_check(mpmp_arg(ctx, NULL));
  return why ? mpmp_fail(ctx, "on node %d: %s", mpmp_node_id(), why) : 0;
}
MPMP_TASK(ro_body);

static void read_only_buffers_take_nothing(void **state) {
  (void)state;
  ro_objs_t o;
  assert_int_equal(mpmp_queue_create(&o.q, 4, 8), 0);
  assert_int_equal(mpmp_pipe_create(&o.c1, &o.c2, 1), 0);
  const char *why = ro_check(&o);
  if (why)
    fail_msg("on the main rank: %s", why);
  /* and from a Process body: on 2 pseudo-nodes the first is on the other
   * node, where the item is taken by the home node */
  for (int i = 0; i < mpmp_worker_count() && i < 2; i++)
    join_destroy_within(start_process(ro_body, &o, sizeof o), 60);
  assert_int_equal(mpmp_queue_free(o.q), 0);
  assert_int_equal(mpmp_pipe_free(o.c1, o.c2), 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(read_only_buffers_take_nothing),
    cmocka_unit_test(queue_errors_are_clear),
    cmocka_unit_test(handles_random_bytes_are_ebadf),
    cmocka_unit_test(pipe_errors_are_clear),
    cmocka_unit_test(queue_timeouts_leave_it_usable),
    cmocka_unit_test(queue_blocked_get_wakes_on_put),
    cmocka_unit_test(pipe_poll_timeouts),
    cmocka_unit_test(conn_wait_several_objects),
};

MPMP_TEST_MAIN(tests)
