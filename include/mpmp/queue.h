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
 * - After mpmp_queue_close_local() / mpmp_conn_close_local() (Python's
 *   close(), for the calling process only): see those calls.
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
typedef struct mpmp_queue {
  mpmp_ref_t ref; /**< its reference: opaque, copy it whole */
} mpmp_queue_t;
/** One end of a Pipe (a Connection). */
typedef struct mpmp_conn {
  mpmp_ref_t ref; /**< its reference: opaque, copy it whole */
} mpmp_conn_t;

/* ---- Queue --------------------------------------------------------------- */

/**
 * The ring of a queue created with maxsize 0 (unbounded, as Python's
 * Queue()): as many slots as fit in this many bytes (at least
 * ::MPMP_QUEUE_MIN_DEFAULT_SLOTS). Items past the ring go to an overflow
 * list in the same node heap, one heap block per item (its size rounded up
 * to 64 bytes, plus 64): such a queue grows until the node heap
 * (`MPMP_HEAP_SIZE`) is full; a put then waits, up to its timeout, for a
 * get to give room back (back-pressure, as a bounded queue's put waits for
 * a slot), and fails with ::MPMP_ENOSPC only at its timeout (at once for
 * put_nowait). Items keep their order and none is lost on the way.
 */
#define MPMP_QUEUE_DEFAULT_BYTES (1u << 20)
/** The fewest ring slots a queue created with maxsize 0 gets, however
 *  large its items (see ::MPMP_QUEUE_DEFAULT_BYTES). */
#define MPMP_QUEUE_MIN_DEFAULT_SLOTS 64u

/**
 * Queue(maxsize): a FIFO of up to \p maxsize items (0: unbounded, see
 * ::MPMP_QUEUE_DEFAULT_BYTES) of at most \p max_item bytes each (>= 1;
 * fixed for its life, bounded or not: a longer item is ::MPMP_EMSGSIZE).
 * The queue takes about maxsize * (max_item + 16, rounded up to 64) bytes of
 * the node heap (maxsize 0: its ring, 1 MiB, then what its overflow holds).
 * \param[out] q    the new queue's handle.
 * \param maxsize   its capacity in items; 0: unbounded.
 * \param max_item  the largest item in bytes (1 B to 4 GiB - 129 B: a
 *                  slot holds it and its 128-byte header in 32 bits).
 * \return 0, ::MPMP_EINVAL, ::MPMP_ENOSPC (the node heap,
 * `MPMP_HEAP_SIZE`, is too small: the message says how much was asked),
 * ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_queue_create(mpmp_queue_t *q, size_t maxsize,
                               size_t max_item);
/**
 * JoinableQueue(maxsize): a Queue with task_done() and join().
 * \param[out] q    the new queue's handle.
 * \param maxsize   its capacity in items; 0: unbounded.
 * \param max_item  the largest item in bytes.
 * \return as mpmp_queue_create().
 */
MPMP_API int mpmp_joinable_queue_create(mpmp_queue_t *q, size_t maxsize,
                                        size_t max_item);
/**
 * SimpleQueue(): an unbounded Queue (maxsize 0). Use it with
 * mpmp_queue_put(), mpmp_queue_get(), mpmp_queue_empty(), mpmp_queue_close()
 * (the calls Python's SimpleQueue has; the others work too).
 * \param[out] q    the new queue's handle.
 * \param max_item  the largest item in bytes.
 * \return as mpmp_queue_create().
 */
MPMP_API int mpmp_simple_queue_create(mpmp_queue_t *q, size_t max_item);
/**
 * Free it; every copy of the handle becomes stale (::MPMP_EBADF), and the
 * calls that wait in it return ::MPMP_EBADF.
 * \param q  the queue.
 * \return 0, ::MPMP_EBADF (freed already), ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_queue_free(mpmp_queue_t q);

/**
 * put(item, timeout): append \p size bytes (0 allowed: a sentinel, say),
 * waiting up to \p timeout seconds for a free slot.
 * \param q        the queue.
 * \param item     the item's bytes (may be NULL when \p size is 0).
 * \param size     their number (0 to the queue's max_item).
 * \param timeout  seconds (negative: forever; 0: try once).
 * \return 0; ::MPMP_ETIMEDOUT if still full at the timeout (queue.Full;
 * never on an unbounded queue); ::MPMP_EMSGSIZE if \p size is over the
 * queue's max item size; ::MPMP_EPIPE once the queue is closed (also for a
 * put waiting when it is closed), or once this process closed its handle
 * (mpmp_queue_close_local()); ::MPMP_ENOSPC when an unbounded queue needs
 * room and the node heap stays full until the timeout (the put waits for
 * items to be taken meanwhile; the message names `MPMP_HEAP_SIZE`; nothing
 * was added).
 * \note From another node than the queue's, a put of up to 8 KiB returns
 * without waiting for that node (pipelined: README, "Queue"): to an
 * unbounded queue always, to a bounded one while the credits its node's
 * last reply gave last (half the free slots it reported, one a put); out
 * of credits it waits there as above. The producer's next call on any
 * shared object comes after its items are in; a failure found later is
 * returned by its next put to the queue. Credits are not reserved: if
 * other producers took the room, the items wait on the queue's node for
 * room, in order, and that next call waits for them: no longer than its
 * own timeout (a second for a try-once call such as put_nowait), then it
 * returns ::MPMP_ETIMEDOUT without being made and the items stay on their
 * way; a call with no timeout waits as long as they do.
 */
MPMP_API int mpmp_queue_put(mpmp_queue_t q, const void *item, size_t size,
                            double timeout);
/**
 * put_nowait(item): mpmp_queue_put() with timeout 0.
 * \param q     the queue.
 * \param item  the item's bytes.
 * \param size  their number.
 * \return as mpmp_queue_put() (::MPMP_ETIMEDOUT: full).
 */
MPMP_API int mpmp_queue_put_nowait(mpmp_queue_t q, const void *item,
                                   size_t size);
/**
 * get(timeout): take the oldest item into \p buf (\p max bytes), waiting up
 * to \p timeout seconds for one.
 * \param q         the queue.
 * \param buf       room for the item.
 * \param max       the room in \p buf, in bytes.
 * \param timeout   seconds (negative: forever; 0: try once).
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
/**
 * get_nowait(): mpmp_queue_get() with timeout 0.
 * \param q          the queue.
 * \param buf        room for the item.
 * \param max        the room in \p buf, in bytes.
 * \param[out] size  the item's size (may be NULL).
 * \return as mpmp_queue_get() (::MPMP_ETIMEDOUT: empty).
 */
MPMP_API int mpmp_queue_get_nowait(mpmp_queue_t q, void *buf, size_t max,
                                   size_t *size);
/**
 * qsize(): how many items are queued.
 * \param q  the queue.
 * \return the number of items queued now (a snapshot), or an error. */
MPMP_API int mpmp_queue_qsize(mpmp_queue_t q);
/**
 * empty(): whether no item is queued.
 * \param q  the queue.
 * \return 1 or 0 (a snapshot), or an error. */
MPMP_API int mpmp_queue_empty(mpmp_queue_t q);
/**
 * full(): whether every slot holds an item.
 * \param q  the queue.
 * \return 1 or 0 (a snapshot; always 0 for an unbounded queue), or an
 * error. */
MPMP_API int mpmp_queue_full(mpmp_queue_t q);
/**
 * The queue's capacity.
 * \param q  the queue.
 * \return maxsize; INT_MAX for an unbounded queue (maxsize 0); or an
 * error. */
MPMP_API int mpmp_queue_capacity(mpmp_queue_t q);
/**
 * Close the queue for everyone (an mpmp extension; Python's close() is
 * mpmp_queue_close_local()): no more puts, by anyone (::MPMP_EPIPE);
 * waiting puts fail, the items already queued are still delivered, and
 * once they are gone get() returns ::MPMP_EEOF instead of waiting: the
 * end of input that Python programs signal with a sentinel item. Closing
 * twice is harmless.
 * \param q  the queue.
 * \return 0, or a negative error (::MPMP_EBADF).
 */
MPMP_API int mpmp_queue_close(mpmp_queue_t q);
/**
 * close(), as Python's: the calling process (this rank, all its threads)
 * is done with its handle. Its later put, put_nowait, get and get_nowait,
 * and connection.wait() on the queue, are ::MPMP_EPIPE ("this process
 * closed its handle"); qsize, empty, full, capacity, task_done, join,
 * close and free still work. Every other process's handle, and the
 * items queued, are untouched: a consumer never sees end-of-file from it
 * (that is mpmp_queue_close()). Closing twice is harmless; freeing the
 * queue forgets it.
 * \param q  the queue.
 * \return 0, ::MPMP_EBADF (freed), ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_queue_close_local(mpmp_queue_t q);

/**
 * JoinableQueue task_done(): one item taken with get() has been processed.
 * \param q  the queue.
 * \return 0; ::MPMP_EPERM when called more times than items were put
 * (Python's ValueError); ::MPMP_ENOTSUP on a queue that is not joinable.
 */
MPMP_API int mpmp_queue_task_done(mpmp_queue_t q);
/**
 * JoinableQueue join(): wait until every item put so far has had its
 * task_done().
 * \param q        the queue.
 * \param timeout  seconds (negative: forever; 0: look once).
 * \return 0, ::MPMP_ETIMEDOUT, ::MPMP_ENOTSUP (not joinable).
 */
MPMP_API int mpmp_queue_join(mpmp_queue_t q, double timeout);

/* ---- Pipe ---------------------------------------------------------------- */

/**
 * Bytes buffered in each direction of a pipe, in its node heap (64 KiB, as
 * a Linux pipe: a duplex pipe takes 128 KiB of `MPMP_HEAP_SIZE`). A message
 * of any size up to ::MPMP_PIPE_MAX_MESSAGE goes through: a longer one
 * streams through this buffer while the receiver takes it. Each message
 * takes 8 bytes more than its size rounded up to 8 (a 1-byte message takes
 * 16): an empty pipe holds at most ::MPMP_PIPE_BUFFER - 8 bytes of one
 * message at once, so a send with timeout 0 of a longer one is always
 * ::MPMP_ETIMEDOUT, and 4096 one-byte messages fill it.
 */
#define MPMP_PIPE_BUFFER (64u << 10)
/** The largest message send() takes (1 GiB). */
#define MPMP_PIPE_MAX_MESSAGE ((size_t)1 << 30)

/**
 * Pipe(duplex): two connected ends. \p duplex 1: both ends send and
 * receive. \p duplex 0: \p c1 only receives and \p c2 only sends (Python's
 * order); the wrong direction is ::MPMP_EPERM.
 * \param[out] c1  the first end (one-way: the receiving end).
 * \param[out] c2  the second end (one-way: the sending end).
 * \param duplex   1: both ways; 0: one way, \p c2 to \p c1.
 * \return 0, ::MPMP_EINVAL, ::MPMP_ENOSPC (node heap full), ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_pipe_create(mpmp_conn_t *c1, mpmp_conn_t *c2, int duplex);
/**
 * Free one end (closing it first, as close() does); the pipe's memory goes
 * with its second end. A freed end's handle is ::MPMP_EBADF; its peer sees
 * end-of-file or a broken pipe, as after close().
 * \param c  the end.
 * \return 0, ::MPMP_EBADF (freed already), ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_conn_free(mpmp_conn_t c);
/**
 * Free both ends of a pipe (mpmp_conn_free() of each, \p c1 first).
 * \param c1  one end.
 * \param c2  the other end.
 * \return 0, or the first error of the two frees (both are tried).
 */
MPMP_API int mpmp_pipe_free(mpmp_conn_t c1, mpmp_conn_t c2);

/**
 * send(msg): send \p len bytes as one message (0 allowed), waiting up to
 * \p timeout seconds for room in the pipe (timeout 0: only if all of it
 * fits now). A message longer than the pipe's buffer streams through it
 * while the receiver reads: the timeout then covers the whole message, and
 * a send that times out part-way withdraws it: the receiver never sees any
 * of it (the bytes already in the pipe keep their room until the receiver's
 * next recv() passes over them).
 * \param c        the end to send from.
 * \param msg      the message's bytes (may be NULL when \p len is 0).
 * \param len      their number (0 to ::MPMP_PIPE_MAX_MESSAGE).
 * \param timeout  seconds (negative: forever; 0: only if it fits now).
 * \return 0; ::MPMP_ETIMEDOUT; ::MPMP_EPIPE if this end was closed, or the
 * other end is closed (BrokenPipeError); ::MPMP_EPERM on the receive-only
 * end of a one-way pipe; ::MPMP_EMSGSIZE over ::MPMP_PIPE_MAX_MESSAGE.
 * Several senders on one end are served one whole message at a time.
 * ::MPMP_EPIPE also once the pipe is broken: a sender or receiver that was
 * a task host (an isolated task) died in the middle of a message, and what
 * it left cannot be told from the next message; the message says so, and
 * every later send and recv in that direction is ::MPMP_EPIPE. One that
 * died while it only waited (for room, for a message) breaks nothing.
 *
 * From another node than the pipe's (the node of the rank that created
 * it), a send of up to 8 KiB returns without waiting for that node while
 * the room its last reply reported covers it (what was sent since comes
 * off), as a write to an OS pipe returns once the kernel holds the bytes;
 * out of room, a send waits as above. (Unlike a kernel's buffer, the bytes
 * stay in the sender until that node acknowledges them: a task host killed
 * right after such sends loses them, as a crash loses pipelined puts:
 * README, "Queues and pipes".) The order holds as for a put to a
 * queue of another node: the sender's next call on any shared object,
 * Manager call, submission, task end or mpmp_finalize() comes after the
 * messages it sent. A failure found there later (the other end was
 * closed, this end freed) is printed at once and returned by the next
 * send on this end (::MPMP_EPIPE, "N message(s) sent on this connection
 * before were not delivered: ..."). With another sender on the same end
 * the room may be gone when the messages arrive: they then wait there for
 * room, in order, and the next call of any thread of the sender's process
 * on a shared object waits for them (without the send's timeout): a
 * process whose one thread reads an end that another of its threads
 * sends on should not share that end with a third sender.
 */
MPMP_API int mpmp_conn_send(mpmp_conn_t c, const void *msg, size_t len,
                            double timeout);
/**
 * recv(): take the next message into \p buf (\p max bytes), waiting up to
 * \p timeout seconds for one to start. Once a message has started it is
 * taken whole (its sender is sending it; if that send times out, the
 * message is dropped and recv waits for the next one).
 * \param c        the end to receive on.
 * \param buf      room for the message.
 * \param max      the room in \p buf, in bytes.
 * \param timeout  seconds (negative: forever; 0: only if one is there).
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
 * \param c        the end.
 * \param timeout  seconds (negative: forever; 0: look once).
 * \return 1, 0, or a negative error (::MPMP_EPIPE after close,
 * ::MPMP_EPERM on a send-only end, ::MPMP_EBADF).
 */
MPMP_API int mpmp_conn_poll(mpmp_conn_t c, double timeout);
/**
 * Close this end for every process: its later calls are ::MPMP_EPIPE in
 * every process; the peer's recv() returns the messages already sent, then
 * ::MPMP_EEOF, and the peer's send() fails with ::MPMP_EPIPE. Closing
 * twice is harmless. This is what Python's close() amounts to once the
 * last process holding the end closes it (or exits): call it from the
 * process that is last done with the end. mpmp_conn_close_local() closes
 * this process's handle only.
 * \param c  the end.
 * \return 0, or a negative error (::MPMP_EBADF).
 */
MPMP_API int mpmp_conn_close(mpmp_conn_t c);
/**
 * close(), as Python's Connection.close() in one process: the calling
 * process (this rank, all its threads) is done with its handle of the end.
 * Its later send, recv, poll and connection.wait() on it are ::MPMP_EPIPE
 * ("this process closed its handle"); close and free still work. Other
 * processes keep using the end (Python's test_spawn_close: a parent closes
 * the child's end right after start, the child goes on using it). The
 * difference from Python: a process's handles are plain values with no
 * count of copies, so the peer sees end-of-file only from
 * mpmp_conn_close() (or mpmp_conn_free()), never from the last
 * close_local(). Closing twice is harmless; freeing the end forgets it.
 * \param c  the end.
 * \return 0, ::MPMP_EBADF (freed), ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_conn_close_local(mpmp_conn_t c);

/**
 * multiprocessing.connection.wait(object_list, timeout): wait until at least
 * one of \p n objects is ready: a connection whose recv() would not wait
 * (mpmp_conn_poll()), a queue whose get() would not wait (an item, or
 * closed and empty), or a Process sentinel (mpmp_process_sentinel(), on the
 * main rank) whose process has ended. \p objs holds their handles' `ref`
 * members (`conn.ref`, `queue.ref`) and the sentinels. An object whose
 * handle this process closed (mpmp_conn_close_local(),
 * mpmp_queue_close_local()) is ::MPMP_EPIPE.
 * \param objs        the handles' references.
 * \param n           their number (>= 1).
 * \param timeout     seconds (negative: forever; 0: look once).
 * \param[out] ready  may be NULL; receives the indices of the ready objects
 *                    in increasing order (room for \p n).
 * \return the number of ready objects (>= 1), ::MPMP_ETIMEDOUT if none was
 * ready within \p timeout seconds, or an error (::MPMP_EBADF naming the
 * index of a bad handle or of a sentinel whose process was destroyed,
 * ::MPMP_EPERM for a send-only end or a sentinel off the main rank).
 * \note With one object (not a sentinel) it sleeps until that object is
 * ready. With several, or a sentinel,
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
