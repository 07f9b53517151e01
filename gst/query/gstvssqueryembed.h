/* gst-vss: embedding query texts and images with vssembed's providers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include "../aws/gstvssawscred.h"

G_BEGIN_DECLS

/**
 * GstVssQueryProvider:
 * @GST_VSS_QUERY_PROVIDER_LOCAL: vss-local-v2 or v1, images only
 * @GST_VSS_QUERY_PROVIDER_BEDROCK: Titan Multimodal Embeddings, text
 *   (`inputText`) and images
 */
typedef enum
{
  GST_VSS_QUERY_PROVIDER_LOCAL = 0,
  GST_VSS_QUERY_PROVIDER_BEDROCK = 1,
} GstVssQueryProvider;

/**
 * GstVssQueryEmbedderOptions:
 * @model: Bedrock model (NULL: amazon.titan-embed-image-v1); ignored by
 *   the local provider
 * @dim: Bedrock output length (0: the model's default)
 * @aws: (nullable): region, endpoint, profile and keys, as vssembed's
 */
typedef struct
{
  GstVssQueryProvider provider;
  const gchar *model;
  guint dim;
  const GstVssAwsSettings *aws;
  guint timeout_ms;
  guint max_retries;
  guint retry_max_time_ms;
} GstVssQueryEmbedderOptions;

typedef struct _GstVssQueryEmbedder GstVssQueryEmbedder;

GstVssQueryEmbedder *gst_vss_query_embedder_new (const
    GstVssQueryEmbedderOptions * options, GError ** error);
void gst_vss_query_embedder_free (GstVssQueryEmbedder * embedder);

const gchar *gst_vss_query_embedder_get_model (GstVssQueryEmbedder *
    embedder);
guint gst_vss_query_embedder_get_dim (GstVssQueryEmbedder * embedder);

gfloat *gst_vss_query_embedder_embed_text (GstVssQueryEmbedder * embedder,
    const gchar * text, GError ** error);
gfloat *gst_vss_query_embedder_embed_image (GstVssQueryEmbedder * embedder,
    GBytes * image, GError ** error);
gfloat *gst_vss_query_embedder_embed_file (GstVssQueryEmbedder * embedder,
    const gchar * path, GError ** error);

GstSample *gst_vss_query_image_decode (GBytes * image, const gchar * format,
    GError ** error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstVssQueryEmbedder,
    gst_vss_query_embedder_free);

G_END_DECLS
