/*
 * mpmp_finalize() while another thread of the main rank waits for an
 * answer (a Manager's list call, whose server finalize stops): the wait ends
 * with an error (MPMP_ENOTINIT, or MPMP_EDEAD when the call came after the
 * server had stopped) within 2 s. Before, the caller slept in the node's
 * segment after finalize had unmapped it (a crash in sleep_once) or kept
 * waiting for the Manager's 60 s timeout. The program owns MPI, so that
 * ROUNDS rounds of mpmp each give the race a chance.
 *
 * Not CMocka: mpmp_finalize() ends each round.
 */
#include <mpi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "mpitest.h"

#define ROUNDS 12

static mpmp_list_t l;
static int trc; /* the thread's last code */

/* A list's calls are the server's (a dict's run in place on its node:
 * calls that never wait, which finalize does not wait for; README: other
 * threads stop using mpmp before the finalize, but a waiting call is
 * woken). */
static void *run(void *a) {
  (void)a;
  int rc = 0;
  for (long i = 0; rc == 0; i++) {
    rc = mpmp_list_append(l, &i, sizeof i);
    if (rc == 0 && i % 64 == 63)
      rc = mpmp_list_clear(l);
  }
  trc = rc;
  return NULL;
}

static void fail_round(const char *what, int code) {
  printf("FAILED: %s %d: %s\n", what, code, mpmp_errmsg());
  fflush(stdout);
  MPI_Abort(MPI_COMM_WORLD, 1);
}

int main(int argc, char **argv) {
  int prov;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &prov);
  for (int r = 0; r < ROUNDS; r++) {
    int rc = mpmp_init(&argc, &argv);
    if (rc == MPMP_WORKER_DONE)
      continue;
    if (rc < 0)
      fail_round("init", rc);
    mpmp_manager_t m;
    if ((rc = mpmp_manager_start(&m)) < 0 ||
        (rc = mpmp_list_create(m, &l)) < 0)
      fail_round("manager", rc);
    pthread_t th;
    if (pthread_create(&th, NULL, run, NULL) != 0)
      fail_round("pthread_create", -1);
    usleep(20000 + 5000 * r);
    rc = mpmp_finalize();
    double t0 = test_now();
    pthread_join(th, NULL);
    double dt = test_now() - t0;
    printf("round %d: finalize %d; the thread's call: %d after %.3f s\n", r,
           rc, trc, dt);
    fflush(stdout);
    if (trc != MPMP_ENOTINIT && trc != MPMP_EDEAD)
      fail_round("the thread's call ended with", trc);
    if (dt > 2.5) {
      printf("FAILED: the thread came back %.1f s after finalize\n", dt);
      fflush(stdout);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
  }
  MPI_Finalize();
  return 0;
}
