/*
 * Same-node mailboxes (see mailbox.h): the ring itself, no MPI.
 */
#include <string.h>

#include "base.h"
#include "mailbox.h"

_Static_assert(sizeof(mpmp__mbox_t) == 128, "two cache lines");

/* All rings of a node together take at most this much of the segment, so
 * that heap and mailboxes (16 + 16 MiB) still fit Docker's 64 MiB /dev/shm
 * beside MPI's own segments: 64 KiB rings up to 15 ranks on a node, 32 KiB
 * at 16, 2 KiB at 64; from 121 ranks, none (every message through MPI). */
#define MBOX_AREA_MAX ((size_t)16 << 20)
#define MBOX_CAP_MIN ((size_t)1 << 10)

typedef struct rec {
  uint32_t len;
  int32_t tag;
} rec_t;

static size_t pow2_floor(size_t n) {
  size_t p = 1;
  while (p <= n / 2)
    p *= 2;
  return n ? p : 0;
}

size_t mpmp__mbox_cap(size_t want, int node_size) {
  size_t n = node_size > 0 ? (size_t)node_size : 1;
  size_t cap = pow2_floor(want), per = MBOX_AREA_MAX / (n * n);
  size_t fit = per > sizeof(mpmp__mbox_t)
                   ? pow2_floor(per - sizeof(mpmp__mbox_t)) : 0;
  if (fit < cap)
    cap = fit;
  return cap >= MBOX_CAP_MIN ? cap : 0;
}

size_t mpmp__mbox_area(size_t cap, int node_size) {
  size_t n = (size_t)node_size;
  return cap ? n * n * (sizeof(mpmp__mbox_t) + cap) : 0;
}

mpmp__mbox_t *mpmp__mbox_at(char *area, size_t cap, int node_size, int from,
                            int to) {
  size_t i = (size_t)to * (size_t)node_size + (size_t)from;
  return (mpmp__mbox_t *)(void *)(area + i * (sizeof(mpmp__mbox_t) + cap));
}

void mpmp__mbox_format(char *area, size_t cap, int node_size) {
  for (int to = 0; cap && to < node_size; to++)
    for (int from = 0; from < node_size; from++) /* the control lines only */
      memset(mpmp__mbox_at(area, cap, node_size, from, to), 0,
             sizeof(mpmp__mbox_t));
}

/* A quarter of the ring: a big message leaves room for the small ones
 * behind it, and a full ring is rare. */
size_t mpmp__mbox_max_msg(size_t cap) { return cap / 4 - sizeof(rec_t); }

static char *data_of(mpmp__mbox_t *box) { return (char *)(box + 1); }

/* Copy n bytes into / out of the ring at position pos, wrapping. */
static void copy_in(char *ring, size_t cap, uint64_t pos, const void *src,
                    size_t n) {
  size_t at = (size_t)(pos & (cap - 1)), first = cap - at < n ? cap - at : n;
  memcpy(ring + at, src, first);
  memcpy(ring, (const char *)src + first, n - first);
}

static void copy_out(const char *ring, size_t cap, uint64_t pos, void *dst,
                     size_t n) {
  size_t at = (size_t)(pos & (cap - 1)), first = cap - at < n ? cap - at : n;
  memcpy(dst, ring + at, first);
  memcpy((char *)dst + first, ring, n - first);
}

static size_t record_size(size_t len) {
  return sizeof(rec_t) + ((len + 7) & ~(size_t)7);
}

int mpmp__mbox_put(mpmp__mbox_t *box, size_t cap, mpmp__mbox_tx_t *tx,
                   int tag, const void *a, size_t alen, const void *b,
                   size_t blen) {
  size_t len = alen + blen;
  if (cap == 0 || len > mpmp__mbox_max_msg(cap))
    return 0;
  uint64_t need = record_size(len);
  if (tx->tail + need - tx->head_seen > cap) {
    tx->head_seen = atomic_load_explicit(&box->head, memory_order_acquire);
    if (tx->tail + need - tx->head_seen > cap)
      return 0;
  }
  char *ring = data_of(box);
  rec_t r = {(uint32_t)len, tag};
  copy_in(ring, cap, tx->tail, &r, sizeof r); /* 8-aligned: never wraps */
  if (alen)
    copy_in(ring, cap, tx->tail + sizeof r, a, alen);
  if (blen)
    copy_in(ring, cap, tx->tail + sizeof r + alen, b, blen);
  tx->tail += need;
  atomic_store_explicit(&box->tail, tx->tail, memory_order_release);
  return 1;
}

/*
 * The ring lives in memory every rank of the node can write, so a stray
 * write by a task (or a bug) can leave any value in it: every length and
 * position read from it is checked before it is used, and nothing is read
 * outside the ring. A record must be whole between our head and the
 * sender's tail, and no longer than a sender may write.
 */
static int corrupt(const char *what, uint64_t head, uint64_t tail, size_t cap,
                   uint32_t len) {
  mpmp__err(MPMP_EINVAL, "the same-node mailbox is corrupt: %s (head %llu, "
            "tail %llu, ring of %zu bytes, record length %u); some process "
            "of this node wrote over mpmp's shared segment (a task writing "
            "out of bounds?)", what, (unsigned long long)head,
            (unsigned long long)tail, cap, (unsigned)len);
  return MPMP__MBOX_CORRUPT;
}

/* The record at `head`, checked: 1 with its header, 0 empty, or corrupt. */
static int record_at(mpmp__mbox_t *box, size_t cap, uint64_t head,
                     rec_t *r) {
  uint64_t tail = atomic_load_explicit(&box->tail, memory_order_acquire);
  if (tail == head)
    return 0;
  /* Unsigned: a tail behind our head shows as more than the ring holds. */
  uint64_t avail = tail - head;
  if (avail > cap || avail % 8 != 0)
    return corrupt(avail > cap ? "the sender's tail is behind our head or "
                                 "more than a ring ahead of it"
                               : "the sender's tail is not on a record",
                   head, tail, cap, 0);
  copy_out(data_of(box), cap, head, r, sizeof *r);
  if (r->len > mpmp__mbox_max_msg(cap))
    return corrupt("a record is longer than any message a ring takes", head,
                   tail, cap, r->len);
  if (record_size(r->len) > avail)
    return corrupt("a record runs past the sender's tail", head, tail, cap,
                   r->len);
  return 1;
}

int mpmp__mbox_take(mpmp__mbox_t *box, size_t cap, uint64_t *head, int *tag,
                    void **buf, size_t *len) {
  rec_t r;
  int rc = record_at(box, cap, *head, &r);
  if (rc <= 0)
    return rc;
  void *p = mpmp__malloc(r.len);
  if (p == NULL) {
    mpmp__err(MPMP_ENOMEM, "out of memory for a message of %u bytes from "
              "the same-node mailbox", (unsigned)r.len);
    return -1;
  }
  copy_out(data_of(box), cap, *head + sizeof r, p, r.len);
  mpmp__mbox_skip(box, head, r.len);
  *tag = r.tag;
  *buf = p;
  *len = r.len;
  return 1;
}

int mpmp__mbox_peek(mpmp__mbox_t *box, size_t cap, uint64_t head, int *tag,
                    size_t *len, void *hdr, size_t hlen) {
  rec_t r;
  int rc = record_at(box, cap, head, &r);
  if (rc <= 0)
    return rc;
  copy_out(data_of(box), cap, head + sizeof r, hdr, hlen < r.len ? hlen : r.len);
  *tag = r.tag;
  *len = r.len;
  return 1;
}

void mpmp__mbox_copy(mpmp__mbox_t *box, size_t cap, uint64_t head,
                     size_t off, void *dst, size_t n) {
  copy_out(data_of(box), cap, head + sizeof(rec_t) + off, dst, n);
}

void mpmp__mbox_skip(mpmp__mbox_t *box, uint64_t *head, size_t len) {
  *head += record_size(len);
  atomic_store_explicit(&box->head, *head, memory_order_release);
}
