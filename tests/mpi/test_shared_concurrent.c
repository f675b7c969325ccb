/* Many ranks on the same shared objects at once: adds, compare-and-swap
 * loops and compound updates under get_lock from every worker and the main
 * rank, and heap churn on every node.
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
    cmocka_unit_test(concurrent_adds_from_all_workers_and_main),
    cmocka_unit_test(concurrent_cas_loop_counters),
    cmocka_unit_test(concurrent_compound_updates_under_get_lock),
    cmocka_unit_test(concurrent_heap_churn_on_every_node),
};

MPMP_TEST_MAIN(tests)
