/* Python parity of Queue, Pipe and connection.wait(): an unbounded Queue()
 * (it grows in the node heap past its ring, in order, and says
 * MPMP_ENOSPC naming MPMP_HEAP_SIZE when the heap is full), Python's
 * per-process close() (mpmp_queue_close_local, mpmp_conn_close_local:
 * CPython's test_spawn_close), and Process sentinels among the objects of
 * mpmp_conn_wait (CPython's test_wait, test_wait_integer), each with the
 * ways a user gets them wrong.
 *
 * Runs on 1 node and on 2 pseudo-nodes, where the objects made by the
 * main rank are remote for the bodies on the other node. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "queue_common.h"

static void nap_s(double s) {
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  nanosleep(&ts, NULL);
}

/* ---- unbounded Queue() ---------------------------------------------------- */

/* Python: q = Queue(); q.put_nowait(i) never raises Full. Far past the
 * ring (its capacity was 16 384 items of 8 bytes), with no consumer. */
static void queue_unbounded_grows_past_the_ring_in_order(void **state) {
  (void)state;
  mpmp_queue_t q;
  mpmp_heap_info_t before, after;
  int n = scaled(50000) + 17000; /* past the ring in any job */
  RC(mpmp_heap_info(&before), 0);
  RC(mpmp_queue_create(&q, 0, sizeof(int64_t)), 0);
  EQ(mpmp_queue_capacity(q), INT32_MAX);
  for (int64_t i = 0; i < n; i++)
    RC(mpmp_queue_put_nowait(q, &i, sizeof i), 0);
  EQ(mpmp_queue_qsize(q), n);
  EQ(mpmp_queue_full(q), 0);
  EQ(mpmp_queue_empty(q), 0);
  /* a wait sees the items of the overflow too */
  EQ(mpmp_conn_wait(&q.ref, 1, 0, NULL), 1);
  int64_t v = -1;
  size_t len = 0;
  for (int64_t i = 0; i < n; i++) {
    RC(mpmp_queue_get_nowait(q, &v, sizeof v, &len), 0);
    if (v != i || len != sizeof v)
      fail_msg("item %lld came as %lld (%zu bytes)", (long long)i,
               (long long)v, len);
    if (i == n / 2) /* a put in the middle goes last */
      RC(mpmp_queue_put(q, "last", 4, 0), 0);
  }
  char b[8];
  RC(mpmp_queue_get_nowait(q, b, sizeof b, &len), 0);
  EQ(len, 4);
  RC(mpmp_queue_get_nowait(q, b, sizeof b, &len), MPMP_ETIMEDOUT);
  EQ(mpmp_queue_empty(q), 1);
  RC(mpmp_queue_free(q), 0);
  RC(mpmp_heap_info(&after), 0);
  EQ(after.in_use, before.in_use); /* every overflow block went back */
}

/* The items from..to-1 (int64 counts) are next in q, in order. */
static void get_in_order(mpmp_queue_t q, int64_t from, int64_t to) {
  int64_t v = -1;
  for (int64_t i = from; i < to; i++) {
    RC(mpmp_queue_get_nowait(q, &v, sizeof v, NULL), 0);
    if (v != i)
      fail_msg("item %lld came as %lld", (long long)i, (long long)v);
  }
}

/* Python: q.put(x) on an unbounded queue never waits for a consumer.
 * Where ranks share cores, a put that finds a long backlog pauses while a
 * busy consumer takes it down (queue.c, q_backlog_pause); with nobody
 * taking anything, puts that may wait must go on as put_nowait does: no
 * pause per item (50 000 puts of 1 ms would take 50 s). */
static void queue_unbounded_put_waits_for_no_idle_consumer(void **state) {
  (void)state;
  mpmp_queue_t q;
  int n = scaled(50000) + 17000; /* past the ring in any job */
  RC(mpmp_queue_create(&q, 0, sizeof(int64_t)), 0);
  double t0 = test_now();
  for (int64_t i = 0; i < n; i++)
    RC(mpmp_queue_put(q, &i, sizeof i, i % 2 ? MPMP_FOREVER : 30), 0);
  double took = elapsed_since(t0);
  if (took > 3)
    fail_msg("%d puts with no consumer took %.2f s", n, took);
  EQ(mpmp_queue_qsize(q), n);
  get_in_order(q, 0, n);
  RC(mpmp_queue_free(q), 0);
}

/* Takes items, one every 200 us, until `stop` is set, checking they come
 * in order from 0; its result is the last one (-1: none). */
typedef struct slow_take {
  mpmp_queue_t q;
  mpmp_event_t stop;
} slow_take_t;

static int take_slowly(mpmp_ctx_t *ctx) {
  const slow_take_t *a = mpmp_arg(ctx, NULL);
  int64_t v = -1, want = 0;
  while (!mpmp_event_is_set(a->stop)) {
    int rc = mpmp_queue_get(a->q, &v, sizeof v, NULL, 0.05);
    if (rc == MPMP_ETIMEDOUT)
      continue;
    if (rc < 0)
      return mpmp_fail(ctx, "get %lld: %s", (long long)want, mpmp_errmsg());
    if (v != want++)
      return mpmp_fail(ctx, "item %lld came as %lld", (long long)want - 1,
                       (long long)v);
    nanosleep(&(struct timespec){0, 200000}, NULL);
  }
  *(int64_t *)mpmp_out(ctx, sizeof v) = want - 1;
  return 0;
}
MPMP_TASK(take_slowly);

/* A consumer that takes a few thousand items a second does not hold the
 * producer to its pace (it would take 10 s and more): the puts end long
 * before it could take them, and every item comes once, in order (the
 * consumer's first, then the rest). */
static void queue_unbounded_slow_consumer_does_not_slow_puts(void **state) {
  (void)state;
  if (nworkers() < 1)
    skip();
  mpmp_queue_t q;
  mpmp_event_t stop;
  int n = scaled(40000) + 17000;
  RC(mpmp_queue_create(&q, 0, sizeof(int64_t)), 0);
  RC(mpmp_event_create(&stop), 0);
  slow_take_t a = {q, stop};
  mpmp_process_t *c = start_process(take_slowly, &a, sizeof a);
  int64_t v = -1;
  double t0 = test_now();
  for (int64_t i = 0; i < n; i++)
    RC(mpmp_queue_put(q, &i, sizeof i, MPMP_FOREVER), 0);
  double took = elapsed_since(t0);
  RC(mpmp_event_set(stop), 0);
  size_t size = 0;
  const int64_t *last = join_result_within(c, 60, &size);
  EQ(size, sizeof *last);
  int64_t taken = *last + 1;
  mpmp_process_destroy(c);
  if (took > 3)
    fail_msg("%d puts took %.2f s beside a consumer that took %lld", n,
             took, (long long)taken);
  get_in_order(q, taken, n);
  RC(mpmp_queue_get_nowait(q, &v, sizeof v, NULL), MPMP_ETIMEDOUT);
  RC(mpmp_queue_free(q), 0);
  RC(mpmp_event_free(stop), 0);
}

/* A small buffer on an overflow item: EMSGSIZE, and it stays first; the
 * item size rule is the queue's max_item, in the ring and past it. */
static void queue_unbounded_overflow_item_rules(void **state) {
  (void)state;
  mpmp_queue_t q;
  char big[40] = {0}, b[40];
  size_t len = 0;
  RC(mpmp_queue_create(&q, 0, 32), 0);
  /* 40 001 items: the ring holds 16 384 of 32 bytes */
  for (int i = 0; i <= 40000; i++)
    RC(mpmp_queue_put(q, &i, sizeof i, 0), 0);
  RC(mpmp_queue_put(q, big, 33, 0), MPMP_EMSGSIZE);
  HAS_MSG("32 bytes");
  RC(mpmp_queue_put(q, "0123456789", 10, 0), 0);
  RC(mpmp_queue_put(q, NULL, 3, 0), MPMP_EINVAL);
  RC(mpmp_queue_put(q, "x", 1, NAN), MPMP_EINVAL);
  EQ(mpmp_queue_qsize(q), 40002);
  for (int i = 0; i <= 40000; i++) {
    int v = -1;
    RC(mpmp_queue_get(q, &v, sizeof v, &len, 0), 0);
    EQ(v, i);
  }
  RC(mpmp_queue_get(q, b, 4, &len, T), MPMP_EMSGSIZE);
  EQ(len, 10);
  RC(mpmp_queue_get(q, b, 4, &len, NAN), MPMP_EINVAL);
  RC(mpmp_queue_get(q, b, sizeof b, &len, -1), 0);
  EQ(len, 10);
  EQ(memcmp(b, "0123456789", 10), 0);
  RC(mpmp_queue_free(q), 0);
}

/* Item i of the mixed test: every third one too big to share a chunk of
 * the overflow with others (it gets one of its own), the others small. */
static size_t mixed_size(int i) {
  return i % 3 == 0 ? 20000 - (size_t)i : (size_t)(i % 7) + 4;
}

static void mixed_fill(unsigned char *b, int i) {
  size_t n = mixed_size(i);
  for (size_t k = 0; k < n; k++)
    b[k] = (unsigned char)(i * 31 + (int)k);
  memcpy(b, &i, sizeof i);
}

static void mixed_get(mpmp_queue_t q, int i) {
  static unsigned char got[20000], want[20000];
  size_t len = 0;
  RC(mpmp_queue_get(q, got, sizeof got, &len, 0), 0);
  mixed_fill(want, i);
  if (len != mixed_size(i) || memcmp(got, want, len) != 0)
    fail_msg("item %d: %zu bytes, not its %zu or not its bytes", i, len,
             mixed_size(i));
}

/* Past the ring, small and large items share the overflow in order
 * (small ones many to a chunk, large ones a chunk each); puts while it is
 * being emptied go after it; every chunk goes back. */
static void queue_unbounded_overflow_mixed_sizes_in_order(void **state) {
  (void)state;
  static unsigned char b[20000];
  mpmp_queue_t q;
  mpmp_heap_info_t before, after;
  RC(mpmp_heap_info(&before), 0);
  RC(mpmp_queue_create(&q, 0, sizeof b), 0); /* a ring of 64 slots */
  int put = 0, got = 0;
  for (; put < 400; put++) {
    mixed_fill(b, put);
    RC(mpmp_queue_put(q, b, mixed_size(put), 0), 0);
  }
  for (; got < 250; got++)
    mixed_get(q, got);
  for (; put < 600; put++) {
    mixed_fill(b, put);
    RC(mpmp_queue_put(q, b, mixed_size(put), 0), 0);
  }
  EQ(mpmp_queue_qsize(q), put - got);
  for (; got < put; got++)
    mixed_get(q, got);
  RC(mpmp_queue_get(q, b, sizeof b, NULL, 0), MPMP_ETIMEDOUT);
  /* emptied, then past the ring again */
  for (; put < 700; put++) {
    mixed_fill(b, put);
    RC(mpmp_queue_put(q, b, mixed_size(put), 0), 0);
  }
  for (; got < put; got++)
    mixed_get(q, got);
  RC(mpmp_queue_free(q), 0);
  RC(mpmp_heap_info(&after), 0);
  EQ(after.in_use, before.in_use);
}

/* Producers outrun their consumers: while the overflow holds items and
 * they keep putting, the consumers (this rank and a worker) take them;
 * each producer's items come in its order, once. */
static void queue_unbounded_overflow_taken_while_producers_put(void **state) {
  (void)state;
  int nw = nworkers();
  int nprod = nw >= 5 ? 4 : nw >= 2 ? nw - 1 : 1;
  int count = scaled(30000);
  mpmp_queue_t q;
  mpmp_process_t *ps[MAXP], *cons = NULL;
  sprod_t args[MAXP];
  RC(mpmp_queue_create(&q, 0, MAX_ITEM), 0); /* a ring of 3 276 slots */
  for (int p = 0; p < nprod; p++) {
    args[p] = (sprod_t){q, (uint32_t)p, count};
    ps[p] = start_process(stress_producer, &args[p], sizeof args[p]);
  }
  /* past the ring before anyone takes an item */
  int want = nprod * count < 8000 ? nprod * count : 8000;
  double t0 = test_now();
  while (mpmp_queue_qsize(q) < want && !all_joined(ps, nprod)) {
    nap_s(0.001);
    if (elapsed_since(t0) > 60)
      fail_msg("the producers put %d items in 60 s", mpmp_queue_qsize(q));
  }
  if (nw > nprod)
    cons = start_process(stress_consumer, &q, sizeof q);
  stally_t mine;
  tally_init(&mine);
  unsigned char b[MAX_ITEM];
  size_t n;
  int closed = 0, rc;
  while ((rc = mpmp_queue_get(q, b, sizeof b, &n, 0.02)) != MPMP_EEOF) {
    if (rc == 0 && tally(&mine, b, n) < 0)
      fail_msg("main consumer: %s", mine.error);
    if (rc != 0 && rc != MPMP_ETIMEDOUT)
      fail_msg("get: %s", mpmp_errmsg());
    if (!closed && (rc != 0 || (mine.total & 1023) == 0) &&
        all_joined(ps, nprod)) {
      RC(mpmp_queue_close(q), 0);
      closed = 1;
    }
    if (elapsed_since(t0) > 120)
      fail_msg("not done in 120 s");
  }
  for (int p = 0; p < nprod; p++)
    join_destroy_within(ps[p], 60);
  if (cons) {
    size_t size;
    const stally_t *t = join_result_within(cons, 60, &size);
    EQ(size, sizeof *t);
    for (int p = 0; p < MAXP; p++)
      mine.count[p] += t->count[p];
    mpmp_process_destroy(cons);
  }
  for (int p = 0; p < nprod; p++)
    EQ(mine.count[p], count);
  RC(mpmp_queue_free(q), 0);
}

static double secs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Takes *arg items of a queue (its handle follows the count) after 0.3 s. */
typedef struct take_arg {
  int n;
  mpmp_queue_t q;
} take_arg_t;

static int take_later(mpmp_ctx_t *ctx) {
  const take_arg_t *a = mpmp_arg(ctx, NULL);
  static char buf[60000];
  nanosleep(&(struct timespec){0, 300000000}, NULL);
  for (int i = 0; i < a->n; i++)
    if (mpmp_queue_get(a->q, buf, sizeof buf, NULL, 30) < 0)
      return mpmp_fail(ctx, "get %d: %s", i, mpmp_errmsg());
  return 0;
}
MPMP_TASK(take_later);

/* The node heap full: a put that may wait waits for room (back-pressure),
 * and at its timeout is MPMP_ENOSPC naming MPMP_HEAP_SIZE, nothing added;
 * a get by another process lets a waiting put in; a free with items in the
 * overflow gives them back. */
static void queue_unbounded_heap_full_is_enospc(void **state) {
  (void)state;
  enum { BIG = 60000 };
  static char item[BIG];
  mpmp_queue_t q;
  mpmp_heap_info_t before, after;
  RC(mpmp_heap_info(&before), 0);
  RC(mpmp_queue_create(&q, 0, BIG), 0);
  int put = 0, rc;
  while ((rc = mpmp_queue_put(q, item, sizeof item, 0)) == 0) {
    memcpy(item, &put, sizeof put);
    put++;
    if (put > 1000000)
      fail_msg("the heap never filled");
  }
  EQ(rc, MPMP_ENOSPC);
  HAS_MSG("MPMP_HEAP_SIZE");
  HAS_MSG("unbounded queue");
  EQ(mpmp_queue_qsize(q), put);
  double t0 = secs();
  RC(mpmp_queue_put(q, item, sizeof item, 0.3), MPMP_ENOSPC);
  double waited = secs() - t0;
  if (waited < 0.25)
    fail_msg("a put with a 0.3 s timeout gave up after %.3f s", waited);
  EQ(mpmp_queue_qsize(q), put); /* nothing added */
  HAS_MSG("take items out");
  /* another process takes 65 items later: a waiting put gets in */
  mpmp_process_t *p = NULL;
  take_arg_t ta = {65, q};
  int first = 0; /* the first item left */
  if (mpmp_worker_count() >= 1) {
    RC(mpmp_process_create(&p, take_later, &ta, sizeof ta, NULL), 0);
    RC(mpmp_process_start(p), 0);
    RC(mpmp_queue_put(q, item, sizeof item, 30), 0);
    RC(mpmp_process_join(p, 30), 0);
    int code = -1;
    RC(mpmp_process_exitcode(p, &code), 0);
    EQ(code, 0);
    RC(mpmp_process_destroy(p), 0);
    put = put - 65 + 1;
    first = 65;
  }
  EQ(mpmp_queue_qsize(q), put);
  /* Room again once an item of the overflow was taken: the ring's 64
   * first (the later puts follow the overflow's items, in order). */
  static char got[BIG];
  size_t len;
  for (int i = 0; i <= 64; i++) {
    RC(mpmp_queue_get(q, got, sizeof got, &len, 0), 0);
    EQ(len, BIG);
    EQ(memcmp(got, &(int){first + i - 1}, sizeof i) == 0 || first + i == 0,
       1);
  }
  RC(mpmp_queue_put(q, item, sizeof item, 0), 0);
  RC(mpmp_queue_free(q), 0);
  RC(mpmp_heap_info(&after), 0);
  EQ(after.in_use, before.in_use);
}

/* Producers in other processes pile far more than the ring holds, all
 * put before the first get: each one's items come in its order, once;
 * then a close for everyone gives EOF after the last item. */
static void queue_unbounded_producers_exactly_once_in_order(void **state) {
  (void)state;
  mpmp_queue_t q;
  int nprod = nworkers() > 3 ? 3 : nworkers();
  int count = scaled(9000) + 2000; /* 3 x 11 000 items: 5 rings of them */
  mpmp_process_t *ps[MAXP];
  sprod_t args[MAXP];
  RC(mpmp_queue_create(&q, 0, MAX_ITEM), 0);
  for (int p = 0; p < nprod; p++) {
    args[p] = (sprod_t){q, (uint32_t)p, count};
    ps[p] = start_process(stress_producer, &args[p], sizeof args[p]);
  }
  for (int p = 0; p < nprod; p++)
    join_destroy_within(ps[p], 120);
  EQ(mpmp_queue_qsize(q), nprod * count);
  RC(mpmp_queue_close(q), 0);
  RC(mpmp_queue_put(q, "x", 1, 0), MPMP_EPIPE);
  stally_t t;
  tally_init(&t);
  unsigned char b[MAX_ITEM];
  size_t n;
  int rc;
  while ((rc = mpmp_queue_get(q, b, sizeof b, &n, T)) == 0)
    if (tally(&t, b, n) < 0)
      fail_msg("%s", t.error);
  EQ(rc, MPMP_EEOF);
  RC(mpmp_queue_get(q, b, sizeof b, &n, 0), MPMP_EEOF);
  for (int p = 0; p < nprod; p++)
    EQ(t.count[p], count);
  RC(mpmp_queue_free(q), 0);
}

/* JoinableQueue(): join waits for the task_done of the overflow's items
 * too. */
static void queue_joinable_unbounded_join_counts_overflow(void **state) {
  (void)state;
  mpmp_queue_t q;
  int n = 20000;
  RC(mpmp_joinable_queue_create(&q, 0, 8), 0);
  for (int64_t i = 0; i < n; i++)
    RC(mpmp_queue_put(q, &i, sizeof i, 0), 0);
  RC(mpmp_queue_join(q, 0.05), MPMP_ETIMEDOUT);
  /* it said how many wait (it said "timed out") */
  assert_non_null(strstr(mpmp_errmsg(), "20000 items put to the queue have "
                                        "no task_done() yet"));
  int64_t v;
  for (int i = 0; i < n; i++) {
    RC(mpmp_queue_get(q, &v, sizeof v, NULL, 0), 0);
    RC(mpmp_queue_task_done(q), 0);
  }
  RC(mpmp_queue_join(q, 0), 0);
  RC(mpmp_queue_task_done(q), MPMP_EPERM);
  RC(mpmp_queue_free(q), 0);
}

/* SimpleQueue() is unbounded as well. */
static void simple_queue_is_unbounded(void **state) {
  (void)state;
  mpmp_queue_t q;
  RC(mpmp_simple_queue_create(&q, 4), 0);
  for (int i = 0; i < 20000; i++)
    RC(mpmp_queue_put(q, &i, sizeof i, 0), 0);
  EQ(mpmp_queue_qsize(q), 20000);
  RC(mpmp_queue_free(q), 0);
}

/* ---- close() for this process only ---------------------------------------- */

typedef struct qpair {
  mpmp_queue_t q;
  mpmp_conn_t c;
} qpair_t;

/* A child using the handle its parent closed for itself. */
static int put_three(mpmp_ctx_t *ctx) {
  const qpair_t *a = mpmp_arg(ctx, NULL);
  for (int i = 0; i < 3; i++)
    if (mpmp_queue_put(a->q, &i, sizeof i, T) < 0)
      return mpmp_fail(ctx, "put %d: %s", i, mpmp_errmsg());
  return 0;
}
MPMP_TASK(put_three);

static void queue_close_local_closes_this_process_only(void **state) {
  (void)state;
  qpair_t a;
  int v;
  size_t n;
  RC(mpmp_queue_create(&a.q, 0, sizeof v), 0);
  RC(mpmp_queue_put(a.q, &(int){7}, sizeof v, 0), 0);
  RC(mpmp_queue_close_local(a.q), 0);
  RC(mpmp_queue_close_local(a.q), 0); /* twice: harmless */
  RC(mpmp_queue_put(a.q, &v, sizeof v, T), MPMP_EPIPE);
  HAS_MSG("this process closed its handle");
  HAS_MSG("mpmp_queue_close_local");
  RC(mpmp_queue_put_nowait(a.q, &v, sizeof v), MPMP_EPIPE);
  RC(mpmp_queue_get(a.q, &v, sizeof v, &n, T), MPMP_EPIPE);
  RC(mpmp_queue_get_nowait(a.q, &v, sizeof v, &n), MPMP_EPIPE);
  RC(mpmp_conn_wait(&a.q.ref, 1, 0, NULL), MPMP_EPIPE);
  /* the checks before it still come first */
  RC(mpmp_queue_put(a.q, NULL, 2, T), MPMP_EINVAL);
  EQ(mpmp_queue_qsize(a.q), 1); /* the queue itself goes on */
  EQ(mpmp_queue_empty(a.q), 0);
  /* another process's copy of the handle works */
  mpmp_process_t *p = start_process(put_three, &a, sizeof a);
  join_destroy_within(p, 60);
  EQ(mpmp_queue_qsize(a.q), 4);
  RC(mpmp_queue_free(a.q), 0);
  RC(mpmp_queue_close_local(a.q), MPMP_EBADF);
  /* a new queue is not closed, though it may take the freed block */
  mpmp_queue_t q2;
  RC(mpmp_queue_create(&q2, 0, sizeof v), 0);
  RC(mpmp_queue_put(q2, &v, sizeof v, 0), 0);
  RC(mpmp_queue_free(q2), 0);
  mpmp_queue_t bad = {{0}};
  RC(mpmp_queue_close_local(bad), MPMP_EBADF);
}

/* A child that closes its handle, then one that uses it: each Process is
 * a new process, whose handles are open, whichever rank (or task host)
 * runs both (the build before kept the close for every later body on
 * that rank: MPMP_EPIPE). A closed handle still answers as a handle: a
 * Pipe call on it is refused for its kind (it said the Queue was closed
 * here). */
static int close_mine(mpmp_ctx_t *ctx) {
  const qpair_t *a = mpmp_arg(ctx, NULL);
  if (mpmp_queue_close_local(a->q) < 0)
    return mpmp_fail(ctx, "close_local: %s", mpmp_errmsg());
  mpmp_conn_t wrong = {a->q.ref};
  int rc = mpmp_conn_poll(wrong, 0);
  if (rc != MPMP_EBADF)
    return mpmp_fail(ctx, "a Pipe call on the closed Queue handle: %d (%s)",
                     rc, mpmp_errmsg());
  return 0;
}
MPMP_TASK(close_mine);

static void queue_close_local_ends_with_its_process(void **state) {
  (void)state;
  qpair_t a;
  RC(mpmp_queue_create(&a.q, 0, sizeof(int)), 0);
  int workers = mpmp_worker_count();
  for (int i = 0; i < workers; i++) /* (every rank runs one such body) */
    join_destroy_within(start_process(close_mine, &a, sizeof a), 60);
  for (int i = 0; i < workers; i++)
    join_destroy_within(start_process(put_three, &a, sizeof a), 60);
  EQ(mpmp_queue_qsize(a.q), 3 * workers);
  RC(mpmp_queue_free(a.q), 0);
}

/* CPython's test_spawn_close: the parent closes the child's end right
 * after start; the child goes on using it (an echo until the sentinel). */
#define ECHO_END "<end>"

static int echo(mpmp_ctx_t *ctx) {
  const qpair_t *a = mpmp_arg(ctx, NULL);
  char b[64];
  size_t n;
  for (;;) {
    if (mpmp_conn_recv(a->c, b, sizeof b, &n, T) < 0)
      return mpmp_fail(ctx, "recv: %s", mpmp_errmsg());
    if (n == sizeof ECHO_END - 1 && memcmp(b, ECHO_END, n) == 0)
      return 0;
    if (mpmp_conn_send(a->c, b, n, T) < 0)
      return mpmp_fail(ctx, "send: %s", mpmp_errmsg());
  }
}
MPMP_TASK(echo);

static void pipe_spawn_close(void **state) {
  (void)state;
  mpmp_conn_t conn;
  qpair_t a;
  char b[64];
  size_t n;
  RC(mpmp_pipe_create(&conn, &a.c, 1), 0);
  mpmp_process_t *p = start_process(echo, &a, sizeof a);
  RC(mpmp_conn_close_local(a.c), 0); /* may come before the child runs */
  static const char *msgs[] = {"spawned", "", "and closed here"};
  for (int i = 0; i < 3; i++) {
    size_t len = strlen(msgs[i]);
    RC(mpmp_conn_send(conn, msgs[i], len, T), 0);
    RC(mpmp_conn_recv(conn, b, sizeof b, &n, T), 0);
    EQ(n, len);
    EQ(memcmp(b, msgs[i], len), 0);
  }
  /* the parent's own handle of the child's end is closed */
  RC(mpmp_conn_send(a.c, "x", 1, T), MPMP_EPIPE);
  HAS_MSG("mpmp_conn_close_local");
  RC(mpmp_conn_recv(a.c, b, sizeof b, &n, 0), MPMP_EPIPE);
  RC(mpmp_conn_poll(a.c, 0), MPMP_EPIPE);
  mpmp_ref_t both[2] = {conn.ref, a.c.ref};
  RC(mpmp_conn_wait(both, 2, 0, NULL), MPMP_EPIPE);
  HAS_MSG("object 1");
  RC(mpmp_conn_close_local(a.c), 0); /* twice: harmless */
  RC(mpmp_conn_send(conn, ECHO_END, sizeof ECHO_END - 1, T), 0);
  join_destroy_within(p, 60);
  /* no EOF from a local close; the close for everyone gives it */
  RC(mpmp_conn_poll(conn, 0), 0);
  RC(mpmp_conn_close(a.c), 0);
  RC(mpmp_conn_recv(conn, b, sizeof b, &n, T), MPMP_EEOF);
  RC(mpmp_conn_close_local(conn), 0);
  RC(mpmp_conn_close(conn), 0); /* the close for everyone still works */
  RC(mpmp_pipe_free(conn, a.c), 0);
  RC(mpmp_conn_close_local(conn), MPMP_EBADF);
}

/* ---- Process sentinels in connection.wait() ------------------------------- */

typedef struct sleeper {
  mpmp_queue_t started;
  double secs;
} sleeper_t;

static int signal_and_sleep(mpmp_ctx_t *ctx) {
  const sleeper_t *a = mpmp_arg(ctx, NULL);
  if (mpmp_queue_put(a->started, "s", 1, T) < 0)
    return mpmp_fail(ctx, "put: %s", mpmp_errmsg());
  nap_s(a->secs);
  return 0;
}
MPMP_TASK(signal_and_sleep);

/* CPython's test_wait_integer, with 0.4 s in place of 3 s. */
static void conn_wait_process_sentinel(void **state) {
  (void)state;
  sleeper_t s = {.secs = 0.4};
  mpmp_conn_t a, b;
  char buf[8];
  size_t n;
  int ready[3];
  RC(mpmp_queue_create(&s.started, 0, 1), 0);
  RC(mpmp_pipe_create(&a, &b, 1), 0);
  mpmp_process_t *p = start_process(signal_and_sleep, &s, sizeof s);
  mpmp_ref_t sent;
  RC(mpmp_process_sentinel(p, &sent), 0);
  RC(mpmp_queue_get(s.started, buf, sizeof buf, &n, T), 0);
  mpmp_ref_t objs[3] = {a.ref, sent, b.ref};
  double t0 = test_now();
  EQ(mpmp_conn_wait(objs, 3, T, ready), 1);
  EQ(ready[0], 1);
  IN(elapsed_since(t0), 0.2, 10.0);
  RC(mpmp_conn_send(a, NULL, 0, T), 0);
  t0 = test_now();
  EQ(mpmp_conn_wait(objs, 3, T, ready), 2);
  EQ(ready[0], 1);
  EQ(ready[1], 2);
  IN(elapsed_since(t0), 0, 0.4);
  RC(mpmp_conn_send(b, NULL, 0, T), 0);
  EQ(mpmp_conn_wait(objs, 3, T, ready), 3);
  /* one sentinel alone; an ended process stays ready */
  EQ(mpmp_conn_wait(&sent, 1, -1, ready), 1);
  EQ(ready[0], 0);
  EQ(mpmp_conn_wait(&sent, 1, 0, NULL), 1);
  RC(mpmp_conn_wait(&sent, 1, NAN, NULL), MPMP_EINVAL);
  join_destroy_within(p, 60);
  /* destroyed: its sentinel is stale */
  RC(mpmp_conn_wait(&sent, 1, 0, NULL), MPMP_EBADF);
  HAS_MSG("destroyed");
  RC(mpmp_conn_wait(objs, 3, 0, NULL), MPMP_EBADF);
  HAS_MSG("object 1");
  RC(mpmp_pipe_free(a, b), 0);
  RC(mpmp_queue_free(s.started), 0);
}

/* CPython's test_wait: several processes, each waited for by its
 * sentinel; the ready set grows as they end, a running one times out. */
static void conn_wait_sentinels_as_processes_end(void **state) {
  (void)state;
  int np = nworkers() > 3 ? 3 : nworkers();
  sleeper_t s[3];
  mpmp_process_t *ps[3];
  mpmp_ref_t sent[3];
  int ready[3];
  mpmp_queue_t started;
  char c;
  RC(mpmp_queue_create(&started, 0, 1), 0);
  for (int i = 0; i < np; i++) {
    s[i] = (sleeper_t){started, 0.3 * (i + 1)};
    ps[i] = start_process(signal_and_sleep, &s[i], sizeof s[i]);
    RC(mpmp_process_sentinel(ps[i], &sent[i]), 0);
  }
  for (int i = 0; i < np; i++)
    RC(mpmp_queue_get(started, &c, 1, NULL, T), 0);
  int seen = 0;
  double t0 = test_now();
  while (seen < np) {
    int k = mpmp_conn_wait(sent, np, T, ready);
    if (k <= 0)
      fail_msg("wait: %s", mpmp_errmsg());
    if (k < seen)
      fail_msg("an ended process is no longer ready");
    seen = k;
  }
  IN(elapsed_since(t0), 0.1, 20.0);
  for (int i = 0; i < np; i++) {
    EQ(ready[i], i);
    EQ(mpmp_process_is_alive(ps[i]), 0);
  }
  for (int i = 0; i < np; i++)
    join_destroy_within(ps[i], 60);
  RC(mpmp_queue_free(started), 0);
}

/* Misuse: a sentinel before start, NULL, a damaged one, one waited on
 * off the main rank; a running process's sentinel times out. */
static int wait_on_sentinel(mpmp_ctx_t *ctx) {
  const mpmp_ref_t *r = mpmp_arg(ctx, NULL);
  int rc = mpmp_conn_wait(r, 1, 0, NULL);
  if (rc != MPMP_EPERM || strstr(mpmp_errmsg(), "main rank") == NULL)
    return mpmp_fail(ctx, "a wait off the main rank gave %d: %s", rc,
                     mpmp_errmsg());
  return 0;
}
MPMP_TASK(wait_on_sentinel);

static void process_sentinel_misuse(void **state) {
  (void)state;
  sleeper_t s = {.secs = 0.5};
  mpmp_ref_t sent;
  char c;
  RC(mpmp_queue_create(&s.started, 0, 1), 0);
  mpmp_process_t *p;
  RC(mpmp_process_create(&p, signal_and_sleep, &s, sizeof s, NULL), 0);
  RC(mpmp_process_sentinel(p, &sent), MPMP_EPERM);
  HAS_MSG("never started");
  RC(mpmp_process_sentinel(NULL, &sent), MPMP_EINVAL);
  RC(mpmp_process_sentinel(p, NULL), MPMP_EINVAL);
  RC(mpmp_process_start(p), 0);
  RC(mpmp_process_sentinel(p, &sent), 0);
  RC(mpmp_queue_get(s.started, &c, 1, NULL, T), 0);
  double t0 = test_now();
  RC(mpmp_conn_wait(&sent, 1, 0.1, NULL), MPMP_ETIMEDOUT);
  assert_waited(t0, 0.1);
  RC(mpmp_conn_wait(&sent, 1, 0, NULL), MPMP_ETIMEDOUT);
  mpmp_ref_t bad = sent;
  bad.tag ^= 1;
  RC(mpmp_conn_wait(&bad, 1, 0, NULL), MPMP_EBADF);
  HAS_MSG("damaged");
  if (nworkers() >= 2) {
    mpmp_process_t *w = start_process(wait_on_sentinel, &sent, sizeof sent);
    join_destroy_within(w, 60);
  }
  EQ(mpmp_conn_wait(&sent, 1, T, NULL), 1);
  join_destroy_within(p, 60);
  RC(mpmp_queue_free(s.started), 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(queue_unbounded_grows_past_the_ring_in_order),
    cmocka_unit_test(queue_unbounded_put_waits_for_no_idle_consumer),
    cmocka_unit_test(queue_unbounded_slow_consumer_does_not_slow_puts),
    cmocka_unit_test(queue_unbounded_overflow_item_rules),
    cmocka_unit_test(queue_unbounded_overflow_mixed_sizes_in_order),
    cmocka_unit_test(queue_unbounded_overflow_taken_while_producers_put),
    cmocka_unit_test(queue_unbounded_heap_full_is_enospc),
    cmocka_unit_test(queue_unbounded_producers_exactly_once_in_order),
    cmocka_unit_test(queue_joinable_unbounded_join_counts_overflow),
    cmocka_unit_test(simple_queue_is_unbounded),
    cmocka_unit_test(queue_close_local_closes_this_process_only),
    cmocka_unit_test(queue_close_local_ends_with_its_process),
    cmocka_unit_test(pipe_spawn_close),
    cmocka_unit_test(conn_wait_process_sentinel),
    cmocka_unit_test(conn_wait_sentinels_as_processes_end),
    cmocka_unit_test(process_sentinel_misuse),
};

MPMP_TEST_MAIN(tests)
