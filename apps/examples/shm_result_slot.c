/*
 * Python (tutorial "Multiprocessing", "Sharing data: shared_memory", mp9.py):
 *
 *   def prod(x, shm_name, index):
 *       # Connect to the shared memory block
 *       shm = shared_memory.SharedMemory(name=shm_name)
 *       results = np.ndarray((10,), dtype=np.int64, buffer=shm.buf)
 *       square = 0
 *       for i in x:
 *           time.sleep(1)
 *           square += i * i
 *           print(f"Process {os.getpid()} is calculating square of {i}")
 *       # Write result to shared memory at given index
 *       results[index] = square
 *       shm.close()
 *
 *   if __name__ == "__main__":
 *       # Create shared array with 10 slots (adjust as needed)
 *       shm = shared_memory.SharedMemory(create=True, size=10 * np.int64().nbytes)
 *       results = np.ndarray((1,), dtype=np.int64, buffer=shm.buf)
 *       results[:] = 0  # Initialize
 *       x = [1, 2, 3, 4, 5, 6, 7, 8, 9]
 *       p = multiprocessing.Process(target=prod, args=(x, shm.name, 0))
 *       p.start()
 *       p.join()
 *       print("Final shared memory results:", results[:])
 *       shm.close()
 *       shm.unlink()  # Clean up shared memory
 *
 * prints "Final shared memory results: [285]" (the parent's view is slot 0
 * only). Each line also names the mpmp rank that runs the body. The pause
 * per item (1 s in the tutorial) is the optional argument:
 *
 *   mpirun -n 2 build/apps/examples/shm_result_slot [seconds]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
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

/* args=(x, shm.name, 0), and the pause */
typedef struct {
  int x[9];
  char shm_name[MPMP_SHM_NAME_SIZE];
  int index;
  double pause;
} prod_args_t;

static int prod(mpmp_ctx_t *ctx) {
  const prod_args_t *a = mpmp_arg(ctx, NULL);
  mpmp_shm_t *shm; /* Connect to the shared memory block */
  if (mpmp_shm_attach(&shm, a->shm_name) < 0)
    return mpmp_fail(ctx, "SharedMemory(name=%s): %s", a->shm_name,
                     mpmp_errmsg());
  int64_t *results = mpmp_shm_buf(shm); /* 10 int64 slots */
  int64_t square = 0;
  for (int k = 0; k < 9; k++) {
    int i = a->x[k];
    sleep_s(a->pause);
    square += i * i;
    printf("Process %d (rank %d) is calculating square of %d\n",
           (int)getpid(), mpmp_rank(), i);
    fflush(stdout);
  }
  results[a->index] = square; /* Write result to shared memory at index */
  mpmp_shm_close(shm);
  return 0;
}
MPMP_TASK(prod);

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0; /* worker ranks: the job is over */
  check(rc, "mpmp_init");

  mpmp_shm_t *shm; /* shared array with 10 slots */
  check(mpmp_shm_create(&shm, NULL, 10 * sizeof(int64_t)), "SharedMemory");
  int64_t *results = mpmp_shm_buf(shm); /* the parent looks at slot 0 */
  results[0] = 0;                       /* Initialize */

  prod_args_t a = {.x = {1, 2, 3, 4, 5, 6, 7, 8, 9}, .index = 0};
  a.pause = mpmp_app_pause(argc, argv, 1.0);
  snprintf(a.shm_name, sizeof a.shm_name, "%s", mpmp_shm_name(shm));
  mpmp_process_t *p;
  check(mpmp_process_create(&p, prod, &a, sizeof a, NULL), "Process");
  check(mpmp_process_start(p), "p.start()");
  join(p);
  mpmp_process_destroy(p);
  printf("Final shared memory results: [%lld]\n", (long long)results[0]);

  check(mpmp_shm_unlink(shm), "shm.unlink()"); /* Clean up shared memory */
  check(mpmp_shm_close(shm), "shm.close()");
  return mpmp_finalize() < 0;
}
