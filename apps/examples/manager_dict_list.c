/*
 * Python (tutorial "Python Multiprocessing", "Manager (More Flexible)"):
 *
 *   def worker(shared_dict, shared_list, key, value):
 *       shared_dict[key] = value
 *       shared_list.append(value)
 *
 *   if __name__ == "__main__":
 *       with Manager() as manager:
 *           shared_dict = manager.dict()
 *           shared_list = manager.list()
 *           processes = []
 *           for i in range(4):
 *               p = Process(target=worker, args=(shared_dict, shared_list, f"key{i}", i))
 *               p.start()
 *               processes.append(p)
 *           for p in processes:
 *               p.join()
 *           print(dict(shared_dict))  # {'key0': 0, 'key1': 1, ...}
 *           print(list(shared_list))  # [0, 1, 2, 3]
 *
 * The four processes run at once, so the dict's insertion order and the
 * list's order are the order in which they reached the manager, in Python
 * as here. This program prints the dict sorted by key, the same on every
 * run: {'key0': 0, 'key1': 1, 'key2': 2, 'key3': 3}; and the list as it
 * is: 0, 1, 2 and 3 in the order of that run. After the joins the main rank
 * says which rank and pid ran each process. The Manager's server takes a
 * worker rank of its own, as Python's takes a process: 1 main + 1 server +
 * 4 process ranks.
 *
 *   mpirun -n 6 build/apps/examples/manager_dict_list
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpmp.h>

/* A failed mpmp call stops the program, saying what went wrong. */
static void check(int rc, const char *what) {
  if (rc < 0) {
    if (!mpmp_is_main()) /* init failed on every rank: rank 0 says so; */
      exit(0);           /* the others end quietly (exit 1 could end the
                            job before its message is out) */
    fprintf(stderr, "%s: %s\n", what, mpmp_errmsg());
    exit(1);
  }
}

/* p.join(); a body that failed (Python: a traceback) stops the program. */
static void join(mpmp_process_t *p) {
  int code = -1;
  check(mpmp_process_join(p, MPMP_FOREVER), "join");
  check(mpmp_process_exitcode(p, &code), "exitcode");
  if (code != 0) {
    fprintf(stderr, "%s exited with %d: %s\n", mpmp_process_name(p), code,
            mpmp_process_errmsg(p));
    exit(1);
  }
}

/* args=(shared_dict, shared_list, key, value) */
typedef struct {
  mpmp_dict_t shared_dict;
  mpmp_list_t shared_list;
  char key[16];
  int value;
} worker_args_t;

static int worker(mpmp_ctx_t *ctx) {
  const worker_args_t *a = mpmp_arg(ctx, NULL);
  if (mpmp_dict_set(a->shared_dict, a->key, &a->value, sizeof a->value) < 0)
    return mpmp_fail(ctx, "shared_dict[%s]: %s", a->key, mpmp_errmsg());
  if (mpmp_list_append(a->shared_list, &a->value, sizeof a->value) < 0)
    return mpmp_fail(ctx, "shared_list.append(): %s", mpmp_errmsg());
  return 0;
}
MPMP_TASK(worker);

typedef struct {
  const char *key;
  int value;
} pair_t;

static int by_key(const void *a, const void *b) {
  return strcmp(((const pair_t *)a)->key, ((const pair_t *)b)->key);
}

/* print(dict(d)), its items sorted by key */
static void print_dict(mpmp_dict_t d) {
  mpmp_items_t items;
  check(mpmp_dict_items(d, &items), "shared_dict.items()");
  pair_t *pairs = calloc(items.count + 1, sizeof *pairs);
  for (size_t i = 0; i < items.count; i++) {
    pairs[i].key = items.keys[i];
    memcpy(&pairs[i].value, items.values[i], sizeof pairs[i].value);
  }
  qsort(pairs, items.count, sizeof *pairs, by_key);
  printf("{");
  for (size_t i = 0; i < items.count; i++)
    printf(i ? ", '%s': %d" : "'%s': %d", pairs[i].key, pairs[i].value);
  printf("}\n");
  free(pairs);
  mpmp_items_free(&items);
}

/* print(list(l)) */
static void print_list(mpmp_list_t l) {
  mpmp_items_t values; /* l[0:] */
  check(mpmp_list_slice(l, 0, MPMP_LIST_END, &values), "list(shared_list)");
  printf("[");
  for (size_t i = 0; i < values.count; i++) {
    int v;
    memcpy(&v, values.values[i], sizeof v);
    printf(i ? ", %d" : "%d", v);
  }
  printf("]\n");
  mpmp_items_free(&values);
}

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0; /* worker ranks: the job is over */
  check(rc, "mpmp_init");

  mpmp_manager_t manager; /* with Manager() as manager: */
  check(mpmp_manager_start(&manager), "Manager()");
  worker_args_t a;
  check(mpmp_dict_create(manager, &a.shared_dict), "manager.dict()");
  check(mpmp_list_create(manager, &a.shared_list), "manager.list()");

  mpmp_process_t *processes[4];
  for (int i = 0; i < 4; i++) {
    snprintf(a.key, sizeof a.key, "key%d", i);
    a.value = i;
    check(mpmp_process_create(&processes[i], worker, &a, sizeof a, NULL),
          "Process");
    check(mpmp_process_start(processes[i]), "p.start()");
  }
  for (int i = 0; i < 4; i++)
    join(processes[i]);
  for (int i = 0; i < 4; i++) {
    printf("%s ran on rank %d (pid %d)\n", mpmp_process_name(processes[i]),
           mpmp_process_rank(processes[i]), mpmp_process_pid(processes[i]));
    mpmp_process_destroy(processes[i]);
  }

  print_dict(a.shared_dict);
  print_list(a.shared_list);
  check(mpmp_manager_shutdown(manager), "leaving `with Manager()`");
  return mpmp_finalize() < 0;
}
