/* libvssindex: AVX-512 VNNI int8 dot product through simde (compiled with
 * -mavx512vnni, run only when the CPU has it); the f32 kernels are the
 * AVX-512 ones.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * vpdpbusd multiplies unsigned by signed bytes. For two signed vectors,
 * a . b = |a| . (b with the sign of a): |a| fits a u8 and b is negated where
 * a < 0, which is exact because quantized components stay in [-127, 127].
 * Four operations per 64 components instead of the eight of the widening
 * form, so the graph walk spends its time waiting for memory, not adding.
 */
#include <simde/x86/avx512.h>

#include "vss-index-private.h"

static inline simde__m512i
step (simde__m512i acc, const int8_t *a, const int8_t *b)
{
  simde__m512i x = simde_mm512_loadu_si512 ((const void *)a);
  simde__m512i y = simde_mm512_loadu_si512 ((const void *)b);
  simde__mmask64 neg = simde_mm512_movepi8_mask (x);

  y = simde_mm512_mask_sub_epi8 (y, neg, simde_mm512_setzero_si512 (), y);
  return simde_mm512_dpbusd_epi32 (acc, simde_mm512_abs_epi8 (x), y);
}

static int32_t
dot_i8_vnni (const int8_t *a, const int8_t *b, size_t n)
{
  simde__m512i s0 = simde_mm512_setzero_si512 ();
  simde__m512i s1 = simde_mm512_setzero_si512 ();
  int32_t t[16], r = 0;
  size_t i = 0;
  int j;

  for (; i + 128 <= n; i += 128) {
    s0 = step (s0, a + i, b + i);
    s1 = step (s1, a + i + 64, b + i + 64);
  }
  for (; i + 64 <= n; i += 64)
    s0 = step (s0, a + i, b + i);
  simde_mm512_storeu_si512 ((void *)t, simde_mm512_add_epi32 (s0, s1));
  for (j = 0; j < 16; j++)
    r += t[j];
  for (; i < n; i++)
    r += (int32_t)a[i] * b[i];
  return r;
}

/* Nibbles are unsigned already: one vpdpbusd per 64 components. */
static int32_t
dot_u4_vnni (const uint8_t *codes, const int8_t *q, size_t nblocks)
{
  const simde__m512i mask = simde_mm512_set1_epi8 (0x0f);
  simde__m512i s0 = simde_mm512_setzero_si512 ();
  simde__m512i s1 = simde_mm512_setzero_si512 ();
  int32_t t[16], r = 0;
  size_t b;
  int j;

  for (b = 0; b < nblocks; b++) {
    simde__m512i c = simde_mm512_loadu_si512 ((const void *)(codes + b * 64));
    const int8_t *x = q + b * VSS_U4_BLOCK;
    s0 = simde_mm512_dpbusd_epi32 (s0, simde_mm512_and_si512 (c, mask),
                                   simde_mm512_loadu_si512 ((const void *)x));
    s1 = simde_mm512_dpbusd_epi32 (
        s1, simde_mm512_and_si512 (simde_mm512_srli_epi16 (c, 4), mask),
        simde_mm512_loadu_si512 ((const void *)(x + 64)));
  }
  simde_mm512_storeu_si512 ((void *)t, simde_mm512_add_epi32 (s0, s1));
  for (j = 0; j < 16; j++)
    r += t[j];
  return r;
}

const vss_kernels vss_kernels_avx512vnni
    = { "avx512vnni", vss_dot_f32_avx512, vss_l2sq_f32_avx512, dot_i8_vnni,
        dot_u4_vnni };
