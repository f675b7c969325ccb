/*
 * Python (tutorial "Multiprocessing in Python", Real-World Example):
 *
 *   def process_data(x):
 *       return x * 2
 *
 *   data = list(range(10))
 *   with Pool(4) as pool:
 *       results = pool.map(process_data, data)
 *   print(results)                 # [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
 *
 * Its own program, not folded into pool_square.c: another function over
 * other data. Each result also carries the rank that computed it, so the
 * program can tell how many workers shared the items. Pool(4) needs 4 free
 * worker ranks: run with 5.
 *
 *   mpirun -n 5 build/apps/examples/pool_process_data
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <mpmp.h>

typedef struct {
  long value;    /* x * 2 */
  int rank, pid; /* who computed it */
} result_t;

static int process_data(mpmp_ctx_t *ctx) {
  const long *x = mpmp_arg(ctx, NULL);
  result_t *r = mpmp_out(ctx, sizeof *r);
  *r = (result_t){*x * 2, mpmp_rank(), (int)getpid()};
  return 0;
}
MPMP_TASK(process_data);

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
  long data[N]; /* list(range(10)) */
  for (long i = 0; i < N; i++)
    data[i] = i;
  result_t results[N];
  mpmp_pool_t *pool;
  mpmp_pool_opts_t four = {.processes = 4};
  check(mpmp_pool_create(&pool, &four), "Pool(4)");
  check(mpmp_pool_map(pool, process_data, data, N, sizeof *data, results,
                      sizeof *results, 0), "pool.map");
  check(mpmp_pool_destroy(pool), "leaving the with block");

  printf("[");
  for (int i = 0; i < N; i++)
    printf(i ? ", %ld" : "%ld", results[i].value);
  printf("]\n");
  int used = 0;
  for (int i = 0; i < N; i++) { /* ranks not seen in an earlier result */
    int seen = 0;
    for (int k = 0; k < i; k++)
      seen |= results[k].rank == results[i].rank;
    used += !seen;
  }
  printf("items were computed by %d different ranks\n", used);
  return mpmp_finalize() < 0;
}
