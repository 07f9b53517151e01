/* gst-vss: images for Titan Multimodal Embeddings (size limits, JPEG)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Raw frames are scaled with GstVideoConverter and compressed with libjpeg
 * directly: a plain function call that any thread can make, with no
 * element, pipeline or state change behind it. Already-compressed images
 * are sent as they are when within the model's limits; only oversized ones
 * are decoded (jpegdec/pngdec in a throw-away pipeline) and re-encoded.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gst/app/gstappsrc.h>
#include <gst/app/gstappsink.h>
#include "gstvssbedrockimage.h"
#include "gstvssbedrock.h"
#include "core/gstvssjpeg.h"

#define JPEG_QUALITY 90
#define DECODE_TIMEOUT (10 * GST_SECOND)

static guint
be16 (const guint8 * p)
{
  return (p[0] << 8) | p[1];
}

static guint
be32 (const guint8 * p)
{
  return ((guint) p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
}

/**
 * gst_vss_bedrock_image_probe:
 * @mime: (out): "image/jpeg" or "image/png"
 *
 * Reads the pixel size from a JPEG frame header or a PNG IHDR, without
 * decoding. Returns FALSE for anything else or a header it cannot find.
 */
gboolean
gst_vss_bedrock_image_probe (const guint8 * d, gsize len, const gchar ** mime,
    guint * width, guint * height)
{
  static const guint8 png_sig[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a,
    '\n'
  };
  gsize i;

  if (len >= 24 && memcmp (d, png_sig, 8) == 0
      && memcmp (d + 12, "IHDR", 4) == 0) {
    *mime = "image/png";
    *width = be32 (d + 16);
    *height = be32 (d + 20);
    return *width > 0 && *height > 0;
  }
  if (len < 4 || d[0] != 0xff || d[1] != 0xd8)
    return FALSE;
  i = 2;
  while (i + 4 <= len) {
    guint marker, seg;

    if (d[i] != 0xff)
      return FALSE;
    marker = d[i + 1];
    if (marker == 0xff) {       /* fill byte */
      i++;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd9)) {
      i += 2;
      continue;
    }
    seg = be16 (d + i + 2);
    if (seg < 2)
      return FALSE;
    if (((marker >= 0xc0 && marker <= 0xc3) || (marker >= 0xc5
                && marker <= 0xc7) || (marker >= 0xc9 && marker <= 0xcb)
            || (marker >= 0xcd && marker <= 0xcf)) && i + 9 <= len) {
      *mime = "image/jpeg";
      *height = be16 (d + i + 5);
      *width = be16 (d + i + 7);
      return *width > 0 && *height > 0;
    }
    i += 2 + seg;
  }
  return FALSE;
}

static void
fit_size (guint w, guint h, guint max_side, guint * ow, guint * oh)
{
  if (w <= max_side && h <= max_side) {
    *ow = w;
    *oh = h;
  } else if (w >= h) {
    *ow = max_side;
    *oh = MAX (1, (guint) ((guint64) h * max_side + w / 2) / w);
  } else {
    *oh = max_side;
    *ow = MAX (1, (guint) ((guint64) w * max_side + h / 2) / h);
  }
}

/**
 * gst_vss_bedrock_image_encode_frame:
 * @max_side: scale down (keeping the aspect ratio, never up) so that
 *   neither side is larger
 * @max_bytes: lower the quality until the JPEG is at most this big
 *
 * Returns: (transfer full): a JPEG of the frame, or NULL with @error
 */
GBytes *
gst_vss_bedrock_image_encode_frame (const GstVideoFrame * frame, guint max_side,
    gsize max_bytes, GError ** error)
{
  GstVideoInfo out_info;
  GstVideoConverter *conv;
  GstVideoFrame out;
  GstBuffer *rgb;
  GBytes *jpeg = NULL;
  guint w, h;
  gint q;

  fit_size (GST_VIDEO_FRAME_WIDTH (frame), GST_VIDEO_FRAME_HEIGHT (frame),
      max_side, &w, &h);
  gst_video_info_set_interlaced_format (&out_info, GST_VIDEO_FORMAT_RGB,
      GST_VIDEO_INFO_INTERLACE_MODE (&frame->info), w, h);
  /* The converter insists on equal rates; they mean nothing here. */
  GST_VIDEO_INFO_FPS_N (&out_info) = GST_VIDEO_INFO_FPS_N (&frame->info);
  GST_VIDEO_INFO_FPS_D (&out_info) = GST_VIDEO_INFO_FPS_D (&frame->info);
  rgb = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&out_info), NULL);
  if (!gst_video_frame_map (&out, &out_info, rgb, GST_MAP_WRITE)) {
    gst_buffer_unref (rgb);
    g_set_error (error, GST_VSS_BEDROCK_ERROR, 0, "cannot map RGB frame");
    return NULL;
  }
  conv = gst_video_converter_new ((GstVideoInfo *) & frame->info, &out_info,
      NULL);
  if (!conv) {
    gst_video_frame_unmap (&out);
    gst_buffer_unref (rgb);
    g_set_error (error, GST_VSS_BEDROCK_ERROR, 0,
        "cannot convert %s to RGB", GST_VIDEO_INFO_NAME (&frame->info));
    return NULL;
  }
  gst_video_converter_frame (conv, frame, &out);
  gst_video_converter_free (conv);

  for (q = JPEG_QUALITY; q >= 30; q -= 15) {
    GError *err = NULL;

    if (jpeg)
      g_bytes_unref (jpeg);
    jpeg = gst_vss_jpeg_encode_rgb (GST_VIDEO_FRAME_PLANE_DATA (&out, 0),
        GST_VIDEO_FRAME_PLANE_STRIDE (&out, 0), w, h, q, &err);
    if (!jpeg) {
      g_set_error_literal (error, GST_VSS_BEDROCK_ERROR, 0, err->message);
      g_error_free (err);
      break;
    }
    if (g_bytes_get_size (jpeg) <= max_bytes)
      break;
  }
  gst_video_frame_unmap (&out);
  gst_buffer_unref (rgb);
  if (jpeg && g_bytes_get_size (jpeg) > max_bytes) {
    g_set_error (error, GST_VSS_BEDROCK_ERROR, 0,
        "a %ux%u JPEG stays above %" G_GSIZE_FORMAT " bytes", w, h, max_bytes);
    g_clear_pointer (&jpeg, g_bytes_unref);
  }
  return jpeg;
}

/* Decodes a JPEG or PNG to raw RGB with jpegdec/pngdec. */
static GstSample *
decode_image (GBytes * image, const gchar * mime, GError ** error)
{
  gchar *desc = g_strdup_printf ("appsrc name=src caps=%s ! %s ! "
      "videoconvert ! video/x-raw,format=RGB ! appsink name=sink sync=false",
      mime, strcmp (mime, "image/png") == 0 ? "pngdec" : "jpegdec");
  GstElement *pipe = gst_parse_launch (desc, error), *src, *sink;
  GstSample *sample;

  g_free (desc);
  if (!pipe)
    return NULL;
  src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  gst_app_src_push_buffer (GST_APP_SRC (src),
      gst_buffer_new_wrapped_bytes (image));
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), DECODE_TIMEOUT);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipe);
  if (!sample)
    g_set_error (error, GST_VSS_BEDROCK_ERROR, 0, "cannot decode the %s "
        "image (%" G_GSIZE_FORMAT " bytes)", mime, g_bytes_get_size (image));
  return sample;
}

/**
 * gst_vss_bedrock_image_fit:
 * @image: a JPEG or PNG
 * @reencoded: (out): whether the image had to be decoded and re-encoded
 *
 * Returns: (transfer full): @image itself when it is within @max_side and
 *   @max_bytes, else a JPEG that is; NULL with @error when @image is not a
 *   readable JPEG or PNG.
 */
GBytes *
gst_vss_bedrock_image_fit (GBytes * image, guint max_side, gsize max_bytes,
    gboolean * reencoded, GError ** error)
{
  const gchar *mime;
  guint w, h;
  gsize len;
  const guint8 *d = g_bytes_get_data (image, &len);
  GstSample *sample;
  GstVideoInfo info;
  GstVideoFrame frame;
  GBytes *ret = NULL;

  *reencoded = FALSE;
  if (!gst_vss_bedrock_image_probe (d, len, &mime, &w, &h)) {
    g_set_error (error, GST_VSS_BEDROCK_ERROR, 0,
        "not a JPEG or PNG image with a readable size (%" G_GSIZE_FORMAT
        " bytes)", len);
    return NULL;
  }
  if (w <= max_side && h <= max_side && len <= max_bytes)
    return g_bytes_ref (image);

  sample = decode_image (image, mime, error);
  if (!sample)
    return NULL;
  if (!gst_video_info_from_caps (&info, gst_sample_get_caps (sample))
      || !gst_video_frame_map (&frame, &info, gst_sample_get_buffer (sample),
          GST_MAP_READ)) {
    g_set_error (error, GST_VSS_BEDROCK_ERROR, 0,
        "decoded %s image is unreadable", mime);
  } else {
    ret =
        gst_vss_bedrock_image_encode_frame (&frame, max_side, max_bytes, error);
    gst_video_frame_unmap (&frame);
    *reencoded = ret != NULL;
  }
  gst_sample_unref (sample);
  return ret;
}
