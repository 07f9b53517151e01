/* gst-vss: standing queries (specs in JSON, compiled immutable sets)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A set is built by one thread (gst_vss_query_set_new(), _add()) and only
 * read once it is published, so it needs no lock; the reference count is
 * atomic.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>
#include <jansson.h>
#include "gstvssqueryset.h"
#include "gstvssquerydot.h"
#include "vss-index.h"

G_DEFINE_QUARK (gst - vss - query - error - quark, gst_vss_query_error);

/* Rows are padded to a multiple of 16 floats so that each starts 64-byte
 * aligned in the matrix. */
#define ROW_ALIGN 16

struct _GstVssQuerySet
{
  gint ref;
  guint dim;
  guint stride;
  GPtrArray *specs;             /* GstVssQuerySpec */
  gfloat *rows;                 /* specs->len * stride, aligned */
  guint capacity;
};

GstVssQuerySpec *
gst_vss_query_spec_copy (const GstVssQuerySpec * s)
{
  GstVssQuerySpec *c = g_new0 (GstVssQuerySpec, 1);

  c->id = g_strdup (s->id);
  c->label = g_strdup (s->label);
  c->text = g_strdup (s->text);
  c->image = g_strdup (s->image);
  c->threshold = s->threshold;
  c->cooldown_ms = s->cooldown_ms;
  return c;
}

void
gst_vss_query_spec_free (GstVssQuerySpec * s)
{
  if (!s)
    return;
  g_free (s->id);
  g_free (s->label);
  g_free (s->text);
  g_free (s->image);
  g_free (s);
}

static gboolean
parse_error (GError ** error, guint index, const gchar * what)
{
  g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_PARSE,
      "query %u: %s", index + 1, what);
  return FALSE;
}

/* Names the value given, so that a user sees which one of several is
 * wrong: "query 2: 'threshold' is 5: it must be ...". */
static void
value_error (GError ** error, guint index, const gchar * key, json_t * v,
    const gchar * must_be)
{
  gchar *given = json_dumps (v, JSON_ENCODE_ANY | JSON_COMPACT);
  gsize len = given ? strlen (given) : 0;

  g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_PARSE,
      "query %u: '%s' is %.*s%s: it must be %s", index + 1, key,
      (int) MIN (len, 40), given ? given : "?", len > 40 ? "..." : "", must_be);
  free (given);
}

static gboolean
valid_id (const gchar * id)
{
  const gchar *p;

  if (!id[0] || strlen (id) > 128)
    return FALSE;
  for (p = id; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.'
        && *p != ':')
      return FALSE;
  return TRUE;
}

static GstVssQuerySpec *
spec_from_object (json_t * o, guint index, GError ** error)
{
  g_autoptr (GstVssQuerySpec) s = g_new0 (GstVssQuerySpec, 1);
  const char *key;
  json_t *v;

  s->threshold = GST_VSS_QUERY_DEFAULT_THRESHOLD;
  s->cooldown_ms = -1;
  if (!json_is_object (o)) {
    parse_error (error, index, "expected a JSON object");
    return NULL;
  }
  json_object_foreach (o, key, v) {
    if (!strcmp (key, "id") || !strcmp (key, "label") || !strcmp (key, "text")
        || !strcmp (key, "image")) {
      gchar **dst = !strcmp (key, "id") ? &s->id : !strcmp (key, "label") ?
          &s->label : !strcmp (key, "text") ? &s->text : &s->image;

      if (!json_is_string (v) || json_string_length (v) == 0) {
        g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_PARSE,
            "query %u: '%s' must be a non-empty string", index + 1, key);
        return NULL;
      }
      if (strlen (json_string_value (v)) != json_string_length (v)) {
        g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_PARSE,
            "query %u: '%s' contains a NUL character", index + 1, key);
        return NULL;
      }
      *dst = g_strdup (json_string_value (v));
    } else if (!strcmp (key, "threshold")) {
      if (!json_is_number (v) || json_number_value (v) < 0
          || json_number_value (v) > 2) {
        value_error (error, index, key, v, "a number in 0..2 (cosine "
            "distance)");
        return NULL;
      }
      s->threshold = json_number_value (v);
    } else if (!strcmp (key, "cooldown_ms")) {
      if (!json_is_integer (v) || json_integer_value (v) < 0) {
        value_error (error, index, key, v, "an integer >= 0");
        return NULL;
      }
      s->cooldown_ms = json_integer_value (v);
    } else {
      g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_PARSE,
          "query %u: unknown key '%s' (known: id, text, image, threshold, "
          "label, cooldown_ms)", index + 1, key);
      return NULL;
    }
  }
  if ((s->text == NULL) == (s->image == NULL)) {
    parse_error (error, index, "give exactly one of 'text' and 'image'");
    return NULL;
  }
  if (s->id && !valid_id (s->id)) {
    parse_error (error, index, "'id' may hold only letters, digits and "
        "- _ . : (at most 128)");
    return NULL;
  }
  if (!s->label)
    s->label = g_strdup (s->text ? s->text : s->image);
  return g_steal_pointer (&s);
}

/**
 * gst_vss_query_specs_from_json:
 * @json: a JSON array of query objects, a single object, or "" / "[]" for
 *   none (see #GstVssQuerySpec)
 *
 * Returns: (transfer full) (element-type GstVssQuerySpec): the specs, or
 *   NULL with @error naming the query and the problem. Ids given twice are
 *   an error.
 */
GPtrArray *
gst_vss_query_specs_from_json (const gchar * json, GError ** error)
{
  GPtrArray *out =
      g_ptr_array_new_with_free_func ((GDestroyNotify) gst_vss_query_spec_free);
  json_error_t jerr;
  json_t *root;
  gsize i, n;

  if (json == NULL || json[strspn (json, " \t\r\n")] == '\0')
    return out;
  root = json_loads (json, JSON_REJECT_DUPLICATES, &jerr);
  if (!root) {
    g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_PARSE,
        "queries are not valid JSON: %s (line %d, column %d)", jerr.text,
        jerr.line, jerr.column);
    g_ptr_array_unref (out);
    return NULL;
  }
  if (json_is_object (root)) {
    json_t *a = json_array ();

    json_array_append (a, root);
    json_decref (root);
    root = a;
  }
  if (!json_is_array (root)) {
    g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_PARSE,
        "queries must be a JSON array of objects");
    goto fail;
  }
  n = json_array_size (root);
  for (i = 0; i < n; i++) {
    GstVssQuerySpec *s = spec_from_object (json_array_get (root, i), i, error);
    guint j;

    if (!s)
      goto fail;
    for (j = 0; s->id && j < out->len; j++) {
      GstVssQuerySpec *o = g_ptr_array_index (out, j);

      if (o->id && !strcmp (o->id, s->id)) {
        g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_DUPLICATE,
            "query %u: id '%s' is used twice", (guint) i + 1, s->id);
        gst_vss_query_spec_free (s);
        goto fail;
      }
    }
    g_ptr_array_add (out, s);
  }
  json_decref (root);
  return out;

fail:
  json_decref (root);
  g_ptr_array_unref (out);
  return NULL;
}

/**
 * gst_vss_query_specs_to_json:
 *
 * Returns: (transfer full): a JSON array that
 *   gst_vss_query_specs_from_json() reads back.
 */
gchar *
gst_vss_query_specs_to_json (GPtrArray * specs)
{
  json_t *a = json_array ();
  gchar *s, *ret;
  guint i;

  for (i = 0; specs && i < specs->len; i++) {
    GstVssQuerySpec *q = g_ptr_array_index (specs, i);
    json_t *o = json_object ();

    if (q->id)
      json_object_set_new (o, "id", json_string (q->id));
    if (q->text)
      json_object_set_new (o, "text", json_string (q->text));
    if (q->image)
      json_object_set_new (o, "image", json_string (q->image));
    json_object_set_new (o, "threshold", json_real (q->threshold));
    if (q->label)
      json_object_set_new (o, "label", json_string (q->label));
    if (q->cooldown_ms >= 0)
      json_object_set_new (o, "cooldown_ms", json_integer (q->cooldown_ms));
    json_array_append_new (a, o);
  }
  s = json_dumps (a, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION
      (6));
  json_decref (a);
  ret = g_strdup (s);
  free (s);
  return ret;
}

/* ---- compiled sets ---- */

GstVssQuerySet *
gst_vss_query_set_new (guint dim)
{
  GstVssQuerySet *set = g_new0 (GstVssQuerySet, 1);

  set->ref = 1;
  set->dim = dim;
  set->stride = (dim + ROW_ALIGN - 1) / ROW_ALIGN * ROW_ALIGN;
  set->specs =
      g_ptr_array_new_with_free_func ((GDestroyNotify) gst_vss_query_spec_free);
  return set;
}

static void
grow (GstVssQuerySet * set)
{
  guint cap = MAX (8, set->capacity * 2);
  gfloat *rows = g_aligned_alloc0 ((gsize) cap * set->stride, sizeof (gfloat),
      64);

  if (set->rows)
    memcpy (rows, set->rows, (gsize) set->specs->len * set->stride *
        sizeof (gfloat));
  g_aligned_free (set->rows);
  set->rows = rows;
  set->capacity = cap;
}

/**
 * gst_vss_query_set_add:
 * @spec: must have an id not yet in @set
 * @vector: @dim floats, normalised here
 *
 * Only before the set is shared.
 */
gboolean
gst_vss_query_set_add (GstVssQuerySet * set, const GstVssQuerySpec * spec,
    const gfloat * vector, guint dim, GError ** error)
{
  gfloat *row, norm;

  if (dim != set->dim) {
    g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_EMBED,
        "query '%s' has %u dimensions, the set %u", spec->id, dim, set->dim);
    return FALSE;
  }
  if (gst_vss_query_set_find (set, spec->id) >= 0) {
    g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_DUPLICATE,
        "a query with id '%s' exists already", spec->id);
    return FALSE;
  }
  if (set->specs->len == set->capacity)
    grow (set);
  /* Into the next free row: a refused vector leaves the set as it was. */
  row = set->rows + (gsize) set->specs->len * set->stride;
  memcpy (row, vector, (gsize) dim * sizeof (gfloat));
  norm = vss_normalize_f32 (row, dim);
  if (!(norm > 0) || !isfinite (norm)) {
    g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_EMBED,
        "query '%s' has a zero or non-finite vector", spec->id);
    return FALSE;
  }
  g_ptr_array_add (set->specs, gst_vss_query_spec_copy (spec));
  return TRUE;
}

/**
 * gst_vss_query_set_copy_without:
 * @id: (nullable): the query to leave out
 *
 * Returns: (transfer full): a new, unshared set with the queries of @set
 *   except @id.
 */
GstVssQuerySet *
gst_vss_query_set_copy_without (const GstVssQuerySet * set, const gchar * id)
{
  GstVssQuerySet *c = gst_vss_query_set_new (set->dim);
  guint i;

  for (i = 0; i < set->specs->len; i++) {
    const GstVssQuerySpec *s = g_ptr_array_index (set->specs, i);

    if (id && !g_strcmp0 (s->id, id))
      continue;
    gst_vss_query_set_add (c, s, set->rows + (gsize) i * set->stride,
        set->dim, NULL);
  }
  return c;
}

GstVssQuerySet *
gst_vss_query_set_ref (GstVssQuerySet * set)
{
  g_atomic_int_inc (&set->ref);
  return set;
}

void
gst_vss_query_set_unref (GstVssQuerySet * set)
{
  if (!set || !g_atomic_int_dec_and_test (&set->ref))
    return;
  g_ptr_array_unref (set->specs);
  g_aligned_free (set->rows);
  g_free (set);
}

guint
gst_vss_query_set_get_size (const GstVssQuerySet * set)
{
  return set->specs->len;
}

guint
gst_vss_query_set_get_dim (const GstVssQuerySet * set)
{
  return set->dim;
}

const GstVssQuerySpec *
gst_vss_query_set_get_spec (const GstVssQuerySet * set, guint i)
{
  g_return_val_if_fail (i < set->specs->len, NULL);
  return g_ptr_array_index (set->specs, i);
}

const gfloat *
gst_vss_query_set_get_vector (const GstVssQuerySet * set, guint i)
{
  g_return_val_if_fail (i < set->specs->len, NULL);
  return set->rows + (gsize) i *set->stride;
}

gint
gst_vss_query_set_find (const GstVssQuerySet * set, const gchar * id)
{
  guint i;

  for (i = 0; id && i < set->specs->len; i++)
    if (!g_strcmp0 (((GstVssQuerySpec *) g_ptr_array_index (set->specs,
                    i))->id, id))
      return (gint) i;
  return -1;
}

/* Returns: (transfer full) (element-type GstVssQuerySpec): copies. */
GPtrArray *
gst_vss_query_set_get_specs (const GstVssQuerySet * set)
{
  GPtrArray *a =
      g_ptr_array_new_with_free_func ((GDestroyNotify) gst_vss_query_spec_free);
  guint i;

  for (i = 0; i < set->specs->len; i++)
    g_ptr_array_add (a, gst_vss_query_spec_copy (g_ptr_array_index (set->specs,
                i)));
  return a;
}

/**
 * gst_vss_query_set_distances:
 * @vector: a unit vector of the set's dimension
 * @out: (out caller-allocates): one cosine distance (1 - dot) per query
 */
void
gst_vss_query_set_distances (const GstVssQuerySet * set,
    const gfloat * vector, gfloat * out)
{
  guint i, n = set->specs->len;

  gst_vss_query_dot_f32_many (set->rows, n, set->stride, vector, set->dim, out);
  for (i = 0; i < n; i++)
    out[i] = 1.0f - out[i];
}
