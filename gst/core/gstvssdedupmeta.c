/* gst-vss: what vssdedup found for a kept frame
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstvssdedupmeta.h"

void
gst_vss_dedup_meta_register (void)
{
  static gsize once = 0;

  if (g_once_init_enter (&once)) {
    static const gchar *tags[] = { NULL };
    gst_meta_register_custom (GST_VSS_DEDUP_META_NAME, tags, NULL, NULL, NULL);
    g_once_init_leave (&once, 1);
  }
}

/**
 * gst_vss_buffer_set_dedup_info:
 * @buffer: a writable buffer
 *
 * Records the dedup decision's numbers on @buffer, replacing earlier ones.
 */
gboolean
gst_vss_buffer_set_dedup_info (GstBuffer * buffer, gdouble distance,
    const gchar * matched_frame_id)
{
  GstCustomMeta *meta;
  GstStructure *s;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), FALSE);
  g_return_val_if_fail (gst_buffer_is_writable (buffer), FALSE);
  gst_vss_dedup_meta_register ();

  meta = gst_buffer_get_custom_meta (buffer, GST_VSS_DEDUP_META_NAME);
  if (meta == NULL)
    meta = gst_buffer_add_custom_meta (buffer, GST_VSS_DEDUP_META_NAME);
  if (meta == NULL)
    return FALSE;
  s = gst_custom_meta_get_structure (meta);
  gst_structure_set (s, "distance", G_TYPE_DOUBLE, distance,
      "matched-frame-id", G_TYPE_STRING,
      matched_frame_id ? matched_frame_id : "", NULL);
  return TRUE;
}

gboolean
gst_vss_buffer_get_dedup_info (GstBuffer * buffer, gdouble * distance,
    const gchar ** matched_frame_id)
{
  GstCustomMeta *meta;
  GstStructure *s;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), FALSE);
  gst_vss_dedup_meta_register ();
  meta = gst_buffer_get_custom_meta (buffer, GST_VSS_DEDUP_META_NAME);
  if (meta == NULL)
    return FALSE;
  s = gst_custom_meta_get_structure (meta);
  if (distance && !gst_structure_get_double (s, "distance", distance))
    return FALSE;
  if (matched_frame_id)
    *matched_frame_id = gst_structure_get_string (s, "matched-frame-id");
  return TRUE;
}
