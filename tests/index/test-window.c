/* libvssindex: the sliding window (segments, eviction by count and age,
 * newest-first first-within search, k-NN across segments).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>

#include "vss-check.h"
#include "vss-datagen.h"

/* unit vector along axis a (mod d) */
static void
axis (float *v, uint32_t d, uint32_t a)
{
  memset (v, 0, d * sizeof (float));
  v[a % d] = 1;
}

static vss_window *
make (uint32_t d, size_t max_count, int64_t max_age, uint32_t seg)
{
  vss_window_params p;
  vss_error err = { 0 };
  vss_window *w;

  vss_window_params_init (&p, VSS_METRIC_COSINE, d);
  p.max_count = max_count;
  p.max_age = max_age;
  p.segment_size = seg;
  p.exact_limit = seg / 2;
  w = vss_window_new (&p, &err);
  if (!w)
    fprintf (stderr, "vss_window_new: %s\n", err.msg);
  return w;
}

static void
test_count_eviction (void)
{
  uint32_t d = 64, i;
  vss_window *w = make (d, 100, 0, 16);
  vss_error err = { 0 };
  vss_window_hit h;
  float v[64];

  CHECK (w);
  for (i = 0; i < 250; i++) {
    axis (v, d, i);
    v[(i + 1) % d] = 0.01f * (float)(i / d); /* distinct rows per axis */
    CHECK (vss_window_add (w, 1000 + i, i, v, d, &err) == 0);
    CHECK (vss_window_count (w) == (i + 1 < 100 ? i + 1 : 100));
  }
  /* rows 150..249 live: axis 10 was added at 10, 74, 138, 202 */
  axis (v, d, 10);
  CHECK (vss_window_search_first_within (w, v, d, 0.01f, &h, &err) == 1);
  CHECK_MSG (h.id == 1202 && h.ts == 202, "%llu", (unsigned long long)h.id);
  /* the count limit shrinks: only 20 left (230..249) */
  vss_window_set_max_count (w, 20);
  CHECK (vss_window_count (w) == 20);
  CHECK (vss_window_search_first_within (w, v, d, 0.01f, &h, &err) == 0);
  axis (v, d, 230 % 64);
  CHECK (vss_window_search_first_within (w, v, d, 0.01f, &h, &err) == 1
         && h.id == 1230);
  /* the rows evicted inside the oldest live segment are never returned */
  {
    vss_window_hit hits[64];
    int n = vss_window_search (w, v, d, 64, hits, &err), j;
    CHECK (n == 20);
    for (j = 0; j < n; j++)
      CHECK (hits[j].id >= 1230 && hits[j].id < 1250);
    for (j = 1; j < n; j++)
      CHECK (hits[j - 1].distance <= hits[j].distance);
  }
  CHECK (vss_window_memory_used (w) > 0);
  /* old segments are freed: memory bounded by a few segments */
  CHECK (vss_window_memory_used (w) < 8 * 16 * (d * 4 + 256) + 65536);
  vss_window_free (w);
}

static void
test_age_expiry (void)
{
  uint32_t d = 8, i;
  vss_window *w = make (d, 0, 100, 4);
  vss_error err = { 0 };
  vss_window_hit h;
  float v[8];

  CHECK (w);
  for (i = 0; i < 40; i++) {
    axis (v, d, i);
    v[(i + 3) % d] = 0.001f * i;
    CHECK (vss_window_add (w, i, 10 * i, v, d, &err) == 0);
  }
  CHECK (vss_window_count (w) == 40);
  /* now = 395: rows with ts < 295 go, so 30..39 (ts 300..390) stay */
  CHECK (vss_window_expire (w, 395) == 10);
  CHECK (vss_window_count (w) == 10);
  axis (v, d, 29);
  v[(29 + 3) % d] = 0.001f * 29;
  CHECK (vss_window_search_first_within (w, v, d, 0.5f, &h, &err) == 1);
  CHECK (h.id >= 30);
  /* a smaller timestamp counts as the last one */
  axis (v, d, 5);
  CHECK (vss_window_add (w, 99, 5, v, d, &err) == 0);
  CHECK (vss_window_search_first_within (w, v, d, 1e-6f, &h, &err) == 1
         && h.id == 99 && h.ts == 390);
  /* everything expired: empty, still usable */
  CHECK (vss_window_expire (w, 100000) == 0);
  CHECK (vss_window_count (w) == 0);
  CHECK (vss_window_search_first_within (w, v, d, 2.0f, &h, &err) == 0);
  CHECK (vss_window_search (w, v, d, 3, &h, &err) == 0);
  CHECK (vss_window_add (w, 100, 100001, v, d, &err) == 0);
  CHECK (vss_window_search (w, v, d, 1, &h, &err) == 1 && h.id == 100);
  /* max age 0 = no age limit */
  vss_window_set_max_age (w, 0);
  CHECK (vss_window_expire (w, INT64_MAX) == 1);
  vss_window_clear (w);
  CHECK (vss_window_count (w) == 0);
  CHECK (vss_window_search (w, v, d, 1, &h, &err) == 0);
  vss_window_free (w);
}

/* Duplicates of an old row and of a recent row: the newest witness wins. */
static void
test_newest_first (void)
{
  uint32_t d = 32;
  size_t n = 3000, i;
  float *x = malloc (n * d * sizeof (float));
  vss_window *w = make (d, 0, 0, 256);
  vss_error err = { 0 };
  vss_window_hit h, hits[5];

  CHECK (w);
  vss_gen_video (x, n, d, 11);
  for (i = 0; i < n; i++)
    CHECK (vss_window_add (w, i, (int64_t)i, x + i * d, d, &err) == 0);
  /* exact copy of row 17 (in a sealed HNSW segment), found */
  CHECK (vss_window_search_first_within (w, x + 17 * d, d, 1e-5f, &h, &err) == 1
         && h.id == 17);
  CHECK (vss_window_search (w, x + 17 * d, d, 5, hits, &err) == 5
         && hits[0].id == 17 && hits[0].distance < 1e-5f);
  /* with a loose radius, the newest segment answers first */
  CHECK (vss_window_search_first_within (w, x + (n - 1) * d, d, 2.0f, &h, &err)
             == 1
         && h.id >= n - 256);
  /* errors */
  CHECK (vss_window_search_first_within (w, x, d + 1, 0.1f, &h, &err) < 0
         && err.code == VSS_ERR_DIMENSION);
  CHECK (vss_window_search (w, x, d, 0, &h, &err) < 0);
  {
    float z[32] = { 0 };
    CHECK (vss_window_add (w, 1, 1, z, d, &err) < 0);
    z[0] = NAN;
    CHECK (vss_window_search_first_within (w, z, d, 0.1f, &h, &err) < 0);
  }
  CHECK (vss_window_count (w) == n);
  vss_window_free (w);
  free (x);
}

/* Automatic segment sizing on video-like data: the older segment drains
 * while the newest fills, and first-within still finds the near-duplicates
 * of live rows wherever they are, never returns an expired row, and only
 * answers "none" when no live row is within r. At d >= 256 the walks read
 * 4-bit codes. */
static void
draining_segments (uint32_t d)
{
  uint32_t i;
  size_t nrows = 7000, win = 2000, ok = 0, asked = 0;
  size_t nearest_asked = 0, nearest_exact = 0;
  double worst = 0;
  float *x = malloc (nrows * d * sizeof (float)), q[1024];
  vss_window_params p;
  vss_error err = { 0 };
  vss_window *w;
  vss_rng r = { 99, 0, 0 };

  CHECK (x);
  vss_gen_video (x, nrows, d, 5);
  vss_window_params_init (&p, VSS_METRIC_COSINE, d);
  p.max_count = win;
  w = vss_window_new (&p, &err);
  CHECK (w);
  for (i = 0; i < nrows; i++) {
    CHECK (vss_window_add (w, i, (int64_t)i, x + (size_t)i * d, d, &err) == 0);
    if (i % 97 == 0 && i > win) {
      /* a near-duplicate of a random live row, and of a random expired one */
      size_t live = i + 1 - win + (size_t)(vss_rng_uniform (&r) * win);
      size_t dead = (size_t)(vss_rng_uniform (&r) * (i + 1 - win));
      size_t src[2] = { live, dead };
      int k;
      for (k = 0; k < 2; k++) {
        vss_window_hit h;
        uint32_t j;
        double best = 2;
        int rc;
        for (j = 0; j < d; j++)
          q[j] = x[src[k] * d + j] + 0.002f * (float)vss_rng_normal (&r);
        rc = vss_window_search_first_within (w, q, d, 0.2f, &h, &err);
        CHECK (rc == 0 || rc == 1);
        if (rc == 1) {
          CHECK_MSG (h.id + win > i && h.id <= i && h.distance <= 0.2f,
                     "hit %llu at %zu rows", (unsigned long long)h.id,
                     (size_t)i);
        } else {
          /* no hit: no live row may be within r */
          size_t s;
          for (s = i + 1 - win; s <= i; s++) {
            double dot = 0, n1 = 0, n2 = 0;
            for (j = 0; j < d; j++) {
              dot += (double)q[j] * x[s * d + j];
              n1 += (double)q[j] * q[j];
              n2 += (double)x[s * d + j] * x[s * d + j];
            }
            dot = 1 - dot / sqrt (n1 * n2);
            if (dot < best)
              best = dot;
          }
        }
        if (k == 0) {
          asked++;
          ok += rc == 1;
        } else if (rc == 0) {
          vss_window_hit nh;
          CHECK_MSG (best > 0.2 - 1e-5, "missed a live row at %.4f", best);
          /* the same search also reports the nearest row it met */
          CHECK (vss_window_search_within_nearest (w, q, d, 0.2f, &nh, &err)
                 == 0);
          CHECK (nh.id + win > i && nh.id <= i);
          CHECK_MSG (nh.distance >= best - 1e-4, "%.5f < %.5f", nh.distance,
                     best);
          if (nh.distance - best > worst)
            worst = nh.distance - best;
          nearest_asked++;
          nearest_exact += nh.distance <= best + 1e-4;
        }
      }
    }
  }
  CHECK_MSG (ok * 100 >= asked * 99, "near-duplicates of live rows found: "
             "%zu of %zu", ok, asked);
  /* These queries sit next to expired rows, the hardest case for the
   * nearest met (the beam gathers round the dead neighbourhood): it is the
   * true nearest live row most of the time and never far from it. */
  CHECK_MSG (nearest_asked > 10 && nearest_exact * 4 >= nearest_asked * 3
                 && worst < 0.15,
             "nearest met is the true nearest %zu of %zu times, worst "
             "%.4f too far", nearest_exact, nearest_asked, worst);
  CHECK (vss_window_count (w) == win);
  /* two segments of the window's size at most, each row ~ d * 5 bytes +
   * links */
  CHECK_MSG (vss_window_memory_used (w) < 2 * win * (d * 6 + 512) + 262144,
             "%zu bytes", vss_window_memory_used (w));
  printf ("  %u-d: near-duplicates found %zu of %zu, nearest met exact %zu of "
          "%zu (worst %.4f)\n", d, ok, asked, nearest_exact, nearest_asked,
          worst);
  vss_window_free (w);
  free (x);
}

static void
test_draining_segments (void)
{
  draining_segments (128);
  if (vss_check_failures == 0)
    draining_segments (768);
}

/* Rows of 768 dimensions are walked on 4-bit codes: a query 0.19 from a
 * row (cosine) must still hit and one 0.21 from it must not, through the
 * exact scan of a small segment and the graph of a large one alike. */
static void
test_u4_boundary (void)
{
  const uint32_t d = 768;
  const size_t n = 4000;
  float *x = malloc (n * d * sizeof (float)), q[768], y[768];
  vss_window_params p;
  vss_error err = { 0 };
  vss_window *w;
  vss_rng r = { 21, 0, 0 };
  size_t i, hits = 0, misses = 0;
  uint32_t j;

  CHECK (x);
  for (i = 0; i < n * d; i++)
    x[i] = (float)vss_rng_normal (&r);
  for (i = 0; i < n; i++)
    vss_gen_normalise (x + i * d, d);
  vss_window_params_init (&p, VSS_METRIC_COSINE, d);
  p.max_count = 3000;
  w = vss_window_new (&p, &err);
  CHECK (w);
  for (i = 0; i < n; i++) {
    CHECK (vss_window_add (w, i, (int64_t)i, x + i * d, d, &err) == 0);
    if (i % 40 != 39)
      continue;
    {
      /* a live row: the newest (exact scan) or an older one (graph) */
      size_t back = i < 900 ? i : 900;
      size_t s = i % 80 == 79 ? i : i - (size_t)(vss_rng_uniform (&r) * back);
      float dist = i % 120 < 60 ? 0.19f : 0.21f;
      double c = 1.0 - dist, dot = 0, sn = 0;
      vss_window_hit h;
      int rc;
      /* q = c x + sqrt (1 - c^2) y, y a unit vector orthogonal to x */
      for (j = 0; j < d; j++)
        y[j] = (float)vss_rng_normal (&r);
      for (j = 0; j < d; j++)
        dot += (double)y[j] * x[s * d + j];
      for (j = 0; j < d; j++)
        y[j] -= (float)(dot * x[s * d + j]);
      vss_gen_normalise (y, d);
      sn = sqrt (1 - c * c);
      for (j = 0; j < d; j++)
        q[j] = (float)(c * x[s * d + j] + sn * y[j]);
      rc = vss_window_search_first_within (w, q, d, 0.2f, &h, &err);
      if (dist < 0.2f) {
        CHECK_MSG (rc == 1 && h.distance <= 0.2f,
                   "row %zu at 0.19 not found (rc %d) with %zu rows", s, rc, i);
        CHECK (h.id == s);
        hits++;
      } else {
        CHECK_MSG (rc == 0, "row %zu at 0.21 returned as within 0.2 "
                   "(%.4f)", s, h.distance);
        misses++;
      }
    }
  }
  CHECK (hits >= 30 && misses >= 60);
  vss_window_free (w);
  free (x);
}

/* Background linking: every row is found from the moment add returns, and
 * once the linker has caught up the window answers exactly as one that
 * linked each row inside add (the graphs are built in the same order). */
static void
test_background_linking (void)
{
  uint32_t d = 256; /* 4-bit walks too */
  size_t n = 3000, i, waited = 0;
  float *x = malloc (n * d * sizeof (float));
  vss_window_params p;
  vss_error err = { 0 };
  vss_window *ws, *wb;

  vss_gen_video (x, n, d, 123);
  vss_window_params_init (&p, VSS_METRIC_COSINE, d);
  p.max_count = 2000;
  ws = vss_window_new (&p, &err);
  p.link_in_background = 1;
  wb = vss_window_new (&p, &err);
  CHECK (ws && wb);
  for (i = 0; i < n; i++) {
    vss_window_hit h;
    CHECK (vss_window_add (ws, i, (int64_t)i, x + i * d, d, &err) == 0);
    CHECK_MSG (vss_window_add (wb, i, (int64_t)i, x + i * d, d, &err) == 0,
               "%s", err.msg);
    waited += vss_window_unlinked (wb) > 0;
    CHECK (vss_window_unlinked (wb) <= 1024);
    CHECK (vss_window_unlinked (ws) == 0);
    CHECK_MSG (vss_window_search_first_within (wb, x + i * d, d, 1e-4f, &h,
                                               &err)
                   == 1,
               "row %zu not found", i);
  }
  /* rows did wait for the linker: add returned before linking them. How
   * often depends on the machine's load (a quarter of the adds on a quiet
   * machine, fewer under sanitizers on a busy one), so only "some". */
  CHECK_MSG (waited > 0, "%zu", waited);
  CHECK (vss_window_link_all (wb, &err) == 0);
  CHECK (vss_window_unlinked (wb) == 0);
  CHECK (vss_window_count (wb) == 2000 && vss_window_count (ws) == 2000);
  for (i = 0; i < 300; i++) {
    const float *base = x + ((i * 7919) % n) * d;
    float q[256];
    vss_window_hit a, b, ka[5], kb[5];
    uint32_t j;
    int ra, rb, k;
    for (j = 0; j < d; j++)
      q[j] = base[j] + 0.004f * (float)((int)((j * 13 + i) % 7) - 3);
    ra = vss_window_search_within_nearest (ws, q, d, 0.01f, &a, &err);
    rb = vss_window_search_within_nearest (wb, q, d, 0.01f, &b, &err);
    CHECK (ra >= 0 && ra == rb);
    CHECK_MSG (a.id == b.id && a.distance == b.distance, "query %zu", i);
    CHECK (vss_window_search (ws, q, d, 5, ka, &err) == 5);
    CHECK (vss_window_search (wb, q, d, 5, kb, &err) == 5);
    for (k = 0; k < 5; k++)
      CHECK (ka[k].id == kb[k].id && ka[k].distance == kb[k].distance);
  }
  vss_window_free (ws);
  vss_window_free (wb);
  free (x);
}

static void
test_bad_params (void)
{
  vss_window_params p;
  vss_error err = { 0 };

  vss_window_params_init (&p, VSS_METRIC_COSINE, 0);
  CHECK (vss_window_new (&p, &err) == NULL && err.code == VSS_ERR_DIMENSION);
  vss_window_params_init (&p, VSS_METRIC_COSINE, 4);
  p.max_age = -1;
  CHECK (vss_window_new (&p, &err) == NULL && err.code == VSS_ERR_INVALID);
  CHECK (vss_window_new (NULL, &err) == NULL);
}

static const vss_test tests[] = { { "count_eviction", test_count_eviction },
                                  { "age_expiry", test_age_expiry },
                                  { "newest_first", test_newest_first },
                                  { "draining_segments", test_draining_segments },
                                  { "u4_boundary", test_u4_boundary },
                                  { "background_linking",
                                    test_background_linking },
                                  { "bad_params", test_bad_params },
                                  { NULL, NULL } };

int
main (int argc, char **argv)
{
  return vss_run_tests (tests, argc, argv);
}
