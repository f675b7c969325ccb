/* The helpers of the Queue and Pipe tests (queue_common.h). */
#include <string.h>

#include "queue_common.h"

size_t item_size(uint32_t p, uint64_t seq) {
  return sizeof(sitem_t) +
         mix64(((uint64_t)p << 40) ^ seq) % (MAX_ITEM - sizeof(sitem_t) + 1);
}

void item_fill(unsigned char *b, uint32_t p, uint64_t seq) {
  sitem_t h = {p, (uint32_t)item_size(p, seq), seq};
  memcpy(b, &h, sizeof h);
  uint64_t x = mix64(seq * 131 + p);
  for (size_t j = sizeof h; j < h.size; j++)
    b[j] = (unsigned char)(x >> (j % 8 * 8)) ^ (unsigned char)j;
}

int stress_producer(mpmp_ctx_t *ctx) {
  const sprod_t *a = mpmp_arg(ctx, NULL);
  unsigned char b[MAX_ITEM];
  for (int i = 0; i < a->count; i++) {
    item_fill(b, a->id, (uint64_t)i);
    if (mpmp_queue_put(a->q, b, item_size(a->id, (uint64_t)i), T) < 0)
      return mpmp_fail(ctx, "producer %u, item %d: %s", a->id, i,
                       mpmp_errmsg());
  }
  return 0;
}
MPMP_TASK(stress_producer);

void tally_init(stally_t *t) {
  memset(t, 0, sizeof *t);
  for (int p = 0; p < MAXP; p++)
    t->last[p] = -1;
}

/* Check one item; 0, or -1 with t->error set. */
int tally(stally_t *t, const unsigned char *b, size_t n) {
  sitem_t h;
  unsigned char want[MAX_ITEM];
  if (n < sizeof h)
    goto bad;
  memcpy(&h, b, sizeof h);
  if (h.producer >= MAXP || h.size != n || n != item_size(h.producer, h.seq))
    goto bad;
  item_fill(want, h.producer, h.seq);
  if (memcmp(want, b, n) != 0)
    goto bad;
  if ((int64_t)h.seq <= t->last[h.producer]) {
    snprintf(t->error, sizeof t->error, "producer %u: item %llu after %lld "
             "(out of order or duplicated)", h.producer,
             (unsigned long long)h.seq, (long long)t->last[h.producer]);
    return -1;
  }
  t->last[h.producer] = (int64_t)h.seq;
  t->count[h.producer]++;
  t->hash[h.producer] += mix64(h.seq);
  t->total++;
  return 0;
bad:
  snprintf(t->error, sizeof t->error, "a corrupted item of %zu bytes", n);
  return -1;
}

int stress_consumer(mpmp_ctx_t *ctx) {
  const mpmp_queue_t *q = mpmp_arg(ctx, NULL);
  stally_t *t = mpmp_out(ctx, sizeof *t);
  unsigned char b[MAX_ITEM];
  size_t n;
  tally_init(t);
  for (;;) {
    int rc = mpmp_queue_get(*q, b, sizeof b, &n, T);
    if (rc == MPMP_EEOF)
      return 0;
    if (rc < 0)
      return mpmp_fail(ctx, "get after %lld items: %s", (long long)t->total,
                       mpmp_errmsg());
    if (tally(t, b, n) < 0)
      return mpmp_fail(ctx, "%s", t->error);
  }
}
MPMP_TASK(stress_consumer);

int all_joined(mpmp_process_t **ps, int n) {
  for (int i = 0; i < n; i++)
    if (mpmp_process_is_alive(ps[i]) == 1)
      return 0;
  return 1;
}

void assert_waited(double t0, double want) {
  double w = elapsed_since(t0);
  if (w < want - 0.01 || w > want + 1.5)
    fail_msg("waited %.3f s for a timeout of %.3f s", w, want);
}
