/*
 * Python (tutorial "Multiprocessing in Python: Unlocking True Parallelism",
 * "Example 1: Using multiprocessing.Pipe for Two-Way Communication"):
 *
 *   def pipe_child_process(conn):
 *       print(f"\n[Pipe Child, PID: {os.getpid()}] Waiting to receive a message...")
 *       message_from_parent = conn.recv()
 *       print(f"[Pipe Child, PID: {os.getpid()}] Received: '{message_from_parent}'")
 *       processed_message = message_from_parent.upper()
 *       conn.send(processed_message)
 *       print(f"[Pipe Child, PID: {os.getpid()}] Sent response: '{processed_message}'")
 *       conn.close()
 *
 *   def run_pipe_example():
 *       print("--- Starting Multiprocessing Pipe Example ---")
 *       parent_conn, child_conn = multiprocessing.Pipe()
 *       p = multiprocessing.Process(target=pipe_child_process, args=(child_conn,))
 *       p.start()
 *       print(f"[Pipe Parent, PID: {os.getpid()}] Sending message: 'hello from parent'")
 *       parent_conn.send("hello from parent")
 *       response = parent_conn.recv()
 *       print(f"[Pipe Parent, PID: {os.getpid()}] Received response: '{response}'")
 *       p.join()
 *       parent_conn.close()
 *       print("\n--- Pipe Example Finished ---")
 *
 * The parent prints "Received response: 'HELLO FROM PARENT'". The lines also
 * name the mpmp rank: 0 for the parent, a worker rank for the child. The
 * tutorial's Example 2 (Value, Array and a Lock) is
 * shared_counter_array_lock.c.
 *
 *   mpirun -n 2 build/apps/examples/pipe_hello_upper
 *
 * mpirun forwards each rank's output separately: the parent's and the
 * child's lines each come out in order, but the two may interleave
 * differently from the order of events (the parent's "Received response"
 * before the child's "Sent response", say).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

#define MSG_MAX 64

/* Runs in the child: receives from the parent, sends back upper-cased. */
static int pipe_child_process(mpmp_ctx_t *ctx) {
  const mpmp_conn_t *conn = mpmp_arg(ctx, NULL);
  int pid = (int)getpid(), rank = mpmp_rank();
  printf("\n[Pipe Child, PID: %d, rank %d] Waiting to receive a message...\n",
         pid, rank);
  fflush(stdout);

  char message_from_parent[MSG_MAX], processed_message[MSG_MAX];
  if (mpmp_conn_recv(*conn, message_from_parent, MSG_MAX, NULL,
                     MPMP_FOREVER) < 0)
    return mpmp_fail(ctx, "conn.recv(): %s", mpmp_errmsg());
  printf("[Pipe Child, PID: %d, rank %d] Received: '%s'\n", pid, rank,
         message_from_parent);
  fflush(stdout);

  size_t n = strlen(message_from_parent) + 1; /* .upper() */
  for (size_t i = 0; i < n; i++)
    processed_message[i] = (char)toupper((unsigned char)message_from_parent[i]);
  if (mpmp_conn_send(*conn, processed_message, n, MPMP_FOREVER) < 0)
    return mpmp_fail(ctx, "conn.send(): %s", mpmp_errmsg());
  printf("[Pipe Child, PID: %d, rank %d] Sent response: '%s'\n", pid, rank,
         processed_message);
  fflush(stdout);
  mpmp_conn_close(*conn);
  return 0;
}
MPMP_TASK(pipe_child_process);

static void run_pipe_example(void) {
  int pid = (int)getpid(), rank = mpmp_rank();
  printf("--- Starting Multiprocessing Pipe Example ---\n");
  mpmp_conn_t parent_conn, child_conn; /* duplex (two-way) */
  check(mpmp_pipe_create(&parent_conn, &child_conn, 1), "Pipe()");
  mpmp_process_t *p;
  check(mpmp_process_create(&p, pipe_child_process, &child_conn,
                            sizeof child_conn, NULL), "Process");
  check(mpmp_process_start(p), "p.start()");

  const char *msg = "hello from parent";
  printf("[Pipe Parent, PID: %d, rank %d] Sending message: '%s'\n", pid, rank,
         msg);
  fflush(stdout);
  check(mpmp_conn_send(parent_conn, msg, strlen(msg) + 1, MPMP_FOREVER),
        "parent_conn.send()");
  char response[MSG_MAX];
  check(mpmp_conn_recv(parent_conn, response, sizeof response, NULL,
                       MPMP_FOREVER), "parent_conn.recv()");
  printf("[Pipe Parent, PID: %d, rank %d] Received response: '%s'\n", pid,
         rank, response);

  join(p);
  mpmp_process_destroy(p);
  check(mpmp_pipe_free(parent_conn, child_conn), "parent_conn.close()");
  printf("\n--- Pipe Example Finished ---\n");
}

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0; /* worker ranks: the job is over */
  check(rc, "mpmp_init");
  run_pipe_example();
  return mpmp_finalize() < 0;
}
