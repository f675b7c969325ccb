/*
 * Python (tutorial "Python Multiprocessing", Pool (Classic API), "starmap:
 * for functions with multiple arguments"):
 *
 *   def multiply(x, y):
 *       return x * y
 *
 *   with Pool() as pool:
 *       pairs = [(1, 2), (3, 4), (5, 6)]
 *       results = pool.starmap(multiply, pairs)
 *       # [2, 12, 30]
 *
 * A pair is a struct of the two arguments. The tutorial shows the result
 * in a comment; this prints it, and how many workers shared the pairs
 * (each result carries the rank that computed it).
 *
 *   mpirun -n 4 build/apps/examples/pool_starmap_pairs
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <mpmp.h>

typedef struct { long x, y; } pair_t;

typedef struct {
  long value;    /* x * y */
  int rank, pid; /* who computed it */
} result_t;

static int multiply(mpmp_ctx_t *ctx) {
  const pair_t *a = mpmp_arg(ctx, NULL);
  result_t *r = mpmp_out(ctx, sizeof *r);
  *r = (result_t){a->x * a->y, mpmp_rank(), (int)getpid()};
  return 0;
}
MPMP_TASK(multiply);

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

  pair_t pairs[] = {{1, 2}, {3, 4}, {5, 6}};
  enum { N = sizeof pairs / sizeof *pairs };
  result_t results[N];
  mpmp_pool_t *pool;
  check(mpmp_pool_create(&pool, NULL), "Pool()");
  check(mpmp_pool_starmap(pool, multiply, pairs, N, sizeof *pairs, results,
                          sizeof *results, 0), "pool.starmap");
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
