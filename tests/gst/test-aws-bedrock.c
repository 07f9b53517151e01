/* gst-vss: cross-check of the SigV4 signer against the Bedrock test server
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Usage: test-aws-bedrock <path to vss-bedrock-server>
 *
 * The server verifies signatures with its own code (OpenSSL), so a request
 * passes only when both implementations agree. Also checks the server's
 * embeddings, fault injection and concurrency, which later tests and the
 * benchmark rely on.
 */
#include <string.h>
#include <math.h>
#include <signal.h>
#include <curl/curl.h>
#include <jansson.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include "aws/gstvssaws.h"
#include "bedrock/gstvssbedrock.h"

#define AK "AKIDVSSTEST000000001"
#define SK "vss/test+Secret/Key0123456789abcdefghijk"
#define TOKEN "FwoGZXIvYXdzEPT//////////wEaDvss+test/token=="
#define REGION "eu-west-1"
#define IMAGE_MODEL "amazon.titan-embed-image-v1"
#define TEXT_MODEL "amazon.titan-embed-text-v2:0"

static const gchar *server_path;

typedef struct
{
  GSubprocess *proc;
  guint port;
  gchar *endpoint;
} Server;

static Server *
server_start (const gchar * first_arg, ...)
{
  Server *s = g_new0 (Server, 1);
  GPtrArray *argv = g_ptr_array_new ();
  GError *err = NULL;
  GDataInputStream *out;
  gchar *line;
  const gchar *a;
  va_list ap;

  g_ptr_array_add (argv, (gpointer) server_path);
  g_ptr_array_add (argv, (gpointer) "--access-key=" AK);
  g_ptr_array_add (argv, (gpointer) "--secret-key=" SK);
  g_ptr_array_add (argv, (gpointer) "--region=" REGION);
  va_start (ap, first_arg);
  for (a = first_arg; a; a = va_arg (ap, const gchar *))
      g_ptr_array_add (argv, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);

  /* stdin is a pipe: if this test dies, the server sees EOF and exits. */
  s->proc = g_subprocess_newv ((const gchar * const *) argv->pdata,
      G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &err);
  g_ptr_array_free (argv, TRUE);
  if (!s->proc)
    g_error ("cannot start %s: %s", server_path, err->message);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (s->proc));
  line = g_data_input_stream_read_line (out, NULL, NULL, &err);
  g_object_unref (out);
  if (!line || sscanf (line, "PORT %u", &s->port) != 1)
    g_error ("%s did not report its port (got \"%s\")", server_path,
        line ? line : "EOF");
  g_free (line);
  s->endpoint = g_strdup_printf ("http://127.0.0.1:%u", s->port);
  return s;
}

static void
server_stop (Server * s)
{
  g_subprocess_send_signal (s->proc, SIGTERM);
  g_assert_true (g_subprocess_wait (s->proc, NULL, NULL));
  g_assert_true (g_subprocess_get_if_exited (s->proc));
  g_assert_cmpint (g_subprocess_get_exit_status (s->proc), ==, 0);
  g_object_unref (s->proc);
  g_free (s->endpoint);
  g_free (s);
}

typedef struct
{
  CURL *h;
  struct curl_slist *list;
  GString *body;
  gchar *error_type;
  gchar *send_body;
  glong status;
  CURLcode rc;
} Call;

static gsize
body_cb (gchar * d, gsize size, gsize n, gpointer user)
{
  g_string_append_len (((Call *) user)->body, d, size * n);
  return size * n;
}

static gsize
header_cb (gchar * d, gsize size, gsize n, gpointer user)
{
  Call *c = user;

  if (g_ascii_strncasecmp (d, "x-amzn-ErrorType:", 17) == 0) {
    g_free (c->error_type);
    c->error_type = g_strstrip (g_strndup (d + 17, size * n - 17));
  }
  return size * n;
}

/* Builds (does not run) a signed request. sign_body may differ from
 * send_body to tamper; sign_secret may differ from SK. */
static Call *
call_new (const gchar * method, const gchar * url, const gchar * service,
    GstVssAwsSigV4Flags flags, const gchar * token, const gchar * secret,
    const gchar * sign_body, const gchar * send_body, gboolean unsigned_payload)
{
  GstVssAwsCredentials creds = { 0, };
  GstVssAwsHttpHeader ct = { "Content-Type", "application/json" };
  GPtrArray *headers = NULL;
  GError *err = NULL;
  Call *c = g_new0 (Call, 1);
  guint i;

  creds.access_key_id = (gchar *) AK;
  creds.secret_access_key = (gchar *) (secret ? secret : SK);
  creds.session_token = (gchar *) token;
  if (!gst_vss_aws_sign_request (&creds, REGION, service, method, url, &ct, 1,
          (const guint8 *) sign_body, unsigned_payload ? G_MAXSIZE :
          strlen (sign_body), flags, g_get_real_time () / G_USEC_PER_SEC,
          &headers, &err))
    g_error ("signing failed: %s", err->message);

  c->h = curl_easy_init ();
  c->body = g_string_new (NULL);
  c->send_body = g_strdup (send_body);
  c->list = curl_slist_append (c->list, "Content-Type: application/json");
  c->list = curl_slist_append (c->list, "Accept: application/json");
  c->list = curl_slist_append (c->list, "Expect:");
  for (i = 0; i < headers->len; i++)
    c->list = curl_slist_append (c->list, headers->pdata[i]);
  g_ptr_array_free (headers, TRUE);
  curl_easy_setopt (c->h, CURLOPT_URL, url);
  curl_easy_setopt (c->h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (c->h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt (c->h, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt (c->h, CURLOPT_POSTFIELDS, c->send_body);
  curl_easy_setopt (c->h, CURLOPT_POSTFIELDSIZE, (long) strlen (send_body));
  curl_easy_setopt (c->h, CURLOPT_HTTPHEADER, c->list);
  curl_easy_setopt (c->h, CURLOPT_WRITEFUNCTION, body_cb);
  curl_easy_setopt (c->h, CURLOPT_WRITEDATA, c);
  curl_easy_setopt (c->h, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt (c->h, CURLOPT_HEADERDATA, c);
  curl_easy_setopt (c->h, CURLOPT_TIMEOUT_MS, 20000L);
  return c;
}

static void
call_run (Call * c)
{
  c->rc = curl_easy_perform (c->h);
  curl_easy_getinfo (c->h, CURLINFO_RESPONSE_CODE, &c->status);
  if (c->status != 200)
    g_test_message ("HTTP %ld %s: %s", c->status, c->error_type, c->body->str);
}

static void
call_free (Call * c)
{
  curl_easy_cleanup (c->h);
  curl_slist_free_all (c->list);
  g_string_free (c->body, TRUE);
  g_free (c->error_type);
  g_free (c->send_body);
  g_free (c);
}

static Call *
invoke (Server * s, const gchar * model, const gchar * body,
    const gchar * token)
{
  gchar *url = gst_vss_bedrock_invoke_url (s->endpoint, model);
  Call *c =
      call_new ("POST", url, "bedrock", GST_VSS_AWS_SIGV4_FLAG_NONE, token,
      NULL, body, body, FALSE);

  call_run (c);
  g_free (url);
  return c;
}

/* Parses {"embedding": [...]} and returns the vector (length in *dim). */
static gfloat *
embedding_of (Call * c, guint * dim)
{
  json_t *o = json_loads (c->body->str, 0, NULL);
  json_t *e = o ? json_object_get (o, "embedding") : NULL;
  gfloat *v;
  gsize i;

  g_assert_nonnull (e);
  g_assert_true (json_is_array (e));
  *dim = json_array_size (e);
  v = g_new (gfloat, *dim);
  for (i = 0; i < *dim; i++)
    v[i] = (gfloat) json_number_value (json_array_get (e, i));
  json_decref (o);
  return v;
}

static gdouble
norm (const gfloat * v, guint n)
{
  gdouble s = 0;
  guint i;

  for (i = 0; i < n; i++)
    s += (gdouble) v[i] * v[i];
  return sqrt (s);
}

static json_t *
get_json (Server * s, const gchar * method, const gchar * path,
    const gchar * body)
{
  CURL *h = curl_easy_init ();
  gchar *url = g_strconcat (s->endpoint, path, NULL);
  Call c = { 0, };
  json_t *o;

  c.body = g_string_new (NULL);
  curl_easy_setopt (h, CURLOPT_URL, url);
  curl_easy_setopt (h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, body_cb);
  curl_easy_setopt (h, CURLOPT_WRITEDATA, &c);
  if (body)
    curl_easy_setopt (h, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt (h, CURLOPT_CUSTOMREQUEST, method);
  g_assert_cmpint (curl_easy_perform (h), ==, CURLE_OK);
  curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &c.status);
  g_assert_cmpint (c.status, ==, 200);
  o = json_loads (c.body->str, 0, NULL);
  g_assert_nonnull (o);
  curl_easy_cleanup (h);
  g_string_free (c.body, TRUE);
  g_free (url);
  return o;
}

static void
control (Server * s, const gchar * json)
{
  json_decref (get_json (s, "POST", "/_control", json));
}

static json_int_t
stat_value (Server * s, const gchar * key)
{
  json_t *o = get_json (s, "GET", "/_stats", NULL);
  json_int_t v = json_integer_value (json_object_get (o, key));

  json_decref (o);
  return v;
}

static void
test_signed_models (void)
{
  Server *s = server_start (NULL);
  gchar *url;
  Call *c;
  gfloat *v;
  guint dim;

  c = invoke (s, IMAGE_MODEL, "{\"inputText\":\"a red car\"}", NULL);
  g_assert_cmpint (c->rc, ==, CURLE_OK);
  g_assert_cmpint (c->status, ==, 200);
  v = embedding_of (c, &dim);
  g_assert_cmpuint (dim, ==, 1024);
  g_assert_cmpfloat_with_epsilon (norm (v, dim), 1.0, 1e-4);
  g_free (v);
  call_free (c);

  /* ':' sent as %3A (the SDKs' way) ... */
  c = invoke (s, TEXT_MODEL, "{\"inputText\":\"caption\",\"dimensions\":256,"
      "\"normalize\":false}", NULL);
  g_assert_cmpint (c->status, ==, 200);
  v = embedding_of (c, &dim);
  g_assert_cmpuint (dim, ==, 256);
  g_assert_cmpfloat (fabs (norm (v, dim) - 1.0), >, 0.5);
  g_free (v);
  call_free (c);

  /* ... and raw on the wire: both encode twice in the canonical URI. */
  url = g_strdup_printf ("%s/model/%s/invoke", s->endpoint, TEXT_MODEL);
  c = call_new ("POST", url, "bedrock", GST_VSS_AWS_SIGV4_FLAG_NONE, NULL, NULL,
      "{\"inputText\":\"x\"}", "{\"inputText\":\"x\"}", FALSE);
  call_run (c);
  g_assert_cmpint (c->status, ==, 200);
  call_free (c);
  g_free (url);

  /* Unknown model and bad input are ValidationException, signed or not. */
  c = invoke (s, "amazon.nope-v9", "{}", NULL);
  g_assert_cmpint (c->status, ==, 400);
  g_assert_cmpstr (c->error_type, ==, "ValidationException");
  call_free (c);
  c = invoke (s, IMAGE_MODEL, "{\"embeddingConfig\":{}}", NULL);
  g_assert_cmpint (c->status, ==, 400);
  call_free (c);
  c = invoke (s, TEXT_MODEL, "{\"inputText\":\"x\",\"dimensions\":300}", NULL);
  g_assert_cmpint (c->status, ==, 400);
  call_free (c);

  g_assert_cmpint (stat_value (s, "auth_failures"), ==, 0);
  server_stop (s);
}

static void
test_rejections (void)
{
  Server *s = server_start (NULL);
  gchar *url = gst_vss_bedrock_invoke_url (s->endpoint, IMAGE_MODEL);
  const gchar *body = "{\"inputText\":\"x\"}";
  struct curl_slist *l;
  Call *c;

  /* Tampered signature: flip the last hex digit. */
  c = call_new ("POST", url, "bedrock", 0, NULL, NULL, body, body, FALSE);
  for (l = c->list; l; l = l->next) {
    if (g_str_has_prefix (l->data, "Authorization:")) {
      gchar *last = l->data + strlen (l->data) - 1;

      *last = *last == '0' ? '1' : '0';
    }
  }
  call_run (c);
  g_assert_cmpint (c->status, ==, 403);
  g_assert_cmpstr (c->error_type, ==, "InvalidSignatureException");
  g_assert_nonnull (strstr (c->body->str, "\"message\""));
  call_free (c);

  /* Wrong secret. */
  c = call_new ("POST", url, "bedrock", 0, NULL, "not-the-secret", body, body,
      FALSE);
  call_run (c);
  g_assert_cmpint (c->status, ==, 403);
  call_free (c);

  /* Body changed after signing. */
  c = call_new ("POST", url, "bedrock", 0, NULL, NULL, body,
      "{\"inputText\":\"y\"}", FALSE);
  call_run (c);
  g_assert_cmpint (c->status, ==, 403);
  call_free (c);

  /* Wrong signing name (the host's label instead of "bedrock"). */
  c = call_new ("POST", url, "bedrock-runtime", 0, NULL, NULL, body, body,
      FALSE);
  call_run (c);
  g_assert_cmpint (c->status, ==, 403);
  call_free (c);

  /* A token the server does not expect. */
  c = call_new ("POST", url, "bedrock", 0, TOKEN, NULL, body, body, FALSE);
  call_run (c);
  g_assert_cmpint (c->status, ==, 403);
  call_free (c);

  g_assert_cmpint (stat_value (s, "auth_failures"), ==, 5);
  g_assert_cmpint (stat_value (s, "ok"), ==, 0);
  g_free (url);
  server_stop (s);
}

static void
test_session_token (void)
{
  Server *s = server_start ("--session-token=" TOKEN, NULL);
  Call *c;

  c = invoke (s, TEXT_MODEL, "{\"inputText\":\"with token\"}", TOKEN);
  g_assert_cmpint (c->status, ==, 200);
  call_free (c);
  c = invoke (s, TEXT_MODEL, "{\"inputText\":\"without\"}", NULL);
  g_assert_cmpint (c->status, ==, 403);
  call_free (c);
  server_stop (s);
}

static void
test_s3_rules (void)
{
  Server *s = server_start (NULL);
  gchar *url = g_strdup_printf ("%s/bucket/cam%%201/2026/frame%%3A1.jpg",
      s->endpoint);
  GstVssAwsSigV4Flags f = GST_VSS_AWS_SIGV4_FLAG_S3 |
      GST_VSS_AWS_SIGV4_FLAG_CONTENT_SHA256;
  Call *c;

  c = call_new ("PUT", url, "s3", f, TOKEN, NULL, "jpegbytes", "jpegbytes",
      FALSE);
  call_run (c);
  g_assert_cmpint (c->status, ==, 403); /* token not expected here */
  call_free (c);
  c = call_new ("PUT", url, "s3", f, NULL, NULL, "jpegbytes", "jpegbytes",
      FALSE);
  call_run (c);
  g_assert_cmpint (c->status, ==, 200);
  call_free (c);
  c = call_new ("PUT", url, "s3", f, NULL, NULL, "", "jpegbytes", TRUE);
  call_run (c);
  g_assert_cmpint (c->status, ==, 200);
  call_free (c);
  /* Non-S3 rules (double encoding) do not verify as S3. */
  c = call_new ("PUT", url, "s3", GST_VSS_AWS_SIGV4_FLAG_CONTENT_SHA256, NULL,
      NULL, "jpegbytes", "jpegbytes", FALSE);
  call_run (c);
  g_assert_cmpint (c->status, ==, 403);
  call_free (c);
  /* Payload hash that does not match the body. */
  c = call_new ("PUT", url, "s3", f, NULL, NULL, "other", "jpegbytes", FALSE);
  call_run (c);
  g_assert_cmpint (c->status, ==, 400);
  call_free (c);
  g_assert_cmpint (stat_value (s, "s3_puts"), ==, 2);
  g_free (url);
  server_stop (s);
}

/* Presigned PUT (query signing, S3 rules, UNSIGNED-PAYLOAD), sent with
 * curl; returns the HTTP status. */
static glong
presigned_put (Server * s, const gchar * path, gint64 when, gint64 expires,
    gboolean tamper)
{
  gchar *host = g_strdup_printf ("127.0.0.1:%u", s->port);
  GstVssAwsHttpHeader h = { "Host", host };
  GstVssAwsSigV4Request r = { 0, };
  GstVssAwsSigV4Params p = { 0, };
  GstVssAwsSigV4Result res;
  GError *err = NULL;
  gchar *url;
  Call *c = g_new0 (Call, 1);
  glong status;

  r.method = "PUT";
  r.path = path;
  r.query = "x-id=PutObject";
  r.headers = &h;
  r.n_headers = 1;
  r.payload_hash = GST_VSS_AWS_SIGV4_UNSIGNED_PAYLOAD;
  p.access_key_id = AK;
  p.secret_access_key = SK;
  p.region = REGION;
  p.service = "s3";
  p.time = when;
  p.expires = expires;
  p.flags = GST_VSS_AWS_SIGV4_FLAG_S3;
  if (!gst_vss_aws_sigv4_presign (&r, &p, &res, &err))
    g_error ("presign failed: %s", err->message);
  url = g_strdup_printf ("%s%s?%s", s->endpoint, path, res.query);
  if (tamper)
    url[strlen (url) - 1] = url[strlen (url) - 1] == '0' ? '1' : '0';
  gst_vss_aws_sigv4_result_clear (&res);

  c->h = curl_easy_init ();
  c->body = g_string_new (NULL);
  curl_easy_setopt (c->h, CURLOPT_URL, url);
  curl_easy_setopt (c->h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt (c->h, CURLOPT_CUSTOMREQUEST, "PUT");
  curl_easy_setopt (c->h, CURLOPT_POSTFIELDS, "object bytes");
  curl_easy_setopt (c->h, CURLOPT_WRITEFUNCTION, body_cb);
  curl_easy_setopt (c->h, CURLOPT_WRITEDATA, c);
  call_run (c);
  status = c->status;
  call_free (c);
  g_free (url);
  g_free (host);
  return status;
}

static void
test_presigned (void)
{
  Server *s = server_start (NULL);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  g_assert_cmpint (presigned_put (s, "/bucket/cam%201/f%3A1.jpg", now, 300,
          FALSE), ==, 200);
  g_assert_cmpint (presigned_put (s, "/bucket/k.jpg", now, 300, TRUE), ==, 403);
  /* Signed an hour ago, valid for a minute. */
  g_assert_cmpint (presigned_put (s, "/bucket/k.jpg", now - 3600, 60, FALSE),
      ==, 403);
  g_assert_cmpint (stat_value (s, "s3_puts"), ==, 1);
  server_stop (s);
}

static const guint8 fake_jpeg[] = { 0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F',
  'I', 'F', 0, 1, 2, 3, 4, 5, 6, 7, 0xff, 0xd9
};

static void
test_image_text_mapping (void)
{
  Server *s = server_start (NULL);
  gchar *b64 = g_base64_encode (fake_jpeg, sizeof (fake_jpeg));
  gchar *sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, fake_jpeg,
      sizeof (fake_jpeg));
  gchar *body, *ctl;
  gfloat *vi, *vt, *vm, *vo;
  guint di, dt, dm, dother, i;
  gdouble dot = 0;
  Call *c;

  body = g_strdup_printf ("{\"inputImage\":\"%s\",\"embeddingConfig\":"
      "{\"outputEmbeddingLength\":384}}", b64);
  c = invoke (s, IMAGE_MODEL, body, NULL);
  g_assert_cmpint (c->status, ==, 200);
  vi = embedding_of (c, &di);
  call_free (c);
  g_free (body);

  body = g_strdup_printf ("{\"inputText\":\"image:%s\",\"embeddingConfig\":"
      "{\"outputEmbeddingLength\":384}}", sha);
  c = invoke (s, IMAGE_MODEL, body, NULL);
  g_assert_cmpint (c->status, ==, 200);
  vt = embedding_of (c, &dt);
  call_free (c);
  g_free (body);

  ctl = g_strdup_printf ("{\"map\":{\"a red car\":\"%s\"}}", sha);
  control (s, ctl);
  g_free (ctl);
  c = invoke (s, IMAGE_MODEL, "{\"inputText\":\"a red car\","
      "\"embeddingConfig\":{\"outputEmbeddingLength\":384}}", NULL);
  vm = embedding_of (c, &dm);
  call_free (c);
  c = invoke (s, IMAGE_MODEL, "{\"inputText\":\"a blue boat\","
      "\"embeddingConfig\":{\"outputEmbeddingLength\":384}}", NULL);
  vo = embedding_of (c, &dother);
  call_free (c);

  g_assert_cmpuint (di, ==, 384);
  g_assert_cmpuint (dt, ==, 384);
  g_assert_cmpuint (dm, ==, 384);
  for (i = 0; i < 384; i++) {
    g_assert_cmpfloat (vi[i], ==, vt[i]);
    g_assert_cmpfloat (vi[i], ==, vm[i]);
    dot += (gdouble) vi[i] * vo[i];
  }
  /* An unrelated text is far away (random unit vectors in 384-d). */
  g_assert_cmpfloat (fabs (dot), <, 0.3);

  /* Not an image. */
  c = invoke (s, IMAGE_MODEL, "{\"inputImage\":\"aGVsbG8=\"}", NULL);
  g_assert_cmpint (c->status, ==, 400);
  call_free (c);

  server_stop (s);

  /* The same mapping from a --text-map file (image path relative to it). */
  {
    gchar *dir = g_dir_make_tmp ("vss-bedrock-map-XXXXXX", NULL);
    gchar *img = g_build_filename (dir, "car.jpg", NULL);
    gchar *map = g_build_filename (dir, "map.json", NULL);
    gchar *arg = g_strconcat ("--text-map=", map, NULL);

    g_assert_true (g_file_set_contents (img, (const gchar *) fake_jpeg,
            sizeof (fake_jpeg), NULL));
    g_assert_true (g_file_set_contents (map, "{\"a green bus\": \"car.jpg\"}",
            -1, NULL));
    s = server_start (arg, NULL);
    c = invoke (s, IMAGE_MODEL, "{\"inputText\":\"a green bus\","
        "\"embeddingConfig\":{\"outputEmbeddingLength\":384}}", NULL);
    g_assert_cmpint (c->status, ==, 200);
    g_free (vm);
    vm = embedding_of (c, &dm);
    call_free (c);
    g_assert_cmpuint (dm, ==, 384);
    for (i = 0; i < 384; i++)
      g_assert_cmpfloat (vi[i], ==, vm[i]);
    server_stop (s);
    g_unlink (img);
    g_unlink (map);
    g_rmdir (dir);
    g_free (arg);
    g_free (map);
    g_free (img);
    g_free (dir);
  }

  g_free (vi);
  g_free (vt);
  g_free (vm);
  g_free (vo);
  g_free (b64);
  g_free (sha);
}

static void
test_faults (void)
{
  Server *s = server_start ("--throttle=2", NULL);
  const gchar *body = "{\"inputText\":\"fault\"}";
  gchar *url;
  gint64 t0;
  gfloat *v;
  guint dim;
  json_t *o;
  Call *c;

  c = invoke (s, TEXT_MODEL, body, NULL);
  g_assert_cmpint (c->status, ==, 429);
  g_assert_cmpstr (c->error_type, ==, "ThrottlingException");
  call_free (c);
  c = invoke (s, TEXT_MODEL, body, NULL);
  g_assert_cmpint (c->status, ==, 429);
  call_free (c);
  c = invoke (s, TEXT_MODEL, body, NULL);
  g_assert_cmpint (c->status, ==, 200);
  call_free (c);

  control (s, "{\"error_5xx\":1,\"error_status\":503}");
  c = invoke (s, TEXT_MODEL, body, NULL);
  g_assert_cmpint (c->status, ==, 503);
  g_assert_cmpstr (c->error_type, ==, "ServiceUnavailableException");
  call_free (c);

  control (s, "{\"malformed\":1}");
  c = invoke (s, TEXT_MODEL, body, NULL);
  g_assert_cmpint (c->status, ==, 200);
  o = json_loads (c->body->str, 0, NULL);
  g_assert_null (o);
  call_free (c);

  control (s, "{\"truncate\":1}");
  c = invoke (s, TEXT_MODEL, body, NULL);
  g_assert_cmpint (c->rc, ==, CURLE_PARTIAL_FILE);
  call_free (c);

  control (s, "{\"wrong_length\":1}");
  c = invoke (s, TEXT_MODEL, "{\"inputText\":\"w\",\"dimensions\":512}", NULL);
  g_assert_cmpint (c->status, ==, 200);
  v = embedding_of (c, &dim);
  g_assert_cmpuint (dim, ==, 511);
  g_free (v);
  call_free (c);

  /* A hang is seen by the client as its own timeout. */
  control (s, "{\"hang\":1,\"hang_ms\":3000}");
  url = gst_vss_bedrock_invoke_url (s->endpoint, TEXT_MODEL);
  c = call_new ("POST", url, "bedrock", 0, NULL, NULL, body, body, FALSE);
  curl_easy_setopt (c->h, CURLOPT_TIMEOUT_MS, 300L);
  call_run (c);
  g_assert_cmpint (c->rc, ==, CURLE_OPERATION_TIMEDOUT);
  call_free (c);
  g_free (url);

  control (s, "{\"latency_ms\":150}");
  t0 = g_get_monotonic_time ();
  c = invoke (s, TEXT_MODEL, body, NULL);
  g_assert_cmpint (c->status, ==, 200);
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, 150000);
  call_free (c);

  control (s, "{\"throttle\":1,\"error_type_suffix\":true}");
  c = invoke (s, TEXT_MODEL, body, NULL);
  g_assert_cmpint (c->status, ==, 429);
  g_assert_true (g_str_has_prefix (c->error_type, "ThrottlingException:"));
  call_free (c);
  control (s, "{\"error_type_suffix\":false}");

  /* reset returns to the command line (--throttle=2), so clear that. */
  control (s, "{\"reset\":true,\"throttle\":0,\"error_rate\":1.0}");
  c = invoke (s, TEXT_MODEL, body, NULL);
  g_assert_cmpint (c->status, ==, 500);
  g_assert_cmpstr (c->error_type, ==, "InternalServerException");
  call_free (c);

  o = get_json (s, "GET", "/_stats", NULL);
  g_assert_cmpint (json_integer_value (json_object_get (o, "throttled")), ==,
      3);
  g_assert_cmpint (json_integer_value (json_object_get (o, "errors_5xx")), ==,
      2);
  g_assert_cmpint (json_integer_value (json_object_get (o, "malformed")), ==,
      1);
  g_assert_cmpint (json_integer_value (json_object_get (o, "truncated")), ==,
      1);
  g_assert_cmpint (json_integer_value (json_object_get (o, "hung")), ==, 1);
  g_assert_cmpint (json_integer_value (json_object_get (o, "wrong_length")),
      ==, 1);
  json_decref (o);

  /* Bad control input is refused, not applied. */
  {
    CURL *h = curl_easy_init ();
    gchar *cu = g_strconcat (s->endpoint, "/_control", NULL);
    glong st = 0;

    curl_easy_setopt (h, CURLOPT_URL, cu);
    curl_easy_setopt (h, CURLOPT_POSTFIELDS, "{\"throttle\":\"lots\"}");
    curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, body_cb);
    c = g_new0 (Call, 1);
    c->body = g_string_new (NULL);
    curl_easy_setopt (h, CURLOPT_WRITEDATA, c);
    curl_easy_perform (h);
    curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &st);
    g_assert_cmpint (st, ==, 400);
    curl_easy_cleanup (h);
    g_string_free (c->body, TRUE);
    g_free (c);
    g_free (cu);
  }
  server_stop (s);
}

#define N_PARALLEL 64

static void
test_concurrency (void)
{
  Server *s = server_start ("--latency-ms=100", NULL);
  gchar *url = gst_vss_bedrock_invoke_url (s->endpoint, IMAGE_MODEL);
  CURLM *m = curl_multi_init ();
  Call *calls[N_PARALLEL];
  gint64 t0, elapsed;
  gint running = 1, round, i;

  curl_multi_setopt (m, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
  t0 = g_get_monotonic_time ();
  for (round = 0; round < 2; round++) {
    for (i = 0; i < N_PARALLEL; i++) {
      gchar *b = g_strdup_printf ("{\"inputText\":\"frame %d\"}", i);

      calls[i] = call_new ("POST", url, "bedrock", 0, NULL, NULL, b, b, FALSE);
      curl_multi_add_handle (m, calls[i]->h);
      g_free (b);
    }
    running = 1;
    while (running) {
      curl_multi_perform (m, &running);
      if (running)
        curl_multi_poll (m, NULL, 0, 100, NULL);
    }
    for (i = 0; i < N_PARALLEL; i++) {
      curl_easy_getinfo (calls[i]->h, CURLINFO_RESPONSE_CODE,
          &calls[i]->status);
      g_assert_cmpint (calls[i]->status, ==, 200);
      curl_multi_remove_handle (m, calls[i]->h);
      call_free (calls[i]);
    }
  }
  elapsed = g_get_monotonic_time () - t0;
  /* Serially this is 12.8 s; in parallel about 0.2 s plus overheads. */
  g_assert_cmpint (elapsed, <, 4 * G_USEC_PER_SEC);
  g_assert_cmpint (stat_value (s, "max_in_flight"), >=, N_PARALLEL / 2);
  g_assert_cmpint (stat_value (s, "ok"), ==, 2 * N_PARALLEL);
  g_test_message ("%d requests at 100 ms latency, %d in flight: %.3f s",
      2 * N_PARALLEL, N_PARALLEL, elapsed / 1e6);
  curl_multi_cleanup (m);
  g_free (url);
  server_stop (s);
}

static void
wait_done (GObject * proc, GAsyncResult * res, gpointer done)
{
  g_subprocess_wait_finish (G_SUBPROCESS (proc), res, NULL);
  *(gboolean *) done = TRUE;
}

/* The parent's lifeline: closing the server's stdin stops it. */
static void
test_stdin_close (void)
{
  Server *s = server_start (NULL);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  gboolean done = FALSE;

  g_assert_true (g_output_stream_close (g_subprocess_get_stdin_pipe
          (s->proc), NULL, NULL));
  g_subprocess_wait_async (s->proc, NULL, wait_done, &done);
  while (!done && g_get_monotonic_time () < deadline) {
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (10000);
  }
  if (!done) {
    g_subprocess_force_exit (s->proc);
    g_error ("the server did not exit when its stdin closed");
  }
  g_assert_true (g_subprocess_get_if_exited (s->proc));
  g_assert_cmpint (g_subprocess_get_exit_status (s->proc), ==, 0);
  g_object_unref (s->proc);
  g_free (s->endpoint);
  g_free (s);
}

int
main (int argc, char **argv)
{
  gint ret;

  g_test_init (&argc, &argv, NULL);
  if (argc != 2) {
    g_printerr ("usage: %s <vss-bedrock-server>\n", argv[0]);
    return 2;
  }
  server_path = argv[1];
  if (!g_file_test (server_path, G_FILE_TEST_IS_EXECUTABLE)) {
    g_printerr ("FAIL: test server %s is missing\n", server_path);
    return 1;
  }
  curl_global_init (CURL_GLOBAL_DEFAULT);
  g_test_add_func ("/aws/bedrock/signed-models", test_signed_models);
  g_test_add_func ("/aws/bedrock/rejections", test_rejections);
  g_test_add_func ("/aws/bedrock/session-token", test_session_token);
  g_test_add_func ("/aws/bedrock/s3-rules", test_s3_rules);
  g_test_add_func ("/aws/bedrock/presigned", test_presigned);
  g_test_add_func ("/aws/bedrock/image-text-mapping", test_image_text_mapping);
  g_test_add_func ("/aws/bedrock/faults", test_faults);
  g_test_add_func ("/aws/bedrock/concurrency", test_concurrency);
  g_test_add_func ("/aws/bedrock/stdin-close", test_stdin_close);
  ret = g_test_run ();
  curl_global_cleanup ();
  return ret;
}
