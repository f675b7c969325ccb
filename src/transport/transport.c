/*
 * Messages between ranks, on mpmp's private duplicate of MPI_COMM_WORLD.
 *
 * Point-to-point only: it works on every MPI transport and under
 * MPI_THREAD_MULTIPLE, where Open MPI's one-sided calls do not (see
 * README, "Design"). Incoming messages are taken with matched probes
 * (MPI_Improbe/MPI_Mrecv, safe with several threads) by whichever thread
 * drives progress, and dispatched by tag to a handler.
 *
 * Small messages to a rank of this node skip MPI: they go through the
 * pair's mailbox in the node segment (mailbox.h). Messages of one sender
 * still arrive in the order it sent them, whichever way each went:
 *   - a sender writes to a mailbox only once the receiver has dispatched
 *     every MPI message it sent there (the ring's mpi_done), so nothing
 *     in the mailbox overtakes an earlier MPI message;
 *   - a receiver that takes an MPI message from a rank of its node first
 *     empties that rank's mailbox, which holds only what was sent before.
 * Bulk data that a handler receives itself (a chunk's input, a map's
 * results) travels on a communicator of its own (data_comm), so that the
 * probes here never take it.
 */
#include <math.h>
#include <string.h>
#include <time.h>

#include "transport.h"

typedef struct mpmp__pending {
  struct mpmp__pending *next;
  MPI_Request req;
  void *buf;
  const char *data; /* what it sends, len bytes (mpmp__sends_wait_range) */
  size_t len;
  int dest;
} mpmp__pending_t;

/* Statically initialised: the locks and the communicators' NULLs hold
 * before the first mpmp_init() and across a later one. */
mpmp__net_t mpmp__net = {
    .comm = MPI_COMM_NULL,
    .data_comm = MPI_COMM_NULL,
    .progress_lock = PTHREAD_MUTEX_INITIALIZER,
    .send_lock = PTHREAD_MUTEX_INITIALIZER,
};

void mpmp__net_reset(void) {
  atomic_store(&mpmp__net.closing, 0);
  atomic_store(&mpmp__net.progress_req, 0);
  atomic_store(&mpmp__net.agent_deep, 0);
  atomic_store_explicit(&mpmp__net.mpi_taken, 0, memory_order_relaxed);
  atomic_store(&mpmp__net.reqs_out, 0);
  mpmp__net.nnodes = 0;
  mpmp__net.spin_s = mpmp__net.poll_s = 0;
}

void mpmp__set_handler(int tag, mpmp__handler_fn fn) {
  if (tag > 0 && tag < MPMP__TAG_MAX)
    mpmp__net.handlers[tag] = fn;
}

int mpmp__is_local(int rank) {
  return mpmp__net.ranks != NULL &&
         mpmp__net.ranks[rank].node == mpmp__net.node;
}

void mpmp__ring_rank(int rank) {
  if (mpmp__is_local(rank))
    mpmp__bell_ring(&mpmp__net.bells[mpmp__net.ranks[rank].node_rank]);
}

/* Test the non-blocking sends; free the completed ones, ring the
 * receivers of the others (they may sleep through the first ring). */
static void complete_pending(void) {
  mpmp__net_t *net = &mpmp__net;
  if (pthread_mutex_trylock(&net->send_lock) != 0)
    return;
  mpmp__pending_t **pp = &net->pending;
  while (*pp != NULL) {
    mpmp__pending_t *p = *pp;
    int done = 0;
    MPMP__MPI_CHECK(MPI_Test(&p->req, &done, MPI_STATUS_IGNORE),
                    "MPI_Test of a message in flight");
    if (!done) {
      mpmp__ring_rank(p->dest);
      pp = &p->next;
      continue;
    }
    *pp = p->next;
    atomic_fetch_sub(&net->npending, 1);
    if (!mpmp__is_local(p->dest))
      atomic_fetch_sub(&net->npending_remote, 1);
    mpmp__free(p->buf);
    mpmp__free(p);
  }
  pthread_mutex_unlock(&net->send_lock);
}

/* Whether a pending send reads from [lo, lo + len). */
static int sends_from(const char *lo, size_t len) {
  mpmp__net_t *net = &mpmp__net;
  int found = 0;
  pthread_mutex_lock(&net->send_lock);
  for (mpmp__pending_t *p = net->pending; p != NULL && !found; p = p->next)
    found = p->data != NULL && p->data < lo + len && lo < p->data + p->len;
  pthread_mutex_unlock(&net->send_lock);
  return found;
}

int mpmp__sends_wait_range(const void *lo, size_t len, double deadline) {
  for (double nap = 20e-6;; nap = nap < 1e-3 ? nap * 2 : 1e-3) {
    complete_pending();
    if (len == 0 || !sends_from(lo, len))
      return 0;
    double now = mpmp__now();
    if (now >= deadline)
      return MPMP_ETIMEDOUT;
    struct timespec ts = {0, (long)(fmin(nap, deadline - now) * 1e9)};
    nanosleep(&ts, NULL);
  }
}

int mpmp__sends_pending(void) {
  if (atomic_load(&mpmp__net.npending_remote) > 0)
    return 2;
  return atomic_load(&mpmp__net.npending) > 0;
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
static int post_send(MPI_Comm comm, int dest, int tag, const void *data,
                     size_t len, MPI_Request *req) {
  int local = mpmp__is_local(dest);
  if (local && comm == mpmp__net.comm) /* before: the receiver probes */
    atomic_fetch_add(&mpmp__net.bells[mpmp__net.ranks[dest].node_rank]
                          .mpi_posted, 1);
  int rc = (local ? MPI_Issend : MPI_Isend)(data, (int)len, MPI_BYTE, dest,
                                            tag, comm, req);
  return rc == MPI_SUCCESS ? 0
                           : mpmp__mpi_err(rc, local ? "MPI_Issend" : "MPI_Isend");
}

/* ---- mailboxes ------------------------------------------------------------ */

static mpmp__mbox_t *mbox(int from, int to) {
  mpmp__net_t *net = &mpmp__net;
  return mpmp__mbox_at(net->mbox_area, net->mbox_cap, net->node_size, from, to);
}

int mpmp__transport_setup(char *area, size_t cap) {
  mpmp__net_t *net = &mpmp__net;
  net->mbox_area = area;
  net->mbox_cap = area != NULL ? cap : 0;
  if (net->mbox_cap == 0)
    return 0;
  int n = net->node_size;
  net->mbox_out = mpmp__calloc((size_t)n, sizeof *net->mbox_out);
  net->mbox_in = mpmp__calloc((size_t)n, sizeof *net->mbox_in);
  if (net->mbox_out == NULL || net->mbox_in == NULL)
    return mpmp__err(MPMP_ENOMEM, "out of memory at init");
  for (int i = 0; i < n; i++)
    pthread_mutex_init(&net->mbox_out[i].lock, NULL);
  atomic_store_explicit(&net->mbox_seen,
                        atomic_load(&net->bells[net->node_rank].seq) - 1,
                        memory_order_relaxed);
  return 0;
}

/* Sends still pending at teardown (their receiver is gone): a later
 * mpmp_init() must not start with them counted, or its idle ranks would
 * poll for them for ever. MPI completes such a send on its own, or never;
 * it may still read its buffer, so that is left allocated. */
static void drop_pending(void) {
  mpmp__net_t *net = &mpmp__net;
  pthread_mutex_lock(&net->send_lock);
  while (net->pending != NULL) {
    mpmp__pending_t *p = net->pending;
    int done = 0;
    net->pending = p->next;
    if (MPI_Test(&p->req, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && done)
      mpmp__free(p->buf);
    else if (p->req != MPI_REQUEST_NULL)
      MPI_Request_free(&p->req);
    mpmp__free(p);
  }
  atomic_store(&net->npending, 0);
  atomic_store(&net->npending_remote, 0);
  pthread_mutex_unlock(&net->send_lock);
}

void mpmp__transport_fini(void) {
  mpmp__net_t *net = &mpmp__net;
  drop_pending();
  if (net->mbox_out != NULL)
    for (int i = 0; i < net->node_size; i++)
      pthread_mutex_destroy(&net->mbox_out[i].lock);
  mpmp__free(net->mbox_out);
  mpmp__free(net->mbox_in);
  net->mbox_out = NULL;
  net->mbox_in = NULL;
  net->mbox_area = NULL;
  net->mbox_cap = 0;
}

/*
 * Send a then b through the mailbox to `dest` if it is on this node, the
 * message fits and no MPI message of ours to it is still undispatched: 1
 * when sent (and the receiver rung). 0: send it through MPI; a message
 * to a rank of this node is then counted, so that the mailbox waits until
 * the receiver has dispatched it.
 */
static int mbox_send(int dest, int tag, const void *a, size_t alen,
                     const void *b, size_t blen) {
  mpmp__net_t *net = &mpmp__net;
  if (net->mbox_cap == 0 || !mpmp__is_local(dest))
    return 0;
  int to = net->ranks[dest].node_rank;
  struct mpmp__mbox_out *o = &net->mbox_out[to];
  mpmp__mbox_t *box = mbox(net->node_rank, to);
  int sent = 0;
  pthread_mutex_lock(&o->lock);
  /* (lent: our task host writes to it now) */
  if (!o->loaned &&
      (o->mpi_sent == o->mpi_done ||
       o->mpi_sent == (o->mpi_done = atomic_load_explicit(
                           &box->mpi_done, memory_order_acquire))))
    sent = mpmp__mbox_put(box, net->mbox_cap, &o->tx, tag, a, alen, b, blen);
  if (!sent)
    o->mpi_sent++;
  pthread_mutex_unlock(&o->lock);
  if (sent)
    mpmp__bell_ring(&net->bells[to]);
  return sent;
}


/* Dispatch what the mailbox from node rank `from` holds. */
static int mbox_drain(int from) {
  mpmp__net_t *net = &mpmp__net;
  mpmp__mbox_t *box = mbox(from, net->node_rank);
  int n = 0, tag, rc;
  void *buf;
  size_t len;
  while ((rc = mpmp__mbox_take(box, net->mbox_cap, &net->mbox_in[from].head,
                               &tag, &buf, &len)) > 0) {
    mpmp__dispatch(net->world_of_node_rank[from], tag, buf, len);
    n++;
  }
  if (rc < 0) {
    /* Losing a message would hang someone: this is not recoverable. */
    MPMP__ERROR("taking a message from rank %d: %s",
                net->world_of_node_rank[from], mpmp_errmsg());
    mpmp__abort_job();
  }
  return n;
}

/* 1 when a ring into this rank holds a message. */
static int rings_waiting(void) {
  mpmp__net_t *net = &mpmp__net;
  for (int from = 0; from < net->node_size; from++) {
    mpmp__mbox_t *box = mbox(from, net->node_rank);
    if (atomic_load_explicit(&box->tail, memory_order_acquire) !=
        atomic_load_explicit(&box->head, memory_order_relaxed))
      return 1;
  }
  return 0;
}

int mpmp__mbox_lend(int peer, mpmp__mbox_loan_t *l) {
  mpmp__net_t *net = &mpmp__net;
  if (net->mbox_cap == 0 || !mpmp__is_local(peer) ||
      atomic_load(&net->npending) > 0 || atomic_load(&net->reqs_out) > 0)
    return 0;
  int p = net->ranks[peer].node_rank, me = net->node_rank;
  struct mpmp__mbox_out *o = &net->mbox_out[p];
  /* The doorbell first: a message put after this rings after it. */
  l->seq0 = atomic_load(&net->bells[me].seq);
  int flag = 0;
  MPMP__MPI_CHECK(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, net->comm, &flag,
                             MPI_STATUS_IGNORE),
                  "MPI_Iprobe before lending the mailboxes");
  if (flag || rings_waiting())
    return 0;
  pthread_mutex_lock(&o->lock);
  mpmp__mbox_t *out = mbox(me, p);
  int ok = o->mpi_sent == (o->mpi_done = atomic_load_explicit(
                               &out->mpi_done, memory_order_acquire));
  o->loaned = ok;
  pthread_mutex_unlock(&o->lock);
  l->in = mbox(p, me);
  l->out = out;
  l->cap = net->mbox_cap;
  l->peer_bell = &net->bells[p];
  l->my_bell = &net->bells[me];
  return ok;
}

void mpmp__mbox_unlend(int peer) {
  mpmp__net_t *net = &mpmp__net;
  int p = net->ranks[peer].node_rank, me = net->node_rank;
  struct mpmp__mbox_out *o = &net->mbox_out[p];
  mpmp__mbox_t *out = mbox(me, p);
  pthread_mutex_lock(&o->lock);
  o->tx.tail = atomic_load_explicit(&out->tail, memory_order_acquire);
  o->tx.head_seen = atomic_load_explicit(&out->head, memory_order_acquire);
  o->loaned = 0;
  pthread_mutex_unlock(&o->lock);
  net->mbox_in[p].head = atomic_load_explicit(&mbox(p, me)->head,
                                              memory_order_acquire);
  atomic_store_explicit(&net->mbox_seen, atomic_load(&net->bells[me].seq) - 1,
                        memory_order_relaxed); /* look at all */
}

/* Every mailbox, when the doorbell rang since the last look (a sender
 * rings after writing; other rings only cost a look). */
static int mbox_poll(void) {
  mpmp__net_t *net = &mpmp__net;
  if (net->mbox_cap == 0)
    return 0;
  uint32_t seq = atomic_load(&net->bells[net->node_rank].seq);
  if (seq == atomic_load_explicit(&net->mbox_seen, memory_order_relaxed))
    return 0;
  atomic_store_explicit(&net->mbox_seen, seq, memory_order_relaxed);
  int n = 0;
  for (int from = 0; from < net->node_size; from++)
    n += mbox_drain(from);
  return n;
}

/* ---- sends through MPI --------------------------------------------------- */

static int send_nb(MPI_Comm comm, int dest, int tag, const void *data,
                   void *owned, size_t len);

/* A task host shares the node's mailboxes and the worker's MPI state as
 * copies: a send from it would corrupt both. */
static int host_refuses(void) {
  return mpmp__err(MPMP_ENOTSUP, "not inside a task host (an isolated "
                   "task): this needs MPI (starting a Process or a Pool's "
                   "work, or messages other than an object's or a "
                   "Manager's), which a host may not call; run the task "
                   "with isolate = never");
}

/* In a host: through the worker, or refused. */
static int host_send(int dest, int tag, const void *hdr, size_t hlen,
                     const void *payload, size_t plen) {
  int rc = mpmp__relay_send(dest, tag, hdr, hlen, payload, plen);
  return rc == MPMP_ENOTSUP ? host_refuses() : rc;
}

int mpmp__send_nb(int dest, int tag, void *buf, size_t len) {
  if (__builtin_expect(mpmp__net.no_mpi, 0)) {
    int rc = host_send(dest, tag, buf, len, NULL, 0);
    mpmp__free(buf);
    return rc;
  }
  if (mbox_send(dest, tag, buf, len, NULL, 0)) {
    mpmp__free(buf);
    return 0;
  }
  return send_nb(mpmp__net.comm, dest, tag, buf, buf, len);
}

int mpmp__send_data_nb(int dest, int tag, const void *buf, size_t len) {
  if (__builtin_expect(mpmp__net.no_mpi, 0))
    return host_refuses();
  return send_nb(mpmp__net.data_comm, dest, tag, buf, NULL, len);
}

/* `owned` (may be NULL) is freed once the send of `data` completes. */
static int send_nb(MPI_Comm comm, int dest, int tag, const void *data,
                   void *owned, size_t len) {
  mpmp__net_t *net = &mpmp__net;
  void *buf = owned;
  mpmp__pending_t *p = mpmp__malloc(sizeof *p);
  if (p == NULL) {
    mpmp__free(buf);
    return mpmp__err(MPMP_ENOMEM, "out of memory for a send");
  }
  int rc = post_send(comm, dest, tag, data, len, &p->req);
  if (rc < 0) {
    mpmp__free(buf);
    mpmp__free(p);
    return rc;
  }
  p->buf = buf;
  p->data = data;
  p->len = len;
  p->dest = dest;
  pthread_mutex_lock(&net->send_lock);
  p->next = net->pending;
  net->pending = p;
  atomic_fetch_add(&net->npending, 1);
  if (!mpmp__is_local(dest))
    atomic_fetch_add(&net->npending_remote, 1);
  pthread_mutex_unlock(&net->send_lock);
  mpmp__ring_rank(dest);
  return 0;
}

_Thread_local int mpmp__in_handler;

void mpmp__dispatch(int src, int tag, void *buf, size_t len) {
  mpmp__handler_fn h = (tag > 0 && tag < MPMP__TAG_MAX)
                           ? mpmp__net.handlers[tag] : NULL;
  if (h == NULL) {
    MPMP__WARN("dropped a message with tag %d from rank %d: no handler", tag,
               src);
    mpmp__free(buf);
    return;
  }
  mpmp__in_handler++;
  mpmp__err_guard_begin();
  h(src, buf, len);
  mpmp__err_guard_end();
  mpmp__in_handler--;
}

/* Receive one probed MPI message and dispatch it, after what the sender's
 * mailbox holds (sent before it); then tell the sender it may use its
 * mailbox again. */
static void take_mpi(MPI_Message *msg, const MPI_Status *st) {
  mpmp__net_t *net = &mpmp__net;
  int count = 0, src = st->MPI_SOURCE;
  MPMP__MPI_CHECK(MPI_Get_count(st, MPI_BYTE, &count), "MPI_Get_count");
  void *buf = mpmp__malloc((size_t)count);
  if (buf == NULL) {
    /* Losing a message would hang someone: this is not recoverable. */
    MPMP__ERROR("out of memory receiving %d bytes from rank %d", count, src);
    mpmp__abort_job();
  }
  MPMP__MPI_CHECK(MPI_Mrecv(buf, count, MPI_BYTE, msg, MPI_STATUS_IGNORE),
                  "MPI_Mrecv of a message");
  /* A sender on this node waits for its synchronous send to be matched,
   * polling or asleep on its doorbell: it was, tell it now. */
  mpmp__ring_rank(src);
  int from = net->mbox_cap && mpmp__is_local(src) ? net->ranks[src].node_rank
                                                 : -1;
  if (from >= 0)
    mbox_drain(from);
  mpmp__dispatch(src, st->MPI_TAG, buf, (size_t)count);
  if (from >= 0)
    atomic_store_explicit(&mbox(from, net->node_rank)->mpi_done,
                          ++net->mbox_in[from].mpi_done, memory_order_release);
}

/*
 * An MPI probe is a tenth of a same-node round trip, and on one node it
 * finds nothing unless a rank of the node sent through MPI (a message too
 * big for its mailbox, or a full one): such a sender counts the message
 * in our doorbell's line before it posts it, and the probe runs only
 * while some are not taken yet. Ranks of other nodes cannot count: when
 * the job spans nodes, every poll probes. So does every poll while a
 * request of ours is in flight: the probe is also what makes MPI move its
 * fragments along.
 */
static int must_probe(void) {
  mpmp__net_t *net = &mpmp__net;
  return net->nnodes > 1 || net->mbox_cap == 0 ||
         atomic_load_explicit(&net->bells[net->node_rank].mpi_posted,
                              memory_order_acquire) !=
             atomic_load_explicit(&net->mpi_taken, memory_order_relaxed) ||
         atomic_load_explicit(&net->npending, memory_order_relaxed) > 0 ||
         atomic_load_explicit(&net->reqs_out, memory_order_relaxed) > 0;
}

/*
 * One thread of the rank progresses at a time. One that finds another at
 * it and is about to sleep leaves a request; the other, once it let go of
 * the lock, looks again if its doorbell rang since it began looking.
 * Otherwise a message that arrived after the other looked could wait for
 * good: this thread sleeps counting on the look it could not make, and
 * the other may not look again (the agent parks). A sender of this node
 * rings after its message is posted, so a message the other may have
 * missed always shows as a ring; one from another node cannot ring, but
 * sleeps are timed polls then. (Looking again every time cost a queue
 * between nodes a fifth of its speed: every MPI poll runs the TCP stack.)
 */
int mpmp__progress(void) { return mpmp__progress_before_sleep(0); }

/* Nothing new for this rank: the doorbell has not rung since the rings
 * were last read (by whichever thread: one still reading them dispatches
 * what they hold), and no MPI message or request needs a probe. A poll
 * then takes neither the progress lock nor its fences: a waiter polling a
 * same-node round trip spent a fifth of its time on them. */
static int nothing_new(void) {
  mpmp__net_t *net = &mpmp__net;
  return net->mbox_cap != 0 &&
         atomic_load_explicit(&net->bells[net->node_rank].seq,
                              memory_order_acquire) ==
             atomic_load_explicit(&net->mbox_seen, memory_order_relaxed) &&
         !must_probe();
}

int mpmp__progress_before_sleep(int sleeping) {
  mpmp__net_t *net = &mpmp__net;
  if (__builtin_expect(net->no_mpi, 0))
    return mpmp__relay_poll();
  _Atomic uint32_t *bell = &net->bells[net->node_rank].seq;
  int handled = 0;
  if (!sleeping && nothing_new()) /* (pending sends: must_probe is true) */
    return 0;
  if (sleeping)
    atomic_store(&net->progress_req, 1);
  while (pthread_mutex_trylock(&net->progress_lock) == 0) {
    atomic_store(&net->progress_req, 0); /* before we look (seq_cst) */
    uint32_t rung = atomic_load(bell);
    /* Teardown began (mpmp__drivers_end): no answer goes to a caller that
     * has left its wait (its call's record was on its stack) */
    for (; !atomic_load(&net->closing);) {
      int flag = 0, n = mbox_poll();
      MPI_Message msg;
      MPI_Status st;
      if (must_probe()) {
        MPMP__MPI_CHECK(MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, net->comm,
                                    &flag, &msg, &st),
                        "MPI_Improbe for messages");
      }
      if (flag) {
        if (mpmp__is_local(st.MPI_SOURCE))
          atomic_fetch_add_explicit(&net->mpi_taken, 1, memory_order_relaxed);
        take_mpi(&msg, &st);
        n++;
      }
      if (n == 0)
        break;
      handled += n;
    }
    pthread_mutex_unlock(&net->progress_lock);
    atomic_thread_fence(memory_order_seq_cst);
    if (!atomic_load_explicit(&net->progress_req, memory_order_relaxed) ||
        atomic_load(bell) == rung)
      break;
  }
  if (atomic_load(&net->npending) > 0)
    complete_pending();
  return handled;
}

/*
 * Post a send of bulk data (data_comm) and wait until it is through (see
 * post_send), ringing the receiver meanwhile (it may have slept through a
 * ring): first polling for MPMP_SPIN_US, then sleeping on this rank's
 * doorbell, which a receiver on this node rings once it has taken the
 * message, in growing steps (a receiver on another node cannot ring) so
 * that a sender to a busy or remote rank does not burn a core.
 */
static int post_and_ring(MPI_Comm comm, int dest, int tag, const void *buf,
                         size_t len, MPI_Request *req) {
  int rc = post_send(comm, dest, tag, buf, len, req);
  if (rc == 0)
    mpmp__ring_rank(dest);
  return rc;
}

int mpmp__send_post(int dest, int tag, const void *buf, size_t len,
                    MPI_Request *req) {
  if (__builtin_expect(mpmp__net.no_mpi, 0))
    return host_refuses();
  atomic_fetch_add(&mpmp__net.reqs_out, 1);
  int rc = post_and_ring(mpmp__net.data_comm, dest, tag, buf, len, req);
  if (rc < 0)
    atomic_fetch_sub(&mpmp__net.reqs_out, 1);
  return rc;
}

void mpmp__send_forget(MPI_Request *req) {
  if (*req != MPI_REQUEST_NULL)
    MPI_Request_free(req);
  atomic_fetch_sub(&mpmp__net.reqs_out, 1);
}

int mpmp__send_wait(int dest, MPI_Request *req, double deadline) {
  mpmp__bell_t *me = &mpmp__net.bells[mpmp__net.node_rank];
  double spin_until = mpmp__now() + mpmp__net.spin_s, nap = 5e-6;
  for (unsigned i = 1;; i++) {
    uint32_t seq = atomic_load(&me->seq);
    int done = 0;
    int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS)
      return mpmp__mpi_err(rc, "MPI_Test");
    if (done) {
      atomic_fetch_sub(&mpmp__net.reqs_out, 1);
      return 0;
    }
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

static int send_and_wait(MPI_Comm comm, int dest, int tag, const void *buf,
                         size_t len) {
  MPI_Request req;
  atomic_fetch_add(&mpmp__net.reqs_out, 1);
  int rc = post_and_ring(comm, dest, tag, buf, len, &req);
  if (rc < 0) {
    atomic_fetch_sub(&mpmp__net.reqs_out, 1);
    return rc;
  }
  return mpmp__send_wait(dest, &req, INFINITY);
}

int mpmp__send_data(int dest, int tag, const void *buf, size_t len) {
  if (__builtin_expect(mpmp__net.no_mpi, 0))
    return host_refuses();
  return send_and_wait(mpmp__net.data_comm, dest, tag, buf, len);
}

int mpmp__send(int dest, int tag, const void *hdr, size_t hlen,
               const void *payload, size_t plen) {
  if (__builtin_expect(mpmp__net.no_mpi, 0))
    return host_send(dest, tag, hdr, hlen, payload, plen);
  if (mbox_send(dest, tag, hdr, hlen, payload, plen))
    return 0;
  if (plen == 0)
    return send_and_wait(mpmp__net.comm, dest, tag, hdr, hlen);
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
  int rc = send_and_wait(mpmp__net.comm, dest, tag, buf, hlen + plen);
  if (buf != stackbuf)
    mpmp__free(buf);
  return rc;
}
