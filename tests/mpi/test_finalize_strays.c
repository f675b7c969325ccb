/*
 * Processes that tasks start and leave running (a fork that outlives its
 * task, a daemon of a Process body, a child of an isolated task's host)
 * held the ranks' output pipes open: mpirun waited for them, and a
 * worker's finalize waited on its fork server, whose socket the task's
 * child had a copy of, while the other ranks spun a core in finalize's
 * collectives. Now each worker ends them at its finalize (SIGTERM, then
 * SIGKILL after 1 s) and warns; the job ends at once and nobody spins.
 * Prints "PASSED: finalize-strays: <seconds>" (ctest checks it).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "mpitest.h"

#define STRAY_S 60 /* how long a stray would live */

/* A child that outlives the task, deaf to SIGTERM: its pid. */
static int fork_deaf_child(mpmp_ctx_t *ctx) {
  pid_t c = fork();
  if (c == 0) {
    signal(SIGTERM, SIG_IGN);
    sleep(STRAY_S);
    _exit(0);
  }
  pid_t *out = mpmp_out(ctx, sizeof c);
  *out = c;
  return c > 0 ? 0 : mpmp_fail(ctx, "fork failed");
}
MPMP_TASK(fork_deaf_child);

/* A daemon (fork, setsid, fork; the middle one exits), whose pid goes into
 * the Value the argument names. */
static int start_daemon(mpmp_ctx_t *ctx) {
  const mpmp_value_t *v = mpmp_arg(ctx, NULL);
  int fd[2];
  if (pipe(fd) < 0)
    return mpmp_fail(ctx, "pipe failed");
  pid_t mid = fork();
  if (mid == 0) {
    setsid();
    pid_t d = fork();
    if (d == 0) {
      sleep(STRAY_S);
      _exit(0);
    }
    ssize_t w = write(fd[1], &d, sizeof d);
    _exit(w == (ssize_t)sizeof d ? 0 : 1);
  }
  pid_t d = 0;
  if (read(fd[0], &d, sizeof d) != (ssize_t)sizeof d)
    return mpmp_fail(ctx, "no daemon pid");
  return mpmp_value_set_i64(*v, d) < 0 ? mpmp_fail(ctx, "%s", mpmp_errmsg())
                                        : 0;
}
MPMP_TASK(start_daemon);

/* Gone, or dead and waiting to be reaped by init. */
static int dead(pid_t pid) {
  char st = test_proc_state((int)pid);
  return st == 0 || st == 'Z' || st == 'X';
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 +
         (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

#define CHECK(c)                                                      \
  do {                                                                \
    if (!(c)) {                                                       \
      fprintf(stderr, "FAILED: %s (line %d): %s\n", #c, __LINE__,     \
              mpmp_errmsg());                                         \
      return 1;                                                       \
    }                                                                 \
  } while (0)

int main(int argc, char **argv) {
  int rc = test_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  CHECK(rc >= 0 && mpmp_worker_count() >= 2);
  pid_t pids[4] = {0, 0, 0, 0};
  /* a task run in its worker rank */
  mpmp_pool_opts_t in_worker = {.isolate = MPMP_ISOLATE_NEVER,
                                .processes = 1};
  mpmp_pool_t *pool;
  CHECK(mpmp_pool_create(&pool, &in_worker) == 0);
  CHECK(mpmp_pool_apply(pool, fork_deaf_child, NULL, 0, &pids[0],
                        sizeof pids[0], NULL) == 0);
  CHECK(mpmp_pool_close(pool) == 0 && mpmp_pool_join(pool, T_OUT) == 0);
  CHECK(mpmp_pool_destroy(pool) == 0);
  /* a task in a host, which lives on after it */
  mpmp_pool_opts_t isolated = {.isolate = MPMP_ISOLATE_ALWAYS,
                               .processes = 1};
  CHECK(mpmp_pool_create(&pool, &isolated) == 0);
  CHECK(mpmp_pool_apply(pool, fork_deaf_child, NULL, 0, &pids[1],
                        sizeof pids[1], NULL) == 0);
  /* a Process body's daemon */
  mpmp_value_t v;
  CHECK(mpmp_value_create(&v, MPMP_INT64, NULL, 0) == 0);
  mpmp_process_t *p;
  CHECK(mpmp_process_create(&p, start_daemon, &v, sizeof v, NULL) == 0);
  CHECK(mpmp_process_start(p) == 0 && mpmp_process_join(p, T_OUT) == 0);
  int code = -1;
  CHECK(mpmp_process_exitcode(p, &code) == 0 && code == 0);
  int64_t d = 0;
  CHECK(mpmp_value_get_i64(v, &d) == 0 && d > 0);
  pids[2] = (pid_t)d;
  CHECK(mpmp_process_destroy(p) == 0);
  /* and a daemon of a body run in its worker rank: orphaned, it went to
   * init, out of finalize's sight, and mpirun waited for it (the rank is
   * now the reaper of its tasks' orphans) */
  mpmp_process_opts_t never = {.isolate = MPMP_ISOLATE_NEVER};
  CHECK(mpmp_process_create(&p, start_daemon, &v, sizeof v, &never) == 0);
  CHECK(mpmp_process_start(p) == 0 && mpmp_process_join(p, T_OUT) == 0);
  CHECK(mpmp_process_exitcode(p, &code) == 0 && code == 0);
  CHECK(mpmp_value_get_i64(v, &d) == 0 && d > 0 && d != pids[2]);
  pids[3] = (pid_t)d;
  CHECK(mpmp_process_destroy(p) == 0 && mpmp_value_free(v) == 0);
  for (int i = 0; i < 4; i++)
    CHECK(pids[i] > 0 && !dead(pids[i]));

  double t0 = test_now(), c0 = cpu_s();
  rc = mpmp_finalize();
  double took = test_now() - t0, cpu = cpu_s() - c0;
  if (rc < 0 || took > 5) {
    fprintf(stderr, "FAILED: finalize returned %d after %.2f s: %s\n", rc,
            took, mpmp_errmsg());
    return 1;
  }
  /* the main rank waited for the workers' 1 s of grace asleep */
  if (cpu > 0.5 * took + 0.2) {
    fprintf(stderr, "FAILED: the main rank used %.2f s of CPU in a "
            "finalize of %.2f s\n", cpu, took);
    return 1;
  }
  for (int i = 0; i < 4; i++)
    if (!dead(pids[i])) {
      fprintf(stderr, "FAILED: stray %d (pid %d) still runs after "
              "mpmp_finalize\n", i, (int)pids[i]);
      return 1;
    }
  printf("PASSED: finalize-strays: %.2f s (CPU %.2f s)\n", took, cpu);
  return 0;
}
