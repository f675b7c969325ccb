/* Semaphore and BoundedSemaphore (mpmp/sync.h): values, the bound, and
 * acquire and release from several ranks.
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
  mpmp_process_t *p = start_process(sem_partner, &a, sizeof a);
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

/* CPython's _test_multiprocessing _test_semaphore on BoundedSemaphore(2)
 * (test_bounded_semaphore), and BoundedSemaphore(0), which Python allows:
 * a semaphore at 0 whose every release is refused ("released too many
 * times"), here and from another rank (another node on 2 pseudo-nodes). */
static int bsem0_part(const mpmp_sem_t *x, char *err) {
  EXPECT_EQ(mpmp_sem_value(*x), 0);
  EXPECT_EQ(mpmp_sem_acquire(*x, 0), MPMP_ETIMEDOUT);
  EXPECT_EQ(mpmp_sem_acquire(*x, 0.05), MPMP_ETIMEDOUT);
  EXPECT_EQ(mpmp_sem_release(*x), MPMP_EPERM);
  EXPECT_EQ(mpmp_sem_value(*x), 0);
  return 0;
}

static int bsem0_body(mpmp_ctx_t *ctx) {
  BODY(ctx, bsem0_part, (const mpmp_sem_t *)mpmp_arg(ctx, NULL));
  return 0;
}
MPMP_TASK(bsem0_body);

static void sync_semaphore_python_bounded(void **state) {
  objspec_t sp = {.bsem = 2};
  objargs_t a = {0};
  objs_make(state, &sp, &a.s);
  mpmp_sem_t sem = a.s.bsem;
  EQ(mpmp_sem_value(sem), 2);
  EQ(mpmp_sem_acquire(sem, MPMP_FOREVER), 0);
  EQ(mpmp_sem_value(sem), 1);
  EQ(mpmp_sem_acquire(sem, MPMP_FOREVER), 0);
  EQ(mpmp_sem_value(sem), 0);
  EQ(mpmp_sem_acquire(sem, 0), MPMP_ETIMEDOUT); /* acquire(False) */
  EQ(mpmp_sem_value(sem), 0);
  EQ(mpmp_sem_release(sem), 0);
  EQ(mpmp_sem_value(sem), 1);
  EQ(mpmp_sem_release(sem), 0);
  EQ(mpmp_sem_value(sem), 2);
  EQ(mpmp_sem_release(sem), MPMP_EPERM); /* ValueError */
  assert_non_null(strstr(mpmp_errmsg(), "released too many times"));
  EQ(mpmp_sem_value(sem), 2);
  objs_free(&a.s);

  mpmp_sem_t x;
  EQ(mpmp_bsem_create(&x, 0), 0);
  RUN(bsem0_part, &x);
  join_destroy(start_process(bsem0_body, &x, sizeof x));
  EQ(mpmp_sem_value(x), 0);
  EQ(mpmp_sem_free(x), 0);
}

static const struct CMUnitTest tests[] = {
    BOTH(sync_semaphore_values),
    TEST_AT(sync_semaphore_python_bounded, 0, "_main_home"),
};

MPMP_TEST_MAIN(tests)
