/* gst-vss: the built-in, model-free embeddings ("vss-local-v1", "vss-local-v2")
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/video/video.h>

G_BEGIN_DECLS
#define GST_VSS_EMBED_LOCAL_MODEL_V1 "vss-local-v1"
#define GST_VSS_EMBED_LOCAL_MODEL_V2 "vss-local-v2"
/**
 * GstVssEmbedLocalModel:
 * @GST_VSS_EMBED_LOCAL_V1: light and colour layout (111 floats)
 * @GST_VSS_EMBED_LOCAL_V2: v1 plus structure: gradient orientations at two
 *   scales over a 4x4 grid
 */
    typedef enum
{
  GST_VSS_EMBED_LOCAL_V1 = 1,
  GST_VSS_EMBED_LOCAL_V2 = 2,
} GstVssEmbedLocalModel;

/* The model provider=local computes when no model is named. */
#define GST_VSS_EMBED_LOCAL_DEFAULT GST_VSS_EMBED_LOCAL_V2
#define GST_VSS_EMBED_LOCAL_MODEL GST_VSS_EMBED_LOCAL_MODEL_V2

/* Caps formats the local embedding reads directly (8 bits per component). */
#define GST_VSS_EMBED_LOCAL_FORMATS \
  "{ I420, YV12, NV12, NV21, Y42B, Y444, YUY2, UYVY, GRAY8, RGB, BGR, " \
  "RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, ARGB, ABGR }"

gboolean gst_vss_embed_local_model_from_name (const gchar * name,
    GstVssEmbedLocalModel * model);

const gchar *gst_vss_embed_local_model_name (GstVssEmbedLocalModel model);

guint gst_vss_embed_local_model_dim (GstVssEmbedLocalModel model);

gboolean gst_vss_embed_local_model_frame (GstVssEmbedLocalModel model,
    const GstVideoFrame * frame, gfloat * out);

guint gst_vss_embed_local_dim (void);

gboolean gst_vss_embed_local_supports_format (GstVideoFormat format);

gboolean gst_vss_embed_local_frame (const GstVideoFrame * frame, gfloat * out);

G_END_DECLS
