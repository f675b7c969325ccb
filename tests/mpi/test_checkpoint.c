/*
 * Checkpoint journals of maps (issue 15), inside one job: a map writes
 * its journal; the journal is then moved to where the next checkpointed
 * map of this process looks for its own (maps are matched by their order
 * in the program: map-K.mpmpj becomes map-(K+1).mpmpj), which is what a
 * rerun of the program finds. Results, failures and the count of items
 * run (a Value every run adds to) are checked against a map without a
 * journal. Whole reruns (SIGTERM, SIGKILL, SIGUSR1, the walltime,
 * MPMP_CHECKPOINT_MODE=fresh, the Slurm template) are in
 * test_checkpoint.sh; the stop by a signal inside a job is the last test
 * here (a stop lasts for the rest of the run).
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <unistd.h>

#include "checkpoint_common.h"
#include "mpitest.h"

typedef struct {
  mpmp_value_t runs;
  int64_t x;
} item_t;

static int square(mpmp_ctx_t *ctx) {
  const item_t *it = mpmp_arg(ctx, NULL);
  mpmp_value_add(it->runs, 1, NULL);
  if (it->x % 11 == 5)
    return mpmp_fail(ctx, "item %lld is unlucky", (long long)it->x);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = it->x * it->x + 1;
  return 0;
}
MPMP_TASK(square);

static int cube(mpmp_ctx_t *ctx) {
  const item_t *it = mpmp_arg(ctx, NULL);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = it->x * it->x * it->x;
  return 0;
}
MPMP_TASK(cube);

static int slow_square(mpmp_ctx_t *ctx) {
  test_sleep(0.02);
  return square(ctx);
}
MPMP_TASK(slow_square);

/* Two tasks whose names differ only past the 63 bytes a journal's header
 * keeps of a name. */
static int square_with_a_name_longer_than_the_sixty_three_bytes_a_journal_keeps_first(
    mpmp_ctx_t *ctx) {
  return square(ctx);
}
MPMP_TASK(square_with_a_name_longer_than_the_sixty_three_bytes_a_journal_keeps_first);
static int square_with_a_name_longer_than_the_sixty_three_bytes_a_journal_keeps_other(
    mpmp_ctx_t *ctx) {
  return cube(ctx);
}
MPMP_TASK(square_with_a_name_longer_than_the_sixty_three_bytes_a_journal_keeps_other);

#define N 600

static mpmp_value_t runs;
static item_t items[N];

static int64_t runs_now(void) {
  int64_t v = -1;
  mpmp_value_get_i64(runs, &v);
  return v;
}

static void fill(int64_t seed) {
  for (int i = 0; i < N; i++)
    items[i] = (item_t){runs, 3 * i + seed};
}

static mpmp_pool_t *pool_in(const char *dir) {
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.checkpoint = dir};
  OK(mpmp_pool_create(&pool, &o));
  return pool;
}

typedef struct {
  int64_t out[N];
  int nfails;
  size_t fail_index[N];
  int fail_rank[N];
  char fail_msg[N][64];
  size_t resumed;
  int rc;
} run_t;

/* map (or starmap) over items on a pool with the journal dir (NULL: none). */
static void run_map(const char *dir, mpmp_task_fn fn, size_t chunk,
                    run_t *r) {
  mpmp_pool_t *pool = pool_in(dir);
  mpmp_async_t *res = NULL;
  memset(r, 0, sizeof *r);
  OK(mpmp_pool_map_async(pool, fn, items, N, sizeof *items, r->out,
                         sizeof *r->out, chunk, NULL, NULL, &res));
  r->rc = mpmp_async_get(res, T_OUT);
  OK(mpmp_async_resumed(res, &r->resumed));
  r->nfails = mpmp_async_failed_count(res);
  for (int k = 0; k < r->nfails; k++) {
    const char *msg;
    OK(mpmp_async_failure(res, k, &r->fail_index[k], &r->fail_rank[k], &msg));
    snprintf(r->fail_msg[k], sizeof r->fail_msg[k], "%s", msg);
  }
  mpmp_async_destroy(res);
  OK(mpmp_pool_destroy(pool));
}

static void same_results(const run_t *a, const run_t *b) {
  assert_memory_equal(a->out, b->out, sizeof a->out);
  EQ(a->rc, b->rc);
  EQ(a->nfails, b->nfails);
  for (int k = 0; k < a->nfails; k++) {
    EQ(a->fail_index[k], b->fail_index[k]);
    assert_string_equal(a->fail_msg[k], b->fail_msg[k]);
  }
}

static run_t ref, got;

static void map_resumes_everything_without_running(void **state) {
  (void)state;
  fill(1);
  run_map(NULL, square, 0, &ref);
  EQ(ref.rc, MPMP_ETASK); /* items 5 mod 11 fail: failures are resumed too */
  const char *a = new_dir();
  run_map(a, square, 7, &got);
  same_results(&ref, &got);
  EQ(got.resumed, 0);
  int64_t before = runs_now();
  run_map(carry(a), square, 0, &got);
  same_results(&ref, &got);
  EQ(got.resumed, N);
  EQ(runs_now() - before, 0); /* nothing ran again */
  for (int k = 0; k < got.nfails; k++) /* where it failed, as it was */
    IN(got.fail_rank[k], 1, mpmp_world_size() - 1);
}

/* A journal cut anywhere (a run killed while writing) resumes what it
 * holds whole, and runs exactly the rest. */
static void map_resumes_a_cut_journal(void **state) {
  (void)state;
  fill(2);
  run_map(NULL, square, 0, &ref);
  const char *a = new_dir();
  run_map(a, square, 5, &got);
  off_t size = file_size(a);
  const off_t cuts[] = {size - 1, size / 2, size / 3 + 7, 100, 0};
  for (size_t c = 0; c < sizeof cuts / sizeof *cuts; c++) {
    cut_journal(a, cuts[c]);
    int64_t before = runs_now();
    const char *b = carry(a);
    run_map(b, square, 5, &got);
    same_results(&ref, &got);
    if (c == 0)
      IN((double)got.resumed, 1, N - 1); /* only the last record was lost */
    EQ(runs_now() - before, (int64_t)(N - got.resumed));
    a = b; /* that run wrote the whole journal again */
    EQ(file_size(a), size);
  }
}

/* A record whose bytes were damaged is left out: its items run again. */
static void map_reruns_a_damaged_record(void **state) {
  (void)state;
  fill(3);
  run_map(NULL, square, 0, &ref);
  const char *a = new_dir();
  run_map(a, square, 50, &got);
  damage_journal(a, file_size(a) - 100, 0x5a); /* the last record's payload */
  int64_t before = runs_now();
  run_map(carry(a), square, 50, &got);
  same_results(&ref, &got);
  IN((double)got.resumed, 1, N - 1);
  EQ(runs_now() - before, (int64_t)(N - got.resumed));
}

/* A damaged record header (a bit flipped in the first record's) leaves
 * out that record alone: the records after it resume. Its damage was
 * taken for the torn end of a killed run, and every record after it was
 * thrown away (helper 75). The journal's header is 136 bytes. */
static void map_keeps_the_records_after_a_damaged_header(void **state) {
  (void)state;
  fill(8);
  run_map(NULL, square, 0, &ref);
  const char *a = new_dir();
  run_map(a, square, 50, &got);
  damage_journal(a, 136 + 12, 0x10);
  int64_t before = runs_now();
  run_map(carry(a), square, 50, &got);
  same_results(&ref, &got);
  IN((double)got.resumed, N - 100, N - 1); /* one record of 50 items lost */
  EQ(runs_now() - before, (int64_t)(N - got.resumed));
}

/* A journal that another running program holds (another job with the
 * same directory: here this program's own lock on it) is refused: both
 * wrote it at once, and a rerun took one job's records for the other's
 * results (helper 75). */
static void map_refuses_a_journal_in_use(void **state) {
  (void)state;
  fill(9);
  const char *a = new_dir();
  run_map(a, square, 0, &got);
  const char *b = carry(a);
  char p[256];
  only_journal(b, p, sizeof p);
  int fd = open(p, O_RDWR);
  assert_true(fd >= 0);
  assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
  static int64_t out[N];
  mpmp_pool_t *pool = pool_in(b);
  RC(mpmp_pool_map(pool, square, items, N, sizeof *items, out, sizeof *out,
                   0),
     MPMP_ECHECKPOINT);
  HAS_MSG("in use by another running program");
  OK(mpmp_pool_destroy(pool));
  close(fd);
  int64_t before = runs_now(); /* (a fresh directory numbers from 1) */
  run_map(carry(b), square, 0, &got);
  EQ(got.resumed, N);
  EQ(runs_now() - before, 0);
}

/* Another input, task, count or size: a clear error, never its results. */
/* Journals are numbered per directory, so that a pool with a directory
 * of its own (the README's advice for maps started from several threads)
 * finds its maps' journals whatever other pools did before: a map in b
 * between two in a leaves a's second map its map-0002. The number came
 * from one count for all directories (map-0003 here), so a rerun whose
 * threads started in another order resumed nothing, or found another
 * map's journal. */
static void journals_are_numbered_per_directory(void **state) {
  (void)state;
  fill(7);
  const char *a = new_dir(), *b = new_dir();
  char path[256], want[256];
  run_map(a, square, 0, &got);
  run_map(b, square, 0, &got);
  only_journal(b, path, sizeof path);
  snprintf(want, sizeof want, "%s/map-0001.mpmpj", b);
  assert_string_equal(path, want);
  mpmp_pool_t *pool = pool_in(a);
  static int64_t out[N];
  OK(mpmp_pool_map(pool, cube, items, N, sizeof *items, out, sizeof *out,
                   0));
  OK(mpmp_pool_destroy(pool));
  snprintf(want, sizeof want, "%s/map-0002.mpmpj", a);
  struct stat st;
  if (stat(want, &st) != 0)
    fail_msg("a's second map did not write %s", want);
}

static void map_refuses_another_maps_journal(void **state) {
  (void)state;
  static int64_t out[2 * N];
  fill(4);
  const char *a = new_dir();
  run_map(a, square, 0, &got);
  char orig[256];
  only_journal(a, orig, sizeof orig);
  struct {
    int64_t seed;
    mpmp_task_fn fn;
    size_t n, out_size;
    const char *says;
  } cases[] = {{5, square, N, 8, "its input differs"},
               {4, cube, N, 8, "its task is 'square', this map's 'cube'"},
               {4, square, N - 1, 8, "it has 600 items, this map 599"},
               {4, square, N, 16, "results are"},
               {4, NULL, N, 8, "is not an mpmp journal"}};
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    fill(cases[c].seed);
    const char *b = place(orig); /* each map takes its place */
    if (cases[c].fn == NULL) { /* not a journal at all */
      char p[256];
      only_journal(b, p, sizeof p);
      FILE *f = fopen(p, "w");
      for (int i = 0; i < 40; i++)
        fputs("this is not a journal. ", f);
      fclose(f);
    }
    mpmp_pool_t *pool = pool_in(b);
    RC(mpmp_pool_map(pool, cases[c].fn ? cases[c].fn : square, items,
                     cases[c].n, sizeof *items, out, cases[c].out_size, 0),
       MPMP_ECHECKPOINT);
    HAS_MSG(cases[c].says);
    HAS_MSG("map-");
    HAS_MSG("MPMP_CHECKPOINT_MODE=fresh");
    OK(mpmp_pool_destroy(pool));
  }
  /* tasks whose names differ only past what the header keeps of them
   * (helper 75: the second resumed with the first's results) */
  const char *c = new_dir();
  run_map(c, square_with_a_name_longer_than_the_sixty_three_bytes_a_journal_keeps_first, 0,
          &got);
  mpmp_pool_t *pool = pool_in(carry(c));
  RC(mpmp_pool_map(pool,
                   square_with_a_name_longer_than_the_sixty_three_bytes_a_journal_keeps_other,
                   items, N, sizeof *items, out, sizeof *out, 0),
     MPMP_ECHECKPOINT);
  HAS_MSG("differs later");
  OK(mpmp_pool_destroy(pool));
  /* the same map again: it resumes */
  fill(4);
  int64_t before = runs_now();
  run_map(place(orig), square, 0, &ref);
  EQ(ref.resumed, N);
  EQ(runs_now() - before, 0);
}

static void pool_refuses_a_directory_it_cannot_write(void **state) {
  (void)state;
  mpmp_pool_t *pool = NULL;
  char file[256], under[300];
  snprintf(file, sizeof file, "%s/plain-file", root);
  FILE *f = fopen(file, "w");
  fclose(f);
  snprintf(under, sizeof under, "%s/sub", file);
  const char *bad[] = {file, under, "/proc/mpmp-no-such-dir/x"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    mpmp_pool_opts_t o = {.checkpoint = bad[i]};
    RC(mpmp_pool_create(&pool, &o), MPMP_ECHECKPOINT);
    HAS_MSG(bad[i]);
    mpmp_executor_t *ex = NULL;
    mpmp_executor_opts_t eo = {.checkpoint = bad[i]};
    RC(mpmp_executor_create(&ex, &eo), MPMP_ECHECKPOINT);
  }
}

typedef struct {
  int64_t next, seed, end; /* end: N when 0 */
} producer_t;

static int produce(void *user, void *item) {
  producer_t *p = user;
  if (p->next == (p->end ? p->end : N))
    return 0;
  *(item_t *)item = (item_t){runs, 3 * p->next++ + p->seed};
  return 1;
}

/* imap: every result and failure, in order, with its index. */
static int run_imap(const char *dir, int64_t seed, size_t chunk, run_t *r) {
  mpmp_pool_t *pool = pool_in(dir);
  mpmp_imap_t *it = NULL;
  producer_t prod = {0, seed, 0};
  memset(r, 0, sizeof *r);
  int rc = mpmp_pool_imap(pool, square, produce, &prod, sizeof(item_t),
                          sizeof(int64_t), chunk, 0, &it);
  for (int i = 0; rc == 0 && i < N; i++) {
    size_t idx = 0;
    int got_rc = mpmp_imap_next(it, &r->out[i], &idx, T_OUT);
    if (got_rc == MPMP_ETASK) {
      r->fail_index[r->nfails++] = idx;
    } else if (got_rc < 0) {
      rc = got_rc;
      break;
    }
    if (idx != (size_t)i)
      fail_msg("imap gave item %zu at %d", idx, i);
  }
  if (rc == 0) {
    int64_t spare;
    RC(mpmp_imap_next(it, &spare, NULL, T_OUT), MPMP_EEOF);
    OK(mpmp_imap_resumed(it, &r->resumed));
  }
  mpmp_imap_destroy(it);
  OK(mpmp_pool_destroy(pool));
  return rc;
}

static void imap_resumes_and_checks_its_input(void **state) {
  (void)state;
  fill(0);
  OK(run_imap(NULL, 6, 8, &ref));
  const char *a = new_dir();
  OK(run_imap(a, 6, 8, &got));
  assert_memory_equal(ref.out, got.out, sizeof ref.out);
  EQ(got.resumed, 0);
  off_t size = file_size(a);
  cut_journal(a, size * 2 / 3);
  int64_t before = runs_now();
  a = carry(a);
  OK(run_imap(a, 6, 8, &got)); /* a third of it runs again */
  assert_memory_equal(ref.out, got.out, sizeof ref.out);
  EQ(got.nfails, ref.nfails);
  IN((double)(runs_now() - before), 1, N - 1);
  EQ((int64_t)got.resumed + (runs_now() - before), N); /* (it said 0) */
  before = runs_now();
  OK(run_imap(carry(a), 6, 8, &got)); /* all of it from the journal */
  assert_memory_equal(ref.out, got.out, sizeof ref.out);
  EQ(runs_now() - before, 0);
  EQ(got.resumed, N);
  /* a producer that yields other items: the error, not their results */
  a = new_dir();
  OK(run_imap(a, 6, 8, &got));
  RC(run_imap(carry(a), 7, 8, &got), MPMP_ECHECKPOINT);
  HAS_MSG("differ from those the checkpoint journal");
  /* other chunks: the error at the start */
  a = new_dir();
  OK(run_imap(a, 6, 8, &got));
  a = carry(a);
  mpmp_pool_t *pool = pool_in(a);
  mpmp_imap_t *it = NULL;
  producer_t prod = {0, 6, 0};
  RC(mpmp_pool_imap(pool, square, produce, &prod, sizeof(item_t),
                    sizeof(int64_t), 16, 0, &it),
     MPMP_ECHECKPOINT);
  HAS_MSG("its chunks are 8 items, this imap's 16");
  OK(mpmp_pool_destroy(pool));
  /* a producer that ends sooner: its last chunk is short of the record
   * there (the message blamed the chunksize, which is the same) */
  pool = pool_in(carry(a)); /* (the refused imap left it as it was) */
  prod = (producer_t){0, 6, N - 3};
  OK(mpmp_pool_imap(pool, square, produce, &prod, sizeof(item_t),
                    sizeof(int64_t), 8, 0, &it));
  int rc = 0;
  for (int i = 0; i < N && (rc == 0 || rc == MPMP_ETASK); i++) {
    int64_t v; /* (some items fail by design: "unlucky") */
    rc = mpmp_imap_next(it, &v, NULL, T_OUT);
  }
  RC(rc, MPMP_ECHECKPOINT);
  HAS_MSG("the producer yielded fewer items than in the run that wrote the "
          "journal");
  mpmp_imap_destroy(it);
  OK(mpmp_pool_destroy(pool));
}

/* imap_unordered over a whole journal: every result once, with its
 * index, and nothing runs. */
static void imap_unordered_resumes(void **state) {
  (void)state;
  fill(0);
  OK(run_imap(NULL, 11, 8, &ref));
  const char *a = new_dir();
  OK(run_imap(a, 11, 8, &got)); /* writes the journal */
  mpmp_pool_t *pool = pool_in(carry(a));
  mpmp_imap_t *it = NULL;
  producer_t prod = {0, 11, 0};
  static unsigned char seen[N];
  memset(seen, 0, sizeof seen);
  int64_t before = runs_now();
  OK(mpmp_pool_imap_unordered(pool, square, produce, &prod, sizeof(item_t),
                              sizeof(int64_t), 8, 0, &it));
  for (int i = 0; i < N; i++) {
    int64_t v;
    size_t idx = N;
    int rc = mpmp_imap_next(it, &v, &idx, T_OUT);
    if (rc != 0 && rc != MPMP_ETASK)
      fail_msg("imap_unordered: %s: %s", mpmp_err_name(rc), mpmp_errmsg());
    assert_true(idx < N && !seen[idx]);
    seen[idx] = 1;
    if (rc == 0)
      EQ(v, ref.out[idx]);
    else
      HAS_MSG("is unlucky");
  }
  int64_t spare;
  RC(mpmp_imap_next(it, &spare, NULL, T_OUT), MPMP_EEOF);
  mpmp_imap_destroy(it);
  OK(mpmp_pool_destroy(pool));
  EQ(runs_now() - before, 0);
}

static void executor_map_resumes(void **state) {
  (void)state;
  fill(8);
  int64_t out[N], again[N];
  const char *a = new_dir();
  mpmp_executor_t *ex = NULL;
  mpmp_executor_opts_t o = {.checkpoint = a};
  OK(mpmp_executor_create(&ex, &o));
  RC(mpmp_executor_map(ex, square, items, N, sizeof *items, out, sizeof *out,
                       0, T_OUT),
     MPMP_ETASK);
  OK(mpmp_executor_destroy(ex));
  o.checkpoint = carry(a);
  int64_t before = runs_now();
  OK(mpmp_executor_create(&ex, &o));
  RC(mpmp_executor_map(ex, square, items, N, sizeof *items, again,
                       sizeof *again, 0, T_OUT),
     MPMP_ETASK);
  HAS_MSG("is unlucky");
  OK(mpmp_executor_destroy(ex));
  assert_memory_equal(out, again, sizeof out);
  EQ(runs_now() - before, 0);
}

/* A zero-copy map (items and results in SharedMemory, a chunk task; its
 * workers have home ranges: pool.c) journals its chunks as any map, and
 * its rerun writes every result into the block from the journal, with
 * no chunk run (the chunk task counts its items in a Value). Then the
 * journal cut in half: the rest runs, each item once. */
static int zc_square(mpmp_ctx_t *ctx, const void *in, void *out,
                     size_t count) {
  (void)ctx;
  const item_t *it = in;
  int64_t *y = out;
  if (count > 0)
    mpmp_value_add(it[0].runs, (int64_t)count, NULL);
  for (size_t i = 0; i < count; i++)
    y[i] = it[i].x * it[i].x + 1;
  return 0;
}
MPMP_CHUNK_TASK(zc_square);

static size_t zc_map(const char *dir, mpmp_shm_t *in, mpmp_shm_t *out,
                     size_t chunk) {
  mpmp_pool_t *pool = pool_in(dir);
  mpmp_async_t *res = NULL;
  size_t resumed = 0;
  memset(mpmp_shm_buf(out), 0, N * sizeof(int64_t));
  OK(mpmp_pool_map_shm_async(pool, NULL, zc_square, in, 0, N, sizeof(item_t),
                             out, 0, sizeof(int64_t), chunk, NULL, NULL,
                             &res));
  OK(mpmp_async_get(res, T_OUT));
  OK(mpmp_async_resumed(res, &resumed));
  mpmp_async_destroy(res);
  OK(mpmp_pool_destroy(pool));
  const int64_t *y = mpmp_shm_buf(out);
  for (int i = 0; i < N; i++)
    EQ(y[i], items[i].x * items[i].x + 1);
  return resumed;
}

static void zero_copy_map_resumes(void **state) {
  (void)state;
  fill(6);
  mpmp_shm_t *in = NULL, *out = NULL;
  OK(mpmp_shm_create(&in, NULL, sizeof items));
  OK(mpmp_shm_create(&out, NULL, N * sizeof(int64_t)));
  memcpy(mpmp_shm_buf(in), items, sizeof items);
  const char *a = new_dir();
  int64_t before = runs_now();
  EQ(zc_map(a, in, out, 7), 0);
  EQ(runs_now() - before, N); /* each item ran once */
  off_t size = file_size(a);
  before = runs_now();
  const char *b = carry(a);
  EQ(zc_map(b, in, out, 7), N);
  EQ(runs_now() - before, 0); /* nothing ran again */
  cut_journal(b, size / 2);
  before = runs_now();
  size_t resumed = zc_map(carry(b), in, out, 7);
  IN((double)resumed, 1, N - 1);
  EQ(runs_now() - before, (int64_t)(N - resumed));
  OK(mpmp_shm_unlink(in));
  OK(mpmp_shm_unlink(out));
  OK(mpmp_shm_close(in));
  OK(mpmp_shm_close(out));
}

/* SIGUSR1 to the main rank (what mpirun forwards from Slurm's
 * --signal): the map stops dealing, the running chunks finish, get()
 * says MPMP_EINTERRUPTED with the count and the journal, and the journal
 * resumes the rest. Later maps and imaps stop at once. Last: a stop
 * lasts for the rest of the run. */
static void sigusr1_interrupts_the_map(void **state) {
  (void)state;
  fill(9);
  const char *a = new_dir();
  mpmp_pool_t *pool = pool_in(a);
  mpmp_async_t *res = NULL;
  static int64_t out[N];
  OK(mpmp_pool_map_async(pool, slow_square, items, N, sizeof *items, out,
                         sizeof *out, 4, NULL, NULL, &res));
  test_sleep(0.3);
  int64_t at_signal = runs_now();
  assert_int_equal(raise(SIGUSR1), 0); /* armed: it does not end us */
  double t0 = test_now();
  RC(mpmp_async_get(res, T_OUT), MPMP_EINTERRUPTED);
  HAS_MSG("SIGUSR1");
  HAS_MSG("items done");
  HAS_MSG("rerun the program with the same MPMP_CHECKPOINT");
  IN(test_now() - t0, 0, 5); /* the running chunks only */
  int64_t ran = runs_now();
  IN((double)ran, (double)at_signal, (double)at_signal + 4 * 2 * MAXW);
  mpmp_async_destroy(res);
  /* a later map, imap and apply stop at once */
  RC(mpmp_pool_map(pool, square, items, N, sizeof *items, out, sizeof *out, 0),
     MPMP_EINTERRUPTED);
  mpmp_imap_t *it = NULL;
  producer_t prod = {0, 1, 0};
  RC(mpmp_pool_imap(pool, square, produce, &prod, sizeof(item_t),
                    sizeof(int64_t), 8, 0, &it),
     MPMP_EINTERRUPTED);
  HAS_MSG("the imap was stopped (SIGUSR1 came) before item 0");
  OK(mpmp_pool_destroy(pool));
  EQ(runs_now(), ran); /* nothing more ran */
}

static int setup(void **state) {
  (void)state;
  snprintf(root, sizeof root, "/tmp/mpmp-ckpt-test-XXXXXX");
  assert_non_null(mkdtemp(root));
  OK(mpmp_value_create(&runs, MPMP_INT64, NULL, 0));
  return 0;
}

static int teardown(void **state) {
  (void)state;
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
      cmocka_unit_test(map_resumes_everything_without_running),
      cmocka_unit_test(map_resumes_a_cut_journal),
      cmocka_unit_test(map_reruns_a_damaged_record),
      cmocka_unit_test(map_keeps_the_records_after_a_damaged_header),
      cmocka_unit_test(map_refuses_a_journal_in_use),
      cmocka_unit_test(map_refuses_another_maps_journal),
      cmocka_unit_test(journals_are_numbered_per_directory),
      cmocka_unit_test(pool_refuses_a_directory_it_cannot_write),
      cmocka_unit_test(imap_resumes_and_checks_its_input),
      cmocka_unit_test(imap_unordered_resumes),
      cmocka_unit_test(executor_map_resumes),
      cmocka_unit_test(zero_copy_map_resumes),
      cmocka_unit_test(sigusr1_interrupts_the_map),
  };
  const char *filter = getenv("MPMP_TEST_FILTER");
  if (filter != NULL && *filter != '\0')
    cmocka_set_test_filter(filter);
  int failed = cmocka_run_group_tests(tests, setup, teardown);
  int fin = mpmp_finalize();
  return failed || fin < 0 ? 1 : 0;
}
