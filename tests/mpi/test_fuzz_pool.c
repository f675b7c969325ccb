/*
 * Fuzz: Pool, AsyncResult, imap and the task calls. NULL pools, results and
 * buffers; zero, huge and overflowing item counts and sizes; NaN timeouts;
 * every call after close, terminate and join; an imap that outlives its
 * pool or sees it closed; a task that misuses its context or calls what
 * only the main rank may. Main-rank objects are opaque pointers: they get
 * NULL, never wild pointers, and are used after destroy only where the
 * header promises an answer. Tests that crash today (known defects of
 * issue 13) come last, so that one run reports the others first.
 */
#include "fuzz.h"

static int workers(void) { return mpmp_worker_count(); }

/* The test's pool, destroyed by the teardown if the test did not get
 * that far (a crash that CMocka caught): the next test needs the workers. */
static mpmp_pool_t *live_pool;

static mpmp_pool_t *pool_new(int n) {
  mpmp_pool_t *p = NULL;
  mpmp_pool_opts_t o = {.processes = n, .max_result = FZ_LOG_MAX + 64};
  assert_int_equal(mpmp_pool_create(&p, &o), 0);
  live_pool = p;
  return p;
}

static int pool_del(mpmp_pool_t *p) {
  if (p == live_pool)
    live_pool = NULL;
  return mpmp_pool_destroy(p);
}

static int teardown(void **state) {
  (void)state;
  if (live_pool != NULL)
    pool_del(live_pool);
  return 0;
}

/* ---- tasks ---------------------------------------------------------------- */

/* Fails with a message of `*arg` bytes ('x' repeated). */
static int fail_long(mpmp_ctx_t *ctx) {
  const int64_t *n = mpmp_arg(ctx, NULL);
  char *msg = malloc((size_t)*n + 1);
  if (msg == NULL)
    return mpmp_fail(ctx, "out of memory");
  memset(msg, 'x', (size_t)*n);
  msg[*n] = '\0';
  int rc = mpmp_fail(ctx, "%s", msg);
  free(msg);
  return rc;
}
MPMP_TASK(fail_long);

/* Fails with no format at all. */
static int fail_null(mpmp_ctx_t *ctx) { return mpmp_fail(ctx, NULL); }
MPMP_TASK(fail_null);

/* Asks for a result larger than the caller accepts, and writes it all: the
 * doc promises a (scratch) buffer, so that the worker cannot crash. */
static int out_too_big(mpmp_ctx_t *ctx) {
  size_t n = 256 * 1024;
  char *p = mpmp_out(ctx, n);
  if (p != NULL)
    memset(p, 1, n);
  return 0;
}
MPMP_TASK(out_too_big);

/* The task calls with odd arguments, and what only the main rank may do,
 * from a worker: checked there, the notes sent back as the result. */
static void ctx_calls(mpmp_ctx_t *ctx) {
  size_t n = 99;
  mpmp_pool_t *pool = NULL;
  mpmp_process_t *p = NULL;
  mpmp_executor_t *ex = NULL;
  mpmp_manager_t m;
  int argc = 0;
  FZ_TRUE(mpmp_arg(NULL, &n) == NULL && n == 0, "mpmp_arg(NULL) gave %zu", n);
  FZ_TRUE(mpmp_arg(ctx, NULL) != NULL, "mpmp_arg(ctx, NULL) is NULL");
  FZ_TRUE(mpmp_out(NULL, 8) == NULL, "mpmp_out(NULL, 8) is not NULL");
  FZ_EQ(MPMP_ETASK, mpmp_fail(NULL, "x"));
  FZ_EQ(0, mpmp_should_stop(NULL));
  FZ_TRUE(mpmp_task_name(NULL) == NULL, "mpmp_task_name(NULL) is not NULL");
  FZ_TRUE(mpmp_task_name(fz_not_a_task) == NULL, "a task name for no task");
  FZ_ERR(MPMP_ENOTMAIN, mpmp_pool_create(&pool, NULL));
  FZ_ERR(MPMP_ENOTMAIN, mpmp_process_create(&p, fz_square, NULL, 0, NULL));
  FZ_ERR(MPMP_ENOTMAIN, mpmp_executor_create(&ex, NULL));
  FZ_ERR(MPMP_ENOTMAIN, mpmp_manager_start(&m));
  FZ_ERR(MPMP_ENOTMAIN, mpmp_active_children(NULL, 0));
  FZ_ERR(MPMP_ENOTMAIN, mpmp_futures_wait(NULL, 0, MPMP_ALL_COMPLETED, 0));
  FZ_ERR(MPMP_ENOTMAIN, mpmp_print_bindings(NULL));
  FZ_ERR(MPMP_ENOTMAIN, mpmp_finalize());
  FZ_ERR(MPMP_EALREADY, mpmp_init(&argc, NULL));
  FZ_EQ(1, mpmp_initialized());
  FZ_EQ(0, mpmp_is_main());
}

static int ctx_fuzz(mpmp_ctx_t *ctx) {
  ctx_calls(ctx);
  fz_send_notes(ctx);
  return 0;
}
MPMP_TASK(ctx_fuzz);

/* ---- creation --------------------------------------------------------------- */

static void fuzz_pool_create_args(void **state) {
  (void)state;
  mpmp_pool_t *p = NULL;
  int64_t x = 1;
  mpmp_pool_opts_t neg = {.processes = -1}, low = {.processes = INT32_MIN};
  mpmp_pool_opts_t many = {.processes = INT32_MAX};
  mpmp_pool_opts_t notask = {.initializer = fz_not_a_task};
  mpmp_pool_opts_t nullarg = {.initializer = fz_square, .initarg_size = 8};
  mpmp_pool_opts_t hugearg = {.initializer = fz_square, .initarg = &x,
                              .initarg_size = SIZE_MAX};
  FZ_ERR(MPMP_EINVAL, mpmp_pool_create(NULL, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_create(&p, &neg));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_create(&p, &low));
  FZ_ERR(MPMP_EBUSY, mpmp_pool_create(&p, &many));
  FZ_ERR(MPMP_ENOTASK, mpmp_pool_create(&p, &notask));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_create(&p, &nullarg));
  FZ_ERR2(MPMP_EINVAL, MPMP_ENOMEM, mpmp_pool_create(&p, &hugearg));
  /* nothing was kept: every worker is free */
  p = pool_new(0);
  FZ_EQ(workers(), mpmp_pool_size(p));
  FZ_EQ(0, pool_del(p));
  FZ_DONE();
}

/* ---- NULL everywhere ---------------------------------------------------------- */

static void fuzz_pool_null_pool(void **state) {
  (void)state;
  int64_t in[4] = {1, 2, 3, 4}, out[4];
  mpmp_async_t *j = NULL;
  mpmp_imap_t *it = NULL;
  FZ_ERR(MPMP_EINVAL, mpmp_pool_size(NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_map(NULL, fz_square, in, 4, 8, out, 8, 0));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_starmap(NULL, fz_square, in, 4, 8, out, 8, 0));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_map_async(NULL, fz_square, in, 4, 8, out, 8, 0,
                                          NULL, NULL, &j));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_starmap_async(NULL, fz_square, in, 4, 8, out,
                                              8, 0, NULL, NULL, &j));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_apply(NULL, fz_square, in, 8, out, 8, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_apply_async(NULL, fz_square, in, 8, NULL, NULL,
                                            &j));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_imap(NULL, fz_square, NULL, NULL, 8, 8, 0, 0,
                                     &it));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_imap_unordered(NULL, fz_square, NULL, NULL, 8,
                                               8, 0, 0, &it));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_close(NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_terminate(NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_join(NULL, 1));
  FZ_EQ(0, mpmp_pool_destroy(NULL));
  FZ_DONE();
}

static void map_args(mpmp_pool_t *p) {
  int64_t in[4] = {1, 2, 3, 4}, out[4] = {0};
  mpmp_async_t *j = NULL;
  FZ_ERR(MPMP_EINVAL, mpmp_pool_map(p, NULL, in, 4, 8, out, 8, 0));
  FZ_ERR(MPMP_ENOTASK, mpmp_pool_map(p, fz_not_a_task, in, 4, 8, out, 8, 0));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_map(p, fz_square, NULL, 4, 8, out, 8, 0));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_map(p, fz_square, in, 4, 8, NULL, 8, 0));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_map(p, fz_square, in, 4, 0, out, 8, 0));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_map(p, fz_square, in, 4, 8, out, 0, 0));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_starmap(p, fz_square, NULL, 4, 8, out, 8, 0));
  for (size_t k = 0; k < FZ_NHUGE; k++) {
    FZ_ERR(MPMP_EINVAL, mpmp_pool_map(p, fz_square, in, 4, fz_huge[k], out, 8, 0));
    FZ_ERR(MPMP_EINVAL, mpmp_pool_map(p, fz_square, in, 4, 8, out, fz_huge[k], 0));
  }
  FZ_ERR(MPMP_EINVAL, mpmp_pool_map_async(p, fz_square, in, 4, 8, out, 8, 0,
                                          NULL, NULL, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_starmap_async(p, fz_square, in, 4, 8, out, 8,
                                              0, NULL, NULL, NULL));
  /* a chunk size of any size is fine */
  FZ_EQ(0, mpmp_pool_map(p, fz_square, in, 4, 8, out, 8, SIZE_MAX));
  FZ_TRUE(out[3] == 16, "map with chunksize SIZE_MAX: out[3] = %lld",
          (long long)out[3]);
  FZ_EQ(0, mpmp_pool_map(p, fz_square, in, 0, 8, out, 8, 0));
  (void)j;
}

static void apply_args(mpmp_pool_t *p) {
  int64_t x = 3, y = 0;
  size_t n = 99;
  mpmp_async_t *j = NULL;
  FZ_ERR(MPMP_EINVAL, mpmp_pool_apply(p, NULL, &x, 8, &y, 8, &n));
  FZ_ERR(MPMP_ENOTASK, mpmp_pool_apply(p, fz_not_a_task, &x, 8, &y, 8, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_apply(p, fz_square, NULL, 8, &y, 8, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_apply_async(p, fz_square, NULL, 8, NULL, NULL,
                                            &j));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_apply_async(p, fz_square, &x, 8, NULL, NULL,
                                            NULL));
  for (size_t k = 0; k < FZ_NHUGE; k++)
    FZ_ERR2(MPMP_EINVAL, MPMP_ENOMEM,
            mpmp_pool_apply_async(p, fz_square, &x, fz_huge[k], NULL, NULL, &j));
  /* a result larger than the buffer: refused, and the size told */
  FZ_ERR(MPMP_EMSGSIZE, mpmp_pool_apply(p, fz_square, &x, 8, &y, 4, &n));
  FZ_TRUE(n == 8, "EMSGSIZE told a size of %zu, not 8", n);
  FZ_EQ(0, mpmp_pool_apply(p, fz_square, &x, 8, &y, 8, NULL));
  FZ_TRUE(y == 9, "apply gave %lld", (long long)y);
}

static void fuzz_pool_bad_args(void **state) {
  (void)state;
  mpmp_pool_t *p = pool_new(0);
  map_args(p);
  apply_args(p);
  FZ_EQ(0, pool_del(p));
  FZ_DONE();
}

/* ---- results ------------------------------------------------------------------ */

static void fuzz_async_null(void **state) {
  (void)state;
  const void *data;
  size_t size, index;
  int rank;
  const char *msg;
  FZ_ERR(MPMP_EINVAL, mpmp_async_wait(NULL, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_async_get(NULL, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_async_ready(NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_async_successful(NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_async_failed_count(NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_async_failure(NULL, 0, &index, &rank, &msg));
  FZ_ERR(MPMP_EINVAL, mpmp_async_result(NULL, &data, &size));
  FZ_ERR(MPMP_EINVAL, mpmp_async_resumed(NULL, &size));
  FZ_ERR(MPMP_EINVAL, mpmp_async_resumed(NULL, NULL));
  mpmp_async_destroy(NULL);
  FZ_DONE();
}

static void fuzz_async_states(void **state) {
  (void)state;
  mpmp_pool_t *p = pool_new(0);
  mpmp_async_t *j = NULL;
  int64_t x = 4, nap = 300, len = 100;
  const char *msg = NULL;
  size_t index = 99;
  /* not ready yet */
  FZ_EQ(0, mpmp_pool_apply_async(p, fz_nap, &nap, 8, NULL, NULL, &j));
  FZ_ERR(MPMP_EINVAL, mpmp_async_wait(j, NAN));
  FZ_ERR(MPMP_EINVAL, mpmp_async_get(j, NAN));
  FZ_TIMEOUT(mpmp_async_wait(j, -0.0));
  FZ_TIMEOUT(mpmp_async_get(j, 0));
  FZ_ERR(MPMP_EAGAIN, mpmp_async_successful(j));
  FZ_ERR(MPMP_EAGAIN, mpmp_async_result(j, NULL, NULL));
  FZ_ERR(MPMP_EAGAIN, mpmp_async_failure(j, 0, &index, NULL, &msg));
  FZ_ERR(MPMP_EAGAIN, mpmp_async_resumed(j, &index));
  FZ_EQ(0, mpmp_async_get(j, 30));
  /* ready */
  FZ_ERR(MPMP_EINVAL, mpmp_async_wait(j, NAN));
  FZ_ERR(MPMP_EINVAL, mpmp_async_get(j, NAN));
  FZ_EQ(1, mpmp_async_ready(j));
  FZ_EQ(1, mpmp_async_successful(j));
  FZ_EQ(0, mpmp_async_failed_count(j));
  FZ_EQ(0, mpmp_async_resumed(j, &index));
  FZ_EQ(0, (long long)index); /* no checkpoint: nothing resumed */
  FZ_ERR(MPMP_EINVAL, mpmp_async_resumed(j, NULL));
  FZ_EQ(0, mpmp_async_result(j, NULL, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_async_failure(j, 0, &index, NULL, &msg));
  FZ_ERR(MPMP_EINVAL, mpmp_async_failure(j, -1, &index, NULL, &msg));
  mpmp_async_destroy(j);
  /* failed */
  FZ_EQ(0, mpmp_pool_apply_async(p, fail_long, &len, 8, NULL, NULL, &j));
  FZ_ERR(MPMP_ETASK, mpmp_async_get(j, 30));
  FZ_EQ(1, mpmp_async_failed_count(j));
  FZ_EQ(0, mpmp_async_successful(j));
  FZ_ERR(MPMP_ETASK, mpmp_async_result(j, NULL, NULL));
  FZ_EQ(0, mpmp_async_failure(j, 0, NULL, NULL, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_async_failure(j, 1, &index, NULL, &msg));
  FZ_ERR(MPMP_EINVAL, mpmp_async_failure(j, INT32_MAX, &index, NULL, &msg));
  FZ_ERR(MPMP_EINVAL, mpmp_async_failure(j, INT32_MIN, &index, NULL, &msg));
  mpmp_async_destroy(j);
  (void)x;
  FZ_EQ(0, pool_del(p));
  FZ_DONE();
}

/* What a task says reaches the caller whole, whatever its length. */
static void fuzz_task_messages(void **state) {
  (void)state;
  mpmp_pool_t *p = pool_new(0);
  mpmp_async_t *j = NULL;
  int64_t len = 10000, x = 1;
  const char *msg = NULL;
  char out[8];
  size_t n;
  FZ_EQ(0, mpmp_pool_apply_async(p, fail_long, &len, 8, NULL, NULL, &j));
  FZ_ERR(MPMP_ETASK, mpmp_async_get(j, 30));
  FZ_EQ(0, mpmp_async_failure(j, 0, NULL, NULL, &msg));
  FZ_TRUE(msg != NULL && strlen(msg) == (size_t)len, "a failure message of "
          "%lld bytes arrived with %zu", (long long)len,
          msg ? strlen(msg) : 0);
  mpmp_async_destroy(j);
  FZ_ERR(MPMP_ETASK, mpmp_pool_apply(p, fail_null, &x, 8, out, 8, &n));
  FZ_ERR(MPMP_ETASK, mpmp_pool_apply(p, out_too_big, &x, 8, out, 8, &n));
  FZ_TRUE(strstr(mpmp_errmsg(), "bytes") != NULL, "the message does not "
          "say that the result was too big: %s", mpmp_errmsg());
  FZ_EQ(0, pool_del(p));
  FZ_DONE();
}

static void fuzz_task_context(void **state) {
  (void)state;
  mpmp_pool_t *p = pool_new(1);
  mpmp_async_t *j = NULL;
  const void *data = NULL;
  size_t n = 0;
  FZ_EQ(0, mpmp_pool_apply_async(p, ctx_fuzz, "", 1, NULL, NULL, &j));
  FZ_EQ(0, mpmp_async_get(j, 60));
  if (mpmp_async_result(j, &data, &n) == 0 && n > 0) {
    int count = atoi(data);
    const char *lines = strchr(data, '\n');
    if (count > 0 && lines != NULL) {
      fz_log_add(lines + 1);
      fz_nfail += count;
    }
  }
  mpmp_async_destroy(j);
  FZ_EQ(0, pool_del(p));
  FZ_DONE();
}

/* ---- imap --------------------------------------------------------------------- */

typedef struct counter {
  int64_t next, end;
  int error; /* returned at `end` when non-zero */
} counter_t;

static int produce(void *user, void *item) {
  counter_t *c = user;
  if (c->next >= c->end)
    return c->error;
  *(int64_t *)item = c->next++;
  return 1;
}

/* A refused imap takes nothing from the producer: those items would be
 * lost to the caller. */
#define IMAP_REFUSED(code, call_with_c) IMAP_REFUSED2(code, code, call_with_c)
#define IMAP_REFUSED2(c1, c2, call_with_c)                                  \
  do {                                                                      \
    counter_t c = {0, 3, 0};                                                \
    FZ_ERR2(c1, c2, call_with_c);                                           \
    FZ_TRUE(c.next == 0, "%s: took %lld items from the producer, which "    \
            "are lost", #call_with_c, (long long)c.next);                   \
  } while (0)

static void fuzz_imap_args(void **state) {
  (void)state;
  mpmp_pool_t *p = pool_new(0);
  mpmp_imap_t *it = NULL;
  int64_t out = 0;
  size_t index = 0;
  IMAP_REFUSED(MPMP_EINVAL, mpmp_pool_imap(p, fz_square, NULL, &c, 8, 8, 0, 0, &it));
  IMAP_REFUSED(MPMP_EINVAL, mpmp_pool_imap(p, fz_square, produce, &c, 8, 8, 0, 0, NULL));
  IMAP_REFUSED(MPMP_EINVAL, mpmp_pool_imap(p, fz_square, produce, &c, 0, 8, 0, 0, &it));
  IMAP_REFUSED(MPMP_EINVAL, mpmp_pool_imap(p, fz_square, produce, &c, 8, 0, 0, 0, &it));
  IMAP_REFUSED(MPMP_EINVAL, mpmp_pool_imap(p, NULL, produce, &c, 8, 8, 0, 0, &it));
  IMAP_REFUSED(MPMP_ENOTASK, mpmp_pool_imap(p, fz_not_a_task, produce, &c, 8,
                                            8, 0, 0, &it));
  IMAP_REFUSED(MPMP_ENOTASK, mpmp_pool_imap_unordered(p, fz_not_a_task,
                                                      produce, &c, 8, 8, 0, 0,
                                                      &it));
  for (size_t k = 0; k < FZ_NHUGE; k++) {
    /* pool.h documents no code: map's MPMP_EINVAL, or out of memory */
    IMAP_REFUSED2(MPMP_EINVAL, MPMP_ENOMEM,
                  mpmp_pool_imap(p, fz_square, produce, &c, fz_huge[k], 8, 0,
                                 0, &it));
    IMAP_REFUSED2(MPMP_EINVAL, MPMP_ENOMEM,
                  mpmp_pool_imap_unordered(p, fz_square, produce, &c, 8,
                                           fz_huge[k], 0, 0, &it));
  }
  /* a window of huge chunks or a huge buffersize (each alone clamped):
   * refused, never tried (a 64 TiB malloc that ASan aborts on) */
  IMAP_REFUSED(MPMP_EINVAL, mpmp_pool_imap(p, fz_square, produce, &c, 8, 8,
                                           SIZE_MAX, SIZE_MAX, &it));
  IMAP_REFUSED(MPMP_EINVAL, mpmp_pool_imap_unordered(p, fz_square, produce,
                                                     &c, 8, 8, (size_t)1 << 40,
                                                     SIZE_MAX, &it));
  /* a task that is not one is refused even when there are no items */
  counter_t none = {0, 0, 0};
  FZ_ERR(MPMP_ENOTASK, mpmp_pool_imap(p, fz_not_a_task, produce, &none, 8, 8,
                                      0, 0, &it));
  FZ_ERR(MPMP_EINVAL, mpmp_imap_next(NULL, &out, &index, 1));
  mpmp_imap_destroy(NULL);
  /* to the end and past it; NaN refused on the way */
  counter_t c = {0, 3, 0};
  FZ_EQ(0, mpmp_pool_imap(p, fz_square, produce, &c, 8, 8, 1, 2, &it));
  FZ_ERR(MPMP_EINVAL, mpmp_imap_next(it, NULL, &index, 10));
  FZ_EQ(0, mpmp_imap_next(it, &out, NULL, 10));
  test_sleep(0.2); /* the next result is surely back */
  FZ_ERR(MPMP_EINVAL, mpmp_imap_next(it, &out, &index, NAN));
  FZ_EQ(0, mpmp_imap_next(it, &out, &index, 10));
  FZ_TRUE(index == 1 && out == 1, "imap gave item %zu = %lld after a refused "
          "call; expected item 1 = 1", index, (long long)out);
  FZ_EQ(0, mpmp_imap_next(it, &out, &index, 10));
  FZ_EQ(MPMP_EEOF, mpmp_imap_next(it, &out, &index, 10));
  FZ_EQ(MPMP_EEOF, mpmp_imap_next(it, &out, &index, 0));
  FZ_CALL(mpmp_imap_next(it, &out, &index, NAN), rc_nan);
  FZ_TRUE(rc_nan == MPMP_EEOF || rc_nan == MPMP_EINVAL, "imap_next(NaN) at "
          "the end: %s", mpmp_err_name((int)rc_nan));
  mpmp_imap_destroy(it);
  /* a producer's error code comes out */
  counter_t bad = {0, 2, MPMP_ENOMEM};
  FZ_EQ(0, mpmp_pool_imap_unordered(p, fz_square, produce, &bad, 8, 8, 1, 0, &it));
  int rc = 0, got = 0;
  for (int i = 0; i < 5 && (rc = mpmp_imap_next(it, &out, &index, 10)) == 0; i++)
    got++;
  FZ_TRUE(got == 2 && rc == MPMP_ENOMEM, "imap: %d results, then %s; expected "
          "2, then the producer's MPMP_ENOMEM", got, mpmp_err_name(rc));
  mpmp_imap_destroy(it);
  FZ_EQ(0, pool_del(p));
  FZ_DONE();
}

/* close() lets running work complete (pool.h): an imap started before it
 * still yields every item (as Python's imap does). */
static void fuzz_imap_pool_closed(void **state) {
  (void)state;
  mpmp_pool_t *p = pool_new(0);
  mpmp_imap_t *it = NULL;
  counter_t c = {0, 50, 0};
  int64_t out = 0;
  size_t index = 0;
  int rc, got = 0;
  FZ_EQ(0, mpmp_pool_imap(p, fz_square, produce, &c, 8, 8, 1, 2, &it));
  FZ_EQ(0, mpmp_imap_next(it, &out, &index, 10));
  got++;
  FZ_EQ(0, mpmp_pool_close(p));
  while ((rc = mpmp_imap_next(it, &out, &index, 10)) == 0)
    got++;
  FZ_TRUE(got == 50 && rc == MPMP_EEOF, "after close: %d of 50 results, then "
          "%s (%s)", got, mpmp_err_name(rc), mpmp_errmsg());
  mpmp_imap_destroy(it);
  FZ_EQ(0, mpmp_pool_join(p, 30));
  FZ_EQ(0, pool_del(p));
  FZ_DONE();
}

/* terminate(): what was not dealt fails; the iteration ends, no hang. */
static void fuzz_imap_pool_terminated(void **state) {
  (void)state;
  mpmp_pool_t *p = pool_new(0);
  mpmp_imap_t *it = NULL;
  counter_t c = {0, 1000, 0};
  int64_t out = 0;
  int rc = 0, calls = 0;
  FZ_EQ(0, mpmp_pool_imap(p, fz_square, produce, &c, 8, 8, 1, 4, &it));
  FZ_EQ(0, mpmp_imap_next(it, &out, NULL, 10));
  FZ_EQ(0, mpmp_pool_terminate(p));
  do {
    fz_enter("mpmp_imap_next after terminate", __FILE__, __LINE__);
    rc = mpmp_imap_next(it, &out, NULL, 5);
    fz_leave();
  } while (rc != MPMP_EEOF && rc != MPMP_ETIMEDOUT && ++calls < 2000 &&
           (rc == 0 || rc == MPMP_ETASK));
  FZ_TRUE(rc != MPMP_ETIMEDOUT && calls < 2000, "imap after terminate: %d "
          "calls, last %s (%s)", calls, mpmp_err_name(rc), mpmp_errmsg());
  mpmp_imap_destroy(it);
  FZ_EQ(0, mpmp_pool_join(p, 30));
  FZ_EQ(0, pool_del(p));
  FZ_DONE();
}

/* ---- wrong states ----------------------------------------------------------- */

/* Every submitting call after close or terminate: MPMP_EPERM. */
static void refused_submits(mpmp_pool_t *p, const char *when) {
  int64_t in[4] = {1, 2, 3, 4}, out[4];
  mpmp_async_t *j = NULL;
  mpmp_imap_t *it = NULL;
  fprintf(stdout, "submits %s\n", when);
  FZ_ERR(MPMP_EPERM, mpmp_pool_map(p, fz_square, in, 4, 8, out, 8, 1));
  FZ_ERR(MPMP_EPERM, mpmp_pool_starmap(p, fz_square, in, 4, 8, out, 8, 1));
  FZ_ERR(MPMP_EPERM, mpmp_pool_map_async(p, fz_square, in, 4, 8, out, 8, 1,
                                         NULL, NULL, &j));
  FZ_ERR(MPMP_EPERM, mpmp_pool_starmap_async(p, fz_square, in, 4, 8, out, 8,
                                             1, NULL, NULL, &j));
  FZ_ERR(MPMP_EPERM, mpmp_pool_apply(p, fz_square, in, 8, out, 8, NULL));
  FZ_ERR(MPMP_EPERM, mpmp_pool_apply_async(p, fz_square, in, 8, NULL, NULL, &j));
  IMAP_REFUSED(MPMP_EPERM, mpmp_pool_imap(p, fz_square, produce, &c, 8, 8,
                                          1, 0, &it));
  IMAP_REFUSED(MPMP_EPERM, mpmp_pool_imap_unordered(p, fz_square, produce,
                                                    &c, 8, 8, 1, 0, &it));
}

/* The same with chunksize 0, which derives the chunk from the workers
 * (none left after join: issue 13, defect 1). */
static void refused_auto_chunk(mpmp_pool_t *p) {
  int64_t in[4] = {1, 2, 3, 4}, out[4];
  mpmp_async_t *j = NULL;
  FZ_ERR(MPMP_EPERM, mpmp_pool_map(p, fz_square, in, 4, 8, out, 8, 0));
  FZ_ERR(MPMP_EPERM, mpmp_pool_map_async(p, fz_square, in, 4, 8, out, 8, 0,
                                         NULL, NULL, &j));
}

static void fuzz_pool_states(void **state) {
  (void)state;
  mpmp_pool_t *p = pool_new(0);
  FZ_ERR(MPMP_EPERM, mpmp_pool_join(p, 1));
  FZ_ERR2(MPMP_EPERM, MPMP_EINVAL, mpmp_pool_join(p, NAN));
  FZ_EQ(0, mpmp_pool_close(p));
  FZ_EQ(0, mpmp_pool_close(p));
  refused_submits(p, "after close");
  refused_auto_chunk(p);
  FZ_ERR(MPMP_EINVAL, mpmp_pool_join(p, NAN));
  FZ_EQ(0, mpmp_pool_join(p, 30));
  FZ_EQ(0, mpmp_pool_join(p, 30));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_join(p, NAN));
  refused_submits(p, "after close and join");
  FZ_EQ(0, mpmp_pool_close(p));
  FZ_EQ(0, mpmp_pool_terminate(p));
  FZ_EQ(0, pool_del(p));
  /* terminate */
  p = pool_new(0);
  FZ_EQ(0, mpmp_pool_terminate(p));
  FZ_EQ(0, mpmp_pool_terminate(p));
  refused_submits(p, "after terminate");
  refused_auto_chunk(p);
  FZ_EQ(0, mpmp_pool_join(p, 30));
  refused_submits(p, "after terminate and join");
  FZ_EQ(0, pool_del(p));
  FZ_DONE();
}

static void fuzz_pool_states_auto_chunk_after_join(void **state) {
  (void)state;
  mpmp_pool_t *p = pool_new(0);
  FZ_EQ(0, mpmp_pool_close(p));
  FZ_EQ(0, mpmp_pool_join(p, 30));
  refused_auto_chunk(p);
  FZ_EQ(0, pool_del(p));
  p = pool_new(0);
  FZ_EQ(0, mpmp_pool_terminate(p));
  FZ_EQ(0, mpmp_pool_join(p, 30));
  refused_auto_chunk(p);
  FZ_EQ(0, pool_del(p));
  FZ_DONE();
}

/* A join that waits long (1e300 s) sleeps instead of spinning. */
static void fuzz_pool_join_sleeps(void **state) {
  (void)state;
  mpmp_pool_t *p = pool_new(0);
  mpmp_async_t *j = NULL;
  int64_t nap = 400;
  FZ_EQ(0, mpmp_pool_apply_async(p, fz_nap, &nap, 8, NULL, NULL, &j));
  double cpu = fz_thread_cpu();
  FZ_EQ(0, mpmp_async_wait(j, 1e300));
  cpu = fz_thread_cpu() - cpu;
  FZ_TRUE(cpu < 0.2, "mpmp_async_wait(1e300) used %.3f s of CPU waiting "
          "0.4 s: a blocked wait must sleep", cpu);
  mpmp_async_destroy(j);
  FZ_EQ(0, mpmp_pool_apply_async(p, fz_nap, &nap, 8, NULL, NULL, &j));
  FZ_EQ(0, mpmp_pool_close(p));
  cpu = fz_thread_cpu();
  FZ_EQ(0, mpmp_pool_join(p, 1e300));
  cpu = fz_thread_cpu() - cpu;
  FZ_TRUE(cpu < 0.2, "mpmp_pool_join(1e300) used %.3f s of CPU waiting "
          "0.4 s", cpu);
  mpmp_async_destroy(j);
  FZ_EQ(0, pool_del(p));
  FZ_DONE();
}

/* Two jobs in flight: terminate stops the running tasks of both. */
static void fuzz_pool_terminate_two_jobs(void **state) {
  (void)state;
  int w = workers();
  mpmp_pool_t *p = pool_new(0);
  mpmp_async_t *a = NULL, *b = NULL;
  int64_t *naps = calloc((size_t)(4 * w), sizeof *naps), *out;
  out = calloc((size_t)(4 * w), sizeof *out);
  for (int i = 0; i < 4 * w; i++)
    naps[i] = 8000;
  /* one item per chunk: every worker runs one of a and has one of b queued */
  FZ_EQ(0, mpmp_pool_map_async(p, fz_nap, naps, (size_t)w, 8, out, 8, 1,
                               NULL, NULL, &a));
  FZ_EQ(0, mpmp_pool_map_async(p, fz_nap, naps + w, (size_t)(3 * w), 8,
                               out + w, 8, 1, NULL, NULL, &b));
  test_sleep(0.3);
  FZ_EQ(0, mpmp_pool_terminate(p));
  FZ_EQ(0, mpmp_pool_join(p, 5));
  if (!mpmp_async_ready(a) || !mpmp_async_ready(b))
    mpmp_pool_join(p, 60);
  FZ_ERR(MPMP_ETASK, mpmp_async_get(a, 60));
  FZ_ERR(MPMP_ETASK, mpmp_async_get(b, 60));
  mpmp_async_destroy(a);
  mpmp_async_destroy(b);
  FZ_EQ(0, pool_del(p));
  free(naps);
  free(out);
  FZ_DONE();
}

/* ---- known crashes (issue 13): last ----------------------------------------- */

/* An empty map: nothing to do, whatever the element sizes. */
static void fuzz_pool_empty_map(void **state) {
  (void)state;
  mpmp_pool_t *p = pool_new(0);
  mpmp_async_t *j = NULL;
  FZ_EQ(0, mpmp_pool_map(p, fz_square, NULL, 0, 0, NULL, 0, 0));
  FZ_EQ(0, mpmp_pool_starmap(p, fz_square, NULL, 0, 0, NULL, 0, 3));
  FZ_EQ(0, mpmp_pool_map_async(p, fz_square, NULL, 0, 0, NULL, 0, 0, NULL,
                               NULL, &j));
  if (j != NULL) {
    FZ_EQ(0, mpmp_async_get(j, 10));
    mpmp_async_destroy(j);
  }
  FZ_EQ(0, pool_del(p));
  FZ_DONE();
}

/* Counts whose byte size overflows, or that no buffer can have. */
static void fuzz_pool_huge_counts(void **state) {
  (void)state;
  mpmp_pool_t *p = pool_new(0);
  int64_t in[4] = {1, 2, 3, 4}, out[4];
  mpmp_async_t *j = NULL;
  for (size_t k = 0; k < FZ_NHUGE; k++) {
    FZ_ERR(MPMP_EINVAL, mpmp_pool_map(p, fz_square, in, fz_huge[k], 8, out, 8, 1));
    FZ_ERR(MPMP_EINVAL, mpmp_pool_map(p, fz_square, in, fz_huge[k], 8, out, 8, 0));
    FZ_ERR(MPMP_EINVAL, mpmp_pool_map(p, fz_square, in, fz_huge[k], 1, out, 1, 0));
    FZ_ERR(MPMP_EINVAL, mpmp_pool_map_async(p, fz_square, in, fz_huge[k], 8,
                                            out, 8, 0, NULL, NULL, &j));
  }
  FZ_EQ(0, pool_del(p));
  FZ_DONE();
}

static void fuzz_pool_apply_null_out(void **state) {
  (void)state;
  mpmp_pool_t *p = pool_new(0);
  int64_t x = 3;
  size_t n;
  FZ_ERR(MPMP_EINVAL, mpmp_pool_apply(p, fz_square, &x, 8, NULL, 8, &n));
  FZ_EQ(0, pool_del(p));
  FZ_DONE();
}

/* An imap whose pool was destroyed: an error, never a read of the freed
 * pool (issue 13, defect 5). */
static void fuzz_imap_outlives_pool(void **state) {
  (void)state;
  mpmp_pool_t *p = pool_new(0);
  mpmp_imap_t *it = NULL;
  counter_t c = {0, 1000, 0};
  int64_t out = 0;
  FZ_EQ(0, mpmp_pool_imap(p, fz_square, produce, &c, 8, 8, 1, 4, &it));
  FZ_EQ(0, mpmp_imap_next(it, &out, NULL, 10));
  FZ_EQ(0, pool_del(p));
  /* what had completed may still come (pool.h: nothing is lost), at most
   * the window of 4; then an error, the same at every later call */
  int got = 0, errors = 0;
  for (int i = 0; i < 8; i++) {
    size_t idx = 0;
    FZ_CALL(mpmp_imap_next(it, &out, &idx, 1), rc);
    if (rc == 0 && errors == 0) {
      FZ_TRUE(out == (int64_t)(idx * idx), "a wrong result %lld for item "
              "%zu", (long long)out, idx);
      got++;
      continue;
    }
    errors++;
    FZ_TRUE(rc < 0 && rc != MPMP_EEOF && rc != MPMP_ETIMEDOUT, "imap_next "
            "after its pool was destroyed: %s (%s); expected an error",
            mpmp_err_name((int)rc), mpmp_errmsg());
  }
  FZ_TRUE(got <= 4 && errors >= 4, "%d results and %d errors after the "
          "pool was destroyed", got, errors);
  fz_enter("mpmp_imap_destroy after its pool", __FILE__, __LINE__);
  mpmp_imap_destroy(it);
  fz_leave();
  FZ_DONE();
}

/* ---- variable-size maps ----------------------------------------------------- */

/* Hands its item back. */
static int fz_echo(mpmp_ctx_t *ctx) {
  size_t n = 0;
  const void *in = mpmp_arg(ctx, &n);
  void *out = mpmp_out(ctx, n);
  if (n > 0)
    memcpy(out, in, n);
  return 0;
}
MPMP_TASK(fz_echo);

/* Gives `*user` items of 3 bytes, then NULL items of 5 bytes (a bug). */
static int produce_var_bad(void *user, const void **item, size_t *size) {
  int *left = user;
  if ((*left)-- > 0) {
    *item = "abc";
    *size = 3;
  } else {
    *item = NULL;
    *size = 5;
  }
  return 1;
}

static int produce_var_none(void *user, const void **item, size_t *size) {
  (void)user, (void)item, (void)size;
  return 0;
}

/* Every variable-size call with NULLs, offsets that go down, overflowing
 * counts and offsets, in every pool state; the results' views misused. */
static void fuzz_pool_var(void **state) {
  (void)state;
  mpmp_pool_t *p = pool_new(0);
  const char text[] = "onetwothree";
  size_t off[4] = {0, 3, 6, 11}, down[4] = {0, 6, 3, 11};
  size_t wild[3] = {0, SIZE_MAX - 1, SIZE_MAX};
  mpmp_varbuf_t out = {0}, view = {0};
  mpmp_async_t *j = NULL;
  mpmp_imap_t *it = NULL;
  const void *data = NULL;
  size_t size = 0, index = 0;
  /* NULLs */
  FZ_ERR(MPMP_EINVAL, mpmp_pool_map_var(NULL, fz_echo, text, off, 3, 0, &out));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_map_var(p, NULL, text, off, 3, 0, &out));
  FZ_ERR(MPMP_ENOTASK, mpmp_pool_map_var(p, fz_not_a_task, text, off, 3, 0,
                                         &out));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_map_var(p, fz_echo, NULL, off, 3, 0, &out));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_map_var(p, fz_echo, text, NULL, 3, 0, &out));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_map_var(p, fz_echo, text, off, 3, 0, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_map_var_async(p, fz_echo, text, off, 3, 0,
                                              NULL, NULL, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_imap_var(p, fz_echo, NULL, NULL, 1, 0, &it));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_imap_var(NULL, fz_echo, produce_var_none,
                                         NULL, 1, 0, &it));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_imap_unordered_var(p, fz_echo,
                                                   produce_var_none, NULL, 1,
                                                   0, NULL));
  /* offsets that go down; counts and offsets past memory */
  FZ_ERR(MPMP_EINVAL, mpmp_pool_map_var(p, fz_echo, text, down, 3, 0, &out));
  FZ_ERR(MPMP_EINVAL, mpmp_pool_map_var(p, fz_echo, text, wild, 2, 0, &out));
  for (size_t k = 0; k < FZ_NHUGE; k++)
    FZ_ERR(MPMP_EINVAL, mpmp_pool_map_var(p, fz_echo, text, off, fz_huge[k],
                                          0, &out));
  /* the right map, any chunk size; an empty one */
  FZ_EQ(0, mpmp_pool_map_var(p, fz_echo, text, off, 3, SIZE_MAX, &out));
  FZ_TRUE(out.n == 3 && out.off[3] - out.off[2] == 5 &&
          memcmp(out.data + out.off[2], "three", 5) == 0,
          "map_var gave %zu results", out.n);
  mpmp_varbuf_free(&out);
  mpmp_varbuf_free(&out); /* twice: a no-op */
  mpmp_varbuf_free(NULL);
  FZ_EQ(0, mpmp_pool_map_var(p, fz_echo, text, off, 0, 0, &out));
  FZ_TRUE(out.n == 0, "an empty map_var gave %zu results", out.n);
  mpmp_varbuf_free(&out);
  /* the results' view: NULLs, and a fixed-size map's result */
  FZ_ERR(MPMP_EINVAL, mpmp_async_var_results(NULL, &view));
  FZ_EQ(0, mpmp_pool_map_var_async(p, fz_echo, text, off, 3, 1, NULL, NULL,
                                   &j));
  FZ_ERR(MPMP_EINVAL, mpmp_async_var_results(j, NULL));
  FZ_EQ(0, mpmp_async_wait(j, 30));
  FZ_EQ(0, mpmp_async_var_results(j, &view));
  FZ_TRUE(view.n == 3, "the view has %zu results", view.n);
  mpmp_async_destroy(j);
  int64_t in[2] = {1, 2}, sq[2];
  FZ_EQ(0, mpmp_pool_map_async(p, fz_square, in, 2, 8, sq, 8, 1, NULL, NULL,
                               &j));
  FZ_EQ(0, mpmp_async_wait(j, 30));
  FZ_ERR(MPMP_EINVAL, mpmp_async_var_results(j, &view));
  mpmp_async_destroy(j);
  /* a producer that gives a NULL item of 5 bytes: the iteration says so */
  int left = 2;
  FZ_EQ(0, mpmp_pool_imap_var(p, fz_echo, produce_var_bad, &left, 1, 0, &it));
  int rc = 0, got = 0;
  while ((rc = mpmp_imap_next_var(it, &data, &size, &index, 30)) == 0)
    got++;
  FZ_TRUE(rc == MPMP_EINVAL && got <= 2, "a NULL item: rc %d after %d "
          "results", rc, got);
  mpmp_imap_destroy(it);
  /* next_var's NULLs and NaN; the fixed next on a var iterator */
  FZ_EQ(0, mpmp_pool_imap_unordered_var(p, fz_echo, produce_var_none, NULL,
                                        1, 0, &it));
  FZ_ERR(MPMP_EINVAL, mpmp_imap_next_var(NULL, &data, &size, &index, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_imap_next_var(it, NULL, &size, &index, 1));
  FZ_ERR(MPMP_EEOF, mpmp_imap_next_var(it, &data, NULL, &index, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_imap_next_var(it, &data, &size, &index, NAN));
  FZ_ERR(MPMP_EINVAL, mpmp_imap_next(it, sq, &index, 1));
  FZ_ERR(MPMP_EEOF, mpmp_imap_next_var(it, &data, &size, NULL, 1));
  mpmp_imap_destroy(it);
  /* after close and after terminate: refused */
  FZ_EQ(0, mpmp_pool_close(p));
  FZ_ERR(MPMP_EPERM, mpmp_pool_map_var(p, fz_echo, text, off, 3, 0, &out));
  FZ_ERR(MPMP_EPERM, mpmp_pool_imap_var(p, fz_echo, produce_var_none, NULL,
                                        1, 0, &it));
  FZ_EQ(0, mpmp_pool_terminate(p));
  FZ_ERR(MPMP_EPERM, mpmp_pool_map_var_async(p, fz_echo, text, off, 3, 0,
                                             NULL, NULL, &j));
  FZ_EQ(0, mpmp_pool_join(p, 30));
  FZ_EQ(0, pool_del(p));
  FZ_DONE();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(fuzz_pool_create_args, teardown),
    cmocka_unit_test_teardown(fuzz_pool_null_pool, teardown),
    cmocka_unit_test_teardown(fuzz_pool_bad_args, teardown),
    cmocka_unit_test_teardown(fuzz_async_null, teardown),
    cmocka_unit_test_teardown(fuzz_async_states, teardown),
    cmocka_unit_test_teardown(fuzz_task_messages, teardown),
    cmocka_unit_test_teardown(fuzz_task_context, teardown),
    cmocka_unit_test_teardown(fuzz_imap_args, teardown),
    cmocka_unit_test_teardown(fuzz_imap_pool_closed, teardown),
    cmocka_unit_test_teardown(fuzz_imap_pool_terminated, teardown),
    cmocka_unit_test_teardown(fuzz_pool_states, teardown),
    cmocka_unit_test_teardown(fuzz_pool_join_sleeps, teardown),
    cmocka_unit_test_teardown(fuzz_pool_terminate_two_jobs, teardown),
    cmocka_unit_test_teardown(fuzz_pool_states_auto_chunk_after_join, teardown),
    cmocka_unit_test_teardown(fuzz_pool_empty_map, teardown),
    cmocka_unit_test_teardown(fuzz_pool_huge_counts, teardown),
    cmocka_unit_test_teardown(fuzz_pool_apply_null_out, teardown),
    cmocka_unit_test_teardown(fuzz_imap_outlives_pool, teardown),
    cmocka_unit_test_teardown(fuzz_pool_var, teardown),
};

MPMP_TEST_MAIN(tests)
