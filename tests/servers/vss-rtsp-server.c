/* gst-vss tests: vss-rtsp-server — serve a clip over RTSP on loopback
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A small RTSP server on GStreamer's rtsp-server library, for end-to-end
 * tests and benchmarks of live ingest:
 *
 *   vss-rtsp-server --clip clip.mkv [--port P] [--mount /stream] [--loop]
 *
 * serves the H.264 video of CLIP (Matroska or MP4, as vss-make-clip writes)
 * at rtsp://127.0.0.1:P/stream, in real time, without re-encoding. Every
 * client gets its own session that starts at the beginning of the clip and
 * ends (RTSP EOS) at its end. --loop makes the server seek back instead of
 * ending, but the SDP still announces the clip's range (npt=0-<duration>),
 * and rtspsrc ends the stream there by itself: with rtspsrc, --loop means
 * "reconnect at every end of the clip". `--source test` serves a live videotestsrc encoded with
 * x264enc instead of a clip.
 *
 * Once listening, it prints the URL on one line of stdout and flushes, so a
 * test can start it with --port 0 and read where it is. It only binds
 * 127.0.0.1. SIGTERM and SIGINT stop it at once (a test "drops" a stream by
 * killing it and starts it again on the same port with --port P), and so
 * does the end of stdin with --exit-on-stdin-eof.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib-unix.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

static gint opt_port = 0;
static gchar *opt_mount = NULL;
static gchar *opt_clip = NULL;
static gchar *opt_source = NULL;
static gboolean opt_loop = FALSE;
static gboolean opt_shared = FALSE;
static gboolean opt_stdin = FALSE;

static GOptionEntry entries[] = {
  {"port", 'p', 0, G_OPTION_ARG_INT, &opt_port,
      "TCP port on 127.0.0.1 (default 0: any free port)", "P"},
  {"mount", 'm', 0, G_OPTION_ARG_STRING, &opt_mount,
      "Path of the stream (default /stream)", "PATH"},
  {"clip", 'c', 0, G_OPTION_ARG_FILENAME, &opt_clip,
      "Clip with H.264 video to serve (Matroska or MP4)", "FILE"},
  {"source", 's', 0, G_OPTION_ARG_STRING, &opt_source,
      "clip (default) or test (a live videotestsrc, 640x360, 10 fps)", "KIND"},
  {"loop", 'l', 0, G_OPTION_ARG_NONE, &opt_loop,
      "Repeat the clip forever", NULL},
  {"shared", 0, 0, G_OPTION_ARG_NONE, &opt_shared,
      "One session for all clients, like a camera (default: one each)", NULL},
  {"exit-on-stdin-eof", 0, 0, G_OPTION_ARG_NONE, &opt_stdin,
        "Exit when stdin closes (tests give a pipe, so it dies with them)",
      NULL},
  {NULL}
};

static GMainLoop *loop;

static gboolean
on_signal (gpointer user_data)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static gboolean
on_stdin (gint fd, GIOCondition cond, gpointer user_data)
{
  gchar buf[256];

  if (read (fd, buf, sizeof (buf)) <= 0) {
    g_main_loop_quit (loop);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static void
seek_to_start (GstElement * pipeline, gpointer user_data)
{
  gst_element_seek_simple (pipeline, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH, 0);
}

/* --loop: the clip's EOS is dropped before the payloader and the media's
 * pipeline seeks back to the start, from another thread than this streaming
 * thread. The flushing seek restarts the timestamps at 0 and rtp timestamps
 * continue (the payloader keeps its offset), so clients see one endless
 * stream. */
static GstPadProbeReturn
loop_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);

  if (GST_EVENT_TYPE (ev) == GST_EVENT_EOS) {
    gst_element_call_async (GST_ELEMENT (user_data), seek_to_start, NULL, NULL);
    return GST_PAD_PROBE_DROP;
  }
  return GST_PAD_PROBE_OK;
}

static void
on_media_configure (GstRTSPMediaFactory * factory, GstRTSPMedia * media,
    gpointer user_data)
{
  GstElement *bin = gst_rtsp_media_get_element (media);
  GstElement *parse = gst_bin_get_by_name (GST_BIN (bin), "parse");

  if (parse != NULL) {
    GstPad *pad = gst_element_get_static_pad (parse, "sink");
    GstElement *top = bin;

    while (GST_OBJECT_PARENT (top) != NULL)
      top = GST_ELEMENT (GST_OBJECT_PARENT (top));
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, loop_probe,
        top, NULL);
    gst_object_unref (pad);
    gst_object_unref (parse);
  }
  gst_object_unref (bin);
}

int
main (int argc, char **argv)
{
  GOptionContext *ctx = g_option_context_new ("- serve a clip over RTSP");
  GError *error = NULL;
  GstRTSPServer *server;
  GstRTSPMountPoints *mounts;
  GstRTSPMediaFactory *factory;
  gchar *launch, *port_str;
  gint port;
  const gchar *mount;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("vss-rtsp-server: %s\n", error->message);
    return 2;
  }
  g_option_context_free (ctx);
  mount = opt_mount ? opt_mount : "/stream";
  if (mount[0] != '/' || opt_port < 0 || opt_port > 65535) {
    g_printerr ("vss-rtsp-server: --mount must start with / and --port be "
        "0..65535\n");
    return 2;
  }

  if (opt_source == NULL || strcmp (opt_source, "clip") == 0) {
    gchar *q;
    if (opt_clip == NULL || !g_file_test (opt_clip, G_FILE_TEST_IS_REGULAR)) {
      g_printerr ("vss-rtsp-server: --clip FILE is required and must exist "
          "(make one with vss-make-clip)\n");
      return 2;
    }
    q = g_strescape (opt_clip, NULL);
    /* parsebin demuxes Matroska or MP4 and parses the H.264 without
     * decoding; config-interval makes every keyframe carry SPS/PPS so that a
     * client that joins late can start decoding. */
    launch = g_strdup_printf ("( filesrc location=\"%s\" ! parsebin ! "
        "h264parse name=parse config-interval=-1 ! "
        "rtph264pay name=pay0 pt=96 config-interval=-1 )", q);
    g_free (q);
  } else if (strcmp (opt_source, "test") == 0) {
    launch = g_strdup ("( videotestsrc is-live=true pattern=ball ! "
        "video/x-raw,width=640,height=360,framerate=10/1 ! "
        "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! "
        "h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1 )");
  } else {
    g_printerr ("vss-rtsp-server: --source is clip or test\n");
    return 2;
  }

  server = gst_rtsp_server_new ();
  gst_rtsp_server_set_address (server, "127.0.0.1");
  port_str = g_strdup_printf ("%d", opt_port);
  gst_rtsp_server_set_service (server, port_str);
  g_free (port_str);
  mounts = gst_rtsp_server_get_mount_points (server);
  factory = gst_rtsp_media_factory_new ();
  gst_rtsp_media_factory_set_launch (factory, launch);
  gst_rtsp_media_factory_set_shared (factory, opt_shared);
  if (opt_loop)
    g_signal_connect (factory, "media-configure",
        G_CALLBACK (on_media_configure), NULL);
  gst_rtsp_mount_points_add_factory (mounts, mount, factory);
  g_object_unref (mounts);
  g_free (launch);

  if (gst_rtsp_server_attach (server, NULL) == 0) {
    g_printerr ("vss-rtsp-server: cannot listen on 127.0.0.1:%d\n", opt_port);
    g_object_unref (server);
    return 1;
  }
  /* Handlers before the URL is printed: a client may stop us at once. */
  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, on_signal, NULL);
  g_unix_signal_add (SIGTERM, on_signal, NULL);
  port = gst_rtsp_server_get_bound_port (server);
  printf ("rtsp://127.0.0.1:%d%s\n", port, mount);
  fflush (stdout);

  if (opt_stdin)
    g_unix_fd_add (0, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, NULL);
  g_main_loop_run (loop);
  g_main_loop_unref (loop);
  g_object_unref (server);
  g_free (opt_mount);
  g_free (opt_clip);
  g_free (opt_source);
  return 0;
}
