/* gst-vss: dot products of float32 vectors (SIMD)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gfloat gst_vss_query_dot_f32 (const gfloat * a, const gfloat * b, guint n);

void gst_vss_query_dot_f32_many (const gfloat * rows, guint n_rows, guint stride,
    const gfloat * v, guint n, gfloat * out);

const gchar *gst_vss_query_dot_f32_impl (void);

G_END_DECLS
