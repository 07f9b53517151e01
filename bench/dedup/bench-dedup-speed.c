/* gst-vss: vssdedup decision time per frame at window 1k, 10k and 100k (1024-d)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Through the element (GstHarness), so buffer and meta handling count. The
 * window is filled with N kept frames (distinct random unit vectors), then
 * frames are decided: near-duplicates of a random frame in the window (the
 * common case in video) and novel frames (kept: the full search plus an
 * insertion, the worst case). Prints one JSON document.
 *   bench-dedup-speed [N ...]      default: 1000 10000 100000
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gst/gst.h>
#include <gst/check/gstharness.h>
#include "gstvss.h"

#define DIM 1024
#define QUERIES 2000

static void
gauss_unit (GRand * r, gfloat * v, const gfloat * centre, gdouble noise)
{
  gdouble n = 0;

  for (gint i = 0; i < DIM; i++) {
    gdouble u1 = g_rand_double_range (r, 1e-12, 1), u2 = g_rand_double (r);
    gdouble g = sqrt (-2 * log (u1)) * cos (2 * G_PI * u2);
    v[i] = (gfloat) ((centre ? centre[i] : 0) + noise * g);
    n += (gdouble) v[i] * v[i];
  }
  n = sqrt (n);
  for (gint i = 0; i < DIM; i++)
    v[i] = (gfloat) (v[i] / n);
}

static GstBuffer *
frame (const gfloat * v, guint64 i)
{
  GstBuffer *b = gst_buffer_new ();

  GST_BUFFER_PTS (b) = i * GST_SECOND;
  gst_vss_buffer_add_embedding_meta (b, "bench", v, DIM, TRUE, NULL);
  return b;
}

static gint
cmp_u64 (const void *a, const void *b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;
  return (x > y) - (x < y);
}

/* Times one push in ns (the element decides synchronously in the chain). */
static guint64
push_timed (GstHarness * h, GstBuffer * b, gboolean * kept)
{
  struct timespec t0, t1;
  guint before = gst_harness_buffers_received (h);
  GstBuffer *out;

  clock_gettime (CLOCK_MONOTONIC, &t0);
  if (gst_harness_push (h, b) != GST_FLOW_OK)
    g_error ("push failed");
  clock_gettime (CLOCK_MONOTONIC, &t1);
  *kept = gst_harness_buffers_received (h) > before;
  while ((out = gst_harness_try_pull (h)))
    gst_buffer_unref (out);
  return (guint64) (t1.tv_sec - t0.tv_sec) * 1000000000ull + (t1.tv_nsec -
      t0.tv_nsec);
}

static void
stats_json (GString * js, const gchar * name, guint64 * ns, guint n)
{
  gdouble sum = 0;

  qsort (ns, n, sizeof (guint64), cmp_u64);
  for (guint i = 0; i < n; i++)
    sum += ns[i];
  g_string_append_printf (js, "\"%s\": {\"n\": %u, \"p50_us\": %.1f, "
      "\"p99_us\": %.1f, \"mean_us\": %.1f, \"max_us\": %.1f}", name, n,
      ns[n / 2] / 1e3, ns[(guint) (n * 0.99)] / 1e3, sum / n / 1e3,
      ns[n - 1] / 1e3);
}

static void
run (guint n, gboolean measure_nearest, GString * js)
{
  GstElement *e = gst_element_factory_make ("vssdedup", NULL);
  GstHarness *h;
  GRand *r = g_rand_new_with_seed (n);
  gfloat *win = g_new (gfloat, (gsize) n * DIM);
  gfloat q[DIM];
  guint64 *dup_ns = g_new (guint64, QUERIES), *new_ns = g_new (guint64, QUERIES);
  guint nd = 0, nn = 0, wrong = 0;
  GstStructure *st;
  guint wsize = 0;
  guint64 bytes = 0;
  gint64 t0;
  gdouble fill_s;

  g_object_set (e, "window-size", n, "threshold", 0.0, "measure-nearest",
      measure_nearest, NULL);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_harness_set_src_caps_str (h, "application/x-bench");

  /* Fill: threshold 0 keeps every frame without searching. */
  t0 = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++) {
    gboolean k;
    gauss_unit (r, win + (gsize) i * DIM, NULL, 1.0);
    push_timed (h, frame (win + (gsize) i * DIM, i), &k);
  }
  fill_s = (g_get_monotonic_time () - t0) / 1e6;
  g_object_set (e, "threshold", 0.2, NULL);

  /* `win` is a ring of the n frames in the window: novel frames kept below
   * replace the oldest, so duplicates are always drawn from live frames. */
  for (guint i = 0, oldest = 0; i < 2 * QUERIES; i++) {
    gboolean k, dup = i % 2 == 0;
    guint64 ns;

    if (dup)                    /* ~0.05 from a random window frame */
      gauss_unit (r, q, win + (gsize) g_rand_int_range (r, 0, n) * DIM,
          0.01);
    else
      gauss_unit (r, q, NULL, 1.0);
    ns = push_timed (h, frame (q, n + i), &k);
    if (dup) {
      dup_ns[nd++] = ns;
      wrong += k;
    } else {
      new_ns[nn++] = ns;
      wrong += !k;
    }
    if (k) {
      memcpy (win + (gsize) oldest * DIM, q, sizeof (q));
      oldest = (oldest + 1) % n;
    }
  }
  g_object_get (e, "stats", &st, NULL);
  gst_structure_get_uint (st, "window-size", &wsize);
  gst_structure_get_uint64 (st, "window-bytes", &bytes);
  gst_structure_free (st);

  g_string_append_printf (js, "    {\"window\": %u, \"dim\": %d, "
      "\"measure_nearest\": %s, \"fill_s\": %.1f, \"wrong_decisions\": %u, "
      "\"bytes_per_frame\": %.0f, ", n, DIM, measure_nearest ? "true" :
      "false", fill_s, wrong, wsize ? (gdouble) bytes / wsize : 0);
  {
    guint64 *all = g_new (guint64, nd + nn);
    memcpy (all, dup_ns, nd * sizeof (guint64));
    memcpy (all + nd, new_ns, nn * sizeof (guint64));
    stats_json (js, "all", all, nd + nn);
    g_free (all);
  }
  g_string_append (js, ", ");
  stats_json (js, "duplicate", dup_ns, nd);
  g_string_append (js, ", ");
  stats_json (js, "novel", new_ns, nn);
  g_string_append (js, "}");

  gst_harness_teardown (h);
  gst_object_unref (e);
  g_free (win);
  g_free (dup_ns);
  g_free (new_ns);
  g_rand_free (r);
}

int
main (int argc, char **argv)
{
  GString *js = g_string_new (NULL);
  guint sizes[8] = { 1000, 10000, 100000 }, n_sizes = 3;

  gst_init (&argc, &argv);
  if (argc > 1) {
    n_sizes = 0;
    for (gint i = 1; i < argc && n_sizes < 8; i++)
      sizes[n_sizes++] = (guint) atoi (argv[i]);
  }
  g_string_append (js, "{\n  \"benchmark\": \"dedup-speed\", \"threads\": 1, "
      "\"target\": \"p99 <= 1000 us at window 100000\",\n  \"results\": [\n");
  for (guint i = 0; i < n_sizes; i++) {
    run (sizes[i], TRUE, js);
    g_string_append (js, ",\n");
    run (sizes[i], FALSE, js);
    g_string_append (js, i + 1 < n_sizes ? ",\n" : "\n");
  }
  g_string_append (js, "  ]\n}\n");
  g_print ("%s", js->str);
  g_string_free (js, TRUE);
  return 0;
}
