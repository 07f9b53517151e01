/* gst-vss: vsssink frames and their spool records
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A record is a GVariant in normal form, so that reading one back checks
 * its shape as well as the spool's checksum does its bytes.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstvsssinkrecord.h"
#include "gstvssspool.h"

#define RECORD_TYPE "(sssssssxxtdbbayay)"

void
vss_sink_frame_free (VssSinkFrame * f)
{
  if (f == NULL)
    return;
  g_free (f->id);
  g_free (f->stream);
  g_free (f->key);
  g_free (f->object_key);
  g_free (f->uri);
  g_free (f->content_type);
  g_free (f->model);
  if (f->vector)
    g_bytes_unref (f->vector);
  if (f->image)
    g_bytes_unref (f->image);
  g_free (f);
}

static GVariant *
bytes_variant (GBytes * b)
{
  if (b == NULL)
    return g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, NULL, 0, 1);
  return g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, b, TRUE);
}

GBytes *
vss_sink_frame_serialize (const VssSinkFrame * f)
{
  GVariant *v = g_variant_new ("(sssssssxxtdbb@ay@ay)", f->id, f->stream, f->key,
      f->object_key, f->uri, f->content_type, f->model, f->ts_ms, f->pts,
      f->size, f->dedup_distance, f->has_dedup, f->object_done,
      bytes_variant (f->vector), f->object_done ? bytes_variant (NULL) :
      bytes_variant (f->image));
  GBytes *b;

  g_variant_ref_sink (v);
  b = g_variant_get_data_as_bytes (v);
  g_variant_unref (v);
  return b;
}

VssSinkFrame *
vss_sink_frame_deserialize (GBytes * bytes, GError ** error)
{
  GVariant *v = g_variant_new_from_bytes (G_VARIANT_TYPE (RECORD_TYPE),
      bytes, FALSE);
  VssSinkFrame *f;
  GVariant *vec, *img;

  g_variant_ref_sink (v);
  if (!g_variant_is_normal_form (v)) {
    g_variant_unref (v);
    g_set_error (error, VSS_SPOOL_ERROR, VSS_SPOOL_ERROR_CORRUPT,
        "Spool record is not a vsssink frame");
    return NULL;
  }
  f = g_new0 (VssSinkFrame, 1);
  g_variant_get (v, "(sssssssxxtdbb@ay@ay)", &f->id, &f->stream, &f->key,
      &f->object_key, &f->uri, &f->content_type, &f->model, &f->ts_ms,
      &f->pts, &f->size, &f->dedup_distance, &f->has_dedup, &f->object_done,
      &vec, &img);
  f->vector = g_variant_get_data_as_bytes (vec);
  if (!f->object_done && g_variant_n_children (img) > 0)
    f->image = g_variant_get_data_as_bytes (img);
  else
    f->object_done = TRUE;
  g_variant_unref (vec);
  g_variant_unref (img);
  g_variant_unref (v);
  return f;
}
