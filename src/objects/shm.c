/*
 * SharedMemory and ShareableList (mpmp/shm.h).
 *
 * Why memfds and not /dev/shm. Python backs a block with shm_open(), a file
 * in /dev/shm that outlives every process until someone unlinks it: a job
 * killed by MPI_Abort, a crash or Ctrl-C leaks it (Python's resource
 * tracker is a helper process, which an MPI job killed as a whole loses
 * too). Here the creating rank backs the block with a memfd
 * (memfd_create: anonymous tmpfs memory, never in any directory), so the
 * kernel frees it with the last process that holds it, however the job
 * ends; there is nothing to clean up and nothing to leak. The memfd is
 * mode 0600 (only the job's user may open it), its size is sealed (no one
 * can shrink it under another process's mapping: no SIGBUS), and it is
 * close-on-exec.
 *
 * Names. Each node has a name table (a per-node singleton in the node
 * heap, mpmp__node_root, under a shared lock): name -> the creator's pid
 * and fd, the size, and the memfd's device and inode. Another rank of the
 * node attaches by opening /proc/<pid>/fd/<fd> (the kernel lets only the
 * same user, or root, do so), checks that the file it got is the block's
 * (device and inode: a pid seen from another PID namespace could name
 * another process), maps it and closes its fd. The table lives in the
 * job's own MPI shared window, so names are private to the job: two jobs
 * using the same names at once never meet. A node's table knows only its
 * own blocks, so attaching from another node finds nothing, and the error
 * says that blocks are per node. Why /proc: pidfd_getfd() needs ptrace
 * rights, which Yama (ptrace_scope 1, Ubuntu's default) refuses between
 * sibling processes; passing fds over Unix sockets needs a socket and a
 * thread serving it in every rank. Opening /proc/<pid>/fd needs only the
 * same user, and costs one open() per attach.
 *
 * Lifetime. The creator's fd keeps the block alive while its name exists,
 * whatever the mappings do (Python's POSIX semantics: a block nobody maps
 * is still attachable until unlinked). Unlink removes the name at once; the
 * creator closes its fd then if it is the one unlinking, and otherwise at
 * its next SharedMemory call or at finalize (the entry stays as an
 * "orphan", out of name lookups, until then). Mappings stay valid until
 * closed. The table is only ever read and written with its lock held, and
 * a creator closes its fd only with the lock held and after taking the
 * entry out of lookups, so an attacher never opens a closed or reused fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "object.h"

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U /* Linux 6.3: not executable, ever */
#endif

/* ---- the node's name table ---------------------------------------------- */

enum { SLOT_FREE = 0, SLOT_LIVE, SLOT_ORPHAN };

typedef struct reg_entry {
  uint32_t state; /* SLOT_* */
  uint32_t gen;   /* tells a reused slot from the one an object mapped */
  int32_t pid;    /* the creator process, which holds fd */
  int32_t fd;
  int32_t rank;
  uint32_t pad;
  uint64_t size;
  uint64_t dev, ino; /* the memfd, to check what /proc hands out */
  char name[MPMP_SHM_NAME_SIZE];
} reg_entry_t;

_Static_assert(sizeof(reg_entry_t) <= 128, "128 bytes (shm.h)");

/* Twice as many entries as names: orphans (unlinked, their creator has not
 * closed its fd yet) take an entry but no name. */
#define REG_SLOTS (2 * MPMP_SHM_MAX_BLOCKS)

typedef struct registry {
  mpmp__shlock_t lock; /* all-zero: an unlocked lock */
  uint32_t next_gen;
  uint32_t live;       /* SLOT_LIVE entries: names */
  reg_entry_t e[REG_SLOTS];
} registry_t;

/*
 * The only process-local state: whether this process ever created a block,
 * so that the sweeps and finalize touch the name table only then (finalize
 * also runs after a failed init, when there may be no table to touch).
 * Per process, not per job: a file-static rather than a field of mpmp__rt.
 */
static _Atomic int created_here;

static registry_t *registry(const char *fn, int *rc) {
  registry_t *r = mpmp__node_root(MPMP__ROOT_SHM, sizeof(registry_t));
  if (r == NULL)
    *rc = mpmp__err(MPMP_ENOSPC, "%s: no room in the node heap for the "
                    "SharedMemory name table (%zu bytes): raise "
                    "MPMP_HEAP_SIZE", fn, sizeof(registry_t));
  return r;
}

static void reg_lock(registry_t *r) {
  mpmp__shlock_acquire(&r->lock, mpmp__owner_id(), INFINITY);
}

static void reg_unlock(registry_t *r) {
  mpmp__shlock_release(&r->lock, mpmp__owner_id());
  mpmp__waits_leave(); /* if the lock made it wait (shsync.h) */
}

/* Close the creator's fd of `e` (this process's), if it is still the
 * block's: a program may have closed the number and reused it. */
static void close_creator_fd(const reg_entry_t *e) {
  struct stat st;
  if (fstat(e->fd, &st) == 0 && (uint64_t)st.st_dev == e->dev &&
      (uint64_t)st.st_ino == e->ino)
    close(e->fd);
}

static void slot_free(reg_entry_t *e) { memset(e, 0, sizeof *e); }

/* Lock held: close this process's fds of blocks others unlinked. */
static void sweep(registry_t *r) {
  if (!atomic_load(&created_here))
    return;
  int me = (int)getpid();
  for (int i = 0; i < REG_SLOTS; i++) {
    reg_entry_t *e = &r->e[i];
    if (e->state == SLOT_ORPHAN && e->pid == me) {
      close_creator_fd(e);
      slot_free(e);
    }
  }
}

/*
 * Whether the creator of `e` (another process) no longer holds the block:
 * it ended (a rank that died; a task host whose task crashed or exited,
 * or that its pool replaced) or closed the fd, and the memory went with
 * it, so no one can attach the block again. Its pid may have been reused
 * since: /proc/<pid>/fd/<fd> then names another file or none, which the
 * device and inode tell.
 */
static int creator_gone(const reg_entry_t *e) {
  if (e->pid == (int32_t)getpid())
    return 0;
  char path[64];
  struct stat st;
  snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)e->pid, (int)e->fd);
  if (stat(path, &st) == 0)
    return (uint64_t)st.st_dev != e->dev || (uint64_t)st.st_ino != e->ino;
  return errno == ENOENT || errno == ESRCH;
}

/* Lock held: free entry `e` (its creator is gone, or it is this process's
 * and its fd was closed). */
static void slot_reap(registry_t *r, reg_entry_t *e) {
  r->live -= e->state == SLOT_LIVE;
  slot_free(e);
}

/* Lock held, the table full: free the entries of creators that are gone
 * (nothing else would: a creator frees its own entries). A stat of /proc
 * per entry, only when the table is full. */
static void reap_gone(registry_t *r) {
  for (int i = 0; i < REG_SLOTS; i++)
    if (r->e[i].state != SLOT_FREE && creator_gone(&r->e[i]))
      slot_reap(r, &r->e[i]);
}

/* Lock held: a free entry, or NULL. */
static reg_entry_t *free_slot(registry_t *r) {
  for (int i = 0; i < REG_SLOTS; i++)
    if (r->e[i].state == SLOT_FREE)
      return &r->e[i];
  return NULL;
}

/* Lock held: the live entry named `name`, or NULL. */
static reg_entry_t *find(registry_t *r, const char *name) {
  for (int i = 0; i < REG_SLOTS; i++)
    if (r->e[i].state == SLOT_LIVE && strcmp(r->e[i].name, name) == 0)
      return &r->e[i];
  return NULL;
}

void mpmp__shm_fini(void) {
  mpmp__rt_t *rt = &mpmp__rt;
  if (!atomic_load(&created_here) || rt->heap_base == NULL ||
      rt->node_ctl == NULL)
    return;
  registry_t *r = mpmp__node_root(MPMP__ROOT_SHM, sizeof(registry_t));
  if (r == NULL)
    return;
  int me = (int)getpid();
  reg_lock(r);
  for (int i = 0; i < REG_SLOTS; i++) {
    reg_entry_t *e = &r->e[i];
    if (e->state != SLOT_FREE && e->pid == me) {
      r->live -= e->state == SLOT_LIVE;
      close_creator_fd(e);
      slot_free(e);
    }
  }
  reg_unlock(r);
  atomic_store(&created_here, 0);
}

/* ---- names ------------------------------------------------------------------ */

static int check_name(const char *name, const char *fn) {
  if (name == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the name is NULL", fn);
  size_t n = strnlen(name, MPMP_SHM_NAME_MAX + 1);
  if (n == 0)
    return mpmp__err(MPMP_EINVAL, "%s: the name is empty", fn);
  if (n > MPMP_SHM_NAME_MAX)
    return mpmp__err(MPMP_EINVAL, "%s: the name '%.24s...' is longer than "
                     "%d bytes", fn, name, MPMP_SHM_NAME_MAX);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)name[i];
    if (c < 0x20 || c == 0x7f)
      return mpmp__err(MPMP_EINVAL, "%s: the name has a control character "
                       "(0x%02x) at byte %zu", fn, c, i);
  }
  return 0;
}

/* "psm_" and 8 hex digits, as Python's _make_filename(). */
static void fresh_name(char *out) {
  static _Atomic uint32_t counter;
  uint32_t x;
  if (getrandom(&x, sizeof x, GRND_NONBLOCK) != (ssize_t)sizeof x) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    x = (uint32_t)ts.tv_nsec * 2654435761u ^ (uint32_t)getpid() << 16 ^
        atomic_fetch_add(&counter, 1);
  }
  snprintf(out, MPMP_SHM_NAME_SIZE, "psm_%08x", x);
}

/* ---- the memory -------------------------------------------------------------- */

struct mpmp_shm {
  void *buf;
  size_t size;
  uint32_t slot, gen; /* the table entry this view came from */
  uint64_t secret;    /* the mpmp_init it came from */
  char name[MPMP_SHM_NAME_SIZE];
};

static int errno_code(int e) {
  return e == ENOMEM || e == EMFILE || e == ENFILE || e == ENOSPC
             ? MPMP_ENOMEM : MPMP_EINVAL;
}

/* A sealed memfd of `size` bytes, mode 0600. */
static int make_memfd(const char *name, size_t size, int *fdp,
                      struct stat *st, const char *fn) {
  char label[MPMP_SHM_NAME_SIZE + 16];
  snprintf(label, sizeof label, "mpmp-shm:%s", name);
  unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
  int fd = memfd_create(label, flags | MFD_NOEXEC_SEAL);
  if (fd < 0 && errno == EINVAL) /* a kernel before 6.3 */
    fd = memfd_create(label, flags);
  if (fd < 0) {
    int e = errno;
    if (e == ENOSYS)
      return mpmp__err(MPMP_ENOTSUP, "%s: memfd_create is not available "
                       "(Linux 3.17 or later is needed)", fn);
    return mpmp__err(errno_code(e), "%s: memfd_create for '%s': %s", fn,
                     name, strerror(e));
  }
  if (fchmod(fd, 0600) < 0 || ftruncate(fd, (off_t)size) < 0) {
    int e = errno;
    close(fd);
    return mpmp__err(errno_code(e), "%s: could not make a block of %zu bytes "
                     "for '%s': %s", fn, size, name, strerror(e));
  }
  /* Best effort: a kernel without sealing still gives a working block. */
  (void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  if (fstat(fd, st) < 0) {
    int e = errno;
    close(fd);
    return mpmp__err(MPMP_EINVAL, "%s: fstat: %s", fn, strerror(e));
  }
  *fdp = fd;
  return 0;
}

static int map_fd(int fd, size_t size, void **buf, const char *name,
                  const char *fn) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    int e = errno;
    return mpmp__err(e == ENOMEM ? MPMP_ENOMEM : MPMP_EINVAL, "%s: could not "
                     "map %zu bytes of '%s': %s", fn, size, name,
                     strerror(e));
  }
  *buf = p;
  return 0;
}

typedef int (*init_fn)(void *buf, size_t size, const void *arg);

/*
 * Lock held: enter a new block in the table (a fresh name that is taken
 * already is drawn again). The slot is taken only once nothing can fail.
 */
static int reg_add(registry_t *r, mpmp_shm_t *s, int fd, const struct stat *st,
                   int named, const char *fn) {
  reg_entry_t *taken = named ? find(r, s->name) : NULL;
  if (taken != NULL && creator_gone(taken)) { /* a dead name: free again */
    slot_reap(r, taken);
    taken = NULL;
  }
  if (taken != NULL)
    return mpmp__err(MPMP_SHM_EEXIST, "%s: a SharedMemory block named '%s' "
                     "exists already on this node (node %d)", fn, s->name,
                     mpmp__net.node);
  if (!named)
    while (find(r, s->name) != NULL)
      fresh_name(s->name);
  reg_entry_t *e = free_slot(r);
  if (r->live >= MPMP_SHM_MAX_BLOCKS || e == NULL) {
    reap_gone(r);
    e = free_slot(r);
  }
  if (r->live >= MPMP_SHM_MAX_BLOCKS)
    return mpmp__err(MPMP_ENOSPC, "%s: this node has %d SharedMemory blocks "
                     "already, the most it holds: unlink some first", fn,
                     MPMP_SHM_MAX_BLOCKS);
  if (e == NULL)
    return mpmp__err(MPMP_ENOSPC, "%s: this node's name table is full of "
                     "blocks that were unlinked while their creators, still "
                     "running, have not released them yet (each does at "
                     "its next SharedMemory call, or at finalize)", fn);
  if (++r->next_gen == 0)
    r->next_gen = 1;
  e->state = SLOT_LIVE;
  r->live++;
  e->gen = r->next_gen;
  e->pid = (int32_t)getpid();
  e->fd = fd;
  e->rank = mpmp__net.rank;
  e->size = s->size;
  e->dev = (uint64_t)st->st_dev;
  e->ino = (uint64_t)st->st_ino;
  memcpy(e->name, s->name, sizeof e->name);
  s->slot = (uint32_t)(e - r->e);
  s->gen = e->gen;
  atomic_store(&created_here, 1);
  return 0;
}

/* Create, map, initialise (before anyone can attach), then name it. */
static int shm_new(mpmp_shm_t **out, const char *name, size_t size,
                   init_fn init, const void *arg, const char *fn) {
  int rc = mpmp__check_init(fn);
  if (rc < 0)
    return rc;
  if (out == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the output pointer is NULL", fn);
  *out = NULL;
  if (name != NULL && (rc = check_name(name, fn)) < 0)
    return rc;
  if (size == 0)
    return mpmp__err(MPMP_EINVAL, "%s: the size must be at least 1 byte "
                     "(Python: ValueError)", fn);
  if (size > (size_t)INT64_MAX)
    return mpmp__err(MPMP_EINVAL, "%s: %zu bytes is more than a block can "
                     "hold", fn, size);
  registry_t *r = registry(fn, &rc);
  if (r == NULL)
    return rc;
  mpmp_shm_t *s = mpmp__calloc(1, sizeof *s);
  if (s == NULL)
    return mpmp__err(MPMP_ENOMEM, "%s: out of memory", fn);
  if (name != NULL)
    snprintf(s->name, sizeof s->name, "%s", name);
  else
    fresh_name(s->name);
  s->size = size;
  s->secret = mpmp__rt.obj_secret;
  int fd = -1;
  struct stat st;
  if ((rc = make_memfd(s->name, size, &fd, &st, fn)) < 0)
    goto fail;
  if ((rc = map_fd(fd, size, &s->buf, s->name, fn)) < 0)
    goto fail_fd;
  if (init != NULL && (rc = init(s->buf, size, arg)) < 0)
    goto fail_map;
  reg_lock(r);
  sweep(r);
  rc = reg_add(r, s, fd, &st, name != NULL, fn);
  reg_unlock(r);
  if (rc < 0)
    goto fail_map;
  *out = s;
  return 0;
fail_map:
  munmap(s->buf, size);
fail_fd:
  close(fd);
fail:
  mpmp__free(s);
  return rc;
}

MPMP_API int mpmp_shm_create(mpmp_shm_t **shm, const char *name,
                             size_t size) {
  if (shm != NULL)
    *shm = NULL;
  return shm_new(shm, name, size, NULL, NULL, "mpmp_shm_create");
}

static int no_such_name(const char *name, const char *fn) {
  return mpmp__err(MPMP_SHM_ENOENT, "%s: no SharedMemory block named '%s' "
                   "on this node (node %d of %d, %s): it was never created "
                   "here, or it was unlinked. Blocks are per node: one "
                   "created by a rank of another node cannot be attached "
                   "here (use an Array for data every node needs)", fn, name,
                   mpmp__net.node, mpmp__net.nnodes, mpmp__net.ranks[mpmp__net.rank].host);
}

/* An fd of the block `e` names, for this process (lock held). */
static int open_entry(const reg_entry_t *e, int *fdp, const char *fn) {
  if (e->pid == (int32_t)getpid()) {
    *fdp = fcntl(e->fd, F_DUPFD_CLOEXEC, 0);
    if (*fdp < 0)
      return mpmp__err(MPMP_ENOMEM, "%s: dup: %s", fn, strerror(errno));
    return 0;
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)e->pid, (int)e->fd);
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd >= 0) {
    *fdp = fd;
    return 0;
  }
  int err = errno;
  int code = err == ENOENT || err == ESRCH ? MPMP_EDEAD
             : err == ENOMEM || err == EMFILE || err == ENFILE ? MPMP_ENOMEM
                                                               : MPMP_EPERM;
  return mpmp__err(code, "%s: could not open the memory of block '%s' "
                   "through %s (its creator, rank %d): %s%s", fn, e->name,
                   path, (int)e->rank, strerror(err),
                   code == MPMP_EPERM ? ". The ranks of a node must run as "
                   "the same user, in one PID namespace, with /proc mounted"
                   : "");
}

static int shm_attach(mpmp_shm_t **out, const char *name, const char *fn) {
  int rc = mpmp__check_init(fn);
  if (rc < 0)
    return rc;
  if (out == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the output pointer is NULL", fn);
  *out = NULL;
  if ((rc = check_name(name, fn)) < 0)
    return rc;
  registry_t *r = registry(fn, &rc);
  if (r == NULL)
    return rc;
  reg_lock(r);
  sweep(r);
  reg_entry_t *e = find(r, name);
  reg_entry_t copy = {0};
  uint32_t slot = 0;
  int fd = -1, gone = 0;
  if (e == NULL) {
    rc = no_such_name(name, fn);
  } else {
    copy = *e;
    slot = (uint32_t)(e - r->e);
    rc = open_entry(e, &fd, fn);
    gone = rc == MPMP_EDEAD && creator_gone(e);
    if (gone)
      slot_reap(r, e); /* the name is free again: say so (below) */
  }
  reg_unlock(r);
  if (gone)
    return mpmp__err(MPMP_EDEAD, "%s: block '%s' is gone: the process that "
                     "created it (pid %d, %s of rank %d) has ended, and its "
                     "memory went with it (a block lives as long as its "
                     "creator: create one that must outlive a task or a "
                     "Process in the main rank). The name is free again",
                     fn, name, (int)copy.pid,
                     copy.rank >= 0 && copy.rank < mpmp__net.size &&
                             mpmp__net.ranks[copy.rank].pid == copy.pid
                         ? "the rank itself" : "a task host",
                     (int)copy.rank);
  if (rc < 0)
    return rc;
  struct stat st;
  if (fstat(fd, &st) < 0 || (uint64_t)st.st_dev != copy.dev ||
      (uint64_t)st.st_ino != copy.ino || st.st_size < (off_t)copy.size) {
    close(fd);
    return mpmp__err(MPMP_EPERM, "%s: /proc/%d/fd/%d is not the memory of "
                     "block '%s' (are the ranks of this node in different "
                     "PID namespaces?)", fn, (int)copy.pid, (int)copy.fd,
                     name);
  }
  mpmp_shm_t *s = mpmp__calloc(1, sizeof *s);
  if (s == NULL) {
    close(fd);
    return mpmp__err(MPMP_ENOMEM, "%s: out of memory", fn);
  }
  snprintf(s->name, sizeof s->name, "%s", name);
  s->size = (size_t)copy.size;
  s->slot = slot;
  s->gen = copy.gen;
  s->secret = mpmp__rt.obj_secret;
  rc = map_fd(fd, s->size, &s->buf, name, fn);
  close(fd); /* the mapping keeps the memory */
  if (rc < 0) {
    mpmp__free(s);
    return rc;
  }
  *out = s;
  return 0;
}

MPMP_API int mpmp_shm_attach(mpmp_shm_t **shm, const char *name) {
  return shm_attach(shm, name, "mpmp_shm_attach");
}

MPMP_API int mpmp_shm_open(mpmp_shm_t **shm, const char *name, int create,
                           size_t size) {
  if (create)
    return shm_new(shm, name, size, NULL, NULL, "mpmp_shm_open");
  return mpmp_shm_attach(shm, name);
}

MPMP_API void *mpmp_shm_buf(const mpmp_shm_t *shm) {
  return shm ? shm->buf : NULL;
}

uint32_t mpmp__shm_gen(const mpmp_shm_t *shm) { return shm ? shm->gen : 0; }

MPMP_API size_t mpmp_shm_size(const mpmp_shm_t *shm) {
  return shm ? shm->size : 0;
}

MPMP_API const char *mpmp_shm_name(const mpmp_shm_t *shm) {
  return shm ? shm->name : "";
}

MPMP_API int mpmp_shm_unlink(mpmp_shm_t *shm) {
  static const char fn[] = "mpmp_shm_unlink";
  int rc = mpmp__check_init(fn);
  if (rc < 0)
    return rc;
  if (shm == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the block is NULL", fn);
  if (shm->secret != mpmp__rt.obj_secret || shm->slot >= REG_SLOTS)
    return mpmp__err(MPMP_EBADF, "%s: block '%s' comes from an earlier "
                     "mpmp_init()", fn, shm->name);
  registry_t *r = registry(fn, &rc);
  if (r == NULL)
    return rc;
  reg_lock(r);
  sweep(r);
  reg_entry_t *e = &r->e[shm->slot];
  if (e->state != SLOT_LIVE || e->gen != shm->gen) {
    rc = mpmp__err(MPMP_SHM_ENOENT, "%s: block '%s' was unlinked already",
                   fn, shm->name);
  } else if (e->pid == (int32_t)getpid()) {
    close_creator_fd(e);
    slot_free(e);
    r->live--;
  } else {
    /* Out of lookups now; its creator closes its fd at its next call. */
    e->state = SLOT_ORPHAN;
    memset(e->name, 0, sizeof e->name);
    r->live--;
  }
  reg_unlock(r);
  return rc;
}

MPMP_API int mpmp_shm_close(mpmp_shm_t *shm) {
  if (shm == NULL)
    return 0;
  munmap(shm->buf, shm->size);
  mpmp__free(shm);
  /* A creator that unmaps its last view frees what others unlinked. */
  if (atomic_load(&created_here) && mpmp_initialized()) {
    int rc;
    registry_t *r = registry("mpmp_shm_close", &rc);
    if (r != NULL) {
      reg_lock(r);
      sweep(r);
      reg_unlock(r);
    }
  }
  return 0;
}

/* ---- ShareableList ------------------------------------------------------------
 *
 * The block starts with a header and one descriptor per item (type,
 * capacity, offset), so that any rank attaching by name finds the layout
 * (Python keeps packing formats there for the same reason). Scalars take
 * 8-byte slots, read and written atomically at their own width (a bool:
 * one byte, 0 or 1; None: an unused slot, its type says it all); a byte
 * string takes a 32-bit length and its capacity, rounded up to 8. Like
 * Python's, the list has no lock: a byte string read while another rank
 * writes it may mix the two.
 */

#define SL_MAGIC 0x4c53504du /* "MPSL" */
#define SL_VERSION 1u
#define SL_CAP_MAX (1u << 30)

typedef struct sl_head {
  uint32_t magic;
  uint32_t version;
  uint64_t n;
  uint64_t total; /* the block's size */
  uint64_t reserved;
} sl_head_t;

typedef struct sl_desc {
  uint32_t type; /* an mpmp_type_t or MPMP_SL_BYTES */
  uint32_t cap;  /* bytes: capacity */
  uint64_t off;  /* from the block's start */
} sl_desc_t;

struct mpmp_sharelist {
  mpmp_shm_t *shm;
  size_t n;
  sl_desc_t *desc; /* checked once, kept here: nobody can change it under us */
};

static int is_int_type(unsigned t) {
  return t >= MPMP_INT8 && t <= MPMP_UINT64;
}
static int is_signed_type(unsigned t) {
  return is_int_type(t) && (t - MPMP_INT8) % 2 == 0;
}
static int is_float_type(unsigned t) {
  return t == MPMP_FLOAT || t == MPMP_DOUBLE;
}
static int sl_type_ok(unsigned t) {
  return is_int_type(t) || is_float_type(t) || t == MPMP_SL_BYTES ||
         t == MPMP_SL_BOOL || t == MPMP_SL_NONE;
}
static const char *sl_type_name(unsigned t) {
  return t == MPMP_SL_BYTES  ? "byte string"
         : t == MPMP_SL_BOOL ? "bool"
         : t == MPMP_SL_NONE ? "None"
                             : mpmp_type_name((mpmp_type_t)t);
}

/* Bytes an item takes in the block (a multiple of 8). */
static uint64_t sl_item_bytes(unsigned type, uint32_t cap) {
  if (type == MPMP_SL_BYTES)
    return 8 + (((uint64_t)cap + 7) & ~(uint64_t)7);
  return 8;
}

static int64_t int_min(unsigned t) {
  switch (t) {
  case MPMP_INT8: return INT8_MIN;
  case MPMP_INT16: return INT16_MIN;
  case MPMP_INT32: return INT32_MIN;
  case MPMP_INT64: return INT64_MIN;
  default: return is_signed_type(t) ? INT64_MIN : 0;
  }
}

static int64_t int_max(unsigned t) {
  switch (t) {
  case MPMP_INT8: return INT8_MAX;
  case MPMP_UINT8: return UINT8_MAX;
  case MPMP_INT16: return INT16_MAX;
  case MPMP_UINT16: return UINT16_MAX;
  case MPMP_INT32: return INT32_MAX;
  case MPMP_UINT32: return UINT32_MAX;
  default: return INT64_MAX;
  }
}

/* x fits type t; uint64 takes any bits (as Value does: max reads as -1). */
static int int_fits(unsigned t, int64_t x) {
  if (t == MPMP_UINT64)
    return 1;
  return x >= int_min(t) && x <= int_max(t);
}

static int64_t ld_int(const void *p, unsigned t) {
  switch (t) {
  case MPMP_INT8: return __atomic_load_n((const int8_t *)p, __ATOMIC_ACQUIRE);
  case MPMP_UINT8: return __atomic_load_n((const uint8_t *)p, __ATOMIC_ACQUIRE);
  case MPMP_INT16: return __atomic_load_n((const int16_t *)p, __ATOMIC_ACQUIRE);
  case MPMP_UINT16: return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
  case MPMP_INT32: return __atomic_load_n((const int32_t *)p, __ATOMIC_ACQUIRE);
  case MPMP_UINT32: return __atomic_load_n((const uint32_t *)p, __ATOMIC_ACQUIRE);
  default: return (int64_t)__atomic_load_n((const uint64_t *)p, __ATOMIC_ACQUIRE);
  }
}

static void st_int(void *p, unsigned t, int64_t x) {
  switch (mpmp_type_size((mpmp_type_t)t)) {
  case 1: __atomic_store_n((uint8_t *)p, (uint8_t)x, __ATOMIC_RELEASE); break;
  case 2: __atomic_store_n((uint16_t *)p, (uint16_t)x, __ATOMIC_RELEASE); break;
  case 4: __atomic_store_n((uint32_t *)p, (uint32_t)x, __ATOMIC_RELEASE); break;
  default: __atomic_store_n((uint64_t *)p, (uint64_t)x, __ATOMIC_RELEASE); break;
  }
}

static double ld_float(const void *p, unsigned t) {
  if (t == MPMP_FLOAT) {
    uint32_t bits = __atomic_load_n((const uint32_t *)p, __ATOMIC_ACQUIRE);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
  }
  uint64_t bits = __atomic_load_n((const uint64_t *)p, __ATOMIC_ACQUIRE);
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

static void st_float(void *p, unsigned t, double x) {
  if (t == MPMP_FLOAT) {
    float f = (float)x;
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    __atomic_store_n((uint32_t *)p, bits, __ATOMIC_RELEASE);
  } else {
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    __atomic_store_n((uint64_t *)p, bits, __ATOMIC_RELEASE);
  }
}

static int float_fits(unsigned t, double x) {
  return t != MPMP_FLOAT || !isfinite(x) || fabs(x) <= FLT_MAX;
}

/* Check one item for create (or a value for count/index: no capacity). */
static int item_check(const mpmp_sl_item_t *it, size_t i, int for_create,
                      const char *fn) {
  if (it == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the value is NULL", fn);
  unsigned t = (unsigned)it->type;
  if (!sl_type_ok(t))
    return mpmp__err(MPMP_EINVAL, "%s: item %zu has type %d, which is not "
                     "an integer, float or double type nor MPMP_SL_BYTES, "
                     "MPMP_SL_BOOL or MPMP_SL_NONE", fn, i, it->type);
  if (t == MPMP_SL_BYTES) {
    if (it->len > 0 && it->bytes == NULL)
      return mpmp__err(MPMP_EINVAL, "%s: item %zu has %zu bytes at NULL", fn,
                       i, it->len);
    int rc = mpmp__check_extent(it->bytes, it->len, 1, "an item's bytes", fn);
    if (rc < 0)
      return rc;
    if (for_create && it->cap != 0 && it->cap < it->len)
      return mpmp__err(MPMP_EINVAL, "%s: item %zu has %zu bytes but room "
                       "for only %zu (cap)", fn, i, it->len, it->cap);
    size_t cap = it->cap > it->len ? it->cap : it->len;
    if (for_create && cap > SL_CAP_MAX)
      return mpmp__err(MPMP_EINVAL, "%s: item %zu: %zu bytes is more than a "
                       "byte string item holds (%u)", fn, i, cap, SL_CAP_MAX);
  } else if (t == MPMP_SL_BOOL && it->i != 0 && it->i != 1) {
    return mpmp__err(MPMP_EINVAL, "%s: item %zu: a bool is 0 or 1, not %lld "
                     "(mpmp_sl_bool() makes one)", fn, i, (long long)it->i);
  } else if (for_create && is_int_type(t) && !int_fits(t, it->i)) {
    return mpmp__err(MPMP_EINVAL, "%s: item %zu: %lld does not fit a %s", fn,
                     i, (long long)it->i, sl_type_name(t));
  } else if (for_create && !float_fits(t, it->f)) {
    return mpmp__err(MPMP_EINVAL, "%s: item %zu: %g does not fit a float", fn,
                     i, it->f);
  }
  return 0;
}

typedef struct sl_plan {
  const mpmp_sl_item_t *items;
  size_t n;
  uint64_t total;
} sl_plan_t;

/* Lay the list out in a fresh (zeroed) block: runs before it is named. */
static int sl_init(void *buf, size_t size, const void *arg) {
  const sl_plan_t *p = arg;
  char *b = buf;
  sl_head_t *h = buf;
  sl_desc_t *d = (sl_desc_t *)(void *)(b + sizeof *h);
  uint64_t off = sizeof *h + p->n * sizeof *d;
  for (size_t i = 0; i < p->n; i++) {
    const mpmp_sl_item_t *it = &p->items[i];
    unsigned t = (unsigned)it->type;
    d[i].type = t;
    d[i].off = off;
    if (t == MPMP_SL_BYTES) {
      size_t cap = it->cap > it->len ? it->cap : it->len;
      d[i].cap = (uint32_t)cap;
      memcpy(b + off, &(uint32_t){(uint32_t)it->len}, 4);
      if (it->len)
        memcpy(b + off + 8, it->bytes, it->len);
    } else if (is_int_type(t)) {
      st_int(b + off, t, it->i);
    } else if (t == MPMP_SL_BOOL) {
      b[off] = (char)(it->i != 0);
    } else if (is_float_type(t)) {
      st_float(b + off, t, it->f);
    } /* None: nothing to store */
    off += sl_item_bytes(t, d[i].cap);
  }
  h->n = p->n;
  h->total = size;
  h->version = SL_VERSION;
  h->magic = SL_MAGIC;
  return 0;
}

/* A list over `shm`, whose layout is checked; the caller closes `shm` if
 * this fails. */
static int sl_wrap(mpmp_sharelist_t **out, mpmp_shm_t *shm, const char *fn) {
  size_t size = mpmp_shm_size(shm);
  const char *b = mpmp_shm_buf(shm);
  const sl_head_t *h = (const void *)b;
  int bad = size < sizeof *h || h->magic != SL_MAGIC ||
            h->version != SL_VERSION || h->total != size ||
            h->n > (size - sizeof *h) / sizeof(sl_desc_t);
  mpmp_sharelist_t *sl = NULL;
  size_t n = bad ? 0 : (size_t)h->n;
  if (!bad) {
    sl = mpmp__calloc(1, sizeof *sl);
    if (sl == NULL || (n && (sl->desc = mpmp__calloc(n, sizeof(sl_desc_t)))
                                 == NULL)) {
      mpmp__free(sl);
      return mpmp__err(MPMP_ENOMEM, "%s: out of memory", fn);
    }
    if (n)
      memcpy(sl->desc, b + sizeof *h, n * sizeof(sl_desc_t));
    uint64_t lo = sizeof *h + n * sizeof(sl_desc_t);
    for (size_t i = 0; i < n && !bad; i++) {
      const sl_desc_t *d = &sl->desc[i];
      bad = !sl_type_ok(d->type) || d->off % 8 != 0 || d->off < lo ||
            d->cap > SL_CAP_MAX || d->off > size ||
            /* (not d->off + bytes > size: an offset near 2^64 wraps the
             * sum and passed, and the item's access then faulted) */
            sl_item_bytes(d->type, d->cap) > size - d->off;
    }
  }
  if (bad) {
    int rc = mpmp__err(MPMP_EINVAL, "%s: block '%s' is not a ShareableList "
                       "(made by mpmp_shm_create, or damaged)", fn,
                       mpmp_shm_name(shm));
    if (sl)
      mpmp__free(sl->desc);
    mpmp__free(sl);
    return rc;
  }
  sl->shm = shm;
  sl->n = n;
  *out = sl;
  return 0;
}

MPMP_API int mpmp_sharelist_create(mpmp_sharelist_t **sl, const char *name,
                                   const mpmp_sl_item_t *items, size_t n) {
  static const char fn[] = "mpmp_sharelist_create";
  if (sl != NULL)
    *sl = NULL;
  int rc = mpmp__check_init(fn);
  if (rc < 0)
    return rc;
  if (sl == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the output pointer is NULL", fn);
  *sl = NULL;
  if (n > 0 && items == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: %zu items at NULL", fn, n);
  if (n > (SIZE_MAX / 2) / (sizeof(sl_desc_t) + 8 + SL_CAP_MAX))
    return mpmp__err(MPMP_EINVAL, "%s: %zu items is too many", fn, n);
  if ((rc = mpmp__check_extent(items, n, sizeof *items, "the items", fn)) < 0)
    return rc;
  sl_plan_t plan = {items, n, sizeof(sl_head_t) + n * sizeof(sl_desc_t)};
  for (size_t i = 0; i < n; i++) {
    if ((rc = item_check(&items[i], i, 1, fn)) < 0)
      return rc;
    size_t cap = items[i].cap > items[i].len ? items[i].cap : items[i].len;
    plan.total += sl_item_bytes((unsigned)items[i].type, (uint32_t)cap);
  }
  mpmp_shm_t *shm;
  if ((rc = shm_new(&shm, name, (size_t)plan.total, sl_init, &plan, fn)) < 0)
    return rc;
  if ((rc = sl_wrap(sl, shm, fn)) < 0) { /* out of memory: undo it all */
    mpmp_shm_unlink(shm);
    mpmp_shm_close(shm);
    mpmp__err(rc, "%s: out of memory", fn);
  }
  return rc;
}

MPMP_API int mpmp_sharelist_attach(mpmp_sharelist_t **sl, const char *name) {
  static const char fn[] = "mpmp_sharelist_attach";
  if (sl == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the output pointer is NULL", fn);
  *sl = NULL;
  mpmp_shm_t *shm;
  int rc = shm_attach(&shm, name, fn);
  if (rc == 0 && (rc = sl_wrap(sl, shm, fn)) < 0)
    mpmp_shm_close(shm); /* leaves the message alone */
  return rc;
}

MPMP_API int mpmp_sharelist_len(const mpmp_sharelist_t *sl, size_t *n) {
  if (sl == NULL || n == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_sharelist_len: a NULL argument");
  *n = sl->n;
  return 0;
}

/* Item i (Python's index: negative from the end) of the wanted kind ('i'
 * integer, 'f' float, 'b' bytes, '?' bool, 0 any); *at: its place. */
static int sl_item_at(const mpmp_sharelist_t *sl, int64_t index, int kind,
                      const sl_desc_t **d, char **p, size_t *at,
                      const char *fn) {
  if (sl == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the list is NULL", fn);
  int64_t n = (int64_t)sl->n, j = index < 0 ? index + n : index;
  if (j < 0 || j >= n)
    return mpmp__err(MPMP_EINVAL, "%s: index %lld out of range (the list has "
                     "%zu items; IndexError)", fn, (long long)index, sl->n);
  size_t i = (size_t)j;
  *at = i;
  *d = &sl->desc[i];
  *p = (char *)mpmp_shm_buf(sl->shm) + (*d)->off;
  unsigned t = (*d)->type;
  int ok = kind == 0 || (kind == 'i' && is_int_type(t)) ||
           (kind == 'f' && is_float_type(t)) ||
           (kind == 'b' && t == MPMP_SL_BYTES) ||
           (kind == '?' && t == MPMP_SL_BOOL);
  if (!ok)
    return mpmp__err(MPMP_EINVAL, "%s: item %zu is a %s, not %s", fn, i,
                     sl_type_name(t),
                     kind == 'i'   ? "an integer"
                     : kind == 'f' ? "a float or double"
                     : kind == '?' ? "a bool"
                                   : "a byte string");
  return 0;
}

static int sl_item(const mpmp_sharelist_t *sl, int64_t index, int kind,
                   const sl_desc_t **d, char **p, const char *fn) {
  size_t at;
  return sl_item_at(sl, index, kind, d, p, &at, fn);
}

MPMP_API int mpmp_sharelist_type(const mpmp_sharelist_t *sl, int64_t i) {
  const sl_desc_t *d = NULL;
  char *p = NULL;
  int rc = sl_item(sl, i, 0, &d, &p, "mpmp_sharelist_type");
  return rc < 0 ? rc : (int)d->type;
}

MPMP_API int mpmp_sharelist_get_i64(const mpmp_sharelist_t *sl, int64_t i,
                                    int64_t *out) {
  static const char fn[] = "mpmp_sharelist_get_i64";
  const sl_desc_t *d = NULL;
  char *p = NULL;
  int rc = out ? sl_item(sl, i, 'i', &d, &p, fn)
               : mpmp__err(MPMP_EINVAL, "%s: out is NULL", fn);
  if (rc == 0)
    *out = ld_int(p, d->type);
  return rc;
}

MPMP_API int mpmp_sharelist_get_f64(const mpmp_sharelist_t *sl, int64_t i,
                                    double *out) {
  static const char fn[] = "mpmp_sharelist_get_f64";
  const sl_desc_t *d = NULL;
  char *p = NULL;
  int rc = out ? sl_item(sl, i, 'f', &d, &p, fn)
               : mpmp__err(MPMP_EINVAL, "%s: out is NULL", fn);
  if (rc == 0)
    *out = ld_float(p, d->type);
  return rc;
}

static uint32_t bytes_len(const char *p, const sl_desc_t *d) {
  uint32_t len = __atomic_load_n((const uint32_t *)(const void *)p,
                                 __ATOMIC_ACQUIRE);
  return len > d->cap ? d->cap : len; /* another process's damage stays in */
}

MPMP_API int mpmp_sharelist_get_bytes(const mpmp_sharelist_t *sl, int64_t i,
                                      void *buf, size_t max, size_t *len) {
  static const char fn[] = "mpmp_sharelist_get_bytes";
  const sl_desc_t *d = NULL;
  char *p = NULL;
  int rc = sl_item(sl, i, 'b', &d, &p, fn);
  if (rc < 0)
    return rc;
  uint32_t n = bytes_len(p, d);
  if (len)
    *len = n;
  if (n > max)
    return mpmp__err(MPMP_EMSGSIZE, "%s: item %lld has %u bytes, the buffer "
                     "holds %zu", fn, (long long)i, n, max);
  if (n && buf == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: buf is NULL", fn);
  if ((rc = mpmp__check_extent(buf, n, 1, "the buffer", fn)) < 0)
    return rc;
  if (n)
    memcpy(buf, p + 8, n);
  return 0;
}

MPMP_API int mpmp_sharelist_set_i64(mpmp_sharelist_t *sl, int64_t i,
                                    int64_t x) {
  static const char fn[] = "mpmp_sharelist_set_i64";
  const sl_desc_t *d = NULL;
  char *p = NULL;
  int rc = sl_item(sl, i, 'i', &d, &p, fn);
  if (rc < 0)
    return rc;
  if (!int_fits(d->type, x))
    return mpmp__err(MPMP_EINVAL, "%s: %lld does not fit item %lld, a %s "
                     "(%lld..%lld)", fn, (long long)x, (long long)i,
                     sl_type_name(d->type), (long long)int_min(d->type),
                     (long long)int_max(d->type));
  st_int(p, d->type, x);
  return 0;
}

MPMP_API int mpmp_sharelist_set_f64(mpmp_sharelist_t *sl, int64_t i,
                                    double x) {
  static const char fn[] = "mpmp_sharelist_set_f64";
  const sl_desc_t *d = NULL;
  char *p = NULL;
  int rc = sl_item(sl, i, 'f', &d, &p, fn);
  if (rc < 0)
    return rc;
  if (!float_fits(d->type, x))
    return mpmp__err(MPMP_EINVAL, "%s: %g does not fit item %lld, a float",
                     fn, x, (long long)i);
  st_float(p, d->type, x);
  return 0;
}

MPMP_API int mpmp_sharelist_set_bytes(mpmp_sharelist_t *sl, int64_t i,
                                      const void *data, size_t len) {
  static const char fn[] = "mpmp_sharelist_set_bytes";
  const sl_desc_t *d = NULL;
  char *p = NULL;
  int rc = sl_item(sl, i, 'b', &d, &p, fn);
  if (rc < 0)
    return rc;
  if (len > d->cap)
    return mpmp__err(MPMP_EMSGSIZE, "%s: %zu bytes do not fit item %lld, "
                     "which holds %u (fixed when the list was created)", fn,
                     len, (long long)i, d->cap);
  if (len && data == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: %zu bytes at NULL", fn, len);
  if ((rc = mpmp__check_extent(data, len, 1, "the data", fn)) < 0)
    return rc;
  if (len)
    memcpy(p + 8, data, len);
  __atomic_store_n((uint32_t *)(void *)p, (uint32_t)len, __ATOMIC_RELEASE);
  return 0;
}

MPMP_API int mpmp_sharelist_get_bool(const mpmp_sharelist_t *sl, int64_t i,
                                     int *out) {
  static const char fn[] = "mpmp_sharelist_get_bool";
  const sl_desc_t *d = NULL;
  char *p = NULL;
  int rc = out ? sl_item(sl, i, '?', &d, &p, fn)
               : mpmp__err(MPMP_EINVAL, "%s: out is NULL", fn);
  if (rc == 0)
    *out = __atomic_load_n((const uint8_t *)p, __ATOMIC_ACQUIRE) != 0;
  return rc;
}

MPMP_API int mpmp_sharelist_set_bool(mpmp_sharelist_t *sl, int64_t i,
                                     int x) {
  static const char fn[] = "mpmp_sharelist_set_bool";
  const sl_desc_t *d = NULL;
  char *p = NULL;
  int rc = sl_item(sl, i, '?', &d, &p, fn);
  if (rc == 0)
    __atomic_store_n((uint8_t *)p, (uint8_t)(x != 0), __ATOMIC_RELEASE);
  return rc;
}

MPMP_API int mpmp_sharelist_is_none(const mpmp_sharelist_t *sl, int64_t i) {
  const sl_desc_t *d = NULL;
  char *p = NULL;
  int rc = sl_item(sl, i, 0, &d, &p, "mpmp_sharelist_is_none");
  return rc < 0 ? rc : d->type == MPMP_SL_NONE;
}

/* A number as sign and magnitude, so that every pair compares exactly. */
typedef struct num {
  int is_float;
  double f;
  int neg;
  uint64_t mag;
} num_t;

static num_t num_int(int64_t v, int is_unsigned) {
  num_t n = {0};
  if (is_unsigned || v >= 0) {
    n.mag = (uint64_t)v;
  } else {
    n.neg = 1;
    n.mag = (uint64_t)0 - (uint64_t)v;
  }
  return n;
}

static int num_eq(num_t a, num_t b) {
  if (a.is_float && b.is_float)
    return a.f == b.f;
  if (a.is_float || b.is_float) { /* Python: 7 == 7.0, 2**63 == 2.0**63 */
    double f = a.is_float ? a.f : b.f;
    num_t i = a.is_float ? b : a;
    if (!isfinite(f) || f != trunc(f) || fabs(f) >= 18446744073709551616.0)
      return 0;
    return (i.mag == 0 && f == 0.0) ||
           (i.neg == (f < 0) && i.mag == (uint64_t)fabs(f));
  }
  return a.neg == b.neg && a.mag == b.mag;
}

static int sl_equal(const mpmp_sharelist_t *sl, size_t i,
                    const mpmp_sl_item_t *v) {
  const sl_desc_t *d = &sl->desc[i];
  const char *p = (const char *)mpmp_shm_buf(sl->shm) + d->off;
  unsigned vt = (unsigned)v->type;
  if ((d->type == MPMP_SL_BYTES) != (vt == MPMP_SL_BYTES) ||
      (d->type == MPMP_SL_NONE) != (vt == MPMP_SL_NONE))
    return 0;
  if (vt == MPMP_SL_NONE) /* None == None */
    return 1;
  if (vt == MPMP_SL_BYTES) {
    uint32_t n = bytes_len(p, d);
    return n == v->len && (n == 0 || memcmp(p + 8, v->bytes, n) == 0);
  }
  num_t a, b;
  if (d->type == MPMP_SL_BOOL) { /* True == 1 == 1.0, as in Python */
    a = num_int(__atomic_load_n((const uint8_t *)p, __ATOMIC_ACQUIRE) != 0, 0);
  } else if (is_int_type(d->type)) {
    a = num_int(ld_int(p, d->type), d->type == MPMP_UINT64);
  } else {
    a = (num_t){.is_float = 1, .f = ld_float(p, d->type)};
  }
  if (vt == MPMP_SL_BOOL) {
    b = num_int(v->i != 0, 0);
  } else if (is_int_type(vt)) {
    b = num_int(v->i, vt == MPMP_UINT64);
  } else {
    b = (num_t){.is_float = 1, .f = vt == MPMP_FLOAT ? (float)v->f : v->f};
  }
  return num_eq(a, b);
}

static int sl_search(const mpmp_sharelist_t *sl, const mpmp_sl_item_t *v,
                     size_t *count, size_t *first, const char *fn) {
  if (sl == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the list is NULL", fn);
  int rc = item_check(v, 0, 0, fn);
  if (rc < 0)
    return rc;
  *count = 0;
  for (size_t i = 0; i < sl->n; i++)
    if (sl_equal(sl, i, v) && (*count)++ == 0 && first)
      *first = i;
  return 0;
}

MPMP_API int mpmp_sharelist_count(const mpmp_sharelist_t *sl,
                                  const mpmp_sl_item_t *value,
                                  size_t *count) {
  static const char fn[] = "mpmp_sharelist_count";
  if (count == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: count is NULL", fn);
  return sl_search(sl, value, count, NULL, fn);
}

MPMP_API int mpmp_sharelist_index(const mpmp_sharelist_t *sl,
                                  const mpmp_sl_item_t *value,
                                  size_t *index) {
  static const char fn[] = "mpmp_sharelist_index";
  size_t count;
  if (index == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: index is NULL", fn);
  int rc = sl_search(sl, value, &count, index, fn);
  if (rc == 0 && count == 0)
    rc = mpmp__err(MPMP_EINVAL, "%s: the value is not in the list (Python: "
                   "ValueError)", fn);
  return rc;
}

MPMP_API mpmp_shm_t *mpmp_sharelist_shm(const mpmp_sharelist_t *sl) {
  return sl ? sl->shm : NULL;
}

MPMP_API const char *mpmp_sharelist_name(const mpmp_sharelist_t *sl) {
  return sl ? mpmp_shm_name(sl->shm) : "";
}

MPMP_API int mpmp_sharelist_unlink(mpmp_sharelist_t *sl) {
  if (sl == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_sharelist_unlink: the list is NULL");
  return mpmp_shm_unlink(sl->shm);
}

MPMP_API int mpmp_sharelist_close(mpmp_sharelist_t *sl) {
  if (sl == NULL)
    return 0;
  int rc = mpmp_shm_close(sl->shm);
  mpmp__free(sl->desc);
  mpmp__free(sl);
  return rc;
}
