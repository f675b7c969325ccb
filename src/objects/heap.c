/*
 * The node's shared heap (see heap.h): a TLSF allocator whose every byte of
 * state lives in the shared region, named by offsets so that processes
 * mapping the region at different addresses agree.
 *
 * Layout: the heap's header (lock, counters, free-list heads), then blocks
 * that tile the arena [start, end) with no gap:
 *
 *   block at b (b % 64 == 32):  size | tag | next | prev | payload ... | size
 *                               \------ 32 bytes -----/ ^ b + 32, 64-aligned
 *
 * Sizes are multiples of 64 and count the 32-byte header and the 8-byte
 * footer, which repeats the size so that a block finds its lower neighbour
 * (boundary tags). `tag` hashes the heap's random secret with the block's
 * offset, size and state (live or free): a stale header (a freed block), a
 * copied one, or random bytes almost surely do not hash right, so free() can
 * reject any offset without ever writing through a bad one. `next`/`prev`
 * link free blocks in their size class (unused while live).
 *
 * Size classes: 16 linear classes below 1 KiB, then each power of two split
 * into 16; a bitmap per level finds a non-empty class in O(1). Free merges
 * with free neighbours at once, so no two free blocks are ever adjacent.
 *
 * One futex lock (process-shared: FUTEX_WAIT, not _PRIVATE) guards it all.
 *
 * Task hosts (parallel/host.c) allocate here too (a shared object made or
 * freed in an isolated task, an unbounded queue's overflow), and a host
 * may die of a kill in the middle of an allocation: its lock then stayed
 * held for good and every later create, free or put to an overflow on the
 * node hung, timeouts or not (helper 62). So:
 *   - a host counts its sections in a word its worker reads (busy, from
 *     mpmp__heap_set_busy), and the worker's kills of its host
 *     (task_timeout, terminate) stop it first and kill it only outside
 *     one (host.c's kill_host): mpmp's own kills never tear the heap;
 *   - the lock word names its holder: the CAS that takes it writes the
 *     holder's claim (the queue slots' id: node rank and generation; 0
 *     for a rank), and a waiter sleeps in slices and looks whether a host
 *     that holds it died (any other kill of it: the user's, the OOM
 *     killer's). Then one waiter takes the lock over (a CAS on the word)
 *     and checks the whole heap (mpmp__heap_check's walk): intact (the
 *     host died before it changed anything, or after), the heap goes on;
 *     torn, it is rebuilt from its blocks (mend); only where the blocks
 *     themselves do not tile is the heap marked broken, and every later
 *     allocation fails MPMP_ENOSPC saying why, frees do nothing: nothing
 *     hangs. (A
 *     separate holder field, written after the CAS, was found empty: a
 *     host killed between the two, which a locked store made likely.)
 */
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "heap.h"
#include "base.h"

#define ALIGN_LOG2 6
#define ALIGN ((uint64_t)1 << ALIGN_LOG2)
#define HDR 32u                 /* block header, before the payload */
#define FTR 8u                  /* footer: the size again */
#define OVERHEAD (HDR + FTR)
#define MIN_BLOCK ALIGN         /* 24 usable bytes */
#define SL_LOG2 4
#define SL_COUNT (1u << SL_LOG2)
#define FL_SHIFT (SL_LOG2 + ALIGN_LOG2) /* sizes below 1 KiB: first level 0 */
#define FL_COUNT (64 - FL_SHIFT + 1)
#define HEAP_MAGIC 0x3150414548504d4dULL /* "MMPHEAP1" */
#define LOCK_SPINS 64

enum { ST_FREE = 0x46, ST_LIVE = 0x4c };

typedef struct block {
  uint64_t size;
  uint64_t tag;
  uint64_t next, prev; /* free lists; 0 ends a list */
} block_t;

typedef struct heap {
  uint64_t magic;
  uint64_t secret;
  uint64_t region;     /* bytes given to format, for messages */
  uint64_t start, end; /* the arena: offsets of the first block and the end */
  uint64_t in_use, free_bytes, nlive, nfree;
  /* 0 free; held: the holder's claim (a task host's, else 0) << 2 | 1,
   * | 2 when someone may sleep (on `wake`) */
  _Atomic uint64_t lock;
  _Atomic uint32_t wake;   /* futex word: bumped by an unlock that saw 2 */
  _Atomic uint32_t broken; /* torn by a host that died holding the lock:
                              the claim of that host */
  uint64_t fl_map;             /* bit fl: some sl_map[fl] bit is set */
  uint32_t sl_map[FL_COUNT];   /* bit sl: head[fl][sl] is not empty */
  uint64_t head[FL_COUNT][SL_COUNT];
} heap_t;

_Static_assert(sizeof(block_t) == HDR, "block header is 32 bytes");

/* ---- the lock ------------------------------------------------------------ */

/* This process's claim if it is a task host (0 otherwise), the word its
 * worker reads, and how to tell a dead host's claim (object.c). */
static uint32_t self_claim;
static _Atomic uint32_t *busy;
static int (*claim_dead)(uint32_t claim);

void mpmp__heap_set_host(uint32_t claim, int (*dead)(uint32_t claim)) {
  self_claim = claim;
  claim_dead = dead;
}

void mpmp__heap_set_busy(_Atomic uint32_t *word) { busy = word; }

#define DEAD_SLICE_NS 20000000L /* a waiter's look at a host holder */

static int check_all(heap_t *h);
static int mend(heap_t *h);

static int heap_broken(const heap_t *h) {
  uint32_t c = atomic_load(&h->broken);
  return mpmp__err(MPMP_ENOSPC, "the node's shared heap cannot be used any "
                   "more: a task host (node rank %u, generation %u) was "
                   "killed in the middle of an allocation and left it "
                   "inconsistent; no shared object can be made on this "
                   "node: rerun the job", (c >> 16) - 1, c & 0xffffu);
}

#define HELD 1u
#define SLEEPERS 2u

static void wake_sleepers(heap_t *h, int n) {
  atomic_fetch_add(&h->wake, 1);
  syscall(SYS_futex, (uint32_t *)&h->wake, FUTEX_WAKE, n, NULL, NULL, 0);
}

/* We took the lock over from a dead task host (`dead`): is the heap whole,
 * or whole again once mended? 1 if so (we hold it); else it is marked
 * broken and the lock let go. */
static int taken_over(heap_t *h, uint32_t dead) {
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", mpmp_errmsg()); /* (check_all sets one) */
  int whole = check_all(h) == 0 || mend(h) == 0;
  if (!whole)
    MPMP__WARN("a task host (node rank %u, generation %u) died holding the "
               "node's shared heap and left it torn: %s; no shared object "
               "can be made on this node from now on", (dead >> 16) - 1,
               dead & 0xffffu, mpmp_errmsg());
  mpmp__err(0, "%s", msg);
  if (whole)
    return 1;
  atomic_store(&h->broken, dead);
  atomic_store(&h->lock, 0);
  wake_sleepers(h, INT_MAX);
  return 0;
}

/* A futex mutex whose word names its holder (the CAS that takes it writes
 * the claim: no moment when a host holds it unnamed), robust against a
 * holder that is a task host and dies (see the top). Waiters sleep on
 * `wake`, in slices, and look whether the holder died. Sections are a few
 * hundred ns, so a short spin usually wins before sleeping. 0, or
 * MPMP_ENOSPC (message set) once the heap is broken. */
static int heap_lock(heap_t *h) {
  if (busy != NULL)
    atomic_fetch_add(busy, 1);
  uint64_t mine = (uint64_t)self_claim << 2 | HELD, c = 0;
  if (atomic_compare_exchange_strong(&h->lock, &c, mine))
    return 0;
  for (int i = 0; i < LOCK_SPINS; i++) {
    mpmp__cpu_relax();
    c = 0;
    if (atomic_load_explicit(&h->lock, memory_order_relaxed) == 0 &&
        atomic_compare_exchange_strong(&h->lock, &c, mine))
      return 0;
  }
  while (atomic_load(&h->broken) == 0) {
    uint64_t l = atomic_load(&h->lock);
    if (l == 0) { /* (keeps SLEEPERS: others may sleep) */
      if (atomic_compare_exchange_strong(&h->lock, &l, mine | SLEEPERS))
        return 0;
      continue;
    }
    uint32_t holder = (uint32_t)(l >> 2);
    if (holder != 0 && claim_dead != NULL && claim_dead(holder)) {
      if (atomic_compare_exchange_strong(&h->lock, &l, mine | SLEEPERS) &&
          taken_over(h, holder))
        return 0;
      continue;
    }
    uint32_t w = atomic_load(&h->wake);
    if (!(l & SLEEPERS) &&
        !atomic_compare_exchange_strong(&h->lock, &l, l | SLEEPERS))
      continue; /* it moved: look again */
    /* (in slices: the holder may die with no one to wake us) */
    struct timespec slice = {0, DEAD_SLICE_NS};
    syscall(SYS_futex, (uint32_t *)&h->wake, FUTEX_WAIT, w, &slice, NULL, 0);
  }
  if (busy != NULL)
    atomic_fetch_sub(busy, 1);
  return heap_broken(h);
}

static void heap_unlock(heap_t *h) {
  if (atomic_exchange(&h->lock, 0) & SLEEPERS)
    wake_sleepers(h, 1);
  if (busy != NULL)
    atomic_fetch_sub(busy, 1);
}

/* ---- blocks --------------------------------------------------------------- */

static block_t *blk(heap_t *h, uint64_t b) {
  return (block_t *)(void *)((char *)h + b);
}

static uint64_t *footer(heap_t *h, uint64_t b, uint64_t size) {
  return (uint64_t *)(void *)((char *)h + b + size - FTR);
}


static uint64_t tag_of(const heap_t *h, uint64_t b, uint64_t size, int state) {
  return mpmp__mix64(h->secret ^ mpmp__mix64(b ^ (size << 8) ^ (uint64_t)state));
}

static void set_block(heap_t *h, uint64_t b, uint64_t size, int state) {
  block_t *k = blk(h, b);
  k->size = size;
  k->tag = tag_of(h, b, size, state);
  *footer(h, b, size) = size;
}

/* A header swallowed by a merge must never look valid again. */
static void wipe_block(heap_t *h, uint64_t b) {
  block_t *k = blk(h, b);
  k->size = 0;
  k->tag = 0;
}

/*
 * NULL if a valid block in `state` starts at b, else why not. Reads only
 * inside the arena, whatever b and the bytes there, and writes nothing.
 */
static const char *block_problem(heap_t *h, uint64_t b, int state) {
  if (b < h->start || b >= h->end || h->end - b < MIN_BLOCK)
    return "outside the heap";
  if ((b - h->start) % ALIGN != 0)
    return "not 64-byte aligned";
  block_t *k = blk(h, b);
  uint64_t size = k->size;
  if (size < MIN_BLOCK || size % ALIGN != 0 || size > h->end - b ||
      k->tag != tag_of(h, b, size, state))
    return state == ST_LIVE ? "not a live block: freed already, or never "
                              "allocated"
                            : "not a free block";
  if (*footer(h, b, size) != size)
    return "its footer was overwritten: a write past the end of the block?";
  return NULL;
}

/* ---- size classes and free lists ------------------------------------------ */

static int msb64(uint64_t x) { return 63 - __builtin_clzll(x); }

/* The class that holds blocks of `size`. */
static void mapping_insert(uint64_t size, unsigned *fl, unsigned *sl) {
  if (size < ((uint64_t)1 << FL_SHIFT)) {
    *fl = 0;
    *sl = (unsigned)(size >> ALIGN_LOG2);
    return;
  }
  int m = msb64(size);
  *fl = (unsigned)(m - FL_SHIFT + 1);
  *sl = (unsigned)(size >> (m - SL_LOG2)) ^ SL_COUNT;
}

/* The first class whose every block holds `size` (good fit, no search). */
static void mapping_search(uint64_t size, unsigned *fl, unsigned *sl) {
  if (size >= ((uint64_t)1 << FL_SHIFT))
    size += ((uint64_t)1 << (msb64(size) - SL_LOG2)) - 1;
  mapping_insert(size, fl, sl);
}

static void list_insert(heap_t *h, uint64_t b) {
  unsigned fl, sl;
  block_t *k = blk(h, b);
  mapping_insert(k->size, &fl, &sl);
  k->prev = 0;
  k->next = h->head[fl][sl];
  if (k->next != 0)
    blk(h, k->next)->prev = b;
  h->head[fl][sl] = b;
  h->sl_map[fl] |= 1u << sl;
  h->fl_map |= (uint64_t)1 << fl;
}

static void list_remove(heap_t *h, uint64_t b) {
  unsigned fl, sl;
  block_t *k = blk(h, b);
  mapping_insert(k->size, &fl, &sl);
  if (k->next != 0)
    blk(h, k->next)->prev = k->prev;
  if (k->prev != 0)
    blk(h, k->prev)->next = k->next;
  else
    h->head[fl][sl] = k->next;
  if (h->head[fl][sl] != 0)
    return;
  h->sl_map[fl] &= ~(1u << sl);
  if (h->sl_map[fl] == 0)
    h->fl_map &= ~((uint64_t)1 << fl);
}

/* Head of the first non-empty class at or above (fl, sl), or 0. */
static uint64_t first_at_or_above(const heap_t *h, unsigned fl, unsigned sl) {
  if (fl >= FL_COUNT)
    return 0;
  uint32_t sm = sl < SL_COUNT ? h->sl_map[fl] & (~0u << sl) : 0;
  if (sm == 0) {
    uint64_t fm = fl + 1 < FL_COUNT ? h->fl_map & (~(uint64_t)0 << (fl + 1)) : 0;
    if (fm == 0)
      return 0;
    fl = (unsigned)__builtin_ctzll(fm);
    sm = h->sl_map[fl];
  }
  return h->head[fl][__builtin_ctz(sm)];
}

/*
 * A free block of at least `need` bytes, or 0. The bitmaps give one in
 * O(1) from the classes above need's own; only when those are all empty
 * is need's own class walked (it may hold a big enough block, and a heap
 * near full should not fail while one exists).
 */
static uint64_t find_free(heap_t *h, uint64_t need) {
  unsigned fl, sl;
  mapping_search(need, &fl, &sl);
  uint64_t b = first_at_or_above(h, fl, sl);
  if (b != 0)
    return b;
  mapping_insert(need, &fl, &sl);
  for (b = h->head[fl][sl]; b != 0; b = blk(h, b)->next)
    if (blk(h, b)->size >= need)
      return b;
  return 0;
}

/* ---- the heap's header ------------------------------------------------------ */

static heap_t *heap_of(void *base) {
  heap_t *h = base;
  if (h == NULL || h->magic != HEAP_MAGIC)
    return NULL;
  return h;
}

static int not_a_heap(const char *fn, const void *base) {
  return mpmp__err(MPMP_EINVAL, "%s: %p is not a formatted shared heap", fn,
                   base);
}

/* Per-heap secret for the block tags: only needs to differ from whatever
 * bytes a user may write, so any entropy will do. */
static uint64_t new_secret(const void *base) {
  uint64_t s = 0;
  if (getrandom(&s, sizeof s, GRND_NONBLOCK) == (ssize_t)sizeof s)
    return s;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return mpmp__mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
               (uint64_t)(uintptr_t)base ^ (uint64_t)getpid());
}

int mpmp__heap_format(void *base, size_t size) {
  if (base == NULL || (uintptr_t)base % ALIGN != 0)
    return mpmp__err(MPMP_EINVAL, "mpmp__heap_format: base %p is not "
                     "64-byte aligned", base);
  uint64_t start = (sizeof(heap_t) + ALIGN - 1) / ALIGN * ALIGN + HDR;
  if (size < start + MIN_BLOCK)
    return mpmp__err(MPMP_EINVAL, "mpmp__heap_format: %zu bytes are too few "
                     "for a heap (at least %" PRIu64 ")", size,
                     start + MIN_BLOCK);
  heap_t *h = base;
  memset(h, 0, sizeof *h);
  h->secret = new_secret(base);
  h->region = size;
  h->start = start;
  h->end = start + (size - start) / ALIGN * ALIGN;
  set_block(h, start, h->end - start, ST_FREE);
  list_insert(h, start);
  h->free_bytes = h->end - start;
  h->nfree = 1;
  atomic_store(&h->lock, 0);
  h->magic = HEAP_MAGIC;
  return 0;
}

/* ---- alloc ---------------------------------------------------------------- */

/* Take free block b for `need` bytes; the rest, if a block, stays free. */
static void take_block(heap_t *h, uint64_t b, uint64_t need) {
  uint64_t size = blk(h, b)->size;
  list_remove(h, b);
  h->free_bytes -= size;
  h->nfree--;
  if (size - need >= MIN_BLOCK) {
    /* b's upper neighbour is live (free ones are always merged), so the
     * rest needs no merge. */
    set_block(h, b + need, size - need, ST_FREE);
    list_insert(h, b + need);
    h->free_bytes += size - need;
    h->nfree++;
    size = need;
  }
  set_block(h, b, size, ST_LIVE);
  h->in_use += size;
  h->nlive++;
}

static int heap_full(heap_t *h, size_t size) {
  return mpmp__err(MPMP_ENOSPC,
                   "the node's shared heap is full: %zu of %zu bytes in use, "
                   "no free block of %zu bytes: raise MPMP_HEAP_SIZE (now %zu)",
                   (size_t)h->in_use, (size_t)(h->end - h->start), size,
                   (size_t)h->region);
}

int mpmp__heap_alloc(void *base, size_t size, uint64_t *off) {
  heap_t *h = heap_of(base);
  if (h == NULL)
    return not_a_heap("mpmp__heap_alloc", base);
  if (size == 0 || off == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp__heap_alloc: size 0 or no offset");
  /* start and end never change after format: no lock needed to read them,
   * and the first test keeps `need` from overflowing. */
  int fits = size <= h->end - h->start - OVERHEAD;
  uint64_t need = fits ? (size + OVERHEAD + ALIGN - 1) / ALIGN * ALIGN : 0;
  int rc = heap_lock(h);
  if (rc < 0)
    return rc;
  uint64_t b = fits ? find_free(h, need) : 0;
  if (b == 0) {
    rc = heap_full(h, size);
    heap_unlock(h);
    return rc;
  }
  take_block(h, b, need);
  heap_unlock(h);
  *off = b + HDR;
  return 0;
}

/* ---- free ----------------------------------------------------------------- */

/* The free block just below b, or 0. */
static uint64_t free_below(heap_t *h, uint64_t b) {
  if (b <= h->start)
    return 0;
  uint64_t psize = *(uint64_t *)(void *)((char *)h + b - FTR);
  if (psize < MIN_BLOCK || psize > b - h->start)
    return 0;
  return block_problem(h, b - psize, ST_FREE) == NULL ? b - psize : 0;
}

/* The free block just above the block [b, b + size), or 0. */
static uint64_t free_above(heap_t *h, uint64_t b, uint64_t size) {
  uint64_t n = b + size;
  if (n >= h->end)
    return 0;
  return block_problem(h, n, ST_FREE) == NULL ? n : 0;
}

/* Make live block b free, merged with its free neighbours. */
static void release_block(heap_t *h, uint64_t b) {
  uint64_t size = blk(h, b)->size;
  h->in_use -= size;
  h->nlive--;
  uint64_t lo = free_below(h, b), hi = free_above(h, b, size);
  if (hi != 0) {
    uint64_t hsize = blk(h, hi)->size;
    list_remove(h, hi);
    wipe_block(h, hi);
    h->free_bytes -= hsize;
    h->nfree--;
    size += hsize;
  }
  if (lo != 0) {
    uint64_t lsize = blk(h, lo)->size;
    list_remove(h, lo);
    wipe_block(h, b);
    h->free_bytes -= lsize;
    h->nfree--;
    size += lsize;
    b = lo;
  }
  set_block(h, b, size, ST_FREE);
  list_insert(h, b);
  h->free_bytes += size;
  h->nfree++;
}

int mpmp__heap_free(void *base, uint64_t off) {
  heap_t *h = heap_of(base);
  if (h == NULL)
    return not_a_heap("mpmp__heap_free", base);
  if (off < HDR || off % ALIGN != 0)
    return mpmp__err(MPMP_EBADF, "mpmp__heap_free: offset %" PRIu64
                     " is not a block of the shared heap (not 64-byte "
                     "aligned)", off);
  if (heap_lock(h) < 0)
    return 0; /* (a broken heap: the block stays where it is) */
  const char *why = block_problem(h, off - HDR, ST_LIVE);
  if (why == NULL)
    release_block(h, off - HDR);
  heap_unlock(h);
  if (why != NULL)
    return mpmp__err(MPMP_EBADF, "mpmp__heap_free: offset %" PRIu64
                     " is not a block of the shared heap (%s)", off, why);
  return 0;
}

size_t mpmp__heap_block_size(void *base, uint64_t off) {
  heap_t *h = heap_of(base);
  if (h == NULL || off < HDR || off % ALIGN != 0)
    return 0;
  if (heap_lock(h) < 0)
    return 0;
  size_t n = 0;
  if (block_problem(h, off - HDR, ST_LIVE) == NULL)
    n = (size_t)(blk(h, off - HDR)->size - OVERHEAD);
  heap_unlock(h);
  return n;
}

/* ---- stats and check ------------------------------------------------------ */

/* The largest free block: it is in the highest non-empty class. */
static uint64_t largest_block(const heap_t *h) {
  if (h->fl_map == 0)
    return 0;
  unsigned fl = (unsigned)msb64(h->fl_map);
  unsigned sl = (unsigned)msb64(h->sl_map[fl]);
  uint64_t best = 0;
  for (uint64_t b = h->head[fl][sl]; b != 0; b = blk((heap_t *)h, b)->next)
    if (blk((heap_t *)h, b)->size > best)
      best = blk((heap_t *)h, b)->size;
  return best;
}

void mpmp__heap_stats(void *base, mpmp__heap_stats_t *st) {
  memset(st, 0, sizeof *st);
  heap_t *h = heap_of(base);
  if (h == NULL || heap_lock(h) < 0)
    return;
  uint64_t big = largest_block(h);
  st->total = (size_t)(h->end - h->start);
  st->in_use = (size_t)h->in_use;
  st->free_bytes = (size_t)h->free_bytes;
  st->largest_free = big >= OVERHEAD ? (size_t)(big - OVERHEAD) : 0;
  st->nblocks_used = (size_t)h->nlive;
  heap_unlock(h);
}

typedef struct walk {
  uint64_t nlive, nfree, live_bytes, free_bytes;
} walk_t;

static int corrupt(const char *what, uint64_t b) {
  return mpmp__err(MPMP_EINVAL, "shared heap corrupt: %s (block at offset %"
                   PRIu64 ")", what, b);
}

/* Walk the blocks in address order; they must tile the arena. */
static int check_blocks(heap_t *h, walk_t *w) {
  int prev_free = 0;
  uint64_t b = h->start;
  while (b < h->end) {
    int is_free = block_problem(h, b, ST_FREE) == NULL;
    const char *why = is_free ? NULL : block_problem(h, b, ST_LIVE);
    if (why != NULL)
      return corrupt(why, b);
    if (is_free && prev_free)
      return corrupt("two free blocks side by side", b);
    uint64_t size = blk(h, b)->size;
    *(is_free ? &w->nfree : &w->nlive) += 1;
    *(is_free ? &w->free_bytes : &w->live_bytes) += size;
    prev_free = is_free;
    b += size;
  }
  return b == h->end ? 0 : corrupt("the last block overruns the heap", b);
}

/* One class's list: doubly linked, only free blocks of that class. */
static int check_list(heap_t *h, unsigned fl, unsigned sl, uint64_t *count,
                      uint64_t limit) {
  uint64_t prev = 0;
  for (uint64_t b = h->head[fl][sl]; b != 0; b = blk(h, b)->next) {
    if (block_problem(h, b, ST_FREE) != NULL)
      return corrupt("a free list holds a block that is not free", b);
    unsigned f, s;
    mapping_insert(blk(h, b)->size, &f, &s);
    if (f != fl || s != sl || blk(h, b)->prev != prev)
      return corrupt("a free list is mislinked or holds the wrong size", b);
    if (++*count > limit)
      return corrupt("the free lists hold more blocks than the heap", b);
    prev = b;
  }
  int bit = (h->sl_map[fl] >> sl) & 1;
  if (bit != (h->head[fl][sl] != 0))
    return corrupt("a size-class bitmap disagrees with its list", 0);
  return 0;
}

static int check_lists(heap_t *h, const walk_t *w) {
  uint64_t count = 0;
  for (unsigned fl = 0; fl < FL_COUNT; fl++) {
    if (((h->fl_map >> fl) & 1) != (h->sl_map[fl] != 0))
      return corrupt("the first-level bitmap disagrees", 0);
    for (unsigned sl = 0; sl < SL_COUNT; sl++) {
      int rc = check_list(h, fl, sl, &count, w->nfree);
      if (rc != 0)
        return rc;
    }
  }
  return count == w->nfree ? 0 : corrupt("a free block is in no list", 0);
}

static int check_counters(const heap_t *h, const walk_t *w) {
  if (w->nlive != h->nlive || w->live_bytes != h->in_use ||
      w->nfree != h->nfree || w->free_bytes != h->free_bytes)
    return corrupt("the counters disagree with the blocks", 0);
  return 0;
}

int mpmp__heap_check(void *base) {
  heap_t *h = heap_of(base);
  if (h == NULL)
    return not_a_heap("mpmp__heap_check", base);
  int rc = heap_lock(h);
  if (rc < 0)
    return rc;
  rc = check_all(h);
  heap_unlock(h);
  return rc;
}

/* A block, live or free, starts at b. */
static int valid_at(heap_t *h, uint64_t b) {
  return block_problem(h, b, ST_FREE) == NULL ||
         block_problem(h, b, ST_LIVE) == NULL;
}

/*
 * A task host died holding the lock, in the middle of an allocation or a
 * free, and the walk found the heap torn (heap_lock's take-over): rebuild
 * it from its blocks, as the dead host can no longer hold any block it
 * was taking or giving back. A stretch where no valid header starts (a
 * header swallowed by a merge, or half written) runs to the next valid
 * one and becomes a free block; then the free lists, bitmaps and counters
 * are made anew from the blocks in address order, free neighbours merged
 * and every footer rewritten. Live blocks stay live (one the dead host
 * had just taken is lost with it). 0 if the result passes the full check.
 */
static int mend(heap_t *h) {
  uint64_t b = h->start;
  while (b < h->end) {
    if (valid_at(h, b)) {
      b += blk(h, b)->size;
      continue;
    }
    uint64_t p = b + ALIGN;
    while (p < h->end && !valid_at(h, p))
      p += ALIGN;
    set_block(h, b, p - b, ST_FREE);
    b = p;
  }
  memset(h->head, 0, sizeof h->head);
  memset(h->sl_map, 0, sizeof h->sl_map);
  h->fl_map = 0;
  h->in_use = h->free_bytes = h->nlive = h->nfree = 0;
  for (b = h->start; b < h->end;) {
    uint64_t size = blk(h, b)->size;
    if (block_problem(h, b, ST_FREE) != NULL) {
      set_block(h, b, size, ST_LIVE);
      h->in_use += size;
      h->nlive++;
      b += size;
      continue;
    }
    for (uint64_t n = b + size;
         n < h->end && block_problem(h, n, ST_FREE) == NULL;) {
      uint64_t ns = blk(h, n)->size;
      wipe_block(h, n);
      size += ns;
      n += ns;
    }
    set_block(h, b, size, ST_FREE);
    list_insert(h, b);
    h->free_bytes += size;
    h->nfree++;
    b += size;
  }
  return check_all(h);
}

/* The whole walk, the lock held. */
static int check_all(heap_t *h) {
  walk_t w = {0, 0, 0, 0};
  int rc = check_blocks(h, &w);
  if (rc == 0)
    rc = check_lists(h, &w);
  if (rc == 0)
    rc = check_counters(h, &w);
  return rc;
}
