/* gst-vss: vssquery's history searches, apart from the element
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Locking: `lock` guards `queue`, `stopping`, `last_rt` and `stats`; it is
 * never held during a search or a callback, and it is the only lock here.
 * `client` is the worker's alone until it is joined; `cancel` is thread
 * safe.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "vssqueryhistory.h"

GST_DEBUG_CATEGORY_STATIC (vss_query_history_debug);
#define GST_CAT_DEFAULT vss_query_history_debug

typedef struct
{
  VssQueryHistoryFrame frame;   /* frame.uri points to `uri` */
  gchar *uri;
  gfloat *vector;
  guint dim;
  gint64 queued_us;
} Job;

struct _VssQueryHistory
{
  /* read-only after _new */
  gchar *index;
  gchar *stream_id;
  guint k;
  guint queue_size;
  guint64 interval_ms;
  gboolean fanout;
  VssQueryHistoryFunc func;
  gpointer user_data;

  VssValkeyClient *client;      /* the worker's */
  GCancellable *cancel;
  GThread *thread;

  GMutex lock;
  GCond cond;
  GQueue queue;                 /* Job */
  gboolean stopping;
  GstClockTime last_rt;         /* running time of the last frame not skipped */
  VssQueryHistoryStats stats;
};

static void
job_free (Job * j)
{
  g_free (j->vector);
  g_free (j->uri);
  g_free (j);
}

/* One search; the callback gets its outcome. */
static void
run_job (VssQueryHistory * h, Job * j)
{
  const gchar *exclude[2] = { h->stream_id, NULL };
  GstVssQuerySearchRequest r;
  GError *err = NULL;
  GPtrArray *hits;

  gst_vss_query_search_request_init (&r);
  r.index = h->index;
  r.vector = j->vector;
  r.dim = j->dim;
  r.k = h->k;
  r.max_distance = j->frame.max_distance;
  r.exclude_streams = exclude;
  if (j->frame.max_age_ms > 0)
    r.since_ms = j->frame.ts_ms - (gint64) j->frame.max_age_ms;
  r.until_ms = j->frame.ts_ms - (gint64) j->frame.min_age_ms;

  hits = gst_vss_query_search_run (h->client, &r, h->fanout, h->cancel, &err);
  g_mutex_lock (&h->lock);
  if (hits) {
    h->stats.searched++;
    h->stats.matches += hits->len;
    h->stats.latency_us_total += g_get_monotonic_time () - j->queued_us;
  } else {
    h->stats.errors++;
  }
  g_mutex_unlock (&h->lock);
  if (hits)
    GST_DEBUG ("frame %s: %u stored frames within %.3f", j->frame.frame_id,
        hits->len, r.max_distance);
  else
    GST_DEBUG ("frame %s: %s", j->frame.frame_id, err->message);
  h->func (&j->frame, hits, err, h->user_data);
  if (hits)
    g_ptr_array_unref (hits);
  g_clear_error (&err);
}

static gpointer
worker (gpointer data)
{
  VssQueryHistory *h = data;

  g_mutex_lock (&h->lock);
  while (TRUE) {
    Job *j;

    while (!h->stopping && g_queue_is_empty (&h->queue))
      g_cond_wait (&h->cond, &h->lock);
    if (h->stopping)
      break;
    j = g_queue_pop_head (&h->queue);
    g_mutex_unlock (&h->lock);
    run_job (h, j);
    job_free (j);
    g_mutex_lock (&h->lock);
  }
  g_mutex_unlock (&h->lock);
  return NULL;
}

/**
 * vss_query_history_new:
 * @func: receives every finished search, on the worker thread
 *
 * Opens the Valkey client (connections are made by the first search) and
 * starts the worker.
 *
 * Returns: (transfer full): the history, or NULL with @error set (a bad
 *   URL, no stream id).
 */
VssQueryHistory *
vss_query_history_new (const VssQueryHistoryOptions * o,
    VssQueryHistoryFunc func, gpointer user_data, GError ** error)
{
  static gsize debug_once = 0;
  VssQueryHistory *h;
  VssValkeyClient *client;

  g_return_val_if_fail (o != NULL && func != NULL, NULL);
  if (g_once_init_enter (&debug_once)) {
    GST_DEBUG_CATEGORY_INIT (vss_query_history_debug, "vssqueryhistory", 0,
        "vssquery history searches");
    g_once_init_leave (&debug_once, 1);
  }
  if (!o->stream_id || !o->stream_id[0]) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "history needs this stream's id (to search the other streams only)");
    return NULL;
  }
  client = vss_valkey_client_new_from_url (o->valkey_url, error);
  if (!client)
    return NULL;

  h = g_new0 (VssQueryHistory, 1);
  h->index = g_strdup (o->index);
  h->stream_id = g_strdup (o->stream_id);
  h->k = MAX (o->k, 1);
  h->queue_size = MAX (o->queue_size, 1);
  h->interval_ms = o->interval_ms;
  h->fanout = o->fanout;
  h->func = func;
  h->user_data = user_data;
  h->client = client;
  h->cancel = g_cancellable_new ();
  h->last_rt = GST_CLOCK_TIME_NONE;
  g_mutex_init (&h->lock);
  g_cond_init (&h->cond);
  g_queue_init (&h->queue);
  h->thread = g_thread_new ("vssquery-history", worker, h);
  return h;
}

/**
 * vss_query_history_stop:
 *
 * Cancels the search in flight, waits for the worker and forgets the frames
 * still queued (they are not searched; the callback is not called for
 * them). The callback is never called after this returns. Idempotent.
 */
void
vss_query_history_stop (VssQueryHistory * h)
{
  guint forgotten;

  if (!h->thread)
    return;
  g_mutex_lock (&h->lock);
  h->stopping = TRUE;
  g_cond_broadcast (&h->cond);
  g_mutex_unlock (&h->lock);
  g_cancellable_cancel (h->cancel);
  g_thread_join (h->thread);
  h->thread = NULL;
  g_mutex_lock (&h->lock);
  forgotten = g_queue_get_length (&h->queue);
  g_queue_clear_full (&h->queue, (GDestroyNotify) job_free);
  g_queue_init (&h->queue);
  g_mutex_unlock (&h->lock);
  GST_DEBUG ("stopped, %u queued frames not searched", forgotten);
}

void
vss_query_history_free (VssQueryHistory * h)
{
  if (!h)
    return;
  vss_query_history_stop (h);
  vss_valkey_client_free (h->client);
  g_object_unref (h->cancel);
  g_mutex_clear (&h->lock);
  g_cond_clear (&h->cond);
  g_free (h->index);
  g_free (h->stream_id);
  g_free (h);
}

/**
 * vss_query_history_submit:
 * @vector: @dim floats, copied
 * @frame: copied
 *
 * Queues a search for @frame unless it comes within the interval of the
 * last frame queued or the queue is full. Never blocks on the search.
 */
VssQueryHistorySubmit
vss_query_history_submit (VssQueryHistory * h, const gfloat * vector,
    guint dim, const VssQueryHistoryFrame * frame)
{
  GstClockTime rt = frame->running_time;
  Job *j;

  g_mutex_lock (&h->lock);
  if (h->stopping)
    goto stopped;
  if (h->interval_ms && GST_CLOCK_TIME_IS_VALID (rt)
      && GST_CLOCK_TIME_IS_VALID (h->last_rt)
      && rt < h->last_rt + h->interval_ms * GST_MSECOND)
    goto skipped;
  /* A dropped frame starts an interval too: the next search comes no
   * sooner than if it had been searched. */
  h->last_rt = rt;
  if (g_queue_get_length (&h->queue) >= h->queue_size)
    goto dropped;

  j = g_new0 (Job, 1);
  j->frame = *frame;
  j->uri = g_strdup (frame->uri);
  j->frame.uri = j->uri;
  j->vector = g_memdup2 (vector, dim * sizeof (gfloat));
  j->dim = dim;
  j->queued_us = g_get_monotonic_time ();
  g_queue_push_tail (&h->queue, j);
  h->stats.submitted++;
  h->stats.queue_max = MAX (h->stats.queue_max, g_queue_get_length (&h->queue));
  g_cond_signal (&h->cond);
  g_mutex_unlock (&h->lock);
  return VSS_QUERY_HISTORY_QUEUED;

stopped:
  g_mutex_unlock (&h->lock);
  return VSS_QUERY_HISTORY_STOPPED;
skipped:
  g_mutex_unlock (&h->lock);
  return VSS_QUERY_HISTORY_SKIPPED;
dropped:
  h->stats.dropped++;
  g_mutex_unlock (&h->lock);
  return VSS_QUERY_HISTORY_DROPPED;
}

void
vss_query_history_get_stats (VssQueryHistory * h, VssQueryHistoryStats * out)
{
  g_mutex_lock (&h->lock);
  *out = h->stats;
  out->queued = g_queue_get_length (&h->queue);
  g_mutex_unlock (&h->lock);
}
