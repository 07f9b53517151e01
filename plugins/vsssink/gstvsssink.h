/* gst-vss: vsssink element
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_VSS_SINK (gst_vss_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstVssSink, gst_vss_sink, GST, VSS_SINK, GstBaseSink);

#define GST_TYPE_VSS_SINK_CREATE_INDEX (gst_vss_sink_create_index_get_type ())
GType gst_vss_sink_create_index_get_type (void);

#define GST_TYPE_VSS_SINK_ALGORITHM (gst_vss_sink_algorithm_get_type ())
GType gst_vss_sink_algorithm_get_type (void);

typedef enum
{
  GST_VSS_SINK_CREATE_INDEX_AUTO,
  GST_VSS_SINK_CREATE_INDEX_NEVER,
} GstVssSinkCreateIndex;

typedef enum
{
  GST_VSS_SINK_ALGORITHM_HNSW,
  GST_VSS_SINK_ALGORITHM_FLAT,
} GstVssSinkAlgorithm;

GST_ELEMENT_REGISTER_DECLARE (vsssink);

G_END_DECLS
