/*
 * Python (tutorial "Python Multiprocessing", ProcessPoolExecutor, Submit
 * and Futures):
 *
 *   def process_item(item):
 *       return item ** 2
 *
 *   with ProcessPoolExecutor() as executor:
 *       futures = {executor.submit(process_item, i): i for i in range(10)}
 *       for future in as_completed(futures):
 *           item = futures[future]
 *           result = future.result()
 *           print(f"{item}{result}")
 *
 * The tutorial's f-string lost a character between item and result (an
 * arrow, by all appearances); this prints "3 -> 9". The futures come
 * in the order they finish, which varies from run to run, so at the end the
 * program also prints all results by item, and how many workers computed
 * them (each result carries its rank). The dict futures -> item is the
 * index of the future in fs[].
 *
 *   mpirun -n 4 build/apps/examples/executor_as_completed
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <mpmp.h>

typedef struct {
  long value;    /* item ** 2 */
  int rank, pid; /* who computed it */
} result_t;

static int process_item(mpmp_ctx_t *ctx) {
  const long *item = mpmp_arg(ctx, NULL);
  result_t *r = mpmp_out(ctx, sizeof *r);
  *r = (result_t){*item * *item, mpmp_rank(), (int)getpid()};
  return 0;
}
MPMP_TASK(process_item);

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
  mpmp_future_t *futures[N], *future;
  mpmp_as_completed_t *it;
  result_t by_item[N];
  for (int i = 0; i < N; i++)
    by_item[i] = (result_t){-1, 0, 0}; /* -1: not seen (yet) */
  check(mpmp_executor_create(&executor, NULL), "ProcessPoolExecutor()");
  for (long i = 0; i < N; i++)
    check(mpmp_executor_submit(executor, process_item, &i, sizeof i,
                               &futures[i]), "executor.submit");

  check(mpmp_as_completed(futures, N, MPMP_FOREVER, &it), "as_completed");
  while ((rc = mpmp_as_completed_next(it, &future)) == 0) {
    int item = 0; /* item = futures[future] */
    while (futures[item] != future)
      item++;
    const result_t *result;
    check(mpmp_future_result(future, MPMP_FOREVER, (const void **)&result,
                             NULL), "future.result");
    printf("%d -> %ld\n", item, result->value);
    by_item[item] = *result;
  }
  if (rc != MPMP_EEOF)
    check(rc, "as_completed");
  mpmp_as_completed_destroy(it);
  check(mpmp_executor_destroy(executor), "leaving the with block");
  for (int i = 0; i < N; i++)
    mpmp_future_destroy(futures[i]);

  printf("results by item: [");
  for (int i = 0; i < N; i++)
    printf(i ? ", %ld" : "%ld", by_item[i].value);
  printf("]\n");
  int used = 0;
  for (int i = 0; i < N; i++) { /* ranks not seen in an earlier result */
    int seen = 0;
    for (int k = 0; k < i; k++)
      seen |= by_item[k].rank == by_item[i].rank;
    used += !seen && by_item[i].rank > 0;
  }
  printf("items were computed by %d different ranks\n", used);
  return mpmp_finalize() < 0;
}
