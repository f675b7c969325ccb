/*
 * Doorbells and futex waits: the lowest part of the transport. A rank's
 * doorbell is a futex word in the node segment that same-node senders
 * ring after their message is visible (transport.c) and that a waiting
 * thread sleeps on (wait.c); see mpmp__bell_t in transport.h.
 */
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "transport.h"

static void to_timespec(double s, struct timespec *ts) {
  ts->tv_sec = (time_t)s;
  ts->tv_nsec = (long)((s - (double)ts->tv_sec) * 1e9);
}

static void futex_wait(_Atomic uint32_t *w, uint32_t val, double timeout,
                       int op) {
  struct timespec ts, *tp = NULL;
  /* Beyond 1e9 s (31 years) is for ever: (time_t)1e300 is undefined, and
   * the kernel refused what it gave, so the waiter spun instead. */
  if (timeout >= 0 && timeout < 1e9) {
    to_timespec(timeout, &ts);
    tp = &ts;
  }
  syscall(SYS_futex, (uint32_t *)w, op, val, tp, NULL, 0);
}

void mpmp__futex_wait_private(_Atomic uint32_t *w, uint32_t val,
                              double timeout) {
  futex_wait(w, val, timeout, FUTEX_WAIT_PRIVATE);
}

void mpmp__futex_wake_private(_Atomic uint32_t *w, int n) {
  syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

void mpmp__bell_ring(mpmp__bell_t *b) {
  mpmp__bell_ring_for(b, MPMP__BELL_ALL);
}

void mpmp__bell_sleep(mpmp__bell_t *b, uint32_t seq, double timeout) {
  futex_wait(&b->seq, seq, timeout, FUTEX_WAIT);
}

/* (FUTEX_WAKE is FUTEX_WAKE_BITSET with every bit) */
void mpmp__bell_ring_for(mpmp__bell_t *b, uint32_t bits) {
  atomic_fetch_add(&b->seq, 1);
  /* The seq_cst add above orders with the sleeper's seq_cst sleepers++:
   * either we see the sleeper, or the sleeper sees the new seq. */
  if (atomic_load(&b->sleepers) > 0)
    syscall(SYS_futex, (uint32_t *)&b->seq, FUTEX_WAKE_BITSET, INT_MAX, NULL,
            NULL, bits);
}

/* FUTEX_WAIT_BITSET's time limit is absolute, on CLOCK_MONOTONIC (that
 * of mpmp__now). */
void mpmp__bell_sleep_for(mpmp__bell_t *b, uint32_t seq, double timeout,
                          uint32_t bits) {
  struct timespec ts, *tp = NULL;
  if (timeout >= 0 && timeout < 1e9) { /* beyond: for ever, as futex_wait */
    to_timespec(mpmp__now() + timeout, &ts);
    tp = &ts;
  }
  syscall(SYS_futex, (uint32_t *)&b->seq, FUTEX_WAIT_BITSET, seq, tp, NULL,
          bits);
}
