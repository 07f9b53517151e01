/* gst-vss Valkey module: FT.CREATE parser (pure)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * FT.CREATE <index> [ON HASH|JSON] [PREFIX <n> <p>...] SCHEMA <field>
 *   [AS <alias>] (NUMERIC | TAG [SEPARATOR <c>] [CASESENSITIVE]
 *   | VECTOR HNSW|FLAT <nargs> TYPE FLOAT32 DIM <d> DISTANCE_METRIC
 *   L2|IP|COSINE [INITIAL_CAP n] [M n] [EF_CONSTRUCTION n] [EF_RUNTIME n]
 *   [BLOCK_SIZE n]) ...
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "vss-ft.h"
#include "vss-ft-priv.h"

void
vss_ft_errf (char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;

  if (err == NULL || errlen == 0)
    return;
  va_start (ap, fmt);
  vsnprintf (err, errlen, fmt, ap);
  va_end (ap);
}

char *
vss_ft_strndup (const char *s, size_t len)
{
  char *d = malloc (len + 1);

  if (d == NULL)
    return NULL;
  memcpy (d, s, len);
  d[len] = '\0';
  return d;
}

int
vss_ft_arg_is (const vss_ft_arg *a, const char *word)
{
  size_t n = strlen (word);

  return a->len == n && strncasecmp (a->ptr, word, n) == 0;
}

/* A printable rendering of an argument for messages: at most 40 bytes,
 * non-printable bytes as '?'. */
const char *
vss_ft_arg_show (const vss_ft_arg *a, char *buf, size_t size)
{
  size_t n = a->len < size - 1 ? a->len : size - 1;

  if (n > 40)
    n = 40;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)a->ptr[i];
    buf[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
  }
  buf[n] = '\0';
  return buf;
}

int
vss_ft_parse_u64 (const char *s, size_t len, uint64_t min, uint64_t max,
                  uint64_t *out)
{
  uint64_t v = 0;

  if (len == 0 || len > 20)
    return -1;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
      return -1;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  if (v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

static int
has_hash_tag (const char *s, size_t len)
{
  return memchr (s, '{', len) != NULL || memchr (s, '}', len) != NULL;
}

void
vss_ft_schema_free (vss_ft_schema *s)
{
  if (s == NULL)
    return;
  free (s->name);
  for (size_t i = 0; i < s->n_prefixes; i++)
    free (s->prefixes[i]);
  free (s->prefixes);
  for (size_t i = 0; i < s->n_fields; i++) {
    free (s->fields[i].identifier);
    free (s->fields[i].alias);
  }
  free (s->fields);
  for (int i = 0; i < s->n_args; i++)
    free ((char *)s->args[i].ptr);
  free (s->args);
  free (s);
}

int
vss_ft_schema_find (const vss_ft_schema *s, const char *name, size_t len)
{
  for (size_t i = 0; i < s->n_fields; i++)
    if (strlen (s->fields[i].alias) == len
        && memcmp (s->fields[i].alias, name, len) == 0)
      return (int)i;
  return -1;
}

int
vss_ft_schema_matches_key (const vss_ft_schema *s, const char *key, size_t len)
{
  if (s->n_prefixes == 0)
    return 1;
  for (size_t i = 0; i < s->n_prefixes; i++) {
    size_t pl = strlen (s->prefixes[i]);
    if (pl <= len && memcmp (key, s->prefixes[i], pl) == 0)
      return 1;
  }
  return 0;
}

#define FAIL(...)                                                              \
  do {                                                                         \
    vss_ft_errf (err, errlen, __VA_ARGS__);                                    \
    goto fail;                                                                 \
  } while (0)

/* VECTOR HNSW|FLAT <nargs> ...: *i points at the algorithm. */
static int
parse_vector (const vss_ft_arg *argv, int argc, int *i, vss_ft_field *f,
              char *err, size_t errlen)
{
  uint64_t nargs, v;
  int end, have_type = 0, have_dim = 0, have_metric = 0;
  char b[48];

  if (*i >= argc)
    FAIL ("Missing vector algorithm for field `%s`", f->identifier);
  if (vss_ft_arg_is (&argv[*i], "HNSW"))
    f->algorithm = VSS_INDEX_HNSW;
  else if (vss_ft_arg_is (&argv[*i], "FLAT"))
    f->algorithm = VSS_INDEX_FLAT;
  else
    FAIL ("Unknown vector algorithm `%s` (HNSW or FLAT)",
          vss_ft_arg_show (&argv[*i], b, sizeof b));
  (*i)++;
  if (*i >= argc
      || vss_ft_parse_u64 (argv[*i].ptr, argv[*i].len, 0, 64, &nargs) < 0)
    FAIL ("Invalid or missing count of vector parameters for field `%s`",
          f->identifier);
  (*i)++;
  if (nargs % 2 != 0)
    FAIL ("The count of vector parameters for field `%s` must be even "
          "(names and values), not %llu",
          f->identifier, (unsigned long long)nargs);
  if ((uint64_t)(argc - *i) < nargs)
    FAIL ("Field `%s` announces %llu vector parameters but only %d follow",
          f->identifier, (unsigned long long)nargs, argc - *i);
  end = *i + (int)nargs;
  f->m = VSS_FT_DEFAULT_M;
  f->ef_construction = VSS_FT_DEFAULT_EF_CONSTRUCTION;
  f->ef_runtime = VSS_FT_DEFAULT_EF_RUNTIME;
  f->initial_cap = VSS_FT_DEFAULT_INITIAL_CAP;
  f->block_size = 1024;
  for (; *i < end; *i += 2) {
    const vss_ft_arg *name = &argv[*i], *val = &argv[*i + 1];
    int hnsw_only = 0;

    if (vss_ft_arg_is (name, "TYPE")) {
      if (!vss_ft_arg_is (val, "FLOAT32"))
        FAIL ("Unsupported vector TYPE `%s` (only FLOAT32)",
              vss_ft_arg_show (val, b, sizeof b));
      have_type = 1;
    } else if (vss_ft_arg_is (name, "DIM")) {
      if (vss_ft_parse_u64 (val->ptr, val->len, 1, VSS_FT_MAX_DIM, &v) < 0)
        FAIL ("DIM must be an integer from 1 to %d", VSS_FT_MAX_DIM);
      f->dim = (uint32_t)v;
      have_dim = 1;
    } else if (vss_ft_arg_is (name, "DISTANCE_METRIC")) {
      if (vss_ft_arg_is (val, "L2"))
        f->metric = VSS_METRIC_L2;
      else if (vss_ft_arg_is (val, "IP"))
        f->metric = VSS_METRIC_IP;
      else if (vss_ft_arg_is (val, "COSINE"))
        f->metric = VSS_METRIC_COSINE;
      else
        FAIL ("Unknown DISTANCE_METRIC `%s` (L2, IP or COSINE)",
              vss_ft_arg_show (val, b, sizeof b));
      have_metric = 1;
    } else if (vss_ft_arg_is (name, "INITIAL_CAP")) {
      if (vss_ft_parse_u64 (val->ptr, val->len, 1, 1ULL << 31, &v) < 0)
        FAIL ("INITIAL_CAP must be a positive integer");
      f->initial_cap = v;
    } else if (vss_ft_arg_is (name, "BLOCK_SIZE")) {
      if (vss_ft_parse_u64 (val->ptr, val->len, 1, 1ULL << 31, &v) < 0)
        FAIL ("BLOCK_SIZE must be a positive integer");
      f->block_size = v;
    } else if (vss_ft_arg_is (name, "M")) {
      hnsw_only = 1;
      if (vss_ft_parse_u64 (val->ptr, val->len, 2, VSS_FT_MAX_M, &v) < 0)
        FAIL ("M must be an integer from 2 to %d", VSS_FT_MAX_M);
      f->m = (uint32_t)v;
    } else if (vss_ft_arg_is (name, "EF_CONSTRUCTION")) {
      hnsw_only = 1;
      if (vss_ft_parse_u64 (val->ptr, val->len, 1, VSS_FT_MAX_EF, &v) < 0)
        FAIL ("EF_CONSTRUCTION must be an integer from 1 to %d", VSS_FT_MAX_EF);
      f->ef_construction = (uint32_t)v;
    } else if (vss_ft_arg_is (name, "EF_RUNTIME")) {
      hnsw_only = 1;
      if (vss_ft_parse_u64 (val->ptr, val->len, 1, VSS_FT_MAX_EF, &v) < 0)
        FAIL ("EF_RUNTIME must be an integer from 1 to %d", VSS_FT_MAX_EF);
      f->ef_runtime = (uint32_t)v;
    } else
      FAIL ("Unknown vector parameter `%s`",
            vss_ft_arg_show (name, b, sizeof b));
    if (hnsw_only && f->algorithm != VSS_INDEX_HNSW)
      FAIL ("`%s` applies to HNSW only", vss_ft_arg_show (name, b, sizeof b));
  }
  if (!have_type || !have_dim || !have_metric)
    FAIL ("Vector field `%s` needs TYPE, DIM and DISTANCE_METRIC",
          f->identifier);
  return 0;

fail:
  return -1;
}

static int
keep_args (vss_ft_schema *s, const vss_ft_arg *argv, int argc)
{
  s->args = calloc ((size_t)argc + 1, sizeof *s->args);
  if (s->args == NULL)
    return -1;
  for (int i = 0; i < argc; i++) {
    s->args[i].ptr = vss_ft_strndup (argv[i].ptr, argv[i].len);
    if (s->args[i].ptr == NULL)
      return -1;
    s->args[i].len = argv[i].len;
    s->n_args = i + 1;
  }
  return 0;
}

int
vss_ft_create_parse (const vss_ft_arg *argv, int argc, vss_ft_schema **out,
                     char *err, size_t errlen)
{
  vss_ft_schema *s;
  int i = 1, have_vector = 0;
  char b[48];

  *out = NULL;
  if (argc < 1) {
    vss_ft_errf (err, errlen, "wrong number of arguments for FT.CREATE");
    return -1;
  }
  s = calloc (1, sizeof *s);
  if (s == NULL)
    FAIL ("out of memory");
  if (argv[0].len == 0 || argv[0].len > 256
      || memchr (argv[0].ptr, '\0', argv[0].len))
    FAIL ("Invalid index name");
  if (has_hash_tag (argv[0].ptr, argv[0].len))
    FAIL ("Index name must not contain a hash tag");
  s->name = vss_ft_strndup (argv[0].ptr, argv[0].len);
  if (s->name == NULL)
    FAIL ("out of memory");

  while (i < argc && !vss_ft_arg_is (&argv[i], "SCHEMA")) {
    if (vss_ft_arg_is (&argv[i], "ON")) {
      if (i + 1 >= argc)
        FAIL ("Missing data type after ON");
      if (vss_ft_arg_is (&argv[i + 1], "JSON"))
        FAIL ("ON JSON is not supported by this server (vss-search "
              "indexes HASH keys only)");
      if (!vss_ft_arg_is (&argv[i + 1], "HASH"))
        FAIL ("Unknown data type `%s` after ON (HASH)",
              vss_ft_arg_show (&argv[i + 1], b, sizeof b));
      i += 2;
    } else if (vss_ft_arg_is (&argv[i], "PREFIX")) {
      uint64_t n;
      if (s->prefixes != NULL)
        FAIL ("PREFIX given twice");
      if (i + 1 >= argc
          || vss_ft_parse_u64 (argv[i + 1].ptr, argv[i + 1].len, 1, 1024, &n)
                 < 0)
        FAIL ("Invalid or missing PREFIX count");
      i += 2;
      if ((uint64_t)(argc - i) < n)
        FAIL ("PREFIX announces %llu prefixes but only %d arguments "
              "follow",
              (unsigned long long)n, argc - i);
      s->prefixes = calloc (n, sizeof *s->prefixes);
      if (s->prefixes == NULL)
        FAIL ("out of memory");
      for (uint64_t j = 0; j < n; j++, i++) {
        if (has_hash_tag (argv[i].ptr, argv[i].len))
          FAIL ("A prefix must not contain a hash tag");
        s->prefixes[j] = vss_ft_strndup (argv[i].ptr, argv[i].len);
        if (s->prefixes[j] == NULL)
          FAIL ("out of memory");
        s->n_prefixes = j + 1;
      }
    } else
      FAIL ("Unexpected argument `%s`",
            vss_ft_arg_show (&argv[i], b, sizeof b));
  }
  if (i >= argc)
    FAIL ("Missing SCHEMA");
  i++;
  if (i >= argc)
    FAIL ("SCHEMA has no fields");
  s->fields = calloc (VSS_FT_MAX_FIELDS, sizeof *s->fields);
  if (s->fields == NULL)
    FAIL ("out of memory");

  while (i < argc) {
    vss_ft_field *f;
    const vss_ft_arg *id = &argv[i++];

    if (s->n_fields == VSS_FT_MAX_FIELDS)
      FAIL ("Too many fields: at most %d", VSS_FT_MAX_FIELDS);
    if (id->len == 0 || memchr (id->ptr, '\0', id->len))
      FAIL ("Invalid field name");
    f = &s->fields[s->n_fields++];
    f->identifier = vss_ft_strndup (id->ptr, id->len);
    if (f->identifier == NULL)
      FAIL ("out of memory");
    if (i < argc && vss_ft_arg_is (&argv[i], "AS")) {
      if (i + 1 >= argc || argv[i + 1].len == 0
          || memchr (argv[i + 1].ptr, '\0', argv[i + 1].len))
        FAIL ("Missing or invalid alias after AS");
      f->alias = vss_ft_strndup (argv[i + 1].ptr, argv[i + 1].len);
      i += 2;
    } else
      f->alias = vss_ft_strndup (id->ptr, id->len);
    if (f->alias == NULL)
      FAIL ("out of memory");
    for (size_t j = 0; j + 1 < s->n_fields; j++)
      if (!strcmp (s->fields[j].alias, f->alias))
        FAIL ("Duplicate field in schema - %s", f->alias);
    if (i >= argc)
      FAIL ("Missing type for field `%s`", f->identifier);
    if (vss_ft_arg_is (&argv[i], "NUMERIC")) {
      f->type = VSS_FT_NUMERIC;
      i++;
    } else if (vss_ft_arg_is (&argv[i], "TAG")) {
      f->type = VSS_FT_TAG;
      f->separator = ',';
      i++;
      for (;;) {
        if (i < argc && vss_ft_arg_is (&argv[i], "SEPARATOR")) {
          if (i + 1 >= argc || argv[i + 1].len != 1)
            FAIL ("SEPARATOR must be followed by one character");
          f->separator = argv[i + 1].ptr[0];
          i += 2;
        } else if (i < argc && vss_ft_arg_is (&argv[i], "CASESENSITIVE")) {
          f->case_sensitive = 1;
          i++;
        } else
          break;
      }
    } else if (vss_ft_arg_is (&argv[i], "VECTOR")) {
      f->type = VSS_FT_VECTOR;
      i++;
      if (parse_vector (argv, argc, &i, f, err, errlen) < 0)
        goto fail;
      have_vector = 1;
    } else if (vss_ft_arg_is (&argv[i], "TEXT")
               || vss_ft_arg_is (&argv[i], "GEO")
               || vss_ft_arg_is (&argv[i], "GEOSHAPE"))
      FAIL ("Field type %s is not supported (VECTOR, TAG or NUMERIC)",
            vss_ft_arg_show (&argv[i], b, sizeof b));
    else
      FAIL ("Unknown field type `%s` for field `%s`",
            vss_ft_arg_show (&argv[i], b, sizeof b), f->identifier);
  }
  if (!have_vector)
    FAIL ("The index must have at least one VECTOR field");
  if (keep_args (s, argv, argc) < 0)
    FAIL ("out of memory");
  *out = s;
  return 0;

fail:
  vss_ft_schema_free (s);
  return -1;
}
