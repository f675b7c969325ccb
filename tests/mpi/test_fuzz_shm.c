/*
 * Fuzz: SharedMemory and ShareableList. NULL objects, names and outputs;
 * empty, over-long and unprintable names; zero and huge sizes; indexes out
 * of range; values that do not fit their item (nothing changed); bad item
 * types; and every call after unlink (the mapping stays valid, the name is
 * gone). Blocks are per node: from another node a name is not found.
 */
#include "fuzz.h"

static const size_t bad_sizes[] = {0, SIZE_MAX, (size_t)INT64_MAX + 1,
                                   (size_t)-3};

static void fuzz_shm_args(void **state) {
  (void)state;
  mpmp_shm_t *s = NULL, *t = NULL;
  char long_name[MPMP_SHM_NAME_MAX + 2];
  memset(long_name, 'n', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  FZ_ERR(MPMP_EINVAL, mpmp_shm_create(NULL, NULL, 8));
  for (size_t k = 0; k < sizeof bad_sizes / sizeof bad_sizes[0]; k++)
    FZ_ERR2(MPMP_EINVAL, MPMP_ENOMEM, mpmp_shm_create(&s, NULL, bad_sizes[k]));
  FZ_ERR2(MPMP_EINVAL, MPMP_ENOMEM, mpmp_shm_create(&s, NULL, SIZE_MAX / 2));
  FZ_ERR(MPMP_EINVAL, mpmp_shm_create(&s, "", 8));
  FZ_ERR(MPMP_EINVAL, mpmp_shm_create(&s, long_name, 8));
  FZ_ERR(MPMP_EINVAL, mpmp_shm_create(&s, "tab\there", 8));
  FZ_ERR(MPMP_EINVAL, mpmp_shm_create(&s, "\x01", 8));
  FZ_ERR(MPMP_EINVAL, mpmp_shm_attach(NULL, "x"));
  FZ_ERR(MPMP_EINVAL, mpmp_shm_attach(&s, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_shm_attach(&s, ""));
  FZ_ERR(MPMP_EINVAL, mpmp_shm_attach(&s, long_name));
  FZ_ERR(MPMP_SHM_ENOENT, mpmp_shm_attach(&s, "fz_never_made"));
  FZ_ERR(MPMP_SHM_ENOENT, mpmp_shm_open(&s, "fz_never_made", 0, 8));
  FZ_ERR(MPMP_EINVAL, mpmp_shm_open(&s, "fz_zero", 1, 0));
  FZ_ERR(MPMP_EINVAL, mpmp_shm_open(NULL, "fz_zero", 1, 8));
  FZ_TRUE(mpmp_shm_buf(NULL) == NULL, "mpmp_shm_buf(NULL) is not NULL");
  FZ_EQ(0, mpmp_shm_size(NULL));
  FZ_TRUE(!strcmp(mpmp_shm_name(NULL), ""), "mpmp_shm_name(NULL) not \"\"");
  FZ_ERR(MPMP_EINVAL, mpmp_shm_unlink(NULL));
  FZ_EQ(0, mpmp_shm_close(NULL));
  /* a name taken: refused, and the block unharmed */
  FZ_EQ(0, mpmp_shm_create(&s, "fz_taken", 16));
  memset(mpmp_shm_buf(s), 7, 16);
  FZ_ERR(MPMP_SHM_EEXIST, mpmp_shm_create(&t, "fz_taken", 16));
  FZ_ERR(MPMP_SHM_EEXIST, mpmp_shm_open(&t, "fz_taken", 1, 16));
  FZ_EQ(0, mpmp_shm_attach(&t, "fz_taken"));
  FZ_TRUE(t != NULL && ((unsigned char *)mpmp_shm_buf(t))[15] == 7,
          "the attached block does not hold what was written");
  FZ_EQ(0, mpmp_shm_close(t));
  /* after unlink: the name is gone, the mapping stays */
  FZ_EQ(0, mpmp_shm_unlink(s));
  FZ_ERR(MPMP_SHM_ENOENT, mpmp_shm_unlink(s));
  FZ_ERR(MPMP_SHM_ENOENT, mpmp_shm_attach(&t, "fz_taken"));
  FZ_TRUE(((unsigned char *)mpmp_shm_buf(s))[3] == 7, "the mapping changed");
  FZ_EQ(16, mpmp_shm_size(s));
  FZ_TRUE(!strcmp(mpmp_shm_name(s), "fz_taken"), "the name changed");
  FZ_EQ(0, mpmp_shm_create(&t, "fz_taken", 8)); /* the name is free again */
  FZ_EQ(0, mpmp_shm_unlink(t));
  FZ_EQ(0, mpmp_shm_close(t));
  FZ_EQ(0, mpmp_shm_close(s));
  FZ_DONE();
}

/* ---- ShareableList ------------------------------------------------------------ */

static mpmp_sl_item_t item_of(int type, int64_t i, double f) {
  mpmp_sl_item_t it = mpmp_sl_int(i);
  it.type = type;
  it.f = f;
  return it;
}

static void sharelist_create_args(void) {
  mpmp_sharelist_t *sl = NULL;
  mpmp_sl_item_t good[1] = {mpmp_sl_int(1)};
  mpmp_sl_item_t bad[1];
  const int bad_types[] = {0, -1, MPMP_BYTE, 12, 999, MPMP_SL_NONE + 1,
                           MPMP_SL_BYTES - 1};
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_create(NULL, NULL, good, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_create(&sl, NULL, NULL, 2));
  for (size_t k = 0; k < FZ_NHUGE; k++)
    FZ_ERR(MPMP_EINVAL, mpmp_sharelist_create(&sl, NULL, good, fz_huge[k]));
  for (size_t k = 0; k < sizeof bad_types / sizeof bad_types[0]; k++) {
    bad[0] = item_of(bad_types[k], 1, 0);
    FZ_ERR(MPMP_EINVAL, mpmp_sharelist_create(&sl, NULL, bad, 1));
  }
  const int64_t not_bools[] = {2, -1, INT64_MIN, INT64_MAX};
  for (size_t k = 0; k < sizeof not_bools / sizeof not_bools[0]; k++) {
    bad[0] = item_of(MPMP_SL_BOOL, not_bools[k], 0);
    FZ_ERR(MPMP_EINVAL, mpmp_sharelist_create(&sl, NULL, bad, 1));
  }
  bad[0] = item_of(MPMP_INT8, 300, 0);
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_create(&sl, NULL, bad, 1));
  bad[0] = item_of(MPMP_UINT16, -1, 0);
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_create(&sl, NULL, bad, 1));
  bad[0] = item_of(MPMP_FLOAT, 0, 1e300);
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_create(&sl, NULL, bad, 1));
  bad[0] = mpmp_sl_bytes(NULL, 5, 0);
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_create(&sl, NULL, bad, 1));
  bad[0] = mpmp_sl_bytes("abcdef", 6, 3);
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_create(&sl, NULL, bad, 1));
  for (size_t k = 0; k < FZ_NHUGE; k++) {
    bad[0] = mpmp_sl_bytes("abc", 3, fz_huge[k]);
    FZ_ERR(MPMP_EINVAL, mpmp_sharelist_create(&sl, NULL, bad, 1));
  }
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_create(&sl, "", good, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_attach(NULL, "x"));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_attach(&sl, NULL));
  FZ_ERR(MPMP_SHM_ENOENT, mpmp_sharelist_attach(&sl, "fz_never_made"));
}

static void sharelist_null(void) {
  size_t n = 0;
  int64_t i = 0;
  double f = 0;
  char buf[8];
  mpmp_sl_item_t v = mpmp_sl_int(1);
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_len(NULL, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_type(NULL, 0));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_get_i64(NULL, 0, &i));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_get_f64(NULL, 0, &f));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_get_bytes(NULL, 0, buf, 8, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_set_i64(NULL, 0, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_set_f64(NULL, 0, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_set_bytes(NULL, 0, "a", 1));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_count(NULL, &v, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_index(NULL, &v, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_get_bool(NULL, 0, &(int){0}));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_set_bool(NULL, -1, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_is_none(NULL, 0));
  FZ_TRUE(mpmp_sharelist_shm(NULL) == NULL, "mpmp_sharelist_shm(NULL)");
  FZ_TRUE(!strcmp(mpmp_sharelist_name(NULL), ""), "sharelist_name(NULL)");
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_unlink(NULL));
  FZ_EQ(0, mpmp_sharelist_close(NULL));
}

/* [int8 5, float 1.5, bytes "ab" (room for 4)] */
static void sharelist_access(mpmp_sharelist_t *sl) {
  size_t n = 0, idx = 0;
  int64_t i = 0;
  double f = 0;
  char buf[8], small[1];
  mpmp_sl_item_t v = mpmp_sl_int(5), badv = item_of(77, 0, 0);
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_len(sl, NULL));
  /* Python's indices: -3..2 are the items; these are not */
  static const int64_t bad_at[] = {3, -4, INT64_MAX, INT64_MIN,
                                   INT64_MIN + 1, (int64_t)1 << 40};
  for (size_t k = 0; k < sizeof bad_at / sizeof bad_at[0]; k++) {
    int64_t at = bad_at[k];
    int b = 0;
    FZ_ERR(MPMP_EINVAL, mpmp_sharelist_get_bool(sl, at, &b));
    FZ_ERR(MPMP_EINVAL, mpmp_sharelist_set_bool(sl, at, 1));
    FZ_ERR(MPMP_EINVAL, mpmp_sharelist_is_none(sl, at));
    FZ_ERR(MPMP_EINVAL, mpmp_sharelist_type(sl, at));
    FZ_ERR(MPMP_EINVAL, mpmp_sharelist_get_i64(sl, at, &i));
    FZ_ERR(MPMP_EINVAL, mpmp_sharelist_get_f64(sl, at, &f));
    FZ_ERR(MPMP_EINVAL, mpmp_sharelist_get_bytes(sl, at, buf, 8, &n));
    FZ_ERR(MPMP_EINVAL, mpmp_sharelist_set_i64(sl, at, 1));
    FZ_ERR(MPMP_EINVAL, mpmp_sharelist_set_f64(sl, at, 1));
    FZ_ERR(MPMP_EINVAL, mpmp_sharelist_set_bytes(sl, at, "a", 1));
  }
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_type(sl, 3));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_get_bool(sl, 0, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_get_bool(sl, -3, &(int){0})); /* int */
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_set_bool(sl, -1, 1));         /* bytes */
  FZ_EQ(0, mpmp_sharelist_is_none(sl, -1));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_get_i64(sl, 0, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_get_f64(sl, 1, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_get_i64(sl, 2, &i));   /* bytes */
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_get_f64(sl, 0, &f));   /* int */
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_get_bytes(sl, 0, buf, 8, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_get_bytes(sl, 2, NULL, 8, &n));
  FZ_ERR(MPMP_EMSGSIZE, mpmp_sharelist_get_bytes(sl, 2, small, 1, &n));
  FZ_TRUE(n == 2, "EMSGSIZE told %zu bytes, not 2", n);
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_set_i64(sl, 0, 128));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_set_i64(sl, 0, INT64_MIN));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_set_i64(sl, 1, 1));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_set_f64(sl, 1, 1e300));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_set_f64(sl, 0, 1.0));
  FZ_ERR(MPMP_EMSGSIZE, mpmp_sharelist_set_bytes(sl, 2, "abcde", 5));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_set_bytes(sl, 2, NULL, 2));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_set_bytes(sl, 0, "a", 1));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_count(sl, NULL, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_count(sl, &v, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_count(sl, &badv, &n));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_index(sl, &v, NULL));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_index(sl, &badv, &idx));
  v = mpmp_sl_int(6);
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_index(sl, &v, &idx));
  /* nothing changed */
  FZ_EQ(0, mpmp_sharelist_get_i64(sl, 0, &i));
  FZ_TRUE(i == 5, "item 0 changed to %lld", (long long)i);
  FZ_EQ(0, mpmp_sharelist_get_f64(sl, 1, &f));
  FZ_TRUE(f == 1.5, "item 1 changed to %g", f);
  FZ_EQ(0, mpmp_sharelist_get_bytes(sl, 2, buf, sizeof buf, &n));
  FZ_TRUE(n == 2 && !memcmp(buf, "ab", 2), "item 2 changed");
}

static void fuzz_sharelist(void **state) {
  (void)state;
  mpmp_sharelist_t *sl = NULL, *sl2 = NULL;
  mpmp_shm_t *plain = NULL;
  mpmp_sl_item_t items[3] = {mpmp_sl_int(5), mpmp_sl_float(1.5),
                             mpmp_sl_bytes("ab", 2, 4)};
  items[0].type = MPMP_INT8;
  items[1].type = MPMP_FLOAT;
  sharelist_create_args();
  sharelist_null();
  FZ_EQ(0, mpmp_sharelist_create(&sl, "fz_sl", items, 3));
  sharelist_access(sl);
  /* a block that is not a list */
  FZ_EQ(0, mpmp_shm_create(&plain, "fz_plain", 64));
  FZ_ERR(MPMP_EINVAL, mpmp_sharelist_attach(&sl2, "fz_plain"));
  FZ_EQ(0, mpmp_shm_unlink(plain));
  FZ_EQ(0, mpmp_shm_close(plain));
  /* an empty list, as Python allows */
  FZ_EQ(0, mpmp_sharelist_create(&sl2, NULL, NULL, 0));
  FZ_EQ(0, mpmp_sharelist_unlink(sl2));
  FZ_EQ(0, mpmp_sharelist_close(sl2));
  /* after unlink: still usable, the name gone */
  FZ_EQ(0, mpmp_sharelist_unlink(sl));
  FZ_ERR(MPMP_SHM_ENOENT, mpmp_sharelist_unlink(sl));
  FZ_ERR(MPMP_SHM_ENOENT, mpmp_sharelist_attach(&sl2, "fz_sl"));
  sharelist_access(sl);
  FZ_EQ(0, mpmp_sharelist_close(sl));
  FZ_DONE();
}

/* A body on rank 1: the main rank's block is there only on the same node. */
static int attach_body(mpmp_ctx_t *ctx) {
  const char *name = mpmp_arg(ctx, NULL);
  const int *same_node = (const int *)(name + MPMP_SHM_NAME_SIZE);
  mpmp_shm_t *s = NULL;
  if (*same_node) {
    FZ_EQ(0, mpmp_shm_attach(&s, name));
    FZ_EQ(0, mpmp_shm_close(s));
  } else {
    FZ_ERR(MPMP_SHM_ENOENT, mpmp_shm_attach(&s, name));
  }
  FZ_ERR(MPMP_SHM_ENOENT, mpmp_shm_attach(&s, "fz_never_made"));
  fz_send_notes(ctx);
  return 0;
}
MPMP_TASK(attach_body);

static void fuzz_shm_other_rank(void **state) {
  (void)state;
  mpmp_shm_t *s = NULL;
  char arg[MPMP_SHM_NAME_SIZE + sizeof(int)] = {0};
  int same = mpmp_node_count() == 1;
  FZ_EQ(0, mpmp_shm_create(&s, "fz_remote", 8));
  snprintf(arg, MPMP_SHM_NAME_SIZE, "%s", mpmp_shm_name(s));
  memcpy(arg + MPMP_SHM_NAME_SIZE, &same, sizeof same);
  fz_run_remote(attach_body, arg, sizeof arg, __FILE__, __LINE__);
  FZ_EQ(0, mpmp_shm_unlink(s));
  FZ_EQ(0, mpmp_shm_close(s));
  FZ_DONE();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(fuzz_shm_args),
    cmocka_unit_test(fuzz_sharelist),
    cmocka_unit_test(fuzz_shm_other_rank),
};

MPMP_TEST_MAIN(tests)
