/**
 * \file mpmp/manager.h
 * \brief Manager: a server rank holding dicts, lists and Namespaces that every
 *        rank can use (Python's multiprocessing.Manager()).
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
 * on a free worker rank, as Python starts a server process; it holds every
 * object of the manager in that rank's own memory and answers each call as
 * a message, from the rank's progress engine, so that the calls of all ranks
 * on all nodes are applied one at a time, in arrival order (each call is
 * atomic; a sequence of calls is not: hold a Lock for that, as in Python).
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
 * than ::MPMP_MANAGER_TIMEOUT seconds (::MPMP_ETIMEDOUT).
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
 *
 * **Data.** Keys are C strings (at most ::MPMP_MANAGER_MAX_KEY bytes); values
 * are byte strings of 0 to ::MPMP_MANAGER_MAX_VALUE bytes, copied (Python
 * pickles objects; here you choose the bytes). Getting a value into a buffer
 * that is too small is ::MPMP_EMSGSIZE with the value's size in `*size` and
 * nothing lost (a pop then removes nothing); the `_alloc` variants return a
 * malloc()ed copy (release it with free()). Python's KeyError,
 * AttributeError and IndexError are ::MPMP_EINVAL with a message naming the
 * key or index. List indices are Python's: negative ones count from the
 * end.
 */
#ifndef MPMP_MANAGER_H
#define MPMP_MANAGER_H

#include <stddef.h>
#include <stdint.h>
#include "mpmp/common.h"

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
  uint16_t zero;  /**< always 0 */
  uint32_t tag;   /**< check value over the fields above */
  uint32_t pad;   /**< always 0 */
} mpmp_mref_t;

/** A Manager (its server). */
typedef struct mpmp_manager { mpmp_mref_t ref; } mpmp_manager_t;
/** A manager's dict: string keys, byte values, insertion order. */
typedef struct mpmp_dict { mpmp_mref_t ref; } mpmp_dict_t;
/** A manager's list of byte values. */
typedef struct mpmp_list { mpmp_mref_t ref; } mpmp_list_t;
/** A manager's Namespace: named byte attributes. */
typedef struct mpmp_namespace { mpmp_mref_t ref; } mpmp_namespace_t;

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

/** Release what keys(), items() or a slice returned (NULL or zeroed: no-op). */
MPMP_API void mpmp_items_free(mpmp_items_t *items);

/* ---- the Manager --------------------------------------------------------- */

/**
 * Manager(): start a server on a free worker rank (main rank only).
 * \return 0, ::MPMP_EBUSY (no free worker rank: every one runs a process, a
 * pool or another manager; the message says how many ranks to ask for),
 * ::MPMP_ENOTMAIN.
 */
MPMP_API int mpmp_manager_start(mpmp_manager_t *m);
/**
 * shutdown(): stop the server, free everything it held and give its rank
 * back (main rank only). Afterwards every call on the manager or its
 * objects, from any rank, is ::MPMP_EDEAD. Shutting down twice is 0.
 */
MPMP_API int mpmp_manager_shutdown(mpmp_manager_t m);
/** The server's rank (it asks the server): ::MPMP_EDEAD after shutdown. */
MPMP_API int mpmp_manager_rank(mpmp_manager_t m);
/** 0 while the server runs, ::MPMP_EDEAD once shut down, ::MPMP_EBADF. */
MPMP_API int mpmp_manager_alive(mpmp_manager_t m);

/* ---- dict ---------------------------------------------------------------- */

/** manager.dict(): a new empty dict, from any rank. */
MPMP_API int mpmp_dict_create(mpmp_manager_t m, mpmp_dict_t *d);
/**
 * Free the dict and its data (Python frees it with its last proxy); its
 * handles become stale (::MPMP_EBADF).
 */
MPMP_API int mpmp_dict_free(mpmp_dict_t d);
/** d[key] = value (\p size bytes). ::MPMP_EMSGSIZE over the limits. */
MPMP_API int mpmp_dict_set(mpmp_dict_t d, const char *key, const void *value,
                           size_t size);
/**
 * d[key] into \p buf (\p cap bytes); \p size (may be NULL) gets its size.
 * \return 0, ::MPMP_EINVAL (KeyError), ::MPMP_EMSGSIZE (\p cap too small:
 * `*size` is the size needed).
 */
MPMP_API int mpmp_dict_get(mpmp_dict_t d, const char *key, void *buf,
                           size_t cap, size_t *size);
/**
 * d.get(key, default): as mpmp_dict_get(), but a missing key copies
 * \p def (\p def_size bytes) instead. \return 1 if the key was there, 0 if
 * the default was used, or a negative error.
 */
MPMP_API int mpmp_dict_get_or(mpmp_dict_t d, const char *key, void *buf,
                              size_t cap, size_t *size, const void *def,
                              size_t def_size);
/** d[key] as a malloc()ed copy in *\p value (free() it); size in *\p size. */
MPMP_API int mpmp_dict_get_alloc(mpmp_dict_t d, const char *key, void **value,
                                 size_t *size);
/** The size of d[key] in *\p size; ::MPMP_EINVAL if missing. */
MPMP_API int mpmp_dict_size(mpmp_dict_t d, const char *key, size_t *size);
/** del d[key]; ::MPMP_EINVAL if missing. */
MPMP_API int mpmp_dict_del(mpmp_dict_t d, const char *key);
/** key in d: \return 1 or 0 (or a negative error). */
MPMP_API int mpmp_dict_contains(mpmp_dict_t d, const char *key);
/** len(d) in *\p n. */
MPMP_API int mpmp_dict_len(mpmp_dict_t d, size_t *n);
/** d.keys(), in insertion order. */
MPMP_API int mpmp_dict_keys(mpmp_dict_t d, mpmp_items_t *keys);
/** d.items(), in insertion order. */
MPMP_API int mpmp_dict_items(mpmp_dict_t d, mpmp_items_t *items);
/**
 * d.update(pairs): set \p n keys at once (in one atomic step; a later
 * duplicate wins). Pass an items() result as
 * `(it.count, it.keys, it.values, it.sizes)`.
 */
MPMP_API int mpmp_dict_update(mpmp_dict_t d, size_t n,
                              const char *const *keys,
                              const void *const *values, const size_t *sizes);
/** d.clear() */
MPMP_API int mpmp_dict_clear(mpmp_dict_t d);
/**
 * d.pop(key): get and remove. ::MPMP_EMSGSIZE removes nothing;
 * ::MPMP_EINVAL if missing.
 */
MPMP_API int mpmp_dict_pop(mpmp_dict_t d, const char *key, void *buf,
                           size_t cap, size_t *size);
MPMP_API int mpmp_dict_pop_alloc(mpmp_dict_t d, const char *key, void **value,
                                 size_t *size);

/* ---- list ---------------------------------------------------------------- */

/** manager.list(): a new empty list, from any rank. */
MPMP_API int mpmp_list_create(mpmp_manager_t m, mpmp_list_t *l);
MPMP_API int mpmp_list_free(mpmp_list_t l);
/** l.append(value) */
MPMP_API int mpmp_list_append(mpmp_list_t l, const void *value, size_t size);
/** l.extend(values): \p n values appended in one atomic step. */
MPMP_API int mpmp_list_extend(mpmp_list_t l, size_t n,
                              const void *const *values, const size_t *sizes);
/**
 * l[i] into \p buf. \return 0, ::MPMP_EINVAL (IndexError: the message
 * gives the index and the length), ::MPMP_EMSGSIZE (`*size` = size needed).
 */
MPMP_API int mpmp_list_get(mpmp_list_t l, int64_t i, void *buf, size_t cap,
                           size_t *size);
MPMP_API int mpmp_list_get_alloc(mpmp_list_t l, int64_t i, void **value,
                                 size_t *size);
/** l[i] = value */
MPMP_API int mpmp_list_set(mpmp_list_t l, int64_t i, const void *value,
                           size_t size);
/**
 * l.insert(i, value): before index \p i, 0 <= i <= len (or -len <= i < 0).
 * Unlike Python, an index out of that range is ::MPMP_EINVAL, not clamped.
 */
MPMP_API int mpmp_list_insert(mpmp_list_t l, int64_t i, const void *value,
                              size_t size);
/** l.pop(i) (Python's pop() is i = -1). ::MPMP_EMSGSIZE removes nothing. */
MPMP_API int mpmp_list_pop(mpmp_list_t l, int64_t i, void *buf, size_t cap,
                           size_t *size);
MPMP_API int mpmp_list_pop_alloc(mpmp_list_t l, int64_t i, void **value,
                                 size_t *size);
/** len(l) in *\p n. */
MPMP_API int mpmp_list_len(mpmp_list_t l, size_t *n);
/**
 * l[start:stop]: indices as in Python (negative from the end, clamped to
 * the list; ::MPMP_LIST_END for "to the end"); values only (`values`,
 * `sizes`).
 */
MPMP_API int mpmp_list_slice(mpmp_list_t l, int64_t start, int64_t stop,
                             mpmp_items_t *values);

/* ---- Namespace ----------------------------------------------------------- */

/** manager.Namespace(): a new Namespace with no attributes, from any rank. */
MPMP_API int mpmp_namespace_create(mpmp_manager_t m, mpmp_namespace_t *ns);
MPMP_API int mpmp_namespace_free(mpmp_namespace_t ns);
/** ns.name = value */
MPMP_API int mpmp_namespace_set(mpmp_namespace_t ns, const char *name,
                                const void *value, size_t size);
/** ns.name into \p buf; ::MPMP_EINVAL (AttributeError), ::MPMP_EMSGSIZE. */
MPMP_API int mpmp_namespace_get(mpmp_namespace_t ns, const char *name,
                                void *buf, size_t cap, size_t *size);
MPMP_API int mpmp_namespace_get_alloc(mpmp_namespace_t ns, const char *name,
                                      void **value, size_t *size);
/** del ns.name; ::MPMP_EINVAL if it has no such attribute. */
MPMP_API int mpmp_namespace_del(mpmp_namespace_t ns, const char *name);
/** hasattr(ns, name): \return 1 or 0. */
MPMP_API int mpmp_namespace_has(mpmp_namespace_t ns, const char *name);

#ifdef __cplusplus
}
#endif
#endif /* MPMP_MANAGER_H */
