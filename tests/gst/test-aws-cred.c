/* gst-vss: AWS credentials, region and endpoint resolution
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every source of the chain against loopback servers (container
 * credentials, IMDSv2) or files in a temporary folder. Each test starts
 * from an environment without AWS_* variables and with instance metadata
 * disabled, so nothing ever tries 169.254.169.254.
 */
#include <string.h>
#include <gst/gst.h>
#include <glib/gstdio.h>
#include "aws/gstvssawscred.h"
#include "vssmetadata.h"

#define ENV_AK "AKIAENVIRONMENT00001"
#define ENV_SK "envSecret/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define ENV_TOKEN "envToken//sessionAAAA=="
#define PROP_AK "AKIAPROPERTIES000001"
#define PROP_SK "propSecret/xyzzy+abcdefghijklmnopqr"
#define DEF_AK "AKIAPROFILEDEFAULT01"
#define DEF_SK "profDefaultSecret/0123456789abcdefgh"
#define DEV_AK "AKIAPROFILEDEV000001"
#define DEV_SK "profDevSecret/0123456789abcdefghijkl"
#define DEV_TOKEN "profDevToken/ZZZZ=="
#define CONTAINER_AUTH "container-auth-token-s3cr3t"

static gchar *tmpdir;
static gchar *cred_file, *conf_file;

static void
clear_env (void)
{
  gchar **env = g_listenv ();
  guint i;

  for (i = 0; env[i]; i++)
    if (g_str_has_prefix (env[i], "AWS_"))
      g_unsetenv (env[i]);
  g_strfreev (env);
  g_setenv ("AWS_SHARED_CREDENTIALS_FILE", cred_file, TRUE);
  g_setenv ("AWS_CONFIG_FILE", conf_file, TRUE);
  g_setenv ("AWS_EC2_METADATA_DISABLED", "true", TRUE);
  g_unlink (cred_file);
  g_unlink (conf_file);
}

static void
write_file (const gchar * path, const gchar * text)
{
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
}

static void
write_profiles (void)
{
  write_file (cred_file,
      "# shared credentials\n"
      "[default]\n"
      "aws_access_key_id = " DEF_AK "\n"
      "aws_secret_access_key = " DEF_SK "\n"
      "\n"
      "[dev]\n"
      "aws_access_key_id=" DEV_AK "\n"
      "aws_secret_access_key=" DEV_SK "\n"
      "aws_session_token = " DEV_TOKEN "\n"
      "[assume]\n" "region = ap-south-1\n");
  write_file (conf_file,
      "[default]\n"
      "region = us-west-2\n"
      "; a comment\n"
      "[profile dev]\n"
      "region = eu-central-1\n"
      "endpoint_url = http://127.0.0.1:1/dev-endpoint/\n"
      "s3 =\n"
      "  addressing_style = path\n"
      "[profile assume]\n"
      "role_arn = arn:aws:iam::123456789012:role/x\n"
      "source_profile = default\n");
}

static GstVssAwsConfig *
config_ok (const GstVssAwsSettings * s)
{
  GError *err = NULL;
  GstVssAwsConfig *cfg = gst_vss_aws_config_new (s, &err);

  g_assert_no_error (err);
  g_assert_nonnull (cfg);
  return cfg;
}

static GstVssAwsCredentials *
creds_ok (GstVssAwsConfig * cfg)
{
  GError *err = NULL;
  GstVssAwsCredentials *c = gst_vss_aws_config_get_credentials (cfg, &err);

  g_assert_no_error (err);
  g_assert_nonnull (c);
  return c;
}

static void
test_properties_and_env (void)
{
  GstVssAwsSettings s = { 0, };
  GstVssAwsConfig *cfg;
  GstVssAwsCredentials *c;
  GError *err = NULL;

  clear_env ();
  write_profiles ();
  g_setenv ("AWS_ACCESS_KEY_ID", ENV_AK, TRUE);
  g_setenv ("AWS_SECRET_ACCESS_KEY", ENV_SK, TRUE);
  g_setenv ("AWS_SESSION_TOKEN", ENV_TOKEN, TRUE);

  /* Environment beats the default profile. */
  cfg = config_ok (&s);
  c = creds_ok (cfg);
  g_assert_cmpstr (c->source, ==, "environment");
  g_assert_cmpstr (c->access_key_id, ==, ENV_AK);
  g_assert_cmpstr (c->secret_access_key, ==, ENV_SK);
  g_assert_cmpstr (c->session_token, ==, ENV_TOKEN);
  g_assert_cmpint (c->expiration, ==, 0);
  g_assert_cmpstr (gst_vss_aws_config_get_region (cfg), ==, "us-west-2");
  gst_vss_aws_credentials_free (c);
  gst_vss_aws_config_free (cfg);

  /* Properties beat the environment. */
  s.access_key_id = PROP_AK;
  s.secret_access_key = PROP_SK;
  s.region = "sa-east-1";
  cfg = config_ok (&s);
  c = creds_ok (cfg);
  g_assert_cmpstr (c->source, ==, "properties");
  g_assert_cmpstr (c->access_key_id, ==, PROP_AK);
  g_assert_null (c->session_token);
  g_assert_cmpstr (gst_vss_aws_config_get_region (cfg), ==, "sa-east-1");
  gst_vss_aws_credentials_free (c);
  gst_vss_aws_config_free (cfg);

  /* Half a key pair is a configuration error, not a silent fallback. */
  s.secret_access_key = NULL;
  g_assert_null (gst_vss_aws_config_new (&s, &err));
  g_assert_error (err, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_CONFIG);
  g_clear_error (&err);

  /* Region order: AWS_REGION > AWS_DEFAULT_REGION > profile. */
  memset (&s, 0, sizeof (s));
  g_setenv ("AWS_DEFAULT_REGION", "ca-central-1", TRUE);
  cfg = config_ok (&s);
  g_assert_cmpstr (gst_vss_aws_config_get_region (cfg), ==, "ca-central-1");
  gst_vss_aws_config_free (cfg);
  g_setenv ("AWS_REGION", "eu-north-1", TRUE);
  cfg = config_ok (&s);
  g_assert_cmpstr (gst_vss_aws_config_get_region (cfg), ==, "eu-north-1");
  gst_vss_aws_config_free (cfg);
  g_setenv ("AWS_REGION", "bad region/../x", TRUE);
  g_assert_null (gst_vss_aws_config_new (&s, &err));
  g_assert_error (err, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_CONFIG);
  g_clear_error (&err);
}

static void
test_profiles (void)
{
  GstVssAwsSettings s = { 0, };
  GstVssAwsConfig *cfg;
  GstVssAwsCredentials *c;
  GError *err = NULL;

  clear_env ();
  write_profiles ();

  cfg = config_ok (&s);
  c = creds_ok (cfg);
  g_assert_cmpstr (c->source, ==, "profile");
  g_assert_cmpstr (c->access_key_id, ==, DEF_AK);
  g_assert_cmpstr (c->secret_access_key, ==, DEF_SK);
  g_assert_null (c->session_token);
  g_assert_cmpstr (gst_vss_aws_config_get_region (cfg), ==, "us-west-2");
  gst_vss_aws_credentials_free (c);
  gst_vss_aws_config_free (cfg);

  /* AWS_PROFILE picks [dev] in credentials and [profile dev] in config. */
  g_setenv ("AWS_PROFILE", "dev", TRUE);
  cfg = config_ok (&s);
  c = creds_ok (cfg);
  g_assert_cmpstr (c->access_key_id, ==, DEV_AK);
  g_assert_cmpstr (c->session_token, ==, DEV_TOKEN);
  g_assert_cmpstr (gst_vss_aws_config_get_region (cfg), ==, "eu-central-1");
  g_assert_cmpstr (gst_vss_aws_config_get_endpoint (cfg), ==,
      "http://127.0.0.1:1/dev-endpoint");
  gst_vss_aws_credentials_free (c);
  gst_vss_aws_config_free (cfg);

  /* A profile property wins over AWS_PROFILE and over environment keys. */
  g_setenv ("AWS_ACCESS_KEY_ID", ENV_AK, TRUE);
  g_setenv ("AWS_SECRET_ACCESS_KEY", ENV_SK, TRUE);
  g_setenv ("AWS_PROFILE", "nonexistent", TRUE);
  s.profile = "default";
  cfg = config_ok (&s);
  c = creds_ok (cfg);
  g_assert_cmpstr (c->access_key_id, ==, DEF_AK);
  gst_vss_aws_credentials_free (c);
  gst_vss_aws_config_free (cfg);

  /* A named profile that does not exist is an error. */
  g_unsetenv ("AWS_ACCESS_KEY_ID");
  g_unsetenv ("AWS_SECRET_ACCESS_KEY");
  s.profile = NULL;
  g_assert_null (gst_vss_aws_config_new (&s, &err));
  g_assert_error (err, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_CONFIG);
  g_assert_nonnull (strstr (err->message, "nonexistent"));
  g_clear_error (&err);

  /* Role assumption is not supported: said so, not ignored. */
  s.profile = "assume";
  g_assert_null (gst_vss_aws_config_new (&s, &err));
  g_assert_error (err, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_CONFIG);
  g_assert_nonnull (strstr (err->message, "role_arn"));
  g_clear_error (&err);

  /* No files, no env, no metadata: no region, then no credentials. */
  clear_env ();
  s.profile = NULL;
  g_assert_null (gst_vss_aws_config_new (&s, &err));
  g_assert_error (err, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_NO_REGION);
  g_clear_error (&err);
  s.region = "us-east-1";
  cfg = config_ok (&s);
  g_assert_null (gst_vss_aws_config_get_credentials (cfg, &err));
  g_assert_error (err, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_NO_CREDENTIALS);
  g_clear_error (&err);
  gst_vss_aws_config_free (cfg);
}

static void
check_endpoint (const GstVssAwsSettings * s, const gchar * expected)
{
  GstVssAwsConfig *cfg = config_ok (s);

  g_assert_cmpstr (gst_vss_aws_config_get_endpoint (cfg), ==, expected);
  gst_vss_aws_config_free (cfg);
}

static void
test_endpoints (void)
{
  GstVssAwsSettings s = { 0, };

  clear_env ();
  write_profiles ();
  s.access_key_id = PROP_AK;
  s.secret_access_key = PROP_SK;

  check_endpoint (&s, "https://bedrock-runtime.us-west-2.amazonaws.com");
  s.region = "cn-north-1";
  check_endpoint (&s, "https://bedrock-runtime.cn-north-1.amazonaws.com.cn");
  s.region = NULL;
  g_setenv ("AWS_PROFILE", "dev", TRUE);
  check_endpoint (&s, "http://127.0.0.1:1/dev-endpoint");
  g_setenv ("AWS_ENDPOINT_URL", "http://127.0.0.1:2", TRUE);
  check_endpoint (&s, "http://127.0.0.1:2");
  g_setenv ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://127.0.0.1:3/", TRUE);
  check_endpoint (&s, "http://127.0.0.1:3");
  /* Another service's variable does not apply. */
  s.service_env_id = "S3";
  s.endpoint_prefix = "s3";
  check_endpoint (&s, "http://127.0.0.1:2");
  s.service_env_id = NULL;
  s.endpoint_prefix = NULL;
  s.endpoint_url = "http://127.0.0.1:4";
  check_endpoint (&s, "http://127.0.0.1:4");
  s.endpoint_url = NULL;
  g_setenv ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", TRUE);
  check_endpoint (&s, "https://bedrock-runtime.eu-central-1.amazonaws.com");
  /* The property is explicit, so it is never ignored. */
  s.endpoint_url = "http://127.0.0.1:5";
  check_endpoint (&s, "http://127.0.0.1:5");
}

static void
test_container (void)
{
  GstVssAwsSettings s = { 0, };
  VssMetadataServer *m;
  GstVssAwsConfig *cfg;
  GstVssAwsCredentials *c;
  GError *err = NULL;
  gchar *base, *key, *full, *token_file;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  clear_env ();
  m = vss_metadata_server_new (VSS_METADATA_CONTAINER, &err);
  g_assert_no_error (err);
  m->auth_token = g_strdup (CONTAINER_AUTH);
  m->lifetime_s = 900;
  base = g_strdup_printf ("http://127.0.0.1:%u", m->port);

  s.region = "us-east-1";
  s.container_base_url = base;
  g_setenv ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", m->container_path, TRUE);
  g_setenv ("AWS_CONTAINER_AUTHORIZATION_TOKEN", CONTAINER_AUTH, TRUE);
  cfg = config_ok (&s);
  g_assert_cmpstr (gst_vss_aws_config_get_source (cfg), ==, "container");
  g_assert_cmpint (g_atomic_int_get (&m->requests), ==, 0);
  c = creds_ok (cfg);
  key = vss_metadata_key_id (1);
  g_assert_cmpstr (c->source, ==, "container");
  g_assert_cmpstr (c->access_key_id, ==, key);
  g_free (key);
  key = vss_metadata_token (1);
  g_assert_cmpstr (c->session_token, ==, key);
  g_free (key);
  g_assert_cmpint (c->expiration, >=, now + 890);
  g_assert_cmpint (c->expiration, <=, now + 910);
  gst_vss_aws_credentials_free (c);
  /* Cached while far from expiry. */
  c = creds_ok (cfg);
  gst_vss_aws_credentials_free (c);
  g_assert_cmpint (g_atomic_int_get (&m->cred_gets), ==, 1);
  gst_vss_aws_config_free (cfg);

  /* Wrong authorization token: a fetch error that does not quote it. */
  g_setenv ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong-token", TRUE);
  cfg = config_ok (&s);
  g_assert_null (gst_vss_aws_config_get_credentials (cfg, &err));
  g_assert_error (err, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_FETCH);
  g_assert_null (strstr (err->message, "wrong-token"));
  g_clear_error (&err);
  gst_vss_aws_config_free (cfg);
  g_assert_cmpint (g_atomic_int_get (&m->rejected), ==, 1);

  /* FULL_URI with the token in a file (the file wins over the variable). */
  g_unsetenv ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  full = g_strconcat (base, m->container_path, NULL);
  g_setenv ("AWS_CONTAINER_CREDENTIALS_FULL_URI", full, TRUE);
  token_file = g_build_filename (tmpdir, "token", NULL);
  write_file (token_file, CONTAINER_AUTH "\n");
  g_setenv ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file, TRUE);
  s.container_base_url = NULL;
  cfg = config_ok (&s);
  c = creds_ok (cfg);
  key = vss_metadata_key_id (2);
  g_assert_cmpstr (c->access_key_id, ==, key);
  g_free (key);
  gst_vss_aws_credentials_free (c);
  gst_vss_aws_config_free (cfg);

  /* Plain http to a remote host is refused before any request. */
  g_setenv ("AWS_CONTAINER_CREDENTIALS_FULL_URI",
      "http://credentials.example.com/creds", TRUE);
  g_assert_null (gst_vss_aws_config_new (&s, &err));
  g_assert_error (err, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_CONFIG);
  g_clear_error (&err);

  /* Malformed document. */
  g_setenv ("AWS_CONTAINER_CREDENTIALS_FULL_URI", full, TRUE);
  m->malformed = TRUE;
  cfg = config_ok (&s);
  g_assert_null (gst_vss_aws_config_get_credentials (cfg, &err));
  g_assert_error (err, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_FETCH);
  g_clear_error (&err);
  gst_vss_aws_config_free (cfg);

  vss_metadata_server_free (m);
  g_unlink (token_file);
  g_free (token_file);
  g_free (full);
  g_free (base);
}

static void
test_imds (void)
{
  GstVssAwsSettings s = { 0, };
  VssMetadataServer *m;
  GstVssAwsConfig *cfg;
  GstVssAwsCredentials *c;
  GError *err = NULL;
  gchar *ep, *k1, *k2, *k3;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC, exp;

  clear_env ();
  m = vss_metadata_server_new (VSS_METADATA_IMDS, &err);
  g_assert_no_error (err);
  m->lifetime_s = 3600;
  ep = g_strdup_printf ("http://127.0.0.1:%u/", m->port);
  s.region = "us-east-1";

  /* Disabled: no request at all. */
  g_setenv ("AWS_EC2_METADATA_SERVICE_ENDPOINT", ep, TRUE);
  cfg = config_ok (&s);
  g_assert_null (gst_vss_aws_config_get_credentials (cfg, &err));
  g_assert_error (err, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_NO_CREDENTIALS);
  g_clear_error (&err);
  gst_vss_aws_config_free (cfg);
  g_assert_cmpint (g_atomic_int_get (&m->requests), ==, 0);

  g_unsetenv ("AWS_EC2_METADATA_DISABLED");
  cfg = config_ok (&s);
  g_assert_cmpstr (gst_vss_aws_config_get_source (cfg), ==, "imds");
  c = gst_vss_aws_config_get_credentials_at (cfg, now, &err);
  g_assert_no_error (err);
  k1 = vss_metadata_key_id (1);
  g_assert_cmpstr (c->access_key_id, ==, k1);
  g_assert_cmpstr (c->source, ==, "imds");
  exp = c->expiration;
  g_assert_cmpint (exp, >=, now + 3590);
  gst_vss_aws_credentials_free (c);
  /* v2 flow: token PUT, role list, role credentials; v1 never tried. */
  g_assert_cmpint (g_atomic_int_get (&m->token_puts), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&m->role_lists), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&m->cred_gets), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&m->rejected), ==, 0);

  /* More than 5 minutes before expiry: cached. */
  c = gst_vss_aws_config_get_credentials_at (cfg, exp - 301, &err);
  g_assert_cmpstr (c->access_key_id, ==, k1);
  gst_vss_aws_credentials_free (c);
  g_assert_cmpint (g_atomic_int_get (&m->cred_gets), ==, 1);

  /* Within 5 minutes of expiry: refreshed before it expires. */
  c = gst_vss_aws_config_get_credentials_at (cfg, exp - 299, &err);
  g_assert_no_error (err);
  k2 = vss_metadata_key_id (2);
  g_assert_cmpstr (c->access_key_id, ==, k2);
  gst_vss_aws_credentials_free (c);
  g_assert_cmpint (g_atomic_int_get (&m->cred_gets), ==, 2);
  g_assert_cmpint (g_atomic_int_get (&m->token_puts), ==, 2);

  /* invalidate() forces a new fetch (e.g. after ExpiredTokenException). */
  gst_vss_aws_config_invalidate (cfg);
  c = gst_vss_aws_config_get_credentials_at (cfg, now, &err);
  k3 = vss_metadata_key_id (3);
  g_assert_cmpstr (c->access_key_id, ==, k3);
  exp = c->expiration;
  gst_vss_aws_credentials_free (c);

  /* The endpoint goes away: still-valid credentials are kept, expired ones
   * are an error. */
  vss_metadata_server_free (m);
  c = gst_vss_aws_config_get_credentials_at (cfg, exp - 100, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (c->access_key_id, ==, k3);
  gst_vss_aws_credentials_free (c);
  g_assert_null (gst_vss_aws_config_get_credentials_at (cfg, exp + 1, &err));
  g_assert_error (err, GST_VSS_AWS_ERROR, GST_VSS_AWS_ERROR_FETCH);
  g_clear_error (&err);
  gst_vss_aws_config_free (cfg);

  g_free (k1);
  g_free (k2);
  g_free (k3);
  g_free (ep);
}

static GString *captured;       /* non-NULL while capturing */
static GMutex captured_lock;

static void
capture_gst (GstDebugCategory * cat, GstDebugLevel level, const gchar * file,
    const gchar * function, gint line, GObject * object, GstDebugMessage * msg,
    gpointer user_data)
{
  g_mutex_lock (&captured_lock);
  g_string_append_printf (captured, "%s %s\n",
      gst_debug_category_get_name (cat), gst_debug_message_get (msg));
  g_mutex_unlock (&captured_lock);
}

static GLogWriterOutput
capture_glib (GLogLevelFlags level, const GLogField * fields, gsize n,
    gpointer user_data)
{
  gboolean handled = FALSE;
  gsize i;

  /* GLib allows one writer per process: it stays installed and forwards
   * to the default writer when no test is capturing. */
  g_mutex_lock (&captured_lock);
  if (captured) {
    for (i = 0; i < n; i++)
      if (strcmp (fields[i].key, "MESSAGE") == 0)
        g_string_append_printf (captured, "glib %s\n",
            (const gchar *) fields[i].value);
    handled = TRUE;
  }
  g_mutex_unlock (&captured_lock);
  if (handled)
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (level, fields, n, user_data);
}

static void
resolve_and_record (const GstVssAwsSettings * s, gint64 now)
{
  GError *err = NULL;
  GstVssAwsConfig *cfg = gst_vss_aws_config_new (s, &err);
  GstVssAwsCredentials *c;

  if (cfg) {
    c = gst_vss_aws_config_get_credentials_at (cfg, now, &err);
    gst_vss_aws_credentials_free (c);
    gst_vss_aws_config_free (cfg);
  }
  if (err) {
    g_mutex_lock (&captured_lock);
    g_string_append_printf (captured, "error %s\n", err->message);
    g_mutex_unlock (&captured_lock);
    g_clear_error (&err);
  }
}

/* Logs (GStreamer debug at the highest level, and GLib's) and error
 * messages over every source and failure path must not contain any
 * secret. */
static void
test_no_secrets_in_logs (void)
{
  GstVssAwsSettings s = { 0, };
  VssMetadataServer *cm, *im;
  const gchar *secrets[32];
  gchar *owned[16];
  guint n = 0, no = 0, i;
  gchar *base, *ep;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  g_mutex_lock (&captured_lock);
  captured = g_string_new (NULL);
  g_mutex_unlock (&captured_lock);
  gst_debug_set_active (TRUE);
  gst_debug_set_default_threshold (GST_LEVEL_MEMDUMP);
  gst_debug_remove_log_function (gst_debug_log_default);
  gst_debug_add_log_function (capture_gst, NULL, NULL);
  g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);

  clear_env ();
  write_profiles ();
  s.region = "us-east-1";
  /* environment */
  g_setenv ("AWS_ACCESS_KEY_ID", ENV_AK, TRUE);
  g_setenv ("AWS_SECRET_ACCESS_KEY", ENV_SK, TRUE);
  g_setenv ("AWS_SESSION_TOKEN", ENV_TOKEN, TRUE);
  resolve_and_record (&s, now);
  /* properties */
  s.access_key_id = PROP_AK;
  s.secret_access_key = PROP_SK;
  resolve_and_record (&s, now);
  s.secret_access_key = NULL;
  resolve_and_record (&s, now);
  s.access_key_id = NULL;
  /* profiles */
  g_unsetenv ("AWS_ACCESS_KEY_ID");
  g_unsetenv ("AWS_SECRET_ACCESS_KEY");
  g_unsetenv ("AWS_SESSION_TOKEN");
  resolve_and_record (&s, now);
  s.profile = "dev";
  resolve_and_record (&s, now);
  s.profile = NULL;
  /* container, good and bad token, malformed body */
  clear_env ();
  cm = vss_metadata_server_new (VSS_METADATA_CONTAINER, NULL);
  cm->auth_token = g_strdup (CONTAINER_AUTH);
  base = g_strdup_printf ("http://127.0.0.1:%u", cm->port);
  s.container_base_url = base;
  g_setenv ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", cm->container_path, TRUE);
  g_setenv ("AWS_CONTAINER_AUTHORIZATION_TOKEN", CONTAINER_AUTH, TRUE);
  resolve_and_record (&s, now);
  cm->malformed = TRUE;
  resolve_and_record (&s, now);
  cm->malformed = FALSE;
  g_setenv ("AWS_CONTAINER_AUTHORIZATION_TOKEN", CONTAINER_AUTH "-bad", TRUE);
  resolve_and_record (&s, now);
  /* IMDS, including a refresh */
  clear_env ();
  g_unsetenv ("AWS_EC2_METADATA_DISABLED");
  im = vss_metadata_server_new (VSS_METADATA_IMDS, NULL);
  ep = g_strdup_printf ("http://127.0.0.1:%u", im->port);
  g_setenv ("AWS_EC2_METADATA_SERVICE_ENDPOINT", ep, TRUE);
  {
    GstVssAwsConfig *cfg = gst_vss_aws_config_new (&s, NULL);
    GstVssAwsCredentials *c;

    g_assert_nonnull (cfg);
    c = gst_vss_aws_config_get_credentials_at (cfg, now, NULL);
    g_assert_nonnull (c);
    gst_vss_aws_credentials_free (c);
    c = gst_vss_aws_config_get_credentials_at (cfg, now + 3500, NULL);
    g_assert_nonnull (c);
    gst_vss_aws_credentials_free (c);
    gst_vss_aws_config_free (cfg);
  }

  gst_debug_set_default_threshold (GST_LEVEL_NONE);
  gst_debug_remove_log_function (capture_gst);
  gst_debug_add_log_function (gst_debug_log_default, NULL, NULL);
  g_unsetenv ("G_MESSAGES_DEBUG");

  secrets[n++] = ENV_SK;
  secrets[n++] = ENV_TOKEN;
  secrets[n++] = PROP_SK;
  secrets[n++] = DEF_SK;
  secrets[n++] = DEV_SK;
  secrets[n++] = DEV_TOKEN;
  secrets[n++] = CONTAINER_AUTH;
  secrets[n++] = VSS_METADATA_IMDS_SESSION;
  for (i = 1; i <= 4; i++) {
    owned[no++] = vss_metadata_secret (i);
    owned[no++] = vss_metadata_token (i);
  }
  for (i = 0; i < no; i++)
    secrets[n++] = owned[i];

  g_mutex_lock (&captured_lock);
  /* The capture did see the resolution (sources and masked key ids). */
  g_assert_nonnull (strstr (captured->str, "from environment"));
  g_assert_nonnull (strstr (captured->str, "from container"));
  g_assert_nonnull (strstr (captured->str, "refreshed from imds"));
  g_assert_nonnull (strstr (captured->str, "****0001"));
  for (i = 0; i < n; i++) {
    if (strstr (captured->str, secrets[i]))
      g_error ("secret #%u leaked into logs or errors", i);
  }
  /* Already checked secret-free; handy when the assertions above fail. */
  if (g_getenv ("VSS_DUMP_LOG"))
    g_printerr ("%s", captured->str);
  g_test_message ("%" G_GSIZE_FORMAT " bytes of log checked for %u secrets",
      captured->len, n);
  g_mutex_unlock (&captured_lock);

  for (i = 0; i < no; i++)
    g_free (owned[i]);
  vss_metadata_server_free (cm);
  vss_metadata_server_free (im);
  g_free (base);
  g_free (ep);
  g_mutex_lock (&captured_lock);
  g_string_free (captured, TRUE);
  captured = NULL;
  g_mutex_unlock (&captured_lock);
}

int
main (int argc, char **argv)
{
  gint ret;

  g_log_set_writer_func (capture_glib, NULL, NULL);
  /* Only the debug system is needed: loading no plugins keeps the run
   * fast and free of plugins' own leaks. */
  g_setenv ("GST_REGISTRY_DISABLE", "yes", TRUE);
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("vss-aws-cred-XXXXXX", NULL);
  g_assert_nonnull (tmpdir);
  cred_file = g_build_filename (tmpdir, "credentials", NULL);
  conf_file = g_build_filename (tmpdir, "config", NULL);

  g_test_add_func ("/aws/cred/properties-and-env", test_properties_and_env);
  g_test_add_func ("/aws/cred/profiles", test_profiles);
  g_test_add_func ("/aws/cred/endpoints", test_endpoints);
  g_test_add_func ("/aws/cred/container", test_container);
  g_test_add_func ("/aws/cred/imds", test_imds);
  g_test_add_func ("/aws/cred/no-secrets-in-logs", test_no_secrets_in_logs);
  ret = g_test_run ();

  clear_env ();
  g_rmdir (tmpdir);
  g_free (cred_file);
  g_free (conf_file);
  g_free (tmpdir);
  return ret;
}
