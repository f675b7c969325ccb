/*
 * Shared objects from inside task hosts (issue 14): an isolated task uses
 * a Queue, a Value and a Manager dict, on its own node and on another one
 * (pseudo-nodes), as a task in the worker would; its requests to other
 * ranks go through its worker rank, which never lets a host call MPI. A
 * host that dies while its request is out costs only its item: the late
 * answer is not given to the next host.
 */
#undef NDEBUG /* the assert below must fire in every build */
#include <assert.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <stdint.h>
#include <unistd.h>

#include "mpitest.h"

typedef struct job {
  mpmp_queue_t q;   /* every item puts its value here */
  mpmp_value_t sum; /* and adds it here */
  mpmp_dict_t d;    /* and sets "k<x>" = x here, when use_dict */
  int use_dict;
  int64_t x;
} job_t;

typedef struct res {
  int64_t square;
  int32_t node, rank;
} res_t;

static int use_objects(mpmp_ctx_t *ctx) {
  const job_t *j = mpmp_arg(ctx, NULL);
  res_t *r = mpmp_out(ctx, sizeof *r);
  int rc = mpmp_queue_put(j->q, &j->x, sizeof j->x, T_OUT);
  if (rc < 0)
    return mpmp_fail(ctx, "put: %s", mpmp_errmsg());
  if ((rc = mpmp_value_add(j->sum, j->x, NULL)) < 0)
    return mpmp_fail(ctx, "add: %s", mpmp_errmsg());
  if (j->use_dict) {
    char key[32];
    snprintf(key, sizeof key, "k%lld", (long long)j->x);
    if ((rc = mpmp_dict_set(j->d, key, &j->x, sizeof j->x)) < 0)
      return mpmp_fail(ctx, "dict set: %s", mpmp_errmsg());
    int64_t back = -1;
    if ((rc = mpmp_dict_get(j->d, key, &back, sizeof back, NULL)) < 0 ||
        back != j->x)
      return mpmp_fail(ctx, "dict get: %d %lld", rc, (long long)back);
  }
  usleep(2000); /* let every worker take items */
  r->square = j->x * j->x;
  r->node = mpmp_node_id();
  r->rank = mpmp_rank();
  return 0;
}
MPMP_TASK(use_objects);

static mpmp_pool_t *isolated_pool(int processes) {
  mpmp_pool_t *pool = NULL;
  mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_ALWAYS,
                        .processes = processes};
  OK(mpmp_pool_create(&pool, &o));
  return pool;
}

/* Map n items of use_objects; check the results, the queue and the sum. */
static void map_objects(mpmp_pool_t *pool, job_t *proto, int n) {
  job_t *in = calloc((size_t)n, sizeof *in);
  res_t *out = calloc((size_t)n, sizeof *out);
  int64_t want = 0;
  for (int i = 0; i < n; i++) {
    in[i] = *proto;
    in[i].x = i + 1;
    want += i + 1;
  }
  OK(mpmp_pool_map(pool, use_objects, in, (size_t)n, sizeof *in, out,
                   sizeof *out, 1));
  int remote = 0;
  for (int i = 0; i < n; i++) {
    EQ(out[i].square, in[i].x * in[i].x);
    remote += out[i].node != mpmp_node_id();
  }
  if (other_node_exists() && remote == 0)
    fail_msg("no item ran on another node: the test saw no relayed call");
  int64_t got = 0, item = 0, sum = -1;
  for (int i = 0; i < n; i++) {
    OK(mpmp_queue_get(proto->q, &item, sizeof item, NULL, T_OUT));
    got += item;
  }
  EQ(got, want);
  RC(mpmp_queue_get_nowait(proto->q, &item, sizeof item, NULL),
     MPMP_ETIMEDOUT);
  OK(mpmp_value_load(proto->sum, &sum));
  EQ(sum, want);
  free(in);
  free(out);
}

static void relay_objects_of_any_node_from_hosts(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  job_t j = {0};
  int64_t zero = 0;
  OK(mpmp_queue_create(&j.q, 256, sizeof(int64_t)));
  OK(mpmp_value_create(&j.sum, MPMP_INT64, &zero, 1));
  mpmp_pool_t *pool = isolated_pool(0);
  map_objects(pool, &j, 64);
  OK(mpmp_value_store(j.sum, &zero));
  map_objects(pool, &j, 64); /* the same hosts, again */
  OK(mpmp_pool_destroy(pool));
  OK(mpmp_queue_free(j.q));
  OK(mpmp_value_free(j.sum));
}

static void relay_manager_from_hosts(void **state) {
  (void)state;
  if (test_hosts_off() || nworkers() < 2)
    skip(); /* the Manager takes a worker; the pool needs another */
  mpmp_manager_t m;
  OK(mpmp_manager_start(&m));
  job_t j = {.use_dict = 1};
  int64_t zero = 0;
  OK(mpmp_dict_create(m, &j.d));
  OK(mpmp_queue_create(&j.q, 256, sizeof(int64_t)));
  OK(mpmp_value_create(&j.sum, MPMP_INT64, &zero, 1));
  mpmp_pool_t *pool = isolated_pool(0);
  map_objects(pool, &j, 40);
  size_t len = 0;
  OK(mpmp_dict_len(j.d, &len));
  EQ(len, 40);
  for (int i = 1; i <= 40; i++) {
    char key[32];
    int64_t v = -1;
    snprintf(key, sizeof key, "k%d", i);
    OK(mpmp_dict_get(j.d, key, &v, sizeof v, NULL));
    EQ(v, i);
  }
  OK(mpmp_pool_destroy(pool));
  OK(mpmp_queue_free(j.q));
  OK(mpmp_value_free(j.sum));
  OK(mpmp_dict_free(j.d));
  OK(mpmp_manager_shutdown(m));
}

/* Item 0 dies (SIGALRM) while it waits in a get on an empty queue; the
 * answer to that get comes back after its host is gone. The next items
 * run in a fresh host and must get their own answers. */
typedef struct late {
  mpmp_queue_t empty, q;
  int64_t x;
} late_t;

static int die_waiting(mpmp_ctx_t *ctx) {
  const late_t *l = mpmp_arg(ctx, NULL);
  int64_t *out = mpmp_out(ctx, sizeof *out);
  int64_t got = -1;
  if (l->x == 0) {
    alarm(1);
    mpmp_queue_get(l->empty, &got, sizeof got, NULL, 3.0);
    return mpmp_fail(ctx, "the alarm did not end the host");
  }
  int rc = mpmp_queue_put(l->q, &l->x, sizeof l->x, T_OUT);
  if (rc == 0)
    rc = mpmp_queue_get(l->q, &got, sizeof got, NULL, T_OUT);
  if (rc < 0)
    return mpmp_fail(ctx, "put/get: %s", mpmp_errmsg());
  *out = got;
  return 0;
}
MPMP_TASK(die_waiting);

static void relay_late_answer_of_a_dead_host_is_dropped(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  late_t l[6];
  int64_t out[6];
  mpmp_queue_t empty, q;
  OK(mpmp_queue_create(&empty, 4, sizeof(int64_t)));
  OK(mpmp_queue_create(&q, 4, sizeof(int64_t)));
  for (int i = 0; i < 6; i++)
    l[i] = (late_t){.empty = empty, .q = q, .x = i};
  /* one worker: every item runs on it, one after the other */
  mpmp_pool_t *pool = isolated_pool(1);
  mpmp_async_t *res = NULL;
  OK(mpmp_pool_map_async(pool, die_waiting, l, 6, sizeof *l, out,
                         sizeof *out, 1, NULL, NULL, &res));
  RC(mpmp_async_get(res, T_OUT), MPMP_ECRASHED);
  HAS_MSG("signal 14");
  EQ(mpmp_async_failed_count(res), 1);
  for (int i = 1; i < 6; i++)
    EQ(out[i], i);
  mpmp_async_destroy(res);
  /* The dead get's answer (a timeout, 3 s after it was asked) comes in
   * meanwhile; a host that waits now must not take it for its own. */
  test_sleep(2.5);
  OK(mpmp_pool_map(pool, die_waiting, l + 1, 5, sizeof *l, out + 1,
                   sizeof *out, 1));
  for (int i = 1; i < 6; i++)
    EQ(out[i], i);
  OK(mpmp_pool_destroy(pool));
  OK(mpmp_queue_free(empty));
  OK(mpmp_queue_free(q));
}

/* A Process with default options runs in a task host: a segfault ends
 * the process (exitcode -11, as Python's), not the job; inside it,
 * current_process() names the Process, as in a worker. */
static int segv_or_whoami(mpmp_ctx_t *ctx) {
  const int *crash = mpmp_arg(ctx, NULL);
  if (*crash)
    raise(SIGSEGV);
  mpmp_process_info_t *me = mpmp_out(ctx, sizeof *me);
  return mpmp_current_process(me);
}
MPMP_TASK(segv_or_whoami);

static void relay_process_is_isolated_by_default(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  for (int crash = 1; crash >= 0; crash--) {
    mpmp_process_t *p = NULL;
    mpmp_process_opts_t o = {.name = "Kid", .daemon = 1};
    OK(mpmp_process_create(&p, segv_or_whoami, &crash, sizeof crash,
                           crash ? NULL : &o));
    OK(mpmp_process_start(p));
    OK(mpmp_process_join(p, T_OUT));
    int code = 0;
    OK(mpmp_process_exitcode(p, &code));
    EQ(code, crash ? -11 : 0);
    if (!crash) {
      const mpmp_process_info_t *me = NULL;
      OK(mpmp_process_result(p, (const void **)&me, NULL));
      if (strcmp(me->name, "Kid") != 0)
        fail_msg("current_process() in the host says '%s'", me->name);
      EQ(me->daemon, 1);
      EQ(me->rank, mpmp_process_rank(p));
      EQ(me->pid, mpmp_process_pid(p));
    }
    OK(mpmp_process_destroy(p));
  }
}

/* Threads of one Process body that call objects of another node at once:
 * every call of theirs goes through the one relay of their task host. */
typedef struct at_once {
  mpmp_array_t a;   /* 8 elements per thread */
  mpmp_value_t sum; /* every call adds 1 */
  int iters;
  int t;            /* (each thread's own copy) */
  char err[200];
} at_once_t;

enum { AT_ONCE_THREADS = 8 };

static void *at_once_thread(void *arg) {
  at_once_t *j = arg;
  int64_t w[8], r[8];
  for (int i = 0; i < j->iters && !j->err[0]; i++) {
    for (int k = 0; k < 8; k++)
      w[k] = (int64_t)j->t << 32 | (int64_t)i << 4 | k;
    int64_t old = -1;
    if (mpmp_array_write(j->a, (size_t)j->t * 8, 8, w) < 0 ||
        mpmp_array_read(j->a, (size_t)j->t * 8, 8, r) < 0 ||
        mpmp_value_add(j->sum, 1, &old) < 0)
      snprintf(j->err, sizeof j->err, "thread %d call %d: %s", j->t, i,
               mpmp_errmsg());
    else if (memcmp(w, r, sizeof w) != 0 || old < 0)
      snprintf(j->err, sizeof j->err, "thread %d call %d read back %llx for "
               "%llx (old sum %lld)", j->t, i, (unsigned long long)r[0],
               (unsigned long long)w[0], (long long)old);
  }
  return NULL;
}

static int threads_at_once(mpmp_ctx_t *ctx) {
  const at_once_t *proto = mpmp_arg(ctx, NULL);
  at_once_t j[AT_ONCE_THREADS];
  pthread_t th[AT_ONCE_THREADS];
  for (int t = 0; t < AT_ONCE_THREADS; t++) {
    j[t] = *proto;
    j[t].t = t;
    if (pthread_create(&th[t], NULL, at_once_thread, &j[t]) != 0)
      return mpmp_fail(ctx, "pthread_create failed");
  }
  for (int t = 0; t < AT_ONCE_THREADS; t++)
    pthread_join(th[t], NULL);
  for (int t = 0; t < AT_ONCE_THREADS; t++)
    if (j[t].err[0])
      return mpmp_fail(ctx, "%s", j[t].err);
  return 0;
}
MPMP_TASK(threads_at_once);

/* A body's threads that call at once each get their own answers: in a
 * task host two threads took the same answer from the relay (one of them
 * while the worker wrote the next), and read another call's results. */
static void relay_threads_of_a_body_call_at_once(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  at_once_t j = {.iters = 1500};
  OK(mpmp_array_create(&j.a, MPMP_INT64, 8 * AT_ONCE_THREADS, NULL, 0));
  OK(mpmp_value_create(&j.sum, MPMP_INT64, NULL, 0));
  mpmp_process_t *p = start_process(threads_at_once, &j, sizeof j);
  join_destroy_within(p, T_OUT);
  int64_t sum = 0;
  OK(mpmp_value_get_i64(j.sum, &sum));
  EQ(sum, (int64_t)AT_ONCE_THREADS * j.iters);
  for (int t = 0; t < AT_ONCE_THREADS; t++) {
    int64_t v = 0;
    OK(mpmp_array_get(j.a, (size_t)t * 8 + 7, &v));
    EQ(v, (int64_t)t << 32 | (int64_t)(j.iters - 1) << 4 | 7);
  }
  OK(mpmp_array_free(j.a));
  OK(mpmp_value_free(j.sum));
}

/* Sleeps `secs`, never looking at the stop request (secs < 0: for ever). */
static int sleep_for(mpmp_ctx_t *ctx) {
  const double *secs = mpmp_arg(ctx, NULL);
  double t0 = test_now();
  while (*secs < 0 || test_now() - t0 < *secs)
    usleep(1000);
  *(double *)mpmp_out(ctx, sizeof(double)) = *secs;
  return 0;
}
MPMP_TASK(sleep_for);

/* shutdown(wait, cancel_futures): futures not started are cancelled; a
 * running one that ends soon keeps its result (Python's semantics); one
 * that ignores the stop request is killed after MPMP_TERM_GRACE (1 s
 * here), so the shutdown returns. */
static void relay_executor_shutdown_cancel_ends_a_runaway(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  for (int runaway = 0; runaway <= 1; runaway++) {
    mpmp_executor_t *ex = NULL;
    mpmp_executor_opts_t o = {.isolate = MPMP_ISOLATE_ALWAYS,
                              .max_workers = 1};
    OK(mpmp_executor_create(&ex, &o));
    double forever = runaway ? -1 : 0.05, short_one = 0.05;
    mpmp_future_t *fs[4];
    OK(mpmp_executor_submit(ex, sleep_for, &forever, sizeof forever, &fs[0]));
    for (int i = 1; i < 4; i++)
      OK(mpmp_executor_submit(ex, sleep_for, &short_one, sizeof short_one,
                              &fs[i]));
    while (mpmp_future_running(fs[0]) == 0 && mpmp_future_done(fs[0]) == 0)
      test_sleep(0.001);
    double t0 = test_now();
    OK(mpmp_executor_shutdown(ex, 1, 1));
    double took = test_now() - t0;
    if (took > 1.0 + 2.0)
      fail_msg("shutdown took %.2f s (MPMP_TERM_GRACE is 1 s)", took);
    const void *data = NULL;
    size_t size = 0;
    if (runaway) {
      RC(mpmp_future_result(fs[0], 0, &data, &size), MPMP_ECRASHED);
      HAS_MSG("terminated");
    } else {
      OK(mpmp_future_result(fs[0], 0, &data, &size));
      EQ(*(const double *)data, forever);
    }
    for (int i = 1; i < 4; i++) {
      EQ(mpmp_future_done(fs[i]), 1);
      if (mpmp_future_cancelled(fs[i]) == 1)
        continue;
      /* already dealt to the worker (not cancellable): it ran, or the
       * terminate ended it before it ran */
      int rc = mpmp_future_result(fs[i], 0, &data, &size);
      if (rc != 0 && !(runaway && rc == MPMP_ETASK &&
                       strstr(mpmp_errmsg(), "terminated") != NULL))
        fail_msg("future %d: %s", i, mpmp_errmsg());
    }
    for (int i = 0; i < 4; i++)
      mpmp_future_destroy(fs[i]);
    OK(mpmp_executor_destroy(ex));
  }
}

/* ---- more ways to die: a real SIGBUS, out of memory under a limit on the
 * address space (ulimit -v), a failed assert ---------------------------- */

enum { DIE_BUS = 1, DIE_OOM, DIE_ASSERT };
typedef struct die { int32_t how, bad, x, pad; } die_t;

static int die_how(mpmp_ctx_t *ctx) {
  const die_t *d = mpmp_arg(ctx, NULL);
  int32_t *out = mpmp_out(ctx, sizeof *out);
  if (d->x == d->bad) {
    if (d->how == DIE_BUS) { /* a page past the end of a file */
      char path[] = "/tmp/mpmp-test-bus-XXXXXX";
      int fd = mkstemp(path);
      unlink(path);
      volatile char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                              MAP_SHARED, fd, 0);
      p[0] = 1; /* the file is empty: SIGBUS */
    } else if (d->how == DIE_OOM) { /* ulimit -v 256 MiB, then 1 GiB */
      struct rlimit r = {(rlim_t)256 << 20, (rlim_t)256 << 20};
      setrlimit(RLIMIT_AS, &r);
      /* volatile: the compiler may not drop an allocation it sees unused */
      char *volatile big = malloc((size_t)1 << 30);
      memset(big, 1, (size_t)1 << 30); /* NULL: SIGSEGV, as unchecked code dies */
      out[0] = big[5];
    } else {
      assert(d->x != d->bad);
    }
  }
  *out = d->x * 3;
  return 0;
}
MPMP_TASK(die_how);

typedef struct die_feed {
  int next, n;
  die_t proto;
} die_feed_t;

static int feed_die(void *user, void *item) {
  die_feed_t *f = user;
  if (f->next == f->n)
    return 0;
  die_t d = f->proto;
  d.x = f->next++;
  memcpy(item, &d, sizeof d);
  return 1;
}

static void relay_more_crash_kinds_in_map_imap_apply_submit_process(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  /* Under AddressSanitizer a limit on the address space makes its own
   * allocator end the process (status 1) before malloc can return NULL:
   * the OOM kind runs in the plain build only. */
  static const struct { int how, sig; } kinds[] = {
      {DIE_BUS, SIGBUS}, {DIE_ASSERT, SIGABRT},
#ifndef __SANITIZE_ADDRESS__
      {DIE_OOM, SIGSEGV},
#endif
  };
  mpmp_pool_t *pool = isolated_pool(0);
  mpmp_executor_t *ex = NULL;
  for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
    char sig[32];
    snprintf(sig, sizeof sig, "signal %d", kinds[k].sig);
    die_t in[8];
    int32_t out[8];
    for (int i = 0; i < 8; i++)
      in[i] = (die_t){.how = kinds[k].how, .bad = 3, .x = i};
    /* map: item 3 fails, the others are right */
    mpmp_async_t *res = NULL;
    OK(mpmp_pool_map_async(pool, die_how, in, 8, sizeof *in, out,
                           sizeof *out, 1, NULL, NULL, &res));
    RC(mpmp_async_get(res, T_OUT), MPMP_ECRASHED);
    HAS_MSG(sig);
    EQ(mpmp_async_failed_count(res), 1);
    size_t index = 0;
    OK(mpmp_async_failure(res, 0, &index, NULL, NULL));
    EQ(index, 3);
    for (int i = 0; i < 8; i++)
      if (i != 3)
        EQ(out[i], 3 * i);
    mpmp_async_destroy(res);
    /* imap: the same, item by item */
    die_feed_t feed = {.n = 8, .proto = in[0]};
    mpmp_imap_t *it = NULL;
    OK(mpmp_pool_imap(pool, die_how, feed_die, &feed, sizeof(die_t),
                      sizeof(int32_t), 1, 0, &it));
    for (int i = 0; i < 8; i++) {
      int32_t r = -1;
      size_t at = 0;
      RC(mpmp_imap_next(it, &r, &at, T_OUT), i == 3 ? MPMP_ECRASHED : 0);
      EQ(at, i);
      if (i == 3)
        HAS_MSG(sig);
      else
        EQ(r, 3 * i);
    }
    mpmp_imap_destroy(it);
    /* apply */
    int32_t one = -1;
    RC(mpmp_pool_apply(pool, die_how, &in[3], sizeof in[3], &one, sizeof one, NULL),
       MPMP_ECRASHED);
    HAS_MSG(sig);
    OK(mpmp_pool_apply(pool, die_how, &in[4], sizeof in[4], &one, sizeof one, NULL));
    EQ(one, 12);
  }
  OK(mpmp_pool_destroy(pool));
  mpmp_executor_opts_t eo = {.isolate = MPMP_ISOLATE_ALWAYS};
  OK(mpmp_executor_create(&ex, &eo));
  for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
    die_t d = {.how = kinds[k].how, .bad = 3, .x = 3};
    mpmp_future_t *f = NULL;
    OK(mpmp_executor_submit(ex, die_how, &d, sizeof d, &f));
    const void *data = NULL;
    RC(mpmp_future_result(f, T_OUT, &data, NULL), MPMP_ECRASHED);
    /* one call: no item to name (it said "on item 0") */
    HAS_MSG("task 'die_how' crashed on rank");
    mpmp_future_destroy(f);
  }
  OK(mpmp_executor_destroy(ex));
  /* a Process (isolated by default): Python's exitcode, -signal */
  for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
    die_t d = {.how = kinds[k].how, .bad = 3, .x = 3};
    mpmp_process_t *p = NULL;
    OK(mpmp_process_create(&p, die_how, &d, sizeof d, NULL));
    OK(mpmp_process_start(p));
    OK(mpmp_process_join(p, T_OUT));
    int code = 0;
    OK(mpmp_process_exitcode(p, &code));
    EQ(code, -kinds[k].sig);
    /* named as the process it is (it said "on item 0") */
    if (strstr(mpmp_process_errmsg(p), "crashed in process 'Process-") ==
        NULL)
      fail_msg("errmsg '%s'", mpmp_process_errmsg(p));
    OK(mpmp_process_destroy(p));
  }
}

/* ---- an isolated pool's initializer ------------------------------------- */

static int64_t g_setting; /* what the initializer set in this host */

static int set_setting(mpmp_ctx_t *ctx) {
  g_setting = *(const int64_t *)mpmp_arg(ctx, NULL);
  return 0;
}
MPMP_TASK(set_setting);

/* Returns the host's setting; crashes on item `x == 3` when asked. */
static int read_setting(mpmp_ctx_t *ctx) {
  const int64_t *x = mpmp_arg(ctx, NULL);
  if (*x == -3)
    raise(SIGSEGV);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = g_setting;
  return 0;
}
MPMP_TASK(read_setting);

/* Python runs a pool's initializer in each of its worker processes; here
 * in each task host of the pool, again in a host that replaced one that
 * crashed; a host of another pool, or a Process, does not see it. */
static void relay_isolated_pool_initializer_in_every_host(void **state) {
  (void)state;
  if (test_hosts_off())
    skip();
  int64_t setting = 77, in[12], out[12];
  mpmp_pool_opts_t o = {.isolate = MPMP_ISOLATE_ALWAYS,
                        .initializer = set_setting, .initarg = &setting,
                        .initarg_size = sizeof setting};
  mpmp_pool_t *pool = NULL;
  OK(mpmp_pool_create(&pool, &o));
  for (int i = 0; i < 12; i++)
    in[i] = i % 4 == 3 ? -3 : i; /* every 4th crashes its host */
  mpmp_async_t *res = NULL;
  OK(mpmp_pool_map_async(pool, read_setting, in, 12, sizeof *in, out,
                         sizeof *out, 1, NULL, NULL, &res));
  RC(mpmp_async_get(res, T_OUT), MPMP_ECRASHED);
  for (int k = 0; k < mpmp_async_failed_count(res); k++) {
    size_t index = 0;
    const char *msg = NULL;
    OK(mpmp_async_failure(res, k, &index, NULL, &msg));
    if (index % 4 != 3u)
      fail_msg("item %zu failed: %s", index, msg);
  }
  EQ(mpmp_async_failed_count(res), 3);
  for (int i = 0; i < 12; i++)
    if (i % 4 != 3 && out[i] != 77)
      fail_msg("item %d saw setting %lld: the initializer did not run in its "
               "host", i, (long long)out[i]);
  mpmp_async_destroy(res);
  OK(mpmp_pool_destroy(pool));
  /* another pool on the same workers, without an initializer */
  mpmp_pool_opts_t o2 = {.isolate = MPMP_ISOLATE_ALWAYS};
  OK(mpmp_pool_create(&pool, &o2));
  OK(mpmp_pool_map(pool, read_setting, in, 3, sizeof *in, out, sizeof *out,
                   1));
  for (int i = 0; i < 3; i++)
    EQ(out[i], 0);
  OK(mpmp_pool_destroy(pool));
  mpmp_process_t *p = NULL;
  OK(mpmp_process_create(&p, read_setting, &in[0], sizeof in[0], NULL));
  OK(mpmp_process_start(p));
  OK(mpmp_process_join(p, T_OUT));
  const int64_t *got = NULL;
  OK(mpmp_process_result(p, (const void **)&got, NULL));
  EQ(*got, 0);
  OK(mpmp_process_destroy(p));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(relay_objects_of_any_node_from_hosts),
    cmocka_unit_test(relay_manager_from_hosts),
    cmocka_unit_test(relay_late_answer_of_a_dead_host_is_dropped),
    cmocka_unit_test(relay_process_is_isolated_by_default),
    cmocka_unit_test(relay_threads_of_a_body_call_at_once),
    cmocka_unit_test(relay_executor_shutdown_cancel_ends_a_runaway),
    cmocka_unit_test(relay_more_crash_kinds_in_map_imap_apply_submit_process),
    cmocka_unit_test(relay_isolated_pool_initializer_in_every_host),
};

MPMP_TEST_MAIN(tests)
