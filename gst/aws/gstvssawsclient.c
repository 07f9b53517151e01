/* gst-vss: signed AWS requests with retries, for every AWS service
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The one path by which gst-vss talks to AWS. A request is signed for the
 * moment it leaves (credentials, date, clock-skew correction), sent on
 * the curl-multi worker, and judged when it comes back: a retryable answer
 * is signed again and re-submitted with a delay from the backoff (or the
 * service's Retry-After), so no thread ever sleeps for a retry; the
 * attempt and time bounds end it. A signature refused because our clock
 * is off (the answer's Date says by how much) is corrected and sent again.
 * Services only build bodies and read answers (bedrock/, store/, later
 * Rekognition, Converse, Glue, S3 Tables).
 *
 * Locking: `lock` guards `gen`, `stats`, `skew_ms` and `rand`. Lock order:
 * `lock`, then the worker's own lock (a retry is submitted under `lock`,
 * so that cancel_all cannot slip between the check and the submission).
 * Callbacks are called with no lock held.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <curl/curl.h>
#include <jansson.h>
#include <gst/gst.h>
#include "gstvssawsclient.h"
#include "gstvssaws.h"
#include "gstvssawshttpworker.h"

GST_DEBUG_CATEGORY_STATIC (vss_aws_client_debug);
#define GST_CAT_DEFAULT vss_aws_client_debug

#define DEFAULT_TIMEOUT_MS 30000
/* A skew smaller than this is not what made a signature fail. */
#define SKEW_THRESHOLD_S 240

/* AWS "standard" retries: full jitter, base 100 ms, cap 20 s. */
static const GstVssBackoff standard_backoff = { 100, 20000,
  GST_VSS_BACKOFF_JITTER_FULL
};

struct _GstVssAwsClient
{
  gchar *signing_name;
  GstVssAwsProtocol protocol;
  GstVssAwsConfig *config;
  GstVssAwsHttpWorker *worker;
  guint timeout_ms;
  guint max_retries;
  guint retry_max_time_ms;
  GstVssBackoff backoff;

  GMutex lock;
  guint gen;
  gint64 skew_ms;
  GstVssAwsStats stats;
  GRand *rand;
};

typedef struct
{
  GstVssAwsClient *client;
  gchar *method;
  gchar *url;
  GstVssAwsHttpHeader *headers;
  guint n_headers;
  GBytes *body;
  GstVssAwsSigV4Flags sign_flags;
  guint gen;
  guint attempts;
  gboolean skew_retried;
  gint64 first_us;
  GstVssAwsResponseFunc done;
  gpointer user_data;
} Op;

/* ---- pure parts ---- */

static gchar *
xml_element (const gchar * body, gsize len, const gchar * name)
{
  gchar *open = g_strdup_printf ("<%s>", name);
  gchar *close = g_strdup_printf ("</%s>", name);
  const gchar *a = g_strstr_len (body, len, open), *b;
  gchar *out = NULL;

  if (a) {
    a += strlen (open);
    b = g_strstr_len (a, len - (a - body), close);
    if (b)
      out = g_strndup (a, b - a);
  }
  g_free (open);
  g_free (close);
  return out;
}

/* "ThrottlingException:http://internal.amazon.com/..." and
 * "com.amazonaws.rekognition#ThrottlingException" both name
 * ThrottlingException. */
static gchar *
strip_code (const gchar * raw)
{
  const gchar *start, *end;

  if (raw == NULL || raw[0] == '\0')
    return NULL;
  start = strrchr (raw, '#');
  start = start ? start + 1 : raw;
  end = strchr (start, ':');
  if (end == start || start[0] == '\0')
    return NULL;
  return end ? g_strndup (start, end - start) : g_strdup (start);
}

/**
 * gst_vss_aws_parse_error:
 * @error_type_header: (nullable): the `x-amzn-ErrorType` header
 * @code: (out): the error code, or NULL
 * @message: (out): the error message, or NULL
 *
 * Reads an error answer as @protocol writes them.
 *
 * Returns: TRUE when a code was found.
 */
gboolean
gst_vss_aws_parse_error (GstVssAwsProtocol protocol,
    const gchar * error_type_header, const gchar * body, gsize len,
    gchar ** code, gchar ** message)
{
  *code = NULL;
  *message = NULL;
  if (protocol == GST_VSS_AWS_PROTOCOL_XML) {
    if (body && g_strstr_len (body, len, "<Error>")) {
      *code = xml_element (body, len, "Code");
      *message = xml_element (body, len, "Message");
    }
  } else {
    json_t *o = body && len ? json_loadb (body, len, 0, NULL) : NULL;

    *code = strip_code (error_type_header);
    if (json_is_object (o)) {
      const gchar *m = json_string_value (json_object_get (o, "message"));

      if (!m)
        m = json_string_value (json_object_get (o, "Message"));
      *message = g_strdup (m);
      if (*code == NULL)
        *code = strip_code (json_string_value (json_object_get (o, "__type")));
    }
    if (o)
      json_decref (o);
  }
  return *code != NULL;
}

static gboolean
code_in (const gchar * code, const gchar * const *list)
{
  for (guint i = 0; code && list[i]; i++)
    if (strcmp (code, list[i]) == 0)
      return TRUE;
  return FALSE;
}

static const gchar *const throttle_codes[] = { "Throttling",
  "ThrottlingException", "ThrottledException", "RequestThrottledException",
  "TooManyRequestsException", "ProvisionedThroughputExceededException",
  "RequestLimitExceeded", "BandwidthLimitExceeded", "SlowDown", NULL
};

static const gchar *const transient_codes[] = { "RequestTimeout",
  "RequestTimeoutException", "PriorRequestNotComplete",
  "ModelNotReadyException", "ModelTimeoutException", "InternalError",
  "InternalFailure", "InternalServerException", "ServiceUnavailable",
  "ServiceUnavailableException", "OperationAborted", NULL
};

static const gchar *const skew_codes[] = { "RequestTimeTooSkewed",
  "RequestExpired", "RequestInTheFuture", "InvalidSignatureException",
  "SignatureDoesNotMatch", "AuthFailure", NULL
};

/**
 * gst_vss_aws_is_throttle:
 *
 * Returns: TRUE when the answer asks the client to slow down (HTTP 429 or a
 *   throttling code, as the SDKs' standard retry mode lists them).
 */
gboolean
gst_vss_aws_is_throttle (glong http_status, const gchar * code)
{
  return http_status == 429 || code_in (code, throttle_codes);
}

/**
 * gst_vss_aws_is_clock_skew:
 *
 * Returns: TRUE for the codes a service answers when the request's date
 *   is too far from its clock (the caller checks the answer's Date).
 */
gboolean
gst_vss_aws_is_clock_skew (const gchar * code)
{
  return code_in (code, skew_codes);
}

/**
 * gst_vss_aws_is_retryable:
 * @code: the stripped error code, or NULL
 * @curl_code: the transfer's CURLcode
 *
 * Throttling, transient codes, 408, 429, 500, 502, 503, 504, and lost
 * connections or timeouts are retried. Refusals (validation, access,
 * unknown resource, bad signature) are not, and neither is a 2xx answer
 * cut short, which says the server is broken rather than busy.
 */
gboolean
gst_vss_aws_is_retryable (glong http_status, const gchar * code, gint curl_code)
{
  switch (curl_code) {
    case CURLE_OK:
      break;
    case CURLE_PARTIAL_FILE:
      return http_status < 200 || http_status >= 300;
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
      return TRUE;
    default:
      return FALSE;
  }
  if (gst_vss_aws_is_throttle (http_status, code)
      || code_in (code, transient_codes))
    return TRUE;
  return http_status == 408 || http_status == 500 || http_status == 502
      || http_status == 503 || http_status == 504;
}

void
gst_vss_aws_response_free (GstVssAwsResponse * r)
{
  if (r == NULL)
    return;
  g_free (r->transport_error);
  g_free (r->code);
  g_free (r->message);
  if (r->body)
    g_bytes_unref (r->body);
  g_free (r);
}

/* ---- the client ---- */

static gpointer
init_debug (gpointer unused)
{
  GST_DEBUG_CATEGORY_INIT (vss_aws_client_debug, "vssaws", 0,
      "gst-vss AWS requests");
  return NULL;
}

/**
 * gst_vss_aws_client_new:
 *
 * Resolves the region and endpoint now (the credentials on first use, or
 * with gst_vss_aws_client_get_credentials()) and starts the worker.
 *
 * Returns: the client, or NULL with @error (%GST_VSS_AWS_ERROR).
 */
GstVssAwsClient *
gst_vss_aws_client_new (const GstVssAwsClientOptions * o, GError ** error)
{
  static GOnce once = G_ONCE_INIT;
  static const GstVssAwsSettings none = { 0, };
  GstVssAwsSettings s = o->settings ? *o->settings : none;
  GstVssAwsConfig *config;
  GstVssAwsHttpWorker *worker;
  GstVssAwsClient *c;

  g_once (&once, init_debug, NULL);
  s.service_env_id = o->service_env_id;
  s.endpoint_prefix = o->endpoint_prefix;
  config = gst_vss_aws_config_new (&s, error);
  if (config == NULL)
    return NULL;
  worker = gst_vss_aws_http_worker_new (o->max_connections, error);
  if (worker == NULL) {
    gst_vss_aws_config_free (config);
    return NULL;
  }
  c = g_new0 (GstVssAwsClient, 1);
  c->signing_name = g_strdup (o->signing_name);
  c->protocol = o->protocol;
  c->config = config;
  c->worker = worker;
  c->timeout_ms = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
  c->max_retries = o->max_retries;
  c->retry_max_time_ms = o->retry_max_time_ms;
  c->backoff = o->backoff ? *o->backoff : standard_backoff;
  c->rand = g_rand_new ();
  g_mutex_init (&c->lock);
  GST_DEBUG ("%s: region %s, endpoint %s", c->signing_name,
      gst_vss_aws_config_get_region (config),
      gst_vss_aws_config_get_endpoint (config));
  return c;
}

/**
 * gst_vss_aws_client_free:
 *
 * Cancels everything; every pending callback has run when this returns.
 * Must not be called from a callback.
 */
void
gst_vss_aws_client_free (GstVssAwsClient * c)
{
  if (c == NULL)
    return;
  gst_vss_aws_client_cancel_all (c);
  gst_vss_aws_http_worker_free (c->worker);
  gst_vss_aws_config_free (c->config);
  g_rand_free (c->rand);
  g_mutex_clear (&c->lock);
  g_free (c->signing_name);
  g_free (c);
}

const gchar *
gst_vss_aws_client_get_region (GstVssAwsClient * c)
{
  return gst_vss_aws_config_get_region (c->config);
}

const gchar *
gst_vss_aws_client_get_endpoint (GstVssAwsClient * c)
{
  return gst_vss_aws_config_get_endpoint (c->config);
}

/**
 * gst_vss_aws_client_get_credentials:
 *
 * Resolves the credentials now (they are cached), so that a missing or
 * unreachable source is reported before the first request.
 */
GstVssAwsCredentials *
gst_vss_aws_client_get_credentials (GstVssAwsClient * c, GError ** error)
{
  return gst_vss_aws_config_get_credentials (c->config, error);
}

static void
op_free (Op * op)
{
  g_free (op->method);
  g_free (op->url);
  for (guint i = 0; i < op->n_headers; i++) {
    g_free ((gchar *) op->headers[i].name);
    g_free ((gchar *) op->headers[i].value);
  }
  g_free (op->headers);
  if (op->body)
    g_bytes_unref (op->body);
  g_free (op);
}

/* Takes @r's strings and body. */
static void
op_finish (Op * op, GstVssAwsResponse * r)
{
  GstVssAwsClient *c = op->client;

  r->attempts = op->attempts;
  if (r->kind != GST_VSS_AWS_RESPONSE_OK
      && r->kind != GST_VSS_AWS_RESPONSE_CANCELLED) {
    g_mutex_lock (&c->lock);
    c->stats.failures++;
    g_mutex_unlock (&c->lock);
  }
  op->done (r, op->user_data);
  g_free (r->transport_error);
  g_free (r->code);
  g_free (r->message);
  if (r->body)
    g_bytes_unref (r->body);
  op_free (op);
}

static void
op_fail (Op * op, GstVssAwsResponseKind kind, gchar * message)
{
  GstVssAwsResponse r = { 0, };

  r.kind = kind;
  r.message = message;
  op_finish (op, &r);
}

static void op_attempt_done (const GstVssAwsHttpResult * res, gpointer data);

/* Signs and submits one attempt, to leave in @delay_ms; called with
 * c->lock held. */
static gboolean
op_submit_locked (Op * op, guint delay_ms, GError ** error)
{
  GstVssAwsClient *c = op->client;
  GstVssAwsCredentials *creds;
  GPtrArray *signed_hdrs = NULL, *all;
  gconstpointer data = NULL;
  gsize len = 0;
  gint64 when_us;
  gboolean ok;
  guint i;

  creds = gst_vss_aws_config_get_credentials (c->config, error);
  if (creds == NULL)
    return FALSE;
  if (op->body)
    data = g_bytes_get_data (op->body, &len);
  /* Sign for the moment the delayed attempt is sent, on the server's
   * clock as far as we know it. */
  when_us = g_get_real_time () + (gint64) delay_ms *1000 + c->skew_ms * 1000;
  ok = gst_vss_aws_sign_request (creds, gst_vss_aws_config_get_region
      (c->config), c->signing_name, op->method, op->url, op->headers,
      op->n_headers, data, len, op->sign_flags, when_us / G_USEC_PER_SEC,
      &signed_hdrs, error);
  gst_vss_aws_credentials_free (creds);
  if (!ok)
    return FALSE;
  all = g_ptr_array_new_with_free_func (g_free);
  for (i = 0; i < op->n_headers; i++)
    g_ptr_array_add (all, g_strdup_printf ("%s: %s", op->headers[i].name,
            op->headers[i].value));
  for (i = 0; i < signed_hdrs->len; i++)
    g_ptr_array_add (all, g_strdup (g_ptr_array_index (signed_hdrs, i)));
  g_ptr_array_free (signed_hdrs, TRUE);

  op->attempts++;
  c->stats.requests++;
  c->stats.bytes_sent += len;
  gst_vss_aws_http_worker_submit (c->worker, op->method, op->url, all,
      op->body, c->timeout_ms, delay_ms, op_attempt_done, op);
  /* The headers hold the signature and maybe a session token. */
  for (i = 0; i < all->len; i++) {
    gchar *h = g_ptr_array_index (all, i);

    memset (h, 0, strlen (h));
  }
  g_ptr_array_free (all, TRUE);
  return TRUE;
}

/* A refused signature whose answer is dated far from our clock: learn the
 * offset. Returns TRUE when the attempt is worth repeating at once. */
static gboolean
learn_skew_locked (Op * op, const GstVssAwsHttpResult * res, const gchar * code)
{
  GstVssAwsClient *c = op->client;
  gint64 now_s, skew_s;

  if (op->skew_retried || res->server_time <= 0
      || !gst_vss_aws_is_clock_skew (code))
    return FALSE;
  now_s = g_get_real_time () / G_USEC_PER_SEC;
  skew_s = res->server_time - now_s;
  if (ABS (skew_s - c->skew_ms / 1000) < SKEW_THRESHOLD_S)
    return FALSE;
  GST_WARNING ("%s: the local clock is %" G_GINT64_FORMAT " s off the "
      "service's; signing on its clock from now on", c->signing_name, -skew_s);
  c->skew_ms = skew_s * 1000;
  c->stats.clock_skew_ms = c->skew_ms;
  op->skew_retried = TRUE;
  return TRUE;
}

/* Whether to try again, and when. Called with c->lock held. */
static gboolean
want_retry_locked (Op * op, const GstVssAwsHttpResult * res,
    const gchar * code, guint * delay_ms)
{
  GstVssAwsClient *c = op->client;
  gint64 spent_ms, delay;

  if (learn_skew_locked (op, res, code)) {
    *delay_ms = 0;
    return TRUE;
  }
  if (!gst_vss_aws_is_retryable (res->status, code, res->curl_code)
      || op->attempts > c->max_retries)
    return FALSE;
  delay = gst_vss_backoff_ms (&c->backoff, op->attempts - 1, c->rand);
  /* The service knows best how long it needs. */
  if (res->retry_after_ms >= 0)
    delay = MAX (delay, MIN (res->retry_after_ms, G_MAXINT32));
  spent_ms = (g_get_monotonic_time () - op->first_us) / 1000;
  if (c->retry_max_time_ms != 0
      && spent_ms + delay > (gint64) c->retry_max_time_ms)
    return FALSE;
  *delay_ms = (guint) delay;
  return TRUE;
}

static void
op_attempt_done (const GstVssAwsHttpResult * res, gpointer data)
{
  Op *op = data;
  GstVssAwsClient *c = op->client;
  GstVssAwsResponse r = { 0, };
  const gchar *body = NULL;
  gsize len = 0;
  GError *err = NULL;
  guint delay = 0;
  gboolean ok;

  if (res->cancelled) {
    op_fail (op, GST_VSS_AWS_RESPONSE_CANCELLED, NULL);
    return;
  }
  if (res->body)
    body = g_bytes_get_data (res->body, &len);
  r.status = res->status;
  r.curl_code = res->curl_code;
  r.latency_us = res->elapsed_us;
  r.body = res->body ? g_bytes_ref (res->body) : NULL;
  ok = res->curl_code == 0 && res->status >= 200 && res->status < 300;
  if (!ok)
    gst_vss_aws_parse_error (c->protocol, res->error_type, body, len, &r.code,
        &r.message);

  g_mutex_lock (&c->lock);
  if (ok) {
    c->stats.latency_total_us += res->elapsed_us;
    c->stats.latency_count++;
    g_mutex_unlock (&c->lock);
    r.kind = GST_VSS_AWS_RESPONSE_OK;
    op_finish (op, &r);
    return;
  }
  if (res->curl_code == 0 && gst_vss_aws_is_throttle (res->status, r.code))
    c->stats.throttles++;
  GST_DEBUG ("%s %s attempt %u: HTTP %ld %s, curl %d %s", op->method,
      c->signing_name, op->attempts, res->status, r.code ? r.code : "-",
      res->curl_code, res->transport_error ? res->transport_error : "");
  if (want_retry_locked (op, res, r.code, &delay)) {
    if (op->gen != c->gen) {
      g_mutex_unlock (&c->lock);
      g_clear_pointer (&r.code, g_free);
      g_clear_pointer (&r.message, g_free);
      g_clear_pointer (&r.body, g_bytes_unref);
      op_fail (op, GST_VSS_AWS_RESPONSE_CANCELLED, NULL);
      return;
    }
    if (op_submit_locked (op, delay, &err)) {
      c->stats.retries++;
      g_mutex_unlock (&c->lock);
      g_free (r.code);
      g_free (r.message);
      if (r.body)
        g_bytes_unref (r.body);
      return;
    }
    g_mutex_unlock (&c->lock);
    g_free (r.message);
    r.message = g_strdup (err->message);
    r.kind = GST_VSS_AWS_RESPONSE_REQUEST_ERROR;
    g_error_free (err);
    op_finish (op, &r);
    return;
  }
  g_mutex_unlock (&c->lock);

  if (res->curl_code != 0) {
    r.kind = GST_VSS_AWS_RESPONSE_TRANSPORT;
    r.transport_error = g_strdup (res->transport_error ?
        res->transport_error : curl_easy_strerror (res->curl_code));
  } else {
    r.kind = GST_VSS_AWS_RESPONSE_REFUSED;
  }
  op_finish (op, &r);
}

/**
 * gst_vss_aws_client_send_async:
 * @done: called exactly once, on the worker thread (or in this call when
 *   the request cannot be made)
 *
 * Sends @request (copied) with retries.
 */
void
gst_vss_aws_client_send_async (GstVssAwsClient * c,
    const GstVssAwsRequest * req, GstVssAwsResponseFunc done,
    gpointer user_data)
{
  Op *op = g_new0 (Op, 1);
  GError *err = NULL;
  gboolean ok;

  op->client = c;
  op->method = g_strdup (req->method);
  op->url = g_strdup (req->url);
  op->n_headers = req->n_headers;
  op->headers = g_new0 (GstVssAwsHttpHeader, MAX (req->n_headers, 1));
  for (guint i = 0; i < req->n_headers; i++) {
    op->headers[i].name = g_strdup (req->headers[i].name);
    op->headers[i].value = g_strdup (req->headers[i].value);
  }
  op->body = req->body ? g_bytes_ref (req->body) : NULL;
  op->sign_flags = req->sign_flags;
  op->done = done;
  op->user_data = user_data;
  op->first_us = g_get_monotonic_time ();
  g_mutex_lock (&c->lock);
  op->gen = c->gen;
  ok = op_submit_locked (op, 0, &err);
  g_mutex_unlock (&c->lock);
  if (!ok) {
    op_fail (op, GST_VSS_AWS_RESPONSE_REQUEST_ERROR, g_strdup (err->message));
    g_error_free (err);
  }
}

typedef struct
{
  GMutex lock;
  GCond cond;
  GstVssAwsResponse *r;
} SyncWait;

static void
sync_done (const GstVssAwsResponse * r, gpointer data)
{
  SyncWait *w = data;
  GstVssAwsResponse *copy = g_new0 (GstVssAwsResponse, 1);

  *copy = *r;
  copy->transport_error = g_strdup (r->transport_error);
  copy->code = g_strdup (r->code);
  copy->message = g_strdup (r->message);
  copy->body = r->body ? g_bytes_ref (r->body) : NULL;
  g_mutex_lock (&w->lock);
  w->r = copy;
  g_cond_signal (&w->cond);
  g_mutex_unlock (&w->lock);
}

/**
 * gst_vss_aws_client_send:
 *
 * Sends @request and waits for the outcome, retries included. Must not be
 * called from a #GstVssAwsResponseFunc.
 *
 * Returns: (transfer full): the response; free it with
 *   gst_vss_aws_response_free()
 */
GstVssAwsResponse *
gst_vss_aws_client_send (GstVssAwsClient * c, const GstVssAwsRequest * req)
{
  SyncWait w = { 0, };

  g_mutex_init (&w.lock);
  g_cond_init (&w.cond);
  gst_vss_aws_client_send_async (c, req, sync_done, &w);
  g_mutex_lock (&w.lock);
  while (w.r == NULL)
    g_cond_wait (&w.cond, &w.lock);
  g_mutex_unlock (&w.lock);
  g_mutex_clear (&w.lock);
  g_cond_clear (&w.cond);
  return w.r;
}

/**
 * gst_vss_aws_client_cancel_all:
 *
 * Cancels every request made before this call, retries included; their
 * callbacks run soon with %GST_VSS_AWS_RESPONSE_CANCELLED. Returns at once.
 */
void
gst_vss_aws_client_cancel_all (GstVssAwsClient * c)
{
  g_mutex_lock (&c->lock);
  c->gen++;
  gst_vss_aws_http_worker_cancel_all (c->worker);
  g_mutex_unlock (&c->lock);
}

void
gst_vss_aws_client_get_stats (GstVssAwsClient * c, GstVssAwsStats * stats)
{
  g_mutex_lock (&c->lock);
  *stats = c->stats;
  g_mutex_unlock (&c->lock);
}
