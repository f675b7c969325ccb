/*
 * mpmp_finalize() while other threads of the main rank wait in calls on
 * shared objects: a Queue's get, a Pipe end's recv, an acquire of a held
 * Lock (one waiter at the head of its queue, one behind it), an Event's
 * wait, a Semaphore's acquire, a Condition's wait, a Barrier's wait and a
 * conn_wait on two objects; each with a timeout (30 s, far beyond the
 * test) and with MPMP_FOREVER. Finalize wakes them all: each returns
 * MPMP_ENOTINIT, saying why, well within 2 s, and nothing touches the
 * segment after it is gone (the ASan build runs this too). Before this
 * was fixed, the timed waits crashed in the unmapped segment after
 * finalize and the ones without a timeout were never woken.
 *
 * Not CMocka: mpmp_finalize() ends the library for the process.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mpitest.h"

#define FAIL(...) do { fprintf(stderr, "FAILED: " __VA_ARGS__); fprintf(stderr, "\n"); return 1; } while (0)

#define LONG_WAIT 30.0 /* "a finite timeout" that the test never reaches */
#define PROMPT_S 2.0   /* every waiter is back this soon after finalize */

static mpmp_queue_t q, q2;
static mpmp_conn_t a, b, a2, b2;
static mpmp_lock_t held;
static mpmp_event_t ev;
static mpmp_sem_t sem;
static mpmp_cond_t cond;
static mpmp_barrier_t bar;

enum { QGET, RECV, LOCK, EVENT, SEM, COND, BARRIER, CONNWAIT, NCASES };
static const char *names[NCASES] = {"queue get", "conn recv", "lock acquire",
                                    "event wait", "sem acquire", "cond wait",
                                    "barrier wait", "conn_wait of two"};

typedef struct waiter {
  int what;
  double timeout;
  _Atomic int started;
  int rc;
  double back; /* test_now() when the call returned */
  char msg[256];
} waiter_t;

static void *wait_in(void *arg) {
  waiter_t *w = arg;
  double t = w->timeout;
  size_t n;
  char buf[8];
  int rc = 0;
  atomic_store(&w->started, 1);
  switch (w->what) {
  case QGET: rc = mpmp_queue_get(q, buf, sizeof buf, &n, t); break;
  case RECV: rc = mpmp_conn_recv(b, buf, sizeof buf, &n, t); break;
  case LOCK: rc = mpmp_lock_acquire(held, t); break;
  case EVENT: rc = mpmp_event_wait(ev, t); break;
  case SEM: rc = mpmp_sem_acquire(sem, t); break;
  case COND:
    rc = mpmp_cond_acquire(cond, t);
    if (rc == 0)
      rc = mpmp_cond_wait(cond, t);
    break;
  case BARRIER: rc = mpmp_barrier_wait(bar, t); break;
  case CONNWAIT: {
    mpmp_ref_t refs[2] = {b2.ref, q2.ref};
    int ready[2];
    rc = mpmp_conn_wait(refs, 2, t, ready);
    break;
  }
  }
  w->back = test_now();
  w->rc = rc;
  snprintf(w->msg, sizeof w->msg, "%s", rc < 0 ? mpmp_errmsg() : "");
  return NULL;
}

static int make_objects(void) {
  if (mpmp_queue_create(&q, 0, 8) || mpmp_queue_create(&q2, 0, 8) ||
      mpmp_pipe_create(&a, &b, 1) || mpmp_pipe_create(&a2, &b2, 1) ||
      mpmp_lock_create(&held) || mpmp_lock_acquire(held, 0) ||
      mpmp_event_create(&ev) || mpmp_sem_create(&sem, 0) ||
      mpmp_cond_create(&cond, NULL) || mpmp_barrier_create(&bar, 3))
    FAIL("objects: %s", mpmp_errmsg());
  return 0;
}

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  if (rc < 0)
    FAIL("init: %s", mpmp_errmsg());
  if (make_objects())
    return 1;
  /* two of each: with a long timeout and with none (the two Barrier
   * waiters are 2 of its 3 parties; the two Lock waiters queue) */
  waiter_t w[2 * NCASES];
  pthread_t th[2 * NCASES];
  for (int i = 0; i < 2 * NCASES; i++) {
    memset(&w[i], 0, sizeof w[i]);
    w[i].what = i % NCASES;
    w[i].timeout = i < NCASES ? LONG_WAIT : MPMP_FOREVER;
    if (pthread_create(&th[i], NULL, wait_in, &w[i]) != 0)
      FAIL("pthread_create");
  }
  for (int i = 0; i < 2 * NCASES; i++)
    while (!atomic_load(&w[i].started))
      test_sleep(0.001);
  test_sleep(0.5); /* all asleep in their calls by now */
  for (int i = 0; i < 2 * NCASES; i++)
    if (w[i].back != 0)
      FAIL("%s (timeout %g) returned before finalize: %d (%s)",
           names[w[i].what], w[i].timeout, w[i].rc, w[i].msg);
  double t0 = test_now();
  rc = mpmp_finalize();
  double fin = test_now() - t0;
  if (rc < 0)
    FAIL("finalize: %s", mpmp_errmsg());
  /* a waiter that was never woken would hang pthread_join: join with a
   * limit instead, and fail */
  int failed = 0;
  for (int i = 0; i < 2 * NCASES; i++) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    if (pthread_timedjoin_np(th[i], NULL, &until) != 0) {
      fprintf(stderr, "FAILED: %s (timeout %g) still waits 5 s after "
              "finalize returned\n", names[w[i].what], w[i].timeout);
      failed = 1;
      continue;
    }
    double took = w[i].back - t0;
    if (w[i].rc != MPMP_ENOTINIT || strstr(w[i].msg, "finalized") == NULL) {
      fprintf(stderr, "FAILED: %s (timeout %g): %d (%s), not MPMP_ENOTINIT "
              "saying mpmp was finalized\n", names[w[i].what], w[i].timeout,
              w[i].rc, w[i].msg);
      failed = 1;
    } else if (took > PROMPT_S) {
      fprintf(stderr, "FAILED: %s (timeout %g) returned %.2f s after "
              "finalize began\n", names[w[i].what], w[i].timeout, took);
      failed = 1;
    }
  }
  if (failed)
    _exit(1); /* (threads may still be inside mpmp) */
  printf("finalize took %.3f s; %d waiters returned MPMP_ENOTINIT (e.g. "
         "'%s')\n", fin, 2 * NCASES, w[0].msg);
  return 0;
}
