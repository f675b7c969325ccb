/*
 * MPI shared with the caller: the program initializes MPI itself, mpmp
 * uses it and leaves it initialized, and the program's own MPI calls work
 * before and after (worker ranks included).
 */
#include <mpi.h>
#include <stdio.h>

#include <mpmp.h>

static int twice(mpmp_ctx_t *ctx) {
  const int *x = mpmp_arg(ctx, NULL);
  *(int *)mpmp_out(ctx, sizeof(int)) = 2 * *x;
  return 0;
}
MPMP_TASK(twice);

#define CHECK(cond, what)                                      \
  do {                                                         \
    if (!(cond)) {                                             \
      fprintf(stderr, "FAILED: %s (%s)\n", what, mpmp_errmsg()); \
      MPI_Abort(MPI_COMM_WORLD, 1);                            \
    }                                                          \
  } while (0)

int main(int argc, char **argv) {
  int provided, rank, size, fin = 0, sum = 0, one = 1;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_MAIN) {
    int x = 21, code = -1;
    const int *y;
    mpmp_process_t *p;
    CHECK(mpmp_process_create(&p, twice, &x, sizeof x, NULL) == 0, "create");
    CHECK(mpmp_process_start(p) == 0, "start");
    CHECK(mpmp_process_join(p, 30) == 0, "join");
    CHECK(mpmp_process_exitcode(p, &code) == 0 && code == 0, "exitcode");
    CHECK(mpmp_process_result(p, (const void **)&y, NULL) == 0 && *y == 42, "result");
    mpmp_process_destroy(p);
    CHECK(mpmp_finalize() == 0, "finalize");
  } else {
    CHECK(rc == MPMP_WORKER_DONE, "worker init");
  }
  CHECK(mpmp_initialized() == 0, "mpmp finalized on every rank");
  MPI_Finalized(&fin);
  CHECK(!fin, "MPI still initialized after mpmp");
  MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  CHECK(sum == size, "user's MPI_Allreduce after mpmp");
  MPI_Finalize();
  if (rank == 0)
    printf("user_mpi: ok (%d ranks)\n", size);
  return 0;
}
