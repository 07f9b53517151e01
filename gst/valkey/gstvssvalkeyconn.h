/* gst-vss: one connection to one Valkey node (TCP or TLS over GIO)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include "gstvssvalkeyurl.h"
#include "gstvssvalkeyresp.h"

G_BEGIN_DECLS

typedef struct _VssValkeyConn VssValkeyConn;

VssValkeyConn *vss_valkey_conn_open (const VssValkeyConfig * config,
    const gchar * host, guint16 port, gboolean readonly,
    GCancellable * cancellable, GError ** error);

void vss_valkey_conn_free (VssValkeyConn * conn);

gboolean vss_valkey_conn_is_broken (const VssValkeyConn * conn);

const gchar *vss_valkey_conn_get_name (const VssValkeyConn * conn);

gboolean vss_valkey_conn_write (VssValkeyConn * conn, const void *data,
    gsize len, gint64 deadline, GCancellable * cancellable, GError ** error);

gboolean vss_valkey_conn_writev (VssValkeyConn * conn, GOutputVector * vecs,
    gsize n_vecs, gint64 deadline, GCancellable * cancellable,
    GError ** error);

VssValkeyReply *vss_valkey_conn_read_reply (VssValkeyConn * conn,
    gint64 deadline, GCancellable * cancellable, GError ** error);

gint64 vss_valkey_deadline_from_ms (guint ms);

G_END_DECLS
