/*
 * mpmp_finalize with runaway tasks (issue 14): a daemon Process (in a task
 * host by default) and an isolated pool's task, both ignoring the stop
 * request, are killed after MPMP_TERM_GRACE; finalize returns within the
 * grace + 2 s, the job ends cleanly, and no host process is left behind.
 * Prints "PASSED: finalize-runaway: <seconds>" (ctest checks it).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpitest.h"

static int ignore_stop(mpmp_ctx_t *ctx) {
  (void)ctx;
  for (;;)
    usleep(1000);
  return 0;
}
MPMP_TASK(ignore_stop);

int main(int argc, char **argv) {
  int rc = test_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  int in_rank = argc > 1 && strcmp(argv[1], "in-rank") == 0;
  if (rc < 0 || mpmp_worker_count() < (in_rank ? 1 : 2)) {
    fprintf(stderr, "FAILED: needs mpmp_init and 2 workers\n");
    return 1;
  }
  if (in_rank) {
    /* A task in the worker rank that ignores the stop: no host to kill,
     * and finalize waited for it for ever (the job never ended). It
     * aborts the job after the grace now, saying why (ctest checks). */
    mpmp_pool_opts_t never = {.isolate = MPMP_ISOLATE_NEVER, .processes = 1};
    mpmp_pool_t *pool = NULL;
    mpmp_async_t *res = NULL;
    if (mpmp_pool_create(&pool, &never) < 0 ||
        mpmp_pool_apply_async(pool, ignore_stop, NULL, 0, NULL, NULL, &res) <
            0) {
      fprintf(stderr, "FAILED: setup: %s\n", mpmp_errmsg());
      return 1;
    }
    usleep(200000);
    mpmp_finalize();
    fprintf(stderr, "FAILED: finalize returned\n");
    return 1;
  }
  mpmp_process_t *p = NULL;
  mpmp_process_opts_t po = {.daemon = 1};
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_ALWAYS, .processes = 1};
  mpmp_async_t *res = NULL;
  if (mpmp_process_create(&p, ignore_stop, NULL, 0, &po) < 0 ||
      mpmp_process_start(p) < 0 || mpmp_pool_create(&pool, &o) < 0 ||
      mpmp_pool_apply_async(pool, ignore_stop, NULL, 0, NULL, NULL, &res) <
          0) {
    fprintf(stderr, "FAILED: setup: %s\n", mpmp_errmsg());
    return 1;
  }
  usleep(200000); /* both run now */
  double grace = atof(getenv("MPMP_TERM_GRACE") ? getenv("MPMP_TERM_GRACE")
                                                 : "5");
  double t0 = test_now();
  rc = mpmp_finalize();
  double took = test_now() - t0;
  if (rc < 0 || took > grace + 2) {
    fprintf(stderr, "FAILED: finalize returned %d after %.2f s: %s\n", rc,
            took, mpmp_errmsg());
    return 1;
  }
  printf("PASSED: finalize-runaway: %.2f s\n", took);
  return 0;
}
