/*
 * Python (tutorial "Python Multiprocessing", Chunking for Large Data):
 *
 *   def process_chunk(chunk):
 *       return [x ** 2 for x in chunk]
 *
 *   def chunked(iterable, size):
 *       it = iter(iterable)
 *       while chunk := list(itertools.islice(it, size)):
 *           yield chunk
 *
 *   data = range(1_000_000)
 *   chunk_size = 10000
 *   with ProcessPoolExecutor() as executor:
 *       results = []
 *       for chunk_result in executor.map(process_chunk, chunked(data, chunk_size)):
 *           results.extend(chunk_result)
 *
 * An item of the map is a whole chunk. chunked() is a producer that the
 * map calls when it wants the next chunk, as Python's map pulls from the
 * generator: mpmp_executor_map_stream() keeps at most 8 chunks out at
 * once, so the input, like range(1_000_000), is never all in memory. A
 * chunk's result is its 10000 squares and the rank that computed it;
 * results.extend() appends the squares. The tutorial prints nothing; this
 * prints how many results there are, their sum, whether results[i] is
 * i ** 2 for every i, and how many workers shared the chunks (the items
 * of the map).
 *
 *   mpirun -n 4 build/apps/examples/executor_chunked
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpmp.h>

enum { CHUNK_SIZE = 10000 };

typedef struct { int64_t x[CHUNK_SIZE]; } chunk_t;

typedef struct {
  int64_t squares[CHUNK_SIZE]; /* [x ** 2 for x in chunk] */
  int rank, pid;               /* who computed it */
} chunk_result_t;

static int process_chunk(mpmp_ctx_t *ctx) {
  const chunk_t *chunk = mpmp_arg(ctx, NULL);
  chunk_result_t *r = mpmp_out(ctx, sizeof *r);
  for (int i = 0; i < CHUNK_SIZE; i++)
    r->squares[i] = chunk->x[i] * chunk->x[i];
  r->rank = mpmp_rank();
  r->pid = (int)getpid();
  return 0;
}
MPMP_TASK(process_chunk);

/* chunked(range(n), CHUNK_SIZE): the next chunk, 0 when none is left */
typedef struct { int64_t next, n; } chunked_t;

static int chunked(void *user, void *item) {
  chunked_t *it = user;
  chunk_t *chunk = item;
  if (it->next >= it->n)
    return 0;
  for (int i = 0; i < CHUNK_SIZE; i++)
    chunk->x[i] = it->next++;
  return 1;
}

static void check(int rc, const char *what) {
  if (rc < 0) {
    if (!mpmp_is_main()) /* init failed on every rank: rank 0 says so; */
      exit(0);           /* the others end quietly (exit 1 could end the
                            job before its message is out) */
    fprintf(stderr, "%s failed: %s\n", what, mpmp_errmsg());
    exit(1);
  }
}

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  check(rc, "mpmp_init");

  const size_t n = 1000000;
  chunked_t data = {0, (int64_t)n};               /* range(1_000_000) */
  int64_t *results = malloc(n * sizeof *results); /* results = [] */
  chunk_result_t *chunk_result = malloc(sizeof *chunk_result);
  char *ranks = calloc((size_t)mpmp_world_size(), 1);
  if (!results || !chunk_result || !ranks)
    check(MPMP_ENOMEM, "malloc");

  mpmp_executor_t *executor;
  mpmp_imap_t *map;
  check(mpmp_executor_create(&executor, NULL), "ProcessPoolExecutor()");
  /* for chunk_result in executor.map(process_chunk, chunked(data, 10000)) */
  check(mpmp_executor_map_stream(executor, process_chunk, chunked, &data,
                                 sizeof(chunk_t), sizeof *chunk_result, 1, 8,
                                 &map),
        "executor.map");
  size_t count = 0;
  while ((rc = mpmp_imap_next(map, chunk_result, NULL, MPMP_FOREVER)) == 0) {
    memcpy(results + count, chunk_result->squares, /* results.extend() */
           sizeof chunk_result->squares);
    count += CHUNK_SIZE;
    if (chunk_result->rank > 0 && chunk_result->rank < mpmp_world_size())
      ranks[chunk_result->rank] = 1;
  }
  if (rc != MPMP_EEOF)
    check(rc, "the map's next result");
  mpmp_imap_destroy(map);
  check(mpmp_executor_destroy(executor), "leaving the with block");

  int64_t sum = 0;
  size_t wrong = 0;
  for (size_t i = 0; i < count; i++) {
    sum += results[i];
    wrong += results[i] != (int64_t)i * (int64_t)i;
  }
  int used = 0;
  for (int r = 1; r < mpmp_world_size(); r++)
    used += ranks[r];
  printf("len(results): %zu\n", count);
  printf("sum(results): %lld\n", (long long)sum);
  if (wrong == 0)
    printf("results[i] == i ** 2 for every i\n");
  else
    printf("%zu results are wrong\n", wrong);
  printf("items were computed by %d different ranks\n", used);
  free(results);
  free(chunk_result);
  free(ranks);
  return mpmp_finalize() < 0 || wrong != 0;
}
