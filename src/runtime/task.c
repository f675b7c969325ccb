/*
 * The task registry and the task context.
 *
 * MPMP_TASK(fn) registers at load time (a constructor), on every rank of the
 * same binary. mpmp_init() sorts the table by name, so a task's id (its index)
 * is the same on every rank, and checks that all ranks agree: a different
 * binary on some node is a clear error at start-up, not a wrong function
 * called later.
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt.h"

/*
 * Registrations after mpmp_init() (by hand, or a library's MPMP_TASK when
 * it is dlopen()ed late): the table was sorted and checked against every
 * rank's at init, so they are not added (the other ranks would not know
 * them, and the lookup index would point into a table moved by the
 * growth). The first few are remembered, so that a call given one says
 * why it is refused.
 */
#define LATE_MAX 16
static struct late { mpmp_task_fn fn; const char *name; } late[LATE_MAX];
static int nlate;
static pthread_mutex_t late_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *late_name(mpmp_task_fn fn) {
  const char *name = NULL;
  pthread_mutex_lock(&late_lock);
  for (int i = 0; i < nlate && name == NULL; i++)
    if (late[i].fn == fn)
      name = late[i].name;
  pthread_mutex_unlock(&late_lock);
  return name;
}

static void add_task(mpmp_task_fn fn, const char *name, const char *file,
                     int kind, mpmp__loop_fn loop) {
  mpmp__rt_t *rt = &mpmp__rt;
  if (fn == NULL || name == NULL)
    return;
  if (rt->tasks_by_fn != NULL) { /* after mpmp_init(): see above */
    pthread_mutex_lock(&late_lock);
    int known = 0;
    for (int i = 0; i < nlate; i++)
      known |= late[i].fn == fn;
    if (!known && nlate < LATE_MAX)
      late[nlate++] = (struct late){fn, name};
    pthread_mutex_unlock(&late_lock);
    return;
  }
  for (int i = 0; i < rt->ntasks; i++)
    if (rt->tasks[i].fn == fn) { /* registered twice (e.g. from an inline
                                    header, or by hand too): one entry */
      if (rt->tasks[i].loop == NULL && rt->tasks[i].kind == kind)
        rt->tasks[i].loop = loop;
      return;
    }
  if (rt->ntasks == rt->tasks_cap) {
    int cap = rt->tasks_cap ? 2 * rt->tasks_cap : 32;
    mpmp__task_entry_t *t = mpmp__realloc(rt->tasks, (size_t)cap * sizeof *t);
    if (t == NULL)
      abort(); /* before main(): nothing else can be done */
    rt->tasks = t;
    rt->tasks_cap = cap;
  }
  rt->tasks[rt->ntasks++] =
      (mpmp__task_entry_t){fn, name, file ? file : "", kind, loop};
}

/* MPMP_TASK's registration, with the item loop it defines (task.h): maps
 * run it instead of calling fn per item. A function registered by hand
 * has none (chunk.c runs the same loop through fn's pointer). */
MPMP_API void mpmp__task_register_loop(mpmp_task_fn fn, const char *name,
                                       const char *file, mpmp__loop_fn loop) {
  add_task(fn, name, file, MPMP__TASK_ITEM, loop);
}

MPMP_API void mpmp_task_register(mpmp_task_fn fn, const char *name,
                                 const char *file) {
  add_task(fn, name, file, MPMP__TASK_ITEM, NULL);
}

/* A chunk task shares the table (and so its ids, its order and the check
 * that all ranks agree) with the per-item tasks; its kind tells them apart
 * wherever a task is looked up, so that neither is ever called as the
 * other. */
MPMP_API void mpmp_chunk_task_register(mpmp_chunk_fn fn, const char *name,
                                       const char *file) {
  mpmp_task_fn as_task;
  memcpy(&as_task, &fn, sizeof as_task); /* stored, never called as one */
  add_task(as_task, name, file, MPMP__TASK_CHUNK, NULL);
}

static int cmp_name(const void *a, const void *b) {
  const mpmp__task_entry_t *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : strcmp(x->file, y->file);
}

static int cmp_fn(const void *a, const void *b) {
  const mpmp__task_entry_t *x = *(mpmp__task_entry_t *const *)a;
  const mpmp__task_entry_t *y = *(mpmp__task_entry_t *const *)b;
  uintptr_t p = (uintptr_t)x->fn, q = (uintptr_t)y->fn;
  return (p > q) - (p < q);
}

/* "name\n" for every task, in id order ("name*\n" for a chunk task):
 * what ranks compare. */
static char *names_blob(int *len) {
  size_t n = 1;
  for (int i = 0; i < mpmp__rt.ntasks; i++)
    n += strlen(mpmp__rt.tasks[i].name) + 2;
  char *blob = mpmp__malloc(n), *p = blob;
  if (blob == NULL)
    return NULL;
  *blob = '\0'; /* no tasks: the empty string */
  for (int i = 0; i < mpmp__rt.ntasks; i++)
    p += sprintf(p, "%s%s\n", mpmp__rt.tasks[i].name,
                 mpmp__rt.tasks[i].kind == MPMP__TASK_CHUNK ? "*" : "");
  *len = (int)(p - blob) + 1;
  return blob;
}

/* Describe how this rank's table differs from rank 0's, or return 0. */
static int compare_tables(const char *mine, const char *root, char *why,
                          size_t n) {
  if (!strcmp(mine, root))
    return 0;
  const char *a = mine, *b = root;
  while (*a && *a == *b)
    a++, b++;
  while (a > mine && a[-1] != '\n')
    a--;
  b = root + (a - mine);
  snprintf(why, n,
           "rank %d registers task '%.*s' where rank 0 has '%.*s': every rank "
           "must run the same binary (was a different build started on some "
           "node?)", mpmp__net.rank, (int)strcspn(a, "\n"), *a ? a : "(none)",
           (int)strcspn(b, "\n"), *b ? b : "(none)");
  return 1;
}

/* Collective: the first rank whose table differs explains it to all. */
static int verify(MPI_Comm comm) {
  int len = 0, rootlen;
  char *mine = names_blob(&len), why[512] = "";
  if (mine == NULL)
    return mpmp__err(MPMP_ENOMEM, "out of memory while checking tasks");
  rootlen = len;
  int mrc = MPI_Bcast(&rootlen, 1, MPI_INT, 0, comm);
  if (mrc != MPI_SUCCESS) {
    mpmp__free(mine);
    return mpmp__mpi_err(mrc, "MPI_Bcast of the task table");
  }
  char *root = mpmp__malloc((size_t)rootlen);
  if (root == NULL) {
    mpmp__free(mine);
    return mpmp__err(MPMP_ENOMEM, "out of memory while checking tasks");
  }
  if (mpmp__net.rank == 0)
    memcpy(root, mine, (size_t)rootlen);
  mrc = MPI_Bcast(root, rootlen, MPI_CHAR, 0, comm);
  int bad = mrc == MPI_SUCCESS && compare_tables(mine, root, why, sizeof why);
  int first = bad ? mpmp__net.rank : mpmp__net.size, culprit = 0;
  if (mrc == MPI_SUCCESS)
    mrc = MPI_Allreduce(&first, &culprit, 1, MPI_INT, MPI_MIN, comm);
  mpmp__free(mine);
  mpmp__free(root);
  if (mrc != MPI_SUCCESS)
    return mpmp__mpi_err(mrc, "checking the task tables (MPI)");
  if (culprit == mpmp__net.size)
    return 0;
  if ((mrc = MPI_Bcast(why, sizeof why, MPI_CHAR, culprit, comm)) != MPI_SUCCESS)
    return mpmp__mpi_err(mrc, "MPI_Bcast of the task table difference");
  return mpmp__err(MPMP_EMISMATCH, "task tables differ: %s", why);
}

/*
 * Two functions under one name and file (the table is sorted by both, so
 * they are neighbours): a name by hand given twice, or a static function
 * defined with MPMP_TASK in a header that two sources include. Their order
 * in the table, hence which one an id calls, would rest on the order of
 * registration alone, and errors, mpmp_task_name() and a checkpoint
 * journal (which knows a map's task by name) could not tell them apart:
 * refused at init, on every rank alike (the tables are equal, verify()).
 */
static int check_unique(const mpmp__rt_t *rt) {
  for (int i = 1; i < rt->ntasks; i++) {
    const mpmp__task_entry_t *a = &rt->tasks[i - 1], *b = &rt->tasks[i];
    if (strcmp(a->name, b->name) || strcmp(a->file, b->file))
      continue;
    return mpmp__err(MPMP_EINVAL,
                     "two different functions are registered as task '%s'%s%s"
                     ": give each its own name (a task defined with "
                     "MPMP_TASK belongs in one .c file, not in a header "
                     "as a static function)", a->name,
                     *a->file ? " in " : "", a->file);
  }
  return 0;
}

int mpmp__tasks_setup(MPI_Comm comm) {
  mpmp__rt_t *rt = &mpmp__rt;
  rt->tasks_by_fn = mpmp__malloc((size_t)rt->ntasks * sizeof *rt->tasks_by_fn);
  if (rt->tasks_by_fn == NULL)
    return mpmp__err(MPMP_ENOMEM, "out of memory for the task index");
  if (rt->ntasks > 0) { /* qsort's base may not be NULL, even for 0 items */
    qsort(rt->tasks, (size_t)rt->ntasks, sizeof *rt->tasks, cmp_name);
    for (int i = 0; i < rt->ntasks; i++)
      rt->tasks_by_fn[i] = &rt->tasks[i];
    qsort(rt->tasks_by_fn, (size_t)rt->ntasks, sizeof *rt->tasks_by_fn, cmp_fn);
  }
  int rc = verify(comm); /* collective: first, so that all ranks reach it */
  return rc ? rc : check_unique(rt);
}

void mpmp__tasks_fini(void) {
  /* The table itself stays: it was filled before main() and a later
   * mpmp_init() (with a caller-owned MPI) needs it again. */
  mpmp__free(mpmp__rt.tasks_by_fn);
  mpmp__rt.tasks_by_fn = NULL;
}

static const mpmp__task_entry_t *find_fn(mpmp_task_fn fn) {
  int lo = 0, hi = mpmp__rt.ntasks - 1;
  if (mpmp__rt.tasks_by_fn == NULL)
    return NULL;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    uintptr_t p = (uintptr_t)mpmp__rt.tasks_by_fn[mid]->fn;
    if (p == (uintptr_t)fn)
      return mpmp__rt.tasks_by_fn[mid];
    if (p < (uintptr_t)fn)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return NULL;
}

/* fn is not a registered task (of either kind): say how to register it.
 * `pre` starts the message ("mpmp_x: ", or ""). */
static int not_a_task(mpmp_task_fn fn, const char *macro, const char *pre) {
  Dl_info info;
  const char *sym = NULL;
  /* ISO C forbids converting a function pointer to void *; POSIX needs it. */
  void *addr;
  memcpy(&addr, &fn, sizeof addr);
  if (dladdr(addr, &info) && info.dli_sname && info.dli_saddr == addr)
    sym = info.dli_sname;
  const char *name = late_name(fn);
  if (name != NULL)
    return mpmp__err(MPMP_ENOTASK, "%stask '%s' was registered after "
                     "mpmp_init(), which it does not know (the ranks agree "
                     "on their tasks at init): register it before "
                     "mpmp_init(), on every rank (%s does it when the "
                     "program loads)", pre, name, macro);
  return mpmp__err(MPMP_ENOTASK,
                   "%sfunction %p (%s) is not a registered task: add "
                   "%s(%s); at file scope after its definition", pre,
                   addr, sym ? sym : "symbol unknown", macro,
                   sym ? sym : "fn");
}

/* fn is NULL, of the other kind, or not registered: say so, the message
 * starting with "call: " (NULL: without). */
__attribute__((noinline, cold)) static int bad_task(
    mpmp_task_fn fn, const mpmp__task_entry_t *e, int kind, const char *call) {
  int chunk = kind == MPMP__TASK_CHUNK;
  char pre[80] = "";
  if (call != NULL)
    snprintf(pre, sizeof pre, "%s: ", call);
  if (fn == NULL)
    return mpmp__err(MPMP_EINVAL, "%sthe %stask function is NULL", pre,
                     chunk ? "chunk " : "");
  if (e != NULL && e->kind == MPMP__TASK_CHUNK)
    return mpmp__err(MPMP_ENOTASK, "%s'%s' is a chunk task (MPMP_CHUNK_TASK), "
                     "called once per chunk: run it with "
                     "mpmp_pool_map_chunks() or mpmp_pool_map_shm(); this "
                     "call takes a per-item task (MPMP_TASK)", pre, e->name);
  if (e != NULL)
    return mpmp__err(MPMP_ENOTASK, "%s'%s' is a per-item task (MPMP_TASK): a "
                     "chunk map calls an mpmp_chunk_fn registered with "
                     "MPMP_CHUNK_TASK (run this one with mpmp_pool_map())",
                     pre, e->name);
  return not_a_task(fn, chunk ? "MPMP_CHUNK_TASK" : "MPMP_TASK", pre);
}

int mpmp__task_id_kind(mpmp_task_fn fn, int kind, const char *call) {
  const mpmp__task_entry_t *e = fn != NULL ? find_fn(fn) : NULL;
  if (__builtin_expect(e != NULL && e->kind == kind, 1))
    return (int)(e - mpmp__rt.tasks);
  return bad_task(fn, e, kind, call); /* (the message: off the hot path) */
}

int mpmp__task_id(mpmp_task_fn fn, const char *call) {
  return mpmp__task_id_kind(fn, MPMP__TASK_ITEM, call);
}

const mpmp__task_entry_t *mpmp__task_get(int id) {
  if (id < 0 || id >= mpmp__rt.ntasks)
    return NULL;
  return &mpmp__rt.tasks[id];
}

MPMP_API const char *mpmp_task_name(mpmp_task_fn fn) {
  const mpmp__task_entry_t *e = find_fn(fn);
  if (e != NULL)
    return e->name;
  for (int i = 0; i < mpmp__rt.ntasks; i++) /* before init: unsorted */
    if (mpmp__rt.tasks[i].fn == fn)
      return mpmp__rt.tasks[i].name;
  return NULL;
}

/* ---- the task context -------------------------------------------------- */

/* (The names in parentheses: task.h makes mpmp_arg and mpmp_out macros for
 * their inline fast paths, which call these for everything else.) */
MPMP_API const void *(mpmp_arg)(const mpmp_ctx_t *ctx, size_t *size) {
  if (size != NULL)
    *size = ctx ? ctx->arg_size : 0;
  return ctx ? ctx->arg : NULL;
}

/* The guard after a result buffer (see mpmp__out_check): 64 bytes of a
 * pattern no result is likely to end with, set and compared whole (an
 * apply's round trip pays for both). */
static const unsigned char guard[MPMP__OUT_GUARD + 1] =
    "\xa5\xb8\x9f\xf2\xd1\x34\x0b\x6e\x4d\xa0\x87\x9a\xf9\xdc\x33\x16"
    "\x75\x48\xaf\x82\xe1\xc4\xdb\x3e\x1d\x70\x57\xaa\x89\xec\xc3\x26"
    "\x05\x18\x7f\x52\xb1\x94\xeb\xce\x2d\x00\x67\x7a\x59\xbc\x93\xf6"
    "\xd5\x28\x0f\x62\x41\xa4\xbb\x9e\xfd\xd0\x37\x0a\x69\x4c\xa3\x86";

void mpmp__guard_set(void *end) { memcpy(end, guard, MPMP__OUT_GUARD); }

size_t mpmp__guard_changed(const void *end) {
  const unsigned char *g = end;
  if (memcmp(g, guard, MPMP__OUT_GUARD) == 0)
    return MPMP__OUT_GUARD;
  size_t k = 0;
  while (g[k] == guard[k])
    k++;
  return k;
}

/*
 * A size the caller does not accept fails the task with a message, but the
 * task still gets a (scratch) buffer: most tasks write through the pointer
 * without checking it, and a crashed worker would lose far more than the
 * one item.
 */
MPMP_API void *(mpmp_out)(mpmp_ctx_t *ctx, size_t size) {
  if (ctx == NULL)
    return NULL;
  if (ctx->slot != NULL) { /* map: every result has the same size */
    if (size == ctx->out_size)
      return ctx->slot;
    mpmp_fail(ctx, "the task asked for a %zu-byte result; this map's "
              "results are %zu bytes each", size, ctx->out_size);
  } else if (ctx->out_max == 0 && size > 0) {
    mpmp_fail(ctx, "mpmp_out() asked for a result of %zu bytes where none is "
              "taken: a chunk task writes its results through the out "
              "pointer it is given, and a Barrier's action returns none",
              size);
  } else if (size > ctx->out_max) {
    mpmp_fail(ctx, "the task's result of %zu bytes exceeds the %zu bytes the "
              "caller accepts", size, ctx->out_max);
  }
  /* More than the machine's memory is never tried: it cannot be had, and
   * allocators that abort on absurd sizes (ASan's) would end the rank. */
  void *p = size <= mpmp__phys_bytes()
                ? mpmp__realloc(ctx->out, size + MPMP__OUT_GUARD)
                : NULL;
  if (p == NULL) {
    mpmp_fail(ctx, "out of memory for a result of %zu bytes", size);
    return NULL;
  }
  ctx->out = p;
  ctx->out_size = size;
  mpmp__guard_set((char *)p + size);
  return p;
}

/*
 * A task that writes past the buffer mpmp_out() gave it (an off-by-one
 * loop, a result struct larger than the size it asked for) damages the
 * heap of its worker or task host, and the crash comes later, in another
 * item, which the report then names. So the buffer has MPMP__OUT_GUARD
 * bytes more, filled with a pattern, and the item is failed here, naming
 * the task's own mistake, when the pattern changed; writes within those
 * bytes damaged nothing. (A map's fixed-size results are slots side by
 * side: only what a chunk's last item writes past its slot is caught,
 * by the guards of mpmp__guard_set after the chunk's results.)
 */
void mpmp__out_check(mpmp_ctx_t *ctx) {
  size_t k = mpmp__guard_changed((const char *)ctx->out + ctx->out_size);
  if (k < MPMP__OUT_GUARD)
    mpmp_fail(ctx, "the task wrote past the end of the %zu-byte result "
              "buffer that mpmp_out() gave it (byte %zu after it was "
              "changed): its result is dropped. Ask mpmp_out() for the "
              "whole result's size", ctx->out_size, k);
}

/* What a failure says when not even a few KiB were left for its message:
 * never freed (mpmp__ctx_fini knows it). */
static char fail_oom[] = "the task failed, and there was no memory left for "
                         "its message";

MPMP_API int mpmp_fail(mpmp_ctx_t *ctx, const char *fmt, ...) {
  if (ctx == NULL || fmt == NULL)
    return MPMP_ETASK;
  if (ctx->errmsg == NULL) { /* the first failure is the one reported */
    va_list ap;
    va_start(ap, fmt);
    ctx->errmsg = mpmp__vformat(fmt, ap, NULL);
    va_end(ap);
    if (ctx->errmsg == NULL)
      ctx->errmsg = fail_oom;
  }
  return MPMP_ETASK;
}

MPMP_API int mpmp_should_stop(const mpmp_ctx_t *ctx) {
  if (ctx == NULL || !mpmp__stopped(ctx))
    return 0;
  /* Remembered (the context is the library's own, never const): a task
   * that returns after this answer is taken as cut short. */
  ((mpmp_ctx_t *)ctx)->saw_stop = 1;
  return 1;
}

void mpmp__ctx_fini(mpmp_ctx_t *ctx) {
  mpmp__free(ctx->out);
  if (ctx->errmsg != fail_oom)
    mpmp__free(ctx->errmsg);
  ctx->out = NULL;
  ctx->errmsg = NULL;
}
