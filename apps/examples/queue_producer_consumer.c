/*
 * Python (tutorial "Python Multiprocessing", "Inter-Process Communication:
 * Queue"):
 *
 *   def producer(q):
 *       for i in range(10):
 *           q.put(i)
 *       q.put(None)  # Sentinel
 *
 *   def consumer(q):
 *       while True:
 *           item = q.get()
 *           if item is None:
 *               break
 *           print(f"Got: {item}")
 *
 *   if __name__ == "__main__":
 *       q = Queue()
 *       p1 = Process(target=producer, args=(q,))
 *       p2 = Process(target=consumer, args=(q,))
 *       p1.start()
 *       p2.start()
 *       p1.join()
 *       p2.join()
 *
 * prints Got: 0 ... Got: 9. Items are bytes: an int, and None is the empty
 * item (0 bytes). After the joins the main rank says which rank and pid ran
 * each process.
 *
 *   mpirun -n 3 build/apps/examples/queue_producer_consumer
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
static void ran_on(const char *what, const mpmp_process_t *p) {
  printf("%s ran on rank %d (pid %d)\n", what, mpmp_process_rank(p),
         mpmp_process_pid(p));
}

static int producer(mpmp_ctx_t *ctx) {
  const mpmp_queue_t *q = mpmp_arg(ctx, NULL);
  for (int i = 0; i < 10; i++)
    if (mpmp_queue_put(*q, &i, sizeof i, MPMP_FOREVER) < 0)
      return mpmp_fail(ctx, "q.put(%d): %s", i, mpmp_errmsg());
  if (mpmp_queue_put(*q, NULL, 0, MPMP_FOREVER) < 0) /* Sentinel */
    return mpmp_fail(ctx, "q.put(None): %s", mpmp_errmsg());
  return 0;
}
MPMP_TASK(producer);

static int consumer(mpmp_ctx_t *ctx) {
  const mpmp_queue_t *q = mpmp_arg(ctx, NULL);
  for (;;) {
    int item;
    size_t size;
    if (mpmp_queue_get(*q, &item, sizeof item, &size, MPMP_FOREVER) < 0)
      return mpmp_fail(ctx, "q.get(): %s", mpmp_errmsg());
    if (size == 0) /* item is None */
      break;
    printf("Got: %d\n", item);
    fflush(stdout);
  }
  return 0;
}
MPMP_TASK(consumer);

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0; /* worker ranks: the job is over */
  check(rc, "mpmp_init");

  mpmp_queue_t q; /* Queue(): items of up to one int */
  check(mpmp_queue_create(&q, 0, sizeof(int)), "Queue()");
  mpmp_process_t *p1, *p2;
  check(mpmp_process_create(&p1, producer, &q, sizeof q, NULL), "Process");
  check(mpmp_process_create(&p2, consumer, &q, sizeof q, NULL), "Process");
  check(mpmp_process_start(p1), "p1.start()");
  check(mpmp_process_start(p2), "p2.start()");
  join(p1);
  join(p2);
  ran_on("producer", p1);
  ran_on("consumer", p2);

  mpmp_process_destroy(p1);
  mpmp_process_destroy(p2);
  check(mpmp_queue_free(q), "free q");
  return mpmp_finalize() < 0;
}
