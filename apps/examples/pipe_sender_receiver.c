/*
 * Python (tutorial "Python Multiprocessing", "Inter-Process Communication:
 * Pipe"):
 *
 *   def sender(conn):
 *       conn.send("Hello from sender!")
 *       conn.close()
 *
 *   def receiver(conn):
 *       msg = conn.recv()
 *       print(f"Received: {msg}")
 *
 *   if __name__ == "__main__":
 *       parent_conn, child_conn = Pipe()
 *       p1 = Process(target=sender, args=(child_conn,))
 *       p2 = Process(target=receiver, args=(parent_conn,))
 *       p1.start()
 *       p2.start()
 *       p1.join()
 *       p2.join()
 *
 * prints "Received: Hello from sender!". A message is bytes: the string
 * with its NUL. After the joins the main rank says which rank and pid ran
 * each process.
 *
 *   mpirun -n 3 build/apps/examples/pipe_sender_receiver
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

/* Which rank and pid ran it (Python's p.pid; the rank is mpmp's). */
static void ran_on(const char *what, const mpmp_process_t *p) {
  printf("%s ran on rank %d (pid %d)\n", what, mpmp_process_rank(p),
         mpmp_process_pid(p));
}

static int sender(mpmp_ctx_t *ctx) {
  const mpmp_conn_t *conn = mpmp_arg(ctx, NULL);
  const char *msg = "Hello from sender!";
  if (mpmp_conn_send(*conn, msg, strlen(msg) + 1, MPMP_FOREVER) < 0)
    return mpmp_fail(ctx, "conn.send(): %s", mpmp_errmsg());
  mpmp_conn_close(*conn);
  return 0;
}
MPMP_TASK(sender);

static int receiver(mpmp_ctx_t *ctx) {
  const mpmp_conn_t *conn = mpmp_arg(ctx, NULL);
  char msg[64];
  if (mpmp_conn_recv(*conn, msg, sizeof msg, NULL, MPMP_FOREVER) < 0)
    return mpmp_fail(ctx, "conn.recv(): %s", mpmp_errmsg());
  printf("Received: %s\n", msg);
  fflush(stdout);
  return 0;
}
MPMP_TASK(receiver);

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0; /* worker ranks: the job is over */
  check(rc, "mpmp_init");

  mpmp_conn_t parent_conn, child_conn; /* Pipe(): duplex */
  check(mpmp_pipe_create(&parent_conn, &child_conn, 1), "Pipe()");
  mpmp_process_t *p1, *p2;
  check(mpmp_process_create(&p1, sender, &child_conn, sizeof child_conn, NULL),
        "Process");
  check(mpmp_process_create(&p2, receiver, &parent_conn, sizeof parent_conn,
                            NULL), "Process");
  check(mpmp_process_start(p1), "p1.start()");
  check(mpmp_process_start(p2), "p2.start()");
  join(p1);
  join(p2);
  ran_on("sender", p1);
  ran_on("receiver", p2);

  mpmp_process_destroy(p1);
  mpmp_process_destroy(p2);
  check(mpmp_pipe_free(parent_conn, child_conn), "free the pipe");
  return mpmp_finalize() < 0;
}
