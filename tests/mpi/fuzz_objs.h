/*
 * Shared objects for the fuzz tests: one object of every kind, made here or
 * in a process body on a worker rank (so that, on pseudo-nodes, the main
 * rank calls them on another node), the table of every call that takes a
 * shared-object handle, and the runner that puts a group of checks in each
 * of three places:
 *   FZ_HERE         objects made by the main rank, checked by it;
 *   FZ_MADE_THERE   objects made in a body on rank 1, checked by the main
 *                   rank (remote on pseudo-nodes: every call is a message);
 *   FZ_CHECK_THERE  objects made by the main rank, checked in a body on
 *                   rank 1 (its calls are remote there).
 * A test file defines fz_group(group, objects) with its checks.
 */
#ifndef MPMP_FUZZ_OBJS_H
#define MPMP_FUZZ_OBJS_H

#include "fuzz.h"

/* Kinds, in the order of the handles below. */
enum { KV, KA, KL, KS, KE, KC, KB, KQ, KP, NKIND };
static const char *const fz_kind_names[NKIND] = {
    "Value", "Array", "Lock", "Semaphore", "Event", "Condition", "Barrier",
    "Queue", "Pipe connection"};

#define FZ_VALUE0 42
#define FZ_SEM0 3u  /* the Semaphore's value */
#define FZ_BSEM0 2u /* the BoundedSemaphore's value (and bound) */
#define FZ_ALEN 8   /* the Array: int32 0..7 */
#define FZ_QMAX 4   /* the Queues: 4 slots of 64 bytes */
#define FZ_QITEM 64

typedef struct fz_objs {
  mpmp_value_t v;    /* int64, locked, FZ_VALUE0 */
  mpmp_value_t vraw; /* int32, no lock */
  mpmp_value_t vd;   /* double, locked */
  mpmp_array_t a;    /* int32[FZ_ALEN], locked */
  mpmp_lock_t lock, rlock;
  mpmp_sem_t sem, bsem;
  mpmp_event_t ev;
  mpmp_cond_t cond; /* with its own RLock */
  mpmp_barrier_t bar; /* 2 parties */
  mpmp_queue_t q, jq; /* a Queue and a JoinableQueue */
  mpmp_conn_t c1, c2; /* a duplex Pipe */
  mpmp_conn_t rx, tx; /* a one-way Pipe: rx receives, tx sends */
  mpmp_ref_t freed[NKIND]; /* made, then freed: stale */
  int ok;
} fz_objs_t;

/* The valid handle of each kind (the first object of it). */
static inline void fz_valid_refs(const fz_objs_t *o, mpmp_ref_t r[NKIND]) {
  r[KV] = o->v.ref;
  r[KA] = o->a.ref;
  r[KL] = o->lock.ref;
  r[KS] = o->sem.ref;
  r[KE] = o->ev.ref;
  r[KC] = o->cond.ref;
  r[KB] = o->bar.ref;
  r[KQ] = o->q.ref;
  r[KP] = o->c1.ref;
}

/* One object of each kind, made and freed: their handles are stale. */
static inline int fz_make_freed(fz_objs_t *o) {
  test_objs_t t;
  int rc = test_objs_make(&t);
  rc |= mpmp_value_free(t.v) | mpmp_array_free(t.a) | mpmp_lock_free(t.l);
  rc |= mpmp_sem_free(t.s) | mpmp_event_free(t.e) | mpmp_cond_free(t.c);
  rc |= mpmp_barrier_free(t.b) | mpmp_queue_free(t.q) | mpmp_conn_free(t.c1);
  o->freed[KV] = t.v.ref;
  o->freed[KA] = t.a.ref;
  o->freed[KL] = t.l.ref;
  o->freed[KS] = t.s.ref;
  o->freed[KE] = t.e.ref;
  o->freed[KC] = t.c.ref;
  o->freed[KB] = t.b.ref;
  o->freed[KQ] = t.q.ref;
  o->freed[KP] = t.c1.ref;
  mpmp_conn_free(t.c2);
  return rc;
}

/* Make every object (on this rank's node); o->ok says whether all worked. */
static inline void fz_objs_make(fz_objs_t *o) {
  int64_t v0 = FZ_VALUE0;
  int32_t a0[FZ_ALEN];
  double d0 = 1.5;
  for (int i = 0; i < FZ_ALEN; i++)
    a0[i] = i;
  memset(o, 0, sizeof *o);
  int rc = mpmp_value_create(&o->v, MPMP_INT64, &v0, 1);
  rc |= mpmp_value_create(&o->vraw, MPMP_INT32, NULL, 0);
  rc |= mpmp_value_create(&o->vd, MPMP_DOUBLE, &d0, 1);
  rc |= mpmp_array_create(&o->a, MPMP_INT32, FZ_ALEN, a0, 1);
  rc |= mpmp_lock_create(&o->lock);
  rc |= mpmp_rlock_create(&o->rlock);
  rc |= mpmp_sem_create(&o->sem, FZ_SEM0);
  rc |= mpmp_bsem_create(&o->bsem, FZ_BSEM0);
  rc |= mpmp_event_create(&o->ev);
  rc |= mpmp_cond_create(&o->cond, NULL);
  rc |= mpmp_barrier_create(&o->bar, 2);
  rc |= mpmp_queue_create(&o->q, FZ_QMAX, FZ_QITEM);
  rc |= mpmp_joinable_queue_create(&o->jq, FZ_QMAX, FZ_QITEM);
  rc |= mpmp_pipe_create(&o->c1, &o->c2, 1);
  rc |= mpmp_pipe_create(&o->rx, &o->tx, 0);
  rc |= fz_make_freed(o);
  o->ok = rc == 0;
}

/* Free what fz_objs_make() made; what a check freed already is skipped. */
static inline void fz_objs_free(const fz_objs_t *o) {
  mpmp_value_free(o->v);
  mpmp_value_free(o->vraw);
  mpmp_value_free(o->vd);
  mpmp_array_free(o->a);
  mpmp_lock_free(o->lock);
  mpmp_lock_free(o->rlock);
  mpmp_sem_free(o->sem);
  mpmp_sem_free(o->bsem);
  mpmp_event_free(o->ev);
  mpmp_cond_free(o->cond);
  mpmp_barrier_free(o->bar);
  mpmp_queue_free(o->q);
  mpmp_queue_free(o->jq);
  mpmp_pipe_free(o->c1, o->c2);
  mpmp_pipe_free(o->rx, o->tx);
}

/* ---- every call that takes a handle ----------------------------------------- */

/* Calls with plain, valid other arguments (and short timeouts), so that
 * only the handle can be wrong. */
static inline int fz_pred_false(void *arg) {
  (void)arg;
  return 0;
}

#define FZ_OP(id, T, expr)                                                  \
  static int fz_op_##id(mpmp_ref_t r_) {                                    \
    T h = {r_};                                                             \
    char buf[FZ_QITEM] = {0};                                               \
    size_t sz = 0;                                                          \
    int64_t i64 = 7;                                                        \
    double f64 = 0;                                                         \
    mpmp_lock_t lk;                                                         \
    void *ptr = NULL;                                                       \
    (void)buf, (void)sz, (void)i64, (void)f64, (void)lk, (void)ptr;         \
    return (expr);                                                          \
  }

FZ_OP(value_free, mpmp_value_t, mpmp_value_free(h))
FZ_OP(value_type, mpmp_value_t, mpmp_value_type(h))
FZ_OP(value_load, mpmp_value_t, mpmp_value_load(h, buf))
FZ_OP(value_store, mpmp_value_t, mpmp_value_store(h, buf))
FZ_OP(value_add, mpmp_value_t, mpmp_value_add(h, 1, &i64))
FZ_OP(value_exchange, mpmp_value_t, mpmp_value_exchange(h, 1, &i64))
FZ_OP(value_cas, mpmp_value_t, mpmp_value_cas(h, &i64, 1))
FZ_OP(value_get_lock, mpmp_value_t, mpmp_value_get_lock(h, &lk))
FZ_OP(value_get_i64, mpmp_value_t, mpmp_value_get_i64(h, &i64))
FZ_OP(value_set_i64, mpmp_value_t, mpmp_value_set_i64(h, 5))
FZ_OP(value_get_f64, mpmp_value_t, mpmp_value_get_f64(h, &f64))
FZ_OP(value_set_f64, mpmp_value_t, mpmp_value_set_f64(h, 5.0))
FZ_OP(array_free, mpmp_array_t, mpmp_array_free(h))
FZ_OP(array_len, mpmp_array_t, mpmp_array_len(h, &sz))
FZ_OP(array_type, mpmp_array_t, mpmp_array_type(h))
FZ_OP(array_get, mpmp_array_t, mpmp_array_get(h, 1, buf))
FZ_OP(array_set, mpmp_array_t, mpmp_array_set(h, 1, buf))
FZ_OP(array_read, mpmp_array_t, mpmp_array_read(h, 0, 2, buf))
FZ_OP(array_read0, mpmp_array_t, mpmp_array_read(h, 0, 0, buf))
FZ_OP(array_write, mpmp_array_t, mpmp_array_write(h, 0, 2, buf))
FZ_OP(array_write0, mpmp_array_t, mpmp_array_write(h, 0, 0, buf))
FZ_OP(array_add, mpmp_array_t, mpmp_array_add(h, 1, 1, &i64))
FZ_OP(array_exchange, mpmp_array_t, mpmp_array_exchange(h, 1, 1, &i64))
FZ_OP(array_cas, mpmp_array_t, mpmp_array_cas(h, 1, &i64, 1))
FZ_OP(array_get_lock, mpmp_array_t, mpmp_array_get_lock(h, &lk))
FZ_OP(array_data, mpmp_array_t, mpmp_array_data(h, &ptr))
FZ_OP(lock_free, mpmp_lock_t, mpmp_lock_free(h))
FZ_OP(lock_acquire, mpmp_lock_t, mpmp_lock_acquire(h, 0.01))
FZ_OP(lock_release, mpmp_lock_t, mpmp_lock_release(h))
FZ_OP(lock_is_mine, mpmp_lock_t, mpmp_lock_is_mine(h))
FZ_OP(cond_create_with, mpmp_lock_t, mpmp_cond_create(&(mpmp_cond_t){r_}, &h))
FZ_OP(sem_free, mpmp_sem_t, mpmp_sem_free(h))
FZ_OP(sem_acquire, mpmp_sem_t, mpmp_sem_acquire(h, 0.01))
FZ_OP(sem_release, mpmp_sem_t, mpmp_sem_release(h))
FZ_OP(sem_value, mpmp_sem_t, mpmp_sem_value(h))
FZ_OP(event_free, mpmp_event_t, mpmp_event_free(h))
FZ_OP(event_set, mpmp_event_t, mpmp_event_set(h))
FZ_OP(event_clear, mpmp_event_t, mpmp_event_clear(h))
FZ_OP(event_is_set, mpmp_event_t, mpmp_event_is_set(h))
FZ_OP(event_wait, mpmp_event_t, mpmp_event_wait(h, 0.01))
FZ_OP(cond_free, mpmp_cond_t, mpmp_cond_free(h))
FZ_OP(cond_get_lock, mpmp_cond_t, mpmp_cond_get_lock(h, &lk))
FZ_OP(cond_acquire, mpmp_cond_t, mpmp_cond_acquire(h, 0.01))
FZ_OP(cond_release, mpmp_cond_t, mpmp_cond_release(h))
FZ_OP(cond_wait, mpmp_cond_t, mpmp_cond_wait(h, 0.01))
FZ_OP(cond_wait_for, mpmp_cond_t, mpmp_cond_wait_for(h, fz_pred_false, NULL, 0.01))
FZ_OP(cond_notify, mpmp_cond_t, mpmp_cond_notify(h, 1))
FZ_OP(cond_notify_all, mpmp_cond_t, mpmp_cond_notify_all(h))
FZ_OP(barrier_free, mpmp_barrier_t, mpmp_barrier_free(h))
FZ_OP(barrier_wait, mpmp_barrier_t, mpmp_barrier_wait(h, 0.01))
FZ_OP(barrier_abort, mpmp_barrier_t, mpmp_barrier_abort(h))
FZ_OP(barrier_reset, mpmp_barrier_t, mpmp_barrier_reset(h))
FZ_OP(barrier_broken, mpmp_barrier_t, mpmp_barrier_broken(h))
FZ_OP(barrier_n_waiting, mpmp_barrier_t, mpmp_barrier_n_waiting(h))
FZ_OP(barrier_parties, mpmp_barrier_t, mpmp_barrier_parties(h))
FZ_OP(queue_free, mpmp_queue_t, mpmp_queue_free(h))
FZ_OP(queue_put, mpmp_queue_t, mpmp_queue_put(h, "x", 1, 0.01))
FZ_OP(queue_put_nowait, mpmp_queue_t, mpmp_queue_put_nowait(h, "x", 1))
FZ_OP(queue_get, mpmp_queue_t, mpmp_queue_get(h, buf, sizeof buf, &sz, 0.01))
FZ_OP(queue_get_nowait, mpmp_queue_t, mpmp_queue_get_nowait(h, buf, sizeof buf, &sz))
FZ_OP(queue_qsize, mpmp_queue_t, mpmp_queue_qsize(h))
FZ_OP(queue_empty, mpmp_queue_t, mpmp_queue_empty(h))
FZ_OP(queue_full, mpmp_queue_t, mpmp_queue_full(h))
FZ_OP(queue_capacity, mpmp_queue_t, mpmp_queue_capacity(h))
FZ_OP(queue_close, mpmp_queue_t, mpmp_queue_close(h))
FZ_OP(queue_task_done, mpmp_queue_t, mpmp_queue_task_done(h))
FZ_OP(queue_join, mpmp_queue_t, mpmp_queue_join(h, 0.01))
FZ_OP(queue_in_conn_wait, mpmp_queue_t, mpmp_conn_wait(&h.ref, 1, 0.01, NULL))
FZ_OP(conn_free, mpmp_conn_t, mpmp_conn_free(h))
FZ_OP(pipe_free, mpmp_conn_t, mpmp_pipe_free(h, h))
FZ_OP(conn_send, mpmp_conn_t, mpmp_conn_send(h, "x", 1, 0.01))
FZ_OP(conn_recv, mpmp_conn_t, mpmp_conn_recv(h, buf, sizeof buf, &sz, 0.01))
FZ_OP(conn_poll, mpmp_conn_t, mpmp_conn_poll(h, 0.01))
FZ_OP(conn_close, mpmp_conn_t, mpmp_conn_close(h))
FZ_OP(conn_wait, mpmp_conn_t, mpmp_conn_wait(&h.ref, 1, 0.01, NULL))
#undef FZ_OP

typedef struct fz_op {
  const char *name;
  int (*fn)(mpmp_ref_t r);
  int kind; /* the kind of handle it takes */
  int also; /* another kind it takes (connection.wait(): both), or -1 */
} fz_op_t;

#define FZ_OPE(id, kind) {"mpmp_" #id, fz_op_##id, kind, -1}
#define FZ_OPE2(id, kind, also) {"mpmp_" #id, fz_op_##id, kind, also}
static const fz_op_t fz_ops[] = {
    FZ_OPE(value_free, KV), FZ_OPE(value_type, KV), FZ_OPE(value_load, KV),
    FZ_OPE(value_store, KV), FZ_OPE(value_add, KV),
    FZ_OPE(value_exchange, KV), FZ_OPE(value_cas, KV),
    FZ_OPE(value_get_lock, KV), FZ_OPE(value_get_i64, KV),
    FZ_OPE(value_set_i64, KV), FZ_OPE(value_get_f64, KV),
    FZ_OPE(value_set_f64, KV),
    FZ_OPE(array_free, KA), FZ_OPE(array_len, KA), FZ_OPE(array_type, KA),
    FZ_OPE(array_get, KA), FZ_OPE(array_set, KA), FZ_OPE(array_read, KA),
    FZ_OPE(array_read0, KA), FZ_OPE(array_write, KA),
    FZ_OPE(array_write0, KA), FZ_OPE(array_add, KA),
    FZ_OPE(array_exchange, KA), FZ_OPE(array_cas, KA),
    FZ_OPE(array_get_lock, KA), FZ_OPE(array_data, KA),
    FZ_OPE(lock_free, KL), FZ_OPE(lock_acquire, KL),
    FZ_OPE(lock_release, KL), FZ_OPE(lock_is_mine, KL),
    FZ_OPE(cond_create_with, KL),
    FZ_OPE(sem_free, KS), FZ_OPE(sem_acquire, KS), FZ_OPE(sem_release, KS),
    FZ_OPE(sem_value, KS),
    FZ_OPE(event_free, KE), FZ_OPE(event_set, KE), FZ_OPE(event_clear, KE),
    FZ_OPE(event_is_set, KE), FZ_OPE(event_wait, KE),
    FZ_OPE(cond_free, KC), FZ_OPE(cond_get_lock, KC),
    FZ_OPE(cond_acquire, KC), FZ_OPE(cond_release, KC),
    FZ_OPE(cond_wait, KC), FZ_OPE(cond_wait_for, KC),
    FZ_OPE(cond_notify, KC), FZ_OPE(cond_notify_all, KC),
    FZ_OPE(barrier_free, KB), FZ_OPE(barrier_wait, KB),
    FZ_OPE(barrier_abort, KB), FZ_OPE(barrier_reset, KB),
    FZ_OPE(barrier_broken, KB), FZ_OPE(barrier_n_waiting, KB),
    FZ_OPE(barrier_parties, KB),
    FZ_OPE(queue_free, KQ), FZ_OPE(queue_put, KQ),
    FZ_OPE(queue_put_nowait, KQ), FZ_OPE(queue_get, KQ),
    FZ_OPE(queue_get_nowait, KQ), FZ_OPE(queue_qsize, KQ),
    FZ_OPE(queue_empty, KQ), FZ_OPE(queue_full, KQ),
    FZ_OPE(queue_capacity, KQ), FZ_OPE(queue_close, KQ),
    FZ_OPE(queue_task_done, KQ), FZ_OPE(queue_join, KQ),
    FZ_OPE2(queue_in_conn_wait, KQ, KP),
    FZ_OPE(conn_free, KP), FZ_OPE(pipe_free, KP), FZ_OPE(conn_send, KP),
    FZ_OPE(conn_recv, KP), FZ_OPE(conn_poll, KP), FZ_OPE(conn_close, KP),
    FZ_OPE2(conn_wait, KP, KQ),
};
#undef FZ_OPE
#undef FZ_OPE2
#define FZ_NOPS ((int)(sizeof fz_ops / sizeof fz_ops[0]))

/* One call of op `k` with handle `r`, described by `what`: refused with
 * MPMP_EBADF (shared.h: "a freed, stale, zeroed or garbage handle is
 * MPMP_EBADF with a message, never a crash"), or with `alt` where the
 * header documents another code for the same call (0: none). */
static inline void fz_op_bad(int k, mpmp_ref_t r, const char *what, int alt,
                             const char *file, int line) {
  static char label[256];
  snprintf(label, sizeof label, "%s(%s)", fz_ops[k].name, what);
  fz_enter(label, file, line);
  int rc = fz_ops[k].fn(r);
  fz_leave();
  fz_refused(label, rc, MPMP_EBADF, alt ? alt : MPMP_EBADF, file, line);
}

/* ---- bodies on a worker rank -------------------------------------------------- */

typedef struct fz_group_arg {
  int group;
  uint64_t seed; /* for groups that draw */
  fz_objs_t objs;
} fz_group_arg_t;

/* Defined by each test file: the checks of one group on `o`. */
static void fz_group(int group, const fz_objs_t *o, uint64_t seed);

/* Make the objects here (on the worker's node) and return their handles. */
static int fz_objs_make_body(mpmp_ctx_t *ctx) {
  fz_objs_t o;
  fz_objs_make(&o);
  fz_objs_t *out = mpmp_out(ctx, sizeof o);
  if (out == NULL || !o.ok)
    return mpmp_fail(ctx, "could not make the objects: %s", mpmp_errmsg());
  *out = o;
  return 0;
}
MPMP_TASK(fz_objs_make_body);

static int fz_group_body(mpmp_ctx_t *ctx) {
  size_t n = 0;
  const fz_group_arg_t *a = mpmp_arg(ctx, &n);
  if (n != sizeof *a)
    return mpmp_fail(ctx, "bad argument");
  fz_group(a->group, &a->objs, a->seed);
  fz_send_notes(ctx);
  return 0;
}
MPMP_TASK(fz_group_body);

enum { FZ_HERE, FZ_MADE_THERE, FZ_CHECK_THERE };

/* Objects made in a body on a worker rank (the first free one: rank 1). */
static inline int fz_objs_make_there(fz_objs_t *o) {
  mpmp_process_t *p;
  const void *data;
  size_t n = 0;
  int code = -1;
  memset(o, 0, sizeof *o);
  if (mpmp_process_create(&p, fz_objs_make_body, NULL, 0, NULL) < 0)
    return -1;
  int rc = mpmp_process_start(p);
  if (rc == 0)
    rc = mpmp_process_join(p, FZ_WATCH_S);
  if (rc == 0)
    rc = mpmp_process_exitcode(p, &code);
  if (rc == 0 && code == 0 && mpmp_process_result(p, &data, &n) == 0 &&
      n == sizeof *o)
    memcpy(o, data, sizeof *o);
  else
    fprintf(stderr, "fz_objs_make_body failed: %s %s\n", mpmp_errmsg(),
            mpmp_process_errmsg(p));
  mpmp_process_destroy(p);
  return o->ok ? 0 : -1;
}

/* Run group `group` in place `where` (see the top of this file). */
static inline void fz_run_group(int group, int where, uint64_t seed) {
  fz_group_arg_t a;
  memset(&a, 0, sizeof a);
  a.group = group;
  a.seed = seed;
  if (where == FZ_MADE_THERE)
    fz_objs_make_there(&a.objs);
  else
    fz_objs_make(&a.objs);
  assert_true(a.objs.ok);
  if (where == FZ_CHECK_THERE)
    fz_run_remote(fz_group_body, &a, sizeof a, __FILE__, __LINE__);
  else
    fz_group(group, &a.objs, seed);
  fz_objs_free(&a.objs);
}

/* Three CMocka tests for one group: name_here, name_made_there and
 * name_checked_there (see the top of this file). */
#define FZ_PLACES(name, group)                                              \
  static void name##_here(void **s) {                                       \
    (void)s;                                                                \
    fz_run_group(group, FZ_HERE, 0);                                        \
    FZ_DONE();                                                              \
  }                                                                         \
  static void name##_made_there(void **s) {                                 \
    (void)s;                                                                \
    fz_run_group(group, FZ_MADE_THERE, 0);                                  \
    FZ_DONE();                                                              \
  }                                                                         \
  static void name##_checked_there(void **s) {                              \
    (void)s;                                                                \
    fz_run_group(group, FZ_CHECK_THERE, 0);                                 \
    FZ_DONE();                                                              \
  }
#define FZ_PLACES_TESTS(name)                                               \
  cmocka_unit_test(name##_here), cmocka_unit_test(name##_made_there),       \
      cmocka_unit_test(name##_checked_there)

/* ---- helper threads: make an object ready a little later ----------------- */

typedef struct fz_later {
  pthread_t t;
  double delay;
  void (*fn)(void *arg);
  void *arg;
} fz_later_t;

static inline void *fz_later_main(void *arg) {
  fz_later_t *l = arg;
  test_sleep(l->delay);
  l->fn(l->arg);
  return NULL;
}

static inline void fz_later(fz_later_t *l, double delay, void (*fn)(void *),
                     void *arg) {
  l->delay = delay;
  l->fn = fn;
  l->arg = arg;
  if (pthread_create(&l->t, NULL, fz_later_main, l) != 0)
    fz_note(__FILE__, __LINE__, "pthread_create failed");
}

static inline void fz_later_join(fz_later_t *l) { pthread_join(l->t, NULL); }

/* `call` waits for what `fn` does FZ_LATER_S later: it must return 0 or
 * more, and must have slept meanwhile (a spinning waiter burns a core). */
#define FZ_LATER_S 0.2
#define FZ_MAX_CPU_S (FZ_LATER_S / 2)
#define FZ_WAIT_FOR_LATER(fn, call)                                         \
  do {                                                                      \
    fz_later_t l_;                                                          \
    fz_later(&l_, FZ_LATER_S, fn, NULL);                                    \
    double cpu_ = fz_thread_cpu();                                          \
    FZ_CALL(call, rc_);                                                     \
    cpu_ = fz_thread_cpu() - cpu_;                                          \
    fz_later_join(&l_);                                                     \
    FZ_TRUE(rc_ >= 0, "%s: returned %ld: %s", #call, rc_, mpmp_errmsg());   \
    FZ_TRUE(cpu_ < FZ_MAX_CPU_S, "%s: used %.3f s of CPU while it waited "  \
            "%.1f s: a blocked wait must sleep", #call, cpu_, FZ_LATER_S);  \
  } while (0)

#endif /* MPMP_FUZZ_OBJS_H */
