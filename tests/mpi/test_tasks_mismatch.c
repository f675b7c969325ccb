/*
 * Ranks whose task tables differ (as when a different binary runs on some
 * node) must all fail mpmp_init with MPMP_EMISMATCH and a message naming
 * the rank, instead of calling the wrong function later. Rank 1 registers
 * one more task here, chosen by Open MPI's rank variable before init.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpitest.h"

static int common_task(mpmp_ctx_t *ctx) { (void)ctx; return 0; }
MPMP_TASK(common_task);
static int extra_task(mpmp_ctx_t *ctx) { (void)ctx; return 0; }

int main(int argc, char **argv) {
  int rank = test_world_rank();
  if (rank < 0) /* started alone */
    rank = 0;
  if (rank == 1)
    mpmp_task_register(extra_task, "extra_task", __FILE__);
  int rc = mpmp_init(&argc, &argv);
  if (rc != MPMP_EMISMATCH) {
    fprintf(stderr, "rank %d: expected MPMP_EMISMATCH, got %s\n", rank,
            mpmp_err_name(rc));
    return 1;
  }
  if (strstr(mpmp_errmsg(), "rank 1") == NULL ||
      strstr(mpmp_errmsg(), "extra_task") == NULL) {
    fprintf(stderr, "rank %d: message does not explain: %s\n", rank,
            mpmp_errmsg());
    return 1;
  }
  if (rank == 0)
    printf("tasks_mismatch: ok: %s\n", mpmp_errmsg());
  return 0;
}
