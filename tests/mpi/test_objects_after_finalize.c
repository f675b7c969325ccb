/*
 * Shared objects after mpmp_finalize(): every call on a handle made before
 * it is MPMP_ENOTINIT, on objects of this node and of another (pseudo-nodes),
 * never a crash (get_lock read the unmapped heap) nor a success. The CMocka
 * group runs on the main rank after finalize; workers have left by then.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mpitest.h"

/* One object of each basic kind, and the node that made them. */
typedef struct objs {
  test_objs_t h;
  int node;
} objs_t;

static int make(objs_t *o) {
  o->node = mpmp_node_id();
  return test_objs_make(&o->h) != 0 ? -1 : 0;
}

static int make_body(mpmp_ctx_t *ctx) {
  objs_t *o = mpmp_out(ctx, sizeof *o);
  return make(o) < 0 ? mpmp_fail(ctx, "make: %s", mpmp_errmsg()) : 0;
}
MPMP_TASK(make_body);

/* Objects of the main rank's node, and of a worker's (another node on
 * pseudo-nodes). */
/* Each item back as it came (a variable-size map's results). */
static int echo_bytes(mpmp_ctx_t *ctx) {
  size_t n;
  const void *x = mpmp_arg(ctx, &n);
  void *y = mpmp_out(ctx, n);
  if (n > 0 && y != NULL)
    memcpy(y, x, n);
  return 0;
}
MPMP_TASK(echo_bytes);

static mpmp_async_t *var_res; /* a finished map over variable-size items */

static objs_t sets[2];
static mpmp_manager_t mgr;
static mpmp_dict_t dict;
static mpmp_list_t list;
static mpmp_namespace_t ns;

#define NOTINIT(call) RC(call, MPMP_ENOTINIT)

static void after_finalize_values_and_arrays(void **state) {
  (void)state;
  for (int k = 0; k < 2; k++) {
    objs_t *o = &sets[k];
    int64_t x = 0;
    size_t n = 0;
    double d = 0;
    void *p = NULL;
    mpmp_lock_t l;
    NOTINIT(mpmp_value_get_lock(o->h.v, &l));
    NOTINIT(mpmp_array_get_lock(o->h.a, &l));
    NOTINIT(mpmp_value_load(o->h.v, &x));
    NOTINIT(mpmp_value_store(o->h.v, &x));
    NOTINIT(mpmp_value_add(o->h.v, 1, &x));
    NOTINIT(mpmp_value_add(o->h.vd, 1, &x)); /* (was: a double has no
                                                atomic arithmetic) */
    NOTINIT(mpmp_value_exchange(o->h.v, 1, &x));
    NOTINIT(mpmp_value_cas(o->h.v, &x, 1));
    NOTINIT(mpmp_value_type(o->h.v));
    NOTINIT(mpmp_value_get_i64(o->h.v, &x));
    NOTINIT(mpmp_value_set_i64(o->h.v, 1));
    NOTINIT(mpmp_value_get_f64(o->h.v, &d));
    NOTINIT(mpmp_value_set_f64(o->h.v, 1.0));
    NOTINIT(mpmp_value_free(o->h.v));
    NOTINIT(mpmp_array_len(o->h.a, &n));
    NOTINIT(mpmp_array_type(o->h.a));
    NOTINIT(mpmp_array_get(o->h.a, 0, &x));
    NOTINIT(mpmp_array_set(o->h.a, 0, &x));
    NOTINIT(mpmp_array_read(o->h.a, 0, 1, &x));
    NOTINIT(mpmp_array_write(o->h.a, 0, 1, &x));
    NOTINIT(mpmp_array_add(o->h.a, 0, 1, &x));
    NOTINIT(mpmp_array_data(o->h.a, &p));
    NOTINIT(mpmp_array_free(o->h.a));
  }
}

static void after_finalize_sync_objects(void **state) {
  (void)state;
  for (int k = 0; k < 2; k++) {
    objs_t *o = &sets[k];
    mpmp_lock_t l;
    NOTINIT(mpmp_lock_acquire(o->h.l, 0));
    NOTINIT(mpmp_lock_release(o->h.l));
    NOTINIT(mpmp_lock_is_mine(o->h.l));
    NOTINIT(mpmp_lock_free(o->h.l));
    NOTINIT(mpmp_sem_acquire(o->h.s, 0));
    NOTINIT(mpmp_sem_release(o->h.s));
    NOTINIT(mpmp_sem_value(o->h.s));
    NOTINIT(mpmp_event_set(o->h.e));
    NOTINIT(mpmp_event_is_set(o->h.e));
    NOTINIT(mpmp_event_wait(o->h.e, 0));
    NOTINIT(mpmp_cond_get_lock(o->h.c, &l));
    NOTINIT(mpmp_cond_acquire(o->h.c, 0));
    NOTINIT(mpmp_cond_wait(o->h.c, 0));
    NOTINIT(mpmp_cond_notify_all(o->h.c));
    NOTINIT(mpmp_barrier_wait(o->h.b, 0));
    NOTINIT(mpmp_barrier_parties(o->h.b));
    NOTINIT(mpmp_barrier_free(o->h.b));
  }
}

static void after_finalize_queues_and_pipes(void **state) {
  (void)state;
  for (int k = 0; k < 2; k++) {
    objs_t *o = &sets[k];
    char buf[8];
    size_t n;
    int ready[1];
    NOTINIT(mpmp_queue_put(o->h.q, "x", 1, 0));
    NOTINIT(mpmp_queue_get(o->h.q, buf, sizeof buf, &n, 0));
    NOTINIT(mpmp_queue_qsize(o->h.q));
    NOTINIT(mpmp_queue_close(o->h.q));
    NOTINIT(mpmp_queue_free(o->h.q));
    NOTINIT(mpmp_conn_send(o->h.c2, "x", 1, 0));
    NOTINIT(mpmp_conn_recv(o->h.c1, buf, sizeof buf, &n, 0));
    NOTINIT(mpmp_conn_poll(o->h.c1, 0));
    NOTINIT(mpmp_conn_wait(&o->h.q.ref, 1, 0, ready));
    NOTINIT(mpmp_pipe_free(o->h.c1, o->h.c2));
  }
}

static void after_finalize_manager(void **state) {
  (void)state;
  char buf[8];
  size_t n;
  mpmp_dict_t d2;
  NOTINIT(mpmp_manager_alive(mgr));
  NOTINIT(mpmp_dict_create(mgr, &d2));
  NOTINIT(mpmp_dict_set(dict, "k", "v", 1));
  NOTINIT(mpmp_dict_get(dict, "k", buf, sizeof buf, &n));
  NOTINIT(mpmp_list_append(list, "v", 1));
  NOTINIT(mpmp_list_len(list, &n));
  NOTINIT(mpmp_namespace_set(ns, "a", "v", 1));
  NOTINIT(mpmp_manager_shutdown(mgr));
}

/* A finished result is read after finalize as before it (pool.h): the
 * variable-size map's results too (they were MPMP_ENOTINIT). */
static void after_finalize_finished_results(void **state) {
  (void)state;
  mpmp_varbuf_t v;
  assert_int_equal(mpmp_async_var_results(var_res, &v), 0);
  assert_int_equal(v.n, 2);
  assert_int_equal(v.off[2] - v.off[1], 3);
  assert_memory_equal(v.data + v.off[1], "def", 3);
  mpmp_async_destroy(var_res);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(after_finalize_finished_results),
    cmocka_unit_test(after_finalize_values_and_arrays),
    cmocka_unit_test(after_finalize_sync_objects),
    cmocka_unit_test(after_finalize_queues_and_pipes),
    cmocka_unit_test(after_finalize_manager),
};

int main(int argc, char **argv) {
  int rc = test_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  if (rc < 0)
    return 1;
  mpmp_process_t *p = NULL;
  const void *res = NULL;
  size_t size = 0;
  static const char text[] = "abcdef";
  static const size_t off[3] = {0, 3, 6};
  mpmp_pool_t *pool = NULL;
  if (mpmp_pool_create(&pool, NULL) < 0 ||
      mpmp_pool_map_var_async(pool, echo_bytes, text, off, 2, 1, NULL, NULL,
                              &var_res) < 0 ||
      mpmp_async_get(var_res, 60) < 0 || mpmp_pool_destroy(pool) < 0) {
    fprintf(stderr, "the map: %s\n", mpmp_errmsg());
    mpmp_finalize();
    return 1;
  }
  if (make(&sets[0]) < 0 ||
      mpmp_process_create(&p, make_body, NULL, 0, NULL) < 0 ||
      mpmp_process_start(p) < 0 || mpmp_process_join(p, 60) < 0 ||
      mpmp_process_result(p, &res, &size) < 0 || size != sizeof sets[1] ||
      mpmp_manager_start(&mgr) < 0 || mpmp_dict_create(mgr, &dict) < 0 ||
      mpmp_list_create(mgr, &list) < 0 ||
      mpmp_namespace_create(mgr, &ns) < 0) {
    fprintf(stderr, "setting up: %s %s\n", mpmp_errmsg(),
                    p ? mpmp_process_errmsg(p) : "");
    mpmp_finalize();
    return 1;
  }
  memcpy(&sets[1], res, sizeof sets[1]);
  mpmp_process_destroy(p);
  printf("objects on nodes %d and %d\n", sets[0].node, sets[1].node);
  if (mpmp_finalize() < 0) {
    fprintf(stderr, "mpmp_finalize: %s\n", mpmp_errmsg());
    return 1;
  }
  return cmocka_run_group_tests(tests, NULL, NULL) ? 1 : 0;
}
