/*
 * MPMP_TRACE=file.json: a per-rank timeline of the tasks each rank ran, in
 * the Chrome trace event format (Perfetto and chrome://tracing open it),
 * for scaling studies and hung jobs: where each chunk and process body
 * ran, and when, and what was still running when the file was written.
 *
 * Records. Each rank appends fixed-size records to a log of its own (no
 * copying: blocks that never move, so another thread can read what was
 * published without a lock; nothing at all when tracing is off). A worker
 * also keeps the one chunk or body it runs now (it runs them one after
 * another in its service thread; task hosts run while it waits, and are
 * not lent work while tracing), so that a trace written while a task
 * hangs shows it. The main rank records its jobs (maps, applies, futures)
 * when they are submitted and when they are ready. Times are
 * CLOCK_REALTIME, which NTP keeps close across nodes, written relative to
 * the main rank's clock at mpmp_init (sent to every rank then). A rank
 * keeps at most MPMP__TRACE_CAP records and counts the rest as dropped.
 *
 * The file. The main rank writes it whole each time, as a new file moved
 * over the old one (rename), so that a reader never sees half of one: at
 * mpmp_init (the ranks, no events yet), every MPMP_TRACE_FLUSH_S seconds
 * when that is set, at mpmp_finalize, and when SIGTERM or SIGINT ends the
 * process. Before each write but the first it asks the workers for what
 * they recorded since their last answer (a TRACE message; each worker's
 * trace thread answers), and waits a little for the answers.
 *
 * Display. Jobs may overlap (several async maps at once), so they are
 * async events ("b"/"e", one id per job: Perfetto gives each its own
 * track); chunks and bodies never overlap on a worker and are complete
 * events ("X") on its one thread track. What had not ended when the file
 * was written is a begin without an end ("b" or "B", args.unfinished):
 * Perfetto shows it as "did not end".
 *
 * Signals. SIGTERM (what mpirun sends to every rank on --timeout, Ctrl-C
 * or a SIGTERM of its own, 1 s before SIGKILL) and SIGINT, where their
 * action is the default one: the handler only notes the signal and wakes
 * this rank's trace thread (a write to an eventfd: async-signal-safe),
 * which writes and then ends the process by the same signal, as the
 * default action would have. The main rank writes at once what it holds,
 * asks the workers, and writes again with their answers (0.4 s at most);
 * a worker sends the main rank its last records and waits until the main
 * rank says they are in the file, or writes them to FILE.rankN.json
 * itself when no word comes (the main rank is gone or stuck). mpirun
 * kills every rank as soon as one has died: so the main rank, given a
 * worker's last records, first asks the other workers for theirs too,
 * and only then writes and answers. The main rank's stop handler
 * (parallel/walltime.c) is installed after ours and passes a signal it
 * does not take on to ours; one it takes (a checkpointing job's SIGTERM)
 * ends nothing, but it still has the file written
 * (mpmp__trace_stop_signal), since mpirun's SIGKILL may follow.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rt.h"

#define MPMP__TRACE_CAP (1u << 18) /* 12 MiB of records per rank */
/* The log's blocks: block k holds FIRST_BLOCK << k records, so a rank
 * that records little costs little, and NBLOCKS of them hold CAP. */
#define FIRST_BLOCK 256u
#define NBLOCKS 11
/* On a signal, how long the main rank waits for the workers' records
 * before it writes, and a worker for the main rank's word that they are
 * written: mpirun's SIGKILL follows its SIGTERM after 1 s, and at once
 * when a rank has died meanwhile. At finalize, the wait for the last
 * records. */
#define SIGNAL_GATHER_S 0.4
#define SIGNAL_ACK_S 0.8
#define FINAL_WAIT_S 10.0

/* A job's submission (main rank): its end is another record, of kind
 * MPMP__TRACE_JOB, with both times. */
enum { KIND_JOB_BEGIN = MPMP__TRACE_JOB + 1 };

typedef struct trace_rec {
  double t0, t1;    /* CLOCK_REALTIME seconds; a job's begin: t1 unused */
  uint64_t first;   /* chunk: first item index; body: process id; job: id */
  uint32_t count;   /* chunk, job: items; body: 0 */
  int32_t task;     /* task id: the same on every rank */
  uint32_t kind;    /* MPMP__TRACE_* or KIND_JOB_BEGIN */
  char label[20];   /* body: the process name (cut), else empty */
} trace_rec_t;

static const char *const kind_name[] = {"chunk", "process", "job", "job"};

/* Records appended by one writer at a time (under the trace's lock), read
 * by anyone: a record below n never changes, and neither do the blocks. */
typedef struct trace_log {
  trace_rec_t *blk[NBLOCKS];
  _Atomic uint32_t n;
} trace_log_t;

typedef struct trace_part { /* main rank: what one worker sent */
  trace_log_t log;
  trace_rec_t open;         /* what it ran when it last answered */
  int has_open;
  uint32_t dropped;         /* its own, and `lost` */
  uint32_t lost;            /* more than MPMP__TRACE_CAP came */
  uint32_t answered;        /* the last request it answered */
  int final;                /* its last records came */
  int want_ack;             /* ...on a signal: tell it once they are written */
} trace_part_t;

struct mpmp__trace {
  pthread_mutex_t lock;     /* appends, the open record, the parts */
  trace_log_t log;          /* this rank's records */
  uint32_t dropped;
  trace_rec_t open;         /* worker: the chunk or body running now */
  int has_open;
  double base;              /* the main rank's clock at init: ts 0 */
  /* worker: what went to the main rank (under ship_lock) */
  pthread_mutex_t ship_lock;
  uint32_t shipped;
  int shipped_final;
  _Atomic uint32_t req;     /* the main rank's latest request */
  uint32_t req_done;        /* the last one answered (trace thread) */
  _Atomic int acked;        /* the main rank has our last records */
  /* main rank */
  trace_part_t *parts;      /* indexed by rank */
  _Atomic int finals;       /* workers whose last records came */
  _Atomic int acks_due;     /* some of them wait for the file */
  uint32_t req_seq;         /* requests sent (trace thread) */
  pthread_mutex_t write_lock; /* one write of the file at a time */
  _Atomic int closing;      /* the finalize waits for the last records */
  int finalized;            /* the finalize wrote it: no more periodic */
  int warned;               /* a failed periodic write was reported */
  /* the trace thread */
  pthread_t thread;
  int thread_running;
  _Atomic int stop;
};

/* Messages of MPMP__TAG_TRACE, both ways: this header, then for SHIP the
 * open record (flag OPEN) and `n` records. */
enum { MSG_REQ = 1, MSG_SHIP, MSG_ACK };
enum { SHIP_FINAL = 1, SHIP_OPEN = 2, SHIP_WANT_ACK = 4 };
typedef struct trace_msg {
  uint32_t what;    /* MSG_* */
  uint32_t flags;   /* SHIP_* */
  uint32_t seq;     /* REQ: its number; SHIP: the request it answers */
  uint32_t n;       /* SHIP: records after the header (and open record) */
  uint32_t dropped; /* SHIP: records the worker could not keep, in all */
  uint32_t pad;
} trace_msg_t;

/* The signal side, in static storage: a handler may run in a thread of
 * any state of the run, and must touch nothing that a teardown frees. */
static const int trace_sigs[] = {SIGTERM, SIGINT};
#define NSIGS (int)(sizeof trace_sigs / sizeof trace_sigs[0])
static struct {
  _Atomic int armed;   /* the trace thread acts on signals */
  _Atomic int sig;     /* a signal that ends the process: write, then die */
  _Atomic int poke;    /* a stop signal the walltime took: write only */
  _Atomic int efd;     /* wakes the trace thread; -1: not made yet */
  pid_t pid;           /* this process (not a child forked since) */
  int installed[NSIGS];
  struct sigaction old[NSIGS];
} ts = {.efd = -1};

double mpmp__trace_clock(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- the log ------------------------------------------------------------- */

static trace_rec_t *log_slot(const trace_log_t *l, uint32_t i) {
  uint32_t q = i / FIRST_BLOCK + 1; /* block k holds q in [2^k, 2^(k+1)) */
  int k = 31 - __builtin_clz(q);
  return &l->blk[k][i - FIRST_BLOCK * ((1u << k) - 1)];
}

static uint32_t log_count(const trace_log_t *l) {
  return atomic_load_explicit(&l->n, memory_order_acquire);
}

/* The trace's lock held: 0, or -1 when full or out of memory. */
static int log_push(trace_log_t *l, const trace_rec_t *r) {
  uint32_t n = atomic_load_explicit(&l->n, memory_order_relaxed);
  if (n >= MPMP__TRACE_CAP)
    return -1;
  int k = 31 - __builtin_clz(n / FIRST_BLOCK + 1);
  if (l->blk[k] == NULL &&
      (l->blk[k] = mpmp__malloc(sizeof(trace_rec_t) * (FIRST_BLOCK << k))) ==
          NULL)
    return -1;
  *log_slot(l, n) = *r;
  atomic_store_explicit(&l->n, n + 1, memory_order_release);
  return 0;
}

static void log_free(trace_log_t *l) {
  for (int k = 0; k < NBLOCKS; k++) {
    mpmp__free(l->blk[k]);
    l->blk[k] = NULL;
  }
  atomic_store(&l->n, 0);
}

/* ---- recording ----------------------------------------------------------- */

static trace_rec_t make_rec(int kind, int task, uint64_t first,
                            uint32_t count, const char *label, double t0,
                            double t1) {
  trace_rec_t r = {.t0 = t0, .t1 = t1, .first = first, .count = count,
                   .task = task, .kind = (uint32_t)kind};
  if (label != NULL)
    snprintf(r.label, sizeof r.label, "%s", label);
  return r;
}

static void push(struct mpmp__trace *tr, const trace_rec_t *r) {
  if (log_push(&tr->log, r) < 0)
    tr->dropped++;
}

void mpmp__trace_add(int kind, int task, uint64_t first, uint32_t count,
                     const char *label, double t0, double t1) {
  struct mpmp__trace *tr = mpmp__rt.trace;
  trace_rec_t r = make_rec(kind, task, first, count, label, t0, t1);
  pthread_mutex_lock(&tr->lock);
  if (kind != MPMP__TRACE_JOB)
    tr->has_open = 0;
  push(tr, &r);
  pthread_mutex_unlock(&tr->lock);
}

double mpmp__trace_begin(int kind, int task, uint64_t first, uint32_t count,
                         const char *label) {
  struct mpmp__trace *tr = mpmp__rt.trace;
  double t0 = mpmp__trace_clock();
  trace_rec_t r = make_rec(kind, task, first, count, label, t0, t0);
  pthread_mutex_lock(&tr->lock);
  tr->open = r;
  tr->has_open = 1;
  pthread_mutex_unlock(&tr->lock);
  return t0;
}

double mpmp__trace_job_begin(int task, uint64_t id, uint32_t items) {
  struct mpmp__trace *tr = mpmp__rt.trace;
  double t0 = mpmp__trace_clock();
  trace_rec_t r = make_rec(KIND_JOB_BEGIN, task, id, items, NULL, t0, t0);
  pthread_mutex_lock(&tr->lock);
  push(tr, &r);
  pthread_mutex_unlock(&tr->lock);
  return t0;
}

/* ---- writing a trace ----------------------------------------------------- */

/* One rank's records as a write sees them: those below n, and a copy of
 * the rest, taken under the trace's lock. */
typedef struct rank_view {
  const trace_log_t *log;
  uint32_t n, dropped;
  trace_rec_t open;
  int has_open;
  const char *note;         /* after the row's name, e.g. why it is short */
} rank_view_t;

/* The length of the UTF-8 sequence at s (RFC 3629: no overlong forms, no
 * surrogates), or 0 if it is not one: a process name may be anything, and
 * its record keeps only its first 19 bytes, which can end inside one. */
static int utf8_len(const unsigned char *s) {
  unsigned char c = s[0];
  int n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
        : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
  unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
  for (int i = 1; i < n; i++)
    if (s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xbf))
      return 0;
  return n;
}

/* A JSON string: task and host names are tame, process names may not be
 * (a byte that is not UTF-8 becomes U+FFFD: JSON text is UTF-8). */
static void put_json_str(FILE *f, const char *str) {
  const unsigned char *s = (const unsigned char *)str;
  fputc('"', f);
  while (*s) {
    unsigned char c = *s;
    int n = c < 0x80 ? 1 : utf8_len(s);
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else if (n == 0)
      fputs("\\ufffd", f);
    else
      fwrite(s, 1, (size_t)n, f);
    s += n ? n : 1;
  }
  fputc('"', f);
}

/*
 * Times in whole nanoseconds from the base, written as microseconds with
 * three decimals: an event that starts when the one before it on the
 * track ended (the same clock reading or a later one) never starts before
 * that one's ts + dur, as rounding each figure on its own could make it.
 */
static long long ns_of(double t, double base) {
  return llround((t - base) * 1e9);
}

static void put_us(FILE *f, const char *key, long long ns) {
  unsigned long long a = ns < 0 ? 0ull - (unsigned long long)ns
                                : (unsigned long long)ns;
  fprintf(f, ",\"%s\":%s%llu.%03llu", key, ns < 0 ? "-" : "", a / 1000,
          a % 1000);
}

static void put_rank_meta(FILE *f, int r, const rank_view_t *v) {
  const mpmp__rank_info_t *ri = &mpmp__net.ranks[r];
  char name[320];
  snprintf(name, sizeof name, "rank %d (%s) on %s, pid %d, cores %s%s", r,
           r == 0 ? "main" : "worker", ri->host, ri->pid, ri->cores,
           v->note ? v->note : "");
  fprintf(f, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":0,"
             "\"args\":{\"name\":", r);
  put_json_str(f, name);
  fprintf(f, "}},\n{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":%d,"
             "\"tid\":0,\"args\":{\"sort_index\":%d}},\n", r, r);
  if (r != 0)
    fprintf(f, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":0,"
               "\"args\":{\"name\":\"chunks and process bodies\"}},\n", r);
  if (v->dropped)
    fprintf(f, "{\"name\":\"%u events dropped (more than %u)\",\"ph\":\"i\","
               "\"s\":\"p\",\"pid\":%d,\"tid\":0,\"ts\":0},\n", v->dropped,
            MPMP__TRACE_CAP, r);
}

/* The head of an event: name, category, phase and start. */
static void put_head(FILE *f, const trace_rec_t *e, const char *ph,
                     double t, double base) {
  const mpmp__task_entry_t *t_ = mpmp__task_get(e->task);
  fputs("{\"name\":", f);
  put_json_str(f, t_ ? t_->name : "?");
  fprintf(f, ",\"cat\":\"%s\",\"ph\":\"%s\"",
          e->kind < 4 ? kind_name[e->kind] : "?", ph);
  put_us(f, "ts", ns_of(t, base));
}

/* A chunk or a body: complete ("X"), or begun only ("B", unfinished). */
static void put_task(FILE *f, int r, const trace_rec_t *e, int unfinished,
                     double base) {
  put_head(f, e, unfinished ? "B" : "X", e->t0, base);
  if (!unfinished) {
    long long d = ns_of(e->t1, base) - ns_of(e->t0, base);
    put_us(f, "dur", d > 0 ? d : 0);
  }
  fprintf(f, ",\"pid\":%d,\"tid\":0,\"args\":{", r);
  if (e->kind == MPMP__TRACE_BODY) {
    fputs("\"process\":", f);
    put_json_str(f, e->label);
    fprintf(f, ",\"id\":%llu", (unsigned long long)e->first);
  } else {
    fprintf(f, "\"first_item\":%llu,\"items\":%u",
            (unsigned long long)e->first, e->count);
  }
  fprintf(f, "%s}},\n", unfinished ? ",\"unfinished\":true" : "");
}

/* A job: "b" at its submission and "e" when it was ready, one id each;
 * a job not ready yet has its "b" only. */
static void put_job(FILE *f, int r, const trace_rec_t *e, int unfinished,
                    double base) {
  put_head(f, e, "b", e->t0, base);
  fprintf(f, ",\"id\":\"0x%llx\",\"pid\":%d,\"tid\":0,\"args\":{\"job\":%llu,"
             "\"items\":%u%s}},\n", (unsigned long long)e->first, r,
          (unsigned long long)e->first, e->count,
          unfinished ? ",\"unfinished\":true" : "");
  if (unfinished)
    return;
  put_head(f, e, "e", e->t1, base);
  fprintf(f, ",\"id\":\"0x%llx\",\"pid\":%d,\"tid\":0},\n",
          (unsigned long long)e->first, r);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

static void put_recs(FILE *f, int r, const rank_view_t *v, double base) {
  /* the jobs that ended, to tell which begun ones still run */
  uint64_t *ended = NULL;
  size_t nended = 0, nbegun = 0;
  for (uint32_t i = 0; i < v->n; i++) {
    uint32_t k = log_slot(v->log, i)->kind;
    nended += k == MPMP__TRACE_JOB;
    nbegun += k == KIND_JOB_BEGIN;
  }
  if (nbegun > 0 && nended > 0 &&
      (ended = mpmp__malloc(nended * sizeof *ended)) != NULL) {
    nended = 0;
    for (uint32_t i = 0; i < v->n; i++)
      if (log_slot(v->log, i)->kind == MPMP__TRACE_JOB)
        ended[nended++] = log_slot(v->log, i)->first;
    qsort(ended, nended, sizeof *ended, cmp_u64);
  }
  for (uint32_t i = 0; i < v->n; i++) {
    const trace_rec_t *e = log_slot(v->log, i);
    if (e->kind == MPMP__TRACE_JOB) {
      put_job(f, r, e, 0, base);
    } else if (e->kind == KIND_JOB_BEGIN) {
      /* out of memory for the list: say nothing rather than the wrong
       * thing (the ended jobs are there) */
      if (nended == 0 || (ended != NULL &&
                          !bsearch(&e->first, ended, nended, sizeof *ended,
                                   cmp_u64)))
        put_job(f, r, e, 1, base);
    } else {
      put_task(f, r, e, 0, base);
    }
  }
  if (v->has_open)
    put_task(f, r, &v->open, 1, base);
  mpmp__free(ended);
}

/* The whole trace of `nview` ranks from `first`; `why`: when it is
 * written, shown as a mark at that time unless it is the finalize's. */
static void put_trace(FILE *f, const rank_view_t *views, int first, int nview,
                      const char *why, int mark, double base) {
  fprintf(f, "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"mpmp\":\"%s\","
             "\"written\":", MPMP_VERSION_STRING);
  put_json_str(f, why);
  fprintf(f, ",\"clock\":\"CLOCK_REALTIME\",\"ts_0_unix_s\":%.6f},"
             "\"traceEvents\":[\n", base);
  for (int i = 0; i < nview; i++) {
    put_rank_meta(f, first + i, &views[i]);
    put_recs(f, first + i, &views[i], base);
  }
  if (mark) {
    fputs("{\"name\":", f);
    put_json_str(f, why);
    fputs(",\"cat\":\"trace\",\"ph\":\"i\",\"s\":\"g\"", f);
    put_us(f, "ts", ns_of(mpmp__trace_clock(), base));
    fprintf(f, ",\"pid\":%d,\"tid\":0},\n", first);
  }
  /* JSON allows no trailing comma: close with one last metadata event */
  fprintf(f, "{\"name\":\"mpmp\",\"ph\":\"M\",\"pid\":%d,\"tid\":0,"
             "\"args\":{\"ranks\":%d,\"nodes\":%d}}\n]}\n", first,
          mpmp__net.size, mpmp__net.nnodes);
}

/*
 * The file is never followed as a symbolic link (O_NOFOLLOW): in a shared
 * directory someone could plant one pointing at a file of ours, which
 * O_TRUNC would wipe. O_NONBLOCK keeps a planted FIFO from blocking
 * (no reader: ENXIO); anything but a regular file is refused.
 */
static int open_trace(const char *path, FILE **out) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC |
                      O_NONBLOCK, 0644);
  int err = errno;
  struct stat st;
  /* (ENXIO: a FIFO with no reader, see above) */
  if (fd >= 0 ? fstat(fd, &st) == 0 && !S_ISREG(st.st_mode) : err == ENXIO) {
    if (fd >= 0)
      close(fd);
    return mpmp__err(MPMP_EENV, "MPMP_TRACE='%s' is not a regular file: "
                     "give the path of a file to write", path);
  }
  if (fd >= 0 && fcntl(fd, F_SETFL, 0) == 0 && (*out = fdopen(fd, "w")))
    return 0;
  if (fd >= 0) {
    err = errno;
    close(fd);
  }
  if (err == ELOOP)
    return mpmp__err(MPMP_EENV, "MPMP_TRACE='%s' is a symbolic link, which "
                     "mpmp does not follow (one planted in a shared folder "
                     "could point at any of your files): give the real path",
                     path);
  return mpmp__err(MPMP_EENV, "MPMP_TRACE='%s' cannot be opened for "
                   "writing: %s", path, strerror(err));
}

/*
 * Write `path` whole: into PATH.PID.tmp beside it, then moved over it
 * (rename replaces a planted link itself, never its target), so that a
 * reader of the file, or a SIGKILL in the middle, never leaves half a
 * trace. Where no new file can be made in that folder, the file itself
 * is rewritten. 0, or MPMP_EENV with the reason.
 */
static int write_file(const char *path, const rank_view_t *views, int first,
                      int nview, const char *why, int mark, double base) {
  char *tmp = mpmp__malloc(strlen(path) + 32);
  if (tmp == NULL)
    return mpmp__err(MPMP_ENOMEM, "MPMP_TRACE: out of memory");
  sprintf(tmp, "%s.%d.tmp", path, (int)getpid());
  int fd = -1;
  for (int tries = 0; fd < 0 && tries < 2; tries++) {
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST) /* left by a process of this pid */
      unlink(tmp);
    else if (fd < 0)
      break;
  }
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (f == NULL) {
    if (fd >= 0) {
      close(fd);
      unlink(tmp);
    }
    mpmp__free(tmp);
    tmp = NULL;
    int rc = open_trace(path, &f);
    if (rc < 0)
      return rc;
  }
  put_trace(f, views, first, nview, why, mark, base);
  int bad = ferror(f), err = errno;
  if (fclose(f) != 0 && !bad) {
    bad = 1;
    err = errno;
  }
  if (!bad && tmp != NULL && rename(tmp, path) != 0) {
    bad = 1;
    err = errno;
  }
  if (bad && tmp != NULL)
    unlink(tmp);
  mpmp__free(tmp);
  if (bad)
    return mpmp__err(MPMP_EENV, "MPMP_TRACE: writing '%s' failed: %s", path,
                     strerror(err));
  return 0;
}

static void send_ack(int rank);

/* Main rank: the file as it stands, under write_lock. `req`: the
 * request of this write (a worker that answered neither it nor finally is
 * marked), 0: none was made. Then, if `ack`, the workers whose last
 * records it holds and who wait for that hear so (only after the others
 * were asked: a worker that hears it ends, and mpirun kills the rest). */
static int write_main(struct mpmp__trace *tr, const char *why, int mark,
                      int final, uint32_t req, int ack_them) {
  int size = mpmp__net.size;
  rank_view_t *v = mpmp__calloc((size_t)size, sizeof *v);
  char *ack = mpmp__calloc((size_t)size, 1);
  if (v == NULL || ack == NULL) {
    mpmp__free(v);
    mpmp__free(ack);
    return mpmp__err(MPMP_ENOMEM, "MPMP_TRACE: out of memory");
  }
  if (ack_them) /* those that come later: the next write */
    atomic_store(&tr->acks_due, 0);
  pthread_mutex_lock(&tr->lock);
  v[0] = (rank_view_t){.log = &tr->log, .n = log_count(&tr->log),
                       .dropped = tr->dropped};
  for (int r = 1; r < size; r++) {
    const trace_part_t *p = &tr->parts[r];
    v[r] = (rank_view_t){.log = &p->log, .n = log_count(&p->log),
                         .dropped = p->dropped, .open = p->open,
                         .has_open = p->has_open};
    if (!p->final && (final || (req && p->answered < req)))
      v[r].note = final ? " [its trace never came]"
                        : " [did not answer: its last records are missing]";
    ack[r] = (char)(ack_them && p->want_ack);
    if (ack_them)
      tr->parts[r].want_ack = 0;
  }
  pthread_mutex_unlock(&tr->lock);
  int rc = write_file(mpmp__rt.env.TRACE, v, 0, size, why, mark, tr->base);
  for (int r = 1; rc == 0 && r < size; r++)
    if (ack[r])
      send_ack(r);
  mpmp__free(v);
  mpmp__free(ack);
  return rc;
}

/* A worker whose last records reached nobody: FILE.rankN.json. */
static void write_fragment(struct mpmp__trace *tr, const char *why) {
  const char *path = mpmp__rt.env.TRACE;
  char *frag = mpmp__malloc(strlen(path) + 32);
  if (frag == NULL)
    return;
  sprintf(frag, "%s.rank%d.json", path, mpmp__net.rank);
  pthread_mutex_lock(&tr->lock);
  rank_view_t v = {.log = &tr->log, .n = log_count(&tr->log),
                   .dropped = tr->dropped, .open = tr->open,
                   .has_open = tr->has_open};
  pthread_mutex_unlock(&tr->lock);
  if (write_file(frag, &v, mpmp__net.rank, 1, why, 1, tr->base) < 0)
    MPMP__WARN("%s", mpmp_errmsg());
  mpmp__free(frag);
}

/* ---- between the ranks --------------------------------------------------- */

static int all_final(void *arg) {
  const struct mpmp__trace *tr = arg;
  return atomic_load(&tr->finals) >= mpmp__net.size - 1;
}

typedef struct answers {
  struct mpmp__trace *tr;
  uint32_t req;
  int sig;        /* the signal that ends the process, 0: none yet */
} answers_t;

/* Every worker answered; or a signal came that ends the process, which
 * has the file written at once (mpirun's SIGKILL is near). */
static int all_answered(void *arg) {
  const answers_t *a = arg;
  int done = 1;
  if (atomic_load(&ts.sig) != a->sig)
    return 1;
  pthread_mutex_lock(&a->tr->lock);
  for (int r = 1; done && r < mpmp__net.size; r++)
    done = a->tr->parts[r].final || a->tr->parts[r].answered >= a->req;
  pthread_mutex_unlock(&a->tr->lock);
  return done;
}

/* Main rank, trace thread: ask every worker that has not sent its last
 * records for what it has, and wait for the answers until `deadline`.
 * The request's number. */
static uint32_t gather(struct mpmp__trace *tr, double deadline) {
  uint32_t req = ++tr->req_seq;
  for (int r = 1; r < mpmp__net.size; r++) {
    pthread_mutex_lock(&tr->lock);
    int final = tr->parts[r].final;
    pthread_mutex_unlock(&tr->lock);
    trace_msg_t *m = final ? NULL : mpmp__malloc(sizeof *m);
    if (m == NULL)
      continue;
    *m = (trace_msg_t){.what = MSG_REQ, .seq = req};
    (void)mpmp__send_nb(r, MPMP__TAG_TRACE, m, sizeof *m);
  }
  answers_t a = {tr, req, atomic_load(&ts.sig)};
  (void)mpmp__wait_until(all_answered, &a, deadline);
  return req;
}

/*
 * Worker: send the main rank the records it does not have yet, and what
 * runs now; `seq` is the request answered. The last records (FINAL, at
 * the end of the service loop) wait until they went out, as the main
 * rank waits for them; otherwise, and for the last ones on a signal
 * (WANT_ACK: the main rank confirms them), the transport sends them on.
 * Under ship_lock: the service thread's last sending and the trace
 * thread's take turns. 1: sent; 0: the last records went out before;
 * or an error.
 */
static int ship(struct mpmp__trace *tr, uint32_t flags, uint32_t seq) {
  int rc = 0;
  pthread_mutex_lock(&tr->ship_lock);
  if (tr->shipped_final) {
    pthread_mutex_unlock(&tr->ship_lock);
    return 0;
  }
  pthread_mutex_lock(&tr->lock);
  uint32_t n = log_count(&tr->log), dropped = tr->dropped;
  trace_rec_t open = tr->open;
  int has_open = tr->has_open;
  pthread_mutex_unlock(&tr->lock);
  uint32_t count = n - tr->shipped;
  size_t len = sizeof(trace_msg_t) + (has_open + (size_t)count) *
                                         sizeof(trace_rec_t);
  char *buf = mpmp__malloc(len);
  if (buf == NULL) {
    pthread_mutex_unlock(&tr->ship_lock);
    return mpmp__err(MPMP_ENOMEM, "out of memory for this rank's trace");
  }
  trace_msg_t *m = (trace_msg_t *)(void *)buf;
  *m = (trace_msg_t){.what = MSG_SHIP, .seq = seq, .n = count,
                     .dropped = dropped,
                     .flags = flags | (has_open ? SHIP_OPEN : 0)};
  trace_rec_t *out = (trace_rec_t *)(void *)(m + 1);
  if (has_open)
    *out++ = open;
  for (uint32_t i = 0; i < count; i++)
    out[i] = *log_slot(&tr->log, tr->shipped + i);
  if ((flags & SHIP_FINAL) && !(flags & SHIP_WANT_ACK)) {
    rc = mpmp__send(0, MPMP__TAG_TRACE, buf, len, NULL, 0);
    mpmp__free(buf);
  } else {
    rc = mpmp__send_nb(0, MPMP__TAG_TRACE, buf, len);
  }
  if (rc == 0) {
    tr->shipped = n;
    tr->shipped_final = (flags & SHIP_FINAL) != 0;
    rc = 1;
  }
  pthread_mutex_unlock(&tr->ship_lock);
  return rc;
}

static void wake(void) {
  int fd = atomic_load(&ts.efd);
  uint64_t one = 1;
  if (fd >= 0) {
    ssize_t w = write(fd, &one, sizeof one);
    (void)w; /* full (never: 2^64 - 2 wakes) or closed: nothing to do */
  }
}

/* Main rank: a worker's records, a request's answer or its last ones.
 * Worker: a request, or the acknowledgement of its last records. */
static void on_trace(int src, void *buf, size_t len) {
  struct mpmp__trace *tr = mpmp__rt.trace;
  trace_msg_t m;
  if (tr == NULL || len < sizeof m || src < 0 || src >= mpmp__net.size) {
    mpmp__free(buf);
    return;
  }
  memcpy(&m, buf, sizeof m);
  if (mpmp__net.rank != 0) {
    if (src == 0 && m.what == MSG_REQ) {
      atomic_store(&tr->req, m.seq);
      wake();
    } else if (src == 0 && m.what == MSG_ACK) {
      atomic_store(&tr->acked, 1);
    }
    mpmp__free(buf);
    return;
  }
  int has_open = (m.flags & SHIP_OPEN) != 0;
  if (m.what != MSG_SHIP || src == 0 ||
      len != sizeof m + (has_open + (size_t)m.n) * sizeof(trace_rec_t)) {
    MPMP__WARN("rank %d sent a malformed trace: left out", src);
    mpmp__free(buf);
    return;
  }
  const trace_rec_t *in = (const trace_rec_t *)(const void *)((char *)buf +
                                                              sizeof m);
  trace_part_t *p = &tr->parts[src];
  pthread_mutex_lock(&tr->lock);
  int was_final = p->final;
  if (m.flags & SHIP_WANT_ACK)
    p->want_ack = 1;
  if (!was_final) {
    p->has_open = has_open;
    if (has_open)
      p->open = *in;
    for (uint32_t i = 0; i < m.n; i++)
      p->lost += log_push(&p->log, &in[has_open + i]) < 0;
    p->dropped = m.dropped + p->lost;
    if (m.seq > p->answered)
      p->answered = m.seq;
    p->final = (m.flags & SHIP_FINAL) != 0;
  }
  pthread_mutex_unlock(&tr->lock);
  if (!was_final && (m.flags & SHIP_FINAL))
    atomic_fetch_add(&tr->finals, 1);
  mpmp__free(buf);
  if (m.flags & SHIP_WANT_ACK) { /* the trace thread writes, then says so */
    atomic_store(&tr->acks_due, 1);
    wake();
  }
}

/* Main rank: tell a worker that its last records are in the file. */
static void send_ack(int rank) {
  trace_msg_t *ack = mpmp__malloc(sizeof *ack);
  if (ack != NULL) {
    *ack = (trace_msg_t){.what = MSG_ACK};
    (void)mpmp__send_nb(rank, MPMP__TAG_TRACE, ack, sizeof *ack);
  }
}

/* ---- signals and the trace thread ---------------------------------------- */

static void on_signal(int sig) {
  int saved = errno;
  int none = 0;
  if (getpid() == ts.pid && atomic_load(&ts.armed)) {
    atomic_compare_exchange_strong(&ts.sig, &none, sig);
    wake();
  } else { /* a child forked since, or no thread to act: as by default */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    raise(sig); /* delivered once this handler returns */
  }
  errno = saved;
}

void mpmp__trace_stop_signal(int sig) {
  int none = 0;
  if (getpid() == ts.pid && atomic_load(&ts.armed)) {
    atomic_compare_exchange_strong(&ts.poke, &none, sig);
    wake();
  }
}

static int is_ours(const struct sigaction *sa) {
  return !(sa->sa_flags & SA_SIGINFO) && sa->sa_handler == on_signal;
}

/* Where the action is still the default one, ours: a program that handles
 * or ignores these signals itself keeps its own. (Ours may be there from
 * an earlier run: put back by a handler that was installed over it and
 * went at the end, as the walltime's does.) */
static void install_handlers(void) {
  ts.pid = getpid();
  for (int i = 0; i < NSIGS; i++) {
    struct sigaction cur, sa;
    if (sigaction(trace_sigs[i], NULL, &cur) != 0)
      continue;
    if (is_ours(&cur)) { /* ts.old[i] holds the default action still */
      ts.installed[i] = 1;
      continue;
    }
    ts.installed[i] = 0;
    if (cur.sa_handler != SIG_DFL || (cur.sa_flags & SA_SIGINFO))
      continue;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    ts.installed[i] = sigaction(trace_sigs[i], &sa, &ts.old[i]) == 0;
  }
}

/* Ours back to what they were where they are still ours. Where a handler
 * went over ours (the walltime's, on the main rank), ours comes back when
 * that one goes, in the teardown: mpmp__trace_fini looks again then. */
static void remove_handlers(void) {
  for (int i = 0; i < NSIGS; i++) {
    struct sigaction cur;
    if (ts.installed[i] && sigaction(trace_sigs[i], NULL, &cur) == 0 &&
        is_ours(&cur) && sigaction(trace_sigs[i], &ts.old[i], NULL) == 0)
      ts.installed[i] = 0;
  }
}

/* End the process by `sig`, as its default action would have (rt.h). */
_Noreturn void mpmp__die_by(int sig) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, NULL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
  raise(sig);
  _exit(128 + sig);
}

static const char *sig_name(int sig) {
  return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT"
       : sig == SIGUSR1 ? "SIGUSR1" : "a signal";
}

static void report_failed_write(struct mpmp__trace *tr, int rc) {
  if (rc < 0 && !tr->warned) {
    tr->warned = 1;
    MPMP__WARN("%s", mpmp_errmsg());
  }
}

/* Main rank, on a signal: what it holds now, then with the workers'
 * answers (SIGNAL_GATHER_S at most). `fatal`: the process ends next. */
static void main_on_signal(struct mpmp__trace *tr, int sig, int fatal) {
  double deadline = mpmp__now() + SIGNAL_GATHER_S;
  char why[96];
  snprintf(why, sizeof why, "%s came: written %s", sig_name(sig),
           fatal ? "before the process ends" : "as the maps stop");
  int running = atomic_load(&mpmp__rt.state) == MPMP__RUNNING &&
                !atomic_load(&tr->closing);
  pthread_mutex_lock(&tr->write_lock);
  report_failed_write(tr, write_main(tr, why, 1, 0, 0, !running));
  pthread_mutex_unlock(&tr->write_lock);
  if (!running || mpmp__net.size == 1)
    return;
  uint32_t req = gather(tr, deadline);
  pthread_mutex_lock(&tr->write_lock);
  report_failed_write(tr, write_main(tr, why, 1, 0, req, 1));
  pthread_mutex_unlock(&tr->write_lock);
}

static int acked(void *arg) {
  return atomic_load(&((struct mpmp__trace *)arg)->acked);
}

/* Worker, on a signal that ends it: its last records to the main rank,
 * and the end only once the main rank says they are in the file; if it
 * does not within SIGNAL_ACK_S (it is gone, or stuck), beside the file. */
static void worker_on_signal(struct mpmp__trace *tr, int sig) {
  if (atomic_load(&mpmp__rt.state) != MPMP__RUNNING)
    return; /* nothing recorded yet, or the last records went out */
  double deadline = mpmp__now() + SIGNAL_ACK_S;
  atomic_store(&tr->acked, 0);
  int rc = ship(tr, SHIP_FINAL | SHIP_WANT_ACK, atomic_load(&tr->req));
  if (rc == 1 && mpmp__wait_until(acked, tr, deadline) == 0)
    return;
  if (rc < 0 || rc == 1) {
    char why[96];
    snprintf(why, sizeof why, "%s came: written by rank %d (the main rank "
             "did not confirm its records)", sig_name(sig), mpmp__net.rank);
    write_fragment(tr, why);
  }
}

static void *trace_main(void *arg) {
  struct mpmp__trace *tr = arg;
  int main_rank = mpmp__net.rank == 0;
  double period = mpmp__rt.env.TRACE_FLUSH_S;
  double next = main_rank && period > 0 ? mpmp__now() + period : INFINITY;
  int fd = atomic_load(&ts.efd);
  while (!atomic_load(&tr->stop) && !atomic_load(&ts.sig)) {
    double left = next - mpmp__now();
    int ms = isinf(left) ? -1 : left <= 0 ? 0 : (int)ceil(left * 1e3);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, ms) > 0) {
      uint64_t v;
      ssize_t r = read(fd, &v, sizeof v);
      (void)r;
    }
    if (atomic_load(&tr->stop) || atomic_load(&ts.sig))
      break;
    int poke = atomic_exchange(&ts.poke, 0);
    if (main_rank && poke)
      main_on_signal(tr, poke, 0);
    if (main_rank && atomic_load(&tr->acks_due)) {
      /* A worker ends by a signal, and waits for the file. mpirun kills
       * every rank once one has died: the others' records first. */
      uint32_t req = 0;
      if (atomic_load(&mpmp__rt.state) == MPMP__RUNNING &&
          !atomic_load(&tr->closing))
        req = gather(tr, mpmp__now() + SIGNAL_GATHER_S);
      pthread_mutex_lock(&tr->write_lock);
      report_failed_write(tr, write_main(tr, "a worker was ended by a "
                                         "signal: written with its last "
                                         "records", 1, 0, req, 1));
      pthread_mutex_unlock(&tr->write_lock);
    }
    if (main_rank && mpmp__now() >= next) {
      next = mpmp__now() + period;
      pthread_mutex_lock(&tr->write_lock);
      int skip = tr->finalized;
      pthread_mutex_unlock(&tr->write_lock);
      uint32_t req = 0;
      if (!skip && atomic_load(&mpmp__rt.state) == MPMP__RUNNING &&
          !atomic_load(&tr->closing))
        req = gather(tr, mpmp__now() + fmin(period / 2, 1.0));
      pthread_mutex_lock(&tr->write_lock);
      if (!tr->finalized)
        report_failed_write(tr, write_main(tr, "every MPMP_TRACE_FLUSH_S",
                                           1, 0, req, 1));
      pthread_mutex_unlock(&tr->write_lock);
    }
    uint32_t req = atomic_load(&tr->req);
    if (!main_rank && req != tr->req_done) {
      tr->req_done = req;
      (void)ship(tr, 0, req);
    }
  }
  int sig = atomic_load(&ts.sig);
  if (sig != 0) {
    if (main_rank)
      main_on_signal(tr, sig, 1);
    else
      worker_on_signal(tr, sig);
    mpmp__die_by(sig);
  }
  return NULL;
}

/* ---- the runtime's calls ------------------------------------------------- */

/* Main rank, at init: the file with the ranks and no events yet, so that
 * a job that never gets further still leaves a valid trace. */
static int write_first(struct mpmp__trace *tr) {
  FILE *f = NULL;
  int rc = open_trace(mpmp__rt.env.TRACE, &f);
  if (rc < 0)
    return rc;
  rank_view_t *v = mpmp__calloc((size_t)mpmp__net.size, sizeof *v);
  if (v == NULL) {
    fclose(f);
    return mpmp__err(MPMP_ENOMEM, "out of memory for MPMP_TRACE");
  }
  for (int r = 0; r < mpmp__net.size; r++)
    v[r].log = &tr->log; /* n = 0: never read */
  put_trace(f, v, 0, mpmp__net.size, "at mpmp_init: nothing recorded yet", 0,
            tr->base);
  mpmp__free(v);
  int bad = ferror(f), err = errno;
  if (fclose(f) != 0 && !bad) {
    bad = 1;
    err = errno;
  }
  if (bad)
    return mpmp__err(MPMP_EENV, "MPMP_TRACE: writing '%s' failed: %s",
                     mpmp__rt.env.TRACE, strerror(err));
  return 0;
}

/*
 * Every rank, before the progress thread starts and before the layers'
 * setup (the walltime's stop handlers go over ours). The main rank opens
 * the file here, so that a path it cannot write fails mpmp_init
 * (MPMP_EENV, on every rank: runtime.c agrees) instead of losing the
 * whole run's trace at the end.
 */
int mpmp__trace_init(void) {
  mpmp__rt_t *rt = &mpmp__rt;
  if (rt->env.TRACE[0] == '\0')
    return 0;
  /* Collective, first: every rank has the same settings, and nothing
   * before this can fail on one rank only. */
  double base = mpmp__net.rank == 0 ? mpmp__trace_clock() : 0;
  int mrc = MPI_Bcast(&base, 1, MPI_DOUBLE, 0, mpmp__net.comm);
  struct mpmp__trace *tr = rt->trace = mpmp__calloc(1, sizeof *tr);
  if (tr == NULL)
    return mpmp__err(MPMP_ENOMEM, "out of memory for MPMP_TRACE");
  pthread_mutex_init(&tr->lock, NULL);
  pthread_mutex_init(&tr->ship_lock, NULL);
  pthread_mutex_init(&tr->write_lock, NULL);
  tr->base = base;
  if (mrc != MPI_SUCCESS)
    return mpmp__mpi_err(mrc, "MPI_Bcast of MPMP_TRACE's start time");
  if (mpmp__net.rank == 0) {
    tr->parts = mpmp__calloc((size_t)mpmp__net.size, sizeof(trace_part_t));
    if (tr->parts == NULL)
      return mpmp__err(MPMP_ENOMEM, "out of memory for MPMP_TRACE");
    int rc = write_first(tr);
    if (rc < 0)
      return rc;
  }
  mpmp__set_handler(MPMP__TAG_TRACE, on_trace);
  /* One for the process, never closed: a handler that read it just
   * before a teardown must not write into a file descriptor reused since. */
  int fd = atomic_load(&ts.efd);
  if (fd < 0 && (fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
    return mpmp__err(MPMP_ENOMEM, "MPMP_TRACE: eventfd: %s", strerror(errno));
  uint64_t stale;
  while (read(fd, &stale, sizeof stale) > 0) /* wakes of an earlier run */
    ;
  atomic_store(&ts.efd, fd);
  atomic_store(&ts.sig, 0);
  atomic_store(&ts.poke, 0);
  if (pthread_create(&tr->thread, NULL, trace_main, tr) != 0)
    return mpmp__err(MPMP_ENOMEM, "MPMP_TRACE: could not start its thread");
  tr->thread_running = 1;
  install_handlers();
  atomic_store(&ts.armed, 1);
  return 0;
}

/*
 * The trace thread ends once the last records went out (worker) or the
 * file was written at finalize (main rank), before the teardown, which
 * it must not see (it may drive progress); a signal from then on takes
 * its default action at once. One noted before is the thread's to act on
 * (it ends the process). Safe to call again.
 */
static void stop_thread(struct mpmp__trace *tr) {
  atomic_store(&ts.armed, 0);
  if (tr->thread_running) {
    atomic_store(&tr->stop, 1);
    wake();
    pthread_join(tr->thread, NULL);
    tr->thread_running = 0;
  }
  remove_handlers();
}

/* Worker ranks, at the end: hand the rest of the records to the main rank. */
void mpmp__trace_send(void) {
  struct mpmp__trace *tr = mpmp__rt.trace;
  if (tr == NULL)
    return;
  if (ship(tr, SHIP_FINAL, atomic_load(&tr->req)) < 0)
    MPMP__WARN("could not send this rank's trace: %s", mpmp_errmsg());
  stop_thread(tr);
}

/* Main rank, at finalize after the workers were told to stop: wait for
 * their last records (FINAL_WAIT_S at most) and write the file. 0, or
 * MPMP_EENV naming MPMP_TRACE if the writing failed (a full disk):
 * mpmp_finalize() returns it. */
int mpmp__trace_write(void) {
  struct mpmp__trace *tr = mpmp__rt.trace;
  if (tr == NULL || mpmp__net.rank != 0)
    return 0;
  atomic_store(&tr->closing, 1);
  if (mpmp__wait_until(all_final, tr, mpmp__deadline(FINAL_WAIT_S)) < 0)
    MPMP__WARN("MPMP_TRACE: %d of %d workers sent no trace within %g s; "
               "writing what came",
               mpmp__net.size - 1 - atomic_load(&tr->finals),
               mpmp__net.size - 1, FINAL_WAIT_S);
  pthread_mutex_lock(&tr->write_lock);
  int rc = write_main(tr, "at mpmp_finalize", 0, 1, 0, 1);
  tr->finalized = 1;
  pthread_mutex_unlock(&tr->write_lock);
  stop_thread(tr);
  return rc;
}

void mpmp__trace_fini(void) {
  mpmp__rt_t *rt = &mpmp__rt;
  struct mpmp__trace *tr = rt->trace;
  if (tr == NULL)
    return;
  stop_thread(tr); /* after a failed init: still running; and ours back
                    * from under the walltime's handlers */
  for (int r = 1; tr->parts != NULL && r < mpmp__net.size; r++)
    log_free(&tr->parts[r].log);
  log_free(&tr->log);
  mpmp__free(tr->parts);
  pthread_mutex_destroy(&tr->lock);
  pthread_mutex_destroy(&tr->ship_lock);
  pthread_mutex_destroy(&tr->write_lock);
  mpmp__free(tr);
  rt->trace = NULL;
}
