/* gst-vss: dedup quality against a clip's ground truth
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Scoring: a sample at time t belongs to the scene on screen at t. During
 * the one-second cross-fade into a scene, a frame shows the photograph that
 * makes up most of it (the incoming one from half way through the fade). Coverage asks whether every
 * photograph shown was kept at least once; redundancy counts kept frames per
 * scene visit; revisit suppression asks, for each revisit of a photograph
 * whose last kept frame was still within the window (by count of kept frames
 * since), whether the revisit was recognised: its first frame showing the
 * photograph dropped as seen before. (A revisit that then pans on to new
 * parts of the photograph may rightly keep a frame later; how many revisits
 * kept no frame at all is reported too, as full suppression.)
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>
#include <gst/gst.h>
#include <jansson.h>
#include "vss-dedup-eval.h"

typedef struct
{
  gdouble start, end;
  gint photo;
  gboolean fade_in;
} TruthScene;

static GArray *
load_truth (const gchar * path, gdouble * duration, GError ** error)
{
  json_error_t jerr;
  json_t *root = json_load_file (path, 0, &jerr), *scenes, *s;
  GArray *out;
  gsize i;

  if (root == NULL) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s: %s", path,
        jerr.text);
    return NULL;
  }
  scenes = json_object_get (root, "scenes");
  *duration = json_number_value (json_object_get (root, "duration"));
  out = g_array_new (FALSE, TRUE, sizeof (TruthScene));
  json_array_foreach (scenes, i, s) {
    TruthScene t;
    t.start = json_number_value (json_object_get (s, "start"));
    t.end = json_number_value (json_object_get (s, "end"));
    t.photo = (gint) json_integer_value (json_object_get (s, "photo"));
    t.fade_in = json_is_true (json_object_get (s, "fade_in"));
    g_array_append_val (out, t);
  }
  json_decref (root);
  if (out->len == 0) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
        "%s: no scenes", path);
    g_array_free (out, TRUE);
    return NULL;
  }
  return out;
}

static gint
scene_at (GArray * scenes, gdouble t)
{
  for (guint i = 0; i < scenes->len; i++) {
    TruthScene *s = &g_array_index (scenes, TruthScene, i);
    if (t >= s->start - 1e-6 && t < s->end - 1e-6)
      return (gint) i;
  }
  return (gint) scenes->len - 1;
}

/* @kept_t: sample times (s) of kept frames; samples are at 0, 1, 2, ... */
static void
score (GArray * scenes, gdouble duration, GArray * kept_t, guint window_size,
    VssDedupQuality * q)
{
  guint n_samples = (guint) floor (duration - 1e-6) + 1;
  gboolean *kept = g_new0 (gboolean, n_samples);
  gint *max_photo = NULL, n_photo = 0;
  gboolean *shown, *covered, *visit_has_sample;
  gint *last_kept_count;        /* per photo: number of kept frames so far when it was last kept */
  guint kept_so_far = 0;

  for (guint i = 0; i < scenes->len; i++)
    n_photo = MAX (n_photo, g_array_index (scenes, TruthScene, i).photo + 1);
  (void) max_photo;
  shown = g_new0 (gboolean, n_photo);
  covered = g_new0 (gboolean, n_photo);
  last_kept_count = g_new (gint, n_photo);
  for (gint i = 0; i < n_photo; i++)
    last_kept_count[i] = -1;
  visit_has_sample = g_new0 (gboolean, scenes->len);

  for (guint i = 0; i < kept_t->len; i++) {
    gint s = (gint) lround (g_array_index (kept_t, gdouble, i));
    if (s >= 0 && (guint) s < n_samples)
      kept[s] = TRUE;
  }

  memset (q, 0, sizeof (*q));
  q->sampled = n_samples;
  {
    gint cur_visit = -1;
    gboolean visit_is_revisit_in_window = FALSE, visit_kept = FALSE;
    gboolean visit_first_seen = FALSE, visit_first_kept = FALSE;

    for (guint t = 0; t <= n_samples; t++) {
      gint k = t < n_samples ? scene_at (scenes, t) : -2;

      if (k != cur_visit) {
        /* Close the previous visit. */
        if (cur_visit >= 0 && visit_is_revisit_in_window) {
          q->revisits_in_window++;
          if (!visit_kept)
            q->revisits_suppressed++;
          if (visit_first_seen && !visit_first_kept)
            q->revisits_recognised++;
        }
        if (k == -2)
          break;
        cur_visit = k;
        visit_kept = FALSE;
        visit_first_seen = FALSE;
        {
          gint photo = g_array_index (scenes, TruthScene, k).photo;
          visit_is_revisit_in_window = last_kept_count[photo] >= 0 &&
              (window_size == 0 ||
              kept_so_far - (guint) last_kept_count[photo] < window_size);
        }
      }
      {
        TruthScene *s = &g_array_index (scenes, TruthScene, k);
        gdouble alpha = s->fade_in ? t - s->start : 1.0;
        gboolean transitional = FALSE;
        gint photo = s->photo;

        if (alpha < 0.5 && k > 0)
          photo = g_array_index (scenes, TruthScene, k - 1).photo;
        visit_has_sample[k] = TRUE;
        if (!transitional)
          shown[photo] = TRUE;
        if (photo == s->photo && !visit_first_seen) {
          visit_first_seen = TRUE;
          visit_first_kept = kept[t];
        }
        if (kept[t]) {
          q->kept++;
          kept_so_far++;
          if (photo == s->photo)
            visit_kept = TRUE;
          if (!transitional) {
            covered[photo] = TRUE;
            last_kept_count[photo] = (gint) kept_so_far;
          }
        }
      }
    }
  }
  for (guint i = 0; i < scenes->len; i++)
    q->visits += visit_has_sample[i];
  for (gint i = 0; i < n_photo; i++) {
    q->photos_shown += shown[i];
    q->photos_covered += shown[i] && covered[i];
  }
  q->coverage = q->photos_shown ? (gdouble) q->photos_covered /
      q->photos_shown : 0;
  q->redundancy = q->visits ? (gdouble) q->kept / q->visits : 0;
  q->revisit_suppression = q->revisits_in_window ?
      (gdouble) q->revisits_recognised / q->revisits_in_window : 1.0;
  q->revisit_full_suppression = q->revisits_in_window ?
      (gdouble) q->revisits_suppressed / q->revisits_in_window : 1.0;

  g_free (kept);
  g_free (shown);
  g_free (covered);
  g_free (last_kept_count);
  g_free (visit_has_sample);
}

gboolean
vss_dedup_eval_ours (const gchar * clip, const gchar * truth,
    gdouble threshold, guint window_size, VssDedupQuality * q,
    GError ** error)
{
  gdouble duration;
  GArray *scenes = load_truth (truth, &duration, error);
  GArray *kept_t;
  gchar *loc, *desc;
  GstElement *p;
  GstBus *bus;
  gboolean ok = TRUE;
  gint64 t0 = g_get_monotonic_time ();

  if (scenes == NULL)
    return FALSE;
  loc = g_strescape (clip, NULL);
  desc = g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! videoconvert "
      "! videorate ! video/x-raw,framerate=1/1 ! vssembed ! vssdedup "
      "post-messages=true threshold=%g window-size=%u ! fakesink sync=false",
      loc, threshold, window_size);
  p = gst_parse_launch (desc, error);
  g_free (loc);
  g_free (desc);
  if (p == NULL) {
    g_array_free (scenes, TRUE);
    return FALSE;
  }
  kept_t = g_array_new (FALSE, FALSE, sizeof (gdouble));
  bus = gst_element_get_bus (p);
  gst_element_set_state (p, GST_STATE_PLAYING);
  for (;;) {
    GstMessage *m = gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT);
    if (m == NULL) {
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_FAILED,
          "no EOS from the dedup pipeline after 120 s");
      ok = FALSE;
      break;
    }
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
      gst_message_parse_error (m, error, NULL);
      gst_message_unref (m);
      ok = FALSE;
      break;
    }
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS) {
      gst_message_unref (m);
      break;
    }
    {
      const GstStructure *s = gst_message_get_structure (m);
      guint64 pts;
      if (gst_structure_has_name (s, "vss-dedup") &&
          g_str_equal (gst_structure_get_string (s, "decision"), "kept") &&
          gst_structure_get_uint64 (s, "pts", &pts)) {
        gdouble t = pts / (gdouble) GST_SECOND;
        g_array_append_val (kept_t, t);
      }
    }
    gst_message_unref (m);
  }
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (p);
  if (ok) {
    score (scenes, duration, kept_t, window_size, q);
    q->seconds = (g_get_monotonic_time () - t0) / 1e6;
  }
  g_array_free (kept_t, TRUE);
  g_array_free (scenes, TRUE);
  return ok;
}

gboolean
vss_dedup_eval_mpdecimate (const gchar * clip, const gchar * truth,
    guint window_size, VssDedupQuality * q, GError ** error)
{
  gdouble duration;
  GArray *scenes = load_truth (truth, &duration, error);
  gchar *argv[] = { (gchar *) "ffmpeg", (gchar *) "-nostdin",
    (gchar *) "-hide_banner", (gchar *) "-i", (gchar *) clip,
    (gchar *) "-vf", (gchar *) "fps=1,mpdecimate,showinfo",
    (gchar *) "-f", (gchar *) "null", (gchar *) "-", NULL
  };
  gchar *err_out = NULL;
  gint status;
  GArray *kept_t;
  const gchar *p;
  gint64 t0 = g_get_monotonic_time ();

  if (scenes == NULL)
    return FALSE;
  if (!g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH |
          G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err_out, &status,
          error)) {
    g_prefix_error (error, "ffmpeg (Debian package ffmpeg): ");
    g_array_free (scenes, TRUE);
    return FALSE;
  }
  if (!g_spawn_check_wait_status (status, error)) {
    g_prefix_error (error, "ffmpeg failed: ");
    g_free (err_out);
    g_array_free (scenes, TRUE);
    return FALSE;
  }
  kept_t = g_array_new (FALSE, FALSE, sizeof (gdouble));
  for (p = strstr (err_out, "pts_time:"); p; p = strstr (p + 1, "pts_time:")) {
    gdouble t = g_ascii_strtod (p + strlen ("pts_time:"), NULL);
    g_array_append_val (kept_t, t);
  }
  score (scenes, duration, kept_t, window_size, q);
  q->seconds = (g_get_monotonic_time () - t0) / 1e6;
  g_array_free (kept_t, TRUE);
  g_array_free (scenes, TRUE);
  g_free (err_out);
  return TRUE;
}

gchar *
vss_dedup_quality_to_json (const VssDedupQuality * q)
{
  return g_strdup_printf ("{\"sampled\": %u, \"kept\": %u, \"scene_visits\": "
      "%u, \"photos_shown\": %u, \"photos_covered\": %u, "
      "\"unique_scene_coverage\": %.4f, \"redundancy\": %.4f, "
      "\"revisits_in_window\": %u, \"revisits_recognised\": %u, "
      "\"revisit_suppression\": %.4f, \"revisits_fully_suppressed\": %u, "
      "\"revisit_full_suppression\": %.4f, \"seconds\": %.2f}", q->sampled,
      q->kept, q->visits, q->photos_shown, q->photos_covered, q->coverage,
      q->redundancy, q->revisits_in_window, q->revisits_recognised,
      q->revisit_suppression, q->revisits_suppressed,
      q->revisit_full_suppression, q->seconds);
}
