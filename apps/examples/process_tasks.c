/*
 * Python (tutorial "Python Multiprocessing", "4. Example: Multiprocessing
 * with Multiple Processes"):
 *
 *   def task(name):
 *       print(f"Task {name} is starting...")
 *       time.sleep(2)
 *       print(f"Task {name} is complete.")
 *
 *   if __name__ == "__main__":
 *       processes = []
 *       for i in range(3):
 *           process = Process(target=task, args=(f"Process-{i}",))
 *           processes.append(process)
 *           process.start()
 *       for process in processes:
 *           process.join()
 *       print("All processes are complete.")
 *
 * and (tutorial "Multiprocessing in Python", "Running Multiple Processes"):
 *
 *   def task(name):
 *       print("Running task:", name)
 *   p1 = multiprocessing.Process(target=task, args=("Process 1",))
 *   p2 = multiprocessing.Process(target=task, args=("Process 2",))
 *   p1.start(); p2.start()
 *   p1.join(); p2.join()
 *
 * The three tasks start together, so their "starting" lines come before
 * their "complete" lines, in any order among themselves. After the joins
 * the main rank says which rank and pid ran each process. The sleep (2 s in
 * the tutorial) is the optional argument:
 *
 *   mpirun -n 4 build/apps/examples/process_tasks [seconds]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <mpmp.h>

#include "../args.h"

/* A failed mpmp call stops the program, saying what went wrong. */
static void check(int rc, const char *what) {
  if (rc < 0) {
    if (!mpmp_is_main()) /* init failed on every rank: rank 0 says so; */
      exit(0);           /* the others end quietly (exit 1 could end the
                            job before its message is out) */
    fprintf(stderr, "%s: %s\n", what, mpmp_errmsg());
    exit(1);
  }
}

/* p.join(); a body that failed (Python: a traceback) stops the program. */
static void join(mpmp_process_t *p) {
  int code = -1;
  check(mpmp_process_join(p, MPMP_FOREVER), "join");
  check(mpmp_process_exitcode(p, &code), "exitcode");
  if (code != 0) {
    fprintf(stderr, "%s exited with %d: %s\n", mpmp_process_name(p), code,
            mpmp_process_errmsg(p));
    exit(1);
  }
}

/* Which rank and pid ran it (Python's p.pid; the rank is mpmp's). */
static void ran_on(const mpmp_process_t *p) {
  printf("%s ran on rank %d (pid %d)\n", mpmp_process_name(p),
         mpmp_process_rank(p), mpmp_process_pid(p));
}

static void sleep_s(double s) { /* time.sleep(s) */
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  nanosleep(&ts, NULL);
}

/* args=(name,), and the sleep */
typedef struct {
  char name[16];
  double pause;
} task_args_t;

static int task(mpmp_ctx_t *ctx) {
  const task_args_t *a = mpmp_arg(ctx, NULL);
  printf("Task %s is starting...\n", a->name);
  fflush(stdout);
  sleep_s(a->pause);
  printf("Task %s is complete.\n", a->name);
  fflush(stdout);
  return 0;
}
MPMP_TASK(task);

static int running_task(mpmp_ctx_t *ctx) { /* the second tutorial's task */
  const char *name = mpmp_arg(ctx, NULL);
  printf("Running task: %s\n", name);
  fflush(stdout);
  return 0;
}
MPMP_TASK(running_task);

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0; /* worker ranks: the job is over */
  check(rc, "mpmp_init");
  double pause = mpmp_app_pause(argc, argv, 2.0);

  mpmp_process_t *processes[3];
  for (int i = 0; i < 3; i++) {
    task_args_t a = {.pause = pause};
    snprintf(a.name, sizeof a.name, "Process-%d", i);
    check(mpmp_process_create(&processes[i], task, &a, sizeof a, NULL),
          "Process");
    check(mpmp_process_start(processes[i]), "process.start()");
  }
  for (int i = 0; i < 3; i++) {
    join(processes[i]);
    ran_on(processes[i]);
    mpmp_process_destroy(processes[i]);
  }
  printf("All processes are complete.\n");

  mpmp_process_t *p1, *p2; /* the second tutorial: args=("Process 1",) */
  check(mpmp_process_create(&p1, running_task, "Process 1",
                            sizeof "Process 1", NULL), "Process");
  check(mpmp_process_create(&p2, running_task, "Process 2",
                            sizeof "Process 2", NULL), "Process");
  check(mpmp_process_start(p1), "p1.start()");
  check(mpmp_process_start(p2), "p2.start()");
  join(p1);
  join(p2);
  ran_on(p1);
  ran_on(p2);
  mpmp_process_destroy(p1);
  mpmp_process_destroy(p2);
  return mpmp_finalize() < 0;
}
