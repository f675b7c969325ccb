/*
 * Tasks and helpers shared by the misuse tests (test_pool_misuse.c,
 * test_futures_misuse.c): a square, a patient sleeper that stops when
 * asked, a counting producer for imap, and pool/executor constructors.
 * Included once per test program (each registers its own copy of the
 * tasks).
 */
#ifndef MPMP_MISUSE_TASKS_H
#define MPMP_MISUSE_TASKS_H

#include <stdint.h>

#include "mpitest.h"

static int square(mpmp_ctx_t *ctx) {
  const int64_t *x = mpmp_arg(ctx, NULL);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = *x * *x;
  return 0;
}
MPMP_TASK(square);

/* Sleeps its argument's seconds in 5 ms steps, stopping early when asked
 * (mpmp_should_stop): 1 when it ran to its end, 0 when stopped. */
static int patient(mpmp_ctx_t *ctx) {
  double t0 = test_now(), s = *(const double *)mpmp_arg(ctx, NULL);
  int64_t full = 1;
  while (test_now() - t0 < s) {
    if (mpmp_should_stop(ctx)) {
      full = 0;
      break;
    }
    test_sleep(0.005);
  }
  *(int64_t *)mpmp_out(ctx, sizeof full) = full;
  return 0;
}
MPMP_TASK(patient);

typedef struct counter {
  int64_t next, limit;
} counter_t;

/* imap's producer: next, next + 1, ... up to limit (excluded). */
static inline int count_up(void *user, void *item) {
  counter_t *c = user;
  if (c->next == c->limit)
    return 0;
  *(int64_t *)item = c->next++;
  return 1;
}

static inline mpmp_pool_t *pool_of(int n) {
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.processes = n};
  assert_int_equal(mpmp_pool_create(&pool, &o), 0);
  return pool;
}

static inline mpmp_executor_t *executor(int workers) {
  mpmp_executor_t *ex = NULL;
  mpmp_executor_opts_t o = {.max_workers = workers};
  assert_int_equal(mpmp_executor_create(&ex, &o), 0);
  return ex;
}

#endif /* MPMP_MISUSE_TASKS_H */
