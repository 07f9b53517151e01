/* gst-vss: vector-search helpers, the pure part
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Builds FT.CREATE / FT.SEARCH arguments and parses FT.INFO / FT.SEARCH
 * replies, without I/O. Safety of queries: field and index names are
 * checked against a strict alphabet instead of escaped (the query syntax
 * has no escape for them), TAG values are escaped character by character,
 * numbers are formatted by us, and the vector goes as a PARAMS blob, never
 * inside the query string.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>
#include "gstvssvalkeysearch.h"

static gboolean
invalid (GError ** error, const gchar * fmt, ...)
G_GNUC_PRINTF (2, 3);

     static gboolean invalid (GError ** error, const gchar * fmt, ...)
{
  va_list ap;
  gchar *msg;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, VSS_VALKEY_ERROR,
      VSS_VALKEY_ERROR_INVALID_ARGUMENT, msg);
  g_free (msg);
  return FALSE;
}

/* Field names: a letter or '_' then letters, digits and '_'. */
static gboolean
check_field (const gchar * what, const gchar * name, GError ** error)
{
  if (name == NULL || !(g_ascii_isalpha (name[0]) || name[0] == '_'))
    return invalid (error, "%s must start with a letter or '_'", what);
  for (const gchar * p = name; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '_')
      return invalid (error, "%s '%s' may only hold letters, digits and '_'",
          what, name);
  if (strlen (name) > 128)
    return invalid (error, "%s is longer than 128 characters", what);
  return TRUE;
}

/* Index names and prefixes: no spaces, no hash tags (valkey-search
 * refuses "{...}"), printable ASCII. */
static gboolean
check_name (const gchar * what, const gchar * name, gboolean allow_empty,
    GError ** error)
{
  if (name == NULL || (!allow_empty && name[0] == '\0'))
    return invalid (error, "%s is empty", what);
  for (const gchar * p = name; *p; p++)
    if (!g_ascii_isgraph (*p) || *p == '{' || *p == '}' || *p == '"'
        || *p == '\'' || *p == '\\')
      return invalid (error, "%s may not hold spaces, quotes, braces or "
          "control characters", what);
  return TRUE;
}

/**
 * vss_valkey_escape_tag:
 *
 * Returns: (transfer full): @value for use inside `@field:{...}`: every
 * ASCII character other than letters, digits and '_' gets a backslash (the
 * query syntax treats punctuation and spaces as operators). Bytes from
 * 0x80 up (UTF-8) pass unchanged.
 */
gchar *
vss_valkey_escape_tag (const gchar * value)
{
  GString *s = g_string_sized_new (strlen (value) * 2);

  for (const guchar * p = (const guchar *)value; *p; p++) {
    if (*p < 0x80 && !g_ascii_isalnum (*p) && *p != '_')
      g_string_append_c (s, '\\');
    g_string_append_c (s, *p);
  }
  return g_string_free (s, FALSE);
}

const gchar *
vss_valkey_metric_to_string (VssValkeyMetric m)
{
  switch (m) {
    case VSS_VALKEY_METRIC_L2:
      return "L2";
    case VSS_VALKEY_METRIC_IP:
      return "IP";
    case VSS_VALKEY_METRIC_COSINE:
    default:
      return "COSINE";
  }
}

static VssValkeyArgs *
args_new (void)
{
  VssValkeyArgs *a = g_new0 (VssValkeyArgs, 1);
  return a;
}

static void
args_add_len (VssValkeyArgs * a, const void *data, gsize len)
{
  a->argv = g_renew (gchar *, a->argv, a->argc + 1);
  a->argvlen = g_renew (gsize, a->argvlen, a->argc + 1);
  /* NUL-terminated too, so that text arguments print and compare easily. */
  a->argv[a->argc] = g_malloc (len + 1);
  memcpy (a->argv[a->argc], data, len);
  a->argv[a->argc][len] = '\0';
  a->argvlen[a->argc] = len;
  a->argc++;
}

static void
args_add (VssValkeyArgs * a, const gchar * s)
{
  args_add_len (a, s, strlen (s));
}

static void
args_addf (VssValkeyArgs * a, const gchar * fmt, ...)
G_GNUC_PRINTF (2, 3);

     static void args_addf (VssValkeyArgs * a, const gchar * fmt, ...)
{
  va_list ap;
  gchar *s;

  va_start (ap, fmt);
  s = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  args_add (a, s);
  g_free (s);
}

void
vss_valkey_args_free (VssValkeyArgs * a)
{
  if (a == NULL)
    return;
  for (gint i = 0; i < a->argc; i++)
    g_free (a->argv[i]);
  g_free (a->argv);
  g_free (a->argvlen);
  g_free (a);
}

/**
 * vss_valkey_index_create_args:
 *
 * Returns: (transfer full): the FT.CREATE command for @spec, or NULL with
 * @error when a name cannot be used safely or a value is out of range.
 */
VssValkeyArgs *
vss_valkey_index_create_args (const VssValkeyIndexSpec * spec, GError ** error)
{
  VssValkeyArgs *a;
  guint nargs = 6;

  if (!check_name ("The index name", spec->name, FALSE, error)
      || !check_name ("The key prefix", spec->prefix, TRUE, error)
      || !check_field ("The vector field", spec->vector_field, error))
    return NULL;
  if (spec->dim == 0 || spec->dim >= 32768) {
    invalid (error, "DIM must be 1..32767, not %u", spec->dim);
    return NULL;
  }
  for (guint i = 0; spec->tag_fields && spec->tag_fields[i]; i++)
    if (!check_field ("A TAG field", spec->tag_fields[i], error))
      return NULL;
  for (guint i = 0; spec->numeric_fields && spec->numeric_fields[i]; i++)
    if (!check_field ("A NUMERIC field", spec->numeric_fields[i], error))
      return NULL;
  if (spec->algorithm == VSS_VALKEY_ALGORITHM_HNSW) {
    nargs += spec->m ? 2 : 0;
    nargs += spec->ef_construction ? 2 : 0;
    if (spec->ef_construction > 4096) {
      invalid (error, "EF_CONSTRUCTION must be at most 4096");
      return NULL;
    }
  }

  a = args_new ();
  args_add (a, "FT.CREATE");
  args_add (a, spec->name);
  args_add (a, "ON");
  args_add (a, "HASH");
  args_add (a, "PREFIX");
  args_add (a, "1");
  args_add (a, spec->prefix);
  args_add (a, "SCHEMA");
  args_add (a, spec->vector_field);
  args_add (a, "VECTOR");
  args_add (a, spec->algorithm == VSS_VALKEY_ALGORITHM_FLAT ? "FLAT" : "HNSW");
  args_addf (a, "%u", nargs);
  args_add (a, "TYPE");
  args_add (a, "FLOAT32");
  args_add (a, "DIM");
  args_addf (a, "%u", spec->dim);
  args_add (a, "DISTANCE_METRIC");
  args_add (a, vss_valkey_metric_to_string (spec->metric));
  if (spec->algorithm == VSS_VALKEY_ALGORITHM_HNSW && spec->m) {
    args_add (a, "M");
    args_addf (a, "%u", spec->m);
  }
  if (spec->algorithm == VSS_VALKEY_ALGORITHM_HNSW && spec->ef_construction) {
    args_add (a, "EF_CONSTRUCTION");
    args_addf (a, "%u", spec->ef_construction);
  }
  for (guint i = 0; spec->tag_fields && spec->tag_fields[i]; i++) {
    args_add (a, spec->tag_fields[i]);
    args_add (a, "TAG");
  }
  for (guint i = 0; spec->numeric_fields && spec->numeric_fields[i]; i++) {
    args_add (a, spec->numeric_fields[i]);
    args_add (a, "NUMERIC");
  }
  return a;
}

static gboolean
append_number (GString * s, gdouble v, GError ** error)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (isnan (v))
    return invalid (error, "a NUMERIC bound is NaN");
  if (isinf (v)) {
    g_string_append (s, v > 0 ? "+inf" : "-inf");
    return TRUE;
  }
  g_string_append (s, g_ascii_formatd (buf, sizeof buf, "%.17g", v));
  return TRUE;
}

static gchar *
build_filter (const VssValkeyKnnQuery * q, GError ** error)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < q->n_tags; i++) {
    const VssValkeyTagFilter *t = &q->tags[i];
    if (!check_field ("A TAG filter field", t->field, error))
      goto fail;
    if (t->values == NULL || t->values[0] == NULL) {
      invalid (error, "the TAG filter on '%s' has no values", t->field);
      goto fail;
    }
    g_string_append_printf (s, "%s%s@%s:{", s->len ? " " : "",
        t->negate ? "-" : "", t->field);
    for (guint j = 0; t->values[j]; j++) {
      gchar *e;
      if (t->values[j][0] == '\0') {
        invalid (error, "empty TAG value for '%s'", t->field);
        goto fail;
      }
      e = vss_valkey_escape_tag (t->values[j]);
      g_string_append_printf (s, "%s%s", j ? " | " : "", e);
      g_free (e);
    }
    g_string_append_c (s, '}');
  }
  for (guint i = 0; i < q->n_ranges; i++) {
    const VssValkeyNumericFilter *r = &q->ranges[i];
    if (!check_field ("A NUMERIC filter field", r->field, error))
      goto fail;
    if (r->min > r->max) {
      invalid (error, "the NUMERIC range on '%s' is empty (min > max)",
          r->field);
      goto fail;
    }
    g_string_append_printf (s, "%s@%s:[%s", s->len ? " " : "", r->field,
        r->min_exclusive && !isinf (r->min) ? "(" : "");
    if (!append_number (s, r->min, error))
      goto fail;
    g_string_append_printf (s, " %s", r->max_exclusive
        && !isinf (r->max) ? "(" : "");
    if (!append_number (s, r->max, error))
      goto fail;
    g_string_append_c (s, ']');
  }
  if (s->len == 0)
    g_string_append_c (s, '*');
  else {
    g_string_prepend_c (s, '(');
    g_string_append_c (s, ')');
  }
  return g_string_free (s, FALSE);

fail:
  g_string_free (s, TRUE);
  return NULL;
}

/**
 * vss_valkey_knn_args:
 *
 * Returns: (transfer full): `FT.SEARCH <index> "<filter>=>[KNN k @field $vec
 * [EF_RUNTIME n] AS score]" PARAMS 2 vec <blob> [RETURN ...] [NOCONTENT]
 * LIMIT 0 k [TIMEOUT ms] DIALECT 2`, or NULL with @error.
 */
VssValkeyArgs *
vss_valkey_knn_args (const VssValkeyKnnQuery * q, GError ** error)
{
  VssValkeyArgs *a;
  gchar *filter;
  GString *query;
  guint32 *blob;
  guint n_ret = 0;

  if (!check_name ("The index name", q->index, FALSE, error)
      || !check_field ("The vector field", q->vector_field, error))
    return NULL;
  if (q->k == 0 || q->k > 10000) {
    invalid (error, "k must be 1..10000, not %u", q->k);
    return NULL;
  }
  if (q->vector == NULL || q->dim == 0 || q->dim >= 32768) {
    invalid (error, "the query vector is missing or its dimension is out "
        "of range");
    return NULL;
  }
  if (q->ef_runtime > 4096) {
    invalid (error, "EF_RUNTIME must be at most 4096");
    return NULL;
  }
  for (guint i = 0; q->return_fields && q->return_fields[i]; i++) {
    if (!check_field ("A RETURN field", q->return_fields[i], error))
      return NULL;
    n_ret++;
  }
  filter = build_filter (q, error);
  if (filter == NULL)
    return NULL;

  query = g_string_new (filter);
  g_free (filter);
  g_string_append_printf (query, "=>[KNN %u @%s $vec", q->k, q->vector_field);
  if (q->ef_runtime)
    g_string_append_printf (query, " EF_RUNTIME %u", q->ef_runtime);
  g_string_append (query, " AS " VSS_VALKEY_SCORE_FIELD "]");

  a = args_new ();
  args_add (a, "FT.SEARCH");
  args_add (a, q->index);
  args_add (a, query->str);
  g_string_free (query, TRUE);
  args_add (a, "PARAMS");
  args_add (a, "2");
  args_add (a, "vec");
  blob = g_new (guint32, q->dim);
  for (guint i = 0; i < q->dim; i++) {
    guint32 bits;
    memcpy (&bits, &q->vector[i], 4);
    blob[i] = GUINT32_TO_LE (bits);
  }
  args_add_len (a, blob, q->dim * 4);
  g_free (blob);
  if (q->nocontent) {
    args_add (a, "NOCONTENT");
  } else if (n_ret > 0) {
    /* The score must be asked for by name once RETURN is given. */
    args_add (a, "RETURN");
    args_addf (a, "%u", n_ret + 1);
    args_add (a, VSS_VALKEY_SCORE_FIELD);
    for (guint i = 0; i < n_ret; i++)
      args_add (a, q->return_fields[i]);
  }
  args_add (a, "LIMIT");
  args_add (a, "0");
  args_addf (a, "%u", q->k);
  if (q->timeout_ms) {
    args_add (a, "TIMEOUT");
    args_addf (a, "%u", q->timeout_ms);
  }
  args_add (a, "DIALECT");
  args_add (a, "2");
  return a;
}

/* ---- replies ---- */

static gboolean
is_text (const redisReply * r)
{
  return r != NULL && (r->type == REDIS_REPLY_STRING
      || r->type == REDIS_REPLY_STATUS);
}

/* RESP2 maps are flat arrays; keys compare without case. */
static const redisReply *
map_get (const redisReply * map, const gchar * key)
{
  if (map == NULL || map->type != REDIS_REPLY_ARRAY)
    return NULL;
  for (size_t i = 0; i + 1 < map->elements; i += 2)
    if (is_text (map->element[i])
        && !g_ascii_strcasecmp (map->element[i]->str, key))
      return map->element[i + 1];
  return NULL;
}

/* Looks for @key in @map and in its array values, down to @depth levels:
 * valkey-search nests the vector parameters under "index", RediSearch
 * keeps them next to "type". */
static const redisReply *
map_find (const redisReply * map, const gchar * key, guint depth)
{
  const redisReply *v = map_get (map, key);

  if (v != NULL || depth == 0 || map == NULL || map->type != REDIS_REPLY_ARRAY)
    return v;
  for (size_t i = 1; i < map->elements; i += 2)
    if (map->element[i]->type == REDIS_REPLY_ARRAY
        && (v = map_find (map->element[i], key, depth - 1)))
      return v;
  return NULL;
}

static gboolean
reply_to_u64 (const redisReply * r, guint64 * out)
{
  gchar *end;

  if (r == NULL)
    return FALSE;
  if (r->type == REDIS_REPLY_INTEGER) {
    if (r->integer < 0)
      return FALSE;
    *out = (guint64) r->integer;
    return TRUE;
  }
  if (!is_text (r) || r->len == 0)
    return FALSE;
  /* num_docs is a string in valkey-search, sometimes "1024.0" elsewhere. */
  *out = (guint64) g_ascii_strtod (r->str, &end);
  return end != r->str;
}

static gboolean
bad_reply (GError ** error, const gchar * what, const gchar * detail)
{
  g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_PROTOCOL,
      "Unexpected %s reply: %s", what, detail);
  return FALSE;
}

void
vss_valkey_index_info_free (VssValkeyIndexInfo * info)
{
  if (info == NULL)
    return;
  g_free (info->name);
  g_strfreev (info->prefixes);
  g_free (info->vector_field);
  g_free (info->metric);
  g_free (info->state);
  g_free (info);
}

/**
 * vss_valkey_index_info_parse:
 *
 * Returns: (transfer full): the index description from an FT.INFO reply,
 * or NULL with @error (a server error reply keeps its text).
 */
VssValkeyIndexInfo *
vss_valkey_index_info_parse (const VssValkeyReply * r, GError ** error)
{
  VssValkeyIndexInfo *info;
  const redisReply *v, *def, *attrs;
  GPtrArray *prefixes;

  if (vss_valkey_reply_to_error (r, error, "FT.INFO"))
    return NULL;
  if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
    bad_reply (error, "FT.INFO", "not an array");
    return NULL;
  }
  info = g_new0 (VssValkeyIndexInfo, 1);
  v = map_get (r, "index_name");
  info->name = is_text (v) ? g_strndup (v->str, v->len) : NULL;

  prefixes = g_ptr_array_new ();
  def = map_get (r, "index_definition");
  v = map_get (def, "prefixes");
  if (v != NULL && v->type == REDIS_REPLY_ARRAY) {
    for (size_t i = 0; i < v->elements; i++)
      if (is_text (v->element[i]))
        g_ptr_array_add (prefixes, g_strndup (v->element[i]->str,
                v->element[i]->len));
  }
  g_ptr_array_add (prefixes, NULL);
  info->prefixes = (gchar **) g_ptr_array_free (prefixes, FALSE);

  attrs = map_get (r, "attributes");
  if (attrs == NULL)
    attrs = map_get (r, "fields");
  if (attrs != NULL && attrs->type != REDIS_REPLY_ARRAY) {
    vss_valkey_index_info_free (info);
    bad_reply (error, "FT.INFO", "attributes is not an array");
    return NULL;
  }
  for (size_t i = 0; attrs && i < attrs->elements; i++) {
    const redisReply *a = attrs->element[i];
    const redisReply *type = map_get (a, "type");
    const redisReply *id = map_get (a, "identifier");
    const redisReply *dim, *metric;
    guint64 d = 0;

    if (!is_text (type) || g_ascii_strcasecmp (type->str, "VECTOR"))
      continue;
    if (!is_text (id))
      id = map_get (a, "attribute");
    dim = map_find (a, "dimensions", 2);
    if (dim == NULL)
      dim = map_find (a, "dim", 2);
    metric = map_find (a, "distance_metric", 2);
    if (!is_text (id) || !reply_to_u64 (dim, &d) || !is_text (metric)) {
      vss_valkey_index_info_free (info);
      bad_reply (error, "FT.INFO", "a VECTOR attribute lacks its name, "
          "dimensions or distance metric");
      return NULL;
    }
    info->vector_field = g_strndup (id->str, id->len);
    info->dim = (guint) d;
    info->metric = g_strndup (metric->str, metric->len);
    break;
  }
  reply_to_u64 (map_get (r, "num_docs"), &info->num_docs);
  v = map_get (r, "state");
  info->state = is_text (v) ? g_strndup (v->str, v->len) : NULL;
  return info;
}

/**
 * vss_valkey_index_info_check:
 *
 * Returns: TRUE when the existing index serves @spec (same vector field,
 * dimension, metric and prefix), else FALSE with a
 * %VSS_VALKEY_ERROR_INDEX_MISMATCH error saying what differs.
 */
gboolean
vss_valkey_index_info_check (const VssValkeyIndexInfo * info,
    const VssValkeyIndexSpec * spec, GError ** error)
{
  const gchar *want_metric = vss_valkey_metric_to_string (spec->metric);
  GString *diff = g_string_new (NULL);

  if (info->vector_field == NULL) {
    g_string_append_printf (diff, "; it has no VECTOR field (needs '%s')",
        spec->vector_field);
  } else {
    if (strcmp (info->vector_field, spec->vector_field))
      g_string_append_printf (diff, "; its vector field is '%s', not '%s'",
          info->vector_field, spec->vector_field);
    if (info->dim != spec->dim)
      g_string_append_printf (diff, "; its DIM is %u, not %u", info->dim,
          spec->dim);
    if (g_ascii_strcasecmp (info->metric, want_metric))
      g_string_append_printf (diff, "; its DISTANCE_METRIC is %s, not %s",
          info->metric, want_metric);
  }
  if (g_strv_length (info->prefixes) != 1
      || strcmp (info->prefixes[0], spec->prefix)) {
    gchar *have = g_strjoinv ("', '", info->prefixes);
    g_string_append_printf (diff, "; its PREFIX is '%s', not '%s'", have,
        spec->prefix);
    g_free (have);
  }
  if (diff->len == 0) {
    g_string_free (diff, TRUE);
    return TRUE;
  }
  g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_INDEX_MISMATCH,
      "Index '%s' exists with another schema%s. Drop it (FT.DROPINDEX %s) "
      "or choose another index name.", spec->name, diff->str, spec->name);
  g_string_free (diff, TRUE);
  return FALSE;
}

void
vss_valkey_hit_free (VssValkeyHit * hit)
{
  if (hit == NULL)
    return;
  g_free (hit->key);
  g_hash_table_unref (hit->fields);
  g_free (hit);
}

static VssValkeyHit *
hit_new (const redisReply * key)
{
  VssValkeyHit *h = g_new0 (VssValkeyHit, 1);

  h->key = g_strndup (key->str, key->len);
  h->score = NAN;
  h->fields = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) g_bytes_unref);
  return h;
}

static gboolean
parse_score (const redisReply * r, gdouble * out)
{
  gchar *end;
  gdouble d;

  if (r->type == REDIS_REPLY_INTEGER) {
    *out = (gdouble) r->integer;
    return TRUE;
  }
  if (!is_text (r) || r->len == 0)
    return FALSE;
  d = g_ascii_strtod (r->str, &end);
  if (*end != '\0' || isnan (d))
    return FALSE;
  *out = d;
  return TRUE;
}

/**
 * vss_valkey_knn_parse:
 *
 * Parses `[count, key, [field, value, ...], ...]` (valkey-search 1.0 and
 * RediSearch in RESP2), `[count, key, score, [fields]]` (RediSearch with
 * WITHSCORES) and `[count, key, ...]` (NOCONTENT).
 *
 * Returns: (transfer full) (element-type VssValkeyHit): the hits in the
 * server's order, or NULL with @error: %VSS_VALKEY_ERROR_SEARCH_TIMEOUT for
 * `Request timed out`, %VSS_VALKEY_ERROR_SERVER for error replies,
 * %VSS_VALKEY_ERROR_PROTOCOL for other shapes.
 */
GPtrArray *
vss_valkey_knn_parse (const VssValkeyReply * r, gboolean nocontent,
    GError ** error)
{
  GPtrArray *hits;
  size_t i;

  if (r == NULL) {
    bad_reply (error, "FT.SEARCH", "no reply");
    return NULL;
  }
  if (r->type == REDIS_REPLY_STATUS && strstr (r->str, "timed out")) {
    g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_SEARCH_TIMEOUT,
        "FT.SEARCH: the server answered '%s'", r->str);
    return NULL;
  }
  if (vss_valkey_reply_to_error (r, error, "FT.SEARCH"))
    return NULL;
  if (r->type != REDIS_REPLY_ARRAY || r->elements == 0
      || r->element[0]->type != REDIS_REPLY_INTEGER) {
    bad_reply (error, "FT.SEARCH", "not [count, key, ...]");
    return NULL;
  }
  hits = g_ptr_array_new_with_free_func ((GDestroyNotify) vss_valkey_hit_free);
  for (i = 1; i < r->elements;) {
    const redisReply *key = r->element[i++];
    VssValkeyHit *h;

    if (!is_text (key))
      goto bad;
    h = hit_new (key);
    g_ptr_array_add (hits, h);
    if (nocontent)
      continue;
    /* WITHSCORES puts the score between the key and its fields. */
    if (i < r->elements && is_text (r->element[i])) {
      if (!parse_score (r->element[i], &h->score))
        goto bad;
      i++;
    }
    if (i < r->elements && r->element[i]->type == REDIS_REPLY_ARRAY) {
      const redisReply *f = r->element[i++];
      if (f->elements % 2)
        goto bad;
      for (size_t j = 0; j < f->elements; j += 2) {
        const redisReply *name = f->element[j], *val = f->element[j + 1];
        if (!is_text (name))
          goto bad;
        if (val->type == REDIS_REPLY_NIL)
          continue;
        if (!is_text (val) && val->type != REDIS_REPLY_INTEGER)
          goto bad;
        if (!strcmp (name->str, VSS_VALKEY_SCORE_FIELD)) {
          if (!parse_score (val, &h->score))
            goto bad;
        }
        if (val->type == REDIS_REPLY_INTEGER) {
          gchar *s = g_strdup_printf ("%lld", val->integer);
          g_hash_table_replace (h->fields, g_strdup (name->str),
              g_bytes_new_take (s, strlen (s)));
        } else {
          /* A NUL after the data lets text fields be read as strings. */
          gchar *copy = g_malloc (val->len + 1);
          memcpy (copy, val->str, val->len);
          copy[val->len] = '\0';
          g_hash_table_replace (h->fields, g_strdup (name->str),
              g_bytes_new_take (copy, val->len));
        }
      }
    }
  }
  return hits;

bad:
  g_ptr_array_unref (hits);
  bad_reply (error, "FT.SEARCH", "malformed hit list");
  return NULL;
}

static gint
cmp_hits (gconstpointer a, gconstpointer b)
{
  const VssValkeyHit *x = *(VssValkeyHit * const *) a;
  const VssValkeyHit *y = *(VssValkeyHit * const *) b;

  /* Missing scores last; ties by key, so merges are deterministic. */
  if (isnan (x->score) != isnan (y->score))
    return isnan (x->score) ? 1 : -1;
  if (x->score < y->score)
    return -1;
  if (x->score > y->score)
    return 1;
  return strcmp (x->key, y->key);
}

/**
 * vss_valkey_knn_merge:
 * @per_node: (transfer full): hit arrays, one per primary; emptied.
 *
 * Returns: (transfer full): the @k nearest hits over all nodes, nearest
 * first, each key once.
 */
GPtrArray *
vss_valkey_knn_merge (GPtrArray ** per_node, guint n_nodes, guint k)
{
  GPtrArray *all = g_ptr_array_new_with_free_func ((GDestroyNotify)
      vss_valkey_hit_free);
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify)
      vss_valkey_hit_free);
  GHashTable *seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint n = 0; n < n_nodes; n++) {
    GPtrArray *a = per_node[n];
    if (a == NULL)
      continue;
    g_ptr_array_set_free_func (a, NULL);
    for (guint i = 0; i < a->len; i++)
      g_ptr_array_add (all, g_ptr_array_index (a, i));
    g_ptr_array_unref (a);
    per_node[n] = NULL;
  }
  g_ptr_array_sort (all, cmp_hits);
  for (guint i = 0; i < all->len; i++) {
    VssValkeyHit *h = g_ptr_array_index (all, i);
    if (out->len >= k || g_hash_table_contains (seen, h->key))
      continue;
    g_hash_table_add (seen, h->key);
    g_ptr_array_add (out, h);
    all->pdata[i] = NULL;
  }
  g_hash_table_unref (seen);
  g_ptr_array_unref (all);
  return out;
}
