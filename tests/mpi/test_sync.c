/* Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition and Barrier
 * (mpmp/sync.h) used by the main rank and by Process bodies on worker ranks:
 * the tutorials' examples, Python's semantics, fairness, timeouts and bad
 * handles. Most tests run twice: on objects the main rank created ("main
 * home") and on objects a Process body created on its worker and handed
 * back ("worker home"). On 2 pseudo-nodes the first worker (rank 1) is on
 * the other node than the main rank, so every object is remote for some of
 * its users, blocking calls included. Every blocking call has a timeout: a
 * bug fails a check instead of hanging the job. */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpitest.h"

/* ---- checks that work on the main rank and in a body ---------------------- */

typedef struct { char msg[640]; } chk_t;

static const char *code_name(long long x) {
  return x < 0 ? mpmp_err_name((int)x) : "";
}

#define EXPECT_FAIL(...)                                                      \
  do {                                                                       \
    int n_ = snprintf((e)->msg, sizeof (e)->msg, "rank %d, %s:%d: ",         \
                      mpmp_rank(), __FILE__, __LINE__);                      \
    snprintf((e)->msg + n_, sizeof (e)->msg - (size_t)n_, __VA_ARGS__);      \
    return -1;                                                               \
  } while (0)
#define EXPECT(cond)                                                          \
  do {                                                                       \
    if (!(cond))                                                             \
      EXPECT_FAIL("%s is false (last error: %s)", #cond, mpmp_errmsg());      \
  } while (0)
#define EXPECT_EQ(a, b)                                                       \
  do {                                                                       \
    long long a_ = (long long)(a), b_ = (long long)(b);                      \
    if (a_ != b_)                                                            \
      EXPECT_FAIL("%s is %lld %s, expected %lld %s (last error: %s)", #a, a_, \
              code_name(a_), b_, code_name(b_), mpmp_errmsg());              \
  } while (0)
#define EXPECT_IN(x, lo, hi)                                                  \
  do {                                                                       \
    double x_ = (x);                                                         \
    if (!(x_ >= (lo) && x_ <= (hi)))                                         \
      EXPECT_FAIL("%s is %.3f, expected %.3f..%.3f", #x, x_, (double)(lo),    \
              (double)(hi));                                                 \
  } while (0)

/* The same on the main rank (CMocka). */
#define EQ(a, b)                                                             \
  do {                                                                       \
    long long a_ = (long long)(a), b_ = (long long)(b);                      \
    if (a_ != b_)                                                            \
      fail_msg("%s is %lld %s, expected %lld %s (last error: %s)", #a, a_,   \
               code_name(a_), b_, code_name(b_), mpmp_errmsg());             \
  } while (0)
#define IN(x, lo, hi)                                                        \
  do {                                                                       \
    double x_ = (x);                                                         \
    if (!(x_ >= (lo) && x_ <= (hi)))                                         \
      fail_msg("%s is %.3f, expected %.3f..%.3f", #x, x_, (double)(lo),      \
               (double)(hi));                                                \
  } while (0)

/* Run a check function on the main rank / in a body. */
#define RUN(fn, ...)                                                         \
  do {                                                                       \
    chk_t e_;                                                                \
    e_.msg[0] = '\0';                                                        \
    if (fn(__VA_ARGS__, &e_) < 0)                                            \
      fail_msg("main rank: %s", e_.msg);                                     \
  } while (0)
#define BODY(ctx, fn, ...)                                                   \
  do {                                                                       \
    chk_t e_;                                                                \
    e_.msg[0] = '\0';                                                        \
    if (fn(__VA_ARGS__, &e_) < 0)                                            \
      return mpmp_fail(ctx, "%s", e_.msg);                                   \
  } while (0)

/* A watchdog per test: every wait in a test is bounded, so a test still
 * running after WATCHDOG_S is stuck in a call that ignored its timeout. End
 * the job with a message rather than stall until mpirun's time limit. */
#define WATCHDOG_S 60
static const char *current_test = "?";

static void watchdog_fired(int sig) {
  static const char m1[] = "\ntest_sync: ";
  static const char m2[] = " is stuck: a call did not return within its "
                           "timeout (the watchdog ends the job)\n";
  (void)sig;
  fflush(stdout); /* not async-signal-safe; the job ends anyway */
  (void)!write(2, m1, sizeof m1 - 1);
  (void)!write(2, current_test, strlen(current_test));
  (void)!write(2, m2, sizeof m2 - 1);
  _exit(3);
}

/* The state of each test: where its objects live, and its name. */
typedef struct { int home; const char *name; } test_home_t;

static int home_of(void **state) { return ((const test_home_t *)*state)->home; }

static int watchdog_arm(void **state) {
  current_test = ((const test_home_t *)*state)->name;
  signal(SIGALRM, watchdog_fired);
  alarm(WATCHDOG_S);
  return 0;
}

static int watchdog_disarm(void **state) {
  (void)state;
  alarm(0);
  return 0;
}

static int imin(int a, int b) { return a < b ? a : b; }

/* ---- the objects of a test ------------------------------------------------ */

typedef struct objspec {
  unsigned sem;      /* Semaphore(sem) */
  unsigned bsem;     /* BoundedSemaphore(bsem), 0: 1 */
  unsigned parties;  /* Barrier(parties), 0: 1 */
  unsigned parties2; /* second Barrier, 0: 1 */
} objspec_t;

#define ARR_LEN 64

typedef struct objset {
  mpmp_lock_t lock, lock2, rlock; /* Lock, Lock, RLock */
  mpmp_sem_t sem, bsem;
  mpmp_event_t ev, ev2;
  mpmp_cond_t cond;  /* Condition() (its own RLock) */
  mpmp_cond_t ucond; /* Condition(lock2) */
  mpmp_barrier_t bar, bar2;
  mpmp_value_t v[4]; /* RawValue('q', 0) */
  mpmp_array_t arr;  /* RawArray('q', ARR_LEN) */
  int node;          /* where they live */
} objset_t;

static int objs_create(const objspec_t *sp, objset_t *s) {
  int rc;
  memset(s, 0, sizeof *s);
  s->node = mpmp_node_id();
  if ((rc = mpmp_lock_create(&s->lock)) < 0 ||
      (rc = mpmp_lock_create(&s->lock2)) < 0 ||
      (rc = mpmp_rlock_create(&s->rlock)) < 0 ||
      (rc = mpmp_sem_create(&s->sem, sp->sem)) < 0 ||
      (rc = mpmp_bsem_create(&s->bsem, sp->bsem ? sp->bsem : 1)) < 0 ||
      (rc = mpmp_event_create(&s->ev)) < 0 ||
      (rc = mpmp_event_create(&s->ev2)) < 0 ||
      (rc = mpmp_cond_create(&s->cond, NULL)) < 0 ||
      (rc = mpmp_cond_create(&s->ucond, &s->lock2)) < 0 ||
      (rc = mpmp_barrier_create(&s->bar, sp->parties ? sp->parties : 1)) < 0 ||
      (rc = mpmp_barrier_create(&s->bar2, sp->parties2 ? sp->parties2 : 1)) < 0 ||
      (rc = mpmp_array_create(&s->arr, MPMP_INT64, ARR_LEN, NULL, 0)) < 0)
    return rc;
  for (int i = 0; i < 4; i++)
    if ((rc = mpmp_value_create(&s->v[i], MPMP_INT64, NULL, 0)) < 0)
      return rc;
  return 0;
}

/* Creates the objects on its worker's node and hands the handles back. */
static int maker(mpmp_ctx_t *ctx) {
  const objspec_t *sp = mpmp_arg(ctx, NULL);
  objset_t *s = mpmp_out(ctx, sizeof *s);
  int rc = objs_create(sp, s);
  return rc < 0 ? mpmp_fail(ctx, "objs_create: %s", mpmp_errmsg()) : 0;
}
MPMP_TASK(maker);

typedef struct { int rc[16]; double t[16]; int64_t n; } res_t;

static mpmp_process_t *start(mpmp_task_fn fn, const void *arg, size_t n) {
  mpmp_process_t *p = NULL;
  EQ(mpmp_process_create(&p, fn, arg, n, NULL), 0);
  EQ(mpmp_process_start(p), 0);
  return p;
}

/* Join (30 s at most); the body must have returned 0. */
static void join_ok(mpmp_process_t *p) {
  int code = -999;
  EQ(mpmp_process_join(p, 30), 0);
  EQ(mpmp_process_exitcode(p, &code), 0);
  if (code != 0)
    fail_msg("%s (rank %d) exited with %d: %s", mpmp_process_name(p),
             mpmp_process_rank(p), code, mpmp_process_errmsg(p));
}

/* Join, copy its res_t out, destroy. */
static res_t join_res(mpmp_process_t *p) {
  res_t r;
  const void *data = NULL;
  size_t size = 0;
  join_ok(p);
  EQ(mpmp_process_result(p, &data, &size), 0);
  EQ(size, sizeof r);
  memcpy(&r, data, sizeof r);
  mpmp_process_destroy(p);
  return r;
}

static void join_destroy(mpmp_process_t *p) {
  join_ok(p);
  EQ(mpmp_process_destroy(p), 0);
}

static void objs_make(void **state, const objspec_t *sp, objset_t *s) {
  if (home_of(state) == 0) {
    EQ(objs_create(sp, s), 0);
    return;
  }
  mpmp_process_t *p = start(maker, sp, sizeof *sp);
  const void *data = NULL;
  size_t size = 0;
  join_ok(p);
  EQ(mpmp_process_result(p, &data, &size), 0);
  EQ(size, sizeof *s);
  memcpy(s, data, sizeof *s);
  EQ(mpmp_process_destroy(p), 0);
  if (mpmp_node_count() > 1 && s->node == mpmp_node_id())
    fail_msg("the maker ran on the main rank's node: this test wants the "
             "objects on another node (rank 1)");
}

static int is_zero(const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i])
      return 0;
  return 1;
}

/* Free what is left (a test zeroes the handles it freed itself). */
static void objs_free(objset_t *s) {
  if (!is_zero(&s->ucond, sizeof s->ucond))
    EQ(mpmp_cond_free(s->ucond), 0);
  if (!is_zero(&s->lock2, sizeof s->lock2))
    EQ(mpmp_lock_free(s->lock2), 0);
  EQ(mpmp_cond_free(s->cond), 0);
  EQ(mpmp_lock_free(s->lock), 0);
  EQ(mpmp_lock_free(s->rlock), 0);
  EQ(mpmp_sem_free(s->sem), 0);
  EQ(mpmp_sem_free(s->bsem), 0);
  EQ(mpmp_event_free(s->ev), 0);
  EQ(mpmp_event_free(s->ev2), 0);
  EQ(mpmp_barrier_free(s->bar), 0);
  EQ(mpmp_barrier_free(s->bar2), 0);
  EQ(mpmp_array_free(s->arr), 0);
  for (int i = 0; i < 4; i++)
    EQ(mpmp_value_free(s->v[i]), 0);
}

static int64_t get(mpmp_value_t v) {
  int64_t x = -1;
  EQ(mpmp_value_get_i64(v, &x), 0);
  return x;
}

/* Poll until the value reaches `want`: 0, or MPMP_ETIMEDOUT. */
static int wait_at_least(mpmp_value_t v, int64_t want, double timeout) {
  double end = test_now() + timeout;
  for (;;) {
    int64_t x = 0;
    if (mpmp_value_get_i64(v, &x) < 0)
      return -1;
    if (x >= want)
      return 0;
    if (test_now() > end)
      return MPMP_ETIMEDOUT;
    test_sleep(0.001);
  }
}

static int v_nonzero(void *arg) {
  int64_t x = 0;
  mpmp_value_get_i64(*(const mpmp_value_t *)arg, &x);
  return x != 0;
}

static int v_zero(void *arg) { return !v_nonzero(arg); }

static int never(void *arg) {
  (void)arg;
  return 0;
}

/* ---- generic bodies ------------------------------------------------------- */

typedef struct { objset_t s; double timeout; int rounds; } objargs_t;

/* Wait on bar2 `rounds` times: rc[i] and t[i] for each. */
static int barrier_waiter(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  res_t *r = mpmp_out(ctx, sizeof *r);
  memset(r, 0, sizeof *r);
  for (int i = 0; i < a->rounds && i < 16; i++) {
    double t0 = test_now();
    r->rc[i] = mpmp_barrier_wait(a->s.bar2, a->timeout);
    r->t[i] = test_now() - t0;
  }
  return 0;
}
MPMP_TASK(barrier_waiter);

/* Hold `lock` until ev2 is set: v[0] = 1 once held. */
static int lock_holder(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  res_t *r = mpmp_out(ctx, sizeof *r);
  memset(r, 0, sizeof *r);
  if ((r->rc[0] = mpmp_lock_acquire(a->s.lock, 10)) < 0)
    return mpmp_fail(ctx, "acquire: %s", mpmp_errmsg());
  mpmp_value_set_i64(a->s.v[0], 1);
  r->rc[1] = mpmp_event_wait(a->s.ev2, 30);
  r->rc[2] = mpmp_lock_release(a->s.lock);
  return 0;
}
MPMP_TASK(lock_holder);

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
    ps[i] = start(semtut_body, &a, sizeof a);
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
    ps[i] = start(event_waiter, &a, sizeof a);
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
    ps[i] = start(event_waiter, &a, sizeof a);
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
    ps[i] = start(pc_consumer, &a, sizeof a);
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
    ps[i] = start(brounds_body, &a, sizeof a);
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

/* ---- 2. Lock semantics ---------------------------------------------------- */

static void sync_lock_basics(void **state) {
  objspec_t sp = {0};
  objset_t s;
  mpmp_lock_t cl;
  objs_make(state, &sp, &s);
  EQ(mpmp_lock_is_mine(s.lock), 0);
  EQ(mpmp_lock_acquire(s.lock, 0), 0);
  EQ(mpmp_lock_is_mine(s.lock), 1);
  /* A Lock is not re-entrant: its owner waits for itself until the timeout. */
  double t0 = test_now();
  EQ(mpmp_lock_acquire(s.lock, 0.2), MPMP_ETIMEDOUT);
  IN(test_now() - t0, 0.15, 2.0);
  t0 = test_now();
  EQ(mpmp_lock_acquire(s.lock, 0), MPMP_ETIMEDOUT);
  IN(test_now() - t0, 0.0, 0.5);
  EQ(mpmp_lock_is_mine(s.lock), 1);
  EQ(mpmp_lock_release(s.lock), 0);
  EQ(mpmp_lock_is_mine(s.lock), 0);
  EQ(mpmp_lock_release(s.lock), MPMP_EPERM); /* not held */
  EQ(mpmp_lock_acquire(s.lock, 1), 0);       /* still usable */
  EQ(mpmp_lock_release(s.lock), 0);
  EQ(mpmp_lock_acquire(s.lock, MPMP_FOREVER), 0);
  EQ(mpmp_lock_release(s.lock), 0);

  /* RLock: N acquires need N releases. */
  enum { N = 5 };
  for (int i = 0; i < N; i++)
    EQ(mpmp_lock_acquire(s.rlock, i % 2 ? 0 : 1), 0);
  for (int i = 0; i < N; i++) {
    EQ(mpmp_lock_is_mine(s.rlock), 1);
    EQ(mpmp_lock_release(s.rlock), 0);
  }
  EQ(mpmp_lock_is_mine(s.rlock), 0);
  EQ(mpmp_lock_release(s.rlock), MPMP_EPERM);
  EQ(mpmp_lock_acquire(s.rlock, 0), 0);
  EQ(mpmp_lock_release(s.rlock), 0);

  /* The lock of a Condition is a Lock, but it goes with the Condition. */
  EQ(mpmp_cond_get_lock(s.cond, &cl), 0);
  EQ(mpmp_lock_free(cl), MPMP_EINVAL);
  EQ(mpmp_lock_acquire(cl, 1), 0);
  EQ(mpmp_lock_is_mine(cl), 1);
  EQ(mpmp_lock_release(cl), 0);
  objs_free(&s);
}

/* Another rank: releasing locks it does not hold is EPERM; trying them fails. */
static int foreign_part(const objset_t *s, char *err) {
  EXPECT_EQ(mpmp_lock_release(s->lock), MPMP_EPERM);
  EXPECT_EQ(mpmp_lock_is_mine(s->lock), 0);
  EXPECT_EQ(mpmp_lock_acquire(s->lock, 0), MPMP_ETIMEDOUT);
  EXPECT_EQ(mpmp_lock_release(s->rlock), MPMP_EPERM);
  EXPECT_EQ(mpmp_lock_is_mine(s->rlock), 0);
  EXPECT_EQ(mpmp_lock_acquire(s->rlock, 0), MPMP_ETIMEDOUT);
  EXPECT_EQ(mpmp_lock_release(s->lock2), MPMP_EPERM); /* held by nobody */
  EXPECT_EQ(mpmp_cond_release(s->cond), MPMP_EPERM);
  return 0;
}

static int foreign_body(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  BODY(ctx, foreign_part, &a->s);
  return 0;
}
MPMP_TASK(foreign_body);

static void sync_lock_release_by_non_owner(void **state) {
  objspec_t sp = {0};
  objargs_t a = {0};
  objs_make(state, &sp, &a.s);
  EQ(mpmp_lock_acquire(a.s.lock, 5), 0);
  EQ(mpmp_lock_acquire(a.s.rlock, 5), 0);
  EQ(mpmp_lock_acquire(a.s.rlock, 5), 0);
  join_destroy(start(foreign_body, &a, sizeof a));
  EQ(mpmp_lock_is_mine(a.s.lock), 1); /* still held by the main rank */
  EQ(mpmp_lock_release(a.s.lock), 0);
  EQ(mpmp_lock_release(a.s.rlock), 0);
  EQ(mpmp_lock_release(a.s.rlock), 0);
  EQ(mpmp_lock_release(a.s.rlock), MPMP_EPERM);

  /* The main rank releasing a lock a worker holds. */
  mpmp_process_t *p = start(lock_holder, &a, sizeof a);
  EQ(wait_at_least(a.s.v[0], 1, 10), 0);
  EQ(mpmp_lock_release(a.s.lock), MPMP_EPERM);
  EQ(mpmp_lock_is_mine(a.s.lock), 0);
  EQ(mpmp_lock_acquire(a.s.lock, 0), MPMP_ETIMEDOUT); /* it stays held */
  EQ(mpmp_event_set(a.s.ev2), 0);
  double t0 = test_now();
  EQ(mpmp_lock_acquire(a.s.lock, 10), 0); /* once the worker lets go */
  IN(test_now() - t0, 0.0, 5.0);
  EQ(mpmp_lock_release(a.s.lock), 0);
  res_t r = join_res(p);
  EQ(r.rc[0], 0);
  EQ(r.rc[1], 0);
  EQ(r.rc[2], 0);
  objs_free(&a.s);
}

/* RLock re-entry from a body: N acquires, N releases, the next is EPERM. */
static int rlock_part(const objset_t *s, char *err) {
  for (int i = 0; i < 4; i++)
    EXPECT_EQ(mpmp_lock_acquire(s->rlock, 5), 0);
  for (int i = 0; i < 4; i++) {
    EXPECT_EQ(mpmp_lock_is_mine(s->rlock), 1);
    EXPECT_EQ(mpmp_lock_release(s->rlock), 0);
  }
  EXPECT_EQ(mpmp_lock_is_mine(s->rlock), 0);
  EXPECT_EQ(mpmp_lock_release(s->rlock), MPMP_EPERM);
  /* a plain Lock: the second acquire times out (0.1 s) and leaves it held */
  EXPECT_EQ(mpmp_lock_acquire(s->lock, 5), 0);
  double t0 = test_now();
  EXPECT_EQ(mpmp_lock_acquire(s->lock, 0.1), MPMP_ETIMEDOUT);
  EXPECT_IN(test_now() - t0, 0.05, 2.0);
  EXPECT_EQ(mpmp_lock_is_mine(s->lock), 1);
  EXPECT_EQ(mpmp_lock_release(s->lock), 0);
  EXPECT_EQ(mpmp_lock_release(s->lock), MPMP_EPERM);
  return 0;
}

static int rlock_body(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  BODY(ctx, rlock_part, &a->s);
  return 0;
}
MPMP_TASK(rlock_body);

/* A try from another rank: rc[0] = acquire(lock, 0) (released at once). */
static int try_rlock(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  res_t *r = mpmp_out(ctx, sizeof *r);
  memset(r, 0, sizeof *r);
  r->rc[0] = mpmp_lock_acquire(a->s.rlock, 0);
  if (r->rc[0] == 0)
    r->rc[1] = mpmp_lock_release(a->s.rlock);
  return 0;
}
MPMP_TASK(try_rlock);

static void sync_rlock_levels(void **state) {
  objspec_t sp = {0};
  objargs_t a = {0};
  objs_make(state, &sp, &a.s);
  join_destroy(start(rlock_body, &a, sizeof a));
  /* The main rank holds 3 levels: others get it only after the third
   * release. */
  for (int i = 0; i < 3; i++)
    EQ(mpmp_lock_acquire(a.s.rlock, 5), 0);
  EQ(mpmp_lock_release(a.s.rlock), 0);
  EQ(mpmp_lock_release(a.s.rlock), 0);
  res_t r = join_res(start(try_rlock, &a, sizeof a));
  EQ(r.rc[0], MPMP_ETIMEDOUT);
  EQ(mpmp_lock_is_mine(a.s.rlock), 1);
  EQ(mpmp_lock_release(a.s.rlock), 0);
  r = join_res(start(try_rlock, &a, sizeof a));
  EQ(r.rc[0], 0);
  EQ(r.rc[1], 0);
  EQ(mpmp_lock_release(a.s.rlock), MPMP_EPERM);
  RUN(rlock_part, &a.s);
  objs_free(&a.s);
}

/* The owner is the process, not the rank: a body that ends holding a Lock
 * and an RLock does not hand them to the next body on its rank and thread
 * (Python: they stay held by the dead process). */
static int leave_locks_held(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  if (mpmp_lock_acquire(a->s.lock, 5) < 0 ||
      mpmp_lock_acquire(a->s.rlock, 5) < 0 ||
      mpmp_lock_acquire(a->s.rlock, 5) < 0)
    return mpmp_fail(ctx, "acquire: %s", mpmp_errmsg());
  return 0; /* and never release them */
}
MPMP_TASK(leave_locks_held);

static int stranger_part(const objset_t *s, char *err) {
  EXPECT_EQ(mpmp_lock_is_mine(s->lock), 0);
  EXPECT_EQ(mpmp_lock_is_mine(s->rlock), 0);
  EXPECT_EQ(mpmp_lock_release(s->lock), MPMP_EPERM);
  EXPECT_EQ(mpmp_lock_release(s->rlock), MPMP_EPERM);
  double t0 = test_now();
  EXPECT_EQ(mpmp_lock_acquire(s->lock, 0.1), MPMP_ETIMEDOUT);
  EXPECT_EQ(mpmp_lock_acquire(s->rlock, 0.1), MPMP_ETIMEDOUT);
  EXPECT_IN(test_now() - t0, 0.15, 5.0);
  return 0;
}

static int stranger_body(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  BODY(ctx, stranger_part, &a->s);
  *(int *)mpmp_out(ctx, sizeof(int)) = mpmp_rank();
  return 0;
}
MPMP_TASK(stranger_body);

static void sync_lock_owner_is_the_process(void **state) {
  objspec_t sp = {0};
  objargs_t a = {0};
  objs_make(state, &sp, &a.s);
  mpmp_process_t *p = start(leave_locks_held, &a, sizeof a);
  join_ok(p);
  int rank = mpmp_process_rank(p);
  EQ(mpmp_process_destroy(p), 0);
  /* The next body takes the lowest free worker: the same rank, and the
   * same thread (a worker runs bodies in its main thread). */
  p = start(stranger_body, &a, sizeof a);
  join_ok(p);
  EQ(mpmp_process_rank(p), rank);
  EQ(mpmp_process_destroy(p), 0);
  /* A pool's tasks on that rank are another process too. */
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t po = {.processes = 1};
  EQ(mpmp_pool_create(&pool, &po), 0);
  int where = -1;
  EQ(mpmp_pool_apply(pool, stranger_body, &a, sizeof a, &where, sizeof where,
                     NULL), 0);
  EQ(where, rank);
  EQ(mpmp_pool_destroy(pool), 0);
  /* still held by the ended body, for the main rank as well */
  RUN(stranger_part, &a.s);
  objs_free(&a.s);
}

/* A NaN timeout is refused (MPMP_EINVAL, naming NaN) by every call that
 * takes one, before anything is done: a lock stays free, a semaphore
 * keeps its value, a barrier is not passed, a Condition's lock stays held.
 * (It was taken as "try once", and made cond_wait wait for ever.) */
static int pred_true(void *arg) {
  (void)arg;
  return 1;
}

#define EXPECT_NAN(call)                                                        do {                                                                           EXPECT_EQ(call, MPMP_EINVAL);                                                 EXPECT(strstr(mpmp_errmsg(), "NaN") != NULL);                               } while (0)

static int nan_part(const objset_t *s, char *err) {
  const double nans[] = {NAN, -NAN};
  EXPECT_EQ(mpmp_event_set(s->ev), 0); /* a wait that would not block */
  for (int k = 0; k < 2; k++) {
    double t = nans[k];
    EXPECT_NAN(mpmp_lock_acquire(s->lock, t));
    EXPECT_EQ(mpmp_lock_is_mine(s->lock), 0);
    EXPECT_NAN(mpmp_lock_acquire(s->rlock, t));
    EXPECT_EQ(mpmp_lock_is_mine(s->rlock), 0);
    EXPECT_NAN(mpmp_sem_acquire(s->sem, t));
    EXPECT_EQ(mpmp_sem_value(s->sem), 2);
    EXPECT_NAN(mpmp_sem_acquire(s->bsem, t));
    EXPECT_EQ(mpmp_sem_value(s->bsem), 1);
    EXPECT_NAN(mpmp_event_wait(s->ev, t));
    EXPECT_NAN(mpmp_event_wait(s->ev2, t));
    EXPECT_NAN(mpmp_cond_acquire(s->cond, t));
    EXPECT_EQ(mpmp_cond_acquire(s->ucond, 5), 0);
    EXPECT_NAN(mpmp_cond_wait(s->ucond, t));
    EXPECT_NAN(mpmp_cond_wait_for(s->ucond, pred_true, NULL, t));
    EXPECT_EQ(mpmp_lock_is_mine(s->lock2), 1); /* never let go */
    EXPECT_EQ(mpmp_cond_release(s->ucond), 0);
    EXPECT_NAN(mpmp_barrier_wait(s->bar, t)); /* 1 party: it would pass */
    EXPECT_EQ(mpmp_barrier_n_waiting(s->bar), 0);
    EXPECT_EQ(mpmp_barrier_broken(s->bar), 0);
  }
  /* all free and usable */
  EXPECT_EQ(mpmp_lock_acquire(s->lock, 0), 0);
  EXPECT_EQ(mpmp_lock_release(s->lock), 0);
  EXPECT_EQ(mpmp_lock_acquire(s->rlock, 0), 0);
  EXPECT_EQ(mpmp_lock_release(s->rlock), 0);
  EXPECT_EQ(mpmp_cond_acquire(s->cond, 0), 0);
  EXPECT_EQ(mpmp_cond_release(s->cond), 0);
  EXPECT_EQ(mpmp_barrier_wait(s->bar, 5), 0);
  EXPECT_EQ(mpmp_event_clear(s->ev), 0);
  return 0;
}

static int nan_body(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  BODY(ctx, nan_part, &a->s);
  return 0;
}
MPMP_TASK(nan_body);

static void sync_nan_timeouts_refused(void **state) {
  objspec_t sp = {.sem = 2};
  objargs_t a = {0};
  objs_make(state, &sp, &a.s);
  RUN(nan_part, &a.s);
  join_destroy(start(nan_body, &a, sizeof a)); /* from a worker rank */
  objs_free(&a.s);
}

/* A call that times out says so, also on an object of another node: the
 * home rank answered with whatever message it had from an earlier error
 * ("... do not hold: acquire it first" for a timed-out cond_wait). */
#define EXPECT_TIMED_OUT(call)                                                \
  do {                                                                       \
    EXPECT_EQ(mpmp_cond_wait(s->cond, 0.01), MPMP_EPERM); /* an old error */  \
    EXPECT_EQ(call, MPMP_ETIMEDOUT);                                          \
    EXPECT(strstr(mpmp_errmsg(), "timed out") != NULL);                       \
    EXPECT(strstr(mpmp_errmsg(), "acquire it first") == NULL);                \
  } while (0)

static int timed_out_part(const objset_t *s, char *err) {
  EXPECT_TIMED_OUT(mpmp_event_wait(s->ev, 0.01));
  EXPECT_TIMED_OUT(mpmp_sem_acquire(s->sem, 0.01));
  EXPECT_TIMED_OUT(mpmp_barrier_wait(s->bar2, 0.01));
  EXPECT_EQ(mpmp_barrier_reset(s->bar2), 0);
  EXPECT_EQ(mpmp_cond_acquire(s->ucond, 5), 0);
  EXPECT_EQ(mpmp_lock_acquire(s->lock, 5), 0);
  EXPECT_EQ(mpmp_cond_wait(s->ucond, 0.01), MPMP_ETIMEDOUT);
  EXPECT(strstr(mpmp_errmsg(), "timed out") != NULL);
  EXPECT(strstr(mpmp_errmsg(), "acquire it first") == NULL);
  EXPECT_EQ(mpmp_cond_release(s->ucond), 0);
  EXPECT_EQ(mpmp_lock_release(s->lock), 0);
  return 0;
}

static int timed_out_body(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  BODY(ctx, timed_out_part, &a->s);
  return 0;
}
MPMP_TASK(timed_out_body);

static void sync_timeouts_say_timed_out(void **state) {
  objspec_t sp = {.parties2 = 2};
  objargs_t a = {0};
  objs_make(state, &sp, &a.s);
  RUN(timed_out_part, &a.s);
  join_destroy(start(timed_out_body, &a, sizeof a));
  objs_free(&a.s);
}

/* Ownership is per rank and thread: another thread of the main rank is
 * a stranger to the main thread's locks (local objects only: calls on
 * remote objects from extra threads are not part of this test). */
typedef struct { const objset_t *s; int rc[8]; } thr_t;

static void *other_thread(void *arg) {
  thr_t *t = arg;
  t->rc[0] = mpmp_lock_release(t->s->lock);
  t->rc[1] = mpmp_lock_is_mine(t->s->lock);
  t->rc[2] = mpmp_lock_acquire(t->s->lock, 0);
  t->rc[3] = mpmp_lock_acquire(t->s->rlock, 0.05); /* no re-entry for us */
  t->rc[4] = mpmp_lock_release(t->s->rlock);
  t->rc[5] = mpmp_lock_acquire(t->s->lock2, 1);
  t->rc[6] = mpmp_lock_is_mine(t->s->lock2);
  t->rc[7] = mpmp_lock_release(t->s->lock2);
  return NULL;
}

static void sync_lock_owned_by_thread(void **state) {
  objspec_t sp = {0};
  objset_t s;
  pthread_t th;
  objs_make(state, &sp, &s);
  thr_t t = {.s = &s};
  EQ(mpmp_lock_acquire(s.lock, 1), 0);
  EQ(mpmp_lock_acquire(s.rlock, 1), 0);
  EQ(pthread_create(&th, NULL, other_thread, &t), 0);
  EQ(pthread_join(th, NULL), 0);
  EQ(t.rc[0], MPMP_EPERM);
  EQ(t.rc[1], 0);
  EQ(t.rc[2], MPMP_ETIMEDOUT);
  EQ(t.rc[3], MPMP_ETIMEDOUT);
  EQ(t.rc[4], MPMP_EPERM);
  EQ(t.rc[5], 0);
  EQ(t.rc[6], 1);
  EQ(t.rc[7], 0);
  EQ(mpmp_lock_is_mine(s.lock), 1);
  EQ(mpmp_lock_release(s.lock), 0);
  EQ(mpmp_lock_is_mine(s.rlock), 1);
  EQ(mpmp_lock_release(s.rlock), 0);
  objs_free(&s);
}

/* Mutual exclusion: non-atomic read-modify-write of v[0] under `lock`. */
typedef struct { objset_t s; int local_n, remote_n; } mx_t;

static int mx_part(const mx_t *a, int64_t *done, char *err) {
  int n = mpmp_node_id() == a->s.node ? a->local_n : a->remote_n;
  EXPECT_EQ(mpmp_value_add(a->s.v[3], 1, NULL), 0); /* ready */
  EXPECT_EQ(mpmp_event_wait(a->s.ev, 30), 0);        /* all start together */
  for (int i = 0; i < n; i++) {
    int64_t x = 0;
    EXPECT_EQ(mpmp_lock_acquire(a->s.lock, 30), 0);
    EXPECT_EQ(mpmp_value_load(a->s.v[0], &x), 0);
    x++;
    EXPECT_EQ(mpmp_value_store(a->s.v[0], &x), 0);
    EXPECT_EQ(mpmp_lock_release(a->s.lock), 0);
  }
  *done = n;
  return 0;
}

static int mx_body(mpmp_ctx_t *ctx) {
  res_t *r = mpmp_out(ctx, sizeof *r);
  memset(r, 0, sizeof *r);
  BODY(ctx, mx_part, (const mx_t *)mpmp_arg(ctx, NULL), &r->n);
  return 0;
}
MPMP_TASK(mx_body);

static void sync_lock_mutual_exclusion(void **state) {
  objspec_t sp = {0};
  mx_t a = {.local_n = 2000, .remote_n = 150};
  mpmp_process_t *ps[5];
  int64_t mine = 0, total = 0;
  objs_make(state, &sp, &a.s);
  int n = imin(5, mpmp_worker_count());
  for (int i = 0; i < n; i++)
    ps[i] = start(mx_body, &a, sizeof a);
  EQ(wait_at_least(a.s.v[3], n, 10), 0);
  EQ(mpmp_event_set(a.s.ev), 0);
  RUN(mx_part, &a, &mine);
  total = mine;
  for (int i = 0; i < n; i++)
    total += join_res(ps[i]).n;
  EQ(get(a.s.v[0]), total);
  EQ(mpmp_lock_is_mine(a.s.lock), 0);
  EQ(mpmp_lock_acquire(a.s.lock, 0), 0); /* free at the end */
  EQ(mpmp_lock_release(a.s.lock), 0);
  objs_free(&a.s);
}

/* ---- 3. fairness ---------------------------------------------------------- */

/* Once ev is set, acquire `lock` 5 times while the main rank hammers it:
 * t[i] = each wait; v[0] = 1 at the end (stop). */
static int fair_acquirer(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  res_t *r = mpmp_out(ctx, sizeof *r);
  memset(r, 0, sizeof *r);
  int rc = mpmp_event_wait(a->s.ev, 30);
  for (int i = 0; rc == 0 && i < 5; i++) {
    test_sleep(i == 0 ? 0.1 : 0.02);
    double t0 = test_now();
    r->rc[i] = mpmp_lock_acquire(a->s.lock, 10);
    r->t[i] = test_now() - t0;
    if (r->rc[i] == 0)
      r->rc[8 + i] = mpmp_lock_release(a->s.lock);
  }
  mpmp_value_set_i64(a->s.v[0], 1);
  return rc < 0 ? mpmp_fail(ctx, "event wait: %s", mpmp_errmsg()) : 0;
}
MPMP_TASK(fair_acquirer);

/* Acquire and release `lock` as fast as possible until v[0] != 0 (10 s at
 * most); v[1] = 1 once started; n = iterations. */
static int fair_hammer(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  res_t *r = mpmp_out(ctx, sizeof *r);
  memset(r, 0, sizeof *r);
  double end = test_now() + 10;
  int64_t stop = 0;
  while (stop == 0 && test_now() < end) {
    int rc = mpmp_lock_acquire(a->s.lock, 5);
    if (rc < 0)
      return mpmp_fail(ctx, "hammer acquire: %s", mpmp_errmsg());
    if ((rc = mpmp_lock_release(a->s.lock)) < 0)
      return mpmp_fail(ctx, "hammer release: %s", mpmp_errmsg());
    if (r->n++ == 0)
      mpmp_value_set_i64(a->s.v[1], 1);
    mpmp_value_get_i64(a->s.v[0], &stop);
  }
  return stop ? 0 : mpmp_fail(ctx, "never told to stop");
}
MPMP_TASK(fair_hammer);

static void sync_lock_fairness(void **state) {
  objspec_t sp = {0};
  objargs_t a = {0};
  objs_make(state, &sp, &a.s);

  /* The main rank hammers; a worker still gets the lock promptly. */
  mpmp_process_t *p = start(fair_acquirer, &a, sizeof a);
  EQ(mpmp_event_set(a.s.ev), 0);
  double end = test_now() + 20;
  long iters = 0;
  while (get(a.s.v[0]) == 0 && test_now() < end) {
    EQ(mpmp_lock_acquire(a.s.lock, 5), 0);
    EQ(mpmp_lock_release(a.s.lock), 0);
    iters++;
  }
  res_t r = join_res(p);
  for (int i = 0; i < 5; i++) {
    EQ(r.rc[i], 0);
    EQ(r.rc[8 + i], 0);
    IN(r.t[i], 0.0, 1.0);
  }
  assert_true(iters > 10);

  /* A worker hammers; the main rank still gets it promptly. */
  EQ(mpmp_value_set_i64(a.s.v[0], 0), 0);
  p = start(fair_hammer, &a, sizeof a);
  EQ(wait_at_least(a.s.v[1], 1, 10), 0);
  for (int i = 0; i < 5; i++) {
    test_sleep(i == 0 ? 0.1 : 0.02);
    double t0 = test_now();
    EQ(mpmp_lock_acquire(a.s.lock, 10), 0);
    double waited = test_now() - t0;
    EQ(mpmp_lock_release(a.s.lock), 0);
    IN(waited, 0.0, 1.0);
  }
  EQ(mpmp_value_set_i64(a.s.v[0], 1), 0);
  r = join_res(p);
  assert_true(r.n > 10);
  objs_free(&a.s);
}

/* ---- 4. timeouts ---------------------------------------------------------- */

#define TMO 0.1
#define TLO 0.08
#define THI 2.0

/* With `lock` held by another rank, sem at 0, ev2 clear, nobody notifying
 * and bar (2 parties) alone: every wait times out in time, and each object
 * is usable afterwards. */
static int timeouts_part(const objset_t *s, char *err) {
  mpmp_lock_t cl;
  double t0 = test_now();
  EXPECT_EQ(mpmp_lock_acquire(s->lock, TMO), MPMP_ETIMEDOUT);
  EXPECT_IN(test_now() - t0, TLO, THI);
  t0 = test_now();
  EXPECT_EQ(mpmp_lock_acquire(s->lock, 0), MPMP_ETIMEDOUT); /* try once */
  EXPECT_IN(test_now() - t0, 0, 0.5);
  EXPECT_EQ(mpmp_lock_is_mine(s->lock), 0);

  EXPECT_EQ(mpmp_sem_value(s->sem), 0);
  t0 = test_now();
  EXPECT_EQ(mpmp_sem_acquire(s->sem, TMO), MPMP_ETIMEDOUT);
  EXPECT_IN(test_now() - t0, TLO, THI);
  t0 = test_now();
  EXPECT_EQ(mpmp_sem_acquire(s->sem, 0), MPMP_ETIMEDOUT);
  EXPECT_IN(test_now() - t0, 0, 0.5);
  EXPECT_EQ(mpmp_sem_value(s->sem), 0);

  t0 = test_now();
  EXPECT_EQ(mpmp_event_wait(s->ev2, TMO), MPMP_ETIMEDOUT);
  EXPECT_IN(test_now() - t0, TLO, THI);
  t0 = test_now();
  EXPECT_EQ(mpmp_event_wait(s->ev2, 0), MPMP_ETIMEDOUT);
  EXPECT_IN(test_now() - t0, 0, 0.5);
  EXPECT_EQ(mpmp_event_is_set(s->ev2), 0);

  EXPECT_EQ(mpmp_cond_get_lock(s->cond, &cl), 0);
  EXPECT_EQ(mpmp_cond_acquire(s->cond, 5), 0);
  t0 = test_now();
  EXPECT_EQ(mpmp_cond_wait(s->cond, TMO), MPMP_ETIMEDOUT);
  EXPECT_IN(test_now() - t0, TLO, THI);
  EXPECT_EQ(mpmp_lock_is_mine(cl), 1); /* held again */
  t0 = test_now();
  EXPECT_EQ(mpmp_cond_wait_for(s->cond, never, NULL, TMO), MPMP_ETIMEDOUT);
  EXPECT_IN(test_now() - t0, TLO, THI);
  EXPECT_EQ(mpmp_lock_is_mine(cl), 1);
  t0 = test_now();
  EXPECT_EQ(mpmp_cond_wait(s->cond, 0), MPMP_ETIMEDOUT);
  EXPECT_IN(test_now() - t0, 0, 0.5);
  EXPECT_EQ(mpmp_lock_is_mine(cl), 1);
  EXPECT_EQ(mpmp_cond_release(s->cond), 0);
  EXPECT_EQ(mpmp_lock_is_mine(cl), 0);

  EXPECT_EQ(mpmp_barrier_n_waiting(s->bar), 0);
  t0 = test_now();
  EXPECT_EQ(mpmp_barrier_wait(s->bar, TMO), MPMP_ETIMEDOUT);
  EXPECT_IN(test_now() - t0, TLO, THI);
  EXPECT_EQ(mpmp_barrier_broken(s->bar), 1);
  t0 = test_now();
  EXPECT_EQ(mpmp_barrier_wait(s->bar, 5), MPMP_EBROKEN);
  EXPECT_IN(test_now() - t0, 0, 0.5);
  EXPECT_EQ(mpmp_barrier_reset(s->bar), 0);
  EXPECT_EQ(mpmp_barrier_broken(s->bar), 0);
  EXPECT_EQ(mpmp_barrier_wait(s->bar, 0), MPMP_ETIMEDOUT); /* try once */
  EXPECT_EQ(mpmp_barrier_broken(s->bar), 1);
  EXPECT_EQ(mpmp_barrier_reset(s->bar), 0);
  EXPECT_EQ(mpmp_barrier_n_waiting(s->bar), 0);
  return 0;
}

static int timeouts_body(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  BODY(ctx, timeouts_part, &a->s);
  return 0;
}
MPMP_TASK(timeouts_body);

/* Afterwards: a barrier round of 2 (rc[0]), a condition wait for v[2]
 * (rc[1]), a semaphore unit (rc[2]), the event (rc[3]). */
static int after_timeouts(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  res_t *r = mpmp_out(ctx, sizeof *r);
  memset(r, 0, sizeof *r);
  r->rc[0] = mpmp_barrier_wait(a->s.bar, 30);
  if (mpmp_cond_acquire(a->s.cond, 30) == 0) {
    mpmp_value_add(a->s.v[3], 1, NULL);
    r->rc[1] = mpmp_cond_wait_for(a->s.cond, v_nonzero, (void *)&a->s.v[2], 30);
    mpmp_cond_release(a->s.cond);
  } else {
    r->rc[1] = -1;
  }
  r->rc[2] = mpmp_sem_acquire(a->s.sem, 30);
  r->rc[3] = mpmp_event_wait(a->s.ev2, 30);
  return 0;
}
MPMP_TASK(after_timeouts);

static void sync_timeouts(void **state) {
  objspec_t sp = {.sem = 0, .parties = 2, .parties2 = 3};
  objargs_t a = {0};
  objs_make(state, &sp, &a.s);

  /* A worker times out on objects the main rank holds or leaves alone. */
  EQ(mpmp_lock_acquire(a.s.lock, 5), 0);
  join_destroy(start(timeouts_body, &a, sizeof a));
  EQ(mpmp_lock_is_mine(a.s.lock), 1);
  EQ(mpmp_lock_release(a.s.lock), 0);

  /* The main rank times out on a lock a worker holds, and on the rest. */
  mpmp_process_t *p = start(lock_holder, &a, sizeof a);
  EQ(wait_at_least(a.s.v[0], 1, 10), 0);
  RUN(timeouts_part, &a.s);
  EQ(mpmp_event_set(a.s.ev2), 0);
  res_t r = join_res(p);
  EQ(r.rc[0], 0);
  EQ(r.rc[1], 0);
  EQ(r.rc[2], 0);
  EQ(mpmp_event_clear(a.s.ev2), 0);
  EQ(mpmp_lock_acquire(a.s.lock, 5), 0);
  EQ(mpmp_lock_release(a.s.lock), 0);

  /* Everything still works between two ranks. */
  p = start(after_timeouts, &a, sizeof a);
  int idx = mpmp_barrier_wait(a.s.bar, 30);
  assert_true(idx == 0 || idx == 1);
  EQ(wait_at_least(a.s.v[3], 1, 10), 0);
  EQ(mpmp_cond_acquire(a.s.cond, 10), 0); /* the worker waits inside */
  EQ(mpmp_value_set_i64(a.s.v[2], 1), 0);
  EQ(mpmp_cond_notify(a.s.cond, 1), 0);
  EQ(mpmp_cond_release(a.s.cond), 0);
  EQ(mpmp_sem_release(a.s.sem), 0);
  EQ(mpmp_event_set(a.s.ev2), 0);
  r = join_res(p);
  EQ(r.rc[0], 1 - idx);
  EQ(r.rc[1], 0);
  EQ(r.rc[2], 0);
  EQ(r.rc[3], 0);
  EQ(mpmp_sem_value(a.s.sem), 0);

  /* One party's timeout breaks the barrier for the others waiting. */
  objargs_t b = a;
  b.timeout = 30;
  b.rounds = 1;
  p = start(barrier_waiter, &b, sizeof b);
  double end = test_now() + 10;
  while (mpmp_barrier_n_waiting(a.s.bar2) < 1 && test_now() < end)
    test_sleep(0.001);
  EQ(mpmp_barrier_n_waiting(a.s.bar2), 1);
  double t0 = test_now();
  EQ(mpmp_barrier_wait(a.s.bar2, 0.3), MPMP_ETIMEDOUT);
  IN(test_now() - t0, 0.25, THI);
  r = join_res(p);
  EQ(r.rc[0], MPMP_EBROKEN);
  IN(r.t[0], 0.25, 10);
  EQ(mpmp_barrier_broken(a.s.bar2), 1);
  EQ(mpmp_barrier_reset(a.s.bar2), 0);
  EQ(mpmp_barrier_broken(a.s.bar2), 0);
  objs_free(&a.s);
}

/* ---- 5. Semaphore and BoundedSemaphore ------------------------------------ */

/* rc[0]: releasing bsem (full) is EPERM; rc[1] its value after; then waits
 * 0.2 s and releases sem: rc[2]; rc[3]: acquire(sem) of a unit the main
 * rank gives later, t[3] how long it took. */
static int sem_partner(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  res_t *r = mpmp_out(ctx, sizeof *r);
  memset(r, 0, sizeof *r);
  r->rc[0] = mpmp_sem_release(a->s.bsem);
  r->rc[1] = mpmp_sem_value(a->s.bsem);
  test_sleep(0.2);
  r->rc[2] = mpmp_sem_release(a->s.sem);
  if (mpmp_event_wait(a->s.ev, 30) < 0) /* the main rank got its unit */
    return mpmp_fail(ctx, "event: %s", mpmp_errmsg());
  mpmp_value_set_i64(a->s.v[0], 1);
  double t0 = test_now();
  r->rc[3] = mpmp_sem_acquire(a->s.sem, 30);
  r->t[3] = test_now() - t0;
  return 0;
}
MPMP_TASK(sem_partner);

static void sync_semaphore_values(void **state) {
  objspec_t sp = {.sem = 3, .bsem = 2};
  objargs_t a = {0};
  objs_make(state, &sp, &a.s);
  EQ(mpmp_sem_value(a.s.sem), 3);
  for (int i = 0; i < 3; i++)
    EQ(mpmp_sem_acquire(a.s.sem, 0), 0);
  EQ(mpmp_sem_value(a.s.sem), 0);
  EQ(mpmp_sem_acquire(a.s.sem, 0), MPMP_ETIMEDOUT);
  for (int i = 0; i < 5; i++) /* a plain Semaphore may exceed its start */
    EQ(mpmp_sem_release(a.s.sem), 0);
  EQ(mpmp_sem_value(a.s.sem), 5);
  for (int i = 0; i < 5; i++)
    EQ(mpmp_sem_acquire(a.s.sem, 1), 0);
  EQ(mpmp_sem_value(a.s.sem), 0);

  EQ(mpmp_sem_value(a.s.bsem), 2);
  EQ(mpmp_sem_release(a.s.bsem), MPMP_EPERM);
  EQ(mpmp_sem_value(a.s.bsem), 2);
  EQ(mpmp_sem_acquire(a.s.bsem, 0), 0);
  EQ(mpmp_sem_acquire(a.s.bsem, 0), 0);
  EQ(mpmp_sem_acquire(a.s.bsem, 0), MPMP_ETIMEDOUT);
  EQ(mpmp_sem_value(a.s.bsem), 0);
  EQ(mpmp_sem_release(a.s.bsem), 0);
  EQ(mpmp_sem_release(a.s.bsem), 0);
  EQ(mpmp_sem_release(a.s.bsem), MPMP_EPERM);
  EQ(mpmp_sem_value(a.s.bsem), 2);

  if (home_of(state) == 0) {
    mpmp_sem_t x;
    EQ(mpmp_bsem_create(&x, 0), MPMP_EINVAL);
    EQ(mpmp_sem_create(&x, 0x80000000u), MPMP_EINVAL);
    EQ(mpmp_sem_create(NULL, 1), MPMP_EINVAL);
    EQ(mpmp_sem_create(&x, 0), 0);
    EQ(mpmp_sem_value(x), 0);
    EQ(mpmp_sem_free(x), 0);
    EQ(mpmp_bsem_create(&x, 1), 0);
    EQ(mpmp_sem_release(x), MPMP_EPERM);
    EQ(mpmp_sem_free(x), 0);
  }

  /* Between ranks: the main rank waits for a unit a worker gives, then the
   * worker waits for one the main rank gives. */
  mpmp_process_t *p = start(sem_partner, &a, sizeof a);
  double t0 = test_now();
  EQ(mpmp_sem_acquire(a.s.sem, 30), 0);
  IN(test_now() - t0, 0.1, 10);
  EQ(mpmp_event_set(a.s.ev), 0);
  EQ(wait_at_least(a.s.v[0], 1, 10), 0);
  test_sleep(0.2);
  EQ(mpmp_sem_release(a.s.sem), 0);
  res_t r = join_res(p);
  EQ(r.rc[0], MPMP_EPERM);
  EQ(r.rc[1], 2);
  EQ(r.rc[2], 0);
  EQ(r.rc[3], 0);
  IN(r.t[3], 0.1, 10);
  EQ(mpmp_sem_value(a.s.sem), 0);
  EQ(mpmp_sem_value(a.s.bsem), 2);
  objs_free(&a.s);
}

/* ---- 6. Condition --------------------------------------------------------- */

/* Wait on ucond (a plain user Lock) until v[0] != 0; v[1] = ready. */
static int ucond_waiter(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  res_t *r = mpmp_out(ctx, sizeof *r);
  memset(r, 0, sizeof *r);
  if (mpmp_lock_acquire(a->s.lock2, 30) < 0)
    return mpmp_fail(ctx, "acquire: %s", mpmp_errmsg());
  mpmp_value_set_i64(a->s.v[1], 1);
  r->rc[0] = mpmp_cond_wait_for(a->s.ucond, v_nonzero, (void *)&a->s.v[0], 30);
  r->rc[1] = mpmp_lock_is_mine(a->s.lock2);
  r->rc[2] = mpmp_lock_release(a->s.lock2);
  /* a Condition on this rank with a Lock of another node is refused */
  mpmp_cond_t c;
  mpmp_lock_t mine;
  r->rc[3] = mpmp_cond_create(&c, &a->s.lock);
  if (r->rc[3] == 0)
    mpmp_cond_free(c);
  r->rc[4] = mpmp_lock_create(&mine);
  r->rc[5] = mpmp_cond_create(&c, &mine);
  r->rc[6] = mpmp_cond_free(c);
  r->rc[7] = mpmp_lock_free(mine);
  r->n = mpmp_node_id();
  return 0;
}
MPMP_TASK(ucond_waiter);

static void sync_condition_rules(void **state) {
  objspec_t sp = {0};
  objargs_t a = {0};
  mpmp_lock_t cl, ul;
  objs_make(state, &sp, &a.s);

  /* Without the lock: EPERM; without a predicate: EINVAL. */
  EQ(mpmp_cond_notify(a.s.cond, 1), MPMP_EPERM);
  EQ(mpmp_cond_notify_all(a.s.cond), MPMP_EPERM);
  EQ(mpmp_cond_wait(a.s.cond, 0.1), MPMP_EPERM);
  EQ(mpmp_cond_wait_for(a.s.cond, never, NULL, 0.1), MPMP_EPERM);
  EQ(mpmp_cond_wait_for(a.s.cond, NULL, NULL, 0.1), MPMP_EINVAL);
  EQ(mpmp_cond_release(a.s.cond), MPMP_EPERM);
  EQ(mpmp_cond_get_lock(a.s.cond, NULL), MPMP_EINVAL);

  /* get_lock gives the lock itself: take it one way, release it the other. */
  EQ(mpmp_cond_get_lock(a.s.cond, &cl), 0);
  EQ(mpmp_lock_acquire(cl, 5), 0);
  EQ(mpmp_cond_notify(a.s.cond, 1), 0); /* nobody waits: a no-op */
  EQ(mpmp_cond_notify_all(a.s.cond), 0);
  EQ(mpmp_cond_wait_for(a.s.cond, NULL, NULL, 0.1), MPMP_EINVAL);
  EQ(mpmp_cond_acquire(a.s.cond, 0), 0); /* an RLock by default */
  EQ(mpmp_cond_release(a.s.cond), 0);
  EQ(mpmp_lock_is_mine(cl), 1);
  EQ(mpmp_cond_release(a.s.cond), 0);
  EQ(mpmp_lock_is_mine(cl), 0);
  EQ(mpmp_lock_release(cl), MPMP_EPERM);

  /* Condition(lock2): the user's plain Lock. */
  EQ(mpmp_cond_get_lock(a.s.ucond, &ul), 0);
  EQ(mpmp_lock_acquire(a.s.lock2, 5), 0);
  EQ(mpmp_lock_is_mine(ul), 1);
  EQ(mpmp_cond_notify(a.s.ucond, 1), 0);
  EQ(mpmp_cond_acquire(a.s.ucond, 0.1), MPMP_ETIMEDOUT); /* not re-entrant */
  EQ(mpmp_lock_release(ul), 0);
  EQ(mpmp_lock_is_mine(a.s.lock2), 0);
  EQ(mpmp_cond_notify(a.s.ucond, 1), MPMP_EPERM);
  EQ(mpmp_cond_acquire(a.s.ucond, 1), 0);
  EQ(mpmp_lock_is_mine(a.s.lock2), 1);
  EQ(mpmp_lock_release(a.s.lock2), 0);

  /* A worker waits on it; the main rank notifies under the user Lock. */
  mpmp_process_t *p = start(ucond_waiter, &a, sizeof a);
  EQ(wait_at_least(a.s.v[1], 1, 10), 0);
  EQ(mpmp_lock_acquire(a.s.lock2, 10), 0); /* the waiter let it go */
  EQ(mpmp_value_set_i64(a.s.v[0], 1), 0);
  EQ(mpmp_cond_notify_all(a.s.ucond), 0);
  EQ(mpmp_lock_release(a.s.lock2), 0);
  res_t r = join_res(p);
  EQ(r.rc[0], 0);
  EQ(r.rc[1], 1);
  EQ(r.rc[2], 0);
  EQ(r.rc[3], r.n == a.s.node ? 0 : MPMP_EINVAL);
  EQ(r.rc[4], 0);
  EQ(r.rc[5], 0);
  EQ(r.rc[6], 0);
  EQ(r.rc[7], 0);

  /* The same check from the main rank. */
  mpmp_cond_t c;
  int rc = mpmp_cond_create(&c, &a.s.lock);
  if (a.s.node == mpmp_node_id()) {
    EQ(rc, 0);
    EQ(mpmp_cond_free(c), 0);
  } else {
    EQ(rc, MPMP_EINVAL);
  }

  /* Freeing the user Lock leaves the Condition unusable (EBADF). */
  EQ(mpmp_lock_free(a.s.lock2), 0);
  EQ(mpmp_cond_acquire(a.s.ucond, 0), MPMP_EBADF);
  EQ(mpmp_cond_release(a.s.ucond), MPMP_EBADF);
  EQ(mpmp_cond_notify(a.s.ucond, 1), MPMP_EBADF);
  EQ(mpmp_cond_notify_all(a.s.ucond), MPMP_EBADF);
  EQ(mpmp_cond_wait(a.s.ucond, 0.1), MPMP_EBADF);
  EQ(mpmp_cond_wait_for(a.s.ucond, never, NULL, 0.1), MPMP_EBADF);
  EQ(mpmp_lock_acquire(ul, 0), MPMP_EBADF);
  EQ(mpmp_cond_free(a.s.ucond), 0);
  memset(&a.s.lock2, 0, sizeof a.s.lock2);
  memset(&a.s.ucond, 0, sizeof a.s.ucond);
  objs_free(&a.s);
}

/* Wait once on cond (no predicate): v[1] ready, v[2] woken. */
static int cond_waiter(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  res_t *r = mpmp_out(ctx, sizeof *r);
  mpmp_lock_t cl;
  memset(r, 0, sizeof *r);
  if (mpmp_cond_acquire(a->s.cond, 30) < 0)
    return mpmp_fail(ctx, "acquire: %s", mpmp_errmsg());
  mpmp_cond_get_lock(a->s.cond, &cl);
  mpmp_value_add(a->s.v[1], 1, NULL);
  double t0 = test_now();
  r->rc[0] = mpmp_cond_wait(a->s.cond, 30);
  r->t[0] = test_now() - t0;
  mpmp_value_add(a->s.v[2], 1, NULL);
  r->rc[1] = mpmp_lock_is_mine(cl);
  r->rc[2] = mpmp_cond_release(a->s.cond);
  return 0;
}
MPMP_TASK(cond_waiter);

static void wait_woken(const objargs_t *a, int64_t want) {
  EQ(wait_at_least(a->s.v[2], want, 10), 0);
  test_sleep(0.2); /* no more than that */
  EQ(get(a->s.v[2]), want);
}

static void sync_condition_notify_one_and_all(void **state) {
  if (mpmp_worker_count() < 2)
    skip();
  objspec_t sp = {0};
  objargs_t a = {0};
  mpmp_process_t *ps[4];
  int n = imin(4, mpmp_worker_count());
  objs_make(state, &sp, &a.s);
  for (int i = 0; i < n; i++)
    ps[i] = start(cond_waiter, &a, sizeof a);
  EQ(wait_at_least(a.s.v[1], n, 10), 0);
  EQ(mpmp_cond_acquire(a.s.cond, 10), 0); /* all of them wait inside now */
  test_sleep(0.1);                        /* and sleep */
  EQ(mpmp_cond_notify(a.s.cond, 1), 0);
  EQ(mpmp_cond_release(a.s.cond), 0);
  wait_woken(&a, 1);
  if (n > 2) {
    EQ(mpmp_cond_acquire(a.s.cond, 10), 0);
    EQ(mpmp_cond_notify(a.s.cond, 1), 0);
    EQ(mpmp_cond_release(a.s.cond), 0);
    wait_woken(&a, 2);
  }
  EQ(mpmp_cond_acquire(a.s.cond, 10), 0);
  EQ(mpmp_cond_notify_all(a.s.cond), 0);
  EQ(mpmp_cond_release(a.s.cond), 0);
  wait_woken(&a, n);
  for (int i = 0; i < n; i++) {
    res_t r = join_res(ps[i]);
    EQ(r.rc[0], 0);
    EQ(r.rc[1], 1);
    EQ(r.rc[2], 0);
  }
  objs_free(&a.s);
}

/* Queue for cond's lock once v[1] says the main rank holds it; hold it a
 * moment, count the turn in v[2]. */
static int cond_taker(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  res_t *r = mpmp_out(ctx, sizeof *r);
  memset(r, 0, sizeof *r);
  r->rc[0] = mpmp_cond_acquire(a->s.cond, 20);
  if (r->rc[0] == 0) {
    test_sleep(0.02);
    mpmp_value_add(a->s.v[2], 1, NULL);
    r->rc[1] = mpmp_cond_release(a->s.cond);
  }
  return 0;
}
MPMP_TASK(cond_taker);

/* wait(0) releases the lock and takes it back: the ranks queued for it
 * have their turn in between (FIFO), and the call still returns promptly,
 * whichever rank serves it. */
static void sync_condition_wait_zero_lets_others_in(void **state) {
  objspec_t sp = {0};
  objargs_t a = {0};
  mpmp_process_t *ps[3];
  mpmp_lock_t cl;
  int n = imin(3, mpmp_worker_count());
  objs_make(state, &sp, &a.s);
  EQ(mpmp_cond_get_lock(a.s.cond, &cl), 0);
  EQ(mpmp_cond_acquire(a.s.cond, 5), 0);
  for (int i = 0; i < n; i++)
    ps[i] = start(cond_taker, &a, sizeof a);
  test_sleep(0.3); /* they queue for the lock */
  EQ(get(a.s.v[2]), 0);
  double t0 = test_now();
  EQ(mpmp_cond_wait(a.s.cond, 0), MPMP_ETIMEDOUT);
  IN(test_now() - t0, 0, 5.0);
  EQ(mpmp_lock_is_mine(cl), 1);
  EQ(get(a.s.v[2]), n); /* all of them had their turn */
  t0 = test_now();
  EQ(mpmp_cond_wait_for(a.s.cond, never, NULL, 0), MPMP_ETIMEDOUT);
  IN(test_now() - t0, 0, 5.0);
  EQ(mpmp_lock_is_mine(cl), 1);
  EQ(mpmp_cond_release(a.s.cond), 0);
  for (int i = 0; i < n; i++) {
    res_t r = join_res(ps[i]);
    EQ(r.rc[0], 0);
    EQ(r.rc[1], 0);
  }
  objs_free(&a.s);
}

/* ---- 7. Barrier ----------------------------------------------------------- */

static mpmp_process_t **start_waiters(const objargs_t *a, int n) {
  mpmp_process_t **ps = calloc((size_t)n, sizeof *ps);
  assert_non_null(ps);
  for (int i = 0; i < n; i++)
    ps[i] = start(barrier_waiter, a, sizeof *a);
  return ps;
}

static void wait_n_waiting(mpmp_barrier_t b, int n) {
  double end = test_now() + 10;
  while (mpmp_barrier_n_waiting(b) != n && test_now() < end)
    test_sleep(0.002);
  EQ(mpmp_barrier_n_waiting(b), n);
}

static void sync_barrier_abort_reset(void **state) {
  int k = imin(3, mpmp_worker_count());
  objspec_t sp = {.parties = 1, .parties2 = (unsigned)(k + 1)};
  objargs_t a = {.timeout = 30, .rounds = 1};
  objs_make(state, &sp, &a.s);
  EQ(mpmp_barrier_parties(a.s.bar2), k + 1);
  EQ(mpmp_barrier_broken(a.s.bar2), 0);
  EQ(mpmp_barrier_n_waiting(a.s.bar2), 0);

  /* abort: the waiters and later callers are told it is broken */
  mpmp_process_t **ps = start_waiters(&a, k);
  wait_n_waiting(a.s.bar2, k);
  EQ(mpmp_barrier_abort(a.s.bar2), 0);
  for (int i = 0; i < k; i++) {
    res_t r = join_res(ps[i]);
    EQ(r.rc[0], MPMP_EBROKEN);
  }
  free(ps);
  EQ(mpmp_barrier_broken(a.s.bar2), 1);
  double t0 = test_now();
  EQ(mpmp_barrier_wait(a.s.bar2, 5), MPMP_EBROKEN);
  IN(test_now() - t0, 0, 0.5);
  EQ(mpmp_barrier_n_waiting(a.s.bar2), 0);
  EQ(mpmp_barrier_reset(a.s.bar2), 0);
  EQ(mpmp_barrier_broken(a.s.bar2), 0);

  /* reset while they wait: they leave broken, the barrier is usable */
  ps = start_waiters(&a, k);
  wait_n_waiting(a.s.bar2, k);
  EQ(mpmp_barrier_reset(a.s.bar2), 0);
  for (int i = 0; i < k; i++) {
    res_t r = join_res(ps[i]);
    EQ(r.rc[0], MPMP_EBROKEN);
  }
  free(ps);
  EQ(mpmp_barrier_broken(a.s.bar2), 0);
  EQ(mpmp_barrier_n_waiting(a.s.bar2), 0);

  /* and a full round works: indices 0..k, each once */
  ps = start_waiters(&a, k);
  int seen[8] = {0};
  int idx = mpmp_barrier_wait(a.s.bar2, 30);
  assert_true(idx >= 0 && idx <= k);
  seen[idx]++;
  for (int i = 0; i < k; i++) {
    res_t r = join_res(ps[i]);
    assert_true(r.rc[0] >= 0 && r.rc[0] <= k);
    seen[r.rc[0]]++;
  }
  free(ps);
  for (int i = 0; i <= k; i++)
    EQ(seen[i], 1);

  /* Barrier(1) never waits; Barrier(0) does not exist. */
  EQ(mpmp_barrier_parties(a.s.bar), 1);
  EQ(mpmp_barrier_wait(a.s.bar, 0), 0);
  EQ(mpmp_barrier_wait(a.s.bar, 5), 0);
  if (home_of(state) == 0) {
    mpmp_barrier_t x;
    EQ(mpmp_barrier_create(&x, 0), MPMP_EINVAL);
    EQ(mpmp_barrier_create(&x, 0x80000000u), MPMP_EINVAL);
    EQ(mpmp_barrier_create(NULL, 2), MPMP_EINVAL);
    EQ(mpmp_lock_create(NULL), MPMP_EINVAL);
    EQ(mpmp_rlock_create(NULL), MPMP_EINVAL);
    EQ(mpmp_event_create(NULL), MPMP_EINVAL);
    EQ(mpmp_cond_create(NULL, NULL), MPMP_EINVAL);
  }
  objs_free(&a.s);
}

/* ---- 9. stale and wrong-kind handles ------------------------------------- */

static int stale_part(const objset_t *s, char *err) {
  mpmp_lock_t cl;
  EXPECT_EQ(mpmp_lock_acquire(s->lock, 0), MPMP_EBADF);
  EXPECT_EQ(mpmp_lock_acquire(s->lock, 1), MPMP_EBADF);
  EXPECT_EQ(mpmp_lock_release(s->lock), MPMP_EBADF);
  EXPECT_EQ(mpmp_lock_is_mine(s->lock), MPMP_EBADF);
  EXPECT_EQ(mpmp_lock_free(s->lock), MPMP_EBADF);
  EXPECT_EQ(mpmp_lock_acquire(s->rlock, 1), MPMP_EBADF);
  EXPECT_EQ(mpmp_lock_free(s->rlock), MPMP_EBADF);
  EXPECT_EQ(mpmp_sem_acquire(s->sem, 1), MPMP_EBADF);
  EXPECT_EQ(mpmp_sem_release(s->sem), MPMP_EBADF);
  EXPECT_EQ(mpmp_sem_value(s->sem), MPMP_EBADF);
  EXPECT_EQ(mpmp_sem_free(s->sem), MPMP_EBADF);
  EXPECT_EQ(mpmp_sem_release(s->bsem), MPMP_EBADF);
  EXPECT_EQ(mpmp_event_set(s->ev), MPMP_EBADF);
  EXPECT_EQ(mpmp_event_clear(s->ev), MPMP_EBADF);
  EXPECT_EQ(mpmp_event_is_set(s->ev), MPMP_EBADF);
  EXPECT_EQ(mpmp_event_wait(s->ev, 1), MPMP_EBADF);
  EXPECT_EQ(mpmp_event_free(s->ev), MPMP_EBADF);
  EXPECT_EQ(mpmp_cond_acquire(s->cond, 1), MPMP_EBADF);
  EXPECT_EQ(mpmp_cond_release(s->cond), MPMP_EBADF);
  EXPECT_EQ(mpmp_cond_notify(s->cond, 1), MPMP_EBADF);
  EXPECT_EQ(mpmp_cond_notify_all(s->cond), MPMP_EBADF);
  EXPECT_EQ(mpmp_cond_wait(s->cond, 1), MPMP_EBADF);
  EXPECT_EQ(mpmp_cond_wait_for(s->cond, never, NULL, 1), MPMP_EBADF);
  EXPECT_EQ(mpmp_cond_free(s->cond), MPMP_EBADF);
  if (mpmp_cond_get_lock(s->cond, &cl) == 0) /* a handle, unusable */
    EXPECT_EQ(mpmp_lock_acquire(cl, 1), MPMP_EBADF);
  EXPECT_EQ(mpmp_cond_acquire(s->ucond, 1), MPMP_EBADF);
  EXPECT_EQ(mpmp_barrier_wait(s->bar, 1), MPMP_EBADF);
  EXPECT_EQ(mpmp_barrier_abort(s->bar), MPMP_EBADF);
  EXPECT_EQ(mpmp_barrier_reset(s->bar), MPMP_EBADF);
  EXPECT_EQ(mpmp_barrier_broken(s->bar), MPMP_EBADF);
  EXPECT_EQ(mpmp_barrier_n_waiting(s->bar), MPMP_EBADF);
  EXPECT_EQ(mpmp_barrier_parties(s->bar), MPMP_EBADF);
  EXPECT_EQ(mpmp_barrier_free(s->bar), MPMP_EBADF);
  return 0;
}

static int stale_body(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  BODY(ctx, stale_part, &a->s);
  return 0;
}
MPMP_TASK(stale_body);

/* One kind's handle passed as another's, zeroed and garbage handles. */
static int wrong_kind_part(const objset_t *s, char *err) {
  mpmp_sem_t lock_as_sem = {s->lock.ref};
  mpmp_event_t sem_as_ev = {s->sem.ref};
  mpmp_cond_t ev_as_cond = {s->ev.ref};
  mpmp_barrier_t cond_as_bar = {s->cond.ref};
  mpmp_lock_t bar_as_lock = {s->bar.ref}, val_as_lock = {s->v[0].ref};
  mpmp_lock_t sem_as_lock = {s->sem.ref};
  mpmp_value_t lock_as_val = {s->lock.ref};
  mpmp_cond_t lock_as_cond = {s->lock.ref};
  int64_t x;
  EXPECT_EQ(mpmp_sem_acquire(lock_as_sem, 0), MPMP_EBADF);
  EXPECT_EQ(mpmp_sem_release(lock_as_sem), MPMP_EBADF);
  EXPECT_EQ(mpmp_sem_value(lock_as_sem), MPMP_EBADF);
  EXPECT_EQ(mpmp_event_set(sem_as_ev), MPMP_EBADF);
  EXPECT_EQ(mpmp_event_wait(sem_as_ev, 0.1), MPMP_EBADF);
  EXPECT_EQ(mpmp_cond_notify(ev_as_cond, 1), MPMP_EBADF);
  EXPECT_EQ(mpmp_cond_acquire(ev_as_cond, 0.1), MPMP_EBADF);
  EXPECT_EQ(mpmp_cond_get_lock(ev_as_cond, &bar_as_lock), MPMP_EBADF);
  EXPECT_EQ(mpmp_cond_acquire(lock_as_cond, 0.1), MPMP_EBADF);
  EXPECT_EQ(mpmp_barrier_wait(cond_as_bar, 0.1), MPMP_EBADF);
  EXPECT_EQ(mpmp_barrier_parties(cond_as_bar), MPMP_EBADF);
  bar_as_lock.ref = s->bar.ref;
  EXPECT_EQ(mpmp_lock_acquire(bar_as_lock, 0.1), MPMP_EBADF);
  EXPECT_EQ(mpmp_lock_is_mine(bar_as_lock), MPMP_EBADF);
  EXPECT_EQ(mpmp_lock_acquire(val_as_lock, 0.1), MPMP_EBADF);
  EXPECT_EQ(mpmp_lock_free(sem_as_lock), MPMP_EBADF);
  EXPECT_EQ(mpmp_event_free(sem_as_ev), MPMP_EBADF);
  EXPECT_EQ(mpmp_barrier_free(cond_as_bar), MPMP_EBADF);
  EXPECT_EQ(mpmp_value_get_i64(lock_as_val, &x), MPMP_EBADF);
  /* zeroed and garbage */
  mpmp_lock_t zl;
  mpmp_sem_t zs;
  mpmp_event_t ze;
  mpmp_cond_t zc;
  mpmp_barrier_t zb;
  for (int fill = 0; fill < 2; fill++) {
    int byte = fill ? 0xa5 : 0;
    memset(&zl, byte, sizeof zl);
    memset(&zs, byte, sizeof zs);
    memset(&ze, byte, sizeof ze);
    memset(&zc, byte, sizeof zc);
    memset(&zb, byte, sizeof zb);
    EXPECT_EQ(mpmp_lock_acquire(zl, 0.1), MPMP_EBADF);
    EXPECT_EQ(mpmp_lock_release(zl), MPMP_EBADF);
    EXPECT_EQ(mpmp_sem_acquire(zs, 0.1), MPMP_EBADF);
    EXPECT_EQ(mpmp_event_wait(ze, 0.1), MPMP_EBADF);
    EXPECT_EQ(mpmp_cond_acquire(zc, 0.1), MPMP_EBADF);
    EXPECT_EQ(mpmp_cond_notify(zc, 1), MPMP_EBADF);
    EXPECT_EQ(mpmp_barrier_wait(zb, 0.1), MPMP_EBADF);
    EXPECT_EQ(mpmp_barrier_free(zb), MPMP_EBADF);
  }
  /* the real objects were not touched */
  EXPECT_EQ(mpmp_sem_value(s->sem), 1);
  EXPECT_EQ(mpmp_lock_acquire(s->lock, 1), 0);
  EXPECT_EQ(mpmp_lock_release(s->lock), 0);
  EXPECT_EQ(mpmp_event_is_set(s->ev), 0);
  EXPECT_EQ(mpmp_barrier_parties(s->bar), 1);
  return 0;
}

static int wrong_kind_body(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  BODY(ctx, wrong_kind_part, &a->s);
  return 0;
}
MPMP_TASK(wrong_kind_body);

static void sync_bad_handles(void **state) {
  objspec_t sp = {.sem = 1};
  objargs_t a = {0};
  objs_make(state, &sp, &a.s);
  RUN(wrong_kind_part, &a.s);
  join_destroy(start(wrong_kind_body, &a, sizeof a));
  objs_free(&a.s);
  RUN(stale_part, &a.s);
  join_destroy(start(stale_body, &a, sizeof a));
  /* a new object where the old one was: the old handle stays stale */
  objargs_t b = {0};
  objs_make(state, &sp, &b.s);
  RUN(stale_part, &a.s);
  EQ(mpmp_lock_acquire(b.s.lock, 1), 0);
  EQ(mpmp_lock_release(b.s.lock), 0);
  EQ(mpmp_sem_value(b.s.sem), 1);
  objs_free(&b.s);
}

/* ---- 8. objects homed on each node, all kinds at once --------------------- */

/* Every blocking operation from a worker, on objects of some node: a lock
 * wait (main holds it), a semaphore wait, an event wait, a condition wait,
 * a barrier wait; v[3] counts them ready, rc[i]/t[i] each result. */
static int blocking_mix(mpmp_ctx_t *ctx) {
  const objargs_t *a = mpmp_arg(ctx, NULL);
  res_t *r = mpmp_out(ctx, sizeof *r);
  memset(r, 0, sizeof *r);
  mpmp_value_add(a->s.v[3], 1, NULL);
  double t0 = test_now();
  r->rc[0] = mpmp_lock_acquire(a->s.lock, 30);
  r->t[0] = test_now() - t0;
  if (r->rc[0] == 0)
    r->rc[8] = mpmp_lock_release(a->s.lock);
  t0 = test_now();
  r->rc[1] = mpmp_sem_acquire(a->s.sem, 30);
  r->t[1] = test_now() - t0;
  t0 = test_now();
  r->rc[2] = mpmp_event_wait(a->s.ev, 30);
  r->t[2] = test_now() - t0;
  if (mpmp_cond_acquire(a->s.cond, 30) == 0) {
    t0 = test_now();
    r->rc[3] = mpmp_cond_wait_for(a->s.cond, v_nonzero, (void *)&a->s.v[0], 30);
    r->t[3] = test_now() - t0;
    r->rc[9] = mpmp_cond_release(a->s.cond);
  } else {
    r->rc[3] = -1;
  }
  r->rc[4] = mpmp_barrier_wait(a->s.bar, 30);
  /* One of them then wakes the main rank: ev2, then v[1] under cond. */
  int64_t order = -1;
  mpmp_value_add(a->s.v[2], 1, &order);
  if (order == 0) {
    test_sleep(0.1);
    r->rc[5] = mpmp_event_set(a->s.ev2);
    test_sleep(0.1);
    r->rc[6] = mpmp_cond_acquire(a->s.cond, 30);
    r->rc[7] = mpmp_value_set_i64(a->s.v[1], 1);
    r->rc[10] = mpmp_cond_notify_all(a->s.cond);
    r->rc[11] = mpmp_cond_release(a->s.cond);
  }
  return 0;
}
MPMP_TASK(blocking_mix);

static void sync_blocking_from_every_rank(void **state) {
  int n = imin(5, mpmp_worker_count());
  objspec_t sp = {.sem = 0, .parties = (unsigned)(n + 1)};
  objargs_t a = {0};
  mpmp_process_t *ps[5];
  objs_make(state, &sp, &a.s);
  EQ(mpmp_lock_acquire(a.s.lock, 5), 0);
  for (int i = 0; i < n; i++)
    ps[i] = start(blocking_mix, &a, sizeof a);
  EQ(wait_at_least(a.s.v[3], n, 10), 0);
  test_sleep(0.2);
  EQ(mpmp_lock_release(a.s.lock), 0); /* they pass the lock round */
  test_sleep(0.1);
  for (int i = 0; i < n; i++) /* one unit each */
    EQ(mpmp_sem_release(a.s.sem), 0);
  test_sleep(0.1);
  EQ(mpmp_event_set(a.s.ev), 0);
  test_sleep(0.1);
  EQ(mpmp_cond_acquire(a.s.cond, 10), 0);
  EQ(mpmp_value_set_i64(a.s.v[0], 1), 0);
  EQ(mpmp_cond_notify_all(a.s.cond), 0);
  EQ(mpmp_cond_release(a.s.cond), 0);
  int seen[8] = {0};
  int idx = mpmp_barrier_wait(a.s.bar, 30);
  assert_true(idx >= 0 && idx <= n);
  seen[idx]++;
  /* The main rank waits too: for an event and a condition a worker sets. */
  double t0 = test_now();
  EQ(mpmp_event_wait(a.s.ev2, 30), 0);
  IN(test_now() - t0, 0.05, 10);
  EQ(mpmp_cond_acquire(a.s.cond, 10), 0);
  t0 = test_now();
  EQ(mpmp_cond_wait_for(a.s.cond, v_nonzero, (void *)&a.s.v[1], 30), 0);
  IN(test_now() - t0, 0.0, 10);
  EQ(mpmp_cond_release(a.s.cond), 0);
  for (int i = 0; i < n; i++) {
    res_t r = join_res(ps[i]);
    for (int k = 5; k < 12; k++)
      if (k != 8 && k != 9)
        EQ(r.rc[k], 0);
    for (int k = 0; k < 4; k++)
      if (r.rc[k] != 0)
        fail_msg("worker %d: blocking operation %d: %s", i, k,
                 mpmp_err_name(r.rc[k]));
    EQ(r.rc[8], 0);
    EQ(r.rc[9], 0);
    IN(r.t[0], 0.1, 10); /* each really waited */
    assert_true(r.rc[4] >= 0 && r.rc[4] <= n);
    seen[r.rc[4]]++;
  }
  for (int i = 0; i <= n; i++)
    EQ(seen[i], 1);
  EQ(mpmp_sem_value(a.s.sem), 0);
  objs_free(&a.s);
}

#define TEST_AT(fn, home, where)                                         \
  {#fn where, fn, watchdog_arm, watchdog_disarm,                          \
   &(test_home_t){home, #fn where}}
#define BOTH(fn) TEST_AT(fn, 0, "_main_home"), TEST_AT(fn, 1, "_worker_home")

static const struct CMUnitTest tests[] = {
    BOTH(sync_tutorial_semaphore),
    BOTH(sync_tutorial_event),
    BOTH(sync_tutorial_condition),
    BOTH(sync_tutorial_barrier),
    BOTH(sync_lock_basics),
    BOTH(sync_lock_release_by_non_owner),
    BOTH(sync_rlock_levels),
    BOTH(sync_lock_owner_is_the_process),
    BOTH(sync_nan_timeouts_refused),
    BOTH(sync_timeouts_say_timed_out),
    TEST_AT(sync_lock_owned_by_thread, 0, "_main_home"),
    BOTH(sync_lock_mutual_exclusion),
    BOTH(sync_lock_fairness),
    BOTH(sync_timeouts),
    BOTH(sync_semaphore_values),
    BOTH(sync_condition_rules),
    BOTH(sync_condition_notify_one_and_all),
    BOTH(sync_condition_wait_zero_lets_others_in),
    BOTH(sync_barrier_abort_reset),
    BOTH(sync_blocking_from_every_rank),
    BOTH(sync_bad_handles),
};
MPMP_TEST_MAIN(tests)
