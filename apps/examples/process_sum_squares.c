/*
 * Python (tutorial "Multiprocessing", "Process method", mp4.py):
 *
 *   def prod(x, results, key):
 *       square = 0
 *       for i in x:
 *           time.sleep(1)
 *           square += i * i
 *           print(f"Now Process {os.getpid()} | is calculating square {i}")
 *       results[key] = square
 *
 *   if __name__ == "__main__":
 *       x = [1, 2, 3, 4, 5, 6, 7, 8, 9]
 *       y = x[::-1]
 *       results = {}
 *       p1 = multiprocessing.Process(target=prod, args=(x, results, "res1"))
 *       p2 = multiprocessing.Process(target=prod, args=(y, results, "res2"))
 *       p1.start()
 *       p2.start()
 *       p1.join()
 *       p2.join()
 *       print('Done')
 *
 * `results = {}` is a plain dict: each child fills a copy of its own and the
 * parent's stays empty, which is why the tutorial then says to use a
 * multiprocessing.Manager().dict(). This program does that (results =
 * Manager().dict()) and prints what the children stored before 'Done':
 *
 *   Results: {'res1': 285, 'res2': 285}
 *
 * in key order (Python's dict would list them in the order the children
 * finished). Without a Manager, mpmp can also hand a body's result back
 * directly: mpmp_out() in the body, mpmp_process_result() after join (see
 * process_demo.c).
 *
 * Each line also names the mpmp rank that runs the body; the Manager's
 * server takes a worker rank of its own, as Python's takes a process, so
 * this needs 1 main + 1 server + 2 process ranks. The pause per item (1 s in
 * the tutorial) is the optional argument:
 *
 *   mpirun -n 4 build/apps/examples/process_sum_squares [seconds]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
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
  char key[8];
  double pause;
} prod_args_t;

static int prod(mpmp_ctx_t *ctx) {
  const prod_args_t *a = mpmp_arg(ctx, NULL);
  int64_t square = 0;
  for (int k = 0; k < 9; k++) {
    int i = a->x[k];
    sleep_s(a->pause);
    square += i * i;
    printf("Now Process %d (rank %d) | is calculating square %d\n",
           (int)getpid(), mpmp_rank(), i);
    fflush(stdout);
  }
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

  prod_args_t x = {.x = {1, 2, 3, 4, 5, 6, 7, 8, 9}, .key = "res1"};
  x.pause = mpmp_app_pause(argc, argv, 1.0);
  prod_args_t y = x; /* y = x[::-1] */
  for (int k = 0; k < 9; k++)
    y.x[k] = x.x[8 - k];
  snprintf(y.key, sizeof y.key, "res2");

  mpmp_manager_t manager;
  check(mpmp_manager_start(&manager), "Manager()");
  check(mpmp_dict_create(manager, &x.results), "manager.dict()");
  y.results = x.results;

  mpmp_process_t *p1, *p2;
  check(mpmp_process_create(&p1, prod, &x, sizeof x, NULL), "Process");
  check(mpmp_process_create(&p2, prod, &y, sizeof y, NULL), "Process");
  check(mpmp_process_start(p1), "p1.start()"); /* Start task execution */
  check(mpmp_process_start(p2), "p2.start()");
  join(p1); /* Wait for process to complete execution */
  join(p2);

  int64_t res1, res2;
  check(mpmp_dict_get(x.results, "res1", &res1, sizeof res1, NULL), "results['res1']");
  check(mpmp_dict_get(x.results, "res2", &res2, sizeof res2, NULL), "results['res2']");
  printf("Results: {'res1': %lld, 'res2': %lld}\n", (long long)res1,
         (long long)res2);
  printf("Done\n");

  mpmp_process_destroy(p1);
  mpmp_process_destroy(p2);
  check(mpmp_manager_shutdown(manager), "manager.shutdown()");
  return mpmp_finalize() < 0;
}
