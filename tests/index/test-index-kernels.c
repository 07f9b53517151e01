/* libvssindex: every distance kernel this CPU runs against a double-precision
 * scalar reference, on lengths that exercise every tail.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>

#include "vss-check.h"
#include "vss-datagen.h"
#include "vss-index-private.h"

static const size_t lengths[]
    = { 1,   2,   3,   4,   5,    7,    8,    9,    15,   16,  17,
        31,  32,  33,  63,  64,   65,   100,  127,  128,  129, 255,
        256, 257, 511, 784, 1000, 1023, 1024, 1025, 1536, 4099 };

#define N_LEN (sizeof lengths / sizeof lengths[0])

static void
test_kernels_match_reference (void)
{
  vss_rng r = { 42, 0, 0 };
  float *a = malloc (8192 * sizeof (float)),
        *b = malloc (8192 * sizeof (float));
  int8_t *x = malloc (8192), *y = malloc (8192);
  unsigned ki, li, seen = 0;
  const vss_kernels *k;

  for (ki = 0; (k = vss_kernels_nth (ki)) != NULL; ki++) {
    seen++;
    for (li = 0; li < N_LEN; li++) {
      size_t n = lengths[li], i, off;
      /* also unaligned starts */
      for (off = 0; off < 3; off++) {
        double dot = 0, l2 = 0, absdot = 0;
        int32_t idot = 0;
        float got;
        for (i = 0; i < n; i++) {
          a[off + i] = (float)vss_rng_normal (&r);
          b[off + i] = (float)vss_rng_normal (&r);
          x[off + i] = (int8_t)((int)(vss_rng_uniform (&r) * 255) - 127);
          y[off + i] = (int8_t)((int)(vss_rng_uniform (&r) * 255) - 127);
          dot += (double)a[off + i] * b[off + i];
          absdot += fabs ((double)a[off + i] * b[off + i]);
          l2 += ((double)a[off + i] - b[off + i])
                * ((double)a[off + i] - b[off + i]);
          idot += (int32_t)x[off + i] * y[off + i];
        }
        got = k->dot (a + off, b + off, n);
        CHECK_MSG (fabs (got - dot) <= 1e-5 * absdot + 1e-6,
                   "%s dot n=%zu: %g vs %g", k->name, n, got, dot);
        got = k->l2sq (a + off, b + off, n);
        CHECK_MSG (fabs (got - l2) <= 1e-5 * l2 + 1e-6,
                   "%s l2sq n=%zu: %g vs %g", k->name, n, got, l2);
        CHECK_MSG (k->dot_i8 (x + off, y + off, n) == idot,
                   "%s dot_i8 n=%zu: %d vs %d", k->name, n,
                   k->dot_i8 (x + off, y + off, n), idot);
      }
    }
    /* extremes of int8 must not overflow the 16-bit stage */
    memset (x, 0x81, 4096);
    memset (y, 0x81, 4096);
    CHECK_MSG (k->dot_i8 (x, y, 4096) == 4096 * 127 * 127, "%s", k->name);
  }
  CHECK (seen >= 2);
  printf ("  kernels checked: %u, picked: %s\n", seen, vss_kernel_name ());
  free (a);
  free (b);
  free (x);
  free (y);
}

/* The 4-bit kernels: every set against the scalar reference, and the
 * reference against the layout vss_quantize_u4 documents. */
static void
test_u4_kernels (void)
{
  static const size_t blocks[] = { 1, 2, 3, 5, 8, 9, 12 };
  vss_rng r = { 7, 0, 0 };
  uint8_t *c = malloc (12 * 64);
  int8_t *q = malloc (12 * VSS_U4_BLOCK);
  const vss_kernels *k;
  unsigned ki, bi;

  for (bi = 0; bi < sizeof blocks / sizeof blocks[0]; bi++) {
    size_t nb = blocks[bi], i;
    int32_t want = 0;
    for (i = 0; i < nb * 64; i++)
      c[i] = (uint8_t)(vss_rng_uniform (&r) * 256);
    for (i = 0; i < nb * VSS_U4_BLOCK; i++)
      q[i] = (int8_t)((int)(vss_rng_uniform (&r) * 255) - 127);
    /* component by component, as the layout says */
    for (i = 0; i < nb * VSS_U4_BLOCK; i++) {
      size_t b = i / VSS_U4_BLOCK, j = i % VSS_U4_BLOCK;
      uint8_t byte = c[b * 64 + (j & 63)];
      want += (int32_t)(j < 64 ? byte & 15 : byte >> 4) * q[i];
    }
    CHECK_MSG (vss_dot_u4_scalar (c, q, nb) == want, "scalar nb=%zu", nb);
    for (ki = 0; (k = vss_kernels_nth (ki)) != NULL; ki++)
      CHECK_MSG (k->dot_u4 (c, q, nb) == want, "%s dot_u4 nb=%zu: %d vs %d",
                 k->name, nb, k->dot_u4 (c, q, nb), want);
  }
  /* extremes must not saturate the 16-bit stage */
  memset (c, 0xff, 12 * 64);
  memset (q, 0x81, 12 * VSS_U4_BLOCK);
  for (ki = 0; (k = vss_kernels_nth (ki)) != NULL; ki++)
    CHECK_MSG (k->dot_u4 (c, q, 12) == -12 * VSS_U4_BLOCK * 15 * 127, "%s",
               k->name);
  free (c);
  free (q);
}

/* vss_quantize_u4: each component within half a step, padding neutral. */
static void
test_u4_quantize (void)
{
  static const size_t lens[] = { 1, 63, 64, 65, 127, 128, 129, 300, 1024 };
  vss_rng r = { 11, 0, 0 };
  float v[1024];
  uint8_t c[9 * 64];
  unsigned li;

  for (li = 0; li < sizeof lens / sizeof lens[0]; li++) {
    size_t n = lens[li], nb = vss_u4_blocks (n), i;
    float m = 0, s;
    for (i = 0; i < n; i++) {
      v[i] = (float)vss_rng_normal (&r);
      m = fabsf (v[i]) > m ? fabsf (v[i]) : m;
    }
    memset (c, 0x5a, sizeof c);
    s = vss_quantize_u4 (v, n, c);
    CHECK_MSG (fabsf (s - m / 7) <= 1e-6f * m, "n=%zu scale %g", n, s);
    for (i = 0; i < nb * VSS_U4_BLOCK; i++) {
      size_t b = i / VSS_U4_BLOCK, j = i % VSS_U4_BLOCK;
      uint8_t byte = c[b * 64 + (j & 63)];
      int u = j < 64 ? byte & 15 : byte >> 4;
      if (i >= n) {
        CHECK_MSG (u == 8, "n=%zu padding %zu is %d", n, i, u);
        continue;
      }
      CHECK_MSG (u >= 1 && u <= 15, "n=%zu nibble %d", n, u);
      CHECK_MSG (fabsf ((float)(u - 8) * s - v[i]) <= 0.5f * s + 1e-6f,
                 "n=%zu component %zu: %g for %g", n, i, (u - 8) * s, v[i]);
    }
  }
  memset (v, 0, sizeof v);
  CHECK (vss_quantize_u4 (v, 100, c) == 0 && c[0] == 0x88 && c[63] == 0x88);
}

/* What the window's walk relies on: on 1024-d video-like frames the 4-bit
 * cosine distance (int8 query) stays well inside VSS_U4_MARGIN of the f32
 * one, near (< 0.3) and far alike. */
static void
test_u4_estimate_error (void)
{
  const uint32_t d = 1024;
  const size_t n = 3000;
  float *x = malloc (n * d * sizeof (float));
  uint8_t *c = malloc (vss_u4_blocks (d) * 64);
  int8_t *q = calloc (vss_u4_blocks (d) * VSS_U4_BLOCK, 1);
  const vss_kernels *k = vss_kernels_get ();
  vss_rng r = { 5, 0, 0 };
  double maxe = 0, se = 0;
  size_t i, near = 0;

  vss_gen_video (x, n, d, 3);
  for (i = 0; i < n; i++) {
    size_t a = (size_t)(vss_rng_uniform (&r) * n) % n;
    size_t b = i % 3 ? (a + 1 + i % 7) % n : (size_t)(vss_rng_uniform (&r) * n) % n;
    const float *va = x + a * d, *vb = x + b * d;
    float sq, s4, exact, est;
    int32_t sum = 0, raw;
    uint32_t j;
    double e;
    sq = vss_quantize_i8 (va, d, q);
    for (j = 0; j < d; j++)
      sum += q[j];
    s4 = vss_quantize_u4 (vb, d, c);
    raw = k->dot_u4 (c, q, vss_u4_blocks (d)) - 8 * sum;
    est = 1.0f - sq * s4 * (float)raw;
    exact = vss_distance (VSS_METRIC_COSINE, va, vb, d);
    e = fabs ((double)est - exact);
    near += exact < 0.3f;
    se += e * e;
    if (e > maxe)
      maxe = e;
  }
  printf ("  4-bit cosine error over %zu pairs (%zu nearer than 0.3): rms "
          "%.4f, max %.4f (margin %.2f)\n",
          n, near, sqrt (se / n), maxe, VSS_U4_MARGIN);
  CHECK (near > n / 20);
  CHECK_MSG (maxe < VSS_U4_MARGIN / 2, "max error %g", maxe);
  free (x);
  free (c);
  free (q);
}

static void
test_public_helpers (void)
{
  float a[5] = { 3, 4, 0, 0, 0 }, b[5] = { 0, 4, 3, 0, 0 };
  float z[5] = { 0 };

  CHECK (fabsf (vss_dot_f32 (a, b, 5) - 16) < 1e-6);
  CHECK (fabsf (vss_l2sq_f32 (a, b, 5) - 18) < 1e-6);
  CHECK (fabsf (vss_distance (VSS_METRIC_COSINE, a, b, 5) - (1 - 16.0f / 25))
         < 1e-6);
  CHECK (fabsf (vss_distance (VSS_METRIC_IP, a, b, 5) - (1 - 16)) < 1e-5);
  CHECK (fabsf (vss_distance (VSS_METRIC_L2, a, b, 5) - 18) < 1e-5);
  CHECK (fabsf (vss_normalize_f32 (a, 5) - 5) < 1e-6);
  CHECK (fabsf (a[0] - 0.6f) < 1e-6 && fabsf (a[1] - 0.8f) < 1e-6);
  CHECK (vss_normalize_f32 (z, 5) == 0 && z[0] == 0);
  CHECK (vss_kernel_name () != NULL && *vss_kernel_name ());
}

static const vss_test tests[]
    = { { "kernels_match_reference", test_kernels_match_reference },
        { "u4_kernels", test_u4_kernels },
        { "u4_quantize", test_u4_quantize },
        { "u4_estimate_error", test_u4_estimate_error },
        { "public_helpers", test_public_helpers },
        { NULL, NULL } };

int
main (int argc, char **argv)
{
  return vss_run_tests (tests, argc, argv);
}
