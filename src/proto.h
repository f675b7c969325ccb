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
  char name[64];
} mpmp__run_hdr_t;

/* MPMP__TAG_PROC_DONE: this header, the message, then the result bytes. */
typedef struct mpmp__done_hdr {
  uint64_t id;
  int32_t exitcode;
  uint32_t msglen;      /* 0: no failure message */
  uint64_t resultlen;
} mpmp__done_hdr_t;

/* MPMP__TAG_TERMINATE */
typedef struct mpmp__term_hdr {
  uint64_t id;
} mpmp__term_hdr_t;

#endif /* MPMP_PROTO_H */
