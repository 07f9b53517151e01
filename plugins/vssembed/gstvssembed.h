/* gst-vss: vssembed
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

/**
 * GstVssEmbedProvider:
 * @GST_VSS_EMBED_PROVIDER_LOCAL: the built-in, model-free embedding
 *   ("vss-local-v1"): no network, deterministic, for near-duplicate detection
 *
 * Where vssembed gets its embeddings from.
 */
typedef enum
{
  GST_VSS_EMBED_PROVIDER_LOCAL = 0,
} GstVssEmbedProvider;

#define GST_TYPE_VSS_EMBED_PROVIDER (gst_vss_embed_provider_get_type ())
GType gst_vss_embed_provider_get_type (void);

#define GST_TYPE_VSS_EMBED (gst_vss_embed_get_type ())
G_DECLARE_FINAL_TYPE (GstVssEmbed, gst_vss_embed, GST, VSS_EMBED,
    GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (vssembed);

G_END_DECLS
