/* Error codes, their names and texts, and the thread-local detail message. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

/* All MPI error codes become MPMP_EMPI here, with MPI's own words. */
int mpmp__mpi_err(int mpi_rc, const char *what) {
  char text[MPI_MAX_ERROR_STRING] = "";
  int len = 0;
  if (MPI_Error_string(mpi_rc, text, &len) != MPI_SUCCESS)
    snprintf(text, sizeof text, "MPI error %d", mpi_rc);
  return mpmp__err(MPMP_EMPI, "%s failed: %s", what, text);
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
