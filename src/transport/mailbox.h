/*
 * Same-node mailboxes: one single-producer, single-consumer byte ring in
 * the node's shared segment for every ordered pair of ranks of the node.
 *
 * A small message to a rank of this node is copied into the ring and the
 * receiver's doorbell rung: no MPI matching, no synchronous-send handshake
 * (see transport.c for why MPI sends on one node must be synchronous),
 * no request to complete. A task round trip was 4 MPI messages, 2 of them
 * acknowledgements; through the mailboxes it is 2 copies.
 *
 * The ring stores records of 8 bytes of header (length, tag) and the
 * message, padded to 8 bytes; a record may wrap around the end. The
 * sender's threads take turns under a lock of their own process
 * (transport.c), so the ring itself has one producer and one consumer.
 */
#ifndef MPMP_MAILBOX_H
#define MPMP_MAILBOX_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* The ring's control lines; `cap` bytes of records follow. */
typedef struct mpmp__mbox {
  _Atomic uint64_t tail;     /* bytes the sender has written (ever) */
  char pad0[56];
  _Atomic uint64_t head;     /* bytes the receiver has taken (ever) */
  _Atomic uint64_t mpi_done; /* the sender's MPI messages the receiver has
                                dispatched (keeps the order: transport.c) */
  char pad1[48];
} mpmp__mbox_t;

/* The sender's own view of a ring (in its process memory). */
typedef struct mpmp__mbox_tx {
  uint64_t tail;      /* == the ring's tail */
  uint64_t head_seen; /* the receiver's head when last read */
} mpmp__mbox_tx_t;

/* The ring size for `want` bytes (MPMP_MAILBOX) with `node_size` ranks on
 * the node: a power of two, smaller on big nodes (the rings take
 * node_size^2 * cap bytes of the segment), or 0 (mailboxes off). */
size_t mpmp__mbox_cap(size_t want, int node_size);
/* Bytes of the segment for all rings of a node. */
size_t mpmp__mbox_area(size_t cap, int node_size);
/* The ring from node rank `from` to node rank `to`. */
mpmp__mbox_t *mpmp__mbox_at(char *area, size_t cap, int node_size, int from,
                            int to);
/* Empty every ring of the area (once, by one rank, before any use). */
void mpmp__mbox_format(char *area, size_t cap, int node_size);
/* Largest message a ring of `cap` bytes takes. */
size_t mpmp__mbox_max_msg(size_t cap);

/* Append a record of `alen` + `blen` bytes (a then b); 1 when written, 0
 * when it is too large or the ring has no room now (send it another way). */
int mpmp__mbox_put(mpmp__mbox_t *box, size_t cap, mpmp__mbox_tx_t *tx,
                   int tag, const void *a, size_t alen, const void *b,
                   size_t blen);
/* Take the next record into a new mpmp__malloc'ed buffer: 1 with *tag,
 * *buf, *len set; 0 when the ring is empty; -1 out of memory (the record
 * stays); MPMP__MBOX_CORRUPT when the ring's tail or the record's length
 * cannot be right (nothing is read outside the ring). Both errors set the
 * thread's message (mpmp_errmsg()). `head` is the receiver's own copy of
 * the ring's head. */
#define MPMP__MBOX_CORRUPT (-2)
int mpmp__mbox_take(mpmp__mbox_t *box, size_t cap, uint64_t *head, int *tag,
                    void **buf, size_t *len);

/*
 * Look at a record without taking it, for a reader that takes only some
 * (a task host, parallel/host.c): 1 with *tag, *len and the first `hlen`
 * bytes of the message in `hdr` (fewer if it is shorter); 0 when the ring
 * is empty; MPMP__MBOX_CORRUPT as mpmp__mbox_take. mpmp__mbox_copy copies
 * `n` bytes of the message from byte `off`; mpmp__mbox_skip takes it (the
 * head moves past it, and is stored in the ring).
 */
int mpmp__mbox_peek(mpmp__mbox_t *box, size_t cap, uint64_t head, int *tag,
                    size_t *len, void *hdr, size_t hlen);
void mpmp__mbox_copy(mpmp__mbox_t *box, size_t cap, uint64_t head,
                     size_t off, void *dst, size_t n);
void mpmp__mbox_skip(mpmp__mbox_t *box, uint64_t *head, size_t len);

#endif /* MPMP_MAILBOX_H */
