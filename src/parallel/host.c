/*
 * Task hosts: a worker rank runs the items of an isolated chunk in a child
 * process of its own that never calls MPI, so that a task that crashes,
 * aborts, exits or runs past its time limit costs its item, not the rank
 * (MPI cannot survive the death of a rank: Open MPI 4.1 has no ULFM).
 *
 * Forks. A worker's threads (the agent, Open MPI's and PMIx's own) may
 * hold locks at any moment, and a child forked then would find them held
 * for ever. So each worker forks, once, at setup (before its agent thread
 * starts), a fork server: a single-threaded child that does nothing but
 * fork hosts on request and reap them, as Python's forkserver does. A host
 * is a copy of that quiet process: the task table, the node segment (a
 * shared mapping: Values, locks and queues of this node work), no MPI.
 *
 * The channel. Worker and host share one region: a memfd that the worker
 * made before the fork server, so every host has it mapped. Its first page
 * is the control block (host_ctl_t): a request, the count of items done,
 * and futex words; the items, results and failures follow, and the region
 * grows (ftruncate + mremap on either side) when a request needs more.
 * The worker waits for the answer on a futex word in slices, so that it
 * also sees a host that died (the fork server reaps it, stores its wait
 * status and wakes the worker), one past its item's time limit, and a stop
 * request whose grace period ran out (it then kills the host).
 *
 * A host never calls MPI. Its requests to objects of another node and to
 * the Manager go through the worker (transport/relay.c): the worker passes
 * them on while it waits for the answer of its request, and hands their
 * answers back. Anything else that needs MPI (a Process, a Pool's work)
 * fails with MPMP_ENOTSUP and says so.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "heap.h"
#include "objects.h"
#include "parallel.h"
#include "proto.h"
#include "shsync.h"

#define CTL_BYTES 4096u
#define SLICE_S 0.02 /* how often a waiting worker looks at its host */
#define NAP_S 1.0    /* ... and one whose host has nothing to run */

typedef struct host_ctl {
  _Atomic uint32_t req;    /* worker -> host: a new request (futex) */
  _Atomic uint32_t resp;   /* host or fork server -> worker (futex) */
  _Atomic uint32_t done;   /* items of the request finished so far */
  _Atomic int32_t gone;    /* the host died; its wait status: */
  _Atomic int32_t status;
  _Atomic int32_t host_pid;
  _Atomic uint32_t spawn_req; /* req when the host was started: served */
  _Atomic uint64_t size;   /* bytes of the region (it only grows) */
  struct mpmp__stops stops; /* the worker's stop words (mpmp__rt.stop) */
  _Atomic uint32_t owners;  /* lock owner ids of the worker's threads (a
                               host's carry its generation: object.c) */
  _Atomic uint32_t wake;    /* futex: the worker has something to look at
                               (an answer, a dead host, a relayed message) */
  _Atomic uint32_t gen;     /* hosts started: the current one's generation */
  _Atomic uint32_t ran;     /* pool requests (tasks) the host has run: a
                               pool's maxtasksperchild replaces it */
  _Atomic uint32_t heap_busy; /* the host is inside the node heap's lock
                               (heap.c): kill_host waits for 0 */
  /* the host's calls inside objects (objects.h): the worker gives their
   * references back once the host is dead */
  _Atomic uint64_t inside[MPMP__INSIDE_SLOTS];
  /* the request */
  int32_t task, pad;
  uint64_t job, first, count, in_size, out_size, out_max;
  uint64_t stop_id; /* what the stop words name for it (its group) */
  /* a variable-size chunk (proto.h: var): var_len bytes of its offsets
   * and items, of which those from item var_skip on are this request's;
   * 0: fixed-size items */
  uint64_t var_len, var_skip;
  /* the answer: results at out_off (apply: out_len bytes), then nfail
   * records (mpmp__fail_rec_t + message) at fail_off, fail_len bytes; a
   * variable-size chunk's results are records there too (RESULT_REC) */
  uint64_t out_len, fail_off, fail_len, nfail;
  int32_t ret;       /* the last item's return value (a Process body's) */
  int32_t renew;     /* a Process body: a new lock owner before and after */
  mpmp__run_hdr_t body; /* a Process body's header (mpmp_current_process) */
  /* The loan (see "Lending the mailboxes" below) */
  int32_t kind;             /* the request: KIND_RUN or KIND_LEND */
  uint32_t loan_pool;       /* the pool whose chunks the host may take */
  _Atomic uint32_t loan;    /* LOAN_* */
  _Atomic uint32_t direct;  /* 1: a request the host took itself is in
                               the region, not answered yet */
  _Atomic uint32_t dseq;    /* requests the host took itself */
  _Atomic uint32_t napping; /* the worker sleeps with no time limit: wake
                               it when a request is taken */
  uint64_t rec_head;        /* the ring's head before that request... */
  uint64_t out_tail;        /* ...and the answer ring's tail */
  double t_start;           /* when the host took it (mpmp__now()) */
  _Atomic uint32_t taken;   /* the last request (req) the host took: one
                               it died before taking never ran there */
  mpmp__chunk_hdr_t dhdr;   /* its header */
  mpmp__mbox_loan_t lo;
} host_ctl_t;

enum { KIND_RUN, KIND_LEND, KIND_EXIT };

/* The code of a record that holds a variable-size item's result (its
 * len bytes), not a failure: records are appended and counted one by
 * one, so a host that dies leaves those of the items it finished. */
#define RESULT_REC INT32_MIN
/* LENT: the host may take and answer; TAKING, SENDING: it is doing so
 * (a recall waits); RECALLED: the worker took the rings back; NONE: the
 * host left the loan (or there is none). */
enum { LOAN_NONE, LOAN_LENT, LOAN_TAKING, LOAN_SENDING, LOAN_RECALLED };

_Static_assert(sizeof(host_ctl_t) <= CTL_BYTES, "the control block fits");

/* Where a request's results begin in the region, after in_bytes of its
 * items: at a multiple of 64 bytes, as a result buffer of malloc's or of
 * the worker's would be (items of 12 bytes left 8-byte results at odd
 * addresses, which UBSan flags and aligned vector stores fault on;
 * helper 59). */
static size_t out_off(size_t in_bytes) {
  return CTL_BYTES + ((in_bytes + 63) & ~(size_t)63);
}

static struct {
  int fd;            /* the region's memfd; -1: no hosts in this run */
  char *base;        /* this process's mapping of it (moves as it grows) */
  size_t mapped;
  host_ctl_t *ctl;   /* its first page mapped once more, never moved: the
                        stop words and the owner counter are read through
                        pointers into it */
  pid_t server;      /* the fork server (the worker's child) */
  int sock;          /* the worker's end of the socket to it */
  int in_host;       /* this process is a host */
  pid_t worker;      /* the worker rank's pid */
  const mpmp__run_hdr_t *body; /* in a host: the body it runs, or NULL */
} H = {.fd = -1, .sock = -1};

const mpmp__run_hdr_t *mpmp__host_current(void) { return H.body; }

int mpmp__host_worker_pid(void) { return H.in_host ? (int)H.worker : 0; }

static host_ctl_t *ctl(void) { return H.ctl; }

/* The worker and its host meet on shared futex words (shsync.h). */
static void futex_wake(_Atomic uint32_t *w) {
  mpmp__futex_wake(w, 1, FUTEX_BITSET_MATCH_ANY);
}

/* Tell the worker to look (it sleeps on `wake` while its host runs). */
static void wake_worker(void) {
  atomic_fetch_add(&ctl()->wake, 1);
  futex_wake(&ctl()->wake);
}

/* Sleep while *w == val, at most `s` seconds (negative: no limit). */
static void futex_wait(_Atomic uint32_t *w, uint32_t val, double s) {
  mpmp__futex_wait_until(w, val, FUTEX_BITSET_MATCH_ANY,
                         s < 0 ? INFINITY : mpmp__now() + s);
}

/* Map the region as large as the control block says (the other side may
 * have grown it). 0, or -1 if it could not be mapped. */
static int remap(void) {
  size_t size = (size_t)atomic_load(&ctl()->size);
  if (size <= H.mapped)
    return 0;
  void *p;
  if (H.in_host) { /* a new mapping with its guard (guard_region) */
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, H.fd, 0);
    if (p == MAP_FAILED || mprotect(p, CTL_BYTES, PROT_NONE) < 0) {
      if (p != MAP_FAILED)
        munmap(p, size);
      return -1;
    }
    munmap(H.base, H.mapped);
  } else {
    p = mremap(H.base, H.mapped, size, MREMAP_MAYMOVE);
    if (p == MAP_FAILED)
      return -1;
  }
  H.base = p;
  H.mapped = size;
  return 0;
}

/*
 * In a host, the region's first page (the control block, which the host
 * reaches through its other mapping, H.ctl) is made inaccessible: it lies
 * just below the items and results a task is given, and a task that
 * writes below its mpmp_out() or mpmp_arg() buffer (an index of -1, a
 * pointer walked back too far) would otherwise rewrite the request, the
 * loan's state and the futex words, and leave the worker waiting on
 * nonsense. It now dies of SIGSEGV there, which the worker reports as the
 * item's crash. (A page of protection in one process's mapping; remap()
 * keeps it, by mapping anew rather than mremap(), which cannot move a
 * mapping of two protections.)
 */
static int guard_region(void) {
  return mprotect(H.base, CTL_BYTES, PROT_NONE);
}

/* Make the region at least `need` bytes (either side may). */
static int grow(size_t need) {
  if (remap() < 0)
    return -1;
  if (need <= H.mapped)
    return 0;
  size_t size = H.mapped;
  while (size < need)
    size *= 2;
  if (ftruncate(H.fd, (off_t)size) < 0)
    return -1;
  atomic_store(&ctl()->size, size);
  return remap();
}

int mpmp__host_ready(void) { return H.fd >= 0 && H.server > 0; }

/* The fork server died (killed: the OOM killer, a user's kill), and how:
 * its wait status. A worker then has no task host for good. */
static struct {
  int died, status;
  pid_t pid;
} fs_lost;

/* The fork server has died: reaped (once), with no host from then on
 * (mpmp__host_ready; it is not started again: see "Workers without a task
 * host" in pool.c). The host it had dies with it (PR_SET_PDEATHSIG), and
 * nobody else will say so in the region: this does. */
static void server_reaped(int st) {
  host_ctl_t *c = ctl();
  fs_lost.died = 1;
  fs_lost.status = st;
  fs_lost.pid = H.server;
  H.server = 0;
  /* Its host is dead too: the locks it held are taken over, as the fork
   * server would have had them (its record here, and the other nodes it
   * reached through tell_death). */
  if (atomic_load(&c->host_pid) > 0 && !atomic_load(&c->gone)) {
    mpmp__owner_host_dead(atomic_load(&c->gen));
    atomic_store(&c->status, SIGKILL); /* (a wait status: killed, 9) */
    atomic_store(&c->gone, 1);
  }
  atomic_store(&c->host_pid, 0);
}

/* Has the fork server died? */
static int server_lost(void) {
  int st;
  if (H.server > 0 && waitpid(H.server, &st, WNOHANG) == H.server)
    server_reaped(st);
  return fs_lost.died;
}

/* The fork server closed its end of the socket: it is ending (it does so
 * only at its exit). Wait for it. */
static void server_closed(void) {
  int st;
  pid_t r;
  while ((r = waitpid(H.server, &st, 0)) < 0 && errno == EINTR)
    ;
  if (r == H.server)
    server_reaped(st);
}

const char *mpmp__host_none_why(char *buf, size_t n) {
  if (fs_lost.died) {
    char how[120];
    if (WIFSIGNALED(fs_lost.status))
      snprintf(how, sizeof how, "killed by signal %d (%s)",
               WTERMSIG(fs_lost.status), strsignal(WTERMSIG(fs_lost.status)));
    else
      snprintf(how, sizeof how, "exited with status %d",
               WIFEXITED(fs_lost.status) ? WEXITSTATUS(fs_lost.status) : -1);
    snprintf(buf, n, "its task-host fork server (pid %d) died (%s), its "
             "task host with it", (int)fs_lost.pid, how);
  } else if (strcasecmp(mpmp__rt.env.ISOLATE, "never") == 0) {
    snprintf(buf, n, "this worker has no task host (MPMP_ISOLATE=never)");
  } else {
    snprintf(buf, n, "this worker has no task host: its fork server could "
             "not start (see the warning of mpmp_init)");
  }
  return buf;
}

/* The bytes of a variable-size chunk's items and offsets, from its
 * offsets (proto.h); 0 for fixed-size items. */
static size_t var_bytes(const mpmp__chunk_hdr_t *h, const char *in) {
  if (!h->var)
    return 0;
  uint64_t end;
  memcpy(&end, in + (size_t)h->count * sizeof end, sizeof end);
  return ((size_t)h->count + 1) * sizeof end + (size_t)end;
}

/* The request's fields for items [first + start, first + count) of `h`
 * (their input already in place: a variable-size chunk's all of it,
 * var_len bytes); `renew`: a Process body's. */
static void set_request(host_ctl_t *c, const mpmp__chunk_hdr_t *h,
                        uint64_t start, int renew, size_t var_len) {
  uint64_t n = h->count - start;
  size_t in_bytes = h->var ? var_len : (size_t)(n * h->in_size);
  size_t out_bytes = h->out_size ? (size_t)(n * h->out_size) : 0;
  c->task = h->task;
  c->job = h->job;
  c->stop_id = mpmp__chunk_stop_id(h);
  c->first = h->first + start;
  c->count = n;
  c->in_size = h->in_size;
  c->out_size = h->out_size;
  c->out_max = h->out_max;
  c->var_len = h->var ? var_len : 0;
  c->var_skip = start;
  c->out_len = c->nfail = c->fail_len = 0;
  c->ret = 0;
  c->renew = renew;
  c->fail_off = out_off(in_bytes) + out_bytes;
  atomic_store(&c->done, 0);
}

/* ---- the host ---------------------------------------------------------------- */

/* Append a record: a failure (mpmp_fail already cut the message to
 * MPMP__MSG_MAX and said so: nothing more is lost here), or a result. */
static int host_put(uint64_t index, int code, const void *msg, size_t len) {
  host_ctl_t *c = ctl();
  size_t at = (size_t)(c->fail_off + c->fail_len);
  if (grow(at + sizeof(mpmp__fail_rec_t) + len) < 0)
    return -1;
  c = ctl();
  mpmp__fail_rec_t rec = {.index = index, .len = (uint32_t)len, .code = code};
  memcpy(H.base + at, &rec, sizeof rec);
  memcpy(H.base + at + sizeof rec, msg, len);
  c->fail_len += sizeof rec + len;
  c->nfail++;
  return 0;
}

static int host_fail(uint64_t index, int code, const char *msg) {
  return host_put(index, code, msg, strnlen(msg, MPMP__MSG_MAX + 256));
}

/*
 * The last item of a map's chunk runs on a slot of its own, guarded after
 * it (mpmp__guard_set): the slots lie side by side, so a task that writes
 * past its slot writes into the next item's, which that item writes
 * again, but the last item's would land on the chunk's failure records.
 * Its result is copied into place when the guard is intact, and it fails,
 * saying why, when not (as chunk.c's guard after its result buffers).
 */
static char *last_map; /* its mapping: a page no one may touch, the slot's
                          pages, and another such page */
static size_t last_cap, last_len;

static char *last_slot_for(size_t size) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  if (size > last_cap) {
    /* a write below the slot (an index of -1) faults at once, as below a
     * slot of the region (its guard page): a crash that costs the item,
     * not a damaged heap */
    if (size > SIZE_MAX / 2 - 2 * page)
      return NULL;
    size_t body = (size + MPMP__OUT_GUARD + page - 1) / page * page;
    char *m = mmap(NULL, body + 2 * page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
      return NULL; /* in place, unguarded */
    if (mprotect(m, page, PROT_NONE) != 0 ||
        mprotect(m + page + body, page, PROT_NONE) != 0) {
      munmap(m, body + 2 * page);
      return NULL;
    }
    if (last_map != NULL)
      munmap(last_map, last_len);
    last_map = m;
    last_len = body + 2 * page;
    last_cap = body - MPMP__OUT_GUARD;
  }
  char *slot = last_map + page;
  memset(slot, 0, size);
  mpmp__guard_set(slot + size);
  return slot;
}

/* Run the request's items, as chunk.c runs them in the worker. */
static void host_run(void) {
  host_ctl_t *c = ctl();
  const mpmp__task_entry_t *t = mpmp__task_get(c->task);
  uint64_t n = c->count;
  for (uint64_t i = 0; i < n; i++) {
    char *own_slot = NULL;
    c = ctl(); /* a grow may have moved the region */
    mpmp_ctx_t ctx = {.arg = H.base + CTL_BYTES + i * c->in_size,
                      .arg_size = c->in_size, .out_size = c->out_size,
                      .out_max = c->out_size ? c->out_size : c->out_max,
                      .stoppable = 1, .id = c->stop_id};
    size_t in_end = out_off((size_t)(n * c->in_size)); /* the results */
    if (c->var_len) { /* offsets (relative to the chunk's bytes), bytes */
      const uint64_t *off = (const uint64_t *)(H.base + CTL_BYTES);
      uint64_t k = c->var_skip + i, total = c->var_skip + n;
      ctx.arg = H.base + CTL_BYTES + (total + 1) * sizeof *off + off[k];
      ctx.arg_size = (size_t)(off[k + 1] - off[k]);
      in_end = out_off((size_t)c->var_len);
    }
    if (c->out_size) {
      ctx.slot = H.base + in_end + i * c->out_size;
      memset(ctx.slot, 0, c->out_size);
      if (i == n - 1 && (own_slot = last_slot_for(c->out_size)) != NULL)
        ctx.slot = own_slot;
    }
    ctx.body = c->renew; /* a Process body (or an initializer) */
    if (c->renew && i == 0)
      mpmp_errmsg_clear(); /* a new process: no earlier body's message */
    int ret = t->fn(&ctx);
    ctl()->ret = ret;
    mpmp__item_verdict(t, ret, &ctx);
    c = ctl();
    /* apply: its result; a Process body's also when it failed (it may
     * have returned because it was asked to stop: terminated, with it).
     * The failure records follow it. */
    if (c->var_len && ctx.out_size > 0 && ctx.errmsg == NULL &&
        host_put(c->first + i, RESULT_REC, ctx.out, ctx.out_size) < 0)
      host_fail(c->first + i, MPMP_ENOMEM, "the task host could not grow "
                "its region for the result");
    if (!c->var_len && !c->out_size && ctx.out_size > 0 &&
        (ctx.errmsg == NULL || c->renew)) {
      size_t at = in_end;
      if (grow(at + ctx.out_size) == 0) {
        memcpy(H.base + at, ctx.out, ctx.out_size);
        c->out_len = ctx.out_size;
        c->fail_off = at + ctx.out_size; /* one item: no record yet */
      } else {
        host_fail(c->first + i, MPMP_ENOMEM, "the task host could not "
                  "grow its region for the result");
      }
    }
    if (own_slot != NULL) {
      size_t k = mpmp__guard_changed(own_slot + c->out_size);
      if (k < MPMP__OUT_GUARD && ctx.errmsg == NULL) {
        char msg[400];
        mpmp__slot_overrun(msg, sizeof msg, t->name, c->out_size, k);
        mpmp_fail(&ctx, "%s", msg);
      }
      if (ctx.errmsg == NULL) /* (a failed item's slot: zeros) */
        memcpy(H.base + in_end + i * c->out_size, own_slot, c->out_size);
    }
    if (ctx.errmsg != NULL) {
      if (c->out_size) /* a failed item's slot: zeros, also when its task
                          wrote it before it failed or was cut short */
        memset(H.base + in_end + i * c->out_size, 0, c->out_size);
      host_fail(c->first + i, MPMP_ETASK, ctx.errmsg);
    }
    mpmp__ctx_fini(&ctx);
    /* the item's puts are in their queues before the worker may count it
     * done: were the host to die at a later item of the chunk, the worker
     * reports the items before it as done, and puts still gathering here
     * (to another node: pipelined) would be lost with the host */
    mpmp__obj_fence();
    atomic_store(&ctl()->done, (uint32_t)(i + 1));
  }
  if (!ctl()->renew) /* a pool's task (a chunk), not a body or initializer */
    atomic_fetch_add(&ctl()->ran, 1);
}

/* ---- the host with a loan ------------------------------------------------------ */

/* A chunk the host may take itself: of the lent pool, its items inline
 * in the record, its results inline in the answer, its job not stopped.
 * (A variable-size chunk's offsets are checked once in the region.) */
static int takeable(const mpmp__chunk_hdr_t *h, size_t len, uint32_t pool) {
  const struct mpmp__stops *st = &ctl()->stops;
  size_t items = len - sizeof *h;
  return h->isolate && h->pool == pool && h->count > 0 &&
         (h->var ? items >= ((size_t)h->count + 1) * sizeof(uint64_t)
          : h->in_size == 0 ? items == 0
                            : items % h->in_size == 0 &&
                                  items / h->in_size == h->count) &&
         (h->out_size == 0 || h->out_size <= MPMP__INLINE_MAX / h->count) &&
         !mpmp__stop_named(st, mpmp__chunk_stop_id(h)) &&
         mpmp__task_get(h->task) != NULL;
}

/* The answer to the request the host took, as the worker would send it
 * (chunk.c): 1 when it went into the ring; 0 when it does not fit there
 * (the worker sends it). The results and the failure records lie one
 * after the other in the region. */
static int direct_send_var(const mpmp__mbox_loan_t *lo, mpmp__mbox_tx_t *tx);

static int direct_send(const mpmp__mbox_loan_t *lo, mpmp__mbox_tx_t *tx) {
  host_ctl_t *c = ctl();
  if (c->var_len)
    return direct_send_var(lo, tx);
  size_t in_end = out_off((size_t)(c->count * c->in_size));
  uint64_t data = c->out_size ? c->count * c->out_size : c->out_len;
  mpmp__chunk_done_t d = {.job = c->job, .first = c->first,
                          .count = (uint32_t)c->count,
                          .nfail = (uint32_t)c->nfail, .data_len = data};
  if (c->fail_off != in_end + data ||
      !mpmp__mbox_put(lo->out, lo->cap, tx, MPMP__TAG_CHUNK_DONE, &d,
                      sizeof d, H.base + in_end, (size_t)(data + c->fail_len)))
    return 0;
  mpmp__bell_ring(lo->peer_bell);
  return 1;
}

/* A variable-size chunk's answer, as run_var (chunk.c) sends it: its
 * records in the region, results and failures, made into the results'
 * sizes and bytes, then the failures. */
static int direct_send_var(const mpmp__mbox_loan_t *lo, mpmp__mbox_tx_t *tx) {
  host_ctl_t *c = ctl();
  mpmp__var_res_t vr;
  if (mpmp__var_res_init(&vr, (uint32_t)c->count) < 0)
    return 0;
  /* the failures as they are, and a result that cannot be kept as a
   * failure saying why (fewer than 128 bytes) */
  char *fails = mpmp__malloc((size_t)(c->fail_len + c->nfail * 128) + 1);
  size_t flen = 0;
  uint32_t nfail = 0;
  const char *p = H.base + c->fail_off;
  for (uint64_t k = 0; fails != NULL && k < c->nfail; k++) {
    mpmp__fail_rec_t rec;
    memcpy(&rec, p, sizeof rec);
    const char *msg = p + sizeof rec;
    p += sizeof rec + rec.len;
    if (rec.code == RESULT_REC) {
      msg = mpmp__var_res_put(&vr, (uint32_t)(rec.index - c->first), msg,
                              rec.len);
      if (msg == NULL)
        continue;
      rec.code = MPMP_ETASK;
      rec.len = (uint32_t)strlen(msg);
    }
    memcpy(fails + flen, &rec, sizeof rec);
    memcpy(fails + flen + sizeof rec, msg, rec.len);
    flen += sizeof rec + rec.len;
    nfail++;
  }
  char *all = fails ? mpmp__realloc(vr.buf, vr.used + flen + 1) : NULL;
  int sent = 0;
  if (all != NULL) {
    vr.buf = all;
    memcpy(all + vr.used, fails, flen);
    mpmp__chunk_done_t d = {.job = c->job, .first = c->first,
                            .count = (uint32_t)c->count, .nfail = nfail,
                            .data_len = vr.used};
    sent = mpmp__mbox_put(lo->out, lo->cap, tx, MPMP__TAG_CHUNK_DONE, &d,
                          sizeof d, all, vr.used + flen);
  }
  mpmp__free(fails);
  mpmp__free(vr.buf);
  if (sent)
    mpmp__bell_ring(lo->peer_bell);
  return sent;
}

/*
 * Wait for the next message of the peer: 1 when its ring holds one or the
 * loan was recalled; 0 when the worker is wanted instead. Each message of
 * the peer rings the doorbell once, after it is in the ring: a ring more
 * than the messages taken is something else (another rank's message, an
 * MPI message announced, the worker's recall), and the worker sees to it.
 */
static int direct_idle(const mpmp__mbox_loan_t *lo, uint64_t head,
                       uint32_t taken) {
  host_ctl_t *c = ctl();
  mpmp__bell_t *b = lo->my_bell;
  double spin_until = -1;
  for (unsigned i = 0;; i++) {
    uint32_t seq = atomic_load(&b->seq);
    if (atomic_load_explicit(&lo->in->tail, memory_order_acquire) != head ||
        atomic_load(&c->loan) != LOAN_LENT)
      return 1;
    if ((uint32_t)(seq - lo->seq0) > taken)
      return 0;
    double now = mpmp__now();
    if (spin_until < 0)
      spin_until = now + mpmp__net.spin_s;
    if (now < spin_until) {
      if (mpmp__net.spin_yield || (i & 63) == 63)
        mpmp__poll_yield();
      else
        mpmp__cpu_relax();
      continue;
    }
    atomic_fetch_add(&b->sleepers, 1);
    if (atomic_load(&b->seq) == seq &&
        atomic_load_explicit(&lo->in->tail, memory_order_acquire) == head)
      mpmp__bell_sleep(b, seq, -1);
    atomic_fetch_sub(&b->sleepers, 1);
    spin_until = -1;
  }
}

/* Serve the loan: take the lent pool's chunks from the peer's ring, run
 * them, answer them, until something else comes or the worker recalls. */
static void direct_serve(void) {
  host_ctl_t *c = ctl();
  const mpmp__mbox_loan_t lo = c->lo;
  mpmp__mbox_tx_t tx = {atomic_load(&lo.out->tail),
                        atomic_load(&lo.out->head)};
  uint64_t head = atomic_load(&lo.in->head);
  uint32_t taken = 0, pool = c->loan_pool;
  for (;;) {
    uint32_t st = LOAN_LENT;
    if (!atomic_compare_exchange_strong(&ctl()->loan, &st, LOAN_TAKING))
      break; /* recalled */
    mpmp__chunk_hdr_t h;
    int tag;
    size_t len = 0;
    int r = mpmp__mbox_peek(lo.in, lo.cap, head, &tag, &len, &h, sizeof h);
    if (r == 0) {
      atomic_store(&ctl()->loan, LOAN_LENT);
      if (!direct_idle(&lo, head, taken))
        break;
      continue;
    }
    if (r < 0 || tag != MPMP__TAG_RUN_CHUNK || len < sizeof h ||
        !takeable(&h, len, pool) ||
        (h.max_tasks > 0 && atomic_load(&ctl()->ran) >= h.max_tasks))
      break; /* the worker's (the record stays in the ring; one past
                maxtasksperchild: the worker replaces this host first) */
    size_t in_bytes = len - sizeof h;
    size_t out_bytes = h.out_size ? (size_t)(h.count * h.out_size) : 0;
    if (grow(out_off(in_bytes) + out_bytes) < 0)
      break;
    c = ctl();
    mpmp__mbox_copy(lo.in, lo.cap, head, sizeof h, H.base + CTL_BYTES,
                    in_bytes);
    uint64_t var_end = 0, var_head = ((uint64_t)h.count + 1) * sizeof var_end;
    if (h.var) /* its offsets must hold its bytes: else the worker's */
      memcpy(&var_end, H.base + CTL_BYTES + var_head - sizeof var_end,
             sizeof var_end);
    if (h.var && var_end != in_bytes - var_head)
      break;
    set_request(c, &h, 0, 0, h.var ? in_bytes : 0);
    c->dhdr = h;
    c->rec_head = head;
    c->out_tail = tx.tail;
    c->t_start = mpmp__now();
    /* The request is the host's before the record leaves the ring: if
     * the host dies in between, the worker finds the record still there,
     * and after, the request here (and answers it). */
    atomic_store(&c->direct, 1);
    atomic_fetch_add(&c->dseq, 1);
    mpmp__mbox_skip(lo.in, &head, len);
    taken++;
    atomic_store(&c->loan, LOAN_LENT);
    if (atomic_exchange(&c->napping, 0))
      wake_worker(); /* it watches requests that run long */
    host_run();
    st = LOAN_LENT;
    if (!atomic_compare_exchange_strong(&ctl()->loan, &st, LOAN_SENDING))
      break; /* recalled: the worker answers */
    int sent = direct_send(&lo, &tx);
    if (sent)
      atomic_store(&ctl()->direct, 0);
    atomic_store(&ctl()->loan, LOAN_LENT);
    if (!sent)
      break; /* the worker sends the answer */
  }
  c = ctl();
  atomic_store(&c->loan, LOAN_NONE);
  atomic_fetch_add(&c->resp, 1);
  wake_worker();
}

/* How long exit() in a task host waits for its pipelined puts, sends and
 * adds to another node to be acknowledged (a bounded queue there may be
 * full: the exit must not hang on it). */
#define EXIT_FENCE_S 10.0

/* exit() in a task ends the host at once: the exit handlers registered
 * before this one (Open MPI's, the program's) belong to the worker. This
 * one runs first (on_exit runs the last registered first). What the task
 * put, sent or added to another node and was still gathering behind a
 * batch in flight goes first, as a Python process's queue feeder flushes
 * at a normal exit (object.c, "Pipelined puts"). */
static void host_exit(int status, void *arg) {
  (void)arg;
  fflush(NULL);
  if (mpmp__obj_fence_within(EXIT_FENCE_S) < 0)
    MPMP__WARN("a task host's exit(%d) left puts, sends or adds to another "
               "node unacknowledged after %.0f s: they may be lost", status,
               EXIT_FENCE_S);
  _exit(status);
}

_Noreturn static void host_main(void) {
  H.in_host = 1;
  if (guard_region() < 0)
    _exit(125);
  /* MPI no more: objects of other nodes and the Manager through the
   * worker (transport/relay.c) */
  mpmp__relay_enter_host(atomic_load(&ctl()->gen));
  /* The fork server was forked during mpmp_init, before the runtime said
   * it runs: in the host it does (objects, mpmp_fail, should_stop). */
  atomic_store(&mpmp__rt.state, MPMP__RUNNING);
  on_exit(host_exit, NULL);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  /* The task's crash kills the host with its own signal, for the worker
   * to report: no handler of the worker's. */
  static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT,
                             SIGSYS, SIGTRAP, SIGTERM, SIGINT, SIGPIPE};
  for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
    signal(sigs[i], SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  mpmp__owner_host(atomic_load(&ctl()->gen));
  atomic_store(&ctl()->heap_busy, 0); /* (a killed host's count is stale) */
  mpmp__heap_set_busy(&ctl()->heap_busy);
  mpmp__obj_set_inside(ctl()->inside); /* zeroed by the worker */
  /* Requests up to the one of the spawn were served by earlier hosts. */
  uint32_t seen = atomic_load(&ctl()->spawn_req);
  for (;;) {
    uint32_t req = atomic_load(&ctl()->req);
    if (req == seen) {
      futex_wait(&ctl()->req, req, -1);
      continue;
    }
    seen = req;
    if (remap() < 0)
      _exit(125);
    atomic_store(&ctl()->taken, req);
    if (ctl()->kind == KIND_LEND) {
      direct_serve();
      continue;
    }
    if (ctl()->kind == KIND_EXIT)
      exit(0); /* replaced (maxtasksperchild): the task's exit handlers
                  run, as a Python worker's do when it retires */
    int renew = ctl()->renew;
    static mpmp__run_hdr_t body;
    if (renew) { /* a new process in Python's terms */
      mpmp__owner_renew();
      mpmp__queue_forget_closed();
      body = ctl()->body;
      H.body = &body;
    }
    host_run();
    if (renew) {
      mpmp__owner_renew();
      mpmp__queue_forget_closed();
    }
    H.body = NULL;
    atomic_fetch_add(&ctl()->resp, 1);
    wake_worker();
  }
}

/* ---- processes a task left running ------------------------------------------ */

/*
 * A task that starts a process and returns without waiting for it (a
 * fork, system("cmd &"), a daemon) leaves it running after its rank's
 * mpmp_finalize. It holds the rank's stdout and stderr, which are pipes
 * to mpirun, and mpirun waits for their end before the job can end: the
 * job hung until the process ended. So each worker rank ends, at its
 * finalize, the processes its tasks left: the ones the worker started
 * (tasks run in the worker: its children and theirs) and, through the
 * fork server, the task hosts' (the server is a child subreaper, so a
 * host's orphans, daemons included, become its children when their
 * parent dies). SIGTERM first, SIGKILL to those left after STRAY_GRACE_S.
 * Python leaves such processes running at exit; a batch system ends them
 * with the job, as here. The main rank's children are the program's own
 * and are left alone.
 */
#define STRAY_GRACE_S 1.0
#define STRAY_MAX 256

/* Is process `pid` (its /proc entry's name) alive, neither gone nor a
 * zombie (dead, waiting for its parent)? Then *ppid is its parent. */
static int proc_alive(const char *pid, pid_t *ppid) {
  char path[300], buf[256];
  snprintf(path, sizeof path, "/proc/%s/stat", pid);
  FILE *f = fopen(path, "re");
  if (f == NULL)
    return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  const char *st = strrchr(buf, ')'); /* after the command's name */
  int parent;
  char state;
  if (st == NULL || sscanf(st + 1, " %c %d", &state, &parent) != 2 ||
      state == 'Z' || state == 'X')
    return 0;
  *ppid = (pid_t)parent;
  return 1;
}

/* A worker's processes from before mpmp_init (a program that calls
 * mpmp_init_comm may have its own): never ended, nor their descendants. */
static pid_t stray_keep[16];
static int stray_nkeep;

static int stray_kept(pid_t pid) {
  if (pid == getpid())
    return 1;
  for (int k = 0; k < stray_nkeep; k++)
    if (stray_keep[k] == pid)
      return 1;
  return 0;
}

/* This process's descendants alive now, but those kept (stray_kept) and
 * theirs: up to max, their number. */
static int stray_list(pid_t *out, int max) {
  enum { PAIRS = 4096 };
  static pid_t pid_of[PAIRS], parent_of[PAIRS];
  int npairs = 0, n = 0;
  DIR *d = opendir("/proc");
  if (d == NULL)
    return 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && npairs < PAIRS)
    if (e->d_name[0] >= '1' && e->d_name[0] <= '9' &&
        proc_alive(e->d_name, &parent_of[npairs]))
      pid_of[npairs++] = (pid_t)atoi(e->d_name);
  closedir(d);
  /* breadth first from this process: a parent is listed before its own */
  for (int from = -1; from < n; from++) {
    pid_t parent = from < 0 ? getpid() : out[from];
    for (int i = 0; i < npairs && n < max; i++)
      if (parent_of[i] == parent && !stray_kept(pid_of[i]))
        out[n++] = pid_of[i];
  }
  return n;
}

/* A worker, at init: what is there already is the program's. */
static void stray_note_own(void) {
  stray_nkeep = 0;
  stray_nkeep = stray_list(stray_keep, 16);
}

/* Ends this process's descendants but those kept (SIGTERM, then SIGKILL
 * after STRAY_GRACE_S) and reaps its children among them: how many there
 * were, and the first in *first. */
static int end_strays(pid_t *first) {
  pid_t p[STRAY_MAX];
  int n = stray_list(p, STRAY_MAX);
  if (n == 0)
    return 0;
  *first = p[0];
  for (int i = 0; i < n; i++) {
    kill(p[i], SIGTERM);
    kill(p[i], SIGCONT); /* (a stopped one would not see it) */
  }
  double end = mpmp__now() + STRAY_GRACE_S;
  for (int left = n; left > 0;) {
    left = 0;
    for (int i = 0; i < n; i++) {
      if (p[i] == 0)
        continue;
      /* a child of ours is reaped; another one's zombie is its parent's */
      char name[24];
      pid_t parent;
      snprintf(name, sizeof name, "%d", (int)p[i]);
      if (waitpid(p[i], NULL, WNOHANG) == p[i] || !proc_alive(name, &parent)) {
        p[i] = 0;
        continue;
      }
      if (mpmp__now() >= end)
        kill(p[i], SIGKILL);
      left++;
    }
    if (left > 0) {
      struct timespec ts = {0, 5 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
  }
  return n;
}

/* Ends what this process's tasks left running, and says so. */
static void end_strays_said(const char *whose) {
  pid_t first = 0;
  int n = end_strays(&first);
  if (n > 0)
    MPMP__WARN("%d process%s that %s started (pid %d%s) %s still running "
               "at mpmp_finalize: ended (SIGTERM, then SIGKILL after %.0f "
               "s), since it would keep the job's output open and mpirun "
               "waiting; a task that starts a process should wait for it",
               n, n > 1 ? "es" : "", whose, (int)first, n > 1 ? ", ..." : "",
               n > 1 ? "were" : "was", STRAY_GRACE_S);
}

void mpmp__host_end_strays(void) {
  if (mpmp__net.rank != 0) {
    end_strays_said("tasks run in this worker rank");
    prctl(PR_SET_CHILD_SUBREAPER, 0); /* the program's again (setup) */
  }
}

/* ---- the fork server ---------------------------------------------------------- */

_Noreturn static void server_main(int sock, pid_t worker) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  /* the hosts' orphans become ours (end_strays) */
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  if (getppid() != worker)
    _exit(0);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC);
  pid_t host = 0;
  for (;;) {
    struct pollfd p[2] = {{.fd = sock, .events = POLLIN},
                          {.fd = sfd, .events = POLLIN}};
    if (poll(p, 2, -1) < 0 && errno != EINTR)
      _exit(1);
    if (p[1].revents & POLLIN) {
      struct signalfd_siginfo si;
      ssize_t r = read(sfd, &si, sizeof si);
      (void)r;
      int st;
      pid_t dead;
      while ((dead = waitpid(-1, &st, WNOHANG)) > 0) {
        if (dead != host)
          continue;
        host = 0;
        mpmp__owner_host_dead(atomic_load(&ctl()->gen));
        atomic_store(&ctl()->status, st);
        atomic_store(&ctl()->gone, 1);
        atomic_fetch_add(&ctl()->resp, 1);
        wake_worker();
      }
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char cmd;
      if (read(sock, &cmd, 1) != 1) { /* the worker is done with us */
        if (host > 0) { /* reaped here: not a zombie left to init */
          kill(host, SIGKILL);
          while (waitpid(host, NULL, 0) < 0 && errno == EINTR)
            ;
        }
        end_strays_said("task hosts of this rank");
        while (waitpid(-1, NULL, WNOHANG) > 0) /* (all ours) */
          ;
        _exit(0);
      }
      pid_t pid = fork();
      if (pid == 0) {
        close(sock);
        close(sfd);
        host_main();
      }
      host = pid > 0 ? pid : 0;
      ssize_t w = write(sock, &pid, sizeof pid);
      (void)w;
    }
  }
}

/* ---- the worker's side --------------------------------------------------------- */

/* The pool whose tasks the host's `ran` counts (worker side). */
static uint32_t ran_pool;

/* The host is dead: the other nodes it sent object requests to learn it
 * now (mpmp__owner_host_gone, once per host), so that a lock of theirs it
 * held is taken over, before this worker reports the death to anyone. */
static void tell_death(host_ctl_t *c) {
  if (atomic_load(&c->gone)) {
    mpmp__owner_host_gone(atomic_load(&c->gen));
    mpmp__obj_leave_dead(c->inside);
  }
}

/* A fresh host, waiting for the request the caller posts next. */
static int spawn(void) {
  host_ctl_t *c = ctl();
  /* the last host's death, if no wait for it has told it yet (one killed
   * or retired between requests, or that died idle) */
  tell_death(c);
  ran_pool = 0;
  atomic_store(&c->gone, 0);
  atomic_store(&c->done, 0);
  atomic_store(&c->ran, 0);
  atomic_store(&c->spawn_req, atomic_load(&c->req));
  /* answers still on their way to an earlier host are dropped */
  mpmp__relay_reset(atomic_fetch_add(&c->gen, 1) + 1);
  char cmd = 'S';
  pid_t pid = -1;
  /* (send: a fork server that died must not kill the worker by SIGPIPE) */
  ssize_t sent = send(H.sock, &cmd, 1, MSG_NOSIGNAL), got = 0;
  if (sent == 1)
    got = read(H.sock, &pid, sizeof pid);
  if ((sent < 0 && errno == EPIPE) || (sent == 1 && got == 0)) {
    server_closed();
    char why[300];
    return mpmp__err(MPMP_ECRASHED, "%s", mpmp__host_none_why(why, sizeof why));
  }
  if (got != (ssize_t)sizeof pid || pid <= 0)
    return mpmp__err(MPMP_ENOMEM, "the worker's fork server could not start "
                     "a task host");
  atomic_store(&c->host_pid, pid);
  return 0;
}

/* The "hosts" module's setup, the last of all (mpmp.c): the fork server
 * is a copy of the worker as it is now, with every module's handlers set
 * and no thread of ours started yet. Without it isolated items fail,
 * saying why; the worker serves the rest. */
void mpmp__hosts_setup(int is_main) {
  if (!is_main) {
    stray_note_own();
    /* A task run in this rank that leaves a daemon behind (fork, setsid,
     * fork; `system("cmd &")`) orphans it: without this it went to init,
     * out of end_strays' sight, kept the job's output open and mpirun
     * waited for it. As the fork server does for its hosts, this rank
     * becomes the reaper of its tasks' orphans, so finalize ends them.
     * (Not inherited by the fork server, which sets its own.) */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
  }
  if (!is_main && strcasecmp(mpmp__rt.env.ISOLATE, "never") != 0 &&
      mpmp__host_start() < 0)
    MPMP__WARN("no task hosts on this rank: %s", mpmp_errmsg());
}

int mpmp__host_start(void) {
  if (H.fd >= 0)
    return 0;
  H.fd = memfd_create("mpmp-host", MFD_CLOEXEC);
  if (H.fd < 0 || ftruncate(H.fd, (off_t)((size_t)1 << 20)) < 0)
    return mpmp__err(MPMP_ENOMEM, "no memory for the task hosts' region");
  H.mapped = (size_t)1 << 20;
  H.base = mmap(NULL, H.mapped, PROT_READ | PROT_WRITE, MAP_SHARED, H.fd, 0);
  void *c0 = mmap(NULL, CTL_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, H.fd,
                  0);
  if (H.base == MAP_FAILED || c0 == MAP_FAILED) {
    if (H.base != MAP_FAILED)
      munmap(H.base, H.mapped);
    if (c0 != MAP_FAILED)
      munmap(c0, CTL_BYTES);
    H.base = NULL;
    close(H.fd);
    H.fd = -1;
    return mpmp__err(MPMP_ENOMEM, "cannot map the task hosts' region");
  }
  H.ctl = c0;
  atomic_store(&ctl()->size, H.mapped);
  /* The stop words move into the region, where the host reads them. */
  host_ctl_t *c = ctl();
  atomic_store(&c->stops.upto, atomic_load(&mpmp__rt.stop_own.upto));
  atomic_store(&c->stops.one, atomic_load(&mpmp__rt.stop_own.one));
  for (int i = 0; i < MPMP__STOPS_KEPT; i++)
    atomic_store(&c->stops.kept[i], atomic_load(&mpmp__rt.stop_own.kept[i]));
  atomic_store(&c->stops.next, atomic_load(&mpmp__rt.stop_own.next));
  mpmp__rt.stop = &c->stops;
  mpmp__owner_counter_at(&c->owners);
  int rc = mpmp__relay_open(&c->wake);
  if (rc < 0)
    return rc;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return mpmp__err(MPMP_ENOMEM, "socketpair for the fork server: %s",
                     strerror(errno));
  pid_t worker = getpid();
  H.worker = worker;
  fflush(NULL); /* the child must not write the worker's buffered output */
  pid_t pid = fork();
  if (pid < 0)
    return mpmp__err(MPMP_ENOMEM, "fork of the task hosts' server: %s",
                     strerror(errno));
  if (pid == 0) {
    close(sv[0]);
    server_main(sv[1], worker);
  }
  close(sv[1]);
  H.server = pid;
  H.sock = sv[0];
  fs_lost.died = 0;
  return 0;
}

/*
 * Hosts of isolated pools. A pool's workers are its own for its life, as
 * Python's worker processes are, and so is the host of each: what the
 * pool's initializer set up in it is there for the pool's tasks and for
 * nobody else. The worker remembers the initializer (its task and
 * argument) and runs it again in every host that replaces one (after a
 * crash, a time limit); a request of another pool, or a Process body,
 * gets a fresh host instead of one another pool's initializer ran in.
 */
static struct {
  uint32_t host_pool; /* the pool whose initializer ran in the host; 0 */
  uint32_t pool;      /* the pool whose initializer this is; 0: none */
  int32_t task;
  char *arg;
  size_t size;
} P;

static void init_forget(void) {
  mpmp__free(P.arg);
  P.arg = NULL;
  P.pool = 0;
}

void mpmp__host_stop(void) {
  if (H.fd < 0)
    return;
  mpmp__rt.stop = &mpmp__rt.stop_own;
  mpmp__owner_counter_at(NULL);
  if (H.sock >= 0) { /* the server kills its host and ends */
    shutdown(H.sock, SHUT_RDWR); /* (even if a task's child has a copy) */
    close(H.sock);
  }
  if (H.server > 0) { /* it ends at once: the socket closed */
    int st;
    while (waitpid(H.server, &st, 0) < 0 && errno == EINTR)
      ;
  }
  mpmp__relay_close();
  init_forget();
  P.host_pool = 0;
  munmap(H.base, H.mapped);
  close(H.fd);
  H.fd = H.sock = -1;
  H.base = NULL;
  H.mapped = 0;
  H.server = 0;
}

/* The request is a Process body's (mpmp__host_body), not a pool's. */
static int body_run;


/* How the last host died, as Python's Process.exitcode says it: -signal,
 * or the exit status; 0 when no host died in the last run. */
static int last_exit;

static int server_gone(uint32_t resp) {
  /* (reaped already, H.server is 0: still gone, as a request adopted
   * after the death waits here too) */
  return server_lost() && atomic_load(&ctl()->resp) == resp;
}

/* Why the host died, in words. */
static void describe(int st, char *b, size_t n) {
  if (WIFSIGNALED(st))
    snprintf(b, n, "killed by signal %d (%s)", WTERMSIG(st),
             strsignal(WTERMSIG(st)));
  else if (WIFEXITED(st))
    snprintf(b, n, "exited with status %d", WEXITSTATUS(st));
  else
    snprintf(b, n, "ended (wait status %d)", st);
}

typedef struct wake_seen {
  _Atomic uint32_t *word;
  uint32_t seen;
} wake_seen_t;

static int wake_moved(void *arg) {
  const wake_seen_t *ws = arg;
  return atomic_load(ws->word) != ws->seen;
}

/* 1 once process `pid` is stopped (or gone), within about 50 ms. */
static int stopped(pid_t pid) {
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  for (int i = 0; i < 500; i++) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return 1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
      return 1;
    buf[n] = '\0';
    const char *st = strrchr(buf, ')'); /* "pid (comm) S ..." */
    if (st == NULL || st[1] == '\0' || st[2] == 'T' || st[2] == 't' ||
        st[2] == 'Z' || st[2] == 'X')
      return 1;
    usleep(100);
  }
  return 0;
}

/* Kill the host, never inside the node heap's lock (heap.c: a host killed
 * there left the lock held, and every later create on the node hung): stop
 * it, and kill it once it is stopped outside; else let it run on for a
 * moment (its sections take microseconds) and look again, at most 2 s. */
static void kill_outside_the_heap(host_ctl_t *c, pid_t pid) {
  for (int tries = 0; tries < 2000; tries++) {
    if (kill(pid, SIGSTOP) < 0)
      return; /* gone */
    if (stopped(pid) && atomic_load(&c->heap_busy) == 0)
      break;
    kill(pid, SIGCONT);
    usleep(1000);
  }
  kill(pid, SIGKILL);
  kill(pid, SIGCONT); /* (a stopped process dies of SIGKILL all the same) */
}

/* The host must go (a time limit, a stop past its grace): kill it and
 * wait until the server saw it die. */
static void kill_host(void) {
  host_ctl_t *c = ctl();
  pid_t pid = atomic_load(&c->host_pid);
  if (pid > 0)
    kill_outside_the_heap(c, pid);
  /* (a dead fork server tells nothing: its host died with it) */
  while (!atomic_load(&c->gone) && !server_lost()) {
    uint32_t w = atomic_load(&c->wake);
    if (!atomic_load(&c->gone))
      futex_wait(&c->wake, w, SLICE_S);
  }
}

/* The host ran its pool's maxtasksperchild tasks: ask it to exit, as a
 * Python worker retires (its exit handlers run), and wait until the server
 * saw it end; one that has not ended after MPMP_TERM_GRACE is killed. The
 * next request then gets a fresh host (ensure_host). */
static void retire_host(void) {
  host_ctl_t *c = ctl();
  double until = mpmp__now() + mpmp__rt.env.TERM_GRACE;
  c->kind = KIND_EXIT;
  atomic_fetch_add(&c->req, 1);
  futex_wake(&c->req);
  while (!atomic_load(&c->gone) && H.server > 0) {
    uint32_t w = atomic_load(&c->wake);
    if (mpmp__now() > until) {
      kill_host();
      return;
    }
    if (!atomic_load(&c->gone))
      futex_wait(&c->wake, w, SLICE_S);
    server_gone(atomic_load(&c->resp) + 1);
  }
}

static void init_failed(void *arg, uint64_t index, int code,
                        const char *msg) {
  (void)index;
  (void)code;
  char *first = arg;
  if (first[0] == '\0')
    snprintf(first, 600, "%s", msg);
}

/* Run the pool's initializer in the fresh host, as a Process body, on
 * behalf of job `job` (a stop request for that job stops it too), within
 * the pool's task_timeout (seconds; 0: none), as at the pool's create: an
 * initializer that hung in a replacement host held the map for ever. */
static int run_init(uint64_t job, double task_timeout) {
  mpmp__chunk_hdr_t ih = {.job = job, .count = 1, .task = P.task,
                          .isolate = 1, .in_size = P.size,
                          .task_timeout = task_timeout};
  mpmp__run_hdr_t rh = {.id = job, .task = P.task, .isolate = 1};
  snprintf(rh.name, sizeof rh.name, "initializer");
  char why[600] = "";
  int saved_exit = last_exit;
  body_run = 1;
  ctl()->body = rh;
  int rc = mpmp__host_run(&ih, P.arg, NULL, NULL, NULL, init_failed, why);
  body_run = 0;
  last_exit = saved_exit;
  if (rc == 0 && why[0] != '\0')
    rc = mpmp__err(MPMP_ETASK, "the pool's initializer failed in a new task "
                   "host of rank %d: %s", mpmp__net.rank, why);
  return rc;
}

/* A live host for a request of pool `want` (0: a Process body) and job
 * `job`, with that pool's initializer run in it if the pool has one. */
static int ensure_host(uint32_t want, uint64_t job, double task_timeout) {
  host_ctl_t *c = ctl();
  int dead = atomic_load(&c->host_pid) == 0 || atomic_load(&c->gone);
  if (!dead && P.host_pool != 0 && P.host_pool != want) {
    kill_host(); /* another pool's: not for this request */
    dead = 1;
  }
  if (dead) {
    int rc = spawn();
    if (rc < 0)
      return rc;
    P.host_pool = 0;
  }
  if (want != 0 && P.pool != 0 && P.pool != want)
    init_forget(); /* that pool is gone: its workers are this one's now */
  if (want != 0 && P.pool == want && P.host_pool != want) {
    int rc = run_init(job, task_timeout);
    if (rc < 0)
      return rc;
    P.host_pool = want;
  }
  return 0;
}

/* The next mpmp__host_run takes over the request the host took itself
 * (mpmp__host_lend): it is in the region already, answered when `resp`
 * moves from this value. */
static struct {
  int on;
  uint32_t resp;
} adopt;

int mpmp__host_adopting(void) { return adopt.on; }

/* Items [from, count) of h were not run, or cut short, because the
 * fork server died (its host with it): each goes back to the main rank,
 * which deals it again to a worker that has a host (pool.c). The first
 * has had `tried` runs that count (a retry's), the others none. */
static void not_run(const mpmp__chunk_hdr_t *h, uint64_t from, uint32_t tried,
                    void (*fail)(void *arg, uint64_t index, int code,
                                 const char *msg),
                    void *arg) {
  char why[300], msg[400];
  snprintf(msg, sizeof msg, "isolated item not run on rank %d: %s",
           mpmp__net.rank, mpmp__host_none_why(why, sizeof why));
  for (uint64_t i = from; i < h->count; i++, tried = 0)
    fail(arg, h->first + i, MPMP__NOHOST_CODE + (int)tried, msg);
}

/* mpmp__host_run, a variable-size chunk's results into vr. */
static int run_chunk(const mpmp__chunk_hdr_t *h, const char *in, char *out,
                     void **own, size_t *own_len, mpmp__var_res_t *vr,
                     void (*fail)(void *arg, uint64_t index, int code,
                                  const char *msg),
                     void *arg) {
  const mpmp__task_entry_t *t = mpmp__task_get(h->task);
  uint64_t start = 0;
  size_t var_len = var_bytes(h, in);
  last_exit = 0;
  /* runs of the item at `start`, if it is the one (a chunk dealt again
   * counts those before it) */
  uint32_t attempts = 1 + h->tried;
  int idle_deaths = 0;
  while (start < h->count) {
    uint64_t n = h->count - start;
    size_t in_bytes = h->var ? var_len : (size_t)(n * h->in_size);
    size_t out_bytes = h->out_size ? (size_t)(n * h->out_size) : 0;
    host_ctl_t *c = ctl();
    uint32_t resp, posted = 0; /* posted: the request, once posted here */
    double t_item = mpmp__now();
    if (adopt.on) { /* the host took this request itself (a loan) */
      adopt.on = 0;
      resp = adopt.resp;
      t_item = c->t_start;
    } else {
      /* maxtasksperchild: the host's count is the pool's (a host that
       * ran another pool's tasks is replaced too) */
      uint32_t ran = atomic_load(&c->ran);
      if (!body_run && h->max_tasks > 0 && atomic_load(&c->host_pid) > 0 &&
          !atomic_load(&c->gone) &&
          (ran >= h->max_tasks || (ran > 0 && ran_pool != h->pool)))
        retire_host();
      int rc = ensure_host(body_run ? 0 : h->pool, h->job, h->task_timeout);
      if (rc == 0 && !body_run)
        ran_pool = h->pool;
      if (rc < 0 && !body_run && server_lost()) {
        not_run(h, start, attempts - 1, fail, arg);
        return 0;
      }
      if (rc < 0)
        return rc;
      if (grow(out_off(in_bytes) + out_bytes) < 0)
        return mpmp__err(MPMP_ENOMEM, "the task hosts' region cannot grow "
                         "to %zu bytes", out_off(in_bytes) + out_bytes);
      c = ctl();
      /* a variable-size chunk's whole input: its offsets are relative */
      if (in_bytes > 0) /* an initializer's may be NULL, 0 bytes */
        memcpy(H.base + CTL_BYTES, h->var ? in : in + start * h->in_size,
               in_bytes);
      set_request(c, h, start, h->count == 1 && body_run, var_len);
      c->kind = KIND_RUN;
      resp = atomic_load(&c->resp);
      posted = atomic_fetch_add(&c->req, 1) + 1;
      futex_wake(&c->req);
    }
    /* Wait for the answer, or the host's end. */
    double t_stop = 0;
    uint32_t done_seen = 0;
    int why = 0; /* 1: past the time limit, 2: stopped past its grace */
    int orphaned = 0; /* the fork server died, the host with it */
    for (;;) {
      /* the host's messages to other ranks, and their answers */
      uint32_t w = atomic_load(&c->wake);
      int moved = mpmp__relay_serve();
      if (atomic_load(&c->resp) != resp)
        break;
      if (!moved && mpmp__relay_awaiting()) {
        /* an answer for the host is on its way: take it at message
         * speed, as a caller waiting in the worker would */
        wake_seen_t ws = {&c->wake, w};
        mpmp__wait_until(wake_moved, &ws, mpmp__now() + SLICE_S);
      } else if (!moved) {
        futex_wait(&c->wake, w, SLICE_S);
      }
      double now = mpmp__now();
      uint32_t done = atomic_load(&c->done);
      if (done != done_seen) {
        done_seen = done;
        t_item = now;
      }
      mpmp_ctx_t probe = {.stoppable = 1, .id = mpmp__chunk_stop_id(h)};
      if (t_stop == 0 && mpmp__stopped(&probe))
        t_stop = now;
      if (h->task_timeout > 0 && now - t_item > h->task_timeout)
        why = 1;
      else if (t_stop > 0 && now - t_stop > mpmp__rt.env.TERM_GRACE)
        why = 2;
      if (why && atomic_load(&c->resp) == resp) {
        kill_host();
        break;
      }
      if (server_gone(resp)) {
        char lost_why[300];
        if (body_run)
          return mpmp__err(MPMP_ECRASHED, "%s", mpmp__host_none_why(
                                                    lost_why, sizeof lost_why));
        orphaned = 1; /* what the host finished is kept; below, the item
                         it died in is charged as a crash */
        break;
      }
    }
    if (remap() < 0)
      return mpmp__err(MPMP_ENOMEM, "cannot map the task hosts' region");
    c = ctl();
    tell_death(c); /* (before the caller reports the item or body) */
    uint64_t done = atomic_load(&c->done);
    if (done > n)
      done = n;
    /* The results of the items that finished; the others' slots read as
     * zeros: `out` is a reused buffer (chunk.c: result_buf) that holds an
     * earlier chunk's results, and the item the host died in (and those
     * of a stopped job after it) would hand those out as its own. Items
     * run again in a fresh host write theirs over the zeros. */
    if (out_bytes) {
      memcpy(out + start * h->out_size, H.base + out_off(in_bytes),
             (size_t)(done * h->out_size));
      memset(out + (start + done) * h->out_size, 0,
             (size_t)((n - done) * h->out_size));
    }
    if (!h->out_size && c->out_len > 0 && own != NULL &&
        (*own = mpmp__malloc(c->out_len)) != NULL) {
      memcpy(*own, H.base + out_off(in_bytes), c->out_len);
      *own_len = c->out_len;
    }
    const char *p = H.base + c->fail_off;
    for (uint64_t k = 0; k < c->nfail; k++) {
      mpmp__fail_rec_t rec;
      memcpy(&rec, p, sizeof rec);
      if (rec.code == RESULT_REC) { /* a variable-size item's result */
        const char *lost =
            vr == NULL ? NULL
                       : mpmp__var_res_put(vr, (uint32_t)(rec.index - h->first),
                                           p + sizeof rec, rec.len);
        if (lost != NULL)
          fail(arg, rec.index, MPMP_ETASK, lost);
        p += sizeof rec + rec.len;
        continue;
      }
      char *msg = mpmp__malloc((size_t)rec.len + 1);
      if (msg != NULL) {
        memcpy(msg, p + sizeof rec, rec.len);
        msg[rec.len] = '\0';
      }
      fail(arg, rec.index, rec.code, msg ? msg : "");
      mpmp__free(msg);
      p += sizeof rec + rec.len;
    }
    if ((!atomic_load(&c->gone) && !orphaned) || done >= n)
      break; /* every item ran (a host that died after them cost none) */
    if (posted != 0 && done == 0 && !why &&
        atomic_load(&c->taken) != posted && idle_deaths++ < 3)
      continue; /* it died idle (killed between requests) before it took
                   this one: nothing ran there, so a fresh host runs it
                   uncharged (three times at most: a host that dies at
                   once would loop) */
    /* The host died in item `start + done`; the rest go to a new host,
     * the item itself too while it has retries left (not after a stop).
     * One that died with its fork server (orphaned) counts that run as
     * well: the likeliest cause is the task (kill(getppid(), ...), a
     * signal to its process group), and were it dealt again as never
     * run, it would cost every worker of the pool its fork server in
     * turn; with retries left it runs again on another worker (the OOM
     * killer's victim is then no item's loss). With no fork server the
     * next request finds no host, and the rest go elsewhere (not_run). */
    if (done > 0)
      attempts = 1;
    start += done;
    int retry = why != 2 && attempts <= h->max_retries;
    if (retry && !h->redeal && !orphaned) { /* again here, in a fresh host */
      attempts++;
      continue;
    }
    char how[256], msg[600], tries[48] = "";
    int st = atomic_load(&c->status);
    describe(st, how, sizeof how);
    if (orphaned) {
      char server[120];
      describe(fs_lost.status, server, sizeof server);
      snprintf(how, sizeof how, "died with its fork server (pid %d, %s): "
               "did the task kill its parent? This worker runs no isolated "
               "task any more", (int)fs_lost.pid, server);
    }
    uint64_t bad = h->first + start, shown = h->base + bad;
    last_exit = WIFSIGNALED(st) ? -WTERMSIG(st) : WIFEXITED(st) ? WEXITSTATUS(st)
                                                                : -1;
    if (attempts > 1)
      snprintf(tries, sizeof tries, " (%u attempts)", attempts);
    /* where: a map's item, a Process body (or a pool's initializer, run
     * as one), or an apply's or submit's one call (no item to name) */
    char at[120] = "";
    if (body_run)
      snprintf(at, sizeof at, " in process '%.64s'", ctl()->body.name);
    else if (h->out_size != 0 || h->count != 1 || h->var)
      snprintf(at, sizeof at, " on item %llu", (unsigned long long)shown);
    if (why == 1)
      snprintf(msg, sizeof msg, "task '%s' ran past its task_timeout of %g "
               "s%s on rank %d: its host process was killed%s", t->name,
               h->task_timeout, at, mpmp__net.rank, tries);
    else if (why == 2)
      snprintf(msg, sizeof msg, "task '%s' was terminated%s on rank %d: it "
               "did not stop within MPMP_TERM_GRACE (%g s), so its host "
               "process was killed", t->name, at, mpmp__net.rank,
               mpmp__rt.env.TERM_GRACE);
    else
      snprintf(msg, sizeof msg, "task '%s' crashed%s on rank %d: its host "
               "process %s%s", t->name, at, mpmp__net.rank, how, tries);
    /* with retries left, the main rank deals it again, to another worker
     * if it can (the message is its failure if the job stops first) */
    fail(arg, bad, retry ? MPMP__RETRY_CODE + (int)attempts
                   : why == 1 ? MPMP_ETIMEDOUT : MPMP_ECRASHED, msg);
    start += 1;
    attempts = 1;
    if (why == 2) { /* the rest of a stopped job does not run */
      snprintf(msg, sizeof msg, "task '%s' was terminated before it ran "
               "(the pool was terminated)", t->name);
      for (; start < h->count; start++)
        fail(arg, h->first + start, MPMP_ETASK, msg);
    }
  }
  return 0;
}

/*
 * Run items [first, first + count) of `h` in the host; their results go
 * to `out` (count * out_size bytes; apply: *own gets its result; a
 * variable-size chunk: *own gets them all, sizes and bytes), their
 * failures to `fail(index, code, msg)`. Items after one that killed its
 * host run in a fresh host.
 */
int mpmp__host_run(const mpmp__chunk_hdr_t *h, const char *in, char *out,
                   void **own, size_t *own_len,
                   void (*fail)(void *arg, uint64_t index, int code,
                                const char *msg),
                   void *arg) {
  if (!h->var || own == NULL)
    return run_chunk(h, in, out, own, own_len, NULL, fail, arg);
  mpmp__var_res_t vr;
  int rc = mpmp__var_res_init(&vr, h->count);
  if (rc == 0)
    rc = run_chunk(h, in, out, own, own_len, &vr, fail, arg);
  if (rc < 0) { /* every item fails (chunk.c) */
    mpmp__free(vr.buf);
    return rc;
  }
  *own = vr.buf;
  *own_len = vr.used;
  return 0;
}

int mpmp__host_body(const struct mpmp__chunk_hdr *h,
                    const mpmp__run_hdr_t *rh, const char *arg,
                    void **out, size_t *out_len,
                    void (*fail)(void *arg, uint64_t index, int code,
                                 const char *msg),
                    void *fail_arg, int *ret, int *exitcode) {
  if (rh->pool_init != 0) { /* runs again in every new host of the pool */
    init_forget();
    if (h->in_size > 0 && (P.arg = mpmp__malloc(h->in_size)) == NULL)
      return mpmp__err(MPMP_ENOMEM, "out of memory for the initializer");
    if (h->in_size > 0)
      memcpy(P.arg, arg, h->in_size);
    P.size = h->in_size;
    P.task = h->task;
    P.pool = rh->pool_init;
  }
  body_run = 1;
  ctl()->body = *rh;
  int rc = mpmp__host_run(h, arg, NULL, out, out_len, fail, fail_arg);
  body_run = 0;
  if (rh->pool_init != 0 && rc == 0 && ctl()->nfail == 0 &&
      !atomic_load(&ctl()->gone))
    P.host_pool = rh->pool_init; /* the host is the pool's now */
  *ret = ctl()->ret;
  *exitcode = last_exit;
  return rc;
}

/* ---- lending the mailboxes ---------------------------------------------------- */

/*
 * A round trip through a host costs two more context switches than one
 * in the worker (the worker wakes the host, the host wakes the worker):
 * 8-12 us here, against 1.5 us for a whole task round trip in the rank.
 * So while the worker has nothing to do but wait for the next chunk of
 * an isolated pool, it lends its mailbox pair with the main rank to the
 * host (transport.h) and sleeps: the host takes that pool's chunks from
 * the ring itself, runs them and puts their answers in the main rank's
 * ring, as the worker would. Anything else (another message, a chunk it
 * may not take, a doorbell it cannot explain, an answer too big for the
 * ring) ends the loan: the host stops, leaving the record in the ring or
 * its answer in the region, and wakes the worker, which takes over.
 *
 * The worker still watches: it sleeps on its wake word in slices, and
 * takes the rings back (a recall) when a request of the host's runs past
 * a slice (its time limit, a stop and its grace, and the messages that
 * come meanwhile are then the worker's as before), when the host asks it
 * to relay a message, or, when the job spans nodes, when an MPI message
 * is waiting. A host that dies leaves its request in the region; the
 * worker answers it as its own (the `adopt` of mpmp__host_run).
 */

static uint32_t lend_pool; /* the pool of the last isolated chunk, or 0 */

void mpmp__host_after_job(const void *hdr, int is_chunk) {
  const mpmp__chunk_hdr_t *h = hdr;
  /* (a variable-size chunk's items are always inline) */
  size_t items = is_chunk && !h->var ? (size_t)h->count * h->in_size : 0;
  lend_pool = is_chunk && h->isolate && h->count > 0 &&
                      items <= MPMP__INLINE_MAX &&
                      (h->out_size == 0 ||
                       h->out_size <= MPMP__INLINE_MAX / h->count)
                  ? h->pool
                  : 0;
}

/* Take the rings back from a host that may still run a request: 1, or 0
 * when the loan ended first. */
static int recall(host_ctl_t *c, const mpmp__mbox_loan_t *lo) {
  for (;;) {
    uint32_t st = LOAN_LENT;
    if (atomic_compare_exchange_strong(&c->loan, &st, LOAN_RECALLED)) {
      mpmp__bell_ring(lo->my_bell); /* a host waiting for messages wakes */
      return 1;
    }
    if (st == LOAN_NONE || atomic_load(&c->gone) || H.server == 0)
      return 0;
    sched_yield(); /* it is taking or answering a message: a moment */
  }
}

/* The request the host took and left unanswered (it died, or gave the
 * answer back), as a job for mpmp__chunk_run, with adopt set; or NULL. */
static void *adopt_request(host_ctl_t *c, const mpmp__mbox_loan_t *lo,
                           uint32_t resp, size_t *len) {
  if (!atomic_load(&c->direct))
    return NULL;
  atomic_store(&c->direct, 0);
  if (atomic_load(&lo->in->head) == c->rec_head)
    return NULL; /* died before it took the record: it is in the ring */
  if (atomic_load(&lo->out->tail) != c->out_tail)
    return NULL; /* died after it answered */
  if (remap() < 0)
    return NULL;
  c = ctl();
  const mpmp__chunk_hdr_t h = c->dhdr;
  size_t in_bytes = h.var ? (size_t)c->var_len : (size_t)h.count * h.in_size;
  char *job = mpmp__malloc(sizeof h + in_bytes);
  if (job == NULL) {
    MPMP__ERROR("out of memory taking over a chunk from the task host");
    mpmp__abort_job();
  }
  memcpy(job, &h, sizeof h);
  memcpy(job + sizeof h, H.base + CTL_BYTES, in_bytes);
  /* (with the fork server dead too: the items the host finished are
   * kept, the one it died in is charged, the rest go elsewhere) */
  adopt.on = 1;
  adopt.resp = resp;
  *len = sizeof h + in_bytes;
  return job;
}

/* The progress lock given back. A thread that found it taken while it
 * meant to read the rings (the agent about to sleep: progress_req) left
 * that to the holder, which the loan never did: the agent then slept
 * through a message that had rung the bell already (a stop for the
 * host's running item, say), and nobody read it (helper 56: an imap
 * destroy on an isolated pool hung in 5 of 26 runs). */
static void unlock_progress(mpmp__net_t *net) {
  pthread_mutex_unlock(&net->progress_lock);
  if (atomic_load(&net->progress_req))
    mpmp__progress();
}

void *mpmp__host_lend(size_t *len) {
  host_ctl_t *c = ctl();
  *len = 0;
  uint32_t pool = lend_pool;
  if (pool == 0 || !mpmp__host_ready() || mpmp__rt.trace ||
      atomic_load(&c->host_pid) == 0 || atomic_load(&c->gone) ||
      (P.host_pool != pool && (P.host_pool != 0 || P.pool == pool)))
    return NULL; /* no host fit for the pool's next chunk */
  /* nobody would push our sends along while we sleep */
  if (!mpmp__chunk_sends_idle())
    return NULL;
  mpmp__net_t *net = &mpmp__net;
  if (pthread_mutex_trylock(&net->progress_lock) != 0)
    return NULL;
  /* A message taken between the caller's look at the job queue and this
   * lock (by the agent thread: it handles messages under this lock) may
   * have queued a chunk: lent now, the worker would sleep with it queued
   * while the main rank waits for its results, and the host, with nothing
   * in its ring, would never end the loan. With the lock held no handler
   * runs, so this look is the last word. */
  if (mpmp__worker_has_work()) {
    unlock_progress(net);
    return NULL;
  }
  mpmp__driver_enter(); /* the agent parks */
  mpmp__mbox_loan_t lo;
  if (!mpmp__mbox_lend(0, &lo)) {
    mpmp__driver_leave();
    unlock_progress(net);
    return NULL;
  }
  c->lo = lo;
  c->loan_pool = pool;
  c->kind = KIND_LEND;
  atomic_store(&c->direct, 0);
  atomic_store(&c->napping, 0);
  atomic_store(&c->loan, LOAN_LENT);
  uint32_t resp = atomic_load(&c->resp);
  atomic_fetch_add(&c->req, 1);
  futex_wake(&c->req);
  int remote = net->nnodes > 1, quiet = 0, recalled = 0;
  uint32_t dseq_seen = atomic_load(&c->dseq);
  while (atomic_load(&c->resp) == resp && !atomic_load(&c->gone)) {
    uint32_t w = atomic_load(&c->wake);
    /* With nothing running in the host for a while, sleep until it takes
     * a request (it wakes us), or a poll of MPI is due. */
    int nap = !remote && quiet >= 5 && !atomic_load(&c->direct);
    if (nap) {
      atomic_store(&c->napping, 1);
      if (atomic_load(&c->direct) || atomic_load(&c->dseq) != dseq_seen)
        nap = 0;
    }
    futex_wait(&c->wake, w, nap ? NAP_S : remote ? net->poll_s : SLICE_S);
    atomic_store(&c->napping, 0);
    server_gone(resp);
    if (atomic_load(&c->resp) != resp || atomic_load(&c->gone) ||
        H.server == 0)
      break;
    uint32_t d = atomic_load(&c->dseq);
    int busy = atomic_load(&c->direct);
    int want = busy && (d == dseq_seen || mpmp__relay_pending());
    quiet = d == dseq_seen && !busy ? quiet + 1 : 0;
    dseq_seen = d;
    if (remote && !want) {
      int flag = 0;
      MPMP__MPI_CHECK(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, net->comm,
                                 &flag, MPI_STATUS_IGNORE),
                      "MPI_Iprobe while the host has the mailboxes");
      want = flag;
    }
    if (want && recall(c, &lo)) {
      recalled = 1;
      break;
    }
  }
  /* The host has left the loan, or died, or will not touch the rings
   * again (recalled): they are the worker's. */
  if (recalled && !atomic_load(&c->direct)) {
    while (atomic_load(&c->resp) == resp && !atomic_load(&c->gone) &&
           H.server != 0) {
      uint32_t w = atomic_load(&c->wake);
      if (atomic_load(&c->resp) == resp && !atomic_load(&c->gone))
        futex_wait(&c->wake, w, SLICE_S);
      server_gone(resp);
    }
  }
  tell_death(c);
  void *job = adopt_request(c, &lo, resp, len);
  if (!recalled || job == NULL)
    atomic_store(&c->loan, LOAN_NONE);
  mpmp__mbox_unlend(0);
  mpmp__driver_leave();
  unlock_progress(net);
  return job;
}
