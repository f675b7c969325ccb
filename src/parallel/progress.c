/*
 * MPMP_PROGRESS: the progress line of a map on the main rank, for every
 * kind of map (pool map, starmap and their async results' waits, executor
 * map, imap, imap_unordered, executor map_stream).
 *
 * Where it goes:
 *  - a terminal (the rank's own stderr, or, under mpirun or MPICH's
 *    mpiexec, the launcher's): a status line on the terminal's last row,
 *    outside a scroll region that holds everything else, as apt draws its
 *    progress. Program output, whichever rank prints it, scrolls above
 *    and no line of it is ever cut or overwritten by the bar; each draw
 *    is one write (cursor saved, bar drawn on the last row, cursor
 *    restored), so the launcher never interleaves it with other output.
 *    When the map ends, the region is reset and the last state stays as an
 *    ordinary line. Without the terminal's size, plain lines as in a log.
 *  - a log (a batch job's, whose environment says so, or MPMP_PROGRESS=1
 *    with stderr a file or a pipe): a plain line every LOG_EVERY_S seconds
 *    and at the end, one write each.
 * Nothing is shown for a map that ends within its first 2 s.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "parallel.h"

#define LOG_EVERY_S 10.0 /* a line in a log this often */
#define BAR_EVERY_S 0.5  /* a bar redrawn this often at most */
#define QUIET_S 2.0      /* nothing for a map that ends sooner */

enum { METER_OFF, METER_BAR, METER_LOG };

/* The terminal's status line (main rank only; the maps that draw run on
 * the thread that waits for them, one at a time per bar: a second map
 * waited for at once draws on the same line). */
static struct {
  int fd;   /* the terminal, for its size; -1: not opened (yet) */
  int rows; /* the row the status line is on; 0: no scroll region set */
  int exit_hook;
} term = {-1, 0, 0};

static pthread_mutex_t term_lock = PTHREAD_MUTEX_INITIALIZER;

/* One write, so that the launcher forwards the bytes as one piece. */
static void put(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n <= 0)
    return;
  size_t len = (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1, off = 0;
  while (off < len) {
    ssize_t w = write(STDERR_FILENO, buf + off, len - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return;
    off += (size_t)w;
  }
}

static int read_proc(pid_t pid, const char *what, char *buf, size_t size) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, what);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return -1;
  int ok = fgets(buf, (int)size, f) != NULL;
  fclose(f);
  return ok ? 0 : -1;
}

/*
 * Is the user looking at a terminal? Under mpirun a rank's stderr is a pipe
 * to the launcher, which writes what it gets to its own stderr: so when
 * stderr is a pipe and the parent is an MPI launcher (Open MPI's mpirun
 * starts the ranks of its node itself; MPICH's mpiexec through a
 * hydra_pmi_proxy, the parent's parent), the launcher's stderr counts too.
 * A batch job's log, or a file stderr was sent to, is no terminal. Sets
 * `tty` to the terminal's path ("" for our own stderr).
 */
static int on_terminal(char *tty, size_t size) {
  struct stat st;
  tty[0] = '\0';
  if (isatty(STDERR_FILENO))
    return 1;
  if (fstat(STDERR_FILENO, &st) < 0 || !S_ISFIFO(st.st_mode))
    return 0;
  char buf[256];
  pid_t pid = getppid();
  for (int up = 0; up < 2; up++) {
    if (read_proc(pid, "comm", buf, sizeof buf) < 0)
      return 0;
    if (!strncmp(buf, "hydra_pmi_proxy", 15)) { /* up to its mpiexec */
      const char *end = read_proc(pid, "stat", buf, sizeof buf) < 0
                            ? NULL : strrchr(buf, ')');
      int ppid = 0;
      if (end == NULL || sscanf(end, ") %*c %d", &ppid) != 1 || ppid <= 1)
        return 0;
      pid = (pid_t)ppid;
      continue;
    }
    if (strncmp(buf, "mpirun", 6) && strncmp(buf, "mpiexec", 7) &&
        strncmp(buf, "orterun", 7) && strncmp(buf, "prterun", 7))
      return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd/2", (int)pid);
    ssize_t n = readlink(path, tty, size - 1);
    if (n <= 0)
      return 0;
    tty[n] = '\0';
    return !strncmp(tty, "/dev/pts/", 9) || !strncmp(tty, "/dev/tty", 8);
  }
  return 0;
}

/* The terminal's height, or 0 when unknown (it may change between draws:
 * asked each time). */
static int term_rows(void) {
  struct winsize ws;
  int fd = term.fd >= 0 ? term.fd : STDERR_FILENO;
  if (ioctl(fd, TIOCGWINSZ, &ws) < 0 || ws.ws_row < 3)
    return 0;
  return ws.ws_row;
}

/* The whole screen scrolls again, the status row cleared; the cursor
 * stays where the program's output left it. */
static void region_reset(void) {
  if (term.rows > 0)
    put("\0337\033[%d;1H\033[2K\033[r\0338", term.rows);
  term.rows = 0;
}

/* A program that exits during a map (its own exit(), or a fatal error
 * mpmp reports) leaves a terminal that scrolls whole. */
static void region_reset_at_exit(void) {
  if (pthread_mutex_trylock(&term_lock) == 0) { /* not from inside a draw */
    region_reset();
    pthread_mutex_unlock(&term_lock);
  }
}

/* Whether the user looks at a terminal, asked once per process (it reads
 * /proc, and every map would ask): the launcher and stderr stay what they
 * were. The terminal is opened then too, for its size. */
static pthread_once_t term_once = PTHREAD_ONCE_INIT;
static int term_on;

static void find_terminal(void) {
  char tty[256];
  term_on = on_terminal(tty, sizeof tty);
  if (term_on && tty[0] != '\0')
    term.fd = open(tty, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
}

/* A batch job's log: Slurm, PBS/Torque, LSF and Flux set these in the
 * job's environment. */
static int in_batch_job(void) {
  static const char *const vars[] = {"SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID",
                                     "FLUX_JOB_ID"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    const char *v = getenv(vars[i]);
    if (v != NULL && v[0] != '\0')
      return 1;
  }
  return 0;
}

/* auto: a bar on a terminal, plain lines in a batch job's log, nothing
 * elsewhere (a test's or a script's pipe); 1: lines wherever there is no
 * terminal. */
static int meter_mode(void) {
  const char *p = mpmp__rt.env.PROGRESS;
  if (!strcmp(p, "0"))
    return METER_OFF;
  pthread_once(&term_once, find_terminal);
  if (term_on)
    return METER_BAR;
  return !strcmp(p, "1") || in_batch_job() ? METER_LOG : METER_OFF;
}

void mpmp__meter_start(mpmp__meter_t *m, const char *what) {
  *m = (mpmp__meter_t){.what = what, .t0 = mpmp__now()};
  m->mode = meter_mode();
  m->next = m->t0 + QUIET_S;
}

int mpmp__meter_on(const mpmp__meter_t *m) { return m->mode != METER_OFF; }

static void draw_locked(mpmp__meter_t *m, const char *text, int last);

/* Maps waited for by two threads at once share the one status line. */
static void draw(mpmp__meter_t *m, const char *text, int last) {
  pthread_mutex_lock(&term_lock);
  draw_locked(m, text, last);
  pthread_mutex_unlock(&term_lock);
}

static void draw_locked(mpmp__meter_t *m, const char *text, int last) {
  if (m->mode == METER_LOG) {
    put("%s\n", text);
    return;
  }
  int rows = term_rows();
  if (rows > 0) {
    if (term.rows == 0) {
      /* A new row at the bottom for the bar, then the region above it
       * (setting it homes the cursor: saved and restored around it). */
      put("\n\0337\033[1;%dr\0338\033[1A", rows - 1);
      if (!term.exit_hook)
        term.exit_hook = atexit(region_reset_at_exit) == 0;
    } else if (term.rows != rows) { /* resized */
      put("\0337\033[%d;1H\033[2K\033[1;%dr\0338", term.rows, rows - 1);
    }
    term.rows = rows;
    if (last) { /* one write: nothing of the program's between the two */
      put("\0337\033[%d;1H\033[2K\033[r\0338%s\n", term.rows, text);
      term.rows = 0;
    } else {
      put("\0337\033[%d;1H\033[2K%s\0338", rows, text);
    }
    m->drawn = !last;
    return;
  }
  /* A terminal whose size is unknown: no status row to keep apart, and a
   * bar redrawn with carriage returns would share its line with whatever
   * a rank prints next. Whole lines instead, as in a log. */
  region_reset();
  m->mode = METER_LOG;
  m->next = mpmp__now() + LOG_EVERY_S;
  put("%s\n", text);
}

void mpmp__meter_show(mpmp__meter_t *m, size_t done, size_t total,
                      size_t failed, size_t resumed, int last) {
  double now = mpmp__now();
  if (m->mode == METER_OFF || (!last && now < m->next) ||
      (last && !m->drawn && now - m->t0 < QUIET_S))
    return;
  m->next = now + (m->mode == METER_LOG ? LOG_EVERY_S : BAR_EVERY_S);
  double el = now - m->t0, ran = (double)(done - resumed);
  double rate = el > 0 ? ran / el : 0;
  char count[160], from[64] = "", fails[48] = "", eta[32] = "";
  if (resumed > 0)
    snprintf(from, sizeof from, " (%zu from the checkpoint)", resumed);
  if (total > 0) {
    /* integers, not %f: bounded widths (no truncation to warn about) */
    unsigned pct = (unsigned)(100.0 * (double)done / (double)total);
    double left = rate > 0 ? (double)(total - done) / rate : 0;
    snprintf(count, sizeof count, "%zu/%zu items%s (%3u%%)", done, total,
             from, pct > 100 ? 100 : pct);
    snprintf(eta, sizeof eta, ", ETA %lu s",
             (unsigned long)(left < 1e12 ? left + 0.5 : 1e12));
  } else {
    snprintf(count, sizeof count, "%zu items%s", done, from);
  }
  if (failed > 0)
    snprintf(fails, sizeof fails, ", %zu failed", failed);
  char text[320];
  snprintf(text, sizeof text, "[mpmp] %s: %s%s, %lu items/s%s", m->what,
           count, fails, (unsigned long)(rate < 1e12 ? rate + 0.5 : 1e12),
           eta);
  draw(m, text, last);
  if (last)
    m->mode = METER_OFF; /* said once */
}

void mpmp__meter_end(mpmp__meter_t *m) {
  if (m->mode == METER_BAR && m->drawn) {
    pthread_mutex_lock(&term_lock);
    if (term.rows > 0)
      region_reset();
    else
      put("\n");
    pthread_mutex_unlock(&term_lock);
  }
  m->drawn = 0;
}
