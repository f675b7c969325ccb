/* The wire format of the process protocol (main rank <-> worker ranks). */
#ifndef MPMP_PROTO_H
#define MPMP_PROTO_H

#include <stdint.h>

/* MPMP__TAG_RUN_PROC: this header, then the argument bytes. */
typedef struct mpmp__run_hdr {
  uint64_t id;          /* the process id, unique in the job */
  int32_t task;         /* task id */
  int32_t daemon;
  uint64_t max_result;  /* bytes the body may return */
  int32_t isolate;      /* run the body in a task host: 1 always, 2 where
                           the worker has one, 0 never */
  uint32_t pool_init;   /* the body is this isolated pool's initializer:
                           it runs again in every new host of that pool
                           (parallel/host.c); 0: a plain body */
  char name[64];
} mpmp__run_hdr_t;

/* MPMP__TAG_PROC_DONE: this header, the message, then the result bytes. */
typedef struct mpmp__done_hdr {
  uint64_t id;
  int32_t exitcode;
  uint32_t msglen;      /* 0: no failure message */
  uint64_t resultlen;
} mpmp__done_hdr_t;

/* MPMP__TAG_TERMINATE: stop the task of job or process `id`, or (upto)
 * of every job with an id up to `id` (ids only grow: a pool's terminate
 * names its newest job). */
typedef struct mpmp__term_hdr {
  uint64_t id;
  uint32_t upto, pad;
} mpmp__term_hdr_t;

/* Items and results up to this many bytes travel inside the header message;
 * larger ones as a message of their own, sent from and received into the
 * caller's memory (no copy). 4 KiB: Open MPI's shared-memory eager size. */
#define MPMP__INLINE_MAX 4096
#define MPMP__SHM_STAGED 2u /* mpmp__chunk_hdr_t.shm */

/* MPMP__TAG_RUN_CHUNK: this header, then count * in_size argument bytes
 * (or, above MPMP__INLINE_MAX, a separate MPMP__TAG_CHUNK_INPUT message). */
typedef struct mpmp__chunk_hdr {
  uint64_t job;      /* the main rank's job (AsyncResult) id */
  uint64_t first;    /* index of the chunk's first item in the job */
  uint32_t count;
  int32_t task;
  uint32_t isolate;  /* run the items in a task host (parallel/host.c) */
  uint32_t max_retries; /* runs more of an item whose host died */
  uint32_t pool;     /* an isolated pool's id (its hosts are its own) */
  uint32_t tried;    /* a chunk of one item dealt again: the runs of it
                        so far (its hosts died) */
  uint32_t redeal;   /* an item whose host died goes back to the main
                        rank, which deals it again, to another worker of
                        the pool (else it runs again here) */
  uint32_t var;      /* variable-size items and results (parallel/varmap.c):
                        the items are count + 1 uint64 offsets into the
                        bytes that follow them, always inline; in_size and
                        out_size are 0, out_max bounds each result */
  uint32_t max_tasks; /* the pool's maxtasksperchild: a host that ran this
                         many chunks is replaced first; 0: never */
  uint32_t shm;      /* zero-copy (chunktask.c): an mpmp__shm_ref_t follows
                        instead of the items; the worker reads them and
                        writes the results in place, and sends none back.
                        MPMP__SHM_STAGED: the offsets are those of the
                        chunk's first item and result (a staging slot,
                        pool.c), not of item 0 */
  double task_timeout; /* seconds an item may run in its host; 0: no limit */
  uint64_t in_size;  /* bytes per item */
  uint64_t out_size; /* bytes per result; 0: one result of up to out_max */
  uint64_t out_max;
  uint64_t base;     /* what the job's item 0 is to the user, for messages:
                        an imap's sub-map starts there; else 0 */
  uint64_t group;    /* the id a stop names for it (mpmp__chunk_stop_id):
                        an imap's sub-maps share one, so that one stop
                        reaches all of them; 0: the job's own */
} mpmp__chunk_hdr_t;

/* The id the workers' stop words are compared with for a chunk. */
static inline uint64_t mpmp__chunk_stop_id(const mpmp__chunk_hdr_t *h) {
  return h->group ? h->group : h->job;
}

/* Where a zero-copy chunk's items and results lie: two SharedMemory
 * blocks of the main rank's node, each named and told from a block made
 * again under its name (gen: the node's name table's generation), and the
 * byte offset of the job's item 0 and result 0 in them. */
typedef struct mpmp__shm_ref {
  char in_name[64], out_name[64]; /* MPMP_SHM_NAME_SIZE */
  uint32_t in_gen, out_gen;
  uint64_t in_off, out_off;
} mpmp__shm_ref_t;

/* MPMP__TAG_CHUNK_DONE: this header, data_len result bytes (apply: the one
 * variable-size result), then nfail records: mpmp__fail_rec_t followed by
 * len message bytes. A map chunk's count * out_size result bytes are inline
 * too up to MPMP__INLINE_MAX; above, they follow in a separate
 * MPMP__TAG_CHUNK_DATA message (data_len is then 0). */
typedef struct mpmp__chunk_done {
  uint64_t job, first;
  uint32_t count, nfail;
  uint64_t data_len;
  uint32_t skipped;  /* count 0: the chunk's items, none of which ran (its
                        job was stopped before the worker began it) */
  uint32_t revoked;  /* 0: an ordinary CHUNK_DONE; else the answer to a
                        MPMP__TAG_REVOKE (MPMP__REVOKE_*) */
} mpmp__chunk_done_t;

/* MPMP__TAG_REVOKE, main -> worker: the chunk (job, first) that the main
 * rank queued at the worker behind a running one is wanted by a worker
 * gone idle. The worker answers with a CHUNK_DONE of no results whose
 * `revoked` says RETURNED (the chunk was still in its queue: taken out,
 * none of its `count` items ran, they are the main rank's again) or KEPT
 * (it began, ran, or is not there: its ordinary CHUNK_DONE comes). */
typedef struct mpmp__revoke {
  uint64_t job, first;
} mpmp__revoke_t;
enum { MPMP__REVOKE_RETURNED = 1, MPMP__REVOKE_KEPT = 2 };

/* A variable-size chunk's results (mpmp__chunk_hdr_t.var) travel inline
 * as the CHUNK_DONE's data: count uint64 result sizes, then the results'
 * bytes one after another. */

/* A fail record with code MPMP__RETRY_CODE + n: the item's host died in
 * its n-th run, and it has retries left; the message says how it died. */
#define MPMP__RETRY_CODE 0x10000
/* A fail record with code MPMP__NOHOST_CODE + n: the worker could not run
 * the item (or its run was cut short) because it has no task host: its
 * fork server died (or never started). Not a run of the item: the main
 * rank deals it again to another worker (n: its runs so far, a retry's);
 * the message says why. Above every MPMP__RETRY_CODE + n (max_retries is
 * at most 1000). */
#define MPMP__NOHOST_CODE 0x20000

typedef struct mpmp__fail_rec {
  uint64_t index;
  uint32_t len;
  int32_t code; /* MPMP_ETASK (mpmp_fail, a task's error), MPMP_ECRASHED,
                   MPMP_ETIMEDOUT (past task_timeout) */
} mpmp__fail_rec_t;

/* Nested submission (parallel/executor.c, worker.c). MPMP__TAG_NEST,
 * worker -> main: kind SUBMIT (then the argument bytes: len), CANCEL,
 * SECEDE, REJOIN. MPMP__TAG_NEST_REP, main -> worker: kind DONE (then
 * msglen message bytes and len result bytes; code 0, MPMP_ECANCELED, or
 * the failure's code), CANCEL (code: 1 when it was cancelled). */
enum { MPMP__NEST_SUBMIT = 1, MPMP__NEST_CANCEL, MPMP__NEST_SECEDE,
       MPMP__NEST_REJOIN, MPMP__NEST_DONE };
typedef struct mpmp__nest_hdr {
  uint64_t req;     /* the worker's future (its id on that worker) */
  uint64_t token;   /* the executor (mpmp_executor_ref_t.token) */
  int32_t kind;
  int32_t task;     /* SUBMIT: the task id */
  int32_t code;
  int32_t rank;     /* DONE: where the sub-task ran (a failure's rank) */
  uint32_t msglen, pad;
  uint64_t len;
} mpmp__nest_hdr_t;

#endif /* MPMP_PROTO_H */
