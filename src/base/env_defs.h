/*
 * Every MPMP_* environment setting, in one table:
 *   XX(name, type, default, lo, hi, unit, words, description)
 * It expands into the settings struct (internal.h), the parser, the
 * MPMP_INFO=1 listing and the error messages (env.c); README's Settings
 * table shows the same ranges (tests/unit/test_env.c checks that it does).
 *
 * Types and what the columns mean for each:
 *   SIZE   bytes, with an optional K, M, G or T suffix (powers of 1024):
 *          from lo to hi `unit`; words unused.
 *   DOUBLE a decimal number of `unit`, from lo to hi; NaN and infinities
 *          are refused whatever the range. An empty default means off:
 *          unset or empty, the value is 0 (MPMP_TRACE_FLUSH_S).
 *   BOOL   1/0, yes/no, true/false, on/off (any case); lo, hi, words unused.
 *   STR    one of `words` ("a|b|c", any case), or any text when words is
 *          "" (then `unit` says what it is: MPMP_TRACE is a path, checked
 *          when the file is opened at init).
 * A value outside its range fails mpmp_init with MPMP_EENV on every rank,
 * naming the variable and the range.
 */
#ifndef MPMP_ENV_DEFS_H
#define MPMP_ENV_DEFS_H

#define MPMP__KIB(k) ((k) * 1024.0)

#define MPMP_ENV_MAP(XX)                                                      \
  XX(BIND, STR, "core", 0, 0, "", "core|numa|socket|none",                   \
     "how each rank is pinned: core, numa, socket or none")                  \
  XX(REPORT_BINDINGS, BOOL, "0", 0, 0, "", "",                               \
     "print the binding table (rank, node, pid, cores, NUMA) at init")       \
  XX(INFO, BOOL, "0", 0, 0, "", "",                                          \
     "print every MPMP_* setting and its source at init")                    \
  XX(HEAP_SIZE, SIZE, "16M", MPMP__KIB(64), MPMP__KIB(1024.0 * 1024 * 1024),  \
     "bytes", "", "bytes of shared memory per node for the doorbells and "   \
     "shared objects")                                                       \
  XX(MAILBOX, SIZE, "64K", 0, MPMP__KIB(16 * 1024), "bytes", "",             \
     "bytes of the shared-memory mailbox from each rank to each other rank " \
     "of its node (smaller on nodes of 16 ranks or more); messages up to a " \
     "quarter of it skip MPI; under 1K (e.g. 0): every message through MPI") \
  XX(SPIN_US, DOUBLE, "50", 0, 1e6, "microseconds", "",                      \
     "microseconds a waiting rank polls before it sleeps (yielding the CPU " \
     "at each poll where more ranks share its cores than they have)")        \
  XX(SPIN_REMOTE_US, DOUBLE, "250", 0, 1e6, "microseconds", "",              \
     "the same when the job spans nodes (network round trips are longer)")   \
  XX(POLL_MS, DOUBLE, "5", 0.01, 1000, "milliseconds", "",                   \
     "longest sleep between polls for messages from other nodes (ms)")       \
  XX(PROGRESS, STR, "auto", 0, 0, "", "auto|1|0",                            \
     "progress of maps longer than 2 s on stderr: auto (a bar on a "         \
     "terminal, under mpirun too; lines in a batch job's log), 1 (also "     \
     "a line every 10 s in any log), 0")                                     \
  XX(TRACE, STR, "", 0, 0, "a file path (empty: none)", "",                  \
     "write every rank's task timeline to this file (opened at init, "       \
     "written at finalize and on SIGTERM or SIGINT; Chrome trace JSON: "     \
     "open it in Perfetto)")                                                 \
  XX(TRACE_FLUSH_S, DOUBLE, "", 0.1, 86400, "seconds", "",                    \
     "also rewrite the MPMP_TRACE file every this many seconds with all "    \
     "that every rank recorded so far (empty: off)")                         \
  XX(TERM_GRACE, DOUBLE, "5", 0, 86400, "seconds", "",                       \
     "seconds a daemon process gets to stop at finalize before the job is "  \
     "aborted, and an isolated task to stop after terminate before its "     \
     "host is killed")                                                       \
  XX(ISOLATE, STR, "auto", 0, 0, "", "auto|always|never",                    \
     "where pool tasks run: auto (in a task host when the pool sets a "      \
     "task_timeout or max_retries), always (in a task host: a crash costs "  \
     "the item), never (in the worker rank; no task hosts are started)")   \
  XX(CHECKPOINT, STR, "", 0, 0, "a directory (empty: off)", "",              \
     "journal the finished chunks of every map in this directory, so that "  \
     "a rerun of the program takes them from there and runs only the rest") \
  XX(CHECKPOINT_MODE, STR, "resume", 0, 0, "", "resume|fresh",                \
     "resume (a rerun takes finished items from the journals; a journal "    \
     "of another input is an error) or fresh (every map starts over)")       \
  XX(WALLTIME, STR, "", 0, 0,                                                 \
     "seconds or [D-]HH:MM:SS (empty: Slurm's or PBS's limit)", "",           \
     "the job's wall-clock limit, counted from mpmp_init: maps stop "        \
     "dealing work 2 x MPMP_STOP_GRACE before it (at most a tenth of it)")   \
  XX(STOP_GRACE, DOUBLE, "30", 0, 86400, "seconds", "",                       \
     "seconds the running chunks of a map get to finish after a stop "       \
     "(SIGUSR1, SIGTERM or the walltime) before they are told to stop")

#endif /* MPMP_ENV_DEFS_H */
