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

/* "stuck-puts": a Queue of another node, full, and puts pipelined to it
 * that wait there for room; a consumer takes them only after finalize has
 * waited 10 s. */
typedef struct stuck {
  int op, expect;
  mpmp_queue_t q;
} stuck_t;

static int stuck_body(mpmp_ctx_t *ctx) {
  const stuck_t *a = mpmp_arg(ctx, NULL);
  int i = 0, got = 0, x;
  size_t n;
  switch (a->op) {
  case 0: { /* the queue, on this (the other) node */
    stuck_t *r = mpmp_out(ctx, sizeof *r);
    *r = *a;
    return mpmp_queue_create(&r->q, 64, sizeof(int)) < 0
               ? mpmp_fail(ctx, "%s", mpmp_errmsg())
               : 0;
  }
  case 1: /* fill it */
    while (mpmp_queue_put(a->q, &i, sizeof i, 0) == 0)
      i++;
    *(int *)mpmp_out(ctx, sizeof i) = i;
    return 0;
  default: /* take everything, late */
    usleep(11 * 1000 * 1000);
    while (mpmp_queue_get(a->q, &x, sizeof x, &n, 2) == 0)
      got++;
    return got == a->expect ? 0
                            : mpmp_fail(ctx, "took %d items, not %d", got,
                                        a->expect);
  }
}
MPMP_TASK(stuck_body);

static mpmp_process_t *stuck_run(stuck_t *a, int wait) {
  mpmp_process_t *p = NULL;
  if (mpmp_process_create(&p, stuck_body, a, sizeof *a, NULL) < 0 ||
      mpmp_process_start(p) < 0 || (wait && mpmp_process_join(p, 30) < 0)) {
    fprintf(stderr, "FAILED: a process: %s\n", mpmp_errmsg());
    exit(1);
  }
  return p;
}

/* Finalize waits for puts that wait on another node, as Python's exit
 * waits for its feeder thread, but no longer in silence (helper 67): it
 * says why after 10 s, and goes on once a consumer takes them. */
static int stuck_puts(void) {
  stuck_t a = {0};
  const void *d;
  mpmp_process_t *p = stuck_run(&a, 1);
  if (strcmp(mpmp_process_node(p), mpmp_node_name()) == 0 ||
      mpmp_process_result(p, &d, NULL) < 0) {
    fprintf(stderr, "FAILED: the queue's process ran on the main node\n");
    return 1;
  }
  memcpy(&a, d, sizeof a);
  mpmp_process_destroy(p);
  int v = 0, filled = 0, k = 0;
  if (mpmp_queue_put(a.q, &v, sizeof v, 0) < 0) { /* (credits come back) */
    fprintf(stderr, "FAILED: first put: %s\n", mpmp_errmsg());
    return 1;
  }
  a.op = 1;
  p = stuck_run(&a, 1);
  mpmp_process_result(p, &d, NULL);
  memcpy(&filled, d, sizeof filled);
  mpmp_process_destroy(p);
  /* the consumer first (a start waits for this rank's puts to land),
   * told how many items come: the first, the filler's and 31 more (the
   * credits the first put's reply gave) */
  a.op = 2;
  a.expect = 1 + filled + 31;
  p = stuck_run(&a, 0);
  while (k < 31 && mpmp_queue_put(a.q, &k, sizeof k, 0) == 0)
    k++; /* pipelined: they wait on the queue's node */
  double t0 = test_now();
  int rc = mpmp_finalize(), code = -1;
  mpmp_process_exitcode(p, &code);
  if (rc < 0 || code != 0 || k != 31) {
    fprintf(stderr, "FAILED: finalize %d after %.1f s, the consumer's exit "
            "code %d (%d pipelined puts): %s\n", rc, test_now() - t0, code, k,
            mpmp_process_errmsg(p));
    return 1;
  }
  printf("PASSED: %d pipelined puts delivered after %.1f s\n", k,
         test_now() - t0);
  return 0;
}

/* Sleeps 2.5 s, deaf to mpmp_should_stop(): a long item. */
static int long_item(mpmp_ctx_t *ctx) {
  (void)ctx;
  usleep(2500 * 1000);
  return 0;
}
MPMP_TASK(long_item);

/* "after-stop": a stop (SIGUSR1, as Slurm's --signal sends) while such an
 * item runs in its worker rank, then finalize, as a program that exits to
 * be requeued does: the item gets the stop's reserve (2 x
 * MPMP_STOP_GRACE), not the job's abort after MPMP_TERM_GRACE. */
static int after_stop(void) {
  mpmp_pool_opts_t never = {.isolate = MPMP_ISOLATE_NEVER, .processes = 1};
  mpmp_pool_t *pool = NULL;
  mpmp_async_t *res = NULL;
  if (mpmp_pool_create(&pool, &never) < 0 ||
      mpmp_pool_apply_async(pool, long_item, NULL, 0, NULL, NULL, &res) < 0) {
    fprintf(stderr, "FAILED: setup: %s\n", mpmp_errmsg());
    return 1;
  }
  usleep(200000);
  raise(SIGUSR1);
  double t0 = test_now();
  int rc = mpmp_finalize();
  if (rc < 0) {
    fprintf(stderr, "FAILED: finalize: %s\n", mpmp_errmsg());
    return 1;
  }
  printf("PASSED: finalize-after-stop: %.2f s\n", test_now() - t0);
  return 0;
}

int main(int argc, char **argv) {
  int rc = test_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  int in_rank = argc > 1 && strcmp(argv[1], "in-rank") == 0;
  if (rc >= 0 && argc > 1 && strcmp(argv[1], "stuck-puts") == 0)
    return stuck_puts();
  if (rc >= 0 && argc > 1 && strcmp(argv[1], "after-stop") == 0)
    return after_stop();
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
