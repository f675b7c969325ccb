/*
 * Python (tutorial "Multiprocessing", Multiple arguments, mp2.py):
 *
 *   def prod(x, y):
 *       print(f"Now Process {os.getpid()} | is calculating  {x} times {y}")
 *       return x * y
 *
 *   x = [1, 2, 3, 4, 5, 6, 7, 8, 9]
 *   y = x[::-1]
 *   xy = zip(x, y)
 *   with Pool() as pool:
 *       result = pool.starmap(prod, xy)
 *   print(f"Partial results: {result}")      # [9, 16, 21, 24, 25, 24, 21, 16, 9]
 *   print(f"Total sum of squares: {sum(result)}")   # 165
 *   print('Done')
 *
 * C's tuple is a struct: each item of the starmap is one pair {x, y}, built
 * as zip(x, y) would. Each result also carries the rank and pid that
 * computed it, so the program can tell how many workers shared the items.
 *
 *   mpirun -n 4 build/apps/examples/pool_starmap
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <mpmp.h>

typedef struct { long x, y; } pair_t; /* the arguments of one call */

typedef struct {
  long value;    /* x * y */
  int rank, pid; /* who computed it */
} result_t;

static int prod(mpmp_ctx_t *ctx) {
  const pair_t *a = mpmp_arg(ctx, NULL);
  printf("Now Process %d (rank %d) | is calculating  %ld times %ld\n",
         (int)getpid(), mpmp_rank(), a->x, a->y);
  fflush(stdout);
  result_t *r = mpmp_out(ctx, sizeof *r);
  *r = (result_t){a->x * a->y, mpmp_rank(), (int)getpid()};
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
  long y[N];
  pair_t xy[N];
  for (int i = 0; i < N; i++)
    y[i] = x[N - 1 - i]; /* y = x[::-1] */
  for (int i = 0; i < N; i++)
    xy[i] = (pair_t){x[i], y[i]}; /* xy = zip(x, y) */

  result_t result[N];
  mpmp_pool_t *pool;
  check(mpmp_pool_create(&pool, NULL), "Pool()");
  check(mpmp_pool_starmap(pool, prod, xy, N, sizeof *xy, result,
                          sizeof *result, 0), "pool.starmap");
  check(mpmp_pool_destroy(pool), "leaving the with block");

  long sum = 0;
  for (int i = 0; i < N; i++)
    sum += result[i].value;
  print_results("Partial results: ", result, N);
  printf("Total sum of squares: %ld\n", sum);
  printf("Done\n");
  printf("items were computed by %d different ranks\n", ranks_used(result, N));
  return mpmp_finalize() < 0;
}
