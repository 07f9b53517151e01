/* gst-vss: the pure parts of the Bedrock client (no server)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Retry classification, backoff bounds, error types, response parsing,
 * model rules, request bodies and image header probing.
 */
#include <math.h>
#include <string.h>
#include <curl/curl.h>
#include <jansson.h>
#include <gst/gst.h>
#include "bedrock/gstvssbedrock.h"
#include "core/gstvssbackoff.h"
#include "aws/gstvssawsclient.h"
#include "bedrock/gstvssbedrockimage.h"

static void
test_classify (void)
{
  static const struct
  {
    glong status;
    const gchar *type;
    gint curl;
    gboolean retry;
  } cases[] = {
    {429, "ThrottlingException", 0, TRUE},
    {429, NULL, 0, TRUE},
    {500, "InternalServerException", 0, TRUE},
    {503, "ServiceUnavailableException", 0, TRUE},
    {502, NULL, 0, TRUE},
    {408, "ModelTimeoutException", 0, TRUE},
    {400, "ModelNotReadyException", 0, TRUE},
    {400, "ValidationException", 0, FALSE},
    {403, "AccessDeniedException", 0, FALSE},
    {403, "InvalidSignatureException", 0, FALSE},
    {404, "ResourceNotFoundException", 0, FALSE},
    {424, "ModelErrorException", 0, FALSE},
    {0, NULL, CURLE_OPERATION_TIMEDOUT, TRUE},
    {0, NULL, CURLE_COULDNT_CONNECT, TRUE},
    {0, NULL, CURLE_GOT_NOTHING, TRUE},
    {200, NULL, CURLE_PARTIAL_FILE, FALSE},
    {0, NULL, CURLE_SSL_CACERT, FALSE},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    g_assert_cmpint (gst_vss_aws_is_retryable (cases[i].status,
            cases[i].type, cases[i].curl), ==, cases[i].retry);
  g_assert_true (gst_vss_aws_is_throttle (429, NULL));
  g_assert_true (gst_vss_aws_is_throttle (400, "ThrottlingException"));
  g_assert_false (gst_vss_aws_is_throttle (503, NULL));
}

/* How AWS error answers are read: JSON protocols (Bedrock, Rekognition)
 * and S3's XML. */
static void
test_error_type (void)
{
  gchar *c, *m;
  const gchar *json = "{\"message\":\"no access\"}";
  const gchar *json11 = "{\"__type\":\"com.amazonaws.rekognition#"
      "ThrottlingException\",\"Message\":\"slow down\"}";
  const gchar *xml = "<Error><Code>SlowDown</Code><Message>Reduce</Message>"
      "</Error>";

  g_assert_true (gst_vss_aws_parse_error (GST_VSS_AWS_PROTOCOL_JSON,
          "ThrottlingException:http://internal.amazon.com/coral/"
          "com.amazon.bedrock/", json, strlen (json), &c, &m));
  g_assert_cmpstr (c, ==, "ThrottlingException");
  g_assert_cmpstr (m, ==, "no access");
  g_free (c);
  g_free (m);
  g_assert_true (gst_vss_aws_parse_error (GST_VSS_AWS_PROTOCOL_JSON,
          "AccessDeniedException", NULL, 0, &c, &m));
  g_assert_cmpstr (c, ==, "AccessDeniedException");
  g_assert_null (m);
  g_free (c);
  /* No header: the body's __type names it. */
  g_assert_true (gst_vss_aws_parse_error (GST_VSS_AWS_PROTOCOL_JSON, NULL,
          json11, strlen (json11), &c, &m));
  g_assert_cmpstr (c, ==, "ThrottlingException");
  g_assert_cmpstr (m, ==, "slow down");
  g_free (c);
  g_free (m);
  g_assert_false (gst_vss_aws_parse_error (GST_VSS_AWS_PROTOCOL_JSON, "",
          "<html>", 6, &c, &m));
  g_assert_null (c);
  g_assert_null (m);
  g_assert_false (gst_vss_aws_parse_error (GST_VSS_AWS_PROTOCOL_JSON, NULL,
          NULL, 0, &c, &m));
  g_assert_true (gst_vss_aws_parse_error (GST_VSS_AWS_PROTOCOL_XML, NULL,
          xml, strlen (xml), &c, &m));
  g_assert_cmpstr (c, ==, "SlowDown");
  g_assert_cmpstr (m, ==, "Reduce");
  g_assert_true (gst_vss_aws_is_retryable (503, c, 0));
  g_assert_true (gst_vss_aws_is_throttle (503, c));
  g_free (c);
  g_free (m);
  g_assert_false (gst_vss_aws_is_retryable (403, "AccessDenied", 0));
  g_assert_false (gst_vss_aws_is_retryable (404, "NoSuchBucket", 0));
  g_assert_true (gst_vss_aws_is_clock_skew ("RequestTimeTooSkewed"));
  g_assert_true (gst_vss_aws_is_clock_skew ("InvalidSignatureException"));
  g_assert_false (gst_vss_aws_is_clock_skew ("AccessDeniedException"));
}

static void
test_backoff (void)
{
  static const GstVssBackoff full = { 100, 20000, GST_VSS_BACKOFF_JITTER_FULL };
  GRand *r = g_rand_new_with_seed (7);
  guint retry, i, max_seen = 0;

  for (retry = 0; retry < 20; retry++) {
    guint ceiling = MIN (20000, 100u << MIN (retry, 20));

    for (i = 0; i < 200; i++) {
      guint d = gst_vss_backoff_ms (&full, retry, r);

      g_assert_cmpuint (d, <=, ceiling);
      max_seen = MAX (max_seen, d);
    }
  }
  /* Full jitter reaches up to the cap, not just the base. */
  g_assert_cmpuint (max_seen, >, 10000);
  g_rand_free (r);
}

/* The other policies of the one backoff: equal jitter (reconnects, S3)
 * never waits less than half the ceiling; none waits the ceiling. */
static void
test_backoff_policies (void)
{
  static const GstVssBackoff equal =
      { 100, 2000, GST_VSS_BACKOFF_JITTER_EQUAL };
  static const GstVssBackoff none = { 100, 2000, GST_VSS_BACKOFF_JITTER_NONE };
  GRand *r = g_rand_new_with_seed (11);
  guint attempt, i;

  for (attempt = 0; attempt < 40; attempt++) {
    guint ceiling = MIN (2000, 100u << MIN (attempt, 20));

    g_assert_cmpuint (gst_vss_backoff_ms (&none, attempt, r), ==, ceiling);
    for (i = 0; i < 50; i++) {
      guint d = gst_vss_backoff_ms (&equal, attempt, i % 2 ? r : NULL);

      g_assert_cmpuint (d, >=, ceiling / 2);
      g_assert_cmpuint (d, <=, ceiling);
    }
  }
  g_rand_free (r);
}

static void
test_parse (void)
{
  const gchar *ok = "{\"embedding\":[3,4],\"inputTextTokenCount\":1}";
  const gchar *bad[] = {
    "{\"embedding\":[0.1,0.2,\"oops\",}", "{\"embedding\":[0.1,0.2",
    "{\"embedding\":[]}", "{\"embedding\":\"x\"}", "{}", "[]", "",
    "{\"embedding\":[0,0]}", "{\"embedding\":[1,\"2\"]}",
  };
  GError *err = NULL;
  gfloat *v;
  guint dim = 0, i;

  v = gst_vss_bedrock_parse_embedding (ok, strlen (ok), 2, &dim, &err);
  g_assert_nonnull (v);
  g_assert_cmpuint (dim, ==, 2);
  g_assert_cmpfloat_with_epsilon (v[0], 0.6, 1e-6);
  g_assert_cmpfloat_with_epsilon (v[1], 0.8, 1e-6);
  g_free (v);
  /* Wrong length. */
  g_assert_null (gst_vss_bedrock_parse_embedding (ok, strlen (ok), 3, &dim,
          &err));
  g_assert_nonnull (strstr (err->message, "expected 3"));
  g_clear_error (&err);
  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_assert_null (gst_vss_bedrock_parse_embedding (bad[i], strlen (bad[i]),
            0, &dim, &err));
    g_assert_nonnull (err);
    g_clear_error (&err);
  }
}

static void
test_models_and_bodies (void)
{
  GError *err = NULL;
  GBytes *b;
  json_t *o;
  static const guint8 img[] = { 0xff, 0xd8, 0xff, 0xe0 };

  g_assert_true (gst_vss_bedrock_check_model (GST_VSS_BEDROCK_IMAGE_MODEL, 0,
          TRUE, NULL));
  g_assert_true (gst_vss_bedrock_check_model (GST_VSS_BEDROCK_IMAGE_MODEL,
          384, TRUE, NULL));
  g_assert_false (gst_vss_bedrock_check_model (GST_VSS_BEDROCK_IMAGE_MODEL,
          512, TRUE, &err));
  g_clear_error (&err);
  g_assert_false (gst_vss_bedrock_check_model (GST_VSS_BEDROCK_TEXT_V2_MODEL,
          0, TRUE, &err));
  g_assert_nonnull (strstr (err->message, "text only"));
  g_clear_error (&err);
  g_assert_true (gst_vss_bedrock_check_model (GST_VSS_BEDROCK_TEXT_V2_MODEL,
          512, FALSE, NULL));
  g_assert_false (gst_vss_bedrock_check_model ("cohere.embed-english-v3", 0,
          FALSE, NULL));

  b = gst_vss_bedrock_image_body (img, sizeof (img), 256);
  o = json_loadb (g_bytes_get_data (b, NULL), g_bytes_get_size (b), 0, NULL);
  g_assert_cmpstr (json_string_value (json_object_get (o, "inputImage")), ==,
      "/9j/4A==");
  g_assert_cmpint (json_integer_value (json_object_get (json_object_get (o,
                  "embeddingConfig"), "outputEmbeddingLength")), ==, 256);
  json_decref (o);
  g_bytes_unref (b);

  b = gst_vss_bedrock_text_body (GST_VSS_BEDROCK_TEXT_V2_MODEL, "a \"car\"",
      512);
  o = json_loadb (g_bytes_get_data (b, NULL), g_bytes_get_size (b), 0, NULL);
  g_assert_cmpstr (json_string_value (json_object_get (o, "inputText")), ==,
      "a \"car\"");
  g_assert_cmpint (json_integer_value (json_object_get (o, "dimensions")), ==,
      512);
  g_assert_true (json_is_true (json_object_get (o, "normalize")));
  json_decref (o);
  g_bytes_unref (b);
}

static void
test_probe (void)
{
  /* SOI, APP0 (length 4), SOF0 for 300x200. */
  static const guint8 jpeg[] = { 0xff, 0xd8, 0xff, 0xe0, 0, 4, 0, 0, 0xff,
    0xc0, 0, 11, 8, 0, 200, 1, 44, 3, 1, 0x22, 0
  };
  static const guint8 png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
    0, 0, 0, 13, 'I', 'H', 'D', 'R', 0, 0, 0x0a, 0, 0, 0, 0x05, 0xa0
  };
  const gchar *mime;
  guint w, h;

  g_assert_true (gst_vss_bedrock_image_probe (jpeg, sizeof (jpeg), &mime, &w,
          &h));
  g_assert_cmpstr (mime, ==, "image/jpeg");
  g_assert_cmpuint (w, ==, 300);
  g_assert_cmpuint (h, ==, 200);
  g_assert_true (gst_vss_bedrock_image_probe (png, sizeof (png), &mime, &w,
          &h));
  g_assert_cmpstr (mime, ==, "image/png");
  g_assert_cmpuint (w, ==, 2560);
  g_assert_cmpuint (h, ==, 1440);
  /* Truncated or not an image. */
  g_assert_false (gst_vss_bedrock_image_probe (jpeg, 10, &mime, &w, &h));
  g_assert_false (gst_vss_bedrock_image_probe ((const guint8 *) "GIF89a", 6,
          &mime, &w, &h));
  g_assert_false (gst_vss_bedrock_image_probe (png, 20, &mime, &w, &h));
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/bedrock/classify", test_classify);
  g_test_add_func ("/bedrock/error-type", test_error_type);
  g_test_add_func ("/bedrock/backoff", test_backoff);
  g_test_add_func ("/bedrock/backoff-policies", test_backoff_policies);
  g_test_add_func ("/bedrock/parse", test_parse);
  g_test_add_func ("/bedrock/models-and-bodies", test_models_and_bodies);
  g_test_add_func ("/bedrock/probe", test_probe);
  return g_test_run ();
}
