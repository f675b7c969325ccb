/*
 * A stand-in for another MPI library, preloaded (LD_PRELOAD) into a
 * program built with this one: MPI_Get_library_version answers
 * MPMP_TEST_MPI_LIBRARY (default: an MPI of no known family), as a
 * program that links two MPIs, or runs under another MPI's module, would
 * see it. mpmp_init must refuse to go on, naming both (issue 18).
 */
#include <stdlib.h>
#include <string.h>

int MPI_Get_library_version(char *version, int *resultlen);

int MPI_Get_library_version(char *version, int *resultlen) {
  const char *v = getenv("MPMP_TEST_MPI_LIBRARY");
  if (v == NULL)
    v = "Other MPI 9.9 (a test's stand-in)";
  size_t n = strlen(v) < 255 ? strlen(v) : 255;
  memcpy(version, v, n);
  version[n] = '\0';
  *resultlen = (int)n;
  return 0;
}
