/*
 * mpmp-info: what mpmp sees in this job — version, ranks, nodes, the
 * binding of every rank, the transports, and (--settings or MPMP_INFO=1)
 * every MPMP_* setting; --json says the same for scripts, as
 * `hwloc-info`/`ompi_info --parsable` do.
 *
 *   mpirun -n 4 build/apps/mpmp-info
 *   scripts/pseudo-mpirun.sh 2 -n 4 build/apps/mpmp-info
 *   mpirun -n 4 build/apps/mpmp-info --json --settings
 *   build/apps/mpmp-info --version        (no mpirun needed)
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpmp.h>

static const char usage[] =
    "usage: mpmp-info [--settings] [--json] | --version | --help\n"
    "\n"
    "Run it as the job's program (mpirun -n N mpmp-info) to see what mpmp\n"
    "sees: its version, the MPI library, ranks, nodes, the binding of\n"
    "every rank (node, pid, cores, NUMA node, role) and the transports.\n"
    "\n"
    "  --settings  also every MPMP_* setting: value, source, allowed values\n"
    "  --json      one JSON object on stdout instead of the tables\n"
    "  --version   mpmp's and the MPI library's versions (no job needed)\n"
    "  --help      this text\n";

static void mpi_version(char *lib) {
  int len = 0;
  MPI_Get_library_version(lib, &len); /* allowed before MPI_Init */
  lib[strcspn(lib, ",\n")] = '\0';
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void json_str(const char *s, size_t n) {
  putchar('"');
  for (size_t i = 0; i < n && s[i]; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\')
      printf("\\%c", c);
    else if (c < 0x20)
      printf("\\u%04x", c);
    else
      putchar(c);
  }
  putchar('"');
}

static void trim(char *s) {
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n'))
    s[--n] = '\0';
}

/* Run print(f) into a string (the library prints its tables to a FILE). */
static char *capture(int (*print)(void *)) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (f == NULL)
    return NULL;
  print(f);
  fclose(f);
  return buf;
}

/* The binding table: rank node pid cores numa role, one rank a line. */
static void json_bindings(void) {
  char *table = capture(mpmp_print_bindings), *save = NULL;
  printf(",\n  \"bindings\": [");
  int first = 1;
  for (char *line = table ? strtok_r(table, "\n", &save) : NULL; line;
       line = strtok_r(NULL, "\n", &save)) {
    char node[256], cores[256], numa[32], role[32];
    int rank, pid;
    if (sscanf(line, "%d %255s %d %255s %31s %31s", &rank, node, &pid, cores,
               numa, role) != 6)
      continue; /* the header */
    printf("%s\n    {\"rank\": %d, \"node\": ", first ? "" : ",", rank);
    json_str(node, sizeof node);
    printf(", \"pid\": %d, \"cores\": ", pid);
    json_str(cores, sizeof cores);
    printf(", \"numa\": %s, \"role\": ", strcmp(numa, "-") ? numa : "null");
    json_str(role, sizeof role);
    printf("}");
    first = 0;
  }
  printf("\n  ]");
  free(table);
}

/* The settings table: name, value (columns 23-34, wider when the value
 * is), source ("env" or "default"), allowed values, meaning. A value from
 * the environment is printed as it was given (a path, a word) or as a
 * number without spaces; a path may hold spaces, " env ", " default " or
 * even a newline, so the value of a setting set in the environment is
 * matched against getenv() first, and the table is walked with that in
 * mind rather than split at every newline. */
static void json_settings(void) {
  char *table = capture(mpmp_print_settings);
  printf(",\n  \"settings\": {");
  int first = 1;
  for (char *line = table, *next; line != NULL && *line; line = next) {
    char *nl = strchr(line, '\n');
    next = nl ? nl + 1 : NULL;
    if (strncmp(line, "MPMP_", 5) != 0)
      continue;
    char name[64];
    if (sscanf(line, "%63s", name) != 1)
      continue;
    size_t linelen = nl ? (size_t)(nl - line) : strlen(line);
    const char *env = getenv(name);
    size_t elen = env ? strlen(env) : 0;
    size_t width = elen > 12 ? elen : 12;
    char value[4096];
    const char *src = NULL;
    if (env != NULL && strlen(line) >= 23 + width + 4 &&
        strncmp(line + 23, env, elen) == 0 &&
        strncmp(line + 23 + width, " env ", 5) == 0) {
      /* the value as given (it may span lines: skip past it) */
      snprintf(value, sizeof value, "%s", env);
      src = "env";
      nl = strchr(line + 23 + width, '\n');
      next = nl ? nl + 1 : NULL;
    } else {
      if (linelen < 36)
        continue;
      /* the source: the first " env " or " default " from column 36 on */
      const char *s = NULL;
      for (char *p = line + 35; p < line + linelen && s == NULL; p++)
        if (p[-1] == ' ' && (!strncmp(p, "env ", 4) || !strncmp(p, "default ", 8)))
          s = p;
      if (s == NULL)
        continue;
      size_t vlen = (size_t)(s - 1 - (line + 23));
      snprintf(value, sizeof value, "%.*s", (int)vlen, line + 23);
      trim(value);
      src = s[0] == 'e' ? "env" : "default";
    }
    printf("%s\n    ", first ? "" : ",");
    json_str(name, sizeof name);
    printf(": {\"value\": ");
    json_str(value, sizeof value);
    printf(", \"source\": \"%s\"}", src);
    first = 0;
  }
  printf("\n  }");
  free(table);
}

static void json_report(const char *lib, int settings) {
  printf("{\n  \"mpmp\": ");
  json_str(mpmp_version(), 64);
  printf(",\n  \"mpi\": ");
  json_str(lib, MPI_MAX_LIBRARY_VERSION_STRING);
  printf(",\n  \"ranks\": %d,\n  \"workers\": %d,\n  \"nodes\": %d,\n"
         "  \"cpu_count\": %d", mpmp_world_size(), mpmp_worker_count(),
         mpmp_node_count(), mpmp_cpu_count());
  json_bindings();
  if (settings)
    json_settings();
  printf("\n}\n");
}

int main(int argc, char **argv) {
  int settings = 0, json = 0;
  char lib[MPI_MAX_LIBRARY_VERSION_STRING];
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(usage, stdout);
      return 0;
    }
    if (!strcmp(argv[i], "--version")) {
      mpi_version(lib);
      printf("mpmp-info (mpmp) %s\nmpi: %s\n", mpmp_version(), lib);
      return 0;
    }
    if (!strcmp(argv[i], "--settings"))
      settings = 1;
    else if (!strcmp(argv[i], "--json"))
      json = 1;
    else {
      fprintf(stderr, "mpmp-info: unknown option '%s'\n%s", argv[i], usage);
      return 2;
    }
  }
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  if (rc < 0) {
    /* failed on every rank, most often for the same reason: said once,
     * by the job's rank 0; the others end with 0, so that a launcher
     * does not kill rank 0 before its message is out */
    if (mpmp_is_main() != 1)
      return 0;
    fprintf(stderr, "mpmp-info: %s: %s\n", mpmp_err_name(rc), mpmp_errmsg());
    return 1;
  }
  mpi_version(lib);
  if (json) {
    json_report(lib, settings);
  } else {
    printf("mpmp:       %s\n", mpmp_version());
    printf("mpi:        %s\n", lib);
    printf("ranks:      %d (1 main + %d workers)\n", mpmp_world_size(),
           mpmp_worker_count());
    printf("nodes:      %d\n", mpmp_node_count());
    printf("cpu_count:  %d (usable on the main rank's node)\n",
           mpmp_cpu_count());
    printf("transport:  same node: shared-memory doorbells + MPI "
           "point-to-point; across nodes: MPI point-to-point\n\n");
    mpmp_print_bindings(stdout);
    if (settings) {
      printf("\n");
      mpmp_print_settings(stdout);
    }
  }
  return mpmp_finalize() == 0 ? 0 : 1;
}
