/* Nested parallelism: tasks that submit sub-tasks to an executor of the
 * main rank by ref (mpmp_executor_ref/attach) and wait on them. The pool
 * of one worker is the deadlock case: its one task waits on its own
 * sub-tasks, which that worker must run in its wait. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "mpitest.h"

typedef struct fib_arg {
  mpmp_executor_ref_t ref;
  int64_t n;
} fib_arg_t;

static int fib(mpmp_ctx_t *ctx);

/* fib(n) = fib(n - 1) + fib(n - 2), each a sub-task, waited on here. */
static int fib(mpmp_ctx_t *ctx) {
  const fib_arg_t *a = mpmp_arg(ctx, NULL);
  int64_t r = a->n;
  if (a->n >= 2) {
    mpmp_executor_t *ex;
    mpmp_future_t *f[2];
    if (mpmp_executor_attach(&ex, a->ref) < 0)
      return mpmp_fail(ctx, "attach: %s", mpmp_errmsg());
    r = 0;
    for (int k = 0; k < 2; k++) {
      fib_arg_t sub = {a->ref, a->n - 1 - k};
      if (mpmp_executor_submit(ex, fib, &sub, sizeof sub, &f[k]) < 0)
        return mpmp_fail(ctx, "submit: %s", mpmp_errmsg());
    }
    for (int k = 0; k < 2; k++) {
      const int64_t *v;
      size_t size;
      if (mpmp_future_result(f[k], 60, (const void **)&v, &size) < 0)
        return mpmp_fail(ctx, "fib(%lld): %s", (long long)(a->n - 1 - k),
                         mpmp_errmsg());
      r += *v;
      mpmp_future_destroy(f[k]);
    }
    mpmp_executor_destroy(ex);
  }
  *(int64_t *)mpmp_out(ctx, sizeof r) = r;
  return 0;
}
MPMP_TASK(fib);

static int64_t fib_ref(int64_t n) { return n < 2 ? n : fib_ref(n - 1) + fib_ref(n - 2); }

static int workers(void) {
  int size;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size - 1;
}

static mpmp_executor_t *executor(int n) {
  mpmp_executor_t *ex = NULL;
  mpmp_executor_opts_t o = {.max_workers = n, .isolate = MPMP_ISOLATE_NEVER};
  assert_int_equal(mpmp_executor_create(&ex, &o), 0);
  return ex;
}

static void run_fib(int nworkers, int64_t n) {
  mpmp_executor_t *ex = executor(nworkers);
  fib_arg_t a = {.n = n};
  assert_int_equal(mpmp_executor_ref(ex, &a.ref), 0);
  mpmp_future_t *f;
  assert_int_equal(mpmp_executor_submit(ex, fib, &a, sizeof a, &f), 0);
  const int64_t *v;
  size_t size;
  int rc = mpmp_future_result(f, 60, (const void **)&v, &size);
  if (rc < 0)
    fail_msg("fib(%lld) on %d workers: %s", (long long)n, nworkers,
             mpmp_errmsg());
  assert_int_equal(size, sizeof *v);
  assert_int_equal(*v, fib_ref(n));
  mpmp_future_destroy(f);
  assert_int_equal(mpmp_executor_destroy(ex), 0);
}

/* The deadlock case: one worker, whose every task waits on sub-tasks that
 * only it can run (depth 8). */
static void nested_fib_one_worker(void **state) {
  (void)state;
  run_fib(1, 8);
}

static void nested_fib_three_workers(void **state) {
  (void)state;
  if (workers() < 3)
    skip();
  run_fib(3, 10);
}

/* ---- a sub-task's failure ---------------------------------------------------- */

static int child_fails(mpmp_ctx_t *ctx) {
  return mpmp_fail(ctx, "child says %d", *(const int *)mpmp_arg(ctx, NULL));
}
MPMP_TASK(child_fails);

static int parent_of_failure(mpmp_ctx_t *ctx) {
  const mpmp_executor_ref_t *ref = mpmp_arg(ctx, NULL);
  mpmp_executor_t *ex;
  mpmp_future_t *f;
  int x = 42;
  const char *msg = NULL;
  if (mpmp_executor_attach(&ex, *ref) < 0 ||
      mpmp_executor_submit(ex, child_fails, &x, sizeof x, &f) < 0)
    return mpmp_fail(ctx, "attach/submit: %s", mpmp_errmsg());
  int rc = mpmp_future_result(f, 30, NULL, NULL);
  if (rc != MPMP_ETASK || strstr(mpmp_errmsg(), "child says 42") == NULL)
    return mpmp_fail(ctx, "result: %d (%s), not ETASK", rc, mpmp_errmsg());
  if (mpmp_future_exception(f, 30, &msg) < 0 || msg == NULL ||
      mpmp_future_done(f) != 1)
    return mpmp_fail(ctx, "exception: no message");
  mpmp_fail(ctx, "parent saw: %s", msg);
  mpmp_future_destroy(f);
  mpmp_executor_destroy(ex);
  return -1;
}
MPMP_TASK(parent_of_failure);

static void nested_failure_reaches_parent(void **state) {
  (void)state;
  mpmp_executor_t *ex = executor(1);
  mpmp_executor_ref_t ref;
  mpmp_future_t *f;
  const char *msg = NULL;
  assert_int_equal(mpmp_executor_ref(ex, &ref), 0);
  assert_int_equal(mpmp_executor_submit(ex, parent_of_failure, &ref, sizeof ref, &f), 0);
  assert_int_equal(mpmp_future_result(f, 30, NULL, NULL), MPMP_ETASK);
  assert_int_equal(mpmp_future_exception(f, 30, &msg), 0);
  assert_non_null(msg);
  assert_non_null(strstr(msg, "parent saw: child says 42"));
  mpmp_future_destroy(f);
  assert_int_equal(mpmp_executor_destroy(ex), 0);
}

/* ---- misuse inside a task ------------------------------------------------------ */

static int nap(mpmp_ctx_t *ctx) {
  test_sleep(*(const double *)mpmp_arg(ctx, NULL));
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = 7;
  return 0;
}
MPMP_TASK(nap);

#define CHECK(cond) \
  do { if (!(cond)) return mpmp_fail(ctx, "line %d: %s (%s)", __LINE__, #cond, mpmp_errmsg()); } while (0)

static int misuse_in_task(mpmp_ctx_t *ctx) {
  const mpmp_executor_ref_t *ref = mpmp_arg(ctx, NULL);
  mpmp_executor_ref_t zero = {0}, garbage = *ref;
  mpmp_executor_t *ex = (void *)1;
  mpmp_future_t *f;
  garbage.magic ^= 1;
  CHECK(mpmp_executor_attach(&ex, zero) == MPMP_EINVAL && ex == NULL);
  CHECK(mpmp_executor_attach(&ex, garbage) == MPMP_EINVAL);
  CHECK(mpmp_executor_attach(NULL, *ref) == MPMP_EINVAL);
  CHECK(mpmp_executor_attach(&ex, *ref) == 0);
  mpmp_process_t *p;
  CHECK(mpmp_process_create(&p, nap, NULL, 0, NULL) == MPMP_ENOTMAIN &&
        strstr(mpmp_errmsg(), "executor ref") != NULL);
  /* the main rank's calls stay its own */
  int64_t in = 1, out;
  CHECK(mpmp_executor_map(ex, nap, &in, 1, sizeof in, &out, sizeof out, 0, 1) == MPMP_ENOTSUP);
  CHECK(mpmp_executor_submit(ex, nap, NULL, 8, &f) == MPMP_EINVAL);
  CHECK(mpmp_executor_submit(ex, nap, &in, sizeof in, NULL) == MPMP_EINVAL);
  double t = 0.5;
  CHECK(mpmp_executor_submit(ex, nap, &t, sizeof t, &f) == 0);
  CHECK(mpmp_future_result(f, NAN, NULL, NULL) == MPMP_EINVAL);
  /* A timed wait either runs the nap itself (this worker's slot is back
   * while it waits) and returns its result once it is over, or times out
   * in time while another worker runs it. It used to say "timed out"
   * after running the nap to its end, the sub-task done by then. */
  double t0 = test_now();
  int rc = mpmp_future_result(f, 0.05, NULL, NULL);
  double took = test_now() - t0;
  CHECK(rc == 0 || rc == MPMP_ETIMEDOUT);
  CHECK(rc == 0 ? took >= 0.4 && mpmp_future_done(f) == 1 : took < 0.4);
  CHECK(mpmp_future_exception(f, NAN, NULL) == MPMP_EINVAL);
  const int64_t *v;
  CHECK(mpmp_future_result(f, -1, (const void **)&v, NULL) == 0 && *v == 7);
  CHECK(mpmp_future_done(f) == 1 && mpmp_future_cancel(f) == 0);
  mpmp_future_destroy(f);
  /* a future destroyed before its answer: nothing left behind */
  CHECK(mpmp_executor_submit(ex, nap, &t, sizeof t, &f) == 0);
  mpmp_future_destroy(f);
  /* the proxy's shutdown stops its own submissions only */
  CHECK(mpmp_executor_shutdown(ex, 1, 0) == 0);
  CHECK(mpmp_executor_submit(ex, nap, &t, sizeof t, &f) == MPMP_EPERM);
  CHECK(mpmp_executor_destroy(ex) == 0);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = 1;
  return 0;
}
MPMP_TASK(misuse_in_task);

static void nested_misuse_in_task(void **state) {
  (void)state;
  mpmp_executor_t *ex = executor(workers() >= 2 ? 2 : 1);
  mpmp_executor_ref_t ref;
  mpmp_future_t *f;
  assert_int_equal(mpmp_executor_ref(ex, &ref), 0);
  assert_int_equal(mpmp_executor_submit(ex, misuse_in_task, &ref, sizeof ref, &f), 0);
  if (mpmp_future_result(f, 30, NULL, NULL) < 0)
    fail_msg("%s", mpmp_errmsg());
  mpmp_future_destroy(f);
  assert_int_equal(mpmp_executor_destroy(ex), 0);
}

/* A task that submits through a ref and returns what the sub-task's
 * result said (its code). */
static int submit_via(mpmp_ctx_t *ctx) {
  const mpmp_executor_ref_t *ref = mpmp_arg(ctx, NULL);
  mpmp_executor_t *ex;
  mpmp_future_t *f;
  double t = 0;
  int64_t rc = mpmp_executor_attach(&ex, *ref);
  if (rc == 0 && (rc = mpmp_executor_submit(ex, nap, &t, sizeof t, &f)) == 0) {
    rc = mpmp_future_result(f, 30, NULL, NULL);
    mpmp_future_destroy(f);
  }
  if (rc == 0 || rc == MPMP_ENOTSUP)
    mpmp_executor_destroy(ex);
  *(int64_t *)mpmp_out(ctx, sizeof rc) = rc;
  return 0;
}
MPMP_TASK(submit_via);

static int64_t run_submit_via(mpmp_executor_t *runner, mpmp_executor_ref_t ref) {
  mpmp_future_t *f;
  const int64_t *v;
  assert_int_equal(mpmp_executor_submit(runner, submit_via, &ref, sizeof ref, &f), 0);
  if (mpmp_future_result(f, 30, (const void **)&v, NULL) < 0)
    fail_msg("%s", mpmp_errmsg());
  int64_t rc = *v;
  mpmp_future_destroy(f);
  return rc;
}

/* A ref outlives its executor: shut down, then destroyed. */
static void nested_ref_after_shutdown_and_destroy(void **state) {
  (void)state;
  if (workers() < 2)
    skip();
  mpmp_executor_t *target = executor(1), *runner = executor(1);
  mpmp_executor_ref_t ref;
  assert_int_equal(mpmp_executor_ref(NULL, &ref), MPMP_EINVAL);
  assert_int_equal(mpmp_executor_ref(target, NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_executor_ref(target, &ref), 0);
  assert_int_equal(run_submit_via(runner, ref), 0);
  assert_int_equal(mpmp_executor_shutdown(target, 1, 0), 0);
  assert_int_equal(mpmp_executor_ref(target, &ref), MPMP_EPERM);
  assert_int_equal(run_submit_via(runner, ref), MPMP_EPERM);
  assert_int_equal(mpmp_executor_destroy(target), 0);
  assert_int_equal(run_submit_via(runner, ref), MPMP_EBADF);
  assert_int_equal(mpmp_executor_destroy(runner), 0);
}

/* On the main rank, attach gives a proxy whose futures are plain ones. */
static void nested_attach_on_main(void **state) {
  (void)state;
  mpmp_executor_t *ex = executor(1), *proxy = NULL;
  mpmp_executor_ref_t ref, zero = {0};
  mpmp_future_t *f;
  double t = 0;
  const int64_t *v;
  assert_int_equal(mpmp_executor_ref(ex, &ref), 0);
  assert_int_equal(mpmp_executor_attach(&proxy, zero), MPMP_EINVAL);
  assert_int_equal(mpmp_executor_attach(&proxy, ref), 0);
  assert_int_equal(mpmp_executor_submit(proxy, nap, &t, sizeof t, &f), 0);
  assert_int_equal(mpmp_future_result(f, 30, (const void **)&v, NULL), 0);
  assert_int_equal(*v, 7);
  mpmp_future_destroy(f);
  assert_int_equal(mpmp_executor_destroy(proxy), 0);
  assert_int_equal(mpmp_executor_submit(ex, nap, &t, sizeof t, &f), 0);
  assert_int_equal(mpmp_future_result(f, 30, NULL, NULL), 0);
  mpmp_future_destroy(f);
  assert_int_equal(mpmp_executor_destroy(ex), 0);
}

/* A task in a task host cannot submit: ENOTSUP, naming the setting. */
static void nested_refused_in_task_host(void **state) {
  (void)state;
  const char *iso = getenv("MPMP_ISOLATE");
  if (workers() < 2 || (iso != NULL && strcmp(iso, "never") == 0))
    skip();
  mpmp_executor_t *target = executor(1), *runner = NULL;
  mpmp_executor_opts_t o = {.max_workers = 1, .isolate = MPMP_ISOLATE_ALWAYS};
  assert_int_equal(mpmp_executor_create(&runner, &o), 0);
  mpmp_executor_ref_t ref;
  assert_int_equal(mpmp_executor_ref(target, &ref), 0);
  assert_int_equal(run_submit_via(runner, ref), MPMP_ENOTSUP);
  assert_int_equal(mpmp_executor_destroy(runner), 0);
  assert_int_equal(mpmp_executor_destroy(target), 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(nested_fib_one_worker),
    cmocka_unit_test(nested_fib_three_workers),
    cmocka_unit_test(nested_failure_reaches_parent),
    cmocka_unit_test(nested_misuse_in_task),
    cmocka_unit_test(nested_ref_after_shutdown_and_destroy),
    cmocka_unit_test(nested_attach_on_main),
    cmocka_unit_test(nested_refused_in_task_host),
};
MPMP_TEST_MAIN(tests)
