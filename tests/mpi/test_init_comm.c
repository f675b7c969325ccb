/*
 * mpmp_init_comm (issue 18): mpmp inside an MPI program, on a
 * communicator the program chose, as mpi4py's MPICommExecutor(comm,
 * root). Misuse is an error on every rank before anything collective,
 * also when only some ranks make it (a root that differs or that one rank
 * gets wrong);
 * then mpmp runs on world ranks 1..N-1 with the last of them as its main
 * rank while world rank 0 stays out, the program's own MPI goes on, and
 * mpmp runs again over the whole world. Prints "init_comm: OK".
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpmp.h>
#include <mpmp/comm.h>

typedef struct {
  long value;
  int rank;
} result_t;

static int square(mpmp_ctx_t *ctx) {
  const long *x = mpmp_arg(ctx, NULL);
  result_t *r = mpmp_out(ctx, sizeof *r);
  *r = (result_t){*x * *x, mpmp_rank()};
  return 0;
}
MPMP_TASK(square);

static int wr;

#define CHECK(cond, ...)                                                   \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "init_comm: FAILED on world rank %d: ", wr);         \
      fprintf(stderr, __VA_ARGS__);                                        \
      fprintf(stderr, " (%s)\n", mpmp_errmsg());                           \
      MPI_Abort(MPI_COMM_WORLD, 1);                                        \
    }                                                                      \
  } while (0)

/* A map on a pool of every worker: right results, from workers only. */
static void map_on_workers(int workers) {
  enum { N = 100 };
  long in[N];
  result_t out[N];
  for (int i = 0; i < N; i++)
    in[i] = i;
  mpmp_pool_t *pool = NULL;
  CHECK(mpmp_pool_create(&pool, NULL) == 0, "pool_create");
  CHECK(mpmp_pool_size(pool) == workers, "a pool of %d workers, not %d",
        mpmp_pool_size(pool), workers);
  CHECK(mpmp_pool_map(pool, square, in, N, sizeof *in, out, sizeof *out, 1) ==
            0, "map");
  for (int i = 0; i < N; i++)
    CHECK(out[i].value == (long)i * i && out[i].rank >= 1 &&
              out[i].rank <= workers,
          "item %d: %ld from rank %d", i, out[i].value, out[i].rank);
  CHECK(mpmp_pool_destroy(pool) == 0, "pool_destroy");
}

int main(int argc, char **argv) {
  int provided = 0, ws = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &wr);
  MPI_Comm_size(MPI_COMM_WORLD, &ws);
  if (ws < 3) {
    fprintf(stderr, "init_comm: run with 3 ranks or more\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }

  /* misuse: every rank gets the error at once */
  CHECK(mpmp_init_comm(MPI_COMM_NULL, 0) == MPMP_EINVAL &&
            strstr(mpmp_errmsg(), "MPI_COMM_NULL"), "MPI_COMM_NULL");
  CHECK(mpmp_init_comm(MPI_COMM_WORLD, ws) == MPMP_EINVAL &&
            strstr(mpmp_errmsg(), "is not a rank of the communicator"),
        "root = size");
  CHECK(mpmp_init_comm(MPI_COMM_WORLD, -1) == MPMP_EINVAL, "root -1");
  /* misuse on some ranks only: still an error on every rank, no hang */
  int rc0 = mpmp_init_comm(MPI_COMM_WORLD, wr == 1 ? -1 : 0);
  CHECK(rc0 == MPMP_EINVAL &&
            strstr(mpmp_errmsg(), wr == 1 ? "is not a rank" : "another rank"),
        "root -1 on rank 1 only: %d", rc0);
  rc0 = mpmp_init_comm(MPI_COMM_WORLD, wr == 0 ? 0 : 1);
  CHECK(rc0 == MPMP_EMISMATCH && strstr(mpmp_errmsg(), "different roots"),
        "roots 0 and 1: %d", rc0);
  CHECK(!mpmp_initialized(), "initialized after a refused init");

  /* 1: world ranks 1..ws-1, the last of them the main rank */
  MPI_Comm some;
  MPI_Comm_split(MPI_COMM_WORLD, wr == 0 ? MPI_UNDEFINED : 1, wr, &some);
  if (some != MPI_COMM_NULL) {
    int n = 0;
    MPI_Comm_size(some, &n);
    int rc = mpmp_init_comm(some, n - 1);
    if (rc == MPMP_MAIN) {
      CHECK(wr == ws - 1, "the main rank is world rank %d", wr);
      CHECK(mpmp_world_size() == ws - 1 && mpmp_rank() == 0,
            "mpmp's world: %d ranks, this one %d", mpmp_world_size(),
            mpmp_rank());
      map_on_workers(ws - 2);
      CHECK(mpmp_finalize() == 0, "finalize 1");
    } else {
      CHECK(rc == MPMP_WORKER_DONE, "init_comm 1 returned %d", rc);
    }
    MPI_Comm_free(&some);
  }

  /* the program's MPI goes on, on every rank */
  int one = 1, sum = 0;
  MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  CHECK(sum == ws, "Allreduce after mpmp: %d", sum);

  /* 2: again, over the whole world */
  int rc = mpmp_init_comm(MPI_COMM_WORLD, 0);
  if (rc == MPMP_MAIN) {
    CHECK(wr == 0 && mpmp_world_size() == ws, "round 2 world");
    CHECK(mpmp_init_comm(MPI_COMM_WORLD, 0) == MPMP_EALREADY,
          "init_comm while running");
    /* the message names the call made, not mpmp_init */
    CHECK(strstr(mpmp_errmsg(), "mpmp_init_comm(): mpmp is already "
                 "running") != NULL, "init_comm while running says: %s",
          mpmp_errmsg());
    map_on_workers(ws - 1);
    CHECK(mpmp_finalize() == 0, "finalize 2");
    printf("init_comm: OK\n");
  } else {
    CHECK(rc == MPMP_WORKER_DONE, "init_comm 2 returned %d", rc);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  MPI_Finalize();
  return 0;
}
