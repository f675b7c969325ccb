/* SharedMemory (mpmp/shm.h): every error, the name table's limit, fresh
 * names, and many ranks creating and attaching at once.
 *
 * Runs with 2 and 4 ranks on one node and with 4 ranks over 2 pseudo-nodes
 * (ranks 0 and 2 on one node, 1 and 3 on the other). A block belongs to its
 * node, so bodies that must run on the main rank's node (or on the other
 * one) are placed with start_where() (mpitest.h). Checks that run inside
 * bodies use EXPECT; BODY_CHECK turns a failure into mpmp_fail, so the main
 * rank's join reports it. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm_common.h"

/* =========================================================================
 * 3. Errors and limits
 * ========================================================================= */

static void shm_errors_are_clear(void **state) {
  (void)state;
  mpmp_shm_t *s = NULL, *t = NULL;
  RC(mpmp_shm_create(NULL, "x", 1), MPMP_EINVAL);
  s = NOT_NULL;
  RC(mpmp_shm_create(&s, "zero", 0), MPMP_EINVAL);
  assert_null(s);
  HAS_MSG("at least 1 byte");
  RC(mpmp_shm_create(&s, NULL, 0), MPMP_EINVAL);
  RC(mpmp_shm_open(&s, "zero", 1, 0), MPMP_EINVAL);
  RC(mpmp_shm_create(&s, "", 10), MPMP_EINVAL);
  HAS_MSG("empty");
  char longname[80];
  memset(longname, 'n', sizeof longname);
  longname[MPMP_SHM_NAME_MAX + 1] = '\0';
  RC(mpmp_shm_create(&s, longname, 10), MPMP_EINVAL);
  HAS_MSG("longer than 63 bytes");
  RC(mpmp_shm_attach(&s, longname), MPMP_EINVAL);
  RC(mpmp_shm_create(&s, "new\nline", 10), MPMP_EINVAL);
  HAS_MSG("control character");
  RC(mpmp_shm_create(&s, "huge", SIZE_MAX), MPMP_EINVAL);
  int rc = mpmp_shm_create(&s, "huge", (size_t)1 << 62);
  assert_true(rc == MPMP_ENOMEM || rc == MPMP_EINVAL);
  assert_null(s);
  RC(mpmp_shm_attach(&s, "huge"), MPMP_SHM_ENOENT); /* nothing left */
  RC(mpmp_shm_attach(&s, NULL), MPMP_EINVAL);
  RC(mpmp_shm_attach(NULL, "x"), MPMP_EINVAL);
  RC(mpmp_shm_attach(&s, "never-made"), MPMP_SHM_ENOENT);
  assert_null(s);
  HAS_MSG("no SharedMemory block named 'never-made' on this node");
  HAS_MSG("per node");
  RC(mpmp_shm_open(&s, "never-made", 0, 100), MPMP_SHM_ENOENT);
  RC(mpmp_shm_unlink(NULL), MPMP_EINVAL);
  RC(mpmp_shm_close(NULL), 0);
  assert_null(mpmp_shm_buf(NULL));
  assert_int_equal(mpmp_shm_size(NULL), 0);
  assert_string_equal(mpmp_shm_name(NULL), "");

  /* the longest name; duplicates; open() as Python spells it */
  longname[MPMP_SHM_NAME_MAX] = '\0';
  OK(mpmp_shm_open(&s, longname, 1, 3));
  assert_string_equal(mpmp_shm_name(s), longname);
  RC(mpmp_shm_create(&t, longname, 3), MPMP_SHM_EEXIST);
  assert_null(t);
  HAS_MSG("exists already on this node");
  RC(mpmp_shm_open(&t, longname, 1, 99), MPMP_SHM_EEXIST);
  OK(mpmp_shm_open(&t, longname, 0, 12345)); /* size ignored: the block's */
  assert_int_equal(mpmp_shm_size(t), 3);
  OK(mpmp_shm_close(t));
  OK(mpmp_shm_unlink(s));
  RC(mpmp_shm_unlink(s), MPMP_SHM_ENOENT);
  OK(mpmp_shm_close(s));
}

/* MPMP_SHM_MAX_BLOCKS names per node; the table frees and reuses entries. */
static void shm_name_table_full_then_reused(void **state) {
  (void)state;
  static mpmp_shm_t *all[MPMP_SHM_MAX_BLOCKS + 1];
  char name[MPMP_SHM_NAME_SIZE];
  int n = 0, rc = 0;
  while (n <= MPMP_SHM_MAX_BLOCKS) {
    snprintf(name, sizeof name, "many-%d", n);
    if ((rc = mpmp_shm_create(&all[n], name, 1 + (size_t)n)) != 0)
      break;
    n++;
  }
  assert_int_equal(rc, MPMP_ENOSPC);
  HAS_MSG("256 SharedMemory blocks");
  /* the other tests left no names (blocks they unlinked that a worker
   * created may still wait for that worker's next call: those take no
   * name) */
  assert_int_equal(n, MPMP_SHM_MAX_BLOCKS);
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < n; i += 2) {
      OK(mpmp_shm_unlink(all[i]));
      OK(mpmp_shm_close(all[i]));
    }
    for (int i = 0; i < n; i += 2) {
      snprintf(name, sizeof name, "many-%d", i);
      OK(mpmp_shm_create(&all[i], name, 1 + (size_t)i));
    }
  }
  for (int i = 0; i < n; i++) {
    snprintf(name, sizeof name, "many-%d", i);
    mpmp_shm_t *v = NULL;
    OK(mpmp_shm_attach(&v, name));
    assert_int_equal(mpmp_shm_size(v), 1 + (size_t)i);
    OK(mpmp_shm_close(v));
    OK(mpmp_shm_unlink(all[i]));
    OK(mpmp_shm_close(all[i]));
    assert_int_equal(memfds_of(name, NULL), 0);
  }
}

static void shm_fresh_names_are_unique(void **state) {
  (void)state;
  enum { N = 40 };
  mpmp_shm_t *s[N];
  for (int i = 0; i < N; i++) {
    OK(mpmp_shm_create(&s[i], NULL, 16));
    const char *nm = mpmp_shm_name(s[i]);
    assert_int_equal(strlen(nm), 12);
    assert_memory_equal(nm, "psm_", 4);
    assert_int_equal(strspn(nm + 4, "0123456789abcdef"), 8);
    for (int j = 0; j < i; j++)
      assert_string_not_equal(nm, mpmp_shm_name(s[j]));
  }
  for (int i = 0; i < N; i++) {
    OK(mpmp_shm_unlink(s[i]));
    OK(mpmp_shm_close(s[i]));
  }
}

/* =========================================================================
 * 4. Every rank creates and attaches at once
 * ========================================================================= */

typedef struct {
  mpmp_array_t nodes;  /* node + 1 of each rank that takes part; 0: none */
  mpmp_barrier_t bar;
  int rounds;
  size_t size;
} all_arg_t;

static int all_at_once_check(char *err, const all_arg_t *a, int *attached) {
  int me = mpmp_rank(), np = mpmp_world_size();
  char name[MPMP_SHM_NAME_SIZE];
  EXPECT_OK(mpmp_array_set(a->nodes, (size_t)me, &(int32_t){mpmp_node_id() + 1}));
  EXPECT(mpmp_barrier_wait(a->bar, T_OUT) >= 0); /* every node is known */
  for (int round = 0; round < a->rounds; round++) {
    mpmp_shm_t *mine = NULL;
    snprintf(name, sizeof name, "rank-%d", me);
    EXPECT_OK(mpmp_shm_create(&mine, name, a->size));
    test_fill_pattern(mpmp_shm_buf(mine), a->size, (unsigned)(me * 10 + round));
    int rc = mpmp_barrier_wait(a->bar, T_OUT);
    EXPECT(rc >= 0);
    for (int r = 0; r < np; r++) {
      int32_t node1 = 0;
      EXPECT_OK(mpmp_array_get(a->nodes, (size_t)r, &node1));
      if (r == me || node1 == 0)
        continue;
      snprintf(name, sizeof name, "rank-%d", r);
      if (node1 - 1 != mpmp_node_id()) {
        if (expect_not_here(err, name) < 0)
          return -1;
        continue;
      }
      mpmp_shm_t *v = NULL;
      EXPECT_OK(mpmp_shm_attach(&v, name));
      EXPECT(mpmp_shm_size(v) == a->size);
      if (check_pattern(err, mpmp_shm_buf(v), a->size,
                        (unsigned)(r * 10 + round)) < 0)
        return -1;
      EXPECT_OK(mpmp_shm_close(v));
      (*attached)++;
    }
    rc = mpmp_barrier_wait(a->bar, T_OUT);
    EXPECT(rc >= 0);
    EXPECT_OK(mpmp_shm_unlink(mine));
    EXPECT_OK(mpmp_shm_close(mine));
    rc = mpmp_barrier_wait(a->bar, T_OUT); /* names free for the next round */
    EXPECT(rc >= 0);
  }
  return 0;
}

static int all_at_once(mpmp_ctx_t *ctx) {
  const all_arg_t *a = mpmp_arg(ctx, NULL);
  int *attached = mpmp_out(ctx, sizeof *attached);
  *attached = 0;
  BODY_CHECK(ctx, all_at_once_check(err, a, attached));
  return 0;
}
MPMP_TASK(all_at_once);

static void shm_every_rank_creates_and_attaches_at_once(void **state) {
  (void)state;
  int nw = mpmp_worker_count(), np = mpmp_world_size();
  if (nw > MAXW)
    nw = MAXW;
  all_arg_t a = {.rounds = 5, .size = 3 * 4096 + 1};
  OK(mpmp_array_create(&a.nodes, MPMP_INT32, (size_t)np, NULL, 0));
  OK(mpmp_barrier_create(&a.bar, (unsigned)nw + 1));
  mpmp_process_t *p[MAXW];
  for (int i = 0; i < nw; i++) {
    OK(mpmp_process_create(&p[i], all_at_once, &a, sizeof a, NULL));
    OK(mpmp_process_start(p[i]));
  }
  int attached = 0;
  MAIN_CHECK(all_at_once_check(err, &a, &attached));
  int total = attached;
  for (int i = 0; i < nw; i++) {
    join_ok(p[i]);
    const int *got = NULL;
    OK(mpmp_process_result(p[i], (const void **)&got, NULL));
    total += *got;
    OK(mpmp_process_destroy(p[i]));
  }
  /* on one node, each of the nw + 1 ranks attached to the nw others */
  if (!other_node_exists())
    assert_int_equal(total, a.rounds * (nw + 1) * nw);
  else
    assert_true(total > 0);
  OK(mpmp_array_free(a.nodes));
  OK(mpmp_barrier_free(a.bar));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(shm_errors_are_clear),
    cmocka_unit_test(shm_name_table_full_then_reused),
    cmocka_unit_test(shm_fresh_names_are_unique),
    cmocka_unit_test(shm_every_rank_creates_and_attaches_at_once),
};

MPMP_TEST_MAIN(tests)
