/*
 * Python (tutorial "Multiprocessing in Python", "Using Queue for
 * Communication"):
 *
 *   from multiprocessing import Process, Queue
 *   def worker(q):
 *       q.put("Hello from process")
 *   q = Queue()
 *   p = Process(target=worker, args=(q,))
 *   p.start()
 *   p.join()
 *   print(q.get())
 *
 * prints "Hello from process". Items are bytes: the string with its NUL.
 * After the join the main rank says which rank and pid ran the process.
 *
 *   mpirun -n 2 build/apps/examples/queue_hello
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int worker(mpmp_ctx_t *ctx) {
  const mpmp_queue_t *q = mpmp_arg(ctx, NULL);
  const char *msg = "Hello from process";
  if (mpmp_queue_put(*q, msg, strlen(msg) + 1, MPMP_FOREVER) < 0)
    return mpmp_fail(ctx, "q.put(): %s", mpmp_errmsg());
  return 0;
}
MPMP_TASK(worker);

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0; /* worker ranks: the job is over */
  check(rc, "mpmp_init");

  mpmp_queue_t q; /* Queue(): items of up to 64 bytes */
  check(mpmp_queue_create(&q, 0, 64), "Queue()");
  mpmp_process_t *p;
  check(mpmp_process_create(&p, worker, &q, sizeof q, NULL), "Process");
  check(mpmp_process_start(p), "p.start()");
  join(p);

  char item[64];
  check(mpmp_queue_get(q, item, sizeof item, NULL, MPMP_FOREVER), "q.get()");
  printf("%s\n", item);
  printf("worker ran on rank %d (pid %d)\n", mpmp_process_rank(p),
         mpmp_process_pid(p));

  mpmp_process_destroy(p);
  check(mpmp_queue_free(q), "free q");
  return mpmp_finalize() < 0;
}
