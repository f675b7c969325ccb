/* MPMP_TRACE: the main rank alone sets MPMP_TRACE (the job's settings are
 * the main rank's, so workers on other nodes record too). Every file read
 * here is parsed as strict JSON and checked as Perfetto would lay it out
 * (trace_json.h): events nest on each track, async jobs pair up by id.
 *
 * test_trace: a map in chunks of 10, four map_async jobs at once, then
 * one Process run; after finalize the main rank checks what a user
 * opening the file would look for: one event per chunk carrying the
 * task's name and its items, every item exactly once, the body as its own
 * event (its name, cut inside a UTF-8 character where a record ends,
 * still UTF-8 in the file), a named row per rank, every job on the main
 * rank's row as a begin/end pair of its own, the four async jobs
 * overlapping in time (so that they are the case that displayed wrongly
 * as complete events on one track), nothing left unfinished, and SIGTERM
 * and SIGINT back to their default action.
 *
 * test_trace flush: MPMP_TRACE_FLUSH_S=0.5 and a map of about 3 s; the
 * main rank reads the file every 0.1 s while the map runs: every read is
 * a whole, valid trace, and some read before the map ended already shows
 * chunks that the workers ran and the map as a job not finished yet.
 *
 * test_trace hang: a map, then a map whose items never end (one per
 * worker); prints "test_trace: hanging (main pid P)" and waits. Run by
 * tests/mpi/test_trace_kill.sh, which ends the job by mpirun's --timeout
 * or SIGTERM and then runs
 * test_trace check-killed FILE RANKS: (no MPI) the file the killed job
 * left is a valid trace written on SIGTERM, with the first map whole
 * (chunks from the workers, its job ended), the hanging job unfinished on
 * the main rank's row and each worker's hanging chunk unfinished on its
 * row; a FILE.rankN.json a worker wrote itself is checked too.
 *
 * test_trace symlink|dir|missing-dir|flush-zero: MPMP_TRACE names what
 * cannot be written (a symbolic link to a file of ours, a directory, a
 * file in a folder that does not exist), or MPMP_TRACE_FLUSH_S is 0:
 * mpmp_init must fail on every rank with MPMP_EENV naming the variable,
 * the path or range and the reason, and the link's target must be
 * untouched. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpitest.h"
#include "trace_json.h"

#define N 200
#define CHUNK 10
#define NASYNC 4    /* map_async jobs at once */
#define ASYNC_N 6   /* items each */

static int traced_square(mpmp_ctx_t *ctx) {
  const int64_t *x = mpmp_arg(ctx, NULL);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = *x * *x;
  return 0;
}
MPMP_TASK(traced_square);

static int traced_body(mpmp_ctx_t *ctx) {
  (void)ctx;
  test_sleep(0.02);
  return 0;
}
MPMP_TASK(traced_body);

/* An item of 30 ms (flush: of its argument in ms). */
static int traced_slow(mpmp_ctx_t *ctx) {
  const int64_t *ms = mpmp_arg(ctx, NULL);
  test_sleep((double)*ms * 1e-3);
  *(int64_t *)mpmp_out(ctx, sizeof(int64_t)) = *ms;
  return 0;
}
MPMP_TASK(traced_slow);

/* An item that hangs (10 minutes: the job is killed long before). */
static int traced_hang(mpmp_ctx_t *ctx) {
  (void)ctx;
  for (int i = 0; i < 6000; i++)
    test_sleep(0.1);
  return 0;
}
MPMP_TASK(traced_hang);

#define CHECK(cond, ...)                                                 \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "test_trace: FAILED: " __VA_ARGS__);               \
      fputc('\n', stderr);                                               \
      return 1;                                                          \
    }                                                                    \
  } while (0)

/* ---- what a trace holds -------------------------------------------------- */

typedef struct summary {
  int seen[N];          /* traced_square's items in complete chunk events */
  int square_chunks;    /* complete, on worker rows */
  int other_chunks;     /* complete chunks of other tasks on worker rows */
  int bodies;
  int named_bodies;     /* with the start of the test's process name */
  int jobs_done[4];     /* ended jobs: square, slow, hang, other */
  int jobs_open[4];     /* begun, not ended */
  int open_tasks;       /* unfinished chunks or bodies */
  int open_hang_on[MAXW + 1]; /* unfinished traced_hang chunks per rank */
  int bad_pid;          /* an event of a rank outside the job */
  int overlapping_jobs; /* pairs of ended jobs that overlap in time */
  int rows;             /* ranks with a named row */
  int missing_rows;     /* rows saying records never came */
  int marks;            /* "written" marks (instant events) */
} summary_t;

static int job_kind(const char *name) {
  return !strcmp(name, "traced_square") ? 0 : !strcmp(name, "traced_slow") ? 1
         : !strcmp(name, "traced_hang") ? 2 : 3;
}

static void summarize(const trace_t *t, int size, summary_t *s) {
  memset(s, 0, sizeof *s);
  for (int i = 0; i < t->n; i++) {
    const tev_t *e = &t->ev[i];
    if (e->pid < 0 || e->pid >= size)
      s->bad_pid = 1;
    if (e->ph == 'M' && !strcmp(e->name, "process_name")) {
      const char *row = j_str(j_get(e->args, "name"));
      s->rows++;
      if (row && strstr(row, "never came"))
        s->missing_rows++;
    } else if (e->ph == 'i' && e->cat && !strcmp(e->cat, "trace")) {
      s->marks++;
    } else if (e->ph == 'X' && e->cat && !strcmp(e->cat, "chunk")) {
      if (e->pid >= 1 && !strcmp(e->name, "traced_square")) {
        for (int k = 0; k < (int)e->items; k++)
          if (e->first_item + k >= 0 && e->first_item + k < N)
            s->seen[(int)e->first_item + k]++;
        s->square_chunks++;
      } else if (e->pid >= 1) {
        s->other_chunks++;
      }
    } else if (e->ph == 'X' && e->cat && !strcmp(e->cat, "process")) {
      const char *proc = j_str(j_get(e->args, "process"));
      s->bodies++;
      if (proc && !strncmp(proc, "proc-\xc3\xa9t\xc3\xa9-", 11))
        s->named_bodies++;
    } else if (e->ph == 'B') {
      s->open_tasks++;
      if (!strcmp(e->name, "traced_hang") && e->pid >= 0 && e->pid <= MAXW)
        s->open_hang_on[e->pid]++;
    } else if (e->ph == 'b' && e->pid == 0 && e->cat &&
               !strcmp(e->cat, "job")) {
      if (e->unfinished)
        s->jobs_open[job_kind(e->name)]++;
      else
        s->jobs_done[job_kind(e->name)]++;
    }
  }
  /* ended jobs whose [begin, end] intervals overlap */
  for (int i = 0; i < t->n; i++) {
    const tev_t *a = &t->ev[i], *ae = NULL;
    if (a->ph != 'b' || a->unfinished)
      continue;
    for (int k = 0; k < t->n && !ae; k++)
      if (t->ev[k].ph == 'e' && !strcmp(t->ev[k].id, a->id))
        ae = &t->ev[k];
    for (int j = i + 1; ae && j < t->n; j++) {
      const tev_t *b = &t->ev[j], *be = NULL;
      if (b->ph != 'b' || b->unfinished)
        continue;
      for (int k = 0; k < t->n && !be; k++)
        if (t->ev[k].ph == 'e' && !strcmp(t->ev[k].id, b->id))
          be = &t->ev[k];
      if (be && a->ts < be->ts && b->ts < ae->ts)
        s->overlapping_jobs++;
    }
  }
}

/* Every traced_square item exactly once, in chunks of CHUNK. */
/* Reads and summarizes the trace file at `path`: 0, or 1 after saying why
 * it is no valid trace (`what` names it in the message). `written`, when
 * given, gets the file's note of when it was written. */
static int read_summary(const char *path, const char *what, int size,
                        summary_t *s, char *written, size_t cap) {
  trace_t t;
  int ok = trace_read(&t, path) == 0;
  if (!ok)
    fprintf(stderr, "test_trace: FAILED: %s: %s\n", what, t.err);
  if (ok)
    summarize(&t, size, s);
  if (written != NULL)
    snprintf(written, cap, "%s", t.written ? t.written : "(none)");
  trace_free(&t);
  return ok ? 0 : 1;
}

static int check_square_map(const summary_t *s) {
  CHECK(s->square_chunks == N / CHUNK, "%d chunk events of traced_square "
        "on worker rows, expected %d", s->square_chunks, N / CHUNK);
  for (int i = 0; i < N; i++)
    CHECK(s->seen[i] == 1, "item %d appears %d times", i, s->seen[i]);
  CHECK(s->jobs_done[0] == 1, "%d ended traced_square jobs on the main "
        "rank's row, expected 1", s->jobs_done[0]);
  return 0;
}

static int check_file(const char *path, int size) {
  summary_t s;
  if (read_summary(path, path, size, &s, NULL, 0))
    return 1;
  if (check_square_map(&s))
    return 1;
  CHECK(!s.bad_pid, "an event on a rank outside the job");
  CHECK(s.rows == size && s.missing_rows == 0, "%d named rank rows (%d "
        "missing their records), expected %d", s.rows, s.missing_rows, size);
  CHECK(s.bodies == 1 && s.named_bodies == 1, "%d process events (%d with "
        "the process's name), expected 1", s.bodies, s.named_bodies);
  CHECK(s.jobs_done[1] == NASYNC && s.other_chunks == NASYNC * ASYNC_N,
        "%d ended traced_slow jobs in %d chunks, expected %d in %d",
        s.jobs_done[1], s.other_chunks, NASYNC, NASYNC * ASYNC_N);
  CHECK(s.overlapping_jobs >= 1, "the %d async jobs never overlapped: the "
        "test shows nothing", NASYNC);
  CHECK(s.open_tasks == 0 && s.jobs_open[0] + s.jobs_open[1] == 0,
        "unfinished events after finalize: %d tasks, %d jobs", s.open_tasks,
        s.jobs_open[0] + s.jobs_open[1]);
  CHECK(s.marks == 0, "a 'written' mark in the finalize's file");
  printf("test_trace: %s: %d async jobs, %d overlapping pairs, each its own "
         "begin/end pair; events nest on every track\n", path, NASYNC,
         s.overlapping_jobs);
  return 0;
}

/* ---- modes --------------------------------------------------------------- */

/* After finalize, SIGTERM and SIGINT act as before mpmp_init (the default:
 * the harness sets none), though the walltime's stop handler went over
 * the trace's on the main rank. */
static int signals_restored(void) {
  const int sigs[] = {SIGTERM, SIGINT};
  for (int i = 0; i < 2; i++) {
    struct sigaction cur;
    CHECK(sigaction(sigs[i], NULL, &cur) == 0 &&
              !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL,
          "signal %d does not have its default action after finalize",
          sigs[i]);
  }
  return 0;
}

static void trace_path(char *path, size_t n) {
  const char *dir = getenv("TMPDIR");
  snprintf(path, n, "%s/mpmp-trace-%d.json", dir ? dir : "/tmp", (int)getpid());
}

/* Four map_async jobs submitted together, so that they overlap. */
static int run_overlapping(mpmp_pool_t *pool) {
  int64_t in[NASYNC][ASYNC_N], out[NASYNC][ASYNC_N];
  mpmp_async_t *res[NASYNC];
  for (int k = 0; k < NASYNC; k++) {
    for (int i = 0; i < ASYNC_N; i++)
      in[k][i] = 30;
    CHECK(mpmp_pool_map_async(pool, traced_slow, in[k], ASYNC_N,
                              sizeof(int64_t), out[k], sizeof(int64_t), 1,
                              NULL, NULL, &res[k]) == 0,
          "map_async: %s", mpmp_errmsg());
  }
  for (int k = 0; k < NASYNC; k++) {
    CHECK(mpmp_async_get(res[k], T_OUT) == 0, "async map %d: %s", k,
          mpmp_errmsg());
    mpmp_async_destroy(res[k]);
  }
  return 0;
}

static int run_square_map(mpmp_pool_t *pool) {
  int64_t in[N], out[N];
  for (int i = 0; i < N; i++)
    in[i] = i;
  CHECK(mpmp_pool_map(pool, traced_square, in, N, sizeof *in, out, sizeof *out,
                      CHUNK) == 0, "map: %s", mpmp_errmsg());
  for (int i = 0; i < N; i++)
    CHECK(out[i] == (int64_t)i * i, "result %d", i);
  return 0;
}

static int plain_run(const char *path) {
  int size = mpmp_world_size();
  mpmp_pool_t *pool = NULL;
  CHECK(mpmp_pool_create(&pool, NULL) == 0, "pool: %s", mpmp_errmsg());
  if (run_square_map(pool) || run_overlapping(pool))
    return 1;
  mpmp_pool_close(pool);
  mpmp_pool_join(pool, 30);
  mpmp_pool_destroy(pool);
  /* a name whose 19th byte (the most a record keeps) is inside a
   * character: the file must still be UTF-8 */
  mpmp_process_opts_t popts = {
      .name = "proc-\xc3\xa9t\xc3\xa9-\xe2\x82\xac\xe2\x82\xac"
              "\xe2\x82\xac-end"};
  mpmp_process_t *p = NULL;
  CHECK(mpmp_process_create(&p, traced_body, NULL, 0, &popts) == 0 &&
            mpmp_process_start(p) == 0 && mpmp_process_join(p, 30) == 0,
        "process: %s", mpmp_errmsg());
  mpmp_process_destroy(p);
  CHECK(mpmp_finalize() == 0, "finalize: %s", mpmp_errmsg());
  int rc = signals_restored() || check_file(path, size);
  if (rc == 0)
    printf("test_trace: PASSED: %s holds %d chunks of %d items, the jobs and "
           "the body, on %d rank rows\n", path, N / CHUNK, CHUNK, size);
  if (!getenv("MPMP_TEST_KEEP")) unlink(path);
  return rc;
}

#define FLUSH_ITEMS 60
#define FLUSH_ITEM_MS 100

static int flush_run(const char *path) {
  int size = mpmp_world_size(), workers = size - 1;
  mpmp_pool_t *pool = NULL;
  CHECK(mpmp_pool_create(&pool, NULL) == 0, "pool: %s", mpmp_errmsg());
  /* about 3 s whatever the workers: 60 items of 100 ms each over them */
  int items = FLUSH_ITEMS * workers / 2;
  int64_t *in = calloc((size_t)items, sizeof *in);
  int64_t *out = calloc((size_t)items, sizeof *out);
  CHECK(in && out, "out of memory");
  for (int i = 0; i < items; i++)
    in[i] = FLUSH_ITEM_MS;
  mpmp_async_t *res = NULL;
  double t0 = test_now();
  CHECK(mpmp_pool_map_async(pool, traced_slow, in, (size_t)items, sizeof *in,
                            out, sizeof *out, 1, NULL, NULL, &res) == 0,
        "map_async: %s", mpmp_errmsg());
  int reads = 0, live = 0;
  while (mpmp_async_ready(res) == 0) {
    test_sleep(0.1);
    trace_t t;
    summary_t s;
    int ok = trace_read(&t, path) == 0, running = mpmp_async_ready(res) == 0;
    if (!ok)
      fprintf(stderr, "test_trace: FAILED: read %d of %s, %.2f s into the "
              "map: %s\n", reads + 1, path, test_now() - t0, t.err);
    if (ok)
      summarize(&t, size, &s);
    const char *written = t.written ? t.written : "";
    int periodic = ok && strstr(written, "MPMP_TRACE_FLUSH_S") != NULL;
    trace_free(&t);
    if (!ok)
      return 1;
    reads++;
    /* the map still ran after the read: what the file said was live */
    if (periodic && running && s.other_chunks > 0 && s.jobs_open[1] == 1 &&
        s.jobs_done[1] == 0)
      live++;
    CHECK(test_now() - t0 < 60, "the map did not end within 60 s");
  }
  CHECK(mpmp_async_get(res, T_OUT) == 0, "the map: %s", mpmp_errmsg());
  mpmp_async_destroy(res);
  double secs = test_now() - t0;
  CHECK(live >= 1, "none of %d reads in the %.1f s of the map showed the "
        "workers' chunks and the running job written by MPMP_TRACE_FLUSH_S",
        reads, secs);
  mpmp_pool_close(pool);
  mpmp_pool_join(pool, 30);
  mpmp_pool_destroy(pool);
  CHECK(mpmp_finalize() == 0, "finalize: %s", mpmp_errmsg());
  if (signals_restored())
    return 1;
  summary_t s;
  int bad = read_summary(path, "after finalize", size, &s, NULL, 0);
  free(in);
  free(out);
  if (bad)
    return 1;
  CHECK(s.other_chunks == items && s.jobs_done[1] == 1 && s.open_tasks == 0 &&
        s.jobs_open[1] == 0 && s.missing_rows == 0,
        "after finalize: %d of %d chunks, %d ended and %d open jobs, %d open "
        "tasks, %d rows missing records", s.other_chunks, items,
        s.jobs_done[1], s.jobs_open[1], s.open_tasks, s.missing_rows);
  printf("test_trace: PASSED: flush: %d reads in %.1f s of the map, all "
         "valid traces; %d showed the workers' chunks while it ran\n", reads,
         secs, live);
  unlink(path);
  return 0;
}

static int hang_run(void) {
  int workers = mpmp_worker_count();
  mpmp_pool_t *pool = NULL;
  CHECK(mpmp_pool_create(&pool, NULL) == 0, "pool: %s", mpmp_errmsg());
  if (run_square_map(pool))
    return 1;
  int64_t in[MAXW] = {0}, out[MAXW];
  mpmp_async_t *res = NULL;
  CHECK(workers <= MAXW && mpmp_pool_map_async(pool, traced_hang, in,
                                               (size_t)workers, sizeof *in,
                                               out, sizeof *out, 1, NULL, NULL,
                                               &res) == 0,
        "map_async: %s", mpmp_errmsg());
  test_sleep(1.0); /* every worker has taken its item */
  printf("test_trace: hanging (main pid %d)\n", (int)getpid());
  fflush(stdout);
  mpmp_async_wait(res, 600);
  fprintf(stderr, "test_trace: FAILED: the job was not ended\n");
  return 1;
}

/* A trace file a killed job left, as check_killed wants it; `rank`: a
 * worker's own file (FILE.rankN.json), or -1 for the main one. */
static int check_killed_file(const char *path, int size, int rank) {
  summary_t s;
  char written[200];
  if (read_summary(path, path, size, &s, written, sizeof written))
    return 1;
  /* the main rank's SIGTERM, or a worker's that came first */
  CHECK(strstr(written, "SIGTERM came") != NULL ||
            strstr(written, "ended by a signal") != NULL,
        "%s was written '%s', not on SIGTERM", path, written);
  CHECK(s.marks == 1, "%s: %d marks of when it was written, expected 1",
        path, s.marks);
  if (rank > 0) {
    CHECK(s.open_hang_on[rank] == 1, "%s: rank %d's hanging chunk is not "
          "there as unfinished", path, rank);
    printf("test_trace: %s (rank %d's own): valid, its hanging chunk "
           "unfinished\n", path, rank);
    return 0;
  }
  if (check_square_map(&s))
    return 1;
  CHECK(s.rows == size, "%d named rank rows, expected %d", s.rows, size);
  /* with MPMP_CHECKPOINT the stop may have ended the job before */
  CHECK(s.jobs_open[2] + s.jobs_done[2] == 1, "the hanging job is not on "
        "the main rank's row");
  CHECK(getenv("MPMP_CHECKPOINT") != NULL || s.jobs_open[2] == 1,
        "the hanging job is not there as unfinished");
  for (int r = 1; r < size; r++)
    CHECK(s.open_hang_on[r] == 1, "rank %d's hanging chunk is not there as "
          "unfinished", r);
  printf("test_trace: %s: valid, written on SIGTERM, the first map whole, "
         "the hanging job%s and every worker's hanging chunk unfinished\n",
         path, s.jobs_open[2] ? "" : " (ended by the stop)");
  return 0;
}

static int check_killed(const char *path, int size) {
  if (size < 2 || size > MAXW + 1) {
    fprintf(stderr, "test_trace: FAILED: check-killed: bad rank count\n");
    return 1;
  }
  int rc = check_killed_file(path, size, -1), own = 0;
  for (int r = 1; r < size; r++) {
    char frag[600];
    snprintf(frag, sizeof frag, "%s.rank%d.json", path, r);
    if (access(frag, F_OK) != 0)
      continue;
    own++;
    rc |= check_killed_file(frag, size, r);
  }
  if (rc == 0)
    printf("test_trace: PASSED: check-killed: %s and %d file(s) of "
           "workers' own\n", path, own);
  return rc;
}

#define PRECIOUS "precious: not a trace\n"

/* Rank 0: make the bad path for `mode`; *reason: what the message says. */
static int make_bad_path(const char *mode, const char *dir, char *path,
                         size_t n, char *target, size_t tn,
                         const char **reason) {
  int pid = (int)getpid();
  if (!strcmp(mode, "symlink")) {
    snprintf(target, tn, "%s/mpmp-trace-target-%d.txt", dir, pid);
    snprintf(path, n, "%s/mpmp-trace-link-%d.json", dir, pid);
    FILE *f = fopen(target, "w");
    if (f == NULL || fputs(PRECIOUS, f) < 0 || fclose(f) != 0 ||
        symlink(target, path) != 0)
      return -1;
    *reason = "is a symbolic link";
  } else if (!strcmp(mode, "fifo")) { /* no reader: it must not block */
    snprintf(path, n, "%s/mpmp-trace-fifo-%d.json", dir, pid);
    if (mkfifo(path, 0600) != 0)
      return -1;
    *reason = "is not a regular file";
  } else if (!strcmp(mode, "dir")) {
    snprintf(path, n, "%s", dir);
    *reason = strerror(EISDIR);
  } else if (!strcmp(mode, "missing-dir")) {
    snprintf(path, n, "%s/mpmp-no-such-dir-%d/trace.json", dir, pid);
    *reason = strerror(ENOENT);
  } else if (!strcmp(mode, "flush-zero")) {
    snprintf(path, n, "%s/mpmp-trace-%d.json", dir, pid);
    setenv("MPMP_TRACE_FLUSH_S", "0", 1);
    *reason = "MPMP_TRACE_FLUSH_S='0' is out of range: use seconds from 0.1 "
              "to 86400 (unset or empty: off)";
  } else {
    return -1;
  }
  return 0;
}

/* Every rank: init must fail with MPMP_EENV saying MPMP_TRACE, the path
 * (on the main rank, which alone knows it; the others get its message)
 * and the reason. The main rank then checks the link's target. */
static int bad_path_run(const char *mode, int world, int argc, char **argv) {
  char path[512] = "", target[512] = "", want[600] = "";
  const char *dir = getenv("TMPDIR"), *reason = "";
  if (dir == NULL)
    dir = "/tmp";
  if (world == 0) {
    CHECK(make_bad_path(mode, dir, path, sizeof path, target, sizeof target,
                        &reason) == 0, "cannot set up mode '%s'", mode);
    setenv("MPMP_TRACE", path, 1);
    snprintf(want, sizeof want, "MPMP_TRACE='%s'", path);
    if (!strcmp(mode, "flush-zero"))
      snprintf(want, sizeof want, "%s", reason);
  }
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_MAIN)
    mpmp_finalize(); /* what the old code did: write the file then */
  if (world == 0 && target[0]) {
    char *s = trace_slurp(target);
    int intact = s != NULL && !strcmp(s, PRECIOUS);
    free(s);
    unlink(path);
    unlink(target);
    CHECK(intact, "%s: the symbolic link's target was written", mode);
  }
  if (world == 0 && (!strcmp(mode, "flush-zero") || !strcmp(mode, "fifo")))
    unlink(path);
  CHECK(rc == MPMP_EENV, "%s: mpmp_init returned %s (%s), expected "
        "MPMP_EENV", mode, mpmp_err_name(rc), mpmp_errmsg());
  CHECK(strstr(mpmp_errmsg(), "MPMP_TRACE") != NULL &&
        strstr(mpmp_errmsg(), want) != NULL &&
        strstr(mpmp_errmsg(), reason) != NULL,
        "%s: the message lacks the variable, the path or '%s': %s", mode,
        reason, mpmp_errmsg());
  printf("test_trace: PASSED: %s: rank %d: %s\n", mode, world,
         mpmp_errmsg());
  return 0;
}

int main(int argc, char **argv) {
  char path[256] = "";
  const char *mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "check-killed"))
    return argc == 4 ? check_killed(argv[2], atoi(argv[3])) : 2;
  /* only the main rank knows where: the job's settings are its own */
  int world = test_world_rank();
  int hang = !strcmp(mode, "hang"), flush = !strcmp(mode, "flush");
  if (*mode && !hang && !flush)
    return bad_path_run(mode, world, argc, argv);
  if (world == 0) {
    const char *given = getenv("MPMP_TEST_TRACE");
    if (hang && given != NULL)
      snprintf(path, sizeof path, "%s", given);
    else
      trace_path(path, sizeof path);
    setenv("MPMP_TRACE", path, 1);
    if (flush)
      setenv("MPMP_TRACE_FLUSH_S", "0.5", 1);
  } else {
    unsetenv("MPMP_TRACE");
    unsetenv("MPMP_TRACE_FLUSH_S");
  }
  int rc = test_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  if (rc < 0)
    return 1;
  CHECK(world == 0, "run this under mpirun or mpiexec");
  if (hang)
    return hang_run();
  return flush ? flush_run(path) : plain_run(path);
}
