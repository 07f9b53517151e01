/* gst-vss: signed AWS requests with retries, for every AWS service
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include "gstvssawscred.h"
#include "gstvssawssigv4.h"
#include "../core/gstvssbackoff.h"

G_BEGIN_DECLS

/**
 * GstVssAwsProtocol:
 * @GST_VSS_AWS_PROTOCOL_JSON: errors name their code in `x-amzn-ErrorType`
 *   or a body's `__type`, and carry `{"message": ...}` (Bedrock,
 *   Rekognition, Glue: the JSON and REST-JSON protocols)
 * @GST_VSS_AWS_PROTOCOL_XML: errors are `<Error><Code>…</Code><Message>…`
 *   documents (S3)
 */
typedef enum
{
  GST_VSS_AWS_PROTOCOL_JSON,
  GST_VSS_AWS_PROTOCOL_XML,
} GstVssAwsProtocol;

/* Pure parts: how an answer is read and judged. */
gboolean gst_vss_aws_parse_error (GstVssAwsProtocol protocol,
    const gchar * error_type_header, const gchar * body, gsize len,
    gchar ** code, gchar ** message);
gboolean gst_vss_aws_is_retryable (glong http_status, const gchar * code,
    gint curl_code);
gboolean gst_vss_aws_is_throttle (glong http_status, const gchar * code);
gboolean gst_vss_aws_is_clock_skew (const gchar * code);

/**
 * GstVssAwsClientOptions:
 * @signing_name: the service's SigV4 name ("bedrock", "s3", ...)
 * @service_env_id: AWS_ENDPOINT_URL_<ID> ("BEDROCK_RUNTIME", "S3", ...)
 * @endpoint_prefix: the default endpoint host's first label
 * @settings: (nullable): explicit settings (element properties); the
 *   service fields are taken from here instead
 * @max_connections: connections kept for reuse (the caller's concurrency)
 * @timeout_ms: per attempt (0: 30000)
 * @max_retries: retries after the first attempt
 * @retry_max_time_ms: no retry starts later than this after the first
 *   attempt (0: no time bound)
 * @backoff: (nullable): NULL: AWS standard retries (full jitter, base
 *   100 ms, cap 20 s)
 */
typedef struct
{
  const gchar *signing_name;
  const gchar *service_env_id;
  const gchar *endpoint_prefix;
  GstVssAwsProtocol protocol;
  const GstVssAwsSettings *settings;
  guint max_connections;
  guint timeout_ms;
  guint max_retries;
  guint retry_max_time_ms;
  const GstVssBackoff *backoff;
} GstVssAwsClientOptions;

/**
 * GstVssAwsRequest:
 * @url: the exact URL to send, path and query percent-encoded as on the
 *   wire
 * @headers: (nullable): sent and signed (e.g. Content-Type); Host,
 *   X-Amz-Date, the token and Authorization are added
 * @body: (nullable): sent as is and hashed into the signature
 * @sign_flags: e.g. %GST_VSS_AWS_SIGV4_FLAG_S3 |
 *   %GST_VSS_AWS_SIGV4_FLAG_CONTENT_SHA256 for S3
 */
typedef struct
{
  const gchar *method;
  const gchar *url;
  const GstVssAwsHttpHeader *headers;
  guint n_headers;
  GBytes *body;
  GstVssAwsSigV4Flags sign_flags;
} GstVssAwsRequest;

/**
 * GstVssAwsResponseKind:
 * @GST_VSS_AWS_RESPONSE_OK: a complete 2xx answer
 * @GST_VSS_AWS_RESPONSE_CANCELLED: cancelled before it finished
 * @GST_VSS_AWS_RESPONSE_REFUSED: the service answered with an error that is
 *   not retried, or the retries ran out on one (@status, @code, @message)
 * @GST_VSS_AWS_RESPONSE_TRANSPORT: no (complete) answer: timeout, lost
 *   connection, cut short (@transport_error), after the retries
 * @GST_VSS_AWS_RESPONSE_REQUEST_ERROR: the request could not be made (no
 *   credentials, bad URL): @message
 */
typedef enum
{
  GST_VSS_AWS_RESPONSE_OK,
  GST_VSS_AWS_RESPONSE_CANCELLED,
  GST_VSS_AWS_RESPONSE_REFUSED,
  GST_VSS_AWS_RESPONSE_TRANSPORT,
  GST_VSS_AWS_RESPONSE_REQUEST_ERROR,
} GstVssAwsResponseKind;

/**
 * GstVssAwsResponse:
 * @status: the last attempt's HTTP status, 0 without an answer
 * @curl_code: the last attempt's CURLcode
 * @code: (nullable): the service's error code (stripped)
 * @message: (nullable): the service's error message, or what went wrong
 * @body: (nullable): the last answer's body
 * @attempts: HTTP attempts made
 * @latency_us: the last attempt's duration
 */
typedef struct
{
  GstVssAwsResponseKind kind;
  glong status;
  gint curl_code;
  gchar *transport_error;
  gchar *code;
  gchar *message;
  GBytes *body;
  guint attempts;
  gint64 latency_us;
} GstVssAwsResponse;

void gst_vss_aws_response_free (GstVssAwsResponse * response);

/* Called once per request, on the client's worker thread (or, when the
 * request cannot be made, in the call). @response is freed after. */
typedef void (*GstVssAwsResponseFunc) (const GstVssAwsResponse * response,
    gpointer user_data);

/**
 * GstVssAwsStats:
 * @requests: HTTP attempts
 * @retries: attempts that were retries
 * @throttles: answers that said "slow down"
 * @failures: requests that failed for good (not cancelled)
 * @bytes_sent: request bodies, every attempt
 * @latency_total_us, @latency_count: of successful attempts
 * @clock_skew_ms: the correction applied to the local clock when signing
 */
typedef struct
{
  guint64 requests;
  guint64 retries;
  guint64 throttles;
  guint64 failures;
  guint64 bytes_sent;
  guint64 latency_total_us;
  guint64 latency_count;
  gint64 clock_skew_ms;
} GstVssAwsStats;

typedef struct _GstVssAwsClient GstVssAwsClient;

GstVssAwsClient *gst_vss_aws_client_new (const GstVssAwsClientOptions *
    options, GError ** error);
void gst_vss_aws_client_free (GstVssAwsClient * client);

const gchar *gst_vss_aws_client_get_region (GstVssAwsClient * client);
const gchar *gst_vss_aws_client_get_endpoint (GstVssAwsClient * client);
GstVssAwsCredentials *gst_vss_aws_client_get_credentials (GstVssAwsClient *
    client, GError ** error);

void gst_vss_aws_client_send_async (GstVssAwsClient * client,
    const GstVssAwsRequest * request, GstVssAwsResponseFunc done,
    gpointer user_data);
GstVssAwsResponse *gst_vss_aws_client_send (GstVssAwsClient * client,
    const GstVssAwsRequest * request);
void gst_vss_aws_client_cancel_all (GstVssAwsClient * client);
void gst_vss_aws_client_get_stats (GstVssAwsClient * client,
    GstVssAwsStats * stats);

G_END_DECLS
