/* Manager dicts in the node heap: clients on the server's node run their
 * calls in place (no server round trip), the others through the server,
 * on the same dict. Many clients at once on one dict, with a check of
 * every value they read and of the final contents; a free and a shutdown
 * while clients use the dict (EBADF, then EDEAD: no crash); a full heap
 * (ENOSPC naming MPMP_HEAP_SIZE, nothing lost; large values in the
 * server's memory). Runs with np3, np6, and np6 on 2 pseudo-nodes, where
 * the server (rank 1) shares its node with ranks 3 and 5 (in place) but
 * not with ranks 0, 2 and 4 (through the server). MPMP_HEAP_SIZE is 2M
 * (tests/CMakeLists.txt) so that filling the heap is quick. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "manager_common.h"

/* ---- many clients on one dict -------------------------------------------- */

enum { ROUNDS = 60, KEYS = 40, SHARED = 8 };

typedef struct hammer_arg {
  mpmp_dict_t d;
  int id;
} hammer_arg_t;

/* The value client id writes under its key k in round r. */
static size_t val_make(int id, int k, int r, unsigned char *v) {
  size_t n = 8 + (size_t)((r * 7 + k) % 120);
  for (size_t i = 0; i < n; i++)
    v[i] = (unsigned char)(id * 131 + k * 31 + r * 7 + (int)i);
  return n;
}

static int val_check(int id, int k, int r, const unsigned char *v,
                     size_t n) {
  unsigned char want[160];
  size_t wn = val_make(id, k, r, want);
  return n == wn && memcmp(v, want, n) == 0;
}

/* Whether client id's key k is there after round r, and what pops it. */
static int kept(int k, int r) { return (r + k) % 5 != 4; }
static int popped(int k, int r) { return (r + k) % 7 == 3; }

/* A shared key's value: who wrote it, when, and a check of both. */
typedef struct shared_val {
  int32_t id, r;
  int64_t check;
} shared_val_t;

/* One client's whole run: 0, or a message in *why. */
static int hammer_run(const hammer_arg_t *a, char *why, size_t whylen) {
  int last[KEYS]; /* the round of the value there, -1: absent */
  unsigned char v[160], got[160];
  char key[32];
  size_t n;
  for (int k = 0; k < KEYS; k++)
    last[k] = -1;
  for (int r = 0; r < ROUNDS; r++) {
    for (int k = 0; k < KEYS; k++) {
      snprintf(key, sizeof key, "c%d-%d", a->id, k);
      /* what is there must be what we left */
      int rc = mpmp_dict_get(a->d, key, got, sizeof got, &n);
      if (last[k] < 0 ? rc != MPMP_EINVAL
                      : rc != 0 || !val_check(a->id, k, last[k], got, n)) {
        snprintf(why, whylen, "%s round %d: get %d (%s)", key, r, rc,
                 rc < 0 ? mpmp_errmsg() : "wrong bytes");
        return -1;
      }
      if (mpmp_dict_contains(a->d, key) != (last[k] >= 0)) {
        snprintf(why, whylen, "%s round %d: contains", key, r);
        return -1;
      }
      if (last[k] >= 0 && popped(k, r)) {
        rc = mpmp_dict_pop(a->d, key, got, sizeof got, &n);
        if (rc != 0 || !val_check(a->id, k, last[k], got, n)) {
          snprintf(why, whylen, "%s round %d: pop %d", key, r, rc);
          return -1;
        }
        last[k] = -1;
      }
      if (!kept(k, r)) {
        if (last[k] >= 0 && (rc = mpmp_dict_del(a->d, key)) != 0) {
          snprintf(why, whylen, "%s round %d: del %d", key, r, rc);
          return -1;
        }
        last[k] = -1;
        continue;
      }
      size_t vn = val_make(a->id, k, r, v);
      if ((rc = mpmp_dict_set(a->d, key, v, vn)) != 0 ||
          (rc = mpmp_dict_size(a->d, key, &n)) != 0 || n != vn) {
        snprintf(why, whylen, "%s round %d: set/size %d (%s)", key, r, rc,
                 rc < 0 ? mpmp_errmsg() : "wrong size");
        return -1;
      }
      last[k] = r;
    }
    /* every client writes the shared keys and reads them back whole */
    shared_val_t s = {a->id, r, (int64_t)a->id * 1000003 ^ r};
    snprintf(key, sizeof key, "s%d", r % SHARED);
    int rc = mpmp_dict_set(a->d, key, &s, sizeof s);
    snprintf(key, sizeof key, "s%d", (r + 1) % SHARED);
    shared_val_t t;
    int had = mpmp_dict_get_or(a->d, key, &t, sizeof t, &n, NULL, 0);
    if (rc != 0 || had < 0 ||
        (had == 1 && (n != sizeof t ||
                      t.check != ((int64_t)t.id * 1000003 ^ t.r)))) {
      snprintf(why, whylen, "shared %s round %d: set %d get %d", key, r, rc,
               had);
      return -1;
    }
  }
  return 0;
}

static int hammer_body(mpmp_ctx_t *ctx) {
  char why[256];
  return hammer_run(mpmp_arg(ctx, NULL), why, sizeof why) < 0
             ? mpmp_fail(ctx, "%s", why) : 0;
}
MPMP_TASK(hammer_body);

/* Every free worker and the main rank at once on one dict; then the
 * contents are exactly what the clients left. */
static void manager_local_many_clients(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  hammer_arg_t a = {0};
  assert_int_equal(mpmp_dict_create(m, &a.d), 0);
  mpmp_process_t *ps[8];
  int np = 0;
  for (a.id = 1; a.id <= 8; a.id++) {
    if ((ps[np] = try_start(hammer_body, &a, sizeof a)) == NULL)
      break;
    np++;
  }
  hammer_arg_t mine = a;
  mine.id = 0;
  char why[256];
  if (hammer_run(&mine, why, sizeof why) < 0)
    fail_msg("main: %s", why);
  for (int k = 0; k < np; k++)
    join_destroy_within(ps[k], 120);
  size_t n, want = SHARED;
  for (int id = 0; id <= np; id++)
    for (int k = 0; k < KEYS; k++) {
      char key[32];
      unsigned char got[160];
      snprintf(key, sizeof key, "c%d-%d", id, k);
      int rc = mpmp_dict_get(a.d, key, got, sizeof got, &n);
      if (kept(k, ROUNDS - 1)) {
        assert_int_equal(rc, 0);
        assert_true(val_check(id, k, ROUNDS - 1, got, n));
        want++;
      } else {
        assert_int_equal(rc, MPMP_EINVAL);
      }
    }
  assert_int_equal(mpmp_dict_len(a.d, &n), 0);
  assert_int_equal(n, want);
  /* the whole-dict calls (the server's) see the same */
  mpmp_items_t it;
  assert_int_equal(mpmp_dict_items(a.d, &it), 0);
  assert_int_equal(it.count, want);
  mpmp_items_free(&it);
  assert_int_equal(mpmp_manager_shutdown(m), 0);
}

/* ---- free and shutdown while clients use the dict ------------------------ */

typedef struct stop_arg {
  mpmp_dict_t a, b;
  mpmp_value_t started; /* bodies that used both dicts once */
} stop_arg_t;

typedef struct stop_res {
  int err_a, err_b;
} stop_res_t;

/* set+get on d until a call fails: its code (or 1 after 60 s). */
static int until_error(mpmp_dict_t d) {
  double end = test_now() + 60;
  for (int64_t i = 0; test_now() < end; i++) {
    int64_t w = -1;
    int rc = mpmp_dict_set(d, "k", &i, sizeof i);
    if (rc == 0)
      rc = mpmp_dict_get(d, "k", &w, sizeof w, NULL);
    if (rc < 0)
      return rc;
  }
  return 1;
}

static int stop_body(mpmp_ctx_t *ctx) {
  const stop_arg_t *a = mpmp_arg(ctx, NULL);
  stop_res_t *r = mpmp_out(ctx, sizeof *r);
  int64_t i = 0;
  if (mpmp_dict_set(a->a, "k", &i, sizeof i) < 0 ||
      mpmp_dict_set(a->b, "k", &i, sizeof i) < 0 ||
      mpmp_value_add(a->started, 1, NULL) < 0)
    return mpmp_fail(ctx, "before the free: %s", mpmp_errmsg());
  r->err_a = until_error(a->a);
  r->err_b = until_error(a->b);
  return 0;
}
MPMP_TASK(stop_body);

static void sleep_s(double s) {
  struct timespec ts = {0, (long)(s * 1e9)};
  nanosleep(&ts, NULL);
}

/* A dict freed while clients use it: EBADF for them; the manager shut down
 * while they use another: EDEAD. Never a crash, never a hang. */
static void manager_local_free_and_shutdown_while_used(void **state) {
  (void)state;
  if (free_workers_after_manager() < 1)
    skip();
  mpmp_manager_t m = started_manager();
  stop_arg_t a;
  assert_int_equal(mpmp_dict_create(m, &a.a), 0);
  assert_int_equal(mpmp_dict_create(m, &a.b), 0);
  assert_int_equal(mpmp_value_create(&a.started, MPMP_INT64, NULL, 0), 0);
  mpmp_process_t *ps[8];
  int np = 0;
  while (np < 8 && (ps[np] = try_start(stop_body, &a, sizeof a)) != NULL)
    np++;
  /* every client in its loop before the free (a slow start under a
   * sanitizer once reached the dict only after the shutdown: EDEAD) */
  int64_t started = 0;
  for (double end = test_now() + 60; started < np && test_now() < end;
       sleep_s(0.01))
    assert_int_equal(mpmp_value_get_i64(a.started, &started), 0);
  assert_int_equal(started, np);
  sleep_s(0.2);
  assert_int_equal(mpmp_dict_free(a.a), 0);
  sleep_s(0.2);
  assert_int_equal(mpmp_manager_shutdown(m), 0);
  for (int k = 0; k < np; k++) {
    assert_int_equal(mpmp_process_join(ps[k], 60), 0);
    int code = -1;
    assert_int_equal(mpmp_process_exitcode(ps[k], &code), 0);
    if (code != 0)
      fail_msg("client: %s", mpmp_process_errmsg(ps[k]));
    const void *res;
    size_t n;
    assert_int_equal(mpmp_process_result(ps[k], &res, &n), 0);
    assert_int_equal(n, sizeof(stop_res_t));
    stop_res_t r;
    memcpy(&r, res, sizeof r);
    assert_int_equal(r.err_a, MPMP_EBADF);
    assert_int_equal(r.err_b, MPMP_EDEAD);
    mpmp_process_destroy(ps[k]);
  }
  assert_int_equal(until_error(a.a), MPMP_EDEAD);
  assert_int_equal(until_error(a.b), MPMP_EDEAD);
  assert_int_equal(mpmp_value_free(a.started), 0);
}

/* ---- a full heap ----------------------------------------------------------- */

/* Keys until the heap of the server's node is full: ENOSPC naming
 * MPMP_HEAP_SIZE, nothing lost; values then go to the server's memory;
 * after a clear the heap takes keys again. */
static void manager_local_heap_full(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  mpmp_dict_t d;
  assert_int_equal(mpmp_dict_create(m, &d), 0);
  int64_t x = 42;
  assert_int_equal(mpmp_dict_set(d, "a", &x, sizeof x), 0);
  char key[32];
  int rc = 0;
  int64_t i;
  for (i = 0; i < 10000000; i++) {
    snprintf(key, sizeof key, "k%lld", (long long)i);
    if ((rc = mpmp_dict_set(d, key, &i, sizeof i)) != 0)
      break;
  }
  assert_int_equal(rc, MPMP_ENOSPC);
  assert_non_null(strstr(mpmp_errmsg(), "MPMP_HEAP_SIZE"));
  assert_true(i > 100);
  assert_int_equal(mpmp_dict_contains(d, key), 0);
  size_t n;
  assert_int_equal(mpmp_dict_len(d, &n), 0);
  assert_int_equal(n, (size_t)i + 1);
  for (int64_t j = 0; j < i; j += 1 + j / 16) {
    int64_t w = -1;
    snprintf(key, sizeof key, "k%lld", (long long)j);
    assert_int_equal(mpmp_dict_get(d, key, &w, sizeof w, NULL), 0);
    assert_int_equal(w, j);
  }
  /* a value with no room in the heap, and one too big for it: both kept
   * by the server, read back whole by every client */
  size_t sizes[2] = {40000, 300000};
  for (int s = 0; s < 2; s++) {
    unsigned char *v = malloc(sizes[s]);
    assert_non_null(v);
    for (size_t b = 0; b < sizes[s]; b++)
      v[b] = (unsigned char)(b * 7 + (size_t)s);
    assert_int_equal(mpmp_dict_set(d, "a", v, sizes[s]), 0);
    void *back = NULL;
    assert_int_equal(mpmp_dict_get_alloc(d, "a", &back, &n), 0);
    assert_int_equal(n, sizes[s]);
    assert_memory_equal(back, v, n);
    free(back);
    free(v);
  }
  assert_int_equal(mpmp_dict_set(d, "a", &x, sizeof x), 0);
  int64_t w = 0;
  assert_int_equal(mpmp_dict_get(d, "a", &w, sizeof w, NULL), 0);
  assert_int_equal(w, 42);
  /* room again */
  assert_int_equal(mpmp_dict_clear(d), 0);
  assert_int_equal(mpmp_dict_set(d, "b", &x, sizeof x), 0);
  assert_int_equal(mpmp_dict_len(d, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(mpmp_manager_shutdown(m), 0);
}

/* A dict filled until the heap is full, then some keys deleted: new keys
 * go in again, as in Python (the table was made anew for twice the keys
 * left, with no room for it: ENOSPC after 49 deletes). */
static void manager_local_deleted_keys_make_room(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  mpmp_dict_t d;
  assert_int_equal(mpmp_dict_create(m, &d), 0);
  char key[32], val[200];
  memset(val, 'v', sizeof val);
  int rc = 0, i;
  for (i = 0; i < 1000000; i++) {
    snprintf(key, sizeof key, "key%06d", i);
    if ((rc = mpmp_dict_set(d, key, val, sizeof val)) != 0)
      break;
  }
  assert_int_equal(rc, MPMP_ENOSPC);
  for (int j = 1; j < 50; j++) {
    snprintf(key, sizeof key, "key%06d", j);
    assert_int_equal(mpmp_dict_del(d, key), 0);
  }
  for (int j = 0; j < 40; j++) {
    snprintf(key, sizeof key, "new%d", j);
    if ((rc = mpmp_dict_set(d, key, val, sizeof val)) != 0)
      fail_msg("new key %d after 49 deletes: %s", j, mpmp_errmsg());
  }
  size_t n;
  assert_int_equal(mpmp_dict_len(d, &n), 0);
  assert_int_equal(n, (size_t)i - 49 + 40);
  mpmp_items_t last;
  assert_int_equal(mpmp_dict_popitem(d, &last), 0); /* insertion order */
  assert_string_equal(last.keys[0], "new39");
  mpmp_items_free(&last);
  assert_int_equal(mpmp_manager_shutdown(m), 0);
}

/* ---- a task host killed in the middle of its calls ----------------------- */

/* Set, pop and delete keys of d until killed (bounded: 30 s). */
static int churn_body(mpmp_ctx_t *ctx) {
  const mpmp_dict_t *d = mpmp_arg(ctx, NULL);
  unsigned char v[200], got[200];
  char key[16];
  double end = test_now() + 30;
  for (unsigned i = 0; test_now() < end; i++) {
    snprintf(key, sizeof key, "h%u", i % 64);
    memset(v, (int)(i & 0xff), sizeof v);
    (void)mpmp_dict_set(*d, key, v, 1 + i % 199);
    if (i % 3 == 0)
      (void)mpmp_dict_pop(*d, key, got, sizeof got, NULL);
    else if (i % 5 == 0)
      (void)mpmp_dict_del(*d, key);
  }
  return 0;
}
MPMP_TASK(churn_body);

/* A started Manager and a dict of it, for a test of task hosts (skipped
 * where there are none: MPMP_ISOLATE=never). */
static mpmp_dict_t host_test_dict(mpmp_manager_t *m) {
  if (test_hosts_off())
    skip();
  *m = started_manager();
  mpmp_dict_t d;
  assert_int_equal(mpmp_dict_create(*m, &d), 0);
  return d;
}

/* Task hosts killed by task_timeout while they change a dict (a host may
 * die at any instruction): the dict stays whole, every key can be set and
 * read back, and len, contains and items agree. */
static void manager_local_killed_host_leaves_dict_whole(void **state) {
  (void)state;
  mpmp_manager_t m;
  mpmp_dict_t d = host_test_dict(&m);
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.processes = 1, .isolate = MPMP_ISOLATE_ALWAYS,
                        .task_timeout = 0.3};
  int rc = mpmp_pool_create(&pool, &o);
  if (rc == MPMP_EBUSY) { /* no free worker beside the server */
    assert_int_equal(mpmp_manager_shutdown(m), 0);
    skip();
  }
  assert_int_equal(rc, 0);
  mpmp_dict_t in[3] = {d, d, d};
  int32_t res[3];
  rc = mpmp_pool_map(pool, churn_body, in, 3, sizeof d, res, sizeof *res, 1);
  if (rc != MPMP_ETIMEDOUT && rc != MPMP_ECRASHED && rc != MPMP_ETASK)
    fail_msg("map: %s: %s", mpmp_err_name(rc), mpmp_errmsg());
  assert_int_equal(mpmp_pool_destroy(pool), 0);
  size_t n, present = 0;
  for (int k = 0; k < 64; k++) {
    char key[16];
    snprintf(key, sizeof key, "h%d", k);
    int c = mpmp_dict_contains(d, key);
    assert_true(c == 0 || c == 1);
    present += (size_t)c;
  }
  assert_int_equal(mpmp_dict_len(d, &n), 0);
  assert_int_equal(n, present);
  mpmp_items_t it;
  assert_int_equal(mpmp_dict_items(d, &it), 0);
  assert_int_equal(it.count, present);
  mpmp_items_free(&it);
  for (int k = 0; k < 64; k++) {
    char key[16];
    int64_t v = k * 1000 + 7, w = 0;
    snprintf(key, sizeof key, "h%d", k);
    assert_int_equal(mpmp_dict_set(d, key, &v, sizeof v), 0);
    assert_int_equal(mpmp_dict_get(d, key, &w, sizeof w, &n), 0);
    assert_int_equal(n, sizeof w);
    assert_int_equal(w, v);
  }
  assert_int_equal(mpmp_dict_len(d, &n), 0);
  assert_int_equal(n, 64);
  assert_int_equal(mpmp_manager_shutdown(m), 0);
}

/* ---- a task host killed in a set it makes in place ----------------------- */

/* tests/CMakeLists.txt sets MPMP_TEST_HOST_DIE_ON_DICT_SET to this: a task
 * host that sets a value of this length, starting with DIE_MARK, in place
 * dies with half of it written (manager.c, sd_val_set_host). */
enum { DIE_LEN = 103, DIE_MARK = 0xD1 };

typedef struct die_arg {
  mpmp_dict_t d;
  int bad; /* 1: the value's pointer is bad (the host crashes copying it) */
} die_arg_t;

static int set_and_die_body(mpmp_ctx_t *ctx) {
  const die_arg_t *a = mpmp_arg(ctx, NULL);
  unsigned char v[DIE_LEN];
  memset(v, 0xAB, sizeof v);
  v[0] = DIE_MARK;
  (void)mpmp_dict_set(a->d, "k", a->bad ? (const void *)(uintptr_t)64 : v,
                      sizeof v);
  return 0;
}
MPMP_TASK(set_and_die_body);

/* A Process (in a task host) sets a key that is there and dies in the
 * middle: with its new value half written over the old one, or copying
 * the value from a bad pointer before anything changed. The next call on
 * the key (the main rank's get) must read one whole value: the new one in
 * the first case (the stripe's redo record finishes the set), the old one
 * in the second; and the dict works on. Where the Process runs on another
 * node than the server, its set goes through the server (no host dies in
 * the first case) and the same holds. */
static void manager_local_host_dies_in_a_set(void **state) {
  (void)state;
  mpmp_manager_t m;
  mpmp_dict_t d = host_test_dict(&m);
  unsigned char old[DIE_LEN], want[DIE_LEN], got[DIE_LEN + 8];
  memset(old, 0x11, sizeof old);
  memset(want, 0xAB, sizeof want);
  want[0] = DIE_MARK;
  for (int bad = 0; bad <= 1; bad++) {
    size_t n = 0;
    assert_int_equal(mpmp_dict_set(d, "k", old, sizeof old), 0);
    die_arg_t a = {.d = d, .bad = bad};
    mpmp_process_t *p = NULL;
    assert_int_equal(mpmp_process_create(&p, set_and_die_body, &a, sizeof a,
                                         NULL), 0);
    assert_int_equal(mpmp_process_start(p), 0);
    assert_int_equal(mpmp_process_join(p, 60), 0);
    int code = 0;
    assert_int_equal(mpmp_process_exitcode(p, &code), 0);
    mpmp_process_destroy(p);
    if (bad || mpmp_node_count() == 1) /* in place: the host died */
      assert_true(code < 0);
    assert_int_equal(mpmp_dict_get(d, "k", got, sizeof got, &n), 0);
    assert_int_equal(n, DIE_LEN);
    assert_memory_equal(got, bad ? old : want, DIE_LEN);
    int64_t v = 42 + bad, w = 0; /* the stripe is usable again */
    assert_int_equal(mpmp_dict_set(d, "k", &v, sizeof v), 0);
    assert_int_equal(mpmp_dict_get(d, "k", &w, sizeof w, &n), 0);
    assert_int_equal(w, v);
  }
  assert_int_equal(mpmp_manager_shutdown(m), 0);
}

/* ---- a client stopped while it holds a stripe ---------------------------- */

/* Tell the main rank this host's pid, then set "k" in place with a value
 * that (MPMP_TEST_HOST_DIE_ON_DICT_SET) stops the host holding the key's
 * stripe, until the main rank continues it. */
static int set_and_stop_body(mpmp_ctx_t *ctx) {
  const die_arg_t *a = mpmp_arg(ctx, NULL);
  int64_t pid = getpid();
  unsigned char v[DIE_LEN];
  memset(v, 0xAB, sizeof v);
  v[0] = 0xD2;
  if (mpmp_dict_set(a->d, "pid", &pid, sizeof pid) < 0 ||
      mpmp_dict_set(a->d, "k", v, sizeof v) < 0)
    return mpmp_fail(ctx, "%s", mpmp_errmsg());
  return 0;
}
MPMP_TASK(set_and_stop_body);

typedef struct items_call {
  mpmp_dict_t d;
  int rc;
  size_t count;
  double took;
} items_call_t;

static void *items_thread(void *arg) {
  items_call_t *c = arg;
  mpmp_items_t it;
  double t0 = test_now();
  c->rc = mpmp_dict_items(c->d, &it);
  c->took = test_now() - t0;
  if (c->rc == 0) {
    c->count = it.count;
    mpmp_items_free(&it);
  }
  return NULL;
}

/* A client stopped (SIGSTOP) while it holds a stripe of a dict: a call
 * the server runs on the whole dict (items) waits for it, but the
 * server's other calls go on (the server waited for the stripe in its
 * handler, for up to 60 s, and every call of every client on any object
 * waited behind it: a list append took as long as the client stayed
 * stopped). Once the client goes on, the items call completes. */
static void manager_local_stopped_client_does_not_stop_the_server(
    void **state) {
  (void)state;
  mpmp_manager_t m;
  mpmp_dict_t d = host_test_dict(&m);
  mpmp_list_t l;
  assert_int_equal(mpmp_list_create(m, &l), 0);
  unsigned char old[DIE_LEN];
  memset(old, 0x11, sizeof old);
  assert_int_equal(mpmp_dict_set(d, "k", old, sizeof old), 0);
  die_arg_t a = {.d = d};
  mpmp_process_t *p = NULL;
  assert_int_equal(mpmp_process_create(&p, set_and_stop_body, &a, sizeof a,
                                       NULL), 0);
  assert_int_equal(mpmp_process_start(p), 0);
  int64_t pid = 0;
  size_t n;
  char st = 0;
  for (int i = 0; i < 1000 && st != 'T'; i++) { /* 10 s */
    if (pid == 0 && mpmp_dict_get(d, "pid", &pid, sizeof pid, &n) != 0)
      pid = 0;
    if (pid != 0 && (st = test_proc_state((int)pid)) == 0)
      break; /* gone: its set went through the server (another node) */
    test_sleep(0.01);
  }
  if (st == 'T') {
    items_call_t c = {.d = d};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, items_thread, &c), 0);
    test_sleep(0.2); /* (the server has it, and waits for the stripe) */
    int64_t v = 7;
    double t0 = test_now();
    int rc = mpmp_list_append(l, &v, sizeof v);
    double took = test_now() - t0;
    size_t len = 0;
    int lrc = mpmp_list_len(l, &len);
    kill((pid_t)pid, SIGCONT);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(lrc, 0);
    assert_int_equal(len, 1);
    if (took > 2.0)
      fail_msg("a list append took %.2f s while a client of a dict was "
               "stopped in a call", took);
    assert_int_equal(c.rc, 0); /* (after the client went on) */
    assert_int_equal(c.count, 2); /* "pid" and "k" */
    assert_true(c.took >= 0.2);
  }
  assert_int_equal(mpmp_process_join(p, 60), 0);
  int code = -1;
  assert_int_equal(mpmp_process_exitcode(p, &code), 0);
  assert_int_equal(code, 0);
  mpmp_process_destroy(p);
  unsigned char got[DIE_LEN];
  assert_int_equal(mpmp_dict_get(d, "k", got, sizeof got, &n), 0);
  assert_int_equal(n, DIE_LEN);
  assert_int_equal(got[0], 0xD2);
  assert_int_equal(mpmp_list_free(l), 0);
  assert_int_equal(mpmp_manager_shutdown(m), 0);
}

/* ---- hosts killed at any instruction of a get or set ---------------------- */

typedef struct {
  mpmp_dict_t d;
  int sets; /* 0: get "k" over and over; 1: set it */
} loop_t;

/* Tell the main rank this host's pid ("pid"), then get or set "k" until
 * killed (bounded: 20 s). */
static int stripe_loop_body(mpmp_ctx_t *ctx) {
  const loop_t *a = mpmp_arg(ctx, NULL);
  int64_t pid = getpid(), w;
  size_t n;
  (void)mpmp_dict_set(a->d, "pid", &pid, sizeof pid);
  double end = test_now() + 20;
  for (int64_t i = 0; test_now() < end; i++) {
    if (a->sets)
      (void)mpmp_dict_set(a->d, "k", &i, sizeof i);
    else
      (void)mpmp_dict_get(a->d, "k", &w, sizeof w, &n);
  }
  return 0;
}
MPMP_TASK(stripe_loop_body);

/* A client's host SIGKILLed at a random moment of its gets and sets, 100
 * times: the next get of the key answers at once. A host killed between
 * the CAS that took the key's stripe and the store of its name, or
 * between clearing its name and the release, left the stripe held by
 * nobody, and every call on its keys timed out for good after 60 s
 * (helper 69: after 7 to 41 kills); the take now names the host in the
 * same CAS. */
static void manager_local_hosts_killed_at_random_leave_stripes_usable(
    void **state) {
  (void)state;
  mpmp_manager_t m;
  mpmp_dict_t d = host_test_dict(&m);
  int64_t v = 7, w, pid;
  size_t n;
  assert_int_equal(mpmp_dict_set(d, "k", &v, sizeof v), 0);
  srand(12345);
  for (int it = 0; it < 100; it++) {
    loop_t a = {d, it % 4 == 3};
    mpmp_process_t *p = start_process(stripe_loop_body, &a, sizeof a);
    pid = 0;
    for (double end = test_now() + 30; pid == 0 && test_now() < end;)
      if (mpmp_dict_get_or(d, "pid", &pid, sizeof pid, &n, NULL, 0) != 1)
        test_sleep(0.001);
    assert_true(pid > 0 && pid != mpmp_process_pid(p));
    assert_int_equal(mpmp_dict_del(d, "pid"), 0);
    test_sleep(0.005 + 0.001 * (rand() % 30));
    assert_int_equal(kill((pid_t)pid, SIGKILL), 0);
    assert_int_equal(mpmp_process_join(p, 30), 0);
    mpmp_process_destroy(p);
    double t0 = test_now();
    int rc = mpmp_dict_get(d, "k", &w, sizeof w, &n);
    if (rc != 0 || test_now() - t0 > 5)
      fail_msg("kill %d: a get of the key took %.1f s: %s %s", it,
               test_now() - t0, mpmp_err_name(rc), mpmp_errmsg());
  }
  assert_int_equal(mpmp_manager_shutdown(m), 0);
}

static const struct CMUnitTest tests[] = {
    T(manager_local_many_clients),
    T(manager_local_free_and_shutdown_while_used),
    T(manager_local_heap_full),
    T(manager_local_deleted_keys_make_room),
    T(manager_local_killed_host_leaves_dict_whole),
    T(manager_local_host_dies_in_a_set),
    T(manager_local_stopped_client_does_not_stop_the_server),
    T(manager_local_hosts_killed_at_random_leave_stripes_usable),
};

MPMP_TEST_MAIN(tests)
