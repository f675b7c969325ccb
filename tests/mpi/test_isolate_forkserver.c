/*
 * A worker's task-host fork server killed (as the OOM killer might) in the
 * middle of an isolated map: the items that worker could not run go to
 * the pool's other workers, not counted as runs (max_retries), so only
 * the items that crash by themselves fail; the pool deals that worker
 * nothing more and goes on mapping. Once no worker of the pool has a fork
 * server, isolated items fail saying so. Cases run in order: each kills
 * fork servers for the rest of the job.
 */
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "mpitest.h"

/* Where an item ran: the worker's rank, and its task host's parent, the
 * worker's fork server. */
typedef struct where {
  int32_t rank, server;
  int64_t x;
} where_t;

static int where_am_i(mpmp_ctx_t *ctx) {
  const int64_t *x = mpmp_arg(ctx, NULL);
  where_t *w = mpmp_out(ctx, sizeof *w);
  struct timespec ts = {0, 20 * 1000 * 1000}; /* both workers get some */
  nanosleep(&ts, NULL);
  *w = (where_t){.rank = mpmp_rank(), .server = (int32_t)getppid(), .x = *x};
  return 0;
}
MPMP_TASK(where_am_i);

/* 0.1 s an item; items x % 10 == 9 crash (every run of them). */
static int square_slowly(mpmp_ctx_t *ctx) {
  const int64_t *x = mpmp_arg(ctx, NULL);
  struct timespec ts = {0, 100 * 1000 * 1000};
  nanosleep(&ts, NULL);
  if (*x % 10 == 9)
    raise(SIGSEGV);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = *x * *x;
  return 0;
}
MPMP_TASK(square_slowly);

enum { NW = 32 };

/* Map where_am_i over NW items: the fork server of each rank that ran
 * some (servers[rank], 0 for the others), and whether rank `not` ran
 * none of them. */
static void find_servers(mpmp_pool_t *pool, int32_t *servers, int nranks,
                         int not) {
  int64_t in[NW];
  where_t out[NW];
  for (int i = 0; i < NW; i++)
    in[i] = i;
  OK(mpmp_pool_map(pool, where_am_i, in, NW, sizeof *in, out, sizeof *out,
                   1));
  for (int r = 0; r < nranks; r++)
    servers[r] = 0;
  for (int i = 0; i < NW; i++) {
    EQ(out[i].x, i);
    if (out[i].rank < 1 || out[i].rank >= nranks || out[i].server <= 1)
      fail_msg("item %d ran on rank %d under %d", i, out[i].rank,
               out[i].server);
    if (out[i].rank == not)
      fail_msg("item %d ran on rank %d, whose fork server was killed", i,
               not);
    servers[out[i].rank] = out[i].server;
  }
}

static void close_join_destroy(mpmp_pool_t *pool) {
  OK(mpmp_pool_close(pool));
  OK(mpmp_pool_join(pool, T_OUT));
  OK(mpmp_pool_destroy(pool));
}

static int32_t servers[MAXW + 1];
static int killed_rank = -1;

static void forkserver_killed_mid_map(void **state) {
  (void)state;
  if (test_hosts_off() || nworkers() < 2)
    skip(); /* (no other worker to take the items over) */
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_ALWAYS, .max_retries = 2};
  OK(mpmp_pool_create(&pool, &o));
  int nranks = imin(mpmp_world_size(), MAXW + 1);
  find_servers(pool, servers, nranks, -1);
  for (int r = 1; r < nranks && killed_rank < 0; r++)
    if (servers[r] > 0)
      killed_rank = r;
  if (killed_rank < 0)
    fail_msg("no worker ran an item");
  enum { N = 60 };
  int64_t in[N], out[N];
  for (int i = 0; i < N; i++)
    in[i] = i, out[i] = -1;
  mpmp_async_t *res = NULL;
  OK(mpmp_pool_map_async(pool, square_slowly, in, N, sizeof *in, out,
                         sizeof *out, 1, NULL, NULL, &res));
  test_sleep(0.5);
  EQ(mpmp_async_ready(res), 0); /* in the middle of the map */
  EQ(kill(servers[killed_rank], SIGKILL), 0);
  RC(mpmp_async_get(res, 60), MPMP_ECRASHED);
  /* the crashing items, each after its 3 runs, and nothing else */
  EQ(mpmp_async_failed_count(res), N / 10);
  for (int k = 0; k < N / 10; k++) {
    size_t index = 0;
    int rank = -1;
    const char *msg = NULL;
    OK(mpmp_async_failure(res, k, &index, &rank, &msg));
    EQ(index, 10 * k + 9);
    if (strstr(msg, "crashed on item") == NULL ||
        strstr(msg, "(3 attempts)") == NULL)
      fail_msg("item %zu: '%s'", index, msg);
  }
  for (int i = 0; i < N; i++)
    if (i % 10 != 9 && out[i] != (int64_t)i * i)
      fail_msg("item %d: %lld, expected %d", i, (long long)out[i], i * i);
  mpmp_async_destroy(res);
  /* the pool goes on, without that worker */
  int32_t now[MAXW + 1];
  find_servers(pool, now, nranks, killed_rank);
  close_join_destroy(pool);
}

/* Every worker's fork server killed: isolated items fail, saying why,
 * and so does an isolated Process; the pool still closes. */
static int nothing(mpmp_ctx_t *ctx) {
  (void)ctx;
  return 0;
}
MPMP_TASK(nothing);

static void no_forkserver_left(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_ALWAYS, .max_retries = 1};
  OK(mpmp_pool_create(&pool, &o));
  int nranks = imin(mpmp_world_size(), MAXW + 1);
  int32_t live[MAXW + 1];
  find_servers(pool, live, nranks, killed_rank);
  for (int r = 1; r < nranks; r++)
    if (live[r] > 0)
      EQ(kill(live[r], SIGKILL), 0);
  test_sleep(0.1);
  enum { N = 12 };
  int64_t in[N], out[N];
  for (int i = 0; i < N; i++)
    in[i] = i, out[i] = -1;
  RC(mpmp_pool_map(pool, square_slowly, in, N, sizeof *in, out, sizeof *out,
                   2),
     MPMP_ECRASHED);
  HAS_MSG("fork server");
  HAS_MSG("died");
  HAS_MSG("no worker of the pool has a task host any more");
  if (strstr(mpmp_errmsg(), "MPMP_ISOLATE") != NULL)
    fail_msg("'%s' blames MPMP_ISOLATE", mpmp_errmsg());
  close_join_destroy(pool);
  /* a Process that must run in a host says why it cannot */
  mpmp_process_t *p = NULL;
  mpmp_process_opts_t po = {.isolate = MPMP_ISOLATE_ALWAYS};
  OK(mpmp_process_create(&p, nothing, NULL, 0, &po));
  OK(mpmp_process_start(p));
  OK(mpmp_process_join(p, T_OUT));
  int code = 0;
  OK(mpmp_process_exitcode(p, &code));
  if (code == 0 || strstr(mpmp_process_errmsg(p), "fork server") == NULL ||
      strstr(mpmp_process_errmsg(p), "died") == NULL)
    fail_msg("exit code %d, '%s'", code, mpmp_process_errmsg(p));
  OK(mpmp_process_destroy(p));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(forkserver_killed_mid_map),
    cmocka_unit_test(no_forkserver_left),
};

MPMP_TEST_MAIN(tests)
