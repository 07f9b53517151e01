/* gst-vss: Amazon Bedrock Titan embeddings: the pure parts (no I/O)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>
#include <curl/curl.h>
#include <jansson.h>
#include "gstvssbedrock.h"
#include "vss-index.h"

G_DEFINE_QUARK (gst - vss - bedrock - error - quark, gst_vss_bedrock_error);

/* Model ids may carry a version suffix ("...-v1:0"); the family decides the
 * request format. */
gboolean
gst_vss_bedrock_model_is_image (const gchar * model)
{
  return model && g_str_has_prefix (model, "amazon.titan-embed-image-v1");
}

gboolean
gst_vss_bedrock_model_is_text_v2 (const gchar * model)
{
  return model && g_str_has_prefix (model, "amazon.titan-embed-text-v2");
}

guint
gst_vss_bedrock_model_default_dim (const gchar * model)
{
  return 1024;
}

/**
 * gst_vss_bedrock_check_model:
 * @dim: requested output length, 0 for the model's default
 * @for_images: the input is an image (only the multimodal model takes one)
 */
gboolean
gst_vss_bedrock_check_model (const gchar * model, guint dim,
    gboolean for_images, GError ** error)
{
  if (gst_vss_bedrock_model_is_image (model)) {
    if (dim != 0 && dim != 256 && dim != 384 && dim != 1024)
      goto bad_dim;
    return TRUE;
  }
  if (gst_vss_bedrock_model_is_text_v2 (model)) {
    if (for_images) {
      g_set_error (error, GST_VSS_BEDROCK_ERROR, 0,
          "model '%s' embeds text only; frames need '%s' (Titan Multimodal "
          "Embeddings G1)", model, GST_VSS_BEDROCK_IMAGE_MODEL);
      return FALSE;
    }
    if (dim != 0 && dim != 256 && dim != 512 && dim != 1024)
      goto bad_dim;
    return TRUE;
  }
  g_set_error (error, GST_VSS_BEDROCK_ERROR, 0,
      "model '%s' is not supported: use '%s'%s", model ? model : "(none)",
      GST_VSS_BEDROCK_IMAGE_MODEL, for_images ? "" :
      " or '" GST_VSS_BEDROCK_TEXT_V2_MODEL "'");
  return FALSE;

bad_dim:
  g_set_error (error, GST_VSS_BEDROCK_ERROR, 0,
      "dimension %u is not offered by '%s' (%s)", dim, model,
      gst_vss_bedrock_model_is_image (model) ? "256, 384 or 1024" :
      "256, 512 or 1024");
  return FALSE;
}

static GBytes *
json_to_bytes (json_t * o)
{
  gchar *s = json_dumps (o, JSON_COMPACT);
  GBytes *b = g_bytes_new (s, strlen (s));

  free (s);
  json_decref (o);
  return b;
}

GBytes *
gst_vss_bedrock_image_body (const guint8 * image, gsize len, guint dim)
{
  gchar *b64 = g_base64_encode (image, len);
  GString *s = g_string_sized_new (strlen (b64) + 96);

  /* base64 needs no JSON escaping; skipping jansson avoids two more copies
   * of a body that can be 7 MB. */
  g_string_append (s, "{\"inputImage\":\"");
  g_string_append (s, b64);
  g_string_append_c (s, '"');
  if (dim)
    g_string_append_printf (s,
        ",\"embeddingConfig\":{\"outputEmbeddingLength\":%u}", dim);
  g_string_append_c (s, '}');
  g_free (b64);
  return g_string_free_to_bytes (s);
}

GBytes *
gst_vss_bedrock_text_body (const gchar * model, const gchar * text, guint dim)
{
  json_t *o = json_object ();

  json_object_set_new (o, "inputText", json_string (text));
  if (gst_vss_bedrock_model_is_text_v2 (model)) {
    if (dim)
      json_object_set_new (o, "dimensions", json_integer (dim));
    json_object_set_new (o, "normalize", json_true ());
  } else if (dim) {
    json_object_set_new (o, "embeddingConfig",
        json_pack ("{s:i}", "outputEmbeddingLength", (int) dim));
  }
  return json_to_bytes (o);
}

/**
 * gst_vss_bedrock_parse_embedding:
 * @expected_dim: required length, 0 for any
 *
 * Returns: (transfer full): the embedding scaled to unit length (Titan
 *   does not promise it), or NULL with @error for anything but an array of
 *   finite numbers of the expected length.
 */
gfloat *
gst_vss_bedrock_parse_embedding (const gchar * body, gsize len,
    guint expected_dim, guint * dim, GError ** error)
{
  json_error_t jerr;
  json_t *o, *e;
  gfloat *v = NULL;
  gdouble norm = 0;
  gsize i, n;

  o = json_loadb (body, len, 0, &jerr);
  if (!o) {
    g_set_error (error, GST_VSS_BEDROCK_ERROR, 0,
        "response is not JSON (%s at byte %d of %" G_GSIZE_FORMAT ")",
        jerr.text, jerr.position, len);
    return NULL;
  }
  e = json_object_get (o, "embedding");
  if (!json_is_array (e) || json_array_size (e) == 0) {
    g_set_error (error, GST_VSS_BEDROCK_ERROR, 0,
        "response has no \"embedding\" array");
    goto out;
  }
  n = json_array_size (e);
  if (expected_dim && n != expected_dim) {
    g_set_error (error, GST_VSS_BEDROCK_ERROR, 0,
        "embedding has %" G_GSIZE_FORMAT " values, expected %u", n,
        expected_dim);
    goto out;
  }
  v = g_new (gfloat, n);
  for (i = 0; i < n; i++) {
    json_t *x = json_array_get (e, i);
    gdouble d = json_number_value (x);

    if (!json_is_number (x) || !isfinite (d)) {
      g_set_error (error, GST_VSS_BEDROCK_ERROR, 0,
          "embedding value %" G_GSIZE_FORMAT " is not a finite number", i);
      g_clear_pointer (&v, g_free);
      goto out;
    }
    v[i] = (gfloat) d;
  }
  /* Titan does not promise unit length. */
  norm = vss_normalize_f32 (v, n);
  if (!(norm > 0) || !isfinite (norm)) {
    g_set_error (error, GST_VSS_BEDROCK_ERROR, 0, norm > 0 ?
        "embedding is too large to normalise" : "embedding is all zeros");
    g_clear_pointer (&v, g_free);
    goto out;
  }
  *dim = (guint) n;

out:
  json_decref (o);
  return v;
}

/* The model id is one path segment: its ':' (…-v2:0) is sent as "%3A",
 * as the AWS SDKs do; the signer then encodes it once more. */
gchar *
gst_vss_bedrock_invoke_url (const gchar * endpoint, const gchar * model_id)
{
  gchar *enc = g_uri_escape_string (model_id, NULL, FALSE);
  gchar *url = g_strdup_printf ("%s/model/%s/invoke", endpoint, enc);

  g_free (enc);
  return url;
}
