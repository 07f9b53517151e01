/* gst-vss: asynchronous HTTP requests on one curl-multi thread
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _GstVssAwsHttpWorker GstVssAwsHttpWorker;

/**
 * GstVssAwsHttpResult:
 * @cancelled: the request was cancelled (or the worker freed) before it
 *   finished; nothing else is set
 * @status: HTTP status, 0 when no response was received
 * @curl_code: the CURLcode of the transfer (0: complete)
 * @transport_error: curl's error text when @curl_code is not 0
 * @error_type: the `x-amzn-ErrorType` header as received, or NULL
 * @body: the response body (possibly partial)
 * @elapsed_us: time from sending to completion
 * @retry_after_ms: the `Retry-After` header (seconds or an HTTP date) in
 *   milliseconds from now, -1 without one
 * @server_time: the `Date` header, unix seconds, 0 without one
 */
typedef struct
{
  gboolean cancelled;
  glong status;
  gint curl_code;
  gchar *transport_error;
  gchar *error_type;
  GBytes *body;
  gint64 elapsed_us;
  gint64 retry_after_ms;
  gint64 server_time;
} GstVssAwsHttpResult;

/* Called exactly once per submitted request, on the worker thread, with no
 * worker lock held; it may submit new requests. @result is freed after. */
typedef void (*GstVssAwsHttpDoneFunc) (const GstVssAwsHttpResult * result,
    gpointer user_data);

GstVssAwsHttpWorker *gst_vss_aws_http_worker_new (guint max_connections,
    GError ** error);
void gst_vss_aws_http_worker_free (GstVssAwsHttpWorker * worker);

guint64 gst_vss_aws_http_worker_submit (GstVssAwsHttpWorker * worker,
    const gchar * method, const gchar * url, GPtrArray * headers,
    GBytes * body, guint timeout_ms, guint delay_ms,
    GstVssAwsHttpDoneFunc done, gpointer user_data);

void gst_vss_aws_http_worker_cancel_all (GstVssAwsHttpWorker * worker);

G_END_DECLS
