/* The helpers of the shared-memory sync tests (shsync_common.h). */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "base.h"
#include "shsync.h"

#include "shsync_common.h"

void *shm(size_t n) {
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                 -1, 0);
  assert_true(p != MAP_FAILED);
  memset(p, 0, n);
  return p;
}

pid_t spawn(child_fn fn, void *shared, int id) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    alarm(20); /* a hang kills the child; the parent sees the signal */
    _exit(fn(shared, id));
  }
  return pid;
}

void join_ok(pid_t pid) {
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  if (WIFSIGNALED(st))
    fail_msg("child %d killed by signal %d", (int)pid, WTERMSIG(st));
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
}

/* Run fn in n children (ids 0..n-1) and check they all succeed. */
void run_children(child_fn fn, void *shared, int n) {
  pid_t pids[16];
  assert_true(n <= 16);
  for (int i = 0; i < n; i++)
    pids[i] = spawn(fn, shared, i);
  for (int i = 0; i < n; i++)
    join_ok(pids[i]);
}

uint64_t me(int thread) {
  return (uint64_t)getpid() << 32 | (uint32_t)(thread + 1);
}

void sleep_s(double s) {
  struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
  nanosleep(&ts, NULL);
}

/* Poll (in the parent) until *w reaches want, for at most 5 s. */
void await_u32(_Atomic uint32_t *w, uint32_t want) {
  double end = mpmp__now() + 5;
  while (atomic_load(w) < want && mpmp__now() < end)
    sleep_s(0.001);
  assert_true(atomic_load(w) >= want);
}

uint32_t cond_waiters(mpmp__shcond_t *c) {
  return (uint32_t)(atomic_load(&c->wt) >> 32);
}

/* Poll (in the parent) until n waiters are counted, for at most 5 s. */
void await_cond_waiters(mpmp__shcond_t *c, uint32_t n) {
  double end = mpmp__now() + 5;
  while (cond_waiters(c) < n && mpmp__now() < end)
    sleep_s(0.001);
  assert_true(cond_waiters(c) >= n);
}

/* Poll (in the parent) until *w == want, for at most 5 s. */
void await_u64_eq(_Atomic uint64_t *w, uint64_t want) {
  double end = mpmp__now() + 5;
  while (atomic_load(w) != want && mpmp__now() < end)
    sleep_s(0.001);
  assert_true(atomic_load(w) == want);
}

double child_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}
