/*
 * Python (tutorial "Python Multiprocessing", Pool (Classic API), "imap for
 * Memory Efficiency"):
 *
 *   def process(x):
 *       return x ** 2
 *
 *   with Pool() as pool:
 *       # Returns iterator, doesn't load all results into memory
 *       for result in pool.imap(process, range(1000000)):
 *           handle(result)
 *       # Unordered (faster if order doesn't matter)
 *       for result in pool.imap_unordered(process, range(1000000)):
 *           handle(result)
 *
 * range(1000000) is a producer callback (C's iterator) that the pool pulls
 * items from as it needs them, so neither the items nor the results are
 * ever all in memory. The tutorial leaves handle() undefined; here it
 * counts the results and sums them, and for imap also checks that result
 * number i is i ** 2, i.e. that they come in order. Python's imap sends one
 * item per message by default (chunksize=1); for a million tiny items one
 * passes a chunksize, here 1000.
 *
 *   mpirun -n 4 build/apps/examples/pool_imap
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <mpmp.h>

typedef struct {
  int64_t value; /* x ** 2 */
  int rank, pid; /* who computed it */
} result_t;

static int process(mpmp_ctx_t *ctx) {
  const int64_t *x = mpmp_arg(ctx, NULL);
  result_t *r = mpmp_out(ctx, sizeof *r);
  *r = (result_t){*x * *x, mpmp_rank(), (int)getpid()};
  return 0;
}
MPMP_TASK(process);

/* range(stop): writes the next number to *item; 0 at the end */
typedef struct { int64_t next, stop; } range_t;

static int range_next(void *user, void *item) {
  range_t *r = user;
  if (r->next >= r->stop)
    return 0;
  *(int64_t *)item = r->next++;
  return 1;
}

/* What handle(result) does with each result. */
typedef struct {
  int64_t count, sum, in_order; /* in_order: results so far equal to count ** 2 */
  char *ranks;                  /* ranks[r]: rank r computed a result */
} handled_t;

static void handle(handled_t *h, const result_t *result) {
  h->in_order += result->value == h->count * h->count;
  h->count++;
  h->sum += result->value;
  if (result->rank > 0 && result->rank < mpmp_world_size())
    h->ranks[result->rank] = 1;
}

static void check(int rc, const char *what) {
  if (rc < 0) {
    if (!mpmp_is_main()) /* init failed on every rank: rank 0 says so; */
      exit(0);           /* the others end quietly (exit 1 could end the
                            job before its message is out) */
    fprintf(stderr, "%s failed: %s\n", what, mpmp_errmsg());
    exit(1);
  }
}

static int ranks_used(const handled_t *h) {
  int used = 0;
  for (int r = 1; r < mpmp_world_size(); r++)
    used += h->ranks[r];
  return used;
}

/* for result in it: handle(result) */
static handled_t iterate(mpmp_imap_t *it) {
  handled_t h = {0, 0, 0, calloc((size_t)mpmp_world_size(), 1)};
  result_t result;
  int rc;
  if (h.ranks == NULL)
    check(MPMP_ENOMEM, "calloc");
  while ((rc = mpmp_imap_next(it, &result, NULL, MPMP_FOREVER)) == 0)
    handle(&h, &result);
  if (rc != MPMP_EEOF)
    check(rc, "next(it)");
  mpmp_imap_destroy(it);
  return h;
}

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  check(rc, "mpmp_init");

  const int64_t n = 1000000, chunksize = 1000;
  mpmp_pool_t *pool;
  mpmp_imap_t *it;
  check(mpmp_pool_create(&pool, NULL), "Pool()");

  range_t items = {0, n};
  check(mpmp_pool_imap(pool, process, range_next, &items, sizeof(int64_t),
                       sizeof(result_t), chunksize, 0, &it), "pool.imap");
  handled_t h = iterate(it);
  printf("imap: %lld results, sum %lld, %s\n", (long long)h.count,
         (long long)h.sum,
         h.in_order == n ? "all in order" : "NOT in order");
  int used = ranks_used(&h);
  free(h.ranks);

  items = (range_t){0, n};
  check(mpmp_pool_imap_unordered(pool, process, range_next, &items,
                                 sizeof(int64_t), sizeof(result_t), chunksize,
                                 0, &it), "pool.imap_unordered");
  h = iterate(it);
  printf("imap_unordered: %lld results, sum %lld\n", (long long)h.count,
         (long long)h.sum);
  int used2 = ranks_used(&h);
  free(h.ranks);

  check(mpmp_pool_destroy(pool), "leaving the with block");
  printf("items were computed by %d different ranks\n",
         used < used2 ? used : used2);
  return mpmp_finalize() < 0;
}
