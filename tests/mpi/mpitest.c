/* The functions of the MPI test harness (mpitest.h). */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "mpitest.h"

int test_init(int *argc, char ***argv) {
  int rc = mpmp_init(argc, argv);
  if (rc < 0)
    fprintf(stderr, "mpmp_init: %s: %s\n", mpmp_err_name(rc), mpmp_errmsg());
  return rc;
}

/* ---- time and numbers ------------------------------------------------------ */

double test_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void test_sleep(double s) {
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  nanosleep(&ts, NULL);
}

char test_proc_state(int pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  const char *st = strrchr(buf, ')'); /* (the name may hold spaces) */
  return st != NULL && st[1] == ' ' ? st[2] : 0;
}

int test_world_rank(void) {
  const char *r = getenv("OMPI_COMM_WORLD_RANK");
  if (r == NULL)
    r = getenv("PMI_RANK");
  return r != NULL ? atoi(r) : -1;
}

uint64_t test_rnd(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

unsigned char test_pattern_byte(unsigned seed, size_t i) {
  return (unsigned char)(seed * 131u + i * 29u + 7u);
}

void test_fill_pattern(void *buf, size_t n, unsigned seed) {
  unsigned char *b = buf;
  for (size_t i = 0; i < n; i++)
    b[i] = test_pattern_byte(seed, i);
}

/* ---- checks that run on any rank ------------------------------------------ */

int test_check_failed(char *err, const char *file, int line,
                      const char *fmt, ...) {
  const char *base = strrchr(file, '/');
  int n = snprintf(err, ERRLEN, "rank %d (node %d), %s:%d: ", mpmp_rank(),
                   mpmp_node_id(), base ? base + 1 : file, line);
  if (n < 0 || n >= ERRLEN)
    return -1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err + n, ERRLEN - (size_t)n, fmt, ap);
  va_end(ap);
  return -1;
}

const char *test_code_name(long long x) {
  return x < 0 ? mpmp_err_name((int)x) : "";
}

/* ---- processes (main rank) ------------------------------------------------- */

mpmp_process_t *start_process(mpmp_task_fn fn, const void *arg, size_t n) {
  mpmp_process_t *p = NULL;
  OK(mpmp_process_create(&p, fn, arg, n, NULL));
  OK(mpmp_process_start(p));
  return p;
}

void join_ok_within(mpmp_process_t *p, double secs) {
  int code = -999;
  OK(mpmp_process_join(p, secs));
  OK(mpmp_process_exitcode(p, &code));
  if (code != 0)
    fail_msg("%s on rank %d: exit code %d: %s", mpmp_process_name(p),
             mpmp_process_rank(p), code, mpmp_process_errmsg(p));
}

void join_ok(mpmp_process_t *p) { join_ok_within(p, T_OUT); }

void join_destroy_within(mpmp_process_t *p, double secs) {
  join_ok_within(p, secs);
  OK(mpmp_process_destroy(p));
}

void join_destroy(mpmp_process_t *p) { join_destroy_within(p, T_OUT); }

const void *join_result_within(mpmp_process_t *p, double secs, size_t *size) {
  const void *res = NULL;
  join_ok_within(p, secs);
  OK(mpmp_process_result(p, &res, size));
  return res;
}

int test_hosts_off(void) {
  const char *v = getenv("MPMP_ISOLATE");
  return v != NULL && strcmp(v, "never") == 0;
}

int nworkers(void) {
  int w = mpmp_worker_count();
  return w > MAXW ? MAXW : w;
}

void group_start(group_t *g, int n, mpmp_task_fn fn, const void *args,
                 size_t size) {
  assert_true(n >= 1 && n <= MAXW);
  g->n = 0;
  for (int i = 0; i < n; i++) {
    const void *arg = args ? (const char *)args + (size_t)i * size : NULL;
    g->p[g->n++] = start_process(fn, arg, size);
  }
}

int group_join_quiet(group_t *g, char *first) {
  first[0] = '\0';
  for (int i = 0; i < g->n; i++) {
    int code = -999, rc = mpmp_process_join(g->p[i], T_OUT);
    if (rc == 0)
      rc = mpmp_process_exitcode(g->p[i], &code);
    if ((rc != 0 || code != 0) && first[0] == '\0')
      snprintf(first, ERRLEN, "%s on rank %d: join %s, exit code %d: %s",
               mpmp_process_name(g->p[i]), mpmp_process_rank(g->p[i]),
               mpmp_err_name(rc), code,
               rc == 0 ? mpmp_process_errmsg(g->p[i]) : mpmp_errmsg());
  }
  return first[0] ? -1 : 0;
}

void group_join(group_t *g) {
  char first[ERRLEN];
  if (group_join_quiet(g, first) < 0)
    fail_msg("%s", first);
}

const void *group_result(group_t *g, int i, size_t size) {
  const void *data = NULL;
  size_t got = 0;
  assert_int_equal(mpmp_process_result(g->p[i], &data, &got), 0);
  assert_int_equal(got, size);
  return data;
}

void group_destroy(group_t *g) {
  for (int i = 0; i < g->n; i++)
    assert_int_equal(mpmp_process_destroy(g->p[i]), 0);
  g->n = 0;
}

void run_one(mpmp_task_fn fn, const void *arg, size_t size) {
  group_t g;
  group_start(&g, 1, fn, arg, size);
  group_join(&g);
  group_destroy(&g);
}

/* ---- bodies on the main rank's node, or on another ------------------------ */

int misplaced(mpmp_ctx_t *ctx, const place_t *w) {
  if ((mpmp_node_id() == w->main_node) == w->want_local)
    return 0;
  double end = test_now() + 2 * T_OUT;
  while (!mpmp_should_stop(ctx) && test_now() < end)
    test_sleep(0.002);
  return 1;
}

mpmp_process_t *start_where(mpmp_task_fn fn, void *arg, size_t size,
                            int want_local, parked_t *pk) {
  place_t *w = arg;
  w->main_node = mpmp_node_id();
  w->want_local = want_local;
  for (;;) {
    mpmp_process_t *p = NULL;
    OK(mpmp_process_create(&p, fn, arg, size, NULL));
    int rc = mpmp_process_start(p);
    if (rc == MPMP_EBUSY) {
      mpmp_process_destroy(p);
      return NULL;
    }
    if (rc != 0)
      fail_msg("start: %s: %s", mpmp_err_name(rc), mpmp_errmsg());
    int local = strcmp(mpmp_process_node(p), mpmp_node_name()) == 0;
    if (local == want_local)
      return p;
    assert_true(pk->n < MAXW);
    pk->p[pk->n++] = p;
  }
}

void unpark(parked_t *pk) {
  for (int i = 0; i < pk->n; i++) {
    OK(mpmp_process_terminate(pk->p[i]));
    OK(mpmp_process_join(pk->p[i], T_OUT));
    OK(mpmp_process_destroy(pk->p[i]));
  }
  pk->n = 0;
}

/* ---- one shared object of every basic kind --------------------------------- */

int test_objs_make(test_objs_t *o) {
  int rc = 0;
  rc |= mpmp_value_create(&o->v, MPMP_INT64, NULL, 1);
  rc |= mpmp_value_create(&o->vd, MPMP_DOUBLE, NULL, 1);
  rc |= mpmp_array_create(&o->a, MPMP_INT32, 4, NULL, 1);
  rc |= mpmp_lock_create(&o->l) | mpmp_sem_create(&o->s, 1);
  rc |= mpmp_event_create(&o->e) | mpmp_cond_create(&o->c, NULL);
  rc |= mpmp_barrier_create(&o->b, 2) | mpmp_queue_create(&o->q, 2, 8);
  rc |= mpmp_pipe_create(&o->c1, &o->c2, 1);
  return rc;
}

/* ---- a watchdog per test --------------------------------------------------- */

static const char *watched_test = "?";

static void watchdog_fired(int sig) {
  static const char m1[] = "\nwatchdog: ";
  static const char m2[] = " is stuck: a call did not return within its "
                           "timeout (the watchdog ends the job)\n";
  (void)sig;
  fflush(stdout); /* not async-signal-safe; the job ends anyway */
  (void)!write(2, m1, sizeof m1 - 1);
  (void)!write(2, watched_test, strlen(watched_test));
  (void)!write(2, m2, sizeof m2 - 1);
  _exit(3);
}

void watchdog_start(const char *test, unsigned secs) {
  watched_test = test;
  signal(SIGALRM, watchdog_fired);
  alarm(secs);
}

void watchdog_stop(void) { alarm(0); }

/* ---- checks on data ---------------------------------------------------------- */

int check_pattern(char *err, const void *buf, size_t n, unsigned seed) {
  const unsigned char *b = buf;
  for (size_t i = 0; i < n; i++)
    EXPECT(b[i] == test_pattern_byte(seed, i));
  return 0;
}
