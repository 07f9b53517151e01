/* gst-vss: dot product kernels (private)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AVX2_PATH 1
gfloat gst_vss_dot_f32_avx2 (const gfloat * a, const gfloat * b, guint n);
#endif
