/* gst-vss test servers: container credentials and EC2 IMDSv2 on loopback
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * In-process servers for the credentials-chain tests. Every credential
 * fetch hands out a new generation of keys (key id, secret and token end in
 * the generation number), so a test can tell a refresh from a cached copy.
 */
#pragma once

#include "vsshttpd.h"

G_BEGIN_DECLS

typedef enum
{
  VSS_METADATA_CONTAINER,
  VSS_METADATA_IMDS,
} VssMetadataKind;

typedef struct
{
  VssMetadataKind kind;
  VssHttpd *httpd;
  guint16 port;
  gchar *container_path;        /* container: the one path served */
  gchar *auth_token;            /* container: required Authorization */
  gchar *role;                  /* imds: the instance role */
  gint64 lifetime_s;            /* credentials expire this long after issue */
  gboolean malformed;           /* answer credentials with broken JSON */

  /* Counters, read with g_atomic_int_get. */
  gint token_puts;
  gint role_lists;
  gint cred_gets;
  gint rejected;
  gint requests;
} VssMetadataServer;

VssMetadataServer *vss_metadata_server_new (VssMetadataKind kind,
    GError ** error);
void vss_metadata_server_free (VssMetadataServer * server);

/* The secrets of generation n, for tests that look for leaks. */
gchar *vss_metadata_secret (gint generation);
gchar *vss_metadata_token (gint generation);
gchar *vss_metadata_key_id (gint generation);

#define VSS_METADATA_IMDS_SESSION "imds-session-AQAEAFkR+secret=="

G_END_DECLS
