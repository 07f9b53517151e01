/* gst-vss: vss-search — search the stored frames from the shell
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   vss-search --text "a woman in a red jacket" -p bedrock -k 5
 *   vss-search --image door.jpg --stream cam1 --since 2h --html hits.html
 *
 * Embeds the query with the same provider settings as vssembed, runs one
 * KNN search (FT.SEARCH) with the stream and time filters, and prints a
 * table (distance, stream, time, object URI), JSON, and/or writes one
 * self-contained HTML page with the thumbnails read from the object store
 * (file:// directly, s3:// with a SigV4-signed GET).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include <gst/gst.h>
#include "gstvss.h"
#include "aws/gstvssaws.h"
#include "bedrock/gstvssbedrockimage.h"
#include "query/gstvssqueryembed.h"
#include "query/gstvssquerysearch.h"
#include "vss-locale.h"
#include "vss-tool.h"

#define MAX_THUMB_BYTES (8 * 1024 * 1024)
#define DEFAULT_VALKEY "redis://127.0.0.1:6379"

static gchar *opt_text, *opt_image, *opt_provider, *opt_model, *opt_region;
static gchar *opt_endpoint, *opt_profile, *opt_valkey, *opt_index;
static gchar *opt_since, *opt_until, *opt_html, *opt_s3_endpoint;
static gchar **opt_streams, **opt_exclude;
static gint opt_k = 10, opt_dimension = 0, opt_timeout_ms = 0;
static gint opt_ef_runtime = 0;
static gdouble opt_max_distance = 2.0;
static gboolean opt_json, opt_fanout, opt_quiet;

static GOptionEntry entries[] = {
  {"text", 0, 0, G_OPTION_ARG_STRING, &opt_text,
      "Search by text (needs --provider bedrock)", "TEXT"},
  {"image", 0, 0, G_OPTION_ARG_FILENAME, &opt_image,
      "Search by an example image (JPEG or PNG)", "FILE"},
  {"k", 'k', 0, G_OPTION_ARG_INT, &opt_k,
      "Results wanted (default 10)", "N"},
  {"stream", 's', 0, G_OPTION_ARG_STRING_ARRAY, &opt_streams,
      "Only frames of this stream (repeat for several)", "ID"},
  {"exclude-stream", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_exclude,
      "Never frames of this stream (repeat for several)", "ID"},
  {"since", 0, 0, G_OPTION_ARG_STRING, &opt_since,
      "Frames captured at or after TIME: ISO 8601 (2026-12-01T09:00:00Z), "
        "unix milliseconds, or an age such as 90s, 10m, 2h, 7d", "TIME"},
  {"until", 0, 0, G_OPTION_ARG_STRING, &opt_until,
      "Frames captured at or before TIME (same forms as --since)", "TIME"},
  {"max-distance", 0, 0, G_OPTION_ARG_DOUBLE, &opt_max_distance,
      "Leave out results farther than this cosine distance (default 2)", "D"},
  {"provider", 'p', 0, G_OPTION_ARG_STRING, &opt_provider,
      "Embedding provider of the stored frames: local (default; image "
        "queries only) or bedrock", "NAME"},
  {"model", 0, 0, G_OPTION_ARG_STRING, &opt_model,
      "Model of the stored frames: local vss-local-v2 (default) or "
        "vss-local-v1; bedrock amazon.titan-embed-image-v1 (default)", "ID"},
  {"dimension", 0, 0, G_OPTION_ARG_INT, &opt_dimension,
      "Bedrock dimension: 256, 384 or 1024 (default 1024)", "N"},
  {"region", 0, 0, G_OPTION_ARG_STRING, &opt_region,
      "AWS region (default from the environment)", "REGION"},
  {"endpoint", 0, 0, G_OPTION_ARG_STRING, &opt_endpoint,
      "Bedrock Runtime endpoint URL (default from the environment)", "URL"},
  {"profile", 0, 0, G_OPTION_ARG_STRING, &opt_profile,
      "AWS profile (default AWS_PROFILE, else default)", "NAME"},
  {"s3-endpoint", 0, 0, G_OPTION_ARG_STRING, &opt_s3_endpoint,
      "S3 endpoint for s3:// thumbnails (default AWS_ENDPOINT_URL_S3, "
        "AWS_ENDPOINT_URL, then AWS's)", "URL"},
  {"valkey", 'V', 0, G_OPTION_ARG_STRING, &opt_valkey,
      "Valkey URL (default redis://127.0.0.1:6379)", "URL"},
  {"index", 0, 0, G_OPTION_ARG_STRING, &opt_index,
      "Search index name (default frames)", "NAME"},
  {"fanout", 0, 0, G_OPTION_ARG_NONE, &opt_fanout,
        "Cluster without a search coordinator: ask every primary and merge",
      NULL},
  {"ef-runtime", 0, 0, G_OPTION_ARG_INT, &opt_ef_runtime,
      "HNSW search breadth, 1..4096 (default: the server's, 10 on "
        "valkey-search; raise it when the nearest frames are missed)", "N"},
  {"timeout", 0, 0, G_OPTION_ARG_INT, &opt_timeout_ms,
      "Server-side search timeout in ms (default: the server's)", "MS"},
  {"json", 'j', 0, G_OPTION_ARG_NONE, &opt_json,
      "Print the results as one JSON object instead of a table", NULL},
  {"html", 0, 0, G_OPTION_ARG_FILENAME, &opt_html,
      "Also write one self-contained HTML page with the thumbnails", "FILE"},
  {"quiet", 'q', 0, G_OPTION_ARG_NONE, &opt_quiet,
      "Print nothing but errors (with --html)", NULL},
  {NULL}
};

/* ---- time arguments ---- */

/* Unix milliseconds and ages beyond this (year 2286, 3170 years) are
 * typing mistakes, and would not fit a gint64 in every unit. */
#define MAX_TIME_NUMBER 1e13

static gboolean
parse_time (const gchar * option, const gchar * s, gint64 now_ms,
    gint64 * out, GError ** error)
{
  gchar *end = NULL;
  gdouble v;
  GDateTime *dt;
  GTimeZone *utc;

  if (!s || !s[0])
    goto bad;
  v = g_ascii_strtod (s, &end);
  if (end != s && !(isfinite (v) && v <= MAX_TIME_NUMBER))
    goto bad;
  if (end != s && *end == '\0' && v >= 0) {
    *out = (gint64) v;
    return TRUE;
  }
  if (end != s && v >= 0 && end[0] && end[1] == '\0') {
    gdouble unit = end[0] == 's' ? 1e3 : end[0] == 'm' ? 60e3 :
        end[0] == 'h' ? 3600e3 : end[0] == 'd' ? 86400e3 : 0;
    if (unit > 0) {
      *out = now_ms - (gint64) (v * unit);
      return TRUE;
    }
  }
  utc = g_time_zone_new_utc ();
  dt = g_date_time_new_from_iso8601 (s, utc);
  g_time_zone_unref (utc);
  if (dt) {
    *out = g_date_time_to_unix (dt) * 1000 +
        g_date_time_get_microsecond (dt) / 1000;
    g_date_time_unref (dt);
    return TRUE;
  }
bad:
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
      "%s '%s' is not a time: use ISO 8601 (2026-12-01T09:00:00Z), unix "
      "milliseconds, or an age such as 90s, 10m, 2h, 7d", option, s ? s : "");
  return FALSE;
}

/* ---- the command line ---- */

static gboolean
not_empty (const gchar * option, const gchar * v, GError ** error)
{
  if (v == NULL || v[0] != '\0')
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
      "%s must not be empty (leave it out for the default)", option);
  return FALSE;
}

static gboolean
none_empty (const gchar * option, gchar ** v, GError ** error)
{
  for (guint i = 0; v && v[i]; i++)
    if (!not_empty (option, v[i], error))
      return FALSE;
  return TRUE;
}

/* Values that make no sense are refused by name, before anything is
 * asked of a server (exit 2). */
static gboolean
check_usage (GError ** error)
{
  const gchar *msg = NULL;

  if (!not_empty ("--text", opt_text, error)
      || !not_empty ("--image", opt_image, error)
      || !none_empty ("--stream", opt_streams, error)
      || !none_empty ("--exclude-stream", opt_exclude, error)
      || !not_empty ("--since", opt_since, error)
      || !not_empty ("--until", opt_until, error)
      || !not_empty ("--provider", opt_provider, error)
      || !not_empty ("--model", opt_model, error)
      || !not_empty ("--region", opt_region, error)
      || !not_empty ("--endpoint", opt_endpoint, error)
      || !not_empty ("--profile", opt_profile, error)
      || !not_empty ("--s3-endpoint", opt_s3_endpoint, error)
      || !not_empty ("--valkey", opt_valkey, error)
      || !not_empty ("--index", opt_index, error)
      || !not_empty ("--html", opt_html, error))
    return FALSE;
  if ((opt_text != NULL) == (opt_image != NULL))
    msg = "give exactly one of --text and --image";
  else if (opt_k < 1 || opt_k > 10000)
    msg = "-k must be 1..10000";
  else if (!(opt_max_distance >= 0 && opt_max_distance <= 2))
    msg = "--max-distance must be a cosine distance, 0 to 2";
  else if (opt_dimension != 0 && opt_dimension != 256 && opt_dimension != 384
      && opt_dimension != 1024)
    msg = "--dimension must be 256, 384 or 1024";
  else if (opt_ef_runtime < 0 || opt_ef_runtime > 4096)
    msg = "--ef-runtime must be 1..4096 (or 0 for the server's default)";
  else if (opt_timeout_ms < 0)
    msg = "--timeout must be 0 (the server's) or more milliseconds";
  if (msg != NULL) {
    g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, msg);
    return FALSE;
  }
  return TRUE;
}

/* ---- thumbnails ---- */

/* GET s3://bucket/key through a store of that bucket (one per bucket,
 * kept for the run): signed, retried, path-style at custom endpoints. */
static GHashTable *stores;      /* "s3://bucket" -> VssStore */

/* The AWS settings of the command line, for one service's endpoint. */
static void
aws_settings (GstVssAwsSettings * s, const gchar * endpoint)
{
  memset (s, 0, sizeof (*s));
  s->region = opt_region;
  s->profile = opt_profile;
  s->endpoint_url = endpoint;
}

static GBytes *
fetch_s3 (const gchar * uri, GError ** error)
{
  const gchar *rest = uri + 5, *slash = strchr (rest, '/');
  VssStore *store;
  gchar *root;

  if (!slash || slash == rest || !slash[1]) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "'%s' is not s3://bucket/key", uri);
    return NULL;
  }
  if (!stores)
    stores = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
        (GDestroyNotify) vss_store_free);
  root = g_strndup (uri, slash - uri);
  store = g_hash_table_lookup (stores, root);
  if (!store) {
    GstVssAwsSettings s;
    VssStoreOptions o = { 0, };

    aws_settings (&s, opt_s3_endpoint);
    o.aws = &s;
    o.max_retries = G_MAXUINT;
    store = vss_store_new (root, &o, error);
    if (!store) {
      g_free (root);
      return NULL;
    }
    g_hash_table_insert (stores, g_strdup (root), store);
  }
  g_free (root);
  return vss_store_get (store, slash + 1, MAX_THUMB_BYTES, error);
}

static GBytes *
fetch_object (const gchar * uri, GError ** error)
{
  if (!uri || !uri[0]) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
        "the frame has no object URI");
    return NULL;
  }
  if (g_str_has_prefix (uri, "file://")) {
    gchar *path = g_filename_from_uri (uri, NULL, error);
    gchar *data;
    gsize len;

    if (!path)
      return NULL;
    if (!g_file_get_contents (path, &data, &len, error)) {
      g_free (path);
      return NULL;
    }
    g_free (path);
    if (len > MAX_THUMB_BYTES) {
      g_free (data);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "larger than %d MB",
          MAX_THUMB_BYTES >> 20);
      return NULL;
    }
    return g_bytes_new_take (data, len);
  }
  if (g_str_has_prefix (uri, "s3://"))
    return fetch_s3 (uri, error);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
      "unsupported object URI scheme (file:// and s3:// are read)");
  return NULL;
}

/* ---- output ---- */

static void
print_table (GPtrArray * res)
{
  printf ("%-9s  %-16s  %-24s  %-20s  %s\n", "DISTANCE", "STREAM", "TIME",
      "SOURCE", "URI");
  for (guint i = 0; i < res->len; i++) {
    GstVssQuerySearchResult *r = g_ptr_array_index (res, i);
    gchar *t = gst_vss_record_format_time (r->record.ts_ms);
    gchar *src = gst_vss_record_format_source (&r->record);

    printf ("%-9.6f  %-16s  %-24s  %-20s  %s\n", r->distance,
        r->record.stream ? r->record.stream : "-", t[0] ? t : "-",
        src[0] ? src : "-", r->record.uri ? r->record.uri : "-");
    g_free (src);
    g_free (t);
  }
  if (res->len == 0)
    printf ("(no frames found)\n");
}

static void
print_json (GPtrArray * res, gdouble took_ms)
{
  json_t *o = json_object (), *a = json_array ();
  gchar *s;

  json_object_set_new (o, "query", json_string (opt_text ? opt_text :
          opt_image));
  json_object_set_new (o, "kind", json_string (opt_text ? "text" : "image"));
  json_object_set_new (o, "k", json_integer (opt_k));
  /* Measurements, rounded to what they mean (a distance comes from
   * float32 vectors: 6 decimals; a time to the microsecond), printed
   * with 15 significant digits: 0.422, not 0.42199999094009399. */
  json_object_set_new (o, "took_ms", json_real (round (took_ms * 1e3) / 1e3));
  for (guint i = 0; i < res->len; i++) {
    GstVssQuerySearchResult *r = g_ptr_array_index (res, i);
    gchar *t = gst_vss_record_format_time (r->record.ts_ms);
    json_t *e = json_pack ("{s:s,s:f,s:s?,s:s,s:I,s:s,s:s?,s:s?}",
        "key", r->key, "distance", round (r->distance * 1e6) / 1e6,
        "stream", r->record.stream,
        "frame_id", r->record.id, "ts", (json_int_t) r->record.ts_ms, "time", t,
        "uri", r->record.uri, "model", r->record.model);

    if (r->record.pts >= 0)
      json_object_set_new (e, "pts", json_integer ((json_int_t) r->record.pts));
    /* Frames of a file: which one, and where in it. */
    if (r->record.source)
      json_object_set_new (e, "source", json_string (r->record.source));
    if (r->record.position_ms >= 0)
      json_object_set_new (e, "position_ms",
          json_integer ((json_int_t) r->record.position_ms));
    json_array_append_new (a, e);
    g_free (t);
  }
  json_object_set_new (o, "results", a);
  s = json_dumps (o, JSON_INDENT (2) | JSON_PRESERVE_ORDER |
      JSON_REAL_PRECISION (15));
  printf ("%s\n", s);
  free (s);
  json_decref (o);
}

/* The page's only style sheet; its hash is in the page's policy. */
static const gchar page_style[] =
    "\nbody{font-family:sans-serif;margin:16px;background:#fff;color:#222}\n"
    ".grid{display:flex;flex-wrap:wrap;gap:12px}\n"
    "figure{margin:0;width:320px;border:1px solid #ccc;padding:6px}\n"
    "figure img{display:block;width:320px;height:240px;object-fit:cover}\n"
    ".missing{width:320px;height:240px;display:flex;align-items:center;"
    "justify-content:center;background:#eee;color:#a00;text-align:center}\n"
    "figcaption{font-size:13px;margin-top:4px;word-break:break-all}\n"
    ".d{font-weight:bold;font-size:15px}\n";

/* Stored URIs are data: whatever wrote the frame put there. Only these
 * schemes become links; anything else (javascript:, data:, ...) is shown
 * as text. */
static gboolean
uri_is_linkable (const gchar * uri)
{
  static const gchar *schemes[] = { "s3://", "file://", "http://",
    "https://", NULL
  };

  for (guint i = 0; uri && schemes[i]; i++)
    if (g_ascii_strncasecmp (uri, schemes[i], strlen (schemes[i])) == 0)
      return TRUE;
  return FALSE;
}

/* The page needs nothing but its own style sheet and data: images: the
 * policy forbids everything else, scripts first, so that even markup that
 * slipped in could not run. */
static gchar *
page_policy (void)
{
  GChecksum *c = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 digest[32];
  gsize len = sizeof digest;
  gchar *b64, *policy;

  g_checksum_update (c, (const guchar *) page_style, strlen (page_style));
  g_checksum_get_digest (c, digest, &len);
  g_checksum_free (c);
  b64 = g_base64_encode (digest, len);
  policy = g_strdup_printf ("default-src 'none'; img-src data:; "
      "style-src 'sha256-%s'; base-uri 'none'; form-action 'none'", b64);
  g_free (b64);
  return policy;
}

static gboolean
write_html (const gchar * path, GPtrArray * res, gdouble took_ms,
    guint * n_thumbs, GError ** error)
{
  GString *h = g_string_new (NULL);
  gchar *q = g_markup_escape_text (opt_text ? opt_text : opt_image, -1);
  gchar *now = gst_vss_record_format_time (g_get_real_time () / 1000);
  gchar *policy = page_policy ();
  gboolean ok;

  *n_thumbs = 0;
  g_string_append_printf (h, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
      "<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" "
      "content=\"%s\">\n<title>vss-search: %s</title>\n<style>%s</style>"
      "</head><body>\n", policy, q, page_style);
  g_free (policy);
  g_string_append_printf (h, "<h1>%s query: &ldquo;%s&rdquo;</h1>\n",
      opt_text ? "Text" : "Image", q);
  g_string_append_printf (h, "<p>%u frame%s, nearest first (cosine "
      "distance; 0 is identical). k=%d, searched in %.1f ms, %s.</p>\n",
      res->len, res->len == 1 ? "" : "s", opt_k, took_ms, now);
  g_string_append (h, "<div class=\"grid\">\n");
  for (guint i = 0; i < res->len; i++) {
    GstVssQuerySearchResult *r = g_ptr_array_index (res, i);
    GError *err = NULL;
    GBytes *img = fetch_object (r->record.uri, &err);
    gchar *t = gst_vss_record_format_time (r->record.ts_ms);
    gchar *key = g_markup_escape_text (r->key, -1);
    gchar *stream =
        g_markup_escape_text (r->record.stream ? r->record.stream : "-", -1);
    gchar *uri = g_markup_escape_text (r->record.uri ? r->record.uri : "", -1);
    gchar *src_text = gst_vss_record_format_source (&r->record);
    gchar *src = g_markup_escape_text (src_text, -1);
    const gchar *mime = NULL;
    guint w, hh;

    g_string_append (h, "<figure class=\"hit\">");
    if (img && gst_vss_bedrock_image_probe (g_bytes_get_data (img, NULL),
            g_bytes_get_size (img), &mime, &w, &hh)) {
      gchar *b64 = g_base64_encode (g_bytes_get_data (img, NULL),
          g_bytes_get_size (img));
      g_string_append_printf (h, "<img alt=\"%s\" src=\"data:%s;base64,%s\">",
          key, mime, b64);
      g_free (b64);
      (*n_thumbs)++;
    } else {
      gchar *why = g_markup_escape_text (err ? err->message :
          "not a JPEG or PNG image", -1);
      g_string_append_printf (h, "<div class=\"missing\">no thumbnail: %s"
          "</div>", why);
      g_free (why);
    }
    g_string_append_printf (h, "<figcaption><span class=\"d\">%.4f</span> "
        "&middot; %s &middot; %s", r->distance, stream, t[0] ? t : "-");
    if (src[0])
      g_string_append_printf (h, " &middot; <span class=\"src\">%s</span>",
          src);
    g_string_append_printf (h, "<br><code>%s</code>", key);
    if (uri[0] && uri_is_linkable (r->record.uri))
      g_string_append_printf (h, "<br><a href=\"%s\">%s</a>", uri, uri);
    else if (uri[0])
      g_string_append_printf (h, "<br><code>%s</code>", uri);
    g_string_append (h, "</figcaption></figure>\n");
    g_clear_error (&err);
    if (img)
      g_bytes_unref (img);
    g_free (t);
    g_free (key);
    g_free (stream);
    g_free (uri);
    g_free (src);
    g_free (src_text);
  }
  if (res->len == 0)
    g_string_append (h, "<p>No frames found.</p>\n");
  g_string_append (h, "</div>\n</body></html>\n");
  ok = g_file_set_contents (path, h->str, h->len, error);
  g_string_free (h, TRUE);
  g_free (q);
  g_free (now);
  return ok;
}

/* ---- a search the server refused ---- */

/* What the server said, in the user's terms: a server without vector
 * search gets vss-ingest's advice, an index of another dimension is named
 * with both dimensions, a missing index is named; otherwise the server's
 * words, without the binary query it may quote. */
static gchar *
explain_search_error (VssValkeyClient * client,
    const GstVssQuerySearchRequest * r, GstVssQueryEmbedder * e,
    const GError * err)
{
  const gchar *index = r->index ? r->index : GST_VSS_RECORD_DEFAULT_INDEX;
  gchar *masked = vss_valkey_url_mask (opt_valkey ? opt_valkey :
      DEFAULT_VALKEY);
  const gchar *argv[] = { "FT.INFO", index };
  gsize argvlen[] = { 7, strlen (index) };
  gboolean has_search = TRUE;
  VssValkeyReply *info_reply = NULL;
  VssValkeyIndexInfo *info = NULL;
  GError *info_err = NULL;
  gchar *msg = NULL;

  if (!g_error_matches (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_SERVER))
    goto plain;
  if (vss_tool_has_vector_search (client, &has_search, NULL) && !has_search) {
    msg = vss_tool_no_search_advice (masked);
    goto out;
  }
  /* An error reply comes back as a server error. */
  info_reply = vss_valkey_command (client, NULL, &info_err, 2, argv, argvlen);
  if (g_error_matches (info_err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_SERVER)) {
    gchar *why = vss_tool_printable (info_err->message, 300);

    msg = g_strdup_printf ("there is no index '%s' at %s (%s).\n  vss-ingest "
        "and vsssink create it with their first frame; --index names "
        "another one (FT._LIST lists them).", index, masked, why);
    g_free (why);
    goto out;
  }
  if (info_reply != NULL)
    info = vss_valkey_index_info_parse (info_reply, NULL);
  if (info != NULL && info->dim > 0 && info->dim != r->dim) {
    msg = g_strdup_printf ("the index '%s' holds %u-dimensional vectors, but "
        "this query's vector has %u (%s, model %s).\n  Frames embedded with "
        "this provider and model are in another index: give it with --index "
        "(FT._LIST lists them), or choose the provider, --model and "
        "--dimension the index was made with.", index, info->dim, r->dim,
        opt_provider ? opt_provider : "local",
        gst_vss_query_embedder_get_model (e));
    goto out;
  }
plain:
  {
    gchar *text = vss_tool_printable (err->message, 500);

    msg = g_strdup_printf ("%s", text);
    g_free (text);
  }
out:
  g_clear_error (&info_err);
  g_clear_pointer (&info, vss_valkey_index_info_free);
  if (info_reply)
    freeReplyObject (info_reply);
  g_free (masked);
  return msg;
}

int
main (int argc, char **argv)
{
  GOptionContext *ctx;
  GstVssQueryEmbedderOptions eo = { 0, };
  GstVssAwsSettings aws = { 0, };
  GstVssQueryEmbedder *e = NULL;
  VssValkeyClient *client = NULL;
  GstVssQuerySearchRequest r;
  GPtrArray *res = NULL;
  GError *err = NULL;
  gfloat *v = NULL;
  gint64 now_ms = g_get_real_time () / 1000, t0;
  gdouble took_ms;
  gint ret = 1;

  vss_tool_setlocale ();
  ctx = g_option_context_new ("- search the stored video frames by text or "
      "example image");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_description (ctx, "Prints DISTANCE, STREAM, TIME "
      "(capture time, UTC) and the object URI of the nearest frames.\n"
      "Exit status: 0 with results, 1 on errors, 2 on bad usage.");
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    fprintf (stderr, "vss-search: %s\n", err->message);
    g_error_free (err);
    g_option_context_free (ctx);
    return 2;
  }
  g_option_context_free (ctx);
  gst_init (NULL, NULL);

  gst_vss_query_search_request_init (&r);
  if (!check_usage (&err)
      || (opt_since && !parse_time ("--since", opt_since, now_ms, &r.since_ms,
              &err))
      || (opt_until && !parse_time ("--until", opt_until, now_ms, &r.until_ms,
              &err))) {
    fprintf (stderr, "vss-search: %s\n", err->message);
    g_error_free (err);
    return 2;
  }
  if (!opt_provider || !strcmp (opt_provider, "local"))
    eo.provider = GST_VSS_QUERY_PROVIDER_LOCAL;
  else if (!strcmp (opt_provider, "bedrock"))
    eo.provider = GST_VSS_QUERY_PROVIDER_BEDROCK;
  else {
    fprintf (stderr, "vss-search: unknown provider '%s' (local or bedrock)\n",
        opt_provider);
    return 2;
  }
  aws_settings (&aws, opt_endpoint);
  eo.aws = &aws;
  eo.model = opt_model;
  eo.dim = (guint) MAX (opt_dimension, 0);
  e = gst_vss_query_embedder_new (&eo, &err);
  if (!e)
    goto failed;
  v = opt_text ? gst_vss_query_embedder_embed_text (e, opt_text, &err) :
      gst_vss_query_embedder_embed_file (e, opt_image, &err);
  if (!v)
    goto failed;

  client = vss_valkey_client_new_from_url (opt_valkey ? opt_valkey :
      DEFAULT_VALKEY, &err);
  if (!client)
    goto failed;
  r.index = opt_index;
  r.vector = v;
  r.dim = gst_vss_query_embedder_get_dim (e);
  r.k = (guint) opt_k;
  r.streams = (const gchar * const *) opt_streams;
  r.exclude_streams = (const gchar * const *) opt_exclude;
  r.max_distance = opt_max_distance;
  r.timeout_ms = (guint) MAX (opt_timeout_ms, 0);
  r.ef_runtime = (guint) MAX (opt_ef_runtime, 0);
  t0 = g_get_monotonic_time ();
  res = gst_vss_query_search_run (client, &r, opt_fanout, NULL, &err);
  took_ms = (g_get_monotonic_time () - t0) / 1000.0;
  if (!res) {
    gchar *why = explain_search_error (client, &r, e, err);

    fprintf (stderr, "vss-search: %s\n", why);
    g_free (why);
    g_clear_error (&err);
    ret = 1;
    goto done;
  }

  if (opt_html) {
    guint n_thumbs;

    if (!write_html (opt_html, res, took_ms, &n_thumbs, &err))
      goto failed;
    if (!opt_quiet && !opt_json)
      fprintf (stderr, "vss-search: wrote %s (%u of %u thumbnails)\n",
          opt_html, n_thumbs, res->len);
  }
  if (opt_json)
    print_json (res, took_ms);
  else if (!opt_quiet)
    print_table (res);
  ret = 0;

done:
  if (res)
    g_ptr_array_unref (res);
  if (client)
    vss_valkey_client_free (client);
  gst_vss_query_embedder_free (e);
  g_free (v);
  g_clear_pointer (&stores, g_hash_table_unref);
  return ret;

failed:
  {
    gchar *masked = opt_valkey ? vss_valkey_url_mask (opt_valkey) : NULL;
    gchar *text = vss_tool_printable (err->message, 500);

    fprintf (stderr, "vss-search: %s\n", text);
    g_free (text);
    if (masked && strstr (err->message, "connect"))
      fprintf (stderr, "vss-search: (Valkey at %s)\n", masked);
    g_free (masked);
    g_error_free (err);
    ret = 1;
    goto done;
  }
}
