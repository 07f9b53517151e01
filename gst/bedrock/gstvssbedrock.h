/* gst-vss: Amazon Bedrock Titan embeddings: request bodies, responses,
 * error classification, retry policy, and an asynchronous client
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "../aws/gstvssawscred.h"
#include "../aws/gstvssawsclient.h"

G_BEGIN_DECLS

#define GST_VSS_BEDROCK_IMAGE_MODEL "amazon.titan-embed-image-v1"
#define GST_VSS_BEDROCK_TEXT_V2_MODEL "amazon.titan-embed-text-v2:0"

/* Titan Multimodal Embeddings G1 input limits (the smaller of the values
 * AWS has documented). */
#define GST_VSS_BEDROCK_MAX_IMAGE_SIDE 2048
#define GST_VSS_BEDROCK_MAX_IMAGE_BYTES (5 * 1024 * 1024)

#define GST_VSS_BEDROCK_ERROR (gst_vss_bedrock_error_quark ())
GQuark gst_vss_bedrock_error_quark (void);

/**
 * GstVssBedrockStatus:
 * @GST_VSS_BEDROCK_OK: @vector holds the normalised embedding
 * @GST_VSS_BEDROCK_CANCELLED: cancelled before it finished
 * @GST_VSS_BEDROCK_HTTP_ERROR: Bedrock answered with an error status
 *   that is not retried, or retries ran out (see @http_status,
 *   @error_type, @message)
 * @GST_VSS_BEDROCK_TRANSPORT_ERROR: no answer (timeout, connection), after
 *   the retries
 * @GST_VSS_BEDROCK_BAD_RESPONSE: a 200 answer that is malformed, truncated,
 *   or whose embedding has the wrong length
 * @GST_VSS_BEDROCK_REQUEST_ERROR: the request could not be made (no
 *   credentials, bad endpoint URL)
 */
typedef enum
{
  GST_VSS_BEDROCK_OK,
  GST_VSS_BEDROCK_CANCELLED,
  GST_VSS_BEDROCK_HTTP_ERROR,
  GST_VSS_BEDROCK_TRANSPORT_ERROR,
  GST_VSS_BEDROCK_BAD_RESPONSE,
  GST_VSS_BEDROCK_REQUEST_ERROR,
} GstVssBedrockStatus;

/* Model rules. */
gboolean gst_vss_bedrock_model_is_image (const gchar * model);
gboolean gst_vss_bedrock_model_is_text_v2 (const gchar * model);
guint gst_vss_bedrock_model_default_dim (const gchar * model);
gboolean gst_vss_bedrock_check_model (const gchar * model, guint dim,
    gboolean for_images, GError ** error);

/* The InvokeModel URL of @model_id at @endpoint. */
gchar *gst_vss_bedrock_invoke_url (const gchar * endpoint,
    const gchar * model_id);

/* Request bodies (JSON). @dim 0: the model's default. */
GBytes *gst_vss_bedrock_image_body (const guint8 * image, gsize len,
    guint dim);
GBytes *gst_vss_bedrock_text_body (const gchar * model, const gchar * text,
    guint dim);

/* Responses. */
gfloat *gst_vss_bedrock_parse_embedding (const gchar * body, gsize len,
    guint expected_dim, guint * dim, GError ** error);

/* Client. */
typedef struct _GstVssBedrockClient GstVssBedrockClient;

/**
 * GstVssBedrockOptions:
 * @aws: region, endpoint, profile and key overrides (NULL: all from the
 *   environment, as the AWS SDKs do)
 * @max_connections: connections kept for reuse (the caller's max in flight)
 * @timeout_ms: per attempt (0: 30000)
 * @max_retries: retries after the first attempt
 * @retry_max_time_ms: no retry starts later than this after the first
 *   attempt (0: no time bound)
 */
typedef struct
{
  const GstVssAwsSettings *aws;
  guint max_connections;
  guint timeout_ms;
  guint max_retries;
  guint retry_max_time_ms;
} GstVssBedrockOptions;

/**
 * GstVssBedrockResult:
 * @vector: (transfer full): steal it (set to NULL) to keep it
 * @attempts: HTTP attempts made (1 + retries)
 */
typedef struct
{
  GstVssBedrockStatus status;
  gfloat *vector;
  guint dim;
  glong http_status;
  gchar *error_type;
  gchar *message;
  guint attempts;
} GstVssBedrockResult;

/* Called once per embed request, on the client's worker thread. */
typedef void (*GstVssBedrockDoneFunc) (GstVssBedrockResult * result,
    gpointer user_data);

/* requests, retries, throttles, failures (embed requests that failed for
 * good, bad answers included), bytes sent, latency of successful attempts,
 * clock skew: the shared AWS path's counters. */
typedef GstVssAwsStats GstVssBedrockStats;

GstVssBedrockClient *gst_vss_bedrock_client_new (const GstVssBedrockOptions *
    options, GError ** error);
void gst_vss_bedrock_client_free (GstVssBedrockClient * client);
const gchar *gst_vss_bedrock_client_get_endpoint (GstVssBedrockClient *
    client);
const gchar *gst_vss_bedrock_client_get_region (GstVssBedrockClient * client);
GstVssAwsCredentials *gst_vss_bedrock_client_get_credentials
    (GstVssBedrockClient * client, GError ** error);

void gst_vss_bedrock_client_embed_async (GstVssBedrockClient * client,
    const gchar * model, GBytes * body, guint expected_dim,
    GstVssBedrockDoneFunc done, gpointer user_data);
void gst_vss_bedrock_client_cancel_all (GstVssBedrockClient * client);
void gst_vss_bedrock_client_get_stats (GstVssBedrockClient * client,
    GstVssBedrockStats * stats);

gfloat *gst_vss_bedrock_embed_text (GstVssBedrockClient * client,
    const gchar * model, const gchar * text, guint dim, guint * out_dim,
    GError ** error);
gfloat *gst_vss_bedrock_embed_image (GstVssBedrockClient * client,
    const gchar * model, GBytes * image, guint dim, guint * out_dim,
    GError ** error);

G_END_DECLS
