/* gst-vss tests: feeding vsssink through its own pad
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>
#include "vss-sink-feeder.h"

GPtrArray *jpegs;               /* GBytes */

/* Frames */

void
make_jpegs (void)
{
  GError *err = NULL;
  GstElement *p = gst_parse_launch ("videotestsrc pattern=ball num-buffers=6 "
      "! video/x-raw,width=160,height=90 ! jpegenc ! appsink name=out "
      "sync=false", &err);
  GstElement *out;
  GstSample *s;

  g_assert_no_error (err);
  out = gst_bin_get_by_name (GST_BIN (p), "out");
  jpegs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_assert_cmpint (gst_element_set_state (p, GST_STATE_PLAYING), !=,
      GST_STATE_CHANGE_FAILURE);
  while (TRUE) {
    GstBuffer *b;
    GstMapInfo map;

    g_signal_emit_by_name (out, "pull-sample", &s);
    if (s == NULL)
      break;
    b = gst_sample_get_buffer (s);
    gst_buffer_map (b, &map, GST_MAP_READ);
    g_ptr_array_add (jpegs, g_bytes_new (map.data, map.size));
    gst_buffer_unmap (b, &map);
    gst_sample_unref (s);
  }
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (out);
  gst_object_unref (p);
  g_assert_cmpuint (jpegs->len, ==, 6);
}

void
vector_for (guint i, guint dim, gfloat * v)
{
  for (guint j = 0; j < dim; j++)
    v[j] = sinf ((gfloat) (i * 7 + j) * 0.37f) + (j == i % dim ? 2.0f : 0);
}

GstBuffer *
make_frame (guint i, guint dim, gchar id[GST_VSS_FRAME_ID_SIZE])
{
  GBytes *jpeg = g_ptr_array_index (jpegs, i % jpegs->len);
  GstBuffer *b = gst_buffer_new_memdup (g_bytes_get_data (jpeg, NULL),
      g_bytes_get_size (jpeg));
  gfloat *v = g_new (gfloat, dim);

  gst_vss_frame_id_new (g_get_real_time (), id);
  vector_for (i, dim, v);
  gst_vss_buffer_add_embedding_meta (b, MODEL, v, dim, FALSE, id);
  g_free (v);
  GST_BUFFER_PTS (b) = i * 40 * GST_MSECOND;
  return b;
}

/* A sink fed through its own pad */



Feeder *
feeder_new (const gchar * caps_str, const gchar * first_prop, ...)
{
  Feeder *f = g_new0 (Feeder, 1);
  GstCaps *caps = gst_caps_from_string (caps_str ? caps_str : "image/jpeg");
  GstSegment seg;
  const gchar *name;
  va_list ap;

  f->sink = gst_element_factory_make ("vsssink", NULL);
  g_assert_nonnull (f->sink);
  g_object_set (f->sink, "async", FALSE, NULL);
  va_start (ap, first_prop);
  for (name = first_prop; name; name = va_arg (ap, const gchar *))
      gst_util_set_object_arg (G_OBJECT (f->sink), name, va_arg (ap,
            const gchar *));
  va_end (ap);
  f->bus = gst_bus_new ();
  gst_element_set_bus (f->sink, f->bus);
  f->ids = g_ptr_array_new_with_free_func (g_free);
  f->src = gst_pad_new ("src", GST_PAD_SRC);
  gst_pad_set_active (f->src, TRUE);
  {
    GstPad *sinkpad = gst_element_get_static_pad (f->sink, "sink");

    g_assert_cmpint (gst_pad_link (f->src, sinkpad), ==, GST_PAD_LINK_OK);
    gst_object_unref (sinkpad);
  }
  if (gst_element_set_state (f->sink, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    gst_caps_unref (caps);
    return f;                   /* the caller checks the bus */
  }
  gst_pad_push_event (f->src, gst_event_new_stream_start ("test/stream"));
  gst_pad_push_event (f->src, gst_event_new_caps (caps));
  gst_segment_init (&seg, GST_FORMAT_TIME);
  gst_pad_push_event (f->src, gst_event_new_segment (&seg));
  gst_caps_unref (caps);
  return f;
}

GstFlowReturn
feeder_push (Feeder * f, guint i)
{
  gchar id[GST_VSS_FRAME_ID_SIZE];
  GstFlowReturn ret = gst_pad_push (f->src, make_frame (i, DIM, id));

  if (ret == GST_FLOW_OK)
    g_ptr_array_add (f->ids, g_strdup (id));
  return ret;
}

/* Sends EOS and waits for the sink's EOS (or an error) on the bus. */
gchar *
feeder_finish (Feeder * f, guint * n_stored)
{
  gchar *error = NULL;
  GstMessage *m;

  gst_pad_push_event (f->src, gst_event_new_eos ());
  if (n_stored)
    *n_stored = 0;
  while ((m = gst_bus_timed_pop (f->bus, 120 * GST_SECOND))) {
    gboolean done = FALSE;

    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS)
      done = TRUE;
    else if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR && error == NULL) {
      GError *e;

      gst_message_parse_error (m, &e, NULL);
      error = g_strdup (e->message);
      g_error_free (e);
      done = TRUE;
    } else if (n_stored && GST_MESSAGE_TYPE (m) == GST_MESSAGE_ELEMENT
        && gst_message_has_name (m, "vss-stored"))
      (*n_stored)++;
    gst_message_unref (m);
    if (done)
      break;
  }
  return error;
}

/* First error on the bus, or NULL. */
gchar *
feeder_pop_error (Feeder * f)
{
  GstMessage *m = gst_bus_pop_filtered (f->bus, GST_MESSAGE_ERROR);
  gchar *out = NULL;
  GError *e;
  gchar *dbg = NULL;

  if (m == NULL)
    return NULL;
  gst_message_parse_error (m, &e, &dbg);
  out = g_strdup_printf ("%s | %s", e->message, dbg ? dbg : "");
  g_error_free (e);
  g_free (dbg);
  gst_message_unref (m);
  return out;
}

GstStructure *
feeder_stats (Feeder * f)
{
  GstStructure *s = NULL;

  g_object_get (f->sink, "stats", &s, NULL);
  return s;
}

guint64
stat_of (const GstStructure * s, const gchar * name)
{
  guint64 v = 0;

  g_assert_true (gst_structure_get_uint64 (s, name, &v));
  return v;
}

void
feeder_free (Feeder * f)
{
  gst_element_set_state (f->sink, GST_STATE_NULL);
  gst_element_set_bus (f->sink, NULL);
  gst_object_unref (f->sink);
  gst_object_unref (f->src);
  gst_object_unref (f->bus);
  g_ptr_array_unref (f->ids);
  g_free (f);
}

/* Checks */
