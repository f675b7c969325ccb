// The outside program in C++: mpmp's C headers, a task registered with
// MPMP_TASK and run as a Process, built by a C++-only CMake project.
#include <cstdio>
#include <cstdlib>

#include <mpmp.h>

static int sum_of_squares(mpmp_ctx_t *ctx) {
  const long *n = static_cast<const long *>(mpmp_arg(ctx, nullptr));
  long *sum = static_cast<long *>(mpmp_out(ctx, sizeof *sum));
  *sum = 0;
  for (long i = 1; i <= *n; i++)
    *sum += i * i;
  return 0;
}
MPMP_TASK(sum_of_squares);

static void check(int rc, const char *what) {
  if (rc < 0) {
    std::fprintf(stderr, "%s: %s\n", what, mpmp_errmsg());
    std::exit(1);
  }
}

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0; // worker ranks: the job is over
  check(rc, "mpmp_init");
  long n = 9;
  const void *sum = nullptr;
  mpmp_process_t *p;
  check(mpmp_process_create(&p, sum_of_squares, &n, sizeof n, nullptr), "Process");
  check(mpmp_process_start(p), "start");
  check(mpmp_process_join(p, MPMP_FOREVER), "join");
  check(mpmp_process_result(p, &sum, nullptr), "result");
  std::printf("outside-project-cxx ok sum %ld ranks %d\n",
              *static_cast<const long *>(sum), mpmp_world_size());
  std::fflush(stdout);
  check(mpmp_process_destroy(p), "destroy");
  return mpmp_finalize() == 0 ? 0 : 1;
}
