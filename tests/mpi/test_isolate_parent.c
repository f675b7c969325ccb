/*
 * An isolated task that kills its task host's parent, the worker's fork
 * server (kill(getppid(), SIGKILL)): its host dies with it. The item
 * counts that run, as a crash (it fails with max_retries 0), and is not
 * dealt again as never run, which cost the next worker its fork server
 * too, and so on through the pool (helper 56, then this session: the
 * second map failed every item, "no worker of the pool has a task host
 * any more"). The item its host finished before, in the same chunk,
 * keeps its result. Its own program: the fork server stays dead for the
 * rest of the job.
 */
#include <signal.h>
#include <stdint.h>
#include <unistd.h>

#include "mpitest.h"

typedef struct item {
  int64_t x, bad;
} item_t;

static int times_ten_or_kill_parent(mpmp_ctx_t *ctx) {
  const item_t *it = mpmp_arg(ctx, NULL);
  if (it->x == it->bad) {
    kill(getppid(), SIGKILL); /* the fork server; the host dies with it */
    sleep(5);
  }
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = it->x * 10;
  return 0;
}
MPMP_TASK(times_ten_or_kill_parent);

enum { N = 12, BAD = 5 };

static void fill(item_t *in, int64_t *out, int64_t bad) {
  for (int i = 0; i < N; i++)
    in[i] = (item_t){.x = i, .bad = bad}, out[i] = -1;
}

static void task_that_kills_its_fork_server_costs_its_item(void **state) {
  (void)state;
  if (test_hosts_off() || nworkers() < 2)
    skip(); /* (no other worker to go on with) */
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_ALWAYS};
  OK(mpmp_pool_create(&pool, &o));
  int64_t out[N];
  mpmp_async_t *res = NULL;
  item_t in[N];
  fill(in, out, BAD);
  OK(mpmp_pool_map_async(pool, times_ten_or_kill_parent, in, N, sizeof *in,
                         out, sizeof *out, 2, NULL, NULL, &res));
  RC(mpmp_async_get(res, T_OUT), MPMP_ECRASHED);
  HAS_MSG("did the task kill its parent?");
  EQ(mpmp_async_failed_count(res), 1);
  size_t index = 0;
  int rank = -1;
  const char *msg = NULL;
  OK(mpmp_async_failure(res, 0, &index, &rank, &msg));
  EQ(index, BAD);
  if (strstr(msg, "times_ten_or_kill_parent") == NULL ||
      strstr(msg, "crashed on item 5") == NULL ||
      strstr(msg, "died with its fork server") == NULL)
    fail_msg("failure message '%s'", msg);
  for (int i = 0; i < N; i++)
    if (i != BAD && out[i] != 10 * i)
      fail_msg("item %d: %lld, expected %d", i, (long long)out[i], 10 * i);
  mpmp_async_destroy(res);
  /* the pool goes on with its other workers */
  fill(in, out, -1);
  OK(mpmp_pool_map(pool, times_ten_or_kill_parent, in, N, sizeof *in, out,
                   sizeof *out, 2));
  for (int i = 0; i < N; i++)
    EQ(out[i], 10 * i);
  OK(mpmp_pool_close(pool));
  OK(mpmp_pool_join(pool, T_OUT));
  OK(mpmp_pool_destroy(pool));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(task_that_kills_its_fork_server_costs_its_item),
};

MPMP_TEST_MAIN(tests)
