/* gst-vss: what vssdedup found for a kept frame, for elements downstream
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* A GstCustomMeta named "GstVssDedupMeta" whose structure holds
 * "distance" (double: cosine distance to the nearest frame in the window,
 * 2.0 when the window was empty, -1 when not measured) and
 * "matched-frame-id" (string, "" when
 * none). Registered with no tags, so encoders keep it. */
#define GST_VSS_DEDUP_META_NAME "GstVssDedupMeta"

void gst_vss_dedup_meta_register (void);

gboolean gst_vss_buffer_set_dedup_info (GstBuffer * buffer, gdouble distance,
    const gchar * matched_frame_id);

gboolean gst_vss_buffer_get_dedup_info (GstBuffer * buffer,
    gdouble * distance, const gchar ** matched_frame_id);

G_END_DECLS
