/* gst-vss: AWS Signature Version 4
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Pure functions: no I/O, no clock, no logging. Time is an argument, so the
 * same inputs always give the same signature (and the public AWS vectors can
 * be checked byte for byte).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * GstVssAwsSigV4Flags:
 * @GST_VSS_AWS_SIGV4_FLAG_NONE: non-S3 rules (Bedrock and most services): every
 *   path segment of the wire path is URI-encoded once more and the path is
 *   normalised (dot segments and empty segments removed).
 * @GST_VSS_AWS_SIGV4_FLAG_S3: S3 rules: the wire path is the canonical URI
 *   (encoded once, not normalised).
 * @GST_VSS_AWS_SIGV4_FLAG_NO_NORMALIZE: non-S3 double encoding but no
 *   normalisation (only the AWS test vectors need this).
 * @GST_VSS_AWS_SIGV4_FLAG_CONTENT_SHA256: header signing adds and signs
 *   `x-amz-content-sha256` with the payload hash (required by S3).
 * @GST_VSS_AWS_SIGV4_FLAG_OMIT_SESSION_TOKEN: the session token is sent but not
 *   signed (services that want it added after signing, such as STS).
 */
typedef enum
{
  GST_VSS_AWS_SIGV4_FLAG_NONE = 0,
  GST_VSS_AWS_SIGV4_FLAG_S3 = 1 << 0,
  GST_VSS_AWS_SIGV4_FLAG_NO_NORMALIZE = 1 << 1,
  GST_VSS_AWS_SIGV4_FLAG_CONTENT_SHA256 = 1 << 2,
  GST_VSS_AWS_SIGV4_FLAG_OMIT_SESSION_TOKEN = 1 << 3,
} GstVssAwsSigV4Flags;

/* Hex SHA-256 of the empty string, and the S3 marker for a body that is not
 * hashed. */
#define GST_VSS_AWS_SIGV4_EMPTY_SHA256 \
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define GST_VSS_AWS_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

typedef struct
{
  const gchar *name;
  const gchar *value;
} GstVssAwsHttpHeader;

/**
 * GstVssAwsSigV4Request:
 * @method: "GET", "POST", ...
 * @path: the path exactly as sent on the wire (percent-encoded), without
 *   the query; NULL or "" means "/".
 * @query: the query exactly as sent on the wire, without '?'; may be NULL.
 * @headers: the headers that are sent and signed, in wire order; must
 *   contain `Host` (with ":port" when the port is not the scheme's default).
 *   Names are case-insensitive; repeated names are joined with ','.
 * @payload_hash: lower-case hex SHA-256 of the body, or
 *   %GST_VSS_AWS_SIGV4_UNSIGNED_PAYLOAD; NULL means the empty body.
 */
typedef struct
{
  const gchar *method;
  const gchar *path;
  const gchar *query;
  const GstVssAwsHttpHeader *headers;
  guint n_headers;
  const gchar *payload_hash;
} GstVssAwsSigV4Request;

/**
 * GstVssAwsSigV4Params:
 * @session_token: NULL when the credentials are long-term keys.
 * @service: the signing name (`bedrock` for bedrock-runtime, `s3`).
 * @time: signing time, unix seconds (UTC).
 * @expires: presigned URLs only: validity in seconds (1..604800).
 */
typedef struct
{
  const gchar *access_key_id;
  const gchar *secret_access_key;
  const gchar *session_token;
  const gchar *region;
  const gchar *service;
  gint64 time;
  GstVssAwsSigV4Flags flags;
  gint64 expires;
} GstVssAwsSigV4Params;

/**
 * GstVssAwsSigV4Result:
 * @canonical_request: the canonical request (for debugging and tests; it
 *   contains the session token when one is signed, so never log it).
 * @string_to_sign: the string to sign.
 * @signature: lower-case hex signature.
 * @signed_headers: "host;x-amz-date;...".
 * @authorization: header signing only: the Authorization header value.
 * @headers: header signing only: every header line to add to the request,
 *   "Name: value" (X-Amz-Date, X-Amz-Security-Token, X-Amz-Content-Sha256,
 *   Authorization), ready for curl_slist_append().
 * @query: presigning only: the whole query to send after '?', the original
 *   parameters followed by the X-Amz-* ones and X-Amz-Signature.
 */
typedef struct
{
  gchar *canonical_request;
  gchar *string_to_sign;
  gchar *signature;
  gchar *signed_headers;
  gchar *authorization;
  GPtrArray *headers;
  gchar *query;
} GstVssAwsSigV4Result;

gboolean gst_vss_aws_sigv4_sign_headers (const GstVssAwsSigV4Request * request,
    const GstVssAwsSigV4Params * params, GstVssAwsSigV4Result * result,
    GError ** error);

gboolean gst_vss_aws_sigv4_presign (const GstVssAwsSigV4Request * request,
    const GstVssAwsSigV4Params * params, GstVssAwsSigV4Result * result,
    GError ** error);

void gst_vss_aws_sigv4_result_clear (GstVssAwsSigV4Result * result);

gchar *gst_vss_aws_sigv4_sha256_hex (const guint8 * data, gsize len);

gchar *gst_vss_aws_sigv4_uri_encode (const gchar * s, gssize len,
    gboolean keep_slash);

gchar *gst_vss_aws_sigv4_canonical_uri (const gchar * wire_path,
    GstVssAwsSigV4Flags flags);

gchar *gst_vss_aws_sigv4_canonical_query (const gchar * wire_query);

G_END_DECLS
