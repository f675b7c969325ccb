/*
 * Lock, RLock, Semaphore, Event, Condition and Barrier in shared memory.
 *
 * Every waiter follows one pattern that cannot lose a wake-up: it announces
 * itself (a waiter count, or a ticket), then reads the futex word, re-checks
 * its condition, and sleeps only if the word still holds the value it read;
 * the kernel compares that value atomically with queueing the sleeper. The
 * waking side changes the word first and only then looks for sleepers. All
 * of these are seq_cst operations, so of the pairs "announce; read word" and
 * "change word; read announcements" at least one side sees the other:
 * either the waker sees the waiter and wakes it, or the waiter sees the new
 * word (then the kernel refuses to put it to sleep).
 *
 * The futexes are the shared (not _PRIVATE) kind: the kernel keys them by
 * physical page, so processes that map the segment at different addresses
 * meet on the same word. Waits use FUTEX_WAIT_BITSET, whose timeout is an
 * absolute CLOCK_MONOTONIC time, the clock of mpmp__now(): a deadline
 * needs no recomputation after early wake-ups.
 *
 * Kills (an object freed while processes wait in it) follow the same
 * pattern: the kill sets the primitive's dead mark, then changes every
 * futex word a sleeper may have read (in a way no other call undoes to the
 * value read), then wakes all of them. A waiter reads the word it will
 * sleep on before it reads the mark: if it saw no mark, the kill's change
 * comes after its read and the kernel refuses to put it to sleep (or the
 * wake finds it asleep). Every wait loop reads the mark after each wake-up
 * and returns MPMP_EBADF.
 */
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "transport.h"
#include "shsync.h"

/* Objects are shared between processes: their atomics must not hide a
 * (process-local) lock. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");
_Static_assert(sizeof(mpmp__shlock_t) == 56, "fixed layout, no padding");
_Static_assert(MPMP__SHLOCK_QUEUE == 64, "one bit of `gone` per ticket");

#define ANY_BITS FUTEX_BITSET_MATCH_ANY

/* ---- futexes -------------------------------------------------------------- */

void mpmp__futex_wait_until(_Atomic uint32_t *w, uint32_t val, uint32_t bits,
                            double deadline) {
  struct timespec ts, *tp = NULL;
  if (deadline < 1e15) { /* +INFINITY (or absurdly far): no timeout */
    double sec = floor(deadline);
    ts.tv_sec = (time_t)sec;
    ts.tv_nsec = (long)((deadline - sec) * 1e9);
    if (ts.tv_nsec > 999999999L) /* rounding: the kernel refuses 1e9 */
      ts.tv_nsec = 999999999L;
    tp = &ts;
  }
  syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_BITSET, val, tp, NULL, bits);
}

void mpmp__futex_wake(_Atomic uint32_t *w, int n, uint32_t bits) {
  syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_BITSET, n, NULL, NULL, bits);
}

static int clamp_int(unsigned n) { return n > INT_MAX ? INT_MAX : (int)n; }

/* ---- this process's waits, and finalize (shsync.h) ------------------------
 *
 * Each thread that ever waits has a node in the process's list: linked
 * (under the list's mutex) at its first wait, unlinked when the thread
 * ends (a key's destructor), so a call pays no mutex, only a store to its
 * own node: `active` while the call is listed, `word` while it sleeps.
 *
 * No lost wake-up: a sleeper stores the word it will sleep on, then reads
 * `quitting`; finalize sets `quitting`, then reads the stored words (all
 * seq_cst). Either the sleeper sees the mark and does not sleep, or
 * finalize sees the word and wakes it. A wake that comes between the
 * sleeper's read and its entry into the kernel is lost (the word did not
 * change, and finalize may not change it: other processes use it), so
 * finalize wakes again every millisecond while any call is active. Its
 * wakes match every bitset; sleepers of other processes on the same word
 * wake too, re-check and sleep again. In the same way a call that becomes
 * active, then reads the runtime's state (mpmp__obj_guard) or `quitting`,
 * is either seen by finalize or sees it. */
typedef struct waiter {
  struct waiter *prev, *next;
  _Atomic int active;               /* a call of this thread is listed */
  _Atomic(_Atomic uint32_t *) word; /* where it sleeps now, or NULL */
  int holds;                        /* mpmp__waits_hold */
  int linked;
} waiter_t;

_Thread_local int mpmp__waits_in __attribute__((tls_model("initial-exec")));
static _Thread_local waiter_t me;
static pthread_mutex_t waits_mu = PTHREAD_MUTEX_INITIALIZER;
static waiter_t *waits_head;
static _Atomic int quitting;
static pthread_key_t waits_key;
static pthread_once_t waits_once = PTHREAD_ONCE_INIT;

/* The thread ends (it has no call inside mpmp): its node goes. */
static void waits_thread_end(void *unused) {
  (void)unused;
  pthread_mutex_lock(&waits_mu);
  if (me.prev != NULL)
    me.prev->next = me.next;
  else
    waits_head = me.next;
  if (me.next != NULL)
    me.next->prev = me.prev;
  me.prev = me.next = NULL;
  me.linked = 0;
  pthread_mutex_unlock(&waits_mu);
}

/* A task host's fork (parallel/host.c) copies the list's mutex as it is:
 * held for ever in the child if another thread held it then. So a fork
 * takes it first; the child, where only the forking thread lives, keeps
 * only that thread's node. */
static void waits_fork_prepare(void) { pthread_mutex_lock(&waits_mu); }
static void waits_fork_parent(void) { pthread_mutex_unlock(&waits_mu); }
static void waits_fork_child(void) {
  pthread_mutex_init(&waits_mu, NULL);
  me.prev = me.next = NULL;
  waits_head = me.linked ? &me : NULL;
}

static void waits_setup(void) {
  pthread_key_create(&waits_key, waits_thread_end);
  pthread_atfork(waits_fork_prepare, waits_fork_parent, waits_fork_child);
}

static void link_me(void) {
  pthread_once(&waits_once, waits_setup);
  pthread_setspecific(waits_key, &me); /* (not NULL: the destructor runs) */
  pthread_mutex_lock(&waits_mu);
  me.prev = NULL;
  me.next = waits_head;
  if (waits_head != NULL)
    waits_head->prev = &me;
  waits_head = &me;
  me.linked = 1;
  pthread_mutex_unlock(&waits_mu);
}

void mpmp__waits_join(void) {
  if (mpmp__waits_in)
    return;
  if (!me.linked)
    link_me();
  mpmp__waits_in = 1;
  atomic_store(&me.active, 1); /* seq_cst: before the caller's next read */
}

void mpmp__waits_leave_slow(void) {
  if (me.holds > 0)
    return;
  mpmp__waits_in = 0;
  atomic_store_explicit(&me.active, 0, memory_order_release);
}

void mpmp__waits_hold(int d) {
  me.holds += d;
  if (me.holds == 0)
    mpmp__waits_leave();
}

_Thread_local uint64_t mpmp__waits_for;

int mpmp__waits_quit(void) {
  uint64_t owner = mpmp__waits_for;
  if (__builtin_expect(owner != 0, 0) && mpmp__owner_dead(owner))
    return mpmp__err(MPMP_ENOTINIT, "the task host of rank %d this call "
                     "waited for died meanwhile",
                     mpmp__owner_rank(owner));
  if (!atomic_load(&quitting))
    return 0;
  return mpmp__err(MPMP_ENOTINIT, "mpmp was finalized (mpmp_finalize() in "
                   "another thread of this rank) while this call waited");
}

void (*mpmp__waits_sleep_hook)(int asleep);

int mpmp__waits_sleep(_Atomic uint32_t *w, uint32_t val, uint32_t bits,
                      double deadline) {
  mpmp__waits_join();
  atomic_store(&me.word, w);
  void (*hook)(int) = mpmp__waits_sleep_hook;
  if (hook != NULL)
    hook(1);
  if (!atomic_load(&quitting))
    mpmp__futex_wait_until(w, val, bits, deadline);
  if (hook != NULL)
    hook(0);
  atomic_store(&me.word, NULL);
  int rc = mpmp__waits_quit();
  if (rc < 0 && mpmp__waits_for != 0) /* a wake-up that may have been */
    mpmp__futex_wake(w, 1, bits);     /* meant for a live waiter: on */
  return rc;
}

int mpmp__waits_end(double max_s) {
  atomic_store(&quitting, 1);
  double end = mpmp__now() + max_s;
  for (;;) {
    int n = 0;
    pthread_mutex_lock(&waits_mu);
    for (waiter_t *w = waits_head; w != NULL; w = w->next) {
      if (w == &me || !atomic_load(&w->active)) /* (not finalize's own) */
        continue;
      n++;
      _Atomic uint32_t *word = atomic_load(&w->word);
      if (word != NULL)
        mpmp__futex_wake(word, INT_MAX, ANY_BITS);
    }
    pthread_mutex_unlock(&waits_mu);
    if (n == 0 || mpmp__now() >= end)
      return n;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
}

void mpmp__waits_start(void) {
  pthread_once(&waits_once, waits_setup); /* before any fork */
  atomic_store(&quitting, 0);
}

/* ---- the lock ------------------------------------------------------------ */

/*
 * A word that is the lock, and a queue of the processes that wait for it.
 *
 * Throughput: the lock is the futex word `word` (0 free, 1 held). A process
 * that finds it free takes it with one CAS, even past waiters, so a process
 * that releases and re-acquires in a loop keeps the lock and the lines it
 * works on in its own cache. A strict FIFO lock passes both to another core
 * at every turn: with two processes hammering a Value under its lock, that
 * handover, not the work, is the cost (mpmp-bench value_locked_add_per_s,
 * 2 ranks: 3.3 M/s with the strict FIFO ticket lock this replaced, 5.8 M/s
 * with this one). Linux's, glibc's and Go's mutexes barge the same way.
 *
 * Bounded bypass: waiters queue in FIFO order (below) and only the head of
 * the queue bids for the word. Once the head has waited
 * MPMP__SHLOCK_STARVE_S, it sets `hungry`; newcomers then queue behind it
 * instead of taking the free lock, and the head takes it at the next
 * release (Go's "starvation mode"). A waiter's wait is bounded: each
 * waiter ahead of it, and then it, gets the lock within STARVE_S plus about
 * two holds. (At most one newcomer that read `hungry` just before it was
 * set may still slip in.)
 *
 * Spin, then sleep: the head polls the word for up to SPIN_S, with pauses
 * that grow to BACKOFF_MAX (every poll takes the line from the holder),
 * yielding the CPU every YIELD_S on nodes that run more ranks than cores.
 * Then it swaps in 2 ("held, and the head sleeps or is about to") and, if
 * the word was not free, sleeps while it holds 2; a release that swaps out
 * a 2 wakes it. Only the head ever sleeps on the word, so a head that took
 * the word with that swap (word now 2) turns it back into 1: no one is left
 * to wake.
 *
 * The queue is a ticket lock whose holder is the head: a waiter takes
 * ticket t = next++ and is the head when serving == t; the head that has
 * the word (or gives up) advances serving. Waiters behind the head sleep on
 * `serving` at once. A sleeper announces itself in `asleep` (bit t % 64,
 * its own: see below) before it re-reads `serving` and sleeps on it with
 * the bitset 1 << (t % 31); advancing `serving` wakes the new head only if
 * its bit is set. Nothing is lost (see the top of the file): if the waker
 * does not see the bit, the sleeper's re-read sees the new `serving`, and
 * the kernel refuses to put it to sleep on the old value. (With more than
 * 31 waiters, the futex bitsets collide: a few extra wake up and sleep
 * again.)
 *
 * Timeouts: a head that times out just leaves (advancing serving); the word
 * may stay 2, which costs the next release one needless wake call. A ticket
 * cannot leave the middle of the queue, so a waiter behind the head whose
 * deadline passes marks its ticket in `gone` (bit t % 64) and leaves; the
 * head that reaches a marked ticket clears the mark and passes the turn on.
 * The one race, "the turn reaches t just as t gives up", is settled by
 * whoever clears the mark first (an atomic fetch_and): the passer (t is
 * skipped, t's acquire times out) or t itself (t is the head and goes on).
 * Neither can miss the other: t sets its mark then reads serving, the
 * passer writes serving then reads the mark (seq_cst on both sides).
 *
 * A process that dies in line (a task host killed: shsync.h, "Dead
 * owners") leaves its ticket behind, and nobody would pass the turn on
 * from it. So the queue heals: a waiter sleeps in slices of HEAL_SLICE_S
 * and watches the head s. A head that lives takes a free word within
 * microseconds, or at the next release once it is hungry; when `serving`
 * stays at s for HEAL_S (and a slice more for each place further back,
 * up to three, so that the next one in line acts first: head_stalled)
 * while the word is seen free, or passes
 * from holder to holder, the waiter skips s (head_skip: a CAS of `serving`
 * from s, so that of several healers one acts). Every move of `serving` is
 * such a CAS from the value the mover holds (ticket_pass), so a live head
 * that was only descheduled that long and skipped passes nothing when it
 * ends: it loses its place, never the lock's exclusion, which the word
 * alone keeps. Such a head may still bid for the word beside the new head,
 * so a head sleeps on the word in slices too (a release wakes one sleeper
 * only); and a waiter that finds `serving` past its own ticket, skipped
 * while it was off its core, takes a new one. `hungry` holds the time it
 * was set (a sleeping head sets it again at every slice): a dead head's
 * outlives it, and an acquire that finds the word free under a `hungry`
 * older than HEAL_S clears it. A head stalled while one process keeps
 * taking the word (the same holder at every look) would never be seen
 * stalled: the waiter behind it sets `hungry` for it. Waiters for a place
 * in a full queue (the overflow) watch the head as well. A waiter that
 * skipped a head looks at the next ones every CHAIN_SLICE_S and skips
 * one found with the word free at one look after that long: a host's
 * threads killed in line leave a row of dead tickets.
 *
 * A bit of `gone` or `asleep` is unambiguous because at most 64 tickets are
 * outstanding: a newcomer takes a ticket only while next - serving < 64,
 * and otherwise sleeps on `serving` with the overflow bit (counted in
 * `overflow_asleep`), woken by any move of `serving` while one sleeps
 * there. A ticket t + 64 therefore exists only after the turn has passed t,
 * and both of t's bits are clear by then: a gone mark is cleared before its
 * turn passes, and t clears its `asleep` bit as soon as it wakes, before
 * it can become the head or mark itself gone. (A dead ticket's `asleep`
 * bit may stay set: it costs ticket t + 64 a needless wake. A skipped live
 * head clears its own marks late: its successor t + 64 may then miss a
 * wake, and finds its turn at its next slice.)
 */
#define OVERFLOW_BIT (1u << 31)
#define SPIN_S 20e-6     /* how long the head polls before it sleeps */
#define YIELD_S 4e-6     /* give up the CPU this often while polling */
#define BACKOFF_MAX 64   /* most pauses between two polls */
#define HEAL_SLICE_S 0.02 /* how often a queued waiter looks at the head */
#define HEAL_S 0.05       /* a head stalled this long is skipped (above) */
#define CHAIN_SLICE_S 0.005 /* ... and the heads after a skipped one */
#define SKIPPED 1         /* ticket_wait: the turn passed this ticket by */

static uint32_t turn_bit(uint32_t t) { return 1u << (t % 31); }
static uint64_t gone_bit(uint32_t t) { return 1ull << (t % 64); }

/* `hungry` holds the monotonic clock in ms (never 0) when it was set. */
static uint32_t now_ms(void) {
  return (uint32_t)(uint64_t)(mpmp__now() * 1e3) | 1u; /* (wraps: 49 days) */
}

/* The word's bits: its state in 1..0 (0 free, 1 held, 2 held and the
 * head sleeps or is about to), WORD_DEAD (below) in 2, and in 31..3 the
 * claim of the task host that took it (mpmp__claim_self; 0 for any other
 * taker). The one CAS that takes the word names a host holder, so that a
 * host killed at any instruction while it holds the lock, also between
 * that CAS and writing `owner`, or between clearing `owner` and freeing
 * the word, is found dead by the next acquirer (take_over; helper 69: a
 * host killed in such a window, every few dozen kills of a loop of
 * acquires, left the lock held by nobody for good). */
#define WORD_STATE 3u
#define WORD_CLAIM_SHIFT 3

/* This process's claim as the word carries it: 0 where it does not fit
 * (a node of 8191 ranks or more; `owner` then tells a dead host, as
 * before, except in the windows above). */
static uint32_t claim_bits(uint32_t c) {
  return c < (UINT32_C(1) << (32 - WORD_CLAIM_SHIFT)) ? c << WORD_CLAIM_SHIFT
                                                      : 0;
}
static uint32_t word_claim(void) { return claim_bits(mpmp__claim_self); }

static int word_take(mpmp__shlock_t *l) {
  uint32_t free_word = 0;
  return atomic_compare_exchange_strong(&l->word, &free_word,
                                        1u | word_claim());
}

/* A newcomer takes the lock if it is free and no waiter starves. The plain
 * reads first spare a held lock the CAS, which would steal the line from
 * its holder; the CAS (seq_cst) pairs with the previous release. */
static int lock_try(mpmp__shlock_t *l) {
  return atomic_load_explicit(&l->word, memory_order_relaxed) == 0 &&
         atomic_load_explicit(&l->hungry, memory_order_relaxed) == 0 &&
         word_take(l);
}

/* Killed (see the top of the file): a kill ors WORD_DEAD into `word`, so
 * the head never sleeps on the 2 it wrote before the kill, and adds
 * SERVING_DEAD to `serving`, so no ticket is ever the head again and the
 * queue's sleepers never sleep on the value they read (only the head
 * writes `serving` otherwise, always beyond what anyone read before). */
#define WORD_DEAD 4u
#define SERVING_DEAD (1u << 31)

static int lock_dead(const mpmp__shlock_t *l) {
  return atomic_load(&l->dead) != 0;
}

/* `owner` and `count` are written only by the holder, after taking the
 * word and before releasing it: the word's CAS and exchange order them
 * (and by the one that takes the lock over from a dead task host, which
 * then holds it: take_over). Others read `owner` only to compare it with
 * their own id, which it can equal only if they wrote it themselves, i.e.
 * hold the lock, or to look whether its holder died. */
static uint64_t owner_of(const mpmp__shlock_t *l) {
  return atomic_load_explicit(&l->owner, memory_order_relaxed);
}

/* Held word w, named by this caller instead (state and kill kept). */
static uint32_t word_renamed(uint32_t w) {
  return (w & (WORD_STATE | WORD_DEAD)) | word_claim();
}

/* The dead holder the last take_over of this thread replaced (for its
 * message): its owner id, or 0 and its claim where it died before it
 * wrote the id or after it cleared it. */
static _Thread_local uint64_t taken_from;
static _Thread_local uint32_t taken_claim;

/*
 * Take the held lock over from its holder if that is a task host that died
 * (shsync.h, "Dead owners"): 1 if this caller did, and now holds it at one
 * level. A word that names a host (its claim) is taken over by a CAS on
 * the word itself, from the value that names the dead host to one that
 * names this caller, whatever `owner` says: so one caller does it, and a
 * claim in a held word is always the one of whoever took it last. A word
 * that names no host (a rank's, or a claim too large) falls back on
 * `holder`, the owner id read before: `owner` holds a dead host's id only
 * while that host holds the word, and the CAS on `owner` lets one caller
 * take it; that caller then names itself in the word.
 */
static int take_over(mpmp__shlock_t *l, uint64_t holder, uint64_t owner) {
  uint32_t w = atomic_load(&l->word), c = w >> WORD_CLAIM_SHIFT;
  if ((w & WORD_STATE) == 0)
    return 0;
  if (c != 0) {
    if (!mpmp__claim_dead(c) ||
        !atomic_compare_exchange_strong(&l->word, &w, word_renamed(w)))
      return 0;
    holder = owner_of(l); /* (a dead host's id, or 0) */
    atomic_store_explicit(&l->owner, owner, memory_order_relaxed);
  } else {
    /* A host of this node whose claim fits names itself in every word it
     * holds: a word that names no host is someone else's, and `holder`
     * is stale (read before, or left for a moment by a taker that took
     * the word from that host's claim and has not written its own id
     * yet): taking over from it would let two hold the lock. */
    if (!mpmp__owner_is_host(holder) ||
        claim_bits(mpmp__owner_claim(holder)) != 0 ||
        !mpmp__owner_dead(holder) ||
        !atomic_compare_exchange_strong(&l->owner, &holder, owner))
      return 0;
    /* held: only the sleep bit and a kill change the word meanwhile */
    while ((w & WORD_STATE) != 0 &&
           !atomic_compare_exchange_weak(&l->word, &w, word_renamed(w)))
      ;
  }
  atomic_store_explicit(&l->count, 1, memory_order_relaxed);
  taken_from = mpmp__owner_is_host(holder) ? holder : 0;
  taken_claim = c;
  return 1;
}

/* A free word under a `hungry` older than HEAL_S: a head that died set
 * it (a live one sets it again at every look): clear it. 1 if this call
 * did. */
static int hungry_clear_stale(mpmp__shlock_t *l) {
  uint32_t h = atomic_load(&l->hungry);
  return h != 0 && atomic_load(&l->word) == 0 &&
         now_ms() - h > (uint32_t)(HEAL_S * 1e3) &&
         atomic_compare_exchange_strong(&l->hungry, &h, 0);
}

/* Deadline already past: succeed only if the lock is free for newcomers
 * (0), or held by a task host that died (MPMP_EOWNERDEAD, held); retry
 * only while it is free. */
static int lock_try_once(mpmp__shlock_t *l, uint64_t owner) {
  for (;;) {
    if (hungry_clear_stale(l))
      continue; /* left by a head that died (see above) */
    uint32_t h = atomic_load(&l->hungry);
    if (atomic_load(&l->word) != 0 || h != 0) {
      if (lock_dead(l))
        return MPMP_EBADF;
      return take_over(l, owner_of(l), owner) ? MPMP_EOWNERDEAD
                                              : MPMP_ETIMEDOUT;
    }
    if (word_take(l))
      return 0;
  }
}

/* What a queued waiter saw of the head (see "heals" above). */
typedef struct {
  uint32_t head;      /* the head watched */
  double since;       /* when it was first seen the head */
  uint64_t holder;    /* the word's holder at the last look */
  unsigned free;      /* looks that found the word free */
  unsigned handovers; /* looks that found another holder */
  int chain;          /* this waiter skipped a dead head: the next ones
                         may be dead too (a host's threads, killed) */
} stall_t;

/* How long a watching waiter sleeps between looks. */
static double stall_slice(const stall_t *st) {
  return st->chain ? CHAIN_SLICE_S : HEAL_SLICE_S;
}

static int head_stalled(mpmp__shlock_t *l, stall_t *st, uint32_t s,
                        uint32_t dist);
static void head_skip(mpmp__shlock_t *l, uint32_t s);

/* Take a ticket once the queue has room. Those who wait for room watch
 * the head too (see above): the queue may be full of the dead. */
static int ticket_take(mpmp__shlock_t *l, uint32_t *t, double deadline) {
  stall_t st = {0};
  for (;;) {
    uint32_t s = atomic_load(&l->serving);
    uint32_t n = atomic_load(&l->next);
    if (n - s < MPMP__SHLOCK_QUEUE) {
      if (atomic_compare_exchange_weak(&l->next, &n, n + 1)) {
        *t = n;
        return 0;
      }
      continue;
    }
    if (mpmp__expired(deadline))
      return MPMP_ETIMEDOUT;
    if (!lock_dead(l) && head_stalled(l, &st, s, n - s + 1)) {
      head_skip(l, s);
      st.chain = 1;
      continue;
    }
    /* Announce, re-check, sleep: a move of `serving` past the value we
     * sleep on sees the count and wakes the overflow bit. */
    atomic_fetch_add(&l->overflow_asleep, 1);
    s = atomic_load(&l->serving);
    int rc = 0;
    if (atomic_load(&l->next) - s >= MPMP__SHLOCK_QUEUE && !lock_dead(l))
      rc = mpmp__waits_sleep(&l->serving, s, OVERFLOW_BIT,
                             fmin(deadline, mpmp__now() + stall_slice(&st)));
    atomic_fetch_sub(&l->overflow_asleep, 1);
    if (lock_dead(l))
      return MPMP_EBADF;
    if (rc < 0 || (rc = mpmp__waits_quit()) < 0) /* finalize: no ticket */
      return rc;
  }
}

/* Ticket t gives up at its deadline (see the race above). */
static int ticket_abandon(mpmp__shlock_t *l, uint32_t t) {
  uint64_t bit = gone_bit(t);
  atomic_fetch_or(&l->gone, bit);
  /* serving < t: the passer that reaches t will skip it. serving > t: the
   * turn passed t by (the passer cleared our mark, or a healer skipped us,
   * and then no one will: clear it). */
  uint32_t s = atomic_load(&l->serving);
  if (s != t) {
    if ((int32_t)(s - t) > 0)
      atomic_fetch_and(&l->gone, ~bit);
    return MPMP_ETIMEDOUT;
  }
  /* Our turn came: take back the mark, unless the passer cleared it. */
  if (atomic_fetch_and(&l->gone, ~bit) & bit)
    return 0;
  return MPMP_ETIMEDOUT;
}

static void ticket_pass(mpmp__shlock_t *l, uint32_t h);

/* 1 if the waiter `dist` places behind the head s (its ticket t = s +
 * dist, or a newcomer with no ticket yet: the tickets out + 1) finds s
 * stalled (see above). The next in line acts first: each place further
 * back waits one slice more, up to three (dead or gone tickets between
 * add no more: a waiter whose timeout is short must still act). A head
 * stalled that long while one process keeps taking the word (barging:
 * the same holder at every look) gets no nearer to it: the waiter sets
 * `hungry` for it, as a live head would have, so that the word goes free
 * for the head, or is seen free. */
static int head_stalled(mpmp__shlock_t *l, stall_t *st, uint32_t s,
                        uint32_t dist) {
  double now = mpmp__now();
  uint64_t holder = owner_of(l);
  if (s != st->head || st->since == 0) {
    *st = (stall_t){.head = s, .since = now, .holder = holder,
                    .chain = st->chain};
    return 0;
  }
  if (!mpmp__shlock_locked(l))
    st->free++;
  else if (holder != st->holder)
    st->handovers++;
  st->holder = holder;
  /* (after a skip, the next head had a slice to take the word) */
  double wait = st->chain ? CHAIN_SLICE_S : HEAL_S;
  unsigned looks = st->chain ? 1 : 2;
  if (now - st->since < wait + stall_slice(st) * (double)(dist < 4 ? dist - 1
                                                                     : 3))
    return 0;
  if (st->free >= looks || st->handovers >= 2)
    return 1;
  atomic_store(&l->hungry, now_ms()); /* the word goes free for s */
  return 0;
}

/* Skip the stalled head s: its gone mark first (ticket s + 64 may exist
 * once `serving` passed s), then the turn, if s still has it. */
static void head_skip(mpmp__shlock_t *l, uint32_t s) {
  atomic_fetch_and(&l->gone, ~gone_bit(s));
  ticket_pass(l, s);
}

/* Wait until ticket t is the head. The seq_cst CAS that took t and the
 * seq_cst loads of serving below pair with ticket_pass's store-then-load.
 * At finalize t leaves as at a timeout (passing the turn on if it came),
 * so that other processes' waiters behind it go on. */
static int ticket_wait(mpmp__shlock_t *l, uint32_t t, double deadline) {
  uint64_t bit = gone_bit(t);
  stall_t st = {0};
  for (;;) {
    uint32_t s = atomic_load(&l->serving);
    if (s == t)
      return 0;
    if (lock_dead(l)) /* the queue is gone: leave it as it is */
      return MPMP_EBADF;
    if ((int32_t)(s - t) > 0) /* skipped as stalled: queue again */
      return SKIPPED;
    int quit = mpmp__waits_quit();
    if (quit < 0 || mpmp__expired(deadline)) {
      int rc = ticket_abandon(l, t);
      if (quit == 0)
        return rc;
      if (rc == 0) /* the head after all: let the next one be */
        ticket_pass(l, t);
      return quit;
    }
    if (head_stalled(l, &st, s, t - s)) {
      head_skip(l, s);
      st.chain = 1;
      continue;
    }
    /* Announce, re-check, sleep (see above). The bit is ours alone, and
     * cleared before this ticket can be the head or be marked gone. */
    atomic_fetch_or(&l->asleep, bit);
    s = atomic_load(&l->serving);
    if (s != t && !lock_dead(l))
      mpmp__waits_sleep(&l->serving, s, turn_bit(t),
                        fmin(deadline, mpmp__now() + stall_slice(&st)));
    atomic_fetch_and(&l->asleep, ~bit);
  }
}

/* Is ticket t marked gone? Clear the mark if so (see the race above). */
static int ticket_skip(mpmp__shlock_t *l, uint32_t t) {
  uint64_t bit = gone_bit(t);
  if (!(atomic_load(&l->gone) & bit))
    return 0;
  return (atomic_fetch_and(&l->gone, ~bit) & bit) != 0;
}

/* `serving` just became s (seq_cst store): wake whoever sleeps and must
 * not: ticket s (the new head) and the overflow sleepers (the queue moved).
 * `queued` says ticket s exists. Every read here is seq_cst, after the
 * store: see ticket_wait. */
static void ticket_wake(mpmp__shlock_t *l, uint32_t s, int queued) {
  uint32_t bits = 0;
  if (queued && (atomic_load(&l->asleep) & gone_bit(s)))
    bits |= turn_bit(s);
  if (atomic_load(&l->overflow_asleep) > 0)
    bits |= OVERFLOW_BIT;
  if (bits)
    mpmp__futex_wake(&l->serving, INT_MAX, bits);
}

/* The head h leaves the queue: the next live ticket becomes the head.
 * Each move is a CAS from the value this passer holds: a head skipped as
 * stalled, or a kill, ends the pass (see above). */
static void ticket_pass(mpmp__shlock_t *l, uint32_t h) {
  for (uint32_t s = h + 1;; s++) {
    uint32_t from = s - 1;
    if (!atomic_compare_exchange_strong(&l->serving, &from, s))
      return; /* seq_cst: see below */
    /* A waiter takes its ticket (seq_cst CAS) before reading serving: if we
     * see no ticket s, its read comes after our CAS and sees its turn. */
    if (atomic_load(&l->next) == s) {
      ticket_wake(l, s, 0);
      return;
    }
    if (!ticket_skip(l, s)) {
      ticket_wake(l, s, 1);
      return;
    }
  }
}

/* The head polls the word (see above): 1 once it took it. */
static int head_spin(mpmp__shlock_t *l, double start, double deadline) {
  unsigned pauses = 1;
  double yielded = start;
  for (;;) {
    if (atomic_load_explicit(&l->word, memory_order_relaxed) == 0 &&
        word_take(l))
      return 1;
    for (unsigned i = 0; i < pauses; i++)
      mpmp__cpu_relax();
    if (pauses < BACKOFF_MAX)
      pauses *= 2;
    double now = mpmp__now();
    if (now - start >= SPIN_S || now >= deadline)
      return 0;
    if (mpmp__net.spin_yield && now - yielded >= YIELD_S) {
      mpmp__poll_yield();
      yielded = now;
    }
  }
}

/* The head takes the word: 0, MPMP_ETIMEDOUT, MPMP_EBADF (killed), or
 * MPMP_EOWNERDEAD (taken over from a dead task host for `owner`). */
static int head_take(mpmp__shlock_t *l, uint64_t owner, double deadline) {
  double start = mpmp__now();
  int rc = 0;
  if (!head_spin(l, start, deadline)) {
    for (;;) {
      if (mpmp__now() - start >= MPMP__SHLOCK_STARVE_S)
        atomic_store(&l->hungry, now_ms());
      /* Free: take it. Held: say that the head sleeps (2), keeping the
       * holder's claim; the release that swaps out a 2 wakes a sleeper. */
      uint32_t w = atomic_load(&l->word);
      if (w == 0) {
        if (word_take(l))
          break; /* ours */
        continue;
      }
      if ((w & WORD_STATE) == 1) {
        uint32_t asleep = (w & ~WORD_STATE) | 2u;
        if (!atomic_compare_exchange_strong(&l->word, &w, asleep))
          continue; /* changed: look again */
        w = asleep;
      }
      /* A holder that is a task host may die with no one to wake us: look
       * every slice. Any other holder releases and wakes one sleeper, which
       * may be a skipped head beside us (see above): sleep in slices. */
      if (take_over(l, owner_of(l), owner)) {
        rc = MPMP_EOWNERDEAD;
        break;
      }
      double until = fmin(deadline, mpmp__now() + MPMP__SHLOCK_DEAD_SLICE_S);
      if (mpmp__expired(deadline)) {
        rc = MPMP_ETIMEDOUT;
        break;
      }
      if (lock_dead(l)) { /* read after our 2 went in: see WORD_DEAD */
        rc = MPMP_EBADF;
        break;
      }
      /* finalize: leave as at a timeout (the caller passes the turn) */
      if ((rc = mpmp__waits_sleep(&l->word, w, ANY_BITS, until)) < 0)
        break;
    }
  }
  if (atomic_load_explicit(&l->hungry, memory_order_relaxed))
    atomic_store(&l->hungry, 0);
  return rc;
}

static void lock_release(mpmp__shlock_t *l) {
  /* seq_cst: a release */
  if ((atomic_exchange(&l->word, 0) & WORD_STATE) == 2)
    mpmp__futex_wake(&l->word, 1, ANY_BITS);
}

static void set_owner(mpmp__shlock_t *l, uint64_t owner, uint32_t count) {
  atomic_store_explicit(&l->owner, owner, memory_order_relaxed);
  atomic_store_explicit(&l->count, count, memory_order_relaxed);
}

/* Queue, wait to be the head, take the word, let the next one be head.
 * A killed lock ends every step with MPMP_EBADF (the word taken after
 * the kill too: the free came first); the queue is then left as it is. */
static int lock_queue(mpmp__shlock_t *l, uint64_t owner, double deadline) {
  uint32_t t;
  if (lock_dead(l))
    return MPMP_EBADF;
  mpmp__waits_join(); /* it spins, then sleeps: finalize must know */
  int rc = mpmp__waits_quit();
  if (rc < 0)
    return rc;
  do
    rc = ticket_take(l, &t, deadline);
  while (rc == 0 && (rc = ticket_wait(l, t, deadline)) == SKIPPED);
  if (rc == 0) {
    rc = head_take(l, owner, deadline);
    if (rc == MPMP_EBADF)
      return rc;
    /* a helper that waited for a task host of another node that died
     * meanwhile takes nothing for it (shsync.h: it would hold the lock
     * for the dead, to be taken over); nor does a wait at finalize */
    int quit;
    if (rc == 0 && (quit = mpmp__waits_quit()) < 0) {
      lock_release(l);
      rc = quit;
    }
    /* the holder is known before the pass (a futex call): a host killed
     * in between left the lock held by nobody, for good (helper 63) */
    if (rc == 0)
      set_owner(l, owner, 1);
    ticket_pass(l, t);
    if ((rc == 0 || rc == MPMP_EOWNERDEAD) && lock_dead(l))
      rc = MPMP_EBADF;
  }
  return rc;
}

/* 0, MPMP_ETIMEDOUT, MPMP_EBADF, or MPMP_EOWNERDEAD (held by `owner`,
 * which the caller sets otherwise). */
static int lock_acquire(mpmp__shlock_t *l, uint64_t owner, double deadline) {
  if (lock_try(l))
    return 0;
  if (mpmp__expired(deadline))
    return lock_try_once(l, owner);
  if (hungry_clear_stale(l) && lock_try(l))
    return 0;
  return lock_queue(l, owner, deadline);
}

/* Take the lock behind every queued waiter, never past them: a
 * Condition's waiter coming back. It released the lock so that others
 * could use it; barging back in would undo that (Python's wait(0) would
 * let nobody in). */
static int lock_acquire_queued(mpmp__shlock_t *l, uint64_t owner) {
  /* no deadline: only a kill (or finalize) fails it */
  return lock_queue(l, owner, INFINITY);
}

/* The acquire that took the lock over from a dead task host says so. */
static int owner_died(void) {
  uint64_t d = taken_from;
  if (d == 0) /* (it died before it wrote its id, or after it cleared it) */
    return mpmp__err(MPMP_EOWNERDEAD, "the lock's holder, a task host of "
                     "this node (its claim %#x), died holding it (a crash or "
                     "a kill): the lock is now held by this caller, and what "
                     "it guards may be half updated", (unsigned)taken_claim);
  return mpmp__err(MPMP_EOWNERDEAD, "the lock's holder, a task host of rank "
                   "%d (its generation %u), died holding it (a crash or a "
                   "kill): the lock is now held by this caller, and what it "
                   "guards may be half updated", mpmp__owner_rank(d),
                   (unsigned)(d >> MPMP__OWNER_GEN_SHIFT &
                              MPMP__OWNER_GEN_MASK));
}

/* ---- Lock and RLock: the lock plus an owner ------------------------- */

void mpmp__shlock_init(mpmp__shlock_t *l, int recursive) {
  atomic_init(&l->word, 0);
  atomic_init(&l->hungry, 0);
  atomic_init(&l->next, 0);
  atomic_init(&l->serving, 0);
  atomic_init(&l->gone, 0);
  atomic_init(&l->owner, 0);
  atomic_init(&l->count, 0);
  l->recursive = recursive != 0;
  atomic_init(&l->asleep, 0);
  atomic_init(&l->overflow_asleep, 0);
  atomic_init(&l->dead, 0);
}

int mpmp__shlock_acquire(mpmp__shlock_t *l, uint64_t owner, double deadline) {
  if (owner == 0)
    return mpmp__err(MPMP_EINVAL, "lock owner id 0 is reserved");
  if (l->recursive && owner_of(l) == owner) {
    atomic_fetch_add_explicit(&l->count, 1, memory_order_relaxed);
    return 0;
  }
  int rc = lock_acquire(l, owner, deadline);
  if (rc == MPMP_EOWNERDEAD) /* owner and count are set */
    return owner_died();
  if (rc)
    return rc;
  set_owner(l, owner, 1);
  return 0;
}

int mpmp__shlock_try(mpmp__shlock_t *l, uint64_t owner) {
  if (l->recursive && owner_of(l) == owner) {
    atomic_fetch_add_explicit(&l->count, 1, memory_order_relaxed);
    return 1;
  }
  if (!lock_try(l))
    return 0;
  set_owner(l, owner, 1);
  return 1;
}

int mpmp__shlock_release(mpmp__shlock_t *l, uint64_t owner) {
  if (owner == 0 || owner_of(l) != owner)
    return mpmp__err(MPMP_EPERM, "release of a lock this thread does not hold");
  if (atomic_load_explicit(&l->count, memory_order_relaxed) > 1) {
    atomic_fetch_sub_explicit(&l->count, 1, memory_order_relaxed);
    return 0;
  }
  set_owner(l, 0, 0);
  lock_release(l);
  return 0;
}

/* Python's multiprocessing.Lock is a semaphore of one: any process may
 * release it while it is held. The owner id is cleared by a CAS, so that of
 * two releases racing for one hold (two strangers, or a stranger and the
 * holder, who goes through here too) exactly one frees the word; the
 * other finds 0 and is refused, as a release of a free lock. A dead task
 * host's hold is released like any other (take_over's CAS excludes it). */
int mpmp__shlock_release_any(mpmp__shlock_t *l) {
  uint64_t cur = owner_of(l);
  do {
    if (cur == 0)
      return MPMP_EPERM;
  } while (!atomic_compare_exchange_weak(&l->owner, &cur, 0));
  atomic_store_explicit(&l->count, 0, memory_order_relaxed);
  lock_release(l);
  return 0;
}

int mpmp__shlock_locked(const mpmp__shlock_t *l) {
  return (atomic_load(&l->word) & 3u) != 0;
}

uint64_t mpmp__shlock_owner(const mpmp__shlock_t *l) { return owner_of(l); }

void mpmp__shlock_kill(mpmp__shlock_t *l) {
  atomic_store(&l->dead, 1);
  atomic_fetch_or(&l->word, WORD_DEAD);
  atomic_fetch_add(&l->serving, SERVING_DEAD);
  mpmp__futex_wake(&l->word, INT_MAX, ANY_BITS);
  mpmp__futex_wake(&l->serving, INT_MAX, ANY_BITS);
}

/* ---- Semaphore ------------------------------------------------------------- */

int mpmp__shsem_init(mpmp__shsem_t *s, unsigned value, unsigned max) {
  if (value > INT32_MAX || (max != 0 && value > max))
    return mpmp__err(MPMP_EINVAL, "semaphore value %u is out of range", value);
  atomic_init(&s->value, value);
  atomic_init(&s->waiters, 0);
  s->max = max;
  s->bounded = max != 0;
  return 0;
}

/* BoundedSemaphore(0) is allowed, as in Python: every release is refused
 * (max 0 alone would mean unbounded, hence the flag). */
int mpmp__shsem_init_bounded(mpmp__shsem_t *s, unsigned value) {
  int rc = mpmp__shsem_init(s, value, value);
  s->bounded = 1;
  return rc;
}

/* A kill sets bit 31 of the value (a value is at most INT32_MAX): no
 * acquire takes from it, no release adds to it, and a sleeper's 0 is gone
 * for good. */
#define SEM_DEAD (1u << 31)

static int sem_try_down(mpmp__shsem_t *s) {
  uint32_t v = atomic_load(&s->value);
  while (v > 0 && !(v & SEM_DEAD))
    if (atomic_compare_exchange_weak(&s->value, &v, v - 1))
      return 1;
  return 0;
}

/*
 * Not fair (neither are Python's). A woken waiter that loses the value to
 * a barging process sleeps again; the value was not lost, it was taken.
 * The waiter checks the value before the deadline, so a wake-up that
 * arrives with the deadline still takes what it was woken for.
 */
int mpmp__shsem_acquire(mpmp__shsem_t *s, double deadline) {
  for (;;) {
    if (sem_try_down(s))
      return 0;
    if (atomic_load(&s->value) & SEM_DEAD)
      return MPMP_EBADF;
    if (mpmp__expired(deadline))
      return MPMP_ETIMEDOUT;
    atomic_fetch_add(&s->waiters, 1); /* announce, then re-read in the kernel */
    int rc = mpmp__waits_sleep(&s->value, 0, ANY_BITS, deadline);
    atomic_fetch_sub(&s->waiters, 1);
    if (rc < 0) /* finalize */
      return rc;
  }
}

static int sem_check_add(const mpmp__shsem_t *s, uint32_t v, unsigned n) {
  if (s->bounded && (n > s->max || v > s->max - n))
    return mpmp__err(MPMP_EPERM,
                     "BoundedSemaphore released too many times (value would "
                     "exceed %u)", s->max);
  if (n > INT32_MAX - v)
    return mpmp__err(MPMP_EINVAL, "semaphore value would exceed %d",
                     INT32_MAX);
  return 0;
}

int mpmp__shsem_release(mpmp__shsem_t *s, unsigned n) {
  if (n == 0)
    return mpmp__err(MPMP_EINVAL, "semaphore release count must be >= 1");
  uint32_t v = atomic_load(&s->value);
  do {
    if (v & SEM_DEAD)
      return MPMP_EBADF;
    int rc = sem_check_add(s, v, n);
    if (rc)
      return rc;
  } while (!atomic_compare_exchange_weak(&s->value, &v, v + n));
  /* Value first, then waiters (seq_cst): see the top of the file. */
  if (atomic_load(&s->waiters) > 0)
    mpmp__futex_wake(&s->value, clamp_int(n), ANY_BITS);
  return 0;
}

unsigned mpmp__shsem_value(const mpmp__shsem_t *s) {
  return atomic_load(&s->value) & ~SEM_DEAD;
}

void mpmp__shsem_kill(mpmp__shsem_t *s) {
  atomic_fetch_or(&s->value, SEM_DEAD);
  mpmp__futex_wake(&s->value, INT_MAX, ANY_BITS);
}

/* ---- Event ----------------------------------------------------------------- */

/*
 * The word counts the sets (bits 1..31) beside the flag (bit 0). A waiter
 * that saw it clear returns once the word changes: only a set changes a
 * clear word, so a set followed at once by a clear still wakes every
 * waiter, as Python's Event does.
 */
void mpmp__shevent_set(mpmp__shevent_t *e) {
  uint32_t w = atomic_load(&e->word);
  do {
    if (w & 1u)
      return;
  } while (!atomic_compare_exchange_weak(&e->word, &w, (w | 1u) + 2u));
  if (atomic_load(&e->waiters) > 0)
    mpmp__futex_wake(&e->word, INT_MAX, ANY_BITS);
}

void mpmp__shevent_clear(mpmp__shevent_t *e) {
  atomic_fetch_and(&e->word, ~1u);
}

int mpmp__shevent_is_set(const mpmp__shevent_t *e) {
  return (atomic_load(&e->word) & 1u) != 0;
}

int mpmp__shevent_wait(mpmp__shevent_t *e, double deadline) {
  uint32_t w = atomic_load(&e->word);
  if (w & 1u)
    return 0;
  int rc;
  atomic_fetch_add(&e->waiters, 1);
  for (;;) {
    /* The word before the mark: a kill marks, then moves the word, so a
     * waiter that sees the move sees the mark too (and does not take the
     * kill for a set). */
    int moved = atomic_load(&e->word) != w;
    if (atomic_load(&e->dead)) {
      rc = MPMP_EBADF;
      break;
    }
    if (moved) {
      rc = 0;
      break;
    }
    if (mpmp__expired(deadline)) {
      rc = MPMP_ETIMEDOUT;
      break;
    }
    if ((rc = mpmp__waits_sleep(&e->word, w, ANY_BITS, deadline)) < 0)
      break; /* finalize */
  }
  atomic_fetch_sub(&e->waiters, 1);
  return rc;
}

/* The word moves by a set's step without setting: no waiter's w is left. */
void mpmp__shevent_kill(mpmp__shevent_t *e) {
  atomic_store(&e->dead, 1);
  atomic_fetch_add(&e->word, 2u);
  mpmp__futex_wake(&e->word, INT_MAX, ANY_BITS);
}

/* ---- Condition ------------------------------------------------------------- */

static int cperm(void) {
  return mpmp__err(MPMP_EPERM, "cannot wait on un-acquired lock");
}

/* Release every level of l; the count to restore. A Lock (not recursive)
 * may be released by anyone meanwhile (mpmp__shlock_release_any): clear
 * our id with a CAS as it does, so that only one of us frees the word. */
static uint32_t unlock_all(mpmp__shlock_t *l, uint64_t owner) {
  uint32_t levels = atomic_load_explicit(&l->count, memory_order_relaxed);
  if (!l->recursive) {
    if (atomic_compare_exchange_strong(&l->owner, &owner, 0)) {
      atomic_store_explicit(&l->count, 0, memory_order_relaxed);
      lock_release(l);
    }
    return 1;
  }
  set_owner(l, 0, 0);
  lock_release(l);
  return levels;
}

/* 0, MPMP_EBADF (the lock was killed; not held), MPMP_ENOTINIT (finalize;
 * not held) or MPMP_EOWNERDEAD (held, taken over from a dead task host). */
static int relock(mpmp__shlock_t *l, uint64_t owner, uint32_t levels) {
  int rc = lock_acquire_queued(l, owner);
  if (rc == 0 || rc == MPMP_EOWNERDEAD)
    set_owner(l, owner, levels);
  return rc == MPMP_EOWNERDEAD ? owner_died() : rc;
}

#define WT_ONE ((uint64_t)1 << 32) /* one waiter in cond->wt */

/* Leave the waiters: with a wake-up given to the waiters (0) if one is
 * left and `take`, else without (MPMP_ETIMEDOUT). Wake-ups that no
 * waiter is left to take go (a waiter gone at finalize, or a helper of a
 * dead task host, took none). */
static int cond_leave(mpmp__shcond_t *c, int take) {
  uint64_t wt = atomic_load(&c->wt), next;
  int got;
  do {
    uint64_t w = (wt >> 32) - 1, t = wt & 0xffffffffu;
    got = take && t > 0;
    if (got)
      t--;
    next = w << 32 | (t < w ? t : w);
  } while (!atomic_compare_exchange_weak(&c->wt, &wt, next));
  return got ? 0 : MPMP_ETIMEDOUT;
}

/* Take a wake-up if one is left; 1 if taken (the waiter left). */
static int cond_take(mpmp__shcond_t *c) {
  uint64_t wt = atomic_load(&c->wt);
  while ((wt & 0xffffffffu) > 0)
    if (atomic_compare_exchange_weak(&c->wt, &wt, wt - WT_ONE - 1))
      return 1;
  return 0;
}

/*
 * Sleep until the waiter takes a wake-up, the deadline, or a kill; it
 * has left the waiters on return. Wake-ups are given by notify to the
 * waiters that wait then: only after seq moved past `seq0` (read when
 * the wait began) may this waiter take one, so one that came later
 * cannot take a wake-up meant for those before it (they would sleep on
 * with it gone).
 */
static int cond_sleep(mpmp__shcond_t *c, uint32_t seq0, double deadline) {
  for (;;) {
    /* seq before the mark: a kill marks, then moves seq (see the Event) */
    uint32_t seq = atomic_load(&c->seq);
    if (atomic_load(&c->dead)) {
      (void)cond_leave(c, 0);
      return MPMP_EBADF;
    }
    if (seq != seq0 && cond_take(c))
      return 0;
    if (mpmp__expired(deadline)) /* a wake-up given meanwhile is ours */
      return cond_leave(c, seq != seq0);
    int rc = mpmp__waits_sleep(&c->seq, seq, ANY_BITS, deadline);
    if (rc < 0) { /* finalize, or the task host it waits for died */
      (void)cond_leave(c, 0);
      return rc;
    }
  }
}

/*
 * No lost notify: the waiter counts itself and reads seq while it still
 * holds l, and a notifier holds l, so every notify that comes after the
 * wait began sees the waiter counted, gives it a wake-up and bumps seq
 * past the value read. A waiter at its deadline leaves with a wake-up if
 * one is left (it was notified: 0), else counted out in the same atomic
 * step (MPMP_ETIMEDOUT), so a notify never gives a wake-up to a waiter
 * that already left while another sleeps on.
 */
int mpmp__shcond_wait(mpmp__shcond_t *c, mpmp__shlock_t *l, uint64_t owner,
                      double deadline) {
  if (owner == 0 || owner_of(l) != owner)
    return cperm();
  if (atomic_load(&c->dead))
    return MPMP_EBADF;
  atomic_fetch_add(&c->wt, WT_ONE);
  uint32_t seq = atomic_load(&c->seq);
  uint32_t levels = unlock_all(l, owner);
  int rc = cond_sleep(c, seq, deadline);
  if (rc == MPMP_ENOTINIT) /* finalize: the lock stays free (nobody of
                            * this process would ever release it) */
    return rc;
  int lrc = relock(l, owner, levels);
  return lrc != 0 ? lrc : rc;
}

/* mpmp__shcond_wait_for, where `nap` (if not NULL) gives each sleep its
 * own deadline, no later than `deadline`, looked up again at every wake:
 * a sleep that ends at it only looks at the predicate again. */
static int cond_wait_for(mpmp__shcond_t *c, mpmp__shlock_t *l, uint64_t owner,
                         int (*pred)(void *), void *arg, double deadline,
                         double (*nap)(void *arg, double deadline)) {
  if (owner == 0 || owner_of(l) != owner)
    return cperm();
  while (!pred(arg)) {
    double until = nap != NULL ? nap(arg, deadline) : deadline;
    int rc = mpmp__shcond_wait(c, l, owner, until);
    if (rc == MPMP_ETIMEDOUT && until < deadline)
      continue;
    if (rc == MPMP_ETIMEDOUT)
      return pred(arg) ? 0 : MPMP_ETIMEDOUT;
    if (rc)
      return rc;
  }
  return 0;
}

int mpmp__shcond_wait_for(mpmp__shcond_t *c, mpmp__shlock_t *l,
                          uint64_t owner, int (*pred)(void *), void *arg,
                          double deadline) {
  return cond_wait_for(c, l, owner, pred, arg, deadline, NULL);
}

/* Give up to n wake-ups, one per waiter that has none yet, then wake as
 * many sleepers (a sleeper woken without one left sleeps again). */
void mpmp__shcond_notify(mpmp__shcond_t *c, unsigned n) {
  uint64_t wt = atomic_load(&c->wt), k;
  do {
    uint64_t w = wt >> 32, t = wt & 0xffffffffu;
    k = w > t ? w - t : 0;
    if (k > n)
      k = n;
    if (k == 0)
      return; /* nobody waits that is not woken already */
  } while (!atomic_compare_exchange_weak(&c->wt, &wt, wt + k));
  atomic_fetch_add(&c->seq, 1);
  mpmp__futex_wake(&c->seq, clamp_int((unsigned)k), ANY_BITS);
}

void mpmp__shcond_notify_all(mpmp__shcond_t *c) {
  mpmp__shcond_notify(c, UINT_MAX);
}

void mpmp__shcond_kill(mpmp__shcond_t *c) {
  atomic_store(&c->dead, 1);
  atomic_fetch_add(&c->seq, 1);
  mpmp__futex_wake(&c->seq, INT_MAX, ANY_BITS);
}

/* ---- Barrier: Python's threading.Barrier, state for state ------------------ */

/* ACTING: the round is complete and its last party runs the barrier's
 * action (mpmp__shbarrier_acted ends it); the others still wait, and
 * newcomers wait for the round to drain, as in Python, whose action runs
 * before anyone leaves. */
enum { FILLING = 0, DRAINING = 1, ACTING = 2, RESETTING = -1, BROKEN = -2 };

/* The internal lock is never held across a user's call: any id will do
 * that is nobody's (a rank no job has) and not a task host's (whose death
 * the lock would look for). */
#define BOWNER (UINT64_MAX & ~MPMP__OWNER_HOST)

/* 0, or MPMP_EBADF once killed. */
static int b_lock(mpmp__shbarrier_t *b) {
  return mpmp__shlock_acquire(&b->lock, BOWNER, INFINITY);
}

static void b_unlock(mpmp__shbarrier_t *b) {
  mpmp__shlock_release(&b->lock, BOWNER);
}

static int b_state(const mpmp__shbarrier_t *b) { return atomic_load(&b->state); }

static void b_set(mpmp__shbarrier_t *b, int state) {
  atomic_store(&b->state, state);
  mpmp__shcond_notify_all(&b->cond);
}

/* The last one out ends the draining (or the reset): the barrier fills
 * again, or breaks if a wait timed out meanwhile (b->break_due). */
static void b_exit(mpmp__shbarrier_t *b) {
  int st = b_state(b);
  if (--b->count == 0 && (st == DRAINING || st == RESETTING)) {
    b_set(b, b->break_due ? BROKEN : FILLING);
    b->break_due = 0;
  }
}

/*
 * Task hosts inside wait() (shsync.h): each records its id in a free
 * word of `hosts` as it arrives and clears it as it leaves, the lock
 * held. A host that dies inside never leaves, and its round would never
 * drain: whoever holds the lock and finds a recorded host dead lets it
 * out for it (b_exit) once it would have left, i.e. unless the round is
 * still filling (it counts as arrived) or acting; a dead actor fails its
 * action. Waiters look again every DEAD_SLICE while a host is recorded.
 */
static void b_note(mpmp__shbarrier_t *b, uint64_t who) {
  for (int i = 0; mpmp__owner_is_host(who) && i < MPMP__SHBARRIER_HOSTS; i++)
    if (b->hosts[i] == 0) {
      b->hosts[i] = who;
      /* waiters that sleep with no slice start theirs */
      mpmp__shcond_notify_all(&b->cond);
      return;
    }
}

static void b_forget(mpmp__shbarrier_t *b, uint64_t who) {
  for (int i = 0; mpmp__owner_is_host(who) && i < MPMP__SHBARRIER_HOSTS; i++)
    if (b->hosts[i] == who) {
      b->hosts[i] = 0;
      return;
    }
}

static int b_hosts(const mpmp__shbarrier_t *b) {
  for (int i = 0; i < MPMP__SHBARRIER_HOSTS; i++)
    if (b->hosts[i] != 0)
      return 1;
  return 0;
}

static void b_reap(mpmp__shbarrier_t *b) {
  if (b_state(b) == ACTING && b->actor != 0 && mpmp__owner_dead(b->actor)) {
    b_forget(b, b->actor);
    b->actor = 0;
    b_set(b, BROKEN);
    b_exit(b);
  }
  int st = b_state(b);
  if (st == FILLING || st == ACTING)
    return;
  for (int i = 0; i < MPMP__SHBARRIER_HOSTS; i++)
    if (b->hosts[i] != 0 && mpmp__owner_dead(b->hosts[i])) {
      b->hosts[i] = 0;
      b_exit(b);
    }
}

static int b_settled(void *arg) {
  b_reap(arg);
  int st = b_state(arg);
  return st != DRAINING && st != RESETTING && st != ACTING;
}

static int b_released(void *arg) {
  b_reap(arg);
  int st = b_state(arg);
  return st != FILLING && st != ACTING;
}

/* A barrier's waits sleep in slices while a host is recorded (a wake
 * looks again whether one is). */
static double b_nap(void *arg, double deadline) {
  return b_hosts(arg) ? fmin(deadline, mpmp__now() + MPMP__SHLOCK_DEAD_SLICE_S)
                      : deadline;
}

static int b_wait_for(mpmp__shbarrier_t *b, int (*pred)(void *),
                      double deadline) {
  return cond_wait_for(&b->cond, &b->lock, BOWNER, pred, b, deadline, b_nap);
}

int mpmp__shbarrier_init(mpmp__shbarrier_t *b, unsigned parties) {
  if (parties == 0 || parties > INT32_MAX)
    return mpmp__err(MPMP_EINVAL, "barrier parties must be >= 1, not %u",
                     parties);
  mpmp__shlock_init(&b->lock, 0);
  atomic_init(&b->cond.seq, 0);
  atomic_init(&b->cond.wt, 0);
  atomic_init(&b->cond.dead, 0);
  b->parties = parties;
  b->count = 0;
  atomic_init(&b->state, FILLING);
  b->break_due = 0;
  memset(b->hosts, 0, sizeof b->hosts);
  b->actor = 0;
  return 0;
}

/* Wait until the previous generation has drained (or a reset ended). */
static int b_enter(mpmp__shbarrier_t *b, double deadline) {
  int rc = b_wait_for(b, b_settled, deadline);
  if (rc)
    return rc;
  return b_state(b) < 0 ? MPMP_EBROKEN : 0;
}

static int b_wait(mpmp__shbarrier_t *b, double deadline) {
  int rc = b_wait_for(b, b_released, deadline);
  if (rc == MPMP_EBADF || rc == MPMP_ENOTINIT) /* killed, or finalize */
    return rc;
  if (rc) {
    b_set(b, BROKEN); /* a timeout breaks it for everyone */
    return MPMP_ETIMEDOUT;
  }
  return b_state(b) < 0 ? MPMP_EBROKEN : 0;
}

int mpmp__shbarrier_wait(mpmp__shbarrier_t *b, double deadline,
                         unsigned *index) {
  return mpmp__shbarrier_wait_act(b, deadline, index, 0, 0);
}

int mpmp__shbarrier_wait_act(mpmp__shbarrier_t *b, double deadline,
                             unsigned *index, int act, uint64_t who) {
  if (b->parties == 0)
    return mpmp__err(MPMP_EINVAL, "barrier used before init");
  int rc = b_lock(b);
  if (rc)
    return rc;
  /* Killed (MPMP_EBADF): the lock may not be ours any more, and nobody
   * counts on the barrier's state: leave it as it is. */
  if ((rc = b_enter(b, deadline)) == MPMP_EBADF || rc == MPMP_ENOTINIT)
    return rc;
  if (rc) {
    /* Timed out waiting for the previous round to drain (or a reset, or
     * the action, to end): as in Python, where this wait would arrive
     * once it has and then time out, it breaks the barrier for everyone
     * (the parties of the next round would otherwise wait for it), but
     * only once the round has drained: its parties keep their indices. */
    if (rc == MPMP_ETIMEDOUT && b_state(b) >= 0 && b_state(b) != FILLING)
      b->break_due = 1;
    b_unlock(b);
    return rc == MPMP_EBROKEN ? mpmp__err(rc, "the barrier is broken") : rc;
  }
  unsigned i = b->count++;
  b_note(b, who);
  if (i + 1 == b->parties && act) {
    /* the last to arrive runs the action first; it stays counted until
     * mpmp__shbarrier_acted */
    atomic_store(&b->state, ACTING);
    b->actor = mpmp__owner_is_host(who) ? who : 0;
    b_unlock(b);
    if (index != NULL)
      *index = i;
    return MPMP__SHBARRIER_ACT;
  }
  if (i + 1 == b->parties)
    b_set(b, DRAINING); /* the last to arrive releases the others */
  else if ((rc = b_wait(b, deadline)) == MPMP_EBADF || rc == MPMP_ENOTINIT)
    return rc;
  b_forget(b, who);
  b_exit(b);
  b_unlock(b);
  if (rc == MPMP_EBROKEN)
    return mpmp__err(rc, "the barrier was broken or reset while waiting");
  if (rc == 0 && index != NULL)
    *index = i;
  return rc;
}

int mpmp__shbarrier_acted(mpmp__shbarrier_t *b, int ok) {
  if (b_lock(b))
    return MPMP_EBADF; /* killed */
  int st = b_state(b), rc = 0;
  if (st == ACTING)
    b_set(b, ok ? DRAINING : BROKEN); /* a failed action breaks it */
  else
    rc = MPMP_EBROKEN; /* aborted, reset or timed out during the action */
  b_forget(b, b->actor);
  b->actor = 0;
  b_exit(b);
  b_unlock(b);
  return rc;
}

void mpmp__shbarrier_abort(mpmp__shbarrier_t *b) {
  if (b_lock(b))
    return; /* killed */
  b_set(b, BROKEN);
  b_unlock(b);
}

void mpmp__shbarrier_reset(mpmp__shbarrier_t *b) {
  if (b_lock(b))
    return; /* killed */
  int st = b_state(b);
  b->break_due = 0; /* a reset starts afresh */
  if (b->count == 0)
    b_set(b, FILLING);
  else if (st == FILLING || st == BROKEN || st == ACTING)
    b_set(b, RESETTING); /* the waiters leave broken; the last one out
                            makes it FILLING again */
  else
    mpmp__shcond_notify_all(&b->cond);
  b_reap(b); /* dead hosts inside (a dead actor too) leave now */
  b_unlock(b);
}

int mpmp__shbarrier_broken(const mpmp__shbarrier_t *b) {
  return b_state(b) == BROKEN;
}

unsigned mpmp__shbarrier_n_waiting(mpmp__shbarrier_t *b) {
  if (b_lock(b))
    return 0; /* killed */
  b_reap(b);
  unsigned n = b_state(b) == FILLING ? b->count : 0;
  b_unlock(b);
  return n;
}

void mpmp__shbarrier_kill(mpmp__shbarrier_t *b) {
  mpmp__shlock_kill(&b->lock);
  mpmp__shcond_kill(&b->cond);
}
