/*
 * The relay: how a task host (parallel/host.c), a child of a worker rank
 * that must never call MPI, still reaches objects of other nodes and the
 * Manager. Its requests go to its worker, which sends them as its own; the
 * answers come back to the worker, whose reply handlers see the host's mark
 * in the request's cookie and hand them back to the host.
 *
 * Only the two request/answer protocols whose answers find their caller by
 * a cookie are relayed: objects (MPMP__TAG_OBJ_REQ) and the Manager
 * (MPMP__TAG_MGR_REQ). A host's cookie carries MPMP__COOKIE_HOST and the
 * host's generation (bits 48..62; addresses and the Manager's counters stay
 * below bit 48), so that an answer that comes back after its host died is
 * dropped, not given to the next host.
 *
 * The channel is two one-message slots in memory the worker and its hosts
 * share (memfds made before the fork server, so every host has them): one
 * from the host to the worker, one back. A slot is a header page (the
 * futex words, the message's tag, destination and length) and the message
 * bytes after it; the writer grows the file when a message does not fit
 * (ftruncate), the reader maps what the header says. The writer of a slot
 * waits until the reader took the last message: a host's calls wait for
 * their answers anyway, so at most one message goes each way at a time,
 * and the worker keeps answers that arrive meanwhile in a list. A body
 * may run threads that call at once: in the host, one thread at a time
 * posts (send_lock) and one takes (take_lock). Two that took the same
 * answer, one of them while the worker wrote the next, dispatched it
 * twice or read one message's header with another's length (the fuzzer's
 * threads of remote puts, under ASan).
 *
 * Waking: the host bumps the worker's wake word (host.c's futex word, that
 * the worker sleeps on while its host runs) after it posted a message or
 * took one; the worker rings its own doorbell after it posted an answer,
 * and the host sleeps on that doorbell in mpmp__wait_until like any caller.
 */
#include <errno.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "transport.h"

#define SLOT_HDR 4096u
#define SLOT_MIN ((size_t)1 << 16)

typedef struct slot_hdr {
  _Atomic uint32_t seq;   /* messages posted */
  _Atomic uint32_t taken; /* messages taken (futex: the writer waits) */
  _Atomic uint32_t more;  /* the answer slot: the worker has more answers
                             to post, so the host wakes it when it took one
                             (else no wake: each cost a context switch) */
  _Atomic uint64_t size;  /* bytes of the file */
  int32_t dest, tag;
  uint64_t len, cookie;
} slot_hdr_t;

typedef struct slot {
  int fd;
  slot_hdr_t *hdr;  /* the header page, mapped on its own: never moves */
  char *data;       /* the whole file, mapped as large as it was seen */
  size_t mapped;
} slot_t;

typedef struct back {
  struct back *next;
  int tag;
  void *buf;
  size_t len;
} back_t;

static struct {
  slot_t out, in;           /* host -> worker, worker -> host */
  _Atomic uint32_t *wake;   /* the worker's wake word (shared) */
  uint32_t gen;             /* the host's generation (15 bits) */
  pthread_mutex_t lock;     /* the worker's list of answers for its host */
  pthread_mutex_t send_lock, take_lock; /* the host's threads (above) */
  back_t *head, **tail;
  uint64_t passed, answered; /* the worker: messages passed on, answers
                                passed back */
  /* The worker: per node, 1 if the current host sent an object request
   * there (mpmp__relay_take_reached); NULL until one went to another node.
   * The worker's threads (its loop, its agent) both pass messages on and
   * read the marks: made under `lock`, each mark an atomic byte. */
  _Atomic(_Atomic uint8_t *) reached;
} R = {.out.fd = -1, .in.fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER,
       .send_lock = PTHREAD_MUTEX_INITIALIZER,
       .take_lock = PTHREAD_MUTEX_INITIALIZER};

static void futex(_Atomic uint32_t *w, int op, uint32_t val) {
  syscall(SYS_futex, (uint32_t *)w, op, val, NULL, NULL, 0);
}

static void wake_worker(void) {
  atomic_fetch_add(R.wake, 1);
  futex(R.wake, FUTEX_WAKE, 1);
}

/* ---- slots ------------------------------------------------------------------ */

static int slot_open(slot_t *s) {
  s->fd = memfd_create("mpmp-relay", MFD_CLOEXEC);
  if (s->fd < 0 || ftruncate(s->fd, (off_t)SLOT_MIN) < 0)
    return -1;
  s->hdr = mmap(NULL, SLOT_HDR, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
  s->data = mmap(NULL, SLOT_MIN, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
  if (s->hdr == MAP_FAILED || s->data == MAP_FAILED) {
    s->hdr = s->hdr == MAP_FAILED ? NULL : s->hdr;
    s->data = s->data == MAP_FAILED ? NULL : s->data;
    return -1;
  }
  s->mapped = SLOT_MIN;
  atomic_store(&s->hdr->size, SLOT_MIN);
  return 0;
}

static void slot_close(slot_t *s) {
  if (s->hdr != NULL)
    munmap(s->hdr, SLOT_HDR);
  if (s->data != NULL)
    munmap(s->data, s->mapped);
  if (s->fd >= 0)
    close(s->fd);
  *s = (slot_t){.fd = -1};
}

/* Map as much of the file as the header says (the writer may have grown
 * it). 0, or -1. */
static int slot_map(slot_t *s) {
  size_t size = (size_t)atomic_load(&s->hdr->size);
  if (size <= s->mapped)
    return 0;
  void *p = mremap(s->data, s->mapped, size, MREMAP_MAYMOVE);
  if (p == MAP_FAILED)
    return -1;
  s->data = p;
  s->mapped = size;
  return 0;
}

static int slot_free(const slot_t *s) {
  return atomic_load(&s->hdr->taken) == atomic_load(&s->hdr->seq);
}

/* Post a message (the slot must be free). 0, or MPMP_ENOMEM. */
static int slot_put(slot_t *s, int dest, int tag, uint64_t cookie,
                    const void *a, size_t alen, const void *b, size_t blen) {
  size_t need = SLOT_HDR + alen + blen;
  if (slot_map(s) < 0)
    return MPMP_ENOMEM;
  if (need > s->mapped) {
    size_t size = s->mapped;
    while (size < need)
      size *= 2;
    if (ftruncate(s->fd, (off_t)size) < 0)
      return MPMP_ENOMEM;
    atomic_store(&s->hdr->size, size);
    if (slot_map(s) < 0)
      return MPMP_ENOMEM;
  }
  memcpy(s->data + SLOT_HDR, a, alen);
  if (blen)
    memcpy(s->data + SLOT_HDR + alen, b, blen);
  s->hdr->dest = dest;
  s->hdr->tag = tag;
  s->hdr->len = alen + blen;
  s->hdr->cookie = cookie;
  atomic_fetch_add(&s->hdr->seq, 1); /* seq_cst: after the bytes */
  return 0;
}

/* Take the posted message into a buffer of its own (mpmp__malloc'ed), or
 * NULL if there is none (or no memory: *len says how much it wanted). */
static void *slot_take(slot_t *s, int *dest, int *tag, size_t *len) {
  if (slot_free(s) || slot_map(s) < 0)
    return NULL;
  *dest = s->hdr->dest;
  *tag = s->hdr->tag;
  *len = (size_t)s->hdr->len;
  void *buf = mpmp__malloc(*len ? *len : 1);
  if (buf != NULL)
    memcpy(buf, s->data + SLOT_HDR, *len);
  else /* lost: its caller waits until its own time limit */
    MPMP__WARN("no memory to relay a message of %zu bytes between a worker "
               "and its task host", *len);
  atomic_store(&s->hdr->taken, atomic_load(&s->hdr->seq));
  futex(&s->hdr->taken, FUTEX_WAKE, 1);
  return buf;
}

/* ---- the worker's side --------------------------------------------------------- */

int mpmp__relay_open(_Atomic uint32_t *wake) {
  if (R.out.fd >= 0)
    return 0;
  R.wake = wake;
  R.tail = &R.head;
  if (slot_open(&R.out) < 0 || slot_open(&R.in) < 0) {
    int e = errno;
    mpmp__relay_close();
    return mpmp__err(MPMP_ENOMEM, "the task hosts' relay: %s", strerror(e));
  }
  return 0;
}

static void drop_answers(void) {
  pthread_mutex_lock(&R.lock);
  back_t *b = R.head;
  R.head = NULL;
  R.tail = &R.head;
  pthread_mutex_unlock(&R.lock);
  while (b != NULL) {
    back_t *next = b->next;
    mpmp__free(b->buf);
    mpmp__free(b);
    b = next;
  }
}

void mpmp__relay_close(void) {
  drop_answers();
  mpmp__free((void *)atomic_exchange(&R.reached, NULL));
  slot_close(&R.out);
  slot_close(&R.in);
  R.wake = NULL;
}

void mpmp__relay_reset(uint32_t gen) {
  R.passed = R.answered = 0;
  _Atomic uint8_t *marks = atomic_load(&R.reached);
  for (int i = 0; marks != NULL && i < mpmp__net.nnodes; i++)
    atomic_store_explicit(&marks[i], 0, memory_order_relaxed);
  pthread_mutex_lock(&R.lock);
  R.gen = gen & MPMP__COOKIE_GEN_MASK;
  pthread_mutex_unlock(&R.lock);
  drop_answers();
  if (R.out.fd >= 0) { /* what a dead host left in the slots */
    atomic_store(&R.out.hdr->taken, atomic_load(&R.out.hdr->seq));
    atomic_store(&R.in.hdr->taken, atomic_load(&R.in.hdr->seq));
    atomic_store(&R.in.hdr->more, 0);
  }
}

int mpmp__relay_reply(int tag, void *buf, size_t len, uint64_t cookie) {
  if (!(cookie & MPMP__COOKIE_HOST) || mpmp__net.no_mpi)
    return 0; /* ours (in a host: the answer the worker relayed) */
  uint32_t gen = (uint32_t)(cookie >> 48) & MPMP__COOKIE_GEN_MASK;
  back_t *b = mpmp__malloc(sizeof *b);
  pthread_mutex_lock(&R.lock);
  if (b == NULL || R.wake == NULL || gen != R.gen) { /* its host is gone */
    pthread_mutex_unlock(&R.lock);
    mpmp__free(b);
    mpmp__free(buf);
    return 1;
  }
  *b = (back_t){.tag = tag, .buf = buf, .len = len};
  *R.tail = b;
  R.tail = &b->next;
  pthread_mutex_unlock(&R.lock);
  wake_worker(); /* the worker's thread passes it on */
  return 1;
}

/* An object request of the host goes to rank `dest`: if that is on another
 * node, the host's death is to be told there (objects/object.c). Without
 * memory for the marks the death goes untold: a lock there that the host
 * held stays held, as before. */
static void note_reached(int dest) {
  if (dest < 0 || dest >= mpmp__net.size ||
      mpmp__net.ranks[dest].node == mpmp__net.node)
    return;
  _Atomic uint8_t *marks = atomic_load(&R.reached);
  if (marks == NULL) {
    pthread_mutex_lock(&R.lock);
    if ((marks = atomic_load(&R.reached)) == NULL &&
        (marks = mpmp__calloc((size_t)mpmp__net.nnodes, 1)) != NULL)
      atomic_store(&R.reached, marks);
    pthread_mutex_unlock(&R.lock);
    if (marks == NULL)
      return;
  }
  atomic_store_explicit(&marks[mpmp__net.ranks[dest].node], 1,
                        memory_order_relaxed);
}

int mpmp__relay_take_reached(int node) {
  _Atomic uint8_t *marks = atomic_load(&R.reached);
  if (marks == NULL || node < 0 || node >= mpmp__net.nnodes)
    return 0;
  return atomic_exchange_explicit(&marks[node], 0, memory_order_relaxed);
}

int mpmp__relay_serve(void) {
  if (R.out.fd < 0)
    return 0;
  int n = 0, dest, tag;
  size_t len;
  void *msg = slot_take(&R.out, &dest, &tag, &len);
  if (msg != NULL) {
    if (tag == MPMP__TAG_OBJ_REQ)
      note_reached(dest);
    if (mpmp__send_nb(dest, tag, msg, len) < 0)
      MPMP__WARN("could not pass on a task host's message to rank %d: %s",
                 dest, mpmp_errmsg());
    else
      R.passed++;
    n++;
  }
  for (;;) {
    if (!slot_free(&R.in)) {
      /* the host has not taken the last answer: it wakes us when it does
       * if more wait (the store before the second look, and the host's
       * take before its look at `more`: one of us sees the other) */
      pthread_mutex_lock(&R.lock);
      int waiting = R.head != NULL;
      pthread_mutex_unlock(&R.lock);
      if (!waiting)
        break;
      atomic_store(&R.in.hdr->more, 1);
      if (!slot_free(&R.in))
        break;
    }
    pthread_mutex_lock(&R.lock);
    back_t *b = R.head;
    if (b != NULL && (R.head = b->next) == NULL)
      R.tail = &R.head;
    pthread_mutex_unlock(&R.lock);
    if (b == NULL)
      break;
    if (slot_put(&R.in, mpmp__net.rank, b->tag, 0, b->buf, b->len, NULL, 0))
      MPMP__WARN("an answer of %zu bytes for a task host did not fit in "
                 "memory", b->len);
    mpmp__free(b->buf);
    mpmp__free(b);
    /* the host sleeps on our doorbell; our agent need not wake */
    mpmp__bell_ring_for(&mpmp__net.bells[mpmp__net.node_rank],
                        MPMP__BELL_HOST);
    R.answered++;
    n++;
  }
  return n;
}

int mpmp__relay_awaiting(void) { return R.passed > R.answered; }

int mpmp__relay_pending(void) {
  return R.out.fd >= 0 &&
         atomic_load(&R.out.hdr->seq) != atomic_load(&R.out.hdr->taken);
}

/* ---- the host's side ------------------------------------------------------------- */

void mpmp__relay_enter_host(uint32_t gen) {
  mpmp__net.no_mpi = 1;
  R.gen = gen & MPMP__COOKIE_GEN_MASK;
  mpmp__net.host_cookie = R.out.fd >= 0
                              ? MPMP__COOKIE_HOST | (uint64_t)R.gen << 48
                              : 0;
  R.head = NULL; /* the worker's list is not ours */
  R.tail = &R.head;
}

int mpmp__relay_send(int dest, int tag, const void *hdr, size_t hlen,
                     const void *payload, size_t plen) {
  if (mpmp__net.host_cookie == 0 ||
      (tag != MPMP__TAG_OBJ_REQ && tag != MPMP__TAG_MGR_REQ))
    return MPMP_ENOTSUP;
  /* One message at a time: wait until the worker took the last one (it
   * does at once: it sleeps on the wake word while we run). */
  pthread_mutex_lock(&R.send_lock);
  for (;;) {
    uint32_t t = atomic_load(&R.out.hdr->taken);
    if (t == atomic_load(&R.out.hdr->seq))
      break;
    futex(&R.out.hdr->taken, FUTEX_WAIT, t);
  }
  int rc = slot_put(&R.out, dest, tag, 0, hdr, hlen, payload, plen);
  pthread_mutex_unlock(&R.send_lock);
  if (rc < 0)
    return mpmp__err(rc, "a task host's message of %zu bytes does not fit "
                     "in memory", hlen + plen);
  wake_worker();
  return 0;
}

int mpmp__relay_poll(void) {
  if (R.in.fd < 0)
    return 0;
  int dest, tag;
  size_t len;
  if (slot_free(&R.in))
    return 0; /* (no lock for a look) */
  pthread_mutex_lock(&R.take_lock);
  void *buf = slot_take(&R.in, &dest, &tag, &len);
  /* (after the take: seq_cst) the slot is free for its next answer */
  if (buf != NULL && atomic_exchange(&R.in.hdr->more, 0))
    wake_worker();
  pthread_mutex_unlock(&R.take_lock);
  if (buf == NULL)
    return 0;
  mpmp__dispatch(dest, tag, buf, len);
  return 1;
}
