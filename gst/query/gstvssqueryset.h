/* gst-vss: standing queries (specs in JSON, compiled immutable sets)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define GST_VSS_QUERY_ERROR (gst_vss_query_error_quark ())
GQuark gst_vss_query_error_quark (void);

typedef enum
{
  GST_VSS_QUERY_ERROR_PARSE,    /* malformed JSON or fields */
  GST_VSS_QUERY_ERROR_DUPLICATE,        /* an id already in use */
  GST_VSS_QUERY_ERROR_NOT_FOUND,
  GST_VSS_QUERY_ERROR_UNSUPPORTED,      /* e.g. text with the local provider */
  GST_VSS_QUERY_ERROR_EMBED,    /* the provider failed */
} GstVssQueryError;

#define GST_VSS_QUERY_DEFAULT_THRESHOLD 0.3

/**
 * GstVssQuerySpec:
 * @id: unique in a set; NULL when the JSON gave none (the owner names it)
 * @label: (nullable): shown to users; defaults to the text or image path
 * @text: (nullable): a text query (exactly one of @text and @image is set)
 * @image: (nullable): path of an image file (JPEG or PNG)
 * @threshold: a frame matches when its cosine distance is <= this (0..2)
 * @cooldown_ms: -1 for the element's default
 *
 * JSON form (the `queries` property of vssquery, `add-query`):
 * `{"id":"q1","text":"a red car","threshold":0.3,"label":"car",
 *   "cooldown_ms":5000}` or `{"image":"/path/to/face.jpg",...}`; a list is a
 * JSON array of such objects. Unknown keys are errors.
 */
typedef struct
{
  gchar *id;
  gchar *label;
  gchar *text;
  gchar *image;
  gdouble threshold;
  gint64 cooldown_ms;
} GstVssQuerySpec;

GstVssQuerySpec *gst_vss_query_spec_copy (const GstVssQuerySpec * spec);
void gst_vss_query_spec_free (GstVssQuerySpec * spec);

GPtrArray *gst_vss_query_specs_from_json (const gchar * json,
    GError ** error);
gchar *gst_vss_query_specs_to_json (GPtrArray * specs);

/**
 * GstVssQuerySet:
 *
 * An immutable set of compiled queries (spec + unit vector), shared by
 * reference: a writer builds a new set and swaps a pointer, readers keep
 * the set they took for as long as they use it.
 */
typedef struct _GstVssQuerySet GstVssQuerySet;

GstVssQuerySet *gst_vss_query_set_new (guint dim);
GstVssQuerySet *gst_vss_query_set_copy_without (const GstVssQuerySet * set,
    const gchar * id);
gboolean gst_vss_query_set_add (GstVssQuerySet * set,
    const GstVssQuerySpec * spec, const gfloat * vector, guint dim,
    GError ** error);
GstVssQuerySet *gst_vss_query_set_ref (GstVssQuerySet * set);
void gst_vss_query_set_unref (GstVssQuerySet * set);

guint gst_vss_query_set_get_size (const GstVssQuerySet * set);
guint gst_vss_query_set_get_dim (const GstVssQuerySet * set);
const GstVssQuerySpec *gst_vss_query_set_get_spec (const GstVssQuerySet *
    set, guint i);
const gfloat *gst_vss_query_set_get_vector (const GstVssQuerySet * set,
    guint i);
gint gst_vss_query_set_find (const GstVssQuerySet * set, const gchar * id);
GPtrArray *gst_vss_query_set_get_specs (const GstVssQuerySet * set);

void gst_vss_query_set_distances (const GstVssQuerySet * set,
    const gfloat * vector, gfloat * out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstVssQuerySpec, gst_vss_query_spec_free);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstVssQuerySet, gst_vss_query_set_unref);

G_END_DECLS
