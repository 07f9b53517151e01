/* gst-vss: searching the stored frames (KNN with stream and time filters)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Frames are stored by vsssink as the frame record says
 * (core/gstvssrecord.h). One KNN query with the filters in the query
 * string answers a search.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>
#include "gstvssquerysearch.h"
#include "valkey/gstvssvalkeyrecord.h"

void
gst_vss_query_search_request_init (GstVssQuerySearchRequest * r)
{
  memset (r, 0, sizeof (*r));
  r->k = 10;
  r->since_ms = G_MININT64;
  r->until_ms = G_MAXINT64;
  r->max_distance = 2.0;
}

void
gst_vss_query_search_result_free (GstVssQuerySearchResult * r)
{
  if (!r)
    return;
  g_free (r->key);
  gst_vss_record_clear (&r->record);
  g_free (r);
}

/**
 * gst_vss_query_search_run:
 * @fanout: ask every primary and merge (cluster without a coordinator)
 *
 * Returns: (transfer full) (element-type GstVssQuerySearchResult): nearest
 *   first, at most @k, or NULL with @error.
 */
GPtrArray *
gst_vss_query_search_run (VssValkeyClient * client,
    const GstVssQuerySearchRequest * r, gboolean fanout, GCancellable * cancel,
    GError ** error)
{
  VssValkeyTagFilter tags[2];
  VssValkeyNumericFilter range;
  VssValkeyKnnQuery q = { 0, };
  GPtrArray *hits, *out;
  guint i;

  q.index = r->index ? r->index : GST_VSS_RECORD_DEFAULT_INDEX;
  q.vector_field = GST_VSS_RECORD_FIELD_VECTOR;
  q.vector = r->vector;
  q.dim = r->dim;
  q.k = r->k;
  q.return_fields = gst_vss_record_return_fields ();
  q.timeout_ms = r->timeout_ms;
  q.ef_runtime = r->ef_runtime;
  q.tags = tags;
  if (r->streams && r->streams[0]) {
    tags[q.n_tags].field = GST_VSS_RECORD_FIELD_STREAM;
    tags[q.n_tags].values = r->streams;
    tags[q.n_tags].negate = FALSE;
    q.n_tags++;
  }
  if (r->exclude_streams && r->exclude_streams[0]) {
    tags[q.n_tags].field = GST_VSS_RECORD_FIELD_STREAM;
    tags[q.n_tags].values = r->exclude_streams;
    tags[q.n_tags].negate = TRUE;
    q.n_tags++;
  }
  if (r->since_ms != G_MININT64 || r->until_ms != G_MAXINT64) {
    range.field = GST_VSS_RECORD_FIELD_TS;
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
      gst_vss_query_search_result_free);
  for (i = 0; i < hits->len; i++) {
    VssValkeyHit *h = g_ptr_array_index (hits, i);
    GstVssQuerySearchResult *res;

    if (!isnan (h->score) && h->score > r->max_distance)
      continue;
    res = g_new0 (GstVssQuerySearchResult, 1);
    res->key = g_strdup (h->key);
    res->distance = h->score;
    vss_valkey_record_from_hit (&res->record, h);
    g_ptr_array_add (out, res);
  }
  g_ptr_array_unref (hits);
  return out;
}

/**
 * gst_vss_query_search_result_to_structure:
 *
 * Returns: (transfer full): `vss-search-result` with `key`, `distance`
 *   (double), `stream`, `frame-id`, `timestamp` (gint64 unix ms), `pts`
 *   (guint64, GST_CLOCK_TIME_NONE when unknown), `uri` and `model`
 *   (strings, "" when unknown), `source` (string, "" for live streams) and
 *   `position-ms` (gint64, the frame's position in its source in
 *   milliseconds, -1 when unknown).
 */
GstStructure *
gst_vss_query_search_result_to_structure (const GstVssQuerySearchResult * r)
{
  const GstVssRecord *rec = &r->record;

  return gst_structure_new ("vss-search-result",
      "key", G_TYPE_STRING, r->key,
      "distance", G_TYPE_DOUBLE, r->distance,
      "stream", G_TYPE_STRING, rec->stream ? rec->stream : "",
      "frame-id", G_TYPE_STRING, rec->id,
      "timestamp", G_TYPE_INT64, rec->ts_ms,
      "pts", G_TYPE_UINT64, rec->pts >= 0 ? (guint64) rec->pts :
      GST_CLOCK_TIME_NONE,
      "uri", G_TYPE_STRING, rec->uri ? rec->uri : "",
      "model", G_TYPE_STRING, rec->model ? rec->model : "",
      "source", G_TYPE_STRING, rec->source ? rec->source : "",
      "position-ms", G_TYPE_INT64, rec->position_ms, NULL);
}
