/* Chunk tasks (mpmp_pool_map_chunks) and zero-copy maps through
 * SharedMemory (mpmp_pool_map_shm): results for many sizes and chunk
 * sizes, failures that fail their chunk with its message, results written
 * in place by the workers of the main rank's node (and copied for those of
 * another node: run on 2 pseudo-nodes too), a block made again under its
 * name, and the ways a caller gets the call wrong. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpitest.h"

/* x*x, int32 -> int64 (the benchmark's kernel) */
static int square_chunk(mpmp_ctx_t *ctx, const void *in, void *out,
                        size_t count) {
  (void)ctx;
  const int32_t *x = in;
  int64_t *y = out;
  for (size_t i = 0; i < count; i++)
    y[i] = (int64_t)x[i] * x[i];
  return 0;
}
MPMP_CHUNK_TASK(square_chunk);

/* x*x in place, int64 -> int64 */
static int square64_chunk(mpmp_ctx_t *ctx, const void *in, void *out,
                          size_t count) {
  (void)ctx;
  const int64_t *x = in;
  int64_t *y = out;
  for (size_t i = 0; i < count; i++)
    y[i] = x[i] * x[i];
  return 0;
}
MPMP_CHUNK_TASK(square64_chunk);

/* What a chunk saw: its count, the node it ran on, the item's square. */
typedef struct seen {
  int64_t sq;
  int32_t count, node;
} seen_t;

/* Writes what it saw, and marks its items in its input (-1 - x): the
 * main rank sees the mark only where the worker read the items in place. */
static int seen_chunk(mpmp_ctx_t *ctx, const void *in, void *out,
                      size_t count) {
  (void)ctx;
  int32_t *x = (int32_t *)(uintptr_t)in; /* the test's own trespass */
  seen_t *y = out;
  for (size_t i = 0; i < count; i++) {
    y[i] = (seen_t){(int64_t)x[i] * x[i], (int32_t)count, mpmp_node_id()};
    x[i] = -1 - x[i];
  }
  return 0;
}
MPMP_CHUNK_TASK(seen_chunk);

/* Fails the chunks that hold item value 13, with a message; returns 7
 * (no message) for those that hold 29. */
static int picky_chunk(mpmp_ctx_t *ctx, const void *in, void *out,
                       size_t count) {
  const int32_t *x = in;
  int64_t *y = out;
  for (size_t i = 0; i < count; i++) {
    if (x[i] == 13)
      return mpmp_fail(ctx, "unlucky item %d in a chunk of %zu", x[i], count);
    if (x[i] == 29)
      return 7;
    y[i] = (int64_t)x[i] * x[i];
  }
  return 0;
}
MPMP_CHUNK_TASK(picky_chunk);

/* mpmp_out() has no place in a chunk task: it fails the chunk. */
static int out_chunk(mpmp_ctx_t *ctx, const void *in, void *out,
                     size_t count) {
  (void)in;
  (void)out;
  (void)count;
  mpmp_out(ctx, 8);
  return 0;
}
MPMP_CHUNK_TASK(out_chunk);

/* Runs until it is told to stop (at most 20 s), then returns 0: a chunk
 * cut short, which the pool must report as failed. */
static int stoppable_chunk(mpmp_ctx_t *ctx, const void *in, void *out,
                           size_t count) {
  (void)in;
  memset(out, 0x7f, count * sizeof(int64_t));
  for (int k = 0; k < 20000 && !mpmp_should_stop(ctx); k++)
    test_sleep(0.001);
  return 0;
}
MPMP_CHUNK_TASK(stoppable_chunk);

/* Who ran each item: the rank, and the first item of its chunk (the
 * items are their own indices). */
typedef struct who {
  int32_t rank, first;
} who_t;
static int who_chunk(mpmp_ctx_t *ctx, const void *in, void *out,
                     size_t count) {
  (void)ctx;
  const int32_t *x = in;
  who_t *y = out;
  for (size_t i = 0; i < count; i++)
    y[i] = (who_t){mpmp_rank(), x[0]};
  return 0;
}
MPMP_CHUNK_TASK(who_chunk);

/* The same, but the chunk that starts at item 0 sleeps 1 s first: a slow
 * worker, whose share the others must take. */
static int who_slow_chunk(mpmp_ctx_t *ctx, const void *in, void *out,
                          size_t count) {
  if (count > 0 && *(const int32_t *)in == 0)
    test_sleep(1.0);
  return who_chunk(ctx, in, out, count);
}
MPMP_CHUNK_TASK(who_slow_chunk);

/* Never registered. */
static int stray_chunk(mpmp_ctx_t *ctx, const void *in, void *out,
                       size_t count) {
  return square_chunk(ctx, in, out, count);
}

/* The per-item x*x; fails item value 13. */
static int square_item(mpmp_ctx_t *ctx) {
  int32_t x = *(const int32_t *)mpmp_arg(ctx, NULL);
  if (x == 13)
    return mpmp_fail(ctx, "item 13 refused");
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = (int64_t)x * x;
  return 0;
}
MPMP_TASK(square_item);

static mpmp_pool_t *pool_of(int n) {
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.processes = n, .isolate = MPMP_ISOLATE_NEVER};
  OK(mpmp_pool_create(&pool, &o));
  return pool;
}

static void finish(mpmp_pool_t *pool) {
  OK(mpmp_pool_close(pool));
  OK(mpmp_pool_join(pool, T_OUT));
  OK(mpmp_pool_destroy(pool));
}

static int32_t *ints(size_t n) {
  int32_t *x = malloc((n ? n : 1) * sizeof *x);
  assert_non_null(x);
  for (size_t i = 0; i < n; i++)
    x[i] = (int32_t)(i * 7919 % 100003);
  return x;
}

/* The items' runs: every chunk is a run of items that saw the same count,
 * of that length, at most `chunk` (0: any). */
static void check_runs(const seen_t *y, size_t n, size_t chunk) {
  size_t calls = 0;
  for (size_t i = 0; i < n;) {
    size_t c = (size_t)y[i].count;
    if (c == 0 || i + c > n || (chunk && c > chunk))
      fail_msg("item %zu saw a chunk of %zu (n %zu, chunksize %zu)", i, c, n,
               chunk);
    for (size_t k = i; k < i + c; k++)
      EQ(y[k].count, c);
    i += c;
    calls++;
  }
  if (chunk)
    IN((double)calls, (double)((n + chunk - 1) / chunk), (double)n);
}

static void chunks_results_every_size(void **state) {
  (void)state;
  mpmp_pool_t *pool = pool_of(0);
  size_t ns[] = {1, 2, 7, 1000, 100003};
  size_t chunks[] = {0, 1, 3, 64, 4096, 200000};
  for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
    for (size_t b = 0; b < sizeof chunks / sizeof *chunks; b++) {
      size_t n = ns[a], chunk = chunks[b];
      if (n > 1000 && chunk == 1)
        continue; /* 10^5 messages: slow under sanitizers, nothing new */
      int32_t *x = ints(n);
      int64_t *y = malloc(n * sizeof *y);
      seen_t *s = malloc(n * sizeof *s);
      assert_non_null(y);
      assert_non_null(s);
      OK(mpmp_pool_map_chunks(pool, square_chunk, x, n, sizeof *x, y,
                              sizeof *y, chunk));
      for (size_t i = 0; i < n; i++)
        EQ(y[i], (int64_t)x[i] * x[i]);
      OK(mpmp_pool_map_chunks(pool, seen_chunk, x, n, sizeof *x, s, sizeof *s,
                              chunk));
      check_runs(s, n, chunk);
      free(x);
      free(y);
      free(s);
    }
  finish(pool);
}

static int callback_ok = -1;
static void on_done(mpmp_async_t *res, int ok, void *user) {
  (void)res;
  *(int *)user = ok;
}

static void chunks_async_and_callback(void **state) {
  (void)state;
  mpmp_pool_t *pool = pool_of(0);
  size_t n = 50000;
  int32_t *x = ints(n);
  int64_t *y = calloc(n, sizeof *y);
  mpmp_async_t *res = NULL;
  callback_ok = -1;
  OK(mpmp_pool_map_chunks_async(pool, square_chunk, x, n, sizeof *x, y,
                                sizeof *y, 0, on_done, &callback_ok, &res));
  OK(mpmp_async_get(res, T_OUT));
  EQ(callback_ok, 1);
  EQ(mpmp_async_successful(res), 1);
  mpmp_async_destroy(res);
  for (size_t i = 0; i < n; i++)
    EQ(y[i], (int64_t)x[i] * x[i]);
  free(x);
  free(y);
  finish(pool);
}

/* A failing chunk fails all its items, with its message; nothing else is
 * lost. */
static void chunk_failure_fails_its_items(void **state) {
  (void)state;
  mpmp_pool_t *pool = pool_of(0);
  enum { N = 100, CH = 10 };
  int32_t x[N];
  int64_t y[N];
  for (int i = 0; i < N; i++)
    x[i] = i;
  memset(y, 0x55, sizeof y);
  RC(mpmp_pool_map_chunks(pool, picky_chunk, x, N, sizeof *x, y, sizeof *y,
                          CH),
     MPMP_ETASK);
  HAS_MSG("unlucky item 13 in a chunk of 10");
  for (int i = 0; i < N; i++)
    EQ(y[i], (i / CH == 1 || i / CH == 2) ? 0 : (int64_t)i * i);
  mpmp_async_t *res = NULL;
  OK(mpmp_pool_map_chunks_async(pool, picky_chunk, x, N, sizeof *x, y,
                                sizeof *y, CH, NULL, NULL, &res));
  RC(mpmp_async_get(res, T_OUT), MPMP_ETASK);
  EQ(mpmp_async_failed_count(res), 2 * CH);
  for (int k = 0; k < 2 * CH; k++) {
    size_t index;
    int rank;
    const char *msg;
    OK(mpmp_async_failure(res, k, &index, &rank, &msg));
    EQ(index, (size_t)(CH + k));
    IN(rank, 1, mpmp_worker_count());
    if (strstr(msg, k < CH ? "unlucky item 13" : "returned 7") == NULL)
      fail_msg("failure %d says '%s'", k, msg);
  }
  mpmp_async_destroy(res);
  /* mpmp_out() in a chunk task fails its chunk, saying so */
  RC(mpmp_pool_map_chunks(pool, out_chunk, x, N, sizeof *x, y, sizeof *y, 0),
     MPMP_ETASK);
  HAS_MSG("8 bytes");
  finish(pool);
}

/* terminate stops a running chunk task (mpmp_should_stop) and fails its
 * items, "terminated"; the map says so. */
static void chunk_task_terminated(void **state) {
  (void)state;
  mpmp_pool_t *pool = pool_of(0);
  enum { N = 64 };
  int32_t x[N] = {0};
  int64_t y[N];
  memset(y, 0x11, sizeof y);
  mpmp_async_t *res = NULL;
  int w = mpmp_pool_size(pool);
  OK(mpmp_pool_map_chunks_async(pool, stoppable_chunk, x, N, sizeof *x, y,
                                sizeof *y, 4, NULL, NULL, &res));
  test_sleep(0.2);
  double t0 = test_now();
  OK(mpmp_pool_terminate(pool));
  RC(mpmp_async_get(res, T_OUT), MPMP_ETASK);
  HAS_MSG("terminated");
  IN(test_now() - t0, 0, 10);
  /* the chunk each worker ran fails; so does every item never begun (as
   * for any map: get says ETASK, "terminated"), each listed in item order
   * and said to have run nowhere (rank -1) */
  EQ(mpmp_async_failed_count(res), N);
  int ran = 0;
  size_t last = 0;
  for (int k = 0; k < N; k++) {
    const char *msg;
    size_t idx;
    int rank;
    OK(mpmp_async_failure(res, k, &idx, &rank, &msg));
    if (strstr(msg, "terminated") == NULL)
      fail_msg("failure %d says '%s'", k, msg);
    if (k > 0 && idx <= last)
      fail_msg("failure %d is item %zu, after item %zu", k, idx, last);
    last = idx;
    ran += rank > 0;
  }
  EQ(ran, 4 * w);
  RC(mpmp_async_failure(res, N, NULL, NULL, NULL), MPMP_EINVAL);
  /* a failed chunk's results read as zeros (not what the task wrote), and
   * so do those of the items never run (not what the caller had there) */
  for (int i = 0; i < N; i++)
    if (y[i] != 0)
      fail_msg("result %d is %lld", i, (long long)y[i]);
  mpmp_async_destroy(res);
  OK(mpmp_pool_join(pool, T_OUT));
  OK(mpmp_pool_destroy(pool));
}

/* The ways a caller gets a chunk map wrong: each refused with its code and
 * a message, nothing submitted. */
static void chunks_misuse(void **state) {
  (void)state;
  mpmp_pool_t *pool = pool_of(0);
  int32_t x[4] = {1, 2, 3, 4};
  int64_t y[4];
  mpmp_async_t *res = NULL;
  RC(mpmp_pool_map_chunks(NULL, square_chunk, x, 4, 4, y, 8, 0), MPMP_EINVAL);
  RC(mpmp_pool_map_chunks(pool, NULL, x, 4, 4, y, 8, 0), MPMP_EINVAL);
  HAS_MSG("NULL");
  RC(mpmp_pool_map_chunks(pool, NULL, x, 0, 4, y, 8, 0), MPMP_EINVAL);
  RC(mpmp_pool_map_chunks(pool, (mpmp_chunk_fn)(void (*)(void))square_item, x,
                          4, 4, y, 8, 0),
     MPMP_ENOTASK);
  HAS_MSG("per-item task");
  RC(mpmp_pool_map_chunks(pool, stray_chunk, x, 4, 4, y, 8, 0), MPMP_ENOTASK);
  HAS_MSG("MPMP_CHUNK_TASK(");
  /* a chunk task anywhere a per-item task goes */
  mpmp_task_fn as_item = (mpmp_task_fn)(void (*)(void))square_chunk;
  RC(mpmp_pool_map(pool, as_item, x, 4, 4, y, 8, 0), MPMP_ENOTASK);
  HAS_MSG("is a chunk task");
  RC(mpmp_pool_apply(pool, as_item, x, 4, y, 8, NULL), MPMP_ENOTASK);
  RC(mpmp_pool_map_chunks(pool, square_chunk, NULL, 4, 4, y, 8, 0),
     MPMP_EINVAL);
  HAS_MSG("input is NULL");
  RC(mpmp_pool_map_chunks(pool, square_chunk, x, 4, 4, NULL, 8, 0),
     MPMP_EINVAL);
  HAS_MSG("output is NULL");
  RC(mpmp_pool_map_chunks(pool, square_chunk, x, 4, 0, y, 8, 0), MPMP_EINVAL);
  RC(mpmp_pool_map_chunks(pool, square_chunk, x, 4, 4, y, 0, 0), MPMP_EINVAL);
  RC(mpmp_pool_map_chunks(pool, square_chunk, x, (size_t)-1, 4, y, 8, 0),
     MPMP_EINVAL);
  RC(mpmp_pool_map_chunks(pool, square_chunk, x, SIZE_MAX / 4, 4, y, 8, 0),
     MPMP_EINVAL);
  RC(mpmp_pool_map_chunks(pool, square_chunk, x, 4, SIZE_MAX / 2, y, 8, 0),
     MPMP_EINVAL);
  RC(mpmp_pool_map_chunks(pool, square_chunk, x, 4, 4, y, SIZE_MAX, 0),
     MPMP_EINVAL);
  RC(mpmp_pool_map_chunks_async(pool, square_chunk, x, 4, 4, y, 8, 0, NULL,
                                NULL, NULL),
     MPMP_EINVAL);
  OK(mpmp_pool_map_chunks(pool, square_chunk, NULL, 0, 4, NULL, 8, 0));
  /* random sizes and counts: refused or right, never a crash */
  int32_t xs[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  int64_t ys[8];
  uint64_t rnd = 16;
  for (int k = 0; k < 200; k++) {
    size_t n = (size_t)(test_rnd(&rnd) % 6);
    size_t in_size = (size_t)(test_rnd(&rnd) % 3) * 4;
    size_t out_size = (size_t)(test_rnd(&rnd) % 3) * 8;
    int rc = mpmp_pool_map_chunks(pool, square_chunk, xs,
                                  n > 4 ? SIZE_MAX - n : n, in_size, ys,
                                  out_size, (size_t)k % 5);
    EQ(rc, n > 4 || (n > 0 && (in_size == 0 || out_size == 0)) ? MPMP_EINVAL
                                                              : 0);
  }
  OK(mpmp_pool_close(pool));
  RC(mpmp_pool_map_chunks(pool, square_chunk, x, 4, 4, y, 8, 0), MPMP_EPERM);
  RC(mpmp_pool_map_chunks_async(pool, square_chunk, x, 4, 4, y, 8, 0, NULL,
                                NULL, &res),
     MPMP_EPERM);
  OK(mpmp_pool_join(pool, T_OUT));
  OK(mpmp_pool_destroy(pool));
  if (!test_hosts_off()) { /* chunk tasks run in the worker rank */
    mpmp_pool_t *iso = NULL;
    mpmp_pool_opts_t o = {.processes = 1, .isolate = MPMP_ISOLATE_ALWAYS};
    OK(mpmp_pool_create(&iso, &o));
    RC(mpmp_pool_map_chunks(iso, square_chunk, x, 4, 4, y, 8, 0),
       MPMP_ENOTSUP);
    HAS_MSG("task hosts");
    finish(iso);
  }
}

/* ---- zero copy ------------------------------------------------------------ */

static mpmp_shm_t *block(size_t size) {
  mpmp_shm_t *b = NULL;
  OK(mpmp_shm_create(&b, NULL, size));
  return b;
}

static void drop(mpmp_shm_t *b) {
  OK(mpmp_shm_unlink(b));
  OK(mpmp_shm_close(b));
}

/* Items and results in place: the workers of the main rank's node read
 * and write the blocks (their mark on the input shows), those of another
 * node get copies (no mark); every result is right either way. */
static void zero_copy_in_place(void **state) {
  (void)state;
  mpmp_pool_t *pool = pool_of(0);
  size_t n = 20000, off_in = 24, off_out = 40;
  int w = mpmp_pool_size(pool);
  mpmp_shm_t *in = block(off_in + n * sizeof(int32_t));
  mpmp_shm_t *out = block(off_out + n * sizeof(seen_t) + 16);
  int32_t *x = (int32_t *)((char *)mpmp_shm_buf(in) + off_in);
  seen_t *y = (seen_t *)((char *)mpmp_shm_buf(out) + off_out);
  for (size_t i = 0; i < n; i++)
    x[i] = (int32_t)i;
  size_t chunk = n / (8 * (size_t)w) + 1;
  OK(mpmp_pool_map_shm(pool, NULL, seen_chunk, in, off_in, n, sizeof *x, out,
                       off_out, sizeof *y, chunk));
  size_t marked = 0, here = 0;
  for (size_t i = 0; i < n; i++) {
    EQ(y[i].sq, (int64_t)i * (int64_t)i);
    int in_place = x[i] == -1 - (int32_t)i;
    if (!in_place)
      EQ(x[i], (int32_t)i); /* a copy was marked, not the block */
    EQ(in_place, y[i].node == mpmp_node_id());
    marked += (size_t)in_place;
    here += y[i].node == mpmp_node_id();
  }
  check_runs(y, n, chunk);
  if (!other_node_exists())
    EQ(marked, n);
  else /* every worker had a chunk: those of the other node copied theirs */
    IN((double)marked, 0, (double)n - 1);
  EQ(marked, here);
  /* the bytes around the results are untouched */
  for (size_t k = 0; k < off_out; k++)
    EQ(((char *)mpmp_shm_buf(out))[k], 0);
  /* a per-item task in place, its items and results in one block */
  mpmp_shm_t *both = block(n * (sizeof(int32_t) + sizeof(int64_t)));
  int32_t *zi = mpmp_shm_buf(both);
  int64_t *zo = (int64_t *)(zi + n);
  for (size_t i = 0; i < n; i++)
    zi[i] = (int32_t)(i % 1000);
  RC(mpmp_pool_map_shm(pool, square_item, NULL, both, 0, n, sizeof *zi, both,
                       n * sizeof *zi, sizeof *zo, 0),
     MPMP_ETASK);
  HAS_MSG("item 13 refused");
  for (size_t i = 0; i < n; i++)
    EQ(zo[i], i % 1000 == 13 ? 0 : (int64_t)(i % 1000) * (int64_t)(i % 1000));
  /* a chunk task may write its results over its own items */
  for (size_t i = 0; i < n; i++)
    zo[i] = (int64_t)i;
  OK(mpmp_pool_map_shm(pool, NULL, square64_chunk, both, n * sizeof *zi, n,
                       sizeof *zo, both, n * sizeof *zi, sizeof *zo, 0));
  for (size_t i = 0; i < n; i++)
    EQ(zo[i], (int64_t)i * (int64_t)i);
  /* async, the chunk task's default chunks */
  for (size_t i = 0; i < n; i++)
    x[i] = (int32_t)i;
  mpmp_async_t *res = NULL;
  OK(mpmp_pool_map_shm_async(pool, NULL, square_chunk, in, off_in, n,
                             sizeof *x, out, off_out, sizeof(int64_t), 0,
                             NULL, NULL, &res));
  OK(mpmp_async_get(res, T_OUT));
  mpmp_async_destroy(res);
  int64_t *q = (int64_t *)((char *)mpmp_shm_buf(out) + off_out);
  for (size_t i = 0; i < n; i++)
    EQ(q[i], (int64_t)i * (int64_t)i);
  drop(in);
  drop(out);
  drop(both);
  finish(pool);
}

/* Fewer items than workers, and a few more: each worker's share of a
 * zero-copy map (its home range) may be empty; every item is still
 * computed once, and nothing past the items is written. */
static void zero_copy_few_items(void **state) {
  (void)state;
  mpmp_pool_t *pool = pool_of(0);
  int w = mpmp_pool_size(pool);
  size_t counts[] = {0, 1, 2, 3, (size_t)w - 1, (size_t)w, (size_t)w + 1,
                     2 * (size_t)w + 1};
  mpmp_shm_t *in = block(64 * sizeof(int32_t));
  mpmp_shm_t *out = block(64 * sizeof(int64_t));
  int32_t *x = mpmp_shm_buf(in);
  int64_t *y = mpmp_shm_buf(out);
  for (size_t k = 0; k < sizeof counts / sizeof *counts; k++) {
    for (size_t chunk = 0; chunk <= 2; chunk++) {
      size_t n = counts[k];
      for (size_t i = 0; i < 64; i++) {
        x[i] = (int32_t)(i + 3);
        y[i] = -7;
      }
      OK(mpmp_pool_map_shm(pool, NULL, square_chunk, in, 0, n, sizeof *x,
                           out, 0, sizeof *y, chunk));
      for (size_t i = 0; i < 64; i++)
        EQ(y[i], i < n ? (int64_t)(i + 3) * (int64_t)(i + 3) : -7);
    }
  }
  drop(in);
  drop(out);
  finish(pool);
}

/* A block closed and made again under its name is another block: the
 * workers drop their view of the old one. Then more blocks than a worker
 * keeps views of (8): the oldest go, never one the chunk uses. */
static void zero_copy_block_made_again(void **state) {
  (void)state;
  mpmp_pool_t *pool = pool_of(0);
  size_t n = 4096;
  for (int round = 0; round < 14; round++) {
    mpmp_shm_t *in = NULL, *out = NULL;
    OK(mpmp_shm_create(&in, round < 3 ? "ct_again_in" : NULL,
                       n * sizeof(int32_t)));
    OK(mpmp_shm_create(&out, round < 3 ? "ct_again_out" : NULL,
                       n * sizeof(int64_t)));
    int32_t *x = mpmp_shm_buf(in);
    for (size_t i = 0; i < n; i++)
      x[i] = (int32_t)i + round * 1000;
    OK(mpmp_pool_map_shm(pool, NULL, square_chunk, in, 0, n, sizeof *x, out,
                         0, sizeof(int64_t), 64));
    const int64_t *y = mpmp_shm_buf(out);
    for (size_t i = 0; i < n; i++)
      EQ(y[i], (int64_t)x[i] * x[i]);
    drop(in);
    drop(out);
  }
  finish(pool);
}

/* Blocks unlinked before the map: the workers of the main rank's node
 * cannot map them; their items fail, saying why. */
static void zero_copy_unlinked_block(void **state) {
  (void)state;
  mpmp_pool_t *pool = pool_of(0);
  size_t n = 256;
  mpmp_shm_t *in = block(n * sizeof(int32_t)), *out = block(n * 8);
  OK(mpmp_shm_unlink(in));
  mpmp_async_t *res = NULL;
  OK(mpmp_pool_map_shm_async(pool, NULL, square_chunk, in, 0, n, 4, out, 0, 8,
                             16, NULL, NULL, &res));
  int rc = mpmp_async_get(res, T_OUT);
  int failed = mpmp_async_failed_count(res);
  if (!other_node_exists()) {
    EQ(rc, MPMP_ETASK);
    EQ(failed, (int)n);
  }
  if (failed > 0) {
    const char *msg;
    OK(mpmp_async_failure(res, 0, NULL, NULL, &msg));
    if (strstr(msg, "cannot map block") == NULL)
      fail_msg("the failure says '%s'", msg);
  }
  mpmp_async_destroy(res);
  OK(mpmp_shm_close(in));
  drop(out);
  finish(pool);
}

static void zero_copy_misuse(void **state) {
  (void)state;
  mpmp_pool_t *pool = pool_of(0);
  mpmp_shm_t *in = block(400), *out = block(800);
  RC(mpmp_pool_map_shm(pool, NULL, NULL, in, 0, 10, 4, out, 0, 8, 0),
     MPMP_EINVAL);
  HAS_MSG("exactly one");
  RC(mpmp_pool_map_shm(pool, square_item, square_chunk, in, 0, 10, 4, out, 0,
                       8, 0),
     MPMP_EINVAL);
  HAS_MSG("both");
  RC(mpmp_pool_map_shm(pool, NULL, square_chunk, NULL, 0, 10, 4, out, 0, 8,
                       0),
     MPMP_EINVAL);
  HAS_MSG("input block is NULL");
  RC(mpmp_pool_map_shm(pool, NULL, square_chunk, in, 0, 10, 4, NULL, 0, 8, 0),
     MPMP_EINVAL);
  RC(mpmp_pool_map_shm(pool, NULL, square_chunk, in, 0, 101, 4, out, 0, 8, 0),
     MPMP_EINVAL);
  HAS_MSG("past the end of block");
  RC(mpmp_pool_map_shm(pool, NULL, square_chunk, in, 4, 100, 4, out, 0, 8, 0),
     MPMP_EINVAL);
  RC(mpmp_pool_map_shm(pool, NULL, square_chunk, in, 0, 100, 4, out, 8, 8, 0),
     MPMP_EINVAL);
  RC(mpmp_pool_map_shm(pool, NULL, square_chunk, in, 401, 0, 4, out, 0, 8, 0),
     MPMP_EINVAL);
  RC(mpmp_pool_map_shm(pool, NULL, square_chunk, in, 0, SIZE_MAX, 4, out, 0,
                       8, 0),
     MPMP_EINVAL);
  RC(mpmp_pool_map_shm(pool, NULL, square_chunk, in, SIZE_MAX, 1, 4, out, 0,
                       8, 0),
     MPMP_EINVAL);
  RC(mpmp_pool_map_shm(pool, NULL, square_chunk, in, 0, 10, 0, out, 0, 8, 0),
     MPMP_EINVAL);
  RC(mpmp_pool_map_shm(pool, (mpmp_task_fn)(void (*)(void))square_chunk, NULL,
                       in, 0, 10, 4, out, 0, 8, 0),
     MPMP_ENOTASK);
  RC(mpmp_pool_map_shm(NULL, NULL, square_chunk, in, 0, 10, 4, out, 0, 8, 0),
     MPMP_EINVAL);
  RC(mpmp_pool_map_shm_async(pool, NULL, square_chunk, in, 0, 10, 4, out, 0,
                             8, 0, NULL, NULL, NULL),
     MPMP_EINVAL);
  /* one block: results over items not yet read are refused */
  mpmp_shm_t *one = block(1600);
  RC(mpmp_pool_map_shm(pool, NULL, square_chunk, one, 0, 100, 4, one, 200, 8,
                       0),
     MPMP_EINVAL);
  HAS_MSG("overlap");
  RC(mpmp_pool_map_shm(pool, NULL, square_chunk, one, 400, 100, 4, one, 0, 8,
                       0),
     MPMP_EINVAL);
  RC(mpmp_pool_map_shm(pool, square_item, NULL, one, 0, 100, 4, one, 0, 4,
                       0),
     MPMP_EINVAL); /* a per-item task: never in place */
  OK(mpmp_pool_map_shm(pool, NULL, square_chunk, one, 0, 100, 4, one, 400, 8,
                       0)); /* apart: fine */
  OK(mpmp_pool_map_shm(pool, NULL, square_chunk, one, 0, 0, 4, one, 0, 8,
                       0)); /* nothing to map: nothing overlaps */
  drop(one);
  OK(mpmp_pool_map_shm(pool, NULL, square_chunk, in, 400, 0, 4, out, 800, 8,
                       0));
  OK(mpmp_pool_map_shm(pool, NULL, square_chunk, in, 0, 100, 4, out, 0, 8,
                       0));
  OK(mpmp_pool_close(pool));
  RC(mpmp_pool_map_shm(pool, NULL, square_chunk, in, 0, 10, 4, out, 0, 8, 0),
     MPMP_EPERM);
  OK(mpmp_pool_join(pool, T_OUT));
  OK(mpmp_pool_destroy(pool));
  drop(in);
  drop(out);
}

/* In a pool that isolates its tasks, a per-item zero-copy map's chunks
 * travel (the hosts run them): the same results. */
static void zero_copy_isolated_copies(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.processes = 1, .isolate = MPMP_ISOLATE_ALWAYS};
  OK(mpmp_pool_create(&pool, &o));
  size_t n = 3000;
  mpmp_shm_t *in = block(n * 4), *out = block(n * 8);
  int32_t *x = mpmp_shm_buf(in);
  for (size_t i = 0; i < n; i++)
    x[i] = (int32_t)i + 100;
  OK(mpmp_pool_map_shm(pool, square_item, NULL, in, 0, n, 4, out, 0, 8, 0));
  const int64_t *y = mpmp_shm_buf(out);
  for (size_t i = 0; i < n; i++)
    EQ(y[i], (int64_t)x[i] * x[i]);
  RC(mpmp_pool_map_shm(pool, NULL, square_chunk, in, 0, n, 4, out, 0, 8, 0),
     MPMP_ENOTSUP);
  drop(in);
  drop(out);
  finish(pool);
}

/* Where worker w of W begins (its home range: items w*n/W on). */
static size_t home_start(size_t n, size_t w, size_t nw) {
  return w * (n / nw) + (w < n % nw ? w : n % nw);
}

/* A zero-copy map gives each worker its own share of the items, and the
 * next map of the same blocks the same share (so a worker touches the
 * pages it touched before: a first touch is a page fault in its mapping).
 * The first chunk each worker gets begins its share, whatever the chunk
 * size: W distinct ranks there, the same at the second map. Then a worker
 * that sleeps in its first chunk has its share taken by the others, and
 * every item is still done, once and right. */
static void zero_copy_workers_keep_their_share(void **state) {
  (void)state;
  mpmp_pool_t *pool = pool_of(0);
  size_t nw = (size_t)mpmp_pool_size(pool);
  if (nw < 2) { /* one worker: nothing to share */
    finish(pool);
    skip();
  }
  size_t n = nw * 1000 + 3, chunk = 10; /* shares begin off the chunks'
                                            multiples (1001, 2002, 3003...) */
  mpmp_shm_t *in = block(n * sizeof(int32_t)), *out = block(n * sizeof(who_t));
  int32_t *x = mpmp_shm_buf(in);
  who_t *y = mpmp_shm_buf(out);
  for (size_t i = 0; i < n; i++)
    x[i] = (int32_t)i;
  int32_t first_rank[64] = {0};
  assert_true(nw <= 64);
  for (int map = 0; map < 2; map++) {
    memset(y, 0xff, n * sizeof *y);
    OK(mpmp_pool_map_shm(pool, NULL, who_chunk, in, 0, n, sizeof *x, out, 0,
                         sizeof *y, chunk));
    for (size_t w = 0; w < nw; w++) {
      size_t s = home_start(n, w, nw);
      EQ(y[s].first, (int32_t)s); /* a chunk begins the share */
      assert_true(y[s].rank > 0);
      for (size_t v = 0; v < w; v++) /* each share its own worker */
        assert_int_not_equal(y[home_start(n, v, nw)].rank, y[s].rank);
      if (map == 0)
        first_rank[w] = y[s].rank;
      else /* the same worker as at the first map */
        EQ(y[s].rank, first_rank[w]);
    }
    for (size_t i = 0; i < n; i++) /* every item done, by a chunk holding it */
      IN((double)y[i].first, (double)i - (double)chunk + 1, (double)i);
  }
  /* worker 0 sleeps 1 s in its first chunk: the others take its share
   * from its end, and every item is done once (check_runs: the chunks
   * tile the items, no item in two) */
  OK(mpmp_pool_map_shm(pool, NULL, who_slow_chunk, in, 0, n, sizeof *x, out,
                       0, sizeof *y, chunk));
  size_t taken = 0;
  for (size_t i = 0; i < home_start(n, 1, nw); i++)
    taken += y[i].rank != y[0].rank;
  IN((double)taken, 1, (double)home_start(n, 1, nw) - (double)chunk);
  for (size_t i = 0; i < n;) {
    size_t f = (size_t)y[i].first, k = i;
    EQ(f, i);
    while (k < n && y[k].first == (int32_t)f && y[k].rank == y[i].rank)
      k++;
    IN((double)(k - i), 1, (double)chunk);
    i = k;
  }
  drop(in);
  drop(out);
  finish(pool);
}

/* README, "Chunk tasks and zero-copy maps": the example. */
static void readme_zero_copy_example(void **state) {
  (void)state;
  mpmp_pool_t *pool = pool_of(0);
  size_t n = 100000;
  /* items and results in SharedMemory: the workers use them in place */
  mpmp_shm_t *xs, *ys;
  OK(mpmp_shm_create(&xs, NULL, n * sizeof(int32_t)));
  OK(mpmp_shm_create(&ys, NULL, n * sizeof(int64_t)));
  int32_t *x = mpmp_shm_buf(xs);
  for (size_t i = 0; i < n; i++)
    x[i] = (int32_t)i;
  OK(mpmp_pool_map_shm(pool, NULL, square_chunk, xs, 0, n, sizeof(int32_t),
                       ys, 0, sizeof(int64_t), 0));
  const int64_t *y = mpmp_shm_buf(ys); /* y[i] == x[i] * x[i] */
  for (size_t i = 0; i < n; i++)
    EQ(y[i], (int64_t)x[i] * x[i]);
  drop(xs);
  drop(ys);
  finish(pool);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(chunks_results_every_size),
    cmocka_unit_test(chunks_async_and_callback),
    cmocka_unit_test(chunk_failure_fails_its_items),
    cmocka_unit_test(chunk_task_terminated),
    cmocka_unit_test(chunks_misuse),
    cmocka_unit_test(zero_copy_in_place),
    cmocka_unit_test(zero_copy_block_made_again),
    cmocka_unit_test(zero_copy_unlinked_block),
    cmocka_unit_test(zero_copy_misuse),
    cmocka_unit_test(zero_copy_isolated_copies),
    cmocka_unit_test(zero_copy_workers_keep_their_share),
    cmocka_unit_test(zero_copy_few_items),
    cmocka_unit_test(readme_zero_copy_example),
};
MPMP_TEST_MAIN(tests)
