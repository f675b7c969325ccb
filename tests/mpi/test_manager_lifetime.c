/* Manager servers and handles: handles that travel between ranks, many
 * writers at once (ranks and threads), big values and small buffers, and
 * every error of the server's lifetime (no free worker, use after
 * shutdown, bad handles), with a manager left for mpmp_finalize to shut
 * down. Runs with np2 (the manager takes the only worker: what needs
 * processes is skipped), np4, and on 2 pseudo-nodes, where the server
 * (rank 1) is on the other node than the main rank and rank 2. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manager_common.h"

/* ---- process bodies ------------------------------------------------------ */

/* The code of one call on a handle, as the process's result. */
typedef struct probe_arg {
  mpmp_dict_t d;
  mpmp_list_t l;
  mpmp_namespace_t ns;
  mpmp_manager_t m;
} probe_arg_t;

typedef struct probe_res {
  int dict_get, list_len, ns_get, dict_create, node;
  double seconds;
} probe_res_t;

static int probe(mpmp_ctx_t *ctx) {
  const probe_arg_t *a = mpmp_arg(ctx, NULL);
  probe_res_t *r = mpmp_out(ctx, sizeof *r);
  char buf[16];
  size_t n;
  mpmp_dict_t d2;
  double t0 = test_now();
  r->dict_get = mpmp_dict_get(a->d, "k", buf, sizeof buf, &n);
  r->list_len = mpmp_list_len(a->l, &n);
  r->ns_get = mpmp_namespace_get(a->ns, "x", buf, sizeof buf, &n);
  r->dict_create = mpmp_dict_create(a->m, &d2);
  r->seconds = test_now() - t0;
  r->node = mpmp_node_id();
  return 0;
}
MPMP_TASK(probe);

/* Checks the big value the main rank set, then sets one of its own. */
typedef struct big_arg {
  mpmp_dict_t d;
  size_t size;
} big_arg_t;

static unsigned char pattern(size_t i, unsigned seed) {
  return (unsigned char)((i * 2654435761u) >> 13 ^ seed);
}

static int big_worker(mpmp_ctx_t *ctx) {
  const big_arg_t *a = mpmp_arg(ctx, NULL);
  void *v = NULL;
  size_t n = 0;
  if (mpmp_dict_get_alloc(a->d, "big", &v, &n) < 0)
    return mpmp_fail(ctx, "get_alloc: %s", mpmp_errmsg());
  for (size_t i = 0; i < n; i++)
    if (((unsigned char *)v)[i] != pattern(i, 1)) {
      free(v);
      return mpmp_fail(ctx, "byte %zu differs", i);
    }
  if (n != a->size) {
    free(v);
    return mpmp_fail(ctx, "size %zu, expected %zu", n, a->size);
  }
  for (size_t i = 0; i < n; i++)
    ((unsigned char *)v)[i] = pattern(i, 2);
  int rc = mpmp_dict_set(a->d, "big2", v, n);
  free(v);
  return rc < 0 ? mpmp_fail(ctx, "set: %s", mpmp_errmsg()) : 0;
}
MPMP_TASK(big_worker);

/* Many sets and appends at once from several ranks. */
typedef struct hammer_arg {
  mpmp_dict_t d;
  mpmp_list_t l;
  int id, n;
} hammer_arg_t;

static int hammer_run(const hammer_arg_t *a) {
  for (int i = 0; i < a->n; i++) {
    char key[32];
    int v = a->id * 1000000 + i;
    snprintf(key, sizeof key, "w%d-%d", a->id, i);
    int rc = mpmp_dict_set(a->d, key, &v, sizeof v);
    if (rc < 0 || (rc = mpmp_list_append(a->l, &v, sizeof v)) < 0)
      return rc;
  }
  return 0;
}

static int hammer(mpmp_ctx_t *ctx) {
  return hammer_run(mpmp_arg(ctx, NULL)) < 0
             ? mpmp_fail(ctx, "%s", mpmp_errmsg()) : 0;
}
MPMP_TASK(hammer);

/* Makes a dict from the manager handle it got and returns its handle. */
static int creator(mpmp_ctx_t *ctx) {
  const mpmp_manager_t *m = mpmp_arg(ctx, NULL);
  mpmp_dict_t *d = mpmp_out(ctx, sizeof *d);
  int rank = mpmp_rank();
  if (mpmp_dict_create(*m, d) < 0 ||
      mpmp_dict_set(*d, "made by", &rank, sizeof rank) < 0)
    return mpmp_fail(ctx, "%s", mpmp_errmsg());
  return 0;
}
MPMP_TASK(creator);

/* ---- handles across ranks ------------------------------------------------ */

/* Handles are plain values: a process makes a dict from the manager handle
 * and hands it back; several dicts, lists and Namespaces per manager. */
static void manager_handles_travel(void **state) {
  (void)state;
  if (free_workers_after_manager() < 1)
    skip();
  mpmp_manager_t m = started_manager();
  mpmp_process_t *p = try_start(creator, &m, sizeof m);
  assert_non_null(p);
  int code = -1;
  assert_int_equal(mpmp_process_join(p, 60), 0);
  assert_int_equal(mpmp_process_exitcode(p, &code), 0);
  if (code != 0)
    fail_msg("creator: %s", mpmp_process_errmsg(p));
  const void *res;
  size_t n;
  assert_int_equal(mpmp_process_result(p, &res, &n), 0);
  assert_int_equal(n, sizeof(mpmp_dict_t));
  mpmp_dict_t d;
  memcpy(&d, res, sizeof d);
  assert_int_equal(get_int(d, "made by"), mpmp_process_rank(p));
  mpmp_process_destroy(p);
  mpmp_dict_t more[5];
  mpmp_list_t lists[5];
  for (int i = 0; i < 5; i++) {
    assert_int_equal(mpmp_dict_create(m, &more[i]), 0);
    assert_int_equal(mpmp_list_create(m, &lists[i]), 0);
    assert_int_equal(mpmp_dict_set(more[i], "i", &i, sizeof i), 0);
    assert_int_equal(mpmp_list_append(lists[i], &i, sizeof i), 0);
  }
  for (int i = 0; i < 5; i++) {
    assert_int_equal(get_int(more[i], "i"), i);
    assert_int_equal(list_int(lists[i], 0), i);
  }
  assert_int_equal(mpmp_manager_shutdown(m), 0);
}

/* Several ranks write at once: nothing lost, nothing duplicated. */
static void manager_concurrent_writers(void **state) {
  (void)state;
  enum { PER = 500 };
  mpmp_manager_t m = started_manager();
  hammer_arg_t a = {.n = PER};
  assert_int_equal(mpmp_dict_create(m, &a.d), 0);
  assert_int_equal(mpmp_list_create(m, &a.l), 0);
  mpmp_process_t *ps[8];
  int np = 0;
  for (a.id = 1; a.id <= 8; a.id++) {
    if ((ps[np] = try_start(hammer, &a, sizeof a)) == NULL)
      break;
    np++;
  }
  hammer_arg_t mine = a;
  mine.id = 0;
  assert_int_equal(hammer_run(&mine), 0);
  for (int k = 0; k < np; k++)
    join_destroy_within(ps[k], 60);
  size_t n;
  assert_int_equal(mpmp_dict_len(a.d, &n), 0);
  assert_int_equal(n, (size_t)(np + 1) * PER);
  assert_int_equal(mpmp_list_len(a.l, &n), 0);
  assert_int_equal(n, (size_t)(np + 1) * PER);
  /* each writer's appends in its order */
  mpmp_items_t it;
  assert_int_equal(mpmp_list_slice(a.l, 0, MPMP_LIST_END, &it), 0);
  int next[9] = {0};
  for (size_t k = 0; k < it.count; k++) {
    int v;
    memcpy(&v, it.values[k], sizeof v);
    int id = v / 1000000;
    assert_true(id >= 0 && id <= np);
    assert_int_equal(v % 1000000, next[id]);
    next[id]++;
  }
  mpmp_items_free(&it);
  assert_int_equal(mpmp_manager_shutdown(m), 0);
}

/* Several threads of one rank call at once (each call waits for its own
 * answer). */
typedef struct thread_arg {
  mpmp_dict_t d;
  int id, failed;
} thread_arg_t;

static void *thread_body(void *p) {
  thread_arg_t *a = p;
  for (int i = 0; i < 300 && !a->failed; i++) {
    char key[32];
    int v = a->id * 1000 + i, w = -1;
    size_t n;
    snprintf(key, sizeof key, "t%d", a->id);
    if (mpmp_dict_set(a->d, key, &v, sizeof v) < 0 ||
        mpmp_dict_get(a->d, key, &w, sizeof w, &n) < 0 || w != v)
      a->failed = 1;
  }
  return NULL;
}

static void manager_threads_of_one_rank(void **state) {
  (void)state;
  enum { NT = 4 };
  mpmp_manager_t m = started_manager();
  thread_arg_t a[NT];
  pthread_t t[NT];
  mpmp_dict_t d;
  assert_int_equal(mpmp_dict_create(m, &d), 0);
  for (int i = 0; i < NT; i++) {
    a[i] = (thread_arg_t){d, i, 0};
    assert_int_equal(pthread_create(&t[i], NULL, thread_body, &a[i]), 0);
  }
  for (int i = 0; i < NT; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(a[i].failed, 0);
  }
  size_t n;
  assert_int_equal(mpmp_dict_len(d, &n), 0);
  assert_int_equal(n, NT);
  assert_int_equal(mpmp_manager_shutdown(m), 0);
}

/* ---- big values, sizes and buffers --------------------------------------- */

static void manager_big_values_and_small_buffers(void **state) {
  (void)state;
  const size_t big = (size_t)16 << 20;
  mpmp_manager_t m = started_manager();
  mpmp_dict_t d;
  assert_int_equal(mpmp_dict_create(m, &d), 0);
  unsigned char *v = malloc(big);
  assert_non_null(v);
  for (size_t i = 0; i < big; i++)
    v[i] = pattern(i, 1);
  assert_int_equal(mpmp_dict_set(d, "big", v, big), 0);
  size_t n = 0;
  assert_int_equal(mpmp_dict_size(d, "big", &n), 0);
  assert_int_equal(n, big);
  /* too small a buffer: the size needed, nothing lost */
  char small[100];
  n = 0;
  assert_int_equal(mpmp_dict_get(d, "big", small, sizeof small, &n),
                   MPMP_EMSGSIZE);
  assert_int_equal(n, big);
  assert_non_null(strstr(mpmp_errmsg(), "16777216"));
  assert_int_equal(mpmp_dict_get(d, "big", NULL, 0, &n), MPMP_EMSGSIZE);
  assert_int_equal(n, big);
  assert_int_equal(mpmp_dict_pop(d, "big", small, sizeof small, &n),
                   MPMP_EMSGSIZE);
  assert_int_equal(mpmp_dict_contains(d, "big"), 1);
  unsigned char *back = malloc(big);
  assert_non_null(back);
  memset(back, 0, big);
  assert_int_equal(mpmp_dict_get(d, "big", back, big, &n), 0);
  assert_int_equal(n, big);
  assert_memory_equal(back, v, big);
  /* a worker (on the other node under pseudo2) reads it and writes one */
  if (free_workers_after_manager() >= 1) {
    big_arg_t a = {d, big};
    mpmp_process_t *p = try_start(big_worker, &a, sizeof a);
    assert_non_null(p);
    join_destroy_within(p, 60);
    void *w = NULL;
    assert_int_equal(mpmp_dict_get_alloc(d, "big2", &w, &n), 0);
    assert_int_equal(n, big);
    for (size_t i = 0; i < big; i += 4093)
      assert_int_equal(((unsigned char *)w)[i], pattern(i, 2));
    free(w);
  }
  /* lists too: a small buffer loses nothing on pop */
  mpmp_list_t l;
  assert_int_equal(mpmp_list_create(m, &l), 0);
  assert_int_equal(mpmp_list_append(l, v, big), 0);
  assert_int_equal(mpmp_list_pop(l, 0, small, sizeof small, &n),
                   MPMP_EMSGSIZE);
  assert_int_equal(n, big);
  assert_int_equal(mpmp_list_len(l, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(mpmp_list_pop(l, 0, back, big, &n), 0);
  assert_memory_equal(back, v, big);
  /* over the limits */
  assert_int_equal(mpmp_dict_set(d, "huge", v, MPMP_MANAGER_MAX_VALUE + 1),
                   MPMP_EMSGSIZE);
  assert_non_null(strstr(mpmp_errmsg(), "MPMP_MANAGER_MAX_VALUE"));
  assert_int_equal(mpmp_list_append(l, v, MPMP_MANAGER_MAX_VALUE + 1),
                   MPMP_EMSGSIZE);
  char key[MPMP_MANAGER_MAX_KEY + 2];
  memset(key, 'k', sizeof key - 1);
  key[sizeof key - 1] = '\0';
  assert_int_equal(mpmp_dict_set(d, key, "x", 1), MPMP_EMSGSIZE);
  assert_non_null(strstr(mpmp_errmsg(), "MPMP_MANAGER_MAX_KEY"));
  /* such a key is never there: a lookup's answer is a missing key's
   * (it said MPMP_EMSGSIZE, "the buffer is too small", with n unset) */
  n = 777;
  assert_int_equal(mpmp_dict_get(d, key, small, sizeof small, &n),
                   MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "KeyError"));
  assert_int_equal(n, 777);
  assert_int_equal(mpmp_dict_contains(d, key), 0);
  assert_int_equal(mpmp_dict_del(d, key), MPMP_EINVAL);
  assert_int_equal(mpmp_dict_size(d, key, &n), MPMP_EINVAL); /* (it said
                                                 MPMP_EMSGSIZE; helper 78) */
  assert_non_null(strstr(mpmp_errmsg(), "KeyError"));
  assert_int_equal(mpmp_dict_get_or(d, key, small, sizeof small, &n, "z", 1),
                   0);
  assert_int_equal(n, 1);
  assert_int_equal(small[0], 'z');
  assert_int_equal(mpmp_dict_pop_or(d, key, small, sizeof small, &n, "y", 1),
                   0);
  assert_int_equal(small[0], 'y');
  key[MPMP_MANAGER_MAX_KEY] = '\0'; /* the longest key works */
  assert_int_equal(mpmp_dict_set(d, key, "x", 1), 0);
  assert_int_equal(mpmp_dict_get(d, key, small, sizeof small, &n), 0);
  const char *keys[] = {"ok", key};
  const void *vals[] = {"a", "b"};
  size_t sizes[] = {1, MPMP_MANAGER_MAX_VALUE + 1};
  assert_int_equal(mpmp_dict_update(d, 2, keys, vals, sizes), MPMP_EMSGSIZE);
  assert_non_null(strstr(mpmp_errmsg(), "item 1"));
  assert_int_equal(mpmp_dict_contains(d, "ok"), 0); /* nothing applied */
  free(v);
  free(back);
  assert_int_equal(mpmp_manager_shutdown(m), 0);
}

/* ---- errors -------------------------------------------------------------- */

static void manager_no_free_worker(void **state) {
  (void)state;
  int w = mpmp_worker_count();
  mpmp_manager_t ms[16];
  for (int i = 0; i < w; i++)
    ms[i] = started_manager();
  mpmp_manager_t extra;
  assert_int_equal(mpmp_manager_start(&extra), MPMP_EBUSY);
  assert_non_null(strstr(mpmp_errmsg(), "no free worker rank"));
  assert_non_null(strstr(mpmp_errmsg(), "mpirun -n"));
  /* a failed start leaves a handle that is no handle */
  assert_int_equal(mpmp_manager_alive(extra), MPMP_EBADF);
  /* and processes cannot start either */
  mpmp_process_t *p = try_start(fill_worker, NULL, 0);
  assert_null(p);
  /* each manager works on its own */
  mpmp_dict_t ds[16];
  for (int i = 0; i < w; i++) {
    assert_int_equal(mpmp_dict_create(ms[i], &ds[i]), 0);
    assert_int_equal(mpmp_dict_set(ds[i], "i", &i, sizeof i), 0);
    assert_int_equal(mpmp_manager_rank(ms[i]), i + 1);
  }
  for (int i = 0; i < w; i++)
    assert_int_equal(get_int(ds[i], "i"), i);
  for (int i = 0; i < w; i++)
    assert_int_equal(mpmp_manager_shutdown(ms[i]), 0);
  /* the ranks are free again */
  mpmp_manager_t again = started_manager();
  assert_int_equal(mpmp_manager_shutdown(again), 0);
}

static void manager_use_after_shutdown_is_edead(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  probe_arg_t a = {.m = m};
  assert_int_equal(mpmp_dict_create(m, &a.d), 0);
  assert_int_equal(mpmp_list_create(m, &a.l), 0);
  assert_int_equal(mpmp_namespace_create(m, &a.ns), 0);
  assert_int_equal(mpmp_dict_set(a.d, "k", "v", 1), 0);
  assert_int_equal(mpmp_manager_alive(m), 0);
  int server = mpmp_manager_rank(m);
  assert_true(server > 0);
  assert_int_equal(mpmp_manager_shutdown(m), 0);
  assert_int_equal(mpmp_manager_shutdown(m), 0); /* twice: nothing to do */
  assert_int_equal(mpmp_manager_rank(m), MPMP_EDEAD);
  double t0 = test_now();
  char buf[8];
  size_t n;
  assert_int_equal(mpmp_manager_alive(m), MPMP_EDEAD);
  assert_int_equal(mpmp_dict_get(a.d, "k", buf, sizeof buf, &n), MPMP_EDEAD);
  assert_non_null(strstr(mpmp_errmsg(), "shut down"));
  assert_int_equal(mpmp_dict_set(a.d, "k", "v", 1), MPMP_EDEAD);
  assert_int_equal(mpmp_list_append(a.l, "v", 1), MPMP_EDEAD);
  assert_int_equal(mpmp_namespace_set(a.ns, "x", "v", 1), MPMP_EDEAD);
  mpmp_dict_t d2;
  assert_int_equal(mpmp_dict_create(m, &d2), MPMP_EDEAD);
  assert_true(test_now() - t0 < 1.0);
  /* from a process: on the rank that served the manager (it is free again
   * and the lowest free one), then on another one if there is one */
  for (int round = 0; round < 2; round++) {
    mpmp_process_t *p[2] = {try_start(probe, &a, sizeof a), NULL};
    if (round == 1 && p[0] != NULL)
      p[1] = try_start(probe, &a, sizeof a); /* rank 2 */
    if (p[0] == NULL)
      break;
    for (int k = 0; k < 2 && p[k] != NULL; k++) {
      const void *res;
      assert_int_equal(mpmp_process_join(p[k], 60), 0);
      assert_int_equal(mpmp_process_result(p[k], &res, &n), 0);
      assert_int_equal(n, sizeof(probe_res_t));
      probe_res_t r;
      memcpy(&r, res, sizeof r);
      assert_int_equal(r.dict_get, MPMP_EDEAD);
      assert_int_equal(r.list_len, MPMP_EDEAD);
      assert_int_equal(r.ns_get, MPMP_EDEAD);
      assert_int_equal(r.dict_create, MPMP_EDEAD);
      assert_true(r.seconds < 1.0);
      /* pseudo2: rank 1, the server, is on the other node than the main
       * rank (and rank 2), so the calls above crossed nodes */
      if (mpmp_node_count() == 2 && mpmp_process_rank(p[k]) == 1)
        assert_int_not_equal(r.node, mpmp_node_id());
      mpmp_process_destroy(p[k]);
    }
  }
  /* a new manager on the same rank does not revive the old handles */
  mpmp_manager_t m2 = started_manager();
  assert_int_equal(mpmp_manager_rank(m2), server);
  assert_int_equal(mpmp_dict_get(a.d, "k", buf, sizeof buf, &n), MPMP_EDEAD);
  assert_int_equal(mpmp_manager_shutdown(m2), 0);
}

/* The Manager's server is a Process that mpmp_active_children() lists:
 * the user may terminate and join it, but not destroy it, since the
 * Manager's shutdown joins and destroys it (it read freed memory there,
 * and at finalize; helper 78). */
static void manager_server_process_is_not_the_users_to_destroy(void **st) {
  (void)st;
  mpmp_manager_t m = started_manager();
  mpmp_process_t *kids[16];
  int n = mpmp_active_children(kids, 16), found = 0;
  assert_true(n >= 1);
  for (int k = 0; k < n && k < 16; k++) {
    if (mpmp_process_rank(kids[k]) != mpmp_manager_rank(m))
      continue;
    found = 1;
    assert_int_equal(mpmp_process_destroy(kids[k]), MPMP_EPERM);
    assert_non_null(strstr(mpmp_errmsg(), "mpmp_manager_shutdown()"));
    assert_int_equal(mpmp_process_terminate(kids[k]), 0);
    assert_int_equal(mpmp_process_join(kids[k], 30), 0);
    assert_int_equal(mpmp_process_destroy(kids[k]), MPMP_EPERM);
  }
  assert_true(found);
  assert_int_equal(mpmp_manager_shutdown(m), 0);
}

static void manager_bad_handles(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  mpmp_dict_t d, zero_d;
  mpmp_list_t l;
  assert_int_equal(mpmp_dict_create(m, &d), 0);
  assert_int_equal(mpmp_list_create(m, &l), 0);
  memset(&zero_d, 0, sizeof zero_d);
  size_t n;
  char buf[8];
  assert_int_equal(mpmp_dict_set(zero_d, "k", "v", 1), MPMP_EBADF);
  assert_non_null(strstr(mpmp_errmsg(), "never created"));
  mpmp_manager_t zero_m;
  memset(&zero_m, 0, sizeof zero_m);
  assert_int_equal(mpmp_dict_create(zero_m, &d), MPMP_EBADF);
  assert_int_equal(mpmp_manager_shutdown(zero_m), MPMP_EBADF);
  assert_int_equal(mpmp_dict_create(m, &d), 0);
  /* random bytes: never a crash */
  unsigned seed = 777;
  for (int i = 0; i < 2000; i++) {
    mpmp_dict_t g;
    unsigned char *b = (unsigned char *)&g;
    for (size_t k = 0; k < sizeof g; k++) {
      seed = seed * 1103515245u + 12345u;
      b[k] = (unsigned char)(seed >> 16);
    }
    if (i % 2) /* plausible fields, wrong tag */
      g.ref = d.ref, g.ref.tag ^= 1u << (i % 32);
    assert_int_equal(mpmp_dict_get(g, "k", buf, sizeof buf, &n), MPMP_EBADF);
  }
  /* each field of a real handle is covered by the tag */
  for (size_t byte = 0; byte < sizeof d; byte++) {
    mpmp_dict_t g = d;
    ((unsigned char *)&g)[byte] ^= 0x10;
    assert_int_equal(mpmp_dict_contains(g, "k"), MPMP_EBADF);
  }
  /* a handle of another kind */
  mpmp_dict_t l_as_d;
  memcpy(&l_as_d, &l, sizeof l_as_d);
  assert_int_equal(mpmp_dict_len(l_as_d, &n), MPMP_EBADF);
  assert_non_null(strstr(mpmp_errmsg(), "list, not of a dict"));
  mpmp_manager_t d_as_m;
  memcpy(&d_as_m, &d, sizeof d_as_m);
  assert_int_equal(mpmp_manager_shutdown(d_as_m), MPMP_EBADF);
  assert_int_equal(mpmp_list_create(d_as_m, &l), MPMP_EBADF);
  /* NULL arguments */
  assert_int_equal(mpmp_manager_start(NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_dict_create(m, NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_dict_set(d, NULL, "v", 1), MPMP_EINVAL);
  assert_int_equal(mpmp_dict_set(d, "k", NULL, 1), MPMP_EINVAL);
  assert_int_equal(mpmp_dict_get(d, "k", NULL, 8, &n), MPMP_EINVAL);
  assert_int_equal(mpmp_dict_len(d, NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_dict_keys(d, NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_dict_update(d, 1, NULL, NULL, NULL), MPMP_EINVAL);
  assert_int_equal(mpmp_list_get_alloc(l, 0, NULL, &n), MPMP_EINVAL);
  mpmp_items_free(NULL);
  /* the good handles still work */
  assert_int_equal(mpmp_dict_set(d, "k", "v", 1), 0);
  assert_int_equal(mpmp_dict_len(d, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(mpmp_manager_shutdown(m), 0);
}

/* Left running on purpose: mpmp_finalize() shuts it down (the job would
 * hang or fail at the end otherwise). */
static void manager_left_for_finalize(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  mpmp_dict_t d;
  assert_int_equal(mpmp_dict_create(m, &d), 0);
  assert_int_equal(mpmp_dict_set(d, "k", "v", 1), 0);
}
static const struct CMUnitTest tests[] = {
    T(manager_handles_travel),
    T(manager_concurrent_writers),
    T(manager_threads_of_one_rank),
    T(manager_big_values_and_small_buffers),
    T(manager_no_free_worker),
    T(manager_use_after_shutdown_is_edead),
    T(manager_bad_handles),
    T(manager_server_process_is_not_the_users_to_destroy),
    cmocka_unit_test(manager_left_for_finalize), /* last: no teardown */
};

MPMP_TEST_MAIN(tests)
