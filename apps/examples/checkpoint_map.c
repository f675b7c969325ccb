/*
 * A long map that survives the end of its batch job: run it with
 * MPMP_CHECKPOINT=DIR, stop it (the walltime, SIGUSR1 or SIGTERM to
 * mpirun, even SIGKILL), run it again with the same DIR, and it runs only
 * the items that were not done (README, "Long jobs: checkpoint and
 * resume"; scripts/slurm.sbatch resubmits it by itself).
 *
 *   MPMP_CHECKPOINT=ckpt mpirun -n 3 build/apps/examples/checkpoint_map
 *
 * The program needs no change for it: each map finds its own journal.
 * When a stop cuts the map short it returns MPMP_EINTERRUPTED, and main
 * returns it: the exit status is then MPMP_EXIT_INTERRUPTED (75), which
 * a batch script tests to resubmit the job.
 *
 * Options: --items N (default 2000), --item-ms MS (each item's work,
 * default 2), --mode map|imap|exmap|exstream (Pool.map, Pool.imap,
 * Executor.map, Executor.map with a producer), --out FILE (write
 * "index result" lines, or "index FAILED message"), --seed S (another
 * input), --chunk C (items per chunk; 0, the default: as the call
 * chooses; imap: 16). Every item x with x % 97 == 13 fails, so that failures are
 * resumed too. A bad value (not a number, out of range) exits with 2, too
 * many items for the memory with 1. It prints how many items this run ran and how many came
 * from the checkpoint.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep, strdup */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpmp.h>

#include "../args.h"

static mpmp_value_t runs; /* items run by this run (all workers) */
static double item_ms = 2;

static int count_runs(mpmp_ctx_t *ctx) { /* the pool's initializer */
  memcpy(&runs, mpmp_arg(ctx, NULL), sizeof runs);
  return 0;
}
MPMP_TASK(count_runs);

static int work(mpmp_ctx_t *ctx) {
  const long long *x = mpmp_arg(ctx, NULL);
  if (item_ms > 0) {
    struct timespec ts = {(time_t)(item_ms / 1000),
                          (long)(item_ms * 1e6) % 1000000000L};
    nanosleep(&ts, NULL);
  }
  mpmp_value_add(runs, 1, NULL);
  if (*x % 97 == 13)
    return mpmp_fail(ctx, "item %lld is unlucky", *x);
  *(long long *)mpmp_out(ctx, sizeof(long long)) = *x * *x + 7;
  return 0;
}
MPMP_TASK(work);

typedef struct {
  long long next, n, seed;
} producer_t;

static int produce(void *user, void *item) {
  producer_t *p = user;
  if (p->next == p->n)
    return 0;
  *(long long *)item = 3 * p->next++ + p->seed;
  return 1;
}

static int usage_to(FILE *to, const char *prog) {
  fprintf(to, "usage: %s [--items N] [--item-ms MS] [--mode "
          "map|imap|exmap|exstream] [--out FILE] [--seed S] [--chunk C]\n", prog);
  return 2;
}

static int usage(const char *prog) {
  return usage_to(stderr, prog);
}

int main(int argc, char **argv) {
  long long n = 2000, seed = 1, chunk = 0;
  const char *mode = "map", *outpath = NULL, *prog = "checkpoint_map";
  /* Items x = 3 i + seed, and each result x * x + 7, must fit a long long:
   * hence 10^9 items at most and a small seed. */
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int bad = 0;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage_to(stdout, argv[0]); /* asked for: exit 0 */
      return 0;
    }
    if (v != NULL && !strcmp(a, "--items"))
      bad = mpmp_app_int(prog, a, v, 1, 1000000000LL, &n);
    else if (v != NULL && !strcmp(a, "--item-ms"))
      bad = mpmp_app_real(prog, a, v, 0, 3600e3, &item_ms);
    else if (v != NULL && !strcmp(a, "--mode"))
      mode = v;
    else if (v != NULL && !strcmp(a, "--out"))
      outpath = v;
    else if (v != NULL && !strcmp(a, "--seed"))
      bad = mpmp_app_int(prog, a, v, -1000000, 1000000, &seed);
    else if (v != NULL && !strcmp(a, "--chunk"))
      bad = mpmp_app_int(prog, a, v, 0, 1000000000LL, &chunk);
    else {
      char word[64];
      snprintf(word, sizeof word, " %s ", a);
      int known = v == NULL && strstr(" --items --item-ms --mode --out "
                                      "--seed --chunk ", word) != NULL;
      fprintf(stderr, "%s: %s '%s'\n", prog,
              known ? "no value after" : "unknown option", a);
      return usage(argv[0]);
    }
    if (bad)
      return 2;
    i++;
  }
  if (strcmp(mode, "map") && strcmp(mode, "imap") && strcmp(mode, "exmap") &&
      strcmp(mode, "exstream")) {
    fprintf(stderr, "%s: --mode '%s' is not one of map, imap, exmap, "
            "exstream\n", prog, mode);
    return usage(argv[0]);
  }
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  if (rc < 0) {
    if (!mpmp_is_main()) /* failed on every rank: rank 0 says so */
      return 0;
    fprintf(stderr, "mpmp_init: %s\n", mpmp_errmsg());
    return rc == MPMP_ECHECKPOINT ? 3 : 1;
  }

  long long *in = mpmp_app_alloc(prog, (size_t)n, sizeof *in, "the items");
  long long *out = in ? mpmp_app_alloc(prog, (size_t)n, sizeof *out,
                                       "the results") : NULL;
  char **why = out ? mpmp_app_alloc(prog, (size_t)n, sizeof *why,
                                    "the failures") : NULL;
  if (why == NULL) {
    free(in);
    free(out);
    mpmp_finalize();
    return 1;
  }
  for (long long i = 0; i < n; i++)
    in[i] = 3 * i + seed;
  mpmp_value_create(&runs, MPMP_INT64, NULL, 0);

  mpmp_pool_t *pool = NULL;
  mpmp_executor_t *ex = NULL;
  mpmp_async_t *res = NULL;
  mpmp_imap_t *it = NULL;
  producer_t prod = {0, n, seed};
  size_t resumed = 0;
  if (!strncmp(mode, "ex", 2)) {
    mpmp_executor_opts_t eo = {.initializer = count_runs, .initarg = &runs,
                               .initarg_size = sizeof runs};
    rc = mpmp_executor_create(&ex, &eo);
  } else {
    mpmp_pool_opts_t po = {.initializer = count_runs, .initarg = &runs,
                           .initarg_size = sizeof runs};
    rc = mpmp_pool_create(&pool, &po);
  }
  if (rc == 0 && !strcmp(mode, "map")) {
    rc = mpmp_pool_map_async(pool, work, in, (size_t)n, sizeof *in, out,
                             sizeof *out, (size_t)chunk, NULL, NULL, &res);
    if (rc == 0) {
      rc = mpmp_async_get(res, MPMP_FOREVER);
      mpmp_async_resumed(res, &resumed);
      for (int k = 0; k < mpmp_async_failed_count(res); k++) {
        size_t idx;
        const char *msg;
        if (mpmp_async_failure(res, k, &idx, NULL, &msg) == 0)
          why[idx] = strdup(msg);
      }
    }
  } else if (rc == 0 && !strcmp(mode, "exmap")) {
    rc = mpmp_executor_map(ex, work, in, (size_t)n, sizeof *in, out,
                           sizeof *out, (size_t)chunk, MPMP_FOREVER);
    /* Executor.map names the first failure only (mpmp_errmsg()), as
     * Python's raises at the first: a failed item's slot stays as calloc
     * left it, 0, which no result is (x * x + 7 >= 7). */
    for (long long i = 0; rc == MPMP_ETASK && i < n; i++)
      if (out[i] == 0)
        why[i] = strdup("no result (Executor.map names only its first "
                        "failure)");
  } else if (rc == 0) { /* imap, exstream: results in order */
    rc = !strcmp(mode, "imap")
             ? mpmp_pool_imap(pool, work, produce, &prod, sizeof *in,
                              sizeof *out, chunk ? (size_t)chunk : 16, 0, &it)
             : mpmp_executor_map_stream(ex, work, produce, &prod, sizeof *in,
                                        sizeof *out,
                                        chunk ? (size_t)chunk : 16, 0,
                                        &it);
    for (long long i = 0; rc == 0 && i < n; i++) {
      size_t idx = 0;
      int r = mpmp_imap_next(it, &out[i], &idx, MPMP_FOREVER);
      if (r == MPMP_ETASK)
        why[idx] = strdup(mpmp_errmsg());
      else if (r < 0)
        rc = r;
    }
    if (it != NULL)
      mpmp_imap_resumed(it, &resumed);
  }
  int final = rc;
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", rc < 0 ? mpmp_errmsg() : "");
  int64_t ran = 0;
  mpmp_value_get_i64(runs, &ran);
  mpmp_async_destroy(res);
  mpmp_imap_destroy(it);
  mpmp_pool_destroy(pool);
  if (ex != NULL)
    mpmp_executor_destroy(ex);
  printf("checkpoint_map: %s of %lld items: ran %lld here, %zu from the "
         "checkpoint: %s\n", mode, n, (long long)ran, resumed,
         final == 0 || final == MPMP_ETASK ? "done" : mpmp_err_name(final));
  if (final < 0 && final != MPMP_ETASK)
    fprintf(stderr, "checkpoint_map: %s\n", msg);
  if (outpath != NULL && (final == 0 || final == MPMP_ETASK)) {
    FILE *f = fopen(outpath, "w");
    for (long long i = 0; f && i < n; i++) {
      if (why[i] != NULL) /* imap's message names the rank: keep the cause */
        fprintf(f, "%lld FAILED %s\n", i,
                strrchr(why[i], ':') ? strrchr(why[i], ':') + 2 : why[i]);
      else
        fprintf(f, "%lld %lld\n", i, out[i]);
    }
    if (f == NULL || ferror(f) || fclose(f) != 0) { /* a result lost */
      fprintf(stderr, "checkpoint_map: --out '%s' could not be written: "
              "%s\n", outpath, strerror(errno));
      final = 1;
    }
  }
  for (long long i = 0; i < n; i++)
    free(why[i]);
  free(why);
  free(in);
  free(out);
  mpmp_value_free(runs);
  mpmp_finalize();
  /* a stopped map: 75, to be requeued (MPMP_EXIT_INTERRUPTED); any other
   * error of mpmp's 1, not its code's low byte */
  return final == MPMP_ETASK            ? 0
         : final == MPMP_EINTERRUPTED ? MPMP_EXIT_INTERRUPTED
         : final < 0                  ? 1
                                      : final;
}
