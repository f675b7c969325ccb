/*
 * The harness of every MPI test (mpitest.c holds its functions; every MPI
 * test links it, see tests/CMakeLists.txt):
 *
 * - MPMP_TEST_MAIN: mpmp_init on all ranks, the CMocka group on the main
 *   rank only (workers serve it), mpmp_finalize. A failing group or
 *   finalize makes the job exit non-zero. MPMP_TEST_FILTER=pattern
 *   (CMocka's wildcards) runs only the matching tests: a debugging aid, e.g.
 *     scripts/run-mpi.sh -x MPMP_TEST_FILTER='queue_stress*' -n 4 build/tests/test_queue_stress
 * - checks written once for the main rank and for process bodies (EXPECT
 *   and friends), and their main-rank counterparts (OK, RC, EQ, IN);
 * - processes: start one, join it within a limit, a group of them, and
 *   bodies placed on the main rank's node or on another (pseudo-)node;
 * - a per-test watchdog, time, and a seeded random generator.
 */
#ifndef MPMP_MPITEST_H
#define MPMP_MPITEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <mpmp.h>

/* mpmp_init, saying on stderr why it failed: MPMP_MAIN on the main rank,
 * MPMP_WORKER_DONE on a worker rank whose job has ended, or the error. */
int test_init(int *argc, char ***argv);

#define MPMP_TEST_MAIN(tests)                                            \
  int main(int argc, char **argv) {                                      \
    int rc_ = test_init(&argc, &argv);                                   \
    if (rc_ == MPMP_WORKER_DONE)                                         \
      return 0;                                                          \
    if (rc_ < 0)                                                         \
      return 1;                                                          \
    const char *filter_ = getenv("MPMP_TEST_FILTER");                    \
    if (filter_ != NULL && *filter_ != '\0')                             \
      cmocka_set_test_filter(filter_);                                   \
    int failed_ = cmocka_run_group_tests(tests, NULL, NULL);             \
    int fin_ = mpmp_finalize();                                          \
    if (fin_ < 0)                                                        \
      fprintf(stderr, "mpmp_finalize: %s\n", mpmp_errmsg());             \
    return (failed_ || fin_ < 0) ? 1 : 0;                                \
  }

/* ---- limits ---------------------------------------------------------------- */

#define T_OUT 30.0 /* the limit of blocking calls and joins that must not time out */
#define ERRLEN 700 /* the size of a check's message buffer */
#define MAXW 16    /* the most worker ranks a test uses */

/* ---- time and numbers ------------------------------------------------------ */

double test_now(void);
void test_sleep(double s);
/* Process pid's state letter in /proc/PID/stat ('R', 'S', 'T' stopped,
 * 'Z' ...), or 0 when it is gone. */
char test_proc_state(int pid);

/* This process's rank in the job before mpmp_init() can say it (Open MPI's
 * OMPI_COMM_WORLD_RANK, else PMI_RANK): -1 when started without either. */
int test_world_rank(void);

/* A small seeded generator (splitmix64): the same run every time. */
uint64_t test_rnd(uint64_t *state);

/* Bytes a test can recognize: b[i] = seed * 131 + i * 29 + 7. */
unsigned char test_pattern_byte(unsigned seed, size_t i);
void test_fill_pattern(void *buf, size_t n, unsigned seed);

static inline int imin(int a, int b) { return a < b ? a : b; }

/* ---- checks that run on any rank ------------------------------------------ */

/* A check function takes `char *err` (ERRLEN bytes) and returns 0, or -1
 * with a message there naming rank, node, file and line. The main rank
 * turns -1 into a CMocka failure (MAIN_CHECK, RUN), a process body into
 * mpmp_fail (BODY_CHECK, BODY), so each check is written once for both. */
int test_check_failed(char *err, const char *file, int line,
                      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const char *test_code_name(long long x); /* "MPMP_E..." for x < 0, else "" */

#define EXPECT_FAIL(...)                                                   \
  return test_check_failed(err, __FILE__, __LINE__, __VA_ARGS__)
#define EXPECT(cond)                                                       \
  do {                                                                     \
    if (!(cond))                                                           \
      EXPECT_FAIL("%s is false (last mpmp message: '%s')", #cond,          \
                  mpmp_errmsg());                                          \
  } while (0)
#define EXPECT_RC(call, want)                                              \
  do {                                                                     \
    int rc_ = (call), want_ = (want);                                      \
    if (rc_ != want_)                                                      \
      EXPECT_FAIL("%s returned %d (%s), expected %d (%s); message: '%s'",  \
                  #call, rc_, mpmp_err_name(rc_), want_,                   \
                  mpmp_err_name(want_), mpmp_errmsg());                    \
  } while (0)
#define EXPECT_OK(call) EXPECT_RC(call, 0)
#define EXPECT_MSG(sub) EXPECT(strstr(mpmp_errmsg(), (sub)) != NULL)
#define EXPECT_EQ(a, b)                                                    \
  do {                                                                     \
    long long a_ = (long long)(a), b_ = (long long)(b);                    \
    if (a_ != b_)                                                          \
      EXPECT_FAIL("%s is %lld %s, expected %lld %s (last error: %s)", #a,  \
                  a_, test_code_name(a_), b_, test_code_name(b_),          \
                  mpmp_errmsg());                                          \
  } while (0)
#define EXPECT_IN(x, lo, hi)                                               \
  do {                                                                     \
    double x_ = (x);                                                       \
    if (!(x_ >= (lo) && x_ <= (hi)))                                       \
      EXPECT_FAIL("%s is %.3f, expected %.3f..%.3f", #x, x_, (double)(lo), \
                  (double)(hi));                                           \
  } while (0)

/* On the main rank, inside a CMocka test: expr may use `err`. */
#define MAIN_CHECK(expr)                                                   \
  do {                                                                     \
    char err[ERRLEN] = "";                                                 \
    if ((expr) < 0)                                                        \
      fail_msg("%s", err);                                                 \
  } while (0)
/* Inside a process body. */
#define BODY_CHECK(ctx, expr)                                              \
  do {                                                                     \
    char err[ERRLEN] = "";                                                 \
    if ((expr) < 0)                                                        \
      return mpmp_fail((ctx), "%s", err);                                  \
  } while (0)
/* fn(args..., err) on the main rank / in a body. */
#define RUN(fn, ...) MAIN_CHECK(fn(__VA_ARGS__, err))
#define BODY(ctx, fn, ...) BODY_CHECK(ctx, fn(__VA_ARGS__, err))

/* The n bytes at buf are test_fill_pattern(buf, n, seed)'s. */
int check_pattern(char *err, const void *buf, size_t n, unsigned seed);

/* ---- the same on the main rank only (CMocka) ------------------------------- */

#define OK(call)                                                           \
  do {                                                                     \
    int rc_ = (call);                                                      \
    if (rc_ != 0)                                                          \
      fail_msg("%s: %s: %s", #call, mpmp_err_name(rc_), mpmp_errmsg());    \
  } while (0)
#define RC(call, want)                                                     \
  do {                                                                     \
    int rc_ = (call);                                                      \
    if (rc_ != (want))                                                     \
      fail_msg("%s returned %s, expected %s: %s", #call,                   \
               mpmp_err_name(rc_), mpmp_err_name(want), mpmp_errmsg());    \
  } while (0)
#define HAS_MSG(sub)                                                       \
  do {                                                                     \
    if (strstr(mpmp_errmsg(), (sub)) == NULL)                              \
      fail_msg("message '%s' lacks '%s'", mpmp_errmsg(), (sub));           \
  } while (0)
#define EQ(a, b)                                                           \
  do {                                                                     \
    long long a_ = (long long)(a), b_ = (long long)(b);                    \
    if (a_ != b_)                                                          \
      fail_msg("%s is %lld %s, expected %lld %s (last error: %s)", #a, a_, \
               test_code_name(a_), b_, test_code_name(b_), mpmp_errmsg()); \
  } while (0)
#define IN(x, lo, hi)                                                      \
  do {                                                                     \
    double x_ = (x);                                                       \
    if (!(x_ >= (lo) && x_ <= (hi)))                                       \
      fail_msg("%s is %.3f, expected %.3f..%.3f", #x, x_, (double)(lo),    \
               (double)(hi));                                              \
  } while (0)

/* ---- processes (main rank) ------------------------------------------------- */

/* Create and start a process running fn(arg); fails the test otherwise. */
mpmp_process_t *start_process(mpmp_task_fn fn, const void *arg, size_t n);
/* Join within `secs`; the body must have returned 0, else the test fails
 * with its message. */
void join_ok_within(mpmp_process_t *p, double secs);
void join_ok(mpmp_process_t *p); /* within T_OUT */
void join_destroy_within(mpmp_process_t *p, double secs);
void join_destroy(mpmp_process_t *p); /* within T_OUT */
/* Join within `secs` and return the body's result (its size in *size,
 * unless size is NULL); the process stays until destroyed. */
const void *join_result_within(mpmp_process_t *p, double secs, size_t *size);
/* The worker ranks a test may use: mpmp_worker_count(), at most MAXW. */
int nworkers(void);
/* The job runs with MPMP_ISOLATE=never: no task hosts (isolated pools and
 * processes are refused). */
int test_hosts_off(void);

/* Several bodies at once. */
typedef struct {
  int n;
  mpmp_process_t *p[MAXW];
} group_t;

/* Start n bodies of fn; body i gets args + i * size. */
void group_start(group_t *g, int n, mpmp_task_fn fn, const void *args,
                 size_t size);
/* Join every body (T_OUT each); -1 with the first failure in `first`
 * (ERRLEN bytes). */
int group_join_quiet(group_t *g, char *first);
/* Join every body, then fail with the first one that failed. */
void group_join(group_t *g);
/* Body i's result, which must be `size` bytes. */
const void *group_result(group_t *g, int i, size_t size);
void group_destroy(group_t *g);
/* Run one body of fn and join it. */
void run_one(mpmp_task_fn fn, const void *arg, size_t size);

/* ---- bodies on the main rank's node, or on another ------------------------ */

/* Processes go to any free worker, so a test that needs a body on the main
 * rank's node (or on another) starts bodies until one lands there; the
 * misplaced ones park until unpark() ends them. */
static inline int other_node_exists(void) { return mpmp_node_count() > 1; }

/* The first member of such a body's argument. */
typedef struct {
  int main_node;
  int want_local; /* 1: must run on the main rank's node; 0: on another */
} place_t;

/* In the body: 1 if it is on the wrong node (it has then waited to be
 * terminated, and must return at once), else 0. */
int misplaced(mpmp_ctx_t *ctx, const place_t *w);

typedef struct {
  int n;
  mpmp_process_t *p[MAXW];
} parked_t;

/* Start fn on a worker of the main rank's node (want_local) or of another
 * node; NULL if there is none. `arg` starts with a place_t, filled here. */
mpmp_process_t *start_where(mpmp_task_fn fn, void *arg, size_t size,
                            int want_local, parked_t *pk);
void unpark(parked_t *pk);

/* ---- one shared object of every basic kind --------------------------------- */

/* The handles of one object of each basic kind, for the tests that call
 * every kind the same way (after finalize, before init, freed). */
typedef struct {
  mpmp_value_t v;     /* int64, locked */
  mpmp_value_t vd;    /* double, locked */
  mpmp_array_t a;     /* int32[4], locked */
  mpmp_lock_t l;
  mpmp_sem_t s;       /* value 1 */
  mpmp_event_t e;
  mpmp_cond_t c;      /* with its own RLock */
  mpmp_barrier_t b;   /* 2 parties */
  mpmp_queue_t q;     /* 2 slots of 8 bytes */
  mpmp_conn_t c1, c2; /* a duplex Pipe */
} test_objs_t;

/* Make every one on this rank's node: 0 if all worked, else non-zero. */
int test_objs_make(test_objs_t *o);

/* ---- a watchdog per test --------------------------------------------------- */

/* Every wait in a test is bounded, so a test still running after `secs` is
 * stuck in a call that ignored its timeout: the watchdog ends the job with
 * a message naming the test rather than stall until mpirun's limit. */
void watchdog_start(const char *test, unsigned secs);
void watchdog_stop(void);

#endif /* MPMP_MPITEST_H */
