/* MPMP_TRACE: the main rank alone sets MPMP_TRACE (the job's settings are
 * the main rank's, so workers on other nodes record too); a map in chunks
 * of 10 and one Process run; after finalize the main rank reads the file
 * and checks what a user opening it in Perfetto would look for: one event
 * per chunk carrying the task's name and its items, every item exactly
 * once, the body as its own event, a named row per rank, the map job on
 * the main rank's row, and well-formed JSON brackets.
 *
 * test_trace symlink|dir|missing-dir: MPMP_TRACE names what cannot be
 * written (a symbolic link to a file of ours, a directory, a file in a
 * folder that does not exist): mpmp_init must fail on every rank with
 * MPMP_EENV naming MPMP_TRACE, the path and the reason, and the link's
 * target must be untouched. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpitest.h"

#define N 200
#define CHUNK 10

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

#define CHECK(cond, ...)                                                 \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "test_trace: FAILED: " __VA_ARGS__);               \
      fputc('\n', stderr);                                               \
      return 1;                                                          \
    }                                                                    \
  } while (0)

#define STARTS(p, lit) (strncmp((p), lit, sizeof lit - 1) == 0)

static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *s = malloc((size_t)n + 1);
  if (s != NULL && fread(s, 1, (size_t)n, f) != (size_t)n) {
    free(s);
    s = NULL;
  }
  if (s != NULL)
    s[n] = '\0';
  fclose(f);
  return s;
}

/* Brackets and braces balance outside strings, and it is one object. */
static int balanced(const char *s) {
  int depth = 0, in_str = 0;
  for (const char *p = s; *p; p++) {
    if (in_str) {
      if (*p == '\\' && p[1])
        p++;
      else if (*p == '"')
        in_str = 0;
    } else if (*p == '"') {
      in_str = 1;
    } else if (*p == '{' || *p == '[') {
      depth++;
    } else if (*p == '}' || *p == ']') {
      if (--depth < 0)
        return 0;
    }
  }
  return depth == 0 && !in_str && s[0] == '{';
}

static int check_file(const char *path, int size) {
  char *s = slurp(path);
  CHECK(s != NULL, "no trace file %s after finalize", path);
  CHECK(balanced(s), "%s is not well-formed JSON", path);
  int seen[N] = {0}, chunks = 0, bodies = 0, jobs = 0;
  for (const char *p = s; (p = strstr(p, "{\"name\":\"traced_")) != NULL; p++) {
    unsigned long long first = 0;
    unsigned items = 0;
    int pid = -1;
    const char *q = strstr(p, "\"pid\":");
    CHECK(q != NULL && sscanf(q, "\"pid\":%d", &pid) == 1, "event without pid");
    if (STARTS(p, "{\"name\":\"traced_square\",\"cat\":\"chunk\"")) {
      q = strstr(p, "\"first_item\":");
      CHECK(q && sscanf(q, "\"first_item\":%llu,\"items\":%u", &first,
                        &items) == 2, "chunk event without its items");
      CHECK(items == CHUNK && first % CHUNK == 0 && first + items <= N,
            "chunk of %u items from %llu", items, first);
      CHECK(pid >= 1 && pid < size, "chunk on rank %d", pid);
      for (unsigned i = 0; i < items; i++)
        seen[first + i]++;
      chunks++;
    } else if (STARTS(p, "{\"name\":\"traced_square\",\"cat\":\"job\"")) {
      CHECK(pid == 0 && strstr(p, "\"items\":200}") != NULL,
            "the map job is not on the main rank's row with its 200 items");
      jobs++;
    } else if (STARTS(p, "{\"name\":\"traced_body\",\"cat\":\"process\"")) {
      CHECK(pid >= 1 && strstr(p, "\"process\":\"Process-") != NULL,
            "the body's event lacks its process name");
      bodies++;
    }
  }
  CHECK(chunks == N / CHUNK, "%d chunk events, expected %d", chunks, N / CHUNK);
  for (int i = 0; i < N; i++)
    CHECK(seen[i] == 1, "item %d appears %d times", i, seen[i]);
  CHECK(jobs == 1, "%d job events on the main rank, expected 1", jobs);
  CHECK(bodies == 1, "%d process events, expected 1", bodies);
  for (int r = 0; r < size; r++) {
    char want[64];
    snprintf(want, sizeof want, "\"args\":{\"name\":\"rank %d (", r);
    CHECK(strstr(s, want) != NULL, "no row named for rank %d", r);
  }
  CHECK(strstr(s, "never came") == NULL, "a worker's trace is missing");
  free(s);
  return 0;
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
  } else if (!strcmp(mode, "dir")) {
    snprintf(path, n, "%s", dir);
    *reason = strerror(EISDIR);
  } else if (!strcmp(mode, "missing-dir")) {
    snprintf(path, n, "%s/mpmp-no-such-dir-%d/trace.json", dir, pid);
    *reason = strerror(ENOENT);
  } else {
    return -1;
  }
  return 0;
}

/* Every rank: init must fail with MPMP_EENV saying MPMP_TRACE, the path
 * (on the main rank, which alone knows it; the others get its message)
 * and the reason. The main rank then checks the link's target. */
static int bad_path_run(const char *mode, int world, int argc, char **argv) {
  char path[512] = "", target[512] = "", want_path[600] = "";
  const char *dir = getenv("TMPDIR"), *reason = "";
  if (dir == NULL)
    dir = "/tmp";
  if (world == 0) {
    CHECK(make_bad_path(mode, dir, path, sizeof path, target, sizeof target,
                        &reason) == 0, "cannot set up mode '%s'", mode);
    setenv("MPMP_TRACE", path, 1);
    snprintf(want_path, sizeof want_path, "MPMP_TRACE='%s'", path);
  }
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_MAIN)
    mpmp_finalize(); /* what the old code did: write the file then */
  if (world == 0 && target[0]) {
    char *s = slurp(target);
    int intact = s != NULL && !strcmp(s, PRECIOUS);
    free(s);
    unlink(path);
    unlink(target);
    CHECK(intact, "%s: the symbolic link's target was written", mode);
  }
  CHECK(rc == MPMP_EENV, "%s: mpmp_init returned %s (%s), expected "
        "MPMP_EENV", mode, mpmp_err_name(rc), mpmp_errmsg());
  CHECK(strstr(mpmp_errmsg(), "MPMP_TRACE='") != NULL &&
        strstr(mpmp_errmsg(), want_path) != NULL &&
        strstr(mpmp_errmsg(), reason) != NULL,
        "%s: the message lacks MPMP_TRACE, the path or '%s': %s", mode,
        reason, mpmp_errmsg());
  printf("test_trace: PASSED: %s: rank %d: %s\n", mode, world,
         mpmp_errmsg());
  return 0;
}

int main(int argc, char **argv) {
  char path[256] = "";
  const char *dir = getenv("TMPDIR");
  /* only the main rank knows where: the job's settings are its own */
  int world = -1;
  const char *r = getenv("OMPI_COMM_WORLD_RANK");
  if (r != NULL)
    world = atoi(r);
  if (argc > 1)
    return bad_path_run(argv[1], world, argc, argv);
  if (world == 0) {
    snprintf(path, sizeof path, "%s/mpmp-trace-%d.json", dir ? dir : "/tmp",
             (int)getpid());
    setenv("MPMP_TRACE", path, 1);
  } else {
    unsetenv("MPMP_TRACE");
  }
  int rc = test_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  if (rc < 0)
    return 1;
  CHECK(world == 0, "run this under Open MPI's mpirun");
  int size = mpmp_world_size();
  int64_t in[N], out[N];
  for (int i = 0; i < N; i++)
    in[i] = i;
  mpmp_pool_t *pool = NULL;
  CHECK(mpmp_pool_create(&pool, NULL) == 0, "pool: %s", mpmp_errmsg());
  CHECK(mpmp_pool_map(pool, traced_square, in, N, sizeof *in, out, sizeof *out,
                      CHUNK) == 0, "map: %s", mpmp_errmsg());
  mpmp_pool_close(pool);
  mpmp_pool_join(pool, 30);
  mpmp_pool_destroy(pool);
  for (int i = 0; i < N; i++)
    CHECK(out[i] == (int64_t)i * i, "result %d", i);
  mpmp_process_t *p = NULL;
  CHECK(mpmp_process_create(&p, traced_body, NULL, 0, NULL) == 0 &&
            mpmp_process_start(p) == 0 && mpmp_process_join(p, 30) == 0,
        "process: %s", mpmp_errmsg());
  mpmp_process_destroy(p);
  CHECK(mpmp_finalize() == 0, "finalize: %s", mpmp_errmsg());
  rc = check_file(path, size);
  if (rc == 0)
    printf("test_trace: PASSED: %s holds %d chunks of %d items, the job and "
           "the body, on %d rank rows\n", path, N / CHUNK, CHUNK, size);
  unlink(path);
  return rc;
}
