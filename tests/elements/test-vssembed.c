/* gst-vss: vssembed element tests (GstHarness)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include "gstvss.h"

static const gchar *formats[] = { "I420", "YV12", "NV12", "NV21", "Y42B",
  "Y444", "YUY2", "UYVY", "GRAY8", "RGB", "BGR", "RGBx", "BGRx", "xRGB",
  "xBGR", "RGBA", "BGRA", "ARGB", "ABGR"
};

/* A frame of @format with a diagonal gradient and a coloured block, made by
 * converting an RGB image so every format shows the same picture. */
static GstBuffer *
make_frame (const gchar * format, gint w, gint h, gint shift)
{
  GstVideoInfo rgb_info, out_info;
  GstVideoFrame in, out;
  GstBuffer *rgb, *buf;
  GstVideoConverter *conv;

  gst_video_info_set_format (&rgb_info, GST_VIDEO_FORMAT_RGB, w, h);
  gst_video_info_set_format (&out_info, gst_video_format_from_string (format),
      w, h);
  rgb = gst_buffer_new_allocate (NULL, rgb_info.size, NULL);
  buf = gst_buffer_new_allocate (NULL, out_info.size, NULL);
  fail_unless (gst_video_frame_map (&in, &rgb_info, rgb, GST_MAP_WRITE));
  for (gint y = 0; y < h; y++) {
    guint8 *row = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&in, 0) +
        y * GST_VIDEO_FRAME_PLANE_STRIDE (&in, 0);
    for (gint x = 0; x < w; x++) {
      gint xx = x + shift;
      gboolean block = xx > w / 3 && xx < w / 2 && y > h / 4 && y < h / 2;
      row[x * 3 + 0] = block ? 220 : (guint8) (xx * 255 / (w + 64));
      row[x * 3 + 1] = block ? 40 : (guint8) (y * 255 / h);
      row[x * 3 + 2] = block ? 30 : (guint8) (((xx + y) * 128) / (w + h));
    }
  }
  fail_unless (gst_video_frame_map (&out, &out_info, buf, GST_MAP_WRITE));
  conv = gst_video_converter_new (&rgb_info, &out_info, NULL);
  gst_video_converter_frame (conv, &in, &out);
  gst_video_converter_free (conv);
  gst_video_frame_unmap (&in);
  gst_video_frame_unmap (&out);
  gst_buffer_unref (rgb);
  return buf;
}

static gchar *
caps_for (const gchar * format, gint w, gint h)
{
  return g_strdup_printf ("video/x-raw,format=%s,width=%d,height=%d,"
      "framerate=1/1", format, w, h);
}

static gdouble
distance (const GstVssEmbeddingMeta * a, const GstVssEmbeddingMeta * b)
{
  gdouble dot = 0;

  fail_unless_equals_int (a->dim, b->dim);
  for (guint i = 0; i < a->dim; i++)
    dot += (gdouble) a->vector[i] * b->vector[i];
  return 1.0 - dot;
}

static void
check_meta (GstBuffer * buf)
{
  GstVssEmbeddingMeta *m = gst_vss_buffer_get_embedding_meta (buf,
      GST_VSS_EMBED_LOCAL_MODEL);
  gdouble norm = 0;

  fail_unless (m != NULL, "no embedding meta on output buffer");
  fail_unless_equals_int (m->dim, gst_vss_embed_local_dim ());
  fail_unless (m->normalized);
  fail_unless (gst_vss_frame_id_is_valid (m->frame_id), "bad id '%s'",
      m->frame_id);
  for (guint i = 0; i < m->dim; i++) {
    fail_unless (isfinite (m->vector[i]));
    norm += (gdouble) m->vector[i] * m->vector[i];
  }
  fail_unless (fabs (norm - 1.0) < 1e-4, "norm %f", norm);
}

/* Every format negotiates, every buffer gets a meta, and all formats of one
 * picture embed to nearly the same vector. */
GST_START_TEST (test_formats)
{
  GstBuffer *ref_out = NULL;

  for (guint f = 0; f < G_N_ELEMENTS (formats); f++) {
    GstHarness *h = gst_harness_new ("vssembed");
    gchar *caps = caps_for (formats[f], 320, 240);
    GstBuffer *out;

    gst_harness_set_src_caps_str (h, caps);
    fail_unless_equals_int (gst_harness_push (h, make_frame (formats[f], 320,
                240, 0)), GST_FLOW_OK);
    out = gst_harness_pull (h);
    fail_unless (out != NULL);
    check_meta (out);
    if (ref_out == NULL) {
      ref_out = gst_buffer_ref (out);
    } else if (strcmp (formats[f], "GRAY8") != 0) {
      gdouble d = distance (gst_vss_buffer_get_embedding_meta (ref_out, NULL),
          gst_vss_buffer_get_embedding_meta (out, NULL));
      fail_unless (d < 0.01, "%s vs I420: distance %f", formats[f], d);
    }
    gst_buffer_unref (out);
    gst_harness_teardown (h);
    g_free (caps);
  }
  gst_buffer_unref (ref_out);
}

GST_END_TEST;

/* Odd and tiny sizes, including frames smaller than the internal grid. */
GST_START_TEST (test_sizes)
{
  const gint sizes[][2] = { {1, 1}, {2, 2}, {7, 5}, {33, 17}, {31, 1},
  {1, 31}, {1921, 1081}, {3840, 2160}
  };

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
    GstHarness *h = gst_harness_new ("vssembed");
    gchar *caps = caps_for ("I420", sizes[s][0], sizes[s][1]);
    GstBuffer *out;

    gst_harness_set_src_caps_str (h, caps);
    fail_unless_equals_int (gst_harness_push (h, make_frame ("I420",
                sizes[s][0], sizes[s][1], 0)), GST_FLOW_OK);
    out = gst_harness_pull (h);
    check_meta (out);
    gst_buffer_unref (out);
    gst_harness_teardown (h);
    g_free (caps);
  }
}

GST_END_TEST;

/* Identical frames give identical vectors and different ids; a shifted
 * picture is near; a different picture is far. */
GST_START_TEST (test_deterministic)
{
  GstHarness *h = gst_harness_new ("vssembed");
  GstBuffer *a, *b, *c;
  GstVssEmbeddingMeta *ma, *mb, *mc;

  gst_harness_set_src_caps_str (h, "video/x-raw,format=I420,width=640,"
      "height=360,framerate=1/1");
  gst_harness_push (h, make_frame ("I420", 640, 360, 0));
  gst_harness_push (h, make_frame ("I420", 640, 360, 0));
  gst_harness_push (h, make_frame ("I420", 640, 360, 8));
  a = gst_harness_pull (h);
  b = gst_harness_pull (h);
  c = gst_harness_pull (h);
  ma = gst_vss_buffer_get_embedding_meta (a, GST_VSS_EMBED_LOCAL_MODEL);
  mb = gst_vss_buffer_get_embedding_meta (b, GST_VSS_EMBED_LOCAL_MODEL);
  mc = gst_vss_buffer_get_embedding_meta (c, GST_VSS_EMBED_LOCAL_MODEL);
  fail_unless (memcmp (ma->vector, mb->vector, ma->dim * sizeof (gfloat)) == 0);
  fail_if (g_str_equal (ma->frame_id, mb->frame_id));
  fail_unless (distance (ma, mc) < 0.05, "small shift: %f", distance (ma, mc));
  gst_buffer_unref (a);
  gst_buffer_unref (b);
  gst_buffer_unref (c);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* The pixels are not touched, timestamps and other metas kept. */
GST_START_TEST (test_passthrough_data)
{
  GstHarness *h = gst_harness_new ("vssembed");
  GstBuffer *in = make_frame ("NV12", 64, 48, 0), *out;
  GstMapInfo mi, mo;

  gst_harness_set_src_caps_str (h, "video/x-raw,format=NV12,width=64,"
      "height=48,framerate=1/1");
  GST_BUFFER_PTS (in) = 3 * GST_SECOND;
  GST_BUFFER_DURATION (in) = GST_SECOND;
  gst_buffer_ref (in);
  gst_harness_push (h, in);
  out = gst_harness_pull (h);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 3 * GST_SECOND);
  fail_unless_equals_uint64 (GST_BUFFER_DURATION (out), GST_SECOND);
  gst_buffer_map (in, &mi, GST_MAP_READ);
  gst_buffer_map (out, &mo, GST_MAP_READ);
  fail_unless_equals_int (mi.size, mo.size);
  fail_unless (memcmp (mi.data, mo.data, mi.size) == 0);
  gst_buffer_unmap (in, &mi);
  gst_buffer_unmap (out, &mo);
  /* The input was shared, so the element had to copy before adding the
   * meta: the caller's buffer stays untouched. */
  fail_unless_equals_int (gst_vss_buffer_n_embedding_metas (in), 0);
  gst_buffer_unref (in);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* A second embedding of an already identified frame keeps its id. */
GST_START_TEST (test_reuses_frame_id)
{
  GstHarness *h = gst_harness_new ("vssembed");
  GstBuffer *in = make_frame ("I420", 64, 48, 0), *out;
  gchar id[GST_VSS_FRAME_ID_SIZE];
  const gfloat v[2] = { 1, 0 };
  GstStructure *stats;
  guint64 reused = 0;

  gst_vss_frame_id_new (-1, id);
  gst_vss_buffer_add_embedding_meta (in, "other-model", v, 2, TRUE, id);
  gst_harness_set_src_caps_str (h, "video/x-raw,format=I420,width=64,"
      "height=48,framerate=1/1");
  gst_harness_push (h, in);
  out = gst_harness_pull (h);
  fail_unless_equals_int (gst_vss_buffer_n_embedding_metas (out), 2);
  fail_unless_equals_string (gst_vss_buffer_get_embedding_meta (out,
          GST_VSS_EMBED_LOCAL_MODEL)->frame_id, id);
  g_object_get (h->element, "stats", &stats, NULL);
  fail_unless (gst_structure_get_uint64 (stats, "ids-reused", &reused));
  fail_unless_equals_uint64 (reused, 1);
  gst_structure_free (stats);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Ids of frames @positions (seconds) of a source, through a fresh element;
 * "" as @source_id: none set. */
static gchar **
ids_of (const gchar * source_id, gint64 source_time, const guint * positions,
    guint n, guint64 segment_start)
{
  gchar *launch = source_id[0] ?
      g_strdup_printf ("vssembed source-id=\"%s\" source-time=%"
      G_GINT64_FORMAT, source_id, source_time) : g_strdup ("vssembed");
  GstHarness *h = gst_harness_new_parse (launch);
  gchar *caps = caps_for ("I420", 64, 48);
  gchar **ids = g_new0 (gchar *, n + 1);
  GstSegment seg;

  g_free (launch);
  gst_harness_set_src_caps_str (h, caps);
  /* A segment as after a seek: stream time starts at segment_start. */
  gst_segment_init (&seg, GST_FORMAT_TIME);
  seg.start = seg.time = segment_start;
  seg.position = segment_start;
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&seg)));
  for (guint i = 0; i < n; i++) {
    GstBuffer *b = make_frame ("I420", 64, 48, 0), *out;

    GST_BUFFER_PTS (b) = positions[i] * GST_SECOND;
    fail_unless_equals_int (gst_harness_push (h, b), GST_FLOW_OK);
    out = gst_harness_pull (h);
    ids[i] = g_strdup (gst_vss_buffer_get_frame_id (out));
    gst_buffer_unref (out);
  }
  g_free (caps);
  gst_harness_teardown (h);
  return ids;
}

/* source-id: the frame at a position of a source has one id, whatever run
 * makes it (a rerun after a kill stores the same keys); ids stay unique
 * per position and per source, and random without source-id. */
GST_START_TEST (test_ids_from_position)
{
  const guint pos[] = { 0, 1, 2, 54 };
  const gint64 mtime = 1796169599000;
  gchar **a = ids_of ("/srv/a.mkv|100|1796169599", mtime, pos, 4, 0);
  gchar **b = ids_of ("/srv/a.mkv|100|1796169599", mtime, pos, 4, 0);
  gchar **c = ids_of ("/srv/b.mkv|100|1796169599", mtime, pos, 4, 0);
  gchar **r1 = ids_of ("", 0, pos, 4, 0);
  gchar **r2 = ids_of ("", 0, pos, 4, 0);
  gint64 t;

  for (guint i = 0; i < 4; i++) {
    fail_unless (gst_vss_frame_id_is_valid (a[i]));
    fail_unless_equals_string (a[i], b[i]);
    fail_if (g_str_equal (a[i], c[i]));
    fail_if (g_str_equal (r1[i], r2[i]));
    if (i > 0)
      fail_unless (strcmp (a[i - 1], a[i]) < 0, "ids sort by position");
    /* The capture time is the source's time plus the position. */
    fail_unless (gst_vss_frame_id_get_time_ms (a[i], &t));
    fail_unless_equals_int64 (t, mtime + pos[i] * 1000);
  }
  g_strfreev (b);
  g_strfreev (c);
  /* The position is the stream time: a segment that starts at 54 s (after
   * a seek) gives PTS 54 s the id of position 54 s. */
  {
    const guint at54[] = { 54 };
    gchar **s = ids_of ("/srv/a.mkv|100|1796169599", mtime, at54, 1,
        54 * GST_SECOND);

    fail_unless_equals_string (s[0], a[3]);
    g_strfreev (s);
  }
  g_strfreev (a);
  g_strfreev (r1);
  g_strfreev (r2);
}

GST_END_TEST;

GST_START_TEST (test_stats)
{
  GstHarness *h = gst_harness_new ("vssembed");
  GstStructure *stats;
  guint64 in = 0, embedded = 0;
  guint dim = 0;
  gdouble mean = -1;

  gst_harness_set_src_caps_str (h, "video/x-raw,format=I420,width=320,"
      "height=240,framerate=1/1");
  for (gint i = 0; i < 5; i++)
    gst_harness_push (h, make_frame ("I420", 320, 240, i));
  for (gint i = 0; i < 5; i++)
    gst_buffer_unref (gst_harness_pull (h));
  g_object_get (h->element, "stats", &stats, NULL);
  fail_unless (gst_structure_get_uint64 (stats, "frames-in", &in));
  fail_unless (gst_structure_get_uint64 (stats, "frames-embedded", &embedded));
  fail_unless (gst_structure_get_uint (stats, "dimension", &dim));
  fail_unless (gst_structure_get_double (stats, "mean-embed-us", &mean));
  fail_unless_equals_uint64 (in, 5);
  fail_unless_equals_uint64 (embedded, 5);
  fail_unless_equals_int (dim, gst_vss_embed_local_dim ());
  fail_unless (mean > 0);
  fail_unless_equals_string (gst_structure_get_string (stats, "model"),
      GST_VSS_EMBED_LOCAL_MODEL);
  gst_structure_free (stats);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Flushing, EOS and state changes: events pass, processing resumes. */
GST_START_TEST (test_flush_eos_states)
{
  GstHarness *h = gst_harness_new ("vssembed");
  GstEvent *ev;
  GstBuffer *out;

  gst_harness_set_src_caps_str (h, "video/x-raw,format=I420,width=64,"
      "height=48,framerate=1/1");
  gst_harness_push (h, make_frame ("I420", 64, 48, 0));
  gst_buffer_unref (gst_harness_pull (h));

  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless_equals_int (gst_harness_push (h, make_frame ("I420", 64, 48,
              0)), GST_FLOW_FLUSHING);
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  {
    GstSegment seg;
    gst_segment_init (&seg, GST_FORMAT_TIME);
    gst_harness_push_event (h, gst_event_new_segment (&seg));
  }
  fail_unless_equals_int (gst_harness_push (h, make_frame ("I420", 64, 48,
              0)), GST_FLOW_OK);
  out = gst_harness_pull (h);
  check_meta (out);
  gst_buffer_unref (out);

  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  while ((ev = gst_harness_try_pull_event (h))) {
    GstEventType t = GST_EVENT_TYPE (ev);
    gst_event_unref (ev);
    if (t == GST_EVENT_EOS)
      break;
    fail_if (ev == NULL);
  }

  /* Back to READY and PLAYING again: works as new. */
  gst_harness_play (h);
  fail_unless_equals_int (gst_element_set_state (h->element,
          GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (gst_element_set_state (h->element,
          GST_STATE_PLAYING), GST_STATE_CHANGE_SUCCESS);
  /* The harness's own source pad is EOS: flush it, start a new stream. */
  gst_harness_push_event (h, gst_event_new_flush_start ());
  gst_harness_push_event (h, gst_event_new_flush_stop (TRUE));
  fail_unless (gst_harness_push_event (h,
          gst_event_new_stream_start ("second")));
  gst_harness_set_src_caps_str (h, "video/x-raw,format=RGBA,width=32,"
      "height=32,framerate=1/1");
  fail_unless_equals_int (gst_harness_push (h, make_frame ("RGBA", 32, 32,
              0)), GST_FLOW_OK);
  out = gst_harness_pull (h);
  check_meta (out);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Caps it cannot read are refused at negotiation, with a clear error in a
 * real pipeline. */
GST_START_TEST (test_refused_caps)
{
  const gchar *bad[] = { "video/x-raw,format=v210,width=64,height=48,"
        "framerate=1/1", "video/x-raw,format=I420_10LE,width=64,height=48,"
        "framerate=1/1", "image/jpeg,width=64,height=48,framerate=1/1",
    "audio/x-raw,format=S16LE,rate=48000,channels=1,layout=interleaved"
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    GstHarness *h = gst_harness_new ("vssembed");
    GstCaps *caps = gst_caps_from_string (bad[i]);
    GstBuffer *buf = gst_buffer_new_allocate (NULL, 64 * 48 * 4, NULL);

    fail_if (gst_pad_peer_query_accept_caps (h->srcpad, caps),
        "accepted %s", bad[i]);
    gst_harness_set_src_caps (h, caps);
    fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_NOT_NEGOTIATED);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

GST_START_TEST (test_not_negotiated_in_pipeline)
{
  /* Linked without a caps check, as a dynamic pipeline would be, so the
   * failure happens at negotiation time. */
  GstElement *p = gst_pipeline_new (NULL);
  GstElement *src = gst_element_factory_make ("videotestsrc", NULL);
  GstElement *filter = gst_element_factory_make ("capsfilter", NULL);
  GstElement *embed = gst_element_factory_make ("vssembed", NULL);
  GstElement *sink = gst_element_factory_make ("fakesink", NULL);
  GstCaps *caps = gst_caps_from_string ("video/x-raw,format=v210");

  g_object_set (src, "num-buffers", 2, NULL);
  g_object_set (filter, "caps", caps, NULL);
  gst_caps_unref (caps);
  gst_bin_add_many (GST_BIN (p), src, filter, embed, sink, NULL);
  fail_unless (gst_element_link (src, filter));
  fail_unless (gst_element_link_pads_full (filter, "src", embed, "sink",
          GST_PAD_LINK_CHECK_NOTHING));
  fail_unless (gst_element_link_pads_full (embed, "src", sink, "sink",
          GST_PAD_LINK_CHECK_NOTHING));
  {
    GstBus *bus = gst_element_get_bus (p);
    GstMessage *msg;
    GError *err = NULL;
    gchar *dbg = NULL;

    gst_element_set_state (p, GST_STATE_PLAYING);
    msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND,
        GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
    fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR);
    gst_message_parse_error (msg, &err, &dbg);
    /* GStreamer's own wording: the source says the stream stopped because
     * negotiation failed. */
    fail_unless (dbg != NULL && strstr (dbg, "not-negotiated") != NULL,
        "%s (%s)", err->message, GST_STR_NULL (dbg));
    g_error_free (err);
    g_free (dbg);
    gst_message_unref (msg);
    gst_element_set_state (p, GST_STATE_NULL);
    gst_object_unref (bus);
    gst_object_unref (p);
  }

}

GST_END_TEST;

/* A buffer smaller than its caps say is an error, not a crash. Empty too. */
GST_START_TEST (test_short_and_empty_buffers)
{
  const gsize sizes[] = { 0, 100 };

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++) {
    GstHarness *h = gst_harness_new ("vssembed");
    GstBus *bus = gst_bus_new ();
    GstMessage *msg;

    gst_element_set_bus (h->element, bus);
    gst_harness_set_src_caps_str (h, "video/x-raw,format=I420,width=640,"
        "height=480,framerate=1/1");
    fail_unless_equals_int (gst_harness_push (h,
            gst_buffer_new_allocate (NULL, sizes[i], NULL)), GST_FLOW_ERROR);
    msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    fail_unless (msg != NULL);
    gst_message_unref (msg);
    gst_element_set_bus (h->element, NULL);
    gst_object_unref (bus);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

/* Both local models: v2 is the default; v1 stays selectable; a frame
 * embedded by both carries both metas under one frame id; v2 holds v1's
 * layout (its first floats point the same way) plus the structure. */
GST_START_TEST (test_local_models)
{
  GstHarness *h = gst_harness_new_parse ("vssembed model=vss-local-v1 ! "
      "vssembed model=vss-local-v2");
  GstHarness *hd = gst_harness_new ("vssembed");
  GstBuffer *out, *outd;
  GstVssEmbeddingMeta *m1, *m2, *md;
  const guint d1 = gst_vss_embed_local_model_dim (GST_VSS_EMBED_LOCAL_V1);
  gdouble dot = 0, n1 = 0, n2 = 0;

  fail_unless_equals_string (GST_VSS_EMBED_LOCAL_MODEL, "vss-local-v2");
  fail_unless_equals_int (d1, 111);
  fail_unless (gst_vss_embed_local_model_dim (GST_VSS_EMBED_LOCAL_V2) > d1);
  fail_unless (gst_vss_embed_local_model_dim (GST_VSS_EMBED_LOCAL_V2) <= 512);
  gst_harness_set_src_caps_str (h, "video/x-raw,format=I420,width=640,"
      "height=360,framerate=1/1");
  gst_harness_set_src_caps_str (hd, "video/x-raw,format=I420,width=640,"
      "height=360,framerate=1/1");
  gst_harness_push (h, make_frame ("I420", 640, 360, 0));
  gst_harness_push (hd, make_frame ("I420", 640, 360, 0));
  out = gst_harness_pull (h);
  outd = gst_harness_pull (hd);
  m1 = gst_vss_buffer_get_embedding_meta (out, "vss-local-v1");
  m2 = gst_vss_buffer_get_embedding_meta (out, "vss-local-v2");
  md = gst_vss_buffer_get_embedding_meta (outd, "vss-local-v2");
  fail_unless (m1 != NULL && m2 != NULL && md != NULL);
  fail_unless_equals_int (m1->dim, d1);
  fail_unless_equals_int (m2->dim,
      gst_vss_embed_local_model_dim (GST_VSS_EMBED_LOCAL_V2));
  fail_unless_equals_string (m1->frame_id, m2->frame_id);
  /* The default is v2, and the same pixels give the same vector. */
  fail_unless (memcmp (m2->vector, md->vector, m2->dim * sizeof (gfloat)) == 0);
  for (guint i = 0; i < d1; i++) {
    dot += (gdouble) m1->vector[i] * m2->vector[i];
    n1 += (gdouble) m1->vector[i] * m1->vector[i];
    n2 += (gdouble) m2->vector[i] * m2->vector[i];
  }
  fail_unless (fabs (dot / sqrt (n1 * n2) - 1.0) < 1e-5, "cos %f",
      dot / sqrt (n1 * n2));
  /* ... and the rest is not empty: a test picture has edges. */
  fail_unless (n2 < 0.99, "v2's structure part is empty (%f)", 1 - n2);
  gst_buffer_unref (out);
  gst_buffer_unref (outd);
  gst_harness_teardown (h);
  gst_harness_teardown (hd);
}

GST_END_TEST;

GST_START_TEST (test_unknown_model)
{
  GstElement *p = gst_parse_launch ("videotestsrc num-buffers=2 ! "
      "vssembed model=some-other-model ! fakesink", NULL);
  GstBus *bus = gst_element_get_bus (p);
  GstMessage *msg;
  GError *err = NULL;

  gst_element_set_state (p, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND,
      GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR);
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (strstr (err->message, "some-other-model") != NULL, "%s",
      err->message);
  g_error_free (err);
  gst_message_unref (msg);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (p);
}

GST_END_TEST;

static Suite *
vssembed_suite (void)
{
  Suite *s = suite_create ("vssembed");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_formats);
  tcase_add_test (tc, test_sizes);
  tcase_add_test (tc, test_deterministic);
  tcase_add_test (tc, test_passthrough_data);
  tcase_add_test (tc, test_reuses_frame_id);
  tcase_add_test (tc, test_ids_from_position);
  tcase_add_test (tc, test_stats);
  tcase_add_test (tc, test_flush_eos_states);
  tcase_add_test (tc, test_refused_caps);
  tcase_add_test (tc, test_not_negotiated_in_pipeline);
  tcase_add_test (tc, test_short_and_empty_buffers);
  tcase_add_test (tc, test_unknown_model);
  tcase_add_test (tc, test_local_models);
  return s;
}

GST_CHECK_MAIN (vssembed);
