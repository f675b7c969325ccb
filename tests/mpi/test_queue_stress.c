/* Queue under stress: many producers and several consumers, every item
 * exactly once and in each producer's order, maxsize 1, and a
 * JoinableQueue's join waiting for every task_done. With 6 ranks over 2
 * pseudo-nodes: 4 producers and 2 consumers.
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

/* ---- stress: many producers, several consumers --------------------------- */

/* nprod producers on workers put `count` items each; one worker consumer
 * (when a worker is left) and the main rank take them; the main rank
 * closes the queue once the producers are done, and every consumer stops
 * at EOF. Every item must come exactly once, each producer's in order. */
/* The longest a stress may take (a hang fails instead of stalling CI).
 * Under AddressSanitizer every call is several times slower, and with
 * maxsize 1 across 3 pseudo-nodes (each put a round trip) the run took
 * 95 s in one CI pass and over 120 s in the next. */
#ifdef __SANITIZE_ADDRESS__
#define STRESS_LIMIT_S 200
#else
#define STRESS_LIMIT_S 120
#endif

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
    cons = start_process(stress_consumer, &q, sizeof q);
  for (int p = 0; p < nprod; p++) {
    args[p] = (sprod_t){q, (uint32_t)p, count};
    prods[p] = start_process(stress_producer, &args[p], sizeof args[p]);
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
      int cap = mpmp_queue_capacity(q), size = mpmp_queue_qsize(q);
      if (cap > 0 && size > cap) /* never more than maxsize */
        fail_msg("qsize %d over maxsize %d", size, cap);
      if ((mine.total & 4095) != 0)
        continue;
    } else if (rc != MPMP_ETIMEDOUT) {
      fail_msg("get: %s", mpmp_errmsg());
    }
    if (!closed && all_joined(prods, nprod)) {
      assert_int_equal(mpmp_queue_close(q), 0);
      closed = 1;
    }
    assert_true(elapsed_since(t0) < STRESS_LIMIT_S);
  }
  stally_t sum = mine;
  for (int p = 0; p < nprod; p++)
    join_destroy_within(prods[p], 60);
  if (cons) {
    size_t size;
    const stally_t *t = join_result_within(cons, 60, &size);
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

/* A bounded queue of `maxsize`, stressed with `count` items a producer. */
static void stress_bounded(int maxsize, int count) {
  mpmp_queue_t q;
  assert_int_equal(mpmp_queue_create(&q, maxsize, MAX_ITEM), 0);
  assert_int_equal(mpmp_queue_capacity(q), maxsize);
  stress(q, count);
  assert_int_equal(mpmp_queue_free(q), 0);
}

/* With room for many items, producers of another node pipeline their
 * puts while their share of the room its node reported lasts (object.c,
 * "Pipelined puts"); several of them can overrun it, and the rest of
 * their batches then waits on the queue's node. Still every item once,
 * in order, and never more than maxsize in the queue. */
static void queue_stress_maxsize_64(void **state) {
  (void)state;
  stress_bounded(64, 100000);
}

/* Every item a hand-over through the one slot: across pseudo-nodes each
 * costs about 0.1 ms (a put waits for the slot's home to say it is free),
 * so 25 000 items a producer here, which is still 100 000 hand-overs. */
static void queue_stress_maxsize_1(void **state) {
  (void)state;
  stress_bounded(1, 25000);
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
    ws[i] = start_process(joinable_worker, &a, sizeof a);
  assert_int_equal(mpmp_queue_join(a.q, 60), 0);
  assert_int_equal(mpmp_value_get_i64(a.done, &done), 0);
  assert_int_equal(done, n); /* every task_done came before join returned */
  assert_int_equal(mpmp_queue_empty(a.q), 1);
  assert_int_equal(mpmp_queue_close(a.q), 0);
  for (int i = 0; i < nw; i++)
    join_destroy_within(ws[i], 60);
  assert_int_equal(mpmp_queue_task_done(a.q), MPMP_EPERM);
  assert_non_null(strstr(mpmp_errmsg(), "more times"));
  assert_int_equal(mpmp_queue_free(a.q), 0);
  assert_int_equal(mpmp_value_free(a.done), 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(queue_stress_many_producers_exactly_once_in_order),
    cmocka_unit_test(queue_stress_maxsize_1),
    cmocka_unit_test(queue_stress_maxsize_64),
    cmocka_unit_test(queue_joinable_join_waits_for_every_task_done),
};

MPMP_TEST_MAIN(tests)
