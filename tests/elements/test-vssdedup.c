/* gst-vss: vssdedup element tests (GstHarness, synthetic vectors)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include "gstvss.h"

#define DIM 8
#define MODEL "test-model"

/* Unit vector at angle theta from axis a towards axis b: its cosine distance
 * to axis a is 1 - cos(theta). */
static void
vec_at (gfloat * v, guint a, guint b, gdouble cos_sim)
{
  memset (v, 0, DIM * sizeof (gfloat));
  v[a] = (gfloat) cos_sim;
  v[b] = (gfloat) sqrt (MAX (0, 1 - cos_sim * cos_sim));
}

static GstBuffer *
frame (const gfloat * v, guint dim, GstClockTime pts, gchar * id_out)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 16, NULL);
  gchar id[GST_VSS_FRAME_ID_SIZE];

  gst_vss_frame_id_new (-1, id);
  if (id_out)
    strcpy (id_out, id);
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = GST_SECOND;
  if (v)
    gst_vss_buffer_add_embedding_meta (buf, MODEL, v, dim, FALSE, id);
  return buf;
}

static GstBuffer *
axis_frame (guint axis, GstClockTime pts)
{
  gfloat v[DIM];

  vec_at (v, axis, (axis + 1) % DIM, 1.0);
  return frame (v, DIM, pts, NULL);
}

static GstHarness *
new_harness (const gchar * props)
{
  GstElement *e = gst_element_factory_make ("vssdedup", NULL);
  gchar **kv = g_strsplit (props, " ", -1);
  GstHarness *h;

  for (gchar ** p = kv; *p; p++) {
    gchar **pair = g_strsplit (*p, "=", 2);
    if (pair[0] && pair[1])
      gst_util_set_object_arg (G_OBJECT (e), pair[0], pair[1]);
    g_strfreev (pair);
  }
  g_strfreev (kv);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, "application/x-test");
  return h;
}

/* Pushes a frame and says whether it came out. */
static gboolean
kept (GstHarness * h, GstBuffer * buf)
{
  guint before = gst_harness_buffers_received (h);

  fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  if (gst_harness_buffers_received (h) > before) {
    gst_buffer_unref (gst_harness_pull (h));
    return TRUE;
  }
  return FALSE;
}

GST_START_TEST (test_threshold_boundary)
{
  GstHarness *h = new_harness ("threshold=0.2");
  gfloat v[DIM];

  fail_unless (kept (h, axis_frame (0, 0)));
  /* Just below the threshold: a duplicate. */
  vec_at (v, 0, 1, 1.0 - 0.199);
  fail_if (kept (h, frame (v, DIM, GST_SECOND, NULL)));
  /* Just above: a new frame. */
  vec_at (v, 0, 2, 1.0 - 0.201);
  fail_unless (kept (h, frame (v, DIM, 2 * GST_SECOND, NULL)));
  /* Identical to a kept one: dropped; threshold 0 keeps even that? No:
   * distance 0 is not below 0, so it is kept. */
  fail_if (kept (h, axis_frame (0, 3 * GST_SECOND)));
  g_object_set (h->element, "threshold", 0.0, NULL);
  fail_unless (kept (h, axis_frame (0, 4 * GST_SECOND)));
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_revisit_inside_and_outside_window)
{
  GstHarness *h = new_harness ("window-size=3");

  /* A B C, then A again: still in the window, dropped. */
  fail_unless (kept (h, axis_frame (0, 0)));
  fail_unless (kept (h, axis_frame (1, 1 * GST_SECOND)));
  fail_unless (kept (h, axis_frame (2, 2 * GST_SECOND)));
  fail_if (kept (h, axis_frame (0, 3 * GST_SECOND)));
  /* D pushes A out of a 3-frame window: A is new again. */
  fail_unless (kept (h, axis_frame (3, 4 * GST_SECOND)));
  fail_unless (kept (h, axis_frame (0, 5 * GST_SECOND)));
  /* Window-size can change while playing: shrink to 1 (only the last kept,
   * A); then D is new again, and after that A is forgotten. */
  g_object_set (h->element, "window-size", 1, NULL);
  fail_if (kept (h, axis_frame (0, 6 * GST_SECOND)));
  fail_unless (kept (h, axis_frame (3, 7 * GST_SECOND)));
  fail_unless (kept (h, axis_frame (0, 8 * GST_SECOND)));
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_age_eviction)
{
  GstHarness *h = new_harness ("window-duration=5000000000");

  fail_unless (kept (h, axis_frame (0, 0)));
  fail_unless (kept (h, axis_frame (1, 1 * GST_SECOND)));
  fail_if (kept (h, axis_frame (0, 3 * GST_SECOND)));
  /* 10 s later A is older than the 5 s window: kept again. B too. */
  fail_unless (kept (h, axis_frame (0, 10 * GST_SECOND)));
  fail_unless (kept (h, axis_frame (1, 11 * GST_SECOND)));
  /* A gap in timestamps ages everything out at once. */
  fail_unless (kept (h, axis_frame (0, 100 * GST_SECOND)));
  /* And untimed frames do not age the window. */
  fail_if (kept (h, axis_frame (0, GST_CLOCK_TIME_NONE)));
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_mode_last_kept)
{
  GstHarness *w = new_harness ("mode=window");
  GstHarness *l = new_harness ("mode=last-kept");

  /* A B A: the window remembers A; last-kept only sees B. */
  fail_unless (kept (w, axis_frame (0, 0)));
  fail_unless (kept (w, axis_frame (1, GST_SECOND)));
  fail_if (kept (w, axis_frame (0, 2 * GST_SECOND)));
  {
    GstBus *bus = gst_bus_new ();
    GstMessage *m;
    const GstStructure *st;
    gchar id_b[GST_VSS_FRAME_ID_SIZE];
    gfloat v[DIM];

    g_object_set (l->element, "post-messages", TRUE, NULL);
    gst_element_set_bus (l->element, bus);
    fail_unless (kept (l, axis_frame (0, 0)));
    vec_at (v, 1, 2, 1.0);
    fail_unless (kept (l, frame (v, DIM, GST_SECOND, id_b)));
    fail_unless (kept (l, axis_frame (0, 2 * GST_SECOND)));
    fail_if (kept (l, axis_frame (0, 3 * GST_SECOND)));
    /* The third frame's decision names B, the last kept, as its match. */
    for (gint i = 0; i < 3; i++) {
      m = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT);
      fail_unless (m != NULL);
      st = gst_message_get_structure (m);
      if (i == 2)
        fail_unless_equals_string (gst_structure_get_string (st,
                "matched-frame-id"), id_b);
      gst_message_unref (m);
    }
    gst_element_set_bus (l->element, NULL);
    gst_object_unref (bus);
  }
  gst_harness_teardown (w);
  gst_harness_teardown (l);
}

GST_END_TEST;

static GstStructure *
pop_decision (GstBus * bus)
{
  GstMessage *m;

  while ((m = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
    const GstStructure *s = gst_message_get_structure (m);
    if (gst_structure_has_name (s, "vss-dedup")) {
      GstStructure *c = gst_structure_copy (s);
      gst_message_unref (m);
      return c;
    }
    gst_message_unref (m);
  }
  return NULL;
}

GST_START_TEST (test_messages)
{
  GstHarness *h = new_harness ("post-messages=true threshold=0.2");
  GstBus *bus = gst_bus_new ();
  GstStructure *s;
  gfloat v[DIM];
  gchar id_a[GST_VSS_FRAME_ID_SIZE], id_b[GST_VSS_FRAME_ID_SIZE];
  gchar id_c[GST_VSS_FRAME_ID_SIZE];
  gdouble dist;
  guint64 pts;
  guint wsize;
  GstBuffer *out;
  gdouble dd;
  const gchar *matched;

  gst_element_set_bus (h->element, bus);
  vec_at (v, 0, 1, 1.0);
  gst_harness_push (h, frame (v, DIM, 0, id_a));
  out = gst_harness_pull (h);
  /* The kept frame carries the dedup record: empty window. */
  fail_unless (gst_vss_buffer_get_dedup_info (out, &dd, &matched));
  fail_unless_equals_float (dd, 2.0);
  fail_unless_equals_string (matched, "");
  gst_buffer_unref (out);
  s = pop_decision (bus);
  fail_unless (s != NULL);
  fail_unless_equals_string (gst_structure_get_string (s, "decision"), "kept");
  fail_unless_equals_string (gst_structure_get_string (s, "frame-id"), id_a);
  fail_unless_equals_string (gst_structure_get_string (s,
          "matched-frame-id"), "");
  fail_unless (gst_structure_get_double (s, "distance", &dist));
  fail_unless_equals_float (dist, 2.0);
  fail_unless (gst_structure_get_uint (s, "window-size", &wsize));
  fail_unless_equals_int (wsize, 1);
  gst_structure_free (s);

  vec_at (v, 0, 1, 0.9);
  gst_harness_push (h, frame (v, DIM, 5 * GST_SECOND, id_b));
  s = pop_decision (bus);
  fail_unless_equals_string (gst_structure_get_string (s, "decision"),
      "dropped");
  fail_unless_equals_string (gst_structure_get_string (s, "frame-id"), id_b);
  fail_unless_equals_string (gst_structure_get_string (s,
          "matched-frame-id"), id_a);
  fail_unless (gst_structure_get_double (s, "distance", &dist));
  fail_unless (fabs (dist - 0.1) < 1e-4, "distance %f", dist);
  fail_unless (gst_structure_get_uint64 (s, "pts", &pts));
  fail_unless_equals_uint64 (pts, 5 * GST_SECOND);
  fail_unless (gst_structure_get_uint64 (s, "matched-pts", &pts));
  fail_unless_equals_uint64 (pts, 0);
  fail_unless (gst_structure_has_field (s, "decision-us"));
  fail_unless (gst_structure_has_field (s, "running-time"));
  gst_structure_free (s);

  /* A kept frame reports its nearest neighbour, farther than threshold. */
  vec_at (v, 0, 2, 0.5);
  gst_harness_push (h, frame (v, DIM, 6 * GST_SECOND, id_c));
  out = gst_harness_pull (h);
  fail_unless (gst_vss_buffer_get_dedup_info (out, &dd, &matched));
  fail_unless (fabs (dd - 0.5) < 1e-4, "%f", dd);
  fail_unless_equals_string (matched, id_a);
  gst_buffer_unref (out);
  s = pop_decision (bus);
  fail_unless_equals_string (gst_structure_get_string (s, "decision"), "kept");
  fail_unless_equals_string (gst_structure_get_string (s,
          "matched-frame-id"), id_a);
  fail_unless (gst_structure_get_uint (s, "window-size", &wsize));
  fail_unless_equals_int (wsize, 2);
  gst_structure_free (s);

  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_missing_meta)
{
  GstHarness *h = new_harness ("");
  GstBus *bus = gst_bus_new ();
  GstMessage *m;
  guint warnings = 0;
  GstStructure *stats;
  guint64 no_meta = 0;

  gst_element_set_bus (h->element, bus);
  fail_unless (kept (h, frame (NULL, 0, 0, NULL)));
  fail_unless (kept (h, frame (NULL, 0, GST_SECOND, NULL)));
  while ((m = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING))) {
    warnings++;
    gst_message_unref (m);
  }
  fail_unless_equals_int (warnings, 1);
  g_object_get (h->element, "stats", &stats, NULL);
  gst_structure_get_uint64 (stats, "no-meta", &no_meta);
  fail_unless_equals_uint64 (no_meta, 2);
  gst_structure_free (stats);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);

  h = new_harness ("missing-meta=error");
  fail_unless_equals_int (gst_harness_push (h, frame (NULL, 0, 0, NULL)),
      GST_FLOW_ERROR);
  gst_harness_teardown (h);

  /* A model that is not there counts as missing. */
  h = new_harness ("model=other missing-meta=error");
  fail_unless_equals_int (gst_harness_push (h, axis_frame (0, 0)),
      GST_FLOW_ERROR);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_dimension_change_and_bad_vectors)
{
  GstHarness *h = new_harness ("");
  GstBus *bus = gst_bus_new ();
  GstMessage *m;
  gfloat v4[4] = { 1, 0, 0, 0 };
  gfloat nan[DIM] = { NAN, 0, 0, 0, 0, 0, 0, 0 };
  gfloat zero[DIM] = { 0 };

  gst_element_set_bus (h->element, bus);
  fail_unless (kept (h, axis_frame (0, 0)));
  fail_if (kept (h, axis_frame (0, GST_SECOND)));
  /* New dimension: warning, window starts afresh, frame kept. */
  fail_unless (kept (h, frame (v4, 4, 2 * GST_SECOND, NULL)));
  m = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  fail_unless (m != NULL);
  gst_message_unref (m);
  fail_if (kept (h, frame (v4, 4, 3 * GST_SECOND, NULL)));
  /* Back to 8: the old A is forgotten. */
  fail_unless (kept (h, axis_frame (0, 4 * GST_SECOND)));
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);

  fail_unless_equals_int (gst_harness_push (h, frame (nan, DIM, 5 * GST_SECOND,
              NULL)), GST_FLOW_ERROR);
  gst_harness_teardown (h);
  h = new_harness ("");
  fail_unless_equals_int (gst_harness_push (h, frame (zero, DIM, 0, NULL)),
      GST_FLOW_ERROR);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_flush_and_state_reset)
{
  GstHarness *h = new_harness ("");
  GstSegment seg;

  fail_unless (kept (h, axis_frame (0, 0)));
  fail_if (kept (h, axis_frame (0, GST_SECOND)));
  gst_harness_push_event (h, gst_event_new_flush_start ());
  gst_harness_push_event (h, gst_event_new_flush_stop (TRUE));
  gst_segment_init (&seg, GST_FORMAT_TIME);
  gst_harness_push_event (h, gst_event_new_segment (&seg));
  fail_unless (kept (h, axis_frame (0, 0)));

  fail_unless_equals_int (gst_element_set_state (h->element,
          GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (gst_element_set_state (h->element,
          GST_STATE_PLAYING), GST_STATE_CHANGE_SUCCESS);
  gst_harness_push_event (h, gst_event_new_stream_start ("again"));
  gst_harness_set_src_caps_str (h, "application/x-test");
  gst_harness_push_event (h, gst_event_new_segment (&seg));
  fail_unless (kept (h, axis_frame (0, 0)));
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_stats_and_discont)
{
  GstHarness *h = new_harness ("window-duration=5000000000");
  GstStructure *stats;
  guint64 seen = 0, kept_n = 0, dropped = 0;
  guint wsize = 0;
  GstSegment seg;

  fail_unless (kept (h, axis_frame (0, 100 * GST_SECOND)));
  fail_if (kept (h, axis_frame (0, 101 * GST_SECOND)));
  /* A new segment restarting at 0 without a flush: time must not run
   * backwards for the window (A stays 1 s old, still a duplicate). */
  gst_segment_init (&seg, GST_FORMAT_TIME);
  gst_harness_push_event (h, gst_event_new_segment (&seg));
  fail_if (kept (h, axis_frame (0, 0)));
  fail_unless (kept (h, axis_frame (1, GST_SECOND)));
  g_object_get (h->element, "stats", &stats, NULL);
  gst_structure_get_uint64 (stats, "seen", &seen);
  gst_structure_get_uint64 (stats, "kept", &kept_n);
  gst_structure_get_uint64 (stats, "dropped", &dropped);
  gst_structure_get_uint (stats, "window-size", &wsize);
  fail_unless_equals_uint64 (seen, 4);
  fail_unless_equals_uint64 (kept_n, 2);
  fail_unless_equals_uint64 (dropped, 2);
  fail_unless_equals_int (wsize, 2);
  gst_structure_free (stats);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Kept frames are linked into the window's graph by a thread of the
 * window: each frame right after a kept one must still see it (its
 * near-duplicate is dropped, linked or not), stats may be read and the
 * window resized from another thread meanwhile, and stopping with a link in
 * flight loses nothing and leaks nothing. */
static gpointer
poke_stats (gpointer data)
{
  GstElement *e = data;

  for (gint i = 0; i < 200; i++) {
    GstStructure *st;
    g_object_get (e, "stats", &st, NULL);
    gst_structure_free (st);
    if (i % 50 == 0)
      g_object_set (e, "window-size", 1000 + i, NULL);
    g_usleep (100);
  }
  return NULL;
}

GST_START_TEST (test_linking_in_background)
{
  GstHarness *h = new_harness ("window-size=1000");
  GRand *r = g_rand_new_with_seed (3);
  GThread *t = g_thread_new ("stats", poke_stats, h->element);
  gfloat v[64];
  guint k = 0, d = 0;

  for (guint i = 0; i < 300; i++) {
    gdouble n = 0;
    for (guint j = 0; j < 64; j++) {
      v[j] = (gfloat) g_rand_double_range (r, -1, 1);
      n += v[j] * v[j];
    }
    for (guint j = 0; j < 64; j++)
      v[j] /= (gfloat) sqrt (n);
    /* a novel frame, then at once its exact repeat */
    k += kept (h, frame (v, 64, 2 * i * GST_MSECOND, NULL));
    d += !kept (h, frame (v, 64, (2 * i + 1) * GST_MSECOND, NULL));
  }
  g_thread_join (t);
  fail_unless_equals_int (k, 300);
  fail_unless_equals_int (d, 300);
  /* stop with the last insertion possibly in flight, then start again:
   * the window is forgotten */
  fail_unless (kept (h, frame (v, 64, GST_SECOND, NULL)) == FALSE);
  fail_unless_equals_int (gst_element_set_state (h->element,
          GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (gst_element_set_state (h->element,
          GST_STATE_PLAYING), GST_STATE_CHANGE_SUCCESS);
  {
    GstSegment seg;
    gst_harness_push_event (h, gst_event_new_stream_start ("again"));
    gst_harness_set_src_caps_str (h, "application/x-test");
    gst_segment_init (&seg, GST_FORMAT_TIME);
    gst_harness_push_event (h, gst_event_new_segment (&seg));
  }
  fail_unless (kept (h, frame (v, 64, 0, NULL)));
  for (guint j = 0; j < 64; j++)
    v[j] = -v[j];
  fail_unless (kept (h, frame (v, 64, GST_MSECOND, NULL)));
  fail_if (kept (h, frame (v, 64, 2 * GST_MSECOND, NULL)));
  gst_harness_teardown (h);
  g_rand_free (r);
}

GST_END_TEST;

/* In a real pipeline behind vssembed: a still picture is kept once. */
GST_START_TEST (test_pipeline_with_vssembed)
{
  GstElement *p = gst_parse_launch ("videotestsrc num-buffers=20 pattern=smpte "
      "! video/x-raw,width=320,height=240,framerate=10/1 ! vssembed ! "
      "vssdedup name=d ! fakesink name=s signal-handoffs=false", NULL);
  GstBus *bus = gst_element_get_bus (p);
  GstMessage *m;
  GstElement *d = gst_bin_get_by_name (GST_BIN (p), "d");
  GstStructure *stats;
  guint64 kept_n = 0, seen = 0;

  gst_element_set_state (p, GST_STATE_PLAYING);
  m = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (m && GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS);
  gst_message_unref (m);
  g_object_get (d, "stats", &stats, NULL);
  gst_structure_get_uint64 (stats, "kept", &kept_n);
  gst_structure_get_uint64 (stats, "seen", &seen);
  fail_unless_equals_uint64 (seen, 20);
  fail_unless_equals_uint64 (kept_n, 1);
  gst_structure_free (stats);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (d);
  gst_object_unref (bus);
  gst_object_unref (p);
}

GST_END_TEST;

static GstClockTime
live_latency (const gchar * desc)
{
  GstElement *p = gst_parse_launch (desc, NULL);
  GstBus *bus = gst_element_get_bus (p);
  GstMessage *m;
  GstQuery *q = gst_query_new_latency ();
  GstClockTime min = GST_CLOCK_TIME_NONE, max;
  gboolean live = FALSE;

  gst_element_set_state (p, GST_STATE_PLAYING);
  m = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND,
      GST_MESSAGE_ASYNC_DONE | GST_MESSAGE_ERROR);
  fail_unless (m && GST_MESSAGE_TYPE (m) == GST_MESSAGE_ASYNC_DONE);
  gst_message_unref (m);
  {
    /* What the sink sees upstream of it. */
    GstElement *sink = gst_bin_get_by_name (GST_BIN (p), "sink");
    GstPad *pad = gst_element_get_static_pad (sink, "sink");
    fail_unless (gst_pad_peer_query (pad, q));
    gst_object_unref (pad);
    gst_object_unref (sink);
  }
  gst_query_parse_latency (q, &live, &min, &max);
  fail_unless (live);
  gst_query_unref (q);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (p);
  return min;
}

/* Live pipelines: frames flow in real time and vssdedup adds no latency. */
GST_START_TEST (test_live_no_added_latency)
{
  GstClockTime with, without;

  without = live_latency ("videotestsrc is-live=true ! video/x-raw,width=160,"
      "height=120,framerate=30/1 ! vssembed ! fakesink name=sink");
  with = live_latency ("videotestsrc is-live=true ! video/x-raw,width=160,"
      "height=120,framerate=30/1 ! vssembed ! vssdedup ! fakesink name=sink");
  fail_unless_equals_uint64 (with, without);
}

GST_END_TEST;

static Suite *
vssdedup_suite (void)
{
  Suite *s = suite_create ("vssdedup");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_threshold_boundary);
  tcase_add_test (tc, test_revisit_inside_and_outside_window);
  tcase_add_test (tc, test_age_eviction);
  tcase_add_test (tc, test_mode_last_kept);
  tcase_add_test (tc, test_messages);
  tcase_add_test (tc, test_missing_meta);
  tcase_add_test (tc, test_dimension_change_and_bad_vectors);
  tcase_add_test (tc, test_flush_and_state_reset);
  tcase_add_test (tc, test_stats_and_discont);
  tcase_add_test (tc, test_pipeline_with_vssembed);
  tcase_add_test (tc, test_live_no_added_latency);
  tcase_add_test (tc, test_linking_in_background);
  return s;
}

GST_CHECK_MAIN (vssdedup);
