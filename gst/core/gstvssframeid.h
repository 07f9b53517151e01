/* gst-vss: frame identity
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * GST_VSS_FRAME_ID_LEN:
 *
 * A frame id is 26 characters of Crockford base32 (0-9, A-Z without I, L, O,
 * U): 48 bits of capture time in unix milliseconds followed by 80 bits that
 * are random per process and incremented for frames in the same millisecond
 * (the ULID layout). Ids sort by capture time as plain strings, are unique
 * across processes, restarts and reconnects, and need no escaping in Valkey
 * keys, TAG values, S3 keys or file names.
 */
#define GST_VSS_FRAME_ID_LEN 26
#define GST_VSS_FRAME_ID_SIZE (GST_VSS_FRAME_ID_LEN + 1)

void gst_vss_frame_id_new (gint64 capture_time_us,
    gchar out[GST_VSS_FRAME_ID_SIZE]);

void gst_vss_frame_id_for_position (gint64 capture_time_ms,
    const gchar * source, guint64 position, gchar out[GST_VSS_FRAME_ID_SIZE]);

gboolean gst_vss_frame_id_is_valid (const gchar * id);

gboolean gst_vss_frame_id_get_time_ms (const gchar * id, gint64 * unix_ms);

G_END_DECLS
