/* What the checkpoint tests (test_checkpoint*.c) have in common: fresh
 * directories under `root` (made by the test's setup), and journals
 * moved or copied to where a later map of the process looks for its own
 * (maps are matched by their order: map-K.mpmpj is the process's map
 * number K in that directory). */
#ifndef MPMP_CHECKPOINT_COMMON_H
#define MPMP_CHECKPOINT_COMMON_H

#include <sys/types.h>

extern char root[64];

/* A fresh directory under root. */
const char *new_dir(void);
/* The one journal in dir, into path (fails the test unless just one). */
void only_journal(const char *dir, char *path, size_t n);
/* Move dir's journal to a new directory, as the next map's: returns that
 * directory. */
const char *carry(const char *dir);
/* A copy of the journal at `from` in a new directory, as the journal of
 * the next map there: returns the directory. */
const char *place(const char *from);
/* The size of dir's journal; cut it to `size` bytes. */
off_t file_size(const char *dir);
void cut_journal(const char *dir, off_t size);
/* Flip the bits `mask` of byte `at` of dir's journal. */
void damage_journal(const char *dir, off_t at, unsigned char mask);

#endif
