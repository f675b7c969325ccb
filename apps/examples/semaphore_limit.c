/*
 * Python (tutorial "Synchronization: Semaphore"):
 *
 *   def limited_resource(semaphore, name):
 *       with semaphore:  # Only N processes at a time
 *           print(f"{name} acquired resource")
 *           time.sleep(1)
 *           print(f"{name} released resource")
 *
 *   sem = Semaphore(2)  # Max 2 concurrent
 *   processes = [Process(target=limited_resource, args=(sem, f"P{i}")) for i in range(5)]
 *
 * Here the sleep is 0.2 s, and a shared counter of holders proves the limit:
 * the program prints the most holders ever seen at once (2).
 *
 *   mpirun -n 6 build/apps/examples/semaphore_limit
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <mpmp.h>

typedef struct {
  mpmp_sem_t sem;
  mpmp_value_t holders, most;
  char name[8];
} args_t;

static int limited_resource(mpmp_ctx_t *ctx) {
  const args_t *a = mpmp_arg(ctx, NULL);
  mpmp_sem_acquire(a->sem, MPMP_FOREVER); /* with semaphore: */
  int64_t now, most;
  mpmp_value_add(a->holders, 1, &now);
  now += 1;
  mpmp_value_get_i64(a->most, &most); /* most = max(most, now) */
  while (now > most && mpmp_value_cas(a->most, &most, now) == 0)
    ;
  printf("%s acquired resource (pid %d, rank %d)\n", a->name, (int)getpid(),
         mpmp_rank());
  fflush(stdout);
  struct timespec ts = {0, 200000000};
  nanosleep(&ts, NULL);
  printf("%s released resource\n", a->name);
  fflush(stdout);
  mpmp_value_add(a->holders, -1, NULL);
  mpmp_sem_release(a->sem);
  return 0;
}
MPMP_TASK(limited_resource);

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  if (rc < 0) {
    if (!mpmp_is_main()) /* failed on every rank: rank 0 says so */
      return 0;
    fprintf(stderr, "mpmp_init: %s\n", mpmp_errmsg());
    return 1;
  }
  args_t a;
  mpmp_sem_create(&a.sem, 2); /* Semaphore(2) */
  mpmp_value_create(&a.holders, MPMP_INT32, NULL, 0);
  mpmp_value_create(&a.most, MPMP_INT32, NULL, 0);
  mpmp_process_t *procs[5];
  for (int i = 0; i < 5; i++) {
    snprintf(a.name, sizeof a.name, "P%d", i);
    mpmp_process_create(&procs[i], limited_resource, &a, sizeof a, NULL);
    if (mpmp_process_start(procs[i]) < 0) {
      fprintf(stderr, "%s\n", mpmp_errmsg());
      return 1;
    }
  }
  for (int i = 0; i < 5; i++) {
    mpmp_process_join(procs[i], MPMP_FOREVER);
    printf("%s ran on rank %d (pid %d)\n", mpmp_process_name(procs[i]),
           mpmp_process_rank(procs[i]), mpmp_process_pid(procs[i]));
    mpmp_process_destroy(procs[i]);
  }
  int64_t most;
  mpmp_value_get_i64(a.most, &most);
  printf("at most %lld processes held the resource at once\n",
         (long long)most);
  mpmp_sem_free(a.sem);
  mpmp_value_free(a.holders);
  mpmp_value_free(a.most);
  return mpmp_finalize() < 0;
}
