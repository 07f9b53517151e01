/* gst-vss: signing an HTTP request for AWS in one call
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gio/gio.h>
#include "gstvssaws.h"

/**
 * gst_vss_aws_sign_request:
 * @url: the exact URL handed to curl (path and query percent-encoded as
 *   they must appear on the wire)
 * @signed_headers: (nullable): extra headers to sign (e.g. Content-Type);
 *   the caller must send them unchanged. Host is derived from @url.
 * @body: (nullable): the request body, hashed into the signature
 * @body_len: its length, or G_MAXSIZE to sign UNSIGNED-PAYLOAD (S3 only,
 *   with %GST_VSS_AWS_SIGV4_FLAG_CONTENT_SHA256)
 * @now: signing time, unix seconds
 * @headers_out: (out): "Name: value" lines to add to the request:
 *   X-Amz-Date, X-Amz-Security-Token (with temporary credentials),
 *   X-Amz-Content-Sha256 (with %GST_VSS_AWS_SIGV4_FLAG_CONTENT_SHA256) and
 *   Authorization. They contain secrets: never log them.
 *
 * Returns: FALSE (and @error) when the URL or credentials are unusable.
 */
gboolean
gst_vss_aws_sign_request (const GstVssAwsCredentials * creds,
    const gchar * region, const gchar * service, const gchar * method,
    const gchar * url, const GstVssAwsHttpHeader * signed_headers,
    guint n_signed_headers, const guint8 * body, gsize body_len,
    GstVssAwsSigV4Flags flags, gint64 now, GPtrArray ** headers_out,
    GError ** error)
{
  GstVssAwsSigV4Request req = { 0, };
  GstVssAwsSigV4Params params = { 0, };
  GstVssAwsSigV4Result res;
  GstVssAwsHttpHeader *hdrs;
  GUri *uri;
  const gchar *scheme, *host;
  gchar *host_value, *hash;
  gint port;
  gboolean ok;

  *headers_out = NULL;
  uri = g_uri_parse (url, G_URI_FLAGS_ENCODED, error);
  if (!uri)
    return FALSE;
  scheme = g_uri_get_scheme (uri);
  host = g_uri_get_host (uri);
  port = g_uri_get_port (uri);
  if (!host || !host[0]) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "URL has no host: %s", url);
    g_uri_unref (uri);
    return FALSE;
  }
  /* curl sends the port in Host only when it is not the scheme's default,
   * and the signed Host must be byte-identical to what is sent. */
  if (port < 0 || (port == 80 && g_ascii_strcasecmp (scheme, "http") == 0)
      || (port == 443 && g_ascii_strcasecmp (scheme, "https") == 0))
    host_value = g_strdup_printf (strchr (host, ':') ? "[%s]" : "%s", host);
  else
    host_value = g_strdup_printf (strchr (host, ':') ? "[%s]:%d" : "%s:%d",
        host, port);

  hdrs = g_new0 (GstVssAwsHttpHeader, n_signed_headers + 1);
  hdrs[0].name = "Host";
  hdrs[0].value = host_value;
  if (n_signed_headers)
    memcpy (hdrs + 1, signed_headers,
        n_signed_headers * sizeof (GstVssAwsHttpHeader));

  if (body_len == G_MAXSIZE)
    hash = g_strdup (GST_VSS_AWS_SIGV4_UNSIGNED_PAYLOAD);
  else
    hash = gst_vss_aws_sigv4_sha256_hex (body ? body : (const guint8 *) "",
        body ? body_len : 0);

  req.method = method;
  req.path = g_uri_get_path (uri);
  req.query = g_uri_get_query (uri);
  req.headers = hdrs;
  req.n_headers = n_signed_headers + 1;
  req.payload_hash = hash;
  params.access_key_id = creds->access_key_id;
  params.secret_access_key = creds->secret_access_key;
  params.session_token = creds->session_token;
  params.region = region;
  params.service = service;
  params.time = now;
  params.flags = flags;

  ok = gst_vss_aws_sigv4_sign_headers (&req, &params, &res, error);
  if (ok) {
    *headers_out = res.headers;
    res.headers = NULL;
    gst_vss_aws_sigv4_result_clear (&res);
  }
  g_free (hash);
  g_free (hdrs);
  g_free (host_value);
  g_uri_unref (uri);
  return ok;
}
