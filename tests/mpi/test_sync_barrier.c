/* Barrier (mpmp/sync.h): abort, reset and broken barriers.
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

/* ---- 7. Barrier ----------------------------------------------------------- */

static mpmp_process_t **start_waiters(const objargs_t *a, int n) {
  mpmp_process_t **ps = calloc((size_t)n, sizeof *ps);
  assert_non_null(ps);
  for (int i = 0; i < n; i++)
    ps[i] = start_process(barrier_waiter, a, sizeof *a);
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

static const struct CMUnitTest tests[] = {
    BOTH(sync_barrier_abort_reset),
};

MPMP_TEST_MAIN(tests)
