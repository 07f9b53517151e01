/* gst-vss: asynchronous Bedrock InvokeModel client
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Builds InvokeModel requests and reads their answers; signing, retries,
 * throttling, clock skew and cancellation are the shared AWS request
 * path's (aws/gstvssawsclient.c). No lock of its own.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gst/gst.h>
#include "gstvssbedrock.h"
#include "aws/gstvssawsclient.h"

GST_DEBUG_CATEGORY_STATIC (vss_bedrock_debug);
#define GST_CAT_DEFAULT vss_bedrock_debug

struct _GstVssBedrockClient
{
  GstVssAwsClient *aws;
  gint bad_answers;             /* atomic: 2xx without a usable embedding */
};

typedef struct
{
  GstVssBedrockClient *client;
  guint expected_dim;
  GstVssBedrockDoneFunc done;
  gpointer user_data;
} Op;

GstVssBedrockClient *
gst_vss_bedrock_client_new (const GstVssBedrockOptions * opts, GError ** error)
{
  GstVssAwsClientOptions o = { 0, };
  GstVssBedrockClient *c;
  GstVssAwsClient *aws;

  GST_DEBUG_CATEGORY_INIT (vss_bedrock_debug, "vssbedrock", 0,
      "Bedrock embeddings client");
  o.signing_name = "bedrock";
  o.service_env_id = "BEDROCK_RUNTIME";
  o.endpoint_prefix = "bedrock-runtime";
  o.protocol = GST_VSS_AWS_PROTOCOL_JSON;
  o.settings = opts->aws;
  o.max_connections = opts->max_connections;
  o.timeout_ms = opts->timeout_ms;
  o.max_retries = opts->max_retries;
  o.retry_max_time_ms = opts->retry_max_time_ms;
  aws = gst_vss_aws_client_new (&o, error);
  if (!aws)
    return NULL;
  c = g_new0 (GstVssBedrockClient, 1);
  c->aws = aws;
  return c;
}

/* Cancels everything; every pending callback has run when this returns. */
void
gst_vss_bedrock_client_free (GstVssBedrockClient * c)
{
  if (!c)
    return;
  gst_vss_aws_client_free (c->aws);
  g_free (c);
}

const gchar *
gst_vss_bedrock_client_get_endpoint (GstVssBedrockClient * c)
{
  return gst_vss_aws_client_get_endpoint (c->aws);
}

const gchar *
gst_vss_bedrock_client_get_region (GstVssBedrockClient * c)
{
  return gst_vss_aws_client_get_region (c->aws);
}

/* Resolves the credentials now (they are cached), so that a missing or
 * unreachable source is reported before the first frame. */
GstVssAwsCredentials *
gst_vss_bedrock_client_get_credentials (GstVssBedrockClient * c,
    GError ** error)
{
  return gst_vss_aws_client_get_credentials (c->aws, error);
}

/* An AWS answer as an embedding result. */
static void
embed_done (const GstVssAwsResponse * res, gpointer data)
{
  Op *op = data;
  GstVssBedrockResult r = { 0, };
  GError *err = NULL;

  r.attempts = res->attempts;
  r.http_status = res->status;
  switch (res->kind) {
    case GST_VSS_AWS_RESPONSE_OK:{
      gsize len = 0;
      const gchar *body = res->body ? g_bytes_get_data (res->body, &len) : NULL;

      r.vector = gst_vss_bedrock_parse_embedding (body, len,
          op->expected_dim, &r.dim, &err);
      if (r.vector) {
        r.status = GST_VSS_BEDROCK_OK;
      } else {
        r.status = GST_VSS_BEDROCK_BAD_RESPONSE;
        r.message = g_strdup (err->message);
        g_error_free (err);
        g_atomic_int_inc (&op->client->bad_answers);
      }
      break;
    }
    case GST_VSS_AWS_RESPONSE_CANCELLED:
      r.status = GST_VSS_BEDROCK_CANCELLED;
      break;
    case GST_VSS_AWS_RESPONSE_REFUSED:
      r.status = GST_VSS_BEDROCK_HTTP_ERROR;
      r.error_type = g_strdup (res->code);
      r.message = g_strdup (res->message);
      break;
    case GST_VSS_AWS_RESPONSE_TRANSPORT:
      /* A 200 cut short says the server is broken, not the network. */
      if (res->status == 200) {
        r.status = GST_VSS_BEDROCK_BAD_RESPONSE;
        r.message = g_strdup_printf ("response cut short: %s",
            res->transport_error);
      } else {
        r.status = GST_VSS_BEDROCK_TRANSPORT_ERROR;
        r.message = g_strdup (res->transport_error);
      }
      break;
    case GST_VSS_AWS_RESPONSE_REQUEST_ERROR:
    default:
      r.status = GST_VSS_BEDROCK_REQUEST_ERROR;
      r.http_status = 0;
      r.message = g_strdup (res->message);
      break;
  }
  op->done (&r, op->user_data);
  g_free (r.vector);
  g_free (r.error_type);
  g_free (r.message);
  g_free (op);
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
  static const GstVssAwsHttpHeader headers[] = {
    {"Content-Type", "application/json"},
    {"Accept", "application/json"},
  };
  GstVssAwsRequest req = { 0, };
  Op *op = g_new0 (Op, 1);
  gchar *url = gst_vss_bedrock_invoke_url (gst_vss_aws_client_get_endpoint
      (c->aws), model);

  op->client = c;
  op->expected_dim = expected_dim;
  op->done = done;
  op->user_data = user_data;
  req.method = "POST";
  req.url = url;
  req.headers = headers;
  req.n_headers = G_N_ELEMENTS (headers);
  req.body = body;
  req.sign_flags = GST_VSS_AWS_SIGV4_FLAG_NONE;
  gst_vss_aws_client_send_async (c->aws, &req, embed_done, op);
  g_free (url);
}

/* Cancels every request made before this call, retries included; their
 * callbacks run soon with GST_VSS_BEDROCK_CANCELLED. Returns at once. */
void
gst_vss_bedrock_client_cancel_all (GstVssBedrockClient * c)
{
  gst_vss_aws_client_cancel_all (c->aws);
}

void
gst_vss_bedrock_client_get_stats (GstVssBedrockClient * c,
    GstVssBedrockStats * stats)
{
  gst_vss_aws_client_get_stats (c->aws, stats);
  stats->failures += (guint) g_atomic_int_get (&c->bad_answers);
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
