/* What the Queue and Pipe tests (test_queue_*.c, test_pipe_*.c) have in
 * common. */
#ifndef MPMP_QUEUE_COMMON_H
#define MPMP_QUEUE_COMMON_H

#include "mpitest.h"

#define T 30.0 /* the timeout of blocking calls that must not time out */

static inline int remote_job(void) { return mpmp_node_count() > 1; }

/* Item counts: remote operations cost 15-200 us each, not 0.1-1 us. */
static inline int scaled(int n) { return remote_job() ? n / 10 : n; }

/* The splitmix64 mix of x: a stateless test_rnd. */
static inline uint64_t mix64(uint64_t x) { return test_rnd(&x); }

static inline double elapsed_since(double t0) { return test_now() - t0; }

/* ---- items of many producers, checked by their consumers ------------------ */

#define MAXP 8
#define MAX_ITEM 256

typedef struct sitem {
  uint32_t producer, size;
  uint64_t seq;
} sitem_t;

typedef struct sprod {
  mpmp_queue_t q;
  uint32_t id;
  int count;
} sprod_t;


/* What one consumer saw, per producer. */
typedef struct stally {
  int64_t count[MAXP];
  uint64_t hash[MAXP];  /* sum of mix64(seq) */
  int64_t last[MAXP];   /* the last seq seen: they must grow (FIFO) */
  int64_t total;
  char error[160];
} stally_t;

/* Item seq of producer p: its size and its bytes. */
size_t item_size(uint32_t p, uint64_t seq);
void item_fill(unsigned char *b, uint32_t p, uint64_t seq);
/* Bodies: a producer of sprod_t's items, a consumer that tallies them. */
int stress_producer(mpmp_ctx_t *ctx);
int stress_consumer(mpmp_ctx_t *ctx);
void tally_init(stally_t *t);
int tally(stally_t *t, const unsigned char *b, size_t n);
int all_joined(mpmp_process_t **ps, int n);

/* Fails unless the time since t0 is a timeout of `want` seconds. */
void assert_waited(double t0, double want);

#endif /* MPMP_QUEUE_COMMON_H */
