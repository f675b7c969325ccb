/* What the Manager tests (test_manager_*.c) have in common: the tutorial's
 * fill body, starting a body only where a worker is free (the manager's
 * server takes one), and managers shut down after each test even if it
 * failed. */
#ifndef MPMP_MANAGER_COMMON_H
#define MPMP_MANAGER_COMMON_H

#include <stdint.h>

#include "mpitest.h"

/* worker(shared_dict, shared_list, key, value) of the tutorial */
typedef struct fill_arg {
  mpmp_dict_t d;
  mpmp_list_t l;
  int i;
} fill_arg_t;

/* d["key<i>"] = i and l.append(i), as the tutorial's worker does. */
int fill_one(mpmp_dict_t d, mpmp_list_t l, int i);
int fill_worker(mpmp_ctx_t *ctx); /* fill_one() in a process body */

/* Start fn on a free worker; NULL when none is free. */
mpmp_process_t *try_start(mpmp_task_fn fn, const void *arg, size_t n);

/* A manager shut down by shutdown_started() after the test, even if it
 * failed (so that one failure does not leave the next tests without
 * workers). */
mpmp_manager_t started_manager(void);
int shutdown_started(void **state);
#define T(fn) cmocka_unit_test_teardown(fn, shutdown_started)

/* The int stored under `key` / at index i; fails the test otherwise. */
int get_int(mpmp_dict_t d, const char *key);
int list_int(mpmp_list_t l, int64_t i);

/* The workers left for processes once one manager runs. */
int free_workers_after_manager(void);

#endif /* MPMP_MANAGER_COMMON_H */
