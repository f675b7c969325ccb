/*
 * The README's first program: a Process computes a sum of squares on a
 * worker rank and hands it back (README.md shows this file verbatim from
 * the #include lines on; tests/readme checks that they agree).
 *
 *   mpirun -n 2 build/apps/examples/first_program      # prints 285
 */
#include <stdio.h>
#include <mpmp.h>

/* A task: reads its argument bytes, writes its result bytes. */
static int sum_of_squares(mpmp_ctx_t *ctx) {
    const long *n = mpmp_arg(ctx, NULL);
    long *sum = mpmp_out(ctx, sizeof *sum);
    *sum = 0;
    for (long i = 1; i <= *n; i++) *sum += i * i;
    return 0;                                  /* the exit code */
}
MPMP_TASK(sum_of_squares);                     /* registered on every rank */

int main(int argc, char **argv) {
    int rc = mpmp_init(&argc, &argv);
    if (rc == MPMP_WORKER_DONE) return 0;     /* worker ranks: the job is over */
    if (rc < 0) {                             /* failed on every rank: */
        if (!mpmp_is_main()) return 0;        /* rank 0 alone says so */
        fprintf(stderr, "%s\n", mpmp_errmsg());
        return 1;
    }

    long n = 9; const long *sum;
    mpmp_process_t *p;
    mpmp_process_create(&p, sum_of_squares, &n, sizeof n, NULL);  /* Process(target, args) */
    rc = mpmp_process_start(p);                /* mpirun -n 1: no worker */
    if (rc == 0) rc = mpmp_process_join(p, MPMP_FOREVER);
    if (rc == 0) rc = mpmp_process_result(p, (const void **)&sum, NULL);
    if (rc == 0) printf("%ld\n", *sum);        /* 285 */
    else fprintf(stderr, "%s\n", mpmp_errmsg());
    mpmp_process_destroy(p);
    return mpmp_finalize() == 0 && rc == 0 ? 0 : 1;
}
