/* What the shared-object tests (test_shared_*.c) have in common: the
 * element types as a user knows them, and reading a value or the node heap
 * on the main rank. */
#ifndef MPMP_SHARED_COMMON_H
#define MPMP_SHARED_COMMON_H

#include "mpitest.h"

typedef struct {
  mpmp_type_t t;
  char code;
  size_t size;
  int is_int, is_signed;
  const char *name;
} tinfo_t;

extern const tinfo_t TYPES[];
#define NT 11 /* the entries of TYPES */

/* The largest and smallest value of an integer type, as the 64-bit value
 * mpmp reports (sign- or zero-extended; uint64's max reads as -1). */
int64_t tmax(const tinfo_t *ti);
int64_t tmin(const tinfo_t *ti);

/* The value as an int64; fails the test if it cannot be read. */
int64_t get64(mpmp_value_t v);

void heap_now(mpmp_heap_info_t *h);
/* Fails the test unless both snapshots of the heap are the same. */
void assert_heap_same(const mpmp_heap_info_t *a, const mpmp_heap_info_t *b);

/* Objects of several kinds made by make_objects, a process body (homed on
 * its worker's node), and handed back as its result. */
typedef struct {
  mpmp_value_t num;     /* Value('i', 10), then 11 by its maker */
  mpmp_value_t counter; /* Value('q', 7) */
  mpmp_array_t arr;     /* Array('i', 16): 3 * i */
  mpmp_value_t raw;     /* RawValue('d', 3.25) */
  mpmp_array_t rawa;    /* RawArray('B', 100): zeros */
  int node, rank;
} made_t;

int make_objects(mpmp_ctx_t *ctx);
/* Frees them, then checks that they are gone (a check: EXPECT). */
int free_made_objects(char *err, const made_t *m);

/* `total` objects of random kinds made, with random frees in between, at
 * most `max_live` alive, then all freed (a check: EXPECT). */
int churn(char *err, uint64_t seed, int64_t total, int max_live, int64_t id0);

#endif /* MPMP_SHARED_COMMON_H */
