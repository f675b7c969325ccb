/*
 * Shared objects: handles, the node heap they live in, and the one path
 * every operation takes, local or remote (object.c).
 *
 * An operation is a function over a resolved object and an argument block
 * (mpmp__oparg_t). On the object's home node the caller runs it in place.
 * From another node the caller ships the arguments to a rank of the home
 * node; there the progress engine runs the same function (a blocking one
 * first as a try, then, if it must wait, in a helper thread with the
 * caller's timeout) and sends back the results. Local and remote callers
 * therefore meet on the same atomics and the same futex words.
 */
#ifndef MPMP_OBJECT_H
#define MPMP_OBJECT_H

#include <string.h>

#include "objects.h"
#include "shsync.h"

/* A create's handle names no object until the create succeeds: cleared
 * first, so that a failed create leaves it zeroed (generation 0, which
 * never names a live object) and a cleanup that frees it frees nothing
 * (not an earlier object whose handle the variable still held). */
static inline void mpmp__ref_clear(mpmp_ref_t *r) {
  if (r != NULL)
    *r = (mpmp_ref_t){0};
}

/* Object kinds (mpmp_ref_t.kind); 0 is never valid. */
enum {
  MPMP__K_VALUE = 1,
  MPMP__K_ARRAY,
  MPMP__K_LOCK, /* a Lock/RLock, or the lock inside a Value/Array/Condition */
  MPMP__K_SEM,
  MPMP__K_EVENT,
  MPMP__K_COND,
  MPMP__K_BARRIER,
  MPMP__K_QUEUE, /* Queue, JoinableQueue, SimpleQueue (queue.c) */
  MPMP__K_CONN,  /* one end of a Pipe (queue.c) */
  MPMP__K_MAX
};

/* Object flags */
#define MPMP__OF_LOCK 1u     /* has an embedded lock at lock_off */
#define MPMP__OF_EXTLOCK 2u  /* a condition using someone else's Lock */

/* The header of every object: the first 64 bytes of its heap block. */
typedef struct mpmp__obj {
  /* The handle's generation (low 32 bits; 0 once freed) and the
   * references (high 32 bits: calls counted here, and one per open lane),
   * in one word: a call takes its reference with one CAS that also proves
   * the generation is still its handle's, and the block goes back to the
   * heap when both are 0 (see object.c, "Lifetime"). */
  _Atomic uint64_t life;
  uint32_t magic;
  uint16_t kind, type;
  uint32_t flags;
  uint32_t esize;       /* bytes per element */
  uint64_t n;           /* elements (Value 1, Array n) */
  uint32_t lock_off;    /* embedded lock, from the header; 0: none */
  uint32_t data_off;    /* the object's body, from the header */
  mpmp_ref_t ext;       /* MPMP__OF_EXTLOCK: the condition's Lock */
} mpmp__obj_t;

_Static_assert(sizeof(mpmp__obj_t) <= 64, "an object header is one line");

#define MPMP__LIFE_GEN 0xffffffffu        /* life: the generation */
#define MPMP__LIFE_CALL (UINT64_C(1) << 32) /* life: one call inside */

static inline void *mpmp__obj_data(mpmp__obj_t *o) {
  return (char *)o + o->data_off;
}

/* The object's generation now: the handle's while it lives, 0 once freed. */
static inline uint32_t mpmp__obj_gen(const mpmp__obj_t *o) {
  return (uint32_t)(atomic_load_explicit(&o->life, memory_order_acquire) &
                    MPMP__LIFE_GEN);
}

/*
 * Was the object freed? Meaningful only to a call that holds a reference
 * on it (mpmp__obj_enter): the block is then still this object's, and
 * its generation reads 0 from the free on. A blocking operation checks
 * this after every wake-up: a free wakes every sleeper of the object
 * (seq_cst: the free's CAS comes before its wake-ups).
 */
static inline int mpmp__obj_dead(const mpmp__obj_t *o) {
  return (atomic_load(&o->life) & MPMP__LIFE_GEN) == 0;
}

/*
 * References (object.c, "Lifetime"). A call that runs an operation on the
 * object takes one first, in a lane: the header's `life`, or a word of the
 * same shape on a line of the body that the call writes anyway (a queue's
 * tail for puts, its head for gets, a lock's own line), so that counting
 * moves no extra cache line between ranks. enter: 1 while the object is
 * still generation `gen`, 0 (nothing taken, nothing written) once it was
 * freed. Every enter that returned 1 is paired with one leave on the same
 * lane; the last leave of a freed object gives its block back to the heap
 * (0, or the heap's error if the block's tags were overwritten).
 */
_Atomic uint64_t *mpmp__obj_lane(mpmp__obj_t *o, int op);
int mpmp__obj_enter(mpmp__obj_t *o, _Atomic uint64_t *lane, uint32_t gen);
int mpmp__obj_leave(mpmp__obj_t *o, _Atomic uint64_t *lane);
/* In a task host, around work inside an object that takes long without
 * sleeping (an Array slice of many KiB): 1 shows the calls this thread
 * is inside in the host's words, as a sleep does, 0 takes them back, so
 * that a host killed in the middle gives its references back (not a leak
 * of the whole block). Elsewhere nothing. */
void mpmp__obj_busy(int on);
/* A copy inside an object, shown as mpmp__obj_busy() when it is long
 * (16 KiB and more: about a microsecond, which the few atomics of the
 * show are lost in); the copies of Array slices, queue items and pipe
 * messages. memmove, not memcpy: the caller's buffer may be the object's
 * own memory (Python's a[1:] = a[:-1] is mpmp_array_write(a, 1, n - 1,
 * data) with data from mpmp_array_data()), where memcpy is undefined
 * (ASan: memcpy-param-overlap; a forward memcpy smears the first
 * element); it costs the same. */
#define MPMP__BUSY_BYTES 16384
static inline void mpmp__obj_copy(void *dst, const void *src, size_t n) {
  if (n < MPMP__BUSY_BYTES) {
    memmove(dst, src, n);
    return;
  }
  mpmp__obj_busy(1);
  memmove(dst, src, n);
  mpmp__obj_busy(0);
}
/* A reference that outlives any call (a pipe end's on its core): hold
 * on an object nobody else has yet, drop as leave on the header. Not
 * recorded as a call of a task host's (objects.h, "inside"). */
void mpmp__obj_hold(mpmp__obj_t *o);
int mpmp__obj_drop(mpmp__obj_t *o);
/* MPMP_EBADF, message "the <kind> was freed while this call waited"
 * (`waited`; else "during this call"), for a call on a `ref_kind` handle
 * (a Lock's may name the lock of a Value, Array or Condition). */
int mpmp__obj_freed(const mpmp__obj_t *o, int ref_kind, int waited);
/* A lane of the body, opened by the creator before the handle is known
 * (it holds one reference in the header until it is closed), and closed
 * by the kind's kill (the generation in it goes to 0). */
void mpmp__lane_open(mpmp__obj_t *o, _Atomic uint64_t *lane);
void mpmp__lane_close(mpmp__obj_t *o, _Atomic uint64_t *lane);
/* The lane of a lock: the 8 bytes after it in its line (a Lock's body, or
 * the slot of a Value's, Array's or Condition's own lock). */
#define MPMP__LOCK_SLOT 64u
static inline _Atomic uint64_t *mpmp__lock_lane(mpmp__shlock_t *l) {
  return (_Atomic uint64_t *)(void *)((char *)l + sizeof *l);
}
_Static_assert(sizeof(mpmp__shlock_t) + 8 <= MPMP__LOCK_SLOT,
               "a lock and its lane fit one line");
/*
 * Free the object the caller holds a reference on: its generation becomes
 * 0 (its handles are stale from now on), and every call waiting in it is
 * woken to return MPMP_EBADF (the kind's kill function). 1 if this call
 * freed it, 0 if another free came first. The block goes back to the heap
 * at the last leave.
 */
int mpmp__obj_kill(mpmp__obj_t *o);
/* What a kind adds to the lifetime of its objects (sync.c and queue.c
 * register theirs at setup; an embedded lock is object.c's own). */
typedef struct mpmp__kind_ops {
  /* being freed: wake every waiter, close the lanes */
  void (*kill)(mpmp__obj_t *o);
  /* the block is going back to the heap (its last reference left) */
  void (*release)(mpmp__obj_t *o);
} mpmp__kind_ops_t;
void mpmp__kind_register(int kind, const mpmp__kind_ops_t *k);
/* Calls of `op` on objects of `kind` count themselves in the lane `at`
 * bytes into the body (> 0). Unregistered: the header's `life`; the lock
 * operations: the lane of the object's own lock, if it has one. */
void mpmp__lane_register(int kind, int op, int at);

/* Operations (the remote protocol names them by number). */
enum {
  MPMP__OP_FREE = 1,
  MPMP__OP_INFO,      /* r0 = n, r1 = type | flags << 16 */
  MPMP__OP_LOAD,      /* elements [i, i+n) -> out */
  MPMP__OP_STORE,     /* in -> elements [i, i+n) */
  MPMP__OP_ADD,       /* element i += x; r0 = old */
  MPMP__OP_XCHG,      /* element i = x; r0 = old */
  MPMP__OP_CAS,       /* element i: x expected, y desired; rc 1/0, r0 = now */
  MPMP__OP_LOCK_ACQUIRE,
  MPMP__OP_LOCK_RELEASE,
  MPMP__OP_LOCK_MINE,   /* x 1: whether anyone holds it (locked()) */
  MPMP__OP_SEM_ACQUIRE,
  MPMP__OP_SEM_RELEASE,
  MPMP__OP_SEM_VALUE,
  MPMP__OP_EV_SET,
  MPMP__OP_EV_CLEAR,
  MPMP__OP_EV_IS_SET,
  MPMP__OP_EV_WAIT,
  MPMP__OP_COND_WAIT,
  MPMP__OP_COND_NOTIFY, /* x waiters */
  MPMP__OP_BAR_WAIT,    /* rc = arrival index */
  MPMP__OP_BAR_ABORT,
  MPMP__OP_BAR_RESET,
  MPMP__OP_BAR_BROKEN,
  MPMP__OP_BAR_WAITING,
  MPMP__OP_BAR_ACTED,   /* x: the action's outcome (1 ok, 0 failed) */
  /* queue.c: Queue, JoinableQueue, SimpleQueue, Pipe */
  MPMP__OP_Q_PUT,
  MPMP__OP_Q_GET,
  MPMP__OP_Q_SIZE,
  MPMP__OP_Q_CLOSE,
  MPMP__OP_Q_TASK_DONE,
  MPMP__OP_Q_JOIN,
  MPMP__OP_Q_POLL,
  MPMP__OP_Q_X1, /* spare numbers for queue.c */
  MPMP__OP_Q_PUT_BATCH, /* n items, each [u64 length][bytes][pad to 8];
                         * r0 = how many were put (object.c's pipeline) */
  MPMP__OP_C_SEND_BATCH, /* n pipe messages, as a put batch, to the end's
                         * peer, from message i on (those before went in:
                         * a helper goes on after them); r0 = how many
                         * went in, r1 = the room left (object.c) */
  MPMP__OP_Q_X4,
  MPMP__OP_MAX
};

typedef struct mpmp__oparg {
  uint64_t owner;     /* the caller's lock owner id */
  double deadline;    /* absolute, mpmp__now() seconds */
  int64_t x, y;
  uint64_t i, n;
  const void *in;
  size_t in_len;
  void *out;
  size_t out_max, out_len;
  int64_t r0, r1;
} mpmp__oparg_t;

/* Returns >= 0 or an error with the message set. */
typedef int (*mpmp__op_fn)(mpmp__obj_t *o, mpmp__oparg_t *a);

/* Blocking class of an operation, for the remote path. */
enum {
  MPMP__OPB_NO = 0, /* never waits */
  MPMP__OPB_TRY,    /* may wait: try at once, wait in a helper thread */
  MPMP__OPB_ALWAYS, /* waits in any case: always in a helper thread */
  MPMP__OPB_FREE    /* never waits; frees the object (its own messages) */
};

/* Register an operation (value.c and sync.c do, at setup). */
void mpmp__op_register(int op, mpmp__op_fn fn, int blocking);

/*
 * Run `op` on the object named by `ref`, which must be of kind `kind`:
 * validates the handle (MPMP_EBADF with a message naming `fn`), then runs
 * it here or on the home node. `a->deadline` must be set for blocking ops.
 */
int mpmp__obj_call(const mpmp_ref_t *ref, int kind, int op, mpmp__oparg_t *a,
                   const char *fn);

/*
 * Pipelined puts (object.c, "Pipelined puts"). A put of `len` bytes to
 * the unbounded queue `ref` of another node: 1 if it was taken (sent, or
 * batched behind the batch in flight), 0 if the caller must make an
 * ordinary call (a queue not known to be unbounded, an item over its
 * max_item, which the ordinary call refuses), or < 0 an error (a failure
 * the home node reported for earlier puts to this queue, or the
 * MPMP_ETIMEDOUT of a put whose `*deadline` (the call's, mpmp__oparg_t's)
 * passed while earlier items of this rank waited for room on their node,
 * as the fence before any call: mpmp__obj_fence_call). Ordinary puts
 * to a queue of another node learn whether it is unbounded, and its
 * max_item (mpmp__obj_put_learn, from the reply's r1 and r0).
 */
int mpmp__obj_put_pipelined(const mpmp_ref_t *ref, const void *item,
                            size_t len, double *deadline, const char *fn);
void mpmp__obj_put_learn(const mpmp_ref_t *ref, int64_t unbounded,
                         size_t max_item);
/*
 * Pipelined adds and stores, the same way: `op` MPMP__OP_ADD (of `delta`,
 * whose old value nobody asked for: mpmp_value_add(v, d, NULL),
 * mpmp_array_add) or MPMP__OP_STORE (of the `len` <= 8 bytes at `val`:
 * one element) to element `elem` of a Value or Array of another node,
 * once an ordinary call of that op to that element succeeded
 * (mpmp__obj_elem_learn: its type takes it, the element is in range;
 * what is left to fail later is a free, reported as for puts). Adds
 * gathered behind the batch in flight go as one add of their sum, stores
 * as the last one. 1: taken; 0: make an ordinary call; < 0: a failure of
 * earlier ones.
 */
int mpmp__obj_elem_pipelined(const mpmp_ref_t *ref, int op, uint64_t elem,
                             int64_t delta, const void *val, size_t len,
                             const char *fn);
void mpmp__obj_elem_learn(const mpmp_ref_t *ref, int op, uint64_t elem);
/*
 * Pipelined sends, the same way: a send of `len` bytes on the pipe end
 * `ref` of another node, while the room its home node last reported
 * (mpmp__obj_send_learn, from an ordinary send's reply: r1, the bytes free
 * in the ring after it) covers it, less what was sent since. 1: taken; 0:
 * make an ordinary call (no room known, a message over 8 KiB); < 0: a
 * failure of earlier sends (the peer closed, the end was freed).
 */
/* This rank takes items from the bounded queue (or messages from the pipe
 * end) `ref` of another node: its puts to it (sends on pipes of other
 * nodes) are no longer pipelined (object.c, mpmp__obj_pl_consumer). */
void mpmp__obj_pl_consumer(const mpmp_ref_t *ref);
int mpmp__obj_send_pipelined(const mpmp_ref_t *ref, const void *msg,
                             size_t len, double *deadline, const char *fn);
void mpmp__obj_send_learn(const mpmp_ref_t *ref, int64_t room);
/*
 * After the ordinary put, send, add or store (result rc) that one of the
 * above sent back: a failure forgets the object (no later call returns
 * early), and comes with the count of earlier items not delivered if the
 * home node reported some. Returns the call's result.
 */
int mpmp__obj_pl_after(const mpmp_ref_t *ref, int rc, const char *fn);
/* A Manager's shutdown freed objects of its own: no put, send, add or
 * store to any object known returns early after it. */
void mpmp__obj_forget_all(void);

/*
 * A call that races with mpmp_finalize() in another thread must not touch
 * the segment after finalize unmapped it. The calls that wait are listed
 * while they wait (shsync.h); creates and frees, which are not hot paths,
 * are listed for their whole length: mpmp__obj_guard (0, or
 * MPMP_ENOTINIT once finalize began) before, mpmp__obj_unguard(rc) after
 * (returns rc). Finalize waits for listed calls to leave. The hot paths
 * (a put or get that does not wait, a lock that is free, a Value's add,
 * load or store) are not listed: one that read "running" just before
 * finalize began and is still inside when the segment goes can still
 * fault (README, "When a call is used wrongly").
 */
int mpmp__obj_guard(const char *fn);
int mpmp__obj_unguard(int rc);

/*
 * Create an object of `kind` whose body is `body` bytes, with an embedded
 * lock (recursive) when `lock` is set. The header is filled in (n, esize,
 * type from the arguments); the body is zeroed; *o points at it so that the
 * creator can initialise the body before anyone else can know the handle.
 */
int mpmp__obj_create(mpmp_ref_t *ref, int kind, int type, uint64_t n,
                     uint32_t esize, size_t body, int lock, mpmp__obj_t **o,
                     const char *fn);
/* Free the object `ref` names (nothing if it is stale): a create whose
 * body could not be initialised, or a pipe's core with its second end. */
void mpmp__obj_discard(const mpmp_ref_t *ref);

/* A handle to the embedded lock of the object `ref` names. */
void mpmp__obj_lock_ref(const mpmp_ref_t *ref, mpmp_ref_t *lock);
/* The lock of an object of kind LOCK, or embedded in a Value, Array or
 * Condition (not a Condition's external Lock: see below). */
mpmp__shlock_t *mpmp__obj_own_lock(mpmp__obj_t *o);
/*
 * The lock an object of kind LOCK (or a Condition) uses. When that is
 * another object's (a Condition made with a Lock of the user's), the
 * caller gets a reference on that object in *held, to leave once done
 * with the lock (*held NULL: none taken). NULL + message (MPMP_EBADF)
 * if that Lock was freed.
 */
mpmp__shlock_t *mpmp__obj_lock_enter(mpmp__obj_t *o, mpmp__obj_t **held);
/* Resolve a handle of this node (NULL if stale; no message). */
mpmp__obj_t *mpmp__obj_resolve(const mpmp_ref_t *ref);
/* The hot path: the live object of a valid `kind` handle homed on this
 * node, mpmp running; NULL otherwise (then take mpmp__obj_call, which says
 * what is wrong). */
mpmp__obj_t *mpmp__obj_local(const mpmp_ref_t *ref, int kind);
/* The fence before a call on `ref` whose deadline is *deadline (one not
 * started is started), for a call with a timeout that does not go through
 * mpmp__obj_call, which fences this way itself: 0, or MPMP_ETIMEDOUT (the
 * message set, naming `fn`) when earlier puts or sends of this rank still
 * wait for room on their node at the deadline (object.c, pl_fence_for:
 * a try-once call waits a second). One load when nothing is in flight. */
int mpmp__obj_fence_call(const mpmp_ref_t *ref, double *deadline,
                         const char *fn);
/* Check a handle without resolving it: 0 or MPMP_EBADF naming fn. */
int mpmp__ref_check(const mpmp_ref_t *ref, int kind, const char *fn);
int mpmp__ref_is_local(const mpmp_ref_t *ref);
/* Whether two handles name the same object (the same block, generation
 * and kind; the tag follows from those). */
static inline int mpmp__ref_same(const mpmp_ref_t *a, const mpmp_ref_t *b) {
  return a->off == b->off && a->node == b->node && a->gen == b->gen &&
         a->kind == b->kind;
}
/* 0 if the handle names a live object (asks the home node if remote). */
int mpmp__obj_alive(const mpmp_ref_t *ref, int kind, const char *fn);
/* Elements [a->i, a->i + a->n) within the object. */
int mpmp__elem_bounds(mpmp__obj_t *o, const mpmp__oparg_t *a);

/* This thread's lock owner id: rank and thread, never 0 (shsync.h). */
uint64_t mpmp__owner_id(void);
/* (mpmp__claim_self, mpmp__claim_dead: shsync.h) */
/* Test only (MPMP_TEST_HOST_DIE_ON_PUT=n, read when a host starts): 1 + n
 * where a host's put of an n-byte item kills the host between its claim
 * and its publication; 0 otherwise. MPMP_TEST_HOST_DIE_ON_GET=n: the same
 * for a get into an n-byte buffer, between its claim and freeing the
 * slot. */
extern uint64_t mpmp__test_put_die, mpmp__test_get_die;
/* Test only (MPMP_TEST_HOST_DIE_ON_DICT_SET=n, read when a host starts):
 * 1 + n where a host's in-place set of an n-byte value that starts with
 * 0xD1 kills the host with half of it written (manager.c), and one that
 * starts with 0xD2 stops it (SIGSTOP) holding the key's stripe; 0
 * otherwise. */
extern uint64_t mpmp__test_dict_die;

/*
 * A per-node singleton in the node heap (e.g. a name registry): `size`
 * zeroed bytes, created by the first rank of the node that asks, the same
 * block for every rank of the node afterwards. NULL if the heap is full.
 * Slots: MPMP__ROOT_SHM (shm.c), MPMP__ROOT_HOSTS_DEAD (object.c: the dead
 * task hosts of other nodes' ranks); the rest are free.
 */
#define MPMP__NODE_ROOTS 4
enum { MPMP__ROOT_SHM = 0, MPMP__ROOT_HOSTS_DEAD = 1 };
void *mpmp__node_root(int slot, size_t size);

#endif /* MPMP_OBJECT_H */
