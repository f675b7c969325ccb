/* A job that blocks in mpmp until it is killed, for
 * tests/scripts/launcher_signals.sh, which checks that killing or
 * interrupting scripts/run-mpi.sh ends the whole job:
 *
 *   launcher_block TOKEN
 *
 * Every worker rank runs a Process that waits on an Event nobody sets, and
 * the main rank waits on it too, after printing READY: each rank is
 * blocked inside mpmp (asleep, as mpmp's waits are), not in a plain sleep.
 * TOKEN only marks the command line, so that the script can tell whether
 * any process of this job is left. */
#include <stdio.h>
#include <stdlib.h>

#include <mpmp.h>

/* Longer than any test's patience: the job must end by a signal. */
#define BLOCK_S 300.0

static void die(const char *what, int rc) {
  fprintf(stderr, "launcher_block: %s: %s: %s\n", what, mpmp_err_name(rc),
          mpmp_errmsg());
  exit(1);
}

static int block(mpmp_ctx_t *ctx) {
  const mpmp_event_t *ev = mpmp_arg(ctx, NULL);
  return mpmp_event_wait(*ev, BLOCK_S);
}
MPMP_TASK(block);

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  if (rc < 0)
    die("mpmp_init", rc);
  mpmp_event_t ev;
  if ((rc = mpmp_event_create(&ev)) != 0)
    die("mpmp_event_create", rc);
  int n = mpmp_worker_count();
  for (int i = 0; i < n; i++) {
    mpmp_process_t *p = NULL;
    if ((rc = mpmp_process_create(&p, block, &ev, sizeof ev, NULL)) != 0)
      die("mpmp_process_create", rc);
    if ((rc = mpmp_process_start(p)) != 0)
      die("mpmp_process_start", rc);
  }
  printf("READY: %d ranks blocked\n", n + 1);
  fflush(stdout);
  rc = mpmp_event_wait(ev, BLOCK_S);
  fprintf(stderr, "launcher_block: never killed (%s)\n", mpmp_err_name(rc));
  return 1;
}
