/*
 * A task's failure message reaches the caller byte for byte up to 16 MiB
 * (1 MiB here, what CPython passes), and a longer one ends with a visible
 * "... [cut: N bytes in all]": through a pool's map and apply, an
 * executor's future, and a Process.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mpitest.h"

#define MIB ((size_t)1 << 20)
#define LIMIT ((size_t)16 << 20)
/* a task's own message is cut 64 KiB sooner: room for the caller's words
 * around it, which must not cut it again */
#define TASK_LIMIT (LIMIT - ((size_t)64 << 10))
#define HUGE_MSG ((size_t)20000000)

/* Byte k of every message: a shift, a lost or a repeated byte shows. */
static char text_byte(size_t k) { return (char)('a' + (k * 7 + k / 4093) % 26); }

static char *long_text(size_t n) {
  char *t = malloc(n + 1);
  if (t == NULL)
    return NULL;
  for (size_t k = 0; k < n; k++)
    t[k] = text_byte(k);
  t[n] = '\0';
  return t;
}

/* Fails with a message as long as its argument says (0: succeeds). */
static int fail_with_len(mpmp_ctx_t *ctx) {
  const int64_t *n = mpmp_arg(ctx, NULL);
  if (*n == 0) {
    *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = 7;
    return 0;
  }
  char *t = long_text((size_t)*n);
  if (t == NULL)
    return mpmp_fail(ctx, "no memory for the test's text");
  int rc = mpmp_fail(ctx, "%s", t);
  free(t);
  return rc;
}
MPMP_TASK(fail_with_len);

/* `msg` is the text of length n, whole (n <= the limit) or cut. */
static void check_text(const char *msg, size_t n) {
  assert_non_null(msg);
  size_t len = strlen(msg), kept = n <= TASK_LIMIT ? n : TASK_LIMIT;
  for (size_t k = 0; k < kept; k++)
    if (msg[k] != text_byte(k))
      fail_msg("byte %zu of the %zu-byte message differs", k, n);
  if (n <= TASK_LIMIT) {
    assert_int_equal(len, n);
  } else {
    char marker[64];
    snprintf(marker, sizeof marker, "... [cut: %zu bytes in all]", n);
    assert_string_equal(msg + kept, marker);
  }
}

/* mpmp_errmsg() after a failed call: the text inside the call's own words,
 * whole, or cut by the task with the marker of its whole length (the
 * call's words around it never cut it again: that lost the true length). */
static void check_errmsg_has(size_t n) {
  const char *m = mpmp_errmsg();
  char start[9];
  for (size_t k = 0; k < 8; k++)
    start[k] = text_byte(k);
  start[8] = '\0';
  const char *at = strstr(m, start);
  assert_non_null(at);
  size_t kept = n <= TASK_LIMIT ? n : TASK_LIMIT;
  assert_true(strlen(m) <= LIMIT + 64);
  assert_true(strlen(at) >= kept);
  for (size_t k = 0; k < kept; k++)
    if (at[k] != text_byte(k))
      fail_msg("mpmp_errmsg(): byte %zu of the %zu-byte message differs", k,
               n);
  if (n > TASK_LIMIT) {
    char marker[64];
    snprintf(marker, sizeof marker, "... [cut: %zu bytes in all]", n);
    assert_memory_equal(at + kept, marker, strlen(marker));
  }
}

static mpmp_pool_t *new_pool(void) {
  mpmp_pool_t *pool = NULL;
  assert_int_equal(mpmp_pool_create(&pool, NULL), 0);
  return pool;
}

static void failmsg_pool_map(void **state) {
  (void)state;
  mpmp_pool_t *pool = new_pool();
  int64_t in[6] = {0, 0, 0, (int64_t)MIB, 0, (int64_t)HUGE_MSG}, out[6];
  mpmp_async_t *res = NULL;
  assert_int_equal(mpmp_pool_map_async(pool, fail_with_len, in, 6, sizeof *in,
                                       out, sizeof *out, 1, NULL, NULL, &res),
                   0);
  assert_int_equal(mpmp_async_get(res, 60), MPMP_ETASK);
  check_errmsg_has(MIB); /* the first failure: item 3 */
  assert_non_null(strstr(mpmp_errmsg(), "item 3 failed"));
  assert_int_equal(mpmp_async_failed_count(res), 2);
  for (int k = 0; k < 2; k++) {
    size_t index = 0;
    const char *msg = NULL;
    assert_int_equal(mpmp_async_failure(res, k, &index, NULL, &msg), 0);
    assert_true(index == 3 || index == 5);
    check_text(msg, (size_t)in[index]);
  }
  assert_int_equal(out[0], 7);
  assert_int_equal(out[4], 7);
  mpmp_async_destroy(res);
  /* the blocking call, with the message in mpmp_errmsg() */
  int64_t one[2] = {0, (int64_t)MIB};
  assert_int_equal(mpmp_pool_map(pool, fail_with_len, one, 2, sizeof *one,
                                 out, sizeof *out, 1), MPMP_ETASK);
  check_errmsg_has(MIB);
  assert_int_equal(mpmp_pool_destroy(pool), 0);
}

static void failmsg_pool_apply(void **state) {
  (void)state;
  mpmp_pool_t *pool = new_pool();
  const size_t lens[] = {MIB, LIMIT, LIMIT + 1, HUGE_MSG};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    int64_t n = (int64_t)lens[i], out;
    assert_int_equal(mpmp_pool_apply(pool, fail_with_len, &n, sizeof n, &out,
                                     sizeof out, NULL), MPMP_ETASK);
    check_errmsg_has(lens[i]);
    mpmp_async_t *res = NULL;
    assert_int_equal(mpmp_pool_apply_async(pool, fail_with_len, &n, sizeof n,
                                           NULL, NULL, &res), 0);
    assert_int_equal(mpmp_async_wait(res, 60), 0);
    const char *msg = NULL;
    assert_int_equal(mpmp_async_failure(res, 0, NULL, NULL, &msg), 0);
    check_text(msg, lens[i]);
    mpmp_async_destroy(res);
  }
  assert_int_equal(mpmp_pool_destroy(pool), 0);
}

static void failmsg_future(void **state) {
  (void)state;
  mpmp_executor_t *ex = NULL;
  assert_int_equal(mpmp_executor_create(&ex, NULL), 0);
  const size_t lens[] = {MIB, HUGE_MSG};
  for (size_t i = 0; i < 2; i++) {
    int64_t n = (int64_t)lens[i];
    mpmp_future_t *f = NULL;
    assert_int_equal(mpmp_executor_submit(ex, fail_with_len, &n, sizeof n, &f),
                     0);
    const char *msg = NULL;
    assert_int_equal(mpmp_future_exception(f, 60, &msg), 0);
    check_text(msg, lens[i]);
    assert_int_equal(mpmp_future_result(f, 60, NULL, NULL), MPMP_ETASK);
    check_errmsg_has(lens[i]);
    mpmp_future_destroy(f);
  }
  assert_int_equal(mpmp_executor_shutdown(ex, 1, 0), 0);
}

static void failmsg_process(void **state) {
  (void)state;
  const size_t lens[] = {MIB, HUGE_MSG};
  for (size_t i = 0; i < 2; i++) {
    int64_t n = (int64_t)lens[i];
    mpmp_process_t *p = NULL;
    assert_int_equal(mpmp_process_create(&p, fail_with_len, &n, sizeof n, NULL),
                     0);
    assert_int_equal(mpmp_process_start(p), 0);
    assert_int_equal(mpmp_process_join(p, 60), 0);
    int code = 0;
    assert_int_equal(mpmp_process_exitcode(p, &code), 0);
    assert_int_equal(code, MPMP_EXIT_FAILED);
    check_text(mpmp_process_errmsg(p), lens[i]);
    assert_int_equal(mpmp_process_destroy(p), 0);
  }
}

/* A rank serves other ranks' requests on its objects while it waits in
 * any call of its own, and a refused request's message landed in the
 * serving thread's mpmp_errmsg() (helper 66): a successful join after
 * mpmp_errmsg_clear() showed another rank's "a slice of 2 elements from
 * index ... is out of range", and a failed call's own message was
 * replaced by it while the caller only polled. The serving now leaves the
 * thread's message as it was. */
static int bad_reads(mpmp_ctx_t *ctx) {
  mpmp_array_t a = *(const mpmp_array_t *)mpmp_arg(ctx, NULL);
  int64_t buf[2];
  for (int i = 0; i < 100; i++) {
    if (mpmp_array_read(a, SIZE_MAX, 2, buf) != MPMP_EINVAL)
      return mpmp_fail(ctx, "a read past the end was not refused");
    test_sleep(0.002);
  }
  return 0;
}
MPMP_TASK(bad_reads);

static void failmsg_served_requests_leave_the_callers_message(void **state) {
  (void)state;
  if (mpmp_node_count() < 2)
    skip(); /* (one node: the reads need no serving) */
  mpmp_array_t a;
  assert_int_equal(mpmp_array_create(&a, MPMP_INT64, 16, NULL, 1), 0);
  mpmp_process_opts_t po = {.isolate = MPMP_ISOLATE_NEVER};
  int n = mpmp_worker_count() < MAXW ? mpmp_worker_count() : MAXW;
  for (int round = 0; round < 2; round++) {
    /* one body per worker: some on the other node */
    mpmp_process_t *p[MAXW];
    for (int i = 0; i < n; i++) {
      assert_int_equal(mpmp_process_create(&p[i], bad_reads, &a, sizeof a,
                                           &po), 0);
      assert_int_equal(mpmp_process_start(p[i]), 0);
    }
    if (round == 0) { /* a call that succeeds sets no message */
      for (int i = 0; i < n; i++) {
        mpmp_errmsg_clear();
        assert_int_equal(mpmp_process_join(p[i], T_OUT), 0);
        if (mpmp_errmsg()[0] != 0)
          fail_msg("a successful join left the message \"%s\"",
                   mpmp_errmsg());
      }
    } else { /* a failed call's message stays while the caller polls */
      assert_int_equal(mpmp_value_create(NULL, MPMP_INT64, NULL, 1),
                       MPMP_EINVAL);
      char own[300];
      snprintf(own, sizeof own, "%s", mpmp_errmsg());
      for (int i = 0; i < n; i++)
        while (mpmp_process_is_alive(p[i]) == 1)
          test_sleep(0.001);
      if (strcmp(own, mpmp_errmsg()) != 0)
        fail_msg("the message \"%s\" became \"%s\"", own, mpmp_errmsg());
      for (int i = 0; i < n; i++)
        assert_int_equal(mpmp_process_join(p[i], T_OUT), 0);
    }
    for (int i = 0; i < n; i++) {
      int code = -1;
      assert_int_equal(mpmp_process_exitcode(p[i], &code), 0);
      assert_int_equal(code, 0);
      assert_int_equal(mpmp_process_destroy(p[i]), 0);
    }
  }
  assert_int_equal(mpmp_array_free(a), 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(failmsg_pool_map),
    cmocka_unit_test(failmsg_pool_apply),
    cmocka_unit_test(failmsg_future),
    cmocka_unit_test(failmsg_process),
    cmocka_unit_test(failmsg_served_requests_leave_the_callers_message),
};

MPMP_TEST_MAIN(tests)
