/**
 * \file mpmp/queue.h
 * \brief Queue, JoinableQueue, SimpleQueue, Pipe and connection.wait()
 *        shared by all ranks (Python's multiprocessing.Queue & co.).
 *
 * \code
 * mpmp_queue_t q;                                  // q = Queue()
 * mpmp_queue_create(&q, 0, 256);                   // items of <= 256 bytes
 * // copy `q` into a Process argument; in the producer:
 * mpmp_queue_put(q, "job 1", 6, MPMP_FOREVER);     // q.put("job 1")
 * mpmp_queue_put(q, NULL, 0, MPMP_FOREVER);        // q.put(None): a sentinel
 * // in the consumer:
 * char item[256]; size_t n;
 * while (mpmp_queue_get(q, item, sizeof item, &n, 10.0) == 0 && n > 0)
 *   ...                                            // item = q.get()
 *
 * mpmp_conn_t parent, child;                       // parent, child = Pipe()
 * mpmp_pipe_create(&parent, &child, 1);
 * mpmp_conn_send(parent, "hello", 5, MPMP_FOREVER); // parent.send("hello")
 * // in the process that got `child`:
 * char msg[64]; size_t len;
 * mpmp_conn_recv(child, msg, sizeof msg, &len, MPMP_FOREVER);
 * \endcode
 *
 * Queues and pipe connections are shared objects (mpmp/shared.h): their
 * handles are plain values valid on every rank; copy them into a Process's
 * or task's argument as Python passes `args=(q,)`. They live in the node
 * heap of the rank that created them; ranks of that node use them with
 * atomics on shared memory, ranks of other nodes through the home node,
 * with the same semantics. Items and messages are byte strings (Python
 * pickles objects; here you choose the bytes).
 *
 * Every blocking call takes a timeout in seconds (negative: forever, 0:
 * try once, without waiting) and returns ::MPMP_ETIMEDOUT when it passes
 * (Python's queue.Full / queue.Empty), leaving the object usable. Blocked
 * callers spin for a few microseconds, then sleep in the kernel (futex)
 * until the other side acts: no core is kept busy.
 *
 * **Ordering.** A Queue is multi-producer multi-consumer across any ranks:
 * every item is delivered exactly once, and the items of one producer (one
 * thread of one rank) come out in the order it put them.
 *
 * **Freeing.** mpmp_queue_free() / mpmp_pipe_free() when every user is done
 * (e.g. after joining the processes): a call on a freed object is
 * ::MPMP_EBADF, and so is every call that waits in it at the time of the
 * free (mpmp/shared.h, "Lifetime"): a get, put or join of a Queue, a recv,
 * send or poll of a Pipe end, connection.wait() on it, each returns
 * ::MPMP_EBADF at once, saying the object was freed while it waited, with
 * nothing taken or put.
 *
 * **Timeouts.** As in mpmp/sync.h: negative, +inf and huge values wait
 * (asleep) as long as it takes, 0 and -0.0 try once; NaN is ::MPMP_EINVAL
 * and puts, takes and loses nothing.
 *
 * **Lifetime** (the rules of mpmp/shared.h, and):
 * - Queue after mpmp_queue_close(): put and put_nowait are ::MPMP_EPIPE
 *   (nothing is added); get hands out the items queued before the close,
 *   then ::MPMP_EEOF at once, every time; qsize, empty, full, capacity,
 *   task_done, join and connection.wait() work as before; closing again is
 *   0. A JoinableQueue's task_done() beyond the items put is ::MPMP_EPERM
 *   and changes no count; task_done/join on another Queue is
 *   ::MPMP_ENOTSUP.
 * - A refused get or recv (::MPMP_EMSGSIZE, a NULL buffer, NaN) takes
 *   nothing: the item or message stays first.
 * - Pipe end after mpmp_conn_close(): its send, recv and poll are
 *   ::MPMP_EPIPE; closing it again is 0; it must still be freed. The other
 *   end's recv returns the messages sent before the close, then
 *   ::MPMP_EEOF (and its poll and connection.wait() say "ready"); its send
 *   is ::MPMP_EPIPE.
 * - Pipe end after mpmp_conn_free(): its handle is ::MPMP_EBADF, and so are
 *   its calls that were waiting; the other end sees it as closed (above):
 *   its waiting recv returns ::MPMP_EEOF, its waiting send ::MPMP_EPIPE.
 *   The pipe's memory goes with the second end. mpmp_pipe_free() frees
 *   both, the first end first (a send waiting on the second sees the
 *   first closed: ::MPMP_EPIPE).
 * - The wrong direction of a one-way pipe is ::MPMP_EPERM, whatever the
 *   state.
 * - After mpmp_finalize(): ::MPMP_ENOTINIT from every call.
 */
#ifndef MPMP_QUEUE_H
#define MPMP_QUEUE_H

#include <stddef.h>
#include "mpmp/common.h"
#include "mpmp/shared.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A Queue, JoinableQueue or SimpleQueue. */
typedef struct mpmp_queue { mpmp_ref_t ref; } mpmp_queue_t;
/** One end of a Pipe (a Connection). */
typedef struct mpmp_conn { mpmp_ref_t ref; } mpmp_conn_t;

/* ---- Queue --------------------------------------------------------------- */

/**
 * Slots of a queue created with maxsize 0: as many as fit in this many bytes
 * (at least ::MPMP_QUEUE_MIN_DEFAULT_SLOTS). Python's maxsize 0 means
 * "unbounded"; a queue in shared memory needs a capacity, so put() waits
 * (or times out) when that many items are queued. mpmp_queue_capacity()
 * tells the number chosen.
 */
#define MPMP_QUEUE_DEFAULT_BYTES (1u << 20)
#define MPMP_QUEUE_MIN_DEFAULT_SLOTS 64u

/**
 * Queue(maxsize): a FIFO of up to \p maxsize items (0: the default capacity
 * above) of at most \p max_item bytes each (>= 1; fixed for its life).
 * The queue takes about maxsize * (max_item + 16, rounded up to 64) bytes of
 * the node heap. \return 0, ::MPMP_EINVAL, ::MPMP_ENOSPC (the node heap,
 * `MPMP_HEAP_SIZE`, is too small: the message says how much was asked).
 */
MPMP_API int mpmp_queue_create(mpmp_queue_t *q, size_t maxsize,
                               size_t max_item);
/** JoinableQueue(maxsize): a Queue with task_done() and join(). */
MPMP_API int mpmp_joinable_queue_create(mpmp_queue_t *q, size_t maxsize,
                                        size_t max_item);
/**
 * SimpleQueue(): a Queue of the default capacity. Use it with
 * mpmp_queue_put(), mpmp_queue_get(), mpmp_queue_empty(), mpmp_queue_close()
 * (the calls Python's SimpleQueue has; the others work too).
 */
MPMP_API int mpmp_simple_queue_create(mpmp_queue_t *q, size_t max_item);
/** Free it; every copy of the handle becomes stale (::MPMP_EBADF). */
MPMP_API int mpmp_queue_free(mpmp_queue_t q);

/**
 * put(item, timeout): append \p size bytes (0 allowed: e.g. a sentinel),
 * waiting up to \p timeout seconds for a free slot.
 * \return 0; ::MPMP_ETIMEDOUT if still full at the timeout (queue.Full);
 * ::MPMP_EMSGSIZE if \p size is over the queue's max item size;
 * ::MPMP_EPIPE once the queue is closed (also for a put waiting when it is
 * closed).
 */
MPMP_API int mpmp_queue_put(mpmp_queue_t q, const void *item, size_t size,
                            double timeout);
/** put_nowait(item): mpmp_queue_put() with timeout 0. */
MPMP_API int mpmp_queue_put_nowait(mpmp_queue_t q, const void *item,
                                   size_t size);
/**
 * get(timeout): take the oldest item into \p buf (\p max bytes), waiting up
 * to \p timeout seconds for one.
 * \param[out] size  may be NULL; the item's size, or on ::MPMP_EMSGSIZE the
 *                   size \p buf needs.
 * \return 0; ::MPMP_ETIMEDOUT if still empty at the timeout (queue.Empty);
 * ::MPMP_EMSGSIZE if the next item is larger than \p max (it stays first in
 * the queue); ::MPMP_EEOF if the queue is closed and empty (no item can come
 * any more: this replaces waiting forever). An item whose producer, a task
 * host (an isolated task), died in the middle of its put is lost with it:
 * get passes over its place (within about 20 ms of the death) and takes
 * the next one, in order. (One that a task host died in the middle of
 * getting is lost with it too; producers free its place.)
 */
MPMP_API int mpmp_queue_get(mpmp_queue_t q, void *buf, size_t max,
                            size_t *size, double timeout);
/** get_nowait(): mpmp_queue_get() with timeout 0. */
MPMP_API int mpmp_queue_get_nowait(mpmp_queue_t q, void *buf, size_t max,
                                   size_t *size);
/** qsize(): the number of items queued now (a snapshot), or an error. */
MPMP_API int mpmp_queue_qsize(mpmp_queue_t q);
/** empty(): 1 or 0 (a snapshot), or an error. */
MPMP_API int mpmp_queue_empty(mpmp_queue_t q);
/** full(): 1 or 0 (a snapshot), or an error. */
MPMP_API int mpmp_queue_full(mpmp_queue_t q);
/** The number of slots (maxsize, or the default capacity), or an error. */
MPMP_API int mpmp_queue_capacity(mpmp_queue_t q);
/**
 * close(): no more puts, by anyone (::MPMP_EPIPE); waiting puts fail, the
 * items already queued are still delivered, and once they are gone get()
 * returns ::MPMP_EEOF instead of waiting. Closing twice is harmless.
 * (Python's close() concerns only the calling process; here it is the
 * queue's end of input for everyone.)
 */
MPMP_API int mpmp_queue_close(mpmp_queue_t q);

/**
 * JoinableQueue task_done(): one item taken with get() has been processed.
 * \return 0; ::MPMP_EPERM when called more times than items were put
 * (Python's ValueError); ::MPMP_ENOTSUP on a queue that is not joinable.
 */
MPMP_API int mpmp_queue_task_done(mpmp_queue_t q);
/**
 * JoinableQueue join(): wait until every item put so far has had its
 * task_done(). \return 0, ::MPMP_ETIMEDOUT, ::MPMP_ENOTSUP (not joinable).
 */
MPMP_API int mpmp_queue_join(mpmp_queue_t q, double timeout);

/* ---- Pipe ---------------------------------------------------------------- */

/**
 * Bytes buffered in each direction of a pipe, in its node heap (64 KiB, as
 * a Linux pipe: a duplex pipe takes 128 KiB of `MPMP_HEAP_SIZE`). A message
 * of any size up to ::MPMP_PIPE_MAX_MESSAGE goes through: a longer one
 * streams through this buffer while the receiver takes it.
 */
#define MPMP_PIPE_BUFFER (64u << 10)
/** The largest message send() takes (1 GiB). */
#define MPMP_PIPE_MAX_MESSAGE ((size_t)1 << 30)

/**
 * Pipe(duplex): two connected ends. \p duplex 1: both ends send and
 * receive. \p duplex 0: \p c1 only receives and \p c2 only sends (Python's
 * order); the wrong direction is ::MPMP_EPERM.
 * \return 0, ::MPMP_EINVAL, ::MPMP_ENOSPC (node heap full).
 */
MPMP_API int mpmp_pipe_create(mpmp_conn_t *c1, mpmp_conn_t *c2, int duplex);
/**
 * Free one end (closing it first, as close() does); the pipe's memory goes
 * with its second end. A freed end's handle is ::MPMP_EBADF; its peer sees
 * end-of-file or a broken pipe, as after close().
 */
MPMP_API int mpmp_conn_free(mpmp_conn_t c);
/** Free both ends of a pipe (mpmp_conn_free() of each). */
MPMP_API int mpmp_pipe_free(mpmp_conn_t c1, mpmp_conn_t c2);

/**
 * send(msg): send \p len bytes as one message (0 allowed), waiting up to
 * \p timeout seconds for room in the pipe (timeout 0: only if all of it
 * fits now). A message longer than the pipe's buffer streams through it
 * while the receiver reads: the timeout then covers the whole message, and
 * a send that times out part-way withdraws it: the receiver never sees any
 * of it (the bytes already in the pipe keep their room until the receiver's
 * next recv() passes over them).
 * \return 0; ::MPMP_ETIMEDOUT; ::MPMP_EPIPE if this end was closed, or the
 * other end is closed (BrokenPipeError); ::MPMP_EPERM on the receive-only
 * end of a one-way pipe; ::MPMP_EMSGSIZE over ::MPMP_PIPE_MAX_MESSAGE.
 * Several senders on one end are served one whole message at a time.
 * ::MPMP_EPIPE also once the pipe is broken: a sender or receiver that was
 * a task host (an isolated task) died in the middle of a message, and what
 * it left cannot be told from the next message; the message says so, and
 * every later send and recv in that direction is ::MPMP_EPIPE. One that
 * died while it only waited (for room, for a message) breaks nothing.
 */
MPMP_API int mpmp_conn_send(mpmp_conn_t c, const void *msg, size_t len,
                            double timeout);
/**
 * recv(): take the next message into \p buf (\p max bytes), waiting up to
 * \p timeout seconds for one to start. Once a message has started it is
 * taken whole (its sender is sending it; if that send times out, the
 * message is dropped and recv waits for the next one).
 * \param[out] len  may be NULL; the message's size, or on ::MPMP_EMSGSIZE
 *                  the size \p buf needs.
 * \return 0; ::MPMP_ETIMEDOUT; ::MPMP_EMSGSIZE if the message is larger than
 * \p max (it stays in the pipe); ::MPMP_EEOF once the other end is closed
 * and every message it sent has been received (EOFError); ::MPMP_EPIPE if
 * this end was closed, or the pipe is broken (see mpmp_conn_send());
 * ::MPMP_EPERM on the send-only end of a one-way pipe.
 */
MPMP_API int mpmp_conn_recv(mpmp_conn_t c, void *buf, size_t max,
                            size_t *len, double timeout);
/**
 * poll(timeout): 1 if recv() would not wait (a message, or end-of-file, is
 * there), 0 if none came within \p timeout seconds; or an error.
 */
MPMP_API int mpmp_conn_poll(mpmp_conn_t c, double timeout);
/**
 * close(): this end is done. Its later calls are ::MPMP_EPIPE; the peer's
 * recv() returns the messages already sent, then ::MPMP_EEOF, and the
 * peer's send() fails with ::MPMP_EPIPE. Closing twice is harmless.
 */
MPMP_API int mpmp_conn_close(mpmp_conn_t c);

/**
 * multiprocessing.connection.wait(object_list, timeout): wait until at least
 * one of \p n objects is ready: a connection whose recv() would not wait
 * (mpmp_conn_poll()), or a queue whose get() would not wait (an item, or
 * closed and empty). \p objs holds their handles' `ref` members
 * (`conn.ref`, `queue.ref`).
 * \param[out] ready  may be NULL; receives the indices of the ready objects
 *                    in increasing order (room for \p n).
 * \return the number of ready objects (>= 1), ::MPMP_ETIMEDOUT if none was
 * ready within \p timeout seconds, or an error (::MPMP_EBADF naming the
 * index of a bad handle, ::MPMP_EPERM for a send-only end).
 * \note With one object it sleeps until that object is ready. With several
 * it checks them all, then sleeps 20 microseconds, doubling up to 1 ms
 * while none is ready: never a busy core, at the cost of up to 1 ms of
 * latency after a long wait.
 */
MPMP_API int mpmp_conn_wait(const mpmp_ref_t *objs, int n, double timeout,
                            int *ready);

#ifdef __cplusplus
}
#endif
#endif /* MPMP_QUEUE_H */
