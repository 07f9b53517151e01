/* libvssindex: recall@10 of HNSW against exact search at default settings
 * (M 16, ef_construction 200, ef_search 64), on video-like vectors and on
 * fashion-mnist (Debian's dataset-fashion-mnist), f32 and int8, plus recall
 * with a filter and after removals.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>

#include "vss-check.h"
#include "vss-datagen.h"

#define K 10

static double
recall_of (vss_index *idx, const float *q, size_t nq, uint32_t d,
           const uint64_t *gt, vss_filter_fn filter, void *ud)
{
  double sum = 0;
  vss_hit hits[K];
  vss_error err = { 0 };
  size_t i;

  for (i = 0; i < nq; i++) {
    int n = vss_index_search (idx, q + i * d, d, K, 0, filter, ud, hits, &err);
    if (n < 0) {
      fprintf (stderr, "search: %s\n", err.msg);
      return -1;
    }
    sum += vss_recall (hits, n, gt + i * K, K);
  }
  return sum / nq;
}

static vss_index *
build (const float *base, size_t n, uint32_t d, vss_metric metric,
       vss_storage st)
{
  vss_index_params p;
  vss_error err = { 0 };
  vss_index *idx;
  size_t i;

  vss_index_params_init (&p, VSS_INDEX_HNSW, metric, d);
  p.storage = st;
  idx = vss_index_new (&p, &err);
  for (i = 0; idx && i < n; i++)
    if (vss_index_add (idx, i, base + i * d, d, &err) < 0) {
      fprintf (stderr, "add: %s\n", err.msg);
      vss_index_free (idx);
      return NULL;
    }
  return idx;
}

static void
check_dataset (const char *name, const float *base, size_t n, const float *q,
               size_t nq, uint32_t d, vss_metric metric)
{
  uint64_t *gt = malloc (nq * K * sizeof *gt);
  vss_storage st[2] = { VSS_STORAGE_F32, VSS_STORAGE_INT8 };
  int s;

  vss_ground_truth (base, n, q, nq, d, metric, K, gt);
  for (s = 0; s < 2; s++) {
    double t0 = vss_now (), r;
    vss_index *idx = build (base, n, d, metric, st[s]);
    CHECK (idx);
    r = recall_of (idx, q, nq, d, gt, NULL, NULL);
    printf ("  %s %s: n=%zu d=%u recall@10=%.4f (build+search %.1f s)\n", name,
            s ? "int8" : "f32", n, d, r, vss_now () - t0);
    CHECK_MSG (r >= 0.95, "%s %s recall@10 %.4f < 0.95", name,
               s ? "int8" : "f32", r);
    vss_index_free (idx);
  }
  free (gt);
}

static void
test_recall_video (void)
{
  uint32_t d = 256;
  size_t total = 8200, nq, n;
  float *all = malloc (total * d * sizeof (float));
  float *base = malloc (total * d * sizeof (float));
  float *q = malloc (200 * d * sizeof (float));

  vss_gen_video (all, total, d, 101);
  nq = vss_gen_split (all, total, d, total / 200, base, q, 200);
  n = total - nq;
  check_dataset ("video-like", base, n, q, nq, d, VSS_METRIC_COSINE);
  free (all);
  free (base);
  free (q);
}

static void
test_recall_fashion_mnist (void)
{
  char tp[512], qp[512], why[600];
  size_t n, nq;
  uint32_t d, dq;
  float *base, *q;

  CHECK_MSG (vss_find_fmnist ("train-images-idx3-ubyte", tp, sizeof tp) == 0
                 && vss_find_fmnist ("t10k-images-idx3-ubyte", qp, sizeof qp)
                        == 0,
             "fashion-mnist not found: install Debian's dataset-fashion-mnist "
             "(tools/install-deps.sh --tests) or set VSS_FMNIST_DIR");
  base = vss_read_idx_images (tp, &n, &d, why, sizeof why);
  CHECK_MSG (base != NULL, "%s", why);
  q = vss_read_idx_images (qp, &nq, &dq, why, sizeof why);
  CHECK_MSG (q != NULL, "%s", why);
  CHECK (n == 60000 && nq == 10000 && d == 784 && dq == 784);
  /* a 12k subset keeps the test short; the benchmark runs all 60k */
  check_dataset ("fashion-mnist", base, 12000, q, 200, d, VSS_METRIC_L2);
  free (base);
  free (q);
}

static int
accept_third (uint64_t id, void *ud)
{
  (void)ud;
  return id % 3 == 0;
}

/* Filtered and after removals: the ground truth is over what remains. */
static void
test_recall_filter_and_removal (void)
{
  uint32_t d = 128;
  size_t total = 6200, nq, n, i, m = 0;
  float *all = malloc (total * d * sizeof (float));
  float *base = malloc (total * d * sizeof (float));
  float *q = malloc (200 * d * sizeof (float));
  float *kept = malloc (total * d * sizeof (float));
  uint64_t *map = malloc (total * sizeof *map);
  uint64_t *gt = malloc (200 * K * sizeof *gt);
  vss_index *idx;
  vss_error err = { 0 };
  double r;

  vss_gen_video (all, total, d, 202);
  nq = vss_gen_split (all, total, d, total / 200, base, q, 200);
  n = total - nq;
  idx = build (base, n, d, VSS_METRIC_COSINE, VSS_STORAGE_F32);
  CHECK (idx);
  /* filter: a third of the ids */
  for (i = 0; i < n; i++)
    if (accept_third (i, NULL)) {
      memcpy (kept + m * d, base + i * d, d * sizeof (float));
      map[m++] = i;
    }
  vss_ground_truth (kept, m, q, nq, d, VSS_METRIC_COSINE, K, gt);
  for (i = 0; i < nq * K; i++)
    gt[i] = map[gt[i]];
  r = recall_of (idx, q, nq, d, gt, accept_third, NULL);
  printf ("  filter (1/3 pass): recall@10=%.4f\n", r);
  CHECK_MSG (r >= 0.95, "filtered recall %.4f", r);
  /* removals: everything the filter rejected */
  for (i = 0; i < n; i++)
    if (!accept_third (i, NULL))
      CHECK (vss_index_remove (idx, i, &err) == 0);
  r = recall_of (idx, q, nq, d, gt, NULL, NULL);
  printf ("  after removing 2/3: recall@10=%.4f\n", r);
  CHECK_MSG (r >= 0.95, "recall after removals %.4f", r);
  vss_index_free (idx);
  free (all);
  free (base);
  free (q);
  free (kept);
  free (map);
  free (gt);
}

static const vss_test tests[] = {
  { "recall_video", test_recall_video },
  { "recall_fashion_mnist", test_recall_fashion_mnist },
  { "recall_filter_and_removal", test_recall_filter_and_removal },
  { NULL, NULL },
};

int
main (int argc, char **argv)
{
  return vss_run_tests (tests, argc, argv);
}
