/* gst-vss: asynchronous HTTP requests on one curl-multi thread
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One thread runs curl_multi_poll()/curl_multi_perform() for every request
 * of its owner, so any number of requests can be outstanding without a
 * thread each. Requests may be delayed (retry backoff) without a timer
 * thread: the delay bounds the poll timeout. curl_multi_wakeup() makes the
 * thread notice new work, cancellation and shutdown at once.
 *
 * Locking: `lock` guards `incoming`, `quit`, `cancel_gen` and `next_id`.
 * It is a leaf lock and is never held while calling curl or a callback.
 * `waiting` and `active` belong to the worker thread alone.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <curl/curl.h>
#include <gio/gio.h>
#include <gst/gst.h>
#include "gstvssawshttpworker.h"

GST_DEBUG_CATEGORY_STATIC (vss_http_worker_debug);
#define GST_CAT_DEFAULT vss_http_worker_debug

/* Embedding responses are a few kB; anything larger than this is not one. */
#define MAX_RESPONSE_BYTES (32 * 1024 * 1024)
#define IDLE_POLL_MS 1000

typedef struct
{
  guint64 id;
  guint gen;
  CURL *easy;
  struct curl_slist *headers;
  GBytes *body;
  GByteArray *resp;
  gchar *error_type;
  gint64 retry_after_ms;
  gint64 server_time;
  gchar errbuf[CURL_ERROR_SIZE];
  gint64 due;
  gint64 started;
  gboolean too_big;
  GstVssAwsHttpDoneFunc done;
  gpointer user_data;
} Request;

struct _GstVssAwsHttpWorker
{
  CURLM *multi;
  GThread *thread;

  GMutex lock;
  GList *incoming;
  gboolean quit;
  guint cancel_gen;
  guint64 next_id;

  /* worker thread only */
  GList *waiting;
  GList *active;
};

static gsize
write_cb (gchar * data, gsize size, gsize n, gpointer user)
{
  Request *r = user;

  if (r->resp->len + size * n > MAX_RESPONSE_BYTES) {
    r->too_big = TRUE;
    return 0;
  }
  g_byte_array_append (r->resp, (const guint8 *) data, size * n);
  return size * n;
}

/* The value of header @name when @line is that header, else NULL. */
static gchar *
header_value (const gchar * line, gsize len, const gchar * name)
{
  gsize n = strlen (name);

  if (len <= n || g_ascii_strncasecmp (line, name, n) != 0 || line[n] != ':')
    return NULL;
  return g_strstrip (g_strndup (line + n + 1, len - n - 1));
}

static gsize
header_cb (gchar * data, gsize size, gsize n, gpointer user)
{
  Request *r = user;
  gsize len = size * n;
  gchar *v;

  /* A redirect or 100-continue starts a new set of headers. */
  if (len >= 5 && g_ascii_strncasecmp (data, "HTTP/", 5) == 0) {
    g_clear_pointer (&r->error_type, g_free);
    r->retry_after_ms = -1;
    r->server_time = 0;
  } else if ((v = header_value (data, len, "x-amzn-ErrorType"))) {
    g_free (r->error_type);
    r->error_type = v;
  } else if ((v = header_value (data, len, "Retry-After"))) {
    gchar *end = NULL;
    gint64 secs = g_ascii_strtoll (v, &end, 10);

    if (end != v && *end == '\0' && secs >= 0)
      r->retry_after_ms = MIN (secs, G_MAXINT32) * 1000;
    else {
      time_t t = curl_getdate (v, NULL);

      if (t != (time_t) - 1)
        r->retry_after_ms = MAX ((gint64) t * 1000 -
            g_get_real_time () / 1000, 0);
    }
    g_free (v);
  } else if ((v = header_value (data, len, "Date"))) {
    time_t t = curl_getdate (v, NULL);

    r->server_time = t != (time_t) - 1 ? (gint64) t : 0;
    g_free (v);
  }
  return len;
}

static void
request_free (Request * r)
{
  if (r->easy)
    curl_easy_cleanup (r->easy);
  curl_slist_free_all (r->headers);
  if (r->body)
    g_bytes_unref (r->body);
  g_byte_array_unref (r->resp);
  g_free (r->error_type);
  g_free (r);
}

static void
finish (Request * r, gboolean cancelled, gint code)
{
  GstVssAwsHttpResult res = { 0, };

  res.cancelled = cancelled;
  res.retry_after_ms = -1;
  if (!cancelled) {
    curl_easy_getinfo (r->easy, CURLINFO_RESPONSE_CODE, &res.status);
    res.curl_code = code;
    if (code != CURLE_OK)
      res.transport_error = g_strdup (r->too_big ? "response too large" :
          r->errbuf[0] ? r->errbuf : curl_easy_strerror (code));
    res.error_type = r->error_type;
    res.retry_after_ms = r->retry_after_ms;
    res.server_time = r->server_time;
    res.body = g_bytes_new (r->resp->data, r->resp->len);
    res.elapsed_us = g_get_monotonic_time () - r->started;
  }
  r->done (&res, r->user_data);
  g_free (res.transport_error);
  if (res.body)
    g_bytes_unref (res.body);
  request_free (r);
}

static void
start_request (GstVssAwsHttpWorker * w, Request * r)
{
  r->started = g_get_monotonic_time ();
  curl_multi_add_handle (w->multi, r->easy);
  w->active = g_list_prepend (w->active, r);
}

/* Cancels what was submitted before the last cancel_all (or everything). */
static void
cancel_older (GstVssAwsHttpWorker * w, guint gen, gboolean all)
{
  GList *l, *next;

  for (l = w->waiting; l; l = next) {
    Request *r = l->data;

    next = l->next;
    if (all || r->gen < gen) {
      w->waiting = g_list_delete_link (w->waiting, l);
      finish (r, TRUE, 0);
    }
  }
  for (l = w->active; l; l = next) {
    Request *r = l->data;

    next = l->next;
    if (all || r->gen < gen) {
      w->active = g_list_delete_link (w->active, l);
      curl_multi_remove_handle (w->multi, r->easy);
      finish (r, TRUE, 0);
    }
  }
}

static gpointer
worker_thread (gpointer data)
{
  GstVssAwsHttpWorker *w = data;

  for (;;) {
    GList *fresh, *l, *next;
    CURLMsg *msg;
    gboolean quit;
    guint gen;
    gint running, left;
    gint64 now, wait_ms = IDLE_POLL_MS;

    g_mutex_lock (&w->lock);
    fresh = g_list_reverse (w->incoming);
    w->incoming = NULL;
    quit = w->quit;
    gen = w->cancel_gen;
    g_mutex_unlock (&w->lock);

    w->waiting = g_list_concat (w->waiting, fresh);
    cancel_older (w, gen, quit);
    if (quit)
      break;

    now = g_get_monotonic_time ();
    for (l = w->waiting; l; l = next) {
      Request *r = l->data;

      next = l->next;
      if (r->due <= now) {
        w->waiting = g_list_delete_link (w->waiting, l);
        start_request (w, r);
      } else {
        wait_ms = MIN (wait_ms, (r->due - now + 999) / 1000);
      }
    }

    curl_multi_perform (w->multi, &running);
    while ((msg = curl_multi_info_read (w->multi, &left))) {
      Request *r = NULL;

      if (msg->msg != CURLMSG_DONE)
        continue;
      curl_easy_getinfo (msg->easy_handle, CURLINFO_PRIVATE, (char **) &r);
      w->active = g_list_remove (w->active, r);
      curl_multi_remove_handle (w->multi, r->easy);
      finish (r, FALSE, msg->data.result);
    }
    curl_multi_poll (w->multi, NULL, 0, (gint) MAX (wait_ms, 1), NULL);
  }

  /* Callbacks of the cancelled requests may have submitted more. */
  for (;;) {
    GList *late;

    g_mutex_lock (&w->lock);
    late = w->incoming;
    w->incoming = NULL;
    g_mutex_unlock (&w->lock);
    if (!late)
      break;
    w->waiting = late;
    cancel_older (w, 0, TRUE);
  }
  return NULL;
}

static gpointer
init_once (gpointer unused)
{
  GST_DEBUG_CATEGORY_INIT (vss_http_worker_debug, "vsshttpworker", 0,
      "curl-multi HTTP worker");
  return curl_global_init (CURL_GLOBAL_DEFAULT) == CURLE_OK ? NULL :
      GINT_TO_POINTER (1);
}

/**
 * gst_vss_aws_http_worker_new:
 * @max_connections: connections kept open for reuse (at least the number
 *   of requests the owner keeps outstanding)
 *
 * Starts the worker thread.
 */
GstVssAwsHttpWorker *
gst_vss_aws_http_worker_new (guint max_connections, GError ** error)
{
  static GOnce once = G_ONCE_INIT;
  GstVssAwsHttpWorker *w;

  if (g_once (&once, init_once, NULL) != NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
        "libcurl could not be initialised");
    return NULL;
  }

  w = g_new0 (GstVssAwsHttpWorker, 1);
  w->multi = curl_multi_init ();
  if (!w->multi) {
    g_free (w);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
        "curl_multi_init failed");
    return NULL;
  }
  curl_multi_setopt (w->multi, CURLMOPT_MAXCONNECTS,
      (long) MAX (max_connections, 4));
  curl_multi_setopt (w->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
  g_mutex_init (&w->lock);
  w->thread = g_thread_try_new ("vss-http", worker_thread, w, error);
  if (!w->thread) {
    curl_multi_cleanup (w->multi);
    g_mutex_clear (&w->lock);
    g_free (w);
    return NULL;
  }
  return w;
}

/**
 * gst_vss_aws_http_worker_free:
 *
 * Cancels every request (their callbacks run, with @cancelled set, before
 * this returns) and stops the thread. Must not be called from a callback.
 */
void
gst_vss_aws_http_worker_free (GstVssAwsHttpWorker * w)
{
  if (!w)
    return;
  g_mutex_lock (&w->lock);
  w->quit = TRUE;
  g_mutex_unlock (&w->lock);
  curl_multi_wakeup (w->multi);
  g_thread_join (w->thread);
  curl_multi_cleanup (w->multi);
  g_mutex_clear (&w->lock);
  g_free (w);
}

/**
 * gst_vss_aws_http_worker_submit:
 * @headers: (nullable): "Name: value" strings, copied
 * @body: (nullable): request body, referenced until the request is done
 * @timeout_ms: whole-transfer timeout (0: none)
 * @delay_ms: start the request this much later (retry backoff)
 * @done: called exactly once, see #GstVssAwsHttpDoneFunc
 *
 * Thread-safe; may be called from a callback.
 *
 * Returns: the request's id (never 0)
 */
guint64
gst_vss_aws_http_worker_submit (GstVssAwsHttpWorker * w, const gchar * method,
    const gchar * url, GPtrArray * headers, GBytes * body, guint timeout_ms,
    guint delay_ms, GstVssAwsHttpDoneFunc done, gpointer user_data)
{
  Request *r = g_new0 (Request, 1);
  guint i;
  guint64 id;

  r->easy = curl_easy_init ();
  r->resp = g_byte_array_new ();
  r->retry_after_ms = -1;
  r->done = done;
  r->user_data = user_data;
  r->due = g_get_monotonic_time () + (gint64) delay_ms *1000;
  for (i = 0; headers && i < headers->len; i++)
    r->headers = curl_slist_append (r->headers, g_ptr_array_index (headers, i));
  /* No "Expect: 100-continue" round trip before large bodies. */
  r->headers = curl_slist_append (r->headers, "Expect:");
  curl_easy_setopt (r->easy, CURLOPT_URL, url);
  curl_easy_setopt (r->easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (r->easy, CURLOPT_CUSTOMREQUEST, method);
  if (body) {
    gsize len;
    gconstpointer d;

    r->body = g_bytes_ref (body);
    d = g_bytes_get_data (r->body, &len);
    curl_easy_setopt (r->easy, CURLOPT_POSTFIELDS, d);
    curl_easy_setopt (r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
  }
  curl_easy_setopt (r->easy, CURLOPT_HTTPHEADER, r->headers);
  curl_easy_setopt (r->easy, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt (r->easy, CURLOPT_WRITEDATA, r);
  curl_easy_setopt (r->easy, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt (r->easy, CURLOPT_HEADERDATA, r);
  curl_easy_setopt (r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt (r->easy, CURLOPT_PRIVATE, r);
  curl_easy_setopt (r->easy, CURLOPT_TIMEOUT_MS, (long) timeout_ms);
  curl_easy_setopt (r->easy, CURLOPT_CONNECTTIMEOUT_MS,
      (long) (timeout_ms ? MIN (timeout_ms, 10000) : 10000));
  curl_easy_setopt (r->easy, CURLOPT_TCP_KEEPALIVE, 1L);

  g_mutex_lock (&w->lock);
  id = r->id = ++w->next_id;
  r->gen = w->cancel_gen;
  w->incoming = g_list_prepend (w->incoming, r);
  g_mutex_unlock (&w->lock);
  curl_multi_wakeup (w->multi);
  return id;
}

/**
 * gst_vss_aws_http_worker_cancel_all:
 *
 * Cancels every request submitted before this call; their callbacks run
 * soon on the worker thread with @cancelled set. Requests submitted after
 * are not affected. Returns at once.
 */
void
gst_vss_aws_http_worker_cancel_all (GstVssAwsHttpWorker * w)
{
  g_mutex_lock (&w->lock);
  w->cancel_gen++;
  g_mutex_unlock (&w->lock);
  curl_multi_wakeup (w->multi);
}
