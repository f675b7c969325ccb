/*
 * The objects layer as the layers above see it: its hooks (src/mpmp.c
 * lists them) and the lock owner of a Process body. The kinds' shared
 * machinery is object.h; the node heap heap.h; the futex primitives
 * shsync.h.
 */
#ifndef MPMP_OBJECTS_H
#define MPMP_OBJECTS_H

#include "rt.h"

/* object.c: the handle secret and node tables (collective), the remote
 * operations' handlers, and their release at teardown. */
int mpmp__objects_init(void);
void mpmp__objects_setup(int is_main);
void mpmp__objects_fini(void);
/* The fence of pipelined puts: once it returns, every put this rank made
 * to a queue of another node is in that queue (the home nodes said so).
 * Every operation on a shared object fences first, and so do the layers
 * above before anything another rank may see (a task's results, a
 * Manager request, mpmp_finalize): a put happens before them, as an
 * ordinary call's would. One load when nothing is in flight. Not in a
 * message handler (it returns at once there). */
extern _Atomic int mpmp__puts_in_flight;
void mpmp__obj_fence_slow(void);
static inline void mpmp__obj_fence(void) {
  if (__builtin_expect(atomic_load_explicit(&mpmp__puts_in_flight,
                                            memory_order_relaxed), 0))
    mpmp__obj_fence_slow();
}
/* The fence, waiting at most `seconds`: 0, or MPMP_ETIMEDOUT with puts
 * still unacknowledged (a task host's exit(): it must not hang there). */
int mpmp__obj_fence_within(double seconds);
int mpmp__objects_finalize(void); /* the main rank's fence at finalize */
/* Each kind registers its operations from its own file. */
void mpmp__value_setup(int is_main);
void mpmp__sync_setup(int is_main);
void mpmp__queue_setup(int is_main);
/* What mpmp_conn_wait may wait on besides pipe ends and queues (a
 * Process's sentinel): a function of a layer above, registered at its
 * setup, that says 2 if r is none of its, else 1 ready, 0 not yet, or an
 * error code. NULL (the default): only shared objects. */
typedef int (*mpmp__waitable_fn)(const mpmp_ref_t *r, const char *fn);
void mpmp__queue_waitable(mpmp__waitable_fn f);
/* SharedMemory (shm.c): release what this process still holds in the
 * node's name table; every rank, at teardown, while the heap is mapped. */
void mpmp__shm_fini(void);
/* The block's generation in its node's name table: a block made again
 * under a name has another (zero-copy maps, parallel/chunktask.c, tell a
 * worker's cached view of a name from the block the main rank names). */
uint32_t mpmp__shm_gen(const mpmp_shm_t *shm);

/* Give this thread a new lock owner id, never used before in the process:
 * it now runs another Process body (a new process, in Python's terms). */
void mpmp__owner_renew(void);
/* The same for the handles this process closed (mpmp_queue_close_local,
 * mpmp_conn_close_local): a new Process body has them all open. */
void mpmp__queue_forget_closed(void);
/* Draw owner ids from the word `shared` (memory shared with the task hosts
 * the caller forks), carrying on from the ids drawn so far; NULL: from
 * this process's own counter again. Called while no other thread of
 * mpmp's runs (a worker's setup and teardown). */
void mpmp__owner_counter_at(_Atomic uint32_t *shared);
/* This process is task host number `gen` (>= 1) of its worker: its lock
 * owner ids say so from now on (shsync.h), as do its queue slot claims.
 * Called by the host first thing, before it draws any id. */
void mpmp__owner_host(uint32_t gen);
/* The fork server reaped host `gen` of this rank: record it in the node
 * segment (mpmp__owner_dead), before anyone hears of the death. */
void mpmp__owner_host_dead(uint32_t gen);
/* The worker saw its host `gen` die: tell the nodes it sent object
 * requests to (mpmp__relay_take_reached), so that their locks it held
 * are taken over too; again for the same host, it sends nothing. Called
 * before the worker reports the death to anyone. */
void mpmp__owner_host_gone(uint32_t gen);

/*
 * The references a task host holds on objects while it sleeps in a call
 * (object.c, "Lifetime"), kept where its worker sees them: a host killed
 * in a call (almost always asleep in one: a timeout, terminate or a
 * signal finds it there) would keep its object's block from the heap for
 * good after the object is freed. The host names its words
 * (MPMP__INSIDE_SLOTS, zeroed, in its control page) first thing; each of
 * its threads shows the calls it is inside there while it sleeps
 * (mpmp__waits_sleep's hook) and clears them when it wakes. Once the host
 * is dead, its worker gives each shown reference back and clears the
 * words (again: nothing). A word is shown while its reference is held and
 * cleared before it is given back, so a death costs at worst a leak (a
 * host killed while it runs inside a call), never a second give-back;
 * more calls asleep at once than words go unrecorded.
 */
#define MPMP__INSIDE_SLOTS 8
void mpmp__obj_set_inside(_Atomic uint64_t *slots);
void mpmp__obj_leave_dead(_Atomic uint64_t *slots);

#endif /* MPMP_OBJECTS_H */
