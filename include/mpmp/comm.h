/**
 * \file mpmp/comm.h
 * \brief mpmp inside an MPI program, on ranks it chooses (mpi4py's
 *        MPICommExecutor(comm, root)).
 *
 * Not included by mpmp.h: this header includes mpi.h, which a program of
 * mpmp alone need not see.
 *
 * \code
 * MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
 * MPI_Comm some;                          // the ranks that run a pool
 * MPI_Comm_split(MPI_COMM_WORLD, color, key, &some);
 * if (some != MPI_COMM_NULL) {
 *   int rc = mpmp_init_comm(some, 0);     // collective over `some`
 *   if (rc == MPMP_MAIN) {                // its rank 0: the main rank
 *     ... pools, queues, processes over the other ranks of `some` ...
 *     mpmp_finalize();                    // the workers return now
 *   }                                     // the workers: MPMP_WORKER_DONE
 * }
 * ... the program's own MPI ...
 * MPI_Finalize();
 * \endcode
 */
#ifndef MPMP_COMM_H
#define MPMP_COMM_H

#include <mpi.h>

#include "mpmp/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * mpmp_init() over the program's communicator \p comm, collective over
 * its ranks: rank \p root of \p comm is mpmp's main rank (its rank 0),
 * the others are its workers, in their order. MPI must be initialized by
 * the program, with MPI_THREAD_MULTIPLE, and stays the program's:
 * mpmp_finalize() does not finalize it, and mpmp may be started again
 * afterwards, over the same or another communicator. Ranks outside
 * \p comm do not call it and go on with their own MPI. \p comm is not
 * used by mpmp (it works on duplicates of it) and may be freed once this
 * returns.
 * \param comm  an intracommunicator of the program (MPI_COMM_WORLD, or one
 *              of its own).
 * \param root  the rank in \p comm that becomes mpmp's main rank.
 * \return as mpmp_init(): ::MPMP_MAIN on the root, ::MPMP_WORKER_DONE on
 * the others once the root has finalized; ::MPMP_EINVAL (MPI not
 * initialized or finalized, MPI_COMM_NULL, an intercommunicator, a root
 * outside the communicator: said on every rank, before any collective).
 */
MPMP_API int mpmp_init_comm(MPI_Comm comm, int root);

#ifdef __cplusplus
}
#endif
#endif /* MPMP_COMM_H */
