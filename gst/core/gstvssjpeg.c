/* gst-vss: JPEG in memory with libjpeg
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * libjpeg reports errors by calling error_exit, which must not return:
 * it jumps back to the caller, which cleans up and returns a GError.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <string.h>
#include <jpeglib.h>
#include <gst/gst.h>
#include "gstvssjpeg.h"

typedef struct
{
  struct jpeg_error_mgr mgr;
  jmp_buf jump;
  gchar msg[JMSG_LENGTH_MAX];
} JpegErr;

static void
jpeg_error_exit (j_common_ptr cinfo)
{
  JpegErr *e = (JpegErr *) cinfo->err;

  e->mgr.format_message (cinfo, e->msg);
  longjmp (e->jump, 1);
}

static void
jpeg_quiet (j_common_ptr cinfo, int level)
{
}

static void
jpeg_err_init (JpegErr * e)
{
  jpeg_std_error (&e->mgr);
  e->mgr.error_exit = jpeg_error_exit;
  e->mgr.emit_message = jpeg_quiet;
  e->msg[0] = '\0';
}

/**
 * gst_vss_jpeg_encode_rgb:
 * @rgb: packed RGB rows, @stride bytes apart
 *
 * Returns: (transfer full): the JPEG, or %NULL with @error on a libjpeg
 *   failure.
 */
GBytes *
gst_vss_jpeg_encode_rgb (const guint8 * rgb, gint stride, guint w, guint h,
    gint quality, GError ** error)
{
  struct jpeg_compress_struct cinfo;
  JpegErr jerr;
  unsigned char *volatile out = NULL;
  unsigned long out_len = 0;
  GBytes *ret;

  memset (&cinfo, 0, sizeof (cinfo));
  jpeg_err_init (&jerr);
  cinfo.err = &jerr.mgr;
  if (setjmp (jerr.jump)) {
    jpeg_destroy_compress (&cinfo);
    free (out);
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_ENCODE,
        "JPEG encoding failed: %s", jerr.msg);
    return NULL;
  }
  jpeg_create_compress (&cinfo);
  jpeg_mem_dest (&cinfo, (unsigned char **) &out, &out_len);
  cinfo.image_width = w;
  cinfo.image_height = h;
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults (&cinfo);
  jpeg_set_quality (&cinfo, quality, TRUE);
  jpeg_start_compress (&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = (JSAMPROW) (rgb + (gsize) cinfo.next_scanline * stride);

    jpeg_write_scanlines (&cinfo, &row, 1);
  }
  jpeg_finish_compress (&cinfo);
  jpeg_destroy_compress (&cinfo);
  ret = g_bytes_new (out, out_len);
  free (out);
  return ret;
}

/**
 * gst_vss_jpeg_decode_rgb:
 * @rgb: (out caller-allocates): @w x @h packed RGB
 *
 * Decodes a JPEG of exactly @w x @h pixels.
 *
 * Returns: %FALSE with @error when it cannot, or has another size.
 */
gboolean
gst_vss_jpeg_decode_rgb (const guint8 * data, gsize len, guint8 * rgb,
    guint w, guint h, GError ** error)
{
  struct jpeg_decompress_struct d;
  JpegErr jerr;

  memset (&d, 0, sizeof (d));
  jpeg_err_init (&jerr);
  d.err = &jerr.mgr;
  if (setjmp (jerr.jump)) {
    jpeg_destroy_decompress (&d);
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_DECODE,
        "JPEG decoding failed: %s", jerr.msg);
    return FALSE;
  }
  jpeg_create_decompress (&d);
  jpeg_mem_src (&d, data, len);
  jpeg_read_header (&d, TRUE);
  d.out_color_space = JCS_RGB;
  jpeg_start_decompress (&d);
  if (d.output_width != w || d.output_height != h || d.output_components != 3) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_DECODE,
        "the JPEG is %ux%u, not %ux%u", d.output_width, d.output_height, w, h);
    jpeg_destroy_decompress (&d);
    return FALSE;
  }
  while (d.output_scanline < d.output_height) {
    JSAMPROW row = rgb + (gsize) d.output_scanline * w * 3;

    jpeg_read_scanlines (&d, &row, 1);
  }
  jpeg_finish_decompress (&d);
  jpeg_destroy_decompress (&d);
  return TRUE;
}
