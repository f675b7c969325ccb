/*
 * Python (tutorial "Multiprocessing", "Sharing data: shared_memory", mp8.py):
 *
 *   def read_data(shm_name):
 *       shm = shared_memory.SharedMemory(name=shm_name)
 *       data = np.ndarray((4,), dtype=np.float64, buffer=shm.buf)
 *       print("Data imported:", data[:])
 *       shm.close()
 *
 *   if __name__ == "__main__":
 *       shm = shared_memory.SharedMemory(create=True, size=4 * np.float64().nbytes)
 *       arr = np.ndarray((4,), dtype=np.float64, buffer=shm.buf)
 *       arr[:] = [1.1, 2.2, 3.3, 4.4]
 *       p = multiprocessing.Process(target=read_data, args=(shm.name,))
 *       p.start()
 *       p.join()
 *       shm.close()
 *       shm.unlink()
 *
 * prints "Data imported: [1.1 2.2 3.3 4.4]" (numpy's format). The body also
 * says which process and mpmp rank attached the block. A SharedMemory block
 * is seen by the ranks of the node that created it, as Python's by the
 * processes of one machine.
 *
 *   mpirun -n 2 build/apps/examples/shm_read_array
 */
#include <stdio.h>
#include <stdlib.h>
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

/* args=(shm.name,) */
typedef struct {
  char shm_name[MPMP_SHM_NAME_SIZE];
} read_args_t;

static int read_data(mpmp_ctx_t *ctx) {
  const read_args_t *a = mpmp_arg(ctx, NULL);
  mpmp_shm_t *shm;
  if (mpmp_shm_attach(&shm, a->shm_name) < 0) /* SharedMemory(name=shm_name) */
    return mpmp_fail(ctx, "SharedMemory(name=%s): %s", a->shm_name,
                     mpmp_errmsg());
  const double *data = mpmp_shm_buf(shm);
  printf("read_data: process %d (rank %d) attached %s\n", (int)getpid(),
         mpmp_rank(), mpmp_shm_name(shm));
  printf("Data imported: [%g %g %g %g]\n", data[0], data[1], data[2], data[3]);
  fflush(stdout);
  mpmp_shm_close(shm);
  return 0;
}
MPMP_TASK(read_data);

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0; /* worker ranks: the job is over */
  check(rc, "mpmp_init");

  mpmp_shm_t *shm; /* SharedMemory(create=True, size=4 * 8): a fresh name */
  check(mpmp_shm_create(&shm, NULL, 4 * sizeof(double)), "SharedMemory");
  double *arr = mpmp_shm_buf(shm);
  arr[0] = 1.1;
  arr[1] = 2.2;
  arr[2] = 3.3;
  arr[3] = 4.4;

  read_args_t a;
  snprintf(a.shm_name, sizeof a.shm_name, "%s", mpmp_shm_name(shm));
  mpmp_process_t *p;
  check(mpmp_process_create(&p, read_data, &a, sizeof a, NULL), "Process");
  check(mpmp_process_start(p), "p.start()");
  join(p);
  mpmp_process_destroy(p);

  check(mpmp_shm_unlink(shm), "shm.unlink()"); /* shm.close(); shm.unlink() */
  check(mpmp_shm_close(shm), "shm.close()");
  return mpmp_finalize() < 0;
}
