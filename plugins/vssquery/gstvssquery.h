/* gst-vss: vssquery
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_VSS_QUERY_PROVIDER (gst_vss_query_provider_get_type ())
GType gst_vss_query_provider_get_type (void);

#define GST_TYPE_VSS_QUERY (gst_vss_query_get_type ())
G_DECLARE_FINAL_TYPE (GstVssQuery, gst_vss_query, GST, VSS_QUERY,
    GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (vssquery);

G_END_DECLS
