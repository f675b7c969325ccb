/*
 * Placement rules (src/topo.c) on synthetic hwloc machines, so the tests
 * mean the same on a laptop and on CI. One process, no MPI_Init: only the
 * pure parts and the single-process parts of topo.c are called.
 *
 * The main machine, "pack:2 numa:2 core:8 pu:2", has 2 packages of 2 NUMA
 * nodes of 8 cores of 2 PUs: core c is PUs 2c and 2c+1, NUMA node n is
 * cores 8n..8n+7 and package p is NUMA nodes 2p and 2p+1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mpmp.h"
#include "topo.h"

#define MACHINE "pack:2 numa:2 core:8 pu:2"
#define NCORES 32
#define NNUMA 4

/* ---- helpers ------------------------------------------------------------ */

static hwloc_topology_t load_synthetic(const char *desc) {
  hwloc_topology_t topo = NULL;
  assert_int_equal(hwloc_topology_init(&topo), 0);
  assert_int_equal(hwloc_topology_set_synthetic(topo, desc), 0);
  assert_int_equal(hwloc_topology_load(topo), 0);
  return topo;
}

static int setup_machine(void **state) {
  *state = load_synthetic(MACHINE);
  return 0;
}

static int teardown_machine(void **state) {
  hwloc_topology_destroy(*state);
  return 0;
}

/* The PUs of cores first..last (logical indexes). */
static hwloc_bitmap_t cores_set(hwloc_topology_t topo, int first, int last) {
  hwloc_bitmap_t s = hwloc_bitmap_alloc();
  assert_non_null(s);
  for (int c = first; c <= last; c++) {
    hwloc_obj_t core = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, (unsigned)c);
    assert_non_null(core);
    hwloc_bitmap_or(s, s, core->cpuset);
  }
  return s;
}

/* The object of `type` that holds the first PU of `set`. */
static hwloc_obj_t holder(hwloc_topology_t topo, hwloc_obj_type_t type,
                          hwloc_const_cpuset_t set) {
  hwloc_obj_t pu = hwloc_get_pu_obj_by_os_index(
      topo, (unsigned)hwloc_bitmap_first(set));
  assert_non_null(pu);
  hwloc_obj_t o = hwloc_get_ancestor_obj_by_type(topo, type, pu);
  assert_non_null(o);
  return o;
}

/* The NUMA node whose PUs include all of `set` (NUMA nodes are not
 * ancestors of PUs in hwloc 2, they hang beside them). */
static hwloc_obj_t numa_holding(hwloc_topology_t topo,
                                hwloc_const_cpuset_t set) {
  hwloc_obj_t n = NULL;
  while ((n = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, n)))
    if (hwloc_bitmap_isincluded(set, n->cpuset))
      return n;
  fail_msg("no NUMA node holds the placed set");
  return NULL;
}

typedef struct tally {
  int per_core[64]; /* ranks per core logical index */
  int per_numa[8];  /* ranks per NUMA node logical index */
} tally_t;

/*
 * Place every member of a group of `nranks` with MPMP__BIND_CORE and count
 * ranks per core and per NUMA node, checking on the way that each rank got
 * exactly one core's PUs within `allowed`.
 */
static void tally_core(hwloc_topology_t topo, hwloc_const_cpuset_t allowed,
                       int nranks, tally_t *t) {
  hwloc_bitmap_t out = hwloc_bitmap_alloc(), want = hwloc_bitmap_alloc();
  memset(t, 0, sizeof *t);
  for (int i = 0; i < nranks; i++) {
    assert_int_equal(
        mpmp__place(topo, allowed, MPMP__BIND_CORE, nranks, i, out), 0);
    assert_false(hwloc_bitmap_iszero(out));
    assert_true(hwloc_bitmap_isincluded(out, allowed));
    hwloc_obj_t core = holder(topo, HWLOC_OBJ_CORE, out);
    hwloc_bitmap_and(want, core->cpuset, allowed);
    assert_true(hwloc_bitmap_isequal(out, want));
    t->per_core[core->logical_index]++;
    t->per_numa[numa_holding(topo, out)->logical_index]++;
  }
  hwloc_bitmap_free(want);
  hwloc_bitmap_free(out);
}

/* Ranks per core over the cores that meet `allowed` differ by at most 1. */
static void assert_cores_even(hwloc_topology_t topo,
                              hwloc_const_cpuset_t allowed, const tally_t *t) {
  int lo = 1 << 30, hi = -1;
  hwloc_obj_t c = NULL;
  while ((c = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_CORE, c))) {
    int n = t->per_core[c->logical_index];
    if (!hwloc_bitmap_intersects(c->cpuset, allowed)) {
      assert_int_equal(n, 0);
      continue;
    }
    lo = n < lo ? n : lo;
    hi = n > hi ? n : hi;
  }
  assert_true(hi - lo <= 1);
}

static void check_whole_machine(hwloc_topology_t topo, int nranks) {
  hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(topo);
  tally_t t;
  tally_core(topo, all, nranks, &t);
  assert_cores_even(topo, all, &t);
  for (int n = 0; n < NNUMA; n++)
    assert_int_equal(t.per_numa[n], nranks / NNUMA);
}

/* ---- the synthetic machine ---------------------------------------------- */

static void placement_synthetic_machine_loads(void **state) {
  hwloc_topology_t topo = *state;
  assert_int_equal(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE), 2);
  assert_int_equal(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE), NNUMA);
  assert_int_equal(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE), NCORES);
  assert_int_equal(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU), 2 * NCORES);
  hwloc_obj_t numa2 = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, 2);
  assert_int_equal(hwloc_bitmap_first(numa2->cpuset), 32);
  assert_int_equal(hwloc_bitmap_weight(numa2->cpuset), 16);
}

/* ---- spreading over the whole machine ----------------------------------- */

static void placement_4_ranks_get_one_numa_node_each(void **state) {
  check_whole_machine(*state, 4);
}

static void placement_16_ranks_get_4_per_numa_node(void **state) {
  check_whole_machine(*state, 16);
}

static void placement_40_ranks_fill_every_core_before_doubling(void **state) {
  check_whole_machine(*state, 40);
}

static void placement_ranks_alternate_numa_nodes(void **state) {
  hwloc_topology_t topo = *state;
  hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(topo);
  hwloc_bitmap_t out = hwloc_bitmap_alloc();
  /* Rank i takes the (i / 4)-th core of NUMA node i mod 4. */
  for (int i = 0; i < NCORES; i++) {
    assert_int_equal(mpmp__place(topo, all, MPMP__BIND_CORE, 32, i, out), 0);
    hwloc_obj_t core = holder(topo, HWLOC_OBJ_CORE, out);
    assert_int_equal(core->logical_index, (i % NNUMA) * 8 + i / NNUMA);
  }
  hwloc_bitmap_free(out);
}

/* ---- what each policy binds to ------------------------------------------ */

static void placement_core_gives_exactly_one_core(void **state) {
  hwloc_topology_t topo = *state;
  hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(topo);
  hwloc_bitmap_t out = hwloc_bitmap_alloc();
  for (int i = 0; i < 8; i++) {
    assert_int_equal(mpmp__place(topo, all, MPMP__BIND_CORE, 8, i, out), 0);
    assert_int_equal(hwloc_bitmap_weight(out), 2);
    assert_true(hwloc_bitmap_isequal(
        out, holder(topo, HWLOC_OBJ_CORE, out)->cpuset));
  }
  hwloc_bitmap_free(out);
}

static void placement_numa_gives_whole_numa_nodes(void **state) {
  hwloc_topology_t topo = *state;
  hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(topo);
  hwloc_bitmap_t out = hwloc_bitmap_alloc();
  for (int i = 0; i < 16; i++) {
    assert_int_equal(mpmp__place(topo, all, MPMP__BIND_NUMA, 16, i, out), 0);
    hwloc_obj_t numa = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE,
                                             (unsigned)(i % NNUMA));
    assert_true(hwloc_bitmap_isequal(out, numa->cpuset));
  }
  hwloc_bitmap_free(out);
}

static void placement_socket_gives_whole_packages(void **state) {
  hwloc_topology_t topo = *state;
  hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(topo);
  hwloc_bitmap_t out = hwloc_bitmap_alloc();
  for (int i = 0; i < 6; i++) {
    assert_int_equal(mpmp__place(topo, all, MPMP__BIND_SOCKET, 6, i, out), 0);
    hwloc_obj_t pack =
        hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, (unsigned)(i % 2));
    assert_true(hwloc_bitmap_isequal(out, pack->cpuset));
  }
  hwloc_bitmap_free(out);
}

static void placement_none_gives_the_allowed_set(void **state) {
  hwloc_topology_t topo = *state;
  hwloc_bitmap_t allowed = cores_set(topo, 5, 20);
  hwloc_bitmap_t out = hwloc_bitmap_alloc();
  for (int i = 0; i < 3; i++) {
    assert_int_equal(
        mpmp__place(topo, allowed, MPMP__BIND_NONE, 3, i, out), 0);
    assert_true(hwloc_bitmap_isequal(out, allowed));
  }
  hwloc_bitmap_free(out);
  hwloc_bitmap_free(allowed);
}

/* ---- a launcher's narrower binding is never widened --------------------- */

static void placement_restricted_set_is_never_widened(void **state) {
  hwloc_topology_t topo = *state;
  hwloc_bitmap_t allowed = cores_set(topo, 3, 5);
  hwloc_bitmap_t out = hwloc_bitmap_alloc();
  tally_t t;
  tally_core(topo, allowed, 3, &t);
  for (int c = 3; c <= 5; c++)
    assert_int_equal(t.per_core[c], 1);
  tally_core(topo, allowed, 7, &t);
  assert_cores_even(topo, allowed, &t);
  for (mpmp__bind_t b = MPMP__BIND_NUMA; b <= MPMP__BIND_NONE; b++) {
    for (int i = 0; i < 4; i++) {
      assert_int_equal(mpmp__place(topo, allowed, b, 4, i, out), 0);
      assert_true(hwloc_bitmap_isequal(out, allowed));
    }
  }
  hwloc_bitmap_free(out);
  hwloc_bitmap_free(allowed);
}

static void placement_single_core_is_shared_by_all(void **state) {
  hwloc_topology_t topo = *state;
  hwloc_bitmap_t allowed = cores_set(topo, 9, 9);
  hwloc_bitmap_t out = hwloc_bitmap_alloc();
  for (mpmp__bind_t b = MPMP__BIND_CORE; b <= MPMP__BIND_NONE; b++) {
    for (int i = 0; i < 4; i++) {
      assert_int_equal(mpmp__place(topo, allowed, b, 4, i, out), 0);
      assert_true(hwloc_bitmap_isequal(out, allowed));
    }
  }
  hwloc_bitmap_free(out);
  hwloc_bitmap_free(allowed);
}

static void placement_single_pu_is_not_widened_to_its_core(void **state) {
  hwloc_topology_t topo = *state;
  hwloc_bitmap_t allowed = hwloc_bitmap_alloc();
  hwloc_bitmap_t out = hwloc_bitmap_alloc();
  hwloc_bitmap_only(allowed, 7); /* the second PU of core 3 */
  for (mpmp__bind_t b = MPMP__BIND_CORE; b <= MPMP__BIND_NONE; b++) {
    assert_int_equal(mpmp__place(topo, allowed, b, 2, 1, out), 0);
    assert_true(hwloc_bitmap_isequal(out, allowed));
  }
  hwloc_bitmap_free(out);
  hwloc_bitmap_free(allowed);
}

/* ---- uneven and unusual machines ---------------------------------------- */

static void placement_unequal_numa_fills_cores_before_doubling(void **state) {
  hwloc_topology_t topo = *state;
  /* 3 cores of NUMA node 0 and all 8 of NUMA node 1: 11 cores. */
  hwloc_bitmap_t allowed = cores_set(topo, 0, 2);
  hwloc_bitmap_t more = cores_set(topo, 8, 15);
  hwloc_bitmap_or(allowed, allowed, more);
  tally_t t;
  tally_core(topo, allowed, 6, &t); /* while both have cores: 3 and 3 */
  assert_int_equal(t.per_numa[0], 3);
  assert_int_equal(t.per_numa[1], 3);
  for (int n = 11; n <= 23; n++) {
    tally_core(topo, allowed, n, &t);
    assert_cores_even(topo, allowed, &t);
  }
  tally_core(topo, allowed, 11, &t);
  assert_int_equal(t.per_numa[0], 3);
  assert_int_equal(t.per_numa[1], 8);
  hwloc_bitmap_free(more);
  hwloc_bitmap_free(allowed);
}

/* Memory-only NUMA nodes share the PUs of their package (KNL, CXL): they
 * must not count as a domain of their own, or cores would be dealt twice. */
static void placement_numa_nodes_sharing_pus_are_one_domain(void **state) {
  (void)state;
  hwloc_topology_t topo = load_synthetic("pack:2 [numa] [numa] core:4 pu:1");
  hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(topo);
  assert_int_equal(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE), 4);
  tally_t t;
  tally_core(topo, all, 8, &t);
  for (int c = 0; c < 8; c++)
    assert_int_equal(t.per_core[c], 1);
  hwloc_bitmap_t out = hwloc_bitmap_alloc();
  assert_int_equal(mpmp__place(topo, all, MPMP__BIND_NUMA, 2, 1, out), 0);
  assert_true(hwloc_bitmap_isequal(
      out, hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, 1)->cpuset));
  hwloc_bitmap_free(out);
  hwloc_topology_destroy(topo);
}

static void placement_machine_without_cores_deals_pus(void **state) {
  (void)state;
  hwloc_topology_t topo = load_synthetic("numa:2 pu:4");
  hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(topo);
  hwloc_bitmap_t out = hwloc_bitmap_alloc();
  assert_int_equal(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE), 0);
  static const int want[8] = {0, 4, 1, 5, 2, 6, 3, 7};
  for (int i = 0; i < 8; i++) {
    assert_int_equal(mpmp__place(topo, all, MPMP__BIND_CORE, 8, i, out), 0);
    assert_int_equal(hwloc_bitmap_weight(out), 1);
    assert_int_equal(hwloc_bitmap_first(out), want[i]);
  }
  hwloc_bitmap_free(out);
  hwloc_topology_destroy(topo);
}

/* ---- arguments and policy names ----------------------------------------- */

static void placement_rejects_bad_arguments(void **state) {
  hwloc_topology_t topo = *state;
  hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(topo);
  hwloc_bitmap_t out = hwloc_bitmap_alloc(), empty = hwloc_bitmap_alloc();
  hwloc_bitmap_t alien = hwloc_bitmap_alloc();
  hwloc_bitmap_only(alien, 1000); /* a PU this machine does not have */
  assert_int_equal(mpmp__place(topo, all, MPMP__BIND_CORE, 0, 0, out),
                   MPMP_EINVAL);
  assert_true(strlen(mpmp_errmsg()) > 0);
  assert_int_equal(mpmp__place(topo, all, MPMP__BIND_CORE, 4, -1, out),
                   MPMP_EINVAL);
  assert_int_equal(mpmp__place(topo, all, MPMP__BIND_CORE, 4, 4, out),
                   MPMP_EINVAL);
  assert_int_equal(mpmp__place(topo, empty, MPMP__BIND_NONE, 1, 0, out),
                   MPMP_EINVAL);
  assert_int_equal(mpmp__place(topo, alien, MPMP__BIND_CORE, 1, 0, out),
                   MPMP_EINVAL);
  assert_int_equal(mpmp__place(NULL, all, MPMP__BIND_CORE, 1, 0, out),
                   MPMP_EINVAL);
  assert_int_equal(mpmp__place(topo, all, MPMP__BIND_CORE, 1, 0, NULL),
                   MPMP_EINVAL);
  assert_int_equal(mpmp__place(topo, all, (mpmp__bind_t)7, 1, 0, out),
                   MPMP_EINVAL);
  hwloc_bitmap_free(alien);
  hwloc_bitmap_free(empty);
  hwloc_bitmap_free(out);
}

static void placement_bind_parse_accepts_the_four_policies(void **state) {
  (void)state;
  static const char *const names[] = {"core", "numa", "socket", "none"};
  mpmp__bind_t b = MPMP__BIND_NONE;
  for (int i = 0; i < 4; i++) {
    assert_int_equal(mpmp__bind_parse(names[i], &b), 0);
    assert_int_equal(b, i);
    assert_string_equal(mpmp__bind_name(b), names[i]);
  }
  assert_int_equal(mpmp__bind_parse("NUMA", &b), 0);
  assert_int_equal(b, MPMP__BIND_NUMA);
  assert_int_equal(mpmp__bind_parse(NULL, &b), 0);
  assert_int_equal(b, MPMP__BIND_CORE);
}

static void placement_bind_parse_rejects_unknown_names(void **state) {
  (void)state;
  static const char *const bad[] = {"cores", "", "numa ", "pu"};
  mpmp__bind_t b = MPMP__BIND_NUMA;
  for (int i = 0; i < 4; i++) {
    assert_int_equal(mpmp__bind_parse(bad[i], &b), MPMP_EENV);
    assert_non_null(strstr(mpmp_errmsg(), "MPMP_BIND"));
    assert_non_null(strstr(mpmp_errmsg(), "core, numa, socket or none"));
    assert_int_equal(b, MPMP__BIND_NUMA); /* untouched on failure */
  }
}

/* ---- describing a binding ----------------------------------------------- */

static void check_describe(mpmp__topo_t *t, hwloc_bitmap_t bound,
                           const char *cores, int numa) {
  char buf[64];
  int n = -2;
  hwloc_bitmap_copy(t->bound, bound);
  hwloc_bitmap_free(bound);
  assert_int_equal(mpmp__topo_describe(t, buf, sizeof buf, &n), 0);
  assert_string_equal(buf, cores);
  assert_int_equal(n, numa);
}

static void placement_describe_lists_core_ranges(void **state) {
  (void)state;
  mpmp__topo_t t = {.topo = load_synthetic(MACHINE),
                    .bound = hwloc_bitmap_alloc()};
  hwloc_bitmap_t s = cores_set(t.topo, 0, 3), core8 = cores_set(t.topo, 8, 8);
  hwloc_bitmap_or(s, s, core8);
  hwloc_bitmap_free(core8);
  check_describe(&t, s, "0-3,8", -1);
  check_describe(&t, cores_set(t.topo, 4, 5), "4-5", 0);
  check_describe(&t, cores_set(t.topo, 16, 23), "16-23", 2);
  check_describe(&t, cores_set(t.topo, 31, 31), "31", 3);
  check_describe(&t, cores_set(t.topo, 0, 31), "0-31", -1);
  hwloc_bitmap_t pu = hwloc_bitmap_alloc();
  hwloc_bitmap_only(pu, 33); /* one PU still names its core */
  check_describe(&t, pu, "16", 2);
  check_describe(&t, hwloc_bitmap_alloc(), "", -1);
  mpmp__topo_fini(&t);
  assert_null(t.topo);
}

static void placement_describe_marks_a_cut_list(void **state) {
  (void)state;
  mpmp__topo_t t = {.topo = load_synthetic(MACHINE),
                    .bound = hwloc_bitmap_alloc()};
  for (unsigned pu = 0; pu < 64; pu += 4) /* every other core */
    hwloc_bitmap_set(t.bound, pu);
  char buf[16];
  int numa = 0;
  assert_int_equal(mpmp__topo_describe(&t, buf, sizeof buf, &numa),
                   MPMP_EMSGSIZE);
  assert_string_equal(buf, "0,2,4,6,8,10...");
  assert_int_equal(numa, -1);
  char exact[16]; /* "0,2,4,6,8,10,12" and its NUL fit exactly */
  hwloc_bitmap_clr_range(t.bound, 28, 63);
  assert_int_equal(mpmp__topo_describe(&t, exact, sizeof exact, &numa), 0);
  assert_string_equal(exact, "0,2,4,6,8,10,12");
  assert_int_equal(mpmp__topo_describe(NULL, buf, sizeof buf, &numa),
                   MPMP_EINVAL);
  mpmp__topo_fini(&t);
}

/* ---- this machine, one process ------------------------------------------ */

static void placement_topo_init_reads_this_process(void **state) {
  (void)state;
  mpmp__topo_t t;
  assert_int_equal(mpmp__topo_init(&t), 0);
  assert_false(hwloc_bitmap_iszero(t.given));
  assert_true(hwloc_bitmap_isequal(t.bound, t.given));
  assert_true(hwloc_bitmap_isincluded(
      t.given, hwloc_topology_get_allowed_cpuset(t.topo)));
  assert_int_equal(t.node_cpus, hwloc_bitmap_weight(t.given));
  /* One thread: the process's binding is this thread's affinity. */
  int pus = mpmp__topo_allowed_pus();
  assert_true(pus >= 1);
  assert_true(hwloc_bitmap_weight(t.given) <= pus);
  char cores[64];
  int numa = -2;
  assert_int_equal(mpmp__topo_describe(&t, cores, sizeof cores, &numa), 0);
  assert_true(strlen(cores) > 0);
  assert_true(numa >= -1);
  mpmp__topo_fini(&t);
  mpmp__topo_fini(&t); /* twice is harmless */
}

static void placement_topo_fini_accepts_a_zeroed_struct(void **state) {
  (void)state;
  mpmp__topo_t t;
  memset(&t, 0, sizeof t);
  mpmp__topo_fini(&t);
  mpmp__topo_fini(NULL);
  assert_null(t.topo);
}

#define MACHINE_TEST(f) \
  cmocka_unit_test_setup_teardown(f, setup_machine, teardown_machine)

int main(void) {
  const struct CMUnitTest tests[] = {
      MACHINE_TEST(placement_synthetic_machine_loads),
      MACHINE_TEST(placement_4_ranks_get_one_numa_node_each),
      MACHINE_TEST(placement_16_ranks_get_4_per_numa_node),
      MACHINE_TEST(placement_40_ranks_fill_every_core_before_doubling),
      MACHINE_TEST(placement_ranks_alternate_numa_nodes),
      MACHINE_TEST(placement_core_gives_exactly_one_core),
      MACHINE_TEST(placement_numa_gives_whole_numa_nodes),
      MACHINE_TEST(placement_socket_gives_whole_packages),
      MACHINE_TEST(placement_none_gives_the_allowed_set),
      MACHINE_TEST(placement_restricted_set_is_never_widened),
      MACHINE_TEST(placement_single_core_is_shared_by_all),
      MACHINE_TEST(placement_single_pu_is_not_widened_to_its_core),
      MACHINE_TEST(placement_unequal_numa_fills_cores_before_doubling),
      cmocka_unit_test(placement_numa_nodes_sharing_pus_are_one_domain),
      cmocka_unit_test(placement_machine_without_cores_deals_pus),
      MACHINE_TEST(placement_rejects_bad_arguments),
      cmocka_unit_test(placement_bind_parse_accepts_the_four_policies),
      cmocka_unit_test(placement_bind_parse_rejects_unknown_names),
      cmocka_unit_test(placement_describe_lists_core_ranges),
      cmocka_unit_test(placement_describe_marks_a_cut_list),
      cmocka_unit_test(placement_topo_init_reads_this_process),
      cmocka_unit_test(placement_topo_fini_accepts_a_zeroed_struct),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
