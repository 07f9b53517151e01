/* gst-vss: small blocking HTTP requests (credential endpoints)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * For the few short requests of the credentials chain (container
 * credentials, EC2 instance metadata). Not for Bedrock or S3 traffic, which
 * goes through the curl-multi worker.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Largest response body accepted; credential documents are far smaller. */
#define GST_VSS_AWS_HTTP_SIMPLE_MAX_BODY (64 * 1024)

gboolean gst_vss_aws_http_simple (const gchar * method, const gchar * url,
    const gchar * const *headers, guint timeout_ms, glong * status,
    gchar ** body, GError ** error);

G_END_DECLS
