/* The tutorials' Queue and Pipe examples: producer and consumer with a
 * sentinel, a put in a child read after join, even numbers while
 * computing, a Pipe upper-casing, sender and receiver processes.
 *
 * Runs on 1 node and on 2 pseudo-nodes, where objects made by the main rank
 * are remote for ranks 1 and 3, and objects made in their process bodies
 * are remote for the main rank. */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue_common.h"

/* ---- the tutorials ------------------------------------------------------- */

/* producer(q): "Item 0".."Item 4", then None (an empty item). */
static int tut_producer(mpmp_ctx_t *ctx) {
  const mpmp_queue_t *q = mpmp_arg(ctx, NULL);
  char item[32];
  for (int i = 0; i < 5; i++) {
    int n = snprintf(item, sizeof item, "Item %d", i);
    if (mpmp_queue_put(*q, item, (size_t)n + 1, T) < 0)
      return mpmp_fail(ctx, "put: %s", mpmp_errmsg());
  }
  if (mpmp_queue_put(*q, NULL, 0, T) < 0) /* q.put(None) */
    return mpmp_fail(ctx, "put: %s", mpmp_errmsg());
  return 0;
}
MPMP_TASK(tut_producer);

/* consumer(q): get until the sentinel; returns "Consumed: ..." lines. */
static int consume_until_sentinel(mpmp_queue_t q, char *log, size_t max) {
  char item[64];
  size_t n, used = 0;
  log[0] = 0;
  for (;;) {
    int rc = mpmp_queue_get(q, item, sizeof item, &n, T);
    if (rc < 0)
      return rc;
    if (n == 0) /* if item is None: break */
      return 0;
    used += (size_t)snprintf(log + used, max - used, "Consumed: %s\n", item);
  }
}

static int tut_consumer(mpmp_ctx_t *ctx) {
  const mpmp_queue_t *q = mpmp_arg(ctx, NULL);
  char *log = mpmp_out(ctx, 256);
  if (consume_until_sentinel(*q, log, 256) < 0)
    return mpmp_fail(ctx, "get: %s", mpmp_errmsg());
  return 0;
}
MPMP_TASK(tut_consumer);

static const char consumed5[] =
    "Consumed: Item 0\nConsumed: Item 1\nConsumed: Item 2\n"
    "Consumed: Item 3\nConsumed: Item 4\n";

static void queue_tutorial_producer_consumer_sentinel(void **state) {
  (void)state;
  mpmp_queue_t q;
  char log[256];
  assert_int_equal(mpmp_queue_create(&q, 0, 64), 0);
  mpmp_process_t *prod = start_process(tut_producer, &q, sizeof q);
  if (mpmp_worker_count() >= 2) { /* p1 = Process(producer), p2 = consumer */
    mpmp_process_t *cons = start_process(tut_consumer, &q, sizeof q);
    assert_string_equal((const char *)join_result_within(cons, 60, NULL), consumed5);
    mpmp_process_destroy(cons);
  } else {
    assert_int_equal(consume_until_sentinel(q, log, sizeof log), 0);
    assert_string_equal(log, consumed5);
  }
  join_destroy_within(prod, 60);
  assert_int_equal(mpmp_queue_empty(q), 1);
  assert_int_equal(mpmp_queue_free(q), 0);
}

/* The seed's `q.put("Hello from process")`, then, after join, q.get(). */
static int hello_putter(mpmp_ctx_t *ctx) {
  const mpmp_queue_t *q = mpmp_arg(ctx, NULL);
  return mpmp_queue_put(*q, "Hello from process", 19, T) < 0
             ? mpmp_fail(ctx, "%s", mpmp_errmsg())
             : 0;
}
MPMP_TASK(hello_putter);

static void queue_tutorial_put_in_child_get_after_join(void **state) {
  (void)state;
  mpmp_queue_t q;
  char buf[64];
  size_t n;
  assert_int_equal(mpmp_simple_queue_create(&q, 64), 0);
  join_destroy_within(start_process(hello_putter, &q, sizeof q), 60);
  assert_int_equal(mpmp_queue_empty(q), 0);
  assert_int_equal(mpmp_queue_get(q, buf, sizeof buf, &n, T), 0);
  assert_int_equal(n, 19);
  assert_string_equal(buf, "Hello from process");
  assert_int_equal(mpmp_queue_empty(q), 1);
  assert_int_equal(mpmp_queue_close(q), 0);
  assert_int_equal(mpmp_queue_get(q, buf, sizeof buf, &n, T), MPMP_EEOF);
  assert_int_equal(mpmp_queue_free(q), 0);
}

/* mp5.py: prod(x, q) sums squares and puts the even numbers while it
 * computes; the main rank prints each queue after joining both. */
typedef struct even_args {
  mpmp_queue_t q;
  int x[9];
} even_args_t;

static int prod_evens(mpmp_ctx_t *ctx) {
  const even_args_t *a = mpmp_arg(ctx, NULL);
  int64_t *square = mpmp_out(ctx, sizeof *square);
  *square = 0;
  for (int i = 0; i < 9; i++) {
    test_sleep(0.002); /* time.sleep(1), shortened */
    *square += a->x[i] * a->x[i];
    if (a->x[i] % 2 == 0 && mpmp_queue_put(a->q, &a->x[i], sizeof a->x[i], T))
      return mpmp_fail(ctx, "put: %s", mpmp_errmsg());
  }
  return 0;
}
MPMP_TASK(prod_evens);

static void printqueue(mpmp_queue_t q, const int *expect, int n) {
  int got[16], k = 0, v;
  size_t size;
  while (mpmp_queue_empty(q) == 0) { /* while not q.empty(): q.get() */
    assert_int_equal(mpmp_queue_get(q, &v, sizeof v, &size, T), 0);
    assert_int_equal(size, sizeof v);
    assert_true(k < 16);
    got[k++] = v;
  }
  assert_int_equal(k, n);
  for (int i = 0; i < n; i++)
    assert_int_equal(got[i], expect[i]);
}

static void queue_tutorial_even_numbers_while_computing(void **state) {
  (void)state;
  even_args_t a1 = {.x = {1, 2, 3, 4, 5, 6, 7, 8, 9}}, a2;
  for (int i = 0; i < 9; i++)
    a2.x[i] = a1.x[8 - i]; /* y = x[::-1] */
  assert_int_equal(mpmp_queue_create(&a1.q, 0, sizeof(int)), 0);
  assert_int_equal(mpmp_queue_create(&a2.q, 0, sizeof(int)), 0);
  mpmp_process_t *p1 = start_process(prod_evens, &a1, sizeof a1);
  mpmp_process_t *p2 = NULL;
  if (mpmp_worker_count() >= 2)
    p2 = start_process(prod_evens, &a2, sizeof a2);
  assert_int_equal(*(const int64_t *)join_result_within(p1, 60, NULL), 285);
  if (p2 == NULL)
    p2 = start_process(prod_evens, &a2, sizeof a2);
  assert_int_equal(*(const int64_t *)join_result_within(p2, 60, NULL), 285);
  mpmp_process_destroy(p1);
  mpmp_process_destroy(p2);
  static const int up[] = {2, 4, 6, 8}, down[] = {8, 6, 4, 2};
  printqueue(a1.q, up, 4);
  printqueue(a2.q, down, 4);
  assert_int_equal(mpmp_queue_free(a1.q), 0);
  assert_int_equal(mpmp_queue_free(a2.q), 0);
}

/* pipe_child_process(conn): recv, upper-case, send back. */
static int pipe_child_upper(mpmp_ctx_t *ctx) {
  const mpmp_conn_t *c = mpmp_arg(ctx, NULL);
  char msg[128];
  size_t n;
  if (mpmp_conn_recv(*c, msg, sizeof msg, &n, T) < 0)
    return mpmp_fail(ctx, "recv: %s", mpmp_errmsg());
  for (size_t i = 0; i < n; i++)
    msg[i] = (char)toupper((unsigned char)msg[i]);
  if (mpmp_conn_send(*c, msg, n, T) < 0)
    return mpmp_fail(ctx, "send: %s", mpmp_errmsg());
  return 0;
}
MPMP_TASK(pipe_child_upper);

static void pipe_tutorial_hello_upper_cased(void **state) {
  (void)state;
  mpmp_conn_t parent, child;
  char msg[128];
  size_t n;
  assert_int_equal(mpmp_pipe_create(&parent, &child, 1), 0);
  mpmp_process_t *p = start_process(pipe_child_upper, &child, sizeof child);
  assert_int_equal(mpmp_conn_send(parent, "hello from parent", 17, T), 0);
  assert_int_equal(mpmp_conn_recv(parent, msg, sizeof msg, &n, T), 0);
  assert_int_equal(n, 17);
  assert_memory_equal(msg, "HELLO FROM PARENT", 17);
  join_destroy_within(p, 60);
  assert_int_equal(mpmp_conn_close(parent), 0);
  assert_int_equal(mpmp_pipe_free(parent, child), 0);
}

/* mp6.py: prod(x, conn) sends (even_numbers, square) and closes. */
typedef struct evens_msg {
  int count, evens[9];
  int64_t square;
} evens_msg_t;

typedef struct evens_args {
  mpmp_conn_t conn;
  int n;
} evens_args_t;

static int prod_evens_pipe(mpmp_ctx_t *ctx) {
  const evens_args_t *a = mpmp_arg(ctx, NULL);
  evens_msg_t m = {0};
  for (int i = 1; i <= a->n; i++) {
    m.square += i * i;
    if (i % 2 == 0)
      m.evens[m.count++] = i;
  }
  if (mpmp_conn_send(a->conn, &m, sizeof m, T) < 0)
    return mpmp_fail(ctx, "send: %s", mpmp_errmsg());
  return mpmp_conn_close(a->conn) < 0 ? mpmp_fail(ctx, "close") : 0;
}
MPMP_TASK(prod_evens_pipe);

static void pipe_tutorial_evens_and_sum_of_squares(void **state) {
  (void)state;
  evens_args_t a = {.n = 6};
  mpmp_conn_t parent;
  evens_msg_t m;
  size_t n;
  assert_int_equal(mpmp_pipe_create(&parent, &a.conn, 1), 0);
  mpmp_process_t *p = start_process(prod_evens_pipe, &a, sizeof a);
  assert_int_equal(mpmp_conn_recv(parent, &m, sizeof m, &n, T), 0);
  assert_int_equal(n, sizeof m);
  assert_int_equal(m.count, 3); /* Even numbers: [2, 4, 6] */
  assert_int_equal(m.evens[0], 2);
  assert_int_equal(m.evens[1], 4);
  assert_int_equal(m.evens[2], 6);
  assert_int_equal(m.square, 91); /* Total sum of squares: 91 */
  join_destroy_within(p, 60);
  /* the child closed its end: EOF, not a hang */
  assert_int_equal(mpmp_conn_recv(parent, &m, sizeof m, &n, T), MPMP_EEOF);
  assert_int_equal(mpmp_conn_poll(parent, 0), 1);
  assert_int_equal(mpmp_conn_send(parent, "x", 1, T), MPMP_EPIPE);
  assert_int_equal(mpmp_pipe_free(parent, a.conn), 0);
}

/* Pipe()'s sender(conn) and receiver(conn), each in its own process. */
static int pipe_sender(mpmp_ctx_t *ctx) {
  const mpmp_conn_t *c = mpmp_arg(ctx, NULL);
  if (mpmp_conn_send(*c, "Hello from sender!", 19, T) < 0)
    return mpmp_fail(ctx, "send: %s", mpmp_errmsg());
  return mpmp_conn_close(*c) < 0 ? mpmp_fail(ctx, "close") : 0;
}
MPMP_TASK(pipe_sender);

static int pipe_receiver(mpmp_ctx_t *ctx) {
  const mpmp_conn_t *c = mpmp_arg(ctx, NULL);
  char *msg = mpmp_out(ctx, 64);
  size_t n;
  if (mpmp_conn_recv(*c, msg, 64, &n, T) < 0)
    return mpmp_fail(ctx, "recv: %s", mpmp_errmsg());
  return 0;
}
MPMP_TASK(pipe_receiver);

static void pipe_tutorial_sender_and_receiver_processes(void **state) {
  (void)state;
  mpmp_conn_t parent, child;
  assert_int_equal(mpmp_pipe_create(&parent, &child, 1), 0);
  mpmp_process_t *p1 = start_process(pipe_sender, &child, sizeof child);
  if (mpmp_worker_count() < 2)
    join_destroy(p1), p1 = NULL;
  mpmp_process_t *p2 = start_process(pipe_receiver, &parent, sizeof parent);
  assert_string_equal((const char *)join_result_within(p2, 60, NULL), "Hello from sender!");
  mpmp_process_destroy(p2);
  if (p1)
    join_destroy_within(p1, 60);
  assert_int_equal(mpmp_pipe_free(parent, child), 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(queue_tutorial_producer_consumer_sentinel),
    cmocka_unit_test(queue_tutorial_put_in_child_get_after_join),
    cmocka_unit_test(queue_tutorial_even_numbers_while_computing),
    cmocka_unit_test(pipe_tutorial_hello_upper_cased),
    cmocka_unit_test(pipe_tutorial_evens_and_sum_of_squares),
    cmocka_unit_test(pipe_tutorial_sender_and_receiver_processes),
};

MPMP_TEST_MAIN(tests)
