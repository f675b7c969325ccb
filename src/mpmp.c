/*
 * The front door: mpmp_init and mpmp_finalize, the one file that knows
 * every layer. It hands the runtime the table of the modules' hooks, in
 * the order of the layers, so that the runtime calls nothing above itself
 * (see the layers in base/base.h and runtime/rt.h for what each hook
 * does and when).
 */
#include "mpmp/comm.h"
#include "mgr.h"
#include "objects.h"
#include "parallel.h"

/* Python's atexit order at mpmp_finalize (exit_priority): pools first
 * (their finalizer's priority is 15), then managers (0), then the
 * processes still running are joined or terminated (_exit_function). */
enum { EXIT_POOL = 15, EXIT_MANAGER = 0, EXIT_PROCESS = -1 };
/* Before them all: the main rank's pipelined puts reach their queues
 * (Python's Queue joins its feeder thread at exit). */
enum { EXIT_PUTS = 100 };

static const mpmp__module_t modules[] = {
    /* objects: the node heap's objects, each kind's operations, names */
    {.name = "object", .init = mpmp__objects_init,
     .setup = mpmp__objects_setup, .finalize = mpmp__objects_finalize,
     .exit_priority = EXIT_PUTS, .fini = mpmp__objects_fini},
    {.name = "value", .setup = mpmp__value_setup},
    {.name = "sync", .setup = mpmp__sync_setup},
    {.name = "queue", .setup = mpmp__queue_setup},
    {.name = "shm", .fini = mpmp__shm_fini},
    /* parallel: processes, the workers' service loop, pools */
    {.name = "process", .init = mpmp__process_init,
     .setup = mpmp__process_setup, .finalize = mpmp__process_finalize,
     .exit_priority = EXIT_PROCESS, .fini = mpmp__process_fini},
    {.name = "worker", .init = mpmp__worker_init, .setup = mpmp__worker_setup,
     .serve = mpmp__worker_serve, .fini = mpmp__worker_fini},
    {.name = "pool", .setup = mpmp__pool_setup,
     .finalize = mpmp__pool_finalize, .exit_priority = EXIT_POOL},
    /* manager */
    {.name = "manager", .setup = mpmp__manager_setup,
     .finalize = mpmp__manager_finalize, .exit_priority = EXIT_MANAGER},
    /* the end of a batch job: SIGUSR1/SIGTERM, the walltime, checkpoints */
    {.name = "walltime", .init = mpmp__walltime_init,
     .setup = mpmp__walltime_setup, .fini = mpmp__walltime_fini},
    /* last: the task hosts' fork server copies every handler set above */
    {.name = "hosts", .setup = mpmp__hosts_setup},
};

/*
 * A program that initialized MPI itself and calls MPI_Finalize() while
 * mpmp still runs (mpmp_finalize() forgotten, or skipped on an error
 * path) left the worker ranks serving in their mpmp_init() and the main
 * rank in MPI_Finalize(): a job that hung until the launcher's time-out.
 * MPI_Finalize() first deletes the attributes of MPI_COMM_SELF, with MPI
 * still usable (MPI 3.1, 8.7.1): the main rank keeps one there whose
 * delete callback finalizes mpmp, with a warning, so that the workers
 * return MPMP_WORKER_DONE and the job ends. Set once per process (setting
 * it again would run the callback for the old value).
 */
static int on_mpi_finalize(MPI_Comm comm, int keyval, void *value,
                           void *extra) {
  (void)comm, (void)keyval, (void)value, (void)extra;
  /* (MPI is being finalized already: mpmp's teardown must not do it
   * again, should mpmp have started it) */
  mpmp__rt.mpi_owned = 0;
  if (mpmp_initialized() && mpmp_is_main() == 1 &&
      mpmp__runtime_finalize() == 0)
    MPMP__WARN("MPI_Finalize() was called while mpmp was running: mpmp "
               "was finalized then; call mpmp_finalize() before "
               "MPI_Finalize()");
  return MPI_SUCCESS;
}

static int arm_finalize_hook(int rc) {
  static int armed;
  int keyval;
  if (rc == MPMP_MAIN && !armed &&
      MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, on_mpi_finalize, &keyval,
                             NULL) == MPI_SUCCESS &&
      MPI_Comm_set_attr(MPI_COMM_SELF, keyval, NULL) == MPI_SUCCESS)
    armed = 1;
  return rc;
}

MPMP_API int mpmp_init(int *argc, char ***argv) {
  return arm_finalize_hook(mpmp__runtime_init(
      modules, (int)(sizeof modules / sizeof *modules), argc, argv));
}

MPMP_API int mpmp_init_comm(MPI_Comm comm, int root) {
  return arm_finalize_hook(mpmp__runtime_init_comm(
      modules, (int)(sizeof modules / sizeof *modules), comm, root));
}

MPMP_API int mpmp_finalize(void) {
  int rc = mpmp__may_wait("mpmp_finalize");
  return rc < 0 ? rc : mpmp__runtime_finalize();
}
