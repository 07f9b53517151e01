/* gst-vss: calibration of the local embedding against the dedup default (0.2)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Views of real photographs: a "same scene" pair is one view and a copy that
 * was panned, zoomed, noised and JPEG re-encoded the way a camera sampled at
 * 1 fps sees a slowly moving scene; a "different scene" pair is two views of
 * two different photographs. Prints both distributions as JSON and asserts
 * that the default dedup threshold of 0.2 cosine distance separates them.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include "gstvss.h"
#include "vss-scene.h"

#define OUT_W 640
#define OUT_H 360
#define VIEWS_PER_PHOTO 6
#define THRESHOLD 0.2
/* How far v2 puts the pictures v1 confuses. */
#define HARD_MARGIN 0.25

/* Same-scene perturbations: what a slow pan/zoom moves between two samples a
 * second or more apart, with sensor noise and a re-encode. */
#define MAX_PAN 0.08            /* of the window's width/height */
#define MAX_ZOOM 1.10           /* factor either way */
#define MAX_NOISE 8.0           /* sigma in grey levels */
#define MIN_JPEG_Q 40
#define MAX_GAIN 1.15           /* exposure drift, either way */

static void
embed_rgb (GstVssEmbedLocalModel model, const guint8 * rgb, gfloat * out)
{
  GstVideoInfo info;
  GstVideoFrame frame;
  GstBuffer *buf;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, OUT_W, OUT_H);
  buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  g_assert_true (gst_video_frame_map (&frame, &info, buf, GST_MAP_WRITE));
  for (gint y = 0; y < OUT_H; y++)
    memcpy ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0) +
        (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0),
        rgb + (gsize) y * OUT_W * 3, OUT_W * 3);
  g_assert_true (gst_vss_embed_local_model_frame (model, &frame, out));
  gst_video_frame_unmap (&frame);
  gst_buffer_unref (buf);
}

static gdouble
cos_dist (const gfloat * a, const gfloat * b, guint dim)
{
  gdouble dot = 0;

  for (guint i = 0; i < dim; i++)
    dot += (gdouble) a[i] * b[i];
  return 1.0 - dot;
}

static gint
cmp_double (const void *a, const void *b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;
  return (x > y) - (x < y);
}

static gdouble
quantile (GArray * sorted, gdouble q)
{
  guint i = (guint) floor (q * (sorted->len - 1) + 0.5);
  return g_array_index (sorted, gdouble, i);
}

static void
print_dist (const gchar * name, GArray * d, gboolean last)
{
  gdouble sum = 0;

  g_array_sort (d, cmp_double);
  for (guint i = 0; i < d->len; i++)
    sum += g_array_index (d, gdouble, i);
  g_print ("  \"%s\": {\"pairs\": %u, \"min\": %.4f, \"p01\": %.4f, "
      "\"p05\": %.4f, \"p50\": %.4f, \"mean\": %.4f, \"p95\": %.4f, "
      "\"p99\": %.4f, \"max\": %.4f}%s\n", name, d->len,
      quantile (d, 0), quantile (d, 0.01), quantile (d, 0.05),
      quantile (d, 0.5), sum / d->len, quantile (d, 0.95),
      quantile (d, 0.99), quantile (d, 1.0), last ? "" : ",");
}

typedef struct
{
  GstVssEmbedLocalModel model;
  const gchar *set;
} Calibration;

/* Pictures of the same darkness and palette but different structure, the
 * pairs v1 puts under the threshold (whole pictures, as a camera would first
 * frame them): printed with both models' distances. Returns the smallest
 * distance of the model under test among them (2 when there is none). */
static gboolean is_variant_pair (const gchar * a, const gchar * b);

static gdouble
print_hard_pairs (const Calibration * c, gchar ** paths, guint n,
    const gfloat * full, guint dim, const gfloat * full_v1, guint dim_v1)
{
  gdouble min = 2;
  gboolean first = TRUE;

  g_print ("  \"pairs_v1_confuses\": [");
  for (guint a = 0; a < n; a++)
    for (guint b = a + 1; b < n; b++) {
      gdouble d1 = cos_dist (full_v1 + (gsize) a * dim_v1,
          full_v1 + (gsize) b * dim_v1, dim_v1);
      gdouble d = cos_dist (full + (gsize) a * dim, full + (gsize) b * dim,
          dim);

      if (d1 >= THRESHOLD || is_variant_pair (paths[a], paths[b]))
        continue;
      g_print ("%s\n    {\"a\": \"%s\", \"b\": \"%s\", \"v1\": %.4f, "
          "\"%s\": %.4f}", first ? "" : ",", paths[a], paths[b], d1,
          gst_vss_embed_local_model_name (c->model), d);
      first = FALSE;
      min = MIN (min, d);
    }
  g_print ("%s]", first ? "" : "\n  ");
  return min;
}

/* One photograph as shipped in several sizes (separate JPEG encodes of
 * separate resamplings; mate-backgrounds): one scene. */
static const gchar *variants[][2] = {
  {"/usr/share/backgrounds/mate/abstract/Elephants.jpg",
      "/usr/share/backgrounds/mate/abstract/Elephants_3840x2160.jpg"},
  {"/usr/share/backgrounds/mate/abstract/Elephants.jpg",
      "/usr/share/backgrounds/mate/abstract/Elephants_5640x3172.jpg"},
  /* One picture in a cold and a warm colour temperature: a white balance
   * drift, so one scene (the cold one is in the harder set). */
  {"/usr/share/backgrounds/mate/desktop/Ubuntu-Mate-Cold-no-logo.png",
      "/usr/share/backgrounds/mate/desktop/Ubuntu-Mate-Warm-no-logo.png"},
};

static gboolean
is_variant_pair (const gchar * a, const gchar * b)
{
  for (guint i = 0; i < G_N_ELEMENTS (variants); i++)
    if ((!strcmp (a, variants[i][0]) && !strcmp (b, variants[i][1])) ||
        (!strcmp (a, variants[i][1]) && !strcmp (b, variants[i][0])))
      return TRUE;
  return FALSE;
}

static gdouble
print_variants (GstVssEmbedLocalModel model, guint8 * rgb)
{
  guint dim = gst_vss_embed_local_model_dim (model);
  gfloat *va = g_new (gfloat, dim), *vb = g_new (gfloat, dim);
  gdouble max = 0;

  g_print ("  \"variants_of_one_photograph\": [");
  for (guint i = 0; i < G_N_ELEMENTS (variants); i++) {
    GError *error = NULL;
    gdouble d;

    for (guint k = 0; k < 2; k++) {
      VssPhoto *photo = vss_photo_load (variants[i][k], 1600, &error);
      VssView whole = { 0.5, 0.5, 1.0 };

      g_assert_no_error (error);
      vss_view_clamp (photo, OUT_W, OUT_H, &whole);
      vss_scene_render (photo, &whole, rgb, OUT_W, OUT_H);
      g_assert_true (vss_scene_jpeg_roundtrip (rgb, OUT_W, OUT_H, 85, &error));
      embed_rgb (model, rgb, k ? vb : va);
      vss_photo_free (photo);
    }
    d = cos_dist (va, vb, dim);
    max = MAX (max, d);
    g_print ("%s\n    {\"a\": \"%s\", \"b\": \"%s\", \"distance\": %.4f}",
        i ? "," : "", variants[i][0], variants[i][1], d);
  }
  g_print ("\n  ]");
  g_free (va);
  g_free (vb);
  return max;
}

static void
test_calibration (gconstpointer data)
{
  const Calibration *c = data;
  GError *error = NULL;
  gchar **paths = vss_scene_photo_set (c->set, &error);
  guint n_photos, dim = gst_vss_embed_local_model_dim (c->model);
  gfloat *full;                 /* [photo][dim]: the whole photograph */
  gfloat *full_v1;              /* the same with vss-local-v1 */
  guint dim_v1 = gst_vss_embed_local_model_dim (GST_VSS_EMBED_LOCAL_V1);
  GRand *rand = g_rand_new_with_seed (20261122);
  guint8 *rgb = g_malloc (OUT_W * OUT_H * 3);
  gfloat *base;                 /* [photo][view][dim] */
  GArray *same = g_array_new (FALSE, FALSE, sizeof (gdouble));
  GArray *diff = g_array_new (FALSE, FALSE, sizeof (gdouble));
  GArray *exposure = g_array_new (FALSE, FALSE, sizeof (gdouble));
  GArray *pan_sweep[5];
  const gdouble pans[5] = { 0.02, 0.05, 0.10, 0.15, 0.20 };
  gdouble worst_same = 0, closest_diff = 2;
  gchar *worst_same_desc = NULL, *closest_diff_desc = NULL;
  gdouble hard_min, variants_max;
  guint same_over = 0, diff_under = 0;

  g_assert_no_error (error);
  n_photos = g_strv_length (paths);
  g_assert_cmpuint (n_photos, >=, 20);
  base = g_new0 (gfloat, (gsize) n_photos * VIEWS_PER_PHOTO * dim);
  full = g_new0 (gfloat, (gsize) n_photos * dim);
  full_v1 = g_new0 (gfloat, (gsize) n_photos * dim_v1);
  for (guint i = 0; i < 5; i++)
    pan_sweep[i] = g_array_new (FALSE, FALSE, sizeof (gdouble));

  for (guint p = 0; p < n_photos; p++) {
    VssPhoto *photo = vss_photo_load (paths[p], 1600, &error);

    g_assert_no_error (error);
    {
      VssView whole = { 0.5, 0.5, 1.0 };

      vss_view_clamp (photo, OUT_W, OUT_H, &whole);
      vss_scene_render (photo, &whole, rgb, OUT_W, OUT_H);
      g_assert_true (vss_scene_jpeg_roundtrip (rgb, OUT_W, OUT_H, 85, &error));
      embed_rgb (c->model, rgb, full + (gsize) p * dim);
      embed_rgb (GST_VSS_EMBED_LOCAL_V1, rgb, full_v1 + (gsize) p * dim_v1);
    }
    for (guint v = 0; v < VIEWS_PER_PHOTO; v++) {
      VssView view, moved;
      gfloat *bv = base + ((gsize) p * VIEWS_PER_PHOTO + v) * dim;
      gfloat *mv = g_new (gfloat, dim);
      gdouble zoom, d;
      gint q;

      view.zoom = g_rand_double_range (rand, 1.0, 1.6);
      view.cx = g_rand_double (rand);
      view.cy = g_rand_double (rand);
      vss_view_clamp (photo, OUT_W, OUT_H, &view);
      vss_scene_render (photo, &view, rgb, OUT_W, OUT_H);
      g_assert_true (vss_scene_jpeg_roundtrip (rgb, OUT_W, OUT_H, 85, &error));
      embed_rgb (c->model, rgb, bv);

      /* The same scene a moment later. */
      zoom = exp (g_rand_double_range (rand, -log (MAX_ZOOM), log (MAX_ZOOM)));
      moved.zoom = view.zoom * zoom;
      moved.cx = view.cx + g_rand_double_range (rand, -MAX_PAN, MAX_PAN) *
          (OUT_W / (gdouble) photo->width) * photo->width / OUT_W /
          view.zoom * MIN (1.0, photo->height * (16.0 / 9) / photo->width);
      moved.cy = view.cy + g_rand_double_range (rand, -MAX_PAN, MAX_PAN) /
          view.zoom * MIN (1.0, photo->width * (9.0 / 16) / photo->height);
      vss_view_clamp (photo, OUT_W, OUT_H, &moved);
      vss_scene_render (photo, &moved, rgb, OUT_W, OUT_H);
      vss_scene_add_noise (rgb, OUT_W * OUT_H * 3,
          g_rand_double_range (rand, 0, MAX_NOISE), rand);
      q = g_rand_int_range (rand, MIN_JPEG_Q, 91);
      g_assert_true (vss_scene_jpeg_roundtrip (rgb, OUT_W, OUT_H, q, &error));
      embed_rgb (c->model, rgb, mv);
      d = cos_dist (bv, mv, dim);
      g_array_append_val (same, d);
      if (d >= THRESHOLD)
        same_over++;
      if (d > worst_same) {
        worst_same = d;
        g_free (worst_same_desc);
        worst_same_desc = g_strdup_printf ("%s view %u (zoom x%.3f, q %d)",
            paths[p], v, zoom, q);
      }

      /* Exposure drift: the same view a sixth brighter or darker, with
       * the camera's noise and a re-encode. */
      {
        gdouble gain = (v % 2) ? MAX_GAIN : 1.0 / MAX_GAIN;

        vss_scene_render (photo, &view, rgb, OUT_W, OUT_H);
        for (gsize k = 0; k < (gsize) OUT_W * OUT_H * 3; k++)
          rgb[k] = (guint8) MIN (255.0, rgb[k] * gain + 0.5);
        vss_scene_add_noise (rgb, OUT_W * OUT_H * 3, 3.0, rand);
        g_assert_true (vss_scene_jpeg_roundtrip (rgb, OUT_W, OUT_H, 75,
                &error));
        embed_rgb (c->model, rgb, mv);
        d = cos_dist (bv, mv, dim);
        g_array_append_val (exposure, d);
      }

      /* Informational: distance as a pure horizontal pan grows. */
      if (v == 0) {
        for (guint s = 0; s < 5; s++) {
          VssView panned = view;
          gfloat *sv = g_new (gfloat, dim);

          panned.cx = view.cx + pans[s] / view.zoom *
              MIN (1.0, photo->height * (16.0 / 9) / photo->width);
          vss_view_clamp (photo, OUT_W, OUT_H, &panned);
          if (fabs (panned.cx - view.cx) < 1e-9)
            panned.cx = view.cx - pans[s] / view.zoom *
                MIN (1.0, photo->height * (16.0 / 9) / photo->width);
          vss_view_clamp (photo, OUT_W, OUT_H, &panned);
          vss_scene_render (photo, &panned, rgb, OUT_W, OUT_H);
          embed_rgb (c->model, rgb, sv);
          d = cos_dist (bv, sv, dim);
          g_array_append_val (pan_sweep[s], d);
          g_free (sv);
        }
      }
      g_free (mv);
    }
    vss_photo_free (photo);
  }

  for (guint a = 0; a < n_photos * VIEWS_PER_PHOTO; a++)
    for (guint b = a + 1; b < n_photos * VIEWS_PER_PHOTO; b++) {
      gdouble d;

      if (a / VIEWS_PER_PHOTO == b / VIEWS_PER_PHOTO ||
          is_variant_pair (paths[a / VIEWS_PER_PHOTO],
              paths[b / VIEWS_PER_PHOTO]))
        continue;
      d = cos_dist (base + (gsize) a * dim, base + (gsize) b * dim, dim);
      g_array_append_val (diff, d);
      if (d < THRESHOLD)
        diff_under++;
      if (d < closest_diff) {
        closest_diff = d;
        g_free (closest_diff_desc);
        closest_diff_desc = g_strdup_printf ("%s ~ %s",
            paths[a / VIEWS_PER_PHOTO], paths[b / VIEWS_PER_PHOTO]);
      }
    }

  g_print ("{\n  \"model\": \"%s\", \"dimension\": %u, \"photo_set\": "
      "\"%s\", \"photos\": %u, \"threshold\": %.2f,\n",
      gst_vss_embed_local_model_name (c->model), dim, c->set, n_photos,
      THRESHOLD);
  g_print ("  \"same_scene_perturbation\": {\"max_pan\": %.2f, \"max_zoom\": "
      "%.2f, \"max_noise_sigma\": %.1f, \"min_jpeg_quality\": %d},\n", MAX_PAN,
      MAX_ZOOM, MAX_NOISE, MIN_JPEG_Q);
  print_dist ("same_scene", same, FALSE);
  print_dist ("exposure_drift", exposure, FALSE);
  print_dist ("different_scene", diff, FALSE);
  g_print ("  \"same_scene_over_threshold\": %u, \"different_scene_under_"
      "threshold\": %u,\n", same_over, diff_under);
  g_print ("  \"worst_same\": \"%s\", \"closest_different\": \"%s\",\n",
      worst_same_desc, closest_diff_desc);
  g_print ("  \"pure_pan_sweep\": {");
  for (guint s = 0; s < 5; s++) {
    g_array_sort (pan_sweep[s], cmp_double);
    g_print ("\"%.2f\": {\"p50\": %.4f, \"max\": %.4f}%s", pans[s],
        quantile (pan_sweep[s], 0.5), quantile (pan_sweep[s], 1.0),
        s < 4 ? ", " : "");
  }
  g_print ("},\n");
  hard_min = print_hard_pairs (c, paths, n_photos, full, dim, full_v1, dim_v1);
  g_print (",\n");
  variants_max = print_variants (c->model, rgb);
  g_print ("\n}\n");

  /* The pictures v1 confuses are told apart, with room, and the variants
   * of one photograph stay one scene. */
  if (c->model != GST_VSS_EMBED_LOCAL_V1) {
    g_assert_cmpfloat (quantile (exposure, 0.99), <, THRESHOLD);
    g_assert_cmpfloat (hard_min, >=, HARD_MARGIN);
    g_assert_cmpfloat (variants_max, <, THRESHOLD);
  }
  /* The separation the dedup default relies on. */
  g_assert_cmpfloat (quantile (same, 0.99), <, THRESHOLD);
  g_assert_cmpfloat (quantile (diff, 0.01), >, THRESHOLD);
  g_assert_cmpfloat ((gdouble) same_over / same->len, <=, 0.02);
  g_assert_cmpfloat ((gdouble) diff_under / diff->len, <=, 0.01);
  /* And a margin: the typical cases sit well away from the line. */
  g_assert_cmpfloat (quantile (same, 0.5), <, THRESHOLD / 2);
  g_assert_cmpfloat (quantile (diff, 0.05), >, THRESHOLD * 1.5);

  for (guint i = 0; i < 5; i++)
    g_array_free (pan_sweep[i], TRUE);
  g_array_free (same, TRUE);
  g_array_free (exposure, TRUE);
  g_array_free (diff, TRUE);
  g_free (worst_same_desc);
  g_free (closest_diff_desc);
  g_free (base);
  g_free (full);
  g_free (full_v1);
  g_free (rgb);
  g_rand_free (rand);
  g_strfreev (paths);
}

int
main (int argc, char **argv)
{
  static const Calibration v1 = { GST_VSS_EMBED_LOCAL_V1, "default" };
  static const Calibration v2 = { GST_VSS_EMBED_LOCAL_V2, "all" };

  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  /* v1 on the photographs it was calibrated on (it confuses some of the
   * harder pictures: v2 exists for them); v2 on all of them. */
  g_test_add_data_func ("/local-embed/calibration/v1", &v1, test_calibration);
  g_test_add_data_func ("/local-embed/calibration/v2", &v2, test_calibration);
  return g_test_run ();
}
