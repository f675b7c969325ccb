/*
 * Python (tutorial "Python Multiprocessing", "Creating Processes"):
 *
 *   def worker(name, count):
 *       for i in range(count):
 *           print(f"{name}: {i}")
 *
 *   if __name__ == "__main__":  # Required on Windows
 *       p1 = multiprocessing.Process(target=worker, args=("Process-1", 5))
 *       p2 = multiprocessing.Process(target=worker, args=("Process-2", 5))
 *       p1.start()
 *       p2.start()
 *       p1.join()
 *       p2.join()
 *
 * prints Process-1: 0 ... 4 and Process-2: 0 ... 4, the two processes'
 * lines in any interleaving. After the joins the main rank says which rank
 * and pid ran each process.
 *
 *   mpirun -n 3 build/apps/examples/process_worker_count
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

/* args=(name, count) */
typedef struct {
  char name[16];
  int count;
} worker_args_t;

static int worker(mpmp_ctx_t *ctx) {
  const worker_args_t *a = mpmp_arg(ctx, NULL);
  for (int i = 0; i < a->count; i++) {
    printf("%s: %d\n", a->name, i);
    fflush(stdout);
  }
  return 0;
}
MPMP_TASK(worker);

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE) /* if __name__ == "__main__": */
    return 0;
  check(rc, "mpmp_init");

  worker_args_t a1 = {"Process-1", 5}, a2 = {"Process-2", 5};
  mpmp_process_t *p1, *p2;
  check(mpmp_process_create(&p1, worker, &a1, sizeof a1, NULL), "Process");
  check(mpmp_process_create(&p2, worker, &a2, sizeof a2, NULL), "Process");
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
