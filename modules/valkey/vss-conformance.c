/* vss-conformance: plays a file of commands with expected replies against a
 * server given by URL, so that one file checks our module and valkey-search
 * alike.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   vss-conformance [-v] redis://[user:password@]host:port FILE...
 *
 * File format (one item per line; '#' starts a comment line):
 *
 *   > COMMAND arg "quoted arg\x00" f32:1,0,0.5
 *   < EXPECTED-REPLY
 *   !wait_ready INDEX      poll FT.INFO until `state` is `ready` (30 s)
 *   !sleep MS
 *
 * Arguments: words, "double quoted" with C escapes (\n \t \\ \" \xHH), or
 * f32:v1,v2,... for a little-endian float32 vector blob.
 *
 * Expected replies:
 *   +"OK"   status (exact)        +*        any status
 *   -"msg"  error (exact)         -~"part"  error containing part   -* any
 *   "text"  bulk string (exact)   ~"part"   bulk string containing part
 *   :3      integer               nil       null
 *   #0.25,1e-6  a number (integer or numeric string) within a tolerance
 *   $int    integer or decimal string (any value)   $str  any bulk string
 *   [a, b, ...]  array, elements in order; a final `...` accepts any rest
 *   {a, b}  array with these elements in any order
 *   map{"k": e, ...}  flat key/value array holding at least these keys
 *   *       anything
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <hiredis/hiredis.h>

typedef enum {
  E_ANY,
  E_STATUS,
  E_STATUS_ANY,
  E_ERROR,
  E_ERROR_SUB,
  E_ERROR_ANY,
  E_STR,
  E_STR_SUB,
  E_STR_ANY,
  E_INT,
  E_INTLIKE,
  E_NIL,
  E_NUM,
  E_ARRAY,
  E_SET,
  E_MAP,
} etype;

typedef struct expect expect;
struct expect {
  etype type;
  char *s;
  size_t len;
  long long i;
  double num, tol;
  expect **kids; /* E_MAP: key, value, key, value... */
  size_t n_kids;
  int rest; /* array ends with ... */
};

typedef struct {
  const char *s;
  size_t pos;
  char err[160];
} cursor;

static int verbose;

static void
expect_free (expect *e)
{
  if (e == NULL)
    return;
  free (e->s);
  for (size_t i = 0; i < e->n_kids; i++)
    expect_free (e->kids[i]);
  free (e->kids);
  free (e);
}

static void
skip_ws (cursor *c)
{
  while (c->s[c->pos] && isspace ((unsigned char)c->s[c->pos]))
    c->pos++;
}

static int
hexval (char ch)
{
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

/* A "quoted" string at the cursor, with C escapes; NULL on error. */
static char *
quoted (cursor *c, size_t *len)
{
  size_t cap = strlen (c->s + c->pos) + 1, n = 0;
  char *out = malloc (cap);

  if (out == NULL || c->s[c->pos] != '"') {
    snprintf (c->err, sizeof c->err, "a quoted string expected");
    free (out);
    return NULL;
  }
  c->pos++;
  for (;;) {
    char ch = c->s[c->pos++];
    if (ch == '\0') {
      snprintf (c->err, sizeof c->err, "unterminated string");
      free (out);
      return NULL;
    }
    if (ch == '"')
      break;
    if (ch == '\\') {
      char e = c->s[c->pos++];
      switch (e) {
      case 'n':
        ch = '\n';
        break;
      case 't':
        ch = '\t';
        break;
      case 'r':
        ch = '\r';
        break;
      case '0':
        ch = '\0';
        break;
      case 'x': {
        int h = hexval (c->s[c->pos]), l;
        l = h < 0 ? -1 : hexval (c->s[c->pos + 1]);
        if (h < 0 || l < 0) {
          snprintf (c->err, sizeof c->err, "bad \\x escape");
          free (out);
          return NULL;
        }
        ch = (char)(h * 16 + l);
        c->pos += 2;
        break;
      }
      case '\0':
        snprintf (c->err, sizeof c->err, "dangling escape");
        free (out);
        return NULL;
      default:
        ch = e;
      }
    }
    out[n++] = ch;
  }
  out[n] = '\0';
  *len = n;
  return out;
}

static expect *parse_expect (cursor *c);

static expect *
new_expect (etype t)
{
  expect *e = calloc (1, sizeof *e);

  if (e == NULL) {
    fprintf (stderr, "out of memory\n");
    exit (2);
  }
  e->type = t;
  return e;
}

static int
add_kid (expect *e, expect *k)
{
  expect **n = realloc (e->kids, (e->n_kids + 1) * sizeof *n);

  if (n == NULL)
    return -1;
  e->kids = n;
  e->kids[e->n_kids++] = k;
  return 0;
}

static int
starts (cursor *c, const char *w)
{
  size_t n = strlen (w);

  if (strncmp (c->s + c->pos, w, n))
    return 0;
  c->pos += n;
  return 1;
}

/* [a, b] / {a, b} / map{"k": v}: the opening bracket consumed. */
static expect *
parse_list (cursor *c, expect *e, char close, int map)
{
  for (;;) {
    expect *k;
    skip_ws (c);
    if (c->s[c->pos] == close) {
      c->pos++;
      return e;
    }
    if (e->n_kids > 0 || e->rest) {
      if (c->s[c->pos] != ',') {
        snprintf (c->err, sizeof c->err, "`,` or `%c` expected", close);
        goto fail;
      }
      c->pos++;
      skip_ws (c);
    }
    if (!map && close == ']' && starts (c, "...")) {
      e->rest = 1;
      skip_ws (c);
      if (c->s[c->pos] != ']') {
        snprintf (c->err, sizeof c->err, "`...` must come last");
        goto fail;
      }
      continue;
    }
    if (map) {
      expect *key = new_expect (E_STR);
      key->s = quoted (c, &key->len);
      if (key->s == NULL || add_kid (e, key) < 0) {
        expect_free (key);
        goto fail;
      }
      skip_ws (c);
      if (c->s[c->pos] != ':') {
        snprintf (c->err, sizeof c->err, "`:` expected after a key");
        goto fail;
      }
      c->pos++;
    }
    k = parse_expect (c);
    if (k == NULL || add_kid (e, k) < 0) {
      expect_free (k);
      goto fail;
    }
  }

fail:
  expect_free (e);
  return NULL;
}

static expect *
parse_expect (cursor *c)
{
  expect *e;
  char *end;

  skip_ws (c);
  if (starts (c, "map{"))
    return parse_list (c, new_expect (E_MAP), '}', 1);
  if (starts (c, "nil"))
    return new_expect (E_NIL);
  if (starts (c, "$int"))
    return new_expect (E_INTLIKE);
  if (starts (c, "$str"))
    return new_expect (E_STR_ANY);
  switch (c->s[c->pos]) {
  case '*':
    c->pos++;
    return new_expect (E_ANY);
  case '[':
    c->pos++;
    return parse_list (c, new_expect (E_ARRAY), ']', 0);
  case '{':
    c->pos++;
    return parse_list (c, new_expect (E_SET), '}', 0);
  case '+':
  case '-':
  case '~': {
    char k = c->s[c->pos++];
    int sub = 0;
    if ((k == '+' || k == '-') && c->s[c->pos] == '*') {
      c->pos++;
      return new_expect (k == '+' ? E_STATUS_ANY : E_ERROR_ANY);
    }
    if (k == '-' && c->s[c->pos] == '~') {
      sub = 1;
      c->pos++;
    }
    e = new_expect (k == '+'   ? E_STATUS
                    : k == '~' ? E_STR_SUB
                    : sub      ? E_ERROR_SUB
                               : E_ERROR);
    e->s = quoted (c, &e->len);
    if (e->s == NULL) {
      expect_free (e);
      return NULL;
    }
    return e;
  }
  case '"':
    e = new_expect (E_STR);
    e->s = quoted (c, &e->len);
    if (e->s == NULL) {
      expect_free (e);
      return NULL;
    }
    return e;
  case ':':
    c->pos++;
    e = new_expect (E_INT);
    errno = 0;
    e->i = strtoll (c->s + c->pos, &end, 10);
    if (end == c->s + c->pos || errno) {
      snprintf (c->err, sizeof c->err, "integer expected after `:`");
      expect_free (e);
      return NULL;
    }
    c->pos = (size_t)(end - c->s);
    return e;
  case '#':
    c->pos++;
    e = new_expect (E_NUM);
    e->num = strtod (c->s + c->pos, &end);
    if (end == c->s + c->pos || *end != ',') {
      snprintf (c->err, sizeof c->err, "#value,tolerance expected");
      expect_free (e);
      return NULL;
    }
    c->pos = (size_t)(end - c->s) + 1;
    e->tol = strtod (c->s + c->pos, &end);
    if (end == c->s + c->pos) {
      snprintf (c->err, sizeof c->err, "tolerance expected after `,`");
      expect_free (e);
      return NULL;
    }
    c->pos = (size_t)(end - c->s);
    return e;
  }
  snprintf (c->err, sizeof c->err, "unexpected `%.10s`", c->s + c->pos);
  return NULL;
}

static int
is_text (const redisReply *r)
{
  return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS;
}

static int
reply_number (const redisReply *r, double *out)
{
  char *end;

  if (r->type == REDIS_REPLY_INTEGER) {
    *out = (double)r->integer;
    return 1;
  }
  if (!is_text (r) || r->len == 0)
    return 0;
  *out = strtod (r->str, &end);
  return *end == '\0';
}

static int match (const expect *e, const redisReply *r);

static int
match_set (const expect *e, const redisReply *r)
{
  unsigned char *used;
  int ok = 1;

  if (r->type != REDIS_REPLY_ARRAY || r->elements != e->n_kids)
    return 0;
  used = calloc (r->elements + 1, 1);
  if (used == NULL)
    return 0;
  for (size_t i = 0; ok && i < e->n_kids; i++) {
    size_t j;
    for (j = 0; j < r->elements; j++)
      if (!used[j] && match (e->kids[i], r->element[j]))
        break;
    if (j == r->elements)
      ok = 0;
    else
      used[j] = 1;
  }
  free (used);
  return ok;
}

static int
match (const expect *e, const redisReply *r)
{
  double d;

  switch (e->type) {
  case E_ANY:
    return 1;
  case E_STATUS:
    return r->type == REDIS_REPLY_STATUS && r->len == e->len
           && !memcmp (r->str, e->s, e->len);
  case E_STATUS_ANY:
    return r->type == REDIS_REPLY_STATUS;
  case E_ERROR:
    return r->type == REDIS_REPLY_ERROR && r->len == e->len
           && !memcmp (r->str, e->s, e->len);
  case E_ERROR_SUB:
    return r->type == REDIS_REPLY_ERROR && strstr (r->str, e->s) != NULL;
  case E_ERROR_ANY:
    return r->type == REDIS_REPLY_ERROR;
  case E_STR:
    return r->type == REDIS_REPLY_STRING && r->len == e->len
           && !memcmp (r->str, e->s, e->len);
  case E_STR_SUB:
    return r->type == REDIS_REPLY_STRING && strstr (r->str, e->s) != NULL;
  case E_STR_ANY:
    return r->type == REDIS_REPLY_STRING;
  case E_INT:
    return r->type == REDIS_REPLY_INTEGER && r->integer == e->i;
  case E_INTLIKE:
    return r->type == REDIS_REPLY_INTEGER
           || (r->type == REDIS_REPLY_STRING && reply_number (r, &d)
               && d == floor (d));
  case E_NIL:
    return r->type == REDIS_REPLY_NIL;
  case E_NUM:
    return reply_number (r, &d) && fabs (d - e->num) <= e->tol;
  case E_ARRAY:
    if (r->type != REDIS_REPLY_ARRAY || r->elements < e->n_kids
        || (!e->rest && r->elements != e->n_kids))
      return 0;
    for (size_t i = 0; i < e->n_kids; i++)
      if (!match (e->kids[i], r->element[i]))
        return 0;
    return 1;
  case E_SET:
    return match_set (e, r);
  case E_MAP:
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2)
      return 0;
    for (size_t i = 0; i < e->n_kids; i += 2) {
      size_t j;
      for (j = 0; j < r->elements; j += 2)
        if (is_text (r->element[j]) && r->element[j]->len == e->kids[i]->len
            && !memcmp (r->element[j]->str, e->kids[i]->s, e->kids[i]->len))
          break;
      if (j == r->elements || !match (e->kids[i + 1], r->element[j + 1]))
        return 0;
    }
    return 1;
  }
  return 0;
}

static void
print_reply (const redisReply *r, FILE *f)
{
  switch (r->type) {
  case REDIS_REPLY_STATUS:
    fprintf (f, "+\"%s\"", r->str);
    break;
  case REDIS_REPLY_ERROR:
    fprintf (f, "-\"%s\"", r->str);
    break;
  case REDIS_REPLY_INTEGER:
    fprintf (f, ":%lld", r->integer);
    break;
  case REDIS_REPLY_NIL:
    fprintf (f, "nil");
    break;
  case REDIS_REPLY_STRING:
    fputc ('"', f);
    for (size_t i = 0; i < r->len && i < 80; i++) {
      unsigned char ch = (unsigned char)r->str[i];
      if (ch == '"' || ch == '\\')
        fprintf (f, "\\%c", ch);
      else if (ch >= 0x20 && ch < 0x7f)
        fputc (ch, f);
      else
        fprintf (f, "\\x%02x", ch);
    }
    fprintf (f, r->len > 80 ? "...\"" : "\"");
    break;
  case REDIS_REPLY_ARRAY:
    fputc ('[', f);
    for (size_t i = 0; i < r->elements; i++) {
      if (i)
        fputs (", ", f);
      print_reply (r->element[i], f);
    }
    fputc (']', f);
    break;
  default:
    fprintf (f, "?");
  }
}

/* ---- commands ---- */

typedef struct {
  int argc;
  char **argv;
  size_t *lens;
} command;

static void
command_clear (command *cmd)
{
  for (int i = 0; i < cmd->argc; i++)
    free (cmd->argv[i]);
  free (cmd->argv);
  free (cmd->lens);
  memset (cmd, 0, sizeof *cmd);
}

static int
command_add (command *cmd, char *arg, size_t len)
{
  char **a = realloc (cmd->argv, (size_t)(cmd->argc + 1) * sizeof *a);
  size_t *l;

  if (a == NULL)
    return -1;
  cmd->argv = a;
  l = realloc (cmd->lens, (size_t)(cmd->argc + 1) * sizeof *l);
  if (l == NULL)
    return -1;
  cmd->lens = l;
  cmd->argv[cmd->argc] = arg;
  cmd->lens[cmd->argc++] = len;
  return 0;
}

static int
parse_command (const char *line, command *cmd, char *err, size_t errlen)
{
  cursor c = { line, 0, "" };

  for (;;) {
    size_t start, len;
    char *arg;
    skip_ws (&c);
    if (line[c.pos] == '\0')
      return cmd->argc > 0 ? 0 : -1;
    if (line[c.pos] == '"') {
      arg = quoted (&c, &len);
      if (arg == NULL) {
        snprintf (err, errlen, "%s", c.err);
        return -1;
      }
    } else {
      start = c.pos;
      while (line[c.pos] && !isspace ((unsigned char)line[c.pos]))
        c.pos++;
      len = c.pos - start;
      if (len > 4 && !strncmp (line + start, "f32:", 4)) {
        const char *p = line + start + 4, *stop = line + c.pos;
        size_t n = 0;
        arg = malloc (4 * (len / 2 + 1));
        if (arg == NULL)
          return -1;
        while (p < stop) {
          char *end;
          float v = strtof (p, &end);
          uint32_t bits;
          if (end == p) {
            snprintf (err, errlen, "bad number in f32: vector");
            free (arg);
            return -1;
          }
          memcpy (&bits, &v, 4);
          for (int b = 0; b < 4; b++)
            arg[n++] = (char)((bits >> (8 * b)) & 0xff);
          p = end;
          if (p < stop && *p == ',')
            p++;
        }
        len = n;
      } else {
        arg = malloc (len + 1);
        if (arg == NULL)
          return -1;
        memcpy (arg, line + start, len);
        arg[len] = '\0';
      }
    }
    if (command_add (cmd, arg, len) < 0) {
      free (arg);
      return -1;
    }
  }
}

/* ---- connection ---- */

static redisContext *
connect_url (const char *url)
{
  const char *p = url, *at, *colon;
  char host[256], user[128] = "", pass[256] = "";
  int port = 6379;
  redisContext *c;
  struct timeval tv = { 10, 0 };

  if (!strncmp (p, "redis://", 8) || !strncmp (p, "valkey://", 9))
    p = strchr (p, '/') + 2;
  else {
    fprintf (stderr, "vss-conformance: URL must be redis:// or "
                     "valkey:// (no TLS)\n");
    return NULL;
  }
  at = strchr (p, '@');
  if (at != NULL) {
    const char *sep = memchr (p, ':', (size_t)(at - p));
    if (sep != NULL) {
      snprintf (user, sizeof user, "%.*s", (int)(sep - p), p);
      snprintf (pass, sizeof pass, "%.*s", (int)(at - sep - 1), sep + 1);
    } else
      snprintf (pass, sizeof pass, "%.*s", (int)(at - p), p);
    p = at + 1;
  }
  colon = strrchr (p, ':');
  if (colon != NULL) {
    snprintf (host, sizeof host, "%.*s", (int)(colon - p), p);
    port = atoi (colon + 1);
  } else
    snprintf (host, sizeof host, "%s", p);
  host[strcspn (host, "/")] = '\0';
  c = redisConnectWithTimeout (host, port, tv);
  if (c == NULL || c->err) {
    fprintf (stderr, "vss-conformance: cannot connect to %s:%d: %s\n", host,
             port, c ? c->errstr : "out of memory");
    if (c)
      redisFree (c);
    return NULL;
  }
  redisSetTimeout (c, tv);
  if (pass[0]) {
    redisReply *r = user[0] ? redisCommand (c, "AUTH %s %s", user, pass)
                            : redisCommand (c, "AUTH %s", pass);
    int ok = r != NULL && r->type == REDIS_REPLY_STATUS;
    if (r)
      freeReplyObject (r);
    if (!ok) {
      fprintf (stderr, "vss-conformance: AUTH failed\n");
      redisFree (c);
      return NULL;
    }
  }
  return c;
}

static int
wait_ready (redisContext *c, const char *index)
{
  for (int i = 0; i < 3000; i++) {
    redisReply *r = redisCommand (c, "FT.INFO %s", index);
    int ready = 0;
    if (r == NULL)
      return -1;
    if (r->type == REDIS_REPLY_ARRAY)
      for (size_t j = 0; j + 1 < r->elements; j += 2)
        if (is_text (r->element[j]) && !strcmp (r->element[j]->str, "state")
            && is_text (r->element[j + 1])
            && !strcmp (r->element[j + 1]->str, "ready"))
          ready = 1;
    freeReplyObject (r);
    if (ready)
      return 0;
    usleep (10000);
  }
  return -1;
}

static int
run_file (redisContext *c, const char *path, int *passed, int *failed)
{
  FILE *f = fopen (path, "r");
  char *line = NULL;
  size_t cap = 0;
  ssize_t got;
  int lineno = 0;
  command cmd = { 0 };
  int cmd_line = 0;
  char cmd_text[200] = "";
  redisReply *reply = NULL;

  if (f == NULL) {
    fprintf (stderr, "vss-conformance: cannot open %s: %s\n", path,
             strerror (errno));
    return -1;
  }
  while ((got = getline (&line, &cap, f)) >= 0) {
    char err[200] = "";
    lineno++;
    while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
      line[--got] = '\0';
    if (line[0] == '#' || line[0] == '\0')
      continue;
    if (!strncmp (line, "> ", 2)) {
      if (reply != NULL)
        freeReplyObject (reply);
      reply = NULL;
      command_clear (&cmd);
      if (parse_command (line + 2, &cmd, err, sizeof err) < 0) {
        fprintf (stderr, "%s:%d: bad command: %s\n", path, lineno, err);
        goto fail;
      }
      cmd_line = lineno;
      snprintf (cmd_text, sizeof cmd_text, "%s", line + 2);
      reply = redisCommandArgv (c, cmd.argc, (const char **)cmd.argv, cmd.lens);
      if (reply == NULL) {
        fprintf (stderr, "%s:%d: connection error: %s\n", path, lineno,
                 c->errstr);
        goto fail;
      }
    } else if (!strncmp (line, "< ", 2)) {
      cursor cur = { line + 2, 0, "" };
      expect *e = parse_expect (&cur);
      if (e != NULL) {
        skip_ws (&cur);
        if (cur.s[cur.pos] != '\0') {
          snprintf (cur.err, sizeof cur.err, "trailing `%.10s`",
                    cur.s + cur.pos);
          expect_free (e);
          e = NULL;
        }
      }
      if (e == NULL) {
        fprintf (stderr, "%s:%d: bad expectation: %s\n", path, lineno, cur.err);
        goto fail;
      }
      if (reply == NULL) {
        fprintf (stderr, "%s:%d: expectation without a command\n", path,
                 lineno);
        expect_free (e);
        goto fail;
      }
      if (match (e, reply)) {
        (*passed)++;
        if (verbose)
          printf ("ok   %s:%d %s\n", path, cmd_line, cmd_text);
      } else {
        (*failed)++;
        printf ("FAIL %s:%d %s\n  expected: %s\n  got:      ", path, cmd_line,
                cmd_text, line + 2);
        print_reply (reply, stdout);
        printf ("\n");
      }
      expect_free (e);
    } else if (!strncmp (line, "!wait_ready ", 12)) {
      if (wait_ready (c, line + 12) < 0) {
        (*failed)++;
        printf ("FAIL %s:%d index %s not ready in 30 s\n", path, lineno,
                line + 12);
      }
    } else if (!strncmp (line, "!sleep ", 7))
      usleep ((useconds_t)atoi (line + 7) * 1000u);
    else {
      fprintf (stderr, "%s:%d: unknown line\n", path, lineno);
      goto fail;
    }
  }
  if (reply)
    freeReplyObject (reply);
  command_clear (&cmd);
  free (line);
  fclose (f);
  return 0;

fail:
  if (reply)
    freeReplyObject (reply);
  command_clear (&cmd);
  free (line);
  fclose (f);
  return -1;
}

int
main (int argc, char **argv)
{
  redisContext *c;
  int passed = 0, failed = 0, i = 1, bad = 0;

  if (i < argc && !strcmp (argv[i], "-v")) {
    verbose = 1;
    i++;
  }
  if (argc - i < 2) {
    fprintf (stderr, "usage: vss-conformance [-v] redis://host:port FILE...\n");
    return 2;
  }
  c = connect_url (argv[i++]);
  if (c == NULL)
    return 2;
  for (; i < argc; i++)
    if (run_file (c, argv[i], &passed, &failed) < 0)
      bad = 1;
  redisFree (c);
  printf ("%d passed, %d failed\n", passed, failed);
  return bad ? 2 : failed ? 1 : 0;
}
