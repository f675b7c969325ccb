/*
 * mpmp-scaling: one point of a strong- or weak-scaling study (README, "Performance";
 * "Scaling studies"): a CPU-bound Pool map of items of a fixed amount of
 * arithmetic, timed against a serial reference of the same code, printed
 * as one CSV line.
 *
 *   mpirun -n 5 build/apps/mpmp-scaling --items 400 --task-ms 5     strong
 *   mpirun -n 5 build/apps/mpmp-scaling --items-per-worker 50       weak
 *   mpirun -n 1 build/apps/mpmp-scaling --reference --task-ms 5
 *   mpirun -n 65 build/apps/mpmp-scaling --sleep --items 640       dispatch
 *   scripts/scaling-study.sh                                      a sweep
 *
 * The CSV columns (--header prints their names first):
 *   ranks,workers,nodes,items,task_ms,serial_s,parallel_s,speedup,efficiency,
 *   cores,core_per_worker
 * workers: the pool's; task_ms: the serial time of one item; speedup:
 * serial_s / parallel_s; efficiency: speedup / cores, where cores are the
 * logical CPUs the workers computed on — per node, the smaller of the
 * number of workers that ran items there and the node's usable CPUs
 * (mpmp_cpu_count()). The main rank is not counted: it sleeps while it waits
 * for the map (README, "Performance": idle_main_cpu_pct), so main + 2 workers on 2 cores
 * can reach a speedup of 2. core_per_worker is 1 when no two workers had to
 * share a CPU: the points where the targets (README, "Performance") ask for an efficiency >= 95 %.
 *
 * The serial reference is the same function the task calls, run on the main
 * rank, which mpmp binds to one core as it binds each worker (MPMP_BIND). It
 * is the median time of one item over a sample of items, times the number
 * of items: the items all do the same arithmetic. --reference measures only
 * that (and the rounds per item for --task-ms) and prints
 * "rounds=R item_s=S"; passing --rounds R --serial-item-s S to later runs
 * reuses one measurement for a whole sweep, so every point is compared with
 * the same reference and no point spends time on it.
 *
 * --sleep: the items sleep --task-ms instead of computing, so the map
 * needs no CPU and its time is the dispatch's alone: many more workers
 * than cores (64 ranks on 2 cores) show how the main rank deals to them
 * (issue 17). The serial time is items x task_ms, no reference is
 * measured, and the efficiency is the speedup over the workers that ran
 * items (each sleeps: it needs no core of its own); cores then counts
 * those workers and core_per_worker is 1.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpmp.h>

#include "args.h"
#include "cpu_work.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- the work: apps/cpu_work.h --------------------------------------- */

/* Runs items 0..n-1 serially; returns the median seconds of one item (or
 * a negative code): the typical item, whatever a burst of noise did to a
 * few of them. */
static double serial_item_time(uint64_t rounds, uint64_t *out, long n) {
  double *t = malloc((size_t)n * sizeof *t);
  if (t == NULL)
    return MPMP_ENOMEM;
  for (long i = 0; i < n; i++) {
    double t0 = now();
    out[i] = work((uint64_t)i, rounds);
    t[i] = now() - t0;
  }
  double m = median(t, (int)n);
  free(t);
  return m;
}


/* --sleep's item: seed and nanoseconds to sleep; its result's value is
 * the seed. */
static int sleep_item(mpmp_ctx_t *ctx) {
  const item_t *it = mpmp_arg(ctx, NULL);
  result_t *r = mpmp_out(ctx, sizeof *r);
  struct timespec ts = {(time_t)(it->rounds / 1000000000u),
                        (long)(it->rounds % 1000000000u)};
  while (nanosleep(&ts, &ts) != 0)
    ;
  *r = (result_t){it->seed, mpmp_rank(), mpmp_node_id(), mpmp_cpu_count(), 0};
  return 0;
}
MPMP_TASK(sleep_item);

/* ---- options ---------------------------------------------------------------- */

typedef struct {
  long items, per_worker, serial_items, chunksize;
  double task_ms, item_s;
  uint64_t rounds;
  int workers, reps, reference, header, sleep;
} opts_t;

static const char usage_text[] =
    "usage: mpirun -n RANKS mpmp-scaling [options]\n"
    "  --items N             items in the map (strong scaling)\n"
    "  --items-per-worker M  M x workers items (weak scaling; default 16)\n"
    "  --task-ms MS          arithmetic per item, in ms (default 10)\n"
    "  --rounds R            arithmetic per item, in rounds (instead of "
    "--task-ms)\n"
    "  --workers K           a pool of K workers (default: every worker)\n"
    "  --chunksize C         items per chunk (default 1; 0: Python's rule, "
    "n / (4 x workers))\n"
    "  --reps R              time the map R times, report the median "
    "(default 3)\n"
    "  --serial-item-s S     reuse a serial reference: S seconds per item of "
    "--rounds R\n"
    "  --serial-items N      items in the serial sample (default: about 1 s "
    "of them, 5 to the item count)\n"
    "  --reference           measure the serial reference only; print "
    "rounds=R item_s=S\n"
    "  --header              print the CSV header line first\n"
    "  --sleep               items sleep --task-ms instead of computing: "
    "the dispatch's cost alone, on any number of ranks\n"
    "  --help                this text\n"
    "A bad value exits with status 2, naming the option and its range.\n";

/* The limits: an item of a day at most, counts that fit an int or the
 * memory (a second of arithmetic is some 10^9 rounds). */
#define MAX_COUNT 1000000000000LL /* items, items per worker, sample */
#define MAX_TASK_MS 86400e3

/* Every value whole and in range (strtoull took "-1" as 2^64 - 1 rounds,
 * strtod "inf", a cast to int 4294967297 workers as 1): 0, or -1 after a
 * message saying which option was wrong. */
static int parse(int argc, char **argv, opts_t *o) {
  const char *prog = "mpmp-scaling";
  *o = (opts_t){.task_ms = 10, .reps = 3, .chunksize = 1};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    long long n = 0;
    int bad = 0;
    if (!strcmp(a, "--reference")) {
      o->reference = 1;
      continue;
    }
    if (!strcmp(a, "--header")) {
      o->header = 1;
      continue;
    }
    if (!strcmp(a, "--sleep")) {
      o->sleep = 1;
      continue;
    }
    if (v == NULL) {
      fprintf(stderr, "%s: %s '%s'\n", prog,
              strncmp(a, "--", 2) ? "unknown argument" : "no value after", a);
      return -1;
    }
    i++;
    if (!strcmp(a, "--items"))
      bad = mpmp_app_int(prog, a, v, 0, MAX_COUNT, &n), o->items = (long)n;
    else if (!strcmp(a, "--items-per-worker"))
      bad = mpmp_app_int(prog, a, v, 0, MAX_COUNT, &n), o->per_worker = (long)n;
    else if (!strcmp(a, "--chunksize"))
      bad = mpmp_app_int(prog, a, v, 0, MAX_COUNT, &n), o->chunksize = (long)n;
    else if (!strcmp(a, "--serial-items"))
      bad = mpmp_app_int(prog, a, v, 0, MAX_COUNT, &n),
      o->serial_items = (long)n;
    else if (!strcmp(a, "--task-ms"))
      bad = mpmp_app_real(prog, a, v, 0.001, MAX_TASK_MS, &o->task_ms);
    else if (!strcmp(a, "--serial-item-s"))
      bad = mpmp_app_real(prog, a, v, 0, MAX_TASK_MS * 1e-3, &o->item_s);
    else if (!strcmp(a, "--rounds"))
      bad = mpmp_app_int(prog, a, v, 0, LLONG_MAX, &n), o->rounds = (uint64_t)n;
    else if (!strcmp(a, "--workers"))
      bad = mpmp_app_int(prog, a, v, 0, INT_MAX, &n), o->workers = (int)n;
    else if (!strcmp(a, "--reps"))
      bad = mpmp_app_int(prog, a, v, 1, 1000000, &n), o->reps = (int)n;
    else {
      fprintf(stderr, "%s: unknown option '%s'\n", prog, a);
      return -1;
    }
    if (bad)
      return -1;
  }
  const char *clash = NULL;
  if (o->items > 0 && o->per_worker > 0)
    clash = "--items and --items-per-worker exclude each other";
  else if (o->item_s > 0 && o->rounds == 0)
    clash = "--serial-item-s needs the --rounds it was measured with";
  else if (o->sleep && (o->reference || o->rounds > 0 || o->item_s > 0))
    clash = "--sleep takes none of --reference, --rounds, --serial-item-s";
  if (clash != NULL) {
    fprintf(stderr, "%s: %s\n", prog, clash);
    return -1;
  }
  return 0;
}

/* ---- the point ---------------------------------------------------------------- */

static int fail(const char *what, int rc) {
  const char *msg = mpmp_errmsg();
  if (rc == MPMP_ENOMEM && (msg == NULL || *msg == '\0'))
    msg = "out of memory for the items or the serial sample: ask for fewer "
          "--items, --items-per-worker or --serial-items";
  fprintf(stderr, "mpmp-scaling: %s: %s: %s\n", what, mpmp_err_name(rc), msg);
  mpmp_finalize();
  return 1;
}

/* The serial reference (rounds and seconds per item), measured or given. */
static int reference(opts_t *o, long items, uint64_t **sample, long *nsample) {
  if (o->rounds == 0)
    o->rounds = calibrate(o->task_ms);
  *nsample = 0;
  *sample = NULL;
  if (o->item_s > 0)
    return 0;
  long n = o->serial_items;
  if (n == 0) {
    n = (long)(1000 / o->task_ms) + 1;
    n = n < 5 ? 5 : n;
    if (items > 0 && n > items)
      n = items;
  }
  *sample = malloc((size_t)n * sizeof **sample);
  if (*sample == NULL)
    return MPMP_ENOMEM;
  *nsample = n;
  o->item_s = serial_item_time(o->rounds, *sample, n);
  return o->item_s > 0 ? 0 : MPMP_ENOMEM;
}

/* Times the map o->reps times into *parallel_s (the median). */
static int run_map(const opts_t *o, int workers, item_t *in, result_t *out,
                   long items, double *parallel_s) {
  mpmp_task_fn task = o->sleep ? sleep_item : work_item;
  mpmp_pool_opts_t po = {.processes = workers};
  mpmp_pool_t *pool;
  double *t = malloc((size_t)o->reps * sizeof *t);
  if (t == NULL)
    return MPMP_ENOMEM;
  int rc = mpmp_pool_create(&pool, &po);
  if (rc < 0) {
    free(t);
    return rc;
  }
  /* A warm-up item per worker: pages touched, every worker awake. */
  item_t warm[64] = {{0, 0}};
  result_t warm_out[64];
  size_t nwarm = workers < 64 ? (size_t)workers : 64;
  rc = mpmp_pool_map(pool, task, warm, nwarm, sizeof *warm, warm_out,
                     sizeof *warm_out, 1);
  /* Chunksize 1 by default: every item is a message of its own, the
   * strictest case, and single items leave the least imbalance at the end. */
  for (int k = 0; k < o->reps && rc == 0; k++) {
    double t0 = now();
    rc = mpmp_pool_map(pool, task, in, (size_t)items, sizeof *in, out,
                       sizeof *out, (size_t)o->chunksize);
    t[k] = now() - t0;
  }
  mpmp_pool_destroy(pool);
  if (rc == 0)
    *parallel_s = median(t, o->reps);
  free(t);
  return rc;
}

int main(int argc, char **argv) {
  opts_t o;
  /* before the job, alike on every rank: a bad value starts none */
  for (int i = 1; i < argc; i++) /* anywhere, as mpmp-bench and mpmp-info */
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(usage_text, stdout);
      return 0;
    }
  if (parse(argc, argv, &o) < 0) {
    fputs(usage_text, stderr);
    return 2;
  }
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  if (rc < 0) {
    fprintf(stderr, "mpmp-scaling: %s\n", mpmp_errmsg());
    return 1;
  }
  uint64_t *sample;
  long nsample;
  if (o.reference) {
    if ((rc = reference(&o, o.items, &sample, &nsample)) < 0)
      return fail("serial reference", rc);
    printf("rounds=%llu item_s=%.9f\n", (unsigned long long)o.rounds, o.item_s);
    free(sample);
    return mpmp_finalize() == 0 ? 0 : 1;
  }

  int nw = mpmp_worker_count(), workers = o.workers ? o.workers : nw;
  if (nw < 1 || workers > nw) {
    fprintf(stderr, "mpmp-scaling: %d workers wanted, %d in the job: run "
            "with mpirun -n %d\n", workers ? workers : 1, nw,
            (workers ? workers : 1) + 1);
    mpmp_finalize();
    return 2;
  }
  long items = o.items;
  if (items == 0 &&
      __builtin_mul_overflow(o.per_worker ? o.per_worker : 16, (long)workers,
                             &items))
    items = LONG_MAX; /* too many for any memory: refused below */
  item_t *in = mpmp_app_alloc("mpmp-scaling", (size_t)items, sizeof *in,
                              "the items");
  result_t *out = in ? mpmp_app_alloc("mpmp-scaling", (size_t)items,
                                      sizeof *out, "the results") : NULL;
  if (out == NULL) {
    free(in);
    mpmp_finalize();
    return 1;
  }
  if (o.sleep) { /* nothing to measure: the items sleep task_ms */
    sample = NULL;
    nsample = 0;
    o.item_s = o.task_ms * 1e-3;
  } else if ((rc = reference(&o, items, &sample, &nsample)) < 0) {
    return fail("serial reference", rc);
  }
  for (long i = 0; i < items; i++)
    in[i] = (item_t){(uint64_t)i, o.sleep ? (uint64_t)(o.task_ms * 1e6)
                                          : o.rounds};

  double parallel_s = 0;
  if ((rc = run_map(&o, workers, in, out, items, &parallel_s)) < 0)
    return fail("parallel map", rc);
  long bad = 0;
  for (long i = 0; i < items; i++)
    bad += out[i].rank < 1 || out[i].rank >= mpmp_world_size() ||
           out[i].node < 0 || out[i].node >= mpmp_node_count() ||
           out[i].cpus < 1 || (i < nsample && out[i].value != sample[i]) ||
           (o.sleep && out[i].value != (uint64_t)i);
  if (bad) {
    fprintf(stderr, "mpmp-scaling: %ld of %ld results differ from the "
            "serial reference\n", bad, items);
    mpmp_finalize();
    return 1;
  }
  int used, shared, cores = worker_cores(out, items, &used, &shared);
  int core_per_worker = !shared;
  if (o.sleep && cores > 0) { /* sleepers need no core: each worker counts */
    cores = used;
    core_per_worker = 1;
  }
  if (cores < 1)
    return fail("counting cores", cores < 0 ? cores : MPMP_EINVAL);

  double serial_s = o.item_s * (double)items, speedup = serial_s / parallel_s;
  if (o.header)
    printf("ranks,workers,nodes,items,task_ms,serial_s,parallel_s,speedup,"
           "efficiency,cores,core_per_worker\n");
  printf("%d,%d,%d,%ld,%.3f,%.4f,%.4f,%.3f,%.4f,%d,%d\n", mpmp_world_size(),
         workers, mpmp_node_count(), items, o.item_s * 1e3, serial_s,
         parallel_s, speedup, speedup / cores, cores, core_per_worker);
  free(sample);
  free(in);
  free(out);
  return mpmp_finalize() == 0 ? 0 : 1;
}
