/*
 * A program outside the mpmp source tree, built against an installed mpmp
 * (find_package or pkg-config) by tests/install/check.sh.
 */
#include <stdio.h>

#include <mpmp.h>

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0; /* worker ranks: the job is over */
  if (rc < 0) {
    fprintf(stderr, "mpmp_init: %s\n", mpmp_errmsg());
    return 1;
  }
  printf("outside-project ok version %s ranks %d\n", mpmp_version(),
         mpmp_world_size());
  fflush(stdout);
  return mpmp_finalize() == 0 ? 0 : 1;
}
