/*
 * The main() of every MPI test: mpmp_init on all ranks, the CMocka group on
 * the main rank only (workers serve it), mpmp_finalize. A failing group or
 * finalize makes the job exit non-zero. MPMP_TEST_FILTER=pattern (CMocka's
 * wildcards) runs only the matching tests: a debugging aid, e.g.
 *   scripts/run-mpi.sh -x MPMP_TEST_FILTER='queue_stress*' -n 4 build/tests/test_queue
 */
#ifndef MPMP_MPITEST_H
#define MPMP_MPITEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <cmocka.h>

#include <mpmp.h>

static inline double test_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void test_sleep(double s) {
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  nanosleep(&ts, NULL);
}

#define MPMP_TEST_MAIN(tests)                                            \
  int main(int argc, char **argv) {                                      \
    int rc_ = mpmp_init(&argc, &argv);                                   \
    if (rc_ == MPMP_WORKER_DONE)                                         \
      return 0;                                                          \
    if (rc_ < 0) {                                                       \
      fprintf(stderr, "mpmp_init: %s: %s\n", mpmp_err_name(rc_),         \
              mpmp_errmsg());                                            \
      return 1;                                                          \
    }                                                                    \
    const char *filter_ = getenv("MPMP_TEST_FILTER");                    \
    if (filter_ != NULL && *filter_ != '\0')                             \
      cmocka_set_test_filter(filter_);                                   \
    int failed_ = cmocka_run_group_tests(tests, NULL, NULL);             \
    int fin_ = mpmp_finalize();                                          \
    if (fin_ < 0)                                                        \
      fprintf(stderr, "mpmp_finalize: %s\n", mpmp_errmsg());             \
    return (failed_ || fin_ < 0) ? 1 : 0;                                \
  }

#endif /* MPMP_MPITEST_H */
