/* Shared objects (mpmp/shared.h) used the wrong way: every error, use
 * after free, handles of another kind, and random bytes as handles to every
 * call of shared.h and sync.h, on the main rank and in worker bodies.
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
#include <sys/mman.h>

#include "shared_common.h"

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
  EXPECT_MSG("overflows"); /* not the wrapped end of the slice */
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
  int home; /* the Array's node */
} huge_args_t;

static int huge_slice_body(mpmp_ctx_t *ctx) {
  const huge_args_t *h = mpmp_arg(ctx, NULL);
  int32_t buf[16] = {0};
  char wmsg[300], rmsg[300];
  int wrc, rrc = MPMP_EINVAL, ok;
  /* from another node the message gives the Array's length, as the home
   * node's does (it said only "a slice of N elements is out of range");
   * on the home node, where the buffer's extent is checked first, it said
   * that the buffer was short (helper 79) */
  const int far = mpmp_node_id() != h->home;
  const char *says = "out of range for an Array of 10 elements";
  wrc = mpmp_array_write(h->a, 0, SIZE_MAX / 4, buf);
  snprintf(wmsg, sizeof wmsg, "%s", mpmp_errmsg());
  ok = wrc == MPMP_EINVAL && strstr(wmsg, says) != NULL;
  rrc = mpmp_array_read(h->a, 0, SIZE_MAX / 4, buf);
  snprintf(rmsg, sizeof rmsg, "%s", mpmp_errmsg());
  ok = ok && rrc == MPMP_EINVAL && strstr(rmsg, says) != NULL;
  if (ok && far) { /* over 1 GiB: more than one operation carries */
    rrc = mpmp_array_read(h->a, 0, 300000000, buf);
    snprintf(rmsg, sizeof rmsg, "%s", mpmp_errmsg());
    ok = rrc == MPMP_EINVAL &&
         strstr(rmsg, "slice [0, 300000000) is out of range for an Array "
                "of 10 elements") != NULL;
  }
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
  h.home = mpmp_node_id();
  assert_int_equal(mpmp_array_read(h.a, 0, SIZE_MAX / 4, buf), MPMP_EINVAL);
  assert_int_equal(mpmp_array_write(h.a, 0, SIZE_MAX / 4, buf), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "mpmp_array_write: slice [0, "));
  assert_non_null(strstr(mpmp_errmsg(), "out of range for an Array of 10 "
                                        "elements"));
  assert_int_equal(mpmp_array_read(h.a, 4, 1 << 20, buf), MPMP_EINVAL);
  assert_string_equal(mpmp_errmsg(), "mpmp_array_read: slice [4, 1048580) "
                      "is out of range for an Array of 10 elements");
  /* a slice in range with a short buffer still blames the buffer */
  char *edge = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(edge != MAP_FAILED);
  munmap(edge + 4096, 4096); /* (nothing mapped after it) */
  assert_int_equal(mpmp_array_read(h.a, 0, 10, edge + 4096 - 8),
                   MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "the buffer"));
  assert_null(strstr(mpmp_errmsg(), "out of range"));
  munmap(edge, 4096);
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
  /* n * size overflows, or a negative count cast to size_t: the caller's
   * mistake (README: counts that cannot be in memory), not a full heap */
  assert_int_equal(mpmp_array_create(&a, MPMP_INT64, SIZE_MAX / 2, NULL, 0),
                   MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "negative count"));
  assert_int_equal(mpmp_array_create(&a, MPMP_INT8, (size_t)-5, NULL, 0),
                   MPMP_EINVAL);
  assert_int_equal(mpmp_array_create(&a, MPMP_INT64, SIZE_MAX / 8 + 1, NULL, 1),
                   MPMP_EINVAL);
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
  /* each names itself, not the load or store it goes through */
  assert_int_equal(mpmp_value_get_i64(v, &old), MPMP_EBADF);
  assert_non_null(strstr(mpmp_errmsg(), "mpmp_value_get_i64"));
  assert_int_equal(mpmp_value_set_i64(v, 1), MPMP_EBADF);
  assert_non_null(strstr(mpmp_errmsg(), "mpmp_value_set_i64"));
  assert_int_equal(mpmp_value_get_f64(v, &d), MPMP_EBADF);
  assert_non_null(strstr(mpmp_errmsg(), "mpmp_value_get_f64"));
  assert_int_equal(mpmp_value_set_f64(v, 1), MPMP_EBADF);
  assert_non_null(strstr(mpmp_errmsg(), "mpmp_value_set_f64"));
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
    uint64_t words[3] = {test_rnd(&s), test_rnd(&s), test_rnd(&s)};
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

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(errors_out_of_range_and_null_buffers),
    cmocka_unit_test(errors_huge_slice_is_out_of_range_from_every_node),
    cmocka_unit_test(errors_bad_create_arguments),
    cmocka_unit_test(errors_raw_objects_have_no_lock),
    cmocka_unit_test(errors_lock_of_a_value_goes_with_it),
    cmocka_unit_test(errors_use_after_free_and_double_free),
    cmocka_unit_test(errors_type_of_a_freed_object_is_ebadf),
    cmocka_unit_test(errors_sync_objects_use_after_free),
    cmocka_unit_test(errors_handle_of_another_kind_is_ebadf),
    cmocka_unit_test(random_handles_are_ebadf_on_the_main_rank),
    cmocka_unit_test(random_handles_are_ebadf_in_worker_bodies),
};

MPMP_TEST_MAIN(tests)
