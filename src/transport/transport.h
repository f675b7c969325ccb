/*
 * The transport layer: every rank's doorbell in the node segment (bell.c),
 * the same-node mailboxes (mailbox.c), messages between ranks on mpmp's
 * private communicators with their handlers and the progress engine
 * (transport.c), and the sleeping waits and progress thread (wait.c).
 * Above base and topo; the runtime sets its state up at init.
 */
#ifndef MPMP_TRANSPORT_H
#define MPMP_TRANSPORT_H

#include <pthread.h>

#include "base.h"
#include "mailbox.h"

/* ---- waiting: doorbells in the node segment ----------------------------- */

/*
 * One doorbell per rank, in the node's shared segment. A sender on the same
 * node increments `seq` after its message is visible and wakes the rank's
 * sleepers with a futex; a sleeper records `seq`, re-checks its condition and
 * sleeps on `seq` only if nothing changed, so no wake-up is lost. Ranks on
 * other nodes cannot ring it: when the job spans nodes, sleeps are capped at
 * MPMP_POLL_MS and the rank polls MPI after each.
 */
typedef struct mpmp__bell {
  _Atomic uint32_t seq;
  _Atomic uint32_t sleepers;
  /* Not the bell's: the rank's task hosts up to this generation are dead
   * (written by its fork server, read by the objects layer; a word of the
   * rank's own line that no wake-up touches). */
  _Atomic uint32_t hosts_dead;
  /* MPI messages on the private communicator that ranks of this node
   * posted to this rank (transport.c): while it equals what the rank has
   * taken, and nothing else of MPI is pending, polls skip the probe. */
  _Atomic uint32_t mpi_posted;
  char pad[48]; /* one cache line per rank: no false sharing */
} mpmp__bell_t;

void mpmp__bell_ring(mpmp__bell_t *b);
/* Sleep until `b->seq` != seq or `timeout` seconds pass (negative: forever). */
void mpmp__bell_sleep(mpmp__bell_t *b, uint32_t seq, double timeout);
/* A ring that wakes only the sleepers whose `bits` it shares (futex
 * bitsets): mpmp__bell_ring and mpmp__bell_sleep use every bit. A worker
 * rings MPMP__BELL_HOST when it posted its task host's answer; the rank's
 * agent sleeps without that bit, so it is not woken for an answer that is
 * not its to take (it took the core before the host, ~10 us a remote call
 * from a host). */
#define MPMP__BELL_HOST 1u
#define MPMP__BELL_ALL 0xffffffffu
void mpmp__bell_ring_for(mpmp__bell_t *b, uint32_t bits);
void mpmp__bell_sleep_for(mpmp__bell_t *b, uint32_t seq, double timeout,
                          uint32_t bits);
/* Wake threads of this process waiting in mpmp__futex_wait_private(). */
void mpmp__futex_wake_private(_Atomic uint32_t *w, int n);
void mpmp__futex_wait_private(_Atomic uint32_t *w, uint32_t val, double timeout);

/* In a poll loop: give the core to another task of it if one waits for
 * it (sched_yield), else pause (wait.c says how it tells). */
void mpmp__poll_yield(void);

typedef int (*mpmp__pred_fn)(void *arg);
/*
 * Wait until pred(arg) is true, driving message progress meanwhile: poll
 * for MPMP_SPIN_US, then sleep on this rank's doorbell. 0 when pred became
 * true, MPMP_ETIMEDOUT at the deadline (absolute, mpmp__now() seconds).
 */
int mpmp__wait_until(mpmp__pred_fn pred, void *arg, double deadline);
/* The same for a thread that waits in the background while the rank's own
 * thread computes on the same core (a task host's flusher, object.c): it
 * never spins, and sleeps between polls; not counted as a driver. */
int mpmp__wait_quiet(mpmp__pred_fn pred, void *arg, double deadline);
/* Count this thread as driving progress across several waits in a row, so
 * that the agent stays parked in between (what mpmp__wait_until does). */
void mpmp__driver_enter(void);
void mpmp__driver_leave(void);

/* The progress thread ("agent") of every rank; see wait.c. */
int mpmp__agent_start(void);
void mpmp__agent_stop(void);
/* Teardown's first step: the waits of this rank's other threads in
 * mpmp__wait_until end with MPMP_ENOTINIT and progress dispatches no more
 * messages; waits up to max_s seconds for those threads to leave. Returns
 * how many are still inside. */
int mpmp__drivers_end(double max_s);

/* ---- transport: messages on the private communicator ------------------- */

enum {
  MPMP__TAG_RUN_PROC = 1, /* main -> worker: run a process body */
  MPMP__TAG_PROC_DONE,    /* worker -> main: the body returned */
  MPMP__TAG_TERMINATE,    /* main -> worker: set the stop flag */
  MPMP__TAG_SHUTDOWN,     /* main -> worker: leave the service loop */
  MPMP__TAG_RUN_CHUNK,    /* main -> worker: run a task over some items */
  MPMP__TAG_CHUNK_DONE,   /* worker -> main: their results and failures */
  MPMP__TAG_CHUNK_INPUT,  /* main -> worker: a chunk's items, received by
                             the RUN_CHUNK handler, sent from the caller's
                             memory */
  MPMP__TAG_CHUNK_DATA,   /* worker -> main: a map chunk's results, received
                             straight into the caller's output */
  MPMP__TAG_OBJ_REQ,      /* any -> a rank of an object's home node */
  MPMP__TAG_OBJ_REP,      /* its answer */
  MPMP__TAG_MGR_REQ,      /* any -> a Manager's server rank (manager.c) */
  MPMP__TAG_MGR_REP,      /* its answer */
  MPMP__TAG_TRACE,        /* worker -> main at the end: its MPMP_TRACE records */
  MPMP__TAG_NEST,         /* worker -> main: a task's nested submission
                             (parallel/proto.h) */
  MPMP__TAG_NEST_REP,     /* main -> worker: its answer */
  MPMP__TAG_HOST_DEAD,    /* worker -> a rank of another node: a task host
                             of the worker died (objects/object.c) */
  MPMP__TAG_REVOKE,       /* main -> worker: give back a queued chunk, not
                             begun (parallel/proto.h) */
  MPMP__TAG_MAX
};

/*
 * A handler owns `buf` (mpmp__malloc'ed) and must free or keep it. Handlers
 * run with the progress lock held, in whichever thread drives progress:
 * they must not block, and may only send small (eager) messages.
 */
typedef void (*mpmp__handler_fn)(int src, void *buf, size_t len);
/* How many map chunks' results a worker may have on their way at once. */
#define MPMP__RESULT_BUFS 3
void mpmp__set_handler(int tag, mpmp__handler_fn fn);
/* Receive and dispatch what has arrived; returns the number handled. */
int mpmp__progress(void);
/* The same, for a thread that sleeps next (sleeping = 1) unless something
 * was handled: if another thread is progressing, it looks again for us. */
int mpmp__progress_before_sleep(int sleeping);
/* Send `len` bytes (header and payload gathered) to world rank `dest`. */
int mpmp__send(int dest, int tag, const void *hdr, size_t hlen,
               const void *payload, size_t plen);
/*
 * Send without waiting: `buf` (mpmp__malloc'ed, `len` bytes) is owned by
 * the transport and freed once the send completes. Safe inside handlers.
 * Progress completes it; while sends are pending, sleeps are capped so
 * that the sender keeps pushing them even when nobody else calls MPI.
 */
int mpmp__send_nb(int dest, int tag, void *buf, size_t len);
/*
 * Bulk data that the receiving handler takes itself with MPI_Recv/Irecv
 * on rt->data_comm right after the message announcing it: always MPI,
 * never a mailbox, so the progress loop's probes never see it.
 *   send_data_nb: memory the caller keeps valid until the send completes;
 *   send_data: waits until it went out;
 *   send_post + send_wait: post it, and wait for it later (rings the
 *   receiver meanwhile; polls, then sleeps): 0 once it went out,
 *   MPMP_ETIMEDOUT at the deadline (the send is still pending).
 */
int mpmp__send_data_nb(int dest, int tag, const void *buf, size_t len);
/* Wait until no non-blocking send reads from [lo, lo + len) any more (the
 * receivers took them: they do at once, whatever they compute): 0, or
 * MPMP_ETIMEDOUT at the deadline. */
int mpmp__sends_wait_range(const void *lo, size_t len, double deadline);
int mpmp__send_data(int dest, int tag, const void *buf, size_t len);
int mpmp__send_post(int dest, int tag, const void *buf, size_t len,
                    MPI_Request *req);
int mpmp__send_wait(int dest, MPI_Request *req, double deadline);
/* Give up on a send_post's request (MPI_Request_free: MPI finishes it, or
 * never does): it no longer counts as in flight. */
void mpmp__send_forget(MPI_Request *req);
/* The same-node mailboxes (mailbox.h) in the node segment; area NULL or
 * cap 0: every message goes through MPI. */
int mpmp__transport_setup(char *area, size_t cap);
void mpmp__transport_fini(void);
/* 0: no send pending; 1: only to ranks of this node (they ring us once
 * they took it); 2: some to another node (nobody will ring: poll). */
int mpmp__sends_pending(void);
/* Ring a rank's doorbell if it lives on this node. */
void mpmp__ring_rank(int rank);


/*
 * Lending the mailbox pair with a rank of this node to a task host
 * (parallel/host.c): while its worker is idle, the host takes that rank's
 * messages and sends its answers itself, and the worker sleeps. The
 * caller holds the progress lock for the whole loan, so that no thread of
 * the rank reads the rings meanwhile; a send of ours to the peer during
 * the loan goes through MPI. mpmp__mbox_lend is 1 when lent: every ring
 * into this rank was empty, no MPI message was waiting, no send or other
 * request of ours was in flight (nobody would push it along) and the peer
 * had dispatched our MPI messages; 0 otherwise.
 * mpmp__mbox_unlend takes the rings back as the host left them.
 */
typedef struct mpmp__mbox_loan {
  mpmp__mbox_t *in, *out; /* peer -> us (the host takes), us -> peer */
  size_t cap;
  mpmp__bell_t *peer_bell, *my_bell;
  uint32_t seq0;          /* our doorbell before the rings were checked */
} mpmp__mbox_loan_t;
int mpmp__mbox_lend(int peer, mpmp__mbox_loan_t *l);
void mpmp__mbox_unlend(int peer);

/* ---- the job's shape and the transport's state -------------------------- */

typedef struct mpmp__rank_info {
  int pid;
  int node;        /* node index 0..nnodes-1 */
  int node_rank;   /* index on its node */
  int numa;        /* NUMA node OS index, -1 if several/none */
  char host[64];
  char cores[64];
} mpmp__rank_info_t;

/*
 * Where this rank stands in the job and how it talks to the others. The
 * runtime fills the first part at init (make_comms, number_nodes,
 * gather_ranks, make_segment) and the layers above read it; the rest is
 * the transport's own.
 */
typedef struct mpmp__net {
  MPI_Comm comm;            /* private duplicate of MPI_COMM_WORLD */
  MPI_Comm data_comm;       /* another: bulk data received by handlers */
  int rank, size, node_rank, node_size, node, nnodes;
  int *world_of_node_rank;  /* node rank -> world rank (this node) */
  mpmp__rank_info_t *ranks; /* every rank of the job, indexed by rank */
  mpmp__bell_t *bells;      /* in the node segment, indexed by node rank */
  double spin_s, poll_s;    /* MPMP_SPIN_US, MPMP_POLL_MS */
  int spin_yield;           /* yield at every poll: our cores are crowded */

  /* same-node mailboxes (transport.c) */
  char *mbox_area;          /* in the node segment; NULL: off */
  size_t mbox_cap;          /* bytes per ring; 0: off */
  struct mpmp__mbox_out {   /* per node rank we send to */
    pthread_mutex_t lock;   /* our threads take turns on the ring */
    mpmp__mbox_tx_t tx;
    uint64_t mpi_sent;      /* our MPI messages to it ... */
    uint64_t mpi_done;      /* ... and how many it dispatched, last seen */
    int loaned;             /* lent to our task host (mpmp__mbox_lend) */
  } *mbox_out;
  struct mpmp__mbox_in {    /* per node rank we receive from */
    uint64_t head, mpi_done;
  } *mbox_in;
  /* Written under progress_lock; read without it by a poll that skips the
   * lock when nothing is new (mpmp__progress), hence atomic (relaxed). */
  _Atomic uint32_t mbox_seen; /* our doorbell when the rings were last read */
  _Atomic uint32_t mpi_taken; /* same-node MPI messages taken (mpi_posted) */
  _Atomic int reqs_out;     /* MPI requests of ours outside `pending`
                               (mpmp__send_post's) not completed yet */

  /* progress */
  pthread_mutex_t progress_lock;
  _Atomic int progress_req; /* a thread found the lock taken: look again */
  pthread_mutex_t send_lock;      /* guards the pending sends */
  struct mpmp__pending *pending;  /* non-blocking sends in flight */
  _Atomic int npending, npending_remote;
  mpmp__handler_fn handlers[MPMP__TAG_MAX];
  _Atomic uint32_t drivers; /* threads of this rank waiting in mpmp__wait_until */
  _Atomic int closing;      /* teardown began: waits of other threads end
                               (MPMP_ENOTINIT), progress dispatches nothing */
  pthread_t agent;
  int agent_running;
  _Atomic int agent_stop;
  _Atomic int agent_deep;   /* the parked agent wants a wake when drivers hits 0 */
  /* A task host (parallel/host.c): a child of a worker that must never
   * call MPI. Its requests to objects of other nodes and to the Manager
   * go through its worker (relay.c), progress takes what the worker
   * relayed back, and any other send fails with MPMP_ENOTSUP. */
  int no_mpi;
  uint64_t host_cookie;     /* in a host: ORed into its requests' cookies */
} mpmp__net_t;

extern mpmp__net_t mpmp__net;

int mpmp__is_local(int rank); /* same node as this rank */
/* Hand a received message to the handler of its tag. */
void mpmp__dispatch(int src, int tag, void *buf, size_t len);
/* Non-zero while this thread runs a message handler (which must not wait
 * for other messages: the objects' fence returns at once there). */
extern _Thread_local int mpmp__in_handler;

/* 0, or MPMP_EPERM (with its message) where a call of `fn` would wait for
 * other messages inside a handler: a done-callback of a result or future
 * runs there, holding the rank's progress, so nothing it waits for could
 * ever arrive (the job hung). Public calls that wait ask this first,
 * before they change anything. */
int mpmp__may_wait(const char *fn);
/* The same for a wait until `deadline`: a zero timeout (-INFINITY) only
 * looks, also in a done-callback (as Python's wait(fs, timeout=0) and
 * join(0) there): 0 for it. */
int mpmp__may_wait_for(const char *fn, double deadline);

/* ---- the relay of task hosts (relay.c) ---------------------------------- */

/* A request made in a task host carries this mark and the host's
 * generation (bits 48..62) in its cookie; cookies are below bit 48. */
#define MPMP__COOKIE_HOST (1ull << 63)
#define MPMP__COOKIE_GEN_MASK 0x7fffu
#define MPMP__COOKIE_MASK ((1ull << 48) - 1)
/* The worker: the channel, made before its fork server; `wake` is the
 * shared futex word the worker sleeps on while its host runs. */
int mpmp__relay_open(_Atomic uint32_t *wake);
void mpmp__relay_close(void);
/* The worker, before it starts host generation `gen`: forget what an
 * earlier host left. */
void mpmp__relay_reset(uint32_t gen);
/* The worker, while its host runs: pass the host's message on and the
 * answers back. The number of messages moved. */
int mpmp__relay_serve(void);
/* The worker: a message it passed on has had no answer yet (it then
 * drives progress itself: its agent polls other nodes only now and then). */
int mpmp__relay_awaiting(void);
/* The worker: its host has posted a message not taken yet. */
int mpmp__relay_pending(void);
/* The worker: 1 if it passed on an object request of its current host
 * (since the last mpmp__relay_reset) to a rank of node `node`, another
 * node, so that objects there may hold the host's owner id; the mark is
 * cleared (a dead host's death is told once). */
int mpmp__relay_take_reached(int node);
/* A reply handler, with the cookie of the reply's request: 1 if the reply
 * belongs to this worker's task host (the relay took `buf`), 0 if it is
 * this process's own. */
int mpmp__relay_reply(int tag, void *buf, size_t len, uint64_t cookie);
/* In a new host: mark its requests, relay its sends. */
void mpmp__relay_enter_host(uint32_t gen);
/* In a host: send through the worker (only object and Manager requests:
 * else MPMP_ENOTSUP); take and dispatch a relayed answer (0 or 1). */
int mpmp__relay_send(int dest, int tag, const void *hdr, size_t hlen,
                     const void *payload, size_t plen);
int mpmp__relay_poll(void);
/* What a run of mpmp leaves in the transport's plain fields, set back
 * before a later mpmp_init() (see the runtime's reset_run_state). */
void mpmp__net_reset(void);

#endif /* MPMP_TRANSPORT_H */
