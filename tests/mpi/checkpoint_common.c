/* The checkpoint tests' directories and journals (checkpoint_common.h). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint_common.h"
#include "mpitest.h"

char root[64];

/* A fresh directory under root. */
const char *new_dir(void) {
  static int k;
  static char dirs[32][128];
  char *d = dirs[k++ % 32];
  snprintf(d, 128, "%s/d%d", root, k);
  assert_int_equal(mkdir(d, 0755), 0);
  return d;
}

/* The one journal in dir. */
void only_journal(const char *dir, char *path, size_t n) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int found = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strncmp(e->d_name, "map-", 4) == 0) {
      snprintf(path, n, "%.120s/%.120s", dir, e->d_name);
      found++;
    }
  closedir(d);
  if (found != 1)
    fail_msg("%d journals in %s, expected 1", found, dir);
}

/* Move dir's journal to a new directory, as the next map's (the first map
 * of this process in a directory is its map-0001: journals are numbered
 * per directory): returns that directory. */
const char *carry(const char *dir) {
  char from[256], to[256];
  only_journal(dir, from, sizeof from);
  const char *next = new_dir();
  snprintf(to, sizeof to, "%s/map-0001.mpmpj", next);
  assert_int_equal(rename(from, to), 0);
  return next;
}

off_t file_size(const char *dir) {
  char p[256];
  struct stat st;
  only_journal(dir, p, sizeof p);
  assert_int_equal(stat(p, &st), 0);
  return st.st_size;
}

void cut_journal(const char *dir, off_t size) {
  char p[256];
  only_journal(dir, p, sizeof p);
  assert_int_equal(truncate(p, size), 0);
}

void damage_journal(const char *dir, off_t at, unsigned char mask) {
  char p[256];
  only_journal(dir, p, sizeof p);
  int fd = open(p, O_RDWR);
  assert_true(fd >= 0);
  unsigned char c;
  assert_int_equal(pread(fd, &c, 1, at), 1);
  c ^= mask;
  assert_int_equal(pwrite(fd, &c, 1, at), 1);
  close(fd);
}

/* A copy of the journal at `from` in a new directory, as the journal of
 * the next map there: returns the directory. */
const char *place(const char *from) {
  const char *dir = new_dir();
  char to[256], cmd[700];
  snprintf(to, sizeof to, "%s/map-0001.mpmpj", dir);
  snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
  assert_int_equal(system(cmd), 0);
  return dir;
}
