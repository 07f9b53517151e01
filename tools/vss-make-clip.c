/* gst-vss: vss-make-clip — a video of real photographs with ground truth
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Builds a clip from the photographs listed in tools/scene/photos.txt:
 * scenes of 3-20 s, each a slow pan and zoom over one photograph, with sensor
 * noise, hard cuts and cross-fades, and revisits of earlier scenes. Writes
 * the clip (H.264 in Matroska or MP4, by extension) and, with --truth, a JSON
 * file saying which photograph is on screen at every second.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gst/gst.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>
#include "vss-scene.h"

typedef struct
{
  guint photo;
  gdouble start, duration;      /* seconds */
  VssView from, to;
  gboolean fade_in;             /* cross-fade from the previous scene */
  gboolean revisit;
} Scene;

static gint opt_width = 640, opt_height = 360, opt_fps = 10;
static gdouble opt_duration = 60;
static gint opt_seed = 1;
static gdouble opt_noise = 3.0;
static gdouble opt_revisit = 0.25;
static gchar *opt_out = NULL, *opt_truth = NULL;
static gint opt_photos = 0;

static GOptionEntry entries[] = {
  {"output", 'o', 0, G_OPTION_ARG_FILENAME, &opt_out,
      "Clip to write (.mkv or .mp4)", "FILE"},
  {"truth", 't', 0, G_OPTION_ARG_FILENAME, &opt_truth,
      "Ground truth JSON to write", "FILE"},
  {"duration", 'd', 0, G_OPTION_ARG_DOUBLE, &opt_duration,
      "Length in seconds (default 60)", "S"},
  {"width", 'W', 0, G_OPTION_ARG_INT, &opt_width, "Width (default 640)", "PX"},
  {"height", 'H', 0, G_OPTION_ARG_INT, &opt_height, "Height (default 360)",
      "PX"},
  {"fps", 'f', 0, G_OPTION_ARG_INT, &opt_fps, "Frame rate (default 10)", "N"},
  {"seed", 's', 0, G_OPTION_ARG_INT, &opt_seed, "Random seed (default 1)", "N"},
  {"noise", 'n', 0, G_OPTION_ARG_DOUBLE, &opt_noise,
      "Sensor noise sigma in grey levels (default 3)", "SIGMA"},
  {"revisit", 'r', 0, G_OPTION_ARG_DOUBLE, &opt_revisit,
      "Probability that a scene revisits an earlier photograph (default 0.25)",
      "P"},
  {"photos", 'p', 0, G_OPTION_ARG_INT, &opt_photos,
      "Use only the first N photographs (default all)", "N"},
  {NULL}
};

static VssView
random_view (GRand * r)
{
  VssView v;

  v.zoom = g_rand_double_range (r, 1.0, 1.4);
  v.cx = g_rand_double_range (r, 0.3, 0.7);
  v.cy = g_rand_double_range (r, 0.3, 0.7);
  return v;
}

static GArray *
plan_scenes (GRand * r, guint n_photos)
{
  GArray *scenes = g_array_new (FALSE, TRUE, sizeof (Scene));
  gdouble t = 0;
  guint next_new = 0;
  gboolean *used = g_new0 (gboolean, n_photos);
  VssView *last_view = g_new0 (VssView, n_photos);

  while (t < opt_duration) {
    Scene s = { 0 };
    /* Slow motion: at most ~1% of the window per second. */
    gdouble pan = g_rand_double_range (r, 0.0, 0.01);
    gdouble angle = g_rand_double_range (r, 0, 2 * G_PI);

    s.start = t;
    s.duration = g_rand_double_range (r, 3, 20);
    s.duration = MIN (s.duration, opt_duration - t);
    if (s.duration < 1 && scenes->len > 0) {
      g_array_index (scenes, Scene, scenes->len - 1).duration += s.duration;
      break;
    }
    if (next_new > 1 && g_rand_double (r) < opt_revisit) {
      /* An earlier photograph, not the one just shown. */
      do
        s.photo = g_rand_int_range (r, 0, next_new);
      while (scenes->len > 0 &&
          s.photo == g_array_index (scenes, Scene, scenes->len - 1).photo);
      s.revisit = TRUE;
    } else if (next_new < n_photos) {
      s.photo = next_new++;
    } else {
      s.photo = g_rand_int_range (r, 0, n_photos);
      s.revisit = used[s.photo];
    }
    if (s.revisit) {
      /* The camera comes back to about where it left this scene. */
      s.from = last_view[s.photo];
      s.from.cx += g_rand_double_range (r, -0.02, 0.02) / s.from.zoom;
      s.from.cy += g_rand_double_range (r, -0.02, 0.02) / s.from.zoom;
    } else {
      s.from = random_view (r);
    }
    used[s.photo] = TRUE;
    s.to = s.from;
    s.to.cx += cos (angle) * pan * s.duration / s.from.zoom;
    s.to.cy += sin (angle) * pan * s.duration / s.from.zoom;
    s.to.zoom *= exp (g_rand_double_range (r, -0.01, 0.01) * s.duration);
    s.fade_in = scenes->len > 0 && g_rand_boolean (r);
    last_view[s.photo] = s.to;
    g_array_append_val (scenes, s);
    t += s.duration;
  }
  g_free (used);
  g_free (last_view);
  return scenes;
}

static void
render_scene_at (Scene * s, VssPhoto ** photos, gdouble t, guint8 * out)
{
  gdouble f = CLAMP ((t - s->start) / MAX (s->duration, 1e-6), 0, 1);
  VssView v;

  v.cx = s->from.cx + (s->to.cx - s->from.cx) * f;
  v.cy = s->from.cy + (s->to.cy - s->from.cy) * f;
  v.zoom = s->from.zoom + (s->to.zoom - s->from.zoom) * f;
  vss_view_clamp (photos[s->photo], opt_width, opt_height, &v);
  vss_scene_render (photos[s->photo], &v, out, opt_width, opt_height);
}

static gboolean
write_truth (GArray * scenes, gchar ** paths, GError ** error)
{
  GString *j = g_string_new ("{\n  \"duration\": ");
  gboolean ok;

  g_string_append_printf (j, "%.3f, \"fps\": %d, \"width\": %d, \"height\": "
      "%d, \"seed\": %d, \"fade_seconds\": 1.0,\n  \"scenes\": [\n",
      opt_duration, opt_fps, opt_width, opt_height, opt_seed);
  for (guint i = 0; i < scenes->len; i++) {
    Scene *s = &g_array_index (scenes, Scene, i);
    gchar *p = g_strescape (paths[s->photo], NULL);

    g_string_append_printf (j, "    {\"start\": %.3f, \"end\": %.3f, "
        "\"photo\": %u, \"path\": \"%s\", \"revisit\": %s, \"fade_in\": %s}%s\n",
        s->start, s->start + s->duration, s->photo, p,
        s->revisit ? "true" : "false", s->fade_in ? "true" : "false",
        i + 1 < scenes->len ? "," : "");
    g_free (p);
  }
  g_string_append (j, "  ]\n}\n");
  ok = g_file_set_contents (opt_truth, j->str, -1, error);
  g_string_free (j, TRUE);
  return ok;
}

int
main (int argc, char **argv)
{
  GOptionContext *ctx = g_option_context_new ("- make a test clip from "
      "real photographs");
  GError *error = NULL;
  gchar **paths;
  guint n_photos;
  VssPhoto **photos;
  GArray *scenes;
  GRand *r;
  GstElement *pipeline, *src;
  gchar *desc;
  const gchar *mux;
  GstVideoInfo info;
  GstCaps *caps;
  GstBus *bus;
  GstMessage *msg;
  guint8 *a, *b;
  gint64 n_frames;
  gint ret = 0;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("vss-make-clip: %s\n", error->message);
    return 2;
  }
  g_option_context_free (ctx);
  if (opt_out == NULL || opt_width < 16 || opt_height < 16 || opt_fps < 1 ||
      opt_duration <= 0) {
    g_printerr ("vss-make-clip: need --output FILE, a size of at least "
        "16x16, --fps >= 1 and --duration > 0\n");
    return 2;
  }

  paths = vss_scene_default_photo_paths (&error);
  if (paths == NULL) {
    g_printerr ("vss-make-clip: %s\n", error->message);
    return 1;
  }
  n_photos = g_strv_length (paths);
  if (opt_photos > 0 && (guint) opt_photos < n_photos)
    n_photos = opt_photos;
  photos = g_new0 (VssPhoto *, n_photos);
  for (guint i = 0; i < n_photos; i++) {
    photos[i] = vss_photo_load (paths[i], MAX (opt_width * 2, 1280), &error);
    if (photos[i] == NULL) {
      g_printerr ("vss-make-clip: %s: %s\n", paths[i], error->message);
      return 1;
    }
  }

  r = g_rand_new_with_seed (opt_seed);
  scenes = plan_scenes (r, n_photos);

  mux = g_str_has_suffix (opt_out, ".mp4") ? "mp4mux" : "matroskamux";
  {
    gchar *loc = g_strescape (opt_out, NULL);
    desc = g_strdup_printf ("appsrc name=src format=time ! videoconvert ! "
        "video/x-raw,format=I420 ! x264enc speed-preset=veryfast tune=zerolatency "
        "key-int-max=%d ! h264parse ! %s ! filesink location=\"%s\"",
        opt_fps * 2, mux, loc);
    g_free (loc);
  }
  pipeline = gst_parse_launch (desc, &error);
  g_free (desc);
  if (pipeline == NULL) {
    g_printerr ("vss-make-clip: %s (x264enc is in gstreamer1.0-plugins-ugly)"
        "\n", error->message);
    return 1;
  }
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, opt_width,
      opt_height);
  GST_VIDEO_INFO_FPS_N (&info) = opt_fps;
  GST_VIDEO_INFO_FPS_D (&info) = 1;
  caps = gst_video_info_to_caps (&info);
  gst_app_src_set_caps (GST_APP_SRC (src), caps);
  gst_caps_unref (caps);
  g_object_set (src, "max-bytes", (guint64) info.size * 8, "block", TRUE,
      NULL);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);

  a = g_malloc ((gsize) opt_width * opt_height * 3);
  b = g_malloc ((gsize) opt_width * opt_height * 3);
  n_frames = (gint64) (opt_duration * opt_fps);
  for (gint64 i = 0; i < n_frames; i++) {
    gdouble t = (gdouble) i / opt_fps;
    guint k = 0;
    GstBuffer *buf;
    GstVideoFrame frame;
    Scene *s;

    while (k + 1 < scenes->len &&
        g_array_index (scenes, Scene, k + 1).start <= t)
      k++;
    s = &g_array_index (scenes, Scene, k);
    render_scene_at (s, photos, t, a);
    /* Cross-fade over the first second of a scene that fades in. */
    if (s->fade_in && k > 0 && t - s->start < 1.0) {
      Scene *prev = &g_array_index (scenes, Scene, k - 1);
      render_scene_at (prev, photos, t, b);
      vss_scene_blend (b, a, (gsize) opt_width * opt_height * 3, t - s->start);
      memcpy (a, b, (gsize) opt_width * opt_height * 3);
    }
    vss_scene_add_noise (a, (gsize) opt_width * opt_height * 3, opt_noise, r);

    buf = gst_buffer_new_allocate (NULL, info.size, NULL);
    gst_video_frame_map (&frame, &info, buf, GST_MAP_WRITE);
    for (gint y = 0; y < opt_height; y++)
      memcpy ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0) +
          (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0),
          a + (gsize) y * opt_width * 3, (gsize) opt_width * 3);
    gst_video_frame_unmap (&frame);
    GST_BUFFER_PTS (buf) = gst_util_uint64_scale (i, GST_SECOND, opt_fps);
    GST_BUFFER_DURATION (buf) = GST_SECOND / opt_fps;
    if (gst_app_src_push_buffer (GST_APP_SRC (src), buf) != GST_FLOW_OK)
      break;
  }
  gst_app_src_end_of_stream (GST_APP_SRC (src));

  bus = gst_element_get_bus (pipeline);
  msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *err = NULL;
    gst_message_parse_error (msg, &err, NULL);
    g_printerr ("vss-make-clip: %s\n", err->message);
    g_error_free (err);
    ret = 1;
  }
  gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (pipeline);

  if (ret == 0 && opt_truth != NULL && !write_truth (scenes, paths, &error)) {
    g_printerr ("vss-make-clip: %s\n", error->message);
    ret = 1;
  }
  if (ret == 0)
    g_printerr ("vss-make-clip: wrote %s: %.0f s, %u scenes, %" G_GINT64_FORMAT
        " frames at %dx%d\n", opt_out, opt_duration, scenes->len, n_frames,
        opt_width, opt_height);

  for (guint i = 0; i < n_photos; i++)
    vss_photo_free (photos[i]);
  g_free (photos);
  g_array_free (scenes, TRUE);
  g_rand_free (r);
  g_strfreev (paths);
  g_free (a);
  g_free (b);
  g_free (opt_out);
  g_free (opt_truth);
  return ret;
}
