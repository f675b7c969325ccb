/* The helpers of the synchronization tests (sync_common.h). */
#include "sync_common.h"

int home_of(void **state) { return ((const test_home_t *)*state)->home; }

int watchdog_arm(void **state) {
  watchdog_start(((const test_home_t *)*state)->name, WATCHDOG_S);
  return 0;
}

int watchdog_disarm(void **state) {
  (void)state;
  watchdog_stop();
  return 0;
}

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
int maker(mpmp_ctx_t *ctx) {
  const objspec_t *sp = mpmp_arg(ctx, NULL);
  objset_t *s = mpmp_out(ctx, sizeof *s);
  int rc = objs_create(sp, s);
  return rc < 0 ? mpmp_fail(ctx, "objs_create: %s", mpmp_errmsg()) : 0;
}
MPMP_TASK(maker);

/* Join, copy its res_t out, destroy. */
res_t join_res(mpmp_process_t *p) {
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

void objs_make(void **state, const objspec_t *sp, objset_t *s) {
  if (home_of(state) == 0) {
    EQ(objs_create(sp, s), 0);
    return;
  }
  mpmp_process_t *p = start_process(maker, sp, sizeof *sp);
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
void objs_free(objset_t *s) {
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

int64_t get(mpmp_value_t v) {
  int64_t x = -1;
  EQ(mpmp_value_get_i64(v, &x), 0);
  return x;
}

/* Poll until the value reaches `want`: 0, or MPMP_ETIMEDOUT. */
int wait_at_least(mpmp_value_t v, int64_t want, double timeout) {
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

int v_nonzero(void *arg) {
  int64_t x = 0;
  mpmp_value_get_i64(*(const mpmp_value_t *)arg, &x);
  return x != 0;
}

int v_zero(void *arg) { return !v_nonzero(arg); }

int never(void *arg) {
  (void)arg;
  return 0;
}


/* Wait on bar2 `rounds` times: rc[i] and t[i] for each. */
int barrier_waiter(mpmp_ctx_t *ctx) {
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
int lock_holder(mpmp_ctx_t *ctx) {
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
