/*
 * Messages between ranks, on mpmp's private duplicate of MPI_COMM_WORLD.
 *
 * Point-to-point only: it works on every MPI transport and under
 * MPI_THREAD_MULTIPLE, where Open MPI's one-sided calls do not (see
 * README, "Design"). Incoming messages are taken with matched probes
 * (MPI_Improbe/MPI_Mrecv, safe with several threads) by whichever thread
 * drives progress, and dispatched by tag to a handler.
 */
#include <math.h>
#include <string.h>
#include <time.h>

#include "internal.h"

typedef struct mpmp__pending {
  struct mpmp__pending *next;
  MPI_Request req;
  void *buf;
  int dest;
} mpmp__pending_t;

void mpmp__set_handler(int tag, mpmp__handler_fn fn) {
  if (tag > 0 && tag < MPMP__TAG_MAX)
    mpmp__rt.handlers[tag] = fn;
}

int mpmp__is_local(int rank) {
  return mpmp__rt.ranks != NULL && mpmp__rt.ranks[rank].node == mpmp__rt.node;
}

void mpmp__ring_rank(int rank) {
  if (mpmp__is_local(rank))
    mpmp__bell_ring(&mpmp__rt.bells[mpmp__rt.ranks[rank].node_rank]);
}

/* Test the non-blocking sends; free the completed ones, ring the
 * receivers of the others (they may sleep through the first ring). */
static void complete_pending(void) {
  mpmp__rt_t *rt = &mpmp__rt;
  if (pthread_mutex_trylock(&rt->send_lock) != 0)
    return;
  mpmp__pending_t **pp = &rt->pending;
  while (*pp != NULL) {
    mpmp__pending_t *p = *pp;
    int done = 0;
    MPI_Test(&p->req, &done, MPI_STATUS_IGNORE);
    if (!done) {
      mpmp__ring_rank(p->dest);
      pp = &p->next;
      continue;
    }
    *pp = p->next;
    atomic_fetch_sub(&rt->npending, 1);
    if (!mpmp__is_local(p->dest))
      atomic_fetch_sub(&rt->npending_remote, 1);
    mpmp__free(p->buf);
    mpmp__free(p);
  }
  pthread_mutex_unlock(&rt->send_lock);
}

int mpmp__sends_pending(void) {
  if (atomic_load(&mpmp__rt.npending_remote) > 0)
    return 2;
  return atomic_load(&mpmp__rt.npending) > 0;
}

/*
 * Post a send. On this node it is synchronous: an eager MPI send may
 * complete at the sender while its fragment still waits in the sender's
 * queue, so a receiver rung for it could find nothing and sleep for good;
 * a synchronous send completes only once the receiver has matched it, and
 * the sender rings until then. A rank on another node cannot be rung (it
 * polls, and every poll progresses MPI), so a plain send arrives there and
 * the synchronous handshake would only double the trips over the network.
 */
static int post_send(int dest, int tag, const void *data, size_t len,
                     MPI_Request *req) {
  int local = mpmp__is_local(dest);
  int rc = (local ? MPI_Issend : MPI_Isend)(data, (int)len, MPI_BYTE, dest,
                                            tag, mpmp__rt.comm, req);
  return rc == MPI_SUCCESS ? 0
                           : mpmp__mpi_err(rc, local ? "MPI_Issend" : "MPI_Isend");
}

static int send_nb(int dest, int tag, const void *data, void *owned,
                   size_t len);

int mpmp__send_nb(int dest, int tag, void *buf, size_t len) {
  return send_nb(dest, tag, buf, buf, len);
}

int mpmp__send_nb_borrowed(int dest, int tag, const void *buf, size_t len) {
  return send_nb(dest, tag, buf, NULL, len);
}

/* `owned` (may be NULL) is freed once the send of `data` completes. */
static int send_nb(int dest, int tag, const void *data, void *owned,
                   size_t len) {
  mpmp__rt_t *rt = &mpmp__rt;
  void *buf = owned;
  mpmp__pending_t *p = mpmp__malloc(sizeof *p);
  if (p == NULL) {
    mpmp__free(buf);
    return mpmp__err(MPMP_ENOMEM, "out of memory for a send");
  }
  int rc = post_send(dest, tag, data, len, &p->req);
  if (rc < 0) {
    mpmp__free(buf);
    mpmp__free(p);
    return rc;
  }
  p->buf = buf;
  p->dest = dest;
  pthread_mutex_lock(&rt->send_lock);
  p->next = rt->pending;
  rt->pending = p;
  atomic_fetch_add(&rt->npending, 1);
  if (!mpmp__is_local(dest))
    atomic_fetch_add(&rt->npending_remote, 1);
  pthread_mutex_unlock(&rt->send_lock);
  mpmp__ring_rank(dest);
  return 0;
}

static void dispatch(int src, int tag, void *buf, size_t len) {
  mpmp__handler_fn h = (tag > 0 && tag < MPMP__TAG_MAX)
                           ? mpmp__rt.handlers[tag] : NULL;
  if (h == NULL) {
    MPMP__WARN("dropped a message with tag %d from rank %d: no handler", tag,
               src);
    mpmp__free(buf);
    return;
  }
  h(src, buf, len);
}

int mpmp__progress(void) {
  mpmp__rt_t *rt = &mpmp__rt;
  int handled = 0;
  if (pthread_mutex_trylock(&rt->progress_lock) != 0)
    return 0; /* another thread of this rank is progressing right now */
  for (;;) {
    int flag = 0, count = 0;
    MPI_Message msg;
    MPI_Status st;
    MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, rt->comm, &flag, &msg, &st);
    if (!flag)
      break;
    MPI_Get_count(&st, MPI_BYTE, &count);
    void *buf = mpmp__malloc((size_t)count);
    if (buf == NULL) {
      /* Losing a message would hang someone: this is not recoverable. */
      MPMP__ERROR("out of memory receiving %d bytes from rank %d", count,
                  st.MPI_SOURCE);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Mrecv(buf, count, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
    /* A sender on this node waits for its synchronous send to be matched,
     * polling or asleep on its doorbell: it was, tell it now. */
    mpmp__ring_rank(st.MPI_SOURCE);
    dispatch(st.MPI_SOURCE, st.MPI_TAG, buf, (size_t)count);
    handled++;
  }
  pthread_mutex_unlock(&rt->progress_lock);
  if (atomic_load(&rt->npending) > 0)
    complete_pending();
  return handled;
}

/*
 * Send and wait until it is through (see post_send), ringing the receiver
 * meanwhile (it may have slept through a ring): first polling for
 * MPMP_SPIN_US, then sleeping on this rank's doorbell, which a receiver on
 * this node rings once it has taken the message (mpmp__progress), in
 * growing steps (a receiver on another node cannot ring) so that a sender
 * to a busy or remote rank does not burn a core.
 */
int mpmp__send_post(int dest, int tag, const void *buf, size_t len,
                    MPI_Request *req) {
  int rc = post_send(dest, tag, buf, len, req);
  if (rc == 0)
    mpmp__ring_rank(dest);
  return rc;
}

int mpmp__send_wait(int dest, MPI_Request *req, double deadline) {
  mpmp__bell_t *me = &mpmp__rt.bells[mpmp__rt.node_rank];
  double spin_until = mpmp__now() + mpmp__rt.spin_s, nap = 5e-6;
  for (unsigned i = 1;; i++) {
    uint32_t seq = atomic_load(&me->seq);
    int done = 0;
    int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS)
      return mpmp__mpi_err(rc, "MPI_Test");
    if (done)
      return 0;
    double now = mpmp__now();
    if (now >= deadline)
      return MPMP_ETIMEDOUT;
    if (now < spin_until) {
      if ((i & 255) == 0)
        mpmp__ring_rank(dest);
      continue;
    }
    mpmp__ring_rank(dest);
    atomic_fetch_add(&me->sleepers, 1);
    mpmp__bell_sleep(me, seq, fmin(nap, deadline - now));
    atomic_fetch_sub(&me->sleepers, 1);
    nap = nap < 1e-3 ? nap * 2 : 1e-3;
  }
}

static int send_and_ring(int dest, int tag, const void *buf, size_t len) {
  MPI_Request req;
  int rc = mpmp__send_post(dest, tag, buf, len, &req);
  return rc < 0 ? rc : mpmp__send_wait(dest, &req, INFINITY);
}

int mpmp__send(int dest, int tag, const void *hdr, size_t hlen,
               const void *payload, size_t plen) {
  if (plen == 0)
    return send_and_ring(dest, tag, hdr, hlen);
  if (hlen + plen > (size_t)INT32_MAX)
    return mpmp__err(MPMP_EMSGSIZE, "message of %zu bytes is over 2 GiB",
                     hlen + plen);
  /* Gather header and payload: one message, one match, one ring. */
  char stackbuf[1024];
  char *buf = hlen + plen <= sizeof stackbuf ? stackbuf
                                             : mpmp__malloc(hlen + plen);
  if (buf == NULL)
    return mpmp__err(MPMP_ENOMEM, "out of memory for a %zu-byte message",
                     hlen + plen);
  memcpy(buf, hdr, hlen);
  memcpy(buf + hlen, payload, plen);
  int rc = send_and_ring(dest, tag, buf, hlen + plen);
  if (buf != stackbuf)
    mpmp__free(buf);
  return rc;
}
