/* The Python tutorials' Semaphore, Event, Condition (producer and
 * consumers) and Barrier examples (mpmp/sync.h), with Process bodies on
 * worker ranks.
 *
 * Most tests run twice: on objects the main rank created ("main home") and
 * on objects a Process body created on its worker and handed back ("worker
 * home"). On 2 pseudo-nodes the first worker (rank 1) is on the other node
 * than the main rank, so every object is remote for some of its users,
 * blocking calls included. Every blocking call has a timeout, and a
 * watchdog ends a test stuck anyway: a bug fails a check instead of
 * hanging the job. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sync_common.h"

/* ---- 1. the tutorials ----------------------------------------------------- */

/* Semaphore(2) guarding a resource that 5 processes want (tutorial): each
 * holder counts itself in v[0], records the most seen in v[1] (a CAS loop),
 * counts its entries in v[2]; v[3] counts the ready ones, ev is the go. */
typedef struct { objset_t s; int rounds; double hold; } semtut_t;

static int semtut_part(const semtut_t *a, char *err) {
  const objset_t *s = &a->s;
  EXPECT_EQ(mpmp_value_add(s->v[3], 1, NULL), 0);
  EXPECT_EQ(mpmp_event_wait(s->ev, 30), 0);
  for (int r = 0; r < a->rounds; r++) {
    int64_t old = 0, m = 0;
    EXPECT_EQ(mpmp_sem_acquire(s->sem, 30), 0);
    EXPECT_EQ(mpmp_value_add(s->v[0], 1, &old), 0);
    EXPECT_EQ(mpmp_value_get_i64(s->v[1], &m), 0);
    while (old + 1 > m) {
      int rc = mpmp_value_cas(s->v[1], &m, old + 1);
      EXPECT(rc == 0 || rc == 1);
      if (rc == 1)
        break;
    }
    EXPECT_EQ(mpmp_value_add(s->v[2], 1, NULL), 0);
    test_sleep(a->hold);
    EXPECT_EQ(mpmp_value_add(s->v[0], -1, NULL), 0);
    EXPECT_EQ(mpmp_sem_release(s->sem), 0);
  }
  return 0;
}

static int semtut_body(mpmp_ctx_t *ctx) {
  BODY(ctx, semtut_part, (const semtut_t *)mpmp_arg(ctx, NULL));
  return 0;
}
MPMP_TASK(semtut_body);

static void sync_tutorial_semaphore(void **state) {
  objspec_t sp = {.sem = 2};
  semtut_t a = {.rounds = 3, .hold = 0.02};
  mpmp_process_t *ps[5];
  objs_make(state, &sp, &a.s);
  int nproc = imin(5, mpmp_worker_count());
  int main_too = nproc < 5; /* few workers: the main rank takes part too */
  for (int i = 0; i < nproc; i++)
    ps[i] = start_process(semtut_body, &a, sizeof a);
  EQ(wait_at_least(a.s.v[3], nproc, 10), 0); /* all at the start line */
  EQ(mpmp_event_set(a.s.ev), 0);
  if (main_too)
    RUN(semtut_part, &a);
  for (int i = 0; i < nproc; i++)
    join_destroy(ps[i]);
  int parts = nproc + main_too;
  EQ(get(a.s.v[2]), parts * a.rounds);
  EQ(get(a.s.v[0]), 0);
  if (parts >= 2)
    EQ(get(a.s.v[1]), 2); /* never more than 2 at once, and 2 did overlap */
  else
    assert_true(get(a.s.v[1]) <= 2);
  EQ(mpmp_sem_value(a.s.sem), 2);
  objs_free(&a.s);
}

/* Event: workers wait on an event the main rank sets after a delay. */
static int event_waiter(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  res_t *r = mpmp_out(ctx, sizeof *r);
  memset(r, 0, sizeof *r);
  if (mpmp_value_add(a->s.v[0], 1, NULL) < 0)
    return mpmp_fail(ctx, "add: %s", mpmp_errmsg());
  double t0 = test_now();
  r->rc[0] = mpmp_event_wait(a->s.ev, a->timeout);
  r->t[0] = test_now() - t0;
  r->rc[1] = mpmp_event_is_set(a->s.ev);
  return 0;
}
MPMP_TASK(event_waiter);

static void sync_tutorial_event(void **state) {
  objspec_t sp = {0};
  objargs_t a = {.timeout = 30};
  mpmp_process_t *ps[5];
  objs_make(state, &sp, &a.s);
  int n = imin(5, mpmp_worker_count());
  double delay = 0.25;
  EQ(mpmp_event_is_set(a.s.ev), 0);
  for (int i = 0; i < n; i++)
    ps[i] = start_process(event_waiter, &a, sizeof a);
  EQ(wait_at_least(a.s.v[0], n, 10), 0);
  test_sleep(delay);
  EQ(mpmp_event_set(a.s.ev), 0);
  for (int i = 0; i < n; i++) {
    res_t r = join_res(ps[i]);
    EQ(r.rc[0], 0);
    IN(r.t[0], delay - 0.05, delay + 3.0);
    EQ(r.rc[1], 1);
  }
  EQ(mpmp_event_is_set(a.s.ev), 1);
  EQ(mpmp_event_set(a.s.ev), 0); /* set again: no change */
  EQ(mpmp_event_wait(a.s.ev, 0), 0);
  EQ(mpmp_event_clear(a.s.ev), 0);
  EQ(mpmp_event_is_set(a.s.ev), 0);
  EQ(mpmp_event_wait(a.s.ev, 0), MPMP_ETIMEDOUT);

  /* A set followed at once by a clear still wakes every waiter (Python). */
  EQ(mpmp_value_set_i64(a.s.v[0], 0), 0);
  a.timeout = 10;
  for (int i = 0; i < n; i++)
    ps[i] = start_process(event_waiter, &a, sizeof a);
  EQ(wait_at_least(a.s.v[0], n, 10), 0);
  test_sleep(0.2); /* let them reach the wait */
  EQ(mpmp_event_set(a.s.ev), 0);
  EQ(mpmp_event_clear(a.s.ev), 0);
  for (int i = 0; i < n; i++) {
    res_t r = join_res(ps[i]);
    EQ(r.rc[0], 0);
    IN(r.t[0], 0.15, 5.0);
  }
  EQ(mpmp_event_is_set(a.s.ev), 0);
  objs_free(&a.s);
}

/* Condition: producer (main) and consumers (workers) share one item slot
 * (v[0], 0 = empty, -1 = no more items); consumers add what they take to
 * v[1] and count it in v[2]. */
static int pc_consume(const objset_t *s, int64_t *mine, char *err) {
  *mine = 0;
  EXPECT_EQ(mpmp_cond_acquire(s->cond, 30), 0);
  for (;;) {
    int64_t x = 0;
    EXPECT_EQ(mpmp_cond_wait_for(s->cond, v_nonzero, (void *)&s->v[0], 30), 0);
    EXPECT_EQ(mpmp_value_get_i64(s->v[0], &x), 0);
    if (x < 0)
      break; /* leave -1 for the others */
    EXPECT_EQ(mpmp_value_set_i64(s->v[0], 0), 0);
    EXPECT_EQ(mpmp_value_add(s->v[1], x, NULL), 0);
    EXPECT_EQ(mpmp_value_add(s->v[2], 1, NULL), 0);
    (*mine)++;
    EXPECT_EQ(mpmp_cond_notify_all(s->cond), 0);
  }
  EXPECT_EQ(mpmp_cond_release(s->cond), 0);
  return 0;
}

static int pc_consumer(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  res_t *r = mpmp_out(ctx, sizeof *r);
  memset(r, 0, sizeof *r);
  BODY(ctx, pc_consume, &a->s, &r->n);
  return 0;
}
MPMP_TASK(pc_consumer);

static int pc_put(const objset_t *s, int64_t item, char *err) {
  EXPECT_EQ(mpmp_cond_acquire(s->cond, 30), 0);
  EXPECT_EQ(mpmp_cond_wait_for(s->cond, v_zero, (void *)&s->v[0], 30), 0);
  EXPECT_EQ(mpmp_value_set_i64(s->v[0], item), 0);
  EXPECT_EQ(mpmp_cond_notify_all(s->cond), 0);
  EXPECT_EQ(mpmp_cond_release(s->cond), 0);
  return 0;
}

static void sync_tutorial_condition(void **state) {
  objspec_t sp = {0};
  objargs_t a = {0};
  mpmp_process_t *ps[3];
  objs_make(state, &sp, &a.s);
  int n = imin(3, mpmp_worker_count());
  int64_t items = 25, total = 0;
  for (int i = 0; i < n; i++)
    ps[i] = start_process(pc_consumer, &a, sizeof a);
  for (int64_t i = 1; i <= items; i++)
    RUN(pc_put, &a.s, i);
  RUN(pc_put, &a.s, -1);
  for (int i = 0; i < n; i++) {
    res_t r = join_res(ps[i]);
    assert_true(r.n >= 0 && r.n <= items);
    total += r.n;
  }
  EQ(total, items);
  EQ(get(a.s.v[1]), items * (items + 1) / 2);
  EQ(get(a.s.v[2]), items);
  EQ(get(a.s.v[0]), -1);
  objs_free(&a.s);
}

/* Barrier of all workers and the main rank, several rounds in a row: the
 * arrival indices of each round are 0..N-1, each once (counted in arr). */
typedef struct { objset_t s; int rounds; int parties; } brounds_t;

static int brounds_part(const brounds_t *a, char *err) {
  for (int r = 0; r < a->rounds; r++) {
    int idx = mpmp_barrier_wait(a->s.bar, 30);
    EXPECT(idx >= 0 && idx < a->parties);
    EXPECT_EQ(mpmp_array_add(a->s.arr, (size_t)(r * a->parties + idx), 1, NULL), 0);
  }
  return 0;
}

static int brounds_body(mpmp_ctx_t *ctx) {
  BODY(ctx, brounds_part, (const brounds_t *)mpmp_arg(ctx, NULL));
  return 0;
}
MPMP_TASK(brounds_body);

static void sync_tutorial_barrier(void **state) {
  int w = imin(mpmp_worker_count(), 7);
  brounds_t a = {.rounds = 6, .parties = w + 1};
  objspec_t sp = {.parties = (unsigned)(w + 1)};
  mpmp_process_t *ps[7];
  assert_true(a.rounds * a.parties <= ARR_LEN);
  objs_make(state, &sp, &a.s);
  EQ(mpmp_barrier_parties(a.s.bar), a.parties);
  for (int i = 0; i < w; i++)
    ps[i] = start_process(brounds_body, &a, sizeof a);
  RUN(brounds_part, &a);
  for (int i = 0; i < w; i++)
    join_destroy(ps[i]);
  int64_t seen[ARR_LEN];
  EQ(mpmp_array_read(a.s.arr, 0, ARR_LEN, seen), 0);
  for (int i = 0; i < ARR_LEN; i++)
    if (seen[i] != (i < a.rounds * a.parties ? 1 : 0))
      fail_msg("round %d: arrival index %d seen %lld times", i / a.parties,
               i % a.parties, (long long)seen[i]);
  EQ(mpmp_barrier_broken(a.s.bar), 0);
  EQ(mpmp_barrier_n_waiting(a.s.bar), 0);
  objs_free(&a.s);
}

static const struct CMUnitTest tests[] = {
    BOTH(sync_tutorial_semaphore),
    BOTH(sync_tutorial_event),
    BOTH(sync_tutorial_condition),
    BOTH(sync_tutorial_barrier),
};

MPMP_TEST_MAIN(tests)
