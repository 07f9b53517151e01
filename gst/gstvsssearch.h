/* gst-vss: searching the stored frames (KNN with stream and time filters)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include "gstvssvalkeyclient.h"

G_BEGIN_DECLS

#define GST_VSS_SEARCH_DEFAULT_INDEX "frames"

/**
 * GstVssSearchRequest:
 * @index: (nullable): NULL for "frames"
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
} GstVssSearchRequest;

/**
 * GstVssSearchResult:
 * @key: the frame's hash, `frame:<stream>:<id>`
 * @distance: cosine distance to the query (0..2)
 * @stream: (nullable): the `stream` field
 * @frame_id: the `id` field, else the key's last part
 * @ts_ms: capture time, unix ms (0 when the document has none)
 * @pts: the `pts` field, GST_CLOCK_TIME_NONE when absent
 * @uri: (nullable): the object's URI (s3:// or file://)
 * @model: (nullable)
 */
typedef struct
{
  gchar *key;
  gdouble distance;
  gchar *stream;
  gchar *frame_id;
  gint64 ts_ms;
  guint64 pts;
  gchar *uri;
  gchar *model;
} GstVssSearchResult;

void gst_vss_search_request_init (GstVssSearchRequest * request);

GPtrArray *gst_vss_search_run (VssValkeyClient * client,
    const GstVssSearchRequest * request, gboolean fanout,
    GCancellable * cancellable, GError ** error);

void gst_vss_search_result_free (GstVssSearchResult * result);

GstStructure *gst_vss_search_result_to_structure (const GstVssSearchResult *
    result);

gchar *gst_vss_format_time_ms (gint64 unix_ms);

G_END_DECLS
