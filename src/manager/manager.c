/*
 * Manager: dicts, lists and Namespaces held by a server rank (Python's
 * multiprocessing.Manager).
 *
 * The server. mpmp_manager_start() runs an internal task
 * (mpmp__manager_server) as a daemon Process on a free worker rank. The
 * body makes an empty manager in that rank's own memory, tells the main
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
 * Wire format (version MGR_MAGIC): a request is mreq_t, then the key bytes,
 * then the value bytes; a reply is mrep_t, then an error message (msg_len
 * bytes with its NUL) or the data. Several keys/values (update, extend,
 * keys, items, slices) travel as records: two uint64 (key and value
 * length), the key and a NUL padded to 8 bytes, the value padded to 8.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mgr.h"
#include "parallel.h"

#define MGR_MAGIC 0x3152474du /* "MGR1": bump with any change below */

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
  OP_MAX
};

#define F_MISSING_OK 1u

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
  pthread_mutex_t main_lock;
  mrec_t *recs;
  int nrecs, recs_cap, started;
} M = {.calls_lock = PTHREAD_MUTEX_INITIALIZER,
       .srv_lock = PTHREAD_MUTEX_INITIALIZER,
       .main_lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- handles ------------------------------------------------------------- */


static uint32_t mref_tag(const mpmp_mref_t *r) {
  uint64_t h = mpmp__mix64(mpmp__rt.obj_secret ^ 0x6d616e61676572ULL ^ r->mgr);
  h = mpmp__mix64(h ^ r->obj * 0x9e3779b97f4a7c15ULL);
  h ^= ((uint64_t)(uint32_t)r->rank << 32 | (uint64_t)r->kind << 16 |
        r->zero) * 0xc2b2ae3d27d4eb4fULL;
  return (uint32_t)(mpmp__mix64(h) >> 32);
}

static void make_ref(mpmp_mref_t *r, uint64_t mgr, uint64_t obj, int rank,
                     int kind) {
  memset(r, 0, sizeof *r);
  r->mgr = mgr;
  r->obj = obj;
  r->rank = rank;
  r->kind = (uint16_t)kind;
  r->tag = mref_tag(r);
}

/* 0, or EBADF with a message naming fn. */
static int ref_check(const mpmp_mref_t *r, int kind, const char *fn) {
  static const mpmp_mref_t zero;
  if (memcmp(r, &zero, sizeof zero) == 0)
    return mpmp__err(MPMP_EBADF, "%s: the handle was never created (all "
                     "zeros?)", fn);
  if (r->tag != mref_tag(r) || r->zero != 0 || r->pad != 0 || r->mgr == 0 ||
      r->rank <= 0 || r->rank >= mpmp__net.size || r->kind == 0 ||
      r->kind >= MK_MAX || (r->kind == MK_MANAGER) != (r->obj == 0))
    return mpmp__err(MPMP_EBADF, "%s: not a Manager handle made by mpmp in "
                     "this job (garbage or corrupted bytes)", fn);
  if (r->kind != kind)
    return mpmp__err(MPMP_EBADF, "%s: this is the handle of a %s, not of a "
                     "%s", fn, kind_name(r->kind), kind_name(kind));
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
  char msg[320];
};

static void call_register(mcall_t *c, int mode, void *buf, size_t cap) {
  memset(c, 0, sizeof *c);
  c->mode = mode;
  c->buf = buf;
  c->cap = cap;
  c->cookie = ((atomic_fetch_add(&M.next_cookie, 1) + 1) & MPMP__COOKIE_MASK) |
              mpmp__net.host_cookie; /* in a task host: its mark */
  pthread_mutex_lock(&M.calls_lock);
  c->next = M.calls;
  M.calls = c;
  pthread_mutex_unlock(&M.calls_lock);
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
  pthread_mutex_lock(&M.calls_lock);
  call_unlink_locked(c);
  pthread_mutex_unlock(&M.calls_lock);
}

/*
 * Send the request `msg` (mreq_t `q` then `extra` bytes; owned, freed by
 * the transport) to the server and wait for the answer in c (registered).
 */
static int call_send(const mreq_t *q, char *msg, size_t extra, mcall_t *c,
                     const char *fn) {
  mreq_t h = *q;
  h.magic = MGR_MAGIC;
  h.cookie = c->cookie;
  memcpy(msg, &h, sizeof h);
  int rc = mpmp__send_nb(q->ref.rank, MPMP__TAG_MGR_REQ, msg, sizeof h + extra);
  if (rc == 0)
    rc = mpmp__wait_until(call_done, c,
                          mpmp__now() + MPMP_MANAGER_TIMEOUT);
  if (rc < 0) {
    pthread_mutex_lock(&M.calls_lock);
    int registered = call_unlink_locked(c);
    pthread_mutex_unlock(&M.calls_lock);
    if (registered) { /* no answer: a late one is dropped */
      if (rc == MPMP_ETIMEDOUT)
        return mpmp__err(rc, "%s: the Manager's server (rank %d) did not "
                         "answer within %g s", fn, q->ref.rank,
                         MPMP_MANAGER_TIMEOUT);
      char m[256];
      snprintf(m, sizeof m, "%s", mpmp_errmsg());
      return mpmp__err(rc, "%s: could not reach the Manager's server (rank "
                       "%d): %s", fn, q->ref.rank, m);
    }
    /* answered just as we gave up: take the answer */
  }
  if (c->rc < 0)
    return mpmp__err(c->rc, "%s: %s", fn,
                     c->msg[0] ? c->msg : mpmp_strerror(c->rc));
  return c->rc;
}

/*
 * One call with a key and a value (either may be absent). The answer's
 * data goes to (buf, cap) for OUT_COPY, stays in c->taken for OUT_TAKE.
 */
static int call(const mreq_t *q, const char *key, const void *val,
                size_t vlen, mcall_t *c, const char *fn) {
  size_t klen = key ? strlen(key) : 0;
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

static int check_value(const void *v, size_t size, const char *fn) {
  if (v == NULL && size > 0)
    return mpmp__err(MPMP_EINVAL, "%s: the value is NULL (with size %zu)", fn,
                     size);
  if (size > MPMP_MANAGER_MAX_VALUE)
    return mpmp__err(MPMP_EMSGSIZE, "%s: a value of %zu bytes is larger than "
                     "MPMP_MANAGER_MAX_VALUE (%zu bytes)", fn, size,
                     MPMP_MANAGER_MAX_VALUE);
  return 0;
}

static int check_out(const void *buf, size_t cap, const char *fn) {
  if (buf == NULL && cap > 0)
    return mpmp__err(MPMP_EINVAL, "%s: the buffer is NULL (with capacity "
                     "%zu)", fn, cap);
  return 0;
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

typedef struct dent {
  char *key; /* NULL: deleted */
  uint32_t klen;
  uint64_t hash;
  mval_t v;
} dent_t;

#define SLOT_EMPTY (-1)
#define SLOT_DUMMY (-2)

/* A dict keeps its entries in insertion order (as Python's does) and
 * indexes them with an open-addressing table (linear probing). */
typedef struct mdict {
  dent_t *e;
  size_t n, cap, live;
  int64_t *idx;  /* entry index, SLOT_EMPTY or SLOT_DUMMY */
  size_t mask;   /* index size - 1 */
  size_t used;   /* non-empty index slots */
} mdict_t;

typedef struct mlist {
  mval_t *v;
  size_t n, cap;
} mlist_t;

typedef struct mobj {
  int kind;
  union {
    mdict_t d; /* dict, Namespace */
    mlist_t l;
  } u;
} mobj_t;

struct smgr {
  smgr_t *next;
  uint64_t id;
  _Atomic int stop;
  mobj_t **objs; /* object id = index + 1; NULL: freed */
  size_t nobjs, cap;
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

/* The entry of key, or SIZE_MAX; *slot: its index slot, or where to
 * insert it. */
static size_t dict_find(const mdict_t *d, const char *k, size_t kl,
                        uint64_t h, size_t *slot) {
  *slot = SIZE_MAX;
  if (d->idx == NULL)
    return SIZE_MAX;
  size_t i = h & d->mask;
  for (;;) {
    int64_t e = d->idx[i];
    if (e == SLOT_EMPTY) {
      if (*slot == SIZE_MAX)
        *slot = i;
      return SIZE_MAX;
    }
    if (e == SLOT_DUMMY) {
      if (*slot == SIZE_MAX)
        *slot = i;
    } else {
      const dent_t *x = &d->e[e];
      if (x->hash == h && x->klen == kl && memcmp(x->key, k, kl) == 0) {
        *slot = i;
        return (size_t)e;
      }
    }
    i = (i + 1) & d->mask;
  }
}

/* Compact the entries and rebuild the index for `want` entries. */
static int dict_rebuild(mdict_t *d, size_t want) {
  size_t cap = want * 2 > 8 ? want * 2 : 8;
  size_t size = 16;
  while (size < cap + cap / 2)
    size *= 2;
  dent_t *e = mpmp__malloc(cap * sizeof *e);
  int64_t *idx = mpmp__malloc(size * sizeof *idx);
  if (e == NULL || idx == NULL) {
    mpmp__free(e);
    mpmp__free(idx);
    return mpmp__err(MPMP_ENOMEM, "the server is out of memory for a dict "
                     "of %zu keys", want);
  }
  for (size_t i = 0; i < size; i++)
    idx[i] = SLOT_EMPTY;
  size_t n = 0;
  for (size_t i = 0; i < d->n; i++) {
    if (d->e[i].key == NULL)
      continue;
    size_t s = d->e[i].hash & (size - 1);
    while (idx[s] != SLOT_EMPTY)
      s = (s + 1) & (size - 1);
    idx[s] = (int64_t)n;
    e[n++] = d->e[i];
  }
  mpmp__free(d->e);
  mpmp__free(d->idx);
  d->e = e;
  d->n = d->live = d->used = n;
  d->cap = cap;
  d->idx = idx;
  d->mask = size - 1;
  return 0;
}

static int dict_set(mdict_t *d, const char *k, size_t kl, const void *v,
                    size_t vlen) {
  uint64_t h = key_hash(k, kl);
  size_t slot, e = dict_find(d, k, kl, h, &slot);
  if (e != SIZE_MAX)
    return val_set(&d->e[e].v, v, vlen);
  dent_t x = {.klen = (uint32_t)kl, .hash = h};
  x.key = mpmp__malloc(kl + 1);
  if (x.key == NULL || val_set(&x.v, v, vlen) < 0) {
    mpmp__free(x.key);
    return mpmp__err(MPMP_ENOMEM, "the server is out of memory for a new "
                     "key of %zu bytes and its %zu-byte value", kl, vlen);
  }
  memcpy(x.key, k, kl);
  x.key[kl] = '\0';
  if (d->idx == NULL || d->n == d->cap ||
      (d->used + 1) * 3 > (d->mask + 1) * 2) {
    int rc = dict_rebuild(d, d->live + 1);
    if (rc < 0) {
      mpmp__free(x.key);
      val_free(&x.v);
      return rc;
    }
    dict_find(d, k, kl, h, &slot);
  }
  if (d->idx[slot] == SLOT_EMPTY)
    d->used++;
  d->idx[slot] = (int64_t)d->n;
  d->e[d->n++] = x;
  d->live++;
  return 0;
}

static void dict_clear(mdict_t *d) {
  for (size_t i = 0; i < d->n; i++)
    if (d->e[i].key != NULL) {
      mpmp__free(d->e[i].key);
      val_free(&d->e[i].v);
    }
  mpmp__free(d->e);
  mpmp__free(d->idx);
  memset(d, 0, sizeof *d);
}

static void dict_remove(mdict_t *d, size_t e, size_t slot) {
  mpmp__free(d->e[e].key);
  val_free(&d->e[e].v);
  d->e[e].key = NULL;
  d->idx[slot] = SLOT_DUMMY;
  if (--d->live == 0)
    dict_clear(d);
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
  else
    dict_clear(&o->u.d);
  mpmp__free(o);
}

static void smgr_free_objects(smgr_t *m) {
  for (size_t i = 0; i < m->nobjs; i++)
    obj_free(m->objs[i]);
  mpmp__free(m->objs);
  m->objs = NULL;
  m->nobjs = m->cap = 0;
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
} sreq_t;

/* Room for n bytes of answer data in *out. */
static int rep_data(sreq_t *s, size_t n, char **out) {
  if (n > MPMP_MANAGER_MAX_MESSAGE)
    return mpmp__err(MPMP_EMSGSIZE, "the answer would take %zu bytes, more "
                     "than MPMP_MANAGER_MAX_MESSAGE (%zu)", n,
                     MPMP_MANAGER_MAX_MESSAGE);
  s->rep = mpmp__malloc(sizeof(mrep_t) + n);
  if (s->rep == NULL)
    return mpmp__err(MPMP_ENOMEM, "the server is out of memory for a "
                     "%zu-byte answer", n);
  s->dlen = n;
  *out = s->rep + sizeof(mrep_t);
  return 0;
}

static int rep_value(sreq_t *s, const mval_t *v) {
  char *p = NULL;
  s->r0 = (int64_t)v->len;
  if (v->len > s->q->out_max)
    return mpmp__err(MPMP_EMSGSIZE, "the value takes %zu bytes, more than "
                     "the %llu-byte buffer (nothing was lost)", v->len,
                     (unsigned long long)s->q->out_max);
  int rc = rep_data(s, v->len, &p);
  if (rc == 0 && v->len)
    memcpy(p, v->p, v->len);
  return rc;
}

static int missing(const sreq_t *s, int kind) {
  if (kind == MK_NS)
    return mpmp__err(MPMP_EINVAL, "the Namespace has no attribute '%.*s' "
                     "(AttributeError)", (int)s->klen, s->key);
  return mpmp__err(MPMP_EINVAL, "no key '%.*s' in the dict (KeyError)",
                   (int)s->klen, s->key);
}

static int op_dict(sreq_t *s, mobj_t *o) {
  mdict_t *d = &o->u.d;
  const mreq_t *q = s->q;
  size_t slot, e = SIZE_MAX;
  int rc;
  switch (q->op) {
  case OP_D_SET:
    return dict_set(d, s->key, s->klen, s->val, s->vlen);
  case OP_D_LEN:
    s->r0 = (int64_t)d->live;
    return 0;
  case OP_D_CLEAR:
    dict_clear(d);
    return 0;
  case OP_D_KEYS:
  case OP_D_ITEMS: {
    int vals = q->op == OP_D_ITEMS;
    size_t total = 0;
    for (size_t i = 0; i < d->n; i++)
      if (d->e[i].key)
        total += rec_size(1, vals, d->e[i].klen, d->e[i].v.len);
    char *at = NULL;
    if ((rc = rep_data(s, total, &at)) < 0)
      return rc;
    for (size_t i = 0; i < d->n; i++)
      if (d->e[i].key)
        at = rec_put(at, 1, vals, d->e[i].key, d->e[i].klen, d->e[i].v.p,
                     d->e[i].v.len);
    s->r0 = (int64_t)d->live;
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
    at = s->val;
    for (uint64_t i = 0; i < (uint64_t)q->i; i++) {
      rec_get(&at, end, 1, 1, &k, &kl, &v, &vl);
      if ((rc = dict_set(d, k, kl, v, vl)) < 0)
        return rc;
    }
    return 0;
  }
  default:
    break;
  }
  /* the rest name one key */
  e = dict_find(d, s->key, s->klen, key_hash(s->key, s->klen), &slot);
  if (q->op == OP_D_CONTAINS)
    return e != SIZE_MAX;
  if (e == SIZE_MAX)
    return q->op == OP_D_GET && (q->flags & F_MISSING_OK) ? 0
                                                          : missing(s, o->kind);
  switch (q->op) {
  case OP_D_GET:
    return (rc = rep_value(s, &d->e[e].v)) < 0 ? rc : 1;
  case OP_D_SIZE:
    s->r0 = (int64_t)d->e[e].v.len;
    return 0;
  case OP_D_DEL:
    dict_remove(d, e, slot);
    return 0;
  case OP_D_POP:
    if ((rc = rep_value(s, &d->e[e].v)) < 0)
      return rc;
    dict_remove(d, e, slot);
    return 0;
  default:
    return mpmp__err(MPMP_ENOTSUP, "operation %u is not one of a %s", q->op,
                     kind_name(o->kind));
  }
}

/* Python's index i into a list of n items (insert: up to n). */
static int list_index(const mlist_t *l, int64_t i, int insert, size_t *at) {
  int64_t n = (int64_t)l->n, j = i < 0 ? i + n : i;
  if (j >= 0 && (j < n || (insert && j == n))) {
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
        (rc = rep_value(s, &l->v[at])) < 0)
      return rc;
    if (q->op == OP_L_POP) {
      val_free(&l->v[at]);
      memmove(&l->v[at], &l->v[at + 1], (l->n - at - 1) * sizeof *l->v);
      l->n--;
    }
    return 0;
  case OP_L_SET:
    if ((rc = list_index(l, q->i, 0, &at)) < 0)
      return rc;
    return val_set(&l->v[at], s->val, s->vlen);
  case OP_L_INSERT:
    if ((rc = list_index(l, q->i, 1, &at)) < 0)
      return rc;
    return list_put(l, at, s->val, s->vlen);
  case OP_L_SLICE: {
    int64_t n = (int64_t)l->n, a = q->i, b = q->j;
    a = a < 0 ? (a + n < 0 ? 0 : a + n) : (a > n ? n : a);
    b = b < 0 ? (b + n < 0 ? 0 : b + n) : (b > n ? n : b);
    if (b < a)
      b = a;
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
    m->objs[m->nobjs++] = o;
    s->r0 = (int64_t)m->nobjs;
    return 0;
  }
  default:
    return mpmp__err(MPMP_ENOTSUP, "operation %u is not one of a Manager",
                     q->op);
  }
}

static int op_allowed(int op, int kind) {
  if (op == OP_FREE)
    return kind != MK_MANAGER;
  if (op <= OP_NEW)
    return kind == MK_MANAGER;
  if (op <= OP_D_POP)
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
  return o->kind == MK_LIST ? op_list(s, o) : op_dict(s, o);
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
      MPI_Abort(MPI_COMM_WORLD, 1);
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

static void on_request(int src, void *buf, size_t len) {
  mreq_t q;
  if (len < sizeof q) {
    MPMP__WARN("dropped a malformed Manager request from rank %d", src);
    mpmp__free(buf);
    return;
  }
  memcpy(&q, buf, sizeof q);
  sreq_t s = {.q = &q, .key = (const char *)buf + sizeof q};
  s.klen = q.klen;
  s.val = s.key + (q.klen <= len - sizeof q ? q.klen : 0);
  s.vlen = q.vlen;
  pthread_mutex_lock(&M.srv_lock);
  int rc = serve(&s, len - sizeof q);
  pthread_mutex_unlock(&M.srv_lock);
  send_reply(src, q.cookie, rc, &s);
  mpmp__free(buf);
  atomic_fetch_add_explicit(&M.served, 1, memory_order_release);
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
  mpmp__driver_enter();
  while (!atomic_load(&m->stop) && !mpmp_should_stop(ctx)) {
    w.seen = atomic_load_explicit(&M.served, memory_order_acquire);
    mpmp__wait_until(srv_wake, &w, INFINITY);
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
  if ((rc = rec_add(id, p, rank)) < 0) {
    mrec_t r = {id, p, rank, 1};
    stop_server(&r, "mpmp_manager_start");
    return rc;
  }
  make_ref(&m->ref, id, 0, rank, MK_MANAGER);
  return 0;
}

/* Shut the server of r down and join it (main_lock held or r private). */
static int stop_server(mrec_t *r, const char *fn) {
  mreq_t q = {.op = OP_SHUTDOWN};
  make_ref(&q.ref, r->id, 0, r->rank, MK_MANAGER);
  mcall_t c;
  call_register(&c, OUT_NONE, NULL, 0);
  int rc = call(&q, NULL, NULL, 0, &c, fn);
  if (rc == MPMP_EDEAD)
    rc = 0; /* it was gone already */
  if (rc < 0)
    mpmp_process_terminate(r->proc); /* the body stops on its flag */
  int jrc = mpmp_process_join(r->proc, MPMP_MANAGER_TIMEOUT);
  if (jrc == 0) {
    mpmp_process_destroy(r->proc);
    r->proc = NULL;
  } else if (rc == 0) {
    rc = mpmp__err(jrc, "%s: the Manager's server (rank %d) did not end "
                   "within %g s", fn, r->rank, MPMP_MANAGER_TIMEOUT);
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
  pthread_mutex_lock(&M.main_lock);
  mrec_t *r = rec_find(m.ref.mgr);
  if (r == NULL)
    rc = mpmp__err(MPMP_EBADF, "%s: no Manager with this handle was started "
                   "in this job", fn);
  else if (r->alive)
    rc = stop_server(r, fn);
  pthread_mutex_unlock(&M.main_lock);
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

/* A call that returns nothing but rc and r0. */
static int simple(const mpmp_mref_t *ref, int kind, int op, const char *key,
                  const void *val, size_t vlen, int64_t i, int64_t *r0,
                  const char *fn) {
  int rc = check_ref(ref, kind, fn);
  if (rc < 0 || (key && (rc = check_key(key, fn)) < 0) ||
      (rc = check_value(val, vlen, fn)) < 0)
    return rc;
  mreq_t q = {.op = (uint32_t)op, .ref = *ref, .i = i};
  mcall_t c;
  call_register(&c, OUT_NONE, NULL, 0);
  rc = call(&q, key, val, vlen, &c, fn);
  if (rc >= 0 && r0)
    *r0 = c.r0;
  return rc;
}

/* A call whose answer is a value: into (buf, cap), or malloc()ed. */
static int get_value(const mpmp_mref_t *ref, int kind, int op, const char *key,
                     int64_t i, uint32_t flags, void *buf, size_t cap,
                     void **alloc, size_t *size, const char *fn) {
  int rc = check_ref(ref, kind, fn);
  if (rc < 0 || (key && (rc = check_key(key, fn)) < 0) ||
      (rc = check_out(buf, cap, fn)) < 0)
    return rc;
  if (alloc != NULL)
    *alloc = NULL;
  mreq_t q = {.op = (uint32_t)op, .ref = *ref, .i = i, .flags = flags,
              .out_max = alloc ? UINT64_MAX : cap};
  mcall_t c;
  call_register(&c, alloc ? OUT_TAKE : OUT_COPY, buf, cap);
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
  int64_t id = 0;
  int rc = simple(&m.ref, MK_MANAGER, OP_NEW, NULL, NULL, 0, kind, &id, fn);
  if (rc < 0)
    return rc;
  make_ref(out, m.ref.mgr, (uint64_t)id, m.ref.rank, kind);
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

MPMP_API int mpmp_dict_get_or(mpmp_dict_t d, const char *key, void *buf,
                              size_t cap, size_t *size, const void *def,
                              size_t def_size) {
  const char *fn = "mpmp_dict_get_or";
  if (key == NULL || (def == NULL && def_size > 0))
    return mpmp__err(MPMP_EINVAL, "%s: the %s is NULL", fn,
                     key ? "default" : "key");
  int rc = get_value(&d.ref, MK_DICT, OP_D_GET, key, 0, F_MISSING_OK, buf,
                     cap, NULL, size, fn);
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
