/*
 * mpmp_init / mpmp_finalize and the runtime context.
 *
 * The runtime's state is mpmp__rt; the transport's (filled here at init)
 * mpmp__net. Init is collective over MPI_COMM_WORLD; after it the main
 * rank returns to the user's program and every worker rank serves it (the
 * module with a `serve` hook: parallel/worker.c) until mpmp_finalize().
 * The layers above are called only through the hooks that the front door
 * (src/mpmp.c) hands to mpmp__runtime_init.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "rt.h"

mpmp__rt_t mpmp__rt = {
    .life_lock = PTHREAD_MUTEX_INITIALIZER,
    .node_comm = MPI_COMM_NULL,
    .node_win = MPI_WIN_NULL,
    .stop = &mpmp__rt.stop_own,
};

/* The layers' hooks of this run (mpmp__runtime_init). */
static const mpmp__module_t *mods;
static int nmods;

int mpmp__check_init(const char *fn) {
  if (atomic_load(&mpmp__rt.state) == MPMP__RUNNING)
    return 0;
  return mpmp__err(MPMP_ENOTINIT, "%s: mpmp is not running: call mpmp_init() "
                   "first (and nothing after mpmp_finalize())", fn);
}

int mpmp__check_main(const char *fn) {
  int rc = mpmp__check_init(fn);
  if (rc < 0)
    return rc;
  if (mpmp__net.rank != 0)
    return mpmp__err(MPMP_ENOTMAIN, "%s: only the main rank (rank 0) may call "
                     "this; this is rank %d", fn, mpmp__net.rank);
  return 0;
}

/* ---- start-up steps, in order -------------------------------------------- */

/* An MPI call of init: its error becomes this step's return value. */
#define TRY_MPI(call, what)                 \
  do {                                      \
    int mpi_rc_ = (call);                   \
    if (mpi_rc_ != MPI_SUCCESS)             \
      return mpmp__mpi_err(mpi_rc_, what);  \
  } while (0)

static int agree(int rc);

/*
 * The MPI library this process runs with must be the one mpmp was built
 * with: a program linked with another MPI (both libmpi.so.40 and
 * libmpich.so.12 loaded), or modules that put another MPI first, died in
 * MPI_Comm_dup with nothing said. MPI_Get_library_version may be called
 * before MPI_Init and has the same signature in every MPI, so it is asked
 * first (into a buffer as large as any MPI's largest answer). Open MPI's
 * ABI changes with its major version; MPICH, Intel MPI, MVAPICH and Cray
 * MPICH share one.
 */
static int check_mpi_library(void) {
  char lib[MPI_MAX_LIBRARY_VERSION_STRING + 1] = "";
  int len = 0;
  if (MPI_Get_library_version(lib, &len) != MPI_SUCCESS)
    return 0;
  lib[sizeof lib - 1] = '\0';
  lib[strcspn(lib, "\n")] = '\0';
  char built[64];
  int ok;
#if defined(OPEN_MPI)
  snprintf(built, sizeof built, "Open MPI %d.%d.%d", OMPI_MAJOR_VERSION,
           OMPI_MINOR_VERSION, OMPI_RELEASE_VERSION);
  const char *v = strstr(lib, "Open MPI v");
  ok = v != NULL && atoi(v + strlen("Open MPI v")) == OMPI_MAJOR_VERSION;
#elif defined(MPICH_VERSION)
  snprintf(built, sizeof built, "MPICH %s (or an MPI of its ABI)",
           MPICH_VERSION);
  ok = strstr(lib, "MPICH") || strstr(lib, "Intel(R) MPI") ||
       strstr(lib, "MVAPICH");
#else
  snprintf(built, sizeof built, "an MPI %d.%d", MPI_VERSION, MPI_SUBVERSION);
  ok = 1; /* nothing to compare with */
#endif
  if (ok)
    return 0;
  return mpmp__err(MPMP_EMPI, "mpmp_init(): mpmp was built with %s, but "
                   "this process runs with '%.200s': the program links "
                   "another MPI than mpmp's (`ldd PROGRAM | grep -i mpi` "
                   "shows two), or a module or LD_LIBRARY_PATH put another "
                   "MPI first. Build the program and mpmp with the same "
                   "MPI and run them with its mpirun", built, lib);
}

/* A program started by another MPI's launcher does not fail in MPI_Init:
 * each process finds no launcher it knows and runs as a job of one rank
 * (singleton init), so N copies of the program run side by side, each
 * thinking it is alone. The launchers leave their rank count in the
 * environment (Open MPI's mpirun OMPI_COMM_WORLD_SIZE; MPICH's Hydra, Intel
 * MPI's and Slurm's PMI PMI_SIZE): a world of one rank where a launcher
 * started more is that mistake. MPICH's MPI_Init under Open MPI's mpirun
 * crashes (in UCX), so a build with another MPI than Open MPI looks at
 * mpirun's variable before MPI_Init too. */
static int check_launcher(int inited) {
  int size = 1;
  if (inited &&
      (MPI_Comm_size(MPI_COMM_WORLD, &size) != MPI_SUCCESS || size != 1))
    return 0;
  static const struct { const char *var, *who; } launchers[] = {
      {"OMPI_COMM_WORLD_SIZE", "Open MPI's mpirun"},
      {"PMI_SIZE", "a PMI launcher (MPICH's mpiexec, Intel MPI, srun)"}};
  for (size_t i = 0; i < sizeof launchers / sizeof *launchers; i++) {
    const char *v = getenv(launchers[i].var);
    long n = v != NULL ? strtol(v, NULL, 10) : 0;
#if defined(OPEN_MPI)
    if (!inited) /* Open MPI can run under a PMI launcher (srun): after */
      continue;
#else
    if (!inited && i != 0) /* before MPI_Init: only Open MPI's own */
      continue;
#endif
    if (n > 1) {
      char lib[MPI_MAX_LIBRARY_VERSION_STRING + 1] = "";
      int len = 0;
      MPI_Get_library_version(lib, &len);
      lib[sizeof lib - 1] = '\0';
      lib[strcspn(lib, "\n,")] = '\0';
      return mpmp__err(MPMP_EMPI, "mpmp_init(): %s started %ld ranks "
                       "(%s=%s), but %s: this program runs with '%s', "
                       "another MPI than the launcher's, so each rank would "
                       "be a job of its own. Start it with its own MPI's "
                       "launcher (scripts/run-mpi.sh picks it), or build it "
                       "with the launcher's MPI", launchers[i].who, n,
                       launchers[i].var, v, inited ? "MPI_COMM_WORLD has 1"
                       : "MPI would start a job of 1 rank (or crash trying)",
                       lib);
    }
  }
  return 0;
}

static int start_mpi(int *argc, char ***argv) {
  mpmp__rt_t *rt = &mpmp__rt;
  int inited = 0, finalized = 0, provided = 0;
  int rc = check_mpi_library();
  if (rc < 0)
    return rc;
  MPI_Initialized(&inited);
  if (!inited && (rc = check_launcher(0)) < 0)
    return rc; /* an MPICH singleton under mpirun crashes in MPI_Init */
  MPI_Finalized(&finalized);
  if (finalized) /* any MPI call now would end the process */
    return mpmp__err(MPMP_EALREADY, "mpmp_init(): MPI was finalized in this "
                     "process (by the program, or by mpmp after a failed "
                     "mpmp_init()) and cannot be initialized again");
  if (inited) {
    TRY_MPI(MPI_Query_thread(&provided), "MPI_Query_thread");
  } else {
    TRY_MPI(MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided),
            "MPI_Init_thread");
    rt->mpi_owned = 1;
  }
  if (provided < MPI_THREAD_MULTIPLE)
    return mpmp__err(MPMP_EMPI, "MPI provides thread level %s, mpmp needs "
                     "MPI_THREAD_MULTIPLE: initialize MPI with "
                     "MPI_Init_thread(..., MPI_THREAD_MULTIPLE, ...) or let "
                     "mpmp_init() do it",
                     provided == MPI_THREAD_SINGLE       ? "MPI_THREAD_SINGLE"
                     : provided == MPI_THREAD_FUNNELED   ? "MPI_THREAD_FUNNELED"
                     : provided == MPI_THREAD_SERIALIZED ? "MPI_THREAD_SERIALIZED"
                                                         : "(unknown)");
  return check_launcher(1);
}

/* mpmp's communicators return errors to mpmp instead of ending the job
 * (MPI's default), so that each becomes an error code with a message; the
 * program's communicators keep whatever handler they have. */
static int dup_comm(MPI_Comm base, MPI_Comm *c, const char *what) {
  TRY_MPI(MPI_Comm_dup(base, c), what);
  TRY_MPI(MPI_Comm_set_errhandler(*c, MPI_ERRORS_RETURN),
          "MPI_Comm_set_errhandler");
  return 0;
}

static int make_comms(void) {
  mpmp__rt_t *rt = &mpmp__rt;
  int rc;
  /* Over the program's communicator (mpmp_init_comm), its root becomes
   * rank 0, the main rank, and the others keep their order. */
  MPI_Comm base = rt->base_comm, split = MPI_COMM_NULL;
  if (rt->base_root != 0) {
    int r = 0;
    TRY_MPI(MPI_Comm_rank(base, &r), "MPI_Comm_rank");
    TRY_MPI(MPI_Comm_split(base, 0, r == rt->base_root ? 0 : r + 1, &split),
            "MPI_Comm_split");
    base = split;
  }
  rc = dup_comm(base, &mpmp__net.comm, "MPI_Comm_dup");
  if (rc == 0)
    rc = dup_comm(base, &mpmp__net.data_comm, "MPI_Comm_dup");
  if (split != MPI_COMM_NULL)
    MPI_Comm_free(&split);
  if (rc < 0)
    return rc;
  TRY_MPI(MPI_Comm_rank(mpmp__net.comm, &mpmp__net.rank), "MPI_Comm_rank");
  TRY_MPI(MPI_Comm_size(mpmp__net.comm, &mpmp__net.size), "MPI_Comm_size");
  mpmp__log_set_rank(mpmp__net.rank);
  TRY_MPI(MPI_Comm_split_type(mpmp__net.comm, MPI_COMM_TYPE_SHARED, mpmp__net.rank,
                              MPI_INFO_NULL, &rt->node_comm),
          "MPI_Comm_split_type");
  TRY_MPI(MPI_Comm_set_errhandler(rt->node_comm, MPI_ERRORS_RETURN),
          "MPI_Comm_set_errhandler");
  TRY_MPI(MPI_Comm_rank(rt->node_comm, &mpmp__net.node_rank), "MPI_Comm_rank");
  TRY_MPI(MPI_Comm_size(rt->node_comm, &mpmp__net.node_size), "MPI_Comm_size");
  mpmp__net.world_of_node_rank = mpmp__calloc((size_t)mpmp__net.node_size, sizeof(int));
  if (mpmp__net.world_of_node_rank == NULL)
    return mpmp__err(MPMP_ENOMEM, "out of memory at init");
  TRY_MPI(MPI_Allgather(&mpmp__net.rank, 1, MPI_INT, mpmp__net.world_of_node_rank, 1,
                        MPI_INT, rt->node_comm),
          "MPI_Allgather of the node's ranks");
  return 0;
}

/* Node index = rank of the node's leader among all leaders. */
static int number_nodes(void) {
  int leader = mpmp__net.world_of_node_rank[0];
  int *leaders = mpmp__calloc((size_t)mpmp__net.size, sizeof(int));
  if (leaders == NULL)
    return mpmp__err(MPMP_ENOMEM, "out of memory at init");
  int rc = MPI_Allgather(&leader, 1, MPI_INT, leaders, 1, MPI_INT, mpmp__net.comm);
  if (rc != MPI_SUCCESS) {
    mpmp__free(leaders);
    return mpmp__mpi_err(rc, "MPI_Allgather of the node leaders");
  }
  mpmp__net.nnodes = 0;
  for (int r = 0; r < mpmp__net.size; r++)
    if (leaders[r] == r)
      mpmp__net.nnodes++;
  mpmp__net.node = 0;
  for (int r = 0; r < leader; r++)
    if (leaders[r] == r)
      mpmp__net.node++;
  mpmp__free(leaders);
  return 0;
}

/*
 * Where MPI keeps a shared window: Open MPI's osc/sm backs it with a file
 * in /dev/shm (or what OMPI_MCA_osc_sm_backing_directory names). When that
 * file does not fit, Open MPI fails MPI_Win_allocate_shared on the node's
 * first rank only and leaves the node's other ranks waiting in it for
 * ever; so mpmp checks the room first, and all ranks fail together.
 */
static const char *shm_dir(void) {
  const char *d = getenv("OMPI_MCA_osc_sm_backing_directory");
  return d != NULL && *d ? d : "/dev/shm";
}

/* "200.0 GiB", "16.0 MiB": sizes in messages, as a person reads them. */
static void human(char *b, size_t n, double bytes) {
  if (bytes >= (double)(1u << 30))
    snprintf(b, n, "%.1f GiB", bytes / (double)(1u << 30));
  else
    snprintf(b, n, "%.1f MiB", bytes / (double)(1u << 20));
}

/* The node's first rank: ENOSPC if `bytes` do not fit where MPI puts them
 * (Open MPI wants 5 % more room than the file it makes, which also holds
 * a page and control data of its own); 0 if they fit or if that cannot
 * be told. */
static int check_room(size_t bytes) {
  struct statvfs st;
  const char *dir = shm_dir();
  if (statvfs(dir, &st) != 0)
    return 0;
  double room = (double)st.f_bavail * (double)st.f_frsize;
  double need = 1.05 * ((double)bytes + (1u << 20) +
                        4096.0 * mpmp__net.node_size);
  if (room >= need)
    return 0;
  char heap[32], want[32], have[32];
  human(heap, sizeof heap, (double)mpmp__rt.env.HEAP_SIZE);
  human(want, sizeof want, need);
  human(have, sizeof have, room);
  return mpmp__err(MPMP_ENOSPC, "the node's shared segment (MPMP_HEAP_SIZE "
                   "is %s, plus the mailboxes and doorbells) needs %s of room "
                   "in %s, which has %s free: lower MPMP_HEAP_SIZE (or "
                   "MPMP_MAILBOX), or enlarge %s", heap, want, dir, have, dir);
}

/* The segment's size: doorbells and control block, mailboxes, heap, and
 * 64 bytes to align up; ENOSPC if it overflows what MPI_Aint holds. */
static int segment_size(size_t bells, size_t boxes, MPI_Aint *size) {
  size_t total;
  if (__builtin_add_overflow(bells, boxes, &total) ||
      __builtin_add_overflow(total, mpmp__rt.env.HEAP_SIZE, &total) ||
      __builtin_add_overflow(total, (size_t)64, &total) ||
      total > (size_t)PTRDIFF_MAX || (MPI_Aint)total < 0 ||
      (size_t)(MPI_Aint)total != total)
    return mpmp__err(MPMP_ENOSPC, "the node's shared segment would be over "
                     "what MPI can allocate (MPMP_HEAP_SIZE=%zu bytes plus "
                     "%zu of mailboxes and doorbells): lower MPMP_HEAP_SIZE",
                     mpmp__rt.env.HEAP_SIZE, boxes + bells);
  *size = (MPI_Aint)total;
  return 0;
}

/*
 * The segment of a node where this rank is alone: a shared mapping of
 * mpmp's own, not an MPI window. The segment is shared with more than the
 * node's ranks: a worker's fork server and the task hosts it forks
 * (parallel/host.c) run isolated bodies on it, and must see the Values,
 * locks, queues and doorbells (hosts_dead) that the worker and the other
 * ranks see. MPI shares a window only among the communicator's ranks, and
 * both Open MPI 4.1 (osc/sm) and MPICH 4.0 (ch4) give a communicator of
 * one rank private anonymous memory, not a /dev/shm file (rw-p, not rw-s,
 * in /proc/self/maps); the children forked from it had copy-on-write
 * snapshots of the heap, so an object an isolated body made there was a
 * stale handle everywhere else, and what it wrote to the node's objects
 * was lost (so were a lock's owner and a dead host's record). A
 * MAP_SHARED mapping is shared with every child forked after it; no other
 * rank maps it and nothing does RMA on the segment (other nodes reach its
 * objects through messages), so no window is needed. Its pages are not in
 * /dev/shm (check_room does not apply); the kernel refuses one that
 * cannot fit.
 */
static int map_segment(MPI_Aint total, void **base) {
  mpmp__rt_t *rt = &mpmp__rt;
  void *p = mmap(NULL, (size_t)total, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return mpmp__err(MPMP_ENOSPC, "could not map %zu bytes of shared memory "
                     "for this node: %s: lower MPMP_HEAP_SIZE (now %zu bytes) "
                     "or MPMP_MAILBOX", (size_t)total, strerror(errno),
                     rt->env.HEAP_SIZE);
  rt->node_map = p;
  rt->node_map_size = (size_t)total;
  *base = p;
  return 0;
}

/* The node's shared segment: doorbells, the control block, the mailboxes
 * (transport.c), the shared heap (formatted by mpmp__objects_init). An MPI
 * shared window over the node's ranks; on a node of one rank a mapping of
 * mpmp's own (map_segment says why). */
static int make_segment(void) {
  mpmp__rt_t *rt = &mpmp__rt;
  size_t bells = (size_t)mpmp__net.node_size * sizeof(mpmp__bell_t) + MPMP__CTL_SIZE;
  size_t cap = mpmp__mbox_cap(rt->env.MAILBOX, mpmp__net.node_size);
  size_t boxes = mpmp__mbox_area(cap, mpmp__net.node_size);
  MPI_Aint total = 0;
  int alone = mpmp__net.node_size == 1;
  void *base = NULL;
  /* No rank enters the collective call unless all know it will fit. */
  int rc = segment_size(bells, boxes, &total);
  if (rc == 0 && alone)
    rc = map_segment(total, &base);
  else if (rc == 0 && mpmp__net.node_rank == 0)
    rc = check_room((size_t)total);
  if ((rc = agree(rc)) < 0)
    return rc;
  if (!alone) {
    rc = MPI_Win_allocate_shared(mpmp__net.node_rank == 0 ? total : 0, 64,
                                 MPI_INFO_NULL, rt->node_comm, &base,
                                 &rt->node_win);
    if (rc != MPI_SUCCESS) {
      char why[MPI_MAX_ERROR_STRING] = "";
      int len = 0;
      MPI_Error_string(rc, why, &len);
      rt->node_win = MPI_WIN_NULL;
      return mpmp__err(MPMP_ENOSPC, "could not allocate %zu bytes of shared "
                       "memory for this node (MPI_Win_allocate_shared: %s): "
                       "lower MPMP_HEAP_SIZE (now %zu bytes) or MPMP_MAILBOX, "
                       "or enlarge %s", (size_t)total, why, rt->env.HEAP_SIZE,
                       shm_dir());
    }
    TRY_MPI(MPI_Win_set_errhandler(rt->node_win, MPI_ERRORS_RETURN),
            "MPI_Win_set_errhandler");
    MPI_Aint qsize;
    int disp;
    TRY_MPI(MPI_Win_shared_query(rt->node_win, 0, &qsize, &disp, &base),
            "MPI_Win_shared_query");
  }
  base = (void *)(((uintptr_t)base + 63) & ~(uintptr_t)63);
  rt->node_base = base;
  mpmp__net.bells = base;
  rt->node_ctl = (struct mpmp__node_ctl *)(void *)((char *)base + bells -
                                                   MPMP__CTL_SIZE);
  rt->heap_base = (char *)base + bells + boxes;
  rt->heap_size = rt->env.HEAP_SIZE;
  if (mpmp__net.node_rank == 0) {
    memset(base, 0, bells);
    mpmp__mbox_format((char *)base + bells, cap, mpmp__net.node_size);
  }
  TRY_MPI(MPI_Barrier(rt->node_comm), "MPI_Barrier of the node");
  return mpmp__transport_setup(cap ? (char *)base + bells : NULL, cap);
}

static int gather_ranks(void) {
  mpmp__rt_t *rt = &mpmp__rt;
  mpmp__rank_info_t me = {.pid = (int)getpid(), .node = mpmp__net.node,
                          .node_rank = mpmp__net.node_rank};
  int len = 0;
  char host[MPI_MAX_PROCESSOR_NAME];
  TRY_MPI(MPI_Get_processor_name(host, &len), "MPI_Get_processor_name");
  snprintf(me.host, sizeof me.host, "%.63s", host);
  mpmp__topo_describe(&rt->topo, me.cores, sizeof me.cores, &me.numa);
  mpmp__net.ranks = mpmp__calloc((size_t)mpmp__net.size, sizeof *mpmp__net.ranks);
  if (mpmp__net.ranks == NULL)
    return mpmp__err(MPMP_ENOMEM, "out of memory at init");
  TRY_MPI(MPI_Allgather(&me, sizeof me, MPI_BYTE, mpmp__net.ranks, sizeof me,
                        MPI_BYTE, mpmp__net.comm),
          "MPI_Allgather of the ranks' places");
  return 0;
}

/* The main rank's settings, on every rank (env.c): a bad value fails
 * every rank with the same message. The main rank reads them, warns about
 * unknown MPMP_* variables, and sends them even when one is bad. */
static int load_settings(void) {
  mpmp__rt_t *rt = &mpmp__rt;
  int rc = 0;
  if (mpmp__net.rank == 0) {
    rc = mpmp__env_load(&rt->env);
    mpmp__env_warn_unknown();
  }
  int src = mpmp__env_share(mpmp__net.comm, mpmp__net.rank, &rt->env);
  return rc < 0 ? rc : src;
}

/*
 * Every rank learns whether any rank failed, so that none is left in a
 * collective alone: init runs in steps, and no rank starts the next step's
 * collectives before all agree that the last one went well. A rank that
 * failed keeps its own message; the others get the message of the first
 * rank that failed (the lowest rank with the lowest code), so that each
 * rank's mpmp_errmsg() says what to change, not only that something failed.
 */
static int agree(int rc) {
  if (mpmp__net.comm == MPI_COMM_NULL)
    return rc;
  struct { int rc, rank; } mine = {rc, mpmp__net.rank}, worst = {0, 0};
  int mrc = MPI_Allreduce(&mine, &worst, 1, MPI_2INT, MPI_MINLOC, mpmp__net.comm);
  if (mrc != MPI_SUCCESS)
    return rc < 0 ? rc : mpmp__mpi_err(mrc, "MPI_Allreduce at init");
  if (worst.rc >= 0)
    return 0;
  char why[1024] = "";
  if (mpmp__net.rank == worst.rank)
    snprintf(why, sizeof why, "%s", mpmp_errmsg());
  mrc = MPI_Bcast(why, sizeof why, MPI_CHAR, worst.rank, mpmp__net.comm);
  if (rc < 0)
    return rc;
  if (mrc != MPI_SUCCESS)
    snprintf(why, sizeof why, "%s", mpmp_strerror(worst.rc));
  return mpmp__err(worst.rc, "mpmp_init failed on rank %d: %s", worst.rank,
                   why);
}

/* Bind this rank (MPMP_BIND was checked with the other settings) and
 * choose how it waits. */
static int bind_rank(void) {
  mpmp__rt_t *rt = &mpmp__rt;
  int rc = mpmp__bind_parse(rt->env.BIND, &rt->bind);
  if ((rc = agree(rc < 0 ? rc : mpmp__topo_init(&rt->topo))) < 0 ||
      (rc = mpmp__topo_bind(&rt->topo, rt->node_comm, rt->bind)) < 0)
    return rc;
  /* A waiting rank polls before it sleeps. One that shares its cores with
   * more ranks than they can run yields the CPU at every poll, so that a
   * rank computing there loses next to nothing (3 ranks on 2 cores: the
   * main rank shares core 0 with a worker). Not polling at all would cost
   * every short task a sleep and a wake-up: 6x fewer imap items/s. */
  mpmp__net.poll_s = rt->env.POLL_MS * 1e-3;
  mpmp__net.spin_s = (mpmp__net.nnodes > 1 ? rt->env.SPIN_REMOTE_US : rt->env.SPIN_US) *
               1e-6;
  mpmp__net.spin_yield = rt->topo.crowded;
  return 0;
}

/* Every module's init, in table order; stops at the first failure (its
 * fini still runs at teardown: fini is safe on a partial init). */
static int init_modules(void) {
  for (int i = 0; i < nmods; i++) {
    int rc = mods[i].init != NULL ? mods[i].init() : 0;
    if (rc < 0)
      return rc;
  }
  return 0;
}

/* The steps of init; each ends with agree() (see there). */
static int setup_runtime(void) {
  int rc;
  if ((rc = agree(make_comms())) < 0 || (rc = agree(load_settings())) < 0 ||
      (rc = agree(number_nodes())) < 0 || (rc = agree(bind_rank())) < 0 ||
      (rc = agree(make_segment())) < 0 || (rc = agree(gather_ranks())) < 0 ||
      (rc = agree(init_modules())) < 0)
    return rc;
  return mpmp__tasks_setup(mpmp__net.comm);
}

static void teardown(void);

static void report_at_init(void) {
  mpmp__rt_t *rt = &mpmp__rt;
  if (mpmp__net.rank != 0)
    return;
  if (rt->env.INFO)
    mpmp_print_settings(stderr);
  if (rt->env.REPORT_BINDINGS)
    mpmp_print_bindings(stderr);
}

/*
 * A program that owns MPI may run mpmp again after mpmp_finalize() (mpi4py's
 * MPICommExecutor entered twice). Teardown frees what init made; what a run
 * leaves in the context's plain fields (the last stop request, progress
 * bookkeeping; a worker's queue: its module's init) is set back here,
 * before anything of the new run can read it. The ids (next_id,
 * proc_counter) keep counting, as Python's do for the life of a process,
 * so that nothing of an earlier run can be mistaken for one of this run;
 * the counts of live threads (drivers, nproxies) are left alone: a thread
 * that outlived the run still decrements them.
 */
static void reset_run_state(void) {
  mpmp__rt.stop = &mpmp__rt.stop_own;
  atomic_store(&mpmp__rt.stop->upto, 0);
  atomic_store(&mpmp__rt.stop->one, 0);
  for (int i = 0; i < MPMP__STOPS_KEPT; i++)
    atomic_store(&mpmp__rt.stop->kept[i], 0);
  atomic_store(&mpmp__rt.stop->next, 0);
  mpmp__net_reset();
}

/* After a failed mpmp_init(): 1 on the rank that reports the failure
 * (the main rank, had init worked), 0 on the others; -1: no failure. The
 * failure is most often the same on every rank (a setting, a mismatch
 * agreed on by all), and mpmp_is_main() then lets one rank print it. */
static int failed_main = -1;

/* After a run that ended (mpmp_finalize() on the main rank, mpmp_init()'s
 * MPMP_WORKER_DONE on a worker): 1 on the main rank, 0 on a worker; -1
 * before any run. A rank's role does not change when its job ends, so
 * mpmp_is_main() keeps answering: an error there (negative, so true) led
 * `if (!mpmp_is_main()) return ...;` on a worker whose job had ended into
 * the main rank's code. */
static int ended_main = -1;

/* Whether this is the rank that reports a failed init: rank 0 of
 * mpmp's communicator once it exists, else by the launcher's variables,
 * else yes (better every rank than none). */
static int reporter(void) {
  if (mpmp__net.comm != MPI_COMM_NULL)
    return mpmp__net.rank == 0;
  const char *r = getenv("OMPI_COMM_WORLD_RANK");
  if (r == NULL)
    r = getenv("PMI_RANK");
  return r == NULL || atoi(r) == 0;
}

/* mpmp_init's state change, under rt->life_lock (see mpmp_init). */
static int start(int *argc, char ***argv, const char *fn) {
  mpmp__rt_t *rt = &mpmp__rt;
  if (atomic_load(&rt->state) == MPMP__RUNNING)
    return mpmp__err(MPMP_EALREADY, "%s(): mpmp is already running on this "
                     "rank (mpmp_init or mpmp_init_comm was called before; "
                     "mpmp_finalize first to start again)", fn);
  if (atomic_load(&rt->state) == MPMP__FINALIZED && rt->mpi_owned)
    return mpmp__err(MPMP_EALREADY, "%s() after mpmp_finalize(): MPI "
                     "cannot be initialized twice in one process", fn);
  reset_run_state();
  failed_main = -1;
  ended_main = -1;
  int rc = start_mpi(argc, argv);
  if (rc < 0) {
    failed_main = reporter();
    return rc;
  }
  rc = agree(setup_runtime());
  if (rc == 0) { /* handlers first: the agent may receive at once */
    rc = mpmp__trace_init();
    for (int i = 0; i < nmods; i++)
      if (mods[i].setup != NULL)
        mods[i].setup(mpmp__net.rank == 0);
    rc = agree(rc < 0 ? rc : mpmp__agent_start());
  }
  if (rc < 0) {
    failed_main = reporter();
    teardown();
    return rc;
  }
  atomic_store(&rt->state, MPMP__RUNNING);
  return 0;
}

/*
 * Starting and stopping are serialized (rt->life_lock): a thread that
 * calls mpmp_init() or mpmp_finalize() while another thread of the rank
 * is in one of them gets MPMP_EALREADY or MPMP_ENOTINIT at once, instead
 * of a second setup or teardown of the same context (two finalizes at
 * once crashed). At once rather than after waiting: the caller may be a
 * callback that the finalizing thread waits for (a pool's, run by the
 * progress thread or by the finalize itself), and waiting would deadlock.
 */
static int lock_life(int code, const char *fn) {
  if (pthread_mutex_trylock(&mpmp__rt.life_lock) == 0)
    return 0;
  /* a task of a worker rank (which serves from inside its mpmp_init) */
  if (mpmp__net.rank > 0 &&
      atomic_load(&mpmp__rt.state) == MPMP__RUNNING)
    return code == MPMP_EALREADY
               ? mpmp__err(code, "%s: mpmp is running on this rank (%d): a "
                           "task runs inside it and calls no mpmp_init()",
                           fn, mpmp__net.rank)
               : mpmp__err(MPMP_ENOTMAIN, "%s: only the main rank (rank 0) "
                           "may call this; this is rank %d (a task ends by "
                           "returning)", fn, mpmp__net.rank);
  return mpmp__err(code, "%s: mpmp_init() or mpmp_finalize() is running "
                   "now (in another thread, or this is a callback it runs): "
                   "mpmp is started and stopped once at a time", fn);
}

/* Worker ranks: the module that serves the main rank, until SHUTDOWN. */
static void serve(void) {
  for (int i = 0; i < nmods; i++)
    if (mods[i].serve != NULL)
      mods[i].serve();
}

static int init_on(const mpmp__module_t *m, int n, int *argc, char ***argv,
                   MPI_Comm comm, int root, const char *fn);

int mpmp__runtime_init(const mpmp__module_t *m, int n, int *argc,
                       char ***argv) {
  return init_on(m, n, argc, argv, MPI_COMM_WORLD, 0, "mpmp_init");
}

/* mpi4py's MPICommExecutor(comm, root): what the program must have done
 * (MPI initialized, a communicator it owns, a root in it) is checked
 * before anything collective, so that a mistake on every rank is an error
 * on every rank, not a hang. */
int mpmp__runtime_init_comm(const mpmp__module_t *m, int n, MPI_Comm comm,
                            int root) {
  int inited = 0, finalized = 0, inter = 0, size = 0;
  MPI_Initialized(&inited);
  MPI_Finalized(&finalized);
  if (!inited || finalized)
    return mpmp__err(MPMP_EINVAL, "mpmp_init_comm: MPI is %s: the program "
                     "initializes MPI (MPI_Init_thread with "
                     "MPI_THREAD_MULTIPLE) before, and finalizes it after",
                     finalized ? "finalized" : "not initialized");
  if (comm == MPI_COMM_NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_init_comm: the communicator is "
                     "MPI_COMM_NULL (is this rank outside it? only its "
                     "ranks call mpmp_init_comm)");
  if (MPI_Comm_test_inter(comm, &inter) != MPI_SUCCESS || inter ||
      MPI_Comm_size(comm, &size) != MPI_SUCCESS)
    return mpmp__err(MPMP_EINVAL, "mpmp_init_comm: not an intracommunicator");
  /* Every rank must name the same root, and one that a rank refuses
   * refuses it on every rank: they agree before anything else collective
   * (ranks that went on with different roots waited for ever). */
  if (atomic_load(&mpmp__rt.state) == MPMP__RUNNING) /* EALREADY, on this */
    return init_on(m, n, NULL, NULL, comm, root, /* rank alone */
                   "mpmp_init_comm");
  int bad = root < 0 || root >= size;
  int mine[3] = {bad, bad ? INT_MIN : root, bad ? INT_MIN : -root}, all[3];
  if (MPI_Allreduce(mine, all, 3, MPI_INT, MPI_MAX, comm) != MPI_SUCCESS)
    return mpmp__err(MPMP_EMPI, "mpmp_init_comm: the ranks could not agree "
                     "on the root (MPI_Allreduce failed)");
  if (bad)
    return mpmp__err(MPMP_EINVAL, "mpmp_init_comm: root %d is not a rank of "
                     "the communicator (0 to %d)", root, size - 1);
  if (all[0])
    return mpmp__err(MPMP_EINVAL, "mpmp_init_comm: another rank passed a "
                     "root that is not a rank of the communicator (0 to %d); "
                     "this one passed %d", size - 1, root);
  if (all[1] != -all[2])
    return mpmp__err(MPMP_EMISMATCH, "mpmp_init_comm: the ranks passed "
                     "different roots (from %d to %d; this one %d): every "
                     "rank must pass the same root", -all[2], all[1], root);
  return init_on(m, n, NULL, NULL, comm, root, "mpmp_init_comm");
}

/* stdout written a line at a time. A buffer of our own: MPICH makes
 * stdout unbuffered (a 1-byte buffer) in MPI_Init and MPI_Finalize, and
 * glibc's setvbuf(..., NULL, _IOLBF, 0) keeps that byte, so each printf
 * would go out in pieces that other ranks' output, forwarded by the
 * launcher, cuts in two. */
static void stdout_by_lines(void) {
  static char buf[BUFSIZ];
  fflush(stdout);
  setvbuf(stdout, buf, _IOLBF, sizeof buf);
}

static int init_on(const mpmp__module_t *m, int n, int *argc, char ***argv,
                   MPI_Comm comm, int root, const char *fn) {
  mpmp__rt_t *rt = &mpmp__rt;
  int rc = lock_life(MPMP_EALREADY, fn);
  if (rc < 0)
    return rc;
  if (atomic_load(&rt->state) != MPMP__RUNNING) {
    mods = m;
    nmods = n < MPMP__MAX_MODULES ? n : MPMP__MAX_MODULES;
    rt->base_comm = comm;
    rt->base_root = root;
  }
  rc = start(argc, argv, fn);
  pthread_mutex_unlock(&rt->life_lock);
  if (rc < 0)
    return rc;
  /* Under mpirun every rank's stdout is a pipe, so stdio would hold a
   * worker's lines until the job ends, and the main rank's until it
   * exits: lines as on a terminal instead, so the ranks' output
   * interleaves in time, as Python's processes' prints do. A program that
   * prints a great deal may setvbuf() again after init. */
  stdout_by_lines();
  report_at_init();
  if (mpmp__net.rank == 0)
    return MPMP_MAIN;
  serve();
  mpmp__trace_send();
  pthread_mutex_lock(&rt->life_lock);
  atomic_store(&rt->state, MPMP__FINALIZED);
  ended_main = 0;
  teardown();
  pthread_mutex_unlock(&rt->life_lock);
  stdout_by_lines(); /* MPICH's MPI_Finalize makes it unbuffered again */
  return MPMP_WORKER_DONE;
}

/* Every rank of `comm` gets here, each sleeping while it waits: Open
 * MPI's blocking collectives poll a core, and at finalize a rank may wait
 * long for another (a worker ends what its tasks left running, a host's
 * grace). Naps grow from 10 us to 1 ms: at most a millisecond late. */
static void barrier_asleep(MPI_Comm comm) {
  MPI_Request r;
  if (comm == MPI_COMM_NULL || MPI_Ibarrier(comm, &r) != MPI_SUCCESS)
    return;
  long nap_ns = 10000;
  for (int done = 0;;) {
    if (MPI_Test(&r, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS || done)
      return;
    struct timespec ts = {0, nap_ns};
    nanosleep(&ts, NULL);
    nap_ns = nap_ns < 1000000 ? nap_ns * 2 : 1000000;
  }
}

/* Release everything init made, in reverse order (safe on partial init). */
static void teardown(void) {
  mpmp__rt_t *rt = &mpmp__rt;
  /* Calls of this rank's other threads that wait for an answer (a
   * Manager's, an object's on another node: it may never come now) end
   * with MPMP_ENOTINIT before anything they use goes. */
  int drivers = mpmp__drivers_end(2.0);
  mpmp__agent_stop();
  for (int i = nmods - 1; i >= 0; i--)
    if (mods[i].fini != NULL)
      mods[i].fini();
  mpmp__trace_fini();
  mpmp__tasks_fini();
  mpmp__transport_fini();
  /* (before the collectives below, and MPI_Finalize's; a partial init,
   * which has no node segment yet, may have ended on this rank alone) */
  if (rt->node_win != MPI_WIN_NULL || rt->node_map != NULL)
    barrier_asleep(mpmp__net.comm);
  /* A helper that still sleeps in the segment for a remote caller that
   * never came back, or a call of another thread that was woken for the
   * finalize but has not left the segment in time (objects' fini waited
   * for it), keeps it mapped until the process ends. MPI_Win_free is
   * collective over the node: its ranks decide together, or one that
   * skipped it would leave the others waiting there for ever. */
  int proxies = atomic_load(&rt->nproxies), left = rt->waits_left + drivers;
  int busy = proxies > 0 || left > 0, any_busy = busy;
  if (rt->node_win != MPI_WIN_NULL &&
      MPI_Allreduce(&busy, &any_busy, 1, MPI_INT, MPI_MAX, rt->node_comm) !=
          MPI_SUCCESS)
    any_busy = 1;
  if (rt->node_win != MPI_WIN_NULL && !any_busy)
    MPI_Win_free(&rt->node_win);
  else if (rt->node_map != NULL && !busy) /* a node of one rank */
    munmap(rt->node_map, rt->node_map_size);
  if ((rt->node_win != MPI_WIN_NULL || rt->node_map != NULL) && busy)
    MPMP__WARN("%d remote waits still pending and %d calls of other "
               "threads of this rank still inside at finalize: the shared "
               "segment stays mapped until exit", proxies, left);
  rt->waits_left = 0;
  rt->node_map = NULL;
  rt->node_map_size = 0;
  mpmp__net.bells = NULL;
  rt->node_base = NULL;
  rt->heap_base = NULL;
  rt->node_ctl = NULL;
  mpmp__topo_fini(&rt->topo);
  mpmp__free(mpmp__net.ranks);
  mpmp__free(mpmp__net.world_of_node_rank);
  mpmp__net.ranks = NULL;
  mpmp__net.world_of_node_rank = NULL;
  if (rt->node_comm != MPI_COMM_NULL)
    MPI_Comm_free(&rt->node_comm);
  if (mpmp__net.comm != MPI_COMM_NULL)
    MPI_Comm_free(&mpmp__net.comm);
  if (mpmp__net.data_comm != MPI_COMM_NULL)
    MPI_Comm_free(&mpmp__net.data_comm);
  if (rt->mpi_owned)
    MPI_Finalize();
}

/* The modules' finalize hooks, highest exit priority first (ties: the
 * higher layer first); the first error is mpmp_finalize's. */
static int finalize_modules(void) {
  int order[MPMP__MAX_MODULES], n = 0, rc = 0;
  for (int i = nmods - 1; i >= 0; i--) {
    if (mods[i].finalize == NULL)
      continue;
    int j = n++;
    for (; j > 0 && mods[order[j - 1]].exit_priority < mods[i].exit_priority;
         j--)
      order[j] = order[j - 1];
    order[j] = i;
  }
  for (int k = 0; k < n; k++) {
    int frc = mods[order[k]].finalize();
    if (frc < 0 && rc == 0)
      rc = frc;
  }
  return rc;
}

static int stop(void) {
  mpmp__rt_t *rt = &mpmp__rt;
  int rc = mpmp__check_main("mpmp_finalize");
  if (rc < 0)
    return rc;
  rc = finalize_modules();
  for (int r = 1; r < mpmp__net.size; r++) {
    int src = mpmp__send(r, MPMP__TAG_SHUTDOWN, "", 1, NULL, 0);
    if (src < 0 && rc == 0)
      rc = src;
  }
  int trc = mpmp__trace_write();
  if (trc < 0 && rc == 0)
    rc = trc;
  atomic_store(&rt->state, MPMP__FINALIZED);
  ended_main = 1;
  teardown();
  return rc;
}

int mpmp__runtime_finalize(void) {
  mpmp__rt_t *rt = &mpmp__rt;
  /* The progress thread (a pool's callback) would wait for itself */
  if (mpmp__net.agent_running && pthread_equal(pthread_self(), mpmp__net.agent))
    return mpmp__err(MPMP_EPERM, "mpmp_finalize: called from a callback "
                     "that mpmp's progress thread runs: call it from the "
                     "program's own thread");
  int rc = lock_life(MPMP_ENOTINIT, "mpmp_finalize");
  if (rc < 0)
    return rc;
  rc = stop();
  pthread_mutex_unlock(&rt->life_lock);
  return rc;
}

/* ---- queries --------------------------------------------------------------- */

MPMP_API int mpmp_initialized(void) {
  return atomic_load(&mpmp__rt.state) == MPMP__RUNNING;
}

#define MPMP__GETTER(fn, expr)                 \
  MPMP_API int fn(void) {                      \
    int rc = mpmp__check_init(#fn);            \
    return rc < 0 ? rc : (expr);               \
  }
MPMP__GETTER(mpmp_rank, mpmp__net.rank)
MPMP__GETTER(mpmp_world_size, mpmp__net.size)
MPMP__GETTER(mpmp_worker_count, mpmp__net.size - 1)
MPMP__GETTER(mpmp_node_count, mpmp__net.nnodes)
MPMP__GETTER(mpmp_node_id, mpmp__net.node)
#undef MPMP__GETTER

MPMP_API int mpmp_is_main(void) {
  if (!mpmp_initialized() && failed_main >= 0)
    return failed_main; /* after a failed init: the rank that says so */
  if (!mpmp_initialized() && ended_main >= 0)
    return ended_main; /* after its run: the role it had */
  int rc = mpmp__check_init("mpmp_is_main");
  return rc < 0 ? rc : mpmp__net.rank == 0;
}

MPMP_API const char *mpmp_node_name(void) {
  if (!mpmp_initialized())
    return "";
  return mpmp__net.ranks[mpmp__net.rank].host;
}

MPMP_API int mpmp_cpu_count(void) {
  if (mpmp_initialized() && mpmp__rt.topo.node_cpus > 0)
    return mpmp__rt.topo.node_cpus;
  return mpmp__topo_allowed_pus();
}

MPMP_API const char *mpmp_version(void) { return MPMP_VERSION_STRING; }
MPMP_API unsigned mpmp_version_hex(void) { return MPMP_VERSION_HEX; }

MPMP_API int mpmp_print_bindings(void *out) {
  int rc = mpmp__check_main("mpmp_print_bindings");
  if (rc < 0)
    return rc;
  FILE *f = out ? out : stdout;
  fprintf(f, "%-5s %-24s %-8s %-12s %-5s %s\n", "rank", "node", "pid",
          "cores", "numa", "role");
  for (int r = 0; r < mpmp__net.size; r++) {
    const mpmp__rank_info_t *i = &mpmp__net.ranks[r];
    char numa[16] = "-";
    if (i->numa >= 0)
      snprintf(numa, sizeof numa, "%d", i->numa);
    fprintf(f, "%-5d %-24s %-8d %-12s %-5s %s\n", r, i->host, i->pid,
            i->cores, numa, r == 0 ? "main" : "worker");
  }
  fflush(f);
  return 0;
}

MPMP_API int mpmp_print_settings(void *out) {
  mpmp__rt_t *rt = &mpmp__rt;
  mpmp__env_t env;
  const mpmp__env_t *e = &rt->env;
  if (!mpmp_initialized()) { /* before init: what init would use */
    int rc = mpmp__env_load(&env);
    if (rc < 0)
      return rc;
    e = &env;
  }
  mpmp__env_print(e, out ? out : stdout);
  fflush(out ? out : stdout);
  return 0;
}
