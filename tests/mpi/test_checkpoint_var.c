/*
 * Checkpoint journals of maps over variable-size items (map_var, its
 * async form, executor map_var), in the style of test_checkpoint.c: a map
 * writes its journal, which is then moved to where the next checkpointed
 * map of this process looks for its own (map-K.mpmpj becomes
 * map-(K+1).mpmpj), as a rerun of the program finds it. A journal cut
 * anywhere (a run killed while writing), one whose map was terminated
 * part-way, one with a damaged record: the rerun resumes what it holds and
 * runs exactly the rest, and its results (bytes, sizes, failures) are
 * those of a map without a journal. Another map's journal is refused. The
 * stop by SIGUSR1 is the last test (a stop lasts for the rest of the run).
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint_common.h"
#include "mpitest.h"

#define N 500

static mpmp_value_t runs;

/* item i: the Value that counts the runs (its handle's bytes: each item
 * carries it, as test_checkpoint's do), then "<seed>:<i>;" and i % 23
 * dots; the result is the item twice with a '|' between (items i % 11 ==
 * 5 fail; "segv" crashes its host) */
static int twice(mpmp_ctx_t *ctx) {
  size_t n = 0;
  const char *p = mpmp_arg(ctx, &n);
  mpmp_value_t counter;
  memcpy(&counter, p, sizeof counter);
  mpmp_value_add(counter, 1, NULL);
  p += sizeof counter;
  n -= sizeof counter;
  if (n == 4 && memcmp(p, "segv", 4) == 0)
    raise(SIGSEGV);
  const char *colon = memchr(p, ':', n);
  if (colon != NULL && atoi(colon + 1) % 11 == 5)
    return mpmp_fail(ctx, "item %d is unlucky", atoi(colon + 1));
  char *o = mpmp_out(ctx, 2 * n + 1);
  memcpy(o, p, n);
  o[n] = '|';
  memcpy(o + n + 1, p, n);
  return 0;
}
MPMP_TASK(twice);

static int other(mpmp_ctx_t *ctx) { return twice(ctx); }
MPMP_TASK(other);

static int slow_twice(mpmp_ctx_t *ctx) {
  test_sleep(0.01);
  return twice(ctx);
}
MPMP_TASK(slow_twice);

static char data[N * (64 + sizeof(mpmp_value_t))];
static size_t off[N + 1];

static int64_t runs_now(void) {
  int64_t v = -1;
  mpmp_value_get_i64(runs, &v);
  return v;
}

/* N items from offset `base` of data; item `segv` (if in range) crashes. */
static void fill(int seed, size_t base, int segv) {
  off[0] = base;
  for (int i = 0; i < N; i++) {
    memcpy(data + off[i], &runs, sizeof runs);
    char *w = data + off[i] + sizeof runs;
    int len = i == segv ? snprintf(w, 64, "segv")
                        : snprintf(w, 64, "%d:%d;%.*s", seed, i, i % 23,
                                   ".......................");
    off[i + 1] = off[i] + sizeof runs + (size_t)len;
  }
}

typedef struct {
  mpmp_varbuf_t out;
  int nfails;
  size_t fail_index[N];
  char fail_msg[N][64];
  size_t resumed;
  int rc;
} run_t;

static void run_free(run_t *r) { mpmp_varbuf_free(&r->out); }

/* The map's results and failures into r; the pool's to destroy. */
static void collect(mpmp_async_t *res, run_t *r) {
  r->rc = mpmp_async_get(res, T_OUT);
  OK(mpmp_async_resumed(res, &r->resumed));
  r->nfails = mpmp_async_failed_count(res);
  for (int k = 0; k < r->nfails; k++) {
    const char *msg;
    int rank;
    OK(mpmp_async_failure(res, k, &r->fail_index[k], &rank, &msg));
    snprintf(r->fail_msg[k], sizeof r->fail_msg[k], "%s", msg);
  }
  mpmp_varbuf_t view;
  OK(mpmp_async_var_results(res, &view));
  r->out.n = view.n;
  r->out.off = malloc((view.n + 1) * sizeof *view.off);
  r->out.data = malloc(view.off[view.n] + 1);
  memcpy(r->out.off, view.off, (view.n + 1) * sizeof *view.off);
  memcpy(r->out.data, view.data, view.off[view.n]);
  mpmp_async_destroy(res);
}

static mpmp_pool_t *pool_in(const char *dir, int isolate) {
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.checkpoint = dir,
                        .isolate = isolate ? MPMP_ISOLATE_ALWAYS : 0};
  OK(mpmp_pool_create(&pool, &o));
  return pool;
}

static void run_map(const char *dir, mpmp_task_fn fn, size_t chunk,
                    run_t *r) {
  mpmp_pool_t *pool = pool_in(dir, 0);
  mpmp_async_t *res = NULL;
  run_free(r);
  memset(r, 0, sizeof *r);
  OK(mpmp_pool_map_var_async(pool, fn, data + 0, off, N, chunk, NULL, NULL,
                             &res));
  collect(res, r);
  OK(mpmp_pool_destroy(pool));
}

static void same_results(const run_t *a, const run_t *b) {
  EQ(a->out.n, b->out.n);
  assert_memory_equal(a->out.off, b->out.off, (N + 1) * sizeof *a->out.off);
  assert_memory_equal(a->out.data, b->out.data, a->out.off[N]);
  EQ(a->rc, b->rc);
  EQ(a->nfails, b->nfails);
  for (int k = 0; k < a->nfails; k++) {
    EQ(a->fail_index[k], b->fail_index[k]);
    assert_string_equal(a->fail_msg[k], b->fail_msg[k]);
  }
}

static run_t ref, got;

static void var_map_resumes_everything_without_running(void **state) {
  (void)state;
  fill(1, 0, -1);
  run_map(NULL, twice, 0, &ref);
  EQ(ref.rc, MPMP_ETASK); /* failures are resumed too */
  EQ(ref.nfails, N / 11 + (N % 11 > 5));
  const char *a = new_dir();
  run_map(a, twice, 7, &got);
  same_results(&ref, &got);
  EQ(got.resumed, 0);
  int64_t before = runs_now();
  fill(1, 100, -1); /* the same items elsewhere: the same map */
  run_map(carry(a), twice, 0, &got);
  same_results(&ref, &got);
  EQ(got.resumed, N);
  EQ(runs_now() - before, 0); /* nothing ran again */
}

/* A journal cut anywhere (a run killed while writing) resumes what it
 * holds whole, and runs exactly the rest. */
static void var_map_resumes_a_cut_journal(void **state) {
  (void)state;
  fill(2, 0, -1);
  run_map(NULL, twice, 0, &ref);
  const char *a = new_dir();
  run_map(a, twice, 5, &got);
  off_t size = file_size(a);
  const off_t cuts[] = {size - 1, size / 2, size / 3 + 7, 100, 0};
  for (size_t c = 0; c < sizeof cuts / sizeof *cuts; c++) {
    cut_journal(a, cuts[c]);
    int64_t before = runs_now();
    const char *b = carry(a);
    run_map(b, twice, 5, &got);
    same_results(&ref, &got);
    if (c == 0)
      IN((double)got.resumed, 1, N - 1); /* only the last record was lost */
    EQ(runs_now() - before, (int64_t)(N - got.resumed));
    a = b; /* that run wrote the whole journal again */
    EQ(file_size(a), size);
  }
}

/* A record whose bytes were damaged is left out: its items run again. */
static void var_map_reruns_a_damaged_record(void **state) {
  (void)state;
  fill(3, 0, -1);
  run_map(NULL, twice, 0, &ref);
  const char *a = new_dir();
  run_map(a, twice, 50, &got);
  damage_journal(a, file_size(a) - 300, 0x5a); /* the last record's results */
  int64_t before = runs_now();
  run_map(carry(a), twice, 50, &got);
  same_results(&ref, &got);
  IN((double)got.resumed, 1, N - 1);
  EQ(runs_now() - before, (int64_t)(N - got.resumed));
}

/* A pool terminated part-way: the chunks that came back are in the
 * journal (those cut short are not final), and the rerun runs the rest. */
static void var_map_terminated_part_way_resumes(void **state) {
  (void)state;
  fill(4, 0, -1);
  run_map(NULL, twice, 0, &ref);
  const char *a = new_dir();
  mpmp_pool_t *pool = pool_in(a, 0);
  mpmp_async_t *res = NULL;
  OK(mpmp_pool_map_var_async(pool, slow_twice, data, off, N, 4, NULL, NULL,
                             &res));
  test_sleep(0.4);
  OK(mpmp_pool_terminate(pool));
  int rc = mpmp_async_get(res, T_OUT);
  if (rc == 0)
    fail_msg("the map was not cut short by the terminate");
  mpmp_async_destroy(res);
  OK(mpmp_pool_destroy(pool));
  int64_t before = runs_now();
  run_map(carry(a), slow_twice, 4, &got);
  same_results(&ref, &got);
  IN((double)got.resumed, 1, N - 1);
  EQ(runs_now() - before, (int64_t)(N - got.resumed));
}

/* Another input (bytes, or only sizes), task or count, or a fixed-size
 * map's journal: a clear error, never its results. */
static void var_map_refuses_another_maps_journal(void **state) {
  (void)state;
  fill(5, 0, -1);
  const char *a = new_dir();
  run_map(a, twice, 0, &got);
  char orig[256];
  only_journal(a, orig, sizeof orig);
  mpmp_pool_t *pool;
  mpmp_varbuf_t out;
  /* bytes: one item's letter; sizes: two items' split moved */
  const char *says[] = {"its input differs", "its input differs",
                        "its task is 'twice', this map's 'other'",
                        "it has 500 items, this map 499"};
  for (int c = 0; c < 4; c++) {
    fill(5, 0, -1);
    if (c == 0)
      data[off[17] + sizeof runs] = 'X';
    if (c == 1)
      off[18]++;
    pool = pool_in(place(orig), 0);
    RC(mpmp_pool_map_var(pool, c == 2 ? other : twice, data, off,
                         c == 3 ? N - 1 : N, 0, &out),
       MPMP_ECHECKPOINT);
    HAS_MSG(says[c]);
    HAS_MSG("MPMP_CHECKPOINT_MODE=fresh");
    OK(mpmp_pool_destroy(pool));
  }
  /* a fixed-size map finds this journal, this map a fixed-size one's */
  pool = pool_in(place(orig), 0);
  static int64_t nums[N], res[N];
  RC(mpmp_pool_map(pool, twice, nums, N, sizeof *nums, res, sizeof *res, 0),
     MPMP_ECHECKPOINT);
  HAS_MSG("it is of a map over variable-size items, this is a map");
  OK(mpmp_pool_destroy(pool));
  /* the same map again: it resumes */
  fill(5, 0, -1);
  int64_t before = runs_now();
  run_map(place(orig), twice, 0, &ref);
  EQ(ref.resumed, N);
  EQ(runs_now() - before, 0);
}

/* An isolated map's crash is journaled as its failure: the rerun resumes
 * it, and runs nothing. */
static void var_map_isolated_resumes(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  fill(6, 0, 40);
  const char *a = new_dir();
  mpmp_pool_t *pool = pool_in(a, 1);
  mpmp_async_t *res = NULL;
  OK(mpmp_pool_map_var_async(pool, twice, data, off, N, 9, NULL, NULL, &res));
  collect(res, &ref);
  OK(mpmp_pool_destroy(pool));
  EQ(ref.rc, MPMP_ETASK); /* item 5's, the first failure */
  EQ(ref.fail_index[4], 40); /* after 5, 16, 27 and 38 */
  assert_non_null(strstr(ref.fail_msg[4], "crashed on item 40"));
  int64_t before = runs_now();
  pool = pool_in(carry(a), 1);
  run_free(&got);
  memset(&got, 0, sizeof got);
  OK(mpmp_pool_map_var_async(pool, twice, data, off, N, 9, NULL, NULL, &res));
  collect(res, &got);
  OK(mpmp_pool_destroy(pool));
  same_results(&ref, &got);
  EQ(got.resumed, N);
  EQ(runs_now() - before, 0);
}

static void executor_map_var_resumes(void **state) {
  (void)state;
  fill(7, 0, -1);
  const char *a = new_dir();
  mpmp_executor_t *ex = NULL;
  mpmp_executor_opts_t o = {.checkpoint = a};
  mpmp_varbuf_t out, again;
  OK(mpmp_executor_create(&ex, &o));
  RC(mpmp_executor_map_var(ex, twice, data, off, N, 0, T_OUT, &out),
     MPMP_ETASK);
  OK(mpmp_executor_destroy(ex));
  o.checkpoint = carry(a);
  int64_t before = runs_now();
  OK(mpmp_executor_create(&ex, &o));
  RC(mpmp_executor_map_var(ex, twice, data, off, N, 0, T_OUT, &again),
     MPMP_ETASK);
  HAS_MSG("is unlucky");
  OK(mpmp_executor_destroy(ex));
  assert_memory_equal(out.off, again.off, (N + 1) * sizeof *out.off);
  assert_memory_equal(out.data, again.data, out.off[N]);
  EQ(runs_now() - before, 0);
  mpmp_varbuf_free(&out);
  mpmp_varbuf_free(&again);
}

/* imap_var: the items of data/off (fill) one by one; every result in
 * order into r (its bytes one after another), failures by index. */
typedef struct {
  size_t next;
} feeder_t;

static int feed(void *user, const void **item, size_t *size) {
  feeder_t *f = user;
  if (f->next == N)
    return 0;
  *item = data + off[f->next];
  *size = off[f->next + 1] - off[f->next];
  f->next++;
  return 1;
}

static int feed_none(void *user, void *item) {
  (void)user, (void)item;
  return 0;
}

static int run_imap(const char *dir, size_t chunk, run_t *r) {
  mpmp_pool_t *pool = pool_in(dir, 0);
  mpmp_imap_t *it = NULL;
  feeder_t f = {0};
  run_free(r);
  memset(r, 0, sizeof *r);
  r->out.off = calloc(N + 1, sizeof *r->out.off);
  r->out.data = malloc(N * 200);
  r->out.n = N;
  int rc = mpmp_pool_imap_var(pool, twice, feed, &f, chunk, 0, &it);
  for (int i = 0; rc == 0 && i < N; i++) {
    const void *res;
    size_t size = 0, idx = 0;
    int got_rc = mpmp_imap_next_var(it, &res, &size, &idx, T_OUT);
    if (got_rc == MPMP_ETASK) {
      r->fail_index[r->nfails++] = idx;
    } else if (got_rc < 0) {
      rc = got_rc;
      break;
    }
    if (idx != (size_t)i)
      fail_msg("imap gave item %zu at %d", idx, i);
    memcpy(r->out.data + r->out.off[i], res, size);
    r->out.off[i + 1] = r->out.off[i] + size;
  }
  if (rc == 0) {
    const void *spare;
    RC(mpmp_imap_next_var(it, &spare, NULL, NULL, T_OUT), MPMP_EEOF);
  }
  mpmp_imap_destroy(it);
  OK(mpmp_pool_destroy(pool));
  return rc;
}

static void imap_var_resumes_and_checks_its_input(void **state) {
  (void)state;
  fill(9, 0, -1);
  OK(run_imap(NULL, 8, &ref));
  const char *a = new_dir();
  OK(run_imap(a, 8, &got));
  same_results(&ref, &got);
  off_t size = file_size(a);
  cut_journal(a, size * 2 / 3);
  int64_t before = runs_now();
  a = carry(a);
  OK(run_imap(a, 8, &got)); /* a third of it runs again */
  same_results(&ref, &got);
  IN((double)(runs_now() - before), 1, N - 1);
  before = runs_now();
  OK(run_imap(carry(a), 8, &got)); /* all of it from the journal */
  same_results(&ref, &got);
  EQ(runs_now() - before, 0);
  /* a producer that yields other items (same bytes, other sizes): the
   * error, not their results */
  a = new_dir();
  OK(run_imap(a, 8, &got));
  off[100]++;
  RC(run_imap(carry(a), 8, &got), MPMP_ECHECKPOINT);
  HAS_MSG("differ from those the checkpoint journal");
  fill(9, 0, -1);
  /* a fixed-size imap's journal: the error at the start */
  a = new_dir();
  OK(run_imap(a, 8, &got));
  mpmp_pool_t *pool = pool_in(carry(a), 0);
  mpmp_imap_t *it = NULL;
  RC(mpmp_pool_imap(pool, twice, feed_none, NULL, 8, 8, 8, 0, &it),
     MPMP_ECHECKPOINT);
  HAS_MSG("it is of an imap over variable-size items, this is an imap");
  OK(mpmp_pool_destroy(pool));
}

/* SIGUSR1: the map stops dealing, get() says MPMP_EINTERRUPTED naming
 * the journal; the journal holds what ran (its records, read by a map
 * that resumes; a stop lasts, so that one is a whole rerun:
 * test_checkpoint.sh). */
static void sigusr1_interrupts_the_var_map(void **state) {
  (void)state;
  fill(8, 0, -1);
  const char *a = new_dir();
  mpmp_pool_t *pool = pool_in(a, 0);
  mpmp_async_t *res = NULL;
  OK(mpmp_pool_map_var_async(pool, slow_twice, data, off, N, 4, NULL, NULL,
                             &res));
  test_sleep(0.3);
  assert_int_equal(raise(SIGUSR1), 0);
  RC(mpmp_async_get(res, T_OUT), MPMP_EINTERRUPTED);
  HAS_MSG("SIGUSR1");
  HAS_MSG("items done");
  HAS_MSG("rerun the program with the same MPMP_CHECKPOINT");
  mpmp_async_destroy(res);
  OK(mpmp_pool_destroy(pool));
  IN((double)file_size(a), 200, 1e9); /* records, past the header */
}

static int setup(void **state) {
  (void)state;
  snprintf(root, sizeof root, "/tmp/mpmp-ckptv-test-XXXXXX");
  assert_non_null(mkdtemp(root));
  OK(mpmp_value_create(&runs, MPMP_INT64, NULL, 0));
  return 0;
}

static int teardown(void **state) {
  (void)state;
  run_free(&ref);
  run_free(&got);
  mpmp_value_free(runs);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
  int rc = test_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  if (rc < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(var_map_resumes_everything_without_running),
      cmocka_unit_test(var_map_resumes_a_cut_journal),
      cmocka_unit_test(var_map_reruns_a_damaged_record),
      cmocka_unit_test(var_map_terminated_part_way_resumes),
      cmocka_unit_test(var_map_refuses_another_maps_journal),
      cmocka_unit_test(var_map_isolated_resumes),
      cmocka_unit_test(executor_map_var_resumes),
      cmocka_unit_test(imap_var_resumes_and_checks_its_input),
      cmocka_unit_test(sigusr1_interrupts_the_var_map),
  };
  const char *filter = getenv("MPMP_TEST_FILTER");
  if (filter != NULL && *filter != '\0')
    cmocka_set_test_filter(filter);
  int failed = cmocka_run_group_tests(tests, setup, teardown);
  int fin = mpmp_finalize();
  return failed || fin < 0 ? 1 : 0;
}
