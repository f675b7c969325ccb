/*
 * Python (tutorial "Multiprocessing in Python: Unlocking True Parallelism",
 * "Example: Basic Process Creation"):
 *
 *   def worker_function(name):
 *       """A simple function that a process will execute."""
 *       print(f"Worker '{name}' started. Process ID: {os.getpid()}")
 *       time.sleep(2)
 *       print(f"Worker '{name}' finished.")
 *
 *   print(f"Main process ID: {os.getpid()}")
 *   p = multiprocessing.Process(target=worker_function, args=('Alice',))
 *   p.start()
 *   print("Main program continues to run while worker is executing...")
 *   p.join()
 *   print("Worker process has finished. Main program exiting.")
 *
 * The tutorial ran it in Jupyter, whose page shows only the parent's lines;
 * from a terminal the worker's two lines show too, with its own pid and
 * mpmp rank. The sleep (2 s in the tutorial) is the optional argument:
 *
 *   mpirun -n 2 build/apps/examples/process_worker_function [seconds]
 *
 * mpirun forwards each rank's output separately, so a line the worker
 * prints just before the main rank prints one may reach the terminal after
 * it; lines printed a moment apart (the sleep) come out in order.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

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

static void sleep_s(double s) { /* time.sleep(s) */
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  nanosleep(&ts, NULL);
}

/* args=('Alice',), and the sleep */
typedef struct {
  char name[16];
  double pause;
} worker_args_t;

/* A simple function that a process will execute. */
static int worker_function(mpmp_ctx_t *ctx) {
  const worker_args_t *a = mpmp_arg(ctx, NULL);
  printf("Worker '%s' started. Process ID: %d (rank %d)\n", a->name,
         (int)getpid(), mpmp_rank());
  fflush(stdout);
  sleep_s(a->pause);
  printf("Worker '%s' finished.\n", a->name);
  fflush(stdout);
  return 0;
}
MPMP_TASK(worker_function);

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0; /* worker ranks: the job is over */
  check(rc, "mpmp_init");

  printf("Main process ID: %d (rank %d)\n", (int)getpid(), mpmp_rank());
  worker_args_t a = {"Alice", mpmp_app_pause(argc, argv, 2.0)};
  mpmp_process_t *p; /* Create a process */
  check(mpmp_process_create(&p, worker_function, &a, sizeof a, NULL), "Process");
  check(mpmp_process_start(p), "p.start()"); /* Start the process */
  printf("Main program continues to run while worker is executing...\n");
  fflush(stdout);

  join(p); /* Wait for the process to complete */
  mpmp_process_destroy(p);
  printf("Worker process has finished. Main program exiting.\n");
  return mpmp_finalize() < 0;
}
