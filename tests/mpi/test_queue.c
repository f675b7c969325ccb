/* Queue, JoinableQueue, SimpleQueue, Pipe and connection.wait: the
 * tutorials' examples, stress with many producers and consumers, every
 * timeout and error. Runs on 1 node and on 2 pseudo-nodes, where objects
 * made by the main rank are remote for ranks 1 and 3, and objects made in
 * their process bodies are remote for the main rank. */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mpitest.h"

#define T 30.0 /* the timeout of blocking calls that must not time out */

static int remote_job(void) { return mpmp_node_count() > 1; }

/* Item counts: remote operations cost 15-200 us each, not 0.1-1 us. */
static int scaled(int n) { return remote_job() ? n / 10 : n; }

static uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

static mpmp_process_t *started(mpmp_task_fn fn, const void *arg, size_t n) {
  mpmp_process_t *p = NULL;
  assert_int_equal(mpmp_process_create(&p, fn, arg, n, NULL), 0);
  assert_int_equal(mpmp_process_start(p), 0);
  return p;
}

/* Join; the body must have succeeded. Returns its result (may be NULL). */
static const void *joined(mpmp_process_t *p, size_t *size) {
  int code = -999;
  const void *res = NULL;
  assert_int_equal(mpmp_process_join(p, 60), 0);
  assert_int_equal(mpmp_process_exitcode(p, &code), 0);
  if (code != 0)
    fail_msg("process failed (%d): %s", code, mpmp_process_errmsg(p));
  assert_int_equal(mpmp_process_result(p, &res, size), 0);
  return res;
}

static void join_destroy(mpmp_process_t *p) {
  joined(p, NULL);
  mpmp_process_destroy(p);
}

static double elapsed_since(double t0) { return test_now() - t0; }

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
  mpmp_process_t *prod = started(tut_producer, &q, sizeof q);
  if (mpmp_worker_count() >= 2) { /* p1 = Process(producer), p2 = consumer */
    mpmp_process_t *cons = started(tut_consumer, &q, sizeof q);
    assert_string_equal((const char *)joined(cons, NULL), consumed5);
    mpmp_process_destroy(cons);
  } else {
    assert_int_equal(consume_until_sentinel(q, log, sizeof log), 0);
    assert_string_equal(log, consumed5);
  }
  join_destroy(prod);
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
  join_destroy(started(hello_putter, &q, sizeof q));
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
  mpmp_process_t *p1 = started(prod_evens, &a1, sizeof a1);
  mpmp_process_t *p2 = NULL;
  if (mpmp_worker_count() >= 2)
    p2 = started(prod_evens, &a2, sizeof a2);
  assert_int_equal(*(const int64_t *)joined(p1, NULL), 285);
  if (p2 == NULL)
    p2 = started(prod_evens, &a2, sizeof a2);
  assert_int_equal(*(const int64_t *)joined(p2, NULL), 285);
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
  mpmp_process_t *p = started(pipe_child_upper, &child, sizeof child);
  assert_int_equal(mpmp_conn_send(parent, "hello from parent", 17, T), 0);
  assert_int_equal(mpmp_conn_recv(parent, msg, sizeof msg, &n, T), 0);
  assert_int_equal(n, 17);
  assert_memory_equal(msg, "HELLO FROM PARENT", 17);
  join_destroy(p);
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
  mpmp_process_t *p = started(prod_evens_pipe, &a, sizeof a);
  assert_int_equal(mpmp_conn_recv(parent, &m, sizeof m, &n, T), 0);
  assert_int_equal(n, sizeof m);
  assert_int_equal(m.count, 3); /* Even numbers: [2, 4, 6] */
  assert_int_equal(m.evens[0], 2);
  assert_int_equal(m.evens[1], 4);
  assert_int_equal(m.evens[2], 6);
  assert_int_equal(m.square, 91); /* Total sum of squares: 91 */
  join_destroy(p);
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
  mpmp_process_t *p1 = started(pipe_sender, &child, sizeof child);
  if (mpmp_worker_count() < 2)
    join_destroy(p1), p1 = NULL;
  mpmp_process_t *p2 = started(pipe_receiver, &parent, sizeof parent);
  assert_string_equal((const char *)joined(p2, NULL), "Hello from sender!");
  mpmp_process_destroy(p2);
  if (p1)
    join_destroy(p1);
  assert_int_equal(mpmp_pipe_free(parent, child), 0);
}

/* ---- stress: many producers, several consumers --------------------------- */

#define MAXP 8
#define MAX_ITEM 256

typedef struct sitem {
  uint32_t producer, size;
  uint64_t seq;
} sitem_t;

static size_t item_size(uint32_t p, uint64_t seq) {
  return sizeof(sitem_t) +
         mix64(((uint64_t)p << 40) ^ seq) % (MAX_ITEM - sizeof(sitem_t) + 1);
}

static void item_fill(unsigned char *b, uint32_t p, uint64_t seq) {
  sitem_t h = {p, (uint32_t)item_size(p, seq), seq};
  memcpy(b, &h, sizeof h);
  uint64_t x = mix64(seq * 131 + p);
  for (size_t j = sizeof h; j < h.size; j++)
    b[j] = (unsigned char)(x >> (j % 8 * 8)) ^ (unsigned char)j;
}

typedef struct sprod {
  mpmp_queue_t q;
  uint32_t id;
  int count;
} sprod_t;

static int stress_producer(mpmp_ctx_t *ctx) {
  const sprod_t *a = mpmp_arg(ctx, NULL);
  unsigned char b[MAX_ITEM];
  for (int i = 0; i < a->count; i++) {
    item_fill(b, a->id, (uint64_t)i);
    if (mpmp_queue_put(a->q, b, item_size(a->id, (uint64_t)i), T) < 0)
      return mpmp_fail(ctx, "producer %u, item %d: %s", a->id, i,
                       mpmp_errmsg());
  }
  return 0;
}
MPMP_TASK(stress_producer);

/* What one consumer saw, per producer. */
typedef struct stally {
  int64_t count[MAXP];
  uint64_t hash[MAXP];  /* sum of mix64(seq) */
  int64_t last[MAXP];   /* the last seq seen: they must grow (FIFO) */
  int64_t total;
  char error[160];
} stally_t;

static void tally_init(stally_t *t) {
  memset(t, 0, sizeof *t);
  for (int p = 0; p < MAXP; p++)
    t->last[p] = -1;
}

/* Check one item; 0, or -1 with t->error set. */
static int tally(stally_t *t, const unsigned char *b, size_t n) {
  sitem_t h;
  unsigned char want[MAX_ITEM];
  if (n < sizeof h)
    goto bad;
  memcpy(&h, b, sizeof h);
  if (h.producer >= MAXP || h.size != n || n != item_size(h.producer, h.seq))
    goto bad;
  item_fill(want, h.producer, h.seq);
  if (memcmp(want, b, n) != 0)
    goto bad;
  if ((int64_t)h.seq <= t->last[h.producer]) {
    snprintf(t->error, sizeof t->error, "producer %u: item %llu after %lld "
             "(out of order or duplicated)", h.producer,
             (unsigned long long)h.seq, (long long)t->last[h.producer]);
    return -1;
  }
  t->last[h.producer] = (int64_t)h.seq;
  t->count[h.producer]++;
  t->hash[h.producer] += mix64(h.seq);
  t->total++;
  return 0;
bad:
  snprintf(t->error, sizeof t->error, "a corrupted item of %zu bytes", n);
  return -1;
}

static int stress_consumer(mpmp_ctx_t *ctx) {
  const mpmp_queue_t *q = mpmp_arg(ctx, NULL);
  stally_t *t = mpmp_out(ctx, sizeof *t);
  unsigned char b[MAX_ITEM];
  size_t n;
  tally_init(t);
  for (;;) {
    int rc = mpmp_queue_get(*q, b, sizeof b, &n, T);
    if (rc == MPMP_EEOF)
      return 0;
    if (rc < 0)
      return mpmp_fail(ctx, "get after %lld items: %s", (long long)t->total,
                       mpmp_errmsg());
    if (tally(t, b, n) < 0)
      return mpmp_fail(ctx, "%s", t->error);
  }
}
MPMP_TASK(stress_consumer);

static int all_joined(mpmp_process_t **ps, int n) {
  for (int i = 0; i < n; i++)
    if (mpmp_process_is_alive(ps[i]) == 1)
      return 0;
  return 1;
}

/* nprod producers on workers put `count` items each; one worker consumer
 * (when a worker is left) and the main rank take them; the main rank
 * closes the queue once the producers are done, and every consumer stops
 * at EOF. Every item must come exactly once, each producer's in order. */
static void stress(mpmp_queue_t q, int count) {
  int workers = mpmp_worker_count();
  int nprod = workers >= 5 ? 4 : workers >= 3 ? 2 : 1;
  int ncons = workers > nprod ? 1 : 0;
  mpmp_process_t *prods[MAXP], *cons = NULL;
  sprod_t args[MAXP];
  stally_t mine;
  unsigned char b[MAX_ITEM];
  size_t n;
  double t0 = test_now();
  if (ncons)
    cons = started(stress_consumer, &q, sizeof q);
  for (int p = 0; p < nprod; p++) {
    args[p] = (sprod_t){q, (uint32_t)p, count};
    prods[p] = started(stress_producer, &args[p], sizeof args[p]);
  }
  tally_init(&mine);
  int closed = 0;
  for (;;) {
    int rc = mpmp_queue_get(q, b, sizeof b, &n, 0.02);
    if (rc == MPMP_EEOF)
      break;
    if (rc == 0) {
      if (tally(&mine, b, n) < 0)
        fail_msg("main consumer: %s", mine.error);
      if ((mine.total & 4095) != 0)
        continue;
    } else if (rc != MPMP_ETIMEDOUT) {
      fail_msg("get: %s", mpmp_errmsg());
    }
    if (!closed && all_joined(prods, nprod)) {
      assert_int_equal(mpmp_queue_close(q), 0);
      closed = 1;
    }
    assert_true(elapsed_since(t0) < 120);
  }
  stally_t sum = mine;
  for (int p = 0; p < nprod; p++)
    join_destroy(prods[p]);
  if (cons) {
    size_t size;
    const stally_t *t = joined(cons, &size);
    assert_int_equal(size, sizeof *t);
    for (int p = 0; p < MAXP; p++) {
      sum.count[p] += t->count[p];
      sum.hash[p] += t->hash[p];
    }
    mpmp_process_destroy(cons);
  }
  for (int p = 0; p < nprod; p++) {
    uint64_t h = 0;
    for (int i = 0; i < count; i++)
      h += mix64((uint64_t)i);
    assert_int_equal(sum.count[p], count);
    assert_true(sum.hash[p] == h);
  }
  print_message("  %d producers x %d items, %d consumers: %.2f s\n", nprod,
                count, ncons + 1, elapsed_since(t0));
}

static void queue_stress_many_producers_exactly_once_in_order(void **state) {
  (void)state;
  mpmp_queue_t q;
  assert_int_equal(mpmp_queue_create(&q, 0, MAX_ITEM), 0);
  stress(q, 100000);
  assert_int_equal(mpmp_queue_free(q), 0);
}

static void queue_stress_maxsize_1(void **state) {
  (void)state;
  mpmp_queue_t q;
  assert_int_equal(mpmp_queue_create(&q, 1, MAX_ITEM), 0);
  assert_int_equal(mpmp_queue_capacity(q), 1);
  stress(q, 100000);
  assert_int_equal(mpmp_queue_free(q), 0);
}

/* JoinableQueue: workers get, count in a Value, then task_done. */
typedef struct jargs {
  mpmp_queue_t q;
  mpmp_value_t done;
} jargs_t;

static int joinable_worker(mpmp_ctx_t *ctx) {
  const jargs_t *a = mpmp_arg(ctx, NULL);
  int64_t item;
  size_t n;
  for (;;) {
    int rc = mpmp_queue_get(a->q, &item, sizeof item, &n, T);
    if (rc == MPMP_EEOF)
      return 0;
    if (rc < 0)
      return mpmp_fail(ctx, "get: %s", mpmp_errmsg());
    if (item % 97 == 0)
      test_sleep(0.001); /* some tasks take a while */
    if (mpmp_value_add(a->done, 1, NULL) < 0 || mpmp_queue_task_done(a->q) < 0)
      return mpmp_fail(ctx, "%s", mpmp_errmsg());
  }
}
MPMP_TASK(joinable_worker);

static void queue_joinable_join_waits_for_every_task_done(void **state) {
  (void)state;
  jargs_t a;
  int n = scaled(4000), nw = mpmp_worker_count() > 4 ? 4 : mpmp_worker_count();
  mpmp_process_t *ws[4];
  int64_t done = -1;
  assert_int_equal(mpmp_joinable_queue_create(&a.q, 0, sizeof(int64_t)), 0);
  assert_true(mpmp_queue_capacity(a.q) >= n);
  assert_int_equal(mpmp_value_create(&a.done, MPMP_INT64, NULL, 0), 0);
  assert_int_equal(mpmp_queue_join(a.q, 0), 0); /* nothing put yet */
  for (int64_t i = 0; i < n; i++)
    assert_int_equal(mpmp_queue_put(a.q, &i, sizeof i, T), 0);
  double t0 = test_now();
  assert_int_equal(mpmp_queue_join(a.q, 0.1), MPMP_ETIMEDOUT);
  assert_true(elapsed_since(t0) >= 0.09);
  for (int i = 0; i < nw; i++)
    ws[i] = started(joinable_worker, &a, sizeof a);
  assert_int_equal(mpmp_queue_join(a.q, 60), 0);
  assert_int_equal(mpmp_value_get_i64(a.done, &done), 0);
  assert_int_equal(done, n); /* every task_done came before join returned */
  assert_int_equal(mpmp_queue_empty(a.q), 1);
  assert_int_equal(mpmp_queue_close(a.q), 0);
  for (int i = 0; i < nw; i++)
    join_destroy(ws[i]);
  assert_int_equal(mpmp_queue_task_done(a.q), MPMP_EPERM);
  assert_non_null(strstr(mpmp_errmsg(), "more times"));
  assert_int_equal(mpmp_queue_free(a.q), 0);
  assert_int_equal(mpmp_value_free(a.done), 0);
}

/* ---- timeouts ------------------------------------------------------------ */

static void assert_waited(double t0, double want) {
  double w = elapsed_since(t0);
  if (w < want - 0.01 || w > want + 1.5)
    fail_msg("waited %.3f s for a timeout of %.3f s", w, want);
}

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
    mpmp_process_t *p = started(late_sender, &a, sizeof a);
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
    join_destroy(p);
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
  assert_int_equal(mpmp_conn_poll(a, 0.2), 0);
  assert_waited(t0, 0.2);
  assert_int_equal(mpmp_conn_poll(a, 0), 0);
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
  mpmp_process_t *p = started(late_sender, &a, sizeof a);
  t0 = test_now();
  assert_int_equal(mpmp_conn_wait(objs, 3, T, ready), 1);
  assert_true(elapsed_since(t0) < 2.0);
  assert_int_equal(ready[0], 2);
  join_destroy(p);
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
  assert_int_equal(mpmp_queue_create(&q, (size_t)1 << 30, 64), MPMP_ENOSPC);
  assert_non_null(strstr(mpmp_errmsg(), "MPMP_HEAP_SIZE"));
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

/* ---- large messages ------------------------------------------------------ */

/* Echo every message back until EOF. */
typedef struct echo_args {
  mpmp_conn_t c;
  size_t max;
} echo_args_t;

static int pipe_echo(mpmp_ctx_t *ctx) {
  const echo_args_t *a = mpmp_arg(ctx, NULL);
  char *buf = malloc(a->max ? a->max : 1);
  size_t n;
  int rc, count = 0;
  if (buf == NULL)
    return mpmp_fail(ctx, "out of memory");
  while ((rc = mpmp_conn_recv(a->c, buf, a->max, &n, 60)) == 0) {
    count++;
    if ((rc = mpmp_conn_send(a->c, buf, n, 60)) < 0)
      break;
  }
  free(buf);
  if (rc != MPMP_EEOF)
    return mpmp_fail(ctx, "after %d messages: %s", count, mpmp_errmsg());
  return 0;
}
MPMP_TASK(pipe_echo);

static void fill_pattern(unsigned char *m, size_t n, uint64_t seed) {
  uint64_t x = seed;
  for (size_t i = 0; i < n; i += 8) {
    x = mix64(x);
    memcpy(m + i, &x, n - i < 8 ? n - i : 8);
  }
}

static void pipe_messages_of_every_size_echoed(void **state) {
  (void)state;
  const size_t R = MPMP_PIPE_BUFFER;
  const size_t sizes[] = {0, 1, 7, 8, 9, 15, 1000, R - 16, R - 8, R - 1, R,
                          R + 1, R + 8, 3 * R + 5, 5 * R / 2};
  echo_args_t a = {.max = 4 * R};
  mpmp_conn_t mine;
  unsigned char *m = malloc(a.max), *back = malloc(a.max);
  size_t n;
  assert_int_equal(mpmp_pipe_create(&mine, &a.c, 1), 0);
  mpmp_process_t *p = started(pipe_echo, &a, sizeof a);
  for (int round = 0; round < 3; round++)
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
      fill_pattern(m, sizes[i], i * 7 + (size_t)round);
      assert_int_equal(mpmp_conn_send(mine, m, sizes[i], T), 0);
      assert_int_equal(mpmp_conn_recv(mine, back, a.max, &n, T), 0);
      assert_int_equal(n, sizes[i]);
      assert_memory_equal(back, m, sizes[i]);
    }
  /* many in flight at once: the echo and this rank fill both rings */
  /* (less than one ring holds: neither side reads until all are sent) */
  int k = (int)(MPMP_PIPE_BUFFER / 1024);
  for (int i = 0; i < k; i++) {
    size_t len = mix64((uint64_t)i) % 1000;
    fill_pattern(m, len, (uint64_t)i);
    assert_int_equal(mpmp_conn_send(mine, m, len, T), 0);
  }
  for (int i = 0; i < k; i++) {
    size_t len = mix64((uint64_t)i) % 1000;
    fill_pattern(m, len, (uint64_t)i);
    assert_int_equal(mpmp_conn_recv(mine, back, a.max, &n, T), 0);
    assert_int_equal(n, len);
    assert_memory_equal(back, m, len);
  }
  assert_int_equal(mpmp_conn_close(mine), 0);
  join_destroy(p);
  assert_int_equal(mpmp_pipe_free(mine, a.c), 0);
  free(m);
  free(back);
}

/* Several processes send on one end at once: every message arrives whole
 * (long ones stream through the ring while the others wait their turn),
 * each sender's in order. */
typedef struct msender {
  mpmp_conn_t c;
  uint32_t id;
  int count;
} msender_t;

static size_t msg_size(uint32_t id, int i) {
  uint64_t x = mix64((uint64_t)id << 32 | (uint64_t)i);
  /* mostly short, one in 8 longer than the ring */
  return sizeof(sitem_t) +
         (x % 8 == 0 ? x % (3 * MPMP_PIPE_BUFFER) : (x >> 8) % 2000);
}

static void msg_fill(unsigned char *m, uint32_t id, int i) {
  size_t n = msg_size(id, i);
  sitem_t h = {id, (uint32_t)n, (uint64_t)i};
  fill_pattern(m, n, (uint64_t)id << 32 | (uint64_t)i);
  memcpy(m, &h, sizeof h);
}

static int pipe_sender_many(mpmp_ctx_t *ctx) {
  const msender_t *a = mpmp_arg(ctx, NULL);
  unsigned char *m = malloc(4 * MPMP_PIPE_BUFFER);
  for (int i = 0; i < a->count; i++) {
    msg_fill(m, a->id, i);
    if (mpmp_conn_send(a->c, m, msg_size(a->id, i), T) < 0) {
      free(m);
      return mpmp_fail(ctx, "sender %u, message %d: %s", a->id, i,
                       mpmp_errmsg());
    }
  }
  free(m);
  return 0;
}
MPMP_TASK(pipe_sender_many);

static void pipe_many_senders_on_one_end(void **state) {
  (void)state;
  int nw = mpmp_worker_count() > MAXP ? MAXP : mpmp_worker_count();
  int count = remote_job() ? 20 : 200, next[MAXP] = {0};
  mpmp_process_t *ps[MAXP];
  msender_t args[MAXP];
  mpmp_conn_t mine, theirs;
  size_t max = 4 * MPMP_PIPE_BUFFER, n;
  unsigned char *m = malloc(max), *want = malloc(max);
  assert_int_equal(mpmp_pipe_create(&mine, &theirs, 0), 0); /* one-way */
  for (int i = 0; i < nw; i++) {
    args[i] = (msender_t){theirs, (uint32_t)i, count};
    ps[i] = started(pipe_sender_many, &args[i], sizeof args[i]);
  }
  for (int k = 0; k < nw * count; k++) {
    sitem_t h;
    assert_int_equal(mpmp_conn_recv(mine, m, max, &n, T), 0);
    assert_true(n >= sizeof h);
    memcpy(&h, m, sizeof h);
    assert_true(h.producer < (uint32_t)nw);
    assert_int_equal(h.seq, next[h.producer]); /* in order, none lost */
    assert_int_equal(n, msg_size(h.producer, next[h.producer]));
    msg_fill(want, h.producer, next[h.producer]);
    assert_memory_equal(m, want, n);
    next[h.producer]++;
  }
  for (int i = 0; i < nw; i++)
    join_destroy(ps[i]);
  assert_int_equal(mpmp_conn_poll(mine, 0), 0);
  assert_int_equal(mpmp_pipe_free(mine, theirs), 0);
  free(m);
  free(want);
}

/* 64 MiB there and back, streamed through a 256 KiB ring each way. */
static void pipe_64mib_round_trip(void **state) {
  (void)state;
  const size_t big = (size_t)64 << 20;
  echo_args_t a = {.max = big};
  mpmp_conn_t mine;
  unsigned char *m = malloc(big), *back = malloc(big);
  size_t n = 0;
  assert_non_null(m);
  assert_non_null(back);
  fill_pattern(m, big, 42);
  assert_int_equal(mpmp_pipe_create(&mine, &a.c, 1), 0);
  double t0 = test_now();
  mpmp_process_t *p = started(pipe_echo, &a, sizeof a);
  assert_int_equal(mpmp_conn_send(mine, m, big, 60), 0);
  /* a buffer too small learns the size and loses nothing */
  assert_int_equal(mpmp_conn_recv(mine, back, 1000, &n, 60), MPMP_EMSGSIZE);
  assert_int_equal(n, big);
  assert_int_equal(mpmp_conn_recv(mine, back, big, &n, 60), 0);
  assert_int_equal(n, big);
  assert_true(memcmp(back, m, big) == 0);
  assert_int_equal(mpmp_conn_close(mine), 0);
  join_destroy(p);
  print_message("  64 MiB round trip: %.2f s\n", elapsed_since(t0));
  assert_int_equal(mpmp_pipe_free(mine, a.c), 0);
  free(m);
  free(back);
}

/* A send that times out part-way through a long message withdraws it: the
 * receiver never returns any of it, whether it had started reading it or
 * not, and gets the next message. */
typedef struct report {
  uint64_t size, sum;
  char head[16];
} report_t;

typedef struct reporter_args {
  mpmp_conn_t c;
  mpmp_queue_t reports;
} reporter_args_t;

static uint64_t sum_bytes(const unsigned char *b, size_t n) {
  uint64_t s = 0;
  for (size_t i = 0; i < n; i++)
    s = s * 31 + b[i];
  return s;
}

/* Report the size, checksum and first bytes of every message until EOF. */
static int recv_reporter(mpmp_ctx_t *ctx) {
  const reporter_args_t *a = mpmp_arg(ctx, NULL);
  size_t max = 8u << 20, n;
  unsigned char *buf = malloc(max);
  int rc;
  while ((rc = mpmp_conn_recv(a->c, buf, max, &n, T)) == 0) {
    report_t r = {n, sum_bytes(buf, n), {0}};
    memcpy(r.head, buf, n < 16 ? n : 16);
    if ((rc = mpmp_queue_put(a->reports, &r, sizeof r, T)) < 0)
      break;
  }
  free(buf);
  return rc == MPMP_EEOF ? 0 : mpmp_fail(ctx, "%s", mpmp_errmsg());
}
MPMP_TASK(recv_reporter);

static void pipe_send_timing_out_is_withdrawn(void **state) {
  (void)state;
  size_t big = 4 * MPMP_PIPE_BUFFER;
  unsigned char *m = malloc(big);
  reporter_args_t a;
  mpmp_conn_t mine;
  report_t r;
  size_t n;
  assert_int_equal(mpmp_pipe_create(&mine, &a.c, 1), 0);
  assert_int_equal(mpmp_queue_create(&a.reports, 0, sizeof r), 0);
  /* nobody reads: a part went in, then the send timed out */
  double t0 = test_now();
  memset(m, 'x', big);
  assert_int_equal(mpmp_conn_send(mine, m, big, 0.2), MPMP_ETIMEDOUT);
  assert_waited(t0, 0.2);
  assert_int_equal(mpmp_conn_poll(a.c, 0), 0); /* nothing to read */
  /* its bytes hold their room until a reader passes them */
  assert_int_equal(mpmp_conn_send(mine, "first", 5, 0.05), MPMP_ETIMEDOUT);
  mpmp_process_t *p = started(recv_reporter, &a, sizeof a);
  assert_int_equal(mpmp_conn_send(mine, "first", 5, T), 0);
  assert_int_equal(mpmp_queue_get(a.reports, &r, sizeof r, &n, T), 0);
  assert_true(r.size == 5 && memcmp(r.head, "first", 5) == 0);
  /* a reader at work: some sends complete, some are withdrawn part-way
   * (before the reader took them, or while it was reading them) */
  int rounds = remote_job() ? 8 : 40, sent[40], withdrawn = 0;
  for (int i = 0; i < rounds; i++) {
    fill_pattern(m, big, (uint64_t)i);
    int rc = mpmp_conn_send(mine, m, big, 1e-4 * (i % 10));
    assert_true(rc == 0 || rc == MPMP_ETIMEDOUT);
    sent[i] = rc == 0;
    withdrawn += rc != 0;
    char mark[16];
    snprintf(mark, sizeof mark, "mark %d", i);
    assert_int_equal(mpmp_conn_send(mine, mark, strlen(mark) + 1, T), 0);
  }
  assert_int_equal(mpmp_conn_close(mine), 0);
  for (int i = 0; i < rounds; i++) {
    char mark[16];
    snprintf(mark, sizeof mark, "mark %d", i);
    if (sent[i]) {
      fill_pattern(m, big, (uint64_t)i);
      assert_int_equal(mpmp_queue_get(a.reports, &r, sizeof r, &n, T), 0);
      assert_int_equal(r.size, big);
      assert_true(r.sum == sum_bytes(m, big));
    }
    assert_int_equal(mpmp_queue_get(a.reports, &r, sizeof r, &n, T), 0);
    assert_int_equal(r.size, strlen(mark) + 1);
    assert_string_equal(r.head, mark);
  }
  join_destroy(p);
  assert_int_equal(mpmp_queue_empty(a.reports), 1);
  print_message("  %d of %d long sends withdrawn\n", withdrawn, rounds);
  assert_int_equal(mpmp_queue_free(a.reports), 0);
  assert_int_equal(mpmp_pipe_free(mine, a.c), 0);
  free(m);
}

/* ---- objects homed on each node ------------------------------------------ */

typedef struct homed {
  mpmp_queue_t q;
  mpmp_conn_t c1, c2;
  int node;
} homed_t;

typedef struct home_args {
  mpmp_queue_t started, go;
} home_args_t;

/* Make a queue (3 items in it) and a pipe (1 message in it) on this
 * worker's node; stay until every such body runs, so that they all get
 * their own rank. */
static int make_homed(mpmp_ctx_t *ctx) {
  const home_args_t *a = mpmp_arg(ctx, NULL);
  homed_t *h = mpmp_out(ctx, sizeof *h);
  char tok;
  size_t n;
  h->node = mpmp_node_id();
  if (mpmp_queue_create(&h->q, 8, 32) < 0 ||
      mpmp_pipe_create(&h->c1, &h->c2, 1) < 0)
    return mpmp_fail(ctx, "create: %s", mpmp_errmsg());
  for (int i = 0; i < 3; i++)
    if (mpmp_queue_put(h->q, &i, sizeof i, T) < 0)
      return mpmp_fail(ctx, "put: %s", mpmp_errmsg());
  if (mpmp_conn_send(h->c2, "from the home node", 18, T) < 0 ||
      mpmp_queue_put(a->started, "s", 1, T) < 0 ||
      mpmp_queue_get(a->go, &tok, 1, &n, T) < 0)
    return mpmp_fail(ctx, "%s", mpmp_errmsg());
  return 0;
}
MPMP_TASK(make_homed);

static void use_homed(const homed_t *h) {
  int v;
  size_t n;
  char buf[64];
  assert_int_equal(mpmp_queue_qsize(h->q), 3);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(mpmp_queue_get(h->q, &v, sizeof v, &n, T), 0);
    assert_int_equal(v, i);
  }
  assert_int_equal(mpmp_queue_get(h->q, &v, sizeof v, &n, 0.05),
                   MPMP_ETIMEDOUT);
  assert_int_equal(mpmp_queue_put(h->q, "ping", 4, T), 0);
  assert_int_equal(mpmp_queue_get(h->q, buf, 2, &n, T), MPMP_EMSGSIZE);
  assert_int_equal(n, 4);
  assert_int_equal(mpmp_queue_get(h->q, buf, sizeof buf, &n, T), 0);
  assert_int_equal(n, 4);
  assert_int_equal(mpmp_queue_close(h->q), 0);
  assert_int_equal(mpmp_queue_get(h->q, buf, sizeof buf, &n, T), MPMP_EEOF);
  assert_int_equal(mpmp_conn_poll(h->c1, T), 1);
  assert_int_equal(mpmp_conn_recv(h->c1, buf, sizeof buf, &n, T), 0);
  assert_true(n == 18 && memcmp(buf, "from the home node", 18) == 0);
  assert_int_equal(mpmp_conn_send(h->c1, "back", 4, T), 0);
  assert_int_equal(mpmp_conn_recv(h->c2, buf, sizeof buf, &n, T), 0);
  assert_true(n == 4 && memcmp(buf, "back", 4) == 0);
  assert_int_equal(mpmp_conn_close(h->c2), 0);
  assert_int_equal(mpmp_conn_recv(h->c1, buf, sizeof buf, &n, T), MPMP_EEOF);
  assert_int_equal(mpmp_queue_free(h->q), 0);
  assert_int_equal(mpmp_pipe_free(h->c1, h->c2), 0);
  assert_int_equal(mpmp_queue_put(h->q, "x", 1, T), MPMP_EBADF);
}

static void objects_homed_on_every_node(void **state) {
  (void)state;
  int nw = mpmp_worker_count();
  home_args_t a;
  mpmp_process_t *ps[16];
  int seen[16] = {0};
  char tok;
  size_t n;
  assert_true(nw <= 16);
  assert_int_equal(mpmp_queue_create(&a.started, 0, 1), 0);
  assert_int_equal(mpmp_queue_create(&a.go, 0, 1), 0);
  for (int i = 0; i < nw; i++)
    ps[i] = started(make_homed, &a, sizeof a);
  for (int i = 0; i < nw; i++)
    assert_int_equal(mpmp_queue_get(a.started, &tok, 1, &n, T), 0);
  for (int i = 0; i < nw; i++)
    assert_int_equal(mpmp_queue_put(a.go, "g", 1, T), 0);
  for (int i = 0; i < nw; i++) {
    homed_t h;
    size_t size;
    memcpy(&h, joined(ps[i], &size), sizeof h);
    assert_int_equal(size, sizeof h);
    mpmp_process_destroy(ps[i]);
    assert_int_equal(h.q.ref.node, (uint32_t)h.node);
    seen[h.node] = 1;
    use_homed(&h);
  }
  for (int k = 0; k < mpmp_node_count(); k++)
    assert_true(seen[k]); /* every node was home to some */
  assert_int_equal(mpmp_queue_free(a.started), 0);
  assert_int_equal(mpmp_queue_free(a.go), 0);
}

/* ---- a NaN timeout ------------------------------------------------------- */

/* A NaN timeout is refused (MPMP_EINVAL, naming NaN) by every call that
 * takes one, before anything is done: no item is taken or added, no
 * message sent or received. (It used to be taken as 0, or as forever.) */
typedef struct nan_objs {
  mpmp_queue_t q, jq;  /* 1 item each; jq's task not done */
  mpmp_conn_t c1, c2;  /* a message from c2 waits at c1 */
  int node;
} nan_objs_t;

static int nan_objs_make(nan_objs_t *o) {
  o->node = mpmp_node_id();
  if (mpmp_queue_create(&o->q, 4, 32) < 0 ||
      mpmp_joinable_queue_create(&o->jq, 4, 32) < 0 ||
      mpmp_pipe_create(&o->c1, &o->c2, 1) < 0 ||
      mpmp_queue_put(o->q, "item", 4, T) < 0 ||
      mpmp_queue_put(o->jq, "task", 4, T) < 0 ||
      mpmp_conn_send(o->c2, "message", 7, T) < 0)
    return -1;
  return 0;
}

static void nan_objs_free(const nan_objs_t *o) {
  assert_int_equal(mpmp_queue_free(o->q), 0);
  assert_int_equal(mpmp_queue_free(o->jq), 0);
  assert_int_equal(mpmp_pipe_free(o->c1, o->c2), 0);
}

static void expect_nan_refused(int rc) {
  assert_int_equal(rc, MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "NaN"));
}

static void nan_refused_on(const nan_objs_t *o) {
  const double nans[] = {NAN, -NAN};
  char buf[32];
  size_t n = 99;
  int ready[2];
  for (int k = 0; k < 2; k++) {
    double t = nans[k];
    expect_nan_refused(mpmp_queue_put(o->q, "more", 4, t));
    expect_nan_refused(mpmp_queue_get(o->q, buf, sizeof buf, &n, t));
    assert_int_equal(n, 0);
    assert_int_equal(mpmp_queue_qsize(o->q), 1); /* nothing in, nothing out */
    expect_nan_refused(mpmp_queue_join(o->jq, t));
    expect_nan_refused(mpmp_conn_send(o->c2, "more", 4, t));
    expect_nan_refused(mpmp_conn_recv(o->c1, buf, sizeof buf, &n, t));
    expect_nan_refused(mpmp_conn_poll(o->c1, t));
    expect_nan_refused(mpmp_conn_wait(&o->q.ref, 1, t, ready));
    mpmp_ref_t both[2] = {o->q.ref, o->c1.ref};
    expect_nan_refused(mpmp_conn_wait(both, 2, t, ready));
  }
  /* Everything is as it was: one item, one task, one message. */
  assert_int_equal(mpmp_queue_get(o->q, buf, sizeof buf, &n, T), 0);
  assert_true(n == 4 && memcmp(buf, "item", 4) == 0);
  assert_int_equal(mpmp_queue_get(o->q, buf, sizeof buf, &n, 0),
                   MPMP_ETIMEDOUT);
  assert_int_equal(mpmp_queue_join(o->jq, 0.01), MPMP_ETIMEDOUT);
  assert_int_equal(mpmp_conn_recv(o->c1, buf, sizeof buf, &n, T), 0);
  assert_true(n == 7 && memcmp(buf, "message", 7) == 0);
  assert_int_equal(mpmp_conn_poll(o->c1, 0), 0);
  assert_int_equal(mpmp_conn_poll(o->c2, 0), 0);
}

/* Objects on this worker's node, kept until every such body runs. */
static int make_nan_objs(mpmp_ctx_t *ctx) {
  const home_args_t *a = mpmp_arg(ctx, NULL);
  nan_objs_t *o = mpmp_out(ctx, sizeof *o);
  char tok;
  size_t n;
  if (nan_objs_make(o) < 0 || mpmp_queue_put(a->started, "s", 1, T) < 0 ||
      mpmp_queue_get(a->go, &tok, 1, &n, T) < 0)
    return mpmp_fail(ctx, "%s", mpmp_errmsg());
  return 0;
}
MPMP_TASK(make_nan_objs);

static void nan_timeouts_refused_everywhere(void **state) {
  (void)state;
  nan_objs_t mine;
  assert_int_equal(nan_objs_make(&mine), 0);
  nan_refused_on(&mine);
  nan_objs_free(&mine);
  /* and on objects homed on every node: remote ones go through messages */
  int nw = mpmp_worker_count() > 16 ? 16 : mpmp_worker_count();
  home_args_t a;
  mpmp_process_t *ps[16];
  char tok;
  size_t n;
  assert_int_equal(mpmp_queue_create(&a.started, 0, 1), 0);
  assert_int_equal(mpmp_queue_create(&a.go, 0, 1), 0);
  for (int i = 0; i < nw; i++)
    ps[i] = started(make_nan_objs, &a, sizeof a);
  for (int i = 0; i < nw; i++)
    assert_int_equal(mpmp_queue_get(a.started, &tok, 1, &n, T), 0);
  for (int i = 0; i < nw; i++)
    assert_int_equal(mpmp_queue_put(a.go, "g", 1, T), 0);
  int remote = 0;
  for (int i = 0; i < nw; i++) {
    nan_objs_t o;
    size_t size;
    memcpy(&o, joined(ps[i], &size), sizeof o);
    assert_int_equal(size, sizeof o);
    mpmp_process_destroy(ps[i]);
    remote += o.node != mpmp_node_id();
    nan_refused_on(&o);
    nan_objs_free(&o);
  }
  if (remote_job())
    assert_true(remote > 0);
  assert_int_equal(mpmp_queue_free(a.started), 0);
  assert_int_equal(mpmp_queue_free(a.go), 0);
}

/* A queue made by the main rank, used from every worker at once (remote
 * for the workers of the other node). */
static int put_get_own(mpmp_ctx_t *ctx) {
  const sprod_t *a = mpmp_arg(ctx, NULL);
  unsigned char b[MAX_ITEM];
  size_t n;
  for (int i = 0; i < a->count; i++) {
    item_fill(b, a->id, (uint64_t)i);
    if (mpmp_queue_put(a->q, b, item_size(a->id, (uint64_t)i), T) < 0 ||
        mpmp_queue_get(a->q, b, sizeof b, &n, T) < 0)
      return mpmp_fail(ctx, "item %d: %s", i, mpmp_errmsg());
  }
  return 0;
}
MPMP_TASK(put_get_own);

static void queue_shared_by_every_worker(void **state) {
  (void)state;
  int nw = mpmp_worker_count() > MAXP ? MAXP : mpmp_worker_count();
  mpmp_process_t *ps[MAXP];
  sprod_t args[MAXP];
  mpmp_queue_t q;
  assert_int_equal(mpmp_queue_create(&q, 4, MAX_ITEM), 0);
  for (int i = 0; i < nw; i++) {
    args[i] = (sprod_t){q, (uint32_t)i, remote_job() ? 200 : 5000};
    ps[i] = started(put_get_own, &args[i], sizeof args[i]);
  }
  for (int i = 0; i < nw; i++)
    join_destroy(ps[i]);
  assert_int_equal(mpmp_queue_empty(q), 1);
  assert_int_equal(mpmp_queue_free(q), 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(queue_tutorial_producer_consumer_sentinel),
    cmocka_unit_test(queue_tutorial_put_in_child_get_after_join),
    cmocka_unit_test(queue_tutorial_even_numbers_while_computing),
    cmocka_unit_test(pipe_tutorial_hello_upper_cased),
    cmocka_unit_test(pipe_tutorial_evens_and_sum_of_squares),
    cmocka_unit_test(pipe_tutorial_sender_and_receiver_processes),
    cmocka_unit_test(queue_errors_are_clear),
    cmocka_unit_test(handles_random_bytes_are_ebadf),
    cmocka_unit_test(pipe_errors_are_clear),
    cmocka_unit_test(queue_timeouts_leave_it_usable),
    cmocka_unit_test(queue_blocked_get_wakes_on_put),
    cmocka_unit_test(pipe_poll_timeouts),
    cmocka_unit_test(conn_wait_several_objects),
    cmocka_unit_test(pipe_messages_of_every_size_echoed),
    cmocka_unit_test(pipe_send_timing_out_is_withdrawn),
    cmocka_unit_test(pipe_many_senders_on_one_end),
    cmocka_unit_test(pipe_64mib_round_trip),
    cmocka_unit_test(objects_homed_on_every_node),
    cmocka_unit_test(nan_timeouts_refused_everywhere),
    cmocka_unit_test(queue_shared_by_every_worker),
    cmocka_unit_test(queue_stress_many_producers_exactly_once_in_order),
    cmocka_unit_test(queue_stress_maxsize_1),
    cmocka_unit_test(queue_joinable_join_waits_for_every_task_done),
};
MPMP_TEST_MAIN(tests)
