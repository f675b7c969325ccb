/*
 * MPI shared with the caller: the program initializes MPI itself, mpmp
 * uses it and leaves it initialized, and the program's own MPI calls work
 * before, between and after (worker ranks included). mpmp may be started
 * again after mpmp_finalize() in such a program (mpi4py's MPICommExecutor
 * entered twice): three rounds here, each with a pool map, a Process, a
 * Queue and a Lock, whose results must all be right every time.
 *
 * Before the rounds, an mpmp_init with a bad setting (on the main rank
 * only) must fail on every rank and leave MPI usable and mpmp ready to be
 * started again once the setting is fixed.
 *
 * With the argument "crash", a Process crashes its worker in the last
 * round: the crash report must come once and end the job, as in the
 * first run (ctest checks the output).
 */
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpitest.h"

#define ROUNDS 3
#define N 100

static int twice(mpmp_ctx_t *ctx) {
  const int *x = mpmp_arg(ctx, NULL);
  *(int *)mpmp_out(ctx, sizeof(int)) = 2 * *x;
  return 0;
}
MPMP_TASK(twice);

/* What a Process of round r gets: the queue to answer on, the lock it
 * holds while it answers, and the round, so stale state shows. */
typedef struct {
  mpmp_queue_t q;
  mpmp_lock_t lock;
  int round;
} job_arg_t;

static int answer(mpmp_ctx_t *ctx) {
  const job_arg_t *a = mpmp_arg(ctx, NULL);
  if (mpmp_lock_acquire(a->lock, 30) != 0)
    return mpmp_fail(ctx, "lock: %s", mpmp_errmsg());
  int v = 1000 * a->round + 7;
  int rc = mpmp_queue_put(a->q, &v, sizeof v, 30);
  mpmp_lock_release(a->lock);
  if (rc != 0)
    return mpmp_fail(ctx, "put: %s", mpmp_errmsg());
  *(int *)mpmp_out(ctx, sizeof(int)) = a->round;
  return 0;
}
MPMP_TASK(answer);

static int crash_body(mpmp_ctx_t *ctx) {
  (void)ctx;
  raise(SIGSEGV); /* what a NULL dereference would do, without UB */
  return 0;
}
MPMP_TASK(crash_body);

#define CHECK(cond, what)                                                  \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "FAILED: round %d: %s (%s)\n", round, what,          \
              mpmp_errmsg());                                              \
      MPI_Abort(MPI_COMM_WORLD, 1);                                        \
    }                                                                      \
  } while (0)

static void pool_round(int round) {
  int in[N], out[N];
  for (int i = 0; i < N; i++) {
    in[i] = i + round;
    out[i] = -1;
  }
  mpmp_pool_t *pool = NULL;
  CHECK(mpmp_pool_create(&pool, NULL) == 0, "pool create");
  CHECK(mpmp_pool_map(pool, twice, in, N, sizeof *in, out, sizeof *out, 7) == 0,
        "map");
  for (int i = 0; i < N; i++)
    CHECK(out[i] == 2 * (i + round), "map result");
  CHECK(mpmp_pool_close(pool) == 0 && mpmp_pool_join(pool, 30) == 0, "join");
  mpmp_pool_destroy(pool);
}

/* The queue of the round before: its handle must not reach this round's
 * queue, which has its place in the new node heap (a stale handle). */
static mpmp_queue_t last_q;

/* In the worker rank, not in a task host (a Process's default): the
 * crash must be the worker's. */
static const mpmp_process_opts_t in_rank = {.isolate = MPMP_ISOLATE_NEVER};

static void crash_round(int round) {
  mpmp_process_t *p = NULL;
  CHECK(mpmp_process_create(&p, crash_body, NULL, 0, &in_rank) == 0, "create");
  CHECK(mpmp_process_start(p) == 0, "start");
  mpmp_process_join(p, 30);
  printf("user_mpi: not reached: the crash did not end the job\n");
  fflush(stdout);
}

static void process_round(int round) {
  job_arg_t a = {.round = round};
  int code = -1, got = -1;
  const int *res = NULL;
  mpmp_process_t *p = NULL;
  CHECK(mpmp_queue_create(&a.q, 4, sizeof(int)) == 0, "queue create");
  CHECK(mpmp_lock_create(&a.lock) == 0, "lock create");
  if (round > 1)
    CHECK(mpmp_queue_qsize(last_q) == MPMP_EBADF,
          "the last round's queue handle is refused as stale");
  CHECK(mpmp_process_create(&p, answer, &a, sizeof a, NULL) == 0, "create");
  CHECK(mpmp_process_start(p) == 0, "start");
  CHECK(mpmp_queue_get(a.q, &got, sizeof got, NULL, 30) == 0, "queue get");
  CHECK(got == 1000 * round + 7, "the item the process put");
  CHECK(mpmp_process_join(p, 30) == 0, "join");
  CHECK(mpmp_process_exitcode(p, &code) == 0 && code == 0, "exitcode");
  CHECK(mpmp_process_result(p, (const void **)&res, NULL) == 0 && *res == round,
        "result");
  mpmp_process_destroy(p);
  CHECK(mpmp_lock_acquire(a.lock, 0) == 0, "the lock was released");
  mpmp_lock_release(a.lock);
  CHECK(mpmp_lock_free(a.lock) == 0, "lock free");
  CHECK(mpmp_queue_qsize(a.q) == 0, "qsize"); /* the last handle used */
  CHECK(mpmp_queue_free(a.q) == 0, "queue free");
  last_q = a.q;
}

/* Round 0: MPMP_POLL_MS=0 (out of range) on the main rank alone. */
static void failed_round(int rank, int *argc, char ***argv) {
  int round = 0;
  if (rank == 0)
    setenv("MPMP_POLL_MS", "0", 1);
  int rc = mpmp_init(argc, argv);
  CHECK(rc == MPMP_EENV, "a bad setting fails mpmp_init on every rank");
  CHECK(strstr(mpmp_errmsg(), "MPMP_POLL_MS='0' is out of range") != NULL,
        "the message names the setting");
  CHECK(mpmp_initialized() == 0, "not initialized");
  unsetenv("MPMP_POLL_MS");
}

int main(int argc, char **argv) {
  int provided, rank, size, fin = 0, sum = 0, one = 1, round = 0;
  int crash = argc > 1 && strcmp(argv[1], "crash") == 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (argc > 1 && strcmp(argv[1], "forget-finalize") == 0) {
    /* MPI_Finalize with mpmp running (mpmp_finalize forgotten, or an
     * error path): the workers served on in mpmp_init and the main rank
     * waited in MPI_Finalize, until the launcher's time limit (helper
     * 68). MPI_Finalize now finalizes mpmp first, with a warning. */
    if (mpmp_init(&argc, &argv) == MPMP_MAIN)
      pool_round(1);
    MPI_Finalize();
    if (rank == 0)
      printf("user_mpi: MPI_Finalize returned without mpmp_finalize\n");
    return 0;
  }
  failed_round(rank, &argc, &argv);
  for (round = 1; round <= ROUNDS; round++) {
    int rc = mpmp_init(&argc, &argv);
    if (rc == MPMP_MAIN) {
      CHECK(mpmp_initialized() == 1, "initialized");
      pool_round(round);
      if (crash && round == ROUNDS)
        crash_round(round);
      process_round(round);
      CHECK(mpmp_finalize() == 0, "finalize");
    } else {
      CHECK(rc == MPMP_WORKER_DONE, "worker init");
    }
    CHECK(mpmp_initialized() == 0, "mpmp finalized on every rank");
    MPI_Finalized(&fin);
    CHECK(!fin, "MPI still initialized after mpmp");
    sum = 0;
    MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    CHECK(sum == size, "user's MPI_Allreduce after mpmp");
  }
  MPI_Finalize();
  if (rank == 0)
    printf("user_mpi: ok (%d ranks, %d rounds of mpmp_init/mpmp_finalize)\n",
           size, ROUNDS);
  return 0;
}
