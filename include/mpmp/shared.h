/**
 * \file mpmp/shared.h
 * \brief Shared objects, and Value / Array / RawValue / RawArray
 *        (Python's multiprocessing.Value, Array, sharedctypes).
 *
 * \code
 * mpmp_value_t counter;                       // Value('i', 0)
 * mpmp_value_create(&counter, MPMP_INT32, NULL, 1);
 * // pass `counter` to a Process or task by copying it into the argument
 * mpmp_value_add(counter, 1, NULL);           // atomic: no lock needed
 *
 * mpmp_lock_t lk;                             // with counter.get_lock():
 * mpmp_value_get_lock(counter, &lk);
 * mpmp_lock_acquire(lk, MPMP_FOREVER);
 * int32_t v; mpmp_value_load(counter, &v); v = v * 2 + 1; mpmp_value_store(counter, &v);
 * mpmp_lock_release(lk);
 * \endcode
 *
 * **Handles.** Every shared object (these, the locks of mpmp/sync.h, and
 * later queues and pipes) is named by a small plain struct that is valid on
 * every rank of the job: copy it into a Process's or task's argument and use
 * it there, exactly as Python passes `args=(counter,)`. Creating an object
 * is not collective: any rank may create or free one at any time, while the
 * others run tasks. A handle carries a generation tag: a freed, stale,
 * zeroed or garbage handle is ::MPMP_EBADF with a message, never a crash or
 * a write into another object. Freeing an object ends the calls that wait
 * in it (below).
 *
 * **Lifetime.** The rules below hold for every shared object (Value,
 * Array, the objects of mpmp/sync.h and mpmp/queue.h), on every rank:
 * - After its free call (mpmp_value_free(), mpmp_lock_free(), ...), every
 *   call with any copy of its handle, from any rank, is ::MPMP_EBADF with
 *   a message saying it was freed; freeing it again too. Nothing else is
 *   touched: the memory may hold a new object, which the old handle never
 *   reaches (the generation tag). This includes the calls that would do
 *   nothing, such as an Array slice of 0 elements.
 * - The lock that mpmp_value_get_lock() / mpmp_array_get_lock() /
 *   mpmp_cond_get_lock() hands out belongs to its object: mpmp_lock_free()
 *   on it is ::MPMP_EINVAL, and it goes (::MPMP_EBADF) with the object.
 * - After mpmp_finalize() (and on a worker rank after mpmp_init() returned
 *   ::MPMP_WORKER_DONE) the node heap is gone: every call with a handle,
 *   any create call and mpmp_heap_info() are ::MPMP_ENOTINIT. A handle
 *   made before mpmp_finalize() stays invalid in a later mpmp_init()
 *   (::MPMP_EBADF): each init draws a new tag secret.
 * - Freeing an object while calls wait in it, on any rank or thread (a get
 *   on an empty Queue, an acquire of a held Lock, a wait on an Event, a
 *   Condition or a Barrier, a Pipe's recv, send or poll, connection.wait(),
 *   also with ::MPMP_FOREVER and from other nodes), ends those waits: each
 *   returns ::MPMP_EBADF within milliseconds, with a message saying that
 *   the object was freed while the call waited (e.g. "mpmp_queue_get: the
 *   Queue was freed while this call waited"), having taken and changed
 *   nothing. The object's memory goes back to the heap only once the last
 *   such call has left it, so no call ever reads or writes an object
 *   created later in the same memory. (A Condition made with a Lock of
 *   yours first takes that Lock back, as every wait does; see
 *   mpmp/sync.h.)
 * - A call that does not wait and runs at the very moment of the free (a
 *   Value's load, store or add, an Array element's, the acquire of a free
 *   Lock, a release) holds no such claim on the memory, to stay as fast as
 *   a bare atomic: that is a race, as freeing memory under a running call
 *   is in C. It fails with ::MPMP_EBADF or acts on the freed object, where
 *   nobody sees it, unless a new object took the memory within those few
 *   instructions: then it may act on that one. Free when no such call can
 *   still run (e.g. after join).
 *
 * **Where objects live.** An object lives in the shared heap of the node
 * whose rank created it (`MPMP_HEAP_SIZE` bytes per node, 16 MiB by
 * default). Ranks of that node use it with plain loads, stores and C11
 * atomics; ranks on other nodes send each operation to the home node, where
 * it is done with the same atomics (README, "Design"), so the semantics are
 * the same everywhere, only slower.
 */
#ifndef MPMP_SHARED_H
#define MPMP_SHARED_H

#include <stddef.h>
#include <stdint.h>
#include "mpmp/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The reference inside every shared-object handle (24 bytes). Treat it as
 * opaque: copy it, never build or change one.
 */
typedef struct mpmp_ref {
  uint64_t off;   /**< where the object lives in its home node's heap */
  uint32_t node;  /**< the home node */
  uint32_t gen;   /**< generation: 0 never names a live object */
  uint16_t kind;  /**< what the object is */
  uint16_t type;  /**< element type (Value/Array) */
  uint32_t tag;   /**< check value over the fields above */
} mpmp_ref_t;

/** A Value or RawValue (one scalar). */
typedef struct mpmp_value {
  mpmp_ref_t ref; /**< its reference: opaque, copy it whole */
} mpmp_value_t;
/** An Array or RawArray (a fixed number of scalars). */
typedef struct mpmp_array {
  mpmp_ref_t ref; /**< its reference: opaque, copy it whole */
} mpmp_array_t;
/** A Lock or RLock (mpmp/sync.h); also what get_lock() gives. */
typedef struct mpmp_lock {
  mpmp_ref_t ref; /**< its reference: opaque, copy it whole */
} mpmp_lock_t;

/** Element types; Python's typecodes in brackets. */
typedef enum mpmp_type {
  MPMP_INT8 = 1, /**< 'b' */
  MPMP_UINT8,    /**< 'B' */
  MPMP_INT16,    /**< 'h' */
  MPMP_UINT16,   /**< 'H' */
  MPMP_INT32,    /**< 'i' (and 'l' where long is 32 bits) */
  MPMP_UINT32,   /**< 'I' */
  MPMP_INT64,    /**< 'q' (and 'l' on LP64) */
  MPMP_UINT64,   /**< 'Q' */
  MPMP_FLOAT,    /**< 'f' */
  MPMP_DOUBLE,   /**< 'd' */
  MPMP_BYTE      /**< 'c': a raw byte; no arithmetic */
} mpmp_type_t;

/**
 * The element type of a Python typecode ('l' and 'L' follow C's long).
 * \param code  a typecode of Python's array and ctypes: 'b', 'B', 'h', 'H',
 *              'i', 'I', 'l', 'L', 'q', 'Q', 'f', 'd', 'c'.
 * \return the type of Python typecode \p code ('i', 'd', ...), or 0 if
 * unknown. */
MPMP_API mpmp_type_t mpmp_typecode(char code);
/**
 * The size of an element type.
 * \param type  an element type.
 * \return bytes per element of \p type (0 if not a type). */
MPMP_API size_t mpmp_type_size(mpmp_type_t type);
/**
 * The name of an element type.
 * \param type  an element type.
 * \return "int32", "double", ... ("?" if not a type); a static string. */
MPMP_API const char *mpmp_type_name(mpmp_type_t type);

/* ---- Value --------------------------------------------------------------- */

/**
 * Create a Value of \p type, initialised from \p init (NULL: zero), in the
 * node heap of the calling rank (Python's Value(typecode, init)).
 * \param[out] v  the new Value's handle.
 * \param type    its element type.
 * \param init    mpmp_type_size() bytes of its first value; NULL: zero.
 * \param lock    1: a Value with an RLock for get_lock() (Python's
 *                default); 0: a RawValue. Each load, store and add is
 *                atomic on its own and does not take the lock (Python's
 *                `v.value` does): a store from another process is not
 *                held back by a holder of get_lock(), so every writer of
 *                a Value updated under its lock takes the lock too.
 * \return 0, ::MPMP_EINVAL (bad type, NULL \p v), ::MPMP_ENOSPC (the
 * node heap is full: the message says how much is in use), ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_value_create(mpmp_value_t *v, mpmp_type_t type,
                               const void *init, int lock);
/**
 * Free it; every copy of the handle becomes stale (::MPMP_EBADF), and the
 * calls that wait on its lock end (mpmp/shared.h, "Lifetime").
 * \param v  the Value.
 * \return 0, ::MPMP_EBADF (already freed, or not a Value), ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_value_free(mpmp_value_t v);
/**
 * The Value's element type.
 * \param v  the Value.
 * \return its ::mpmp_type_t (or a negative error: ::MPMP_EBADF). */
MPMP_API int mpmp_value_type(mpmp_value_t v);
/**
 * Copy the value into \p out (mpmp_type_size() bytes); atomic.
 * \param v         the Value.
 * \param[out] out  room for one element.
 * \return 0, ::MPMP_EBADF, ::MPMP_EINVAL (NULL \p out), ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_value_load(mpmp_value_t v, void *out);
/**
 * Set the value from \p in (mpmp_type_size() bytes); atomic. On a Value
 * of another node, after one store went the ordinary way, a store does
 * not wait for that node (pipelined, as a put to an unbounded queue): it
 * is made before the caller's next call on any shared object, and a
 * failure found there later (the Value was freed) is returned by the next
 * store or add (::MPMP_EBADF, "N store(s) made to this Value before were
 * not applied").
 * \param v   the Value.
 * \param in  one element.
 * \return 0, ::MPMP_EBADF, ::MPMP_EINVAL (NULL \p in), ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_value_store(mpmp_value_t v, const void *in);
/**
 * Integer types only (else ::MPMP_EINVAL): atomically add \p delta
 * (wrapping at the type's width, as C atomics do); \p old (may be NULL)
 * gets the value before, sign- or zero-extended to 64 bits. With \p old
 * NULL, on a Value of another node, adds are pipelined as stores are
 * (mpmp_value_store()), and those made while one is on its way go as one
 * add of their sum.
 * \param v         the Value.
 * \param delta     what to add (negative: subtract).
 * \param[out] old  the value before; may be NULL.
 * \return 0, ::MPMP_EINVAL (not an integer type), ::MPMP_EBADF,
 * ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_value_add(mpmp_value_t v, int64_t delta, int64_t *old);
/**
 * Integer types only: atomically set \p desired; \p old gets the previous.
 * \param v         the Value.
 * \param desired   the new value (cut to the type's width).
 * \param[out] old  the value before, sign- or zero-extended; may be NULL.
 * \return 0, ::MPMP_EINVAL (not an integer type), ::MPMP_EBADF,
 * ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_value_exchange(mpmp_value_t v, int64_t desired,
                                 int64_t *old);
/**
 * Integer types only: if the value equals *\p expected, set \p desired and
 * return 1; otherwise store the current value in *\p expected and return 0.
 * \param v                the Value.
 * \param[in,out] expected  the value it should have; receives the one it
 *                          had.
 * \param desired          the new value.
 * \return 1 (swapped), 0 (not), or ::MPMP_EINVAL (not an integer type,
 * NULL \p expected), ::MPMP_EBADF, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_value_cas(mpmp_value_t v, int64_t *expected,
                            int64_t desired);
/**
 * The Value's RLock for compound updates (Python's get_lock()); it belongs
 * to the Value (mpmp_lock_free() on it is ::MPMP_EINVAL).
 * \param v           the Value.
 * \param[out] lock   the lock's handle.
 * \return 0, ::MPMP_ENOTSUP for a RawValue, ::MPMP_EBADF, ::MPMP_EINVAL.
 */
MPMP_API int mpmp_value_get_lock(mpmp_value_t v, mpmp_lock_t *lock);

/**
 * The value as an int64_t: an integer sign- or zero-extended (uint64: the
 * bits), a float or double truncated toward zero.
 * \param v         the Value.
 * \param[out] out  the value.
 * \return 0, ::MPMP_EINVAL (NULL \p out; a NaN, infinite or out-of-range
 * float), ::MPMP_EBADF, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_value_get_i64(mpmp_value_t v, int64_t *out);
/**
 * Set the value from an int64_t: a narrower integer type keeps the low
 * bits (as ctypes does), a float or double gets the nearest value.
 * \param v  the Value.
 * \param x  the new value.
 * \return 0, ::MPMP_EBADF, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_value_set_i64(mpmp_value_t v, int64_t x);
/**
 * The value as a double (an integer converted).
 * \param v         the Value.
 * \param[out] out  the value.
 * \return 0, ::MPMP_EINVAL (NULL \p out), ::MPMP_EBADF, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_value_get_f64(mpmp_value_t v, double *out);
/**
 * Set the value from a double: an integer type gets it truncated toward
 * zero (Python's int()), then cut to the type's width.
 * \param v  the Value.
 * \param x  the new value.
 * \return 0, ::MPMP_EINVAL (for an integer type: NaN, infinite or out of
 * the 64-bit range; nothing is stored), ::MPMP_EBADF, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_value_set_f64(mpmp_value_t v, double x);

/* ---- Array --------------------------------------------------------------- */

/**
 * Create an Array of \p n (>= 1) elements of \p type, copied from \p init
 * (n elements; NULL: zeros). \p lock as for mpmp_value_create().
 * \param[out] a  the new Array's handle.
 * \param type    its element type.
 * \param n       its length (>= 1; fixed).
 * \param init    \p n elements; NULL: zeros.
 * \param lock    1: an Array with an RLock (Python's default); 0: a
 *                RawArray.
 * \return 0, ::MPMP_EINVAL (bad type, n = 0, NULL \p a), ::MPMP_ENOSPC
 * (the node heap is full), ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_array_create(mpmp_array_t *a, mpmp_type_t type, size_t n,
                               const void *init, int lock);
/**
 * Free it; every copy of the handle becomes stale (::MPMP_EBADF).
 * \param a  the Array.
 * \return 0, ::MPMP_EBADF, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_array_free(mpmp_array_t a);
/**
 * Number of elements in *\p n (len(arr)).
 * \param a       the Array.
 * \param[out] n  its length.
 * \return 0, or a negative error (::MPMP_EBADF, ::MPMP_EINVAL for NULL
 * \p n). */
MPMP_API int mpmp_array_len(mpmp_array_t a, size_t *n);
/**
 * The Array's element type.
 * \param a  the Array.
 * \return its ::mpmp_type_t, or a negative error (::MPMP_EBADF). */
MPMP_API int mpmp_array_type(mpmp_array_t a);
/**
 * Element \p i (atomic); ::MPMP_EINVAL (message: index and length) out of
 * range.
 * \param a         the Array.
 * \param i         the index (0 to len - 1).
 * \param[out] out  room for one element.
 * \return 0, ::MPMP_EINVAL, ::MPMP_EBADF, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_array_get(mpmp_array_t a, size_t i, void *out);
/**
 * Set element \p i (atomic).
 * \param a   the Array.
 * \param i   the index (0 to len - 1).
 * \param in  one element.
 * \return 0, ::MPMP_EINVAL (out of range, NULL \p in), ::MPMP_EBADF,
 * ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_array_set(mpmp_array_t a, size_t i, const void *in);
/**
 * Slice [start, start+count): copy out / in. Each element is copied
 * atomically, the slice as a whole is not: hold get_lock() for that.
 * \param a         the Array.
 * \param start     the first index.
 * \param count     the number of elements (0: nothing is copied, but the
 *                  handle is checked).
 * \param[out] out  room for \p count elements.
 * \return 0, ::MPMP_EINVAL (the slice is out of range, NULL \p out),
 * ::MPMP_EBADF, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_array_read(mpmp_array_t a, size_t start, size_t count,
                             void *out);
/**
 * Write the slice [start, start+count) from \p in, each element
 * atomically (see mpmp_array_read()).
 * \param a      the Array.
 * \param start  the first index.
 * \param count  the number of elements.
 * \param in     \p count elements.
 * \return 0, ::MPMP_EINVAL (the slice is out of range, NULL \p in),
 * ::MPMP_EBADF, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_array_write(mpmp_array_t a, size_t start, size_t count,
                              const void *in);
/**
 * Atomic add on element \p i (integer types; as mpmp_value_add()).
 * \param a         the Array.
 * \param i         the index.
 * \param delta     what to add.
 * \param[out] old  the element before; may be NULL.
 * \return 0, ::MPMP_EINVAL (not an integer type, out of range),
 * ::MPMP_EBADF, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_array_add(mpmp_array_t a, size_t i, int64_t delta,
                            int64_t *old);
/**
 * Atomic exchange on element \p i (integer types; as
 * mpmp_value_exchange()).
 * \param a         the Array.
 * \param i         the index.
 * \param desired   the new value.
 * \param[out] old  the element before; may be NULL.
 * \return 0, ::MPMP_EINVAL, ::MPMP_EBADF, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_array_exchange(mpmp_array_t a, size_t i, int64_t desired,
                                 int64_t *old);
/**
 * Atomic compare-exchange on element \p i (integer types; as
 * mpmp_value_cas()).
 * \param a                the Array.
 * \param i                the index.
 * \param[in,out] expected  the value it should have; receives the one it
 *                          had.
 * \param desired          the new value.
 * \return 1 (swapped), 0 (not), or ::MPMP_EINVAL, ::MPMP_EBADF,
 * ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_array_cas(mpmp_array_t a, size_t i, int64_t *expected,
                            int64_t desired);
/**
 * The Array's RLock (Python's get_lock()); it belongs to the Array.
 * \param a           the Array.
 * \param[out] lock   the lock's handle.
 * \return 0, ::MPMP_ENOTSUP for a RawArray, ::MPMP_EBADF, ::MPMP_EINVAL.
 */
MPMP_API int mpmp_array_get_lock(mpmp_array_t a, mpmp_lock_t *lock);
/**
 * The elements themselves, for ranks on the array's home node (the fastest
 * access: plain loads and stores, as with Python's `arr[:]` buffer);
 * ::MPMP_ENOTSUP on another node (use read/write there). Valid until freed.
 * \param a          the Array.
 * \param[out] data  the first element.
 * \return 0, ::MPMP_ENOTSUP, ::MPMP_EBADF, ::MPMP_EINVAL, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_array_data(mpmp_array_t a, void **data);

/* ---- the node heap --------------------------------------------------------- */

/** How full this rank's node heap is. */
typedef struct mpmp_heap_info {
  size_t total;        /**< bytes for objects (MPMP_HEAP_SIZE less overheads) */
  size_t in_use;       /**< bytes in live objects, headers included */
  size_t largest_free; /**< the largest object that fits now (about) */
  size_t objects;      /**< live objects on this node */
} mpmp_heap_info_t;

/**
 * How full this rank's node heap is (`MPMP_HEAP_SIZE`): a snapshot.
 * \param[out] info  the figures.
 * \return 0, ::MPMP_EINVAL (NULL), ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_heap_info(mpmp_heap_info_t *info);

#ifdef __cplusplus
}
#endif
#endif /* MPMP_SHARED_H */
