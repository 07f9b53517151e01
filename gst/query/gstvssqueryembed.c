/* gst-vss: embedding query texts and images with vssembed's providers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A query must land in the same vector space as the frames it is compared
 * with, so the embedder takes the same provider settings as vssembed:
 * the local provider decodes the image into a raw frame and runs the same
 * descriptor on it; Bedrock gets the image (scaled to its limits when
 * needed) or the text (`inputText`) with the frames' model and dimension.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gst/app/gstappsrc.h>
#include <gst/app/gstappsink.h>
#include <gst/video/video.h>
#include "gstvssqueryembed.h"
#include "gstvssqueryset.h"
#include "embed/gstvssembedlocal.h"
#include "bedrock/gstvssbedrock.h"
#include "bedrock/gstvssbedrockimage.h"

/* Query images larger than this are refused before decoding. */
#define MAX_IMAGE_FILE_BYTES (64 * 1024 * 1024)
#define DECODE_TIMEOUT_NS (20 * GST_SECOND)

struct _GstVssQueryEmbedder
{
  GstVssQueryProvider provider;
  GstVssEmbedLocalModel local_model;
  gchar *model;
  guint dim;
  GstVssBedrockClient *client;
};

/**
 * gst_vss_query_embedder_new:
 *
 * For Bedrock, checks the model and settings and resolves the credentials
 * now, so that a bad configuration fails here and not at the first query.
 */
GstVssQueryEmbedder *
gst_vss_query_embedder_new (const GstVssQueryEmbedderOptions * o,
    GError ** error)
{
  GstVssQueryEmbedder *e = g_new0 (GstVssQueryEmbedder, 1);

  e->provider = o->provider;
  if (o->provider == GST_VSS_QUERY_PROVIDER_LOCAL) {
    if (!gst_vss_embed_local_model_from_name (o->model, &e->local_model)) {
      g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_UNSUPPORTED,
          "the local provider has no model '%s' (it has %s, the default, "
          "and %s)", o->model, GST_VSS_EMBED_LOCAL_MODEL_V2,
          GST_VSS_EMBED_LOCAL_MODEL_V1);
      goto fail;
    }
    e->model = g_strdup (gst_vss_embed_local_model_name (e->local_model));
    e->dim = gst_vss_embed_local_model_dim (e->local_model);
  } else {
    GstVssBedrockOptions bo = { 0, };
    GstVssAwsCredentials *creds;

    e->model = g_strdup (o->model ? o->model : GST_VSS_BEDROCK_IMAGE_MODEL);
    if (!gst_vss_bedrock_check_model (e->model, o->dim, TRUE, error))
      goto fail;
    e->dim = o->dim ? o->dim : gst_vss_bedrock_model_default_dim (e->model);
    bo.aws = o->aws;
    bo.max_connections = 2;
    bo.timeout_ms = o->timeout_ms;
    bo.max_retries = o->max_retries;
    bo.retry_max_time_ms = o->retry_max_time_ms;
    e->client = gst_vss_bedrock_client_new (&bo, error);
    if (!e->client)
      goto fail;
    creds = gst_vss_bedrock_client_get_credentials (e->client, error);
    if (!creds)
      goto fail;
    gst_vss_aws_credentials_free (creds);
  }
  return e;

fail:
  gst_vss_query_embedder_free (e);
  return NULL;
}

void
gst_vss_query_embedder_free (GstVssQueryEmbedder * e)
{
  if (!e)
    return;
  if (e->client)
    gst_vss_bedrock_client_free (e->client);
  g_free (e->model);
  g_free (e);
}

/* The model name the frames' metas carry for this provider. */
const gchar *
gst_vss_query_embedder_get_model (GstVssQueryEmbedder * e)
{
  return e->model;
}

guint
gst_vss_query_embedder_get_dim (GstVssQueryEmbedder * e)
{
  return e->dim;
}

/**
 * gst_vss_query_embedder_embed_text:
 *
 * Returns: (transfer full): @dim floats, or NULL with @error; the local
 *   provider refuses text (%GST_VSS_QUERY_ERROR_UNSUPPORTED).
 */
gfloat *
gst_vss_query_embedder_embed_text (GstVssQueryEmbedder * e,
    const gchar * text, GError ** error)
{
  GError *err = NULL;
  gfloat *v;

  if (e->provider == GST_VSS_QUERY_PROVIDER_LOCAL) {
    g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_UNSUPPORTED,
        "the local provider (%s) embeds images only; text queries need "
        "provider=bedrock", e->model);
    return NULL;
  }
  v = gst_vss_bedrock_embed_text (e->client, e->model, text, e->dim, NULL,
      &err);
  if (!v) {
    g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_EMBED,
        "could not embed the text: %s", err->message);
    g_error_free (err);
  }
  return v;
}

/* Collects the first error message on the decoding pipeline's bus. */
static gchar *
bus_error (GstElement * pipeline)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  gchar *ret = NULL;

  if (m) {
    GError *err = NULL;

    gst_message_parse_error (m, &err, NULL);
    ret = g_strdup (err->message);
    g_error_free (err);
    gst_message_unref (m);
  }
  gst_object_unref (bus);
  return ret;
}

/**
 * gst_vss_query_image_decode:
 * @image: an encoded image (anything decodebin reads: JPEG, PNG, ...)
 * @format: raw format of the result, e.g. "I420" or "RGB"
 *
 * Decodes one image with a small private pipeline (appsrc ! decodebin !
 * videoconvert ! appsink).
 *
 * Returns: (transfer full): one raw frame with its caps, or NULL with
 *   @error.
 */
GstSample *
gst_vss_query_image_decode (GBytes * image, const gchar * format,
    GError ** error)
{
  GstElement *pipeline, *src, *sink;
  GstSample *sample = NULL;
  GError *err = NULL;
  gchar *desc, *msg;

  if (g_bytes_get_size (image) == 0) {
    g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_PARSE,
        "the image is empty");
    return NULL;
  }
  desc = g_strdup_printf ("appsrc name=src ! decodebin ! videoconvert ! "
      "video/x-raw,format=%s ! appsink name=sink sync=false max-buffers=1",
      format);
  pipeline = gst_parse_launch_full (desc, NULL, GST_PARSE_FLAG_FATAL_ERRORS,
      &err);
  g_free (desc);
  if (!pipeline) {
    g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_EMBED,
        "cannot build the image decoder (GStreamer base plugins "
        "missing?): %s", err->message);
    g_error_free (err);
    return NULL;
  }
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE)
    goto failed;
  gst_app_src_push_buffer (GST_APP_SRC (src),
      gst_buffer_new_wrapped_bytes (image));
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink),
      DECODE_TIMEOUT_NS);
  if (!sample)
    goto failed;

done:
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  return sample;

failed:
  msg = bus_error (pipeline);
  g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_PARSE,
      "the image cannot be decoded: %s", msg ? msg :
      "no picture came out of the decoder");
  g_free (msg);
  goto done;
}

static gfloat *
embed_local (GstVssQueryEmbedder * e, GBytes * image, GError ** error)
{
  GstSample *sample = gst_vss_query_image_decode (image, "I420", error);
  GstVideoInfo info;
  GstVideoFrame frame;
  gfloat *v = NULL;

  if (!sample)
    return NULL;
  if (!gst_video_info_from_caps (&info, gst_sample_get_caps (sample))
      || !gst_video_frame_map (&frame, &info, gst_sample_get_buffer (sample),
          GST_MAP_READ)) {
    g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_EMBED,
        "the decoded image cannot be read");
    gst_sample_unref (sample);
    return NULL;
  }
  v = g_new0 (gfloat, e->dim);
  if (!gst_vss_embed_local_model_frame (e->local_model, &frame, v)) {
    g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_EMBED,
        "the local embedding failed on the decoded image");
    g_clear_pointer (&v, g_free);
  }
  gst_video_frame_unmap (&frame);
  gst_sample_unref (sample);
  return v;
}

/**
 * gst_vss_query_embedder_embed_image:
 * @image: an encoded image (JPEG or PNG; the local provider also reads
 *   what decodebin can)
 *
 * Returns: (transfer full): @dim floats, or NULL with @error.
 */
gfloat *
gst_vss_query_embedder_embed_image (GstVssQueryEmbedder * e, GBytes * image,
    GError ** error)
{
  GError *err = NULL;
  GBytes *fit;
  gboolean reencoded;
  gfloat *v;
  const gchar *mime = NULL;
  guint w = 0, h = 0;
  gsize len;
  const guint8 *data = g_bytes_get_data (image, &len);

  if (len == 0) {
    g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_PARSE,
        "the image is empty");
    return NULL;
  }
  if (e->provider == GST_VSS_QUERY_PROVIDER_LOCAL)
    return embed_local (e, image, error);

  if (!gst_vss_bedrock_image_probe (data, len, &mime, &w, &h)) {
    g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_PARSE,
        "the image is neither JPEG nor PNG");
    return NULL;
  }
  fit = gst_vss_bedrock_image_fit (image, GST_VSS_BEDROCK_MAX_IMAGE_SIDE,
      GST_VSS_BEDROCK_MAX_IMAGE_BYTES, &reencoded, &err);
  if (!fit)
    goto embed_failed;
  v = gst_vss_bedrock_embed_image (e->client, e->model, fit, e->dim, NULL,
      &err);
  g_bytes_unref (fit);
  if (!v)
    goto embed_failed;
  return v;

embed_failed:
  g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_EMBED,
      "could not embed the image: %s", err->message);
  g_error_free (err);
  return NULL;
}

gfloat *
gst_vss_query_embedder_embed_file (GstVssQueryEmbedder * e,
    const gchar * path, GError ** error)
{
  GError *err = NULL;
  GMappedFile *f;
  GBytes *b;
  gfloat *v;
  gchar *msg;

  f = g_mapped_file_new (path, FALSE, &err);
  if (!f) {
    g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_PARSE,
        "cannot read the query image: %s", err->message);
    g_error_free (err);
    return NULL;
  }
  if (g_mapped_file_get_length (f) > MAX_IMAGE_FILE_BYTES) {
    g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_PARSE,
        "the query image %s is larger than %d MB", path,
        MAX_IMAGE_FILE_BYTES >> 20);
    g_mapped_file_unref (f);
    return NULL;
  }
  b = g_mapped_file_get_bytes (f);
  g_mapped_file_unref (f);
  v = gst_vss_query_embedder_embed_image (e, b, &err);
  g_bytes_unref (b);
  if (!v) {
    msg = g_strdup_printf ("%s: %s", path, err->message);
    g_set_error_literal (error, err->domain, err->code, msg);
    g_free (msg);
    g_error_free (err);
  }
  return v;
}
