/* libvssindex: AVX2 + FMA kernels through simde (compiled with -mavx2 -mfma,
 * run only when the CPU has both).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <simde/x86/avx2.h>
#include <simde/x86/fma.h>

#include "vss-index-private.h"

static inline float
hsum256 (simde__m256 v)
{
  simde__m128 lo = simde_mm256_castps256_ps128 (v);
  simde__m128 hi = simde_mm256_extractf128_ps (v, 1);
  float t[4];

  simde_mm_storeu_ps (t, simde_mm_add_ps (lo, hi));
  return (t[0] + t[1]) + (t[2] + t[3]);
}

static float
dot_avx2 (const float *a, const float *b, size_t n)
{
  simde__m256 s0 = simde_mm256_setzero_ps (), s1 = simde_mm256_setzero_ps ();
  simde__m256 s2 = simde_mm256_setzero_ps (), s3 = simde_mm256_setzero_ps ();
  size_t i = 0;
  float r;

  for (; i + 32 <= n; i += 32) {
    s0 = simde_mm256_fmadd_ps (simde_mm256_loadu_ps (a + i),
                               simde_mm256_loadu_ps (b + i), s0);
    s1 = simde_mm256_fmadd_ps (simde_mm256_loadu_ps (a + i + 8),
                               simde_mm256_loadu_ps (b + i + 8), s1);
    s2 = simde_mm256_fmadd_ps (simde_mm256_loadu_ps (a + i + 16),
                               simde_mm256_loadu_ps (b + i + 16), s2);
    s3 = simde_mm256_fmadd_ps (simde_mm256_loadu_ps (a + i + 24),
                               simde_mm256_loadu_ps (b + i + 24), s3);
  }
  for (; i + 8 <= n; i += 8)
    s0 = simde_mm256_fmadd_ps (simde_mm256_loadu_ps (a + i),
                               simde_mm256_loadu_ps (b + i), s0);
  r = hsum256 (simde_mm256_add_ps (simde_mm256_add_ps (s0, s1),
                                   simde_mm256_add_ps (s2, s3)));
  for (; i < n; i++)
    r += a[i] * b[i];
  return r;
}

static float
l2sq_avx2 (const float *a, const float *b, size_t n)
{
  simde__m256 s0 = simde_mm256_setzero_ps (), s1 = simde_mm256_setzero_ps ();
  size_t i = 0;
  float r;

  for (; i + 16 <= n; i += 16) {
    simde__m256 d0 = simde_mm256_sub_ps (simde_mm256_loadu_ps (a + i),
                                         simde_mm256_loadu_ps (b + i));
    simde__m256 d1 = simde_mm256_sub_ps (simde_mm256_loadu_ps (a + i + 8),
                                         simde_mm256_loadu_ps (b + i + 8));
    s0 = simde_mm256_fmadd_ps (d0, d0, s0);
    s1 = simde_mm256_fmadd_ps (d1, d1, s1);
  }
  for (; i + 8 <= n; i += 8) {
    simde__m256 d0 = simde_mm256_sub_ps (simde_mm256_loadu_ps (a + i),
                                         simde_mm256_loadu_ps (b + i));
    s0 = simde_mm256_fmadd_ps (d0, d0, s0);
  }
  r = hsum256 (simde_mm256_add_ps (s0, s1));
  for (; i < n; i++) {
    float d = a[i] - b[i];
    r += d * d;
  }
  return r;
}

static int32_t
dot_i8_avx2 (const int8_t *a, const int8_t *b, size_t n)
{
  simde__m256i s0 = simde_mm256_setzero_si256 ();
  simde__m256i s1 = simde_mm256_setzero_si256 ();
  int32_t t[8], r;
  size_t i = 0;

  for (; i + 32 <= n; i += 32) {
    simde__m256i x0 = simde_mm256_cvtepi8_epi16 (
        simde_mm_loadu_si128 ((const void *)(a + i)));
    simde__m256i y0 = simde_mm256_cvtepi8_epi16 (
        simde_mm_loadu_si128 ((const void *)(b + i)));
    simde__m256i x1 = simde_mm256_cvtepi8_epi16 (
        simde_mm_loadu_si128 ((const void *)(a + i + 16)));
    simde__m256i y1 = simde_mm256_cvtepi8_epi16 (
        simde_mm_loadu_si128 ((const void *)(b + i + 16)));
    s0 = simde_mm256_add_epi32 (s0, simde_mm256_madd_epi16 (x0, y0));
    s1 = simde_mm256_add_epi32 (s1, simde_mm256_madd_epi16 (x1, y1));
  }
  for (; i + 16 <= n; i += 16) {
    simde__m256i x0 = simde_mm256_cvtepi8_epi16 (
        simde_mm_loadu_si128 ((const void *)(a + i)));
    simde__m256i y0 = simde_mm256_cvtepi8_epi16 (
        simde_mm_loadu_si128 ((const void *)(b + i)));
    s0 = simde_mm256_add_epi32 (s0, simde_mm256_madd_epi16 (x0, y0));
  }
  simde_mm256_storeu_si256 ((void *)t, simde_mm256_add_epi32 (s0, s1));
  r = t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
  for (; i < n; i++)
    r += (int32_t)a[i] * b[i];
  return r;
}

/* as the SSE form, 32 bytes (64 components) a step */
static int32_t
dot_u4_avx2 (const uint8_t *codes, const int8_t *q, size_t nblocks)
{
  const simde__m256i mask = simde_mm256_set1_epi8 (0x0f);
  const simde__m256i ones = simde_mm256_set1_epi16 (1);
  simde__m256i s = simde_mm256_setzero_si256 ();
  int32_t t[8], r = 0;
  size_t b;
  int k, j;

  for (b = 0; b < nblocks; b++) {
    for (k = 0; k < 64; k += 32) {
      simde__m256i c
          = simde_mm256_loadu_si256 ((const void *)(codes + b * 64 + k));
      simde__m256i lo = simde_mm256_and_si256 (c, mask);
      simde__m256i hi
          = simde_mm256_and_si256 (simde_mm256_srli_epi16 (c, 4), mask);
      const int8_t *x = q + b * VSS_U4_BLOCK + k;
      simde__m256i p = simde_mm256_add_epi16 (
          simde_mm256_maddubs_epi16 (lo,
                                     simde_mm256_loadu_si256 ((const void *)x)),
          simde_mm256_maddubs_epi16 (
              hi, simde_mm256_loadu_si256 ((const void *)(x + 64))));
      s = simde_mm256_add_epi32 (s, simde_mm256_madd_epi16 (p, ones));
    }
  }
  simde_mm256_storeu_si256 ((void *)t, s);
  for (j = 0; j < 8; j++)
    r += t[j];
  return r;
}

const vss_kernels vss_kernels_avx2
    = { "avx2", dot_avx2, l2sq_avx2, dot_i8_avx2, dot_u4_avx2 };
