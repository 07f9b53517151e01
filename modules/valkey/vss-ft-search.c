/* gst-vss Valkey module: FT.SEARCH parser and filter grammar (pure)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * FT.SEARCH <index> "<filter>=>[KNN <k> @<field> $<param> [EF_RUNTIME <n>]
 *   [AS <name>]]" [PARAMS <2n> <name> <value> ...] [RETURN <n> <field>
 *   [AS <alias>] ...] [LIMIT <off> <num>] [NOCONTENT] [TIMEOUT <ms>]
 *   [DIALECT <2..4>]
 *
 * Filter grammar (dialect 2: AND binds tighter than OR):
 *   or    := and ('|' and)*
 *   and   := unary unary*            juxtaposition
 *   unary := '-' unary | atom
 *   atom  := '(' or ')' | '*' | '@' field ':' ( '{' tag ('|' tag)* '}'
 *            | '[' bound bound ']' )
 *   bound := ['('] (number | inf | +inf | -inf | $param)
 * A tag ending in an unescaped '*' matches by prefix; '\' escapes any
 * character. Nesting is limited to VSS_FT_MAX_DEPTH levels.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "vss-ft.h"
#include "vss-ft-priv.h"

#define VSS_FT_MAX_DEPTH 64
#define VSS_FT_MAX_TAGS 1024

typedef struct {
  vss_ft_arg name;
  vss_ft_arg value;
  int used;
} param;

typedef struct {
  const char *s;
  size_t len;
  size_t pos;
  param *params;
  size_t n_params;
  int depth;
  char *err;
  size_t errlen;
} lexer;

static void
node_free (vss_ft_node *n)
{
  if (n == NULL)
    return;
  free (n->field);
  for (size_t i = 0; i < n->n_tags; i++)
    free (n->tags[i]);
  free (n->tags);
  free (n->tag_lens);
  free (n->tag_prefix);
  for (size_t i = 0; i < n->n_kids; i++)
    node_free (n->kids[i]);
  free (n->kids);
  free (n);
}

void
vss_ft_query_free (vss_ft_query *q)
{
  if (q == NULL)
    return;
  free (q->index);
  node_free (q->filter);
  free (q->vector_field);
  free (q->score_alias);
  for (size_t i = 0; i < q->n_ret; i++) {
    free (q->ret[i].name);
    free (q->ret[i].alias);
  }
  free (q->ret);
  free (q);
}

static vss_ft_node *
node_new (lexer *l, vss_ft_node_type type)
{
  vss_ft_node *n = calloc (1, sizeof *n);

  if (n == NULL)
    vss_ft_errf (l->err, l->errlen, "out of memory");
  else {
    n->type = type;
    n->field_index = -1;
  }
  return n;
}

static int
node_add_kid (lexer *l, vss_ft_node *n, vss_ft_node *kid)
{
  vss_ft_node **k = realloc (n->kids, (n->n_kids + 1) * sizeof *k);

  if (k == NULL) {
    vss_ft_errf (l->err, l->errlen, "out of memory");
    node_free (kid);
    return -1;
  }
  n->kids = k;
  n->kids[n->n_kids++] = kid;
  return 0;
}

static void
skip_ws (lexer *l)
{
  while (l->pos < l->len && isspace ((unsigned char)l->s[l->pos]))
    l->pos++;
}

static int
at_arrow (lexer *l)
{
  return l->pos + 1 < l->len && l->s[l->pos] == '=' && l->s[l->pos + 1] == '>';
}

static void
syntax_error (lexer *l, const char *what)
{
  if (l->pos >= l->len)
    vss_ft_errf (l->err, l->errlen, "Invalid query: %s at the end", what);
  else {
    unsigned char c = (unsigned char)l->s[l->pos];
    vss_ft_errf (l->err, l->errlen,
                 "Invalid query: %s at offset %zu (near `%c`)", what, l->pos,
                 (c >= 0x20 && c < 0x7f) ? c : '?');
  }
}

static param *
find_param (lexer *l, const char *name, size_t len)
{
  for (size_t i = 0; i < l->n_params; i++)
    if (l->params[i].name.len == len
        && memcmp (l->params[i].name.ptr, name, len) == 0) {
      l->params[i].used = 1;
      return &l->params[i];
    }
  return NULL;
}

static int
parse_double (const char *s, size_t len, double *out)
{
  char buf[64];
  char *end;
  double d;

  if (len == 0 || len >= sizeof buf)
    return -1;
  memcpy (buf, s, len);
  buf[len] = '\0';
  if (!strcasecmp (buf, "inf") || !strcasecmp (buf, "+inf")) {
    *out = INFINITY;
    return 0;
  }
  if (!strcasecmp (buf, "-inf")) {
    *out = -INFINITY;
    return 0;
  }
  /* strtod would also take "nan", "infinity", hex: keep to decimals. */
  for (size_t i = 0; i < len; i++)
    if (!strchr ("0123456789+-.eE", buf[i]))
      return -1;
  d = strtod (buf, &end);
  if (*end != '\0' || isnan (d))
    return -1;
  *out = d;
  return 0;
}

/* bound := ['('] value, ended by whitespace or ']'. */
static int
parse_bound (lexer *l, double *v, int *excl)
{
  size_t start;

  skip_ws (l);
  *excl = 0;
  if (l->pos < l->len && l->s[l->pos] == '(') {
    *excl = 1;
    l->pos++;
  }
  start = l->pos;
  while (l->pos < l->len && !isspace ((unsigned char)l->s[l->pos])
         && l->s[l->pos] != ']')
    l->pos++;
  if (l->pos == start) {
    syntax_error (l, "missing numeric bound");
    return -1;
  }
  if (l->s[start] == '$') {
    param *p = find_param (l, l->s + start + 1, l->pos - start - 1);
    if (p == NULL) {
      vss_ft_errf (l->err, l->errlen,
                   "Invalid query: unknown parameter in numeric range");
      return -1;
    }
    if (parse_double (p->value.ptr, p->value.len, v) < 0) {
      vss_ft_errf (l->err, l->errlen,
                   "Invalid query: a numeric range parameter is not a "
                   "number");
      return -1;
    }
    return 0;
  }
  if (parse_double (l->s + start, l->pos - start, v) < 0) {
    l->pos = start;
    syntax_error (l, "bad numeric bound");
    return -1;
  }
  return 0;
}

static int
add_tag (lexer *l, vss_ft_node *n, char *buf, size_t len, int prefix)
{
  char **t;
  size_t *tl;
  unsigned char *tp;

  if (len == 0) {
    syntax_error (l, "empty tag");
    return -1;
  }
  if (n->n_tags == VSS_FT_MAX_TAGS) {
    syntax_error (l, "too many tags");
    return -1;
  }
  t = realloc (n->tags, (n->n_tags + 1) * sizeof *t);
  if (t != NULL)
    n->tags = t;
  tl = realloc (n->tag_lens, (n->n_tags + 1) * sizeof *tl);
  if (tl != NULL)
    n->tag_lens = tl;
  tp = realloc (n->tag_prefix, (n->n_tags + 1) * sizeof *tp);
  if (tp != NULL)
    n->tag_prefix = tp;
  if (t == NULL || tl == NULL || tp == NULL)
    goto oom;
  n->tags[n->n_tags] = vss_ft_strndup (buf, len);
  if (n->tags[n->n_tags] == NULL)
    goto oom;
  n->tag_lens[n->n_tags] = len;
  n->tag_prefix[n->n_tags] = (unsigned char)prefix;
  n->n_tags++;
  return 0;

oom:
  vss_ft_errf (l->err, l->errlen, "out of memory");
  return -1;
}

/* '{' already consumed; reads up to the closing '}'. */
static int
parse_tags (lexer *l, vss_ft_node *n)
{
  char *buf = malloc (l->len + 1);
  size_t len = 0, keep = 0;
  int last_star = 0, ret = -1;

  if (buf == NULL) {
    vss_ft_errf (l->err, l->errlen, "out of memory");
    return -1;
  }
  for (;;) {
    char c;

    if (l->pos >= l->len) {
      syntax_error (l, "missing `}`");
      goto done;
    }
    c = l->s[l->pos++];
    if (c == '\\') {
      if (l->pos >= l->len) {
        syntax_error (l, "dangling escape");
        goto done;
      }
      buf[len++] = l->s[l->pos++];
      keep = len;
      last_star = 0;
    } else if (c == '|' || c == '}') {
      int prefix = last_star && keep == len && keep > 0;
      if (add_tag (l, n, buf, prefix ? keep - 1 : keep, prefix) < 0)
        goto done;
      len = keep = 0;
      last_star = 0;
      if (c == '}')
        break;
    } else if (isspace ((unsigned char)c)) {
      if (len > 0)
        buf[len++] = c; /* inner space; trailing ones dropped */
    } else {
      buf[len++] = c;
      keep = len;
      last_star = c == '*';
    }
  }
  ret = 0;

done:
  free (buf);
  return ret;
}

static vss_ft_node *parse_or (lexer *l);

static vss_ft_node *
parse_atom (lexer *l)
{
  vss_ft_node *n;
  char c;

  skip_ws (l);
  if (l->pos >= l->len) {
    syntax_error (l, "expression expected");
    return NULL;
  }
  c = l->s[l->pos];
  if (c == '(') {
    l->pos++;
    n = parse_or (l);
    if (n == NULL)
      return NULL;
    skip_ws (l);
    if (l->pos >= l->len || l->s[l->pos] != ')') {
      syntax_error (l, "missing `)`");
      node_free (n);
      return NULL;
    }
    l->pos++;
    return n;
  }
  if (c == '*') {
    l->pos++;
    return node_new (l, VSS_FT_NODE_ALL);
  }
  if (c == '@') {
    size_t start = ++l->pos;
    while (l->pos < l->len
           && (isalnum ((unsigned char)l->s[l->pos]) || l->s[l->pos] == '_'
               || l->s[l->pos] == '-' || l->s[l->pos] == '.'))
      l->pos++;
    if (l->pos == start) {
      syntax_error (l, "field name expected after `@`");
      return NULL;
    }
    if (l->pos >= l->len || l->s[l->pos] != ':') {
      syntax_error (l, "`:` expected after the field name");
      return NULL;
    }
    n = node_new (l, VSS_FT_NODE_TAG);
    if (n == NULL)
      return NULL;
    n->field = vss_ft_strndup (l->s + start, l->pos - start);
    if (n->field == NULL) {
      vss_ft_errf (l->err, l->errlen, "out of memory");
      node_free (n);
      return NULL;
    }
    l->pos++;
    skip_ws (l);
    if (l->pos < l->len && l->s[l->pos] == '{') {
      l->pos++;
      if (parse_tags (l, n) < 0) {
        node_free (n);
        return NULL;
      }
      return n;
    }
    if (l->pos < l->len && l->s[l->pos] == '[') {
      l->pos++;
      n->type = VSS_FT_NODE_NUMERIC;
      if (parse_bound (l, &n->lo, &n->lo_excl) < 0
          || parse_bound (l, &n->hi, &n->hi_excl) < 0) {
        node_free (n);
        return NULL;
      }
      skip_ws (l);
      if (l->pos >= l->len || l->s[l->pos] != ']') {
        syntax_error (l, "`]` expected after the numeric range");
        node_free (n);
        return NULL;
      }
      l->pos++;
      if (n->lo > n->hi) {
        vss_ft_errf (l->err, l->errlen,
                     "Invalid query: the numeric range on `%s` is "
                     "empty (start > end)",
                     n->field);
        node_free (n);
        return NULL;
      }
      return n;
    }
    syntax_error (l, "`{` or `[` expected after the field");
    node_free (n);
    return NULL;
  }
  if (isalnum ((unsigned char)c) || c == '"' || c == '%' || c == '~') {
    vss_ft_errf (l->err, l->errlen,
                 "Invalid query: text search is not supported at offset "
                 "%zu; use @field:{tags}, @field:[range] or *",
                 l->pos);
    return NULL;
  }
  syntax_error (l, "unexpected character");
  return NULL;
}

static vss_ft_node *
parse_unary (lexer *l)
{
  vss_ft_node *n, *kid;

  if (++l->depth > VSS_FT_MAX_DEPTH) {
    vss_ft_errf (l->err, l->errlen, "Invalid query: nested too deeply");
    return NULL;
  }
  skip_ws (l);
  if (l->pos < l->len && l->s[l->pos] == '-') {
    l->pos++;
    kid = parse_unary (l);
    if (kid == NULL)
      return NULL;
    n = node_new (l, VSS_FT_NODE_NOT);
    if (n == NULL || node_add_kid (l, n, kid) < 0) {
      if (n == NULL)
        node_free (kid);
      node_free (n);
      return NULL;
    }
  } else
    n = parse_atom (l);
  l->depth--;
  return n;
}

static vss_ft_node *
parse_and (lexer *l)
{
  vss_ft_node *first = NULL, *and = NULL;

  for (;;) {
    vss_ft_node *n;
    skip_ws (l);
    if (l->pos >= l->len || l->s[l->pos] == ')' || l->s[l->pos] == '|'
        || at_arrow (l))
      break;
    n = parse_unary (l);
    if (n == NULL)
      goto fail;
    if (first == NULL && and == NULL)
      first = n;
    else {
      if (and == NULL) {
        and = node_new (l, VSS_FT_NODE_AND);
        if (and == NULL) {
          node_free (n);
          goto fail;
        }
        if (node_add_kid (l, and, first) < 0) {
          first = NULL;
          node_free (n);
          goto fail;
        }
        first = NULL;
      }
      if (node_add_kid (l, and, n) < 0)
        goto fail;
    }
  }
  if (first == NULL && and == NULL) {
    syntax_error (l, "expression expected");
    return NULL;
  }
  return and? and : first;

fail:
  node_free (first);
  node_free (and);
  return NULL;
}

static vss_ft_node *
parse_or (lexer *l)
{
  vss_ft_node *first, * or = NULL;

  if (++l->depth > VSS_FT_MAX_DEPTH) {
    vss_ft_errf (l->err, l->errlen, "Invalid query: nested too deeply");
    return NULL;
  }
  first = parse_and (l);
  if (first == NULL)
    return NULL;
  for (;;) {
    vss_ft_node *n;
    skip_ws (l);
    if (l->pos >= l->len || l->s[l->pos] != '|')
      break;
    l->pos++;
    n = parse_and (l);
    if (n == NULL)
      goto fail;
    if (or == NULL) {
      or = node_new (l, VSS_FT_NODE_OR);
      if (or == NULL) {
        node_free (n);
        goto fail;
      }
      if (node_add_kid (l, or, first) < 0) {
        first = NULL;
        node_free (n);
        goto fail;
      }
      first = NULL;
    }
    if (node_add_kid (l, or, n) < 0)
      goto fail;
  }
  l->depth--;
  return or ? or : first;

fail:
  node_free (first);
  node_free (or);
  return NULL;
}

/* A whitespace-separated word inside the KNN brackets. */
static int
knn_word (lexer *l, vss_ft_arg *w)
{
  skip_ws (l);
  w->ptr = l->s + l->pos;
  while (l->pos < l->len && !isspace ((unsigned char)l->s[l->pos])
         && l->s[l->pos] != ']')
    l->pos++;
  w->len = (size_t)(l->s + l->pos - w->ptr);
  return w->len > 0 ? 0 : -1;
}

/* An integer written in place or given as $param. */
static int
knn_number (lexer *l, const vss_ft_arg *w, uint64_t min, uint64_t max,
            uint64_t *out, const char *what)
{
  const char *s = w->ptr;
  size_t len = w->len;

  if (len > 0 && s[0] == '$') {
    param *p = find_param (l, s + 1, len - 1);
    if (p == NULL) {
      vss_ft_errf (l->err, l->errlen, "Invalid query: unknown parameter for %s",
                   what);
      return -1;
    }
    s = p->value.ptr;
    len = p->value.len;
  }
  if (vss_ft_parse_u64 (s, len, min, max, out) < 0) {
    vss_ft_errf (l->err, l->errlen,
                 "Invalid query: %s must be an integer from %llu to %llu", what,
                 (unsigned long long)min, (unsigned long long)max);
    return -1;
  }
  return 0;
}

static int
parse_knn (lexer *l, vss_ft_query *q)
{
  vss_ft_arg w;
  uint64_t v;
  param *p;
  int have_ef = 0;

  if (knn_word (l, &w) < 0 || !vss_ft_arg_is (&w, "KNN")) {
    syntax_error (l, "`KNN` expected");
    return -1;
  }
  if (knn_word (l, &w) < 0
      || knn_number (l, &w, 1, VSS_FT_MAX_K, &v, "the KNN count") < 0) {
    if (w.len == 0)
      syntax_error (l, "KNN count expected");
    return -1;
  }
  q->k = (uint32_t)v;
  if (knn_word (l, &w) < 0 || w.ptr[0] != '@' || w.len < 2) {
    syntax_error (l, "`@field` expected after the KNN count");
    return -1;
  }
  q->vector_field = vss_ft_strndup (w.ptr + 1, w.len - 1);
  if (knn_word (l, &w) < 0 || w.ptr[0] != '$' || w.len < 2) {
    syntax_error (l, "`$param` (the query vector) expected");
    return -1;
  }
  p = find_param (l, w.ptr + 1, w.len - 1);
  if (p == NULL) {
    char b[48];
    vss_ft_arg name = { w.ptr + 1, w.len - 1 };
    vss_ft_errf (l->err, l->errlen,
                 "Invalid query: parameter `%s` is not defined in PARAMS",
                 vss_ft_arg_show (&name, b, sizeof b));
    return -1;
  }
  q->vec = p->value.ptr;
  q->vec_len = p->value.len;
  for (;;) {
    skip_ws (l);
    if (l->pos < l->len && l->s[l->pos] == ']')
      break;
    if (knn_word (l, &w) < 0) {
      syntax_error (l, "missing `]`");
      return -1;
    }
    if (vss_ft_arg_is (&w, "EF_RUNTIME") && !have_ef) {
      if (knn_word (l, &w) < 0
          || knn_number (l, &w, 1, VSS_FT_MAX_EF, &v, "EF_RUNTIME") < 0) {
        if (w.len == 0)
          syntax_error (l, "EF_RUNTIME value expected");
        return -1;
      }
      q->ef_runtime = (uint32_t)v;
      have_ef = 1;
    } else if (vss_ft_arg_is (&w, "AS") && q->score_alias == NULL) {
      if (knn_word (l, &w) < 0) {
        syntax_error (l, "name expected after AS");
        return -1;
      }
      q->score_alias = vss_ft_strndup (w.ptr, w.len);
      if (q->score_alias == NULL) {
        vss_ft_errf (l->err, l->errlen, "out of memory");
        return -1;
      }
    } else {
      l->pos -= w.len;
      syntax_error (l, "unexpected word in the KNN clause");
      return -1;
    }
  }
  l->pos++; /* ']' */
  skip_ws (l);
  if (l->pos != l->len) {
    syntax_error (l, "nothing may follow the KNN clause");
    return -1;
  }
  if (q->vector_field == NULL) {
    vss_ft_errf (l->err, l->errlen, "out of memory");
    return -1;
  }
  if (q->score_alias == NULL) {
    size_t n = strlen (q->vector_field) + 9;
    q->score_alias = malloc (n);
    if (q->score_alias == NULL) {
      vss_ft_errf (l->err, l->errlen, "out of memory");
      return -1;
    }
    snprintf (q->score_alias, n, "__%s_score", q->vector_field);
  }
  return 0;
}

static int
parse_query_string (lexer *l, vss_ft_query *q)
{
  vss_ft_node *f;

  skip_ws (l);
  if (at_arrow (l)) {
    syntax_error (l, "a filter (or `*`) is needed before `=>`");
    return -1;
  }
  f = parse_or (l);
  if (f == NULL)
    return -1;
  q->filter = f;
  skip_ws (l);
  if (l->pos < l->len && l->s[l->pos] == ')') {
    syntax_error (l, "unbalanced `)`");
    return -1;
  }
  if (!at_arrow (l)) {
    vss_ft_errf (l->err, l->errlen,
                 "Invalid query: a KNN clause (`=>[KNN ...]`) is required; "
                 "filter-only queries are not supported");
    return -1;
  }
  l->pos += 2;
  skip_ws (l);
  if (l->pos >= l->len || l->s[l->pos] != '[') {
    syntax_error (l, "`[` expected after `=>`");
    return -1;
  }
  l->pos++;
  if (parse_knn (l, q) < 0)
    return -1;
  /* "*" alone needs no evaluation. */
  if (q->filter->type == VSS_FT_NODE_ALL) {
    node_free (q->filter);
    q->filter = NULL;
  }
  return 0;
}

#define FAIL(...)                                                              \
  do {                                                                         \
    vss_ft_errf (err, errlen, __VA_ARGS__);                                    \
    goto fail;                                                                 \
  } while (0)

int
vss_ft_search_parse (const vss_ft_arg *argv, int argc, vss_ft_query **out,
                     char *err, size_t errlen)
{
  vss_ft_query *q = NULL;
  param *params = NULL;
  size_t n_params = 0;
  int i = 2, have_params = 0, have_limit = 0, have_timeout = 0;
  int have_dialect = 0;
  lexer l;
  uint64_t v, v2;
  char b[48];

  *out = NULL;
  if (argc < 2) {
    vss_ft_errf (err, errlen, "wrong number of arguments for FT.SEARCH");
    return -1;
  }
  q = calloc (1, sizeof *q);
  if (q == NULL)
    FAIL ("out of memory");
  q->index = vss_ft_strndup (argv[0].ptr, argv[0].len);
  if (q->index == NULL)
    FAIL ("out of memory");
  q->vector_field_index = -1;
  q->limit_offset = 0;
  q->limit_num = 10;
  q->timeout_ms = VSS_FT_DEFAULT_TIMEOUT_MS;
  q->dialect = 2;

  while (i < argc) {
    const vss_ft_arg *a = &argv[i];
    if (vss_ft_arg_is (a, "PARAMS") && !have_params) {
      if (i + 1 >= argc
          || vss_ft_parse_u64 (argv[i + 1].ptr, argv[i + 1].len, 2, 2 * 1024,
                               &v)
                 < 0
          || v % 2 != 0)
        FAIL ("PARAMS needs an even count of names and values, at "
              "least 2");
      i += 2;
      if ((uint64_t)(argc - i) < v)
        FAIL ("PARAMS announces %llu arguments but only %d follow",
              (unsigned long long)v, argc - i);
      n_params = v / 2;
      params = calloc (n_params, sizeof *params);
      if (params == NULL)
        FAIL ("out of memory");
      for (size_t j = 0; j < n_params; j++, i += 2) {
        params[j].name = argv[i];
        params[j].value = argv[i + 1];
        for (size_t k = 0; k < j; k++)
          if (params[k].name.len == argv[i].len
              && !memcmp (params[k].name.ptr, argv[i].ptr, argv[i].len))
            FAIL ("Parameter `%s` given twice",
                  vss_ft_arg_show (&argv[i], b, sizeof b));
      }
      have_params = 1;
    } else if (vss_ft_arg_is (a, "RETURN") && !q->has_return) {
      int end;
      if (i + 1 >= argc
          || vss_ft_parse_u64 (argv[i + 1].ptr, argv[i + 1].len, 0,
                               3 * VSS_FT_MAX_FIELDS * 4, &v)
                 < 0)
        FAIL ("RETURN needs a count of fields");
      i += 2;
      if ((uint64_t)(argc - i) < v)
        FAIL ("RETURN announces %llu arguments but only %d follow",
              (unsigned long long)v, argc - i);
      end = i + (int)v;
      q->has_return = 1;
      q->ret = calloc (v ? v : 1, sizeof *q->ret);
      if (q->ret == NULL)
        FAIL ("out of memory");
      while (i < end) {
        vss_ft_return *r = &q->ret[q->n_ret++];
        r->name = vss_ft_strndup (argv[i].ptr, argv[i].len);
        i++;
        if (i < end && vss_ft_arg_is (&argv[i], "AS")) {
          if (i + 1 >= end)
            FAIL ("RETURN: alias expected after AS");
          r->alias = vss_ft_strndup (argv[i + 1].ptr, argv[i + 1].len);
          i += 2;
        } else if (r->name != NULL)
          r->alias = vss_ft_strndup (r->name, strlen (r->name));
        if (r->name == NULL || r->alias == NULL)
          FAIL ("out of memory");
      }
    } else if (vss_ft_arg_is (a, "LIMIT") && !have_limit) {
      if (i + 2 >= argc
          || vss_ft_parse_u64 (argv[i + 1].ptr, argv[i + 1].len, 0,
                               VSS_FT_MAX_K, &v)
                 < 0
          || vss_ft_parse_u64 (argv[i + 2].ptr, argv[i + 2].len, 0,
                               VSS_FT_MAX_K, &v2)
                 < 0)
        FAIL ("LIMIT needs an offset and a count from 0 to %d", VSS_FT_MAX_K);
      q->limit_offset = v;
      q->limit_num = v2;
      have_limit = 1;
      i += 3;
    } else if (vss_ft_arg_is (a, "NOCONTENT")) {
      q->nocontent = 1;
      i++;
    } else if (vss_ft_arg_is (a, "TIMEOUT") && !have_timeout) {
      if (i + 1 >= argc
          || vss_ft_parse_u64 (argv[i + 1].ptr, argv[i + 1].len, 1,
                               VSS_FT_MAX_TIMEOUT_MS, &v)
                 < 0)
        FAIL ("TIMEOUT must be an integer from 1 to %d (ms)",
              VSS_FT_MAX_TIMEOUT_MS);
      q->timeout_ms = (uint32_t)v;
      have_timeout = 1;
      i += 2;
    } else if (vss_ft_arg_is (a, "DIALECT") && !have_dialect) {
      if (i + 1 >= argc
          || vss_ft_parse_u64 (argv[i + 1].ptr, argv[i + 1].len, 2, 4, &v) < 0)
        FAIL ("DIALECT must be 2, 3 or 4");
      q->dialect = (int)v;
      have_dialect = 1;
      i += 2;
    } else
      FAIL ("Unexpected argument `%s`", vss_ft_arg_show (a, b, sizeof b));
  }

  memset (&l, 0, sizeof l);
  l.s = argv[1].ptr;
  l.len = argv[1].len;
  l.params = params;
  l.n_params = n_params;
  l.err = err;
  l.errlen = errlen;
  if (parse_query_string (&l, q) < 0)
    goto fail;
  for (size_t j = 0; j < n_params; j++)
    if (!params[j].used)
      FAIL ("Parameter `%s` is not used in the query",
            vss_ft_arg_show (&params[j].name, b, sizeof b));
  free (params);
  *out = q;
  return 0;

fail:
  free (params);
  vss_ft_query_free (q);
  return -1;
}

static int
bind_node (vss_ft_node *n, const vss_ft_schema *s, char *err, size_t errlen)
{
  const vss_ft_field *f;

  switch (n->type) {
  case VSS_FT_NODE_ALL:
    return 0;
  case VSS_FT_NODE_AND:
  case VSS_FT_NODE_OR:
  case VSS_FT_NODE_NOT:
    for (size_t i = 0; i < n->n_kids; i++)
      if (bind_node (n->kids[i], s, err, errlen) < 0)
        return -1;
    return 0;
  case VSS_FT_NODE_TAG:
  case VSS_FT_NODE_NUMERIC:
    n->field_index = vss_ft_schema_find (s, n->field, strlen (n->field));
    if (n->field_index < 0) {
      vss_ft_errf (err, errlen,
                   "Invalid query: `%s` is not a field of the index", n->field);
      return -1;
    }
    f = &s->fields[n->field_index];
    if (n->type == VSS_FT_NODE_TAG && f->type != VSS_FT_TAG) {
      vss_ft_errf (err, errlen, "Invalid query: `%s` is not a TAG field",
                   n->field);
      return -1;
    }
    if (n->type == VSS_FT_NODE_NUMERIC && f->type != VSS_FT_NUMERIC) {
      vss_ft_errf (err, errlen, "Invalid query: `%s` is not a NUMERIC field",
                   n->field);
      return -1;
    }
    if (n->type == VSS_FT_NODE_TAG && !f->case_sensitive)
      for (size_t i = 0; i < n->n_tags; i++)
        for (size_t j = 0; j < n->tag_lens[i]; j++)
          n->tags[i][j] = (char)tolower ((unsigned char)n->tags[i][j]);
    return 0;
  }
  return -1;
}

int
vss_ft_query_bind (vss_ft_query *q, const vss_ft_schema *s, char *err,
                   size_t errlen)
{
  const vss_ft_field *f;
  int idx = vss_ft_schema_find (s, q->vector_field, strlen (q->vector_field));

  if (idx < 0) {
    vss_ft_errf (err, errlen, "Invalid query: `%s` is not a field of the index",
                 q->vector_field);
    return -1;
  }
  f = &s->fields[idx];
  if (f->type != VSS_FT_VECTOR) {
    vss_ft_errf (err, errlen, "Invalid query: `%s` is not a VECTOR field",
                 q->vector_field);
    return -1;
  }
  if (q->vec_len != (size_t)f->dim * 4) {
    vss_ft_errf (err, errlen,
                 "Error parsing vector similarity query: query vector blob "
                 "size (%zu) does not match index's expected size (%u).",
                 q->vec_len, f->dim * 4);
    return -1;
  }
  q->vector_field_index = idx;
  if (q->filter != NULL && bind_node (q->filter, s, err, errlen) < 0)
    return -1;
  return 0;
}

/* ---- evaluation ---- */

static int
tag_match (const vss_ft_node *n, const vss_ft_tagset *t)
{
  for (size_t i = 0; i < n->n_tags; i++)
    for (size_t j = 0; j < t->n; j++) {
      if (n->tag_prefix[i]) {
        if (t->lens[j] >= n->tag_lens[i]
            && !memcmp (t->vals[j], n->tags[i], n->tag_lens[i]))
          return 1;
      } else if (t->lens[j] == n->tag_lens[i]
                 && !memcmp (t->vals[j], n->tags[i], n->tag_lens[i]))
        return 1;
    }
  return 0;
}

int
vss_ft_filter_eval (const vss_ft_node *n, const vss_ft_attrs *a)
{
  double v;

  if (n == NULL)
    return 1;
  switch (n->type) {
  case VSS_FT_NODE_ALL:
    return 1;
  case VSS_FT_NODE_TAG:
    if (n->field_index < 0 || (size_t)n->field_index >= a->n_fields)
      return 0;
    return tag_match (n, &a->tags[n->field_index]);
  case VSS_FT_NODE_NUMERIC:
    if (n->field_index < 0 || (size_t)n->field_index >= a->n_fields
        || !a->has_num[n->field_index])
      return 0;
    v = a->nums[n->field_index];
    if (n->lo_excl ? !(v > n->lo) : !(v >= n->lo))
      return 0;
    if (n->hi_excl ? !(v < n->hi) : !(v <= n->hi))
      return 0;
    return 1;
  case VSS_FT_NODE_AND:
    for (size_t i = 0; i < n->n_kids; i++)
      if (!vss_ft_filter_eval (n->kids[i], a))
        return 0;
    return 1;
  case VSS_FT_NODE_OR:
    for (size_t i = 0; i < n->n_kids; i++)
      if (vss_ft_filter_eval (n->kids[i], a))
        return 1;
    return 0;
  case VSS_FT_NODE_NOT:
    return n->n_kids == 1 && !vss_ft_filter_eval (n->kids[0], a);
  }
  return 0;
}

/* ---- attributes ---- */

vss_ft_attrs *
vss_ft_attrs_new (size_t n_fields)
{
  vss_ft_attrs *a = calloc (1, sizeof *a);

  if (a == NULL)
    return NULL;
  a->n_fields = n_fields;
  a->nums = calloc (n_fields ? n_fields : 1, sizeof *a->nums);
  a->has_num = calloc (n_fields ? n_fields : 1, sizeof *a->has_num);
  a->tags = calloc (n_fields ? n_fields : 1, sizeof *a->tags);
  if (a->nums == NULL || a->has_num == NULL || a->tags == NULL) {
    vss_ft_attrs_free (a);
    return NULL;
  }
  return a;
}

void
vss_ft_attrs_clear (vss_ft_attrs *a, size_t field)
{
  vss_ft_tagset *t;

  if (field >= a->n_fields)
    return;
  t = &a->tags[field];
  for (size_t i = 0; i < t->n; i++)
    free (t->vals[i]);
  free (t->vals);
  free (t->lens);
  memset (t, 0, sizeof *t);
  a->has_num[field] = 0;
}

void
vss_ft_attrs_free (vss_ft_attrs *a)
{
  if (a == NULL)
    return;
  if (a->tags != NULL)
    for (size_t i = 0; i < a->n_fields; i++)
      vss_ft_attrs_clear (a, i);
  free (a->nums);
  free (a->has_num);
  free (a->tags);
  free (a);
}

int
vss_ft_attrs_set_tags (vss_ft_attrs *a, size_t field, const char *s, size_t len,
                       char sep, int case_sensitive)
{
  vss_ft_tagset *t;
  size_t n = 1, i = 0;

  if (field >= a->n_fields)
    return -1;
  vss_ft_attrs_clear (a, field);
  t = &a->tags[field];
  for (size_t j = 0; j < len; j++)
    if (s[j] == sep)
      n++;
  t->vals = calloc (n, sizeof *t->vals);
  t->lens = calloc (n, sizeof *t->lens);
  if (t->vals == NULL || t->lens == NULL)
    goto oom;
  while (i <= len) {
    size_t start = i, end;
    while (i < len && s[i] != sep)
      i++;
    end = i;
    i++;
    while (start < end && isspace ((unsigned char)s[start]))
      start++;
    while (end > start && isspace ((unsigned char)s[end - 1]))
      end--;
    if (end == start)
      continue;
    t->vals[t->n] = vss_ft_strndup (s + start, end - start);
    if (t->vals[t->n] == NULL)
      goto oom;
    if (!case_sensitive)
      for (size_t k = 0; k < end - start; k++)
        t->vals[t->n][k] = (char)tolower ((unsigned char)t->vals[t->n][k]);
    t->lens[t->n] = end - start;
    t->n++;
  }
  return 0;

oom:
  vss_ft_attrs_clear (a, field);
  return -1;
}

int
vss_ft_attrs_set_num (vss_ft_attrs *a, size_t field, const char *s, size_t len)
{
  double v;

  if (field >= a->n_fields)
    return -1;
  a->has_num[field] = 0;
  while (len > 0 && isspace ((unsigned char)s[0])) {
    s++;
    len--;
  }
  while (len > 0 && isspace ((unsigned char)s[len - 1]))
    len--;
  if (parse_double (s, len, &v) < 0)
    return -1;
  a->nums[field] = v;
  a->has_num[field] = 1;
  return 0;
}
