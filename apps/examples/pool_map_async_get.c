/*
 * Python (tutorial "Python Multiprocessing", Pool (Classic API),
 * "map and map_async"):
 *
 *   def square(x):
 *       return x ** 2
 *
 *   with Pool(processes=4) as pool:
 *       # Synchronous
 *       results = pool.map(square, range(10))
 *       # Asynchronous
 *       async_result = pool.map_async(square, range(10))
 *       results = async_result.get(timeout=10)
 *
 * The tutorial prints nothing; this prints both results lists
 * ([0, 1, 4, ..., 81]) and how many workers shared the items (each result
 * carries the rank that computed it). get(timeout=10) returns MPMP_ETIMEDOUT
 * if the map is not done within 10 s, where Python raises TimeoutError.
 * Pool(processes=4) needs 4 free worker ranks: run with 5 ranks.
 *
 *   mpirun -n 5 build/apps/examples/pool_map_async_get
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <mpmp.h>

typedef struct {
  long value;    /* x ** 2 */
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

  enum { N = 10 };
  long items[N]; /* range(10) */
  for (long i = 0; i < N; i++)
    items[i] = i;
  result_t results[N], async_results[N];

  mpmp_pool_t *pool;
  mpmp_pool_opts_t four = {.processes = 4};
  check(mpmp_pool_create(&pool, &four), "Pool(processes=4)");

  /* Synchronous */
  check(mpmp_pool_map(pool, square, items, N, sizeof *items, results,
                      sizeof *results, 0), "pool.map");
  print_results("map: ", results, N);

  /* Asynchronous */
  mpmp_async_t *async_result;
  check(mpmp_pool_map_async(pool, square, items, N, sizeof *items,
                            async_results, sizeof *async_results, 0, NULL,
                            NULL, &async_result), "pool.map_async");
  check(mpmp_async_get(async_result, 10), "async_result.get(timeout=10)");
  mpmp_async_destroy(async_result);
  print_results("map_async(...).get(timeout=10): ", async_results, N);

  check(mpmp_pool_destroy(pool), "leaving the with block");
  int used = ranks_used(results, N), used2 = ranks_used(async_results, N);
  printf("items were computed by %d different ranks\n",
         used < used2 ? used : used2);
  return mpmp_finalize() < 0;
}
