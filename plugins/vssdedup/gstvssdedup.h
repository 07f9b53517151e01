/* gst-vss: vssdedup
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

/**
 * GstVssDedupMode:
 * @GST_VSS_DEDUP_MODE_WINDOW: compare with every kept frame in the window
 *   (catches revisits of earlier scenes)
 * @GST_VSS_DEDUP_MODE_LAST_KEPT: compare with the last kept frame only
 */
typedef enum
{
  GST_VSS_DEDUP_MODE_WINDOW = 0,
  GST_VSS_DEDUP_MODE_LAST_KEPT = 1,
} GstVssDedupMode;

/**
 * GstVssDedupMissingMeta:
 * @GST_VSS_DEDUP_MISSING_META_PASS: pass the frame on, warn once
 * @GST_VSS_DEDUP_MISSING_META_ERROR: stop with an error
 */
typedef enum
{
  GST_VSS_DEDUP_MISSING_META_PASS = 0,
  GST_VSS_DEDUP_MISSING_META_ERROR = 1,
} GstVssDedupMissingMeta;

#define GST_TYPE_VSS_DEDUP_MODE (gst_vss_dedup_mode_get_type ())
GType gst_vss_dedup_mode_get_type (void);
#define GST_TYPE_VSS_DEDUP_MISSING_META (gst_vss_dedup_missing_meta_get_type ())
GType gst_vss_dedup_missing_meta_get_type (void);

#define GST_TYPE_VSS_DEDUP (gst_vss_dedup_get_type ())
G_DECLARE_FINAL_TYPE (GstVssDedup, gst_vss_dedup, GST, VSS_DEDUP,
    GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (vssdedup);

G_END_DECLS
