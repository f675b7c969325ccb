/*
 * The flagship demo (scripts/demo.sh): the tutorials' "parallel vs serial"
 * example, grown up — a CPU-bound map on every core, timed serially on the
 * main rank and in parallel on a Pool of every worker.
 *
 * Python (tutorial "parallel vs serial"):
 *
 *   def work(seed):                       # a fixed amount of arithmetic
 *       x = seed
 *       for _ in range(ROUNDS): x = mix(x)
 *       return x
 *
 *   if __name__ == "__main__":
 *       items = range(100)
 *       t0 = time.perf_counter(); serial = [work(i) for i in items]
 *       t_serial = time.perf_counter() - t0
 *       with Pool() as pool:
 *           t0 = time.perf_counter(); parallel = pool.map(work, items, 1)
 *           t_parallel = time.perf_counter() - t0
 *       assert serial == parallel
 *       print(t_serial, t_parallel, t_serial / t_parallel)
 *
 *   mpirun -n 3 build/apps/examples/demo_parallel_map [--items N] [--work-ms MS]
 *
 * Run it with one rank more than there are cores: the main rank sleeps while
 * the workers compute (it is woken when results arrive), so main + 2 workers
 * keep 2 cores busy. "Cores" in the efficiency figure are therefore the
 * logical CPUs the workers compute on: on each node, the smaller of its
 * worker count and its usable CPUs (mpmp_cpu_count() there). The main rank
 * counts for none; a worker that shares a CPU with another worker adds
 * nothing.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpmp.h>

#include "../args.h"
#include "../cpu_work.h"

/* ---- the program ---------------------------------------------------------- */

static int usage_to(FILE *to, const char *prog) {
  fprintf(to,
          "usage: mpirun -n RANKS %s [--items N] [--work-ms MS]\n"
          "  --items N     items in the map (default: max(100, 4 x workers))\n"
          "  --work-ms MS  arithmetic per item, in ms on the main rank's core"
          " (default 20)\n",
          prog);
  return 2;
}

static int usage(const char *prog) {
  return usage_to(stderr, prog);
}

static void check(int rc, const char *what) {
  if (rc < 0) {
    if (!mpmp_is_main()) /* init failed on every rank: rank 0 says so; */
      exit(0);           /* the others end quietly (exit 1 could end the
                            job before its message is out) */
    fprintf(stderr, "%s failed: %s\n", what, mpmp_errmsg());
    mpmp_finalize();
    exit(1);
  }
}

int main(int argc, char **argv) {
  /* Checked before the job, alike on every rank: a bad value ends them all
   * before any starts to serve. */
  long long items_arg = 0;
  double work_ms = 20;
  for (int i = 1; i < argc; i++) {
    int bad = 0;
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage_to(stdout, argv[0]); /* asked for: exit 0 */
      return 0;
    }
    if (!strcmp(argv[i], "--items") && i + 1 < argc)
      bad = mpmp_app_int("demo_parallel_map", argv[i], argv[i + 1], 0,
                         1000000000LL, &items_arg);
    else if (!strcmp(argv[i], "--work-ms") && i + 1 < argc)
      bad = mpmp_app_real("demo_parallel_map", argv[i], argv[i + 1], 0.001,
                          3600e3, &work_ms);
    else {
      fprintf(stderr, "demo_parallel_map: %s '%s'\n",
              i + 1 == argc && (!strcmp(argv[i], "--items") ||
                                !strcmp(argv[i], "--work-ms"))
                  ? "no value after"
                  : "unknown option",
              argv[i]);
      return usage(argv[0]);
    }
    if (bad)
      return 2;
    i++;
  }
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0; /* worker ranks: the job is over */
  if (rc < 0) {
    if (!mpmp_is_main()) /* failed on every rank: rank 0 says so */
      return 0;
    fprintf(stderr, "mpmp_init: %s\n", mpmp_errmsg());
    return 1;
  }
  int nw = mpmp_worker_count();
  if (nw < 1) {
    fprintf(stderr, "no worker ranks: start at least 2 ranks "
            "(mpirun -n 3: main + 2 workers)\n");
    mpmp_finalize();
    return usage(argv[0]);
  }
  long items = (long)items_arg;
  if (items == 0)
    items = 4L * nw > 100 ? 4L * nw : 100;

  printf("mpmp %s: main rank + %d worker ranks on %d node(s)\n\n",
         mpmp_version(), nw, mpmp_node_count());
  mpmp_print_bindings(stdout);

  uint64_t rounds = calibrate(work_ms);
  printf("\nwork:       %ld items, each %llu rounds of integer arithmetic "
         "(%g ms)\n",
         items, (unsigned long long)rounds, work_ms);
  const char *prog = "demo_parallel_map";
  item_t *in = mpmp_app_alloc(prog, (size_t)items, sizeof *in, "the items");
  uint64_t *serial = mpmp_app_alloc(prog, (size_t)items, sizeof *serial,
                                    "the serial results");
  result_t *parallel = mpmp_app_alloc(prog, (size_t)items, sizeof *parallel,
                                      "the parallel results");
  if (in == NULL || serial == NULL || parallel == NULL) {
    mpmp_finalize();
    return 1;
  }
  for (long i = 0; i < items; i++)
    in[i] = (item_t){(uint64_t)i, rounds};

  /* Serial: the same function on the main rank, which mpmp binds to one
   * core as it binds each worker. */
  double t0 = now();
  for (long i = 0; i < items; i++)
    serial[i] = work(in[i].seed, in[i].rounds);
  double t_serial = now() - t0;
  printf("serial:     %8.3f s  (the main rank, on its core)\n", t_serial);
  fflush(stdout);

  /* Parallel: Pool() over every worker. Chunksize 1: items of milliseconds
   * cost microseconds each to deal, and single items balance best. */
  mpmp_pool_t *pool;
  check(mpmp_pool_create(&pool, NULL), "mpmp_pool_create");
  /* One empty item (0 rounds) per worker first: the first messages to a
   * worker pay one-time costs (a TCP connection across nodes) that are no
   * part of the map's speed. */
  item_t *warm = mpmp_app_alloc(prog, (size_t)nw, sizeof *warm, "the warm-up");
  result_t *warm_out = mpmp_app_alloc(prog, (size_t)nw, sizeof *warm_out,
                                      "the warm-up");
  if (warm == NULL || warm_out == NULL) {
    mpmp_finalize();
    return 1;
  }
  check(mpmp_pool_map(pool, work_item, warm, (size_t)nw, sizeof *warm,
                      warm_out, sizeof *warm_out, 1),
        "warm-up map");
  free(warm);
  free(warm_out);
  t0 = now();
  check(mpmp_pool_map(pool, work_item, in, (size_t)items, sizeof *in, parallel,
                      sizeof *parallel, 1),
        "mpmp_pool_map");
  double t_parallel = now() - t0;
  mpmp_pool_destroy(pool);
  int used = 0, shared = 0;
  int cores = worker_cores(parallel, items, &used, &shared);
  check(cores, "counting the cores");
  printf("parallel:   %8.3f s  (Pool of %d worker%s)\n", t_parallel, nw,
         nw == 1 ? "" : "s");

  long bad = 0;
  for (long i = 0; i < items; i++)
    bad += serial[i] != parallel[i].value;
  if (bad == 0)
    printf("results:    equal (all %ld items)\n", items);
  else
    printf("results:    DIFFER in %ld of %ld items\n", bad, items);

  /* Efficiency: per core the workers computed on (see the top). */
  double speedup = t_serial / t_parallel;
  printf("speedup:    %8.2fx\n", speedup);
  printf("efficiency: %8.1f %%  (speedup / %d core%s: the CPUs the %d "
         "worker%s computed on;\n"
         "                         the main rank sleeps while it waits and "
         "counts for none)\n",
         100 * speedup / cores, cores, cores == 1 ? "" : "s", used,
         used == 1 ? "" : "s");
  if (shared)
    printf("note:       some workers shared a CPU: start at most one worker "
           "per CPU (mpirun -n CPUs+1)\n");
  free(in);
  free(serial);
  free(parallel);
  rc = mpmp_finalize();
  return rc == 0 && bad == 0 ? 0 : 1;
}
