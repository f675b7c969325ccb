/* Queues and Pipes homed on every node, NaN timeouts refused everywhere,
 * and one queue shared by every worker.
 *
 * Runs on 1 node and on 2 pseudo-nodes, where objects made by the main rank
 * are remote for ranks 1 and 3, and objects made in their process bodies
 * are remote for the main rank. */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "queue_common.h"

/* ---- objects homed on each node ------------------------------------------ */

typedef struct homed {
  mpmp_queue_t q;
  mpmp_conn_t c1, c2;
  int node;
} homed_t;

typedef struct home_args {
  mpmp_queue_t started, go;
} home_args_t;

/* Make a queue (3 items in it) and a pipe (1 message in it) on this
 * worker's node; stay until every such body runs, so that they all get
 * their own rank. */
static int make_homed(mpmp_ctx_t *ctx) {
  const home_args_t *a = mpmp_arg(ctx, NULL);
  homed_t *h = mpmp_out(ctx, sizeof *h);
  char tok;
  size_t n;
  h->node = mpmp_node_id();
  if (mpmp_queue_create(&h->q, 8, 32) < 0 ||
      mpmp_pipe_create(&h->c1, &h->c2, 1) < 0)
    return mpmp_fail(ctx, "create: %s", mpmp_errmsg());
  for (int i = 0; i < 3; i++)
    if (mpmp_queue_put(h->q, &i, sizeof i, T) < 0)
      return mpmp_fail(ctx, "put: %s", mpmp_errmsg());
  if (mpmp_conn_send(h->c2, "from the home node", 18, T) < 0 ||
      mpmp_queue_put(a->started, "s", 1, T) < 0 ||
      mpmp_queue_get(a->go, &tok, 1, &n, T) < 0)
    return mpmp_fail(ctx, "%s", mpmp_errmsg());
  return 0;
}
MPMP_TASK(make_homed);

static void use_homed(const homed_t *h) {
  int v;
  size_t n;
  char buf[64];
  assert_int_equal(mpmp_queue_qsize(h->q), 3);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(mpmp_queue_get(h->q, &v, sizeof v, &n, T), 0);
    assert_int_equal(v, i);
  }
  assert_int_equal(mpmp_queue_get(h->q, &v, sizeof v, &n, 0.05),
                   MPMP_ETIMEDOUT);
  assert_int_equal(mpmp_queue_put(h->q, "ping", 4, T), 0);
  assert_int_equal(mpmp_queue_get(h->q, buf, 2, &n, T), MPMP_EMSGSIZE);
  assert_int_equal(n, 4);
  assert_int_equal(mpmp_queue_get(h->q, buf, sizeof buf, &n, T), 0);
  assert_int_equal(n, 4);
  assert_int_equal(mpmp_queue_close(h->q), 0);
  assert_int_equal(mpmp_queue_get(h->q, buf, sizeof buf, &n, T), MPMP_EEOF);
  assert_int_equal(mpmp_conn_poll(h->c1, T), 1);
  assert_int_equal(mpmp_conn_recv(h->c1, buf, sizeof buf, &n, T), 0);
  assert_true(n == 18 && memcmp(buf, "from the home node", 18) == 0);
  assert_int_equal(mpmp_conn_send(h->c1, "back", 4, T), 0);
  assert_int_equal(mpmp_conn_recv(h->c2, buf, sizeof buf, &n, T), 0);
  assert_true(n == 4 && memcmp(buf, "back", 4) == 0);
  assert_int_equal(mpmp_conn_close(h->c2), 0);
  assert_int_equal(mpmp_conn_recv(h->c1, buf, sizeof buf, &n, T), MPMP_EEOF);
  assert_int_equal(mpmp_queue_free(h->q), 0);
  assert_int_equal(mpmp_pipe_free(h->c1, h->c2), 0);
  assert_int_equal(mpmp_queue_put(h->q, "x", 1, T), MPMP_EBADF);
}

static void objects_homed_on_every_node(void **state) {
  (void)state;
  int nw = mpmp_worker_count();
  home_args_t a;
  mpmp_process_t *ps[16];
  int seen[16] = {0};
  char tok;
  size_t n;
  assert_true(nw <= 16);
  assert_int_equal(mpmp_queue_create(&a.started, 0, 1), 0);
  assert_int_equal(mpmp_queue_create(&a.go, 0, 1), 0);
  for (int i = 0; i < nw; i++)
    ps[i] = start_process(make_homed, &a, sizeof a);
  for (int i = 0; i < nw; i++)
    assert_int_equal(mpmp_queue_get(a.started, &tok, 1, &n, T), 0);
  for (int i = 0; i < nw; i++)
    assert_int_equal(mpmp_queue_put(a.go, "g", 1, T), 0);
  for (int i = 0; i < nw; i++) {
    homed_t h;
    size_t size;
    memcpy(&h, join_result_within(ps[i], 60, &size), sizeof h);
    assert_int_equal(size, sizeof h);
    mpmp_process_destroy(ps[i]);
    assert_int_equal(h.q.ref.node, (uint32_t)h.node);
    seen[h.node] = 1;
    use_homed(&h);
  }
  for (int k = 0; k < mpmp_node_count(); k++)
    assert_true(seen[k]); /* every node was home to some */
  assert_int_equal(mpmp_queue_free(a.started), 0);
  assert_int_equal(mpmp_queue_free(a.go), 0);
}

/* ---- a NaN timeout ------------------------------------------------------- */

/* A NaN timeout is refused (MPMP_EINVAL, naming NaN) by every call that
 * takes one, before anything is done: no item is taken or added, no
 * message sent or received. (It used to be taken as 0, or as forever.) */
typedef struct nan_objs {
  mpmp_queue_t q, jq;  /* 1 item each; jq's task not done */
  mpmp_conn_t c1, c2;  /* a message from c2 waits at c1 */
  int node;
} nan_objs_t;

static int nan_objs_make(nan_objs_t *o) {
  o->node = mpmp_node_id();
  if (mpmp_queue_create(&o->q, 4, 32) < 0 ||
      mpmp_joinable_queue_create(&o->jq, 4, 32) < 0 ||
      mpmp_pipe_create(&o->c1, &o->c2, 1) < 0 ||
      mpmp_queue_put(o->q, "item", 4, T) < 0 ||
      mpmp_queue_put(o->jq, "task", 4, T) < 0 ||
      mpmp_conn_send(o->c2, "message", 7, T) < 0)
    return -1;
  return 0;
}

static void nan_objs_free(const nan_objs_t *o) {
  assert_int_equal(mpmp_queue_free(o->q), 0);
  assert_int_equal(mpmp_queue_free(o->jq), 0);
  assert_int_equal(mpmp_pipe_free(o->c1, o->c2), 0);
}

static void expect_nan_refused(int rc) {
  assert_int_equal(rc, MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "NaN"));
}

static void nan_refused_on(const nan_objs_t *o) {
  const double nans[] = {NAN, -NAN};
  char buf[32];
  size_t n = 99;
  int ready[2];
  for (int k = 0; k < 2; k++) {
    double t = nans[k];
    expect_nan_refused(mpmp_queue_put(o->q, "more", 4, t));
    expect_nan_refused(mpmp_queue_get(o->q, buf, sizeof buf, &n, t));
    assert_int_equal(n, 0);
    assert_int_equal(mpmp_queue_qsize(o->q), 1); /* nothing in, nothing out */
    expect_nan_refused(mpmp_queue_join(o->jq, t));
    expect_nan_refused(mpmp_conn_send(o->c2, "more", 4, t));
    expect_nan_refused(mpmp_conn_recv(o->c1, buf, sizeof buf, &n, t));
    expect_nan_refused(mpmp_conn_poll(o->c1, t));
    expect_nan_refused(mpmp_conn_wait(&o->q.ref, 1, t, ready));
    mpmp_ref_t both[2] = {o->q.ref, o->c1.ref};
    expect_nan_refused(mpmp_conn_wait(both, 2, t, ready));
  }
  /* Everything is as it was: one item, one task, one message. A buffer
   * is room: one of 2 GiB + 4 KiB takes the item here and from another
   * node alike (helper 66: refused there, "more than one operation on
   * another node fills"). Its pages are never touched. */
  const size_t big_n = (size_t)INT32_MAX + 1 + 4096;
  char *big = mmap(NULL, big_n, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  assert_true(big != MAP_FAILED);
  assert_int_equal(mpmp_queue_get(o->q, big, big_n, &n, T), 0);
  assert_true(n == 4 && memcmp(big, "item", 4) == 0);
  assert_int_equal(mpmp_queue_get(o->q, buf, sizeof buf, &n, 0),
                   MPMP_ETIMEDOUT);
  assert_int_equal(mpmp_queue_join(o->jq, 0.01), MPMP_ETIMEDOUT);
  assert_int_equal(mpmp_conn_recv(o->c1, big, big_n, &n, T), 0);
  assert_true(n == 7 && memcmp(big, "message", 7) == 0);
  /* An item of that size is over the queue's max item, which the message
   * names from another node too (helper 70: there it said "more than one
   * operation on another node carries (2 GiB)"). */
  assert_int_equal(mpmp_queue_put(o->q, big, big_n, T), MPMP_EMSGSIZE);
  if (strstr(mpmp_errmsg(), "larger than this queue's max item size (32 "
                            "bytes)") == NULL)
    fail_msg("a put of 2 GiB + 4 KiB to a queue of 32-byte items says: %s",
             mpmp_errmsg());
  munmap(big, big_n);
  assert_int_equal(mpmp_conn_poll(o->c1, 0), 0);
  assert_int_equal(mpmp_conn_poll(o->c2, 0), 0);
}

/* Objects on this worker's node, kept until every such body runs. */
static int make_nan_objs(mpmp_ctx_t *ctx) {
  const home_args_t *a = mpmp_arg(ctx, NULL);
  nan_objs_t *o = mpmp_out(ctx, sizeof *o);
  char tok;
  size_t n;
  if (nan_objs_make(o) < 0 || mpmp_queue_put(a->started, "s", 1, T) < 0 ||
      mpmp_queue_get(a->go, &tok, 1, &n, T) < 0)
    return mpmp_fail(ctx, "%s", mpmp_errmsg());
  return 0;
}
MPMP_TASK(make_nan_objs);

static void nan_timeouts_refused_everywhere(void **state) {
  (void)state;
  nan_objs_t mine;
  assert_int_equal(nan_objs_make(&mine), 0);
  nan_refused_on(&mine);
  nan_objs_free(&mine);
  /* and on objects homed on every node: remote ones go through messages */
  int nw = mpmp_worker_count() > 16 ? 16 : mpmp_worker_count();
  home_args_t a;
  mpmp_process_t *ps[16];
  char tok;
  size_t n;
  assert_int_equal(mpmp_queue_create(&a.started, 0, 1), 0);
  assert_int_equal(mpmp_queue_create(&a.go, 0, 1), 0);
  for (int i = 0; i < nw; i++)
    ps[i] = start_process(make_nan_objs, &a, sizeof a);
  for (int i = 0; i < nw; i++)
    assert_int_equal(mpmp_queue_get(a.started, &tok, 1, &n, T), 0);
  for (int i = 0; i < nw; i++)
    assert_int_equal(mpmp_queue_put(a.go, "g", 1, T), 0);
  int remote = 0;
  for (int i = 0; i < nw; i++) {
    nan_objs_t o;
    size_t size;
    memcpy(&o, join_result_within(ps[i], 60, &size), sizeof o);
    assert_int_equal(size, sizeof o);
    mpmp_process_destroy(ps[i]);
    remote += o.node != mpmp_node_id();
    nan_refused_on(&o);
    nan_objs_free(&o);
  }
  if (remote_job())
    assert_true(remote > 0);
  assert_int_equal(mpmp_queue_free(a.started), 0);
  assert_int_equal(mpmp_queue_free(a.go), 0);
}

/* A queue made by the main rank, used from every worker at once (remote
 * for the workers of the other node). */
static int put_get_own(mpmp_ctx_t *ctx) {
  const sprod_t *a = mpmp_arg(ctx, NULL);
  unsigned char b[MAX_ITEM];
  size_t n;
  for (int i = 0; i < a->count; i++) {
    item_fill(b, a->id, (uint64_t)i);
    if (mpmp_queue_put(a->q, b, item_size(a->id, (uint64_t)i), T) < 0 ||
        mpmp_queue_get(a->q, b, sizeof b, &n, T) < 0)
      return mpmp_fail(ctx, "item %d: %s", i, mpmp_errmsg());
  }
  return 0;
}
MPMP_TASK(put_get_own);

static void queue_shared_by_every_worker(void **state) {
  (void)state;
  int nw = mpmp_worker_count() > MAXP ? MAXP : mpmp_worker_count();
  mpmp_process_t *ps[MAXP];
  sprod_t args[MAXP];
  mpmp_queue_t q;
  assert_int_equal(mpmp_queue_create(&q, 4, MAX_ITEM), 0);
  for (int i = 0; i < nw; i++) {
    args[i] = (sprod_t){q, (uint32_t)i, remote_job() ? 200 : 5000};
    ps[i] = start_process(put_get_own, &args[i], sizeof args[i]);
  }
  for (int i = 0; i < nw; i++)
    join_destroy_within(ps[i], 60);
  assert_int_equal(mpmp_queue_empty(q), 1);
  assert_int_equal(mpmp_queue_free(q), 0);
}

/* ---- a task host that dies while it waits on another node's queue --------- */

/* Isolated tasks on the nodes other than the objects' home wait in a get
 * (or a pipe's recv) there and die of an alarm meanwhile; then the main
 * rank puts as many items (sends as many messages) and must get every one
 * back. The build before lost about half of them: the home node's helper
 * that waited for a dead host took the next item for it when the put
 * reached the home node before the note of the death (they went to
 * different ranks there: --pseudo 2 -n 6), and the host's worker dropped
 * the answer (queue.c's host_take). */
typedef struct dier {
  homed_t h;
  int use_pipe;
} dier_t;

static int die_waiting_there(mpmp_ctx_t *ctx) {
  const dier_t *d = mpmp_arg(ctx, NULL);
  int64_t got = -1;
  if (mpmp_node_id() == d->h.node)
    return 0; /* only hosts of the other nodes wait */
  alarm(1);
  if (d->use_pipe)
    mpmp_conn_recv(d->h.c1, &got, sizeof got, NULL, 5.0);
  else
    mpmp_queue_get(d->h.q, &got, sizeof got, NULL, 5.0);
  return mpmp_fail(ctx, "the alarm did not end the host (got %lld)",
                   (long long)got);
}
MPMP_TASK(die_waiting_there);

static void items_after_hosts_died_waiting_are_not_lost(void **state) {
  (void)state;
  int nw = mpmp_worker_count();
  if (test_hosts_off() || nw > 16)
    skip();
  home_args_t a;
  mpmp_process_t *ps[16];
  homed_t hs[16];
  int far = -1;
  char tok;
  size_t n;
  OK(mpmp_queue_create(&a.started, 0, 1));
  OK(mpmp_queue_create(&a.go, 0, 1));
  for (int i = 0; i < nw; i++)
    ps[i] = start_process(make_homed, &a, sizeof a);
  for (int i = 0; i < nw; i++)
    OK(mpmp_queue_get(a.started, &tok, 1, &n, T));
  for (int i = 0; i < nw; i++)
    OK(mpmp_queue_put(a.go, "g", 1, T));
  for (int i = 0; i < nw; i++) {
    memcpy(&hs[i], join_result_within(ps[i], 60, NULL), sizeof hs[i]);
    mpmp_process_destroy(ps[i]);
    if (far < 0 && hs[i].node != mpmp_node_id())
      far = i;
  }
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_ALWAYS, .processes = nw};
  OK(mpmp_pool_create(&pool, &o));
  for (int round = 0; far >= 0 && round < 6; round++) {
    dier_t d[16];
    int64_t out[16];
    const homed_t *h = &hs[far];
    char buf[32];
    int use_pipe = round % 2;
    if (round == 0) { /* what make_homed left there */
      for (int i = 0; i < 3; i++)
        OK(mpmp_queue_get(h->q, buf, sizeof buf, &n, T));
      OK(mpmp_conn_recv(h->c1, buf, sizeof buf, &n, T));
    }
    for (int i = 0; i < nw; i++)
      d[i] = (dier_t){*h, use_pipe};
    mpmp_async_t *res = NULL;
    OK(mpmp_pool_map_async(pool, die_waiting_there, d, (size_t)nw, sizeof *d,
                           out, sizeof *out, 1, NULL, NULL, &res));
    (void)mpmp_async_get(res, 60);
    int died = mpmp_async_failed_count(res);
    for (int k = 0; k < died; k++) {
      const char *msg = NULL;
      OK(mpmp_async_failure(res, k, NULL, NULL, &msg));
      if (strstr(msg, "signal 14") == NULL)
        fail_msg("an item failed otherwise: %s", msg);
    }
    mpmp_async_destroy(res);
    for (int64_t v = 0; v < died; v++)
      OK(use_pipe ? mpmp_conn_send(h->c2, &v, sizeof v, T)
                  : mpmp_queue_put(h->q, &v, sizeof v, T));
    for (int64_t v = 0; v < died; v++) {
      int64_t got = -1;
      int rc = use_pipe ? mpmp_conn_recv(h->c1, &got, sizeof got, &n, 5.0)
                        : mpmp_queue_get(h->q, &got, sizeof got, &n, 5.0);
      if (rc != 0 || got != v)
        fail_msg("round %d (%s): %d of %d hosts died; item %lld: rc %d, got "
                 "%lld", round, use_pipe ? "pipe" : "queue", died, nw,
                 (long long)v, rc, (long long)got);
    }
  }
  OK(mpmp_pool_destroy(pool));
  for (int i = 0; i < nw; i++) {
    OK(mpmp_queue_free(hs[i].q));
    OK(mpmp_pipe_free(hs[i].c1, hs[i].c2));
  }
  OK(mpmp_queue_free(a.started));
  OK(mpmp_queue_free(a.go));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(objects_homed_on_every_node),
    cmocka_unit_test(nan_timeouts_refused_everywhere),
    cmocka_unit_test(queue_shared_by_every_worker),
    cmocka_unit_test(items_after_hosts_died_waiting_are_not_lost),
};

MPMP_TEST_MAIN(tests)
