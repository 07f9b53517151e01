/* gst-vss: data-driven SigV4 test
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Usage: test-sigv4 <folder>...
 * Each folder holds one sub-folder per case, laid out like the aws-c-auth
 * signing suite: context.json, request.txt and, for header and query
 * signing, the expected canonical request, string to sign and signature
 * (plus optionally the signed request). Every expected file that is missing
 * is a failure: a case is never skipped silently.
 */
#include <string.h>
#include <stdio.h>
#include <jansson.h>
#include <glib.h>
#include <stdlib.h>
#include "aws/gstvssawssigv4.h"

static guint checks_run, checks_failed;

typedef struct
{
  gchar *method;
  gchar *path;
  gchar *query;
  GArray *headers;              /* GstVssAwsHttpHeader, strings owned */
  gchar *body;
  gsize body_len;
} ParsedRequest;

static void
parsed_request_clear (ParsedRequest * r)
{
  guint i;

  for (i = 0; r->headers && i < r->headers->len; i++) {
    GstVssAwsHttpHeader *h =
        &g_array_index (r->headers, GstVssAwsHttpHeader, i);

    g_free ((gchar *) h->name);
    g_free ((gchar *) h->value);
  }
  if (r->headers)
    g_array_free (r->headers, TRUE);
  g_free (r->method);
  g_free (r->path);
  g_free (r->query);
  g_free (r->body);
}

/* The request line's target may contain spaces (get-space-normalized), so
 * the method is the first word and the version the last. */
static gboolean
parse_request (const gchar * text, ParsedRequest * r)
{
  const gchar *p = text, *eol, *sp1, *sp2, *q;
  gchar *line;

  memset (r, 0, sizeof (*r));
  r->headers = g_array_new (FALSE, FALSE, sizeof (GstVssAwsHttpHeader));
  eol = strchr (p, '\n');
  line = eol ? g_strndup (p, eol - p) : g_strdup (p);
  g_strchomp (line);
  sp1 = strchr (line, ' ');
  sp2 = strrchr (line, ' ');
  if (sp1 == NULL || sp2 == sp1) {
    g_free (line);
    return FALSE;
  }
  r->method = g_strndup (line, sp1 - line);
  q = memchr (sp1 + 1, '?', sp2 - sp1 - 1);
  if (q) {
    r->path = g_strndup (sp1 + 1, q - sp1 - 1);
    r->query = g_strndup (q + 1, sp2 - q - 1);
  } else {
    r->path = g_strndup (sp1 + 1, sp2 - sp1 - 1);
  }
  g_free (line);

  p = eol ? eol + 1 : p + strlen (p);
  while (*p) {
    const gchar *colon;
    GstVssAwsHttpHeader h;
    gsize len;

    eol = strchr (p, '\n');
    len = eol ? (gsize) (eol - p) : strlen (p);
    if (len > 0 && p[len - 1] == '\r')
      len--;
    if (len == 0) {
      p = eol ? eol + 1 : p + strlen (p);
      r->body = g_strdup (p);
      r->body_len = strlen (p);
      break;
    }
    /* obs-fold: an indented line continues the previous header's value;
     * it is kept as received, line break included, for the signer to
     * fold. */
    if ((p[0] == ' ' || p[0] == '\t') && r->headers->len > 0) {
      GstVssAwsHttpHeader *last = &g_array_index (r->headers,
          GstVssAwsHttpHeader, r->headers->len - 1);
      gchar *line = g_strndup (p, len);
      gchar *joined = g_strconcat (last->value, "\n", line, NULL);

      g_free (line);
      g_free ((gchar *) last->value);
      last->value = joined;
      p = eol ? eol + 1 : p + len;
      continue;
    }
    colon = memchr (p, ':', len);
    if (colon == NULL)
      return FALSE;
    h.name = g_strndup (p, colon - p);
    h.value = g_strndup (colon + 1, p + len - colon - 1);
    g_array_append_val (r->headers, h);
    p = eol ? eol + 1 : p + len;
  }
  return TRUE;
}

static gchar *
read_case_file (const gchar * dir, const gchar * name, gboolean required,
    const gchar * case_name)
{
  gchar *path = g_build_filename (dir, name, NULL);
  gchar *text = NULL;
  GError *err = NULL;

  if (!g_file_get_contents (path, &text, NULL, &err)) {
    if (required || !g_error_matches (err, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
      checks_run++;
      checks_failed++;
      printf ("FAIL %s: cannot read %s: %s\n", case_name, name, err->message);
    }
    g_clear_error (&err);
  }
  g_free (path);
  return text;
}

static void
check_equal (const gchar * case_name, const gchar * what,
    const gchar * expected, const gchar * got)
{
  checks_run++;
  if (g_strcmp0 (expected, got) != 0) {
    checks_failed++;
    printf ("FAIL %s: %s differs\n--- expected\n%s\n--- got\n%s\n---\n",
        case_name, what, expected, got ? got : "(null)");
  }
}

static gchar *
authorization_line (const gchar * signed_request)
{
  gchar **lines = g_strsplit (signed_request, "\n", -1);
  gchar *out = NULL;
  guint i;

  for (i = 0; lines[i] && !out; i++) {
    g_strchomp (lines[i]);
    if (g_ascii_strncasecmp (lines[i], "Authorization:", 14) == 0)
      out = g_strdup (g_strstrip (lines[i] + 14));
  }
  g_strfreev (lines);
  return out;
}

static gint
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar * const *) a, *(const gchar * const *) b);
}

/* The vectors list the presigned parameters in an arbitrary order, so
 * compare them as sorted lists. */
static gchar *
sorted_params (const gchar * query)
{
  gchar **parts = g_strsplit (query ? query : "", "&", -1);
  guint n = g_strv_length (parts);
  gchar *out;

  qsort (parts, n, sizeof (gchar *), cmp_str);
  out = g_strjoinv ("&", parts);
  g_strfreev (parts);
  return out;
}

static gchar *
signed_request_query (const gchar * signed_request)
{
  const gchar *eol = strchr (signed_request, '\n');
  gchar *line = eol ? g_strndup (signed_request, eol - signed_request) :
      g_strdup (signed_request);
  gchar *q = strchr (line, '?');
  gchar *sp = q ? strrchr (q, ' ') : NULL;
  gchar *out;

  if (sp)
    *sp = '\0';
  out = q ? sorted_params (q + 1) : g_strdup ("");
  g_free (line);
  return out;
}

static void
check_mode (const gchar * dir, const gchar * case_name, gboolean presign,
    const ParsedRequest * req, const GstVssAwsSigV4Params * params,
    const gchar * payload_hash)
{
  const gchar *prefix = presign ? "query" : "header";
  gchar *names[4], *expected[4];
  GstVssAwsSigV4Request r = { 0, };
  GstVssAwsSigV4Result res;
  GError *err = NULL;
  gboolean ok;
  guint i;

  names[0] = g_strdup_printf ("%s-canonical-request.txt", prefix);
  names[1] = g_strdup_printf ("%s-string-to-sign.txt", prefix);
  names[2] = g_strdup_printf ("%s-signature.txt", prefix);
  names[3] = g_strdup_printf ("%s-signed-request.txt", prefix);
  for (i = 0; i < 4; i++)
    expected[i] = read_case_file (dir, names[i], i < 3, case_name);

  r.method = req->method;
  r.path = req->path;
  r.query = req->query;
  r.headers = (const GstVssAwsHttpHeader *) req->headers->data;
  r.n_headers = req->headers->len;
  r.payload_hash = payload_hash;

  ok = presign ? gst_vss_aws_sigv4_presign (&r, params, &res, &err) :
      gst_vss_aws_sigv4_sign_headers (&r, params, &res, &err);
  if (!ok) {
    checks_run++;
    checks_failed++;
    printf ("FAIL %s: %s signing failed: %s\n", case_name, prefix,
        err->message);
    g_clear_error (&err);
    goto done;
  }

  for (i = 0; i < 3; i++) {
    const gchar *got = i == 0 ? res.canonical_request :
        i == 1 ? res.string_to_sign : res.signature;

    if (expected[i]) {
      g_strchomp (expected[i]);
      check_equal (case_name, names[i], expected[i], got);
    }
  }
  if (expected[3] && !presign) {
    gchar *auth = authorization_line (expected[3]);

    check_equal (case_name, "Authorization header", auth, res.authorization);
    g_free (auth);
  } else if (expected[3]) {
    gchar *want = signed_request_query (expected[3]);
    gchar *got = sorted_params (res.query);

    check_equal (case_name, "presigned query", want, got);
    g_free (want);
    g_free (got);
  }
  gst_vss_aws_sigv4_result_clear (&res);

done:
  for (i = 0; i < 4; i++) {
    g_free (names[i]);
    g_free (expected[i]);
  }
}

static gboolean
run_case (const gchar * dir, const gchar * case_name)
{
  guint failed_before = checks_failed;
  gchar *ctx_text, *req_text;
  json_t *ctx = NULL, *creds;
  json_error_t jerr;
  ParsedRequest req;
  GstVssAwsSigV4Params params = { 0, };
  GDateTime *dt = NULL;
  gchar *payload_hash = NULL;
  const gchar *ts;

  ctx_text = read_case_file (dir, "context.json", TRUE, case_name);
  req_text = read_case_file (dir, "request.txt", TRUE, case_name);
  memset (&req, 0, sizeof (req));
  if (!ctx_text || !req_text)
    goto out;

  ctx = json_loads (ctx_text, 0, &jerr);
  creds = ctx ? json_object_get (ctx, "credentials") : NULL;
  ts = ctx ? json_string_value (json_object_get (ctx, "timestamp")) : NULL;
  dt = ts ? g_date_time_new_from_iso8601 (ts, NULL) : NULL;
  if (!creds || !dt) {
    checks_run++;
    checks_failed++;
    printf ("FAIL %s: context.json lacks credentials or a valid timestamp\n",
        case_name);
    goto out;
  }
  if (!parse_request (req_text, &req)) {
    checks_run++;
    checks_failed++;
    printf ("FAIL %s: cannot parse request.txt\n", case_name);
    goto out;
  }

  params.access_key_id =
      json_string_value (json_object_get (creds, "access_key_id"));
  params.secret_access_key =
      json_string_value (json_object_get (creds, "secret_access_key"));
  params.session_token = json_string_value (json_object_get (creds, "token"));
  params.region = json_string_value (json_object_get (ctx, "region"));
  params.service = json_string_value (json_object_get (ctx, "service"));
  params.time = g_date_time_to_unix (dt);
  params.expires =
      json_integer_value (json_object_get (ctx, "expiration_in_seconds"));
  /* S3 rules when a case says so: single encoding, no normalisation. */
  if (g_strcmp0 (params.service, "s3") == 0
      || json_is_false (json_object_get (ctx, "double_uri_encode")))
    params.flags |= GST_VSS_AWS_SIGV4_FLAG_S3;
  else if (json_is_false (json_object_get (ctx, "normalize")))
    params.flags |= GST_VSS_AWS_SIGV4_FLAG_NO_NORMALIZE;
  if (json_is_true (json_object_get (ctx, "omit_session_token")))
    params.flags |= GST_VSS_AWS_SIGV4_FLAG_OMIT_SESSION_TOKEN;
  if (json_is_true (json_object_get (ctx, "sign_body"))) {
    payload_hash = gst_vss_aws_sigv4_sha256_hex ((const guint8 *) req.body,
        req.body_len);
    params.flags |= GST_VSS_AWS_SIGV4_FLAG_CONTENT_SHA256;
  }

  check_mode (dir, case_name, FALSE, &req, &params, payload_hash);
  /* Presigned URLs never carry x-amz-content-sha256. */
  params.flags &= ~GST_VSS_AWS_SIGV4_FLAG_CONTENT_SHA256;
  check_mode (dir, case_name, TRUE, &req, &params, payload_hash);

out:
  if (dt)
    g_date_time_unref (dt);
  if (ctx)
    json_decref (ctx);
  parsed_request_clear (&req);
  g_free (payload_hash);
  g_free (ctx_text);
  g_free (req_text);
  return checks_failed == failed_before;
}

/* Rules the vectors do not cover: the Bedrock model id with ':' and S3. */
static void
check_rules (void)
{
  gchar *s;

  s = gst_vss_aws_sigv4_canonical_uri
      ("/model/amazon.titan-embed-text-v2:0/invoke",
      GST_VSS_AWS_SIGV4_FLAG_NONE);
  check_equal ("rules", "raw ':' non-S3",
      "/model/amazon.titan-embed-text-v2%3A0/invoke", s);
  g_free (s);
  s = gst_vss_aws_sigv4_canonical_uri
      ("/model/amazon.titan-embed-text-v2%3A0/invoke",
      GST_VSS_AWS_SIGV4_FLAG_NONE);
  check_equal ("rules", "encoded ':' non-S3",
      "/model/amazon.titan-embed-text-v2%253A0/invoke", s);
  g_free (s);
  s = gst_vss_aws_sigv4_canonical_uri ("/bucket/a%20b//./c.jpg",
      GST_VSS_AWS_SIGV4_FLAG_S3);
  check_equal ("rules", "S3 path kept", "/bucket/a%20b//./c.jpg", s);
  g_free (s);
  s = gst_vss_aws_sigv4_canonical_query ("b=2&a=%2a&a=1&c&d=x+y");
  check_equal ("rules", "query sort/encode", "a=%2A&a=1&b=2&c=&d=x%2By", s);
  g_free (s);
}

/* Runs every case folder under @top. Returns the number of cases, or -1
 * when @top cannot be read. */
static gint
run_folder (const gchar * top, guint * passed)
{
  GDir *d;
  GError *err = NULL;
  GPtrArray *cases;
  const gchar *name;
  guint i, n;

  d = g_dir_open (top, 0, &err);
  if (!d) {
    printf ("FAIL: cannot open %s: %s\n", top, err->message);
    g_error_free (err);
    return -1;
  }
  cases = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (d))) {
    gchar *p = g_build_filename (top, name, NULL);

    if (g_file_test (p, G_FILE_TEST_IS_DIR))
      g_ptr_array_add (cases, g_strdup (name));
    g_free (p);
  }
  g_dir_close (d);
  g_ptr_array_sort (cases, cmp_str);

  for (i = 0; i < cases->len; i++) {
    gchar *dir = g_build_filename (top, cases->pdata[i], NULL);
    gboolean ok = run_case (dir, cases->pdata[i]);

    printf ("%s %s\n", ok ? "ok  " : "FAIL", (gchar *) cases->pdata[i]);
    *passed += ok;
    g_free (dir);
  }
  n = cases->len;
  if (n == 0) {
    printf ("FAIL: no case folders in %s\n", top);
    checks_failed++;
  }
  g_ptr_array_free (cases, TRUE);
  return (gint) n;
}

int
main (int argc, char **argv)
{
  guint passed = 0, total = 0;
  gint i;

  if (argc < 2) {
    fprintf (stderr, "usage: %s <aws-sigv4 test folder>...\n", argv[0]);
    return 2;
  }
  for (i = 1; i < argc; i++) {
    gint n = run_folder (argv[i], &passed);

    if (n < 0)
      return 1;
    total += n;
  }
  check_rules ();

  printf ("%u/%u cases passed, %u/%u checks passed\n", passed, total,
      checks_run - checks_failed, checks_run);
  return checks_failed == 0 ? 0 : 1;
}
