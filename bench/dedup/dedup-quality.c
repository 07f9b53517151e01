/* gst-vss: dedup quality, ours (vssembed provider=local + vssdedup) with
 * each local model against ffmpeg's mpdecimate, on clips of real photographs
 * with ground truth.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   dedup-quality MAKE_CLIP [--duration S] [--fps N] [--seed N]
 *       [--sets default,hard] [--models vss-local-v1,vss-local-v2]
 *       [--check] [--no-mpdecimate]
 *
 * One clip per photo set: "default" (landscapes and objects) and "hard"
 * (patterns, textures, dark and low-contrast pictures), scenes of 3-20 s with
 * revisits. Prints one JSON document. With --check (the test suite's reduced
 * run) it also exits non-zero unless the last model meets the targets on
 * every clip: unique-scene coverage 1.00, redundancy <= 1.2 kept frames per
 * visit, revisit suppression >= 0.96.
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
#define MIN_COVERAGE 1.0
#define MAX_REDUNDANCY 1.2
#define MIN_SUPPRESSION 0.96

static gboolean
make_clip (const gchar * make, const gchar * set, const gchar * clip,
    const gchar * truth, gdouble duration, gint fps, gint seed, GError ** error)
{
  gchar *dur_s = g_strdup_printf ("%g", duration);
  gchar *fps_s = g_strdup_printf ("%d", fps);
  gchar *seed_s = g_strdup_printf ("%d", seed);
  gchar *mk[] = { (gchar *) make, (gchar *) "--set", (gchar *) set,
    (gchar *) "--output", (gchar *) clip, (gchar *) "--truth", (gchar *) truth,
    (gchar *) "--duration", dur_s, (gchar *) "--fps", fps_s,
    (gchar *) "--seed", seed_s, NULL
  };
  gint status;
  gboolean ok;

  ok = g_spawn_sync (NULL, mk, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
      NULL, NULL, &status, error) && g_spawn_check_wait_status (status, error);
  g_free (dur_s);
  g_free (fps_s);
  g_free (seed_s);
  return ok;
}

static gboolean
check (const gchar * set, const gchar * model, const VssDedupQuality * q)
{
  gboolean ok = TRUE;

  if (q->coverage < MIN_COVERAGE) {
    g_printerr ("FAIL: %s clip, %s: coverage %.3f < %.2f\n", set, model,
        q->coverage, MIN_COVERAGE);
    ok = FALSE;
  }
  if (q->redundancy > MAX_REDUNDANCY) {
    g_printerr ("FAIL: %s clip, %s: redundancy %.3f > %.2f\n", set, model,
        q->redundancy, MAX_REDUNDANCY);
    ok = FALSE;
  }
  if (q->revisits_in_window == 0) {
    g_printerr ("FAIL: the %s clip has no revisit to check\n", set);
    ok = FALSE;
  } else if (q->revisit_suppression < MIN_SUPPRESSION) {
    g_printerr ("FAIL: %s clip, %s: revisit suppression %.3f < %.2f\n", set,
        model, q->revisit_suppression, MIN_SUPPRESSION);
    ok = FALSE;
  }
  return ok;
}

int
main (int argc, char **argv)
{
  gdouble duration = 900;
  gint fps = 4, seed = 7, ret = 0;
  gboolean do_check = FALSE, with_mpdecimate = TRUE;
  const gchar *sets_s = "default,hard";
  const gchar *models_s = "vss-local-v1,vss-local-v2";
  gchar **sets, **models;
  GError *error = NULL;
  GString *out = g_string_new (NULL);

  gst_init (&argc, &argv);
  if (argc < 2) {
    g_printerr ("usage: %s MAKE_CLIP [--duration S] [--fps N] [--seed N] "
        "[--sets default,hard] [--models vss-local-v1,vss-local-v2] "
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
    else if (!strcmp (argv[i], "--sets") && i + 1 < argc)
      sets_s = argv[++i];
    else if (!strcmp (argv[i], "--models") && i + 1 < argc)
      models_s = argv[++i];
    else if (!strcmp (argv[i], "--check"))
      do_check = TRUE;
    else if (!strcmp (argv[i], "--no-mpdecimate"))
      with_mpdecimate = FALSE;
    else {
      g_printerr ("dedup-quality: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  sets = g_strsplit (sets_s, ",", -1);
  models = g_strsplit (models_s, ",", -1);
  if (!sets[0] || !models[0]) {
    g_printerr ("dedup-quality: --sets and --models need at least one name\n");
    return 2;
  }

  g_string_append_printf (out, "{\n  \"benchmark\": \"dedup-quality\",\n"
      "  \"threshold\": %g, \"window_size\": %d,\n  \"targets\": "
      "{\"unique_scene_coverage\": \">= %.2f\", \"redundancy\": \"<= %.1f\", "
      "\"revisit_suppression\": \">= %.2f\"},\n  \"clips\": [", THRESHOLD,
      WINDOW, MIN_COVERAGE, MAX_REDUNDANCY, MIN_SUPPRESSION);
  for (guint s = 0; sets[s]; s++) {
    gchar *dir = g_dir_make_tmp ("vss-dedup-XXXXXX", &error);
    gchar *clip, *truth;
    gint64 t0;

    g_assert_no_error (error);
    clip = g_build_filename (dir, "clip.mkv", NULL);
    truth = g_build_filename (dir, "clip.json", NULL);
    t0 = g_get_monotonic_time ();
    if (!make_clip (argv[1], sets[s], clip, truth, duration, fps, seed, &error)) {
      g_printerr ("dedup-quality: making the %s clip failed: %s\n", sets[s],
          error->message);
      return 1;
    }
    g_string_append_printf (out, "%s\n    {\"photo_set\": \"%s\", \"clip\": "
        "{\"duration_s\": %g, \"fps\": %d, \"seed\": %d, \"size\": "
        "\"640x360\", \"sampling\": \"1 fps\", \"made_in_s\": %.1f}",
        s ? "," : "", sets[s], duration, fps, seed,
        (g_get_monotonic_time () - t0) / 1e6);
    for (guint m = 0; models[m]; m++) {
      VssDedupQuality q;
      gchar *js;

      if (!vss_dedup_eval_ours (clip, truth, models[m], THRESHOLD, WINDOW, &q,
              &error)) {
        g_printerr ("dedup-quality: our pipeline (%s) failed: %s\n",
            models[m], error->message);
        return 1;
      }
      js = vss_dedup_quality_to_json (&q);
      g_string_append_printf (out, ",\n     \"%s\": %s", models[m], js);
      g_free (js);
      if (do_check && models[m + 1] == NULL && !check (sets[s], models[m], &q))
        ret = 1;
    }
    if (with_mpdecimate) {
      VssDedupQuality mp;
      gchar *js;

      if (!vss_dedup_eval_mpdecimate (clip, truth, WINDOW, &mp, &error)) {
        g_printerr ("dedup-quality: %s\n", error->message);
        return 1;
      }
      js = vss_dedup_quality_to_json (&mp);
      g_string_append_printf (out, ",\n     \"mpdecimate\": %s", js);
      g_free (js);
    }
    g_string_append (out, "}");
    g_unlink (clip);
    g_unlink (truth);
    g_rmdir (dir);
    g_free (dir);
    g_free (clip);
    g_free (truth);
  }
  g_string_append (out, "\n  ]\n}\n");
  g_print ("%s", out->str);
  g_string_free (out, TRUE);
  g_strfreev (sets);
  g_strfreev (models);
  return ret;
}
