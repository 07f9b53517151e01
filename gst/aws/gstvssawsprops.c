/* gst-vss: AWS settings as element properties
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every element that speaks to AWS installs, sets, gets and wipes its
 * settings here, so that their names, blurbs, flags and the handling of
 * secrets are the same everywhere.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include "gstvssawsprops.h"

const GstVssAwsService gst_vss_aws_service_bedrock = {
  "bedrock", "BEDROCK_RUNTIME", "bedrock-runtime",
  "'http://127.0.0.1:8080' for a test server or a VPC endpoint",
};

const GstVssAwsService gst_vss_aws_service_s3 = {
  "s3", "S3", "s3",
  "'http://127.0.0.1:4568' for an S3-compatible store (path-style "
      "requests; AWS itself gets virtual-hosted ones)",
};

enum
{
  REGION,
  ENDPOINT,
  PROFILE,
  ACCESS_KEY_ID,
  SECRET_ACCESS_KEY,
  SESSION_TOKEN,
};

/* Blurbs are built per service, so they are copied, not static. */
#define FLAGS_RW (G_PARAM_READWRITE | G_PARAM_STATIC_NAME | \
    G_PARAM_STATIC_NICK | GST_PARAM_MUTABLE_READY)
#define FLAGS_W (G_PARAM_WRITABLE | G_PARAM_STATIC_NAME | \
    G_PARAM_STATIC_NICK | GST_PARAM_MUTABLE_READY)

static void
install (GObjectClass * klass, guint id, const gchar * name,
    const gchar * nick, GParamFlags flags, gchar * blurb)
{
  g_object_class_install_property (klass, id, g_param_spec_string (name, nick,
          blurb, NULL, flags));
  g_free (blurb);
}

/**
 * gst_vss_aws_props_install:
 * @first_prop_id: the id of `region`; the five others follow it
 *
 * Installs the six settings of #GstVssAwsProps on @klass.
 */
void
gst_vss_aws_props_install (GObjectClass * klass, guint first_prop_id,
    const GstVssAwsService * s)
{
  const gchar *p = s->prefix;

  install (klass, first_prop_id + REGION, "region", "AWS region", FLAGS_RW,
      g_strdup_printf ("%s: AWS region, e.g. 'us-east-1'. NULL: AWS_REGION, "
          "AWS_DEFAULT_REGION, then the profile's region", p));
  install (klass, first_prop_id + ENDPOINT, "endpoint", "Endpoint URL",
      FLAGS_RW, g_strdup_printf ("%s: endpoint URL, e.g. %s. NULL: "
          "AWS_ENDPOINT_URL_%s, AWS_ENDPOINT_URL, the profile's endpoint_url, "
          "then https://%s.<region>.amazonaws.com", p, s->endpoint_example,
          s->env_id, s->endpoint_prefix));
  install (klass, first_prop_id + PROFILE, "profile", "AWS profile", FLAGS_RW,
      g_strdup_printf ("%s: profile of the shared AWS config/credentials "
          "files. NULL: AWS_PROFILE, else 'default'", p));
  install (klass, first_prop_id + ACCESS_KEY_ID, "access-key-id",
      "Access key id", FLAGS_W, g_strdup_printf ("%s: AWS access key id, "
          "overriding every other source (write-only). Prefer the "
          "environment or a profile", p));
  install (klass, first_prop_id + SECRET_ACCESS_KEY, "secret-access-key",
      "Secret access key", FLAGS_W, g_strdup_printf ("%s: AWS secret access "
          "key to go with access-key-id (write-only, never logged)", p));
  install (klass, first_prop_id + SESSION_TOKEN, "session-token",
      "Session token", FLAGS_W, g_strdup_printf ("%s: AWS session token for "
          "temporary keys (write-only, never logged)", p));
}

/* Overwrites a secret before its memory goes back to the allocator. */
static void
wipe (gchar ** secret)
{
  if (*secret)
    memset (*secret, 0, strlen (*secret));
  g_clear_pointer (secret, g_free);
}

static gchar **
field (GstVssAwsProps * props, guint which)
{
  switch (which) {
    case REGION:
      return &props->region;
    case ENDPOINT:
      return &props->endpoint;
    case PROFILE:
      return &props->profile;
    case ACCESS_KEY_ID:
      return &props->access_key_id;
    case SECRET_ACCESS_KEY:
      return &props->secret_access_key;
    case SESSION_TOKEN:
      return &props->session_token;
    default:
      return NULL;
  }
}

/**
 * gst_vss_aws_props_set:
 *
 * Sets @prop_id when it is one of the six (call with the object lock held).
 * An empty string unsets. A replaced secret is wiped.
 *
 * Returns: FALSE when @prop_id is not an AWS setting
 */
gboolean
gst_vss_aws_props_set (GstVssAwsProps * props, guint first_prop_id,
    guint prop_id, const GValue * value)
{
  const gchar *v;
  gchar **f;

  if (prop_id < first_prop_id || prop_id >= first_prop_id + GST_VSS_AWS_PROPS_N)
    return FALSE;
  f = field (props, prop_id - first_prop_id);
  wipe (f);
  v = g_value_get_string (value);
  *f = v && v[0] ? g_strdup (v) : NULL;
  return TRUE;
}

/**
 * gst_vss_aws_props_get:
 *
 * Returns: FALSE when @prop_id is not a readable AWS setting (the secrets
 *   and the key id are write-only; GObject never asks for them)
 */
gboolean
gst_vss_aws_props_get (const GstVssAwsProps * props, guint first_prop_id,
    guint prop_id, GValue * value)
{
  if (prop_id < first_prop_id || prop_id > first_prop_id + PROFILE)
    return FALSE;
  g_value_set_string (value, *field ((GstVssAwsProps *) props,
          prop_id - first_prop_id));
  return TRUE;
}

/**
 * gst_vss_aws_props_clear:
 *
 * Frees the settings, wiping the secrets first (finalize).
 */
void
gst_vss_aws_props_clear (GstVssAwsProps * props)
{
  for (guint i = 0; i < GST_VSS_AWS_PROPS_N; i++)
    wipe (field (props, i));
}

/**
 * gst_vss_aws_props_to_settings:
 *
 * Fills @settings (zeroed here) from @props and @service; its strings
 * point into @props, so use it under the object lock or copy what you
 * need before releasing it.
 */
void
gst_vss_aws_props_to_settings (const GstVssAwsProps * props,
    const GstVssAwsService * service, GstVssAwsSettings * settings)
{
  memset (settings, 0, sizeof (*settings));
  settings->region = props->region;
  settings->endpoint_url = props->endpoint;
  settings->profile = props->profile;
  settings->access_key_id = props->access_key_id;
  settings->secret_access_key = props->secret_access_key;
  settings->session_token = props->session_token;
  settings->service_env_id = service->env_id;
  settings->endpoint_prefix = service->endpoint_prefix;
}
