/*
 * Python (tutorial "Python Multiprocessing", Handling Exceptions):
 *
 *   def may_fail(x):
 *       if x == 5:
 *           raise ValueError("Can't process 5")
 *       return x ** 2
 *
 *   with ProcessPoolExecutor() as executor:
 *       futures = [executor.submit(may_fail, i) for i in range(10)]
 *       for future in futures:
 *           try:
 *               result = future.result()
 *               print(f"Result: {result}")
 *           except Exception as e:
 *               print(f"Failed: {e}")
 *
 * Raising is `return mpmp_fail(ctx, ...)`: future.result() then returns
 * MPMP_ETASK and the future's exception is the message. Each result also
 * carries the rank that computed it, so the program can tell how many
 * workers shared the items.
 *
 *   mpirun -n 4 build/apps/examples/executor_exceptions
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <mpmp.h>

typedef struct {
  long value;    /* x ** 2 */
  int rank, pid; /* who computed it */
} result_t;

static int may_fail(mpmp_ctx_t *ctx) {
  const long *x = mpmp_arg(ctx, NULL);
  if (*x == 5)
    return mpmp_fail(ctx, "Can't process 5"); /* raise ValueError(...) */
  result_t *r = mpmp_out(ctx, sizeof *r);
  *r = (result_t){*x * *x, mpmp_rank(), (int)getpid()};
  return 0;
}
MPMP_TASK(may_fail);

static void check(int rc, const char *what) {
  if (rc < 0) {
    if (!mpmp_is_main()) /* init failed on every rank: rank 0 says so; */
      exit(0);           /* the others end quietly (exit 1 could end the
                            job before its message is out) */
    fprintf(stderr, "%s failed: %s\n", what, mpmp_errmsg());
    exit(1);
  }
}

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  check(rc, "mpmp_init");

  enum { N = 10 };
  mpmp_executor_t *executor;
  mpmp_future_t *futures[N];
  int ranks[N] = {0};
  check(mpmp_executor_create(&executor, NULL), "ProcessPoolExecutor()");
  for (long i = 0; i < N; i++)
    check(mpmp_executor_submit(executor, may_fail, &i, sizeof i, &futures[i]),
          "executor.submit");

  for (int i = 0; i < N; i++) {
    const result_t *result;
    const char *e;
    rc = mpmp_future_result(futures[i], MPMP_FOREVER, (const void **)&result,
                            NULL);
    if (rc == 0) {
      printf("Result: %ld\n", result->value);
      ranks[i] = result->rank;
    } else if (rc == MPMP_ETASK) { /* except Exception as e: */
      check(mpmp_future_exception(futures[i], 0, &e), "future.exception");
      printf("Failed: %s\n", e);
    } else {
      check(rc, "future.result");
    }
  }
  check(mpmp_executor_destroy(executor), "leaving the with block");
  for (int i = 0; i < N; i++)
    mpmp_future_destroy(futures[i]);

  int used = 0;
  for (int i = 0; i < N; i++) { /* ranks not seen in an earlier result */
    int seen = 0;
    for (int k = 0; k < i; k++)
      seen |= ranks[k] == ranks[i];
    used += !seen && ranks[i] > 0;
  }
  printf("items were computed by %d different ranks\n", used);
  return mpmp_finalize() < 0;
}
