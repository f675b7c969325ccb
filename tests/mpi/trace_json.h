/*
 * Reading an MPMP_TRACE file as a viewer would (tests only): a strict
 * JSON parser (RFC 8259: any text that is not JSON is refused, with the
 * byte where it went wrong), and the checks that make a timeline display
 * right in Perfetto:
 *   - on each track (pid, tid), complete ("X") and begun ("B") events
 *     nest: an event that starts inside another ends inside it, and an
 *     unfinished one ("B" with no end) is the last of its track;
 *   - async events ("b"/"e") pair up by (cat, id): one begin per id, at
 *     most one end, not before its begin; a begin without an end says
 *     args.unfinished, one with an end does not.
 * trace_read() does both and fills a trace_t with the events.
 */
#ifndef MPMP_TRACE_JSON_H
#define MPMP_TRACE_JSON_H

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype_t;

typedef struct jv {
  jtype_t t;
  double num;
  int b;
  char *str;
  int n;            /* J_ARR, J_OBJ: members */
  struct jv *items; /* their values */
  char **keys;      /* J_OBJ: their names */
} jv_t;

typedef struct jparse {
  const char *s, *p;
  char err[160];
  int depth;
} jparse_t;

static int j_fail(jparse_t *j, const char *what) {
  if (!j->err[0])
    snprintf(j->err, sizeof j->err, "%s at byte %ld", what,
             (long)(j->p - j->s));
  return -1;
}

static void j_ws(jparse_t *j) {
  while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
    j->p++;
}

static int j_value(jparse_t *j, jv_t *v);

static int j_hex4(const char *p, unsigned *u) {
  *u = 0;
  for (int i = 0; i < 4; i++) {
    if (!isxdigit((unsigned char)p[i]))
      return -1;
    *u = *u * 16 + (unsigned)(isdigit((unsigned char)p[i])
                                  ? p[i] - '0'
                                  : tolower((unsigned char)p[i]) - 'a' + 10);
  }
  return 0;
}

/* The length of a valid UTF-8 sequence at p (RFC 3629), or 0. */
static int j_utf8(const unsigned char *p) {
  unsigned char c = p[0];
  int n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
        : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
  unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
  for (int i = 1; i < n; i++)
    if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xbf))
      return 0;
  return n;
}

/* A string (after its quote) into a new buffer: UTF-8 checked and kept as
 * it is, escapes decoded (\u below 0x80 kept, others as '?'). */
static int j_string(jparse_t *j, char **out) {
  size_t cap = 32, n = 0;
  int cont = 0; /* continuation bytes of a sequence already checked */
  char *b = malloc(cap);
  if (b == NULL)
    return j_fail(j, "out of memory");
  for (;;) {
    unsigned char c = (unsigned char)*j->p;
    if (c == '\0' || c < 0x20) {
      free(b);
      return j_fail(j, c ? "a control character in a string"
                         : "unterminated string");
    }
    if (cont > 0) {
      cont--;
    } else if (c >= 0x80) {
      cont = j_utf8((const unsigned char *)j->p) - 1;
      if (cont < 0) {
        free(b);
        return j_fail(j, "a string that is not UTF-8");
      }
    }
    j->p++;
    if (c == '"')
      break;
    if (c == '\\') {
      char e = *j->p++;
      unsigned u;
      switch (e) {
      case '"': case '\\': case '/': c = (unsigned char)e; break;
      case 'b': c = '\b'; break;
      case 'f': c = '\f'; break;
      case 'n': c = '\n'; break;
      case 'r': c = '\r'; break;
      case 't': c = '\t'; break;
      case 'u':
        if (j_hex4(j->p, &u) < 0) {
          free(b);
          return j_fail(j, "a bad \\u escape");
        }
        j->p += 4;
        c = u < 0x80 ? (unsigned char)u : '?';
        break;
      default:
        free(b);
        return j_fail(j, "a bad escape");
      }
    }
    if (n + 2 > cap) {
      char *nb = realloc(b, cap *= 2);
      if (nb == NULL) {
        free(b);
        return j_fail(j, "out of memory");
      }
      b = nb;
    }
    b[n++] = (char)c;
  }
  b[n] = '\0';
  *out = b;
  return 0;
}

static int j_number(jparse_t *j, jv_t *v) {
  const char *p = j->p;
  if (*p == '-')
    p++;
  if (*p == '0')
    p++;
  else if (isdigit((unsigned char)*p))
    while (isdigit((unsigned char)*p))
      p++;
  else
    return j_fail(j, "a bad number");
  if (*p == '.') {
    p++;
    if (!isdigit((unsigned char)*p))
      return j_fail(j, "a bad fraction");
    while (isdigit((unsigned char)*p))
      p++;
  }
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '+' || *p == '-')
      p++;
    if (!isdigit((unsigned char)*p))
      return j_fail(j, "a bad exponent");
    while (isdigit((unsigned char)*p))
      p++;
  }
  v->t = J_NUM;
  v->num = strtod(j->p, NULL);
  j->p = p;
  return 0;
}

static int j_push(jparse_t *j, jv_t *v, char *key) {
  if ((v->n & (v->n - 1)) == 0) { /* 0, 1, 2, 4, ...: grow */
    int cap = v->n ? 2 * v->n : 1;
    jv_t *items = realloc(v->items, (size_t)cap * sizeof *items);
    char **keys = v->t == J_OBJ ? realloc(v->keys, (size_t)cap * sizeof *keys)
                                : NULL;
    if (items)
      v->items = items;
    if (keys)
      v->keys = keys;
    if (items == NULL || (v->t == J_OBJ && keys == NULL)) {
      free(key);
      return j_fail(j, "out of memory");
    }
  }
  memset(&v->items[v->n], 0, sizeof *v->items);
  if (v->t == J_OBJ)
    v->keys[v->n] = key;
  v->n++;
  return 0;
}

static int j_value(jparse_t *j, jv_t *v) {
  memset(v, 0, sizeof *v);
  j_ws(j);
  if (++j->depth > 64)
    return j_fail(j, "nested too deeply");
  int rc = 0;
  char c = *j->p;
  if (c == '{' || c == '[') {
    char close = c == '{' ? '}' : ']';
    v->t = c == '{' ? J_OBJ : J_ARR;
    j->p++;
    j_ws(j);
    if (*j->p == close) {
      j->p++;
    } else {
      for (;;) {
        char *key = NULL;
        j_ws(j);
        if (v->t == J_OBJ) {
          if (*j->p != '"')
            return j_fail(j, "a member without a name");
          j->p++;
          if (j_string(j, &key) < 0)
            return -1;
          j_ws(j);
          if (*j->p++ != ':') {
            free(key);
            return j_fail(j, "no ':' after a name");
          }
        }
        if (j_push(j, v, key) < 0 || j_value(j, &v->items[v->n - 1]) < 0)
          return -1;
        j_ws(j);
        if (*j->p == ',') {
          j->p++;
          continue;
        }
        if (*j->p != close)
          return j_fail(j, v->t == J_OBJ ? "no ',' or '}'" : "no ',' or ']'");
        j->p++;
        break;
      }
    }
  } else if (c == '"') {
    j->p++;
    v->t = J_STR;
    rc = j_string(j, &v->str);
  } else if (!strncmp(j->p, "true", 4) || !strncmp(j->p, "false", 5)) {
    v->t = J_BOOL;
    v->b = c == 't';
    j->p += v->b ? 4 : 5;
  } else if (!strncmp(j->p, "null", 4)) {
    j->p += 4;
  } else {
    rc = j_number(j, v);
  }
  j->depth--;
  return rc;
}

static void j_free(jv_t *v) {
  for (int i = 0; i < v->n; i++) {
    j_free(&v->items[i]);
    if (v->t == J_OBJ)
      free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->str);
}

static const jv_t *j_get(const jv_t *o, const char *key) {
  for (int i = 0; o && o->t == J_OBJ && i < o->n; i++)
    if (!strcmp(o->keys[i], key))
      return &o->items[i];
  return NULL;
}

static const char *j_str(const jv_t *v) {
  return v && v->t == J_STR ? v->str : NULL;
}

/* ---- the trace ----------------------------------------------------------- */

typedef struct tev {
  char ph;
  const char *name, *cat, *id;
  long long ts, dur; /* nanoseconds; dur of an unfinished "B": -1 */
  int pid, tid;
  int unfinished;
  double first_item, items, job;
  const jv_t *args;
} tev_t;

typedef struct trace {
  jv_t root;
  tev_t *ev;
  int n;
  const char *written; /* otherData.written */
  char err[300];
} trace_t;

static long long us_to_ns(const jv_t *v) {
  if (v == NULL || v->t != J_NUM)
    return -1;
  double x = v->num * 1000; /* printed with 3 decimals: whole ns */
  return (long long)(x + (x < 0 ? -0.5 : 0.5));
}

static double num_or(const jv_t *v, double dflt) {
  return v && v->t == J_NUM ? v->num : dflt;
}

static int cmp_track(const void *a, const void *b) {
  const tev_t *x = *(const tev_t *const *)a, *y = *(const tev_t *const *)b;
  if (x->pid != y->pid)
    return x->pid - y->pid;
  if (x->tid != y->tid)
    return x->tid - y->tid;
  if (x->ts != y->ts)
    return x->ts < y->ts ? -1 : 1;
  long long dx = x->dur < 0 ? LLONG_MAX : x->dur;
  long long dy = y->dur < 0 ? LLONG_MAX : y->dur;
  return dx > dy ? -1 : dx < dy; /* the longer one first: it holds the other */
}

#define T_FAIL(t, ...)                                                     \
  do {                                                                     \
    snprintf((t)->err, sizeof (t)->err, __VA_ARGS__);                      \
    return -1;                                                             \
  } while (0)

/* Nesting per track: see the top of this file. */
static int trace_check_tracks(trace_t *t) {
  const tev_t **sl = malloc(((size_t)t->n + 1) * sizeof *sl);
  int m = 0;
  if (sl == NULL)
    T_FAIL(t, "out of memory");
  for (int i = 0; i < t->n; i++)
    if (t->ev[i].ph == 'X' || t->ev[i].ph == 'B')
      sl[m++] = &t->ev[i];
  qsort(sl, (size_t)m, sizeof *sl, cmp_track);
  const tev_t *stack[64];
  int depth = 0, rc = 0;
  for (int i = 0; i < m && rc == 0; i++) {
    const tev_t *e = sl[i];
    if (i > 0 && (sl[i - 1]->pid != e->pid || sl[i - 1]->tid != e->tid))
      depth = 0;
    long long end = e->dur < 0 ? LLONG_MAX : e->ts + e->dur;
    while (depth > 0) {
      const tev_t *top = stack[depth - 1];
      long long tend = top->dur < 0 ? LLONG_MAX : top->ts + top->dur;
      if (tend > e->ts)
        break;
      depth--;
    }
    if (depth > 0) {
      const tev_t *top = stack[depth - 1];
      long long tend = top->dur < 0 ? LLONG_MAX : top->ts + top->dur;
      if (top->dur < 0 || end > tend) {
        snprintf(t->err, sizeof t->err, "pid %d tid %d: '%s' at %lld ns "
                 "starts inside '%s' (%lld ns, %s) and ends after it",
                 e->pid, e->tid, e->name, e->ts, top->name, top->ts,
                 top->dur < 0 ? "unfinished" : "complete");
        rc = -1;
        break;
      }
    }
    if (depth == 64) {
      snprintf(t->err, sizeof t->err, "events nested 64 deep");
      rc = -1;
      break;
    }
    stack[depth++] = e;
  }
  free(sl);
  return rc;
}

/* b/e pairs: see the top of this file. */
static int trace_check_async(trace_t *t) {
  for (int i = 0; i < t->n; i++) {
    const tev_t *b = &t->ev[i];
    if (b->ph != 'b' && b->ph != 'e')
      continue;
    if (b->id == NULL || b->cat == NULL)
      T_FAIL(t, "an async '%c' event without id or cat", b->ph);
    int nb = 0, ne = 0;
    const tev_t *beg = NULL, *end = NULL;
    for (int k = 0; k < t->n; k++) {
      const tev_t *o = &t->ev[k];
      if ((o->ph == 'b' || o->ph == 'e') && o->id && o->cat &&
          !strcmp(o->id, b->id) && !strcmp(o->cat, b->cat) &&
          o->pid == b->pid) {
        if (o->ph == 'b') {
          nb++;
          beg = o;
        } else {
          ne++;
          end = o;
        }
      }
    }
    if (nb != 1 || ne > 1)
      T_FAIL(t, "id %s: %d begins and %d ends (one and at most one)", b->id,
             nb, ne);
    if (end != NULL && end->ts < beg->ts)
      T_FAIL(t, "id %s ends before it begins", b->id);
    if ((end == NULL) != (beg->unfinished != 0))
      T_FAIL(t, "id %s: %s, but args.unfinished is %s", b->id,
             end ? "it ended" : "it has no end",
             beg->unfinished ? "set" : "not set");
  }
  return 0;
}

/* Parse `text`; 0, or -1 with t->err saying why. */
static int trace_parse(trace_t *t, const char *text) {
  memset(t, 0, sizeof *t);
  jparse_t j = {.s = text, .p = text};
  if (j_value(&j, &t->root) < 0)
    T_FAIL(t, "not JSON: %s", j.err);
  j_ws(&j);
  if (*j.p != '\0') {
    j_fail(&j, "text after the JSON value");
    T_FAIL(t, "not JSON: %s", j.err);
  }
  const jv_t *evs = j_get(&t->root, "traceEvents");
  if (evs == NULL || evs->t != J_ARR)
    T_FAIL(t, "no traceEvents array");
  t->written = j_str(j_get(j_get(&t->root, "otherData"), "written"));
  t->ev = calloc((size_t)evs->n + 1, sizeof *t->ev);
  if (t->ev == NULL)
    T_FAIL(t, "out of memory");
  for (int i = 0; i < evs->n; i++) {
    const jv_t *o = &evs->items[i];
    tev_t *e = &t->ev[t->n++];
    const char *ph = j_str(j_get(o, "ph"));
    const jv_t *pid = j_get(o, "pid"), *tid = j_get(o, "tid");
    if (o->t != J_OBJ || ph == NULL || strlen(ph) != 1 || !pid ||
        pid->t != J_NUM || !tid || tid->t != J_NUM)
      T_FAIL(t, "event %d lacks ph, pid or tid", i);
    e->ph = ph[0];
    e->name = j_str(j_get(o, "name"));
    e->cat = j_str(j_get(o, "cat"));
    e->id = j_str(j_get(o, "id"));
    e->pid = (int)pid->num;
    e->tid = (int)tid->num;
    e->ts = us_to_ns(j_get(o, "ts"));
    e->dur = e->ph == 'X' ? us_to_ns(j_get(o, "dur")) : -1;
    e->args = j_get(o, "args");
    const jv_t *u = j_get(e->args, "unfinished");
    e->unfinished = u && u->t == J_BOOL && u->b;
    e->first_item = num_or(j_get(e->args, "first_item"), -1);
    e->items = num_or(j_get(e->args, "items"), -1);
    e->job = num_or(j_get(e->args, "job"), -1);
    if (e->name == NULL)
      T_FAIL(t, "event %d has no name", i);
    if (strchr("XBbei", e->ph) && e->ts < -1000000000000LL)
      T_FAIL(t, "event %d ('%s') has no ts", i, e->name);
    if (e->ph == 'X' && e->dur < 0)
      T_FAIL(t, "complete event %d ('%s') without dur", i, e->name);
    if (e->ph == 'B' && !e->unfinished)
      T_FAIL(t, "a 'B' event ('%s') that is not marked unfinished", e->name);
  }
  if (trace_check_tracks(t) < 0 || trace_check_async(t) < 0)
    return -1;
  return 0;
}

static void trace_free(trace_t *t) {
  j_free(&t->root);
  free(t->ev);
  memset(t, 0, sizeof *t);
}

static char *trace_slurp(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (s != NULL && fread(s, 1, (size_t)n, f) != (size_t)n) {
    free(s);
    s = NULL;
  }
  if (s != NULL)
    s[n] = '\0';
  fclose(f);
  return s;
}

/* Read and check the file at `path`: 0, or -1 with t->err. */
static int trace_read(trace_t *t, const char *path) {
  char *s = trace_slurp(path);
  if (s == NULL) {
    memset(t, 0, sizeof *t);
    T_FAIL(t, "cannot read %s", path);
  }
  int rc = trace_parse(t, s);
  free(s);
  return rc;
}

#endif /* MPMP_TRACE_JSON_H */
