/*
 * Python (tutorial "Multiprocessing", "Sharing data: Pipes", mp6.py):
 *
 *   def prod(x, pipe_conn):
 *       square = 0
 *       even_numbers = []
 *       for i in x:
 *           time.sleep(1)
 *           square += i * i
 *           print(f"Process {os.getpid()} is calculating square of {i}")
 *           if i % 2 == 0:
 *               even_numbers.append(i)
 *       # Send both results via pipe: even numbers + square sum
 *       pipe_conn.send((even_numbers, square))
 *       pipe_conn.close()
 *
 *   if __name__ == '__main__':
 *       x = [1, 2, 3, 4, 5, 6]
 *       parent_conn, child_conn = Pipe()
 *       p = Process(target=prod, args=(x, child_conn))
 *       p.start()
 *       even_numbers, total_square = parent_conn.recv()   # Receive result
 *       print("\nEven numbers:", even_numbers)
 *       print("Total sum of squares:", total_square)
 *       p.join()
 *
 * The tutorial's listing says x = [1, ..., 9], but the output it shows is
 * that of x = [1, ..., 6] (six lines, [2, 4, 6] and 91): this is that run.
 * Python pickles the tuple; here the message is a struct of both results.
 * Each line also names the mpmp rank that runs the body. The pause per item
 * (1 s in the tutorial) is the optional argument:
 *
 *   mpirun -n 2 build/apps/examples/pipe_evens_sum [seconds]
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

#define N 6

/* args=(x, child_conn), and the pause */
typedef struct {
  int x[N];
  mpmp_conn_t pipe_conn;
  double pause;
} prod_args_t;

/* The message: (even_numbers, square) */
typedef struct {
  int count;
  int even_numbers[N];
  long square;
} result_t;

static int prod(mpmp_ctx_t *ctx) {
  const prod_args_t *a = mpmp_arg(ctx, NULL);
  result_t r = {0};
  for (int k = 0; k < N; k++) {
    int i = a->x[k];
    sleep_s(a->pause);
    r.square += i * i;
    printf("Process %d (rank %d) is calculating square of %d\n",
           (int)getpid(), mpmp_rank(), i);
    fflush(stdout);
    if (i % 2 == 0)
      r.even_numbers[r.count++] = i;
  }
  if (mpmp_conn_send(a->pipe_conn, &r, sizeof r, MPMP_FOREVER) < 0)
    return mpmp_fail(ctx, "pipe_conn.send(): %s", mpmp_errmsg());
  mpmp_conn_close(a->pipe_conn);
  return 0;
}
MPMP_TASK(prod);

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0; /* worker ranks: the job is over */
  check(rc, "mpmp_init");

  prod_args_t a = {.x = {1, 2, 3, 4, 5, 6}};
  a.pause = mpmp_app_pause(argc, argv, 1.0);
  mpmp_conn_t parent_conn;
  check(mpmp_pipe_create(&parent_conn, &a.pipe_conn, 1), "Pipe()");

  mpmp_process_t *p;
  check(mpmp_process_create(&p, prod, &a, sizeof a, NULL), "Process");
  check(mpmp_process_start(p), "p.start()");

  result_t r; /* Receive result */
  check(mpmp_conn_recv(parent_conn, &r, sizeof r, NULL, MPMP_FOREVER),
        "parent_conn.recv()");
  printf("\nEven numbers: [");
  for (int k = 0; k < r.count; k++)
    printf(k ? ", %d" : "%d", r.even_numbers[k]);
  printf("]\n");
  printf("Total sum of squares: %ld\n", r.square);

  join(p);
  mpmp_process_destroy(p);
  check(mpmp_pipe_free(parent_conn, a.pipe_conn), "free the pipe");
  return mpmp_finalize() < 0;
}
