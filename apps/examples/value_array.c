/*
 * Python (tutorial "Shared State: Value and Array"):
 *
 *   def increment(counter, array):
 *       counter.value += 1
 *       for i in range(len(array)):
 *           array[i] += 1
 *
 *   counter = Value('i', 0); array = Array('d', [0.0, 1.0, 2.0])
 *   4 x Process(target=increment, args=(counter, array)); start; join
 *   print(counter.value)   # 4
 *   print(array[:])        # [4.0, 5.0, 6.0]
 *
 *   mpirun -n 5 build/apps/examples/value_array
 */
#include <stdio.h>
#include <unistd.h>

#include <mpmp.h>

typedef struct { mpmp_value_t counter; mpmp_array_t array; } args_t;

static int increment(mpmp_ctx_t *ctx) {
  const args_t *a = mpmp_arg(ctx, NULL);
  mpmp_lock_t lock; /* array[i] += 1 on doubles: a compound update */
  size_t n;
  mpmp_value_add(a->counter, 1, NULL); /* atomic: no lost update */
  mpmp_array_get_lock(a->array, &lock);
  mpmp_array_len(a->array, &n);
  mpmp_lock_acquire(lock, MPMP_FOREVER);
  for (size_t i = 0; i < n; i++) {
    double x;
    mpmp_array_get(a->array, i, &x);
    x += 1;
    mpmp_array_set(a->array, i, &x);
  }
  mpmp_lock_release(lock);
  printf("increment ran in pid %d (rank %d)\n", (int)getpid(),
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
  double init[3] = {0.0, 1.0, 2.0};
  mpmp_value_create(&a.counter, MPMP_INT32, NULL, 1); /* Value('i', 0) */
  mpmp_array_create(&a.array, MPMP_DOUBLE, 3, init, 1); /* Array('d', ...) */
  mpmp_process_t *procs[4];
  for (int i = 0; i < 4; i++) {
    mpmp_process_create(&procs[i], increment, &a, sizeof a, NULL);
    if (mpmp_process_start(procs[i]) < 0) {
      fprintf(stderr, "%s\n", mpmp_errmsg()); /* fewer than 4 workers */
      return 1;
    }
  }
  for (int i = 0; i < 4; i++) {
    mpmp_process_join(procs[i], MPMP_FOREVER);
    printf("%s ran on rank %d (pid %d)\n", mpmp_process_name(procs[i]),
           mpmp_process_rank(procs[i]), mpmp_process_pid(procs[i]));
    mpmp_process_destroy(procs[i]);
  }
  int64_t counter;
  double arr[3];
  mpmp_value_get_i64(a.counter, &counter);
  mpmp_array_read(a.array, 0, 3, arr);
  printf("%lld\n", (long long)counter);
  printf("[%.1f, %.1f, %.1f]\n", arr[0], arr[1], arr[2]);
  mpmp_value_free(a.counter);
  mpmp_array_free(a.array);
  return mpmp_finalize() < 0;
}
