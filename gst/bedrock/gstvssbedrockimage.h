/* gst-vss: images for Titan Multimodal Embeddings (size limits, JPEG)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/video/video.h>

G_BEGIN_DECLS

gboolean gst_vss_bedrock_image_probe (const guint8 * data, gsize len,
    const gchar ** mime, guint * width, guint * height);

GBytes *gst_vss_bedrock_image_encode_frame (const GstVideoFrame * frame,
    guint max_side, gsize max_bytes, GError ** error);

GBytes *gst_vss_bedrock_image_fit (GBytes * image, guint max_side, gsize max_bytes,
    gboolean * reencoded, GError ** error);

G_END_DECLS
