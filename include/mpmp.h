/**
 * \file mpmp.h
 * \brief mpmp: Python's multiprocessing and concurrent.futures on MPI ranks.
 *
 * The umbrella header; each concept has its own header under mpmp/.
 */
#ifndef MPMP_H
#define MPMP_H

#include "mpmp/version.h"
#include "mpmp/common.h"
#include "mpmp/runtime.h"
#include "mpmp/task.h"
#include "mpmp/process.h"
#include "mpmp/pool.h"
#include "mpmp/executor.h"
#include "mpmp/shared.h"
#include "mpmp/sync.h"
#include "mpmp/queue.h"
#include "mpmp/manager.h"
#include "mpmp/shm.h"

#endif /* MPMP_H */
