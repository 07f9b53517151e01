/* gst-vss test servers: SigV4 verification, written apart from the signer
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <stdlib.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include "vsssigcheck.h"

static void
to_hex (const unsigned char *d, size_t n, char *out)
{
  static const char digits[] = "0123456789abcdef";
  size_t i;

  for (i = 0; i < n; i++) {
    out[2 * i] = digits[d[i] >> 4];
    out[2 * i + 1] = digits[d[i] & 0xf];
  }
  out[2 * n] = 0;
}

static void
sha256_hex (const void *data, size_t n, char out[65])
{
  unsigned char md[SHA256_DIGEST_LENGTH];

  SHA256 (data, n, md);
  to_hex (md, sizeof (md), out);
}

/* RFC 3986 unreserved stays, everything else becomes %XX (upper case). */
static void
encode_into (GString * out, const char *s, size_t n, int keep_slash)
{
  size_t i;

  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char) s[i];
    int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
        c == '~' || (keep_slash && c == '/');

    if (plain)
      g_string_append_c (out, (gchar) c);
    else
      g_string_append_printf (out, "%%%02X", c);
  }
}

static int
hexval (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static GString *
unescape (const char *s, size_t n)
{
  GString *out = g_string_sized_new (n);
  size_t i = 0;

  while (i < n) {
    if (s[i] == '%' && i + 2 < n && hexval (s[i + 1]) >= 0
        && hexval (s[i + 2]) >= 0) {
      g_string_append_c (out, (gchar) (hexval (s[i + 1]) * 16 +
              hexval (s[i + 2])));
      i += 3;
    } else {
      g_string_append_c (out, s[i]);
      i++;
    }
  }
  return out;
}

/* Non-S3: RFC 3986 dot-segment removal plus empty-segment folding, then
 * every segment encoded again. S3: the path as it came. */
static void
canonical_path (GString * cr, const char *path, int s3)
{
  GQueue segs = G_QUEUE_INIT;
  const char *p = path, *slash;
  int trailing;

  if (path[0] == 0) {
    g_string_append_c (cr, '/');
    return;
  }
  if (s3) {
    g_string_append (cr, path);
    return;
  }
  trailing = path[strlen (path) - 1] == '/';
  while (*p) {
    size_t n;

    while (*p == '/')
      p++;
    if (!*p)
      break;
    slash = strchr (p, '/');
    n = slash ? (size_t) (slash - p) : strlen (p);
    if (n == 2 && p[0] == '.' && p[1] == '.') {
      g_free (g_queue_pop_tail (&segs));
    } else if (!(n == 1 && p[0] == '.')) {
      g_queue_push_tail (&segs, g_strndup (p, n));
    }
    p += n;
  }
  if (g_queue_is_empty (&segs)) {
    g_string_append_c (cr, '/');
  } else {
    gchar *seg;

    while ((seg = g_queue_pop_head (&segs))) {
      g_string_append_c (cr, '/');
      encode_into (cr, seg, strlen (seg), 0);
      g_free (seg);
    }
    if (trailing)
      g_string_append_c (cr, '/');
  }
}

static int
strp_cmp (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Presigned URLs sign every parameter but X-Amz-Signature itself. */
static void
canonical_query (GString * cr, const char *query, int skip_signature)
{
  GPtrArray *pairs = g_ptr_array_new_with_free_func (g_free);
  const char *p = query ? query : "";
  guint i;

  while (*p) {
    const char *amp = strchr (p, '&');
    size_t n = amp ? (size_t) (amp - p) : strlen (p);
    const char *eq = memchr (p, '=', n);

    if (n > 0) {
      size_t kn = eq ? (size_t) (eq - p) : n;
      GString *k = unescape (p, kn);
      GString *v = eq ? unescape (eq + 1, n - kn - 1) : g_string_new ("");
      GString *pair = g_string_new (NULL);

      if (skip_signature && strcmp (k->str, "X-Amz-Signature") == 0) {
        g_string_free (pair, TRUE);
        g_string_free (k, TRUE);
        g_string_free (v, TRUE);
        p += n;
        if (*p == '&')
          p++;
        continue;
      }
      encode_into (pair, k->str, k->len, 0);
      g_string_append_c (pair, '\x01');
      encode_into (pair, v->str, v->len, 0);
      g_ptr_array_add (pairs, g_string_free (pair, FALSE));
      g_string_free (k, TRUE);
      g_string_free (v, TRUE);
    }
    p += n;
    if (*p == '&')
      p++;
  }
  /* Key and value are joined by \x01 while sorting: it sorts below every
   * encoded byte, so whole strings order by key first, then value. */
  if (pairs->len > 1)
    qsort (pairs->pdata, pairs->len, sizeof (gpointer), strp_cmp);
  for (i = 0; i < pairs->len; i++) {
    gchar *sep = strchr (pairs->pdata[i], '\x01');

    *sep = '=';
    if (i)
      g_string_append_c (cr, '&');
    g_string_append (cr, pairs->pdata[i]);
  }
  g_ptr_array_free (pairs, TRUE);
}

static void
append_trimmed (GString * out, const char *v)
{
  int pending = 0, any = 0;

  for (; *v; v++) {
    if (*v == ' ' || *v == '\t') {
      pending = any;
    } else {
      if (pending)
        g_string_append_c (out, ' ');
      pending = 0;
      any = 1;
      g_string_append_c (out, *v);
    }
  }
}

static void
hmac (const void *key, int klen, const char *msg, unsigned char out[32])
{
  unsigned int len = 32;

  HMAC (EVP_sha256 (), key, klen, (const unsigned char *) msg, strlen (msg),
      out, &len);
}

static gboolean
fail (guint * status, gchar ** type, gchar ** message, guint st,
    const char *t, const char *m)
{
  *status = st;
  *type = g_strdup (t);
  *message = g_strdup (m);
  return FALSE;
}

/* Decoded value of the first query parameter called `name`, or NULL. */
static gchar *
query_param (const char *query, const char *name)
{
  gchar **parts = g_strsplit (query ? query : "", "&", -1);
  gchar *out = NULL;
  guint i;

  for (i = 0; parts[i] && !out; i++) {
    char *eq = strchr (parts[i], '=');
    GString *k = unescape (parts[i], eq ? (size_t) (eq - parts[i]) :
        strlen (parts[i]));

    if (strcmp (k->str, name) == 0) {
      GString *v = eq ? unescape (eq + 1, strlen (eq + 1)) : g_string_new ("");

      out = g_string_free (v, FALSE);
    }
    g_string_free (k, TRUE);
  }
  g_strfreev (parts);
  return out;
}

gboolean
vss_sigcheck_verify (const VssSigCheckConfig * cfg, const VssHttpRequest * req,
    gchar ** service, guint * status, gchar ** error_type, gchar ** message)
{
  const char *auth = vss_http_request_header (req, "Authorization");
  const char *amz_date = vss_http_request_header (req, "X-Amz-Date");
  const char *token = vss_http_request_header (req, "X-Amz-Security-Token");
  gchar *cred = NULL, *signed_hdrs = NULL, *sig = NULL;
  gchar *q_sig = auth ? NULL : query_param (req->query, "X-Amz-Signature");
  gchar *q_date = NULL, *q_token = NULL, *q_expires = NULL, *q_alg = NULL;
  gboolean presigned = q_sig != NULL;
  gchar **scope = NULL, **names = NULL;
  GString *cr = NULL, *sts = NULL;
  char body_hash[65], cr_hash[65], mine[65];
  unsigned char k[32];
  gchar *ksecret, *tmp;
  gboolean ok = FALSE, s3;
  const char *p;
  guint i;

  *service = NULL;
  if (presigned) {
    q_alg = query_param (req->query, "X-Amz-Algorithm");
    q_date = query_param (req->query, "X-Amz-Date");
    q_token = query_param (req->query, "X-Amz-Security-Token");
    q_expires = query_param (req->query, "X-Amz-Expires");
    cred = query_param (req->query, "X-Amz-Credential");
    signed_hdrs = query_param (req->query, "X-Amz-SignedHeaders");
    sig = q_sig;
    q_sig = NULL;
    amz_date = q_date;
    token = q_token;
    if (g_strcmp0 (q_alg, "AWS4-HMAC-SHA256") != 0 || !q_expires) {
      fail (status, error_type, message, 403,
          "AuthorizationQueryParametersError",
          "X-Amz-Algorithm must be AWS4-HMAC-SHA256 and X-Amz-Expires set");
      goto out;
    }
    p = "";
  } else if (!auth) {
    return fail (status, error_type, message, 403,
        "MissingAuthenticationTokenException", "Missing Authentication Token");
  } else {
    /* "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." */
    while (*auth == ' ')
      auth++;
    if (strncmp (auth, "AWS4-HMAC-SHA256 ", 17) != 0)
      return fail (status, error_type, message, 403,
          "IncompleteSignatureException", "Unsupported signing algorithm");
    p = auth + 17;
  }
  while (*p) {
    const char *comma = strchr (p, ',');
    size_t n = comma ? (size_t) (comma - p) : strlen (p);
    gchar *item;

    while (*p == ' ') {
      p++;
      n--;
    }
    item = g_strndup (p, n);
    g_strstrip (item);
    if (g_str_has_prefix (item, "Credential="))
      cred = g_strdup (item + 11);
    else if (g_str_has_prefix (item, "SignedHeaders="))
      signed_hdrs = g_strdup (item + 14);
    else if (g_str_has_prefix (item, "Signature="))
      sig = g_strdup (item + 10);
    g_free (item);
    p += n;
    if (*p == ',')
      p++;
  }
  if (!cred || !signed_hdrs || !sig || !amz_date) {
    fail (status, error_type, message, 403, "IncompleteSignatureException",
        "Authorization header requires Credential, SignedHeaders, Signature "
        "and an X-Amz-Date header");
    goto out;
  }
  scope = g_strsplit (cred, "/", -1);
  if (g_strv_length (scope) != 5 || strcmp (scope[4], "aws4_request") != 0
      || strlen (amz_date) != 16 || strncmp (scope[1], amz_date, 8) != 0) {
    fail (status, error_type, message, 403, "IncompleteSignatureException",
        "Credential scope is malformed or does not match X-Amz-Date");
    goto out;
  }
  if (strcmp (scope[0], cfg->access_key) != 0) {
    fail (status, error_type, message, 403, "UnrecognizedClientException",
        "The security token included in the request is invalid.");
    goto out;
  }
  if (cfg->region && strcmp (scope[2], cfg->region) != 0) {
    fail (status, error_type, message, 403, "InvalidSignatureException",
        "Credential should be scoped to a valid region.");
    goto out;
  }
  if (cfg->max_skew > 0) {
    GTimeZone *utc = g_time_zone_new_utc ();
    gchar *iso = g_strdup_printf ("%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ", amz_date,
        amz_date + 4, amz_date + 6, amz_date + 9, amz_date + 11,
        amz_date + 13);
    GDateTime *dt = g_date_time_new_from_iso8601 (iso, utc);
    gint64 t = dt ? g_date_time_to_unix (dt) : 0;

    if (dt)
      g_date_time_unref (dt);
    g_free (iso);
    g_time_zone_unref (utc);
    if (t && presigned) {
      gint64 e = g_ascii_strtoll (q_expires, NULL, 10);

      if (e < 1 || e > 604800 || cfg->now > t + e) {
        fail (status, error_type, message, 403, "AccessDenied",
            "Request has expired");
        goto out;
      }
    }
    if (!t || (presigned ? t - cfg->now > cfg->max_skew :
            ABS (t - cfg->now) > cfg->max_skew)) {
      fail (status, error_type, message, 403, "InvalidSignatureException",
          "Signature expired or not yet valid: X-Amz-Date is too far from "
          "the server time.");
      goto out;
    }
  }
  if ((cfg->session_token != NULL) != (token != NULL)
      || (token && strcmp (token + strspn (token, " "),
              cfg->session_token) != 0)) {
    fail (status, error_type, message, 403, "UnrecognizedClientException",
        "The security token included in the request is invalid.");
    goto out;
  }

  s3 = strcmp (scope[3], "s3") == 0;
  sha256_hex (req->body ? (const void *) req->body : "", req->body_len,
      body_hash);
  if (s3) {
    const char *h = vss_http_request_header (req, "X-Amz-Content-Sha256");

    /* A presigned URL cannot know the body: S3 uses UNSIGNED-PAYLOAD. */
    if (!h && presigned)
      h = "UNSIGNED-PAYLOAD";
    if (!h) {
      fail (status, error_type, message, 400, "InvalidRequest",
          "Missing required header for this request: x-amz-content-sha256");
      goto out;
    }
    while (*h == ' ')
      h++;
    if (strcmp (h, "UNSIGNED-PAYLOAD") != 0 && strcmp (h, body_hash) != 0) {
      fail (status, error_type, message, 400, "XAmzContentSHA256Mismatch",
          "The provided 'x-amz-content-sha256' header does not match what "
          "was computed.");
      goto out;
    }
    g_strlcpy (body_hash, h, sizeof (body_hash));
  }

  cr = g_string_new (req->method);
  g_string_append_c (cr, '\n');
  canonical_path (cr, req->path, s3);
  g_string_append_c (cr, '\n');
  canonical_query (cr, req->query, presigned);
  g_string_append_c (cr, '\n');
  names = g_strsplit (signed_hdrs, ";", -1);
  if (!g_strv_contains ((const gchar * const *) names, "host")
      || (!presigned && (!g_strv_contains ((const gchar * const *) names,
                  "x-amz-date") || (token
                  && !g_strv_contains ((const gchar * const *) names,
                      "x-amz-security-token"))))) {
    fail (status, error_type, message, 403, "InvalidSignatureException",
        "host, x-amz-date and x-amz-security-token must be signed");
    goto out;
  }
  for (i = 0; names[i]; i++) {
    guint j, found = 0;

    g_string_append_printf (cr, "%s:", names[i]);
    for (j = 0; j < req->header_names->len; j++) {
      if (g_ascii_strcasecmp (req->header_names->pdata[j], names[i]) != 0)
        continue;
      if (found++)
        g_string_append_c (cr, ',');
      append_trimmed (cr, req->header_values->pdata[j]);
    }
    g_string_append_c (cr, '\n');
  }
  g_string_append_printf (cr, "\n%s\n%s", signed_hdrs, body_hash);

  sha256_hex (cr->str, cr->len, cr_hash);
  sts = g_string_new (NULL);
  g_string_printf (sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
      amz_date, scope[1], scope[2], scope[3], cr_hash);

  ksecret = g_strconcat ("AWS4", cfg->secret_key, NULL);
  hmac (ksecret, (int) strlen (ksecret), scope[1], k);
  OPENSSL_cleanse (ksecret, strlen (ksecret));
  g_free (ksecret);
  hmac (k, 32, scope[2], k);
  hmac (k, 32, scope[3], k);
  hmac (k, 32, "aws4_request", k);
  {
    unsigned char out[32];

    hmac (k, 32, sts->str, out);
    to_hex (out, 32, mine);
  }
  OPENSSL_cleanse (k, sizeof (k));

  if (strlen (sig) != 64 || CRYPTO_memcmp (sig, mine, 64) != 0) {
    tmp = g_strdup_printf ("The request signature we calculated does not "
        "match the signature you provided. Check your AWS Secret Access Key "
        "and signing method.");
    fail (status, error_type, message, 403, "InvalidSignatureException", tmp);
    g_free (tmp);
    goto out;
  }
  *service = g_strdup (scope[3]);
  ok = TRUE;

out:
  if (cr)
    g_string_free (cr, TRUE);
  if (sts)
    g_string_free (sts, TRUE);
  g_strfreev (names);
  g_strfreev (scope);
  g_free (cred);
  g_free (signed_hdrs);
  g_free (sig);
  g_free (q_sig);
  g_free (q_alg);
  g_free (q_date);
  g_free (q_token);
  g_free (q_expires);
  return ok;
}
