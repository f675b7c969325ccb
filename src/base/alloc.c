/*
 * The one allocator wrapper (every allocation in mpmp goes through it, so a
 * debugging or pooling allocator can be put in one place), and the clock.
 */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "base.h"

void *mpmp__malloc(size_t n) { return malloc(n ? n : 1); }
void *mpmp__calloc(size_t n, size_t size) { return calloc(n ? n : 1, size ? size : 1); }
void *mpmp__realloc(void *p, size_t n) { return realloc(p, n ? n : 1); }
void mpmp__free(void *p) { free(p); }

/* Buffers that MPI's single-copy path (CMA) reads or writes from another
 * rank: the kernel pins the pages of each transfer one by one, and with 4
 * KiB pages that was as long as the copy itself (follow_page_pte in the
 * main rank's profile of a 10^7-item map). Transparent huge pages where
 * the system offers them on request (THP "madvise", Debian's default);
 * elsewhere this is malloc. Freed with mpmp__free. */
void *mpmp__malloc_big(size_t n) {
  const size_t huge = (size_t)2 << 20;
  if (n < 2 * huge || n > SIZE_MAX - huge)
    return mpmp__malloc(n);
  size_t len = (n + huge - 1) / huge * huge;
  void *p = aligned_alloc(huge, len);
  if (p == NULL)
    return NULL;
#ifdef MADV_HUGEPAGE
  (void)madvise(p, len, MADV_HUGEPAGE); /* a hint: refused is fine */
#endif
  return p;
}

size_t mpmp__phys_bytes(void) {
  static _Atomic size_t bytes;
  size_t b = atomic_load_explicit(&bytes, memory_order_relaxed);
  if (b == 0) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    b = pages > 0 && page > 0 && (size_t)pages <= SIZE_MAX / (size_t)page
            ? (size_t)pages * (size_t)page
            : SIZE_MAX;
    atomic_store_explicit(&bytes, b, memory_order_relaxed);
  }
  return b;
}

char *mpmp__strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = mpmp__malloc(n);
  if (d != NULL)
    memcpy(d, s, n);
  return d;
}

double mpmp__now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double mpmp__deadline(double timeout) {
  return timeout < 0 ? INFINITY : mpmp__now() + timeout;
}

/* The one place every public call turns its timeout into a deadline, so
 * that a NaN (which compares false with everything: it waited forever in
 * some calls and not at all in others) is refused the same way by all. */
int mpmp__timeout(double timeout, double *deadline, const char *fn) {
  if (isnan(timeout))
    return mpmp__err(MPMP_EINVAL, "%s: the timeout is NaN: give seconds "
                     "(0: do not block; negative, e.g. MPMP_FOREVER: wait "
                     "forever)", fn);
  /* 1e9 s and more (31 years, 1e300, +inf) wait for ever, like a negative
   * timeout: no sleep below has to make sense of such a number. */
  *deadline = timeout < 0 || timeout >= 1e9
                  ? INFINITY
                  : (timeout == 0 ? -INFINITY : mpmp__now() + timeout);
  return 0;
}

int mpmp__timeout_lazy(double timeout, double *deadline, const char *fn) {
  if (!(timeout > 0 && timeout < 1e9)) /* NaN, forever, try once */
    return mpmp__timeout(timeout, deadline, fn);
  *deadline = -timeout - 1.0; /* (a timeout under 1e-16 s: -1, passed) */
  return 0;
}

/* Is the page holding byte `p` mapped in this process? (mincore fails
 * with ENOMEM on an unmapped page, and touches nothing.) */
static int page_mapped(uintptr_t p) {
  static long page;
  if (page == 0)
    page = sysconf(_SC_PAGESIZE);
  unsigned char vec;
  return mincore((void *)(p & ~(uintptr_t)(page - 1)), 1, &vec) == 0 ||
         errno != ENOMEM;
}

/* Can this process read byte `p`? A page mapped PROT_NONE (a guard page)
 * passes mincore and still crashes a copy, so ask the kernel to read it
 * (process_vm_readv of our own memory: EFAULT where it cannot); where
 * that call is not allowed (a seccomp filter), fall back to mincore. */
static int byte_readable(uintptr_t p) {
  static _Atomic int vm_ok = 1;
  if (atomic_load_explicit(&vm_ok, memory_order_relaxed)) {
    char b;
    struct iovec local = {&b, 1}, remote = {(void *)p, 1};
    if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == 1)
      return 1;
    if (errno == EFAULT)
      return 0;
    atomic_store_explicit(&vm_ok, 0, memory_order_relaxed);
  }
  return page_mapped(p);
}

int mpmp__check_extent_slow(const void *p, size_t n, size_t size,
                            const char *what, const char *fn) {
  /* (No cache of the last page found mapped: a buffer unmapped since, and
   * given again, then passed and crashed the call; helper 60.) */
  uintptr_t a = (uintptr_t)p;
  if (n > (size_t)PTRDIFF_MAX / size || a > UINTPTR_MAX - n * size)
    return mpmp__err(MPMP_EINVAL, "%s: %s (%zu items of %zu bytes at %p) "
                     "is out of range: it overflows the address space; is a "
                     "count negative, or a size wrong?", fn, what, n, size, p);
  int ok = byte_readable(a + n * size - 1);
  if (!ok && n == 1)
    return mpmp__err(MPMP_EINVAL, "%s: %s (%zu bytes at %p) is not all in "
                     "memory: is the size wrong (a negative one cast to "
                     "size_t, or the buffer's room overstated)?", fn, what,
                     size, p);
  if (!ok)
    return mpmp__err(MPMP_EINVAL, "%s: %s (%zu items of %zu bytes at %p) "
                     "are not all in memory: is a count negative, or a size "
                     "wrong?", fn, what, n, size, p);
  return 0;
}

/* (base.h) */
_Thread_local uintptr_t mpmp__writable_pages[2] = {UINTPTR_MAX, UINTPTR_MAX};

int mpmp__check_writable_slow(void *p, size_t len, const char *what,
                              const char *fn) {
  static _Atomic int refused = 0; /* the system forbids the call */
  if (atomic_load_explicit(&refused, memory_order_relaxed))
    return 0;
  char *b = p;
  struct iovec iov[2] = {{b, 1}, {b + len - 1, 1}};
  unsigned long k = len > 1 ? 2 : 1;
  ssize_t r = process_vm_writev(getpid(), iov, k, iov, k, 0);
  if (r == (ssize_t)k) {
    mpmp__writable_pages[0] = (uintptr_t)b >> 12;
    mpmp__writable_pages[1] = ((uintptr_t)b + len - 1) >> 12;
    return 0;
  }
  if (r >= 0 || errno == EFAULT)
    return mpmp__err(MPMP_EINVAL, "%s: %s (%zu bytes at %p) cannot be "
                     "written: is it read-only memory (a string literal, a "
                     "const object, a PROT_READ mapping), or shorter than "
                     "the size given? Nothing was taken", fn, what, len, p);
  atomic_store_explicit(&refused, 1, memory_order_relaxed); /* ENOSYS, */
  return 0;                                                 /* EPERM */
}
