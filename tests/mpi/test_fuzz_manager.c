/*
 * Fuzz: the Manager and its dicts, lists and Namespaces. Garbage handles
 * (zeros, random bytes, a byte flipped, another kind, a freed object) on
 * every call; NULL keys, values, buffers and outputs; keys and values over
 * the limits; list indexes at the ends of int64; too-small buffers (nothing
 * lost); and every call after free and after shutdown (manager.h: EBADF and
 * EDEAD). The checks run on the main rank and, with a spare worker, in a
 * body on another rank.
 */
#include "fuzz.h"

typedef struct mobjs {
  mpmp_manager_t m;
  mpmp_dict_t d;
  mpmp_list_t l;
  mpmp_namespace_t ns;
  mpmp_dict_t d_freed;
  int ok;
} mobjs_t;

/* d = {"k": "value"}, l = ["a", "bb"], ns.x = "1" */
static void mobjs_fill(mobjs_t *o) {
  int rc = mpmp_dict_create(o->m, &o->d);
  rc |= mpmp_list_create(o->m, &o->l);
  rc |= mpmp_namespace_create(o->m, &o->ns);
  rc |= mpmp_dict_create(o->m, &o->d_freed) | mpmp_dict_free(o->d_freed);
  rc |= mpmp_dict_set(o->d, "k", "value", 5);
  rc |= mpmp_list_append(o->l, "a", 1) | mpmp_list_append(o->l, "bb", 2);
  rc |= mpmp_namespace_set(o->ns, "x", "1", 1);
  o->ok = rc == 0;
}

/* Nothing a refused call did may show. */
static void check_unchanged(const mobjs_t *o) {
  char buf[16] = {0};
  size_t n = 0;
  FZ_EQ(0, mpmp_dict_len(o->d, &n));
  FZ_TRUE(n == 1, "the dict has %zu keys, not 1", n);
  FZ_EQ(0, mpmp_dict_get(o->d, "k", buf, sizeof buf, &n));
  FZ_TRUE(n == 5 && !memcmp(buf, "value", 5), "d['k'] changed");
  FZ_EQ(0, mpmp_list_len(o->l, &n));
  FZ_TRUE(n == 2, "the list has %zu items, not 2", n);
  FZ_EQ(0, mpmp_list_get(o->l, -1, buf, sizeof buf, &n));
  FZ_TRUE(n == 2 && !memcmp(buf, "bb", 2), "l[-1] changed");
  FZ_EQ(1, mpmp_namespace_has(o->ns, "x"));
}

/* ---- every call with a bad handle ----------------------------------------- */

#define MOP(id, T, expr)                                                    \
  static int mop_##id(mpmp_mref_t r_) {                                     \
    T h = {r_};                                                             \
    char buf[16];                                                           \
    size_t n = 0;                                                           \
    void *p = NULL;                                                         \
    mpmp_items_t it;                                                        \
    mpmp_dict_t d;                                                          \
    const char *k = "k";                                                    \
    const void *v = "v";                                                    \
    size_t one = 1;                                                         \
    (void)buf, (void)n, (void)p, (void)it, (void)d, (void)k, (void)v;       \
    (void)one;                                                              \
    int rc_ = (expr);                                                       \
    free(p);                                                                \
    return rc_;                                                             \
  }

MOP(manager_shutdown, mpmp_manager_t, mpmp_manager_shutdown(h))
MOP(manager_rank, mpmp_manager_t, mpmp_manager_rank(h))
MOP(manager_alive, mpmp_manager_t, mpmp_manager_alive(h))
MOP(dict_create, mpmp_manager_t, mpmp_dict_create(h, &d))
MOP(list_create, mpmp_manager_t, mpmp_list_create(h, &(mpmp_list_t){r_}))
MOP(namespace_create, mpmp_manager_t,
    mpmp_namespace_create(h, &(mpmp_namespace_t){r_}))
MOP(manager_queue, mpmp_manager_t,
    mpmp_manager_queue(h, &(mpmp_queue_t){{0}}, 4, 8))
MOP(manager_joinable_queue, mpmp_manager_t,
    mpmp_manager_joinable_queue(h, &(mpmp_queue_t){{0}}, 0, 8))
MOP(manager_lock, mpmp_manager_t, mpmp_manager_lock(h, &(mpmp_lock_t){{0}}))
MOP(manager_rlock, mpmp_manager_t, mpmp_manager_rlock(h, &(mpmp_lock_t){{0}}))
MOP(manager_event, mpmp_manager_t,
    mpmp_manager_event(h, &(mpmp_event_t){{0}}))
MOP(manager_value, mpmp_manager_t,
    mpmp_manager_value(h, &(mpmp_value_t){{0}}, MPMP_INT64, NULL, 1))
MOP(dict_free, mpmp_dict_t, mpmp_dict_free(h))
MOP(dict_set, mpmp_dict_t, mpmp_dict_set(h, "k", "v", 1))
MOP(dict_get, mpmp_dict_t, mpmp_dict_get(h, "k", buf, sizeof buf, &n))
MOP(dict_get_or, mpmp_dict_t, mpmp_dict_get_or(h, "k", buf, sizeof buf, &n, "d", 1))
MOP(dict_get_alloc, mpmp_dict_t, mpmp_dict_get_alloc(h, "k", &p, &n))
MOP(dict_size, mpmp_dict_t, mpmp_dict_size(h, "k", &n))
MOP(dict_del, mpmp_dict_t, mpmp_dict_del(h, "k"))
MOP(dict_contains, mpmp_dict_t, mpmp_dict_contains(h, "k"))
MOP(dict_len, mpmp_dict_t, mpmp_dict_len(h, &n))
MOP(dict_keys, mpmp_dict_t, mpmp_dict_keys(h, &it))
MOP(dict_items, mpmp_dict_t, mpmp_dict_items(h, &it))
MOP(dict_update, mpmp_dict_t, mpmp_dict_update(h, 1, &k, &v, &one))
MOP(dict_clear, mpmp_dict_t, mpmp_dict_clear(h))
MOP(dict_pop, mpmp_dict_t, mpmp_dict_pop(h, "k", buf, sizeof buf, &n))
MOP(dict_pop_alloc, mpmp_dict_t, mpmp_dict_pop_alloc(h, "k", &p, &n))
MOP(dict_pop_or, mpmp_dict_t,
    mpmp_dict_pop_or(h, "k", buf, sizeof buf, &n, "d", 1))
MOP(dict_popitem, mpmp_dict_t, mpmp_dict_popitem(h, &it))
MOP(dict_setdefault, mpmp_dict_t,
    mpmp_dict_setdefault(h, "k", "d", 1, buf, sizeof buf, &n))
MOP(dict_values, mpmp_dict_t, mpmp_dict_values(h, &it))
MOP(list_free, mpmp_list_t, mpmp_list_free(h))
MOP(list_append, mpmp_list_t, mpmp_list_append(h, "v", 1))
MOP(list_extend, mpmp_list_t, mpmp_list_extend(h, 1, &v, &one))
MOP(list_get, mpmp_list_t, mpmp_list_get(h, 0, buf, sizeof buf, &n))
MOP(list_get_alloc, mpmp_list_t, mpmp_list_get_alloc(h, 0, &p, &n))
MOP(list_set, mpmp_list_t, mpmp_list_set(h, 0, "v", 1))
MOP(list_insert, mpmp_list_t, mpmp_list_insert(h, 0, "v", 1))
MOP(list_pop, mpmp_list_t, mpmp_list_pop(h, -1, buf, sizeof buf, &n))
MOP(list_pop_alloc, mpmp_list_t, mpmp_list_pop_alloc(h, -1, &p, &n))
MOP(list_len, mpmp_list_t, mpmp_list_len(h, &n))
MOP(list_slice, mpmp_list_t, mpmp_list_slice(h, 0, MPMP_LIST_END, &it))
MOP(list_del, mpmp_list_t, mpmp_list_del(h, -1))
MOP(list_contains, mpmp_list_t, mpmp_list_contains(h, "a", 1))
MOP(list_count, mpmp_list_t, mpmp_list_count(h, "a", 1, &n))
MOP(list_index, mpmp_list_t,
    mpmp_list_index(h, "a", 1, 0, MPMP_LIST_END, &n))
MOP(list_remove, mpmp_list_t, mpmp_list_remove(h, "a", 1))
MOP(list_reverse, mpmp_list_t, mpmp_list_reverse(h))
MOP(list_clear, mpmp_list_t, mpmp_list_clear(h))
MOP(list_sort, mpmp_list_t, mpmp_list_sort(h, MPMP_SORT_BYTES))
MOP(namespace_free, mpmp_namespace_t, mpmp_namespace_free(h))
MOP(namespace_set, mpmp_namespace_t, mpmp_namespace_set(h, "x", "v", 1))
MOP(namespace_get, mpmp_namespace_t,
    mpmp_namespace_get(h, "x", buf, sizeof buf, &n))
MOP(namespace_get_alloc, mpmp_namespace_t,
    mpmp_namespace_get_alloc(h, "x", &p, &n))
MOP(namespace_del, mpmp_namespace_t, mpmp_namespace_del(h, "x"))
MOP(namespace_has, mpmp_namespace_t, mpmp_namespace_has(h, "x"))
#undef MOP

enum { MM, MD, ML, MN, NMKIND };
static const char *const mkind_names[NMKIND] = {"Manager", "dict", "list",
                                                "Namespace"};
typedef struct mop {
  const char *name;
  int (*fn)(mpmp_mref_t r);
  int kind;
} mop_t;

#define E(id, kind) {"mpmp_" #id, mop_##id, kind}
static const mop_t mops[] = {
    E(manager_shutdown, MM), E(manager_rank, MM), E(manager_alive, MM),
    E(dict_create, MM), E(list_create, MM), E(namespace_create, MM),
    E(manager_queue, MM), E(manager_joinable_queue, MM), E(manager_lock, MM),
    E(manager_rlock, MM), E(manager_event, MM), E(manager_value, MM),
    E(dict_free, MD), E(dict_set, MD), E(dict_get, MD), E(dict_get_or, MD),
    E(dict_get_alloc, MD), E(dict_size, MD), E(dict_del, MD),
    E(dict_contains, MD), E(dict_len, MD), E(dict_keys, MD),
    E(dict_items, MD), E(dict_update, MD), E(dict_clear, MD),
    E(dict_pop, MD), E(dict_pop_alloc, MD), E(dict_pop_or, MD),
    E(dict_popitem, MD), E(dict_setdefault, MD), E(dict_values, MD),
    E(list_free, ML), E(list_append, ML), E(list_extend, ML),
    E(list_get, ML), E(list_get_alloc, ML), E(list_set, ML),
    E(list_insert, ML), E(list_pop, ML), E(list_pop_alloc, ML),
    E(list_len, ML), E(list_slice, ML), E(list_del, ML),
    E(list_contains, ML), E(list_count, ML), E(list_index, ML),
    E(list_remove, ML), E(list_reverse, ML), E(list_clear, ML),
    E(list_sort, ML),
    E(namespace_free, MN), E(namespace_set, MN), E(namespace_get, MN),
    E(namespace_get_alloc, MN), E(namespace_del, MN), E(namespace_has, MN),
};
#undef E
#define NMOPS ((int)(sizeof mops / sizeof mops[0]))

/* mpmp_manager_shutdown is main-rank only: elsewhere its first answer is
 * MPMP_ENOTMAIN, whatever the handle. */
static void mop_call(int k, mpmp_mref_t r, const char *what, int code) {
  static char label[256];
  snprintf(label, sizeof label, "%s(%s)", mops[k].name, what);
  if (mops[k].fn == mop_manager_shutdown && !mpmp_is_main())
    code = MPMP_ENOTMAIN;
  fz_enter(label, __FILE__, __LINE__);
  int rc = mops[k].fn(r);
  fz_leave();
  fz_err_at(label, rc, code, __FILE__, __LINE__);
}

static mpmp_mref_t bad_mref(const mpmp_mref_t *valid, int b, char *what,
                            size_t n) {
  mpmp_mref_t r;
  if (b == 0) {
    memset(&r, 0, sizeof r);
    snprintf(what, n, "an all-zero handle");
  } else if (b <= FZ_NRANDOM) {
    uint64_t s = 0x3a9a0000u + (uint64_t)b;
    for (size_t i = 0; i < sizeof r; i++)
      ((unsigned char *)&r)[i] = (unsigned char)fz_rand(&s);
    snprintf(what, n, "a handle of random bytes (#%d)", b);
  } else {
    int byte = b - FZ_NRANDOM - 1;
    r = *valid;
    ((unsigned char *)&r)[byte] ^= (unsigned char)(1u << (byte % 8));
    snprintf(what, n, "a valid handle with byte %d flipped", byte);
  }
  return r;
}

static void bad_handles(const mobjs_t *o) {
  mpmp_mref_t valid[NMKIND] = {o->m.ref, o->d.ref, o->l.ref, o->ns.ref};
  char what[96];
  for (int k = 0; k < NMOPS; k++) {
    int kind = mops[k].kind;
    for (int b = 0; b < 1 + FZ_NRANDOM + (int)sizeof(mpmp_mref_t); b++)
      mop_call(k, bad_mref(&valid[kind], b, what, sizeof what), what,
               MPMP_EBADF);
    for (int j = 0; j < NMKIND; j++)
      if (j != kind) {
        snprintf(what, sizeof what, "the handle of a %s", mkind_names[j]);
        mop_call(k, valid[j], what, MPMP_EBADF);
      }
    if (kind == MD)
      mop_call(k, o->d_freed.ref, "a freed dict", MPMP_EBADF);
  }
  check_unchanged(o);
}

/* ---- arguments ----------------------------------------------------------- */

static char long_key[MPMP_MANAGER_MAX_KEY + 2];

static void dict_args(const mobjs_t *o) {
  char buf[16], small[2];
  size_t n = 0;
  void *p = NULL;
  mpmp_items_t it;
  const char *keys[2] = {"a", NULL}, *k1[1] = {"a"};
  const void *vals[2] = {"1", "2"}, *nullv[1] = {NULL};
  size_t sizes[2] = {1, 1}, hugesz[1] = {MPMP_MANAGER_MAX_VALUE + 1};
  memset(long_key, 'k', sizeof long_key - 1);
  FZ_ERR(MPMP_EINVAL, mpmp_dict_create(o->m, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_set(o->d, NULL, "v", 1));
  FZ_ERR(MPMP_EMSGSIZE, mpmp_dict_set(o->d, long_key, "v", 1));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_set(o->d, "n", NULL, 1));
  for (size_t k = 0; k < FZ_NHUGE; k++)
    FZ_ERR(MPMP_EMSGSIZE, mpmp_dict_set(o->d, "n", buf, fz_huge[k]));
  FZ_ERR(MPMP_EMSGSIZE, mpmp_dict_set(o->d, "n", buf, MPMP_MANAGER_MAX_VALUE + 1));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_get(o->d, NULL, buf, sizeof buf, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_get(o->d, long_key, buf, sizeof buf, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_get(o->d, "k", NULL, 8, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_get(o->d, "missing", buf, sizeof buf, &n));
  FZ_ERR(MPMP_EMSGSIZE, mpmp_dict_get(o->d, "k", small, sizeof small, &n));
  FZ_TRUE(n == 5, "EMSGSIZE told %zu bytes, not 5", n);
  FZ_ERR(MPMP_EMSGSIZE, mpmp_dict_get(o->d, "k", NULL, 0, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_get_or(o->d, NULL, buf, 8, &n, "d", 1));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_get_or(o->d, "missing", buf, 8, &n, NULL, 1));
  FZ_ERR(MPMP_EMSGSIZE, mpmp_dict_get_or(o->d, "missing", small, 2, &n,
                                         "dflt", 4));
  FZ_EQ(0, mpmp_dict_get_or(o->d, "missing", buf, 8, &n, "d", 1));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_get_alloc(o->d, "k", NULL, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_get_alloc(o->d, NULL, &p, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_get_alloc(o->d, "missing", &p, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_size(o->d, "k", NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_size(o->d, "missing", &n));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_del(o->d, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_del(o->d, "missing"));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_contains(o->d, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_len(o->d, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_keys(o->d, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_items(o->d, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_update(o->d, 1, NULL, vals, sizes));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_update(o->d, 1, k1, NULL, sizes));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_update(o->d, 1, k1, vals, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_update(o->d, 2, keys, vals, sizes));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_update(o->d, 1, k1, nullv, sizes));
  FZ_ERR(MPMP_EMSGSIZE, mpmp_dict_update(o->d, 1, k1, vals, hugesz));
  FZ_EQ(0, mpmp_dict_update(o->d, 0, NULL, NULL, NULL));
  FZ_EQ(0, mpmp_dict_contains(o->d, "a")); /* no refused update applied */
  FZ_ERR(MPMP_EINVAL, mpmp_dict_pop(o->d, NULL, buf, 8, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_pop(o->d, "missing", buf, 8, &n));
  FZ_ERR(MPMP_EMSGSIZE, mpmp_dict_pop(o->d, "k", small, sizeof small, &n));
  FZ_EQ(1, mpmp_dict_contains(o->d, "k")); /* the pop removed nothing */
  FZ_ERR(MPMP_EINVAL, mpmp_dict_pop_alloc(o->d, "k", NULL, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_pop_alloc(o->d, "missing", &p, &n));
  free(p);
  /* pop(key, default), popitem, setdefault, values */
  FZ_ERR(MPMP_EINVAL, mpmp_dict_pop_or(o->d, NULL, buf, 8, &n, "d", 1));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_pop_or(o->d, "missing", buf, 8, &n, NULL, 1));
  FZ_ERR(MPMP_EMSGSIZE, mpmp_dict_pop_or(o->d, "missing", small, 2, &n,
                                         "dflt", 4));
  FZ_ERR(MPMP_EMSGSIZE, mpmp_dict_pop_or(o->d, "k", small, 2, &n, "d", 1));
  FZ_EQ(0, mpmp_dict_pop_or(o->d, "missing", buf, 8, &n, "d", 1));
  FZ_EQ(0, mpmp_dict_pop_or(o->d, long_key, buf, 8, &n, "d", 1));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_popitem(o->d, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_setdefault(o->d, NULL, "d", 1, buf, 8, &n));
  FZ_ERR(MPMP_EMSGSIZE, mpmp_dict_setdefault(o->d, long_key, "d", 1, buf, 8,
                                             &n));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_setdefault(o->d, "n", NULL, 1, buf, 8, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_dict_setdefault(o->d, "n", "d", 1, NULL, 8, &n));
  for (size_t k = 0; k < FZ_NHUGE; k++)
    FZ_ERR(MPMP_EMSGSIZE, mpmp_dict_setdefault(o->d, "n", buf, fz_huge[k],
                                               NULL, 0, &n));
  FZ_ERR(MPMP_EMSGSIZE, mpmp_dict_setdefault(o->d, "k", "d", 1, small,
                                             sizeof small, &n));
  FZ_TRUE(n == 5, "setdefault's EMSGSIZE told %zu bytes, not 5", n);
  FZ_ERR(MPMP_EMSGSIZE, mpmp_dict_setdefault(o->d, "n", "dflt", 4, small,
                                             sizeof small, &n));
  FZ_EQ(0, mpmp_dict_contains(o->d, "n")); /* nothing was set */
  FZ_ERR(MPMP_EINVAL, mpmp_dict_values(o->d, NULL));
  (void)it;
}

static const int64_t bad_index[] = {INT64_MIN, INT64_MIN + 1, INT64_MAX, 2, 3,
                                    -3};

static void list_args(const mobjs_t *o) {
  char buf[16], small[1];
  size_t n = 0;
  void *p = NULL;
  mpmp_items_t it;
  const void *vals[1] = {NULL};
  size_t sizes[1] = {1}, hugesz[1] = {SIZE_MAX};
  FZ_ERR(MPMP_EINVAL, mpmp_list_create(o->m, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_list_append(o->l, NULL, 1));
  for (size_t k = 0; k < FZ_NHUGE; k++)
    FZ_ERR(MPMP_EMSGSIZE, mpmp_list_append(o->l, buf, fz_huge[k]));
  FZ_ERR(MPMP_EINVAL, mpmp_list_extend(o->l, 1, NULL, sizes));
  FZ_ERR(MPMP_EINVAL, mpmp_list_extend(o->l, 1, vals, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_list_extend(o->l, 1, vals, sizes));
  vals[0] = buf;
  FZ_ERR(MPMP_EMSGSIZE, mpmp_list_extend(o->l, 1, vals, hugesz));
  FZ_EQ(0, mpmp_list_extend(o->l, 0, NULL, NULL));
  for (size_t k = 0; k < sizeof bad_index / sizeof bad_index[0]; k++) {
    int64_t i = bad_index[k];
    FZ_ERR(MPMP_EINVAL, mpmp_list_get(o->l, i, buf, sizeof buf, &n));
    FZ_ERR(MPMP_EINVAL, mpmp_list_get_alloc(o->l, i, &p, &n));
    FZ_ERR(MPMP_EINVAL, mpmp_list_set(o->l, i, "v", 1));
    FZ_ERR(MPMP_EINVAL, mpmp_list_pop(o->l, i, buf, sizeof buf, &n));
    FZ_ERR(MPMP_EINVAL, mpmp_list_pop_alloc(o->l, i, &p, &n));
    FZ_ERR(MPMP_EINVAL, mpmp_list_del(o->l, i));
  }
  /* insert clamps every index, as Python's: put in, find, take out */
  for (size_t k = 0; k < sizeof bad_index / sizeof bad_index[0]; k++) {
    int64_t i = bad_index[k];
    FZ_EQ(0, mpmp_list_insert(o->l, i, "ins", 3));
    size_t at = 99;
    FZ_EQ(0, mpmp_list_index(o->l, "ins", 3, 0, MPMP_LIST_END, &at));
    FZ_TRUE(at == (i < 0 ? 0u : 2u), "insert(%lld) put it at %zu",
            (long long)i, at);
    FZ_EQ(0, mpmp_list_remove(o->l, "ins", 3));
  }
  /* the value searches and sort: NULL, huge, absent, bad orders */
  FZ_ERR(MPMP_EINVAL, mpmp_list_contains(o->l, NULL, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_list_count(o->l, NULL, 1, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_list_count(o->l, "a", 1, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_list_index(o->l, NULL, 1, 0, 2, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_list_index(o->l, "a", 1, 0, 2, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_list_remove(o->l, NULL, 1));
  for (size_t k = 0; k < FZ_NHUGE; k++) {
    FZ_ERR(MPMP_EMSGSIZE, mpmp_list_contains(o->l, buf, fz_huge[k]));
    FZ_ERR(MPMP_EMSGSIZE, mpmp_list_count(o->l, buf, fz_huge[k], &n));
    FZ_ERR(MPMP_EMSGSIZE, mpmp_list_index(o->l, buf, fz_huge[k], 0, 2, &n));
    FZ_ERR(MPMP_EMSGSIZE, mpmp_list_remove(o->l, buf, fz_huge[k]));
  }
  FZ_ERR(MPMP_EINVAL, mpmp_list_remove(o->l, "zz", 2));
  FZ_ERR(MPMP_EINVAL, mpmp_list_index(o->l, "zz", 2, 0, MPMP_LIST_END, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_list_index(o->l, "bb", 2, 0, 1, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_list_index(o->l, "a", 1, INT64_MAX, INT64_MIN,
                                      &n));
  FZ_EQ(0, mpmp_list_index(o->l, "bb", 2, INT64_MIN, INT64_MAX, &n));
  FZ_TRUE(n == 1, "index('bb') is %zu, not 1", n);
  FZ_EQ(0, mpmp_list_contains(o->l, "b", 1));
  FZ_EQ(0, mpmp_list_count(o->l, "zz", 2, &n));
  FZ_TRUE(n == 0, "count('zz') is %zu", n);
  const int orders[] = {-1, 4, INT32_MAX, INT32_MIN, MPMP_SORT_REVERSE + 9,
                        MPMP_SORT_I64, MPMP_SORT_U64, MPMP_SORT_F64,
                        MPMP_SORT_F64 | MPMP_SORT_REVERSE};
  for (size_t k = 0; k < sizeof orders / sizeof orders[0]; k++)
    FZ_ERR(MPMP_EINVAL, mpmp_list_sort(o->l, orders[k])); /* items: 1, 2 B */
  FZ_EQ(0, mpmp_list_sort(o->l, MPMP_SORT_BYTES)); /* a, bb: in order */
  FZ_ERR(MPMP_EINVAL, mpmp_list_get(o->l, 0, NULL, 8, &n));
  FZ_ERR(MPMP_EMSGSIZE, mpmp_list_get(o->l, 1, small, sizeof small, &n));
  FZ_TRUE(n == 2, "EMSGSIZE told %zu bytes, not 2", n);
  FZ_ERR(MPMP_EMSGSIZE, mpmp_list_pop(o->l, 1, small, sizeof small, &n));
  /* a pop into read-only memory pops nothing (it crashed after the pop) */
  FZ_ERR(MPMP_EINVAL, mpmp_list_pop(o->l, 1, (void *)"read-only memory",
                                    16, &n));
  FZ_EQ(0, mpmp_list_len(o->l, &n));
  FZ_TRUE(n == 2, "a refused pop left %zu items, not 2", n);
  FZ_ERR(MPMP_EINVAL, mpmp_list_get_alloc(o->l, 0, NULL, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_list_pop_alloc(o->l, 0, NULL, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_list_set(o->l, 0, NULL, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_list_insert(o->l, 0, NULL, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_list_len(o->l, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_list_slice(o->l, 0, 1, NULL));
  /* slices clamp, as Python's do */
  FZ_EQ(0, mpmp_list_slice(o->l, INT64_MIN, INT64_MAX, &it));
  FZ_TRUE(it.count == 2, "l[min:max] has %zu items, not 2", it.count);
  mpmp_items_free(&it);
  mpmp_items_free(&it);
  FZ_EQ(0, mpmp_list_slice(o->l, INT64_MAX, INT64_MIN, &it));
  FZ_TRUE(it.count == 0, "l[max:min] has %zu items, not 0", it.count);
  mpmp_items_free(&it);
  mpmp_items_free(NULL);
}

static void namespace_args(const mobjs_t *o) {
  char buf[16], small[1];
  size_t n;
  void *p = NULL;
  mpmp_namespace_t ns;
  FZ_ERR(MPMP_EINVAL, mpmp_namespace_create(o->m, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_namespace_set(o->ns, NULL, "v", 1));
  FZ_ERR(MPMP_EMSGSIZE, mpmp_namespace_set(o->ns, long_key, "v", 1));
  FZ_ERR(MPMP_EINVAL, mpmp_namespace_set(o->ns, "y", NULL, 1));
  FZ_ERR(MPMP_EMSGSIZE, mpmp_namespace_set(o->ns, "y", buf, SIZE_MAX));
  FZ_ERR(MPMP_EINVAL, mpmp_namespace_get(o->ns, NULL, buf, sizeof buf, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_namespace_get(o->ns, "nope", buf, sizeof buf, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_namespace_get(o->ns, "x", NULL, 4, &n));
  FZ_ERR(MPMP_EMSGSIZE, mpmp_namespace_get(o->ns, "x", small, 0, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_namespace_get_alloc(o->ns, "x", NULL, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_namespace_get_alloc(o->ns, NULL, &p, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_namespace_del(o->ns, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_namespace_del(o->ns, "nope"));
  FZ_ERR(MPMP_EINVAL, mpmp_namespace_has(o->ns, NULL));
  FZ_EQ(0, mpmp_namespace_has(o->ns, "nope"));
  (void)ns;
}

/* manager.Queue() & co.: NULL outputs and the plain creates' refusals;
 * one of each made, used and freed early (the shutdown skips it). */
static void owned_args(const mobjs_t *o) {
  mpmp_queue_t q = {{0}};
  mpmp_lock_t l = {{0}};
  mpmp_event_t e = {{0}};
  mpmp_value_t v = {{0}};
  int64_t x = 5, y = 0;
  FZ_ERR(MPMP_EINVAL, mpmp_manager_queue(o->m, NULL, 4, 8));
  FZ_ERR(MPMP_EINVAL, mpmp_manager_joinable_queue(o->m, NULL, 4, 8));
  FZ_ERR(MPMP_EINVAL, mpmp_manager_lock(o->m, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_manager_rlock(o->m, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_manager_event(o->m, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_manager_value(o->m, NULL, MPMP_INT64, &x, 0));
  FZ_ERR(MPMP_EINVAL, mpmp_manager_queue(o->m, &q, 4, 0));
  for (size_t k = 0; k < FZ_NHUGE; k++) {
    FZ_ERR2(MPMP_EINVAL, MPMP_ENOSPC,
            mpmp_manager_queue(o->m, &q, fz_huge[k], 8));
    FZ_ERR2(MPMP_EINVAL, MPMP_ENOSPC,
            mpmp_manager_queue(o->m, &q, 4, fz_huge[k]));
  }
  FZ_ERR(MPMP_EINVAL, mpmp_manager_value(o->m, &v, (mpmp_type_t)-1, &x, 0));
  FZ_ERR(MPMP_EINVAL, mpmp_manager_value(o->m, &v, (mpmp_type_t)9999, &x, 0));
  FZ_TRUE(v.ref.gen == 0, "a refused Value's handle was not zeroed");
  if (mpmp_manager_queue(o->m, &q, 4, 8) == 0) {
    FZ_EQ(0, mpmp_queue_put(q, &x, 8, 1));
    FZ_EQ(0, mpmp_queue_get(q, &y, 8, NULL, 1));
    FZ_EQ(0, mpmp_queue_free(q));
    FZ_ERR(MPMP_EBADF, mpmp_queue_free(q));
  }
  if (mpmp_manager_lock(o->m, &l) == 0) {
    FZ_EQ(0, mpmp_lock_acquire(l, 1));
    FZ_ERR(MPMP_EBADF, mpmp_event_set((mpmp_event_t){l.ref}));
    FZ_EQ(0, mpmp_lock_release(l));
    FZ_EQ(0, mpmp_lock_free(l));
  }
  if (mpmp_manager_event(o->m, &e) == 0) {
    FZ_ERR(MPMP_EINVAL, mpmp_event_wait(e, NAN));
    FZ_EQ(0, mpmp_event_free(e));
  }
  if (mpmp_manager_value(o->m, &v, MPMP_INT64, &x, 1) == 0) {
    FZ_EQ(0, mpmp_value_get_i64(v, &y));
    FZ_TRUE(y == 5, "the manager's Value holds %lld", (long long)y);
    FZ_EQ(0, mpmp_value_free(v));
  }
}

static void all_args(const mobjs_t *o) {
  dict_args(o);
  list_args(o);
  namespace_args(o);
  owned_args(o);
  check_unchanged(o);
}

/* The same checks in a body on a worker rank. */
typedef struct margs {
  int group;
  mobjs_t o;
} margs_t;

static int body(mpmp_ctx_t *ctx) {
  const margs_t *a = mpmp_arg(ctx, NULL);
  if (a->group == 0)
    bad_handles(&a->o);
  else
    all_args(&a->o);
  fz_send_notes(ctx);
  return 0;
}
MPMP_TASK(body);

static void start(mobjs_t *o) {
  memset(o, 0, sizeof *o);
  assert_int_equal(mpmp_manager_start(&o->m), 0);
  mobjs_fill(o);
  assert_true(o->ok);
}

static void run_both(int group) {
  mobjs_t o;
  margs_t a;
  start(&o);
  if (group == 0)
    bad_handles(&o);
  else
    all_args(&o);
  if (mpmp_worker_count() >= 2) {
    a.group = group;
    a.o = o;
    fz_run_remote(body, &a, sizeof a, __FILE__, __LINE__);
  }
  FZ_EQ(0, mpmp_manager_shutdown(o.m));
}

static void fuzz_manager_bad_handles(void **state) {
  (void)state;
  mpmp_manager_t m;
  FZ_ERR(MPMP_EINVAL, mpmp_manager_start(NULL));
  (void)m;
  run_both(0);
  FZ_DONE();
}

static void fuzz_manager_args(void **state) {
  (void)state;
  run_both(1);
  FZ_DONE();
}

/* After free: EBADF; after shutdown: EDEAD, from every call. */
static void fuzz_manager_lifetime(void **state) {
  (void)state;
  mobjs_t o;
  char what[64];
  start(&o);
  FZ_EQ(0, mpmp_dict_free(o.d));
  FZ_ERR(MPMP_EBADF, mpmp_dict_free(o.d));
  FZ_ERR(MPMP_EBADF, mpmp_dict_len(o.d, &(size_t){0}));
  FZ_EQ(0, mpmp_manager_alive(o.m));
  FZ_EQ(0, mpmp_manager_shutdown(o.m));
  FZ_EQ(0, mpmp_manager_shutdown(o.m));
  mpmp_mref_t valid[NMKIND] = {o.m.ref, o.d.ref, o.l.ref, o.ns.ref};
  for (int k = 0; k < NMOPS; k++) {
    if (mops[k].fn == mop_manager_shutdown)
      continue; /* shutting down twice is 0 */
    snprintf(what, sizeof what, "a %s after shutdown", mkind_names[mops[k].kind]);
    mop_call(k, valid[mops[k].kind], what, MPMP_EDEAD);
  }
  FZ_DONE();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(fuzz_manager_bad_handles),
    cmocka_unit_test(fuzz_manager_args),
    cmocka_unit_test(fuzz_manager_lifetime),
};

MPMP_TEST_MAIN(tests)
