/* ShareableList (mpmp/shm.h): Python's documentation example, a worker
 * attaching by name and changing items, types, ranges and errors.
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
 * 5. ShareableList
 * ========================================================================= */

/* a = ShareableList(['howdy', b'HoWdY', -273.154, 100, None, True, 42]) */
static void sl_python_docs_example(void **state) {
  (void)state;
  mpmp_sl_item_t items[] = {mpmp_sl_str("howdy"),
                            mpmp_sl_bytes("HoWdY", 5, 0),
                            mpmp_sl_float(-273.154), mpmp_sl_int(100),
                            mpmp_sl_none(), mpmp_sl_bool(1), mpmp_sl_int(42)};
  mpmp_sharelist_t *sl = NULL;
  OK(mpmp_sharelist_create(&sl, NULL, items, 7));
  size_t n = 0;
  OK(mpmp_sharelist_len(sl, &n));
  assert_int_equal(n, 7);
  assert_int_equal(mpmp_sharelist_type(sl, 0), MPMP_SL_BYTES);
  assert_int_equal(mpmp_sharelist_type(sl, 2), MPMP_DOUBLE);
  assert_int_equal(mpmp_sharelist_type(sl, 3), MPMP_INT64);
  assert_int_equal(mpmp_sharelist_type(sl, 5), MPMP_SL_BOOL);
  assert_int_equal(mpmp_sharelist_type(sl, 4), MPMP_SL_NONE);
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
  v = mpmp_sl_none();
  OK(mpmp_sharelist_index(sl, &v, &idx));
  assert_int_equal(idx, 4);
  v = mpmp_sl_str(""); /* None is not b'' */
  RC(mpmp_sharelist_index(sl, &v, &idx), MPMP_EINVAL);
  v = mpmp_sl_float(-78.5);
  OK(mpmp_sharelist_index(sl, &v, &idx));
  assert_int_equal(idx, 2);
  assert_memory_equal(mpmp_sharelist_name(sl), "psm_", 4);
  assert_non_null(mpmp_sharelist_shm(sl));
  OK(mpmp_sharelist_unlink(sl));
  OK(mpmp_sharelist_close(sl));
}

/* CPython's test_shared_memory_ShareableList_basics: negative indices
 * (sl[-2] is True), a bool item, a None item, count() across types; here
 * with other values: [b'x', None, False, 7, True, -0.5]. */
static void sl_negative_indices_bool_none(void **state) {
  (void)state;
  mpmp_sl_item_t items[] = {mpmp_sl_str("x"), mpmp_sl_none(),
                            mpmp_sl_bool(0), mpmp_sl_int(7), mpmp_sl_bool(1),
                            mpmp_sl_float(-0.5)};
  mpmp_sharelist_t *sl = NULL;
  OK(mpmp_sharelist_create(&sl, NULL, items, 6));
  /* sl[-1], sl[-6]; sl[-7] and sl[6] are IndexError */
  double f = 0;
  OK(mpmp_sharelist_get_f64(sl, -1, &f));
  assert_true(f == -0.5);
  char buf[4];
  size_t len = 0;
  OK(mpmp_sharelist_get_bytes(sl, -6, buf, sizeof buf, &len));
  assert_int_equal(len, 1);
  assert_int_equal(mpmp_sharelist_type(sl, -5), MPMP_SL_NONE);
  RC(mpmp_sharelist_type(sl, -7), MPMP_EINVAL);
  HAS_MSG("index -7 out of range");
  HAS_MSG("IndexError");
  RC(mpmp_sharelist_get_f64(sl, 6, &f), MPMP_EINVAL);
  RC(mpmp_sharelist_set_i64(sl, INT64_MIN, 1), MPMP_EINVAL);
  /* sl[-3] = 8; sl[-2] is True; sl[-4] = True */
  OK(mpmp_sharelist_set_i64(sl, -3, 8));
  int64_t x = 0;
  OK(mpmp_sharelist_get_i64(sl, 3, &x));
  assert_int_equal(x, 8);
  int b = -1;
  OK(mpmp_sharelist_get_bool(sl, -2, &b));
  assert_int_equal(b, 1);
  OK(mpmp_sharelist_get_bool(sl, 2, &b));
  assert_int_equal(b, 0);
  OK(mpmp_sharelist_set_bool(sl, -4, 5)); /* truthy: True */
  OK(mpmp_sharelist_get_bool(sl, 2, &b));
  assert_int_equal(b, 1);
  /* a bool is not an integer item here, nor None anything */
  RC(mpmp_sharelist_get_i64(sl, 2, &x), MPMP_EINVAL);
  HAS_MSG("is a bool");
  RC(mpmp_sharelist_get_bool(sl, 3, &b), MPMP_EINVAL);
  RC(mpmp_sharelist_get_bool(sl, 1, &b), MPMP_EINVAL);
  HAS_MSG("is a None");
  RC(mpmp_sharelist_set_bytes(sl, 1, "a", 1), MPMP_EINVAL);
  assert_int_equal(mpmp_sharelist_is_none(sl, 1), 1);
  assert_int_equal(mpmp_sharelist_is_none(sl, -1), 0);
  RC(mpmp_sharelist_is_none(sl, 6), MPMP_EINVAL);
  /* count: True == 1 == 1.0 (two Trues now), None == None only */
  size_t count = 0, idx = 0;
  mpmp_sl_item_t v = mpmp_sl_int(1);
  OK(mpmp_sharelist_count(sl, &v, &count));
  assert_int_equal(count, 2);
  v = mpmp_sl_float(1.0);
  OK(mpmp_sharelist_count(sl, &v, &count));
  assert_int_equal(count, 2);
  v = mpmp_sl_bool(1);
  OK(mpmp_sharelist_index(sl, &v, &idx));
  assert_int_equal(idx, 2);
  v = mpmp_sl_bool(0);
  OK(mpmp_sharelist_count(sl, &v, &count));
  assert_int_equal(count, 0);
  v = mpmp_sl_none();
  OK(mpmp_sharelist_count(sl, &v, &count));
  assert_int_equal(count, 1);
  v = mpmp_sl_int(0); /* None is not 0 */
  OK(mpmp_sharelist_count(sl, &v, &count));
  assert_int_equal(count, 0);
  /* a bool item must be 0 or 1 */
  mpmp_sl_item_t bad = mpmp_sl_bool(1);
  bad.i = 2;
  mpmp_sharelist_t *sl2 = NULL;
  RC(mpmp_sharelist_create(&sl2, NULL, &bad, 1), MPMP_EINVAL);
  HAS_MSG("a bool is 0 or 1");
  OK(mpmp_sharelist_unlink(sl));
  OK(mpmp_sharelist_close(sl));
}

typedef struct {
  place_t w;
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
  HAS_MSG("index 11 out of range (the list has 11 items; IndexError)");
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
  /* a list whose item offset was damaged to wrap the end check (2^64 - 8:
   * it passed, and reading the item faulted) */
  mpmp_sl_item_t one = mpmp_sl_int(1);
  OK(mpmp_sharelist_create(&sl, "damaged-list", &one, 1));
  OK(mpmp_shm_attach(&raw, "damaged-list"));
  uint64_t bad_off = UINT64_MAX - 7; /* after the 32-byte head: type, cap */
  memcpy((char *)mpmp_shm_buf(raw) + 32 + 8, &bad_off, sizeof bad_off);
  mpmp_sharelist_t *dam = NULL;
  RC(mpmp_sharelist_attach(&dam, "damaged-list"), MPMP_EINVAL);
  assert_null(dam);
  HAS_MSG("'damaged-list' is not a ShareableList");
  OK(mpmp_shm_close(raw));
  OK(mpmp_sharelist_unlink(sl));
  OK(mpmp_sharelist_close(sl));
  RC(mpmp_sharelist_attach(&sl, "never-made"), MPMP_SHM_ENOENT);
  HAS_MSG("mpmp_sharelist_attach: no SharedMemory block named 'never-made'");
  RC(mpmp_sharelist_close(NULL), 0);
  RC(mpmp_sharelist_len(NULL, &n), MPMP_EINVAL);
  RC(mpmp_sharelist_count(NULL, &q, &count), MPMP_EINVAL);
  assert_string_equal(mpmp_sharelist_name(NULL), "");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(sl_python_docs_example),
    cmocka_unit_test(sl_negative_indices_bool_none),
    cmocka_unit_test(sl_worker_attaches_by_name_and_changes_items),
    cmocka_unit_test(sl_types_ranges_and_errors),
};

MPMP_TEST_MAIN(tests)
