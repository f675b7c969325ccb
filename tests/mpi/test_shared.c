/* Shared objects (mpmp/shared.h): Value, Array, RawValue, RawArray and the
 * node heap, from a user's point of view: the Python tutorials' shared-state
 * examples, objects made on every node and used from every rank, every
 * element type, every error, garbage handles, heap accounting, and many
 * ranks on the same objects at once.
 *
 * Runs with 2..6 ranks on one node and with 4 ranks over 2 pseudo-nodes
 * (ranks 0 and 2 on one node, 1 and 3 on the other), where objects made by
 * the main rank are remote for ranks 1 and 3 and objects made by their
 * bodies are remote for the main rank. Remote operations cost 10-300 us, so
 * loops run fewer rounds where the object is remote (decided by node ids);
 * the tutorials' figures are kept exact on the main rank's node.
 *
 * Checks that must run both on the main rank and inside process bodies are
 * written once, as functions that return -1 with a message in `err`
 * (EXPECT below); the main rank turns that into a CMocka failure
 * (MAIN_CHECK), a body into mpmp_fail (BODY_CHECK). */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mpitest.h"

#define T_OUT 30.0 /* the limit of every blocking call and join */
#define ERRLEN 700
#define MAXW 16 /* the most worker ranks these tests use */

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

/* On the main rank, inside a CMocka test. */
#define MAIN_CHECK(expr)                                                   \
  do {                                                                     \
    char err[ERRLEN] = "";                                                 \
    if ((expr) < 0)                                                        \
      fail_msg("%s", err);                                                 \
  } while (0)
/* Inside a process body. */
#define BODY_CHECK(ctx, expr)                                              \
  do {                                                                     \
    char err[ERRLEN] = "";                                                 \
    if ((expr) < 0)                                                        \
      return mpmp_fail((ctx), "%s", err);                                  \
  } while (0)

/* A small seeded generator (splitmix64): the same run every time. */
static uint64_t rnd(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static void pattern(void *buf, size_t nbytes, unsigned seed) {
  unsigned char *b = buf;
  for (size_t i = 0; i < nbytes; i++)
    b[i] = (unsigned char)(seed * 131u + i * 29u + 7u);
}

/* ---- the element types, as a user knows them ------------------------------ */

typedef struct {
  mpmp_type_t t;
  char code;
  size_t size;
  int is_int, is_signed;
  const char *name;
} tinfo_t;

static const tinfo_t TYPES[] = {
    {MPMP_INT8, 'b', 1, 1, 1, "int8"},     {MPMP_UINT8, 'B', 1, 1, 0, "uint8"},
    {MPMP_INT16, 'h', 2, 1, 1, "int16"},   {MPMP_UINT16, 'H', 2, 1, 0, "uint16"},
    {MPMP_INT32, 'i', 4, 1, 1, "int32"},   {MPMP_UINT32, 'I', 4, 1, 0, "uint32"},
    {MPMP_INT64, 'q', 8, 1, 1, "int64"},   {MPMP_UINT64, 'Q', 8, 1, 0, "uint64"},
    {MPMP_FLOAT, 'f', 4, 0, 0, "float"},   {MPMP_DOUBLE, 'd', 8, 0, 0, "double"},
    {MPMP_BYTE, 'c', 1, 0, 0, "byte"},
};
#define NT ((int)(sizeof TYPES / sizeof TYPES[0]))

/* The largest and smallest value of an integer type, as the 64-bit value
 * mpmp reports (sign- or zero-extended; uint64's max reads as -1). */
static int64_t tmax(const tinfo_t *ti) {
  unsigned bits = (unsigned)ti->size * 8u;
  if (bits == 64)
    return ti->is_signed ? INT64_MAX : -1;
  return ti->is_signed ? (int64_t)((1ULL << (bits - 1)) - 1)
                       : (int64_t)((1ULL << bits) - 1);
}

static int64_t tmin(const tinfo_t *ti) {
  unsigned bits = (unsigned)ti->size * 8u;
  if (!ti->is_signed)
    return 0;
  return bits == 64 ? INT64_MIN : -(int64_t)(1ULL << (bits - 1));
}

/* ---- process helpers (main rank) -------------------------------------------- */

typedef struct {
  int n;
  mpmp_process_t *p[MAXW];
} group_t;

static int nworkers(void) {
  int w = mpmp_worker_count();
  return w > MAXW ? MAXW : w;
}

/* Start n bodies of fn; body i gets args + i * size. */
static void group_start(group_t *g, int n, mpmp_task_fn fn, const void *args,
                        size_t size) {
  assert_true(n >= 1 && n <= MAXW);
  g->n = 0;
  for (int i = 0; i < n; i++) {
    mpmp_process_t *p = NULL;
    const void *arg = args ? (const char *)args + (size_t)i * size : NULL;
    int rc = mpmp_process_create(&p, fn, arg, size, NULL);
    if (rc != 0)
      fail_msg("create: %s: %s", mpmp_err_name(rc), mpmp_errmsg());
    if ((rc = mpmp_process_start(p)) != 0)
      fail_msg("start: %s: %s", mpmp_err_name(rc), mpmp_errmsg());
    g->p[g->n++] = p;
  }
}

/* Join every body (T_OUT each); -1 with the first failure in `first`. */
static int group_join_quiet(group_t *g, char *first) {
  first[0] = '\0';
  for (int i = 0; i < g->n; i++) {
    int code = -999, rc = mpmp_process_join(g->p[i], T_OUT);
    if (rc == 0)
      rc = mpmp_process_exitcode(g->p[i], &code);
    if ((rc != 0 || code != 0) && first[0] == '\0')
      snprintf(first, ERRLEN, "%s on rank %d: join %s, exit code %d: %s",
               mpmp_process_name(g->p[i]), mpmp_process_rank(g->p[i]),
               mpmp_err_name(rc), code,
               rc == 0 ? mpmp_process_errmsg(g->p[i]) : mpmp_errmsg());
  }
  return first[0] ? -1 : 0;
}

/* Join every body, then fail with the first one that failed. */
static void group_join(group_t *g) {
  char first[ERRLEN];
  if (group_join_quiet(g, first) < 0)
    fail_msg("%s", first);
}

static const void *group_result(group_t *g, int i, size_t size) {
  const void *data = NULL;
  size_t got = 0;
  assert_int_equal(mpmp_process_result(g->p[i], &data, &got), 0);
  assert_int_equal(got, size);
  return data;
}

static void group_destroy(group_t *g) {
  for (int i = 0; i < g->n; i++)
    assert_int_equal(mpmp_process_destroy(g->p[i]), 0);
  g->n = 0;
}

/* Run one body of fn and join it. */
static void run_one(mpmp_task_fn fn, const void *arg, size_t size) {
  group_t g;
  group_start(&g, 1, fn, arg, size);
  group_join(&g);
  group_destroy(&g);
}

static int64_t get64(mpmp_value_t v) {
  int64_t x = INT64_MIN;
  int rc = mpmp_value_get_i64(v, &x);
  if (rc != 0)
    fail_msg("get_i64: %s: %s", mpmp_err_name(rc), mpmp_errmsg());
  return x;
}

static void heap_now(mpmp_heap_info_t *h) {
  memset(h, 0, sizeof *h);
  assert_int_equal(mpmp_heap_info(h), 0);
}

static void assert_heap_same(const mpmp_heap_info_t *a,
                             const mpmp_heap_info_t *b) {
  if (a->total != b->total || a->in_use != b->in_use ||
      a->objects != b->objects || a->largest_free != b->largest_free)
    fail_msg("heap differs: before total %zu in_use %zu objects %zu largest "
             "%zu; after total %zu in_use %zu objects %zu largest %zu",
             a->total, a->in_use, a->objects, a->largest_free, b->total,
             b->in_use, b->objects, b->largest_free);
}

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

/* =========================================================================
 * 2. Every element type (the checks run on any rank, on objects of any node)
 * ========================================================================= */

static void types_typecodes_sizes_and_names(void **state) {
  (void)state;
  for (int k = 0; k < NT; k++) {
    assert_int_equal(mpmp_typecode(TYPES[k].code), TYPES[k].t);
    assert_int_equal(mpmp_type_size(TYPES[k].t), TYPES[k].size);
    assert_string_equal(mpmp_type_name(TYPES[k].t), TYPES[k].name);
  }
  assert_int_equal(mpmp_typecode('i'), MPMP_INT32);
  assert_int_equal(mpmp_typecode('d'), MPMP_DOUBLE);
  assert_int_equal(mpmp_typecode('q'), MPMP_INT64);
  assert_int_equal(mpmp_typecode('c'), MPMP_BYTE);
  assert_int_equal(mpmp_typecode('l'), sizeof(long) == 8 ? MPMP_INT64 : MPMP_INT32);
  assert_int_equal(mpmp_typecode('L'), sizeof(long) == 8 ? MPMP_UINT64 : MPMP_UINT32);
  assert_int_equal(mpmp_typecode('z'), 0);
  assert_int_equal(mpmp_typecode('u'), 0); /* no wchar_t */
  assert_int_equal(mpmp_typecode('\0'), 0);
  assert_int_equal(mpmp_typecode('I' + 1), 0);
  assert_int_equal(mpmp_type_size((mpmp_type_t)0), 0);
  assert_int_equal(mpmp_type_size((mpmp_type_t)99), 0);
  assert_int_equal(mpmp_type_size((mpmp_type_t)-1), 0);
  assert_string_equal(mpmp_type_name((mpmp_type_t)0), "?");
  assert_string_equal(mpmp_type_name((mpmp_type_t)12), "?");
}

/* add / exchange / cas of an integer Value and of element 5 of an Array. */
static int check_int_value_ops(char *err, const tinfo_t *ti, mpmp_value_t v) {
  int64_t mx = tmax(ti), mn = tmin(ti), old = 0, x = 0, e;
  unsigned bits = (unsigned)ti->size * 8u;
  EXPECT_OK(mpmp_value_set_i64(v, mx));
  EXPECT_OK(mpmp_value_get_i64(v, &x));
  EXPECT(x == mx);
  EXPECT_OK(mpmp_value_add(v, 1, &old)); /* wraps at the type's width */
  EXPECT(old == mx);
  EXPECT_OK(mpmp_value_get_i64(v, &x));
  EXPECT(x == mn);
  EXPECT_OK(mpmp_value_add(v, -1, &old));
  EXPECT(old == mn);
  EXPECT_OK(mpmp_value_get_i64(v, &x));
  EXPECT(x == mx);
  if (ti->t == MPMP_INT8) { /* 127 + 1 == -128 */
    int8_t b = 127, r = 0;
    EXPECT_OK(mpmp_value_store(v, &b));
    EXPECT_OK(mpmp_value_add(v, 1, &old));
    EXPECT(old == 127);
    EXPECT_OK(mpmp_value_load(v, &r));
    EXPECT(r == -128);
    EXPECT_OK(mpmp_value_add(v, 0, &old));
    EXPECT(old == -128); /* sign-extended */
  }
  if (ti->t == MPMP_UINT8) { /* 255 + 1 == 0, old 255 (not -1) */
    uint8_t b = 255, r = 1;
    EXPECT_OK(mpmp_value_store(v, &b));
    EXPECT_OK(mpmp_value_add(v, 1, &old));
    EXPECT(old == 255);
    EXPECT_OK(mpmp_value_load(v, &r));
    EXPECT(r == 0);
    EXPECT_OK(mpmp_value_add(v, -1, &old));
    EXPECT(old == 0);
    EXPECT_OK(mpmp_value_load(v, &r));
    EXPECT(r == 255);
  }
  if (bits < 64) { /* a delta past the width wraps too */
    EXPECT_OK(mpmp_value_set_i64(v, 5));
    EXPECT_OK(mpmp_value_add(v, (int64_t)(1ULL << bits) + 3, &old));
    EXPECT(old == 5);
    EXPECT_OK(mpmp_value_get_i64(v, &x));
    EXPECT(x == 8);
  }
  EXPECT_OK(mpmp_value_add(v, 1, NULL)); /* old may be NULL */
  /* exchange */
  EXPECT_OK(mpmp_value_set_i64(v, mx));
  old = 0;
  EXPECT_OK(mpmp_value_exchange(v, mn, &old));
  EXPECT(old == mx);
  EXPECT_OK(mpmp_value_get_i64(v, &x));
  EXPECT(x == mn);
  EXPECT_OK(mpmp_value_exchange(v, 7, NULL));
  EXPECT_OK(mpmp_value_get_i64(v, &x));
  EXPECT(x == 7);
  /* cas: failure reports the current value, success swaps */
  EXPECT_OK(mpmp_value_set_i64(v, mn + 1));
  e = 99;
  EXPECT_RC(mpmp_value_cas(v, &e, mx), 0);
  EXPECT(e == mn + 1);
  EXPECT_OK(mpmp_value_get_i64(v, &x));
  EXPECT(x == mn + 1);
  EXPECT_RC(mpmp_value_cas(v, &e, mx), 1);
  EXPECT(e == mn + 1);
  EXPECT_OK(mpmp_value_get_i64(v, &x));
  EXPECT(x == mx);
  /* all ones: -1 for signed types, the type's max for unsigned ones */
  EXPECT_OK(mpmp_value_set_i64(v, -1));
  e = 0;
  EXPECT_RC(mpmp_value_cas(v, &e, 0), 0);
  EXPECT(e == (ti->is_signed ? -1 : mx));
  EXPECT_RC(mpmp_value_cas(v, &e, 0), 1);
  EXPECT_OK(mpmp_value_get_i64(v, &x));
  EXPECT(x == 0);
  return 0;
}

static int check_int_array_ops(char *err, const tinfo_t *ti, mpmp_array_t a) {
  int64_t mx = tmax(ti), mn = tmin(ti), old = 0, e;
  unsigned char before[8 * 8], after[8 * 8], el[8];
  size_t es = ti->size;
  EXPECT_OK(mpmp_array_read(a, 0, 8, before));
  EXPECT_OK(mpmp_array_exchange(a, 5, mx, &old)); /* whatever was there */
  EXPECT_OK(mpmp_array_add(a, 5, 1, &old));
  EXPECT(old == mx);
  EXPECT_OK(mpmp_array_add(a, 5, 0, &old));
  EXPECT(old == mn);
  EXPECT_OK(mpmp_array_add(a, 5, -1, &old));
  EXPECT(old == mn);
  EXPECT_OK(mpmp_array_exchange(a, 5, mn + 1, &old));
  EXPECT(old == mx);
  e = 42;
  EXPECT_RC(mpmp_array_cas(a, 5, &e, 3), 0);
  EXPECT(e == mn + 1);
  EXPECT_RC(mpmp_array_cas(a, 5, &e, 3), 1);
  EXPECT_OK(mpmp_array_get(a, 5, el));
  memset(el + es, 0, 8 - es);
  int64_t three = 0;
  memcpy(&three, el, es); /* little-endian: the low bytes */
  EXPECT(three == 3);
  /* the neighbours were not touched */
  EXPECT_OK(mpmp_array_read(a, 0, 8, after));
  EXPECT(memcmp(before, after, 5 * es) == 0);
  EXPECT(memcmp(before + 6 * es, after + 6 * es, 2 * es) == 0);
  return 0;
}

/* Typed shortcuts: the value converted to and from int64_t / double. */
/* A NaN, an infinity or a double past the 64-bit range has no integer:
 * converting it is undefined in C (it stored and returned garbage), so
 * set_f64 on an integer Value and get_i64 of such a float Value are
 * MPMP_EINVAL, and the Value stays as it was. */
static int check_no_integer(char *err, const tinfo_t *ti, mpmp_value_t v) {
  const double none[] = {NAN, -NAN, INFINITY, -INFINITY, 1e300, -1e300,
                         1e19, 18446744073709551616.0,
                         -9223372036854777856.0};
  int64_t x = 0;
  double d = 0;
  if (ti->t == MPMP_FLOAT || ti->t == MPMP_DOUBLE) {
    /* the last is -2^63 once rounded to a float: an integer after all */
    for (size_t k = 0; k < sizeof none / sizeof none[0] - 1; k++) {
      EXPECT_OK(mpmp_value_set_f64(v, none[k])); /* a float holds them */
      x = 77;
      EXPECT_RC(mpmp_value_get_i64(v, &x), MPMP_EINVAL);
      EXPECT_MSG("64-bit range");
      EXPECT(x == 77);
      EXPECT_OK(mpmp_value_get_f64(v, &d));
      EXPECT(isnan(none[k]) ? isnan(d)
                            : d == (ti->t == MPMP_DOUBLE ? none[k]
                                                         : (float)none[k]));
    }
    return 0;
  }
  EXPECT_OK(mpmp_value_set_i64(v, 5));
  for (size_t k = 0; k < sizeof none / sizeof none[0]; k++) {
    if (none[k] == 1e19)
      continue; /* a uint64 has it: below */
    EXPECT_RC(mpmp_value_set_f64(v, none[k]), MPMP_EINVAL);
    EXPECT_MSG("64-bit range");
    EXPECT_OK(mpmp_value_get_i64(v, &x));
    EXPECT(x == 5);
  }
  if (ti->t == MPMP_UINT64) { /* past int64, within uint64 */
    EXPECT_OK(mpmp_value_set_f64(v, 1e19));
    EXPECT_OK(mpmp_value_get_f64(v, &d));
    EXPECT(d == 1e19);
    EXPECT_RC(mpmp_value_set_f64(v, -1.0), MPMP_EINVAL);
  } else if (ti->size == 8) {
    EXPECT_RC(mpmp_value_set_f64(v, 1e19), MPMP_EINVAL);
  }
  return 0;
}

static int check_shortcuts(char *err, const tinfo_t *ti, mpmp_value_t v) {
  int64_t x = 0;
  double d = 0;
  unsigned bits = (unsigned)ti->size * 8u;
  if (ti->is_int) {
    EXPECT_OK(mpmp_value_set_i64(v, -2));
    EXPECT_OK(mpmp_value_get_i64(v, &x));
    EXPECT(x == (ti->is_signed || bits == 64 ? -2
                                             : (int64_t)((1ULL << bits) - 2)));
    EXPECT_OK(mpmp_value_get_f64(v, &d));
    if (ti->is_signed)
      EXPECT(d == -2.0);
    else if (bits == 64)
      EXPECT(d == (double)(UINT64_MAX - 1));
    else
      EXPECT(d == (double)((1ULL << bits) - 2));
    EXPECT_OK(mpmp_value_set_f64(v, 3.9)); /* truncated, as C converts */
    EXPECT_OK(mpmp_value_get_i64(v, &x));
    EXPECT(x == 3);
    if (ti->is_signed) {
      EXPECT_OK(mpmp_value_set_f64(v, -3.9));
      EXPECT_OK(mpmp_value_get_i64(v, &x));
      EXPECT(x == -3);
    }
    if (bits == 8) { /* 300 keeps its low 8 bits: 44 */
      EXPECT_OK(mpmp_value_set_i64(v, 300));
      EXPECT_OK(mpmp_value_get_i64(v, &x));
      EXPECT(x == 44);
    }
  } else if (ti->t == MPMP_FLOAT) {
    float f = 0;
    EXPECT_OK(mpmp_value_set_f64(v, 0.1));
    EXPECT_OK(mpmp_value_get_f64(v, &d));
    EXPECT(d == (double)0.1f);
    EXPECT_OK(mpmp_value_set_f64(v, -2.75));
    EXPECT_OK(mpmp_value_get_i64(v, &x));
    EXPECT(x == -2);
    EXPECT_OK(mpmp_value_set_i64(v, 7));
    EXPECT_OK(mpmp_value_load(v, &f));
    EXPECT(f == 7.0f);
    EXPECT_OK(mpmp_value_get_f64(v, &d));
    EXPECT(d == 7.0);
  } else if (ti->t == MPMP_DOUBLE) {
    double g = 0;
    EXPECT_OK(mpmp_value_set_f64(v, 2.5));
    EXPECT_OK(mpmp_value_get_f64(v, &d));
    EXPECT(d == 2.5);
    EXPECT_OK(mpmp_value_get_i64(v, &x));
    EXPECT(x == 2);
    EXPECT_OK(mpmp_value_set_i64(v, -9));
    EXPECT_OK(mpmp_value_load(v, &g));
    EXPECT(g == -9.0);
    EXPECT_OK(mpmp_value_get_f64(v, &d));
    EXPECT(d == -9.0);
  } else { /* MPMP_BYTE: a raw byte, 0..255 */
    unsigned char c = 0;
    EXPECT_OK(mpmp_value_set_i64(v, 'A'));
    EXPECT_OK(mpmp_value_load(v, &c));
    EXPECT(c == 'A');
    EXPECT_OK(mpmp_value_get_i64(v, &x));
    EXPECT(x == 65);
    EXPECT_OK(mpmp_value_set_i64(v, 0x1C8));
    EXPECT_OK(mpmp_value_get_i64(v, &x));
    EXPECT(x == 200);
    EXPECT_OK(mpmp_value_get_f64(v, &d));
    EXPECT(d == 200.0);
  }
  return check_no_integer(err, ti, v);
}

static int check_lock_of(char *err, int rc_get, mpmp_lock_t lk, int locked) {
  if (!locked) {
    EXPECT_RC(rc_get, MPMP_ENOTSUP);
    EXPECT_MSG("lock");
    return 0;
  }
  EXPECT_RC(rc_get, 0);
  EXPECT_RC(mpmp_lock_is_mine(lk), 0);
  EXPECT_OK(mpmp_lock_acquire(lk, T_OUT));
  EXPECT_RC(mpmp_lock_is_mine(lk), 1);
  EXPECT_OK(mpmp_lock_acquire(lk, T_OUT)); /* an RLock, as in Python */
  EXPECT_OK(mpmp_lock_release(lk));
  EXPECT_RC(mpmp_lock_is_mine(lk), 1);
  EXPECT_OK(mpmp_lock_release(lk));
  EXPECT_RC(mpmp_lock_is_mine(lk), 0);
  EXPECT_RC(mpmp_lock_release(lk), MPMP_EPERM);
  return 0;
}

/* Everything a user does with a Value and an Array(t, 8) of one type,
 * living on node `home` (this rank's node or another). */
static int check_type_ops(char *err, const tinfo_t *ti, mpmp_value_t v,
                          int v_locked, mpmp_array_t a, int a_locked,
                          int home) {
  size_t es = ti->size, n = 0;
  unsigned char in[8 * 8], in2[8], in3[3 * 8], out[8 * 8 + 8];
  mpmp_lock_t lk;
  void *data = NULL;
  EXPECT(es >= 1 && es <= 8); /* the buffers below hold 8-byte elements */
  EXPECT_RC(mpmp_value_type(v), (int)ti->t);
  EXPECT_RC(mpmp_array_type(a), (int)ti->t);
  EXPECT_OK(mpmp_array_len(a, &n));
  EXPECT(n == 8);
  /* store / load: exactly the element's bytes */
  pattern(in, es, 1);
  EXPECT_OK(mpmp_value_store(v, in));
  memset(out, 0xEE, sizeof out);
  EXPECT_OK(mpmp_value_load(v, out));
  EXPECT(memcmp(in, out, es) == 0);
  EXPECT(out[es] == 0xEE);
  /* whole array */
  pattern(in, 8 * es, 2);
  EXPECT_OK(mpmp_array_write(a, 0, 8, in));
  memset(out, 0xEE, sizeof out);
  EXPECT_OK(mpmp_array_read(a, 0, 8, out));
  EXPECT(memcmp(in, out, 8 * es) == 0);
  EXPECT(out[8 * es] == 0xEE);
  for (size_t i = 0; i < 8; i++) { /* element by element */
    memset(out, 0xEE, sizeof out);
    EXPECT_OK(mpmp_array_get(a, i, out));
    EXPECT(memcmp(out, in + i * es, es) == 0);
    EXPECT(out[es] == 0xEE);
  }
  /* set one element, read a slice around it */
  pattern(in2, es, 3);
  EXPECT_OK(mpmp_array_set(a, 3, in2));
  memset(out, 0xEE, sizeof out);
  EXPECT_OK(mpmp_array_read(a, 2, 3, out));
  EXPECT(memcmp(out, in + 2 * es, es) == 0);
  EXPECT(memcmp(out + es, in2, es) == 0);
  EXPECT(memcmp(out + 2 * es, in + 4 * es, es) == 0);
  EXPECT(out[3 * es] == 0xEE);
  /* write a slice at the end: the rest stays */
  pattern(in3, 3 * es, 4);
  EXPECT_OK(mpmp_array_write(a, 5, 3, in3));
  EXPECT_OK(mpmp_array_read(a, 0, 8, out));
  EXPECT(memcmp(out, in, 3 * es) == 0);
  EXPECT(memcmp(out + 3 * es, in2, es) == 0);
  EXPECT(memcmp(out + 4 * es, in + 4 * es, es) == 0);
  EXPECT(memcmp(out + 5 * es, in3, 3 * es) == 0);
  /* the elements themselves, on their home node only */
  if (home == mpmp_node_id()) {
    EXPECT_OK(mpmp_array_data(a, &data));
    EXPECT(data != NULL && memcmp(data, out, 8 * es) == 0);
  } else {
    EXPECT_RC(mpmp_array_data(a, &data), MPMP_ENOTSUP);
  }
  /* get_lock: an RLock for locked objects, none for raw ones */
  if (check_lock_of(err, mpmp_value_get_lock(v, &lk), lk, v_locked) < 0 ||
      check_lock_of(err, mpmp_array_get_lock(a, &lk), lk, a_locked) < 0)
    return -1;
  if (ti->is_int) {
    if (check_int_value_ops(err, ti, v) < 0 ||
        check_int_array_ops(err, ti, a) < 0)
      return -1;
  } else { /* float, double, byte: no atomic arithmetic; nothing changes */
    int64_t old = 123, e = 0;
    pattern(in, es, 5);
    EXPECT_OK(mpmp_value_store(v, in));
    EXPECT_OK(mpmp_array_read(a, 0, 8, out));
    EXPECT_RC(mpmp_value_add(v, 1, &old), MPMP_EINVAL);
    EXPECT_MSG("get_lock");
    EXPECT_RC(mpmp_value_exchange(v, 1, &old), MPMP_EINVAL);
    EXPECT_RC(mpmp_value_cas(v, &e, 1), MPMP_EINVAL);
    EXPECT_RC(mpmp_array_add(a, 0, 1, &old), MPMP_EINVAL);
    EXPECT_RC(mpmp_array_exchange(a, 1, 1, &old), MPMP_EINVAL);
    EXPECT_RC(mpmp_array_cas(a, 2, &e, 1), MPMP_EINVAL);
    EXPECT(old == 123 && e == 0);
    unsigned char now[8 * 8];
    EXPECT_OK(mpmp_value_load(v, now));
    EXPECT(memcmp(now, in, es) == 0);
    EXPECT_OK(mpmp_array_read(a, 0, 8, now));
    EXPECT(memcmp(now, out, 8 * es) == 0);
  }
  return check_shortcuts(err, ti, v);
}

/* One Value and one Array of every type; Values of even index and Arrays of
 * odd index have a lock, the others are raw. */
typedef struct {
  mpmp_value_t v[NT];
  mpmp_array_t a[NT];
  int node, rank;
} objset_t;

static int make_set(char *err, objset_t *s) {
  memset(s, 0, sizeof *s);
  for (int k = 0; k < NT; k++) {
    EXPECT_OK(mpmp_value_create(&s->v[k], TYPES[k].t, NULL, k % 2 == 0));
    EXPECT_OK(mpmp_array_create(&s->a[k], TYPES[k].t, 8, NULL, k % 2 == 1));
  }
  s->node = mpmp_node_id();
  s->rank = mpmp_rank();
  return 0;
}

static int check_set(char *err, const objset_t *s) {
  for (int k = 0; k < NT; k++) {
    unsigned char zero[8 * 8] = {0}, got[8 * 8];
    EXPECT_OK(mpmp_value_load(s->v[k], got)); /* created zeroed */
    EXPECT(memcmp(got, zero, TYPES[k].size) == 0);
    EXPECT_OK(mpmp_array_read(s->a[k], 0, 8, got));
    EXPECT(memcmp(got, zero, 8 * TYPES[k].size) == 0);
    if (check_type_ops(err, &TYPES[k], s->v[k], k % 2 == 0, s->a[k],
                       k % 2 == 1, s->node) < 0) {
      size_t len = strlen(err);
      snprintf(err + len, ERRLEN - len, " [type %s, objects of rank %d on "
               "node %d]", TYPES[k].name, s->rank, s->node);
      return -1;
    }
  }
  return 0;
}

/* Free every object; each handle is stale afterwards. */
static int free_set(char *err, const objset_t *s) {
  for (int k = 0; k < NT; k++) {
    unsigned char buf[8];
    EXPECT_OK(mpmp_value_free(s->v[k]));
    EXPECT_OK(mpmp_array_free(s->a[k]));
    EXPECT_RC(mpmp_value_load(s->v[k], buf), MPMP_EBADF);
    EXPECT_RC(mpmp_array_get(s->a[k], 0, buf), MPMP_EBADF);
    EXPECT_RC(mpmp_value_free(s->v[k]), MPMP_EBADF);
    EXPECT_RC(mpmp_array_free(s->a[k]), MPMP_EBADF);
  }
  return 0;
}

static void types_every_type_on_the_main_rank(void **state) {
  (void)state;
  objset_t s;
  mpmp_heap_info_t h0, h1;
  heap_now(&h0);
  MAIN_CHECK(make_set(err, &s));
  heap_now(&h1);
  assert_int_equal(h1.objects, h0.objects + 2 * NT);
  assert_true(h1.in_use > h0.in_use);
  MAIN_CHECK(check_set(err, &s));
  MAIN_CHECK(free_set(err, &s));
  heap_now(&h1);
  assert_heap_same(&h0, &h1);
}

/* Objects made on every rank (so on every node), used by every rank. */
typedef struct {
  int count;
} make_sets_args_t;

static int make_sets(mpmp_ctx_t *ctx) {
  const make_sets_args_t *a = mpmp_arg(ctx, NULL);
  objset_t *s = mpmp_out(ctx, (size_t)a->count * sizeof *s);
  for (int i = 0; i < a->count; i++)
    BODY_CHECK(ctx, make_set(err, &s[i]));
  return 0;
}
MPMP_TASK(make_sets);

typedef struct {
  int count;
  objset_t sets[MAXW + 1];
} check_sets_args_t;

typedef struct {
  int node, rank, remote_sets;
} checked_t;

static int check_sets(mpmp_ctx_t *ctx) {
  const check_sets_args_t *a = mpmp_arg(ctx, NULL);
  checked_t *c = mpmp_out(ctx, sizeof *c);
  c->node = mpmp_node_id();
  c->rank = mpmp_rank();
  c->remote_sets = 0;
  for (int i = 0; i < a->count; i++) {
    BODY_CHECK(ctx, check_set(err, &a->sets[i]));
    c->remote_sets += a->sets[i].node != c->node;
  }
  return 0;
}
MPMP_TASK(check_sets);

static void types_every_type_from_every_rank_on_every_node(void **state) {
  (void)state;
  int w = nworkers(), users = w + 1, remote = 0;
  /* made[c][u]: made by creator c (workers 0..w-1, the main rank w) for
   * user u (workers 0..w-1, the main rank w) */
  static objset_t made[MAXW + 1][MAXW + 1];
  static make_sets_args_t margs[MAXW];
  static check_sets_args_t cargs[MAXW];
  mpmp_heap_info_t h0, h1;
  group_t g;
  heap_now(&h0);
  for (int i = 0; i < w; i++)
    margs[i].count = users;
  group_start(&g, w, make_sets, margs, sizeof margs[0]);
  for (int u = 0; u < users; u++)
    MAIN_CHECK(make_set(err, &made[w][u]));
  group_join(&g);
  for (int c = 0; c < w; c++)
    memcpy(made[c], group_result(&g, c, (size_t)users * sizeof(objset_t)),
           (size_t)users * sizeof(objset_t));
  group_destroy(&g);
  /* every user checks one set of every creator, all at once */
  for (int u = 0; u < w; u++) {
    cargs[u].count = users;
    for (int c = 0; c < users; c++)
      cargs[u].sets[c] = made[c][u];
  }
  group_start(&g, w, check_sets, cargs, sizeof cargs[0]);
  for (int c = 0; c < users; c++) {
    MAIN_CHECK(check_set(err, &made[c][w]));
    remote += made[c][w].node != mpmp_node_id();
  }
  group_join(&g);
  for (int u = 0; u < w; u++)
    remote += ((const checked_t *)group_result(&g, u, sizeof(checked_t)))
                  ->remote_sets;
  group_destroy(&g);
  if (mpmp_node_count() > 1)
    assert_true(remote > 0); /* pseudo-nodes: some users were remote */
  else
    assert_int_equal(remote, 0);
  /* the main rank frees them all, remote ones included */
  for (int c = 0; c < users; c++)
    for (int u = 0; u < users; u++)
      MAIN_CHECK(free_set(err, &made[c][u]));
  heap_now(&h1);
  assert_heap_same(&h0, &h1);
}

/* MPMP_BYTE arrays are raw bytes: strings, zeros, all 256 values. */
static void types_byte_arrays_are_raw_bytes(void **state) {
  (void)state;
  unsigned char all[256], got[256];
  const char text[] = "hello\0world\xff";
  mpmp_array_t a;
  mpmp_value_t c;
  unsigned char *data = NULL;
  char ch = 0;
  for (int i = 0; i < 256; i++)
    all[i] = (unsigned char)i;
  assert_int_equal(mpmp_array_create(&a, mpmp_typecode('c'), 256, all, 0), 0);
  assert_int_equal(mpmp_array_read(a, 0, 256, got), 0);
  assert_memory_equal(got, all, 256);
  assert_int_equal(mpmp_array_write(a, 10, sizeof text, text), 0);
  assert_int_equal(mpmp_array_read(a, 10, sizeof text, got), 0);
  assert_memory_equal(got, text, sizeof text);
  assert_int_equal(mpmp_array_data(a, (void **)&data), 0);
  assert_memory_equal(data + 10, text, sizeof text);
  assert_int_equal(data[9], 9);
  assert_int_equal(data[10 + sizeof text], 10 + sizeof text);
  data[255] = 'Z'; /* plain stores through the pointer are seen by all */
  assert_int_equal(mpmp_array_get(a, 255, got), 0);
  assert_int_equal(got[0], 'Z');
  assert_int_equal(mpmp_array_add(a, 0, 1, NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_array_free(a), 0);
  assert_int_equal(mpmp_value_create(&c, MPMP_BYTE, "x", 1), 0);
  assert_int_equal(mpmp_value_load(c, &ch), 0);
  assert_int_equal(ch, 'x');
  ch = '\xe9';
  assert_int_equal(mpmp_value_store(c, &ch), 0);
  assert_int_equal(get64(c), 0xe9);
  assert_int_equal(mpmp_value_free(c), 0);
}

/* =========================================================================
 * 3. Objects made in a process body (homed on the worker's node) and used
 *    by the main rank; main-made objects used by the workers.
 * ========================================================================= */

typedef struct {
  mpmp_value_t num;     /* Value('i', 10), then 11 by its maker */
  mpmp_value_t counter; /* Value('q', 7) */
  mpmp_array_t arr;     /* Array('i', 16): 3 * i */
  mpmp_value_t raw;     /* RawValue('d', 3.25) */
  mpmp_array_t rawa;    /* RawArray('B', 100): zeros */
  int node, rank;
} made_t;

static int make_objects(mpmp_ctx_t *ctx) {
  made_t *m = mpmp_out(ctx, sizeof *m);
  int32_t ten = 10, init[16];
  int64_t seven = 7;
  double d = 3.25;
  for (int i = 0; i < 16; i++)
    init[i] = 3 * i;
  if (mpmp_value_create(&m->num, MPMP_INT32, &ten, 1) < 0 ||
      mpmp_value_add(m->num, 1, NULL) < 0 || /* its maker uses it too */
      mpmp_value_create(&m->counter, MPMP_INT64, &seven, 1) < 0 ||
      mpmp_array_create(&m->arr, MPMP_INT32, 16, init, 1) < 0 ||
      mpmp_value_create(&m->raw, MPMP_DOUBLE, &d, 0) < 0 ||
      mpmp_array_create(&m->rawa, MPMP_UINT8, 100, NULL, 0) < 0)
    return mpmp_fail(ctx, "create: %s", mpmp_errmsg());
  m->node = mpmp_node_id();
  m->rank = mpmp_rank();
  return 0;
}
MPMP_TASK(make_objects);

static int use_made_objects(char *err, const made_t *m) {
  int32_t v32 = 0, buf[16];
  int64_t x = 0, old = 0, e;
  double d = 0;
  uint8_t bytes[100];
  size_t n = 0;
  mpmp_lock_t lk;
  void *data = NULL;
  EXPECT_OK(mpmp_value_load(m->num, &v32));
  EXPECT(v32 == 11);
  EXPECT_OK(mpmp_value_get_i64(m->counter, &x));
  EXPECT(x == 7);
  x = 100;
  EXPECT_OK(mpmp_value_store(m->counter, &x));
  EXPECT_OK(mpmp_value_add(m->counter, 5, &old));
  EXPECT(old == 100);
  e = 105;
  EXPECT_RC(mpmp_value_cas(m->counter, &e, -1), 1);
  e = 105;
  EXPECT_RC(mpmp_value_cas(m->counter, &e, 0), 0);
  EXPECT(e == -1);
  EXPECT_OK(mpmp_value_exchange(m->counter, 77, &old));
  EXPECT(old == -1);
  EXPECT_OK(mpmp_value_get_lock(m->counter, &lk));
  EXPECT_RC(mpmp_lock_free(lk), MPMP_EINVAL); /* it goes with the Value */
  EXPECT_OK(mpmp_lock_acquire(lk, T_OUT));
  EXPECT_RC(mpmp_lock_is_mine(lk), 1);
  EXPECT_OK(mpmp_value_get_i64(m->counter, &x));
  EXPECT_OK(mpmp_value_set_i64(m->counter, x * 2 + 1));
  EXPECT_OK(mpmp_lock_release(lk));
  EXPECT_RC(mpmp_lock_release(lk), MPMP_EPERM);
  EXPECT_OK(mpmp_value_get_i64(m->counter, &x));
  EXPECT(x == 155);
  EXPECT_OK(mpmp_array_len(m->arr, &n));
  EXPECT(n == 16);
  EXPECT_OK(mpmp_array_read(m->arr, 0, 16, buf));
  for (int i = 0; i < 16; i++)
    EXPECT(buf[i] == 3 * i);
  for (int i = 0; i < 16; i++)
    buf[i] = -i;
  EXPECT_OK(mpmp_array_write(m->arr, 4, 8, buf));
  EXPECT_OK(mpmp_array_add(m->arr, 15, 100, &old));
  EXPECT(old == 45);
  EXPECT_OK(mpmp_array_get(m->arr, 5, &v32));
  EXPECT(v32 == -1);
  EXPECT_OK(mpmp_array_get_lock(m->arr, &lk));
  EXPECT_OK(mpmp_lock_acquire(lk, T_OUT));
  v32 = 1000;
  EXPECT_OK(mpmp_array_set(m->arr, 0, &v32));
  EXPECT_OK(mpmp_lock_release(lk));
  EXPECT_OK(mpmp_array_read(m->arr, 0, 16, buf));
  EXPECT(buf[0] == 1000 && buf[3] == 9 && buf[4] == 0 && buf[11] == -7 &&
         buf[12] == 36 && buf[15] == 145);
  EXPECT_OK(mpmp_value_get_f64(m->raw, &d));
  EXPECT(d == 3.25);
  EXPECT_RC(mpmp_value_get_lock(m->raw, &lk), MPMP_ENOTSUP);
  EXPECT_RC(mpmp_array_get_lock(m->rawa, &lk), MPMP_ENOTSUP);
  EXPECT_OK(mpmp_array_read(m->rawa, 0, 100, bytes));
  for (int i = 0; i < 100; i++)
    EXPECT(bytes[i] == 0);
  bytes[99] = 0xab;
  EXPECT_OK(mpmp_array_write(m->rawa, 99, 1, bytes + 99));
  EXPECT_OK(mpmp_array_add(m->rawa, 99, 0x55, &old));
  EXPECT(old == 0xab);
  EXPECT_OK(mpmp_array_get(m->rawa, 99, bytes));
  EXPECT(bytes[0] == 0x00); /* 0xab + 0x55 wraps to 0 */
  if (m->node == mpmp_node_id()) {
    EXPECT_OK(mpmp_array_data(m->arr, &data));
    EXPECT(((int32_t *)data)[0] == 1000);
  } else {
    EXPECT_RC(mpmp_array_data(m->arr, &data), MPMP_ENOTSUP);
    EXPECT_MSG("mpmp_array_read");
  }
  return 0;
}

static int free_made_objects(char *err, const made_t *m) {
  int64_t x;
  mpmp_lock_t lk;
  EXPECT_OK(mpmp_value_get_lock(m->counter, &lk));
  EXPECT_OK(mpmp_value_free(m->num));
  EXPECT_OK(mpmp_value_free(m->counter));
  EXPECT_OK(mpmp_array_free(m->arr));
  EXPECT_OK(mpmp_value_free(m->raw));
  EXPECT_OK(mpmp_array_free(m->rawa));
  EXPECT_RC(mpmp_value_get_i64(m->counter, &x), MPMP_EBADF);
  EXPECT_RC(mpmp_lock_acquire(lk, 1.0), MPMP_EBADF);
  EXPECT_RC(mpmp_array_free(m->arr), MPMP_EBADF);
  return 0;
}

static void objects_made_in_bodies_used_and_freed_by_main(void **state) {
  (void)state;
  int w = nworkers(), remote = 0;
  made_t made[MAXW];
  mpmp_heap_info_t h0, h1;
  group_t g;
  heap_now(&h0);
  group_start(&g, w, make_objects, NULL, 0);
  group_join(&g);
  for (int i = 0; i < w; i++) {
    made[i] = *(const made_t *)group_result(&g, i, sizeof(made_t));
    assert_int_equal(made[i].rank, mpmp_process_rank(g.p[i]));
  }
  group_destroy(&g);
  /* the bodies ended; their objects live on */
  for (int i = 0; i < w; i++) {
    remote += made[i].node != mpmp_node_id();
    MAIN_CHECK(use_made_objects(err, &made[i]));
    MAIN_CHECK(free_made_objects(err, &made[i]));
  }
  if (mpmp_node_count() > 1) /* rank 1 is on the other pseudo-node */
    assert_true(remote > 0);
  heap_now(&h1);
  assert_heap_same(&h0, &h1);
}

/* The same uses from worker bodies on objects of another worker. */
static int use_made_body(mpmp_ctx_t *ctx) {
  const made_t *m = mpmp_arg(ctx, NULL);
  BODY_CHECK(ctx, use_made_objects(err, m));
  return 0;
}
MPMP_TASK(use_made_body);

static void objects_made_by_one_worker_used_by_another(void **state) {
  (void)state;
  int w = nworkers();
  made_t made[MAXW], shifted[MAXW];
  group_t g;
  if (w < 2)
    skip();
  group_start(&g, w, make_objects, NULL, 0);
  group_join(&g);
  for (int i = 0; i < w; i++)
    made[i] = *(const made_t *)group_result(&g, i, sizeof(made_t));
  group_destroy(&g);
  for (int i = 0; i < w; i++) /* body i uses the objects of body i + 1 */
    shifted[i] = made[(i + 1) % w];
  group_start(&g, w, use_made_body, shifted, sizeof shifted[0]);
  group_join(&g);
  group_destroy(&g);
  for (int i = 0; i < w; i++)
    MAIN_CHECK(free_made_objects(err, &made[i]));
}

/* mpmp_array_data: the home node's ranks get a pointer, others ENOTSUP. */
typedef struct {
  mpmp_array_t a; /* Array('q', MAXW) of the main rank */
  int main_node, index;
} data_args_t;

static int data_probe(mpmp_ctx_t *ctx) {
  const data_args_t *a = mpmp_arg(ctx, NULL);
  int *was_remote = mpmp_out(ctx, sizeof *was_remote);
  int64_t *p = NULL, x = 0;
  *was_remote = mpmp_node_id() != a->main_node;
  int rc = mpmp_array_data(a->a, (void **)&p);
  if (*was_remote) {
    if (rc != MPMP_ENOTSUP || p != NULL ||
        strstr(mpmp_errmsg(), "read") == NULL)
      return mpmp_fail(ctx, "array_data from another node: %s: %s",
                       mpmp_err_name(rc), mpmp_errmsg());
    x = 1000 + a->index; /* read/write work from here */
    if (mpmp_array_set(a->a, (size_t)a->index, &x) < 0)
      return mpmp_fail(ctx, "set: %s", mpmp_errmsg());
  } else {
    if (rc != 0 || p == NULL)
      return mpmp_fail(ctx, "array_data on the home node: %s: %s",
                       mpmp_err_name(rc), mpmp_errmsg());
    __atomic_store_n(&p[a->index], 2000 + a->index, __ATOMIC_RELEASE);
  }
  return 0;
}
MPMP_TASK(data_probe);

static void errors_array_data_only_on_the_home_node(void **state) {
  (void)state;
  int w = nworkers(), remote = 0;
  data_args_t args[MAXW];
  mpmp_array_t a;
  int64_t *p = NULL, got[MAXW];
  group_t g;
  assert_int_equal(mpmp_array_create(&a, MPMP_INT64, MAXW, NULL, 1), 0);
  assert_int_equal(mpmp_array_data(a, (void **)&p), 0);
  p[MAXW - 1] = -5;
  for (int i = 0; i < w; i++) {
    args[i].a = a;
    args[i].main_node = mpmp_node_id();
    args[i].index = i;
  }
  group_start(&g, w, data_probe, args, sizeof args[0]);
  group_join(&g);
  assert_int_equal(mpmp_array_read(a, 0, MAXW, got), 0);
  for (int i = 0; i < w; i++) {
    int r = *(const int *)group_result(&g, i, sizeof(int));
    remote += r;
    assert_int_equal(got[i], (r ? 1000 : 2000) + i);
    assert_int_equal(p[i], got[i]);
  }
  assert_int_equal(got[MAXW - 1], -5);
  group_destroy(&g);
  if (mpmp_node_count() > 1)
    assert_true(remote > 0);
  else
    assert_int_equal(remote, 0);
  assert_int_equal(mpmp_array_free(a), 0);
  assert_int_equal(mpmp_array_data(a, (void **)&p), MPMP_EBADF);
}

/* =========================================================================
 * 4. Errors
 * ========================================================================= */

/* Range and NULL-buffer errors on an Array('i', 10) holding 0..9 and a
 * Value('i', 5), on any node; nothing changes. */
static int check_range_and_null_errors(char *err, mpmp_array_t a,
                                       mpmp_value_t v) {
  int32_t buf[32] = {0}, got[10];
  int64_t old = 0, e = 0;
  size_t n = 0;
  mpmp_lock_t lk;
  EXPECT_RC(mpmp_array_get(a, 10, buf), MPMP_EINVAL);
  EXPECT_MSG("range");
  EXPECT_MSG("10");
  EXPECT_RC(mpmp_array_set(a, 10, buf), MPMP_EINVAL);
  EXPECT_MSG("range");
  EXPECT_RC(mpmp_array_get(a, SIZE_MAX, buf), MPMP_EINVAL);
  EXPECT_MSG("range");
  EXPECT_RC(mpmp_array_read(a, 8, 3, buf), MPMP_EINVAL);
  EXPECT_MSG("range");
  EXPECT_RC(mpmp_array_read(a, 10, 1, buf), MPMP_EINVAL);
  EXPECT_RC(mpmp_array_read(a, 0, 11, buf), MPMP_EINVAL);
  EXPECT_MSG("range");
  EXPECT_RC(mpmp_array_read(a, SIZE_MAX, 2, buf), MPMP_EINVAL);
  EXPECT_MSG("range");
  EXPECT_RC(mpmp_array_write(a, 5, 6, buf), MPMP_EINVAL);
  EXPECT_MSG("range");
  EXPECT_RC(mpmp_array_write(a, SIZE_MAX - 1, 4, buf), MPMP_EINVAL);
  EXPECT_RC(mpmp_array_add(a, 10, 1, &old), MPMP_EINVAL);
  EXPECT_MSG("range");
  EXPECT_RC(mpmp_array_exchange(a, 10, 1, &old), MPMP_EINVAL);
  EXPECT_RC(mpmp_array_cas(a, 11, &e, 1), MPMP_EINVAL);
  EXPECT_RC(mpmp_array_read(a, 4, 0, buf), 0); /* an empty slice */
  /* NULL buffers */
  EXPECT_RC(mpmp_value_load(v, NULL), MPMP_EINVAL);
  EXPECT_RC(mpmp_value_store(v, NULL), MPMP_EINVAL);
  EXPECT_RC(mpmp_value_cas(v, NULL, 1), MPMP_EINVAL);
  EXPECT_RC(mpmp_value_get_lock(v, NULL), MPMP_EINVAL);
  EXPECT_RC(mpmp_value_get_i64(v, NULL), MPMP_EINVAL);
  EXPECT_RC(mpmp_value_get_f64(v, NULL), MPMP_EINVAL);
  EXPECT_RC(mpmp_array_get(a, 0, NULL), MPMP_EINVAL);
  EXPECT_RC(mpmp_array_set(a, 0, NULL), MPMP_EINVAL);
  EXPECT_RC(mpmp_array_read(a, 0, 2, NULL), MPMP_EINVAL);
  EXPECT_RC(mpmp_array_write(a, 0, 2, NULL), MPMP_EINVAL);
  EXPECT_RC(mpmp_array_cas(a, 0, NULL, 1), MPMP_EINVAL);
  EXPECT_RC(mpmp_array_get_lock(a, NULL), MPMP_EINVAL);
  EXPECT_RC(mpmp_array_len(a, NULL), MPMP_EINVAL);
  EXPECT_RC(mpmp_array_data(a, NULL), MPMP_EINVAL);
  EXPECT_RC(mpmp_heap_info(NULL), MPMP_EINVAL);
  /* nothing changed */
  EXPECT_OK(mpmp_array_read(a, 0, 10, got));
  for (int i = 0; i < 10; i++)
    EXPECT(got[i] == i);
  EXPECT_OK(mpmp_array_len(a, &n));
  EXPECT(n == 10);
  EXPECT_OK(mpmp_value_get_i64(v, &old));
  EXPECT(old == 5);
  EXPECT_OK(mpmp_value_get_lock(v, &lk)); /* still usable */
  EXPECT_OK(mpmp_lock_acquire(lk, T_OUT));
  EXPECT_OK(mpmp_lock_release(lk));
  return 0;
}

typedef struct {
  mpmp_array_t a;
  mpmp_value_t v;
} range_args_t;

static int range_body(mpmp_ctx_t *ctx) {
  const range_args_t *r = mpmp_arg(ctx, NULL);
  BODY_CHECK(ctx, check_range_and_null_errors(err, r->a, r->v));
  return 0;
}
MPMP_TASK(range_body);

static void errors_out_of_range_and_null_buffers(void **state) {
  (void)state;
  int32_t init[10], five = 5;
  range_args_t r, args[MAXW];
  for (int i = 0; i < 10; i++)
    init[i] = i;
  assert_int_equal(mpmp_array_create(&r.a, MPMP_INT32, 10, init, 1), 0);
  assert_int_equal(mpmp_value_create(&r.v, MPMP_INT32, &five, 1), 0);
  MAIN_CHECK(check_range_and_null_errors(err, r.a, r.v));
  for (int i = 0; i < nworkers(); i++)
    args[i] = r;
  /* one at a time: the checks take and release the Value's lock */
  for (int i = 0; i < nworkers(); i++)
    run_one(range_body, &args[i], sizeof r);
  assert_int_equal(mpmp_array_free(r.a), 0);
  assert_int_equal(mpmp_value_free(r.v), 0);
}

/* From another node, a slice far out of range is MPMP_EINVAL as on the
 * home node (the home checks the range before sizing any buffer by it). */
typedef struct {
  mpmp_array_t a;
} huge_args_t;

static int huge_slice_body(mpmp_ctx_t *ctx) {
  const huge_args_t *h = mpmp_arg(ctx, NULL);
  int32_t buf[16] = {0};
  char wmsg[300], rmsg[300];
  int wrc, rrc = MPMP_EINVAL, ok;
  wrc = mpmp_array_write(h->a, 0, SIZE_MAX / 4, buf);
  snprintf(wmsg, sizeof wmsg, "%s", mpmp_errmsg());
  ok = wrc == MPMP_EINVAL && strstr(wmsg, "range") != NULL;
  rrc = mpmp_array_read(h->a, 0, SIZE_MAX / 4, buf);
  snprintf(rmsg, sizeof rmsg, "%s", mpmp_errmsg());
  ok = ok && rrc == MPMP_EINVAL && strstr(rmsg, "range") != NULL;
  if (!ok)
    return mpmp_fail(ctx, "slices of SIZE_MAX/4 elements from node %d: write "
                     "%s (%s); read %s (%s)", mpmp_node_id(),
                     mpmp_err_name(wrc), wmsg, mpmp_err_name(rrc), rmsg);
  return 0;
}
MPMP_TASK(huge_slice_body);

static void errors_huge_slice_is_out_of_range_from_every_node(void **state) {
  (void)state;
  huge_args_t h, args[MAXW];
  int32_t buf[4] = {0};
  assert_int_equal(mpmp_array_create(&h.a, MPMP_INT32, 10, NULL, 0), 0);
  assert_int_equal(mpmp_array_read(h.a, 0, SIZE_MAX / 4, buf), MPMP_EINVAL);
  assert_int_equal(mpmp_array_write(h.a, 0, SIZE_MAX / 4, buf), MPMP_EINVAL);
  for (int i = 0; i < nworkers(); i++)
    args[i] = h;
  group_t g;
  char first[ERRLEN];
  group_start(&g, nworkers(), huge_slice_body, args, sizeof h);
  int rc = group_join_quiet(&g, first);
  group_destroy(&g);
  assert_int_equal(mpmp_array_free(h.a), 0);
  if (rc < 0)
    fail_msg("%s", first);
}

static void errors_bad_create_arguments(void **state) {
  (void)state;
  mpmp_value_t v;
  mpmp_array_t a;
  mpmp_heap_info_t h0, h1;
  heap_now(&h0);
  assert_int_equal(mpmp_array_create(&a, MPMP_INT32, 0, NULL, 1), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "1 element"));
  assert_int_equal(mpmp_array_create(&a, (mpmp_type_t)0, 4, NULL, 1), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "type"));
  assert_int_equal(mpmp_array_create(&a, (mpmp_type_t)12, 4, NULL, 1), MPMP_EINVAL);
  assert_int_equal(mpmp_array_create(&a, (mpmp_type_t)-3, 4, NULL, 0), MPMP_EINVAL);
  assert_int_equal(mpmp_value_create(&v, (mpmp_type_t)0, NULL, 1), MPMP_EINVAL);
  assert_int_equal(mpmp_value_create(&v, (mpmp_type_t)1000, NULL, 0), MPMP_EINVAL);
  assert_int_equal(mpmp_value_create(&v, mpmp_typecode('?'), NULL, 1), MPMP_EINVAL);
  assert_int_equal(mpmp_value_create(NULL, MPMP_INT32, NULL, 1), MPMP_EINVAL);
  assert_int_equal(mpmp_array_create(NULL, MPMP_INT32, 4, NULL, 1), MPMP_EINVAL);
  assert_int_equal(mpmp_lock_create(NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_array_create(&a, MPMP_INT64, SIZE_MAX / 2, NULL, 0),
                   MPMP_ENOSPC); /* n * size overflows: never fits */
  heap_now(&h1);
  assert_heap_same(&h0, &h1); /* nothing was made */
}

static void errors_raw_objects_have_no_lock(void **state) {
  (void)state;
  mpmp_value_t v;
  mpmp_array_t a;
  mpmp_lock_t lk;
  memset(&lk, 0x5a, sizeof lk);
  assert_int_equal(mpmp_value_create(&v, MPMP_DOUBLE, NULL, 0), 0); /* RawValue */
  assert_int_equal(mpmp_array_create(&a, MPMP_INT16, 3, NULL, 0), 0); /* RawArray */
  assert_int_equal(mpmp_value_get_lock(v, &lk), MPMP_ENOTSUP);
  assert_non_null(strstr(mpmp_errmsg(), "RawValue"));
  assert_int_equal(mpmp_array_get_lock(a, &lk), MPMP_ENOTSUP);
  assert_non_null(strstr(mpmp_errmsg(), "RawArray"));
  assert_int_equal(mpmp_value_set_f64(v, 1.5), 0); /* still usable */
  assert_int_equal(mpmp_array_add(a, 2, -3, NULL), 0);
  int16_t x = 0;
  assert_int_equal(mpmp_array_get(a, 2, &x), 0);
  assert_int_equal(x, -3);
  assert_int_equal(mpmp_value_free(v), 0);
  assert_int_equal(mpmp_array_free(a), 0);
}

static void errors_lock_of_a_value_goes_with_it(void **state) {
  (void)state;
  mpmp_value_t v;
  mpmp_array_t a;
  mpmp_lock_t vl, al;
  assert_int_equal(mpmp_value_create(&v, MPMP_INT32, NULL, 1), 0);
  assert_int_equal(mpmp_array_create(&a, MPMP_INT32, 4, NULL, 1), 0);
  assert_int_equal(mpmp_value_get_lock(v, &vl), 0);
  assert_int_equal(mpmp_array_get_lock(a, &al), 0);
  assert_int_equal(mpmp_lock_free(vl), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "Value"));
  assert_int_equal(mpmp_lock_free(al), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "Array"));
  /* both still work */
  assert_int_equal(mpmp_lock_acquire(vl, T_OUT), 0);
  assert_int_equal(mpmp_value_add(v, 2, NULL), 0);
  assert_int_equal(mpmp_lock_release(vl), 0);
  assert_int_equal(mpmp_lock_acquire(al, T_OUT), 0);
  assert_int_equal(mpmp_lock_release(al), 0);
  assert_int_equal(get64(v), 2);
  /* the lock handle is not a Value nor an Array handle */
  int32_t x;
  mpmp_value_t vl_as_v;
  mpmp_array_t vl_as_a;
  memcpy(&vl_as_v, &vl, sizeof vl);
  memcpy(&vl_as_a, &vl, sizeof vl);
  assert_int_equal(mpmp_value_load(vl_as_v, &x), MPMP_EBADF);
  assert_int_equal(mpmp_array_get(vl_as_a, 0, &x), MPMP_EBADF);
  assert_int_equal(mpmp_value_free(vl_as_v), MPMP_EBADF);
  assert_int_equal(mpmp_value_free(v), 0);
  assert_int_equal(mpmp_array_free(a), 0);
}

static void errors_use_after_free_and_double_free(void **state) {
  (void)state;
  int32_t five = 5, x = 0;
  int64_t old = 0, e = 0;
  double d;
  size_t n;
  void *data;
  mpmp_value_t v, v2;
  mpmp_array_t a, a2;
  mpmp_lock_t vl, al, lk;
  mpmp_heap_info_t h0, h1;
  heap_now(&h0);
  assert_int_equal(mpmp_value_create(&v, MPMP_INT32, &five, 1), 0);
  assert_int_equal(mpmp_array_create(&a, MPMP_INT32, 8, NULL, 1), 0);
  assert_int_equal(mpmp_value_get_lock(v, &vl), 0);
  assert_int_equal(mpmp_array_get_lock(a, &al), 0);
  assert_int_equal(mpmp_value_free(v), 0);
  assert_int_equal(mpmp_array_free(a), 0);
  heap_now(&h1);
  assert_heap_same(&h0, &h1);
  /* the Value */
  assert_int_equal(mpmp_value_load(v, &x), MPMP_EBADF);
  assert_non_null(strstr(mpmp_errmsg(), "freed"));
  assert_int_equal(mpmp_value_store(v, &x), MPMP_EBADF);
  assert_int_equal(mpmp_value_add(v, 1, &old), MPMP_EBADF);
  assert_int_equal(mpmp_value_exchange(v, 1, &old), MPMP_EBADF);
  assert_int_equal(mpmp_value_cas(v, &e, 1), MPMP_EBADF);
  assert_int_equal(mpmp_value_get_lock(v, &lk), MPMP_EBADF);
  assert_int_equal(mpmp_value_get_i64(v, &old), MPMP_EBADF);
  assert_int_equal(mpmp_value_set_i64(v, 1), MPMP_EBADF);
  assert_int_equal(mpmp_value_get_f64(v, &d), MPMP_EBADF);
  assert_int_equal(mpmp_value_set_f64(v, 1), MPMP_EBADF);
  assert_int_equal(mpmp_value_free(v), MPMP_EBADF); /* double free */
  assert_non_null(strstr(mpmp_errmsg(), "freed"));
  /* the Array */
  assert_int_equal(mpmp_array_get(a, 0, &x), MPMP_EBADF);
  assert_int_equal(mpmp_array_set(a, 0, &x), MPMP_EBADF);
  assert_int_equal(mpmp_array_read(a, 0, 1, &x), MPMP_EBADF);
  assert_int_equal(mpmp_array_write(a, 0, 1, &x), MPMP_EBADF);
  assert_int_equal(mpmp_array_add(a, 0, 1, &old), MPMP_EBADF);
  assert_int_equal(mpmp_array_exchange(a, 0, 1, &old), MPMP_EBADF);
  assert_int_equal(mpmp_array_cas(a, 0, &e, 1), MPMP_EBADF);
  assert_int_equal(mpmp_array_len(a, &n), MPMP_EBADF);
  assert_int_equal(mpmp_array_get_lock(a, &lk), MPMP_EBADF);
  assert_int_equal(mpmp_array_data(a, &data), MPMP_EBADF);
  assert_int_equal(mpmp_array_free(a), MPMP_EBADF);
  /* their lock handles */
  assert_int_equal(mpmp_lock_acquire(vl, 1.0), MPMP_EBADF);
  assert_int_equal(mpmp_lock_acquire(al, 0), MPMP_EBADF);
  assert_int_equal(mpmp_lock_release(vl), MPMP_EBADF);
  assert_int_equal(mpmp_lock_is_mine(al), MPMP_EBADF);
  assert_int_equal(mpmp_lock_free(vl), MPMP_EBADF);
  /* the memory is reused by new objects: old handles still refer to none */
  assert_int_equal(mpmp_value_create(&v2, MPMP_INT32, &five, 1), 0);
  assert_int_equal(mpmp_array_create(&a2, MPMP_INT32, 8, NULL, 1), 0);
  x = 99;
  assert_int_equal(mpmp_value_store(v, &x), MPMP_EBADF);
  assert_int_equal(mpmp_array_set(a, 0, &x), MPMP_EBADF);
  assert_int_equal(mpmp_value_free(v), MPMP_EBADF);
  assert_int_equal(mpmp_array_free(a), MPMP_EBADF);
  assert_int_equal(mpmp_lock_acquire(vl, 0), MPMP_EBADF);
  assert_int_equal(mpmp_value_load(v2, &x), 0);
  assert_int_equal(x, 5);
  assert_int_equal(mpmp_array_get(a2, 0, &x), 0);
  assert_int_equal(x, 0);
  assert_int_equal(mpmp_value_get_lock(v2, &lk), 0);
  assert_int_equal(mpmp_lock_acquire(lk, 0), 0); /* not held by a stale call */
  assert_int_equal(mpmp_lock_release(lk), 0);
  assert_int_equal(mpmp_value_free(v2), 0);
  assert_int_equal(mpmp_array_free(a2), 0);
  heap_now(&h1);
  assert_heap_same(&h0, &h1);
}

/* Queries that need no operation still find a freed object (shared.h:
 * "every copy of the handle becomes stale (MPMP_EBADF)"). */
static void errors_type_of_a_freed_object_is_ebadf(void **state) {
  (void)state;
  mpmp_value_t v;
  mpmp_array_t a;
  mpmp_cond_t c;
  mpmp_lock_t lk;
  assert_int_equal(mpmp_value_create(&v, MPMP_INT16, NULL, 1), 0);
  assert_int_equal(mpmp_array_create(&a, MPMP_UINT32, 2, NULL, 1), 0);
  assert_int_equal(mpmp_cond_create(&c, NULL), 0);
  assert_int_equal(mpmp_value_type(v), MPMP_INT16);
  assert_int_equal(mpmp_array_type(a), MPMP_UINT32);
  assert_int_equal(mpmp_value_free(v), 0);
  assert_int_equal(mpmp_array_free(a), 0);
  assert_int_equal(mpmp_cond_free(c), 0);
  assert_int_equal(mpmp_value_type(v), MPMP_EBADF);
  assert_int_equal(mpmp_array_type(a), MPMP_EBADF);
  assert_int_equal(mpmp_cond_get_lock(c, &lk), MPMP_EBADF);
}

static void errors_sync_objects_use_after_free(void **state) {
  (void)state;
  mpmp_lock_t l, r, cl;
  mpmp_sem_t s, bs;
  mpmp_event_t ev;
  mpmp_cond_t c;
  mpmp_barrier_t b;
  assert_int_equal(mpmp_lock_create(&l), 0);
  assert_int_equal(mpmp_rlock_create(&r), 0);
  assert_int_equal(mpmp_sem_create(&s, 2), 0);
  assert_int_equal(mpmp_bsem_create(&bs, 2), 0);
  assert_int_equal(mpmp_event_create(&ev), 0);
  assert_int_equal(mpmp_cond_create(&c, NULL), 0);
  assert_int_equal(mpmp_barrier_create(&b, 3), 0);
  assert_int_equal(mpmp_cond_get_lock(c, &cl), 0);
  assert_int_equal(mpmp_lock_free(cl), MPMP_EINVAL); /* goes with the Condition */
  assert_int_equal(mpmp_lock_free(l), 0);
  assert_int_equal(mpmp_lock_free(r), 0);
  assert_int_equal(mpmp_sem_free(s), 0);
  assert_int_equal(mpmp_sem_free(bs), 0);
  assert_int_equal(mpmp_event_free(ev), 0);
  assert_int_equal(mpmp_cond_free(c), 0);
  assert_int_equal(mpmp_barrier_free(b), 0);
  assert_int_equal(mpmp_lock_acquire(l, 0.5), MPMP_EBADF);
  assert_int_equal(mpmp_lock_release(r), MPMP_EBADF);
  assert_int_equal(mpmp_lock_is_mine(r), MPMP_EBADF);
  assert_int_equal(mpmp_lock_acquire(cl, 0.5), MPMP_EBADF);
  assert_int_equal(mpmp_sem_acquire(s, 0.5), MPMP_EBADF);
  assert_int_equal(mpmp_sem_release(bs), MPMP_EBADF);
  assert_int_equal(mpmp_sem_value(s), MPMP_EBADF);
  assert_int_equal(mpmp_event_set(ev), MPMP_EBADF);
  assert_int_equal(mpmp_event_wait(ev, 0.5), MPMP_EBADF);
  assert_int_equal(mpmp_event_is_set(ev), MPMP_EBADF);
  assert_int_equal(mpmp_cond_acquire(c, 0.5), MPMP_EBADF);
  assert_int_equal(mpmp_cond_notify_all(c), MPMP_EBADF);
  assert_int_equal(mpmp_barrier_wait(b, 0.5), MPMP_EBADF);
  assert_int_equal(mpmp_barrier_parties(b), MPMP_EBADF);
  assert_int_equal(mpmp_lock_free(l), MPMP_EBADF);
  assert_int_equal(mpmp_lock_free(r), MPMP_EBADF);
  assert_int_equal(mpmp_sem_free(s), MPMP_EBADF);
  assert_int_equal(mpmp_sem_free(bs), MPMP_EBADF);
  assert_int_equal(mpmp_event_free(ev), MPMP_EBADF);
  assert_int_equal(mpmp_cond_free(c), MPMP_EBADF);
  assert_int_equal(mpmp_barrier_free(b), MPMP_EBADF);
}

/* A handle of one kind cast into another kind's handle is refused. */
static void errors_handle_of_another_kind_is_ebadf(void **state) {
  (void)state;
  int32_t x = 0, seven = 7;
  mpmp_value_t v, zv;
  mpmp_array_t a, va, za;
  mpmp_lock_t l, vl, zl;
  mpmp_sem_t vs;
  mpmp_event_t ve, ze;
  mpmp_cond_t vc;
  mpmp_barrier_t vb;
  mpmp_value_t av, lv;
  assert_int_equal(mpmp_value_create(&v, MPMP_INT32, &seven, 1), 0);
  assert_int_equal(mpmp_array_create(&a, MPMP_INT32, 4, NULL, 1), 0);
  assert_int_equal(mpmp_lock_create(&l), 0);
  memcpy(&va, &v, sizeof v);
  memcpy(&vl, &v, sizeof v);
  memcpy(&vs, &v, sizeof v);
  memcpy(&ve, &v, sizeof v);
  memcpy(&vc, &v, sizeof v);
  memcpy(&vb, &v, sizeof v);
  memcpy(&av, &a, sizeof a);
  memcpy(&lv, &l, sizeof l);
  assert_int_equal(mpmp_array_get(va, 0, &x), MPMP_EBADF);
  assert_non_null(strstr(mpmp_errmsg(), "Value"));
  assert_non_null(strstr(mpmp_errmsg(), "Array"));
  size_t n = 0;
  assert_int_equal(mpmp_array_len(va, &n), MPMP_EBADF);
  assert_int_equal(mpmp_array_free(va), MPMP_EBADF);
  assert_int_equal(mpmp_lock_acquire(vl, 0.5), MPMP_EBADF);
  assert_non_null(strstr(mpmp_errmsg(), "Lock"));
  assert_int_equal(mpmp_lock_free(vl), MPMP_EBADF);
  assert_int_equal(mpmp_sem_release(vs), MPMP_EBADF);
  assert_int_equal(mpmp_event_set(ve), MPMP_EBADF);
  assert_int_equal(mpmp_cond_notify(vc, 1), MPMP_EBADF);
  assert_int_equal(mpmp_barrier_abort(vb), MPMP_EBADF);
  assert_int_equal(mpmp_value_load(av, &x), MPMP_EBADF);
  assert_int_equal(mpmp_value_free(av), MPMP_EBADF);
  assert_int_equal(mpmp_value_store(lv, &x), MPMP_EBADF);
  assert_int_equal(mpmp_value_free(lv), MPMP_EBADF);
  /* all-zero handles: never created */
  memset(&zv, 0, sizeof zv);
  memset(&za, 0, sizeof za);
  memset(&zl, 0, sizeof zl);
  memset(&ze, 0, sizeof ze);
  assert_int_equal(mpmp_value_load(zv, &x), MPMP_EBADF);
  assert_non_null(strstr(mpmp_errmsg(), "never created"));
  assert_int_equal(mpmp_value_add(zv, 1, NULL), MPMP_EBADF);
  assert_int_equal(mpmp_value_free(zv), MPMP_EBADF);
  assert_int_equal(mpmp_value_type(zv), MPMP_EBADF);
  assert_int_equal(mpmp_array_set(za, 0, &x), MPMP_EBADF);
  assert_int_equal(mpmp_array_type(za), MPMP_EBADF);
  assert_int_equal(mpmp_array_free(za), MPMP_EBADF);
  assert_int_equal(mpmp_lock_acquire(zl, 0.5), MPMP_EBADF);
  assert_int_equal(mpmp_event_wait(ze, 0.5), MPMP_EBADF);
  /* the real ones were not touched */
  assert_int_equal(get64(v), 7);
  assert_int_equal(mpmp_value_free(v), 0);
  assert_int_equal(mpmp_array_free(a), 0);
  assert_int_equal(mpmp_lock_free(l), 0);
}

/* =========================================================================
 * 5. Random bytes as handles, to every call of shared.h and sync.h
 * ========================================================================= */

static int pred_true(void *arg) {
  (void)arg;
  return 1;
}

static int every_call_is_ebadf(char *err, const mpmp_ref_t *r) {
  mpmp_value_t v;
  mpmp_array_t a;
  mpmp_lock_t l, lk;
  mpmp_sem_t s;
  mpmp_event_t e;
  mpmp_cond_t c, c2;
  mpmp_barrier_t b;
  unsigned char buf[64] = {0};
  int64_t x = 0;
  double d = 0;
  size_t n = 0;
  void *p = NULL;
  v.ref = a.ref = l.ref = s.ref = e.ref = c.ref = b.ref = *r;
#define BAD(call) EXPECT_RC(call, MPMP_EBADF)
  BAD(mpmp_value_free(v));
  BAD(mpmp_value_type(v));
  BAD(mpmp_value_load(v, buf));
  BAD(mpmp_value_store(v, buf));
  BAD(mpmp_value_add(v, 1, &x));
  BAD(mpmp_value_exchange(v, 1, &x));
  BAD(mpmp_value_cas(v, &x, 1));
  BAD(mpmp_value_get_lock(v, &lk));
  BAD(mpmp_value_get_i64(v, &x));
  BAD(mpmp_value_set_i64(v, 5));
  BAD(mpmp_value_get_f64(v, &d));
  BAD(mpmp_value_set_f64(v, 1.5));
  BAD(mpmp_array_free(a));
  BAD(mpmp_array_len(a, &n));
  BAD(mpmp_array_type(a));
  BAD(mpmp_array_get(a, 0, buf));
  BAD(mpmp_array_set(a, 1, buf));
  BAD(mpmp_array_read(a, 0, 4, buf));
  BAD(mpmp_array_write(a, 1, 4, buf));
  BAD(mpmp_array_add(a, 0, 1, &x));
  BAD(mpmp_array_exchange(a, 0, 1, &x));
  BAD(mpmp_array_cas(a, 0, &x, 1));
  BAD(mpmp_array_get_lock(a, &lk));
  BAD(mpmp_array_data(a, &p));
  BAD(mpmp_lock_free(l));
  BAD(mpmp_lock_acquire(l, 0.2));
  BAD(mpmp_lock_acquire(l, 0));
  BAD(mpmp_lock_release(l));
  BAD(mpmp_lock_is_mine(l));
  BAD(mpmp_sem_free(s));
  BAD(mpmp_sem_acquire(s, 0.2));
  BAD(mpmp_sem_release(s));
  BAD(mpmp_sem_value(s));
  BAD(mpmp_event_free(e));
  BAD(mpmp_event_set(e));
  BAD(mpmp_event_clear(e));
  BAD(mpmp_event_is_set(e));
  BAD(mpmp_event_wait(e, 0.2));
  BAD(mpmp_cond_create(&c2, &l));
  BAD(mpmp_cond_free(c));
  BAD(mpmp_cond_get_lock(c, &lk));
  BAD(mpmp_cond_acquire(c, 0.2));
  BAD(mpmp_cond_release(c));
  BAD(mpmp_cond_wait(c, 0.2));
  BAD(mpmp_cond_wait_for(c, pred_true, NULL, 0.2));
  BAD(mpmp_cond_notify(c, 1));
  BAD(mpmp_cond_notify_all(c));
  BAD(mpmp_barrier_free(b));
  BAD(mpmp_barrier_wait(b, 0.2));
  BAD(mpmp_barrier_abort(b));
  BAD(mpmp_barrier_reset(b));
  BAD(mpmp_barrier_broken(b));
  BAD(mpmp_barrier_n_waiting(b));
  BAD(mpmp_barrier_parties(b));
#undef BAD
  return 0;
}

/* Real objects of every kind; random handles must leave them as they are. */
typedef struct {
  mpmp_value_t v;   /* Value('q', 42) */
  mpmp_array_t a;   /* Array('i', 8): 100 + i */
  mpmp_lock_t l;    /* Lock, free */
  mpmp_sem_t s;     /* Semaphore(3) */
  mpmp_event_t e;   /* Event, clear */
  mpmp_cond_t c;    /* Condition */
  mpmp_barrier_t b; /* Barrier(2) */
  uint64_t seed;
  int rounds;
} victims_t;

static int make_victims(char *err, victims_t *t) {
  int64_t fortytwo = 42;
  int32_t init[8];
  for (int i = 0; i < 8; i++)
    init[i] = 100 + i;
  EXPECT_OK(mpmp_value_create(&t->v, MPMP_INT64, &fortytwo, 1));
  EXPECT_OK(mpmp_array_create(&t->a, MPMP_INT32, 8, init, 1));
  EXPECT_OK(mpmp_lock_create(&t->l));
  EXPECT_OK(mpmp_sem_create(&t->s, 3));
  EXPECT_OK(mpmp_event_create(&t->e));
  EXPECT_OK(mpmp_cond_create(&t->c, NULL));
  EXPECT_OK(mpmp_barrier_create(&t->b, 2));
  return 0;
}

static int check_victims_unchanged(char *err, const victims_t *t) {
  int32_t got[8];
  int64_t x = 0;
  EXPECT_OK(mpmp_value_get_i64(t->v, &x));
  EXPECT(x == 42);
  EXPECT_OK(mpmp_array_read(t->a, 0, 8, got));
  for (int i = 0; i < 8; i++)
    EXPECT(got[i] == 100 + i);
  EXPECT_RC(mpmp_lock_is_mine(t->l), 0);
  /* still a working lock (other bodies may be checking it at once: wait) */
  EXPECT_OK(mpmp_lock_acquire(t->l, 10));
  EXPECT_OK(mpmp_lock_release(t->l));
  EXPECT_RC(mpmp_sem_value(t->s), 3);
  EXPECT_RC(mpmp_event_is_set(t->e), 0);
  EXPECT_OK(mpmp_cond_acquire(t->c, 10));
  EXPECT_OK(mpmp_cond_release(t->c));
  EXPECT_RC(mpmp_barrier_parties(t->b), 2);
  EXPECT_RC(mpmp_barrier_n_waiting(t->b), 0);
  EXPECT_RC(mpmp_barrier_broken(t->b), 0);
  return 0;
}

static int free_victims(char *err, const victims_t *t) {
  EXPECT_OK(mpmp_value_free(t->v));
  EXPECT_OK(mpmp_array_free(t->a));
  EXPECT_OK(mpmp_lock_free(t->l));
  EXPECT_OK(mpmp_sem_free(t->s));
  EXPECT_OK(mpmp_event_free(t->e));
  EXPECT_OK(mpmp_cond_free(t->c));
  EXPECT_OK(mpmp_barrier_free(t->b));
  return 0;
}

/* `rounds` garbage handles of four sorts: random bytes; plausible fields
 * with a wrong tag; a real handle with one bit flipped; a real handle with
 * one field changed and its tag kept. */
static int random_handles(char *err, const victims_t *t) {
  uint64_t s = t->seed;
  const mpmp_ref_t *real[7] = {&t->v.ref, &t->a.ref, &t->l.ref, &t->s.ref,
                               &t->e.ref, &t->c.ref, &t->b.ref};
  for (int i = 0; i < t->rounds; i++) {
    mpmp_ref_t r;
    uint64_t words[3] = {rnd(&s), rnd(&s), rnd(&s)};
    switch (i % 4) {
    case 0:
      memcpy(&r, words, sizeof r);
      break;
    case 1:
      memset(&r, 0, sizeof r);
      r.off = (words[0] % 4096) * 64;
      r.node = (uint32_t)(words[1] % (uint64_t)mpmp_node_count());
      r.gen = (uint32_t)(words[1] >> 32) % 1000 + 1;
      r.kind = (uint16_t)(words[2] % 7 + 1);
      r.type = (uint16_t)((words[2] >> 8) % 11 + 1);
      r.tag = (uint32_t)(words[2] >> 32);
      break;
    case 2: {
      unsigned bit = (unsigned)(words[1] % (sizeof r * 8));
      r = *real[words[0] % 7];
      ((unsigned char *)&r)[bit / 8] ^= (unsigned char)(1u << (bit % 8));
      break;
    }
    default:
      r = *real[words[0] % 7];
      switch (words[1] % 6) {
      case 0: r.off += 64 * (1 + words[2] % 8); break;
      case 1: r.gen += 1 + (uint32_t)(words[2] % 8); break;
      case 2: r.node ^= 1; break;
      case 3: r.kind = (uint16_t)(r.kind % 7 + 1); break;
      case 4: r.type ^= (uint16_t)(1 + words[2] % 15); break;
      default: r.gen = 0; break;
      }
    }
    if (every_call_is_ebadf(err, &r) < 0) {
      size_t len = strlen(err);
      snprintf(err + len, ERRLEN - len, " [garbage handle %d of sort %d]", i,
               i % 4);
      return -1;
    }
  }
  return 0;
}

static void random_handles_are_ebadf_on_the_main_rank(void **state) {
  (void)state;
  victims_t t;
  mpmp_ref_t zero;
  mpmp_heap_info_t h0, h1;
  memset(&t, 0, sizeof t);
  MAIN_CHECK(make_victims(err, &t));
  heap_now(&h0);
  memset(&zero, 0, sizeof zero);
  MAIN_CHECK(every_call_is_ebadf(err, &zero));
  t.seed = 20240611;
  t.rounds = 10000;
  MAIN_CHECK(random_handles(err, &t));
  MAIN_CHECK(check_victims_unchanged(err, &t));
  heap_now(&h1);
  assert_heap_same(&h0, &h1); /* no object was made or freed */
  MAIN_CHECK(free_victims(err, &t));
}

static int random_handles_body(mpmp_ctx_t *ctx) {
  const victims_t *t = mpmp_arg(ctx, NULL);
  BODY_CHECK(ctx, random_handles(err, t));
  BODY_CHECK(ctx, check_victims_unchanged(err, t));
  return 0;
}
MPMP_TASK(random_handles_body);

static void random_handles_are_ebadf_in_worker_bodies(void **state) {
  (void)state;
  victims_t t, args[MAXW];
  group_t g;
  memset(&t, 0, sizeof t);
  MAIN_CHECK(make_victims(err, &t));
  for (int i = 0; i < nworkers(); i++) {
    args[i] = t;
    args[i].seed = 777u + (uint64_t)i;
    args[i].rounds = 2000;
  }
  group_start(&g, nworkers(), random_handles_body, args, sizeof t);
  group_join(&g);
  group_destroy(&g);
  MAIN_CHECK(check_victims_unchanged(err, &t));
  MAIN_CHECK(free_victims(err, &t));
}

/* =========================================================================
 * 6. The node heap
 * ========================================================================= */

enum { K_VALUE, K_ARRAY, K_LOCK, K_RLOCK, K_SEM, K_BSEM, K_EVENT, K_COND,
       K_BARRIER, K_KINDS };

typedef struct {
  int kind, type;
  size_t n;
  int64_t id;
  mpmp_ref_t ref;
} live_t;

/* Make object number id of a random kind, its contents derived from id. */
static int churn_make(char *err, uint64_t *s, live_t *o, int64_t id,
                      unsigned char *scratch) {
  uint64_t r = rnd(s);
  o->id = id;
  o->kind = (int)(r % 12);
  if (o->kind >= K_KINDS) /* Values and Arrays are the most common */
    o->kind = o->kind % 2 ? K_VALUE : K_ARRAY;
  o->type = (int)((r >> 8) % NT);
  o->n = 1;
  int lock = (int)((r >> 16) & 1);
  size_t es = TYPES[o->type].size;
  switch (o->kind) {
  case K_VALUE: {
    mpmp_value_t v;
    EXPECT_OK(mpmp_value_create(&v, TYPES[o->type].t, &id, lock));
    o->ref = v.ref;
    break;
  }
  case K_ARRAY: {
    mpmp_array_t a;
    o->n = 1 + (size_t)((r >> 20) % 4096);
    memcpy(scratch, &id, es);
    memcpy(scratch + (o->n - 1) * es, &id, es);
    EXPECT_OK(mpmp_array_create(&a, TYPES[o->type].t, o->n, scratch, lock));
    memset(scratch, 0, es);
    memset(scratch + (o->n - 1) * es, 0, es);
    o->ref = a.ref;
    break;
  }
  case K_LOCK:
  case K_RLOCK: {
    mpmp_lock_t l;
    EXPECT_OK(o->kind == K_LOCK ? mpmp_lock_create(&l) : mpmp_rlock_create(&l));
    o->ref = l.ref;
    break;
  }
  case K_SEM:
  case K_BSEM: {
    mpmp_sem_t sem;
    unsigned val = (unsigned)(id % 100) + 1;
    EXPECT_OK(o->kind == K_SEM ? mpmp_sem_create(&sem, val)
                               : mpmp_bsem_create(&sem, val));
    o->ref = sem.ref;
    break;
  }
  case K_EVENT: {
    mpmp_event_t e;
    EXPECT_OK(mpmp_event_create(&e));
    if (id % 2)
      EXPECT_OK(mpmp_event_set(e));
    o->ref = e.ref;
    break;
  }
  case K_COND: {
    mpmp_cond_t c;
    EXPECT_OK(mpmp_cond_create(&c, NULL));
    o->ref = c.ref;
    break;
  }
  default: {
    mpmp_barrier_t b;
    EXPECT_OK(mpmp_barrier_create(&b, (unsigned)(id % 7) + 1));
    o->ref = b.ref;
    break;
  }
  }
  return 0;
}

/* Check that the object still holds what it was made with, then free it. */
static int churn_free(char *err, const live_t *o) {
  size_t es = TYPES[o->type].size;
  unsigned char got[8], want[8];
  memcpy(want, &o->id, 8);
  switch (o->kind) {
  case K_VALUE: {
    mpmp_value_t v = {o->ref};
    EXPECT_OK(mpmp_value_load(v, got));
    EXPECT(memcmp(got, want, es) == 0);
    EXPECT_OK(mpmp_value_free(v));
    break;
  }
  case K_ARRAY: {
    mpmp_array_t a = {o->ref};
    size_t n = 0;
    EXPECT_OK(mpmp_array_len(a, &n));
    EXPECT(n == o->n);
    EXPECT_OK(mpmp_array_get(a, 0, got));
    EXPECT(memcmp(got, want, es) == 0);
    EXPECT_OK(mpmp_array_get(a, n - 1, got));
    EXPECT(memcmp(got, want, es) == 0);
    EXPECT_OK(mpmp_array_free(a));
    break;
  }
  case K_LOCK:
  case K_RLOCK: {
    mpmp_lock_t l = {o->ref};
    EXPECT_RC(mpmp_lock_is_mine(l), 0);
    EXPECT_OK(mpmp_lock_free(l));
    break;
  }
  case K_SEM:
  case K_BSEM: {
    mpmp_sem_t sem = {o->ref};
    EXPECT_RC(mpmp_sem_value(sem), (int)(o->id % 100) + 1);
    EXPECT_OK(mpmp_sem_free(sem));
    break;
  }
  case K_EVENT: {
    mpmp_event_t e = {o->ref};
    EXPECT_RC(mpmp_event_is_set(e), (int)(o->id % 2));
    EXPECT_OK(mpmp_event_free(e));
    break;
  }
  case K_COND: {
    mpmp_cond_t c = {o->ref};
    EXPECT_OK(mpmp_cond_free(c));
    break;
  }
  default: {
    mpmp_barrier_t b = {o->ref};
    EXPECT_RC(mpmp_barrier_parties(b), (int)(o->id % 7) + 1);
    EXPECT_OK(mpmp_barrier_free(b));
    break;
  }
  }
  return 0;
}

/* `total` creates with random frees in between, at most `max_live` alive;
 * then everything is freed, in random order. */
static int churn(char *err, uint64_t seed, int64_t total, int max_live,
                 int64_t id0) {
  uint64_t s = seed;
  live_t *live = calloc((size_t)max_live, sizeof *live);
  unsigned char *scratch = calloc(4096, 8);
  int nlive = 0, rc = 0;
  int64_t made = 0;
  if (live == NULL || scratch == NULL) {
    free(live);
    free(scratch);
    snprintf(err, ERRLEN, "out of memory");
    return -1;
  }
  while (rc == 0 && (made < total || nlive > 0)) {
    uint64_t r = rnd(&s);
    int create = made < total && (nlive == 0 || (nlive < max_live && r % 8 < 5));
    if (create) {
      rc = churn_make(err, &s, &live[nlive], id0 + made, scratch);
      if (rc == 0) {
        nlive++;
        made++;
      }
    } else {
      int i = (int)((r >> 8) % (uint64_t)nlive);
      rc = churn_free(err, &live[i]);
      live[i] = live[--nlive];
    }
  }
  free(live);
  free(scratch);
  return rc;
}

static void heap_100000_mixed_objects_leave_it_as_before(void **state) {
  (void)state;
  mpmp_heap_info_t h0, h1;
  heap_now(&h0);
  assert_true(h0.total > 0 && h0.largest_free > 0 && h0.in_use < h0.total);
  MAIN_CHECK(churn(err, 12345, 100000, 1000, 1));
  heap_now(&h1);
  assert_heap_same(&h0, &h1);
}

static void heap_array_bigger_than_the_heap_is_enospc(void **state) {
  (void)state;
  mpmp_heap_info_t h0, h1;
  mpmp_array_t a;
  heap_now(&h0);
  assert_int_equal(mpmp_array_create(&a, MPMP_BYTE, h0.total + 1, NULL, 0),
                   MPMP_ENOSPC);
  assert_non_null(strstr(mpmp_errmsg(), "MPMP_HEAP_SIZE"));
  assert_int_equal(mpmp_array_create(&a, MPMP_INT64, h0.total / 8 + 1, NULL, 1),
                   MPMP_ENOSPC);
  assert_non_null(strstr(mpmp_errmsg(), "MPMP_HEAP_SIZE"));
  assert_int_equal(mpmp_array_create(&a, MPMP_BYTE, h0.largest_free + 1, NULL, 0),
                   MPMP_ENOSPC);
  assert_non_null(strstr(mpmp_errmsg(), "MPMP_HEAP_SIZE"));
  assert_int_equal(mpmp_array_create(&a, MPMP_DOUBLE, SIZE_MAX / 4, NULL, 0),
                   MPMP_ENOSPC);
  heap_now(&h1);
  assert_heap_same(&h0, &h1);
  /* the largest free block really is available */
  assert_int_equal(mpmp_array_create(&a, MPMP_BYTE, h0.largest_free - 64, NULL, 0), 0);
  assert_int_equal(mpmp_array_free(a), 0);
  heap_now(&h1);
  assert_heap_same(&h0, &h1);
}

/* The heap-full message reads whole: the call, the figures, the variable. */
static void heap_full_message_is_intact(void **state) {
  (void)state;
  mpmp_heap_info_t h0;
  mpmp_array_t a;
  heap_now(&h0);
  assert_int_equal(mpmp_array_create(&a, MPMP_BYTE, h0.largest_free + 4096,
                                     NULL, 0), MPMP_ENOSPC);
  assert_non_null(strstr(mpmp_errmsg(), "MPMP_HEAP_SIZE"));
  if (strncmp(mpmp_errmsg(), "mpmp_array_create: the node's shared heap is "
              "full", 48) != 0)
    fail_msg("garbled message: '%s'", mpmp_errmsg());
}

/* A worker tries to make a 64 KiB Array in its node's heap. */
static int try_64k(mpmp_ctx_t *ctx) {
  int *rc = mpmp_out(ctx, 2 * sizeof *rc);
  mpmp_array_t a;
  rc[0] = mpmp_array_create(&a, MPMP_BYTE, 65536, NULL, 0);
  rc[1] = mpmp_node_id();
  if (rc[0] == 0 && mpmp_array_free(a) < 0)
    return mpmp_fail(ctx, "free: %s", mpmp_errmsg());
  if (rc[0] == MPMP_ENOSPC && strstr(mpmp_errmsg(), "MPMP_HEAP_SIZE") == NULL)
    return mpmp_fail(ctx, "message: %s", mpmp_errmsg());
  return 0;
}
MPMP_TASK(try_64k);

static void heap_filled_with_64k_arrays_then_emptied(void **state) {
  (void)state;
  mpmp_heap_info_t h0, h1;
  size_t cap, n = 0;
  mpmp_array_t *arr;
  uint64_t s = 99;
  int rc = 0;
  heap_now(&h0);
  cap = h0.total / 65536 + 16;
  arr = calloc(cap, sizeof *arr);
  assert_non_null(arr);
  while (n < cap) {
    rc = mpmp_array_create(&arr[n], MPMP_BYTE, 65536, NULL, (int)(n % 2));
    if (rc != 0)
      break;
    n++;
  }
  assert_int_equal(rc, MPMP_ENOSPC);
  assert_non_null(strstr(mpmp_errmsg(), "MPMP_HEAP_SIZE"));
  assert_true(n >= h0.largest_free / (65536 + 4096));
  heap_now(&h1);
  assert_int_equal(h1.objects, h0.objects + n);
  assert_true(h1.largest_free < 65536 + 128); /* 64 KiB + a lock: no */
  /* full for every rank of this node; other nodes have heaps of their own */
  group_t g;
  group_start(&g, nworkers(), try_64k, NULL, 0);
  group_join(&g);
  for (int i = 0; i < g.n; i++) {
    const int *r = group_result(&g, i, 2 * sizeof(int));
    assert_int_equal(r[0], r[1] == mpmp_node_id() ? MPMP_ENOSPC : 0);
  }
  group_destroy(&g);
  /* the full heap still serves its objects */
  unsigned char byte = 0x77, got = 0;
  assert_int_equal(mpmp_array_set(arr[n - 1], 65535, &byte), 0);
  assert_int_equal(mpmp_array_get(arr[n - 1], 65535, &got), 0);
  assert_int_equal(got, 0x77);
  for (size_t i = n; i > 1; i--) { /* free in random order */
    size_t j = (size_t)(rnd(&s) % i);
    mpmp_array_t t = arr[j];
    arr[j] = arr[i - 1];
    arr[i - 1] = t;
  }
  for (size_t i = 0; i < n; i++)
    assert_int_equal(mpmp_array_free(arr[i]), 0);
  free(arr);
  heap_now(&h1);
  assert_heap_same(&h0, &h1);
  /* usable again: big and small */
  mpmp_array_t big;
  assert_int_equal(mpmp_array_create(&big, MPMP_INT32, h0.largest_free / 8, NULL, 1), 0);
  assert_int_equal(mpmp_array_set(big, h0.largest_free / 8 - 1, &(int32_t){-9}), 0);
  assert_int_equal(mpmp_array_free(big), 0);
  MAIN_CHECK(churn(err, 5, 2000, 100, 1));
  heap_now(&h1);
  assert_heap_same(&h0, &h1);
}

/* =========================================================================
 * 7. Many ranks on the same objects at once
 * ========================================================================= */

typedef struct {
  mpmp_event_t go;
  mpmp_value_t cm;    /* Value('q') homed on the main rank's node */
  mpmp_value_t cw;    /* Value('q') homed on a worker's node */
  mpmp_array_t slots; /* Array('q', w + 2) homed on the main rank's node */
  int main_node, cw_node;
  int me, nslots;
  int n_local, n_remote;
} adds_args_t;

typedef struct {
  int64_t cm, cw, slot; /* increments done */
} adds_done_t;

static int do_adds(char *err, const adds_args_t *a, adds_done_t *d) {
  int node = mpmp_node_id();
  int ncm = a->main_node == node ? a->n_local : a->n_remote;
  int ncw = a->cw_node == node ? a->n_local : a->n_remote;
  int n = ncm > ncw ? ncm : ncw;
  memset(d, 0, sizeof *d);
  for (int i = 0; i < n; i++) {
    if (i < ncm) {
      EXPECT_OK(mpmp_value_add(a->cm, 1, NULL));
      EXPECT_OK(mpmp_array_add(a->slots, (size_t)a->me, 1, NULL));
      EXPECT_OK(mpmp_array_add(a->slots, (size_t)a->nslots - 1, a->me + 1,
                               NULL));
      d->cm++;
      d->slot++;
    }
    if (i < ncw) {
      EXPECT_OK(mpmp_value_add(a->cw, -1, NULL));
      d->cw++;
    }
  }
  return 0;
}

static int adds_body(mpmp_ctx_t *ctx) {
  const adds_args_t *a = mpmp_arg(ctx, NULL);
  adds_done_t *d = mpmp_out(ctx, sizeof *d);
  int rc = mpmp_event_wait(a->go, T_OUT);
  if (rc != 0)
    return mpmp_fail(ctx, "go: %s", mpmp_errmsg());
  BODY_CHECK(ctx, do_adds(err, a, d));
  return 0;
}
MPMP_TASK(adds_body);

static void concurrent_adds_from_all_workers_and_main(void **state) {
  (void)state;
  int w = nworkers();
  adds_args_t a, args[MAXW];
  adds_done_t mine;
  made_t made;
  group_t g;
  int64_t expect_slot[MAXW + 1] = {0}, shared = 0, cm = 0, cw = 0;
  /* cw: made in a body, so on a worker's node (the other one, pseudo2) */
  group_start(&g, 1, make_objects, NULL, 0);
  group_join(&g);
  made = *(const made_t *)group_result(&g, 0, sizeof made);
  group_destroy(&g);
  memset(&a, 0, sizeof a);
  a.cw = made.counter;
  assert_int_equal(mpmp_value_set_i64(a.cw, 0), 0);
  a.cw_node = made.node;
  a.main_node = mpmp_node_id();
  a.nslots = w + 2;
  a.n_local = 20000;
  a.n_remote = 1000;
  assert_int_equal(mpmp_event_create(&a.go), 0);
  assert_int_equal(mpmp_value_create(&a.cm, MPMP_INT64, NULL, 0), 0);
  assert_int_equal(mpmp_array_create(&a.slots, MPMP_INT64, (size_t)a.nslots,
                                     NULL, 0), 0);
  for (int i = 0; i < w; i++) {
    args[i] = a;
    args[i].me = i;
  }
  group_start(&g, w, adds_body, args, sizeof a);
  a.me = w; /* the main rank's slot */
  assert_int_equal(mpmp_event_set(a.go), 0);
  MAIN_CHECK(do_adds(err, &a, &mine));
  group_join(&g);
  for (int i = 0; i <= w; i++) {
    const adds_done_t *d =
        i < w ? group_result(&g, i, sizeof(adds_done_t)) : &mine;
    cm += d->cm;
    cw += d->cw;
    expect_slot[i] = d->slot;
    shared += d->slot * (i + 1);
  }
  group_destroy(&g);
  int64_t got[MAXW + 2];
  assert_int_equal(get64(a.cm), cm);
  assert_int_equal(get64(a.cw), -cw);
  assert_int_equal(mpmp_array_read(a.slots, 0, (size_t)a.nslots, got), 0);
  for (int i = 0; i <= w; i++)
    assert_int_equal(got[i], expect_slot[i]);
  assert_int_equal(got[a.nslots - 1], shared);
  if (mpmp_node_count() == 1) {
    assert_int_equal(cm, 20000 * (w + 1));
    assert_int_equal(cw, 20000 * (w + 1));
  }
  MAIN_CHECK(free_made_objects(err, &made));
  assert_int_equal(mpmp_value_free(a.cm), 0);
  assert_int_equal(mpmp_array_free(a.slots), 0);
  assert_int_equal(mpmp_event_free(a.go), 0);
}

/* A counter made of compare-and-swap loops, on an int64 Value and on an
 * int16 Array element, from every rank at once. */
typedef struct {
  mpmp_event_t go;
  mpmp_value_t v;  /* Value('q') */
  mpmp_array_t a;  /* Array('h', 4): element 2 counts */
  int main_node, n_local, n_remote;
} cas_args_t;

typedef struct {
  int64_t done, retries;
} cas_done_t;

static int cas_loops(char *err, const cas_args_t *a, cas_done_t *d) {
  int n = mpmp_node_id() == a->main_node ? a->n_local : a->n_remote;
  memset(d, 0, sizeof *d);
  for (int i = 0; i < n; i++) {
    int64_t e = 0;
    int16_t h = 0;
    int rc, tries = 0;
    EXPECT_OK(mpmp_value_get_i64(a->v, &e));
    while ((rc = mpmp_value_cas(a->v, &e, e + 1)) == 0) {
      d->retries++;
      EXPECT(++tries < 1000000);
    }
    EXPECT_RC(rc, 1);
    EXPECT_OK(mpmp_array_get(a->a, 2, &h));
    e = h;
    while ((rc = mpmp_array_cas(a->a, 2, &e, e + 1)) == 0) {
      d->retries++;
      EXPECT(++tries < 1000000);
    }
    EXPECT_RC(rc, 1);
    d->done++;
  }
  return 0;
}

static int cas_body(mpmp_ctx_t *ctx) {
  const cas_args_t *a = mpmp_arg(ctx, NULL);
  cas_done_t *d = mpmp_out(ctx, sizeof *d);
  if (mpmp_event_wait(a->go, T_OUT) != 0)
    return mpmp_fail(ctx, "go: %s", mpmp_errmsg());
  BODY_CHECK(ctx, cas_loops(err, a, d));
  return 0;
}
MPMP_TASK(cas_body);

static void concurrent_cas_loop_counters(void **state) {
  (void)state;
  int w = nworkers();
  cas_args_t a, args[MAXW];
  cas_done_t mine;
  group_t g;
  int64_t total = 0;
  int16_t h[4];
  memset(&a, 0, sizeof a);
  a.main_node = mpmp_node_id();
  a.n_local = 5000; /* 6 ranks x 5000 < 32767: the int16 does not wrap */
  a.n_remote = 500;
  assert_int_equal(mpmp_event_create(&a.go), 0);
  assert_int_equal(mpmp_value_create(&a.v, MPMP_INT64, NULL, 1), 0);
  assert_int_equal(mpmp_array_create(&a.a, MPMP_INT16, 4, NULL, 1), 0);
  for (int i = 0; i < w; i++)
    args[i] = a;
  group_start(&g, w, cas_body, args, sizeof a);
  assert_int_equal(mpmp_event_set(a.go), 0);
  MAIN_CHECK(cas_loops(err, &a, &mine));
  group_join(&g);
  total = mine.done;
  for (int i = 0; i < w; i++)
    total += ((const cas_done_t *)group_result(&g, i, sizeof(cas_done_t)))->done;
  group_destroy(&g);
  assert_int_equal(get64(a.v), total);
  assert_int_equal(mpmp_array_read(a.a, 0, 4, h), 0);
  assert_int_equal(h[2], total);
  assert_int_equal(h[0] | h[1] | h[3], 0);
  if (mpmp_node_count() == 1)
    assert_int_equal(total, 5000 * (w + 1));
  assert_int_equal(mpmp_value_free(a.v), 0);
  assert_int_equal(mpmp_array_free(a.a), 0);
  assert_int_equal(mpmp_event_free(a.go), 0);
}

/* Compound updates under get_lock(): read 4 elements, add, write back, on an
 * Array of the main rank's node and on one made by a worker (the other node
 * under pseudo2); and a double Value += 0.5 (exact in binary). */
typedef struct {
  mpmp_event_t go;
  mpmp_array_t arr;  /* Array('q', 4) of the main rank */
  mpmp_value_t dv;   /* Value('d') of the main rank */
  mpmp_array_t warr; /* Array('i', 16) made by a worker: 3 * i */
  int main_node, warr_node, n_local, n_remote;
} compound_args_t;

typedef struct {
  int64_t main_rounds, worker_rounds;
} compound_done_t;

static int compound_updates(char *err, const compound_args_t *a,
                            compound_done_t *done) {
  int node = mpmp_node_id();
  int n = node == a->main_node ? a->n_local : a->n_remote;
  int nw = node == a->warr_node ? a->n_local : a->n_remote;
  mpmp_lock_t al, dl, wl;
  EXPECT_OK(mpmp_array_get_lock(a->arr, &al));
  EXPECT_OK(mpmp_value_get_lock(a->dv, &dl));
  EXPECT_OK(mpmp_array_get_lock(a->warr, &wl));
  for (int i = 0; i < n || i < nw; i++) {
    int64_t x[4];
    int32_t y[4];
    double d;
    if (i < n) {
      EXPECT_OK(mpmp_lock_acquire(al, T_OUT));
      EXPECT_OK(mpmp_array_read(a->arr, 0, 4, x));
      for (int k = 0; k < 4; k++)
        x[k] += k + 1;
      EXPECT_OK(mpmp_array_write(a->arr, 0, 4, x));
      EXPECT_OK(mpmp_lock_release(al));
      EXPECT_OK(mpmp_lock_acquire(dl, T_OUT));
      EXPECT_OK(mpmp_value_get_f64(a->dv, &d));
      EXPECT_OK(mpmp_value_set_f64(a->dv, d + 0.5));
      EXPECT_OK(mpmp_lock_release(dl));
    }
    if (i < nw) {
      EXPECT_OK(mpmp_lock_acquire(wl, T_OUT));
      EXPECT_OK(mpmp_array_read(a->warr, 4, 4, y));
      for (int k = 0; k < 4; k++)
        y[k] -= k + 1;
      EXPECT_OK(mpmp_array_write(a->warr, 4, 4, y));
      EXPECT_OK(mpmp_lock_release(wl));
    }
  }
  done->main_rounds = n;
  done->worker_rounds = nw;
  return 0;
}

static int compound_body(mpmp_ctx_t *ctx) {
  const compound_args_t *a = mpmp_arg(ctx, NULL);
  compound_done_t *done = mpmp_out(ctx, sizeof *done);
  memset(done, 0, sizeof *done);
  if (mpmp_event_wait(a->go, T_OUT) != 0)
    return mpmp_fail(ctx, "go: %s", mpmp_errmsg());
  BODY_CHECK(ctx, compound_updates(err, a, done));
  return 0;
}
MPMP_TASK(compound_body);

static void concurrent_compound_updates_under_get_lock(void **state) {
  (void)state;
  int w = nworkers();
  compound_args_t a, args[MAXW];
  compound_done_t mine;
  made_t made;
  group_t g;
  int64_t total = 0, wtotal = 0, x[4];
  int32_t y[16];
  double d = 0;
  group_start(&g, 1, make_objects, NULL, 0);
  group_join(&g);
  made = *(const made_t *)group_result(&g, 0, sizeof made);
  group_destroy(&g);
  memset(&a, 0, sizeof a);
  a.main_node = mpmp_node_id();
  a.warr = made.arr;
  a.warr_node = made.node;
  a.n_local = 2000;
  a.n_remote = 200;
  assert_int_equal(mpmp_event_create(&a.go), 0);
  assert_int_equal(mpmp_array_create(&a.arr, MPMP_INT64, 4, NULL, 1), 0);
  assert_int_equal(mpmp_value_create(&a.dv, MPMP_DOUBLE, NULL, 1), 0);
  for (int i = 0; i < w; i++)
    args[i] = a;
  group_start(&g, w, compound_body, args, sizeof a);
  assert_int_equal(mpmp_event_set(a.go), 0);
  MAIN_CHECK(compound_updates(err, &a, &mine));
  group_join(&g);
  total = mine.main_rounds;
  wtotal = mine.worker_rounds;
  for (int i = 0; i < w; i++) {
    const compound_done_t *c = group_result(&g, i, sizeof *c);
    total += c->main_rounds;
    wtotal += c->worker_rounds;
  }
  group_destroy(&g);
  assert_int_equal(mpmp_array_read(a.arr, 0, 4, x), 0);
  for (int k = 0; k < 4; k++)
    assert_int_equal(x[k], total * (k + 1));
  assert_int_equal(mpmp_value_get_f64(a.dv, &d), 0);
  assert_true(d == 0.5 * (double)total);
  assert_int_equal(mpmp_array_read(a.warr, 0, 16, y), 0);
  for (int k = 0; k < 16; k++)
    assert_int_equal(y[k], 3 * k - (k >= 4 && k < 8 ? wtotal * (k - 3) : 0));
  if (mpmp_node_count() == 1)
    assert_true(total == 2000 * (w + 1) && wtotal == total);
  MAIN_CHECK(free_made_objects(err, &made));
  assert_int_equal(mpmp_array_free(a.arr), 0);
  assert_int_equal(mpmp_value_free(a.dv), 0);
  assert_int_equal(mpmp_event_free(a.go), 0);
}

/* Every rank makes and frees objects in its node's heap at once. */
typedef struct {
  mpmp_event_t go;
  uint64_t seed;
  int64_t id0;
} churn_args_t;

static int churn_body(mpmp_ctx_t *ctx) {
  const churn_args_t *a = mpmp_arg(ctx, NULL);
  if (mpmp_event_wait(a->go, T_OUT) != 0)
    return mpmp_fail(ctx, "go: %s", mpmp_errmsg());
  BODY_CHECK(ctx, churn(err, a->seed, 3000, 64, a->id0));
  return 0;
}
MPMP_TASK(churn_body);

static int heap_report(mpmp_ctx_t *ctx) {
  mpmp_heap_info_t *h = mpmp_out(ctx, sizeof *h + sizeof(int));
  if (mpmp_heap_info(h) < 0)
    return mpmp_fail(ctx, "heap_info: %s", mpmp_errmsg());
  *(int *)(void *)(h + 1) = mpmp_node_id();
  return 0;
}
MPMP_TASK(heap_report);

/* The heap of each worker's node, as its body sees it. */
static void worker_heaps(mpmp_heap_info_t *out, int *node) {
  group_t g;
  group_start(&g, nworkers(), heap_report, NULL, 0);
  group_join(&g);
  for (int i = 0; i < g.n; i++) {
    const char *r = group_result(&g, i, sizeof *out + sizeof(int));
    memcpy(&out[i], r, sizeof *out);
    memcpy(&node[i], r + sizeof *out, sizeof(int));
  }
  group_destroy(&g);
}

static void concurrent_heap_churn_on_every_node(void **state) {
  (void)state;
  int w = nworkers(), nodes0[MAXW], nodes1[MAXW];
  mpmp_heap_info_t h0, h1, w0[MAXW], w1[MAXW];
  churn_args_t args[MAXW];
  mpmp_event_t go;
  group_t g;
  heap_now(&h0);
  worker_heaps(w0, nodes0);
  assert_int_equal(mpmp_event_create(&go), 0);
  for (int i = 0; i < w; i++) {
    args[i].go = go;
    args[i].seed = 1000u + (uint64_t)i;
    args[i].id0 = 1000000 * (int64_t)(i + 1);
  }
  group_start(&g, w, churn_body, args, sizeof args[0]);
  assert_int_equal(mpmp_event_set(go), 0);
  MAIN_CHECK(churn(err, 4242, 3000, 64, 1));
  group_join(&g);
  group_destroy(&g);
  assert_int_equal(mpmp_event_free(go), 0);
  heap_now(&h1);
  assert_heap_same(&h0, &h1);
  worker_heaps(w1, nodes1);
  for (int i = 0; i < w; i++)
    for (int j = 0; j < w; j++)
      if (nodes1[j] == nodes0[i])
        assert_heap_same(&w0[i], &w1[j]);
}

static const struct CMUnitTest tests[] = {
    /* 1. tutorials */
    cmocka_unit_test(tutorial_locked_counter_reads_40000),
    cmocka_unit_test(tutorial_two_processes_add_100000),
    cmocka_unit_test(tutorial_shared_value_and_arrays_under_lock),
    cmocka_unit_test(tutorial_value_10_plus_one_is_11),
    cmocka_unit_test(tutorial_worker_reads_shared_doubles),
    cmocka_unit_test(tutorial_worker_doubles_array_in_place),
    /* 2. types */
    cmocka_unit_test(types_typecodes_sizes_and_names),
    cmocka_unit_test(types_every_type_on_the_main_rank),
    cmocka_unit_test(types_every_type_from_every_rank_on_every_node),
    cmocka_unit_test(types_byte_arrays_are_raw_bytes),
    /* 3. objects of every node */
    cmocka_unit_test(objects_made_in_bodies_used_and_freed_by_main),
    cmocka_unit_test(objects_made_by_one_worker_used_by_another),
    cmocka_unit_test(errors_array_data_only_on_the_home_node),
    /* 4. errors */
    cmocka_unit_test(errors_out_of_range_and_null_buffers),
    cmocka_unit_test(errors_huge_slice_is_out_of_range_from_every_node),
    cmocka_unit_test(errors_bad_create_arguments),
    cmocka_unit_test(errors_raw_objects_have_no_lock),
    cmocka_unit_test(errors_lock_of_a_value_goes_with_it),
    cmocka_unit_test(errors_use_after_free_and_double_free),
    cmocka_unit_test(errors_type_of_a_freed_object_is_ebadf),
    cmocka_unit_test(errors_sync_objects_use_after_free),
    cmocka_unit_test(errors_handle_of_another_kind_is_ebadf),
    /* 5. garbage handles */
    cmocka_unit_test(random_handles_are_ebadf_on_the_main_rank),
    cmocka_unit_test(random_handles_are_ebadf_in_worker_bodies),
    /* 6. the heap */
    cmocka_unit_test(heap_100000_mixed_objects_leave_it_as_before),
    cmocka_unit_test(heap_array_bigger_than_the_heap_is_enospc),
    cmocka_unit_test(heap_full_message_is_intact),
    cmocka_unit_test(heap_filled_with_64k_arrays_then_emptied),
    /* 7. concurrency */
    cmocka_unit_test(concurrent_adds_from_all_workers_and_main),
    cmocka_unit_test(concurrent_cas_loop_counters),
    cmocka_unit_test(concurrent_compound_updates_under_get_lock),
    cmocka_unit_test(concurrent_heap_churn_on_every_node),
};
MPMP_TEST_MAIN(tests)
