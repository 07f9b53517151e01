/* gst-vss: vssembed provider=bedrock against the local Bedrock test server
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each test starts tests/servers/vss-bedrock-server on a free loopback port
 * (its stdin is a pipe, so it dies with the test) and points the element's
 * `endpoint` at it. The server's embeddings are deterministic: an image's
 * vector is that of the text "image:<sha256 of the image bytes>", which the
 * tests fetch through gst_vss_bedrock_embed_text() to know exactly which
 * bytes the server received.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <signal.h>
#include <string.h>
#include <curl/curl.h>
#include <jansson.h>
#include <gio/gio.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/app/gstappsink.h>
#include <gst/video/video.h>
#include "vss-test-bedrock.h"
#include "gstvss.h"
#include "bedrock/gstvssbedrockimage.h"

#define AK "AKIDVSSEMBEDTEST0001"
#define SK "vssembed/test+Secret0123456789abcdefghij"
#define REGION "eu-west-1"
#define IMAGE_MODEL GST_VSS_BEDROCK_IMAGE_MODEL
#define TEXT_MODEL GST_VSS_BEDROCK_TEXT_V2_MODEL

typedef VssTestBedrock Server;

static Server *
server_start (const gchar * first_arg, ...)
{
  GPtrArray *args = g_ptr_array_new ();
  GError *err = NULL;
  const gchar *a;
  Server *s;
  va_list ap;

  g_ptr_array_add (args, (gpointer) "--access-key=" AK);
  g_ptr_array_add (args, (gpointer) "--secret-key=" SK);
  g_ptr_array_add (args, (gpointer) "--region=" REGION);
  va_start (ap, first_arg);
  for (a = first_arg; a; a = va_arg (ap, const gchar *))
      g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  s = vss_test_bedrock_start ((const gchar * const *) args->pdata, &err);
  g_ptr_array_free (args, TRUE);
  if (s == NULL)
    g_error ("%s", err->message);
  return s;
}

static void
server_stop (Server * s)
{
  vss_test_bedrock_stop (s);
}

/* An RGB frame whose content depends on @seed. */
static GstBuffer *
make_raw (gint w, gint h, guint seed)
{
  GstVideoInfo info;
  GstVideoFrame f;
  GstBuffer *buf;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, w, h);
  buf = gst_buffer_new_allocate (NULL, info.size, NULL);
  fail_unless (gst_video_frame_map (&f, &info, buf, GST_MAP_WRITE));
  for (gint y = 0; y < h; y++) {
    guint8 *row = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&f, 0) +
        y * GST_VIDEO_FRAME_PLANE_STRIDE (&f, 0);
    for (gint x = 0; x < w; x++) {
      row[3 * x] = (guint8) (x * 7 + seed * 31);
      row[3 * x + 1] = (guint8) (y * 5 + seed * 17);
      row[3 * x + 2] = (guint8) ((x ^ y) + seed * 3);
    }
  }
  gst_video_frame_unmap (&f);
  return buf;
}

static GBytes *
make_jpeg (gint w, gint h, guint seed)
{
  GstBuffer *raw = make_raw (w, h, seed);
  GstVideoInfo info;
  GstVideoFrame f;
  GBytes *jpeg;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, w, h);
  fail_unless (gst_video_frame_map (&f, &info, raw, GST_MAP_READ));
  jpeg = gst_vss_bedrock_image_encode_frame (&f, 1 << 20, G_MAXSIZE, NULL);
  gst_video_frame_unmap (&f);
  gst_buffer_unref (raw);
  fail_unless (jpeg != NULL);
  return jpeg;
}

static GBytes *
make_png (gint w, gint h, guint pattern)
{
  gchar *desc = g_strdup_printf ("videotestsrc num-buffers=1 pattern=%u ! "
      "video/x-raw,format=RGB,width=%d,height=%d ! pngenc ! "
      "appsink name=sink", pattern, w, h);
  GstElement *p = gst_parse_launch (desc, NULL);
  GstElement *sink;
  GstSample *sample;
  GstMapInfo map;
  GBytes *png;

  fail_unless (p != NULL, "cannot build %s", desc);
  sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  gst_element_set_state (p, GST_STATE_PLAYING);
  sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 10 * GST_SECOND);
  fail_unless (sample != NULL);
  gst_buffer_map (gst_sample_get_buffer (sample), &map, GST_MAP_READ);
  png = g_bytes_new (map.data, map.size);
  gst_buffer_unmap (gst_sample_get_buffer (sample), &map);
  gst_sample_unref (sample);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (p);
  g_free (desc);
  return png;
}

static GstBuffer *
timed (GstBuffer * buf, guint i)
{
  GST_BUFFER_PTS (buf) = i * 100 * GST_MSECOND;
  GST_BUFFER_DURATION (buf) = 100 * GST_MSECOND;
  return buf;
}

static GstBuffer *
bytes_buffer (GBytes * b, guint i)
{
  return timed (gst_buffer_new_wrapped_bytes (b), i);
}

static GstVssBedrockClient *
client_for (Server * s)
{
  GstVssAwsSettings aws = { 0, };
  GstVssBedrockOptions o = { 0, };
  GstVssBedrockClient *c;
  GError *err = NULL;

  aws.endpoint_url = s->endpoint;
  o.aws = &aws;
  o.max_connections = 4;
  o.timeout_ms = 10000;
  o.max_retries = 2;
  c = gst_vss_bedrock_client_new (&o, &err);
  fail_unless (c != NULL, "client: %s", err ? err->message : "");
  return c;
}

/* The vector the server gives the image @image (via its text alias). */
static gfloat *
expected_vector (GstVssBedrockClient * c, GBytes * image, guint dim)
{
  gchar *sha = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, image);
  gchar *text = g_strconcat ("image:", sha, NULL);
  GError *err = NULL;
  guint n = 0;
  gfloat *v = gst_vss_bedrock_embed_text (c, IMAGE_MODEL, text, dim, &n,
      &err);

  fail_unless (v != NULL, "embed_text: %s", err ? err->message : "");
  fail_unless_equals_int (n, dim);
  g_free (sha);
  g_free (text);
  return v;
}

static void
assert_vector (GstBuffer * buf, const gfloat * want, guint dim)
{
  GstVssEmbeddingMeta *m = gst_vss_buffer_get_embedding_meta (buf,
      IMAGE_MODEL);

  fail_unless (m != NULL, "no embedding meta");
  fail_unless_equals_int (m->dim, dim);
  fail_unless (m->normalized);
  fail_unless (gst_vss_frame_id_is_valid (m->frame_id));
  for (guint i = 0; i < dim; i++)
    fail_unless (fabsf (m->vector[i] - want[i]) < 1e-5,
        "vector differs at %u: %f vs %f", i, m->vector[i], want[i]);
}

/* A harness around a vssembed with "key=value ..." properties set before
 * it starts. */
static GstHarness *
harness_new (Server * s, const gchar * extra)
{
  GstElement *e = gst_element_factory_make ("vssembed", NULL);
  gchar **kv = g_strsplit (extra ? extra : "", " ", -1);

  fail_unless (e != NULL);
  gst_util_set_object_arg (G_OBJECT (e), "provider", "bedrock");
  g_object_set (e, "endpoint", s->endpoint, NULL);
  for (guint i = 0; kv[i]; i++) {
    gchar *eq = strchr (kv[i], '=');

    if (!eq)
      continue;
    *eq = '\0';
    gst_util_set_object_arg (G_OBJECT (e), kv[i], eq + 1);
  }
  g_strfreev (kv);
  return gst_harness_new_with_element (e, "sink", "src");
}

static GstStructure *
stats_of (GstHarness * h)
{
  GstStructure *st = NULL;

  g_object_get (h->element, "stats", &st, NULL);
  fail_unless (st != NULL);
  return st;
}

static guint64
stat_u64 (GstHarness * h, const gchar * field)
{
  GstStructure *st = stats_of (h);
  guint64 v = 0;

  fail_unless (gst_structure_get_uint64 (st, field, &v), "no %s", field);
  gst_structure_free (st);
  return v;
}

/* JPEGs in, completions out of order (random 5xx with random backoff):
 * output in input order, each with the vector of exactly the bytes sent. */
GST_START_TEST (test_order_and_jpeg_as_is)
{
  Server *s = server_start ("--latency-ms=20", NULL);
  GstVssBedrockClient *c = client_for (s);
  GstHarness *h = harness_new (s, "max-in-flight=8 dimension=256 "
      "max-retries=20 retry-max-time=0");
  GBytes *jpegs[24];
  GstBuffer *outs[24];

  gst_harness_set_src_caps_str (h, "image/jpeg,framerate=10/1");
  vss_test_bedrock_control (s, "{\"error_rate\":0.3}");
  for (guint i = 0; i < G_N_ELEMENTS (jpegs); i++) {
    jpegs[i] = make_jpeg (64 + i, 48, i);
    fail_unless_equals_int (gst_harness_push (h, bytes_buffer (g_bytes_ref
                (jpegs[i]), i)), GST_FLOW_OK);
  }
  for (guint i = 0; i < G_N_ELEMENTS (jpegs); i++) {
    outs[i] = gst_harness_pull (h);
    fail_unless (outs[i] != NULL);
  }
  vss_test_bedrock_control (s, "{\"error_rate\":0}");
  for (guint i = 0; i < G_N_ELEMENTS (jpegs); i++) {
    gfloat *want;

    fail_unless_equals_uint64 (GST_BUFFER_PTS (outs[i]), i * 100 * GST_MSECOND);
    want = expected_vector (c, jpegs[i], 256);
    assert_vector (outs[i], want, 256);
    g_free (want);
    gst_buffer_unref (outs[i]);
    g_bytes_unref (jpegs[i]);
  }
  /* 24 requests at a 30 % error rate: some were retried (P(none) < 1e-3). */
  fail_unless (vss_test_bedrock_stat (s, "errors_5xx") > 0);
  fail_unless (stat_u64 (h, "retries") > 0);
  fail_unless_equals_uint64 (stat_u64 (h, "frames-embedded"), 24);
  gst_harness_teardown (h);
  gst_vss_bedrock_client_free (c);
  server_stop (s);
}

GST_END_TEST;

GST_START_TEST (test_png_as_is)
{
  Server *s = server_start (NULL);
  GstVssBedrockClient *c = client_for (s);
  GstHarness *h = harness_new (s, "dimension=384");
  GBytes *png = make_png (80, 60, 0);
  GstBuffer *out;
  gfloat *want;

  gst_harness_set_src_caps_str (h, "image/png,framerate=1/1");
  fail_unless_equals_int (gst_harness_push (h, bytes_buffer (g_bytes_ref
              (png), 0)), GST_FLOW_OK);
  out = gst_harness_pull (h);
  want = expected_vector (c, png, 384);
  assert_vector (out, want, 384);
  fail_unless_equals_uint64 (stat_u64 (h, "frames-reencoded"), 0);
  g_free (want);
  gst_buffer_unref (out);
  g_bytes_unref (png);
  gst_harness_teardown (h);
  gst_vss_bedrock_client_free (c);
  server_stop (s);
}

GST_END_TEST;

/* A 4K raw frame is sent as a JPEG of at most 2048 px; an oversized JPEG
 * is scaled and re-encoded. */
GST_START_TEST (test_scaling)
{
  Server *s = server_start (NULL);
  GstVssBedrockClient *c = client_for (s);
  GstHarness *h = harness_new (s, "dimension=256");
  GstBuffer *raw = make_raw (3840, 2160, 5), *out;
  GstVideoInfo info;
  GstVideoFrame f;
  GBytes *jpeg, *big;
  const gchar *mime;
  guint w, hh;
  gfloat *want;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, 3840, 2160);
  fail_unless (gst_video_frame_map (&f, &info, raw, GST_MAP_READ));
  jpeg = gst_vss_bedrock_image_encode_frame (&f, 2048, 5 * 1024 * 1024, NULL);
  gst_video_frame_unmap (&f);
  fail_unless (gst_vss_bedrock_image_probe (g_bytes_get_data (jpeg, NULL),
          g_bytes_get_size (jpeg), &mime, &w, &hh));
  fail_unless_equals_int (w, 2048);
  fail_unless_equals_int (hh, 1152);

  gst_harness_set_src_caps_str (h, "video/x-raw,format=RGB,width=3840,"
      "height=2160,framerate=1/1");
  fail_unless_equals_int (gst_harness_push (h, timed (raw, 0)), GST_FLOW_OK);
  out = gst_harness_pull (h);
  want = expected_vector (c, jpeg, 256);
  assert_vector (out, want, 256);
  g_free (want);
  gst_buffer_unref (out);
  gst_harness_teardown (h);

  /* An image wider than 2048 px is not sent as is. */
  big = make_jpeg (2600, 100, 9);
  h = harness_new (s, "dimension=256");
  gst_harness_set_src_caps_str (h, "image/jpeg,framerate=1/1");
  fail_unless_equals_int (gst_harness_push (h, bytes_buffer (g_bytes_ref
              (big), 0)), GST_FLOW_OK);
  out = gst_harness_pull (h);
  fail_unless (gst_vss_buffer_get_embedding_meta (out, IMAGE_MODEL) != NULL);
  fail_unless_equals_uint64 (stat_u64 (h, "frames-reencoded"), 1);
  want = expected_vector (c, big, 256);
  fail_if (fabsf (gst_vss_buffer_get_embedding_meta (out,
              IMAGE_MODEL)->vector[0] - want[0]) < 1e-7);
  g_free (want);
  gst_buffer_unref (out);
  gst_harness_teardown (h);

  g_bytes_unref (big);
  g_bytes_unref (jpeg);
  gst_vss_bedrock_client_free (c);
  server_stop (s);
}

GST_END_TEST;

GST_START_TEST (test_max_in_flight)
{
  Server *s = server_start ("--latency-ms=100", NULL);
  GstHarness *h = harness_new (s, "max-in-flight=4 queue-size=32");
  gint64 t0 = g_get_monotonic_time ();

  gst_harness_set_src_caps_str (h, "video/x-raw,format=RGB,width=64,"
      "height=48,framerate=10/1");
  for (guint i = 0; i < 24; i++)
    fail_unless_equals_int (gst_harness_push (h, timed (make_raw (64, 48, i),
                i)), GST_FLOW_OK);
  for (guint i = 0; i < 24; i++) {
    GstBuffer *out = gst_harness_pull (h);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * 100 * GST_MSECOND);
    gst_buffer_unref (out);
  }
  /* 24 frames, 4 at a time, 100 ms each: about 0.6 s, not 2.4 s. */
  fail_unless (g_get_monotonic_time () - t0 < 2 * G_USEC_PER_SEC);
  fail_unless_equals_int (vss_test_bedrock_stat (s, "max_in_flight"), 4);
  fail_unless (stat_u64 (h, "requests") == 24);
  gst_harness_teardown (h);
  server_stop (s);
}

GST_END_TEST;

typedef struct
{
  GstHarness *h;
  guint n;
  GstFlowReturn last;
} Pusher;

static gpointer
push_thread (gpointer data)
{
  Pusher *p = data;

  for (guint i = 0; i < p->n; i++) {
    p->last = gst_harness_push (p->h, timed (make_raw (32, 32, i), i));
    if (p->last != GST_FLOW_OK)
      break;
  }
  return NULL;
}

static gboolean
wait_frames_in (GstHarness * h, guint64 n)
{
  gint64 end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < end) {
    if (stat_u64 (h, "frames-in") >= n)
      return TRUE;
    g_usleep (10000);
  }
  return FALSE;
}

/* Back-pressure with a hanging server, then a flush that must return at
 * once, then a working stream again. */
GST_START_TEST (test_backpressure_and_flush)
{
  Server *s = server_start ("--hang=1000", "--hang-ms=20000", NULL);
  GstHarness *h = harness_new (s, "max-in-flight=2 queue-size=2 "
      "timeout=30000");
  Pusher p = { h, 10, GST_FLOW_OK };
  GThread *t;
  gint64 t0;
  GstBuffer *out;
  GstSegment seg;

  gst_harness_set_src_caps_str (h, "video/x-raw,format=RGB,width=32,"
      "height=32,framerate=10/1");
  t = g_thread_new ("pusher", push_thread, &p);
  fail_unless (wait_frames_in (h, 4));
  g_usleep (300000);
  /* 2 in flight + 2 queued; the fifth push is blocked. */
  fail_unless_equals_uint64 (stat_u64 (h, "frames-in"), 4);
  fail_unless_equals_int (vss_test_bedrock_stat (s, "in_flight"), 2);
  fail_unless_equals_int (gst_harness_buffers_received (h), 0);

  t0 = g_get_monotonic_time ();
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  g_thread_join (t);
  fail_unless (g_get_monotonic_time () - t0 < G_USEC_PER_SEC,
      "flush took %" G_GINT64_FORMAT " us", g_get_monotonic_time () - t0);
  fail_unless_equals_int (p.last, GST_FLOW_FLUSHING);
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));

  vss_test_bedrock_control (s, "{\"hang\":0}");
  gst_segment_init (&seg, GST_FORMAT_TIME);
  gst_harness_push_event (h, gst_event_new_segment (&seg));
  fail_unless_equals_int (gst_harness_push (h, timed (make_raw (32, 32, 1),
              7)), GST_FLOW_OK);
  out = gst_harness_pull (h);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 700 * GST_MSECOND);
  fail_unless (gst_vss_buffer_get_embedding_meta (out, IMAGE_MODEL) != NULL);
  gst_buffer_unref (out);

  /* Hanging again: going to NULL must not wait for the server. */
  vss_test_bedrock_control (s, "{\"hang\":10}");
  for (guint i = 0; i < 3; i++)
    gst_harness_push (h, timed (make_raw (32, 32, i), 10 + i));
  t0 = g_get_monotonic_time ();
  fail_unless_equals_int (gst_element_set_state (h->element,
          GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  fail_unless (g_get_monotonic_time () - t0 < G_USEC_PER_SEC,
      "state change took %" G_GINT64_FORMAT " us",
      g_get_monotonic_time () - t0);
  gst_harness_teardown (h);
  server_stop (s);
}

GST_END_TEST;

GST_START_TEST (test_eos_drains)
{
  Server *s = server_start ("--latency-ms=50", NULL);
  GstHarness *h = harness_new (s, "max-in-flight=4");
  GstEvent *ev;
  guint n_events_before;

  gst_harness_set_src_caps_str (h, "video/x-raw,format=RGB,width=32,"
      "height=32,framerate=10/1");
  for (guint i = 0; i < 10; i++)
    gst_harness_push (h, timed (make_raw (32, 32, i), i));
  n_events_before = gst_harness_events_received (h);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  /* Everything before EOS comes out before it. */
  while ((ev = gst_harness_pull_event (h))) {
    GstEventType type = GST_EVENT_TYPE (ev);

    gst_event_unref (ev);
    if (type == GST_EVENT_EOS)
      break;
  }
  fail_unless (ev != NULL);
  fail_unless (n_events_before <= 3);
  fail_unless_equals_int (gst_harness_buffers_received (h), 10);
  for (guint i = 0; i < 10; i++) {
    GstBuffer *out = gst_harness_pull (h);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * 100 * GST_MSECOND);
    gst_buffer_unref (out);
  }
  gst_harness_teardown (h);
  server_stop (s);
}

GST_END_TEST;

/* Throttling storm then success; 500 and 503 retried. */
GST_START_TEST (test_retries)
{
  Server *s = server_start ("--throttle=6", "--error-type-suffix", NULL);
  GstHarness *h = harness_new (s, "max-in-flight=1 max-retries=10 "
      "retry-max-time=0");
  GstStructure *st;
  gdouble mean = 0;

  gst_harness_set_src_caps_str (h, "video/x-raw,format=RGB,width=32,"
      "height=32,framerate=10/1");
  for (guint i = 0; i < 3; i++)
    fail_unless_equals_int (gst_harness_push (h, timed (make_raw (32, 32, i),
                i)), GST_FLOW_OK);
  for (guint i = 0; i < 3; i++)
    gst_buffer_unref (gst_harness_pull (h));
  fail_unless_equals_int (vss_test_bedrock_stat (s, "throttled"), 6);
  fail_unless_equals_uint64 (stat_u64 (h, "throttles"), 6);
  fail_unless_equals_uint64 (stat_u64 (h, "retries"), 6);

  vss_test_bedrock_control (s, "{\"error_5xx\":1,\"error_status\":500}");
  gst_harness_push (h, timed (make_raw (32, 32, 3), 3));
  gst_buffer_unref (gst_harness_pull (h));
  vss_test_bedrock_control (s, "{\"error_5xx\":1,\"error_status\":503}");
  gst_harness_push (h, timed (make_raw (32, 32, 4), 4));
  gst_buffer_unref (gst_harness_pull (h));
  fail_unless_equals_int (vss_test_bedrock_stat (s, "errors_5xx"), 2);

  st = stats_of (h);
  {
    guint64 req, retries, fails, bytes, emb;
    fail_unless (gst_structure_get (st, "requests", G_TYPE_UINT64, &req,
            "retries", G_TYPE_UINT64, &retries, "failures", G_TYPE_UINT64,
            &fails, "bytes-sent", G_TYPE_UINT64, &bytes, "frames-embedded",
            G_TYPE_UINT64, &emb, "mean-latency-ms", G_TYPE_DOUBLE, &mean,
            NULL));
    fail_unless_equals_uint64 (req, 5 + 8);
    fail_unless_equals_uint64 (retries, 8);
    fail_unless_equals_uint64 (fails, 0);
    fail_unless_equals_uint64 (emb, 5);
    fail_unless (bytes > 13 * 100);
    fail_unless (mean > 0);
  }
  gst_structure_free (st);
  gst_harness_teardown (h);
  server_stop (s);
}

GST_END_TEST;

static gboolean secret_seen;
static guint log_lines;

static void
log_spy (GstDebugCategory * cat, GstDebugLevel level, const gchar * file,
    const gchar * function, gint line, GObject * object,
    GstDebugMessage * message, gpointer user_data)
{
  const gchar *m = gst_debug_message_get (message);

  log_lines++;
  if (m && (strstr (m, user_data) || strstr (m, SK))) {
    secret_seen = TRUE;
    g_printerr ("secret in log: %s:%d %s\n", file, line, function);
  }
}

static GstMessage *
wait_message (GstBus * bus, GstMessageType type)
{
  GstMessage *m = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND, type);

  fail_unless (m != NULL, "no %s message", gst_message_type_get_name (type));
  return m;
}

static void
check_details (GstMessage * m, gint status, const gchar * type,
    const gchar * forbidden)
{
  const GstStructure *d = NULL;
  GError *err = NULL;
  gchar *debug = NULL;
  gint st = -1;

  if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
    gst_message_parse_error (m, &err, &debug);
    gst_message_parse_error_details (m, &d);
  } else {
    gst_message_parse_warning (m, &err, &debug);
    gst_message_parse_warning_details (m, &d);
  }
  fail_unless (d != NULL, "no details");
  fail_unless (gst_structure_get_int (d, "http-status-code", &st));
  fail_unless_equals_int (st, status);
  if (type)
    fail_unless_equals_string (gst_structure_get_string (d,
            "aws-error-type"), type);
  fail_unless (gst_structure_has_field (d, "aws-message"));
  if (forbidden) {
    gchar *all = gst_structure_to_string (d);
    fail_if (strstr (err->message, forbidden));
    fail_if (strstr (debug, forbidden));
    fail_if (strstr (all, forbidden));
    g_free (all);
  }
  GST_INFO ("%s | %s", err->message, debug);
  g_error_free (err);
  g_free (debug);
}

/* A wrong secret: 403 without retries, an element error naming the AWS
 * error, and the secret nowhere in the error or the logs. */
GST_START_TEST (test_forbidden_secret_hidden)
{
  static const gchar wrong[] = "WRONGsecretVALUE/never+Logged0123456789";
  Server *s = server_start (NULL);
  GstHarness *h;
  GstBus *bus = gst_bus_new ();
  GstMessage *m;
  gchar *desc;
  const GstStructure *d;

  gst_debug_remove_log_function (gst_debug_log_default);
  gst_debug_add_log_function (log_spy, (gpointer) wrong, NULL);
  gst_debug_set_active (TRUE);
  gst_debug_set_default_threshold (GST_LEVEL_TRACE);

  desc = g_strdup_printf ("access-key-id=" AK " secret-access-key=%s", wrong);
  h = harness_new (s, desc);
  g_free (desc);
  gst_element_set_bus (h->element, bus);
  gst_harness_set_src_caps_str (h, "video/x-raw,format=RGB,width=32,"
      "height=32,framerate=10/1");
  gst_harness_push (h, timed (make_raw (32, 32, 0), 0));
  m = wait_message (bus, GST_MESSAGE_ERROR);
  check_details (m, 403, "InvalidSignatureException", wrong);
  gst_message_parse_error_details (m, &d);
  fail_unless (strlen (gst_structure_get_string (d, "aws-message")) > 0);
  gst_message_unref (m);
  /* Not retried; the stream has stopped. */
  fail_unless_equals_int (vss_test_bedrock_stat (s, "requests"), 1);
  fail_unless_equals_int (gst_harness_push (h, timed (make_raw (32, 32, 1),
              1)), GST_FLOW_ERROR);
  gst_element_set_bus (h->element, NULL);
  gst_harness_teardown (h);
  gst_object_unref (bus);

  gst_debug_set_default_threshold (GST_LEVEL_NONE);
  gst_debug_remove_log_function (log_spy);
  fail_unless (log_lines > 100, "log capture did not work");
  fail_if (secret_seen, "a secret reached the logs");
  server_stop (s);
}

GST_END_TEST;

/* 400 (the server does not know this model id) is not retried. */
GST_START_TEST (test_validation_error)
{
  Server *s = server_start (NULL);
  GstHarness *h = harness_new (s, "model=amazon.titan-embed-image-v1:9");
  GstBus *bus = gst_bus_new ();
  GstMessage *m;

  gst_element_set_bus (h->element, bus);
  gst_harness_set_src_caps_str (h, "video/x-raw,format=RGB,width=32,"
      "height=32,framerate=10/1");
  gst_harness_push (h, timed (make_raw (32, 32, 0), 0));
  m = wait_message (bus, GST_MESSAGE_ERROR);
  check_details (m, 400, "ValidationException", NULL);
  gst_message_unref (m);
  fail_unless_equals_int (vss_test_bedrock_stat (s, "requests"), 1);
  fail_unless_equals_uint64 (stat_u64 (h, "failures"), 1);
  gst_element_set_bus (h->element, NULL);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  server_stop (s);
}

GST_END_TEST;

/* Malformed, truncated and short answers under each on-error. */
GST_START_TEST (test_bad_answers)
{
  Server *s = server_start (NULL);
  GstBus *bus = gst_bus_new ();
  GstHarness *h;
  GstMessage *m;
  GstBuffer *out;

  /* skip: malformed JSON, the frame passes without embedding. */
  h = harness_new (s, "on-error=skip max-in-flight=1");
  gst_element_set_bus (h->element, bus);
  gst_harness_set_src_caps_str (h, "video/x-raw,format=RGB,width=32,"
      "height=32,framerate=10/1");
  vss_test_bedrock_control (s, "{\"malformed\":1}");
  gst_harness_push (h, timed (make_raw (32, 32, 0), 0));
  gst_harness_push (h, timed (make_raw (32, 32, 1), 1));
  out = gst_harness_pull (h);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 0);
  fail_unless (gst_vss_buffer_get_embedding_meta (out, IMAGE_MODEL) == NULL);
  gst_buffer_unref (out);
  out = gst_harness_pull (h);
  fail_unless (gst_vss_buffer_get_embedding_meta (out, IMAGE_MODEL) != NULL);
  gst_buffer_unref (out);
  m = wait_message (bus, GST_MESSAGE_WARNING);
  check_details (m, 200, "", NULL);
  gst_message_unref (m);
  fail_unless_equals_uint64 (stat_u64 (h, "frames-skipped"), 1);
  /* An outage does not flood the bus: one warning a second at most. */
  vss_test_bedrock_control (s, "{\"malformed\":5}");
  for (guint i = 2; i < 7; i++)
    gst_harness_push (h, timed (make_raw (32, 32, i), i));
  for (guint i = 2; i < 7; i++)
    gst_buffer_unref (gst_harness_pull (h));
  fail_unless_equals_uint64 (stat_u64 (h, "frames-skipped"), 6);
  m = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  fail_unless (m == NULL, "warnings are not rate-limited");
  gst_element_set_bus (h->element, NULL);
  gst_harness_teardown (h);

  /* drop: a truncated answer, the frame is gone, the next one passes. */
  h = harness_new (s, "on-error=drop max-in-flight=1");
  gst_harness_set_src_caps_str (h, "video/x-raw,format=RGB,width=32,"
      "height=32,framerate=10/1");
  vss_test_bedrock_control (s, "{\"truncate\":1}");
  gst_harness_push (h, timed (make_raw (32, 32, 0), 0));
  gst_harness_push (h, timed (make_raw (32, 32, 1), 1));
  out = gst_harness_pull (h);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 100 * GST_MSECOND);
  gst_buffer_unref (out);
  fail_unless_equals_uint64 (stat_u64 (h, "frames-dropped"), 1);
  fail_unless_equals_int (vss_test_bedrock_stat (s, "truncated"), 1);
  gst_harness_teardown (h);

  /* fail: an embedding one value short is an element error. */
  h = harness_new (s, "dimension=384");
  gst_element_set_bus (h->element, bus);
  gst_harness_set_src_caps_str (h, "video/x-raw,format=RGB,width=32,"
      "height=32,framerate=10/1");
  vss_test_bedrock_control (s, "{\"wrong_length\":1}");
  gst_harness_push (h, timed (make_raw (32, 32, 0), 0));
  m = wait_message (bus, GST_MESSAGE_ERROR);
  check_details (m, 200, "", NULL);
  gst_message_unref (m);
  fail_unless_equals_int (vss_test_bedrock_stat (s, "wrong_length"), 1);
  gst_element_set_bus (h->element, NULL);
  gst_harness_teardown (h);

  gst_object_unref (bus);
  server_stop (s);
}

GST_END_TEST;

/* Text embeddings for queries: Titan V2's ':' in the model id survives
 * signing, and the multimodal model's text lands in the frames' space. */
GST_START_TEST (test_embed_text)
{
  Server *s = server_start (NULL);
  GstVssBedrockClient *c = client_for (s);
  GError *err = NULL;
  gfloat *v, *v2;
  guint dim = 0;
  gdouble norm = 0;

  v = gst_vss_bedrock_embed_text (c, TEXT_MODEL, "a caption about a car",
      512, &dim, &err);
  fail_unless (v != NULL, "%s", err ? err->message : "");
  fail_unless_equals_int (dim, 512);
  for (guint i = 0; i < dim; i++)
    norm += (gdouble) v[i] * v[i];
  fail_unless (fabs (norm - 1.0) < 1e-4);
  g_free (v);
  v = gst_vss_bedrock_embed_text (c, IMAGE_MODEL, "a red car", 0, &dim, &err);
  fail_unless (v != NULL);
  fail_unless_equals_int (dim, 1024);
  v2 = gst_vss_bedrock_embed_text (c, IMAGE_MODEL, "a red car", 0, &dim, &err);
  fail_unless (memcmp (v, v2, 1024 * sizeof (gfloat)) == 0);
  g_free (v);
  g_free (v2);
  fail_unless_equals_int (vss_test_bedrock_stat (s, "auth_failures"), 0);

  /* Errors name the status and AWS error type. */
  v = gst_vss_bedrock_embed_text (c, TEXT_MODEL, "x", 384, &dim, &err);
  fail_unless (v == NULL && err != NULL);
  g_clear_error (&err);
  vss_test_bedrock_control (s, "{\"throttle\":10}");
  v = gst_vss_bedrock_embed_text (c, TEXT_MODEL, "x", 0, &dim, &err);
  fail_unless (v == NULL && err != NULL);
  fail_unless (strstr (err->message, "429") != NULL, "%s", err->message);
  fail_unless (strstr (err->message, "ThrottlingException") != NULL);
  g_clear_error (&err);
  gst_vss_bedrock_client_free (c);
  server_stop (s);
}

GST_END_TEST;

GST_START_TEST (test_text_model_refused_for_frames)
{
  Server *s = server_start (NULL);
  GstElement *e = gst_element_factory_make ("vssembed", NULL);
  GstBus *bus = gst_bus_new ();
  GstMessage *m;
  GError *err = NULL;

  gst_util_set_object_arg (G_OBJECT (e), "provider", "bedrock");
  g_object_set (e, "model", TEXT_MODEL, "endpoint", s->endpoint, NULL);
  gst_element_set_bus (e, bus);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  m = wait_message (bus, GST_MESSAGE_ERROR);
  gst_message_parse_error (m, &err, NULL);
  fail_unless (strstr (err->message, TEXT_MODEL) != NULL, "%s", err->message);
  g_error_free (err);
  gst_message_unref (m);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (e);
  gst_object_unref (bus);
  server_stop (s);
}

GST_END_TEST;

GST_START_TEST (test_latency_query)
{
  Server *s = server_start (NULL);
  GstHarness *h = harness_new (s, "latency=300 max-in-flight=4 "
      "queue-size=6");
  GstQuery *q = gst_query_new_latency ();
  GstClockTime min, max;
  gboolean live;

  gst_harness_set_upstream_latency (h, 20 * GST_MSECOND);
  gst_harness_set_src_caps_str (h, "video/x-raw,format=RGB,width=32,"
      "height=32,framerate=10/1");
  fail_unless (gst_pad_peer_query (h->sinkpad, q));
  gst_query_parse_latency (q, &live, &min, &max);
  fail_unless (live);
  fail_unless_equals_uint64 (min, 320 * GST_MSECOND);
  /* 10 frames of 100 ms on top of upstream's maximum, or unbounded. */
  fail_unless (max == GST_CLOCK_TIME_NONE || max >= 1000 * GST_MSECOND);
  gst_query_unref (q);
  gst_harness_teardown (h);
  server_stop (s);
}

GST_END_TEST;

/* Encoded images are for provider=bedrock: local refuses them at
 * negotiation, bedrock accepts them. */
GST_START_TEST (test_local_refuses_jpeg)
{
  GstHarness *h = gst_harness_new ("vssembed");
  GstCaps *jpeg = gst_caps_from_string ("image/jpeg,framerate=1/1");
  GstElement *e;
  GstPad *pad;

  fail_if (gst_pad_peer_query_accept_caps (h->srcpad, jpeg));
  gst_harness_set_src_caps (h, gst_caps_ref (jpeg));
  fail_unless_equals_int (gst_harness_push (h, gst_buffer_new_allocate (NULL,
              16, NULL)), GST_FLOW_NOT_NEGOTIATED);
  gst_harness_teardown (h);

  e = gst_element_factory_make ("vssembed", NULL);
  gst_util_set_object_arg (G_OBJECT (e), "provider", "bedrock");
  pad = gst_element_get_static_pad (e, "sink");
  fail_unless (gst_pad_query_accept_caps (pad, jpeg));
  gst_object_unref (pad);
  gst_object_unref (e);
  gst_caps_unref (jpeg);
}

GST_END_TEST;

/* A request that times out is retried; retries stop at retry-max-time
 * and the element error names the last answer. */
GST_START_TEST (test_timeout_and_retry_bound)
{
  Server *s = server_start (NULL);
  GstHarness *h = harness_new (s, "timeout=300 max-in-flight=1");
  GstBus *bus = gst_bus_new ();
  GstBuffer *out;
  GstMessage *m;
  gint64 t0;

  gst_harness_set_src_caps_str (h, "video/x-raw,format=RGB,width=32,"
      "height=32,framerate=10/1");
  vss_test_bedrock_control (s, "{\"hang\":1,\"hang_ms\":5000}");
  gst_harness_push (h, timed (make_raw (32, 32, 0), 0));
  out = gst_harness_pull (h);
  fail_unless (gst_vss_buffer_get_embedding_meta (out, IMAGE_MODEL) != NULL);
  gst_buffer_unref (out);
  fail_unless_equals_uint64 (stat_u64 (h, "retries"), 1);
  fail_unless_equals_int (vss_test_bedrock_stat (s, "hung"), 1);
  gst_harness_teardown (h);

  /* Endless throttling: many retries allowed, but not after 600 ms. */
  h = harness_new (s, "max-retries=100 retry-max-time=600");
  gst_element_set_bus (h->element, bus);
  gst_harness_set_src_caps_str (h, "video/x-raw,format=RGB,width=32,"
      "height=32,framerate=10/1");
  vss_test_bedrock_control (s, "{\"throttle\":100000}");
  t0 = g_get_monotonic_time ();
  gst_harness_push (h, timed (make_raw (32, 32, 1), 1));
  m = wait_message (bus, GST_MESSAGE_ERROR);
  fail_unless (g_get_monotonic_time () - t0 < 3 * G_USEC_PER_SEC);
  check_details (m, 429, "ThrottlingException", NULL);
  gst_message_unref (m);
  fail_unless (stat_u64 (h, "retries") >= 2);
  fail_unless (stat_u64 (h, "retries") < 100);
  fail_unless_equals_uint64 (stat_u64 (h, "failures"), 1);
  gst_element_set_bus (h->element, NULL);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  server_stop (s);
}

GST_END_TEST;

/* A DRAIN query returns only once every earlier frame has been pushed. */
GST_START_TEST (test_drain_query)
{
  Server *s = server_start ("--latency-ms=100", NULL);
  GstHarness *h = harness_new (s, "max-in-flight=4");
  GstQuery *q = gst_query_new_drain ();

  gst_harness_set_src_caps_str (h, "video/x-raw,format=RGB,width=32,"
      "height=32,framerate=10/1");
  for (guint i = 0; i < 6; i++)
    gst_harness_push (h, timed (make_raw (32, 32, i), i));
  fail_unless (gst_harness_buffers_received (h) < 6);
  fail_unless (gst_pad_peer_query (h->srcpad, q));
  fail_unless_equals_int (gst_harness_buffers_received (h), 6);
  gst_query_unref (q);
  gst_harness_teardown (h);
  server_stop (s);
}

GST_END_TEST;

/* A live pipeline: the pipeline latency includes the element's, frames
 * come out in order with embeddings. */
GST_START_TEST (test_live_pipeline)
{
  Server *s = server_start ("--latency-ms=30", NULL);
  gchar *desc = g_strdup_printf ("videotestsrc is-live=true num-buffers=15 "
      "! video/x-raw,format=I420,width=320,height=180,framerate=30/1 ! "
      "vssembed provider=bedrock endpoint=%s latency=200 max-in-flight=4 ! "
      "appsink name=sink sync=true", s->endpoint);
  GstElement *p = gst_parse_launch (desc, NULL);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  GstQuery *q = gst_query_new_latency ();
  GstClockTime min = 0, max = 0, last = GST_CLOCK_TIME_NONE;
  GstSample *sample;
  gboolean live = FALSE;
  guint n = 0;

  gst_element_set_state (p, GST_STATE_PLAYING);
  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (sink)))) {
    GstBuffer *b = gst_sample_get_buffer (sample);

    fail_unless (gst_vss_buffer_get_embedding_meta (b, IMAGE_MODEL) != NULL);
    fail_unless (!GST_CLOCK_TIME_IS_VALID (last) || GST_BUFFER_PTS (b) > last);
    last = GST_BUFFER_PTS (b);
    if (n++ == 2) {
      fail_unless (gst_element_query (p, q));
      gst_query_parse_latency (q, &live, &min, &max);
    }
    gst_sample_unref (sample);
  }
  fail_unless_equals_int (n, 15);
  fail_unless (live);
  fail_unless (min >= 200 * GST_MSECOND, "min latency %" GST_TIME_FORMAT,
      GST_TIME_ARGS (min));
  fail_unless (max == GST_CLOCK_TIME_NONE || max >= min);
  gst_query_unref (q);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (p);
  g_free (desc);
  server_stop (s);
}

GST_END_TEST;

/* Temporary credentials: the session token is sent and signed. */
GST_START_TEST (test_session_token)
{
  Server *s = server_start ("--session-token=FwoGvssTOKEN/test==", NULL);
  GstHarness *h;
  GstBuffer *out;

  g_setenv ("AWS_SESSION_TOKEN", "FwoGvssTOKEN/test==", TRUE);
  h = harness_new (s, NULL);
  gst_harness_set_src_caps_str (h, "video/x-raw,format=RGB,width=32,"
      "height=32,framerate=10/1");
  gst_harness_push (h, timed (make_raw (32, 32, 0), 0));
  out = gst_harness_pull (h);
  fail_unless (gst_vss_buffer_get_embedding_meta (out, IMAGE_MODEL) != NULL);
  gst_buffer_unref (out);
  fail_unless_equals_int (vss_test_bedrock_stat (s, "auth_failures"), 0);
  gst_harness_teardown (h);
  g_unsetenv ("AWS_SESSION_TOKEN");
  server_stop (s);
}

GST_END_TEST;

static Suite *
vssembed_bedrock_suite (void)
{
  Suite *suite = suite_create ("vssembed-bedrock");
  TCase *tc = tcase_create ("general");

  /* The server's test keys; nothing may leave loopback. */
  g_setenv ("AWS_ACCESS_KEY_ID", AK, TRUE);
  g_setenv ("AWS_SECRET_ACCESS_KEY", SK, TRUE);
  g_unsetenv ("AWS_SESSION_TOKEN");
  g_setenv ("AWS_REGION", REGION, TRUE);
  g_setenv ("AWS_EC2_METADATA_DISABLED", "true", TRUE);
  g_setenv ("AWS_CONFIG_FILE", "/nonexistent", TRUE);
  g_setenv ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent", TRUE);
  g_unsetenv ("AWS_PROFILE");
  g_unsetenv ("http_proxy");
  g_unsetenv ("HTTP_PROXY");
  g_unsetenv ("all_proxy");
  g_unsetenv ("ALL_PROXY");

  suite_add_tcase (suite, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_order_and_jpeg_as_is);
  tcase_add_test (tc, test_png_as_is);
  tcase_add_test (tc, test_scaling);
  tcase_add_test (tc, test_max_in_flight);
  tcase_add_test (tc, test_backpressure_and_flush);
  tcase_add_test (tc, test_eos_drains);
  tcase_add_test (tc, test_retries);
  tcase_add_test (tc, test_timeout_and_retry_bound);
  tcase_add_test (tc, test_drain_query);
  tcase_add_test (tc, test_live_pipeline);
  tcase_add_test (tc, test_session_token);
  tcase_add_test (tc, test_forbidden_secret_hidden);
  tcase_add_test (tc, test_validation_error);
  tcase_add_test (tc, test_bad_answers);
  tcase_add_test (tc, test_embed_text);
  tcase_add_test (tc, test_text_model_refused_for_frames);
  tcase_add_test (tc, test_latency_query);
  tcase_add_test (tc, test_local_refuses_jpeg);
  return suite;
}

GST_CHECK_MAIN (vssembed_bedrock);
