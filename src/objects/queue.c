/*
 * Queue, JoinableQueue, SimpleQueue, Pipe and connection.wait() as shared
 * objects (mpmp/queue.h). Every operation is a function over the object's
 * body in the node heap, reached through object.c's one call path: ranks of
 * the home node run it in place, others ship it there (a blocking one waits
 * in a helper thread of the home node), so both meet on the same atomics
 * and futex words.
 *
 * Queue. A bounded multi-producer multi-consumer ring of fixed-size slots
 * (Vyukov's algorithm): each slot has a sequence number that says whose
 * turn it is. A producer claims position p when slot p % cap has seq == 2p
 * (CAS on `tail`), writes the item and publishes seq = 2p + 1; a consumer
 * claims p when seq == 2p + 1 (CAS on `head`), copies the item out and
 * frees the slot with seq = 2(p + cap). (Vyukov's p, p + 1, p + cap would
 * confuse "filled for p" with "free for p + 1" in a ring of one slot:
 * maxsize 1.) No lock: producers and consumers touch
 * the shared counters with one CAS each, and the slots they fill or empty
 * are on lines of their own. Items of one producer are claimed in its
 * program order and consumed in position order: FIFO per producer.
 *   close() sets the top bit of `tail`, so a put either claimed its slot
 * before the close (and is delivered) or fails: no put slips in after it.
 * Once closed, `head` reaching `tail` means no item can ever come (EOF).
 *   A get into a small buffer reads the head item's length before claiming
 * it, and reports EMSGSIZE only if `head` has not moved meanwhile (the
 * length was that item's, and the item stays queued).
 *   Dead producers and consumers. A task host (parallel/host.c) may die,
 * of a crash or a kill, between its claim of a slot and the publication:
 * with nothing done, every consumer would wait at that slot for ever. So a
 * host writes its claim (its node rank and generation: mpmp__claim_self)
 * into the slot's `who` word, on the line it fills anyway, right after its
 * CAS on `tail`, and clears it just before it publishes; other producers
 * write nothing there. A consumer that finds the head slot claimed but not
 * published sleeps in slices (MPMP__SHLOCK_DEAD_SLICE_S) rather than until
 * a wake-up, and once `who` names a host that died (mpmp__claim_dead: its
 * fork server recorded it) skips the slot as a get that takes nothing
 * (q_skip_dead). The item is lost with its producer, as in Python when a
 * process is killed in put(); every other item comes, in order. A consumer
 * that is a task host does the same between its CAS on `head` and freeing
 * the slot (the copy out, where a bad buffer crashes it): a producer that
 * waits for that slot sleeps in slices and frees it once its consumer is
 * known dead (q_free_dead); that item is lost with its consumer. Not seen:
 * a host killed between its CAS and its `who` store, or between clearing
 * `who` and publishing or freeing (an instruction or two each).
 *
 * Unbounded (maxsize 0). The ring keeps its default size; a put that
 * finds it full, or finds items in the overflow already, appends its item
 * to the overflow: a FIFO list of node-heap chunks under a lock, each
 * holding many items one after the other, which the home node's heap
 * sizes (MPMP_ENOSPC when it is full). Producers faster than their
 * consumer (several of them on a node) keep the queue in the overflow
 * for as long as they run; one heap block per item made the heap's lock
 * the queue's bottleneck then (4 producers: half the consumer's time in
 * the heap), so a chunk takes the items of many puts, and an emptied
 * last chunk is kept for the next ones (it goes with the queue).
 * A get takes from the overflow only when the ring is empty (head ==
 * tail, read under the lock after it saw the overflow's first item), so
 * the items of one producer keep their order: once one of them went to
 * the overflow, its later ones go there too until the overflow is empty,
 * and its earlier ones in the ring were taken before. EOF is decided
 * under the same lock (closed, ring empty, overflow empty), which a put
 * to the overflow holds while it checks `closed` and appends: no item
 * slips in after a close. A task host that dies holding the lock leaves
 * the list whole (a put links its block last; a get unlinks before it
 * frees); the next taker recounts it (MPMP_EOWNERDEAD: ovf_mend).
 *
 * Pipe. Each direction is a byte ring (single writer and single reader at
 * a time: a lock per side keeps whole messages together) carrying
 * [8-byte length][payload][pad to 8]. A message longer than the ring
 * streams through it: the writer publishes what fits, the reader copies it
 * out and frees room, and the reader knows the total from the first
 * fragment, so it can refuse a message larger than its buffer without
 * consuming anything. A writer that times out part-way withdraws the
 * message: if no reader has started on it, it marks the message's length
 * word (a CAS against the reader's "taken" mark) with how many bytes to
 * skip; if a reader is inside it, it leaves a record (abort_at, abort_end)
 * that this reader acts on, and the next message starts once it has. A
 * pipe is three objects: the core (both rings, closed flags) and one small
 * object per end that users hold, so that freeing one end makes its own
 * handle stale without pulling the memory from under the other end. A task
 * host that dies holding a side's lock: see "Dead writers and readers".
 *
 * Waiting. A blocked caller spins for a few microseconds (a partner on
 * another core answers well within that), then announces itself in a
 * waiter count, re-checks, and sleeps on a futex word; the side that makes
 * progress publishes it (seq_cst), then reads the counts and bumps the word
 * and wakes only if someone sleeps: no system call on the fast path, and
 * no lost wake-up (see shsync.c for the argument). Items wake one sleeping
 * consumer each; pollers (poll, wait) are woken at every change.
 *   A free wakes every waiter of the object (its kill function, after the
 * generation went to 0: object.c); a waiter reads the generation where it
 * re-checks before sleeping and after every wake-up, and returns
 * MPMP_EBADF. For a pipe that is the end the call runs on: freeing an end
 * closes it too, so its peer's calls see a closed pipe, as before.
 */
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "heap.h"
#include "object.h"

/* ---- waiting: spin a little, then sleep on a futex ----------------------- */

#define SPIN_POLLS 32 /* pause-and-polls between two looks at the clock */

typedef int (*ready_fn)(const void *arg);

/* Where one kind of waiter sleeps (one cache line with its neighbours). */
typedef struct waitpt {
  _Atomic uint32_t word;     /* futex word: bumped when someone is woken */
  _Atomic uint32_t sleepers; /* callers that wait for their turn: wake one */
  _Atomic uint32_t pollers;  /* callers that only watch: wake all */
  uint32_t pad;
} waitpt_t;

/* Poll ready() for up to MPMP_SPIN_US, the rank's polling time for any
 * wait (no longer than the deadline), yielding between rounds where the
 * rank's cores are crowded: 1 if it turned true or `o` was freed. The
 * clock is first read after a round of polls. A partner answering within
 * the window costs no system call on either side; 5 us was too short on a
 * VM, where half the ping-pongs then fell asleep (queue 2.7-5.7 us one
 * way). */
static int spin(ready_fn ready, const void *arg, const mpmp__obj_t *o,
                double deadline) {
  double start = -1, spin_s = mpmp__net.spin_s;
  int remote = mpmp__net.nnodes > 1;
  for (;;) {
    for (int i = 0; i < SPIN_POLLS; i++) {
      if (ready(arg))
        return 1;
      mpmp__cpu_relax();
    }
    if (mpmp__obj_dead(o))
      return 1;
    /* With other nodes, the item may be on its way from one: serve their
     * requests (a remote put to this very queue) from here, rather than
     * leave them to the agent thread, which competes with this spin for
     * a core. Safe: handlers never block (see object.c). */
    if (remote)
      mpmp__progress();
    double now = mpmp__now();
    if (start < 0)
      start = now;
    if (now - start >= spin_s || now >= deadline)
      return 0;
    if (mpmp__net.spin_yield)
      mpmp__poll_yield();
  }
}

/* How long to sleep once the spin is over: the deadline, or sooner (a
 * slice, where no one may be left to wake the sleeper: a task host that
 * died). Called before the sleeper announces itself, so that what it read
 * to decide is re-checked after (ready). */
typedef double (*until_fn)(const void *arg, double deadline);

/* Announce this caller at wp, re-check ready(), and sleep until `end`
 * (or a wake-up) unless it turned true, `o` was freed or the deadline
 * passed: the half of a wait that sleeps (see "Waiting" above). */
static void sleep_at(waitpt_t *wp, ready_fn ready, const void *arg,
                     double end, double deadline, int poller,
                     const mpmp__obj_t *o) {
  _Atomic uint32_t *count = poller ? &wp->pollers : &wp->sleepers;
  atomic_fetch_add(count, 1);
  uint32_t w = atomic_load(&wp->word);
  /* the generation after the word: a free's wake-up bumps the word */
  if (!ready(arg) && !mpmp__obj_dead(o) && !mpmp__expired(deadline))
    mpmp__waits_sleep(&wp->word, w, FUTEX_BITSET_MATCH_ANY, end);
  atomic_fetch_sub(count, 1);
}

/* Wait until ready() may have turned true, or the deadline: spin on
 * spin_ready() (ready() where NULL), then announce, re-check ready(), and
 * sleep until until(deadline) (the deadline where NULL). 0, MPMP_EBADF
 * once the object `o` the caller runs on (and holds a reference on) was
 * freed, or MPMP_ENOTINIT once mpmp_finalize() began (the call joins this
 * process's waiters as it starts to spin: shsync.h). The caller loops:
 * re-try, check the deadline. */
static int await_until(waitpt_t *wp, ready_fn spin_ready, ready_fn ready,
                       until_fn until, const void *arg, double deadline,
                       int poller, const mpmp__obj_t *o) {
  mpmp__waits_join();
  int rc = mpmp__waits_quit(); /* listed, then the mark: see shsync.c */
  if (rc < 0)
    return rc;
  if (!spin(spin_ready ? spin_ready : ready, arg, o, deadline))
    sleep_at(wp, ready, arg, until ? until(arg, deadline) : deadline,
             deadline, poller, o);
  return mpmp__obj_dead(o) ? MPMP_EBADF : mpmp__waits_quit();
}

static int await(waitpt_t *wp, ready_fn ready, const void *arg,
                 double deadline, int poller, const mpmp__obj_t *o) {
  return await_until(wp, NULL, ready, NULL, arg, deadline, poller, o);
}

/* Progress was just published (a seq_cst store): wake one sleeper (all of
 * them with `all`) and every poller, if any wait. */
static void wake(waitpt_t *wp, int all) {
  uint32_t s = atomic_load(&wp->sleepers), p = atomic_load(&wp->pollers);
  if ((s | p) == 0)
    return;
  atomic_fetch_add(&wp->word, 1);
  mpmp__futex_wake(&wp->word, all || p ? INT_MAX : 1, FUTEX_BITSET_MATCH_ANY);
}

/* ---- Queue --------------------------------------------------------------- */

enum { Q_PLAIN = 0, Q_JOINABLE = 1, Q_SIMPLE = 2 }; /* the object's type */

#define QCLOSED (UINT64_C(1) << 63) /* in `tail` */
#define QSLOT_HEAD 16u              /* seq and len before the item's bytes */

typedef struct qslot {
  _Atomic uint64_t seq;
  _Atomic uint32_t len;
  _Atomic uint32_t who; /* a task host's claim while it fills the slot */
  unsigned char data[];
} qslot_t;

typedef struct qbody {
  uint64_t cap;  /* slots */
  uint64_t mask; /* cap - 1 if cap is a power of two, else 0 */
  uint32_t slot_size, max_item;
  uint32_t unbounded; /* maxsize 0: items past the ring go to the overflow */
  _Alignas(64) _Atomic uint64_t tail; /* producers' next position | QCLOSED */
  _Atomic uint64_t put_lane; /* puts count themselves here (object.c) */
  _Alignas(64) _Atomic uint64_t head; /* consumers' next position */
  _Atomic uint64_t get_lane; /* gets, polls, sizes, task_done */
  _Alignas(64) waitpt_t items;        /* gets and polls wait here */
  _Alignas(64) waitpt_t space;        /* puts wait here */
  waitpt_t backlog; /* unbounded puts paused by a long overflow (below) */
  _Alignas(64) _Atomic uint64_t unfinished; /* JoinableQueue */
  waitpt_t done;                            /* joins wait here */
  /* An unbounded queue's overflow (see "Unbounded" above): a list of
   * heap chunks of items, under ovf_lock; ovf_count (items) is read
   * without it. */
  _Alignas(64) mpmp__shlock_t ovf_lock;
  _Alignas(64) _Atomic uint64_t ovf_count;
  uint64_t ovf_head, ovf_tail; /* node heap offsets of qnode_t; 0: none */
} qbody_t;

/* A chunk of an unbounded queue's overflow: items [rd, used) of its
 * data are queued, each a qrec_t and its bytes padded to 8. Only the last
 * chunk takes new items; a chunk before it that a get empties goes. */
typedef struct qnode {
  uint64_t next; /* the next chunk's offset; 0: the last */
  uint32_t size; /* data bytes */
  uint32_t used; /* data bytes filled: an item counts once this covers it */
  uint32_t rd;   /* data bytes taken */
  uint32_t pad;
  unsigned char data[];
} qnode_t;

typedef struct qrec {
  uint32_t len;
  uint32_t pad;
} qrec_t;

/* The data bytes of a chunk made for small items: many puts to one heap
 * allocation (an item larger than an eighth of it gets a chunk of its
 * own size, as does any item when the heap has no room for this). */
#define OVF_CHUNK (64u << 10)

/* Back-pressure on a long overflow: see q_backlog_pause. */
#define BACKLOG_HIGH 16384
#define BACKLOG_LOW (BACKLOG_HIGH / 2)
#define BACKLOG_LOOK_S 0.001 /* how often a paused put looks at the pace */
#define BACKLOG_LOOK_MIN 256  /* items taken per look, or it goes on */
#define BACKLOG_CALM_S 0.01   /* and does not pause again for this long */
#define BACKLOG_PAUSE_MAX_S 0.1 /* nor after one pause this long */

_Static_assert(sizeof(qslot_t) == QSLOT_HEAD, "slot header");
_Static_assert(sizeof(qbody_t) % 64 == 0, "slots start on a line");

static qslot_t *slot_at(qbody_t *q, uint64_t pos) {
  uint64_t i = q->mask ? pos & q->mask : pos % q->cap;
  return (qslot_t *)(void *)((char *)(q + 1) + i * q->slot_size);
}

/* A slot's claimant counted its item in `unfinished` (JoinableQueue). */
#define WHO_COUNTED (UINT32_C(1) << 31)

/* A task host's put in the slot s it claimed, between the claim and the
 * publication (see "Dead producers and consumers" above). */
static void host_fill(qbody_t *q, qslot_t *s, int joinable, const void *item,
                      size_t n) {
  uint32_t me = mpmp__claim_self;
  atomic_store_explicit(&s->who, me, memory_order_relaxed);
  if (mpmp__test_put_die != 0 && n + 1 == mpmp__test_put_die)
    raise(SIGKILL); /* test only: die holding the claim */
  if (n)
    mpmp__obj_copy(s->data, item, n);
  atomic_store_explicit(&s->len, (uint32_t)n, memory_order_release);
  if (joinable) {
    atomic_fetch_add(&q->unfinished, 1);
    atomic_store_explicit(&s->who, me | WHO_COUNTED, memory_order_relaxed);
  }
  /* (a release: before the publication, which the caller makes) */
  atomic_store_explicit(&s->who, 0, memory_order_release);
}

/* Claim, fill and publish the slot at `tail`: 0, MPMP_EAGAIN when full,
 * MPMP_EPIPE when closed. */
static int q_try_put(qbody_t *q, int joinable, const void *item, size_t n) {
  uint64_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
  for (;;) {
    if (pos & QCLOSED)
      return MPMP_EPIPE;
    qslot_t *s = slot_at(q, pos);
    uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
    int64_t dif = (int64_t)(seq - 2 * pos);
    if (dif < 0)
      return MPMP_EAGAIN; /* the slot still holds an item of the last lap */
    if (dif > 0) {        /* another producer took it: catch up */
      pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
      continue;
    }
    if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + 1,
                                              memory_order_relaxed,
                                              memory_order_relaxed)) {
      if (mpmp__claim_self != 0) {
        host_fill(q, s, joinable, item, n);
      } else {
        if (n)
          mpmp__obj_copy(s->data, item, n);
        /* release: pairs with the acquire fence of a consumer's size
         * check */
        atomic_store_explicit(&s->len, (uint32_t)n, memory_order_release);
        if (joinable) /* counted before anyone can take it (and task_done) */
          atomic_fetch_add(&q->unfinished, 1);
      }
      atomic_store(&s->seq, 2 * pos + 1); /* seq_cst: publish, then wake() */
      return 0;
    }
  }
}

/* Take the item at `head` into out: 0, MPMP_EAGAIN when empty, or
 * MPMP_EMSGSIZE with *n its size when it is larger than max (left queued). */
static int q_try_get(qbody_t *q, void *out, size_t max, size_t *n) {
  uint64_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
  for (;;) {
    qslot_t *s = slot_at(q, pos);
    uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
    int64_t dif = (int64_t)(seq - (2 * pos + 1));
    if (dif < 0)
      return MPMP_EAGAIN; /* not filled yet */
    if (dif > 0) {        /* another consumer took it: catch up */
      pos = atomic_load_explicit(&q->head, memory_order_relaxed);
      continue;
    }
    uint32_t len = atomic_load_explicit(&s->len, memory_order_relaxed);
    if (len > max) {
      /* The length is item pos's only if nobody took pos meanwhile (a
       * seqlock read: the fence orders the length read before this one). */
      atomic_thread_fence(memory_order_acquire);
      uint64_t now = atomic_load_explicit(&q->head, memory_order_relaxed);
      if (now == pos) {
        *n = len;
        return MPMP_EMSGSIZE;
      }
      pos = now;
      continue;
    }
    /* Winning the CAS proves pos was still unclaimed, so `len` was its. */
    if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + 1,
                                              memory_order_relaxed,
                                              memory_order_relaxed)) {
      uint32_t me = mpmp__claim_self; /* a task host: see q_free_dead */
      if (me != 0) {
        atomic_store_explicit(&s->who, me, memory_order_relaxed);
        /* producers asleep on this slot now look for our death (the fence:
         * head moved, then wake() reads who sleeps: see q_put_ready) */
        atomic_thread_fence(memory_order_seq_cst);
        wake(&q->space, 1);
        if (mpmp__test_get_die != 0 && max + 1 == mpmp__test_get_die)
          raise(SIGKILL); /* test only: die holding the slot */
      }
      if (len)
        mpmp__obj_copy(out, s->data, len);
      *n = len;
      if (me != 0) /* (a release: before the slot is freed) */
        atomic_store_explicit(&s->who, 0, memory_order_release);
      /* seq_cst: free it for the next lap, then wake() */
      atomic_store(&s->seq, 2 * (pos + q->cap));
      return 0;
    }
  }
}

/*
 * The head slot's producer, a task host, died between its claim and its
 * publication (see "Dead producers and consumers" above): skip the slot,
 * as a get that takes nothing. 1 if this call did (then wake the
 * producers), else 0. `who` is non-zero only between a host's claim of the
 * slot and its publication or freeing (it clears it first), so with
 * seq == 2 pos (the lap before freed) it names pos's producer. Once that
 * host is known dead it writes nothing more, so seq read again still 2 pos
 * means it never published, and never will. The head's CAS lets one
 * consumer skip it: no get can take pos (it would need seq == 2 pos + 1).
 */
static int q_skip_dead(qbody_t *q) {
  uint64_t pos = atomic_load(&q->head);
  qslot_t *s = slot_at(q, pos);
  if (atomic_load(&s->seq) != 2 * pos)
    return 0;
  uint32_t who = atomic_load(&s->who);
  if (who == 0 || !mpmp__claim_dead(who & ~WHO_COUNTED) ||
      atomic_load(&s->seq) != 2 * pos ||
      !atomic_compare_exchange_strong(&q->head, &pos, pos + 1))
    return 0;
  if ((who & WHO_COUNTED) && atomic_fetch_sub(&q->unfinished, 1) == 1)
    wake(&q->done, 1); /* the lost item counts as done */
  atomic_store_explicit(&s->who, 0, memory_order_relaxed);
  atomic_store(&s->seq, 2 * (pos + q->cap)); /* seq_cst: free, then wake() */
  return 1;
}

/*
 * The slot at `tail` still holds the item of the lap before, which a
 * consumer that is a task host took and died before it freed the slot
 * (see "Dead producers and consumers" above): free it, as that get would
 * have. 1 if this call did (then wake the producers), else 0. With
 * seq == 2 prev + 1 (the item published, not freed), `who` is non-zero
 * only while a consumer host copies it out (the producer cleared its own
 * claim before it published); the CAS on `who` lets one producer free it.
 */
static int q_free_dead(qbody_t *q) {
  uint64_t pos = atomic_load(&q->tail);
  if ((pos & QCLOSED) || pos < q->cap)
    return 0;
  qslot_t *s = slot_at(q, pos);
  uint64_t prev = pos - q->cap;
  if (atomic_load(&s->seq) != 2 * prev + 1)
    return 0;
  uint32_t who = atomic_load(&s->who);
  if (who == 0 || !mpmp__claim_dead(who) ||
      atomic_load(&s->seq) != 2 * prev + 1 ||
      !atomic_compare_exchange_strong(&s->who, &who, 0))
    return 0;
  atomic_store(&s->seq, 2 * pos); /* seq_cst: free, then wake() */
  return 1;
}

/* A put that found no room waits until the slot it wants is freed (its
 * spin looks for that only); while the item there is not taken yet, its
 * sleep also ends when a consumer takes it (a consumer that is a task host
 * then wakes the producers: q_try_get), for that consumer may die before
 * it frees the slot: the next sleep is then sliced (q_put_until). */
typedef struct qput_wait {
  qbody_t *q;
  uint64_t head; /* when the sleep was decided; UINT64_MAX: taken */
} qput_wait_t;

static int q_can_put(const void *arg);

static int q_put_free(const void *arg) {
  return q_can_put(((const qput_wait_t *)arg)->q);
}

static int q_put_ready(const void *arg) {
  const qput_wait_t *w = arg;
  return q_can_put(w->q) ||
         (w->head != UINT64_MAX && atomic_load(&w->q->head) != w->head);
}

/* The deadline while the item at the slot is not taken; one slice at a
 * time once it is taken and not yet freed, for its consumer may be a task
 * host that dies with no one to wake the producers (q_free_dead). */
static double q_put_until(const void *arg, double deadline) {
  qput_wait_t *w = (qput_wait_t *)arg;
  qbody_t *q = w->q;
  uint64_t pos = atomic_load(&q->tail) & ~QCLOSED;
  w->head = atomic_load(&q->head);
  if (pos < q->cap || w->head <= pos - q->cap)
    return deadline;
  w->head = UINT64_MAX;
  return fmin(deadline, mpmp__now() + MPMP__SHLOCK_DEAD_SLICE_S);
}

/* How long a get or poll that found no item sleeps: until its deadline,
 * unless the head slot is claimed and not yet published, whose producer
 * may be a task host that dies with no one to wake the consumers: then
 * one slice at a time, to look again (q_skip_dead). (A consumer asleep on
 * an empty queue is woken by the next put, which is the item it waits
 * for, and skips then.) */
static double q_get_until(const void *arg, double deadline) {
  qbody_t *q = (qbody_t *)arg;
  uint64_t pos = atomic_load(&q->head);
  if ((atomic_load(&q->tail) & ~QCLOSED) <= pos)
    return deadline; /* empty: a put will wake us */
  return fmin(deadline, mpmp__now() + MPMP__SHLOCK_DEAD_SLICE_S);
}

static int ring_empty(qbody_t *q) {
  return atomic_load(&q->head) == (atomic_load(&q->tail) & ~QCLOSED);
}

/* Is the backlog still too long for paused producers (q_backlog_pause)? */
static int backlog_over(qbody_t *q) {
  uint64_t ovf = atomic_load(&q->ovf_count);
  if (ovf > 0)
    return ovf > BACKLOG_LOW;
  uint64_t used = (atomic_load(&q->tail) & ~QCLOSED) - atomic_load(&q->head);
  return used > q->cap / 2;
}

/* A paused put goes on: the backlog is down, or the queue closed. */
static int backlog_done(const void *arg) {
  qbody_t *q = (qbody_t *)arg;
  return (atomic_load(&q->tail) & QCLOSED) || !backlog_over(q);
}

/* After a get: wake the paused producers once the backlog is down. */
static void backlog_wake(qbody_t *q) {
  if (atomic_load(&q->backlog.sleepers) != 0 && !backlog_over(q))
    wake(&q->backlog, 1);
}

/* A get would not wait: the head item is there (in the ring, or the
 * overflow once the ring is empty), or the queue is closed. */
static int q_can_get(const void *arg) {
  qbody_t *q = (qbody_t *)arg;
  uint64_t pos = atomic_load(&q->head);
  return atomic_load(&slot_at(q, pos)->seq) == 2 * pos + 1 ||
         (atomic_load(&q->tail) & QCLOSED) != 0 ||
         (q->unbounded && atomic_load(&q->ovf_count) > 0 && ring_empty(q));
}

static int q_can_put(const void *arg) {
  qbody_t *q = (qbody_t *)arg;
  uint64_t pos = atomic_load(&q->tail);
  return (pos & QCLOSED) || atomic_load(&slot_at(q, pos)->seq) == 2 * pos;
}

static int q_joined(const void *arg) {
  return atomic_load(&((qbody_t *)arg)->unfinished) == 0;
}

/* Closed, and every item put has been taken: none can ever come. The
 * closed `tail` never moves again, so `head` reaching it is final. */
static int q_eof(qbody_t *q) {
  uint64_t t = atomic_load(&q->tail);
  return (t & QCLOSED) && atomic_load(&q->head) == (t & ~QCLOSED);
}

/* ---- Queue: the overflow of an unbounded queue ---- */

static qnode_t *qnode_at(uint64_t off) {
  return (qnode_t *)(void *)(mpmp__rt.heap_base + off);
}

static qrec_t *rec_at(const qnode_t *nd, uint32_t at) {
  return (qrec_t *)(void *)((char *)nd->data + at);
}

/* The data bytes an item of n bytes takes in a chunk. */
static uint64_t rec_bytes(uint64_t n) {
  return sizeof(qrec_t) + ((n + 7) & ~UINT64_C(7));
}

static uint32_t rec_size(const qnode_t *nd, uint32_t at) {
  return (uint32_t)rec_bytes(rec_at(nd, at)->len);
}

/* The last holder of the overflow's lock, a task host, died holding it:
 * the list is whole (see "Unbounded"), its tail and count may lag, and
 * its first chunk may be empty and not unlinked yet (a get died between
 * its take and the unlink: the chunk goes now). */
static void ovf_mend(qbody_t *q) {
  uint64_t n = 0, last = 0;
  while (q->ovf_head != 0) {
    qnode_t *nd = qnode_at(q->ovf_head);
    if (nd->rd != nd->used || nd->next == 0)
      break;
    uint64_t gone = q->ovf_head;
    q->ovf_head = nd->next;
    mpmp__heap_free(mpmp__rt.heap_base, gone);
  }
  for (uint64_t off = q->ovf_head; off != 0; off = qnode_at(off)->next) {
    const qnode_t *nd = qnode_at(off);
    for (uint32_t at = nd->rd; at < nd->used; at += rec_size(nd, at))
      n++;
    last = off;
  }
  q->ovf_tail = last;
  atomic_store(&q->ovf_count, n);
}

/* The lock is held for one item's copy, or a get's move (OVF_MOVE items,
 * OVF_CHUNK bytes at most): a try (deadline past) waits that long rather
 * than call an unbounded queue full or empty, and longer where the holder
 * lost its core: 50 ms was too short on a loaded machine (ranks and other
 * jobs sharing 2 cores), where a batch of pipelined puts from another
 * node, sent with a zero timeout, then failed and its 11 items were not
 * delivered (queue_pipelined_pseudo2). A try waits for a holder that
 * runs, as a pthread mutex would, up to this bound. */
#define OVF_LOCK_MIN_S 2.0

static int ovf_lock(qbody_t *q, uint64_t owner, double *deadline) {
  if (mpmp__shlock_try(&q->ovf_lock, owner))
    return 0; /* (no clock read: the common case) */
  mpmp__deadline_start(deadline);
  double d = fmax(*deadline, mpmp__now() + OVF_LOCK_MIN_S);
  int rc = mpmp__shlock_acquire(&q->ovf_lock, owner, d);
  if (rc == MPMP_EOWNERDEAD) {
    ovf_mend(q);
    rc = 0;
  }
  return rc;
}

/* A new chunk for an item of n bytes (*off), or MPMP_ENOSPC with the
 * reason. A small item's chunk has room for many. */
static int ovf_chunk(qbody_t *q, size_t n, uint64_t *off) {
  uint64_t need = rec_bytes(n), size = need;
  int rc = MPMP_ENOSPC;
  if (need <= OVF_CHUNK / 8 &&
      mpmp__heap_alloc(mpmp__rt.heap_base, sizeof(qnode_t) + OVF_CHUNK,
                       off) == 0) {
    size = OVF_CHUNK;
    rc = 0;
  }
  if (rc < 0 &&
      (rc = mpmp__heap_alloc(mpmp__rt.heap_base, sizeof(qnode_t) + need,
                             off)) < 0) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", mpmp_errmsg());
    return mpmp__err(MPMP_ENOSPC, "the unbounded queue holds %llu items past "
                     "its ring and the node heap has no room for one more: "
                     "take items out, or raise MPMP_HEAP_SIZE (%s)",
                     (unsigned long long)atomic_load(&q->ovf_count), msg);
  }
  qnode_t *nd = qnode_at(*off);
  nd->next = 0;
  nd->size = (uint32_t)size;
  nd->used = nd->rd = 0;
  return 0;
}

/* Append the item to the overflow: 0, MPMP_EPIPE (closed), MPMP_ENOSPC
 * (the node heap is full), or the lock's error. The item goes into the
 * last chunk, or a new one linked after it; it counts once `used` covers
 * it, and a new chunk is linked last, filled: a holder that dies before
 * leaves the list whole (a new chunk is lost with it). */
static int q_put_overflow(qbody_t *q, int joinable, mpmp__oparg_t *a) {
  size_t n = a->in_len;
  uint64_t need = rec_bytes(n), off = 0;
  int rc = ovf_lock(q, a->owner, &a->deadline);
  if (rc < 0)
    return rc;
  qnode_t *nd = q->ovf_tail ? qnode_at(q->ovf_tail) : NULL;
  if (atomic_load(&q->tail) & QCLOSED) {
    rc = MPMP_EPIPE;
  } else if (nd == NULL || nd->size - nd->used < need) {
    if ((rc = ovf_chunk(q, n, &off)) == 0)
      nd = qnode_at(off);
  }
  if (rc == 0) {
    qrec_t *r = rec_at(nd, nd->used);
    r->len = (uint32_t)n;
    if (n)
      mpmp__obj_copy(r + 1, a->in, n);
    if (joinable) /* counted before anyone can take it */
      atomic_fetch_add(&q->unfinished, 1);
    nd->used += (uint32_t)need;
    if (off != 0) { /* linked last, filled */
      if (q->ovf_tail != 0)
        qnode_at(q->ovf_tail)->next = off;
      else
        q->ovf_head = off;
      q->ovf_tail = off;
    }
    atomic_fetch_add(&q->ovf_count, 1); /* seq_cst, then wake() */
  }
  mpmp__shlock_release(&q->ovf_lock, a->owner);
  if (rc < 0)
    return rc;
  wake(&q->items, 0);
  return 0;
}

/* Items a get moves from the overflow into the (empty) ring at most,
 * besides the one it takes, and OVF_CHUNK bytes of them at most (the
 * lock's hold stays short; an item larger is not moved: a second copy
 * would cost more than it saves). */
#define OVF_MOVE 256

/* The first item of the overflow's first chunk nd was taken: unlink the
 * chunk once empty (returns it, to free after the lock), or keep it if it
 * is the last. */
static uint64_t ovf_taken(qbody_t *q, qnode_t *nd, uint32_t len) {
  uint64_t gone = 0;
  nd->rd += (uint32_t)rec_bytes(len);
  if (nd->rd == nd->used) {
    if (nd->next != 0) { /* unlinked before it is freed */
      gone = q->ovf_head;
      q->ovf_head = nd->next;
    } else { /* the last: kept for the next items */
      nd->rd = nd->used = 0;
    }
  }
  atomic_fetch_sub(&q->ovf_count, 1);
  return gone;
}

/*
 * Move up to `max` items from the front of the overflow into the ring,
 * which the caller found empty (holding the lock, the queue open). While
 * the overflow has items, puts append there, so a consumer that took
 * them one at a time under the lock made the lock the queue's pace
 * whenever producers outran it (several producers on 2 cores: every item
 * of the run); moved, the next ones are taken from the ring like any
 * (by any consumer). The order holds: these are the overflow's first,
 * and the ring had none; a producer puts in the ring only once the
 * overflow is empty, after them. Not by a task host, which may die
 * between the item's take and its put (the item would be lost).
 * The emptied chunks are freed here: the caller holds the lock. The
 * number moved.
 */
static int ovf_move(qbody_t *q, int max) {
  int i;
  uint64_t bytes = 0;
  for (i = 0; i < max && q->ovf_head != 0; i++) {
    qnode_t *nd = qnode_at(q->ovf_head);
    if (nd->rd == nd->used)
      break;
    const qrec_t *r = rec_at(nd, nd->rd);
    if ((bytes += r->len) > OVF_CHUNK)
      break;
    /* counted in `unfinished` when it was put: not again */
    if (q_try_put(q, 0, r + 1, r->len) != 0)
      break; /* the ring is full (or closed just now: the rest stays) */
    uint64_t gone = ovf_taken(q, nd, r->len);
    if (gone != 0)
      mpmp__heap_free(mpmp__rt.heap_base, gone);
  }
  return i;
}

/* Take the overflow's first item when the ring is empty: 0, MPMP_EAGAIN
 * (the ring has items, or none anywhere and not closed), MPMP_EEOF,
 * MPMP_EMSGSIZE with *n (the item stays first), or the lock's error. */
static int q_get_overflow(qbody_t *q, mpmp__oparg_t *a, size_t *n) {
  int rc = ovf_lock(q, a->owner, &a->deadline);
  if (rc < 0)
    return rc;
  uint64_t off = q->ovf_head, gone = 0;
  int moved = 0;
  qnode_t *nd = off ? qnode_at(off) : NULL;
  uint64_t closed = atomic_load(&q->tail) & QCLOSED;
  if (!ring_empty(q)) { /* (read after the first item was seen) */
    rc = MPMP_EAGAIN;
  } else if (nd == NULL || nd->rd == nd->used) { /* (only the last chunk) */
    rc = closed ? MPMP_EEOF : MPMP_EAGAIN;
  } else {
    const qrec_t *r = rec_at(nd, nd->rd);
    *n = r->len;
    if (r->len > a->out_max) {
      rc = MPMP_EMSGSIZE;
    } else {
      if (r->len)
        mpmp__obj_copy(a->out, r + 1, r->len);
      gone = ovf_taken(q, nd, r->len);
      if (!closed && mpmp__claim_self == 0)
        moved = ovf_move(q, (int)(q->cap < OVF_MOVE ? q->cap : OVF_MOVE));
    }
  }
  mpmp__shlock_release(&q->ovf_lock, a->owner);
  if (moved > 0)
    wake(&q->items, 0); /* for the other consumers */
  backlog_wake(q); /* the paused producers, if any (q_backlog_pause) */
  if (gone != 0)
    mpmp__heap_free(mpmp__rt.heap_base, gone);
  return rc;
}

/* The block goes back: so do the items left in the overflow. */
static void q_release(mpmp__obj_t *o) {
  qbody_t *q = mpmp__obj_data(o);
  for (uint64_t off = q->ovf_head; off != 0;) {
    uint64_t next = qnode_at(off)->next;
    mpmp__heap_free(mpmp__rt.heap_base, off);
    off = next;
  }
  q->ovf_head = q->ovf_tail = 0;
}

/* A put that found the node heap full waits for the overflow to shrink
 * (a get takes an item and wakes `space`; a chunk goes back once a get
 * emptied it), or the queue to close; in slices, for the heap also gets
 * room when other objects are freed, which wakes no one here. */
typedef struct ovf_wait {
  qbody_t *q;
  uint64_t count; /* the overflow's length when the put found no room */
} ovf_wait_t;

static int q_ovf_shrunk(const void *arg) {
  const ovf_wait_t *w = arg;
  return atomic_load(&w->q->ovf_count) < w->count ||
         (atomic_load(&w->q->tail) & QCLOSED) != 0;
}

static double q_ovf_until(const void *arg, double deadline) {
  (void)arg;
  return fmin(deadline, mpmp__now() + 0.05);
}

/*
 * Back-pressure on an unbounded queue whose consumers are behind, where
 * ranks share cores. Puts that outran their consumer filled the ring and
 * went on into the overflow (a lock per item, and a get that moves them
 * back), and with more producers than cores (4 producers and a consumer
 * on 2 cores, the consumer's core shared with two of them) they took the
 * consumer's CPU: it ran 45 % of the time, and the queue moved about half
 * the items one producer alone got through. So on a rank whose cores are
 * crowded (more ranks than cores: mpmp__net.spin_yield), a put that finds
 * the ring full, or more than BACKLOG_HIGH items in the overflow, sleeps
 * until the consumers brought the backlog down (the ring to half full,
 * the overflow to BACKLOG_LOW: backlog_over), and the consumer gets the
 * core; a get that brings it down wakes it. It waits only for consumers
 * that take at least BACKLOG_LOOK_MIN items every BACKLOG_LOOK_S (a
 * consumer that busy is what the producers slow down); otherwise it goes
 * on to the overflow, as Python's put would, and that thread's puts to
 * the queue do not pause again for BACKLOG_CALM_S: a program that puts
 * everything before it gets anything loses at most a tenth of its puts'
 * time. Nor does one that paused BACKLOG_PAUSE_MAX_S: producers that do
 * not pause (puts from other nodes) may keep the backlog up while the
 * consumer is busy, and this one must still get on (at 20 ms, which other
 * producers' BACKLOG_CALM_S can reach, the queue lost a tenth). It never
 * fails for this, and also goes on at its own deadline and when the queue
 * closes or is freed. Not in a message handler (a put from
 * another node: a handler must not block the rank's progress), and not
 * for a put that may not wait (put_nowait). With cores to spare, the
 * producers take nothing from the consumer, and never pause.
 */
/* The queue whose consumers this thread last found too slow to wait for
 * (a pause that gave up), and until when its puts do not pause again. */
static _Thread_local const qbody_t *calm_q;
static _Thread_local double calm_until;

/* 1 if the put paused and the backlog came down, or the queue closed
 * meanwhile (try again), 0 if it should go on to the overflow, or
 * MPMP_EBADF or MPMP_ENOTINIT as await_until. */
static int q_backlog_pause(qbody_t *q, mpmp__oparg_t *a,
                           const mpmp__obj_t *o) {
  if (!mpmp__net.spin_yield || mpmp__in_handler || a->deadline == -INFINITY)
    return 0;
  double now = mpmp__now();
  if (calm_q == q && now < calm_until)
    return 0;
  mpmp__deadline_start(&a->deadline);
  uint64_t h = atomic_load(&q->head);
  double end = now + BACKLOG_PAUSE_MAX_S;
  double look = fmin(a->deadline, now + BACKLOG_LOOK_S);
  for (;;) {
    sleep_at(&q->backlog, backlog_done, q, look, a->deadline, 0, o);
    if (mpmp__obj_dead(o))
      return MPMP_EBADF;
    int rc = mpmp__waits_quit();
    if (rc < 0)
      return rc;
    if (backlog_done(q))
      return 1; /* (a closed queue: the put says so) */
    if ((now = mpmp__now()) < look)
      continue;
    uint64_t h2 = atomic_load(&q->head);
    /* nobody takes, or too slowly, or others keep the backlog up */
    if (h2 - h < BACKLOG_LOOK_MIN || now >= end) {
      calm_q = q;
      calm_until = now + BACKLOG_CALM_S;
      return 0;
    }
    if (now >= a->deadline)
      return 0;
    h = h2;
    look = fmin(a->deadline, now + BACKLOG_LOOK_S);
  }
}

static int q_put(mpmp__obj_t *o, mpmp__oparg_t *a) {
  qbody_t *q = mpmp__obj_data(o);
  if (a->in_len > q->max_item)
    return mpmp__err(MPMP_EMSGSIZE, "an item of %zu bytes is larger than "
                     "this queue's max item size (%u bytes)", a->in_len,
                     q->max_item);
  for (;;) {
    /* once items wait in the overflow, later ones follow them there */
    int rc = q->unbounded && atomic_load(&q->ovf_count) > 0
                 ? MPMP_EAGAIN
                 : q_try_put(q, o->type == Q_JOINABLE, a->in, a->in_len);
    if (rc == 0) {
      wake(&q->items, 0);
      return 0;
    }
    if (rc == MPMP_EPIPE)
      return mpmp__err(rc, "the queue is closed");
    if (q_free_dead(q)) {
      wake(&q->space, 0);
      continue;
    }
    if (q->unbounded) {
      /* the ring is full, or items wait in the overflow */
      uint64_t ovf = atomic_load(&q->ovf_count);
      if (ovf == 0 || ovf > BACKLOG_HIGH) {
        int paused = q_backlog_pause(q, a, o);
        if (paused < 0)
          return paused;
        if (paused)
          continue;
      }
      rc = q_put_overflow(q, o->type == Q_JOINABLE, a);
      if (rc == MPMP_EPIPE)
        return mpmp__err(rc, "the queue is closed");
      if (rc != MPMP_ENOSPC || mpmp__expired(a->deadline))
        return rc;
      /* The node heap is full: a put that may wait waits for a get to
       * give a block back (back-pressure, as a bounded queue's put waits
       * for room), up to its timeout; then MPMP_ENOSPC, which says why.
       * Python's queue would grow until the machine runs out of memory. */
      ovf_wait_t w = {q, atomic_load(&q->ovf_count)};
      mpmp__deadline_start(&a->deadline);
      if ((rc = await_until(&q->space, NULL, q_ovf_shrunk, q_ovf_until, &w,
                            a->deadline, 0, o)) < 0)
        return rc;
      if (mpmp__expired(a->deadline) && !q_ovf_shrunk(&w))
        return q_put_overflow(q, o->type == Q_JOINABLE, a); /* last try */
      continue;
    }
    if (mpmp__expired(a->deadline))
      return MPMP_ETIMEDOUT;
    qput_wait_t w = {q, UINT64_MAX};
    mpmp__deadline_start(&a->deadline);
    if ((rc = await_until(&q->space, q_put_free, q_put_ready, q_put_until,
                          &w, a->deadline, 0, o)) < 0)
      return rc;
  }
}

static int q_get(mpmp__obj_t *o, mpmp__oparg_t *a) {
  qbody_t *q = mpmp__obj_data(o);
  for (;;) {
    size_t n = 0;
    int rc = q_try_get(q, a->out, a->out_max, &n);
    if (rc == 0) {
      a->out_len = n;
      wake(&q->space, 0);
      backlog_wake(q);
      return 0;
    }
    if (rc == MPMP_EMSGSIZE) {
      a->r0 = (int64_t)n;
      wake(&q->items, 0); /* we may have been woken for it: pass it on */
      return mpmp__err(rc, "the next item has %zu bytes, more than the "
                       "buffer's %zu (it stays in the queue)", n, a->out_max);
    }
    if (q_skip_dead(q)) {
      wake(&q->space, 0);
      continue;
    }
    if (q->unbounded && ring_empty(q) &&
        (atomic_load(&q->ovf_count) > 0 || (atomic_load(&q->tail) & QCLOSED))) {
      rc = q_get_overflow(q, a, &n);
      if (rc == 0) {
        a->out_len = n;
        wake(&q->space, 0); /* a put that waits for heap room (q_put) */
        return 0;
      }
      if (rc == MPMP_EMSGSIZE) {
        a->r0 = (int64_t)n;
        wake(&q->items, 0);
        return mpmp__err(rc, "the next item has %zu bytes, more than the "
                         "buffer's %zu (it stays in the queue)", n,
                         a->out_max);
      }
      if (rc == MPMP_EEOF)
        return mpmp__err(MPMP_EEOF, "the queue is closed and empty");
      if (rc != MPMP_EAGAIN)
        return rc;
      continue; /* the ring had an item after all: take that first */
    }
    if (!q->unbounded && q_eof(q))
      return mpmp__err(MPMP_EEOF, "the queue is closed and empty");
    if (mpmp__expired(a->deadline))
      return MPMP_ETIMEDOUT;
    mpmp__deadline_start(&a->deadline);
    if ((rc = await_until(&q->items, NULL, q_can_get, q_get_until, q,
                          a->deadline, 0, o)) < 0)
      return rc;
  }
}

/* rc: 1 if closed; r0: items queued; r1: capacity. */
/* The items in the ring (at most cap), and the tail word in *tail. */
static uint64_t ring_count(qbody_t *q, uint64_t *tail) {
  uint64_t h = atomic_load(&q->head); /* first: head <= tail at all times */
  uint64_t t = *tail = atomic_load(&q->tail);
  uint64_t n = (t & ~QCLOSED) - h;
  return n > q->cap ? q->cap : n;
}

static int q_size(mpmp__obj_t *o, mpmp__oparg_t *a) {
  qbody_t *q = mpmp__obj_data(o);
  uint64_t t, n = ring_count(q, &t);
  if (q->unbounded)
    n += atomic_load(&q->ovf_count);
  a->r0 = (int64_t)(n > INT_MAX ? INT_MAX : n);
  a->r1 = q->unbounded ? INT_MAX : (int64_t)q->cap;
  if (a->x == 2) /* a put of another node too big to carry asks (put) */
    a->r0 = q->max_item;
  return (t & QCLOSED) != 0;
}

static int q_close(mpmp__obj_t *o, mpmp__oparg_t *a) {
  (void)a;
  qbody_t *q = mpmp__obj_data(o);
  atomic_fetch_or(&q->tail, QCLOSED);
  wake(&q->items, 1); /* waiting gets see EOF, waiting puts EPIPE */
  wake(&q->space, 1);
  wake(&q->backlog, 1);
  return 0;
}

static int not_joinable(void) {
  return mpmp__err(MPMP_ENOTSUP, "this queue is not a JoinableQueue (create "
                   "it with mpmp_joinable_queue_create)");
}

static int q_task_done(mpmp__obj_t *o, mpmp__oparg_t *a) {
  (void)a;
  if (o->type != Q_JOINABLE)
    return not_joinable();
  qbody_t *q = mpmp__obj_data(o);
  uint64_t v = atomic_load(&q->unfinished);
  do {
    if (v == 0)
      return mpmp__err(MPMP_EPERM, "task_done() called more times than "
                       "there were items put");
  } while (!atomic_compare_exchange_weak(&q->unfinished, &v, v - 1));
  if (v == 1)
    wake(&q->done, 1);
  return 0;
}

static int q_join(mpmp__obj_t *o, mpmp__oparg_t *a) {
  if (o->type != Q_JOINABLE)
    return not_joinable();
  qbody_t *q = mpmp__obj_data(o);
  for (;;) {
    if (q_joined(q))
      return 0;
    int rc = mpmp__expired(a->deadline)
                 ? MPMP_ETIMEDOUT
                 : await(&q->done, q_joined, q, a->deadline, 0, o);
    if (rc == MPMP_ETIMEDOUT) /* (no message: the caller says it) */
      a->r0 = (int64_t)atomic_load(&q->unfinished);
    if (rc < 0)
      return rc;
  }
}

static int q_poll(mpmp__obj_t *o, mpmp__oparg_t *a) {
  qbody_t *q = mpmp__obj_data(o);
  for (;;) {
    if (q_can_get(q))
      return 1;
    if (q_skip_dead(q)) {
      wake(&q->space, 0);
      continue;
    }
    if (mpmp__expired(a->deadline))
      return MPMP_ETIMEDOUT;
    int rc = await_until(&q->items, NULL, q_can_get, q_get_until, q,
                         a->deadline, 1, o);
    if (rc < 0)
      return rc;
  }
}

/* Freed: wake every waiter (they see the generation 0). */
static void q_kill(mpmp__obj_t *o) {
  qbody_t *q = mpmp__obj_data(o);
  wake(&q->items, 1);
  wake(&q->space, 1);
  wake(&q->backlog, 1);
  wake(&q->done, 1);
  mpmp__lane_close(o, &q->put_lane);
  mpmp__lane_close(o, &q->get_lane);
}

/* Producers count themselves on the tail's line, consumers on the head's:
 * lines each side writes anyway, so a queue between two ranks moves no
 * other line (the header is only read). */
static void q_lanes_register(void) {
  static const int gets[] = {MPMP__OP_Q_GET, MPMP__OP_Q_POLL,
                             MPMP__OP_Q_SIZE, MPMP__OP_Q_TASK_DONE};
  mpmp__lane_register(MPMP__K_QUEUE, MPMP__OP_Q_PUT,
                      offsetof(qbody_t, put_lane));
  mpmp__lane_register(MPMP__K_QUEUE, MPMP__OP_Q_PUT_BATCH,
                      offsetof(qbody_t, put_lane));
  for (size_t i = 0; i < sizeof gets / sizeof gets[0]; i++)
    mpmp__lane_register(MPMP__K_QUEUE, gets[i], offsetof(qbody_t, get_lane));
}

/* ---- Pipe ---------------------------------------------------------------- */

enum { END_A = 0, END_B = 1, PIPE_CORE = 2 }; /* types of MPMP__K_CONN */

#define RING MPMP_PIPE_BUFFER
#define MSG_HEAD 8u /* the length before each message */
_Static_assert((RING & (RING - 1)) == 0 && RING % 8 == 0, "ring size");

/* One direction. Stream positions only grow (64 bits never wrap) and stay
 * multiples of 8, so a message's length never straddles the ring's end. */
typedef struct chan {
  _Atomic uint64_t wpos;      /* written and published up to here */
  _Atomic uint64_t abort_at;  /* 1 + where a withdrawn message starts; 0 */
  _Atomic uint64_t abort_end; /* where its bytes end */
  _Atomic uint64_t wend;      /* where the message being sent ends (wpos
                                 between messages) */
  _Atomic uint32_t broken;    /* a task host died in the middle of a
                                 message: 1 sending it, 2 receiving it */
  /* rpos as the writers last read it (<= rpos): a writer re-reads rpos
   * only when this leaves too little room, so rpos's line stays in the
   * reader's cache and its store (an xchg: see chan_consumed) costs no
   * transfer. Reading rpos at every send made that store half of a
   * receive (perf: pipe one-way 5.5 us beside the queue's 1.2 us). */
  _Atomic uint64_t rseen;
  _Alignas(64) _Atomic uint64_t rpos; /* consumed up to here */
  _Atomic uint64_t rend;      /* where the message being received ends
                                 (at most rpos between messages) */
  _Alignas(64) waitpt_t data;  /* the reader and pollers wait here */
  waitpt_t space;              /* the writer waits here */
  _Alignas(64) mpmp__shlock_t wlock; /* one writer at a time */
  _Alignas(64) mpmp__shlock_t rlock; /* one reader at a time */
} chan_t;

typedef struct pcore {
  uint32_t duplex;
  _Atomic uint32_t ends;      /* ends not freed yet */
  _Atomic uint32_t closed[2]; /* end e closed (or freed) */
  _Alignas(64) chan_t ch[2];  /* ch[e]: what end e receives (one-way: ch[0]) */
} pcore_t;

/* The object behind a connection handle. */
typedef struct pend {
  mpmp_ref_t core;
  mpmp_ref_t self;
  uint32_t end;
} pend_t;

static uint64_t pad8(uint64_t n) { return (n + 7) & ~UINT64_C(7); }
static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* The rings follow the core, ch[0]'s first. (Computed rather than read
 * from the channel: a word there shared a line with one side's lock, which
 * the other side then fetched at every message.) */
static char *ring_of(pcore_t *pc, chan_t *ch) {
  return (char *)pc + sizeof(pcore_t) + (uint64_t)(ch - pc->ch) * RING;
}

static void ring_put(char *ring, uint64_t pos, const void *src, size_t len) {
  size_t i = (size_t)(pos & (RING - 1)), first = RING - i;
  if (len <= first) {
    mpmp__obj_copy(ring + i, src, len);
  } else {
    mpmp__obj_copy(ring + i, src, first);
    mpmp__obj_copy(ring, (const char *)src + first, len - first);
  }
}

static void ring_get(const char *ring, uint64_t pos, void *dst, size_t len) {
  size_t i = (size_t)(pos & (RING - 1)), first = RING - i;
  if (len <= first) {
    mpmp__obj_copy(dst, ring + i, len);
  } else {
    mpmp__obj_copy(dst, ring + i, first);
    mpmp__obj_copy((char *)dst + first, ring, len - first);
  }
}

static int can_recv(const pcore_t *pc, unsigned e) {
  return pc->duplex || e == END_A;
}
static int can_send(const pcore_t *pc, unsigned e) {
  return pc->duplex || e == END_B;
}
static chan_t *recv_chan(pcore_t *pc, unsigned e) {
  return &pc->ch[pc->duplex ? e : 0];
}
static chan_t *send_chan(pcore_t *pc, unsigned e) {
  return &pc->ch[pc->duplex ? 1 - e : 0];
}
static int is_closed(pcore_t *pc, unsigned e) {
  return atomic_load(&pc->closed[e]) != 0;
}

/* An operation on the end `o` of the pipe `pc`, which end it is. */
typedef int (*conn_fn)(mpmp__obj_t *o, pcore_t *pc, unsigned e,
                       mpmp__oparg_t *a);

/* The pipe's core of an end. Each end holds a reference on it from its
 * creation until its own block goes back (conn_release), so the core
 * outlives every call on either end, and a call counts itself only in its
 * end's header, which the other end's calls never touch (object.c,
 * "Lifetime"). */
static mpmp__obj_t *core_obj(mpmp__obj_t *o) {
  const pend_t *pe = mpmp__obj_data(o);
  return (mpmp__obj_t *)(void *)(mpmp__rt.heap_base + pe->core.off);
}

/* Run fn on the pipe of the end `o`. */
static int conn_op(mpmp__obj_t *o, mpmp__oparg_t *a, conn_fn fn) {
  if (o->kind != MPMP__K_CONN || o->type > END_B)
    return mpmp__err(MPMP_EBADF, "not a connection");
  const pend_t *pe = mpmp__obj_data(o);
  return fn(o, mpmp__obj_data(core_obj(o)), pe->end, a);
}

/* A snapshot of what a blocked writer or reader waits to change. */
typedef struct cwait {
  pcore_t *pc;
  chan_t *ch;
  uint64_t seen;   /* rpos (writer) or wpos (reader) */
  uint64_t abort;  /* writer: abort_at seen; reader: 1 + its message start */
} cwait_t;

static int any_closed(const pcore_t *pc) {
  return atomic_load(&pc->closed[0]) | atomic_load(&pc->closed[1]);
}

static int chan_broken(const chan_t *ch) {
  return atomic_load_explicit(&ch->broken, memory_order_relaxed) != 0;
}

static int writer_ready(const void *arg) {
  const cwait_t *w = arg;
  return atomic_load(&w->ch->rpos) != w->seen ||
         atomic_load(&w->ch->abort_at) != w->abort || any_closed(w->pc) ||
         chan_broken(w->ch);
}

/* pc NULL: a reader inside a message, which only its writer ends. */
static int reader_ready(const void *arg) {
  const cwait_t *w = arg;
  return atomic_load(&w->ch->wpos) != w->seen ||
         (w->pc != NULL && any_closed(w->pc)) ||
         (w->abort && atomic_load(&w->ch->abort_at) == w->abort) ||
         chan_broken(w->ch);
}

/* A message's first word: its length, or once withdrawn, the number of
 * stream bytes to skip. The reader sets TAKEN (CAS) before it consumes
 * anything of a message not all published yet; the writer sets WITHDRAWN
 * (CAS) only on a message not TAKEN, and never on one all published. */
#define H_WITHDRAWN (UINT64_C(1) << 63)
#define H_TAKEN (UINT64_C(1) << 62)
#define H_LEN (H_TAKEN - 1)

static _Atomic uint64_t *head_at(char *ring, uint64_t pos) {
  return (_Atomic uint64_t *)(void *)(ring + (pos & (RING - 1)));
}

/*
 * Dead writers and readers. A side's lock (wlock, rlock) held by a task
 * host that died is taken over by the next sender or receiver
 * (MPMP_EOWNERDEAD from the lock, never shown to the caller), or by the
 * peer that waits on the dead one (side_taken_over). Between messages the
 * stream is whole and the pipe goes on: a host killed while it waited for
 * room or for a message costs nothing. In the middle of a message it is
 * not (the rest would never come, or part of it was consumed), and the
 * next message could not be told apart from the remains: the channel is
 * then broken, and every send and receive on it says so (MPMP_EPIPE).
 * Where the message was: a sender sets `wend` before it publishes any of
 * a message (wpos != wend: inside one), a receiver `rend` once it took one
 * (rpos < rend, or a first word taken but not yet `rend`: inside).
 */
static int broken_err(const chan_t *ch) {
  return mpmp__err(MPMP_EPIPE, "the pipe is broken: a task host died in the "
                   "middle of %s a message on it (a crash or a kill), and no "
                   "message after that could be told apart from what it "
                   "left: make a new Pipe",
                   atomic_load(&ch->broken) == 1 ? "sending" : "receiving");
}

static void chan_break(chan_t *ch, uint32_t how) {
  atomic_store(&ch->broken, how); /* seq_cst, then wake() */
  wake(&ch->data, 1);
  wake(&ch->space, 1);
}

/* The channel's sender died holding wlock (which the caller now holds). */
static void writer_died(chan_t *ch) {
  if (atomic_load(&ch->wpos) != atomic_load(&ch->wend))
    chan_break(ch, 1);
}

/* The channel's receiver died holding rlock (which the caller now holds). */
static void reader_died(chan_t *ch, char *ring) {
  uint64_t r = atomic_load(&ch->rpos), w = atomic_load(&ch->wpos);
  if (r < atomic_load(&ch->rend) ||
      (w != r && (atomic_load(head_at(ring, r)) & H_TAKEN)))
    chan_break(ch, 2);
}

/* `holder` holds the side's lock l and may be a task host that died: if
 * so, take the lock over for `owner`, mend or break the channel
 * (writer_died, reader_died), and let the lock go. 1 if this call did. */
static int side_taken_over(chan_t *ch, char *ring, mpmp__shlock_t *l,
                           uint64_t holder, uint64_t owner) {
  if (!mpmp__owner_dead(holder))
    return 0;
  int rc = mpmp__shlock_acquire(l, owner, -INFINITY);
  if (rc == MPMP_EOWNERDEAD) {
    if (l == &ch->wlock)
      writer_died(ch);
    else
      reader_died(ch, ring);
  }
  if (rc == 0 || rc == MPMP_EOWNERDEAD)
    mpmp__shlock_release(l, owner);
  return rc == MPMP_EOWNERDEAD;
}

/* The reader consumed up to `pos`: free the room, wake the writer. */
static void chan_consumed(chan_t *ch, uint64_t pos) {
  atomic_store(&ch->rpos, pos); /* seq_cst: free, then wake() */
  wake(&ch->space, 1);
}

/* Withdraw the message whose stream bytes [start, end) are published. If
 * no reader took it, its first word says so and how much to skip; if one
 * is reading it, the record (abort_at, abort_end) tells that reader, and
 * the next message waits until it has skipped (it is reading: soon). */
static void chan_withdraw(chan_t *ch, char *ring, uint64_t n, uint64_t start,
                          uint64_t end) {
  uint64_t h = n;
  if (!atomic_compare_exchange_strong(head_at(ring, start), &h,
                                      H_WITHDRAWN | (end - start))) {
    atomic_store(&ch->abort_end, end);
    atomic_store(&ch->abort_at, start + 1);
  }
  atomic_store_explicit(&ch->wend, end, memory_order_relaxed); /* whole */
  wake(&ch->data, 1);
}

/* Write stream bytes [done, done + k) of the message (length, payload,
 * pad) at ring position pos. k is a multiple of 8, the first chunk >= 8. */
static void chan_put(char *ring, uint64_t pos, const char *msg, uint64_t n,
                     uint64_t done, uint64_t k) {
  uint64_t end = done + k;
  if (done == 0) {
    atomic_store_explicit(head_at(ring, pos), n, memory_order_relaxed);
    pos += MSG_HEAD;
    done = MSG_HEAD;
  }
  if (done < MSG_HEAD + n)
    ring_put(ring, pos, msg + (done - MSG_HEAD),
             (size_t)(min64(end, MSG_HEAD + n) - done));
}

/* How many stream bytes a writer may write now, with `used` bytes of the
 * ring unread, `done` of the message's `total` written, abort_at `ab`;
 * 0: none (wait). */
static uint64_t write_room(uint64_t used, uint64_t ab, uint64_t done,
                           uint64_t total, int once) {
  uint64_t room = RING - used;
  /* a message starts once a reader has left the last withdrawn one */
  if (done == 0 && (ab != 0 || (once && room < total)))
    return 0;
  /* a long one goes on in chunks of a quarter ring at least: fewer,
   * larger hand-offs between writer and reader */
  if (room >= MSG_HEAD &&
      (done == 0 || room >= min64(total - done, RING / 4)))
    return min64(room, total - done);
  return 0;
}

/* Write one message, holding the channel's writer lock. A deadline already
 * past writes it only if all of it fits now. MPMP_EBADF once the end `o`
 * was freed. */
static int chan_write(const mpmp__obj_t *o, pcore_t *pc, chan_t *ch,
                      const char *msg, uint64_t n, double deadline,
                      uint64_t owner) {
  char *ring = ring_of(pc, ch);
  uint64_t total = MSG_HEAD + pad8(n);
  uint64_t start = atomic_load_explicit(&ch->wpos, memory_order_relaxed);
  uint64_t w = start, done = 0;
  int once = mpmp__expired(deadline), rc;
  for (;;) {
    /* rseen first; rpos (then abort_at again, which chan_take stores
     * before it) only when that leaves too little room. rseen is a past
     * rpos, read with acquire by us or a writer that held the lock before
     * us (rpos only grows: its room is never too much). */
    uint64_t r = atomic_load_explicit(&ch->rseen, memory_order_relaxed);
    uint64_t ab = atomic_load(&ch->abort_at);
    uint64_t room = write_room(w - r, ab, done, total, once);
    if (room == 0) {
      r = atomic_load_explicit(&ch->rpos, memory_order_acquire);
      atomic_store_explicit(&ch->rseen, r, memory_order_relaxed);
      ab = atomic_load(&ch->abort_at);
      room = write_room(w - r, ab, done, total, once);
    }
    if (room > 0) {
      uint64_t k = room;
      chan_put(ring, w, msg, n, done, k);
      if (done == 0) /* before any of it is published: writer_died */
        atomic_store_explicit(&ch->wend, start + total,
                              memory_order_relaxed);
      w += k;
      done += k;
      atomic_store(&ch->wpos, w); /* seq_cst: publish, then wake() */
      wake(&ch->data, 1);
      if (done == total)
        return 0;
      continue;
    }
    if (any_closed(pc) || chan_broken(ch)) {
      rc = MPMP_EPIPE;
      break;
    }
    if (mpmp__expired(deadline)) {
      rc = MPMP_ETIMEDOUT;
      break;
    }
    /* A receiver that is a task host may die in the middle of a message,
     * with no one to wake us: look every slice. */
    double until = deadline;
    uint64_t rh = mpmp__shlock_owner(&ch->rlock);
    if (mpmp__owner_is_host(rh)) {
      if (side_taken_over(ch, ring, &ch->rlock, rh, owner))
        continue;
      until = fmin(deadline, mpmp__now() + MPMP__SHLOCK_DEAD_SLICE_S);
    }
    cwait_t cw = {pc, ch, r, ab};
    if ((rc = await(&ch->space, writer_ready, &cw, until, 0, o)) < 0)
      break;
  }
  if (done > 0)
    chan_withdraw(ch, ring, n, start, w);
  return rc;
}

/* Take the rest of the message that starts at `start` (TAKEN by us),
 * holding the reader lock: 0, 1 if its writer withdrew it, or MPMP_EBADF
 * if the end `o` was freed meanwhile (the message is left half read: the
 * end is gone). Its writer is sending it, so this ends without a
 * deadline. */
static int chan_take(const mpmp__obj_t *o, chan_t *ch, char *ring,
                     uint64_t start, uint64_t n, char *out, uint64_t owner) {
  uint64_t end = start + MSG_HEAD + pad8(n);
  uint64_t r = start + MSG_HEAD;
  for (;;) {
    if (r == end) { /* (an empty message is its length alone) */
      chan_consumed(ch, r);
      return 0;
    }
    uint64_t w = atomic_load(&ch->wpos);
    if (w != r) {
      uint64_t k = min64(w, end) - r, off = r - start - MSG_HEAD;
      if (off < n)
        ring_get(ring, r, out + off, (size_t)min64(k, n - off));
      r += k;
      if (r != end)
        chan_consumed(ch, r);
      continue;
    }
    if (atomic_load(&ch->abort_at) == start + 1) {
      uint64_t skip_to = atomic_load(&ch->abort_end);
      atomic_store(&ch->abort_at, 0); /* before rpos: see chan_write */
      atomic_store_explicit(&ch->rend, skip_to, memory_order_relaxed);
      chan_consumed(ch, skip_to);
      return 1;
    }
    if (chan_broken(ch))
      return broken_err(ch);
    /* A close does not end this wait: the writer finishes the message or
     * withdraws it (it does when it sees a close). A writer that is a task
     * host (or not known yet) may die instead, with no one to wake us:
     * look every slice. */
    double until = INFINITY;
    uint64_t wh = mpmp__shlock_owner(&ch->wlock);
    if (wh == 0 || mpmp__owner_is_host(wh)) {
      if (side_taken_over(ch, ring, &ch->wlock, wh, owner))
        continue;
      until = mpmp__now() + MPMP__SHLOCK_DEAD_SLICE_S;
    }
    cwait_t cw = {NULL, ch, w, start + 1};
    int rc = await(&ch->data, reader_ready, &cw, until, 0, o);
    if (rc == MPMP_ENOTINIT) {
      /* The wait ended inside the message: finalize began, or this is a
       * home-node helper reading for a task host of another node that
       * died (mpmp__waits_quit). The lock goes back with rpos inside the
       * message, and the next reader would take its remains for a new
       * message: broken, as when a host of this node dies reading one
       * (reader_died). */
      chan_break(ch, 2);
      return rc;
    }
    if (rc < 0)
      return rc;
  }
}

static int closed_end(const mpmp__obj_t *o) {
  /* freeing an end closes it: its own calls say it was freed */
  return mpmp__obj_dead(o) ? MPMP_EBADF
                           : mpmp__err(MPMP_EPIPE, "this connection is "
                                       "closed");
}

/* Receive one message into out (max bytes), holding the reader lock. */
static int chan_read(const mpmp__obj_t *o, pcore_t *pc, chan_t *ch,
                     unsigned e, char *out, size_t max, size_t *len,
                     double deadline, uint64_t owner) {
  char *ring = ring_of(pc, ch);
  int once = mpmp__expired(deadline);
  for (;;) {
    uint64_t r = atomic_load_explicit(&ch->rpos, memory_order_relaxed);
    uint64_t w = atomic_load(&ch->wpos);
    if (chan_broken(ch))
      return broken_err(ch);
    if (w != r) {
      _Atomic uint64_t *hp = head_at(ring, r);
      uint64_t h = atomic_load(hp);
      if (h & H_WITHDRAWN) {
        chan_consumed(ch, r + (h & H_LEN));
        continue;
      }
      *len = (size_t)h;
      if (h > max)
        return mpmp__err(MPMP_EMSGSIZE, "the next message has %llu bytes, "
                         "more than the buffer's %zu (it stays in the pipe)",
                         (unsigned long long)h, max);
      if (once && w - r < MSG_HEAD + pad8(h))
        return MPMP_ETIMEDOUT; /* not all there: a try does not start it */
      /* A message all published is never withdrawn (its writer returned):
       * no TAKEN mark, whose store would pull the line its writer fills
       * next from this cache. (rend, stored before any of it is
       * consumed, still tells reader_died that we were inside.) */
      if (w - r < MSG_HEAD + pad8(h) &&
          !atomic_compare_exchange_strong(hp, &h, h | H_TAKEN))
        continue; /* withdrawn just now */
      atomic_store_explicit(&ch->rend, r + MSG_HEAD + pad8(h),
                            memory_order_relaxed); /* see reader_died */
      int rc = chan_take(o, ch, ring, r, h, out, owner);
      if (rc <= 0)
        return rc;
      continue; /* withdrawn while we read it: wait for the next one */
    }
    if (is_closed(pc, e))
      return closed_end(o);
    /* EOF only if the peer closed and nothing came before that: it
     * publishes before it closes, so re-read after seeing the close. */
    if (is_closed(pc, 1 - e) && atomic_load(&ch->wpos) == r)
      return mpmp__err(MPMP_EEOF, "the other end of the pipe is closed and "
                       "every message it sent has been received");
    if (mpmp__expired(deadline))
      return MPMP_ETIMEDOUT;
    cwait_t cw = {pc, ch, w, 0};
    int rc = await(&ch->data, reader_ready, &cw, deadline, 0, o);
    if (rc < 0)
      return rc;
  }
}

static int c_send(mpmp__obj_t *o, pcore_t *pc, unsigned e, mpmp__oparg_t *a) {
  int rc;
  if (!can_send(pc, e)) /* (first: whatever the state, queue.h) */
    return mpmp__err(MPMP_EPERM, "this is the receive-only end of a one-way "
                     "Pipe (duplex 0: the first end receives, the second "
                     "sends)");
  if (is_closed(pc, e))
    return closed_end(o);
  if (is_closed(pc, 1 - e))
    return mpmp__err(MPMP_EPIPE, "the other end of the pipe is closed "
                     "(broken pipe)");
  if (a->in_len > MPMP_PIPE_MAX_MESSAGE)
    return mpmp__err(MPMP_EMSGSIZE, "a message of %zu bytes is over the "
                     "limit of %zu", a->in_len, MPMP_PIPE_MAX_MESSAGE);
  chan_t *ch = send_chan(pc, e);
  rc = mpmp__shlock_acquire(&ch->wlock, a->owner, a->deadline);
  if (rc == MPMP_EOWNERDEAD) /* held: the last sender's host died */
    writer_died(ch);
  else if (rc < 0)
    return rc;
  /* (a writer before us may have waited until the end was freed) */
  rc = mpmp__obj_dead(o) ? MPMP_EBADF
       : chan_broken(ch) ? MPMP_EPIPE
                         : chan_write(o, pc, ch, a->in, a->in_len,
                                      a->deadline, a->owner);
  mpmp__shlock_release(&ch->wlock, a->owner);
  if (rc == MPMP_EPIPE && chan_broken(ch))
    return broken_err(ch);
  if (rc == MPMP_EPIPE)
    return is_closed(pc, e) ? closed_end(o)
                            : mpmp__err(rc, "the other end of the pipe was "
                                        "closed during the send (broken "
                                        "pipe)");
  return rc;
}

/* r1 = the bytes free in the ring of what the end `e` sends (what a
 * sender on another node may pipeline: object.c). Read only for such a
 * sender: rpos's line stays in the reader's cache otherwise (chan_t). */
static int c_room(mpmp__obj_t *o, pcore_t *pc, unsigned e, mpmp__oparg_t *a) {
  (void)o;
  chan_t *ch = send_chan(pc, e);
  uint64_t used = atomic_load(&ch->wpos) - atomic_load(&ch->rpos);
  a->r1 = used < RING ? (int64_t)(RING - used) : 0;
  return 0;
}

static int recv_check(const mpmp__obj_t *o, pcore_t *pc, unsigned e) {
  if (!can_recv(pc, e)) /* (first: whatever the state, queue.h) */
    return mpmp__err(MPMP_EPERM, "this is the send-only end of a one-way "
                     "Pipe (duplex 0: the first end receives, the second "
                     "sends)");
  if (is_closed(pc, e))
    return closed_end(o);
  return 0;
}

static int c_recv(mpmp__obj_t *o, pcore_t *pc, unsigned e, mpmp__oparg_t *a) {
  int rc = recv_check(o, pc, e);
  if (rc < 0)
    return rc;
  chan_t *ch = recv_chan(pc, e);
  rc = mpmp__shlock_acquire(&ch->rlock, a->owner, a->deadline);
  if (rc == MPMP_EOWNERDEAD) /* held: the last receiver's host died */
    reader_died(ch, ring_of(pc, ch));
  else if (rc < 0)
    return rc;
  size_t len = 0;
  rc = chan_read(o, pc, ch, e, a->out, a->out_max, &len, a->deadline,
                 a->owner);
  mpmp__shlock_release(&ch->rlock, a->owner);
  if (rc == 0)
    a->out_len = len;
  else if (rc == MPMP_EMSGSIZE)
    a->r0 = (int64_t)len;
  return rc;
}

/* recv() would not wait: a message (not a withdrawn one), or EOF. */
typedef struct cpoll {
  pcore_t *pc;
  chan_t *ch;
  unsigned e;
} cpoll_t;

static int readable(const void *arg) {
  const cpoll_t *p = arg;
  chan_t *ch = p->ch;
  char *ring = ring_of(p->pc, ch);
  uint64_t r = atomic_load(&ch->rpos), w = atomic_load(&ch->wpos);
  if (chan_broken(ch))
    return 1; /* a recv says so at once */
  /* Past the withdrawn messages at the front. (With a recv running, r may
   * be inside a message: the answer is then a guess, as any poll's is.) */
  for (int i = 0; i < 64 && w != r; i++) {
    uint64_t h = atomic_load(head_at(ring, r));
    if (!(h & H_WITHDRAWN) || (h & H_LEN) == 0 || (h & H_LEN) > w - r)
      return 1;
    r += h & H_LEN;
  }
  return any_closed(p->pc);
}

static int c_poll(mpmp__obj_t *o, pcore_t *pc, unsigned e, mpmp__oparg_t *a) {
  int rc = recv_check(o, pc, e);
  if (rc < 0)
    return rc;
  cpoll_t p = {pc, recv_chan(pc, e), e};
  for (;;) {
    /* this end closed while we waited (readable says "ready" then): as a
     * waiting recv, EPIPE (EBADF once freed) */
    if (is_closed(pc, e))
      return closed_end(o);
    if (readable(&p))
      return 1;
    if (mpmp__expired(a->deadline))
      return MPMP_ETIMEDOUT;
    /* (freeing this end closes it, which makes it readable: ask first) */
    if ((rc = await(&p.ch->data, readable, &p, a->deadline, 1, o)) < 0)
      return rc;
  }
}

static void wake_all(pcore_t *pc) {
  for (int i = 0; i < 2; i++) {
    wake(&pc->ch[i].data, 1);
    wake(&pc->ch[i].space, 1);
  }
}

static void end_close(pcore_t *pc, unsigned e) {
  atomic_store(&pc->closed[e], 1); /* seq_cst, then wake */
  wake_all(pc);
}

static int c_close(mpmp__obj_t *o, pcore_t *pc, unsigned e,
                   mpmp__oparg_t *a) {
  (void)o;
  (void)a;
  end_close(pc, e);
  return 0;
}

/* Freed (object.c, after the generation went to 0): an end closes, which
 * wakes every waiter of the pipe; its own see it was freed (closed_end,
 * await), the peer's see a closed pipe. The core's waiters are its ends'
 * calls, woken with them. */
static void c_kill(mpmp__obj_t *o) {
  if (o->type > END_B)
    return;
  const pend_t *pe = mpmp__obj_data(o);
  end_close(mpmp__obj_data(core_obj(o)), pe->end);
}

/* An end's block goes back: so does its reference on the core. */
static void c_release(mpmp__obj_t *o) {
  if (o->type <= END_B) {
    mpmp__obj_t *co = core_obj(o);
    mpmp__obj_drop(co);
  }
}

/* Free the end (which closes it), and the core with the second end (its
 * block goes when the ends' blocks have gone). */
static int c_free(mpmp__obj_t *o, pcore_t *pc, unsigned e, mpmp__oparg_t *a) {
  (void)e;
  (void)a;
  if (!mpmp__obj_kill(o))
    return mpmp__err(MPMP_EBADF, "this connection was already freed");
  if (atomic_fetch_sub(&pc->ends, 1) == 1)
    mpmp__obj_kill(core_obj(o)); /* held by this end */
  return 0;
}

/* ---- the operations, by object kind -------------------------------------- */

static int wrong_kind(const char *what) {
  return mpmp__err(MPMP_EBADF, "%s is not an operation of a connection", what);
}

/* What a put's reply tells a caller of another node, which may then
 * pipeline its next puts (object.c, "Pipelined puts"): 1 for an unbounded
 * queue (its puts go on without waiting); for a bounded one, minus the
 * slots free now (0: none, or closed): pipelined by credits, in batches
 * that wait here for room when others took it.
 *   An unbounded queue whose node heap runs low answers as a bounded one
 * with the items that still fit: its producers then send batches that
 * wait here for a get to give room back, as a put of this node waits,
 * instead of batches that fail once the heap is full (their items were
 * lost, told by the next put). Low: under a quarter of the heap, and at
 * least UNBOUNDED_LOW bytes: room for the batches a few producers may
 * still have on their way (16 of 64 KiB each at most) when they hear it. */
#define UNBOUNDED_LOW ((size_t)4 << 20)
static int64_t q_room_code(qbody_t *q) {
  if (q->unbounded) {
    mpmp__heap_stats_t st;
    mpmp__heap_stats(mpmp__rt.heap_base, &st);
    size_t low = st.total / 4 > UNBOUNDED_LOW ? st.total / 4 : UNBOUNDED_LOW;
    if (st.free_bytes >= low)
      return 1;
    uint64_t fit = st.free_bytes / (q->max_item + 64);
    return fit == 0 ? 0 : -(int64_t)fit;
  }
  uint64_t t, n = ring_count(q, &t);
  if ((t & QCLOSED) || n >= q->cap)
    return 0;
  uint64_t room = q->cap - n;
  return room > INT64_MAX ? -INT64_MAX : -(int64_t)room;
}

static int op_put(mpmp__obj_t *o, mpmp__oparg_t *a) {
  if (o->kind == MPMP__K_CONN) { /* x 1: a sender of another node */
    int rc = conn_op(o, a, c_send);
    return rc == 0 && a->x == 1 ? conn_op(o, a, c_room) : rc;
  }
  int rc = q_put(o, a);
  qbody_t *q = mpmp__obj_data(o);
  a->r0 = q->max_item;
  /* (x 1: a caller of another node; the room is read only for it, as
   * head's line stays in the consumers' caches otherwise) */
  a->r1 = a->x == 1 ? q_room_code(q) : q->unbounded;
  return rc;
}
/* Run `each` on the items of a pipelined batch (object.c: n items, each
 * [u64 length][bytes][pad to 8]) from item a->i on, in order, up to the
 * first that fails; r0 = how many of the batch went in. */
static int run_batch(mpmp__obj_t *o, mpmp__oparg_t *a, double deadline,
                     int (*each)(mpmp__obj_t *, mpmp__oparg_t *),
                     const char *what) {
  const char *p = a->in, *end = p + a->in_len;
  a->r0 = 0;
  for (uint64_t k = 0; k < a->n; k++) {
    uint64_t len;
    if ((size_t)(end - p) < 8 ||
        (memcpy(&len, p, 8), len > (size_t)(end - p) - 8))
      return mpmp__err(MPMP_EINVAL, "a malformed batch of %s", what);
    if (k >= a->i) {
      mpmp__oparg_t b = {.owner = a->owner, .deadline = deadline,
                         .in = p + 8, .in_len = len};
      int rc = each(o, &b);
      if (rc < 0)
        return rc;
    }
    a->r0 = (int64_t)k + 1;
    p += 8 + ((len + 7) & ~(uint64_t)7);
  }
  return 0;
}

static int batch_put(mpmp__obj_t *o, mpmp__oparg_t *b) {
  int rc = q_put(o, b);
  return rc == MPMP_ETIMEDOUT ? mpmp__err(rc, "the queue is full") : rc;
}
/* A batch of pipelined puts from another node (object.c), from item a->i
 * on (as a batch of sends). An unbounded queue's never waits (its
 * producer sends a zero timeout); a bounded queue's producer counted on
 * its share of the room the last reply reported, which other producers
 * can have taken meanwhile: then the rest waits for room in a helper
 * (timeout: none), in order, and qsize never passes maxsize. r1: the room
 * after it (q_room_code). */
static int op_put_batch(mpmp__obj_t *o, mpmp__oparg_t *a) {
  if (o->kind != MPMP__K_QUEUE)
    return wrong_kind("put");
  int rc = run_batch(o, a, a->deadline, batch_put, "queue items");
  a->r1 = q_room_code(mpmp__obj_data(o));
  return rc;
}

static int batch_send(mpmp__obj_t *o, mpmp__oparg_t *b) {
  return conn_op(o, b, c_send);
}
/* A batch of pipelined sends from another node (object.c), from message
 * a->i on (a helper goes on where the progress engine stopped: on_request
 * keeps r0 in the request). They wait for room only in the helper: the
 * sender counted on the room its last reply reported, which only another
 * sender on this end can have taken meanwhile. r1 = the room left. */
static int op_send_batch(mpmp__obj_t *o, mpmp__oparg_t *a) {
  if (o->kind != MPMP__K_CONN)
    return wrong_kind("send");
  int rc = run_batch(o, a, a->deadline, batch_send, "pipe messages");
  return rc < 0 ? rc : conn_op(o, a, c_room);
}

static int op_get(mpmp__obj_t *o, mpmp__oparg_t *a) {
  return o->kind == MPMP__K_CONN ? conn_op(o, a, c_recv) : q_get(o, a);
}
static int op_poll(mpmp__obj_t *o, mpmp__oparg_t *a) {
  return o->kind == MPMP__K_CONN ? conn_op(o, a, c_poll) : q_poll(o, a);
}
static int op_close(mpmp__obj_t *o, mpmp__oparg_t *a) {
  return o->kind == MPMP__K_CONN ? conn_op(o, a, c_close) : q_close(o, a);
}
static int op_size(mpmp__obj_t *o, mpmp__oparg_t *a) {
  return o->kind == MPMP__K_CONN ? wrong_kind("qsize") : q_size(o, a);
}
static int op_task_done(mpmp__obj_t *o, mpmp__oparg_t *a) {
  return o->kind == MPMP__K_CONN ? wrong_kind("task_done") : q_task_done(o, a);
}
static int op_join(mpmp__obj_t *o, mpmp__oparg_t *a) {
  return o->kind == MPMP__K_CONN ? wrong_kind("join") : q_join(o, a);
}
static int op_conn_free(mpmp__obj_t *o, mpmp__oparg_t *a) {
  return o->kind == MPMP__K_CONN ? conn_op(o, a, c_free)
                                 : mpmp__err(MPMP_EBADF, "not a connection");
}

#define OP_CONN_FREE MPMP__OP_Q_X1

void mpmp__queue_setup(int is_main) {
  (void)is_main;
  mpmp__queue_forget_closed();
  mpmp__op_register(MPMP__OP_Q_PUT, op_put, MPMP__OPB_TRY);
  mpmp__op_register(MPMP__OP_Q_PUT_BATCH, op_put_batch, MPMP__OPB_TRY);
  mpmp__op_register(MPMP__OP_C_SEND_BATCH, op_send_batch, MPMP__OPB_TRY);
  mpmp__op_register(MPMP__OP_Q_GET, op_get, MPMP__OPB_TRY);
  mpmp__op_register(MPMP__OP_Q_SIZE, op_size, MPMP__OPB_NO);
  mpmp__op_register(MPMP__OP_Q_CLOSE, op_close, MPMP__OPB_NO);
  mpmp__op_register(MPMP__OP_Q_TASK_DONE, op_task_done, MPMP__OPB_NO);
  mpmp__op_register(MPMP__OP_Q_JOIN, op_join, MPMP__OPB_TRY);
  mpmp__op_register(MPMP__OP_Q_POLL, op_poll, MPMP__OPB_TRY);
  mpmp__op_register(OP_CONN_FREE, op_conn_free, MPMP__OPB_FREE);
  mpmp__kind_register(MPMP__K_QUEUE,
                      &(mpmp__kind_ops_t){q_kill, q_release});
  mpmp__kind_register(MPMP__K_CONN, &(mpmp__kind_ops_t){c_kill, c_release});
  q_lanes_register();
}

/* ---- the handles this process closed ------------------------------------ */

/*
 * mpmp_queue_close_local / mpmp_conn_close_local: Python's close(), which
 * closes the calling process's handle only. A handle is a plain value
 * copied into other processes' arguments, so "this process's handle" is
 * the object's reference as seen from this rank: the rank keeps the
 * references it closed, and its calls on them fail before they reach the
 * object. The object, and every other process's handle, go on.
 * Forgotten when this rank frees the object; a reference to an object
 * freed elsewhere never matches a new one (the generation differs).
 */
static pthread_mutex_t here_lock = PTHREAD_MUTEX_INITIALIZER;
static mpmp_ref_t *here_refs;
static int here_n, here_cap;
static _Atomic int here_any; /* here_n > 0: the fast path reads only this */

/* Index of `r` among the closed references, or -1 (here_lock held). */
static int here_find(const mpmp_ref_t *r) {
  for (int i = 0; i < here_n; i++)
    if (mpmp__ref_same(&here_refs[i], r))
      return i;
  return -1;
}

static int closed_here(const mpmp_ref_t *r) {
  if (!atomic_load_explicit(&here_any, memory_order_acquire))
    return 0;
  pthread_mutex_lock(&here_lock);
  int found = here_find(r) >= 0;
  pthread_mutex_unlock(&here_lock);
  return found;
}

/* MPMP_EPIPE if this process closed its handle `r`, else 0; but first
 * what any call on it would say (not initialized, a handle of another
 * kind, an object freed meanwhile): a closed handle is still a handle
 * (the close was said where those were right). */
static int check_here(const mpmp_ref_t *r, int kind, const char *fn) {
  if (!closed_here(r))
    return 0;
  int rc = mpmp__check_init(fn);
  if (rc == 0)
    rc = mpmp__ref_check(r, kind, fn);
  if (rc == 0)
    rc = mpmp__obj_alive(r, kind, fn);
  if (rc < 0)
    return rc;
  return mpmp__err(MPMP_EPIPE, "%s: this process closed its handle of the "
                   "%s (%s); other processes' handles still work", fn,
                   r->kind == MPMP__K_CONN ? "Pipe connection" : "Queue",
                   r->kind == MPMP__K_CONN ? "mpmp_conn_close_local"
                                           : "mpmp_queue_close_local");
}

static int close_here(const mpmp_ref_t *r, int kind, const char *fn) {
  int rc = mpmp__obj_alive(r, kind, fn);
  if (rc < 0)
    return rc;
  pthread_mutex_lock(&here_lock);
  if (here_find(r) < 0) { /* closing twice is harmless */
    if (here_n == here_cap) {
      int cap = here_cap ? 2 * here_cap : 8;
      mpmp_ref_t *t = mpmp__realloc(here_refs, (size_t)cap * sizeof *t);
      if (t == NULL) {
        pthread_mutex_unlock(&here_lock);
        return mpmp__err(MPMP_ENOMEM, "%s: out of memory", fn);
      }
      here_refs = t;
      here_cap = cap;
    }
    here_refs[here_n++] = *r;
    atomic_store(&here_any, 1);
  }
  pthread_mutex_unlock(&here_lock);
  return 0;
}

/* A new process in Python's terms (a Process body starts or ends in this
 * worker rank or task host: object.c's mpmp__owner_renew), or a new run:
 * its handles are open, whatever an earlier body closed. */
void mpmp__queue_forget_closed(void) {
  pthread_mutex_lock(&here_lock);
  here_n = 0;
  atomic_store(&here_any, 0);
  pthread_mutex_unlock(&here_lock);
}

/* This rank freed the object: forget its reference. */
static void forget_here(const mpmp_ref_t *r) {
  if (!atomic_load(&here_any))
    return;
  pthread_mutex_lock(&here_lock);
  int i = here_find(r);
  if (i >= 0) {
    here_refs[i] = here_refs[--here_n];
    atomic_store(&here_any, here_n > 0);
  }
  pthread_mutex_unlock(&here_lock);
}

/* ---- public: Queue ------------------------------------------------------- */

static int queue_create_in(mpmp_queue_t *q, int type, size_t maxsize,
                           size_t max_item, const char *fn);

/* Guarded against a finalize in another thread (object.h). */
static int queue_create(mpmp_queue_t *q, int type, size_t maxsize,
                        size_t max_item, const char *fn) {
  mpmp__ref_clear(q ? &q->ref : NULL);
  int rc = mpmp__obj_guard(fn);
  return rc < 0 ? rc : mpmp__obj_unguard(queue_create_in(q, type, maxsize,
                                                         max_item, fn));
}

static int queue_create_in(mpmp_queue_t *q, int type, size_t maxsize,
                           size_t max_item, const char *fn) {
  if (max_item == 0)
    return mpmp__err(MPMP_EINVAL, "%s: max_item must be at least 1 byte", fn);
  if (max_item > UINT32_MAX - 128)
    return mpmp__err(MPMP_EINVAL, "%s: max_item of %zu bytes is over the "
                     "limit of %zu (4 GiB less a slot's header)", fn,
                     max_item, (size_t)UINT32_MAX - 128);
  size_t slot = (QSLOT_HEAD + max_item + 63) & ~(size_t)63;
  size_t cap = maxsize;
  if (cap == 0) {
    cap = MPMP_QUEUE_DEFAULT_BYTES / slot;
    if (cap < MPMP_QUEUE_MIN_DEFAULT_SLOTS)
      cap = MPMP_QUEUE_MIN_DEFAULT_SLOTS;
  }
  /* A count no memory holds (a negative one cast to size_t, a product
   * that overflows) or past what a queue counts is the caller's mistake:
   * EINVAL; ENOSPC is for a queue that would fit, but not in the heap. */
  if (cap > INT32_MAX || cap > ((size_t)PTRDIFF_MAX - sizeof(qbody_t)) / slot)
    return mpmp__err(MPMP_EINVAL, "%s: maxsize %zu is over the limit of %d "
                     "items (is it a negative count cast to size_t?)", fn,
                     cap, INT32_MAX);
  mpmp__obj_t *o;
  int rc = mpmp__obj_create(q ? &q->ref : NULL, MPMP__K_QUEUE, type, cap,
                            (uint32_t)max_item, sizeof(qbody_t) + cap * slot,
                            0, &o, fn);
  if (rc == MPMP_ENOSPC) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", mpmp_errmsg());
    if (maxsize == 0 && cap > MPMP_QUEUE_MIN_DEFAULT_SLOTS)
      return mpmp__err(rc, "%s (an unbounded queue takes %zu bytes of the "
                       "node heap, %zu slots of %zu bytes, whatever its "
                       "max_item: pass a maxsize for a smaller one, or set "
                       "a larger MPMP_HEAP_SIZE)", msg, cap * slot, cap, slot);
    return mpmp__err(rc, "%s (the queue needs %zu slots of %zu bytes: %s, "
                     "or a larger MPMP_HEAP_SIZE)", msg, cap, slot,
                     maxsize ? "pass a smaller maxsize or max_item"
                             : "it holds at least that many items of "
                               "max_item bytes; pass a smaller max_item");
  }
  if (rc < 0)
    return rc;
  qbody_t *b = mpmp__obj_data(o);
  b->cap = cap;
  b->mask = (cap & (cap - 1)) == 0 ? cap - 1 : 0;
  b->slot_size = (uint32_t)slot;
  b->max_item = (uint32_t)max_item;
  b->unbounded = maxsize == 0;
  mpmp__shlock_init(&b->ovf_lock, 0);
  for (size_t i = 0; i < cap; i++)
    atomic_init(&slot_at(b, i)->seq, 2 * (uint64_t)i);
  mpmp__lane_open(o, &b->put_lane);
  mpmp__lane_open(o, &b->get_lane);
  return 0;
}

MPMP_API int mpmp_queue_create(mpmp_queue_t *q, size_t maxsize,
                               size_t max_item) {
  return queue_create(q, Q_PLAIN, maxsize, max_item, "mpmp_queue_create");
}
MPMP_API int mpmp_joinable_queue_create(mpmp_queue_t *q, size_t maxsize,
                                        size_t max_item) {
  return queue_create(q, Q_JOINABLE, maxsize, max_item,
                      "mpmp_joinable_queue_create");
}
MPMP_API int mpmp_simple_queue_create(mpmp_queue_t *q, size_t max_item) {
  return queue_create(q, Q_SIMPLE, 0, max_item, "mpmp_simple_queue_create");
}

MPMP_API int mpmp_queue_free(mpmp_queue_t q) {
  mpmp__oparg_t a = {.x = MPMP__K_QUEUE};
  int rc = mpmp__obj_guard("mpmp_queue_free"); /* (object.h) */
  if (rc < 0)
    return rc;
  rc = mpmp__obj_unguard(mpmp__obj_call(&q.ref, MPMP__K_QUEUE, MPMP__OP_FREE,
                                        &a, "mpmp_queue_free"));
  if (rc == 0)
    forget_here(&q.ref);
  return rc;
}

static int qcall(const mpmp_queue_t *q, int op, mpmp__oparg_t *a,
                 const char *fn) {
  return mpmp__obj_call(&q->ref, MPMP__K_QUEUE, op, a, fn);
}

static int put(mpmp_queue_t q, const void *item, size_t size, double timeout,
               const char *fn) {
  if (item == NULL && size > 0)
    return mpmp__err(MPMP_EINVAL, "%s: the item is NULL", fn);
  mpmp__oparg_t a = {.in = item, .in_len = size};
  /* (an item over any queue's 4 GiB is MPMP_EMSGSIZE, not a buffer to
   * check: the queue says so, as for any item over its max_item) */
  int rc = size <= UINT32_MAX ? mpmp__check_extent(item, 1, size, "the item",
                                                   fn)
                              : 0;
  if (rc == 0)
    rc = check_here(&q.ref, MPMP__K_QUEUE, fn);
  if (rc == 0) /* (q_put starts it if it waits) */
    rc = mpmp__timeout_lazy(timeout, &a.deadline, fn);
  /* a queue of another node: pipelined, once an ordinary put learned
   * that it may be */
  int far = q.ref.kind == MPMP__K_QUEUE && !mpmp__ref_is_local(&q.ref);
  /* An item more than one operation to another node carries (2 GiB):
   * say first, as on the home node, that it is over the queue's max_item
   * (any max_item under 2 GiB), which only the home node knows. */
  if (rc == 0 && far && size > (size_t)INT32_MAX - 4096) {
    mpmp__oparg_t s = {.x = 2};
    if ((rc = qcall(&q, MPMP__OP_Q_SIZE, &s, fn)) >= 0 &&
        size > (uint64_t)s.r0)
      return mpmp__err(MPMP_EMSGSIZE, "%s: an item of %zu bytes is larger "
                       "than this queue's max item size (%" PRId64 " bytes)",
                       fn, size, s.r0);
    rc = rc < 0 ? rc : 0;
  }
  if (rc == 0 && far)
    rc = mpmp__obj_put_pipelined(&q.ref, item, size, &a.deadline, fn);
  if (rc != 0)
    return rc < 0 ? rc : 0;
  a.x = far; /* the reply tells a far caller the room (op_put) */
  if ((rc = qcall(&q, MPMP__OP_Q_PUT, &a, fn)) == 0 && far)
    mpmp__obj_put_learn(&q.ref, a.r1, (size_t)a.r0);
  else if (far)
    rc = mpmp__obj_pl_after(&q.ref, rc, fn);
  return rc;
}

MPMP_API int mpmp_queue_put(mpmp_queue_t q, const void *item, size_t size,
                            double timeout) {
  return put(q, item, size, timeout, "mpmp_queue_put");
}
MPMP_API int mpmp_queue_put_nowait(mpmp_queue_t q, const void *item,
                                   size_t size) {
  return put(q, item, size, 0, "mpmp_queue_put_nowait");
}

/*
 * A task host's get or recv from a queue or pipe of another node. Sent as
 * one blocking request, it waited at the home node in a helper thread that
 * took the item for the host when one came; a host that had died meanwhile
 * (a crash, task_timeout, terminate) never read the answer, which its
 * worker drops (transport/relay.c), and the item was lost, though on its
 * own node a host that dies while it waits takes nothing. So a host tries
 * (a request that does not wait at the home node: one request when
 * something is there, as before), then waits for something to take (a
 * poll: nothing is taken if it dies), and tries again: an item is lost
 * only when its host dies while that answer is on its way, as on one node
 * when a host dies between its claim and its copy (queue.c's top).
 * Another consumer may take the item first: the host polls again, until
 * its deadline. A pipe: its try also passes messages withdrawn by their
 * writers (whose bytes hold room until a reader passes them, and which a
 * poll does not see: a poll alone waited while the writer waited for that
 * room), its polls last at most POLL_SLICE_S for the same reason, and once
 * a message is there its recv takes the remaining time (a message longer
 * than the ring streams in while it reads; a try does not start one).
 */
#define POLL_SLICE_S 0.1
static int host_take(const mpmp_ref_t *ref, int kind, mpmp__oparg_t *a,
                     const char *fn) {
  double deadline = a->deadline;
  for (;;) {
    a->deadline = -INFINITY;
    int rc = mpmp__obj_call(ref, kind, MPMP__OP_Q_GET, a, fn);
    if (rc != MPMP_ETIMEDOUT || mpmp__expired(deadline))
      return rc;
    mpmp__oparg_t p = {.deadline = kind == MPMP__K_QUEUE
                                       ? deadline
                                       : fmin(deadline,
                                              mpmp__now() + POLL_SLICE_S)};
    rc = mpmp__obj_call(ref, kind, MPMP__OP_Q_POLL, &p, fn);
    if (rc == MPMP_ETIMEDOUT && kind != MPMP__K_QUEUE)
      continue; /* (a slice: try again, passing what was withdrawn) */
    if (rc < 0)
      return rc;
    if (kind != MPMP__K_QUEUE) {
      a->deadline = deadline;
      return mpmp__obj_call(ref, kind, MPMP__OP_Q_GET, a, fn);
    }
  }
}

/* A get or recv: the size of what came, or of what the buffer needs. */
static int take(const mpmp_ref_t *ref, int kind, void *buf, size_t max,
                size_t *size, double timeout, const char *fn) {
  if (size)
    *size = 0;
  if (buf == NULL && max > 0)
    return mpmp__err(MPMP_EINVAL, "%s: the buffer is NULL", fn);
  mpmp__oparg_t a = {.out = buf, .out_max = max};
  int rc = mpmp__check_extent(buf, 1, max, "the buffer", fn);
  if (rc == 0) /* the item is taken before it is copied into buf */
    rc = mpmp__check_writable(buf, max, "the buffer", fn);
  if (rc == 0)
    rc = check_here(ref, kind, fn);
  int far = rc == 0 && !mpmp__ref_is_local(ref);
  if (far) /* a consumer of another node's queue or pipe: see object.c */
    mpmp__obj_pl_consumer(ref);
  /* The buffer is room, not a size to fill: from another node no item
   * can be larger than one message carries, nor a pipe's message larger
   * than MPMP_PIPE_MAX_MESSAGE, so a larger buffer asks for that much
   * (it was refused there, and taken here). */
  size_t far_max = kind == MPMP__K_CONN ? MPMP_PIPE_MAX_MESSAGE
                                        : (size_t)INT32_MAX - 4096;
  if (far && a.out_max > far_max)
    a.out_max = far_max;
  int host = far && mpmp__claim_self != 0 && timeout != 0;
  if (rc == 0 && kind == MPMP__K_QUEUE && !host) /* (q_get starts it if */
    rc = mpmp__timeout_lazy(timeout, &a.deadline, fn); /* it waits) */
  else if (rc == 0)
    rc = mpmp__timeout(timeout, &a.deadline, fn);
  if (rc < 0)
    return rc;
  rc = host ? host_take(ref, kind, &a, fn)
            : mpmp__obj_call(ref, kind, MPMP__OP_Q_GET, &a, fn);
  if (size && rc == 0)
    *size = a.out_len;
  else if (size && rc == MPMP_EMSGSIZE)
    *size = (size_t)a.r0;
  return rc;
}

MPMP_API int mpmp_queue_get(mpmp_queue_t q, void *buf, size_t max,
                            size_t *size, double timeout) {
  return take(&q.ref, MPMP__K_QUEUE, buf, max, size, timeout,
              "mpmp_queue_get");
}
MPMP_API int mpmp_queue_get_nowait(mpmp_queue_t q, void *buf, size_t max,
                                   size_t *size) {
  return take(&q.ref, MPMP__K_QUEUE, buf, max, size, 0,
              "mpmp_queue_get_nowait");
}

/* 0 with *n items queued and *cap slots, or an error. */
static int sizes(mpmp_queue_t q, int64_t *n, int64_t *cap, const char *fn) {
  mpmp__oparg_t a = {0};
  int rc = qcall(&q, MPMP__OP_Q_SIZE, &a, fn);
  *n = a.r0;
  *cap = a.r1;
  return rc < 0 ? rc : 0;
}

MPMP_API int mpmp_queue_qsize(mpmp_queue_t q) {
  int64_t n, cap;
  int rc = sizes(q, &n, &cap, "mpmp_queue_qsize");
  return rc < 0 ? rc : (int)n;
}
MPMP_API int mpmp_queue_empty(mpmp_queue_t q) {
  int64_t n, cap;
  int rc = sizes(q, &n, &cap, "mpmp_queue_empty");
  return rc < 0 ? rc : n == 0;
}
MPMP_API int mpmp_queue_full(mpmp_queue_t q) {
  int64_t n, cap;
  int rc = sizes(q, &n, &cap, "mpmp_queue_full");
  return rc < 0 ? rc : cap != INT_MAX && n >= cap; /* INT_MAX: unbounded */
}
MPMP_API int mpmp_queue_capacity(mpmp_queue_t q) {
  int64_t n, cap;
  int rc = sizes(q, &n, &cap, "mpmp_queue_capacity");
  return rc < 0 ? rc : (int)cap;
}
MPMP_API int mpmp_queue_close(mpmp_queue_t q) {
  mpmp__oparg_t a = {0};
  return qcall(&q, MPMP__OP_Q_CLOSE, &a, "mpmp_queue_close");
}
MPMP_API int mpmp_queue_close_local(mpmp_queue_t q) {
  return close_here(&q.ref, MPMP__K_QUEUE, "mpmp_queue_close_local");
}
MPMP_API int mpmp_queue_task_done(mpmp_queue_t q) {
  mpmp__oparg_t a = {0};
  return qcall(&q, MPMP__OP_Q_TASK_DONE, &a, "mpmp_queue_task_done");
}
MPMP_API int mpmp_queue_join(mpmp_queue_t q, double timeout) {
  mpmp__oparg_t a = {0};
  int rc = mpmp__timeout(timeout, &a.deadline, "mpmp_queue_join");
  if (rc == 0)
    rc = qcall(&q, MPMP__OP_Q_JOIN, &a, "mpmp_queue_join");
  if (rc == MPMP_ETIMEDOUT && a.r0 > 0) /* what it waited for */
    rc = mpmp__err(rc, "mpmp_queue_join: timed out: %lld item%s put to the "
                   "queue %s no task_done() yet (each item taken needs one, "
                   "from whoever took it)", (long long)a.r0,
                   a.r0 == 1 ? "" : "s", a.r0 == 1 ? "has" : "have");
  return rc;
}

/* ---- public: Pipe -------------------------------------------------------- */

/* An end, holding a reference on the core `co` (see core_obj). */
static int end_create(mpmp_conn_t *c, mpmp__obj_t *co, const mpmp_ref_t *core,
                      unsigned end, const char *fn) {
  mpmp__obj_t *o;
  int rc = mpmp__obj_create(&c->ref, MPMP__K_CONN, (int)end, 0, 0,
                            sizeof(pend_t), 0, &o, fn);
  if (rc == 0) {
    pend_t *pe = mpmp__obj_data(o);
    pe->core = *core;
    pe->self = c->ref;
    pe->end = end;
    mpmp__obj_hold(co); /* nobody else has it yet */
  }
  return rc;
}

static int pipe_create_in(mpmp_conn_t *c1, mpmp_conn_t *c2, int duplex);

MPMP_API int mpmp_pipe_create(mpmp_conn_t *c1, mpmp_conn_t *c2, int duplex) {
  mpmp__ref_clear(c1 ? &c1->ref : NULL);
  if (c2 != c1)
    mpmp__ref_clear(c2 ? &c2->ref : NULL);
  int rc = mpmp__obj_guard("mpmp_pipe_create");
  return rc < 0 ? rc : mpmp__obj_unguard(pipe_create_in(c1, c2, duplex));
}

static int pipe_create_in(mpmp_conn_t *c1, mpmp_conn_t *c2, int duplex) {
  const char *fn = "mpmp_pipe_create";
  if (c1 == NULL || c2 == NULL)
    return mpmp__err(MPMP_EINVAL, "%s: a handle pointer is NULL", fn);
  if (c1 == c2) /* the second end would overwrite the first: never freed */
    return mpmp__err(MPMP_EINVAL, "%s: both ends point to the same handle: "
                     "give two (mpmp_conn_t a, b; mpmp_pipe_create(&a, &b, "
                     "1))", fn);
  unsigned nch = duplex ? 2 : 1;
  mpmp_ref_t core;
  mpmp__obj_t *o;
  int rc = mpmp__obj_create(&core, MPMP__K_CONN, PIPE_CORE, 0, 0,
                            sizeof(pcore_t) + (size_t)nch * RING, 0, &o, fn);
  if (rc < 0)
    return rc;
  pcore_t *pc = mpmp__obj_data(o);
  pc->duplex = duplex != 0;
  atomic_init(&pc->ends, 2);
  for (unsigned i = 0; i < nch; i++) {
    mpmp__shlock_init(&pc->ch[i].wlock, 0);
    mpmp__shlock_init(&pc->ch[i].rlock, 0);
  }
  if ((rc = end_create(c1, o, &core, END_A, fn)) < 0) {
    mpmp__obj_discard(&core);
    return rc;
  }
  if ((rc = end_create(c2, o, &core, END_B, fn)) < 0) {
    mpmp__obj_discard(&c1->ref);
    mpmp__obj_discard(&core);
    return rc;
  }
  return 0;
}

static int ccall(const mpmp_conn_t *c, int op, mpmp__oparg_t *a,
                 const char *fn) {
  return mpmp__obj_call(&c->ref, MPMP__K_CONN, op, a, fn);
}

static int conn_free(const mpmp_conn_t *c, const char *fn) {
  mpmp__oparg_t a = {0};
  int rc = mpmp__obj_guard(fn); /* (object.h) */
  if (rc < 0)
    return rc;
  rc = mpmp__obj_unguard(ccall(c, OP_CONN_FREE, &a, fn));
  if (rc == 0)
    forget_here(&c->ref);
  return rc;
}

MPMP_API int mpmp_conn_free(mpmp_conn_t c) {
  return conn_free(&c, "mpmp_conn_free");
}

MPMP_API int mpmp_pipe_free(mpmp_conn_t c1, mpmp_conn_t c2) {
  int rc1 = conn_free(&c1, "mpmp_pipe_free");
  int rc2 = conn_free(&c2, "mpmp_pipe_free");
  return rc1 < 0 ? rc1 : rc2;
}

MPMP_API int mpmp_conn_send(mpmp_conn_t c, const void *msg, size_t len,
                            double timeout) {
  const char *fn = "mpmp_conn_send";
  if (msg == NULL && len > 0)
    return mpmp__err(MPMP_EINVAL, "%s: the message is NULL", fn);
  if (len > MPMP_PIPE_MAX_MESSAGE)
    return mpmp__err(MPMP_EMSGSIZE, "%s: a message of %zu bytes is over the "
                     "limit of %zu", fn, len, MPMP_PIPE_MAX_MESSAGE);
  mpmp__oparg_t a = {.in = msg, .in_len = len};
  int rc = mpmp__check_extent(msg, 1, len, "the message", fn);
  if (rc == 0)
    rc = check_here(&c.ref, MPMP__K_CONN, fn);
  if (rc == 0)
    rc = mpmp__timeout(timeout, &a.deadline, fn);
  /* an end of another node: pipelined while the room its node reported
   * lasts (object.c); the ordinary send asks for that room (x 1) */
  int far = c.ref.kind == MPMP__K_CONN && !mpmp__ref_is_local(&c.ref);
  if (rc == 0 && far)
    rc = mpmp__obj_send_pipelined(&c.ref, msg, len, &a.deadline, fn);
  if (rc != 0)
    return rc < 0 ? rc : 0;
  a.x = far;
  if ((rc = ccall(&c, MPMP__OP_Q_PUT, &a, fn)) == 0 && far)
    mpmp__obj_send_learn(&c.ref, a.r1);
  else if (far)
    rc = mpmp__obj_pl_after(&c.ref, rc, fn);
  return rc;
}

MPMP_API int mpmp_conn_recv(mpmp_conn_t c, void *buf, size_t max, size_t *len,
                            double timeout) {
  return take(&c.ref, MPMP__K_CONN, buf, max, len, timeout, "mpmp_conn_recv");
}

MPMP_API int mpmp_conn_poll(mpmp_conn_t c, double timeout) {
  mpmp__oparg_t a = {0};
  int rc = check_here(&c.ref, MPMP__K_CONN, "mpmp_conn_poll");
  if (rc == 0)
    rc = mpmp__timeout(timeout, &a.deadline, "mpmp_conn_poll");
  if (rc < 0)
    return rc;
  mpmp__errmark_t mark = mpmp__err_mark();
  rc = ccall(&c, MPMP__OP_Q_POLL, &a, "mpmp_conn_poll");
  if (rc == MPMP_ETIMEDOUT) { /* nothing to read: an answer, no error */
    mpmp__err_restore(mark);
    return 0;
  }
  return rc;
}

MPMP_API int mpmp_conn_close(mpmp_conn_t c) {
  mpmp__oparg_t a = {0};
  return ccall(&c, MPMP__OP_Q_CLOSE, &a, "mpmp_conn_close");
}

MPMP_API int mpmp_conn_close_local(mpmp_conn_t c) {
  return close_here(&c.ref, MPMP__K_CONN, "mpmp_conn_close_local");
}

/* ---- public: connection.wait() ------------------------------------------- */

/* An object of the wait found freed: before the wait began, or during it
 * (`waited`: an earlier look found it alive). */
static int wait_freed(const mpmp_ref_t *ref, int waited, const char *fn) {
  if (!waited)
    return mpmp__err(MPMP_EBADF, "%s: stale handle: the object was freed",
                     fn);
  return mpmp__err(MPMP_EBADF, "%s: the %s was freed while this call waited",
                   fn, ref->kind == MPMP__K_CONN ? "Pipe connection"
                                                 : "Queue");
}

/* One look at one object: 1 ready, 0 not, or an error. A local object is
 * checked in place (no message formatting for "not ready"), with a
 * reference held as object.c's calls do. */
static int poll_once(const mpmp_ref_t *ref, int waited, const char *fn) {
  mpmp__oparg_t a = {.deadline = -INFINITY};
  int rc;
  if (mpmp__ref_is_local(ref)) {
    mpmp__obj_t *o = mpmp__obj_resolve(ref);
    _Atomic uint64_t *lane = o ? mpmp__obj_lane(o, MPMP__OP_Q_POLL) : NULL;
    if (o == NULL || !mpmp__obj_enter(o, lane, ref->gen))
      return wait_freed(ref, waited, fn);
    rc = op_poll(o, &a);
    int dead = rc == MPMP_EBADF && mpmp__obj_dead(o);
    mpmp__obj_leave(o, lane);
    if (dead)
      return wait_freed(ref, 1, fn);
    if (rc < 0 && rc != MPMP_ETIMEDOUT)
      return mpmp__err(rc, "%s: %s", fn, mpmp_errmsg());
  } else {
    rc = mpmp__obj_call(ref, ref->kind, MPMP__OP_Q_POLL, &a, fn);
    /* a handle that was alive at the last look */
    if (rc == MPMP_EBADF && waited)
      return wait_freed(ref, 1, fn);
  }
  return rc == MPMP_ETIMEDOUT ? 0 : rc;
}

static void nap(double s) {
  static _Thread_local int slack_set;
  if (!slack_set) { /* the default 50 us timer slack would dwarf our naps */
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    slack_set = 1;
  }
  struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
  nanosleep(&ts, NULL);
}

/* The waitables of the layers above (objects.h): the Process sentinels. */
static mpmp__waitable_fn waitable;

void mpmp__queue_waitable(mpmp__waitable_fn f) { waitable = f; }

/* 2 if r is none of the layers above's waitables, else as they say. */
static int other_ready(const mpmp_ref_t *r, const char *what) {
  return waitable != NULL ? waitable(r, what) : 2;
}

/* One look at object i of a wait: 1 ready, 0 not, or an error. */
static int look(const mpmp_ref_t *r, int waited, const char *what) {
  int rc = other_ready(r, what);
  return rc != 2 ? rc : poll_once(r, waited, what);
}

static int conn_wait(const mpmp_ref_t *objs, int n, double timeout,
                     int *ready) {
  const char *fn = "mpmp_conn_wait";
  char what[64];
  int rc = mpmp__check_init(fn), sentinels = 0;
  if (rc < 0)
    return rc;
  if (objs == NULL || n <= 0)
    return mpmp__err(MPMP_EINVAL, "%s: give at least one object", fn);
  if ((rc = mpmp__check_extent(objs, (size_t)n, sizeof *objs, "the objects",
                               fn)) < 0 ||
      (rc = mpmp__check_extent(ready, (size_t)n, sizeof *ready,
                               "the ready flags", fn)) < 0)
    return rc;
  for (int i = 0; i < n; i++) {
    int kind = objs[i].kind == MPMP__K_CONN ? MPMP__K_CONN : MPMP__K_QUEUE;
    snprintf(what, sizeof what, "%s (object %d)", fn, i);
    if ((rc = other_ready(&objs[i], what)) != 2) {
      if (rc < 0)
        return rc;
      sentinels++;
      continue;
    }
    if ((rc = mpmp__ref_check(&objs[i], kind, what)) < 0 ||
        (rc = check_here(&objs[i], kind, what)) < 0)
      return rc;
  }
  double deadline;
  if ((rc = mpmp__timeout(timeout, &deadline, fn)) < 0)
    return rc;
  if (n == 1 && sentinels == 0) { /* one object: sleep on it */
    mpmp__oparg_t a = {.deadline = deadline};
    rc = mpmp__obj_call(&objs[0], objs[0].kind, MPMP__OP_Q_POLL, &a, fn);
    if (rc < 0)
      return rc;
    if (ready)
      ready[0] = 0;
    return 1;
  }
  double pause = 20e-6;
  for (int waited = 0;; waited = 1) {
    int k = 0;
    for (int i = 0; i < n; i++) {
      snprintf(what, sizeof what, "%s (object %d)", fn, i);
      if ((rc = look(&objs[i], waited, what)) < 0)
        return rc;
      if (rc > 0) {
        if (ready)
          ready[k] = i;
        k++;
      }
    }
    if (k > 0)
      return k;
    double left = deadline - mpmp__now();
    if (left <= 0)
      return mpmp__err(MPMP_ETIMEDOUT, "%s: timed out", fn);
    /* a process's end reaches the main rank as a message, which cannot
     * arrive inside a done-callback: the wait ran out its timeout there,
     * or never ended */
    if (sentinels > 0 && (rc = mpmp__may_wait(fn)) < 0)
      return rc;
    /* listed as a waiter until the call returns (mpmp_conn_wait), so
     * that finalize waits for its next look to end */
    mpmp__waits_join();
    nap(fmin(pause, left));
    if ((rc = mpmp__waits_quit()) < 0)
      return mpmp__err(rc, "%s: %s", fn, mpmp_errmsg());
    pause = fmin(pause * 2, 1e-3);
  }
}

MPMP_API int mpmp_conn_wait(const mpmp_ref_t *objs, int n, double timeout,
                            int *ready) {
  /* the calls it makes in between do not take it off the list */
  mpmp__waits_hold(1);
  int rc = conn_wait(objs, n, timeout, ready);
  mpmp__waits_hold(-1);
  return rc;
}
