/*
 * Helpers of the fuzz tests (tests/mpi/test_fuzz_*.c): every public call
 * with NULL pointers, zero, huge and negative sizes, odd timeouts, garbage
 * handles and calls in the wrong state.
 *
 * Checks are "soft": a broken contract is written down (file, line, the
 * call, what came back) and the test goes on, so that one run lists every
 * violation of a group instead of stopping at the first. FZ_DONE() at the
 * end of a CMocka test fails it if anything was written down. The same
 * checks run inside process bodies on worker ranks (where CMocka cannot
 * report): there the notes are collected and sent back to the main rank as
 * the body's result, which fz_take_remote() turns into notes of its own.
 *
 * Hangs and crashes must not hide which call caused them: every checked
 * call runs under a watchdog (SIGALRM after FZ_WATCH_S seconds names the
 * call and aborts the job), and a crash handler names the call before the
 * signal goes on to the handler it replaced (the sanitizer's report, or
 * the library's crash report on worker ranks).
 */
#ifndef MPMP_FUZZ_H
#define MPMP_FUZZ_H

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mpitest.h"

/* Seconds one call may take before it counts as a hang. Every blocking
 * call of the fuzz tests either is ready at once or has a timeout of at
 * most a few seconds, so this is far beyond any correct answer, even on a
 * loaded machine. */
#define FZ_WATCH_S 45

/* ---- where we are: the watchdog and the crash note ----------------------- */

static const char *volatile fz_call = "(no call yet)";
static const char *volatile fz_file = "";
static volatile int fz_line;

static inline void fz_write(const char *s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = write(STDERR_FILENO, s, n);
    if (w <= 0)
      return;
    s += w;
    n -= (size_t)w;
  }
}

static inline void fz_write_int(long v) {
  char buf[24], *p = buf + sizeof buf - 1;
  int neg = v < 0;
  unsigned long u = neg ? 0ul - (unsigned long)v : (unsigned long)v;
  *p = '\0';
  do
    *--p = (char)('0' + u % 10);
  while ((u /= 10) != 0);
  if (neg)
    *--p = '-';
  fz_write(p);
}

/* Async-signal-safe: only write(2). */
static inline void fz_write_where(const char *what, int sig) {
  fz_write("\nFUZZ ");
  fz_write(what);
  if (sig) {
    fz_write(" (signal ");
    fz_write_int(sig);
    fz_write(")");
  }
  fz_write(" in ");
  fz_write(fz_call);
  fz_write(" at ");
  fz_write(fz_file);
  fz_write(":");
  fz_write_int(fz_line);
  fz_write("\n");
}

static inline void fz_on_alarm(int sig) {
  (void)sig;
  fz_write_where("HANG: no answer within the watchdog's time", 0);
  signal(SIGABRT, SIG_DFL);
  abort();
}

static struct sigaction fz_old[NSIG];
static const int fz_crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};

/* Name the call, put the old handler back and return: the faulting
 * instruction runs again and the old handler reports it as it would have. */
static inline void fz_on_crash(int sig) {
  fz_write_where("CRASH", sig);
  sigaction(sig, &fz_old[sig], NULL);
}

/* Put our crash handler in front, again before every call: CMocka puts its
 * own in at the start of each test (it turns a crash into a failed test
 * and goes on with the next), and ours then runs first and hands over. */
static inline void fz_install(void) {
  static int alarm_set;
  for (size_t i = 0; i < sizeof fz_crash_signals / sizeof(int); i++) {
    int sig = fz_crash_signals[i];
    struct sigaction cur, sa;
    sigaction(sig, NULL, &cur);
    if (cur.sa_handler == fz_on_crash)
      continue;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fz_on_crash;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_NODEFER;
    sigaction(sig, &sa, &fz_old[sig]);
  }
  if (!alarm_set) {
    signal(SIGALRM, fz_on_alarm);
    alarm_set = 1;
  }
}

/* Before a checked call: note it, arm the watchdog, and clear the thread's
 * error message, so that a refusal must bring a message of its own. */
static inline void fz_enter(const char *call, const char *file, int line) {
  fz_install();
  fz_call = call;
  fz_file = file;
  fz_line = line;
  mpmp_errmsg_clear();
  alarm(FZ_WATCH_S);
}

static inline void fz_leave(void) { alarm(0); }

/* ---- soft checks ------------------------------------------------------------ */

#define FZ_LOG_MAX (48 * 1024)
static char fz_log[FZ_LOG_MAX];
static size_t fz_log_len;
static int fz_nfail;

static inline void fz_note(const char *file, int line, const char *fmt, ...)
    MPMP_PRINTF(3, 4);
static inline void fz_note(const char *file, int line, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  const char *base = strrchr(file, '/');
  int n = snprintf(fz_log + fz_log_len, FZ_LOG_MAX - fz_log_len,
                   "FUZZ FAIL %s:%d: %s\n", base ? base + 1 : file, line, msg);
  if (n > 0 && fz_log_len + (size_t)n < FZ_LOG_MAX)
    fz_log_len += (size_t)n;
  fz_nfail++;
}

/* A return value in words: the code's name, or the number. */
/* Append text to the notes as it is (notes that came from a worker). */
static inline void fz_log_add(const char *text) {
  size_t n = strlen(text);
  if (n > FZ_LOG_MAX - 1 - fz_log_len)
    n = FZ_LOG_MAX - 1 - fz_log_len;
  memcpy(fz_log + fz_log_len, text, n);
  fz_log_len += n;
  fz_log[fz_log_len] = '\0';
}

static inline const char *fz_code(long rc, char *buf, size_t n) {
  if (rc < 0 && rc >= INT32_MIN &&
      strcmp(mpmp_err_name((int)rc), "MPMP_EUNKNOWN") != 0)
    return mpmp_err_name((int)rc);
  snprintf(buf, n, "%ld", rc);
  return buf;
}

/*
 * A refused call: rc must be negative, a known MPMP_E* code, `c1` or `c2`
 * when given (0: any), and come with a message.
 */
static inline void fz_refused(const char *call, int rc, int c1, int c2,
                       const char *file, int line) {
  const char *msg = mpmp_errmsg();
  if (rc >= 0)
    fz_note(file, line, "%s: succeeded (%d) on nonsense; expected %s", call,
            rc, c1 ? mpmp_err_name(c1) : "an error");
  else if (!strcmp(mpmp_err_name(rc), "MPMP_EUNKNOWN"))
    fz_note(file, line, "%s: returned %d, which is no MPMP_E* code", call, rc);
  else if (c1 != 0 && rc != c1 && rc != c2)
    fz_note(file, line, "%s: returned %s, expected %s%s%s (message: %s)",
            call, mpmp_err_name(rc), mpmp_err_name(c1), c2 != c1 ? " or " : "",
            c2 != c1 ? mpmp_err_name(c2) : "", msg);
  else if (msg[0] == '\0')
    fz_note(file, line, "%s: returned %s without a message (mpmp_errmsg() "
            "is empty)", call, mpmp_err_name(rc));
}

/* `expected` exactly (a state that must hold, or a documented answer). */
static inline void fz_equal(const char *call, long rc, long expected,
                     const char *file, int line) {
  char a[24], b[24];
  if (rc != expected)
    fz_note(file, line, "%s: returned %s, expected %s (message: %s)", call,
            fz_code(rc, a, sizeof a), fz_code(expected, b, sizeof b),
            mpmp_errmsg());
}

/* Call and check. The call text is what the note and the watchdog show. */
#define FZ_CALL(call, rcvar)                                                \
  fz_enter(#call, __FILE__, __LINE__);                                      \
  long rcvar = (long)(call);                                                \
  fz_leave()

/* Refused with `code` (0: any MPMP_E* code, with a message). */
#define FZ_ERR(code, call)                                                  \
  do {                                                                      \
    FZ_CALL(call, rc_);                                                     \
    fz_refused(#call, (int)rc_, (code), (code), __FILE__, __LINE__);        \
  } while (0)
/* Refused with one of two codes. */
#define FZ_ERR2(c1, c2, call)                                               \
  do {                                                                      \
    FZ_CALL(call, rc_);                                                     \
    fz_refused(#call, (int)rc_, (c1), (c2), __FILE__, __LINE__);            \
  } while (0)
/* Returns exactly `expected`. */
#define FZ_EQ(expected, call)                                               \
  do {                                                                      \
    FZ_CALL(call, rc_);                                                     \
    fz_equal(#call, rc_, (long)(expected), __FILE__, __LINE__);             \
  } while (0)
/* Succeeds (any value >= 0). */
#define FZ_OK(call)                                                         \
  do {                                                                      \
    FZ_CALL(call, rc_);                                                     \
    if (rc_ < 0)                                                            \
      fz_note(__FILE__, __LINE__, "%s: failed with %s: %s", #call,          \
              mpmp_err_name((int)rc_), mpmp_errmsg());                      \
  } while (0)
/* Timed out, and says so: a message about anything else (an earlier
 * error, on this or on the home rank) would mislead. */
#define FZ_TIMEOUT(call)                                                    \
  do {                                                                      \
    FZ_CALL(call, rc_);                                                     \
    fz_equal(#call, rc_, MPMP_ETIMEDOUT, __FILE__, __LINE__);               \
    if (rc_ == MPMP_ETIMEDOUT && strstr(mpmp_errmsg(), "time") == NULL)     \
      fz_note(__FILE__, __LINE__, "%s: timed out, but the message is "      \
              "about something else: '%s'", #call, mpmp_errmsg());          \
  } while (0)
/* A condition on plain values (state that must be unchanged, ...). */
#define FZ_TRUE(cond, ...)                                                  \
  do {                                                                      \
    if (!(cond))                                                            \
      fz_note(__FILE__, __LINE__, __VA_ARGS__);                             \
  } while (0)

/* Calls whose label is built at run time (loops over handles and ops). */
static inline void fz_err_at(const char *label, int rc, int code, const char *file,
                      int line) {
  fz_refused(label, rc, code, code, file, line);
}

/* End of a CMocka test: fail it with the notes written since its start. */
static inline void fz_flush(void) {
  if (fz_log_len > 0)
    fprintf(stdout, "%s", fz_log);
  fz_log_len = 0;
  fz_log[0] = '\0';
}

#define FZ_DONE()                                                           \
  do {                                                                      \
    int n_ = fz_nfail;                                                      \
    fz_flush();                                                             \
    fz_nfail = 0;                                                           \
    if (n_ > 0)                                                             \
      fail_msg("%d broken contract(s), listed above (FUZZ FAIL lines)", n_); \
  } while (0)

/* A worker body's notes, as its result: "<count>\n<lines>". */
static inline void fz_send_notes(mpmp_ctx_t *ctx) {
  char head[32];
  int h = snprintf(head, sizeof head, "%d\n", fz_nfail);
  char *out = mpmp_out(ctx, (size_t)h + fz_log_len + 1);
  if (out == NULL)
    return;
  memcpy(out, head, (size_t)h);
  memcpy(out + h, fz_log, fz_log_len + 1);
  fz_log_len = 0;
  fz_nfail = 0;
}

/* Run `fn` with `arg` as a process on a worker rank and take its notes as
 * ours. The body must end with fz_send_notes(). */
static inline void fz_run_remote(mpmp_task_fn fn, const void *arg, size_t size,
                          const char *file, int line) {
  mpmp_process_t *p = NULL;
  mpmp_process_opts_t o = {.max_result = FZ_LOG_MAX + 64};
  const void *data = NULL;
  size_t n = 0;
  int code = -1;
  if (mpmp_process_create(&p, fn, arg, size, &o) < 0 ||
      mpmp_process_start(p) < 0 ||
      mpmp_process_join(p, FZ_WATCH_S * 4) < 0 ||
      mpmp_process_exitcode(p, &code) < 0 || code != 0 ||
      mpmp_process_result(p, &data, &n) < 0 || n == 0) {
    fz_note(file, line, "the remote body %s did not run to its end: %s%s",
            mpmp_task_name(fn), mpmp_errmsg(), mpmp_process_errmsg(p));
  } else {
    const char *text = data;
    int count = atoi(text);
    const char *lines = strchr(text, '\n');
    if (count > 0 && lines != NULL) {
      fz_note(file, line, "%d notes from %s on rank %d follow", count,
              mpmp_task_name(fn), mpmp_process_rank(p));
      fz_nfail--; /* the line above is a heading */
      fz_log_add(lines + 1);
      fz_nfail += count;
    }
  }
  if (p != NULL) {
    mpmp_process_join(p, FZ_WATCH_S);
    mpmp_process_destroy(p);
  }
}

/* ---- generators ------------------------------------------------------------- */

/* splitmix64: small, seedable, and the same sequence everywhere. */
static inline uint64_t fz_rand(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Sizes and counts no buffer can have. */
static const size_t fz_huge[] = {SIZE_MAX, SIZE_MAX / 2, (size_t)-3,
                                 (size_t)(int)-1, (size_t)INT32_MIN};
#define FZ_NHUGE (sizeof fz_huge / sizeof fz_huge[0])

/* Timeouts that are not plain seconds. NaN must be refused (MPMP_EINVAL,
 * nothing changed); the others are legal (inf, -inf, 1e300: wait as long
 * as it takes; -0.0: do not wait). */
static const double fz_odd_timeouts[] = {INFINITY, -INFINITY, -0.0, 1e300};
#define FZ_NODD (sizeof fz_odd_timeouts / sizeof fz_odd_timeouts[0])

/* Garbage shared-object handles: zeros, random bytes, and `valid` with
 * one byte changed (each of its 24 bytes in turn, by a different bit). */
#define FZ_NRANDOM 4
#define FZ_NBAD (1 + FZ_NRANDOM + (int)sizeof(mpmp_ref_t))

static inline mpmp_ref_t fz_bad_ref(const mpmp_ref_t *valid, int k, char *what,
                             size_t n) {
  mpmp_ref_t r;
  if (k == 0) {
    memset(&r, 0, sizeof r);
    snprintf(what, n, "an all-zero handle");
  } else if (k <= FZ_NRANDOM) {
    uint64_t s = 0x5eed0000u + (uint64_t)k;
    unsigned char *p = (unsigned char *)&r;
    for (size_t i = 0; i < sizeof r; i++)
      p[i] = (unsigned char)fz_rand(&s);
    snprintf(what, n, "a handle of random bytes (#%d)", k);
  } else {
    int byte = k - FZ_NRANDOM - 1;
    r = *valid;
    ((unsigned char *)&r)[byte] ^= (unsigned char)(1u << (byte % 8));
    snprintf(what, n, "a valid handle with byte %d flipped", byte);
  }
  return r;
}

/* ---- tasks every fuzz binary has ------------------------------------------ */

/* x -> x * x (int64). */
static int fz_square(mpmp_ctx_t *ctx) {
  size_t n = 0;
  const int64_t *x = mpmp_arg(ctx, &n);
  int64_t v = n >= sizeof *x ? *x : 0;
  int64_t *y = mpmp_out(ctx, sizeof *y);
  if (y != NULL)
    *y = v * v;
  return 0;
}
MPMP_TASK(fz_square);

/* Sleep the argument's milliseconds (int64; none: 200), in small steps,
 * returning early once asked to stop. */
static int fz_nap(mpmp_ctx_t *ctx) {
  size_t n = 0;
  const int64_t *ms = mpmp_arg(ctx, &n);
  int64_t left = n >= sizeof *ms ? *ms : 200;
  for (; left > 0 && !mpmp_should_stop(ctx); left -= 5)
    test_sleep(0.005);
  int64_t *y = mpmp_out(ctx, sizeof *y);
  if (y != NULL)
    *y = 1;
  return 0;
}
MPMP_TASK(fz_nap);

/* Not registered: passing it where a task is expected is MPMP_ENOTASK. */
static inline int fz_not_a_task(mpmp_ctx_t *ctx) {
  (void)ctx;
  return 0;
}

/* CPU seconds of the calling thread: a blocked wait must not spin. */
static inline double fz_thread_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif /* MPMP_FUZZ_H */
