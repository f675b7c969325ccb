/* SharedMemory and ShareableList (mpmp/shm.h): the tutorials' shared_memory
 * examples (a worker reading [1.1, 2.2, 3.3, 4.4], a worker writing 285 into
 * slot 0 of 10 int64s, a worker doubling an array in place), blocks made by
 * a worker in the middle of its body, Python's close/unlink lifetimes, every
 * error, the name table's limit, what the kernel sees (a 0600 memfd, sealed,
 * nothing in /dev/shm), many ranks creating and attaching at once, and
 * ShareableList.
 *
 * Runs with 2 and 4 ranks on one node and with 4 ranks over 2 pseudo-nodes
 * (ranks 0 and 2 on one node, 1 and 3 on the other). A block belongs to its
 * node, so bodies that must run on the main rank's node (or on the other
 * one) are placed with start_where(): a body that lands on the wrong node
 * parks until terminated and the next one is started on another rank.
 *
 * Checks that run inside bodies return -1 with a message in `err` (EXPECT);
 * BODY_CHECK turns that into mpmp_fail, so the main rank's join reports it. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpitest.h"

#define T_OUT 30.0
#define ERRLEN 700
#define MAXW 16

/* ---- checks that run on any rank ----------------------------------------- */

static int expect_failed(char *err, int line, const char *what) {
  snprintf(err, ERRLEN, "rank %d (node %d), line %d: %s is false (last mpmp "
           "message: '%s')", mpmp_rank(), mpmp_node_id(), line, what,
           mpmp_errmsg());
  return -1;
}

static int rc_failed(char *err, int line, const char *call, int rc,
                     int want) {
  snprintf(err, ERRLEN, "rank %d (node %d), line %d: %s returned %d (%s), "
           "expected %d (%s); message: '%s'", mpmp_rank(), mpmp_node_id(),
           line, call, rc, mpmp_err_name(rc), want, mpmp_err_name(want),
           mpmp_errmsg());
  return -1;
}

#define EXPECT(cond)                                                       \
  do {                                                                     \
    if (!(cond))                                                           \
      return expect_failed(err, __LINE__, #cond);                          \
  } while (0)
#define EXPECT_RC(call, want)                                              \
  do {                                                                     \
    int rc_ = (call);                                                      \
    if (rc_ != (want))                                                     \
      return rc_failed(err, __LINE__, #call, rc_, (want));                 \
  } while (0)
#define EXPECT_OK(call) EXPECT_RC(call, 0)
#define EXPECT_MSG(sub) EXPECT(strstr(mpmp_errmsg(), (sub)) != NULL)

#define MAIN_CHECK(expr)                                                   \
  do {                                                                     \
    char err[ERRLEN] = "";                                                 \
    if ((expr) < 0)                                                        \
      fail_msg("%s", err);                                                 \
  } while (0)
#define BODY_CHECK(ctx, expr)                                              \
  do {                                                                     \
    char err[ERRLEN] = "";                                                 \
    if ((expr) < 0)                                                        \
      return mpmp_fail((ctx), "%s", err);                                  \
  } while (0)

#define OK(call)                                                           \
  do {                                                                     \
    int rc_ = (call);                                                      \
    if (rc_ != 0)                                                          \
      fail_msg("%s: %s: %s", #call, mpmp_err_name(rc_), mpmp_errmsg());    \
  } while (0)
#define RC(call, want)                                                     \
  do {                                                                     \
    int rc_ = (call);                                                      \
    if (rc_ != (want))                                                     \
      fail_msg("%s returned %s, expected %s: %s", #call,                   \
               mpmp_err_name(rc_), mpmp_err_name(want), mpmp_errmsg());    \
  } while (0)
#define HAS_MSG(sub)                                                       \
  do {                                                                     \
    if (strstr(mpmp_errmsg(), (sub)) == NULL)                              \
      fail_msg("message '%s' lacks '%s'", mpmp_errmsg(), (sub));           \
  } while (0)

/* A non-NULL pointer that a failing create or attach must reset to NULL. */
static int not_null_marker;
#define NOT_NULL ((void *)&not_null_marker)

/* An attach that must fail because blocks are per node. */
static int expect_not_here(char *err, const char *name) {
  mpmp_shm_t *s = NOT_NULL;
  EXPECT_RC(mpmp_shm_attach(&s, name), MPMP_SHM_ENOENT);
  EXPECT(s == NULL);
  EXPECT_MSG(name);
  EXPECT_MSG("per node");
  return 0;
}

static unsigned char pat(unsigned seed, size_t i) {
  return (unsigned char)(seed * 131u + i * 29u + 7u);
}

static int check_pattern(char *err, const void *buf, size_t n, unsigned seed) {
  const unsigned char *b = buf;
  for (size_t i = 0; i < n; i++)
    EXPECT(b[i] == pat(seed, i));
  return 0;
}

static void fill_pattern(void *buf, size_t n, unsigned seed) {
  unsigned char *b = buf;
  for (size_t i = 0; i < n; i++)
    b[i] = pat(seed, i);
}

/* ---- placing bodies on the main rank's node, or on another ---------------- */

/* The first member of every body's argument. */
typedef struct {
  int main_node;
  int want_local; /* 1: must run on the main rank's node; 0: on another */
} where_t;

/* A body on the wrong node waits to be terminated: 1. */
static int misplaced(mpmp_ctx_t *ctx, const where_t *w) {
  if ((mpmp_node_id() == w->main_node) == w->want_local)
    return 0;
  double end = test_now() + 2 * T_OUT;
  while (!mpmp_should_stop(ctx) && test_now() < end)
    test_sleep(0.002);
  return 1;
}

typedef struct {
  int n;
  mpmp_process_t *p[MAXW];
} parked_t;

/* Start fn on a worker of the main rank's node (want_local) or of another
 * node; NULL if there is none. `arg` starts with a where_t, filled here. */
static mpmp_process_t *start_where(mpmp_task_fn fn, void *arg, size_t size,
                                   int want_local, parked_t *pk) {
  where_t *w = arg;
  w->main_node = mpmp_node_id();
  w->want_local = want_local;
  for (;;) {
    mpmp_process_t *p = NULL;
    OK(mpmp_process_create(&p, fn, arg, size, NULL));
    int rc = mpmp_process_start(p);
    if (rc == MPMP_EBUSY) {
      mpmp_process_destroy(p);
      return NULL;
    }
    if (rc != 0)
      fail_msg("start: %s: %s", mpmp_err_name(rc), mpmp_errmsg());
    int local = strcmp(mpmp_process_node(p), mpmp_node_name()) == 0;
    if (local == want_local)
      return p;
    assert_true(pk->n < MAXW);
    pk->p[pk->n++] = p;
  }
}

static void unpark(parked_t *pk) {
  for (int i = 0; i < pk->n; i++) {
    OK(mpmp_process_terminate(pk->p[i]));
    OK(mpmp_process_join(pk->p[i], T_OUT));
    OK(mpmp_process_destroy(pk->p[i]));
  }
  pk->n = 0;
}

/* Join p; fail with its message unless it ended with exit code 0. */
static void join_ok(mpmp_process_t *p) {
  int code = -999;
  OK(mpmp_process_join(p, T_OUT));
  OK(mpmp_process_exitcode(p, &code));
  if (code != 0)
    fail_msg("%s on rank %d: exit code %d: %s", mpmp_process_name(p),
             mpmp_process_rank(p), code, mpmp_process_errmsg(p));
}

static void join_destroy(mpmp_process_t *p) {
  join_ok(p);
  OK(mpmp_process_destroy(p));
}

static int other_node_exists(void) { return mpmp_node_count() > 1; }

/* =========================================================================
 * 1. The tutorials' examples
 * ========================================================================= */

typedef struct {
  where_t w;
  char name[MPMP_SHM_NAME_SIZE];
  int64_t index;
} named_arg_t;

/* def read_data(shm_name):
 *     shm = shared_memory.SharedMemory(name=shm_name)
 *     data = np.ndarray((4,), dtype=np.float64, buffer=shm.buf)
 *     print("Data imported:", data[:])
 *     shm.close() */
static int read_data_body(char *err, mpmp_ctx_t *ctx, const named_arg_t *a) {
  if (!a->w.want_local)
    return expect_not_here(err, a->name);
  mpmp_shm_t *shm = NULL;
  EXPECT_OK(mpmp_shm_attach(&shm, a->name));
  EXPECT(mpmp_shm_size(shm) == 4 * sizeof(double));
  EXPECT(strcmp(mpmp_shm_name(shm), a->name) == 0);
  const double *data = mpmp_shm_buf(shm);
  printf("Data imported: [%g %g %g %g]\n", data[0], data[1], data[2], data[3]);
  fflush(stdout);
  double *out = mpmp_out(ctx, 4 * sizeof(double));
  EXPECT(out != NULL);
  memcpy(out, data, 4 * sizeof(double));
  EXPECT_OK(mpmp_shm_close(shm));
  return 0;
}

static int read_data(mpmp_ctx_t *ctx) {
  const named_arg_t *a = mpmp_arg(ctx, NULL);
  if (misplaced(ctx, &a->w))
    return 0;
  BODY_CHECK(ctx, read_data_body(err, ctx, a));
  return 0;
}
MPMP_TASK(read_data);

static void shm_tutorial_worker_reads_doubles(void **state) {
  (void)state;
  /* shm = shared_memory.SharedMemory(create=True, size=4 * 8) */
  mpmp_shm_t *shm = NULL;
  OK(mpmp_shm_create(&shm, NULL, 4 * sizeof(double)));
  const char *name = mpmp_shm_name(shm);
  assert_int_equal(strlen(name), 12);
  assert_memory_equal(name, "psm_", 4);
  assert_int_equal(mpmp_shm_size(shm), 4 * sizeof(double));
  double *arr = mpmp_shm_buf(shm);
  const double want[4] = {1.1, 2.2, 3.3, 4.4};
  for (int i = 0; i < 4; i++)
    assert_true(arr[i] == 0.0); /* a new block is zeroed */
  memcpy(arr, want, sizeof want);

  named_arg_t a = {0};
  snprintf(a.name, sizeof a.name, "%s", name);
  parked_t pk = {0};
  mpmp_process_t *p = start_where(read_data, &a, sizeof a, 1, &pk);
  assert_non_null(p); /* one node: every worker; pseudo2: rank 2 */
  join_ok(p);
  const double *got = NULL;
  size_t n = 0;
  OK(mpmp_process_result(p, (const void **)&got, &n));
  assert_int_equal(n, sizeof want);
  assert_memory_equal(got, want, sizeof want);
  OK(mpmp_process_destroy(p));
  if (other_node_exists()) {
    p = start_where(read_data, &a, sizeof a, 0, &pk);
    assert_non_null(p);
    join_destroy(p);
  }
  unpark(&pk);
  /* shm.close(); shm.unlink() */
  OK(mpmp_shm_unlink(shm));
  OK(mpmp_shm_close(shm));
}

/* def prod(x, shm_name, index):
 *     shm = shared_memory.SharedMemory(name=shm_name)
 *     results = np.ndarray((10,), dtype=np.int64, buffer=shm.buf)
 *     square = 0
 *     for i in x: square += i * i
 *     results[index] = square
 *     shm.close() */
static int prod_body(char *err, const named_arg_t *a) {
  mpmp_shm_t *shm = NULL;
  EXPECT_OK(mpmp_shm_attach(&shm, a->name));
  EXPECT(mpmp_shm_size(shm) == 10 * sizeof(int64_t));
  int64_t *results = mpmp_shm_buf(shm);
  int64_t square = 0;
  for (int64_t i = 1; i <= 9; i++)
    square += i * i;
  results[a->index] = square;
  printf("Process %d wrote %" PRId64 " into slot %" PRId64 "\n",
         (int)getpid(), square, a->index);
  fflush(stdout);
  EXPECT_OK(mpmp_shm_close(shm));
  return 0;
}

static int prod(mpmp_ctx_t *ctx) {
  const named_arg_t *a = mpmp_arg(ctx, NULL);
  if (misplaced(ctx, &a->w))
    return 0;
  BODY_CHECK(ctx, prod_body(err, a));
  return 0;
}
MPMP_TASK(prod);

static void shm_tutorial_worker_writes_285_into_slot_0(void **state) {
  (void)state;
  mpmp_shm_t *shm = NULL;
  OK(mpmp_shm_create(&shm, NULL, 10 * sizeof(int64_t)));
  int64_t *results = mpmp_shm_buf(shm);
  results[0] = 0;
  named_arg_t a = {.index = 0};
  snprintf(a.name, sizeof a.name, "%s", mpmp_shm_name(shm));
  parked_t pk = {0};
  mpmp_process_t *p = start_where(prod, &a, sizeof a, 1, &pk);
  assert_non_null(p);
  join_destroy(p);
  unpark(&pk);
  /* print("Final shared memory results:", results[:]) */
  assert_int_equal(results[0], 285);
  for (int i = 1; i < 10; i++)
    assert_int_equal(results[i], 0);
  OK(mpmp_shm_unlink(shm));
  OK(mpmp_shm_close(shm));
}

/* existing_shm = shared_memory.SharedMemory(name=shm_name)
 * arr = np.ndarray(shape, dtype=dtype, buffer=existing_shm.buf)
 * arr *= 2  # Modify in place */
typedef struct {
  where_t w;
  char name[MPMP_SHM_NAME_SIZE];
  size_t n;
} double_arg_t;

static int double_body(char *err, const double_arg_t *a) {
  mpmp_shm_t *shm = NULL;
  EXPECT_OK(mpmp_shm_attach(&shm, a->name));
  EXPECT(mpmp_shm_size(shm) == a->n * sizeof(int64_t));
  int64_t *arr = mpmp_shm_buf(shm);
  for (size_t i = 0; i < a->n; i++)
    arr[i] *= 2;
  EXPECT_OK(mpmp_shm_close(shm));
  return 0;
}

static int double_in_place(mpmp_ctx_t *ctx) {
  const double_arg_t *a = mpmp_arg(ctx, NULL);
  if (misplaced(ctx, &a->w))
    return 0;
  BODY_CHECK(ctx, double_body(err, a));
  return 0;
}
MPMP_TASK(double_in_place);

static void shm_tutorial_worker_doubles_array_in_place(void **state) {
  (void)state;
  const int64_t init[5] = {1, 2, 3, 4, 5};
  mpmp_shm_t *shm = NULL;
  OK(mpmp_shm_create(&shm, "doubled", sizeof init));
  int64_t *arr = mpmp_shm_buf(shm);
  memcpy(arr, init, sizeof init);
  double_arg_t a = {.n = 5};
  snprintf(a.name, sizeof a.name, "doubled");
  parked_t pk = {0};
  mpmp_process_t *p = start_where(double_in_place, &a, sizeof a, 1, &pk);
  assert_non_null(p);
  join_destroy(p);
  unpark(&pk);
  for (int i = 0; i < 5; i++)
    assert_int_equal(arr[i], 2 * init[i]);
  /* a bigger one, page-crossing, twice */
  OK(mpmp_shm_unlink(shm));
  OK(mpmp_shm_close(shm));
  enum { N = 100000 };
  OK(mpmp_shm_create(&shm, "doubled", N * sizeof(int64_t)));
  arr = mpmp_shm_buf(shm);
  for (int i = 0; i < N; i++)
    arr[i] = i - 500;
  a.n = N;
  for (int round = 0; round < 2; round++) {
    p = start_where(double_in_place, &a, sizeof a, 1, &pk);
    assert_non_null(p);
    join_destroy(p);
    unpark(&pk);
  }
  for (int i = 0; i < N; i++)
    if (arr[i] != 4 * (int64_t)(i - 500))
      fail_msg("arr[%d] = %" PRId64 ", expected %" PRId64, i, arr[i],
               4 * (int64_t)(i - 500));
  OK(mpmp_shm_unlink(shm));
  OK(mpmp_shm_close(shm));
}

/* =========================================================================
 * 2. A worker creates, in the middle of its body; lifetimes
 * ========================================================================= */

typedef struct {
  where_t w;
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
  fill_pattern(mpmp_shm_buf(shm), a->size, 5);
  EXPECT_OK(mpmp_event_set(a->made));
  EXPECT_OK(mpmp_event_wait(a->done, T_OUT));
  if (a->check_mark) { /* the main rank wrote a mark in the first byte */
    const unsigned char *b = mpmp_shm_buf(shm);
    EXPECT(b[0] == 0xAB);
    for (size_t i = 1; i < a->size; i++)
      EXPECT(b[i] == pat(5, i));
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
  where_t w;
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

/* This process's fds that are block `name` (the creator keeps one). */
static int memfds_of(const char *name, int *fd) {
  char want[128], path[300], target[256];
  snprintf(want, sizeof want, "/memfd:mpmp-shm:%s (deleted)", name);
  DIR *d = opendir("/proc/self/fd");
  assert_non_null(d);
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.')
      continue;
    snprintf(path, sizeof path, "/proc/self/fd/%s", de->d_name);
    ssize_t len = readlink(path, target, sizeof target - 1);
    if (len <= 0)
      continue;
    target[len] = '\0';
    if (strcmp(target, want) == 0) {
      n++;
      if (fd)
        *fd = atoi(de->d_name);
    }
  }
  closedir(d);
  return n;
}

/* Does this process map block `name`? */
static int mapped(const char *name) {
  char want[128], line[512];
  snprintf(want, sizeof want, "/memfd:mpmp-shm:%s (deleted)", name);
  FILE *f = fopen("/proc/self/maps", "r");
  assert_non_null(f);
  int n = 0;
  while (fgets(line, sizeof line, f))
    n += strstr(line, want) != NULL;
  fclose(f);
  return n;
}

/* Entries under /dev/shm (two levels) whose name contains `sub`. */
static int in_dev_shm(const char *sub) {
  int n = 0;
  DIR *d = opendir("/dev/shm");
  if (d == NULL)
    return 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    n += strstr(de->d_name, sub) != NULL;
    char path[512];
    snprintf(path, sizeof path, "/dev/shm/%s", de->d_name);
    DIR *s = opendir(path);
    if (s == NULL)
      continue;
    struct dirent *e;
    while ((e = readdir(s)) != NULL)
      n += strstr(e->d_name, sub) != NULL;
    closedir(s);
  }
  closedir(d);
  return n;
}

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
  where_t w;
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
    fill_pattern(mpmp_shm_buf(mine), a->size, (unsigned)(me * 10 + round));
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

/* =========================================================================
 * 5. ShareableList
 * ========================================================================= */

/* a = ShareableList(['howdy', b'HoWdY', -273.154, 100, None, True, 42]) */
static void sl_python_docs_example(void **state) {
  (void)state;
  mpmp_sl_item_t yes = mpmp_sl_int(1);
  yes.type = MPMP_UINT8; /* True */
  mpmp_sl_item_t items[] = {mpmp_sl_str("howdy"),
                            mpmp_sl_bytes("HoWdY", 5, 0),
                            mpmp_sl_float(-273.154), mpmp_sl_int(100),
                            mpmp_sl_bytes(NULL, 0, 0), /* None */
                            yes, mpmp_sl_int(42)};
  mpmp_sharelist_t *sl = NULL;
  OK(mpmp_sharelist_create(&sl, NULL, items, 7));
  size_t n = 0;
  OK(mpmp_sharelist_len(sl, &n));
  assert_int_equal(n, 7);
  assert_int_equal(mpmp_sharelist_type(sl, 0), MPMP_SL_BYTES);
  assert_int_equal(mpmp_sharelist_type(sl, 2), MPMP_DOUBLE);
  assert_int_equal(mpmp_sharelist_type(sl, 3), MPMP_INT64);
  assert_int_equal(mpmp_sharelist_type(sl, 5), MPMP_UINT8);
  /* a[2] → -273.154; a[2] = -78.5 */
  double f = 0;
  OK(mpmp_sharelist_get_f64(sl, 2, &f));
  assert_true(f == -273.154);
  OK(mpmp_sharelist_set_f64(sl, 2, -78.5));
  OK(mpmp_sharelist_get_f64(sl, 2, &f));
  assert_true(f == -78.5);
  /* a[0] = 'larger than previously allocated storage space' → error */
  const char *big = "larger than previously allocated storage space";
  RC(mpmp_sharelist_set_bytes(sl, 0, big, strlen(big)), MPMP_EMSGSIZE);
  HAS_MSG("holds 5");
  char buf[64];
  size_t len = 0;
  OK(mpmp_sharelist_get_bytes(sl, 0, buf, sizeof buf, &len));
  assert_int_equal(len, 5);
  assert_memory_equal(buf, "howdy", 5);
  OK(mpmp_sharelist_set_bytes(sl, 0, "hi", 2)); /* shorter: fine */
  OK(mpmp_sharelist_get_bytes(sl, 0, buf, sizeof buf, &len));
  assert_int_equal(len, 2);
  assert_memory_equal(buf, "hi", 2);
  /* a.count(...), a.index(...) */
  size_t count = 9, idx = 9;
  mpmp_sl_item_t v = mpmp_sl_int(42);
  OK(mpmp_sharelist_count(sl, &v, &count));
  assert_int_equal(count, 1);
  v = mpmp_sl_float(42.0); /* 42 == 42.0 */
  OK(mpmp_sharelist_count(sl, &v, &count));
  assert_int_equal(count, 1);
  OK(mpmp_sharelist_index(sl, &v, &idx));
  assert_int_equal(idx, 6);
  v = mpmp_sl_int(1); /* True == 1 */
  OK(mpmp_sharelist_index(sl, &v, &idx));
  assert_int_equal(idx, 5);
  v = mpmp_sl_str("HoWdY");
  OK(mpmp_sharelist_index(sl, &v, &idx));
  assert_int_equal(idx, 1);
  v = mpmp_sl_str("howdy"); /* changed to "hi" above */
  OK(mpmp_sharelist_count(sl, &v, &count));
  assert_int_equal(count, 0);
  RC(mpmp_sharelist_index(sl, &v, &idx), MPMP_EINVAL);
  HAS_MSG("not in the list");
  v = mpmp_sl_str("");
  OK(mpmp_sharelist_index(sl, &v, &idx));
  assert_int_equal(idx, 4);
  v = mpmp_sl_float(-78.5);
  OK(mpmp_sharelist_index(sl, &v, &idx));
  assert_int_equal(idx, 2);
  assert_memory_equal(mpmp_sharelist_name(sl), "psm_", 4);
  assert_non_null(mpmp_sharelist_shm(sl));
  OK(mpmp_sharelist_unlink(sl));
  OK(mpmp_sharelist_close(sl));
}

typedef struct {
  where_t w;
  char name[MPMP_SHM_NAME_SIZE];
} sl_arg_t;

/* Attach by name, check what the main rank put there, change it. */
static int sl_worker_body(char *err, const sl_arg_t *a) {
  mpmp_sharelist_t *sl = NULL;
  if (!a->w.want_local) {
    EXPECT_RC(mpmp_sharelist_attach(&sl, a->name), MPMP_SHM_ENOENT);
    EXPECT_MSG("per node");
    EXPECT_MSG("mpmp_sharelist_attach");
    return 0;
  }
  EXPECT_OK(mpmp_sharelist_attach(&sl, a->name));
  size_t n = 0, len = 0;
  EXPECT_OK(mpmp_sharelist_len(sl, &n));
  EXPECT(n == 4);
  int64_t x = 0;
  double f = 0;
  char buf[16];
  EXPECT_OK(mpmp_sharelist_get_i64(sl, 0, &x));
  EXPECT(x == 9);
  EXPECT_OK(mpmp_sharelist_get_f64(sl, 1, &f));
  EXPECT(f == 0.25);
  EXPECT_OK(mpmp_sharelist_get_bytes(sl, 2, buf, sizeof buf, &len));
  EXPECT(len == 3 && memcmp(buf, "abc", 3) == 0);
  EXPECT_OK(mpmp_sharelist_get_i64(sl, 3, &x));
  EXPECT(x == -7);
  int64_t sum = 0;
  for (int64_t i = 1; i <= 9; i++)
    sum += i * i;
  EXPECT_OK(mpmp_sharelist_set_i64(sl, 0, sum));
  EXPECT_OK(mpmp_sharelist_set_f64(sl, 1, f * 2));
  EXPECT_OK(mpmp_sharelist_set_bytes(sl, 2, "worker!", 7));
  EXPECT_RC(mpmp_sharelist_set_i64(sl, 3, 1 << 20), MPMP_EINVAL);
  EXPECT_OK(mpmp_sharelist_set_i64(sl, 3, INT16_MIN));
  EXPECT_OK(mpmp_sharelist_close(sl));
  return 0;
}

static int sl_worker(mpmp_ctx_t *ctx) {
  const sl_arg_t *a = mpmp_arg(ctx, NULL);
  if (misplaced(ctx, &a->w))
    return 0;
  BODY_CHECK(ctx, sl_worker_body(err, a));
  return 0;
}
MPMP_TASK(sl_worker);

static void sl_worker_attaches_by_name_and_changes_items(void **state) {
  (void)state;
  mpmp_sl_item_t items[] = {mpmp_sl_int(9), mpmp_sl_float(0.25),
                            mpmp_sl_bytes("abc", 3, 10), mpmp_sl_int(-7)};
  items[3].type = MPMP_INT16;
  mpmp_sharelist_t *sl = NULL;
  OK(mpmp_sharelist_create(&sl, "a-list", items, 4));
  sl_arg_t a = {0};
  snprintf(a.name, sizeof a.name, "a-list");
  parked_t pk = {0};
  mpmp_process_t *p = start_where(sl_worker, &a, sizeof a, 1, &pk);
  assert_non_null(p);
  join_destroy(p);
  if (other_node_exists()) {
    p = start_where(sl_worker, &a, sizeof a, 0, &pk);
    assert_non_null(p);
    join_destroy(p);
  }
  unpark(&pk);
  int64_t x = 0;
  double f = 0;
  char buf[16];
  size_t len = 0;
  OK(mpmp_sharelist_get_i64(sl, 0, &x));
  assert_int_equal(x, 285);
  OK(mpmp_sharelist_get_f64(sl, 1, &f));
  assert_true(f == 0.5);
  OK(mpmp_sharelist_get_bytes(sl, 2, buf, sizeof buf, &len));
  assert_int_equal(len, 7);
  assert_memory_equal(buf, "worker!", 7);
  OK(mpmp_sharelist_get_i64(sl, 3, &x));
  assert_int_equal(x, INT16_MIN);
  OK(mpmp_sharelist_unlink(sl));
  OK(mpmp_sharelist_close(sl));
}

static void sl_types_ranges_and_errors(void **state) {
  (void)state;
  mpmp_sharelist_t *sl = NOT_NULL;
  /* creation errors name the item */
  mpmp_sl_item_t bad[2] = {mpmp_sl_int(1), mpmp_sl_int(2)};
  bad[1].type = MPMP_BYTE;
  RC(mpmp_sharelist_create(&sl, "bad", bad, 2), MPMP_EINVAL);
  assert_null(sl);
  HAS_MSG("item 1");
  bad[1] = mpmp_sl_bytes("toolong", 7, 3);
  RC(mpmp_sharelist_create(&sl, "bad", bad, 2), MPMP_EINVAL);
  HAS_MSG("room for only 3");
  bad[1] = mpmp_sl_int(300);
  bad[1].type = MPMP_INT8;
  RC(mpmp_sharelist_create(&sl, "bad", bad, 2), MPMP_EINVAL);
  HAS_MSG("does not fit a int8");
  bad[1] = mpmp_sl_bytes(NULL, 4, 0);
  RC(mpmp_sharelist_create(&sl, "bad", bad, 2), MPMP_EINVAL);
  RC(mpmp_sharelist_create(&sl, "bad", NULL, 2), MPMP_EINVAL);
  RC(mpmp_sharelist_create(NULL, "bad", bad, 1), MPMP_EINVAL);
  mpmp_shm_t *none = NULL;
  RC(mpmp_shm_attach(&none, "bad"), MPMP_SHM_ENOENT); /* nothing was made */

  /* every scalar type at its limits */
  static const struct { int t; int64_t lo, hi; } ints[] = {
      {MPMP_INT8, INT8_MIN, INT8_MAX},     {MPMP_UINT8, 0, UINT8_MAX},
      {MPMP_INT16, INT16_MIN, INT16_MAX},  {MPMP_UINT16, 0, UINT16_MAX},
      {MPMP_INT32, INT32_MIN, INT32_MAX},  {MPMP_UINT32, 0, UINT32_MAX},
      {MPMP_INT64, INT64_MIN, INT64_MAX},  {MPMP_UINT64, 0, -1}};
  enum { NI = 8 };
  mpmp_sl_item_t it[NI + 3];
  for (int i = 0; i < NI; i++) {
    it[i] = mpmp_sl_int(ints[i].lo);
    it[i].type = ints[i].t;
  }
  it[NI] = mpmp_sl_float(1.5);
  it[NI].type = MPMP_FLOAT;
  it[NI + 1] = mpmp_sl_float(-0.0);
  it[NI + 2] = mpmp_sl_bytes("", 0, 8);
  OK(mpmp_sharelist_create(&sl, "typed", it, NI + 3));
  for (int i = 0; i < NI; i++) {
    int64_t x = 1;
    assert_int_equal(mpmp_sharelist_type(sl, (size_t)i), ints[i].t);
    OK(mpmp_sharelist_get_i64(sl, (size_t)i, &x));
    assert_int_equal(x, ints[i].lo);
    OK(mpmp_sharelist_set_i64(sl, (size_t)i, ints[i].hi));
    OK(mpmp_sharelist_get_i64(sl, (size_t)i, &x));
    assert_int_equal(x, ints[i].hi);
    if (ints[i].t != MPMP_INT64 && ints[i].t != MPMP_UINT64) {
      RC(mpmp_sharelist_set_i64(sl, (size_t)i, ints[i].hi + 1), MPMP_EINVAL);
      HAS_MSG("does not fit item");
      RC(mpmp_sharelist_set_i64(sl, (size_t)i, ints[i].lo - 1), MPMP_EINVAL);
      OK(mpmp_sharelist_get_i64(sl, (size_t)i, &x));
      assert_int_equal(x, ints[i].hi); /* unchanged */
    }
  }
  /* uint64 max reads as -1 and equals 2**64 - 1 as a double would not */
  size_t count = 0, idx = 0;
  mpmp_sl_item_t q = mpmp_sl_int(-1);
  q.type = MPMP_UINT64;
  OK(mpmp_sharelist_index(sl, &q, &idx));
  assert_int_equal(idx, 7);
  q = mpmp_sl_int(-1); /* int64 -1 is not 2**64 - 1 */
  OK(mpmp_sharelist_count(sl, &q, &count));
  assert_int_equal(count, 0);
  q = mpmp_sl_int(INT64_MAX);
  OK(mpmp_sharelist_count(sl, &q, &count));
  assert_int_equal(count, 1);
  q = mpmp_sl_float(0.0); /* 0.0 == -0.0 */
  OK(mpmp_sharelist_index(sl, &q, &idx));
  assert_int_equal(idx, NI + 1);
  q = mpmp_sl_float(9223372036854775808.0); /* 2**63: no int64 equals it */
  OK(mpmp_sharelist_count(sl, &q, &count));
  assert_int_equal(count, 0);
  double f = 0;
  OK(mpmp_sharelist_get_f64(sl, NI, &f));
  assert_true(f == 1.5);
  RC(mpmp_sharelist_set_f64(sl, NI, 1e300), MPMP_EINVAL);
  OK(mpmp_sharelist_set_f64(sl, NI, 0.1));
  OK(mpmp_sharelist_get_f64(sl, NI, &f));
  assert_true(f == (double)0.1f);
  /* the wrong getter or setter for the type */
  int64_t x;
  RC(mpmp_sharelist_get_i64(sl, NI, &x), MPMP_EINVAL);
  HAS_MSG("item 8 is a float, not an integer");
  RC(mpmp_sharelist_get_f64(sl, 0, &f), MPMP_EINVAL);
  HAS_MSG("is a int8, not a float or double");
  RC(mpmp_sharelist_set_bytes(sl, 0, "x", 1), MPMP_EINVAL);
  RC(mpmp_sharelist_set_i64(sl, NI + 2, 1), MPMP_EINVAL);
  HAS_MSG("is a byte string");
  /* out of range */
  RC(mpmp_sharelist_get_i64(sl, NI + 3, &x), MPMP_EINVAL);
  HAS_MSG("index 11 out of range (the list has 11 items)");
  assert_true(mpmp_sharelist_type(sl, 100) == MPMP_EINVAL);
  /* byte strings: capacity 8, the buffer too small */
  char buf[8];
  size_t len = 99;
  OK(mpmp_sharelist_get_bytes(sl, NI + 2, buf, 0, &len));
  assert_int_equal(len, 0);
  OK(mpmp_sharelist_set_bytes(sl, NI + 2, "12345678", 8));
  RC(mpmp_sharelist_set_bytes(sl, NI + 2, "123456789", 9), MPMP_EMSGSIZE);
  RC(mpmp_sharelist_get_bytes(sl, NI + 2, buf, 4, &len), MPMP_EMSGSIZE);
  assert_int_equal(len, 8);
  OK(mpmp_sharelist_get_bytes(sl, NI + 2, buf, 8, &len));
  assert_memory_equal(buf, "12345678", 8);
  /* a second view by name sees the same list */
  mpmp_sharelist_t *v = NULL;
  OK(mpmp_sharelist_attach(&v, "typed"));
  OK(mpmp_sharelist_get_i64(v, 7, &x));
  assert_int_equal(x, -1);
  OK(mpmp_sharelist_set_i64(v, 2, 5));
  OK(mpmp_sharelist_get_i64(sl, 2, &x));
  assert_int_equal(x, 5);
  OK(mpmp_sharelist_close(v));
  OK(mpmp_sharelist_unlink(sl));
  OK(mpmp_sharelist_close(sl));

  /* an empty list; a block that is not a list; unknown names */
  OK(mpmp_sharelist_create(&sl, "empty-list", NULL, 0));
  size_t n = 9;
  OK(mpmp_sharelist_len(sl, &n));
  assert_int_equal(n, 0);
  q = mpmp_sl_int(0);
  RC(mpmp_sharelist_index(sl, &q, &idx), MPMP_EINVAL);
  OK(mpmp_sharelist_unlink(sl));
  OK(mpmp_sharelist_close(sl));
  mpmp_shm_t *raw = NULL;
  OK(mpmp_shm_create(&raw, "not-a-list", 256));
  RC(mpmp_sharelist_attach(&sl, "not-a-list"), MPMP_EINVAL);
  assert_null(sl);
  HAS_MSG("'not-a-list' is not a ShareableList");
  assert_int_equal(mapped("not-a-list"), 1); /* the failed view is gone */
  OK(mpmp_shm_unlink(raw));
  OK(mpmp_shm_close(raw));
  RC(mpmp_sharelist_attach(&sl, "never-made"), MPMP_SHM_ENOENT);
  HAS_MSG("mpmp_sharelist_attach: no SharedMemory block named 'never-made'");
  RC(mpmp_sharelist_close(NULL), 0);
  RC(mpmp_sharelist_len(NULL, &n), MPMP_EINVAL);
  RC(mpmp_sharelist_count(NULL, &q, &count), MPMP_EINVAL);
  assert_string_equal(mpmp_sharelist_name(NULL), "");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(shm_tutorial_worker_reads_doubles),
    cmocka_unit_test(shm_tutorial_worker_writes_285_into_slot_0),
    cmocka_unit_test(shm_tutorial_worker_doubles_array_in_place),
    cmocka_unit_test(shm_worker_creates_main_attaches_mid_body),
    cmocka_unit_test(shm_blocks_are_per_node),
    cmocka_unit_test(shm_creator_closes_without_unlink_block_stays),
    cmocka_unit_test(shm_unlink_keeps_existing_mappings),
    cmocka_unit_test(shm_unlink_while_a_worker_maps_it),
    cmocka_unit_test(shm_block_is_a_private_sealed_memfd_not_in_dev_shm),
    cmocka_unit_test(shm_unlinked_elsewhere_creator_releases_its_fd),
    cmocka_unit_test(shm_errors_are_clear),
    cmocka_unit_test(shm_name_table_full_then_reused),
    cmocka_unit_test(shm_fresh_names_are_unique),
    cmocka_unit_test(shm_every_rank_creates_and_attaches_at_once),
    cmocka_unit_test(sl_python_docs_example),
    cmocka_unit_test(sl_worker_attaches_by_name_and_changes_items),
    cmocka_unit_test(sl_types_ranges_and_errors),
};

MPMP_TEST_MAIN(tests)
