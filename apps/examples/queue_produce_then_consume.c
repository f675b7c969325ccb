/*
 * Python (tutorial "Python Multiprocessing", "7. Handling Process
 * Communication with Queue"):
 *
 *   def producer(q):
 *       for i in range(5):
 *           q.put(i)
 *           print(f"Produced: {i}")
 *
 *   def consumer(q):
 *       while not q.empty():
 *           item = q.get()
 *           print(f"Consumed: {item}")
 *
 *   if __name__ == "__main__":
 *       q = Queue()
 *       producer_process = Process(target=producer, args=(q,))
 *       consumer_process = Process(target=consumer, args=(q,))
 *       producer_process.start()
 *       producer_process.join()
 *       consumer_process.start()
 *       consumer_process.join()
 *
 * The producer is joined before the consumer starts, so the consumer finds
 * all five items: Produced: 0 ... 4, then Consumed: 0 ... 4. (With both
 * started at once, `while not q.empty()` could stop before the first put.)
 * After each join the main rank says which rank and pid ran the process;
 * one worker rank is enough, as they run one after the other.
 *
 *   mpirun -n 2 build/apps/examples/queue_produce_then_consume
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
  for (int i = 0; i < 5; i++) {
    if (mpmp_queue_put(*q, &i, sizeof i, MPMP_FOREVER) < 0)
      return mpmp_fail(ctx, "q.put(%d): %s", i, mpmp_errmsg());
    printf("Produced: %d\n", i);
    fflush(stdout);
  }
  return 0;
}
MPMP_TASK(producer);

static int consumer(mpmp_ctx_t *ctx) {
  const mpmp_queue_t *q = mpmp_arg(ctx, NULL);
  int empty;
  while ((empty = mpmp_queue_empty(*q)) == 0) {
    int item;
    if (mpmp_queue_get(*q, &item, sizeof item, NULL, MPMP_FOREVER) < 0)
      return mpmp_fail(ctx, "q.get(): %s", mpmp_errmsg());
    printf("Consumed: %d\n", item);
    fflush(stdout);
  }
  return empty < 0 ? mpmp_fail(ctx, "q.empty(): %s", mpmp_errmsg()) : 0;
}
MPMP_TASK(consumer);

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0; /* worker ranks: the job is over */
  check(rc, "mpmp_init");

  mpmp_queue_t q;
  check(mpmp_queue_create(&q, 0, sizeof(int)), "Queue()");
  mpmp_process_t *producer_process, *consumer_process;
  check(mpmp_process_create(&producer_process, producer, &q, sizeof q, NULL),
        "Process");
  check(mpmp_process_create(&consumer_process, consumer, &q, sizeof q, NULL),
        "Process");
  check(mpmp_process_start(producer_process), "producer_process.start()");
  join(producer_process);
  ran_on("producer", producer_process);
  check(mpmp_process_start(consumer_process), "consumer_process.start()");
  join(consumer_process);
  ran_on("consumer", consumer_process);

  mpmp_process_destroy(producer_process);
  mpmp_process_destroy(consumer_process);
  check(mpmp_queue_free(q), "free q");
  return mpmp_finalize() < 0;
}
