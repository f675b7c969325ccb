/**
 * \file mpmp/common.h
 * \brief Export macro and the error codes shared by every mpmp call.
 *
 * Every mpmp call returns `int`: 0 (or a documented non-negative value) on
 * success, or a negative `MPMP_E*` code. `mpmp_strerror()` names the code in
 * words, `mpmp_err_name()` as an identifier, and `mpmp_errmsg()` gives the
 * detail of the last error raised in the calling thread (which task, which
 * rank, which setting, and how to fix it).
 */
#ifndef MPMP_COMMON_H
#define MPMP_COMMON_H

#include <errno.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MPMP_API __attribute__((visibility("default")))
#define MPMP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MPMP_API
#define MPMP_PRINTF(f, a)
#endif

/*
 * The one list of error codes: XX(name, value, message). It expands into the
 * enum below and into mpmp_strerror()/mpmp_err_name(). errno values are
 * reused where the meaning is the same; mpmp's own codes live below -3000.
 */
#define MPMP_ERRNO_MAP(XX)                                                   \
  XX(EINVAL, -EINVAL, "invalid argument")                                    \
  XX(ENOMEM, -ENOMEM, "out of memory")                                       \
  XX(ETIMEDOUT, -ETIMEDOUT, "timed out")                                     \
  XX(EBADF, -EBADF, "bad, stale or freed handle")                            \
  XX(EAGAIN, -EAGAIN, "not ready yet")                                       \
  XX(EBUSY, -EBUSY, "no free worker rank")                                   \
  XX(EPERM, -EPERM, "operation not permitted in this state")                 \
  XX(ENOTSUP, -ENOTSUP, "operation not supported")                           \
  XX(EMSGSIZE, -EMSGSIZE, "buffer too small or message too large")          \
  XX(ENOSPC, -ENOSPC, "shared heap exhausted")                               \
  XX(EPIPE, -EPIPE, "closed")                                                \
  XX(ECANCELED, -ECANCELED, "cancelled")                                     \
  XX(ENOTINIT, -3001, "mpmp is not initialized (or already finalized)")      \
  XX(EALREADY, -3002, "mpmp is already initialized")                         \
  XX(ENOTASK, -3003, "function is not a registered task")                    \
  XX(ETASK, -3004, "the task failed")                                        \
  XX(EMISMATCH, -3005, "ranks disagree (different binaries?)")               \
  XX(EMPI, -3006, "an MPI call failed")                                      \
  XX(ENOTMAIN, -3007, "only the main rank (rank 0) may do this")             \
  XX(EENV, -3008, "bad value in an MPMP_* environment variable")             \
  XX(ETOPO, -3009, "hwloc topology or binding failed")                       \
  XX(EEOF, -3010, "end of file")                                             \
  XX(EBROKEN, -3011, "broken (aborted or timed out) barrier")                \
  XX(EDEAD, -3012, "the rank serving this object is gone")                  \
  XX(ECRASHED, -3013, "the task's host process died (a crash, abort, exit "  \
     "or kill)")                                                             \
  XX(EOWNERDEAD, -3014, "the lock's owner died while holding it; the lock "  \
     "is now yours")                                                         \
  XX(ECHECKPOINT, -3015, "the checkpoint journal cannot be used (another "   \
     "program's or input's, or its directory cannot be written)")            \
  XX(EINTERRUPTED, -3253, "the map was stopped before its end (walltime, "   \
     "SIGUSR1 or SIGTERM); its finished items are in the checkpoint")

/**
 * The exit status of a program whose main() returns ::MPMP_EINTERRUPTED
 * (-3253 is 75 modulo 256: sysexits.h's EX_TEMPFAIL, "try again later").
 * A batch script tests it to resubmit the job (scripts/slurm.sbatch).
 */
#define MPMP_EXIT_INTERRUPTED 75

typedef enum {
#define MPMP__ERR_ENUM(name, value, msg) MPMP_##name = (value),
  MPMP_ERRNO_MAP(MPMP__ERR_ENUM)
#undef MPMP__ERR_ENUM
  MPMP_OK = 0
} mpmp_errno_t;

/** \return a sentence that describes \p err ("timed out"). */
MPMP_API const char *mpmp_strerror(int err);
/** \return the code's identifier ("MPMP_ETIMEDOUT"). */
MPMP_API const char *mpmp_err_name(int err);
/**
 * \return the detail of the last error raised in this thread: what exactly
 * went wrong and how to fix it. Empty string when there was none.
 * \note The string is thread-local and valid until the next failing call
 * in this thread (or the thread's end). It is whole up to 16 MiB (a task's
 * failure message can be that long); a longer one is cut there and ends
 * with "... [cut: N bytes in all]" (N: its whole length).
 */
MPMP_API const char *mpmp_errmsg(void);
/**
 * Empty the calling thread's detail message (as `errno = 0` does), so
 * that a later look shows whether a call since has set one.
 */
MPMP_API void mpmp_errmsg_clear(void);

/**
 * Wait forever (any negative timeout does the same). Every call that takes
 * a timeout in seconds reads it the same way: negative waits forever, 0
 * tries once without blocking, a positive value waits at most that long,
 * and a NaN is refused with ::MPMP_EINVAL before anything is done.
 */
#define MPMP_FOREVER (-1.0)

#ifdef __cplusplus
}
#endif
#endif /* MPMP_COMMON_H */
