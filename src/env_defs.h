/*
 * Every MPMP_* environment setting, in one table:
 *   XX(name, type, default, description)
 * It expands into the settings struct (internal.h), the parser and the
 * MPMP_INFO=1 listing (env.c). Types: STR, BOOL, SIZE (bytes, with an
 * optional K/M/G suffix), DOUBLE.
 */
#ifndef MPMP_ENV_DEFS_H
#define MPMP_ENV_DEFS_H

#define MPMP_ENV_MAP(XX)                                                      \
  XX(BIND, STR, "core",                                                      \
     "how each rank is pinned: core, numa, socket or none")                  \
  XX(REPORT_BINDINGS, BOOL, "0",                                             \
     "print the binding table (rank, node, pid, cores, NUMA) at init")       \
  XX(INFO, BOOL, "0", "print every MPMP_* setting and its source at init")   \
  XX(HEAP_SIZE, SIZE, "16M",                                                 \
     "bytes of shared memory per node for the doorbells and shared objects") \
  XX(MAILBOX, SIZE, "64K",                                                   \
     "bytes of the shared-memory mailbox from each rank to each other rank " \
     "of its node (smaller on nodes of 16 ranks or more); messages up to a "  \
     "quarter of it skip MPI; 0: every message through MPI")                 \
  XX(SPIN_US, DOUBLE, "50",                                                  \
     "microseconds a waiting rank polls before it sleeps (yielding the CPU " \
     "at each poll where more ranks share its cores than they have)")        \
  XX(SPIN_REMOTE_US, DOUBLE, "250",                                          \
     "the same when the job spans nodes (network round trips are longer)")   \
  XX(POLL_MS, DOUBLE, "5",                                                   \
     "longest sleep between polls for messages from other nodes (ms)")       \
  XX(PROGRESS, STR, "auto",                                                  \
     "progress bar on stderr for maps longer than 2 s: auto (when stderr "   \
     "is a terminal), 1 or 0")                                               \
  XX(TRACE, STR, "",                                                         \
     "at finalize, write every rank's task timeline to this file (Chrome "   \
     "trace JSON: open it in Perfetto)")                                     \
  XX(TERM_GRACE, DOUBLE, "5",                                                \
     "seconds a daemon process gets to stop at finalize before the job is "  \
     "aborted")

#endif /* MPMP_ENV_DEFS_H */
