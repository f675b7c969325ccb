/* The node heap that holds shared objects: 100 000 mixed objects leave it
 * as before, an array bigger than the heap, a full heap's message, the heap
 * filled with 64 KiB arrays and emptied.
 *
 * Runs with 2..6 ranks on one node and with 4 ranks over 2 pseudo-nodes
 * (ranks 0 and 2 on one node, 1 and 3 on the other), where objects made by
 * the main rank are remote for ranks 1 and 3 and objects made by their
 * bodies are remote for the main rank. Remote operations cost 10-300 us, so
 * loops run fewer rounds where the object is remote (decided by node ids).
 * Checks that run on the main rank and in bodies use mpitest.h's EXPECT. */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shared_common.h"

/* =========================================================================
 * 6. The node heap
 * ========================================================================= */

static void heap_100000_mixed_objects_leave_it_as_before(void **state) {
  (void)state;
  mpmp_heap_info_t h0, h1;
  heap_now(&h0);
  assert_true(h0.total > 0 && h0.largest_free > 0 && h0.in_use < h0.total);
  MAIN_CHECK(churn(err, 12345, 100000, 1000, 1));
  heap_now(&h1);
  assert_heap_same(&h0, &h1);
}

static void heap_array_bigger_than_the_heap_is_enospc(void **state) {
  (void)state;
  mpmp_heap_info_t h0, h1;
  mpmp_array_t a;
  heap_now(&h0);
  assert_int_equal(mpmp_array_create(&a, MPMP_BYTE, h0.total + 1, NULL, 0),
                   MPMP_ENOSPC);
  assert_non_null(strstr(mpmp_errmsg(), "MPMP_HEAP_SIZE"));
  assert_int_equal(mpmp_array_create(&a, MPMP_INT64, h0.total / 8 + 1, NULL, 1),
                   MPMP_ENOSPC);
  assert_non_null(strstr(mpmp_errmsg(), "MPMP_HEAP_SIZE"));
  assert_int_equal(mpmp_array_create(&a, MPMP_BYTE, h0.largest_free + 1, NULL, 0),
                   MPMP_ENOSPC);
  assert_non_null(strstr(mpmp_errmsg(), "MPMP_HEAP_SIZE"));
  /* a product that overflows fits no memory: the caller's mistake */
  assert_int_equal(mpmp_array_create(&a, MPMP_DOUBLE, SIZE_MAX / 4, NULL, 0),
                   MPMP_EINVAL);
  heap_now(&h1);
  assert_heap_same(&h0, &h1);
  /* the largest free block really is available */
  assert_int_equal(mpmp_array_create(&a, MPMP_BYTE, h0.largest_free - 64, NULL, 0), 0);
  assert_int_equal(mpmp_array_free(a), 0);
  heap_now(&h1);
  assert_heap_same(&h0, &h1);
}

/* The heap-full message reads whole: the call, the figures, the variable. */
static void heap_full_message_is_intact(void **state) {
  (void)state;
  mpmp_heap_info_t h0;
  mpmp_array_t a;
  heap_now(&h0);
  assert_int_equal(mpmp_array_create(&a, MPMP_BYTE, h0.largest_free + 4096,
                                     NULL, 0), MPMP_ENOSPC);
  assert_non_null(strstr(mpmp_errmsg(), "MPMP_HEAP_SIZE"));
  if (strncmp(mpmp_errmsg(), "mpmp_array_create: the node's shared heap is "
              "full", 48) != 0)
    fail_msg("garbled message: '%s'", mpmp_errmsg());
}

/* A worker tries to make a 64 KiB Array in its node's heap. */
static int try_64k(mpmp_ctx_t *ctx) {
  int *rc = mpmp_out(ctx, 2 * sizeof *rc);
  mpmp_array_t a;
  rc[0] = mpmp_array_create(&a, MPMP_BYTE, 65536, NULL, 0);
  rc[1] = mpmp_node_id();
  if (rc[0] == 0 && mpmp_array_free(a) < 0)
    return mpmp_fail(ctx, "free: %s", mpmp_errmsg());
  if (rc[0] == MPMP_ENOSPC && strstr(mpmp_errmsg(), "MPMP_HEAP_SIZE") == NULL)
    return mpmp_fail(ctx, "message: %s", mpmp_errmsg());
  return 0;
}
MPMP_TASK(try_64k);

static void heap_filled_with_64k_arrays_then_emptied(void **state) {
  (void)state;
  mpmp_heap_info_t h0, h1;
  size_t cap, n = 0;
  mpmp_array_t *arr;
  uint64_t s = 99;
  int rc = 0;
  heap_now(&h0);
  cap = h0.total / 65536 + 16;
  arr = calloc(cap, sizeof *arr);
  assert_non_null(arr);
  while (n < cap) {
    rc = mpmp_array_create(&arr[n], MPMP_BYTE, 65536, NULL, (int)(n % 2));
    if (rc != 0)
      break;
    n++;
  }
  assert_int_equal(rc, MPMP_ENOSPC);
  assert_non_null(strstr(mpmp_errmsg(), "MPMP_HEAP_SIZE"));
  assert_true(n >= h0.largest_free / (65536 + 4096));
  heap_now(&h1);
  assert_int_equal(h1.objects, h0.objects + n);
  assert_true(h1.largest_free < 65536 + 128); /* 64 KiB + a lock: no */
  /* full for every rank of this node; other nodes have heaps of their own */
  group_t g;
  group_start(&g, nworkers(), try_64k, NULL, 0);
  group_join(&g);
  for (int i = 0; i < g.n; i++) {
    const int *r = group_result(&g, i, 2 * sizeof(int));
    assert_int_equal(r[0], r[1] == mpmp_node_id() ? MPMP_ENOSPC : 0);
  }
  group_destroy(&g);
  /* the full heap still serves its objects */
  unsigned char byte = 0x77, got = 0;
  assert_int_equal(mpmp_array_set(arr[n - 1], 65535, &byte), 0);
  assert_int_equal(mpmp_array_get(arr[n - 1], 65535, &got), 0);
  assert_int_equal(got, 0x77);
  for (size_t i = n; i > 1; i--) { /* free in random order */
    size_t j = (size_t)(test_rnd(&s) % i);
    mpmp_array_t t = arr[j];
    arr[j] = arr[i - 1];
    arr[i - 1] = t;
  }
  for (size_t i = 0; i < n; i++)
    assert_int_equal(mpmp_array_free(arr[i]), 0);
  free(arr);
  heap_now(&h1);
  assert_heap_same(&h0, &h1);
  /* usable again: big and small */
  mpmp_array_t big;
  assert_int_equal(mpmp_array_create(&big, MPMP_INT32, h0.largest_free / 8, NULL, 1), 0);
  assert_int_equal(mpmp_array_set(big, h0.largest_free / 8 - 1, &(int32_t){-9}), 0);
  assert_int_equal(mpmp_array_free(big), 0);
  MAIN_CHECK(churn(err, 5, 2000, 100, 1));
  heap_now(&h1);
  assert_heap_same(&h0, &h1);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(heap_100000_mixed_objects_leave_it_as_before),
    cmocka_unit_test(heap_array_bigger_than_the_heap_is_enospc),
    cmocka_unit_test(heap_full_message_is_intact),
    cmocka_unit_test(heap_filled_with_64k_arrays_then_emptied),
};

MPMP_TEST_MAIN(tests)
