/*
 * The CPU-bound work of the flagship demo (apps/examples/demo_parallel_map.c)
 * and of the scaling studies (apps/mpmp-scaling.c): the same item, task,
 * calibration and count of the cores used, so that both measure the same
 * thing. Included by each program (static functions, one task).
 */
#ifndef MPMP_APPS_CPU_WORK_H
#define MPMP_APPS_CPU_WORK_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <mpmp.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the work: a fixed amount of integer arithmetic per item ------------ */

/* One item: `rounds` steps of a 64-bit mixing function. Each step depends on
 * the one before, so the compiler can neither vectorize nor skip it, and
 * integers make serial and parallel results comparable bit for bit. */
static uint64_t work(uint64_t seed, uint64_t rounds) {
  uint64_t x = seed * 0x9E3779B97F4A7C15u + 1;
  for (uint64_t i = 0; i < rounds; i++) {
    x = x * 6364136223846793005u + 1442695040888963407u;
    x ^= x >> 29;
  }
  return x;
}

typedef struct {
  uint64_t seed, rounds;
} item_t;

/* An item's result, and where it was computed (to count the cores used). */
typedef struct {
  uint64_t value;
  int32_t rank, node, cpus, pad;
} result_t;

/* The task: the same function, run on a worker rank. */
static int work_item(mpmp_ctx_t *ctx) {
  const item_t *it = mpmp_arg(ctx, NULL);
  result_t *r = mpmp_out(ctx, sizeof *r);
  *r = (result_t){work(it->seed, it->rounds), mpmp_rank(), mpmp_node_id(),
                  mpmp_cpu_count(), 0};
  return 0;
}
MPMP_TASK(work_item);

static double time_rounds(uint64_t rounds) {
  double t0 = now();
  volatile uint64_t sink = work(1, rounds);
  (void)sink;
  return now() - t0;
}

/* How many rounds take `ms` milliseconds on this core. */
static uint64_t calibrate(double ms) {
  uint64_t rounds = 1 << 16;
  double t;
  while ((t = time_rounds(rounds)) < 0.02)
    rounds *= 2;
  for (int k = 0; k < 4; k++) { /* the fastest of 5: noise only adds time */
    double u = time_rounds(rounds);
    t = u < t ? u : t;
  }
  double r = (double)rounds * ms * 1e-3 / t;
  return r < 1 ? 1 : (uint64_t)r;
}

/* ---- the cores the workers computed on ---------------------------------- */

/* Per node: the smaller of the number of workers that ran items there and
 * the node's usable CPUs. Sets *workers to the number of workers that ran
 * items and *shared when some node had more of them than CPUs. */
static int worker_cores(const result_t *res, long n, int *workers, int *shared) {
  int world = mpmp_world_size(), nodes = mpmp_node_count(), cores = 0;
  char *ran = calloc((size_t)world, 1);
  int *on_node = calloc((size_t)nodes, sizeof *on_node);
  int *cpus = calloc((size_t)nodes, sizeof *cpus);
  if (ran == NULL || on_node == NULL || cpus == NULL)
    return MPMP_ENOMEM;
  *workers = *shared = 0;
  for (long i = 0; i < n; i++)
    if (!ran[res[i].rank]) {
      ran[res[i].rank] = 1;
      ++*workers;
      on_node[res[i].node]++;
      cpus[res[i].node] = res[i].cpus;
    }
  for (int k = 0; k < nodes; k++) {
    cores += on_node[k] < cpus[k] ? on_node[k] : cpus[k];
    *shared |= on_node[k] > cpus[k];
  }
  free(ran);
  free(on_node);
  free(cpus);
  return cores;
}

#endif /* MPMP_APPS_CPU_WORK_H */
