/*
 * Fuzz: every call before mpmp_init() and after mpmp_finalize(). Before
 * init nothing runs: calls that need the runtime are MPMP_ENOTINIT (or
 * refuse their NULL argument), the pure ones answer as documented. After
 * finalize the same, and the objects made before it follow their lifetime
 * rules (headers): shared-object and Manager handles are MPMP_ENOTINIT,
 * main-rank objects can still be read and destroyed, a SharedMemory
 * mapping stays until closed. Finally mpmp_init() again: MPMP_EALREADY
 * when mpmp owned MPI; with "--user-mpi" (the program initialized MPI) it
 * either works again or is refused, but never hangs.
 */
#include <mpi.h>

#include "fuzz.h"

static int user_mpi;
static FILE *devnull;

/* Before init a handle cannot be valid; after finalize it cannot be used:
 * either answer is right. */
#define FZ_DOWN(call) FZ_ERR2(MPMP_ENOTINIT, MPMP_EBADF, call)
/* A NULL object or output: either refusal is right. */
#define FZ_DOWN_NULL(call) FZ_ERR2(MPMP_ENOTINIT, MPMP_EINVAL, call)

/* ---- the calls that need the runtime, with plausible arguments ----------- */

static void runtime_calls(int after) {
  mpmp_heap_info_t hi;
  mpmp_process_info_t info;
  FZ_EQ(0, mpmp_initialized());
  FZ_ERR(MPMP_ENOTINIT, mpmp_rank());
  FZ_ERR(MPMP_ENOTINIT, mpmp_world_size());
  FZ_ERR(MPMP_ENOTINIT, mpmp_worker_count());
  if (after) /* the main rank's role outlives its run */
    FZ_EQ(1, mpmp_is_main());
  else
    FZ_ERR(MPMP_ENOTINIT, mpmp_is_main());
  FZ_ERR(MPMP_ENOTINIT, mpmp_node_count());
  FZ_ERR(MPMP_ENOTINIT, mpmp_node_id());
  FZ_TRUE(!strcmp(mpmp_node_name(), ""), "mpmp_node_name() is '%s'",
          mpmp_node_name());
  FZ_TRUE(mpmp_cpu_count() >= 1, "mpmp_cpu_count() is %d", mpmp_cpu_count());
  FZ_ERR(MPMP_ENOTINIT, mpmp_finalize());
  FZ_ERR(MPMP_ENOTINIT, mpmp_print_bindings(devnull));
  FZ_EQ(0, mpmp_print_settings(devnull));
  FZ_ERR(MPMP_ENOTINIT, mpmp_heap_info(&hi));
  FZ_ERR(MPMP_ENOTINIT, mpmp_current_process(&info));
  FZ_ERR(MPMP_ENOTINIT, mpmp_active_children(NULL, 0));
}

static void pure_calls(void) {
  FZ_TRUE(mpmp_version()[0] != '\0', "no version");
  FZ_TRUE(mpmp_version_hex() != 0, "no version number");
  FZ_TRUE(!strcmp(mpmp_err_name(MPMP_EINVAL), "MPMP_EINVAL"), "err_name");
  FZ_TRUE(!strcmp(mpmp_err_name(12345), "MPMP_EUNKNOWN"), "err_name(12345)");
  FZ_TRUE(mpmp_strerror(INT32_MIN)[0] != '\0', "strerror(INT_MIN) empty");
  FZ_TRUE(mpmp_errmsg() != NULL, "errmsg NULL");
  FZ_EQ(MPMP_INT32, mpmp_typecode('i'));
  FZ_EQ(8, mpmp_type_size(MPMP_DOUBLE));
  FZ_TRUE(!strcmp(mpmp_type_name(MPMP_INT8), "int8"), "type_name");
  FZ_TRUE(mpmp_task_name(fz_square) != NULL &&
          !strcmp(mpmp_task_name(fz_square), "fz_square"), "task_name");
  FZ_TRUE(mpmp_task_name(NULL) == NULL, "task_name(NULL)");
  mpmp_task_register(NULL, NULL, NULL); /* ignored, no crash */
  mpmp_items_free(NULL);
  FZ_TRUE(mpmp_shm_buf(NULL) == NULL && mpmp_shm_size(NULL) == 0 &&
          !strcmp(mpmp_shm_name(NULL), ""), "shm getters of NULL");
  FZ_EQ(0, mpmp_shm_close(NULL));
  FZ_EQ(0, mpmp_sharelist_close(NULL));
  FZ_EQ(0, mpmp_process_destroy(NULL));
  FZ_EQ(0, mpmp_pool_destroy(NULL));
  mpmp_async_destroy(NULL);
  mpmp_future_destroy(NULL);
  mpmp_imap_destroy(NULL);
  mpmp_as_completed_destroy(NULL);
}

/* Creating anything needs the runtime. */
static void create_calls(void) {
  mpmp_pool_t *pool;
  mpmp_process_t *p;
  mpmp_executor_t *ex;
  test_objs_t o;
  mpmp_manager_t m;
  mpmp_shm_t *shm;
  mpmp_sharelist_t *sl;
  mpmp_as_completed_t *it;
  mpmp_sl_item_t item = mpmp_sl_int(1);
  FZ_ERR(MPMP_ENOTINIT, mpmp_pool_create(&pool, NULL));
  FZ_ERR(MPMP_ENOTINIT, mpmp_process_create(&p, fz_square, NULL, 0, NULL));
  FZ_ERR(MPMP_ENOTINIT, mpmp_executor_create(&ex, NULL));
  FZ_ERR(MPMP_ENOTINIT, mpmp_value_create(&o.v, MPMP_INT32, NULL, 1));
  FZ_ERR(MPMP_ENOTINIT, mpmp_array_create(&o.a, MPMP_INT32, 4, NULL, 1));
  FZ_ERR(MPMP_ENOTINIT, mpmp_lock_create(&o.l));
  FZ_ERR(MPMP_ENOTINIT, mpmp_rlock_create(&o.l));
  FZ_ERR(MPMP_ENOTINIT, mpmp_sem_create(&o.s, 1));
  FZ_ERR(MPMP_ENOTINIT, mpmp_bsem_create(&o.s, 1));
  FZ_ERR(MPMP_ENOTINIT, mpmp_event_create(&o.e));
  FZ_ERR(MPMP_ENOTINIT, mpmp_cond_create(&o.c, NULL));
  FZ_ERR(MPMP_ENOTINIT, mpmp_barrier_create(&o.b, 2));
  FZ_ERR(MPMP_ENOTINIT, mpmp_queue_create(&o.q, 2, 8));
  FZ_ERR(MPMP_ENOTINIT, mpmp_joinable_queue_create(&o.q, 2, 8));
  FZ_ERR(MPMP_ENOTINIT, mpmp_simple_queue_create(&o.q, 8));
  FZ_ERR(MPMP_ENOTINIT, mpmp_pipe_create(&o.c1, &o.c2, 1));
  FZ_ERR(MPMP_ENOTINIT, mpmp_manager_start(&m));
  FZ_ERR(MPMP_ENOTINIT, mpmp_shm_create(&shm, NULL, 8));
  FZ_ERR(MPMP_ENOTINIT, mpmp_shm_attach(&shm, "fz_x"));
  FZ_ERR(MPMP_ENOTINIT, mpmp_shm_open(&shm, "fz_x", 1, 8));
  FZ_ERR(MPMP_ENOTINIT, mpmp_sharelist_create(&sl, NULL, &item, 1));
  FZ_ERR(MPMP_ENOTINIT, mpmp_sharelist_attach(&sl, "fz_x"));
  /* over no futures at all: nothing needs the runtime */
  FZ_CALL(mpmp_as_completed(NULL, 0, 1, &it), rc_ac);
  if (rc_ac == 0)
    mpmp_as_completed_destroy(it);
  else
    fz_refused("mpmp_as_completed(NULL, 0)", (int)rc_ac, MPMP_ENOTINIT,
               MPMP_ENOTINIT, __FILE__, __LINE__);
  FZ_ERR(MPMP_ENOTINIT, mpmp_futures_wait(NULL, 0, MPMP_ALL_COMPLETED, 1));
}

/* Main-rank objects that cannot exist yet: NULL. */
static void null_object_calls(void) {
  int64_t x = 1, out[1];
  int code;
  const void *data;
  size_t n;
  mpmp_async_t *j;
  mpmp_future_t *f;
  FZ_DOWN_NULL(mpmp_pool_map(NULL, fz_square, &x, 1, 8, out, 8, 0));
  FZ_DOWN_NULL(mpmp_pool_apply_async(NULL, fz_square, &x, 8, NULL, NULL, &j));
  FZ_DOWN_NULL(mpmp_pool_close(NULL));
  FZ_DOWN_NULL(mpmp_pool_join(NULL, 1));
  FZ_DOWN_NULL(mpmp_pool_size(NULL));
  FZ_DOWN_NULL(mpmp_async_get(NULL, 1));
  FZ_DOWN_NULL(mpmp_async_ready(NULL));
  FZ_DOWN_NULL(mpmp_imap_next(NULL, out, NULL, 1));
  FZ_DOWN_NULL(mpmp_process_start(NULL));
  FZ_DOWN_NULL(mpmp_process_join(NULL, 1));
  FZ_DOWN_NULL(mpmp_process_exitcode(NULL, &code));
  FZ_DOWN_NULL(mpmp_process_result(NULL, &data, &n));
  FZ_DOWN_NULL(mpmp_executor_submit(NULL, fz_square, &x, 8, &f));
  FZ_DOWN_NULL(mpmp_executor_shutdown(NULL, 1, 0));
  FZ_DOWN_NULL(mpmp_future_done(NULL));
  FZ_DOWN_NULL(mpmp_future_result(NULL, 1, &data, &n));
  FZ_DOWN_NULL(mpmp_as_completed_next(NULL, &f));
}

/* ---- handles: made before finalize (or garbage before init) -------------- */

typedef struct handles {
  test_objs_t o; /* one object of each basic kind */
  mpmp_manager_t m;
  mpmp_dict_t d;
  mpmp_list_t li;
  mpmp_namespace_t ns;
} handles_t;

static handles_t H;

static void handle_calls(void) {
  int64_t x = 0;
  char buf[8];
  size_t n = 0;
  FZ_DOWN(mpmp_value_load(H.o.v, &x));
  FZ_DOWN(mpmp_value_store(H.o.v, &x));
  FZ_DOWN(mpmp_value_add(H.o.v, 1, &x));
  FZ_DOWN(mpmp_value_type(H.o.v));
  FZ_DOWN(mpmp_value_free(H.o.v));
  FZ_DOWN(mpmp_array_get(H.o.a, 0, &x));
  FZ_DOWN(mpmp_array_read(H.o.a, 0, 0, buf));
  FZ_DOWN(mpmp_array_data(H.o.a, &(void *){NULL}));
  FZ_DOWN(mpmp_lock_acquire(H.o.l, 0.01));
  FZ_DOWN(mpmp_lock_release(H.o.l));
  FZ_DOWN(mpmp_sem_acquire(H.o.s, 0.01));
  FZ_DOWN(mpmp_sem_value(H.o.s));
  FZ_DOWN(mpmp_event_set(H.o.e));
  FZ_DOWN(mpmp_event_wait(H.o.e, 0.01));
  FZ_DOWN(mpmp_cond_acquire(H.o.c, 0.01));
  FZ_DOWN(mpmp_cond_notify(H.o.c, 1));
  FZ_DOWN(mpmp_barrier_wait(H.o.b, 0.01));
  FZ_DOWN(mpmp_barrier_parties(H.o.b));
  FZ_DOWN(mpmp_queue_put(H.o.q, "x", 1, 0.01));
  FZ_DOWN(mpmp_queue_get(H.o.q, buf, sizeof buf, &n, 0.01));
  FZ_DOWN(mpmp_queue_qsize(H.o.q));
  FZ_DOWN(mpmp_queue_close(H.o.q));
  FZ_DOWN(mpmp_conn_send(H.o.c1, "x", 1, 0.01));
  FZ_DOWN(mpmp_conn_recv(H.o.c2, buf, sizeof buf, &n, 0.01));
  FZ_DOWN(mpmp_conn_poll(H.o.c2, 0.01));
  FZ_DOWN(mpmp_conn_wait(&H.o.c2.ref, 1, 0.01, NULL));
  FZ_DOWN(mpmp_pipe_free(H.o.c1, H.o.c2));
  FZ_DOWN(mpmp_manager_alive(H.m));
  FZ_DOWN(mpmp_manager_shutdown(H.m));
  FZ_DOWN(mpmp_manager_rank(H.m));
  FZ_DOWN(mpmp_dict_set(H.d, "k", "v", 1));
  FZ_DOWN(mpmp_dict_len(H.d, &n));
  FZ_DOWN(mpmp_list_append(H.li, "v", 1));
  FZ_DOWN(mpmp_namespace_has(H.ns, "x"));
}

/* The calls that read an object's header without a message (issue 13:
 * after finalize the heap is unmapped). */
static void info_calls(void) {
  size_t n = 0;
  mpmp_lock_t l;
  FZ_DOWN(mpmp_array_len(H.o.a, &n));
  FZ_DOWN(mpmp_value_get_lock(H.o.v, &l));
  FZ_DOWN(mpmp_array_get_lock(H.o.a, &l));
  FZ_DOWN(mpmp_array_type(H.o.a));
  FZ_DOWN(mpmp_cond_get_lock(H.o.c, &l));
}

static void fuzz_before_init(void **state) {
  (void)state;
  uint64_t seed = 77;
  unsigned char *p = (unsigned char *)&H;
  for (size_t i = 0; i < sizeof H; i++) /* garbage: nothing is valid yet */
    p[i] = (unsigned char)fz_rand(&seed);
  runtime_calls(0);
  pure_calls();
  create_calls();
  null_object_calls();
  handle_calls();
  info_calls();
  FZ_DONE();
}

/* ---- after finalize -------------------------------------------------------- */

static struct {
  mpmp_pool_t *pool;        /* left running: finalize terminated it */
  mpmp_async_t *j;          /* done before finalize */
  mpmp_process_t *p;        /* ended before finalize */
  mpmp_executor_t *ex;      /* not shut down */
  mpmp_future_t *f;         /* done */
  mpmp_shm_t *shm;          /* "fz_init": 4 bytes = 42 */
  mpmp_sharelist_t *sl;     /* [7] */
  mpmp_imap_t *done_it;     /* read to its end */
  mpmp_imap_t *open_it;     /* items still out at finalize */
  mpmp_as_completed_t *ac;  /* not read */
} M;

static int produce(void *user, void *item) {
  int64_t *left = user;
  if (*left <= 0)
    return 0;
  *(int64_t *)item = (*left)--;
  return 1;
}
static int64_t done_left = 2, open_left = 1000;

static int make_objects(void) {
  int rc = 0;
  int64_t x = 3, out = 0, nap = 100;
  mpmp_sl_item_t seven = mpmp_sl_int(7);
  rc |= test_objs_make(&H.o);
  rc |= mpmp_manager_start(&H.m);
  rc |= mpmp_dict_create(H.m, &H.d) | mpmp_list_create(H.m, &H.li);
  rc |= mpmp_namespace_create(H.m, &H.ns);
  mpmp_executor_opts_t eo = {.max_workers = 1};
  rc |= mpmp_executor_create(&M.ex, &eo);
  rc |= mpmp_executor_submit(M.ex, fz_square, &x, 8, &M.f);
  rc |= mpmp_future_result(M.f, 30, NULL, NULL);
  rc |= mpmp_as_completed(&M.f, 1, 30, &M.ac);
  rc |= mpmp_process_create(&M.p, fz_nap, &nap, 8, NULL);
  rc |= mpmp_process_start(M.p) | mpmp_process_join(M.p, 30);
  mpmp_pool_opts_t po = {.processes = 1};
  rc |= mpmp_pool_create(&M.pool, &po);
  rc |= mpmp_pool_apply_async(M.pool, fz_square, &x, 8, NULL, NULL, &M.j);
  rc |= mpmp_async_get(M.j, 30);
  rc |= mpmp_pool_imap(M.pool, fz_square, produce, &done_left, 8, 8, 1, 0,
                       &M.done_it);
  while (mpmp_imap_next(M.done_it, &out, NULL, 30) == 0)
    ;
  rc |= mpmp_pool_imap(M.pool, fz_nap, produce, &open_left, 8, 8, 1, 4,
                       &M.open_it);
  rc |= mpmp_shm_create(&M.shm, "fz_init", 4);
  if (M.shm != NULL)
    *(int *)mpmp_shm_buf(M.shm) = 42;
  rc |= mpmp_sharelist_create(&M.sl, NULL, &seven, 1);
  return rc;
}

static void fuzz_after_finalize_calls(void **state) {
  (void)state;
  runtime_calls(1);
  pure_calls();
  create_calls();
  null_object_calls();
  handle_calls();
  FZ_DONE();
}

/* Main-rank objects: read and destroyed, as their headers allow. */
static void fuzz_after_finalize_objects(void **state) {
  (void)state;
  int code = -1;
  int64_t x = 1, out[1];
  const void *data = NULL;
  size_t n = 0;
  mpmp_future_t *f = NULL;
  /* a Process ended: its results stay (test_finalize checks the same) */
  FZ_EQ(0, mpmp_process_exitcode(M.p, &code));
  FZ_TRUE(code == 0, "exit code %d", code);
  FZ_EQ(0, mpmp_process_result(M.p, &data, &n));
  FZ_ERR(MPMP_ENOTINIT, mpmp_process_start(M.p));
  FZ_ERR(MPMP_ENOTINIT, mpmp_process_join(M.p, 1));
  FZ_EQ(0, mpmp_process_destroy(M.p));
  /* a done result: read, then destroyed */
  FZ_EQ(1, mpmp_async_ready(M.j));
  FZ_EQ(0, mpmp_async_result(M.j, &data, &n));
  FZ_EQ(0, mpmp_async_get(M.j, 1)); /* read, not waited for (pool.h) */
  FZ_EQ(0, mpmp_async_wait(M.j, -1));
  mpmp_async_destroy(M.j);
  /* the pool: no work, then destroyed */
  FZ_ERR(MPMP_ENOTINIT, mpmp_pool_map(M.pool, fz_square, &x, 1, 8, out, 8, 1));
  FZ_ERR(MPMP_ENOTINIT, mpmp_pool_apply(M.pool, fz_square, &x, 8, out, 8, &n));
  FZ_ERR(MPMP_ENOTINIT, mpmp_pool_close(M.pool));
  FZ_ERR(MPMP_ENOTINIT, mpmp_pool_terminate(M.pool));
  FZ_ERR(MPMP_ENOTINIT, mpmp_pool_join(M.pool, 1));
  /* an imap read to its end: still at its end */
  FZ_CALL(mpmp_imap_next(M.done_it, out, NULL, 1), rc_done);
  FZ_TRUE(rc_done == MPMP_EEOF || rc_done == MPMP_ENOTINIT, "imap_next at "
          "its end after finalize: %s", mpmp_err_name((int)rc_done));
  fz_enter("mpmp_imap_destroy(done) after finalize", __FILE__, __LINE__);
  mpmp_imap_destroy(M.done_it);
  fz_leave();
  /* a done future, and its executor: no work; destroy frees it */
  FZ_EQ(1, mpmp_future_done(M.f));
  FZ_EQ(0, mpmp_future_cancelled(M.f));
  FZ_EQ(0, mpmp_future_result(M.f, 1, &data, &n)); /* executor.h */
  FZ_ERR(MPMP_ENOTINIT, mpmp_executor_submit(M.ex, fz_square, &x, 8, &f));
  FZ_ERR(MPMP_ENOTINIT, mpmp_executor_shutdown(M.ex, 1, 0));
  FZ_EQ(0, mpmp_executor_destroy(M.ex));
  mpmp_future_destroy(M.f);
  /* SharedMemory: the mapping stays until closed; the name is gone */
  FZ_TRUE(*(int *)mpmp_shm_buf(M.shm) == 42, "the mapping changed");
  FZ_ERR(MPMP_ENOTINIT, mpmp_shm_unlink(M.shm));
  FZ_EQ(0, mpmp_shm_close(M.shm));
  int64_t seven = 0;
  FZ_EQ(0, mpmp_sharelist_get_i64(M.sl, 0, &seven));
  FZ_TRUE(seven == 7, "the list changed to %lld", (long long)seven);
  FZ_ERR(MPMP_ENOTINIT, mpmp_sharelist_unlink(M.sl));
  FZ_EQ(0, mpmp_sharelist_close(M.sl));
  FZ_DONE();
}

/* ---- known crashes (issue 13): last ---------------------------------------- */

static void fuzz_after_finalize_info(void **state) {
  (void)state;
  info_calls();
  FZ_DONE();
}

/* Waits over objects whose work was cut off by finalize: an error at once,
 * no MPI call after MPI_Finalize. */
static void fuzz_after_finalize_waits(void **state) {
  (void)state;
  int64_t out[1];
  mpmp_future_t *f = NULL;
  FZ_CALL(mpmp_as_completed_next(M.ac, &f), rc_ac);
  FZ_TRUE(rc_ac == 0 || rc_ac == MPMP_ENOTINIT, "as_completed_next after "
          "finalize: %s", mpmp_err_name((int)rc_ac));
  fz_enter("mpmp_as_completed_destroy after finalize", __FILE__, __LINE__);
  mpmp_as_completed_destroy(M.ac);
  fz_leave();
  FZ_ERR(MPMP_ENOTINIT, mpmp_imap_next(M.open_it, out, NULL, 1));
  fz_enter("mpmp_imap_destroy(open) after finalize", __FILE__, __LINE__);
  mpmp_imap_destroy(M.open_it);
  fz_leave();
  FZ_EQ(0, mpmp_pool_destroy(M.pool));
  FZ_DONE();
}

static void fuzz_init_again(void **state) {
  (void)state;
  int argc = 0;
  char **argv = NULL;
  fz_enter("mpmp_init after mpmp_finalize", __FILE__, __LINE__);
  int rc = mpmp_init(&argc, &argv);
  fz_leave();
  if (!user_mpi)
    FZ_TRUE(rc == MPMP_EALREADY, "mpmp_init after finalize: %s",
            mpmp_err_name(rc));
  else if (rc == MPMP_MAIN) {
    /* a handle of the first session names nothing in this one */
    int64_t x;
    FZ_ERR(MPMP_EBADF, mpmp_value_load(H.o.v, &x));
    FZ_ERR(MPMP_EBADF, mpmp_queue_qsize(H.o.q));
    FZ_ERR(MPMP_EBADF, mpmp_dict_len(H.d, &(size_t){0}));
    FZ_EQ(0, mpmp_finalize());
  }
  else
    fz_refused("mpmp_init after finalize", rc, 0, 0, __FILE__, __LINE__);
  FZ_DONE();
}

static const struct CMUnitTest before[] = {
    cmocka_unit_test(fuzz_before_init),
};

static const struct CMUnitTest after[] = {
    cmocka_unit_test(fuzz_after_finalize_calls),
    cmocka_unit_test(fuzz_after_finalize_objects),
    cmocka_unit_test(fuzz_init_again),
    cmocka_unit_test(fuzz_after_finalize_info),
    cmocka_unit_test(fuzz_after_finalize_waits),
};

int main(int argc, char **argv) {
  int first = test_world_rank() <= 0, failed = 0;
  int provided = 0;
  user_mpi = argc > 1 && !strcmp(argv[1], "--user-mpi");
  devnull = fopen("/dev/null", "w");
  const char *filter = getenv("MPMP_TEST_FILTER");
  if (filter != NULL && *filter != '\0')
    cmocka_set_test_filter(filter);
  if (user_mpi)
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  if (first) /* every rank would say the same */
    failed |= cmocka_run_group_tests_name("before_init", before, NULL, NULL);
  int rc = test_init(&argc, &argv); /* says why it failed */
  if (rc == MPMP_MAIN) {
    if (make_objects() != 0) {
      fprintf(stderr, "making the objects failed: %s\n", mpmp_errmsg());
      failed = 1;
    }
    if (mpmp_finalize() != 0) {
      fprintf(stderr, "mpmp_finalize: %s\n", mpmp_errmsg());
      failed = 1;
    }
    failed |= cmocka_run_group_tests_name("after_finalize", after, NULL, NULL);
  } else if (rc == MPMP_WORKER_DONE) {
    /* a worker whose job ended is still no main rank: a negative answer
     * here sent `if (!mpmp_is_main()) return` into the main's code */
    if (mpmp_is_main() != 0) {
      fprintf(stderr, "mpmp_is_main() after MPMP_WORKER_DONE is %d, not 0\n",
              mpmp_is_main());
      failed = 1;
    }
    if (user_mpi) { /* the main rank's second mpmp_init() is collective */
      int argc2 = 0;
      char **argv2 = NULL;
      if (mpmp_init(&argc2, &argv2) == MPMP_MAIN)
        mpmp_finalize();
    }
  } else {
    failed = 1;
  }
  if (user_mpi)
    MPI_Finalize();
  return failed ? 1 : 0;
}
