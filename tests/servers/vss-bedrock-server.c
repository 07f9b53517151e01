/* gst-vss test servers: a local Bedrock Runtime InvokeModel for Titan
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Speaks POST /model/<modelId>/invoke for amazon.titan-embed-image-v1 and
 * amazon.titan-embed-text-v2:0, verifies SigV4 exactly (vsssigcheck.c),
 * answers with deterministic embeddings and injects faults on demand.
 *
 * Embeddings: a key is hashed (SHA-256) to seed a generator of Gaussian
 * numbers, normalised to unit length. An image's key is
 * "image:<sha256 hex of its bytes>"; a text's key is the same string when
 * the text is literally "image:<hex>" or is mapped to an image by the text
 * map, so such a text gets exactly that image's vector; any other text gets
 * its own vector. Text V2 uses its own key space ("text-v2:"). A map entry
 * with a distance ({"image": file, "distance": 0.1} in the file,
 * {"sha256": hex, "distance": 0.1} in /_control) gives the text a vector at
 * exactly that cosine distance from the image's, so tests can place texts
 * inside or outside a threshold.
 *
 *   vss-bedrock-server --access-key AK --secret-key SK [--session-token T]
 *       [--region R] [--port N] [--text-map FILE] [--latency-ms N]
 *       [--throttle N] [--error-5xx N] [--error-status 500|503]
 *       [--error-rate F] [--hang N] [--hang-ms N] [--malformed N]
 *       [--truncate N] [--wrong-length N] [--max-skew-s N]
 *       [--error-type-suffix]
 *
 * Prints "PORT <n>" on stdout once listening. Exits on SIGTERM, SIGINT, or
 * when stdin (if it is a pipe or socket) reaches end of file.
 *
 * Unsigned control endpoints:
 *   POST /_control {"latency_ms":100, "throttle":5, "error_5xx":2,
 *     "error_status":503, "error_rate":0.1, "hang":1, "hang_ms":5000,
 *     "malformed":1, "truncate":1, "wrong_length":1, "clock_offset_s":3600,
 *     "retry_after_s":1,
 *     "map":{"a text":"<sha256 hex of an image>"},
 *     "error_type_suffix":true, "reset":true}
 *     Counts apply to the next N invoke requests; "reset" first returns to
 *     the command-line state. Answers the settings. clock_offset_s moves
 *     the clock that signatures are checked against and that every answer
 *     states in its Date header (as AWS does), so clients can learn it;
 *     retry_after_s adds Retry-After to throttled answers (-1: none).
 *   GET /_stats  counters as JSON.
 *   PUT /<bucket>/<key> signed for service "s3": 200 (lets tests check
 *     S3 signing rules against this verifier).
 *
 * Locking: `lock` guards `Settings` and `Stats`; never held while sleeping
 * or building a response body.
 */
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib-unix.h>
#include <jansson.h>
#include "vsshttpd.h"
#include "vsssigcheck.h"

#define IMAGE_MODEL "amazon.titan-embed-image-v1"
#define TEXT_MODEL "amazon.titan-embed-text-v2:0"
#define MAX_REQUEST_BYTES 25000000

typedef struct
{
  gint latency_ms;
  gint throttle;
  gint error_5xx;
  gint error_status;
  gdouble error_rate;
  gint hang;
  gint hang_ms;
  gint malformed;
  gint truncate;
  gint wrong_length;
  gint clock_offset_s;          /* the server's clock runs this far ahead */
  gint retry_after_s;           /* throttled answers say Retry-After: N */
} Settings;

typedef struct
{
  guint64 requests, invokes, ok, throttled, errors_5xx, auth_failures,
      validation_errors, hung, malformed, truncated, wrong_length, s3_puts,
      image_inputs, text_inputs;
  gint in_flight, max_in_flight;
} Stats;

static GMutex lock;
static Settings settings;
static Settings startup_settings;       /* what "reset" returns to */
static GHashTable *startup_map;
static gboolean startup_type_suffix;
static Stats stats;
static GHashTable *text_map;    /* text -> "image:<hex>" */
static GRand *rng;
static gchar *opt_access_key, *opt_secret_key, *opt_token, *opt_region;
static gint opt_max_skew = 900;
/* Real Bedrock may send "ThrottlingException:http://internal.amazon.com/
 * coral/com.amazon.bedrock/"; clients must keep only what precedes ':'. */
static gboolean opt_type_suffix;
#define CORAL_SUFFIX ":http://internal.amazon.com/coral/com.amazon.bedrock/"

static gboolean
take (gint * counter)
{
  if (*counter > 0) {
    (*counter)--;
    return TRUE;
  }
  return FALSE;
}

static gchar *
image_key (const guint8 * data, gsize len)
{
  gchar *hex = g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, len);
  gchar *key = g_strconcat ("image:", hex, NULL);

  g_free (hex);
  return key;
}

static gboolean
is_image_key (const gchar * s)
{
  guint i;

  if (!g_str_has_prefix (s, "image:") || strlen (s) != 6 + 64)
    return FALSE;
  for (i = 6; i < 70; i++)
    if (!g_ascii_isxdigit (s[i]) || g_ascii_isupper (s[i]))
      return FALSE;
  return TRUE;
}

/* splitmix64 seeded from the key's hash, Box-Muller for Gaussians. */
static guint64
splitmix (guint64 * s)
{
  guint64 z = (*s += G_GUINT64_CONSTANT (0x9E3779B97F4A7C15));

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94D049BB133111EB);
  return z ^ (z >> 31);
}

static void
key_vector (const gchar * key, gfloat * out, guint dim)
{
  guint8 digest[32];
  gsize dlen = sizeof (digest);
  GChecksum *c = g_checksum_new (G_CHECKSUM_SHA256);
  guint64 state;
  gdouble norm = 0;
  guint i;

  g_checksum_update (c, (const guchar *) key, -1);
  g_checksum_get_digest (c, digest, &dlen);
  g_checksum_free (c);
  memcpy (&state, digest, sizeof (state));
  for (i = 0; i < dim; i += 2) {
    gdouble u1 = ((splitmix (&state) >> 11) + 1.0) / 9007199254740993.0;
    gdouble u2 = (splitmix (&state) >> 11) / 9007199254740992.0;
    gdouble r = sqrt (-2.0 * log (u1));

    out[i] = (gfloat) (r * cos (2 * G_PI * u2));
    if (i + 1 < dim)
      out[i + 1] = (gfloat) (r * sin (2 * G_PI * u2));
  }
  for (i = 0; i < dim; i++)
    norm += (gdouble) out[i] * out[i];
  norm = sqrt (norm);
  for (i = 0; i < dim; i++)
    out[i] = (gfloat) (out[i] / norm);
}

/* The unit vector at cosine distance @distance (0..2) from @key's vector,
 * in the plane of @key's and @other's vectors. */
static void
close_vector (const gchar * key, const gchar * other, gdouble distance,
    gfloat * out, guint dim)
{
  gfloat *a = g_new (gfloat, dim), *b = g_new (gfloat, dim);
  gdouble dot = 0, norm = 0, c = 1.0 - distance, sn;
  guint i;

  c = CLAMP (c, -1.0, 1.0);
  sn = sqrt (1.0 - c * c);
  key_vector (key, a, dim);
  key_vector (other, b, dim);
  for (i = 0; i < dim; i++)
    dot += (gdouble) a[i] * b[i];
  for (i = 0; i < dim; i++) {
    b[i] = (gfloat) (b[i] - dot * a[i]);
    norm += (gdouble) b[i] * b[i];
  }
  norm = sqrt (norm);
  for (i = 0; i < dim; i++)
    out[i] = (gfloat) (c * a[i] + sn * b[i] / norm);
  g_free (a);
  g_free (b);
}

static void
set_error (VssHttpResponse * resp, guint status, const gchar * type,
    const gchar * message)
{
  json_t *o = json_pack ("{s:s}", "message", message);
  gchar *s = json_dumps (o, JSON_COMPACT);

  vss_http_response_set_json (resp, status, s);
  g_string_append_printf (resp->headers, "x-amzn-ErrorType: %s%s\r\n", type,
      g_atomic_int_get (&opt_type_suffix) ? CORAL_SUFFIX : "");
  free (s);
  json_decref (o);
}

/* The server's time, as AWS states it on every answer. */
static void
add_date (VssHttpResponse * resp, gint64 unix_s)
{
  GDateTime *dt = g_date_time_new_from_unix_utc (unix_s);
  gchar *d = g_date_time_format (dt, "%a, %d %b %Y %H:%M:%S GMT");

  g_string_append_printf (resp->headers, "Date: %s\r\n", d);
  g_free (d);
  g_date_time_unref (dt);
}

static gboolean
valid_base64 (const gchar * s)
{
  gsize n = strlen (s), i, pad = 0;

  if (n == 0 || n % 4 != 0)
    return FALSE;
  for (i = 0; i < n; i++) {
    gchar c = s[i];

    if (c == '=') {
      pad++;
      if (i < n - 2)
        return FALSE;
    } else if (pad || !(g_ascii_isalnum (c) || c == '+' || c == '/')) {
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
looks_like_image (const guint8 * d, gsize n)
{
  static const guint8 png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

  return (n >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff)
      || (n >= 8 && memcmp (d, png, 8) == 0);
}

static guint
token_count (const gchar * text)
{
  gchar **w = g_strsplit_set (text, " \t\n", -1);
  guint n = 0, i;

  for (i = 0; w[i]; i++)
    n += w[i][0] != '\0';
  g_strfreev (w);
  return MAX (n, 1);
}

static void
append_vector (GString * out, const gfloat * v, guint dim)
{
  guint i;

  g_string_append_c (out, '[');
  for (i = 0; i < dim; i++) {
    gchar num[G_ASCII_DTOSTR_BUF_SIZE];

    if (i)
      g_string_append_c (out, ',');
    g_string_append (out, g_ascii_formatd (num, sizeof (num), "%.7g", v[i]));
  }
  g_string_append_c (out, ']');
}

/* Builds the success body or sets an error. Returns TRUE on success. */
static gboolean
invoke_model (const gchar * model, json_t * in, VssHttpResponse * resp,
    gboolean wrong_length)
{
  gboolean is_image = strcmp (model, IMAGE_MODEL) == 0;
  json_t *jtext = json_object_get (in, "inputText");
  json_t *jimage = json_object_get (in, "inputImage");
  const gchar *text = json_string_value (jtext);
  guint dim = 1024, sent_dim, tokens = 0;
  gboolean normalize = TRUE;
  gfloat *v, *v2;
  gchar *key;
  GString *body;
  guint i;

  if (!json_is_object (in)) {
    set_error (resp, 400, "ValidationException",
        "Malformed input request: expected a JSON object");
    return FALSE;
  }
  if (jtext && !text) {
    set_error (resp, 400, "ValidationException",
        "Malformed input request: inputText must be a string");
    return FALSE;
  }
  if (text && text[0] == '\0') {
    set_error (resp, 400, "ValidationException",
        "Malformed input request: inputText must not be empty");
    return FALSE;
  }

  if (is_image) {
    json_t *cfg = json_object_get (in, "embeddingConfig");
    json_t *len = cfg ? json_object_get (cfg, "outputEmbeddingLength") : NULL;

    if (jimage && !json_is_string (jimage)) {
      set_error (resp, 400, "ValidationException",
          "Malformed input request: inputImage must be a string");
      return FALSE;
    }
    if (!text && !jimage) {
      set_error (resp, 400, "ValidationException",
          "Malformed input request: at least one of inputText or inputImage "
          "is required");
      return FALSE;
    }
    if (len) {
      json_int_t l = json_integer_value (len);

      if (!json_is_integer (len) || (l != 256 && l != 384 && l != 1024)) {
        set_error (resp, 400, "ValidationException",
            "Malformed input request: outputEmbeddingLength must be one of "
            "256, 384, 1024");
        return FALSE;
      }
      dim = (guint) l;
    }
  } else {
    json_t *d = json_object_get (in, "dimensions");
    json_t *n = json_object_get (in, "normalize");

    if (!text) {
      set_error (resp, 400, "ValidationException",
          "Malformed input request: required key [inputText] not found");
      return FALSE;
    }
    if (jimage) {
      set_error (resp, 400, "ValidationException",
          "Malformed input request: extraneous key [inputImage] is not "
          "permitted");
      return FALSE;
    }
    if (d) {
      json_int_t l = json_integer_value (d);

      if (!json_is_integer (d) || (l != 256 && l != 512 && l != 1024)) {
        set_error (resp, 400, "ValidationException",
            "Malformed input request: dimensions must be one of 256, 512, "
            "1024");
        return FALSE;
      }
      dim = (guint) l;
    }
    if (n && !json_is_boolean (n)) {
      set_error (resp, 400, "ValidationException",
          "Malformed input request: normalize must be a boolean");
      return FALSE;
    }
    normalize = n ? json_is_true (n) : TRUE;
  }

  v = g_new0 (gfloat, dim);
  v2 = g_new0 (gfloat, dim);
  if (is_image && jimage) {
    const gchar *b64 = json_string_value (jimage);
    guint8 *img;
    gsize img_len;

    if (!valid_base64 (b64)) {
      g_free (v);
      g_free (v2);
      set_error (resp, 400, "ValidationException",
          "Malformed input request: inputImage is not valid base64");
      return FALSE;
    }
    img = g_base64_decode (b64, &img_len);
    if (!looks_like_image (img, img_len)) {
      g_free (img);
      g_free (v);
      g_free (v2);
      set_error (resp, 400, "ValidationException",
          "Unable to process provided image: expected JPEG or PNG");
      return FALSE;
    }
    key = image_key (img, img_len);
    g_free (img);
    key_vector (key, v, dim);
    g_free (key);
    g_mutex_lock (&lock);
    stats.image_inputs++;
    g_mutex_unlock (&lock);
  }
  if (text) {
    const gchar *mapped;

    g_mutex_lock (&lock);
    mapped = is_image ? g_hash_table_lookup (text_map, text) : NULL;
    key = mapped ? g_strdup (mapped) : NULL;
    stats.text_inputs++;
    g_mutex_unlock (&lock);
    if (key && strchr (key, '@')) {
      /* "image:<hex>@<distance>": a vector at exactly that cosine distance
       * from the image's, rotated towards the text's own vector. */
      gchar *at = strchr (key, '@');
      gdouble d = g_ascii_strtod (at + 1, NULL);
      gchar *tkey = g_strconcat ("text:", text, NULL);

      *at = '\0';
      close_vector (key, tkey, d, v2, dim);
      g_free (tkey);
    } else {
      if (!key)
        key = is_image ? (is_image_key (text) ? g_strdup (text) :
            g_strconcat ("text:", text, NULL)) : g_strconcat ("text-v2:", text,
            NULL);
      key_vector (key, v2, dim);
    }
    g_free (key);
    tokens = token_count (text);
    /* Both inputs: Titan returns one averaged vector. */
    for (i = 0; i < dim; i++)
      v[i] = jimage ? (v[i] + v2[i]) / 2 : v2[i];
  }
  if (!normalize)
    for (i = 0; i < dim; i++)
      v[i] *= 3.5f;

  sent_dim = wrong_length ? dim - 1 : dim;
  body = g_string_sized_new (dim * 12 + 128);
  g_string_append (body, "{\"embedding\":");
  append_vector (body, v, sent_dim);
  g_string_append_printf (body, ",\"inputTextTokenCount\":%u", tokens);
  if (is_image) {
    g_string_append (body, ",\"message\":null");
  } else {
    g_string_append (body, ",\"embeddingsByType\":{\"float\":");
    append_vector (body, v, sent_dim);
    g_string_append_c (body, '}');
  }
  g_string_append_c (body, '}');
  vss_http_response_set_json (resp, 200, body->str);
  g_string_free (body, TRUE);
  g_free (v);
  g_free (v2);
  return TRUE;
}

static gchar *
settings_json (void)
{
  json_t *o;
  gchar *s;

  g_mutex_lock (&lock);
  o = json_pack ("{s:i,s:i,s:i,s:i,s:f,s:i,s:i,s:i,s:i,s:i,s:i}",
      "latency_ms", settings.latency_ms, "throttle", settings.throttle,
      "error_5xx", settings.error_5xx, "error_status", settings.error_status,
      "error_rate", settings.error_rate, "hang", settings.hang, "hang_ms",
      settings.hang_ms, "malformed", settings.malformed, "truncate",
      settings.truncate, "wrong_length", settings.wrong_length, "map_size",
      (int) g_hash_table_size (text_map));
  g_mutex_unlock (&lock);
  s = json_dumps (o, JSON_COMPACT);
  json_decref (o);
  return s;
}

static gchar *
stats_json (void)
{
  json_t *o;
  gchar *s;

  g_mutex_lock (&lock);
  o = json_pack ("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
      "s:I,s:i,s:i}",
      "requests", (json_int_t) stats.requests,
      "invokes", (json_int_t) stats.invokes,
      "ok", (json_int_t) stats.ok,
      "throttled", (json_int_t) stats.throttled,
      "errors_5xx", (json_int_t) stats.errors_5xx,
      "auth_failures", (json_int_t) stats.auth_failures,
      "validation_errors", (json_int_t) stats.validation_errors,
      "hung", (json_int_t) stats.hung,
      "malformed", (json_int_t) stats.malformed,
      "truncated", (json_int_t) stats.truncated,
      "wrong_length", (json_int_t) stats.wrong_length,
      "s3_puts", (json_int_t) stats.s3_puts,
      "image_inputs", (json_int_t) stats.image_inputs,
      "text_inputs", (json_int_t) stats.text_inputs,
      "in_flight", stats.in_flight, "max_in_flight", stats.max_in_flight);
  g_mutex_unlock (&lock);
  s = json_dumps (o, JSON_COMPACT);
  json_decref (o);
  return s;
}

static void
settings_reset (void)
{
  memset (&settings, 0, sizeof (settings));
  settings.error_status = 500;
  settings.hang_ms = 60000;
  settings.retry_after_s = -1;
}

static gboolean
apply_control (json_t * o, gchar ** err)
{
  const gchar *k;
  json_t *v;

  if (!json_is_object (o)) {
    *err = g_strdup ("control body must be a JSON object");
    return FALSE;
  }
  g_mutex_lock (&lock);
  if (json_is_true (json_object_get (o, "reset"))) {
    GHashTableIter it;
    gpointer k0, v0;

    settings = startup_settings;
    g_hash_table_remove_all (text_map);
    g_hash_table_iter_init (&it, startup_map);
    while (g_hash_table_iter_next (&it, &k0, &v0))
      g_hash_table_insert (text_map, g_strdup (k0), g_strdup (v0));
    g_atomic_int_set (&opt_type_suffix, startup_type_suffix);
  }
  json_object_foreach (o, k, v) {
    gint *field = NULL;

    if (strcmp (k, "reset") == 0)
      continue;
    if (strcmp (k, "error_type_suffix") == 0 && json_is_boolean (v)) {
      g_atomic_int_set (&opt_type_suffix, json_is_true (v));
      continue;
    }
    if (strcmp (k, "error_rate") == 0 && json_is_number (v)) {
      settings.error_rate = CLAMP (json_number_value (v), 0.0, 1.0);
      continue;
    }
    if (strcmp (k, "map") == 0 && json_is_object (v)) {
      const gchar *text;
      json_t *hex;

      json_object_foreach (v, text, hex) {
        json_t *h = json_is_object (hex) ? json_object_get (hex, "sha256") :
            hex;
        json_t *dist = json_is_object (hex) ? json_object_get (hex,
            "distance") : NULL;
        gchar *key = g_strconcat ("image:", json_string_value (h) ?
            json_string_value (h) : "", NULL);

        if (dist && (!json_is_number (dist) || json_number_value (dist) < 0
                || json_number_value (dist) > 2)) {
          g_free (key);
          g_mutex_unlock (&lock);
          *err = g_strdup_printf ("map distance for \"%s\" must be a number "
              "in 0..2", text);
          return FALSE;
        }
        if (is_image_key (key) && dist) {
          gchar num[G_ASCII_DTOSTR_BUF_SIZE];
          gchar *k2 = g_strconcat (key, "@", g_ascii_dtostr (num, sizeof num,
                  json_number_value (dist)), NULL);

          g_free (key);
          g_hash_table_insert (text_map, g_strdup (text), k2);
          continue;
        }
        if (!is_image_key (key)) {
          g_free (key);
          g_mutex_unlock (&lock);
          *err = g_strdup_printf ("map value for \"%s\" is not a lower-case "
              "sha256 hex", text);
          return FALSE;
        }
        g_hash_table_insert (text_map, g_strdup (text), key);
      }
      continue;
    }
    if (strcmp (k, "latency_ms") == 0)
      field = &settings.latency_ms;
    else if (strcmp (k, "throttle") == 0)
      field = &settings.throttle;
    else if (strcmp (k, "error_5xx") == 0)
      field = &settings.error_5xx;
    else if (strcmp (k, "error_status") == 0)
      field = &settings.error_status;
    else if (strcmp (k, "hang") == 0)
      field = &settings.hang;
    else if (strcmp (k, "hang_ms") == 0)
      field = &settings.hang_ms;
    else if (strcmp (k, "malformed") == 0)
      field = &settings.malformed;
    else if (strcmp (k, "truncate") == 0)
      field = &settings.truncate;
    else if (strcmp (k, "wrong_length") == 0)
      field = &settings.wrong_length;
    else if (strcmp (k, "clock_offset_s") == 0 && json_is_integer (v)) {
      settings.clock_offset_s = (gint) CLAMP (json_integer_value (v),
          -G_MAXINT / 2, G_MAXINT / 2);
      continue;
    } else if (strcmp (k, "retry_after_s") == 0 && json_is_integer (v)) {
      settings.retry_after_s = (gint) CLAMP (json_integer_value (v), -1, 86400);
      continue;
    }
    if (!field || !json_is_integer (v) || json_integer_value (v) < 0) {
      g_mutex_unlock (&lock);
      *err = g_strdup_printf ("unknown control key or bad value: %s", k);
      return FALSE;
    }
    *field = (gint) MIN (json_integer_value (v), G_MAXINT);
  }
  g_mutex_unlock (&lock);
  return TRUE;
}

typedef enum
{
  FAULT_NONE, FAULT_HANG, FAULT_THROTTLE, FAULT_5XX, FAULT_MALFORMED,
  FAULT_TRUNCATE, FAULT_WRONG_LENGTH
} Fault;

static void
handle_invoke (VssHttpd * server, const VssHttpRequest * req,
    VssHttpResponse * resp)
{
  VssSigCheckConfig cfg = { 0, };
  gchar *service = NULL, *etype = NULL, *emsg = NULL, *model = NULL;
  guint status = 0;
  gint latency, hang_ms, err_status, offset_s, retry_after_s;
  Fault fault = FAULT_NONE;
  gchar **parts = NULL;
  json_t *in = NULL;
  json_error_t jerr;

  g_mutex_lock (&lock);
  latency = settings.latency_ms;
  hang_ms = settings.hang_ms;
  err_status = settings.error_status;
  offset_s = settings.clock_offset_s;
  retry_after_s = settings.retry_after_s;
  g_mutex_unlock (&lock);
  if (latency > 0 && !vss_httpd_sleep (server, latency)) {
    resp->status = 0;
    return;
  }

  cfg.access_key = opt_access_key;
  cfg.secret_key = opt_secret_key;
  cfg.session_token = opt_token;
  cfg.region = opt_region;
  cfg.now = g_get_real_time () / G_USEC_PER_SEC + offset_s;
  cfg.max_skew = opt_max_skew;
  add_date (resp, cfg.now);
  if (!vss_sigcheck_verify (&cfg, req, &service, &status, &etype, &emsg)) {
    g_mutex_lock (&lock);
    stats.auth_failures++;
    g_mutex_unlock (&lock);
    set_error (resp, status, etype, emsg);
    goto out;
  }

  /* S3-signed PUT: accepted without storing, for signing tests only. */
  if (strcmp (req->method, "PUT") == 0 && strcmp (service, "s3") == 0) {
    g_mutex_lock (&lock);
    stats.s3_puts++;
    g_mutex_unlock (&lock);
    resp->status = 200;
    g_string_append (resp->headers, "ETag: \"0\"\r\n");
    goto out;
  }

  parts = g_strsplit (req->path, "/", -1);
  if (strcmp (req->method, "POST") != 0 || g_strv_length (parts) != 4
      || strcmp (parts[1], "model") != 0 || strcmp (parts[3], "invoke") != 0) {
    set_error (resp, 404, "UnknownOperationException",
        "Unknown operation: only POST /model/<modelId>/invoke is served");
    goto out;
  }
  if (strcmp (service, "bedrock") != 0) {
    g_mutex_lock (&lock);
    stats.auth_failures++;
    g_mutex_unlock (&lock);
    set_error (resp, 403, "InvalidSignatureException",
        "Credential should be scoped to correct service: 'bedrock'.");
    goto out;
  }
  model = g_uri_unescape_string (parts[2], NULL);
  if (!model || (strcmp (model, IMAGE_MODEL) != 0
          && strcmp (model, TEXT_MODEL) != 0)) {
    g_mutex_lock (&lock);
    stats.validation_errors++;
    g_mutex_unlock (&lock);
    set_error (resp, 400, "ValidationException",
        "The provided model identifier is invalid.");
    goto out;
  }

  g_mutex_lock (&lock);
  stats.invokes++;
  if (take (&settings.hang))
    fault = FAULT_HANG, stats.hung++;
  else if (take (&settings.throttle))
    fault = FAULT_THROTTLE, stats.throttled++;
  else if (take (&settings.error_5xx))
    fault = FAULT_5XX, stats.errors_5xx++;
  else if (settings.error_rate > 0 && g_rand_double (rng) < settings.error_rate)
    fault = FAULT_5XX, stats.errors_5xx++;
  else if (take (&settings.malformed))
    fault = FAULT_MALFORMED, stats.malformed++;
  else if (take (&settings.truncate))
    fault = FAULT_TRUNCATE, stats.truncated++;
  else if (take (&settings.wrong_length))
    fault = FAULT_WRONG_LENGTH, stats.wrong_length++;
  g_mutex_unlock (&lock);

  switch (fault) {
    case FAULT_HANG:
      /* Never answer; the client's timeout is what is being tested. */
      vss_httpd_sleep (server, hang_ms);
      resp->status = 0;
      goto out;
    case FAULT_THROTTLE:
      set_error (resp, 429, "ThrottlingException",
          "Too many requests, please wait before trying again.");
      if (retry_after_s >= 0)
        g_string_append_printf (resp->headers, "Retry-After: %d\r\n",
            retry_after_s);
      goto out;
    case FAULT_5XX:
      if (err_status == 503)
        set_error (resp, 503, "ServiceUnavailableException",
            "Service unavailable. Try your request again.");
      else
        set_error (resp, err_status >= 500 && err_status < 600 ?
            err_status : 500, "InternalServerException",
            "The server encountered an error processing your request.");
      goto out;
    case FAULT_MALFORMED:
      vss_http_response_set_json (resp, 200,
          "{\"embedding\":[0.1,0.2,\"oops\",}");
      goto out;
    default:
      break;
  }

  if (req->body_len > MAX_REQUEST_BYTES) {
    set_error (resp, 400, "ValidationException",
        "Input is too long for the requested model.");
    goto out;
  }
  in = json_loadb ((const gchar *) req->body, req->body_len, 0, &jerr);
  if (!in) {
    gchar *m = g_strdup_printf ("Malformed input request: %s", jerr.text);

    set_error (resp, 400, "ValidationException", m);
    g_free (m);
  } else if (invoke_model (model, in, resp, fault == FAULT_WRONG_LENGTH)) {
    resp->truncate = fault == FAULT_TRUNCATE;
  }
  g_mutex_lock (&lock);
  if (resp->status == 200)
    stats.ok++;
  else
    stats.validation_errors++;
  g_mutex_unlock (&lock);

out:
  if (in)
    json_decref (in);
  g_strfreev (parts);
  g_free (model);
  g_free (service);
  g_free (etype);
  g_free (emsg);
}

static void
handler (VssHttpd * server, const VssHttpRequest * req, VssHttpResponse * resp,
    gpointer user_data)
{
  if (strcmp (req->path, "/_stats") == 0 && strcmp (req->method, "GET") == 0) {
    gchar *s = stats_json ();

    vss_http_response_set_json (resp, 200, s);
    free (s);
    return;
  }
  if (strcmp (req->path, "/_control") == 0 && strcmp (req->method, "POST") == 0) {
    json_error_t jerr;
    json_t *o = json_loadb ((const gchar *) req->body, req->body_len, 0,
        &jerr);
    gchar *err = NULL, *s;

    if (!o || !apply_control (o, &err)) {
      json_t *e = json_pack ("{s:s}", "message", err ? err : jerr.text);

      s = json_dumps (e, JSON_COMPACT);
      vss_http_response_set_json (resp, 400, s);
      json_decref (e);
    } else {
      s = settings_json ();
      vss_http_response_set_json (resp, 200, s);
    }
    free (s);
    g_free (err);
    if (o)
      json_decref (o);
    return;
  }

  g_mutex_lock (&lock);
  stats.requests++;
  stats.in_flight++;
  stats.max_in_flight = MAX (stats.max_in_flight, stats.in_flight);
  g_mutex_unlock (&lock);
  handle_invoke (server, req, resp);
  if (resp->status != 0)
    g_string_append (resp->headers,
        "x-amzn-RequestId: 00000000-0000-0000-0000-000000000000\r\n");
  g_mutex_lock (&lock);
  stats.in_flight--;
  g_mutex_unlock (&lock);
}

static gboolean
load_text_map (const gchar * path, GError ** error)
{
  gchar *text, *dir;
  json_t *o, *v;
  json_error_t jerr;
  const gchar *k;
  gboolean ok = TRUE;

  if (!g_file_get_contents (path, &text, NULL, error))
    return FALSE;
  o = json_loads (text, 0, &jerr);
  g_free (text);
  if (!json_is_object (o)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "%s: expected a JSON object mapping text to an image file (%s)",
        path, jerr.text);
    if (o)
      json_decref (o);
    return FALSE;
  }
  dir = g_path_get_dirname (path);
  json_object_foreach (o, k, v) {
    const gchar *f = json_string_value (json_is_object (v) ?
        json_object_get (v, "image") : v);
    json_t *dist = json_is_object (v) ? json_object_get (v, "distance") : NULL;
    gchar *full, *data, *key;
    gsize len;

    if (!f || (dist && (!json_is_number (dist)
                || json_number_value (dist) < 0
                || json_number_value (dist) > 2))) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
          "%s: value for \"%s\" must be a file name or {\"image\": file, "
          "\"distance\": 0..2}", path, k);
      ok = FALSE;
      break;
    }
    full = g_path_is_absolute (f) ? g_strdup (f) : g_build_filename (dir, f,
        NULL);
    if (!g_file_get_contents (full, &data, &len, error)) {
      g_free (full);
      ok = FALSE;
      break;
    }
    key = image_key ((guint8 *) data, len);
    if (dist) {
      gchar num[G_ASCII_DTOSTR_BUF_SIZE];
      gchar *k2 = g_strconcat (key, "@", g_ascii_dtostr (num, sizeof num,
              json_number_value (dist)), NULL);

      g_free (key);
      key = k2;
    }
    g_hash_table_insert (text_map, g_strdup (k), key);
    g_free (data);
    g_free (full);
  }
  g_free (dir);
  json_decref (o);
  return ok;
}

static gboolean
on_signal (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static gboolean
on_stdin (gint fd, GIOCondition cond, gpointer loop)
{
  gchar buf[256];
  gssize n = read (fd, buf, sizeof (buf));

  if (n > 0)
    return G_SOURCE_CONTINUE;
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  gint port = 0, latency = 0, throttle = 0, e5xx = 0, estatus = 500, hang = 0,
      hang_ms = 60000, malformed = 0, truncate = 0, wrong = 0;
  gdouble erate = 0;
  gchar *map_file = NULL;
  GOptionEntry entries[] = {
    {"access-key", 0, 0, G_OPTION_ARG_STRING, &opt_access_key,
        "Expected access key id", "AK"},
    {"secret-key", 0, 0, G_OPTION_ARG_STRING, &opt_secret_key,
        "Expected secret access key", "SK"},
    {"session-token", 0, 0, G_OPTION_ARG_STRING, &opt_token,
        "Expected session token (none if unset)", "T"},
    {"region", 0, 0, G_OPTION_ARG_STRING, &opt_region,
        "Required region in the scope (any if unset)", "R"},
    {"port", 0, 0, G_OPTION_ARG_INT, &port, "Port (0: pick a free one)", "N"},
    {"text-map", 0, 0, G_OPTION_ARG_FILENAME, &map_file,
        "JSON file mapping texts to image files", "FILE"},
    {"latency-ms", 0, 0, G_OPTION_ARG_INT, &latency, "Added latency", "MS"},
    {"throttle", 0, 0, G_OPTION_ARG_INT, &throttle, "Next N: 429", "N"},
    {"error-5xx", 0, 0, G_OPTION_ARG_INT, &e5xx, "Next N: 5xx", "N"},
    {"error-status", 0, 0, G_OPTION_ARG_INT, &estatus, "500 or 503", "S"},
    {"error-rate", 0, 0, G_OPTION_ARG_DOUBLE, &erate, "5xx fraction", "F"},
    {"hang", 0, 0, G_OPTION_ARG_INT, &hang, "Next N: no answer", "N"},
    {"hang-ms", 0, 0, G_OPTION_ARG_INT, &hang_ms, "How long a hang lasts",
        "MS"},
    {"malformed", 0, 0, G_OPTION_ARG_INT, &malformed, "Next N: bad JSON", "N"},
    {"truncate", 0, 0, G_OPTION_ARG_INT, &truncate, "Next N: cut body", "N"},
    {"wrong-length", 0, 0, G_OPTION_ARG_INT, &wrong,
        "Next N: embedding one short", "N"},
    {"error-type-suffix", 0, 0, G_OPTION_ARG_NONE, &opt_type_suffix,
          "Append AWS's \":http://internal.amazon.com/...\" to error types",
        NULL},
    {"max-skew-s", 0, 0, G_OPTION_ARG_INT, &opt_max_skew,
        "Allowed clock skew (0: no date check)", "S"},
    {NULL}
  };
  GOptionContext *octx = g_option_context_new ("- local Bedrock test server");
  GError *err = NULL;
  GMainLoop *loop;
  VssHttpd *server;
  struct stat st;

  g_option_context_add_main_entries (octx, entries, NULL);
  if (!g_option_context_parse (octx, &argc, &argv, &err)) {
    fprintf (stderr, "vss-bedrock-server: %s\n", err->message);
    return 2;
  }
  g_option_context_free (octx);
  if (!opt_access_key || !opt_secret_key) {
    fprintf (stderr, "vss-bedrock-server: --access-key and --secret-key are "
        "required\n");
    return 2;
  }
  if (port < 0 || port > 65535) {
    fprintf (stderr, "vss-bedrock-server: bad --port\n");
    return 2;
  }

  rng = g_rand_new_with_seed (42);
  text_map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  settings_reset ();
  settings.latency_ms = MAX (latency, 0);
  settings.throttle = MAX (throttle, 0);
  settings.error_5xx = MAX (e5xx, 0);
  settings.error_status = estatus;
  settings.error_rate = CLAMP (erate, 0.0, 1.0);
  settings.hang = MAX (hang, 0);
  settings.hang_ms = MAX (hang_ms, 0);
  settings.malformed = MAX (malformed, 0);
  settings.truncate = MAX (truncate, 0);
  settings.wrong_length = MAX (wrong, 0);
  if (map_file && !load_text_map (map_file, &err)) {
    fprintf (stderr, "vss-bedrock-server: %s\n", err->message);
    return 2;
  }

  startup_settings = settings;
  startup_type_suffix = opt_type_suffix;
  startup_map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  {
    GHashTableIter it;
    gpointer k, v;

    g_hash_table_iter_init (&it, text_map);
    while (g_hash_table_iter_next (&it, &k, &v))
      g_hash_table_insert (startup_map, g_strdup (k), g_strdup (v));
  }

  /* Handlers before "PORT": a client may finish and send SIGTERM before
   * the main loop runs (requests are served on the server's threads). */
  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, on_signal, loop);
  g_unix_signal_add (SIGINT, on_signal, loop);
  server = vss_httpd_new ((guint16) port, handler, NULL, &err);
  if (!server) {
    fprintf (stderr, "vss-bedrock-server: %s\n", err->message);
    return 1;
  }
  printf ("PORT %u\n", vss_httpd_get_port (server));
  fflush (stdout);

  /* A terminal or /dev/null on stdin is not a parent's lifeline. */
  if (fstat (0, &st) == 0 && (S_ISFIFO (st.st_mode) || S_ISSOCK (st.st_mode)))
    g_unix_fd_add (0, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, loop);
  g_main_loop_run (loop);

  vss_httpd_free (server);
  g_main_loop_unref (loop);
  g_hash_table_unref (text_map);
  g_hash_table_unref (startup_map);
  g_rand_free (rng);
  g_free (opt_access_key);
  g_free (opt_secret_key);
  g_free (opt_token);
  g_free (opt_region);
  g_free (map_file);
  return 0;
}
