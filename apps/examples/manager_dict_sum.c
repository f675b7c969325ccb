/*
 * Python (tutorial "Multiprocessing", "Sharing data: Manager", mp7.py):
 *
 *   def prod(x, results, key):
 *       square = 0
 *       for i in x:
 *           time.sleep(1)
 *           square += i * i
 *           print(f"Process {os.getpid()} is calculating square of {i}")
 *       results[key] = square  # Shared dictionary gets updated
 *
 *   if __name__ == '__main__':
 *       x = [1, 2, 3, 4, 5, 6, 7, 8, 9]
 *       manager = Manager()
 *       results = manager.dict()  # Shared dictionary
 *       p = Process(target=prod, args=(x, results, 'square_sum'))
 *       p.start()
 *       p.join()
 *       print("Total sum of squares:", results['square_sum'])
 *
 * prints "Total sum of squares: 285". The Manager's server takes a worker
 * rank, as Python's takes a process: 1 main + 1 server + 1 process rank.
 * Each line also names the mpmp rank that runs the body. The pause per item
 * (1 s in the tutorial) is the optional argument:
 *
 *   mpirun -n 3 build/apps/examples/manager_dict_sum [seconds]
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

/* args=(x, results, key), and the pause */
typedef struct {
  int x[9];
  mpmp_dict_t results;
  char key[16];
  double pause;
} prod_args_t;

static int prod(mpmp_ctx_t *ctx) {
  const prod_args_t *a = mpmp_arg(ctx, NULL);
  long square = 0;
  for (int k = 0; k < 9; k++) {
    int i = a->x[k];
    sleep_s(a->pause);
    square += i * i;
    printf("Process %d (rank %d) is calculating square of %d\n",
           (int)getpid(), mpmp_rank(), i);
    fflush(stdout);
  }
  /* Shared dictionary gets updated */
  if (mpmp_dict_set(a->results, a->key, &square, sizeof square) < 0)
    return mpmp_fail(ctx, "results[%s]: %s", a->key, mpmp_errmsg());
  return 0;
}
MPMP_TASK(prod);

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0; /* worker ranks: the job is over */
  check(rc, "mpmp_init");

  prod_args_t a = {.x = {1, 2, 3, 4, 5, 6, 7, 8, 9}, .key = "square_sum"};
  a.pause = mpmp_app_pause(argc, argv, 1.0);
  mpmp_manager_t manager;
  check(mpmp_manager_start(&manager), "Manager()");
  check(mpmp_dict_create(manager, &a.results), "manager.dict()");

  mpmp_process_t *p;
  check(mpmp_process_create(&p, prod, &a, sizeof a, NULL), "Process");
  check(mpmp_process_start(p), "p.start()");
  join(p);

  long square_sum;
  check(mpmp_dict_get(a.results, "square_sum", &square_sum, sizeof square_sum,
                      NULL), "results['square_sum']");
  printf("Total sum of squares: %ld\n", square_sum);

  mpmp_process_destroy(p);
  check(mpmp_manager_shutdown(manager), "manager.shutdown()");
  return mpmp_finalize() < 0;
}
