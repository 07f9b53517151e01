/* gst-vss test servers: SigV4 verification, written apart from the signer
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * This is deliberately a second implementation (OpenSSL instead of GLib's
 * GHmac, its own encoders): the signer in gst/ and this checker must agree
 * for a request to pass, so a shared misreading of the rules cannot hide.
 */
#pragma once

#include "vsshttpd.h"

G_BEGIN_DECLS

typedef struct
{
  const gchar *access_key;
  const gchar *secret_key;
  const gchar *session_token;   /* NULL: no token expected */
  const gchar *region;          /* NULL: any region */
  gint64 now;                   /* unix seconds */
  gint64 max_skew;              /* seconds; 0: do not check the date */
} VssSigCheckConfig;

/* Returns TRUE when the request's Authorization header is valid. Otherwise
 * *status, *error_type and *message (newly allocated) say what AWS would
 * answer. *service receives the signing service from the scope. */
gboolean vss_sigcheck_verify (const VssSigCheckConfig * cfg,
    const VssHttpRequest * req, gchar ** service, guint * status,
    gchar ** error_type, gchar ** message);

G_END_DECLS
