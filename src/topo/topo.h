/*
 * Topology and pinning (hwloc): the lowest layer beside the runtime.
 *
 * Every rank binds itself, inside the cpuset the launcher gave it (cgroup,
 * Slurm, `mpirun --bind-to`): mpmp narrows a binding, never widens one.
 * Ranks of a node that were given the same cpuset form a group; the group is
 * spread over that cpuset by mpmp__place(), a pure function tested on
 * synthetic topologies.
 */
#ifndef MPMP_TOPO_H
#define MPMP_TOPO_H

#include <hwloc.h>
#include <mpi.h>
#include <stddef.h>

typedef enum {
  MPMP__BIND_CORE = 0, /* one core per rank (all its hardware threads) */
  MPMP__BIND_NUMA,     /* the whole NUMA domain of the rank's slot */
  MPMP__BIND_SOCKET,   /* the whole package of the rank's slot */
  MPMP__BIND_NONE      /* leave the binding the launcher gave */
} mpmp__bind_t;

/* Parse "core", "numa", "socket", "none". 0 or MPMP_EENV (message set). */
int mpmp__bind_parse(const char *s, mpmp__bind_t *out);
const char *mpmp__bind_name(mpmp__bind_t b);

/*
 * The cpuset for member `index` of a group of `nranks` ranks that share the
 * cpuset `allowed`, under policy `bind`. Ranks are dealt round-robin over the
 * NUMA domains (packages for MPMP__BIND_SOCKET) that intersect `allowed`,
 * each domain handing out its cores in order, so no core gets a second rank
 * while one is free and domains fill evenly. `out` is always a subset of
 * `allowed` (for MPMP__BIND_NONE: `allowed` itself). 0 or a negative code.
 */
int mpmp__place(hwloc_topology_t topo, hwloc_const_cpuset_t allowed,
                mpmp__bind_t bind, int nranks, int index, hwloc_cpuset_t out);

typedef struct mpmp__topo {
  hwloc_topology_t topo;
  hwloc_cpuset_t given;   /* the binding the launcher gave this process */
  hwloc_cpuset_t bound;   /* the binding after mpmp__topo_bind() */
  int node_cpus;          /* PUs in the union of the node's given cpusets */
  int crowded;            /* more node ranks may run on our PUs than we have */
} mpmp__topo_t;

/* Load the machine's topology and read the given binding. */
int mpmp__topo_init(mpmp__topo_t *t);
/*
 * Collective over node_comm: group the node's ranks by identical given
 * cpuset (allgather), compute each rank's place, bind the whole process
 * (all threads), read the binding back, and compute node_cpus and crowded
 * (a second allgather, of the bindings made).
 */
int mpmp__topo_bind(mpmp__topo_t *t, MPI_Comm node_comm, mpmp__bind_t bind);
/*
 * Describe the current binding: `cores` gets a list of core logical indexes
 * like "0" or "0-3,8" (PU OS indexes in brackets are not needed), `numa` the
 * OS index of the NUMA node it lies in (-1 when it spans several or none).
 */
int mpmp__topo_describe(const mpmp__topo_t *t, char *cores, size_t len,
                        int *numa);
/* Logical CPUs (PUs) this process may use right now; >= 1 or negative. */
int mpmp__topo_allowed_pus(void);
void mpmp__topo_fini(mpmp__topo_t *t);

#endif /* MPMP_TOPO_H */
