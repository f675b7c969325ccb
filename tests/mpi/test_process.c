/* Process on worker ranks: the tutorials' Process examples and every
 * state, timeout and error. Runs on 1 node and on 2 pseudo-nodes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mpitest.h"

/* worker(name, count) of the tutorial: prints "name: i" count times. */
typedef struct { char name[32]; int count; } print_args_t;
static int print_worker(mpmp_ctx_t *ctx) {
  const print_args_t *a = mpmp_arg(ctx, NULL);
  for (int i = 0; i < a->count; i++)
    printf("%s: %d\n", a->name, i);
  fflush(stdout);
  return 0;
}
MPMP_TASK(print_worker);

static int sum_squares(mpmp_ctx_t *ctx) {
  const int64_t *n = mpmp_arg(ctx, NULL);
  int64_t *s = mpmp_out(ctx, sizeof *s);
  *s = 0;
  for (int64_t i = 1; i <= *n; i++)
    *s += i * i;
  return 0;
}
MPMP_TASK(sum_squares);

static int whoami(mpmp_ctx_t *ctx) {
  mpmp_process_info_t *info = mpmp_out(ctx, sizeof *info);
  return mpmp_current_process(info);
}
MPMP_TASK(whoami);

/* whoami, then busy until terminated: all of them run at once. */
static int whoami_until_stopped(mpmp_ctx_t *ctx) {
  int rc = whoami(ctx);
  while (!mpmp_should_stop(ctx))
    test_sleep(0.001);
  return rc;
}
MPMP_TASK(whoami_until_stopped);

static int sleeper(mpmp_ctx_t *ctx) {
  const double *s = mpmp_arg(ctx, NULL);
  test_sleep(*s);
  return 0;
}
MPMP_TASK(sleeper);

/* CPU seconds of this whole process (every thread) so far. */
static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Sleeps 0.5 s and hands back the CPU time its rank used meanwhile: the
 * rank's agent has nothing to do but sleep. */
static int sleep_cpu(mpmp_ctx_t *ctx) {
  double *cpu = mpmp_out(ctx, sizeof *cpu), c0 = cpu_now();
  test_sleep(0.5);
  *cpu = cpu_now() - c0;
  return 0;
}
MPMP_TASK(sleep_cpu);

static int until_stopped(mpmp_ctx_t *ctx) {
  double end = test_now() + 30; /* a safety net, never reached in a pass */
  while (!mpmp_should_stop(ctx) && test_now() < end)
    test_sleep(0.001);
  return 0;
}
MPMP_TASK(until_stopped);

static int failing(mpmp_ctx_t *ctx) {
  return mpmp_fail(ctx, "bad input %d", 42);
}
MPMP_TASK(failing);

static int returns_seven(mpmp_ctx_t *ctx) { (void)ctx; return 7; }
MPMP_TASK(returns_seven);

static int returns_negative(mpmp_ctx_t *ctx) { (void)ctx; return -5; }
MPMP_TASK(returns_negative);

static int checksum(mpmp_ctx_t *ctx) {
  size_t n;
  const unsigned char *b = mpmp_arg(ctx, &n);
  uint64_t *sum = mpmp_out(ctx, sizeof *sum);
  *sum = 0;
  for (size_t i = 0; i < n; i++)
    *sum = *sum * 31 + b[i];
  return 0;
}
MPMP_TASK(checksum);

static int oversized_result(mpmp_ctx_t *ctx) {
  void *p = mpmp_out(ctx, 1 << 20);
  return p ? 0 : MPMP_ETASK;
}
MPMP_TASK(oversized_result);

/* Extern on purpose: dladdr names exported functions only (static ones are
 * reported by address). */
int not_registered(mpmp_ctx_t *ctx);
int not_registered(mpmp_ctx_t *ctx) { (void)ctx; return 0; }


static int join_code(mpmp_process_t *p) {
  int code = -999;
  assert_int_equal(mpmp_process_join(p, 30), 0);
  assert_int_equal(mpmp_process_exitcode(p, &code), 0);
  return code;
}

static void process_two_printing_workers(void **state) {
  (void)state;
  print_args_t a = {"Process-1", 5}, b = {"Process-2", 5};
  mpmp_process_t *p1 = start_process(print_worker, &a, sizeof a);
  mpmp_process_t *p2 = mpmp_worker_count() > 1 ? start_process(print_worker, &b, sizeof b) : NULL;
  assert_int_equal(join_code(p1), 0);
  if (p2)
    assert_int_equal(join_code(p2), 0);
  mpmp_process_destroy(p1);
  mpmp_process_destroy(p2);
}

static void process_sum_of_squares_handed_back(void **state) {
  (void)state;
  int64_t n = 9;
  const int64_t *sum;
  size_t size = 0;
  mpmp_process_t *p = start_process(sum_squares, &n, sizeof n);
  assert_int_equal(join_code(p), 0);
  assert_int_equal(mpmp_process_result(p, (const void **)&sum, &size), 0);
  assert_int_equal(size, sizeof *sum);
  assert_int_equal(*sum, 285);
  mpmp_process_destroy(p);
}

/* Every worker runs one body; each knows its own name, pid, rank, node. */
static void process_many_started_and_joined(void **state) {
  (void)state;
  int n = mpmp_worker_count();
  mpmp_process_t **ps = calloc((size_t)n, sizeof *ps);
  for (int i = 0; i < n; i++)
    ps[i] = start_process(whoami_until_stopped, NULL, 0);
  assert_int_equal(mpmp_active_children(NULL, 0), n);
  for (int i = 0; i < n; i++)
    assert_int_equal(mpmp_process_terminate(ps[i]), 0);
  for (int i = 0; i < n; i++) {
    const mpmp_process_info_t *info;
    assert_int_equal(join_code(ps[i]), MPMP_EXIT_TERMINATED);
    assert_int_equal(mpmp_process_result(ps[i], (const void **)&info, NULL), 0);
    assert_string_equal(info->name, mpmp_process_name(ps[i]));
    assert_int_equal(info->pid, mpmp_process_pid(ps[i]));
    assert_int_equal(info->rank, mpmp_process_rank(ps[i]));
    assert_string_equal(info->node, mpmp_process_node(ps[i]));
    assert_true(info->rank >= 1 && info->rank < mpmp_world_size());
    for (int j = 0; j < i; j++) /* a distinct rank and process for each */
      assert_int_not_equal(mpmp_process_rank(ps[j]), info->rank);
  }
  for (int i = 0; i < n; i++)
    mpmp_process_destroy(ps[i]);
  free(ps);
}

static void process_join_timeout_then_join(void **state) {
  (void)state;
  double secs = 0.6;
  int code;
  mpmp_process_t *p = start_process(sleeper, &secs, sizeof secs);
  double t0 = test_now();
  assert_int_equal(mpmp_process_join(p, 0.1), MPMP_ETIMEDOUT);
  double waited = test_now() - t0;
  assert_true(waited >= 0.09 && waited < 0.5);
  assert_int_equal(mpmp_process_is_alive(p), 1);
  assert_int_equal(mpmp_process_exitcode(p, &code), MPMP_EAGAIN);
  assert_int_equal(mpmp_process_join(p, 0), MPMP_ETIMEDOUT);
  assert_int_equal(join_code(p), 0);
  assert_int_equal(mpmp_process_is_alive(p), 0);
  mpmp_process_destroy(p);
}

/*
 * Blocked and idle ranks sleep: the main rank blocked in join on a body
 * that sleeps 0.5 s, and the worker running it (its agent serves
 * messages meanwhile), each use well under a tenth of a core. Waits poll
 * for MPMP_SPIN_US (50 us) before they sleep, and decide at run time
 * whether to yield; neither may turn into spinning while nothing comes.
 */
static void process_blocked_ranks_sleep(void **state) {
  (void)state;
  double c0 = cpu_now(), worker_cpu = -1;
  const void *data = NULL;
  size_t size = 0;
  mpmp_process_t *p = start_process(sleep_cpu, NULL, 0);
  assert_int_equal(join_code(p), 0);
  double main_cpu = cpu_now() - c0;
  assert_int_equal(mpmp_process_result(p, &data, &size), 0);
  assert_int_equal(size, sizeof worker_cpu);
  memcpy(&worker_cpu, data, sizeof worker_cpu);
  mpmp_process_destroy(p);
  assert_true(main_cpu >= 0 && main_cpu < 0.05);
  assert_true(worker_cpu >= 0 && worker_cpu < 0.05);
}

static void process_failure_has_exitcode_and_message(void **state) {
  (void)state;
  mpmp_process_t *p = start_process(failing, NULL, 0);
  assert_int_equal(join_code(p), MPMP_EXIT_FAILED);
  assert_string_equal(mpmp_process_errmsg(p), "bad input 42");
  mpmp_process_destroy(p);
  p = start_process(returns_negative, NULL, 0);
  assert_int_equal(join_code(p), MPMP_EXIT_FAILED);
  assert_non_null(strstr(mpmp_process_errmsg(p), "returns_negative"));
  mpmp_process_destroy(p);
  p = start_process(returns_seven, NULL, 0);
  assert_int_equal(join_code(p), 7);
  assert_string_equal(mpmp_process_errmsg(p), "");
  mpmp_process_destroy(p);
}

static void process_terminate_stops_polling_body(void **state) {
  (void)state;
  mpmp_process_t *p = start_process(until_stopped, NULL, 0);
  test_sleep(0.05); /* let it start computing */
  assert_int_equal(mpmp_process_is_alive(p), 1);
  double t0 = test_now();
  assert_int_equal(mpmp_process_terminate(p), 0);
  assert_int_equal(mpmp_process_join(p, 5), 0);
  assert_true(test_now() - t0 < 1.0);
  assert_int_equal(join_code(p), MPMP_EXIT_TERMINATED);
  assert_int_equal(mpmp_process_terminate(p), 0); /* ended: a no-op */
  mpmp_process_destroy(p);
}

static void process_more_than_workers_is_busy(void **state) {
  (void)state;
  int n = mpmp_worker_count();
  mpmp_process_t **ps = calloc((size_t)n, sizeof *ps), *extra = NULL;
  for (int i = 0; i < n; i++)
    ps[i] = start_process(until_stopped, NULL, 0);
  assert_int_equal(mpmp_active_children(NULL, 0), n);
  assert_int_equal(mpmp_process_create(&extra, until_stopped, NULL, 0, NULL), 0);
  assert_int_equal(mpmp_process_start(extra), MPMP_EBUSY);
  assert_non_null(strstr(mpmp_errmsg(), "mpirun -n"));
  for (int i = 0; i < n; i++)
    mpmp_process_terminate(ps[i]);
  for (int i = 0; i < n; i++) {
    assert_int_equal(join_code(ps[i]), MPMP_EXIT_TERMINATED);
    mpmp_process_destroy(ps[i]);
  }
  assert_int_equal(mpmp_active_children(NULL, 0), 0);
  assert_int_equal(mpmp_process_start(extra), 0); /* a rank is free now */
  mpmp_process_terminate(extra);
  assert_int_equal(join_code(extra), MPMP_EXIT_TERMINATED);
  mpmp_process_destroy(extra);
  free(ps);
}

static void process_unregistered_function_is_named(void **state) {
  (void)state;
  mpmp_process_t *p = NULL;
  assert_int_equal(mpmp_process_create(&p, not_registered, NULL, 0, NULL),
                   MPMP_ENOTASK);
  assert_null(p);
  assert_non_null(strstr(mpmp_errmsg(), "not_registered"));
  assert_non_null(strstr(mpmp_errmsg(), "MPMP_TASK"));
}

static void process_state_errors(void **state) {
  (void)state;
  mpmp_process_t *p = NULL;
  int code;
  assert_int_equal(mpmp_process_create(NULL, whoami, NULL, 0, NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_process_create(&p, whoami, NULL, 4, NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_process_create(&p, whoami, NULL, 0, NULL), 0);
  assert_int_equal(mpmp_process_join(p, 1), MPMP_EPERM);
  assert_int_equal(mpmp_process_exitcode(p, &code), MPMP_EPERM);
  assert_int_equal(mpmp_process_is_alive(p), 0);
  assert_int_equal(mpmp_process_pid(p), 0);
  assert_int_equal(mpmp_process_rank(p), -1);
  assert_int_equal(mpmp_process_set_daemon(p, 1), 0);
  assert_int_equal(mpmp_process_daemon(p), 1);
  assert_int_equal(mpmp_process_set_daemon(p, 0), 0);
  assert_int_equal(mpmp_process_start(p), 0);
  assert_int_equal(mpmp_process_start(p), MPMP_EPERM);
  assert_int_equal(mpmp_process_set_daemon(p, 1), MPMP_EPERM);
  assert_int_equal(join_code(p), 0);
  assert_int_equal(mpmp_process_destroy(p), 0);
  assert_int_equal(mpmp_process_join(NULL, 1), MPMP_EINVAL);
  assert_int_equal(mpmp_process_start(NULL), MPMP_EINVAL);
}

static void process_destroy_while_running_refused(void **state) {
  (void)state;
  mpmp_process_t *p = start_process(until_stopped, NULL, 0);
  assert_int_equal(mpmp_process_destroy(p), MPMP_EPERM);
  assert_non_null(strstr(mpmp_errmsg(), "join"));
  mpmp_process_terminate(p);
  assert_int_equal(join_code(p), MPMP_EXIT_TERMINATED);
  assert_int_equal(mpmp_process_destroy(p), 0);
}

static void process_names_and_current_process(void **state) {
  (void)state;
  mpmp_process_opts_t o = {.name = "Alice"};
  mpmp_process_t *p = NULL;
  mpmp_process_info_t me;
  const mpmp_process_info_t *info;
  assert_int_equal(mpmp_current_process(&me), 0);
  assert_string_equal(me.name, "MainProcess");
  assert_int_equal(me.rank, 0);
  assert_int_equal(mpmp_process_create(&p, whoami, NULL, 0, &o), 0);
  assert_string_equal(mpmp_process_name(p), "Alice");
  assert_int_equal(mpmp_process_start(p), 0);
  assert_int_equal(join_code(p), 0);
  assert_int_equal(mpmp_process_result(p, (const void **)&info, NULL), 0);
  assert_string_equal(info->name, "Alice");
  assert_int_not_equal(info->pid, me.pid);
  mpmp_process_destroy(p);
}

/* The argument is copied at create; 8 MiB travels intact. */
static void process_large_argument_copied(void **state) {
  (void)state;
  size_t n = 8u << 20;
  unsigned char *buf = malloc(n);
  uint64_t expect = 0;
  const uint64_t *got;
  for (size_t i = 0; i < n; i++) {
    buf[i] = (unsigned char)(i * 7 + 3);
    expect = expect * 31 + buf[i];
  }
  mpmp_process_t *p = NULL;
  assert_int_equal(mpmp_process_create(&p, checksum, buf, n, NULL), 0);
  memset(buf, 0, n); /* the process keeps its own copy */
  assert_int_equal(mpmp_process_start(p), 0);
  assert_int_equal(join_code(p), 0);
  assert_int_equal(mpmp_process_result(p, (const void **)&got, NULL), 0);
  assert_true(*got == expect);
  mpmp_process_destroy(p);
  free(buf);
}

static void process_result_over_limit_fails_clearly(void **state) {
  (void)state;
  mpmp_process_t *p = start_process(oversized_result, NULL, 0);
  assert_int_equal(join_code(p), MPMP_EXIT_FAILED);
  assert_non_null(strstr(mpmp_process_errmsg(p), "exceeds"));
  mpmp_process_destroy(p);
}

/* join(p, 0) in a done-callback looks, as is_alive and a 0 s
 * mpmp_conn_wait on its sentinel do there (it was refused as a wait that
 * could never end). Needs a worker for the pool and one for the process. */
static mpmp_process_t *cb_proc;
static int cb_join = 1, cb_alive = -1;
static void join_zero_cb(mpmp_async_t *res, int ok, void *user) {
  (void)res, (void)ok, (void)user;
  cb_alive = mpmp_process_is_alive(cb_proc);
  cb_join = mpmp_process_join(cb_proc, 0);
}
static void process_join_zero_in_callback_looks(void **state) {
  (void)state;
  if (mpmp_world_size() < 3)
    skip();
  double secs = 1.0;
  cb_proc = start_process(sleeper, &secs, sizeof secs);
  mpmp_pool_opts_t o = {.processes = 1};
  mpmp_pool_t *pool;
  assert_int_equal(mpmp_pool_create(&pool, &o), 0);
  mpmp_async_t *a;
  int x = 1;
  assert_int_equal(mpmp_pool_apply_async(pool, returns_seven, &x, sizeof x,
                                         join_zero_cb, NULL, &a), 0);
  assert_int_equal(mpmp_async_get(a, T_OUT), 0);
  assert_int_equal(cb_alive, 1);
  assert_int_equal(cb_join, MPMP_ETIMEDOUT);
  mpmp_async_destroy(a);
  assert_int_equal(mpmp_pool_destroy(pool), 0);
  assert_int_equal(join_code(cb_proc), 0);
  mpmp_process_destroy(cb_proc);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(process_two_printing_workers),
    cmocka_unit_test(process_sum_of_squares_handed_back),
    cmocka_unit_test(process_many_started_and_joined),
    cmocka_unit_test(process_join_timeout_then_join),
    cmocka_unit_test(process_blocked_ranks_sleep),
    cmocka_unit_test(process_failure_has_exitcode_and_message),
    cmocka_unit_test(process_terminate_stops_polling_body),
    cmocka_unit_test(process_more_than_workers_is_busy),
    cmocka_unit_test(process_unregistered_function_is_named),
    cmocka_unit_test(process_state_errors),
    cmocka_unit_test(process_destroy_while_running_refused),
    cmocka_unit_test(process_names_and_current_process),
    cmocka_unit_test(process_large_argument_copied),
    cmocka_unit_test(process_result_over_limit_fails_clearly),
    cmocka_unit_test(process_join_zero_in_callback_looks),
};
MPMP_TEST_MAIN(tests)
