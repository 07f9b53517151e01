/* gst-vss test servers: container credentials and EC2 IMDSv2 on loopback
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Settings are written before the first request and only read afterwards;
 * counters are atomics, so no lock is needed.
 */
#include <string.h>
#include <stdlib.h>
#include <jansson.h>
#include "vssmetadata.h"

gchar *
vss_metadata_key_id (gint generation)
{
  return g_strdup_printf ("ASIAVSSMETADATA%05d", generation);
}

gchar *
vss_metadata_secret (gint generation)
{
  return g_strdup_printf ("tmpSecret/%d+wJalrXUtnFEMIK7MDENGbPxRfiCY",
      generation);
}

gchar *
vss_metadata_token (gint generation)
{
  return g_strdup_printf ("IQoJb3JpZ2luX2VjEHsessiontoken%d//+AAA==",
      generation);
}

static void
credentials_reply (VssMetadataServer * m, VssHttpResponse * resp)
{
  gint gen = g_atomic_int_add (&m->cred_gets, 1) + 1;
  GDateTime *exp = g_date_time_new_from_unix_utc (g_get_real_time () /
      G_USEC_PER_SEC + m->lifetime_s);
  gchar *iso = g_date_time_format (exp, "%Y-%m-%dT%H:%M:%SZ");
  gchar *ak = vss_metadata_key_id (gen), *sk = vss_metadata_secret (gen),
      *tok = vss_metadata_token (gen);
  json_t *o = json_pack ("{s:s,s:s,s:s,s:s,s:s,s:s}", "Code", "Success",
      "Type", "AWS-HMAC", "AccessKeyId", ak, "SecretAccessKey", sk, "Token",
      tok, "Expiration", iso);
  gchar *s = json_dumps (o, JSON_COMPACT);

  if (m->malformed)
    vss_http_response_set_json (resp, 200, "{\"AccessKeyId\": \"x\", ");
  else
    vss_http_response_set_json (resp, 200, s);
  free (s);
  json_decref (o);
  g_free (ak);
  g_free (sk);
  g_free (tok);
  g_free (iso);
  g_date_time_unref (exp);
}

static void
handle (VssHttpd * httpd, const VssHttpRequest * req, VssHttpResponse * resp,
    gpointer user_data)
{
  VssMetadataServer *m = user_data;
  const gchar *creds = "/latest/meta-data/iam/security-credentials/";

  g_atomic_int_inc (&m->requests);
  if (m->kind == VSS_METADATA_CONTAINER) {
    const gchar *auth = vss_http_request_header (req, "Authorization");

    if (strcmp (req->method, "GET") != 0
        || strcmp (req->path, m->container_path) != 0) {
      resp->status = 404;
      return;
    }
    if (m->auth_token && g_strcmp0 (auth, m->auth_token) != 0) {
      g_atomic_int_inc (&m->rejected);
      vss_http_response_set_json (resp, 403,
          "{\"message\":\"bad authorization\"}");
      return;
    }
    credentials_reply (m, resp);
    return;
  }

  if (strcmp (req->path, "/latest/api/token") == 0) {
    if (strcmp (req->method, "PUT") != 0
        || !vss_http_request_header (req,
            "X-aws-ec2-metadata-token-ttl-seconds")) {
      g_atomic_int_inc (&m->rejected);
      resp->status = strcmp (req->method, "PUT") ? 405 : 400;
      return;
    }
    g_atomic_int_inc (&m->token_puts);
    g_string_assign (resp->body, VSS_METADATA_IMDS_SESSION);
    return;
  }
  if (g_strcmp0 (vss_http_request_header (req, "X-aws-ec2-metadata-token"),
          VSS_METADATA_IMDS_SESSION) != 0) {
    /* IMDSv1-style requests are refused, as on an instance that requires
     * v2. */
    g_atomic_int_inc (&m->rejected);
    resp->status = 401;
    return;
  }
  if (strcmp (req->path, creds) == 0) {
    g_atomic_int_inc (&m->role_lists);
    g_string_printf (resp->body, "%s\n", m->role);
    return;
  }
  if (g_str_has_prefix (req->path, creds)
      && strcmp (req->path + strlen (creds), m->role) == 0) {
    credentials_reply (m, resp);
    return;
  }
  resp->status = 404;
}

VssMetadataServer *
vss_metadata_server_new (VssMetadataKind kind, GError ** error)
{
  VssMetadataServer *m = g_new0 (VssMetadataServer, 1);

  m->kind = kind;
  m->container_path = g_strdup ("/v2/credentials/vss-task");
  m->role = g_strdup ("vss-instance-role");
  m->lifetime_s = 3600;
  m->httpd = vss_httpd_new (0, handle, m, error);
  if (!m->httpd) {
    vss_metadata_server_free (m);
    return NULL;
  }
  m->port = vss_httpd_get_port (m->httpd);
  return m;
}

void
vss_metadata_server_free (VssMetadataServer * m)
{
  if (!m)
    return;
  vss_httpd_free (m->httpd);
  g_free (m->container_path);
  g_free (m->auth_token);
  g_free (m->role);
  g_free (m);
}
