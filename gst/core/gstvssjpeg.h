/* gst-vss: JPEG in memory with libjpeg (internal, not installed)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS
    GBytes * gst_vss_jpeg_encode_rgb (const guint8 * rgb, gint stride, guint w,
    guint h, gint quality, GError ** error);

gboolean gst_vss_jpeg_decode_rgb (const guint8 * data, gsize len,
    guint8 * rgb, guint w, guint h, GError ** error);

G_END_DECLS
