/* gst-vss: AWS credentials, region and endpoint, resolved as the SDKs do
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Order, first match wins:
 *   credentials: properties > environment > shared files (profile) >
 *     container credentials > EC2 instance metadata (IMDSv2).
 *     A profile set as a property wins over environment keys, as a profile
 *     passed in code does in the SDKs.
 *   region: property > AWS_REGION > AWS_DEFAULT_REGION > profile `region`.
 *   endpoint: property > AWS_ENDPOINT_URL_<SERVICE> > AWS_ENDPOINT_URL >
 *     profile `endpoint_url` > https://<prefix>.<region>.amazonaws.com;
 *     the middle three are skipped when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
 *     (or the profile's ignore_configured_endpoint_urls) is true.
 *
 * Secrets never reach logs or error messages: a source is logged with the
 * last four characters of the key id, and response bodies of credential
 * endpoints are never quoted.
 *
 * Locking: `lock` guards `cached` and `last_attempt`. It is held during a
 * container/IMDS fetch on purpose, so that threads needing credentials at
 * the same moment wait for one fetch instead of each sending their own. It
 * is a leaf lock.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <jansson.h>
#include <gst/gst.h>
#include "gstvssawscred.h"
#include "gstvssawsini.h"
#include "gstvssawshttp.h"

GST_DEBUG_CATEGORY_STATIC (vss_aws_debug);
#define GST_CAT_DEFAULT vss_aws_debug

#define DEFAULT_TIMEOUT_MS 1000
#define DEFAULT_MARGIN_S 300
#define RETRY_MIN_S 5
#define CONTAINER_HOST "http://169.254.170.2"
#define IMDS_HOST_V4 "http://169.254.169.254"
#define IMDS_HOST_V6 "http://[fd00:ec2::254]"

struct _GstVssAwsConfig
{
  gchar *region;
  gchar *endpoint;
  const gchar *source;
  guint timeout_ms;
  guint margin_s;

  gchar *container_url;
  gchar *container_token;       /* secret */
  gchar *container_token_file;
  gchar *imds_endpoint;

  GMutex lock;
  GstVssAwsCredentials *cached;
  gint64 last_attempt;
};

G_DEFINE_QUARK (gst - vss - aws - error - quark, gst_vss_aws_error);

static void
wipe_free (gchar * s)
{
  if (s) {
    memset (s, 0, strlen (s));
    g_free (s);
  }
}

GstVssAwsCredentials *
gst_vss_aws_credentials_copy (const GstVssAwsCredentials * c)
{
  GstVssAwsCredentials *n = g_new0 (GstVssAwsCredentials, 1);

  n->access_key_id = g_strdup (c->access_key_id);
  n->secret_access_key = g_strdup (c->secret_access_key);
  n->session_token = g_strdup (c->session_token);
  n->expiration = c->expiration;
  n->source = c->source;
  return n;
}

void
gst_vss_aws_credentials_free (GstVssAwsCredentials * c)
{
  if (!c)
    return;
  g_free (c->access_key_id);
  wipe_free (c->secret_access_key);
  wipe_free (c->session_token);
  g_free (c);
}

gchar *
gst_vss_aws_mask_key_id (const gchar * id)
{
  gsize n = id ? strlen (id) : 0;

  /* Key ids are not secret, but short ones are masked whole anyway. */
  if (n < 12)
    return g_strdup ("****");
  return g_strdup_printf ("****%s", id + n - 4);
}

static gboolean
env_true (const gchar * name)
{
  const gchar *v = g_getenv (name);

  return v && g_ascii_strcasecmp (v, "true") == 0;
}

static const gchar *
env_nonempty (const gchar * name)
{
  const gchar *v = g_getenv (name);

  return v && v[0] ? v : NULL;
}

static gchar *
shared_file_path (const gchar * env, const gchar * leaf)
{
  const gchar *v = env_nonempty (env);

  if (v && g_str_has_prefix (v, "~/"))
    return g_build_filename (g_get_home_dir (), v + 2, NULL);
  if (v)
    return g_strdup (v);
  return g_build_filename (g_get_home_dir (), ".aws", leaf, NULL);
}

static gboolean
load_ini (const gchar * path, GHashTable ** out, GError ** error)
{
  GError *err = NULL;

  *out = gst_vss_aws_ini_load (path, &err);
  if (*out || g_error_matches (err, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
    g_clear_error (&err);
    return TRUE;
  }
  g_set_error (error, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_CONFIG,
      "Cannot read AWS file %s: %s", path, err->message);
  g_error_free (err);
  return FALSE;
}

static const gchar *
section_get (GHashTable * a, GHashTable * b, const gchar * key)
{
  const gchar *v = a ? g_hash_table_lookup (a, key) : NULL;

  if (!v && b)
    v = g_hash_table_lookup (b, key);
  return v && v[0] ? v : NULL;
}

static gboolean
valid_region (const gchar * r)
{
  const gchar *p;

  for (p = r; *p; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && *p != '-')
      return FALSE;
  return r[0] != '\0';
}

static gchar *
strip_slash (const gchar * url)
{
  gchar *s = g_strdup (url);
  gsize n = strlen (s);

  while (n > 0 && s[n - 1] == '/')
    s[--n] = '\0';
  return s;
}

static void
set_static (GstVssAwsConfig * cfg, const gchar * source, const gchar * ak,
    const gchar * sk, const gchar * token)
{
  GstVssAwsCredentials *c = g_new0 (GstVssAwsCredentials, 1);

  c->access_key_id = g_strdup (ak);
  c->secret_access_key = g_strdup (sk);
  c->session_token = token && token[0] ? g_strdup (token) : NULL;
  c->source = source;
  cfg->cached = c;
  cfg->source = source;
}

static gboolean
http_url_allowed (const gchar * url)
{
  static const gchar *hosts[] = { "127.0.0.1", "localhost", "::1",
    "169.254.170.2", "169.254.170.23", "fd00:ec2::23", NULL
  };
  GUri *u = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  gboolean ok = FALSE;

  if (!u)
    return FALSE;
  if (g_strcmp0 (g_uri_get_scheme (u), "https") == 0)
    ok = TRUE;
  else if (g_strcmp0 (g_uri_get_scheme (u), "http") == 0)
    ok = g_strv_contains (hosts, g_uri_get_host (u))
        || g_str_has_prefix (g_uri_get_host (u), "127.");
  g_uri_unref (u);
  return ok;
}

/* Returns FALSE with an error only for broken settings; otherwise picks a
 * source in cfg (or none). */
static gboolean
choose_credentials (GstVssAwsConfig * cfg, const GstVssAwsSettings * s,
    const gchar * profile, GHashTable * cred_sec,
    GHashTable * conf_sec, GError ** error)
{
  const gchar *ak, *sk, *rel, *full;

  if ((s->access_key_id != NULL) != (s->secret_access_key != NULL)) {
    g_set_error (error, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_CONFIG,
        "Set both the access key id and the secret access key, or neither");
    return FALSE;
  }
  if (s->access_key_id) {
    set_static (cfg, "properties", s->access_key_id, s->secret_access_key,
        s->session_token);
    return TRUE;
  }

  ak = env_nonempty ("AWS_ACCESS_KEY_ID");
  sk = env_nonempty ("AWS_SECRET_ACCESS_KEY");
  if (!s->profile && ak && sk) {
    set_static (cfg, "environment", ak, sk, g_getenv ("AWS_SESSION_TOKEN"));
    return TRUE;
  }
  if (!s->profile && (ak || sk))
    GST_WARNING ("Only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is "
        "set; ignoring them");

  ak = section_get (cred_sec, conf_sec, "aws_access_key_id");
  sk = section_get (cred_sec, conf_sec, "aws_secret_access_key");
  if (ak && sk) {
    set_static (cfg, "profile", ak, sk, section_get (cred_sec, conf_sec,
            "aws_session_token"));
    return TRUE;
  }
  if (ak || sk) {
    g_set_error (error, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_CONFIG,
        "AWS profile '%s' has only one of aws_access_key_id and "
        "aws_secret_access_key", profile);
    return FALSE;
  }
  {
    static const gchar *unsupported[] = { "role_arn", "credential_process",
      "sso_session", "sso_start_url", "web_identity_token_file", NULL
    };
    guint i;

    for (i = 0; unsupported[i]; i++) {
      if (section_get (cred_sec, conf_sec, unsupported[i])) {
        g_set_error (error, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_CONFIG,
            "AWS profile '%s' uses %s, which gst-vss does not support; use "
            "static keys, container credentials or an instance role",
            profile, unsupported[i]);
        return FALSE;
      }
    }
  }

  rel = env_nonempty ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  full = env_nonempty ("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  if (rel) {
    gchar *base = strip_slash (s->container_base_url ? s->container_base_url :
        CONTAINER_HOST);

    cfg->container_url = g_strconcat (base, rel[0] == '/' ? "" : "/", rel,
        NULL);
    g_free (base);
  } else if (full) {
    if (!http_url_allowed (full)) {
      g_set_error (error, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_CONFIG,
          "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to a "
          "loopback or ECS/EKS link-local address");
      return FALSE;
    }
    cfg->container_url = g_strdup (full);
  }
  if (cfg->container_url) {
    cfg->container_token_file =
        g_strdup (env_nonempty ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"));
    cfg->container_token =
        g_strdup (env_nonempty ("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
    cfg->source = "container";
    return TRUE;
  }

  if (!env_true ("AWS_EC2_METADATA_DISABLED")) {
    const gchar *ep = env_nonempty ("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    const gchar *mode = env_nonempty ("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");

    if (!ep)
      ep = mode && g_ascii_strcasecmp (mode, "IPv6") == 0 ? IMDS_HOST_V6 :
          IMDS_HOST_V4;
    cfg->imds_endpoint = strip_slash (ep);
    cfg->source = "imds";
  }
  return TRUE;
}

static gboolean
choose_endpoint (GstVssAwsConfig * cfg, const GstVssAwsSettings * s,
    GHashTable * conf_sec)
{
  const gchar *id = s->service_env_id ? s->service_env_id : "BEDROCK_RUNTIME";
  const gchar *prefix = s->endpoint_prefix ? s->endpoint_prefix :
      "bedrock-runtime";
  const gchar *v = NULL, *ign;
  gboolean ignore = env_true ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");

  ign = section_get (conf_sec, NULL, "ignore_configured_endpoint_urls");
  if (ign && g_ascii_strcasecmp (ign, "true") == 0)
    ignore = TRUE;

  if (s->endpoint_url && s->endpoint_url[0]) {
    v = s->endpoint_url;
  } else if (!ignore) {
    gchar *name = g_strconcat ("AWS_ENDPOINT_URL_", id, NULL);

    v = env_nonempty (name);
    g_free (name);
    if (!v)
      v = env_nonempty ("AWS_ENDPOINT_URL");
    if (!v)
      v = section_get (conf_sec, NULL, "endpoint_url");
  }
  if (v) {
    cfg->endpoint = strip_slash (v);
  } else {
    cfg->endpoint = g_strdup_printf ("https://%s.%s.amazonaws.com%s", prefix,
        cfg->region, g_str_has_prefix (cfg->region, "cn-") ? ".cn" : "");
  }
  return TRUE;
}

static gpointer
init_debug (gpointer unused)
{
  GST_DEBUG_CATEGORY_INIT (vss_aws_debug, "vssaws", 0,
      "gst-vss AWS credentials");
  return NULL;
}

GstVssAwsConfig *
gst_vss_aws_config_new (const GstVssAwsSettings * s, GError ** error)
{
  static const GstVssAwsSettings none = { 0, };
  static GOnce debug_once = G_ONCE_INIT;
  GstVssAwsConfig *cfg;
  GHashTable *cred_ini = NULL, *conf_ini = NULL, *cred_sec, *conf_sec;
  gchar *cred_path, *conf_path;
  const gchar *profile, *region;
  gboolean explicit_profile, ok = FALSE;

  g_once (&debug_once, init_debug, NULL);
  if (!s)
    s = &none;

  cfg = g_new0 (GstVssAwsConfig, 1);
  g_mutex_init (&cfg->lock);
  cfg->timeout_ms = s->http_timeout_ms ? s->http_timeout_ms :
      DEFAULT_TIMEOUT_MS;
  cfg->margin_s = s->refresh_margin_s ? s->refresh_margin_s : DEFAULT_MARGIN_S;

  profile = s->profile ? s->profile : env_nonempty ("AWS_PROFILE");
  explicit_profile = profile != NULL;
  if (!profile)
    profile = "default";
  cred_path = shared_file_path ("AWS_SHARED_CREDENTIALS_FILE", "credentials");
  conf_path = shared_file_path ("AWS_CONFIG_FILE", "config");
  if (!load_ini (cred_path, &cred_ini, error)
      || !load_ini (conf_path, &conf_ini, error))
    goto out;
  cred_sec = gst_vss_aws_ini_profile (cred_ini, profile, FALSE);
  conf_sec = gst_vss_aws_ini_profile (conf_ini, profile, TRUE);
  if (explicit_profile && !cred_sec && !conf_sec) {
    g_set_error (error, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_CONFIG,
        "AWS profile '%s' not found in %s or %s", profile, cred_path,
        conf_path);
    goto out;
  }

  region = s->region;
  if (!region || !region[0])
    region = env_nonempty ("AWS_REGION");
  if (!region)
    region = env_nonempty ("AWS_DEFAULT_REGION");
  if (!region)
    region = section_get (conf_sec, cred_sec, "region");
  if (!region) {
    g_set_error (error, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_NO_REGION,
        "No AWS region: set the region property, AWS_REGION, or `region` in "
        "profile '%s' of %s", profile, conf_path);
    goto out;
  }
  if (!valid_region (region)) {
    g_set_error (error, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_CONFIG,
        "Invalid AWS region '%s'", region);
    goto out;
  }
  cfg->region = g_strdup (region);

  if (!choose_credentials (cfg, s, profile, cred_sec, conf_sec, error))
    goto out;
  choose_endpoint (cfg, s, conf_sec);
  ok = TRUE;

  if (cfg->cached) {
    gchar *masked = gst_vss_aws_mask_key_id (cfg->cached->access_key_id);

    GST_INFO ("AWS credentials from %s (profile '%s'), key id %s, region %s, "
        "endpoint %s", cfg->source, profile, masked, cfg->region,
        cfg->endpoint);
    g_free (masked);
  } else {
    GST_INFO ("AWS credentials from %s (fetched on first use), region %s, "
        "endpoint %s", cfg->source ? cfg->source : "nowhere", cfg->region,
        cfg->endpoint);
  }

out:
  if (cred_ini)
    g_hash_table_unref (cred_ini);
  if (conf_ini)
    g_hash_table_unref (conf_ini);
  g_free (cred_path);
  g_free (conf_path);
  if (!ok) {
    gst_vss_aws_config_free (cfg);
    return NULL;
  }
  return cfg;
}

void
gst_vss_aws_config_free (GstVssAwsConfig * cfg)
{
  if (!cfg)
    return;
  gst_vss_aws_credentials_free (cfg->cached);
  g_free (cfg->region);
  g_free (cfg->endpoint);
  g_free (cfg->container_url);
  wipe_free (cfg->container_token);
  g_free (cfg->container_token_file);
  g_free (cfg->imds_endpoint);
  g_mutex_clear (&cfg->lock);
  g_free (cfg);
}

const gchar *
gst_vss_aws_config_get_region (GstVssAwsConfig * cfg)
{
  return cfg->region;
}

const gchar *
gst_vss_aws_config_get_endpoint (GstVssAwsConfig * cfg)
{
  return cfg->endpoint;
}

const gchar *
gst_vss_aws_config_get_source (GstVssAwsConfig * cfg)
{
  return cfg->source;
}

static GstVssAwsCredentials *
parse_credentials (const gchar * body, const gchar * source, GError ** error)
{
  json_t *o = json_loads (body, 0, NULL);
  const gchar *ak, *sk, *tok, *exp, *code;
  GstVssAwsCredentials *c = NULL;

  /* Never quote the body: it holds the secret. */
  if (!json_is_object (o)) {
    g_set_error (error, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_FETCH,
        "%s credentials: the response is not a JSON object", source);
    goto out;
  }
  code = json_string_value (json_object_get (o, "Code"));
  if (code && strcmp (code, "Success") != 0) {
    g_set_error (error, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_FETCH,
        "%s credentials: Code is not Success", source);
    goto out;
  }
  ak = json_string_value (json_object_get (o, "AccessKeyId"));
  sk = json_string_value (json_object_get (o, "SecretAccessKey"));
  tok = json_string_value (json_object_get (o, "Token"));
  exp = json_string_value (json_object_get (o, "Expiration"));
  if (!ak || !sk || !ak[0] || !sk[0]) {
    g_set_error (error, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_FETCH,
        "%s credentials: AccessKeyId or SecretAccessKey missing", source);
    goto out;
  }
  c = g_new0 (GstVssAwsCredentials, 1);
  c->access_key_id = g_strdup (ak);
  c->secret_access_key = g_strdup (sk);
  c->session_token = tok && tok[0] ? g_strdup (tok) : NULL;
  c->source = source;
  if (exp) {
    GTimeZone *utc = g_time_zone_new_utc ();
    GDateTime *dt = g_date_time_new_from_iso8601 (exp, utc);

    g_time_zone_unref (utc);
    if (!dt) {
      gst_vss_aws_credentials_free (c);
      c = NULL;
      g_set_error (error, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_FETCH,
          "%s credentials: Expiration is not an ISO 8601 time", source);
      goto out;
    }
    c->expiration = g_date_time_to_unix (dt);
    g_date_time_unref (dt);
  }

out:
  if (o) {
    /* jansson keeps its own copies of the strings; nothing to wipe that we
     * can reach, but drop them at once. */
    json_decref (o);
  }
  return c;
}

static gboolean
fetch (GstVssAwsConfig * cfg, const gchar * method, const gchar * url,
    const gchar * const *headers, const gchar * what, gchar ** body,
    GError ** error)
{
  glong status = 0;
  GError *err = NULL;

  if (!gst_vss_aws_http_simple (method, url, headers, cfg->timeout_ms, &status,
          body, &err)) {
    g_set_error (error, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_FETCH,
        "%s: %s", what, err->message);
    g_error_free (err);
    return FALSE;
  }
  if (status != 200) {
    g_set_error (error, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_FETCH,
        "%s: HTTP %ld from %s", what, status, url);
    wipe_free (*body);
    *body = NULL;
    return FALSE;
  }
  return TRUE;
}

static GstVssAwsCredentials *
fetch_container (GstVssAwsConfig * cfg, GError ** error)
{
  gchar *token = NULL, *body = NULL, *hdr = NULL;
  const gchar *headers[2] = { NULL, NULL };
  GstVssAwsCredentials *c = NULL;

  if (cfg->container_token_file) {
    GError *err = NULL;

    if (!g_file_get_contents (cfg->container_token_file, &token, NULL, &err)) {
      g_set_error (error, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_CONFIG,
          "Cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: %s",
          err->message);
      g_error_free (err);
      return NULL;
    }
    g_strstrip (token);
  } else if (cfg->container_token) {
    token = g_strdup (cfg->container_token);
  }
  if (token && strpbrk (token, "\r\n")) {
    g_set_error (error, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_CONFIG,
        "The container authorization token contains a line break");
    goto out;
  }
  if (token) {
    hdr = g_strconcat ("Authorization: ", token, NULL);
    headers[0] = hdr;
  }
  if (fetch (cfg, "GET", cfg->container_url, headers,
          "Container credentials", &body, error))
    c = parse_credentials (body, "container", error);

out:
  wipe_free (body);
  wipe_free (hdr);
  wipe_free (token);
  return c;
}

static GstVssAwsCredentials *
fetch_imds (GstVssAwsConfig * cfg, GError ** error)
{
  const gchar *ttl[] = { "X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL };
  const gchar *auth[] = { NULL, NULL };
  gchar *url, *token = NULL, *hdr = NULL, *roles = NULL, *role, *body = NULL;
  GstVssAwsCredentials *c = NULL;

  url = g_strconcat (cfg->imds_endpoint, "/latest/api/token", NULL);
  if (!fetch (cfg, "PUT", url, ttl, "EC2 metadata token (IMDSv2)", &token,
          error))
    goto out;
  g_strstrip (token);
  if (!token[0] || strpbrk (token, "\r\n")) {
    g_set_error (error, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_FETCH,
        "EC2 metadata token (IMDSv2): empty or malformed token");
    goto out;
  }
  hdr = g_strconcat ("X-aws-ec2-metadata-token: ", token, NULL);
  auth[0] = hdr;
  g_free (url);
  url = g_strconcat (cfg->imds_endpoint,
      "/latest/meta-data/iam/security-credentials/", NULL);
  if (!fetch (cfg, "GET", url, auth, "EC2 instance role", &roles, error))
    goto out;
  role = g_strstrip (roles);
  if (strchr (role, '\n'))
    *strchr (role, '\n') = '\0';
  g_strstrip (role);
  if (!role[0] || strchr (role, '/') || strchr (role, '?')) {
    g_set_error (error, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_FETCH,
        "EC2 instance role: no usable IAM role attached to the instance");
    goto out;
  }
  g_free (url);
  url = g_strconcat (cfg->imds_endpoint,
      "/latest/meta-data/iam/security-credentials/", role, NULL);
  if (fetch (cfg, "GET", url, auth, "EC2 instance role credentials", &body,
          error))
    c = parse_credentials (body, "imds", error);

out:
  g_free (url);
  wipe_free (token);
  wipe_free (hdr);
  g_free (roles);
  wipe_free (body);
  return c;
}

static gboolean
needs_refresh (GstVssAwsConfig * cfg, gint64 now)
{
  GstVssAwsCredentials *c = cfg->cached;

  if (!c)
    return TRUE;
  if (c->expiration == 0)
    return FALSE;
  if (now < c->expiration - (gint64) cfg->margin_s)
    return FALSE;
  /* Inside the margin but still valid: do not hammer a failing endpoint. */
  if (now < c->expiration && now - cfg->last_attempt < RETRY_MIN_S)
    return FALSE;
  return TRUE;
}

GstVssAwsCredentials *
gst_vss_aws_config_get_credentials_at (GstVssAwsConfig * cfg, gint64 now,
    GError ** error)
{
  GstVssAwsCredentials *fresh = NULL, *out = NULL;
  GError *err = NULL;

  g_mutex_lock (&cfg->lock);
  if (!needs_refresh (cfg, now)) {
    out = gst_vss_aws_credentials_copy (cfg->cached);
    goto done;
  }
  if (!cfg->source) {
    g_set_error (error, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_NO_CREDENTIALS,
        "No AWS credentials: set the access-key/secret-key properties, "
        "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, or container "
        "credentials (EC2 metadata is disabled)");
    goto done;
  }

  cfg->last_attempt = now;
  if (cfg->container_url)
    fresh = fetch_container (cfg, &err);
  else if (cfg->imds_endpoint)
    fresh = fetch_imds (cfg, &err);

  if (fresh) {
    gchar *masked = gst_vss_aws_mask_key_id (fresh->access_key_id);

    GST_INFO ("AWS credentials %s from %s, key id %s, expire in %"
        G_GINT64_FORMAT " s", cfg->cached ? "refreshed" : "fetched",
        fresh->source, masked, fresh->expiration ? fresh->expiration - now : 0);
    g_free (masked);
    gst_vss_aws_credentials_free (cfg->cached);
    cfg->cached = fresh;
    out = gst_vss_aws_credentials_copy (fresh);
  } else if (cfg->cached && now < cfg->cached->expiration) {
    GST_WARNING ("AWS credentials refresh failed, keeping the current ones "
        "until they expire: %s", err ? err->message : "?");
    out = gst_vss_aws_credentials_copy (cfg->cached);
  } else {
    GST_WARNING ("AWS credentials from %s failed: %s", cfg->source,
        err ? err->message : "?");
    g_set_error (error, GST_VSS_AWS_ERROR, err ? err->code :
        GST_VSS_AWS_ERROR_NO_CREDENTIALS, "No AWS credentials from %s: %s",
        cfg->source, err ? err->message : "unknown error");
  }
  g_clear_error (&err);

done:
  g_mutex_unlock (&cfg->lock);
  return out;
}

GstVssAwsCredentials *
gst_vss_aws_config_get_credentials (GstVssAwsConfig * cfg, GError ** error)
{
  return gst_vss_aws_config_get_credentials_at (cfg,
      g_get_real_time () / G_USEC_PER_SEC, error);
}

void
gst_vss_aws_config_invalidate (GstVssAwsConfig * cfg)
{
  g_mutex_lock (&cfg->lock);
  /* Static keys cannot be fetched again; only temporary ones are dropped. */
  if (cfg->cached && (cfg->container_url || cfg->imds_endpoint)) {
    gst_vss_aws_credentials_free (cfg->cached);
    cfg->cached = NULL;
  }
  g_mutex_unlock (&cfg->lock);
}
