/* gst-vss: searching the stored frames (KNN with stream and time filters)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Frames are stored by vsssink as HASH `frame:<stream>:<id>` with fields
 * vector, stream (TAG), ts (NUMERIC, unix ms), pts, uri, size, model, id and
 * dedup_distance, in the index "frames" (see ARCHITECTURE.md). One KNN
 * query with the filters in the query string answers a search.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>
#include "gstvsssearch.h"
#include "gstvssvalkeysearch.h"

void
gst_vss_search_request_init (GstVssSearchRequest * r)
{
  memset (r, 0, sizeof (*r));
  r->k = 10;
  r->since_ms = G_MININT64;
  r->until_ms = G_MAXINT64;
  r->max_distance = 2.0;
}

void
gst_vss_search_result_free (GstVssSearchResult * r)
{
  if (!r)
    return;
  g_free (r->key);
  g_free (r->stream);
  g_free (r->frame_id);
  g_free (r->uri);
  g_free (r->model);
  g_free (r);
}

static const gchar *
field (VssValkeyHit * h, const gchar * name)
{
  GBytes *b = h->fields ? g_hash_table_lookup (h->fields, name) : NULL;

  /* The values carry a NUL after the data. */
  return b ? g_bytes_get_data (b, NULL) : NULL;
}

static gchar *
dup_nonempty (const gchar * s)
{
  return s && s[0] ? g_strdup (s) : NULL;
}

/**
 * gst_vss_search_run:
 * @fanout: ask every primary and merge (cluster without a coordinator)
 *
 * Returns: (transfer full) (element-type GstVssSearchResult): nearest
 *   first, at most @k, or NULL with @error.
 */
GPtrArray *
gst_vss_search_run (VssValkeyClient * client, const GstVssSearchRequest * r,
    gboolean fanout, GCancellable * cancel, GError ** error)
{
  static const gchar *const ret_fields[] = { "stream", "ts", "pts", "uri",
    "id", "model", NULL
  };
  VssValkeyTagFilter tags[2];
  VssValkeyNumericFilter range;
  VssValkeyKnnQuery q = { 0, };
  GPtrArray *hits, *out;
  guint i;

  q.index = r->index ? r->index : GST_VSS_SEARCH_DEFAULT_INDEX;
  q.vector_field = "vector";
  q.vector = r->vector;
  q.dim = r->dim;
  q.k = r->k;
  q.return_fields = ret_fields;
  q.timeout_ms = r->timeout_ms;
  q.ef_runtime = r->ef_runtime;
  q.tags = tags;
  if (r->streams && r->streams[0]) {
    tags[q.n_tags].field = "stream";
    tags[q.n_tags].values = r->streams;
    tags[q.n_tags].negate = FALSE;
    q.n_tags++;
  }
  if (r->exclude_streams && r->exclude_streams[0]) {
    tags[q.n_tags].field = "stream";
    tags[q.n_tags].values = r->exclude_streams;
    tags[q.n_tags].negate = TRUE;
    q.n_tags++;
  }
  if (r->since_ms != G_MININT64 || r->until_ms != G_MAXINT64) {
    range.field = "ts";
    range.min = r->since_ms == G_MININT64 ? -INFINITY : (gdouble) r->since_ms;
    range.max = r->until_ms == G_MAXINT64 ? INFINITY : (gdouble) r->until_ms;
    range.min_exclusive = range.max_exclusive = FALSE;
    q.ranges = &range;
    q.n_ranges = 1;
  }

  hits = vss_valkey_knn_search (client, &q, fanout, cancel, error);
  if (!hits)
    return NULL;
  out = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_vss_search_result_free);
  for (i = 0; i < hits->len; i++) {
    VssValkeyHit *h = g_ptr_array_index (hits, i);
    GstVssSearchResult *res;
    const gchar *s;

    if (!isnan (h->score) && h->score > r->max_distance)
      continue;
    res = g_new0 (GstVssSearchResult, 1);
    res->key = g_strdup (h->key);
    res->distance = h->score;
    res->stream = dup_nonempty (field (h, "stream"));
    res->uri = dup_nonempty (field (h, "uri"));
    res->model = dup_nonempty (field (h, "model"));
    res->frame_id = dup_nonempty (field (h, "id"));
    if (!res->frame_id) {
      s = strrchr (h->key, ':');
      res->frame_id = g_strdup (s ? s + 1 : h->key);
    }
    s = field (h, "ts");
    res->ts_ms = s ? (gint64) g_ascii_strtod (s, NULL) : 0;
    s = field (h, "pts");
    res->pts = s && s[0] ? g_ascii_strtoull (s, NULL, 10) :
        GST_CLOCK_TIME_NONE;
    g_ptr_array_add (out, res);
  }
  g_ptr_array_unref (hits);
  return out;
}

/**
 * gst_vss_search_result_to_structure:
 *
 * Returns: (transfer full): `vss-search-result` with `key`, `distance`
 *   (double), `stream`, `frame-id`, `timestamp` (gint64 unix ms), `pts`
 *   (guint64, GST_CLOCK_TIME_NONE when unknown), `uri` and `model`
 *   (strings, "" when unknown).
 */
GstStructure *
gst_vss_search_result_to_structure (const GstVssSearchResult * r)
{
  return gst_structure_new ("vss-search-result",
      "key", G_TYPE_STRING, r->key,
      "distance", G_TYPE_DOUBLE, r->distance,
      "stream", G_TYPE_STRING, r->stream ? r->stream : "",
      "frame-id", G_TYPE_STRING, r->frame_id,
      "timestamp", G_TYPE_INT64, r->ts_ms,
      "pts", G_TYPE_UINT64, r->pts,
      "uri", G_TYPE_STRING, r->uri ? r->uri : "",
      "model", G_TYPE_STRING, r->model ? r->model : "", NULL);
}

/* "2026-12-01T09:30:20.123Z" (UTC), or "" for 0. */
gchar *
gst_vss_format_time_ms (gint64 ms)
{
  GDateTime *dt;
  gchar *s, *ret;

  if (ms <= 0)
    return g_strdup ("");
  dt = g_date_time_new_from_unix_utc (ms / 1000);
  if (!dt)
    return g_strdup ("");
  s = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%S");
  ret = g_strdup_printf ("%s.%03dZ", s, (gint) (ms % 1000));
  g_free (s);
  g_date_time_unref (dt);
  return ret;
}
