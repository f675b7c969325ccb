/*
 * Python (tutorial "Python Multiprocessing", "Shared Memory (Python 3.8+)"):
 *
 *   if __name__ == "__main__":
 *       # Create shared memory
 *       arr = np.array([1, 2, 3, 4, 5])
 *       shm = shared_memory.SharedMemory(create=True, size=arr.nbytes)
 *       # Create numpy array backed by shared memory
 *       shared_arr = np.ndarray(arr.shape, dtype=arr.dtype, buffer=shm.buf)
 *       shared_arr[:] = arr[:]
 *
 *       # In another process, attach to shared memory
 *       def worker(shm_name, shape, dtype):
 *           existing_shm = shared_memory.SharedMemory(name=shm_name)
 *           arr = np.ndarray(shape, dtype=dtype, buffer=existing_shm.buf)
 *           arr *= 2  # Modify in place
 *           existing_shm.close()
 *
 *       # Cleanup
 *       shm.close()
 *       shm.unlink()
 *
 * The tutorial defines worker but never runs it; here a Process runs it
 * (Process(target=worker, args=(shm.name, arr.shape, arr.dtype))) and the
 * parent prints the array before and after, as numpy would:
 *
 *   [1 2 3 4 5]
 *   [ 2  4  6  8 10]
 *
 * The dtype is C's: the block holds int64_t (numpy's default int), so the
 * body gets the name and the shape only.
 *
 *   mpirun -n 2 build/apps/examples/shm_double_in_place
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* print(a): numpy pads every number to the width of the widest */
static void print_array(const int64_t *a, size_t n) {
  int width = 1;
  for (size_t i = 0; i < n; i++) {
    int w = snprintf(NULL, 0, "%lld", (long long)a[i]);
    if (w > width)
      width = w;
  }
  printf("[");
  for (size_t i = 0; i < n; i++)
    printf(i ? " %*lld" : "%*lld", width, (long long)a[i]);
  printf("]\n");
}

/* args=(shm_name, shape) */
typedef struct {
  char shm_name[MPMP_SHM_NAME_SIZE];
  size_t shape;
} worker_args_t;

static int worker(mpmp_ctx_t *ctx) {
  const worker_args_t *a = mpmp_arg(ctx, NULL);
  mpmp_shm_t *existing_shm;
  if (mpmp_shm_attach(&existing_shm, a->shm_name) < 0)
    return mpmp_fail(ctx, "SharedMemory(name=%s): %s", a->shm_name,
                     mpmp_errmsg());
  int64_t *arr = mpmp_shm_buf(existing_shm);
  for (size_t i = 0; i < a->shape; i++)
    arr[i] *= 2; /* Modify in place */
  printf("worker: process %d (rank %d) doubled %s in place\n", (int)getpid(),
         mpmp_rank(), a->shm_name);
  fflush(stdout);
  mpmp_shm_close(existing_shm);
  return 0;
}
MPMP_TASK(worker);

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0; /* worker ranks: the job is over */
  check(rc, "mpmp_init");

  const int64_t arr[] = {1, 2, 3, 4, 5};
  size_t shape = sizeof arr / sizeof *arr;
  mpmp_shm_t *shm; /* Create shared memory */
  check(mpmp_shm_create(&shm, NULL, sizeof arr), "SharedMemory");
  int64_t *shared_arr = mpmp_shm_buf(shm); /* backed by shared memory */
  memcpy(shared_arr, arr, sizeof arr);     /* shared_arr[:] = arr[:] */
  print_array(shared_arr, shape);

  worker_args_t a = {.shape = shape}; /* In another process, attach */
  snprintf(a.shm_name, sizeof a.shm_name, "%s", mpmp_shm_name(shm));
  mpmp_process_t *p;
  check(mpmp_process_create(&p, worker, &a, sizeof a, NULL), "Process");
  check(mpmp_process_start(p), "p.start()");
  join(p);
  mpmp_process_destroy(p);
  print_array(shared_arr, shape);

  check(mpmp_shm_unlink(shm), "shm.unlink()"); /* Cleanup */
  check(mpmp_shm_close(shm), "shm.close()");
  return mpmp_finalize() < 0;
}
