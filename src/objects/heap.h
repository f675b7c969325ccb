/*
 * The node's shared heap: an allocator for one shared-memory region that
 * every rank of a node maps, possibly at a different address in each
 * process. Everything it needs (lock, free lists, counters) lives inside
 * the region, and blocks are named by their offset from the region's base,
 * so any rank may allocate or free at any time, from any thread.
 *
 * Blocks are 64-byte aligned; alloc and free are O(1) (TLSF: two-level
 * segregated free lists with bitmaps) and free neighbours are merged at
 * once, so freeing everything always gives back one free block.
 */
#ifndef MPMP_HEAP_H
#define MPMP_HEAP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mpmp__heap_stats {
  size_t total;        /* bytes for blocks (the region less the heap's header) */
  size_t in_use;       /* bytes in live blocks, their headers included */
  size_t free_bytes;   /* bytes in free blocks; in_use + free_bytes == total */
  size_t largest_free; /* the largest size mpmp__heap_alloc() can give now */
  size_t nblocks_used; /* live blocks */
} mpmp__heap_stats_t;

/*
 * Format `size` bytes at `base` (64-byte aligned) as an empty heap; once, by
 * one process, before others use it. Only the heap's header is written.
 * MPMP_EINVAL if base is NULL or misaligned or size is too small.
 */
int mpmp__heap_format(void *base, size_t size);

/*
 * Allocate `size` bytes (> 0), 64-byte aligned; *off = offset from base
 * (never 0). MPMP_ENOSPC (message names MPMP_HEAP_SIZE) when no free block
 * fits, MPMP_EINVAL for size 0 or a region that is not a formatted heap.
 */
int mpmp__heap_alloc(void *base, size_t size, uint64_t *off);

/*
 * Free a block. MPMP_EBADF (with a message) for an offset that is not the
 * start of a live block: double free, garbage, out of range, or a block
 * whose header or footer was overwritten. Such calls change nothing.
 */
int mpmp__heap_free(void *base, uint64_t off);

/* Usable size of a live block (>= what was asked), or 0 if `off` is not one. */
size_t mpmp__heap_block_size(void *base, uint64_t off);

/* Counters of the heap (all zero if `base` is not a formatted heap). */
void mpmp__heap_stats(void *base, mpmp__heap_stats_t *st);

/*
 * Walk every block and free list and check that they agree with each other
 * and with the counters. 0, or MPMP_EINVAL with a message naming the first
 * inconsistency. O(number of blocks): for tests and debugging.
 */
int mpmp__heap_check(void *base);

/*
 * Task hosts, which may die inside an allocation (heap.c's top): this
 * process's claim (object.c's mpmp__claim_self; 0: not a host) and how to
 * tell a dead host's claim; set at init and when a host starts.
 */
void mpmp__heap_set_host(uint32_t claim, int (*dead)(uint32_t claim));
/* A host's word that counts its heap sections (its worker kills it only
 * while it is 0: host.c's kill_host). */
void mpmp__heap_set_busy(_Atomic uint32_t *word);

#endif /* MPMP_HEAP_H */
