/* gst-vss: vssquery's history searches, apart from the element
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include "core/gstvssframeid.h"
#include "query/gstvssquerysearch.h"

G_BEGIN_DECLS

/**
 * VssQueryHistory:
 *
 * Searches frames among the stored frames of other streams (KNN through
 * Valkey) on a worker thread of its own, fed by a bounded queue: a frame
 * submitted while the queue is full is dropped (and counted), never
 * waited for. Each finished search goes to a callback on the worker thread.
 * No pads, no element: vssquery turns the results into `vss-match`
 * messages and events.
 */
typedef struct _VssQueryHistory VssQueryHistory;

/**
 * VssQueryHistoryOptions:
 * @valkey_url: where the frames are (may hold a password: never logged)
 * @index: (nullable): the frames' index; NULL for the record's default
 * @stream_id: this stream, whose own frames are never searched
 * @k: nearest frames asked for per search
 * @queue_size: frames that may wait for a search (at least 1)
 * @interval_ms: search at most once per this many milliseconds of running
 *   time (0: every frame submitted)
 * @fanout: search every primary and merge (clusters without a search
 *   coordinator)
 */
typedef struct
{
  const gchar *valkey_url;
  const gchar *index;
  const gchar *stream_id;
  guint k;
  guint queue_size;
  guint64 interval_ms;
  gboolean fanout;
} VssQueryHistoryOptions;

/**
 * VssQueryHistoryFrame:
 * @frame_id: the frame searched for
 * @pts, @running_time: GST_CLOCK_TIME_NONE when unknown
 * @ts_ms: capture time, unix milliseconds
 * @uri: (nullable): the frame's object URI
 * @max_distance: stored frames farther than this are not returned
 * @max_age_ms: search frames captured at most this long before @ts_ms
 *   (0: no limit)
 * @min_age_ms: ... and at least this long before it
 *
 * Copied by vss_query_history_submit(); the callback gets the copy.
 */
typedef struct
{
  gchar frame_id[GST_VSS_FRAME_ID_SIZE];
  GstClockTime pts;
  GstClockTime running_time;
  gint64 ts_ms;
  const gchar *uri;
  gdouble max_distance;
  guint64 max_age_ms;
  guint64 min_age_ms;
} VssQueryHistoryFrame;

/**
 * VssQueryHistoryFunc:
 * @frame: the frame searched for
 * @hits: (element-type GstVssQuerySearchResult) (nullable): the stored
 *   frames within @frame's max_distance, nearest first (maybe none); NULL
 *   when the search failed
 * @error: (nullable): why the search failed (G_IO_ERROR_CANCELLED when
 *   vss_query_history_stop() interrupted it)
 *
 * Called on the worker thread, with no lock of the history held; never
 * after vss_query_history_stop() returned.
 */
typedef void (*VssQueryHistoryFunc) (const VssQueryHistoryFrame * frame,
    GPtrArray * hits, const GError * error, gpointer user_data);

/**
 * VssQueryHistorySubmit:
 * @VSS_QUERY_HISTORY_QUEUED: the frame waits for its search
 * @VSS_QUERY_HISTORY_SKIPPED: within the interval of the last frame queued
 *   or dropped; not counted
 * @VSS_QUERY_HISTORY_DROPPED: the queue was full; counted
 * @VSS_QUERY_HISTORY_STOPPED: the worker is stopped; not counted
 */
typedef enum
{
  VSS_QUERY_HISTORY_QUEUED,
  VSS_QUERY_HISTORY_SKIPPED,
  VSS_QUERY_HISTORY_DROPPED,
  VSS_QUERY_HISTORY_STOPPED,
} VssQueryHistorySubmit;

/**
 * VssQueryHistoryStats:
 * @submitted: frames queued
 * @dropped: frames not searched because the queue was full
 * @searched: searches answered
 * @errors: searches failed (cancelled ones included)
 * @matches: stored frames returned
 * @latency_us_total: sum over @searched of queued-to-answered times
 * @queue_max: the longest the queue was
 * @queued: frames waiting now (not counting the one being searched)
 */
typedef struct
{
  guint64 submitted;
  guint64 dropped;
  guint64 searched;
  guint64 errors;
  guint64 matches;
  guint64 latency_us_total;
  guint queue_max;
  guint queued;
} VssQueryHistoryStats;

VssQueryHistory *vss_query_history_new (const VssQueryHistoryOptions *
    options, VssQueryHistoryFunc func, gpointer user_data, GError ** error);
void vss_query_history_stop (VssQueryHistory * history);
void vss_query_history_free (VssQueryHistory * history);

VssQueryHistorySubmit vss_query_history_submit (VssQueryHistory * history,
    const gfloat * vector, guint dim, const VssQueryHistoryFrame * frame);

void vss_query_history_get_stats (VssQueryHistory * history,
    VssQueryHistoryStats * stats);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VssQueryHistory, vss_query_history_free);

G_END_DECLS
