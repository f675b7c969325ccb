/* Shared objects (mpmp/shared.h) of every element type: typecodes,
 * sizes and names, every operation of each type on the main rank and from
 * every rank on every node, byte arrays as raw bytes.
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
  /* an expected that no value of the type equals never matches (it
   * compared the bits it truncates to: -1 matched a uint8's 255, 300 an
   * int8's 44) */
  if (bits < 64) {
    int64_t now = ti->is_signed ? 44 : mx;
    EXPECT_OK(mpmp_value_set_i64(v, now));
    e = ti->is_signed ? 44 + ((int64_t)1 << bits) : -1;
    EXPECT_RC(mpmp_value_cas(v, &e, 9), 0);
    EXPECT(e == now);
    EXPECT_OK(mpmp_value_get_i64(v, &x));
    EXPECT(x == now);
  }
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
  if (es < 8) { /* 3 + 2^bits truncates to 3, but is not 3 */
    e = 3 + ((int64_t)1 << (es * 8));
    EXPECT_RC(mpmp_array_cas(a, 5, &e, 4), 0);
    EXPECT(e == 3);
  }
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
    /* a negative double wraps, as into every narrower unsigned type
     * (ctypes: c_uint64(int(-1.0)).value is 2^64 - 1); it was EINVAL */
    EXPECT_OK(mpmp_value_set_f64(v, -1.0));
    EXPECT_OK(mpmp_value_get_i64(v, &x));
    EXPECT(x == -1);
    EXPECT_OK(mpmp_value_set_f64(v, -5e18));
    EXPECT_OK(mpmp_value_get_i64(v, &x));
    EXPECT(x == (int64_t)-5000000000000000000LL);
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
  test_fill_pattern(in, es, 1);
  EXPECT_OK(mpmp_value_store(v, in));
  memset(out, 0xEE, sizeof out);
  EXPECT_OK(mpmp_value_load(v, out));
  EXPECT(memcmp(in, out, es) == 0);
  EXPECT(out[es] == 0xEE);
  /* whole array */
  test_fill_pattern(in, 8 * es, 2);
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
  test_fill_pattern(in2, es, 3);
  EXPECT_OK(mpmp_array_set(a, 3, in2));
  memset(out, 0xEE, sizeof out);
  EXPECT_OK(mpmp_array_read(a, 2, 3, out));
  EXPECT(memcmp(out, in + 2 * es, es) == 0);
  EXPECT(memcmp(out + es, in2, es) == 0);
  EXPECT(memcmp(out + 2 * es, in + 4 * es, es) == 0);
  EXPECT(out[3 * es] == 0xEE);
  /* write a slice at the end: the rest stays */
  test_fill_pattern(in3, 3 * es, 4);
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
    test_fill_pattern(in, es, 5);
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

/* A slice moved within its own Array (Python's a[1:] = a[:-1]): the
 * buffer is the Array's memory, through mpmp_array_data(). */
static void types_slice_within_its_own_array(void **state) {
  (void)state;
  enum { N = 5000 };
  mpmp_array_t a;
  int32_t *d = NULL;
  assert_int_equal(mpmp_array_create(&a, MPMP_INT32, N, NULL, 0), 0);
  assert_int_equal(mpmp_array_data(a, (void **)&d), 0);
  for (int i = 0; i < N; i++)
    d[i] = i;
  assert_int_equal(mpmp_array_write(a, 1, N - 1, d), 0); /* a[1:] = a[:-1] */
  assert_int_equal(d[0], 0);
  for (int i = 1; i < N; i++)
    assert_int_equal(d[i], i - 1);
  assert_int_equal(mpmp_array_read(a, 1, N - 1, d), 0); /* a[:-1] = a[1:] */
  for (int i = 0; i < N - 1; i++)
    assert_int_equal(d[i], i);
  assert_int_equal(mpmp_array_free(a), 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(types_typecodes_sizes_and_names),
    cmocka_unit_test(types_every_type_on_the_main_rank),
    cmocka_unit_test(types_every_type_from_every_rank_on_every_node),
    cmocka_unit_test(types_byte_arrays_are_raw_bytes),
    cmocka_unit_test(types_slice_within_its_own_array),
};

MPMP_TEST_MAIN(tests)
