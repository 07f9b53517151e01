/* gst-vss: AWS credentials, region and endpoint, resolved as the SDKs do
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define GST_VSS_AWS_ERROR (gst_vss_aws_error_quark ())
GQuark gst_vss_aws_error_quark (void);

typedef enum
{
  GST_VSS_AWS_ERROR_CONFIG,           /* bad settings, profile or file */
  GST_VSS_AWS_ERROR_NO_REGION,
  GST_VSS_AWS_ERROR_NO_CREDENTIALS,
  GST_VSS_AWS_ERROR_FETCH,            /* container / IMDS request failed */
} GstVssAwsError;

/**
 * GstVssAwsCredentials:
 * @session_token: NULL for long-term keys
 * @expiration: unix seconds; 0 when the credentials do not expire
 * @source: where they came from: "properties", "environment",
 *   "profile", "container" or "imds" (static string)
 */
typedef struct
{
  gchar *access_key_id;
  gchar *secret_access_key;
  gchar *session_token;
  gint64 expiration;
  const gchar *source;
} GstVssAwsCredentials;

GstVssAwsCredentials *gst_vss_aws_credentials_copy (const GstVssAwsCredentials
    * creds);
void gst_vss_aws_credentials_free (GstVssAwsCredentials * creds);
gchar *gst_vss_aws_mask_key_id (const gchar * access_key_id);

/**
 * GstVssAwsSettings:
 *
 * Explicit settings (element properties); NULL or 0 means "not set", and
 * then the environment, the shared files, container credentials and EC2
 * instance metadata are consulted in the order the AWS SDKs use.
 *
 * @service_env_id: the service part of AWS_ENDPOINT_URL_<ID>, e.g.
 *   "BEDROCK_RUNTIME" or "S3"
 * @endpoint_prefix: the default endpoint host's first label, e.g.
 *   "bedrock-runtime" (https://<prefix>.<region>.amazonaws.com)
 * @container_base_url: replaces http://169.254.170.2 for
 *   AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (tests)
 * @http_timeout_ms: container/IMDS request timeout (0: 1000 ms)
 * @refresh_margin_s: refresh temporary credentials this long before they
 *   expire (0: 300 s)
 */
typedef struct
{
  const gchar *access_key_id;
  const gchar *secret_access_key;
  const gchar *session_token;
  const gchar *profile;
  const gchar *region;
  const gchar *endpoint_url;
  const gchar *service_env_id;
  const gchar *endpoint_prefix;
  const gchar *container_base_url;
  guint http_timeout_ms;
  guint refresh_margin_s;
} GstVssAwsSettings;

typedef struct _GstVssAwsConfig GstVssAwsConfig;

GstVssAwsConfig *gst_vss_aws_config_new (const GstVssAwsSettings * settings,
    GError ** error);
void gst_vss_aws_config_free (GstVssAwsConfig * config);

const gchar *gst_vss_aws_config_get_region (GstVssAwsConfig * config);
const gchar *gst_vss_aws_config_get_endpoint (GstVssAwsConfig * config);
const gchar *gst_vss_aws_config_get_source (GstVssAwsConfig * config);

GstVssAwsCredentials *gst_vss_aws_config_get_credentials (GstVssAwsConfig *
    config, GError ** error);
GstVssAwsCredentials *gst_vss_aws_config_get_credentials_at (GstVssAwsConfig *
    config, gint64 now, GError ** error);
void gst_vss_aws_config_invalidate (GstVssAwsConfig * config);

G_END_DECLS
