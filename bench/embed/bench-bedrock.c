/* gst-vss: vssembed provider=bedrock throughput against the test server
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Usage: bench-bedrock <vss-bedrock-server> [latency-ms]
 *
 * Starts the local Bedrock test server with a fixed latency per request
 * (default 100 ms) and pushes small JPEGs (sent as they are) and raw
 * 640x360 frames (JPEG-encoded by the element) through
 * appsrc ! vssembed ! appsink for max-in-flight 1, 4, 16 and 64. Prints one
 * JSON document: frames/s per setting, the target 0.9 x max-in-flight /
 * latency, and whether every frame came out, embedded, in input order.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <gio/gio.h>
#include <gst/gst.h>
#include <gst/app/gstappsrc.h>
#include <gst/app/gstappsink.h>
#include <gst/video/video.h>
#include "gstvss.h"
#include "bedrock/gstvssbedrockimage.h"

#define AK "AKIDVSSBENCH00000001"
#define SK "vss/bench+Secret0123456789abcdefghijklm"

typedef struct
{
  GstElement *src;
  GPtrArray *frames;
  guint n;
} Feeder;

static gpointer
feed (gpointer data)
{
  Feeder *f = data;

  for (guint i = 0; i < f->n; i++) {
    GstBuffer *b = gst_buffer_copy (g_ptr_array_index (f->frames,
            i % f->frames->len));

    GST_BUFFER_PTS (b) = i * GST_MSECOND;
    GST_BUFFER_DURATION (b) = GST_MSECOND;
    if (gst_app_src_push_buffer (GST_APP_SRC (f->src), b) != GST_FLOW_OK)
      break;
  }
  gst_app_src_end_of_stream (GST_APP_SRC (f->src));
  return NULL;
}

/* Runs one setting; returns frames/s, sets *ordered and *embedded. */
static gdouble
run (const gchar * endpoint, const gchar * caps, GPtrArray * frames,
    guint mif, guint n, gboolean * ordered, guint * embedded,
    guint64 * body_bytes)
{
  gchar *desc = g_strdup_printf ("appsrc name=src format=time caps=\"%s\" "
      "max-bytes=0 max-buffers=64 block=true ! "
      "vssembed name=e provider=bedrock endpoint=%s max-in-flight=%u "
      "queue-size=%u dimension=256 ! "
      "appsink name=sink sync=false max-buffers=0", caps, endpoint, mif,
      MAX (mif, 8));
  GError *err = NULL;
  GstElement *pipe = gst_parse_launch (desc, &err);
  GstElement *sink;
  Feeder f;
  GThread *t;
  GstSample *s;
  gint64 t0, t1;
  guint i = 0;

  if (!pipe)
    g_error ("pipeline: %s", err->message);
  f.src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  f.frames = frames;
  f.n = n;
  sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  *ordered = TRUE;
  *embedded = 0;
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  t0 = g_get_monotonic_time ();
  t = g_thread_new ("feed", feed, &f);
  while ((s = gst_app_sink_pull_sample (GST_APP_SINK (sink)))) {
    GstBuffer *b = gst_sample_get_buffer (s);

    if (GST_BUFFER_PTS (b) != i * GST_MSECOND)
      *ordered = FALSE;
    if (gst_vss_buffer_get_embedding_meta (b, GST_VSS_BEDROCK_IMAGE_MODEL))
      (*embedded)++;
    i++;
    gst_sample_unref (s);
  }
  t1 = g_get_monotonic_time ();
  g_thread_join (t);
  {
    GstMessage *m = gst_bus_pop_filtered (GST_ELEMENT_BUS (pipe),
        GST_MESSAGE_ERROR);
    if (m) {
      gst_message_parse_error (m, &err, NULL);
      g_printerr ("bench-bedrock: %s\n", err->message);
      g_clear_error (&err);
      gst_message_unref (m);
    }
  }
  {
    GstElement *e = gst_bin_get_by_name (GST_BIN (pipe), "e");
    GstStructure *st = NULL;
    guint64 bytes = 0, req = 0;

    g_object_get (e, "stats", &st, NULL);
    gst_structure_get (st, "bytes-sent", G_TYPE_UINT64, &bytes, "requests",
        G_TYPE_UINT64, &req, NULL);
    *body_bytes = req ? bytes / req : 0;
    gst_structure_free (st);
    gst_object_unref (e);
  }
  gst_element_set_state (pipe, GST_STATE_NULL);
  if (i != n)
    *ordered = FALSE;
  gst_object_unref (f.src);
  gst_object_unref (sink);
  gst_object_unref (pipe);
  g_free (desc);
  return i / ((t1 - t0) / 1e6);
}

static GstBuffer *
raw_frame (gint w, gint h, guint seed, gboolean jpeg)
{
  GstVideoInfo info;
  GstVideoFrame f;
  GstBuffer *buf;
  GBytes *b;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, w, h);
  buf = gst_buffer_new_allocate (NULL, info.size, NULL);
  gst_video_frame_map (&f, &info, buf, GST_MAP_WRITE);
  for (gint y = 0; y < h; y++) {
    guint8 *row = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&f, 0) +
        y * GST_VIDEO_FRAME_PLANE_STRIDE (&f, 0);
    for (gint x = 0; x < w; x++) {
      /* Smooth gradients and a moving block, like camera frames rather
       * than noise (which would make the JPEGs, and the run, much
       * bigger). */
      gboolean block = x > (gint) (seed * 8) % w && x < (gint) (seed * 8) % w
          + w / 5 && y > h / 3 && y < h / 2;
      row[3 * x] = block ? 200 : (guint8) (x * 255 / w + seed);
      row[3 * x + 1] = block ? 40 : (guint8) (y * 255 / h);
      row[3 * x + 2] = (guint8) ((x + y) * 128 / (w + h) + seed * 3);
    }
  }
  if (!jpeg) {
    gst_video_frame_unmap (&f);
    return buf;
  }
  b = gst_vss_bedrock_image_encode_frame (&f, 2048, G_MAXSIZE, NULL);
  gst_video_frame_unmap (&f);
  gst_buffer_unref (buf);
  return gst_buffer_new_wrapped_bytes (b);
}

int
main (int argc, char **argv)
{
  static const guint settings[] = { 1, 4, 16, 64 };
  GSubprocess *server;
  GDataInputStream *out;
  GPtrArray *jpegs, *raws;
  GError *err = NULL;
  gchar *line, *lat_arg, *endpoint;
  guint port = 0, latency_ms = 100;
  gboolean all_ok = TRUE;

  gst_init (&argc, &argv);
  if (argc < 2) {
    g_printerr ("usage: %s <vss-bedrock-server> [latency-ms]\n", argv[0]);
    return 2;
  }
  if (argc > 2)
    latency_ms = (guint) g_ascii_strtoull (argv[2], NULL, 10);
  g_setenv ("AWS_ACCESS_KEY_ID", AK, TRUE);
  g_setenv ("AWS_SECRET_ACCESS_KEY", SK, TRUE);
  g_unsetenv ("AWS_SESSION_TOKEN");
  g_setenv ("AWS_REGION", "us-east-1", TRUE);
  g_setenv ("AWS_EC2_METADATA_DISABLED", "true", TRUE);
  g_unsetenv ("http_proxy");
  g_unsetenv ("HTTP_PROXY");

  lat_arg = g_strdup_printf ("--latency-ms=%u", latency_ms);
  server = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
      G_SUBPROCESS_FLAGS_STDOUT_PIPE, &err, argv[1], "--access-key=" AK,
      "--secret-key=" SK, lat_arg, NULL);
  if (!server) {
    g_printerr ("bench-bedrock: cannot start %s: %s\n", argv[1], err->message);
    return 1;
  }
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (server));
  line = g_data_input_stream_read_line (out, NULL, NULL, NULL);
  if (!line || sscanf (line, "PORT %u", &port) != 1) {
    g_printerr ("bench-bedrock: the server did not start\n");
    return 1;
  }
  endpoint = g_strdup_printf ("http://127.0.0.1:%u", port);

  jpegs = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  raws = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  for (guint i = 0; i < 32; i++) {
    g_ptr_array_add (jpegs, raw_frame (160, 90, i, TRUE));
    g_ptr_array_add (raws, raw_frame (640, 360, i, FALSE));
  }

  printf ("{\n  \"benchmark\": \"vssembed provider=bedrock\",\n"
      "  \"server_latency_ms\": %u,\n  \"results\": [\n", latency_ms);
  for (guint k = 0; k < 2; k++) {
    gboolean jpeg = k == 0;
    const gchar *caps = jpeg ? "image/jpeg,framerate=1000/1" :
        "video/x-raw,format=RGB,width=640,height=360,framerate=1000/1";

    for (guint i = 0; i < G_N_ELEMENTS (settings); i++) {
      guint mif = settings[i], n = MAX (40, mif * 30), embedded;
      guint64 body_bytes = 0;
      gboolean ordered;
      gdouble target = 0.9 * mif * 1000.0 / latency_ms;
      gdouble fps = run (endpoint, caps, jpeg ? jpegs : raws, mif, n,
          &ordered, &embedded, &body_bytes);
      gboolean ok = ordered && embedded == n;

      all_ok &= ok;
      printf ("    {\"input\": \"%s\", \"max_in_flight\": %u, \"frames\": %u, "
          "\"frames_per_s\": %.1f, \"target_frames_per_s\": %.1f, "
          "\"meets_target\": %s, \"order_preserved\": %s, "
          "\"all_embedded\": %s, \"mean_request_bytes\": %" G_GUINT64_FORMAT
          "}%s\n", jpeg ? "jpeg 160x90 (sent as is)" :
          "raw RGB 640x360 (encoded)", mif, n, fps, target,
          fps >= target ? "true" : "false", ordered ? "true" : "false",
          embedded == n ? "true" : "false", body_bytes, k == 1
          && i == G_N_ELEMENTS (settings) - 1 ? "" : ",");
      fflush (stdout);
    }
  }
  printf ("  ]\n}\n");

  g_subprocess_send_signal (server, SIGTERM);
  g_subprocess_wait (server, NULL, NULL);
  g_object_unref (server);
  g_object_unref (out);
  g_ptr_array_unref (jpegs);
  g_ptr_array_unref (raws);
  g_free (line);
  g_free (lat_arg);
  g_free (endpoint);
  return all_ok ? 0 : 1;
}
