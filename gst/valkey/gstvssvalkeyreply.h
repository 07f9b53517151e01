/* gst-vss: Valkey replies as the client hands them out
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <hiredis/hiredis.h>
#include "gstvssvalkeyerror.h"

G_BEGIN_DECLS

/* A reply is hiredis's redisReply; free it with freeReplyObject(). */
typedef redisReply VssValkeyReply;

gboolean vss_valkey_reply_is_error (const VssValkeyReply * reply,
    const gchar * prefix);

gboolean vss_valkey_reply_to_error (const VssValkeyReply * reply,
    GError ** error, const gchar * context);

const gchar *vss_valkey_reply_type_name (gint type);

G_END_DECLS
