/*
 * Python (tutorial "Multiprocessing", "Sharing data: Queues", mp5.py):
 *
 *   def prod(x, q, results, key):
 *       square = 0
 *       for i in x:
 *           time.sleep(1)
 *           square += i * i
 *           print(f"Now Process {os.getpid()} | is calculating square {i}")
 *           if i % 2 == 0:
 *               q.put(i)
 *       results[key] = square
 *
 *   if __name__ == "__main__":
 *       x = [1, 2, 3, 4, 5, 6, 7, 8, 9]
 *       y = x[::-1]
 *       results = {}
 *       q1 = multiprocessing.Queue()
 *       q2 = multiprocessing.Queue()
 *       p1 = multiprocessing.Process(target=prod, args=(x, q1, results, "res1"))
 *       p2 = multiprocessing.Process(target=prod, args=(y, q2, results, "res2"))
 *       p1.start(); p2.start()
 *       p1.join(); p2.join()
 *       def printqueue(q):
 *           while not q.empty():
 *               print("Received:", q.get())
 *       printqueue(q1)
 *       printqueue(q2)
 *       print('Done')
 *
 * prints Received: 2, 4, 6, 8 (from q1), then 8, 6, 4, 2 (from q2), and Done.
 * `results` is a plain dict that the parent never sees filled (see
 * process_sum_squares.c); here `results[key] = square` becomes the body's
 * result (mpmp_out), which the parent could read with mpmp_process_result()
 * but, like the tutorial, does not print. Each line also names the mpmp
 * rank that runs the body. The pause per item (1 s in the tutorial) is the
 * optional argument:
 *
 *   mpirun -n 3 build/apps/examples/queue_even_numbers [seconds]
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

/* args=(x, q), and the pause */
typedef struct {
  int x[9];
  mpmp_queue_t q;
  double pause;
} prod_args_t;

static int prod(mpmp_ctx_t *ctx) {
  const prod_args_t *a = mpmp_arg(ctx, NULL);
  long *square = mpmp_out(ctx, sizeof *square); /* results[key] */
  *square = 0;
  for (int k = 0; k < 9; k++) {
    int i = a->x[k];
    sleep_s(a->pause);
    *square += i * i;
    printf("Now Process %d (rank %d) | is calculating square %d\n",
           (int)getpid(), mpmp_rank(), i);
    fflush(stdout);
    if (i % 2 == 0 && mpmp_queue_put(a->q, &i, sizeof i, MPMP_FOREVER) < 0)
      return mpmp_fail(ctx, "q.put(%d): %s", i, mpmp_errmsg());
  }
  return 0;
}
MPMP_TASK(prod);

static void printqueue(mpmp_queue_t q) {
  int item, empty;
  while ((empty = mpmp_queue_empty(q)) == 0) {
    check(mpmp_queue_get(q, &item, sizeof item, NULL, MPMP_FOREVER), "q.get()");
    printf("Received: %d\n", item);
  }
  check(empty, "q.empty()");
}

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0; /* worker ranks: the job is over */
  check(rc, "mpmp_init");

  prod_args_t x = {.x = {1, 2, 3, 4, 5, 6, 7, 8, 9}};
  x.pause = mpmp_app_pause(argc, argv, 1.0);
  prod_args_t y = x; /* y = x[::-1] */
  for (int k = 0; k < 9; k++)
    y.x[k] = x.x[8 - k];
  check(mpmp_queue_create(&x.q, 0, sizeof(int)), "q1 = Queue()");
  check(mpmp_queue_create(&y.q, 0, sizeof(int)), "q2 = Queue()");

  mpmp_process_t *p1, *p2;
  check(mpmp_process_create(&p1, prod, &x, sizeof x, NULL), "Process");
  check(mpmp_process_create(&p2, prod, &y, sizeof y, NULL), "Process");
  check(mpmp_process_start(p1), "p1.start()"); /* Start task execution */
  check(mpmp_process_start(p2), "p2.start()");
  join(p1); /* Wait for process to complete execution */
  join(p2);

  printqueue(x.q);
  printqueue(y.q);
  printf("Done\n");

  mpmp_process_destroy(p1);
  mpmp_process_destroy(p2);
  check(mpmp_queue_free(x.q), "free q1");
  check(mpmp_queue_free(y.q), "free q2");
  return mpmp_finalize() < 0;
}
