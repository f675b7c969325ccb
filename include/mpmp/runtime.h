/**
 * \file mpmp/runtime.h
 * \brief Start-up and shut-down of the job; who am I; how many cores.
 *
 * mpmp runs SPMD under mpirun. Rank 0 is the *main rank*: it runs the user's
 * program. Every other rank is a *worker rank*: inside mpmp_init() it serves
 * the main rank (process bodies, tasks, shared objects) until the main rank
 * calls mpmp_finalize(); then mpmp_init() returns ::MPMP_WORKER_DONE there and
 * the user's main() must return at once. This is C's
 * `if __name__ == "__main__":`
 *
 * \code
 * int main(int argc, char **argv) {
 *     int rc = mpmp_init(&argc, &argv);
 *     if (rc == MPMP_WORKER_DONE) return 0;       // worker ranks: job over
 *     if (rc < 0) { fprintf(stderr, "%s\n", mpmp_errmsg()); return 1; }
 *     ... the program, on the main rank only ...
 *     return mpmp_finalize() == 0 ? 0 : 1;
 * }
 * \endcode
 */
#ifndef MPMP_RUNTIME_H
#define MPMP_RUNTIME_H

#include "mpmp/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** mpmp_init() returned on the main rank: run the program. */
#define MPMP_MAIN 0
/** mpmp_init() returned on a worker rank after the job ended: return now. */
#define MPMP_WORKER_DONE 1

/**
 * Initialize mpmp (and MPI, unless the caller already did).
 *
 * Collective over MPI_COMM_WORLD. Reads the `MPMP_*` settings (the main
 * rank's, sent to every rank), binds the rank to cores with hwloc
 * (`MPMP_BIND`), builds the node communicator and the node's shared segment,
 * and checks that every rank registered the same tasks. A failure on any
 * rank fails mpmp_init() on every rank, each with a message that says what
 * to change (the failing rank's message reaches the others); no rank is
 * left waiting. mpmp's own communicators return MPI errors to mpmp
 * (MPI_ERRORS_RETURN); MPI_COMM_WORLD keeps the program's error handler.
 *
 * \param[in,out] argc  may be NULL; passed to MPI_Init_thread.
 * \param[in,out] argv  may be NULL.
 * \return ::MPMP_MAIN on rank 0; ::MPMP_WORKER_DONE on other ranks once the
 *         main rank has finalized (mpmp is then finalized there too); a
 *         negative code on error: ::MPMP_EENV for a setting outside its
 *         range (the message names the variable and the range) or an
 *         `MPMP_TRACE` file that cannot be opened; ::MPMP_ENOSPC when the
 *         node's shared segment (`MPMP_HEAP_SIZE`) does not fit in
 *         /dev/shm; ::MPMP_EMPI when an MPI call failed; ::MPMP_EMISMATCH
 *         when task tables differ; ::MPMP_EALREADY while mpmp runs
 *         (a second mpmp_init or mpmp_init_comm; the message names the
 *         call), or after MPI was finalized in this process.
 * \note If MPI was initialized by the caller it must provide
 *       MPI_THREAD_MULTIPLE, and mpmp leaves it initialized at the end;
 *       the program may then call mpmp_init() again after mpmp_finalize()
 *       (on every rank, as the first time), as often as it likes. Handles
 *       of an earlier round are stale (::MPMP_EBADF). If mpmp initialized
 *       MPI, mpmp_finalize() (or a failed mpmp_init()) finalizes it, and
 *       mpmp cannot be started again in that process.
 */
MPMP_API int mpmp_init(int *argc, char ***argv);

/**
 * Finish the job: join non-daemon processes, terminate daemon ones, stop the
 * worker ranks, write the `MPMP_TRACE` file, free shared memory, and
 * finalize MPI if mpmp started it. Main rank only.
 * \return 0, or a negative code (the job is shut down all the same):
 *         ::MPMP_ENOTINIT when mpmp is not running (a second call),
 *         ::MPMP_ENOTMAIN on a worker rank, ::MPMP_EENV when the trace
 *         file could not be written.
 */
MPMP_API int mpmp_finalize(void);

/** Whether mpmp runs. \return 1 between mpmp_init() and mpmp_finalize(),
 * else 0. */
MPMP_API int mpmp_initialized(void);
/** The calling rank's number. \return this rank in the job (0 = main
 * rank), or ::MPMP_ENOTINIT. */
MPMP_API int mpmp_rank(void);
/** The number of ranks. \return the number of ranks in the job, or
 * ::MPMP_ENOTINIT. */
MPMP_API int mpmp_world_size(void);
/** The worker ranks. \return the number of worker ranks (world size - 1),
 * or ::MPMP_ENOTINIT. */
MPMP_API int mpmp_worker_count(void);
/** Whether this is the main rank. After a failed mpmp_init(), whether
 * this rank is the one to report the failure: the job's rank 0 (known
 * from MPI, or from the launcher's OMPI_COMM_WORLD_RANK or PMI_RANK; every
 * rank when neither says), since a failure is most often the same on
 * every rank and should be printed once.
 * \return 1 on the main rank, 0 on a worker rank, also after the run
 * ended (mpmp_finalize() on the main rank, ::MPMP_WORKER_DONE on a
 * worker: a rank's role does not change); after a failed init 1 on the
 * reporting rank, else 0; ::MPMP_ENOTINIT before any mpmp_init().
 * \note ::MPMP_ENOTINIT is negative, so `if (mpmp_is_main())` is true
 * before init: compare with 1 where that can happen. */
MPMP_API int mpmp_is_main(void);
/** The number of nodes. \return the number of nodes the job spans, or
 * ::MPMP_ENOTINIT. */
MPMP_API int mpmp_node_count(void);
/** This rank's node. \return the index of this rank's node
 * (0..node_count-1), or ::MPMP_ENOTINIT. */
MPMP_API int mpmp_node_id(void);
/** This rank's node name. \return this node's name
 * (MPI_Get_processor_name), or "" before init. */
MPMP_API const char *mpmp_node_name(void);

/**
 * The number of logical CPUs this job may use on this node: the union of
 * the cpusets the launcher (cgroup, Slurm, `mpirun --bind-to`) gave the
 * node's ranks, like Python's os.process_cpu_count(). Works before
 * mpmp_init() too (then: this process's allowed CPUs).
 * \return a count >= 1, or ::MPMP_ETOPO when hwloc cannot count them.
 */
MPMP_API int mpmp_cpu_count(void);

/** The library's version (that of the headers is in mpmp/version.h).
 * \return the run-time version "MAJOR.MINOR.PATCH". */
MPMP_API const char *mpmp_version(void);
/** The library's version as a number. \return the run-time version as
 * 0xMMmmpp (compare with ::MPMP_VERSION_HEX). */
MPMP_API unsigned mpmp_version_hex(void);

/**
 * Print the binding table (rank, node, pid, cores, NUMA node, role) of every
 * rank to \p out. Main rank only; what MPMP_REPORT_BINDINGS=1 prints at
 * init.
 * \param out  a `FILE *`; NULL: stdout.
 * \return 0, ::MPMP_ENOTINIT, or ::MPMP_ENOTMAIN on a worker rank.
 */
MPMP_API int mpmp_print_bindings(void *out);

/**
 * Print every MPMP_* setting, its value, where it came from (environment
 * or default) and the values it takes to \p out; what MPMP_INFO=1 prints
 * at init. Before mpmp_init(): what init would use.
 * \param out  a `FILE *`; NULL: stdout.
 * \return 0, or before mpmp_init() ::MPMP_EENV (with the message init
 * would give) for a value outside its range.
 */
MPMP_API int mpmp_print_settings(void *out);

#ifdef __cplusplus
}
#endif
#endif /* MPMP_RUNTIME_H */
