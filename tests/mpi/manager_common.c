/* The helpers of the Manager tests (manager_common.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manager_common.h"

/* ---- the tutorial's body --------------------------------------------------- */

int fill_one(mpmp_dict_t d, mpmp_list_t l, int i) {
  char key[16];
  snprintf(key, sizeof key, "key%d", i);
  int rc = mpmp_dict_set(d, key, &i, sizeof i);
  return rc < 0 ? rc : mpmp_list_append(l, &i, sizeof i);
}

int fill_worker(mpmp_ctx_t *ctx) {
  const fill_arg_t *a = mpmp_arg(ctx, NULL);
  int rc = fill_one(a->d, a->l, a->i);
  return rc < 0 ? mpmp_fail(ctx, "%s", mpmp_errmsg()) : 0;
}
MPMP_TASK(fill_worker);

/* ---- helpers ------------------------------------------------------------- */

/* Start fn on a free worker; NULL when none is free. */
mpmp_process_t *try_start(mpmp_task_fn fn, const void *arg, size_t n) {
  mpmp_process_t *p = NULL;
  assert_int_equal(mpmp_process_create(&p, fn, arg, n, NULL), 0);
  int rc = mpmp_process_start(p);
  if (rc == MPMP_EBUSY) {
    mpmp_process_destroy(p);
    return NULL;
  }
  assert_int_equal(rc, 0);
  return p;
}

/* The managers a test started, shut down after it even if it failed (so
 * that one failure does not leave the next tests without workers). */
static mpmp_manager_t started[16];
static int nstarted;

mpmp_manager_t started_manager(void) {
  mpmp_manager_t m;
  int rc = mpmp_manager_start(&m);
  if (rc < 0)
    fail_msg("mpmp_manager_start: %s", mpmp_errmsg());
  if (nstarted < 16)
    started[nstarted++] = m;
  return m;
}

int shutdown_started(void **state) {
  (void)state;
  for (int i = 0; i < nstarted; i++)
    mpmp_manager_shutdown(started[i]);
  nstarted = 0;
  return 0;
}

int get_int(mpmp_dict_t d, const char *key) {
  int v = -1;
  size_t n = 0;
  assert_int_equal(mpmp_dict_get(d, key, &v, sizeof v, &n), 0);
  assert_int_equal(n, sizeof v);
  return v;
}

int free_workers_after_manager(void) {
  return mpmp_worker_count() - 1;
}

int list_int(mpmp_list_t l, int64_t i) {
  int v = -1;
  size_t n = 0;
  assert_int_equal(mpmp_list_get(l, i, &v, sizeof v, &n), 0);
  assert_int_equal(n, sizeof v);
  return v;
}
