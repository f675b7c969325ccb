/* What the SharedMemory tests (test_shm_*.c) have in common. A block
 * belongs to its node, so bodies that must run on the main rank's node (or
 * on the other one) are placed with mpitest.h's start_where(). */
#ifndef MPMP_SHM_COMMON_H
#define MPMP_SHM_COMMON_H

#include "mpitest.h"

/* A non-NULL pointer that a failing create or attach must reset to NULL. */
extern int not_null_marker;
#define NOT_NULL ((void *)&not_null_marker)

/* An attach that must fail because blocks are per node (a check: EXPECT). */
int expect_not_here(char *err, const char *name);

/* This process's fds that are block `name` (the creator keeps one); the
 * last one's number in *fd unless fd is NULL. */
int memfds_of(const char *name, int *fd);
/* How many of this process's mappings are block `name`. */
int mapped(const char *name);
/* Entries under /dev/shm (two levels) whose name contains `sub`. */
int in_dev_shm(const char *sub);

#endif /* MPMP_SHM_COMMON_H */
