/* Pool, imap and Process used the way users get them wrong: calls in the
 * wrong state, NULL, NaN timeouts, overflowing counts, objects that
 * outlive their pool, terminate with several jobs in flight. Every call
 * must answer with an error code and a message, never crash or hang, and
 * lose nothing. Runs on 1 node and on 2 pseudo-nodes. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(pool_map_after_join_is_eperm),
    cmocka_unit_test(pool_map_overflowing_counts),
    cmocka_unit_test(pool_null_arguments),
    cmocka_unit_test(pool_nan_timeouts_are_einval),
    cmocka_unit_test(pool_close_lets_imap_finish),
    cmocka_unit_test(imap_outlives_its_pool),
    cmocka_unit_test(imap_bad_arguments),
    cmocka_unit_test(results_outlive_their_pool),
    cmocka_unit_test(pool_terminate_stops_every_job),
    cmocka_unit_test(pool_terminate_stops_imap),
    cmocka_unit_test(process_started_after_a_terminate_runs),
    cmocka_unit_test(process_wrong_state_and_null),
};

MPMP_TEST_MAIN(tests)
