/*
 * Python (tutorial "Python Multiprocessing", ProcessPoolExecutor, Basic
 * Usage):
 *
 *   def cpu_intensive(n):
 *       return sum(i * i for i in range(n))
 *
 *   data = [1_000_000] * 8
 *   workers = multiprocessing.cpu_count()        # Use all CPUs
 *   with ProcessPoolExecutor(max_workers=workers) as executor:
 *       results = list(executor.map(cpu_intensive, data))
 *   print(sum(results))                          # 2666662666668000000
 *
 * Python's integers do not overflow; each sum here is 333332833333500000
 * and the total 2666662666668000000, which fit in 64 bits. cpu_count() is
 * mpmp_cpu_count(); the executor's workers are worker ranks that already
 * run, so max_workers is the smaller of the CPU count and the free worker
 * ranks (asking for more than are free is MPMP_EBUSY). Each result also
 * carries the rank that computed it, so the program can tell how many
 * workers shared the items.
 *
 *   mpirun -n 3 build/apps/examples/executor_map_cpu
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <mpmp.h>

typedef struct {
  uint64_t value; /* sum(i * i for i in range(n)) */
  int rank, pid;  /* who computed it */
} result_t;

static int cpu_intensive(mpmp_ctx_t *ctx) {
  const uint64_t *n = mpmp_arg(ctx, NULL);
  uint64_t sum = 0;
  for (uint64_t i = 0; i < *n; i++)
    sum += i * i;
  result_t *r = mpmp_out(ctx, sizeof *r);
  *r = (result_t){sum, mpmp_rank(), (int)getpid()};
  return 0;
}
MPMP_TASK(cpu_intensive);

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

  enum { N = 8 };
  uint64_t data[N]; /* [1_000_000] * 8 */
  for (int i = 0; i < N; i++)
    data[i] = 1000000;

  int workers = mpmp_cpu_count(), free_workers = mpmp_worker_count();
  check(workers, "multiprocessing.cpu_count()");
  mpmp_executor_opts_t opts = {
      .max_workers = workers < free_workers ? workers : free_workers};
  mpmp_executor_t *executor;
  result_t results[N];
  check(mpmp_executor_create(&executor, &opts),
        "ProcessPoolExecutor(max_workers=workers)");
  check(mpmp_executor_map(executor, cpu_intensive, data, N, sizeof *data,
                          results, sizeof *results, 1, MPMP_FOREVER),
        "executor.map");
  check(mpmp_executor_destroy(executor), "leaving the with block");

  uint64_t sum = 0;
  for (int i = 0; i < N; i++)
    sum += results[i].value;
  printf("%llu\n", (unsigned long long)sum); /* print(sum(results)) */

  int used = 0;
  for (int i = 0; i < N; i++) { /* ranks not seen in an earlier result */
    int seen = 0;
    for (int k = 0; k < i; k++)
      seen |= results[k].rank == results[i].rank;
    used += !seen;
  }
  printf("cpu_count: %d, max_workers: %d\n", workers, opts.max_workers);
  printf("items were computed by %d different ranks\n", used);
  return mpmp_finalize() < 0;
}
