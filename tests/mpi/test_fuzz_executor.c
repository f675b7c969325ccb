/*
 * Fuzz: Process, Executor, futures, as_completed() and futures_wait(), and
 * the runtime's queries. NULL objects and outputs, bad counts and options,
 * NaN and huge timeouts, and every call in the wrong state: a process
 * before start, started twice, destroyed while running, after join; an
 * executor after shutdown(wait=0) and shutdown(wait=1) (executor.h: later
 * submissions are MPMP_EPERM). Tests that crash today (issue 13) come
 * last.
 */
#include "fuzz.h"

static mpmp_executor_t *live_ex;

static mpmp_executor_t *ex_new(int n) {
  mpmp_executor_t *ex = NULL;
  mpmp_executor_opts_t o = {.max_workers = n};
  assert_int_equal(mpmp_executor_create(&ex, &o), 0);
  live_ex = ex;
  return ex;
}

/* shutdown(wait=1): the executor is done with (the test's pointer is not
 * used again, except where the test checks what the header promises). */
static int ex_end(mpmp_executor_t *ex) {
  if (ex == live_ex)
    live_ex = NULL;
  return mpmp_executor_shutdown(ex, 1, 1);
}

/* After a crash CMocka caught, the next test needs the workers back. */
static int teardown(void **state) {
  (void)state;
  if (live_ex != NULL)
    ex_end(live_ex);
  return 0;
}

/* ---- Process ---------------------------------------------------------------- */

static void fuzz_process_null(void **state) {
  (void)state;
  int code = 0;
  const void *data;
  size_t n;
  FZ_ERR(MPMP_EINVAL, mpmp_process_start(NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_process_join(NULL, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_process_is_alive(NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_process_exitcode(NULL, &code));
  FZ_ERR(MPMP_EINVAL, mpmp_process_result(NULL, &data, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_process_terminate(NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_process_set_daemon(NULL, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_process_daemon(NULL));
  FZ_TRUE(!strcmp(mpmp_process_errmsg(NULL), ""), "errmsg(NULL) not \"\"");
  FZ_TRUE(!strcmp(mpmp_process_name(NULL), ""), "name(NULL) not \"\"");
  FZ_TRUE(!strcmp(mpmp_process_node(NULL), ""), "node(NULL) not \"\"");
  FZ_ERR(MPMP_EINVAL, mpmp_process_pid(NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_process_rank(NULL));
  FZ_EQ(0, mpmp_process_destroy(NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_active_children(NULL, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_active_children(NULL, -1));
  FZ_ERR(MPMP_EINVAL, mpmp_current_process(NULL));
  mpmp_ref_t sentinel;
  FZ_ERR(MPMP_EINVAL, mpmp_process_sentinel(NULL, &sentinel));
  FZ_DONE();
}

static void fuzz_process_create_args(void **state) {
  (void)state;
  mpmp_process_t *p = NULL;
  int64_t x = 2;
  char name[1000];
  memset(name, 'n', sizeof name - 1);
  name[sizeof name - 1] = '\0';
  mpmp_process_opts_t o = {.name = name};
  FZ_ERR(MPMP_EINVAL, mpmp_process_create(NULL, fz_square, &x, 8, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_process_create(&p, NULL, &x, 8, NULL));
  FZ_ERR(MPMP_ENOTASK, mpmp_process_create(&p, fz_not_a_task, &x, 8, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_process_create(&p, fz_square, NULL, 8, NULL));
  for (size_t k = 0; k < FZ_NHUGE; k++)
    FZ_ERR2(MPMP_EINVAL, MPMP_ENOMEM,
            mpmp_process_create(&p, fz_square, &x, fz_huge[k], NULL));
  FZ_EQ(0, mpmp_process_create(&p, fz_square, &x, 8, &o));
  FZ_TRUE(strlen(mpmp_process_name(p)) < 64, "a name of %zu bytes was kept",
          strlen(mpmp_process_name(p)));
  FZ_EQ(0, mpmp_process_destroy(p));
  FZ_DONE();
}

static void fuzz_process_states(void **state) {
  (void)state;
  mpmp_process_t *p = NULL;
  int64_t nap = 400;
  int code = -7;
  const void *data;
  size_t n;
  FZ_EQ(0, mpmp_process_create(&p, fz_nap, &nap, 8, NULL));
  /* before start */
  FZ_ERR(MPMP_EPERM, mpmp_process_join(p, 1));
  FZ_ERR2(MPMP_EPERM, MPMP_EINVAL, mpmp_process_join(p, NAN));
  FZ_ERR(MPMP_EPERM, mpmp_process_exitcode(p, &code));
  FZ_ERR(MPMP_EPERM, mpmp_process_result(p, &data, &n));
  FZ_EQ(0, mpmp_process_is_alive(p));
  FZ_EQ(0, mpmp_process_pid(p));
  FZ_EQ(-1, mpmp_process_rank(p));
  FZ_EQ(0, mpmp_process_set_daemon(p, 7));
  FZ_EQ(1, mpmp_process_daemon(p));
  FZ_EQ(0, mpmp_process_set_daemon(p, 0));
  mpmp_ref_t sentinel;
  int ready = -1;
  FZ_ERR(MPMP_EPERM, mpmp_process_sentinel(p, &sentinel));
  FZ_ERR(MPMP_EINVAL, mpmp_process_sentinel(p, NULL));
  /* running */
  FZ_EQ(0, mpmp_process_start(p));
  FZ_EQ(0, mpmp_process_sentinel(p, &sentinel));
  FZ_TIMEOUT(mpmp_conn_wait(&sentinel, 1, 0, &ready));
  FZ_ERR(MPMP_EINVAL, mpmp_conn_wait(&sentinel, 1, NAN, &ready));
  FZ_ERR(MPMP_EPERM, mpmp_process_start(p));
  FZ_ERR(MPMP_EPERM, mpmp_process_set_daemon(p, 1));
  FZ_ERR(MPMP_EPERM, mpmp_process_destroy(p));
  FZ_EQ(1, mpmp_process_is_alive(p));
  FZ_ERR(MPMP_EAGAIN, mpmp_process_exitcode(p, &code));
  FZ_ERR(MPMP_EAGAIN, mpmp_process_result(p, &data, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_process_join(p, NAN));
  FZ_EQ(1, mpmp_process_is_alive(p)); /* NaN did not wait */
  FZ_TIMEOUT(mpmp_process_join(p, -0.0));
  FZ_TIMEOUT(mpmp_process_join(p, 0));
  FZ_EQ(0, mpmp_process_join(p, 30));
  /* ended */
  FZ_ERR(MPMP_EPERM, mpmp_process_start(p));
  FZ_EQ(0, mpmp_process_join(p, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_process_join(p, NAN));
  FZ_EQ(0, mpmp_process_exitcode(p, &code));
  FZ_TRUE(code == 0, "exit code %d", code);
  FZ_EQ(0, mpmp_process_exitcode(p, NULL));
  FZ_EQ(0, mpmp_process_result(p, NULL, NULL));
  FZ_EQ(0, mpmp_process_terminate(p));
  FZ_EQ(0, mpmp_process_is_alive(p));
  FZ_ERR(MPMP_EPERM, mpmp_process_set_daemon(p, 1));
  FZ_EQ(1, mpmp_conn_wait(&sentinel, 1, 0, &ready));
  FZ_TRUE(ready == 0, "the ended process's sentinel: ready[0] = %d", ready);
  FZ_EQ(0, mpmp_process_destroy(p));
  FZ_ERR(MPMP_EBADF, mpmp_conn_wait(&sentinel, 1, 0, &ready));
  sentinel.tag ^= 1u; /* damaged */
  FZ_ERR(MPMP_EBADF, mpmp_conn_wait(&sentinel, 1, 0, &ready));
  FZ_DONE();
}

/* A join that waits long (1e300 s) sleeps instead of spinning. */
static void fuzz_process_join_sleeps(void **state) {
  (void)state;
  mpmp_process_t *p = NULL;
  int64_t nap = 400;
  FZ_EQ(0, mpmp_process_create(&p, fz_nap, &nap, 8, NULL));
  FZ_EQ(0, mpmp_process_start(p));
  double cpu = fz_thread_cpu();
  FZ_EQ(0, mpmp_process_join(p, 1e300));
  cpu = fz_thread_cpu() - cpu;
  FZ_TRUE(cpu < 0.2, "mpmp_process_join(1e300) used %.3f s of CPU while the "
          "body ran for 0.4 s: a blocked wait must sleep", cpu);
  FZ_EQ(0, mpmp_process_destroy(p));
  FZ_DONE();
}

/* More processes than workers: MPMP_EBUSY, and the others still run. */
static void fuzz_process_busy(void **state) {
  (void)state;
  int w = mpmp_worker_count();
  mpmp_process_t **ps = calloc((size_t)w + 1, sizeof *ps);
  int64_t nap = 300;
  for (int i = 0; i <= w; i++)
    FZ_EQ(0, mpmp_process_create(&ps[i], fz_nap, &nap, 8, NULL));
  for (int i = 0; i < w; i++)
    FZ_EQ(0, mpmp_process_start(ps[i]));
  FZ_ERR(MPMP_EBUSY, mpmp_process_start(ps[w]));
  FZ_EQ(w, mpmp_active_children(NULL, 0));
  FZ_EQ(0, mpmp_process_set_daemon(ps[w], 1)); /* still not started */
  for (int i = 0; i < w; i++)
    FZ_EQ(0, mpmp_process_join(ps[i], 30));
  FZ_EQ(0, mpmp_process_start(ps[w]));
  FZ_EQ(0, mpmp_process_join(ps[w], 30));
  for (int i = 0; i <= w; i++)
    FZ_EQ(0, mpmp_process_destroy(ps[i]));
  free(ps);
  FZ_DONE();
}

/* ---- Executor ------------------------------------------------------------------ */

static void fuzz_executor_args(void **state) {
  (void)state;
  mpmp_executor_t *ex = NULL;
  mpmp_future_t *f = NULL;
  mpmp_imap_t *it = NULL;
  int64_t x = 3, in[4] = {1, 2, 3, 4}, out[4];
  mpmp_executor_opts_t neg = {.max_workers = -1};
  mpmp_executor_opts_t many = {.max_workers = INT32_MAX};
  mpmp_executor_opts_t notask = {.initializer = fz_not_a_task};
  FZ_ERR(MPMP_EINVAL, mpmp_executor_create(NULL, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_executor_create(&ex, &neg));
  FZ_ERR(MPMP_EBUSY, mpmp_executor_create(&ex, &many));
  FZ_ERR(MPMP_ENOTASK, mpmp_executor_create(&ex, &notask));
  FZ_ERR(MPMP_EINVAL, mpmp_executor_submit(NULL, fz_square, &x, 8, &f));
  FZ_ERR(MPMP_EINVAL, mpmp_executor_map(NULL, fz_square, in, 4, 8, out, 8, 0, 5));
  FZ_ERR(MPMP_EINVAL, mpmp_executor_map_stream(NULL, fz_square, NULL, NULL, 8,
                                               8, 0, 0, &it));
  FZ_ERR(MPMP_EINVAL, mpmp_executor_starmap(NULL, fz_square, in, 4, 8, out,
                                            8, 0, 5));
  FZ_ERR(MPMP_EINVAL, mpmp_executor_map_unordered(NULL, fz_square, NULL, NULL,
                                                  8, 8, 0, 0, &it));
  const size_t off[3] = {0, 8, 16};
  mpmp_varbuf_t vb = {0};
  FZ_ERR(MPMP_EINVAL, mpmp_executor_map_var(NULL, fz_square, in, off, 2, 0,
                                            5, &vb));
  FZ_ERR(MPMP_EINVAL, mpmp_executor_shutdown(NULL, 1, 0));
  ex = ex_new(0);
  FZ_ERR(MPMP_EINVAL, mpmp_executor_starmap(ex, fz_square, NULL, 4, 8, out,
                                            8, 0, 5));
  FZ_ERR(MPMP_EINVAL, mpmp_executor_starmap(ex, fz_square, in, 4, 8, out, 8,
                                            0, NAN));
  for (size_t k = 0; k < FZ_NHUGE; k++)
    FZ_ERR(MPMP_EINVAL, mpmp_executor_starmap(ex, fz_square, in, fz_huge[k],
                                              8, out, 8, 0, 5));
  FZ_ERR(MPMP_EINVAL, mpmp_executor_map_unordered(ex, fz_square, NULL, NULL,
                                                  8, 8, 0, 0, &it));
  FZ_ERR(MPMP_EINVAL, mpmp_executor_map_var(ex, fz_square, in, off, 2, 0,
                                            NAN, &vb));
  FZ_ERR(MPMP_EINVAL, mpmp_executor_map_var(ex, fz_square, in, off, 2, 0, 5,
                                            NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_executor_map_var(ex, fz_square, in, NULL, 2, 0, 5,
                                            &vb));
  FZ_ERR(MPMP_EINVAL, mpmp_executor_map_var(ex, fz_square, in, off,
                                            SIZE_MAX, 0, 5, &vb));
  FZ_EQ(0, mpmp_executor_map_var(ex, fz_square, in, off, 2, 0, 30, &vb));
  FZ_TRUE(vb.n == 2 && vb.off[2] == 16 &&
          ((const int64_t *)(const void *)vb.data)[1] == 4,
          "map_var of squares gave %zu results", vb.n);
  mpmp_varbuf_free(&vb);
  FZ_EQ(0, mpmp_executor_starmap(ex, fz_square, in, 4, 8, out, 8, 0, 30));
  FZ_TRUE(out[3] == 16, "starmap gave %lld", (long long)out[3]);
  FZ_ERR(MPMP_EINVAL, mpmp_executor_submit(ex, NULL, &x, 8, &f));
  FZ_ERR(MPMP_ENOTASK, mpmp_executor_submit(ex, fz_not_a_task, &x, 8, &f));
  FZ_ERR(MPMP_EINVAL, mpmp_executor_submit(ex, fz_square, NULL, 8, &f));
  FZ_ERR(MPMP_EINVAL, mpmp_executor_submit(ex, fz_square, &x, 8, NULL));
  for (size_t k = 0; k < FZ_NHUGE; k++)
    FZ_ERR2(MPMP_EINVAL, MPMP_ENOMEM,
            mpmp_executor_submit(ex, fz_square, &x, fz_huge[k], &f));
  FZ_ERR(MPMP_EINVAL, mpmp_executor_map(ex, fz_square, in, 4, 8, out, 8, 0, NAN));
  FZ_ERR(MPMP_EINVAL, mpmp_executor_map(ex, fz_square, NULL, 4, 8, out, 8, 0, 5));
  FZ_ERR(MPMP_EINVAL, mpmp_executor_map(ex, fz_square, in, 4, 0, out, 8, 0, 5));
  FZ_ERR(MPMP_EINVAL, mpmp_executor_map_stream(ex, fz_square, NULL, NULL, 8,
                                               8, 0, 0, &it));
  FZ_EQ(0, mpmp_executor_map(ex, fz_square, in, 4, 8, out, 8, 0, 1e300));
  FZ_EQ(0, ex_end(ex));
  FZ_DONE();
}

static void fuzz_future_null(void **state) {
  (void)state;
  const void *data;
  size_t n;
  const char *msg;
  mpmp_as_completed_t *it = NULL;
  mpmp_future_t *f = NULL;
  FZ_ERR(MPMP_EINVAL, mpmp_future_done(NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_future_running(NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_future_cancel(NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_future_cancelled(NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_future_result(NULL, 1, &data, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_future_exception(NULL, 1, &msg));
  FZ_ERR(MPMP_EINVAL, mpmp_future_add_done_callback(NULL, NULL, NULL));
  mpmp_future_destroy(NULL);
  FZ_ERR(MPMP_EINVAL, mpmp_as_completed(NULL, 1, 1, &it));
  FZ_ERR(MPMP_EINVAL, mpmp_as_completed(&f, -1, 1, &it));
  FZ_ERR(MPMP_EINVAL, mpmp_as_completed(&f, INT32_MIN, 1, &it));
  FZ_ERR(MPMP_EINVAL, mpmp_as_completed(&f, 0, 1, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_as_completed_next(NULL, &f));
  mpmp_as_completed_destroy(NULL);
  FZ_ERR(MPMP_EINVAL, mpmp_futures_wait(NULL, 1, MPMP_ALL_COMPLETED, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_futures_wait(&f, -1, MPMP_ALL_COMPLETED, 1));
  FZ_EQ(0, mpmp_futures_wait(NULL, 0, MPMP_ALL_COMPLETED, 1));
  FZ_DONE();
}

static void cb_count(mpmp_async_t *f, int ok, void *user) {
  (void)f, (void)ok;
  (*(int *)user)++;
}

static void fuzz_future_states(void **state) {
  (void)state;
  mpmp_executor_t *ex = ex_new(0);
  mpmp_future_t *f = NULL, *fs[2];
  mpmp_as_completed_t *it = NULL;
  int64_t nap = 600;
  const void *data;
  const char *msg = "unset";
  int calls = 0;
  FZ_EQ(0, mpmp_executor_submit(ex, fz_nap, &nap, 8, &f));
  FZ_ERR(MPMP_EINVAL, mpmp_future_add_done_callback(f, NULL, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_future_result(f, NAN, &data, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_future_exception(f, NAN, &msg));
  FZ_EQ(0, mpmp_future_done(f)); /* NaN did not wait */
  FZ_TIMEOUT(mpmp_future_result(f, -0.0, &data, NULL));
  FZ_TIMEOUT(mpmp_future_exception(f, 0, &msg));
  fs[0] = fs[1] = f;
  FZ_ERR(MPMP_EINVAL, mpmp_as_completed(fs, 1, NAN, &it));
  FZ_ERR(MPMP_EINVAL, mpmp_futures_wait(fs, 1, MPMP_ALL_COMPLETED, NAN));
  FZ_EQ(0, mpmp_future_done(f));
  for (int w = -1; w <= 4; w += 5) /* -1 and 4: no such return_when */
    FZ_ERR(MPMP_EINVAL, mpmp_futures_wait(fs, 1, w, 0));
  FZ_ERR(MPMP_EINVAL, mpmp_futures_wait(fs, 1, 0, 0));
  FZ_EQ(0, mpmp_future_result(f, 30, &data, NULL));
  FZ_EQ(0, mpmp_future_result(f, 0, NULL, NULL));
  FZ_EQ(0, mpmp_future_exception(f, 0, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_future_result(f, NAN, &data, NULL));
  FZ_EQ(1, mpmp_future_done(f));
  FZ_EQ(0, mpmp_future_running(f));
  FZ_EQ(0, mpmp_future_cancel(f)); /* done: too late */
  FZ_EQ(0, mpmp_future_cancelled(f));
  FZ_EQ(0, mpmp_future_add_done_callback(f, cb_count, &calls));
  FZ_TRUE(calls == 1, "a callback added to a done future ran %d times", calls);
  FZ_ERR(MPMP_EINVAL, mpmp_as_completed(fs, 2, NAN, &it));
  FZ_ERR(MPMP_EINVAL, mpmp_futures_wait(fs, 2, MPMP_ALL_COMPLETED, NAN));
  mpmp_future_destroy(f);
  FZ_EQ(0, ex_end(ex));
  FZ_DONE();
}

/* as_completed() over the same future three times yields it once (Python
 * makes a set of them); after the last, MPMP_EEOF every time. */
static void fuzz_as_completed_duplicates(void **state) {
  (void)state;
  mpmp_executor_t *ex = ex_new(0);
  mpmp_future_t *f = NULL, *g = NULL, *fs[3];
  mpmp_as_completed_t *it = NULL;
  int64_t x = 5;
  FZ_EQ(0, mpmp_executor_submit(ex, fz_square, &x, 8, &f));
  fs[0] = fs[1] = fs[2] = f;
  FZ_EQ(0, mpmp_as_completed(fs, 3, 30, &it));
  FZ_ERR(MPMP_EINVAL, mpmp_as_completed_next(it, NULL));
  FZ_EQ(0, mpmp_as_completed_next(it, &g));
  FZ_TRUE(g == f, "as_completed yielded another future");
  FZ_EQ(MPMP_EEOF, mpmp_as_completed_next(it, &g));
  FZ_EQ(MPMP_EEOF, mpmp_as_completed_next(it, &g));
  mpmp_as_completed_destroy(it);
  mpmp_future_destroy(f);
  FZ_EQ(0, ex_end(ex));
  FZ_DONE();
}

/* Occupy every worker with a long task; return a future that is not
 * started yet, and cancelled. */
static mpmp_future_t *cancelled_future(mpmp_executor_t *ex, mpmp_future_t **busy,
                                       int nbusy, int64_t ms) {
  mpmp_future_t *f = NULL;
  int64_t x = 1;
  for (int i = 0; i < nbusy; i++)
    FZ_EQ(0, mpmp_executor_submit(ex, fz_nap, &ms, 8, &busy[i]));
  FZ_EQ(0, mpmp_executor_submit(ex, fz_square, &x, 8, &f));
  FZ_EQ(1, mpmp_future_cancel(f));
  return f;
}

/* FIRST_EXCEPTION: a cancelled future is done, but raised nothing
 * (Python): the wait goes on until a failure or all are done. */
static void fuzz_futures_wait_cancelled(void **state) {
  (void)state;
  int w = mpmp_worker_count();
  mpmp_executor_t *ex = ex_new(0);
  mpmp_future_t **busy = calloc((size_t)w, sizeof *busy), *fs[2];
  fs[0] = cancelled_future(ex, busy, w, 500);
  fs[1] = busy[0];
  FZ_EQ(2, mpmp_futures_wait(fs, 2, MPMP_FIRST_EXCEPTION, 30));
  FZ_EQ(1, mpmp_future_cancelled(fs[0]));
  for (int i = 0; i < w; i++)
    mpmp_future_destroy(busy[i]);
  mpmp_future_destroy(fs[0]);
  free(busy);
  FZ_EQ(0, ex_end(ex));
  FZ_DONE();
}

/* Many finished futures: as_completed() and futures_wait() take time in
 * proportion to them, not to their square (issue 13, defect 8). */
#define MANY 150000
static void fuzz_as_completed_many(void **state) {
  (void)state;
  int w = mpmp_worker_count();
  mpmp_executor_t *ex = ex_new(0);
  mpmp_future_t **busy = calloc((size_t)w, sizeof *busy);
  mpmp_future_t **fs = calloc(MANY, sizeof *fs), *f;
  mpmp_as_completed_t *it = NULL;
  int64_t x = 1;
  int got = 0;
  for (int i = 0; i < w; i++) {
    int64_t ms = 2000;
    FZ_EQ(0, mpmp_executor_submit(ex, fz_nap, &ms, 8, &busy[i]));
  }
  for (int i = 0; i < MANY; i++) {
    if (mpmp_executor_submit(ex, fz_square, &x, 8, &fs[i]) != 0)
      break;
    mpmp_future_cancel(fs[i]); /* not dealt yet: done at once */
  }
  double t0 = test_now();
  FZ_EQ(MANY, mpmp_futures_wait(fs, MANY, MPMP_ALL_COMPLETED, 30));
  FZ_EQ(0, mpmp_as_completed(fs, MANY, 30, &it));
  /* a budget: a linear pass takes milliseconds, a quadratic one minutes */
  while (test_now() - t0 < 5 && mpmp_as_completed_next(it, &f) == 0)
    got++;
  double dt = test_now() - t0;
  FZ_TRUE(got == MANY && dt < 5, "as_completed over %d done futures: %d "
          "yielded in %.1f s", MANY, got, dt);
  mpmp_as_completed_destroy(it);
  for (int i = 0; i < MANY; i++)
    mpmp_future_destroy(fs[i]);
  FZ_EQ(0, mpmp_executor_shutdown(ex, 0, 1));
  for (int i = 0; i < w; i++) { /* stop the long tasks */
    mpmp_future_cancel(busy[i]);
    mpmp_future_destroy(busy[i]);
  }
  free(busy);
  free(fs);
  ex_end(ex);
  FZ_DONE();
}

/* shutdown(wait=0): submissions are refused; the futures run on; a second
 * shutdown(wait=1) frees it. */
static void fuzz_executor_after_shutdown_nowait(void **state) {
  (void)state;
  mpmp_executor_t *ex = ex_new(0);
  mpmp_future_t *f = NULL, *g = NULL;
  mpmp_imap_t *it = NULL;
  int64_t x = 6, in[2] = {1, 2}, out[2];
  FZ_EQ(0, mpmp_executor_submit(ex, fz_square, &x, 8, &f));
  FZ_EQ(0, mpmp_executor_shutdown(ex, 0, 0));
  FZ_ERR(MPMP_EPERM, mpmp_executor_submit(ex, fz_square, &x, 8, &g));
  FZ_ERR(MPMP_EPERM, mpmp_executor_map(ex, fz_square, in, 2, 8, out, 8, 0, 5));
  FZ_ERR(MPMP_EPERM, mpmp_executor_map_stream(ex, fz_square, NULL, NULL, 8, 8,
                                              0, 0, &it));
  FZ_EQ(0, mpmp_executor_shutdown(ex, 0, 0));
  FZ_EQ(0, mpmp_future_result(f, 30, NULL, NULL));
  mpmp_future_destroy(f);
  FZ_EQ(0, ex_end(ex));
  FZ_DONE();
}

/* ---- known crashes (issue 13): last ----------------------------------------- */

/* A NULL among the futures: refused, not dereferenced. */
static void fuzz_futures_null_entry(void **state) {
  (void)state;
  mpmp_executor_t *ex = ex_new(0);
  mpmp_future_t *fs[3] = {NULL, NULL, NULL};
  mpmp_as_completed_t *it = NULL;
  int64_t x = 2;
  FZ_EQ(0, mpmp_executor_submit(ex, fz_square, &x, 8, &fs[0]));
  FZ_ERR(MPMP_EINVAL, mpmp_futures_wait(fs, 2, MPMP_ALL_COMPLETED, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_as_completed(fs, 2, 1, &it));
  if (it != NULL) {
    mpmp_future_t *f;
    FZ_CALL(mpmp_as_completed_next(it, &f), rc);
    (void)rc;
    mpmp_as_completed_destroy(it);
  }
  mpmp_future_destroy(fs[0]);
  FZ_EQ(0, ex_end(ex));
  FZ_DONE();
}

/* An empty map, whatever the element sizes: nothing to do. */
static void fuzz_executor_empty_map(void **state) {
  (void)state;
  mpmp_executor_t *ex = ex_new(0);
  FZ_EQ(0, mpmp_executor_map(ex, fz_square, NULL, 0, 0, NULL, 0, 0, 5));
  FZ_EQ(0, ex_end(ex));
  FZ_DONE();
}

/* After shutdown(wait=1) the header promises MPMP_EPERM for submissions:
 * the executor's memory must not be gone (issue 13, defect 4). */
static void fuzz_executor_after_shutdown_wait(void **state) {
  (void)state;
  mpmp_executor_t *ex = ex_new(0);
  mpmp_future_t *f = NULL, *g = NULL;
  mpmp_imap_t *it = NULL;
  int64_t x = 7, in[2] = {1, 2}, out[2];
  FZ_EQ(0, mpmp_executor_submit(ex, fz_square, &x, 8, &f));
  live_ex = NULL;
  FZ_EQ(0, mpmp_executor_shutdown(ex, 1, 0));
  FZ_EQ(0, mpmp_future_result(f, 30, NULL, NULL)); /* futures stay valid */
  mpmp_future_destroy(f);
  FZ_ERR(MPMP_EPERM, mpmp_executor_submit(ex, fz_square, &x, 8, &g));
  FZ_ERR(MPMP_EPERM, mpmp_executor_map(ex, fz_square, in, 2, 8, out, 8, 0, 5));
  FZ_ERR(MPMP_EPERM, mpmp_executor_map_stream(ex, fz_square, NULL, NULL, 8, 8,
                                              0, 0, &it));
  FZ_ERR(MPMP_EPERM, mpmp_executor_starmap(ex, fz_square, in, 2, 8, out, 8, 0,
                                           5));
  FZ_ERR2(MPMP_EPERM, MPMP_EINVAL,
          mpmp_executor_map_unordered(ex, fz_square, NULL, NULL, 8, 8, 0, 0,
                                      &it));
  const size_t off[3] = {0, 8, 16};
  mpmp_varbuf_t vb = {0};
  FZ_ERR(MPMP_EPERM, mpmp_executor_map_var(ex, fz_square, in, off, 2, 0, 5,
                                           &vb));
  FZ_CALL(mpmp_executor_shutdown(ex, 1, 0), rc);
  FZ_TRUE(rc == 0 || rc == MPMP_EPERM, "a second shutdown: %s",
          mpmp_err_name((int)rc));
  FZ_DONE();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(fuzz_process_null, teardown),
    cmocka_unit_test_teardown(fuzz_process_create_args, teardown),
    cmocka_unit_test_teardown(fuzz_process_states, teardown),
    cmocka_unit_test_teardown(fuzz_process_join_sleeps, teardown),
    cmocka_unit_test_teardown(fuzz_process_busy, teardown),
    cmocka_unit_test_teardown(fuzz_executor_args, teardown),
    cmocka_unit_test_teardown(fuzz_future_null, teardown),
    cmocka_unit_test_teardown(fuzz_future_states, teardown),
    cmocka_unit_test_teardown(fuzz_as_completed_duplicates, teardown),
    cmocka_unit_test_teardown(fuzz_futures_wait_cancelled, teardown),
    cmocka_unit_test_teardown(fuzz_as_completed_many, teardown),
    cmocka_unit_test_teardown(fuzz_executor_after_shutdown_nowait, teardown),
    cmocka_unit_test_teardown(fuzz_futures_null_entry, teardown),
    cmocka_unit_test_teardown(fuzz_executor_empty_map, teardown),
    cmocka_unit_test_teardown(fuzz_executor_after_shutdown_wait, teardown),
};

MPMP_TEST_MAIN(tests)
