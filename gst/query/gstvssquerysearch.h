/* gst-vss: searching the stored frames (KNN with stream and time filters)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include "../core/gstvssrecord.h"
#include "../valkey/gstvssvalkeyclient.h"

G_BEGIN_DECLS

/**
 * GstVssQuerySearchRequest:
 * @index: (nullable): NULL for the record's default index ("frames")
 * @streams: (nullable): NULL-terminated; only frames of these streams
 * @exclude_streams: (nullable): NULL-terminated; never frames of these
 * @since_ms, @until_ms: capture time range (unix ms, inclusive); G_MININT64
 *   and G_MAXINT64 for no bound
 * @max_distance: drop results farther than this (2 or more: keep all)
 * @ef_runtime: HNSW search breadth (0: the server's default, 10 on
 *   valkey-search; larger finds the true nearest frames more often)
 */
typedef struct
{
  const gchar *index;
  const gfloat *vector;
  guint dim;
  guint k;
  const gchar *const *streams;
  const gchar *const *exclude_streams;
  gint64 since_ms;
  gint64 until_ms;
  gdouble max_distance;
  guint timeout_ms;
  guint ef_runtime;
} GstVssQuerySearchRequest;

/**
 * GstVssQuerySearchResult:
 * @key: the frame's hash, `frame:<stream>:<id>`
 * @distance: cosine distance to the query (0..2)
 * @record: the stored frame (everything but the vector); @record.id is the
 *   `id` field, else the key's last part; @record.source and
 *   @record.position_ms say where a frame of a file is in it
 *   (gst_vss_record_format_source(): "clip.mkv @ 00:54")
 */
typedef struct
{
  gchar *key;
  gdouble distance;
  GstVssRecord record;
} GstVssQuerySearchResult;

void gst_vss_query_search_request_init (GstVssQuerySearchRequest * request);

GPtrArray *gst_vss_query_search_run (VssValkeyClient * client,
    const GstVssQuerySearchRequest * request, gboolean fanout,
    GCancellable * cancellable, GError ** error);

void gst_vss_query_search_result_free (GstVssQuerySearchResult * result);

GstStructure *gst_vss_query_search_result_to_structure (const GstVssQuerySearchResult *
    result);

G_END_DECLS
