/*
 * A chunk queued at a worker behind a long task is taken back when another
 * worker of the pool goes idle (pool.c, "Taking back a queued chunk"), as
 * Python's pools run a queued call on the first free worker. Before, it
 * waited there: short tasks finished only after the long one, and a task
 * waiting on a later task's work waited for ever.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include "mpitest.h"

#define GIVE_UP_S 12.0 /* how long wait_file waits for its file */

/* Waits (up to GIVE_UP_S) for the file named by its argument. */
static int wait_file(mpmp_ctx_t *ctx) {
  const char *path = mpmp_arg(ctx, NULL);
  double end = test_now() + GIVE_UP_S;
  while (access(path, F_OK) != 0) {
    if (test_now() > end)
      return mpmp_fail(ctx, "gave up waiting for %s after %g s", path,
                       GIVE_UP_S);
    test_sleep(0.005);
  }
  return 0;
}
MPMP_TASK(wait_file);

static int make_file(mpmp_ctx_t *ctx) {
  const char *path = mpmp_arg(ctx, NULL);
  FILE *f = fopen(path, "w");
  if (f == NULL)
    return mpmp_fail(ctx, "cannot create %s", path);
  fclose(f);
  return 0;
}
MPMP_TASK(make_file);

/* Sleeps its argument's seconds; returns them. */
static int nap(mpmp_ctx_t *ctx) {
  double s = *(const double *)mpmp_arg(ctx, NULL);
  test_sleep(s);
  *(double *)mpmp_out(ctx, sizeof s) = s;
  return 0;
}
MPMP_TASK(nap);

/* A map item: sleeps `s` seconds and returns x * x. */
typedef struct {
  double s;
  int64_t x;
} item_t;

static int nap_square(mpmp_ctx_t *ctx) {
  const item_t *it = mpmp_arg(ctx, NULL);
  test_sleep(it->s);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = it->x * it->x;
  return 0;
}
MPMP_TASK(nap_square);

/* The test's executor or pool: a failed check leaves it to the teardown,
 * so that the next test finds its workers free. */
static mpmp_executor_t *cur_ex;
static mpmp_pool_t *cur_pool;

static int teardown(void **state) {
  (void)state;
  mpmp_executor_destroy(cur_ex); /* (waits for the tasks left) */
  mpmp_pool_destroy(cur_pool);
  cur_ex = NULL;
  cur_pool = NULL;
  return 0;
}

static mpmp_executor_t *executor(int workers) {
  mpmp_executor_opts_t o = {.max_workers = workers};
  OK(mpmp_executor_create(&cur_ex, &o));
  return cur_ex;
}

/* f0 waits for a file that f2, submitted after it, creates; f1 and six
 * more are short. On two workers, f2 was queued behind f0 while the other
 * worker ran the rest and idled: f0 gave up (without its limit: a
 * deadlock). Python runs f2 on the first free worker. */
static void revoke_task_waiting_on_a_later_one(void **state) {
  (void)state;
  char path[128];
  snprintf(path, sizeof path, "/tmp/mpmp-test-revoke-%d.flag", (int)getpid());
  unlink(path);
  mpmp_executor_t *ex = executor(2);
  mpmp_future_t *f[9];
  double s = 0.1, t0 = test_now();
  OK(mpmp_executor_submit(ex, wait_file, path, strlen(path) + 1, &f[0]));
  OK(mpmp_executor_submit(ex, nap, &s, sizeof s, &f[1]));
  OK(mpmp_executor_submit(ex, make_file, path, strlen(path) + 1, &f[2]));
  for (int i = 3; i < 9; i++)
    OK(mpmp_executor_submit(ex, nap, &s, sizeof s, &f[i]));
  int rc = mpmp_future_result(f[0], 30, NULL, NULL);
  double took = test_now() - t0;
  unlink(path);
  if (rc != 0)
    fail_msg("the waiting task failed after %.2f s: %s", took, mpmp_errmsg());
  IN(took, 0, GIVE_UP_S / 2);
  EQ(mpmp_futures_wait(f, 9, MPMP_ALL_COMPLETED, 30), 9);
  for (int i = 0; i < 9; i++)
    mpmp_future_destroy(f[i]);
  cur_ex = NULL;
  OK(mpmp_executor_destroy(ex));
}

static double t_start, t_done[10];
static void note_done(mpmp_async_t *r, int ok, void *user) {
  (void)r, (void)ok;
  t_done[(intptr_t)user] = test_now() - t_start;
}

/* One 3 s task and nine of 0.1 s on two workers: every short one is done
 * long before the long one ends (f2 was queued behind it: done at 3.1 s,
 * the others by 0.8 s). */
static void revoke_short_tasks_do_not_wait_for_a_long_one(void **state) {
  (void)state;
  mpmp_executor_t *ex = executor(2);
  mpmp_future_t *f[10];
  double lng = 3.0, shrt = 0.1;
  memset(t_done, 0, sizeof t_done);
  t_start = test_now();
  for (intptr_t i = 0; i < 10; i++) {
    OK(mpmp_executor_submit(ex, nap, i ? &shrt : &lng, sizeof lng, &f[i]));
    OK(mpmp_future_add_done_callback(f[i], note_done, (void *)i));
  }
  EQ(mpmp_futures_wait(f, 10, MPMP_ALL_COMPLETED, 30), 10);
  for (int i = 0; i < 10; i++) {
    const double *r;
    OK(mpmp_future_result(f[i], 0, (const void **)&r, NULL));
    assert_true(*r == (i ? shrt : lng));
  }
  IN(t_done[0], 2.9, 20);
  for (int i = 1; i < 10; i++)
    if (!(t_done[i] < 2.0))
      fail_msg("short task f%d was done at %.3f s, the long one at %.3f s",
               i, t_done[i], t_done[0]);
  for (int i = 0; i < 10; i++)
    mpmp_future_destroy(f[i]);
  cur_ex = NULL;
  OK(mpmp_executor_destroy(ex));
}

/* A map of chunksize 1 on two workers: item 0 takes 3 s, item 2 1.5 s
 * (queued behind item 0 at the start), six more 0.1 s. With item 2 taken
 * back, the other worker runs it: about 3 s in all, against 4.5 s when it
 * waited behind item 0 (and 5.1 s in one worker; a zero-copy map's slow
 * second item is item 1). Every result right, as
 * a plain map, a variable-size one (varmap.c) and a zero-copy one
 * (chunktask.c), in the worker rank or in task hosts. */
enum { N = 8 };
enum { PLAIN, VAR, SHM };

static void uneven_items(item_t *in, int slow) {
  for (int i = 0; i < N; i++)
    in[i] = (item_t){i == 0 ? 3.0 : i == slow ? 1.5 : 0.1, 100 + i};
}

static double map_uneven(int how, int isolate, const char *checkpoint,
                         size_t *resumed) {
  mpmp_pool_opts_t o = {.processes = 2, .isolate = isolate,
                        .checkpoint = checkpoint};
  OK(mpmp_pool_create(&cur_pool, &o));
  mpmp_pool_t *pool = cur_pool;
  item_t in[N];
  int64_t out[N];
  /* a zero-copy map deals each worker its own half in order (pool.c's
   * home ranges): item 1 is the one queued behind item 0 */
  uneven_items(in, how == SHM ? 1 : 2);
  memset(out, 0, sizeof out);
  double t0 = test_now(), took = 0;
  if (how == PLAIN) {
    mpmp_async_t *res;
    OK(mpmp_pool_map_async(pool, nap_square, in, N, sizeof *in, out,
                           sizeof *out, 1, NULL, NULL, &res));
    OK(mpmp_async_get(res, 30));
    took = test_now() - t0;
    if (resumed != NULL)
      OK(mpmp_async_resumed(res, resumed));
    mpmp_async_destroy(res);
  } else if (how == VAR) {
    size_t off[N + 1];
    for (int i = 0; i <= N; i++)
      off[i] = (size_t)i * sizeof *in;
    mpmp_varbuf_t vb;
    OK(mpmp_pool_map_var(pool, nap_square, in, off, N, 1, &vb));
    took = test_now() - t0;
    EQ(vb.n, N);
    for (int i = 0; i < N; i++) {
      EQ(vb.off[i + 1] - vb.off[i], sizeof *out);
      memcpy(&out[i], vb.data + vb.off[i], sizeof *out);
    }
    mpmp_varbuf_free(&vb);
  } else {
    mpmp_shm_t *bin, *bout;
    OK(mpmp_shm_create(&bin, NULL, sizeof in));
    OK(mpmp_shm_create(&bout, NULL, sizeof out));
    memcpy(mpmp_shm_buf(bin), in, sizeof in);
    int rc = mpmp_pool_map_shm(pool, nap_square, NULL, bin, 0, N, sizeof *in,
                               bout, 0, sizeof *out, 1);
    took = test_now() - t0;
    memcpy(out, mpmp_shm_buf(bout), sizeof out);
    mpmp_shm_unlink(bin);
    mpmp_shm_unlink(bout);
    mpmp_shm_close(bin);
    mpmp_shm_close(bout);
    OK(rc);
  }
  for (int i = 0; i < N; i++)
    EQ(out[i], (int64_t)(100 + i) * (100 + i));
  cur_pool = NULL;
  OK(mpmp_pool_destroy(pool));
  return took;
}

static void revoke_map_of_uneven_items(void **state) {
  (void)state;
  IN(map_uneven(PLAIN, MPMP_ISOLATE_NEVER, NULL, NULL), 2.9, 3.9);
}

/* The same in task hosts: a chunk queued at the worker is taken back as
 * in the rank (one its host took from the mailbox itself is not). */
static void revoke_map_of_uneven_items_isolated(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  IN(map_uneven(PLAIN, MPMP_ISOLATE_ALWAYS, NULL, NULL), 2.9, 3.9);
}

static void revoke_var_map_of_uneven_items(void **state) {
  (void)state;
  IN(map_uneven(VAR, MPMP_ISOLATE_NEVER, NULL, NULL), 2.9, 3.9);
}

static void revoke_zero_copy_map_of_uneven_items(void **state) {
  (void)state;
  IN(map_uneven(SHM, MPMP_ISOLATE_NEVER, NULL, NULL), 2.9, 3.9);
}

/* A chunk given back is no run of its items: the journal of a map that
 * took one back holds every item's real result once, and a rerun resumes
 * all of them from it. The rerun is this program's next checkpointed
 * map, so its journal is the first one copied under the next number. */
static void revoke_checkpointed_map_resumes_whole(void **state) {
  (void)state;
  char dir1[64], dir2[64], cmd[512];
  snprintf(dir1, sizeof dir1, "/tmp/mpmp-test-revoke-%d-a", (int)getpid());
  snprintf(dir2, sizeof dir2, "/tmp/mpmp-test-revoke-%d-b", (int)getpid());
  snprintf(cmd, sizeof cmd, "rm -rf %s %s", dir1, dir2);
  assert_int_equal(system(cmd), 0);
  size_t resumed = 99;
  IN(map_uneven(PLAIN, MPMP_ISOLATE_NEVER, dir1, &resumed), 2.9, 3.9);
  EQ(resumed, 0);
  /* dir1's journal becomes the first map's of dir2 (numbered per
   * directory) */
  unsigned k = 0;
  DIR *d = opendir(dir1);
  assert_non_null(d);
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    if (sscanf(e->d_name, "map-%u.mpmpj", &k) == 1)
      break;
  closedir(d);
  assert_true(k > 0);
  snprintf(cmd, sizeof cmd, "mkdir -p %s && cp %s/map-%04u.mpmpj "
           "%s/map-0001.mpmpj", dir2, dir1, k, dir2);
  assert_int_equal(system(cmd), 0);
  double took = map_uneven(PLAIN, MPMP_ISOLATE_NEVER, dir2, &resumed);
  EQ(resumed, N);
  IN(took, 0, 1.0);
  snprintf(cmd, sizeof cmd, "rm -rf %s %s", dir1, dir2);
  assert_int_equal(system(cmd), 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(revoke_task_waiting_on_a_later_one, teardown),
    cmocka_unit_test_teardown(revoke_short_tasks_do_not_wait_for_a_long_one,
                              teardown),
    cmocka_unit_test_teardown(revoke_map_of_uneven_items, teardown),
    cmocka_unit_test_teardown(revoke_map_of_uneven_items_isolated,
                              teardown),
    cmocka_unit_test_teardown(revoke_var_map_of_uneven_items, teardown),
    cmocka_unit_test_teardown(revoke_zero_copy_map_of_uneven_items,
                              teardown),
    cmocka_unit_test_teardown(revoke_checkpointed_map_resumes_whole,
                              teardown),
};
MPMP_TEST_MAIN(tests)
