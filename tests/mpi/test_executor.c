/* Executor and futures: the tutorials' submit/as_completed examples,
 * exceptions, cancel, wait, callbacks, map and shutdown. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mpitest.h"

static int process_item(mpmp_ctx_t *ctx) { /* item ** 2 */
  const int64_t *x = mpmp_arg(ctx, NULL);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = *x * *x;
  return 0;
}
MPMP_TASK(process_item);

static int may_fail(mpmp_ctx_t *ctx) {
  const int64_t *x = mpmp_arg(ctx, NULL);
  if (*x == 5)
    return mpmp_fail(ctx, "Can't process %lld", (long long)*x);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = *x;
  return 0;
}
MPMP_TASK(may_fail);

static int nap(mpmp_ctx_t *ctx) {
  test_sleep(*(const double *)mpmp_arg(ctx, NULL));
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = 1;
  return 0;
}
MPMP_TASK(nap);

/* Runs until asked to stop, looking only every 0.2 s (at most 20 s). */
static int slow_to_stop(mpmp_ctx_t *ctx) {
  for (int i = 0; i < 100 && !mpmp_should_stop(ctx); i++)
    test_sleep(0.2);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = 1;
  return 0;
}
MPMP_TASK(slow_to_stop);

static mpmp_executor_t *executor(int workers) {
  mpmp_executor_t *ex = NULL;
  mpmp_executor_opts_t o = {.max_workers = workers};
  assert_int_equal(mpmp_executor_create(&ex, &o), 0);
  return ex;
}

static void executor_submit_as_completed(void **state) {
  (void)state;
  mpmp_future_t *fs[10], *f;
  int seen[10] = {0};
  mpmp_executor_t *ex = executor(0);
  for (int64_t i = 0; i < 10; i++)
    assert_int_equal(mpmp_executor_submit(ex, process_item, &i, sizeof i, &fs[i]), 0);
  mpmp_as_completed_t *it;
  assert_int_equal(mpmp_as_completed(fs, 10, 30, &it), 0);
  int count = 0;
  while (mpmp_as_completed_next(it, &f) == 0) {
    int k = -1;
    for (int i = 0; i < 10; i++)
      if (fs[i] == f)
        k = i;
    assert_true(k >= 0 && !seen[k]);
    seen[k] = 1;
    const int64_t *r;
    size_t size;
    assert_int_equal(mpmp_future_result(f, 0, (const void **)&r, &size), 0);
    assert_int_equal(size, sizeof *r);
    assert_int_equal(*r, (int64_t)k * k);
    count++;
  }
  assert_int_equal(count, 10);
  assert_int_equal(mpmp_as_completed_next(it, &f), MPMP_EEOF);
  mpmp_as_completed_destroy(it);
  for (int i = 0; i < 10; i++)
    mpmp_future_destroy(fs[i]);
  assert_int_equal(mpmp_executor_shutdown(ex, 1, 0), 0);
  assert_int_equal(mpmp_executor_destroy(ex), 0);
}

static void executor_exception_reaches_result(void **state) {
  (void)state;
  mpmp_future_t *fs[10];
  mpmp_executor_t *ex = executor(0);
  for (int64_t i = 0; i < 10; i++)
    assert_int_equal(mpmp_executor_submit(ex, may_fail, &i, sizeof i, &fs[i]), 0);
  int ok = 0;
  for (int i = 0; i < 10; i++) {
    const char *msg = "unset";
    const void *r;
    assert_int_equal(mpmp_future_exception(fs[i], 30, &msg), 0);
    if (i == 5) {
      assert_string_equal(msg, "Can't process 5");
      assert_int_equal(mpmp_future_result(fs[i], 0, &r, NULL), MPMP_ETASK);
      assert_non_null(strstr(mpmp_errmsg(), "Can't process 5"));
    } else {
      assert_null(msg);
      ok += mpmp_future_result(fs[i], 0, &r, NULL) == 0;
    }
    mpmp_future_destroy(fs[i]);
  }
  assert_int_equal(ok, 9);
  assert_int_equal(mpmp_executor_shutdown(ex, 1, 0), 0);
  assert_int_equal(mpmp_executor_destroy(ex), 0);
}

static int calls;
static void count_call(mpmp_async_t *f, int ok, void *user) {
  (void)f;
  calls++;
  *(int *)user = ok ? 1 : -1;
}

/* One worker busy with a long task: the futures behind it are pending. */
static void executor_cancel_pending_future(void **state) {
  (void)state;
  double secs = 0.5;
  int64_t x = 3;
  int flag = 0;
  mpmp_future_t *busy[8], *last;
  mpmp_executor_t *ex = executor(1);
  for (int i = 0; i < 3; i++) /* the worker takes at most two at once */
    assert_int_equal(mpmp_executor_submit(ex, nap, &secs, sizeof secs, &busy[i]), 0);
  assert_int_equal(mpmp_executor_submit(ex, process_item, &x, sizeof x, &last), 0);
  test_sleep(0.05);
  assert_int_equal(mpmp_future_running(busy[0]), 1);
  assert_int_equal(mpmp_future_cancel(busy[0]), 0); /* running: too late */
  calls = 0;
  assert_int_equal(mpmp_future_add_done_callback(last, count_call, &flag), 0);
  assert_int_equal(mpmp_future_cancel(last), 1);
  assert_int_equal(mpmp_future_cancelled(last), 1);
  assert_int_equal(mpmp_future_done(last), 1);
  assert_int_equal(calls, 1);
  assert_int_equal(flag, -1);
  const void *r;
  assert_int_equal(mpmp_future_result(last, 0, &r, NULL), MPMP_ECANCELED);
  mpmp_future_destroy(last);
  /* shutdown with cancel_futures drops what has not started */
  assert_int_equal(mpmp_executor_shutdown(ex, 1, 1), 0);
  int cancelled = 0;
  for (int i = 0; i < 3; i++) {
    assert_int_equal(mpmp_future_done(busy[i]), 1);
    cancelled += mpmp_future_cancelled(busy[i]);
    mpmp_future_destroy(busy[i]);
  }
  assert_true(cancelled <= 1); /* only the third can still be pending */
  assert_int_equal(mpmp_executor_destroy(ex), 0);
}

static void executor_wait_modes(void **state) {
  (void)state;
  double quick = 0.0, slow = 0.4;
  int64_t bad = 5;
  mpmp_future_t *fs[3];
  mpmp_executor_t *ex = executor(0);
  assert_int_equal(mpmp_executor_submit(ex, nap, &slow, sizeof slow, &fs[0]), 0);
  assert_int_equal(mpmp_executor_submit(ex, nap, &quick, sizeof quick, &fs[1]), 0);
  assert_int_equal(mpmp_executor_submit(ex, may_fail, &bad, sizeof bad, &fs[2]), 0);
  int done = mpmp_futures_wait(fs, 3, MPMP_FIRST_COMPLETED, 30);
  assert_true(done >= 1);
  done = mpmp_futures_wait(fs, 3, MPMP_FIRST_EXCEPTION, 30);
  assert_int_equal(mpmp_future_done(fs[2]), 1);
  assert_true(done >= 1);
  assert_int_equal(mpmp_futures_wait(fs, 3, MPMP_ALL_COMPLETED, 30), 3);
  assert_int_equal(mpmp_futures_wait(fs, 3, 9, 1), MPMP_EINVAL);
  for (int i = 0; i < 3; i++)
    mpmp_future_destroy(fs[i]);
  /* a wait that times out returns with fewer done (a 2 s nap: a loaded
   * machine may stall this rank for a while between submit and wait) */
  double slower = 2.0;
  assert_int_equal(mpmp_executor_submit(ex, nap, &slower, sizeof slower, &fs[0]), 0);
  double t0 = test_now();
  assert_int_equal(mpmp_futures_wait(fs, 1, MPMP_ALL_COMPLETED, 0.05), 0);
  assert_true(test_now() - t0 < 1.0);
  const void *r;
  assert_int_equal(mpmp_future_result(fs[0], 0.01, &r, NULL), MPMP_ETIMEDOUT);
  assert_int_equal(mpmp_future_result(fs[0], 30, &r, NULL), 0);
  mpmp_future_destroy(fs[0]);
  assert_int_equal(mpmp_executor_shutdown(ex, 1, 0), 0);
  assert_int_equal(mpmp_executor_destroy(ex), 0);
}

static void executor_map_in_order_and_timeout(void **state) {
  (void)state;
  enum { N = 1000 };
  int64_t x[N], r[N];
  double naps[40];
  int64_t nr[40];
  for (int i = 0; i < N; i++)
    x[i] = i;
  mpmp_executor_t *ex = executor(0);
  assert_int_equal(mpmp_executor_map(ex, process_item, x, N, sizeof *x, r, sizeof *r, 10, 30), 0);
  for (int i = 0; i < N; i++)
    assert_int_equal(r[i], (int64_t)i * i);
  for (int i = 0; i < 40; i++)
    naps[i] = 0.05;
  double t0 = test_now();
  assert_int_equal(mpmp_executor_map(ex, nap, naps, 40, sizeof *naps, nr, sizeof *nr, 1, 0.1), MPMP_ETIMEDOUT);
  assert_true(test_now() - t0 < 1.0); /* the rest was cancelled */
  assert_int_equal(mpmp_executor_shutdown(ex, 0, 0), 0);
  int64_t one = 1;
  mpmp_future_t *f = NULL;
  assert_int_equal(mpmp_executor_submit(ex, process_item, &one, sizeof one, &f), MPMP_EPERM);
  assert_int_equal(mpmp_executor_shutdown(ex, 1, 0), 0);
  assert_int_equal(mpmp_executor_destroy(ex), 0);
}

/* Python's test_map_timeout, other inputs: map(sleep, [0, 0, 1.5],
 * timeout=0.4) raises TimeoutError at 0.4 s with the first two results
 * delivered. The map used to wait for the running call (which never asks
 * whether to stop) to end: now it returns at its timeout, and the late
 * result is dropped, never written into the caller's memory. */
static void executor_map_returns_at_its_timeout(void **state) {
  (void)state;
  double naps[3] = {0, 0, 1.5};
  int64_t r[3] = {-7, -7, -7};
  mpmp_executor_t *ex = executor(0);
  double t0 = test_now();
  assert_int_equal(mpmp_executor_map(ex, nap, naps, 3, sizeof *naps, r, sizeof *r, 1, 0.4), MPMP_ETIMEDOUT);
  double took = test_now() - t0;
  assert_true(took >= 0.4 && took < 1.2);
  assert_int_equal(r[0], 1);
  assert_int_equal(r[1], 1);
  assert_int_equal(r[2], -7);
  test_sleep(1.6 - took); /* the long call is over by now */
  assert_int_equal(r[2], -7);
  assert_int_equal(mpmp_executor_shutdown(ex, 1, 0), 0);
  assert_int_equal(r[2], -7);
  assert_int_equal(mpmp_executor_destroy(ex), 0);
}

/* A few microseconds of work per item. */
static int spin_item(mpmp_ctx_t *ctx) {
  const int64_t *x = mpmp_arg(ctx, NULL);
  volatile double s = 0;
  for (int i = 0; i < 200; i++)
    s += i * 0.5;
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = *x * 3 + 1;
  return 0;
}
MPMP_TASK(spin_item);

/* At its timeout a map leaves the elements of `out` whose items never
 * ran as they were (executor.h). They were cleared to zeros when the
 * stop finished the job before the map let go of `out`. */
static void executor_map_timeout_leaves_unrun_elements(void **state) {
  (void)state;
  enum { N = 1000000 };
  static int64_t x[N], r[N];
  mpmp_executor_t *ex = executor(0);
  for (size_t chunk = 65; chunk <= 100; chunk += 35) {
    for (int i = 0; i < N; i++) {
      x[i] = i;
      r[i] = -7;
    }
    assert_int_equal(mpmp_executor_map(ex, spin_item, x, N, sizeof *x, r,
                                       sizeof *r, chunk, 0.15),
                     MPMP_ETIMEDOUT);
    int done = 0, untouched = 0;
    for (int i = 0; i < N; i++) {
      if (r[i] == (int64_t)i * 3 + 1)
        done++;
      else if (r[i] == -7)
        untouched++;
      else
        fail_msg("chunk %zu: element %d is %lld: neither its result nor "
                 "as it was", chunk, i, (long long)r[i]);
    }
    assert_true(done > 0 && untouched > 0);
  }
  assert_int_equal(mpmp_executor_shutdown(ex, 1, 0), 0);
  assert_int_equal(mpmp_executor_destroy(ex), 0);
}

/* The same over variable-size items: map_var waited for its running
 * calls at the timeout (for ever for a call that never ends). Now it
 * returns at the timeout with the results done by then, the running
 * call's empty, and nothing of it lands later (the caller's buffers are
 * its own). */
static void executor_map_var_returns_at_its_timeout(void **state) {
  (void)state;
  double naps[3] = {0, 0, 1.5};
  size_t off[4] = {0, sizeof *naps, 2 * sizeof *naps, 3 * sizeof *naps};
  mpmp_varbuf_t vb;
  memset(&vb, 0x5A, sizeof vb);
  mpmp_executor_t *ex = executor(0);
  double t0 = test_now();
  assert_int_equal(mpmp_executor_map_var(ex, nap, naps, off, 3, 1, 0.4, &vb),
                   MPMP_ETIMEDOUT);
  double took = test_now() - t0;
  if (!(took >= 0.4 && took < 1.2))
    fail_msg("mpmp_executor_map_var returned after %.3f s, not at its 0.4 s "
             "timeout", took);
  assert_non_null(strstr(mpmp_errmsg(), "timed out"));
  assert_int_equal(vb.n, 3);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(vb.off[i + 1] - vb.off[i], sizeof(int64_t));
    int64_t r;
    memcpy(&r, vb.data + vb.off[i], sizeof r);
    assert_int_equal(r, 1);
  }
  assert_int_equal(vb.off[3], vb.off[2]); /* still running: empty */
  test_sleep(1.6 - took); /* the long call is over by now */
  assert_int_equal(vb.off[3], vb.off[2]);
  mpmp_varbuf_free(&vb);
  assert_int_equal(mpmp_executor_shutdown(ex, 1, 0), 0);
  assert_int_equal(mpmp_executor_destroy(ex), 0);
}

/* Two maps of one worker that time out 50 ms apart, from two threads:
 * each stops within a second or so. The worker kept one stop word for a
 * single job, so the second map's stop took the first one's back before
 * its task looked: that task ran to its end, and the first map's call
 * (which waits for its running tasks) with it. */
typedef struct {
  mpmp_executor_t *ex;
  double timeout, took;
  int rc;
} timed_map_t;

static void *timed_map(void *arg) {
  timed_map_t *m = arg;
  int64_t x = 1, r = 0;
  double t0 = test_now();
  m->rc = mpmp_executor_map(m->ex, slow_to_stop, &x, 1, sizeof x, &r,
                            sizeof r, 1, m->timeout);
  m->took = test_now() - t0;
  return NULL;
}

static void executor_maps_timing_out_together_both_stop(void **state) {
  (void)state;
  mpmp_executor_t *ex = executor(1);
  timed_map_t a = {ex, 0.3, 0, 0}, b = {ex, 0.35, 0, 0};
  pthread_t ta, tb;
  assert_int_equal(pthread_create(&ta, NULL, timed_map, &a), 0);
  test_sleep(0.02); /* a's item first: it runs, b's waits behind it */
  assert_int_equal(pthread_create(&tb, NULL, timed_map, &b), 0);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  assert_int_equal(a.rc, MPMP_ETIMEDOUT);
  assert_int_equal(b.rc, MPMP_ETIMEDOUT);
  assert_true(a.took < 3.0); /* before: 20 s, the task's own end */
  assert_true(b.took < 3.0);
  assert_int_equal(mpmp_executor_shutdown(ex, 1, 0), 0);
  assert_int_equal(mpmp_executor_destroy(ex), 0);
}

/* The tutorial's "chunking for large data": 1 000 000 items in chunks of
 * 10 000 through a streaming executor map that never holds more than its
 * buffer; results in order; a shut-down executor refuses it. */
typedef struct { int64_t next, limit, out, max_out; } stream_t;
static int produce_stream(void *user, void *item) {
  stream_t *s = user;
  if (s->next == s->limit)
    return 0;
  *(int64_t *)item = s->next++;
  if (++s->out > s->max_out)
    s->max_out = s->out;
  return 1;
}

static void executor_map_stream_bounded(void **state) {
  (void)state;
  stream_t s = {0, 1000000, 0, 0};
  mpmp_executor_t *ex = executor(0);
  mpmp_imap_t *it = NULL;
  int64_t r;
  size_t idx, n = 0;
  assert_int_equal(mpmp_executor_map_stream(ex, process_item, produce_stream, &s, sizeof(int64_t), sizeof r, 10000, 40000, &it), 0);
  while (mpmp_imap_next(it, &r, &idx, 30) == 0) {
    assert_true(idx == n && r == (int64_t)(idx * idx));
    n++;
    s.out--;
  }
  assert_int_equal(n, 1000000);
  assert_true(s.max_out <= 40000);
  mpmp_imap_destroy(it);
  assert_int_equal(mpmp_executor_shutdown(ex, 1, 0), 0);
  assert_int_equal(mpmp_executor_map_stream(ex, process_item, produce_stream, &s, sizeof(int64_t), sizeof r, 1, 0, &it), MPMP_EPERM);
  assert_int_equal(mpmp_executor_destroy(ex), 0);
}

/* A shutdown that waits, refused while this thread reads a stream of the
 * executor, changes nothing: submits still run, the stream reads on. */
static void executor_refused_shutdown_changes_nothing(void **state) {
  (void)state;
  stream_t s = {0, 500, 0, 0};
  mpmp_executor_t *ex = executor(0);
  mpmp_imap_t *it = NULL;
  int64_t r, x = 7;
  size_t idx, n = 0;
  assert_int_equal(mpmp_executor_map_stream(ex, process_item, produce_stream,
                                            &s, sizeof(int64_t), sizeof r, 4,
                                            16, &it), 0);
  for (int k = 0; k < 20; k++) {
    assert_int_equal(mpmp_imap_next(it, &r, &idx, 30), 0);
    n++;
  }
  for (int cancel = 0; cancel < 2; cancel++)
    assert_int_equal(mpmp_executor_shutdown(ex, 1, cancel), MPMP_EPERM);
  mpmp_future_t *f;
  assert_int_equal(mpmp_executor_submit(ex, process_item, &x, sizeof x, &f),
                   0);
  assert_int_equal(mpmp_future_result(f, 30, NULL, NULL), 0);
  mpmp_async_destroy(f);
  int rc;
  while ((rc = mpmp_imap_next(it, &r, &idx, 30)) == 0) {
    assert_true(idx == n && r == (int64_t)(idx * idx));
    n++;
  }
  assert_int_equal(rc, MPMP_EEOF);
  assert_int_equal(n, 500);
  mpmp_imap_destroy(it);
  assert_int_equal(mpmp_executor_destroy(ex), 0);
}

/* shutdown(cancel_futures) also cancels what a stream has not started:
 * it reads no more input, hands out what ran, and ends at its first item
 * that did not; in order and unordered alike. */
static void executor_cancel_futures_ends_streams(void **state) {
  (void)state;
  for (int unordered = 0; unordered < 2; unordered++) {
    stream_t s = {0, 500, 0, 0};
    mpmp_executor_t *ex = executor(0);
    mpmp_imap_t *it = NULL;
    int64_t r;
    size_t idx;
    unsigned char seen[500] = {0};
    assert_int_equal(
        (unordered ? mpmp_executor_map_unordered : mpmp_executor_map_stream)(
            ex, process_item, produce_stream, &s, sizeof(int64_t), sizeof r,
            4, 16, &it),
        0);
    int got = 0, rc;
    for (; got < 20; got++) {
      assert_int_equal(mpmp_imap_next(it, &r, &idx, 30), 0);
      seen[idx] = 1;
    }
    assert_int_equal(mpmp_executor_shutdown(ex, 0, 1), 0);
    int64_t read = s.next;
    while ((rc = mpmp_imap_next(it, &r, &idx, 30)) == 0) {
      assert_false(seen[idx]);
      assert_int_equal(r, (int64_t)(idx * idx));
      seen[idx] = 1;
      got++;
    }
    assert_true(s.next == read); /* no input read after the shutdown */
    if (got < read) { /* some never ran: the end names the first */
      assert_int_equal(rc, MPMP_EPERM);
      assert_non_null(strstr(mpmp_errmsg(), "cancel_futures"));
    } else {
      assert_int_equal(rc, MPMP_EPERM); /* the input was cut short */
    }
    mpmp_imap_destroy(it);
    assert_int_equal(mpmp_executor_destroy(ex), 0);
  }
}

/* shutdown(cancel_futures=1) cancels every future not started, however
 * fast the workers take them: the build before picked each victim, let
 * go of the lock and cancelled it, and stopped at the first one dealt in
 * between, leaving 2000+ of 3000 queued futures to run. */
static int tiny(mpmp_ctx_t *ctx) {
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = 1;
  return 0;
}
MPMP_TASK(tiny);

static void executor_cancel_futures_cancels_every_queued_one(void **state) {
  (void)state;
  enum { M = 3000 };
  static mpmp_future_t *fs[M];
  for (int round = 0; round < 4; round++) {
    mpmp_executor_t *ex = executor(0);
    int workers = mpmp_worker_count();
    for (int i = 0; i < M; i++)
      assert_int_equal(mpmp_executor_submit(ex, tiny, NULL, 0, &fs[i]), 0);
    assert_int_equal(mpmp_executor_shutdown(ex, 0, 1), 0);
    int left = 0; /* neither cancelled nor done: only running ones */
    for (int i = 0; i < M; i++)
      left += mpmp_future_cancelled(fs[i]) == 0 && mpmp_future_done(fs[i]) == 0;
    if (left > 4 * workers) /* (a chunk each, a few in flight) */
      fail_msg("round %d: %d of %d futures neither cancelled nor done right "
               "after shutdown(cancel_futures)", round, left, M);
    assert_int_equal(mpmp_executor_shutdown(ex, 1, 0), 0);
    for (int i = 0; i < M; i++) {
      int rc = mpmp_future_result(fs[i], 0, NULL, NULL);
      assert_true(rc == 0 || rc == MPMP_ECANCELED);
      mpmp_future_destroy(fs[i]);
    }
    assert_int_equal(mpmp_executor_destroy(ex), 0);
  }
}

/* A second shutdown with cancel_futures cancels what a first one without
 * it left pending (Python's does); the build before ran them all, then
 * failed them at the pool's terminate (MPMP_ETASK). */
static void executor_second_shutdown_cancels_pending(void **state) {
  (void)state;
  enum { P = 20 };
  mpmp_executor_t *ex = executor(1);
  mpmp_future_t *busy, *p[P];
  double long_nap = 1.0, short_nap = 0.3;
  assert_int_equal(mpmp_executor_submit(ex, nap, &long_nap, sizeof long_nap,
                                        &busy), 0);
  for (int i = 0; i < P; i++)
    assert_int_equal(mpmp_executor_submit(ex, nap, &short_nap,
                                          sizeof short_nap, &p[i]), 0);
  assert_int_equal(mpmp_executor_shutdown(ex, 0, 0), 0);
  assert_int_equal(mpmp_executor_shutdown(ex, 1, 1), 0);
  int cancelled = 0;
  for (int i = 0; i < P; i++) {
    int rc = mpmp_future_result(p[i], 0, NULL, NULL);
    assert_true(rc == 0 || rc == MPMP_ECANCELED);
    cancelled += rc == MPMP_ECANCELED;
    mpmp_future_destroy(p[i]);
  }
  if (cancelled < P - 2) /* (one may have been dealt already) */
    fail_msg("the second shutdown cancelled %d of %d pending futures",
             cancelled, P);
  assert_int_equal(mpmp_future_result(busy, 0, NULL, NULL), 0);
  mpmp_future_destroy(busy);
  assert_int_equal(mpmp_executor_destroy(ex), 0);
}

/* A map under way when shutdown(cancel_futures) comes: its items not
 * started are cancelled (Python's map futures are), the ones that ran keep
 * their results, and the map says MPMP_ECANCELED. The build before ran it
 * on for half of MPMP_TERM_GRACE, then failed it as terminated. */
typedef struct map_call {
  mpmp_executor_t *ex;
  double in[2000];
  int64_t out[2000];
  int rc;
  char msg[300];
} map_call_t;

static void *run_map(void *arg) {
  map_call_t *m = arg;
  m->rc = mpmp_executor_map(m->ex, nap, m->in, 2000, sizeof m->in[0], m->out,
                            sizeof m->out[0], 1, 60);
  snprintf(m->msg, sizeof m->msg, "%s", mpmp_errmsg());
  return NULL;
}

static void executor_cancel_futures_cancels_the_rest_of_a_map(void **state) {
  (void)state;
  static map_call_t m;
  memset(&m, 0, sizeof m);
  m.ex = executor(0);
  for (int i = 0; i < 2000; i++)
    m.in[i] = 0.002;
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, run_map, &m), 0);
  test_sleep(0.2);
  double t0 = test_now();
  assert_int_equal(mpmp_executor_shutdown(m.ex, 1, 1), 0);
  pthread_join(t, NULL);
  if (test_now() - t0 > 2.0)
    fail_msg("the shutdown took %.2f s: the map ran on", test_now() - t0);
  int ran = 0;
  for (int i = 0; i < 2000; i++)
    ran += m.out[i] == 1;
  if (m.rc == 0) { /* (a very slow start: the map was over first) */
    assert_int_equal(ran, 2000);
  } else {
    assert_int_equal(m.rc, MPMP_ECANCELED);
    assert_non_null(strstr(m.msg, "cancel_futures"));
    assert_true(ran < 2000);
  }
  assert_int_equal(mpmp_executor_destroy(m.ex), 0);
}

/* The executor's destroy (Python's with-exit) waits for a done-callback
 * that is still running: the build before returned at once and freed the
 * executor, which the callback then used (a submit on freed memory:
 * valgrind's invalid read). A callback's zero-timeout look at an
 * unfinished future times out, as Python's result(0) does there (it was
 * refused as a wait: MPMP_EPERM). */
typedef struct cb_state {
  mpmp_executor_t *ex;
  mpmp_future_t *other;
  int look; /* 1: look at a future just submitted; 0: sleep, then submit */
  _Atomic int started, finished;
  int submit_rc, look_rc;
} cb_state_t;

static void slow_callback(mpmp_async_t *f, int ok, void *user) {
  (void)f;
  (void)ok;
  cb_state_t *c = user;
  atomic_store(&c->started, 1);
  if (c->look) {
    c->submit_rc = mpmp_executor_submit(c->ex, tiny, NULL, 0, &c->other);
    if (c->submit_rc == 0)
      c->look_rc = mpmp_future_result(c->other, 0, NULL, NULL);
  } else {
    test_sleep(0.5);
    mpmp_future_t *g = NULL;
    c->submit_rc = mpmp_executor_submit(c->ex, tiny, NULL, 0, &g);
    if (c->submit_rc == 0)
      mpmp_future_destroy(g);
  }
  atomic_store(&c->finished, 1);
}

static void executor_destroy_waits_for_a_running_callback(void **state) {
  (void)state;
  static cb_state_t c;
  for (int look = 0; look < 2; look++) {
    memset(&c, 0, sizeof c);
    c.look = look;
    c.ex = executor(0);
    double quick = 0.05;
    mpmp_future_t *f = NULL;
    assert_int_equal(mpmp_executor_submit(c.ex, nap, &quick, sizeof quick,
                                          &f), 0);
    assert_int_equal(mpmp_future_add_done_callback(f, slow_callback, &c), 0);
    for (int i = 0; i < 300 && !atomic_load(&c.started); i++)
      test_sleep(0.01);
    assert_true(atomic_load(&c.started));
    assert_int_equal(mpmp_executor_destroy(c.ex), 0);
    if (!atomic_load(&c.finished))
      fail_msg("mpmp_executor_destroy returned while a done-callback of its "
               "future still ran");
    if (look) {
      assert_int_equal(c.submit_rc, 0);
      if (c.look_rc != MPMP_ETIMEDOUT)
        fail_msg("result(0) of an unfinished future in a callback: %s, not "
                 "MPMP_ETIMEDOUT", mpmp_err_name(c.look_rc));
      assert_int_equal(mpmp_future_result(c.other, 0, NULL, NULL), 0);
      mpmp_future_destroy(c.other);
    } else {
      assert_int_equal(c.submit_rc, MPMP_EPERM); /* (shut down by then) */
    }
    mpmp_future_destroy(f);
  }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(executor_cancel_futures_cancels_every_queued_one),
    cmocka_unit_test(executor_second_shutdown_cancels_pending),
    cmocka_unit_test(executor_cancel_futures_cancels_the_rest_of_a_map),
    cmocka_unit_test(executor_destroy_waits_for_a_running_callback),
    cmocka_unit_test(executor_refused_shutdown_changes_nothing),
    cmocka_unit_test(executor_cancel_futures_ends_streams),
    cmocka_unit_test(executor_submit_as_completed),
    cmocka_unit_test(executor_exception_reaches_result),
    cmocka_unit_test(executor_cancel_pending_future),
    cmocka_unit_test(executor_wait_modes),
    cmocka_unit_test(executor_map_in_order_and_timeout),
    cmocka_unit_test(executor_map_stream_bounded),
    cmocka_unit_test(executor_maps_timing_out_together_both_stop),
    cmocka_unit_test(executor_map_returns_at_its_timeout),
    cmocka_unit_test(executor_map_timeout_leaves_unrun_elements),
    cmocka_unit_test(executor_map_var_returns_at_its_timeout),
};
MPMP_TEST_MAIN(tests)
