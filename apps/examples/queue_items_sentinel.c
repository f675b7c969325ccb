/*
 * Python (tutorial "Multiprocessing in Python: Unlocking True Parallelism",
 * "Example: Using a Queue"):
 *
 *   def producer(q):
 *       """Puts items into the queue."""
 *       for i in range(5):
 *           item = f"Item {i}"
 *           q.put(item)
 *           print(f"Produced: {item}")
 *           time.sleep(0.5)
 *       q.put(None) # Sentinel value to signal completion
 *
 *   def consumer(q):
 *       """Gets items from the queue."""
 *       while True:
 *           item = q.get()
 *           if item is None: # Check for sentinel
 *               break
 *           print(f"Consumed: {item}")
 *
 *   queue = multiprocessing.Queue()
 *   p1 = multiprocessing.Process(target=producer, args=(queue,))
 *   p2 = multiprocessing.Process(target=consumer, args=(queue,))
 *   p1.start(); p2.start()
 *   p1.join(); p2.join()
 *   print("All tasks finished.")
 *
 * The tutorial ran it in Jupyter, whose page shows only "All tasks
 * finished."; from a terminal the processes' lines show too: Produced: Item
 * 0 ... 4 and Consumed: Item 0 ... 4. Items are C strings; None is the
 * empty item (0 bytes). After the joins the main rank says which rank and
 * pid ran each process. The pause (0.5 s in the tutorial) is the optional
 * argument:
 *
 *   mpirun -n 3 build/apps/examples/queue_items_sentinel [seconds]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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

/* Which rank and pid ran it (Python's p.pid; the rank is mpmp's). */
static void ran_on(const char *what, const mpmp_process_t *p) {
  printf("%s ran on rank %d (pid %d)\n", what, mpmp_process_rank(p),
         mpmp_process_pid(p));
}

static void sleep_s(double s) { /* time.sleep(s) */
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  nanosleep(&ts, NULL);
}

#define ITEM_MAX 32 /* the longest item, in bytes */

/* args=(queue,), and the pause */
typedef struct {
  mpmp_queue_t q;
  double pause;
} args_t;

/* Puts items into the queue. */
static int producer(mpmp_ctx_t *ctx) {
  const args_t *a = mpmp_arg(ctx, NULL);
  for (int i = 0; i < 5; i++) {
    char item[ITEM_MAX];
    int n = snprintf(item, sizeof item, "Item %d", i);
    if (mpmp_queue_put(a->q, item, (size_t)n + 1, MPMP_FOREVER) < 0)
      return mpmp_fail(ctx, "q.put(%s): %s", item, mpmp_errmsg());
    printf("Produced: %s\n", item);
    fflush(stdout);
    sleep_s(a->pause);
  }
  if (mpmp_queue_put(a->q, NULL, 0, MPMP_FOREVER) < 0) /* Sentinel */
    return mpmp_fail(ctx, "q.put(None): %s", mpmp_errmsg());
  return 0;
}
MPMP_TASK(producer);

/* Gets items from the queue. */
static int consumer(mpmp_ctx_t *ctx) {
  const args_t *a = mpmp_arg(ctx, NULL);
  for (;;) {
    char item[ITEM_MAX];
    size_t size;
    if (mpmp_queue_get(a->q, item, sizeof item, &size, MPMP_FOREVER) < 0)
      return mpmp_fail(ctx, "q.get(): %s", mpmp_errmsg());
    if (size == 0) /* Check for sentinel */
      break;
    printf("Consumed: %s\n", item);
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

  args_t a = {.pause = mpmp_app_pause(argc, argv, 0.5)};
  check(mpmp_queue_create(&a.q, 0, ITEM_MAX), "Queue()");
  mpmp_process_t *p1, *p2;
  check(mpmp_process_create(&p1, producer, &a, sizeof a, NULL), "Process");
  check(mpmp_process_create(&p2, consumer, &a, sizeof a, NULL), "Process");
  check(mpmp_process_start(p1), "p1.start()");
  check(mpmp_process_start(p2), "p2.start()");
  join(p1);
  join(p2);
  ran_on("producer", p1);
  ran_on("consumer", p2);
  printf("All tasks finished.\n");

  mpmp_process_destroy(p1);
  mpmp_process_destroy(p2);
  check(mpmp_queue_free(a.q), "free queue");
  return mpmp_finalize() < 0;
}
