/*
 * The loan of a worker's mailboxes to its task host (parallel/host.c): once
 * a worker has run an isolated chunk and is idle, its host takes the pool's
 * next chunks from the main rank's ring itself and answers them, while the
 * worker sleeps. These tests run streams of isolated items, so that the
 * loan is on, and then do what ends it in each way: an item that runs
 * long (the worker takes the rings back and the request over), a crash
 * in the host's own request, an answer too big for the ring, a chunk of
 * another pool or of a pool in the rank, a terminate. Every result must be
 * right and every failure at its item.
 */
#include <signal.h>
#include <stdint.h>
#include <unistd.h>

#include "mpitest.h"

enum { DO_NONE, DO_SLEEP, DO_SEGV, DO_BIG, DO_SPIN };

typedef struct item {
  int64_t x;
  int32_t what; /* DO_* for this item */
  int32_t ms;   /* DO_SLEEP: how long */
} item_t;

/* x*x + 1, after doing what the item says; DO_BIG answers 40 000 bytes
 * (an apply's result, more than a mailbox message). */
static int work(mpmp_ctx_t *ctx) {
  const item_t *it = mpmp_arg(ctx, NULL);
  switch (it->what) {
  case DO_SLEEP:
    usleep((useconds_t)it->ms * 1000);
    break;
  case DO_SEGV:
    raise(SIGSEGV);
    break;
  case DO_SPIN: /* ignores mpmp_should_stop() */
    for (;;)
      usleep(1000);
  case DO_BIG: {
    int64_t *big = mpmp_out(ctx, 5000 * sizeof *big);
    for (int i = 0; i < 5000; i++)
      big[i] = it->x + i;
    return 0;
  }
  }
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = it->x * it->x + 1;
  return 0;
}
MPMP_TASK(work);

/* The value an initializer left in this host, or 0. */
static int64_t host_mark;

static int set_mark(mpmp_ctx_t *ctx) {
  host_mark = *(const int64_t *)mpmp_arg(ctx, NULL);
  return 0;
}
MPMP_TASK(set_mark);

static int get_mark(mpmp_ctx_t *ctx) {
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = host_mark;
  return 0;
}
MPMP_TASK(get_mark);

static mpmp_pool_t *pool_of(int isolate, double limit, int64_t *mark) {
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.isolate = isolate, .task_timeout = limit};
  if (mark != NULL) {
    o.initializer = set_mark;
    o.initarg = mark;
    o.initarg_size = sizeof *mark;
  }
  OK(mpmp_pool_create(&pool, &o));
  return pool;
}

/* Map n items with chunk size `chunk`; item i does `what` when
 * i % every == at. Every other item's result is x*x + 1; the failures are
 * exactly the items that crash, with `code`. */
static void map_stream(mpmp_pool_t *pool, int n, size_t chunk, int what,
                       int every, int at, int ms, int code) {
  item_t *in = calloc((size_t)n, sizeof *in);
  int64_t *out = calloc((size_t)n, sizeof *out);
  int bad = 0;
  for (int i = 0; i < n; i++) {
    int hit = every > 0 && i % every == at;
    in[i] = (item_t){.x = i, .what = hit ? what : DO_NONE, .ms = ms};
    bad += hit && what == DO_SEGV;
  }
  mpmp_async_t *res = NULL;
  OK(mpmp_pool_map_async(pool, work, in, (size_t)n, sizeof *in, out,
                         sizeof *out, chunk, NULL, NULL, &res));
  RC(mpmp_async_get(res, T_OUT), bad ? code : 0);
  EQ(mpmp_async_failed_count(res), bad);
  for (size_t k = 0; k < (size_t)bad; k++) {
    size_t index = 0;
    int rank = -1;
    const char *msg = NULL;
    OK(mpmp_async_failure(res, (int)k, &index, &rank, &msg));
    if ((int)index % every != at || strstr(msg, "killed by signal 11") == NULL)
      fail_msg("failure %zu: item %zu: '%s'", k, index, msg);
  }
  for (int i = 0; i < n; i++)
    if (in[i].what != DO_SEGV && out[i] != in[i].x * in[i].x + 1)
      fail_msg("item %d: %lld, expected %lld", i, (long long)out[i],
               (long long)(in[i].x * in[i].x + 1));
  mpmp_async_destroy(res);
  free(in);
  free(out);
}

/* Thousands of applies in flight, then maps of chunk 1 and 7. */
static void loan_streams_are_right(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = pool_of(MPMP_ISOLATE_ALWAYS, 0, NULL);
  enum { N = 3000 };
  static mpmp_async_t *res[N];
  for (int i = 0; i < N; i++) {
    item_t in = {.x = i};
    OK(mpmp_pool_apply_async(pool, work, &in, sizeof in, NULL, NULL,
                             &res[i]));
  }
  for (int i = 0; i < N; i++) {
    const void *data = NULL;
    size_t size = 0;
    OK(mpmp_async_get(res[i], T_OUT));
    OK(mpmp_async_result(res[i], &data, &size));
    EQ(size, sizeof(int64_t));
    EQ(*(const int64_t *)data, (int64_t)i * i + 1);
    mpmp_async_destroy(res[i]);
  }
  map_stream(pool, 5000, 1, DO_NONE, 0, 0, 0, 0);
  map_stream(pool, 5000, 7, DO_NONE, 0, 0, 0, 0);
  OK(mpmp_pool_destroy(pool));
}

/* Items of 60 ms among quick ones: each runs past the worker's look, which
 * takes the rings back and the request over; the stream goes on. */
static void loan_long_items_are_taken_over(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = pool_of(MPMP_ISOLATE_ALWAYS, 0, NULL);
  map_stream(pool, 400, 1, DO_SLEEP, 50, 3, 60, 0);
  map_stream(pool, 400, 3, DO_SLEEP, 70, 9, 60, 0);
  OK(mpmp_pool_destroy(pool));
}

/* A crash in a request the host took itself: the worker finds it in the
 * region, reports that item and runs the rest of its chunk. */
static void loan_crashes_cost_one_item(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = pool_of(MPMP_ISOLATE_ALWAYS, 0, NULL);
  map_stream(pool, 600, 1, DO_SEGV, 37, 11, 0, MPMP_ECRASHED);
  map_stream(pool, 600, 5, DO_SEGV, 41, 2, 0, MPMP_ECRASHED);
  map_stream(pool, 600, 1, DO_NONE, 0, 0, 0, 0);
  OK(mpmp_pool_destroy(pool));
}

/* An item past task_timeout in the middle of a stream. */
static void loan_time_limit(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = pool_of(MPMP_ISOLATE_ALWAYS, 0.3, NULL);
  map_stream(pool, 200, 1, DO_NONE, 0, 0, 0, 0);
  item_t in[60];
  int64_t out[60];
  for (int i = 0; i < 60; i++)
    in[i] = (item_t){.x = i, .what = i == 40 ? DO_SPIN : DO_NONE};
  mpmp_async_t *res = NULL;
  OK(mpmp_pool_map_async(pool, work, in, 60, sizeof *in, out, sizeof *out, 1,
                         NULL, NULL, &res));
  RC(mpmp_async_get(res, T_OUT), MPMP_ETIMEDOUT);
  EQ(mpmp_async_failed_count(res), 1);
  size_t index = 0;
  OK(mpmp_async_failure(res, 0, &index, NULL, NULL));
  EQ(index, 40);
  for (int i = 0; i < 60; i++)
    if (i != 40)
      EQ(out[i], (int64_t)i * i + 1);
  mpmp_async_destroy(res);
  map_stream(pool, 200, 1, DO_NONE, 0, 0, 0, 0);
  OK(mpmp_pool_destroy(pool));
}

/* Answers too big for a mailbox message go back to the worker, which
 * sends them; results above the inline size are never the host's. */
static void loan_big_answers(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = pool_of(MPMP_ISOLATE_ALWAYS, 0, NULL);
  static int64_t big[5000];
  for (int r = 0; r < 20; r++) {
    map_stream(pool, 50, 1, DO_NONE, 0, 0, 0, 0);
    item_t it = {.x = r * 1000, .what = DO_BIG};
    size_t size = 0;
    OK(mpmp_pool_apply(pool, work, &it, sizeof it, big, sizeof big, &size));
    EQ(size, sizeof big);
    for (int i = 0; i < 5000; i++)
      if (big[i] != it.x + i)
        fail_msg("round %d: big[%d] = %lld", r, i, (long long)big[i]);
  }
  map_stream(pool, 20000, 1000, DO_NONE, 0, 0, 0, 0);
  map_stream(pool, 500, 1, DO_NONE, 0, 0, 0, 0);
  OK(mpmp_pool_destroy(pool));
}

/* Pools with initializers and a pool in the ranks, one after another on
 * the same workers: each task sees its own pool's initializer, never the
 * one before's, and a chunk of another pool ends a loan. */
static void loan_pools_take_turns(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  enum { N = 64 };
  int64_t dummy[N] = {0}, marks[N];
  for (int r = 0; r < 30; r++) {
    int64_t mark = 100 + r;
    int kind = r % 3; /* 0, 1: isolated with an initializer; 2: in the rank */
    mpmp_pool_t *p = pool_of(kind == 2 ? MPMP_ISOLATE_NEVER
                                       : MPMP_ISOLATE_ALWAYS,
                             0, kind == 2 ? NULL : &mark);
    map_stream(p, 100, 1, DO_NONE, 0, 0, 0, 0);
    OK(mpmp_pool_map(p, get_mark, dummy, N, sizeof *dummy, marks,
                     sizeof *marks, 1));
    for (int i = 0; kind != 2 && i < N; i++)
      if (marks[i] != mark)
        fail_msg("round %d item %d: mark %lld, expected %lld", r, i,
                 (long long)marks[i], (long long)mark);
    OK(mpmp_pool_destroy(p));
  }
}

/* terminate while the host runs a request of its own that ignores the
 * stop: killed after the grace (MPMP_TERM_GRACE=1 here). */
static void loan_terminate_kills_the_hosts_request(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = pool_of(MPMP_ISOLATE_ALWAYS, 0, NULL);
  map_stream(pool, 300, 1, DO_NONE, 0, 0, 0, 0);
  item_t in[8];
  int64_t out[8];
  for (int i = 0; i < 8; i++)
    in[i] = (item_t){.x = i, .what = DO_SPIN};
  mpmp_async_t *res = NULL;
  OK(mpmp_pool_map_async(pool, work, in, 8, sizeof *in, out, sizeof *out, 1,
                         NULL, NULL, &res));
  test_sleep(0.2);
  double t0 = test_now();
  OK(mpmp_pool_terminate(pool));
  OK(mpmp_pool_join(pool, 10));
  IN(test_now() - t0, 0, 1 + 2);
  RC(mpmp_async_get(res, 0), MPMP_ECRASHED);
  HAS_MSG("MPMP_TERM_GRACE");
  mpmp_async_destroy(res);
  OK(mpmp_pool_destroy(pool));
  /* and the workers serve the next pool */
  pool = pool_of(MPMP_ISOLATE_ALWAYS, 0, NULL);
  map_stream(pool, 300, 1, DO_NONE, 0, 0, 0, 0);
  OK(mpmp_pool_destroy(pool));
}


static const struct CMUnitTest tests[] = {
    cmocka_unit_test(loan_streams_are_right),
    cmocka_unit_test(loan_long_items_are_taken_over),
    cmocka_unit_test(loan_crashes_cost_one_item),
    cmocka_unit_test(loan_time_limit),
    cmocka_unit_test(loan_big_answers),
    cmocka_unit_test(loan_pools_take_turns),
    cmocka_unit_test(loan_terminate_kills_the_hosts_request),
};

MPMP_TEST_MAIN(tests)
