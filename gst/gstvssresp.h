/* gst-vss: RESP helpers on top of hiredis's codec
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <hiredis/hiredis.h>
#include "gstvssvalkeyerror.h"

G_BEGIN_DECLS

#define VSS_VALKEY_SLOTS 16384

/* A reply is hiredis's redisReply; free it with freeReplyObject(). */
typedef redisReply VssValkeyReply;

gchar *vss_resp_format_command (gint argc, const gchar ** argv,
    const gsize * argvlen, gsize * out_len);

gint vss_resp_parse (const void *data, gsize len, VssValkeyReply ** reply,
    gsize * consumed, GError ** error);

guint16 vss_resp_crc16 (const void *data, gsize len);

guint vss_resp_key_slot (const void *key, gsize len);

gboolean vss_resp_parse_redirect (const VssValkeyReply * reply,
    gboolean * ask, guint * slot, gchar ** host, guint16 * port);

gboolean vss_resp_reply_is_error (const VssValkeyReply * reply,
    const gchar * prefix);

gboolean vss_resp_reply_to_error (const VssValkeyReply * reply,
    GError ** error, const gchar * context);

const gchar *vss_resp_type_name (gint type);

G_END_DECLS
