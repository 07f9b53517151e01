/* gst-vss: AWS Signature Version 4
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The rules follow the AWS SigV4 documentation and are checked against the
 * public aws-c-auth vectors (tests/gst/test-sigv4.c). Secrets only ever live
 * in local buffers that are wiped before they are freed.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gio/gio.h>
#include "gstvssawssigv4.h"

#define ALGORITHM "AWS4-HMAC-SHA256"

/* Headers that proxies and curl add, drop or rewrite: signing them would
 * make a request fail for reasons unrelated to its content. */
static const gchar *unsigned_headers[] = {
  "authorization", "user-agent", "x-amzn-trace-id", "connection", "expect",
  "transfer-encoding", NULL
};

static gboolean
is_unreserved (guchar c)
{
  return g_ascii_isalnum (c) || c == '-' || c == '_' || c == '.' || c == '~';
}

gchar *
gst_vss_aws_sigv4_uri_encode (const gchar * s, gssize len, gboolean keep_slash)
{
  static const gchar hex[] = "0123456789ABCDEF";
  GString *out;
  gssize i;

  if (len < 0)
    len = strlen (s);
  out = g_string_sized_new (len + 8);
  for (i = 0; i < len; i++) {
    guchar c = (guchar) s[i];

    if (is_unreserved (c) || (keep_slash && c == '/')) {
      g_string_append_c (out, c);
    } else {
      g_string_append_c (out, '%');
      g_string_append_c (out, hex[c >> 4]);
      g_string_append_c (out, hex[c & 15]);
    }
  }
  return g_string_free (out, FALSE);
}

/* Decodes %XX only: AWS treats '+' in a query as a literal plus. */
static gchar *
percent_decode (const gchar * s, gsize len)
{
  GString *out = g_string_sized_new (len);
  gsize i;

  for (i = 0; i < len; i++) {
    if (s[i] == '%' && i + 2 < len && g_ascii_isxdigit (s[i + 1])
        && g_ascii_isxdigit (s[i + 2])) {
      g_string_append_c (out, (gchar) ((g_ascii_xdigit_value (s[i + 1]) << 4)
              | g_ascii_xdigit_value (s[i + 2])));
      i += 2;
    } else {
      g_string_append_c (out, s[i]);
    }
  }
  return g_string_free (out, FALSE);
}

gchar *
gst_vss_aws_sigv4_canonical_uri (const gchar * wire_path,
    GstVssAwsSigV4Flags flags)
{
  GString *out;
  gchar **segs;
  GPtrArray *kept;
  gboolean trailing;
  guint i;

  if (wire_path == NULL || wire_path[0] == '\0')
    return g_strdup ("/");

  if (flags & GST_VSS_AWS_SIGV4_FLAG_S3) {
    /* The wire path is already encoded once; only bytes a well-formed
     * path could not contain get escaped, so a sloppy caller still signs
     * what curl sends. */
    GString *s3 = g_string_new (NULL);
    const gchar *p;

    for (p = wire_path; *p; p++) {
      guchar c = (guchar) * p;

      if (is_unreserved (c) || c == '/' || c == '%')
        g_string_append_c (s3, c);
      else
        g_string_append_printf (s3, "%%%02X", c);
    }
    return g_string_free (s3, FALSE);
  }

  if (flags & GST_VSS_AWS_SIGV4_FLAG_NO_NORMALIZE)
    return gst_vss_aws_sigv4_uri_encode (wire_path, -1, TRUE);

  segs = g_strsplit (wire_path, "/", -1);
  kept = g_ptr_array_new ();
  for (i = 0; segs[i]; i++) {
    if (segs[i][0] == '\0' || strcmp (segs[i], ".") == 0)
      continue;
    if (strcmp (segs[i], "..") == 0) {
      if (kept->len > 0)
        g_ptr_array_remove_index (kept, kept->len - 1);
      continue;
    }
    g_ptr_array_add (kept, segs[i]);
  }
  trailing = g_str_has_suffix (wire_path, "/");

  out = g_string_new ("/");
  for (i = 0; i < kept->len; i++) {
    gchar *enc = gst_vss_aws_sigv4_uri_encode (kept->pdata[i], -1, FALSE);

    if (i > 0)
      g_string_append_c (out, '/');
    g_string_append (out, enc);
    g_free (enc);
  }
  if (trailing && kept->len > 0)
    g_string_append_c (out, '/');

  g_ptr_array_free (kept, TRUE);
  g_strfreev (segs);
  return g_string_free (out, FALSE);
}

typedef struct
{
  gchar *key;
  gchar *value;
} QueryParam;

static gint
query_param_cmp (gconstpointer a, gconstpointer b)
{
  const QueryParam *pa = a, *pb = b;
  gint r = strcmp (pa->key, pb->key);

  return r != 0 ? r : strcmp (pa->value, pb->value);
}

static void
query_param_clear (gpointer p)
{
  QueryParam *q = p;

  g_free (q->key);
  g_free (q->value);
}

static void
query_params_add (GArray * params, const gchar * wire_query)
{
  gchar **parts;
  guint i;

  if (wire_query == NULL || wire_query[0] == '\0')
    return;
  parts = g_strsplit (wire_query, "&", -1);
  for (i = 0; parts[i]; i++) {
    const gchar *eq;
    gchar *k, *v;
    QueryParam qp;

    if (parts[i][0] == '\0')
      continue;
    eq = strchr (parts[i], '=');
    k = percent_decode (parts[i], eq ? (gsize) (eq - parts[i]) :
        strlen (parts[i]));
    v = eq ? percent_decode (eq + 1, strlen (eq + 1)) : g_strdup ("");
    qp.key = gst_vss_aws_sigv4_uri_encode (k, -1, FALSE);
    qp.value = gst_vss_aws_sigv4_uri_encode (v, -1, FALSE);
    g_array_append_val (params, qp);
    g_free (k);
    g_free (v);
  }
  g_strfreev (parts);
}

static void
query_params_add_raw (GArray * params, const gchar * key, const gchar * value)
{
  QueryParam qp;

  qp.key = gst_vss_aws_sigv4_uri_encode (key, -1, FALSE);
  qp.value = gst_vss_aws_sigv4_uri_encode (value, -1, FALSE);
  g_array_append_val (params, qp);
}

static gchar *
query_params_join (GArray * params)
{
  GString *out = g_string_new (NULL);
  guint i;

  g_array_sort (params, query_param_cmp);
  for (i = 0; i < params->len; i++) {
    QueryParam *qp = &g_array_index (params, QueryParam, i);

    if (i > 0)
      g_string_append_c (out, '&');
    g_string_append_printf (out, "%s=%s", qp->key, qp->value);
  }
  return g_string_free (out, FALSE);
}

static GArray *
query_params_new (void)
{
  GArray *a = g_array_new (FALSE, FALSE, sizeof (QueryParam));

  g_array_set_clear_func (a, query_param_clear);
  return a;
}

gchar *
gst_vss_aws_sigv4_canonical_query (const gchar * wire_query)
{
  GArray *params = query_params_new ();
  gchar *out;

  query_params_add (params, wire_query);
  out = query_params_join (params);
  g_array_free (params, TRUE);
  return out;
}

/* Trim, and fold runs of blanks into one space. */
static void
append_header_value (GString * out, const gchar * v)
{
  gboolean blank = FALSE;
  gboolean started = FALSE;

  for (; *v; v++) {
    if (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') {
      blank = started;
      continue;
    }
    if (blank)
      g_string_append_c (out, ' ');
    blank = FALSE;
    started = TRUE;
    g_string_append_c (out, *v);
  }
}

typedef struct
{
  gchar *name;                  /* lower case */
  GString *value;               /* canonical, repeated values joined */
} CanonHeader;

static gint
canon_header_cmp (gconstpointer a, gconstpointer b)
{
  return strcmp (((const CanonHeader *) a)->name,
      ((const CanonHeader *) b)->name);
}

static void
canon_header_clear (gpointer p)
{
  CanonHeader *h = p;

  g_free (h->name);
  g_string_free (h->value, TRUE);
}

static void
canon_headers_add (GArray * hdrs, const gchar * name, const gchar * value)
{
  gchar *lname = g_ascii_strdown (name, -1);
  CanonHeader h;
  guint i;

  if (g_strv_contains (unsigned_headers, lname)) {
    g_free (lname);
    return;
  }
  for (i = 0; i < hdrs->len; i++) {
    CanonHeader *e = &g_array_index (hdrs, CanonHeader, i);

    if (strcmp (e->name, lname) == 0) {
      g_string_append_c (e->value, ',');
      append_header_value (e->value, value);
      g_free (lname);
      return;
    }
  }
  h.name = lname;
  h.value = g_string_new (NULL);
  append_header_value (h.value, value);
  g_array_append_val (hdrs, h);
}

static void
hmac_sha256 (const guint8 * key, gsize key_len, const gchar * data,
    guint8 out[32])
{
  GHmac *h = g_hmac_new (G_CHECKSUM_SHA256, key, key_len);
  gsize len = 32;

  g_hmac_update (h, (const guchar *) data, strlen (data));
  g_hmac_get_digest (h, out, &len);
  g_hmac_unref (h);
}

gchar *
gst_vss_aws_sigv4_sha256_hex (const guint8 * data, gsize len)
{
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, len);
}

static gchar *
compute_signature (const GstVssAwsSigV4Params * p, const gchar * date,
    const gchar * string_to_sign)
{
  gsize slen = strlen (p->secret_access_key);
  guint8 *k_secret = g_malloc (slen + 4);
  guint8 k[32], sig[32];
  gchar *hex;
  guint i;

  memcpy (k_secret, "AWS4", 4);
  memcpy (k_secret + 4, p->secret_access_key, slen);
  hmac_sha256 (k_secret, slen + 4, date, k);
  memset (k_secret, 0, slen + 4);
  g_free (k_secret);
  hmac_sha256 (k, 32, p->region, k);
  hmac_sha256 (k, 32, p->service, k);
  hmac_sha256 (k, 32, "aws4_request", k);
  hmac_sha256 (k, 32, string_to_sign, sig);
  memset (k, 0, sizeof (k));

  hex = g_malloc (65);
  for (i = 0; i < 32; i++)
    g_snprintf (hex + 2 * i, 3, "%02x", sig[i]);
  return hex;
}

static gboolean
check_params (const GstVssAwsSigV4Request * r, const GstVssAwsSigV4Params * p,
    gboolean presign, GError ** error)
{
  const gchar *missing = NULL;
  gboolean have_host = FALSE;
  guint i;

  if (r->method == NULL || r->method[0] == '\0')
    missing = "method";
  else if (p->access_key_id == NULL || p->access_key_id[0] == '\0')
    missing = "access key id";
  else if (p->secret_access_key == NULL || p->secret_access_key[0] == '\0')
    missing = "secret access key";
  else if (p->region == NULL || p->region[0] == '\0')
    missing = "region";
  else if (p->service == NULL || p->service[0] == '\0')
    missing = "service";
  if (missing) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "SigV4: no %s", missing);
    return FALSE;
  }
  for (i = 0; i < r->n_headers; i++)
    if (g_ascii_strcasecmp (r->headers[i].name, "host") == 0)
      have_host = TRUE;
  if (!have_host) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "SigV4: the request has no Host header");
    return FALSE;
  }
  if (presign && (p->expires < 1 || p->expires > 604800)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "SigV4: presign expiry %" G_GINT64_FORMAT " s is outside 1..604800",
        p->expires);
    return FALSE;
  }
  if (p->time < 0 || p->time > G_GINT64_CONSTANT (253402300799)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "SigV4: signing time out of range");
    return FALSE;
  }
  return TRUE;
}

/* Does the heavy lifting for both modes. In header mode the x-amz-* values
 * are signed headers; in presign mode they are query parameters. */
static gboolean
sign (const GstVssAwsSigV4Request * r, const GstVssAwsSigV4Params * p,
    gboolean presign, GstVssAwsSigV4Result * res, GError ** error)
{
  GDateTime *dt;
  gchar *amz_date, *date, *scope, *credential, *canon_uri, *canon_query;
  gchar *cr_hash;
  const gchar *payload_hash = r->payload_hash ? r->payload_hash :
      GST_VSS_AWS_SIGV4_EMPTY_SHA256;
  gboolean sign_token = p->session_token && p->session_token[0] &&
      !(p->flags & GST_VSS_AWS_SIGV4_FLAG_OMIT_SESSION_TOKEN);
  GArray *hdrs, *qparams;
  GString *cr, *signed_list, *canon_hdrs;
  gchar expires[32];
  guint i;

  memset (res, 0, sizeof (*res));
  if (!check_params (r, p, presign, error))
    return FALSE;

  dt = g_date_time_new_from_unix_utc (p->time);
  amz_date = g_date_time_format (dt, "%Y%m%dT%H%M%SZ");
  date = g_date_time_format (dt, "%Y%m%d");
  g_date_time_unref (dt);
  scope = g_strdup_printf ("%s/%s/%s/aws4_request", date, p->region,
      p->service);
  credential = g_strdup_printf ("%s/%s", p->access_key_id, scope);

  hdrs = g_array_new (FALSE, FALSE, sizeof (CanonHeader));
  g_array_set_clear_func (hdrs, canon_header_clear);
  for (i = 0; i < r->n_headers; i++)
    canon_headers_add (hdrs, r->headers[i].name, r->headers[i].value);
  if (!presign) {
    canon_headers_add (hdrs, "x-amz-date", amz_date);
    if (sign_token)
      canon_headers_add (hdrs, "x-amz-security-token", p->session_token);
    if (p->flags & GST_VSS_AWS_SIGV4_FLAG_CONTENT_SHA256)
      canon_headers_add (hdrs, "x-amz-content-sha256", payload_hash);
  }
  g_array_sort (hdrs, canon_header_cmp);
  signed_list = g_string_new (NULL);
  canon_hdrs = g_string_new (NULL);
  for (i = 0; i < hdrs->len; i++) {
    CanonHeader *h = &g_array_index (hdrs, CanonHeader, i);

    if (i > 0)
      g_string_append_c (signed_list, ';');
    g_string_append (signed_list, h->name);
    g_string_append_printf (canon_hdrs, "%s:%s\n", h->name, h->value->str);
  }
  g_array_free (hdrs, TRUE);

  qparams = query_params_new ();
  query_params_add (qparams, r->query);
  if (presign) {
    g_snprintf (expires, sizeof (expires), "%" G_GINT64_FORMAT, p->expires);
    query_params_add_raw (qparams, "X-Amz-Algorithm", ALGORITHM);
    query_params_add_raw (qparams, "X-Amz-Credential", credential);
    query_params_add_raw (qparams, "X-Amz-Date", amz_date);
    query_params_add_raw (qparams, "X-Amz-Expires", expires);
    query_params_add_raw (qparams, "X-Amz-SignedHeaders", signed_list->str);
    if (sign_token)
      query_params_add_raw (qparams, "X-Amz-Security-Token", p->session_token);
  }
  canon_query = query_params_join (qparams);
  g_array_free (qparams, TRUE);

  canon_uri = gst_vss_aws_sigv4_canonical_uri (r->path, p->flags);
  cr = g_string_new (NULL);
  g_string_append_printf (cr, "%s\n%s\n%s\n%s\n%s\n%s", r->method, canon_uri,
      canon_query, canon_hdrs->str, signed_list->str, payload_hash);
  res->canonical_request = g_string_free (cr, FALSE);
  cr_hash =
      gst_vss_aws_sigv4_sha256_hex ((const guint8 *) res->canonical_request,
      strlen (res->canonical_request));
  res->string_to_sign =
      g_strdup_printf (ALGORITHM "\n%s\n%s\n%s", amz_date, scope, cr_hash);
  res->signature = compute_signature (p, date, res->string_to_sign);
  res->signed_headers = g_string_free (signed_list, FALSE);

  if (presign) {
    /* The wire query keeps the caller's parameters as they were and adds
     * ours; a token that is not signed still travels (STS rule). */
    GString *q = g_string_new (NULL);
    gchar *enc;

    if (r->query && r->query[0])
      g_string_append_printf (q, "%s&", r->query);
    enc = gst_vss_aws_sigv4_uri_encode (credential, -1, FALSE);
    g_string_append_printf (q, "X-Amz-Algorithm=" ALGORITHM
        "&X-Amz-Credential=%s&X-Amz-Date=%s&X-Amz-Expires=%s", enc, amz_date,
        expires);
    g_free (enc);
    enc = gst_vss_aws_sigv4_uri_encode (res->signed_headers, -1, FALSE);
    g_string_append_printf (q, "&X-Amz-SignedHeaders=%s", enc);
    g_free (enc);
    if (p->session_token && p->session_token[0]) {
      enc = gst_vss_aws_sigv4_uri_encode (p->session_token, -1, FALSE);
      g_string_append_printf (q, "&X-Amz-Security-Token=%s", enc);
      g_free (enc);
    }
    g_string_append_printf (q, "&X-Amz-Signature=%s", res->signature);
    res->query = g_string_free (q, FALSE);
  } else {
    res->authorization = g_strdup_printf (ALGORITHM " Credential=%s, "
        "SignedHeaders=%s, Signature=%s", credential, res->signed_headers,
        res->signature);
    res->headers = g_ptr_array_new_with_free_func (g_free);
    g_ptr_array_add (res->headers, g_strdup_printf ("X-Amz-Date: %s",
            amz_date));
    if (p->session_token && p->session_token[0])
      g_ptr_array_add (res->headers,
          g_strdup_printf ("X-Amz-Security-Token: %s", p->session_token));
    if (p->flags & GST_VSS_AWS_SIGV4_FLAG_CONTENT_SHA256)
      g_ptr_array_add (res->headers,
          g_strdup_printf ("X-Amz-Content-Sha256: %s", payload_hash));
    g_ptr_array_add (res->headers, g_strdup_printf ("Authorization: %s",
            res->authorization));
  }

  g_free (cr_hash);
  g_free (canon_uri);
  g_free (canon_query);
  g_string_free (canon_hdrs, TRUE);
  g_free (credential);
  g_free (scope);
  g_free (date);
  g_free (amz_date);
  return TRUE;
}

gboolean
gst_vss_aws_sigv4_sign_headers (const GstVssAwsSigV4Request * request,
    const GstVssAwsSigV4Params * params, GstVssAwsSigV4Result * result,
    GError ** error)
{
  return sign (request, params, FALSE, result, error);
}

gboolean
gst_vss_aws_sigv4_presign (const GstVssAwsSigV4Request * request,
    const GstVssAwsSigV4Params * params, GstVssAwsSigV4Result * result,
    GError ** error)
{
  return sign (request, params, TRUE, result, error);
}

static void
free_secret_string (gchar * s)
{
  if (s) {
    memset (s, 0, strlen (s));
    g_free (s);
  }
}

void
gst_vss_aws_sigv4_result_clear (GstVssAwsSigV4Result * result)
{
  /* The canonical request, headers and query can hold the session token. */
  free_secret_string (result->canonical_request);
  g_free (result->string_to_sign);
  g_free (result->signature);
  g_free (result->signed_headers);
  g_free (result->authorization);
  if (result->headers) {
    guint i;

    for (i = 0; i < result->headers->len; i++) {
      gchar *h = result->headers->pdata[i];

      memset (h, 0, strlen (h));
    }
    g_ptr_array_free (result->headers, TRUE);
  }
  free_secret_string (result->query);
  memset (result, 0, sizeof (*result));
}
