/*
 * Python (tutorial "Python Multiprocessing", "2. The multiprocessing Module"):
 *
 *   def print_numbers():
 *       for i in range(5):
 *           print(f"Number: {i}")
 *
 *   if __name__ == "__main__":
 *       process = Process(target=print_numbers)
 *       process.start()
 *       process.join()
 *
 * and (tutorial "Multiprocessing in Python", "The multiprocessing Module"),
 * the same with print(i):
 *
 *   def print_numbers():
 *       for i in range(5):
 *           print(i)
 *
 * prints Number: 0 ... Number: 4, then 0 ... 4, each from a Process of its
 * own; after each join the main rank says which rank and pid ran it.
 *
 *   mpirun -n 2 build/apps/examples/process_print_numbers
 */
#include <stdio.h>
#include <stdlib.h>

#include <mpmp.h>

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

static int print_numbers(mpmp_ctx_t *ctx) {
  for (int i = 0; i < 5; i++)
    printf("Number: %d\n", i);
  fflush(stdout);
  return 0;
}
MPMP_TASK(print_numbers);

static int print_bare_numbers(mpmp_ctx_t *ctx) { /* the second tutorial's */
  for (int i = 0; i < 5; i++)
    printf("%d\n", i);
  fflush(stdout);
  return 0;
}
MPMP_TASK(print_bare_numbers);

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0; /* worker ranks: the job is over */
  check(rc, "mpmp_init");

  mpmp_process_t *process; /* Process(target=print_numbers): no args */
  check(mpmp_process_create(&process, print_numbers, NULL, 0, NULL), "Process");
  check(mpmp_process_start(process), "process.start()");
  join(process);
  ran_on(process);
  mpmp_process_destroy(process);

  check(mpmp_process_create(&process, print_bare_numbers, NULL, 0, NULL),
        "Process");
  check(mpmp_process_start(process), "process.start()");
  join(process);
  ran_on(process);
  mpmp_process_destroy(process);
  return mpmp_finalize() < 0;
}
