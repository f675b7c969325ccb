/*
 * The manager layer's hooks (src/mpmp.c lists them): the Manager's
 * message handlers on every rank, and at mpmp_finalize the shutdown of
 * the servers the user left running (exit priority 0, after the pools',
 * as Python's Manager finalizer runs after a Pool's).
 */
#ifndef MPMP_MGR_H
#define MPMP_MGR_H

void mpmp__manager_setup(int is_main);
int mpmp__manager_finalize(void);

#endif /* MPMP_MGR_H */
