/* Pipe messages of every size echoed, many senders on one end, a 64 MiB
 * round trip, a send that times out being withdrawn, and a full ring
 * that a reader empties for a send that may not wait.
 *
 * Runs on 1 node and on 2 pseudo-nodes, where objects made by the main rank
 * are remote for ranks 1 and 3, and objects made in their process bodies
 * are remote for the main rank. */
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue_common.h"

/* ---- large messages ------------------------------------------------------ */

/* Echo every message back until EOF. */
typedef struct echo_args {
  mpmp_conn_t c;
  size_t max;
} echo_args_t;

static int pipe_echo(mpmp_ctx_t *ctx) {
  const echo_args_t *a = mpmp_arg(ctx, NULL);
  char *buf = malloc(a->max ? a->max : 1);
  size_t n;
  int rc, count = 0;
  if (buf == NULL)
    return mpmp_fail(ctx, "out of memory");
  while ((rc = mpmp_conn_recv(a->c, buf, a->max, &n, 60)) == 0) {
    count++;
    if ((rc = mpmp_conn_send(a->c, buf, n, 60)) < 0)
      break;
  }
  free(buf);
  if (rc != MPMP_EEOF)
    return mpmp_fail(ctx, "after %d messages: %s", count, mpmp_errmsg());
  return 0;
}
MPMP_TASK(pipe_echo);

static void fill_pattern(unsigned char *m, size_t n, uint64_t seed) {
  uint64_t x = seed;
  for (size_t i = 0; i < n; i += 8) {
    x = mix64(x);
    memcpy(m + i, &x, n - i < 8 ? n - i : 8);
  }
}

static void pipe_messages_of_every_size_echoed(void **state) {
  (void)state;
  const size_t R = MPMP_PIPE_BUFFER;
  const size_t sizes[] = {0, 1, 7, 8, 9, 15, 1000, R - 16, R - 8, R - 1, R,
                          R + 1, R + 8, 3 * R + 5, 5 * R / 2};
  echo_args_t a = {.max = 4 * R};
  mpmp_conn_t mine;
  unsigned char *m = malloc(a.max), *back = malloc(a.max);
  size_t n;
  assert_int_equal(mpmp_pipe_create(&mine, &a.c, 1), 0);
  mpmp_process_t *p = start_process(pipe_echo, &a, sizeof a);
  for (int round = 0; round < 3; round++)
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
      fill_pattern(m, sizes[i], i * 7 + (size_t)round);
      assert_int_equal(mpmp_conn_send(mine, m, sizes[i], T), 0);
      assert_int_equal(mpmp_conn_recv(mine, back, a.max, &n, T), 0);
      assert_int_equal(n, sizes[i]);
      assert_memory_equal(back, m, sizes[i]);
    }
  /* many in flight at once: the echo and this rank fill both rings */
  /* (less than one ring holds: neither side reads until all are sent) */
  int k = (int)(MPMP_PIPE_BUFFER / 1024);
  for (int i = 0; i < k; i++) {
    size_t len = mix64((uint64_t)i) % 1000;
    fill_pattern(m, len, (uint64_t)i);
    assert_int_equal(mpmp_conn_send(mine, m, len, T), 0);
  }
  for (int i = 0; i < k; i++) {
    size_t len = mix64((uint64_t)i) % 1000;
    fill_pattern(m, len, (uint64_t)i);
    assert_int_equal(mpmp_conn_recv(mine, back, a.max, &n, T), 0);
    assert_int_equal(n, len);
    assert_memory_equal(back, m, len);
  }
  assert_int_equal(mpmp_conn_close(mine), 0);
  join_destroy_within(p, 60);
  assert_int_equal(mpmp_pipe_free(mine, a.c), 0);
  free(m);
  free(back);
}

/* Several processes send on one end at once: every message arrives whole
 * (long ones stream through the ring while the others wait their turn),
 * each sender's in order. */
typedef struct msender {
  mpmp_conn_t c;
  uint32_t id;
  int count;
} msender_t;

static size_t msg_size(uint32_t id, int i) {
  uint64_t x = mix64((uint64_t)id << 32 | (uint64_t)i);
  /* mostly short, one in 8 longer than the ring */
  return sizeof(sitem_t) +
         (x % 8 == 0 ? x % (3 * MPMP_PIPE_BUFFER) : (x >> 8) % 2000);
}

static void msg_fill(unsigned char *m, uint32_t id, int i) {
  size_t n = msg_size(id, i);
  sitem_t h = {id, (uint32_t)n, (uint64_t)i};
  fill_pattern(m, n, (uint64_t)id << 32 | (uint64_t)i);
  memcpy(m, &h, sizeof h);
}

static int pipe_sender_many(mpmp_ctx_t *ctx) {
  const msender_t *a = mpmp_arg(ctx, NULL);
  unsigned char *m = malloc(4 * MPMP_PIPE_BUFFER);
  for (int i = 0; i < a->count; i++) {
    msg_fill(m, a->id, i);
    if (mpmp_conn_send(a->c, m, msg_size(a->id, i), T) < 0) {
      free(m);
      return mpmp_fail(ctx, "sender %u, message %d: %s", a->id, i,
                       mpmp_errmsg());
    }
  }
  free(m);
  return 0;
}
MPMP_TASK(pipe_sender_many);

static void pipe_many_senders_on_one_end(void **state) {
  (void)state;
  int nw = mpmp_worker_count() > MAXP ? MAXP : mpmp_worker_count();
  int count = remote_job() ? 20 : 200, next[MAXP] = {0};
  mpmp_process_t *ps[MAXP];
  msender_t args[MAXP];
  mpmp_conn_t mine, theirs;
  size_t max = 4 * MPMP_PIPE_BUFFER, n;
  unsigned char *m = malloc(max), *want = malloc(max);
  assert_int_equal(mpmp_pipe_create(&mine, &theirs, 0), 0); /* one-way */
  for (int i = 0; i < nw; i++) {
    args[i] = (msender_t){theirs, (uint32_t)i, count};
    ps[i] = start_process(pipe_sender_many, &args[i], sizeof args[i]);
  }
  for (int k = 0; k < nw * count; k++) {
    sitem_t h;
    assert_int_equal(mpmp_conn_recv(mine, m, max, &n, T), 0);
    assert_true(n >= sizeof h);
    memcpy(&h, m, sizeof h);
    assert_true(h.producer < (uint32_t)nw);
    assert_int_equal(h.seq, next[h.producer]); /* in order, none lost */
    assert_int_equal(n, msg_size(h.producer, next[h.producer]));
    msg_fill(want, h.producer, next[h.producer]);
    assert_memory_equal(m, want, n);
    next[h.producer]++;
  }
  for (int i = 0; i < nw; i++)
    join_destroy_within(ps[i], 60);
  assert_int_equal(mpmp_conn_poll(mine, 0), 0);
  assert_int_equal(mpmp_pipe_free(mine, theirs), 0);
  free(m);
  free(want);
}

/* 64 MiB there and back, streamed through a 256 KiB ring each way. */
static void pipe_64mib_round_trip(void **state) {
  (void)state;
  const size_t big = (size_t)64 << 20;
  echo_args_t a = {.max = big};
  mpmp_conn_t mine;
  unsigned char *m = malloc(big), *back = malloc(big);
  size_t n = 0;
  assert_non_null(m);
  assert_non_null(back);
  fill_pattern(m, big, 42);
  assert_int_equal(mpmp_pipe_create(&mine, &a.c, 1), 0);
  double t0 = test_now();
  mpmp_process_t *p = start_process(pipe_echo, &a, sizeof a);
  assert_int_equal(mpmp_conn_send(mine, m, big, 60), 0);
  /* a buffer too small learns the size and loses nothing */
  assert_int_equal(mpmp_conn_recv(mine, back, 1000, &n, 60), MPMP_EMSGSIZE);
  assert_int_equal(n, big);
  assert_int_equal(mpmp_conn_recv(mine, back, big, &n, 60), 0);
  assert_int_equal(n, big);
  assert_true(memcmp(back, m, big) == 0);
  assert_int_equal(mpmp_conn_close(mine), 0);
  join_destroy_within(p, 60);
  print_message("  64 MiB round trip: %.2f s\n", elapsed_since(t0));
  assert_int_equal(mpmp_pipe_free(mine, a.c), 0);
  free(m);
  free(back);
}

/* A send that times out part-way through a long message withdraws it: the
 * receiver never returns any of it, whether it had started reading it or
 * not, and gets the next message. */
typedef struct report {
  uint64_t size, sum;
  char head[16];
} report_t;

typedef struct reporter_args {
  mpmp_conn_t c;
  mpmp_queue_t reports;
} reporter_args_t;

static uint64_t sum_bytes(const unsigned char *b, size_t n) {
  uint64_t s = 0;
  for (size_t i = 0; i < n; i++)
    s = s * 31 + b[i];
  return s;
}

/* Report the size, checksum and first bytes of every message until EOF. */
static int recv_reporter(mpmp_ctx_t *ctx) {
  const reporter_args_t *a = mpmp_arg(ctx, NULL);
  size_t max = 8u << 20, n;
  unsigned char *buf = malloc(max);
  int rc;
  while ((rc = mpmp_conn_recv(a->c, buf, max, &n, T)) == 0) {
    report_t r = {n, sum_bytes(buf, n), {0}};
    memcpy(r.head, buf, n < 16 ? n : 16);
    if ((rc = mpmp_queue_put(a->reports, &r, sizeof r, T)) < 0)
      break;
  }
  free(buf);
  return rc == MPMP_EEOF ? 0 : mpmp_fail(ctx, "%s", mpmp_errmsg());
}
MPMP_TASK(recv_reporter);

static void pipe_send_timing_out_is_withdrawn(void **state) {
  (void)state;
  size_t big = 4 * MPMP_PIPE_BUFFER;
  unsigned char *m = malloc(big);
  reporter_args_t a;
  mpmp_conn_t mine;
  report_t r;
  size_t n;
  assert_int_equal(mpmp_pipe_create(&mine, &a.c, 1), 0);
  assert_int_equal(mpmp_queue_create(&a.reports, 0, sizeof r), 0);
  /* nobody reads: a part went in, then the send timed out */
  double t0 = test_now();
  memset(m, 'x', big);
  assert_int_equal(mpmp_conn_send(mine, m, big, 0.2), MPMP_ETIMEDOUT);
  assert_waited(t0, 0.2);
  assert_int_equal(mpmp_conn_poll(a.c, 0), 0); /* nothing to read */
  /* its bytes hold their room until a reader passes them */
  assert_int_equal(mpmp_conn_send(mine, "first", 5, 0.05), MPMP_ETIMEDOUT);
  mpmp_process_t *p = start_process(recv_reporter, &a, sizeof a);
  assert_int_equal(mpmp_conn_send(mine, "first", 5, T), 0);
  assert_int_equal(mpmp_queue_get(a.reports, &r, sizeof r, &n, T), 0);
  assert_true(r.size == 5 && memcmp(r.head, "first", 5) == 0);
  /* a reader at work: some sends complete, some are withdrawn part-way
   * (before the reader took them, or while it was reading them) */
  int rounds = remote_job() ? 8 : 40, sent[40], withdrawn = 0;
  for (int i = 0; i < rounds; i++) {
    fill_pattern(m, big, (uint64_t)i);
    int rc = mpmp_conn_send(mine, m, big, 1e-4 * (i % 10));
    assert_true(rc == 0 || rc == MPMP_ETIMEDOUT);
    sent[i] = rc == 0;
    withdrawn += rc != 0;
    char mark[16];
    snprintf(mark, sizeof mark, "mark %d", i);
    assert_int_equal(mpmp_conn_send(mine, mark, strlen(mark) + 1, T), 0);
  }
  assert_int_equal(mpmp_conn_close(mine), 0);
  for (int i = 0; i < rounds; i++) {
    char mark[16];
    snprintf(mark, sizeof mark, "mark %d", i);
    if (sent[i]) {
      fill_pattern(m, big, (uint64_t)i);
      assert_int_equal(mpmp_queue_get(a.reports, &r, sizeof r, &n, T), 0);
      assert_int_equal(r.size, big);
      assert_true(r.sum == sum_bytes(m, big));
    }
    assert_int_equal(mpmp_queue_get(a.reports, &r, sizeof r, &n, T), 0);
    assert_int_equal(r.size, strlen(mark) + 1);
    assert_string_equal(r.head, mark);
  }
  join_destroy_within(p, 60);
  assert_int_equal(mpmp_queue_empty(a.reports), 1);
  print_message("  %d of %d long sends withdrawn\n", withdrawn, rounds);
  assert_int_equal(mpmp_queue_free(a.reports), 0);
  assert_int_equal(mpmp_pipe_free(mine, a.c), 0);
  free(m);
}

/* Receives *k 8-byte messages (0, 1, ...), answers "done", then receives
 * one more and answers its size, until EOF. */
typedef struct drain_args {
  mpmp_conn_t c;
  int k;
} drain_args_t;

static int pipe_drain(mpmp_ctx_t *ctx) {
  const drain_args_t *a = mpmp_arg(ctx, NULL);
  static char buf[MPMP_PIPE_BUFFER];
  size_t n;
  for (int64_t i = 0; i < a->k; i++) {
    int64_t v = -1;
    if (mpmp_conn_recv(a->c, &v, sizeof v, &n, T) < 0 || v != i)
      return mpmp_fail(ctx, "message %lld came as %lld: %s", (long long)i,
                       (long long)v, mpmp_errmsg());
  }
  if (mpmp_conn_send(a->c, "done", 5, T) < 0 ||
      mpmp_conn_recv(a->c, buf, sizeof buf, &n, T) < 0 ||
      mpmp_conn_send(a->c, &n, sizeof n, T) < 0)
    return mpmp_fail(ctx, "%s", mpmp_errmsg());
  int rc = mpmp_conn_recv(a->c, buf, sizeof buf, &n, T);
  return rc == MPMP_EEOF ? 0 : mpmp_fail(ctx, "at the end: %s", mpmp_errmsg());
}
MPMP_TASK(pipe_drain);

/* A send that may not wait (timeout 0) fills the ring to the byte, and once
 * a reader emptied it, one may again: the sender re-reads how far the
 * reader got when the room it last saw is too little. */
static void pipe_full_ring_try_send_sees_the_room_a_reader_made(void **state) {
  (void)state;
  drain_args_t a = {.k = 0};
  mpmp_conn_t mine;
  static char big[MPMP_PIPE_BUFFER - 8];
  size_t n;
  int rc;
  assert_int_equal(mpmp_pipe_create(&mine, &a.c, 1), 0);
  for (int64_t i = 0; (rc = mpmp_conn_send(mine, &i, sizeof i, 0)) == 0; i++)
    a.k++;
  assert_int_equal(rc, MPMP_ETIMEDOUT);
  /* 8 bytes of length and 8 of payload each: the whole ring */
  assert_int_equal(a.k, MPMP_PIPE_BUFFER / 16);
  mpmp_process_t *p = start_process(pipe_drain, &a, sizeof a);
  char done[8];
  assert_int_equal(mpmp_conn_recv(mine, done, sizeof done, &n, T), 0);
  assert_string_equal(done, "done");
  /* all read: a message that fills the whole ring goes in at once */
  memset(big, 'b', sizeof big);
  assert_int_equal(mpmp_conn_send(mine, big, sizeof big, 0), 0);
  size_t got = 0;
  assert_int_equal(mpmp_conn_recv(mine, &got, sizeof got, &n, T), 0);
  assert_int_equal(got, sizeof big);
  assert_int_equal(mpmp_conn_close(mine), 0);
  join_destroy_within(p, 60);
  assert_int_equal(mpmp_pipe_free(mine, a.c), 0);
}

/* A poll that waits on an end which is closed meanwhile (by another
 * thread, or by the main rank while a Process polls) returns MPMP_EPIPE,
 * as a waiting recv does; it said 1 ("ready"), and only the next poll
 * said EPIPE (helper 74). */
typedef struct poll_args {
  mpmp_conn_t a, b;
} poll_args_t;

static void *close_b_later(void *arg) {
  poll_args_t *g = arg;
  test_sleep(0.2);
  mpmp_conn_close(g->b);
  return NULL;
}

static int poll_b(mpmp_ctx_t *ctx) {
  const poll_args_t *g = mpmp_arg(ctx, NULL);
  int rc = mpmp_conn_poll(g->b, 20);
  if (rc != MPMP_EPIPE)
    return mpmp_fail(ctx, "poll of an end closed while it waited: %d (%s)",
                     rc, mpmp_errmsg());
  return 0;
}
MPMP_TASK(poll_b);

static void pipe_poll_of_an_end_closed_meanwhile_is_epipe(void **state) {
  (void)state;
  poll_args_t g;
  pthread_t t;
  assert_int_equal(mpmp_pipe_create(&g.a, &g.b, 1), 0);
  assert_int_equal(pthread_create(&t, NULL, close_b_later, &g), 0);
  assert_int_equal(mpmp_conn_poll(g.b, 20), MPMP_EPIPE);
  pthread_join(t, NULL);
  assert_int_equal(mpmp_conn_poll(g.b, 0), MPMP_EPIPE);
  assert_int_equal(mpmp_pipe_free(g.a, g.b), 0);
  assert_int_equal(mpmp_pipe_create(&g.a, &g.b, 1), 0);
  mpmp_process_t *p = start_process(poll_b, &g, sizeof g);
  test_sleep(0.3);
  assert_int_equal(mpmp_conn_close(g.b), 0);
  join_destroy_within(p, 60);
  assert_int_equal(mpmp_pipe_free(g.a, g.b), 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(pipe_full_ring_try_send_sees_the_room_a_reader_made),
    cmocka_unit_test(pipe_messages_of_every_size_echoed),
    cmocka_unit_test(pipe_send_timing_out_is_withdrawn),
    cmocka_unit_test(pipe_many_senders_on_one_end),
    cmocka_unit_test(pipe_64mib_round_trip),
    cmocka_unit_test(pipe_poll_of_an_end_closed_meanwhile_is_epipe),
};

MPMP_TEST_MAIN(tests)
