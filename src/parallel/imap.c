/*
 * imap / imap_unordered: a streaming map in bounded memory, chunk by chunk.
 *
 * The iterator keeps a window of `nslots` chunks, each its own pool job
 * (so the pool deals them like any work, two in flight per worker): a
 * chunk is filled from the producer and submitted as soon as its slot is
 * free, so the workers always have the window's work ahead of them while
 * the caller reads. Memory holds at most nslots x chunk items, however long
 * the input. Ordered imap hands out the oldest chunk's results in item
 * order as soon as that chunk is back (not when the whole window is);
 * unordered hands out whichever chunk came back first, in the order they
 * came back (Python's imap_unordered yields per chunk too).
 *
 * Any number of threads may read one iterator at once (Python's
 * IMapIterator.next takes a lock too): `lock` guards its state and is held
 * only while a reader takes a result or feeds the window (the producer runs
 * under it), never while one waits for a chunk. A reader that finds nothing
 * back yet notes `ev`, lets go of the lock and waits for `ev` to move: the
 * completion callback moves it for every chunk back, and a reader that
 * changed what the others would find (took a result, drained a chunk, saw
 * the end) moves it and rings when one waits. So each waits on its own
 * deadline, and each result goes to one reader.
 */
#include <math.h>
#include <string.h>
#include <time.h>

#include "parallel.h"

typedef struct slot {
  char *in, *out;
  size_t n, first, pos; /* pos: next result to hand out */
  mpmp_async_t *job;
  struct mpmp_imap *it;
  /* The job's callback has returned from on_finished. A job destroyed
   * before its callback started never calls it, and one destroyed while
   * it runs lets it run on: so a job is destroyed only after this. */
  _Atomic int called;
} slot_t;

struct mpmp_imap {
  /* the readers' lock: every field below but the atomics and the fin ring
   * (fin_lock) is read and written under it (see the top of the file) */
  pthread_mutex_t lock;
  _Atomic uint32_t ev; /* moves when a reader may find something new */
  _Atomic int nwait;   /* readers waiting on ev */
  mpmp_pool_t *pool;  /* NULL once the pool was destroyed */
  uint64_t group;     /* the id its sub-maps' stops name (destroy) */
  mpmp_task_fn fn;
  mpmp_produce_fn produce;
  void *user;
  size_t in_size, out_size, chunk, produced;
  size_t never_at;    /* unordered: the first item of a chunk that never
                         ran (terminated) seen so far; SIZE_MAX: none */
  int ordered, ended, error, nslots;
  _Atomic int feeding; /* the pool counts us among its feeding iterators */
  /* the thread that feeds it (the last to read it): a join in that thread
   * cannot wait for the feed to end (pool.c) */
  _Atomic(pthread_t) reader;
  slot_t *slots;
  /* slot numbers: free ones (a stack); submitted ones in item order (a
   * ring, for ordered); finished ones in the order they finished (a ring
   * filled by the completion callback, for unordered) */
  int *free, nfree;
  int *sub, sub_head, nsub;
  int *fin, fin_head;
  _Atomic int nfin;
  pthread_mutex_t fin_lock;
  int cur; /* unordered: the finished slot being handed out, or -1 */
  mpmp__journal_t *jr; /* the checkpoint journal, or NULL */
  mpmp__meter_t meter; /* MPMP_PROGRESS */
  size_t handed, failed; /* results handed out, of them failures */
  /* of the items of the chunks drained, those from the journal */
  _Atomic size_t resumed;
  int end_shown;       /* the meter's last line was drawn */
  /* The producer returned prod_rc for item prod_at: every reader from
   * then on is told so (mpmp_errmsg() is per thread, and holds whatever
   * the thread did last). */
  int prod_failed, prod_rc;
  size_t prod_at;
  /* why the input ended otherwise, for every reader: the journal did not
   * fit it, or the variable-size producer gave an item it cannot take */
  char *end_msg;
  mpmp__varfeed_t *var; /* variable-size items and results (varmap.c) */
};

/* Completion callback: any thread, must not block. Ordered imap reads the
 * submitted ring and each job's ready flag instead. */
static void on_finished(mpmp_async_t *j, int ok, void *user) {
  slot_t *s = user;
  mpmp_imap_t *it = s->it;
  (void)j, (void)ok;
  if (!it->ordered) {
    pthread_mutex_lock(&it->fin_lock);
    int k = (it->fin_head + atomic_load(&it->nfin)) % it->nslots;
    it->fin[k] = (int)(s - it->slots);
    atomic_fetch_add(&it->nfin, 1);
    pthread_mutex_unlock(&it->fin_lock);
  }
  atomic_fetch_add(&it->ev, 1); /* after `ready`: a waiter wakes to it */
  atomic_store(&s->called, 1); /* the last touch of `it` */
  /* The pool rang before calling us: ring again for a waiter that saw
   * nothing new then (this may run in the agent thread). */
  mpmp__ring_rank(mpmp__net.rank);
}

/* No more input: the pool's join no longer waits for us. */
static void end_input(mpmp_imap_t *it, int error) {
  if (error < 0 && it->error == 0)
    it->error = error;
  it->ended = 1;
  if (it->feeding && it->pool != NULL)
    mpmp__pool_iter_fed(it->pool, it);
  it->feeding = 0;
}

/* A stop (walltime.c) ended the iteration before item `at`. */
static int interrupted(const mpmp_imap_t *it, size_t at) {
  if (it->jr != NULL)
    return mpmp__err(MPMP_EINTERRUPTED, "mpmp_imap_next: the imap was "
                     "stopped (%s) before item %zu: the items done are in "
                     "the checkpoint journal %s: rerun the program with the "
                     "same MPMP_CHECKPOINT to resume", mpmp__stop_reason(),
                     at, mpmp__journal_path(it->jr));
  return mpmp__err(MPMP_EINTERRUPTED, "mpmp_imap_next: the imap was stopped "
                   "(%s) before item %zu; rerun with MPMP_CHECKPOINT=DIR to "
                   "resume (this run kept no checkpoint)",
                   mpmp__stop_reason(), at);
}

/* The message of what just ended the input, for every later reader. */
static void keep_msg(mpmp_imap_t *it) {
  mpmp__free(it->end_msg);
  it->end_msg = mpmp__strdup(mpmp_errmsg());
}

/* Fill free slots from the producer and submit them. */
static void refill(mpmp_imap_t *it) {
  if (it->pool == NULL && !it->ended)
    end_input(it, mpmp__err(MPMP_EPERM, "mpmp_imap_next: the pool of this "
                            "imap was destroyed"));
  if (!it->ended && mpmp__stopping()) /* a stop: read no more input */
    end_input(it, interrupted(it, it->produced));
  if (!it->ended && it->nfree > 0 && it->pool != NULL &&
      mpmp__pool_cancelled(it->pool)) /* no input read for a refusal */
    end_input(it, MPMP_EPERM);
  while (it->nfree > 0 && !it->ended) {
    int k = it->free[it->nfree - 1];
    slot_t *s = &it->slots[k];
    s->n = s->pos = 0;
    s->first = it->produced;
    atomic_store(&s->called, 0);
    while (!it->ended && s->n < it->chunk) {
      int theirs = 1; /* the code is the producer's, not the feed's */
      int rc = it->var ? mpmp__varfeed_produce(it->var, k, s->n, &theirs)
                       : it->produce(it->user, s->in + s->n * it->in_size);
      if (rc < 0 && theirs) {
        it->prod_failed = 1;
        it->prod_rc = rc;
        it->prod_at = s->first + s->n;
        end_input(it, rc);
      } else if (rc < 0) { /* the feed's message, made just now */
        keep_msg(it);
        end_input(it, rc);
      } else if (rc == 0)
        end_input(it, 0);
      else
        s->n++;
    }
    if (s->n == 0)
      return;
    int rc = it->var ? mpmp__varfeed_submit(it->var, k, s->n, it->pool,
                                            it->fn, on_finished, s, &s->job,
                                            it->jr, s->first, it->group)
                     : mpmp__pool_map_stream(it->pool, it->fn, s->in, s->n,
                                             it->in_size, s->out, it->out_size,
                                             on_finished, s, &s->job, it->jr,
                                             s->first, it->group);
    if (rc == MPMP_ECHECKPOINT) { /* this input is not the journal's */
      end_input(it, rc);
      keep_msg(it);
      s->n = 0;
      return;
    }
    if (rc < 0) { /* the pool was terminated or joined: stop producing */
      if (rc != MPMP_EPERM) /* (EPERM: the end says so, see the_end) */
        keep_msg(it);
      end_input(it, rc);
      s->n = 0;
      return;
    }
    it->produced += s->n;
    it->nfree--;
    it->sub[(it->sub_head + it->nsub++) % it->nslots] = k;
  }
}


/* The window: chunks of c items, n of them, within what one message
 * carries and what memory can hold; EINVAL when sizes overflow. */
static int window(mpmp_pool_t *pool, size_t in_size, size_t out_size,
                  size_t chunk, size_t buffersize, size_t *c_out,
                  size_t *n_out) {
  size_t el = in_size > out_size ? in_size : out_size;
  size_t c = chunk ? chunk : 64, cap = MPMP__ELEM_MAX / el;
  if (c > cap) /* a chunk is one message: under 1 GiB */
    c = cap ? cap : 1;
  int nw = mpmp_pool_size(pool);
  size_t workers = (size_t)(nw > 0 ? nw : 1), items;
  if (buffersize)
    items = buffersize;
  else if (__builtin_mul_overflow(4 * workers, c, &items))
    items = SIZE_MAX;
  /* at least one chunk; at most 64 Ki slots (the window is in slots) */
  size_t n = items / c ? items / c : 1, bytes;
  if (n > 65536)
    n = 65536;
  if (c > items)
    c = items; /* a buffersize under one chunk bounds the chunk */
  /* (its items and its results each take n * c * el at most; more than
   * the machine's memory is refused, not tried) */
  if (__builtin_mul_overflow(n * c, el, &bytes) ||
      bytes > (size_t)PTRDIFF_MAX || bytes > mpmp__phys_bytes())
    return mpmp__err(MPMP_EINVAL, "imap: a window of %zu chunks of %zu items "
                     "of %zu bytes does not fit in memory: lower buffersize "
                     "or chunksize", n, c, el);
  *c_out = c;
  *n_out = n;
  return 0;
}

/* A variable-size imap (produce_var; in_size and out_size 1) has a feed
 * besides the window of slots (whose bytes it does not use). */
static int create(mpmp_pool_t *pool, mpmp_task_fn fn, mpmp_produce_fn produce,
                  mpmp_produce_var_fn produce_var, void *user, size_t in_size,
                  size_t out_size, size_t chunk, size_t buffersize,
                  int ordered, mpmp_imap_t **out) {
  const char *name = ordered ? "mpmp_pool_imap" : "mpmp_pool_imap_unordered";
  if (produce_var != NULL)
    name = ordered ? "mpmp_pool_imap_var" : "mpmp_pool_imap_unordered_var";
  if (out != NULL) /* NULL on failure: a cleanup may destroy it (it kept
                      a destroyed iterator's address, which the next
                      call used) */
    *out = NULL;
  int rc = mpmp__check_main(name);
  if (rc < 0)
    return rc;
  if (pool == NULL || (produce == NULL && produce_var == NULL) ||
      out == NULL || in_size == 0 || out_size == 0)
    return mpmp__err(MPMP_EINVAL, "%s: NULL pool, producer or iterator, or "
                     "a zero item or result size", name);
  if ((rc = mpmp__check_elem_sizes(in_size, out_size, name)) < 0)
    return rc;
  if ((rc = mpmp__task_id(fn, name)) < 0)
    return rc;
  size_t c = 1, n = 1;
  if ((rc = window(pool, in_size, out_size, chunk, buffersize, &c, &n)) < 0)
    return rc;
  mpmp_imap_t *it = mpmp__calloc(1, sizeof *it);
  if (it == NULL)
    return mpmp__err(MPMP_ENOMEM, "out of memory for imap");
  *it = (mpmp_imap_t){.fn = fn, .produce = produce,
                      .user = user, .in_size = in_size, .out_size = out_size,
                      .chunk = c, .ordered = ordered, .nslots = (int)n,
                      .never_at = SIZE_MAX,
                      .cur = -1};
  pthread_mutex_init(&it->fin_lock, NULL);
  pthread_mutex_init(&it->lock, NULL);
  it->slots = mpmp__calloc(n, sizeof *it->slots);
  it->free = mpmp__calloc(n, sizeof(int));
  it->sub = mpmp__calloc(n, sizeof(int));
  it->fin = mpmp__calloc(n, sizeof(int));
  char *in = mpmp__malloc(n * c * in_size), *res = mpmp__malloc(n * c * out_size);
  if (it->slots == NULL || it->free == NULL || it->sub == NULL ||
      it->fin == NULL || in == NULL || res == NULL) {
    mpmp__free(in);
    mpmp__free(res);
    mpmp_imap_destroy(it);
    return mpmp__err(MPMP_ENOMEM, "out of memory for an imap window of "
                     "%zu chunks of %zu items", n, c);
  }
  for (size_t k = 0; k < n; k++) {
    it->slots[k] = (slot_t){.in = in + k * c * in_size,
                            .out = res + k * c * out_size, .it = it};
    it->free[it->nfree++] = (int)(n - 1 - k); /* slot 0 on top */
  }
  if (produce_var != NULL &&
      (it->var = mpmp__varfeed_new(produce_var, user, (int)n, c)) == NULL) {
    mpmp_imap_destroy(it);
    return mpmp__err(MPMP_ENOMEM, "%s: out of memory for a window of %zu "
                     "chunks of %zu items", name, n, c);
  }
  const char *dir = mpmp__pool_checkpoint(pool);
  if (dir != NULL) {
    mpmp__journal_id_t id = {.kind = produce_var ? MPMP__JOURNAL_IMAP_VAR
                                                 : MPMP__JOURNAL_IMAP,
                             .task = mpmp_task_name(fn), .in_size = in_size,
                             .out_size = out_size, .chunk = c};
    if ((rc = mpmp__journal_open(dir, &id, &it->jr, name)) < 0) {
      mpmp_imap_destroy(it);
      return rc;
    }
    mpmp__journal_used();
  }
  if ((rc = mpmp__pool_iter_add(pool, it)) < 0) {
    mpmp_imap_destroy(it);
    return rc;
  }
  it->pool = pool;
  it->group = mpmp__pool_group_id(); /* one stop for all its sub-maps */
  atomic_store(&it->reader, pthread_self());
  it->feeding = 1;
  mpmp__meter_start(&it->meter, ordered ? "imap" : "imap_unordered");
  refill(it);
  if (it->error < 0 && it->nsub == 0) {
    rc = it->error;
    /* the producer's own code, with a message of its own: the thread's
     * last message is about something else (the feed's and the journal's
     * were made just now, and stay) */
    if (it->prod_failed)
      mpmp__err(rc, "%s: the producer returned %d (%s) for item %zu: no "
                "imap was made", name, rc, mpmp_strerror(rc), it->prod_at);
    mpmp_imap_destroy(it);
    return rc;
  }
  *out = it;
  return 0;
}

MPMP_API int mpmp_pool_imap(mpmp_pool_t *pool, mpmp_task_fn fn,
                            mpmp_produce_fn produce, void *user,
                            size_t in_size, size_t out_size, size_t chunksize,
                            size_t buffersize, mpmp_imap_t **it) {
  return create(pool, fn, produce, NULL, user, in_size, out_size, chunksize,
                buffersize, 1, it);
}

MPMP_API int mpmp_pool_imap_unordered(mpmp_pool_t *pool, mpmp_task_fn fn,
                                      mpmp_produce_fn produce, void *user,
                                      size_t in_size, size_t out_size,
                                      size_t chunksize, size_t buffersize,
                                      mpmp_imap_t **it) {
  return create(pool, fn, produce, NULL, user, in_size, out_size, chunksize,
                buffersize, 0, it);
}

MPMP_API int mpmp_pool_imap_var(mpmp_pool_t *pool, mpmp_task_fn fn,
                                mpmp_produce_var_fn produce, void *user,
                                size_t chunksize, size_t buffersize,
                                mpmp_imap_t **it) {
  return create(pool, fn, NULL, produce, user, 1, 1, chunksize, buffersize,
                1, it);
}

MPMP_API int mpmp_pool_imap_unordered_var(mpmp_pool_t *pool, mpmp_task_fn fn,
                                          mpmp_produce_var_fn produce,
                                          void *user, size_t chunksize,
                                          size_t buffersize,
                                          mpmp_imap_t **it) {
  return create(pool, fn, NULL, produce, user, 1, 1, chunksize, buffersize,
                0, it);
}

static int slot_called(void *arg) {
  return atomic_load(&((slot_t *)arg)->called);
}

static int slot_ready(void *arg) {
  return mpmp__async_done(((slot_t *)arg)->job);
}

/* Destroy a slot's job once it is ready and its callback has returned
 * (right after ready, in the thread that made it ready: a short wait).
 * After mpmp_finalize every job is complete and its callback done. */
static void drop_job(slot_t *s) {
  if (mpmp_initialized()) {
    if (!mpmp__async_done(s->job))
      mpmp__wait_job(slot_ready, s, INFINITY);
    if (!slot_called(s))
      mpmp__wait_until(slot_called, s, INFINITY);
  }
  mpmp_async_destroy(s->job);
  s->job = NULL;
}

enum { SLOT_END = -1, SLOT_WAIT = -2 };

/* The slot to hand the next result from, its chunk back; SLOT_END when
 * no chunk is out (the end), SLOT_WAIT when the next one is not back yet.
 * It does not wait: the caller holds the lock, which no wait may hold. */
static int next_slot(mpmp_imap_t *it) {
  if (it->ordered) {
    if (it->nsub == 0)
      return SLOT_END;
    int k = it->sub[it->sub_head];
    return mpmp__async_done(it->slots[k].job) ? k : SLOT_WAIT;
  }
  if (it->cur >= 0)
    return it->cur;
  if (it->nsub == 0)
    return SLOT_END;
  if (atomic_load(&it->nfin) == 0)
    return SLOT_WAIT;
  pthread_mutex_lock(&it->fin_lock);
  it->cur = it->fin[it->fin_head];
  it->fin_head = (it->fin_head + 1) % it->nslots;
  atomic_fetch_sub(&it->nfin, 1);
  pthread_mutex_unlock(&it->fin_lock);
  return it->cur;
}

/* Done with slot k: off the submitted ring (unordered: wherever it is). */
static void retire(mpmp_imap_t *it, int k) {
  int at = 0;
  while (it->sub[(it->sub_head + at) % it->nslots] != k)
    at++;
  for (; at > 0; at--) /* keep the others in item order */
    it->sub[(it->sub_head + at) % it->nslots] =
        it->sub[(it->sub_head + at - 1) % it->nslots];
  it->sub_head = (it->sub_head + 1) % it->nslots;
  it->nsub--;
  if (it->cur == k)
    it->cur = -1;
  atomic_fetch_add(&it->resumed, mpmp__async_resumed(it->slots[k].job));
  drop_job(&it->slots[k]);
  it->slots[k].n = 0;
  it->free[it->nfree++] = k;
}

/* The iteration is over with an error: every later call returns it too. */
static int stop_with(mpmp_imap_t *it, int rc) {
  end_input(it, rc);
  it->error = rc;
  return rc;
}

/* No chunk is out and no input is left: the end, or why the input ended
 * (every reader from now on gets the same). */
static int the_end(mpmp_imap_t *it) {
  if (it->prod_failed)
    return mpmp__err(it->prod_rc, "mpmp_imap_next: the producer returned "
                     "%d (%s) for item %zu: the iteration ends there (the "
                     "items before it were handed out)", it->prod_rc,
                     mpmp_strerror(it->prod_rc), it->prod_at);
  if (it->end_msg != NULL)
    return mpmp__err(it->error, "%s", it->end_msg);
  if (it->error == MPMP_EPERM)
    return mpmp__err(it->error, "mpmp_imap_next: the pool was terminated, "
                     "joined or destroyed (or its executor shut down with "
                     "cancel_futures) before this imap's input was all "
                     "read");
  if (it->error == MPMP_EINTERRUPTED)
    return interrupted(it, it->produced);
  if (it->error < 0) /* its message could not be kept (out of memory) */
    return mpmp__err(it->error, "mpmp_imap_next: the input ended with %d "
                     "(%s)", it->error, mpmp_strerror(it->error));
  if (!it->end_shown) { /* the meter's last line once, not per reader */
    it->end_shown = 1;
    mpmp__meter_show(&it->meter, it->handed, it->produced, it->failed,
                     atomic_load(&it->resumed), 1);
  }
  return mpmp__err(MPMP_EEOF, "mpmp_imap_next: the iteration is over: "
                   "every result was handed out (Python's StopIteration)");
}

/* The next result, if one is back (the lock held): 0 or the item's or the
 * end's code as mpmp_imap_next() returns them, 1 when none is back yet. */
static int take(mpmp_imap_t *it, void *out, const void **data, size_t *size,
                size_t *index) {
  if (!pthread_equal(atomic_load(&it->reader), pthread_self()))
    atomic_store(&it->reader, pthread_self());
  refill(it); /* slots freed by the last call go back to work first */
  int k, rc;
  slot_t *s;
  for (;;) {
    if ((k = next_slot(it)) == SLOT_WAIT)
      return 1;
    if (k == SLOT_END && it->never_at == SIZE_MAX)
      return the_end(it);
    s = k == SLOT_END ? NULL : &it->slots[k];
    if (s != NULL && mpmp__async_interrupted(s->job))
      return stop_with(it, interrupted(it, s->first + s->pos));
    if (s != NULL && mpmp__async_complete(s->job))
      break;
    /* A chunk that never ran (terminated). Unordered, the chunks still
     * running may bring results: those come out first (README: what had
     * completed, then the running chunks' items), then the end. */
    size_t never = s != NULL ? s->first + s->pos : SIZE_MAX;
    if (never > it->never_at)
      never = it->never_at;
    if (s != NULL && !it->ordered && it->nsub > 1) {
      it->never_at = never;
      retire(it, k);
      continue;
    }
    return stop_with(it, mpmp__err(MPMP_EPERM, "mpmp_imap_next: the pool was "
                                   "terminated (or its executor shut down "
                                   "with cancel_futures) before item %zu "
                                   "ran: the iteration ends here%s", never,
                                   it->ordered ? ""
                                               : "; the items from it on "
                                                 "not handed out never "
                                                 "ran"));
  }
  size_t at = s->pos, idx = s->first + at;
  if (it->var == NULL)
    memcpy(out, s->out + at * it->out_size, it->out_size);
  else if ((rc = mpmp__varfeed_result(it->var, s->job, at, data, size)) < 0)
    return rc;
  s->pos++;
  if (index)
    *index = idx;
  int rank = -1, code = MPMP_ETASK;
  const char *err = mpmp__async_item_error(s->job, at, &rank, &code);
  rc = err == NULL ? 0 : mpmp__err(code, "item %zu failed on rank %d: %s",
                                   idx, rank, err);
  it->handed++;
  it->failed += err != NULL;
  /* the total is known once the producer said there is no more */
  mpmp__meter_show(&it->meter, it->handed,
                   it->ended && it->error == 0 ? it->produced : 0,
                   it->failed, atomic_load(&it->resumed), 0);
  if (s->pos == s->n) /* drained (err is freed too): refilled next call */
    retire(it, k);
  return rc;
}

/* Take the lock by the caller's deadline. It is held only while a reader
 * takes a result or runs the producer, never while one waits, but a slow
 * producer must not keep another reader past its timeout either. */
static int lock_by(mpmp_imap_t *it, double deadline) {
  if (pthread_mutex_trylock(&it->lock) == 0) /* the usual case: one reader */
    return 0;
  if (deadline == INFINITY) {
    pthread_mutex_lock(&it->lock);
    return 0;
  }
  double left = deadline - mpmp__now(); /* under 1e9 s: mpmp__timeout */
  if (!(left > 0))
    return MPMP_ETIMEDOUT;
  /* timedlock counts in CLOCK_REALTIME; our deadline is monotonic */
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  double ns = (double)until.tv_nsec + left * 1e9;
  until.tv_sec += (time_t)(ns / 1e9);
  until.tv_nsec = (long)fmod(ns, 1e9);
  return pthread_mutex_timedlock(&it->lock, &until) == 0 ? 0 : MPMP_ETIMEDOUT;
}

typedef struct ev_wait {
  mpmp_imap_t *it;
  uint32_t seen; /* ev when the reader last looked */
} ev_wait_t;

static int ev_moved(void *arg) {
  ev_wait_t *w = arg;
  return atomic_load(&w->it->ev) != w->seen;
}

/* This reader changed what the others find (a result fewer, a chunk
 * drained, the end): the ones that wait look again. A waiter counted
 * itself under the lock before this reader took it, so none is missed;
 * with no other reader this costs one load. */
static void wake_readers(mpmp_imap_t *it) {
  if (atomic_load(&it->nwait) > 0) {
    atomic_fetch_add(&it->ev, 1);
    mpmp__ring_rank(mpmp__net.rank);
  }
}

/* The next result: into `out` (fixed-size), or at *data (variable). */
static int next_result(mpmp_imap_t *it, void *out, const void **data,
                       size_t *size, size_t *index, double timeout) {
  double deadline;
  int rc = 0;
  if ((rc = mpmp__timeout(timeout, &deadline, "mpmp_imap_next")) < 0)
    return rc;
  for (;;) {
    if (lock_by(it, deadline) < 0)
      return mpmp__err(MPMP_ETIMEDOUT, "mpmp_imap_next: timed out: no "
                       "result within %g s (another thread was reading "
                       "this imap)", timeout);
    /* ev before looking: a chunk back after the look moves it after */
    ev_wait_t w = {it, atomic_load(&it->ev)};
    rc = take(it, out, data, size, index);
    if (rc != 1) {
      pthread_mutex_unlock(&it->lock);
      wake_readers(it);
      return rc;
    }
    atomic_fetch_add(&it->nwait, 1);
    pthread_mutex_unlock(&it->lock);
    if (mpmp__in_handler && deadline != -INFINITY) { /* nothing can
                                                      arrive there */
      atomic_fetch_sub(&it->nwait, 1);
      return mpmp__may_wait("mpmp_imap_next");
    }
    rc = mpmp__wait_job(ev_moved, &w, deadline);
    atomic_fetch_sub(&it->nwait, 1);
    if (rc < 0)
      return mpmp__err(MPMP_ETIMEDOUT, "mpmp_imap_next: timed out: no "
                       "result within %g s", timeout);
  }
}

MPMP_API int mpmp_imap_next(mpmp_imap_t *it, void *out, size_t *index,
                            double timeout) {
  int rc = mpmp__check_main("mpmp_imap_next");
  if (rc < 0)
    return rc;
  if (it == NULL || out == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_imap_next: the %s is NULL",
                     it == NULL ? "iterator" : "output buffer");
  if (it->var != NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_imap_next: this iterator's items "
                     "are variable-size (mpmp_pool_imap_var): read it with "
                     "mpmp_imap_next_var()");
  if ((rc = mpmp__check_extent(out, 1, it->out_size, "the output buffer",
                               "mpmp_imap_next")) < 0)
    return rc;
  /* feeding the pool on the way may fail (a terminated pool) while a
   * result is ready: a result handed out is a success, its message none */
  mpmp__errmark_t mark = mpmp__err_mark();
  rc = next_result(it, out, NULL, NULL, index, timeout);
  if (rc == 0)
    mpmp__err_restore(mark);
  return rc;
}

/* next_result's messages name mpmp_imap_next, which most callers call:
 * a reader of mpmp_imap_next_var gets its own call's name. */
static int as_next_var(int rc) {
  static const char next[] = "mpmp_imap_next:";
  const char *m = mpmp_errmsg();
  if (rc < 0 && strncmp(m, next, sizeof next - 1) == 0) {
    char text[1024];
    snprintf(text, sizeof text, "mpmp_imap_next_var:%s", m + sizeof next - 1);
    mpmp__err(rc, "%s", text);
  }
  return rc;
}

MPMP_API int mpmp_imap_next_var(mpmp_imap_t *it, const void **data,
                                size_t *size, size_t *index, double timeout) {
  int rc = mpmp__check_main("mpmp_imap_next_var");
  if (rc < 0)
    return rc;
  if (it == NULL || data == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_imap_next_var: the %s is NULL",
                     it == NULL ? "iterator" : "data pointer");
  if (it->var == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_imap_next_var: this iterator's "
                     "items are fixed-size (mpmp_pool_imap): read it with "
                     "mpmp_imap_next()");
  mpmp__errmark_t mark = mpmp__err_mark(); /* as mpmp_imap_next */
  rc = next_result(it, NULL, data, size, index, timeout);
  if (rc == 0)
    mpmp__err_restore(mark);
  return as_next_var(rc);
}

int mpmp__imap_fed_here(const mpmp_imap_t *it) {
  return atomic_load(&it->feeding) &&
         pthread_equal(atomic_load(&it->reader), pthread_self());
}

void mpmp__imap_pool_gone(mpmp_imap_t *it) {
  /* a reader in another thread may be submitting to it right now */
  pthread_mutex_lock(&it->lock);
  it->feeding = 0; /* the pool keeps no count any more */
  it->pool = NULL;
  pthread_mutex_unlock(&it->lock);
}

MPMP_API int mpmp_imap_resumed(mpmp_imap_t *it, size_t *n) {
  if (it == NULL || n == NULL)
    return mpmp__err(MPMP_EINVAL, "mpmp_imap_resumed: %s is NULL",
                     it == NULL ? "the iterator" : "n");
  *n = atomic_load(&it->resumed);
  return 0;
}

MPMP_API void mpmp_imap_destroy(mpmp_imap_t *it) {
  if (it == NULL)
    return;
  /* Nobody will read the chunks out: their items not started are skipped
   * and the running ones asked to stop (a task host that ignores it is
   * killed after MPMP_TERM_GRACE), all at once, as terminate does for the
   * pool. Only stopping the deal let every chunk already at a worker run
   * to its end: an endless task hung destroy for ever. A checkpointed
   * imap's items cut short stay resumable (journal: a stopped job). */
  for (int i = 0; it->sub != NULL && i < it->nsub; i++)
    mpmp__async_terminate(it->slots[it->sub[(it->sub_head + i) %
                                            it->nslots]].job);
  int keep = 0; /* a job may still write into the slots, or call back */
  for (int i = 0; it->sub != NULL && i < it->nsub; i++) {
    slot_t *s = &it->slots[it->sub[(it->sub_head + i) % it->nslots]];
    if (mpmp__in_handler && mpmp_initialized() &&
        (!mpmp__async_done(s->job) || !slot_called(s))) {
      /* Inside a done-callback nothing can arrive while we wait (the
       * wait hung for ever): drop the job, as mpmp_async_destroy() does
       * there, and keep the memory its chunks still write into. */
      mpmp_async_destroy(s->job);
      s->job = NULL;
      keep = 1;
      continue;
    }
    drop_job(s); /* the job writes into our buffers until its chunks are
                    back */
  }
  if (it->pool != NULL) {
    end_input(it, 0);
    mpmp__pool_iter_remove(it->pool, it);
  }
  if (keep) { /* (a leak, for a destroy from a callback with work out) */
    mpmp__meter_end(&it->meter);
    mpmp__journal_close(it->jr);
    it->jr = NULL;
    return;
  }
  if (it->slots != NULL) {
    mpmp__free(it->slots[0].in);
    mpmp__free(it->slots[0].out);
  }
  pthread_mutex_destroy(&it->fin_lock);
  pthread_mutex_destroy(&it->lock);
  mpmp__meter_end(&it->meter);
  if (it->jr != NULL && mpmp_initialized() && mpmp__stopping())
    mpmp__journal_sync(it->jr);
  mpmp__journal_close(it->jr);
  mpmp__free(it->end_msg);
  mpmp__varfeed_free(it->var);
  mpmp__free(it->slots);
  mpmp__free(it->free);
  mpmp__free(it->sub);
  mpmp__free(it->fin);
  mpmp__free(it);
}
