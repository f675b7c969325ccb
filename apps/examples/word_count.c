/*
 * Python (the tutorials' word count over lines of text):
 *
 *   from collections import Counter
 *   from multiprocessing import Pool
 *
 *   def count_words(line):
 *       words = (w.strip('.,!*-').lower() for w in line.split())
 *       return Counter(w for w in words if w)
 *
 *   if __name__ == '__main__':
 *       lines = ZEN.splitlines() * 100
 *       with Pool() as pool:
 *           counts = pool.map(count_words, lines)
 *           total = sum(counts, Counter())
 *           again = sum(pool.imap_unordered(count_words, lines, 64), Counter())
 *       print(sum(total.values()), 'words,', len(total), 'distinct')
 *       # most_common(5), ties in alphabetical order
 *       for word, n in sorted(total.items(), key=lambda e: (-e[1], e[0]))[:5]:
 *           print(word, n)
 *
 * Lines have any length, and so do the tasks' results: map_var takes the
 * text as it is, one buffer, with the offsets at which its lines start
 * (n + 1 of them: line i is text[off[i] .. off[i + 1])), and hands back
 * the results in one buffer with their offsets. Each result is a Counter
 * written as text, one "word count" record a line, after a first line
 * naming the rank that counted it; the main rank merges them. The imap
 * runs the same over the lines as a stream (imap_unordered_var), each
 * line given by pointer and length.
 *
 *   mpirun -n 4 build/apps/examples/word_count
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpmp.h>

static const char ZEN[] =
    "Beautiful is better than ugly.\n"
    "Explicit is better than implicit.\n"
    "Simple is better than complex.\n"
    "Complex is better than complicated.\n"
    "Flat is better than nested.\n"
    "Sparse is better than dense.\n"
    "Readability counts.\n"
    "Special cases aren't special enough to break the rules.\n"
    "Although practicality beats purity.\n"
    "Errors should never pass silently.\n"
    "Unless explicitly silenced.\n"
    "In the face of ambiguity, refuse the temptation to guess.\n"
    "There should be one-- and preferably only one --obvious way to do it.\n"
    "Although that way may not be obvious at first unless you're Dutch.\n"
    "Now is better than never.\n"
    "Although never is often better than *right* now.\n"
    "If the implementation is hard to explain, it's a bad idea.\n"
    "If the implementation is easy to explain, it may be a good idea.\n"
    "Namespaces are one honking great idea -- let's do more of those!\n";

/* ---- a Counter: word -> count (open addressing) -------------------------- */

typedef struct { char *word; long n; } entry_t;
typedef struct { entry_t *e; size_t cap, used; } counter_t;

static void count_add(counter_t *c, const char *w, size_t len, long n) {
  if (2 * (c->used + 1) > c->cap) { /* grow, keep it half empty */
    counter_t big = {calloc(c->cap ? 2 * c->cap : 64, sizeof(entry_t)),
                     c->cap ? 2 * c->cap : 64, 0};
    for (size_t k = 0; k < c->cap; k++)
      if (c->e[k].word) {
        count_add(&big, c->e[k].word, strlen(c->e[k].word), c->e[k].n);
        free(c->e[k].word);
      }
    free(c->e);
    *c = big;
  }
  size_t h = 5381;
  for (size_t k = 0; k < len; k++)
    h = h * 33 + (unsigned char)w[k];
  for (h %= c->cap; c->e[h].word; h = (h + 1) % c->cap)
    if (strlen(c->e[h].word) == len && !memcmp(c->e[h].word, w, len)) {
      c->e[h].n += n;
      return;
    }
  c->e[h].word = malloc(len + 1);
  memcpy(c->e[h].word, w, len);
  c->e[h].word[len] = '\0';
  c->e[h].n = n;
  c->used++;
}

/* ---- the task: a line in, its Counter out ---------------------------------- */

static int count_words(mpmp_ctx_t *ctx) {
  size_t len;
  const char *line = mpmp_arg(ctx, &len);
  counter_t c = {0};
  char word[128];
  for (size_t i = 0; i < len;) {
    while (i < len && isspace((unsigned char)line[i]))
      i++;
    size_t a = i, b, w = 0;
    while (i < len && !isspace((unsigned char)line[i]))
      i++;
    for (b = i; a < b && strchr(".,!*-", line[a]); a++) /* strip() */
      ;
    for (; b > a && strchr(".,!*-", line[b - 1]); b--)
      ;
    for (; a < b && w < sizeof word; a++) /* lower() */
      word[w++] = (char)tolower((unsigned char)line[a]);
    if (w > 0)
      count_add(&c, word, w, 1);
  }
  /* "rank R\n" then "word n\n" records: as long as the line needs
   * (measured first, then written into the result) */
  size_t size = (size_t)snprintf(NULL, 0, "rank %d\n", mpmp_rank());
  for (size_t k = 0; k < c.cap; k++)
    if (c.e[k].word)
      size += (size_t)snprintf(NULL, 0, "%s %ld\n", c.e[k].word, c.e[k].n);
  char *out = mpmp_out(ctx, size + 1), *p = out; /* + 1: snprintf's NUL */
  p += sprintf(p, "rank %d\n", mpmp_rank());
  for (size_t k = 0; k < c.cap; k++)
    if (c.e[k].word) {
      p += sprintf(p, "%s %ld\n", c.e[k].word, c.e[k].n);
      free(c.e[k].word);
    }
  free(c.e);
  return 0;
}
MPMP_TASK(count_words);

/* ---- the main rank: merge ---------------------------------------------------- */

/* total += Counter(result); notes the rank that counted it. */
static void merge(counter_t *total, const char *r, size_t len, char *ranks) {
  const char *end = r + len, *nl;
  int rank = -1;
  if (sscanf(r, "rank %d", &rank) == 1 && rank > 0 && rank < mpmp_world_size())
    ranks[rank] = 1;
  for (r = (const char *)memchr(r, '\n', len) + 1; r < end && *r;
       r = nl + 1) {
    nl = memchr(r, '\n', (size_t)(end - r));
    const char *sp = nl;
    while (*sp != ' ') /* the word ends at the record's last space */
      sp--;
    count_add(total, r, (size_t)(sp - r), strtol(sp + 1, NULL, 10));
  }
}

static int by_count(const void *a, const void *b) {
  const entry_t *x = a, *y = b;
  if (x->n != y->n)
    return x->n < y->n ? 1 : -1;
  return strcmp(x->word, y->word); /* ties: alphabetical */
}

static void check(int rc, const char *what) {
  if (rc < 0) {
    if (!mpmp_is_main()) /* init failed on every rank: rank 0 says so */
      exit(0);
    fprintf(stderr, "%s failed: %s\n", what, mpmp_errmsg());
    exit(1);
  }
}

/* The lines of the text as a stream: pointer and length of each. */
typedef struct { const char *text; const size_t *off; size_t next, n; } lines_t;

static int next_line(void *user, const void **item, size_t *size) {
  lines_t *l = user;
  if (l->next == l->n)
    return 0;
  *item = l->text + l->off[l->next];
  *size = l->off[l->next + 1] - l->off[l->next];
  l->next++;
  return 1;
}

int main(int argc, char **argv) {
  int rc = mpmp_init(&argc, &argv);
  if (rc == MPMP_WORKER_DONE)
    return 0;
  check(rc, "mpmp_init");

  /* lines = ZEN.splitlines() * 100: the text 100 times, a line ends at
   * its '\n' (left in: split() drops it) */
  enum { TIMES = 100 };
  size_t zlen = strlen(ZEN), nz = 0;
  for (size_t k = 0; k < zlen; k++)
    nz += ZEN[k] == '\n';
  char *text = malloc(TIMES * zlen);
  size_t *off = malloc((TIMES * nz + 1) * sizeof *off), n = 0;
  off[0] = 0;
  for (int t = 0; t < TIMES; t++) {
    memcpy(text + t * zlen, ZEN, zlen);
    for (size_t k = 0; k < zlen; k++)
      if (ZEN[k] == '\n')
        off[++n] = t * zlen + k + 1;
  }

  mpmp_pool_t *pool;
  mpmp_varbuf_t counts;
  counter_t total = {0}, again = {0};
  char *ranks = calloc((size_t)mpmp_world_size(), 1);
  check(mpmp_pool_create(&pool, NULL), "Pool()");
  check(mpmp_pool_map_var(pool, count_words, text, off, n, 0, &counts),
        "pool.map");
  for (size_t i = 0; i < counts.n; i++) /* sum(counts, Counter()) */
    merge(&total, counts.data + counts.off[i],
          counts.off[i + 1] - counts.off[i], ranks);
  mpmp_varbuf_free(&counts);

  lines_t lines = {text, off, 0, n};
  mpmp_imap_t *it;
  const void *r;
  size_t size;
  check(mpmp_pool_imap_unordered_var(pool, count_words, next_line, &lines,
                                     64, 0, &it), "pool.imap_unordered");
  while ((rc = mpmp_imap_next_var(it, &r, &size, NULL, MPMP_FOREVER)) == 0)
    merge(&again, r, size, ranks);
  if (rc != MPMP_EEOF)
    check(rc, "next(it)");
  mpmp_imap_destroy(it);
  check(mpmp_pool_destroy(pool), "leaving the with block");

  /* print(sum(total.values()), 'words,', len(total), 'distinct') */
  entry_t *all = malloc(total.used * sizeof *all);
  long words = 0, words_again = 0;
  size_t m = 0;
  for (size_t k = 0; k < total.cap; k++)
    if (total.e[k].word) {
      all[m++] = total.e[k];
      words += total.e[k].n;
    }
  for (size_t k = 0; k < again.cap; k++)
    words_again += again.e[k].word ? again.e[k].n : 0;
  printf("%zu lines: %ld words, %zu distinct\n", n, words, total.used);
  qsort(all, m, sizeof *all, by_count); /* most_common, ties sorted */
  for (size_t k = 0; k < 5 && k < m; k++)
    printf("%s %ld\n", all[k].word, all[k].n);
  printf("imap_unordered: %ld words, %zu distinct: %s\n", words_again,
         again.used, words_again == words && again.used == total.used
                         ? "the same" : "NOT the same");
  int used = 0;
  for (int k = 1; k < mpmp_world_size(); k++)
    used += ranks[k];
  printf("items were computed by %d different ranks\n", used);

  for (size_t k = 0; k < total.cap; k++)
    free(total.e[k].word);
  for (size_t k = 0; k < again.cap; k++)
    free(again.e[k].word);
  free(total.e);
  free(again.e);
  free(all);
  free(ranks);
  free(text);
  free(off);
  return mpmp_finalize() < 0;
}
