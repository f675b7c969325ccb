/*
 * mpmp_init must fail cleanly on every rank, together and without a hang,
 * with the code and a message that says what to change.
 *
 *   test_init_errors CODE TEXT... [--main-only VAR=VALUE] [--skip-if-shm BYTES]
 *
 * Every rank checks that mpmp_init returns MPMP_<CODE> and that its
 * mpmp_errmsg() contains each TEXT, and that calling mpmp_init again then
 * fails cleanly too (MPI was finalized by mpmp: MPMP_EALREADY, no crash).
 * --main-only sets VAR on the main rank alone (the job's settings are the
 * main rank's, so ranks that never saw the value must fail as well).
 * --skip-if-shm: exit 77 (skipped) if /dev/shm has that much room, for a
 * test that needs a segment larger than /dev/shm.
 * --dup-task: register two different functions under one task name.
 * Prints "init_errors: rank R: as expected: ..." per rank; exit 0 if all
 * went as expected on this rank.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "mpitest.h"

static int twin_a(mpmp_ctx_t *ctx) { (void)ctx; return 0; }
static int twin_b(mpmp_ctx_t *ctx) { (void)ctx; return 1; }

int main(int argc, char **argv) {
  const char *want = NULL, *texts[16];
  int ntexts = 0, rank = test_world_rank();
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--main-only") && i + 1 < argc) {
      char *kv = argv[++i], *eq = strchr(kv, '=');
      if (eq == NULL)
        return 2;
      *eq = '\0';
      if (rank == 0)
        setenv(kv, eq + 1, 1);
      else
        unsetenv(kv);
    } else if (!strcmp(argv[i], "--skip-if-shm") && i + 1 < argc) {
      struct statvfs st;
      double need = atof(argv[++i]);
      if (statvfs("/dev/shm", &st) == 0 &&
          (double)st.f_bavail * (double)st.f_frsize >= need) {
        printf("init_errors: skipped: /dev/shm is large enough here\n");
        return 77;
      }
    } else if (!strcmp(argv[i], "--dup-task")) {
      mpmp_task_register(twin_a, "twin", "init_errors.c");
      mpmp_task_register(twin_b, "twin", "init_errors.c");
    } else if (want == NULL) {
      want = argv[i];
    } else if (ntexts < 16) {
      texts[ntexts++] = argv[i];
    }
  }
  if (want == NULL) {
    fprintf(stderr, "usage: %s CODE TEXT...\n", argv[0]);
    return 2;
  }
  char name[64];
  snprintf(name, sizeof name, "MPMP_%s", want);
  int rc = mpmp_init(&argc, &argv);
  const char *msg = mpmp_errmsg();
  if (rc >= 0) {
    fprintf(stderr, "init_errors: rank %d: FAILED: mpmp_init returned %d, "
            "expected %s\n", rank, rc, name);
    if (rc == MPMP_MAIN)
      mpmp_finalize();
    return 1;
  }
  if (strcmp(mpmp_err_name(rc), name) != 0) {
    fprintf(stderr, "init_errors: rank %d: FAILED: %s (%s), expected %s\n",
            rank, mpmp_err_name(rc), msg, name);
    return 1;
  }
  for (int i = 0; i < ntexts; i++)
    if (strstr(msg, texts[i]) == NULL) {
      fprintf(stderr, "init_errors: rank %d: FAILED: the message lacks "
              "'%s': %s\n", rank, texts[i], msg);
      return 1;
    }
  printf("init_errors: rank %d: as expected: %s: %s\n", rank, name, msg);
  fflush(stdout);
  /* Again: MPI is finalized now; that must be an error, not a crash. */
  int again = mpmp_init(&argc, &argv);
  if (again != MPMP_EALREADY || strstr(mpmp_errmsg(), "finalized") == NULL) {
    fprintf(stderr, "init_errors: rank %d: FAILED: mpmp_init again after a "
            "failed one: %s (%s), expected MPMP_EALREADY\n", rank,
            mpmp_err_name(again), mpmp_errmsg());
    return 1;
  }
  return 0;
}
