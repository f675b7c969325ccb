/* A job that holds SharedMemory blocks and then ends in one of several
 * ways, for tests/mpi/test_shm_devshm.sh, which runs it with a /dev/shm of
 * its own and checks that nothing is left there afterwards:
 *
 *   test_shm_job normal TOKEN             ends normally (some blocks never
 *                                         closed nor unlinked)
 *   test_shm_job abort TOKEN DIR          the main rank calls MPI_Abort
 *   test_shm_job abort-worker TOKEN DIR   a worker calls MPI_Abort mid-body
 *   test_shm_job wait TOKEN               prints READY, then waits to be
 *                                         killed (SIGINT to mpirun)
 *   test_shm_job iso TOKEN TAG OTHER DIR  run twice at once (TAG/OTHER
 *                                         swapped): the same names in two
 *                                         jobs never meet
 *
 * TOKEN only marks the command line, so that the script can tell whether
 * any process of this job is left. The rank about to call MPI_Abort makes
 * the file DIR/aborting first: MPICH's launcher can drop a job's output
 * when it is aborted, so the script does not rely on the printed line. Blocks are made by the main rank and by
 * a worker in the middle of its body, and mapped by both, and each block's
 * pages are touched, so that the memory really exists when the job ends. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>

#include "shm_common.h"

#define MIB (1u << 20)

/* The bodies run in their worker rank, not in a task host (a Process's
 * default): one calls MPI_Abort, and the ranks' own clean-up is tested. */
static const mpmp_process_opts_t in_rank = {.isolate = MPMP_ISOLATE_NEVER};

static void die(const char *what, int rc) {
  fprintf(stderr, "test_shm_job: %s: %s: %s\n", what, mpmp_err_name(rc),
          mpmp_errmsg());
  fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 2);
}

#define CHECK(call)                                                        \
  do {                                                                     \
    int rc_ = (call);                                                      \
    if (rc_ != 0)                                                          \
      die(#call, rc_);                                                     \
  } while (0)

static mpmp_shm_t *make(const char *name, size_t size, int seed) {
  mpmp_shm_t *s = NULL;
  CHECK(mpmp_shm_create(&s, name, size));
  memset(mpmp_shm_buf(s), seed, size); /* every page exists */
  return s;
}

typedef struct {
  char name[MPMP_SHM_NAME_SIZE];
  char mark[256]; /* the file to make before MPI_Abort ("" for none) */
  mpmp_event_t made, stop;
  int abort_mid_body;
} holder_arg_t;

/* Say "ABORTING ..." on stdout and in the file `mark`, then abort. */
static void abort_job(const char *mark, const char *who, int code) {
  printf("ABORTING from %s\n", who);
  fflush(stdout);
  if (mark[0] != '\0') {
    FILE *f = fopen(mark, "w");
    if (f != NULL) {
      fprintf(f, "%s\n", who);
      fclose(f);
    }
  }
  MPI_Abort(MPI_COMM_WORLD, code);
}

/* Make a block (and a list), map the main rank's, then hold them. */
static int holder(mpmp_ctx_t *ctx) {
  const holder_arg_t *a = mpmp_arg(ctx, NULL);
  mpmp_shm_t *mine = make(a->name, 2 * MIB, 0x33);
  mpmp_sl_item_t items[] = {mpmp_sl_int(1), mpmp_sl_str("worker")};
  mpmp_sharelist_t *sl = NULL;
  CHECK(mpmp_sharelist_create(&sl, NULL, items, 2));
  mpmp_shm_t *theirs = NULL;
  (void)mpmp_shm_attach(&theirs, "job-main-a"); /* fails on another node */
  CHECK(mpmp_event_set(a->made));
  if (a->abort_mid_body) {
    char who[64];
    snprintf(who, sizeof who, "worker rank %d", mpmp_rank());
    abort_job(a->mark, who, 9);
  }
  int rc = mpmp_event_wait(a->stop, 55.0);
  /* nothing closed, nothing unlinked: finalize (or the kernel) does it */
  (void)mine;
  (void)theirs;
  (void)sl;
  return rc;
}
MPMP_TASK(holder);

typedef struct {
  char common[MPMP_SHM_NAME_SIZE], other_only[MPMP_SHM_NAME_SIZE];
  char tag[16];
} iso_arg_t;

/* The block named `common` holds this job's tag; `other_only` is unknown. */
static int iso_check(mpmp_ctx_t *ctx) {
  const iso_arg_t *a = mpmp_arg(ctx, NULL);
  mpmp_shm_t *s = NULL;
  int rc = mpmp_shm_attach(&s, a->common);
  if (rc != 0)
    return mpmp_fail(ctx, "attach %s: %s", a->common, mpmp_errmsg());
  int same = strcmp((const char *)mpmp_shm_buf(s), a->tag) == 0;
  char seen[32];
  snprintf(seen, sizeof seen, "%s", (const char *)mpmp_shm_buf(s));
  mpmp_shm_close(s);
  if (!same)
    return mpmp_fail(ctx, "block %s holds '%s', not this job's '%s'",
                     a->common, seen, a->tag);
  rc = mpmp_shm_attach(&s, a->other_only);
  if (rc != MPMP_SHM_ENOENT)
    return mpmp_fail(ctx, "attach %s (the other job's): %s, expected "
                     "MPMP_SHM_ENOENT", a->other_only, mpmp_err_name(rc));
  return 0;
}
MPMP_TASK(iso_check);

static int wait_file(const char *dir, const char *what, const char *tag) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s.%s", dir, what, tag);
  for (int i = 0; i < 4000; i++) { /* 40 s */
    struct stat st;
    if (stat(path, &st) == 0)
      return 0;
    test_sleep(0.01);
  }
  fprintf(stderr, "test_shm_job: %s never appeared\n", path);
  return -1;
}

static void touch(const char *dir, const char *what, const char *tag) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s.%s", dir, what, tag);
  FILE *f = fopen(path, "w");
  if (f)
    fclose(f);
}

static void run_iso_check(const iso_arg_t *a) {
  mpmp_process_t *p = NULL;
  int code = -1;
  CHECK(mpmp_process_create(&p, iso_check, a, sizeof *a, &in_rank));
  CHECK(mpmp_process_start(p));
  CHECK(mpmp_process_join(p, 30.0));
  CHECK(mpmp_process_exitcode(p, &code));
  if (code != 0) {
    fprintf(stderr, "test_shm_job: iso_check on rank %d: %s\n",
            mpmp_process_rank(p), mpmp_process_errmsg(p));
    MPI_Abort(MPI_COMM_WORLD, 4);
  }
  mpmp_process_destroy(p);
}

/* Two jobs at once, the same names: each sees only its own blocks. */
static int iso(const char *tag, const char *other, const char *dir) {
  iso_arg_t a = {0};
  snprintf(a.common, sizeof a.common, "iso-common");
  snprintf(a.other_only, sizeof a.other_only, "iso-only-%s", other);
  snprintf(a.tag, sizeof a.tag, "%s", tag);
  char mine_only[MPMP_SHM_NAME_SIZE];
  snprintf(mine_only, sizeof mine_only, "iso-only-%s", tag);
  mpmp_shm_t *common = make(a.common, 4096, 0);
  snprintf(mpmp_shm_buf(common), 16, "%s", tag);
  mpmp_shm_t *only = make(mine_only, 4096, 1);
  run_iso_check(&a);
  touch(dir, "ready", tag); /* both jobs hold their blocks from here on */
  if (wait_file(dir, "ready", other) < 0)
    return 1;
  run_iso_check(&a);
  mpmp_shm_t *theirs_name = make(a.other_only, 100, 2); /* no clash */
  touch(dir, "done", tag);
  if (wait_file(dir, "done", other) < 0)
    return 1;
  CHECK(mpmp_shm_unlink(theirs_name));
  CHECK(mpmp_shm_close(theirs_name));
  CHECK(mpmp_shm_unlink(common));
  CHECK(mpmp_shm_close(common));
  (void)only; /* left for finalize */
  printf("ISOLATION OK (%s)\n", tag);
  return 0;
}

/* This process's fds that are blocks: none once mpmp_finalize() is done
 * (it releases what a creator still holds). */
static int memfds_held(void) {
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL)
    return 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    char path[300], target[256];
    snprintf(path, sizeof path, "/proc/self/fd/%s", de->d_name);
    ssize_t len = readlink(path, target, sizeof target - 1);
    if (len <= 0)
      continue;
    target[len] = '\0';
    n += strncmp(target, "/memfd:mpmp-shm:", 16) == 0;
  }
  closedir(d);
  return n;
}

static int report_held(const char *who, int rank) {
  int n = memfds_held();
  printf("%s rank %d: %d block fds held after finalize\n", who, rank, n);
  fflush(stdout);
  return n;
}

int main(int argc, char **argv) {
  int rc = test_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE) {
    /* MPI is finalized: the rank the job started it with */
    return report_held("worker", test_world_rank()) != 0;
  }
  if (rc < 0)
    return 1;
  const char *mode = argc > 1 ? argv[1] : "normal";
  if (strcmp(mode, "iso") == 0) {
    if (argc < 6) {
      fprintf(stderr, "usage: test_shm_job iso TOKEN TAG OTHER DIR\n");
      MPI_Abort(MPI_COMM_WORLD, 2);
    }
    rc = iso(argv[3], argv[4], argv[5]);
    return mpmp_finalize() < 0 || rc != 0;
  }
  mpmp_shm_t *a = make("job-main-a", 4 * MIB, 0x11);
  mpmp_shm_t *b = make("job-main-b", 1 * MIB, 0x22);
  mpmp_sl_item_t items[] = {mpmp_sl_float(2.5), mpmp_sl_str("main")};
  mpmp_sharelist_t *sl = NULL;
  CHECK(mpmp_sharelist_create(&sl, "job-list", items, 2));

  holder_arg_t h = {.abort_mid_body = strcmp(mode, "abort-worker") == 0};
  snprintf(h.name, sizeof h.name, "job-worker");
  if (argc > 3)
    snprintf(h.mark, sizeof h.mark, "%s/aborting", argv[3]);
  CHECK(mpmp_event_create(&h.made));
  CHECK(mpmp_event_create(&h.stop));
  mpmp_process_t *p = NULL;
  CHECK(mpmp_process_create(&p, holder, &h, sizeof h, &in_rank));
  CHECK(mpmp_process_start(p));
  CHECK(mpmp_event_wait(h.made, 30.0));
  mpmp_shm_t *w = NULL;
  (void)mpmp_shm_attach(&w, "job-worker"); /* fails on another node */
  if (in_dev_shm("job-") != 0) {
    fprintf(stderr, "test_shm_job: a block shows in /dev/shm\n");
    MPI_Abort(MPI_COMM_WORLD, 3);
  }
  printf("blocks made: none in /dev/shm\n");
  fflush(stdout);

  if (strcmp(mode, "abort") == 0) {
    abort_job(h.mark, "the main rank", 7);
  } else if (strcmp(mode, "abort-worker") == 0) {
    mpmp_process_join(p, 50.0); /* the worker ends the job meanwhile */
    fprintf(stderr, "test_shm_job: the job outlived MPI_Abort\n");
    return 5;
  } else if (strcmp(mode, "wait") == 0) {
    printf("READY\n");
    fflush(stdout);
    test_sleep(50.0); /* SIGINT ends the job meanwhile */
    fprintf(stderr, "test_shm_job: never interrupted\n");
    return 6;
  }
  /* normal: the holder returns without closing; main closes some */
  CHECK(mpmp_event_set(h.stop));
  CHECK(mpmp_process_join(p, 30.0));
  CHECK(mpmp_process_destroy(p));
  CHECK(mpmp_shm_unlink(b));
  CHECK(mpmp_shm_close(b));
  CHECK(mpmp_sharelist_close(sl)); /* closed, never unlinked */
  (void)a;                        /* neither closed nor unlinked */
  (void)w;
  CHECK(mpmp_event_free(h.made));
  CHECK(mpmp_event_free(h.stop));
  rc = mpmp_finalize();
  if (report_held("main", 0) != 0)
    rc = -1;
  printf("JOB %s\n", rc < 0 ? "FAILED" : "OK");
  return rc < 0;
}
