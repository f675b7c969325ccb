/*
 * A program that initialized MPI below MPI_THREAD_MULTIPLE: mpmp_init
 * refuses with MPMP_EMPI and a message that names the level MPI gives (it
 * said "thread level 1"; helper 81), on every rank, and leaves MPI usable
 * for the program. The level asked: MPI_THREAD_FUNNELED (argv[1]: 0, 1 or
 * 2 for SINGLE, FUNNELED or SERIALIZED).
 */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "mpitest.h"

int main(int argc, char **argv) {
  static const char *names[] = {"MPI_THREAD_SINGLE", "MPI_THREAD_FUNNELED",
                                "MPI_THREAD_SERIALIZED"};
  static const int levels[] = {MPI_THREAD_SINGLE, MPI_THREAD_FUNNELED,
                               MPI_THREAD_SERIALIZED};
  int want = argc > 1 ? argv[1][0] - '0' : 1, provided = -1, rank = 0;
  if (want < 0 || want > 2)
    want = 1;
  MPI_Init_thread(&argc, &argv, levels[want], &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int bad = 0;
  if (provided < MPI_THREAD_MULTIPLE) {
    int k = provided == MPI_THREAD_SINGLE     ? 0
            : provided == MPI_THREAD_FUNNELED ? 1
                                              : 2;
    int rc = mpmp_init(&argc, &argv);
    if (rc != MPMP_EMPI || strstr(mpmp_errmsg(), names[k]) == NULL) {
      fprintf(stderr, "rank %d: MPI gives %s: mpmp_init %s: %s\n", rank,
              names[k], mpmp_err_name(rc), mpmp_errmsg());
      bad = 1;
    }
  }
  int sum = 0; /* MPI is the program's still */
  MPI_Allreduce(&bad, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0)
    printf("thread_level: %s%s\n", sum == 0 ? "ok" : "FAILED",
           provided < MPI_THREAD_MULTIPLE ? "" : " (MPI gave MULTIPLE)");
  MPI_Finalize();
  return sum != 0;
}
