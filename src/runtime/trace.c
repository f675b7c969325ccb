/*
 * MPMP_TRACE=file.json: a per-rank timeline of the tasks each rank ran, in
 * the Chrome trace event format (Perfetto and chrome://tracing open it),
 * for scaling studies: where each chunk and process body ran, and when.
 *
 * Each rank appends fixed-size records to a buffer of its own while it
 * runs (no locks: a worker runs its tasks in one thread; two clock reads
 * per chunk or body, nothing when tracing is off). At the end each worker
 * sends its records to the main rank, which writes one file. Times are
 * CLOCK_REALTIME, which NTP keeps close across nodes, written relative to
 * the first event of the job. A rank keeps at most MPMP__TRACE_CAP
 * records and counts the rest as dropped (the file says how many).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rt.h"

#define MPMP__TRACE_CAP (1u << 18) /* 12 MiB of records per rank */

typedef struct trace_rec {
  double t0, t1;    /* CLOCK_REALTIME seconds */
  uint64_t first;   /* chunk: first item index; body: process id */
  uint32_t count;   /* chunk, job: items; body: 0 */
  int32_t task;     /* task id: the same on every rank */
  uint32_t kind;    /* MPMP__TRACE_* */
  char label[20];   /* body: the process name (cut), else empty */
} trace_rec_t;

static const char *const kind_name[] = {"chunk", "process", "job"};

typedef struct trace_part { /* one rank's records, on the main rank */
  trace_rec_t *recs;
  uint32_t n, dropped;
  int arrived;
} trace_part_t;

struct mpmp__trace {
  trace_rec_t *recs;
  uint32_t n, cap, dropped;
  trace_part_t *parts;  /* main rank: indexed by rank */
  _Atomic int arrived;  /* main rank: parts received */
  FILE *file;           /* main rank: opened at init, written at finalize */
};

/* The message a worker sends: this header, then its records. */
typedef struct trace_msg_hdr {
  uint32_t n, dropped;
} trace_msg_hdr_t;

double mpmp__trace_clock(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void mpmp__trace_add(int kind, int task, uint64_t first, uint32_t count,
                     const char *label, double t0, double t1) {
  struct mpmp__trace *tr = mpmp__rt.trace;
  if (tr->n == tr->cap) {
    uint32_t cap = tr->cap ? 2 * tr->cap : 1024;
    trace_rec_t *r = cap <= MPMP__TRACE_CAP
                         ? mpmp__realloc(tr->recs, cap * sizeof *r)
                         : NULL;
    if (r == NULL) {
      tr->dropped++;
      return;
    }
    tr->recs = r;
    tr->cap = cap;
  }
  trace_rec_t *r = &tr->recs[tr->n++];
  *r = (trace_rec_t){.t0 = t0, .t1 = t1, .first = first, .count = count,
                     .task = task, .kind = (uint32_t)kind};
  if (label != NULL)
    snprintf(r->label, sizeof r->label, "%s", label);
}

static void on_trace(int src, void *buf, size_t len) {
  struct mpmp__trace *tr = mpmp__rt.trace;
  trace_msg_hdr_t h = {0};
  if (tr == NULL || src <= 0 || src >= mpmp__net.size ||
      tr->parts[src].arrived || len < sizeof h) {
    mpmp__free(buf);
    return;
  }
  memcpy(&h, buf, sizeof h);
  trace_part_t *p = &tr->parts[src];
  if (len == sizeof h + (size_t)h.n * sizeof(trace_rec_t)) {
    /* keep the message; the records start after the header */
    p->recs = (trace_rec_t *)(void *)((char *)buf + sizeof h);
    p->n = h.n;
    p->dropped = h.dropped;
  } else {
    MPMP__WARN("rank %d sent a malformed trace: left out", src);
    mpmp__free(buf);
  }
  p->arrived = 1;
  atomic_fetch_add(&tr->arrived, 1);
}

/*
 * The main rank opens the file at init, so that a path it cannot write
 * fails mpmp_init (MPMP_EENV, on every rank: runtime.c agrees) instead of
 * losing the whole run's trace at finalize. The file itself is never
 * followed as a symbolic link (O_NOFOLLOW): in a shared directory someone
 * could plant one pointing at a file of ours, which O_TRUNC would wipe.
 * O_NONBLOCK keeps a planted FIFO from blocking init (no reader: ENXIO);
 * anything but a regular file is refused.
 */
static int open_trace(const char *path, FILE **out) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC |
                      O_NONBLOCK, 0644);
  int err = errno;
  struct stat st;
  if (fd >= 0 && fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
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

int mpmp__trace_init(void) {
  mpmp__rt_t *rt = &mpmp__rt;
  if (rt->env.TRACE[0] == '\0')
    return 0;
  rt->trace = mpmp__calloc(1, sizeof *rt->trace);
  if (rt->trace == NULL)
    return mpmp__err(MPMP_ENOMEM, "out of memory for MPMP_TRACE");
  if (mpmp__net.rank == 0) {
    rt->trace->parts = mpmp__calloc((size_t)mpmp__net.size, sizeof(trace_part_t));
    if (rt->trace->parts == NULL)
      return mpmp__err(MPMP_ENOMEM, "out of memory for MPMP_TRACE");
    int rc = open_trace(rt->env.TRACE, &rt->trace->file);
    if (rc < 0)
      return rc;
    mpmp__set_handler(MPMP__TAG_TRACE, on_trace);
  }
  return 0;
}

/* Worker ranks, at the end: hand the records to the main rank. */
void mpmp__trace_send(void) {
  struct mpmp__trace *tr = mpmp__rt.trace;
  if (tr == NULL)
    return;
  trace_msg_hdr_t h = {.n = tr->n, .dropped = tr->dropped};
  if (mpmp__send(0, MPMP__TAG_TRACE, &h, sizeof h, tr->recs,
                 (size_t)tr->n * sizeof(trace_rec_t)) < 0)
    MPMP__WARN("could not send this rank's trace: %s", mpmp_errmsg());
}

/* ---- the file (main rank) --------------------------------------------------- */

static int all_arrived(void *arg) {
  const struct mpmp__trace *tr = arg;
  return atomic_load(&tr->arrived) >= mpmp__net.size - 1;
}

/* A JSON string: task and host names are tame, process names may not be. */
static void put_json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

static void put_rank_meta(FILE *f, int r, uint32_t dropped, int missing) {
  const mpmp__rank_info_t *ri = &mpmp__net.ranks[r];
  char name[256];
  snprintf(name, sizeof name, "rank %d (%s) on %s, pid %d, cores %s%s", r,
           r == 0 ? "main" : "worker", ri->host, ri->pid, ri->cores,
           missing ? " [its trace never came]" : "");
  fprintf(f, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":0,"
             "\"args\":{\"name\":", r);
  put_json_str(f, name);
  fprintf(f, "}},\n{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":%d,"
             "\"tid\":0,\"args\":{\"sort_index\":%d}},\n", r, r);
  if (dropped)
    fprintf(f, "{\"name\":\"%u events dropped (more than %u)\",\"ph\":\"i\","
               "\"s\":\"p\",\"pid\":%d,\"tid\":0,\"ts\":0},\n", dropped,
            MPMP__TRACE_CAP, r);
}

static void put_recs(FILE *f, int r, const trace_rec_t *recs, uint32_t n,
                     double base) {
  for (uint32_t i = 0; i < n; i++) {
    const trace_rec_t *e = &recs[i];
    const mpmp__task_entry_t *t = mpmp__task_get(e->task);
    fputs("{\"name\":", f);
    put_json_str(f, t ? t->name : "?");
    fprintf(f, ",\"cat\":\"%s\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,"
               "\"pid\":%d,\"tid\":0,\"args\":{",
            e->kind < 3 ? kind_name[e->kind] : "?", (e->t0 - base) * 1e6,
            (e->t1 - e->t0) * 1e6, r);
    if (e->kind == MPMP__TRACE_BODY) {
      fputs("\"process\":", f);
      put_json_str(f, e->label);
      fprintf(f, ",\"id\":%llu}},\n", (unsigned long long)e->first);
    } else { /* a chunk, or a job (the main rank: submitted to ready) */
      fprintf(f, "\"%s\":%llu,\"items\":%u}},\n",
              e->kind == MPMP__TRACE_JOB ? "job" : "first_item",
              (unsigned long long)e->first, e->count);
    }
  }
}

/* Main rank, at finalize after the workers were told to stop: gather the
 * workers' records (10 s at most) and write the file opened at init.
 * 0, or MPMP_EENV naming MPMP_TRACE if the writing failed (a full disk):
 * mpmp_finalize() returns it. */
int mpmp__trace_write(void) {
  mpmp__rt_t *rt = &mpmp__rt;
  struct mpmp__trace *tr = rt->trace;
  if (tr == NULL || mpmp__net.rank != 0 || tr->file == NULL)
    return 0;
  if (mpmp__wait_until(all_arrived, tr, mpmp__deadline(10)) < 0)
    MPMP__WARN("MPMP_TRACE: %d of %d workers sent no trace within 10 s; "
               "writing what came", mpmp__net.size - 1 - atomic_load(&tr->arrived),
               mpmp__net.size - 1);
  tr->parts[0] = (trace_part_t){tr->recs, tr->n, tr->dropped, 1};
  double base = INFINITY;
  for (int r = 0; r < mpmp__net.size; r++)
    for (uint32_t i = 0; i < tr->parts[r].n; i++)
      base = fmin(base, tr->parts[r].recs[i].t0);
  if (isinf(base))
    base = mpmp__trace_clock();
  FILE *f = tr->file;
  tr->file = NULL;
  fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n", f);
  for (int r = 0; r < mpmp__net.size; r++) {
    trace_part_t *p = &tr->parts[r];
    put_rank_meta(f, r, p->dropped, !p->arrived);
    put_recs(f, r, p->recs, p->n, base);
  }
  /* JSON allows no trailing comma: close with one last metadata event */
  fprintf(f, "{\"name\":\"mpmp\",\"ph\":\"M\",\"pid\":0,\"tid\":0,"
             "\"args\":{\"ranks\":%d,\"nodes\":%d}}\n]}\n", mpmp__net.size,
          mpmp__net.nnodes);
  int bad = ferror(f);
  if (fclose(f) != 0 || bad)
    return mpmp__err(MPMP_EENV, "MPMP_TRACE: writing '%s' failed: %s",
                     rt->env.TRACE, strerror(errno));
  return 0;
}

void mpmp__trace_fini(void) {
  mpmp__rt_t *rt = &mpmp__rt;
  struct mpmp__trace *tr = rt->trace;
  if (tr == NULL)
    return;
  for (int r = 1; tr->parts != NULL && r < mpmp__net.size; r++)
    if (tr->parts[r].recs != NULL) /* the message, header first */
      mpmp__free((char *)tr->parts[r].recs - sizeof(trace_msg_hdr_t));
  if (tr->file != NULL) /* init failed after it was opened */
    fclose(tr->file);
  mpmp__free(tr->parts);
  mpmp__free(tr->recs);
  mpmp__free(tr);
  rt->trace = NULL;
}
