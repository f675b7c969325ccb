/* What the shared-memory sync tests (test_shsync_*.c) have in common: the
 * objects live in a MAP_SHARED anonymous mapping, forked children check
 * what they see and _exit() with 0 or the failing line. */
#ifndef MPMP_SHSYNC_COMMON_H
#define MPMP_SHSYNC_COMMON_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

/* In a child: report the failed check and make it the exit status. */
#define CHECK(cond)                                                    \
  do {                                                                 \
    if (!(cond)) {                                                     \
      fprintf(stderr, "child %d: line %d: check failed: %s\n",        \
              (int)getpid(), __LINE__, #cond);                         \
      return 1;                                                        \
    }                                                                  \
  } while (0)

typedef int (*child_fn)(void *shared, int id);

/* A zeroed MAP_SHARED mapping of n bytes, seen by the children forked
 * after it. */
void *shm(size_t n);
/* Fork a child that runs fn(shared, id) under a 20 s alarm. */
pid_t spawn(child_fn fn, void *shared, int id);
/* Wait for the child; it must have exited with 0. */
void join_ok(pid_t pid);
/* Run fn in n children (ids 0..n-1) and check they all succeed. */
void run_children(child_fn fn, void *shared, int n);
/* An owner id unique to this process and thread. */
uint64_t me(int thread);
void sleep_s(double s);
/* Poll (in the parent) until *w reaches want, for at most 5 s. */
void await_u32(_Atomic uint32_t *w, uint32_t want);
/* The waiters a condition counts now, and a poll until there are n. */
uint32_t cond_waiters(mpmp__shcond_t *c);
void await_cond_waiters(mpmp__shcond_t *c, uint32_t n);
/* Poll (in the parent) until *w == want, for at most 5 s. */
void await_u64_eq(_Atomic uint64_t *w, uint64_t want);
/* The CPU seconds of the children waited for so far. */
double child_cpu_s(void);

#endif /* MPMP_SHSYNC_COMMON_H */
