/*
 * Python (tutorial "Multiprocessing", Pool method, mp1.py):
 *
 *   def prod(x):
 *       print(f"Now Process {os.getpid()} | is calculating square {x}")
 *       return x * x
 *
 *   x = [1, 2, 3, 4, 5, 6, 7, 8, 9]
 *   with Pool(processes=4) as pool:
 *       result = pool.map(prod, x)
 *   print(f"Partial results: {result}")
 *   print(f"Total sum of squares: {sum(result)}")
 *   print('Done')
 *
 * and the tutorial's two other ways to use Pool.map():
 *
 *   with Pool() as pool:                  # every CPU (here: every free worker)
 *       result = pool.map(defs.sq, x)
 *
 *   pl = Pool(4)                          # managed by hand
 *   result = pl.map(defs.sq, x)
 *   pl.close()
 *
 * A pool's processes are worker ranks: Pool(4) needs 4 free workers, so run
 * it with 5 ranks (asking for more workers than are free is MPMP_EBUSY,
 * whose message says how many ranks to start). Each result also carries the
 * rank and pid that computed it, so the program can tell how many workers
 * really shared the items.
 *
 *   mpirun -n 5 build/apps/examples/pool_map_squares
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <mpmp.h>

typedef struct {
  long value;    /* x * x */
  int rank, pid; /* who computed it */
} result_t;

static int prod(mpmp_ctx_t *ctx) {
  const long *x = mpmp_arg(ctx, NULL);
  printf("Now Process %d (rank %d) | is calculating square %ld\n",
         (int)getpid(), mpmp_rank(), *x);
  fflush(stdout);
  result_t *r = mpmp_out(ctx, sizeof *r);
  *r = (result_t){*x * *x, mpmp_rank(), (int)getpid()};
  return 0;
}
MPMP_TASK(prod);

static void check(int rc, const char *what) {
  if (rc < 0) {
    if (!mpmp_is_main()) /* init failed on every rank: rank 0 says so; */
      exit(0);           /* the others end quietly (exit 1 could end the
                            job before its message is out) */
    fprintf(stderr, "%s failed: %s\n", what, mpmp_errmsg());
    exit(1);
  }
}

static void print_results(const char *label, const result_t *r, size_t n) {
  printf("%s[", label);
  for (size_t i = 0; i < n; i++)
    printf(i ? ", %ld" : "%ld", r[i].value);
  printf("]\n");
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
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  check(rc, "mpmp_init");

  long x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  enum { N = sizeof x / sizeof *x };
  result_t result[N];
  mpmp_pool_t *pool;

  /* with Pool(processes=4) as pool: result = pool.map(prod, x) */
  mpmp_pool_opts_t four = {.processes = 4};
  check(mpmp_pool_create(&pool, &four), "Pool(processes=4)");
  check(mpmp_pool_map(pool, prod, x, N, sizeof *x, result, sizeof *result, 0),
        "pool.map");
  check(mpmp_pool_destroy(pool), "leaving the with block");

  long sum = 0;
  for (int i = 0; i < N; i++)
    sum += result[i].value;
  print_results("Partial results: ", result, N);
  printf("Total sum of squares: %ld\n", sum);
  printf("Done\n");
  printf("items were computed by %d different ranks\n", ranks_used(result, N));

  /* with Pool() as pool: every free worker rank */
  check(mpmp_pool_create(&pool, NULL), "Pool()");
  int workers = mpmp_pool_size(pool);
  check(mpmp_pool_map(pool, prod, x, N, sizeof *x, result, sizeof *result, 0),
        "pool.map");
  check(mpmp_pool_destroy(pool), "leaving the with block");
  printf("Pool() has %d workers: ", workers);
  print_results("", result, N);

  /* pl = Pool(4); result = pl.map(...); pl.close() (and join, to wait) */
  mpmp_pool_t *pl;
  check(mpmp_pool_create(&pl, &four), "Pool(4)");
  check(mpmp_pool_map(pl, prod, x, N, sizeof *x, result, sizeof *result, 0),
        "pl.map");
  check(mpmp_pool_close(pl), "pl.close");
  check(mpmp_pool_join(pl, MPMP_FOREVER), "pl.join");
  check(mpmp_pool_destroy(pl), "freeing the pool");
  print_results("Pool(4), closed by hand: ", result, N);

  return mpmp_finalize() < 0;
}
