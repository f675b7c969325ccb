/* The helpers of the shared-object tests (shared_common.h). */
#include "shared_common.h"

const tinfo_t TYPES[NT] = {
    {MPMP_INT8, 'b', 1, 1, 1, "int8"},     {MPMP_UINT8, 'B', 1, 1, 0, "uint8"},
    {MPMP_INT16, 'h', 2, 1, 1, "int16"},   {MPMP_UINT16, 'H', 2, 1, 0, "uint16"},
    {MPMP_INT32, 'i', 4, 1, 1, "int32"},   {MPMP_UINT32, 'I', 4, 1, 0, "uint32"},
    {MPMP_INT64, 'q', 8, 1, 1, "int64"},   {MPMP_UINT64, 'Q', 8, 1, 0, "uint64"},
    {MPMP_FLOAT, 'f', 4, 0, 0, "float"},   {MPMP_DOUBLE, 'd', 8, 0, 0, "double"},
    {MPMP_BYTE, 'c', 1, 0, 0, "byte"},
};

/* The largest and smallest value of an integer type, as the 64-bit value
 * mpmp reports (sign- or zero-extended; uint64's max reads as -1). */
int64_t tmax(const tinfo_t *ti) {
  unsigned bits = (unsigned)ti->size * 8u;
  if (bits == 64)
    return ti->is_signed ? INT64_MAX : -1;
  return ti->is_signed ? (int64_t)((1ULL << (bits - 1)) - 1)
                       : (int64_t)((1ULL << bits) - 1);
}

int64_t tmin(const tinfo_t *ti) {
  unsigned bits = (unsigned)ti->size * 8u;
  if (!ti->is_signed)
    return 0;
  return bits == 64 ? INT64_MIN : -(int64_t)(1ULL << (bits - 1));
}

int64_t get64(mpmp_value_t v) {
  int64_t x = INT64_MIN;
  int rc = mpmp_value_get_i64(v, &x);
  if (rc != 0)
    fail_msg("get_i64: %s: %s", mpmp_err_name(rc), mpmp_errmsg());
  return x;
}

void heap_now(mpmp_heap_info_t *h) {
  memset(h, 0, sizeof *h);
  assert_int_equal(mpmp_heap_info(h), 0);
}

void assert_heap_same(const mpmp_heap_info_t *a,
                      const mpmp_heap_info_t *b) {
  if (a->total != b->total || a->in_use != b->in_use ||
      a->objects != b->objects || a->largest_free != b->largest_free)
    fail_msg("heap differs: before total %zu in_use %zu objects %zu largest "
             "%zu; after total %zu in_use %zu objects %zu largest %zu",
             a->total, a->in_use, a->objects, a->largest_free, b->total,
             b->in_use, b->objects, b->largest_free);
}

/* ---- objects made in a process body ---------------------------------------- */

int make_objects(mpmp_ctx_t *ctx) {
  made_t *m = mpmp_out(ctx, sizeof *m);
  int32_t ten = 10, init[16];
  int64_t seven = 7;
  double d = 3.25;
  for (int i = 0; i < 16; i++)
    init[i] = 3 * i;
  if (mpmp_value_create(&m->num, MPMP_INT32, &ten, 1) < 0 ||
      mpmp_value_add(m->num, 1, NULL) < 0 || /* its maker uses it too */
      mpmp_value_create(&m->counter, MPMP_INT64, &seven, 1) < 0 ||
      mpmp_array_create(&m->arr, MPMP_INT32, 16, init, 1) < 0 ||
      mpmp_value_create(&m->raw, MPMP_DOUBLE, &d, 0) < 0 ||
      mpmp_array_create(&m->rawa, MPMP_UINT8, 100, NULL, 0) < 0)
    return mpmp_fail(ctx, "create: %s", mpmp_errmsg());
  m->node = mpmp_node_id();
  m->rank = mpmp_rank();
  return 0;
}
MPMP_TASK(make_objects);

int free_made_objects(char *err, const made_t *m) {
  int64_t x;
  mpmp_lock_t lk;
  EXPECT_OK(mpmp_value_get_lock(m->counter, &lk));
  EXPECT_OK(mpmp_value_free(m->num));
  EXPECT_OK(mpmp_value_free(m->counter));
  EXPECT_OK(mpmp_array_free(m->arr));
  EXPECT_OK(mpmp_value_free(m->raw));
  EXPECT_OK(mpmp_array_free(m->rawa));
  EXPECT_RC(mpmp_value_get_i64(m->counter, &x), MPMP_EBADF);
  EXPECT_RC(mpmp_lock_acquire(lk, 1.0), MPMP_EBADF);
  EXPECT_RC(mpmp_array_free(m->arr), MPMP_EBADF);
  return 0;
}

/* ---- churn: many objects of every kind made and freed ---------------------- */

enum { K_VALUE, K_ARRAY, K_LOCK, K_RLOCK, K_SEM, K_BSEM, K_EVENT, K_COND,
       K_BARRIER, K_KINDS };

typedef struct {
  int kind, type;
  size_t n;
  int64_t id;
  mpmp_ref_t ref;
} live_t;

/* Make object number id of a random kind, its contents derived from id. */
static int churn_make(char *err, uint64_t *s, live_t *o, int64_t id,
                      unsigned char *scratch) {
  uint64_t r = test_rnd(s);
  o->id = id;
  o->kind = (int)(r % 12);
  if (o->kind >= K_KINDS) /* Values and Arrays are the most common */
    o->kind = o->kind % 2 ? K_VALUE : K_ARRAY;
  o->type = (int)((r >> 8) % NT);
  o->n = 1;
  int lock = (int)((r >> 16) & 1);
  size_t es = TYPES[o->type].size;
  switch (o->kind) {
  case K_VALUE: {
    mpmp_value_t v;
    EXPECT_OK(mpmp_value_create(&v, TYPES[o->type].t, &id, lock));
    o->ref = v.ref;
    break;
  }
  case K_ARRAY: {
    mpmp_array_t a;
    o->n = 1 + (size_t)((r >> 20) % 4096);
    memcpy(scratch, &id, es);
    memcpy(scratch + (o->n - 1) * es, &id, es);
    EXPECT_OK(mpmp_array_create(&a, TYPES[o->type].t, o->n, scratch, lock));
    memset(scratch, 0, es);
    memset(scratch + (o->n - 1) * es, 0, es);
    o->ref = a.ref;
    break;
  }
  case K_LOCK:
  case K_RLOCK: {
    mpmp_lock_t l;
    EXPECT_OK(o->kind == K_LOCK ? mpmp_lock_create(&l) : mpmp_rlock_create(&l));
    o->ref = l.ref;
    break;
  }
  case K_SEM:
  case K_BSEM: {
    mpmp_sem_t sem;
    unsigned val = (unsigned)(id % 100) + 1;
    EXPECT_OK(o->kind == K_SEM ? mpmp_sem_create(&sem, val)
                               : mpmp_bsem_create(&sem, val));
    o->ref = sem.ref;
    break;
  }
  case K_EVENT: {
    mpmp_event_t e;
    EXPECT_OK(mpmp_event_create(&e));
    if (id % 2)
      EXPECT_OK(mpmp_event_set(e));
    o->ref = e.ref;
    break;
  }
  case K_COND: {
    mpmp_cond_t c;
    EXPECT_OK(mpmp_cond_create(&c, NULL));
    o->ref = c.ref;
    break;
  }
  default: {
    mpmp_barrier_t b;
    EXPECT_OK(mpmp_barrier_create(&b, (unsigned)(id % 7) + 1));
    o->ref = b.ref;
    break;
  }
  }
  return 0;
}

/* Check that the object still holds what it was made with, then free it. */
static int churn_free(char *err, const live_t *o) {
  size_t es = TYPES[o->type].size;
  unsigned char got[8], want[8];
  memcpy(want, &o->id, 8);
  switch (o->kind) {
  case K_VALUE: {
    mpmp_value_t v = {o->ref};
    EXPECT_OK(mpmp_value_load(v, got));
    EXPECT(memcmp(got, want, es) == 0);
    EXPECT_OK(mpmp_value_free(v));
    break;
  }
  case K_ARRAY: {
    mpmp_array_t a = {o->ref};
    size_t n = 0;
    EXPECT_OK(mpmp_array_len(a, &n));
    EXPECT(n == o->n);
    EXPECT_OK(mpmp_array_get(a, 0, got));
    EXPECT(memcmp(got, want, es) == 0);
    EXPECT_OK(mpmp_array_get(a, n - 1, got));
    EXPECT(memcmp(got, want, es) == 0);
    EXPECT_OK(mpmp_array_free(a));
    break;
  }
  case K_LOCK:
  case K_RLOCK: {
    mpmp_lock_t l = {o->ref};
    EXPECT_RC(mpmp_lock_is_mine(l), 0);
    EXPECT_OK(mpmp_lock_free(l));
    break;
  }
  case K_SEM:
  case K_BSEM: {
    mpmp_sem_t sem = {o->ref};
    EXPECT_RC(mpmp_sem_value(sem), (int)(o->id % 100) + 1);
    EXPECT_OK(mpmp_sem_free(sem));
    break;
  }
  case K_EVENT: {
    mpmp_event_t e = {o->ref};
    EXPECT_RC(mpmp_event_is_set(e), (int)(o->id % 2));
    EXPECT_OK(mpmp_event_free(e));
    break;
  }
  case K_COND: {
    mpmp_cond_t c = {o->ref};
    EXPECT_OK(mpmp_cond_free(c));
    break;
  }
  default: {
    mpmp_barrier_t b = {o->ref};
    EXPECT_RC(mpmp_barrier_parties(b), (int)(o->id % 7) + 1);
    EXPECT_OK(mpmp_barrier_free(b));
    break;
  }
  }
  return 0;
}

/* `total` creates with random frees in between, at most `max_live` alive;
 * then everything is freed, in random order. */
int churn(char *err, uint64_t seed, int64_t total, int max_live,
                 int64_t id0) {
  uint64_t s = seed;
  live_t *live = calloc((size_t)max_live, sizeof *live);
  unsigned char *scratch = calloc(4096, 8);
  int nlive = 0, rc = 0;
  int64_t made = 0;
  if (live == NULL || scratch == NULL) {
    free(live);
    free(scratch);
    snprintf(err, ERRLEN, "out of memory");
    return -1;
  }
  while (rc == 0 && (made < total || nlive > 0)) {
    uint64_t r = test_rnd(&s);
    int create = made < total && (nlive == 0 || (nlive < max_live && r % 8 < 5));
    if (create) {
      rc = churn_make(err, &s, &live[nlive], id0 + made, scratch);
      if (rc == 0) {
        nlive++;
        made++;
      }
    } else {
      int i = (int)((r >> 8) % (uint64_t)nlive);
      rc = churn_free(err, &live[i]);
      live[i] = live[--nlive];
    }
  }
  free(live);
  free(scratch);
  return rc;
}

