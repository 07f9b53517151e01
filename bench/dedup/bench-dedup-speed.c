/* gst-vss: vssdedup decision time per frame at window 1k, 10k and 100k (1024-d)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Through the element (GstHarness), so buffer and meta handling count. The
 * window is filled with N kept frames, then frames are decided, alternately
 * a near-duplicate of a random frame in the window (the common case in
 * video) and the stream's next frame (mostly novel, so kept: the full
 * search plus an insertion, the worst case), first paced at 200 frames/s
 * (faster than any sampled stream), then back to back (a kept frame every
 * other push: the window's linker falls behind and the waiting rows are
 * scanned exactly; past 1024 of them a decision links one itself). An
 * exact f32 index that
 * mirrors the window gives the right decision for each, so approximate
 * misses are counted, not hidden.
 *
 * Data: the reference's video-like generator (scenes whose centre drifts,
 * cuts, revisits; what frame embeddings look like) and, as a stress case,
 * isotropic random unit vectors, which have no structure for a graph to
 * follow and which no embedding model produces. Prints one JSON document.
 *   bench-dedup-speed [--data video|random|both] [WINDOW ...]
 *      default: both, 1000 10000 100000
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
#include "vss-index.h"
#include "vss-datagen.h"

#define DIM 1024
#define QUERIES 2000
#define PACE_US 5000            /* 200 frames/s */

static void
gauss_unit (GRand * r, gfloat * v, const gfloat * centre, gdouble noise)
{
  for (gint i = 0; i < DIM; i++) {
    gdouble u1 = g_rand_double_range (r, 1e-12, 1), u2 = g_rand_double (r);
    gdouble g = sqrt (-2 * log (u1)) * cos (2 * G_PI * u2);
    v[i] = (gfloat) ((centre ? centre[i] : 0) + noise * g);
  }
  vss_normalize_f32 (v, DIM);
}

static GstBuffer *
frame (const gfloat * v, guint64 i)
{
  GstBuffer *b = gst_buffer_new ();

  GST_BUFFER_PTS (b) = i * GST_SECOND;
  gst_vss_buffer_add_embedding_meta (b, "bench", v, DIM, TRUE, NULL);
  return b;
}

static guint
unlinked (GstElement * e)
{
  GstStructure *st;
  guint n = 0;

  g_object_get (e, "stats", &st, NULL);
  gst_structure_get_uint (st, "window-unlinked", &n);
  gst_structure_free (st);
  return n;
}

static gint
cmp_u64 (const void *a, const void *b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;
  return (x > y) - (x < y);
}

/* Times one push in ns (the element decides synchronously in the chain). */
static guint64
ts_ns (const struct timespec *a, const struct timespec *b)
{
  return (guint64) (b->tv_sec - a->tv_sec) * 1000000000ull + (b->tv_nsec -
      a->tv_nsec);
}

/* Times one push in ns (the element decides synchronously in the chain):
 * wall time, and the pushing thread's CPU time in *cpu (what the decision
 * computes, without the waits of a shared machine). */
static guint64
push_timed (GstHarness * h, GstBuffer * b, gboolean * kept, guint64 * cpu)
{
  struct timespec t0, t1, c0, c1;
  guint before = gst_harness_buffers_received (h);
  GstBuffer *out;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &c0);
  clock_gettime (CLOCK_MONOTONIC, &t0);
  if (gst_harness_push (h, b) != GST_FLOW_OK)
    g_error ("push failed");
  clock_gettime (CLOCK_MONOTONIC, &t1);
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &c1);
  if (cpu)
    *cpu = ts_ns (&c0, &c1);
  *kept = gst_harness_buffers_received (h) > before;
  while ((out = gst_harness_try_pull (h)))
    gst_buffer_unref (out);
  return ts_ns (&t0, &t1);
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

typedef enum
{
  DATA_VIDEO,                   /* the reference's video-like generator */
  DATA_RANDOM,                  /* isotropic random unit vectors */
} DataKind;

static const gchar *data_names[] = { "video", "random" };

static void
run (guint n, DataKind kind, gboolean measure_nearest, GString * js)
{
  GstElement *e = gst_element_factory_make ("vssdedup", NULL);
  GstHarness *h;
  GRand *r = g_rand_new_with_seed (n);
  guint total = n + 2 * QUERIES;
  gfloat *all = g_new (gfloat, (gsize) total * DIM);
  const gfloat **ring = g_new (const gfloat *, n);
  guint64 *ring_id = g_new (guint64, n);
  GPtrArray *extra = g_ptr_array_new_with_free_func (g_free);
  guint64 *dup_ns = g_new (guint64, QUERIES), *new_ns =
      g_new (guint64, QUERIES);
  guint64 *cpu_ns = g_new (guint64, 2 * QUERIES);
  guint nd, nn, missed_dups = 0, false_drops = 0, wrong_keeps = 0;
  guint oldest = 0, next = n;
  guint expected_drops = 0;
  /* every decided frame, for the ground-truth replay afterwards */
  const gfloat **qv = g_new (const gfloat *, 4 * QUERIES);
  gboolean *qdup = g_new (gboolean, 4 * QUERIES);
  gboolean *qkept = g_new (gboolean, 4 * QUERIES);
  guint nq = 0;
  gfloat r_drop = nextafterf (0.2f, 0.0f);
  vss_index_params ip;
  vss_index *truth;
  vss_error err = { 0 };
  GstStructure *st;
  guint wsize = 0;
  guint64 bytes = 0;
  gint64 t0;
  gdouble fill_s;

  if (kind == DATA_VIDEO)
    vss_gen_video (all, total, DIM, n);
  else
    for (guint i = 0; i < total; i++)
      gauss_unit (r, all + (gsize) i * DIM, NULL, 1.0);

  /* Ground truth: an exact (flat, f32) index holding what the window holds. */
  vss_index_params_init (&ip, VSS_INDEX_FLAT, VSS_METRIC_COSINE, DIM);
  ip.initial_capacity = total;
  truth = vss_index_new (&ip, &err);
  if (!truth)
    g_error ("truth index: %s", err.msg);

  g_object_set (e, "window-size", n, "threshold", 0.0, "measure-nearest",
      measure_nearest, NULL);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_harness_set_src_caps_str (h, "application/x-bench");

  /* Fill: threshold 0 keeps every frame without searching. */
  t0 = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++) {
    gboolean k;
    ring[i] = all + (gsize) i *DIM;
    ring_id[i] = i;
    push_timed (h, frame (ring[i], i), &k, NULL);
    if (vss_index_add (truth, i, ring[i], DIM, &err) < 0)
      g_error ("truth index: %s", err.msg);
  }
  /* Frames added back to back outrun the graph: let the window's linker
   * catch up, as it does in a stream between bursts, before measuring. */
  while (unlinked (e) > 0)
    g_usleep (1000);
  fill_s = (g_get_monotonic_time () - t0) / 1e6;
  g_object_set (e, "threshold", 0.2, NULL);

  g_string_append_printf (js, "    {\"data\": \"%s\", \"window\": %u, "
      "\"dim\": %d, \"measure_nearest\": %s, \"fill_s\": %.1f, ",
      data_names[kind], n, DIM, measure_nearest ? "true" : "false", fill_s);

  /* Two phases of QUERIES pairs: frames paced at PACE_US apart (a fast
   * live stream: the kept frame's insertion overlaps the wait), then back to
   * back (the insertions fall behind the decisions). */
  for (gint phase = 0; phase < 2; phase++) {
    gulong pace = phase == 0 ? PACE_US : 0;
    nd = nn = 0;
    /* Alternately a near-duplicate (~0.05 from a random frame in the
     * window, the common case in video) and the stream's next frame
     * (novel, kept: the full search plus an insertion, the worst case).
     * `ring` follows the window: kept frames replace the oldest. */
    for (guint i = 0; i < 2 * QUERIES; i++) {
      guint seq = n + nq;
      gboolean k, dup = i % 2 == 0;
      const gfloat *v;
      guint64 ns;

      if (dup) {
        gfloat *copy = g_new (gfloat, DIM);
        gauss_unit (r, copy, ring[g_rand_int_range (r, 0, n)], 0.01);
        g_ptr_array_add (extra, copy);
        v = copy;
      } else {
        v = all + (gsize) next++ * DIM;
      }
      if (pace)
        g_usleep (pace);
      ns = push_timed (h, frame (v, seq), &k, &cpu_ns[nd + nn]);
      if (dup)
        dup_ns[nd++] = ns;
      else
        new_ns[nn++] = ns;
      qv[nq] = v;
      qdup[nq] = dup;
      qkept[nq++] = k;
      if (k) {
        ring[oldest] = v;
        oldest = (oldest + 1) % n;
      }
    }
    g_string_append_printf (js, "\"%s\": {\"interval_us\": %lu, ",
        phase == 0 ? "paced" : "back_to_back", pace);
    {
      guint64 *both = g_new (guint64, nd + nn);
      memcpy (both, dup_ns, nd * sizeof (guint64));
      memcpy (both + nd, new_ns, nn * sizeof (guint64));
      stats_json (js, "all", both, nd + nn);
      g_free (both);
    }
    g_string_append (js, ", ");
    stats_json (js, "duplicate", dup_ns, nd);
    g_string_append (js, ", ");
    stats_json (js, "next_frame", new_ns, nn);
    g_string_append (js, ", ");
    stats_json (js, "all_cpu", cpu_ns, nd + nn);
    /* kept frames still waiting for the graph when the phase ended */
    g_string_append_printf (js, ", \"unlinked_at_end\": %u}, ", unlinked (e));
    while (unlinked (e) > 0)
      g_usleep (1000);
  }
  /* Ground truth, replayed once the timing is done (a 100k exact scan
   * before each frame would flush the caches the element works from): the
   * window evolves by the element's own decisions; an exact f32 index
   * mirrors it and says what each decision should have been. */
  oldest = 0;
  for (guint i = 0; i < nq; i++) {
    guint64 seq = (guint64) n + i;
    vss_hit hit;
    gint rc = vss_index_search_within (truth, qv[i], DIM, r_drop, &hit, &err);
    if (rc < 0)
      g_error ("truth search: %s", err.msg);
    expected_drops += rc == 1;
    if (rc == 1 && qkept[i])
      (qdup[i] ? missed_dups++ : wrong_keeps++);
    else if (rc == 0 && !qkept[i])
      false_drops++;
    if (qkept[i]) {
      if (vss_index_remove (truth, ring_id[oldest], &err) < 0
          || vss_index_add (truth, seq, qv[i], DIM, &err) < 0)
        g_error ("truth index: %s", err.msg);
      ring_id[oldest] = seq;
      oldest = (oldest + 1) % n;
    }
  }

  g_object_get (e, "stats", &st, NULL);
  gst_structure_get_uint (st, "window-size", &wsize);
  gst_structure_get_uint64 (st, "window-bytes", &bytes);
  gst_structure_free (st);

  g_string_append_printf (js, "\"expected_drops\": %u, "
      "\"missed_duplicates\": %u, \"wrong_keeps\": %u, "
      "\"false_drops\": %u, \"bytes_per_frame\": %.0f}", expected_drops,
      missed_dups, wrong_keeps, false_drops,
      wsize ? (gdouble) bytes / wsize : 0);

  gst_harness_teardown (h);
  gst_object_unref (e);
  vss_index_free (truth);
  g_ptr_array_unref (extra);
  g_free (ring);
  g_free (ring_id);
  g_free (qv);
  g_free (qdup);
  g_free (qkept);
  g_free (all);
  g_free (dup_ns);
  g_free (new_ns);
  g_free (cpu_ns);
  g_rand_free (r);
}

int
main (int argc, char **argv)
{
  GString *js = g_string_new (NULL);
  guint sizes[8] = { 1000, 10000, 100000 }, n_sizes = 0;
  gboolean data[2] = { TRUE, TRUE }, first = TRUE;

  gst_init (&argc, &argv);
  for (gint i = 1; i < argc; i++) {
    if (g_str_equal (argv[i], "--data") && i + 1 < argc) {
      i++;
      data[DATA_VIDEO] = !g_str_equal (argv[i], "random");
      data[DATA_RANDOM] = !g_str_equal (argv[i], "video");
    } else if (n_sizes < 8 && atoi (argv[i]) > 0) {
      sizes[n_sizes++] = (guint) atoi (argv[i]);
    } else {
      g_printerr ("usage: bench-dedup-speed [--data video|random|both] "
          "[WINDOW ...]\n");
      return 2;
    }
  }
  if (n_sizes == 0)
    n_sizes = 3;
  g_string_append (js, "{\n  \"benchmark\": \"dedup-speed\", "
      "\"threads\": 1, \"target\": \"p99 <= 1000 us at window 100000 "
      "(video-like data)\",\n  \"results\": [\n");
  for (guint d = 0; d < 2; d++) {
    for (guint i = 0; data[d] && i < n_sizes; i++) {
      for (gint m = 1; m >= 0; m--) {
        g_string_append (js, first ? "" : ",\n");
        first = FALSE;
        run (sizes[i], d, m, js);
      }
    }
  }
  g_string_append (js, "\n  ]\n}\n");
  g_print ("%s", js->str);
  g_string_free (js, TRUE);
  return 0;
}
