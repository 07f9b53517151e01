/* libvssindex: AVX-512 (F + BW) kernels through simde (compiled with
 * -mavx512f -mavx512bw, run only when the CPU has both).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <simde/x86/avx512.h>

#include "vss-index-private.h"

/* (this simde has no _mm512_reduce_add_*) */
static inline float
hsum512 (simde__m512 v)
{
  float t[16], r = 0;
  int i;

  simde_mm512_storeu_ps (t, v);
  for (i = 0; i < 16; i++)
    r += t[i];
  return r;
}

static inline int32_t
hsum512i (simde__m512i v)
{
  int32_t t[16], r = 0;
  int i;

  simde_mm512_storeu_si512 ((void *)t, v);
  for (i = 0; i < 16; i++)
    r += t[i];
  return r;
}

float
vss_dot_f32_avx512 (const float *a, const float *b, size_t n)
{
  simde__m512 s0 = simde_mm512_setzero_ps (), s1 = simde_mm512_setzero_ps ();
  simde__m512 s2 = simde_mm512_setzero_ps (), s3 = simde_mm512_setzero_ps ();
  size_t i = 0;
  float r;

  for (; i + 64 <= n; i += 64) {
    s0 = simde_mm512_fmadd_ps (simde_mm512_loadu_ps (a + i),
                               simde_mm512_loadu_ps (b + i), s0);
    s1 = simde_mm512_fmadd_ps (simde_mm512_loadu_ps (a + i + 16),
                               simde_mm512_loadu_ps (b + i + 16), s1);
    s2 = simde_mm512_fmadd_ps (simde_mm512_loadu_ps (a + i + 32),
                               simde_mm512_loadu_ps (b + i + 32), s2);
    s3 = simde_mm512_fmadd_ps (simde_mm512_loadu_ps (a + i + 48),
                               simde_mm512_loadu_ps (b + i + 48), s3);
  }
  for (; i + 16 <= n; i += 16)
    s0 = simde_mm512_fmadd_ps (simde_mm512_loadu_ps (a + i),
                               simde_mm512_loadu_ps (b + i), s0);
  r = hsum512 (simde_mm512_add_ps (simde_mm512_add_ps (s0, s1),
                                   simde_mm512_add_ps (s2, s3)));
  for (; i < n; i++)
    r += a[i] * b[i];
  return r;
}

float
vss_l2sq_f32_avx512 (const float *a, const float *b, size_t n)
{
  simde__m512 s0 = simde_mm512_setzero_ps (), s1 = simde_mm512_setzero_ps ();
  size_t i = 0;
  float r;

  for (; i + 32 <= n; i += 32) {
    simde__m512 d0 = simde_mm512_sub_ps (simde_mm512_loadu_ps (a + i),
                                         simde_mm512_loadu_ps (b + i));
    simde__m512 d1 = simde_mm512_sub_ps (simde_mm512_loadu_ps (a + i + 16),
                                         simde_mm512_loadu_ps (b + i + 16));
    s0 = simde_mm512_fmadd_ps (d0, d0, s0);
    s1 = simde_mm512_fmadd_ps (d1, d1, s1);
  }
  for (; i + 16 <= n; i += 16) {
    simde__m512 d0 = simde_mm512_sub_ps (simde_mm512_loadu_ps (a + i),
                                         simde_mm512_loadu_ps (b + i));
    s0 = simde_mm512_fmadd_ps (d0, d0, s0);
  }
  r = hsum512 (simde_mm512_add_ps (s0, s1));
  for (; i < n; i++) {
    float d = a[i] - b[i];
    r += d * d;
  }
  return r;
}

static int32_t
dot_i8_avx512 (const int8_t *a, const int8_t *b, size_t n)
{
  simde__m512i s0 = simde_mm512_setzero_si512 ();
  simde__m512i s1 = simde_mm512_setzero_si512 ();
  size_t i = 0;
  int32_t r;

  for (; i + 64 <= n; i += 64) {
    simde__m512i x0 = simde_mm512_cvtepi8_epi16 (
        simde_mm256_loadu_si256 ((const void *)(a + i)));
    simde__m512i y0 = simde_mm512_cvtepi8_epi16 (
        simde_mm256_loadu_si256 ((const void *)(b + i)));
    simde__m512i x1 = simde_mm512_cvtepi8_epi16 (
        simde_mm256_loadu_si256 ((const void *)(a + i + 32)));
    simde__m512i y1 = simde_mm512_cvtepi8_epi16 (
        simde_mm256_loadu_si256 ((const void *)(b + i + 32)));
    s0 = simde_mm512_add_epi32 (s0, simde_mm512_madd_epi16 (x0, y0));
    s1 = simde_mm512_add_epi32 (s1, simde_mm512_madd_epi16 (x1, y1));
  }
  for (; i + 32 <= n; i += 32) {
    simde__m512i x0 = simde_mm512_cvtepi8_epi16 (
        simde_mm256_loadu_si256 ((const void *)(a + i)));
    simde__m512i y0 = simde_mm512_cvtepi8_epi16 (
        simde_mm256_loadu_si256 ((const void *)(b + i)));
    s0 = simde_mm512_add_epi32 (s0, simde_mm512_madd_epi16 (x0, y0));
  }
  r = hsum512i (simde_mm512_add_epi32 (s0, s1));
  for (; i < n; i++)
    r += (int32_t)a[i] * b[i];
  return r;
}

/* as the SSE form, a whole block (128 components) a step */
static int32_t
dot_u4_avx512 (const uint8_t *codes, const int8_t *q, size_t nblocks)
{
  const simde__m512i mask = simde_mm512_set1_epi8 (0x0f);
  const simde__m512i ones = simde_mm512_set1_epi16 (1);
  simde__m512i s = simde_mm512_setzero_si512 ();
  size_t b;

  for (b = 0; b < nblocks; b++) {
    simde__m512i c = simde_mm512_loadu_si512 ((const void *)(codes + b * 64));
    simde__m512i lo = simde_mm512_and_si512 (c, mask);
    simde__m512i hi
        = simde_mm512_and_si512 (simde_mm512_srli_epi16 (c, 4), mask);
    const int8_t *x = q + b * VSS_U4_BLOCK;
    simde__m512i p = simde_mm512_add_epi16 (
        simde_mm512_maddubs_epi16 (lo,
                                   simde_mm512_loadu_si512 ((const void *)x)),
        simde_mm512_maddubs_epi16 (
            hi, simde_mm512_loadu_si512 ((const void *)(x + 64))));
    s = simde_mm512_add_epi32 (s, simde_mm512_madd_epi16 (p, ones));
  }
  return hsum512i (s);
}

const vss_kernels vss_kernels_avx512
    = { "avx512", vss_dot_f32_avx512, vss_l2sq_f32_avx512, dot_i8_avx512,
        dot_u4_avx512 };
