/* Manager proxies: the tutorials' Manager examples and every dict, list
 * and Namespace operation. Runs with np2 (the manager takes the only
 * worker: what needs processes is skipped), np4, and on 2 pseudo-nodes,
 * where the server (rank 1) is on the other node than the main rank and
 * rank 2. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manager_common.h"

/* ---- process bodies ------------------------------------------------------ */

/* prod(x, results, key) of the tutorial (without the sleeps) */
typedef struct prod_arg {
  mpmp_dict_t results;
  int x[9];
  char key[16];
} prod_arg_t;

static int prod(mpmp_ctx_t *ctx) {
  const prod_arg_t *a = mpmp_arg(ctx, NULL);
  long square = 0;
  for (int i = 0; i < 9; i++)
    square += (long)a->x[i] * a->x[i];
  if (mpmp_dict_set(a->results, a->key, &square, sizeof square) < 0)
    return mpmp_fail(ctx, "%s", mpmp_errmsg());
  return 0;
}
MPMP_TASK(prod);

/* ---- the tutorials ------------------------------------------------------- */

/* with Manager() as manager: 4 processes fill a dict and a list */
static void manager_dict_and_list_filled_by_four_processes(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  mpmp_dict_t d;
  mpmp_list_t l;
  assert_int_equal(mpmp_dict_create(m, &d), 0);
  assert_int_equal(mpmp_list_create(m, &l), 0);
  /* as many at once as there are free workers; the main rank does the
   * items when there is none (np2: the manager took the only worker) */
  for (int i = 0; i < 4;) {
    mpmp_process_t *ps[4];
    int n = 0;
    for (; i < 4; i++) {
      fill_arg_t a = {d, l, i};
      if ((ps[n] = try_start(fill_worker, &a, sizeof a)) == NULL)
        break;
      n++;
    }
    if (n == 0)
      assert_int_equal(fill_one(d, l, i++), 0);
    for (int k = 0; k < n; k++)
      join_destroy_within(ps[k], 60);
  }
  /* {'key0': 0, 'key1': 1, 'key2': 2, 'key3': 3} */
  size_t len = 0;
  assert_int_equal(mpmp_dict_len(d, &len), 0);
  assert_int_equal(len, 4);
  for (int i = 0; i < 4; i++) {
    char key[16];
    snprintf(key, sizeof key, "key%d", i);
    assert_int_equal(get_int(d, key), i);
  }
  /* [0, 1, 2, 3] in any order */
  mpmp_items_t it;
  assert_int_equal(mpmp_list_slice(l, 0, MPMP_LIST_END, &it), 0);
  assert_int_equal(it.count, 4);
  int seen = 0;
  for (size_t k = 0; k < it.count; k++) {
    int v;
    assert_int_equal(it.sizes[k], sizeof v);
    memcpy(&v, it.values[k], sizeof v);
    assert_true(v >= 0 && v < 4);
    seen |= 1 << v;
  }
  assert_int_equal(seen, 15);
  mpmp_items_free(&it);
  assert_int_equal(mpmp_manager_shutdown(m), 0);
}

/* mp7.py: prod() writes its sum of squares into a Manager dict */
static void manager_sum_of_squares_from_a_process(void **state) {
  (void)state;
  if (free_workers_after_manager() < 1)
    skip(); /* np2: the manager takes the only worker */
  mpmp_manager_t m = started_manager();
  prod_arg_t a = {.x = {1, 2, 3, 4, 5, 6, 7, 8, 9}, .key = "square_sum"};
  assert_int_equal(mpmp_dict_create(m, &a.results), 0);
  mpmp_process_t *p = try_start(prod, &a, sizeof a);
  assert_non_null(p);
  join_destroy_within(p, 60);
  long total = 0;
  size_t n = 0;
  assert_int_equal(mpmp_dict_get(a.results, "square_sum", &total,
                                 sizeof total, &n), 0);
  assert_int_equal(n, sizeof total);
  assert_int_equal(total, 285);
  printf("Total sum of squares: %ld\n", total);
  assert_int_equal(mpmp_manager_shutdown(m), 0);
}

/* ---- dict ---------------------------------------------------------------- */

static void manager_dict_operations(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  mpmp_dict_t d;
  assert_int_equal(mpmp_dict_create(m, &d), 0);
  char buf[64];
  size_t n = 99;
  assert_int_equal(mpmp_dict_len(d, &n), 0);
  assert_int_equal(n, 0);
  assert_int_equal(mpmp_dict_set(d, "a", "one", 3), 0);
  assert_int_equal(mpmp_dict_set(d, "b", "two", 3), 0);
  assert_int_equal(mpmp_dict_set(d, "", "empty key", 9), 0);
  assert_int_equal(mpmp_dict_set(d, "zero", NULL, 0), 0);
  assert_int_equal(mpmp_dict_set(d, "a", "ONE!", 4), 0); /* keeps its place */
  assert_int_equal(mpmp_dict_get(d, "a", buf, sizeof buf, &n), 0);
  assert_int_equal(n, 4);
  assert_memory_equal(buf, "ONE!", 4);
  assert_int_equal(mpmp_dict_get(d, "", buf, sizeof buf, &n), 0);
  assert_memory_equal(buf, "empty key", 9);
  assert_int_equal(mpmp_dict_get(d, "zero", buf, sizeof buf, &n), 0);
  assert_int_equal(n, 0);
  assert_int_equal(mpmp_dict_size(d, "b", &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(mpmp_dict_contains(d, "b"), 1);
  assert_int_equal(mpmp_dict_contains(d, "c"), 0);
  /* KeyError */
  assert_int_equal(mpmp_dict_get(d, "c", buf, sizeof buf, &n), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "mpmp_dict_get"));
  assert_non_null(strstr(mpmp_errmsg(), "no key 'c'"));
  assert_int_equal(mpmp_dict_del(d, "c"), MPMP_EINVAL);
  assert_int_equal(mpmp_dict_pop(d, "c", buf, sizeof buf, &n), MPMP_EINVAL);
  assert_int_equal(mpmp_dict_size(d, "c", &n), MPMP_EINVAL);
  /* d.get(key, default) */
  assert_int_equal(mpmp_dict_get_or(d, "c", buf, sizeof buf, &n, "dflt", 4), 0);
  assert_int_equal(n, 4);
  assert_memory_equal(buf, "dflt", 4);
  assert_int_equal(mpmp_dict_get_or(d, "b", buf, sizeof buf, &n, "dflt", 4), 1);
  assert_memory_equal(buf, "two", 3);
  /* keys() and items() in insertion order */
  mpmp_items_t it;
  assert_int_equal(mpmp_dict_keys(d, &it), 0);
  assert_int_equal(it.count, 4);
  assert_null(it.values);
  assert_string_equal(it.keys[0], "a");
  assert_string_equal(it.keys[1], "b");
  assert_string_equal(it.keys[2], "");
  assert_string_equal(it.keys[3], "zero");
  mpmp_items_free(&it);
  assert_int_equal(mpmp_dict_del(d, "b"), 0);
  assert_int_equal(mpmp_dict_items(d, &it), 0);
  assert_int_equal(it.count, 3);
  assert_string_equal(it.keys[0], "a");
  assert_int_equal(it.sizes[0], 4);
  assert_memory_equal(it.values[0], "ONE!", 4);
  assert_string_equal(it.keys[2], "zero");
  assert_int_equal(it.sizes[2], 0);
  assert_int_equal((uintptr_t)it.values[0] % 8, 0);
  /* update() from another dict's items() */
  mpmp_dict_t d2;
  assert_int_equal(mpmp_dict_create(m, &d2), 0);
  assert_int_equal(mpmp_dict_set(d2, "a", "old", 3), 0);
  assert_int_equal(mpmp_dict_update(d2, it.count, it.keys, it.values,
                                    it.sizes), 0);
  mpmp_items_free(&it);
  assert_int_equal(mpmp_dict_len(d2, &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(mpmp_dict_get(d2, "a", buf, sizeof buf, &n), 0);
  assert_memory_equal(buf, "ONE!", 4);
  const char *keys[] = {"x", "y", "x"};
  const void *vals[] = {"1", "2", "3"};
  size_t sizes[] = {1, 1, 1};
  assert_int_equal(mpmp_dict_update(d2, 3, keys, vals, sizes), 0);
  assert_int_equal(mpmp_dict_get(d2, "x", buf, sizeof buf, &n), 0);
  assert_memory_equal(buf, "3", 1); /* the later duplicate wins */
  assert_int_equal(mpmp_dict_update(d2, 0, NULL, NULL, NULL), 0);
  /* pop() */
  assert_int_equal(mpmp_dict_pop(d2, "y", buf, sizeof buf, &n), 0);
  assert_memory_equal(buf, "2", 1);
  assert_int_equal(mpmp_dict_contains(d2, "y"), 0);
  void *v = NULL;
  assert_int_equal(mpmp_dict_pop_alloc(d2, "x", &v, &n), 0);
  assert_int_equal(n, 1);
  assert_memory_equal(v, "3", 1);
  free(v);
  /* clear() */
  assert_int_equal(mpmp_dict_clear(d2), 0);
  assert_int_equal(mpmp_dict_len(d2, &n), 0);
  assert_int_equal(n, 0);
  assert_int_equal(mpmp_dict_set(d2, "again", "x", 1), 0);
  assert_int_equal(mpmp_dict_len(d2, &n), 0);
  assert_int_equal(n, 1);
  /* the two dicts are separate */
  assert_int_equal(mpmp_dict_contains(d, "again"), 0);
  /* freed: stale handle */
  assert_int_equal(mpmp_dict_free(d2), 0);
  assert_int_equal(mpmp_dict_len(d2, &n), MPMP_EBADF);
  assert_non_null(strstr(mpmp_errmsg(), "freed"));
  assert_int_equal(mpmp_dict_free(d2), MPMP_EBADF);
  assert_int_equal(mpmp_manager_shutdown(m), 0);
}

/* CPython's test_dict (keys, values, items of a filled dict) and the
 * MutableMapping methods of test_dict_isinstance that Python adds on top:
 * values, popitem, setdefault, pop(key, default); other keys and values:
 * the words of a sentence and their lengths. */
static void manager_dict_python_methods(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  mpmp_dict_t d;
  assert_int_equal(mpmp_dict_create(m, &d), 0);
  const char *words[] = {"manager", "dict", "holds", "bytes"};
  for (int k = 0; k < 4; k++) {
    int64_t len = (int64_t)strlen(words[k]);
    assert_int_equal(mpmp_dict_set(d, words[k], &len, sizeof len), 0);
  }
  /* values(), in insertion order, as keys() and items() */
  mpmp_items_t it;
  assert_int_equal(mpmp_dict_values(d, &it), 0);
  assert_int_equal(it.count, 4);
  assert_null(it.keys);
  for (int k = 0; k < 4; k++) {
    int64_t len;
    assert_int_equal(it.sizes[k], sizeof len);
    memcpy(&len, it.values[k], sizeof len);
    assert_int_equal(len, (int64_t)strlen(words[k]));
  }
  mpmp_items_free(&it);
  /* setdefault: present -> its value (1), nothing changes */
  int64_t got = 0, def = 42;
  size_t n = 0;
  assert_int_equal(mpmp_dict_setdefault(d, "dict", &def, sizeof def, &got,
                                        sizeof got, &n), 1);
  assert_int_equal(got, 4);
  assert_int_equal(n, sizeof got);
  /* missing -> set to the default, which comes back (0) */
  got = 0;
  assert_int_equal(mpmp_dict_setdefault(d, "new", &def, sizeof def, &got,
                                        sizeof got, &n), 0);
  assert_int_equal(got, 42);
  got = 0;
  assert_int_equal(mpmp_dict_get(d, "new", &got, sizeof got, &n), 0);
  assert_int_equal(got, 42);
  /* a buffer too small: nothing set, the size needed told */
  char small[2];
  assert_int_equal(mpmp_dict_setdefault(d, "other", &def, sizeof def, small,
                                        sizeof small, &n), MPMP_EMSGSIZE);
  assert_int_equal(n, sizeof def);
  assert_int_equal(mpmp_dict_contains(d, "other"), 0);
  /* no buffer: only set (and the size) */
  assert_int_equal(mpmp_dict_setdefault(d, "other", "xyz", 3, NULL, 0, &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(mpmp_dict_setdefault(d, "other", "ignored", 7, NULL, 0,
                                        &n), 1);
  assert_int_equal(n, 3);
  /* pop(key, default) */
  got = 0;
  assert_int_equal(mpmp_dict_pop_or(d, "holds", &got, sizeof got, &n, &def,
                                    sizeof def), 1);
  assert_int_equal(got, 5);
  assert_int_equal(mpmp_dict_contains(d, "holds"), 0);
  assert_int_equal(mpmp_dict_pop_or(d, "holds", &got, sizeof got, &n, &def,
                                    sizeof def), 0);
  assert_int_equal(got, 42);
  assert_int_equal(mpmp_dict_pop_or(d, "dict", small, sizeof small, &n, &def,
                                    sizeof def), MPMP_EMSGSIZE);
  assert_int_equal(mpmp_dict_contains(d, "dict"), 1); /* nothing lost */
  /* popitem: last in, first out: other, new, bytes, dict, manager */
  const char *order[] = {"other", "new", "bytes", "dict", "manager"};
  for (int k = 0; k < 5; k++) {
    assert_int_equal(mpmp_dict_popitem(d, &it), 0);
    assert_int_equal(it.count, 1);
    assert_string_equal(it.keys[0], order[k]);
    if (k == 0) {
      assert_int_equal(it.sizes[0], 3);
      assert_memory_equal(it.values[0], "xyz", 3);
    }
    mpmp_items_free(&it);
    assert_int_equal(mpmp_dict_contains(d, order[k]), 0);
  }
  /* empty: KeyError */
  assert_int_equal(mpmp_dict_popitem(d, &it), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "KeyError"));
  assert_int_equal(it.count, 0);
  assert_int_equal(mpmp_dict_len(d, &n), 0);
  assert_int_equal(n, 0);
  /* popitem after deletes in the middle and re-inserts */
  for (int k = 0; k < 4; k++)
    assert_int_equal(mpmp_dict_set(d, words[k], "v", 1), 0);
  assert_int_equal(mpmp_dict_del(d, "bytes"), 0);
  assert_int_equal(mpmp_dict_set(d, "manager", "w", 1), 0); /* keeps place */
  assert_int_equal(mpmp_dict_popitem(d, &it), 0);
  assert_string_equal(it.keys[0], "holds");
  mpmp_items_free(&it);
  assert_int_equal(mpmp_dict_set(d, "last", "z", 1), 0);
  assert_int_equal(mpmp_dict_popitem(d, &it), 0);
  assert_string_equal(it.keys[0], "last");
  mpmp_items_free(&it);
  assert_int_equal(mpmp_dict_popitem(d, &it), 0);
  assert_string_equal(it.keys[0], "dict");
  mpmp_items_free(&it);
  assert_int_equal(mpmp_dict_popitem(d, &it), 0);
  assert_string_equal(it.keys[0], "manager");
  assert_memory_equal(it.values[0], "w", 1);
  mpmp_items_free(&it);
  assert_int_equal(mpmp_dict_len(d, &n), 0);
  assert_int_equal(n, 0);
  assert_int_equal(mpmp_manager_shutdown(m), 0);
}

/* Many keys, deletes and re-inserts against a model (the hash table grows,
 * compacts and reuses slots). */
static void manager_dict_many_keys(void **state) {
  (void)state;
  enum { N = 3000 };
  mpmp_manager_t m = started_manager();
  mpmp_dict_t d;
  assert_int_equal(mpmp_dict_create(m, &d), 0);
  static int model[N]; /* -1: absent */
  for (int i = 0; i < N; i++)
    model[i] = -1;
  unsigned seed = 12345;
  for (int step = 0; step < 4 * N; step++) {
    seed = seed * 1103515245u + 12345u;
    int k = (int)((seed >> 8) % N), op = (int)((seed >> 4) % 4);
    char key[32];
    snprintf(key, sizeof key, "key-%d", k);
    if (op < 3) {
      assert_int_equal(mpmp_dict_set(d, key, &step, sizeof step), 0);
      model[k] = step;
    } else {
      assert_int_equal(mpmp_dict_del(d, key), model[k] < 0 ? MPMP_EINVAL : 0);
      model[k] = -1;
    }
  }
  size_t live = 0, n = 0;
  for (int i = 0; i < N; i++)
    live += model[i] >= 0;
  assert_int_equal(mpmp_dict_len(d, &n), 0);
  assert_int_equal(n, live);
  mpmp_items_t it;
  assert_int_equal(mpmp_dict_items(d, &it), 0);
  assert_int_equal(it.count, live);
  for (size_t j = 0; j < it.count; j++) {
    int k = atoi(it.keys[j] + 4), v;
    memcpy(&v, it.values[j], sizeof v);
    assert_int_equal(v, model[k]);
  }
  mpmp_items_free(&it);
  for (int i = 0; i < N; i += 7) {
    char key[32];
    snprintf(key, sizeof key, "key-%d", i);
    assert_int_equal(mpmp_dict_contains(d, key), model[i] >= 0);
  }
  assert_int_equal(mpmp_manager_shutdown(m), 0);
}

/* ---- list ---------------------------------------------------------------- */

static void manager_list_operations(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  mpmp_list_t l;
  assert_int_equal(mpmp_list_create(m, &l), 0);
  size_t n = 99;
  int v = 0;
  assert_int_equal(mpmp_list_len(l, &n), 0);
  assert_int_equal(n, 0);
  /* IndexError on an empty list */
  assert_int_equal(mpmp_list_get(l, 0, &v, sizeof v, &n), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "empty"));
  assert_int_equal(mpmp_list_pop(l, -1, &v, sizeof v, &n), MPMP_EINVAL);
  for (v = 0; v < 3; v++)
    assert_int_equal(mpmp_list_append(l, &v, sizeof v), 0); /* [0 1 2] */
  int e[3] = {3, 4, 5};
  const void *vals[3] = {&e[0], &e[1], &e[2]};
  size_t sizes[3] = {sizeof(int), sizeof(int), sizeof(int)};
  assert_int_equal(mpmp_list_extend(l, 3, vals, sizes), 0); /* [0..5] */
  assert_int_equal(mpmp_list_extend(l, 0, NULL, NULL), 0);
  assert_int_equal(mpmp_list_len(l, &n), 0);
  assert_int_equal(n, 6);
  assert_int_equal(list_int(l, 0), 0);
  assert_int_equal(list_int(l, 5), 5);
  assert_int_equal(list_int(l, -1), 5);
  assert_int_equal(list_int(l, -6), 0);
  /* bounds */
  assert_int_equal(mpmp_list_get(l, 6, &v, sizeof v, &n), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "index 6 out of range"));
  assert_non_null(strstr(mpmp_errmsg(), "6 items"));
  assert_int_equal(mpmp_list_get(l, -7, &v, sizeof v, &n), MPMP_EINVAL);
  assert_int_equal(mpmp_list_get(l, INT64_MAX, &v, sizeof v, &n), MPMP_EINVAL);
  assert_int_equal(mpmp_list_get(l, INT64_MIN, &v, sizeof v, &n), MPMP_EINVAL);
  assert_int_equal(mpmp_list_set(l, 6, &v, sizeof v), MPMP_EINVAL);
  assert_int_equal(mpmp_list_pop(l, 6, &v, sizeof v, &n), MPMP_EINVAL);
  /* set, insert, pop */
  v = 10;
  assert_int_equal(mpmp_list_set(l, -1, &v, sizeof v), 0); /* [0 1 2 3 4 10] */
  v = 20;
  /* [20 0 1 2 3 4 10] */
  assert_int_equal(mpmp_list_insert(l, 0, &v, sizeof v), 0);
  v = 30;
  assert_int_equal(mpmp_list_insert(l, 7, &v, sizeof v), 0); /* at the end */
  v = 40;
  /* before the last */
  assert_int_equal(mpmp_list_insert(l, -1, &v, sizeof v), 0);
  /* [20 0 1 2 3 4 10 40 30] */
  assert_int_equal(mpmp_list_pop(l, -1, &v, sizeof v, &n), 0);
  assert_int_equal(v, 30);
  assert_int_equal(mpmp_list_pop(l, 0, &v, sizeof v, &n), 0);
  assert_int_equal(v, 20);
  void *p = NULL;
  assert_int_equal(mpmp_list_pop_alloc(l, 1, &p, &n), 0); /* the 1 */
  assert_int_equal(n, sizeof v);
  memcpy(&v, p, sizeof v);
  free(p);
  assert_int_equal(v, 1);
  assert_int_equal(mpmp_list_get_alloc(l, 1, &p, &n), 0);
  memcpy(&v, p, sizeof v);
  free(p);
  assert_int_equal(v, 2);
  /* [0 2 3 4 10 40]: slices as in Python */
  int want[] = {0, 2, 3, 4, 10, 40};
  struct { int64_t a, b; int from, count; } cases[] = {
      {0, MPMP_LIST_END, 0, 6}, {1, 3, 1, 2}, {-2, MPMP_LIST_END, 4, 2},
      {-100, 2, 0, 2},      {4, 2, 0, 0}, {6, 10, 0, 0}, {0, -1, 0, 5}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    mpmp_items_t it;
    assert_int_equal(mpmp_list_slice(l, cases[c].a, cases[c].b, &it), 0);
    assert_int_equal(it.count, (size_t)cases[c].count);
    assert_null(it.keys);
    for (size_t k = 0; k < it.count; k++) {
      memcpy(&v, it.values[k], sizeof v);
      assert_int_equal(v, want[cases[c].from + (int)k]);
    }
    mpmp_items_free(&it);
  }
  /* values of different sizes */
  assert_int_equal(mpmp_list_append(l, "hello", 5), 0);
  assert_int_equal(mpmp_list_append(l, NULL, 0), 0);
  char buf[16];
  assert_int_equal(mpmp_list_get(l, -2, buf, sizeof buf, &n), 0);
  assert_int_equal(n, 5);
  assert_memory_equal(buf, "hello", 5);
  assert_int_equal(mpmp_list_get(l, -1, buf, sizeof buf, &n), 0);
  assert_int_equal(n, 0);
  assert_int_equal(mpmp_list_free(l), 0);
  assert_int_equal(mpmp_list_len(l, &n), MPMP_EBADF);
  assert_int_equal(mpmp_manager_shutdown(m), 0);
}


/* ---- Python's list methods ---------------------------------------------- */

static void append_i64(mpmp_list_t l, int64_t x) {
  assert_int_equal(mpmp_list_append(l, &x, sizeof x), 0);
}

/* The list's items as int64s into out (at most max); their number. */
static size_t list_i64s(mpmp_list_t l, int64_t *out, size_t max) {
  mpmp_items_t it;
  assert_int_equal(mpmp_list_slice(l, 0, MPMP_LIST_END, &it), 0);
  assert_true(it.count <= max);
  for (size_t k = 0; k < it.count; k++) {
    assert_int_equal(it.sizes[k], sizeof(int64_t));
    memcpy(&out[k], it.values[k], sizeof(int64_t));
  }
  size_t n = it.count;
  mpmp_items_free(&it);
  return n;
}

#define ASSERT_LIST(l, ...)                                                 \
  do {                                                                      \
    const int64_t want_[] = {__VA_ARGS__};                                  \
    int64_t got_[64];                                                       \
    size_t n_ = list_i64s(l, got_, 64);                                     \
    assert_int_equal(n_, sizeof want_ / sizeof want_[0]);                   \
    for (size_t k_ = 0; k_ < n_; k_++)                                      \
      assert_int_equal(got_[k_], want_[k_]);                                \
  } while (0)

/* CPython's test_list and test_list_isinstance (the MutableSequence
 * methods: __contains__, __delitem__, count, index, remove, reverse, clear,
 * insert), with other values: a list of squares with repeats. */
static void manager_list_python_methods(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  mpmp_list_t l;
  assert_int_equal(mpmp_list_create(m, &l), 0);
  /* [0, 1, 4, 9, 16, 1, 4] */
  for (int64_t i = 0; i < 5; i++)
    append_i64(l, i * i);
  append_i64(l, 1);
  append_i64(l, 4);
  int64_t x = 4, absent = 7;
  size_t n = 99, at = 99;
  /* in */
  assert_int_equal(mpmp_list_contains(l, &x, sizeof x), 1);
  assert_int_equal(mpmp_list_contains(l, &absent, sizeof absent), 0);
  assert_int_equal(mpmp_list_contains(l, &x, 4), 0); /* other bytes */
  assert_int_equal(mpmp_list_contains(l, NULL, 0), 0);
  /* count */
  assert_int_equal(mpmp_list_count(l, &x, sizeof x, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(mpmp_list_count(l, &absent, sizeof absent, &n), 0);
  assert_int_equal(n, 0);
  /* index(x), index(x, start), index(x, start, stop), negative bounds */
  assert_int_equal(mpmp_list_index(l, &x, sizeof x, 0, MPMP_LIST_END, &at), 0);
  assert_int_equal(at, 2);
  assert_int_equal(mpmp_list_index(l, &x, sizeof x, 3, MPMP_LIST_END, &at), 0);
  assert_int_equal(at, 6);
  assert_int_equal(mpmp_list_index(l, &x, sizeof x, -2, MPMP_LIST_END, &at),
                   0);
  assert_int_equal(at, 6);
  assert_int_equal(mpmp_list_index(l, &x, sizeof x, 3, 6, &at), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "ValueError"));
  assert_non_null(strstr(mpmp_errmsg(), "mpmp_list_index"));
  assert_int_equal(mpmp_list_index(l, &absent, sizeof absent, 0,
                                   MPMP_LIST_END, &at), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "not in the list"));
  /* remove: the first equal item only; a missing one is ValueError */
  int64_t one = 1;
  assert_int_equal(mpmp_list_remove(l, &one, sizeof one), 0);
  ASSERT_LIST(l, 0, 4, 9, 16, 1, 4);
  assert_int_equal(mpmp_list_remove(l, &absent, sizeof absent), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "ValueError"));
  ASSERT_LIST(l, 0, 4, 9, 16, 1, 4);
  /* del l[i], negative indices */
  assert_int_equal(mpmp_list_del(l, -1), 0);
  assert_int_equal(mpmp_list_del(l, 0), 0);
  ASSERT_LIST(l, 4, 9, 16, 1);
  assert_int_equal(mpmp_list_del(l, -5), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "IndexError"));
  assert_int_equal(mpmp_list_del(l, 4), MPMP_EINVAL);
  int64_t first = 0;
  assert_int_equal(mpmp_list_get(l, -4, &first, sizeof first, &n), 0);
  assert_int_equal(first, 4);
  /* insert clamps as Python's does: a[100:] appends, a[-100] prepends */
  int64_t v = 100;
  assert_int_equal(mpmp_list_insert(l, 100, &v, sizeof v), 0);
  v = -100;
  assert_int_equal(mpmp_list_insert(l, -100, &v, sizeof v), 0);
  v = 50;
  assert_int_equal(mpmp_list_insert(l, INT64_MIN, &v, sizeof v), 0);
  v = 60;
  assert_int_equal(mpmp_list_insert(l, INT64_MAX, &v, sizeof v), 0);
  v = 7;
  assert_int_equal(mpmp_list_insert(l, -2, &v, sizeof v), 0);
  ASSERT_LIST(l, 50, -100, 4, 9, 16, 1, 7, 100, 60);
  /* reverse */
  assert_int_equal(mpmp_list_reverse(l), 0);
  ASSERT_LIST(l, 60, 100, 7, 1, 16, 9, 4, -100, 50);
  /* clear, and the list works on */
  assert_int_equal(mpmp_list_clear(l), 0);
  assert_int_equal(mpmp_list_len(l, &n), 0);
  assert_int_equal(n, 0);
  assert_int_equal(mpmp_list_reverse(l), 0);
  assert_int_equal(mpmp_list_remove(l, &one, sizeof one), MPMP_EINVAL);
  assert_int_equal(mpmp_list_del(l, -1), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "empty"));
  v = 3;
  assert_int_equal(mpmp_list_insert(l, -5, &v, sizeof v), 0); /* clamped */
  ASSERT_LIST(l, 3);
  assert_int_equal(mpmp_manager_shutdown(m), 0);
}

/* l.sort(): the named orders, stability, reverse=True, refused items. */
static void manager_list_sort(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  mpmp_list_t l;
  assert_int_equal(mpmp_list_create(m, &l), 0);
  /* int64 order: [3, -1, 2**40, 0, -7] */
  const int64_t xs[] = {3, -1, (int64_t)1 << 40, 0, -7};
  for (size_t k = 0; k < 5; k++)
    append_i64(l, xs[k]);
  assert_int_equal(mpmp_list_sort(l, MPMP_SORT_I64), 0);
  ASSERT_LIST(l, -7, -1, 0, 3, (int64_t)1 << 40);
  assert_int_equal(mpmp_list_sort(l, MPMP_SORT_I64 | MPMP_SORT_REVERSE), 0);
  ASSERT_LIST(l, (int64_t)1 << 40, 3, 0, -1, -7);
  /* uint64 order puts the negatives (large unsigned) last */
  assert_int_equal(mpmp_list_sort(l, MPMP_SORT_U64), 0);
  ASSERT_LIST(l, 0, 3, (int64_t)1 << 40, -7, -1);
  /* an item of another size: refused, nothing changed (Python's
   * TypeError for sorting mixed types) */
  assert_int_equal(mpmp_list_append(l, "abc", 3), 0);
  assert_int_equal(mpmp_list_sort(l, MPMP_SORT_I64), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "item 5 has 3"));
  assert_int_equal(mpmp_list_pop(l, -1, NULL, 0, NULL), MPMP_EMSGSIZE);
  assert_int_equal(mpmp_list_del(l, -1), 0);
  ASSERT_LIST(l, 0, 3, (int64_t)1 << 40, -7, -1);
  assert_int_equal(mpmp_list_sort(l, 4), MPMP_EINVAL);
  assert_int_equal(mpmp_list_sort(l, -1), MPMP_EINVAL);
  assert_int_equal(mpmp_list_clear(l), 0);
  /* bytes order, as Python's sorted([b'b', b'ab', b'a', b'', b'\xff',
   * b'a\x00']): byte by byte, unsigned, the shorter first on a tie */
  const char *bs[] = {"b", "ab", "a", "", "\xff", "a\0"};
  const size_t bl[] = {1, 2, 1, 0, 1, 2};
  for (size_t k = 0; k < 6; k++)
    assert_int_equal(mpmp_list_append(l, bs[k], bl[k]), 0);
  assert_int_equal(mpmp_list_sort(l, MPMP_SORT_BYTES), 0);
  const char *sorted[] = {"", "a", "a\0", "ab", "b", "\xff"};
  const size_t sl[] = {0, 1, 2, 2, 1, 1};
  mpmp_items_t it;
  assert_int_equal(mpmp_list_slice(l, 0, MPMP_LIST_END, &it), 0);
  assert_int_equal(it.count, 6);
  for (size_t k = 0; k < 6; k++) {
    assert_int_equal(it.sizes[k], sl[k]);
    if (sl[k] > 0)
      assert_memory_equal(it.values[k], sorted[k], sl[k]);
  }
  mpmp_items_free(&it);
  assert_int_equal(mpmp_list_clear(l), 0);
  /* f64: equal values -0.0 and 0.0 keep their order; NaN last */
  const double ds[] = {2.5, NAN, 0.0, -1e300, -0.0, INFINITY};
  for (size_t k = 0; k < 6; k++)
    assert_int_equal(mpmp_list_append(l, &ds[k], sizeof ds[k]), 0);
  assert_int_equal(mpmp_list_sort(l, MPMP_SORT_F64), 0);
  double got[6];
  for (size_t k = 0; k < 6; k++) {
    size_t sz;
    assert_int_equal(mpmp_list_get(l, (int64_t)k, &got[k], sizeof got[k],
                                   &sz), 0);
  }
  assert_true(got[0] == -1e300);
  assert_true(got[1] == 0.0 && !signbit(got[1])); /* 0.0 came first */
  assert_true(got[2] == 0.0 && signbit(got[2]));
  assert_true(got[3] == 2.5);
  assert_true(isinf(got[4]));
  assert_true(isnan(got[5]));
  /* reverse=True keeps equal items in their order too (Python's rule) */
  assert_int_equal(mpmp_list_sort(l, MPMP_SORT_F64 | MPMP_SORT_REVERSE), 0);
  for (size_t k = 0; k < 6; k++) {
    size_t sz;
    assert_int_equal(mpmp_list_get(l, (int64_t)k, &got[k], sizeof got[k],
                                   &sz), 0);
  }
  assert_true(isnan(got[0]));
  assert_true(isinf(got[1]));
  assert_true(got[2] == 2.5);
  assert_true(got[3] == 0.0 && !signbit(got[3]));
  assert_true(got[4] == 0.0 && signbit(got[4]));
  assert_true(got[5] == -1e300);
  /* a long list against qsort */
  assert_int_equal(mpmp_list_clear(l), 0);
  enum { N = 1000 };
  static int64_t model[N];
  uint64_t seed = 99;
  for (size_t k = 0; k < N; k++) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    model[k] = (int64_t)(seed >> 40) - (1 << 23);
    append_i64(l, model[k]);
  }
  assert_int_equal(mpmp_list_sort(l, MPMP_SORT_I64), 0);
  int64_t prev = INT64_MIN, sum = 0, want_sum = 0;
  for (size_t k = 0; k < N; k++) {
    int64_t y;
    size_t sz;
    assert_int_equal(mpmp_list_get(l, (int64_t)k, &y, sizeof y, &sz), 0);
    assert_true(y >= prev);
    prev = y;
    sum += y;
    want_sum += model[k];
  }
  assert_int_equal(sum, want_sum);
  assert_int_equal(mpmp_manager_shutdown(m), 0);
}

/* ---- Namespace ----------------------------------------------------------- */

static void manager_namespace_attributes(void **state) {
  (void)state;
  mpmp_manager_t m = started_manager();
  mpmp_namespace_t ns;
  assert_int_equal(mpmp_namespace_create(m, &ns), 0);
  double x = 2.5, y = 0;
  size_t n;
  assert_int_equal(mpmp_namespace_has(ns, "x"), 0);
  assert_int_equal(mpmp_namespace_get(ns, "x", &y, sizeof y, &n), MPMP_EINVAL);
  assert_non_null(strstr(mpmp_errmsg(), "no attribute 'x'"));
  assert_int_equal(mpmp_namespace_set(ns, "x", &x, sizeof x), 0);
  assert_int_equal(mpmp_namespace_has(ns, "x"), 1);
  assert_int_equal(mpmp_namespace_get(ns, "x", &y, sizeof y, &n), 0);
  assert_true(y == 2.5);
  void *p;
  assert_int_equal(mpmp_namespace_get_alloc(ns, "x", &p, &n), 0);
  assert_int_equal(n, sizeof x);
  free(p);
  assert_int_equal(mpmp_namespace_del(ns, "x"), 0);
  assert_int_equal(mpmp_namespace_del(ns, "x"), MPMP_EINVAL);
  assert_int_equal(mpmp_namespace_has(ns, "x"), 0);
  /* a Namespace is not a dict */
  mpmp_dict_t as_dict;
  memcpy(&as_dict, &ns, sizeof as_dict);
  assert_int_equal(mpmp_dict_len(as_dict, &n), MPMP_EBADF);
  assert_non_null(strstr(mpmp_errmsg(), "Namespace, not of a dict"));
  assert_int_equal(mpmp_namespace_free(ns), 0);
  assert_int_equal(mpmp_namespace_has(ns, "x"), MPMP_EBADF);
  assert_int_equal(mpmp_manager_shutdown(m), 0);
}

static const struct CMUnitTest tests[] = {
    T(manager_dict_and_list_filled_by_four_processes),
    T(manager_sum_of_squares_from_a_process),
    T(manager_dict_operations),
    T(manager_dict_python_methods),
    T(manager_dict_many_keys),
    T(manager_list_operations),
    T(manager_list_python_methods),
    T(manager_list_sort),
    T(manager_namespace_attributes),
};

MPMP_TEST_MAIN(tests)
