/*
 * The first demo: one Process per worker rank, each computing a sum of
 * squares on its own core, like the tutorials' Process examples
 * (multiprocessing.Process(target=worker, args=(name,)); start(); join()).
 *
 *   mpirun -n 4 build/apps/examples/process_demo
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <mpmp.h>

/* Sum of i*i for i < n: returned to the parent as the body's result. */
static int sum_of_squares(mpmp_ctx_t *ctx) {
  const int64_t *n = mpmp_arg(ctx, NULL);
  int64_t *sum = mpmp_out(ctx, sizeof *sum);
  mpmp_process_info_t me;
  mpmp_current_process(&me);
  *sum = 0;
  for (int64_t i = 0; i < *n; i++)
    *sum += i * i;
  printf("%s: pid %d, rank %d on %s computed sum of squares below %lld\n",
         me.name, me.pid, me.rank, me.node, (long long)*n);
  fflush(stdout);
  return 0;
}
MPMP_TASK(sum_of_squares);

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0; /* worker ranks: the job is over */
  if (rc < 0) {
    if (!mpmp_is_main()) /* failed on every rank: rank 0 says so */
      return 0;
    fprintf(stderr, "mpmp_init: %s\n", mpmp_errmsg());
    return 1;
  }
  int nproc = mpmp_worker_count();
  printf("mpmp %s: main rank + %d worker ranks on %d node(s)\n",
         mpmp_version(), nproc, mpmp_node_count());
  mpmp_print_bindings(stdout);
  mpmp_process_t **procs = calloc((size_t)(nproc > 0 ? nproc : 1), sizeof *procs);
  for (int i = 0; i < nproc; i++) {
    int64_t n = 1000000 * (int64_t)(i + 1);
    mpmp_process_create(&procs[i], sum_of_squares, &n, sizeof n, NULL);
    if (mpmp_process_start(procs[i]) < 0)
      fprintf(stderr, "start: %s\n", mpmp_errmsg());
  }
  for (int i = 0; i < nproc; i++) {
    const int64_t *sum;
    int code = -1;
    mpmp_process_join(procs[i], MPMP_FOREVER);
    mpmp_process_exitcode(procs[i], &code);
    mpmp_process_result(procs[i], (const void **)&sum, NULL);
    printf("%s (pid %d, rank %d): exitcode %d, result %lld\n",
           mpmp_process_name(procs[i]), mpmp_process_pid(procs[i]),
           mpmp_process_rank(procs[i]), code, sum ? (long long)*sum : -1LL);
    mpmp_process_destroy(procs[i]);
  }
  free(procs);
  printf("All processes are complete.\n");
  return mpmp_finalize() == 0 ? 0 : 1;
}
