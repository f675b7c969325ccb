/*
 * Python (tutorial "Multiprocessing in Python: Unlocking True
 * Parallelism", Example: CPU-Bound Task with Pool.map):
 *
 *   def square(x):
 *       return x * x
 *
 *   pool = multiprocessing.Pool(processes=os.cpu_count())
 *   inputs = range(20)
 *   start_time = time.time()
 *   results = pool.map(square, inputs)
 *   pool.close()   # Prevents any more tasks from being submitted
 *   pool.join()    # Waits for the worker processes to exit
 *   end_time = time.time()
 *   print(f"Results: {results}")
 *   print(f"Time taken: {end_time - start_time:.4f} seconds")
 *
 * os.cpu_count() is mpmp_cpu_count(). Python forks that many processes;
 * a pool's processes are worker ranks that already run, so the pool gets
 * the smaller of the CPU count and the free worker ranks (asking for more
 * than are free is MPMP_EBUSY). Each result also carries the rank that
 * computed it, so the program can tell how many workers shared the items.
 *
 *   mpirun -n 3 build/apps/examples/pool_map_timed
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <mpmp.h>

typedef struct {
  long value;    /* x * x */
  int rank, pid; /* who computed it */
} result_t;

static int square(mpmp_ctx_t *ctx) {
  const long *x = mpmp_arg(ctx, NULL);
  result_t *r = mpmp_out(ctx, sizeof *r);
  *r = (result_t){*x * *x, mpmp_rank(), (int)getpid()};
  return 0;
}
MPMP_TASK(square);

static void check(int rc, const char *what) {
  if (rc < 0) {
    if (!mpmp_is_main()) /* init failed on every rank: rank 0 says so; */
      exit(0);           /* the others end quietly (exit 1 could end the
                            job before its message is out) */
    fprintf(stderr, "%s failed: %s\n", what, mpmp_errmsg());
    exit(1);
  }
}

static double now(void) { /* time.time() */
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  check(rc, "mpmp_init");

  int cpus = mpmp_cpu_count(), workers = mpmp_worker_count();
  check(cpus, "os.cpu_count()");
  mpmp_pool_opts_t opts = {.processes = cpus < workers ? cpus : workers};
  mpmp_pool_t *pool;
  check(mpmp_pool_create(&pool, &opts), "Pool(processes=os.cpu_count())");

  enum { N = 20 };
  long inputs[N]; /* range(20) */
  for (long i = 0; i < N; i++)
    inputs[i] = i;
  result_t results[N];

  double start_time = now();
  check(mpmp_pool_map(pool, square, inputs, N, sizeof *inputs, results,
                      sizeof *results, 0), "pool.map");
  check(mpmp_pool_close(pool), "pool.close");
  check(mpmp_pool_join(pool, MPMP_FOREVER), "pool.join");
  double end_time = now();
  check(mpmp_pool_destroy(pool), "freeing the pool");

  printf("Results: [");
  for (int i = 0; i < N; i++)
    printf(i ? ", %ld" : "%ld", results[i].value);
  printf("]\n");
  printf("Time taken: %.4f seconds\n", end_time - start_time);

  int used = 0;
  for (int i = 0; i < N; i++) { /* ranks not seen in an earlier result */
    int seen = 0;
    for (int k = 0; k < i; k++)
      seen |= results[k].rank == results[i].rank;
    used += !seen;
  }
  printf("cpu_count: %d, pool size: %d\n", cpus, opts.processes);
  printf("items were computed by %d different ranks\n", used);
  return mpmp_finalize() < 0;
}
