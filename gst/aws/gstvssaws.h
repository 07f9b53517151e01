/* gst-vss: signing an HTTP request for AWS in one call
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "gstvssawssigv4.h"
#include "gstvssawscred.h"

G_BEGIN_DECLS

gboolean gst_vss_aws_sign_request (const GstVssAwsCredentials * creds,
    const gchar * region, const gchar * service, const gchar * method,
    const gchar * url, const GstVssAwsHttpHeader * signed_headers,
    guint n_signed_headers, const guint8 * body, gsize body_len,
    GstVssAwsSigV4Flags flags, gint64 now, GPtrArray ** headers_out,
    GError ** error);

G_END_DECLS
