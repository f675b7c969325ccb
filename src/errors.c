/* Error codes, their names and texts, and the thread-local detail message. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* The detail of the last error in this thread (not runtime state: each
 * thread sees its own, as errno). */
static _Thread_local char mpmp__errbuf[1024];

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

MPMP_API const char *mpmp_errmsg(void) { return mpmp__errbuf; }

int mpmp__verr(int code, const char *fmt, va_list ap) {
  vsnprintf(mpmp__errbuf, sizeof mpmp__errbuf, fmt, ap);
  return code;
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
  MPI_Abort(MPI_COMM_WORLD, 1);
  _exit(1); /* MPI_Abort does not return; if it ever did, still end */
}

void mpmp__log(const char *level, const char *fmt, ...) {
  char line[1200];
  int n = snprintf(line, sizeof line, "[%04d] %s: ", mpmp__rt.rank, level);
  va_list ap;
  va_start(ap, fmt);
  if (n > 0 && (size_t)n < sizeof line)
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  /* One write per line so that lines of different ranks don't interleave. */
  fprintf(stderr, "%s\n", line);
}
