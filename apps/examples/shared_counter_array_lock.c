/*
 * Python (tutorial "Using Shared Memory (Value and Array) with a Lock"):
 *
 *   def shared_memory_worker(shared_value, shared_array, lock):
 *       for _ in range(5):
 *           with lock:
 *               shared_value.value += 1
 *               for i in range(len(shared_array)):
 *                   shared_array[i] += 1
 *           print(f"[Shared Mem Worker, PID: {os.getpid()}] Incremented. "
 *                 f"Current value: {shared_value.value}")
 *           time.sleep(0.01)
 *
 *   lock = Lock(); shared_counter = Value('i', 0)
 *   shared_array = Array('i', [10, 20, 30, 40])
 *   4 processes; start; join
 *   Final shared counter: 20
 *   Final shared array: [30, 40, 50, 60]
 *
 *   mpirun -n 5 build/apps/examples/shared_counter_array_lock
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <mpmp.h>

typedef struct {
  mpmp_value_t value;
  mpmp_array_t array;
  mpmp_lock_t lock;
} args_t;

static int shared_memory_worker(mpmp_ctx_t *ctx) {
  const args_t *a = mpmp_arg(ctx, NULL);
  for (int k = 0; k < 5; k++) {
    int64_t v;
    mpmp_lock_acquire(a->lock, MPMP_FOREVER);
    mpmp_value_add(a->value, 1, &v);
    for (size_t i = 0; i < 4; i++)
      mpmp_array_add(a->array, i, 1, NULL);
    mpmp_lock_release(a->lock);
    printf("[Shared Mem Worker, PID: %d, rank %d] Incremented. Current "
           "value: %lld\n", (int)getpid(), mpmp_rank(), (long long)v + 1);
    fflush(stdout);
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
  return 0;
}
MPMP_TASK(shared_memory_worker);

static void print_state(const char *when, const args_t *a) {
  int32_t v, arr[4];
  mpmp_value_load(a->value, &v);
  mpmp_array_read(a->array, 0, 4, arr);
  printf("%s shared counter: %d\n", when, v);
  printf("%s shared array: [%d, %d, %d, %d]\n", when, arr[0], arr[1], arr[2],
         arr[3]);
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
  printf("--- Starting Shared Memory (Value, Array, Lock) Example ---\n");
  args_t a;
  int32_t initial[4] = {10, 20, 30, 40};
  mpmp_lock_create(&a.lock);
  mpmp_value_create(&a.value, mpmp_typecode('i'), NULL, 1);
  mpmp_array_create(&a.array, mpmp_typecode('i'), 4, initial, 1);
  print_state("Initial", &a);
  mpmp_process_t *procs[4];
  for (int i = 0; i < 4; i++) {
    mpmp_process_create(&procs[i], shared_memory_worker, &a, sizeof a, NULL);
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
  printf("Final Results:\n");
  print_state("Final", &a);
  printf("--- Shared Memory Example Finished ---\n");
  mpmp_value_free(a.value);
  mpmp_array_free(a.array);
  mpmp_lock_free(a.lock);
  return mpmp_finalize() < 0;
}
