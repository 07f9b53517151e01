/* gst-vss: synthetic scenes from real photographs, for tests, benchmarks and demos
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A "view" is a window on a photograph (centre and zoom) rendered at the
 * output size; moving the centre is a pan, changing the zoom a zoom. Noise,
 * cross-fades and JPEG re-encoding simulate what cameras and codecs do.
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct
{
  gchar *path;
  gint width, height;
  guint8 *rgb;                  /* width * height * 3 */
} VssPhoto;

typedef struct
{
  gdouble cx, cy;               /* centre, 0..1 of the photo */
  gdouble zoom;                 /* >= 1: 1 is the largest window that fits */
} VssView;

gchar **vss_scene_default_photo_paths (GError ** error);

VssPhoto *vss_photo_load (const gchar * path, gint max_width, GError ** error);
void vss_photo_free (VssPhoto * photo);

void vss_view_clamp (const VssPhoto * photo, gint out_w, gint out_h,
    VssView * view);

void vss_scene_render (const VssPhoto * photo, const VssView * view,
    guint8 * out_rgb, gint out_w, gint out_h);

void vss_scene_add_noise (guint8 * rgb, gsize n_bytes, gdouble sigma,
    GRand * rand);

void vss_scene_blend (guint8 * dst, const guint8 * other, gsize n_bytes,
    gdouble alpha);

gboolean vss_scene_jpeg_roundtrip (guint8 * rgb, gint w, gint h, gint quality,
    GError ** error);

G_END_DECLS
