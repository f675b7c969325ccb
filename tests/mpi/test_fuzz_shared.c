/*
 * Fuzz: every call that takes a shared-object handle, with garbage
 * handles (zeros, random bytes, one byte flipped, a handle of another kind,
 * a freed one), and Value / Array / heap calls with NULL pointers, bad
 * types, and zero, huge and out-of-range sizes and indexes. Each group runs
 * on objects of this node, on objects of rank 1's node, and inside a body
 * on rank 1 (see fuzz_objs.h), and checks that nothing was changed by the
 * calls that were refused.
 */
#include "fuzz_objs.h"

enum { G_BAD_HANDLES, G_VALUE_ARGS };

/* Nothing a refused call did may show: every object as made. */
static void check_unchanged(const fz_objs_t *o) {
  int64_t v = 0;
  int32_t arr[FZ_ALEN] = {0};
  char buf[FZ_QITEM];
  size_t n = 0;
  FZ_EQ(0, mpmp_value_get_i64(o->v, &v));
  FZ_TRUE(v == FZ_VALUE0, "the Value changed to %lld", (long long)v);
  FZ_EQ(0, mpmp_array_read(o->a, 0, FZ_ALEN, arr));
  for (int i = 0; i < FZ_ALEN; i++)
    FZ_TRUE(arr[i] == i, "Array element %d changed to %d", i, (int)arr[i]);
  FZ_EQ(MPMP_INT32, mpmp_value_type(o->vraw));
  FZ_EQ(MPMP_DOUBLE, mpmp_value_type(o->vd));
  FZ_EQ(0, mpmp_lock_is_mine(o->lock));
  FZ_EQ(0, mpmp_lock_acquire(o->lock, 0));
  FZ_EQ(0, mpmp_lock_release(o->lock));
  FZ_EQ(0, mpmp_lock_acquire(o->rlock, 0));
  FZ_EQ(0, mpmp_lock_release(o->rlock));
  FZ_EQ((int)FZ_SEM0, mpmp_sem_value(o->sem));
  FZ_EQ((int)FZ_BSEM0, mpmp_sem_value(o->bsem));
  FZ_EQ(0, mpmp_event_is_set(o->ev));
  FZ_EQ(0, mpmp_cond_acquire(o->cond, 0));
  FZ_EQ(0, mpmp_cond_release(o->cond));
  FZ_EQ(0, mpmp_barrier_broken(o->bar));
  FZ_EQ(0, mpmp_barrier_n_waiting(o->bar));
  FZ_EQ(2, mpmp_barrier_parties(o->bar));
  FZ_EQ(0, mpmp_queue_qsize(o->q));
  FZ_EQ(0, mpmp_queue_qsize(o->jq));
  FZ_EQ(0, mpmp_queue_put_nowait(o->q, "ok", 2));
  FZ_EQ(0, mpmp_queue_get_nowait(o->q, buf, sizeof buf, &n));
  FZ_EQ(0, mpmp_conn_poll(o->c1, 0));
  FZ_EQ(0, mpmp_conn_poll(o->c2, 0));
  FZ_EQ(0, mpmp_conn_send(o->c1, "ok", 2, 5));
  FZ_EQ(0, mpmp_conn_recv(o->c2, buf, sizeof buf, &n, 5));
  FZ_EQ(0, mpmp_conn_poll(o->rx, 0));
}

/* A freed object of another node: two calls document a code of their own
 * for "another node" (mpmp_array_data: ENOTSUP; a Condition's Lock:
 * EINVAL), which they may give before they find out that it was freed. */
static int freed_alt(int k, const mpmp_ref_t *r) {
  if (r->node == (uint32_t)mpmp_node_id())
    return 0;
  if (fz_ops[k].fn == fz_op_array_data)
    return MPMP_ENOTSUP;
  if (fz_ops[k].fn == fz_op_cond_create_with)
    return MPMP_EINVAL;
  return 0;
}

/* Every call that takes a handle, with every kind of bad handle. */
static void bad_handles(const fz_objs_t *o) {
  mpmp_ref_t valid[NKIND];
  char what[96];
  fz_valid_refs(o, valid);
  for (int k = 0; k < FZ_NOPS; k++) {
    int kind = fz_ops[k].kind;
    for (int b = 0; b < FZ_NBAD; b++) {
      mpmp_ref_t r = fz_bad_ref(&valid[kind], b, what, sizeof what);
      fz_op_bad(k, r, what, 0, __FILE__, __LINE__);
    }
    for (int j = 0; j < NKIND; j++)
      if (j != kind && j != fz_ops[k].also) {
        snprintf(what, sizeof what, "the handle of a %s", fz_kind_names[j]);
        fz_op_bad(k, valid[j], what, 0, __FILE__, __LINE__);
      }
    snprintf(what, sizeof what, "a freed %s", fz_kind_names[kind]);
    fz_op_bad(k, o->freed[kind], what, freed_alt(k, &o->freed[kind]),
              __FILE__, __LINE__);
  }
  check_unchanged(o);
}

/* ---- Value, Array, types, heap ------------------------------------------- */

static const int bad_types[] = {0, -1, 12, 1000, INT32_MIN, MPMP_BYTE + 1};
#define NBADTYPES (sizeof bad_types / sizeof bad_types[0])

static void create_args(void) {
  mpmp_value_t v;
  mpmp_array_t a;
  FZ_ERR(MPMP_EINVAL, mpmp_value_create(NULL, MPMP_INT32, NULL, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_array_create(NULL, MPMP_INT32, 4, NULL, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_array_create(&a, MPMP_INT32, 0, NULL, 1));
  for (size_t i = 0; i < NBADTYPES; i++) {
    FZ_ERR(MPMP_EINVAL, mpmp_value_create(&v, (mpmp_type_t)bad_types[i], NULL, 1));
    FZ_ERR(MPMP_EINVAL, mpmp_array_create(&a, (mpmp_type_t)bad_types[i], 4, NULL, 1));
  }
  for (size_t i = 0; i < FZ_NHUGE; i++) {
    FZ_ERR2(MPMP_EINVAL, MPMP_ENOSPC,
            mpmp_array_create(&a, MPMP_INT8, fz_huge[i], NULL, 0));
    FZ_ERR2(MPMP_EINVAL, MPMP_ENOSPC,
            mpmp_array_create(&a, MPMP_INT64, fz_huge[i], NULL, 1));
  }
}

static void value_args(const fz_objs_t *o) {
  mpmp_lock_t lk;
  int64_t old = 0, exp = 1;
  double d = 0;
  FZ_ERR(MPMP_EINVAL, mpmp_value_load(o->v, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_value_store(o->v, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_value_cas(o->v, NULL, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_value_get_lock(o->v, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_value_get_i64(o->v, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_value_get_f64(o->v, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_value_add(o->vd, 1, &old));
  FZ_ERR(MPMP_EINVAL, mpmp_value_exchange(o->vd, 1, &old));
  FZ_ERR(MPMP_EINVAL, mpmp_value_cas(o->vd, &exp, 2));
  FZ_ERR(MPMP_ENOTSUP, mpmp_value_get_lock(o->vraw, &lk));
  /* nothing changed */
  FZ_EQ(0, mpmp_value_get_i64(o->v, &old));
  FZ_TRUE(old == FZ_VALUE0, "the Value is %lld", (long long)old);
  FZ_EQ(0, mpmp_value_get_f64(o->vd, &d));
  FZ_TRUE(d == 1.5, "the double Value is %g", d);
}

static void array_index_args(const fz_objs_t *o) {
  int32_t x = 99;
  int64_t old = 0, exp = 0;
  size_t bad_index[FZ_NHUGE + 2];
  bad_index[0] = FZ_ALEN;
  bad_index[1] = FZ_ALEN + 1;
  for (size_t i = 0; i < FZ_NHUGE; i++)
    bad_index[i + 2] = fz_huge[i];
  for (size_t k = 0; k < FZ_NHUGE + 2; k++) {
    size_t i = bad_index[k];
    FZ_ERR(MPMP_EINVAL, mpmp_array_get(o->a, i, &x));
    FZ_ERR(MPMP_EINVAL, mpmp_array_set(o->a, i, &x));
    FZ_ERR(MPMP_EINVAL, mpmp_array_add(o->a, i, 1, &old));
    FZ_ERR(MPMP_EINVAL, mpmp_array_exchange(o->a, i, 1, &old));
    FZ_ERR(MPMP_EINVAL, mpmp_array_cas(o->a, i, &exp, 1));
    FZ_ERR(MPMP_EINVAL, mpmp_array_read(o->a, i, 1, &x));
    FZ_ERR(MPMP_EINVAL, mpmp_array_write(o->a, i, 1, &x));
  }
}

static void array_slice_args(const fz_objs_t *o) {
  int32_t buf[FZ_ALEN + 2] = {0};
  for (size_t k = 0; k < FZ_NHUGE; k++) {
    FZ_ERR(MPMP_EINVAL, mpmp_array_read(o->a, 0, fz_huge[k], buf));
    FZ_ERR(MPMP_EINVAL, mpmp_array_write(o->a, 0, fz_huge[k], buf));
    FZ_ERR(MPMP_EINVAL, mpmp_array_read(o->a, 1, fz_huge[k], buf));
    FZ_ERR(MPMP_EINVAL, mpmp_array_write(o->a, 1, fz_huge[k], buf));
  }
  FZ_ERR(MPMP_EINVAL, mpmp_array_read(o->a, FZ_ALEN - 1, 2, buf));
  FZ_ERR(MPMP_EINVAL, mpmp_array_write(o->a, FZ_ALEN - 1, 2, buf));
  FZ_ERR(MPMP_EINVAL, mpmp_array_read(o->a, 0, FZ_ALEN + 1, buf));
  FZ_ERR(MPMP_EINVAL, mpmp_array_read(o->a, 0, 1, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_array_write(o->a, 0, 1, NULL));
  /* an empty slice of a live Array is fine (Python's a[3:3]) */
  FZ_EQ(0, mpmp_array_read(o->a, 3, 0, buf));
  FZ_EQ(0, mpmp_array_write(o->a, 3, 0, buf));
}

static void array_args(const fz_objs_t *o) {
  int64_t exp = 0;
  int32_t now[FZ_ALEN] = {0};
  FZ_ERR(MPMP_EINVAL, mpmp_array_len(o->a, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_array_get(o->a, 0, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_array_set(o->a, 0, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_array_cas(o->a, 0, NULL, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_array_get_lock(o->a, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_array_data(o->a, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_array_cas(o->a, FZ_ALEN, &exp, 1));
  array_index_args(o);
  array_slice_args(o);
  void *data = NULL;
  if (o->a.ref.node != (uint32_t)mpmp_node_id())
    FZ_ERR(MPMP_ENOTSUP, mpmp_array_data(o->a, &data));
  else
    FZ_EQ(0, mpmp_array_data(o->a, &data));
  FZ_EQ(0, mpmp_array_read(o->a, 0, FZ_ALEN, now));
  for (int i = 0; i < FZ_ALEN; i++)
    FZ_TRUE(now[i] == i, "Array element %d changed to %d", i, (int)now[i]);
}

/* The lock inside a Value, Array or Condition goes with its object. */
static void embedded_locks(const fz_objs_t *o) {
  mpmp_lock_t lv, la, lc;
  FZ_EQ(0, mpmp_value_get_lock(o->v, &lv));
  FZ_EQ(0, mpmp_array_get_lock(o->a, &la));
  FZ_EQ(0, mpmp_cond_get_lock(o->cond, &lc));
  FZ_ERR(MPMP_EINVAL, mpmp_lock_free(lv));
  FZ_ERR(MPMP_EINVAL, mpmp_lock_free(la));
  FZ_ERR(MPMP_EINVAL, mpmp_lock_free(lc));
  FZ_EQ(0, mpmp_lock_acquire(lv, 5));
  FZ_EQ(0, mpmp_lock_release(lv));
  FZ_EQ(0, mpmp_lock_acquire(la, 5));
  FZ_EQ(0, mpmp_lock_release(la));
  FZ_EQ(0, mpmp_lock_acquire(lc, 5));
  FZ_EQ(0, mpmp_lock_release(lc));
  /* ... and goes with it */
  mpmp_value_t v;
  mpmp_cond_t c;
  if (mpmp_value_create(&v, MPMP_INT32, NULL, 1) == 0 &&
      mpmp_cond_create(&c, NULL) == 0) {
    FZ_EQ(0, mpmp_value_get_lock(v, &lv));
    FZ_EQ(0, mpmp_cond_get_lock(c, &lc));
    FZ_EQ(0, mpmp_value_free(v));
    FZ_EQ(0, mpmp_cond_free(c));
    FZ_ERR(MPMP_EBADF, mpmp_lock_acquire(lv, 0));
    FZ_ERR(MPMP_EBADF, mpmp_lock_is_mine(lv));
    FZ_ERR(MPMP_EBADF, mpmp_lock_acquire(lc, 0));
    FZ_ERR(MPMP_EBADF, mpmp_lock_free(lc));
  }
}

static void helper_args(void) {
  FZ_ERR(MPMP_EINVAL, mpmp_heap_info(NULL));
  FZ_EQ(0, mpmp_typecode('\0'));
  FZ_EQ(0, mpmp_typecode('z'));
  FZ_EQ(MPMP_INT32, mpmp_typecode('i'));
  for (size_t i = 0; i < NBADTYPES; i++) {
    FZ_EQ(0, mpmp_type_size((mpmp_type_t)bad_types[i]));
    FZ_TRUE(!strcmp(mpmp_type_name((mpmp_type_t)bad_types[i]), "?"),
            "mpmp_type_name(%d) is '%s'", bad_types[i],
            mpmp_type_name((mpmp_type_t)bad_types[i]));
  }
}

static void fz_group(int group, const fz_objs_t *o, uint64_t seed) {
  (void)seed;
  if (group == G_BAD_HANDLES) {
    bad_handles(o);
    return;
  }
  create_args();
  value_args(o);
  array_args(o);
  embedded_locks(o);
  helper_args();
  check_unchanged(o);
}

FZ_PLACES(fuzz_bad_handles, G_BAD_HANDLES)
FZ_PLACES(fuzz_value_array_args, G_VALUE_ARGS)

static const struct CMUnitTest tests[] = {
    FZ_PLACES_TESTS(fuzz_bad_handles),
    FZ_PLACES_TESTS(fuzz_value_array_args),
};

MPMP_TEST_MAIN(tests)
