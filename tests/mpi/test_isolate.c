/*
 * Isolated tasks (issue 14): a pool whose tasks run in task hosts loses
 * only the item whose task crashed, aborted, exited or ran past its time
 * limit; that item fails with MPMP_ECRASHED (MPMP_ETIMEDOUT) naming the
 * task, the item, the rank and the signal or exit status; every other
 * result is right and the pool goes on mapping.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <unistd.h>

#include "mpitest.h"

enum { HOW_SEGV = 1, HOW_ABORT, HOW_EXIT, HOW_EXIT0, HOW_FPE, HOW_LOOP,
       HOW_STACK, HOW_FAIL, HOW_ONCE, HOW_UNDER };

/* Item: {value, how}; crashes the way `how` says when value == bad. */
typedef struct item {
  int64_t x;
  int32_t how, bad;
  int32_t tag; /* HOW_ONCE: the main rank's pid, naming its marker files */
} item_t;

/* HOW_ONCE's marker of item x: the first attempt makes it and crashes. */
static void marker_path(char *b, size_t n, int tag, int64_t x) {
  snprintf(b, n, "/tmp/mpmp-test-retry-%d-%lld", tag, (long long)x);
}

/* Overflows the stack (the depth limit is never reached). */
static int recurse(volatile char *p, long depth) {
  volatile char big[4096];
  big[0] = (char)depth;
  if (depth > (1L << 40))
    return 0;
  return recurse(big, depth + 1) + (p ? p[0] : 0);
}

static int square_or_crash(mpmp_ctx_t *ctx) {
  const item_t *it = mpmp_arg(ctx, NULL);
  int64_t *out = mpmp_out(ctx, sizeof *out);
  if (it->x == it->bad) {
    switch (it->how) {
    case HOW_SEGV:
      raise(SIGSEGV);
      break;
    case HOW_ABORT:
      abort();
    case HOW_EXIT:
      exit(3);
    case HOW_EXIT0:
      exit(0);
    case HOW_FPE:
      raise(SIGFPE);
      break;
    case HOW_LOOP:
      for (;;)
        pause();
    case HOW_STACK:
      return recurse(NULL, 0);
    case HOW_UNDER: { /* writes 64 KiB below its result, byte by byte */
      volatile char *p = (volatile char *)out;
      for (long k = 1; k <= 65536; k++)
        p[-k] = (char)0xA5;
      break;
    }
    case HOW_FAIL:
      return mpmp_fail(ctx, "item %lld refused", (long long)it->x);
    case HOW_ONCE: {
      char path[96];
      marker_path(path, sizeof path, it->tag, it->x);
      int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
      if (fd >= 0) { /* the first attempt: its rank, then the crash */
        int rank = mpmp_rank();
        ssize_t w = write(fd, &rank, sizeof rank);
        (void)w;
        close(fd);
        raise(SIGSEGV);
      }
      break;
    }
    }
  }
  *out = it->x * it->x;
  return 0;
}
MPMP_TASK(square_or_crash);

/* Runs until asked to stop, or for ever if it ignores the request. */
static int runaway(mpmp_ctx_t *ctx) {
  const int *ignore = mpmp_arg(ctx, NULL);
  while (*ignore || !mpmp_should_stop(ctx))
    usleep(1000);
  return 0;
}
MPMP_TASK(runaway);

/* The job runs with MPMP_ISOLATE=never (ctest's isolate_never): no task
 * hosts, and pools that need one are refused. */
typedef struct hold {
  mpmp_lock_t l;
  int crash; /* end by a crash (a new host follows), else by returning */
} hold_t;

/* Takes the RLock in its argument and ends holding it. */
static int hold_rlock(mpmp_ctx_t *ctx) {
  const hold_t *h = mpmp_arg(ctx, NULL);
  int rc = mpmp_lock_acquire(h->l, T_OUT);
  if (rc == 0 && h->crash)
    raise(SIGSEGV);
  return rc;
}
MPMP_TASK(hold_rlock);

/* Returns whether the RLock is "mine" and what a try to take it says. */
static int probe_rlock(mpmp_ctx_t *ctx) {
  const mpmp_lock_t *l = mpmp_arg(ctx, NULL);
  int *r = mpmp_out(ctx, 2 * sizeof *r);
  r[0] = mpmp_lock_is_mine(*l);
  r[1] = mpmp_lock_acquire(*l, 0);
  return 0;
}
MPMP_TASK(probe_rlock);

static mpmp_pool_t *isolated_pool(double limit) {
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_ALWAYS,
                        .task_timeout = limit};
  OK(mpmp_pool_create(&pool, &o));
  return pool;
}

static void check_squares(const item_t *in, const int64_t *out, int n,
                          int bad) {
  for (int i = 0; i < n; i++)
    if (i != bad && out[i] != in[i].x * in[i].x)
      fail_msg("item %d: %lld, expected %lld", i, (long long)out[i],
               (long long)(in[i].x * in[i].x));
}

/* Map n items, the one at `bad` crashing `how`: that item fails with
 * `code` and a message holding `words`; the others are squares. The map
 * may take map_limit seconds (133 000 chunks of 3 isolated items took
 * 25-31 s under AddressSanitizer on 2 cores: the big map has more). */
static double map_limit = T_OUT;
static int map_chunk = 3;
static void map_one_bad(mpmp_pool_t *pool, int n, int bad, int how, int code,
                        const char *words) {
  item_t *in = calloc((size_t)n, sizeof *in);
  int64_t *out = calloc((size_t)n, sizeof *out);
  for (int i = 0; i < n; i++)
    in[i] = (item_t){.x = i, .how = how, .bad = bad};
  mpmp_async_t *res = NULL;
  OK(mpmp_pool_map_async(pool, square_or_crash, in, (size_t)n, sizeof *in,
                         out, sizeof *out, (size_t)map_chunk, NULL, NULL,
                         &res));
  RC(mpmp_async_get(res, map_limit), code);
  HAS_MSG(words);
  if (code == 0) { /* no bad item */
    check_squares(in, out, n, -1);
    mpmp_async_destroy(res);
    free(in);
    free(out);
    return;
  }
  EQ(mpmp_async_failed_count(res), 1);
  size_t index = 0;
  int rank = -1;
  const char *msg = NULL;
  OK(mpmp_async_failure(res, 0, &index, &rank, &msg));
  EQ(index, bad);
  if ((how != HOW_FAIL && strstr(msg, "square_or_crash") == NULL) ||
      strstr(msg, words) == NULL)
    fail_msg("failure message '%s' lacks the task or '%s'", msg, words);
  char item_words[64];
  snprintf(item_words, sizeof item_words, "item %d on rank %d", bad, rank);
  if (how != HOW_FAIL && strstr(msg, item_words) == NULL)
    fail_msg("failure message '%s' lacks '%s'", msg, item_words);
  check_squares(in, out, n, bad);
  mpmp_async_destroy(res);
  free(in);
  free(out);
}

static void isolate_crash_kinds_cost_one_item(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = isolated_pool(0);
  map_one_bad(pool, 40, 7, HOW_SEGV, MPMP_ECRASHED, "killed by signal 11");
  map_one_bad(pool, 40, 0, HOW_ABORT, MPMP_ECRASHED, "killed by signal 6");
  map_one_bad(pool, 40, 39, HOW_EXIT, MPMP_ECRASHED, "exited with status 3");
  map_one_bad(pool, 40, 20, HOW_FPE, MPMP_ECRASHED, "killed by signal 8");
  map_one_bad(pool, 40, 13, HOW_STACK, MPMP_ECRASHED, "killed by signal 11");
  /* A task's own failure is not a crash. */
  map_one_bad(pool, 40, 5, HOW_FAIL, MPMP_ETASK, "item 5 refused");
  /* And the pool maps as before. */
  map_one_bad(pool, 100, -1, 0, 0, "");
  OK(mpmp_pool_destroy(pool));
}

/* A task that writes below its result buffer (an index of -1, a pointer
 * walked back) costs its item, as a crash. Chunks of 1 item, so that no
 * other item's result lies below it in the task host's region (its item
 * and then the region's control block do): before the guard page the
 * control block was overwritten, and the map hung or the worker crashed
 * (helper 56). */
static void isolate_write_below_the_result_costs_one_item(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = isolated_pool(0);
  map_chunk = 1;
  map_one_bad(pool, 40, 9, HOW_UNDER, MPMP_ECRASHED, "killed by signal 11");
  map_one_bad(pool, 40, 0, HOW_UNDER, MPMP_ECRASHED, "killed by signal 11");
  map_chunk = 3;
  map_one_bad(pool, 100, -1, 0, 0, "");
  OK(mpmp_pool_destroy(pool));
}

/* 12-byte items, 8-byte results: the result slot is 8-byte aligned in a
 * task host as in a worker (the results began right after the items, at
 * an address ending in 0x...c; helper 59). */
typedef struct odd_item {
  int32_t a, b, c;
} odd_item_t;

static int sum_aligned(mpmp_ctx_t *ctx) {
  const odd_item_t *it = mpmp_arg(ctx, NULL);
  int64_t *out = mpmp_out(ctx, sizeof *out);
  if ((uintptr_t)out % sizeof *out != 0)
    return mpmp_fail(ctx, "result slot %p is not 8-byte aligned",
                     (void *)out);
  *out = (int64_t)it->a + it->b + it->c;
  return 0;
}
MPMP_TASK(sum_aligned);

static void isolate_result_slots_are_aligned(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = isolated_pool(0);
  enum { N = 9 };
  odd_item_t in[N];
  int64_t out[N];
  for (int i = 0; i < N; i++)
    in[i] = (odd_item_t){i, 2 * i, 3 * i};
  for (size_t chunk = 1; chunk <= 3; chunk++) {
    OK(mpmp_pool_map(pool, sum_aligned, in, N, sizeof *in, out, sizeof *out,
                     chunk));
    for (int i = 0; i < N; i++)
      EQ(out[i], 6 * i);
  }
  OK(mpmp_pool_destroy(pool));
}

static void isolate_task_timeout_kills_a_runaway(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = isolated_pool(0.3);
  double t0 = test_now();
  map_one_bad(pool, 12, 4, HOW_LOOP, MPMP_ETIMEDOUT, "task_timeout of 0.3 s");
  IN(test_now() - t0, 0.3, 10);
  OK(mpmp_pool_destroy(pool));
}

/* An initializer that never returns, in an isolated pool with a
 * task_timeout: create fails at the limit (it waited for ever). */
static int endless_init(mpmp_ctx_t *ctx) {
  (void)ctx;
  for (;;)
    pause();
  return 0;
}
MPMP_TASK(endless_init);

static void isolate_task_timeout_bounds_the_initializer(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_ALWAYS, .processes = 1,
                        .initializer = endless_init, .task_timeout = 0.5};
  mpmp_pool_t *pool = (mpmp_pool_t *)(uintptr_t)0x1000;
  double t0 = test_now();
  RC(mpmp_pool_create(&pool, &o), MPMP_ETIMEDOUT);
  HAS_MSG("did not return within the pool's task_timeout");
  assert_null(pool);
  IN(test_now() - t0, 0.5, 30);
  /* the worker is free again */
  o.initializer = NULL;
  OK(mpmp_pool_create(&pool, &o));
  OK(mpmp_pool_destroy(pool));
}

/* With every worker's initializer running past the limit (helper 65):
 * the message was a later worker's "mpmp_process_join: timed out ...
 * still runs after 0 s; it keeps running: join again later", and create
 * took the limit plus MPMP_TERM_GRACE for each worker in turn. */
static void isolate_task_timeout_bounds_every_workers_initializer(
    void **state) {
  (void)state;
  int n = mpmp_worker_count();
  if (test_hosts_off() || n < 2)
    skip();
  mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_ALWAYS, .processes = n,
                        .initializer = endless_init, .task_timeout = 0.5};
  mpmp_pool_t *pool = NULL;
  double grace = getenv("MPMP_TERM_GRACE") ? atof(getenv("MPMP_TERM_GRACE"))
                                           : 5;
  double t0 = test_now();
  RC(mpmp_pool_create(&pool, &o), MPMP_ETIMEDOUT);
  HAS_MSG("initializer 'endless_init' did not return within the pool's "
          "task_timeout (0.5 s)");
  assert_null(pool);
  /* the graces run together: one, not one per worker */
  const char *sc = getenv("MPMP_TIMEOUT_SCALE");
  IN(test_now() - t0, 0.5, 0.5 + grace * 1.5 + 3 * (sc ? atof(sc) : 1));
  o.initializer = NULL;
  OK(mpmp_pool_create(&pool, &o));
  OK(mpmp_pool_destroy(pool));
}

/* An isolated pool's initializer that calls exit(0) (Python's
 * sys.exit(0)) made create return 0 and every item then fail, each new
 * host's initializer ending it the same way; exit(3) failed create. */
static int init_exits_0(mpmp_ctx_t *ctx) {
  (void)ctx;
  exit(0);
}
MPMP_TASK(init_exits_0);

static int init_noop(mpmp_ctx_t *ctx) {
  (void)ctx;
  return 0;
}
MPMP_TASK(init_noop);

static void isolate_initializer_exit_0_fails_create(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_ALWAYS, .processes = 1,
                        .initializer = init_exits_0};
  mpmp_pool_t *pool = (mpmp_pool_t *)(uintptr_t)0x1000;
  RC(mpmp_pool_create(&pool, &o), MPMP_ETASK);
  HAS_MSG("initializer 'init_exits_0' failed");
  HAS_MSG("exited with status 0");
  assert_null(pool);
  /* an initializer with no argument (NULL, 0 bytes) runs again in the
   * host that replaces a crashed one: its copy of the argument was a
   * memcpy from NULL (UBSan: the worker ended the job) */
  o.initializer = init_noop;
  OK(mpmp_pool_create(&pool, &o));
  map_one_bad(pool, 12, 3, HOW_SEGV, MPMP_ECRASHED, "killed by signal 11");
  map_one_bad(pool, 12, -1, HOW_SEGV, 0, ""); /* and it goes on */
  OK(mpmp_pool_destroy(pool));
}

/* Its item and its host's pid. */
static int item_and_pid(mpmp_ctx_t *ctx) {
  const int *x = mpmp_arg(ctx, NULL);
  int *o = mpmp_out(ctx, 2 * sizeof *o);
  o[0] = *x;
  o[1] = (int)getpid();
  return 0;
}
MPMP_TASK(item_and_pid);

/* An initializer that never returns once the file its argument names
 * exists. */
static int init_hangs_if_file(mpmp_ctx_t *ctx) {
  const char *path = mpmp_arg(ctx, NULL);
  if (access(path, F_OK) == 0)
    for (;;)
      pause();
  return 0;
}
MPMP_TASK(init_hangs_if_file);

/* The initializer runs again in every new host (maxtasksperchild 1
 * here): one that hangs there is bounded by task_timeout too, as at
 * create (helper 56: the map waited for ever). Its item fails; the
 * others run in hosts of their own, each with its own try. */
static void isolate_task_timeout_bounds_a_new_hosts_initializer(
    void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  char path[96];
  snprintf(path, sizeof path, "%s/mpmp-init-hangs-%d",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
  unlink(path);
  mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_ALWAYS, .processes = 1,
                        .initializer = init_hangs_if_file, .initarg = path,
                        .initarg_size = strlen(path) + 1, .task_timeout = 0.5,
                        .maxtasksperchild = 1};
  mpmp_pool_t *pool = NULL;
  OK(mpmp_pool_create(&pool, &o));
  int x[2] = {1, 2}, r[4];
  OK(mpmp_pool_map(pool, item_and_pid, x, 1, sizeof *x, r, 2 * sizeof *r, 1));
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fclose(f);
  double t0 = test_now();
  int rc = mpmp_pool_map(pool, item_and_pid, x, 2, sizeof *x, r,
                         2 * sizeof *r, 1);
  assert_true(rc < 0);
  HAS_MSG("initializer");
  IN(test_now() - t0, 0.5, 30);
  unlink(path);
  OK(mpmp_pool_destroy(pool));
}

/* Hosts killed while idle (between maps, as the OOM killer might): the
 * next map's items run in fresh hosts, none charged with the death (the
 * first item dealt to a dead host failed as crashed in 29 of 30 rounds,
 * though it never ran there). */
static void isolate_idle_hosts_killed_cost_no_item(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = isolated_pool(0);
  static int in[64], out[128];
  for (int i = 0; i < 64; i++)
    in[i] = i;
  for (int round = 0; round < 10; round++) {
    OK(mpmp_pool_map(pool, item_and_pid, in, 64, sizeof *in, out,
                     2 * sizeof *out, 1));
    for (int i = 0; i < 64; i++)
      EQ(out[2 * i], i);
    for (int i = 0; i < 64; i++) /* every host seen, at once */
      if (out[2 * i + 1] > 0 && out[2 * i + 1] != getpid())
        kill(out[2 * i + 1], SIGKILL);
  }
  OK(mpmp_pool_destroy(pool));
}

static void isolate_apply_crash_and_result(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = isolated_pool(0);
  item_t it = {.x = 9, .how = HOW_SEGV, .bad = -1};
  int64_t r = 0;
  size_t size = 0;
  OK(mpmp_pool_apply(pool, square_or_crash, &it, sizeof it, &r, sizeof r,
                     &size));
  EQ(r, 81);
  EQ(size, sizeof r);
  it.bad = 9;
  RC(mpmp_pool_apply(pool, square_or_crash, &it, sizeof it, &r, sizeof r,
                     &size), MPMP_ECRASHED);
  HAS_MSG("killed by signal 11");
  it.bad = -1;
  it.x = 12;
  OK(mpmp_pool_apply(pool, square_or_crash, &it, sizeof it, &r, sizeof r,
                     &size));
  EQ(r, 144);
  OK(mpmp_pool_destroy(pool));
}

/* 100 crashes in a row, then a correct map. */
static void isolate_hundred_crashes(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = isolated_pool(0);
  enum { N = 100 };
  item_t in[N];
  int64_t out[N];
  for (int i = 0; i < N; i++)
    in[i] = (item_t){.x = i, .how = HOW_SEGV, .bad = i};
  RC(mpmp_pool_map(pool, square_or_crash, in, N, sizeof *in, out,
                   sizeof *out, 1), MPMP_ECRASHED);
  mpmp_async_t *res = NULL;
  OK(mpmp_pool_map_async(pool, square_or_crash, in, N, sizeof *in, out,
                         sizeof *out, 7, NULL, NULL, &res));
  RC(mpmp_async_get(res, T_OUT), MPMP_ECRASHED);
  EQ(mpmp_async_failed_count(res), N);
  mpmp_async_destroy(res);
  map_one_bad(pool, N, -1, 0, 0, "");
  OK(mpmp_pool_destroy(pool));
}

/* Terminate a map of two runaway items (each ignoring the stop request
 * or not): join returns within `secs`, the map fails with `code`. */
static void terminate_runaways(int ignore_stop, double secs, int code,
                               const char *words) {
  mpmp_pool_t *pool = isolated_pool(0);
  int ignore[2] = {ignore_stop, ignore_stop}, out[2];
  mpmp_async_t *res = NULL;
  OK(mpmp_pool_map_async(pool, runaway, ignore, 2, sizeof *ignore, out,
                         sizeof *out, 1, NULL, NULL, &res));
  test_sleep(0.2);
  double t0 = test_now();
  OK(mpmp_pool_terminate(pool));
  OK(mpmp_pool_join(pool, 10));
  IN(test_now() - t0, 0, secs);
  RC(mpmp_async_get(res, 0), code);
  HAS_MSG(words);
  mpmp_async_destroy(res);
  OK(mpmp_pool_destroy(pool));
}

/* terminate: a task that ignores mpmp_should_stop() is killed after
 * MPMP_TERM_GRACE (1 s in this test's environment). */
static void isolate_terminate_kills_an_ignoring_task(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  terminate_runaways(1, 1 + 2, MPMP_ECRASHED, "MPMP_TERM_GRACE");
}

/* A task that asks mpmp_should_stop() in its host stops at terminate, well
 * before the grace period, and its items fail as terminated. */
static void isolate_terminate_reaches_the_host(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  terminate_runaways(0, 0.9, MPMP_ETASK, "terminated");
}

/* max_retries: an item whose host crashed runs again in a fresh host; an
 * item that crashes every time fails after 1 + max_retries attempts, and
 * the message says so; a task's own failure is not retried. */
static void isolate_retries_run_a_crashed_item_again(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_ALWAYS, .max_retries = 2};
  OK(mpmp_pool_create(&pool, &o));
  enum { N = 12 };
  item_t in[N];
  int64_t out[N];
  int tag = (int)getpid();
  for (int i = 0; i < N; i++)
    in[i] = (item_t){.x = i, .how = HOW_ONCE, .bad = i % 4 == 1 ? i : -1,
                     .tag = tag};
  OK(mpmp_pool_map(pool, square_or_crash, in, N, sizeof *in, out,
                   sizeof *out, 3));
  check_squares(in, out, N, -1);
  for (int i = 1; i < N; i += 4) {
    char path[96];
    marker_path(path, sizeof path, tag, i);
    EQ(unlink(path), 0); /* the first attempt ran, and crashed */
  }
  map_one_bad(pool, N, 6, HOW_SEGV, MPMP_ECRASHED, "(3 attempts)");
  map_one_bad(pool, N, 6, HOW_FAIL, MPMP_ETASK, "item 6 refused");
  OK(mpmp_pool_destroy(pool));
  o = (mpmp_pool_opts_t){.max_retries = -1};
  RC(mpmp_pool_create(&pool, &o), MPMP_EINVAL);
  o = (mpmp_pool_opts_t){.isolate = MPMP_ISOLATE_NEVER, .max_retries = 1};
  RC(mpmp_pool_create(&pool, &o), MPMP_EINVAL);
  HAS_MSG("max_retries needs isolated tasks");
}

/* Ranks of the first and the second run of each item of a map where
 * every item crashes in its first run: the second runs on another worker
 * whenever the pool has one. */
static int rank_of_run(mpmp_ctx_t *ctx) {
  const item_t *it = mpmp_arg(ctx, NULL);
  int *out = mpmp_out(ctx, 2 * sizeof *out);
  char path[96];
  marker_path(path, sizeof path, it->tag, it->x);
  int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
  if (fd >= 0) {
    int rank = mpmp_rank();
    ssize_t w = write(fd, &rank, sizeof rank);
    (void)w;
    close(fd);
    raise(SIGSEGV);
  }
  fd = open(path, O_RDONLY);
  out[0] = -1;
  if (fd >= 0) {
    ssize_t r = read(fd, &out[0], sizeof out[0]);
    (void)r;
    close(fd);
  }
  out[1] = mpmp_rank();
  return 0;
}
MPMP_TASK(rank_of_run);

static void isolate_retries_go_to_another_worker(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_ALWAYS, .max_retries = 1};
  OK(mpmp_pool_create(&pool, &o));
  int workers = mpmp_pool_size(pool);
  enum { N = 16 };
  item_t in[N];
  int out[N][2];
  int tag = (int)getpid() + 7;
  for (int i = 0; i < N; i++)
    in[i] = (item_t){.x = i, .tag = tag};
  OK(mpmp_pool_map(pool, rank_of_run, in, N, sizeof *in, out, sizeof *out,
                   2));
  for (int i = 0; i < N; i++) {
    char path[96];
    marker_path(path, sizeof path, tag, i);
    EQ(unlink(path), 0);
    if (out[i][0] < 1)
      fail_msg("item %d: its first run left no rank", i);
    if (workers > 1 && out[i][0] == out[i][1])
      fail_msg("item %d ran again on rank %d, where it crashed, though the "
               "pool has %d workers", i, out[i][1], workers);
  }
  OK(mpmp_pool_destroy(pool));
}

/* An isolated Process: its result comes back; a crash or exit() ends it,
 * not the job, with Python's exitcode (-signal, or the status); terminate
 * stops a cooperative body (-15) and kills one that ignores it after
 * MPMP_TERM_GRACE (-9). */
static mpmp_process_t *isolated_process(mpmp_task_fn fn, const void *arg,
                                        size_t size) {
  mpmp_process_t *p = NULL;
  mpmp_process_opts_t o = {.isolate = MPMP_ISOLATE_ALWAYS};
  OK(mpmp_process_create(&p, fn, arg, size, &o));
  OK(mpmp_process_start(p));
  return p;
}

static int exit_of(mpmp_process_t *p, double secs) {
  int code = 12345;
  OK(mpmp_process_join(p, secs));
  OK(mpmp_process_exitcode(p, &code));
  return code;
}

static void isolate_process_bodies(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  item_t it = {.x = 7, .bad = -1};
  mpmp_process_t *p = isolated_process(square_or_crash, &it, sizeof it);
  EQ(exit_of(p, T_OUT), 0);
  size_t size = 0;
  const void *r = NULL;
  OK(mpmp_process_result(p, &r, &size));
  EQ(size, sizeof(int64_t));
  EQ(*(const int64_t *)r, 49);
  mpmp_process_destroy(p);
  it = (item_t){.x = 7, .bad = 7, .how = HOW_SEGV};
  p = isolated_process(square_or_crash, &it, sizeof it);
  EQ(exit_of(p, T_OUT), -11);
  if (strstr(mpmp_process_errmsg(p), "killed by signal 11") == NULL)
    fail_msg("errmsg '%s'", mpmp_process_errmsg(p));
  mpmp_process_destroy(p);
  it.how = HOW_EXIT;
  p = isolated_process(square_or_crash, &it, sizeof it);
  EQ(exit_of(p, T_OUT), 3);
  mpmp_process_destroy(p);
  /* Python's sys.exit(0): exitcode 0, no error (it was 1, "its host
   * process exited with status 0") */
  it.how = HOW_EXIT0;
  p = isolated_process(square_or_crash, &it, sizeof it);
  EQ(exit_of(p, T_OUT), 0);
  EQ(mpmp_process_errmsg(p)[0], '\0');
  mpmp_process_destroy(p);
  for (int ignore = 0; ignore <= 1; ignore++) {
    p = isolated_process(runaway, &ignore, sizeof ignore);
    test_sleep(0.2);
    double t0 = test_now();
    OK(mpmp_process_terminate(p));
    EQ(exit_of(p, 10), ignore ? -9 : MPMP_EXIT_TERMINATED);
    IN(test_now() - t0, 0, ignore ? 1 + 2 : 0.9);
    mpmp_process_destroy(p);
  }
}

/* Every host is a new lock owner: an RLock that one isolated body left
 * held is not the next one's (hosts are forks of one process, and drew
 * the same owner ids from copies of one counter). One left held by a host
 * that crashed is taken over by the next acquire (MPMP_EOWNERDEAD); one
 * left by a body that returned stays its (the host lives on). */
static void isolate_hosts_are_distinct_lock_owners(void **state) {
  (void)state;
  if (test_hosts_off() || other_node_exists())
    skip(); /* a host reaches objects of its own node only */
  for (int crash = 1; crash >= 0; crash--) {
    hold_t h = {.crash = crash};
    OK(mpmp_rlock_create(&h.l));
    mpmp_process_t *p = isolated_process(hold_rlock, &h, sizeof h);
    if (exit_of(p, T_OUT) != (crash ? -11 : 0))
      fail_msg("hold_rlock: %s", mpmp_process_errmsg(p));
    mpmp_process_destroy(p);
    p = isolated_process(probe_rlock, &h.l, sizeof h.l);
    EQ(exit_of(p, T_OUT), 0);
    const int *r = NULL;
    size_t size = 0;
    OK(mpmp_process_result(p, (const void **)&r, &size));
    EQ(size, 2 * sizeof *r);
    EQ(r[0], 0);
    EQ(r[1], crash ? MPMP_EOWNERDEAD : MPMP_ETIMEDOUT);
    mpmp_process_destroy(p);
    OK(mpmp_lock_free(h.l));
  }
}

/* Items and results of many MiB: the region grows (it moves), and the
 * stop words still reach the host after it did. */
static void isolate_big_map_grows_the_region(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = isolated_pool(0);
  map_limit = 4 * T_OUT;
  map_one_bad(pool, 400000, 123456, HOW_SEGV, MPMP_ECRASHED, "signal 11");
  map_limit = T_OUT;
  OK(mpmp_pool_destroy(pool));
  terminate_runaways(0, 0.9, MPMP_ETASK, "terminated");
}

/* imap: the crashed item's next() says MPMP_ECRASHED, the iteration goes
 * on, and every other result comes in order. */
typedef struct feed {
  int next, n, bad, how;
} feed_t;

static int feed_items(void *user, void *item) {
  feed_t *f = user;
  if (f->next == f->n)
    return 0;
  *(item_t *)item = (item_t){.x = f->next, .how = f->how, .bad = f->bad};
  f->next++;
  return 1;
}

static void isolate_imap_goes_on_after_a_crash(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  static const struct { int how; const char *words; } kinds[] = {
      {HOW_SEGV, "killed by signal 11"}, {HOW_ABORT, "killed by signal 6"},
      {HOW_EXIT, "exited with status 3"}, {HOW_FPE, "killed by signal 8"},
      {HOW_STACK, "killed by signal 11"}};
  mpmp_pool_t *pool = isolated_pool(0);
  for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
    feed_t f = {.n = 30, .bad = 11, .how = kinds[k].how};
    mpmp_imap_t *it = NULL;
    OK(mpmp_pool_imap(pool, square_or_crash, feed_items, &f, sizeof(item_t),
                      sizeof(int64_t), 4, 0, &it));
    for (int i = 0; i < f.n; i++) {
      int64_t r = -1;
      size_t index = 0;
      int rc = mpmp_imap_next(it, &r, &index, T_OUT);
      EQ(index, i);
      if (i == f.bad) {
        EQ(rc, MPMP_ECRASHED);
        HAS_MSG(kinds[k].words);
        HAS_MSG("crashed on item 11 "); /* the imap's index, not its
                                         * sub-map's */
      } else {
        EQ(rc, 0);
        EQ(r, (int64_t)i * i);
      }
    }
    int64_t r;
    EQ(mpmp_imap_next(it, &r, NULL, T_OUT), MPMP_EEOF);
    mpmp_imap_destroy(it);
  }
  OK(mpmp_pool_destroy(pool));
}

/* pool_destroy (Python's `with` exit: terminate + join) returns within
 * MPMP_TERM_GRACE + 2 s though its task ignores the stop request. */
static void isolate_destroy_ends_an_ignoring_task(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = isolated_pool(0);
  int ignore = 1;
  mpmp_async_t *res = NULL;
  OK(mpmp_pool_apply_async(pool, runaway, &ignore, sizeof ignore, NULL, NULL,
                           &res));
  test_sleep(0.2);
  double t0 = test_now();
  OK(mpmp_pool_destroy(pool));
  IN(test_now() - t0, 0, 1 + 2);
  RC(mpmp_async_get(res, 0), MPMP_ECRASHED);
  mpmp_async_destroy(res);
}

/* Items 0..39; item 5 runs until asked to stop (polite) or for ever. */
static int64_t fed;
static int feed_40(void *user, void *item) {
  (void)user;
  if (fed >= 40)
    return 0;
  *(int64_t *)item = fed++;
  return 1;
}
static int loop_at_5(mpmp_ctx_t *ctx) {
  int64_t x = *(const int64_t *)mpmp_arg(ctx, NULL);
  while (x == 5 && !mpmp_should_stop(ctx))
    usleep(1000);
  *(int64_t *)mpmp_out(ctx, sizeof x) = x;
  return 0;
}
MPMP_TASK(loop_at_5);

/* An imap destroyed while its item runs in a task host asks it to stop,
 * and returns: the stop reached the worker also when its host held the
 * mailboxes (the loan) as it came (helper 56: 5 hangs in 26 runs; a
 * message that rang while the worker lent its rings went unread). */
static void isolate_imap_destroy_stops_its_running_item(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = isolated_pool(0);
  for (int round = 0; round < 12; round++) {
    mpmp_imap_t *it = NULL;
    fed = 0;
    OK(mpmp_pool_imap(pool, loop_at_5, feed_40, NULL, sizeof(int64_t),
                      sizeof(int64_t), 1, 0, &it));
    for (int i = 0; i < 5; i++) {
      int64_t r = -1;
      OK(mpmp_imap_next(it, &r, NULL, T_OUT));
    }
    double t0 = test_now();
    mpmp_imap_destroy(it); /* item 5 is running, or about to */
    IN(test_now() - t0, 0, 1 + 2);
  }
  OK(mpmp_pool_destroy(pool));
}

/* The executor's futures: the crashed one says so, the others hold
 * their results, and the executor takes more work. */
static void isolate_executor_futures(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_executor_t *ex = NULL;
  mpmp_executor_opts_t o = {.isolate = MPMP_ISOLATE_ALWAYS};
  OK(mpmp_executor_create(&ex, &o));
  enum { N = 6 };
  mpmp_future_t *f[N];
  for (int i = 0; i < N; i++) {
    item_t it = {.x = i, .how = HOW_ABORT, .bad = 2};
    OK(mpmp_executor_submit(ex, square_or_crash, &it, sizeof it, &f[i]));
  }
  for (int i = 0; i < N; i++) {
    const void *data = NULL;
    size_t size = 0;
    if (i == 2) {
      RC(mpmp_future_result(f[i], T_OUT, &data, &size), MPMP_ECRASHED);
      HAS_MSG("killed by signal 6");
    } else {
      OK(mpmp_future_result(f[i], T_OUT, &data, &size));
      EQ(size, sizeof(int64_t));
      EQ(*(const int64_t *)data, i * i);
    }
    mpmp_future_destroy(f[i]);
  }
  OK(mpmp_executor_destroy(ex));
}

/* A crashed item's result slot reads as zeros, never another item's bytes
 * (the worker's reused result buffer held an earlier chunk's results, and
 * the slot of the item its host died in was not written: a map's chunk of
 * 2 gave item 6 item 8's result). Items crash by exit(0), SIGSEGV and
 * abort() before writing, one after writing (its bytes never come back);
 * some crash next to each other, at a chunk's first and last place. */
enum { HOW_WRITE_SEGV = 100, STAMP = 1000, NSTALE = 24 };

static int stamp_or_crash(mpmp_ctx_t *ctx) {
  const item_t *it = mpmp_arg(ctx, NULL);
  if (it->x == it->bad) {
    switch (it->how) {
    case HOW_EXIT:
      exit(0);
    case HOW_SEGV:
      raise(SIGSEGV);
      break;
    case HOW_ABORT:
      abort();
    case HOW_WRITE_SEGV:
      *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = STAMP + it->x;
      raise(SIGSEGV);
      break;
    }
  }
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = STAMP + it->x;
  return 0;
}
MPMP_TASK(stamp_or_crash);

/* The items: how each crashes, 0 for those that write their stamp. */
static void stale_items(item_t *in) {
  static const struct {
    int x, how;
  } bad[] = {{2, HOW_EXIT},  {6, HOW_SEGV},        {7, HOW_ABORT},
             {11, HOW_EXIT}, {12, HOW_WRITE_SEGV}, {17, HOW_SEGV},
             {23, HOW_ABORT}};
  for (int i = 0; i < NSTALE; i++)
    in[i] = (item_t){.x = i, .bad = -1};
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
    in[bad[k].x] = (item_t){.x = bad[k].x, .how = bad[k].how, .bad = bad[k].x};
}

static const size_t stale_chunks[] = {1, 2, 3, 4, 0};

/* Map the items with each chunksize into a buffer that holds a non-zero
 * pattern: every good item has its stamp, every crashed one fails with
 * MPMP_ECRASHED (after `tries` attempts) and its slot is all zeros. Each
 * map runs twice, so that the workers' buffers hold results of the first
 * when the second comes. */
static void map_stale(mpmp_pool_t *pool, int tries) {
  item_t in[NSTALE];
  int64_t out[NSTALE];
  stale_items(in);
  int nbad = 0;
  for (int i = 0; i < NSTALE; i++)
    nbad += in[i].bad == i;
  for (size_t c = 0; c < 2 * sizeof stale_chunks / sizeof *stale_chunks; c++) {
    size_t cs = stale_chunks[c / 2];
    memset(out, 0x5a, sizeof out);
    mpmp_async_t *res = NULL;
    OK(mpmp_pool_map_async(pool, stamp_or_crash, in, NSTALE, sizeof *in, out,
                           sizeof *out, cs, NULL, NULL, &res));
    RC(mpmp_async_get(res, T_OUT), MPMP_ECRASHED);
    EQ(mpmp_async_failed_count(res), nbad);
    for (int i = 0, k = 0; i < NSTALE; i++) {
      if (in[i].bad != i) {
        if (out[i] != STAMP + i)
          fail_msg("chunksize %zu: item %d is %lld, expected %d", cs, i,
                   (long long)out[i], STAMP + i);
        continue;
      }
      if (out[i] != 0)
        fail_msg("chunksize %zu: crashed item %d is %#llx, expected zeros", cs,
                 i, (unsigned long long)out[i]);
      size_t index = 0;
      int rank = -1;
      const char *msg = NULL;
      OK(mpmp_async_failure(res, k++, &index, &rank, &msg));
      EQ(index, i);
      char words[64];
      snprintf(words, sizeof words, "crashed on item %d on rank %d", i, rank);
      if (strstr(msg, words) == NULL ||
          (tries > 1 && strstr(msg, "attempts)") == NULL))
        fail_msg("chunksize %zu: failure message '%s' lacks '%s'", cs, msg,
                 words);
    }
    mpmp_async_destroy(res);
  }
}

static void isolate_crashed_items_read_as_zeros(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = isolated_pool(0);
  map_stale(pool, 1);
  OK(mpmp_pool_destroy(pool));
  /* with retries: each crashes again, and fails at the last attempt */
  mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_ALWAYS, .max_retries = 1};
  OK(mpmp_pool_create(&pool, &o));
  map_stale(pool, 2);
  OK(mpmp_pool_destroy(pool));
}

/* imap hands each crashed item's zeros with its MPMP_ECRASHED. */
typedef struct stale_feed {
  item_t in[NSTALE];
  int next;
} stale_feed_t;

static int feed_stale(void *user, void *item) {
  stale_feed_t *f = user;
  if (f->next == NSTALE)
    return 0;
  *(item_t *)item = f->in[f->next++];
  return 1;
}

static void isolate_imap_crashed_items_read_as_zeros(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = isolated_pool(0);
  for (size_t c = 0; c < sizeof stale_chunks / sizeof *stale_chunks; c++) {
    stale_feed_t f = {.next = 0};
    stale_items(f.in);
    mpmp_imap_t *it = NULL;
    OK(mpmp_pool_imap(pool, stamp_or_crash, feed_stale, &f, sizeof(item_t),
                      sizeof(int64_t), stale_chunks[c], 0, &it));
    for (int i = 0; i < NSTALE; i++) {
      int64_t r;
      memset(&r, 0x5a, sizeof r);
      size_t index = 0;
      int rc = mpmp_imap_next(it, &r, &index, T_OUT);
      EQ(index, i);
      EQ(rc, f.in[i].bad == i ? MPMP_ECRASHED : 0);
      EQ(r, f.in[i].bad == i ? 0 : STAMP + i);
    }
    int64_t r;
    EQ(mpmp_imap_next(it, &r, NULL, T_OUT), MPMP_EEOF);
    mpmp_imap_destroy(it);
  }
  OK(mpmp_pool_destroy(pool));
}

/* map_var: a crashed item's result is empty. */
static void isolate_map_var_crashed_items_are_empty(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  mpmp_pool_t *pool = isolated_pool(0);
  item_t in[NSTALE];
  size_t off[NSTALE + 1];
  stale_items(in);
  for (int i = 0; i <= NSTALE; i++)
    off[i] = (size_t)i * sizeof *in;
  for (size_t c = 0; c < sizeof stale_chunks / sizeof *stale_chunks; c++) {
    mpmp_varbuf_t out = {0};
    RC(mpmp_pool_map_var(pool, stamp_or_crash, in, off, NSTALE, stale_chunks[c],
                         &out),
       MPMP_ECRASHED);
    EQ(out.n, NSTALE);
    for (int i = 0; i < NSTALE; i++) {
      size_t size = out.off[i + 1] - out.off[i];
      int64_t r = 0;
      if (size == sizeof r)
        memcpy(&r, out.data + out.off[i], sizeof r);
      if (in[i].bad == i ? size != 0 : size != sizeof r || r != STAMP + i)
        fail_msg("chunksize %zu: item %d has %zu bytes (%lld)", stale_chunks[c],
                 i, size, (long long)r);
    }
    mpmp_varbuf_free(&out);
  }
  OK(mpmp_pool_destroy(pool));
}

/* MPMP_ISOLATE=never: a pool that asks for hosts is refused, saying why;
 * the default pool runs its tasks in the worker as ever. */
static void isolate_never_refuses_hosts(void **state) {
  (void)state;
  if (!test_hosts_off())
    skip();
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_ALWAYS};
  RC(mpmp_pool_create(&pool, &o), MPMP_EINVAL);
  HAS_MSG("MPMP_ISOLATE=never");
  o = (mpmp_pool_opts_t){.task_timeout = 2};
  RC(mpmp_pool_create(&pool, &o), MPMP_EINVAL);
  HAS_MSG("needed by task_timeout");
  OK(mpmp_pool_create(&pool, NULL));
  item_t it = {.x = 5, .bad = -1};
  int64_t r = 0;
  OK(mpmp_pool_apply(pool, square_or_crash, &it, sizeof it, &r, sizeof r,
                     NULL));
  EQ(r, 25);
  OK(mpmp_pool_destroy(pool));
}

static void isolate_options_are_checked(void **state) {
  (void)state;
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.isolate = 7};
  RC(mpmp_pool_create(&pool, &o), MPMP_EINVAL);
  HAS_MSG("isolate is 7");
  o = (mpmp_pool_opts_t){.task_timeout = -1};
  RC(mpmp_pool_create(&pool, &o), MPMP_EINVAL);
  o = (mpmp_pool_opts_t){.task_timeout = 0.0 / 0.0};
  RC(mpmp_pool_create(&pool, &o), MPMP_EINVAL);
  o = (mpmp_pool_opts_t){.isolate = MPMP_ISOLATE_NEVER, .task_timeout = 1};
  RC(mpmp_pool_create(&pool, &o), MPMP_EINVAL);
  HAS_MSG("task_timeout needs isolated tasks");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(isolate_crash_kinds_cost_one_item),
    cmocka_unit_test(isolate_write_below_the_result_costs_one_item),
    cmocka_unit_test(isolate_result_slots_are_aligned),
    cmocka_unit_test(isolate_task_timeout_kills_a_runaway),
    cmocka_unit_test(isolate_task_timeout_bounds_the_initializer),
    cmocka_unit_test(isolate_task_timeout_bounds_every_workers_initializer),
    cmocka_unit_test(isolate_initializer_exit_0_fails_create),
    cmocka_unit_test(isolate_idle_hosts_killed_cost_no_item),
    cmocka_unit_test(isolate_apply_crash_and_result),
    cmocka_unit_test(isolate_hundred_crashes),
    cmocka_unit_test(isolate_terminate_kills_an_ignoring_task),
    cmocka_unit_test(isolate_terminate_reaches_the_host),
    cmocka_unit_test(isolate_retries_run_a_crashed_item_again),
    cmocka_unit_test(isolate_retries_go_to_another_worker),
    cmocka_unit_test(isolate_process_bodies),
    cmocka_unit_test(isolate_imap_goes_on_after_a_crash),
    cmocka_unit_test(isolate_destroy_ends_an_ignoring_task),
    cmocka_unit_test(isolate_task_timeout_bounds_a_new_hosts_initializer),
    cmocka_unit_test(isolate_imap_destroy_stops_its_running_item),
    cmocka_unit_test(isolate_big_map_grows_the_region),
    cmocka_unit_test(isolate_hosts_are_distinct_lock_owners),
    cmocka_unit_test(isolate_executor_futures),
    cmocka_unit_test(isolate_crashed_items_read_as_zeros),
    cmocka_unit_test(isolate_imap_crashed_items_read_as_zeros),
    cmocka_unit_test(isolate_map_var_crashed_items_are_empty),
    cmocka_unit_test(isolate_never_refuses_hosts),
    cmocka_unit_test(isolate_options_are_checked),
};

MPMP_TEST_MAIN(tests)
