/* SharedMemory (mpmp/shm.h) in the tutorials' shared_memory examples: a
 * worker reading [1.1, 2.2, 3.3, 4.4], a worker writing 285 into slot 0 of
 * 10 int64s, a worker doubling an array in place.
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
 * 1. The tutorials' examples
 * ========================================================================= */

typedef struct {
  place_t w;
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
  place_t w;
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

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(shm_tutorial_worker_reads_doubles),
    cmocka_unit_test(shm_tutorial_worker_writes_285_into_slot_0),
    cmocka_unit_test(shm_tutorial_worker_doubles_array_in_place),
};

MPMP_TEST_MAIN(tests)
