/* gst-vss: vss-ingest — inputs, pipeline description, progress, summary
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>
#include <gio/gio.h>
#include <gst/gst.h>
#include "embed/gstvssembedlocal.h"
#include "valkey/gstvssvalkeyurl.h"
#include "vss-ingest-util.h"

void
vss_ingest_options_init (VssIngestOptions * o)
{
  memset (o, 0, sizeof (*o));
  o->interval = 1.0;
  o->provider = g_strdup ("local");
  o->threshold = 0.2;
  o->window = 10000;
  o->valkey = g_strdup (VSS_INGEST_DEFAULT_VALKEY);
  o->jpeg_quality = 85;
  o->rtsp_transport = g_strdup ("auto");
}

void
vss_ingest_options_clear (VssIngestOptions * o)
{
  g_free (o->provider);
  g_free (o->model);
  g_free (o->local_model);
  g_free (o->region);
  g_free (o->valkey);
  g_free (o->index);
  g_free (o->key_prefix);
  g_free (o->frames);
  g_free (o->spool_dir);
  g_free (o->rtsp_transport);
  memset (o, 0, sizeof (*o));
}

/* Values go into a gst-launch description: refuse what cannot be quoted
 * there rather than build a pipeline that means something else. */
static gboolean
check_text (const gchar * what, const gchar * v, GError ** error)
{
  if (v == NULL)
    return TRUE;
  if (!g_utf8_validate (v, -1, NULL) || strpbrk (v, "\n\r") != NULL) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "%s must be one line of UTF-8 text", what);
    return FALSE;
  }
  return TRUE;
}

/**
 * vss_ingest_check_seconds:
 * @option: the option's name, for the message
 * @zero_ok: whether 0 means something (none, never)
 * @max: the largest value that makes sense
 *
 * Refuses NaN, infinities, negative values, 0 unless @zero_ok, and values
 * above @max, naming the option.
 */
gboolean
vss_ingest_check_seconds (const gchar * option, gdouble v, gboolean zero_ok,
    gdouble max, GError ** error)
{
  if (isfinite (v) && (zero_ok ? v >= 0 : v > 0) && v <= max)
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
      "%s must be a number of seconds, %s, at most %.0f", option,
      zero_ok ? "0 or more" : "more than 0", max);
  return FALSE;
}

/* Given but empty: always a mistake (leave the option out for its
 * default). */
static gboolean
check_not_empty (const gchar * what, const gchar * v, GError ** error)
{
  if (v == NULL || *v != '\0')
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
      "%s must not be empty (leave it out for the default)", what);
  return FALSE;
}

gboolean
vss_ingest_options_check (const VssIngestOptions * o, GError ** error)
{
  const gchar *msg = NULL;

  if (!check_not_empty ("--provider", o->provider, error)
      || !check_not_empty ("--model", o->model, error)
      || !check_not_empty ("--local-model", o->local_model, error)
      || !check_not_empty ("--region", o->region, error)
      || !check_not_empty ("--valkey", o->valkey, error)
      || !check_not_empty ("--index", o->index, error)
      || !check_not_empty ("--key-prefix", o->key_prefix, error)
      || !check_not_empty ("--frames", o->frames, error)
      || !check_not_empty ("--spool-dir", o->spool_dir, error)
      || !check_not_empty ("--rtsp-transport", o->rtsp_transport, error)
      || !vss_ingest_check_seconds ("--window-duration", o->window_duration,
          TRUE, VSS_INGEST_MAX_SECONDS, error))
    return FALSE;
  if (!(o->interval > 0 && o->interval <= 3600))
    msg = "--interval must be more than 0 and at most 3600 seconds";
  else if (g_strcmp0 (o->provider, "local") != 0
      && g_strcmp0 (o->provider, "bedrock") != 0)
    msg = "--provider must be local or bedrock";
  else if (!gst_vss_embed_local_model_from_name (o->local_model, NULL))
    msg = "--local-model must be vss-local-v2 (the default) or vss-local-v1";
  else if (!(o->threshold >= 0 && o->threshold <= 2))
    msg = "--threshold must be 0 (no dedup) to 2";
  else if (o->window < 0)
    msg = "--window must be 0 (no limit) or more";
  else if (o->jpeg_quality < 1 || o->jpeg_quality > 100)
    msg = "--jpeg-quality must be 1..100";
  else if (o->ttl < 0)
    msg = "--ttl must be 0 (keep) or more seconds";
  else if (o->dimension != 0 && o->dimension != 256 && o->dimension != 384
      && o->dimension != 1024)
    msg = "--dimension must be 256, 384 or 1024";
  else if (g_strcmp0 (o->rtsp_transport, "auto") != 0
      && g_strcmp0 (o->rtsp_transport, "tcp") != 0
      && g_strcmp0 (o->rtsp_transport, "udp") != 0)
    msg = "--rtsp-transport must be auto, tcp or udp";
  if (msg != NULL) {
    g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, msg);
    return FALSE;
  }
  return check_text ("--valkey", o->valkey, error)
      && check_text ("--index", o->index, error)
      && check_text ("--key-prefix", o->key_prefix, error)
      && check_text ("--frames", o->frames, error)
      && check_text ("--spool-dir", o->spool_dir, error)
      && check_text ("--model", o->model, error)
      && check_text ("--region", o->region, error);
}

void
vss_ingest_input_clear (VssIngestInput * in)
{
  g_free (in->uri);
  g_free (in->device);
  g_free (in->local_path);
  g_free (in->default_stream_id);
  memset (in, 0, sizeof (*in));
}

/**
 * vss_ingest_stream_id_sanitize:
 *
 * The readable form of @text as a stream id: ASCII letters in lower case
 * (other letters transliterated: é -> e, ß -> ss), digits, '_' and '-';
 * any run of other characters becomes one '-'; no '-' at the end; at most
 * 64 bytes; "stream" when nothing is left.
 */
gchar *
vss_ingest_stream_id_sanitize (const gchar * text)
{
  GString *s = g_string_new (NULL);
  gchar *valid = g_utf8_make_valid (text ? text : "", -1);
  gchar *ascii = g_str_to_ascii (valid, "C");
  const gchar *p;

  g_free (valid);
  for (p = ascii; *p && s->len < 64; p++) {
    gchar c = *p;
    if (g_ascii_isalnum (c) || c == '_' || c == '-')
      g_string_append_c (s, g_ascii_tolower (c));
    else if (s->len > 0 && s->str[s->len - 1] != '-')
      g_string_append_c (s, '-');
  }
  g_free (ascii);
  while (s->len > 0 && s->str[s->len - 1] == '-')
    g_string_truncate (s, s->len - 1);
  if (s->len == 0)
    g_string_assign (s, "stream");
  return g_string_free (s, FALSE);
}

/**
 * vss_ingest_stream_id_from_name:
 *
 * The stream id of an input named @name (a file name without its
 * extension, a URL's host and path, a camera's device name). Different
 * names give different ids: a name that is a valid id in lower case is its
 * own id (clip -> clip); any other name keeps its readable form (see
 * vss_ingest_stream_id_sanitize(), at most 55 bytes) and gets '-' and the
 * first 8 hex digits of the SHA-256 of the name (Front Door ->
 * front-door-<8 hex>, été -> ete-<8 hex>, 東京 -> stream-<8 hex>).
 */
gchar *
vss_ingest_stream_id_from_name (const gchar * name)
{
  gchar *readable = vss_ingest_stream_id_sanitize (name);
  gchar *sum, *id;

  if (name != NULL && strcmp (readable, name) == 0)
    return readable;
  if (strlen (readable) > 55) {
    readable[55] = '\0';
    while (readable[0] && readable[strlen (readable) - 1] == '-')
      readable[strlen (readable) - 1] = '\0';
  }
  sum = g_compute_checksum_for_string (G_CHECKSUM_SHA256, name ? name : "", -1);
  id = g_strdup_printf ("%s-%.8s", readable[0] ? readable : "stream", sum);
  g_free (sum);
  g_free (readable);
  return id;
}

/* Stream ids go into keys (frame:<stream>:<id>), object paths and a TAG
 * field: letters, digits, '-' and '_' only. */
gboolean
vss_ingest_stream_id_is_valid (const gchar * id)
{
  gsize n = id ? strlen (id) : 0;

  if (n == 0 || n > 64)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isalnum (id[i]) && id[i] != '-' && id[i] != '_')
      return FALSE;
  return TRUE;
}

static gboolean
scheme_is_live (const gchar * scheme)
{
  static const gchar *live[] = { "rtsp", "rtsps", "rtspt", "rtspu", "rtsph",
    "rtmp", "rtmps", "srt", "udp", "rtp", "v4l2", NULL
  };
  return scheme != NULL && g_strv_contains (live, scheme);
}

static gchar *
basename_no_ext (const gchar * path)
{
  gchar *base = g_path_get_basename (path);
  gchar *dot = strrchr (base, '.');
  gchar *id;

  if (dot != NULL && dot != base)
    *dot = '\0';
  id = vss_ingest_stream_id_from_name (base);
  g_free (base);
  return id;
}

gboolean
vss_ingest_input_resolve (const gchar * arg, gboolean force_live,
    VssIngestInput * out, GError ** error)
{
  memset (out, 0, sizeof (*out));
  if (arg == NULL || *arg == '\0') {
    g_set_error_literal (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
        "empty input");
    return FALSE;
  }

  if (g_str_has_prefix (arg, "/dev/video") || g_str_has_prefix (arg, "v4l2://")) {
    const gchar *dev = arg;
    if (g_str_has_prefix (arg, "v4l2://"))
      dev = arg + strlen ("v4l2://");
    if (*dev == '\0')
      dev = "/dev/video0";
    out->kind = VSS_INGEST_INPUT_V4L2;
    out->device = g_strdup (dev);
    out->live = TRUE;
    out->default_stream_id = vss_ingest_stream_id_from_name (strrchr (dev,
            '/') ? strrchr (dev, '/') + 1 : dev);
    return TRUE;
  }

  out->kind = VSS_INGEST_INPUT_URI;
  /* An existing file wins over a URI reading (a file may be called a:b). */
  if (!g_file_test (arg, G_FILE_TEST_EXISTS) && gst_uri_is_valid (arg)) {
    GstUri *u = gst_uri_from_string (arg);
    const gchar *scheme = u ? gst_uri_get_scheme (u) : NULL;

    if (u == NULL) {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
          "%s: not a valid URI", arg);
      return FALSE;
    }
    out->uri = g_strdup (arg);
    out->live = force_live || scheme_is_live (scheme);
    if (g_ascii_strcasecmp (scheme, "file") == 0) {
      out->local_path = g_filename_from_uri (arg, NULL, error);
      if (out->local_path == NULL) {
        gst_uri_unref (u);
        vss_ingest_input_clear (out);
        return FALSE;
      }
      if (!g_file_test (out->local_path, G_FILE_TEST_IS_REGULAR)) {
        g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
            "%s: no such file", out->local_path);
        gst_uri_unref (u);
        vss_ingest_input_clear (out);
        return FALSE;
      }
      out->default_stream_id = basename_no_ext (out->local_path);
    } else if (out->live) {
      /* A camera is its host and path: rtsp://cam1:554/live -> cam1-live. */
      gchar *path = gst_uri_get_path (u);
      gchar *t = g_strdup_printf ("%s%s", gst_uri_get_host (u) ?
          gst_uri_get_host (u) : "", path ? path : "");
      out->default_stream_id = vss_ingest_stream_id_from_name (t);
      g_free (t);
      g_free (path);
    } else {
      gchar *path = gst_uri_get_path (u);
      out->default_stream_id = (path && strlen (path) > 1) ?
          basename_no_ext (path) : vss_ingest_stream_id_from_name
          (gst_uri_get_host (u));
      g_free (path);
    }
    gst_uri_unref (u);
    return TRUE;
  }

  if (!g_file_test (arg, G_FILE_TEST_EXISTS)) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
        "%s: no such file (give a video file, a URI such as rtsp://host/path, "
        "or a /dev/videoN camera)", arg);
    return FALSE;
  }
  if (!g_file_test (arg, G_FILE_TEST_IS_REGULAR)) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_ISDIR,
        "%s: not a regular file", arg);
    return FALSE;
  }
  if (g_path_is_absolute (arg)) {
    out->local_path = g_strdup (arg);
  } else {
    gchar *cwd = g_get_current_dir ();
    out->local_path = g_build_filename (cwd, arg, NULL);
    g_free (cwd);
  }
  out->uri = gst_filename_to_uri (out->local_path, error);
  if (out->uri == NULL) {
    vss_ingest_input_clear (out);
    return FALSE;
  }
  out->live = force_live;
  out->default_stream_id = basename_no_ext (out->local_path);
  return TRUE;
}

gchar *
vss_ingest_frames_to_uri (const gchar * frames, GError ** error)
{
  gchar *abs, *uri;

  if (frames == NULL)
    frames = VSS_INGEST_DEFAULT_FRAMES_DIR;
  if (*frames == '\0') {
    g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--frames must not be empty (leave it out for the default)");
    return NULL;
  }
  if (g_str_has_prefix (frames, "s3://"))
    return g_strdup (frames);
  if (g_str_has_prefix (frames, "file://")) {
    if (!g_str_has_prefix (frames, "file:///")) {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
          "--frames %s: a file:// location needs an absolute path "
          "(file:///dir)", frames);
      return NULL;
    }
    return g_strdup (frames);
  }
  if (strstr (frames, "://") != NULL) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
        "--frames %s: give a folder, file:///folder or s3://bucket/prefix",
        frames);
    return NULL;
  }
  if (g_path_is_absolute (frames)) {
    abs = g_canonicalize_filename (frames, NULL);
  } else {
    gchar *cwd = g_get_current_dir ();
    abs = g_canonicalize_filename (frames, cwd);
    g_free (cwd);
  }
  /* Plain file:// + path: the sink reads the path after the scheme. */
  uri = g_strconcat ("file://", abs, NULL);
  g_free (abs);
  return uri;
}

/* A property value in a gst-launch description, in double quotes. */
static void
append_prop (GString * s, const gchar * name, const gchar * value)
{
  g_string_append_printf (s, " %s=\"", name);
  for (const gchar * p = value; *p; p++) {
    if (*p == '"' || *p == '\\')
      g_string_append_c (s, '\\');
    g_string_append_c (s, *p);
  }
  g_string_append_c (s, '"');
}

static void
append_double (GString * s, const gchar * name, gdouble v)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  g_string_append_printf (s, " %s=%s", name,
      g_ascii_formatd (buf, sizeof (buf), "%.6g", v));
}

#define BEDROCK_DEFAULT_MODEL "amazon.titan-embed-image-v1"

/* A file's frames are named by their position in it (vssembed). */
static void
append_source (GString * s, const VssIngestSource * source)
{
  if (source == NULL || source->id == NULL)
    return;
  append_prop (s, "source-id", source->id);
  g_string_append_printf (s, " source-time=%" G_GINT64_FORMAT, source->time_ms);
}

/**
 * vss_ingest_describe_processing:
 * @for_display: hide the Valkey password (for --print-pipeline and logs)
 *
 * The one description of what follows the decoder, in gst-launch syntax.
 * Frames arrive already sampled (one every --interval, by the runner's pad
 * probe on the decoder's output, so nothing is converted that is dropped):
 *
 *   queue ! videoconvert ! vssembed provider=local ! vssdedup ! jpegenc
 *     [! vssembed provider=bedrock] ! vsssink
 *
 * With --provider bedrock the local embedding only serves dedup and Bedrock
 * embeds the survivors, from the JPEG already made for the store (two-stage
 * dedup: fewer Bedrock calls, one encode). --threshold 0 leaves dedup out.
 * --dry-run ends in a fakesink.
 */
/**
 * vss_ingest_source_of_file:
 *
 * What names a file's frames (see #VssIngestSource): the same file, unmoved
 * and unchanged, always gives the same source.
 */
gboolean
vss_ingest_source_of_file (const gchar * local_path, VssIngestSource * src,
    GError ** error)
{
  GFile *f = g_file_new_for_path (local_path);
  GFileInfo *info = g_file_query_info (f, G_FILE_ATTRIBUTE_STANDARD_SIZE ","
      G_FILE_ATTRIBUTE_TIME_MODIFIED "," G_FILE_ATTRIBUTE_TIME_MODIFIED_USEC,
      G_FILE_QUERY_INFO_NONE, NULL, error);
  gchar *abs;
  guint64 s, us;

  memset (src, 0, sizeof (*src));
  if (info == NULL) {
    g_object_unref (f);
    return FALSE;
  }
  abs = g_file_get_path (f);
  s = g_file_info_get_attribute_uint64 (info, G_FILE_ATTRIBUTE_TIME_MODIFIED);
  us = g_file_info_get_attribute_uint32 (info,
      G_FILE_ATTRIBUTE_TIME_MODIFIED_USEC);
  src->id = g_strdup_printf ("%s|%" G_GINT64_FORMAT "|%" G_GUINT64_FORMAT
      ".%06" G_GUINT64_FORMAT, abs, g_file_info_get_size (info), s, us);
  src->time_ms = (gint64) (s * 1000 + us / 1000);
  src->name = g_file_get_basename (f);
  g_free (abs);
  g_object_unref (info);
  g_object_unref (f);
  return TRUE;
}

void
vss_ingest_source_clear (VssIngestSource * src)
{
  g_clear_pointer (&src->id, g_free);
  g_clear_pointer (&src->name, g_free);
}

gchar *
vss_ingest_describe_processing (const VssIngestOptions * o,
    const gchar * stream_id, const VssIngestSource * source,
    gboolean for_display)
{
  GString *s = g_string_new (NULL);
  gboolean bedrock = g_strcmp0 (o->provider, "bedrock") == 0;
  gboolean dedup = o->threshold > 0;

  /* The queue decouples decoding from embedding and storing (two threads),
   * and bounds what is in between. */
  g_string_append (s, "queue name=sampled max-size-buffers=4 "
      "max-size-bytes=0 max-size-time=0 ! videoconvert");
  if (!bedrock || dedup) {
    g_string_append (s, " ! vssembed name=embed provider=local");
    if (o->local_model)
      append_prop (s, "model", o->local_model);
    append_source (s, source);
  }
  if (dedup) {
    g_string_append (s, " ! vssdedup name=dedup");
    append_double (s, "threshold", o->threshold);
    g_string_append_printf (s, " window-size=%d", o->window);
    if (o->window_duration > 0)
      g_string_append_printf (s, " window-duration=%" G_GUINT64_FORMAT,
          (guint64) (o->window_duration * GST_SECOND));
  }
  g_string_append_printf (s, " ! jpegenc quality=%d", o->jpeg_quality);
  if (bedrock) {
    g_string_append (s, " ! vssembed name=embed-bedrock provider=bedrock");
    /* It keeps the frame id of the first vssembed; without one it makes
     * its own, the same way. */
    if (!dedup)
      append_source (s, source);
    if (o->model)
      append_prop (s, "model", o->model);
    if (o->dimension)
      g_string_append_printf (s, " dimension=%d", o->dimension);
    if (o->region)
      append_prop (s, "region", o->region);
  }
  if (o->dry_run) {
    g_string_append (s, " ! fakesink name=sink sync=false");
  } else {
    gchar *valkey = for_display ? vss_valkey_url_mask (o->valkey) :
        g_strdup (o->valkey);

    g_string_append (s, " ! vsssink name=sink sync=false");
    append_prop (s, "valkey", valkey);
    g_free (valkey);
    if (o->index)
      append_prop (s, "index", o->index);
    if (o->key_prefix)
      append_prop (s, "key-prefix", o->key_prefix);
    append_prop (s, "stream-id", stream_id);
    if (source && source->name)
      append_prop (s, "source", source->name);
    append_prop (s, "frames", o->frames ? o->frames :
        VSS_INGEST_DEFAULT_FRAMES_DIR);
    if (o->ttl > 0)
      g_string_append_printf (s, " ttl=%d", o->ttl);
    if (o->spool_dir)
      append_prop (s, "spool-dir", o->spool_dir);
    if (o->adopt_spool)
      g_string_append (s, " adopt-spool=true");
    if (o->region && o->frames && g_str_has_prefix (o->frames, "s3://"))
      append_prop (s, "region", o->region);
    if (bedrock)
      append_prop (s, "model", o->model ? o->model : BEDROCK_DEFAULT_MODEL);
  }
  return g_string_free (s, FALSE);
}

gchar *
vss_ingest_describe_source (const VssIngestInput * in,
    const VssIngestOptions * o)
{
  GString *s = g_string_new (NULL);

  if (in->kind == VSS_INGEST_INPUT_V4L2) {
    append_prop (s, "v4l2src device", in->device);
    g_string_erase (s, 0, 1);
    g_string_append (s, " ! decodebin");
  } else {
    append_prop (s, "uridecodebin uri", in->uri);
    g_string_erase (s, 0, 1);
    g_string_append (s, " caps=\"video/x-raw(ANY)\" expose-all-streams=false");
    if (in->live && g_str_has_prefix (in->uri, "rtsp")
        && g_strcmp0 (o->rtsp_transport, "auto") != 0)
      g_string_append_printf (s, " (rtspsrc protocols=%s)", o->rtsp_transport);
  }
  return g_string_free (s, FALSE);
}

/* Replaces the password of every URL in @s (scheme://user:password@host)
 * with "***". */
static void
mask_url_passwords (GString * s)
{
  gsize from = 0;
  const gchar *sep;

  while ((sep = strstr (s->str + from, "://")) != NULL) {
    gsize auth = sep - s->str + 3;
    gsize end = auth + strcspn (s->str + auth, "/?#@ \t\n\"'<>");
    gsize colon;

    from = auth;
    if (s->str[end] != '@')
      continue;
    /* user:password@ or a lone token that some clients take as one */
    colon = auth + strcspn (s->str + auth, ":@");
    if (s->str[colon] == ':')
      auth = colon + 1;
    g_string_erase (s, auth, end - auth);
    g_string_insert (s, auth, "***");
    from = auth + 4;
  }
}

/**
 * vss_ingest_error_detail:
 * @debug: (nullable): the debug string of an element's error or warning
 * @secrets: (nullable): NULL-terminated texts that must not be shown
 *   (passwords, secret keys, session tokens)
 *
 * What an element said besides its short message, fit for a user: without
 * GStreamer's "file.c(123): function (): /GstPipeline:...:" first line,
 * trimmed, with @secrets and URL passwords replaced by "***".
 *
 * Returns: (transfer full) (nullable): the detail, NULL when there is none
 */
gchar *
vss_ingest_error_detail (const gchar * debug, const gchar * const *secrets)
{
  const gchar *body = debug, *nl;
  GString *s;

  if (debug == NULL)
    return NULL;
  /* gst_element_message_full() writes "%s(%d): %s (): %s:\n%s", or only
   * the first line when the element gave no detail. */
  nl = strchr (debug, '\n');
  {
    gchar *first = nl ? g_strndup (debug, nl - debug) : g_strdup (debug);
    gboolean location = g_regex_match_simple ("^\\S+\\([0-9]+\\): \\S+ "
        "\\(\\): \\S.*$", first, 0, 0);

    g_free (first);
    if (location)
      body = nl ? nl + 1 : "";
  }
  s = g_string_new (body);
  for (guint i = 0; secrets && secrets[i]; i++) {
    gsize n = strlen (secrets[i]);
    gchar *p;

    /* Short strings would mask ordinary words; no secret is that short. */
    if (n < 4)
      continue;
    while ((p = strstr (s->str, secrets[i])) != NULL) {
      gsize at = p - s->str;

      g_string_erase (s, at, n);
      g_string_insert (s, at, "***");
    }
  }
  mask_url_passwords (s);
  g_strstrip (s->str);
  s->len = strlen (s->str);
  if (s->len == 0) {
    g_string_free (s, TRUE);
    return NULL;
  }
  return g_string_free (s, FALSE);
}

gchar *
vss_ingest_format_clock (gdouble seconds)
{
  guint64 t;

  if (!(seconds >= 0) || isinf (seconds))
    return g_strdup ("--:--");
  t = (guint64) (seconds + 0.5);
  if (t >= 3600)
    return g_strdup_printf ("%" G_GUINT64_FORMAT ":%02u:%02u", t / 3600,
        (guint) (t / 60 % 60), (guint) (t % 60));
  return g_strdup_printf ("%u:%02u", (guint) (t / 60), (guint) (t % 60));
}

gchar *
vss_ingest_format_progress (const VssIngestProgress * p)
{
  GString *s = g_string_new (NULL);
  gchar *a, *b;

  if (p->live) {
    a = vss_ingest_format_clock (p->elapsed_s);
    g_string_append_printf (s, "live %s  %.2f frames/s", a,
        p->elapsed_s > 0 ? p->sampled / p->elapsed_s : 0.0);
    g_free (a);
  } else if (p->duration_s > 0) {
    gdouble f = CLAMP (p->position_s / p->duration_s, 0.0, 1.0);
    gdouble eta = f > 0 ? p->elapsed_s * (1 - f) / f : -1;
    gint filled = (gint) (f * 20);

    a = vss_ingest_format_clock (p->position_s);
    b = vss_ingest_format_clock (p->duration_s);
    g_string_append_c (s, '[');
    for (gint i = 0; i < 20; i++)
      g_string_append_c (s, i < filled ? '#' : '-');
    g_string_append_printf (s, "] %3d%%  %s/%s", (gint) (f * 100), a, b);
    g_free (a);
    g_free (b);
    a = vss_ingest_format_clock (eta);
    g_string_append_printf (s, "  ETA %s", a);
    g_free (a);
  } else {
    a = vss_ingest_format_clock (p->position_s);
    g_string_append_printf (s, "%s of media", a);
    g_free (a);
  }
  g_string_append_printf (s, "  sampled %" G_GUINT64_FORMAT, p->sampled);
  if (p->dropped)
    g_string_append_printf (s, "  duplicates %" G_GUINT64_FORMAT, p->dropped);
  if (!p->dry_run)
    g_string_append_printf (s, "  stored %" G_GUINT64_FORMAT, p->stored);
  if (p->spooled)
    g_string_append_printf (s, "  spooled %" G_GUINT64_FORMAT, p->spooled);
  if (p->failed)
    g_string_append_printf (s, "  failed %" G_GUINT64_FORMAT, p->failed);
  if (p->reconnects)
    g_string_append_printf (s, "  reconnects %" G_GUINT64_FORMAT,
        p->reconnects);
  if (p->reconnecting)
    g_string_append (s, "  (reconnecting)");
  return g_string_free (s, FALSE);
}

const gchar *
vss_ingest_status_to_string (VssIngestStatus s)
{
  switch (s) {
    case VSS_INGEST_STATUS_OK:
      return "ok";
    case VSS_INGEST_STATUS_STOPPED:
      return "stopped";
    case VSS_INGEST_STATUS_INTERRUPTED:
      return "interrupted";
    case VSS_INGEST_STATUS_INPUT_ERROR:
      return "input-error";
    case VSS_INGEST_STATUS_FAILED:
      return "failed";
    case VSS_INGEST_STATUS_INCOMPLETE:
      return "incomplete";
    case VSS_INGEST_STATUS_DECODE_ERRORS:
      return "decode-errors";
  }
  return "failed";
}

/**
 * vss_ingest_reached_end:
 * @reached_s: the end of the last decoded frame, in stream time
 * @duration_s: the file's duration, <= 0 when unknown
 *
 * Whether decoding got to the end of a file: within 1 s or 1 % of its
 * duration (a container's duration may count an audio track a little
 * longer than the video). An unknown duration cannot be checked.
 */
gboolean
vss_ingest_reached_end (gdouble reached_s, gdouble duration_s)
{
  if (!(duration_s > 0))
    return TRUE;
  return reached_s >= duration_s - MAX (1.0, duration_s * 0.01);
}

/* How a file that ended (EOS, not stopped) went. */
VssIngestStatus
vss_ingest_file_status (gdouble reached_s, gdouble duration_s, guint64 gaps,
    guint64 decode_warnings)
{
  if (!vss_ingest_reached_end (reached_s, duration_s))
    return VSS_INGEST_STATUS_INCOMPLETE;
  if (gaps > 0 || decode_warnings > 0)
    return VSS_INGEST_STATUS_DECODE_ERRORS;
  return VSS_INGEST_STATUS_OK;
}

/* The error text of an incomplete or damaged file; NULL otherwise. */
gchar *
vss_ingest_describe_damage (VssIngestStatus status, gdouble reached_s,
    gdouble duration_s, guint64 gaps, gdouble missing_s,
    guint64 decode_warnings)
{
  GString *s;

  if (status == VSS_INGEST_STATUS_INCOMPLETE)
    return g_strdup_printf ("decoding stopped at %.1f s of %.1f s: the file "
        "is cut short or damaged", reached_s, duration_s);
  if (status != VSS_INGEST_STATUS_DECODE_ERRORS)
    return NULL;
  s = g_string_new ("decoded to the end, but ");
  if (gaps > 0)
    g_string_append_printf (s, "frames are missing in %" G_GUINT64_FORMAT
        " place%s (%.1f s of video)", gaps, gaps == 1 ? "" : "s", missing_s);
  if (gaps > 0 && decode_warnings > 0)
    g_string_append (s, " and ");
  if (decode_warnings > 0)
    g_string_append_printf (s, "the decoder warned %" G_GUINT64_FORMAT
        " time%s", decode_warnings, decode_warnings == 1 ? "" : "s");
  g_string_append (s, ": the file is damaged");
  return g_string_free (s, FALSE);
}

/* The worst outcome wins: a failure, then an input that could not be read,
 * then frames not stored, then a file damaged or cut short, then an
 * interruption. */
VssIngestExit
vss_ingest_exit_code (const VssIngestResult * results, guint n_results,
    gboolean dry_run)
{
  gboolean failed = FALSE, input = FALSE, lost = FALSE, interrupted = FALSE;
  gboolean damaged = FALSE;

  for (guint i = 0; i < n_results; i++) {
    const VssIngestResult *r = &results[i];
    failed |= r->status == VSS_INGEST_STATUS_FAILED;
    input |= r->status == VSS_INGEST_STATUS_INPUT_ERROR;
    interrupted |= r->status == VSS_INGEST_STATUS_INTERRUPTED;
    damaged |= r->status == VSS_INGEST_STATUS_INCOMPLETE
        || r->status == VSS_INGEST_STATUS_DECODE_ERRORS;
    if (!dry_run)
      lost |= r->failed > 0 || r->spooled > r->replayed;
  }
  if (failed)
    return VSS_INGEST_EXIT_FAILED;
  if (input)
    return VSS_INGEST_EXIT_INPUT;
  if (lost)
    return VSS_INGEST_EXIT_NOT_STORED;
  if (damaged)
    return VSS_INGEST_EXIT_DAMAGED;
  if (interrupted)
    return VSS_INGEST_EXIT_INTERRUPTED;
  return VSS_INGEST_EXIT_OK;
}

json_t *
vss_ingest_result_to_json (const VssIngestResult * r)
{
  json_t *o = json_object ();

  json_object_set_new (o, "input", json_string (r->input));
  json_object_set_new (o, "stream_id", json_string (r->stream_id));
  json_object_set_new (o, "live", json_boolean (r->live));
  json_object_set_new (o, "status",
      json_string (vss_ingest_status_to_string (r->status)));
  json_object_set_new (o, "error", r->error ? json_string (r->error) :
      json_null ());
  json_object_set_new (o, "error_detail", r->error_detail ?
      json_string (r->error_detail) : json_null ());
  json_object_set_new (o, "wall_seconds", json_real (round (r->wall_s * 1000)
          / 1000));
  json_object_set_new (o, "media_seconds", json_real (round (r->media_s *
              1000) / 1000));
  json_object_set_new (o, "duration_seconds", !r->live && r->duration_s > 0 ?
      json_real (round (r->duration_s * 1000) / 1000) : json_null ());
  json_object_set_new (o, "gaps", json_integer (r->gaps));
  json_object_set_new (o, "missing_seconds", json_real (round (r->missing_s *
              1000) / 1000));
  json_object_set_new (o, "decode_warnings", json_integer (r->decode_warnings));
  json_object_set_new (o, "frames_decoded", json_integer (r->decoded));
  json_object_set_new (o, "frames_sampled", json_integer (r->sampled));
  json_object_set_new (o, "duplicates_dropped", json_integer (r->dropped));
  json_object_set_new (o, "frames_kept", json_integer (r->kept));
  json_object_set_new (o, "stored", json_integer (r->stored));
  json_object_set_new (o, "spooled", json_integer (r->spooled));
  json_object_set_new (o, "replayed", json_integer (r->replayed));
  json_object_set_new (o, "retried", json_integer (r->retried));
  json_object_set_new (o, "failed", json_integer (r->failed));
  json_object_set_new (o, "reconnects", json_integer (r->reconnects));
  json_object_set_new (o, "connections", json_integer (r->connections));
  json_object_set_new (o, "errors", json_integer (r->errors));
  return o;
}

gchar *
vss_ingest_format_result (const VssIngestResult * r, gboolean dry_run)
{
  GString *s = g_string_new (NULL);

  g_string_append_printf (s, "%s (stream %s): %" G_GUINT64_FORMAT
      " frames sampled of %" G_GUINT64_FORMAT " decoded in %.1f s",
      r->input, r->stream_id, r->sampled, r->decoded, r->wall_s);
  if (!r->live && r->media_s > 0 && r->duration_s > 0)
    g_string_append_printf (s, " (%.1f s of %.1f s of video, %.1fx real "
        "time)", r->media_s, r->duration_s, r->wall_s > 0 ?
        r->media_s / r->wall_s : 0.0);
  else if (!r->live && r->media_s > 0)
    g_string_append_printf (s, " (%.1f s of video, %.1fx real time)",
        r->media_s, r->wall_s > 0 ? r->media_s / r->wall_s : 0.0);
  g_string_append_printf (s, "; %" G_GUINT64_FORMAT " duplicates dropped",
      r->dropped);
  if (dry_run)
    g_string_append_printf (s, "; %" G_GUINT64_FORMAT " kept (dry run: "
        "nothing stored)", r->kept);
  else
    g_string_append_printf (s, "; %" G_GUINT64_FORMAT " stored, %"
        G_GUINT64_FORMAT " spooled (%" G_GUINT64_FORMAT " replayed), %"
        G_GUINT64_FORMAT " failed", r->stored, r->spooled, r->replayed,
        r->failed);
  if (r->live)
    g_string_append_printf (s, "; %" G_GUINT64_FORMAT " reconnect attempts, %"
        G_GUINT64_FORMAT " connections", r->reconnects, r->connections);
  if (r->errors)
    g_string_append_printf (s, "; %" G_GUINT64_FORMAT " errors", r->errors);
  if (r->status != VSS_INGEST_STATUS_OK)
    g_string_append_printf (s, "; %s", vss_ingest_status_to_string (r->status));
  if (r->error)
    g_string_append_printf (s, ": %s", r->error);
  if (r->error_detail) {
    gchar *one_line = g_strdelimit (g_strdup (r->error_detail), "\n", ' ');

    g_string_append_printf (s, ": %s", one_line);
    g_free (one_line);
  }
  return g_string_free (s, FALSE);
}
