/* gst-vss: asynchronous Bedrock InvokeModel client with retries
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each embed request is signed and sent on the curl-multi worker; failed
 * attempts that are worth retrying are re-signed (the date and possibly the
 * temporary credentials change) and re-submitted with a backoff delay, so
 * no thread ever sleeps for a retry.
 *
 * Locking: `lock` guards `gen`, `stats` and `rand`. Lock order: `lock`,
 * then the worker's own lock (a retry is submitted under `lock`, so that
 * cancel_all cannot slip between the check and the submission).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gst/gst.h>
#include "gstvssbedrock.h"
#include "core/gstvssbackoff.h"
#include "aws/gstvssaws.h"
#include "aws/gstvssawshttpworker.h"

GST_DEBUG_CATEGORY_STATIC (vss_bedrock_debug);
#define GST_CAT_DEFAULT vss_bedrock_debug

#define DEFAULT_TIMEOUT_MS 30000
/* AWS "standard" retries: full jitter, base 100 ms, cap 20 s. */
static const GstVssBackoff backoff =
    { 100, 20000, GST_VSS_BACKOFF_JITTER_FULL };

struct _GstVssBedrockClient
{
  GstVssAwsConfig *aws;
  GstVssAwsHttpWorker *worker;
  guint timeout_ms;
  guint max_retries;
  guint retry_max_time_ms;

  GMutex lock;
  guint gen;
  GstVssBedrockStats stats;
  GRand *rand;
};

typedef struct
{
  GstVssBedrockClient *client;
  gchar *url;
  GBytes *body;
  guint expected_dim;
  guint gen;
  guint attempts;
  gint64 first_attempt;
  GstVssBedrockDoneFunc done;
  gpointer user_data;
} Op;

static void op_attempt_done (const GstVssAwsHttpResult * res, gpointer data);

GstVssBedrockClient *
gst_vss_bedrock_client_new (const GstVssBedrockOptions * opts, GError ** error)
{
  static const GstVssAwsSettings none = { 0, };
  GstVssAwsSettings s = opts->aws ? *opts->aws : none;
  GstVssBedrockClient *c;
  GstVssAwsConfig *aws;
  GstVssAwsHttpWorker *worker;

  GST_DEBUG_CATEGORY_INIT (vss_bedrock_debug, "vssbedrock", 0,
      "Bedrock embeddings client");
  s.service_env_id = "BEDROCK_RUNTIME";
  s.endpoint_prefix = "bedrock-runtime";
  aws = gst_vss_aws_config_new (&s, error);
  if (!aws)
    return NULL;
  worker = gst_vss_aws_http_worker_new (opts->max_connections, error);
  if (!worker) {
    gst_vss_aws_config_free (aws);
    return NULL;
  }
  c = g_new0 (GstVssBedrockClient, 1);
  c->aws = aws;
  c->worker = worker;
  c->timeout_ms = opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
  c->max_retries = opts->max_retries;
  c->retry_max_time_ms = opts->retry_max_time_ms;
  c->rand = g_rand_new ();
  g_mutex_init (&c->lock);
  GST_DEBUG ("Bedrock client: region %s, endpoint %s",
      gst_vss_aws_config_get_region (aws),
      gst_vss_aws_config_get_endpoint (aws));
  return c;
}

/* Cancels everything; every pending callback has run when this returns. */
void
gst_vss_bedrock_client_free (GstVssBedrockClient * c)
{
  if (!c)
    return;
  gst_vss_bedrock_client_cancel_all (c);
  gst_vss_aws_http_worker_free (c->worker);
  gst_vss_aws_config_free (c->aws);
  g_rand_free (c->rand);
  g_mutex_clear (&c->lock);
  g_free (c);
}

const gchar *
gst_vss_bedrock_client_get_endpoint (GstVssBedrockClient * c)
{
  return gst_vss_aws_config_get_endpoint (c->aws);
}

const gchar *
gst_vss_bedrock_client_get_region (GstVssBedrockClient * c)
{
  return gst_vss_aws_config_get_region (c->aws);
}

/* Resolves the credentials now (they are cached), so that a missing or
 * unreachable source is reported before the first frame. */
GstVssAwsCredentials *
gst_vss_bedrock_client_get_credentials (GstVssBedrockClient * c,
    GError ** error)
{
  return gst_vss_aws_config_get_credentials (c->aws, error);
}

static void
op_finish (Op * op, GstVssBedrockResult * r)
{
  GstVssBedrockClient *c = op->client;

  r->attempts = op->attempts;
  if (r->status != GST_VSS_BEDROCK_OK && r->status != GST_VSS_BEDROCK_CANCELLED) {
    g_mutex_lock (&c->lock);
    c->stats.failures++;
    g_mutex_unlock (&c->lock);
  }
  op->done (r, op->user_data);
  g_free (r->vector);
  g_free (r->error_type);
  g_free (r->message);
  g_bytes_unref (op->body);
  g_free (op->url);
  g_free (op);
}

static void
op_fail (Op * op, GstVssBedrockStatus status, glong http, const gchar * type,
    gchar * message)
{
  GstVssBedrockResult r = { 0, };

  r.status = status;
  r.http_status = http;
  r.error_type = g_strdup (type);
  r.message = message;
  op_finish (op, &r);
}

/* Signs and submits one attempt; called with c->lock held. */
static gboolean
op_submit_locked (Op * op, guint delay_ms, GError ** error)
{
  GstVssBedrockClient *c = op->client;
  GstVssAwsHttpHeader signed_hdrs[] = {
    {"Content-Type", "application/json"},
    {"Accept", "application/json"},
  };
  GstVssAwsCredentials *creds;
  GPtrArray *headers = NULL, *all;
  gconstpointer data;
  gsize len;
  guint i;
  gboolean ok;

  creds = gst_vss_aws_config_get_credentials (c->aws, error);
  if (!creds)
    return FALSE;
  data = g_bytes_get_data (op->body, &len);
  /* Sign for the moment the delayed attempt is sent. */
  ok = gst_vss_aws_sign_request (creds, gst_vss_aws_config_get_region
      (c->aws), "bedrock", "POST", op->url, signed_hdrs,
      G_N_ELEMENTS (signed_hdrs), data, len, GST_VSS_AWS_SIGV4_FLAG_NONE,
      (g_get_real_time () + (gint64) delay_ms * 1000) / G_USEC_PER_SEC,
      &headers, error);
  gst_vss_aws_credentials_free (creds);
  if (!ok)
    return FALSE;
  all = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (all, g_strdup ("Content-Type: application/json"));
  g_ptr_array_add (all, g_strdup ("Accept: application/json"));
  for (i = 0; i < headers->len; i++)
    g_ptr_array_add (all, g_strdup (g_ptr_array_index (headers, i)));
  g_ptr_array_free (headers, TRUE);

  op->attempts++;
  c->stats.requests++;
  c->stats.bytes_sent += len;
  gst_vss_aws_http_worker_submit (c->worker, "POST", op->url, all, op->body,
      c->timeout_ms, delay_ms, op_attempt_done, op);
  /* The headers hold the signature and maybe a session token. */
  for (i = 0; i < all->len; i++) {
    gchar *h = g_ptr_array_index (all, i);
    memset (h, 0, strlen (h));
  }
  g_ptr_array_free (all, TRUE);
  return TRUE;
}

static void
op_attempt_done (const GstVssAwsHttpResult * res, gpointer data)
{
  Op *op = data;
  GstVssBedrockClient *c = op->client;
  GstVssBedrockResult r = { 0, };
  gchar *type = NULL;
  const gchar *body = NULL;
  gsize len = 0;
  GError *err = NULL;
  gboolean retry, throttle;

  if (res->cancelled) {
    op_fail (op, GST_VSS_BEDROCK_CANCELLED, 0, NULL, NULL);
    return;
  }
  if (res->body)
    body = g_bytes_get_data (res->body, &len);

  if (res->curl_code == 0 && res->status == 200) {
    r.vector = gst_vss_bedrock_parse_embedding (body, len, op->expected_dim,
        &r.dim, &err);
    g_mutex_lock (&c->lock);
    c->stats.latency_total_us += res->elapsed_us;
    c->stats.latency_count++;
    g_mutex_unlock (&c->lock);
    if (!r.vector) {
      op_fail (op, GST_VSS_BEDROCK_BAD_RESPONSE, 200, NULL,
          g_strdup (err->message));
      g_error_free (err);
      return;
    }
    r.status = GST_VSS_BEDROCK_OK;
    r.http_status = 200;
    op_finish (op, &r);
    return;
  }

  type = gst_vss_bedrock_error_type_strip (res->error_type);
  retry = gst_vss_bedrock_is_retryable (res->status, type, res->curl_code);
  throttle = res->curl_code == 0
      && gst_vss_bedrock_is_throttle (res->status, type);
  GST_DEBUG ("attempt %u: HTTP %ld %s curl %d (%s)%s", op->attempts,
      res->status, type ? type : "-", res->curl_code,
      res->transport_error ? res->transport_error : "", retry ? ", retry" : "");

  g_mutex_lock (&c->lock);
  if (throttle)
    c->stats.throttles++;
  if (retry && op->gen != c->gen) {
    g_mutex_unlock (&c->lock);
    g_free (type);
    op_fail (op, GST_VSS_BEDROCK_CANCELLED, 0, NULL, NULL);
    return;
  }
  if (retry && op->attempts <= c->max_retries) {
    guint delay = gst_vss_backoff_ms (&backoff, op->attempts - 1,
        c->rand);
    gint64 spent_ms = (g_get_monotonic_time () - op->first_attempt) / 1000;

    if (c->retry_max_time_ms == 0
        || spent_ms + delay <= (gint64) c->retry_max_time_ms) {
      if (op_submit_locked (op, delay, &err)) {
        c->stats.retries++;
        g_mutex_unlock (&c->lock);
        g_free (type);
        return;
      }
      g_mutex_unlock (&c->lock);
      g_free (type);
      op_fail (op, GST_VSS_BEDROCK_REQUEST_ERROR, 0, NULL,
          g_strdup (err->message));
      g_error_free (err);
      return;
    }
  }
  g_mutex_unlock (&c->lock);

  if (res->curl_code != 0 && res->status == 200)
    op_fail (op, GST_VSS_BEDROCK_BAD_RESPONSE, 200, NULL,
        g_strdup_printf ("response cut short: %s", res->transport_error));
  else if (res->curl_code != 0)
    op_fail (op, GST_VSS_BEDROCK_TRANSPORT_ERROR, res->status, NULL,
        g_strdup (res->transport_error));
  else
    op_fail (op, GST_VSS_BEDROCK_HTTP_ERROR, res->status, type,
        gst_vss_bedrock_error_message (body, len));
  g_free (type);
}

/**
 * gst_vss_bedrock_client_embed_async:
 * @body: request body (see gst_vss_bedrock_image_body()), referenced
 * @expected_dim: embedding length the answer must have (0: any)
 * @done: called exactly once, on the worker thread (or in this call when
 *   the request cannot be signed)
 */
void
gst_vss_bedrock_client_embed_async (GstVssBedrockClient * c,
    const gchar * model, GBytes * body, guint expected_dim,
    GstVssBedrockDoneFunc done, gpointer user_data)
{
  Op *op = g_new0 (Op, 1);
  GError *err = NULL;
  gboolean ok;

  op->client = c;
  op->url = gst_vss_bedrock_invoke_url (gst_vss_aws_config_get_endpoint
      (c->aws), model);
  op->body = g_bytes_ref (body);
  op->expected_dim = expected_dim;
  op->done = done;
  op->user_data = user_data;
  op->first_attempt = g_get_monotonic_time ();
  g_mutex_lock (&c->lock);
  op->gen = c->gen;
  ok = op_submit_locked (op, 0, &err);
  g_mutex_unlock (&c->lock);
  if (!ok) {
    op_fail (op, GST_VSS_BEDROCK_REQUEST_ERROR, 0, NULL,
        g_strdup (err->message));
    g_error_free (err);
  }
}

/* Cancels every request made before this call, retries included; their
 * callbacks run soon with GST_VSS_BEDROCK_CANCELLED. Returns at once. */
void
gst_vss_bedrock_client_cancel_all (GstVssBedrockClient * c)
{
  g_mutex_lock (&c->lock);
  c->gen++;
  gst_vss_aws_http_worker_cancel_all (c->worker);
  g_mutex_unlock (&c->lock);
}

void
gst_vss_bedrock_client_get_stats (GstVssBedrockClient * c,
    GstVssBedrockStats * stats)
{
  g_mutex_lock (&c->lock);
  *stats = c->stats;
  g_mutex_unlock (&c->lock);
}

typedef struct
{
  GMutex lock;
  GCond cond;
  gboolean done;
  GstVssBedrockResult r;
} SyncWait;

static void
sync_done (GstVssBedrockResult * r, gpointer data)
{
  SyncWait *w = data;

  g_mutex_lock (&w->lock);
  w->r = *r;
  w->r.error_type = g_strdup (r->error_type);
  w->r.message = g_strdup (r->message);
  r->vector = NULL;
  w->done = TRUE;
  g_cond_signal (&w->cond);
  g_mutex_unlock (&w->lock);
}

/* Sends @body and waits for the answer; @error names the HTTP status, AWS
 * error type and message. */
static gfloat *
embed_sync (GstVssBedrockClient * c, const gchar * model, GBytes * body,
    guint dim, guint * out_dim, GError ** error)
{
  SyncWait w = { 0, };
  gfloat *v = NULL;

  g_mutex_init (&w.lock);
  g_cond_init (&w.cond);
  gst_vss_bedrock_client_embed_async (c, model, body, dim ? dim :
      gst_vss_bedrock_model_default_dim (model), sync_done, &w);
  g_mutex_lock (&w.lock);
  while (!w.done)
    g_cond_wait (&w.cond, &w.lock);
  g_mutex_unlock (&w.lock);

  if (w.r.status == GST_VSS_BEDROCK_OK) {
    v = w.r.vector;
    if (out_dim)
      *out_dim = w.r.dim;
  } else if (w.r.status == GST_VSS_BEDROCK_HTTP_ERROR) {
    g_set_error (error, GST_VSS_BEDROCK_ERROR, (gint) w.r.http_status,
        "Bedrock answered HTTP %ld %s: %s", w.r.http_status,
        w.r.error_type ? w.r.error_type : "(no error type)",
        w.r.message ? w.r.message : "(no message)");
  } else {
    g_set_error (error, GST_VSS_BEDROCK_ERROR, 0, "Bedrock request failed "
        "after %u attempts: %s", w.r.attempts,
        w.r.status == GST_VSS_BEDROCK_CANCELLED ? "cancelled" :
        w.r.message ? w.r.message : "unknown error");
  }
  g_free (w.r.error_type);
  g_free (w.r.message);
  g_mutex_clear (&w.lock);
  g_cond_clear (&w.cond);
  return v;
}

/**
 * gst_vss_bedrock_embed_text:
 * @model: %GST_VSS_BEDROCK_IMAGE_MODEL (texts in the frames' vector space,
 *   for text queries against frames) or %GST_VSS_BEDROCK_TEXT_V2_MODEL
 * @dim: output length, 0 for the model's default
 * @out_dim: (out) (optional): the vector's length
 *
 * Embeds one text, blocking until done (retries included). Must not be
 * called from a #GstVssBedrockDoneFunc.
 *
 * Returns: (transfer full): the normalised embedding, or NULL with @error;
 *   its message names the HTTP status, AWS error type and message.
 */
gfloat *
gst_vss_bedrock_embed_text (GstVssBedrockClient * c, const gchar * model,
    const gchar * text, guint dim, guint * out_dim, GError ** error)
{
  GBytes *body;
  gfloat *v;

  if (!gst_vss_bedrock_check_model (model, dim, FALSE, error))
    return NULL;
  if (!text || !text[0]) {
    g_set_error (error, GST_VSS_BEDROCK_ERROR, 0, "empty text");
    return NULL;
  }
  body = gst_vss_bedrock_text_body (model, text, dim);
  v = embed_sync (c, model, body, dim, out_dim, error);
  g_bytes_unref (body);
  return v;
}

/**
 * gst_vss_bedrock_embed_image:
 * @model: %GST_VSS_BEDROCK_IMAGE_MODEL
 * @image: a JPEG or PNG within the model's limits (see gst_vss_bedrock_image_fit())
 * @dim: output length, 0 for the model's default
 *
 * Embeds one image, blocking until done, like gst_vss_bedrock_embed_text().
 *
 * Returns: (transfer full): the normalised embedding, or NULL with @error.
 */
gfloat *
gst_vss_bedrock_embed_image (GstVssBedrockClient * c, const gchar * model,
    GBytes * image, guint dim, guint * out_dim, GError ** error)
{
  GBytes *body;
  gfloat *v;
  gsize len;
  const guint8 *data;

  if (!gst_vss_bedrock_check_model (model, dim, TRUE, error))
    return NULL;
  data = g_bytes_get_data (image, &len);
  if (len == 0) {
    g_set_error (error, GST_VSS_BEDROCK_ERROR, 0, "empty image");
    return NULL;
  }
  body = gst_vss_bedrock_image_body (data, len, dim);
  v = embed_sync (c, model, body, dim, out_dim, error);
  g_bytes_unref (body);
  return v;
}
