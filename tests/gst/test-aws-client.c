/* gst-vss: the one signed-request path (aws/gstvssawsclient.c) against the
 * Bedrock test server, which verifies every signature: retries of
 * throttled answers, the attempt and time bounds, Retry-After, clock-skew
 * correction, refusals, lost connections, cancellation.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <curl/curl.h>
#include <gio/gio.h>
#include "aws/gstvssawsclient.h"
#include "bedrock/gstvssbedrock.h"
#include "vss-test-bedrock.h"

#define AK "AKIDEXAMPLETESTKEY01"
#define SK "test/secret/key/for/the/local/server0"
#define MODEL GST_VSS_BEDROCK_IMAGE_MODEL

typedef struct
{
  VssTestBedrock *server;
  GstVssAwsClient *client;
} Fixture;

static void
control (Fixture * f, const gchar * json)
{
  vss_test_bedrock_control (f->server, json);
}

static GstVssAwsClient *
client_new (const gchar * endpoint, guint max_retries, guint retry_max_time_ms)
{
  GstVssAwsSettings s = { 0, };
  GstVssAwsClientOptions o = { 0, };
  GError *err = NULL;
  GstVssAwsClient *c;

  s.access_key_id = AK;
  s.secret_access_key = SK;
  s.region = "us-east-1";
  s.endpoint_url = endpoint;
  o.signing_name = "bedrock";
  o.service_env_id = "BEDROCK_RUNTIME";
  o.endpoint_prefix = "bedrock-runtime";
  o.protocol = GST_VSS_AWS_PROTOCOL_JSON;
  o.settings = &s;
  o.max_connections = 4;
  o.timeout_ms = 5000;
  o.max_retries = max_retries;
  o.retry_max_time_ms = retry_max_time_ms;
  c = gst_vss_aws_client_new (&o, &err);
  g_assert_no_error (err);
  return c;
}

static void
setup (Fixture * f, gconstpointer data)
{
  const gchar *args[] = { "--access-key=" AK, "--secret-key=" SK,
    "--region=us-east-1", NULL
  };
  GError *err = NULL;

  f->server = vss_test_bedrock_start (args, &err);
  g_assert_no_error (err);
  f->client = client_new (f->server->endpoint, 4, 0);
}

static void
teardown (Fixture * f, gconstpointer data)
{
  gst_vss_aws_client_free (f->client);
  vss_test_bedrock_stop (f->server);
}

/* One InvokeModel of a text, through the shared path. */
static GstVssAwsResponse *
invoke (GstVssAwsClient * c, const gchar * endpoint, const gchar * model)
{
  static const GstVssAwsHttpHeader hdrs[] = {
    {"Content-Type", "application/json"}, {"Accept", "application/json"},
  };
  GBytes *body = gst_vss_bedrock_text_body (MODEL, "a red car", 0);
  gchar *url = gst_vss_bedrock_invoke_url (endpoint, model);
  GstVssAwsRequest req = { "POST", url, hdrs, G_N_ELEMENTS (hdrs), body,
    GST_VSS_AWS_SIGV4_FLAG_NONE
  };
  GstVssAwsResponse *r = gst_vss_aws_client_send (c, &req);

  g_bytes_unref (body);
  g_free (url);
  return r;
}

static void
assert_embedding (const GstVssAwsResponse * r)
{
  gsize len;
  const gchar *b = g_bytes_get_data (r->body, &len);
  guint dim = 0;
  gfloat *v = gst_vss_bedrock_parse_embedding (b, len, 1024, &dim, NULL);

  g_assert_nonnull (v);
  g_assert_cmpuint (dim, ==, 1024);
  g_free (v);
}

static void
test_ok (Fixture * f, gconstpointer data)
{
  GstVssAwsResponse *r = invoke (f->client, f->server->endpoint, MODEL);
  GstVssAwsStats st;

  g_assert_cmpint (r->kind, ==, GST_VSS_AWS_RESPONSE_OK);
  g_assert_cmpint (r->status, ==, 200);
  g_assert_cmpuint (r->attempts, ==, 1);
  assert_embedding (r);
  gst_vss_aws_response_free (r);
  gst_vss_aws_client_get_stats (f->client, &st);
  g_assert_cmpuint (st.requests, ==, 1);
  g_assert_cmpuint (st.retries, ==, 0);
  g_assert_cmpuint (st.latency_count, ==, 1);
  g_assert_cmpuint (st.bytes_sent, >, 0);
}

/* Throttled twice, answered the third time. */
static void
test_retry_throttled (Fixture * f, gconstpointer data)
{
  GstVssAwsResponse *r;
  GstVssAwsStats st;

  control (f, "{\"throttle\":2}");
  r = invoke (f->client, f->server->endpoint, MODEL);
  g_assert_cmpint (r->kind, ==, GST_VSS_AWS_RESPONSE_OK);
  g_assert_cmpuint (r->attempts, ==, 3);
  assert_embedding (r);
  gst_vss_aws_response_free (r);
  gst_vss_aws_client_get_stats (f->client, &st);
  g_assert_cmpuint (st.requests, ==, 3);
  g_assert_cmpuint (st.retries, ==, 2);
  g_assert_cmpuint (st.throttles, ==, 2);
  g_assert_cmpuint (st.failures, ==, 0);
}

/* The attempt bound ends it, with the service's code and message. */
static void
test_attempt_bound (Fixture * f, gconstpointer data)
{
  GstVssAwsClient *c = client_new (f->server->endpoint, 1, 0);
  GstVssAwsResponse *r;
  GstVssAwsStats st;

  control (f, "{\"throttle\":5}");
  r = invoke (c, f->server->endpoint, MODEL);
  g_assert_cmpint (r->kind, ==, GST_VSS_AWS_RESPONSE_REFUSED);
  g_assert_cmpint (r->status, ==, 429);
  g_assert_cmpstr (r->code, ==, "ThrottlingException");
  g_assert_nonnull (strstr (r->message, "Too many requests"));
  g_assert_cmpuint (r->attempts, ==, 2);
  gst_vss_aws_response_free (r);
  gst_vss_aws_client_get_stats (c, &st);
  g_assert_cmpuint (st.failures, ==, 1);
  gst_vss_aws_client_free (c);
}

/* The service's Retry-After is waited for, not just the backoff (whose
 * first ceiling is 100 ms). */
static void
test_retry_after (Fixture * f, gconstpointer data)
{
  GstVssAwsResponse *r;
  gint64 t0;

  control (f, "{\"throttle\":1,\"retry_after_s\":1}");
  t0 = g_get_monotonic_time ();
  r = invoke (f->client, f->server->endpoint, MODEL);
  g_assert_cmpint (r->kind, ==, GST_VSS_AWS_RESPONSE_OK);
  g_assert_cmpuint (r->attempts, ==, 2);
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, 1000 * 1000);
  gst_vss_aws_response_free (r);
}

/* A retry that would start after retry-max-time is not made. */
static void
test_time_bound (Fixture * f, gconstpointer data)
{
  GstVssAwsClient *c = client_new (f->server->endpoint, 4, 500);
  GstVssAwsResponse *r;
  gint64 t0;

  control (f, "{\"throttle\":1,\"retry_after_s\":3}");
  t0 = g_get_monotonic_time ();
  r = invoke (c, f->server->endpoint, MODEL);
  g_assert_cmpint (r->kind, ==, GST_VSS_AWS_RESPONSE_REFUSED);
  g_assert_cmpuint (r->attempts, ==, 1);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 2500 * 1000);
  gst_vss_aws_response_free (r);
  gst_vss_aws_client_free (c);
}

/* The server's clock is an hour ahead: the first signature is refused,
 * its Date says by how much, the request is signed again on the server's
 * clock, and later requests are right the first time. */
static void
test_clock_skew (Fixture * f, gconstpointer data)
{
  GstVssAwsResponse *r;
  GstVssAwsStats st;

  control (f, "{\"clock_offset_s\":3600}");
  r = invoke (f->client, f->server->endpoint, MODEL);
  g_assert_cmpint (r->kind, ==, GST_VSS_AWS_RESPONSE_OK);
  g_assert_cmpuint (r->attempts, ==, 2);
  gst_vss_aws_response_free (r);
  gst_vss_aws_client_get_stats (f->client, &st);
  g_assert_cmpint (st.clock_skew_ms, >=, 3590 * 1000);
  g_assert_cmpint (st.clock_skew_ms, <=, 3610 * 1000);
  r = invoke (f->client, f->server->endpoint, MODEL);
  g_assert_cmpint (r->kind, ==, GST_VSS_AWS_RESPONSE_OK);
  g_assert_cmpuint (r->attempts, ==, 1);
  gst_vss_aws_response_free (r);

  /* The correction follows the server's clock back. */
  control (f, "{\"clock_offset_s\":0}");
  r = invoke (f->client, f->server->endpoint, MODEL);
  g_assert_cmpint (r->kind, ==, GST_VSS_AWS_RESPONSE_OK);
  g_assert_cmpuint (r->attempts, ==, 2);
  gst_vss_aws_response_free (r);
  gst_vss_aws_client_get_stats (f->client, &st);
  g_assert_cmpint (ABS (st.clock_skew_ms), <=, 10 * 1000);
}

/* A refused signature with a matching clock is a refusal: a wrong secret
 * is not retried in the hope of a better clock. */
static void
test_bad_secret (Fixture * f, gconstpointer data)
{
  GstVssAwsSettings s = { 0, };
  GstVssAwsClientOptions o = { 0, };
  GstVssAwsClient *c;
  GstVssAwsResponse *r;

  s.access_key_id = AK;
  s.secret_access_key = "not-the-secret";
  s.region = "us-east-1";
  s.endpoint_url = f->server->endpoint;
  o.signing_name = "bedrock";
  o.service_env_id = "BEDROCK_RUNTIME";
  o.endpoint_prefix = "bedrock-runtime";
  o.settings = &s;
  o.max_retries = 4;
  c = gst_vss_aws_client_new (&o, NULL);
  r = invoke (c, f->server->endpoint, MODEL);
  g_assert_cmpint (r->kind, ==, GST_VSS_AWS_RESPONSE_REFUSED);
  g_assert_cmpint (r->status, ==, 403);
  g_assert_cmpstr (r->code, ==, "InvalidSignatureException");
  g_assert_cmpuint (r->attempts, ==, 1);
  gst_vss_aws_response_free (r);
  gst_vss_aws_client_free (c);
}

/* Refusals are final at once. */
static void
test_refused (Fixture * f, gconstpointer data)
{
  GstVssAwsResponse *r = invoke (f->client, f->server->endpoint,
      "amazon.nope-v1");

  g_assert_cmpint (r->kind, ==, GST_VSS_AWS_RESPONSE_REFUSED);
  g_assert_cmpint (r->status, ==, 400);
  g_assert_cmpstr (r->code, ==, "ValidationException");
  g_assert_cmpstr (r->message, ==, "The provided model identifier is "
      "invalid.");
  g_assert_cmpuint (r->attempts, ==, 1);
  gst_vss_aws_response_free (r);
}

/* Nothing listening: a transport failure after every allowed attempt. */
static void
test_transport (Fixture * f, gconstpointer data)
{
  GSocketListener *l = g_socket_listener_new ();
  guint16 port = g_socket_listener_add_any_inet_port (l, NULL, NULL);
  gchar *endpoint;
  GstVssAwsClient *c;
  GstVssAwsResponse *r;

  /* A port that was free a moment ago and is closed again. */
  g_socket_listener_close (l);
  g_object_unref (l);
  endpoint = g_strdup_printf ("http://127.0.0.1:%u", port);
  c = client_new (endpoint, 2, 0);
  r = invoke (c, endpoint, MODEL);
  g_assert_cmpint (r->kind, ==, GST_VSS_AWS_RESPONSE_TRANSPORT);
  g_assert_cmpint (r->curl_code, ==, CURLE_COULDNT_CONNECT);
  g_assert_nonnull (r->transport_error);
  g_assert_cmpuint (r->attempts, ==, 3);
  gst_vss_aws_response_free (r);
  gst_vss_aws_client_free (c);
  g_free (endpoint);
}

static void
cancelled_cb (const GstVssAwsResponse * r, gpointer data)
{
  g_atomic_int_set ((gint *) data, r->kind == GST_VSS_AWS_RESPONSE_CANCELLED
      ? 1 : 2);
}

/* A request that hangs is cancelled at once. */
static void
test_cancel (Fixture * f, gconstpointer data)
{
  static const GstVssAwsHttpHeader hdrs[] = {
    {"Content-Type", "application/json"},
  };
  GBytes *body = gst_vss_bedrock_text_body (MODEL, "a red car", 0);
  gchar *url = gst_vss_bedrock_invoke_url (f->server->endpoint, MODEL);
  GstVssAwsRequest req = { "POST", url, hdrs, 1, body, 0 };
  gint outcome = 0;
  gint64 t0;

  control (f, "{\"hang\":1,\"hang_ms\":20000}");
  gst_vss_aws_client_send_async (f->client, &req, cancelled_cb, &outcome);
  g_usleep (200 * 1000);
  g_assert_cmpint (g_atomic_int_get (&outcome), ==, 0);
  t0 = g_get_monotonic_time ();
  gst_vss_aws_client_cancel_all (f->client);
  while (g_atomic_int_get (&outcome) == 0
      && g_get_monotonic_time () - t0 < 5 * G_USEC_PER_SEC)
    g_usleep (10 * 1000);
  g_assert_cmpint (g_atomic_int_get (&outcome), ==, 1);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 2 * G_USEC_PER_SEC);
  g_bytes_unref (body);
  g_free (url);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  curl_global_init (CURL_GLOBAL_DEFAULT);
#define ADD(path, fn) g_test_add ("/aws-client/" path, Fixture, NULL, setup, \
    fn, teardown)
  ADD ("ok", test_ok);
  ADD ("retry-throttled", test_retry_throttled);
  ADD ("attempt-bound", test_attempt_bound);
  ADD ("retry-after", test_retry_after);
  ADD ("time-bound", test_time_bound);
  ADD ("clock-skew", test_clock_skew);
  ADD ("bad-secret", test_bad_secret);
  ADD ("refused", test_refused);
  ADD ("transport", test_transport);
  ADD ("cancel", test_cancel);
  return g_test_run ();
}
