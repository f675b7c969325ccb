/*
 * Topology and pinning with hwloc (the design is in topo.h).
 *
 * mpmp__place() is a pure function of the topology, the group's cpuset and
 * the rank's index, so the placement rules are tested on synthetic machines
 * (tests/unit/test_placement.c). mpmp__topo_bind() only adds the collective
 * that finds the group and the system calls that bind and read back.
 *
 * Dealing order: the cpuset `allowed` is cut into disjoint domains (NUMA
 * nodes, or packages for MPMP_BIND=socket; PUs outside every node form one
 * more domain). Slot s of the dealing sequence is found by taking, round
 * after round, the k-th core of each domain that still has one, so domains
 * of unequal size fill evenly until the small ones run out, and every core
 * gets a rank before any gets a second one (rank i takes slot i mod cores).
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base.h"
#include "topo.h"

/* ---- policy names ------------------------------------------------------- */

/* Indexed by mpmp__bind_t; read-only, so not mutable state. */
static const char *const bind_names[] = {"core", "numa", "socket", "none"};
enum { NBIND = (int)(sizeof bind_names / sizeof bind_names[0]) };

int mpmp__bind_parse(const char *s, mpmp__bind_t *out) {
  if (out == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp__bind_parse: out is NULL");
  /* An unset value means the default, as the settings table says. */
  if (s == NULL) {
    *out = MPMP__BIND_CORE;
    return 0;
  }
  /* Case is ignored, as for the boolean settings ("Core" is no typo). */
  for (int i = 0; i < NBIND; i++) {
    if (strcasecmp(s, bind_names[i]) == 0) {
      *out = (mpmp__bind_t)i;
      return 0;
    }
  }
  return mpmp__err(MPMP_EENV,
                   "MPMP_BIND='%s' is not a binding policy: use core, numa, "
                   "socket or none",
                   s);
}

const char *mpmp__bind_name(mpmp__bind_t b) {
  if ((int)b < 0 || (int)b >= NBIND)
    return "unknown";
  return bind_names[b];
}

/* ---- placement ---------------------------------------------------------- */

/* The domains that ranks are dealt over: disjoint parts of `allowed`. */
typedef struct domains {
  hwloc_bitmap_t *set; /* the domain's PUs, all within allowed */
  int *units;          /* how many cores (or PUs) lie in the domain */
  int n;
  int total;           /* units of all domains */
} domains_t;

static void domains_free(domains_t *d) {
  for (int i = 0; i < d->n; i++)
    hwloc_bitmap_free(d->set[i]);
  mpmp__free(d->set);
  mpmp__free(d->units);
  memset(d, 0, sizeof *d);
}

/*
 * Take what is left of `rest` inside `cpus` as a new domain and remove it
 * from `rest`. Removing it keeps domains disjoint even where NUMA nodes
 * share cpus (memory-only nodes have the cpuset of their parent). -1 when
 * out of memory.
 */
static int domains_add(domains_t *d, hwloc_const_cpuset_t cpus,
                       hwloc_bitmap_t rest) {
  hwloc_bitmap_t s = hwloc_bitmap_alloc();
  if (s == NULL || hwloc_bitmap_and(s, cpus, rest) < 0) {
    hwloc_bitmap_free(s);
    return -1;
  }
  d->set[d->n++] = s;
  return hwloc_bitmap_andnot(rest, rest, s);
}

/* Cut `allowed` into the domains of objects of `type`, in logical order. */
static int domains_collect(hwloc_topology_t topo, hwloc_const_cpuset_t allowed,
                           hwloc_obj_type_t type, domains_t *d) {
  int nobj = hwloc_get_nbobjs_by_type(topo, type);
  if (nobj < 0) /* several depths: only groups do that, never ours */
    nobj = 0;
  hwloc_bitmap_t rest = hwloc_bitmap_dup(allowed);
  d->set = mpmp__calloc((size_t)nobj + 1, sizeof *d->set);
  d->units = mpmp__calloc((size_t)nobj + 1, sizeof *d->units);
  if (rest == NULL || d->set == NULL || d->units == NULL)
    goto nomem;
  hwloc_obj_t o = NULL;
  while (nobj > 0 && (o = hwloc_get_next_obj_by_type(topo, type, o)) != NULL) {
    if (o->cpuset != NULL && hwloc_bitmap_intersects(o->cpuset, rest) &&
        domains_add(d, o->cpuset, rest) < 0)
      goto nomem;
  }
  /* PUs in no domain (no NUMA information, no packages) make one more. */
  if (!hwloc_bitmap_iszero(rest) && domains_add(d, rest, rest) < 0)
    goto nomem;
  hwloc_bitmap_free(rest);
  return 0;
nomem:
  hwloc_bitmap_free(rest);
  domains_free(d);
  return mpmp__err(MPMP_ENOMEM, "out of memory while placing ranks");
}

/* Ranks get cores; a machine that reports no cores gets PUs instead. */
static hwloc_obj_type_t unit_type(hwloc_topology_t topo) {
  return hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE) > 0 ? HWLOC_OBJ_CORE
                                                             : HWLOC_OBJ_PU;
}

/*
 * The domain that holds the unit with PUs `cpus`: the first one it meets.
 * -1 when the unit has no PU in the domains, that is none in `allowed`.
 */
static int domain_of(const domains_t *d, hwloc_const_cpuset_t cpus) {
  for (int i = 0; i < d->n; i++)
    if (hwloc_bitmap_intersects(d->set[i], cpus))
      return i;
  return -1;
}

static void domains_count_units(hwloc_topology_t topo, domains_t *d) {
  hwloc_obj_type_t type = unit_type(topo);
  hwloc_obj_t u = NULL;
  while ((u = hwloc_get_next_obj_by_type(topo, type, u)) != NULL) {
    int i = domain_of(d, u->cpuset);
    if (i >= 0) {
      d->units[i]++;
      d->total++;
    }
  }
}

/*
 * Slot `pos` of the dealing sequence: round k hands out the k-th unit of
 * every domain that has more than k units. Ends because pos < d->total.
 */
static void deal_slot(const domains_t *d, int pos, int *dom, int *k) {
  for (int round = 0;; round++) {
    for (int i = 0; i < d->n; i++) {
      if (d->units[i] > round && pos-- == 0) {
        *dom = i;
        *k = round;
        return;
      }
    }
  }
}

/* The k-th unit (in logical order) of domain `dom`. */
static hwloc_obj_t domain_unit(hwloc_topology_t topo, const domains_t *d,
                               int dom, int k) {
  hwloc_obj_type_t type = unit_type(topo);
  hwloc_obj_t u = NULL;
  while ((u = hwloc_get_next_obj_by_type(topo, type, u)) != NULL)
    if (domain_of(d, u->cpuset) == dom && k-- == 0)
      return u;
  return NULL;
}

static int place_check(hwloc_topology_t topo, hwloc_const_cpuset_t allowed,
                       mpmp__bind_t bind, int nranks, int index,
                       hwloc_cpuset_t out) {
  if (topo == NULL || allowed == NULL || out == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp__place: NULL topology or cpuset");
  if ((int)bind < 0 || (int)bind >= NBIND)
    return mpmp__err(MPMP_EINVAL, "mpmp__place: unknown policy %d", (int)bind);
  if (nranks < 1 || index < 0 || index >= nranks)
    return mpmp__err(MPMP_EINVAL,
                     "mpmp__place: rank %d of a group of %d does not exist",
                     index, nranks);
  if (hwloc_bitmap_iszero(allowed))
    return mpmp__err(MPMP_EINVAL, "mpmp__place: the allowed cpuset is empty");
  return 0;
}

/* Deal slot index mod cores and write what the policy binds to. */
static int place_dealt(hwloc_topology_t topo, hwloc_const_cpuset_t allowed,
                       const domains_t *d, mpmp__bind_t bind, int index,
                       hwloc_cpuset_t out) {
  int dom = 0, k = 0, rc;
  if (d->total == 0)
    return mpmp__err(MPMP_EINVAL,
                     "mpmp__place: the allowed cpuset has no PU of this "
                     "machine");
  deal_slot(d, index % d->total, &dom, &k);
  hwloc_obj_t u = domain_unit(topo, d, dom, k);
  if (u == NULL) /* counted above, so only a changed topology gets here */
    return mpmp__err(MPMP_ETOPO, "mpmp__place: core %d of domain %d is gone",
                     k, dom);
  if (bind == MPMP__BIND_CORE)
    rc = hwloc_bitmap_and(out, u->cpuset, allowed);
  else
    rc = hwloc_bitmap_copy(out, d->set[dom]);
  return rc < 0 ? mpmp__err(MPMP_ENOMEM, "out of memory while placing ranks")
                : 0;
}

int mpmp__place(hwloc_topology_t topo, hwloc_const_cpuset_t allowed,
                mpmp__bind_t bind, int nranks, int index, hwloc_cpuset_t out) {
  int rc = place_check(topo, allowed, bind, nranks, index, out);
  if (rc < 0)
    return rc;
  if (bind == MPMP__BIND_NONE)
    return hwloc_bitmap_copy(out, allowed) < 0
               ? mpmp__err(MPMP_ENOMEM, "out of memory while placing ranks")
               : 0;
  domains_t d = {0};
  hwloc_obj_type_t type =
      bind == MPMP__BIND_SOCKET ? HWLOC_OBJ_PACKAGE : HWLOC_OBJ_NUMANODE;
  if ((rc = domains_collect(topo, allowed, type, &d)) < 0)
    return rc;
  domains_count_units(topo, &d);
  rc = place_dealt(topo, allowed, &d, bind, index, out);
  domains_free(&d);
  return rc;
}

/* ---- the machine: load, bind, describe ---------------------------------- */

/*
 * The launcher's binding: the union of the affinities of all the process's
 * threads (MPI may have started some), within the PUs the topology lets us
 * use. When it cannot be read, all of those PUs.
 */
static int read_given(mpmp__topo_t *t) {
  hwloc_const_cpuset_t avail = hwloc_topology_get_allowed_cpuset(t->topo);
  if (hwloc_get_cpubind(t->topo, t->given, HWLOC_CPUBIND_PROCESS) == 0 &&
      hwloc_bitmap_and(t->given, t->given, avail) == 0 &&
      !hwloc_bitmap_iszero(t->given))
    return 0;
  if (hwloc_bitmap_copy(t->given, avail) < 0)
    return mpmp__err(MPMP_ENOMEM, "out of memory reading the binding");
  return 0;
}

int mpmp__topo_init(mpmp__topo_t *t) {
  int rc;
  if (t == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp__topo_init: NULL topology");
  memset(t, 0, sizeof *t);
  /* hwloc 2.x breaks its ABI between major versions only. */
  if ((hwloc_get_api_version() >> 16) != (HWLOC_API_VERSION >> 16))
    return mpmp__err(MPMP_ETOPO, "mpmp was built with hwloc API 0x%x but "
                     "runs with 0x%x: rebuild mpmp against this hwloc",
                     (unsigned)HWLOC_API_VERSION, hwloc_get_api_version());
  if (hwloc_topology_init(&t->topo) < 0) {
    t->topo = NULL;
    return mpmp__err(MPMP_ETOPO, "hwloc_topology_init failed: %s",
                     strerror(errno));
  }
  if (hwloc_topology_load(t->topo) < 0) {
    rc = mpmp__err(MPMP_ETOPO, "hwloc_topology_load failed: %s",
                   strerror(errno));
    goto fail;
  }
  t->given = hwloc_bitmap_alloc();
  t->bound = hwloc_bitmap_alloc();
  if (t->given == NULL || t->bound == NULL) {
    rc = mpmp__err(MPMP_ENOMEM, "out of memory loading the topology");
    goto fail;
  }
  if ((rc = read_given(t)) < 0)
    goto fail;
  if (hwloc_bitmap_copy(t->bound, t->given) < 0) {
    rc = mpmp__err(MPMP_ENOMEM, "out of memory loading the topology");
    goto fail;
  }
  t->node_cpus = hwloc_bitmap_weight(t->given);
  return 0;
fail:
  mpmp__topo_fini(t);
  return rc;
}

void mpmp__topo_fini(mpmp__topo_t *t) {
  if (t == NULL)
    return;
  hwloc_bitmap_free(t->bound);
  hwloc_bitmap_free(t->given);
  if (t->topo != NULL)
    hwloc_topology_destroy(t->topo);
  memset(t, 0, sizeof *t);
}

/* Every node rank's given cpuset, as hwloc list strings ("0-3,8"). */
typedef struct node_sets {
  char *all; /* the strings, each with its NUL, in node rank order */
  int *len;  /* bytes of each string, NUL included */
  int *off;  /* where each string starts in `all` */
  int n, me;
} node_sets_t;

static void node_sets_free(node_sets_t *ns) {
  mpmp__free(ns->all);
  mpmp__free(ns->len);
  mpmp__free(ns->off);
  memset(ns, 0, sizeof *ns);
}

/* `set` as an mpmp__malloc'ed list string; NULL when out of memory. */
static char *cpuset_string(hwloc_const_cpuset_t set, int *len) {
  int n = hwloc_bitmap_list_snprintf(NULL, 0, set);
  char *s = n < 0 ? NULL : mpmp__malloc((size_t)n + 1);
  if (s == NULL)
    return NULL;
  hwloc_bitmap_list_snprintf(s, (size_t)n + 1, set);
  *len = n + 1;
  return s;
}

/* Lay the gathered lengths out one after the other; -1 past INT_MAX bytes. */
static int node_sets_layout(node_sets_t *ns) {
  long long total = 0;
  for (int i = 0; i < ns->n; i++) {
    ns->off[i] = (int)total;
    total += ns->len[i];
    if (total > INT_MAX)
      return -1;
  }
  ns->all = mpmp__malloc((size_t)total);
  return ns->all == NULL ? -1 : 0;
}

/* Collective over comm: every rank's `given`, lengths first. */
static int node_sets_gather(node_sets_t *ns, hwloc_const_cpuset_t given,
                            MPI_Comm comm) {
  int mylen = 0, rc;
  if ((rc = MPI_Comm_size(comm, &ns->n)) != MPI_SUCCESS ||
      (rc = MPI_Comm_rank(comm, &ns->me)) != MPI_SUCCESS)
    return mpmp__mpi_err(rc, "MPI_Comm_size/rank on the node communicator");
  char *mine = cpuset_string(given, &mylen);
  ns->len = mpmp__calloc((size_t)ns->n, sizeof *ns->len);
  ns->off = mpmp__calloc((size_t)ns->n, sizeof *ns->off);
  if (mine == NULL || ns->len == NULL || ns->off == NULL) {
    rc = mpmp__err(MPMP_ENOMEM, "out of memory gathering the bindings");
    goto out;
  }
  rc = MPI_Allgather(&mylen, 1, MPI_INT, ns->len, 1, MPI_INT, comm);
  if (rc != MPI_SUCCESS) {
    rc = mpmp__mpi_err(rc, "MPI_Allgather of the binding lengths");
    goto out;
  }
  if (node_sets_layout(ns) < 0) {
    rc = mpmp__err(MPMP_ENOMEM, "out of memory gathering the bindings");
    goto out;
  }
  rc = MPI_Allgatherv(mine, mylen, MPI_CHAR, ns->all, ns->len, ns->off,
                      MPI_CHAR, comm);
  rc = rc == MPI_SUCCESS ? 0 : mpmp__mpi_err(rc, "MPI_Allgatherv of bindings");
out:
  mpmp__free(mine);
  return rc;
}

/* Whether more of the node's ranks may run on this rank's PUs (their
 * bindings meet ours) than it has PUs: then a rank that spins while it
 * waits takes the CPU from one that computes. */
static int node_sets_crowded(const node_sets_t *ns) {
  hwloc_bitmap_t mine = hwloc_bitmap_alloc(), other = hwloc_bitmap_alloc();
  int sharing = 0, crowded = 0;
  if (mine != NULL && other != NULL &&
      hwloc_bitmap_list_sscanf(mine, ns->all + ns->off[ns->me]) == 0) {
    for (int i = 0; i < ns->n; i++)
      if (hwloc_bitmap_list_sscanf(other, ns->all + ns->off[i]) == 0 &&
          hwloc_bitmap_intersects(mine, other))
        sharing++;
    crowded = sharing > hwloc_bitmap_weight(mine);
  }
  hwloc_bitmap_free(mine);
  hwloc_bitmap_free(other);
  return crowded;
}

/* This rank's group (same given cpuset): its size and our place in it. */
static void node_sets_group(const node_sets_t *ns, int *nranks, int *index) {
  const char *mine = ns->all + ns->off[ns->me];
  *nranks = 0;
  *index = 0;
  for (int i = 0; i < ns->n; i++) {
    if (strcmp(ns->all + ns->off[i], mine) != 0)
      continue;
    if (i < ns->me)
      ++*index;
    ++*nranks;
  }
}

/* PUs in the union of the node's given cpusets: what the node lets us use. */
static int node_sets_pus(const node_sets_t *ns, int *pus) {
  int rc = 0;
  hwloc_bitmap_t u = hwloc_bitmap_alloc(), one = hwloc_bitmap_alloc();
  if (u == NULL || one == NULL) {
    rc = mpmp__err(MPMP_ENOMEM, "out of memory gathering the bindings");
    goto out;
  }
  for (int i = 0; i < ns->n && rc == 0; i++) {
    if (hwloc_bitmap_list_sscanf(one, ns->all + ns->off[i]) < 0 ||
        hwloc_bitmap_or(u, u, one) < 0)
      rc = mpmp__err(MPMP_ETOPO, "node rank %d sent the cpuset '%s', which "
                     "hwloc cannot read", i, ns->all + ns->off[i]);
  }
  if (rc == 0)
    *pus = hwloc_bitmap_weight(u);
out:
  hwloc_bitmap_free(one);
  hwloc_bitmap_free(u);
  return rc;
}

/*
 * Bind the whole process to `target` and read the binding back. A refused
 * binding (no permission, a container) costs performance, not correctness,
 * so it is a warning and the launcher's binding stays.
 */
static int apply_binding(mpmp__topo_t *t, hwloc_const_cpuset_t target,
                         mpmp__bind_t bind) {
  int rc = 0;
  if (bind == MPMP__BIND_NONE) {
    rc = hwloc_bitmap_copy(t->bound, t->given);
  } else if (hwloc_set_cpubind(t->topo, target, HWLOC_CPUBIND_PROCESS) < 0) {
    int e = errno;
    char want[128];
    hwloc_bitmap_list_snprintf(want, sizeof want, target);
    MPMP__WARN("MPMP_BIND=%s: cannot bind to PUs %s (%s); keeping the "
               "launcher's binding", mpmp__bind_name(bind), want, strerror(e));
    rc = hwloc_bitmap_copy(t->bound, t->given);
  } else if (hwloc_get_cpubind(t->topo, t->bound, HWLOC_CPUBIND_PROCESS) < 0) {
    rc = hwloc_bitmap_copy(t->bound, target); /* bound, but unreadable */
  }
  return rc < 0 ? mpmp__err(MPMP_ENOMEM, "out of memory binding the rank") : 0;
}

int mpmp__topo_bind(mpmp__topo_t *t, MPI_Comm node_comm, mpmp__bind_t bind) {
  node_sets_t ns = {0};
  int nranks = 0, index = 0, pus = 0, rc;
  if (t == NULL || t->topo == NULL || t->given == NULL || t->bound == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp__topo_bind: topology not loaded");
  hwloc_bitmap_t target = hwloc_bitmap_alloc();
  if (target == NULL)
    return mpmp__err(MPMP_ENOMEM, "out of memory binding the rank");
  if ((rc = node_sets_gather(&ns, t->given, node_comm)) < 0 ||
      (rc = node_sets_pus(&ns, &pus)) < 0)
    goto out;
  node_sets_group(&ns, &nranks, &index);
  if ((rc = mpmp__place(t->topo, t->given, bind, nranks, index, target)) < 0)
    goto out;
  if ((rc = apply_binding(t, target, bind)) < 0)
    goto out;
  t->node_cpus = pus > 0 ? pus : hwloc_bitmap_weight(t->given);
  node_sets_free(&ns);
  if ((rc = node_sets_gather(&ns, t->bound, node_comm)) < 0)
    goto out;
  t->crowded = node_sets_crowded(&ns);
out:
  node_sets_free(&ns);
  hwloc_bitmap_free(target);
  return rc;
}

/*
 * Append "a" or "a-b" (with a comma after the first range) if it fits with
 * its NUL and `reserve` more bytes, which keep room for a closing "..." when
 * more ranges follow; 0 when written, -1 when it did not fit.
 */
static int append_range(char *buf, size_t len, size_t *used, int a, int b,
                        size_t reserve) {
  char r[32];
  int n = a == b ? snprintf(r, sizeof r, "%s%d", *used ? "," : "", a)
                 : snprintf(r, sizeof r, "%s%d-%d", *used ? "," : "", a, b);
  if (n < 0 || *used + (size_t)n + 1 + reserve > len)
    return -1;
  memcpy(buf + *used, r, (size_t)n + 1);
  *used += (size_t)n;
  return 0;
}

/* Logical indexes of the cores (PUs when none) that meet `set`, as ranges. */
static int list_units(hwloc_topology_t topo, hwloc_const_cpuset_t set,
                      char *buf, size_t len) {
  hwloc_obj_type_t type = unit_type(topo);
  size_t used = 0;
  int first = -1, last = -1, full = 0;
  hwloc_obj_t u = NULL;
  while (!full && (u = hwloc_get_next_obj_by_type(topo, type, u)) != NULL) {
    int i = (int)u->logical_index;
    if (!hwloc_bitmap_intersects(u->cpuset, set))
      continue;
    if (first >= 0 && i == last + 1) {
      last = i;
      continue;
    }
    if (first >= 0) /* another range follows: keep room for "..." */
      full = append_range(buf, len, &used, first, last, 3) < 0;
    first = last = i;
  }
  if (!full && first >= 0)
    full = append_range(buf, len, &used, first, last, 0) < 0;
  if (!full)
    return 0;
  /* Ranges before the one that did not fit kept room for the mark; only a
   * buffer too small for anything cuts it short. */
  snprintf(buf + used, len - used, "...");
  return mpmp__err(MPMP_EMSGSIZE, "the core list does not fit %zu bytes", len);
}

/*
 * OS index of the first NUMA node whose PUs include all of `set`; -1 when
 * the set is empty or spans several nodes. The first wins where nodes share
 * PUs (memory-only nodes come after the node of the same PUs).
 */
static int numa_of(hwloc_topology_t topo, hwloc_const_cpuset_t set) {
  hwloc_obj_t n = NULL;
  if (hwloc_bitmap_iszero(set))
    return -1;
  while ((n = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, n)) != NULL)
    if (n->cpuset != NULL && hwloc_bitmap_isincluded(set, n->cpuset))
      return (int)n->os_index;
  return -1;
}

int mpmp__topo_describe(const mpmp__topo_t *t, char *cores, size_t len,
                        int *numa) {
  if (cores == NULL || len == 0 || numa == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp__topo_describe: no output buffer");
  cores[0] = '\0';
  *numa = -1;
  if (t == NULL || t->topo == NULL || t->bound == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp__topo_describe: topology not loaded");
  *numa = numa_of(t->topo, t->bound);
  return list_units(t->topo, t->bound, cores, len);
}

/*
 * Cheap enough for mpmp_cpu_count() before init: the calling thread's
 * affinity mask, grown until the kernel accepts its size, and the online
 * CPU count if even that fails.
 */
int mpmp__topo_allowed_pus(void) {
  for (int ncpu = 1024; ncpu <= (1 << 22); ncpu *= 2) {
    size_t size = CPU_ALLOC_SIZE(ncpu);
    cpu_set_t *set = mpmp__malloc(size);
    if (set == NULL)
      return mpmp__err(MPMP_ENOMEM, "out of memory counting the CPUs");
    CPU_ZERO_S(size, set);
    int rc = sched_getaffinity(0, size, set), e = errno;
    int n = rc == 0 ? CPU_COUNT_S(size, set) : 0;
    mpmp__free(set);
    if (n > 0)
      return n;
    if (rc == 0 || e != EINVAL) /* EINVAL: the mask is too small */
      break;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1)
    return mpmp__err(MPMP_ETOPO, "cannot count the usable CPUs: "
                     "sched_getaffinity and sysconf both failed");
  return n > INT_MAX ? INT_MAX : (int)n;
}
