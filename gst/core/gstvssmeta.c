/* gst-vss: GstVssEmbeddingMeta
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include "gstvssmeta.h"

static gboolean
gst_vss_embedding_meta_init (GstMeta * meta, gpointer params,
    GstBuffer * buffer)
{
  GstVssEmbeddingMeta *emeta = (GstVssEmbeddingMeta *) meta;

  emeta->model = NULL;
  emeta->dim = 0;
  emeta->vector = NULL;
  emeta->normalized = FALSE;
  emeta->frame_id[0] = '\0';
  return TRUE;
}

static void
gst_vss_embedding_meta_free (GstMeta * meta, GstBuffer * buffer)
{
  GstVssEmbeddingMeta *emeta = (GstVssEmbeddingMeta *) meta;

  g_free (emeta->model);
  g_free (emeta->vector);
  emeta->model = NULL;
  emeta->vector = NULL;
}

/* The vector describes the frame, not its pixel layout, so every transform
 * (copy, scale, convert, encode) keeps it as is. */
static gboolean
gst_vss_embedding_meta_transform (GstBuffer * dest, GstMeta * meta,
    GstBuffer * buffer, GQuark type, gpointer data)
{
  GstVssEmbeddingMeta *emeta = (GstVssEmbeddingMeta *) meta;

  /* A region copy or a scaled copy of a frame is still the same frame. */
  return gst_vss_buffer_add_embedding_meta (dest, emeta->model,
      emeta->vector, emeta->dim, emeta->normalized, emeta->frame_id) != NULL;
}

GType
gst_vss_embedding_meta_api_get_type (void)
{
  static GType type = 0;
  static const gchar *tags[] = { NULL };

  if (g_once_init_enter (&type)) {
    GType _type = gst_meta_api_type_register ("GstVssEmbeddingMetaAPI", tags);
    g_once_init_leave (&type, _type);
  }
  return type;
}

const GstMetaInfo *
gst_vss_embedding_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter ((GstMetaInfo **) & info)) {
    const GstMetaInfo *mi = gst_meta_register (GST_VSS_EMBEDDING_META_API_TYPE,
        "GstVssEmbeddingMeta", sizeof (GstVssEmbeddingMeta),
        gst_vss_embedding_meta_init, gst_vss_embedding_meta_free,
        gst_vss_embedding_meta_transform);
    g_once_init_leave ((GstMetaInfo **) & info, (GstMetaInfo *) mi);
  }
  return info;
}

/**
 * gst_vss_buffer_add_embedding_meta_take:
 * @buffer: a writable #GstBuffer
 * @model: model name (not empty)
 * @vector: (transfer full): @dim floats allocated with g_malloc
 * @dim: number of floats (> 0)
 * @normalized: whether @vector has unit length
 * @frame_id: (nullable): the frame id, or %NULL
 *
 * Adds an embedding, replacing an existing one of the same @model so that a
 * buffer never carries two vectors of one model.
 *
 * Returns: (transfer none): the meta, or %NULL on invalid arguments (then
 * @vector is freed).
 */
GstVssEmbeddingMeta *
gst_vss_buffer_add_embedding_meta_take (GstBuffer * buffer,
    const gchar * model, gfloat * vector, guint dim, gboolean normalized,
    const gchar * frame_id)
{
  GstVssEmbeddingMeta *emeta;

  if (!GST_IS_BUFFER (buffer) || !gst_buffer_is_writable (buffer) ||
      model == NULL || model[0] == '\0' || vector == NULL || dim == 0) {
    g_free (vector);
    g_return_val_if_reached (NULL);
  }

  emeta = gst_vss_buffer_get_embedding_meta (buffer, model);
  if (emeta != NULL)
    gst_buffer_remove_meta (buffer, (GstMeta *) emeta);

  emeta = (GstVssEmbeddingMeta *) gst_buffer_add_meta (buffer,
      GST_VSS_EMBEDDING_META_INFO, NULL);
  if (emeta == NULL) {
    g_free (vector);
    return NULL;
  }
  emeta->model = g_strdup (model);
  emeta->dim = dim;
  emeta->vector = vector;
  emeta->normalized = normalized;
  if (frame_id != NULL)
    g_strlcpy (emeta->frame_id, frame_id, sizeof (emeta->frame_id));
  return emeta;
}

/**
 * gst_vss_buffer_add_embedding_meta:
 *
 * Like gst_vss_buffer_add_embedding_meta_take() but copies @vector.
 */
GstVssEmbeddingMeta *
gst_vss_buffer_add_embedding_meta (GstBuffer * buffer, const gchar * model,
    const gfloat * vector, guint dim, gboolean normalized,
    const gchar * frame_id)
{
  g_return_val_if_fail (vector != NULL && dim > 0, NULL);
  return gst_vss_buffer_add_embedding_meta_take (buffer, model,
      g_memdup2 (vector, (gsize) dim * sizeof (gfloat)), dim, normalized,
      frame_id);
}

/**
 * gst_vss_buffer_get_embedding_meta:
 * @buffer: a #GstBuffer
 * @model: (nullable): model name, or %NULL for the first embedding
 *
 * Returns: (transfer none) (nullable): the embedding of @model.
 */
GstVssEmbeddingMeta *
gst_vss_buffer_get_embedding_meta (GstBuffer * buffer, const gchar * model)
{
  gpointer state = NULL;
  GstMeta *meta;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);

  while ((meta = gst_buffer_iterate_meta_filtered (buffer, &state,
              GST_VSS_EMBEDDING_META_API_TYPE))) {
    GstVssEmbeddingMeta *emeta = (GstVssEmbeddingMeta *) meta;

    if (model == NULL || g_strcmp0 (emeta->model, model) == 0)
      return emeta;
  }
  return NULL;
}

guint
gst_vss_buffer_n_embedding_metas (GstBuffer * buffer)
{
  gpointer state = NULL;
  guint n = 0;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), 0);
  while (gst_buffer_iterate_meta_filtered (buffer, &state,
          GST_VSS_EMBEDDING_META_API_TYPE))
    n++;
  return n;
}

/**
 * gst_vss_buffer_get_frame_id:
 *
 * Returns: (transfer none) (nullable): the frame id carried by any embedding
 * meta of @buffer, or %NULL when the buffer has none.
 */
const gchar *
gst_vss_buffer_get_frame_id (GstBuffer * buffer)
{
  gpointer state = NULL;
  GstMeta *meta;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  while ((meta = gst_buffer_iterate_meta_filtered (buffer, &state,
              GST_VSS_EMBEDDING_META_API_TYPE))) {
    GstVssEmbeddingMeta *emeta = (GstVssEmbeddingMeta *) meta;

    if (emeta->frame_id[0] != '\0')
      return emeta->frame_id;
  }
  return NULL;
}
