/* Pool, imap and Process used the way users get them wrong: calls in the
 * wrong state, NULL, NaN timeouts, overflowing counts, objects that
 * outlive their pool, terminate with several jobs in flight. Every call
 * must answer with an error code and a message, never crash or hang, and
 * lose nothing. Runs on 1 node and on 2 pseudo-nodes. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "misuse_tasks.h"

/* Every kind of map must say "not running", whatever the chunk size: with
 * chunksize 0 the automatic size used to divide by the (zero) workers. */
static void expect_maps_refused(mpmp_pool_t *pool) {
  int64_t x[4] = {1, 2, 3, 4}, r[4];
  mpmp_async_t *res = NULL;
  for (size_t chunk = 0; chunk < 2; chunk++) {
    assert_int_equal(mpmp_pool_map(pool, square, x, 4, 8, r, 8, chunk), MPMP_EPERM);
    assert_non_null(strstr(mpmp_errmsg(), "no more work"));
    assert_int_equal(mpmp_pool_starmap(pool, square, x, 4, 8, r, 8, chunk), MPMP_EPERM);
    assert_int_equal(mpmp_pool_map_async(pool, square, x, 4, 8, r, 8, chunk, NULL, NULL, &res), MPMP_EPERM);
    assert_int_equal(mpmp_pool_starmap_async(pool, square, x, 4, 8, r, 8, chunk, NULL, NULL, &res), MPMP_EPERM);
  }
  assert_int_equal(mpmp_pool_apply_async(pool, square, x, 8, NULL, NULL, &res), MPMP_EPERM);
  assert_null(res);
}

static void pool_map_after_join_is_eperm(void **state) {
  (void)state;
  mpmp_pool_t *pool = pool_of(0);
  assert_int_equal(mpmp_pool_close(pool), 0);
  expect_maps_refused(pool);
  assert_int_equal(mpmp_pool_join(pool, 30), 0);
  expect_maps_refused(pool);
  assert_int_equal(mpmp_pool_join(pool, 30), 0); /* again: nothing to do */
  assert_int_equal(mpmp_pool_close(pool), 0);
  assert_int_equal(mpmp_pool_destroy(pool), 0);
  pool = pool_of(0);
  assert_int_equal(mpmp_pool_terminate(pool), 0);
  expect_maps_refused(pool);
  assert_int_equal(mpmp_pool_join(pool, 30), 0);
  expect_maps_refused(pool);
  assert_int_equal(mpmp_pool_terminate(pool), 0);
  assert_int_equal(mpmp_pool_destroy(pool), 0);
}

/* (size_t)-3 items is what a negative count becomes: refused before any
 * item is read, and the pool still works afterwards. */
static void pool_map_overflowing_counts(void **state) {
  (void)state;
  int64_t x[4] = {1, 2, 3, 4}, r[4];
  char bytes[4] = {0};
  mpmp_async_t *res = NULL;
  mpmp_pool_t *pool = pool_of(0);
  const size_t counts[] = {(size_t)-3, SIZE_MAX, SIZE_MAX / 2, (size_t)1 << 62};
  for (size_t k = 0; k < sizeof counts / sizeof *counts; k++)
    for (size_t chunk = 0; chunk < 2; chunk++) {
      size_t n = counts[k];
      assert_int_equal(mpmp_pool_map(pool, square, x, n, 8, r, 8, chunk), MPMP_EINVAL);
      assert_int_equal(mpmp_pool_map_async(pool, square, x, n, 8, r, 8, chunk, NULL, NULL, &res), MPMP_EINVAL);
      assert_int_equal(mpmp_pool_starmap(pool, square, x, n, 8, r, 8, chunk), MPMP_EINVAL);
      assert_int_equal(mpmp_pool_starmap_async(pool, square, x, n, 8, r, 8, chunk, NULL, NULL, &res), MPMP_EINVAL);
      /* one byte in, eight out: the output overflows, not the input */
      assert_int_equal(mpmp_pool_map(pool, square, bytes, n, 1, r, 8, chunk), MPMP_EINVAL);
    }
  assert_null(res);
  assert_int_equal(mpmp_pool_map(pool, square, x, 4, SIZE_MAX, r, 8, 0), MPMP_EINVAL);
  assert_int_equal(mpmp_pool_map(pool, square, x, 4, 8, r, SIZE_MAX / 4, 0), MPMP_EINVAL);
  /* a chunk size beyond the count is one chunk */
  assert_int_equal(mpmp_pool_map(pool, square, x, 4, 8, r, 8, SIZE_MAX), 0);
  assert_int_equal(r[3], 16);
  assert_int_equal(mpmp_pool_apply_async(pool, square, x, SIZE_MAX, NULL, NULL, &res), MPMP_EINVAL);
  /* exactly 1 GiB is past the limit, and the message says what it is
   * (helper 65: "elements over 1 GiB" for 1 GiB; headers said "to 1 GiB") */
  const size_t gib = (size_t)1 << 30;
  assert_int_equal(mpmp_pool_map(pool, square, x, 1, gib, r, 8, 0), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "in_size of 1073741824 bytes is too "
                         "large: items and results must be under 1 GiB"));
  assert_int_equal(mpmp_pool_map(pool, square, x, 1, 8, r, gib, 0), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "out_size of 1073741824 bytes"));
  assert_int_equal(mpmp_pool_apply_async(pool, square, x, gib, NULL, NULL, &res), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "an argument of 1073741824 bytes is "
                         "too large: a task's must be under 1 GiB"));
  assert_int_equal(mpmp_pool_terminate(pool), 0);
  assert_int_equal(mpmp_pool_destroy(pool), 0);
}

static void pool_null_arguments(void **state) {
  (void)state;
  int64_t x = 3, r = 0;
  size_t size = 0;
  mpmp_pool_t *pool = pool_of(0);
  assert_int_equal(mpmp_pool_apply(pool, square, &x, sizeof x, NULL, 8, &size), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "out is NULL"));
  /* no result wanted: fine, and says how big it was */
  assert_int_equal(mpmp_pool_apply(pool, square, &x, sizeof x, NULL, 0, &size), MPMP_EMSGSIZE);
  assert_int_equal(size, 8);
  assert_int_equal(mpmp_pool_apply(pool, square, &x, sizeof x, &r, sizeof r, &size), 0);
  assert_int_equal(r, 9);
  assert_int_equal(mpmp_async_ready(NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_async_successful(NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_async_failed_count(NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_async_failure(NULL, 0, NULL, NULL, NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_async_result(NULL, NULL, NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_async_get(NULL, 0), MPMP_EINVAL);
  assert_int_equal(mpmp_async_wait(NULL, 0), MPMP_EINVAL);
  mpmp_async_destroy(NULL);
  assert_int_equal(mpmp_pool_map(NULL, square, &x, 1, 8, &r, 8, 0), MPMP_EINVAL);
  assert_int_equal(mpmp_pool_close(NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_pool_terminate(NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_pool_join(NULL, 0), MPMP_EINVAL);
  assert_int_equal(mpmp_pool_size(NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_pool_destroy(NULL), 0);
  assert_int_equal(mpmp_pool_terminate(pool), 0);
  assert_int_equal(mpmp_pool_destroy(pool), 0);
}

/* NaN compares false with everything: it waited forever in some calls. */
static void pool_nan_timeouts_are_einval(void **state) {
  (void)state;
  double nap = 0.2;
  int64_t r = 0;
  mpmp_async_t *res = NULL;
  mpmp_pool_t *pool = pool_of(0);
  assert_int_equal(mpmp_pool_apply_async(pool, patient, &nap, sizeof nap, NULL, NULL, &res), 0);
  assert_int_equal(mpmp_async_get(res, NAN), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "NaN"));
  assert_int_equal(mpmp_async_wait(res, NAN), MPMP_EINVAL);
  assert_int_equal(mpmp_async_get(res, 30), 0); /* nothing was lost */
  mpmp_async_destroy(res);
  assert_int_equal(mpmp_pool_close(pool), 0);
  assert_int_equal(mpmp_pool_join(pool, NAN), MPMP_EINVAL);
  assert_int_equal(mpmp_pool_join(pool, 30), 0);
  assert_int_equal(mpmp_pool_destroy(pool), 0);
  /* a timeout of 0 tries once, -0.0 and -inf wait as long as it takes */
  pool = pool_of(0);
  assert_int_equal(mpmp_pool_apply_async(pool, patient, &nap, sizeof nap, NULL, NULL, &res), 0);
  assert_int_equal(mpmp_async_get(res, 0), MPMP_ETIMEDOUT);
  assert_int_equal(mpmp_async_get(res, -INFINITY), 0);
  assert_int_equal(mpmp_async_result(res, NULL, NULL), 0);
  mpmp_async_destroy(res);
  (void)r;
  assert_int_equal(mpmp_pool_terminate(pool), 0);
  assert_int_equal(mpmp_pool_destroy(pool), 0);
}

/* Python lets an imap started before close() run to its end; join waits
 * for what runs, and says so at once when an imap still reads input
 * (waiting would wait for ever: the imap is fed by whoever reads it). */
static void pool_close_lets_imap_finish(void **state) {
  (void)state;
  for (int ordered = 0; ordered < 2; ordered++) {
    counter_t c = {0, 2000};
    mpmp_imap_t *it = NULL;
    int64_t r;
    size_t idx, n = 0, sum = 0;
    mpmp_pool_t *pool = pool_of(0);
    assert_int_equal((ordered ? mpmp_pool_imap : mpmp_pool_imap_unordered)(
                         pool, square, count_up, &c, 8, 8, 5, 40, &it), 0);
    for (; n < 10; n++) {
      assert_int_equal(mpmp_imap_next(it, &r, &idx, 30), 0);
      sum += idx;
    }
    assert_int_equal(mpmp_pool_close(pool), 0);
    assert_int_equal(mpmp_pool_join(pool, 30), MPMP_EPERM);
    assert_non_null(strstr(mpmp_errmsg(), "imap"));
    int rc;
    while ((rc = mpmp_imap_next(it, &r, &idx, 30)) == 0) {
      assert_int_equal(r, (int64_t)(idx * idx));
      if (ordered)
        assert_int_equal(idx, n);
      sum += idx;
      n++;
    }
    assert_int_equal(rc, MPMP_EEOF);
    assert_int_equal(n, 2000);
    assert_int_equal(sum, 1999 * 1000); /* every index once */
    assert_int_equal(mpmp_pool_join(pool, 30), 0);
    /* a new imap on a closed pool is refused */
    c.next = 0;
    mpmp_imap_t *late = NULL;
    assert_int_equal(mpmp_pool_imap(pool, square, count_up, &c, 8, 8, 5, 40, &late), MPMP_EPERM);
    assert_null(late);
    mpmp_imap_destroy(it);
    assert_int_equal(mpmp_pool_destroy(pool), 0);
  }
}

/* An imap whose pool goes first reports it; reading and destroying it is
 * safe (it used to read the freed pool). */
static void imap_outlives_its_pool(void **state) {
  (void)state;
  for (int how = 0; how < 3; how++) {
    counter_t c = {0, 100000};
    mpmp_imap_t *it = NULL;
    int64_t r;
    size_t idx;
    mpmp_pool_t *pool = pool_of(0);
    assert_int_equal(mpmp_pool_imap(pool, square, count_up, &c, 8, 8, 10, 100, &it), 0);
    assert_int_equal(mpmp_imap_next(it, &r, &idx, 30), 0);
    assert_int_equal(idx, 0);
    if (how == 0) { /* destroy: terminate + join + free */
      assert_int_equal(mpmp_pool_destroy(pool), 0);
    } else if (how == 1) { /* terminate, join, destroy */
      assert_int_equal(mpmp_pool_terminate(pool), 0);
      assert_int_equal(mpmp_pool_join(pool, 30), 0);
      assert_int_equal(mpmp_pool_destroy(pool), 0);
    } else { /* terminate, then read: the pool is still there */
      assert_int_equal(mpmp_pool_terminate(pool), 0);
    }
    int rc;
    size_t more = 0, last = 0;
    /* What had completed comes out in order; so do the items of a chunk
     * that was running at the terminate, failed with "terminated" (README:
     * an item whose task returns after terminate fails so; it is not
     * lost); then EPERM. */
    while ((rc = mpmp_imap_next(it, &r, &idx, 30)) == 0 || rc == MPMP_ETASK) {
      if (rc == 0)
        assert_int_equal(r, (int64_t)(idx * idx)); /* what comes is right */
      else
        assert_non_null(strstr(mpmp_errmsg(), "terminated"));
      assert_int_equal(idx, last + 1);
      last = idx;
      more++;
    }
    assert_int_equal(rc, MPMP_EPERM);
    assert_true(more < 100000);
    assert_int_equal(mpmp_imap_next(it, &r, &idx, 0), MPMP_EPERM); /* sticky */
    if (how == 2) {
      assert_int_equal(mpmp_pool_join(pool, 30), 0);
      mpmp_imap_destroy(it);
      assert_int_equal(mpmp_pool_destroy(pool), 0);
    } else {
      mpmp_imap_destroy(it);
    }
  }
}

/* Destroying an imap stops its work: the items at the workers not
 * started are skipped and the running ones asked to stop. It only stopped
 * the deal, so every chunk already out ran to its end (8 x 3 s here; an
 * endless task hung destroy for ever). */
static double nap3 = 3.0;
static int nap_feed(void *user, void *item) {
  counter_t *c = user;
  if (c->next == c->limit)
    return 0;
  c->next++;
  memcpy(item, &nap3, sizeof nap3);
  return 1;
}

static void imap_destroy_stops_its_work(void **state) {
  (void)state;
  for (int ordered = 0; ordered < 2; ordered++) {
    counter_t c = {0, 40};
    mpmp_imap_t *it = NULL;
    int64_t r;
    mpmp_pool_t *pool = pool_of(0);
    assert_int_equal((ordered ? mpmp_pool_imap : mpmp_pool_imap_unordered)(
                         pool, patient, nap_feed, &c, sizeof nap3, sizeof r,
                         1, 4, &it), 0);
    assert_int_equal(mpmp_imap_next(it, &r, NULL, 0.2), MPMP_ETIMEDOUT);
    double t0 = test_now();
    mpmp_imap_destroy(it);
    double took = test_now() - t0;
    if (took > 2.0)
      fail_msg("mpmp_imap_destroy took %.1f s: the chunks out ran to their "
               "end", took);
    /* the pool is free again at once, and works */
    int64_t x[3] = {1, 2, 3}, y[3];
    assert_int_equal(mpmp_pool_map(pool, square, x, 3, 8, y, 8, 1), 0);
    assert_int_equal(y[2], 9);
    assert_int_equal(mpmp_pool_destroy(pool), 0);
  }
}

static void imap_bad_arguments(void **state) {
  (void)state;
  counter_t c = {0, 10};
  mpmp_imap_t *it = NULL;
  int64_t r;
  mpmp_pool_t *pool = pool_of(0);
  assert_int_equal(mpmp_pool_imap(pool, square, count_up, &c, SIZE_MAX / 2, 8, 0, 0, &it), MPMP_EINVAL);
  assert_int_equal(mpmp_pool_imap(pool, square, count_up, &c, 8, 8, SIZE_MAX, 0, &it), 0);
  mpmp_imap_destroy(it); /* a huge chunk is capped, not allocated */
  c.next = 0;
  assert_int_equal(mpmp_pool_imap(pool, square, count_up, &c, 8, 8, 4, SIZE_MAX, &it), 0);
  assert_int_equal(mpmp_imap_next(it, &r, NULL, NAN), MPMP_EINVAL);
  assert_int_equal(mpmp_imap_next(it, NULL, NULL, 1), MPMP_EINVAL);
  size_t resumed = 1;
  assert_int_equal(mpmp_imap_resumed(it, NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_imap_resumed(NULL, &resumed), MPMP_EINVAL);
  assert_int_equal(mpmp_imap_resumed(it, &resumed), 0);
  assert_int_equal(resumed, 0); /* (no journal) */
  assert_int_equal(mpmp_imap_next(NULL, &r, NULL, 1), MPMP_EINVAL);
  for (int64_t i = 0; i < 10; i++) {
    size_t idx;
    assert_int_equal(mpmp_imap_next(it, &r, &idx, 30), 0);
    assert_int_equal(r, (int64_t)(idx * idx));
  }
  assert_int_equal(mpmp_imap_next(it, &r, NULL, 30), MPMP_EEOF);
  assert_int_equal(mpmp_imap_next(it, &r, NULL, 30), MPMP_EEOF);
  mpmp_imap_destroy(it);
  mpmp_imap_destroy(NULL);
  assert_int_equal(mpmp_pool_imap(pool, NULL, count_up, &c, 8, 8, 1, 0, &it), MPMP_EINVAL);
  assert_int_equal(mpmp_pool_imap(pool, square, NULL, &c, 8, 8, 1, 0, &it), MPMP_EINVAL);
  assert_int_equal(mpmp_pool_imap(NULL, square, count_up, &c, 8, 8, 1, 0, &it), MPMP_EINVAL);
  assert_int_equal(mpmp_pool_terminate(pool), 0);
  assert_int_equal(mpmp_pool_destroy(pool), 0);
}

/* ---- one imap read by several threads at once ---------------------------- */

/* Python's IMapIterator.next() is thread-safe; the iterator's state had no
 * lock, and two threads reading one imap crashed the main rank (a chunk's
 * job destroyed under the other reader). */
#define SHARED_N 20000

typedef struct var_counter {
  counter_t c;
  int64_t item; /* the one buffer the items are given from */
} var_counter_t;

static int count_up_var(void *user, const void **item, size_t *size) {
  var_counter_t *vc = user;
  int rc = count_up(&vc->c, &vc->item);
  *item = &vc->item;
  *size = sizeof vc->item;
  return rc;
}

typedef struct reader {
  mpmp_imap_t *it;
  int var, ordered;
  _Atomic int *seen; /* per index: how often it came, over all readers */
  size_t got, bad;   /* bad: a wrong value, index, size or order */
  int end, again;    /* the code that ended the reads, and the next call's */
} reader_t;

/* Reads to the end. CMocka's checks cannot run in this thread: the main
 * thread checks what it counted. */
static void *read_to_end(void *arg) {
  reader_t *r = arg;
  int64_t v = 0;
  const void *data = NULL, *prev = NULL;
  size_t idx = 0, size = 0, last = 0;
  int rc;
  for (;;) {
    /* this thread's last imap_var result stays while the others read */
    if (prev != NULL) {
      memcpy(&v, prev, sizeof v);
      r->bad += v != (int64_t)(last * last);
    }
    rc = r->var ? mpmp_imap_next_var(r->it, &data, &size, &idx, T_OUT)
                : mpmp_imap_next(r->it, &v, &idx, T_OUT);
    if (rc != 0)
      break;
    if (r->var) {
      r->bad += size != sizeof v;
      memcpy(&v, data, sizeof v);
      prev = data;
    }
    /* ordered: results come in item order, so each reader's indices rise */
    if (idx >= SHARED_N || v != (int64_t)(idx * idx) ||
        (r->ordered && r->got > 0 && idx <= last))
      r->bad++;
    else
      atomic_fetch_add(&r->seen[idx], 1);
    last = idx;
    r->got++;
  }
  r->end = rc;
  r->again = r->var ? mpmp_imap_next_var(r->it, &data, &size, &idx, 0)
                    : mpmp_imap_next(r->it, &v, &idx, 0);
  return NULL;
}

/* 3 threads read one imap of 20000 items (imap, imap_unordered, and their
 * variable-size kinds): every index comes exactly once with its value, in
 * order for imap, and every thread sees the end. */
static void imap_read_by_threads(void **state) {
  (void)state;
  for (int kind = 0; kind < 4; kind++) {
    int ordered = kind % 2 == 0, var = kind >= 2;
    var_counter_t vc = {{0, SHARED_N}, 0};
    _Atomic int *seen = calloc(SHARED_N, sizeof *seen);
    assert_non_null(seen);
    mpmp_imap_t *it = NULL;
    mpmp_pool_t *pool = pool_of(0);
    /* chunks of 10: many chunks, so the readers meet at every step */
    if (var)
      assert_int_equal((ordered ? mpmp_pool_imap_var
                                : mpmp_pool_imap_unordered_var)(
                           pool, square, count_up_var, &vc, 10, 0, &it), 0);
    else
      assert_int_equal((ordered ? mpmp_pool_imap
                                : mpmp_pool_imap_unordered)(
                           pool, square, count_up, &vc.c, 8, 8, 10, 0, &it), 0);
    reader_t rd[3];
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
      rd[i] = (reader_t){.it = it, .var = var, .ordered = ordered,
                         .seen = seen};
      assert_int_equal(pthread_create(&t[i], NULL, read_to_end, &rd[i]), 0);
    }
    size_t got = 0;
    for (int i = 0; i < 3; i++) {
      assert_int_equal(pthread_join(t[i], NULL), 0);
      assert_int_equal(rd[i].bad, 0);
      assert_int_equal(rd[i].end, MPMP_EEOF);
      assert_int_equal(rd[i].again, MPMP_EEOF);
      got += rd[i].got;
    }
    assert_int_equal(got, SHARED_N);
    for (size_t i = 0; i < SHARED_N; i++)
      if (atomic_load(&seen[i]) != 1)
        fail_msg("kind %d: item %zu came %d times", kind, i,
                 atomic_load(&seen[i]));
    int64_t r;
    assert_int_equal(mpmp_imap_next(it, &r, NULL, 0),
                     var ? MPMP_EINVAL : MPMP_EEOF);
    mpmp_imap_destroy(it);
    free(seen);
    assert_int_equal(mpmp_pool_terminate(pool), 0);
    assert_int_equal(mpmp_pool_destroy(pool), 0);
  }
}

/* Two items on one worker: the producer is slow on the second (it runs
 * under the readers' lock), and so is its task. */
typedef struct slow_feed {
  int next;
  _Atomic int in_producer, produced; /* the slow call began, returned */
} slow_feed_t;

#define SLOW_S 1.5

static int produce_slowly(void *user, void *item) {
  slow_feed_t *f = user;
  if (f->next == 2)
    return 0;
  if (f->next == 1) {
    atomic_store(&f->in_producer, 1);
    test_sleep(SLOW_S);
  }
  *(double *)item = f->next++ ? SLOW_S : 0.01;
  atomic_store(&f->produced, f->next);
  return 1;
}

static void *read_two(void *arg) {
  reader_t *r = arg;
  int64_t v;
  while ((r->end = mpmp_imap_next(r->it, &v, NULL, T_OUT)) == 0)
    r->got++;
  return NULL;
}

/* A reader's timeout is its own: another thread that waits for the next
 * result, or runs the slow producer, must not keep it past 0.05 s. */
static void imap_timeout_while_another_reads(void **state) {
  (void)state;
  slow_feed_t f = {0, 0, 0};
  mpmp_imap_t *it = NULL;
  mpmp_pool_t *pool = pool_of(1);
  /* a window of one item: the second is produced only once the first was
   * read, in the reading thread */
  assert_int_equal(mpmp_pool_imap(pool, patient, produce_slowly, &f, 8, 8, 1,
                                  1, &it), 0);
  reader_t rd = {.it = it};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, read_two, &rd), 0);
  int64_t v;
  for (int phase = 0; phase < 2; phase++) {
    /* 0: the other thread is in the producer; 1: it waits for the task */
    double t0 = test_now();
    while (phase == 0 ? !atomic_load(&f.in_producer)
                      : atomic_load(&f.produced) < 2) {
      assert_true(test_now() - t0 < T_OUT);
      test_sleep(0.001);
    }
    if (phase == 1)
      test_sleep(0.05); /* the other thread submits, then waits */
    for (int k = 0; k < 3; k++) {
      t0 = test_now();
      assert_int_equal(mpmp_imap_next(it, &v, NULL, 0.05), MPMP_ETIMEDOUT);
      double took = test_now() - t0;
      if (!(took >= 0.045 && took < SLOW_S / 2))
        fail_msg("phase %d: a 0.05 s timeout took %.3f s", phase, took);
    }
  }
  size_t mine = 0;
  int rc;
  while ((rc = mpmp_imap_next(it, &v, NULL, T_OUT)) == 0)
    mine++;
  assert_int_equal(rc, MPMP_EEOF);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(rd.end, MPMP_EEOF);
  assert_int_equal(rd.got + mine, 2);
  mpmp_imap_destroy(it);
  assert_int_equal(mpmp_pool_terminate(pool), 0);
  assert_int_equal(mpmp_pool_destroy(pool), 0);
}

/* ---- the producer's failure ----------------------------------------------- */

#define PRODUCER_CODE (-77)

static int fail_at(void *user, void *item) {
  counter_t *c = user; /* limit: the item that fails */
  if (c->next == c->limit)
    return PRODUCER_CODE;
  *(int64_t *)item = c->next++;
  return 1;
}

static int fail_at_once_var(void *user, const void **item, size_t *size) {
  (void)user, (void)item, (void)size;
  return PRODUCER_CODE;
}

/* The producer's code comes with a message that says so and names the
 * item: the message left was the thread's last, about something else. */
static void imap_producer_failure_says_so(void **state) {
  (void)state;
  int64_t x = 3, r = 0;
  size_t idx;
  mpmp_imap_t *it = NULL;
  mpmp_pool_t *pool = pool_of(0);
  for (int var = 0; var < 2; var++) {
    counter_t c = {0, 0}; /* fails at its first call */
    /* an unrelated message first */
    assert_int_equal(mpmp_pool_apply(pool, square, &x, sizeof x, NULL, 8, NULL), MPMP_EINVAL);
    assert_int_equal(var ? mpmp_pool_imap_var(pool, square, fail_at_once_var, NULL, 1, 0, &it)
                         : mpmp_pool_imap(pool, square, fail_at, &c, 8, 8, 1, 0, &it),
                     PRODUCER_CODE);
    assert_null(it);
    assert_non_null(strstr(mpmp_errmsg(), "producer returned -77"));
    assert_non_null(strstr(mpmp_errmsg(), "item 0"));
  }
  /* later, at item 5: what came before is handed out, then the code */
  counter_t c = {0, 5};
  assert_int_equal(mpmp_pool_imap(pool, square, fail_at, &c, 8, 8, 2, 0, &it), 0);
  for (size_t i = 0; i < 5; i++) {
    assert_int_equal(mpmp_imap_next(it, &r, &idx, T_OUT), 0);
    assert_int_equal(idx, i);
    assert_int_equal(r, (int64_t)(i * i));
  }
  for (int again = 0; again < 2; again++) { /* every later call says so */
    assert_int_equal(mpmp_pool_apply(pool, square, &x, sizeof x, NULL, 8, NULL), MPMP_EINVAL);
    assert_int_equal(mpmp_imap_next(it, &r, &idx, T_OUT), PRODUCER_CODE);
    assert_non_null(strstr(mpmp_errmsg(), "producer returned -77"));
    assert_non_null(strstr(mpmp_errmsg(), "item 5"));
  }
  mpmp_imap_destroy(it);
  assert_int_equal(mpmp_pool_terminate(pool), 0);
  assert_int_equal(mpmp_pool_destroy(pool), 0);
}

/* Results outlive their pool: a finished job never needs it again. */
static void results_outlive_their_pool(void **state) {
  (void)state;
  int64_t x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, r[8];
  mpmp_async_t *map = NULL, *app = NULL;
  mpmp_pool_t *pool = pool_of(0);
  assert_int_equal(mpmp_pool_map_async(pool, square, x, 8, 8, r, 8, 1, NULL, NULL, &map), 0);
  assert_int_equal(mpmp_pool_apply_async(pool, square, x, 8, NULL, NULL, &app), 0);
  assert_int_equal(mpmp_async_get(map, 30), 0);
  assert_int_equal(mpmp_async_get(app, 30), 0);
  assert_int_equal(mpmp_pool_destroy(pool), 0);
  assert_int_equal(mpmp_async_ready(map), 1);
  assert_int_equal(mpmp_async_successful(map), 1);
  assert_int_equal(mpmp_async_failed_count(map), 0);
  assert_int_equal(mpmp_async_get(map, 0), 0);
  const void *data;
  size_t size;
  assert_int_equal(mpmp_async_result(app, &data, &size), 0);
  assert_int_equal(*(const int64_t *)data, 1);
  assert_int_equal(r[7], 64);
  mpmp_async_destroy(map);
  mpmp_async_destroy(app);
}

/* Terminate stops every job in flight, not only the newest: 2 jobs x 3
 * items x 4 s on one worker used to take 7.7 s to terminate and join. */
static void pool_terminate_stops_every_job(void **state) {
  (void)state;
  double naps[3] = {4, 4, 4};
  int64_t r1[3], r2[3];
  mpmp_async_t *a = NULL, *b = NULL, *c[4] = {0};
  for (int kind = 0; kind < 2; kind++) {
    mpmp_pool_t *pool = pool_of(1);
    if (kind == 0) { /* two maps */
      assert_int_equal(mpmp_pool_map_async(pool, patient, naps, 3, 8, r1, 8, 1, NULL, NULL, &a), 0);
      assert_int_equal(mpmp_pool_map_async(pool, patient, naps, 3, 8, r2, 8, 1, NULL, NULL, &b), 0);
    } else { /* many applies */
      for (int i = 0; i < 4; i++)
        assert_int_equal(mpmp_pool_apply_async(pool, patient, naps, 8, NULL, NULL, &c[i]), 0);
    }
    test_sleep(0.3);
    double t0 = test_now();
    assert_int_equal(mpmp_pool_terminate(pool), 0);
    assert_int_equal(mpmp_pool_join(pool, 30), 0);
    double took = test_now() - t0;
    assert_true(took < 2.0);
    if (kind == 0) {
      assert_int_equal(mpmp_async_get(a, 0), MPMP_ETASK);
      assert_int_equal(mpmp_async_get(b, 0), MPMP_ETASK);
      assert_non_null(strstr(mpmp_errmsg(), "terminated"));
      mpmp_async_destroy(a);
      mpmp_async_destroy(b);
    } else {
      for (int i = 0; i < 4; i++) {
        assert_int_equal(mpmp_async_ready(c[i]), 1);
        mpmp_async_destroy(c[i]);
      }
    }
    assert_int_equal(mpmp_pool_destroy(pool), 0);
  }
}

/* ... and with an imap (a job per chunk). */
static int produce_naps(void *user, void *item) {
  int *left = user;
  if (*left == 0)
    return 0;
  (*left)--;
  *(double *)item = 4;
  return 1;
}

static void pool_terminate_stops_imap(void **state) {
  (void)state;
  int left = 6;
  int64_t r;
  mpmp_imap_t *it = NULL;
  mpmp_pool_t *pool = pool_of(1);
  assert_int_equal(mpmp_pool_imap(pool, patient, produce_naps, &left, 8, 8, 1, 6, &it), 0);
  test_sleep(0.3);
  double t0 = test_now();
  assert_int_equal(mpmp_pool_terminate(pool), 0);
  assert_int_equal(mpmp_pool_join(pool, 30), 0);
  assert_true(test_now() - t0 < 2.0);
  int rc = mpmp_imap_next(it, &r, NULL, 30);
  assert_true(rc == MPMP_EPERM || rc == MPMP_ETASK); /* stopped early */
  mpmp_imap_destroy(it);
  assert_int_equal(mpmp_pool_destroy(pool), 0);
}

/* 50 ms, never asking whether to stop: returns its argument. */
static int nap50(mpmp_ctx_t *ctx) {
  test_sleep(0.05);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = *(const int64_t *)mpmp_arg(ctx, NULL);
  return 0;
}
MPMP_TASK(nap50);

/* An unordered imap whose pool is terminated hands out what completed and
 * the items of the chunks that were running, then says where it ended:
 * every item before that one comes out once. It ended at the first chunk
 * skipped, and the running chunks' results were lost. */
static void imap_unordered_terminated_loses_nothing(void **state) {
  (void)state;
  counter_t c = {0, 1000};
  mpmp_imap_t *it = NULL;
  int64_t r;
  size_t idx, end = 0;
  unsigned char seen[1000] = {0};
  mpmp_pool_t *pool = pool_of(0);
  assert_int_equal(mpmp_pool_imap_unordered(pool, nap50, count_up, &c, 8, 8, 2, 16, &it), 0);
  assert_int_equal(mpmp_imap_next(it, &r, &idx, 30), 0);
  seen[idx] = 1;
  assert_int_equal(mpmp_pool_terminate(pool), 0);
  int rc;
  while ((rc = mpmp_imap_next(it, &r, &idx, 30)) == 0 || rc == MPMP_ETASK) {
    assert_true(idx < 1000 && !seen[idx]);
    seen[idx] = 1;
    if (rc == 0)
      assert_int_equal(r, (int64_t)idx);
  }
  assert_int_equal(rc, MPMP_EPERM);
  const char *at = strstr(mpmp_errmsg(), "before item ");
  assert_non_null(at);
  assert_int_equal(sscanf(at, "before item %zu", &end), 1);
  assert_true(end < 1000);
  for (size_t i = 0; i < end; i++)
    if (!seen[i])
      fail_msg("item %zu (before item %zu, where it ended) never came out", i,
               end);
  mpmp_imap_destroy(it);
  assert_int_equal(mpmp_pool_join(pool, 30), 0);
  assert_int_equal(mpmp_pool_destroy(pool), 0);
}

/* A stop names the newest job it stops; a process made before and started
 * afterwards on that rank must not count as stopped. */
static void process_started_after_a_terminate_runs(void **state) {
  (void)state;
  double nap = 0.3, naps[2] = {2, 2};
  int64_t r[2];
  mpmp_process_t *p = NULL;
  mpmp_async_t *a = NULL;
  assert_int_equal(mpmp_process_create(&p, patient, &nap, sizeof nap, NULL), 0);
  mpmp_pool_t *pool = pool_of(0);
  assert_int_equal(mpmp_pool_map_async(pool, patient, naps, 2, 8, r, 8, 1, NULL, NULL, &a), 0);
  test_sleep(0.1);
  assert_int_equal(mpmp_pool_terminate(pool), 0);
  assert_int_equal(mpmp_pool_join(pool, 30), 0);
  mpmp_async_destroy(a);
  assert_int_equal(mpmp_pool_destroy(pool), 0);
  assert_int_equal(mpmp_process_start(p), 0);
  assert_int_equal(mpmp_process_join(p, NAN), MPMP_EINVAL);
  assert_int_equal(mpmp_process_join(p, 30), 0);
  int code = -1;
  const void *data;
  size_t size;
  assert_int_equal(mpmp_process_exitcode(p, &code), 0);
  assert_int_equal(code, 0);
  assert_int_equal(mpmp_process_result(p, &data, &size), 0);
  assert_int_equal(*(const int64_t *)data, 1); /* ran to its end */
  assert_int_equal(mpmp_process_destroy(p), 0);
}

static void process_wrong_state_and_null(void **state) {
  (void)state;
  double nap = 0.01;
  mpmp_process_t *p = NULL;
  assert_int_equal(mpmp_process_create(&p, patient, &nap, SIZE_MAX, NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_process_create(&p, patient, NULL, 8, NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_process_create(NULL, patient, &nap, 8, NULL), MPMP_EINVAL);
  assert_null(p);
  assert_int_equal(mpmp_process_create(&p, patient, &nap, sizeof nap, NULL), 0);
  assert_int_equal(mpmp_process_join(p, 1), MPMP_EPERM); /* not started */
  assert_int_equal(mpmp_process_exitcode(p, NULL), MPMP_EPERM);
  assert_int_equal(mpmp_process_pid(p), 0);
  assert_int_equal(mpmp_process_rank(p), -1);
  assert_int_equal(mpmp_process_terminate(p), 0); /* nothing to stop */
  assert_int_equal(mpmp_process_start(p), 0);
  assert_int_equal(mpmp_process_start(p), MPMP_EPERM);
  assert_int_equal(mpmp_process_set_daemon(p, 1), MPMP_EPERM);
  assert_int_equal(mpmp_process_join(p, 30), 0);
  assert_int_equal(mpmp_process_join(p, 30), 0);
  assert_int_equal(mpmp_process_is_alive(p), 0);
  assert_int_equal(mpmp_process_terminate(p), 0);
  assert_int_equal(mpmp_process_destroy(p), 0);
  assert_int_equal(mpmp_process_pid(NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_process_rank(NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_process_daemon(NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_process_start(NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_process_join(NULL, 1), MPMP_EINVAL);
  assert_int_equal(mpmp_process_is_alive(NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_process_exitcode(NULL, NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_process_result(NULL, NULL, NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_process_terminate(NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_process_destroy(NULL), 0);
  assert_string_equal(mpmp_process_errmsg(NULL), "");
  assert_int_equal(mpmp_active_children(NULL, 3), MPMP_EINVAL);
  assert_int_equal(mpmp_active_children(NULL, -1), MPMP_EINVAL);
}

/* A terminated map's items that never ran are failures too: counted,
 * listed in item order (rank -1: they ran nowhere, "terminated before it
 * ran"), their slots zeros. They were left out of both, and a caller that
 * trusted the failure list read whatever its buffer held as their
 * results (2 failures of 8, six slots never written). */
static void terminate_counts_items_never_run(void **state) {
  (void)state;
  enum { N = 12 };
  double naps[N];
  int64_t r[N];
  for (int i = 0; i < N; i++)
    naps[i] = 5;
  for (int destroy = 0; destroy < 2; destroy++) {
    mpmp_pool_t *pool = pool_of(0);
    mpmp_async_t *res = NULL;
    memset(r, 0x7f, sizeof r);
    assert_int_equal(mpmp_pool_map_async(pool, patient, naps, N, 8, r, 8, 1, NULL, NULL, &res), 0);
    test_sleep(0.3);
    if (destroy)
      assert_int_equal(mpmp_pool_destroy(pool), 0);
    else
      assert_int_equal(mpmp_pool_terminate(pool), 0);
    assert_int_equal(mpmp_async_get(res, 30), MPMP_ETASK);
    assert_non_null(strstr(mpmp_errmsg(), "never ran"));
    assert_int_equal(mpmp_async_failed_count(res), N);
    assert_int_equal(mpmp_async_successful(res), 0);
    int ran = 0;
    for (int k = 0; k < N; k++) {
      size_t idx;
      int rank;
      const char *msg;
      assert_int_equal(mpmp_async_failure(res, k, &idx, &rank, &msg), 0);
      assert_int_equal(idx, (size_t)k); /* item order, each once */
      assert_non_null(strstr(msg, "terminated"));
      if (rank < 0) {
        assert_non_null(strstr(msg, "before it ran"));
        assert_int_equal(r[k], 0);
      } else {
        ran++;
      }
    }
    assert_true(ran >= 1 && ran < N);
    assert_int_equal(mpmp_async_failure(res, N, NULL, NULL, NULL), MPMP_EINVAL);
    mpmp_async_destroy(res);
    if (!destroy) {
      assert_int_equal(mpmp_pool_join(pool, 30), 0);
      assert_int_equal(mpmp_pool_destroy(pool), 0);
    }
  }
}

/* A copying map's results may not overlap its items: a result landing on
 * an item not yet dealt was read as that item (rc 0, most results wrong). */
/* Tasks registered after mpmp_init() are not added (the ranks agreed on
 * their tasks at init): a call given one says so, and the tasks known
 * before still resolve (the build before appended them past the end of
 * its lookup index, which the search then read beyond, and a growth of
 * the table left the index pointing into freed memory). */
static int late_task(mpmp_ctx_t *ctx) {
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = 1;
  return 0;
}

static void tasks_registered_after_init_are_refused(void **state) {
  (void)state;
  mpmp_task_register(late_task, "late_task", __FILE__);
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.processes = 1};
  assert_int_equal(mpmp_pool_create(&pool, &o), 0);
  int64_t x = 2, r;
  assert_int_equal(mpmp_pool_apply(pool, late_task, &x, sizeof x, &r,
                                   sizeof r, NULL), MPMP_ENOTASK);
  assert_non_null(strstr(mpmp_errmsg(), "'late_task' was registered after "
                                        "mpmp_init()"));
  assert_null(mpmp_task_name(late_task));
  assert_int_equal(mpmp_pool_apply(pool, nap50, &x, sizeof x, &r, sizeof r,
                                   NULL), 0);
  assert_string_equal(mpmp_task_name(nap50), "nap50");
  assert_int_equal(mpmp_pool_close(pool), 0);
  assert_int_equal(mpmp_pool_join(pool, 30), 0);
  assert_int_equal(mpmp_pool_destroy(pool), 0);
}

static void map_results_over_items_are_einval(void **state) {
  (void)state;
  int64_t buf[64];
  mpmp_pool_t *pool = pool_of(0);
  mpmp_async_t *res = NULL;
  for (int i = 0; i < 64; i++)
    buf[i] = i;
  assert_int_equal(mpmp_pool_map(pool, square, buf, 32, 8, buf + 16, 8, 1), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "overlap"));
  assert_int_equal(mpmp_pool_map(pool, square, buf, 32, 8, buf, 8, 0), MPMP_EINVAL);
  assert_int_equal(mpmp_pool_map(pool, square, buf + 8, 8, 8, buf, 16, 0), MPMP_EINVAL);
  assert_int_equal(mpmp_pool_starmap(pool, square, buf, 32, 8, buf + 31, 8, 0), MPMP_EINVAL);
  assert_int_equal(mpmp_pool_map_async(pool, square, buf, 32, 8, buf, 8, 0, NULL, NULL, &res), MPMP_EINVAL);
  assert_null(res);
  for (int i = 0; i < 64; i++) /* nothing ran */
    assert_int_equal(buf[i], i);
  /* next to each other is apart */
  assert_int_equal(mpmp_pool_map(pool, square, buf, 32, 8, buf + 32, 8, 3), 0);
  for (int i = 0; i < 32; i++)
    assert_int_equal(buf[32 + i], (int64_t)i * i);
  assert_int_equal(mpmp_pool_destroy(pool), 0);
}

/* Writes its argument's count of bytes past the 8 it asks mpmp_out() for
 * (0: none past), then returns its argument * 3. */
static int overrun(mpmp_ctx_t *ctx) {
  int64_t k = *(const int64_t *)mpmp_arg(ctx, NULL);
  unsigned char *o = mpmp_out(ctx, sizeof(int64_t));
  int64_t v = k * 3;
  memcpy(o, &v, sizeof v);
  memset(o + sizeof v, 0x3c, (size_t)k);
  return 0;
}
MPMP_TASK(overrun);

/* A map's task: x*x into its 8-byte slot, and 8 bytes more past it. */
static int overrun_slot(mpmp_ctx_t *ctx) {
  int64_t x = *(const int64_t *)mpmp_arg(ctx, NULL);
  int64_t *o = mpmp_out(ctx, sizeof(int64_t));
  o[0] = x * x;
  o[1] = -1;
  return 0;
}
MPMP_TASK(overrun_slot);

/* A chunk task that writes one result more than its chunk has. */
static int overrun_chunk(mpmp_ctx_t *ctx, const void *in, void *out,
                         size_t count) {
  (void)ctx;
  const int64_t *x = in;
  int64_t *y = out;
  for (size_t i = 0; i <= count; i++)
    y[i] = i < count ? x[i] * x[i] : -1;
  return 0;
}
MPMP_CHUNK_TASK(overrun_chunk);

/* A map of n items whose task wrote past its slot: each chunk's last item
 * failed, saying so, with a zero result; every other item is x*x (a chunk
 * task's chunk: all of it failed). */
static void expect_map_overrun(mpmp_pool_t *pool, size_t n, size_t chunk,
                               int chunk_task) {
  int64_t *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
  assert_non_null(x);
  assert_non_null(y);
  for (size_t i = 0; i < n; i++)
    x[i] = (int64_t)i + 1;
  mpmp_async_t *res = NULL;
  int rc = chunk_task
               ? mpmp_pool_map_chunks_async(pool, overrun_chunk, x, n,
                                            sizeof *x, y, sizeof *y, chunk,
                                            NULL, NULL, &res)
               : mpmp_pool_map_async(pool, overrun_slot, x, n, sizeof *x, y,
                                     sizeof *y, chunk, NULL, NULL, &res);
  assert_int_equal(rc, 0);
  assert_int_equal(mpmp_async_get(res, 60), MPMP_ETASK);
  int nf = mpmp_async_failed_count(res);
  assert_true(nf >= 1);
  unsigned char *failed = calloc(n, 1);
  assert_non_null(failed);
  for (int k = 0; k < nf; k++) {
    size_t index;
    const char *msg;
    assert_int_equal(mpmp_async_failure(res, k, &index, NULL, &msg), 0);
    if (strstr(msg, "wrote past the end of its") == NULL)
      fail_msg("item %zu: %s", index, msg);
    failed[index] = 1;
    assert_int_equal(y[index], 0);
  }
  for (size_t i = 0; i < n; i++)
    if (!failed[i] && y[i] != x[i] * x[i])
      fail_msg("item %zu of %zu: %lld", i, n, (long long)y[i]);
  if (!chunk_task && chunk > 0)
    assert_int_equal(nf, (int)((n + chunk - 1) / chunk));
  mpmp_async_destroy(res);
  free(failed);
  free(x);
  free(y);
}

static void expect_overrun_named(int rc, const char *msg) {
  assert_int_equal(rc, MPMP_ETASK);
  if (strstr(msg, "wrote past the end of the 8-byte result buffer") == NULL)
    fail_msg("message: %s", msg);
}

/* A task that writes past the result buffer mpmp_out() gave it (by 1 to
 * 63 bytes) is failed with a message that says so, in a worker rank, in a
 * task host and as a Process body, and its worker goes on unharmed. It
 * damaged the worker's heap before, and a later item crashed in malloc
 * with that item named. */
static void task_writing_past_its_result_is_named(void **state) {
  (void)state;
  int64_t ks[] = {1, 8, 63};
  int modes[] = {MPMP_ISOLATE_NEVER, MPMP_ISOLATE_ALWAYS};
  for (int m = 0; m < 2; m++) {
    mpmp_pool_t *pool = NULL;
    mpmp_pool_opts_t o = {.processes = 1, .isolate = modes[m]};
    assert_int_equal(mpmp_pool_create(&pool, &o), 0);
    for (int round = 0; round < 20; round++)
      for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        int64_t r = -1, k = ks[i];
        int rc = mpmp_pool_apply(pool, overrun, &k, sizeof k, &r, sizeof r,
                                 NULL);
        expect_overrun_named(rc, mpmp_errmsg());
        k = 0;
        assert_int_equal(mpmp_pool_apply(pool, overrun, &k, sizeof k, &r,
                                         sizeof r, NULL), 0);
        assert_int_equal(r, 0);
      }
    /* maps: each chunk's last item fails (items that wrote into the next
     * slot were written over by that item), in a worker rank (large maps
     * through the staging slots) or a task host; chunk tasks (which run
     * in worker ranks only): the whole chunk */
    expect_map_overrun(pool, 100, 10, 0);
    expect_map_overrun(pool, 20000, 0, 0);
    if (modes[m] == MPMP_ISOLATE_NEVER) {
      expect_map_overrun(pool, 20000, 0, 1);
      expect_map_overrun(pool, 100, 10, 1);
    }
    /* variable-size items: the item that overran fails, and says so */
    int64_t items[4] = {0, 2, 0, 0};
    size_t off[5] = {0, 8, 16, 24, 32};
    mpmp_varbuf_t out = {0};
    int rc = mpmp_pool_map_var(pool, overrun, items, off, 4, 1, &out);
    expect_overrun_named(rc, mpmp_errmsg());
    mpmp_varbuf_free(&out);
    mpmp_pool_destroy(pool);
    /* a Process body */
    mpmp_process_opts_t po = {.isolate = modes[m]};
    mpmp_process_t *p = NULL;
    int exitcode = 0;
    assert_int_equal(mpmp_process_create(&p, overrun, &ks[0], sizeof ks[0],
                                         &po), 0);
    assert_int_equal(mpmp_process_start(p), 0);
    assert_int_equal(mpmp_process_join(p, 30), 0);
    assert_int_equal(mpmp_process_exitcode(p, &exitcode), 0);
    assert_int_equal(exitcode, MPMP_EXIT_FAILED);
    expect_overrun_named(MPMP_ETASK, mpmp_process_errmsg(p));
    mpmp_process_destroy(p);
  }
}

/* ---- failed items and dropped results ----------------------------------- */

/* Writes x + 1000, then fails where x % 10 == 3 (all items with fail_all). */
static int write_then_fail(mpmp_ctx_t *ctx) {
  const int64_t *x = mpmp_arg(ctx, NULL);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = *x + 1000;
  if (*x % 10 == 3 || *x < 0)
    return mpmp_fail(ctx, "item %lld fails after writing", (long long)*x);
  return 0;
}
MPMP_TASK(write_then_fail);

/* A failed item's result reads as zeros (pool.h), also where its task
 * wrote its slot before it failed: the slot kept what it wrote (helper
 * 80), in a worker rank and in a task host (where only a chunk's last item
 * had its own slot), and in map_shm. */
static void failed_items_read_as_zeros(void **state) {
  (void)state;
  enum { N = 1000 };
  static int64_t in[N], out[N];
  for (int i = 0; i < N; i++)
    in[i] = i;
  for (int iso = 0; iso < 2; iso++) {
    if (iso && test_hosts_off())
      break;
    mpmp_pool_t *pool = NULL;
    mpmp_pool_opts_t o = {.isolate = iso ? MPMP_ISOLATE_ALWAYS
                                         : MPMP_ISOLATE_NEVER};
    assert_int_equal(mpmp_pool_create(&pool, &o), 0);
    memset(out, 0xee, sizeof out);
    assert_int_equal(mpmp_pool_map(pool, write_then_fail, in, N, 8, out, 8,
                                   7), MPMP_ETASK);
    for (int i = 0; i < N; i++)
      if (out[i] != (i % 10 == 3 ? 0 : i + 1000))
        fail_msg("isolate %d: out[%d] = %lld", iso, i, (long long)out[i]);
    mpmp_shm_t *b = NULL;
    assert_int_equal(mpmp_shm_create(&b, NULL, 2 * N * 8), 0);
    int64_t *buf = mpmp_shm_buf(b);
    for (int i = 0; i < N; i++)
      buf[i] = i, buf[N + i] = -1;
    assert_int_equal(mpmp_pool_map_shm(pool, write_then_fail, NULL, b, 0, N,
                                       8, b, N * 8, 8, 7), MPMP_ETASK);
    for (int i = 0; i < N; i++)
      if (buf[N + i] != (i % 10 == 3 ? 0 : i + 1000))
        fail_msg("map_shm, isolate %d: out[%d] = %lld", iso, i,
                 (long long)buf[N + i]);
    assert_int_equal(mpmp_shm_unlink(b), 0);
    assert_int_equal(mpmp_shm_close(b), 0);
    assert_int_equal(mpmp_pool_destroy(pool), 0);
  }
}

/* Listing every failure of a map (k = 0, 1, ...) takes linear time, each
 * once and in item order: each call walked the records from the first
 * (80 000 failures took 14 s). */
static void failures_listed_in_order(void **state) {
  (void)state;
  enum { N = 120000 };
  int64_t *in = malloc(N * sizeof *in), *out = malloc(N * sizeof *out);
  assert_non_null(in);
  assert_non_null(out);
  for (int i = 0; i < N; i++)
    in[i] = -1 - i; /* every item fails */
  mpmp_pool_t *pool = pool_of(0);
  mpmp_async_t *res = NULL;
  assert_int_equal(mpmp_pool_map_async(pool, write_then_fail, in, N, 8, out,
                                       8, 0, NULL, NULL, &res), 0);
  assert_int_equal(mpmp_async_get(res, 120), MPMP_ETASK);
  assert_int_equal(mpmp_async_failed_count(res), N);
  double t0 = test_now();
  for (int k = 0; k < N; k++) {
    size_t idx = SIZE_MAX;
    const char *msg = NULL;
    assert_int_equal(mpmp_async_failure(res, k, &idx, NULL, &msg), 0);
    if (idx != (size_t)k || msg == NULL)
      fail_msg("failure %d: item %zu", k, idx);
  }
  double took = test_now() - t0;
  if (took > 5) /* (0.01 s here; the build before: 12 s) */
    fail_msg("listing %d failures took %.1f s", N, took);
  assert_int_equal(mpmp_async_failure(res, N, NULL, NULL, NULL), MPMP_EINVAL);
  mpmp_async_destroy(res);
  assert_int_equal(mpmp_pool_destroy(pool), 0);
  free(in);
  free(out);
}

/* This process's resident memory, in MiB. */
static double rss_mib(void) {
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f == NULL || fscanf(f, "%ld %ld", &pages, &resident) != 2)
    resident = 0;
  if (f != NULL)
    fclose(f);
  return (double)resident * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

/* A result destroyed before its apply_async or map_async completed, with
 * no callback, is freed when it completes (pool.h: "dropped"): it was
 * never freed, with its copy of the argument (300 applies of 1 MiB
 * arguments kept 306 MiB). */
static void destroyed_running_results_are_freed(void **state) {
  (void)state;
#ifdef __SANITIZE_ADDRESS__
  skip(); /* (ASan's quarantine holds freed memory: its leak check says) */
#endif
  enum { ARG = 1 << 20, APPLIES = 300 };
  char *arg = calloc(1, ARG);
  assert_non_null(arg);
  mpmp_pool_t *pool = pool_of(0);
  double before = rss_mib();
  for (int i = 0; i < APPLIES; i++) {
    mpmp_async_t *a = NULL;
    assert_int_equal(mpmp_pool_apply_async(pool, square, arg, ARG, NULL,
                                           NULL, &a), 0);
    mpmp_async_destroy(a); /* running or queued: dropped when it completes */
  }
  assert_int_equal(mpmp_pool_close(pool), 0);
  assert_int_equal(mpmp_pool_join(pool, 60), 0);
  double grew = rss_mib() - before;
  assert_int_equal(mpmp_pool_destroy(pool), 0);
  free(arg);
  if (grew > 150)
    fail_msg("%d dropped applies of %d KiB arguments kept %.0f MiB",
             APPLIES, ARG >> 10, grew);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(pool_map_after_join_is_eperm),
    cmocka_unit_test(tasks_registered_after_init_are_refused),
    cmocka_unit_test(pool_map_overflowing_counts),
    cmocka_unit_test(pool_null_arguments),
    cmocka_unit_test(pool_nan_timeouts_are_einval),
    cmocka_unit_test(pool_close_lets_imap_finish),
    cmocka_unit_test(imap_outlives_its_pool),
    cmocka_unit_test(imap_bad_arguments),
    cmocka_unit_test(imap_destroy_stops_its_work),
    cmocka_unit_test(imap_read_by_threads),
    cmocka_unit_test(imap_timeout_while_another_reads),
    cmocka_unit_test(imap_producer_failure_says_so),
    cmocka_unit_test(results_outlive_their_pool),
    cmocka_unit_test(pool_terminate_stops_every_job),
    cmocka_unit_test(pool_terminate_stops_imap),
    cmocka_unit_test(imap_unordered_terminated_loses_nothing),
    cmocka_unit_test(terminate_counts_items_never_run),
    cmocka_unit_test(map_results_over_items_are_einval),
    cmocka_unit_test(process_started_after_a_terminate_runs),
    cmocka_unit_test(process_wrong_state_and_null),
    cmocka_unit_test(task_writing_past_its_result_is_named),
    cmocka_unit_test(failed_items_read_as_zeros),
    cmocka_unit_test(failures_listed_in_order),
    cmocka_unit_test(destroyed_running_results_are_freed),
};

MPMP_TEST_MAIN(tests)
