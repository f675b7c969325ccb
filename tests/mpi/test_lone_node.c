/*
 * A node where the job has a single rank (--pseudo 2 -n 3: rank 1 alone on
 * the second pseudo-node). Its isolated bodies run in task hosts forked
 * from the worker, and must share the node's segment with it: objects an
 * isolated body makes there are usable from the main rank and from later
 * bodies, objects the worker made are usable from its isolated bodies, and
 * a lock a host died holding is taken over (MPMP_EOWNERDEAD). MPI shares a
 * one-rank node's window with nobody, and Open MPI backed it with private
 * memory: each host had a copy-on-write snapshot of the heap (stale
 * handles on the main rank, writes lost both ways).
 *
 * The tests need a worker alone on its node; on a single node they are
 * skipped, unless MPMP_TEST_LONE=1 (set for the pseudo-node run) says the
 * layout must have one.
 */
#include <signal.h>
#include <stdint.h>

#include "mpitest.h"

/* ---- finding the lone worker ------------------------------------------- */

typedef struct {
  int rank, node;
} where_t;

/* Say where it runs, once every worker has a body (so that each body of
 * the group runs on another worker). */
static int where_am_i(mpmp_ctx_t *ctx) {
  const mpmp_barrier_t *all = mpmp_arg(ctx, NULL);
  if (mpmp_barrier_wait(*all, T_OUT) < 0)
    return mpmp_fail(ctx, "barrier: %s", mpmp_errmsg());
  where_t *w = mpmp_out(ctx, sizeof *w);
  w->rank = mpmp_rank();
  w->node = mpmp_node_id();
  return 0;
}
MPMP_TASK(where_am_i);

/* The worker rank that is alone on its node, or 0 (the tests skip, or
 * fail where MPMP_TEST_LONE=1 says there must be one). */
static int lone_rank(void) {
  static int lone = -1;
  if (lone >= 0)
    return lone;
  int nodes = mpmp_node_count(), n = nworkers();
  int *count = calloc((size_t)nodes, sizeof *count);
  assert_non_null(count);
  count[mpmp_node_id()]++;
  mpmp_barrier_t all;
  OK(mpmp_barrier_create(&all, (unsigned)n));
  mpmp_barrier_t args[MAXW];
  for (int i = 0; i < n; i++)
    args[i] = all;
  group_t g;
  group_start(&g, n, where_am_i, args, sizeof all);
  group_join(&g);
  where_t w[MAXW];
  for (int i = 0; i < n; i++) {
    w[i] = *(const where_t *)group_result(&g, i, sizeof *w);
    assert_in_range(w[i].node, 0, nodes - 1);
    count[w[i].node]++;
  }
  group_destroy(&g);
  OK(mpmp_barrier_free(all));
  lone = 0;
  for (int i = 0; i < n && lone == 0; i++)
    if (count[w[i].node] == 1)
      lone = w[i].rank;
  free(count);
  const char *must = getenv("MPMP_TEST_LONE");
  if (lone == 0 && must != NULL && *must == '1')
    fail_msg("MPMP_TEST_LONE=1, but no worker rank is alone on its node "
             "(%d ranks on %d nodes)", mpmp_world_size(), nodes);
  if (lone > 0)
    print_message("rank %d is alone on its node\n", lone);
  return lone;
}

/* ---- bodies on that rank -------------------------------------------------- */

/* The first member of every body's argument. */
typedef struct {
  int rank; /* where it must run: elsewhere it parks until terminated */
} at_t;

static int parked(mpmp_ctx_t *ctx, const at_t *at) {
  if (mpmp_rank() == at->rank)
    return 0;
  double end = test_now() + 2 * T_OUT;
  while (!mpmp_should_stop(ctx) && test_now() < end)
    test_sleep(0.002);
  return 1;
}

/* Start fn on rank at->rank (isolated unless `never`): bodies that land on
 * another worker park until unpark(). */
static mpmp_process_t *start_on(mpmp_task_fn fn, void *arg, size_t size,
                                int never, parked_t *pk) {
  const at_t *at = arg;
  mpmp_process_opts_t o = {.isolate = never ? MPMP_ISOLATE_NEVER
                                            : MPMP_ISOLATE_DEFAULT};
  for (;;) {
    mpmp_process_t *p = NULL;
    OK(mpmp_process_create(&p, fn, arg, size, &o));
    OK(mpmp_process_start(p));
    if (mpmp_process_rank(p) == at->rank)
      return p;
    assert_true(pk->n < MAXW);
    pk->p[pk->n++] = p;
  }
}

/* Run fn on the lone rank, join it and copy its result (n bytes) to out. */
static void run_on(mpmp_task_fn fn, void *arg, size_t size, int never,
                   void *out, size_t n) {
  parked_t pk = {0};
  mpmp_process_t *p = start_on(fn, arg, size, never, &pk);
  size_t got = 0;
  const void *r = join_result_within(p, T_OUT, out != NULL ? &got : NULL);
  if (out != NULL) {
    assert_int_equal(got, n);
    memcpy(out, r, n);
  }
  OK(mpmp_process_destroy(p));
  unpark(&pk);
}

typedef struct {
  at_t at;
  mpmp_value_t v; /* int64 */
  mpmp_lock_t l;
  mpmp_sem_t s;
  mpmp_queue_t q; /* of int64 */
  int64_t want_v; /* check_objs: what the Value must hold */
  int want_s;     /* ... the Semaphore's value */
  int64_t want_q; /* ... the item to get from the Queue */
} objs_t;

/* Make a Value of 42, a Lock it holds, a Semaphore of 1 and a Queue of
 * one item 7, on this node. */
static int make_objs_in(objs_t *o, char *err) {
  int64_t x = 42, item = 7;
  EXPECT_OK(mpmp_value_create(&o->v, MPMP_INT64, &x, 1));
  EXPECT_OK(mpmp_lock_create(&o->l));
  EXPECT_OK(mpmp_sem_create(&o->s, 0));
  EXPECT_OK(mpmp_queue_create(&o->q, 4, sizeof item));
  EXPECT_OK(mpmp_lock_acquire(o->l, 0));
  EXPECT_OK(mpmp_sem_release(o->s));
  EXPECT_OK(mpmp_queue_put(o->q, &item, sizeof item, 0));
  return 0;
}

static int make_objs(mpmp_ctx_t *ctx) {
  const objs_t *in = mpmp_arg(ctx, NULL);
  if (parked(ctx, &in->at))
    return 0;
  objs_t *o = mpmp_out(ctx, sizeof *o);
  *o = *in;
  BODY(ctx, make_objs_in, o);
  return 0;
}
MPMP_TASK(make_objs);

/* The objects as the main rank left them (want_*); then add 1 to the
 * Value and take the Semaphore once. */
static int check_objs_in(const objs_t *o, char *err) {
  int64_t x = -1, item = -1;
  size_t n = 0;
  EXPECT_OK(mpmp_value_get_i64(o->v, &x));
  EXPECT_EQ(x, o->want_v);
  EXPECT_EQ(mpmp_lock_locked(o->l), 1);
  EXPECT_EQ(mpmp_sem_value(o->s), o->want_s);
  EXPECT_OK(mpmp_queue_get(o->q, &item, sizeof item, &n, T_OUT));
  EXPECT_EQ(item, o->want_q);
  EXPECT_OK(mpmp_value_add(o->v, 1, NULL));
  EXPECT_OK(mpmp_sem_acquire(o->s, T_OUT));
  return 0;
}

static int check_objs(mpmp_ctx_t *ctx) {
  const objs_t *o = mpmp_arg(ctx, NULL);
  if (parked(ctx, &o->at))
    return 0;
  BODY(ctx, check_objs_in, o);
  return 0;
}
MPMP_TASK(check_objs);

/* What make_objs made, seen from the main rank; then the main rank's
 * changes, which the next body must see. */
static void main_sees_made(objs_t *o) {
  int64_t x = -1, item = -1;
  size_t n = 0;
  OK(mpmp_value_get_i64(o->v, &x));
  EQ(x, 42);
  EQ(mpmp_lock_locked(o->l), 1);
  EQ(mpmp_sem_value(o->s), 1);
  OK(mpmp_queue_get(o->q, &item, sizeof item, &n, T_OUT));
  EQ(item, 7);
  OK(mpmp_value_set_i64(o->v, 100));
  OK(mpmp_sem_release(o->s));
  item = 8;
  OK(mpmp_queue_put(o->q, &item, sizeof item, T_OUT));
  o->want_v = 100;
  o->want_s = 2;
  o->want_q = 8;
}

static void free_objs(objs_t *o) {
  OK(mpmp_queue_free(o->q));
  OK(mpmp_sem_free(o->s));
  OK(mpmp_lock_free(o->l));
  OK(mpmp_value_free(o->v));
}

/* Made by an isolated body: usable from the main rank, and the main
 * rank's changes are seen by the next isolated body, whose changes the
 * main rank sees in turn. */
static void made_by_an_isolated_body(void **state) {
  (void)state;
  int lone = lone_rank();
  if (lone == 0)
    skip();
  objs_t o = {.at = {lone}};
  run_on(make_objs, &o, sizeof o, 0, &o, sizeof o);
  main_sees_made(&o);
  run_on(check_objs, &o, sizeof o, 0, NULL, 0);
  int64_t x = -1;
  OK(mpmp_value_get_i64(o.v, &x));
  EQ(x, 101);
  EQ(mpmp_sem_value(o.s), 1);
  free_objs(&o);
}

/* The reverse: made by the worker itself (a body that is not isolated),
 * usable from its isolated bodies, and their changes seen by it. */
static void made_by_the_worker(void **state) {
  (void)state;
  int lone = lone_rank();
  if (lone == 0)
    skip();
  objs_t o = {.at = {lone}};
  run_on(make_objs, &o, sizeof o, 1, &o, sizeof o);
  main_sees_made(&o);
  run_on(check_objs, &o, sizeof o, 0, NULL, 0);
  o.want_v = 101;
  o.want_s = 1;
  o.want_q = 9;
  int64_t item = 9;
  OK(mpmp_queue_put(o.q, &item, sizeof item, T_OUT));
  run_on(check_objs, &o, sizeof o, 1, NULL, 0); /* the worker sees them */
  int64_t x = -1;
  OK(mpmp_value_get_i64(o.v, &x));
  EQ(x, 102);
  EQ(mpmp_sem_value(o.s), 0);
  free_objs(&o);
}

/* A Lock, free, on this node (made by the worker). */
static int make_lock(mpmp_ctx_t *ctx) {
  const objs_t *in = mpmp_arg(ctx, NULL);
  if (parked(ctx, &in->at))
    return 0;
  objs_t *o = mpmp_out(ctx, sizeof *o);
  *o = *in;
  if (mpmp_lock_create(&o->l) != 0)
    return mpmp_fail(ctx, "create: %s", mpmp_errmsg());
  return 0;
}
MPMP_TASK(make_lock);

/* Take the lock and die holding it. */
static int hold_and_die(mpmp_ctx_t *ctx) {
  const objs_t *o = mpmp_arg(ctx, NULL);
  if (parked(ctx, &o->at))
    return 0;
  if (mpmp_lock_acquire(o->l, T_OUT) != 0)
    return mpmp_fail(ctx, "acquire: %s", mpmp_errmsg());
  raise(SIGKILL);
  return 0;
}
MPMP_TASK(hold_and_die);

/* A Lock of the lone node that a task host died holding: the node's
 * record of dead hosts (the worker's fork server writes it) says so, and
 * the main rank's acquire takes it over. */
static void lock_of_a_dead_host(void **state) {
  (void)state;
  int lone = lone_rank();
  if (lone == 0)
    skip();
  objs_t o = {.at = {lone}};
  run_on(make_lock, &o, sizeof o, 1, &o, sizeof o);
  parked_t pk = {0};
  mpmp_process_t *p = start_on(hold_and_die, &o, sizeof o, 0, &pk);
  OK(mpmp_process_join(p, T_OUT));
  int code = 0;
  OK(mpmp_process_exitcode(p, &code));
  EQ(code, -SIGKILL);
  OK(mpmp_process_destroy(p));
  unpark(&pk);
  EQ(mpmp_lock_locked(o.l), 1);
  RC(mpmp_lock_acquire(o.l, T_OUT), MPMP_EOWNERDEAD);
  EQ(mpmp_lock_is_mine(o.l), 1);
  OK(mpmp_lock_release(o.l));
  OK(mpmp_lock_free(o.l));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(made_by_an_isolated_body),
    cmocka_unit_test(made_by_the_worker),
    cmocka_unit_test(lock_of_a_dead_host),
};

MPMP_TEST_MAIN(tests)
