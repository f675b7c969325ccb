/* SharedMemory (mpmp/shm.h) lifetimes: blocks made by a worker in the
 * middle of its body, Python's close/unlink rules, and what the kernel
 * sees (a 0600 memfd, sealed, nothing in /dev/shm).
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
 * 2. A worker creates, in the middle of its body; lifetimes
 * ========================================================================= */

typedef struct {
  place_t w;
  char name[MPMP_SHM_NAME_SIZE];
  size_t size;
  mpmp_event_t made, done;
  int unlink_at_end;
  int check_mark; /* expect 0xAB in byte 0 once `done` is set */
} creator_arg_t;

/* Create the block, fill it, tell the main rank, wait for it to be done
 * with it, check what it wrote, then unlink (or not) and close. */
static int creator_body(char *err, const creator_arg_t *a) {
  mpmp_shm_t *shm = NULL;
  EXPECT_OK(mpmp_shm_create(&shm, a->name, a->size));
  test_fill_pattern(mpmp_shm_buf(shm), a->size, 5);
  EXPECT_OK(mpmp_event_set(a->made));
  EXPECT_OK(mpmp_event_wait(a->done, T_OUT));
  if (a->check_mark) { /* the main rank wrote a mark in the first byte */
    const unsigned char *b = mpmp_shm_buf(shm);
    EXPECT(b[0] == 0xAB);
    for (size_t i = 1; i < a->size; i++)
      EXPECT(b[i] == test_pattern_byte(5, i));
  }
  if (a->unlink_at_end)
    EXPECT_OK(mpmp_shm_unlink(shm));
  EXPECT_OK(mpmp_shm_close(shm));
  return 0;
}

static int creator(mpmp_ctx_t *ctx) {
  const creator_arg_t *a = mpmp_arg(ctx, NULL);
  if (misplaced(ctx, &a->w))
    return 0;
  BODY_CHECK(ctx, creator_body(err, a));
  return 0;
}
MPMP_TASK(creator);

static void shm_worker_creates_main_attaches_mid_body(void **state) {
  (void)state;
  creator_arg_t a = {.size = 3 * 4096 + 17, .unlink_at_end = 1,
                     .check_mark = 1};
  snprintf(a.name, sizeof a.name, "made-by-a-worker");
  OK(mpmp_event_create(&a.made));
  OK(mpmp_event_create(&a.done));
  parked_t pk = {0};
  mpmp_process_t *p = start_where(creator, &a, sizeof a, 1, &pk);
  assert_non_null(p);
  OK(mpmp_event_wait(a.made, T_OUT));
  /* the creator is running its body now */
  assert_int_equal(mpmp_process_is_alive(p), 1);
  mpmp_shm_t *shm = NULL;
  OK(mpmp_shm_attach(&shm, a.name));
  assert_int_equal(mpmp_shm_size(shm), a.size);
  MAIN_CHECK(check_pattern(err, mpmp_shm_buf(shm), a.size, 5));
  ((unsigned char *)mpmp_shm_buf(shm))[0] = 0xAB;
  /* creating the name again while it lives is an error */
  mpmp_shm_t *dup = NULL;
  RC(mpmp_shm_create(&dup, a.name, 10), MPMP_SHM_EEXIST);
  assert_null(dup);
  HAS_MSG("made-by-a-worker");
  HAS_MSG("exists already");
  OK(mpmp_shm_close(shm));
  OK(mpmp_event_set(a.done));
  join_destroy(p);
  /* the creator unlinked it */
  RC(mpmp_shm_attach(&shm, a.name), MPMP_SHM_ENOENT);
  unpark(&pk);
  OK(mpmp_event_free(a.made));
  OK(mpmp_event_free(a.done));
}

/* A body on the other node creates a name; the main rank cannot attach to
 * it, and may create the same name on its own node meanwhile. */
static void shm_blocks_are_per_node(void **state) {
  (void)state;
  if (!other_node_exists())
    skip();
  creator_arg_t a = {.size = 4096, .unlink_at_end = 1};
  snprintf(a.name, sizeof a.name, "on-the-other-node");
  OK(mpmp_event_create(&a.made));
  OK(mpmp_event_create(&a.done));
  parked_t pk = {0};
  mpmp_process_t *p = start_where(creator, &a, sizeof a, 0, &pk);
  assert_non_null(p);
  OK(mpmp_event_wait(a.made, T_OUT));
  MAIN_CHECK(expect_not_here(err, a.name));
  HAS_MSG("node 0 of 2");
  mpmp_shm_t *mine = NULL;
  OK(mpmp_shm_create(&mine, a.name, 100)); /* another block, this node's */
  memset(mpmp_shm_buf(mine), 0x5A, 100);
  OK(mpmp_event_set(a.done));
  join_destroy(p);
  unpark(&pk);
  const unsigned char *b = mpmp_shm_buf(mine);
  assert_int_equal(b[0], 0x5A);
  assert_int_equal(b[99], 0x5A);
  OK(mpmp_shm_unlink(mine));
  OK(mpmp_shm_close(mine));
  OK(mpmp_event_free(a.made));
  OK(mpmp_event_free(a.done));
}

/* The creator closes without unlinking and its body ends: the block lives
 * on (its rank keeps it) until someone unlinks it. */
static void shm_creator_closes_without_unlink_block_stays(void **state) {
  (void)state;
  creator_arg_t a = {.size = 5000, .unlink_at_end = 0};
  snprintf(a.name, sizeof a.name, "left-by-its-creator");
  OK(mpmp_event_create(&a.made));
  OK(mpmp_event_create(&a.done));
  OK(mpmp_event_set(a.done)); /* no hand-shake: the body just ends */
  parked_t pk = {0};
  mpmp_process_t *p = start_where(creator, &a, sizeof a, 1, &pk);
  assert_non_null(p);
  join_destroy(p);
  unpark(&pk);
  /* the body closed its view and returned; the name still works */
  mpmp_shm_t *shm = NULL;
  OK(mpmp_shm_attach(&shm, a.name));
  assert_int_equal(mpmp_shm_size(shm), a.size);
  MAIN_CHECK(check_pattern(err, mpmp_shm_buf(shm), a.size, 5));
  unsigned char *b = mpmp_shm_buf(shm);
  b[0] = 0xAB;
  /* unlinked by a rank that did not create it: gone for attaches, the
   * mapping stays, and the name is free again */
  OK(mpmp_shm_unlink(shm));
  mpmp_shm_t *again = NULL;
  RC(mpmp_shm_attach(&again, a.name), MPMP_SHM_ENOENT);
  assert_int_equal(b[0], 0xAB);
  OK(mpmp_shm_create(&again, a.name, 64));
  assert_int_equal(((unsigned char *)mpmp_shm_buf(again))[0], 0);
  OK(mpmp_shm_unlink(again));
  OK(mpmp_shm_close(again));
  OK(mpmp_shm_close(shm));
  OK(mpmp_event_free(a.made));
  OK(mpmp_event_free(a.done));
}

/* Python: unlink removes the name; every mapping stays valid until closed. */
static void shm_unlink_keeps_existing_mappings(void **state) {
  (void)state;
  mpmp_shm_t *s = NULL, *v = NULL, *w = NULL;
  OK(mpmp_shm_create(&s, "keep", 8192));
  OK(mpmp_shm_attach(&v, "keep"));
  assert_ptr_not_equal(mpmp_shm_buf(s), mpmp_shm_buf(v)); /* two mappings */
  int64_t *ps = mpmp_shm_buf(s), *pv = mpmp_shm_buf(v);
  ps[1000] = 77;
  assert_int_equal(pv[1000], 77);
  OK(mpmp_shm_unlink(s));
  RC(mpmp_shm_unlink(v), MPMP_SHM_ENOENT); /* unlinked already */
  HAS_MSG("unlinked already");
  RC(mpmp_shm_attach(&w, "keep"), MPMP_SHM_ENOENT);
  pv[5] = -3;
  assert_int_equal(ps[5], -3);
  /* the name is free: a new, zeroed block that shares nothing */
  OK(mpmp_shm_create(&w, "keep", 8192));
  int64_t *pw = mpmp_shm_buf(w);
  assert_int_equal(pw[1000], 0);
  pw[1000] = 1;
  assert_int_equal(ps[1000], 77);
  OK(mpmp_shm_close(s));
  assert_int_equal(pv[1000], 77); /* v still maps the old block */
  OK(mpmp_shm_close(v));
  OK(mpmp_shm_unlink(w));
  OK(mpmp_shm_close(w));
}

typedef struct {
  place_t w;
  char name[MPMP_SHM_NAME_SIZE];
  mpmp_event_t attached, unlinked;
} holder_arg_t;

/* Attach; let the main rank unlink; then write through the old mapping. */
static int holder_body(char *err, const holder_arg_t *a) {
  mpmp_shm_t *shm = NULL;
  EXPECT_OK(mpmp_shm_attach(&shm, a->name));
  EXPECT_OK(mpmp_event_set(a->attached));
  EXPECT_OK(mpmp_event_wait(a->unlinked, T_OUT));
  mpmp_shm_t *again = NULL;
  EXPECT_RC(mpmp_shm_attach(&again, a->name), MPMP_SHM_ENOENT);
  int64_t *p = mpmp_shm_buf(shm);
  EXPECT(p[0] == 11);
  p[0] = 42;
  EXPECT_OK(mpmp_shm_close(shm));
  return 0;
}

static int holder(mpmp_ctx_t *ctx) {
  const holder_arg_t *a = mpmp_arg(ctx, NULL);
  if (misplaced(ctx, &a->w))
    return 0;
  BODY_CHECK(ctx, holder_body(err, a));
  return 0;
}
MPMP_TASK(holder);

static void shm_unlink_while_a_worker_maps_it(void **state) {
  (void)state;
  mpmp_shm_t *shm = NULL;
  OK(mpmp_shm_create(&shm, "held", 64));
  int64_t *p = mpmp_shm_buf(shm);
  p[0] = 11;
  holder_arg_t a = {0};
  snprintf(a.name, sizeof a.name, "held");
  OK(mpmp_event_create(&a.attached));
  OK(mpmp_event_create(&a.unlinked));
  parked_t pk = {0};
  mpmp_process_t *proc = start_where(holder, &a, sizeof a, 1, &pk);
  assert_non_null(proc);
  OK(mpmp_event_wait(a.attached, T_OUT));
  OK(mpmp_shm_unlink(shm));
  OK(mpmp_event_set(a.unlinked));
  join_destroy(proc);
  unpark(&pk);
  assert_int_equal(p[0], 42);
  OK(mpmp_shm_close(shm));
  OK(mpmp_event_free(a.attached));
  OK(mpmp_event_free(a.unlinked));
}

/* ---- what the kernel sees --------------------------------------------------- */

static void shm_block_is_a_private_sealed_memfd_not_in_dev_shm(void **state) {
  (void)state;
  const char *name = "kernel-view";
  mpmp_shm_t *shm = NULL;
  OK(mpmp_shm_create(&shm, name, 10000));
  int fd = -1;
  assert_int_equal(memfds_of(name, &fd), 1);
  struct stat st;
  assert_int_equal(fstat(fd, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);
  assert_int_equal(st.st_uid, geteuid());
  assert_int_equal(st.st_size, 10000);
  int seals = fcntl(fd, F_GET_SEALS);
  assert_true(seals >= 0);
  assert_true((seals & (F_SEAL_SHRINK | F_SEAL_GROW)) ==
              (F_SEAL_SHRINK | F_SEAL_GROW));
  assert_int_not_equal(ftruncate(fd, 10), 0); /* nobody can shrink it */
  assert_int_not_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
  assert_int_equal(mapped(name), 1);
  assert_int_equal(in_dev_shm(name), 0);
  assert_int_equal(in_dev_shm("psm_"), 0);
  /* an attach maps it again and keeps no fd */
  mpmp_shm_t *v = NULL;
  OK(mpmp_shm_attach(&v, name));
  assert_int_equal(memfds_of(name, NULL), 1);
  assert_int_equal(mapped(name), 2);
  OK(mpmp_shm_close(v));
  assert_int_equal(mapped(name), 1);
  /* the creator's unlink closes its fd at once */
  OK(mpmp_shm_unlink(shm));
  assert_int_equal(memfds_of(name, NULL), 0);
  assert_int_equal(mapped(name), 1);
  OK(mpmp_shm_close(shm));
  assert_int_equal(mapped(name), 0);
}

/* Unlinked by another rank: the creator's fd goes at its next call. */
typedef struct {
  place_t w;
  char name[MPMP_SHM_NAME_SIZE];
} unlinker_arg_t;

static int unlinker_body(char *err, const unlinker_arg_t *a) {
  mpmp_shm_t *shm = NULL;
  EXPECT_OK(mpmp_shm_attach(&shm, a->name));
  EXPECT_OK(mpmp_shm_unlink(shm));
  EXPECT_OK(mpmp_shm_close(shm));
  return 0;
}

static int unlinker(mpmp_ctx_t *ctx) {
  const unlinker_arg_t *a = mpmp_arg(ctx, NULL);
  if (misplaced(ctx, &a->w))
    return 0;
  BODY_CHECK(ctx, unlinker_body(err, a));
  return 0;
}
MPMP_TASK(unlinker);

static void shm_unlinked_elsewhere_creator_releases_its_fd(void **state) {
  (void)state;
  const char *name = "unlinked-by-a-worker";
  mpmp_shm_t *shm = NULL;
  OK(mpmp_shm_create(&shm, name, 4096));
  assert_int_equal(memfds_of(name, NULL), 1);
  unlinker_arg_t a = {0};
  snprintf(a.name, sizeof a.name, "%s", name);
  parked_t pk = {0};
  mpmp_process_t *p = start_where(unlinker, &a, sizeof a, 1, &pk);
  assert_non_null(p);
  join_destroy(p);
  unpark(&pk);
  mpmp_shm_t *v = NULL;
  RC(mpmp_shm_attach(&v, name), MPMP_SHM_ENOENT); /* and a sweep */
  assert_int_equal(memfds_of(name, NULL), 0);
  assert_int_equal(mapped(name), 1);
  OK(mpmp_shm_close(shm));
  assert_int_equal(mapped(name), 0);
}

/* =========================================================================
 * 3. A creator that ended: its names are free again
 * ========================================================================= */

/* Creates block "gone-<item>" and leaves it (no close, no unlink): its
 * task host ends after it (maxtasksperchild 1), and the block with it. */
static int leave_a_block(mpmp_ctx_t *ctx) {
  const int *i = mpmp_arg(ctx, NULL);
  char name[32];
  snprintf(name, sizeof name, "gone-%d", *i);
  mpmp_shm_t *shm = NULL;
  int rc = mpmp_shm_create(&shm, name, 64);
  if (rc < 0)
    return mpmp_fail(ctx, "item %d: %s", *i, mpmp_errmsg());
  memset(mpmp_shm_buf(shm), 0x11, 64);
  *(int *)mpmp_out(ctx, sizeof(int)) = *i;
  return 0;
}
MPMP_TASK(leave_a_block);

/* More blocks than a node's table holds (256), each made by a task host
 * that then ended (a pool's maxtasksperchild replaced it; a crash or an
 * exit() would do the same): the names of creators that are gone are
 * reclaimed, so every create succeeds; attaching one says that it is
 * gone, and its name can be created again (before: from the 257th on,
 * every create on the node failed MPMP_ENOSPC, and such a name stayed
 * MPMP_EDEAD to attach and "exists already" to create, for good). */
static void shm_names_of_ended_creators_are_free_again(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  enum { N = 400 };
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_ALWAYS,
                        .maxtasksperchild = 1};
  OK(mpmp_pool_create(&pool, &o));
  int in[N], out[N];
  for (int i = 0; i < N; i++)
    in[i] = i;
  OK(mpmp_pool_map(pool, leave_a_block, in, N, sizeof *in, out, sizeof *out,
                   1));
  for (int i = 0; i < N; i++)
    assert_int_equal(out[i], i);
  OK(mpmp_pool_destroy(pool));
  mpmp_shm_t *shm = NULL;
  OK(mpmp_shm_create(&shm, "after-the-hosts", 64));
  OK(mpmp_shm_unlink(shm));
  OK(mpmp_shm_close(shm));
  if (other_node_exists())
    return; /* "gone-<i>" may be the other node's */
  /* Made after the table filled and was swept; its host ended long ago. */
  char name[32];
  snprintf(name, sizeof name, "gone-%d", N - 100);
  RC(mpmp_shm_attach(&shm, name), MPMP_EDEAD);
  assert_null(shm);
  HAS_MSG("is gone");
  HAS_MSG("a task host");
  HAS_MSG("free again");
  RC(mpmp_shm_attach(&shm, name), MPMP_SHM_ENOENT);
  OK(mpmp_shm_create(&shm, name, 128));
  assert_int_equal(mpmp_shm_size(shm), 128);
  OK(mpmp_shm_unlink(shm));
  OK(mpmp_shm_close(shm));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(shm_worker_creates_main_attaches_mid_body),
    cmocka_unit_test(shm_blocks_are_per_node),
    cmocka_unit_test(shm_creator_closes_without_unlink_block_stays),
    cmocka_unit_test(shm_unlink_keeps_existing_mappings),
    cmocka_unit_test(shm_unlink_while_a_worker_maps_it),
    cmocka_unit_test(shm_block_is_a_private_sealed_memfd_not_in_dev_shm),
    cmocka_unit_test(shm_unlinked_elsewhere_creator_releases_its_fd),
    cmocka_unit_test(shm_names_of_ended_creators_are_free_again),
};

MPMP_TEST_MAIN(tests)
