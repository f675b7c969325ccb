/* Error codes, their names and texts, and the thread-local detail message. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <string.h>
#include <unistd.h>

#include <pthread.h>

#include "base.h"

/*
 * The detail of the last error in this thread (not runtime state: each
 * thread sees its own, as errno). Most messages are short and live in one
 * of two small buffers of the thread; a longer one (a task's failure can
 * be megabytes, and it reaches the caller through here) goes to the heap,
 * and a pthread key frees that when the thread ends. The small buffers are
 * used in turn because a message is often made from the one before
 * (mpmp__err(rc, "%s: %s", fn, mpmp_errmsg())): the new one must not be
 * written over the text it is read from. For the same reason a heap
 * message is freed only after the next one is formatted.
 */
#define SMALL 1024
static _Thread_local char err_small[2][SMALL];
static _Thread_local int err_turn;
static _Thread_local char *err_heap;    /* the thread's heap message */
static _Thread_local const char *err_cur; /* what mpmp_errmsg() returns */
static _Thread_local uint64_t err_seq;    /* messages set so far */
static _Thread_local uintptr_t err_freed; /* the heap message the last one
                                             freed (since the last mark) */
static pthread_key_t err_key;
static pthread_once_t err_once = PTHREAD_ONCE_INIT;
static int err_key_ok;

static void err_key_create(void) {
  err_key_ok = pthread_key_create(&err_key, mpmp__free) == 0;
}

MPMP_API const char *mpmp_strerror(int err) {
  switch (err) {
#define MPMP__STRERROR(name, value, msg) \
  case MPMP_##name:                      \
    return msg;
    MPMP_ERRNO_MAP(MPMP__STRERROR)
#undef MPMP__STRERROR
  case 0:
    return "success";
  default:
    return "unknown error";
  }
}

MPMP_API const char *mpmp_err_name(int err) {
  switch (err) {
#define MPMP__ERRNAME(name, value, msg) \
  case MPMP_##name:                     \
    return "MPMP_" #name;
    MPMP_ERRNO_MAP(MPMP__ERRNAME)
#undef MPMP__ERRNAME
  case 0:
    return "MPMP_OK";
  default:
    return "MPMP_EUNKNOWN";
  }
}

MPMP_API const char *mpmp_errmsg(void) { return err_cur ? err_cur : ""; }

/* (mpmp_errmsg_clear: below, with the serving guard) */

/* End a message cut to its first `kept` bytes (at `p`, which has room for
 * MPMP__CUT_ROOM more) with the visible marker. */
static void mark_cut(char *p, size_t kept, size_t total, int oom) {
  snprintf(p + kept, MPMP__CUT_ROOM, "... [cut: %zu bytes in all%s]", total,
           oom ? "; out of memory" : "");
}

char *mpmp__vformat(const char *fmt, va_list ap, size_t *len) {
  char small[256];
  va_list again;
  va_copy(again, ap);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  char *p = NULL;
  if (n < 0) { /* an encoding error: say so rather than lose the message */
    p = mpmp__strdup("(the message could not be formatted: a wide "
                     "character that this locale cannot encode)");
  } else if ((size_t)n < sizeof small) {
    p = mpmp__strdup(small);
  } else {
    size_t total = (size_t)n, max = MPMP__MSG_MAX - MPMP__WRAP_ROOM,
           kept = total < max ? total : max;
    /* Out of memory: keep what fits, halving down to a few KiB. */
    while ((p = mpmp__malloc(kept + MPMP__CUT_ROOM)) == NULL && kept > 4096)
      kept /= 2;
    if (p != NULL) {
      vsnprintf(p, kept + 1, fmt, again);
      if (kept < total)
        mark_cut(p, kept, total, kept < max);
    }
  }
  va_end(again);
  if (p != NULL && len != NULL)
    *len = strlen(p);
  return p;
}

/* A message longer than the small buffers (vsnprintf said `n` bytes in
 * all): format it again on the heap. 0 when it is there; -1 out of
 * memory. */
static int verr_heap(size_t n, const char *fmt, va_list ap) {
  size_t kept = n < MPMP__MSG_MAX ? n : MPMP__MSG_MAX;
  pthread_once(&err_once, err_key_create);
  char *p = err_key_ok ? mpmp__malloc(kept + MPMP__CUT_ROOM) : NULL;
  if (p == NULL)
    return -1;
  vsnprintf(p, kept + 1, fmt, ap);
  if (kept < n)
    mark_cut(p, kept, n, 0);
  /* The arguments may have pointed into the old one: free it only now.
   * Otherwise it stays until the next long message or the thread's end
   * (one buffer per thread at most). */
  err_freed = (uintptr_t)err_heap;
  mpmp__free(err_heap);
  err_heap = p;
  err_cur = p;
  pthread_setspecific(err_key, p);
  return 0;
}

mpmp__errmark_t mpmp__err_mark(void) {
  err_freed = 0;
  return (mpmp__errmark_t){err_cur, err_seq};
}

void mpmp__err_restore(mpmp__errmark_t m) {
  if (err_seq == m.seq)
    return;
  /* One message since: it went to the other small buffer or to a new heap
   * one, and the marked text is intact unless that freed it. Else the text
   * is gone: none rather than a wrong one. */
  err_cur = err_seq == m.seq + 1 && (m.cur == NULL || (uintptr_t)m.cur !=
                                                          err_freed)
                ? m.cur
                : NULL;
}

/* While this thread serves a message (mpmp__dispatch: another rank's
 * request, a reply, a done-callback), the messages that serving sets are
 * not the thread's caller's: the caller's own is kept aside at the first
 * one (a copy: it costs nothing where nothing fails) and put back when
 * the serving ends. A successful call that happened to serve another
 * rank's failed request left that request's message, and a failed call's
 * message was wiped by the requests served after it. */
/* (initial-exec: one instruction each, as every message served reads
 * them; object.c says why that model is safe for libmpmp) */
static _Thread_local int err_guard
    __attribute__((tls_model("initial-exec"))); /* serving depth */
static _Thread_local int err_kept
    __attribute__((tls_model("initial-exec"))); /* the caller's message is
                                                   aside */
static _Thread_local char *err_keep;  /* its copy (NULL: none, or OOM) */
static _Thread_local uint64_t err_keep_seq; /* err_seq then */

void mpmp__err_guard_begin(void) {
  if (err_guard++ == 0)
    err_kept = 0;
}

/* The caller's message back, as its heap message, and the count of
 * messages as it was: to the caller (and to a mark it took,
 * mpmp__err_restore) nothing was set meanwhile. */
void mpmp__err_guard_end(void) {
  if (--err_guard > 0 || !err_kept)
    return;
  err_kept = 0;
  char *k = err_keep;
  err_keep = NULL;
  err_seq = err_keep_seq;
  err_cur = k;
  if (k == NULL)
    return;
  mpmp__free(err_heap);
  err_heap = k;
  pthread_setspecific(err_key, k);
}

static void err_keep_callers(void) {
  if (err_guard > 0 && !err_kept) {
    err_kept = 1;
    err_keep_seq = err_seq;
    pthread_once(&err_once, err_key_create);
    err_keep = err_cur != NULL && err_key_ok ? mpmp__strdup(err_cur) : NULL;
  }
}

MPMP_API void mpmp_errmsg_clear(void) {
  err_keep_callers();
  err_cur = NULL;
}

int mpmp__verr(int code, const char *fmt, va_list ap) {
  err_keep_callers();
  char *buf = err_small[err_turn];
  err_seq++;
  va_list again;
  va_copy(again, ap);
  int n = vsnprintf(buf, SMALL, fmt, ap);
  if (n < 0)
    snprintf(buf, SMALL, "(the message could not be formatted: a wide "
             "character that this locale cannot encode)");
  if (n < SMALL || verr_heap((size_t)n, fmt, again) < 0) {
    if (n >= SMALL) /* out of memory: keep the beginning, mark the rest */
      mark_cut(buf, SMALL - MPMP__CUT_ROOM, (size_t)n, 1);
    err_cur = buf;
    err_turn ^= 1;
  }
  va_end(again);
  return code;
}

int mpmp__err_as(int rc, const char *from, const char *to) {
  const char *m = mpmp_errmsg();
  size_t n = strlen(from);
  /* (the new message is formatted into the other buffer, or a new heap
   * one before the old goes: reading the old one meanwhile is safe) */
  if (rc < 0 && strncmp(m, from, n) == 0 && m[n] == ':')
    mpmp__err(rc, "%s%s", to, m + n);
  return rc;
}

int mpmp__err(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  mpmp__verr(code, fmt, ap);
  va_end(ap);
  return code;
}

/*
 * MPI errors. mpmp's communicators and window return errors instead of
 * ending the job (MPI_ERRORS_RETURN, set at init), and every MPI call of
 * mpmp checks its result: where a caller can be told, the error becomes
 * MPMP_EMPI here, with MPI's own words; where nobody can be (the progress
 * engine, a handler: a message would be lost and someone would wait for
 * it for ever), mpmp__mpi_fatal() says what failed and ends the job.
 */
static void mpi_text(int mpi_rc, char *text, size_t n) {
  char s[MPI_MAX_ERROR_STRING] = "";
  int len = 0, cls = -1;
  if (MPI_Error_string(mpi_rc, s, &len) != MPI_SUCCESS || len <= 0)
    snprintf(s, sizeof s, "unknown MPI error");
  MPI_Error_class(mpi_rc, &cls);
  snprintf(text, n, "%s (MPI error %d, class %d)", s, mpi_rc, cls);
}

int mpmp__mpi_err(int mpi_rc, const char *what) {
  char text[MPI_MAX_ERROR_STRING + 64];
  mpi_text(mpi_rc, text, sizeof text);
  return mpmp__err(MPMP_EMPI, "%s failed: %s; the MPI library or the network "
                   "failed under mpmp: its own messages above say more",
                   what, text);
}

_Noreturn void mpmp__mpi_fatal(int mpi_rc, const char *what) {
  char text[MPI_MAX_ERROR_STRING + 64];
  mpi_text(mpi_rc, text, sizeof text);
  MPMP__ERROR("%s failed: %s: a message between ranks is lost, so the job "
              "cannot go on and ends now", what, text);
  mpmp__abort_job();
}

_Noreturn void mpmp__abort_job(void) {
  fflush(stdout);
  fflush(stderr);
  struct timespec pause = {0, 200 * 1000 * 1000};
  nanosleep(&pause, NULL);
  MPI_Abort(MPI_COMM_WORLD, 1);
  _exit(1); /* MPI_Abort does not return; if it ever did, still end */
}

/* Written once by the runtime's init, before its threads start. */
static int log_rank;

void mpmp__log_set_rank(int rank) { log_rank = rank; }

void mpmp__log(const char *level, const char *fmt, ...) {
  char line[1200];
  int n = snprintf(line, sizeof line, "[%04d] %s: ", log_rank, level);
  va_list ap;
  va_start(ap, fmt);
  if (n > 0 && (size_t)n < sizeof line) {
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    if (m > 0 && (size_t)n + (size_t)m >= sizeof line) /* say it is cut */
      mark_cut(line, sizeof line - MPMP__CUT_ROOM, (size_t)n + (size_t)m, 0);
  }
  va_end(ap);
  /* One write per line so that lines of different ranks don't interleave. */
  fprintf(stderr, "%s\n", line);
}
