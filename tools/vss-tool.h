/* gst-vss: what the command-line tools share
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * vss-ingest and vss-search talk to the same servers: they check them the
 * same way and say the same things about them.
 */
#pragma once

#include <glib.h>
#include "valkey/gstvssvalkeyclient.h"

G_BEGIN_DECLS

gboolean vss_tool_has_vector_search (VssValkeyClient * client,
    gboolean * has_search, GError ** error);

gchar *vss_tool_no_search_advice (const gchar * masked_url);

gchar *vss_tool_printable (const gchar * text, gsize max_bytes);

G_END_DECLS
