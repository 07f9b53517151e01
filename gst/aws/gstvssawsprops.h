/* gst-vss: AWS settings as element properties
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include "gstvssawscred.h"

G_BEGIN_DECLS

/**
 * GstVssAwsProps:
 *
 * The AWS settings an element exposes as properties, in this order from
 * the element's first id: `region`, `endpoint`, `profile`, `access-key-id`,
 * `secret-access-key`, `session-token` (the last three write-only). NULL
 * means "not set": the environment, the shared files, container credentials
 * and instance metadata are consulted as the AWS SDKs do. Read and write
 * them under the element's object lock.
 */
typedef struct
{
  gchar *region;
  gchar *endpoint;
  gchar *profile;
  gchar *access_key_id;
  gchar *secret_access_key;     /* secret: write-only, never logged */
  gchar *session_token;         /* secret: write-only, never logged */
} GstVssAwsProps;

#define GST_VSS_AWS_PROPS_N 6

/**
 * GstVssAwsService:
 * @prefix: what the blurbs start with, e.g. "bedrock" or "s3" (the
 *   provider or store the settings apply to)
 * @env_id: the service part of AWS_ENDPOINT_URL_<ID>, e.g. "BEDROCK_RUNTIME"
 * @endpoint_prefix: the default endpoint host's first label, e.g.
 *   "bedrock-runtime"
 * @endpoint_example: an endpoint users set, for the blurb
 */
typedef struct
{
  const gchar *prefix;
  const gchar *env_id;
  const gchar *endpoint_prefix;
  const gchar *endpoint_example;
} GstVssAwsService;

extern const GstVssAwsService gst_vss_aws_service_bedrock;
extern const GstVssAwsService gst_vss_aws_service_s3;

void gst_vss_aws_props_install (GObjectClass * klass, guint first_prop_id,
    const GstVssAwsService * service);

gboolean gst_vss_aws_props_set (GstVssAwsProps * props, guint first_prop_id,
    guint prop_id, const GValue * value);

gboolean gst_vss_aws_props_get (const GstVssAwsProps * props,
    guint first_prop_id, guint prop_id, GValue * value);

void gst_vss_aws_props_clear (GstVssAwsProps * props);

void gst_vss_aws_props_to_settings (const GstVssAwsProps * props,
    const GstVssAwsService * service, GstVssAwsSettings * settings);

G_END_DECLS
