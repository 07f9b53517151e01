/* libvssindex: 128-bit kernels through simde (SSE2 on x86-64, NEON on ARM).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <simde/x86/ssse3.h>

#include "vss-index-private.h"

static inline float
hsum128 (simde__m128 v)
{
  float t[4];
  simde_mm_storeu_ps (t, v);
  return (t[0] + t[1]) + (t[2] + t[3]);
}

static float
dot_simd (const float *a, const float *b, size_t n)
{
  simde__m128 s0 = simde_mm_setzero_ps (), s1 = simde_mm_setzero_ps ();
  simde__m128 s2 = simde_mm_setzero_ps (), s3 = simde_mm_setzero_ps ();
  size_t i = 0;
  float r;

  for (; i + 16 <= n; i += 16) {
    s0 = simde_mm_add_ps (s0, simde_mm_mul_ps (simde_mm_loadu_ps (a + i),
                                               simde_mm_loadu_ps (b + i)));
    s1 = simde_mm_add_ps (s1, simde_mm_mul_ps (simde_mm_loadu_ps (a + i + 4),
                                               simde_mm_loadu_ps (b + i + 4)));
    s2 = simde_mm_add_ps (s2, simde_mm_mul_ps (simde_mm_loadu_ps (a + i + 8),
                                               simde_mm_loadu_ps (b + i + 8)));
    s3 = simde_mm_add_ps (s3, simde_mm_mul_ps (simde_mm_loadu_ps (a + i + 12),
                                               simde_mm_loadu_ps (b + i + 12)));
  }
  for (; i + 4 <= n; i += 4)
    s0 = simde_mm_add_ps (s0, simde_mm_mul_ps (simde_mm_loadu_ps (a + i),
                                               simde_mm_loadu_ps (b + i)));
  r = hsum128 (
      simde_mm_add_ps (simde_mm_add_ps (s0, s1), simde_mm_add_ps (s2, s3)));
  for (; i < n; i++)
    r += a[i] * b[i];
  return r;
}

static float
l2sq_simd (const float *a, const float *b, size_t n)
{
  simde__m128 s0 = simde_mm_setzero_ps (), s1 = simde_mm_setzero_ps ();
  size_t i = 0;
  float r;

  for (; i + 8 <= n; i += 8) {
    simde__m128 d0 = simde_mm_sub_ps (simde_mm_loadu_ps (a + i),
                                      simde_mm_loadu_ps (b + i));
    simde__m128 d1 = simde_mm_sub_ps (simde_mm_loadu_ps (a + i + 4),
                                      simde_mm_loadu_ps (b + i + 4));
    s0 = simde_mm_add_ps (s0, simde_mm_mul_ps (d0, d0));
    s1 = simde_mm_add_ps (s1, simde_mm_mul_ps (d1, d1));
  }
  for (; i + 4 <= n; i += 4) {
    simde__m128 d0 = simde_mm_sub_ps (simde_mm_loadu_ps (a + i),
                                      simde_mm_loadu_ps (b + i));
    s0 = simde_mm_add_ps (s0, simde_mm_mul_ps (d0, d0));
  }
  r = hsum128 (simde_mm_add_ps (s0, s1));
  for (; i < n; i++) {
    float d = a[i] - b[i];
    r += d * d;
  }
  return r;
}

static int32_t
dot_i8_simd (const int8_t *a, const int8_t *b, size_t n)
{
  simde__m128i s = simde_mm_setzero_si128 ();
  int32_t t[4], r;
  size_t i = 0;

  for (; i + 16 <= n; i += 16) {
    simde__m128i x = simde_mm_loadu_si128 ((const void *)(a + i));
    simde__m128i y = simde_mm_loadu_si128 ((const void *)(b + i));
    /* sign-extend bytes to words: unpack with itself, shift right by 8 */
    simde__m128i xl = simde_mm_srai_epi16 (simde_mm_unpacklo_epi8 (x, x), 8);
    simde__m128i xh = simde_mm_srai_epi16 (simde_mm_unpackhi_epi8 (x, x), 8);
    simde__m128i yl = simde_mm_srai_epi16 (simde_mm_unpacklo_epi8 (y, y), 8);
    simde__m128i yh = simde_mm_srai_epi16 (simde_mm_unpackhi_epi8 (y, y), 8);
    s = simde_mm_add_epi32 (s, simde_mm_madd_epi16 (xl, yl));
    s = simde_mm_add_epi32 (s, simde_mm_madd_epi16 (xh, yh));
  }
  simde_mm_storeu_si128 ((void *)t, s);
  r = t[0] + t[1] + t[2] + t[3];
  for (; i < n; i++)
    r += (int32_t)a[i] * b[i];
  return r;
}

/* nibbles times query bytes: pmaddubsw (u8 x s8, pairs summed to s16, at
 * most 2 * 15 * 127: no saturation), then pmaddwd by ones to s32 */
static int32_t
dot_u4_simd (const uint8_t *codes, const int8_t *q, size_t nblocks)
{
  const simde__m128i mask = simde_mm_set1_epi8 (0x0f);
  const simde__m128i ones = simde_mm_set1_epi16 (1);
  simde__m128i s = simde_mm_setzero_si128 ();
  int32_t t[4];
  size_t b;
  int k;

  for (b = 0; b < nblocks; b++) {
    for (k = 0; k < 64; k += 16) {
      simde__m128i c = simde_mm_loadu_si128 ((const void *)(codes + b * 64 + k));
      simde__m128i lo = simde_mm_and_si128 (c, mask);
      simde__m128i hi = simde_mm_and_si128 (simde_mm_srli_epi16 (c, 4), mask);
      const int8_t *x = q + b * VSS_U4_BLOCK + k;
      simde__m128i p = simde_mm_add_epi16 (
          simde_mm_maddubs_epi16 (lo, simde_mm_loadu_si128 ((const void *)x)),
          simde_mm_maddubs_epi16 (hi,
                                  simde_mm_loadu_si128 ((const void *)(x + 64))));
      s = simde_mm_add_epi32 (s, simde_mm_madd_epi16 (p, ones));
    }
  }
  simde_mm_storeu_si128 ((void *)t, s);
  return t[0] + t[1] + t[2] + t[3];
}

const vss_kernels vss_kernels_simd
    = { "sse2", dot_simd, l2sq_simd, dot_i8_simd, dot_u4_simd };
