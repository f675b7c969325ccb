/*
 * The checkpoint journal of one map (MPMP_CHECKPOINT=DIR, or a pool's
 * `checkpoint` option): a file DIR/map-NNNN.mpmpj, NNNN the map's place
 * in the program's order of checkpointed maps. Only the main rank writes
 * it (every result comes through it), so the directory need not be shared
 * by the nodes.
 *
 * Layout: a header that names the map (kind, task name, item count,
 * element sizes, imap chunk size, a digest of the whole input), then one
 * record per chunk whose results reached the main rank:
 *
 *   rec_t | count * out_size result bytes | failures | pending indices
 *
 * (A map over variable-size items, kind MAP_VAR, has var_len result
 * bytes instead: the chunk's results as they came back, count sizes and
 * then their bytes, proto.h; its digest covers its items' sizes too.)
 *
 * A failure is jfail_t + its message; "pending" lists items of the range
 * that did not finish (their host died and they are dealt again, or the
 * map was stopped): a rerun runs them. The header and each record carry
 * a checksum of their own fields, and each record one of its payload.
 *
 * Crash consistency: records are appended with one writev() each, after
 * their results landed in the caller's output. A process killed at any
 * moment leaves whole records and at most one torn one at the end, which
 * open() cuts off (its header or payload runs past the end of the file);
 * a record whose payload checksum fails (a node that lost power) is left
 * out at replay and its items run again. Records reach the page cache at
 * once, which outlives the process; fdatasync() runs when a map is
 * interrupted (mpmp__journal_sync), not per record, which would cost a
 * disk round trip per chunk.
 *
 * Reading: open() reads the record headers only (pread, seeking over the
 * payloads); a map's replay reads each payload once, its results straight
 * into the caller's output, so resuming costs one read of the journal.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "parallel.h"
#include "proto.h"

#define HEAD_MAGIC "MPMPJRN1"
#define REC_MAGIC 0x4352504du /* "MPRC" */
#define VERSION 1

typedef struct head {
  char magic[8];
  uint32_t version, kind;
  /* 0: the digest is not written yet; else 1 | the journal's nonce << 1
   * (journals before the nonce: 1) */
  uint32_t sealed;
  uint32_t task_hash; /* a task name too long for task[]: a hash of it
                         (0: none; journals before it had 0 here) */
  uint64_t n, in_size, out_size, chunk, digest;
  char task[64];
  uint64_t sum; /* of everything above */
} head_t;

typedef struct rec {
  uint32_t magic, count;
  uint64_t first, fails_len, psum, in_digest;
  uint32_t nfail, npend;
  int32_t rank;
  uint32_t var_len; /* MAP_VAR: its result bytes (a chunk's are < 1 GiB) */
  uint64_t sum; /* of everything above */
} rec_t;

typedef struct jfail {
  uint64_t index;
  int32_t code;
  uint32_t len;
} jfail_t;

typedef struct entry {
  off_t off; /* of the payload */
  rec_t r;
} entry_t;

struct mpmp__journal {
  pthread_mutex_t lock;
  _Atomic int refs;
  int fd, broken;
  int unsealed;       /* a new map journal: its digest comes in seal() */
  /* 31 random bits of this journal, in its records' checksums: a record
   * of another journal (of the same shape) never checks here, so a scan
   * may look past a damaged record for the next one (0: a journal made
   * before the nonce; a scan then stops at damage, as it did) */
  uint32_t nonce;
  const void *input;  /* the map's items, for the digest */
  size_t input_len;
  char *path;
  head_t head;
  size_t out_size;
  const size_t *var_off; /* MAP_VAR: the items' offsets, for the digest */
  entry_t *ents;
  size_t nents, cap;
  /* the entries in the order of their first item (ties: file order),
   * made at the first replay (under lock), and the most items a record
   * holds: a replay of items [base, base + n) finds its records by a
   * binary search instead of reading every entry */
  struct order {
    uint64_t first;
    size_t e;
  } *order;
  uint64_t max_count;
};

/* ---- the hash (64-bit, four lanes of multiply-rotate; ~10 GB/s) ------- */

#define P1 0x9E3779B185EBCA87ull
#define P2 0xC2B2AE3D27D4EB4Full
#define P3 0x165667B19E3779F9ull
#define P4 0x85EBCA77C2B2AE63ull
#define P5 0x27D4EB2F165667C5ull

static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static uint64_t round64(uint64_t acc, uint64_t in) {
  return rotl(acc + in * P2, 31) * P1;
}
static uint64_t merge64(uint64_t acc, uint64_t v) {
  return (acc ^ round64(0, v)) * P1 + P4;
}
static uint64_t read64(const unsigned char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

uint64_t mpmp__hash64(const void *data, size_t len, uint64_t seed) {
  const unsigned char *p = data, *end = p + len;
  uint64_t h;
  if (len >= 32) {
    uint64_t v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
    const unsigned char *limit = end - 32;
    do {
      v1 = round64(v1, read64(p));
      v2 = round64(v2, read64(p + 8));
      v3 = round64(v3, read64(p + 16));
      v4 = round64(v4, read64(p + 24));
      p += 32;
    } while (p <= limit);
    h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
    h = merge64(merge64(merge64(merge64(h, v1), v2), v3), v4);
  } else {
    h = seed + P5;
  }
  h += (uint64_t)len;
  for (; p + 8 <= end; p += 8)
    h = rotl(h ^ round64(0, read64(p)), 27) * P1 + P4;
  for (; p < end; p++)
    h = rotl(h ^ (*p * P5), 11) * P1;
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  return h ^ (h >> 32);
}

/* ---- files ---------------------------------------------------------------- */

static int io_err(const mpmp__journal_t *j, const char *what, const char *fn) {
  return mpmp__err(MPMP_ECHECKPOINT, "%s: checkpoint journal %s: %s: %s", fn,
                   j->path, what, strerror(errno));
}

static int read_at(int fd, void *buf, size_t len, off_t off) {
  char *p = buf;
  while (len > 0) {
    ssize_t got = pread(fd, p, len, off);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      return -1;
    p += got;
    off += got;
    len -= (size_t)got;
  }
  return 0;
}

static int write_all(int fd, struct iovec *iov, int n) {
  while (n > 0) {
    ssize_t put = writev(fd, iov, n);
    if (put < 0 && errno == EINTR)
      continue;
    if (put < 0)
      return -1;
    while (n > 0 && (size_t)put >= iov->iov_len) {
      put -= (ssize_t)iov->iov_len;
      iov++;
      n--;
    }
    if (n > 0) {
      iov->iov_base = (char *)iov->iov_base + put;
      iov->iov_len -= (size_t)put;
    }
  }
  return 0;
}

static int add_entry(mpmp__journal_t *j, off_t off, const rec_t *r) {
  if (j->nents == j->cap) {
    size_t cap = j->cap ? 2 * j->cap : 64;
    entry_t *e = mpmp__realloc(j->ents, cap * sizeof *e);
    if (e == NULL)
      return mpmp__err(MPMP_ENOMEM, "out of memory for a journal index");
    j->ents = e;
    j->cap = cap;
  }
  j->ents[j->nents++] = (entry_t){off, *r};
  return 0;
}

static uint64_t rec_sum(const mpmp__journal_t *j, const rec_t *r) {
  return mpmp__hash64(r, offsetof(rec_t, sum), 0x5EC0 ^ (uint64_t)j->nonce);
}

/* The bytes of a record's results. */
static int is_var(const mpmp__journal_t *j) {
  return j->head.kind == MPMP__JOURNAL_MAP_VAR ||
         j->head.kind == MPMP__JOURNAL_IMAP_VAR;
}

static uint64_t res_bytes(const mpmp__journal_t *j, const rec_t *r) {
  return is_var(j) ? r->var_len : (uint64_t)r->count * j->out_size;
}

uint64_t mpmp__hash_sizes(const size_t *off, size_t n, uint64_t h) {
  for (size_t i = 0; i < n; i++)
    h = rotl(h ^ round64(0, off[i + 1] - off[i]), 27) * P1 + P4;
  return h;
}

/* The digest of a map's input: its items' bytes, and a variable-size
 * map's item sizes (not their offsets: the same items elsewhere in
 * memory are the same map). */
static uint64_t input_digest(const mpmp__journal_t *j) {
  uint64_t h = mpmp__hash64(j->input, j->input_len, 0x1A);
  return j->var_off ? mpmp__hash_sizes(j->var_off, (size_t)j->head.n, h) : h;
}

static uint64_t payload_len(const mpmp__journal_t *j, const rec_t *r) {
  return res_bytes(j, r) + r->fails_len + (uint64_t)r->npend * 8;
}

/* The offset of the first whole record after the damaged record header
 * at `off`, or -1: none (the damage is the torn end of a killed run,
 * or another journal's header follows: records after it are another
 * map's). A record's header carries its own checksum: one that checks
 * is a record's (a payload is checked at replay). */
static off_t resync(mpmp__journal_t *j, off_t off, off_t size) {
  size_t cap = (size_t)1 << 20;
  char *buf = mpmp__malloc(cap);
  off_t found = -1;
  for (off_t at = off; /* (the record at off fails again) */
       buf != NULL && found < 0 && at + (off_t)sizeof(rec_t) <= size;) {
    size_t want = (uint64_t)(size - at) < cap ? (size_t)(size - at) : cap;
    if (read_at(j->fd, buf, want, at) < 0)
      break;
    for (size_t i = 0; i + sizeof(rec_t) <= want; i++) {
      uint32_t m;
      memcpy(&m, buf + i, sizeof m);
      if (memcmp(buf + i, HEAD_MAGIC, 8) == 0) {
        at = size; /* another journal's header (files put together): */
        break;     /* its records are not this map's */
      }
      if (m != REC_MAGIC)
        continue;
      rec_t r;
      memcpy(&r, buf + i, sizeof r);
      if (r.sum == rec_sum(j, &r) &&
          payload_len(j, &r) <=
              (uint64_t)(size - at - (off_t)i - (off_t)sizeof r)) {
        found = at + (off_t)i;
        break;
      }
    }
    if (at < size)
      at += (off_t)(want - sizeof(rec_t) + 1);
  }
  mpmp__free(buf);
  return found;
}

/* Read every record header; cut the file after the last whole one. A
 * damaged header (a bad sector, a bit flipped) is passed over to the
 * next whole record: cutting the file there (as at a torn end) threw
 * away every record after it, which the README promises to keep ("a
 * record whose bytes are damaged is left out (its items run again)"). */
static int scan(mpmp__journal_t *j, off_t size, const char *fn) {
  off_t off = sizeof(head_t);
  for (;;) {
    rec_t r;
    if (off + (off_t)sizeof r > size || read_at(j->fd, &r, sizeof r, off) < 0)
      break;
    uint64_t plen = payload_len(j, &r);
    if (r.magic != REC_MAGIC || r.sum != rec_sum(j, &r)) {
      off_t next = j->nonce != 0 ? resync(j, off, size) : -1;
      if (next < 0)
        break; /* torn: the last write of a killed run */
      off = next;
      continue;
    }
    if ((uint64_t)(size - off - (off_t)sizeof r) < plen)
      break; /* torn: the last write of a killed run */
    int rc = add_entry(j, off + (off_t)sizeof r, &r);
    if (rc < 0)
      return rc;
    off += (off_t)sizeof r + (off_t)plen;
  }
  if (off < size && ftruncate(j->fd, off) < 0)
    return io_err(j, "cannot cut off its torn end", fn);
  return lseek(j->fd, off, SEEK_SET) < 0 ? io_err(j, "seek", fn) : 0;
}

static const char *kind_name(uint32_t kind) {
  return kind == MPMP__JOURNAL_IMAP       ? "imap"
         : kind == MPMP__JOURNAL_MAP_VAR  ? "map over variable-size items"
         : kind == MPMP__JOURNAL_IMAP_VAR ? "imap over variable-size items"
                                          : "map";
}

static const char *article(uint32_t kind) {
  return kind == MPMP__JOURNAL_IMAP || kind == MPMP__JOURNAL_IMAP_VAR ? "an"
                                                                      : "a";
}

/* What differs between the journal's map and this one, or NULL. */
static const char *differs(const head_t *a, const head_t *b, char *buf,
                           size_t n) {
  if (a->kind != b->kind)
    snprintf(buf, n, "it is of %s %s, this is %s %s", article(a->kind),
             kind_name(a->kind), article(b->kind), kind_name(b->kind));
  else if (strncmp(a->task, b->task, sizeof a->task))
    snprintf(buf, n, "its task is '%.64s', this map's '%.64s'", a->task,
             b->task);
  else if (a->task_hash != 0 && b->task_hash != 0 &&
           a->task_hash != b->task_hash)
    snprintf(buf, n, "its task is another than this map's, whose name "
             "begins the same ('%.63s...') and differs later", b->task);
  else if (a->n != b->n)
    snprintf(buf, n, "it has %llu items, this map %llu",
             (unsigned long long)a->n, (unsigned long long)b->n);
  else if (a->in_size != b->in_size || a->out_size != b->out_size)
    snprintf(buf, n, "its items and results are %llu and %llu bytes, this "
             "map's %llu and %llu", (unsigned long long)a->in_size,
             (unsigned long long)a->out_size, (unsigned long long)b->in_size,
             (unsigned long long)b->out_size);
  else if (a->chunk != b->chunk)
    snprintf(buf, n, "its chunks are %llu items, this imap's %llu (give "
             "the same chunksize and buffersize)",
             (unsigned long long)a->chunk, (unsigned long long)b->chunk);
  else if (a->digest != b->digest)
    snprintf(buf, n, "its input differs from this map's (digest %016llx, "
             "this one %016llx)", (unsigned long long)a->digest,
             (unsigned long long)b->digest);
  else
    return NULL;
  return buf;
}

static void journal_free(mpmp__journal_t *j) {
  if (j->fd >= 0)
    close(j->fd);
  pthread_mutex_destroy(&j->lock);
  mpmp__free(j->ents);
  mpmp__free(j->order);
  mpmp__free(j->path);
  mpmp__free(j);
}

static uint64_t head_sum(const head_t *h) {
  return mpmp__hash64(h, offsetof(head_t, sum), 0x4EAD);
}

/* A new journal. A map's is written unsealed, without the digest of its
 * input, so that the map starts at once: seal() hashes the input while
 * the workers compute, and writes the header again. A run killed before
 * that leaves an unsealed journal, which the next run starts over. */
#define NO_ROOM 1 /* start_fresh(): the disk is full: no journal */
static int start_fresh(mpmp__journal_t *j, const char *fn) {
  j->unsealed = j->input != NULL;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t seed[3] = {(uint64_t)ts.tv_sec, (uint64_t)ts.tv_nsec,
                      (uint64_t)getpid() ^ (uint64_t)(uintptr_t)j};
  j->nonce = (uint32_t)(mpmp__hash64(seed, sizeof seed, 0x40CE) >> 33) | 1u;
  j->head.sealed = j->unsealed ? 0 : 1u | j->nonce << 1;
  j->head.digest = 0;
  j->head.sum = head_sum(&j->head);
  struct iovec iov = {&j->head, sizeof j->head};
  if (ftruncate(j->fd, 0) < 0 || lseek(j->fd, 0, SEEK_SET) < 0 ||
      write_all(j->fd, &iov, 1) < 0) {
    /* A full disk (or quota) is what a failed append is: a warning, and
     * the map goes on without its journal. It failed the map instead, so
     * that the disk filled by an earlier map's records (which went on)
     * failed every later map at once. */
    if (errno == ENOSPC || errno == EDQUOT)
      return NO_ROOM;
    return io_err(j, "cannot be written", fn);
  }
  j->nents = 0;
  return 0;
}

/* The header with the digest of the input (what a resumed map compares
 * with the journal's). */
static const head_t *sealed_head(mpmp__journal_t *j) {
  head_t *h = &j->head;
  h->digest = j->input ? input_digest(j) : 0;
  h->sealed = 1;
  h->sum = head_sum(h);
  return h;
}

/*
 * The number of the next journal in `dir`: its maps in the order this
 * process starts them, counted per directory (by device and inode, so that
 * two spellings of one directory share their count). The README tells
 * programs that map from several threads at once to give each such pool a
 * directory of its own, and a count shared by all directories broke that:
 * a map's number depended on when the other threads' maps started, so a
 * rerun resumed nothing or found another map's journal. Directories are
 * few (one per checkpointing pool at most): a short list. 0: out of
 * memory, or the directory cannot be looked at (then the open fails).
 */
static unsigned next_ordinal(const char *dir) {
  static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  static struct dir_count {
    dev_t dev;
    ino_t ino;
    unsigned n;
  } *counts;
  static size_t ncounts, cap;
  struct stat st;
  if (stat(dir, &st) < 0)
    return 0;
  unsigned k = 0;
  pthread_mutex_lock(&mu);
  for (size_t i = 0; i < ncounts && k == 0; i++)
    if (counts[i].dev == st.st_dev && counts[i].ino == st.st_ino)
      k = ++counts[i].n;
  if (k == 0) {
    if (ncounts == cap) {
      size_t c = cap ? 2 * cap : 8;
      struct dir_count *m = mpmp__realloc(counts, c * sizeof *m);
      if (m != NULL) {
        counts = m;
        cap = c;
      }
    }
    if (ncounts < cap) {
      counts[ncounts++] = (struct dir_count){st.st_dev, st.st_ino, 1};
      k = 1;
    }
  }
  pthread_mutex_unlock(&mu);
  return k;
}

int mpmp__journal_open(const char *dir, const mpmp__journal_id_t *id,
                       mpmp__journal_t **out, const char *fn) {
  *out = NULL;
  if (dir == NULL || dir[0] == '\0')
    return 0;
  unsigned k = next_ordinal(dir);
  if (k == 0)
    return mpmp__err(MPMP_ECHECKPOINT, "%s: cannot use the checkpoint "
                     "directory %s: %s", fn, dir,
                     errno ? strerror(errno) : "out of memory");
  mpmp__journal_t *j = mpmp__calloc(1, sizeof *j);
  size_t plen = strlen(dir) + 32;
  if (j == NULL || (j->path = mpmp__malloc(plen)) == NULL) {
    mpmp__free(j);
    return mpmp__err(MPMP_ENOMEM, "%s: out of memory for a journal", fn);
  }
  pthread_mutex_init(&j->lock, NULL);
  snprintf(j->path, plen, "%s/map-%04u.mpmpj", dir, k);
  j->out_size = id->out_size;
  head_t *h = &j->head;
  memcpy(h->magic, HEAD_MAGIC, 8);
  h->version = VERSION;
  h->kind = (uint32_t)id->kind;
  h->n = id->n;
  h->in_size = id->in_size;
  h->out_size = id->out_size;
  h->chunk = id->chunk;
  snprintf(h->task, sizeof h->task, "%s", id->task);
  /* a name that task[] cuts: two tasks whose names differ after it
   * were one task to the journal, and a map of the one resumed with the
   * other's results */
  size_t tlen = id->task ? strlen(id->task) : 0;
  h->task_hash = tlen >= sizeof h->task - 1
                     ? (uint32_t)mpmp__hash64(id->task, tlen, 0x7A5C) | 1u
                     : 0;
  j->input = id->input;
  j->input_len = id->input_len;
  j->var_off = id->var_off;
  atomic_store(&j->refs, 1);
  j->fd = open(j->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  struct stat st;
  int rc = 0;
  if (j->fd < 0 && errno == ELOOP) { /* O_NOFOLLOW: the journal is a link */
    rc = mpmp__err(MPMP_ECHECKPOINT, "%s: the checkpoint journal %s is a "
                   "symbolic link, which mpmp does not follow: put the "
                   "journal itself there (or remove the link to start that "
                   "map over)", fn, j->path);
  } else if (j->fd < 0 || fstat(j->fd, &st) < 0) {
    rc = mpmp__err(MPMP_ECHECKPOINT, "%s: cannot open the checkpoint journal "
                   "%s: %s (is the checkpoint directory, MPMP_CHECKPOINT or "
                   "the pool's checkpoint option, a directory this program "
                   "may write?)", fn, j->path, strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    rc = mpmp__err(MPMP_ECHECKPOINT, "%s: the checkpoint journal %s is not a "
                   "regular file", fn, j->path);
  } else if (flock(j->fd, LOCK_EX | LOCK_NB) < 0 && errno != ENOLCK &&
             errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
    /* Another process has this journal open: another job with the same
     * directory (a requeued job whose first run is still in its grace, a
     * job submitted twice, a job array sharing one directory). Both
     * writing it interleaved their records at their own offsets, and the
     * one that started fresh (or found the journal unsealed) truncated
     * the other's: records lost, and records of the other job's input
     * taken as this map's results by the next rerun. The lock goes with
     * the file's close, even at SIGKILL; a file system without locks
     * (ENOLCK...) is used as before. */
    rc = errno == EWOULDBLOCK
             ? mpmp__err(MPMP_ECHECKPOINT, "%s: the checkpoint journal %s is "
                         "in use by another running program (another job "
                         "with the same checkpoint directory?): let it end "
                         "first, or give each job a directory of its own",
                         fn, j->path)
             : io_err(j, "cannot be locked", fn);
  } else if (strcasecmp(mpmp__rt.env.CHECKPOINT_MODE, "fresh") == 0 ||
             st.st_size < (off_t)sizeof(head_t)) {
    rc = start_fresh(j, fn); /* new (or its header was torn: no record) */
  } else {
    head_t old;
    char why[256];
    const char *d = NULL;
    if (read_at(j->fd, &old, sizeof old, 0) < 0)
      rc = io_err(j, "cannot be read", fn);
    else if (memcmp(old.magic, HEAD_MAGIC, 8) || old.version != VERSION ||
             old.sum != head_sum(&old))
      rc = mpmp__err(MPMP_ECHECKPOINT, "%s: %s is not an mpmp journal of "
                     "this version (or its header is damaged): remove it, or "
                     "set MPMP_CHECKPOINT_MODE=fresh to start over", fn,
                     j->path);
    else if (!old.sealed) /* killed before its digest was written */
      rc = start_fresh(j, fn);
    else if ((d = differs(&old, sealed_head(j), why, sizeof why)) != NULL)
      rc = mpmp__err(MPMP_ECHECKPOINT, "%s: the checkpoint journal %s is not "
                     "this map's: %s. Maps are matched by their order in the "
                     "program: run the same program with the same input, or "
                     "remove the journal (MPMP_CHECKPOINT_MODE=fresh starts "
                     "every map over)", fn, j->path, d);
    else {
      j->nonce = old.sealed >> 1; /* (its records' checksums) */
      rc = scan(j, st.st_size, fn);
    }
  }
  if (rc == NO_ROOM) {
    MPMP__WARN("the checkpoint journal %s could not be written (%s): this "
               "map goes on without it, and a rerun runs it whole", j->path,
               strerror(errno));
    journal_free(j);
    return 0;
  }
  if (rc < 0) {
    journal_free(j);
    return rc;
  }
  *out = j;
  return 0;
}

size_t mpmp__journal_records(const mpmp__journal_t *j) { return j->nents; }
const char *mpmp__journal_path(const mpmp__journal_t *j) { return j->path; }

/* Bits [from, to) on: whole bytes at once (a record holds millions). */
static void set_range(unsigned char *bits, size_t from, size_t to) {
  for (; from < to && (from & 7); from++)
    bits[from >> 3] |= (unsigned char)(1u << (from & 7));
  if (to - from >= 8) {
    memset(bits + (from >> 3), 0xff, (to - from) >> 3);
    from += (to - from) & ~(size_t)7;
  }
  for (; from < to; from++)
    bits[from >> 3] |= (unsigned char)(1u << (from & 7));
}

static size_t count_bits(const unsigned char *bits, size_t n) {
  size_t done = 0, i = 0;
  for (; i + 64 <= n; i += 64) {
    uint64_t w;
    memcpy(&w, bits + (i >> 3), 8);
    done += (size_t)__builtin_popcountll(w);
  }
  for (; i < n; i++)
    done += (bits[i >> 3] >> (i & 7)) & 1;
  return done;
}

static void clear_bit(unsigned char *bits, size_t i) {
  bits[i >> 3] &= (unsigned char)~(1u << (i & 7));
}

static int order_cmp(const void *a, const void *b) {
  const struct order *x = a, *y = b;
  if (x->first != y->first)
    return x->first < y->first ? -1 : 1;
  return x->e < y->e ? -1 : x->e > y->e;
}

static int size_cmp(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

/* The entries that overlap items [base, base + n), in file order (a
 * later record counts over an earlier one: its pending items), into a
 * new array *out (NULL when none); their number, or -1: no memory. An
 * imap replays once per chunk: reading every entry each time made its
 * resume quadratic (10^6 items in chunks of 16: 17 s, against 0.8 s for
 * running them all). */
static long long overlapping(mpmp__journal_t *j, uint64_t base, size_t n,
                             size_t **out) {
  *out = NULL;
  pthread_mutex_lock(&j->lock);
  if (j->order == NULL && j->nents > 0) {
    struct order *o = mpmp__malloc(j->nents * sizeof *o);
    if (o == NULL) {
      pthread_mutex_unlock(&j->lock);
      return -1;
    }
    for (size_t e = 0; e < j->nents; e++) {
      o[e] = (struct order){j->ents[e].r.first, e};
      if (j->ents[e].r.count > j->max_count)
        j->max_count = j->ents[e].r.count;
    }
    qsort(o, j->nents, sizeof *o, order_cmp);
    j->order = o;
  }
  pthread_mutex_unlock(&j->lock);
  if (j->nents == 0)
    return 0;
  /* a record that overlaps begins after base - max_count */
  uint64_t from = base > j->max_count ? base - j->max_count : 0;
  size_t lo = 0, hi = j->nents;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (j->order[mid].first < from)
      lo = mid + 1;
    else
      hi = mid;
  }
  size_t end = lo, m = 0;
  while (end < j->nents && j->order[end].first < base + n)
    end++;
  if (end == lo)
    return 0;
  size_t *c = mpmp__malloc((end - lo) * sizeof *c);
  if (c == NULL)
    return -1;
  for (size_t k = lo; k < end; k++) {
    const rec_t *r = &j->ents[j->order[k].e].r;
    if (r->first + r->count > base) /* (it begins before base + n) */
      c[m++] = j->order[k].e;
  }
  if (m == 0) {
    mpmp__free(c);
    return 0;
  }
  qsort(c, m, sizeof *c, size_cmp);
  *out = c;
  return (long long)m;
}

/*
 * Replay the records that fall in items [base, base + n) (a whole map:
 * base 0; an imap chunk: its range): their results into out (a
 * variable-size map's through take()), done items into bits, failures
 * through fail(). With digest() (an imap's items), each record's input
 * digest is checked against the items of its range.
 */
int mpmp__journal_replay(mpmp__journal_t *j, uint64_t base, size_t n,
                         mpmp__journal_digest_fn digest, char *out,
                         unsigned char *bits,
                         size_t *ndone, mpmp__journal_fail_fn fail,
                         mpmp__journal_take_fn take, void *arg,
                         const char *fn) {
  size_t osz = j->out_size;
  char *tail = NULL;
  size_t tail_cap = 0, *cand = NULL;
  int rc = 0;
  long long ncand = overlapping(j, base, n, &cand);
  if (ncand < 0) {
    *ndone = 0;
    return mpmp__err(MPMP_ENOMEM, "%s: out of memory reading a journal", fn);
  }
  for (long long c = 0; c < ncand && rc == 0; c++) {
    size_t e = cand[c];
    const rec_t *r = &j->ents[e].r; /* (it overlaps [base, base + n)) */
    if (r->first == base && r->first + r->count > base + n) {
      /* the same start, a shorter chunk: an imap's last one, whose
       * producer ended sooner than it did for the run that wrote it
       * (helper 65: the message blamed the chunksize alone) */
      rc = mpmp__err(MPMP_ECHECKPOINT, "%s: the checkpoint journal %s has "
                     "items %llu to %llu in one record, and this chunk ends "
                     "at item %llu: the producer yielded fewer items than in "
                     "the run that wrote the journal (a resume needs the "
                     "same items: remove the journal to start over), or the "
                     "chunksize is smaller than that run's", fn, j->path,
                     (unsigned long long)r->first,
                     (unsigned long long)(r->first + r->count - 1),
                     (unsigned long long)(base + n - 1));
      break;
    }
    if (r->first < base || r->first + r->count > base + n) {
      rc = mpmp__err(MPMP_ECHECKPOINT, "%s: the checkpoint journal %s has "
                     "items %llu to %llu in one record, across this chunk's "
                     "bounds %llu to %llu: give the same chunksize and "
                     "buffersize as the run that wrote it", fn, j->path,
                     (unsigned long long)r->first,
                     (unsigned long long)(r->first + r->count - 1),
                     (unsigned long long)base,
                     (unsigned long long)(base + n - 1));
      break;
    }
    size_t at = (size_t)(r->first - base);
    if (digest != NULL && digest(arg, at, r->count) != r->in_digest) {
      rc = mpmp__err(MPMP_ECHECKPOINT, "%s: items %llu to %llu differ from "
                     "those the checkpoint journal %s recorded: an imap that "
                     "resumes needs a producer that yields the same items in "
                     "the same order (or remove the journal)", fn,
                     (unsigned long long)r->first,
                     (unsigned long long)(r->first + r->count - 1), j->path);
      break;
    }
    /* a variable-size map's results go through the tail too */
    int var = take != NULL;
    size_t rlen = (size_t)res_bytes(j, r),
           tlen = (var ? rlen : 0) + r->fails_len + (size_t)r->npend * 8;
    char *res = var ? tail : out + at * osz;
    if (tlen > tail_cap) {
      char *t = mpmp__realloc(tail, tlen);
      if (t == NULL) {
        rc = mpmp__err(MPMP_ENOMEM, "%s: out of memory reading a journal", fn);
        break;
      }
      tail = t;
      tail_cap = tlen;
      res = var ? tail : res;
    }
    if (read_at(j->fd, res, rlen, j->ents[e].off) < 0 ||
        read_at(j->fd, var ? tail + rlen : tail, tlen - (var ? rlen : 0),
                j->ents[e].off + (off_t)rlen) < 0) {
      rc = io_err(j, "cannot be read", fn);
      break;
    }
    const char *t = var ? tail + rlen : tail;
    uint64_t sum = mpmp__hash64(res, rlen, 0xDA7A) ^
                   mpmp__hash64(t, tlen - (var ? rlen : 0), 0x7A11);
    if (sum != r->psum ||
        (var && take(arg, r->first - base, r->count, res, rlen) < 0))
      continue; /* damaged (lost power?): its items run again */
    set_range(bits, at, at + r->count);
    const char *p = t;
    for (uint32_t f = 0; f < r->nfail; f++) {
      jfail_t jf;
      memcpy(&jf, p, sizeof jf);
      fail(arg, jf.index - base, r->rank, jf.code, p + sizeof jf, jf.len);
      p += sizeof jf + jf.len;
    }
    for (uint32_t k = 0; k < r->npend; k++) {
      uint64_t idx;
      memcpy(&idx, t + r->fails_len + (size_t)k * 8, 8);
      if (idx >= r->first && idx < r->first + r->count)
        clear_bit(bits, (size_t)(idx - base));
    }
  }
  mpmp__free(tail);
  mpmp__free(cand);
  *ndone = rc == 0 ? count_bits(bits, n) : 0;
  return rc;
}

/*
 * Append the record of one chunk: items [first, first + count) with their
 * results, `nfail` final failures (wire records: mpmp__fail_rec_t + msg,
 * indices relative to `base`) and the items that did not finish (their
 * failure records are `pending` ones). Called by whichever thread takes a
 * chunk's results; serialized per journal. A write that fails (a full
 * disk) warns once and switches the journal off: the map goes on.
 */
void mpmp__journal_append(mpmp__journal_t *j, uint64_t base, uint64_t first,
                          uint32_t count, const char *res, size_t res_len,
                          const char *fails, uint32_t nwire, int stopped,
                          int rank, uint64_t in_digest) {
  int var = is_var(j);
  size_t rlen = var ? res_len : count * j->out_size, flen = 0, np = 0, nf = 0;
  const char *p = fails;
  for (uint32_t k = 0; k < nwire; k++) { /* sizes first */
    mpmp__fail_rec_t w;
    memcpy(&w, p, sizeof w);
    if (stopped || w.code >= MPMP__RETRY_CODE)
      np++;
    else
      flen += sizeof(jfail_t) + w.len;
    p += sizeof w + w.len;
  }
  char *tail = mpmp__malloc(flen + np * 8 + 1);
  if (tail == NULL) {
    MPMP__WARN("out of memory for a journal record: items %llu to %llu run "
               "again in a rerun", (unsigned long long)(base + first),
               (unsigned long long)(base + first + count - 1));
    return;
  }
  char *fp = tail, *pp = tail + flen;
  p = fails;
  for (uint32_t k = 0; k < nwire; k++) {
    mpmp__fail_rec_t w;
    memcpy(&w, p, sizeof w);
    if (stopped || w.code >= MPMP__RETRY_CODE) {
      uint64_t idx = base + w.index;
      memcpy(pp, &idx, 8);
      pp += 8;
    } else {
      jfail_t jf = {base + w.index, w.code ? w.code : MPMP_ETASK, w.len};
      memcpy(fp, &jf, sizeof jf);
      memcpy(fp + sizeof jf, p + sizeof w, w.len);
      fp += sizeof jf + w.len;
      nf++;
    }
    p += sizeof w + w.len;
  }
  rec_t r = {.magic = REC_MAGIC, .count = count, .first = base + first,
             .fails_len = flen, .in_digest = in_digest, .nfail = (uint32_t)nf,
             .npend = (uint32_t)np, .rank = rank,
             .var_len = var ? (uint32_t)rlen : 0};
  r.psum = mpmp__hash64(res, rlen, 0xDA7A) ^
           mpmp__hash64(tail, flen + np * 8, 0x7A11);
  r.sum = rec_sum(j, &r);
  struct iovec iov[3] = {{&r, sizeof r}, {(void *)res, rlen},
                         {tail, flen + np * 8}};
  pthread_mutex_lock(&j->lock);
  if (!j->broken && write_all(j->fd, iov, 3) < 0) {
    j->broken = 1;
    MPMP__WARN("the checkpoint journal %s could not be written (%s): this "
               "map goes on without it, and a rerun runs the items it did "
               "not record", j->path, strerror(errno));
  }
  pthread_mutex_unlock(&j->lock);
  mpmp__free(tail);
}

int mpmp__journal_sync(mpmp__journal_t *j) {
  pthread_mutex_lock(&j->lock);
  int broken = j->broken;
  if (!broken)
    fdatasync(j->fd);
  pthread_mutex_unlock(&j->lock);
  return broken;
}

void mpmp__journal_seal(mpmp__journal_t *j) {
  if (!j->unsealed)
    return;
  uint64_t digest = input_digest(j);
  pthread_mutex_lock(&j->lock);
  if (j->unsealed) {
    head_t h = j->head;
    h.digest = digest;
    h.sealed = 1u | j->nonce << 1;
    h.sum = head_sum(&h);
    if (pwrite(j->fd, &h, sizeof h, 0) != (ssize_t)sizeof h && !j->broken) {
      j->broken = 1;
      MPMP__WARN("the checkpoint journal %s could not be written (%s): this "
                 "map goes on without it", j->path, strerror(errno));
    }
    j->head = h;
    j->unsealed = 0;
  }
  pthread_mutex_unlock(&j->lock);
}

void mpmp__journal_ref(mpmp__journal_t *j) { atomic_fetch_add(&j->refs, 1); }

void mpmp__journal_close(mpmp__journal_t *j) {
  if (j == NULL || atomic_fetch_sub(&j->refs, 1) != 1)
    return;
  mpmp__journal_seal(j); /* a map that ended before its seal */
  journal_free(j);
}

/* MPMP_CHECKPOINT (or a pool's checkpoint option) must be a directory
 * this program may write: made if missing (one level), checked by
 * creating and removing a file in it. */
int mpmp__journal_check_dir(const char *dir, const char *what) {
  struct stat st;
  if (dir == NULL || dir[0] == '\0')
    return 0;
  if (mkdir(dir, 0755) < 0 && errno != EEXIST)
    return mpmp__err(MPMP_ECHECKPOINT, "%s='%s': the checkpoint directory "
                     "cannot be made: %s", what, dir, strerror(errno));
  if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
    return mpmp__err(MPMP_ECHECKPOINT, "%s='%s' is not a directory", what,
                     dir);
  char probe[4096];
  snprintf(probe, sizeof probe, "%s/.mpmp-probe-%d", dir, (int)getpid());
  int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return mpmp__err(MPMP_ECHECKPOINT, "%s='%s': the checkpoint directory "
                     "cannot be written: %s", what, dir, strerror(errno));
  close(fd);
  unlink(probe);
  return 0;
}
