/* The node's shared heap, in one process, in forked processes and threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "heap.h"
#include "base.h"

#define MiB ((size_t)1 << 20)

/* ---- helpers ---------------------------------------------------------------- */

/* A zeroed, page-aligned region: what MPI_Win_allocate_shared gives. */
static void *region_new(size_t size, int shared) {
  int flags = (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS;
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);
  assert_true(p != MAP_FAILED);
  return p;
}

static void *heap_new(size_t size, int shared) {
  void *base = region_new(size, shared);
  assert_int_equal(mpmp__heap_format(base, size), 0);
  return base;
}

static void heap_delete(void *base, size_t size) { munmap(base, size); }

/* xorshift64*: each test and process has its own state, for repeatability. */
static uint64_t rnd(uint64_t *s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 0x2545f4914f6cdd1dULL;
}

/* 8 B .. max, log-uniform: as many small objects as big ones. */
static size_t rnd_size(uint64_t *s, size_t max) {
  int bits = 3 + (int)(rnd(s) % 13); /* [2^3, 2^16) */
  size_t n = ((size_t)1 << bits) + rnd(s) % ((size_t)1 << bits);
  if (n > max)
    n = max;
  return n < 8 ? 8 : n;
}

static void assert_stats_equal(const mpmp__heap_stats_t *a,
                               const mpmp__heap_stats_t *b) {
  assert_int_equal(a->total, b->total);
  assert_int_equal(a->in_use, b->in_use);
  assert_int_equal(a->free_bytes, b->free_bytes);
  assert_int_equal(a->largest_free, b->largest_free);
  assert_int_equal(a->nblocks_used, b->nblocks_used);
}

/* The heap is consistent and back to its freshly formatted state. */
static void assert_heap_empty(void *base, const mpmp__heap_stats_t *fresh) {
  mpmp__heap_stats_t st;
  assert_int_equal(mpmp__heap_check(base), 0);
  mpmp__heap_stats(base, &st);
  assert_stats_equal(&st, fresh);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- format and stats --------------------------------------------------------- */

static void heap_format_and_stats(void **state) {
  (void)state;
  size_t size = 1 * MiB;
  void *base = heap_new(size, 0);
  mpmp__heap_stats_t st;
  mpmp__heap_stats(base, &st);
  assert_true(st.total > size - 16 * 1024 && st.total <= size);
  assert_int_equal(st.in_use, 0);
  assert_int_equal(st.free_bytes, st.total);
  assert_true(st.largest_free > st.total - 128 && st.largest_free < st.total);
  assert_int_equal(st.nblocks_used, 0);
  assert_int_equal(mpmp__heap_check(base), 0);
  heap_delete(base, size);
}

static void heap_format_rejects_bad_arguments(void **state) {
  (void)state;
  char *p = region_new(64 * 1024, 0);
  assert_int_equal(mpmp__heap_format(NULL, 1 * MiB), MPMP_EINVAL);
  assert_int_equal(mpmp__heap_format(p + 8, 32 * 1024), MPMP_EINVAL);
  assert_int_equal(mpmp__heap_format(p, 1024), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "too few"));
  /* Calls on a region that was never formatted fail cleanly. */
  uint64_t off = 0;
  mpmp__heap_stats_t st;
  assert_int_equal(mpmp__heap_alloc(p, 8, &off), MPMP_EINVAL);
  assert_int_equal(mpmp__heap_free(p, 8192), MPMP_EINVAL);
  assert_int_equal(mpmp__heap_block_size(p, 8192), 0);
  assert_int_equal(mpmp__heap_check(p), MPMP_EINVAL);
  mpmp__heap_stats(p, &st);
  assert_int_equal(st.total, 0);
  heap_delete(p, 64 * 1024);
}

/* ---- alloc and free ------------------------------------------------------------ */

static void heap_alloc_free_basic(void **state) {
  (void)state;
  size_t size = 1 * MiB;
  void *base = heap_new(size, 0);
  mpmp__heap_stats_t fresh, st;
  mpmp__heap_stats(base, &fresh);
  uint64_t a = 0, b = 0;
  assert_int_equal(mpmp__heap_alloc(base, 100, &a), 0);
  assert_int_equal(mpmp__heap_alloc(base, 5000, &b), 0);
  assert_true(a != 0 && b != 0 && a != b);
  assert_true(a + 100 <= size && b + 5000 <= size);
  assert_true(mpmp__heap_block_size(base, a) >= 100);
  assert_true(mpmp__heap_block_size(base, b) >= 5000);
  memset((char *)base + a, 0xaa, mpmp__heap_block_size(base, a));
  memset((char *)base + b, 0xbb, mpmp__heap_block_size(base, b));
  assert_int_equal(mpmp__heap_check(base), 0);
  mpmp__heap_stats(base, &st);
  assert_int_equal(st.nblocks_used, 2);
  assert_true(st.in_use >= 5100 && st.in_use < 5100 + 256);
  assert_int_equal(st.in_use + st.free_bytes, st.total);
  assert_int_equal(mpmp__heap_free(base, a), 0);
  assert_int_equal(mpmp__heap_block_size(base, a), 0);
  assert_int_equal(mpmp__heap_free(base, b), 0);
  assert_heap_empty(base, &fresh);
  assert_int_equal(mpmp__heap_alloc(base, 0, &a), MPMP_EINVAL);
  heap_delete(base, size);
}

static void heap_alloc_is_64_aligned(void **state) {
  (void)state;
  size_t size = 4 * MiB;
  void *base = heap_new(size, 0);
  uint64_t s = 42, offs[500];
  for (int i = 0; i < 500; i++) {
    size_t n = 1 + rnd(&s) % 3000;
    assert_int_equal(mpmp__heap_alloc(base, n, &offs[i]), 0);
    assert_int_equal(offs[i] % 64, 0);
    assert_int_equal(((uintptr_t)base + offs[i]) % 64, 0);
  }
  for (int i = 0; i < 500; i++)
    assert_int_equal(mpmp__heap_free(base, offs[i]), 0);
  assert_int_equal(mpmp__heap_check(base), 0);
  heap_delete(base, size);
}

/* Free neighbours merge whatever the order: one free block at the end. */
static void heap_coalesces_in_any_order(void **state) {
  (void)state;
  size_t size = 1 * MiB;
  void *base = heap_new(size, 0);
  mpmp__heap_stats_t fresh;
  mpmp__heap_stats(base, &fresh);
  static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                   {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  for (int o = 0; o < 6; o++) {
    uint64_t off[4];
    for (int i = 0; i < 4; i++)
      assert_int_equal(mpmp__heap_alloc(base, 200 + 100 * (size_t)i, &off[i]), 0);
    for (int i = 0; i < 3; i++) {
      assert_int_equal(mpmp__heap_free(base, off[orders[o][i]]), 0);
      assert_int_equal(mpmp__heap_check(base), 0);
    }
    assert_int_equal(mpmp__heap_free(base, off[3]), 0);
    assert_heap_empty(base, &fresh);
  }
  heap_delete(base, size);
}

static void heap_full_is_enospc_with_message(void **state) {
  (void)state;
  size_t size = 256 * 1024;
  void *base = heap_new(size, 0);
  mpmp__heap_stats_t fresh;
  mpmp__heap_stats(base, &fresh);
  uint64_t off[64];
  int n = 0;
  while (n < 64 && mpmp__heap_alloc(base, 10000, &off[n]) == 0)
    n++;
  assert_true(n > 10 && n < 64);
  uint64_t x;
  assert_int_equal(mpmp__heap_alloc(base, 10000, &x), MPMP_ENOSPC);
  const char *msg = mpmp_errmsg();
  assert_non_null(strstr(msg, "MPMP_HEAP_SIZE"));
  assert_non_null(strstr(msg, "shared heap is full"));
  char want[64];
  snprintf(want, sizeof want, "(now %zu)", size);
  assert_non_null(strstr(msg, want));
  mpmp__heap_stats_t st;
  mpmp__heap_stats(base, &st);
  snprintf(want, sizeof want, "%zu of %zu bytes in use", st.in_use, st.total);
  assert_non_null(strstr(msg, want));
  /* Bigger than the whole heap: same error, no overflow. */
  assert_int_equal(mpmp__heap_alloc(base, SIZE_MAX, &x), MPMP_ENOSPC);
  assert_int_equal(mpmp__heap_alloc(base, size, &x), MPMP_ENOSPC);
  /* The last free bytes can still be taken whole. */
  if (st.largest_free > 0) {
    assert_int_equal(mpmp__heap_alloc(base, st.largest_free, &x), 0);
    off[n++] = x;
  }
  for (int i = 0; i < n; i++)
    assert_int_equal(mpmp__heap_free(base, off[i]), 0);
  assert_heap_empty(base, &fresh);
  /* The one free block holds exactly largest_free bytes, not one more. */
  assert_int_equal(mpmp__heap_alloc(base, fresh.largest_free + 1, &x),
                   MPMP_ENOSPC);
  assert_int_equal(mpmp__heap_alloc(base, fresh.largest_free, &x), 0);
  assert_int_equal(mpmp__heap_free(base, x), 0);
  heap_delete(base, size);
}

/* ---- many objects ---------------------------------------------------------------- */

typedef struct obj {
  uint64_t off;
  uint64_t stamp;
  size_t n; /* bytes asked for */
} obj_t;

/* Stamp the last and first 8 bytes (they overlap below 16 bytes, the head
 * wins): overlapping blocks would clobber them. */
static void stamp(void *base, const obj_t *o) {
  char *p = (char *)base + o->off;
  memcpy(p + o->n - 8, &o->stamp, 8);
  memcpy(p, &o->stamp, 8);
}

static int stamp_ok(void *base, const obj_t *o) {
  char *p = (char *)base + o->off;
  uint64_t a, b;
  memcpy(&a, p, 8);
  memcpy(&b, p + o->n - 8, 8);
  return mpmp__heap_block_size(base, o->off) >= o->n && a == o->stamp &&
         (o->n < 16 || b == o->stamp);
}

static void free_random(void *base, obj_t *live, size_t *nlive, uint64_t *s) {
  size_t i = rnd(s) % *nlive;
  assert_true(stamp_ok(base, &live[i]));
  assert_int_equal(mpmp__heap_free(base, live[i].off), 0);
  live[i] = live[--*nlive];
}

/* 100 000 objects of 8 B .. 64 KiB, up to 4000 alive, freed in random order. */
static void heap_many_objects_random_order(void **state) {
  (void)state;
  size_t size = 64 * MiB, nlive = 0, cap = 4000;
  void *base = heap_new(size, 0);
  mpmp__heap_stats_t fresh;
  mpmp__heap_stats(base, &fresh);
  obj_t *live = calloc(cap, sizeof *live);
  assert_non_null(live);
  uint64_t s = 0x9e3779b97f4a7c15ULL;
  double t0 = now_s();
  for (int k = 0; k < 100000; k++) {
    if (nlive == cap || (nlive > 0 && rnd(&s) % 3 == 0))
      free_random(base, live, &nlive, &s);
    size_t n = rnd_size(&s, 64 * 1024);
    obj_t *o = &live[nlive];
    while (mpmp__heap_alloc(base, n, &o->off) == MPMP_ENOSPC)
      free_random(base, live, &nlive, &s), o = &live[nlive];
    o->stamp = rnd(&s);
    o->n = n;
    stamp(base, o);
    nlive++;
    if (k % 20000 == 0)
      assert_int_equal(mpmp__heap_check(base), 0);
  }
  while (nlive > 0)
    free_random(base, live, &nlive, &s);
  double dt = now_s() - t0;
  printf("    100000 random objects: %.0f ns per alloc/free pair (stamps "
         "and checks included)\n", dt * 1e9 / 100000);
  assert_heap_empty(base, &fresh);
  free(live);
  heap_delete(base, size);
}

/* The cost of an alloc/free pair with 10 000 other objects alive. */
static void heap_speed(void **state) {
  (void)state;
  size_t size = 64 * MiB, nbg = 10000;
  void *base = heap_new(size, 0);
  uint64_t s = 7, *bg = calloc(nbg, sizeof *bg), ring[64] = {0};
  assert_non_null(bg);
  for (size_t i = 0; i < nbg; i++)
    assert_int_equal(mpmp__heap_alloc(base, rnd_size(&s, 4096), &bg[i]), 0);
  for (size_t i = 0; i < nbg; i += 2) /* leave holes of every size */
    assert_int_equal(mpmp__heap_free(base, bg[i]), 0);
  enum { N = 1000000 };
  size_t sizes[256];
  for (int i = 0; i < 256; i++)
    sizes[i] = rnd_size(&s, 16384);
  int failures = 0;
  double t0 = now_s();
  for (int k = 0; k < N; k++) {
    uint64_t *slot = &ring[k % 61]; /* freed in another order than made */
    if (*slot != 0)
      failures += mpmp__heap_free(base, *slot) != 0;
    failures += mpmp__heap_alloc(base, sizes[k & 255], slot) != 0;
  }
  double dt = now_s() - t0;
  assert_int_equal(failures, 0);
  printf("    1e6 pairs, 8 B..16 KiB, 5000 others alive: %.0f ns per "
         "alloc/free pair\n", dt * 1e9 / N);
  assert_int_equal(mpmp__heap_check(base), 0);
  free(bg);
  heap_delete(base, size);
}

/* ---- bad offsets ------------------------------------------------------------------ */

static void heap_double_free_is_ebadf(void **state) {
  (void)state;
  size_t size = 1 * MiB;
  void *base = heap_new(size, 0);
  mpmp__heap_stats_t fresh;
  mpmp__heap_stats(base, &fresh);
  uint64_t a, b, c;
  assert_int_equal(mpmp__heap_alloc(base, 64, &a), 0);
  assert_int_equal(mpmp__heap_alloc(base, 64, &b), 0);
  assert_int_equal(mpmp__heap_alloc(base, 64, &c), 0);
  assert_int_equal(mpmp__heap_free(base, b), 0); /* stays a free block */
  assert_int_equal(mpmp__heap_free(base, b), MPMP_EBADF);
  assert_non_null(strstr(mpmp_errmsg(), "freed already"));
  assert_int_equal(mpmp__heap_free(base, c), 0); /* merged into b's block */
  assert_int_equal(mpmp__heap_free(base, c), MPMP_EBADF);
  assert_int_equal(mpmp__heap_free(base, b), MPMP_EBADF);
  assert_int_equal(mpmp__heap_check(base), 0);
  assert_int_equal(mpmp__heap_free(base, a), 0);
  assert_int_equal(mpmp__heap_free(base, a), MPMP_EBADF);
  assert_heap_empty(base, &fresh);
  heap_delete(base, size);
}

/* 1 bit per 64-byte offset: the test's own record of the live blocks. */
typedef struct offset_set {
  uint8_t *bits;
  size_t n;
} offset_set_t;

static int set_has(const offset_set_t *m, uint64_t off) {
  uint64_t i = off / 64;
  return off % 64 == 0 && i < m->n && ((m->bits[i / 8] >> (i % 8)) & 1);
}

static void set_flip(offset_set_t *m, uint64_t off) {
  m->bits[off / 64 / 8] ^= (uint8_t)(1u << (off / 64 % 8));
}

/* Offsets a confused caller might pass: random, near live blocks, stale. */
static uint64_t garbage_offset(uint64_t *s, const obj_t *live, size_t nlive,
                               const uint64_t *stale, size_t size) {
  uint64_t r = rnd(s);
  switch (r % 8) {
  case 0: return r;                                  /* anything */
  case 1: return (r >> 8) % (size + 4096);           /* in and around */
  case 2: return (r >> 8) % (size + 4096) & ~(uint64_t)63;
  case 3: return nlive ? live[(r >> 8) % nlive].off + 64 * ((r >> 40) % 8 + 1) : 0;
  case 4: return nlive ? live[(r >> 8) % nlive].off - 64 * ((r >> 40) % 4 + 1) : 1;
  case 5: return stale[(r >> 8) % 256];
  case 6: return UINT64_MAX - (r >> 8) % 128;
  default: return nlive ? live[(r >> 8) % nlive].off + (r >> 40) % 63 + 1 : 63;
  }
}

/* Random bad offsets between real operations: all EBADF, nothing changes. */
static void heap_garbage_offsets_are_ebadf(void **state) {
  (void)state;
  size_t size = 4 * MiB, nlive = 0;
  void *base = heap_new(size, 0);
  mpmp__heap_stats_t fresh, before, after;
  mpmp__heap_stats(base, &fresh);
  obj_t live[512];
  uint64_t stale[256] = {0}, s = 12345;
  offset_set_t set = {calloc(size / 64 / 8 + 1, 1), size / 64};
  assert_non_null(set.bits);
  for (int k = 0; k < 20000; k++) {
    if (nlive == 512 || (nlive > 0 && rnd(&s) % 2 == 0)) {
      size_t i = rnd(&s) % nlive;
      stale[k % 256] = live[i].off;
      set_flip(&set, live[i].off);
      assert_int_equal(mpmp__heap_free(base, live[i].off), 0);
      live[i] = live[--nlive];
    } else {
      assert_int_equal(mpmp__heap_alloc(base, rnd_size(&s, 8192), &live[nlive].off), 0);
      set_flip(&set, live[nlive++].off);
    }
    uint64_t g = garbage_offset(&s, live, nlive, stale, size);
    if (set_has(&set, g))
      continue; /* a live block after all: freeing it would be legal */
    mpmp__heap_stats(base, &before);
    assert_int_equal(mpmp__heap_free(base, g), MPMP_EBADF);
    assert_int_equal(mpmp__heap_block_size(base, g), 0);
    mpmp__heap_stats(base, &after);
    assert_stats_equal(&before, &after);
    if (k % 1000 == 0)
      assert_int_equal(mpmp__heap_check(base), 0);
  }
  assert_int_equal(mpmp__heap_check(base), 0);
  while (nlive > 0)
    assert_int_equal(mpmp__heap_free(base, live[--nlive].off), 0);
  assert_heap_empty(base, &fresh);
  free(set.bits);
  heap_delete(base, size);
}

/* A block header copied into user data does not make a block there. */
static void heap_forged_header_is_ebadf(void **state) {
  (void)state;
  size_t size = 1 * MiB;
  void *base = heap_new(size, 0);
  uint64_t a, big;
  assert_int_equal(mpmp__heap_alloc(base, 100, &a), 0);
  assert_int_equal(mpmp__heap_alloc(base, 4096, &big), 0);
  char *p = (char *)base;
  /* 32 bytes before a block are its header (size first); forge a copy of
   * a's header and footer 1 KiB into big. */
  uint64_t bsize;
  memcpy(&bsize, p + a - 32, 8);
  memcpy(p + big + 1024 - 32, p + a - 32, 32);
  memcpy(p + big + 1024 - 32 + bsize - 8, &bsize, 8);
  assert_int_equal(mpmp__heap_free(base, big + 1024), MPMP_EBADF);
  assert_int_equal(mpmp__heap_check(base), 0);
  assert_int_equal(mpmp__heap_free(base, a), 0);
  assert_int_equal(mpmp__heap_free(base, big), 0);
  assert_int_equal(mpmp__heap_check(base), 0);
  heap_delete(base, size);
}

/* A write past a block's end is caught at free, which then refuses it. */
static void heap_overrun_footer_is_ebadf(void **state) {
  (void)state;
  size_t size = 1 * MiB;
  void *base = heap_new(size, 0);
  mpmp__heap_stats_t fresh;
  mpmp__heap_stats(base, &fresh);
  uint64_t a, b;
  assert_int_equal(mpmp__heap_alloc(base, 100, &a), 0);
  assert_int_equal(mpmp__heap_alloc(base, 100, &b), 0);
  char *end = (char *)base + a + mpmp__heap_block_size(base, a);
  char saved = end[0];
  end[0] ^= 0x5a;
  assert_int_equal(mpmp__heap_free(base, a), MPMP_EBADF);
  assert_non_null(strstr(mpmp_errmsg(), "footer"));
  assert_int_equal(mpmp__heap_check(base), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "corrupt"));
  end[0] = saved;
  assert_int_equal(mpmp__heap_free(base, a), 0);
  assert_int_equal(mpmp__heap_free(base, b), 0);
  assert_heap_empty(base, &fresh);
  heap_delete(base, size);
}

/* ---- sharing ------------------------------------------------------------------------ */

/* Random alloc/free with whole-block fill patterns; 0 if all went well. */
static int churn(void *base, uint64_t seed, int ops) {
  enum { CAP = 256 };
  uint64_t off[CAP], s = seed;
  unsigned char fill[CAP];
  int n = 0;
  for (int k = 0; k < ops + CAP; k++) {
    int do_free = n == CAP || k >= ops || (n > 0 && rnd(&s) % 2 == 0);
    if (do_free && n == 0)
      break;
    if (do_free) {
      int i = (int)(rnd(&s) % (uint64_t)n);
      unsigned char *p = (unsigned char *)base + off[i];
      size_t len = mpmp__heap_block_size(base, off[i]);
      for (size_t j = 0; j < len; j++)
        if (p[j] != fill[i])
          return 1;
      if (mpmp__heap_free(base, off[i]) != 0)
        return 2;
      off[i] = off[--n], fill[i] = fill[n];
      continue;
    }
    if (mpmp__heap_alloc(base, rnd_size(&s, 4096), &off[n]) != 0)
      return 3;
    fill[n] = (unsigned char)rnd(&s);
    memset((char *)base + off[n], fill[n], mpmp__heap_block_size(base, off[n]));
    n++;
  }
  return 0;
}

static void heap_forked_processes_share_it(void **state) {
  (void)state;
  size_t size = 16 * MiB;
  void *base = heap_new(size, 1);
  mpmp__heap_stats_t fresh;
  mpmp__heap_stats(base, &fresh);
  pid_t pids[4];
  double t0 = now_s();
  for (int i = 0; i < 4; i++) {
    pids[i] = fork();
    assert_true(pids[i] >= 0);
    if (pids[i] == 0)
      _exit(churn(base, 1000 + (uint64_t)i, 20000));
  }
  for (int i = 0; i < 4; i++) {
    int st = -1;
    assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
  }
  printf("    4 processes x 20000 ops: %.0f ns per op overall\n",
         (now_s() - t0) * 1e9 / 80000);
  assert_heap_empty(base, &fresh);
  heap_delete(base, size);
}

typedef struct churn_arg {
  void *base;
  uint64_t seed;
  int rc;
} churn_arg_t;

static void *churn_thread(void *p) {
  churn_arg_t *a = p;
  a->rc = churn(a->base, a->seed, 20000);
  return NULL;
}

static void heap_threads_share_it(void **state) {
  (void)state;
  size_t size = 16 * MiB;
  void *base = heap_new(size, 0);
  mpmp__heap_stats_t fresh;
  mpmp__heap_stats(base, &fresh);
  pthread_t t[4];
  churn_arg_t args[4];
  for (int i = 0; i < 4; i++) {
    args[i] = (churn_arg_t){base, 77 + (uint64_t)i, -1};
    assert_int_equal(pthread_create(&t[i], NULL, churn_thread, &args[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(args[i].rc, 0);
  }
  assert_heap_empty(base, &fresh);
  heap_delete(base, size);
}

/* One region at two addresses: offsets mean the same block in both. */
static void heap_two_mappings_agree(void **state) {
  (void)state;
  size_t size = 1 * MiB;
  int fd = memfd_create("mpmp-heap-test", 0);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, (off_t)size), 0);
  char *a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  char *b = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  assert_true(a != MAP_FAILED && b != MAP_FAILED && a != b);
  close(fd);
  assert_int_equal(mpmp__heap_format(a, size), 0);
  mpmp__heap_stats_t fresh;
  mpmp__heap_stats(b, &fresh);
  uint64_t x, y;
  assert_int_equal(mpmp__heap_alloc(a, 100, &x), 0);
  strcpy(a + x, "written through a");
  assert_int_equal(mpmp__heap_alloc(b, 100, &y), 0);
  assert_true(x != y);
  assert_string_equal(b + x, "written through a");
  assert_int_equal(mpmp__heap_block_size(b, x), mpmp__heap_block_size(a, x));
  assert_int_equal(mpmp__heap_free(b, x), 0);
  assert_int_equal(mpmp__heap_free(a, x), MPMP_EBADF);
  assert_int_equal(mpmp__heap_free(a, y), 0);
  assert_int_equal(mpmp__heap_check(a), 0);
  assert_heap_empty(b, &fresh);
  munmap(a, size);
  munmap(b, size);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(heap_format_and_stats),
      cmocka_unit_test(heap_format_rejects_bad_arguments),
      cmocka_unit_test(heap_alloc_free_basic),
      cmocka_unit_test(heap_alloc_is_64_aligned),
      cmocka_unit_test(heap_coalesces_in_any_order),
      cmocka_unit_test(heap_full_is_enospc_with_message),
      cmocka_unit_test(heap_many_objects_random_order),
      cmocka_unit_test(heap_speed),
      cmocka_unit_test(heap_double_free_is_ebadf),
      cmocka_unit_test(heap_garbage_offsets_are_ebadf),
      cmocka_unit_test(heap_forged_header_is_ebadf),
      cmocka_unit_test(heap_overrun_footer_is_ebadf),
      cmocka_unit_test(heap_forked_processes_share_it),
      cmocka_unit_test(heap_threads_share_it),
      cmocka_unit_test(heap_two_mappings_agree),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
