/* Shared objects (mpmp/shared.h) made in a process body, homed on the
 * worker's node, used and freed by the main rank and by another worker;
 * array data is reachable only on the home node.
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
 * 3. Objects made in a process body (homed on the worker's node) and used
 *    by the main rank; main-made objects used by the workers.
 * ========================================================================= */

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

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(objects_made_in_bodies_used_and_freed_by_main),
    cmocka_unit_test(objects_made_by_one_worker_used_by_another),
    cmocka_unit_test(errors_array_data_only_on_the_home_node),
};

MPMP_TEST_MAIN(tests)
