/* gst-vss: dot products of float32 vectors (SIMD)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One row of a query matrix against one frame vector is the whole cost of a
 * standing query. The kernels are the index library's (index/, simde, picked
 * once at run time from the CPU's features: AVX-512, AVX2+FMA, SSE2/NEON or
 * scalar; VSS_INDEX_KERNEL overrides), so there is one set to test.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstvssquerydot.h"
#include "vss-index.h"

/**
 * gst_vss_query_dot_f32:
 *
 * Returns: the dot product of @a and @b (@n floats each, any alignment).
 */
gfloat
gst_vss_query_dot_f32 (const gfloat * a, const gfloat * b, guint n)
{
  return vss_dot_f32 (a, b, n);
}

/**
 * gst_vss_query_dot_f32_many:
 * @rows: @n_rows vectors, the i-th at @rows + i * @stride
 * @out: (out caller-allocates): @n_rows dot products with @v
 */
void
gst_vss_query_dot_f32_many (const gfloat * rows, guint n_rows, guint stride,
    const gfloat * v, guint n, gfloat * out)
{
  guint i;

  for (i = 0; i < n_rows; i++) {
    if (i + 1 < n_rows)
      __builtin_prefetch (rows + (gsize) (i + 1) * stride);
    out[i] = vss_dot_f32 (rows + (gsize) i * stride, v, n);
  }
}

/**
 * gst_vss_query_dot_f32_impl:
 *
 * Returns: the name of the kernel in use (for benchmarks and logs).
 */
const gchar *
gst_vss_query_dot_f32_impl (void)
{
  return vss_kernel_name ();
}
