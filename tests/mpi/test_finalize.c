/*
 * At mpmp_finalize() non-daemon processes are joined and daemon ones are
 * terminated, as Python does at exit. A program that breaks the rules
 * gets errors, not a crash or a hang: mpmp_finalize() from two threads at
 * once, from a pool's callback while it runs, and twice; mpmp_init() and
 * mpmp_finalize() on a worker rank after the job ended there.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpitest.h"

/* Long enough to be running when mpmp_finalize() terminates the pool. */
static int slow_item(mpmp_ctx_t *ctx) {
  for (int i = 0; i < 2000 && !mpmp_should_stop(ctx); i++)
    test_sleep(0.001);
  return 0;
}
MPMP_TASK(slow_item);

static _Atomic int cb_rc = 1;
static void finalize_in_callback(mpmp_async_t *res, int ok, void *user) {
  (void)res, (void)ok, (void)user;
  cb_rc = mpmp_finalize(); /* must be refused: finalize is running */
}

static pthread_barrier_t two;
static int fin_rc[2];
static void *finalize_thread(void *arg) {
  int *rc = arg;
  pthread_barrier_wait(&two);
  *rc = mpmp_finalize();
  return NULL;
}

static int short_body(mpmp_ctx_t *ctx) {
  test_sleep(0.3);
  *(int *)mpmp_out(ctx, sizeof(int)) = 123;
  return 0;
}
MPMP_TASK(short_body);

static int daemon_body(mpmp_ctx_t *ctx) {
  while (!mpmp_should_stop(ctx))
    test_sleep(0.001);
  return 0;
}
MPMP_TASK(daemon_body);

#define FAIL(...) do { fprintf(stderr, "FAILED: " __VA_ARGS__); fprintf(stderr, "\n"); return 1; } while (0)

/* A worker rank whose job ended: mpmp cannot start again (mpmp started
 * MPI and finalized it), and nothing is left to finalize. */
static int worker_after_the_end(int *argc, char ***argv) {
  if (mpmp_init(argc, argv) != MPMP_EALREADY) {
    fprintf(stderr, "FAILED: mpmp_init on a worker after the end: %s\n",
            mpmp_errmsg());
    return 1;
  }
  if (mpmp_finalize() != MPMP_ENOTINIT) {
    fprintf(stderr, "FAILED: mpmp_finalize on a worker: %s\n", mpmp_errmsg());
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return worker_after_the_end(&argc, &argv);
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
  /* A map still running at finalize, whose callback calls finalize. */
  int in[4] = {0, 1, 2, 3}, out[4];
  mpmp_pool_t *pool = NULL;
  mpmp_async_t *res = NULL, *ap = NULL;
  mpmp_pool_opts_t popt = {.processes = 1};
  int with_pool = mpmp_worker_count() >= 3; /* a third worker for it */
  if (with_pool &&
      (mpmp_pool_create(&pool, &popt) != 0 ||
       mpmp_pool_map_async(pool, slow_item, in, 4, sizeof *in, out,
                           sizeof *out, 1, finalize_in_callback, NULL,
                           &res) != 0 ||
       mpmp_pool_apply_async(pool, slow_item, in, sizeof *in, NULL, NULL,
                             &ap) != 0))
    FAIL("pool: %s", mpmp_errmsg());
  /* Finalize from two threads at once: one does it, the other is told. */
  pthread_t t[2];
  pthread_barrier_init(&two, NULL, 2);
  for (int i = 0; i < 2; i++)
    pthread_create(&t[i], NULL, finalize_thread, &fin_rc[i]);
  for (int i = 0; i < 2; i++)
    pthread_join(t[i], NULL);
  if (!((fin_rc[0] == 0 && fin_rc[1] == MPMP_ENOTINIT) ||
        (fin_rc[1] == 0 && fin_rc[0] == MPMP_ENOTINIT)))
    FAIL("finalize from two threads: %s and %s", mpmp_err_name(fin_rc[0]),
         mpmp_err_name(fin_rc[1]));
  if (with_pool && cb_rc >= 0)
    FAIL("mpmp_finalize in a callback during finalize returned %d", cb_rc);
  if (mpmp_finalize() != MPMP_ENOTINIT)
    FAIL("a second mpmp_finalize: %s", mpmp_errmsg());
  /* What finalize ended is read after it, as before it (the headers:
   * results stay valid), failures and their messages too; it was
   * ENOTINIT, so a future finalize failed could never say why. */
  if (with_pool) {
    if (mpmp_async_get(res, 0) != MPMP_ETASK)
      FAIL("the map's result after finalize: %s", mpmp_errmsg());
    if (mpmp_async_wait(ap, 0) != 0 || mpmp_async_get(ap, 5) != MPMP_ETASK ||
        strstr(mpmp_errmsg(), "terminated") == NULL)
      FAIL("the apply's result after finalize: %s", mpmp_errmsg());
    const char *why = NULL;
    if (mpmp_async_failed_count(ap) != 1 ||
        mpmp_async_failure(ap, 0, NULL, NULL, &why) != 0 ||
        strstr(why, "terminated") == NULL)
      FAIL("the apply's failure after finalize: %s", mpmp_errmsg());
    if (mpmp_future_exception(ap, 0, &why) != 0 || why == NULL ||
        strstr(why, "terminated") == NULL)
      FAIL("the apply's exception after finalize: %s", mpmp_errmsg());
    mpmp_async_destroy(ap);
    mpmp_async_destroy(res);
    mpmp_pool_destroy(pool);
  }
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
