/* Shared objects (mpmp/shared.h) in the Python tutorials' shared-state
 * examples: counters under a lock and atomic, Value and Array under a lock,
 * a worker reading or doubling a shared array. The tutorials' figures are
 * kept exact on the main rank's node.
 *
 * Runs with 2..6 ranks on one node and with 4 ranks over 2 pseudo-nodes
 * (ranks 0 and 2 on one node, 1 and 3 on the other), where objects made by
 * the main rank are remote for ranks 1 and 3 and objects made by their
 * bodies are remote for the main rank. Remote operations cost 10-300 us, so
 * loops run fewer rounds where the object is remote (decided by node ids).
 * Checks that run on the main rank and in bodies use mpitest.h's EXPECT. */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shared_common.h"

/* =========================================================================
 * 1. The tutorials' examples
 * ========================================================================= */

typedef struct {
  mpmp_value_t counter;
  int main_node;
  int n_local, n_remote; /* rounds where the counter is / is not on our node */
} incr_args_t;

static int rounds_for(const incr_args_t *a) {
  return mpmp_node_id() == a->main_node ? a->n_local : a->n_remote;
}

/* def increment(counter):
 *     for _ in range(10000):
 *         with counter.get_lock():
 *             counter.value += 1 */
static int locked_increment(mpmp_ctx_t *ctx) {
  const incr_args_t *a = mpmp_arg(ctx, NULL);
  int64_t *done = mpmp_out(ctx, sizeof *done);
  int n = rounds_for(a), rc;
  mpmp_lock_t lock;
  *done = 0;
  if ((rc = mpmp_value_get_lock(a->counter, &lock)) < 0)
    return mpmp_fail(ctx, "get_lock: %s", mpmp_errmsg());
  for (int i = 0; i < n; i++) {
    int32_t v;
    if ((rc = mpmp_lock_acquire(lock, T_OUT)) < 0)
      return mpmp_fail(ctx, "acquire %d: %s", i, mpmp_errmsg());
    if ((rc = mpmp_value_load(a->counter, &v)) < 0)
      return mpmp_fail(ctx, "load: %s", mpmp_errmsg());
    v += 1;
    if ((rc = mpmp_value_store(a->counter, &v)) < 0)
      return mpmp_fail(ctx, "store: %s", mpmp_errmsg());
    if ((rc = mpmp_lock_release(lock)) < 0)
      return mpmp_fail(ctx, "release: %s", mpmp_errmsg());
  }
  *done = n;
  return 0;
}
MPMP_TASK(locked_increment);

/* def increment(counter): for _ in range(100000): counter.value += 1
 * made atomic: mpmp_value_add needs no lock. */
static int atomic_increment(mpmp_ctx_t *ctx) {
  const incr_args_t *a = mpmp_arg(ctx, NULL);
  int64_t *done = mpmp_out(ctx, sizeof *done);
  int n = rounds_for(a);
  *done = 0;
  for (int i = 0; i < n; i++)
    if (mpmp_value_add(a->counter, 1, NULL) < 0)
      return mpmp_fail(ctx, "add %d: %s", i, mpmp_errmsg());
  *done = n;
  return 0;
}
MPMP_TASK(atomic_increment);

/* Shared counter with a lock: 4 processes x 10 000 locked increments read
 * 40 000 (or as many processes as there are workers). */
static void tutorial_locked_counter_reads_40000(void **state) {
  (void)state;
  int w = nworkers(), np = w >= 4 ? 4 : w;
  incr_args_t a = {.main_node = mpmp_node_id(), .n_local = 10000,
                   .n_remote = 2000};
  incr_args_t args[MAXW];
  group_t g;
  int64_t expect = 0;
  assert_int_equal(mpmp_value_create(&a.counter, mpmp_typecode('i'), NULL, 1),
                   0);
  for (int i = 0; i < np; i++)
    args[i] = a;
  group_start(&g, np, locked_increment, args, sizeof args[0]);
  group_join(&g);
  for (int i = 0; i < np; i++)
    expect += *(const int64_t *)group_result(&g, i, sizeof(int64_t));
  group_destroy(&g);
  int32_t v = -1;
  assert_int_equal(mpmp_value_load(a.counter, &v), 0);
  assert_int_equal(v, expect);
  if (mpmp_node_count() == 1)
    assert_int_equal(v, np * 10000);
  if (mpmp_node_count() == 1 && np == 4)
    assert_int_equal(v, 40000); /* print(counter.value)  # 40000 */
  assert_int_equal(mpmp_value_free(a.counter), 0);
}

/* Two processes x 100 000 increments without a lock: exact with
 * mpmp_value_add. With a single worker, the main rank is the second. */
static void tutorial_two_processes_add_100000(void **state) {
  (void)state;
  int np = nworkers() >= 2 ? 2 : 1;
  incr_args_t args[2];
  group_t g;
  int64_t expect = 0;
  args[0].main_node = mpmp_node_id();
  args[0].n_local = 100000;
  args[0].n_remote = 2000;
  assert_int_equal(mpmp_value_create(&args[0].counter, MPMP_INT32, NULL, 1), 0);
  args[1] = args[0];
  group_start(&g, np, atomic_increment, args, sizeof args[0]);
  if (np == 1) { /* the main rank is process 2, at the same time */
    for (int i = 0; i < 100000; i++)
      assert_int_equal(mpmp_value_add(args[0].counter, 1, NULL), 0);
    expect += 100000;
  }
  group_join(&g);
  for (int i = 0; i < np; i++)
    expect += *(const int64_t *)group_result(&g, i, sizeof(int64_t));
  group_destroy(&g);
  assert_int_equal(get64(args[0].counter), expect);
  if (mpmp_node_count() == 1)
    assert_int_equal(get64(args[0].counter), 200000);
  assert_int_equal(mpmp_value_free(args[0].counter), 0);
}

/* shared_memory_worker(shared_value, shared_array, lock) of the tutorial:
 * 5 times, under a Lock: value += 1 and every element += 1; plus the other
 * tutorial's Array('d', [0.0, 1.0, 2.0]) under its own get_lock(), and an
 * Array('i', 256) that every process increments element-wise (atomic). */
typedef struct {
  mpmp_value_t counter;
  mpmp_array_t arr, darr, big;
  mpmp_lock_t lock;
  int rounds;
} shm_args_t;

static int shm_worker(char *err, const shm_args_t *a) {
  size_t n = 0, nd = 0, nb = 0;
  mpmp_lock_t dlock;
  EXPECT_OK(mpmp_array_len(a->arr, &n));
  EXPECT_OK(mpmp_array_len(a->darr, &nd));
  EXPECT_OK(mpmp_array_len(a->big, &nb));
  for (int r = 0; r < a->rounds; r++) {
    int32_t v;
    EXPECT_OK(mpmp_lock_acquire(a->lock, T_OUT)); /* with lock: */
    EXPECT_OK(mpmp_value_load(a->counter, &v));
    v += 1;
    EXPECT_OK(mpmp_value_store(a->counter, &v));
    for (size_t i = 0; i < n; i++) {
      int32_t x;
      EXPECT_OK(mpmp_array_get(a->arr, i, &x));
      x += 1;
      EXPECT_OK(mpmp_array_set(a->arr, i, &x));
    }
    EXPECT_OK(mpmp_lock_release(a->lock));
  }
  EXPECT_OK(mpmp_array_get_lock(a->darr, &dlock));
  EXPECT_OK(mpmp_lock_acquire(dlock, T_OUT));
  for (size_t i = 0; i < nd; i++) {
    double x;
    EXPECT_OK(mpmp_array_get(a->darr, i, &x));
    x += 1.0;
    EXPECT_OK(mpmp_array_set(a->darr, i, &x));
  }
  EXPECT_OK(mpmp_lock_release(dlock));
  for (size_t i = 0; i < nb; i++)
    EXPECT_OK(mpmp_array_add(a->big, i, 1, NULL));
  return 0;
}

static int shm_worker_body(mpmp_ctx_t *ctx) {
  BODY_CHECK(ctx, shm_worker(err, mpmp_arg(ctx, NULL)));
  return 0;
}
MPMP_TASK(shm_worker_body);

static void tutorial_shared_value_and_arrays_under_lock(void **state) {
  (void)state;
  int np = nworkers() >= 4 ? 4 : nworkers();
  shm_args_t a = {.rounds = 5}, args[MAXW];
  int32_t init[4] = {10, 20, 30, 40}, got[4], big[256];
  double dinit[3] = {0.0, 1.0, 2.0}, dgot[3];
  group_t g;
  assert_int_equal(mpmp_lock_create(&a.lock), 0);
  assert_int_equal(mpmp_value_create(&a.counter, MPMP_INT32, NULL, 1), 0);
  assert_int_equal(mpmp_array_create(&a.arr, mpmp_typecode('i'), 4, init, 1), 0);
  assert_int_equal(mpmp_array_create(&a.darr, mpmp_typecode('d'), 3, dinit, 1), 0);
  assert_int_equal(mpmp_array_create(&a.big, MPMP_INT32, 256, NULL, 1), 0);
  for (int i = 0; i < np; i++)
    args[i] = a;
  group_start(&g, np, shm_worker_body, args, sizeof a);
  group_join(&g);
  group_destroy(&g);
  assert_int_equal(get64(a.counter), 5 * np);
  assert_int_equal(mpmp_array_read(a.arr, 0, 4, got), 0);
  for (int i = 0; i < 4; i++)
    assert_int_equal(got[i], init[i] + 5 * np);
  assert_int_equal(mpmp_array_read(a.darr, 0, 3, dgot), 0);
  for (int i = 0; i < 3; i++) /* [4.0, 5.0, 6.0] with 4 processes */
    assert_true(dgot[i] == dinit[i] + np);
  assert_int_equal(mpmp_array_read(a.big, 0, 256, big), 0);
  for (int i = 0; i < 256; i++)
    assert_int_equal(big[i], np);
  assert_int_equal(mpmp_value_free(a.counter), 0);
  assert_int_equal(mpmp_array_free(a.arr), 0);
  assert_int_equal(mpmp_array_free(a.darr), 0);
  assert_int_equal(mpmp_array_free(a.big), 0);
  assert_int_equal(mpmp_lock_free(a.lock), 0);
}

/* def add_one(num): num.value += 1;  num = Value('i', 10) -> 11 */
static int add_one(mpmp_ctx_t *ctx) {
  const mpmp_value_t *num = mpmp_arg(ctx, NULL);
  int32_t v;
  if (mpmp_value_load(*num, &v) < 0)
    return mpmp_fail(ctx, "load: %s", mpmp_errmsg());
  v += 1;
  if (mpmp_value_store(*num, &v) < 0)
    return mpmp_fail(ctx, "store: %s", mpmp_errmsg());
  return 0;
}
MPMP_TASK(add_one);

static void tutorial_value_10_plus_one_is_11(void **state) {
  (void)state;
  int32_t ten = 10, v = 0;
  mpmp_value_t num, nums[MAXW];
  group_t g;
  assert_int_equal(mpmp_value_create(&num, MPMP_INT32, &ten, 1), 0);
  run_one(add_one, &num, sizeof num);
  assert_int_equal(mpmp_value_load(num, &v), 0);
  assert_int_equal(v, 11);
  assert_int_equal(mpmp_value_free(num), 0);
  /* the same on every worker at once, each with its own Value */
  for (int i = 0; i < nworkers(); i++)
    assert_int_equal(mpmp_value_create(&nums[i], MPMP_INT32, &ten, 1), 0);
  group_start(&g, nworkers(), add_one, nums, sizeof nums[0]);
  group_join(&g);
  group_destroy(&g);
  for (int i = 0; i < nworkers(); i++) {
    assert_int_equal(get64(nums[i]), 11);
    assert_int_equal(mpmp_value_free(nums[i]), 0);
  }
}

/* read_data(): a worker reads the shared float64 array [1.1, 2.2, 3.3, 4.4]
 * that the main rank wrote, and hands back what it read and the sum. */
typedef struct {
  double data[4];
  double sum;
} read_back_t;

static int read_data(mpmp_ctx_t *ctx) {
  const mpmp_array_t *arr = mpmp_arg(ctx, NULL);
  read_back_t *r = mpmp_out(ctx, sizeof *r);
  size_t n = 0;
  memset(r, 0, sizeof *r);
  if (mpmp_array_len(*arr, &n) < 0 || n != 4)
    return mpmp_fail(ctx, "len %zu: %s", n, mpmp_errmsg());
  if (mpmp_array_read(*arr, 0, 4, r->data) < 0)
    return mpmp_fail(ctx, "read: %s", mpmp_errmsg());
  r->sum = r->data[0] + r->data[1] + r->data[2] + r->data[3];
  return 0;
}
MPMP_TASK(read_data);

static void tutorial_worker_reads_shared_doubles(void **state) {
  (void)state;
  double init[4] = {1.1, 2.2, 3.3, 4.4};
  mpmp_array_t arr, args[MAXW];
  group_t g;
  assert_int_equal(mpmp_array_create(&arr, mpmp_typecode('d'), 4, NULL, 0), 0);
  assert_int_equal(mpmp_array_write(arr, 0, 4, init), 0); /* arr[:] = [...] */
  for (int i = 0; i < nworkers(); i++)
    args[i] = arr;
  group_start(&g, nworkers(), read_data, args, sizeof arr);
  group_join(&g);
  for (int i = 0; i < g.n; i++) {
    const read_back_t *r = group_result(&g, i, sizeof *r);
    assert_memory_equal(r->data, init, sizeof init);
    assert_true(r->sum == init[0] + init[1] + init[2] + init[3]);
  }
  group_destroy(&g);
  assert_int_equal(mpmp_array_free(arr), 0);
}

/* A worker doubles an Array in place; and prod() of the tutorial writes the
 * sum of squares of 1..9 into results[index]. */
typedef struct {
  mpmp_array_t arr;     /* Array('i', range(10)): doubled in place */
  mpmp_array_t results; /* Array('q', 10) of zeros */
  int index;
} double_args_t;

static int double_in_place(mpmp_ctx_t *ctx) {
  const double_args_t *a = mpmp_arg(ctx, NULL);
  int32_t buf[10];
  size_t n = 0;
  int64_t square = 0;
  if (mpmp_array_len(a->arr, &n) < 0 || n != 10)
    return mpmp_fail(ctx, "len: %s", mpmp_errmsg());
  if (mpmp_array_read(a->arr, 0, n, buf) < 0)
    return mpmp_fail(ctx, "read: %s", mpmp_errmsg());
  for (size_t i = 0; i < n; i++)
    buf[i] *= 2;
  if (mpmp_array_write(a->arr, 0, n, buf) < 0)
    return mpmp_fail(ctx, "write: %s", mpmp_errmsg());
  for (int64_t i = 1; i <= 9; i++)
    square += i * i;
  if (mpmp_array_set(a->results, (size_t)a->index, &square) < 0)
    return mpmp_fail(ctx, "set: %s", mpmp_errmsg());
  return 0;
}
MPMP_TASK(double_in_place);

static void tutorial_worker_doubles_array_in_place(void **state) {
  (void)state;
  int w = nworkers();
  double_args_t args[MAXW];
  mpmp_array_t results;
  int32_t init[10], got[10];
  int64_t res[10];
  group_t g;
  for (int i = 0; i < 10; i++)
    init[i] = i;
  assert_int_equal(mpmp_array_create(&results, MPMP_INT64, 10, NULL, 1), 0);
  for (int i = 0; i < w; i++) {
    assert_int_equal(mpmp_array_create(&args[i].arr, MPMP_INT32, 10, init, 1), 0);
    args[i].results = results;
    args[i].index = i;
  }
  group_start(&g, w, double_in_place, args, sizeof args[0]);
  group_join(&g);
  group_destroy(&g);
  for (int i = 0; i < w; i++) {
    assert_int_equal(mpmp_array_read(args[i].arr, 0, 10, got), 0);
    for (int k = 0; k < 10; k++)
      assert_int_equal(got[k], 2 * k);
    assert_int_equal(mpmp_array_free(args[i].arr), 0);
  }
  assert_int_equal(mpmp_array_read(results, 0, 10, res), 0);
  for (int k = 0; k < 10; k++) /* Final shared memory results: [285 ...] */
    assert_int_equal(res[k], k < w ? 285 : 0);
  assert_int_equal(mpmp_array_free(results), 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(tutorial_locked_counter_reads_40000),
    cmocka_unit_test(tutorial_two_processes_add_100000),
    cmocka_unit_test(tutorial_shared_value_and_arrays_under_lock),
    cmocka_unit_test(tutorial_value_10_plus_one_is_11),
    cmocka_unit_test(tutorial_worker_reads_shared_doubles),
    cmocka_unit_test(tutorial_worker_doubles_array_in_place),
};

MPMP_TEST_MAIN(tests)
