/*
 * Python (tutorial "Python Multiprocessing", Pool (Classic API),
 * "apply and apply_async"):
 *
 *   def compute(x, y):
 *       return x + y
 *
 *   with Pool(processes=4) as pool:
 *       # Synchronous (blocks)
 *       result = pool.apply(compute, args=(1, 2))
 *       # Asynchronous
 *       async_result = pool.apply_async(compute, args=(1, 2))
 *       result = async_result.get()
 *
 * args=(1, 2) is a struct of the two arguments. The tutorial prints
 * nothing; this prints each result (3) with the pid and rank of the worker
 * that computed it, which the task hands back with its result. Two single
 * calls may well run on the same worker: Pool(4) hands each to the first
 * idle one. Pool(processes=4) needs 4 free worker ranks: run with 5 ranks.
 *
 *   mpirun -n 5 build/apps/examples/pool_apply
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <mpmp.h>

typedef struct { long x, y; } args_t;

typedef struct {
  long value;    /* x + y */
  int rank, pid; /* who computed it */
} result_t;

static int compute(mpmp_ctx_t *ctx) {
  const args_t *a = mpmp_arg(ctx, NULL);
  result_t *r = mpmp_out(ctx, sizeof *r);
  *r = (result_t){a->x + a->y, mpmp_rank(), (int)getpid()};
  return 0;
}
MPMP_TASK(compute);

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

  mpmp_pool_t *pool;
  mpmp_pool_opts_t four = {.processes = 4};
  check(mpmp_pool_create(&pool, &four), "Pool(processes=4)");
  args_t args = {1, 2};

  /* Synchronous (blocks) */
  result_t result;
  size_t size;
  check(mpmp_pool_apply(pool, compute, &args, sizeof args, &result,
                        sizeof result, &size), "pool.apply");
  printf("apply: %ld (Process %d, rank %d)\n", result.value, result.pid,
         result.rank);

  /* Asynchronous */
  mpmp_async_t *async_result;
  const result_t *r;
  check(mpmp_pool_apply_async(pool, compute, &args, sizeof args, NULL, NULL,
                              &async_result), "pool.apply_async");
  check(mpmp_async_get(async_result, MPMP_FOREVER), "async_result.get()");
  check(mpmp_async_result(async_result, (const void **)&r, &size),
        "async_result.get()");
  printf("apply_async(...).get(): %ld (Process %d, rank %d)\n", r->value,
         r->pid, r->rank);
  mpmp_async_destroy(async_result);

  check(mpmp_pool_destroy(pool), "leaving the with block");
  return mpmp_finalize() < 0;
}
