/*
 * The base layer: errors and log lines, allocation, the clock, settings.
 * Every other layer stands on it; it calls nothing of theirs.
 *
 * The layers of src/, bottom to top (no file calls or includes a layer
 * above its own; scripts/check-layers.sh checks it in CI):
 *   base       errors, alloc, env       — services
 *   topo       topo                     — hwloc placement and binding
 *   transport  bell, mailbox, transport, wait — doorbells, messages, waits
 *   runtime    runtime, task, trace     — init/finalize, tasks, MPMP_TRACE
 *   objects    heap, shsync, object, value, sync, queue, shm — shared objects
 *   parallel   process, worker, chunk, pool, imap, executor
 *   manager    manager                  — Manager servers and proxies
 * and src/mpmp.c, the front door, which knows every layer: it hands the
 * runtime the table of the layers' hooks (mpmp_init, mpmp_finalize).
 * Never installed.
 */
#ifndef MPMP_BASE_H
#define MPMP_BASE_H

#include <math.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mpmp.h"

#define MPMP__HIDDEN __attribute__((visibility("hidden")))

/* ---- errors ------------------------------------------------------------- */

/* Set the thread's detail message and return `code`. */
int mpmp__err(int code, const char *fmt, ...) MPMP_PRINTF(2, 3);
/* rc, after the thread's message, if it begins "from:" (a call that one
 * public call makes of another), was made to begin "to:" instead: the
 * user sees the call they made. */
int mpmp__err_as(int rc, const char *from, const char *to);
/* A call that turns an inner error into its own success (a poll that
 * found nothing: 0, not "timed out") puts the thread's message back as it
 * was, as a successful call must leave it (mpmp_errmsg_clear's promise). */
typedef struct {
  const char *cur;
  uint64_t seq;
} mpmp__errmark_t;
mpmp__errmark_t mpmp__err_mark(void);
/* Around the serving of one message (mpmp__dispatch): the thread's own
 * message is put back afterwards (errors.c). */
void mpmp__err_guard_begin(void);
void mpmp__err_guard_end(void);
void mpmp__err_restore(mpmp__errmark_t m);
int mpmp__verr(int code, const char *fmt, va_list ap);
/* Messages (the thread's detail, a task's failure) are kept whole up to
 * this many bytes; a longer one is cut there and ends with
 * "... [cut: N bytes in all]" (also when memory runs out: then with
 * "; out of memory" and at a smaller size). Documented in mpmp/common.h. */
#define MPMP__MSG_MAX ((size_t)16 << 20)
#define MPMP__CUT_ROOM 64 /* bytes for that marker and the NUL */
/* A task's message (mpmp__vformat) is cut this much sooner: the main rank
 * wraps it ("item 3 failed on rank 1: ... (2 of 10 items failed ...)"),
 * and a wrapped message past MPMP__MSG_MAX was cut again, losing the
 * task's own marker (its true length) and the wrapper's end. */
#define MPMP__WRAP_ROOM ((size_t)64 << 10)
/* Format into a new mpmp__malloc'ed string (cut as above; len may be
 * NULL). NULL only when not even a few KiB could be allocated. */
char *mpmp__vformat(const char *fmt, va_list ap, size_t *len);
/* Convert an MPI error code into MPMP_EMPI with the MPI error string. */
int mpmp__mpi_err(int mpi_rc, const char *what);
/* An MPI error nobody can be told of (progress, handlers): log it and end
 * the job, so that nothing waits for ever for a lost message. */
_Noreturn void mpmp__mpi_fatal(int mpi_rc, const char *what);
/* End the whole job (MPI_Abort) after an error line was printed: stdio is
 * flushed and the launcher gets 0.2 s to pass the line on first (MPICH's
 * Hydra, killing the job at once, now and then dropped it: CI). */
_Noreturn void mpmp__abort_job(void);
/* The check for those calls: one predictable branch on the hot path. */
#define MPMP__MPI_CHECK(call, what)                        \
  do {                                                     \
    int mpi_rc_ = (call);                                  \
    if (__builtin_expect(mpi_rc_ != MPI_SUCCESS, 0))       \
      mpmp__mpi_fatal(mpi_rc_, what);                      \
  } while (0)

/* "[0003] WARN: ..." on stderr, prefixed with the rank. */
void mpmp__log(const char *level, const char *fmt, ...) MPMP_PRINTF(2, 3);
#define MPMP__WARN(...) mpmp__log("WARN", __VA_ARGS__)
#define MPMP__ERROR(...) mpmp__log("ERROR", __VA_ARGS__)
/* What the user asked for and should know of (a stop at the walltime). */
#define MPMP__NOTE(...) mpmp__log("NOTE", __VA_ARGS__)

/* ---- allocation: every allocation goes through these ------------------- */

void *mpmp__malloc(size_t n);
void *mpmp__calloc(size_t n, size_t size);
void *mpmp__realloc(void *p, size_t n);
char *mpmp__strdup(const char *s);
void mpmp__free(void *p);
/* For a big buffer that other ranks copy from or to (MPI single copy):
 * huge pages where the system gives them on request. */
void *mpmp__malloc_big(size_t n);
/* This machine's memory in bytes (SIZE_MAX when unknown), read once: a
 * size over it is refused without being tried (it cannot be had, and
 * allocators that abort on absurd sizes, ASan's, would end the rank). */
size_t mpmp__phys_bytes(void);

/* ---- monotonic time ----------------------------------------------------- */

double mpmp__now(void); /* seconds, CLOCK_MONOTONIC */
/* "a" or "an", the article for `noun` in a message ("an Array"). */
static inline const char *mpmp__a(const char *noun) {
  return noun[0] && strchr("AEIOUaeiou", noun[0]) ? "an" : "a";
}
/* deadline for a timeout in seconds: negative timeout -> +infinity */
/* n elements of `size` bytes at p must be one object of this address
 * space: a count that overflows, or whose last byte is not mapped (a
 * negative count cast to size_t, a length past the end of a buffer), is
 * MPMP_EINVAL saying so (`what`: "the item", ...), before anything is read
 * or written. A buffer within one page costs nothing (its first byte is
 * the caller's to get right); one that crosses a page costs a mincore()
 * of its last page. 0: fine (or p NULL, n or size 0: the caller's
 * checks). */
int mpmp__check_extent_slow(const void *p, size_t n, size_t size,
                            const char *what, const char *fn);
static inline int mpmp__check_extent(const void *p, size_t n, size_t size,
                                     const char *what, const char *fn) {
  uintptr_t a = (uintptr_t)p;
  if (p == NULL || n == 0 || size == 0)
    return 0;
  if (n <= 4096 && size <= 4096 && /* (no overflow, no division) */
      (a >> 12) == ((a + (uintptr_t)n * size - 1) >> 12))
    return 0; /* within one 4 KiB page (pages are never smaller) */
  return mpmp__check_extent_slow(p, n, size, what, fn);
}
/* An output buffer that a call fills only after it has taken something
 * for good (a queue's item, a pipe's message, a Manager's popped value):
 * can this process write its first and last bytes (`len` bytes at p)?
 * MPMP_EINVAL naming `what` and `fn` when not (read-only memory: a string
 * literal, a const object, a PROT_READ mapping; or a buffer shorter than
 * `len`), so that the call fails before it takes anything, where the copy
 * into it crashed the caller after the take and the item was lost for
 * everyone (helper 70). One process_vm_writev() of our own memory (about a
 * microsecond) copies those two bytes onto themselves: nothing changes,
 * and the kernel says EFAULT where it cannot write. Each thread remembers
 * the pages it last found writable, so a buffer used again (the common
 * loop) costs two compares; a buffer unmapped and mapped read-only at the
 * same place in between is not seen. Only those two pages are touched (a
 * huge MAP_NORESERVE buffer's others are not committed), so a buffer
 * read-only only in its middle still crashes the copy. Where the system
 * refuses the call (seccomp) every buffer passes. 0: fine (or p NULL or
 * len 0: the caller's checks). */
int mpmp__check_writable_slow(void *p, size_t len, const char *what,
                              const char *fn);
extern _Thread_local uintptr_t mpmp__writable_pages[2];
static inline int mpmp__check_writable(void *p, size_t len, const char *what,
                                       const char *fn) {
  uintptr_t a = (uintptr_t)p;
  if (p == NULL || len == 0 ||
      ((a >> 12) == mpmp__writable_pages[0] &&
       ((a + len - 1) >> 12) == mpmp__writable_pages[1]))
    return 0;
  return mpmp__check_writable_slow(p, len, what, fn);
}
double mpmp__deadline(double timeout);
/* A public call's timeout (seconds) as a deadline: negative or >= 1e9 s ->
 * +INFINITY (forever), 0 -> -INFINITY (try once, no clock read), else
 * now + timeout.
 * MPMP_EINVAL naming `fn` for NaN. Every public call that takes a timeout
 * goes through this. */
int mpmp__timeout(double timeout, double *deadline, const char *fn);
/* A deadline not started yet (mpmp__timeout_lazy): a positive timeout
 * kept as -timeout - 1 (below -1, above -INFINITY). The call turns it into
 * now + timeout (mpmp__deadline_start) only when it has to wait, so a call
 * that need not wait reads no clock: a read is 30 ns on a VM, a sixth of a
 * queue's put or get. Whoever waits on it, or hands it on, starts it
 * first; mpmp__expired() reads one as not passed. */
static inline int mpmp__deadline_lazy(double deadline) {
  return deadline < -1.0 && deadline > -INFINITY;
}
static inline void mpmp__deadline_start(double *deadline) {
  if (mpmp__deadline_lazy(*deadline))
    *deadline = mpmp__now() + (-*deadline - 1.0);
}
/* mpmp__timeout, with a deadline not started yet (see above): for the
 * calls whose every wait starts it (queue.c: a queue's put and get). */
int mpmp__timeout_lazy(double timeout, double *deadline, const char *fn);

/* Has an absolute deadline passed? -INFINITY (try once) and +INFINITY
 * (forever) cost no clock read; one not started has not passed. */
static inline int mpmp__expired(double deadline) {
  if (deadline == -INFINITY)
    return 1;
  return deadline < INFINITY && !mpmp__deadline_lazy(deadline) &&
         mpmp__now() >= deadline;
}

/* splitmix64's finalizer: every input bit flips about half the output
 * (handle tags, the heap's block tags, seeds). */
static inline uint64_t mpmp__mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/* Tell the CPU we are spinning (frees the pipeline for a sibling thread,
 * and stops the memory-order mis-speculation when the word changes). */
static inline void mpmp__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield" ::: "memory");
#else
  atomic_signal_fence(memory_order_seq_cst);
#endif
}


/* The rank that log lines name ("[0003] WARN: ..."); the runtime sets it
 * once it knows it (0 before). */
void mpmp__log_set_rank(int rank);

/* ---- settings: the one table (env_defs.h) ------------------------------ */

#include "env_defs.h"

typedef enum { MPMP__ENV_STR, MPMP__ENV_BOOL, MPMP__ENV_SIZE, MPMP__ENV_DOUBLE } mpmp__env_type_t;

typedef struct mpmp__env {
#define MPMP__ENV_FIELD_STR const char *
#define MPMP__ENV_FIELD_BOOL int
#define MPMP__ENV_FIELD_SIZE size_t
#define MPMP__ENV_FIELD_DOUBLE double
#define MPMP__ENV_FIELD(name, type, ...) MPMP__ENV_FIELD_##type name;
  MPMP_ENV_MAP(MPMP__ENV_FIELD)
#undef MPMP__ENV_FIELD
  /* where each value came from: 1 = environment, 0 = default */
#define MPMP__ENV_SRC(name, type, ...) unsigned char from_env_##name;
  MPMP_ENV_MAP(MPMP__ENV_SRC)
#undef MPMP__ENV_SRC
} mpmp__env_t;

/* Parse every MPMP_* variable; 0 or MPMP_EENV naming the variable and
 * the values it takes. */
int mpmp__env_load(mpmp__env_t *env);
/* A duration as MPMP_WALLTIME, Slurm's --time and PBS's walltime write it
 * ("S[.F]", "MM:SS", "HH:MM:SS", "D-HH[:MM[:SS]]"): seconds, or -1. */
double mpmp__env_duration(const char *s);
void mpmp__env_print(const mpmp__env_t *env, FILE *out);
/* What setting `name` (without MPMP_) takes, as the listing and README
 * say it, e.g. "0 to 1000000 microseconds"; "" for an unknown name. */
const char *mpmp__env_allowed(const char *name, char *buf, size_t n);
/* Warn (once per process) about MPMP_* variables that are no setting,
 * naming the closest setting. The main rank, at init. */
void mpmp__env_warn_unknown(void);
/* Give every rank the main rank's settings (collective; see env.c). */
int mpmp__env_share(MPI_Comm comm, int rank, mpmp__env_t *env);


#endif /* MPMP_BASE_H */
