/*
 * Waiting without spinning a core.
 *
 * A waiting thread first polls (drives MPI progress and checks its
 * condition) for MPMP_SPIN_US, which keeps round trips at MPI latency, and
 * then sleeps on its rank's doorbell: a futex word in the node's shared
 * segment that same-node senders ring after their message is visible. With
 * no remote nodes the sleep has no time limit (an idle rank costs nothing);
 * when the job spans nodes, senders there cannot ring it, so the sleep is
 * capped and grows from 50 us up to MPMP_POLL_MS while nothing arrives.
 *
 * Every rank also has an agent thread that drives progress while no thread
 * of the rank is waiting (the user's code computes, a worker runs a body),
 * so messages for a busy rank (terminate, later remote object operations)
 * are still served; like a waiter, it polls for MPMP_SPIN_US after each
 * message from another node. While some thread waits and drives progress
 * itself, the agent parks on the `drivers` word, checking back after 2 ms
 * and then ever more rarely (see AGENT_PARK_*).
 */
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "transport.h"

/* A parked agent checks back after 2 ms, then ever more rarely (up to
 * 100 ms) while the rank stays idle; once it parks deeply, a thread that
 * stops waiting wakes it, so a body that starts computing still gets its
 * messages served at once. */
#define AGENT_PARK_MIN_S 0.002
#define AGENT_PARK_MAX_S 0.1

static mpmp__bell_t *my_bell(void) {
  return &mpmp__net.bells[mpmp__net.node_rank];
}

/*
 * A waiter asks the scheduler for a short time slice while it sleeps, and
 * takes its usual one back when it wakes (it may poll, or compute, next).
 * Linux's EEVDF scheduler (6.12 and later) lets a task that wakes with a
 * shorter slice than the running one preempt it at once; otherwise the woken task waits until the running
 * one's slice is used up. Where a rank shares its core with a computing
 * worker (the main rank of mpirun -n 3 on 2 cores), answering a worker
 * that wants its next chunk then took up to 3.5 ms instead of 30-90 us,
 * and that is what a map's last chunks wait for. Older kernels ignore the
 * slice (sched_runtime) of a normal task; other policies are left alone.
 * Only on one node, where a sleeper wakes when it is rung: when the job
 * spans nodes, sleeps are timed polls (50 us and up), and each would
 * preempt whatever runs on the core, often for nothing.
 */
struct slice_attr { /* the kernel's struct sched_attr, version 1 */
  uint32_t size, policy;
  uint64_t flags;
  int32_t nice;
  uint32_t priority;
  uint64_t runtime, deadline, period;
};
#define WAIT_SLICE_NS 100000 /* the shortest the kernel takes */

static _Thread_local struct {
  int state; /* 0: not looked yet, 1: usual slice, 2: short, -1: leave it */
  int keep;  /* the agent: short for good */
  struct slice_attr usual;
} slice;

static int set_slice(const struct slice_attr *a) {
  return (int)syscall(SYS_sched_setattr, 0, a, 0);
}

static void slice_short(void) {
  if (slice.state == 0 && mpmp__net.nnodes > 1)
    slice.state = -1;
  if (slice.state == 0) {
    struct slice_attr a = {.size = sizeof a};
    slice.state = syscall(SYS_sched_getattr, 0, &a, sizeof a, 0) == 0 &&
                          a.policy == SCHED_OTHER ? 1 : -1;
    a.size = sizeof a;
    a.flags = 0;
    slice.usual = a;
  }
  if (slice.state == 1) {
    struct slice_attr a = slice.usual;
    a.runtime = WAIT_SLICE_NS;
    slice.state = set_slice(&a) == 0 ? 2 : -1;
  }
}

static void slice_usual(void) {
  if (slice.state == 2 && !slice.keep)
    slice.state = set_slice(&slice.usual) == 0 ? 1 : -1;
}

/*
 * The sleeps of a job that spans nodes are polls: a message from another
 * node cannot ring the doorbell, so it waits until the sleep ends. A
 * thread that waits for something (an answer, work) sleeps at most an
 * eighth of the time since the last message came (from 50 us up to
 * MPMP_POLL_MS): its wait then lasts at most 12.5 % longer than the answer
 * took, in a number of wake-ups that grows with the log of the wait.
 * (Doubling the sleep at every wake-up reached 5 ms within 10 ms: a lock
 * passed back and forth between two ranks of another node, whose holds
 * last a few round trips, took 15 ms a turn.) The agent, which only
 * serves what may come while the rank computes, doubles its sleep at
 * every wake-up: 63 agents waking at the finer rate on 2 cores, each
 * polling TCP, took the CPU that the main rank needed to deal a map of
 * sleeping items (90 % of the ideal time fell to 75 %).
 */
#define SLEEP_MIN_S 50e-6
#define SLEEP_SHARE 8

typedef struct backoff {
  double cap;         /* the next sleep's limit; INFINITY: one node */
  double quiet_since; /* when a message last came (or the wait began) */
  int doubling;       /* the agent's: the limit doubles at every sleep */
} backoff_t;

/* One sleep on the doorbell; returns 1 if pred became true. */
static int sleep_once(mpmp__pred_fn pred, void *arg, double deadline,
                      backoff_t *bo) {
  mpmp__bell_t *b = my_bell();
  double *cap = &bo->cap;
  atomic_fetch_add(&b->sleepers, 1);
  uint32_t seq = atomic_load(&b->seq);
  if (mpmp__progress_before_sleep(1) > 0 && isfinite(*cap)) {
    *cap = SLEEP_MIN_S; /* traffic again: poll often */
    bo->quiet_since = mpmp__now();
  }
  int done = pred(arg);
  if (!done) {
    double left = deadline - mpmp__now(), c = *cap;
    int pending = isfinite(c) ? 0 : mpmp__sends_pending();
    if (pending) /* our own sends need our progress to go out; a receiver
                  * on this node rings us when it took one: check rarely */
      c = pending == 2 ? 50e-6 : 1e-3;
    double t = isfinite(c) ? fmin(left, c) : left;
    if (t > 0) {
      slice_short();
      /* (the agent: not for a task host's answers, see transport.h) */
      mpmp__bell_sleep_for(b, seq, t, bo->doubling ? ~MPMP__BELL_HOST
                                                   : MPMP__BELL_ALL);
      slice_usual();
    }
    if (isfinite(*cap))
      *cap = fmin(mpmp__net.poll_s,
                  bo->doubling ? *cap * 2
                               : fmax(SLEEP_MIN_S, (mpmp__now() -
                                                    bo->quiet_since) /
                                                       SLEEP_SHARE));
  }
  atomic_fetch_sub(&b->sleepers, 1);
  return done;
}

/* Short sleeps must be short: the default 50 us timer slack would add to
 * every capped sleep. Set once for each thread that waits in mpmp. */
static void tighten_timer_slack(void) {
  static _Thread_local int done;
  if (!done) {
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    done = 1;
  }
}

/*
 * A rank whose cores are crowded yields at every poll, so that a rank that
 * shares its core gets it. But the neighbour may be asleep (a main rank in
 * join, an idle worker), and then each yield is a wasted system call (1-3
 * us here), a third of a round trip. So a yield is timed: one that came
 * straight back (under 2 us: nobody else ran; a neighbour that runs takes
 * 3 us and more) turns the next 64 yields into pauses, then it tries
 * again; one that took longer keeps yielding. Decided as the run goes,
 * not from the bindings at init.
 */
#define YIELD_IDLE_S 2e-6
#define YIELD_SKIP 64

void mpmp__poll_yield(void) {
  static _Thread_local unsigned skip;
  if (skip > 0) {
    skip--;
    mpmp__cpu_relax();
    return;
  }
  double t0 = mpmp__now();
  sched_yield();
  if (mpmp__now() - t0 < YIELD_IDLE_S)
    skip = YIELD_SKIP;
}

/*
 * Poll, then sleep; and poll again for the spin time whenever a message
 * arrives, so a stream of messages (a map's results, a stream of tasks) is
 * taken at MPI latency instead of each one paying for a sleep, a wake-up
 * system call in its sender and a context switch here: with chunksize 1
 * that was most of the main rank's time. When the job spans nodes, a
 * message from another node cannot ring our doorbell, so this is also what
 * serves a remote caller's next request at network latency rather than
 * after the next capped sleep. On one node, a rank whose cores are crowded
 * (more ranks than cores) does not poll after traffic: its polls would
 * take turns with the ranks that compute. The agent (agent = 1) does not
 * poll on the way in, and comes here only when the job spans nodes: on one
 * node the senders ring, and the rank's own thread computes on the same
 * core. (Either kind of polling cost 1 ms tasks on 2 workers on 2 cores
 * about 3 % of their efficiency.)
 */
enum { W_CALLER, W_AGENT, W_QUIET };

/* The wait of a thread that is not finalizing ends at teardown (see
 * mpmp__drivers_end). Once the progress lock was free, no thread is still
 * dispatching a message that could be this call's answer, nor will one. */
static int closed(void) {
  pthread_mutex_lock(&mpmp__net.progress_lock);
  pthread_mutex_unlock(&mpmp__net.progress_lock);
  return mpmp__err(MPMP_ENOTINIT, "mpmp was finalized (mpmp_finalize() in "
                   "another thread of this rank) while this call waited");
}

static int wait_loop(mpmp__pred_fn pred, void *arg, double deadline,
                     int agent) {
  int remote = mpmp__net.nnodes > 1;
  double spin_until = agent ? 0 : mpmp__now() + mpmp__net.spin_s;
  backoff_t bo = {remote ? SLEEP_MIN_S : INFINITY, mpmp__now(),
                  agent == W_AGENT};
  unsigned i = 0, polls = 0;
  double now = 0;
  for (;;) {
    if (agent != W_AGENT && atomic_load(&mpmp__net.closing))
      return pred(arg) ? 0 : closed();
    int handled = mpmp__progress();
    if (pred(arg))
      return 0;
    /* The clock is a tenth of a poll's cost once a poll finds nothing new
     * without a lock: read it every 8th empty poll (a few hundred ns). */
    if (handled > 0 || (polls++ & 7) == 0)
      now = mpmp__now();
    if (now >= deadline)
      return MPMP_ETIMEDOUT;
    if (handled > 0 && (remote || !mpmp__net.spin_yield)) {
      if (agent != W_QUIET)
        spin_until = now + mpmp__net.spin_s;
      if (remote) {
        bo.cap = SLEEP_MIN_S;
        bo.quiet_since = now;
      }
    }
    if (now < spin_until) {
      /* With more ranks than cores, let another rank run: at every poll
       * when ours are crowded, now and then otherwise. */
      if (mpmp__net.spin_yield || (++i & 63) == 0)
        mpmp__poll_yield();
      else
        mpmp__cpu_relax();
      continue;
    }
    tighten_timer_slack();
    if (sleep_once(pred, arg, deadline, &bo))
      return 0;
  }
}

void mpmp__driver_enter(void) { atomic_fetch_add(&mpmp__net.drivers, 1); }

/* The last driver out wakes a deeply parked agent: the rank's code runs
 * now, and its messages must still be served. */
void mpmp__driver_leave(void) {
  mpmp__net_t *net = &mpmp__net;
  if (atomic_fetch_sub(&net->drivers, 1) == 1 && atomic_load(&net->agent_deep))
    mpmp__futex_wake_private(&net->drivers, 1);
}

int mpmp__may_wait(const char *fn) {
  if (__builtin_expect(mpmp__in_handler == 0, 1))
    return 0;
  return mpmp__err(MPMP_EPERM, "%s: called inside a done-callback, which "
                   "runs in mpmp's progress engine: nothing (a result, a "
                   "message) can arrive while it waits there, so the wait "
                   "could never end. Wait outside the callback, or submit "
                   "asynchronously from it (Python raises RuntimeError "
                   "here)", fn);
}

int mpmp__may_wait_for(const char *fn, double deadline) {
  return deadline == -INFINITY ? 0 : mpmp__may_wait(fn);
}

int mpmp__wait_quiet(mpmp__pred_fn pred, void *arg, double deadline) {
  return wait_loop(pred, arg, deadline, W_QUIET);
}

int mpmp__wait_until(mpmp__pred_fn pred, void *arg, double deadline) {
  mpmp__driver_enter();
  int rc = wait_loop(pred, arg, deadline, W_CALLER);
  mpmp__driver_leave();
  return rc;
}

/* ---- the agent ----------------------------------------------------------- */

static int agent_should_wake(void *arg) {
  (void)arg;
  return atomic_load(&mpmp__net.agent_stop) ||
         atomic_load(&mpmp__net.drivers) > 0;
}

static void *agent_main(void *unused) {
  mpmp__net_t *net = &mpmp__net;
  (void)unused;
  /* Short sleeps in this thread should be short: the default 50 us timer
   * slack would add to every capped sleep. */
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  slice_short(); /* it wakes to serve messages, and never computes: keep it */
  slice.keep = 1;
  double park = AGENT_PARK_MIN_S;
  while (!atomic_load(&net->agent_stop)) {
    uint32_t d = atomic_load(&net->drivers);
    if (d > 0) { /* someone else drives progress: park */
      atomic_store(&net->agent_deep, park > AGENT_PARK_MIN_S);
      if (atomic_load(&net->drivers) == d)
        mpmp__futex_wait_private(&net->drivers, d, park);
      park = park * 2 < AGENT_PARK_MAX_S ? park * 2 : AGENT_PARK_MAX_S;
      continue;
    }
    park = AGENT_PARK_MIN_S;
    atomic_store(&net->agent_deep, 0);
    if (net->nnodes > 1) {
      wait_loop(agent_should_wake, NULL, INFINITY, W_AGENT);
    } else { /* senders ring: sleep until one does */
      backoff_t bo = {INFINITY, 0, 1};
      while (!sleep_once(agent_should_wake, NULL, INFINITY, &bo))
        ;
    }
  }
  return NULL;
}

int mpmp__drivers_end(double max_s) {
  mpmp__net_t *net = &mpmp__net;
  atomic_store(&net->closing, 1); /* seq_cst: before drivers is read */
  if (net->bells == NULL)         /* a partial init: nobody waits */
    return (int)atomic_load(&net->drivers);
  double end = mpmp__now() + max_s;
  for (;;) {
    int n = (int)atomic_load(&net->drivers);
    if (n == 0 || mpmp__now() >= end)
      return n;
    mpmp__bell_ring(my_bell()); /* sleepers look at `closing` */
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
}

int mpmp__agent_start(void) {
  mpmp__net_t *net = &mpmp__net;
  atomic_store(&net->agent_stop, 0);
  if (pthread_create(&net->agent, NULL, agent_main, NULL) != 0)
    return mpmp__err(MPMP_ENOMEM, "could not start the progress thread");
  net->agent_running = 1;
  return 0;
}

void mpmp__agent_stop(void) {
  mpmp__net_t *net = &mpmp__net;
  if (!net->agent_running)
    return;
  atomic_store(&net->agent_stop, 1);
  mpmp__bell_ring(my_bell());
  pthread_join(net->agent, NULL);
  net->agent_running = 0;
}
