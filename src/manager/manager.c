/*
 * Manager: dicts, lists and Namespaces held by a server rank (Python's
 * multiprocessing.Manager).
 *
 * The server. mpmp_manager_start() runs an internal task
 * (mpmp__manager_server) as a daemon Process on a free worker rank. Dicts
 * and Namespaces live in that node's heap, where the ranks of the node call
 * them in place ("dicts in the node heap" below); the server serves lists
 * and every call from other nodes. The body makes an empty manager in that
 * rank's own memory, tells the main
 * rank it is ready, and then only waits; the rank's progress engine
 * answers every MGR_REQ in on_request(), which never blocks: a hash table
 * or an array operation, then a non-blocking reply. While the body waits
 * it keeps counting as the rank's progress driver (so the agent thread
 * stays parked) and polls again for MPMP_SPIN_US after each request, so
 * that a client's next call finds it awake: a round trip costs two message
 * latencies, no wake-up. shutdown asks the server to free everything and
 * end the body; the main rank joins the process, and the rank is an
 * ordinary free worker again.
 *
 * Handles name (server rank, manager id, object id, kind) with a 32-bit tag
 * that hashes them with the job's secret (mpmp__rt.obj_secret): garbage is
 * EBADF before anything is sent. The server checks everything again (a
 * request may come from anyone), and answers EDEAD for a manager it does
 * not host: once shut down, its ids are never hosted anywhere again (ids
 * come from the main rank's job counter), so calls after a shutdown fail at
 * once, from any rank, whatever the rank does meanwhile (its agent thread
 * answers while it computes).
 *
 * Calls. A caller registers a `mcall_t` under a fresh cookie, sends the
 * request (non-blocking, so no wait is unbounded) and sleeps until the reply
 * or MPMP_MANAGER_TIMEOUT. The reply handler finds the call by cookie under
 * a lock and copies the answer into the caller's buffer (or hands it the
 * reply buffer itself); a caller that timed out has unregistered, and its
 * late reply is dropped, so a reply never writes into a dead stack frame.
 *
 * Owned objects. manager.Queue() & co. are not served here: the server
 * creates the plain shared object (mpmp_queue_create() ...) in its node's
 * heap, answers its handle, and keeps the handle to free the object when
 * the manager goes (OP_NEW_OWNED, "the shared objects a manager owns").
 * Their calls go the objects layer's way, never through this server.
 *
 * Wire format (version MGR_MAGIC): a request is mreq_t, then the key bytes,
 * then the value bytes; a reply is mrep_t, then an error message (msg_len
 * bytes with its NUL) or the data. Several keys/values (update, extend,
 * keys, items, slices) travel as records: two uint64 (key and value
 * length), the key and a NUL padded to 8 bytes, the value padded to 8.
 */
#include <linux/futex.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "mgr.h"
#include "heap.h"
#include "object.h"
#include "parallel.h"

#define MGR_MAGIC 0x3452474du /* "MGR4": bump with any change below */

enum { MK_MANAGER = 1, MK_DICT, MK_LIST, MK_NS, MK_MAX };

enum {
  OP_PING = 1, /* manager: alive? */
  OP_SHUTDOWN, /* manager: stop the server */
  OP_NEW,      /* manager: i = kind; r0 = object id */
  OP_FREE,     /* any object */
  OP_D_SET,    /* key, value */
  OP_D_GET,    /* key; flags F_MISSING_OK: rc 0 if missing, 1 if found */
  OP_D_SIZE,   /* key; r0 = size */
  OP_D_DEL,
  OP_D_CONTAINS,
  OP_D_LEN,
  OP_D_KEYS,
  OP_D_ITEMS,
  OP_D_UPDATE, /* value = records with keys and values */
  OP_D_CLEAR,
  OP_D_POP,
  OP_L_APPEND,
  OP_L_EXTEND, /* value = records with values */
  OP_L_GET,    /* i */
  OP_L_SET,
  OP_L_INSERT,
  OP_L_POP,
  OP_L_LEN,
  OP_L_SLICE, /* [i, j) */
  /* MGR2 */
  OP_D_VALUES,
  OP_D_POPITEM,    /* r0 = 1, one record with the key and the value */
  OP_D_SETDEFAULT, /* key, value = the default; rc 1 if found, 0 if set */
  OP_L_DEL,        /* i */
  OP_L_CONTAINS,   /* value */
  OP_L_COUNT,      /* value; r0 = count */
  OP_L_INDEX,      /* value, within [i, j); r0 = index */
  OP_L_REMOVE,     /* value */
  OP_L_REVERSE,
  OP_L_CLEAR,
  OP_L_SORT,       /* i = mpmp_sort_order_t */
  /* MGR3 */
  OP_NEW_OWNED,    /* manager: i = owned kind, value = oparams_t; the
                      answer's data is the new object's mpmp_ref_t */
  OP_MAX
};

/* The shared objects a manager owns (manager.Queue() & co.): the plain
 * objects of mpmp/queue.h, sync.h and shared.h, created by the server in
 * its node's heap and freed at shutdown. */
enum { OK_QUEUE = 1, OK_JQUEUE, OK_LOCK, OK_RLOCK, OK_EVENT, OK_VALUE,
       OK_MAX };

/* What an owned object is created with (the plain create's arguments). */
typedef struct oparams {
  uint64_t maxsize, max_item; /* Queue, JoinableQueue */
  uint32_t type;              /* Value: mpmp_type_t */
  int32_t lock;               /* Value: with a lock */
  uint32_t has_init, pad;     /* Value: init holds its first value */
  unsigned char init[8];
} oparams_t;

/* Not an answer: a client cannot run this call in place (local_call),
 * the server must. */
#define FALLBACK 0x40000000
/* Not an answer: a client holding one stripe needs them all (a new key). */
#define NEED_ALL 0x40000001
/* Not an answer: the server found a dict's stripe held past PARK_TRY_S
 * (its holder stopped or descheduled in a call): it parks the request and
 * serves the others (see "Parked requests"). */
#define PARKED 0x40000002
/* sreq_t.local: the server, a client holding every stripe, one stripe */
enum { LOCAL_NO, LOCAL_ALL, LOCAL_ONE, LOCAL_HOST };

#define F_MISSING_OK 1u /* D_GET, D_POP: rc 0 if missing, 1 if found */
#define F_NO_VALUE 2u   /* D_SETDEFAULT: answer the size only */

typedef struct mreq {
  uint32_t magic, op;
  uint64_t cookie;
  mpmp_mref_t ref;
  int64_t i, j;
  uint64_t out_max; /* bytes of value the caller takes */
  uint32_t flags;
  uint32_t klen;    /* key bytes (no NUL), then vlen value bytes */
  uint64_t vlen;
} mreq_t;

typedef struct mrep {
  uint64_t cookie;
  int32_t rc;
  uint32_t msg_len; /* error message with its NUL; then data_len bytes */
  int64_t r0;       /* a size, a count, an object id */
  uint64_t data_len;
} mrep_t;

_Static_assert(sizeof(mpmp_mref_t) == 32, "manager handles are 32 bytes");
_Static_assert(sizeof(mrep_t) % 8 == 0, "reply data is 8-byte aligned");

static const char *kind_name(int kind) {
  static const char *names[MK_MAX] = {"?", "Manager", "dict", "list",
                                      "Namespace"};
  return kind > 0 && kind < MK_MAX ? names[kind] : "?";
}

/* ---- state ------------------------------------------------------------------
 * manager.c's own, besides mpmp__rt: the calls this rank waits for, the
 * managers it serves, and (main rank) the managers it started. */

typedef struct mcall mcall_t;
typedef struct smgr smgr_t;

typedef struct mrec {
  uint64_t id;
  mpmp_process_t *proc;
  int rank, alive;
} mrec_t;

static struct {
  pthread_mutex_t calls_lock;
  mcall_t *calls;
  _Atomic uint64_t next_cookie;
  pthread_mutex_t srv_lock;
  smgr_t *hosted;
  _Atomic uint64_t served; /* requests answered: wakes the server body */
  struct parked *parked, **parked_tail; /* see "Parked requests" */
  _Atomic int nparked;
  pthread_mutex_t main_lock;
  mrec_t *recs;
  int nrecs, recs_cap, started;
} M = {.calls_lock = PTHREAD_MUTEX_INITIALIZER,
       .srv_lock = PTHREAD_MUTEX_INITIALIZER,
       .parked_tail = &M.parked,
       .main_lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- handles ------------------------------------------------------------- */


static uint32_t mref_tag(const mpmp_mref_t *r) {
  uint64_t h = mpmp__mix64(mpmp__rt.obj_secret ^ 0x6d616e61676572ULL ^ r->mgr);
  h = mpmp__mix64(h ^ r->obj * 0x9e3779b97f4a7c15ULL);
  h ^= ((uint64_t)(uint32_t)r->rank << 32 | (uint64_t)r->kind << 16 |
        r->zero) * 0xc2b2ae3d27d4eb4fULL;
  h = mpmp__mix64(h ^ r->pad);
  return (uint32_t)(mpmp__mix64(h) >> 32);
}

/* `off`: a dict's or Namespace's heap offset (64-byte aligned), kept in
 * `zero` and `pad` as off / 64 (48 bits: heaps up to 16 PiB); 0: none. */
static void make_ref(mpmp_mref_t *r, uint64_t mgr, uint64_t obj, int rank,
                     int kind, uint64_t off) {
  memset(r, 0, sizeof *r);
  r->mgr = mgr;
  r->obj = obj;
  r->rank = rank;
  r->kind = (uint16_t)kind;
  r->zero = (uint16_t)(off >> 38);
  r->pad = (uint32_t)(off >> 6);
  r->tag = mref_tag(r);
}

/* 0, or EBADF with a message naming fn. */
static int ref_check(const mpmp_mref_t *r, int kind, const char *fn) {
  static const mpmp_mref_t zero;
  if (memcmp(r, &zero, sizeof zero) == 0)
    return mpmp__err(MPMP_EBADF, "%s: the handle was never created (all "
                     "zeros?)", fn);
  if (r->tag != mref_tag(r) || r->mgr == 0 ||
      r->rank <= 0 || r->rank >= mpmp__net.size || r->kind == 0 ||
      r->kind >= MK_MAX || (r->kind == MK_MANAGER) != (r->obj == 0))
    return mpmp__err(MPMP_EBADF, "%s: not a Manager handle made by mpmp in "
                     "this job (garbage or corrupted bytes)", fn);
  if (r->kind != kind)
    return mpmp__err(MPMP_EBADF, "%s: this is the handle of %s %s, not of "
                     "%s %s", fn, mpmp__a(kind_name(r->kind)),
                     kind_name(r->kind), mpmp__a(kind_name(kind)),
                     kind_name(kind));
  return 0;
}

/* ---- calls: the client side ---------------------------------------------- */

enum { OUT_NONE, OUT_COPY, OUT_TAKE };

struct mcall {
  mcall_t *next;
  uint64_t cookie;
  _Atomic int done;
  int rc, mode;
  int64_t r0;
  void *buf;          /* OUT_COPY: the caller's buffer */
  size_t cap;
  char *taken;        /* OUT_TAKE: the reply buffer; data at taken + off */
  size_t off, data_len;
  int linked;         /* in M.calls (call_link) */
  char msg[320];
};

/* A call's record, not yet findable by on_reply: a call that a same-node
 * client runs in place never is (no mutex taken); call_send links it. */
static void call_init(mcall_t *c, int mode, void *buf, size_t cap) {
  /* all but the message, which is written with rc */
  memset(c, 0, offsetof(mcall_t, msg));
  c->msg[0] = '\0';
  c->mode = mode;
  c->buf = buf;
  c->cap = cap;
  c->cookie = ((atomic_fetch_add(&M.next_cookie, 1) + 1) & MPMP__COOKIE_MASK) |
              mpmp__net.host_cookie; /* in a task host: its mark */
}

static void call_link(mcall_t *c) {
  pthread_mutex_lock(&M.calls_lock);
  c->next = M.calls;
  M.calls = c;
  c->linked = 1;
  pthread_mutex_unlock(&M.calls_lock);
}

static void call_register(mcall_t *c, int mode, void *buf, size_t cap) {
  call_init(c, mode, buf, cap);
  call_link(c);
}

/* Unlink c (under calls_lock); 1 if it was still registered. */
static int call_unlink_locked(mcall_t *c) {
  for (mcall_t **pp = &M.calls; *pp != NULL; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      return 1;
    }
  return 0;
}

static void on_reply(int src, void *buf, size_t len) {
  mrep_t p;
  (void)src;
  if (len < sizeof p) {
    mpmp__free(buf);
    return;
  }
  memcpy(&p, buf, sizeof p);
  if ((uint64_t)p.msg_len + p.data_len != len - sizeof p) {
    MPMP__WARN("dropped a malformed Manager reply from rank %d", src);
    mpmp__free(buf);
    return;
  }
  if (mpmp__relay_reply(MPMP__TAG_MGR_REP, buf, len, p.cookie))
    return; /* for our task host */
  pthread_mutex_lock(&M.calls_lock);
  mcall_t *c = M.calls;
  while (c != NULL && c->cookie != p.cookie)
    c = c->next;
  if (c != NULL) { /* else: its caller gave up; drop the answer */
    call_unlink_locked(c);
    const char *data = (const char *)buf + sizeof p;
    c->rc = p.rc;
    c->r0 = p.r0;
    c->data_len = p.data_len;
    if (p.msg_len > 0)
      snprintf(c->msg, sizeof c->msg, "%.*s", (int)p.msg_len, data);
    data += p.msg_len;
    if (c->mode == OUT_COPY && p.data_len > 0 && c->buf != NULL)
      memcpy(c->buf, data, p.data_len < c->cap ? p.data_len : c->cap);
    else if (c->mode == OUT_TAKE && p.rc >= 0) {
      c->taken = buf;
      c->off = sizeof p + p.msg_len;
      buf = NULL;
    }
    /* the last touch of c: its caller may return as soon as it sees it */
    atomic_store_explicit(&c->done, 1, memory_order_release);
  }
  pthread_mutex_unlock(&M.calls_lock);
  mpmp__free(buf);
  mpmp__ring_rank(mpmp__net.rank); /* the caller may sleep on our bell */
}

static int call_done(void *arg) {
  return atomic_load_explicit(&((mcall_t *)arg)->done, memory_order_acquire);
}

static char *req_new(size_t extra) {
  if (extra > MPMP_MANAGER_MAX_MESSAGE)
    return NULL;
  return mpmp__malloc(sizeof(mreq_t) + extra);
}

static void call_forget(mcall_t *c) {
  if (!c->linked)
    return;
  pthread_mutex_lock(&M.calls_lock);
  call_unlink_locked(c);
  pthread_mutex_unlock(&M.calls_lock);
}

/* The answer in c as the call's return (and message). */
static int call_result(const mcall_t *c, const char *fn) {
  if (c->rc < 0)
    return mpmp__err(c->rc, "%s: %s", fn,
                     c->msg[0] ? c->msg : mpmp_strerror(c->rc));
  return c->rc;
}

static int local_call(const mreq_t *q, const char *key, size_t klen,
                      const void *val, size_t vlen, mcall_t *c,
                      const char *fn);

/*
 * Send the request `msg` (mreq_t `q` then `extra` bytes; owned, freed by
 * the transport) to the server and wait for the answer in c (registered).
 */
static int call_send(const mreq_t *q, char *msg, size_t extra, mcall_t *c,
                     const char *fn) {
  mreq_t h = *q;
  int rc = mpmp__may_wait(fn); /* the answer cannot come in a callback */
  if (rc < 0) {
    call_forget(c);
    mpmp__free(msg);
    return rc;
  }
  mpmp__obj_fence(); /* this rank's puts happen before the request */
  h.magic = MGR_MAGIC;
  h.cookie = c->cookie;
  memcpy(msg, &h, sizeof h);
  if (!c->linked)
    call_link(c);
  rc = mpmp__send_nb(q->ref.rank, MPMP__TAG_MGR_REQ, msg, sizeof h + extra);
  if (rc == 0)
    rc = mpmp__wait_until(call_done, c,
                          mpmp__now() + MPMP_MANAGER_TIMEOUT);
  if (rc < 0) {
    pthread_mutex_lock(&M.calls_lock);
    int registered = call_unlink_locked(c);
    pthread_mutex_unlock(&M.calls_lock);
    if (registered) { /* no answer: a late one is dropped */
      if (rc == MPMP_ETIMEDOUT) /* the request is out: it may still run */
        return mpmp__err(rc, "%s: the Manager's server (rank %d) did not "
                         "answer within %g s (the call may still take "
                         "effect when the server gets to it: check before "
                         "repeating a change)", fn, q->ref.rank,
                         MPMP_MANAGER_TIMEOUT);
      char m[256];
      snprintf(m, sizeof m, "%s", mpmp_errmsg());
      return mpmp__err(rc, "%s: could not reach the Manager's server (rank "
                       "%d): %s", fn, q->ref.rank, m);
    }
    /* answered just as we gave up: take the answer */
  }
  return call_result(c, fn);
}

/*
 * One call with a key and a value (either may be absent). The answer's
 * data goes to (buf, cap) for OUT_COPY, stays in c->taken for OUT_TAKE.
 */
static int call(const mreq_t *q, const char *key, const void *val,
                size_t vlen, mcall_t *c, const char *fn) {
  size_t klen = key ? strlen(key) : 0;
  int lrc = local_call(q, key, klen, val, vlen, c, fn);
  if (lrc != FALLBACK)
    return lrc;
  char *msg = req_new(klen + vlen);
  if (msg == NULL) {
    call_forget(c);
    return mpmp__err(MPMP_ENOMEM, "%s: out of memory for a %zu-byte request",
                     fn, klen + vlen);
  }
  if (klen)
    memcpy(msg + sizeof *q, key, klen);
  if (vlen)
    memcpy(msg + sizeof *q + klen, val, vlen);
  mreq_t h = *q;
  h.klen = (uint32_t)klen;
  h.vlen = vlen;
  return call_send(&h, msg, klen + vlen, c, fn);
}

/* ---- argument checks ----------------------------------------------------- */

static int check_ref(const mpmp_mref_t *r, int kind, const char *fn) {
  int rc = mpmp__check_init(fn);
  return rc < 0 ? rc : ref_check(r, kind, fn);
}

static int check_key(const char *key, const char *fn) {
  if (key == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the key is NULL", fn);
  size_t n = strnlen(key, MPMP_MANAGER_MAX_KEY + 1);
  if (n > MPMP_MANAGER_MAX_KEY)
    return mpmp__err(MPMP_EMSGSIZE, "%s: the key is longer than "
                     "MPMP_MANAGER_MAX_KEY (%d bytes)", fn,
                     MPMP_MANAGER_MAX_KEY);
  return 0;
}

/* check_key for op: 0: go on; 1: answer 0 (missing, False) without
 * asking; or an error. A lookup of a key longer than MPMP_MANAGER_MAX_KEY
 * gets the answer for a missing key (KeyError, False, the default): no
 * such key can be in a dict or Namespace, and the set's "key too long",
 * MPMP_EMSGSIZE, a get's caller would take for "the buffer is too
 * small". */
static int key_lookup(const char *key, int kind, int op, uint32_t flags,
                      const char *fn) {
  int rc = check_key(key, fn);
  if (rc != MPMP_EMSGSIZE ||
      (op != OP_D_GET && op != OP_D_POP && op != OP_D_DEL &&
       op != OP_D_SIZE && op != OP_D_CONTAINS))
    return rc;
  if (op == OP_D_CONTAINS || (flags & F_MISSING_OK))
    return 1; /* the caller answers 0: missing */
  return mpmp__err(MPMP_EINVAL, "%s: no key '%.40s...' in the %s (%s): it "
                   "is longer than MPMP_MANAGER_MAX_KEY (%d bytes), and no "
                   "such key can be set", fn, key,
                   kind == MK_NS ? "Namespace" : "dict",
                   kind == MK_NS ? "AttributeError" : "KeyError",
                   MPMP_MANAGER_MAX_KEY);
}

static int check_value(const void *v, size_t size, const char *fn) {
  if (v == NULL && size > 0)
    return mpmp__err(MPMP_EINVAL, "%s: the value is NULL (with size %zu)", fn,
                     size);
  if (size > MPMP_MANAGER_MAX_VALUE)
    return mpmp__err(MPMP_EMSGSIZE, "%s: a value of %zu bytes is larger than "
                     "MPMP_MANAGER_MAX_VALUE (%zu bytes)", fn, size,
                     MPMP_MANAGER_MAX_VALUE);
  return mpmp__check_extent(v, 1, size, "the value", fn);
}

static int check_out(const void *buf, size_t cap, const char *fn) {
  if (buf == NULL && cap > 0)
    return mpmp__err(MPMP_EINVAL, "%s: the buffer is NULL (with capacity "
                     "%zu)", fn, cap);
  int rc = mpmp__check_extent(buf, 1, cap, "the buffer", fn);
  /* (a pop's value is gone before the copy into buf: base.h) */
  return rc < 0 ? rc : mpmp__check_writable((void *)buf, cap, "the buffer",
                                            fn);
}

/* ---- records: several keys and/or values in one message ------------------ */

static size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }

static size_t rec_size(int keys, int vals, size_t klen, size_t vlen) {
  return 16 + (keys ? pad8(klen + 1) : 0) + (vals ? pad8(vlen) : 0);
}

static char *rec_put(char *at, int keys, int vals, const char *k, size_t klen,
                     const void *v, size_t vlen) {
  uint64_t h[2] = {keys ? klen : 0, vals ? vlen : 0};
  memcpy(at, h, sizeof h);
  at += sizeof h;
  if (keys) {
    memcpy(at, k, klen);
    memset(at + klen, 0, pad8(klen + 1) - klen);
    at += pad8(klen + 1);
  }
  if (vals) {
    if (vlen)
      memcpy(at, v, vlen);
    memset(at + vlen, 0, pad8(vlen) - vlen);
    at += pad8(vlen);
  }
  return at;
}

/* Read the record at *at (within end); 0 or -1 if malformed. */
static int rec_get(const char **at, const char *end, int keys, int vals,
                   const char **k, size_t *klen, const char **v, size_t *vlen) {
  uint64_t h[2];
  if ((size_t)(end - *at) < sizeof h)
    return -1;
  memcpy(h, *at, sizeof h);
  if (h[0] > MPMP_MANAGER_MAX_KEY || h[1] > MPMP_MANAGER_MAX_MESSAGE ||
      (!keys && h[0]) || (!vals && h[1]))
    return -1;
  size_t need = rec_size(keys, vals, h[0], h[1]);
  if ((size_t)(end - *at) < need)
    return -1;
  const char *p = *at + sizeof h;
  *k = p;
  *klen = h[0];
  *v = p + (keys ? pad8(h[0] + 1) : 0);
  *vlen = h[1];
  *at += need;
  return 0;
}

MPMP_API void mpmp_items_free(mpmp_items_t *items) {
  if (items == NULL)
    return;
  if (items->priv_ != NULL) {
    mpmp__free(*(void **)items->priv_); /* the reply */
    mpmp__free(items->priv_);
  }
  memset(items, 0, sizeof *items);
}

/* Turn a reply of n records into *out (takes the reply buffer). */
static int items_from(char *reply, size_t off, size_t len, int64_t n, int keys,
                      int vals, mpmp_items_t *out, const char *fn) {
  size_t count = n > 0 ? (size_t)n : 0;
  size_t per = (keys ? sizeof(char *) : 0) +
               (vals ? sizeof(void *) + sizeof(size_t) : 0);
  if (count > len / 16) { /* each record takes 16 bytes at least */
    mpmp__free(reply);
    return mpmp__err(MPMP_EMISMATCH, "%s: a malformed answer from the "
                     "server", fn);
  }
  void **block = mpmp__malloc(sizeof(void *) + count * per);
  if (block == NULL) {
    mpmp__free(reply);
    return mpmp__err(MPMP_ENOMEM, "%s: out of memory for %zu items", fn,
                     count);
  }
  block[0] = reply;
  char *arr = (char *)(block + 1);
  memset(out, 0, sizeof *out);
  out->count = count;
  out->priv_ = block;
  if (keys) {
    out->keys = (const char **)(void *)arr;
    arr += count * sizeof(char *);
  }
  if (vals) {
    out->values = (const void **)(void *)arr;
    arr += count * sizeof(void *);
    out->sizes = (size_t *)(void *)arr;
  }
  const char *at = reply + off, *end = reply + off + len;
  for (size_t i = 0; i < count; i++) {
    const char *k, *v;
    size_t kl, vl;
    if (rec_get(&at, end, keys, vals, &k, &kl, &v, &vl) < 0) {
      mpmp_items_free(out);
      return mpmp__err(MPMP_EMISMATCH, "%s: a malformed answer from the server",
                       fn);
    }
    if (keys)
      out->keys[i] = k;
    if (vals) {
      out->values[i] = v;
      out->sizes[i] = vl;
    }
  }
  return 0;
}

/* ---- the server's data --------------------------------------------------- */

typedef struct mval {
  char *p;
  size_t len, cap;
} mval_t;

typedef struct mlist {
  mval_t *v;
  size_t n, cap;
} mlist_t;

typedef struct mobj {
  int kind;
  union {
    uint64_t d; /* dict, Namespace: its sdict_t's heap offset */
    mlist_t l;
  } u;
} mobj_t;

struct smgr {
  smgr_t *next;
  uint64_t id;
  _Atomic int stop;
  mobj_t **objs; /* object id = index + 1; NULL: freed */
  size_t nobjs, cap;
  struct owned *owned; /* the shared objects it owns, freed with it */
  size_t nowned, owned_cap;
};

static uint64_t key_hash(const char *k, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)k[i]) * 0x100000001b3ULL;
  return mpmp__mix64(h);
}

/* Set a value, reusing its memory when it fits and is not far too big. */
static int val_set(mval_t *v, const void *src, size_t len) {
  if (len > v->cap || v->cap > 2 * len + 256) {
    char *p = mpmp__malloc(len);
    if (p == NULL)
      return mpmp__err(MPMP_ENOMEM, "the server is out of memory for a "
                       "%zu-byte value", len);
    mpmp__free(v->p);
    v->p = p;
    v->cap = len;
  }
  if (len)
    memcpy(v->p, src, len);
  v->len = len;
  return 0;
}

static void val_free(mval_t *v) {
  mpmp__free(v->p);
  memset(v, 0, sizeof *v);
}

/* ---- dicts in the node heap ------------------------------------------------
 * A dict (and a Namespace, the same structure) lives in the node heap of
 * its server's node, under stripe locks in its header (see mstripe_t), so
 * that a client on that node runs the operations of one key (set, get,
 * size, del, in, len, pop, setdefault: local_call) in place, with no
 * message: the same op_dict() the server runs, on the same memory, under
 * the same locks; calls stay atomic and ordered by the locks. The server
 * runs every call of the other nodes' clients, and the operations over the
 * whole dict (keys, items, update, clear, popitem: rare, long, and atomic
 * as one step), holding every stripe.
 *
 * Large values and a full heap. A value over a sixteenth of the heap, or
 * one the heap has no room for, stays in the server's own memory (`priv`:
 * `val` is then the server's pointer), as before; a client that meets such
 * an entry, or would have to make one, changes nothing and sends the call
 * to the server instead (FALLBACK), so nothing is ever half done. Keys and
 * the tables themselves must fit the heap: the server answers MPMP_ENOSPC,
 * naming MPMP_HEAP_SIZE, when they do not (nothing changes).
 *
 * The handle carries the dict's heap offset (mref zero and pad, covered by
 * the tag); lifetime: see mstripe_t. Lists stay in the server's memory:
 * their calls are messages, as before. */

#define SD_MAGIC 0x54434944u /* "DICT" */

typedef struct sent {
  uint64_t key;        /* heap offset of the key and a NUL; 0: deleted */
  uint64_t hash;
  uint32_t klen, priv; /* priv: `val` points into the server's memory */
  uint64_t val;        /* heap offset of the value (0: none yet) */
  uint64_t vlen, vcap;
  uint64_t pad[2];     /* a line each: stripes share no written line */
} sent_t;

#define SLOT_EMPTY (-1)
#define SLOT_DUMMY (-2)

/* The entries keep insertion order (as Python's dict) and an
 * open-addressing index (linear probing) finds them. */
/* The stripe locks (SD_STRIPES, each on its own cache line). A call on
 * one key that leaves the table as it is (get, size, in, len, and a set of
 * a key that is there) takes the stripe of its key's hash; everything
 * else (a new key, a delete, the whole-dict calls, all the server's calls)
 * takes every stripe, in order. The keys, hashes and index only change
 * under every stripe, so a probe under one stripe sees them still; an
 * entry's value only under its key's stripe. Clients on different keys
 * then share no written cache line (entries are a line each), and their
 * throughput adds up instead of bouncing one lock between the cores.
 *
 * Each stripe is a futex mutex that lets whoever comes take it (no
 * hand-over to a sleeping waiter, unlike mpmp__shlock's bounded bypass):
 * with more clients than cores a hand-over waits for the waiter to be
 * scheduled while the running clients stand still. Critical sections are
 * a hash probe and a memcpy, so a waiter spins briefly (the holder runs)
 * and then sleeps on the futex (the holder was preempted): nobody spins on
 * a core that another process could use.
 *
 * Lifetime: the word holds the dict's generation beside the lock state,
 * so that one CAS takes the lock and proves the dict is still the
 * handle's; holding any stripe keeps the dict alive, since the free takes
 * every stripe, sets the generations to 0, wakes the sleepers and gives
 * the block back at once. A sleeper wakes to a generation that is no
 * longer its handle's (the block may hold anything by then: it only reads,
 * and its CAS can only succeed on its own generation, as the objects
 * layer's handles) and sends the call to the server, which answers EBADF
 * or EDEAD as always. */
#define SD_STRIPES 32
/* The state half of w: bit 0 held, bit 1 maybe sleepers, bits 31..2 the
 * holder's claim when it is a task host (mpmp__claim_self, 0 otherwise):
 * the one CAS that takes the stripe names a host holder, so that a host
 * killed at any instruction while it holds it, also right after the take
 * or right before the release, is found dead by the next taker. */
#define SD_ST_HELD 1u
#define SD_ST_SLEEP 2u

/* A task host's set in place, made safe against the host's death (it may
 * be killed at any instruction: task_timeout, terminate, a crash): the new
 * value goes first into the stripe's redo record (redo_val, then `redo`
 * names the entry and the length), then into the entry, and `redo` is
 * cleared. The next taker of a stripe whose holder died (sd_take) finds a
 * record still there and makes the set again: the value is then the old
 * one whole (the host died before the record was complete) or the new one
 * whole, never part of each. Only values that fit the record, of keys that
 * are there, into the room their entry has; the host sends other changes
 * to the server. */
#define SD_REDO_MAX 104

typedef struct mstripe {
  _Atomic uint64_t w;     /* generation (0: freed) | state << 32 */
  _Atomic uint64_t owner; /* the holder's owner id (shsync.h); 0: free */
  _Atomic uint64_t redo;  /* a host's set under way: entry + 1 | length
                             << 32; 0: none */
  unsigned char redo_val[SD_REDO_MAX];
} mstripe_t;

typedef struct sdict {
  mstripe_t stripe[SD_STRIPES];
  uint32_t magic, gen;
  uint64_t mgr, obj;     /* whose it is: checked once a stripe is held */
  uint64_t e, idx;       /* heap offsets: sent_t[cap], int64_t[mask + 1] */
  uint64_t n, cap, live; /* entries used (holes included), room, live */
  uint64_t mask, used;   /* index size - 1, non-empty index slots */
} sdict_t;

_Static_assert(sizeof(mstripe_t) == 128, "a stripe is two cache lines");
_Static_assert(sizeof(sent_t) == 64, "an entry is one cache line");

static inline void *hp(uint64_t off) { return mpmp__rt.heap_base + off; }
static inline sent_t *sd_ents(const sdict_t *d) { return hp(d->e); }
static inline int64_t *sd_idx(const sdict_t *d) { return hp(d->idx); }
static inline const char *sent_key(const sent_t *x) { return hp(x->key); }
static inline char *sent_val(const sent_t *x) {
  return x->priv ? (char *)(uintptr_t)x->val : x->val ? hp(x->val) : NULL;
}
/* The largest value kept in the heap. */
static inline size_t sd_big(void) { return mpmp__rt.heap_size / 16; }

static uint32_t sd_gen(uint64_t mgr, uint64_t obj) {
  return (uint32_t)mpmp__mix64(mgr * 0x9e3779b97f4a7c15ULL ^ obj) | 1u;
}

/* MPMP_ENOSPC: what did not fit the heap. */
static int sd_full(const char *what, size_t n) {
  return mpmp__err(MPMP_ENOSPC, "the node heap of the Manager's server "
                   "(rank %d) is full: no room for %s of %zu bytes (nothing "
                   "was changed; the Manager's dicts live there: raise "
                   "MPMP_HEAP_SIZE, now %zu bytes)", mpmp__net.rank, what, n,
                   mpmp__rt.heap_size);
}

static void sd_val_release(sent_t *x) {
  if (x->priv)
    mpmp__free((void *)(uintptr_t)x->val);
  else if (x->val)
    mpmp__heap_free(mpmp__rt.heap_base, x->val);
  x->val = x->vlen = x->vcap = 0;
  x->priv = 0;
}

/* Set a value, reusing its memory when it fits and is not far too big. */
static int sd_val_set(sent_t *x, const void *src, size_t len, int local) {
  if (local && (x->priv || len > sd_big()))
    return FALLBACK;
  if (len > x->vcap || x->vcap > 2 * len + 256) {
    uint64_t nv = 0;
    uint32_t priv = 0;
    if (len > 0 && (len > sd_big() ||
                    mpmp__heap_alloc(mpmp__rt.heap_base, len, &nv) < 0)) {
      if (local)
        return FALLBACK;
      char *p = mpmp__malloc(len); /* the server's memory */
      if (p == NULL)
        return mpmp__err(MPMP_ENOMEM, "the server is out of memory for a "
                         "%zu-byte value", len);
      nv = (uint64_t)(uintptr_t)p;
      priv = 1;
    }
    sd_val_release(x);
    x->val = nv;
    x->priv = priv;
    x->vcap = len;
  }
  if (len)
    memcpy(sent_val(x), src, len);
  x->vlen = len;
  return 0;
}

/* The entry of key, or SIZE_MAX; *slot: its index slot, or where to
 * insert it. */
static size_t sd_find(const sdict_t *d, const char *k, size_t kl, uint64_t h,
                      size_t *slot) {
  *slot = SIZE_MAX;
  if (d->idx == 0)
    return SIZE_MAX;
  const int64_t *idx = sd_idx(d);
  const sent_t *ents = sd_ents(d);
  size_t i = h & d->mask;
  for (;;) {
    int64_t e = idx[i];
    if (e == SLOT_EMPTY) {
      if (*slot == SIZE_MAX)
        *slot = i;
      return SIZE_MAX;
    }
    if (e == SLOT_DUMMY) {
      if (*slot == SIZE_MAX)
        *slot = i;
    } else {
      const sent_t *x = &ents[e];
      if (x->hash == h && x->klen == kl &&
          memcmp(sent_key(x), k, kl) == 0) {
        *slot = i;
        return (size_t)e;
      }
    }
    i = (i + 1) & d->mask;
  }
}

/* With the heap too full for a new table: drop the deleted keys' holes
 * from the entries where they lie, in order, and rebuild the index in its
 * own memory, if that leaves room for `want` entries at the index's load
 * limit (a dict that had its keys deleted took no new one once the heap
 * was full, as Python's does). 1: done. */
static int sd_compact(sdict_t *d, size_t want) {
  size_t size = d->mask + 1;
  if (d->e == 0 || d->idx == 0 || d->live == d->n || want > d->cap ||
      want * 3 > size * 2)
    return 0;
  sent_t *e = sd_ents(d);
  int64_t *idx = sd_idx(d);
  size_t n = 0;
  for (size_t i = 0; i < d->n; i++)
    if (e[i].key != 0)
      e[n++] = e[i];
  for (size_t i = 0; i < size; i++)
    idx[i] = SLOT_EMPTY;
  for (size_t i = 0; i < n; i++) {
    size_t s = e[i].hash & d->mask;
    while (idx[s] != SLOT_EMPTY)
      s = (s + 1) & d->mask;
    idx[s] = (int64_t)i;
  }
  memset(e + n, 0, (d->n - n) * sizeof *e);
  d->n = d->live = d->used = n;
  return 1;
}

/* Compact the entries and rebuild the index for `want` entries. */
static int sd_rebuild(sdict_t *d, size_t want, int local) {
  size_t cap = want * 2 > 8 ? want * 2 : 8;
  size_t size = 16;
  while (size < cap + cap / 2)
    size *= 2;
  uint64_t eo = 0, io = 0;
  char *base = mpmp__rt.heap_base;
  if (mpmp__heap_alloc(base, cap * sizeof(sent_t), &eo) < 0 ||
      mpmp__heap_alloc(base, size * sizeof(int64_t), &io) < 0) {
    if (eo)
      mpmp__heap_free(base, eo);
    if (sd_compact(d, want))
      return 0; /* the deleted keys' room, in place */
    return local ? FALLBACK
                 : sd_full("the table of a dict", cap * sizeof(sent_t) +
                                                   size * sizeof(int64_t));
  }
  sent_t *e = hp(eo), *old = d->e ? sd_ents(d) : NULL;
  int64_t *idx = hp(io);
  for (size_t i = 0; i < size; i++)
    idx[i] = SLOT_EMPTY;
  size_t n = 0;
  for (size_t i = 0; i < d->n; i++) {
    if (old[i].key == 0)
      continue;
    size_t s = old[i].hash & (size - 1);
    while (idx[s] != SLOT_EMPTY)
      s = (s + 1) & (size - 1);
    idx[s] = (int64_t)n;
    e[n++] = old[i];
  }
  if (d->e)
    mpmp__heap_free(base, d->e);
  if (d->idx)
    mpmp__heap_free(base, d->idx);
  d->e = eo;
  d->idx = io;
  d->n = d->live = d->used = n;
  d->cap = cap;
  d->mask = size - 1;
  return 0;
}

static inline mstripe_t *sd_stripe(sdict_t *d, uint64_t h) {
  return &d->stripe[h >> 59]; /* 32 stripes: the hash's top bits */
}

/* Make the set recorded in stripe t (held): a task host's own, or one
 * that a host which died holding t had under way (see mstripe_t). */
static void sd_redo(sdict_t *d, mstripe_t *t) {
  uint64_t r = atomic_load_explicit(&t->redo, memory_order_acquire);
  if (r == 0)
    return;
  size_t e = (uint32_t)r - 1, len = (size_t)(r >> 32);
  sent_t *x = &sd_ents(d)[e];
  if (len)
    memcpy(sent_val(x), t->redo_val, len);
  x->vlen = len;
  atomic_store_explicit(&t->redo, 0, memory_order_release);
}

/* Set the value of entry e (its key's stripe t held) as a task host: see
 * "A task host's set in place" at mstripe_t. FALLBACK: the server does it. */
static int sd_val_set_host(sdict_t *d, mstripe_t *t, size_t e, const void *src,
                           size_t len) {
  sent_t *x = &sd_ents(d)[e];
  if (x->priv || len > SD_REDO_MAX || len > x->vcap || e >= UINT32_MAX)
    return FALLBACK;
  if (len) /* a bad src kills the host here: nothing is changed yet */
    memcpy(t->redo_val, src, len);
  atomic_store_explicit(&t->redo, (uint64_t)(e + 1) | (uint64_t)len << 32,
                        memory_order_release);
  if (mpmp__test_dict_die != 0 && len + 1 == mpmp__test_dict_die &&
      t->redo_val[0] == 0xD1) { /* test only (object.h) */
    memcpy(sent_val(x), t->redo_val, len / 2);
    raise(SIGKILL);
  }
  if (mpmp__test_dict_die != 0 && len + 1 == mpmp__test_dict_die &&
      t->redo_val[0] == 0xD2) /* test only: stopped holding the stripe */
    raise(SIGSTOP);
  sd_redo(d, t);
  return 0;
}

static int sd_set(sdict_t *d, const char *k, size_t kl, const void *v,
                  size_t vlen, int local) {
  uint64_t h = key_hash(k, kl);
  size_t slot, e = sd_find(d, k, kl, h, &slot);
  if (e != SIZE_MAX && local == LOCAL_HOST)
    return sd_val_set_host(d, sd_stripe(d, h), e, v, vlen);
  if (e != SIZE_MAX)
    return sd_val_set(&sd_ents(d)[e], v, vlen, local);
  if (local == LOCAL_ONE || local == LOCAL_HOST)
    return NEED_ALL; /* a new key changes the table */
  sent_t x = {.klen = (uint32_t)kl, .hash = h};
  if (mpmp__heap_alloc(mpmp__rt.heap_base, kl + 1, &x.key) < 0)
    return local ? FALLBACK : sd_full("a new key", kl + 1);
  memcpy(hp(x.key), k, kl);
  ((char *)hp(x.key))[kl] = '\0';
  int rc = sd_val_set(&x, v, vlen, local);
  if (rc == 0 && (d->idx == 0 || d->n == d->cap ||
                  (d->used + 1) * 3 > (d->mask + 1) * 2)) {
    rc = sd_rebuild(d, d->live + 1, local);
    if (rc == 0)
      sd_find(d, k, kl, h, &slot);
  }
  if (rc != 0) {
    mpmp__heap_free(mpmp__rt.heap_base, x.key);
    sd_val_release(&x);
    return rc;
  }
  int64_t *idx = sd_idx(d);
  if (idx[slot] == SLOT_EMPTY)
    d->used++;
  idx[slot] = (int64_t)d->n;
  sd_ents(d)[d->n++] = x;
  d->live++;
  return 0;
}

/* Free every key and value and the tables (the header stays). */
static void sd_clear(sdict_t *d) {
  char *base = mpmp__rt.heap_base;
  sent_t *ents = d->e ? sd_ents(d) : NULL;
  for (size_t i = 0; i < d->n; i++)
    if (ents[i].key != 0) {
      mpmp__heap_free(base, ents[i].key);
      sd_val_release(&ents[i]);
    }
  if (d->e)
    mpmp__heap_free(base, d->e);
  if (d->idx)
    mpmp__heap_free(base, d->idx);
  d->e = d->idx = d->n = d->cap = d->live = d->mask = d->used = 0;
}

static void sd_remove(sdict_t *d, size_t e, size_t slot) {
  sent_t *x = &sd_ents(d)[e];
  mpmp__heap_free(mpmp__rt.heap_base, x->key);
  sd_val_release(x);
  x->key = 0;
  sd_idx(d)[slot] = SLOT_DUMMY;
  if (--d->live == 0)
    sd_clear(d);
}

/* A new empty dict of (mgr, obj) at *off. */
static int sd_new(uint64_t mgr, uint64_t obj, uint64_t *off) {
  if (mpmp__heap_alloc(mpmp__rt.heap_base, sizeof(sdict_t), off) < 0)
    return sd_full("a new dict", sizeof(sdict_t));
  sdict_t *d = hp(*off);
  memset(d, 0, sizeof *d);
  d->magic = SD_MAGIC;
  d->mgr = mgr;
  d->obj = obj;
  d->gen = sd_gen(mgr, obj);
  for (int i = 0; i < SD_STRIPES; i++)
    atomic_store_explicit(&d->stripe[i].w, d->gen, memory_order_release);
  return 0;
}

/* The futex word: the state half of w (little-endian: the upper one). */
static inline _Atomic uint32_t *sd_fword(mstripe_t *t) {
  return (_Atomic uint32_t *)(void *)((char *)&t->w + 4);
}

/* Take stripe t of a dict of generation gen: 0 (held), FALLBACK (the
 * dict is no longer that: freed), or an error (held too long). With
 * `park` (the server), PARKED once it stayed held until `deadline`. A task
 * host that died holding it (its fork server recorded the death) leaves
 * it to the next taker, as a robust mutex: its call had either changed
 * nothing yet or had, and we go on from there. */
static int sd_take(sdict_t *d, mstripe_t *t, uint32_t gen, int park,
                   double deadline, const char *fn) {
  uint64_t me = mpmp__owner_id(), free_w = gen, v = free_w;
  uint32_t claim = mpmp__claim_self < (UINT32_C(1) << 30)
                       ? mpmp__claim_self << 2 : 0; /* 0: not a host */
  uint64_t held = free_w | (uint64_t)(claim | SD_ST_HELD) << 32;
  uint64_t held_s = held | (uint64_t)SD_ST_SLEEP << 32;
  for (int i = 0; i < 128; i++) {
    if (atomic_compare_exchange_weak_explicit(&t->w, &v, held,
                                              memory_order_acquire,
                                              memory_order_relaxed))
      goto held;
    if ((uint32_t)v != gen)
      return FALLBACK;
    v = free_w;
    mpmp__cpu_relax();
  }
  if (!park)
    deadline = mpmp__now() + MPMP_MANAGER_TIMEOUT;
  for (;;) {
    /* from here on take it as "maybe sleepers": we may have been one */
    v = free_w;
    if (atomic_compare_exchange_strong(&t->w, &v, held_s))
      goto held;
    if ((uint32_t)v != gen)
      return FALLBACK;
    uint32_t st = (uint32_t)(v >> 32);
    if (!(st & SD_ST_SLEEP)) {
      uint64_t marked = v | (uint64_t)SD_ST_SLEEP << 32;
      if (!atomic_compare_exchange_strong(&t->w, &v, marked))
        continue; /* changed: look again */
      v = marked;
      st |= SD_ST_SLEEP;
    }
    uint32_t holder = st >> 2;
    if (holder != 0 && mpmp__claim_dead(holder) &&
        atomic_compare_exchange_strong(&t->w, &v, held_s)) {
      atomic_store_explicit(&t->owner, me, memory_order_relaxed);
      sd_redo(d, t); /* its set under way, if any, made whole */
      return 0;      /* held */
    }
    double now = mpmp__now();
    if (now >= deadline && park)
      return PARKED;
    if (now >= deadline)
      return mpmp__err(MPMP_ETIMEDOUT, "%s: the dict stayed locked for %g s "
                       "(a call inside it is stuck)", fn,
                       MPMP_MANAGER_TIMEOUT);
    /* slices: a holder that dies is seen within 20 ms */
    mpmp__futex_wait_until(sd_fword(t), st, FUTEX_BITSET_MATCH_ANY,
                           fmin(deadline, now + MPMP__SHLOCK_DEAD_SLICE_S));
  }
held:
  atomic_store_explicit(&t->owner, me, memory_order_relaxed);
  return 0;
}

/* Release stripe t, leaving generation gen in it (0: the dict is freed). */
static void sd_give(mstripe_t *t, uint32_t gen) {
  atomic_store_explicit(&t->owner, 0, memory_order_relaxed);
  if ((atomic_exchange_explicit(&t->w, gen, memory_order_release) >> 32) &
      SD_ST_SLEEP)
    mpmp__futex_wake(sd_fword(t), gen ? 1 : INT_MAX, FUTEX_BITSET_MATCH_ANY);
}

/* Take every stripe, in order: 0, FALLBACK, PARKED (with `park`, by
 * `deadline`) or an error (none held then). */
static int sd_lock_all(sdict_t *d, uint32_t gen, int park, double deadline,
                       const char *fn) {
  for (int i = 0; i < SD_STRIPES; i++) {
    int rc = sd_take(d, &d->stripe[i], gen, park, deadline, fn);
    if (rc != 0) {
      while (i-- > 0)
        sd_give(&d->stripe[i], gen);
      return rc;
    }
  }
  return 0;
}

static void sd_unlock_all(sdict_t *d, uint32_t gen) {
  for (int i = SD_STRIPES; i-- > 0;)
    sd_give(&d->stripe[i], gen);
}

/* The server frees the dict: every stripe taken, contents freed,
 * generation 0, sleepers woken, the block back to the heap. */
static void sd_kill(uint64_t off) {
  sdict_t *d = hp(off);
  if (sd_lock_all(d, d->gen, 0, 0, "the Manager") != 0) {
    /* someone is stuck inside: leave the dict (a leak), not a crash */
    MPMP__WARN("%s", mpmp_errmsg());
    return;
  }
  sd_clear(d);
  d->magic = 0;
  sd_unlock_all(d, 0);
  mpmp__heap_free(mpmp__rt.heap_base, off);
}

/* The dict a handle names if it lives in this node's heap (NULL: ask the
 * server); nothing is taken. */
static sdict_t *sd_of(const mpmp_mref_t *r) {
  uint64_t off = ((uint64_t)r->zero << 32 | r->pad) << 6;
  mpmp__rt_t *rt = &mpmp__rt;
  if (off == 0 || rt->heap_base == NULL ||
      off + sizeof(sdict_t) > rt->heap_size ||
      mpmp__net.ranks[r->rank].node != mpmp__net.node)
    return NULL;
  return hp(off);
}

static void list_clear(mlist_t *l) {
  for (size_t i = 0; i < l->n; i++)
    val_free(&l->v[i]);
  mpmp__free(l->v);
  memset(l, 0, sizeof *l);
}

static int list_reserve(mlist_t *l, size_t more) {
  if (l->n + more <= l->cap)
    return 0;
  size_t cap = l->cap ? l->cap : 8;
  while (cap < l->n + more)
    cap *= 2;
  mval_t *v = mpmp__realloc(l->v, cap * sizeof *v);
  if (v == NULL)
    return mpmp__err(MPMP_ENOMEM, "the server is out of memory for a list "
                     "of %zu items", l->n + more);
  l->v = v;
  l->cap = cap;
  return 0;
}

static void obj_free(mobj_t *o) {
  if (o == NULL)
    return;
  if (o->kind == MK_LIST)
    list_clear(&o->u.l);
  else if (o->u.d)
    sd_kill(o->u.d);
  mpmp__free(o);
}

/* ---- the shared objects a manager owns ------------------------------------
 * They are the plain objects: the server creates them with the plain create
 * calls (so they live in its node's heap, as Python's live in the server
 * process) and keeps their handles, to free them when the manager goes. A
 * user's earlier free (Python's release of the last proxy) makes that free
 * EBADF, which the generation tag guarantees touches nothing else. */

typedef struct owned {
  int kind; /* OK_* */
  mpmp_ref_t ref;
} owned_t;

static const char *owned_name(int kind) {
  static const char *names[OK_MAX] = {"?", "Queue", "JoinableQueue", "Lock",
                                      "RLock", "Event", "Value"};
  return kind > 0 && kind < OK_MAX ? names[kind] : "?";
}

/* The plain create call of o->kind, into o->ref. */
static int owned_create(owned_t *o, const oparams_t *p) {
  int rc;
  switch (o->kind) {
  case OK_QUEUE:
  case OK_JQUEUE: {
    mpmp_queue_t q;
    if (p->maxsize > SIZE_MAX || p->max_item > SIZE_MAX)
      return mpmp__err(MPMP_EINVAL, "a Queue of %llu items of %llu bytes is "
                       "too large", (unsigned long long)p->maxsize,
                       (unsigned long long)p->max_item);
    rc = o->kind == OK_QUEUE
             ? mpmp_queue_create(&q, (size_t)p->maxsize, (size_t)p->max_item)
             : mpmp_joinable_queue_create(&q, (size_t)p->maxsize,
                                          (size_t)p->max_item);
    o->ref = q.ref;
    return rc;
  }
  case OK_LOCK:
  case OK_RLOCK: {
    mpmp_lock_t l;
    rc = o->kind == OK_LOCK ? mpmp_lock_create(&l) : mpmp_rlock_create(&l);
    o->ref = l.ref;
    return rc;
  }
  case OK_EVENT: {
    mpmp_event_t e;
    rc = mpmp_event_create(&e);
    o->ref = e.ref;
    return rc;
  }
  case OK_VALUE: {
    mpmp_value_t v;
    rc = mpmp_value_create(&v, (mpmp_type_t)p->type,
                           p->has_init ? p->init : NULL, p->lock);
    o->ref = v.ref;
    return rc;
  }
  default:
    return mpmp__err(MPMP_EINVAL, "no such shared object kind %d", o->kind);
  }
}

/* The plain free call of o: 0, or EBADF when it was freed already. */
static int owned_free(const owned_t *o) {
  switch (o->kind) {
  case OK_QUEUE:
  case OK_JQUEUE:
    return mpmp_queue_free((mpmp_queue_t){o->ref});
  case OK_LOCK:
  case OK_RLOCK:
    return mpmp_lock_free((mpmp_lock_t){o->ref});
  case OK_EVENT:
    return mpmp_event_free((mpmp_event_t){o->ref});
  default:
    return mpmp_value_free((mpmp_value_t){o->ref});
  }
}

/* Whether the user freed o already (a call that changes nothing). */
static int owned_gone(const owned_t *o) {
  int rc;
  switch (o->kind) {
  case OK_QUEUE:
  case OK_JQUEUE:
    rc = mpmp_queue_qsize((mpmp_queue_t){o->ref});
    break;
  case OK_LOCK:
  case OK_RLOCK:
    rc = mpmp_lock_locked((mpmp_lock_t){o->ref});
    break;
  case OK_EVENT:
    rc = mpmp_event_is_set((mpmp_event_t){o->ref});
    break;
  default:
    rc = mpmp_value_type((mpmp_value_t){o->ref});
    break;
  }
  return rc == MPMP_EBADF;
}

/* Room for one more owned object: first forget those the user freed, so
 * that creating and freeing in a loop does not grow the list. */
static int owned_reserve(smgr_t *m) {
  if (m->nowned < m->owned_cap)
    return 0;
  size_t n = 0;
  for (size_t i = 0; i < m->nowned; i++)
    if (!owned_gone(&m->owned[i]))
      m->owned[n++] = m->owned[i];
  m->nowned = n;
  if (m->owned_cap > 0 && n <= m->owned_cap / 2)
    return 0; /* room enough: the next prune is as far away again */
  size_t cap = m->owned_cap ? 2 * m->owned_cap : 16;
  owned_t *t = mpmp__realloc(m->owned, cap * sizeof *t);
  if (t == NULL)
    return mpmp__err(MPMP_ENOMEM, "the server is out of memory for a new "
                     "object");
  m->owned = t;
  m->owned_cap = cap;
  return 0;
}

static void smgr_free_objects(smgr_t *m) {
  for (size_t i = 0; i < m->nobjs; i++)
    obj_free(m->objs[i]);
  mpmp__free(m->objs);
  m->objs = NULL;
  m->nobjs = m->cap = 0;
  for (size_t i = 0; i < m->nowned; i++) {
    int rc = owned_free(&m->owned[i]);
    if (rc < 0 && rc != MPMP_EBADF) /* EBADF: the user freed it */
      MPMP__WARN("could not free a %s of the Manager: %s",
                 owned_name(m->owned[i].kind), mpmp_errmsg());
  }
  mpmp__free(m->owned);
  m->owned = NULL;
  m->nowned = m->owned_cap = 0;
}

/* ---- the server's operations --------------------------------------------- */

/* What a request carries and what its answer will be. */
typedef struct sreq {
  const mreq_t *q;
  const char *key, *val; /* within the request */
  size_t klen, vlen;
  char *rep;             /* the reply being built (mrep_t, then data) */
  size_t dlen;
  int64_t r0;
  int local;             /* run by a client in place (local_call) */
  char *out;             /* local: the caller's buffer, for the data that */
  size_t out_cap;        /* fits it (no reply built then: rep NULL) */
  double park_by;        /* the server: PARKED if a stripe is held then */
} sreq_t;

/* Room for n bytes of answer data in *out. */
static int rep_data(sreq_t *s, size_t n, char **out) {
  if (n > MPMP_MANAGER_MAX_MESSAGE)
    return mpmp__err(MPMP_EMSGSIZE, "the answer would take %zu bytes, more "
                     "than MPMP_MANAGER_MAX_MESSAGE (%zu)", n,
                     MPMP_MANAGER_MAX_MESSAGE);
  if (s->out != NULL && n <= s->out_cap) {
    s->dlen = n;
    *out = s->out;
    return 0;
  }
  s->rep = mpmp__malloc(sizeof(mrep_t) + n);
  if (s->rep == NULL)
    return mpmp__err(MPMP_ENOMEM, "the server is out of memory for a "
                     "%zu-byte answer", n);
  s->dlen = n;
  *out = s->rep + sizeof(mrep_t);
  return 0;
}

static int rep_value(sreq_t *s, const char *v, size_t len) {
  char *p = NULL;
  s->r0 = (int64_t)len;
  if (len > s->q->out_max)
    return mpmp__err(MPMP_EMSGSIZE, "the value takes %zu bytes, more than "
                     "the %llu-byte buffer (nothing was lost)", len,
                     (unsigned long long)s->q->out_max);
  int rc = rep_data(s, len, &p);
  if (rc == 0 && len)
    memcpy(p, v, len);
  return rc;
}

static int missing(const sreq_t *s, int kind) {
  if (kind == MK_NS)
    return mpmp__err(MPMP_EINVAL, "the Namespace has no attribute '%.*s' "
                     "(AttributeError)", (int)s->klen, s->key);
  return mpmp__err(MPMP_EINVAL, "no key '%.*s' in the dict (KeyError)",
                   (int)s->klen, s->key);
}

static int op_dict(sreq_t *s, sdict_t *d, int kind) {
  sent_t *ents = d->e ? sd_ents(d) : NULL;
  const mreq_t *q = s->q;
  size_t slot, e = SIZE_MAX;
  int rc;
  switch (q->op) {
  case OP_D_SET:
    return sd_set(d, s->key, s->klen, s->val, s->vlen, s->local);
  case OP_D_LEN:
    s->r0 = (int64_t)d->live;
    return 0;
  case OP_D_CLEAR:
    sd_clear(d);
    return 0;
  case OP_D_KEYS:
  case OP_D_ITEMS:
  case OP_D_VALUES: {
    int keys = q->op != OP_D_VALUES, vals = q->op != OP_D_KEYS;
    size_t total = 0;
    for (size_t i = 0; i < d->n; i++)
      if (ents[i].key)
        total += rec_size(keys, vals, ents[i].klen, ents[i].vlen);
    char *at = NULL;
    if ((rc = rep_data(s, total, &at)) < 0)
      return rc;
    for (size_t i = 0; i < d->n; i++)
      if (ents[i].key)
        at = rec_put(at, keys, vals, sent_key(&ents[i]), ents[i].klen,
                     sent_val(&ents[i]), ents[i].vlen);
    s->r0 = (int64_t)d->live;
    return 0;
  }
  case OP_D_POPITEM: {
    if (d->live == 0)
      return mpmp__err(MPMP_EINVAL, "popitem(): the dict is empty "
                       "(KeyError)");
    size_t last = d->n;
    while (ents[last - 1].key == 0) /* live > 0: one is there */
      last--;
    const sent_t *x = &ents[last - 1];
    char *at = NULL;
    if ((rc = rep_data(s, rec_size(1, 1, x->klen, x->vlen), &at)) < 0)
      return rc;
    rec_put(at, 1, 1, sent_key(x), x->klen, sent_val(x), x->vlen);
    s->r0 = 1;
    sd_find(d, sent_key(x), x->klen, x->hash, &slot);
    sd_remove(d, last - 1, slot);
    /* drop the trailing holes, so that the next popitem finds its entry at
     * once (no index slot points past the live entries) */
    while (d->n > 0 && sd_ents(d)[d->n - 1].key == 0)
      d->n--;
    return 0;
  }
  case OP_D_UPDATE: {
    const char *at = s->val, *end = s->val + s->vlen, *k = NULL, *v = NULL;
    size_t kl = 0, vl = 0;
    for (uint64_t i = 0; i < (uint64_t)q->i; i++) /* all valid first */
      if (rec_get(&at, end, 1, 1, &k, &kl, &v, &vl) < 0 ||
          vl > MPMP_MANAGER_MAX_VALUE)
        return mpmp__err(MPMP_EINVAL, "malformed update request (item %llu)",
                         (unsigned long long)i);
    if (at != end)
      return mpmp__err(MPMP_EINVAL, "malformed update request");
    /* grow the table first for the keys not there yet (duplicates counted
     * twice: a little room to spare), so that a heap too full for it
     * changes nothing */
    size_t more = 0;
    at = s->val;
    for (uint64_t i = 0; i < (uint64_t)q->i; i++) {
      rec_get(&at, end, 1, 1, &k, &kl, &v, &vl);
      if (sd_find(d, k, kl, key_hash(k, kl), &slot) == SIZE_MAX)
        more++;
    }
    if (more > 0 && (d->idx == 0 || d->n + more > d->cap ||
                     (d->used + more) * 3 > (d->mask + 1) * 2) &&
        (rc = sd_rebuild(d, d->live + more, 0)) < 0)
      return rc;
    at = s->val;
    for (uint64_t i = 0; i < (uint64_t)q->i; i++) {
      rec_get(&at, end, 1, 1, &k, &kl, &v, &vl);
      if ((rc = sd_set(d, k, kl, v, vl, 0)) < 0)
        return rc;
    }
    return 0;
  }
  default:
    break;
  }
  /* the rest name one key */
  e = sd_find(d, s->key, s->klen, key_hash(s->key, s->klen), &slot);
  /* a client leaves the server's memory to the server */
  if (s->local && e != SIZE_MAX && ents[e].priv)
    return FALLBACK;
  if (q->op == OP_D_CONTAINS)
    return e != SIZE_MAX;
  if (e == SIZE_MAX && q->op == OP_D_SETDEFAULT) {
    s->r0 = (int64_t)s->vlen;
    if (!(q->flags & F_NO_VALUE) && s->vlen > q->out_max)
      return mpmp__err(MPMP_EMSGSIZE, "the default takes %zu bytes, more "
                       "than the %llu-byte buffer (nothing was set)", s->vlen,
                       (unsigned long long)q->out_max);
    /* the caller has the default's bytes already */
    return sd_set(d, s->key, s->klen, s->val, s->vlen, s->local);
  }
  if (e == SIZE_MAX)
    return (q->op == OP_D_GET || q->op == OP_D_POP) &&
                   (q->flags & F_MISSING_OK)
               ? 0
               : missing(s, kind);
  switch (q->op) {
  case OP_D_SETDEFAULT:
    if (q->flags & F_NO_VALUE) {
      s->r0 = (int64_t)ents[e].vlen;
      return 1;
    }
    return (rc = rep_value(s, sent_val(&ents[e]), ents[e].vlen)) < 0 ? rc : 1;
  case OP_D_GET:
    return (rc = rep_value(s, sent_val(&ents[e]), ents[e].vlen)) < 0 ? rc : 1;
  case OP_D_SIZE:
    s->r0 = (int64_t)ents[e].vlen;
    return 0;
  case OP_D_DEL:
    sd_remove(d, e, slot);
    return 0;
  case OP_D_POP:
    if ((rc = rep_value(s, sent_val(&ents[e]), ents[e].vlen)) < 0)
      return rc;
    sd_remove(d, e, slot);
    return q->flags & F_MISSING_OK ? 1 : 0;
  default:
    return mpmp__err(MPMP_ENOTSUP, "operation %u is not one of a %s", q->op,
                     kind_name(kind));
  }
}

/* Python's index i into a list of n items; insert clamps it to [0, n],
 * as Python's list.insert does. */
static int list_index(const mlist_t *l, int64_t i, int insert, size_t *at) {
  int64_t n = (int64_t)l->n, j = i < 0 ? i + n : i;
  if (insert) {
    *at = (size_t)(j < 0 ? 0 : j > n ? n : j);
    return 0;
  }
  if (j >= 0 && j < n) {
    *at = (size_t)j;
    return 0;
  }
  if (n == 0 && !insert)
    return mpmp__err(MPMP_EINVAL, "list index %lld out of range: the list is "
                     "empty (IndexError)", (long long)i);
  return mpmp__err(MPMP_EINVAL, "list index %lld out of range: the list has "
                   "%lld items (IndexError)", (long long)i, (long long)n);
}

static int list_put(mlist_t *l, size_t at, const void *v, size_t vlen) {
  mval_t x = {0};
  int rc = list_reserve(l, 1);
  if (rc < 0 || (rc = val_set(&x, v, vlen)) < 0)
    return rc;
  memmove(&l->v[at + 1], &l->v[at], (l->n - at) * sizeof *l->v);
  l->v[at] = x;
  l->n++;
  return 0;
}

/* Python's slice bounds [a, b) of a list of n items (clamped). */
static void slice_bounds(int64_t n, int64_t a, int64_t b, int64_t *lo,
                         int64_t *hi) {
  a = a < 0 ? (a + n < 0 ? 0 : a + n) : (a > n ? n : a);
  b = b < 0 ? (b + n < 0 ? 0 : b + n) : (b > n ? n : b);
  *lo = a;
  *hi = b < a ? a : b;
}

/* Python's == on bytes. */
static int val_eq(const mval_t *v, const char *p, size_t n) {
  return v->len == n && (n == 0 || memcmp(v->p, p, n) == 0);
}

static void list_drop(mlist_t *l, size_t at) {
  val_free(&l->v[at]);
  memmove(&l->v[at], &l->v[at + 1], (l->n - at - 1) * sizeof *l->v);
  l->n--;
}

static void list_reverse(mlist_t *l) {
  for (size_t a = 0, b = l->n; a + 1 < b; a++, b--) {
    mval_t t = l->v[a];
    l->v[a] = l->v[b - 1];
    l->v[b - 1] = t;
  }
}

/* The sort orders: <0, 0, >0 as a against b. */
static int cmp_bytes(const mval_t *a, const mval_t *b) {
  size_t n = a->len < b->len ? a->len : b->len;
  int c = n ? memcmp(a->p, b->p, n) : 0;
  return c ? c : (a->len > b->len) - (a->len < b->len);
}

static int cmp_i64(const mval_t *a, const mval_t *b) {
  int64_t x, y;
  memcpy(&x, a->p, 8);
  memcpy(&y, b->p, 8);
  return (x > y) - (x < y);
}

static int cmp_u64(const mval_t *a, const mval_t *b) {
  uint64_t x, y;
  memcpy(&x, a->p, 8);
  memcpy(&y, b->p, 8);
  return (x > y) - (x < y);
}

static int cmp_f64(const mval_t *a, const mval_t *b) {
  double x, y;
  memcpy(&x, a->p, 8);
  memcpy(&y, b->p, 8);
  if (isnan(x) || isnan(y)) /* NaNs last, among themselves equal */
    return isnan(x) - isnan(y);
  return (x > y) - (x < y);
}

typedef int (*mcmp_fn)(const mval_t *, const mval_t *);

/* Stable merge sort of v[0, n) with room tmp[n]. */
static void merge_sort(mval_t *v, mval_t *tmp, size_t n, mcmp_fn cmp) {
  for (size_t w = 1; w < n; w *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * w) {
      size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
      size_t a = lo, b = mid, k = lo;
      while (a < mid && b < hi)
        tmp[k++] = cmp(&v[b], &v[a]) < 0 ? v[b++] : v[a++];
      while (a < mid)
        tmp[k++] = v[a++];
      while (b < hi)
        tmp[k++] = v[b++];
    }
    memcpy(v, tmp, n * sizeof *v);
  }
}

static int list_sort(mlist_t *l, int64_t order) {
  static const char *const names[] = {"MPMP_SORT_BYTES", "MPMP_SORT_I64",
                                      "MPMP_SORT_U64", "MPMP_SORT_F64"};
  static const mcmp_fn cmps[] = {cmp_bytes, cmp_i64, cmp_u64, cmp_f64};
  int64_t base = order & ~(int64_t)MPMP_SORT_REVERSE;
  if (base < 0 || base > MPMP_SORT_F64)
    return mpmp__err(MPMP_EINVAL, "sort order %lld is none of MPMP_SORT_BYTES, "
                     "_I64, _U64, _F64 (with MPMP_SORT_REVERSE or not)",
                     (long long)order);
  if (base != MPMP_SORT_BYTES) /* all checked first: nothing changes */
    for (size_t i = 0; i < l->n; i++)
      if (l->v[i].len != 8)
        return mpmp__err(MPMP_EINVAL, "%s needs items of 8 bytes; item %zu "
                         "has %zu (TypeError): nothing was sorted",
                         names[base], i, l->v[i].len);
  if (l->n < 2)
    return 0;
  mval_t *tmp = mpmp__malloc(l->n * sizeof *tmp);
  if (tmp == NULL)
    return mpmp__err(MPMP_ENOMEM, "the server is out of memory to sort %zu "
                     "items", l->n);
  /* reverse=True keeps equal items in order, as Python's does: reverse,
   * sort stably, reverse again */
  int rev = (order & MPMP_SORT_REVERSE) != 0;
  if (rev)
    list_reverse(l);
  merge_sort(l->v, tmp, l->n, cmps[base]);
  if (rev)
    list_reverse(l);
  mpmp__free(tmp);
  return 0;
}

static int not_in_list(const sreq_t *s) {
  return mpmp__err(MPMP_EINVAL, "the value (%zu bytes) is not in the list "
                   "(ValueError)", s->vlen);
}

static int op_list(sreq_t *s, mobj_t *o) {
  mlist_t *l = &o->u.l;
  const mreq_t *q = s->q;
  size_t at = 0;
  int rc;
  switch (q->op) {
  case OP_L_APPEND:
    return list_put(l, l->n, s->val, s->vlen);
  case OP_L_LEN:
    s->r0 = (int64_t)l->n;
    return 0;
  case OP_L_EXTEND: {
    const char *p = s->val, *end = s->val + s->vlen, *k = NULL, *v = NULL;
    size_t kl = 0, vl = 0, n = (size_t)q->i;
    for (size_t i = 0; i < n; i++)
      if (rec_get(&p, end, 0, 1, &k, &kl, &v, &vl) < 0 ||
          vl > MPMP_MANAGER_MAX_VALUE)
        return mpmp__err(MPMP_EINVAL, "malformed extend request (item %zu)",
                         i);
    if (p != end || (rc = list_reserve(l, n)) < 0)
      return p != end ? mpmp__err(MPMP_EINVAL, "malformed extend request")
                      : rc;
    p = s->val;
    for (size_t i = 0; i < n; i++) {
      rec_get(&p, end, 0, 1, &k, &kl, &v, &vl);
      if ((rc = list_put(l, l->n, v, vl)) < 0)
        return rc;
    }
    return 0;
  }
  case OP_L_GET:
  case OP_L_POP:
    if ((rc = list_index(l, q->i, 0, &at)) < 0 ||
        (rc = rep_value(s, l->v[at].p, l->v[at].len)) < 0)
      return rc;
    if (q->op == OP_L_POP)
      list_drop(l, at);
    return 0;
  case OP_L_DEL:
    if ((rc = list_index(l, q->i, 0, &at)) < 0)
      return rc;
    list_drop(l, at);
    return 0;
  case OP_L_CONTAINS:
  case OP_L_COUNT:
  case OP_L_REMOVE: {
    size_t count = 0;
    for (size_t i = 0; i < l->n; i++)
      if (val_eq(&l->v[i], s->val, s->vlen)) {
        if (q->op != OP_L_COUNT) {
          if (q->op == OP_L_REMOVE)
            list_drop(l, i);
          return q->op == OP_L_CONTAINS ? 1 : 0;
        }
        count++;
      }
    s->r0 = (int64_t)count;
    return q->op == OP_L_REMOVE ? not_in_list(s) : 0;
  }
  case OP_L_INDEX: {
    int64_t a, b;
    slice_bounds((int64_t)l->n, q->i, q->j, &a, &b);
    for (int64_t i = a; i < b; i++)
      if (val_eq(&l->v[i], s->val, s->vlen)) {
        s->r0 = i;
        return 0;
      }
    if (a == 0 && b == (int64_t)l->n)
      return not_in_list(s);
    return mpmp__err(MPMP_EINVAL, "the value (%zu bytes) is not in the list "
                     "between index %lld and %lld (ValueError)", s->vlen,
                     (long long)a, (long long)b);
  }
  case OP_L_REVERSE:
    list_reverse(l);
    return 0;
  case OP_L_CLEAR:
    list_clear(l);
    return 0;
  case OP_L_SORT:
    return list_sort(l, q->i);
  case OP_L_SET:
    if ((rc = list_index(l, q->i, 0, &at)) < 0)
      return rc;
    return val_set(&l->v[at], s->val, s->vlen);
  case OP_L_INSERT:
    if ((rc = list_index(l, q->i, 1, &at)) < 0)
      return rc;
    return list_put(l, at, s->val, s->vlen);
  case OP_L_SLICE: {
    int64_t a, b;
    slice_bounds((int64_t)l->n, q->i, q->j, &a, &b);
    size_t total = 0;
    for (int64_t i = a; i < b; i++)
      total += rec_size(0, 1, 0, l->v[i].len);
    char *p = NULL;
    if ((rc = rep_data(s, total, &p)) < 0)
      return rc;
    for (int64_t i = a; i < b; i++)
      p = rec_put(p, 0, 1, NULL, 0, l->v[i].p, l->v[i].len);
    s->r0 = b - a;
    return 0;
  }
  default:
    return mpmp__err(MPMP_ENOTSUP, "operation %u is not one of a list", q->op);
  }
}

static smgr_t *hosted_find(uint64_t id) {
  for (smgr_t *m = M.hosted; m != NULL; m = m->next)
    if (m->id == id)
      return m;
  return NULL;
}

static void hosted_remove(smgr_t *m) {
  for (smgr_t **pp = &M.hosted; *pp != NULL; pp = &(*pp)->next)
    if (*pp == m) {
      *pp = m->next;
      return;
    }
}

static int op_manager(sreq_t *s, smgr_t *m) {
  const mreq_t *q = s->q;
  switch (q->op) {
  case OP_PING:
    return 0;
  case OP_SHUTDOWN:
    hosted_remove(m);
    smgr_free_objects(m);
    atomic_store(&m->stop, 1); /* the body ends and frees m */
    mpmp__ring_rank(mpmp__net.rank);
    return 0;
  case OP_NEW: {
    if (q->i != MK_DICT && q->i != MK_LIST && q->i != MK_NS)
      return mpmp__err(MPMP_EINVAL, "no such object kind %lld",
                       (long long)q->i);
    if (m->nobjs == m->cap) {
      size_t cap = m->cap ? 2 * m->cap : 16;
      mobj_t **t = mpmp__realloc(m->objs, cap * sizeof *t);
      if (t == NULL)
        return mpmp__err(MPMP_ENOMEM, "the server is out of memory for a new "
                         "object");
      m->objs = t;
      m->cap = cap;
    }
    mobj_t *o = mpmp__calloc(1, sizeof *o);
    if (o == NULL)
      return mpmp__err(MPMP_ENOMEM, "the server is out of memory for a new "
                       "object");
    o->kind = (int)q->i;
    uint64_t id = m->nobjs + 1;
    char *at = NULL;
    int rc = 0;
    if (o->kind != MK_LIST) { /* answer where it lives, for the handle */
      if ((rc = sd_new(m->id, id, &o->u.d)) == 0 &&
          (rc = rep_data(s, sizeof o->u.d, &at)) == 0)
        memcpy(at, &o->u.d, sizeof o->u.d);
    }
    if (rc < 0) {
      obj_free(o);
      return rc;
    }
    m->objs[m->nobjs++] = o;
    s->r0 = (int64_t)id;
    return 0;
  }
  case OP_NEW_OWNED: {
    oparams_t p;
    if (s->vlen != sizeof p)
      return mpmp__err(MPMP_EINVAL, "malformed Manager request");
    memcpy(&p, s->val, sizeof p);
    owned_t o = {.kind = (int)q->i};
    char *at = NULL;
    int rc;
    if (q->i <= 0 || q->i >= OK_MAX)
      return mpmp__err(MPMP_EINVAL, "no such shared object kind %lld",
                       (long long)q->i);
    if ((rc = owned_reserve(m)) < 0 || (rc = owned_create(&o, &p)) < 0)
      return rc;
    if ((rc = rep_data(s, sizeof o.ref, &at)) < 0) {
      owned_free(&o);
      return rc;
    }
    memcpy(at, &o.ref, sizeof o.ref);
    m->owned[m->nowned++] = o;
    return 0;
  }
  default:
    return mpmp__err(MPMP_ENOTSUP, "operation %u is not one of a Manager",
                     q->op);
  }
}

static int op_allowed(int op, int kind) {
  if (op == OP_NEW_OWNED)
    return kind == MK_MANAGER;
  if (op == OP_FREE)
    return kind != MK_MANAGER;
  if (op <= OP_NEW)
    return kind == MK_MANAGER;
  if (op <= OP_D_POP || (op >= OP_D_VALUES && op <= OP_D_SETDEFAULT))
    return kind == MK_DICT || kind == MK_NS;
  return kind == MK_LIST;
}

/* Validate and run one request (srv_lock held). */
static int serve(sreq_t *s, size_t plen) {
  const mreq_t *q = s->q;
  if (q->magic != MGR_MAGIC)
    return mpmp__err(MPMP_ENOTSUP, "unknown Manager protocol %#x (different "
                     "mpmp versions in one job?)", q->magic);
  if (q->klen > MPMP_MANAGER_MAX_KEY || q->vlen > plen ||
      q->klen != plen - q->vlen)
    return mpmp__err(MPMP_EINVAL, "malformed Manager request");
  const mpmp_mref_t *r = &q->ref;
  if (r->tag != mref_tag(r) || r->rank != mpmp__net.rank || r->kind == 0 ||
      r->kind >= MK_MAX)
    return mpmp__err(MPMP_EBADF, "not a Manager handle of this server");
  if (q->op == 0 || q->op >= OP_MAX || !op_allowed((int)q->op, r->kind))
    return mpmp__err(MPMP_ENOTSUP, "operation %u is not one of a %s "
                     "(different mpmp versions in one job?)", q->op,
                     kind_name(r->kind));
  smgr_t *m = hosted_find(r->mgr);
  if (m == NULL)
    return mpmp__err(MPMP_EDEAD, "the Manager was shut down (its server, "
                     "rank %d, serves it no more)", mpmp__net.rank);
  if (r->kind == MK_MANAGER)
    return op_manager(s, m);
  mobj_t *o = r->obj >= 1 && r->obj <= m->nobjs ? m->objs[r->obj - 1] : NULL;
  if (o == NULL || o->kind != r->kind)
    return mpmp__err(MPMP_EBADF, "stale handle: this %s was freed",
                     kind_name(r->kind));
  if (q->op == OP_FREE) {
    obj_free(o);
    m->objs[r->obj - 1] = NULL;
    return 0;
  }
  if (o->kind == MK_LIST)
    return op_list(s, o);
  sdict_t *d = hp(o->u.d);
  int rc = sd_lock_all(d, d->gen, 1, s->park_by, "the Manager's server");
  if (rc == 0) {
    rc = op_dict(s, d, o->kind);
    sd_unlock_all(d, d->gen);
  }
  return rc;
}

/* The operations a same-node client runs in place: those of one key, and
 * len (see "dicts in the node heap"). */
static int local_op(uint32_t op) {
  switch (op) {
  case OP_D_SET: case OP_D_GET: case OP_D_SIZE: case OP_D_DEL:
  case OP_D_CONTAINS: case OP_D_LEN: case OP_D_POP: case OP_D_SETDEFAULT:
    return 1;
  default:
    return 0;
  }
}

/*
 * Run a dict's call here when the dict lives in this node's heap: what the
 * server would answer lands in c as on_reply() puts it there (c is then
 * unregistered). FALLBACK (nothing done): send it to the server.
 */
static int local_call(const mreq_t *q, const char *key, size_t klen,
                      const void *val, size_t vlen, mcall_t *c,
                      const char *fn) {
  const mpmp_mref_t *r = &q->ref;
  if ((r->kind != MK_DICT && r->kind != MK_NS) || !local_op(q->op))
    return FALLBACK;
  /* this rank's pipelined puts happen before the call, as before one the
   * server runs (call_send): another rank that sees what it did must find
   * them in their queues (one load when nothing is in flight) */
  mpmp__obj_fence();
  /* A task host may be killed at any instruction (task_timeout, terminate,
   * a crash): in the middle of a change it would leave the table half
   * changed for the next taker of the stripe. Its reads, which change
   * nothing, run here (a host killed in one leaves only the lock, which the
   * next taker takes over), and so do its sets of a key that is there, a
   * value that fits the stripe's redo record (see mstripe_t); its other
   * changes go through the server. */
  int reads = q->op == OP_D_GET || q->op == OP_D_SIZE ||
              q->op == OP_D_CONTAINS || q->op == OP_D_LEN;
  int host = !reads && mpmp__owner_is_host(mpmp__owner_id());
  if (host && q->op != OP_D_SET)
    return FALLBACK;
  sdict_t *d = sd_of(r);
  if (d == NULL)
    return FALLBACK;
  /* the stripe of the key when the call may leave the table as it is */
  uint32_t gen = sd_gen(r->mgr, r->obj);
  uint64_t h = key ? key_hash(key, klen) : 0;
  int one = reads || q->op == OP_D_SET;
  mreq_t hq = *q;
  hq.klen = (uint32_t)klen;
  hq.vlen = vlen;
  sreq_t s;
  int rc;
  for (;;) {
    mstripe_t *t = sd_stripe(d, h);
    rc = one ? sd_take(d, t, gen, 0, 0, fn) : sd_lock_all(d, gen, 0, 0, fn);
    if (rc == 0 && (d->magic != SD_MAGIC || d->mgr != r->mgr ||
                    d->obj != r->obj))
      rc = NEED_ALL + 1; /* not its dict after all: let the server say */
    if (rc != 0 && rc != NEED_ALL + 1)
      return rc; /* FALLBACK (freed) or an error */
    s = (sreq_t){.q = &hq, .key = key, .val = val, .klen = klen,
                 .vlen = vlen,
                 .local = host ? LOCAL_HOST : one ? LOCAL_ONE : LOCAL_ALL};
    if (c->mode == OUT_COPY) { /* the answer straight into the caller's */
      s.out = c->buf;
      s.out_cap = c->cap;
    }
    if (rc == 0)
      rc = op_dict(&s, d, r->kind);
    else
      rc = FALLBACK;
    if (one)
      sd_give(t, gen);
    else
      sd_unlock_all(d, gen);
    if (rc != NEED_ALL)
      break;
    if (host) { /* a new key: the server makes it (see mstripe_t) */
      rc = FALLBACK;
      break;
    }
    one = 0; /* again, holding every stripe */
  }
  if (rc == FALLBACK) {
    mpmp__free(s.rep);
    return FALLBACK;
  }
  call_forget(c);
  c->rc = rc;
  c->r0 = s.r0;
  c->data_len = s.dlen;
  if (rc < 0)
    snprintf(c->msg, sizeof c->msg, "%s", mpmp_errmsg());
  char *data = s.rep ? s.rep + sizeof(mrep_t) : NULL;
  if (c->mode == OUT_COPY && s.dlen > 0 && c->buf != NULL && data != NULL)
    memcpy(c->buf, data, s.dlen < c->cap ? s.dlen : c->cap);
  else if (c->mode == OUT_TAKE && rc >= 0) {
    if (s.rep == NULL && (s.rep = mpmp__malloc(sizeof(mrep_t))) == NULL) {
      c->rc = MPMP_ENOMEM;
      snprintf(c->msg, sizeof c->msg, "out of memory for an answer");
    }
    c->taken = s.rep;
    c->off = sizeof(mrep_t);
    s.rep = NULL;
  }
  mpmp__free(s.rep);
  return call_result(c, fn);
}

static void send_reply(int dest, uint64_t cookie, int rc, sreq_t *s) {
  const char *msg = rc < 0 ? mpmp_errmsg() : "";
  size_t mlen = rc < 0 ? strlen(msg) + 1 : 0;
  if (rc < 0 || s->rep == NULL) {
    mpmp__free(s->rep);
    s->rep = mpmp__malloc(sizeof(mrep_t) + mlen);
    s->dlen = 0;
    if (s->rep == NULL) {
      MPMP__ERROR("out of memory answering rank %d: the job ends", dest);
      mpmp__abort_job();
      return;
    }
    memcpy(s->rep + sizeof(mrep_t), msg, mlen);
  }
  mrep_t p = {.cookie = cookie, .rc = rc, .msg_len = (uint32_t)mlen,
              .r0 = s->r0, .data_len = s->dlen};
  memcpy(s->rep, &p, sizeof p);
  if (mpmp__send_nb(dest, MPMP__TAG_MGR_REP, s->rep,
                    sizeof p + mlen + s->dlen) < 0)
    MPMP__WARN("could not answer a Manager call of rank %d: %s", dest,
               mpmp_errmsg());
  s->rep = NULL;
}

/*
 * Parked requests. A dict lives in the node heap under stripe locks that
 * its same-node clients take themselves; the server takes them too, for
 * the calls it runs (whole-dict ones, other nodes' calls). A client
 * stopped (SIGSTOP, a debugger) or descheduled while it holds a stripe
 * kept the server waiting in its handler for up to MPMP_MANAGER_TIMEOUT,
 * and every other call of every client, on any object, waited behind it.
 * Now the server waits PARK_TRY_S at most: then it parks the request (no
 * answer yet) and goes on serving the others; its body tries the parked
 * ones again every PARK_RETRY_S, in the order they came, and answers
 * each once it ran, or with MPMP_ETIMEDOUT after MPMP_MANAGER_TIMEOUT, as
 * before. A client's calls are one at a time, so its own stay in order.
 */
#define PARK_TRY_S 0.002
#define PARK_RETRY_S 0.002

typedef struct parked {
  struct parked *next;
  int src;
  void *buf; /* the request, owned */
  size_t len;
  double since;
} parked_t;

/* Run request buf of rank src, which came at `since` (-INFINITY: answer
 * it as it stands), waiting up to try_s for a dict's stripes: 0 and its
 * answer sent, or PARKED (nothing sent; buf kept). srv_lock held. */
static int serve_request(int src, void *buf, size_t len, double since,
                         double try_s) {
  mreq_t q;
  memcpy(&q, buf, sizeof q);
  double now = mpmp__now();
  sreq_t s = {.q = &q, .key = (const char *)buf + sizeof q,
              .park_by = now + try_s};
  s.klen = q.klen;
  s.val = s.key + (q.klen <= len - sizeof q ? q.klen : 0);
  s.vlen = q.vlen;
  int rc = serve(&s, len - sizeof q);
  if (rc == PARKED && now - since < MPMP_MANAGER_TIMEOUT)
    return PARKED;
  if (rc == PARKED)
    rc = mpmp__err(MPMP_ETIMEDOUT, "the dict stayed locked for %g s (a "
                   "client is stopped or stuck inside a call on it)",
                   MPMP_MANAGER_TIMEOUT);
  send_reply(src, q.cookie, rc, &s);
  return 0;
}

static void on_request(int src, void *buf, size_t len) {
  if (len < sizeof(mreq_t)) {
    MPMP__WARN("dropped a malformed Manager request from rank %d", src);
    mpmp__free(buf);
    return;
  }
  double now = mpmp__now();
  parked_t *p = NULL;
  pthread_mutex_lock(&M.srv_lock);
  int rc = serve_request(src, buf, len, now, PARK_TRY_S);
  if (rc == PARKED && (p = mpmp__malloc(sizeof *p)) == NULL)
    serve_request(src, buf, len, -INFINITY, 0); /* no room to park it: the
                                                   answer as it stands */
  else if (rc == PARKED) {
    *p = (parked_t){NULL, src, buf, len, now};
    *M.parked_tail = p;
    M.parked_tail = &p->next;
    atomic_fetch_add(&M.nparked, 1);
  }
  pthread_mutex_unlock(&M.srv_lock);
  if (p == NULL)
    mpmp__free(buf);
  atomic_fetch_add_explicit(&M.served, 1, memory_order_release);
}

/* Try the parked requests again, in order; with `end` (the server stops)
 * answer each as it stands now. Whether some stay parked. */
static int retry_parked(int end) {
  pthread_mutex_lock(&M.srv_lock);
  parked_t **at = &M.parked;
  while (*at != NULL) {
    parked_t *p = *at;
    if (serve_request(p->src, p->buf, p->len, end ? -INFINITY : p->since,
                      0) == PARKED) {
      at = &p->next;
      continue;
    }
    *at = p->next;
    mpmp__free(p->buf);
    mpmp__free(p);
    atomic_fetch_sub(&M.nparked, 1);
  }
  M.parked_tail = at;
  int left = M.parked != NULL;
  pthread_mutex_unlock(&M.srv_lock);
  return left;
}

/* ---- the server's body --------------------------------------------------- */

typedef struct srv_arg {
  uint64_t id, cookie;
} srv_arg_t;

typedef struct srv_wait {
  smgr_t *m;
  mpmp_ctx_t *ctx;
  uint64_t seen;
} srv_wait_t;

static int srv_wake(void *arg) {
  srv_wait_t *w = arg;
  return atomic_load(&w->m->stop) || mpmp_should_stop(w->ctx) ||
         atomic_load_explicit(&M.served, memory_order_acquire) != w->seen;
}

/*
 * Wait until shut down, polling for MPMP_SPIN_US again after each request
 * (mpmp__wait_until polls once, then sleeps). The body counts as a progress
 * driver throughout, so the agent thread stays parked instead of being
 * woken between two waits.
 */
static void serve_until_stopped(smgr_t *m, mpmp_ctx_t *ctx) {
  srv_wait_t w = {.m = m, .ctx = ctx};
  int parked = 0;
  mpmp__driver_enter();
  while (!atomic_load(&m->stop) && !mpmp_should_stop(ctx)) {
    w.seen = atomic_load_explicit(&M.served, memory_order_acquire);
    int rc = mpmp__wait_until(srv_wake, &w,
                              parked ? mpmp__now() + PARK_RETRY_S : INFINITY);
    if (rc < 0 && rc != MPMP_ETIMEDOUT)
      break; /* this rank's teardown began */
    parked = atomic_load(&M.nparked) > 0 && retry_parked(0);
  }
  mpmp__driver_leave();
}

static int mpmp__manager_server(mpmp_ctx_t *ctx) {
  size_t n;
  const srv_arg_t *a = mpmp_arg(ctx, &n);
  if (n != sizeof *a)
    return mpmp_fail(ctx, "bad Manager server argument");
  smgr_t *m = mpmp__calloc(1, sizeof *m);
  if (m == NULL)
    return mpmp_fail(ctx, "out of memory for a Manager");
  m->id = a->id;
  pthread_mutex_lock(&M.srv_lock);
  m->next = M.hosted;
  M.hosted = m;
  pthread_mutex_unlock(&M.srv_lock);
  mrep_t ready = {.cookie = a->cookie, .r0 = mpmp__net.rank};
  int rc = mpmp__send(0, MPMP__TAG_MGR_REP, &ready, sizeof ready, NULL, 0);
  if (rc == 0)
    serve_until_stopped(m, ctx);
  pthread_mutex_lock(&M.srv_lock);
  if (!atomic_load(&m->stop)) { /* terminated, not shut down */
    hosted_remove(m);
    smgr_free_objects(m);
  }
  pthread_mutex_unlock(&M.srv_lock);
  retry_parked(1); /* each answered: the Manager is gone ("shut down") */
  mpmp__free(m);
  return rc < 0 ? mpmp_fail(ctx, "%s", mpmp_errmsg()) : 0;
}
MPMP_TASK(mpmp__manager_server);

void mpmp__manager_setup(int is_main) {
  (void)is_main; /* every rank may serve or call a Manager */
  mpmp__set_handler(MPMP__TAG_MGR_REQ, on_request);
  mpmp__set_handler(MPMP__TAG_MGR_REP, on_reply);
}

/* ---- the main rank: start and shutdown ----------------------------------- */

typedef struct start_wait {
  mcall_t *c;
  mpmp_process_t *p;
} start_wait_t;

static int started_or_ended(void *arg) {
  start_wait_t *w = arg;
  return call_done(w->c) || mpmp_process_is_alive(w->p) == 0;
}

static int rec_add(uint64_t id, mpmp_process_t *p, int rank) {
  pthread_mutex_lock(&M.main_lock);
  if (M.nrecs == M.recs_cap) {
    int cap = M.recs_cap ? 2 * M.recs_cap : 8;
    mrec_t *t = mpmp__realloc(M.recs, (size_t)cap * sizeof *t);
    if (t == NULL) {
      pthread_mutex_unlock(&M.main_lock);
      return mpmp__err(MPMP_ENOMEM, "out of memory for a Manager");
    }
    M.recs = t;
    M.recs_cap = cap;
  }
  M.recs[M.nrecs++] = (mrec_t){id, p, rank, 1};
  pthread_mutex_unlock(&M.main_lock);
  return 0;
}

static int stop_server(mrec_t *r, const char *fn);

/* The server did not come up: say why, and leave nothing running. */
static int start_failed(mcall_t *c, mpmp_process_t *p) {
  call_forget(c);
  if (mpmp_process_is_alive(p) == 1) {
    mpmp_process_terminate(p);
    if (mpmp_process_join(p, MPMP_MANAGER_TIMEOUT) < 0)
      return mpmp__err(MPMP_ETIMEDOUT, "mpmp_manager_start: the server on "
                       "rank %d did not start within %g s",
                       mpmp_process_rank(p), MPMP_MANAGER_TIMEOUT);
  }
  char why[256];
  snprintf(why, sizeof why, "%s", mpmp_process_errmsg(p));
  mpmp_process_destroy(p);
  return mpmp__err(MPMP_ETASK, "mpmp_manager_start: the server ended at "
                   "once: %s", why[0] ? why : "(no message)");
}

MPMP_API int mpmp_manager_start(mpmp_manager_t *m) {
  int rc = mpmp__check_main("mpmp_manager_start");
  if (rc < 0)
    return rc;
  if (m == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_manager_start: the handle pointer is "
                     "NULL");
  memset(m, 0, sizeof *m);
  /* the server's first answer cannot come in a done-callback: the wait
   * below ran out its 60 s there, stalling every other result */
  if ((rc = mpmp__may_wait("mpmp_manager_start")) < 0)
    return rc;
  uint64_t id = atomic_fetch_add(&mpmp__par.next_id, 1) + 1;
  mcall_t c;
  call_register(&c, OUT_NONE, NULL, 0);
  srv_arg_t arg = {id, c.cookie};
  char name[64];
  pthread_mutex_lock(&M.main_lock);
  snprintf(name, sizeof name, "SyncManager-%d", ++M.started);
  pthread_mutex_unlock(&M.main_lock);
  /* the server calls MPI: in its worker rank, never in a task host */
  mpmp_process_opts_t opts = {.name = name, .daemon = 1,
                              .isolate = MPMP_ISOLATE_NEVER};
  mpmp_process_t *p = NULL;
  rc = mpmp_process_create(&p, mpmp__manager_server, &arg, sizeof arg,
                           &opts);
  if (rc == 0 && (rc = mpmp_process_start(p)) == MPMP_EBUSY)
    rc = mpmp__err(MPMP_EBUSY, "mpmp_manager_start: no free worker rank for "
                   "the Manager's server: all %d worker ranks run processes, "
                   "pools or managers; shut one down, or start the job with "
                   "more ranks (mpirun -n %d)", mpmp__net.size - 1, mpmp__net.size + 1);
  if (rc < 0) {
    call_forget(&c);
    if (p != NULL)
      mpmp_process_destroy(p);
    return rc;
  }
  start_wait_t w = {&c, p};
  mpmp__wait_until(started_or_ended, &w, mpmp__now() + MPMP_MANAGER_TIMEOUT);
  if (!call_done(&c))
    return start_failed(&c, p);
  int rank = mpmp_process_rank(p);
  mpmp__process_keep(p, 1); /* the user's destroy would leave r->proc
                               dangling for the shutdown's join */
  if ((rc = rec_add(id, p, rank)) < 0) {
    mrec_t r = {id, p, rank, 1};
    stop_server(&r, "mpmp_manager_start");
    return rc;
  }
  make_ref(&m->ref, id, 0, rank, MK_MANAGER, 0);
  return 0;
}

/* Shut the server of r down and join it (main_lock held or r private). */
static int stop_server(mrec_t *r, const char *fn) {
  mreq_t q = {.op = OP_SHUTDOWN};
  make_ref(&q.ref, r->id, 0, r->rank, MK_MANAGER, 0);
  mcall_t c;
  call_register(&c, OUT_NONE, NULL, 0);
  int rc = call(&q, NULL, NULL, 0, &c, fn);
  if (rc == MPMP_EDEAD)
    rc = 0; /* it was gone already */
  if (rc < 0)
    mpmp_process_terminate(r->proc); /* the body stops on its flag */
  int jrc = mpmp_process_join(r->proc, MPMP_MANAGER_TIMEOUT);
  if (jrc == 0) {
    mpmp__process_keep(r->proc, 0);
    mpmp_process_destroy(r->proc);
    r->proc = NULL;
  } else if (rc == 0 && jrc == MPMP_ETIMEDOUT) {
    rc = mpmp__err(jrc, "%s: the Manager's server (rank %d) did not end "
                   "within %g s", fn, r->rank, MPMP_MANAGER_TIMEOUT);
  } else if (rc == 0) { /* the join's own reason (mpmp_finalize meanwhile) */
    char why[256];
    snprintf(why, sizeof why, "%s", mpmp_errmsg());
    rc = mpmp__err(jrc, "%s: waiting for the Manager's server (rank %d) to "
                   "end: %s", fn, r->rank, why);
  }
  r->alive = 0;
  return rc;
}

static mrec_t *rec_find(uint64_t id) {
  for (int i = 0; i < M.nrecs; i++)
    if (M.recs[i].id == id)
      return &M.recs[i];
  return NULL;
}

MPMP_API int mpmp_manager_shutdown(mpmp_manager_t m) {
  const char *fn = "mpmp_manager_shutdown";
  int rc = mpmp__check_main(fn);
  if (rc < 0 || (rc = ref_check(&m.ref, MK_MANAGER, fn)) < 0)
    return rc;
  /* the server's end is waited for, which a done-callback cannot do: the
   * refused wait terminated the server all the same (its objects lost) */
  if ((rc = mpmp__may_wait(fn)) < 0)
    return rc;
  pthread_mutex_lock(&M.main_lock);
  mrec_t *r = rec_find(m.ref.mgr);
  if (r == NULL)
    rc = mpmp__err(MPMP_EBADF, "%s: no Manager with this handle was started "
                   "in this job", fn);
  else if (r->alive)
    rc = stop_server(r, fn);
  pthread_mutex_unlock(&M.main_lock);
  /* the server freed its objects: this rank's puts (sends, adds) to them
   * must not return early as pipelined to an object known, but fail as
   * on one node (MPMP_EBADF) */
  if (r != NULL)
    mpmp__obj_forget_all();
  return rc;
}

int mpmp__manager_finalize(void) {
  pthread_mutex_lock(&M.main_lock);
  for (int i = 0; i < M.nrecs; i++)
    if (M.recs[i].alive && stop_server(&M.recs[i], "mpmp_finalize") < 0)
      MPMP__WARN("%s", mpmp_errmsg());
  mpmp__free(M.recs);
  M.recs = NULL;
  M.nrecs = M.recs_cap = 0;
  pthread_mutex_unlock(&M.main_lock);
  return 0;
}

/* ---- the public calls ---------------------------------------------------- */

/* A call that returns nothing but rc and r0, with the indexes i and j. */
static int simple_ij(const mpmp_mref_t *ref, int kind, int op,
                     const char *key, const void *val, size_t vlen, int64_t i,
                     int64_t j, int64_t *r0, const char *fn) {
  int rc = check_ref(ref, kind, fn);
  if (rc < 0 || (key && (rc = key_lookup(key, kind, op, 0, fn)) != 0) ||
      (rc = check_value(val, vlen, fn)) < 0)
    return rc < 0 ? rc : 0;
  mreq_t q = {.op = (uint32_t)op, .ref = *ref, .i = i, .j = j};
  mcall_t c;
  call_init(&c, OUT_NONE, NULL, 0);
  rc = call(&q, key, val, vlen, &c, fn);
  if (rc >= 0 && r0)
    *r0 = c.r0;
  return rc;
}

/* A call that returns nothing but rc and r0. */
static int simple(const mpmp_mref_t *ref, int kind, int op, const char *key,
                  const void *val, size_t vlen, int64_t i, int64_t *r0,
                  const char *fn) {
  return simple_ij(ref, kind, op, key, val, vlen, i, 0, r0, fn);
}

/* A call whose answer is a value: into (buf, cap), or malloc()ed. */
static int get_value(const mpmp_mref_t *ref, int kind, int op, const char *key,
                     int64_t i, uint32_t flags, void *buf, size_t cap,
                     void **alloc, size_t *size, const char *fn) {
  int rc = check_ref(ref, kind, fn);
  if (rc < 0 || (key && (rc = key_lookup(key, kind, op, flags, fn)) != 0) ||
      (rc = check_out(buf, cap, fn)) < 0)
    return rc < 0 ? rc : 0;
  if (alloc != NULL)
    *alloc = NULL;
  mreq_t q = {.op = (uint32_t)op, .ref = *ref, .i = i, .flags = flags,
              .out_max = alloc ? UINT64_MAX : cap};
  mcall_t c;
  call_init(&c, alloc ? OUT_TAKE : OUT_COPY, buf, cap);
  rc = call(&q, key, NULL, 0, &c, fn);
  if (size && (rc >= 0 || rc == MPMP_EMSGSIZE))
    *size = (size_t)c.r0;
  if (alloc != NULL && c.taken != NULL) {
    /* hand out the reply itself: the value moved to its start */
    memmove(c.taken, c.taken + c.off, c.data_len);
    *alloc = c.taken;
  }
  return rc;
}

static int create(mpmp_manager_t m, int kind, mpmp_mref_t *out,
                  const char *fn) {
  if (out == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the handle pointer is NULL", fn);
  memset(out, 0, sizeof *out);
  int rc = check_ref(&m.ref, MK_MANAGER, fn);
  if (rc < 0)
    return rc;
  /* the answer: the id, and a dict's heap offset (8 bytes of data) */
  uint64_t off = 0;
  mreq_t q = {.op = OP_NEW, .ref = m.ref, .i = kind, .out_max = sizeof off};
  mcall_t c;
  call_register(&c, OUT_COPY, &off, sizeof off);
  if ((rc = call(&q, NULL, NULL, 0, &c, fn)) < 0)
    return rc;
  make_ref(out, m.ref.mgr, (uint64_t)c.r0, m.ref.rank, kind, off);
  return 0;
}

MPMP_API int mpmp_manager_alive(mpmp_manager_t m) {
  return simple(&m.ref, MK_MANAGER, OP_PING, NULL, NULL, 0, 0, NULL,
                "mpmp_manager_alive");
}

/* A question to the server, so that a manager shut down says so. */
MPMP_API int mpmp_manager_rank(mpmp_manager_t m) {
  int rc = simple(&m.ref, MK_MANAGER, OP_PING, NULL, NULL, 0, 0, NULL,
                  "mpmp_manager_rank");
  return rc < 0 ? rc : m.ref.rank;
}

/* dict */

MPMP_API int mpmp_dict_create(mpmp_manager_t m, mpmp_dict_t *d) {
  return create(m, MK_DICT, d ? &d->ref : NULL, "mpmp_dict_create");
}

MPMP_API int mpmp_dict_free(mpmp_dict_t d) {
  return simple(&d.ref, MK_DICT, OP_FREE, NULL, NULL, 0, 0, NULL,
                "mpmp_dict_free");
}

MPMP_API int mpmp_dict_set(mpmp_dict_t d, const char *key, const void *value,
                           size_t size) {
  const char *fn = "mpmp_dict_set";
  if (key == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the key is NULL", fn);
  return simple(&d.ref, MK_DICT, OP_D_SET, key, value, size, 0, NULL, fn);
}

MPMP_API int mpmp_dict_get(mpmp_dict_t d, const char *key, void *buf,
                           size_t cap, size_t *size) {
  const char *fn = "mpmp_dict_get";
  if (key == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the key is NULL", fn);
  int rc = get_value(&d.ref, MK_DICT, OP_D_GET, key, 0, 0, buf, cap, NULL,
                     size, fn);
  return rc < 0 ? rc : 0;
}

/* get/pop with a default (Python's d.get(k, default), d.pop(k, default)):
 * the value when the key is there (0), else the default copied out. */
static int value_or_default(mpmp_dict_t d, int op, const char *key,
                            void *buf, size_t cap, size_t *size,
                            const void *def, size_t def_size,
                            const char *fn) {
  if (key == NULL || (def == NULL && def_size > 0))
    return mpmp__err(MPMP_EINVAL, "%s: the %s is NULL", fn,
                     key ? "default" : "key");
  /* (before a pop takes anything) */
  int rc = mpmp__check_extent(def, def_size, 1, "the default", fn);
  if (rc == 0)
    rc = mpmp__check_extent(buf, cap, 1, "the buffer", fn);
  if (rc < 0)
    return rc;
  rc = get_value(&d.ref, MK_DICT, op, key, 0, F_MISSING_OK, buf, cap, NULL,
                 size, fn);
  if (rc != 0)
    return rc;
  if (def_size > cap) {
    if (size)
      *size = def_size;
    return mpmp__err(MPMP_EMSGSIZE, "%s: the default takes %zu bytes, the "
                     "buffer has %zu", fn, def_size, cap);
  }
  if (def_size)
    memcpy(buf, def, def_size);
  if (size)
    *size = def_size;
  return 0;
}

MPMP_API int mpmp_dict_get_or(mpmp_dict_t d, const char *key, void *buf,
                              size_t cap, size_t *size, const void *def,
                              size_t def_size) {
  return value_or_default(d, OP_D_GET, key, buf, cap, size, def, def_size,
                          "mpmp_dict_get_or");
}

MPMP_API int mpmp_dict_get_alloc(mpmp_dict_t d, const char *key, void **value,
                                 size_t *size) {
  const char *fn = "mpmp_dict_get_alloc";
  if (key == NULL || value == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the %s is NULL", fn,
                     key ? "value pointer" : "key");
  int rc = get_value(&d.ref, MK_DICT, OP_D_GET, key, 0, 0, NULL, 0, value,
                     size, fn);
  return rc < 0 ? rc : 0;
}

MPMP_API int mpmp_dict_size(mpmp_dict_t d, const char *key, size_t *size) {
  const char *fn = "mpmp_dict_size";
  if (key == NULL || size == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the %s is NULL", fn,
                     key ? "size pointer" : "key");
  int64_t n = 0;
  int rc = simple(&d.ref, MK_DICT, OP_D_SIZE, key, NULL, 0, 0, &n, fn);
  if (rc >= 0)
    *size = (size_t)n;
  return rc;
}

MPMP_API int mpmp_dict_del(mpmp_dict_t d, const char *key) {
  const char *fn = "mpmp_dict_del";
  if (key == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the key is NULL", fn);
  return simple(&d.ref, MK_DICT, OP_D_DEL, key, NULL, 0, 0, NULL, fn);
}

MPMP_API int mpmp_dict_contains(mpmp_dict_t d, const char *key) {
  const char *fn = "mpmp_dict_contains";
  if (key == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the key is NULL", fn);
  return simple(&d.ref, MK_DICT, OP_D_CONTAINS, key, NULL, 0, 0, NULL, fn);
}

static int len_of(const mpmp_mref_t *ref, int kind, int op, size_t *n,
                  const char *fn) {
  if (n == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the length pointer is NULL", fn);
  int64_t r0 = 0;
  int rc = simple(ref, kind, op, NULL, NULL, 0, 0, &r0, fn);
  if (rc >= 0)
    *n = (size_t)r0;
  return rc;
}

MPMP_API int mpmp_dict_len(mpmp_dict_t d, size_t *n) {
  return len_of(&d.ref, MK_DICT, OP_D_LEN, n, "mpmp_dict_len");
}

/* keys(), items(), slices: the answer becomes an mpmp_items_t */
static int get_items(const mpmp_mref_t *ref, int kind, int op, int64_t i,
                     int64_t j, int keys, int vals, mpmp_items_t *out,
                     const char *fn) {
  if (out == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the output is NULL", fn);
  memset(out, 0, sizeof *out);
  int rc = check_ref(ref, kind, fn);
  if (rc < 0)
    return rc;
  mreq_t q = {.op = (uint32_t)op, .ref = *ref, .i = i, .j = j};
  mcall_t c;
  call_register(&c, OUT_TAKE, NULL, 0);
  rc = call(&q, NULL, NULL, 0, &c, fn);
  if (rc < 0) {
    mpmp__free(c.taken);
    return rc;
  }
  return items_from(c.taken, c.off, c.data_len, c.r0, keys, vals, out, fn);
}

MPMP_API int mpmp_dict_keys(mpmp_dict_t d, mpmp_items_t *keys) {
  return get_items(&d.ref, MK_DICT, OP_D_KEYS, 0, 0, 1, 0, keys,
                   "mpmp_dict_keys");
}

MPMP_API int mpmp_dict_items(mpmp_dict_t d, mpmp_items_t *items) {
  return get_items(&d.ref, MK_DICT, OP_D_ITEMS, 0, 0, 1, 1, items,
                   "mpmp_dict_items");
}

/* Pack n (key and/or) values as records and send them in one call. */
static int put_many(const mpmp_mref_t *ref, int kind, int op, size_t n,
                    const char *const *keys, const void *const *values,
                    const size_t *sizes, const char *fn) {
  int rc = check_ref(ref, kind, fn);
  if (rc < 0)
    return rc;
  if (n > 0 &&
      (values == NULL || sizes == NULL || (kind == MK_DICT && keys == NULL)))
    return mpmp__err(MPMP_EINVAL, "%s: the %s array is NULL", fn,
                     values == NULL ? "values" : sizes ? "keys" : "sizes");
  if (n > 0 &&
      ((rc = mpmp__check_extent(values, n, sizeof *values, "the values",
                                fn)) < 0 ||
       (rc = mpmp__check_extent(sizes, n, sizeof *sizes, "the sizes",
                                fn)) < 0 ||
       (keys && (rc = mpmp__check_extent(keys, n, sizeof *keys, "the keys",
                                         fn)) < 0)))
    return rc;
  int with_keys = kind == MK_DICT;
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    if ((with_keys && (rc = check_key(keys[i], fn)) < 0) ||
        (rc = check_value(values[i], sizes[i], fn)) < 0) {
      char m[256];
      snprintf(m, sizeof m, "%s", mpmp_errmsg());
      return mpmp__err(rc, "%s (item %zu)", m, i);
    }
    total += rec_size(with_keys, 1, with_keys ? strlen(keys[i]) : 0,
                      sizes[i]);
    if (total > MPMP_MANAGER_MAX_MESSAGE)
      return mpmp__err(MPMP_EMSGSIZE, "%s: %zu items take more than "
                       "MPMP_MANAGER_MAX_MESSAGE (%zu bytes) in one call",
                       fn, n, MPMP_MANAGER_MAX_MESSAGE);
  }
  mreq_t q = {.op = (uint32_t)op, .ref = *ref, .i = (int64_t)n,
              .vlen = total};
  char *msg = req_new(total);
  if (msg == NULL)
    return mpmp__err(MPMP_ENOMEM, "%s: out of memory for a %zu-byte request",
                     fn, total);
  char *at = msg + sizeof q;
  for (size_t i = 0; i < n; i++)
    at = rec_put(at, with_keys, 1, with_keys ? keys[i] : NULL,
                 with_keys ? strlen(keys[i]) : 0, values[i], sizes[i]);
  mcall_t c;
  call_register(&c, OUT_NONE, NULL, 0);
  rc = call_send(&q, msg, total, &c, fn);
  return rc < 0 ? rc : 0;
}

MPMP_API int mpmp_dict_update(mpmp_dict_t d, size_t n,
                              const char *const *keys,
                              const void *const *values, const size_t *sizes) {
  return put_many(&d.ref, MK_DICT, OP_D_UPDATE, n, keys, values, sizes,
                  "mpmp_dict_update");
}

MPMP_API int mpmp_dict_clear(mpmp_dict_t d) {
  return simple(&d.ref, MK_DICT, OP_D_CLEAR, NULL, NULL, 0, 0, NULL,
                "mpmp_dict_clear");
}

MPMP_API int mpmp_dict_pop(mpmp_dict_t d, const char *key, void *buf,
                           size_t cap, size_t *size) {
  const char *fn = "mpmp_dict_pop";
  if (key == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the key is NULL", fn);
  return get_value(&d.ref, MK_DICT, OP_D_POP, key, 0, 0, buf, cap, NULL, size,
                   fn);
}

MPMP_API int mpmp_dict_pop_alloc(mpmp_dict_t d, const char *key, void **value,
                                 size_t *size) {
  const char *fn = "mpmp_dict_pop_alloc";
  if (key == NULL || value == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the %s is NULL", fn,
                     key ? "value pointer" : "key");
  return get_value(&d.ref, MK_DICT, OP_D_POP, key, 0, 0, NULL, 0, value, size,
                   fn);
}

MPMP_API int mpmp_dict_pop_or(mpmp_dict_t d, const char *key, void *buf,
                              size_t cap, size_t *size, const void *def,
                              size_t def_size) {
  return value_or_default(d, OP_D_POP, key, buf, cap, size, def, def_size,
                          "mpmp_dict_pop_or");
}

MPMP_API int mpmp_dict_popitem(mpmp_dict_t d, mpmp_items_t *item) {
  return get_items(&d.ref, MK_DICT, OP_D_POPITEM, 0, 0, 1, 1, item,
                   "mpmp_dict_popitem");
}

MPMP_API int mpmp_dict_setdefault(mpmp_dict_t d, const char *key,
                                  const void *def, size_t def_size, void *buf,
                                  size_t cap, size_t *size) {
  const char *fn = "mpmp_dict_setdefault";
  int rc = check_ref(&d.ref, MK_DICT, fn);
  if (rc < 0 || (rc = check_key(key, fn)) < 0 ||
      (rc = check_value(def, def_size, fn)) < 0 ||
      (rc = check_out(buf, cap, fn)) < 0)
    return rc;
  uint32_t flags = buf == NULL ? F_NO_VALUE : 0;
  mreq_t q = {.op = OP_D_SETDEFAULT, .ref = d.ref, .flags = flags,
              .out_max = cap};
  mcall_t c;
  call_register(&c, OUT_COPY, buf, cap);
  rc = call(&q, key, def, def_size, &c, fn);
  if (size && (rc >= 0 || rc == MPMP_EMSGSIZE))
    *size = (size_t)c.r0;
  if (rc == 0 && buf != NULL && def_size > 0) /* set: the default is it */
    memcpy(buf, def, def_size);
  return rc;
}

MPMP_API int mpmp_dict_values(mpmp_dict_t d, mpmp_items_t *values) {
  return get_items(&d.ref, MK_DICT, OP_D_VALUES, 0, 0, 0, 1, values,
                   "mpmp_dict_values");
}

/* list */

MPMP_API int mpmp_list_create(mpmp_manager_t m, mpmp_list_t *l) {
  return create(m, MK_LIST, l ? &l->ref : NULL, "mpmp_list_create");
}

MPMP_API int mpmp_list_free(mpmp_list_t l) {
  return simple(&l.ref, MK_LIST, OP_FREE, NULL, NULL, 0, 0, NULL,
                "mpmp_list_free");
}

MPMP_API int mpmp_list_append(mpmp_list_t l, const void *value, size_t size) {
  return simple(&l.ref, MK_LIST, OP_L_APPEND, NULL, value, size, 0, NULL,
                "mpmp_list_append");
}

MPMP_API int mpmp_list_extend(mpmp_list_t l, size_t n,
                              const void *const *values, const size_t *sizes) {
  return put_many(&l.ref, MK_LIST, OP_L_EXTEND, n, NULL, values, sizes,
                  "mpmp_list_extend");
}

MPMP_API int mpmp_list_get(mpmp_list_t l, int64_t i, void *buf, size_t cap,
                           size_t *size) {
  return get_value(&l.ref, MK_LIST, OP_L_GET, NULL, i, 0, buf, cap, NULL,
                   size, "mpmp_list_get");
}

MPMP_API int mpmp_list_get_alloc(mpmp_list_t l, int64_t i, void **value,
                                 size_t *size) {
  if (value == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_list_get_alloc: the value pointer is "
                     "NULL");
  return get_value(&l.ref, MK_LIST, OP_L_GET, NULL, i, 0, NULL, 0, value,
                   size, "mpmp_list_get_alloc");
}

MPMP_API int mpmp_list_set(mpmp_list_t l, int64_t i, const void *value,
                           size_t size) {
  return simple(&l.ref, MK_LIST, OP_L_SET, NULL, value, size, i, NULL,
                "mpmp_list_set");
}

MPMP_API int mpmp_list_insert(mpmp_list_t l, int64_t i, const void *value,
                              size_t size) {
  return simple(&l.ref, MK_LIST, OP_L_INSERT, NULL, value, size, i, NULL,
                "mpmp_list_insert");
}

MPMP_API int mpmp_list_pop(mpmp_list_t l, int64_t i, void *buf, size_t cap,
                           size_t *size) {
  return get_value(&l.ref, MK_LIST, OP_L_POP, NULL, i, 0, buf, cap, NULL,
                   size, "mpmp_list_pop");
}

MPMP_API int mpmp_list_pop_alloc(mpmp_list_t l, int64_t i, void **value,
                                 size_t *size) {
  if (value == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_list_pop_alloc: the value pointer is "
                     "NULL");
  return get_value(&l.ref, MK_LIST, OP_L_POP, NULL, i, 0, NULL, 0, value,
                   size, "mpmp_list_pop_alloc");
}

MPMP_API int mpmp_list_len(mpmp_list_t l, size_t *n) {
  return len_of(&l.ref, MK_LIST, OP_L_LEN, n, "mpmp_list_len");
}

MPMP_API int mpmp_list_slice(mpmp_list_t l, int64_t start, int64_t stop,
                             mpmp_items_t *values) {
  return get_items(&l.ref, MK_LIST, OP_L_SLICE, start, stop, 0, 1, values,
                   "mpmp_list_slice");
}

MPMP_API int mpmp_list_del(mpmp_list_t l, int64_t i) {
  return simple(&l.ref, MK_LIST, OP_L_DEL, NULL, NULL, 0, i, NULL,
                "mpmp_list_del");
}

MPMP_API int mpmp_list_contains(mpmp_list_t l, const void *value,
                                size_t size) {
  return simple(&l.ref, MK_LIST, OP_L_CONTAINS, NULL, value, size, 0, NULL,
                "mpmp_list_contains");
}

MPMP_API int mpmp_list_count(mpmp_list_t l, const void *value, size_t size,
                             size_t *count) {
  const char *fn = "mpmp_list_count";
  if (count == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the count pointer is NULL", fn);
  int64_t r0 = 0;
  int rc = simple(&l.ref, MK_LIST, OP_L_COUNT, NULL, value, size, 0, &r0, fn);
  if (rc >= 0)
    *count = (size_t)r0;
  return rc;
}

MPMP_API int mpmp_list_index(mpmp_list_t l, const void *value, size_t size,
                             int64_t start, int64_t stop, size_t *index) {
  const char *fn = "mpmp_list_index";
  if (index == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the index pointer is NULL", fn);
  int64_t r0 = 0;
  int rc = simple_ij(&l.ref, MK_LIST, OP_L_INDEX, NULL, value, size, start,
                     stop, &r0, fn);
  if (rc >= 0)
    *index = (size_t)r0;
  return rc;
}

MPMP_API int mpmp_list_remove(mpmp_list_t l, const void *value, size_t size) {
  return simple(&l.ref, MK_LIST, OP_L_REMOVE, NULL, value, size, 0, NULL,
                "mpmp_list_remove");
}

MPMP_API int mpmp_list_reverse(mpmp_list_t l) {
  return simple(&l.ref, MK_LIST, OP_L_REVERSE, NULL, NULL, 0, 0, NULL,
                "mpmp_list_reverse");
}

MPMP_API int mpmp_list_clear(mpmp_list_t l) {
  return simple(&l.ref, MK_LIST, OP_L_CLEAR, NULL, NULL, 0, 0, NULL,
                "mpmp_list_clear");
}

MPMP_API int mpmp_list_sort(mpmp_list_t l, int order) {
  return simple(&l.ref, MK_LIST, OP_L_SORT, NULL, NULL, 0, order, NULL,
                "mpmp_list_sort");
}

/* Namespace */

MPMP_API int mpmp_namespace_create(mpmp_manager_t m, mpmp_namespace_t *ns) {
  return create(m, MK_NS, ns ? &ns->ref : NULL, "mpmp_namespace_create");
}

MPMP_API int mpmp_namespace_free(mpmp_namespace_t ns) {
  return simple(&ns.ref, MK_NS, OP_FREE, NULL, NULL, 0, 0, NULL,
                "mpmp_namespace_free");
}

MPMP_API int mpmp_namespace_set(mpmp_namespace_t ns, const char *name,
                                const void *value, size_t size) {
  const char *fn = "mpmp_namespace_set";
  if (name == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the name is NULL", fn);
  return simple(&ns.ref, MK_NS, OP_D_SET, name, value, size, 0, NULL, fn);
}

MPMP_API int mpmp_namespace_get(mpmp_namespace_t ns, const char *name,
                                void *buf, size_t cap, size_t *size) {
  const char *fn = "mpmp_namespace_get";
  if (name == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the name is NULL", fn);
  int rc = get_value(&ns.ref, MK_NS, OP_D_GET, name, 0, 0, buf, cap, NULL,
                     size, fn);
  return rc < 0 ? rc : 0;
}

MPMP_API int mpmp_namespace_get_alloc(mpmp_namespace_t ns, const char *name,
                                      void **value, size_t *size) {
  const char *fn = "mpmp_namespace_get_alloc";
  if (name == NULL || value == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the %s is NULL", fn,
                     name ? "value pointer" : "name");
  int rc = get_value(&ns.ref, MK_NS, OP_D_GET, name, 0, 0, NULL, 0, value,
                     size, fn);
  return rc < 0 ? rc : 0;
}

MPMP_API int mpmp_namespace_del(mpmp_namespace_t ns, const char *name) {
  const char *fn = "mpmp_namespace_del";
  if (name == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the name is NULL", fn);
  return simple(&ns.ref, MK_NS, OP_D_DEL, name, NULL, 0, 0, NULL, fn);
}

MPMP_API int mpmp_namespace_has(mpmp_namespace_t ns, const char *name) {
  const char *fn = "mpmp_namespace_has";
  if (name == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the name is NULL", fn);
  return simple(&ns.ref, MK_NS, OP_D_CONTAINS, name, NULL, 0, 0, NULL, fn);
}

/* ---- shared objects owned by the manager --------------------------------- */

/* manager.Queue() & co.: the server creates the plain object and owns it;
 * the answer is its handle. */
static int create_owned(mpmp_manager_t m, int kind, const oparams_t *p,
                        mpmp_ref_t *out, const char *fn) {
  if (out == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the handle pointer is NULL", fn);
  memset(out, 0, sizeof *out);
  int rc = check_ref(&m.ref, MK_MANAGER, fn);
  if (rc < 0)
    return rc;
  mreq_t q = {.op = OP_NEW_OWNED, .ref = m.ref, .i = kind,
              .out_max = sizeof *out};
  mpmp_ref_t got;
  mcall_t c;
  call_register(&c, OUT_COPY, &got, sizeof got);
  rc = call(&q, NULL, p, sizeof *p, &c, fn);
  if (rc < 0)
    return rc;
  if (c.data_len != sizeof got)
    return mpmp__err(MPMP_EMISMATCH, "%s: a malformed answer from the "
                     "server", fn);
  *out = got;
  return 0;
}

/* An owned Queue or JoinableQueue. */
static int create_queue(mpmp_manager_t m, int kind, mpmp_queue_t *q,
                        size_t maxsize, size_t max_item, const char *fn) {
  oparams_t p = {.maxsize = maxsize, .max_item = max_item};
  return create_owned(m, kind, &p, q ? &q->ref : NULL, fn);
}

/* An owned object whose create call takes no arguments. */
static int create_bare(mpmp_manager_t m, int kind, mpmp_ref_t *out,
                       const char *fn) {
  oparams_t p = {0};
  return create_owned(m, kind, &p, out, fn);
}

MPMP_API int mpmp_manager_queue(mpmp_manager_t m, mpmp_queue_t *q,
                                size_t maxsize, size_t max_item) {
  return create_queue(m, OK_QUEUE, q, maxsize, max_item,
                      "mpmp_manager_queue");
}

MPMP_API int mpmp_manager_joinable_queue(mpmp_manager_t m, mpmp_queue_t *q,
                                         size_t maxsize, size_t max_item) {
  return create_queue(m, OK_JQUEUE, q, maxsize, max_item,
                      "mpmp_manager_joinable_queue");
}

MPMP_API int mpmp_manager_lock(mpmp_manager_t m, mpmp_lock_t *lock) {
  return create_bare(m, OK_LOCK, lock ? &lock->ref : NULL,
                     "mpmp_manager_lock");
}

MPMP_API int mpmp_manager_rlock(mpmp_manager_t m, mpmp_lock_t *lock) {
  return create_bare(m, OK_RLOCK, lock ? &lock->ref : NULL,
                     "mpmp_manager_rlock");
}

MPMP_API int mpmp_manager_event(mpmp_manager_t m, mpmp_event_t *ev) {
  return create_bare(m, OK_EVENT, ev ? &ev->ref : NULL, "mpmp_manager_event");
}

MPMP_API int mpmp_manager_value(mpmp_manager_t m, mpmp_value_t *v,
                                mpmp_type_t type, const void *init,
                                int lock) {
  oparams_t p = {.type = (uint32_t)type, .lock = lock,
                 .has_init = init != NULL};
  size_t n = mpmp_type_size(type); /* 0 for a bad type: the server says */
  int rc = init != NULL && n > 0
               ? mpmp__check_extent(init, 1, n, "the initial value",
                                    "mpmp_manager_value")
               : 0;
  if (rc < 0) {
    if (v != NULL)
      *v = (mpmp_value_t){0}; /* (a failed create leaves no handle) */
    return rc;
  }
  if (init != NULL && n <= sizeof p.init)
    memcpy(p.init, init, n);
  return create_owned(m, OK_VALUE, &p, v ? &v->ref : NULL,
                      "mpmp_manager_value");
}
