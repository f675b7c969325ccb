/*
 * Python (tutorial "Multiprocessing", Parallel vs serial process, mp3.py):
 *
 *   def prod(x):
 *       print(f"Now Process {os.getpid()} | is calculating square {x}")
 *       time.sleep(2)
 *       return x * x
 *
 *   x = [1, 2, 3, 4, 5, 6, 7, 8, 9]
 *   with Pool(processes=4) as pool:
 *       start_parallel = time.time()
 *       result = pool.map(prod, x)
 *       end_parallel = time.time()
 *   start_sequential = time.time()
 *   result_sequential = list(map(prod, x))
 *   end_sequential = time.time()
 *   print("Time for Parallel Processing: {:.4f} seconds".format(...))
 *   print("Time for Sequential Processing: {:.4f} seconds".format(...))
 *
 * Python prints about 6 s and 18 s: 9 items of 2 s on 4 workers take three
 * rounds. The sleep per item is argv[1] (seconds, default 2); every rank
 * reads it before mpmp_init, as every Python process sees the module's
 * globals. Pool(4) needs 4 free worker ranks: run with 5 ranks.
 *
 * Beyond the tutorial, the program prints the speed-up, how many workers
 * shared the items (each result carries the rank that computed it), and
 * the main rank's CPU time during the parallel map: pool.map sleeps while
 * it waits, so that time is a small fraction of the wall time.
 *
 *   mpirun -n 5 build/apps/examples/parallel_vs_serial [seconds]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <mpmp.h>

#include "../args.h"

typedef struct {
  long value;    /* x * x */
  int rank, pid; /* who computed it */
} result_t;

static double delay = 2.0; /* time.sleep(2) */

static double now(clockid_t clock) { /* time.time() */
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* def prod(x): the body, called by the pool's task and by the serial map */
static result_t prod(long x) {
  printf("Now Process %d (rank %d) | is calculating square %ld\n",
         (int)getpid(), mpmp_rank(), x);
  fflush(stdout);
  struct timespec ts = {(time_t)delay, (long)((delay - (double)(time_t)delay) * 1e9)};
  nanosleep(&ts, NULL);
  return (result_t){x * x, mpmp_rank(), (int)getpid()};
}

static int prod_task(mpmp_ctx_t *ctx) {
  const long *x = mpmp_arg(ctx, NULL);
  *(result_t *)mpmp_out(ctx, sizeof(result_t)) = prod(*x);
  return 0;
}
MPMP_TASK(prod_task);

static void check(int rc, const char *what) {
  if (rc < 0) {
    if (!mpmp_is_main()) /* init failed on every rank: rank 0 says so; */
      exit(0);           /* the others end quietly (exit 1 could end the
                            job before its message is out) */
    fprintf(stderr, "%s failed: %s\n", what, mpmp_errmsg());
    exit(1);
  }
}

/* How many different worker ranks computed the results. */
static int ranks_used(const result_t *r, size_t n) {
  int used = 0, size = mpmp_world_size();
  char *seen = calloc((size_t)size, 1);
  for (size_t i = 0; i < n && seen; i++)
    if (r[i].rank > 0 && r[i].rank < size && !seen[r[i].rank]++)
      used++;
  free(seen);
  return used;
}

int main(int argc, char **argv) {
  /* on every rank, before the workers start serving */
  if (argc > 2 || (argc == 2 && mpmp_app_real("parallel_vs_serial",
                                              "the seconds per item", argv[1],
                                              0, 3600, &delay) < 0)) {
    fprintf(stderr, "usage: %s [seconds per item, default 2]\n", argv[0]);
    return 2;
  }
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  check(rc, "mpmp_init");

  long x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  enum { N = sizeof x / sizeof *x };
  result_t result[N], result_sequential[N];

  mpmp_pool_t *pool;
  mpmp_pool_opts_t four = {.processes = 4};
  check(mpmp_pool_create(&pool, &four), "Pool(processes=4)");
  double start_parallel = now(CLOCK_MONOTONIC);
  double cpu_start = now(CLOCK_PROCESS_CPUTIME_ID);
  check(mpmp_pool_map(pool, prod_task, x, N, sizeof *x, result, sizeof *result,
                      0), "pool.map");
  double end_parallel = now(CLOCK_MONOTONIC);
  double cpu_parallel = now(CLOCK_PROCESS_CPUTIME_ID) - cpu_start;
  check(mpmp_pool_destroy(pool), "leaving the with block");

  /* Sequential processing, on the main rank */
  double start_sequential = now(CLOCK_MONOTONIC);
  for (int i = 0; i < N; i++)
    result_sequential[i] = prod(x[i]); /* list(map(prod, x)) */
  double end_sequential = now(CLOCK_MONOTONIC);

  int same = 1;
  for (int i = 0; i < N; i++)
    same &= result[i].value == result_sequential[i].value &&
            result[i].value == x[i] * x[i];
  double par = end_parallel - start_parallel;
  double seq = end_sequential - start_sequential;
  printf("Time for Parallel Processing: %.4f seconds\n", par);
  printf("Time for Sequential Processing: %.4f seconds\n", seq);
  printf("results %s\n", same ? "agree" : "DIFFER");
  printf("Speed-up: %.1fx\n", par > 0 ? seq / par : 0.0);
  printf("main rank CPU time during the parallel map: %.1f%% of its wall time\n",
         par > 0 ? 100 * cpu_parallel / par : 0.0);
  printf("items were computed by %d different ranks\n", ranks_used(result, N));
  return mpmp_finalize() < 0 || !same;
}
