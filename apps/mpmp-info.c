/*
 * mpmp-info: what mpmp sees in this job — version, ranks, nodes, the
 * binding of every rank, the transports, and (--settings or MPMP_INFO=1)
 * every MPMP_* setting.
 *
 *   mpirun -n 4 build/apps/mpmp-info
 *   scripts/pseudo-mpirun.sh 2 -n 4 build/apps/mpmp-info
 */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include <mpmp.h>

static void print_mpi(void) {
  char lib[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(lib, &len);
  lib[strcspn(lib, ",\n")] = '\0';
  printf("mpi:        %s\n", lib);
}

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  if (rc < 0) {
    fprintf(stderr, "mpmp-info: %s: %s\n", mpmp_err_name(rc), mpmp_errmsg());
    return 1;
  }
  printf("mpmp:       %s\n", mpmp_version());
  print_mpi();
  printf("ranks:      %d (1 main + %d workers)\n", mpmp_world_size(),
         mpmp_worker_count());
  printf("nodes:      %d\n", mpmp_node_count());
  printf("cpu_count:  %d (usable on the main rank's node)\n", mpmp_cpu_count());
  printf("transport:  same node: shared-memory doorbells + MPI point-to-point;"
         " across nodes: MPI point-to-point\n\n");
  mpmp_print_bindings(stdout);
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--settings")) {
      printf("\n");
      mpmp_print_settings(stdout);
    }
  return mpmp_finalize() == 0 ? 0 : 1;
}
