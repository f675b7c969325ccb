/*
 * Fuzz, seeded random phase: thousands of calls drawn from a table of the
 * shared-object and Manager calls, each argument drawn from the generators
 * of fuzz.h (a valid or garbage handle, a buffer or NULL, a fitting, zero
 * or huge size, a short, zero, -0.0 or NaN timeout). A call with any
 * nonsense argument must be refused with an MPMP_E* code and a message;
 * any call must come back (watchdog), crash nothing, and return either
 * success or a known code. Runs on the main rank (objects of this node and
 * of rank 1's) and in a body on rank 1.
 *
 *   MPMP_TEST_FUZZ_SEED=n   the seed (default: from the clock; printed)
 *   MPMP_TEST_FUZZ_ITERS=n  calls per run (default 3000)
 * A run is replayed with the printed seed, the same rank count and layout.
 */
#include "fuzz_objs.h"

typedef struct rnd {
  uint64_t s;
  int bad;           /* some argument drawn for this call is nonsense */
  int unsure;        /* the headers do not say: any answer will do */
  char label[400];   /* the call and its arguments */
  size_t len;
  const fz_objs_t *o;
  mpmp_ref_t valid[NKIND];
  mpmp_dict_t d;     /* a Manager's dict and list (zero: none) */
  mpmp_list_t l;
} rnd_t;

static unsigned pick(rnd_t *g, unsigned n) {
  return (unsigned)(fz_rand(&g->s) % n);
}

static void say(rnd_t *g, const char *fmt, ...) MPMP_PRINTF(2, 3);
static void say(rnd_t *g, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(g->label + g->len, sizeof g->label - g->len, fmt, ap);
  va_end(ap);
  if (n > 0 && g->len + (size_t)n < sizeof g->label)
    g->len += (size_t)n;
}

/* A handle for a call that wants `kind`: mostly the valid one. */
static mpmp_ref_t r_ref(rnd_t *g, int kind) {
  unsigned k = pick(g, 10);
  char what[96];
  mpmp_ref_t r;
  if (k < 6) {
    say(g, "valid %s", fz_kind_names[kind]);
    return g->valid[kind];
  }
  g->bad = 1;
  if (k == 6) {
    int other = (kind + 1 + (int)pick(g, NKIND - 1)) % NKIND;
    say(g, "a %s", fz_kind_names[other]);
    return g->valid[other];
  }
  if (k == 7) {
    say(g, "a freed %s", fz_kind_names[kind]);
    return g->o->freed[kind];
  }
  r = fz_bad_ref(&g->valid[kind], (int)pick(g, FZ_NBAD), what, sizeof what);
  say(g, "%s", what);
  return r;
}

/* A count or size: mostly `good` (within limits), sometimes 0 (legal when
 * zero_ok), sometimes huge (never legal). */
static size_t r_size(rnd_t *g, size_t good, int zero_ok) {
  unsigned k = pick(g, 10);
  size_t v = k < 7 ? good : k < 8 ? 0 : fz_huge[pick(g, FZ_NHUGE)];
  if ((v == 0 && !zero_ok) || k >= 8)
    g->bad = 1;
  say(g, "%zu", v);
  return v;
}

/* A pointer the call needs: mostly `p`, sometimes NULL (nonsense). */
static void *r_ptr(rnd_t *g, void *p) {
  if (pick(g, 10) < 8) {
    say(g, "buf");
    return p;
  }
  g->bad = 1;
  say(g, "NULL");
  return NULL;
}

/* A pointer the call may do without. */
static void *r_opt(rnd_t *g, void *p) {
  void *r = pick(g, 2) ? p : NULL;
  say(g, "%s", r ? "&out" : "NULL");
  return r;
}

/* Never long: a valid call may wait for a state that will not come. */
static double r_timeout(rnd_t *g) {
  static const double t[] = {0, -0.0, 1e-3, 2e-3};
  if (pick(g, 8) == 0) {
    g->bad = 1;
    say(g, "NaN");
    return NAN;
  }
  double v = t[pick(g, 4)];
  say(g, "%g", v);
  return v;
}

static int64_t r_index(rnd_t *g, int64_t len) {
  static const int64_t odd[] = {INT64_MIN, INT64_MAX, -1, 0};
  unsigned k = pick(g, 10);
  int64_t v = k < 7 ? (int64_t)pick(g, (unsigned)len) : odd[k - 7];
  say(g, "%lld", (long long)v);
  return v;
}

/* ---- the calls ---------------------------------------------------------------- */

#define ARG(...) say(g, __VA_ARGS__)

static int c_value_load(rnd_t *g) {
  char buf[8];
  ARG("mpmp_value_load(");
  mpmp_value_t v = {r_ref(g, KV)};
  ARG(", ");
  void *out = r_ptr(g, buf);
  ARG(")");
  return mpmp_value_load(v, out);
}

static int c_value_store(rnd_t *g) {
  int64_t x = (int64_t)fz_rand(&g->s);
  ARG("mpmp_value_store(");
  mpmp_value_t v = {r_ref(g, KV)};
  ARG(", ");
  void *in = r_ptr(g, &x);
  ARG(")");
  return mpmp_value_store(v, in);
}

static int c_value_add(rnd_t *g) {
  int64_t old;
  ARG("mpmp_value_add(");
  mpmp_value_t v = {r_ref(g, KV)};
  ARG(", 3, ");
  int64_t *o = r_opt(g, &old);
  ARG(")");
  return mpmp_value_add(v, 3, o);
}

static int c_value_cas(rnd_t *g) {
  int64_t e = FZ_VALUE0;
  ARG("mpmp_value_cas(");
  mpmp_value_t v = {r_ref(g, KV)};
  ARG(", ");
  int64_t *ep = r_ptr(g, &e);
  ARG(", 1)");
  return mpmp_value_cas(v, ep, 1);
}

static int c_array_get(rnd_t *g) {
  int32_t x;
  ARG("mpmp_array_get(");
  mpmp_array_t a = {r_ref(g, KA)};
  ARG(", ");
  int64_t i = r_index(g, FZ_ALEN);
  if (i < 0 || i >= FZ_ALEN)
    g->bad = 1;
  ARG(", ");
  void *out = r_ptr(g, &x);
  ARG(")");
  return mpmp_array_get(a, (size_t)i, out);
}

static int c_array_rw(rnd_t *g, int write) {
  int32_t buf[FZ_ALEN] = {0};
  ARG("mpmp_array_%s(", write ? "write" : "read");
  mpmp_array_t a = {r_ref(g, KA)};
  ARG(", ");
  int64_t start = r_index(g, FZ_ALEN);
  ARG(", ");
  size_t count = r_size(g, 1 + pick(g, FZ_ALEN), 1);
  ARG(", ");
  void *p = r_ptr(g, buf);
  ARG(")");
  if (count > 0 && (start < 0 || start >= FZ_ALEN ||
                    count > (size_t)(FZ_ALEN - start)))
    g->bad = 1;
  /* an empty slice of the live Array: where it starts and the buffer do
   * not matter much, and the headers do not say */
  if (count == 0 && !memcmp(&a.ref, &g->valid[KA], sizeof a.ref))
    g->unsure = 1;
  return write ? mpmp_array_write(a, (size_t)start, count, p)
               : mpmp_array_read(a, (size_t)start, count, p);
}
static int c_array_read(rnd_t *g) { return c_array_rw(g, 0); }
static int c_array_write(rnd_t *g) { return c_array_rw(g, 1); }

static int c_lock(rnd_t *g) {
  unsigned what = pick(g, 3);
  mpmp_lock_t l;
  ARG("mpmp_lock_%s(", what == 0 ? "acquire" : what == 1 ? "release"
                                                          : "is_mine");
  l.ref = r_ref(g, KL);
  if (what == 0) {
    ARG(", ");
    double t = r_timeout(g);
    ARG(")");
    return mpmp_lock_acquire(l, t);
  }
  ARG(")");
  return what == 1 ? mpmp_lock_release(l) : mpmp_lock_is_mine(l);
}

static int c_sem(rnd_t *g) {
  unsigned what = pick(g, 3);
  mpmp_sem_t s;
  ARG("mpmp_sem_%s(", what == 0 ? "acquire" : what == 1 ? "release" : "value");
  s.ref = r_ref(g, KS);
  if (what == 0) {
    ARG(", ");
    double t = r_timeout(g);
    ARG(")");
    return mpmp_sem_acquire(s, t);
  }
  ARG(")");
  return what == 1 ? mpmp_sem_release(s) : mpmp_sem_value(s);
}

static int c_event(rnd_t *g) {
  unsigned what = pick(g, 4);
  mpmp_event_t e;
  static const char *names[] = {"set", "clear", "is_set", "wait"};
  ARG("mpmp_event_%s(", names[what]);
  e.ref = r_ref(g, KE);
  if (what == 3) {
    ARG(", ");
    double t = r_timeout(g);
    ARG(")");
    return mpmp_event_wait(e, t);
  }
  ARG(")");
  return what == 0 ? mpmp_event_set(e) : what == 1 ? mpmp_event_clear(e)
                                                   : mpmp_event_is_set(e);
}

static int c_cond(rnd_t *g) {
  unsigned what = pick(g, 4);
  mpmp_cond_t c;
  static const char *names[] = {"acquire", "release", "wait", "notify"};
  ARG("mpmp_cond_%s(", names[what]);
  c.ref = r_ref(g, KC);
  if (what == 0 || what == 2) {
    ARG(", ");
    double t = r_timeout(g);
    ARG(")");
    return what == 0 ? mpmp_cond_acquire(c, t) : mpmp_cond_wait(c, t);
  }
  ARG(")");
  return what == 1 ? mpmp_cond_release(c) : mpmp_cond_notify(c, 1);
}

static int c_barrier(rnd_t *g) {
  unsigned what = pick(g, 4);
  mpmp_barrier_t b;
  static const char *names[] = {"wait", "abort", "reset", "broken"};
  ARG("mpmp_barrier_%s(", names[what]);
  b.ref = r_ref(g, KB);
  if (what == 0) {
    ARG(", ");
    double t = r_timeout(g);
    ARG(")");
    return mpmp_barrier_wait(b, t);
  }
  ARG(")");
  return what == 1 ? mpmp_barrier_abort(b) : what == 2 ? mpmp_barrier_reset(b)
                                                       : mpmp_barrier_broken(b);
}

static int c_queue_put(rnd_t *g) {
  char item[FZ_QITEM + 1] = "item";
  ARG("mpmp_queue_put(");
  mpmp_queue_t q = {r_ref(g, KQ)};
  ARG(", ");
  size_t n = r_size(g, pick(g, FZ_QITEM + 2), 1);
  if (n > FZ_QITEM)
    g->bad = 1; /* MPMP_EMSGSIZE */
  ARG(", ");
  void *p = item;
  if (n)
    p = r_ptr(g, item);
  else
    ARG("buf");
  ARG(", ");
  double t = r_timeout(g);
  ARG(")");
  return mpmp_queue_put(q, p, n, t);
}

static int c_queue_get(rnd_t *g) {
  char buf[FZ_QITEM];
  size_t got;
  ARG("mpmp_queue_get(");
  mpmp_queue_t q = {r_ref(g, KQ)};
  ARG(", ");
  void *p = r_ptr(g, buf);
  ARG(", %zu, ", sizeof buf);
  size_t *np = r_opt(g, &got);
  ARG(", ");
  double t = r_timeout(g);
  ARG(")");
  return mpmp_queue_get(q, p, sizeof buf, np, t);
}

static int c_queue_query(rnd_t *g) {
  unsigned what = pick(g, 6);
  static const char *names[] = {"qsize", "empty", "full", "capacity",
                                "task_done", "join"};
  ARG("mpmp_queue_%s(", names[what]);
  mpmp_queue_t q;
  if ((what == 4 || what == 5) && pick(g, 2)) {
    q = g->o->jq;
    ARG("valid JoinableQueue");
  } else {
    q.ref = r_ref(g, KQ);
  }
  if (what == 5) {
    ARG(", ");
    double t = r_timeout(g);
    ARG(")");
    return mpmp_queue_join(q, t);
  }
  ARG(")");
  switch (what) {
  case 0: return mpmp_queue_qsize(q);
  case 1: return mpmp_queue_empty(q);
  case 2: return mpmp_queue_full(q);
  case 3: return mpmp_queue_capacity(q);
  default: return mpmp_queue_task_done(q);
  }
}

static int c_conn_send(rnd_t *g) {
  char msg[32] = "message";
  ARG("mpmp_conn_send(");
  mpmp_conn_t c = g->o->c2; /* both ends send */
  if (pick(g, 2))
    c.ref = r_ref(g, KP);
  else
    ARG("valid other end");
  ARG(", ");
  size_t n = r_size(g, pick(g, sizeof msg), 1);
  ARG(", ");
  void *p = msg;
  if (n)
    p = r_ptr(g, msg);
  else
    ARG("buf");
  ARG(", ");
  double t = r_timeout(g);
  ARG(")");
  return mpmp_conn_send(c, p, n, t);
}

static int c_conn_recv(rnd_t *g) {
  char buf[64];
  size_t got;
  ARG("mpmp_conn_recv(");
  mpmp_conn_t c = g->o->c2;
  if (pick(g, 2))
    c.ref = r_ref(g, KP);
  else
    ARG("valid other end");
  ARG(", ");
  void *p = r_ptr(g, buf);
  ARG(", %zu, ", sizeof buf);
  size_t *np = r_opt(g, &got);
  ARG(", ");
  double t = r_timeout(g);
  ARG(")");
  return mpmp_conn_recv(c, p, sizeof buf, np, t);
}

static int c_conn_poll(rnd_t *g) {
  ARG("mpmp_conn_poll(");
  mpmp_conn_t c = {r_ref(g, KP)};
  ARG(", ");
  double t = r_timeout(g);
  ARG(")");
  return mpmp_conn_poll(c, t);
}

static int c_conn_wait(rnd_t *g) {
  mpmp_ref_t objs[3];
  int ready[3];
  ARG("mpmp_conn_wait([");
  for (int i = 0; i < 3; i++) {
    objs[i] = r_ref(g, pick(g, 2) ? KQ : KP);
    ARG(i < 2 ? ", " : "], ");
  }
  int n = (int)pick(g, 5) - 1; /* -1 .. 3 */
  if (n <= 0)
    g->bad = 1;
  else /* only the first n count */
    g->bad = 0;
  ARG("%d, ", n);
  for (int i = 0; i < n && i < 3; i++)
    if (memcmp(&objs[i], &g->valid[KQ], sizeof objs[i]) &&
        memcmp(&objs[i], &g->valid[KP], sizeof objs[i]))
      g->bad = 1;
  double t = r_timeout(g);
  ARG(", ");
  int *rp = r_opt(g, ready);
  ARG(")");
  return mpmp_conn_wait(objs, n, t, rp);
}

static int c_create_free(rnd_t *g) {
  static const int types[] = {0, MPMP_INT32, MPMP_DOUBLE, 12, -1};
  unsigned what = pick(g, 4);
  int rc;
  if (what == 0) {
    mpmp_value_t v;
    int t = types[pick(g, 5)];
    ARG("mpmp_value_create(");
    mpmp_value_t *vp = r_ptr(g, &v);
    ARG(", %d, NULL, 1)", t);
    if (t <= 0 || t > MPMP_BYTE)
      g->bad = 1;
    if ((rc = mpmp_value_create(vp, (mpmp_type_t)t, NULL, 1)) == 0)
      mpmp_value_free(v);
  } else if (what == 1) {
    mpmp_queue_t q;
    ARG("mpmp_queue_create(&q, ");
    size_t maxsize = r_size(g, 1 + pick(g, 8), 1);
    ARG(", ");
    size_t item = r_size(g, 1 + pick(g, 64), 0);
    ARG(")");
    if ((rc = mpmp_queue_create(&q, maxsize, item)) == 0)
      mpmp_queue_free(q);
  } else if (what == 2) {
    mpmp_barrier_t b;
    unsigned parties = pick(g, 2) ? 1 + pick(g, 4) : (unsigned)fz_rand(&g->s);
    ARG("mpmp_barrier_create(&b, %u)", parties);
    if (parties == 0 || parties > INT32_MAX)
      g->bad = 1;
    if ((rc = mpmp_barrier_create(&b, parties)) == 0)
      mpmp_barrier_free(b);
  } else {
    ARG("mpmp_sem_free(");
    mpmp_sem_t s = {r_ref(g, KS)};
    ARG(")");
    if (!g->bad) /* free only garbage: the valid one serves the others */
      return 0;
    rc = mpmp_sem_free(s);
  }
  return rc;
}

/* Manager calls (when the run has a Manager). */
static int c_dict(rnd_t *g) {
  static char long_key[MPMP_MANAGER_MAX_KEY + 2];
  char buf[16];
  size_t n;
  const char *keys[] = {"a", "b", "", long_key, NULL};
  memset(long_key, 'k', sizeof long_key - 1);
  unsigned k = pick(g, 5), what = pick(g, 3);
  mpmp_dict_t d = g->d;
  if (pick(g, 6) == 0) {
    char what_s[96];
    d.ref.tag ^= 1u << pick(g, 32);
    snprintf(what_s, sizeof what_s, "a dict handle with its tag changed");
    g->bad = 1;
    ARG("[%s] ", what_s);
  }
  if (k >= 3)
    g->bad = 1;
  ARG("mpmp_dict_%s(d, %s, ", what == 0 ? "set" : what == 1 ? "get" : "del",
      keys[k] == NULL ? "NULL" : k == 3 ? "<1025-byte key>" : keys[k]);
  if (what == 0) {
    size_t sz = r_size(g, pick(g, sizeof buf), 1);
    if (sz > MPMP_MANAGER_MAX_VALUE)
      g->bad = 1;
    ARG(", ");
    void *p = buf;
    if (sz)
      p = r_ptr(g, buf);
    else
      ARG("buf");
    ARG(")");
    return mpmp_dict_set(d, keys[k], p, sz);
  }
  if (what == 1) {
    void *p = r_ptr(g, buf);
    ARG(", %zu, &n)", sizeof buf);
    int rc = mpmp_dict_get(d, keys[k], p, sizeof buf, &n);
    return rc == MPMP_EINVAL && !g->bad ? 0 : rc; /* KeyError is legal */
  }
  ARG(")");
  int rc = mpmp_dict_del(d, keys[k]);
  return rc == MPMP_EINVAL && !g->bad ? 0 : rc;
}

static int c_list(rnd_t *g) {
  char buf[16];
  size_t n, len = 0;
  unsigned what = pick(g, 3);
  mpmp_list_len(g->l, &len);
  ARG("mpmp_list_%s(l, ", what == 0 ? "insert" : what == 1 ? "get" : "pop");
  int64_t i = r_index(g, (int64_t)len + 1);
  int in_range =
      (i >= 0 && i < (int64_t)len) || (i < 0 && i >= -(int64_t)len);
  if (!in_range && what != 0) /* insert clamps any index, as Python's */
    g->bad = 1;
  ARG(", ...)");
  if (what == 0)
    return mpmp_list_insert(g->l, i, "x", 1);
  if (what == 1)
    return mpmp_list_get(g->l, i, buf, sizeof buf, &n);
  return mpmp_list_pop(g->l, i, buf, sizeof buf, &n);
}

typedef int (*call_fn)(rnd_t *g);
static const call_fn calls[] = {
    c_value_load, c_value_store, c_value_add, c_value_cas, c_array_get,
    c_array_read, c_array_write, c_lock, c_lock, c_sem, c_event, c_cond,
    c_barrier, c_queue_put, c_queue_put, c_queue_get, c_queue_get,
    c_queue_query, c_conn_send, c_conn_recv, c_conn_poll, c_conn_wait,
    c_create_free, c_dict, c_list,
};
#define NCALLS (sizeof calls / sizeof calls[0])

/* ---- the loop ----------------------------------------------------------------- */

static uint64_t seed_from_env(void) {
  const char *s = getenv("MPMP_TEST_FUZZ_SEED");
  if (s != NULL && *s != '\0')
    return strtoull(s, NULL, 0);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec;
}

static long iters_from_env(void) {
  const char *s = getenv("MPMP_TEST_FUZZ_ITERS");
  long n = s != NULL ? strtol(s, NULL, 10) : 0;
  return n > 0 ? n : 3000;
}

typedef struct rarg {
  uint64_t seed;
  long iters;
  mpmp_dict_t d;
  mpmp_list_t l;
} rarg_t;

static void random_calls(const fz_objs_t *o, const rarg_t *a) {
  rnd_t g;
  memset(&g, 0, sizeof g);
  g.s = a->seed;
  g.o = o;
  g.d = a->d;
  g.l = a->l;
  fz_valid_refs(o, g.valid);
  int have_manager = a->d.ref.mgr != 0;
  for (long i = 0; i < a->iters; i++) {
    unsigned k = pick(&g, NCALLS);
    if (!have_manager && (calls[k] == c_dict || calls[k] == c_list))
      continue;
    g.bad = g.unsure = 0;
    g.len = 0;
    say(&g, "#%ld ", i);
    fz_enter(g.label, __FILE__, __LINE__); /* the label grows in place */
    int rc = calls[k](&g);
    fz_leave();
    if (g.unsure)
      continue;
    if (g.bad)
      fz_refused(g.label, rc, 0, 0, __FILE__, __LINE__);
    else if (rc < 0 && !strcmp(mpmp_err_name(rc), "MPMP_EUNKNOWN"))
      fz_note(__FILE__, __LINE__, "%s: returned %d, no MPMP_E* code",
              g.label, rc);
  }
}

/* The groups of fuzz_objs.h: the seed and the Manager come in a side
 * channel (the group number is the index into these). */
static rarg_t rargs;

/* `group` is the number of calls (a body on a worker rank has no other
 * way to learn it); the Manager's handles exist on the main rank only. */
static void fz_group(int group, const fz_objs_t *o, uint64_t seed) {
  rarg_t a = rargs;
  a.seed = seed;
  a.iters = group;
  random_calls(o, &a);
}

static void run(int where, uint64_t seed) {
  fprintf(stdout, "random phase: MPMP_TEST_FUZZ_SEED=%llu "
          "MPMP_TEST_FUZZ_ITERS=%ld (%s)\n", (unsigned long long)seed,
          rargs.iters, where == FZ_HERE ? "objects here"
          : where == FZ_MADE_THERE ? "objects of rank 1"
                                   : "calls from rank 1");
  fz_run_group((int)rargs.iters, where, seed);
}

static void fuzz_random(void **state) {
  (void)state;
  uint64_t seed = seed_from_env();
  mpmp_manager_t m;
  rargs.iters = iters_from_env();
  int manager = mpmp_worker_count() >= 2 && mpmp_manager_start(&m) == 0;
  if (manager) {
    assert_int_equal(mpmp_dict_create(m, &rargs.d), 0);
    assert_int_equal(mpmp_list_create(m, &rargs.l), 0);
  }
  run(FZ_HERE, seed);
  run(FZ_MADE_THERE, seed + 1);
  if (manager)
    mpmp_manager_shutdown(m);
  memset(&rargs.d, 0, sizeof rargs.d);
  memset(&rargs.l, 0, sizeof rargs.l);
  run(FZ_CHECK_THERE, seed + 2);
  FZ_DONE();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(fuzz_random),
};

MPMP_TEST_MAIN(tests)
