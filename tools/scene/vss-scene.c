/* gst-vss: synthetic scenes from real photographs
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>
#include "vss-scene.h"

#ifndef VSS_PHOTOS_LIST
#error "VSS_PHOTOS_LIST must name tools/scene/photos.txt"
#endif

/**
 * vss_scene_default_photo_paths:
 *
 * Returns: (transfer full): the photographs listed in photos.txt, or %NULL
 * with an error naming the Debian package to install when one is missing.
 */
gchar **
vss_scene_default_photo_paths (GError ** error)
{
  gchar *text = NULL;
  gchar **lines, **l;
  GPtrArray *paths;
  const gchar *package = "?";

  if (!g_file_get_contents (VSS_PHOTOS_LIST, &text, NULL, error))
    return NULL;
  lines = g_strsplit (text, "\n", -1);
  g_free (text);
  paths = g_ptr_array_new_with_free_func (g_free);
  for (l = lines; *l; l++) {
    gchar *line = g_strstrip (*l);

    if (g_str_has_prefix (line, "# package:")) {
      package = line + strlen ("# package:");
      while (*package == ' ')
        package++;
      continue;
    }
    if (line[0] == '\0' || line[0] == '#')
      continue;
    if (!g_file_test (line, G_FILE_TEST_IS_REGULAR)) {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
          "Photograph %s is missing: install the Debian package '%s' "
          "(tools/install-deps.sh does)", line, package);
      g_ptr_array_free (paths, TRUE);
      g_strfreev (lines);
      return NULL;
    }
    g_ptr_array_add (paths, g_strdup (line));
  }
  g_strfreev (lines);
  g_ptr_array_add (paths, NULL);
  return (gchar **) g_ptr_array_free (paths, FALSE);
}

static GstSample *
pull_one_sample (const gchar * desc, GstBuffer * push, const gchar * src_caps,
    GError ** error)
{
  GstElement *pipeline;
  GstElement *sink;
  GstSample *sample = NULL;
  GstBus *bus;
  GstMessage *msg;

  pipeline = gst_parse_launch (desc, error);
  if (pipeline == NULL)
    return NULL;
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  if (push != NULL) {
    GstElement *src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
    GstCaps *caps = gst_caps_from_string (src_caps);

    gst_app_src_set_caps (GST_APP_SRC (src), caps);
    gst_caps_unref (caps);
    gst_app_src_push_buffer (GST_APP_SRC (src), push);
    gst_app_src_end_of_stream (GST_APP_SRC (src));
    gst_object_unref (src);
  }
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 30 * GST_SECOND);
  if (sample == NULL) {
    bus = gst_element_get_bus (pipeline);
    msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    if (msg != NULL) {
      gst_message_parse_error (msg, error, NULL);
      gst_message_unref (msg);
    } else {
      g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED,
          "no frame came out of '%s'", desc);
    }
    gst_object_unref (bus);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  return sample;
}

/* Box-filter downscale by an integer factor: keeps detail honest (no
 * aliasing) while bounding memory for 5K photographs. */
static guint8 *
downscale (const guint8 * src, gint w, gint h, gint stride, gint f,
    gint * ow, gint * oh)
{
  gint nw = w / f, nh = h / f, x, y, dx, dy, c;
  guint8 *dst = g_malloc ((gsize) nw * nh * 3);

  for (y = 0; y < nh; y++)
    for (x = 0; x < nw; x++)
      for (c = 0; c < 3; c++) {
        guint s = 0;
        for (dy = 0; dy < f; dy++)
          for (dx = 0; dx < f; dx++)
            s += src[(gsize) (y * f + dy) * stride + (x * f + dx) * 3 + c];
        dst[((gsize) y * nw + x) * 3 + c] = (guint8) ((s + f * f / 2) / (f * f));
      }
  *ow = nw;
  *oh = nh;
  return dst;
}

/**
 * vss_photo_load:
 * @max_width: downscale by an integer factor until the width is at most this
 */
VssPhoto *
vss_photo_load (const gchar * path, gint max_width, GError ** error)
{
  gchar *loc = g_strescape (path, NULL);
  gchar *desc = g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! "
      "videoconvert ! video/x-raw,format=RGB ! appsink name=sink sync=false",
      loc);
  GstSample *sample = pull_one_sample (desc, NULL, NULL, error);
  GstVideoInfo info;
  GstVideoFrame frame;
  VssPhoto *photo;
  gint f = 1;

  g_free (desc);
  g_free (loc);
  if (sample == NULL)
    return NULL;
  gst_video_info_from_caps (&info, gst_sample_get_caps (sample));
  if (!gst_video_frame_map (&frame, &info, gst_sample_get_buffer (sample),
          GST_MAP_READ)) {
    gst_sample_unref (sample);
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED,
        "cannot map decoded %s", path);
    return NULL;
  }
  while (GST_VIDEO_INFO_WIDTH (&info) / f > max_width)
    f++;
  photo = g_new0 (VssPhoto, 1);
  photo->path = g_strdup (path);
  photo->rgb = downscale (GST_VIDEO_FRAME_PLANE_DATA (&frame, 0),
      GST_VIDEO_INFO_WIDTH (&info), GST_VIDEO_INFO_HEIGHT (&info),
      GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0), f, &photo->width,
      &photo->height);
  gst_video_frame_unmap (&frame);
  gst_sample_unref (sample);
  return photo;
}

void
vss_photo_free (VssPhoto * photo)
{
  if (photo == NULL)
    return;
  g_free (photo->path);
  g_free (photo->rgb);
  g_free (photo);
}

static void
view_window (const VssPhoto * photo, gint out_w, gint out_h,
    const VssView * view, gdouble * x0, gdouble * y0, gdouble * ww,
    gdouble * wh)
{
  gdouble aspect = (gdouble) out_w / out_h;
  gdouble bw = MIN ((gdouble) photo->width, photo->height * aspect);
  gdouble bh = bw / aspect;

  *ww = bw / MAX (view->zoom, 1.0);
  *wh = bh / MAX (view->zoom, 1.0);
  *x0 = view->cx * photo->width - *ww / 2;
  *y0 = view->cy * photo->height - *wh / 2;
}

/* Keep the window inside the photo. */
void
vss_view_clamp (const VssPhoto * photo, gint out_w, gint out_h, VssView * view)
{
  gdouble x0, y0, ww, wh;

  if (view->zoom < 1.0)
    view->zoom = 1.0;
  view_window (photo, out_w, out_h, view, &x0, &y0, &ww, &wh);
  view->cx = CLAMP (view->cx, ww / 2 / photo->width,
      1.0 - ww / 2 / photo->width);
  view->cy = CLAMP (view->cy, wh / 2 / photo->height,
      1.0 - wh / 2 / photo->height);
}

/* Bilinear resampling of the view's window to the output size. */
void
vss_scene_render (const VssPhoto * photo, const VssView * view,
    guint8 * out, gint out_w, gint out_h)
{
  gdouble x0, y0, ww, wh, sx = 0, sy = 0;
  gint x, y, c;
  const gint pw = photo->width, ph = photo->height;

  view_window (photo, out_w, out_h, view, &x0, &y0, &ww, &wh);
  for (y = 0; y < out_h; y++) {
    gint iy;
    gdouble fy;

    sy = y0 + (y + 0.5) * wh / out_h - 0.5;
    sy = CLAMP (sy, 0, ph - 1.001);
    iy = (gint) sy;
    fy = sy - iy;
    for (x = 0; x < out_w; x++) {
      gint ix;
      gdouble fx;
      const guint8 *p00, *p01, *p10, *p11;

      sx = x0 + (x + 0.5) * ww / out_w - 0.5;
      sx = CLAMP (sx, 0, pw - 1.001);
      ix = (gint) sx;
      fx = sx - ix;
      p00 = photo->rgb + ((gsize) iy * pw + ix) * 3;
      p01 = p00 + 3;
      p10 = p00 + (gsize) pw * 3;
      p11 = p10 + 3;
      for (c = 0; c < 3; c++) {
        gdouble v = (p00[c] * (1 - fx) + p01[c] * fx) * (1 - fy) +
            (p10[c] * (1 - fx) + p11[c] * fx) * fy;
        out[((gsize) y * out_w + x) * 3 + c] = (guint8) (v + 0.5);
      }
    }
  }
}

#define NOISE_TABLE 65536

/* Gaussian noise from a table of N(0,1) draws indexed by a cheap random
 * walk: statistically plenty for simulated sensor noise, and ~50x faster
 * than drawing per pixel. Deterministic for a given GRand state. */
void
vss_scene_add_noise (guint8 * rgb, gsize n, gdouble sigma, GRand * rand)
{
  static gfloat *table = NULL;
  gsize i;
  guint32 idx, step;

  if (sigma <= 0)
    return;
  if (g_once_init_enter (&table)) {
    GRand *r = g_rand_new_with_seed (12345);
    gfloat *t = g_new (gfloat, NOISE_TABLE);
    for (i = 0; i < NOISE_TABLE; i++) {
      gdouble u1 = g_rand_double_range (r, 1e-12, 1.0);
      gdouble u2 = g_rand_double (r);
      t[i] = (gfloat) (sqrt (-2 * log (u1)) * cos (2 * G_PI * u2));
    }
    g_rand_free (r);
    g_once_init_leave (&table, t);
  }
  idx = g_rand_int (rand);
  step = g_rand_int (rand) | 1;
  for (i = 0; i < n; i++) {
    gint v;

    /* xorshift32 for the index sequence */
    idx ^= idx << 13;
    idx ^= idx >> 17;
    idx ^= idx << 5;
    v = (gint) lroundf (rgb[i] + (gfloat) sigma * table[(idx + step) &
            (NOISE_TABLE - 1)]);
    rgb[i] = (guint8) CLAMP (v, 0, 255);
  }
}

void
vss_scene_blend (guint8 * dst, const guint8 * other, gsize n, gdouble alpha)
{
  gsize i;

  for (i = 0; i < n; i++)
    dst[i] = (guint8) lround (dst[i] * (1 - alpha) + other[i] * alpha);
}

/* Encode to JPEG at @quality and decode again, in place. */
gboolean
vss_scene_jpeg_roundtrip (guint8 * rgb, gint w, gint h, gint quality,
    GError ** error)
{
  gchar *desc = g_strdup_printf ("appsrc name=src ! videoconvert ! "
      "jpegenc quality=%d ! jpegdec ! videoconvert ! video/x-raw,format=RGB ! "
      "appsink name=sink sync=false", quality);
  gchar *caps = g_strdup_printf ("video/x-raw,format=RGB,width=%d,height=%d,"
      "framerate=0/1", w, h);
  GstVideoInfo info;
  GstBuffer *in;
  GstSample *sample;
  GstVideoFrame frame;
  gint y;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, w, h);
  in = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  gst_video_frame_map (&frame, &info, in, GST_MAP_WRITE);
  for (y = 0; y < h; y++)
    memcpy ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0) +
        (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0),
        rgb + (gsize) y * w * 3, (gsize) w * 3);
  gst_video_frame_unmap (&frame);

  sample = pull_one_sample (desc, in, caps, error);
  g_free (desc);
  g_free (caps);
  if (sample == NULL)
    return FALSE;
  gst_video_info_from_caps (&info, gst_sample_get_caps (sample));
  gst_video_frame_map (&frame, &info, gst_sample_get_buffer (sample),
      GST_MAP_READ);
  for (y = 0; y < h; y++)
    memcpy (rgb + (gsize) y * w * 3,
        (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0) +
        (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0), (gsize) w * 3);
  gst_video_frame_unmap (&frame);
  gst_sample_unref (sample);
  return TRUE;
}
