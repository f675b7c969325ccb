/*
 * The end of a batch job, seen coming: when the walltime draws near, or
 * SIGUSR1 / SIGTERM reach the main rank (what `sbatch --signal=B:USR1@120`
 * and PBS send), pools deal no more work, the chunks running get
 * MPMP_STOP_GRACE seconds to finish, and the maps return
 * MPMP_EINTERRUPTED; their finished chunks are in the checkpoint journal
 * (journal.c), and a rerun with the same MPMP_CHECKPOINT runs the rest.
 *
 * The end time comes from MPMP_WALLTIME (from mpmp_init), Slurm's
 * SLURM_JOB_END_TIME, or, with MPMP_CHECKPOINT set, `squeue` (Slurm) or
 * `qstat -f` (PBS), each run once at init under a 10 s `timeout`. The
 * stop comes 2 x MPMP_STOP_GRACE before the end (at most a tenth of the
 * walltime before it): half for the running chunks, half for the program
 * to write its results and exit.
 *
 * Signals: the main rank takes SIGUSR1 and SIGTERM while it has pool work,
 * has used a journal, or MPMP_CHECKPOINT is set (mpmp__stop_armed: the
 * stop then also ends the next map at once); otherwise, or at a second
 * signal, the action the program had before mpmp_init runs (by default:
 * the process ends), so a signal never goes unheard. Worker ranks and
 * their task hosts ignore SIGUSR1 (mpirun forwards it to every rank, and
 * its default action would end the job before the main rank could stop
 * it cleanly); SIGTERM ends them as before (mpirun follows it with
 * SIGKILL anyway: the journal is consistent whenever a rank dies).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parallel.h"

_Atomic int mpmp__stop_armed;

void mpmp__journal_used(void) {
  static _Atomic int once;
  if (!atomic_exchange(&once, 1))
    atomic_fetch_add(&mpmp__stop_armed, 1);
}

static struct {
  _Atomic int sig;     /* the signal that asked for the stop, or 0 */
  _Atomic int noted;   /* 1: the stop was noted (t_stop, reason) */
  _Atomic int stopped; /* 1: pools stop (t_stop is set) */
  double stop_at;      /* the planned stop (mpmp__now() time; INFINITY) */
  double t_stop;
  /* the running chunks' time after a walltime stop: half the reserve
   * (2 x MPMP_STOP_GRACE, or a tenth of the walltime when that is less:
   * then MPMP_STOP_GRACE whole ran past the end, and the scheduler killed
   * the job before it could exit with 75); INFINITY: MPMP_STOP_GRACE */
  double wall_grace;
  double grace; /* the grace of the stop that came (set with t_stop) */
  char reason[96];
  struct sigaction old_usr1, old_term;
  int main_handlers, worker_usr1;
} wt = {.stop_at = INFINITY, .wall_grace = INFINITY};

/* The same, of a scheduler's output: around it, spaces and a newline. */
static double parse_output(const char *s) {
  char buf[64];
  while (isspace((unsigned char)*s))
    s++;
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1]))
    n--;
  if (n >= sizeof buf)
    return -1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  return mpmp__env_duration(buf);
}

/* A job id safe to put on a command line. */
static int plain_id(const char *id) {
  if (id == NULL || !*id || strlen(id) > 64)
    return 0;
  for (; *id; id++)
    if (!isalnum((unsigned char)*id) && !strchr("._-[]", *id))
      return 0;
  return 1;
}

/* The first line of a command's output (at most 10 s), or "". */
static void command_line(const char *cmd, char *buf, size_t n) {
  buf[0] = '\0';
  FILE *f = popen(cmd, "r");
  if (f == NULL)
    return;
  if (fgets(buf, (int)n, f) == NULL)
    buf[0] = '\0';
  while (fgetc(f) != EOF) /* let it end cleanly */
    ;
  pclose(f);
  buf[strcspn(buf, "\n")] = '\0';
}

/* PBS: what `qstat -f` says of the walltime asked for and used. */
static double pbs_left(const char *id) {
  char cmd[256], line[512];
  double asked = -1, used = 0;
  snprintf(cmd, sizeof cmd, "timeout 10 qstat -f '%s' 2>/dev/null", id);
  FILE *f = popen(cmd, "r");
  if (f == NULL)
    return -1;
  while (fgets(line, sizeof line, f) != NULL) {
    const char *eq = strchr(line, '=');
    if (eq == NULL)
      continue;
    if (strstr(line, "Resource_List.walltime") != NULL)
      asked = parse_output(eq + 1);
    else if (strstr(line, "resources_used.walltime") != NULL)
      used = fmax(parse_output(eq + 1), 0);
  }
  pclose(f);
  return asked < 0 ? -1 : asked - used;
}

/* Seconds left in the job, and where that came from; -1: unknown. */
static double time_left(const char **source) {
  mpmp__rt_t *rt = &mpmp__rt;
  const char *v;
  if (rt->env.WALLTIME[0]) {
    *source = "MPMP_WALLTIME";
    return mpmp__env_duration(rt->env.WALLTIME);
  }
  if ((v = getenv("SLURM_JOB_END_TIME")) != NULL && isdigit((unsigned char)*v)) {
    *source = "Slurm (SLURM_JOB_END_TIME)";
    return strtod(v, NULL) - (double)time(NULL);
  }
  if (!rt->env.CHECKPOINT[0]) /* only a checkpointing job asks the queue */
    return -1;
  char cmd[256], out[128];
  if (plain_id(v = getenv("SLURM_JOB_ID"))) {
    snprintf(cmd, sizeof cmd, "timeout 10 squeue -h -j '%s' -o %%L "
             "2>/dev/null", v);
    command_line(cmd, out, sizeof out);
    *source = "Slurm (squeue)";
    return parse_output(out);
  }
  if (plain_id(v = getenv("PBS_JOBID"))) {
    *source = "PBS (qstat)";
    return pbs_left(v);
  }
  return -1;
}

int mpmp__walltime_init(void) {
  mpmp__rt_t *rt = &mpmp__rt;
  if (rt->env.WALLTIME[0] && mpmp__env_duration(rt->env.WALLTIME) < 0)
    return mpmp__err(MPMP_EENV, "MPMP_WALLTIME='%s' is not a valid value: "
                     "use seconds (e.g. 3600) or [D-]HH:MM:SS as in Slurm's "
                     "--time (e.g. 01:00:00)", rt->env.WALLTIME);
  if (mpmp__net.rank != 0)
    return 0;
  return mpmp__journal_check_dir(rt->env.CHECKPOINT, "MPMP_CHECKPOINT");
}

static void on_stop_signal(int sig) {
  int saved = errno;
  int first = 0;
  if (atomic_load(&mpmp__stop_armed) > 0)
    atomic_compare_exchange_strong(&wt.sig, &first, sig);
  if (first != 0 || atomic_load(&mpmp__stop_armed) == 0) {
    /* a second signal, or nothing to stop: as if mpmp were not here */
    sigaction(sig, sig == SIGTERM ? &wt.old_term : &wt.old_usr1, NULL);
    raise(sig);
  } else {
    mpmp__ring_rank(mpmp__net.rank); /* a waiter looks now */
    mpmp__trace_stop_signal(sig);    /* MPMP_TRACE: the kill may follow */
  }
  errno = saved;
}

void mpmp__walltime_setup(int is_main) {
  struct sigaction sa, cur;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  if (!is_main) {
    if (sigaction(SIGUSR1, NULL, &cur) == 0 && cur.sa_handler == SIG_DFL) {
      sa.sa_handler = SIG_IGN;
      wt.worker_usr1 = sigaction(SIGUSR1, &sa, &wt.old_usr1) == 0;
    }
    return;
  }
  atomic_store(&wt.sig, 0);
  atomic_store(&wt.noted, 0);
  atomic_store(&wt.stopped, 0);
  wt.stop_at = INFINITY;
  wt.wall_grace = INFINITY;
  sa.sa_handler = on_stop_signal;
  sa.sa_flags = SA_RESTART;
  wt.main_handlers = sigaction(SIGUSR1, &sa, &wt.old_usr1) == 0 &&
                     sigaction(SIGTERM, &sa, &wt.old_term) == 0;
  if (mpmp__rt.env.CHECKPOINT[0]) /* a checkpointing job: a signal stops */
    mpmp__journal_used();         /* its maps, whenever it comes */
  const char *source = NULL;
  double left = time_left(&source), now = mpmp__now();
  if (left < 0 && source != NULL && mpmp__rt.env.WALLTIME[0] == '\0')
    return; /* the queue did not say (UNLIMITED, or no answer) */
  if (source == NULL)
    return;
  double reserve = fmin(2 * mpmp__rt.env.STOP_GRACE, 0.1 * fmax(left, 0));
  wt.stop_at = now + left - reserve;
  wt.wall_grace = reserve / 2;
  if (left <= reserve)
    MPMP__WARN("the job has %.0f s left (%s): maps stop at once", left,
               source);
  snprintf(wt.reason, sizeof wt.reason, "the walltime (%s) ends in %.3g s",
           source, reserve);
}

void mpmp__walltime_fini(void) {
  if (wt.main_handlers) {
    sigaction(SIGUSR1, &wt.old_usr1, NULL);
    sigaction(SIGTERM, &wt.old_term, NULL);
    wt.main_handlers = 0;
  }
  if (wt.worker_usr1) {
    sigaction(SIGUSR1, &wt.old_usr1, NULL);
    wt.worker_usr1 = 0;
  }
}

int mpmp__stopping(void) {
  if (atomic_load_explicit(&wt.stopped, memory_order_acquire))
    return 1;
  int sig = atomic_load(&wt.sig);
  if (sig == 0 && !(wt.stop_at < INFINITY && mpmp__now() >= wt.stop_at))
    return 0;
  int no = 0;
  if (atomic_compare_exchange_strong(&wt.noted, &no, 1)) {
    wt.t_stop = mpmp__now();
    wt.grace = sig != 0 ? mpmp__rt.env.STOP_GRACE
                        : fmin(mpmp__rt.env.STOP_GRACE, wt.wall_grace);
    if (sig != 0)
      snprintf(wt.reason, sizeof wt.reason, "%s came",
               sig == SIGTERM ? "SIGTERM" : "SIGUSR1");
    atomic_store_explicit(&wt.stopped, 1, memory_order_release);
    /* (mpirun also sends SIGTERM to every rank when one of them died:
     * then the job ends whatever this rank does) */
    MPMP__NOTE("%s: pools deal no more work; the running chunks get %g s "
               "(MPMP_STOP_GRACE%s) to finish%s", wt.reason, wt.grace,
               wt.grace < mpmp__rt.env.STOP_GRACE ? ", cut to half the "
                                                    "time the walltime left"
                                                  : "",
               sig == SIGTERM ? " (if a rank of the job died, mpirun sent "
                                "it, and the job ends now)"
                              : "");
  }
  return 1;
}

const char *mpmp__stop_reason(void) {
  return atomic_load_explicit(&wt.stopped, memory_order_acquire)
             ? wt.reason : "a stop came";
}

double mpmp__stop_next(void) {
  if (!atomic_load_explicit(&wt.stopped, memory_order_acquire))
    return atomic_load(&wt.sig) ? mpmp__now() : wt.stop_at;
  return wt.t_stop + wt.grace;
}

double mpmp__stop_grace(void) {
  return atomic_load_explicit(&wt.stopped, memory_order_acquire)
             ? wt.grace
             : mpmp__rt.env.STOP_GRACE;
}
