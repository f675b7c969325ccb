/*
 * A task that crashes its worker must not leave the job hanging: the job
 * ends at once, and the report names the task, the item and the rank.
 * ctest checks the output (PASS_REGULAR_EXPRESSION) and the time limit.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include <mpmp.h>

static int crash_on_5(mpmp_ctx_t *ctx) {
  const int64_t *x = mpmp_arg(ctx, NULL);
  if (*x == 5)
    raise(SIGSEGV); /* what a NULL dereference would do, without UB */
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = *x;
  return 0;
}
MPMP_TASK(crash_on_5);

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  if (rc < 0)
    return 1;
  int64_t x[10], r[10];
  for (int i = 0; i < 10; i++)
    x[i] = i;
  mpmp_pool_t *pool;
  mpmp_pool_create(&pool, NULL);
  mpmp_pool_map(pool, crash_on_5, x, 10, sizeof *x, r, sizeof *r, 1);
  printf("crash: not reached\n"); /* the job is gone before this */
  mpmp_pool_destroy(pool);
  return mpmp_finalize() == 0 ? 1 : 1;
}
