/*
 * A map that survives a crashing task (README, "When a task crashes").
 * Python's ProcessPoolExecutor would raise BrokenProcessPool and be
 * unusable; here the one bad record fails its item with MPMP_ECRASHED,
 * every other result is in place, and the pool maps on.
 *
 * The "parser" crashes with SIGSEGV on a record marked bad, as a real
 * parser with a bug might on one malformed line (it raises the signal
 * itself: a NULL dereference would be undefined behaviour, which the
 * sanitizer builds report before the crash).
 *
 *   mpirun -n 3 build/apps/examples/pool_isolated
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <mpmp.h>

typedef struct {
  int id;
  int bad; /* the record that trips the parser's bug */
} record_t;

static int parse(mpmp_ctx_t *ctx) {
  const record_t *r = mpmp_arg(ctx, NULL);
  long *out = mpmp_out(ctx, sizeof *out);
  if (r->bad)
    raise(SIGSEGV);
  *out = 10L * r->id;
  return 0;
}
MPMP_TASK(parse);

static void check(int rc, const char *what) {
  if (rc < 0) {
    if (!mpmp_is_main()) /* init failed on every rank: rank 0 says so; */
      exit(0);           /* the others end quietly (exit 1 could end the
                            job before its message is out) */
    fprintf(stderr, "%s failed: %s\n", what, mpmp_errmsg());
    exit(1);
  }
}

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  check(rc, "mpmp_init");

  enum { N = 8 };
  record_t in[N];
  long out[N];
  for (int i = 0; i < N; i++)
    in[i] = (record_t){.id = i, .bad = i == 5};

  mpmp_pool_t *pool;
  mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_ALWAYS,
                        .task_timeout = 60}; /* seconds per item; 0: none */
  check(mpmp_pool_create(&pool, &o), "Pool");
  mpmp_async_t *res;
  check(mpmp_pool_map_async(pool, parse, in, N, sizeof *in, out, sizeof *out,
                            0, NULL, NULL, &res), "map_async");
  rc = mpmp_async_get(res, MPMP_FOREVER);
  printf("map: %s\n", mpmp_err_name(rc));
  for (int k = 0; k < mpmp_async_failed_count(res); k++) {
    size_t index;
    const char *msg;
    check(mpmp_async_failure(res, k, &index, NULL, &msg), "failure");
    printf("item %zu failed: %s\n", index, msg);
  }
  for (int i = 0; i < N; i++)
    if (i != 5)
      printf("%ld%s", out[i], i + 1 < N ? " " : "\n");
  mpmp_async_destroy(res);

  /* The pool is still there: the next map runs as if nothing happened. */
  in[5].bad = 0;
  check(mpmp_pool_map(pool, parse, in, N, sizeof *in, out, sizeof *out, 0),
        "map again");
  printf("again: item 5 = %ld\n", out[5]);

  check(mpmp_pool_destroy(pool), "Pool.close/join");
  return mpmp_finalize() < 0;
}
