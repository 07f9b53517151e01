/* gst-vss: vssembed
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/**
 * GstVssEmbedProvider:
 * @GST_VSS_EMBED_PROVIDER_LOCAL: the built-in, model-free embedding
 *   ("vss-local-v2", or "vss-local-v1"): no network, deterministic, for
 *   near-duplicate detection
 * @GST_VSS_EMBED_PROVIDER_BEDROCK: Amazon Bedrock Titan Multimodal
 *   Embeddings, asynchronous, several requests in flight
 *
 * Where vssembed gets its embeddings from.
 */
typedef enum
{
  GST_VSS_EMBED_PROVIDER_LOCAL = 0,
  GST_VSS_EMBED_PROVIDER_BEDROCK = 1,
} GstVssEmbedProvider;

#define GST_TYPE_VSS_EMBED_PROVIDER (gst_vss_embed_provider_get_type ())
GType gst_vss_embed_provider_get_type (void);

/**
 * GstVssEmbedOnError:
 * @GST_VSS_EMBED_ON_ERROR_FAIL: post an element error and stop
 * @GST_VSS_EMBED_ON_ERROR_SKIP: pass the frame on without an embedding and
 *   post a warning
 * @GST_VSS_EMBED_ON_ERROR_DROP: drop the frame (counted in `stats`)
 *
 * What vssembed does with a frame whose embedding failed for good.
 */
typedef enum
{
  GST_VSS_EMBED_ON_ERROR_FAIL = 0,
  GST_VSS_EMBED_ON_ERROR_SKIP = 1,
  GST_VSS_EMBED_ON_ERROR_DROP = 2,
} GstVssEmbedOnError;

#define GST_TYPE_VSS_EMBED_ON_ERROR (gst_vss_embed_on_error_get_type ())
GType gst_vss_embed_on_error_get_type (void);

#define GST_TYPE_VSS_EMBED (gst_vss_embed_get_type ())
G_DECLARE_FINAL_TYPE (GstVssEmbed, gst_vss_embed, GST, VSS_EMBED,
    GstElement)

GST_ELEMENT_REGISTER_DECLARE (vssembed);

G_END_DECLS
