/**
 * \file mpmp/manager.h
 * \brief Manager: a server rank holding dicts, lists and Namespaces, and
 *        owning Queues, Locks, Events and Values, that every rank can use
 *        (Python's multiprocessing.Manager()).
 *
 * \code
 * mpmp_manager_t m;                               // manager = Manager()
 * mpmp_manager_start(&m);
 * mpmp_dict_t d;                                  // d = manager.dict()
 * mpmp_dict_create(m, &d);
 * // copy `d` into a Process argument; in the body:
 * long sq = 285;
 * mpmp_dict_set(d, "square_sum", &sq, sizeof sq); // d['square_sum'] = 285
 * // back on the main rank, after join:
 * long v; size_t n;
 * mpmp_dict_get(d, "square_sum", &v, sizeof v, &n); // d['square_sum']
 * mpmp_manager_shutdown(m);                       // manager.shutdown()
 * \endcode
 *
 * **The server.** mpmp_manager_start() runs the server as a (daemon) process
 * on a free worker rank, as Python starts a server process. Lists live in
 * that rank's own memory, and the server answers each of their calls as a
 * message, from the rank's progress engine. Dicts and Namespaces live in
 * the node heap of the server's node (mpmp/shared.h), under locks striped
 * by key: a rank on that node runs its get, set, size, `in`, del, pop,
 * setdefault and len calls on them in place, with no message to the server
 * (and many such ranks at once, on different keys, do not wait for each
 * other), while the server runs the other nodes' calls and the calls over
 * the whole dict (keys, items, values, update, clear, popitem) on the same
 * memory under the same locks. Either way every call is atomic and calls on
 * one object are applied one at a time (a sequence of calls is not atomic:
 * hold a Lock for that, as in Python).
 * mpmp_manager_shutdown(), or mpmp_finalize(), stops it and frees the rank.
 * As in Python, the server shows in mpmp_active_children() (named
 * "SyncManager-N"): leave that process to the Manager calls (do not
 * terminate, join or destroy it). mpmp_finalize() shuts managers down
 * before it joins the remaining processes: join the processes that use a
 * manager before that, or their calls fail with ::MPMP_EDEAD.
 *
 * **Handles.** A manager and its objects are named by small plain values
 * valid on every rank: copy them into a Process's or task's argument as
 * Python passes a proxy. A handle carries the server rank, the manager and
 * object ids and a check value: zeroed, garbage or mixed-up handles are
 * ::MPMP_EBADF, never a crash; a freed object is ::MPMP_EBADF; every call on
 * an object of a manager that was shut down is ::MPMP_EDEAD (answered at
 * once, by the rank that served it). No call waits for the server for more
 * than ::MPMP_MANAGER_TIMEOUT seconds (::MPMP_ETIMEDOUT: the request was
 * sent, so a change may still be made when the server gets to it).
 *
 * **Lifetime.**
 * - After an object's free call (mpmp_dict_free(), ...), every call with
 *   any copy of its handle, from any rank, is ::MPMP_EBADF; freeing it
 *   again too.
 * - After mpmp_manager_shutdown(), every call on the manager or on any of
 *   its objects, from any rank, is ::MPMP_EDEAD (mpmp_manager_rank() and
 *   the create calls included); shutting down again is 0. Its server rank
 *   is free for processes and pools again.
 * - What a call handed out belongs to the caller and outlives the manager:
 *   the `_alloc` copies (free()), and an mpmp_items_t until
 *   mpmp_items_free() (which zeroes it: freeing twice is harmless).
 * - mpmp_finalize() shuts every manager down; afterwards every call with a
 *   manager handle is ::MPMP_ENOTINIT, and mpmp_manager_start() too.
 * - The Queues, Locks, Events and Values a manager made (mpmp_manager_queue()
 *   and the others below) are freed by its shutdown: from then on they
 *   follow the rules of freed shared objects (mpmp/shared.h, "Lifetime"):
 *   every call with any copy of their handles, from any rank, is
 *   ::MPMP_EBADF, and so is every call that waits in one at the time (a
 *   get on an empty Queue, an acquire of a held Lock, an Event's wait).
 *   Freeing one earlier with its plain free call (mpmp_queue_free(), ...)
 *   is allowed, as Python frees an object with its last proxy; the
 *   shutdown then leaves it alone, and a second free is ::MPMP_EBADF.
 *
 * **Data.** Keys are C strings (at most ::MPMP_MANAGER_MAX_KEY bytes: a set
 * of a longer one is ::MPMP_EMSGSIZE, and to a lookup it is a key that is
 * not there: get, size and del ::MPMP_EINVAL, contains 0, get_or/pop_or the
 * default); values
 * are byte strings of 0 to ::MPMP_MANAGER_MAX_VALUE bytes, copied (Python
 * pickles objects; here you choose the bytes). Getting a value into a buffer
 * that is too small is ::MPMP_EMSGSIZE with the value's size in `*size` and
 * nothing lost (a pop then removes nothing); the `_alloc` variants return a
 * malloc()ed copy (release it with free()). A value larger than a
 * sixteenth of MPMP_HEAP_SIZE, or one the heap has no room for, is kept in
 * the server's own memory instead (its calls then go through the server);
 * a new key, or a dict's growing table, that does not fit the heap is
 * ::MPMP_ENOSPC naming MPMP_HEAP_SIZE, and nothing changes (every key and
 * value there stays). Python's KeyError,
 * AttributeError, IndexError and ValueError (a value not in a list) are
 * ::MPMP_EINVAL with a message naming the key or index and the Python
 * exception. List indices are Python's: negative ones count from the end,
 * and insert() clamps as Python's does. List values compare as Python's
 * bytes do: equal when the sizes and the bytes are; sort() takes a named
 * order (bytes, int64, uint64, double), not a comparison function, since it
 * runs on the server's rank.
 */
#ifndef MPMP_MANAGER_H
#define MPMP_MANAGER_H

#include <stddef.h>
#include <stdint.h>
#include "mpmp/common.h"
#include "mpmp/queue.h"
#include "mpmp/shared.h"
#include "mpmp/sync.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Longest key or attribute name, in bytes (without the NUL). */
#define MPMP_MANAGER_MAX_KEY 1024
/** Largest value, in bytes (64 MiB). */
#define MPMP_MANAGER_MAX_VALUE ((size_t)64 << 20)
/**
 * Largest request or answer of one call, in bytes (1 GiB): bounds update(),
 * extend(), keys(), items() and slices as a whole.
 */
#define MPMP_MANAGER_MAX_MESSAGE ((size_t)1 << 30)
/** Seconds a call waits for the server's answer before ::MPMP_ETIMEDOUT. */
#define MPMP_MANAGER_TIMEOUT 60.0
/** The end of a list, for slices: l[start:] is `start, MPMP_LIST_END`. */
#define MPMP_LIST_END INT64_MAX

/**
 * The reference inside every manager handle (32 bytes). Treat it as opaque:
 * copy it, never build or change one.
 */
typedef struct mpmp_mref {
  uint64_t mgr;   /**< the manager's id, unique in the job */
  uint64_t obj;   /**< the object's id in its manager; 0: the manager */
  int32_t rank;   /**< the server rank */
  uint16_t kind;  /**< manager, dict, list or Namespace */
  uint16_t zero;  /**< the library's (a dict's place in the node heap) */
  uint32_t tag;   /**< check value over the other fields */
  uint32_t pad;   /**< the library's (a dict's place in the node heap) */
} mpmp_mref_t;

/** A Manager (its server). */
typedef struct mpmp_manager {
  mpmp_mref_t ref; /**< its reference: opaque, copy it whole */
} mpmp_manager_t;
/** A manager's dict: string keys, byte values, insertion order. */
typedef struct mpmp_dict {
  mpmp_mref_t ref; /**< its reference: opaque, copy it whole */
} mpmp_dict_t;
/** A manager's list of byte values. */
typedef struct mpmp_list {
  mpmp_mref_t ref; /**< its reference: opaque, copy it whole */
} mpmp_list_t;
/** A manager's Namespace: named byte attributes. */
typedef struct mpmp_namespace {
  mpmp_mref_t ref; /**< its reference: opaque, copy it whole */
} mpmp_namespace_t;

/**
 * Several keys and/or values handed back at once (keys(), items(), slices).
 * One call to mpmp_items_free() releases everything. Values are 8-byte
 * aligned.
 */
typedef struct mpmp_items {
  size_t count;        /**< number of entries */
  const char **keys;   /**< NUL-terminated keys; NULL for values only */
  const void **values; /**< the values; NULL for keys only */
  size_t *sizes;       /**< the values' sizes; NULL for keys only */
  void *priv_;         /**< the library's */
} mpmp_items_t;

/**
 * Release what keys(), items() or a slice returned, and zero it.
 * \param items  the items (NULL or zeroed: no-op).
 */
MPMP_API void mpmp_items_free(mpmp_items_t *items);

/* ---- the Manager --------------------------------------------------------- */

/**
 * Manager(): start a server on a free worker rank (main rank only).
 * \param[out] m  the new manager's handle.
 * \return 0, ::MPMP_EBUSY (no free worker rank: every one runs a process, a
 * pool or another manager; the message says how many ranks to ask for),
 * ::MPMP_ENOTMAIN, ::MPMP_EINVAL (NULL), ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_manager_start(mpmp_manager_t *m);
/**
 * shutdown(): stop the server, free everything it held and give its rank
 * back (main rank only). Afterwards every call on the manager or its
 * objects, from any rank, is ::MPMP_EDEAD. Shutting down twice is 0.
 * \param m  the manager.
 * \return 0, ::MPMP_ENOTMAIN, ::MPMP_EBADF, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_manager_shutdown(mpmp_manager_t m);
/**
 * The server's rank (it asks the server).
 * \param m  the manager.
 * \return the rank, or ::MPMP_EDEAD after shutdown, ::MPMP_EBADF.
 */
MPMP_API int mpmp_manager_rank(mpmp_manager_t m);
/**
 * Whether the server runs (it asks the server).
 * \param m  the manager.
 * \return 0 while the server runs, ::MPMP_EDEAD once shut down,
 * ::MPMP_EBADF.
 */
MPMP_API int mpmp_manager_alive(mpmp_manager_t m);

/* ---- dict ---------------------------------------------------------------- */

/**
 * manager.dict(): a new empty dict, from any rank.
 * \param m       the manager.
 * \param[out] d  the new dict's handle.
 * \return 0, ::MPMP_EDEAD, ::MPMP_EBADF, ::MPMP_EINVAL (NULL \p d),
 * ::MPMP_ENOSPC (the node heap of the server's node is full),
 * ::MPMP_ETIMEDOUT, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_dict_create(mpmp_manager_t m, mpmp_dict_t *d);
/**
 * Free the dict and its data (Python frees it with its last proxy); its
 * handles become stale (::MPMP_EBADF).
 * \param d  the dict.
 * \return 0, ::MPMP_EBADF (freed already), ::MPMP_EDEAD.
 */
MPMP_API int mpmp_dict_free(mpmp_dict_t d);
/**
 * d[key] = value (\p size bytes, copied).
 * \param d      the dict.
 * \param key    the key (at most ::MPMP_MANAGER_MAX_KEY bytes).
 * \param value  the value's bytes (may be NULL when \p size is 0).
 * \param size   their number (up to ::MPMP_MANAGER_MAX_VALUE).
 * \return 0, ::MPMP_EMSGSIZE over the limits, ::MPMP_EINVAL (NULL key),
 * ::MPMP_ENOSPC (a new key and the node heap of the server's node is full:
 * nothing is set), ::MPMP_EBADF, ::MPMP_EDEAD.
 */
MPMP_API int mpmp_dict_set(mpmp_dict_t d, const char *key, const void *value,
                           size_t size);
/**
 * d[key] into \p buf (\p cap bytes); \p size (may be NULL) gets its size.
 * \param d          the dict.
 * \param key        the key.
 * \param buf        room for the value (may be NULL when \p cap is 0).
 * \param cap        the room in \p buf.
 * \param[out] size  the value's size (may be NULL).
 * \return 0, ::MPMP_EINVAL (KeyError), ::MPMP_EMSGSIZE (\p cap too small:
 * `*size` is the size needed).
 */
MPMP_API int mpmp_dict_get(mpmp_dict_t d, const char *key, void *buf,
                           size_t cap, size_t *size);
/**
 * d.get(key, default): as mpmp_dict_get(), but a missing key copies
 * \p def (\p def_size bytes) instead.
 * \param d          the dict.
 * \param key        the key.
 * \param buf        room for the value or the default.
 * \param cap        the room in \p buf.
 * \param[out] size  the size of what was copied (may be NULL).
 * \param def        the default's bytes (may be NULL when \p def_size is 0).
 * \param def_size   their number.
 * \return 1 if the key was there, 0 if the default was used, or a negative
 * error (::MPMP_EMSGSIZE when what is copied does not fit).
 */
MPMP_API int mpmp_dict_get_or(mpmp_dict_t d, const char *key, void *buf,
                              size_t cap, size_t *size, const void *def,
                              size_t def_size);
/**
 * d[key] as a malloc()ed copy in *\p value (free() it); size in *\p size.
 * \param d           the dict.
 * \param key         the key.
 * \param[out] value  the copy (the caller's, also after shutdown).
 * \param[out] size   its size (may be NULL).
 * \return 0, ::MPMP_EINVAL (KeyError, NULL \p value), ::MPMP_ENOMEM.
 */
MPMP_API int mpmp_dict_get_alloc(mpmp_dict_t d, const char *key, void **value,
                                 size_t *size);
/**
 * The size of d[key] in *\p size.
 * \param d          the dict.
 * \param key        the key.
 * \param[out] size  the value's size in bytes.
 * \return 0, ::MPMP_EINVAL if missing.
 */
MPMP_API int mpmp_dict_size(mpmp_dict_t d, const char *key, size_t *size);
/**
 * del d[key].
 * \param d    the dict.
 * \param key  the key.
 * \return 0, ::MPMP_EINVAL if missing.
 */
MPMP_API int mpmp_dict_del(mpmp_dict_t d, const char *key);
/**
 * key in d.
 * \param d    the dict.
 * \param key  the key.
 * \return 1 or 0 (or a negative error).
 */
MPMP_API int mpmp_dict_contains(mpmp_dict_t d, const char *key);
/**
 * len(d) in *\p n.
 * \param d       the dict.
 * \param[out] n  its number of keys.
 * \return 0, or a negative error.
 */
MPMP_API int mpmp_dict_len(mpmp_dict_t d, size_t *n);
/**
 * d.keys(), in insertion order.
 * \param d          the dict.
 * \param[out] keys  the keys (`keys`, `count`); release with
 *                   mpmp_items_free().
 * \return 0, or a negative error (\p keys is then zeroed).
 */
MPMP_API int mpmp_dict_keys(mpmp_dict_t d, mpmp_items_t *keys);
/**
 * d.items(), in insertion order.
 * \param d           the dict.
 * \param[out] items  the keys, values and sizes; release with
 *                    mpmp_items_free().
 * \return 0, or a negative error (\p items is then zeroed).
 */
MPMP_API int mpmp_dict_items(mpmp_dict_t d, mpmp_items_t *items);
/**
 * d.update(pairs): set \p n keys at once (in one atomic step; a later
 * duplicate wins). Pass an items() result as
 * `(it.count, it.keys, it.values, it.sizes)`.
 * \param d       the dict.
 * \param n       the number of pairs.
 * \param keys    \p n keys.
 * \param values  \p n values.
 * \param sizes   their sizes.
 * \return 0, ::MPMP_EINVAL, ::MPMP_EMSGSIZE (a key or value over its limit,
 * or all of them over ::MPMP_MANAGER_MAX_MESSAGE: nothing is set),
 * ::MPMP_ENOSPC (the node heap of the server's node is full: nothing is set
 * when the dict's table could not grow; when a key did not fit, the pairs
 * before it are set).
 */
MPMP_API int mpmp_dict_update(mpmp_dict_t d, size_t n,
                              const char *const *keys,
                              const void *const *values, const size_t *sizes);
/**
 * d.clear(): remove every key.
 * \param d  the dict.
 * \return 0, or a negative error.
 */
MPMP_API int mpmp_dict_clear(mpmp_dict_t d);
/**
 * d.pop(key): get and remove. ::MPMP_EMSGSIZE removes nothing;
 * ::MPMP_EINVAL if missing.
 * \param d          the dict.
 * \param key        the key.
 * \param buf        room for the value.
 * \param cap        the room in \p buf.
 * \param[out] size  the value's size, or the size needed (may be NULL).
 * \return 0, ::MPMP_EINVAL, ::MPMP_EMSGSIZE.
 */
MPMP_API int mpmp_dict_pop(mpmp_dict_t d, const char *key, void *buf,
                           size_t cap, size_t *size);
/**
 * d.pop(key) as a malloc()ed copy (free() it).
 * \param d           the dict.
 * \param key         the key.
 * \param[out] value  the value's copy.
 * \param[out] size   its size (may be NULL).
 * \return 0, ::MPMP_EINVAL (missing, NULL \p value), ::MPMP_ENOMEM.
 */
MPMP_API int mpmp_dict_pop_alloc(mpmp_dict_t d, const char *key, void **value,
                                 size_t *size);

/**
 * d.pop(key, default): as mpmp_dict_pop(), but a missing key copies
 * \p def (\p def_size bytes) instead of failing.
 * \param d          the dict.
 * \param key        the key.
 * \param buf        room for the value or the default.
 * \param cap        the room in \p buf.
 * \param[out] size  the size of what was copied, or needed (may be NULL).
 * \param def        the default's bytes (may be NULL when \p def_size is 0).
 * \param def_size   their number.
 * \return 1 if the key was there (and is removed), 0 if the default was
 * used, or a negative error (::MPMP_EMSGSIZE when what is copied does not
 * fit: nothing is removed).
 */
MPMP_API int mpmp_dict_pop_or(mpmp_dict_t d, const char *key, void *buf,
                              size_t cap, size_t *size, const void *def,
                              size_t def_size);
/**
 * d.popitem(): remove the key inserted last and return it with its value
 * (Python's LIFO order), in one atomic step.
 * \param d          the dict.
 * \param[out] item  the key and value (`count` 1, `keys[0]`, `values[0]`,
 *                   `sizes[0]`); release with mpmp_items_free().
 * \return 0, ::MPMP_EINVAL (the dict is empty: Python's KeyError; or NULL
 * \p item), or a negative error (\p item is then zeroed).
 */
MPMP_API int mpmp_dict_popitem(mpmp_dict_t d, mpmp_items_t *item);
/**
 * d.setdefault(key, default): d[key] if the key is there; else set it to
 * \p def and return that, in one atomic step.
 * \param d          the dict.
 * \param key        the key.
 * \param def        the default's bytes (may be NULL when \p def_size is 0).
 * \param def_size   their number (up to ::MPMP_MANAGER_MAX_VALUE).
 * \param buf        room for the value; NULL with \p cap 0: the value is
 *                   not wanted (only its size).
 * \param cap        the room in \p buf.
 * \param[out] size  the value's size, or the size needed (may be NULL).
 * \return 1 if the key was there, 0 if the default was set, or a negative
 * error (::MPMP_EMSGSIZE when the value does not fit \p buf: nothing is
 * set).
 */
MPMP_API int mpmp_dict_setdefault(mpmp_dict_t d, const char *key,
                                  const void *def, size_t def_size, void *buf,
                                  size_t cap, size_t *size);
/**
 * d.values(), in insertion order.
 * \param d            the dict.
 * \param[out] values  the values and sizes; release with mpmp_items_free().
 * \return 0, or a negative error (\p values is then zeroed).
 */
MPMP_API int mpmp_dict_values(mpmp_dict_t d, mpmp_items_t *values);

/* ---- list ---------------------------------------------------------------- */

/**
 * manager.list(): a new empty list, from any rank.
 * \param m       the manager.
 * \param[out] l  the new list's handle.
 * \return 0, ::MPMP_EDEAD, ::MPMP_EBADF, ::MPMP_EINVAL (NULL \p l),
 * ::MPMP_ETIMEDOUT, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_list_create(mpmp_manager_t m, mpmp_list_t *l);
/**
 * Free the list and its data; its handles become stale (::MPMP_EBADF).
 * \param l  the list.
 * \return 0, ::MPMP_EBADF, ::MPMP_EDEAD.
 */
MPMP_API int mpmp_list_free(mpmp_list_t l);
/**
 * l.append(value).
 * \param l      the list.
 * \param value  the value's bytes (may be NULL when \p size is 0).
 * \param size   their number (up to ::MPMP_MANAGER_MAX_VALUE).
 * \return 0, ::MPMP_EMSGSIZE, ::MPMP_EINVAL, ::MPMP_EBADF, ::MPMP_EDEAD.
 */
MPMP_API int mpmp_list_append(mpmp_list_t l, const void *value, size_t size);
/**
 * l.extend(values): \p n values appended in one atomic step.
 * \param l       the list.
 * \param n       the number of values.
 * \param values  \p n values.
 * \param sizes   their sizes.
 * \return 0, ::MPMP_EINVAL, ::MPMP_EMSGSIZE (nothing is appended).
 */
MPMP_API int mpmp_list_extend(mpmp_list_t l, size_t n,
                              const void *const *values, const size_t *sizes);
/**
 * l[i] into \p buf.
 * \param l          the list.
 * \param i          the index (negative: from the end).
 * \param buf        room for the value.
 * \param cap        the room in \p buf.
 * \param[out] size  the value's size, or the size needed (may be NULL).
 * \return 0, ::MPMP_EINVAL (IndexError: the message
 * gives the index and the length), ::MPMP_EMSGSIZE (`*size` = size needed).
 */
MPMP_API int mpmp_list_get(mpmp_list_t l, int64_t i, void *buf, size_t cap,
                           size_t *size);
/**
 * l[i] as a malloc()ed copy (free() it).
 * \param l           the list.
 * \param i           the index (negative: from the end).
 * \param[out] value  the value's copy.
 * \param[out] size   its size (may be NULL).
 * \return 0, ::MPMP_EINVAL (IndexError, NULL \p value), ::MPMP_ENOMEM.
 */
MPMP_API int mpmp_list_get_alloc(mpmp_list_t l, int64_t i, void **value,
                                 size_t *size);
/**
 * l[i] = value.
 * \param l      the list.
 * \param i      the index (negative: from the end).
 * \param value  the value's bytes.
 * \param size   their number.
 * \return 0, ::MPMP_EINVAL (IndexError), ::MPMP_EMSGSIZE.
 */
MPMP_API int mpmp_list_set(mpmp_list_t l, int64_t i, const void *value,
                           size_t size);
/**
 * l.insert(i, value): before index \p i (negative: from the end). As in
 * Python, an index out of range is clamped: below -len inserts at the
 * front, past len appends; so every index is valid.
 * \param l      the list.
 * \param i      the index to insert before.
 * \param value  the value's bytes.
 * \param size   their number.
 * \return 0, ::MPMP_EINVAL (NULL \p value with a size), ::MPMP_EMSGSIZE.
 */
MPMP_API int mpmp_list_insert(mpmp_list_t l, int64_t i, const void *value,
                              size_t size);
/**
 * l.pop(i) (Python's pop() is i = -1). ::MPMP_EMSGSIZE removes nothing.
 * \param l          the list.
 * \param i          the index (negative: from the end).
 * \param buf        room for the value.
 * \param cap        the room in \p buf.
 * \param[out] size  the value's size, or the size needed (may be NULL).
 * \return 0, ::MPMP_EINVAL (IndexError), ::MPMP_EMSGSIZE.
 */
MPMP_API int mpmp_list_pop(mpmp_list_t l, int64_t i, void *buf, size_t cap,
                           size_t *size);
/**
 * l.pop(i) as a malloc()ed copy (free() it).
 * \param l           the list.
 * \param i           the index (negative: from the end).
 * \param[out] value  the value's copy.
 * \param[out] size   its size (may be NULL).
 * \return 0, ::MPMP_EINVAL (IndexError, NULL \p value), ::MPMP_ENOMEM.
 */
MPMP_API int mpmp_list_pop_alloc(mpmp_list_t l, int64_t i, void **value,
                                 size_t *size);
/**
 * len(l) in *\p n.
 * \param l       the list.
 * \param[out] n  its length.
 * \return 0, or a negative error.
 */
MPMP_API int mpmp_list_len(mpmp_list_t l, size_t *n);
/**
 * l[start:stop]: indices as in Python (negative from the end, clamped to
 * the list; ::MPMP_LIST_END for "to the end"); values only (`values`,
 * `sizes`).
 * \param l            the list.
 * \param start        the first index.
 * \param stop         the index after the last.
 * \param[out] values  the values; release with mpmp_items_free().
 * \return 0, or a negative error (\p values is then zeroed).
 */
MPMP_API int mpmp_list_slice(mpmp_list_t l, int64_t start, int64_t stop,
                             mpmp_items_t *values);

/**
 * del l[i].
 * \param l  the list.
 * \param i  the index (negative: from the end).
 * \return 0, ::MPMP_EINVAL (IndexError: the message gives the index and the
 * length), ::MPMP_EBADF, ::MPMP_EDEAD.
 */
MPMP_API int mpmp_list_del(mpmp_list_t l, int64_t i);
/**
 * value in l: whether an item has exactly these bytes (same size, same
 * bytes: Python's == on bytes).
 * \param l      the list.
 * \param value  the bytes to look for (may be NULL when \p size is 0).
 * \param size   their number.
 * \return 1 or 0 (or a negative error: ::MPMP_EINVAL, ::MPMP_EMSGSIZE,
 * ::MPMP_EBADF, ::MPMP_EDEAD).
 */
MPMP_API int mpmp_list_contains(mpmp_list_t l, const void *value, size_t size);
/**
 * l.count(value): the number of items equal to \p value (compared as by
 * mpmp_list_contains()) in *\p count.
 * \param l           the list.
 * \param value       the bytes to count (may be NULL when \p size is 0).
 * \param size        their number.
 * \param[out] count  how many items are equal to them.
 * \return 0, ::MPMP_EINVAL (NULL \p count), or a negative error.
 */
MPMP_API int mpmp_list_count(mpmp_list_t l, const void *value, size_t size,
                             size_t *count);
/**
 * l.index(value, start, stop): the first index of an item equal to
 * \p value within l[start:stop] (indices as for mpmp_list_slice(); `0,
 * MPMP_LIST_END` searches the whole list), in *\p index.
 * \param l           the list.
 * \param value       the bytes to find (may be NULL when \p size is 0).
 * \param size        their number.
 * \param start       where the search starts.
 * \param stop        where it stops (::MPMP_LIST_END: the end).
 * \param[out] index  the index, counted from the list's start.
 * \return 0, ::MPMP_EINVAL (not found: Python's ValueError; or NULL
 * \p index), or a negative error.
 */
MPMP_API int mpmp_list_index(mpmp_list_t l, const void *value, size_t size,
                             int64_t start, int64_t stop, size_t *index);
/**
 * l.remove(value): remove the first item equal to \p value.
 * \param l      the list.
 * \param value  the bytes to remove (may be NULL when \p size is 0).
 * \param size   their number.
 * \return 0, ::MPMP_EINVAL (no such item: Python's ValueError; nothing
 * changes), or a negative error.
 */
MPMP_API int mpmp_list_remove(mpmp_list_t l, const void *value, size_t size);
/**
 * l.reverse(): reverse the list in place.
 * \param l  the list.
 * \return 0, or a negative error.
 */
MPMP_API int mpmp_list_reverse(mpmp_list_t l);
/**
 * l.clear(): remove every item.
 * \param l  the list.
 * \return 0, or a negative error.
 */
MPMP_API int mpmp_list_clear(mpmp_list_t l);

/**
 * The orders of mpmp_list_sort(). Items are bytes and the sort runs on the
 * server's rank, where a caller's comparison function cannot run (a
 * function pointer means nothing on another rank), so the order is one of
 * these, named; add ::MPMP_SORT_REVERSE for Python's `reverse=True`.
 */
typedef enum mpmp_sort_order {
  /** Python's order of bytes: byte by byte as unsigned values (memcmp);
   * when one is a prefix of the other, the shorter first. */
  MPMP_SORT_BYTES = 0,
  /** Every item an int64_t (8 bytes, the machine's byte order, as
   * memcpy() from an int64_t gives): by value. */
  MPMP_SORT_I64 = 1,
  /** Every item a uint64_t (8 bytes): by value. */
  MPMP_SORT_U64 = 2,
  /** Every item a double (8 bytes): by value, -0.0 equal to 0.0; NaNs
   * (which Python leaves in unspecified places) last, in their order, and
   * so first with MPMP_SORT_REVERSE, which reverses the whole order. */
  MPMP_SORT_F64 = 3,
  /** Flag: largest first (Python's reverse=True; equal items keep their
   * order, as in Python). */
  MPMP_SORT_REVERSE = 0x100
} mpmp_sort_order_t;

/**
 * l.sort(): sort the list in place, stably (equal items keep their order),
 * in one atomic step on the server.
 * \param l      the list.
 * \param order  an ::mpmp_sort_order_t, optionally with
 *               ::MPMP_SORT_REVERSE.
 * \return 0, ::MPMP_EINVAL (an unknown order, or a numeric order and an item
 * that is not 8 bytes: the message names it, and the list is not changed;
 * Python's TypeError), ::MPMP_ENOMEM, or a negative error.
 */
MPMP_API int mpmp_list_sort(mpmp_list_t l, int order);

/* ---- Namespace ----------------------------------------------------------- */

/**
 * manager.Namespace(): a new Namespace with no attributes, from any rank.
 * \param m        the manager.
 * \param[out] ns  the new Namespace's handle.
 * \return 0, ::MPMP_EDEAD, ::MPMP_EBADF, ::MPMP_EINVAL (NULL \p ns),
 * ::MPMP_ENOSPC (the node heap of the server's node is full),
 * ::MPMP_ETIMEDOUT, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_namespace_create(mpmp_manager_t m, mpmp_namespace_t *ns);
/**
 * Free the Namespace and its attributes; its handles become stale.
 * \param ns  the Namespace.
 * \return 0, ::MPMP_EBADF, ::MPMP_EDEAD.
 */
MPMP_API int mpmp_namespace_free(mpmp_namespace_t ns);
/**
 * ns.name = value.
 * \param ns     the Namespace.
 * \param name   the attribute (at most ::MPMP_MANAGER_MAX_KEY bytes).
 * \param value  the value's bytes.
 * \param size   their number.
 * \return 0, ::MPMP_EINVAL (NULL name), ::MPMP_EMSGSIZE, ::MPMP_ENOSPC (a
 * new attribute and the node heap is full: as mpmp_dict_set()).
 */
MPMP_API int mpmp_namespace_set(mpmp_namespace_t ns, const char *name,
                                const void *value, size_t size);
/**
 * ns.name into \p buf.
 * \param ns         the Namespace.
 * \param name       the attribute.
 * \param buf        room for the value.
 * \param cap        the room in \p buf.
 * \param[out] size  the value's size, or the size needed (may be NULL).
 * \return 0, ::MPMP_EINVAL (AttributeError), ::MPMP_EMSGSIZE.
 */
MPMP_API int mpmp_namespace_get(mpmp_namespace_t ns, const char *name,
                                void *buf, size_t cap, size_t *size);
/**
 * ns.name as a malloc()ed copy (free() it).
 * \param ns          the Namespace.
 * \param name        the attribute.
 * \param[out] value  the value's copy.
 * \param[out] size   its size (may be NULL).
 * \return 0, ::MPMP_EINVAL (AttributeError, NULL \p value), ::MPMP_ENOMEM.
 */
MPMP_API int mpmp_namespace_get_alloc(mpmp_namespace_t ns, const char *name,
                                      void **value, size_t *size);
/**
 * del ns.name.
 * \param ns    the Namespace.
 * \param name  the attribute.
 * \return 0, ::MPMP_EINVAL if it has no such attribute.
 */
MPMP_API int mpmp_namespace_del(mpmp_namespace_t ns, const char *name);
/**
 * hasattr(ns, name).
 * \param ns    the Namespace.
 * \param name  the attribute.
 * \return 1 or 0 (or a negative error).
 */
MPMP_API int mpmp_namespace_has(mpmp_namespace_t ns, const char *name);

/* ---- Queue, Lock, Event and Value owned by the manager ------------------- */

/**
 * \name Shared objects owned by a manager
 * manager.Queue(), manager.Lock(), manager.Event(), manager.Value() & co.
 * Each call asks the server to create the plain object of mpmp/queue.h,
 * mpmp/sync.h or mpmp/shared.h and hands back its ordinary handle: the
 * semantics are those of the plain object (every mpmp_queue_*(),
 * mpmp_lock_*(), mpmp_event_*() and mpmp_value_*() call works on it, from
 * any rank and any node, copied into a Process's or task's argument as
 * Python passes a proxy). The manager only owns its lifetime: the object
 * lives in the heap of the server's node, as Python's lives in the server
 * process, and mpmp_manager_shutdown() (or mpmp_finalize()) frees it.
 *
 * **Lifetime** (each call):
 * - Created by any rank while the manager runs; after its shutdown the
 *   create call is ::MPMP_EDEAD.
 * - Freed at the manager's shutdown: afterwards every call with any copy
 *   of the handle, from any rank, is ::MPMP_EBADF, and calls waiting in
 *   the object then return ::MPMP_EBADF (mpmp/shared.h, "Lifetime").
 * - May be freed before with its plain free call (Python's release of the
 *   last proxy): the shutdown skips it; a second free is ::MPMP_EBADF.
 * - The handle is of the plain kind: a Queue's handle given to a Lock call
 *   is ::MPMP_EBADF ("the handle of a Queue, not of a Lock"), as for plain
 *   objects.
 * @{
 */

/**
 * manager.Queue(maxsize): a Queue owned by the manager (see
 * mpmp_queue_create() for \p maxsize and \p max_item), from any rank.
 * \param m         the manager.
 * \param[out] q    the new queue's handle (zeroed on error).
 * \param maxsize   its capacity in items; 0: the default capacity.
 * \param max_item  the largest item in bytes.
 * \return 0, ::MPMP_EINVAL (NULL \p q, a bad size: the message says which),
 * ::MPMP_ENOSPC (the server node's heap is full), ::MPMP_EDEAD (the manager
 * was shut down), ::MPMP_EBADF, ::MPMP_ETIMEDOUT, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_manager_queue(mpmp_manager_t m, mpmp_queue_t *q,
                                size_t maxsize, size_t max_item);
/**
 * manager.JoinableQueue(maxsize): a JoinableQueue owned by the manager (as
 * mpmp_joinable_queue_create()), from any rank.
 * \param m         the manager.
 * \param[out] q    the new queue's handle (zeroed on error).
 * \param maxsize   its capacity in items; 0: the default capacity.
 * \param max_item  the largest item in bytes.
 * \return as mpmp_manager_queue().
 */
MPMP_API int mpmp_manager_joinable_queue(mpmp_manager_t m, mpmp_queue_t *q,
                                         size_t maxsize, size_t max_item);
/**
 * manager.Lock(): a Lock owned by the manager (as mpmp_lock_create()),
 * from any rank. A Lock still held at the shutdown is freed all the same.
 * \param m          the manager.
 * \param[out] lock  the new Lock's handle (zeroed on error).
 * \return 0, ::MPMP_EINVAL (NULL \p lock), ::MPMP_ENOSPC, ::MPMP_EDEAD,
 * ::MPMP_EBADF, ::MPMP_ETIMEDOUT, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_manager_lock(mpmp_manager_t m, mpmp_lock_t *lock);
/**
 * manager.RLock(): an RLock owned by the manager (as mpmp_rlock_create()),
 * from any rank.
 * \param m          the manager.
 * \param[out] lock  the new RLock's handle (zeroed on error).
 * \return as mpmp_manager_lock().
 */
MPMP_API int mpmp_manager_rlock(mpmp_manager_t m, mpmp_lock_t *lock);
/**
 * manager.Event(): an Event owned by the manager (as mpmp_event_create()),
 * from any rank.
 * \param m        the manager.
 * \param[out] ev  the new Event's handle (zeroed on error).
 * \return 0, ::MPMP_EINVAL (NULL \p ev), ::MPMP_ENOSPC, ::MPMP_EDEAD,
 * ::MPMP_EBADF, ::MPMP_ETIMEDOUT, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_manager_event(mpmp_manager_t m, mpmp_event_t *ev);
/**
 * manager.Value(typecode, value): a Value owned by the manager (as
 * mpmp_value_create(); Python's manager Value has no lock, pass 0 for
 * that), from any rank.
 * \param m       the manager.
 * \param[out] v  the new Value's handle (zeroed on error).
 * \param type    its element type.
 * \param init    mpmp_type_size() bytes of its first value; NULL: zero.
 * \param lock    1: with an RLock for mpmp_value_get_lock(); 0: none.
 * \return 0, ::MPMP_EINVAL (NULL \p v, a bad type), ::MPMP_ENOSPC,
 * ::MPMP_EDEAD, ::MPMP_EBADF, ::MPMP_ETIMEDOUT, ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_manager_value(mpmp_manager_t m, mpmp_value_t *v,
                                mpmp_type_t type, const void *init,
                                int lock);
/** @} */

#ifdef __cplusplus
}
#endif
#endif /* MPMP_MANAGER_H */
