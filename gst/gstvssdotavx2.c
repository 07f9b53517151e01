/* gst-vss: AVX2+FMA dot product, chosen at run time by gstvssdot.c
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Separate from gstvssdot.c because simde's and the compiler's intrinsics
 * headers cannot be mixed in one file.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstvssdotpriv.h"

#ifdef HAVE_AVX2_PATH
#include <immintrin.h>

__attribute__((target ("avx2,fma")))
gfloat
gst_vss_dot_f32_avx2 (const gfloat * a, const gfloat * b, guint n)
{
  __m256 s0 = _mm256_setzero_ps (), s1 = _mm256_setzero_ps ();
  __m256 s2 = _mm256_setzero_ps (), s3 = _mm256_setzero_ps ();
  __m128 lo;
  gfloat lanes[4], sum;
  guint i = 0;

  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_fmadd_ps (_mm256_loadu_ps (a + i), _mm256_loadu_ps (b + i),
        s0);
    s1 = _mm256_fmadd_ps (_mm256_loadu_ps (a + i + 8),
        _mm256_loadu_ps (b + i + 8), s1);
    s2 = _mm256_fmadd_ps (_mm256_loadu_ps (a + i + 16),
        _mm256_loadu_ps (b + i + 16), s2);
    s3 = _mm256_fmadd_ps (_mm256_loadu_ps (a + i + 24),
        _mm256_loadu_ps (b + i + 24), s3);
  }
  for (; i + 8 <= n; i += 8)
    s0 = _mm256_fmadd_ps (_mm256_loadu_ps (a + i), _mm256_loadu_ps (b + i),
        s0);
  s0 = _mm256_add_ps (_mm256_add_ps (s0, s1), _mm256_add_ps (s2, s3));
  lo = _mm_add_ps (_mm256_castps256_ps128 (s0), _mm256_extractf128_ps (s0, 1));
  _mm_storeu_ps (lanes, lo);
  sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; i < n; i++)
    sum += a[i] * b[i];
  return sum;
}
#endif
