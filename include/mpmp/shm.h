/**
 * \file mpmp/shm.h
 * \brief SharedMemory and ShareableList
 *        (Python's multiprocessing.shared_memory).
 *
 * \code
 * // shm = shared_memory.SharedMemory(create=True, size=4 * 8)
 * mpmp_shm_t *shm;
 * mpmp_shm_create(&shm, NULL, 4 * sizeof(double));  // NULL: a fresh name
 * double *arr = mpmp_shm_buf(shm);
 * arr[0] = 1.1; arr[1] = 2.2; arr[2] = 3.3; arr[3] = 4.4;
 * // Process(target=read_data, args=(shm.name,)): copy the name into the
 * // argument (at most MPMP_SHM_NAME_MAX bytes and its NUL)
 * char name[MPMP_SHM_NAME_SIZE];
 * snprintf(name, sizeof name, "%s", mpmp_shm_name(shm));
 * ...
 * // in the body: shm = shared_memory.SharedMemory(name=shm_name)
 * mpmp_shm_t *mine;
 * mpmp_shm_attach(&mine, name);
 * const double *data = mpmp_shm_buf(mine);
 * mpmp_shm_close(mine);                             // shm.close()
 * ...
 * // back in the main rank, after join: shm.close(); shm.unlink()
 * mpmp_shm_unlink(shm);
 * mpmp_shm_close(shm);
 * \endcode
 *
 * **Blocks and names.** A block is raw memory that every rank of one node
 * can map, found by a name of up to ::MPMP_SHM_NAME_MAX bytes. Any rank
 * creates one at any time (creation is not collective: the other ranks may
 * be running tasks), and any rank of the same node attaches to it by name,
 * as Python's processes of one machine do. Ranks of another node cannot: a
 * name lives in the node where it was created, so each node has its own
 * names (the same name may even exist on two nodes, as two blocks). Use an
 * Array (mpmp/shared.h) for data that every node must see.
 *
 * Names are private to the job: two jobs on one machine may use the same
 * names at the same time and never see each other's blocks.
 *
 * **Lifetime (Python's POSIX semantics).** mpmp_shm_close() unmaps this
 * process's view and frees the object; the block lives on while its name
 * does. mpmp_shm_unlink() removes the name (from any rank of the node, on
 * any object for the block): later attaches fail, the name may be created
 * again, and the mappings that exist stay valid until each is closed.
 * Python's `shm.close(); shm.unlink()` is `mpmp_shm_unlink(shm);
 * mpmp_shm_close(shm);` here: close frees the object, so unlink first (the
 * order does not matter to the block). A block whose creator closed it but
 * nobody unlinked stays attachable until mpmp_finalize(), which releases
 * everything the job's ranks still hold.
 *
 * In detail, for an mpmp_shm_t (and an mpmp_sharelist_t, which holds one):
 * - After mpmp_shm_unlink(): mpmp_shm_buf(), mpmp_shm_size(),
 *   mpmp_shm_name() and the memory stay valid (a ShareableList's get and
 *   set calls too); another unlink is ::MPMP_SHM_ENOENT, as is an attach
 *   by that name (until someone creates it again).
 * - After mpmp_shm_close() (mpmp_sharelist_close()) the object is freed,
 *   as by free(): it must not be passed to any call again (not even
 *   close), and the memory it mapped must not be touched. Close NULL: 0.
 * - After mpmp_finalize(): the mapping, the getters and a ShareableList's
 *   get and set calls still work, and close must still be called; unlink,
 *   create and attach are ::MPMP_ENOTINIT.
 * - A block lives as long as the process that created it: one whose
 *   creator has ended (its rank, or the task host that ran an isolated
 *   task or a Process body, which a crash, an exit() or a pool's
 *   maxtasksperchild ends) cannot be attached any more (::MPMP_EDEAD,
 *   once; then ::MPMP_SHM_ENOENT), and its name is free again; those
 *   already attached keep their mapping. Create a block that must outlive
 *   a task in the main rank.
 * - A refused call (a value that does not fit its item, an index out of
 *   range, a buffer too small) changes nothing.
 *
 * **Nothing in /dev/shm.** A block is anonymous memory of the creating
 * rank (a Linux memfd, mode 0600: only the job's user may open it), not a
 * file in /dev/shm: whether the job ends normally, by MPI_Abort, by a
 * crash or by Ctrl-C, the kernel frees it with the last process that maps
 * it, and nothing is ever left behind. Its size is sealed: nobody can
 * shrink it under the others' mappings. The memory is not taken from the
 * node heap (MPMP_HEAP_SIZE); the node's name table takes about 64 KiB of
 * it, once, at the node's first SharedMemory call.
 *
 * **Threads.** Every call may be made from any thread; one object must not
 * be closed while another thread uses it. The memory itself has no lock,
 * as in Python: use a Lock (mpmp/sync.h) for compound updates.
 *
 * Errors: ::MPMP_EINVAL (a bad name, a size of 0), ::MPMP_SHM_EEXIST (create:
 * the name is taken on this node), ::MPMP_SHM_ENOENT (attach, unlink: no
 * such name on this node: never created here, created on another node, or
 * unlinked), ::MPMP_ENOSPC (the node's name table is full), ::MPMP_ENOMEM,
 * ::MPMP_EPERM (the creator's memory could not be opened: ranks of one node
 * must run as one user with /proc mounted), ::MPMP_EDEAD (the creating process
 * is gone), ::MPMP_ENOTINIT. mpmp_errmsg() says which name and why.
 */
#ifndef MPMP_SHM_H
#define MPMP_SHM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "mpmp/common.h"
#include "mpmp/shared.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The longest name, in bytes (no NUL). */
#define MPMP_SHM_NAME_MAX 63
/** Bytes to hold a name and its NUL. */
#define MPMP_SHM_NAME_SIZE (MPMP_SHM_NAME_MAX + 1)
/** Names (live blocks) per node. */
#define MPMP_SHM_MAX_BLOCKS 256

/**
 * "No block of that name on this node" (Python's FileNotFoundError).
 * \note Today an alias of ::MPMP_EBADF (a name is the block's handle); use
 * the macro, which will follow if a code of its own is added.
 */
#define MPMP_SHM_ENOENT MPMP_EBADF
/**
 * "The name is taken on this node" (Python's FileExistsError).
 * \note Today an alias of ::MPMP_EPERM; use the macro.
 */
#define MPMP_SHM_EEXIST MPMP_EPERM

/** This process's view of a block (a process-local object), made by
 *  mpmp_shm_create() or mpmp_shm_attach() and freed by mpmp_shm_close(). */
typedef struct mpmp_shm mpmp_shm_t;

/**
 * SharedMemory(name, create=True, size): a new block of \p size (>= 1)
 * zeroed bytes, mapped in this process.
 * \param[out] shm  the new object
 * \param name  1 to ::MPMP_SHM_NAME_MAX printable bytes, or NULL for a fresh
 *              name ("psm_" and 8 hex digits, as Python makes them)
 * \param size  its size in bytes (>= 1; fixed)
 * \return 0, ::MPMP_EINVAL, ::MPMP_SHM_EEXIST, ::MPMP_ENOSPC, ::MPMP_ENOMEM,
 * ::MPMP_ENOTSUP (no memfd_create: Linux before 3.17).
 */
MPMP_API int mpmp_shm_create(mpmp_shm_t **shm, const char *name, size_t size);
/**
 * SharedMemory(name): map the block of this node named \p name.
 * \param[out] shm  the new view of the block.
 * \param name      its name.
 * \return 0, ::MPMP_EINVAL, ::MPMP_SHM_ENOENT (the message says that blocks
 * are per node), ::MPMP_EPERM, ::MPMP_EDEAD, ::MPMP_ENOMEM.
 */
MPMP_API int mpmp_shm_attach(mpmp_shm_t **shm, const char *name);
/**
 * SharedMemory(name, create, size), as Python spells it: create when
 * \p create is non-zero, else attach (\p size is then ignored, as in Python).
 * \param[out] shm  the new object.
 * \param name      the name (NULL with \p create: a fresh one).
 * \param create    non-zero: mpmp_shm_create(); 0: mpmp_shm_attach().
 * \param size      the size to create.
 * \return as mpmp_shm_create() or mpmp_shm_attach().
 */
MPMP_API int mpmp_shm_open(mpmp_shm_t **shm, const char *name, int create,
                           size_t size);
/**
 * The memory (Python's `buf`).
 * \param shm  the object.
 * \return the block's first byte in this process, valid until
 * mpmp_shm_close(); NULL if \p shm is NULL. */
MPMP_API void *mpmp_shm_buf(const mpmp_shm_t *shm);
/**
 * The block's size.
 * \param shm  the object.
 * \return its size in bytes, as created (0 if \p shm is NULL). */
MPMP_API size_t mpmp_shm_size(const mpmp_shm_t *shm);
/**
 * The block's name.
 * \param shm  the object.
 * \return its name ("" if \p shm is NULL); valid until mpmp_shm_close(). */
MPMP_API const char *mpmp_shm_name(const mpmp_shm_t *shm);
/**
 * Remove the name: later attaches are ::MPMP_SHM_ENOENT and the name may be
 * created again; every existing mapping (this one too) stays valid until
 * closed.
 * \param shm  an object for the block (the creator's or any attached one).
 * \return 0, or ::MPMP_SHM_ENOENT if the block was unlinked already;
 * ::MPMP_EINVAL (NULL), ::MPMP_EBADF (an object of an earlier mpmp_init()),
 * ::MPMP_ENOTINIT.
 */
MPMP_API int mpmp_shm_unlink(mpmp_shm_t *shm);
/**
 * Unmap this view and free \p shm (NULL: nothing). The block and its name
 * stay until unlinked. Also allowed after mpmp_finalize().
 * \param shm  the object (NULL: nothing); invalid afterwards.
 * \return 0.
 */
MPMP_API int mpmp_shm_close(mpmp_shm_t *shm);

/* ---- ShareableList ---------------------------------------------------------- */

/**
 * The item kind of a byte string (Python's str and bytes); the others are
 * the scalar ::mpmp_type_t values, ::MPMP_BYTE excepted, ::MPMP_SL_BOOL and
 * ::MPMP_SL_NONE.
 */
#define MPMP_SL_BYTES 0x100
/**
 * The item kind of a bool (Python's True and False): read and written with
 * mpmp_sharelist_get_bool() and mpmp_sharelist_set_bool(); equal to the
 * numbers 1 and 0 in count and index, as in Python.
 */
#define MPMP_SL_BOOL 0x101
/**
 * The item kind of None: it holds no value (mpmp_sharelist_is_none() tells
 * it), equals only None in count and index, and stays None (a list's
 * types are fixed at creation; Python would let another value take its
 * 8 bytes).
 */
#define MPMP_SL_NONE 0x102

/**
 * One item: to create a list (its type and initial value), and to count or
 * find a value. Build it with mpmp_sl_int(), mpmp_sl_float(), mpmp_sl_str(),
 * mpmp_sl_bytes(); for another scalar type, set `type` afterwards
 * (`mpmp_sl_item_t x = mpmp_sl_int(7); x.type = MPMP_INT32;`).
 */
typedef struct mpmp_sl_item {
  int type;          /**< an ::mpmp_type_t scalar, ::MPMP_SL_BYTES,
                          ::MPMP_SL_BOOL or ::MPMP_SL_NONE */
  int64_t i;         /**< integer types (uint64: the bits); a bool: 0 or 1 */
  double f;          /**< ::MPMP_FLOAT, ::MPMP_DOUBLE */
  const void *bytes; /**< ::MPMP_SL_BYTES: \p len bytes */
  size_t len;        /**< ::MPMP_SL_BYTES: the number of bytes */
  size_t cap;        /**< ::MPMP_SL_BYTES: room for this many bytes (>= len;
                          0: len), fixed for the list's life */
} mpmp_sl_item_t;

/**
 * An integer item (::MPMP_INT64; set `type` for another integer type).
 * \param v  its value.
 * \return the item.
 */
static inline mpmp_sl_item_t mpmp_sl_int(int64_t v) {
  mpmp_sl_item_t it = {MPMP_INT64, v, 0.0, NULL, 0, 0};
  return it;
}
/**
 * A floating-point item (::MPMP_DOUBLE; set `type` to ::MPMP_FLOAT for a
 * float).
 * \param v  its value.
 * \return the item.
 */
static inline mpmp_sl_item_t mpmp_sl_float(double v) {
  mpmp_sl_item_t it = {MPMP_DOUBLE, 0, v, NULL, 0, 0};
  return it;
}
/**
 * A byte string item: \p len bytes with room for \p cap (0: len).
 * \param p    the bytes (kept by pointer until the create call copies them).
 * \param len  their number.
 * \param cap  the room the list keeps for the item (>= len; 0: len).
 * \return the item.
 */
static inline mpmp_sl_item_t mpmp_sl_bytes(const void *p, size_t len,
                                           size_t cap) {
  mpmp_sl_item_t it = {MPMP_SL_BYTES, 0, 0.0, p, len, cap};
  return it;
}
/**
 * A bool item (Python's True or False).
 * \param v  its value: 0 is False, anything else True.
 * \return the item.
 */
static inline mpmp_sl_item_t mpmp_sl_bool(int v) {
  mpmp_sl_item_t it = {MPMP_SL_BOOL, v != 0, 0.0, NULL, 0, 0};
  return it;
}
/**
 * A None item.
 * \return the item.
 */
static inline mpmp_sl_item_t mpmp_sl_none(void) {
  mpmp_sl_item_t it = {MPMP_SL_NONE, 0, 0.0, NULL, 0, 0};
  return it;
}
/**
 * A C string's bytes (no NUL), with room for exactly those.
 * \param s  the string (NULL: an empty byte string).
 * \return the item.
 */
static inline mpmp_sl_item_t mpmp_sl_str(const char *s) {
  return mpmp_sl_bytes(s, s ? strlen(s) : 0, 0);
}

/** A ShareableList: a process-local view of a list in a SharedMemory block. */
typedef struct mpmp_sharelist mpmp_sharelist_t;

/**
 * ShareableList(sequence, name=name): a list of \p n items in a new block
 * (\p name as for mpmp_shm_create(): NULL for a fresh one). Types and byte
 * string capacities are fixed at creation; the block records them, so any
 * rank of the node can attach by name.
 * \param[out] sl  the new list.
 * \param name     its block's name; NULL: a fresh one.
 * \param items    its \p n items: types, values and capacities.
 * \param n        their number.
 * \return 0, ::MPMP_EINVAL (a bad item: the message says which), and the
 * errors of mpmp_shm_create().
 */
MPMP_API int mpmp_sharelist_create(mpmp_sharelist_t **sl, const char *name,
                                   const mpmp_sl_item_t *items, size_t n);
/**
 * ShareableList(name=name).
 * \param[out] sl  the new view of the list.
 * \param name     its block's name.
 * \return 0, ::MPMP_EINVAL (the block is not a
 * ShareableList), and the errors of mpmp_shm_attach().
 */
MPMP_API int mpmp_sharelist_attach(mpmp_sharelist_t **sl, const char *name);
/**
 * len(sl) in *\p n.
 * \param sl      the list.
 * \param[out] n  its number of items (fixed at creation).
 * \return 0, ::MPMP_EINVAL (a NULL argument).
 */
MPMP_API int mpmp_sharelist_len(const mpmp_sharelist_t *sl, size_t *n);
/**
 * The type of item \p i.
 * \param sl  the list.
 * \param i   the index (negative: from the end, as in Python).
 * \return an ::mpmp_type_t, ::MPMP_SL_BYTES, ::MPMP_SL_BOOL or
 * ::MPMP_SL_NONE, or an error (::MPMP_EINVAL out of range: Python's
 * IndexError).
 */
MPMP_API int mpmp_sharelist_type(const mpmp_sharelist_t *sl, int64_t i);
/**
 * sl[i] of an integer item, sign- or zero-extended (uint64: the bits).
 * \param sl        the list.
 * \param i         the index (negative: from the end, as in Python).
 * \param[out] out  the value.
 * \return 0, ::MPMP_EINVAL out of range or for another type (the message
 * says which).
 */
MPMP_API int mpmp_sharelist_get_i64(const mpmp_sharelist_t *sl, int64_t i,
                                    int64_t *out);
/**
 * sl[i] of a float or double item.
 * \param sl        the list.
 * \param i         the index (negative: from the end, as in Python).
 * \param[out] out  the value.
 * \return 0, ::MPMP_EINVAL out of range or for another type.
 */
MPMP_API int mpmp_sharelist_get_f64(const mpmp_sharelist_t *sl, int64_t i,
                                    double *out);
/**
 * sl[i] of a byte string item: copied into \p buf (\p max bytes), its
 * length in *\p len (may be NULL).
 * \param sl        the list.
 * \param i         the index (negative: from the end, as in Python).
 * \param buf       room for the bytes.
 * \param max       the room in \p buf.
 * \param[out] len  the item's length (may be NULL).
 * \return 0, ::MPMP_EMSGSIZE if it does not fit (*\p len says how much is
 * needed; nothing is copied), ::MPMP_EINVAL out of range or for another
 * type.
 */
MPMP_API int mpmp_sharelist_get_bytes(const mpmp_sharelist_t *sl,
                                      int64_t i, void *buf, size_t max, size_t *len);
/**
 * sl[i] = x for an integer item.
 * \param sl  the list.
 * \param i   the index (negative: from the end, as in Python).
 * \param x   the new value.
 * \return 0, ::MPMP_EINVAL if x does not fit its type (nothing changes),
 * out of range or for another type.
 */
MPMP_API int mpmp_sharelist_set_i64(mpmp_sharelist_t *sl, int64_t i,
                                    int64_t x);
/**
 * sl[i] = x for a float or double item.
 * \param sl  the list.
 * \param i   the index (negative: from the end, as in Python).
 * \param x   the new value.
 * \return 0, ::MPMP_EINVAL (a finite x beyond a float item's range, out of
 * range, another type).
 */
MPMP_API int mpmp_sharelist_set_f64(mpmp_sharelist_t *sl, int64_t i,
                                    double x);
/**
 * sl[i] = bytes.
 * \param sl    the list.
 * \param i     the index (negative: from the end, as in Python).
 * \param data  the bytes (may be NULL when \p len is 0).
 * \param len   their number.
 * \return 0, ::MPMP_EMSGSIZE past the item's capacity (nothing changes),
 * ::MPMP_EINVAL out of range or for another type.
 */
MPMP_API int mpmp_sharelist_set_bytes(mpmp_sharelist_t *sl, int64_t i,
                                      const void *data, size_t len);
/**
 * sl[i] of a bool item: 1 for True, 0 for False.
 * \param sl        the list.
 * \param i         the index (negative: from the end, as in Python).
 * \param[out] out  the value.
 * \return 0, ::MPMP_EINVAL out of range (IndexError) or for another type.
 */
MPMP_API int mpmp_sharelist_get_bool(const mpmp_sharelist_t *sl, int64_t i,
                                     int *out);
/**
 * sl[i] = x for a bool item.
 * \param sl  the list.
 * \param i   the index (negative: from the end, as in Python).
 * \param x   the new value: 0 is False, anything else True.
 * \return 0, ::MPMP_EINVAL out of range or for another type.
 */
MPMP_API int mpmp_sharelist_set_bool(mpmp_sharelist_t *sl, int64_t i, int x);
/**
 * sl[i] is None.
 * \param sl  the list.
 * \param i   the index (negative: from the end, as in Python).
 * \return 1 if item \p i is None, 0 if not, ::MPMP_EINVAL out of range.
 */
MPMP_API int mpmp_sharelist_is_none(const mpmp_sharelist_t *sl, int64_t i);
/**
 * sl.count(value): items equal to \p value in *\p count. Numbers compare by
 * value whatever their types (7 == 7.0, as in Python); byte strings by
 * their bytes; a number never equals a byte string.
 * \param sl          the list.
 * \param value       the value to count.
 * \param[out] count  how many items equal it.
 * \return 0, ::MPMP_EINVAL (a NULL argument, a bad value).
 */
MPMP_API int mpmp_sharelist_count(const mpmp_sharelist_t *sl,
                                  const mpmp_sl_item_t *value, size_t *count);
/**
 * sl.index(value): the first item equal to \p value in *\p index.
 * \param sl          the list.
 * \param value       the value to find (compared as by
 *                    mpmp_sharelist_count()).
 * \param[out] index  its first index.
 * \return 0, ::MPMP_EINVAL when there is none (Python's ValueError).
 */
MPMP_API int mpmp_sharelist_index(const mpmp_sharelist_t *sl,
                                  const mpmp_sl_item_t *value, size_t *index);
/**
 * The block under the list (sl.shm): its name and size; don't close it.
 * \param sl  the list.
 * \return the list's SharedMemory object (NULL if \p sl is NULL); valid
 * until mpmp_sharelist_close().
 */
MPMP_API mpmp_shm_t *mpmp_sharelist_shm(const mpmp_sharelist_t *sl);
/**
 * The block's name (sl.shm.name).
 * \param sl  the list.
 * \return the name ("" if \p sl is NULL); valid until
 * mpmp_sharelist_close().
 */
MPMP_API const char *mpmp_sharelist_name(const mpmp_sharelist_t *sl);
/**
 * sl.shm.unlink().
 * \param sl  the list.
 * \return as mpmp_shm_unlink(); ::MPMP_EINVAL for NULL.
 */
MPMP_API int mpmp_sharelist_unlink(mpmp_sharelist_t *sl);
/**
 * sl.shm.close(), and free \p sl. Also allowed after mpmp_finalize().
 * \param sl  the list (NULL: nothing); invalid afterwards.
 * \return 0.
 */
MPMP_API int mpmp_sharelist_close(mpmp_sharelist_t *sl);

#ifdef __cplusplus
}
#endif
#endif /* MPMP_SHM_H */
