/*
 * At mpmp_finalize() non-daemon processes are joined and daemon ones are
 * terminated, as Python does at exit; bad MPMP_* values fail init cleanly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <mpmp.h>

static int short_body(mpmp_ctx_t *ctx) {
  struct timespec ts = {0, 300 * 1000 * 1000};
  nanosleep(&ts, NULL);
  *(int *)mpmp_out(ctx, sizeof(int)) = 123;
  return 0;
}
MPMP_TASK(short_body);

static int daemon_body(mpmp_ctx_t *ctx) {
  struct timespec ts = {0, 1000 * 1000};
  while (!mpmp_should_stop(ctx))
    nanosleep(&ts, NULL);
  return 0;
}
MPMP_TASK(daemon_body);

#define FAIL(...) do { fprintf(stderr, "FAILED: " __VA_ARGS__); fprintf(stderr, "\n"); return 1; } while (0)

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  if (rc < 0)
    FAIL("init: %s", mpmp_errmsg());
  if (mpmp_worker_count() < 2)
    FAIL("needs 2 workers");
  mpmp_process_t *p, *d;
  mpmp_process_opts_t dopt = {.daemon = 1};
  mpmp_process_create(&p, short_body, NULL, 0, NULL);
  mpmp_process_create(&d, daemon_body, NULL, 0, &dopt);
  if (mpmp_process_start(p) || mpmp_process_start(d))
    FAIL("start: %s", mpmp_errmsg());
  if (mpmp_finalize() != 0)
    FAIL("finalize: %s", mpmp_errmsg());
  int pc = -1, dc = -1;
  const int *v = NULL;
  if (mpmp_process_exitcode(p, &pc) || pc != 0)
    FAIL("non-daemon was not joined (exitcode %d)", pc);
  if (mpmp_process_result(p, (const void **)&v, NULL) || !v || *v != 123)
    FAIL("non-daemon result lost");
  if (mpmp_process_exitcode(d, &dc) || dc != MPMP_EXIT_TERMINATED)
    FAIL("daemon was not terminated (exitcode %d)", dc);
  if (mpmp_rank() != MPMP_ENOTINIT)
    FAIL("calls after finalize must fail with MPMP_ENOTINIT");
  mpmp_process_destroy(p);
  mpmp_process_destroy(d);
  printf("finalize: ok\n");
  return 0;
}
