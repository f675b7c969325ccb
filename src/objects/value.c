/*
 * Value, Array, RawValue, RawArray (mpmp/shared.h): typed elements in an
 * object's body, read and written with C11-style atomics (GCC's __atomic
 * builtins on the element's own width), so they are safe across ranks
 * without a lock; the locked variants add an RLock for compound updates.
 * A Value is an Array of one element: both share every operation.
 */
#include <inttypes.h>
#include <string.h>

#include "object.h"

static const struct {
  char code;
  uint8_t size, is_int, is_signed;
  const char *name;
} types[] = {
    [MPMP_INT8] = {'b', 1, 1, 1, "int8"},
    [MPMP_UINT8] = {'B', 1, 1, 0, "uint8"},
    [MPMP_INT16] = {'h', 2, 1, 1, "int16"},
    [MPMP_UINT16] = {'H', 2, 1, 0, "uint16"},
    [MPMP_INT32] = {'i', 4, 1, 1, "int32"},
    [MPMP_UINT32] = {'I', 4, 1, 0, "uint32"},
    [MPMP_INT64] = {'q', 8, 1, 1, "int64"},
    [MPMP_UINT64] = {'Q', 8, 1, 0, "uint64"},
    [MPMP_FLOAT] = {'f', 4, 0, 0, "float"},
    [MPMP_DOUBLE] = {'d', 8, 0, 0, "double"},
    [MPMP_BYTE] = {'c', 1, 0, 0, "byte"},
};
#define NTYPES ((int)(sizeof types / sizeof types[0]))

static int type_ok(int t) { return t > 0 && t < NTYPES; }

MPMP_API mpmp_type_t mpmp_typecode(char code) {
  if (code == 'l' || code == 'L') /* C long: 64 bits on LP64 */
    return sizeof(long) == 8 ? (code == 'l' ? MPMP_INT64 : MPMP_UINT64)
                             : (code == 'l' ? MPMP_INT32 : MPMP_UINT32);
  for (int t = 1; t < NTYPES; t++)
    if (types[t].code == code)
      return (mpmp_type_t)t;
  return (mpmp_type_t)0;
}

MPMP_API size_t mpmp_type_size(mpmp_type_t t) {
  return type_ok((int)t) ? types[t].size : 0;
}

MPMP_API const char *mpmp_type_name(mpmp_type_t t) {
  return type_ok((int)t) ? types[t].name : "?";
}

/* ---- element access at the element's width ------------------------------- */

static uint64_t ld(const void *p, unsigned size) {
  switch (size) {
  case 1: return __atomic_load_n((const uint8_t *)p, __ATOMIC_ACQUIRE);
  case 2: return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
  case 4: return __atomic_load_n((const uint32_t *)p, __ATOMIC_ACQUIRE);
  default: return __atomic_load_n((const uint64_t *)p, __ATOMIC_ACQUIRE);
  }
}

static void st(void *p, unsigned size, uint64_t v) {
  switch (size) {
  case 1: __atomic_store_n((uint8_t *)p, (uint8_t)v, __ATOMIC_RELEASE); break;
  case 2: __atomic_store_n((uint16_t *)p, (uint16_t)v, __ATOMIC_RELEASE); break;
  case 4: __atomic_store_n((uint32_t *)p, (uint32_t)v, __ATOMIC_RELEASE); break;
  default: __atomic_store_n((uint64_t *)p, v, __ATOMIC_RELEASE); break;
  }
}

#define RMW(fn, T, p, v) fn((T *)(p), (T)(v), __ATOMIC_SEQ_CST)
static uint64_t fetch_add(void *p, unsigned size, uint64_t v) {
  switch (size) {
  case 1: return RMW(__atomic_fetch_add, uint8_t, p, v);
  case 2: return RMW(__atomic_fetch_add, uint16_t, p, v);
  case 4: return RMW(__atomic_fetch_add, uint32_t, p, v);
  default: return RMW(__atomic_fetch_add, uint64_t, p, v);
  }
}

static uint64_t exchange(void *p, unsigned size, uint64_t v) {
  switch (size) {
  case 1: return RMW(__atomic_exchange_n, uint8_t, p, v);
  case 2: return RMW(__atomic_exchange_n, uint16_t, p, v);
  case 4: return RMW(__atomic_exchange_n, uint32_t, p, v);
  default: return RMW(__atomic_exchange_n, uint64_t, p, v);
  }
}
#undef RMW

#define CAS(T)                                                              \
  do {                                                                      \
    T e = (T)*expected;                                                     \
    int ok = __atomic_compare_exchange_n((T *)p, &e, (T)desired, 0,         \
                                         __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); \
    *expected = e;                                                          \
    return ok;                                                              \
  } while (0)
static int cas(void *p, unsigned size, uint64_t *expected, uint64_t desired) {
  switch (size) {
  case 1: CAS(uint8_t);
  case 2: CAS(uint16_t);
  case 4: CAS(uint32_t);
  default: CAS(uint64_t);
  }
}
#undef CAS

/* The raw bits of an integer element as int64_t, sign- or zero-extended. */
static int64_t widen(uint64_t raw, int type) {
  unsigned bits = types[type].size * 8u;
  if (bits == 64)
    return (int64_t)raw;
  raw &= (1ull << bits) - 1;
  if (types[type].is_signed && (raw >> (bits - 1)))
    return (int64_t)(raw | ~((1ull << bits) - 1));
  return (int64_t)raw;
}

/* ---- operations (run on the home node) ------------------------------------ */

static char *elem(mpmp__obj_t *o, uint64_t i) {
  return (char *)mpmp__obj_data(o) + i * o->esize;
}

/* One element, at its own width: the operations below and the hot paths
 * of the public calls share these. */
static void load_one(mpmp__obj_t *o, uint64_t i, void *out) {
  uint64_t v = ld(elem(o, i), o->esize);
  memcpy(out, &v, o->esize); /* little-endian: the low bytes */
}

static void store_one(mpmp__obj_t *o, uint64_t i, const void *in) {
  uint64_t v = 0;
  memcpy(&v, in, o->esize);
  st(elem(o, i), o->esize, v);
}

/* Integer element i: add x, exchange it for x, or (CAS) make it y if it
 * is x. *r0 = its value before; returns the CAS's success, else 0.
 * Always inlined: each caller passes a constant op, and the hot path of
 * mpmp_value_add is then the one atomic instruction. */
__attribute__((always_inline)) static inline int
rmw_one(mpmp__obj_t *o, int op, uint64_t i, int64_t x, int64_t y,
        int64_t *r0) {
  void *p = elem(o, i);
  uint64_t was = (uint64_t)x;
  int rc = 0;
  if (op == MPMP__OP_ADD)
    was = fetch_add(p, o->esize, (uint64_t)x);
  else if (op == MPMP__OP_XCHG)
    was = exchange(p, o->esize, (uint64_t)x);
  else if (widen((uint64_t)x, o->type) != x) /* no value of the type */
    was = ld(p, o->esize); /* equals it: the swap fails (it compared the
                            * truncated bits: -1 matched a uint8's 255) */
  else
    rc = cas(p, o->esize, &was, (uint64_t)y);
  *r0 = widen(was, o->type);
  return rc;
}

static int op_load(mpmp__obj_t *o, mpmp__oparg_t *a) {
  int rc = mpmp__elem_bounds(o, a);
  if (rc < 0)
    return rc;
  size_t bytes = a->n * o->esize;
  if (a->n == 1)
    load_one(o, a->i, a->out);
  else /* (a long copy shows the call: object.h) */
    mpmp__obj_copy(a->out, elem(o, a->i), bytes);
  a->out_len = bytes;
  return 0;
}

static int op_store(mpmp__obj_t *o, mpmp__oparg_t *a) {
  int rc = mpmp__elem_bounds(o, a);
  if (rc < 0)
    return rc;
  if (a->n == 1) {
    store_one(o, a->i, a->in);
  } else {
    mpmp__obj_copy(elem(o, a->i), a->in, a->n * o->esize);
    __atomic_thread_fence(__ATOMIC_RELEASE);
  }
  return 0;
}

/* ADD, XCHG and CAS */
static int op_rmw(mpmp__obj_t *o, mpmp__oparg_t *a, int op) {
  int rc = mpmp__elem_bounds(o, a);
  return rc < 0 ? rc : rmw_one(o, op, a->i, a->x, a->y, &a->r0);
}

static int op_add(mpmp__obj_t *o, mpmp__oparg_t *a) {
  return op_rmw(o, a, MPMP__OP_ADD);
}

static int op_xchg(mpmp__obj_t *o, mpmp__oparg_t *a) {
  return op_rmw(o, a, MPMP__OP_XCHG);
}

static int op_cas(mpmp__obj_t *o, mpmp__oparg_t *a) {
  return op_rmw(o, a, MPMP__OP_CAS);
}

void mpmp__value_setup(int is_main) {
  (void)is_main;
  mpmp__op_register(MPMP__OP_LOAD, op_load, MPMP__OPB_NO);
  mpmp__op_register(MPMP__OP_STORE, op_store, MPMP__OPB_NO);
  mpmp__op_register(MPMP__OP_ADD, op_add, MPMP__OPB_NO);
  mpmp__op_register(MPMP__OP_XCHG, op_xchg, MPMP__OPB_NO);
  mpmp__op_register(MPMP__OP_CAS, op_cas, MPMP__OPB_NO);
}

/* ---- the public calls -------------------------------------------------------- */

static int create_in(mpmp_ref_t *ref, int kind, mpmp_type_t type, size_t n,
                     const void *init, int lock, const char *fn);

/* Guarded against a finalize in another thread (object.h). */
static int create(mpmp_ref_t *ref, int kind, mpmp_type_t type, size_t n,
                  const void *init, int lock, const char *fn) {
  if ((const void *)ref != init) /* (init is read before it is written) */
    mpmp__ref_clear(ref);
  int rc = mpmp__obj_guard(fn);
  return rc < 0 ? rc : mpmp__obj_unguard(create_in(ref, kind, type, n, init,
                                                   lock, fn));
}

static int create_in(mpmp_ref_t *ref, int kind, mpmp_type_t type, size_t n,
                     const void *init, int lock, const char *fn) {
  if (!type_ok((int)type))
    return mpmp__err(MPMP_EINVAL, "%s: %d is not an element type (use "
                     "MPMP_INT32, MPMP_DOUBLE, ... or mpmp_typecode('i'))",
                     fn, (int)type);
  if (n == 0)
    return mpmp__err(MPMP_EINVAL, "%s: an Array needs at least 1 element", fn);
  size_t es = types[type].size;
  if (n > (size_t)PTRDIFF_MAX / es) /* no memory holds it: a mistake */
    return mpmp__err(MPMP_EINVAL, "%s: %zu elements of %zu bytes cannot be "
                     "in memory (is n a negative count cast to size_t?)", fn,
                     n, es);
  int rc = mpmp__check_extent(init, n, es, "the initial values", fn);
  if (rc < 0) /* (before the object is made: nothing to undo) */
    return rc;
  mpmp__obj_t *o;
  rc = mpmp__obj_create(ref, kind, (int)type, n, (uint32_t)es, n * es,
                            lock != 0, &o, fn);
  if (rc == 0 && init != NULL)
    memcpy(mpmp__obj_data(o), init, n * es);
  return rc;
}

/* Check the handle (and, for arithmetic, its type), then run op. */
static int elem_call(const mpmp_ref_t *ref, int kind, int op, size_t i,
                     size_t n, mpmp__oparg_t *a, int arith, const char *fn) {
  /* The type is looked at before the handle is checked (mpmp__obj_call
   * does that): a type out of range is a bad handle, reported as such. */
  if (arith && !(ref->type < NTYPES && types[ref->type].is_int)) {
    int rc = mpmp__check_init(fn); /* (after finalize: that first) */
    if (rc == 0)
      rc = mpmp__ref_check(ref, kind, fn);
    if (rc < 0)
      return rc;
    return mpmp__err(MPMP_EINVAL, "%s: a %s %s has no atomic arithmetic "
                     "(only integer types do): use get_lock() with "
                     "load/store", fn, types[ref->type].name,
                     kind == MPMP__K_VALUE ? "Value" : "Array");
  }
  a->i = i;
  a->n = n;
  a->deadline = 0;
  return mpmp__obj_call(ref, kind, op, a, fn);
}

static int slice_too_long(const mpmp_ref_t *ref, int kind, size_t i,
                          size_t n, size_t es, int keep, const char *fn);

static int rw(const mpmp_ref_t *ref, int kind, int op, size_t i, size_t n,
              void *out, const void *in, const char *fn) {
  mpmp__obj_t *o = n == 1 && (out != NULL || in != NULL)
                       ? mpmp__obj_local(ref, kind) : NULL;
  if (o != NULL && i < o->n) { /* the hot path: one element, here */
    /* (an element that crosses into a page not mapped: refused, not a
     * crash; within one page this costs one comparison) */
    int rc = mpmp__check_extent(out ? (const void *)out : in, 1,
                                types[ref->type].size, "the buffer", fn);
    if (rc < 0)
      return rc;
    if (op == MPMP__OP_LOAD)
      load_one(o, i, out);
    else
      store_one(o, i, in);
    return 0;
  }
  int rc = mpmp__ref_check(ref, kind, fn);
  if (rc < 0)
    return rc;
  if (out == NULL && in == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the buffer is NULL", fn);
  if (n == 0) /* nothing to move, but the handle must still be alive */
    return mpmp__obj_alive(ref, kind, fn);
  size_t es = types[ref->type].size;
  /* (from another node, more than one operation carries is out of range
   * too: an Array homed elsewhere is reached in slices under 2 GiB) */
  if (n > SIZE_MAX / es ||
      (!mpmp__ref_is_local(ref) && n * es > (size_t)INT32_MAX / 2))
    return slice_too_long(ref, kind, i, n, es, 0, fn);
  if ((rc = mpmp__check_extent(out ? (const void *)out : in, n, es,
                               "the buffer", fn)) < 0)
    return slice_too_long(ref, kind, i, n, es, rc, fn); /* (out of range:
                                          the slice, not the buffer, is wrong) */
  /* a store of one element of another node does not wait (object.c,
   * "Pipelined puts"), once one went the ordinary way */
  int far = op == MPMP__OP_STORE && n == 1 && !mpmp__ref_is_local(ref);
  if (far && (rc = mpmp__obj_elem_pipelined(ref, op, i, 0, in, es, fn)) != 0)
    return rc < 0 ? rc : 0;
  mpmp__oparg_t a = {.out = out, .out_max = out ? n * es : 0, .in = in,
                     .in_len = in ? n * es : 0};
  rc = elem_call(ref, kind, op, i, n, &a, 0, fn);
  if (rc >= 0 && far)
    mpmp__obj_elem_learn(ref, op, i);
  else if (far)
    rc = mpmp__obj_pl_after(ref, rc, fn);
  return rc;
}

/* Add, exchange, compare-exchange. The common case (an integer element of
 * an object on this node) goes straight to the atomic: a handful of
 * nanoseconds over the bare instruction. */
static inline int rmw(const mpmp_ref_t *ref, int kind, int op, size_t i,
                      int64_t x, int64_t y, int64_t *r0, const char *fn) {
  mpmp__obj_t *o = mpmp__obj_local(ref, kind);
  if (o != NULL && i < o->n && types[o->type].is_int) {
    int64_t was;
    int rc = rmw_one(o, op, i, x, y, &was);
    if (r0 != NULL)
      *r0 = was;
    return rc;
  }
  /* an add of another node's element whose old value is not wanted does
   * not wait (object.c, "Pipelined puts"), once one such add went the
   * ordinary way */
  int far = op == MPMP__OP_ADD && r0 == NULL && o == NULL &&
            !mpmp__ref_is_local(ref);
  if (far) { /* (a handle that is not one fails here, as it would there) */
    int rc = mpmp__check_init(fn);
    if (rc == 0)
      rc = mpmp__ref_check(ref, kind, fn);
    if (rc == 0)
      rc = mpmp__obj_elem_pipelined(ref, MPMP__OP_ADD, i, x, NULL, 0, fn);
    if (rc != 0)
      return rc < 0 ? rc : 0;
  }
  mpmp__oparg_t a = {.x = x, .y = y};
  int rc = elem_call(ref, kind, op, i, 1, &a, 1, fn);
  if (rc >= 0 && r0 != NULL)
    *r0 = a.r0;
  if (rc >= 0 && far)
    mpmp__obj_elem_learn(ref, MPMP__OP_ADD, i);
  else if (far)
    rc = mpmp__obj_pl_after(ref, rc, fn);
  return rc;
}

static int info(const mpmp_ref_t *ref, int kind, int64_t *n, int64_t *flags,
                const char *fn) {
  mpmp__oparg_t a = {0};
  int rc;
  if ((rc = mpmp__check_init(fn)) < 0 ||
      (rc = mpmp__ref_check(ref, kind, fn)) < 0)
    return rc;
  if (mpmp__ref_is_local(ref)) { /* no call needed: read the header */
    mpmp__obj_t *o = mpmp__obj_resolve(ref);
    if (o == NULL)
      return mpmp__err(MPMP_EBADF, "%s: stale handle: the object was freed",
                       fn);
    *n = (int64_t)o->n;
    *flags = o->flags;
    return 0;
  }
  rc = mpmp__obj_call(ref, kind, MPMP__OP_INFO, &a, fn);
  *n = a.r0;
  *flags = a.r1 >> 16;
  return rc;
}

static int get_lock(const mpmp_ref_t *ref, int kind, mpmp_lock_t *lock,
                    const char *fn) {
  int64_t n = 0, flags = 0;
  if (lock == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: lock is NULL", fn);
  int rc = info(ref, kind, &n, &flags, fn);
  if (rc < 0)
    return rc;
  if (!(flags & MPMP__OF_LOCK))
    return mpmp__err(MPMP_ENOTSUP, "%s: a Raw%s has no lock (create it with "
                     "lock = 1, or use a Lock of your own)", fn,
                     kind == MPMP__K_VALUE ? "Value" : "Array");
  mpmp__obj_lock_ref(ref, &lock->ref);
  return 0;
}

static int free_obj(const mpmp_ref_t *ref, int kind, const char *fn) {
  mpmp__oparg_t a = {.x = kind};
  int rc = mpmp__obj_guard(fn); /* (object.h) */
  return rc < 0 ? rc : mpmp__obj_unguard(mpmp__obj_call(ref, kind,
                                                        MPMP__OP_FREE, &a, fn));
}

MPMP_API int mpmp_value_create(mpmp_value_t *v, mpmp_type_t type,
                               const void *init, int lock) {
  return create(v ? &v->ref : NULL, MPMP__K_VALUE, type, 1, init, lock,
                "mpmp_value_create");
}
MPMP_API int mpmp_value_free(mpmp_value_t v) {
  return free_obj(&v.ref, MPMP__K_VALUE, "mpmp_value_free");
}
MPMP_API int mpmp_value_type(mpmp_value_t v) {
  int rc = mpmp__obj_alive(&v.ref, MPMP__K_VALUE, "mpmp_value_type");
  return rc < 0 ? rc : v.ref.type;
}
/* A Value's load and store, errors named after the caller `fn`. */
static int value_load(mpmp_value_t v, void *out, const char *fn) {
  return rw(&v.ref, MPMP__K_VALUE, MPMP__OP_LOAD, 0, 1, out, NULL, fn);
}
static int value_store(mpmp_value_t v, const void *in, const char *fn) {
  return rw(&v.ref, MPMP__K_VALUE, MPMP__OP_STORE, 0, 1, NULL, in, fn);
}
MPMP_API int mpmp_value_load(mpmp_value_t v, void *out) {
  return value_load(v, out, "mpmp_value_load");
}
MPMP_API int mpmp_value_store(mpmp_value_t v, const void *in) {
  return value_store(v, in, "mpmp_value_store");
}
MPMP_API int mpmp_value_add(mpmp_value_t v, int64_t delta, int64_t *old) {
  return rmw(&v.ref, MPMP__K_VALUE, MPMP__OP_ADD, 0, delta, 0, old,
             "mpmp_value_add");
}
MPMP_API int mpmp_value_exchange(mpmp_value_t v, int64_t desired,
                                 int64_t *old) {
  return rmw(&v.ref, MPMP__K_VALUE, MPMP__OP_XCHG, 0, desired, 0, old,
             "mpmp_value_exchange");
}
MPMP_API int mpmp_value_cas(mpmp_value_t v, int64_t *expected,
                            int64_t desired) {
  if (expected == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_value_cas: expected is NULL");
  return rmw(&v.ref, MPMP__K_VALUE, MPMP__OP_CAS, 0, *expected, desired,
             expected, "mpmp_value_cas");
}
MPMP_API int mpmp_value_get_lock(mpmp_value_t v, mpmp_lock_t *lock) {
  return get_lock(&v.ref, MPMP__K_VALUE, lock, "mpmp_value_get_lock");
}

/* The typed shortcuts convert through the element type. */

/*
 * A double as an integer of `type`, truncated toward zero (C's conversion,
 * Python's int()). There is none for a NaN, an infinity or a value out of
 * the 64-bit range: C's conversion is undefined there (it gave garbage),
 * so it is MPMP_EINVAL, as Python's int(nan) is an error. Narrower integer
 * types then keep the low bits, as ctypes and set_i64 do.
 */
static int f64_to_int(int type, double x, int64_t *out, const char *fn) {
  /* the 64-bit range: int64's, and uint64's above it (a negative double
   * wraps into uint64 as into every narrower unsigned type, as ctypes'
   * c_uint64(int(-1.0)) does) */
  int ok = x >= -9223372036854775808.0 &&
           x < (type == MPMP_UINT64 ? 18446744073709551616.0
                                    : 9223372036854775808.0);
  if (!ok)
    return mpmp__err(MPMP_EINVAL, "%s: %g has no %s value (NaN, infinite "
                     "or out of the 64-bit range)", fn, x,
                     types[type].name);
  *out = x >= 9223372036854775808.0 ? (int64_t)(uint64_t)x : (int64_t)x;
  return 0;
}

static int to_i64(int type, const void *p, int64_t *out, const char *fn) {
  switch (type) {
  case MPMP_FLOAT: { float f; memcpy(&f, p, 4); return f64_to_int(MPMP_INT64, f, out, fn); }
  case MPMP_DOUBLE: { double d; memcpy(&d, p, 8); return f64_to_int(MPMP_INT64, d, out, fn); }
  default: { uint64_t raw = 0; memcpy(&raw, p, types[type].size);
             *out = types[type].is_int ? widen(raw, type) : (int64_t)raw; }
  }
  return 0;
}

static int from_f64(int type, double x, void *p, const char *fn) {
  if (type == MPMP_FLOAT) {
    float f = (float)x;
    memcpy(p, &f, 4);
  } else if (type == MPMP_DOUBLE) {
    memcpy(p, &x, 8);
  } else {
    int64_t i;
    int rc = f64_to_int(type, x, &i, fn);
    if (rc < 0)
      return rc;
    memcpy(p, &i, types[type].size);
  }
  return 0;
}

MPMP_API int mpmp_value_get_i64(mpmp_value_t v, int64_t *out) {
  char buf[8];
  if (out == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_value_get_i64: out is NULL");
  int rc = value_load(v, buf, "mpmp_value_get_i64");
  return rc < 0 ? rc : to_i64(v.ref.type, buf, out, "mpmp_value_get_i64");
}
MPMP_API int mpmp_value_set_i64(mpmp_value_t v, int64_t x) {
  char buf[8] = {0};
  if (v.ref.type == MPMP_FLOAT || v.ref.type == MPMP_DOUBLE)
    from_f64(v.ref.type, (double)x, buf, "mpmp_value_set_i64");
  else
    memcpy(buf, &x, 8);
  return value_store(v, buf, "mpmp_value_set_i64");
}
MPMP_API int mpmp_value_get_f64(mpmp_value_t v, double *out) {
  char buf[8];
  if (out == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_value_get_f64: out is NULL");
  int rc = value_load(v, buf, "mpmp_value_get_f64");
  if (rc < 0)
    return rc;
  if (v.ref.type == MPMP_FLOAT || v.ref.type == MPMP_DOUBLE) {
    float f;
    if (v.ref.type == MPMP_FLOAT)
      memcpy(&f, buf, 4), *out = f;
    else
      memcpy(out, buf, 8);
  } else {
    int64_t i;
    to_i64(v.ref.type, buf, &i, "mpmp_value_get_f64"); /* an integer type */
    *out = v.ref.type == MPMP_UINT64 ? (double)(uint64_t)i : (double)i;
  }
  return 0;
}
MPMP_API int mpmp_value_set_f64(mpmp_value_t v, double x) {
  char buf[8] = {0};
  if (!type_ok(v.ref.type))
    return value_store(v, buf, "mpmp_value_set_f64"); /* the bad handle */
  int rc = from_f64(v.ref.type, x, buf, "mpmp_value_set_f64");
  return rc < 0 ? rc : value_store(v, buf, "mpmp_value_set_f64");
}

MPMP_API int mpmp_array_create(mpmp_array_t *a, mpmp_type_t type, size_t n,
                               const void *init, int lock) {
  return create(a ? &a->ref : NULL, MPMP__K_ARRAY, type, n, init, lock,
                "mpmp_array_create");
}
MPMP_API int mpmp_array_free(mpmp_array_t a) {
  return free_obj(&a.ref, MPMP__K_ARRAY, "mpmp_array_free");
}
/* A slice longer than the address space, or (from another node) than
 * one operation carries: the home node never saw it, so its length is
 * asked here to say what the home node says of a slice out of range
 * (mpmp__elem_bounds), and a slice within the Array is told that it is
 * too long for one operation, not "out of range". With `keep` (the code of
 * a caller's buffer that failed its check), a slice within the Array gets
 * that error and its message back: the slice, not the buffer sized for
 * it, is what a slice past the end gets told. */
static int slice_too_long(const mpmp_ref_t *ref, int kind, size_t i,
                          size_t n, size_t es, int keep, const char *fn) {
  char kept[1024] = "";
  if (keep) /* (the caller's error, said again if the slice is in range) */
    snprintf(kept, sizeof kept, "%s", mpmp_errmsg());
  int64_t len = 0, flags = 0;
  int rc = info(ref, kind, &len, &flags, fn);
  if (rc < 0)
    return keep ? mpmp__err(keep, "%s", kept) : rc;
  size_t l = (size_t)len;
  if (i + n < i)
    return mpmp__err(MPMP_EINVAL, "%s: a slice of %zu elements from index "
                     "%zu is out of range for an Array of %zu elements "
                     "(start + count overflows)", fn, n, i, l);
  if (i >= l || n > l - i)
    return mpmp__err(MPMP_EINVAL, "%s: slice [%zu, %zu) is out of range "
                     "for an Array of %zu elements", fn, i, i + n, l);
  if (keep)
    return mpmp__err(keep, "%s", kept);
  return mpmp__err(MPMP_EINVAL, "%s: a slice of %zu elements (%zu bytes) "
                   "of an Array of another node is more than one operation "
                   "carries (%zu bytes): move it in parts", fn, n, n * es,
                   (size_t)INT32_MAX / 2);
}

MPMP_API int mpmp_array_len(mpmp_array_t a, size_t *n) {
  int64_t len = 0, flags = 0;
  if (n == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_array_len: n is NULL");
  int rc = info(&a.ref, MPMP__K_ARRAY, &len, &flags, "mpmp_array_len");
  if (rc == 0)
    *n = (size_t)len;
  return rc;
}
MPMP_API int mpmp_array_type(mpmp_array_t a) {
  int rc = mpmp__obj_alive(&a.ref, MPMP__K_ARRAY, "mpmp_array_type");
  return rc < 0 ? rc : a.ref.type;
}
MPMP_API int mpmp_array_get(mpmp_array_t a, size_t i, void *out) {
  return rw(&a.ref, MPMP__K_ARRAY, MPMP__OP_LOAD, i, 1, out, NULL,
            "mpmp_array_get");
}
MPMP_API int mpmp_array_set(mpmp_array_t a, size_t i, const void *in) {
  return rw(&a.ref, MPMP__K_ARRAY, MPMP__OP_STORE, i, 1, NULL, in,
            "mpmp_array_set");
}
MPMP_API int mpmp_array_read(mpmp_array_t a, size_t start, size_t count,
                             void *out) {
  return rw(&a.ref, MPMP__K_ARRAY, MPMP__OP_LOAD, start, count, out, NULL,
            "mpmp_array_read");
}
MPMP_API int mpmp_array_write(mpmp_array_t a, size_t start, size_t count,
                              const void *in) {
  return rw(&a.ref, MPMP__K_ARRAY, MPMP__OP_STORE, start, count, NULL, in,
            "mpmp_array_write");
}
MPMP_API int mpmp_array_add(mpmp_array_t a, size_t i, int64_t delta,
                            int64_t *old) {
  return rmw(&a.ref, MPMP__K_ARRAY, MPMP__OP_ADD, i, delta, 0, old,
             "mpmp_array_add");
}
MPMP_API int mpmp_array_exchange(mpmp_array_t a, size_t i, int64_t desired,
                                 int64_t *old) {
  return rmw(&a.ref, MPMP__K_ARRAY, MPMP__OP_XCHG, i, desired, 0, old,
             "mpmp_array_exchange");
}
MPMP_API int mpmp_array_cas(mpmp_array_t a, size_t i, int64_t *expected,
                            int64_t desired) {
  if (expected == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_array_cas: expected is NULL");
  return rmw(&a.ref, MPMP__K_ARRAY, MPMP__OP_CAS, i, *expected, desired,
             expected, "mpmp_array_cas");
}
MPMP_API int mpmp_array_get_lock(mpmp_array_t a, mpmp_lock_t *lock) {
  return get_lock(&a.ref, MPMP__K_ARRAY, lock, "mpmp_array_get_lock");
}
MPMP_API int mpmp_array_data(mpmp_array_t a, void **data) {
  int rc = mpmp__check_init("mpmp_array_data");
  if (rc < 0 || (rc = mpmp__ref_check(&a.ref, MPMP__K_ARRAY,
                                      "mpmp_array_data")) < 0)
    return rc;
  if (data == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_array_data: data is NULL");
  if (!mpmp__ref_is_local(&a.ref))
    return mpmp__err(MPMP_ENOTSUP, "mpmp_array_data: the Array lives on node "
                     "%u and this rank is on node %d: use mpmp_array_read/"
                     "write from here", a.ref.node, mpmp__net.node);
  mpmp__obj_t *o = mpmp__obj_resolve(&a.ref);
  if (o == NULL)
    return mpmp__err(MPMP_EBADF, "mpmp_array_data: stale handle: the object "
                     "was freed");
  *data = mpmp__obj_data(o);
  return 0;
}
