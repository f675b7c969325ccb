/* The helpers of the SharedMemory tests (shm_common.h). */
#include <dirent.h>
#include <unistd.h>

#include "shm_common.h"

int not_null_marker;

int expect_not_here(char *err, const char *name) {
  mpmp_shm_t *s = NOT_NULL;
  EXPECT_RC(mpmp_shm_attach(&s, name), MPMP_SHM_ENOENT);
  EXPECT(s == NULL);
  EXPECT_MSG(name);
  EXPECT_MSG("per node");
  return 0;
}

/* ---- what the kernel sees --------------------------------------------------- */

/* This process's fds that are block `name` (the creator keeps one). */
int memfds_of(const char *name, int *fd) {
  char want[128], path[300], target[256];
  snprintf(want, sizeof want, "/memfd:mpmp-shm:%s (deleted)", name);
  DIR *d = opendir("/proc/self/fd");
  assert_non_null(d);
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.')
      continue;
    snprintf(path, sizeof path, "/proc/self/fd/%s", de->d_name);
    ssize_t len = readlink(path, target, sizeof target - 1);
    if (len <= 0)
      continue;
    target[len] = '\0';
    if (strcmp(target, want) == 0) {
      n++;
      if (fd)
        *fd = atoi(de->d_name);
    }
  }
  closedir(d);
  return n;
}

/* Does this process map block `name`? */
int mapped(const char *name) {
  char want[128], line[512];
  snprintf(want, sizeof want, "/memfd:mpmp-shm:%s (deleted)", name);
  FILE *f = fopen("/proc/self/maps", "r");
  assert_non_null(f);
  int n = 0;
  while (fgets(line, sizeof line, f))
    n += strstr(line, want) != NULL;
  fclose(f);
  return n;
}

int in_dev_shm(const char *sub) {
  int n = 0;
  DIR *d = opendir("/dev/shm");
  if (d == NULL)
    return 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    n += strstr(de->d_name, sub) != NULL;
    char path[512];
    snprintf(path, sizeof path, "/dev/shm/%s", de->d_name);
    DIR *s = opendir(path);
    if (s == NULL)
      continue;
    struct dirent *e;
    while ((e = readdir(s)) != NULL)
      n += strstr(e->d_name, sub) != NULL;
    closedir(s);
  }
  closedir(d);
  return n;
}
