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
        { "public_helpers", test_public_helpers },
        { NULL, NULL } };

int
main (int argc, char **argv)
{
  return vss_run_tests (tests, argc, argv);
}
