/* The runtime seen from a job: ranks, nodes, real bindings read back. */
#include <hwloc.h>
#include <mpi.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpitest.h"

typedef struct {
  int rank, pid, npus, node_cpus;
  char node[64];
  unsigned char cpus[128]; /* sched_getaffinity, as read by the rank */
} where_t;

static void where_am_i(where_t *w) {
  cpu_set_t set;
  mpmp_process_info_t me;
  memset(w, 0, sizeof *w);
  mpmp_current_process(&me);
  w->rank = me.rank;
  w->pid = (int)getpid();
  w->node_cpus = mpmp_cpu_count(); /* the CPUs this rank's node was given */
  snprintf(w->node, sizeof w->node, "%.63s", me.node);
  sched_getaffinity(0, sizeof set, &set);
  for (int c = 0; c < 128 && c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &set)) {
      w->cpus[c] = 1;
      w->npus++;
    }
}

/* Stays busy until terminated, so every worker rank runs one of these. */
static int where_task(mpmp_ctx_t *ctx) {
  where_am_i(mpmp_out(ctx, sizeof(where_t)));
  while (!mpmp_should_stop(ctx))
    test_sleep(0.001);
  return 0;
}
MPMP_TASK(where_task);

/* Where every rank runs, read by the rank itself. */
static where_t *all_ranks(void) {
  int n = mpmp_world_size();
  where_t *w = calloc((size_t)n, sizeof *w);
  mpmp_process_t **ps = calloc((size_t)n, sizeof *ps);
  where_am_i(&w[0]);
  for (int r = 1; r < n; r++) {
    assert_int_equal(mpmp_process_create(&ps[r], where_task, NULL, 0, NULL), 0);
    assert_int_equal(mpmp_process_start(ps[r]), 0);
  }
  for (int r = 1; r < n; r++)
    assert_int_equal(mpmp_process_terminate(ps[r]), 0);
  for (int r = 1; r < n; r++) {
    const where_t *got;
    assert_int_equal(mpmp_process_join(ps[r], 30), 0);
    assert_int_equal(mpmp_process_result(ps[r], (const void **)&got, NULL), 0);
    w[got->rank] = *got;
    mpmp_process_destroy(ps[r]);
  }
  free(ps);
  return w;
}

static void runtime_queries_agree(void **state) {
  (void)state;
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  assert_int_equal(mpmp_initialized(), 1);
  assert_int_equal(mpmp_rank(), 0);
  assert_int_equal(mpmp_is_main(), 1);
  assert_int_equal(mpmp_world_size(), size);
  assert_int_equal(mpmp_worker_count(), size - 1);
  assert_int_equal(mpmp_node_id(), 0);
  assert_true(mpmp_cpu_count() >= 1);
  assert_true(strlen(mpmp_node_name()) > 0);
}

/* mpmp_node_count() is the number of distinct node names the ranks see;
 * MPMP_TEST_NODES (set by ctest) says how many the launcher made. */
static void runtime_node_count_matches_ranks(void **state) {
  (void)state;
  int n = mpmp_world_size(), distinct = 0;
  where_t *w = all_ranks();
  for (int r = 0; r < n; r++) {
    int seen = 0;
    for (int q = 0; q < r; q++)
      seen |= !strcmp(w[q].node, w[r].node);
    distinct += !seen;
  }
  assert_int_equal(mpmp_node_count(), distinct);
  const char *expect = getenv("MPMP_TEST_NODES");
  if (expect)
    assert_int_equal(mpmp_node_count(), atoi(expect));
  free(w);
}

/* MPMP_BIND=core (the default): each rank is bound to exactly one core
 * of this machine, and on each node ranks spread over the cores the node
 * has: no core gets a second rank while another core is free. */
static void runtime_binding_read_back(void **state) {
  (void)state;
  hwloc_topology_t topo;
  hwloc_topology_init(&topo);
  hwloc_topology_load(topo);
  int ncores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
  int n = mpmp_world_size();
  where_t *w = all_ranks();
  for (int r = 0; r < n; r++) {
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    for (int c = 0; c < 128; c++)
      if (w[r].cpus[c])
        hwloc_bitmap_set(set, (unsigned)c);
    hwloc_obj_t core = hwloc_get_obj_covering_cpuset(topo, set);
    assert_non_null(core);
    while (core && core->type != HWLOC_OBJ_CORE && core->type != HWLOC_OBJ_PU)
      core = core->parent;
    assert_non_null(core); /* inside one core, not spread over two */
    hwloc_bitmap_free(set);
  }
  /* Per node (pseudo-nodes each get their own slice of this machine): the
   * node's k ranks use min(k, cpus given to the node) distinct CPUs, and
   * the CPUs in use carry counts that differ by at most one. */
  for (int r = 0; r < n; r++) {
    int per_cpu[128] = {0}, lo = n, hi = 0, used = 0, k = 0;
    for (int q = 0; q < n; q++)
      if (!strcmp(w[q].node, w[r].node)) {
        k++;
        for (int c = 0; c < 128; c++)
          per_cpu[c] += w[q].cpus[c];
      }
    for (int c = 0; c < 128; c++) {
      if (!per_cpu[c])
        continue;
      used++;
      lo = per_cpu[c] < lo ? per_cpu[c] : lo;
      hi = per_cpu[c] > hi ? per_cpu[c] : hi;
    }
    /* in cores: a core-bound rank covers all hardware threads of its core */
    int smt = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU) / ncores;
    int cores = w[r].node_cpus / smt < ncores ? w[r].node_cpus / smt : ncores;
    assert_int_equal(used / smt, k < cores ? k : cores);
    assert_true(hi - lo <= 1);
  }
  free(w);
  hwloc_topology_destroy(topo);
}

static void runtime_init_twice_is_an_error(void **state) {
  (void)state;
  assert_int_equal(mpmp_init(NULL, NULL), MPMP_EALREADY);
  assert_non_null(strstr(mpmp_errmsg(), "mpmp_init(): mpmp is already "
                                        "running"));
  assert_int_equal(mpmp_initialized(), 1);
}

static void runtime_binding_table_lists_every_rank(void **state) {
  (void)state;
  char buf[16384] = "";
  FILE *f = fmemopen(buf, sizeof buf - 1, "w");
  assert_int_equal(mpmp_print_bindings(f), 0);
  fclose(f);
  int lines = 0;
  for (char *p = buf; (p = strchr(p, '\n')) != NULL; p++)
    lines++;
  assert_int_equal(lines, 1 + mpmp_world_size());
  assert_non_null(strstr(buf, "main"));
  if (mpmp_worker_count() > 0)
    assert_non_null(strstr(buf, "worker"));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(runtime_queries_agree),
    cmocka_unit_test(runtime_node_count_matches_ranks),
    cmocka_unit_test(runtime_binding_read_back),
    cmocka_unit_test(runtime_init_twice_is_an_error),
    cmocka_unit_test(runtime_binding_table_lists_every_rank),
};
MPMP_TEST_MAIN(tests)
