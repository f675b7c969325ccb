/*
 * Python: the small Pool.map example that two tutorials share, with the
 * same square(n) on Pool(4).
 *
 * Tutorial "Python Multiprocessing" (6. Using multiprocessing.Pool for
 * Task Distribution):
 *
 *   def square(n):
 *       return n * n
 *
 *   with Pool(4) as pool:
 *       numbers = [1, 2, 3, 4, 5]
 *       results = pool.map(square, numbers)
 *   print(f"Squared Results: {results}")       # Squared Results: [1, 4, 9, 16, 25]
 *
 * Tutorial "Multiprocessing in Python" (Using Process Pools):
 *
 *   numbers = [1, 2, 3, 4]
 *   with Pool(4) as p:
 *       result = p.map(square, numbers)
 *   print(result)                               # [1, 4, 9, 16]
 *
 * One program for both, as they are one example with two lists; the x * 2
 * example of the second tutorial is pool_process_data.c. Each result also
 * carries the rank that computed it, so the program can tell how many
 * workers shared the items. Pool(4) needs 4 free worker ranks: run with 5.
 *
 *   mpirun -n 5 build/apps/examples/pool_square
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <mpmp.h>

typedef struct {
  long value;    /* n * n */
  int rank, pid; /* who computed it */
} result_t;

static int square(mpmp_ctx_t *ctx) {
  const long *n = mpmp_arg(ctx, NULL);
  result_t *r = mpmp_out(ctx, sizeof *r);
  *r = (result_t){*n * *n, mpmp_rank(), (int)getpid()};
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

/* with Pool(4) as pool: results = pool.map(square, numbers) */
static void pool4_map(const long *numbers, size_t n, result_t *results) {
  mpmp_pool_t *pool;
  mpmp_pool_opts_t four = {.processes = 4};
  check(mpmp_pool_create(&pool, &four), "Pool(4)");
  check(mpmp_pool_map(pool, square, numbers, n, sizeof *numbers, results,
                      sizeof *results, 0), "pool.map");
  check(mpmp_pool_destroy(pool), "leaving the with block");
}

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  check(rc, "mpmp_init");

  long numbers[] = {1, 2, 3, 4, 5};
  enum { N = sizeof numbers / sizeof *numbers };
  result_t results[N];
  pool4_map(numbers, N, results);
  print_results("Squared Results: ", results, N);

  long numbers2[] = {1, 2, 3, 4};
  enum { N2 = sizeof numbers2 / sizeof *numbers2 };
  result_t result[N2];
  pool4_map(numbers2, N2, result);
  print_results("", result, N2);

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
