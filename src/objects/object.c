/*
 * Shared objects: the node heap they live in, their handles, and the path
 * every operation takes (see object.h).
 *
 * Handles. A handle names (node, heap offset, generation, kind, type) and
 * carries a 32-bit tag that hashes those fields with a secret drawn at
 * init: zeroed or random bytes fail the tag (all but 1 in 2^32), a handle
 * of one kind passed where another is expected fails the kind check, and a
 * freed object's handle fails the generation check on the home node (every
 * create takes a fresh generation from the node's counter and free zeroes
 * it), so a stale handle never reaches the memory of whatever was allocated
 * there since.
 *
 * Remote operations. A caller on another node sends OBJ_REQ to a rank of
 * the home node (chosen by the caller's rank, to spread the load) and waits
 * for OBJ_REP, sleeping as any mpmp wait does. The home rank's progress
 * engine (its agent thread while the rank computes) runs the operation on
 * the shared memory at once; one that must wait (a lock held, an unset
 * event, a barrier) is tried once and then handed to a helper thread that
 * waits with the caller's timeout and sends the reply itself, so the
 * progress engine never blocks. Why messages and not MPI one-sided
 * operations: README, "Design" (in short: Open MPI's RMA between nodes over
 * TCP is not passive and refuses MPI_THREAD_MULTIPLE).
 *
 * Lifetime. A free must not pull the memory from under a call that is
 * using the object: a call blocked in it (a get on an empty queue, the
 * acquire of a held lock) would otherwise sleep for ever on a block the
 * heap has given to a new object, or wake up in it and write there. So
 * every operation that runs through this file (mpmp__obj_call, here or for
 * a remote caller, helpers included) holds a reference while it runs: the
 * high half of the header's `life` word counts them, the low half is the
 * generation. enter is one CAS that adds a reference only while the
 * generation is still the handle's, so a stale handle never writes into a
 * block that was reused (the CAS fails unless the word is exactly the one
 * it read). A free sets the generation to 0, keeping the count, marks
 * every futex word of the object dead and wakes its sleepers (the kind's
 * kill function), which return MPMP_EBADF; whoever leaves last, the free
 * itself if nobody else is inside, gives the block back. A free therefore
 * never waits for the waiters it wakes.
 *   Lanes. Every call reads the header line (the generation), so counting
 * there would make it a line that every call also writes: it would move
 * between the cores of a producer and a consumer at every item (measured:
 * a queue ping-pong 20-50% slower, half the throughput). A kind may
 * therefore count its calls in lanes instead: words like `life` on lines
 * its calls write anyway (a queue's tail line for puts, its head line for
 * gets, a lock's own line), each holding one reference in the header while
 * open. A free sets the header's generation to 0, then closes the lanes
 * (their generation to 0; a lane with no call inside drops its header
 * reference at once, the others when their last call leaves). A call that
 * enters a lane between the two runs on a dead object and sees it dead;
 * its reference still keeps the block.
 *   The hot paths that bypass mpmp__obj_call hold no reference: a Value's
 * load, store and atomic arithmetic, and a Lock's acquire of a free lock
 * and its release (value.c, sync.c). Counting them would put two atomic
 * read-modify-writes on a line every user of the object reads into calls
 * that are one atomic instruction today (lock_uncontended_ns and
 * value_atomic_add_per_s would lose a factor of two or more, and more with
 * several ranks on the object). None of them sleeps: an acquire that has
 * to wait goes through mpmp__obj_call and is counted. What is left is the
 * race of those few loads and stores with a free that runs at the same
 * moment, which is a race as freeing memory under a running C call is
 * (mpmp/shared.h says so).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "heap.h"
#include "object.h"

#define OBJ_MAGIC 0x4a424f4du /* "MOBJ" */
#define LOCK_SLOT MPMP__LOCK_SLOT /* an embedded lock (and its lane) */
_Static_assert(sizeof(mpmp_ref_t) == 24, "handles are 24 bytes");

/* The node control block, between the doorbells and the heap. */
typedef struct mpmp__node_ctl {
  _Atomic uint32_t next_gen;
  uint32_t pad;
  _Atomic uint64_t nobjects;
  _Atomic uint64_t roots[MPMP__NODE_ROOTS]; /* heap offsets, 0: not yet */
  char pad2[48 - 8 * MPMP__NODE_ROOTS];
} mpmp__node_ctl_t;

_Static_assert(sizeof(mpmp__node_ctl_t) == MPMP__CTL_SIZE, "one line");

static struct {
  mpmp__op_fn fn;
  int blocking;
} ops[MPMP__OP_MAX];

static mpmp__kind_ops_t kinds[MPMP__K_MAX];

/* Where a call counts itself (mpmp__obj_lane): a table, not a function
 * per kind, as every operation looks it up. > 0: a lane that many bytes
 * into the body; LANE_LOCK: the object's own lock's; 0: the header. */
#define LANE_LOCK (-1)
static int16_t lane_at[MPMP__K_MAX][MPMP__OP_MAX];

void mpmp__op_register(int op, mpmp__op_fn fn, int blocking) {
  ops[op].fn = fn;
  ops[op].blocking = blocking;
}

void mpmp__kind_register(int kind, const mpmp__kind_ops_t *k) {
  kinds[kind] = *k;
}

void mpmp__lane_register(int kind, int op, int at) {
  lane_at[kind][op] = (int16_t)at;
}

/* The lock operations count in the lock's own line, whatever holds it. */
static void lock_lanes_register(void) {
  static const int holders[] = {MPMP__K_VALUE, MPMP__K_ARRAY, MPMP__K_LOCK,
                                MPMP__K_COND};
  for (size_t i = 0; i < sizeof holders / sizeof holders[0]; i++)
    for (int op = MPMP__OP_LOCK_ACQUIRE; op <= MPMP__OP_LOCK_MINE; op++)
      lane_at[holders[i]][op] = LANE_LOCK;
}

static const char *kind_name(int kind) {
  static const char *names[MPMP__K_MAX] = {
      "?", "Value", "Array", "Lock", "Semaphore", "Event", "Condition",
      "Barrier", "Queue", "Pipe connection"};
  return kind > 0 && kind < MPMP__K_MAX ? names[kind] : "?";
}

/* ---- owner ids ------------------------------------------------------------- */

/* The hot calls read these thread-locals: the initial-exec model makes
 * each read one instruction instead of a call into the dynamic linker
 * (libmpmp is linked, not dlopen()ed; glibc keeps room for a few such
 * variables in libraries loaded later anyway). */
#define MPMP__TLS_FAST __attribute__((tls_model("initial-exec")))

static _Atomic uint32_t own_counter;
/* The counter is this process's own, or one it shares with its task hosts
 * (mpmp__owner_counter_at): a worker's ids must stay distinct while it
 * starts hosts (which take theirs from their generation, below). */
static _Atomic uint32_t *thread_counter = &own_counter;
static _Thread_local uint64_t tl_owner MPMP__TLS_FAST;
/* In a task host: its generation (never 0), and its threads so far. */
static uint32_t host_gen;
static _Atomic uint32_t host_threads;

uint32_t mpmp__claim_self;
uint64_t mpmp__test_put_die, mpmp__test_get_die, mpmp__test_dict_die;

/* A fresh id (the layout: shsync.h). A host's say whose host it is and
 * which one, for the locks and queues that outlive it (mpmp__owner_dead). */
__attribute__((noinline)) static uint64_t owner_draw(void) {
  uint64_t id = (uint64_t)(mpmp__net.rank + 1) << MPMP__OWNER_RANK_SHIFT;
  if (host_gen == 0)
    return id | (atomic_fetch_add(thread_counter, 1) + 1);
  /* (after 65536 threads and Process bodies in one host, an id repeats) */
  uint32_t t = (atomic_fetch_add(&host_threads, 1) + 1) & 0xffffu;
  return id | MPMP__OWNER_HOST |
         (uint64_t)(host_gen & MPMP__OWNER_GEN_MASK) << MPMP__OWNER_GEN_SHIFT |
         t;
}

/*
 * A lock's owner is a process incarnation and a thread, as Python's is
 * (pid, thread): a Process body that ends holding a lock must not hand it
 * to the next body that runs on the same rank and thread. So the id is not
 * the thread's for life: the worker renews it for each Process body
 * (mpmp__owner_renew), and any thread the body starts takes a fresh one on
 * first use. The rank in the top bits makes ids unique in the job. Renewing
 * costs nothing on the hot path: the next mpmp__owner_id() takes the fresh
 * value, as for a new thread.
 */
uint64_t mpmp__owner_id(void) {
  if (tl_owner == 0)
    tl_owner = owner_draw();
  return tl_owner;
}

void mpmp__owner_renew(void) { tl_owner = 0; }

void mpmp__owner_counter_at(_Atomic uint32_t *shared) {
  _Atomic uint32_t *to = shared ? shared : &own_counter;
  if (to != thread_counter)
    atomic_store(to, atomic_load(thread_counter));
  thread_counter = to;
}

/* A queue slot's claim (queue.c) holds 31 bits: the node rank + 1 in bits
 * 30..16, the generation's low 16 bits below. */
#define CLAIM_NODE_SHIFT 16
#define CLAIM_NODE_MAX 0x7fffu
#define CLAIM_GEN_MASK 0xffffu

void mpmp__owner_host(uint32_t gen) {
  host_gen = gen;
  atomic_store(&host_threads, 0);
  tl_owner = 0;
  uint32_t nr = (uint32_t)mpmp__net.node_rank + 1;
  mpmp__claim_self = nr <= CLAIM_NODE_MAX
                         ? nr << CLAIM_NODE_SHIFT | (host_gen & CLAIM_GEN_MASK)
                         : 0; /* a node of 32767 ranks: not looked for */
  mpmp__heap_set_host(mpmp__claim_self, mpmp__claim_dead);
  /* Test only: tests/mpi/test_ownerdead.c kills a host between the claim
   * and the publication of a put, or the claim and the freeing of a get
   * (queue.c); unset, they cost nothing. */
  const char *die = getenv("MPMP_TEST_HOST_DIE_ON_PUT");
  mpmp__test_put_die = die != NULL && *die ? strtoull(die, NULL, 10) + 1 : 0;
  die = getenv("MPMP_TEST_HOST_DIE_ON_GET");
  mpmp__test_get_die = die != NULL && *die ? strtoull(die, NULL, 10) + 1 : 0;
  die = getenv("MPMP_TEST_HOST_DIE_ON_DICT_SET");
  mpmp__test_dict_die = die != NULL && *die ? strtoull(die, NULL, 10) + 1 : 0;
}

void mpmp__owner_host_dead(uint32_t gen) {
  if (mpmp__net.bells != NULL)
    atomic_store(&mpmp__net.bells[mpmp__net.node_rank].hosts_dead, gen);
}

/* Generation g (its low `mask` bits) is at or before the record `dead`, in
 * serial-number order: hosts run one at a time, so the live one is
 * dead + 1, and the ones before it are dead. */
static int gen_dead(uint32_t dead, uint32_t g, uint32_t mask) {
  return ((dead - g) & mask) <= mask / 2;
}

/* The record of node rank nr's dead hosts (0 where none is kept). */
static uint32_t hosts_dead(uint32_t nr) {
  if (mpmp__net.bells == NULL || nr >= (uint32_t)mpmp__net.node_size)
    return 0;
  return atomic_load(&mpmp__net.bells[nr].hosts_dead);
}

/*
 * Dead hosts of other nodes. A task host reaches objects of another node
 * through its worker (transport/relay.c), and the home node's helper runs
 * the operation with the host's owner id: a Lock or RLock there (a
 * Condition's lock, a Pipe's side lock) may be held by a host of another
 * node. Its death is seen by its fork server, which writes only its own
 * node's record (mpmp__owner_host_dead), so the home node must be told:
 *   - the worker notes the nodes its current host sent object requests to
 *     (mpmp__relay_take_reached: none for a host that stayed on its node, so a
 *     host's death costs nothing more there, nor any maxtasksperchild
 *     replacement of such hosts);
 *   - once it sees the host dead (mpmp__owner_host_gone, from host.c:
 *     before it reports the death to anyone), it sends each of those nodes
 *     a MPMP__TAG_HOST_DEAD message (rank, generation): to the main rank on
 *     the main rank's node, so that the main rank has it before the body's
 *     or item's end, which the same worker sends it next (MPI keeps one
 *     sender's messages in order), and elsewhere to the rank that served the
 *     worker's requests (home_rank);
 *   - the handler there advances a per-rank record in the node heap (a
 *     node root of one word per rank of the job, made at the first such
 *     message), which mpmp__owner_dead reads for owners of other nodes just
 *     as it reads the doorbells' records for its own node's.
 * Nobody else has to act: a waiter blocked on such a lock already looks
 * every MPMP__SHLOCK_DEAD_SLICE_S while its holder is a task host
 * (shsync.c), and the next one takes it over with MPMP_EOWNERDEAD. The
 * fast paths are unchanged; the only new cost is the look in the record
 * when a holder is a host, and one small message per node reached when a
 * host that reached other nodes dies. Not seen: a host whose worker cannot
 * send (out of memory: warned), or a home node whose heap cannot hold the
 * record (warned); their locks stay held, as before.
 */
static _Atomic uint32_t *remote_dead(int make) {
  mpmp__rt_t *rt = &mpmp__rt;
  if (rt->node_ctl == NULL || rt->heap_base == NULL)
    return NULL;
  if (make)
    return mpmp__node_root(MPMP__ROOT_HOSTS_DEAD,
                           (size_t)mpmp__net.size * sizeof(uint32_t));
  uint64_t off = atomic_load_explicit(
      &rt->node_ctl->roots[MPMP__ROOT_HOSTS_DEAD], memory_order_acquire);
  return off != 0 ? (_Atomic uint32_t *)(void *)(rt->heap_base + off) : NULL;
}

typedef struct host_dead_msg {
  int32_t rank;
  uint32_t gen;
} host_dead_msg_t;

static void on_host_dead(int src, void *buf, size_t len) {
  host_dead_msg_t m;
  int ok = len == sizeof m;
  if (ok)
    memcpy(&m, buf, sizeof m);
  mpmp__free(buf);
  if (!ok || m.rank < 0 || m.rank >= mpmp__net.size || m.gen == 0 ||
      mpmp__net.ranks[m.rank].node == mpmp__net.node) {
    MPMP__WARN("dropped a malformed note of a dead task host from rank %d",
               src);
    return;
  }
  _Atomic uint32_t *t = remote_dead(1);
  if (t == NULL) {
    MPMP__WARN("the node heap has no room to record that a task host of "
               "rank %d died: locks it held here stay held", m.rank);
    return;
  }
  /* only forward (in serial order): the notes of one rank come in order,
   * but to different ranks of this node if it is the main rank's */
  uint32_t cur = atomic_load(&t[m.rank]);
  while ((cur == 0 || !gen_dead(cur, m.gen, UINT32_MAX)) &&
         !atomic_compare_exchange_weak(&t[m.rank], &cur, m.gen))
    ;
}

static int home_rank(uint32_t node);

void mpmp__owner_host_gone(uint32_t gen) {
  if (gen == 0 || mpmp__net.nnodes < 2 || mpmp__net.ranks == NULL ||
      mpmp__rt.node_first == NULL)
    return;
  int main_node = mpmp__net.ranks[0].node;
  for (int node = 0; node < mpmp__net.nnodes; node++) {
    if (node == mpmp__net.node || !mpmp__relay_take_reached(node))
      continue;
    host_dead_msg_t *m = mpmp__malloc(sizeof *m);
    int dest = node == main_node ? 0 : home_rank((uint32_t)node);
    if (m == NULL) {
      MPMP__WARN("out of memory telling rank %d that a task host died: "
                 "locks it held there stay held", dest);
      continue;
    }
    *m = (host_dead_msg_t){.rank = mpmp__net.rank, .gen = gen};
    if (mpmp__send_nb(dest, MPMP__TAG_HOST_DEAD, m, sizeof *m) < 0)
      MPMP__WARN("could not tell rank %d that a task host died: %s", dest,
                 mpmp_errmsg());
  }
}

int mpmp__owner_dead(uint64_t owner) {
  int rank = mpmp__owner_rank(owner);
  if (!mpmp__owner_is_host(owner) || rank < 0 || rank >= mpmp__net.size ||
      mpmp__net.ranks == NULL)
    return 0;
  uint32_t dead;
  if (mpmp__net.ranks[rank].node == mpmp__net.node) {
    dead = hosts_dead((uint32_t)mpmp__net.ranks[rank].node_rank);
  } else {
    _Atomic uint32_t *t = remote_dead(0);
    dead = t != NULL ? atomic_load(&t[rank]) : 0;
  }
  return dead != 0 &&
         gen_dead(dead, (uint32_t)(owner >> MPMP__OWNER_GEN_SHIFT),
                  MPMP__OWNER_GEN_MASK);
}

uint32_t mpmp__owner_claim(uint64_t owner) {
  int rank = mpmp__owner_rank(owner);
  if (!mpmp__owner_is_host(owner) || rank < 0 || rank >= mpmp__net.size ||
      mpmp__net.ranks == NULL || mpmp__net.ranks[rank].node != mpmp__net.node)
    return 0;
  uint32_t nr = (uint32_t)mpmp__net.ranks[rank].node_rank + 1;
  return nr <= CLAIM_NODE_MAX
             ? nr << CLAIM_NODE_SHIFT |
                   ((uint32_t)(owner >> MPMP__OWNER_GEN_SHIFT) & CLAIM_GEN_MASK)
             : 0;
}

int mpmp__claim_dead(uint32_t claim) {
  uint32_t nr = claim >> CLAIM_NODE_SHIFT & CLAIM_NODE_MAX;
  if (nr == 0)
    return 0;
  uint32_t dead = hosts_dead(nr - 1);
  return dead != 0 && gen_dead(dead, claim, CLAIM_GEN_MASK);
}

/* ---- handles --------------------------------------------------------------- */


/* Every field moves the result (odd multipliers are bijective), and the
 * final mix spreads them over the 32 bits kept. */
static uint32_t ref_tag(const mpmp_ref_t *r) {
  uint64_t h = mpmp__rt.obj_secret ^ r->off;
  h ^= ((uint64_t)r->node << 32 | r->gen) * 0x9e3779b97f4a7c15ULL;
  h ^= ((uint64_t)r->kind << 16 | r->type) * 0xc2b2ae3d27d4eb4fULL;
  return (uint32_t)(mpmp__mix64(h) >> 32);
}

static int bad_handle(const char *fn, const char *why) {
  return mpmp__err(MPMP_EBADF, "%s: %s", fn, why);
}

int mpmp__ref_check(const mpmp_ref_t *ref, int kind, const char *fn) {
  if (ref == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the handle pointer is NULL", fn);
  if (ref->tag != ref_tag(ref) || ref->gen == 0)
    return bad_handle(fn, ref->gen == 0 && ref->off == 0
                              ? "the handle was never created (all zeros?)"
                              : "not a handle made by mpmp in this job "
                                "(garbage or corrupted bytes)");
  if (ref->node >= (uint32_t)mpmp__net.nnodes)
    return bad_handle(fn, "the handle names a node this job does not have");
  if (ref->kind != kind)
    return mpmp__err(MPMP_EBADF, "%s: this is the handle of %s %s, not of "
                     "%s %s", fn, mpmp__a(kind_name(ref->kind)),
                     kind_name(ref->kind), mpmp__a(kind_name(kind)),
                     kind_name(kind));
  return 0;
}

int mpmp__obj_alive(const mpmp_ref_t *ref, int kind, const char *fn) {
  int rc = mpmp__check_init(fn);
  if (rc < 0 || (rc = mpmp__ref_check(ref, kind, fn)) < 0)
    return rc;
  if (mpmp__ref_is_local(ref))
    return mpmp__obj_resolve(ref) != NULL
               ? 0 : bad_handle(fn, "stale handle: the object was freed");
  mpmp__oparg_t a = {0};
  rc = mpmp__obj_call(ref, kind, MPMP__OP_INFO, &a, fn);
  return rc < 0 ? rc : 0;
}

int mpmp__ref_is_local(const mpmp_ref_t *ref) {
  return ref->node == (uint32_t)mpmp__net.node;
}

mpmp__obj_t *mpmp__obj_resolve(const mpmp_ref_t *ref) {
  mpmp__rt_t *rt = &mpmp__rt;
  uint64_t off = ref->off;
  /* no heap (before init, after finalize): nothing lives */
  if (rt->heap_base == NULL || off < 64 || off % 64 != 0 ||
      off > rt->heap_size - 64)
    return NULL;
  mpmp__obj_t *o = (mpmp__obj_t *)(void *)(rt->heap_base + off);
  if (mpmp__obj_gen(o) != ref->gen || o->magic != OBJ_MAGIC)
    return NULL;
  if (o->kind == ref->kind)
    return o;
  /* a lock handle may name the lock inside a Value, Array or Condition */
  if (ref->kind == MPMP__K_LOCK &&
      (o->flags & (MPMP__OF_LOCK | MPMP__OF_EXTLOCK)))
    return o;
  return NULL;
}

mpmp__shlock_t *mpmp__obj_own_lock(mpmp__obj_t *o) {
  if (o->flags & MPMP__OF_LOCK)
    return (mpmp__shlock_t *)(void *)((char *)o + o->lock_off);
  return (mpmp__shlock_t *)mpmp__obj_data(o); /* a Lock object */
}

/* Links followed from a Condition to the object that holds its lock (the
 * Lock given may be another Condition's, from mpmp_cond_get_lock). Each
 * link names an object created before, so there is no cycle; the bound
 * only keeps garbage from looping. */
#define EXT_DEPTH 64

mpmp__shlock_t *mpmp__obj_lock_enter(mpmp__obj_t *o, mpmp__obj_t **held) {
  const mpmp_ref_t *ext = NULL;
  *held = NULL;
  for (int depth = 0; o->flags & MPMP__OF_EXTLOCK; depth++) {
    ext = &o->ext;
    if (depth == EXT_DEPTH || (o = mpmp__obj_resolve(ext)) == NULL)
      break;
  }
  /* The Lock's own reference: the caller may sleep in it (a Condition's
   * wait takes it back), and a free of the Lock meanwhile must not give
   * its block away. */
  if (ext != NULL &&
      (o == NULL ||
       !mpmp__obj_enter(o, mpmp__lock_lane(mpmp__obj_own_lock(o)),
                        ext->gen))) {
    mpmp__err(MPMP_EBADF, "the Lock of this Condition was freed");
    return NULL;
  }
  *held = ext != NULL ? o : NULL;
  return mpmp__obj_own_lock(o);
}

static void make_ref(mpmp_ref_t *r, uint64_t off, uint32_t gen, int kind,
                     int type) {
  memset(r, 0, sizeof *r);
  r->off = off;
  r->node = (uint32_t)mpmp__net.node;
  r->gen = gen;
  r->kind = (uint16_t)kind;
  r->type = (uint16_t)type;
  r->tag = ref_tag(r);
}

void mpmp__obj_lock_ref(const mpmp_ref_t *ref, mpmp_ref_t *lock) {
  *lock = *ref;
  lock->kind = MPMP__K_LOCK;
  lock->type = 0;
  lock->tag = ref_tag(lock);
}

/* Put the public call's name in front of an operation's message. */
static int with_fn(int rc, const char *fn) {
  char msg[512];
  if (rc == MPMP_ETIMEDOUT)
    return mpmp__err(rc, "%s: timed out", fn);
  snprintf(msg, sizeof msg, "%s", mpmp_errmsg());
  return mpmp__err(rc, "%s: %s", fn, msg);
}

/* ---- create and free ------------------------------------------------------- */

int mpmp__obj_guard(const char *fn) {
  mpmp__waits_hold(1);
  mpmp__waits_join();
  /* listed, then the state: finalize stores the state, then reads the
   * list (seq_cst both, shsync.c), so it sees us or we see it */
  int rc = mpmp__check_init(fn);
  if (rc < 0)
    mpmp__waits_hold(-1);
  return rc;
}

int mpmp__obj_unguard(int rc) {
  mpmp__waits_hold(-1);
  return rc;
}

int mpmp__obj_create(mpmp_ref_t *ref, int kind, int type, uint64_t n,
                     uint32_t esize, size_t body, int lock, mpmp__obj_t **out,
                     const char *fn) {
  mpmp__rt_t *rt = &mpmp__rt;
  int rc = mpmp__check_init(fn);
  if (rc < 0)
    return rc;
  if (ref == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: the handle pointer is NULL", fn);
  size_t head = 64 + (lock ? LOCK_SLOT : 0);
  if (body > rt->heap_size)
    return mpmp__err(MPMP_ENOSPC, "%s: %zu bytes can never fit in the node "
                     "heap of %zu bytes: raise MPMP_HEAP_SIZE", fn, body,
                     rt->heap_size);
  uint64_t off;
  rc = mpmp__heap_alloc(rt->heap_base, head + body, &off);
  if (rc < 0)
    return with_fn(rc, fn);
  mpmp__obj_t *o = (mpmp__obj_t *)(void *)(rt->heap_base + off);
  memset(o, 0, head + body);
  o->magic = OBJ_MAGIC;
  o->kind = (uint16_t)kind;
  o->type = (uint16_t)type;
  o->n = n;
  o->esize = esize;
  o->data_off = (uint32_t)head;
  if (lock) {
    o->flags |= MPMP__OF_LOCK;
    o->lock_off = 64;
    mpmp__shlock_init(mpmp__obj_own_lock(o), 1);
  }
  mpmp__node_ctl_t *ctl = rt->node_ctl;
  uint32_t gen;
  while ((gen = atomic_fetch_add(&ctl->next_gen, 1)) == 0)
    ;
  /* The release store publishes the body and header before the generation
   * that makes the object valid (no call inside yet). */
  atomic_store_explicit(&o->life, gen, memory_order_release);
  if (lock)
    mpmp__lane_open(o, mpmp__lock_lane(mpmp__obj_own_lock(o)));
  atomic_fetch_add(&ctl->nobjects, 1);
  make_ref(ref, off, gen, kind, type);
  if (out)
    *out = o;
  return 0;
}

/* ---- lifetime (see the top of the file) ------------------------------------ */

_Atomic uint64_t *mpmp__obj_lane(mpmp__obj_t *o, int op) {
  unsigned kind = o->kind; /* (garbage if the block was reused meanwhile) */
  int at = kind < MPMP__K_MAX ? lane_at[kind][op] : 0;
  if (at > 0)
    return (_Atomic uint64_t *)(void *)((char *)mpmp__obj_data(o) + at);
  if (at == LANE_LOCK && (kind == MPMP__K_LOCK || (o->flags & MPMP__OF_LOCK)))
    return mpmp__lock_lane(mpmp__obj_own_lock(o));
  return &o->life; /* (a Condition's external Lock: the header) */
}

/* A task host's record of its calls inside objects (objects.h): NULL in
 * every other process. A word holds (block offset + 1) << 24 | the lane's
 * offset in the block.
 *
 * Each thread keeps the calls it is inside in thread-local memory (no
 * atomics: enter and leave are the hot path of every call, and a shared
 * word per call cost a host's queue puts 30%), and shows them in the
 * host's words only while it sleeps in one (obj_sleeping), or copies
 * 16 KiB or more inside one (mpmp__obj_busy: a body that moves large
 * Array slices or queue items spends most of its time there, and its
 * kill leaked the whole block 2 times in 3): where a
 * host killed by a timeout, terminate or a signal almost always is. A
 * word is written while the thread holds its reference and cleared
 * before it gives it back, so a death costs at worst a leak (one outside
 * a sleep), never a second give-back. */
static _Atomic uint64_t *inside;
#define INSIDE_LANE_BITS 24
#define INSIDE_DEPTH 4

static uint64_t inside_code(const mpmp__obj_t *o, const _Atomic uint64_t *lane) {
  uint64_t at = (uint64_t)((const char *)lane - (const char *)o);
  uint64_t off = (uint64_t)((const char *)o - mpmp__rt.heap_base);
  return at >> INSIDE_LANE_BITS ? 0 : (off + 1) << INSIDE_LANE_BITS | at;
}

/* The thread's calls (their lanes), innermost last; deeper ones are
 * counted only. */
static _Thread_local _Atomic uint64_t *calls[INSIDE_DEPTH] MPMP__TLS_FAST;
static _Thread_local mpmp__obj_t *calls_o[INSIDE_DEPTH] MPMP__TLS_FAST;
static _Thread_local int ncalls MPMP__TLS_FAST;
/* where a sleeping thread shows each of them (-1: no free word) */
static _Thread_local signed char shown[INSIDE_DEPTH] MPMP__TLS_FAST;
static _Thread_local int nshown MPMP__TLS_FAST;

static inline void inside_note(mpmp__obj_t *o, _Atomic uint64_t *lane) {
  int d = ncalls++;
  if (d < INSIDE_DEPTH) {
    calls[d] = lane;
    calls_o[d] = o;
  }
}

/* A leave pairs with the latest enter of the same lane, which is the
 * innermost in nested calls; a rank's agent that serves calls parked
 * across others may leave out of order, hence the search. */
static inline void inside_forget(const _Atomic uint64_t *lane) {
  int n = ncalls;
  if (n == 0) /* (entered on another thread) */
    return;
  ncalls = n - 1;
  if (n > INSIDE_DEPTH || calls[n - 1] == lane) /* (the usual case) */
    return;
  for (int d = n - 2; d >= 0; d--)
    if (calls[d] == lane) {
      for (; d < n - 1; d++) {
        calls[d] = calls[d + 1];
        calls_o[d] = calls_o[d + 1];
      }
      return;
    }
}

static void obj_sleeping(int asleep) {
  if (!asleep) {
    for (int d = 0; d < nshown; d++)
      if (shown[d] >= 0)
        atomic_store(&inside[shown[d]], 0);
    nshown = 0;
    return;
  }
  if (nshown > 0) /* shown already (a long copy): words stay once each */
    return;
  int n = ncalls < INSIDE_DEPTH ? ncalls : INSIDE_DEPTH;
  for (int d = 0; d < n; d++) {
    uint64_t code = inside_code(calls_o[d], calls[d]);
    shown[d] = -1;
    for (int i = 0; code != 0 && i < MPMP__INSIDE_SLOTS; i++) {
      uint64_t empty = 0;
      if (atomic_compare_exchange_strong(&inside[i], &empty, code)) {
        shown[d] = (signed char)i;
        break;
      }
    }
  }
  nshown = n;
}

void mpmp__obj_busy(int on) {
  if (__builtin_expect(inside != NULL, 0))
    obj_sleeping(on);
}

void mpmp__obj_set_inside(_Atomic uint64_t *slots) {
  inside = slots;
  mpmp__waits_sleep_hook = obj_sleeping;
}

int mpmp__obj_enter(mpmp__obj_t *o, _Atomic uint64_t *lane, uint32_t gen) {
  mpmp__rt_t *rt = &mpmp__rt;
  /* A lane found from a header read after the block was reused may be
   * anywhere: only a word of the heap is ever touched. */
  if ((uintptr_t)((char *)lane - rt->heap_base) >
      rt->heap_size - sizeof *lane)
    return 0;
  uint64_t v = atomic_load_explicit(lane, memory_order_relaxed);
  do {
    if (gen == 0 || (v & MPMP__LIFE_GEN) != gen)
      return 0;
  } while (!atomic_compare_exchange_weak(lane, &v, v + MPMP__LIFE_CALL));
  if (__builtin_expect(inside != NULL, 0)) /* a task host */
    inside_note(o, lane);
  return 1;
}

/* The last reference left: the block goes back. */
static int release(mpmp__obj_t *o) {
  mpmp__rt_t *rt = &mpmp__rt;
  if (kinds[o->kind].release != NULL)
    kinds[o->kind].release(o);
  uint64_t off = (uint64_t)((char *)o - rt->heap_base);
  return mpmp__heap_free(rt->heap_base, off);
}

/* A word that was {generation 0, one reference} is now all zero. */
static int last_out(_Atomic uint64_t *w) {
  return atomic_fetch_sub(w, MPMP__LIFE_CALL) == MPMP__LIFE_CALL;
}

static int leave(mpmp__obj_t *o, _Atomic uint64_t *lane) {
  if (!last_out(lane))
    return 0; /* alive, or others are still inside */
  /* a closed lane's last call: the lane's reference in the header goes */
  if (lane != &o->life && !last_out(&o->life))
    return 0;
  return release(o);
}

int mpmp__obj_leave(mpmp__obj_t *o, _Atomic uint64_t *lane) {
  if (__builtin_expect(inside != NULL, 0)) /* a task host */
    inside_forget(lane);
  return leave(o, lane);
}

void mpmp__obj_hold(mpmp__obj_t *o) {
  atomic_fetch_add(&o->life, MPMP__LIFE_CALL);
}

int mpmp__obj_drop(mpmp__obj_t *o) { return leave(o, &o->life); }

void mpmp__obj_leave_dead(_Atomic uint64_t *slots) {
  for (int i = 0; i < MPMP__INSIDE_SLOTS; i++) {
    uint64_t code = atomic_exchange(&slots[i], 0);
    if (code == 0)
      continue;
    mpmp__obj_t *o = (mpmp__obj_t *)(void *)(mpmp__rt.heap_base +
                                              (code >> INSIDE_LANE_BITS) - 1);
    leave(o, (_Atomic uint64_t *)(void *)((char *)o +
                                           (code & ((1u << INSIDE_LANE_BITS) -
                                                    1))));
  }
}

void mpmp__lane_open(mpmp__obj_t *o, _Atomic uint64_t *lane) {
  atomic_store(lane, (uint64_t)mpmp__obj_gen(o));
  atomic_fetch_add(&o->life, MPMP__LIFE_CALL);
}

/* Called by a kill, whose caller holds a reference: the header's count
 * never reaches 0 here. */
void mpmp__lane_close(mpmp__obj_t *o, _Atomic uint64_t *lane) {
  uint64_t v = atomic_load(lane);
  do {
    if ((v & MPMP__LIFE_GEN) == 0)
      return;
  } while (!atomic_compare_exchange_weak(lane, &v,
                                         v & ~(uint64_t)MPMP__LIFE_GEN));
  if ((v & ~(uint64_t)MPMP__LIFE_GEN) == 0) /* no call inside */
    atomic_fetch_sub(&o->life, MPMP__LIFE_CALL);
}

int mpmp__obj_kill(mpmp__obj_t *o) {
  uint64_t v = atomic_load(&o->life);
  do {
    if ((v & MPMP__LIFE_GEN) == 0)
      return 0;
  } while (!atomic_compare_exchange_weak(&o->life, &v,
                                         v & ~(uint64_t)MPMP__LIFE_GEN));
  atomic_fetch_sub(&mpmp__rt.node_ctl->nobjects, 1);
  /* Its calls that wait wake up and see the generation 0 (seq_cst: the
   * CAS above comes before every wake-up below). */
  if (o->flags & MPMP__OF_LOCK) {
    mpmp__shlock_t *l = mpmp__obj_own_lock(o);
    mpmp__shlock_kill(l);
    mpmp__lane_close(o, mpmp__lock_lane(l));
  }
  if (o->kind < MPMP__K_MAX && kinds[o->kind].kill != NULL)
    kinds[o->kind].kill(o);
  return 1;
}

void mpmp__obj_discard(const mpmp_ref_t *ref) {
  mpmp__obj_t *o = mpmp__obj_resolve(ref);
  if (o != NULL && mpmp__obj_enter(o, &o->life, ref->gen)) {
    mpmp__obj_kill(o);
    mpmp__obj_leave(o, &o->life);
  }
}

/* a->x: the kind the caller frees (a lock handle may name the lock inside
 * another object, which goes only with that object). The caller's
 * reference gives the block back as it leaves, unless a call still waits
 * in the object: then the last of those does. */
static int op_free(mpmp__obj_t *o, mpmp__oparg_t *a) {
  if (a->x != 0 && o->kind != a->x)
    return mpmp__err(MPMP_EINVAL, "this Lock belongs to %s %s and goes with "
                     "it: free the %s instead", mpmp__a(kind_name(o->kind)),
                     kind_name(o->kind),
                     kind_name(o->kind));
  return mpmp__obj_kill(o) ? 0 : bad_handle("free", "the object was "
                                            "already freed");
}

int mpmp__obj_freed(const mpmp__obj_t *o, int ref_kind, int waited) {
  const char *when = waited ? "while this call waited" : "during this call";
  if (ref_kind == MPMP__K_LOCK && o->kind != MPMP__K_LOCK)
    return mpmp__err(MPMP_EBADF, "the %s this Lock belongs to was freed %s",
                     kind_name(o->kind), when);
  return mpmp__err(MPMP_EBADF, "the %s was freed %s", kind_name(o->kind),
                   when);
}

/* The message of an operation that found its object freed under it. */
static int freed_during(const mpmp__obj_t *o, int ref_kind, int op,
                        const mpmp__oparg_t *a) {
  return mpmp__obj_freed(o, ref_kind, ops[op].blocking != MPMP__OPB_NO &&
                                          a->deadline != -INFINITY);
}

/* Every operation runs here, for a local or a remote caller, with a
 * reference on the object (see the top of the file). Inlined: a frame of
 * its own cost the local calls 20 instructions more. */
__attribute__((always_inline)) static inline int
run_op(mpmp__obj_t *o, const mpmp_ref_t *ref, int op, mpmp__oparg_t *a) {
  _Atomic uint64_t *lane = mpmp__obj_lane(o, op);
  if (!mpmp__obj_enter(o, lane, ref->gen))
    return mpmp__err(MPMP_EBADF, "stale handle: the object was freed");
  int rc = ops[op].fn(o, a);
  if (rc == MPMP_EBADF && ops[op].blocking != MPMP__OPB_FREE &&
      mpmp__obj_dead(o))
    rc = freed_during(o, ref->kind, op, a);
  int lrc = mpmp__obj_leave(o, lane);
  /* a call that waited is off the segment now (shsync.h: finalize waits
   * for it); one that did not pays a thread-local load */
  mpmp__waits_leave();
  return rc >= 0 && lrc < 0 ? lrc : rc;
}

static int op_info(mpmp__obj_t *o, mpmp__oparg_t *a) {
  a->r0 = (int64_t)o->n;
  a->r1 = (int64_t)(o->type | (uint64_t)o->flags << 16);
  return 0;
}

/* ---- the remote protocol --------------------------------------------------- */

typedef struct req {
  mpmp_ref_t ref;
  uint64_t cookie;  /* the caller's struct call */
  uint64_t owner;
  double timeout;   /* seconds from arrival; negative: forever */
  int64_t x, y;
  uint64_t i, n;
  uint64_t out_max;
  uint32_t op, in_len; /* the input bytes follow */
} req_t;

typedef struct rep {
  uint64_t cookie;
  int32_t rc;
  uint32_t msg_len; /* message bytes (with NUL), then out_len bytes */
  int64_t r0, r1;
  uint64_t out_len;
} rep_t;

typedef struct call {
  _Atomic int done;
  int rc;
  mpmp__oparg_t *a;
  char msg[512];
} call_t;

static void send_reply(int dest, const req_t *q, int rc, mpmp__oparg_t *a) {
  /* A timeout sets no message (a blocked wait is not an error to the
   * operation): this thread's message is an older one, not this reply's,
   * so say what with_fn says for a local call. */
  const char *msg = rc == MPMP_ETIMEDOUT ? "timed out"
                                         : (rc < 0 ? mpmp_errmsg() : "");
  size_t mlen = rc < 0 ? strlen(msg) + 1 : 0;
  size_t olen = rc >= 0 ? a->out_len : 0;
  char *buf = mpmp__malloc(sizeof(rep_t) + mlen + olen);
  if (buf == NULL) {
    MPMP__ERROR("out of memory replying to rank %d: the job ends", dest);
    mpmp__abort_job();
    return;
  }
  rep_t p = {.cookie = q->cookie, .rc = rc, .msg_len = (uint32_t)mlen,
             .r0 = a->r0, .r1 = a->r1, .out_len = olen};
  memcpy(buf, &p, sizeof p);
  memcpy(buf + sizeof p, msg, mlen);
  if (olen)
    memcpy(buf + sizeof p + mlen, a->out, olen);
  if (mpmp__send_nb(dest, MPMP__TAG_OBJ_REP, buf, sizeof p + mlen + olen) < 0) {
    /* the caller would wait for this reply for ever */
    MPMP__ERROR("could not reply to rank %d: %s: the job ends", dest,
                mpmp_errmsg());
    mpmp__abort_job();
  }
}

/* Run an operation on this node for a request; out goes to a scratch
 * buffer owned by the caller of run_request. */
static int run_request(const req_t *q, mpmp__oparg_t *a, void **scratch,
                       double deadline) {
  memset(a, 0, sizeof *a);
  a->owner = q->owner;
  a->deadline = deadline;
  a->x = q->x;
  a->y = q->y;
  a->i = q->i;
  a->n = q->n;
  a->in = q->in_len ? (const char *)(q + 1) : NULL;
  a->in_len = q->in_len;
  a->out_max = q->out_max;
  if (q->op == 0 || q->op >= MPMP__OP_MAX || ops[q->op].fn == NULL)
    return mpmp__err(MPMP_ENOTSUP, "unknown shared-object operation %u "
                     "(different mpmp versions in one job?)", q->op);
  int rc;
  /* A get or recv for a task host of another node that died before it
   * was served (its worker told this node: on_host_dead): its answer
   * would be dropped (transport/relay.c), and the item or message with
   * it. Left for the living, as one that comes after the death is
   * (serve_proxy's waits end so). */
  if (q->op == MPMP__OP_Q_GET && mpmp__owner_dead(q->owner))
    return mpmp__err(MPMP_ENOTINIT, "the task host of rank %d that asked "
                     "for this died before it was served",
                     mpmp__owner_rank(q->owner));
  mpmp__obj_t *o = mpmp__obj_resolve(&q->ref);
  if (o == NULL)
    return bad_handle("shared object", "stale handle: the object was freed "
                      "(or its node's heap was reused)");
  /* element ranges are checked before any buffer is sized by them (a
   * Value's or Array's header, which a free does not change) */
  if ((q->op == MPMP__OP_LOAD || q->op == MPMP__OP_STORE) &&
      (rc = mpmp__elem_bounds(o, a)) < 0)
    return rc;
  /* a get's buffer is room: none past the queue's largest item */
  if (q->op == MPMP__OP_Q_GET && o->kind == MPMP__K_QUEUE && o->esize > 0 &&
      a->out_max > o->esize)
    a->out_max = o->esize;
  if (a->out_max && *scratch == NULL) {
    *scratch = mpmp__malloc(a->out_max);
    if (*scratch == NULL)
      return mpmp__err(MPMP_ENOMEM, "out of memory for a %zu-byte reply",
                       a->out_max);
  }
  a->out = *scratch;
  return run_op(o, &q->ref, (int)q->op, a);
}

/*
 * Helpers: a blocking operation that cannot complete at once waits in a
 * helper thread of the home rank, so the progress engine goes on serving
 * everyone else. Helpers are kept: one that finishes waits PROXY_IDLE_S
 * for the next request before it exits, so a remote consumer blocked on a
 * queue at every item costs a wake-up, not a thread start (pthread_create
 * plus its first scheduling: tens of microseconds).
 */
#define PROXY_IDLE_S 2.0

typedef struct proxy {
  struct proxy *next;
  int src;
  req_t *q; /* the request message, owned */
} proxy_t;

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  proxy_t *head, **tail; /* requests no helper has taken yet */
  int queued;            /* requests in that list */
  int idle;              /* helpers waiting for a request */
  int stop;
} helpers = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL,
             &helpers.head, 0, 0, 0};

/* Wait on the caller's behalf, then reply. */
static void serve_proxy(proxy_t *p) {
  mpmp__oparg_t a;
  void *scratch = NULL;
  /* for a task host of another node: its death ends the wait (shsync.h) */
  uint64_t owner = p->q->owner;
  int rank = mpmp__owner_rank(owner);
  mpmp__waits_for = mpmp__owner_is_host(owner) && rank >= 0 &&
                            rank < mpmp__net.size &&
                            mpmp__net.ranks[rank].node != mpmp__net.node
                        ? owner
                        : 0;
  int rc = run_request(p->q, &a, &scratch, mpmp__deadline(p->q->timeout));
  mpmp__waits_for = 0;
  send_reply(p->src, p->q, rc, &a);
  mpmp__free(scratch);
  mpmp__free(p->q);
  mpmp__free(p);
  atomic_fetch_sub(&mpmp__rt.nproxies, 1);
}

/* The next request, or NULL after PROXY_IDLE_S without one (or at stop). */
static proxy_t *next_proxy(void) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += (time_t)PROXY_IDLE_S;
  pthread_mutex_lock(&helpers.mu);
  while (helpers.head == NULL && !helpers.stop) {
    helpers.idle++;
    int err = pthread_cond_timedwait(&helpers.cv, &helpers.mu, &until);
    helpers.idle--;
    if (err == ETIMEDOUT)
      break;
  }
  proxy_t *p = helpers.head;
  if (p != NULL) {
    helpers.queued--;
    if ((helpers.head = p->next) == NULL)
      helpers.tail = &helpers.head;
  }
  pthread_mutex_unlock(&helpers.mu);
  return p;
}

static void *helper_main(void *arg) {
  for (proxy_t *p = arg; p != NULL; p = next_proxy())
    serve_proxy(p);
  return NULL;
}

static int start_proxy(int src, req_t *q) {
  proxy_t *p = mpmp__malloc(sizeof *p);
  if (p == NULL)
    return mpmp__err(MPMP_ENOMEM, "out of memory for a waiting request");
  p->next = NULL;
  p->src = src;
  p->q = q;
  atomic_fetch_add(&mpmp__rt.nproxies, 1);
  pthread_mutex_lock(&helpers.mu);
  if (helpers.idle > helpers.queued) { /* an idle helper takes it */
    *helpers.tail = p;
    helpers.tail = &p->next;
    helpers.queued++;
    pthread_cond_signal(&helpers.cv);
    pthread_mutex_unlock(&helpers.mu);
    return 0;
  }
  pthread_mutex_unlock(&helpers.mu);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_t t;
  int err = pthread_create(&t, &attr, helper_main, p);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    atomic_fetch_sub(&mpmp__rt.nproxies, 1);
    mpmp__free(p);
    return mpmp__err(MPMP_ENOMEM, "could not start a thread to wait for a "
                     "remote caller");
  }
  return 0;
}

/* Idle helpers leave; busy ones leave after their request. */
static void stop_helpers(void) {
  pthread_mutex_lock(&helpers.mu);
  helpers.stop = 1;
  pthread_cond_broadcast(&helpers.cv);
  pthread_mutex_unlock(&helpers.mu);
}

static void on_request(int src, void *buf, size_t len) {
  req_t *q = buf;
  mpmp__oparg_t a;
  void *scratch = NULL;
  int rc;
  if (len < sizeof *q || len != sizeof *q + q->in_len) {
    MPMP__WARN("dropped a malformed object request from rank %d", src);
    mpmp__free(buf);
    return;
  }
  mpmp__err(0, "%s", "");
  int blocking = q->op < MPMP__OP_MAX ? ops[q->op].blocking : MPMP__OPB_NO;
  /* An always-blocking operation goes to a helper even with a zero
   * timeout: a condition wait must take its lock back whatever the
   * timeout, and that may wait for ranks whose requests this engine
   * serves. */
  if (blocking == MPMP__OPB_ALWAYS) {
    rc = start_proxy(src, q);
    if (rc == 0)
      return; /* the proxy owns q and replies */
  } else {
    rc = run_request(q, &a, &scratch, -INFINITY);
    /* (a put to an unbounded queue whose node heap is full waits for room
     * as one to a full bounded queue: queue.c) */
    int full = rc == MPMP_ENOSPC && (q->op == MPMP__OP_Q_PUT ||
                                     q->op == MPMP__OP_Q_PUT_BATCH);
    if ((rc == MPMP_ETIMEDOUT || full) && blocking == MPMP__OPB_TRY &&
        q->timeout != 0) {
      if (q->op == MPMP__OP_C_SEND_BATCH || /* the helper goes on after */
          q->op == MPMP__OP_Q_PUT_BATCH)    /* the items that went in */
        q->i = (uint64_t)a.r0;
      mpmp__free(scratch);
      if ((rc = start_proxy(src, q)) == 0)
        return;
      scratch = NULL;
    }
  }
  send_reply(src, q, rc, &a);
  mpmp__free(scratch);
  mpmp__free(buf);
}

/* The pipeline's batches carry this cookie (a call_t's address is never
 * 8-aligned plus one). */
#define PL_COOKIE 1u
static void pl_acked(const rep_t *p, const char *msg);

static void on_reply(int src, void *buf, size_t len) {
  rep_t p;
  (void)src;
  if (len < sizeof p) {
    mpmp__free(buf);
    return;
  }
  memcpy(&p, buf, sizeof p);
  if (mpmp__relay_reply(MPMP__TAG_OBJ_REP, buf, len, p.cookie))
    return; /* for our task host */
  if ((p.cookie & MPMP__COOKIE_MASK) == PL_COOKIE) {
    pl_acked(&p, (const char *)buf + sizeof p);
    mpmp__free(buf);
    return;
  }
  call_t *c = (call_t *)(uintptr_t)(p.cookie & MPMP__COOKIE_MASK);
  const char *msg = (const char *)buf + sizeof p;
  c->rc = p.rc;
  c->a->r0 = p.r0;
  c->a->r1 = p.r1;
  c->a->out_len = p.out_len;
  if (p.msg_len)
    snprintf(c->msg, sizeof c->msg, "%s", msg);
  if (p.out_len && c->a->out)
    memcpy(c->a->out, msg + p.msg_len,
           p.out_len < c->a->out_max ? p.out_len : c->a->out_max);
  atomic_store_explicit(&c->done, 1, memory_order_release);
  mpmp__ring_rank(mpmp__net.rank); /* the caller may sleep on our bell */
  mpmp__free(buf);
}

static int call_done(void *arg) {
  return atomic_load_explicit(&((call_t *)arg)->done, memory_order_acquire);
}

/* The rank of node `node` that serves this rank's requests. */
static int home_rank(uint32_t node) {
  mpmp__rt_t *rt = &mpmp__rt;
  int first = rt->node_first[node], count = rt->node_first[node + 1] - first;
  return rt->node_members[first + mpmp__net.rank % count];
}

static int remote_call(const mpmp_ref_t *ref, int op, mpmp__oparg_t *a,
                       const char *fn) {
  /* Inside a done-callback the answer could never be taken (the callback
   * runs in the progress engine): refused, not a wait for ever */
  int rc = mpmp__may_wait(fn);
  if (rc < 0)
    return rc;
  req_t q = {.ref = *ref, .owner = a->owner, .x = a->x, .y = a->y,
             .i = a->i, .n = a->n, .out_max = a->out_max, .op = (uint32_t)op,
             .in_len = (uint32_t)a->in_len};
  if (a->in_len > INT32_MAX - sizeof q) /* an item or message too big */
    return mpmp__err(MPMP_EMSGSIZE, "%s: %zu bytes are more than one "
                     "operation on another node carries (2 GiB)", fn,
                     a->in_len);
  if (a->out_max > INT32_MAX - 4096)
    return mpmp__err(MPMP_EINVAL, "%s: a buffer of %zu bytes is more than "
                     "one operation on another node fills (2 GiB): give "
                     "the size you need", fn, a->out_max);
  mpmp__deadline_start(&a->deadline); /* (a queue's put or get) */
  double left = a->deadline - mpmp__now();
  /* +INFINITY waits forever; -INFINITY (try once) and a past deadline
   * both travel as 0, which the home node never waits for */
  q.timeout = a->deadline == INFINITY ? -1.0 : (left > 0 ? left : 0.0);
  call_t c = {.a = a};
  q.cookie = (uint64_t)(uintptr_t)&c | mpmp__net.host_cookie;
  rc = mpmp__send(home_rank(ref->node), MPMP__TAG_OBJ_REQ, &q, sizeof q,
                  a->in, a->in_len);
  if (rc < 0)
    return rc;
  /* The home node always answers (a blocked operation with the caller's
   * timeout), so this wait ends; only a dead node could keep it, and that
   * ends the job; or a finalize in another thread of this rank, which
   * ends the wait (MPMP_ENOTINIT: the answer may never come now). */
  if ((rc = mpmp__wait_until(call_done, &c, INFINITY)) < 0) {
    char why[256];
    snprintf(why, sizeof why, "%s", mpmp_errmsg());
    return mpmp__err(rc, "%s: %s", fn, why);
  }
  if (c.rc < 0)
    return mpmp__err(c.rc, "%s: %s", fn, c.msg[0] ? c.msg
                                                    : mpmp_strerror(c.rc));
  return c.rc;
}

/*
 * Pipelined puts. A put to a queue of another node that cannot fail for
 * lack of room (an unbounded Queue, JoinableQueue or SimpleQueue: the
 * caller learns it from the reply to its first, ordinary put) does not
 * wait for the home node: the first goes out at once as a batch of one
 * (MPMP__OP_Q_PUT_BATCH), and the puts made while a batch is in flight
 * gather in the next one, which the acknowledgement of the first sends
 * (from the progress engine, so it goes even while the caller computes).
 * One batch in flight (more only when a call pushes out what gathered,
 * below): self-clocking, so a lone put costs one message and a stream of
 * them batches as the network's round trip allows. A put that finds
 * PL_BATCH_BYTES gathered behind a batch in flight waits for the
 * acknowledgement: that is the flow control.
 *   Order. A rank's batches go to one home rank of the queue's node (the
 * one home_rank picks for this rank, as for every call of this rank to
 * that node), which runs them in order: FIFO per producer holds. A call
 * of this rank to that same home rank comes after them anyway, so it only
 * pushes out what gathered (a second batch in flight) and does not wait.
 * Anything else this rank does that another rank may see fences first
 * (objects.h): waits until the home node acknowledged every put made so
 * far, so a put still happens before the calls made after it (an Event
 * set, a task's result, a get from the same queue), as an ordinary put's
 * would.
 *   Failures. The home node puts a batch's items in order and stops at
 * the first that fails (the queue was closed or freed, its node's heap is
 * full); the acknowledgement says how many went in. The error is reported
 * at once on stderr and returned, with the count of items not delivered,
 * by the caller's next put to that queue, which then goes the ordinary way
 * again: no item is lost silently.
 *   A task host pipelines as well: its batches and their
 * acknowledgements go through its worker's relay, in order, and it
 * fences before it says an item or a body is done.
 *   Sends on a pipe end of another node (MPMP__OP_C_SEND_BATCH) go the
 * same way while the room the home node last reported lasts: every reply
 * to an ordinary send or a batch carries the bytes free in the ring, and
 * each message gathered takes its stream bytes off. A batch can still
 * find the room gone (another sender on the end took it): the home rank
 * then writes the rest in a helper thread, waiting for room, and its
 * progress engine goes on with the requests behind it; so a call after
 * sends always fences (pl_fence_for never pushes a batch of sends out
 * behind another), and only one batch of sends is in flight.
 */
#define PL_BATCH_BYTES (64 * 1024) /* gathered behind a batch in flight */
#define PL_ITEM_MAX (8 * 1024)     /* larger items take the ordinary path */
#define PL_KNOWN 8                 /* unbounded queues remembered */
#define PL_RING 16 /* batches in flight: one, more when calls push them */

_Atomic int mpmp__puts_in_flight; /* a batch in flight or gathering */

/* What a batch carries: items for a queue; adds to one element of a
 * Value or Array (whose deltas it sums: adds wrap at the type's width, so
 * one add of the sum leaves what the adds one by one would); or stores to
 * one element (the last one: nobody could tell the ones before it had
 * been there, as no call of theirs was ordered between them). */
enum { PL_PUTS, PL_ADDS, PL_STORES, PL_SENDS, PL_BPUTS };

/* Batches of items, one by one at the home node (the others are one call
 * of the sum or the last store). */
static int pl_items(int what) {
  return what == PL_PUTS || what == PL_SENDS || what == PL_BPUTS;
}
/* Batches that may wait for room at the home node (in a helper: its
 * progress engine goes on with the requests behind them), so a call after
 * them always fences and one is in flight at a time. */
static int pl_waits(int what) { return what == PL_SENDS || what == PL_BPUTS; }

static struct {
  pthread_mutex_t mu;
  mpmp_ref_t ref;  /* the queue (or Value, Array) being fed (gen 0: none) */
  int what;        /* PL_PUTS, PL_ADDS or PL_STORES, for ref */
  uint64_t elem;   /* PL_ADDS, PL_STORES: the element */
  uint64_t delta;  /* PL_ADDS: the sum of the adds gathered (mod 2^64) */
  unsigned char val[8]; /* PL_STORES: the last store's bytes */
  size_t val_len;
  int dest;        /* its home rank for this rank */
  char *buf;       /* the batch gathering: req_t, then the items */
  size_t len, cap; /* bytes in buf (req_t included) */
  uint32_t n;      /* items (adds) gathering */
  int inflight;    /* batches sent, not acknowledged (PL_RING at most) */
  uint32_t sent_n[PL_RING]; /* their item counts, oldest at sent_head */
  uint64_t sent_bytes[PL_RING]; /* and their items' bytes (req_t left out) */
  int sent_head;
  _Atomic uint64_t appended, acked; /* items so far (a fence's target) */
  /* failures not yet returned to a put, send, add or store: one record
   * per object, whose count of items not delivered grows with each of
   * its batches that fails, until the next call on the object returns it
   * (a new target of batches starts only where its failures have a
   * record to go to: pl_err_room) */
  struct {
    mpmp_ref_t ref;
    int err, what; /* err 0: a free record */
    uint64_t lost;
    char msg[256];
  } errs[PL_KNOWN];
  int nerrs; /* records in use */
  /* queues known to be unbounded (PL_PUTS),
   * elements known to take adds or stores (PL_ADDS: an integer type;
   * both: in range), pipe ends with the room their home node last
   * reported less what was sent since (PL_SENDS), and bounded queues
   * with this rank's share of the slots their home node last reported
   * free, less the items put since (PL_BPUTS, with their max_item) */
  mpmp_ref_t known[PL_KNOWN];
  int known_what[PL_KNOWN];
  uint64_t known_arg[PL_KNOWN]; /* the element, or the room */
  uint64_t known_max[PL_KNOWN]; /* PL_PUTS, PL_BPUTS: max_item */
  int known_next;
  /* bounded queues this rank also takes items from, and whether it takes
   * messages from a pipe end of another node: it puts or sends to them
   * the ordinary way (mpmp__obj_pl_consumer) */
  mpmp_ref_t consumed[PL_KNOWN];
  int consumed_next, conn_consumer;
} pl = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int pl_known_at(const mpmp_ref_t *ref, int what, uint64_t elem) {
  for (int i = 0; i < PL_KNOWN; i++)
    if (pl.known[i].gen != 0 && pl.known_what[i] == what &&
        memcmp(&pl.known[i], ref, sizeof *ref) == 0 && /* the tag too */
        (pl_items(what) || pl.known_arg[i] == elem))
      return i;
  return -1;
}

/* Under pl.mu: the room (a bounded queue's slots, a pipe's stream bytes)
 * that this rank's batches for (ref, what) gathering or in flight take.
 * An ordinary call fenced them all before it went, so the room its reply
 * tells leaves out only those made since: by other threads of this rank,
 * while it was on its way. */
static uint64_t pl_pending_room(const mpmp_ref_t *ref, int what) {
  if (pl.what != what || memcmp(&pl.ref, ref, sizeof *ref) != 0)
    return 0;
  uint64_t room = what == PL_SENDS ? (pl.n ? pl.len - sizeof(req_t) : 0)
                                   : pl.n;
  for (int i = 0; i < pl.inflight; i++) {
    int at = (pl.sent_head + i) % PL_RING;
    room += what == PL_SENDS ? pl.sent_bytes[at] : pl.sent_n[at];
  }
  return room;
}

static int pl_consumed_locked(const mpmp_ref_t *ref, int what) {
  if (what == PL_SENDS)
    return pl.conn_consumer;
  for (int i = 0; what == PL_BPUTS && i < PL_KNOWN; i++)
    if (pl.consumed[i].gen != 0 && mpmp__ref_same(&pl.consumed[i], ref))
      return 1;
  return 0;
}

static void pl_learn(const mpmp_ref_t *ref, int what, uint64_t arg,
                     uint64_t max) {
  pthread_mutex_lock(&pl.mu);
  if (pl_consumed_locked(ref, what)) { /* (see mpmp__obj_pl_consumer) */
    pthread_mutex_unlock(&pl.mu);
    return;
  }
  int k = pl_known_at(ref, what, arg);
  if (pl_waits(what)) {
    /* the room now, less what other threads of this rank sent or
     * gathered meanwhile: counted twice, they overspent it, and batches
     * waited at the home node for room that only this rank's own gets
     * could make, which wait behind them (threads putting and getting on
     * one bounded queue of another node deadlocked) */
    uint64_t pending = pl_pending_room(ref, what);
    arg = arg > pending ? arg - pending : 0;
  }
  if (k >= 0 && pl_waits(what)) {
    pl.known_arg[k] = arg;
  } else if (k < 0) {
    k = pl.known_next;
    pl.known[k] = *ref;
    pl.known_what[k] = what;
    pl.known_arg[k] = arg;
    pl.known_next = (pl.known_next + 1) % PL_KNOWN;
  }
  pl.known_max[k] = max;
  pthread_mutex_unlock(&pl.mu);
}

/* A bounded queue's room as this rank counts on it: half the slots its
 * home node reported free (the code of a put's reply: minus the slots),
 * so that other producers of other nodes, which heard the same, find
 * room as well; what they overrun waits on the home node (see above). */
static uint64_t pl_share(int64_t code) {
  return code < 0 ? ((uint64_t)(-(code + 1)) + 1) / 2 : 0;
}

void mpmp__obj_put_learn(const mpmp_ref_t *ref, int64_t code,
                         size_t max_item) {
  if (code == 1) {
    pl_learn(ref, PL_PUTS, 0, max_item);
    return;
  }
  /* not (or no longer: an unbounded queue whose node heap runs low,
   * queue.c's q_room_code) a queue whose puts go on without waiting */
  pthread_mutex_lock(&pl.mu);
  int k = pl_known_at(ref, PL_PUTS, 0);
  if (k >= 0)
    pl.known[k].gen = 0;
  pthread_mutex_unlock(&pl.mu);
  if (pl_share(code) > 0)
    pl_learn(ref, PL_BPUTS, pl_share(code), max_item);
}

void mpmp__obj_elem_learn(const mpmp_ref_t *ref, int op, uint64_t elem) {
  pl_learn(ref, op == MPMP__OP_ADD ? PL_ADDS : PL_STORES, elem, 0);
}

/* This rank closes or frees the queue, pipe end, Value or Array `ref` of
 * another node: its next puts, sends or adds go the ordinary way, so that
 * they fail at once, as they must once the caller's own close or free came
 * before them (a pipe end: the sends on every end, as the close of one end
 * breaks the other's). */
static void pl_forget_locked(const mpmp_ref_t *ref) {
  for (int i = 0; i < PL_KNOWN; i++)
    if (pl.known[i].gen != 0 &&
        (ref == NULL || mpmp__ref_same(&pl.known[i], ref) ||
         (ref->kind == MPMP__K_CONN && pl.known_what[i] == PL_SENDS)))
      pl.known[i].gen = 0;
}

static void pl_forget(const mpmp_ref_t *ref) {
  pthread_mutex_lock(&pl.mu);
  pl_forget_locked(ref);
  pthread_mutex_unlock(&pl.mu);
}

/*
 * This rank takes items from the bounded queue `ref` of another node (or
 * messages from a pipe end of one): from now on its puts to that queue
 * (its sends on pipes of other nodes) go the ordinary way. A pipelined
 * batch that finds no room waits on the home node, and every later call
 * of this rank fences behind it; if this rank is also the consumer that
 * would make the room, its gets wait behind the batch that waits for
 * them (threads putting and getting on one bounded queue of another node
 * deadlocked). An ordinary put waits only in its own thread.
 */
void mpmp__obj_pl_consumer(const mpmp_ref_t *ref) {
  pthread_mutex_lock(&pl.mu);
  if (ref->kind == MPMP__K_CONN) {
    pl.conn_consumer = 1;
  } else if (!pl_consumed_locked(ref, PL_BPUTS)) {
    pl.consumed[pl.consumed_next] = *ref;
    pl.consumed_next = (pl.consumed_next + 1) % PL_KNOWN;
  }
  for (int i = 0; i < PL_KNOWN; i++) /* its credits go */
    if (pl.known[i].gen != 0 &&
        ((ref->kind == MPMP__K_CONN && pl.known_what[i] == PL_SENDS) ||
         (pl.known_what[i] == PL_BPUTS && mpmp__ref_same(&pl.known[i], ref))))
      pl.known[i].gen = 0;
  pthread_mutex_unlock(&pl.mu);
}

/* Every object known: a Manager's shutdown frees objects this rank cannot
 * name, so its next puts to any of them go the ordinary way (EBADF). */
void mpmp__obj_forget_all(void) { pl_forget(NULL); }

/* The failure record of `ref` (-1: none), a free one, and whether a batch
 * for `ref` would find a record for its failures. */
static int pl_err_at(const mpmp_ref_t *ref) {
  if (pl.nerrs == 0) /* (every put asks: the usual answer at once) */
    return -1;
  for (int i = 0; i < PL_KNOWN; i++)
    if (pl.errs[i].err != 0 && mpmp__ref_same(&pl.errs[i].ref, ref))
      return i;
  return -1;
}
static int pl_err_free(void) {
  if (pl.nerrs == 0)
    return 0;
  for (int i = 0; i < PL_KNOWN; i++)
    if (pl.errs[i].err == 0)
      return i;
  return -1;
}
static int pl_err_room(const mpmp_ref_t *ref) {
  return pl_err_at(ref) >= 0 || pl_err_free() >= 0;
}

void mpmp__obj_send_learn(const mpmp_ref_t *ref, int64_t room) {
  if (room > 0)
    pl_learn(ref, PL_SENDS, (uint64_t)room, 0);
}

/* Under pl.mu: detach the gathered batch for sending (NULL: none, or one
 * is in flight and not `force`); the caller sends it with pl_send once
 * the lock is dropped. */
static char *pl_take(size_t *len, int force) {
  if ((pl.inflight && !force) || pl.n == 0 || pl.inflight == PL_RING)
    return NULL;
  char *b = pl.buf;
  if (!pl_items(pl.what)) { /* one ordinary add of the sum, or store */
    size_t in = pl.what == PL_STORES ? pl.val_len : 0;
    if ((b = mpmp__malloc(sizeof(req_t) + in)) == NULL) {
      MPMP__ERROR("out of memory sending updates to rank %d: the job ends",
                  pl.dest);
      mpmp__abort_job();
    }
    req_t q = {.ref = pl.ref, .cookie = PL_COOKIE | mpmp__net.host_cookie,
               .x = (int64_t)pl.delta, .i = pl.elem, .n = 1,
               .op = pl.what == PL_ADDS ? MPMP__OP_ADD : MPMP__OP_STORE,
               .in_len = (uint32_t)in};
    memcpy(b, &q, sizeof q);
    memcpy(b + sizeof q, pl.val, in);
    pl.len = sizeof q + in;
    pl.delta = 0;
  } else {
    req_t *q = (req_t *)b;
    q->n = pl.n;
    q->in_len = (uint32_t)(pl.len - sizeof *q);
  }
  *len = pl.len;
  pl.sent_n[(pl.sent_head + pl.inflight) % PL_RING] = pl.n;
  pl.sent_bytes[(pl.sent_head + pl.inflight) % PL_RING] =
      pl_items(pl.what) ? pl.len - sizeof(req_t) : 0;
  pl.inflight++;
  pl.buf = NULL;
  pl.len = pl.cap = 0;
  pl.n = 0;
  return b;
}

static void pl_send(int dest, char *b, size_t len) {
  if (b == NULL)
    return;
  if (mpmp__send_nb(dest, MPMP__TAG_OBJ_REQ, b, len) < 0) {
    /* the items would be lost without a word: as for a reply */
    MPMP__ERROR("could not send queued items to rank %d: %s: the job ends",
                dest, mpmp_errmsg());
    mpmp__abort_job();
  }
}

/*
 * A task host has no progress thread: its acknowledgements come through
 * the relay and are taken only by its own waits. So that what gathered
 * behind the batch in flight does not wait there while the body computes
 * (or sleeps, and then dies with it: a body that put 1000 items, slept a
 * second and crashed had delivered 2), the host starts a flusher thread
 * the first time items gather behind a batch: it waits, without spinning
 * (mpmp__wait_quiet: it shares the body's core), until everything
 * gathered so far is acknowledged; each acknowledgement it takes sends
 * the next batch. (Sending each put at once instead, as batches of one up
 * to PL_RING in flight, cost a stream of puts from a Process on another
 * node 5.9 M/s -> 0.3-1.1 M/s, and could not serve sends and bounded
 * puts, which must be alone in flight.)
 */
static struct {
  pthread_cond_t cv; /* under pl.mu: items gathered behind a batch */
  int started;       /* under pl.mu */
  pid_t pid;         /* the process it runs in (a host is forked) */
} fl = {.cv = PTHREAD_COND_INITIALIZER};

static int pl_reached(void *arg);

static void *pl_flusher(void *unused) {
  (void)unused;
  for (;;) {
    pthread_mutex_lock(&pl.mu);
    while (!(pl.n > 0 && pl.inflight > 0))
      pthread_cond_wait(&fl.cv, &pl.mu);
    uint64_t upto = atomic_load(&pl.appended);
    pthread_mutex_unlock(&pl.mu);
    if (mpmp__wait_quiet(pl_reached, &upto, INFINITY) < 0)
      usleep(1000); /* (it cannot fail; never a busy loop) */
  }
  return NULL;
}

/* Under pl.mu: items gather behind a batch in flight; in a task host, the
 * flusher sees to them (started here the first time). */
static void pl_flush_later(void) {
  if (mpmp__net.host_cookie == 0 || pl.n == 0 || pl.inflight == 0)
    return;
  pid_t me = getpid();
  if (!fl.started || fl.pid != me) { /* (a host's child is not a host) */
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 256 * 1024);
    fl.started = pthread_create(&t, &a, pl_flusher, NULL) == 0;
    fl.pid = me;
    pthread_attr_destroy(&a);
  }
  pthread_cond_signal(&fl.cv);
}

/* Under pl.mu: may (another) item go now without waiting for an
 * acknowledgement (the bytes gathered behind the batch in flight). */
static int pl_room_locked(void) {
  return !pl.inflight || pl.len < PL_BATCH_BYTES;
}

static void pl_update_busy(void) {
  atomic_store(&mpmp__puts_in_flight, pl.inflight || pl.n > 0);
}

/* Under pl.mu, which it drops: send the gathered batch if none is in
 * flight, or `force` (outside the lock: the transport may take its
 * own). */
static void pl_unlock_and_send(int force) {
  size_t len = 0;
  char *b = pl_take(&len, force);
  int dest = pl.dest;
  pl_flush_later();
  pl_update_busy();
  pthread_mutex_unlock(&pl.mu);
  pl_send(dest, b, len);
}

/* The home rank acknowledged the oldest batch in flight (progress engine;
 * acknowledgements come in the order of the batches: one home rank, which
 * runs them in order, and MPI keeps the order of its replies). */
static void pl_acked(const rep_t *p, const char *msg) {
  pthread_mutex_lock(&pl.mu);
  uint32_t n = pl.sent_n[pl.sent_head];
  if (p->rc < 0) {
    /* a batch of items stops at the first that fails (r0 went in); a
     * batch of adds or stores is one call */
    uint64_t lost = !pl_items(pl.what)
                        ? n : n - (uint64_t)(p->r0 > 0 ? p->r0 : 0);
    MPMP__WARN("%llu %s of node %u %s: %s", (unsigned long long)lost,
               pl.what == PL_ADDS     ? "add(s) to a Value or Array"
               : pl.what == PL_STORES ? "store(s) to a Value or Array"
               : pl.what == PL_SENDS  ? "message(s) sent on a pipe"
                                      : "item(s) put to a queue",
               pl.ref.node,
               pl_items(pl.what) ? "were not delivered" : "were not made",
               p->msg_len ? msg : mpmp_strerror(p->rc));
    /* counted against the object until a call on it returns the count:
     * the batches behind this one add theirs (none is lost silently) */
    int e = pl_err_at(&pl.ref);
    if (e < 0 && (e = pl_err_free()) >= 0) {
      pl.errs[e].ref = pl.ref;
      pl.errs[e].what = pl.what;
      pl.errs[e].lost = 0;
      snprintf(pl.errs[e].msg, sizeof pl.errs[e].msg, "%s",
               p->msg_len ? msg : mpmp_strerror(p->rc));
    }
    if (e >= 0) {
      pl.nerrs += pl.errs[e].err == 0;
      pl.errs[e].err = p->rc;
      pl.errs[e].lost += lost;
    } else { /* (pl_err_room keeps a record free for the target) */
      MPMP__ERROR("%llu undelivered item(s) could not be recorded",
                  (unsigned long long)lost);
    }
    /* its next puts, sends, adds or stores go the ordinary way */
    pl_forget_locked(&pl.ref);
  } else if (pl.what == PL_SENDS) {
    /* the room after this batch, less the messages gathered since (the
     * only batch of sends in flight: pl_fence_for never pushes one) */
    int k = pl_known_at(&pl.ref, PL_SENDS, 0);
    uint64_t gathered = pl.n ? pl.len - sizeof(req_t) : 0;
    if (k >= 0)
      pl.known_arg[k] = p->r1 > 0 && (uint64_t)p->r1 > gathered
                            ? (uint64_t)p->r1 - gathered : 0;
  } else if (pl.what == PL_PUTS && p->r1 != 1) {
    /* an unbounded queue whose node heap runs low (queue.c's
     * q_room_code): the next put goes the ordinary way, waiting there for
     * room, and its reply tells the room as a bounded queue's */
    pl_forget_locked(&pl.ref);
  } else if (pl.what == PL_BPUTS) {
    /* the same for a bounded queue: this rank's share of the slots free
     * after this batch, less the items gathered since */
    int k = pl_known_at(&pl.ref, PL_BPUTS, 0);
    uint64_t share = pl_share(p->r1);
    if (k >= 0)
      pl.known_arg[k] = share > pl.n ? share - pl.n : 0;
  }
  pl.sent_head = (pl.sent_head + 1) % PL_RING;
  pl.inflight--;
  atomic_fetch_add(&pl.acked, n);
  pl_unlock_and_send(0);
  mpmp__ring_rank(mpmp__net.rank); /* a fence or a put may sleep on it */
}

static int pl_reached(void *arg) {
  return atomic_load(&pl.acked) >= *(const uint64_t *)arg;
}

static int pl_room(void *arg) {
  (void)arg;
  pthread_mutex_lock(&pl.mu);
  int room = pl_room_locked();
  pthread_mutex_unlock(&pl.mu);
  return room;
}

/* The puts made so far: not until nothing is in flight, which a
 * producer in another thread could put off for ever. The
 * acknowledgements send what gathered; nothing else is needed. 0, or
 * MPMP_ETIMEDOUT at the deadline. */
static int pl_fence_until(double deadline) {
  if (mpmp__in_handler)
    return 0;
  uint64_t upto = atomic_load(&pl.appended);
  return mpmp__wait_until(pl_reached, &upto, deadline);
}

void mpmp__obj_fence_slow(void) { (void)pl_fence_until(INFINITY); }

int mpmp__obj_fence_within(double seconds) {
  if (!atomic_load(&mpmp__puts_in_flight))
    return 0;
  return pl_fence_until(mpmp__now() + seconds);
}

/* At teardown: what a next mpmp_init must not inherit (its handles have
 * other tags; a batch still here was never acknowledged: the job ends). */
static void pl_reset(void) {
  pthread_mutex_lock(&pl.mu);
  mpmp__free(pl.buf);
  pl.buf = NULL;
  pl.len = pl.cap = 0;
  pl.n = 0;
  pl.delta = 0;
  pl.inflight = 0;
  pl.sent_head = 0;
  memset(pl.errs, 0, sizeof pl.errs);
  pl.nerrs = 0;
  atomic_store(&pl.acked, atomic_load(&pl.appended));
  memset(pl.known, 0, sizeof pl.known);
  memset(pl.consumed, 0, sizeof pl.consumed);
  pl.conn_consumer = 0;
  pl_update_busy();
  pthread_mutex_unlock(&pl.mu);
}

/* How long a try-once call (put_nowait, get_nowait, a lock's try) waits
 * for earlier items that wait for room on their node: long enough for
 * the home node's word on a batch that found room, whatever the network;
 * a batch still not in after it waits for a consumer. */
#define PL_TRY_S 1.0

/* The latest a fence may wait for items that wait for room, for a call
 * whose deadline is *deadline (started here if it was not); see below. */
static double pl_until(double *deadline) {
  if (deadline == NULL)
    return INFINITY;
  mpmp__deadline_start(deadline);
  if (*deadline == -INFINITY)
    return mpmp__now() + PL_TRY_S;
  return *deadline > 0 ? *deadline : INFINITY; /* 0: the call takes none */
}

/* The timeout of a call that waited for items of node `node` that still
 * wait there for room. */
static int pl_stuck(const char *fn, uint32_t node) {
  return mpmp__err(MPMP_ETIMEDOUT, "%s: timed out before the call was "
                   "made: this rank's earlier puts or sends to a bounded "
                   "queue or pipe of node %u still wait there for room (a "
                   "consumer must take items first); they stay on their "
                   "way, and this call comes after them", fn, node);
}

/* Before a call on `ref` (whose deadline is *deadline, mpmp__oparg_t's:
 * this starts one not started): a call to the home rank the batches go
 * to comes after them anyway (that rank runs its requests in order), so
 * it only sends what gathered, without waiting; any other call fences.
 *   The wait. Only a batch that may wait for room on its node (pl_waits:
 * sends, or puts to a bounded queue that others filled) can hold a fence
 * up longer than a round trip: until a consumer makes room. For that one
 * the call's own timeout bounds the fence: a call with a timeout waits
 * for those items no longer than it, a try-once call PL_TRY_S, and then
 * returns MPMP_ETIMEDOUT without being made (it would come before them);
 * the items stay on their way and are delivered once there is room. A
 * call with no timeout (forever, or one that takes none) waits as long
 * as they do, as a put without a timeout waits for room. */
static int pl_fence_for(const mpmp_ref_t *ref, double *deadline,
                        const char *fn) {
  if (mpmp__in_handler)
    return 0;
  pthread_mutex_lock(&pl.mu);
  int waits = (pl.inflight || pl.n) && pl_waits(pl.what);
  uint32_t node = pl.ref.node;
  if (ref != NULL && ref->node != (uint32_t)mpmp__net.node &&
      ref->node < (uint32_t)mpmp__net.nnodes) {
    /* (not sends: a batch of them may wait for room in a helper of the
     * home rank, which goes on with the requests behind it) */
    if ((pl.inflight || pl.n) && home_rank(ref->node) == pl.dest &&
        !pl_waits(pl.what) && (pl.n == 0 || pl.inflight < PL_RING)) {
      pl_unlock_and_send(1);
      return 0;
    }
  }
  pthread_mutex_unlock(&pl.mu);
  if (pl_fence_until(waits ? pl_until(deadline) : INFINITY) == 0)
    return 0;
  return pl_stuck(fn, node);
}

/* Before an operation with a deadline that does not go through
 * mpmp__obj_call (a local lock's acquire): the fence, bounded as there. */
int mpmp__obj_fence_call(const mpmp_ref_t *ref, double *deadline,
                         const char *fn) {
  if (!atomic_load_explicit(&mpmp__puts_in_flight, memory_order_relaxed))
    return 0;
  return pl_fence_for(ref, deadline, fn);
}

/* How long finalize waits quietly for this rank's pipelined puts and
 * sends before it says why it waits. */
#define PL_FINALIZE_QUIET_S 10.0

int mpmp__objects_finalize(void) {
  if (atomic_load(&mpmp__puts_in_flight) && !mpmp__in_handler &&
      pl_fence_until(mpmp__now() + PL_FINALIZE_QUIET_S) == MPMP_ETIMEDOUT) {
    /* Items waiting on their node for room that no consumer makes: wait
     * on (a put happens before finalize), but say so rather than hang
     * in silence (Python's exit hangs joining the feeder thread too). */
    uint64_t left = atomic_load(&pl.appended) - atomic_load(&pl.acked);
    MPMP__WARN("mpmp_finalize: %llu item(s) or message(s) this rank put "
               "or sent to a queue or pipe of another node still wait "
               "there for room after %.0f s: finalize waits until a "
               "consumer takes items (a process still running must get "
               "or recv them)",
               (unsigned long long)left, PL_FINALIZE_QUIET_S);
    (void)pl_fence_until(INFINITY);
  }
  mpmp__obj_fence();
  return 0;
}

/* Under pl.mu (which it may drop and take again): the failure the home
 * node reported for earlier puts, sends, adds or stores to `ref`, with
 * the count of all that were not delivered (or made), once. Batches for
 * `ref` still on their way are waited for first (no longer than a call
 * with *deadline waits for items waiting for room), so that the count is
 * the whole of it rather than told in parts, one call late. 0: none. */
static int pl_report(const mpmp_ref_t *ref, double *deadline,
                     const char *fn) {
  int e = pl_err_at(ref);
  if (e < 0)
    return 0;
  if ((pl.inflight || pl.n) && mpmp__ref_same(&pl.ref, ref) &&
      !mpmp__in_handler) {
    int waits = pl_waits(pl.what);
    uint64_t upto = atomic_load(&pl.appended);
    pthread_mutex_unlock(&pl.mu);
    (void)mpmp__wait_until(pl_reached, &upto,
                           waits ? pl_until(deadline) : INFINITY);
    pthread_mutex_lock(&pl.mu);
    if ((e = pl_err_at(ref)) < 0)
      return 0; /* another thread's call told it */
  }
  int rc = pl.errs[e].err, what = pl.errs[e].what;
  unsigned long long lost = (unsigned long long)pl.errs[e].lost;
  char m[256];
  snprintf(m, sizeof m, "%s", pl.errs[e].msg);
  pl.errs[e].err = 0;
  pl.nerrs--;
  pl_forget_locked(ref); /* (an acknowledgement meanwhile told room) */
  if (what == PL_SENDS)
    return mpmp__err(rc, "%s: %llu message(s) sent on this connection "
                     "before were not delivered: %s", fn, lost, m);
  if (what != PL_PUTS && what != PL_BPUTS)
    return mpmp__err(rc, "%s: %llu %s made to this %s before were not "
                     "applied: %s", fn, lost,
                     what == PL_ADDS ? "add(s)" : "store(s)",
                     ref->kind == MPMP__K_ARRAY ? "Array" : "Value", m);
  return mpmp__err(rc, "%s: %llu item(s) put to this queue before were not "
                   "delivered: %s", fn, lost, m);
}

/* After an ordinary put, send, add or store to an object of another node
 * (rc, its result): one that failed forgets the object (an acknowledgement
 * that came while it waited may have told room for it again: the next
 * call must not return early and lose its item), and returns, with its
 * error, the count of earlier items not delivered if some were not. */
int mpmp__obj_pl_after(const mpmp_ref_t *ref, int rc, const char *fn) {
  if (rc >= 0)
    return rc;
  pthread_mutex_lock(&pl.mu);
  pl_forget_locked(ref);
  int e = pl_err_at(ref), rrc = rc;
  if (e >= 0) {
    char own[256];
    snprintf(own, sizeof own, "%s", mpmp_errmsg());
    rrc = pl_report(ref, NULL, fn);
    if (rrc == 0)
      rrc = mpmp__err(rc, "%s", own);
  }
  pthread_mutex_unlock(&pl.mu);
  return rrc;
}

/* Under pl.mu, which it may drop and take again: wait until a batch for
 * another target than (ref, what, elem) is acknowledged (its failures are
 * told against its own target), and for room (pl_room_locked). 0 (it
 * went on at once) or 1 (it waited: what was known may have changed),
 * with pl.mu held; or the fence's timeout (pl_fence_for: for items that
 * wait for room on their node, no longer than the call's *deadline, NULL
 * for a call that takes none), with pl.mu dropped. */
static int pl_wait_turn(const mpmp_ref_t *ref, int what, uint64_t elem,
                        double *deadline, const char *fn) {
  int waited = 0;
  for (;;) {
    int rc = 0;
    if ((pl.inflight || pl.n) &&
        (!mpmp__ref_same(&pl.ref, ref) || pl.what != what ||
         (what != PL_PUTS && pl.elem != elem))) {
      pthread_mutex_unlock(&pl.mu); /* another target's batch goes first */
      rc = pl_fence_for(NULL, deadline, fn);
    } else if (pl_items(what) && !pl_room_locked()) { /* flow control */
      pthread_mutex_unlock(&pl.mu);
      if ((rc = mpmp__may_wait(fn)) < 0) /* (the ack cannot come there) */
        return rc;
      double until = pl_waits(what) ? pl_until(deadline) : INFINITY;
      if (mpmp__wait_until(pl_room, NULL, until) < 0)
        rc = pl_stuck(fn, ref->node);
    } else {
      break;
    }
    if (rc < 0)
      return rc;
    pthread_mutex_lock(&pl.mu);
    waited = 1;
  }
  if (pl.n == 0 && !pl.inflight) {
    pl.ref = *ref;
    pl.what = what;
    pl.elem = elem;
    pl.dest = home_rank(ref->node);
  }
  return waited;
}

/* Under pl.mu, which it drops: 0 where (ref, what, elem) is not
 * pipelined now; else it waits its turn and returns 1 with pl.mu held, or
 * an error with pl.mu dropped. A failure of earlier batches for `ref`,
 * there before or met while waiting, is returned first (pl_report), and
 * the object is then no longer known: no call after it returns early. */
static int pl_enter(const mpmp_ref_t *ref, int *what, uint64_t elem,
                    size_t len, double *deadline, const char *fn) {
  for (;;) {
    int rc = pl_report(ref, deadline, fn), w = *what, k = -1;
    if (rc == 0) {
      if ((k = pl_known_at(ref, w, elem)) < 0 && w == PL_PUTS)
        k = pl_known_at(ref, w = PL_BPUTS, 0);
      if (k >= 0 && (w == PL_PUTS || w == PL_BPUTS) &&
          (len > pl.known_max[k] || (w == PL_BPUTS && pl.known_arg[k] == 0)))
        k = -1; /* the ordinary path (which says what is wrong with a big
                   item), or waits for room */
    }
    if (rc < 0 || k < 0) {
      pthread_mutex_unlock(&pl.mu);
      return rc;
    }
    if ((rc = pl_wait_turn(ref, w, elem, deadline, fn)) < 0)
      return rc;
    if (rc > 0 && (pl_err_at(ref) >= 0 || pl_known_at(ref, w, elem) < 0))
      continue; /* failed while it waited: told now; or no longer known */
    if (!pl_err_room(ref)) { /* its failures would have no record */
      pthread_mutex_unlock(&pl.mu);
      return 0;
    }
    *what = w;
    return 1;
  }
}

int mpmp__obj_elem_pipelined(const mpmp_ref_t *ref, int op, uint64_t elem,
                             int64_t delta, const void *val, size_t len,
                             const char *fn) {
  int what = op == MPMP__OP_ADD ? PL_ADDS : PL_STORES;
  if (atomic_load_explicit(&mpmp__rt.state, memory_order_relaxed) !=
          MPMP__RUNNING)
    return 0;
  pthread_mutex_lock(&pl.mu);
  if (len > sizeof pl.val) { /* (not pipelined; a failure still told) */
    int rc = pl_report(ref, NULL, fn);
    pthread_mutex_unlock(&pl.mu);
    return rc;
  }
  int rc = pl_enter(ref, &what, elem, 0, NULL, fn);
  if (rc <= 0)
    return rc;
  if (what == PL_ADDS) {
    pl.delta += (uint64_t)delta;
  } else {
    memcpy(pl.val, val, len);
    pl.val_len = len;
  }
  pl.n++;
  atomic_fetch_add(&pl.appended, 1);
  pl_unlock_and_send(0);
  return 1;
}

/* Under pl.mu, which it drops: append an item (a put's, or a send's) to
 * the batch gathering for `ref` (pl_wait_turn made it this target's). */
static int pl_append(const mpmp_ref_t *ref, int op, const void *item,
                     size_t len, const char *fn) {
  size_t padded = (len + 7) & ~(size_t)7;
  size_t need = (pl.buf ? pl.len : sizeof(req_t)) + 8 + padded;
  if (need > pl.cap) {
    size_t cap = pl.cap ? 2 * pl.cap : 4096;
    while (cap < need)
      cap *= 2;
    char *b = mpmp__realloc(pl.buf, cap);
    if (b == NULL) {
      pthread_mutex_unlock(&pl.mu);
      return mpmp__err(MPMP_ENOMEM, "%s: out of memory", fn);
    }
    if (pl.buf == NULL) {
      /* a batch of sends, or of puts to a bounded queue, waits for room
       * as long as it must (only another sender on the same end, or
       * another producer, can take the room reported) */
      req_t q = {.ref = *ref, .cookie = PL_COOKIE | mpmp__net.host_cookie,
                 .owner = mpmp__owner_id(), .op = (uint32_t)op,
                 .timeout = pl_waits(pl.what) ? -1.0 : 0.0};
      memcpy(b, &q, sizeof q);
      pl.len = sizeof q;
    }
    pl.buf = b;
    pl.cap = cap;
  }
  uint64_t l = len;
  memcpy(pl.buf + pl.len, &l, 8);
  if (len)
    memcpy(pl.buf + pl.len + 8, item, len);
  if (padded > len)
    memset(pl.buf + pl.len + 8 + len, 0, padded - len);
  pl.len += 8 + padded;
  pl.n++;
  atomic_fetch_add(&pl.appended, 1);
  pl_unlock_and_send(0);
  return 1;
}

/* Under pl.mu, after pl_enter for (ref, what): take `need` of the room
 * known for it (an acknowledgement meanwhile may have told less). 1:
 * taken; 0: pl.mu dropped (make an ordinary call). */
static int pl_spend(const mpmp_ref_t *ref, int what, uint64_t need) {
  int k = pl_known_at(ref, what, 0);
  if (k < 0 || pl.known_arg[k] < need) {
    pthread_mutex_unlock(&pl.mu);
    return 0;
  }
  pl.known_arg[k] -= need;
  return 1;
}

/* An unbounded queue's put is taken whenever its item is not over the
 * queue's max_item; a bounded queue's while this rank's share of the room
 * its home node reported lasts (one slot an item): out of it, the put goes
 * the ordinary way (it waits at the home node, up to its timeout, as any
 * put to a full queue), and its reply tells the room anew. */
int mpmp__obj_put_pipelined(const mpmp_ref_t *ref, const void *item,
                            size_t len, double *deadline, const char *fn) {
  if (atomic_load_explicit(&mpmp__rt.state, memory_order_relaxed) !=
      MPMP__RUNNING)
    return 0;
  pthread_mutex_lock(&pl.mu);
  int what = PL_PUTS, rc;
  if (len > PL_ITEM_MAX) { /* (not pipelined; a failure still told) */
    rc = pl_report(ref, deadline, fn);
    pthread_mutex_unlock(&pl.mu);
    return rc;
  }
  if ((rc = pl_enter(ref, &what, 0, len, deadline, fn)) <= 0)
    return rc;
  if (what == PL_BPUTS && !pl_spend(ref, PL_BPUTS, 1))
    return 0;
  return pl_append(ref, MPMP__OP_Q_PUT_BATCH, item, len, fn);
}

/* A send is taken while the room reported covers it: its stream bytes
 * (the ring's length word, the message, its pad) come off the room, and
 * the acknowledgement of each batch tells the room again. Out of room, the
 * send goes the ordinary way (it waits at the home node as any send to a
 * full pipe), and its reply tells the room anew. */
int mpmp__obj_send_pipelined(const mpmp_ref_t *ref, const void *msg,
                             size_t len, double *deadline, const char *fn) {
  uint64_t need = 8 + (((uint64_t)len + 7) & ~UINT64_C(7));
  if (atomic_load_explicit(&mpmp__rt.state, memory_order_relaxed) !=
      MPMP__RUNNING)
    return 0;
  pthread_mutex_lock(&pl.mu);
  int what = PL_SENDS, rc;
  if (len > PL_ITEM_MAX) {
    rc = pl_report(ref, deadline, fn);
    pthread_mutex_unlock(&pl.mu);
    return rc;
  }
  if ((rc = pl_enter(ref, &what, 0, len, deadline, fn)) <= 0)
    return rc;
  if (!pl_spend(ref, PL_SENDS, need))
    return 0;
  return pl_append(ref, MPMP__OP_C_SEND_BATCH, msg, len, fn);
}

/*
 * The hot path (object.h): a valid handle of a live object homed on this
 * node, as it almost always is. The last handle this thread validated is remembered
 * (all 24 bytes), so a loop over one object computes its tag once, not at
 * every call; the object's generation is still checked at every call (a
 * freed object is caught at once).
 */
static _Thread_local mpmp_ref_t tl_valid_ref MPMP__TLS_FAST;

/* mpmp__obj_local without its fence (mpmp__obj_call fences before). */
static mpmp__obj_t *obj_here(const mpmp_ref_t *ref, int kind) {
  mpmp__rt_t *rt = &mpmp__rt;
  if (atomic_load_explicit(&rt->state, memory_order_relaxed) != MPMP__RUNNING ||
      ref->kind != kind || ref->node != (uint32_t)mpmp__net.node)
    return NULL;
  if (memcmp(ref, &tl_valid_ref, sizeof *ref) != 0) {
    if (ref->gen == 0 || ref->tag != ref_tag(ref))
      return NULL;
    tl_valid_ref = *ref;
  }
  return mpmp__obj_resolve(ref);
}

mpmp__obj_t *mpmp__obj_local(const mpmp_ref_t *ref, int kind) {
  mpmp__obj_t *o = obj_here(ref, kind);
  if (o != NULL) /* NULL: the caller takes mpmp__obj_call, which fences */
    mpmp__obj_fence();
  return o;
}

int mpmp__obj_call(const mpmp_ref_t *ref, int kind, int op, mpmp__oparg_t *a,
                   const char *fn) {
  if (__builtin_expect(atomic_load_explicit(&mpmp__puts_in_flight,
                                            memory_order_relaxed), 0)) {
    /* An operation that never waits takes no timeout (a release, a set,
     * a notify, a task_done, a free): its fence waits as long as the
     * items do, whatever its deadline says (-INFINITY there: no wait in
     * the operation itself). Bounded as a try-once call, it returned
     * MPMP_ETIMEDOUT after PL_TRY_S without being made, and a Semaphore
     * release or an Event set was lost for good (helper 57). */
    double none = 0;
    int never_waits = ops[op].blocking == MPMP__OPB_NO ||
                      ops[op].blocking == MPMP__OPB_FREE;
    int rc = pl_fence_for(ref, never_waits ? &none : &a->deadline, fn);
    if (rc < 0)
      return rc;
  }
  mpmp__obj_t *o = ref ? obj_here(ref, kind) : NULL;
  if (o == NULL) {
    int rc = mpmp__check_init(fn);
    if (rc < 0 || (rc = mpmp__ref_check(ref, kind, fn)) < 0)
      return rc;
    a->owner = mpmp__owner_id();
    if (!mpmp__ref_is_local(ref)) {
      if (op == MPMP__OP_Q_CLOSE ||
          (op > 0 && op < MPMP__OP_MAX && ops[op].blocking == MPMP__OPB_FREE))
        pl_forget(ref); /* a close or a free: see pl_forget */
      return remote_call(ref, op, a, fn);
    }
    if ((o = mpmp__obj_resolve(ref)) == NULL)
      return bad_handle(fn, "stale handle: the object was freed");
  } else {
    a->owner = mpmp__owner_id();
  }
  int rc = run_op(o, ref, op, a);
  return rc < 0 ? with_fn(rc, fn) : rc;
}

/* Elements [i, i+n) of the object, checked on the home node. */
int mpmp__elem_bounds(mpmp__obj_t *o, const mpmp__oparg_t *a) {
  if (a->i < o->n && a->n <= o->n - a->i)
    return 0;
  if (a->n == 1)
    return mpmp__err(MPMP_EINVAL, "index %" PRIu64 " is out of range for an "
                     "Array of %" PRIu64 " elements", a->i, o->n);
  if (a->i + a->n < a->i) /* start + count wraps: say so, not its end */
    return mpmp__err(MPMP_EINVAL, "a slice of %" PRIu64 " elements from "
                     "index %" PRIu64 " is out of range for an Array of %"
                     PRIu64 " elements (start + count overflows)", a->n,
                     a->i, o->n);
  return mpmp__err(MPMP_EINVAL, "slice [%" PRIu64 ", %" PRIu64 ") is out of "
                   "range for an Array of %" PRIu64 " elements", a->i,
                   a->i + a->n, o->n);
}

/* ---- setup ----------------------------------------------------------------- */

int mpmp__objects_init(void) {
  mpmp__rt_t *rt = &mpmp__rt;
  if (mpmp__net.rank == 0 && getrandom(&rt->obj_secret, sizeof rt->obj_secret,
                                 GRND_NONBLOCK) != sizeof rt->obj_secret) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    rt->obj_secret = mpmp__mix64((uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 20 ^
                           (uint64_t)ts.tv_sec);
  }
  int rc = MPI_Bcast(&rt->obj_secret, 1, MPI_UINT64_T, 0, mpmp__net.comm);
  if (rc != MPI_SUCCESS)
    return mpmp__mpi_err(rc, "MPI_Bcast of the handle secret");
  /* node -> its world ranks, in node-rank order */
  rt->node_first = mpmp__calloc((size_t)mpmp__net.nnodes + 1, sizeof(int));
  rt->node_members = mpmp__calloc((size_t)mpmp__net.size, sizeof(int));
  if (rt->node_first == NULL || rt->node_members == NULL) {
    rc = mpmp__err(MPMP_ENOMEM, "out of memory at init");
  } else {
    for (int r = 0; r < mpmp__net.size; r++)
      rt->node_first[mpmp__net.ranks[r].node + 1]++;
    for (int k = 0; k < mpmp__net.nnodes; k++)
      rt->node_first[k + 1] += rt->node_first[k];
    for (int r = 0; r < mpmp__net.size; r++) {
      const mpmp__rank_info_t *i = &mpmp__net.ranks[r];
      rt->node_members[rt->node_first[i->node] + i->node_rank] = r;
    }
  }
  mpmp__heap_set_host(0, mpmp__claim_dead); /* (its holders may be hosts) */
  if (mpmp__net.node_rank == 0) {
    int frc = mpmp__heap_format(rt->heap_base, rt->heap_size);
    if (frc < 0 && rc == 0)
      rc = frc;
    /* Generations start where the job's secret says, not at 1: a handle
     * of an earlier run (mpmp_init again after mpmp_finalize) that a
     * thread still has cached as valid (tl_valid_ref) would otherwise name
     * the same offset and generation as this run's first objects. */
    atomic_store(&rt->node_ctl->next_gen,
                 (uint32_t)(rt->obj_secret >> 32) | 1u);
    atomic_store(&rt->node_ctl->nobjects, 0);
  }
  /* The heap is ready for every rank of the node once all agree (a
   * failure anywhere fails init everywhere, with no rank left behind in
   * a collective). */
  int worst = rc, mrc;
  if ((mrc = MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MIN, mpmp__net.comm)) !=
      MPI_SUCCESS && rc == 0)
    rc = worst = mpmp__mpi_err(mrc, "MPI_Allreduce at init");
  if (worst < 0 && rc == 0)
    rc = mpmp__err(worst, "mpmp_init failed on another rank: %s",
                   mpmp_strerror(worst));
  lock_lanes_register();
  mpmp__op_register(MPMP__OP_FREE, op_free, MPMP__OPB_FREE);
  mpmp__op_register(MPMP__OP_INFO, op_info, MPMP__OPB_NO);
  return rc;
}

void mpmp__objects_setup(int is_main) {
  (void)is_main;
  pthread_mutex_lock(&helpers.mu); /* a later init after a finalize */
  helpers.stop = 0;
  pthread_mutex_unlock(&helpers.mu);
  mpmp__waits_start();
  mpmp__rt.waits_left = 0;
  mpmp__set_handler(MPMP__TAG_OBJ_REQ, on_request);
  mpmp__set_handler(MPMP__TAG_OBJ_REP, on_reply);
  mpmp__set_handler(MPMP__TAG_HOST_DEAD, on_host_dead);
}

/* How long finalize waits for this process's calls that wait on the
 * segment (woken: they return MPMP_ENOTINIT) to leave it. A woken call
 * leaves within microseconds; one that does not (descheduled for that
 * long, or stuck in a callback of the program) keeps the segment mapped
 * until exit (runtime.c: teardown). */
#define WAITS_LEAVE_S 2.0

void mpmp__objects_fini(void) {
  mpmp__rt_t *rt = &mpmp__rt;
  /* Calls of this process's other threads asleep in the segment (a queue
   * get, an acquire, a helper's wait for a remote caller) wake up and
   * return MPMP_ENOTINIT: shsync.h. */
  rt->waits_left = mpmp__waits_end(WAITS_LEAVE_S);
  /* Helper threads still waiting for a remote caller (one that gave up:
   * the job is ending) must not outlive the segment they sleep on. */
  stop_helpers();
  for (int i = 0; i < 200 && atomic_load(&rt->nproxies) > 0; i++) {
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
  }
  mpmp__free(rt->node_first);
  mpmp__free(rt->node_members);
  rt->node_first = rt->node_members = NULL;
  pl_reset();
}

/* ---- node roots ------------------------------------------------------------ */

void *mpmp__node_root(int slot, size_t size) {
  mpmp__rt_t *rt = &mpmp__rt;
  mpmp__node_ctl_t *ctl = rt->node_ctl;
  if (slot < 0 || slot >= MPMP__NODE_ROOTS)
    return NULL;
  uint64_t off = atomic_load_explicit(&ctl->roots[slot], memory_order_acquire);
  if (off == 0) {
    uint64_t mine;
    if (mpmp__heap_alloc(rt->heap_base, size, &mine) < 0)
      return NULL;
    memset(rt->heap_base + mine, 0, size);
    /* the first rank to publish wins; the others give theirs back */
    if (atomic_compare_exchange_strong(&ctl->roots[slot], &off, mine))
      off = mine;
    else
      mpmp__heap_free(rt->heap_base, mine);
  }
  return rt->heap_base + off;
}

/* ---- public: the node heap ------------------------------------------------- */

MPMP_API int mpmp_heap_info(mpmp_heap_info_t *info) {
  int rc = mpmp__check_init("mpmp_heap_info");
  if (rc < 0)
    return rc;
  if (info == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_heap_info: info is NULL");
  mpmp__heap_stats_t st;
  mpmp__heap_stats(mpmp__rt.heap_base, &st);
  info->total = st.total;
  info->in_use = st.in_use;
  info->largest_free = st.largest_free;
  info->objects = (size_t)atomic_load(&mpmp__rt.node_ctl->nobjects);
  return 0;
}
