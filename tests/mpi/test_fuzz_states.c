/*
 * Fuzz, seeded random states: thousands of calls on two pools, six async
 * results, two imap iterators and three Processes, drawn at random but
 * each within its object's lifetime (handles are pointers: never used
 * after their destroy). So every call meets its objects in some state the
 * sequence led to: a pool open, closed, terminated, joined or gone (its
 * results and iterators outlive it), a map done, running or stopped, a
 * Process running, joined or terminated; isolated or not, with and
 * without time limits and maxtasksperchild; done-callbacks that read
 * their result and submit more. Every call must come back (watchdog),
 * with success, a count or a known MPMP_E* code and a message; every
 * result handed out must be right (x*x, or 0 where its item failed or
 * never ran).
 *
 *   MPMP_TEST_FUZZ_SEED=n   the seed (default: from the clock; printed)
 *   MPMP_TEST_FUZZ_ITERS=n  calls per run (default 2000)
 */
#include "fuzz.h"

/* x*x; fails x = 13 (mod 97); sleeps 40 ms (stopping when asked) first
 * for x = 7 (mod 101). */
static int fs_square(mpmp_ctx_t *ctx) {
  int64_t x = *(const int64_t *)mpmp_arg(ctx, NULL);
  if (x % 97 == 13)
    return mpmp_fail(ctx, "item %lld fails", (long long)x);
  if (x % 101 == 7)
    for (int i = 0; i < 40 && !mpmp_should_stop(ctx); i++)
      test_sleep(0.001);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = x * x;
  return 0;
}
MPMP_TASK(fs_square);

/* A Process body: sleeps its argument's seconds (stopping when asked). */
static int fs_body(mpmp_ctx_t *ctx) {
  double s = *(const double *)mpmp_arg(ctx, NULL), t0 = test_now();
  while (test_now() - t0 < s && !mpmp_should_stop(ctx))
    test_sleep(0.005);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = 42;
  return 0;
}
MPMP_TASK(fs_body);

enum { NPOOL = 2, NRES = 6, NIT = 2, NPROC = 3, NCB = 64 };

typedef struct fs_res {
  mpmp_async_t *r;
  int64_t *in, *out;
  size_t n;
  int apply;
} fs_res_t;

typedef struct fs_it {
  mpmp_imap_t *it;
  int64_t next, limit;
} fs_it_t;

static struct {
  uint64_t s;
  char label[200];
  mpmp_pool_t *pool[NPOOL];
  fs_res_t res[NRES];
  fs_it_t it[NIT];
  mpmp_process_t *proc[NPROC];
  double nap[NPROC];
  mpmp_async_t *cb_res[NCB]; /* submitted by done-callbacks */
  int ncb;
} F;

static unsigned pick(unsigned n) {
  return (unsigned)(fz_rand(&F.s) % n);
}

static double timeout_of(void) {
  static const double t[] = {0, 0.001, 0.05, 2, -1, 30};
  return t[pick(6)];
}

/* What every call must give: success or a count, or a known code with a
 * message (a timeout may say nothing more). */
static void fs_check(int rc) {
  if (rc < 0 && !strcmp(mpmp_err_name(rc), "MPMP_EUNKNOWN"))
    fz_note(__FILE__, __LINE__, "%s: returned %d, no MPMP_E* code", F.label,
            rc);
  else if (rc < 0 && rc != MPMP_ETIMEDOUT && mpmp_errmsg()[0] == '\0')
    fz_note(__FILE__, __LINE__, "%s: returned %s without a message",
            F.label, mpmp_err_name(rc));
}

#define FS_CALL(rc, expr, ...)                                              \
  do {                                                                     \
    snprintf(F.label, sizeof F.label, __VA_ARGS__);                        \
    fz_enter(F.label, __FILE__, __LINE__);                                 \
    (rc) = (expr);                                                         \
    fz_leave();                                                            \
    fs_check(rc);                                                          \
  } while (0)

/* A map's results: x*x, or 0 (failed, stopped or never run). */
static void fs_check_results(const fs_res_t *r) {
  for (size_t i = 0; !r->apply && i < r->n; i++) {
    int64_t x = r->in[i];
    if (r->out[i] != 0 && r->out[i] != x * x) {
      fz_note(__FILE__, __LINE__, "%s: item %zu (x = %lld) is %lld", F.label,
              i, (long long)x, (long long)r->out[i]);
      return;
    }
  }
}

/* A done-callback: reads its result, and now and then submits an apply to
 * the pool it came from (never a wait: that is refused in a callback). */
static void fs_cb(mpmp_async_t *res, int ok, void *user) {
  (void)ok;
  mpmp_async_ready(res);
  mpmp_async_successful(res);
  mpmp_async_failed_count(res);
  int rc = mpmp_async_get(res, 0.01);
  if (rc < 0 && !strcmp(mpmp_err_name(rc), "MPMP_EUNKNOWN"))
    fz_note(__FILE__, __LINE__, "a get in a done-callback: %d, no code", rc);
  static const int64_t five = 5;
  if (F.ncb < NCB && (F.s & 3) == 0 &&
      mpmp_pool_apply_async(user, fs_square, &five, sizeof five, NULL, NULL,
                            &F.cb_res[F.ncb]) == 0)
    F.ncb++;
}

static int fs_produce(void *user, void *item) {
  fs_it_t *t = user;
  if (t->next >= t->limit)
    return 0;
  *(int64_t *)item = t->next++;
  return 1;
}

static void fs_res_free(fs_res_t *r) {
  mpmp_async_destroy(r->r);
  free(r->in);
  free(r->out);
  memset(r, 0, sizeof *r);
}

static void fs_cb_free(void) {
  for (int c = 0; c < F.ncb; c++)
    mpmp_async_destroy(F.cb_res[c]);
  F.ncb = 0;
}

static void fs_pool_op(int p, double t) {
  mpmp_pool_t **pool = &F.pool[p];
  int rc;
  switch (pick(5)) {
  case 0:
    if (*pool == NULL) {
      mpmp_pool_opts_t o = {.processes = (int)pick(3),
                            .isolate = (int)pick(3),
                            .maxtasksperchild = (int)pick(3),
                            .task_timeout = pick(2) ? 0 : 0.02};
      FS_CALL(rc, mpmp_pool_create(pool, &o), "pool_create(%d, isolate %d)",
              o.processes, o.isolate);
      if (rc < 0)
        *pool = NULL;
    }
    break;
  case 1:
    if (*pool)
      FS_CALL(rc, mpmp_pool_close(*pool), "pool_close(pool %d)", p);
    break;
  case 2:
    if (*pool && pick(3) == 0)
      FS_CALL(rc, mpmp_pool_terminate(*pool), "pool_terminate(pool %d)", p);
    break;
  case 3:
    if (*pool)
      FS_CALL(rc, mpmp_pool_join(*pool, t), "pool_join(pool %d, %g)", p, t);
    break;
  default:
    if (*pool && pick(3) == 0) {
      fs_cb_free(); /* (they may be this pool's) */
      FS_CALL(rc, mpmp_pool_destroy(*pool), "pool_destroy(pool %d)", p);
      *pool = NULL;
    }
  }
}

static void fs_submit(int p, fs_res_t *r) {
  size_t n = pick(4) == 0 ? 0 : 1 + pick(3000);
  int rc;
  r->in = malloc((n + 1) * sizeof *r->in);
  r->out = calloc(n + 1, sizeof *r->out);
  assert_non_null(r->in);
  assert_non_null(r->out);
  for (size_t i = 0; i <= n; i++)
    r->in[i] = (int64_t)pick(100000);
  r->n = n;
  r->apply = pick(3) == 0;
  mpmp_async_cb cb = pick(2) ? fs_cb : NULL;
  if (r->apply)
    FS_CALL(rc, mpmp_pool_apply_async(F.pool[p], fs_square, r->in,
                                      sizeof *r->in, cb, F.pool[p], &r->r),
            "apply_async(pool %d)", p);
  else
    FS_CALL(rc, mpmp_pool_map_async(F.pool[p], fs_square, r->in, n,
                                    sizeof *r->in, r->out, sizeof *r->out,
                                    pick(3) ? 0 : 1 + pick(50), cb, F.pool[p],
                                    &r->r),
            "map_async(pool %d, %zu items)", p, n);
  if (rc < 0) {
    r->r = NULL;
    fs_res_free(r);
  }
}

static void fs_res_op(int a, double t) {
  fs_res_t *r = &F.res[a];
  int rc;
  switch (pick(4)) {
  case 0:
    FS_CALL(rc, mpmp_async_get(r->r, t), "async_get(res %d, %g)", a, t);
    if (rc == 0 || rc == MPMP_ETASK)
      fs_check_results(r);
    break;
  case 1:
    FS_CALL(rc, mpmp_async_wait(r->r, t), "async_wait(res %d, %g)", a, t);
    break;
  case 2: {
    const void *data;
    size_t size, index;
    int rank;
    const char *msg;
    FS_CALL(rc, mpmp_async_ready(r->r), "async_ready(res %d)", a);
    FS_CALL(rc, mpmp_async_successful(r->r), "async_successful(res %d)", a);
    FS_CALL(rc, mpmp_async_failed_count(r->r), "async_failed_count(res %d)",
            a);
    if (rc > 0)
      FS_CALL(rc, mpmp_async_failure(r->r, (int)pick((unsigned)rc + 1),
                                     &index, &rank, &msg),
              "async_failure(res %d)", a);
    FS_CALL(rc, mpmp_async_result(r->r, &data, &size), "async_result(res %d)",
            a);
    break;
  }
  default:
    snprintf(F.label, sizeof F.label, "async_destroy(res %d)", a);
    fz_enter(F.label, __FILE__, __LINE__);
    fs_res_free(r);
    fz_leave();
  }
}

static void fs_it_op(int p, int k, double t) {
  fs_it_t *it = &F.it[k];
  int rc;
  if (it->it == NULL) {
    if (F.pool[p] == NULL)
      return;
    it->next = 0;
    it->limit = pick(500);
    size_t chunk = pick(3) ? 1 : 7, ahead = pick(3) ? 0 : 4;
    if (pick(2))
      FS_CALL(rc, mpmp_pool_imap(F.pool[p], fs_square, fs_produce, it,
                                 sizeof(int64_t), sizeof(int64_t), chunk,
                                 ahead, &it->it),
              "imap(pool %d)", p);
    else
      FS_CALL(rc, mpmp_pool_imap_unordered(F.pool[p], fs_square, fs_produce,
                                           it, sizeof(int64_t),
                                           sizeof(int64_t), chunk, ahead,
                                           &it->it),
              "imap_unordered(pool %d)", p);
    if (rc < 0)
      it->it = NULL;
    return;
  }
  if (pick(4) == 0) {
    snprintf(F.label, sizeof F.label, "imap_destroy(it %d)", k);
    fz_enter(F.label, __FILE__, __LINE__);
    mpmp_imap_destroy(it->it);
    fz_leave();
    it->it = NULL;
    return;
  }
  for (int j = 0, n = 1 + (int)pick(20); j < n; j++) {
    int64_t y = -1;
    size_t index = 0;
    FS_CALL(rc, mpmp_imap_next(it->it, &y, &index, t),
            "imap_next(it %d, %g)", k, t);
    if (rc == 0 && y != (int64_t)index * (int64_t)index)
      fz_note(__FILE__, __LINE__, "%s: item %zu is %lld", F.label, index,
              (long long)y);
    if (rc < 0 && rc != MPMP_ETASK)
      break;
  }
}

static void fs_proc_op(int q, double t) {
  mpmp_process_t **p = &F.proc[q];
  int rc, code;
  if (*p == NULL) {
    F.nap[q] = pick(3) * 0.1;
    mpmp_process_opts_t o = {.daemon = (int)pick(2), .isolate = (int)pick(3)};
    FS_CALL(rc, mpmp_process_create(p, fs_body, &F.nap[q], sizeof F.nap[q],
                                    &o),
            "process_create(%d)", q);
    if (rc < 0) {
      *p = NULL;
      return;
    }
    FS_CALL(rc, mpmp_process_start(*p), "process_start(%d)", q);
    return;
  }
  switch (pick(3)) {
  case 0:
    FS_CALL(rc, mpmp_process_join(*p, t), "process_join(%d, %g)", q, t);
    FS_CALL(rc, mpmp_process_is_alive(*p), "process_is_alive(%d)", q);
    FS_CALL(rc, mpmp_process_exitcode(*p, &code), "process_exitcode(%d)", q);
    break;
  case 1:
    FS_CALL(rc, mpmp_process_terminate(*p), "process_terminate(%d)", q);
    break;
  default:
    FS_CALL(rc, mpmp_process_destroy(*p), "process_destroy(%d)", q);
    if (rc == 0)
      *p = NULL;
  }
}

static void fuzz_states(void **state) {
  (void)state;
  const char *s = getenv("MPMP_TEST_FUZZ_SEED");
  const char *n = getenv("MPMP_TEST_FUZZ_ITERS");
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  memset(&F, 0, sizeof F);
  F.s = s != NULL && *s != '\0'
            ? strtoull(s, NULL, 0)
            : (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec;
  long iters = n != NULL && atol(n) > 0 ? atol(n) : 2000;
  fprintf(stdout, "states: MPMP_TEST_FUZZ_SEED=%llu MPMP_TEST_FUZZ_ITERS=%ld\n",
          (unsigned long long)F.s, iters);
  fflush(stdout);
  for (long i = 0; i < iters; i++) {
    int p = (int)pick(NPOOL), a = (int)pick(NRES);
    double t = timeout_of();
    switch (pick(8)) {
    case 0:
      fs_pool_op(p, t);
      break;
    case 1:
    case 2:
      if (F.res[a].r == NULL && F.pool[p] != NULL)
        fs_submit(p, &F.res[a]);
      else if (F.res[a].r != NULL)
        fs_res_op(a, t);
      break;
    case 3:
    case 4:
      if (F.res[a].r != NULL)
        fs_res_op(a, t);
      break;
    case 5:
    case 6:
      fs_it_op(p, (int)pick(NIT), t);
      break;
    default:
      fs_proc_op((int)pick(NPROC), t);
    }
  }
  snprintf(F.label, sizeof F.label, "the cleanup");
  fz_enter(F.label, __FILE__, __LINE__);
  for (int k = 0; k < NIT; k++)
    mpmp_imap_destroy(F.it[k].it);
  for (int a = 0; a < NRES; a++)
    if (F.res[a].r != NULL)
      fs_res_free(&F.res[a]);
  fs_cb_free();
  for (int p = 0; p < NPOOL; p++)
    if (F.pool[p] != NULL)
      assert_int_equal(mpmp_pool_destroy(F.pool[p]), 0);
  for (int q = 0; q < NPROC; q++)
    if (F.proc[q] != NULL) {
      mpmp_process_terminate(F.proc[q]);
      int rc = mpmp_process_join(F.proc[q], T_OUT);
      if (rc != 0 && rc != MPMP_EPERM) /* EPERM: never started (EBUSY) */
        fail_msg("the cleanup's join of process %d: %s: %s", q,
                 mpmp_err_name(rc), mpmp_errmsg());
      assert_int_equal(mpmp_process_destroy(F.proc[q]), 0);
    }
  fz_leave();
  FZ_DONE();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(fuzz_states),
};

MPMP_TEST_MAIN(tests)
