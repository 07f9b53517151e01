/* libvssindex benchmark: build rate, recall@10 and QPS against ef, the exact
 * scan's QPS in the same run, bytes per vector, and the dedup window's query
 * latency. Prints one JSON document on stdout.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   bench-index [--quick] [--threads-note] [--storage f32|int8]
 *               [--base FILE.fvecs --query FILE.fvecs] [--n N] [--nq Q]
 *               [--M M] [--efc EF] [--only video|fmnist|fvecs|window]
 *
 * Data: video-like vectors (the reference's generator) at d = 1024 for
 * N = 10k and 100k, fashion-mnist (Debian's dataset-fashion-mnist, 60k x
 * 784, queries from its test set), or .fvecs files. Ground truth is the flat
 * index's exact search, timed to give the exact scan's QPS. One thread.
 */
#include <errno.h>
#include <math.h>

#include "vss-check.h"
#include "vss-datagen.h"

typedef struct {
  int quick;
  vss_storage storage;
  const char *base_path, *query_path, *only;
  size_t n_override, nq;
  uint32_t M, efc;
  uint32_t segment;
  size_t window;
} opts;

static int first_item = 1;

static void
sep (void)
{
  printf ("%s\n", first_item ? "" : ",");
  first_item = 0;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* One data set: build, exact ground truth, sweep ef. */
static int
run_dataset (const opts *o, const char *name, const float *base, size_t n,
             const float *q, size_t nq, uint32_t d, vss_metric metric)
{
  static const uint32_t efs[] = { 16, 32, 64, 128, 256 };
  vss_index_params p;
  vss_error err = { 0 };
  vss_index *flat, *hnsw;
  uint64_t *gt = malloc (nq * 10 * sizeof *gt);
  vss_hit hits[10];
  double t0, c0, build_s, build_cpu, exact_s, exact_qps;
  size_t i, e;

  vss_index_params_init (&p, VSS_INDEX_FLAT, metric, d);
  p.initial_capacity = n;
  flat = vss_index_new (&p, &err);
  p.kind = VSS_INDEX_HNSW;
  p.storage = o->storage;
  p.M = o->M;
  p.ef_construction = o->efc;
  hnsw = vss_index_new (&p, &err);
  if (!flat || !hnsw || !gt) {
    fprintf (stderr, "bench-index: %s\n", err.msg);
    return -1;
  }
  for (i = 0; i < n; i++)
    if (vss_index_add (flat, i, base + i * d, d, &err) < 0) {
      fprintf (stderr, "bench-index: %s: %s\n", name, err.msg);
      return -1;
    }
  t0 = vss_now ();
  c0 = vss_cpu_now ();
  for (i = 0; i < n; i++) {
    if (vss_index_add (hnsw, i, base + i * d, d, &err) < 0) {
      fprintf (stderr, "bench-index: %s: %s\n", name, err.msg);
      return -1;
    }
    if (i > 0 && i % 20000 == 0)
      fprintf (stderr, "  %s: %zu built, %.0f/s\n", name, i,
               i / (vss_now () - t0));
  }
  build_s = vss_now () - t0;
  build_cpu = vss_cpu_now () - c0;

  t0 = vss_now ();
  for (i = 0; i < nq; i++) {
    int k
        = vss_index_search (flat, q + i * d, d, 10, 0, NULL, NULL, hits, &err),
        j;
    for (j = 0; j < 10; j++)
      gt[i * 10 + j] = j < k ? hits[j].id : UINT64_MAX;
  }
  exact_s = vss_now () - t0;
  exact_qps = nq / exact_s;

  sep ();
  printf ("    {\"name\": \"%s\", \"n\": %zu, \"dim\": %u, \"queries\": %zu, "
          "\"metric\": \"%s\", \"storage\": \"%s\", \"M\": %u, "
          "\"ef_construction\": %u,\n",
          name, n, d, nq,
          metric == VSS_METRIC_COSINE ? "cosine"
          : metric == VSS_METRIC_IP   ? "ip"
                                      : "l2",
          o->storage == VSS_STORAGE_INT8 ? "int8" : "f32", o->M, o->efc);
  printf ("     \"build_seconds\": %.2f, \"build_rate\": %.0f, "
          "\"build_rate_cpu\": %.0f, \"bytes_per_vector\": %.0f, "
          "\"exact_qps\": %.1f,\n     \"search\": [",
          build_s, n / build_s, n / build_cpu,
          (double)vss_index_memory_used (hnsw) / n, exact_qps);
  for (e = 0; e < sizeof efs / sizeof efs[0]; e++) {
    double rsum = 0, s, qps, cs, c1;
    /* repeat small query sets so that each timing lasts a while */
    size_t reps = nq < 500 ? 500 / nq + 1 : 1, r;
    t0 = vss_now ();
    c1 = vss_cpu_now ();
    for (r = 0; r < reps; r++) {
      for (i = 0; i < nq; i++) {
        int k = vss_index_search (hnsw, q + i * d, d, 10, efs[e], NULL, NULL,
                                  hits, &err);
        if (r == 0)
          rsum += vss_recall (hits, k, gt + i * 10, 10);
      }
    }
    s = vss_now () - t0;
    cs = vss_cpu_now () - c1;
    qps = nq * reps / s;
    printf ("%s\n       {\"ef\": %u, \"recall_at_10\": %.4f, \"qps\": %.0f, "
            "\"qps_cpu\": %.0f, \"speedup_vs_exact\": %.1f}",
            e ? "," : "", efs[e], rsum / nq, qps, nq * reps / cs,
            qps / exact_qps);
    fflush (stdout);
  }
  printf ("]}");
  fflush (stdout);
  vss_index_free (flat);
  vss_index_free (hnsw);
  free (gt);
  return 0;
}

static int
run_video (const opts *o, size_t n)
{
  uint32_t d = 1024;
  size_t nq = o->nq, total = n + nq;
  float *all = malloc (total * d * sizeof (float));
  float *base = malloc (n * d * sizeof (float));
  float *q = malloc (nq * d * sizeof (float));
  char name[64];
  int rc;

  if (!all || !base || !q) {
    fprintf (stderr, "bench-index: out of memory for %zu vectors\n", total);
    return -1;
  }
  vss_gen_video (all, total, d, 1);
  nq = vss_gen_split (all, total, d, total / nq, base, q, nq);
  snprintf (name, sizeof name, "video-%zuk", n / 1000);
  rc = run_dataset (o, name, base, total - nq, q, nq, d, VSS_METRIC_COSINE);
  free (all);
  free (base);
  free (q);
  return rc;
}

static int
run_fmnist (const opts *o)
{
  char tp[512], qp[512], why[600];
  size_t n, nq;
  uint32_t d, dq;
  float *base, *q;
  int rc;

  if (vss_find_fmnist ("train-images-idx3-ubyte", tp, sizeof tp) < 0
      || vss_find_fmnist ("t10k-images-idx3-ubyte", qp, sizeof qp) < 0) {
    fprintf (stderr,
             "bench-index: fashion-mnist not found: install the "
             "dataset-fashion-mnist package (tools/install-deps.sh --tests) or "
             "set VSS_FMNIST_DIR\n");
    return -1;
  }
  base = vss_read_idx_images (tp, &n, &d, why, sizeof why);
  q = base ? vss_read_idx_images (qp, &nq, &dq, why, sizeof why) : NULL;
  if (!base || !q) {
    fprintf (stderr, "bench-index: %s\n", why);
    free (base);
    return -1;
  }
  if (o->quick && n > 10000)
    n = 10000;
  if (nq > o->nq)
    nq = o->nq;
  rc = run_dataset (o, o->quick ? "fashion-mnist-10k" : "fashion-mnist", base,
                    n, q, nq, d, VSS_METRIC_L2);
  free (base);
  free (q);
  return rc;
}

static int
run_fvecs (const opts *o)
{
  char why[600];
  size_t n, nq;
  uint32_t d, dq;
  float *base, *q;
  int rc;

  base = vss_read_fvecs (o->base_path, &n, &d, o->n_override, why, sizeof why);
  q = base ? vss_read_fvecs (o->query_path, &nq, &dq, o->nq, why, sizeof why)
           : NULL;
  if (!base || !q || n == 0 || nq == 0 || d != dq) {
    fprintf (stderr, "bench-index: %s\n",
             d != dq && q ? "base and query dimensions differ" : why);
    free (base);
    free (q);
    return -1;
  }
  rc = run_dataset (o, "fvecs", base, n, q, nq, d, VSS_METRIC_L2);
  free (base);
  free (q);
  return rc;
}

/* The dedup path: a stream of video-like frames through a window of
 * `wsize` rows, first-within query (r = 0.2) per frame, add when kept. */
static int
run_window (const opts *o, size_t frames, size_t wsize)
{
  uint32_t d = 1024;
  float *x = malloc (frames * d * sizeof (float));
  double *lat = malloc (frames * sizeof (double));
  double *clat = malloc (frames * sizeof (double));
  vss_window_params p;
  vss_error err = { 0 };
  vss_window *w;
  vss_window_hit h;
  size_t i, kept = 0, nlat = 0;
  double miss_sum = 0;
  size_t misses = 0;

  vss_gen_video (x, frames, d, 2);
  /* mimic a stream where most frames are new enough: thin out each scene */
  vss_window_params_init (&p, VSS_METRIC_COSINE, d);
  p.storage = o->storage;
  p.max_count = wsize;
  if (o->segment)
    p.segment_size = o->segment;
  w = vss_window_new (&p, &err);
  if (!w) {
    fprintf (stderr, "bench-index: %s\n", err.msg);
    return -1;
  }
  for (i = 0; i < frames; i++) {
    double t0 = vss_now (), c0 = vss_thread_cpu_now (), dt, dc;
    int rc = vss_window_search_first_within (w, x + i * d, d, 0.2f, &h, &err);
    dt = (vss_now () - t0) * 1e3;
    dc = (vss_thread_cpu_now () - c0) * 1e3;
    if (rc < 0) {
      fprintf (stderr, "bench-index: %s\n", err.msg);
      return -1;
    }
    if (i >= frames / 2) { /* measure once the window is warm */
      clat[nlat] = dc;
      lat[nlat++] = dt;
    }
    if (rc == 0) {
      if (i >= frames / 2) {
        miss_sum += dt;
        misses++;
      }
      kept++;
      if (vss_window_add (w, i, (int64_t)i, x + i * d, d, &err) < 0) {
        fprintf (stderr, "bench-index: %s\n", err.msg);
        return -1;
      }
    }
  }
  qsort (lat, nlat, sizeof *lat, cmp_double);
  qsort (clat, nlat, sizeof *clat, cmp_double);
  sep ();
  printf ("    {\"name\": \"window-dedup\", \"dim\": %u, \"frames\": %zu, "
          "\"window_rows\": %zu, \"max_count\": %zu, \"kept\": %zu, "
          "\"segment_size\": %u, \"storage\": \"%s\", "
          "\"radius\": 0.2, \"p50_ms\": %.4f, \"p99_ms\": %.4f, "
          "\"max_ms\": %.4f, \"miss_mean_ms\": %.4f, \"cpu_p50_ms\": %.4f, "
          "\"cpu_p99_ms\": %.4f, \"bytes\": %zu}",
          d, frames, vss_window_count (w), wsize, kept,
          o->segment, /* 0 = automatic sizing */
          o->storage == VSS_STORAGE_INT8 ? "int8" : "f32", lat[nlat / 2],
          lat[(size_t)(nlat * 0.99)], lat[nlat - 1],
          misses ? miss_sum / misses : 0.0, clat[nlat / 2],
          clat[(size_t)(nlat * 0.99)], vss_window_memory_used (w));
  fflush (stdout);
  vss_window_free (w);
  free (x);
  free (lat);
  free (clat);
  return 0;
}

/* The 1-minute load average: timings on a busy machine say little. */
static double
loadavg (void)
{
  FILE *f = fopen ("/proc/loadavg", "r");
  double l = -1;
  if (f) {
    if (fscanf (f, "%lf", &l) != 1)
      l = -1;
    fclose (f);
  }
  return l;
}

static void
usage (void)
{
  fprintf (stderr, "usage: bench-index [--quick] [--storage f32|int8] "
                   "[--base F.fvecs --query F.fvecs] [--n N] [--nq Q] [--M M] "
                   "[--efc EF] [--only video|fmnist|fvecs|window]\n");
}

int
main (int argc, char **argv)
{
  opts o = { 0, VSS_STORAGE_F32, NULL, NULL, NULL, 0, 0, 16, 200, 0, 0 };
  int i, rc = 0;

  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp (a, "--quick") == 0)
      o.quick = 1;
    else if (strcmp (a, "--storage") == 0 && v) {
      o.storage = strcmp (v, "int8") == 0 ? VSS_STORAGE_INT8 : VSS_STORAGE_F32;
      i++;
    } else if (strcmp (a, "--base") == 0 && v)
      o.base_path = argv[++i];
    else if (strcmp (a, "--query") == 0 && v)
      o.query_path = argv[++i];
    else if (strcmp (a, "--only") == 0 && v)
      o.only = argv[++i];
    else if (strcmp (a, "--n") == 0 && v)
      o.n_override = strtoul (argv[++i], NULL, 10);
    else if (strcmp (a, "--nq") == 0 && v)
      o.nq = strtoul (argv[++i], NULL, 10);
    else if (strcmp (a, "--M") == 0 && v)
      o.M = (uint32_t)strtoul (argv[++i], NULL, 10);
    else if (strcmp (a, "--segment") == 0 && v)
      o.segment = (uint32_t)strtoul (argv[++i], NULL, 10);
    else if (strcmp (a, "--window") == 0 && v)
      o.window = strtoul (argv[++i], NULL, 10);
    else if (strcmp (a, "--efc") == 0 && v)
      o.efc = (uint32_t)strtoul (argv[++i], NULL, 10);
    else {
      usage ();
      return 2;
    }
  }
  if ((o.base_path == NULL) != (o.query_path == NULL)) {
    usage ();
    return 2;
  }
  if (o.nq == 0)
    o.nq = o.quick ? 200 : 1000;

  printf ("{\"benchmark\": \"index\", \"kernel\": \"%s\", \"threads\": 1, "
          "\"quick\": %s, \"loadavg_start\": %.2f,\n \"note\": \"one "
          "thread on a shared machine: rough; *_cpu figures use CPU time\","
          "\n \"results\": [",
          vss_kernel_name (), o.quick ? "true" : "false", loadavg ());
  if (o.base_path) {
    rc |= run_fvecs (&o);
  } else {
    if (!o.only || strcmp (o.only, "video") == 0) {
      if (o.n_override)
        rc |= run_video (&o, o.n_override);
      else if (o.quick)
        rc |= run_video (&o, 5000);
      else {
        rc |= run_video (&o, 10000);
        rc |= run_video (&o, 100000);
      }
    }
    if (!o.only || strcmp (o.only, "fmnist") == 0)
      rc |= run_fmnist (&o);
    if (!o.only || strcmp (o.only, "window") == 0)
      rc |= run_window (&o, o.quick ? 4000 : 30000,
                        o.window  ? o.window
                        : o.quick ? 2000
                                  : 10000);
  }
  printf ("\n ],\n \"loadavg_end\": %.2f}\n", loadavg ());
  return rc ? 1 : 0;
}
