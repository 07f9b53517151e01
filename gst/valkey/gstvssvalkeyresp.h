/* gst-vss: RESP codec on top of hiredis's (internal: not installed)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "gstvssvalkeyreply.h"

G_BEGIN_DECLS

#define VSS_VALKEY_SLOTS 16384

gchar *vss_valkey_resp_format_command (gint argc, const gchar ** argv,
    const gsize * argvlen, gsize * out_len);

gint vss_valkey_resp_parse (const void *data, gsize len, VssValkeyReply ** reply,
    gsize * consumed, GError ** error);

guint16 vss_valkey_resp_crc16 (const void *data, gsize len);

guint vss_valkey_resp_key_slot (const void *key, gsize len);

gboolean vss_valkey_resp_parse_redirect (const VssValkeyReply * reply,
    gboolean * ask, guint * slot, gchar ** host, guint16 * port);

G_END_DECLS
