/*
 * A task that crashes its worker must not leave the job hanging: the job
 * ends at once, and the report names the task, the item and the rank.
 * ctest (and tests/mpi/test_crash.sh) check the output and the time.
 *
 *   test_crash [MODE]
 *     segv          item 5 of a map raises SIGSEGV (the default)
 *     abort         item 5 calls abort()
 *     trap          item 5 raises SIGTRAP (a breakpoint)
 *     assert        item 5 fails an assert()
 *     exit          item 5 calls exit(3)
 *     exit0         item 5 calls exit(0)
 *     heap          an apply writes far past its result and
 *                   then mallocs: the heap is corrupt, and glibc aborts
 *                   inside malloc
 *     exit-process  a Process body calls exit(3)
 *     abort-process a Process body calls abort()
 *     finalize      a Process body aborts after 0.5 s, while the main
 *                   rank already waits for it in mpmp_finalize()
 *     nested        item 6 of a map submits a sub-task, which raises
 *                   SIGSEGV in the same worker (an executor of one
 *                   worker runs it while item 6 waits): the report names
 *                   the sub-task and its own item 0, not the map's item
 */
#undef NDEBUG /* the assert mode needs assert() */
#include <assert.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpitest.h"

static int crash_on_5(mpmp_ctx_t *ctx) {
  const int64_t *x = mpmp_arg(ctx, NULL);
  if (*x == 5)
    raise(SIGSEGV); /* what a NULL dereference would do, without UB */
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = *x;
  return 0;
}
MPMP_TASK(crash_on_5);

static int trap_on_5(mpmp_ctx_t *ctx) {
  const int64_t *x = mpmp_arg(ctx, NULL);
  if (*x == 5)
    raise(SIGTRAP); /* a breakpoint left in the code */
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = *x;
  return 0;
}
MPMP_TASK(trap_on_5);

static int abort_on_5(mpmp_ctx_t *ctx) {
  const int64_t *x = mpmp_arg(ctx, NULL);
  if (*x == 5)
    abort();
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = *x;
  return 0;
}
MPMP_TASK(abort_on_5);

static int assert_on_5(mpmp_ctx_t *ctx) {
  const int64_t *x = mpmp_arg(ctx, NULL);
  assert(*x != 5);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = *x;
  return 0;
}
MPMP_TASK(assert_on_5);

static int exit_on_5(mpmp_ctx_t *ctx) {
  const int64_t *x = mpmp_arg(ctx, NULL);
  if (*x == 5)
    exit(3);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = *x;
  return 0;
}
MPMP_TASK(exit_on_5);

static int exit0_on_5(mpmp_ctx_t *ctx) {
  const int64_t *x = mpmp_arg(ctx, NULL);
  if (*x == 5)
    exit(0);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = *x;
  return 0;
}
MPMP_TASK(exit0_on_5);

/* The bug a C programmer makes: the result buffer is smaller than what is
 * written to it. Past it lie the headers of other chunks of the malloc
 * heap; growing the result (a realloc) and the mallocs and frees that
 * follow find them broken, and glibc aborts while it holds the arena's
 * lock. */
static int smash_heap_on_5(mpmp_ctx_t *ctx) {
  const int64_t *x = mpmp_arg(ctx, NULL);
  char *out = mpmp_out(ctx, sizeof(int64_t));
  if (*x == 5) {
    volatile char *p = out;
    for (size_t k = 0; k < 2048; k++)
      p[k] = (char)(0xA5 ^ k);
    mpmp_out(ctx, 4096);
    for (int i = 0; i < 1000; i++) {
      void *a = malloc(24 + (size_t)i % 300), *b = malloc(4000 + (size_t)i * 64);
      free(a);
      free(b);
    }
    raise(SIGKILL); /* the heap held up: do not leave a silent success */
  }
  *(int64_t *)out = *x;
  return 0;
}
MPMP_TASK(smash_heap_on_5);

/* A chunk task is one call for its chunk's items: its crash names them
 * all (it named the chunk's first item as if it were the one). */
static int crash_chunk_on_5(mpmp_ctx_t *ctx, const void *in, void *out,
                            size_t count) {
  const int64_t *x = in;
  (void)ctx;
  for (size_t i = 0; i < count; i++) {
    if (x[i] == 5)
      abort(); /* (not a SIGSEGV: the sanitizer builds run it as is) */
    ((int64_t *)out)[i] = x[i];
  }
  return 0;
}
MPMP_CHUNK_TASK(crash_chunk_on_5);

static int body_abort_later(mpmp_ctx_t *ctx) {
  (void)ctx;
  test_sleep(0.5);
  abort();
}
MPMP_TASK(body_abort_later);

static int body_exit(mpmp_ctx_t *ctx) {
  (void)ctx;
  exit(3);
}
MPMP_TASK(body_exit);

static int body_abort(mpmp_ctx_t *ctx) {
  (void)ctx;
  abort();
}
MPMP_TASK(body_abort);

/* A pool's initializer runs as a process on each worker: its crash names
 * it as the pool's initializer, not as some process body. */
static int init_abort(mpmp_ctx_t *ctx) {
  (void)ctx;
  abort();
}
MPMP_TASK(init_abort);

/* nested: the sub-task crashes; the map's item 6 submits it through the
 * executor's ref and waits for it. */
static int sub_crash(mpmp_ctx_t *ctx) {
  (void)ctx;
  raise(SIGSEGV);
  return 0;
}
MPMP_TASK(sub_crash);

typedef struct {
  mpmp_executor_ref_t ref;
  int64_t x;
} nest_item_t;

static int submit_on_6(mpmp_ctx_t *ctx) {
  const nest_item_t *it = mpmp_arg(ctx, NULL);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = it->x;
  if (it->x != 6)
    return 0;
  mpmp_executor_t *ex;
  mpmp_future_t *f;
  const void *res;
  size_t size;
  if (mpmp_executor_attach(&ex, it->ref) < 0 ||
      mpmp_executor_submit(ex, sub_crash, NULL, 0, &f) < 0)
    return mpmp_fail(ctx, "%s", mpmp_errmsg());
  mpmp_future_result(f, MPMP_FOREVER, &res, &size);
  return mpmp_fail(ctx, "the sub-task returned");
}
MPMP_TASK(submit_on_6);

static void run_nested(void) {
  nest_item_t x[10];
  int64_t r[10];
  mpmp_executor_t *ex;
  mpmp_executor_opts_t o = {.max_workers = 1,
                            .isolate = MPMP_ISOLATE_NEVER};
  if (mpmp_executor_create(&ex, &o) < 0)
    return;
  for (int i = 0; i < 10; i++) {
    mpmp_executor_ref(ex, &x[i].ref);
    x[i].x = i;
  }
  /* chunks of 4: item 6 is the third of its chunk */
  mpmp_executor_map(ex, submit_on_6, x, 10, sizeof *x, r, sizeof *r, 4, 60);
}

/* imap's items: 0 to 9 */
static int count_to_10(void *user, void *item) {
  int64_t *next = user;
  if (*next >= 10)
    return 0;
  memcpy(item, next, sizeof *next);
  ++*next;
  return 1;
}

static mpmp_task_fn map_task(const char *mode) {
  static const struct {
    const char *mode;
    mpmp_task_fn fn;
  } modes[] = {{"segv", crash_on_5},     {"abort", abort_on_5},
               {"trap", trap_on_5},
               {"assert", assert_on_5},  {"exit", exit_on_5},
               {"exit0", exit0_on_5},
               {"heap", smash_heap_on_5}};
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
    if (!strcmp(mode, modes[i].mode))
      return modes[i].fn;
  return NULL;
}

/* A body in its worker rank, not in a task host (the default): its crash
 * is the worker's, which this test is about. */
static const mpmp_process_opts_t in_rank = {.isolate = MPMP_ISOLATE_NEVER};

static int run_process(mpmp_task_fn fn) {
  mpmp_process_t *p = NULL;
  if (mpmp_process_create(&p, fn, NULL, 0, &in_rank) < 0 ||
      mpmp_process_start(p) < 0)
    return 1;
  mpmp_process_join(p, MPMP_FOREVER);
  return 0;
}

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  if (rc < 0)
    return 1;
  const char *mode = argc > 1 ? argv[1] : "segv";
  if (!strcmp(mode, "exit-process") || !strcmp(mode, "abort-process")) {
    run_process(mode[0] == 'e' ? body_exit : body_abort);
    printf("crash: not reached\n"); /* the job is gone before this */
    return 1;
  }
  if (!strcmp(mode, "init")) {
    mpmp_pool_t *pool;
    mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_NEVER,
                          .initializer = init_abort};
    mpmp_pool_create(&pool, &o);
    printf("crash: not reached\n");
    return 1;
  }
  if (!strcmp(mode, "finalize")) {
    mpmp_process_t *p = NULL;
    if (mpmp_process_create(&p, body_abort_later, NULL, 0, &in_rank) < 0 ||
        mpmp_process_start(p) < 0)
      return 1;
    mpmp_finalize(); /* joins the body, which dies meanwhile */
    printf("crash: not reached\n");
    return 1;
  }
  if (!strcmp(mode, "nested")) {
    run_nested();
    printf("crash: not reached\n");
    return 1;
  }
  if (!strcmp(mode, "chunk")) { /* chunks of 4: items 4 to 7 */
    int64_t x[10], r[10];
    for (int i = 0; i < 10; i++)
      x[i] = i;
    mpmp_pool_t *pool;
    mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_NEVER};
    mpmp_pool_create(&pool, &o);
    mpmp_pool_map_chunks(pool, crash_chunk_on_5, x, 10, sizeof *x, r,
                         sizeof *r, 4);
    printf("crash: not reached\n");
    return 1;
  }
  if (!strcmp(mode, "imap")) {
    /* chunks of 4: item 5 is the second of the second sub-map, whose
     * items the worker counts from 0 */
    int64_t next = 0, r;
    mpmp_pool_t *pool;
    mpmp_imap_t *it;
    mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_NEVER};
    if (mpmp_pool_create(&pool, &o) < 0 ||
        mpmp_pool_imap(pool, crash_on_5, count_to_10, &next, sizeof next,
                       sizeof r, 4, 0, &it) < 0)
      return 1;
    while (mpmp_imap_next(it, &r, NULL, 60) == 0)
      ;
    printf("crash: not reached\n");
    return 1;
  }
  if (!strcmp(mode, "zc")) {
    /* a zero-copy map's per-item loop (chunks of 4): the report names
     * item 5, the second of its chunk */
    mpmp_shm_t *in = NULL, *out = NULL;
    mpmp_pool_t *pool;
    mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_NEVER};
    if (mpmp_shm_create(&in, NULL, 10 * sizeof(int64_t)) < 0 ||
        mpmp_shm_create(&out, NULL, 10 * sizeof(int64_t)) < 0 ||
        mpmp_pool_create(&pool, &o) < 0)
      return 1;
    int64_t *x = mpmp_shm_buf(in);
    for (int i = 0; i < 10; i++)
      x[i] = i;
    mpmp_pool_map_shm(pool, crash_on_5, NULL, in, 0, 10, sizeof(int64_t),
                      out, 0, sizeof(int64_t), 4);
    printf("crash: not reached\n");
    return 1;
  }
  mpmp_task_fn fn = map_task(mode);
  if (fn == NULL) {
    fprintf(stderr, "test_crash: unknown mode '%s'\n", mode);
    mpmp_finalize();
    return 2;
  }
  int64_t x[10], r[10];
  for (int i = 0; i < 10; i++)
    x[i] = i;
  mpmp_pool_t *pool;
  mpmp_pool_create(&pool, NULL);
  if (!strcmp(mode, "heap")) { /* an apply's result is a malloc chunk */
    int64_t five = 5;
    mpmp_pool_apply(pool, fn, &five, sizeof five, r, sizeof *r, NULL);
    printf("crash: not reached\n");
    return 1;
  }
  /* chunks of 4: item 5 is the second of its chunk, and the report must
   * still name item 5, not the chunk's first item */
  mpmp_pool_map(pool, fn, x, 10, sizeof *x, r, sizeof *r, 4);
  printf("crash: not reached\n"); /* the job is gone before this */
  mpmp_pool_destroy(pool);
  mpmp_finalize();
  return 1;
}
