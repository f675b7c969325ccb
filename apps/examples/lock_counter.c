/*
 * Python (tutorial "Synchronization: Lock"; also "Shared Counter with a Lock"):
 *
 *   def increment(counter, lock):
 *       for _ in range(10000):
 *           with lock:
 *               counter.value += 1
 *
 *   counter = Value('i', 0); lock = Lock()
 *   processes = [Process(target=increment, args=(counter, lock)) for _ in range(4)]
 *   ... start, join ...
 *   print(counter.value)  # 40000
 *
 *   mpirun -n 5 build/apps/examples/lock_counter
 */
#include <stdio.h>
#include <unistd.h>

#include <mpmp.h>

typedef struct { mpmp_value_t counter; mpmp_lock_t lock; } args_t;

static int increment(mpmp_ctx_t *ctx) {
  const args_t *a = mpmp_arg(ctx, NULL);
  for (int i = 0; i < 10000; i++) {
    mpmp_lock_acquire(a->lock, MPMP_FOREVER); /* with lock: */
    int32_t v;
    mpmp_value_load(a->counter, &v);          /*   counter.value += 1 */
    v += 1;
    mpmp_value_store(a->counter, &v);
    mpmp_lock_release(a->lock);
  }
  printf("pid %d (rank %d) did its 10000 increments\n", (int)getpid(),
         mpmp_rank());
  return 0;
}
MPMP_TASK(increment);

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  if (rc < 0) {
    if (!mpmp_is_main()) /* failed on every rank: rank 0 says so */
      return 0;
    fprintf(stderr, "mpmp_init: %s\n", mpmp_errmsg());
    return 1;
  }
  args_t a;
  mpmp_value_create(&a.counter, MPMP_INT32, NULL, 0); /* Value('i', 0) */
  mpmp_lock_create(&a.lock);                          /* Lock() */
  mpmp_process_t *procs[4];
  for (int i = 0; i < 4; i++) {
    mpmp_process_create(&procs[i], increment, &a, sizeof a, NULL);
    if (mpmp_process_start(procs[i]) < 0) {
      fprintf(stderr, "%s\n", mpmp_errmsg());
      return 1;
    }
  }
  for (int i = 0; i < 4; i++) {
    mpmp_process_join(procs[i], MPMP_FOREVER);
    printf("%s ran on rank %d (pid %d)\n", mpmp_process_name(procs[i]),
           mpmp_process_rank(procs[i]), mpmp_process_pid(procs[i]));
    mpmp_process_destroy(procs[i]);
  }
  int32_t v;
  mpmp_value_load(a.counter, &v);
  printf("%d\n", v);
  mpmp_lock_free(a.lock);
  mpmp_value_free(a.counter);
  return mpmp_finalize() < 0;
}
