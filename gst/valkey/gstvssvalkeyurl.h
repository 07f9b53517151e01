/* gst-vss: Valkey connection URLs
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "gstvssvalkeyerror.h"

G_BEGIN_DECLS

typedef enum
{
  VSS_VALKEY_CLUSTER_AUTO,      /* ask the first seed with CLUSTER SLOTS */
  VSS_VALKEY_CLUSTER_YES,
  VSS_VALKEY_CLUSTER_NO,
} VssValkeyClusterMode;

typedef struct
{
  gchar *host;
  guint16 port;
} VssValkeyAddr;

/**
 * VssValkeyConfig:
 *
 * Everything a connection URL says. Built by vss_valkey_config_new_from_url():
 *
 *   (redis|rediss|valkey|valkeys)://[[user]:password@]host[:port]
 *       [,host[:port]...][/db][?opt=v&...]
 *
 * `rediss` and `valkeys` mean TLS. IPv6 literals go in brackets. User and
 * password are percent-decoded (encode `@ : / ? #` in them). Options:
 * `tls_ca_file`, `tls_cert_file`, `tls_key_file`, `tls_server_name`,
 * `tls_verify` (yes|no, default yes), `connect_timeout_ms` (default 5000),
 * `command_timeout_ms` (default 10000), `cluster` (auto|yes|no, default
 * auto), `read_from_replicas` (yes|no, default no), `reconnect_attempts`
 * (default 8), `max_redirects` (default 16). Unknown options are errors, so
 * that a typo never silently turns verification off.
 */
typedef struct
{
  gboolean tls;
  gchar *user;                  /* NULL: the default user */
  gchar *password;              /* NULL: no AUTH; never log it */
  gint db;
  VssValkeyAddr *seeds;
  guint n_seeds;
  gchar *tls_ca_file;
  gchar *tls_cert_file;
  gchar *tls_key_file;
  gchar *tls_server_name;
  gboolean tls_verify;
  guint connect_timeout_ms;
  guint command_timeout_ms;
  VssValkeyClusterMode cluster;
  gboolean read_from_replicas;
  guint reconnect_attempts;
  guint max_redirects;
} VssValkeyConfig;

VssValkeyConfig *vss_valkey_config_new_from_url (const gchar * url,
    GError ** error);

VssValkeyConfig *vss_valkey_config_copy (const VssValkeyConfig * config);

void vss_valkey_config_free (VssValkeyConfig * config);

gchar *vss_valkey_url_mask (const gchar * url);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VssValkeyConfig, vss_valkey_config_free);

G_END_DECLS
