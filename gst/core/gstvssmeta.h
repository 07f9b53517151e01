/* gst-vss: GstVssEmbeddingMeta
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include "gstvssframeid.h"

G_BEGIN_DECLS

#define GST_VSS_EMBEDDING_META_API_TYPE (gst_vss_embedding_meta_api_get_type ())
#define GST_VSS_EMBEDDING_META_INFO (gst_vss_embedding_meta_get_info ())

typedef struct _GstVssEmbeddingMeta GstVssEmbeddingMeta;

/**
 * GstVssEmbeddingMeta:
 * @meta: parent #GstMeta
 * @model: model name, e.g. "vss-local-v2" or "amazon.titan-embed-image-v1"
 * @dim: number of floats in @vector
 * @vector: (array length=dim): the embedding, float32, owned by the meta
 * @normalized: %TRUE when @vector has unit L2 norm
 * @frame_id: the frame's id (see gstvssframeid.h), "" when unknown
 *
 * One embedding of one frame. A buffer may carry several (one per model); find
 * one with gst_vss_buffer_get_embedding_meta(). The API is registered with no
 * tags, so the meta survives every GstBaseTransform and GstVideoEncoder.
 */
struct _GstVssEmbeddingMeta
{
  GstMeta meta;

  gchar *model;
  guint dim;
  gfloat *vector;
  gboolean normalized;
  gchar frame_id[GST_VSS_FRAME_ID_SIZE];
};

GType gst_vss_embedding_meta_api_get_type (void);
const GstMetaInfo *gst_vss_embedding_meta_get_info (void);

GstVssEmbeddingMeta *gst_vss_buffer_add_embedding_meta (GstBuffer * buffer,
    const gchar * model, const gfloat * vector, guint dim,
    gboolean normalized, const gchar * frame_id);

GstVssEmbeddingMeta *gst_vss_buffer_add_embedding_meta_take (GstBuffer * buffer,
    const gchar * model, gfloat * vector, guint dim,
    gboolean normalized, const gchar * frame_id);

GstVssEmbeddingMeta *gst_vss_buffer_get_embedding_meta (GstBuffer * buffer,
    const gchar * model);

guint gst_vss_buffer_n_embedding_metas (GstBuffer * buffer);

const gchar *gst_vss_buffer_get_frame_id (GstBuffer * buffer);

G_END_DECLS
