/*
 * Python (tutorial "Python Multiprocessing", "Why if __name__ ==
 * "__main__"?" and "Process Startup Methods"):
 *
 *   # Always use this pattern
 *   if __name__ == "__main__":
 *       main()
 *
 *   print(multiprocessing.get_start_method())
 *   multiprocessing.set_start_method('spawn')  # Windows default
 *   multiprocessing.set_start_method('fork')   # Unix default (faster)
 *
 * "On Windows, processes are spawned by re-importing the module. Without the
 * guard, you get infinite process spawning."
 *
 * mpmp has no start method: nothing is forked or spawned. mpirun starts all
 * the ranks at once, and each runs this program from the top of main(), as
 * a spawned child re-runs the module: what comes before mpmp_init() runs on
 * every rank. mpmp_init() is the guard:
 *
 *   - on rank 0 it returns MPMP_MAIN: this is the main process, the rest of
 *     main() runs there only;
 *   - on every other rank it does not return while the job runs: the rank
 *     waits inside it to run Process bodies and pool tasks (functions
 *     registered with MPMP_TASK on every rank, found by id: no pickling, no
 *     re-import, no copy of the main rank's memory) and to serve shared
 *     objects. When the main rank calls mpmp_finalize(), mpmp_init()
 *     returns MPMP_WORKER_DONE there, and main() must return.
 *
 * So a body sees what every rank set up before mpmp_init() and what its
 * argument carries, not what the main program changed afterwards: like
 * 'spawn', unlike 'fork'. This program shows it with a global that the main
 * program changes before it starts a Process.
 *
 *   mpirun -n 3 build/apps/examples/main_guard
 *
 * prints "before the guard" once per rank, the main program's lines once,
 * the body's line (from a worker rank), and "leaves main()" once per worker
 * rank at the end.
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

/* Module level: every rank starts with this value. */
static int setting = 1;

static int worker(mpmp_ctx_t *ctx) {
  mpmp_process_info_t me; /* multiprocessing.current_process() */
  if (mpmp_current_process(&me) < 0)
    return mpmp_fail(ctx, "current_process(): %s", mpmp_errmsg());
  printf("worker: %s, pid %d, rank %d, sees setting = %d\n", me.name, me.pid,
         me.rank, setting);
  fflush(stdout);
  return 0;
}
MPMP_TASK(worker);

int main(int argc, char **argv) {
  printf("before the guard: pid %d (every rank runs this)\n", (int)getpid());
  fflush(stdout);

  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE) { /* a worker rank, once the job is over */
    printf("a worker rank (pid %d) leaves main()\n", (int)getpid());
    return 0;
  }
  check(rc, "mpmp_init");

  /* if __name__ == "__main__": from here on, rank 0 only */
  mpmp_process_info_t me;
  check(mpmp_current_process(&me), "current_process()");
  printf("main: %s, pid %d, rank %d of %d ranks\n", me.name, me.pid, me.rank,
         mpmp_world_size());
  setting = 42;
  printf("main: setting = %d\n", setting);
  fflush(stdout);

  mpmp_process_t *p;
  check(mpmp_process_create(&p, worker, NULL, 0, NULL), "Process");
  check(mpmp_process_start(p), "p.start()");
  int code = -1;
  check(mpmp_process_join(p, MPMP_FOREVER), "p.join()");
  check(mpmp_process_exitcode(p, &code), "p.exitcode");
  if (code != 0) {
    fprintf(stderr, "worker exited with %d: %s\n", code,
            mpmp_process_errmsg(p));
    return 1;
  }
  mpmp_process_destroy(p);
  return mpmp_finalize() < 0;
}
