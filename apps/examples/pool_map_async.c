/*
 * Python (tutorial "Multiprocessing", the note on blocking behavior after
 * mp2.py, with mp2's prod(x, y), x and y = x[::-1]):
 *
 *   xx = zip(x, x)
 *   xy = zip(x, y)
 *   with Pool() as pool:
 *       p1 = pool.map_async(prod, xx).get()
 *       p2 = pool.map_async(prod, xy).get()
 *
 * "Use map_async() or starmap_async()": each item here is a pair of
 * arguments, so the call that fits is starmap_async (Python's map_async
 * would call prod((x, y)) with one argument and raise a TypeError).
 * .get() blocks until the results are ready; the second part starts both
 * maps before getting either, the "delay it" the tutorial mentions: the
 * main rank is free while the workers compute. The tutorial prints
 * nothing; this prints p1 and p2, and how many workers shared the items
 * (each result carries the rank that computed it).
 *
 *   mpirun -n 4 build/apps/examples/pool_map_async
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

/* pool.starmap_async(prod, items).get() */
static void starmap_get(mpmp_pool_t *pool, const pair_t *items, size_t n,
                        result_t *out) {
  mpmp_async_t *res;
  check(mpmp_pool_starmap_async(pool, prod, items, n, sizeof *items, out,
                                sizeof *out, 0, NULL, NULL, &res),
        "pool.starmap_async");
  check(mpmp_async_get(res, MPMP_FOREVER), ".get()");
  mpmp_async_destroy(res);
}

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  check(rc, "mpmp_init");

  long x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  enum { N = sizeof x / sizeof *x };
  pair_t xx[N], xy[N];
  for (int i = 0; i < N; i++) {
    xx[i] = (pair_t){x[i], x[i]};         /* zip(x, x) */
    xy[i] = (pair_t){x[i], x[N - 1 - i]}; /* zip(x, y), y = x[::-1] */
  }

  result_t p1[N], p2[N];
  mpmp_pool_t *pool;
  check(mpmp_pool_create(&pool, NULL), "Pool()");
  starmap_get(pool, xx, N, p1); /* p1 = pool.starmap_async(prod, xx).get() */
  starmap_get(pool, xy, N, p2); /* p2 = pool.starmap_async(prod, xy).get() */
  print_results("p1: ", p1, N);
  print_results("p2: ", p2, N);

  /* The same two maps, both started before .get() delays the wait. */
  mpmp_async_t *r1, *r2;
  result_t q1[N], q2[N];
  check(mpmp_pool_starmap_async(pool, prod, xx, N, sizeof *xx, q1, sizeof *q1,
                                0, NULL, NULL, &r1), "pool.starmap_async");
  check(mpmp_pool_starmap_async(pool, prod, xy, N, sizeof *xy, q2, sizeof *q2,
                                0, NULL, NULL, &r2), "pool.starmap_async");
  printf("both maps started; the main process is free meanwhile\n");
  check(mpmp_async_get(r1, MPMP_FOREVER), "r1.get()");
  check(mpmp_async_get(r2, MPMP_FOREVER), "r2.get()");
  mpmp_async_destroy(r1);
  mpmp_async_destroy(r2);
  check(mpmp_pool_destroy(pool), "leaving the with block");
  print_results("p1 (delayed get): ", q1, N);
  print_results("p2 (delayed get): ", q2, N);

  int used = ranks_used(p1, N), used2 = ranks_used(p2, N);
  printf("items were computed by %d different ranks\n",
         used < used2 ? used : used2);
  return mpmp_finalize() < 0;
}
