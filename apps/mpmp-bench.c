/*
 * mpmp-bench: micro-benchmarks, one CSV line `name,value,unit` each.
 *
 *   mpirun -n 2 build/apps/mpmp-bench               all benchmarks
 *   mpirun -n 3 build/apps/mpmp-bench idle_main_cpu_pct
 *   build/apps/mpmp-bench --list
 *
 * Every figure is the median of several repetitions inside one run; the
 * machines are noisy, so compare medians of several runs too (README.md, "Performance").
 */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>
#include <mpmp.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru); /* all threads of this rank */
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- task bodies ------------------------------------------------------- */

static int empty_body(mpmp_ctx_t *ctx) { (void)ctx; return 0; }
MPMP_TASK(empty_body);

/* Returns the CPU seconds this rank has used so far. */
static int cpu_used_body(mpmp_ctx_t *ctx) {
  double *t = mpmp_out(ctx, sizeof *t);
  *t = cpu_seconds();
  return 0;
}
MPMP_TASK(cpu_used_body);

/* Computes for the given number of seconds (or until terminated). */
static int busy_body(mpmp_ctx_t *ctx) {
  const double *secs = mpmp_arg(ctx, NULL);
  volatile double x = 0;
  double end = now() + *secs;
  while (now() < end && !mpmp_should_stop(ctx))
    for (int i = 0; i < 10000; i++)
      x += i * 0.5;
  return 0;
}
MPMP_TASK(busy_body);

/* The limit rows' bodies run in their worker rank, as plain MPI code
 * would (they call MPI; a Process is isolated in a task host by default). */
static const mpmp_process_opts_t in_rank = {.isolate = MPMP_ISOLATE_NEVER};

/* Run fn(arg) in a process and wait for it; returns its result bytes. */
static int run_process(mpmp_task_fn fn, const void *arg, size_t n, void *out,
                       size_t outsize) {
  mpmp_process_t *p;
  const void *res = NULL;
  size_t size = 0;
  int rc = mpmp_process_create(&p, fn, arg, n, NULL);
  if (rc == 0 && (rc = mpmp_process_start(p)) == 0 &&
      (rc = mpmp_process_join(p, MPMP_FOREVER)) == 0 &&
      (rc = mpmp_process_result(p, &res, &size)) == 0 && out != NULL &&
      size == outsize)
    memcpy(out, res, size);
  mpmp_process_destroy(p);
  return rc;
}

/* ---- benchmarks ----------------------------------------------------------- */

static int bench_process_start_join(double *value) {
  enum { REPS = 7, ITERS = 2000 };
  double t[REPS];
  for (int r = 0; r < REPS; r++) {
    double t0 = now();
    for (int i = 0; i < ITERS; i++)
      if (run_process(empty_body, NULL, 0, NULL, 0) < 0)
        return -1;
    t[r] = (now() - t0) / ITERS * 1e6;
  }
  *value = median(t, REPS);
  return 0;
}

/* A worker with nothing to do, measured by its own CPU clock. */
static int bench_idle_worker(double *value) {
  double before, after, wall = 5.0;
  if (run_process(cpu_used_body, NULL, 0, &before, sizeof before) < 0)
    return -1;
  double t0 = now();
  struct timespec ts = {5, 0};
  nanosleep(&ts, NULL);
  wall = now() - t0;
  if (run_process(cpu_used_body, NULL, 0, &after, sizeof after) < 0)
    return -1;
  *value = 100.0 * (after - before) / wall;
  return 0;
}

/* The main rank blocked in join while a worker computes for 5 s. */
static int bench_idle_main(double *value) {
  double secs = 5.0;
  mpmp_process_t *p;
  if (mpmp_process_create(&p, busy_body, &secs, sizeof secs, NULL) < 0 ||
      mpmp_process_start(p) < 0)
    return -1;
  double c0 = cpu_seconds(), t0 = now();
  mpmp_process_join(p, MPMP_FOREVER);
  *value = 100.0 * (cpu_seconds() - c0) / (now() - t0);
  mpmp_process_destroy(p);
  return 0;
}

/* ---- pool benchmarks -------------------------------------------------------- */

typedef struct { int64_t a, b; } two_t; /* 16-byte argument */

static int add_two(mpmp_ctx_t *ctx) {
  const two_t *t = mpmp_arg(ctx, NULL);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = t->a + t->b;
  return 0;
}
MPMP_TASK(add_two);

static int square_int(mpmp_ctx_t *ctx) { /* int -> long, x*x */
  const int32_t *x = mpmp_arg(ctx, NULL);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = (int64_t)*x * *x;
  return 0;
}
MPMP_TASK(square_int);

/* About 20 ms of arithmetic: the CPU-bound item of the speedup row. */
static double cpu_work(int64_t seed) {
  volatile double x = (double)seed;
  for (int i = 0; i < 4000000; i++)
    x = x * 1.0000001 + 0.5;
  return x;
}
static int cpu_item(mpmp_ctx_t *ctx) {
  *(double *)mpmp_out(ctx, sizeof(double)) =
      cpu_work(*(const int64_t *)mpmp_arg(ctx, NULL));
  return 0;
}
MPMP_TASK(cpu_item);

/* Rows of isolated tasks set this around their run (task hosts); rows of
 * checkpointed maps the journals' directory. */
static int bench_isolate;
static const char *bench_checkpoint;

static mpmp_pool_t *bench_pool_of(int processes) {
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.processes = processes,
                        .isolate = bench_isolate ? MPMP_ISOLATE_ALWAYS : 0,
                        .checkpoint = bench_checkpoint};
  mpmp_pool_create(&pool, &o);
  return pool;
}

static mpmp_pool_t *bench_pool(void) { return bench_pool_of(0); }

/* `processes` workers in the pool (0: one per worker rank). */
static int task_roundtrip(double *value, int processes) {
  enum { REPS = 7, ITERS = 5000 };
  double t[REPS];
  two_t arg = {1, 2};
  int64_t r;
  mpmp_pool_t *pool = bench_pool_of(processes);
  if (pool == NULL)
    return -1;
  for (int k = 0; k < REPS; k++) {
    double t0 = now();
    for (int i = 0; i < ITERS; i++)
      if (mpmp_pool_apply(pool, add_two, &arg, sizeof arg, &r, sizeof r, NULL) < 0)
        return -1;
    t[k] = (now() - t0) / ITERS * 1e6;
  }
  mpmp_pool_destroy(pool);
  *value = median(t, REPS);
  return 0;
}

static int bench_task_roundtrip(double *value) { return task_roundtrip(value, 0); }

/* One worker while the job has more ranks: with mpirun -n 3 on 2 cores the
 * idle third rank shares a core with the main rank or the worker, and a
 * wait that yields to it for nothing shows here (issue 16). */
static int bench_task_roundtrip_n3(double *value) { return task_roundtrip(value, 1); }

static int bench_task_async(double *value) {
  enum { REPS = 5, N = 100000 };
  double t[REPS];
  two_t arg = {1, 2};
  mpmp_async_t **res = malloc(N * sizeof *res);
  mpmp_pool_opts_t o = {.processes = 1};
  mpmp_pool_t *pool = NULL;
  if (res == NULL || mpmp_pool_create(&pool, &o) < 0)
    return -1;
  for (int k = 0; k < REPS; k++) {
    double t0 = now();
    for (int i = 0; i < N; i++)
      if (mpmp_pool_apply_async(pool, add_two, &arg, sizeof arg, NULL, NULL, &res[i]) < 0)
        return -1;
    for (int i = 0; i < N; i++) {
      mpmp_async_get(res[i], MPMP_FOREVER);
      mpmp_async_destroy(res[i]);
    }
    t[k] = N / (now() - t0);
  }
  mpmp_pool_destroy(pool);
  free(res);
  *value = median(t, REPS);
  return 0;
}

/* Remove the journals of a checkpoint directory. */
static void empty_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[4200];
  while (d != NULL && (e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') {
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      unlink(path);
    }
  if (d != NULL)
    closedir(d);
}

static int bench_map(double *value, size_t n, size_t chunk, int reps) {
  double t[9];
  int32_t *in = malloc(n * sizeof *in);
  int64_t *out = malloc(n * sizeof *out);
  mpmp_pool_t *pool = bench_pool();
  if (in == NULL || out == NULL || pool == NULL)
    return -1;
  for (size_t i = 0; i < n; i++)
    in[i] = (int32_t)i;
  for (int k = 0; k < reps; k++) {
    double t0 = now();
    if (mpmp_pool_map(pool, square_int, in, n, sizeof *in, out, sizeof *out, chunk) < 0)
      return -1;
    t[k] = (double)n / (now() - t0);
    if (bench_checkpoint != NULL) /* each map writes its own journal */
      empty_dir(bench_checkpoint);
  }
  mpmp_pool_destroy(pool);
  free(in);
  free(out);
  *value = median(t, reps);
  return 0;
}

static int bench_map_chunk1(double *value) { return bench_map(value, 100000, 1, 5); }

/* The same rows with the tasks in task hosts (issue 14's cost). */
static int bench_task_roundtrip_isolated(double *value) {
  bench_isolate = 1;
  int rc = bench_task_roundtrip(value);
  bench_isolate = 0;
  return rc;
}

static int bench_map_chunk1_isolated(double *value) {
  bench_isolate = 1;
  int rc = bench_map(value, 100000, 1, 5);
  bench_isolate = 0;
  return rc;
}

static int crash_now(mpmp_ctx_t *ctx) {
  (void)ctx;
  raise(SIGSEGV);
  return 0;
}
MPMP_TASK(crash_now);

/* A host's crash, then the next item on that worker: the time of both,
 * less an ordinary round trip (median of 21). */
static int bench_crash_recover(double *value) {
  enum { REPS = 21 };
  double t[REPS];
  two_t arg = {1, 2};
  int64_t r;
  mpmp_pool_opts_t o = {.processes = 1, .isolate = MPMP_ISOLATE_ALWAYS};
  mpmp_pool_t *pool = NULL;
  if (mpmp_pool_create(&pool, &o) < 0 ||
      mpmp_pool_apply(pool, add_two, &arg, sizeof arg, &r, sizeof r, NULL) < 0)
    return -1;
  for (int k = 0; k < REPS; k++) {
    double t0 = now();
    if (mpmp_pool_apply(pool, add_two, &arg, sizeof arg, &r, sizeof r, NULL) < 0)
      return -1;
    double t1 = now();
    if (mpmp_pool_apply(pool, crash_now, &arg, sizeof arg, &r, sizeof r,
                        NULL) != MPMP_ECRASHED ||
        mpmp_pool_apply(pool, add_two, &arg, sizeof arg, &r, sizeof r, NULL) < 0)
      return -1;
    t[k] = ((now() - t1) - (t1 - t0)) * 1e3;
  }
  mpmp_pool_destroy(pool);
  *value = median(t, REPS);
  return 0;
}
static int bench_map_items(double *value) { return bench_map(value, 10000000, 0, 7); }

/* The same map over 10^8 ints (1.2 GB of input and output): what a map
 * much bigger than the caches and than one chunk costs per item. The first
 * repetition also faults in the output; the median leaves it out. */
static int bench_map_items_1e8(double *value) {
  return bench_map(value, 100000000, 0, 5);
}

/* ---- issue 16: chunk tasks and zero-copy maps (chunktask.c) ---- */

/* The map's x*x over a chunk at once (a chunk task). */
static int square_chunk(mpmp_ctx_t *ctx, const void *in, void *out,
                        size_t count) {
  (void)ctx;
  const int32_t *x = in;
  int64_t *y = out;
  for (size_t i = 0; i < count; i++)
    y[i] = (int64_t)x[i] * x[i];
  return 0;
}
MPMP_CHUNK_TASK(square_chunk);

enum { BIG_N = 10000000, BIG_REPS = 7 };

/* The limit: the same loop serially on the main rank, its buffers warm. */
static int bench_raw_serial_items(double *value) {
  double t[BIG_REPS];
  int32_t *in = malloc(BIG_N * sizeof *in);
  int64_t *out = malloc(BIG_N * sizeof *out);
  if (in == NULL || out == NULL)
    return -1;
  for (size_t i = 0; i < BIG_N; i++)
    in[i] = (int32_t)i;
  square_chunk(NULL, in, out, BIG_N); /* faults the pages in */
  for (int k = 0; k < BIG_REPS; k++) {
    double t0 = now();
    square_chunk(NULL, in, out, BIG_N);
    __asm__ volatile("" : : "r"(out) : "memory"); /* keep the stores */
    t[k] = BIG_N / (now() - t0);
  }
  free(in);
  free(out);
  *value = median(t, BIG_REPS);
  return 0;
}

/* The map of map_items_per_s as a chunk task (items and results copied). */
static int bench_map_chunk_task(double *value) {
  double t[BIG_REPS];
  int32_t *in = malloc(BIG_N * sizeof *in);
  int64_t *out = malloc(BIG_N * sizeof *out);
  mpmp_pool_t *pool = bench_pool();
  if (in == NULL || out == NULL || pool == NULL)
    return -1;
  for (size_t i = 0; i < BIG_N; i++)
    in[i] = (int32_t)i;
  /* one map first, as the serial row's loop runs once first (the pages) */
  if (mpmp_pool_map_chunks(pool, square_chunk, in, BIG_N, sizeof *in, out,
                           sizeof *out, 0) < 0)
    return -1;
  for (int k = 0; k < BIG_REPS; k++) {
    double t0 = now();
    if (mpmp_pool_map_chunks(pool, square_chunk, in, BIG_N, sizeof *in, out,
                             sizeof *out, 0) < 0)
      return -1;
    t[k] = BIG_N / (now() - t0);
  }
  mpmp_pool_destroy(pool);
  free(in);
  free(out);
  *value = median(t, BIG_REPS);
  return 0;
}

/* The same chunk task with its items and results in SharedMemory: the
 * workers read and write them in place. */
static int bench_map_zero_copy(double *value) {
  double t[BIG_REPS];
  mpmp_shm_t *in = NULL, *out = NULL;
  mpmp_pool_t *pool = bench_pool();
  if (pool == NULL ||
      mpmp_shm_create(&in, NULL, BIG_N * sizeof(int32_t)) < 0 ||
      mpmp_shm_create(&out, NULL, BIG_N * sizeof(int64_t)) < 0)
    return -1;
  int32_t *x = mpmp_shm_buf(in);
  for (size_t i = 0; i < BIG_N; i++)
    x[i] = (int32_t)i;
  /* one map first, as the serial row's loop runs once first: the output
   * block's pages are made at their first touch, and the workers map the
   * blocks (their views stay for the next maps) */
  if (mpmp_pool_map_shm(pool, NULL, square_chunk, in, 0, BIG_N,
                        sizeof(int32_t), out, 0, sizeof(int64_t), 0) < 0)
    return -1;
  for (int k = 0; k < BIG_REPS; k++) {
    double t0 = now();
    if (mpmp_pool_map_shm(pool, NULL, square_chunk, in, 0, BIG_N,
                          sizeof(int32_t), out, 0, sizeof(int64_t), 0) < 0)
      return -1;
    t[k] = BIG_N / (now() - t0);
  }
  mpmp_pool_destroy(pool);
  mpmp_shm_unlink(in);
  mpmp_shm_unlink(out);
  mpmp_shm_close(in);
  mpmp_shm_close(out);
  *value = median(t, BIG_REPS);
  return 0;
}

/* A fresh directory for journals (under TMPDIR: local disk), or NULL. */
static char *journal_dir(void) {
  const char *tmp = getenv("TMPDIR");
  char *dir = malloc(4096);
  if (dir == NULL)
    return NULL;
  snprintf(dir, 4096, "%s/mpmp-bench-ckpt-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    free(dir);
    return NULL;
  }
  return dir;
}

/* The same map with a checkpoint journal (issue 15's cost). */
static int bench_map_items_checkpoint(double *value) {
  char *dir = journal_dir();
  if (dir == NULL)
    return -1;
  bench_checkpoint = dir;
  int rc = bench_map(value, 10000000, 0, 7);
  bench_checkpoint = NULL;
  rmdir(dir);
  free(dir);
  return rc;
}

/* A map whose journal holds every item: what a rerun of a finished
 * program pays (one read of the journal). The journal of map K is made
 * the journal of map K + 1, as a rerun would find it. */
static int bench_map_items_resume(double *value) {
  enum { REPS = 5 };
  const size_t n = 10000000;
  double t[REPS];
  char *dir = journal_dir();
  int32_t *in = malloc(n * sizeof *in);
  int64_t *out = malloc(n * sizeof *out);
  if (dir == NULL || in == NULL || out == NULL)
    return -1;
  for (size_t i = 0; i < n; i++)
    in[i] = (int32_t)i;
  bench_checkpoint = dir;
  mpmp_pool_t *pool = bench_pool();
  bench_checkpoint = NULL;
  int rc = pool ? mpmp_pool_map(pool, square_int, in, n, sizeof *in, out,
                                sizeof *out, 0) : -1;
  for (int k = 0; k < REPS && rc == 0; k++) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char from[4200] = "", to[4200];
    unsigned ord = 0;
    while (d != NULL && (e = readdir(d)) != NULL)
      if (sscanf(e->d_name, "map-%u.mpmpj", &ord) == 1)
        snprintf(from, sizeof from, "%s/%s", dir, e->d_name);
    if (d != NULL)
      closedir(d);
    snprintf(to, sizeof to, "%s/map-%04u.mpmpj", dir, ord + 1);
    if (from[0] == '\0' || rename(from, to) < 0)
      rc = -1;
    memset(out, 0, n * sizeof *out);
    double t0 = now();
    if (rc == 0 &&
        mpmp_pool_map(pool, square_int, in, n, sizeof *in, out, sizeof *out,
                      0) < 0)
      rc = -1;
    t[k] = (double)n / (now() - t0);
    if (rc == 0 && out[n - 1] != (int64_t)(n - 1) * (int64_t)(n - 1))
      rc = -1; /* the results must be there */
  }
  mpmp_pool_destroy(pool);
  empty_dir(dir);
  rmdir(dir);
  free(dir);
  free(in);
  free(out);
  if (rc == 0)
    *value = median(t, REPS);
  return rc;
}

/* 16 CPU-bound items: serial on the main rank, then on the pool. */
static int bench_cpu_speedup(double *value) {
  enum { N = 16, REPS = 3 };
  int64_t in[N];
  double out[N], ratio[REPS];
  mpmp_pool_t *pool = bench_pool();
  if (pool == NULL)
    return -1;
  for (int i = 0; i < N; i++)
    in[i] = i;
  for (int k = 0; k < REPS; k++) {
    double t0 = now();
    for (int i = 0; i < N; i++)
      out[i] = cpu_work(in[i]);
    double serial = now() - t0;
    t0 = now();
    if (mpmp_pool_map(pool, cpu_item, in, N, sizeof *in, out, sizeof *out, 1) < 0)
      return -1;
    ratio[k] = serial / (now() - t0);
  }
  mpmp_pool_destroy(pool);
  *value = median(ratio, REPS);
  return 0;
}

/* The limit for cpu_map_speedup: the same 16 items, 8 on the main rank and
 * 8 on one worker at the same time, with no pool and no message while they
 * compute: what two busy cores give on this machine. */
static int raw_cpu_half(mpmp_ctx_t *ctx) {
  double *sum = mpmp_out(ctx, sizeof *sum);
  for (int64_t i = 0; i < 8; i++)
    *sum += cpu_work(i);
  return 0;
}
MPMP_TASK(raw_cpu_half);

static int bench_raw_cpu_speedup(double *value) {
  enum { REPS = 3 };
  double ratio[REPS];
  for (int k = 0; k < REPS; k++) {
    double t0 = now(), sum = 0;
    for (int64_t i = 0; i < 16; i++)
      sum += cpu_work(i);
    double serial = now() - t0;
    mpmp_process_t *p;
    t0 = now();
    if (mpmp_process_create(&p, raw_cpu_half, NULL, 0, &in_rank) < 0 ||
        mpmp_process_start(p) < 0)
      return -1;
    for (int64_t i = 8; i < 16; i++)
      sum += cpu_work(i);
    if (mpmp_process_join(p, MPMP_FOREVER) < 0)
      return -1;
    ratio[k] = serial / (now() - t0);
    mpmp_process_destroy(p);
  }
  *value = median(ratio, REPS);
  return 0;
}

/* ---- shared objects ------------------------------------------------------- */

/* Both the main rank and one worker hammer one Value for `secs`: with its
 * atomic add, or under its lock (Python: `with v.get_lock(): v.value += 1`). */
typedef struct hammer {
  mpmp_value_t v;
  mpmp_lock_t lock;
  double secs;
  int locked;
  int fetch;       /* adds that return the old value (a round trip each) */
  int64_t updates; /* > 0: this many updates, whatever the time */
} hammer_t;

typedef struct hammer_res {
  int64_t count;
  double elapsed;
} hammer_res_t;

static int hammer_loop(const hammer_t *h, hammer_res_t *res) {
  int64_t n = 0;
  double t0 = now(), end = t0 + h->secs, t = t0;
  while (h->updates > 0 ? n < h->updates : t < end) {
    for (int i = 0; i < 256; i++) {
      if (h->locked) {
        int32_t x;
        if (mpmp_lock_acquire(h->lock, MPMP_FOREVER) < 0 ||
            mpmp_value_load(h->v, &x) < 0)
          return -1;
        x++;
        if (mpmp_value_store(h->v, &x) < 0 ||
            mpmp_lock_release(h->lock) < 0)
          return -1;
      } else {
        int64_t old;
        if (mpmp_value_add(h->v, 1, h->fetch ? &old : NULL) < 0)
          return -1;
      }
    }
    n += 256;
    t = now();
  }
  res->count = n;
  res->elapsed = t - t0;
  return 0;
}

static int hammer_body(mpmp_ctx_t *ctx) {
  const hammer_t *h = mpmp_arg(ctx, NULL);
  hammer_res_t *res = mpmp_out(ctx, sizeof *res);
  if (hammer_loop(h, res) < 0)
    return mpmp_fail(ctx, "%s", mpmp_errmsg());
  return 0;
}
MPMP_TASK(hammer_body);

/* `reps` rounds of `procs` Processes, and the main rank too when
 * `main_too`, each running hammer_loop on one Value zeroed before every
 * round: the median over the rounds of the sum of their rates, or
 * (`by_slowest`) of all their updates over the slowest one's time. The
 * Value must end each round at the sum of their counts. */
enum { HAMMER_MAXP = 4, HAMMER_MAXREPS = 5 };
static int hammer_rounds(hammer_t h, int reps, int procs, int main_too,
                         int by_slowest, double *value) {
  double rate[HAMMER_MAXREPS];
  if (mpmp_value_create(&h.v, MPMP_INT32, NULL, 1) < 0 ||
      mpmp_value_get_lock(h.v, &h.lock) < 0)
    return -1;
  for (int r = 0; r < reps; r++) {
    int32_t zero = 0, final;
    mpmp_process_t *p[HAMMER_MAXP];
    hammer_res_t mine = {0}, theirs;
    int64_t total = 0;
    double sum = 0, slowest = 0;
    if (mpmp_value_store(h.v, &zero) < 0)
      return -1;
    for (int i = 0; i < procs; i++)
      if (mpmp_process_create(&p[i], hammer_body, &h, sizeof h, NULL) < 0 ||
          mpmp_process_start(p[i]) < 0)
        return -1;
    if (main_too) {
      if (hammer_loop(&h, &mine) < 0)
        return -1;
      total = mine.count;
      sum = mine.count / mine.elapsed;
      slowest = mine.elapsed;
    }
    for (int i = 0; i < procs; i++) {
      const void *res;
      size_t size;
      if (mpmp_process_join(p[i], MPMP_FOREVER) < 0 ||
          mpmp_process_result(p[i], &res, &size) < 0 || size != sizeof theirs)
        return -1;
      memcpy(&theirs, res, sizeof theirs);
      mpmp_process_destroy(p[i]);
      total += theirs.count;
      sum += theirs.count / theirs.elapsed;
      slowest = theirs.elapsed > slowest ? theirs.elapsed : slowest;
    }
    if (mpmp_value_load(h.v, &final) < 0)
      return -1;
    if (final != (int32_t)total) {
      fprintf(stderr, "lost updates: %d, expected %lld\n", final,
              (long long)total);
      return -1;
    }
    rate[r] = by_slowest ? total / slowest : sum;
  }
  mpmp_value_free(h.v);
  *value = median(rate, reps);
  return 0;
}

/* Both ranks for 0.3 s: the sum of their rates. */
static int hammer(int locked, double *value) {
  return hammer_rounds((hammer_t){.secs = 0.3, .locked = locked}, 5, 1, 1, 0,
                       value);
}

/* ---- the hardware's and MPI's limits, measured in the same run --------------
 * The host's speed drifts (README, "Performance"): read mpmp's rows against these. */

typedef struct raw_add {
  mpmp_array_t a; /* one int64: its memory, not its API */
  double secs;
} raw_add_t;

static int raw_add_loop(const raw_add_t *r, hammer_res_t *res) {
  int64_t *x, n = 0;
  if (mpmp_array_data(r->a, (void **)&x) < 0)
    return -1;
  double t0 = now(), end = t0 + r->secs, t = t0;
  while (t < end) {
    for (int i = 0; i < 256; i++)
      __atomic_fetch_add(x, 1, __ATOMIC_SEQ_CST);
    n += 256;
    t = now();
  }
  res->count = n;
  res->elapsed = t - t0;
  return 0;
}

static int raw_add_body(mpmp_ctx_t *ctx) {
  if (raw_add_loop(mpmp_arg(ctx, NULL), mpmp_out(ctx, sizeof(hammer_res_t))) < 0)
    return mpmp_fail(ctx, "%s", mpmp_errmsg());
  return 0;
}
MPMP_TASK(raw_add_body);

/* C11 atomic adds by main + 1 worker on the same shared word: the limit
 * for value_atomic_add_per_s (README, "Performance": 63 M/s measured once). */
static int bench_raw_atomic_add(double *value) {
  enum { REPS = 5 };
  double rate[REPS];
  raw_add_t r = {.secs = 0.3};
  if (mpmp_node_count() > 1)
    return 1; /* skipped: the worker may be on the other node */
  if (mpmp_array_create(&r.a, MPMP_INT64, 1, NULL, 0) < 0)
    return -1;
  for (int k = 0; k < REPS; k++) {
    mpmp_process_t *p;
    hammer_res_t mine, theirs;
    const void *res;
    size_t size;
    if (mpmp_process_create(&p, raw_add_body, &r, sizeof r, &in_rank) < 0 ||
        mpmp_process_start(p) < 0 || raw_add_loop(&r, &mine) < 0 ||
        mpmp_process_join(p, MPMP_FOREVER) < 0 ||
        mpmp_process_result(p, &res, &size) < 0 || size != sizeof theirs)
      return -1;
    memcpy(&theirs, res, sizeof theirs);
    mpmp_process_destroy(p);
    rate[k] = mine.count / mine.elapsed + theirs.count / theirs.elapsed;
  }
  mpmp_array_free(r.a);
  *value = median(rate, REPS);
  return 0;
}

/* MPI's own ping-pong between the main rank and a worker, 8 bytes, on
 * MPI_COMM_WORLD (mpmp talks on a duplicate): the limit for the round-trip
 * rows (README, "Performance": 1.0 us measured once). */
enum { RAW_PINGS = 20000 };

static int raw_pong_body(mpmp_ctx_t *ctx) {
  char m[8];
  (void)ctx;
  for (int i = 0; i < RAW_PINGS; i++) {
    MPI_Recv(m, 8, MPI_BYTE, 0, 77, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Send(m, 8, MPI_BYTE, 0, 77, MPI_COMM_WORLD);
  }
  return 0;
}
MPMP_TASK(raw_pong_body);

static int bench_raw_mpi_roundtrip(double *value) {
  enum { REPS = 5 };
  double t[REPS];
  char m[8] = "ping!!!";
  for (int k = 0; k < REPS; k++) {
    mpmp_process_t *p;
    if (mpmp_process_create(&p, raw_pong_body, NULL, 0, &in_rank) < 0 ||
        mpmp_process_start(p) < 0)
      return -1;
    int peer = mpmp_process_rank(p);
    double t0 = now();
    for (int i = 0; i < RAW_PINGS; i++) {
      MPI_Send(m, 8, MPI_BYTE, peer, 77, MPI_COMM_WORLD);
      MPI_Recv(m, 8, MPI_BYTE, peer, 77, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    }
    t[k] = (now() - t0) / RAW_PINGS * 1e6;
    if (mpmp_process_join(p, MPMP_FOREVER) < 0)
      return -1;
    mpmp_process_destroy(p);
  }
  *value = median(t, REPS);
  return 0;
}

static int bench_value_atomic_add(double *value) { return hammer(0, value); }
static int bench_value_locked_add(double *value) { return hammer(1, value); }

/* Four Processes (fewer with fewer workers) each do 1 024 v += 1 under
 * the Value's lock while the main rank waits (issue 17: under --pseudo 2
 * -n 6, workers 1-4 are two on each node, and the lock lives on the main
 * rank's node): all their updates over the time the slowest took, so a
 * lock that starves the far node's processes shows. The Value must end at
 * the sum of their counts. */
static int bench_lock_contended(double *value) {
  int np = mpmp_worker_count() < HAMMER_MAXP ? mpmp_worker_count()
                                             : HAMMER_MAXP;
  return hammer_rounds((hammer_t){.locked = 1, .updates = 1024}, 3, np, 0, 1,
                       value);
}

/* One worker alone adds to a Value made by the main rank: per add, from a
 * rank on another node when the job spans nodes (the remote path: adds
 * that return nothing are pipelined there; `fetch`: each returns the old
 * value, a round trip). The Value must end at the sum of the counts. */
static int value_add_worker(int fetch, double *value) {
  enum { REPS = 5 };
  double t[REPS];
  int64_t total = 0, got = -1;
  hammer_t h = {.secs = 0.3, .locked = 0, .fetch = fetch};
  if (mpmp_value_create(&h.v, MPMP_INT64, NULL, 0) < 0)
    return -1;
  for (int r = 0; r < REPS; r++) {
    hammer_res_t res = {0};
    if (run_process(hammer_body, &h, sizeof h, &res, sizeof res) < 0)
      return -1;
    t[r] = res.elapsed / (double)res.count * 1e6;
    total += res.count;
  }
  if (mpmp_value_load(h.v, &got) < 0 || got != total) {
    fprintf(stderr, "value_add_worker: the Value is %lld after %lld adds\n",
            (long long)got, (long long)total);
    return -1;
  }
  mpmp_value_free(h.v);
  *value = median(t, REPS);
  return 0;
}
static int bench_value_add_worker(double *value) {
  return value_add_worker(0, value);
}
static int bench_value_fetch_add_worker(double *value) {
  return value_add_worker(1, value);
}

static int bench_lock_uncontended(double *value) {
  enum { REPS = 7, ITERS = 1000000 };
  double t[REPS];
  mpmp_lock_t lock;
  if (mpmp_lock_create(&lock) < 0)
    return -1;
  for (int r = 0; r < REPS; r++) {
    double t0 = now();
    for (int i = 0; i < ITERS; i++)
      if (mpmp_lock_acquire(lock, MPMP_FOREVER) < 0 ||
          mpmp_lock_release(lock) < 0)
        return -1;
    t[r] = (now() - t0) / ITERS * 1e9;
  }
  mpmp_lock_free(lock);
  *value = median(t, REPS);
  return 0;
}

/* ---- queues and pipes ---------------------------------------------------- */

/* A worker answers every 8-byte message on `to` with one on `back`
 * (queues), or on the same pipe end (pipes), until an empty one. */
typedef struct pong {
  mpmp_queue_t to, back;
  mpmp_conn_t end;
  int pipe;
  long items; /* throughput: items to put, 64 bytes each */
  int id;     /* throughput: the producer's number */
} pong_t;

static int pong_body(mpmp_ctx_t *ctx) {
  const pong_t *a = mpmp_arg(ctx, NULL);
  char m[8];
  size_t n;
  for (;;) {
    int rc = a->pipe ? mpmp_conn_recv(a->end, m, sizeof m, &n, 60)
                     : mpmp_queue_get(a->to, m, sizeof m, &n, 60);
    if (rc < 0)
      return mpmp_fail(ctx, "%s", mpmp_errmsg());
    if (n == 0)
      return 0;
    rc = a->pipe ? mpmp_conn_send(a->end, m, n, 60)
                 : mpmp_queue_put(a->back, m, n, 60);
    if (rc < 0)
      return mpmp_fail(ctx, "%s", mpmp_errmsg());
  }
}
MPMP_TASK(pong_body);

/* One-way latency: half the round trip main -> worker -> main, 8 bytes. */
static int pingpong(int pipe, double *value) {
  enum { REPS = 7 };
  int iters = mpmp_node_count() > 1 ? 2000 : 100000;
  double t[REPS];
  pong_t a = {.pipe = pipe};
  mpmp_conn_t mine;
  mpmp_process_t *p = NULL;
  char m[8] = "ping!!!", r[8];
  size_t n;
  int rc;
  if (pipe ? mpmp_pipe_create(&mine, &a.end, 1) < 0
           : (mpmp_queue_create(&a.to, 64, 8) < 0 ||
              mpmp_queue_create(&a.back, 64, 8) < 0))
    return -1;
  if ((rc = mpmp_process_create(&p, pong_body, &a, sizeof a, NULL)) < 0 ||
      (rc = mpmp_process_start(p)) < 0)
    return rc;
  for (int k = -1; k < REPS && rc == 0; k++) { /* k = -1: warm-up */
    double t0 = now();
    for (int i = 0; i < iters && rc == 0; i++) {
      rc = pipe ? mpmp_conn_send(mine, m, sizeof m, 60)
                : mpmp_queue_put(a.to, m, sizeof m, 60);
      if (rc == 0)
        rc = pipe ? mpmp_conn_recv(mine, r, sizeof r, &n, 60)
                  : mpmp_queue_get(a.back, r, sizeof r, &n, 60);
    }
    if (k >= 0)
      t[k] = (now() - t0) / iters / 2 * 1e6;
  }
  int end = pipe ? mpmp_conn_send(mine, NULL, 0, 60)
                 : mpmp_queue_put(a.to, NULL, 0, 60);
  if (mpmp_process_join(p, 60) < 0 || end < 0)
    rc = -1;
  mpmp_process_destroy(p);
  if (pipe)
    mpmp_pipe_free(mine, a.end);
  else
    mpmp_queue_free(a.to), mpmp_queue_free(a.back);
  if (rc < 0)
    return rc;
  *value = median(t, REPS);
  return 0;
}

static int bench_queue_oneway(double *value) { return pingpong(0, value); }
static int bench_pipe_oneway(double *value) { return pingpong(1, value); }

/* The worker puts `items` 64-byte items as fast as it can (or sends them
 * on its pipe end): its sequence number, then its producer number `id`. */
static int producer_body(mpmp_ctx_t *ctx) {
  const pong_t *a = mpmp_arg(ctx, NULL);
  char item[64] = {0};
  memcpy(item + sizeof(long), &a->id, sizeof a->id);
  for (long i = 0; i < a->items; i++) {
    memcpy(item, &i, sizeof i);
    if ((a->pipe ? mpmp_conn_send(a->end, item, sizeof item, 60)
                 : mpmp_queue_put(a->to, item, sizeof item, 60)) < 0)
      return mpmp_fail(ctx, "%s", mpmp_errmsg());
  }
  return 0;
}
MPMP_TASK(producer_body);

/* Items per second from `np` producers (workers, `items` / np each) to one
 * consumer (main), timed by the consumer from its first item to its last.
 * Each producer's items must come in its order (Python's guarantee).
 * `pipe`: one producer, sending on the end of a one-way Pipe. */
static int queue_throughput(int np, int pipe, int maxsize, double *value) {
  enum { REPS = 5, MAXP = 16 };
  double t[REPS];
  long total = mpmp_node_count() > 1 ? 20000 : 2000000;
  pong_t a[MAXP];
  mpmp_process_t *p[MAXP];
  char item[64];
  size_t n;
  mpmp_queue_t q = {0};
  mpmp_conn_t in = {0}, out = {0};
  if (np > MAXP || (pipe && np != 1) ||
      (pipe ? mpmp_pipe_create(&in, &out, 0)
            : mpmp_queue_create(&q, maxsize, sizeof item)) < 0)
    return -1;
  total -= total % np;
  for (int k = 0; k < REPS; k++) {
    long next[MAXP] = {0};
    int rc = 0, started = 0;
    for (int j = 0; j < np && rc == 0; j++) {
      a[j] = (pong_t){.to = q, .end = out, .pipe = pipe,
                      .items = total / np, .id = j};
      if ((rc = mpmp_process_create(&p[j], producer_body, &a[j], sizeof a[j],
                                    NULL)) == 0 &&
          (rc = mpmp_process_start(p[j])) == 0)
        started++;
    }
    double t0 = 0;
    for (long i = 0; i < total && rc == 0; i++) {
      if ((rc = pipe ? mpmp_conn_recv(in, item, sizeof item, &n, 60)
                     : mpmp_queue_get(q, item, sizeof item, &n, 60)) < 0)
        break;
      if (i == 0)
        t0 = now();
      long got;
      int id;
      memcpy(&got, item, sizeof got);
      memcpy(&id, item + sizeof got, sizeof id);
      if (id < 0 || id >= np || got != next[id]) {
        fprintf(stderr, "queue_throughput: item %ld of producer %d, "
                "expected %ld\n", got, id, id >= 0 && id < np ? next[id] : -1);
        rc = -1;
      } else {
        next[id]++;
      }
    }
    t[k] = (double)(total - 1) / (now() - t0);
    for (int j = 0; j < started; j++) {
      if (mpmp_process_join(p[j], 60) < 0)
        rc = -1;
      mpmp_process_destroy(p[j]);
    }
    if (rc < 0)
      return -1;
  }
  if (pipe)
    mpmp_pipe_free(in, out);
  else
    mpmp_queue_free(q);
  *value = median(t, REPS);
  return 0;
}

static int bench_queue_throughput(double *value) {
  return queue_throughput(1, 0, 0, value);
}
static int bench_queue_throughput_4p(double *value) {
  return queue_throughput(4, 0, 0, value);
}
static int bench_pipe_throughput(double *value) {
  return queue_throughput(1, 1, 0, value);
}
/* The same into a bounded queue (maxsize 1024): from another node, puts
 * are pipelined while the producer's share of the room lasts. */
static int bench_queue_bounded_throughput(double *value) {
  return queue_throughput(1, 0, 1024, value);
}

/* ---- Manager ----------------------------------------------------------------- */

/* A worker sets and gets one key of a Manager dict for `secs`. */
typedef struct dict_ops {
  mpmp_dict_t d;
  double secs;
  int key; /* the key is "key<n>": each client its own */
} dict_ops_t;

static int dict_ops_body(mpmp_ctx_t *ctx) {
  const dict_ops_t *a = mpmp_arg(ctx, NULL);
  hammer_res_t *res = mpmp_out(ctx, sizeof *res);
  int64_t n = 0;
  char key[32];
  snprintf(key, sizeof key, "key%d", a->key);
  double t0 = now(), end = t0 + a->secs, t = t0;
  while (t < end) {
    for (int i = 0; i < 64; i++, n += 2) {
      int64_t v = n, w = -1;
      size_t size;
      if (mpmp_dict_set(a->d, key, &v, sizeof v) < 0 ||
          mpmp_dict_get(a->d, key, &w, sizeof w, &size) < 0)
        return mpmp_fail(ctx, "%s", mpmp_errmsg());
      if (w != v)
        return mpmp_fail(ctx, "got %lld after setting %lld", (long long)w,
                         (long long)v);
    }
    t = now();
  }
  res->count = n;
  res->elapsed = t - t0;
  return 0;
}
MPMP_TASK(dict_ops_body);

/* Python: d[k] = v; d[k] from a Process against manager.dict(). Set and
 * get count as one operation each. The server takes one worker rank and
 * the body another (on the other node with --pseudo 2 -n 3). */
static int bench_manager_dict_ops(double *value) {
  enum { REPS = 5 };
  double rate[REPS];
  mpmp_manager_t m;
  dict_ops_t a = {.secs = 0.3};
  if (mpmp_manager_start(&m) < 0)
    return -1;
  int rc = mpmp_dict_create(m, &a.d);
  for (int r = 0; r < REPS && rc == 0; r++) {
    hammer_res_t res = {0};
    if ((rc = run_process(dict_ops_body, &a, sizeof a, &res, sizeof res)) < 0)
      break;
    rate[r] = (double)res.count / res.elapsed;
  }
  if (mpmp_manager_shutdown(m) < 0 || rc < 0)
    return -1;
  *value = median(rate, REPS);
  return 0;
}

/* manager_dict_ops_per_s with 4 client processes at once on one dict, each
 * on its own key: the sum of their rates (the server takes a fifth worker
 * rank; mpirun -n 6). */
static int bench_manager_dict_ops_4clients(double *value) {
  enum { REPS = 3, NC = 4 };
  double rate[REPS];
  mpmp_manager_t m;
  mpmp_dict_t d;
  if (mpmp_manager_start(&m) < 0)
    return -1;
  int rc = mpmp_dict_create(m, &d);
  for (int r = 0; r < REPS && rc == 0; r++) {
    mpmp_process_t *p[NC] = {0};
    rate[r] = 0;
    for (int k = 0; k < NC && rc == 0; k++) {
      dict_ops_t a = {.d = d, .secs = 0.3, .key = k};
      if ((rc = mpmp_process_create(&p[k], dict_ops_body, &a, sizeof a,
                                    NULL)) == 0)
        rc = mpmp_process_start(p[k]);
    }
    for (int k = 0; k < NC; k++) {
      const hammer_res_t *res = NULL;
      size_t size = 0;
      if (p[k] == NULL)
        continue;
      if (rc == 0 && (rc = mpmp_process_join(p[k], MPMP_FOREVER)) == 0 &&
          (rc = mpmp_process_result(p[k], (const void **)&res, &size)) == 0 &&
          size == sizeof *res)
        rate[r] += (double)res->count / res->elapsed;
      else if (rc == 0)
        rc = -1;
      mpmp_process_destroy(p[k]);
    }
  }
  if (mpmp_manager_shutdown(m) < 0 || rc < 0)
    return -1;
  *value = median(rate, REPS);
  return 0;
}

typedef struct bench {
  const char *name, *unit, *what;
  int min_workers;
  int (*run)(double *value);
} bench_t;

static const bench_t benches[] = {
    {"process_start_join_us", "us", "start + join of an empty body", 1,
     bench_process_start_join},
    {"idle_worker_cpu_pct", "pct", "CPU of a worker with nothing to do, 5 s",
     1, bench_idle_worker},
    {"idle_main_cpu_pct", "pct", "CPU of the main rank blocked in join, 5 s",
     1, bench_idle_main},
    {"task_roundtrip_us", "us", "pool apply of a 16-byte argument, one at a time",
     1, bench_task_roundtrip},
    {"task_roundtrip_n3_us", "us", "task_roundtrip_us on a pool of 1 worker, "
     "the other ranks idle (run with mpirun -n 3; target: <= 3 us)", 2,
     bench_task_roundtrip_n3},
    {"task_async_per_s", "tasks/s", "10^5 tiny apply_async on 1 worker", 1,
     bench_task_async},
    {"map_chunk1_items_per_s", "items/s", "map of 10^5 ints, chunksize 1", 1,
     bench_map_chunk1},
    {"task_roundtrip_isolated_us", "us", "task_roundtrip_us with the tasks "
     "in task hosts (target: <= 2x task_roundtrip_us)", 1,
     bench_task_roundtrip_isolated},
    {"map_chunk1_isolated_items_per_s", "items/s", "map_chunk1_items_per_s "
     "with the tasks in task hosts (target: >= 0.5x)", 1,
     bench_map_chunk1_isolated},
    {"crash_recover_ms", "ms", "a task host's crash to the next item run on "
     "that worker (target: <= 20 ms)", 1, bench_crash_recover},
    {"map_items_per_s", "items/s", "map of 10^7 ints to long x*x, auto chunks",
     1, bench_map_items},
    {"map_items_checkpoint_per_s", "items/s", "map_items_per_s with a "
     "checkpoint journal in TMPDIR (target: >= 0.8x map_items_per_s)", 1,
     bench_map_items_checkpoint},
    {"map_items_resume_per_s", "items/s", "the same map resumed whole from "
     "its journal (one read of the journal)", 1, bench_map_items_resume},
    /* issue 16: chunk tasks and zero-copy maps */
    {"raw_serial_items_per_s", "items/s", "the limit: the map's x*x over "
     "10^7 int32 -> int64, a serial loop on the main rank", 0,
     bench_raw_serial_items},
    {"map_chunk_task_items_per_s", "items/s", "map_items_per_s's map as a "
     "chunk task (mpirun -n 3; target: >= 1.0x raw_serial_items_per_s)", 1,
     bench_map_chunk_task},
    {"map_zero_copy_items_per_s", "items/s", "the chunk task map with items "
     "and results in SharedMemory, in place (mpirun -n 3; target: >= 1.5x "
     "raw_serial_items_per_s)", 1, bench_map_zero_copy},
    {"map_items_1e8_per_s", "items/s", "map_items_per_s over 10^8 ints "
     "(1.2 GB; target: >= 0.9x map_items_per_s)", 1, bench_map_items_1e8},
    {"cpu_map_speedup", "x", "16 CPU-bound items: serial time / pool time "
     "(run with mpirun -n 3)", 1, bench_cpu_speedup},
    {"raw_cpu_speedup", "x", "the limit: the same 16 items, 8 on main and 8 "
     "on a worker at once, no pool", 1, bench_raw_cpu_speedup},
    {"raw_atomic_add_per_s", "adds/s", "the limit: main + 1 worker's C11 atomic "
     "adds on one shared word, 0.3 s (same node only)", 1,
     bench_raw_atomic_add},
    {"raw_mpi_roundtrip_us", "us", "the limit: MPI_Send/MPI_Recv ping-pong of 8 "
     "bytes between main and a worker", 1, bench_raw_mpi_roundtrip},
    {"value_atomic_add_per_s", "adds/s", "main + 1 worker: atomic adds to one "
     "Value, 0.3 s", 1, bench_value_atomic_add},
    {"value_locked_add_per_s", "adds/s", "main + 1 worker: v += 1 under "
     "get_lock(), 0.3 s", 1, bench_value_locked_add},
    {"lock_remote_contended_per_s", "updates/s", "4 Processes each do 1 024 "
     "v += 1 under get_lock(): all over the slowest one's time (run it with "
     "--pseudo 2 -n 6: two of them on the lock's node, two on the other)", 1,
     bench_lock_contended},
    {"lock_uncontended_ns", "ns", "acquire + release of a free Lock", 0,
     bench_lock_uncontended},
    {"value_add_worker_us", "us", "one worker's atomic add to the main's "
     "Value, old value not asked (remote and pipelined when the worker is "
     "on another node)", 1, bench_value_add_worker},
    {"value_fetch_add_worker_us", "us", "value_add_worker_us with the old "
     "value returned (a round trip each when remote)", 1,
     bench_value_fetch_add_worker},
    {"queue_oneway_us", "us", "8-byte item main -> worker -> main over two "
     "Queues, per direction", 1, bench_queue_oneway},
    {"queue_throughput_per_s", "items/s", "64-byte items, 1 producer (worker) "
     "-> 1 consumer (main)", 1, bench_queue_throughput},
    {"queue_bounded_throughput_per_s", "items/s", "queue_throughput_per_s "
     "into a bounded queue (maxsize 1024)", 1, bench_queue_bounded_throughput},
    {"pipe_oneway_us", "us", "8-byte message main -> worker -> main over a "
     "duplex Pipe, per direction", 1, bench_pipe_oneway},
    {"pipe_throughput_per_s", "messages/s", "queue_throughput_per_s over a "
     "one-way Pipe: 64-byte messages, worker -> main", 1,
     bench_pipe_throughput},
    {"queue_throughput_4producers_per_s", "items/s", "queue_throughput_per_s "
     "with 4 producers (workers), 64-byte items, FIFO per producer checked "
     "(mpirun -n 6; target: >= queue_throughput_per_s)", 4,
     bench_queue_throughput_4p},
    {"manager_dict_ops_per_s", "ops/s", "a worker's set+get pairs on a "
     "Manager dict served by another worker, 0.3 s (mpirun -n 3)", 2,
     bench_manager_dict_ops},
    {"manager_dict_ops_4clients_per_s", "ops/s", "manager_dict_ops_per_s "
     "with 4 workers at once on one dict, own keys, total (mpirun -n 6)", 5,
     bench_manager_dict_ops_4clients},
};
#define NBENCH ((int)(sizeof benches / sizeof benches[0]))

static const char usage_text[] =
    "usage: mpirun -n RANKS mpmp-bench [ROW...] | --list | --help\n"
    "  ROW     run only these rows (default: every row); --list names them\n"
    "  --list  the rows, their units and what each measures (no MPI job)\n"
    "  --help  this text\n";

/* Were rows named on the command line (rather than all run)? Every argument
 * is a row's name by now: check_args refused anything else. */
static int named(int argc) {
  return argc > 1;
}

static int selected(const bench_t *b, int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], b->name))
      return 1;
  return !named(argc);
}

static int list(void) {
  for (int i = 0; i < NBENCH; i++)
    printf("%-24s %-4s %s\n", benches[i].name, benches[i].unit,
           benches[i].what);
  return 0;
}

/* --list and --help need no job; an option or a row name that is not one
 * is refused before the job starts (a typo ran nothing and exited 0, an
 * unknown option ran the whole suite). Returns the exit status, or -1 to
 * run the rows. */
static int check_args(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--list"))
      return list();
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(usage_text, stdout);
      return 0;
    }
    if (a[0] == '-') {
      fprintf(stderr, "mpmp-bench: unknown option '%s'\n%s", a, usage_text);
      return 2;
    }
    int k = 0;
    while (k < NBENCH && strcmp(a, benches[k].name))
      k++;
    if (k == NBENCH) {
      fprintf(stderr, "mpmp-bench: no row named '%s': mpmp-bench --list "
              "names them\n", a);
      return 2;
    }
  }
  return -1;
}

int main(int argc, char **argv) {
  int status = check_args(argc, argv);
  if (status >= 0)
    return status;
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  if (rc < 0) {
    fprintf(stderr, "mpmp-bench: %s\n", mpmp_errmsg());
    return 1;
  }
  int failed = 0;
  for (int i = 0; i < NBENCH; i++) {
    const bench_t *b = &benches[i];
    double v = 0;
    if (!selected(b, argc, argv))
      continue;
    if (mpmp_worker_count() < b->min_workers) {
      /* skipped, not failed: a full run under -n 2 is the usual one; a row
       * named on the command line that cannot run is an error */
      fprintf(stderr, "%s: skipped: needs %d worker rank(s) (mpirun -n %d)\n",
              b->name, b->min_workers, b->min_workers + 1);
      failed |= named(argc);
      continue;
    }
    rc = b->run(&v);
    if (rc < 0) {
      fprintf(stderr, "%s failed: %s\n", b->name, mpmp_errmsg());
      failed = 1;
      continue;
    }
    if (rc > 0) { /* the row does not apply to this job */
      fprintf(stderr, "%s: skipped in a job over several nodes\n", b->name);
      continue;
    }
    printf("%s,%.3f,%s\n", b->name, v, b->unit);
    fflush(stdout);
  }
  return (mpmp_finalize() == 0 && !failed) ? 0 : 1;
}
