/*
 * Python (tutorials "Sharing Data Between Processes: Example Using Value"
 * and "from multiprocessing import Process, Value"):
 *
 *   def increment(counter):
 *       for _ in range(100000):
 *           counter.value += 1
 *   counter = Value('i', 0)
 *   two processes; start; join
 *   print(f"Final Counter Value: {counter.value}")
 *
 *   def add_one(num): num.value += 1
 *   num = Value('i', 10); p = Process(target=add_one, args=(num,)); ...
 *   print(num.value)   # 11
 *
 * Python's `counter.value += 1` is a read then a write, so two processes
 * lose updates and print less than 200000; mpmp_value_add is one atomic
 * add, so this prints exactly 200000.
 *
 *   mpirun -n 3 build/apps/examples/value_counter
 */
#include <stdio.h>
#include <unistd.h>

#include <mpmp.h>

typedef struct { mpmp_value_t counter; } args_t;

static int increment(mpmp_ctx_t *ctx) {
  const args_t *a = mpmp_arg(ctx, NULL);
  for (int i = 0; i < 100000; i++)
    mpmp_value_add(a->counter, 1, NULL);
  printf("pid %d (rank %d) added 100000\n", (int)getpid(), mpmp_rank());
  return 0;
}
MPMP_TASK(increment);

static int add_one(mpmp_ctx_t *ctx) {
  const args_t *a = mpmp_arg(ctx, NULL);
  return mpmp_value_add(a->counter, 1, NULL);
}
MPMP_TASK(add_one);

static void run(mpmp_task_fn fn, const args_t *a, int nproc) {
  mpmp_process_t *procs[2];
  for (int i = 0; i < nproc; i++) {
    mpmp_process_create(&procs[i], fn, a, sizeof *a, NULL);
    mpmp_process_start(procs[i]);
  }
  for (int i = 0; i < nproc; i++) {
    mpmp_process_join(procs[i], MPMP_FOREVER);
    mpmp_process_destroy(procs[i]);
  }
}

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
  if (mpmp_worker_count() < 2) {
    fprintf(stderr, "value_counter needs 2 worker ranks: mpirun -n 3\n");
    mpmp_finalize();
    return 1;
  }
  args_t a;
  int32_t ten = 10;
  int64_t v;
  mpmp_value_create(&a.counter, MPMP_INT32, NULL, 1); /* Value('i', 0) */
  run(increment, &a, 2);
  mpmp_value_get_i64(a.counter, &v);
  printf("Final Counter Value: %lld\n", (long long)v);
  mpmp_value_free(a.counter);

  mpmp_value_create(&a.counter, MPMP_INT32, &ten, 1); /* Value('i', 10) */
  run(add_one, &a, 1);
  mpmp_value_get_i64(a.counter, &v);
  printf("%lld\n", (long long)v);
  mpmp_value_free(a.counter);
  return mpmp_finalize() < 0;
}
