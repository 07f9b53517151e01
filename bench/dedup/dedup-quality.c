/* gst-vss: dedup quality, ours (vssembed provider=local + vssdedup) against
 * ffmpeg's mpdecimate, on a clip of real photographs with ground truth.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   dedup-quality MAKE_CLIP [--duration S] [--fps N] [--seed N] [--check]
 *
 * Prints one JSON document. With --check (the test suite's reduced run) it
 * also exits non-zero unless the targets are met: unique-scene coverage
 * >= 0.97, redundancy <= 1.5, revisit suppression >= 0.9.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>
#include <gst/gst.h>
#include <glib/gstdio.h>
#include "vss-dedup-eval.h"

#define THRESHOLD 0.2
#define WINDOW 10000

int
main (int argc, char **argv)
{
  gdouble duration = 900;
  gint fps = 4, seed = 7;
  gboolean check = FALSE, with_mpdecimate = TRUE;
  gchar *dir, *clip, *truth, *dur_s, *fps_s, *seed_s;
  GError *error = NULL;
  VssDedupQuality ours, mp;
  gchar *js_ours, *js_mp = NULL;
  gint status, ret = 0;
  gint64 t0;

  gst_init (&argc, &argv);
  if (argc < 2) {
    g_printerr ("usage: %s MAKE_CLIP [--duration S] [--fps N] [--seed N] "
        "[--check] [--no-mpdecimate]\n", argv[0]);
    return 2;
  }
  for (gint i = 2; i < argc; i++) {
    if (!strcmp (argv[i], "--duration") && i + 1 < argc)
      duration = g_ascii_strtod (argv[++i], NULL);
    else if (!strcmp (argv[i], "--fps") && i + 1 < argc)
      fps = atoi (argv[++i]);
    else if (!strcmp (argv[i], "--seed") && i + 1 < argc)
      seed = atoi (argv[++i]);
    else if (!strcmp (argv[i], "--check"))
      check = TRUE;
    else if (!strcmp (argv[i], "--no-mpdecimate"))
      with_mpdecimate = FALSE;
  }

  dir = g_dir_make_tmp ("vss-dedup-XXXXXX", &error);
  g_assert_no_error (error);
  clip = g_build_filename (dir, "clip.mkv", NULL);
  truth = g_build_filename (dir, "clip.json", NULL);
  dur_s = g_strdup_printf ("%g", duration);
  fps_s = g_strdup_printf ("%d", fps);
  seed_s = g_strdup_printf ("%d", seed);
  {
    gchar *mk[] = { argv[1], (gchar *) "--output", clip, (gchar *) "--truth",
      truth, (gchar *) "--duration", dur_s, (gchar *) "--fps", fps_s,
      (gchar *) "--seed", seed_s, NULL
    };
    t0 = g_get_monotonic_time ();
    if (!g_spawn_sync (NULL, mk, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
            NULL, NULL, &status, &error) ||
        !g_spawn_check_wait_status (status, &error)) {
      g_printerr ("dedup-quality: making the clip failed: %s\n",
          error->message);
      return 1;
    }
  }

  if (!vss_dedup_eval_ours (clip, truth, THRESHOLD, WINDOW, &ours, &error)) {
    g_printerr ("dedup-quality: our pipeline failed: %s\n", error->message);
    return 1;
  }
  js_ours = vss_dedup_quality_to_json (&ours);
  if (with_mpdecimate) {
    if (!vss_dedup_eval_mpdecimate (clip, truth, WINDOW, &mp, &error)) {
      g_printerr ("dedup-quality: %s\n", error->message);
      return 1;
    }
    js_mp = vss_dedup_quality_to_json (&mp);
  }

  g_print
      ("{\n  \"benchmark\": \"dedup-quality\",\n  \"clip\": {\"duration_s\": "
      "%g, \"fps\": %d, \"seed\": %d, \"size\": \"640x360\", \"sampling\": "
      "\"1 fps\", \"made_in_s\": %.1f},\n  \"targets\": {\"unique_scene_"
      "coverage\": \">= 0.97\", \"redundancy\": \"<= 1.5\", "
      "\"revisit_suppression\": \">= 0.9\"},\n  \"vssdedup\": {\"threshold\": "
      "%g, \"window_size\": %d, \"result\": %s},\n  \"mpdecimate\": %s\n}\n",
      duration, fps, seed,
      (g_get_monotonic_time () - t0) / 1e6 - ours.seconds -
      (js_mp ? mp.seconds : 0), THRESHOLD, WINDOW, js_ours,
      js_mp ? js_mp : "null");

  if (check) {
    if (ours.coverage < 0.97) {
      g_printerr ("FAIL: coverage %.3f < 0.97\n", ours.coverage);
      ret = 1;
    }
    if (ours.redundancy > 1.5) {
      g_printerr ("FAIL: redundancy %.3f > 1.5\n", ours.redundancy);
      ret = 1;
    }
    if (ours.revisits_in_window == 0) {
      g_printerr ("FAIL: the clip has no revisit to check\n");
      ret = 1;
    } else if (ours.revisit_suppression < 0.9) {
      g_printerr ("FAIL: revisit suppression %.3f < 0.9\n",
          ours.revisit_suppression);
      ret = 1;
    }
  }

  g_unlink (clip);
  g_unlink (truth);
  g_rmdir (dir);
  g_free (dir);
  g_free (clip);
  g_free (truth);
  g_free (dur_s);
  g_free (fps_s);
  g_free (seed_s);
  g_free (js_ours);
  g_free (js_mp);
  return ret;
}
