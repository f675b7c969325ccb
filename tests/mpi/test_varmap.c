/* Maps over variable-size items and results: map_var (sync and async),
 * imap_var, imap_unordered_var and executor map_var; CPython's
 * _test_multiprocessing pool tests on variable-size objects, and the
 * ways a caller gets the input wrong. */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "mpitest.h"

/* identity (CPython's test_release_task_refs maps identity over objects) */
static int identity(mpmp_ctx_t *ctx) {
  size_t n = 0;
  const void *p = mpmp_arg(ctx, &n);
  if (n > 0)
    memcpy(mpmp_out(ctx, n), p, n);
  return 0;
}
MPMP_TASK(identity);

/* "ab" -> "ab|ab": a result twice its item's size plus one */
static int doubled(mpmp_ctx_t *ctx) {
  size_t n = 0;
  const char *p = mpmp_arg(ctx, &n);
  char *o = mpmp_out(ctx, 2 * n + 1);
  memcpy(o, p, n);
  o[n] = '|';
  memcpy(o + n + 1, p, n);
  return 0;
}
MPMP_TASK(doubled);

/* CPython's test_map_async: int('1') is 1, int('a') raises ValueError */
static int to_int(mpmp_ctx_t *ctx) {
  size_t n = 0;
  const char *p = mpmp_arg(ctx, &n);
  int64_t v = 0;
  if (n == 0)
    return mpmp_fail(ctx, "invalid literal for int() with base 10: ''");
  for (size_t k = 0; k < n; k++) {
    if (p[k] < '0' || p[k] > '9')
      return mpmp_fail(ctx, "invalid literal for int() with base 10: '%.*s'",
                       (int)n, p);
    v = v * 10 + (p[k] - '0');
  }
  *(int64_t *)mpmp_out(ctx, sizeof v) = v;
  return 0;
}
MPMP_TASK(to_int);

/* a result of the size its item (a size_t) says */
static int sized(mpmp_ctx_t *ctx) {
  size_t want = *(const size_t *)mpmp_arg(ctx, NULL);
  char *o = mpmp_out(ctx, want);
  if (o != NULL && want > 0)
    memset(o, 'x', want);
  return 0;
}
MPMP_TASK(sized);

static int slow_identity(mpmp_ctx_t *ctx) {
  test_sleep(0.2);
  return identity(ctx);
}
MPMP_TASK(slow_identity);

static mpmp_pool_t *pool_of(int n) {
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.processes = n};
  assert_int_equal(mpmp_pool_create(&pool, &o), 0);
  return pool;
}

static void finish(mpmp_pool_t *pool) {
  assert_int_equal(mpmp_pool_close(pool), 0);
  assert_int_equal(mpmp_pool_join(pool, T_OUT), 0);
  assert_int_equal(mpmp_pool_destroy(pool), 0);
}

/* n items: item i is i % 37 bytes of a pattern (so some are empty), from
 * offset `base` of the buffer. */
typedef struct input {
  char *data;
  size_t *off, n;
} input_t;

static input_t make_input(size_t n, size_t base) {
  input_t in = {NULL, calloc(n + 1, sizeof(size_t)), n};
  assert_non_null(in.off);
  in.off[0] = base;
  for (size_t i = 0; i < n; i++)
    in.off[i + 1] = in.off[i] + i % 37;
  in.data = malloc(in.off[n] + 1);
  assert_non_null(in.data);
  for (size_t k = 0; k < in.off[n]; k++)
    in.data[k] = (char)('a' + (k * 7) % 26);
  return in;
}

static void free_input(input_t *in) {
  free(in->data);
  free(in->off);
}

static void expect_same(const mpmp_varbuf_t *out, const input_t *in) {
  assert_int_equal(out->n, in->n);
  assert_non_null(out->data);
  assert_int_equal(out->off[0], 0);
  for (size_t i = 0; i < in->n; i++) {
    size_t len = in->off[i + 1] - in->off[i];
    assert_int_equal(out->off[i + 1] - out->off[i], len);
    assert_memory_equal(out->data + out->off[i], in->data + in->off[i], len);
  }
}

/* identity over variable-size strings, empty ones among them, with every
 * kind of chunking: one item per message, the default, odd sizes, all in
 * one; offsets that do not start at 0. */
static void varmap_identity_every_chunksize(void **state) {
  (void)state;
  mpmp_pool_t *pool = pool_of(0);
  input_t in = make_input(1000, 5);
  size_t chunks[] = {1, 0, 7, 64, 1000, 5000};
  for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
    mpmp_varbuf_t out;
    assert_int_equal(mpmp_pool_map_var(pool, identity, in.data, in.off, in.n,
                                       chunks[c], &out), 0);
    expect_same(&out, &in);
    mpmp_varbuf_free(&out);
    assert_null(out.data);
    mpmp_varbuf_free(&out); /* again: nothing */
  }
  free_input(&in);
  finish(pool);
}

/* Results of another size than their items, async, with a callback. */
static void on_ready(mpmp_async_t *res, int ok, void *user) {
  (void)res;
  *(int *)user = ok ? 1 : -1;
}

static void varmap_async_results_of_their_own_size(void **state) {
  (void)state;
  mpmp_pool_t *pool = pool_of(0);
  input_t in = make_input(300, 0);
  mpmp_async_t *res;
  mpmp_varbuf_t view;
  int called = 0;
  assert_int_equal(mpmp_pool_map_var_async(pool, doubled, in.data, in.off,
                                           in.n, 0, on_ready, &called, &res),
                   0);
  assert_int_equal(mpmp_async_get(res, T_OUT), 0);
  assert_int_equal(called, 1);
  assert_int_equal(mpmp_async_var_results(res, &view), 0);
  assert_int_equal(view.n, in.n);
  for (size_t i = 0; i < in.n; i++) {
    size_t len = in.off[i + 1] - in.off[i];
    const char *r = view.data + view.off[i];
    assert_int_equal(view.off[i + 1] - view.off[i], 2 * len + 1);
    assert_memory_equal(r, in.data + in.off[i], len);
    assert_int_equal(r[len], '|');
    assert_memory_equal(r + len + 1, in.data + in.off[i], len);
  }
  mpmp_varbuf_t again; /* the same view, gathered once */
  assert_int_equal(mpmp_async_var_results(res, &again), 0);
  assert_ptr_equal(again.data, view.data);
  mpmp_async_destroy(res);
  free_input(&in);
  finish(pool);
}

/* CPython's test_empty_iterable and test_map_chunksize: map, map_async
 * (chunksize 1), imap and imap_unordered over nothing. */
static int produce_none(void *user, const void **item, size_t *size) {
  (void)user, (void)item, (void)size;
  return 0;
}

static void varmap_empty_input(void **state) {
  (void)state;
  mpmp_pool_t *pool = pool_of(1);
  mpmp_varbuf_t out;
  assert_int_equal(mpmp_pool_map_var(pool, identity, NULL, NULL, 0, 0, &out),
                   0);
  assert_int_equal(out.n, 0);
  assert_non_null(out.off);
  assert_int_equal(out.off[0], 0);
  mpmp_varbuf_free(&out);
  mpmp_async_t *res;
  assert_int_equal(mpmp_pool_map_var_async(pool, identity, NULL, NULL, 0, 1,
                                           NULL, NULL, &res), 0);
  assert_int_equal(mpmp_async_get(res, 1), 0);
  assert_int_equal(mpmp_async_var_results(res, &out), 0);
  assert_int_equal(out.n, 0);
  mpmp_async_destroy(res);
  for (int ordered = 0; ordered < 2; ordered++) {
    mpmp_imap_t *it;
    const void *r;
    assert_int_equal((ordered ? mpmp_pool_imap_var
                              : mpmp_pool_imap_unordered_var)(
                         pool, identity, produce_none, NULL, 0, 0, &it), 0);
    assert_int_equal(mpmp_imap_next_var(it, &r, NULL, NULL, T_OUT),
                     MPMP_EEOF);
    mpmp_imap_destroy(it);
  }
  finish(pool);
}

/* CPython's test_map_async: int over ['1'] is [1]; over ['a'] a
 * ValueError. Here a failed item's result is empty, the others are there,
 * and the failure names the item and its message. */
static void varmap_failed_item_keeps_the_others(void **state) {
  (void)state;
  mpmp_pool_t *pool = pool_of(0);
  const char text[] = "1" "22" "a" "333" "" "4444";
  size_t off[] = {0, 1, 3, 4, 7, 7, 11};
  mpmp_varbuf_t out;
  assert_int_equal(mpmp_pool_map_var(pool, to_int, text, off, 6, 2, &out),
                   MPMP_ETASK);
  assert_non_null(strstr(mpmp_errmsg(), "invalid literal for int() with "
                                        "base 10: 'a'"));
  assert_non_null(strstr(mpmp_errmsg(), "item 2"));
  assert_int_equal(out.n, 6);
  int64_t want[] = {1, 22, 0, 333, 0, 4444};
  for (size_t i = 0; i < 6; i++) {
    size_t len = out.off[i + 1] - out.off[i];
    if (i == 2 || i == 4) {
      assert_int_equal(len, 0);
      continue;
    }
    int64_t v;
    assert_int_equal(len, sizeof v);
    memcpy(&v, out.data + out.off[i], sizeof v);
    assert_int_equal(v, want[i]);
  }
  mpmp_varbuf_free(&out);
  mpmp_async_t *res;
  assert_int_equal(mpmp_pool_map_var_async(pool, to_int, text, off, 6, 0,
                                           NULL, NULL, &res), 0);
  assert_int_equal(mpmp_async_get(res, T_OUT), MPMP_ETASK);
  assert_int_equal(mpmp_async_failed_count(res), 2);
  size_t idx;
  const char *msg;
  assert_int_equal(mpmp_async_failure(res, 1, &idx, NULL, &msg), 0);
  assert_int_equal(idx, 4);
  assert_non_null(strstr(msg, "''"));
  mpmp_async_destroy(res);
  finish(pool);
}

/* A result over the pool's max_result fails its item, saying so; the
 * results around it arrive. */
static void varmap_result_over_max_result(void **state) {
  (void)state;
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.max_result = 1000};
  assert_int_equal(mpmp_pool_create(&pool, &o), 0);
  size_t want[] = {10, 1000, 1001, 0, 999};
  size_t off[6];
  for (size_t i = 0; i <= 5; i++)
    off[i] = i * sizeof(size_t);
  mpmp_varbuf_t out;
  assert_int_equal(mpmp_pool_map_var(pool, sized, want, off, 5, 0, &out),
                   MPMP_ETASK);
  assert_non_null(strstr(mpmp_errmsg(), "1001 bytes exceeds the 1000"));
  for (size_t i = 0; i < 5; i++)
    assert_int_equal(out.off[i + 1] - out.off[i], i == 2 ? 0 : want[i]);
  mpmp_varbuf_free(&out);
  assert_int_equal(mpmp_pool_destroy(pool), 0);
}

/* Items that fill more than one 64 MiB message: the chunk is cut, and
 * every byte arrives. */
static void varmap_big_items_cut_chunks(void **state) {
  (void)state;
  size_t n = 24, each = 3u << 20; /* 72 MiB in 24 items: two chunks */
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.max_result = each};
  assert_int_equal(mpmp_pool_create(&pool, &o), 0);
  size_t *off = malloc((n + 1) * sizeof *off);
  char *data = malloc(n * each);
  assert_non_null(off);
  assert_non_null(data);
  for (size_t i = 0; i <= n; i++)
    off[i] = i * each;
  test_fill_pattern(data, n * each, 11);
  mpmp_varbuf_t out;
  int rc = mpmp_pool_map_var(pool, identity, data, off, n, n, &out);
  if (rc != 0)
    fail_msg("map_var: %s", mpmp_errmsg());
  assert_int_equal(out.off[n], n * each);
  assert_memory_equal(out.data, data, n * each);
  mpmp_varbuf_free(&out);
  free(off);
  free(data);
  finish(pool);
}

/* ---- imap ------------------------------------------------------------------- */

/* Items "0", "1", ... "n-1" as text (the producer's buffer is reused);
 * fails with MPMP_EBROKEN at item `fail_at` (CPython's
 * exception_throwing_generator), if set. */
typedef struct numbers {
  size_t next, n, fail_at;
  char buf[32];
} numbers_t;

static int produce_numbers(void *user, const void **item, size_t *size) {
  numbers_t *c = user;
  if (c->fail_at && c->next == c->fail_at)
    return MPMP_EBROKEN;
  if (c->next == c->n)
    return 0;
  *size = (size_t)snprintf(c->buf, sizeof c->buf, "%zu", c->next++);
  *item = c->buf;
  return 1;
}

/* CPython's test_imap and test_imap_unordered, over text items: 10 items,
 * then 1000 with chunksize 100; each result is the item doubled. */
static void varmap_imap_in_order_and_unordered(void **state) {
  (void)state;
  mpmp_pool_t *pool = pool_of(0);
  size_t sizes[] = {10, 1000}, chunks[] = {0, 100};
  for (int ordered = 0; ordered < 2; ordered++)
    for (int t = 0; t < 2; t++) {
      numbers_t c = {.n = sizes[t]};
      mpmp_imap_t *it;
      assert_int_equal((ordered ? mpmp_pool_imap_var
                                : mpmp_pool_imap_unordered_var)(
                           pool, doubled, produce_numbers, &c, chunks[t], 0,
                           &it), 0);
      unsigned char *seen = calloc(sizes[t], 1);
      const void *r;
      size_t size, idx, got = 0;
      while (mpmp_imap_next_var(it, &r, &size, &idx, T_OUT) == 0) {
        char want[80];
        int len = snprintf(want, sizeof want, "%zu|%zu", idx, idx);
        assert_true(idx < sizes[t]);
        if (ordered)
          assert_int_equal(idx, got);
        assert_int_equal(seen[idx], 0);
        seen[idx] = 1;
        assert_int_equal(size, (size_t)len);
        assert_string_equal(r, want); /* text results end in a NUL */
        got++;
      }
      assert_int_equal(got, sizes[t]);
      assert_int_equal(mpmp_imap_next_var(it, &r, &size, &idx, 1), MPMP_EEOF);
      /* its own name (it said mpmp_imap_next's; helper 80) */
      assert_non_null(strstr(mpmp_errmsg(), "mpmp_imap_next_var: the "
                                            "iteration is over"));
      free(seen);
      mpmp_imap_destroy(it);
    }
  finish(pool);
}

/* CPython's test_imap_handle_iterable_exception: the producer fails at
 * item 7 with chunksize 2 (results 0-5 first), and at the very first. */
static void varmap_imap_producer_fails(void **state) {
  (void)state;
  mpmp_pool_t *pool = pool_of(0);
  numbers_t c = {.n = 20, .fail_at = 7};
  mpmp_imap_t *it;
  const void *r;
  size_t idx;
  assert_int_equal(mpmp_pool_imap_var(pool, identity, produce_numbers, &c, 2,
                                      0, &it), 0);
  for (size_t i = 0; i < 6; i++) {
    assert_int_equal(mpmp_imap_next_var(it, &r, NULL, &idx, T_OUT), 0);
    assert_int_equal(idx, i);
  }
  int rc;
  while ((rc = mpmp_imap_next_var(it, &r, NULL, &idx, T_OUT)) == 0)
    assert_true(idx == 6);
  assert_int_equal(rc, MPMP_EBROKEN);
  mpmp_imap_destroy(it);
  /* at the very first item (counting from 3: fail_at 0 is never) */
  numbers_t at_once = {.n = 20, .next = 3, .fail_at = 3};
  assert_int_equal(mpmp_pool_imap_unordered_var(pool, identity,
                                                produce_numbers, &at_once, 1,
                                                0, &it), MPMP_EBROKEN);
  finish(pool);
}

/* ---- executor --------------------------------------------------------------- */

static void varmap_executor_map_var(void **state) {
  (void)state;
  mpmp_executor_t *ex;
  assert_int_equal(mpmp_executor_create(&ex, NULL), 0);
  input_t in = make_input(500, 0);
  mpmp_varbuf_t out;
  assert_int_equal(mpmp_executor_map_var(ex, identity, in.data, in.off, in.n,
                                         0, T_OUT, &out), 0);
  expect_same(&out, &in);
  mpmp_varbuf_free(&out);
  /* a timeout: calls not started are cancelled, their results empty */
  assert_int_equal(mpmp_executor_map_var(ex, slow_identity, in.data, in.off,
                                         100, 1, 0.3, &out), MPMP_ETIMEDOUT);
  assert_int_equal(out.n, 100);
  assert_true(out.off[100] < in.off[100] - in.off[0]);
  mpmp_varbuf_free(&out);
  assert_int_equal(mpmp_executor_map_var(ex, identity, in.data, in.off, 2, 0,
                                         T_OUT, NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_executor_shutdown(ex, 1, 0), 0);
  assert_int_equal(mpmp_executor_map_var(ex, identity, in.data, in.off, 2, 0,
                                         T_OUT, &out), MPMP_EPERM);
  assert_null(out.data);
  assert_int_equal(mpmp_executor_destroy(ex), 0);
  free_input(&in);
}

/* Empty items given as NULL (pool.h allows it): chunks of nothing but
 * them move no bytes (the build before passed NULL to memcpy there, which
 * UBSan stops at). */
typedef struct { int i, n; } empties_t;
static int produce_empty(void *user, const void **item, size_t *size) {
  empties_t *e = user;
  if (e->i >= e->n)
    return 0;
  e->i++;
  *item = NULL;
  *size = 0;
  return 1;
}

static void varmap_empty_null_items(void **state) {
  (void)state;
  mpmp_pool_t *pool = pool_of(1);
  empties_t e = {0, 4};
  mpmp_imap_t *it;
  assert_int_equal(mpmp_pool_imap_var(pool, identity, produce_empty, &e, 2, 0,
                                      &it), 0);
  const void *d;
  size_t size, idx;
  int n = 0, rc;
  while ((rc = mpmp_imap_next_var(it, &d, &size, &idx, 30)) == 0) {
    assert_int_equal(size, 0);
    assert_int_equal(idx, (size_t)n);
    n++;
  }
  assert_int_equal(rc, MPMP_EEOF);
  assert_int_equal(n, 4);
  mpmp_imap_destroy(it);
  finish(pool);
}

/* ---- misuse ----------------------------------------------------------------- */

static int produce_null(void *user, const void **item, size_t *size) {
  (void)user;
  *item = NULL;
  *size = 5;
  return 1;
}

static int not_a_task(mpmp_ctx_t *ctx) { return identity(ctx); }

static void varmap_bad_input_is_refused(void **state) {
  (void)state;
  mpmp_pool_t *pool = pool_of(1);
  const char text[] = "abcdef";
  size_t off[] = {0, 2, 4, 6}, down[] = {0, 4, 2, 6};
  mpmp_varbuf_t out = {(char *)text, off, 99}; /* zeroed on refusal */
  mpmp_async_t *res;
  assert_int_equal(mpmp_pool_map_var(pool, identity, NULL, off, 3, 0, &out),
                   MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "the input is NULL"));
  assert_null(out.data);
  assert_int_equal(out.n, 0);
  assert_int_equal(mpmp_pool_map_var(pool, identity, text, NULL, 3, 0, &out),
                   MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "offsets array is NULL"));
  assert_int_equal(mpmp_pool_map_var(pool, identity, text, down, 3, 0, &out),
                   MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "go down at item 1"));
  size_t huge[] = {0, (size_t)1 << 31};
  assert_int_equal(mpmp_pool_map_var(pool, identity, text, huge, 1, 0, &out),
                   MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "an item must be under 1 GiB"));
  size_t past[] = {0, (size_t)1 << 29}; /* 512 MiB past a 7-byte buffer */
  assert_int_equal(mpmp_pool_map_var(pool, identity, text, past, 1, 0, &out),
                   MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "not all in memory"));
  /* a negative count cast to size_t */
  assert_int_equal(mpmp_pool_map_var(pool, identity, text, off, (size_t)-3, 0,
                                     &out), MPMP_EINVAL);
  assert_int_equal(mpmp_pool_map_var(pool, identity, text, off, 3, 0, NULL),
                   MPMP_EINVAL);
  assert_int_equal(mpmp_pool_map_var(NULL, identity, text, off, 3, 0, &out),
                   MPMP_EINVAL);
  assert_int_equal(mpmp_pool_map_var_async(pool, identity, text, off, 3, 0,
                                           NULL, NULL, NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_pool_map_var(pool, not_a_task, text, off,
                                     3, 0, &out), MPMP_ENOTASK);
  /* results: not before ready, not of a fixed-size map */
  assert_int_equal(mpmp_pool_map_var_async(pool, slow_identity, text, off, 3,
                                           0, NULL, NULL, &res), 0);
  assert_int_equal(mpmp_async_var_results(res, &out), MPMP_EAGAIN);
  assert_int_equal(mpmp_async_var_results(res, NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_async_var_results(NULL, &out), MPMP_EINVAL);
  assert_int_equal(mpmp_async_get(res, T_OUT), 0);
  mpmp_async_destroy(res);
  int64_t x = 3, y;
  assert_int_equal(mpmp_pool_map_async(pool, identity, &x, 1, sizeof x, &y,
                                       sizeof y, 0, NULL, NULL, &res), 0);
  assert_int_equal(mpmp_async_get(res, T_OUT), 0);
  assert_int_equal(mpmp_async_var_results(res, &out), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "not of a map over variable-size"));
  mpmp_async_destroy(res);
  /* iterators: each kind read with its own next */
  mpmp_imap_t *it;
  const void *r;
  numbers_t c = {.n = 3};
  assert_int_equal(mpmp_pool_imap_var(pool, identity, produce_numbers, &c, 0,
                                      0, &it), 0);
  assert_int_equal(mpmp_imap_next(it, &y, NULL, T_OUT), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "mpmp_imap_next_var"));
  assert_int_equal(mpmp_imap_next_var(it, NULL, NULL, NULL, T_OUT),
                   MPMP_EINVAL);
  assert_int_equal(mpmp_imap_next_var(it, &r, NULL, NULL, T_OUT), 0);
  mpmp_imap_destroy(it);
  assert_int_equal(mpmp_pool_imap_var(pool, identity, NULL, NULL, 0, 0, &it),
                   MPMP_EINVAL);
  assert_int_equal(mpmp_pool_imap_var(pool, identity, produce_null, NULL, 0,
                                      0, &it), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "NULL item of 5 bytes"));
  /* after close: no new map, as for fixed-size items */
  assert_int_equal(mpmp_pool_close(pool), 0);
  assert_int_equal(mpmp_pool_map_var(pool, identity, text, off, 3, 0, &out),
                   MPMP_EPERM);
  assert_int_equal(mpmp_pool_join(pool, T_OUT), 0);
  assert_int_equal(mpmp_pool_destroy(pool), 0);
}

/* ---- isolated pools (task hosts) ------------------------------------------- */

/* doubled, unless the item says otherwise: "segv" crashes its host, "loop"
 * runs for ever, "once:T:I" crashes the first time only (its marker file
 * /tmp/mpmp-test-varonce-T-I says it ran). */
static void once_path(char *b, size_t n, const char *item, size_t len) {
  snprintf(b, n, "/tmp/mpmp-test-varonce-%.*s", (int)(len - 5), item + 5);
}

static int doubled_or_crash(mpmp_ctx_t *ctx) {
  size_t n = 0;
  const char *p = mpmp_arg(ctx, &n);
  if (n == 4 && memcmp(p, "segv", 4) == 0)
    raise(SIGSEGV);
  if (n == 4 && memcmp(p, "loop", 4) == 0)
    for (;;)
      pause();
  if (n > 5 && memcmp(p, "once:", 5) == 0) {
    char path[128];
    once_path(path, sizeof path, p, n);
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
    if (fd >= 0) {
      close(fd);
      raise(SIGSEGV);
    }
  }
  return doubled(ctx);
}
MPMP_TASK(doubled_or_crash);

/* Items "w0", "w1", ... of growing sizes; the listed ones are `bad`
 * (followed by the index if it ends with '-'). */
static input_t words(size_t n, const int *bad_at, int nbad, const char *bad) {
  input_t in = {malloc(n * (64 + 40)), calloc(n + 1, sizeof(size_t)), n};
  assert_non_null(in.data);
  assert_non_null(in.off);
  for (size_t i = 0; i < n; i++) {
    int is_bad = 0;
    for (int k = 0; k < nbad; k++)
      is_bad |= bad_at[k] == (int)i;
    char *w = in.data + in.off[i];
    int len = is_bad ? snprintf(w, 64, "%s", bad)
                     : snprintf(w, 64, "w%zu%.*s", i, (int)(i % 40),
                                "........................................");
    if (is_bad && bad[len - 1] == '-') /* one of its own: "once:T-I" */
      len += snprintf(w + len, 24, "%zu", i);
    in.off[i + 1] = in.off[i] + (size_t)len;
  }
  return in;
}

/* Every result but those at `bad_at` is its item doubled. */
static void expect_doubled(const mpmp_varbuf_t *v, const input_t *in,
                           const int *bad_at, int nbad) {
  assert_int_equal(v->n, in->n);
  for (size_t i = 0; i < in->n; i++) {
    int is_bad = 0;
    for (int k = 0; k < nbad; k++)
      is_bad |= bad_at[k] == (int)i;
    size_t len = in->off[i + 1] - in->off[i], got = v->off[i + 1] - v->off[i];
    if (is_bad) {
      if (got != 0)
        fail_msg("failed item %zu has a result of %zu bytes", i, got);
      continue;
    }
    if (got != 2 * len + 1)
      fail_msg("item %zu: a result of %zu bytes, expected %zu", i, got,
               2 * len + 1);
    const char *r = v->data + v->off[i];
    assert_memory_equal(r, in->data + in->off[i], len);
    assert_int_equal(r[len], '|');
    assert_memory_equal(r + len + 1, in->data + in->off[i], len);
  }
}

static mpmp_pool_t *isolated(int retries, double limit, int max_tasks) {
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_ALWAYS,
                        .max_retries = retries, .task_timeout = limit,
                        .maxtasksperchild = max_tasks};
  OK(mpmp_pool_create(&pool, &o));
  return pool;
}

/* Map `in` on the pool in chunks of `chunk`: the items at bad_at fail
 * with `code` and a message holding `text`, the others are doubled. */
static void map_isolated(mpmp_pool_t *pool, const input_t *in, size_t chunk,
                         const int *bad_at, int nbad, int code,
                         const char *text) {
  mpmp_async_t *res = NULL;
  mpmp_varbuf_t view;
  OK(mpmp_pool_map_var_async(pool, doubled_or_crash, in->data, in->off,
                             in->n, chunk, NULL, NULL, &res));
  RC(mpmp_async_get(res, T_OUT), code);
  EQ(mpmp_async_failed_count(res), nbad);
  for (int k = 0; k < nbad; k++) {
    size_t index = 0;
    int rank = -1;
    const char *msg = NULL;
    OK(mpmp_async_failure(res, (size_t)k, &index, &rank, &msg));
    EQ(index, bad_at[k]);
    if (strstr(msg, text) == NULL || strstr(msg, "doubled_or_crash") == NULL)
      fail_msg("failure of item %zu: '%s' lacks '%s'", index, msg, text);
  }
  OK(mpmp_async_var_results(res, &view));
  expect_doubled(&view, in, bad_at, nbad);
  mpmp_async_destroy(res);
}

/* A crash costs its item only, wherever it is in its chunk (first, in the
 * middle, last, a chunk of one): the rest of the chunk runs in a fresh
 * host and every other result comes back. */
static void varmap_isolated_crash_costs_one_item(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = isolated(0, 0, 0);
  int bad[] = {0, 7, 9, 33, 59};
  input_t in = words(60, bad, 5, "segv");
  size_t chunks[] = {10, 1, 0, 60};
  for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++)
    map_isolated(pool, &in, chunks[c], bad, 5, MPMP_ECRASHED,
                 "killed by signal 11");
  input_t good = words(200, NULL, 0, ""); /* no crash: the plain result */
  mpmp_varbuf_t out;
  OK(mpmp_pool_map_var(pool, doubled_or_crash, good.data, good.off, good.n, 0,
                       &out));
  expect_doubled(&out, &good, NULL, 0);
  mpmp_varbuf_free(&out);
  free_input(&good);
  free_input(&in);
  finish(pool);
}

/* max_retries: an item that crashes once runs again (in a fresh host, on
 * another worker where there is one) and its result comes back; one that
 * crashes every time fails after 1 + max_retries runs. */
static void varmap_isolated_retries(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = isolated(2, 0, 0);
  char pattern[64];
  snprintf(pattern, sizeof pattern, "once:%d-", (int)getpid());
  int once[] = {1, 5, 6, 20};
  input_t in = words(24, once, 4, pattern);
  mpmp_varbuf_t out;
  OK(mpmp_pool_map_var(pool, doubled_or_crash, in.data, in.off, in.n, 4,
                       &out));
  expect_doubled(&out, &in, NULL, 0);
  mpmp_varbuf_free(&out);
  for (int k = 0; k < 4; k++) { /* their first run crashed */
    char path[128];
    once_path(path, sizeof path, in.data + in.off[once[k]],
              in.off[once[k] + 1] - in.off[once[k]]);
    EQ(unlink(path), 0);
  }
  int bad[] = {3, 10};
  input_t crash = words(16, bad, 2, "segv");
  map_isolated(pool, &crash, 5, bad, 2, MPMP_ECRASHED, "(3 attempts)");
  free_input(&crash);
  free_input(&in);
  finish(pool);
}

/* task_timeout: the item past it fails with MPMP_ETIMEDOUT, the others
 * (in its chunk too) come back; maxtasksperchild replaces hosts as the
 * map goes on, results intact. */
static void varmap_isolated_timeout_and_maxtasks(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = isolated(0, 0.3, 0);
  int bad[] = {4};
  input_t in = words(12, bad, 1, "loop");
  map_isolated(pool, &in, 6, bad, 1, MPMP_ETIMEDOUT, "task_timeout of 0.3 s");
  free_input(&in);
  finish(pool);
  pool = isolated(0, 0, 2);
  input_t many = words(300, NULL, 0, "");
  map_isolated(pool, &many, 7, NULL, 0, 0, "");
  free_input(&many);
  finish(pool);
}

/* Streams of small chunks, so that a worker lends its mailboxes to its
 * host, which takes the chunks and answers them itself (host.c): a crash
 * in a chunk the host took, an item that runs long (the worker takes the
 * request over), answers too big for the ring, all right at their items. */
static int slow_or_doubled(mpmp_ctx_t *ctx) {
  size_t n = 0;
  const char *p = mpmp_arg(ctx, &n);
  if (n == 4 && memcmp(p, "slow", 4) == 0) {
    test_sleep(0.2);
    return doubled(ctx);
  }
  if (n == 3 && memcmp(p, "big", 3) == 0) {
    char *o = mpmp_out(ctx, 40000);
    memset(o, 'b', 40000);
    return 0;
  }
  return doubled_or_crash(ctx);
}
MPMP_TASK(slow_or_doubled);

static void varmap_isolated_loan(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = isolated(0, 0, 0);
  int bad[] = {700, 1501, 2999};
  input_t in = words(3000, bad, 3, "segv");
  for (size_t chunk = 1; chunk <= 3; chunk += 2)
    map_isolated(pool, &in, chunk, bad, 3, MPMP_ECRASHED, "signal 11");
  free_input(&in);
  const char *kinds[] = {"slow", "big"};
  for (int k = 0; k < 2; k++) {
    int at[] = {400, 401, 1200};
    input_t mixed = words(1500, at, 3, kinds[k]);
    mpmp_varbuf_t out;
    OK(mpmp_pool_map_var(pool, slow_or_doubled, mixed.data, mixed.off,
                         mixed.n, 2, &out));
    for (int i = 0; i < 3; i++) { /* theirs, then the rest doubled */
      size_t len = out.off[at[i] + 1] - out.off[at[i]];
      EQ(len, k == 0 ? 9 : 40000);
      EQ(out.data[out.off[at[i]]], k == 0 ? 's' : 'b');
      out.off[at[i] + 1] = out.off[at[i]]; /* as if empty, for the check */
      for (size_t j = (size_t)at[i] + 2; j <= out.n; j++)
        out.off[j] -= len;
      memmove(out.data + out.off[at[i]], out.data + out.off[at[i]] + len,
              out.off[out.n] - out.off[at[i]]);
    }
    expect_doubled(&out, &mixed, at, 3);
    mpmp_varbuf_free(&out);
    free_input(&mixed);
  }
  finish(pool);
}

/* imap_var on an isolated pool: the crashed item's next says
 * MPMP_ECRASHED, and the iteration goes on with the others' results. */
typedef struct {
  const input_t *in;
  size_t next;
} in_feed_t;

static int feed_input(void *user, const void **item, size_t *size) {
  in_feed_t *f = user;
  if (f->next == f->in->n)
    return 0;
  *item = f->in->data + f->in->off[f->next];
  *size = f->in->off[f->next + 1] - f->in->off[f->next];
  f->next++;
  return 1;
}

static void varmap_isolated_imap(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = isolated(0, 0, 0);
  int bad[] = {13};
  input_t in = words(40, bad, 1, "segv");
  in_feed_t f = {&in, 0};
  mpmp_imap_t *it = NULL;
  OK(mpmp_pool_imap_var(pool, doubled_or_crash, feed_input, &f, 4, 0, &it));
  for (size_t i = 0; i < in.n; i++) {
    const void *r;
    size_t size = 0, idx = 0, len = in.off[i + 1] - in.off[i];
    int rc = mpmp_imap_next_var(it, &r, &size, &idx, T_OUT);
    EQ(idx, i);
    if (i == 13) {
      RC(rc, MPMP_ECRASHED);
      HAS_MSG("item 13 failed");
      HAS_MSG("killed by signal 11");
      EQ(size, 0);
      continue;
    }
    OK(rc);
    EQ(size, 2 * len + 1);
    assert_memory_equal(r, in.data + in.off[i], len);
  }
  mpmp_imap_destroy(it);
  free_input(&in);
  finish(pool);
}

/* Results bigger than the hosts' region (1 MiB at first): it grows. */
static void varmap_isolated_big_results(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_ALWAYS,
                        .max_result = (size_t)4 << 20};
  OK(mpmp_pool_create(&pool, &o));
  size_t want[6] = {3 << 20, 0, 1, 2 << 20, 5, 4 << 20};
  size_t off[7];
  for (int i = 0; i <= 6; i++)
    off[i] = (size_t)i * sizeof *want;
  mpmp_varbuf_t out;
  OK(mpmp_pool_map_var(pool, sized, want, off, 6, 6, &out));
  for (int i = 0; i < 6; i++) {
    EQ(out.off[i + 1] - out.off[i], want[i]);
    for (size_t k = 0; k < want[i]; k += 4099)
      EQ(out.data[out.off[i] + k], 'x');
  }
  mpmp_varbuf_free(&out);
  finish(pool);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(varmap_empty_null_items),
    cmocka_unit_test(varmap_identity_every_chunksize),
    cmocka_unit_test(varmap_async_results_of_their_own_size),
    cmocka_unit_test(varmap_empty_input),
    cmocka_unit_test(varmap_failed_item_keeps_the_others),
    cmocka_unit_test(varmap_result_over_max_result),
    cmocka_unit_test(varmap_big_items_cut_chunks),
    cmocka_unit_test(varmap_imap_in_order_and_unordered),
    cmocka_unit_test(varmap_imap_producer_fails),
    cmocka_unit_test(varmap_executor_map_var),
    cmocka_unit_test(varmap_bad_input_is_refused),
    cmocka_unit_test(varmap_isolated_crash_costs_one_item),
    cmocka_unit_test(varmap_isolated_retries),
    cmocka_unit_test(varmap_isolated_timeout_and_maxtasks),
    cmocka_unit_test(varmap_isolated_big_results),
    cmocka_unit_test(varmap_isolated_loan),
    cmocka_unit_test(varmap_isolated_imap),
};
MPMP_TEST_MAIN(tests)
