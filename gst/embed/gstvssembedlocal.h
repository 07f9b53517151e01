/* gst-vss: the built-in, model-free embedding ("vss-local-v1")
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/video/video.h>

G_BEGIN_DECLS

#define GST_VSS_EMBED_LOCAL_MODEL "vss-local-v1"

/* Caps formats the local embedding reads directly (8 bits per component). */
#define GST_VSS_EMBED_LOCAL_FORMATS \
  "{ I420, YV12, NV12, NV21, Y42B, Y444, YUY2, UYVY, GRAY8, RGB, BGR, " \
  "RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, ARGB, ABGR }"

guint gst_vss_embed_local_dim (void);

gboolean gst_vss_embed_local_supports_format (GstVideoFormat format);

gboolean gst_vss_embed_local_frame (const GstVideoFrame * frame, gfloat * out);

G_END_DECLS
