/* gst-vss: dot products of float32 vectors (SIMD)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One row of a query matrix against one frame vector is the whole cost of a
 * standing query, so the kernel matters: simde SSE (native on x86-64 and
 * translated to NEON on ARM) everywhere, and AVX2+FMA where the CPU has it,
 * chosen once at first use. Four independent accumulators hide the add
 * latency.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <simde/x86/sse.h>
#include "gstvssdot.h"

#include "gstvssdotpriv.h"

typedef gfloat (*DotFunc) (const gfloat * a, const gfloat * b, guint n);

static gfloat
dot_sse (const gfloat * a, const gfloat * b, guint n)
{
  simde__m128 s0 = simde_mm_setzero_ps (), s1 = simde_mm_setzero_ps ();
  simde__m128 s2 = simde_mm_setzero_ps (), s3 = simde_mm_setzero_ps ();
  gfloat lanes[4], sum;
  guint i = 0;

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
  s0 = simde_mm_add_ps (simde_mm_add_ps (s0, s1), simde_mm_add_ps (s2, s3));
  simde_mm_storeu_ps (lanes, s0);
  sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; i < n; i++)
    sum += a[i] * b[i];
  return sum;
}


static DotFunc
choose (const gchar ** name)
{
#ifdef HAVE_AVX2_PATH
  __builtin_cpu_init ();
  if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma")
      && g_getenv ("VSS_DOT_NO_AVX2") == NULL) {
    *name = "avx2-fma";
    return gst_vss_dot_f32_avx2;
  }
#endif
  *name = "simde-sse";
  return dot_sse;
}

static DotFunc dot_impl;
static const gchar *dot_name;

static DotFunc
get_impl (void)
{
  static gsize once = 0;

  if (g_once_init_enter (&once)) {
    dot_impl = choose (&dot_name);
    g_once_init_leave (&once, 1);
  }
  return dot_impl;
}

/**
 * gst_vss_dot_f32:
 *
 * Returns: the dot product of @a and @b (@n floats each, any alignment).
 */
gfloat
gst_vss_dot_f32 (const gfloat * a, const gfloat * b, guint n)
{
  return get_impl () (a, b, n);
}

/**
 * gst_vss_dot_f32_many:
 * @rows: @n_rows vectors, the i-th at @rows + i * @stride
 * @out: (out caller-allocates): @n_rows dot products with @v
 */
void
gst_vss_dot_f32_many (const gfloat * rows, guint n_rows, guint stride,
    const gfloat * v, guint n, gfloat * out)
{
  DotFunc f = get_impl ();
  guint i;

  for (i = 0; i < n_rows; i++)
    out[i] = f (rows + (gsize) i * stride, v, n);
}

/* Which kernel runs ("avx2-fma" or "simde-sse"), for benchmarks. */
const gchar *
gst_vss_dot_f32_impl (void)
{
  get_impl ();
  return dot_name;
}
