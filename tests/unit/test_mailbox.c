/*
 * The same-node mailbox ring (src/mailbox.c): sizes, wrap-around, a full
 * ring, and a producer and a consumer in two processes sharing a mapping.
 */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "base.h"
#include "mailbox.h"

/* The byte k of message i: any mix-up of messages or offsets shows. */
static unsigned char byte_of(uint32_t i, size_t k) {
  return (unsigned char)(i * 131u + k * 7u + (k >> 8));
}

static void fill(unsigned char *p, uint32_t i, size_t n) {
  for (size_t k = 0; k < n; k++)
    p[k] = byte_of(i, k);
}

static int check_msg(const unsigned char *p, uint32_t i, size_t n) {
  for (size_t k = 0; k < n; k++)
    if (p[k] != byte_of(i, k))
      return 0;
  return 1;
}

static mpmp__mbox_t *new_box(size_t cap, int shared) {
  size_t n = sizeof(mpmp__mbox_t) + cap;
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
                 (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
  assert_true(p != MAP_FAILED);
  memset(p, 0, sizeof(mpmp__mbox_t));
  return p;
}

static void free_box(mpmp__mbox_t *b, size_t cap) {
  munmap(b, sizeof(mpmp__mbox_t) + cap);
}

static void mailbox_sizes(void **state) {
  (void)state;
  assert_int_equal(mpmp__mbox_cap(64 << 10, 2), 64 << 10);
  assert_int_equal(mpmp__mbox_cap(100000, 2), 64 << 10); /* a power of 2 */
  assert_int_equal(mpmp__mbox_cap(64 << 10, 15), 64 << 10);
  assert_int_equal(mpmp__mbox_cap(64 << 10, 16), 32 << 10); /* 16 MiB in all */
  assert_int_equal(mpmp__mbox_cap(64 << 10, 64), 2 << 10);
  for (int n = 1; n <= 200; n++)
    assert_true(mpmp__mbox_area(mpmp__mbox_cap(64 << 10, n), n) <= 16u << 20);
  assert_int_equal(mpmp__mbox_cap(64 << 10, 120), 1 << 10);
  assert_int_equal(mpmp__mbox_cap(64 << 10, 121), 0); /* too many: off */
  assert_int_equal(mpmp__mbox_cap(0, 2), 0);
  assert_int_equal(mpmp__mbox_cap(512, 2), 0);
  assert_int_equal(mpmp__mbox_area(0, 16), 0);
  assert_int_equal(mpmp__mbox_area(1024, 3), 9 * (1024 + 128));
  /* rings are laid out receiver-major, each after the last */
  char *area = (char *)(uintptr_t)4096;
  assert_ptr_equal(mpmp__mbox_at(area, 1024, 3, 2, 1),
                   area + (1 * 3 + 2) * (1024 + 128));
  assert_int_equal(mpmp__mbox_max_msg(1024), 248);
}

/* Messages of every size from 0 to the largest, many times round a small
 * ring, in two parts, taken back in order with their tags. */
static void mailbox_wraps_and_keeps_order(void **state) {
  (void)state;
  enum { CAP = 1024 };
  mpmp__mbox_t *box = new_box(CAP, 0);
  mpmp__mbox_tx_t tx = {0, 0};
  uint64_t head = 0;
  size_t max = mpmp__mbox_max_msg(CAP);
  unsigned char msg[CAP];
  uint32_t sent = 0, got = 0;
  while (got < 5000) {
    /* put until full, then take a few: the ring is seldom empty */
    for (;;) {
      size_t n = (sent * 37u) % (max + 1), split = n / 3;
      fill(msg, sent, n);
      if (!mpmp__mbox_put(box, CAP, &tx, (int)(sent % 13) + 1, msg, split,
                          msg + split, n - split))
        break;
      sent++;
    }
    assert_true(sent - got >= 3); /* full: at least 3 of up to 248 bytes */
    for (int k = 0; k < 3; k++, got++) {
      int tag;
      void *buf;
      size_t len;
      assert_int_equal(mpmp__mbox_take(box, CAP, &head, &tag, &buf, &len), 1);
      assert_int_equal(len, (got * 37u) % (max + 1));
      assert_int_equal(tag, (int)(got % 13) + 1);
      assert_true(check_msg(buf, got, len));
      mpmp__free(buf);
    }
  }
  while (got < sent) {
    int tag;
    void *buf;
    size_t len;
    assert_int_equal(mpmp__mbox_take(box, CAP, &head, &tag, &buf, &len), 1);
    assert_true(check_msg(buf, got++, len));
    mpmp__free(buf);
  }
  int tag;
  void *buf;
  size_t len;
  assert_int_equal(mpmp__mbox_take(box, CAP, &head, &tag, &buf, &len), 0);
  assert_int_equal(atomic_load(&box->head), atomic_load(&box->tail));
  free_box(box, CAP);
}

static void mailbox_refuses_what_does_not_fit(void **state) {
  (void)state;
  enum { CAP = 1024 };
  mpmp__mbox_t *box = new_box(CAP, 0);
  mpmp__mbox_tx_t tx = {0, 0};
  unsigned char msg[CAP] = {0};
  size_t max = mpmp__mbox_max_msg(CAP);
  assert_int_equal(mpmp__mbox_put(box, CAP, &tx, 1, msg, max + 1, NULL, 0), 0);
  assert_int_equal(mpmp__mbox_put(box, CAP, &tx, 1, msg, max, msg, 1), 0);
  assert_int_equal(mpmp__mbox_put(box, 0, &tx, 1, msg, 8, NULL, 0), 0);
  for (int i = 0; i < 4; i++) /* 4 x 256 bytes: exactly full */
    assert_int_equal(mpmp__mbox_put(box, CAP, &tx, 1, msg, max, NULL, 0), 1);
  assert_int_equal(mpmp__mbox_put(box, CAP, &tx, 1, msg, 0, NULL, 0), 0);
  assert_int_equal(atomic_load(&box->tail), CAP);
  free_box(box, CAP);
}

/* A producer process and a consumer process: 200 000 messages of mixed
 * sizes through a 4 KiB ring, every byte checked, nothing lost. */
enum { XCAP = 4096, XN = 200000 };

static int produce(mpmp__mbox_t *box) {
  mpmp__mbox_tx_t tx = {0, 0};
  unsigned char msg[XCAP];
  size_t max = mpmp__mbox_max_msg(XCAP);
  for (uint32_t i = 0; i < XN; i++) {
    size_t n = 4 + (i * 2654435761u >> 7) % (max - 3);
    memcpy(msg, &i, 4);
    fill(msg + 4, i, n - 4);
    while (!mpmp__mbox_put(box, XCAP, &tx, 7, msg, 4, msg + 4, n - 4))
      sched_yield();
  }
  return 0;
}

static void mailbox_two_processes(void **state) {
  (void)state;
  mpmp__mbox_t *box = new_box(XCAP, 1);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    alarm(30); /* a hang kills the child; the parent sees the signal */
    _exit(produce(box));
  }
  uint64_t head = 0;
  size_t max = mpmp__mbox_max_msg(XCAP);
  int bad = 0;
  for (uint32_t i = 0; i < XN && !bad;) {
    int tag;
    void *buf;
    size_t len;
    int rc = mpmp__mbox_take(box, XCAP, &head, &tag, &buf, &len);
    if (rc == 0) {
      sched_yield();
      continue;
    }
    uint32_t seq;
    memcpy(&seq, buf, 4);
    bad = rc != 1 || tag != 7 || seq != i ||
          len != 4 + (i * 2654435761u >> 7) % (max - 3) ||
          !check_msg((unsigned char *)buf + 4, i, len - 4);
    if (bad)
      print_error("message %u: rc %d tag %d seq %u len %zu\n", i, rc, tag,
                  seq, len);
    mpmp__free(buf);
    i++;
  }
  int st = 0;
  if (bad)
    kill(pid, SIGKILL);
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_false(bad);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  assert_int_equal(atomic_load(&box->head), atomic_load(&box->tail));
  free_box(box, XCAP);
}


/*
 * The ring is in memory any process of the node can write: a corrupt
 * length or tail must be refused, never followed out of the ring. The ring
 * is on the malloc heap here (not mmap), so that an ASan build catches any
 * read past its end.
 */
enum { CCAP = 1024 };

static mpmp__mbox_t *heap_box(void) {
  mpmp__mbox_t *box = aligned_alloc(64, sizeof(mpmp__mbox_t) + CCAP);
  assert_non_null(box);
  memset(box, 0, sizeof(mpmp__mbox_t) + CCAP);
  return box;
}

/* One good message of 16 bytes, taken: head and tail are at 24. */
static uint64_t one_taken(mpmp__mbox_t *box) {
  mpmp__mbox_tx_t tx = {0, 0};
  unsigned char msg[16];
  fill(msg, 1, sizeof msg);
  assert_int_equal(mpmp__mbox_put(box, CCAP, &tx, 3, msg, sizeof msg, NULL, 0),
                   1);
  uint64_t head = 0;
  int tag;
  void *buf;
  size_t len;
  assert_int_equal(mpmp__mbox_take(box, CCAP, &head, &tag, &buf, &len), 1);
  assert_true(len == 16 && check_msg(buf, 1, len));
  mpmp__free(buf);
  return head;
}

/* Write a record header at `at` and move the tail to `tail`. */
static void forge(mpmp__mbox_t *box, uint64_t at, uint32_t len, uint64_t tail) {
  uint32_t hdr[2] = {len, 5};
  memcpy((char *)(box + 1) + (at & (CCAP - 1)), hdr, sizeof hdr);
  atomic_store(&box->tail, tail);
}

/* Taking from the corrupt ring fails with MPMP__MBOX_CORRUPT and a message,
 * and neither our head nor the ring's moves. */
static void expect_corrupt(mpmp__mbox_t *box, uint64_t head) {
  uint64_t h = head, ring_head = atomic_load(&box->head);
  int tag = -1;
  void *buf = NULL;
  size_t len = 0;
  assert_int_equal(mpmp__mbox_take(box, CCAP, &h, &tag, &buf, &len),
                   MPMP__MBOX_CORRUPT);
  assert_null(buf);
  assert_int_equal(h, head);
  assert_int_equal(atomic_load(&box->head), ring_head);
  assert_non_null(strstr(mpmp_errmsg(), "mailbox is corrupt"));
}

static void mailbox_corrupt_length_longer_than_ring(void **state) {
  (void)state;
  mpmp__mbox_t *box = heap_box();
  uint64_t head = one_taken(box);
  forge(box, head, 4000, head + 256); /* 4 000 bytes in a 1 KiB ring */
  expect_corrupt(box, head);
  forge(box, head, UINT32_MAX, head + 256);
  expect_corrupt(box, head);
  free(box);
}

static void mailbox_corrupt_length_over_max_msg(void **state) {
  (void)state;
  mpmp__mbox_t *box = heap_box();
  uint64_t head = one_taken(box);
  size_t max = mpmp__mbox_max_msg(CCAP);
  /* fits between head and tail, but no sender writes such a record */
  forge(box, head, (uint32_t)max + 1, head + 512);
  expect_corrupt(box, head);
  free(box);
}

static void mailbox_corrupt_record_past_tail(void **state) {
  (void)state;
  mpmp__mbox_t *box = heap_box();
  uint64_t head = one_taken(box);
  forge(box, head, 100, head + 64); /* 108 bytes of record, 64 written */
  expect_corrupt(box, head);
  free(box);
}

static void mailbox_corrupt_tail(void **state) {
  (void)state;
  mpmp__mbox_t *box = heap_box();
  uint64_t head = one_taken(box);
  forge(box, head, 8, head - 8); /* moved backwards */
  expect_corrupt(box, head);
  forge(box, head, 8, 0);
  expect_corrupt(box, head);
  forge(box, head, 8, head + CCAP + 8); /* more than a ring ahead */
  expect_corrupt(box, head);
  forge(box, head, 8, UINT64_MAX);
  expect_corrupt(box, head);
  forge(box, head, 1, head + 12); /* not on a record boundary */
  expect_corrupt(box, head);
  /* put right again, the ring works: a whole ring's worth is fine */
  forge(box, head, 8, head + 16);
  uint64_t h = head;
  int tag;
  void *buf;
  size_t len;
  assert_int_equal(mpmp__mbox_take(box, CCAP, &h, &tag, &buf, &len), 1);
  assert_int_equal(len, 8);
  assert_int_equal(tag, 5);
  assert_int_equal(h, head + 16);
  mpmp__free(buf);
  free(box);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(mailbox_sizes),
      cmocka_unit_test(mailbox_wraps_and_keeps_order),
      cmocka_unit_test(mailbox_refuses_what_does_not_fit),
      cmocka_unit_test(mailbox_two_processes),
      cmocka_unit_test(mailbox_corrupt_length_longer_than_ring),
      cmocka_unit_test(mailbox_corrupt_length_over_max_msg),
      cmocka_unit_test(mailbox_corrupt_record_past_tail),
      cmocka_unit_test(mailbox_corrupt_tail),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
