/* gst-vss: vss-search CLI, vssquery history and the search signal, against
 * redis-server with our vss-search.so module
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   test-vss-search MODULE.so VSS-SEARCH-BINARY
 *
 * Frames are written the way vsssink stores them: HASH
 * frame:<stream>:<id> with vector (f32 blob), stream, ts (unix ms), pts, uri
 * (file:// of a JPEG in the test folder), size, model, id, in the index
 * "frames". Local embeddings of real photographs, or the Bedrock test
 * server's embeddings of their JPEG bytes.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <signal.h>
#include <string.h>
#include <jansson.h>
#include <curl/curl.h>
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/app/gstappsink.h>
#include "vss-test-bedrock.h"
#include "gstvss.h"
#include "query/gstvssqueryembed.h"
#include "query/gstvssquerysearch.h"
#include "aws/gstvssaws.h"
#include "vss-test-redis.h"
#include "vss-test-util.h"
#include "vss-test-s3rver.h"
#include "vss-fake-valkey.h"

#define AK "AKIDVSSSEARCHTEST001"
#define SK "vss-search/test+Secret0123456789abcdefgh"
#define REGION "eu-west-1"
#define RAW_CAPS "video/x-raw,format=I420,width=320,height=240"

static const gchar *module_path, *cli_path;
static const gchar *photo_names[] = { "Aqua.jpg", "Blinds.jpg", "Dune.jpg" };

static gchar *photo[3];
static gchar *tmpdir;
static VssTestRedis *redis;
static gchar *url;
static VssValkeyClient *client;

/* ---- helpers ---- */

static GstSample *
load_sample (const gchar * path, const gchar * caps)
{
  gchar *desc = g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! "
      "videoconvert ! videoscale ! %s ! appsink name=sink", path, caps);
  GstElement *p = gst_parse_launch (desc, NULL);
  GstElement *sink;
  GstSample *s;

  fail_unless (p != NULL, "cannot build %s", desc);
  sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  gst_element_set_state (p, GST_STATE_PLAYING);
  s = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 30 * GST_SECOND);
  fail_unless (s != NULL, "no frame from %s", path);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (p);
  g_free (desc);
  return s;
}

/* Writes a 320x240 JPEG of @src (a file, or a videotestsrc description
 * when it starts with "videotestsrc") to tmpdir/@name. */
static gchar *
write_jpeg (const gchar * src, const gchar * name, GBytes ** bytes)
{
  GstSample *s;
  GstMapInfo map;
  gchar *path = g_build_filename (tmpdir, name, NULL);

  if (g_str_has_prefix (src, "videotestsrc")) {
    gchar *desc = g_strdup_printf ("%s num-buffers=1 ! " RAW_CAPS
        " ! jpegenc quality=90 ! appsink name=sink", src);
    GstElement *p = gst_parse_launch (desc, NULL);
    GstElement *sink = gst_bin_get_by_name (GST_BIN (p), "sink");

    gst_element_set_state (p, GST_STATE_PLAYING);
    s = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 30 * GST_SECOND);
    fail_unless (s != NULL);
    gst_element_set_state (p, GST_STATE_NULL);
    gst_object_unref (sink);
    gst_object_unref (p);
    g_free (desc);
  } else {
    s = load_sample (src, RAW_CAPS " ! jpegenc quality=85 ! image/jpeg");
  }
  gst_buffer_map (gst_sample_get_buffer (s), &map, GST_MAP_READ);
  fail_unless (g_file_set_contents (path, (gchar *) map.data, map.size, NULL));
  if (bytes)
    *bytes = g_bytes_new (map.data, map.size);
  gst_buffer_unmap (gst_sample_get_buffer (s), &map);
  gst_sample_unref (s);
  return path;
}

static gfloat *
local_vector_of (const gchar * jpeg_path)
{
  GstVssQueryEmbedderOptions o = { GST_VSS_QUERY_PROVIDER_LOCAL, };
  GstVssQueryEmbedder *e = gst_vss_query_embedder_new (&o, NULL);
  GError *err = NULL;
  gfloat *v = gst_vss_query_embedder_embed_file (e, jpeg_path, &err);

  fail_unless (v != NULL, "%s", err ? err->message : "");
  gst_vss_query_embedder_free (e);
  return v;
}

static void
create_index (guint dim)
{
  static const gchar *const tags[] = { "stream", NULL };
  static const gchar *const nums[] = { "ts", NULL };
  VssValkeyIndexSpec spec = { 0, };
  GError *err = NULL;

  spec.name = "frames";
  spec.prefix = "frame:";
  spec.vector_field = "vector";
  spec.dim = dim;
  spec.metric = VSS_VALKEY_METRIC_COSINE;
  spec.algorithm = VSS_VALKEY_ALGORITHM_HNSW;
  spec.tag_fields = tags;
  spec.numeric_fields = nums;
  fail_unless (vss_valkey_ensure_index (client, &spec, FALSE, NULL, &err),
      "FT.CREATE: %s", err ? err->message : "");
}

/* HSET frame:<stream>:<id> as vsssink writes it. */
/* A frame as vsssink stores it, written field by field here (not through
 * the frame record, which is what is being checked); @source NULL: a live
 * stream's frame, without source and position. */
static gchar *
store_frame_full (const gchar * stream, gint64 ts_ms, const gfloat * v,
    guint dim, const gchar * uri, const gchar * model, const gchar * source,
    gint64 position_ms)
{
  gchar id[GST_VSS_FRAME_ID_SIZE];
  gchar *key, *ts, *pts, *size;
  const gchar *argv[24];
  gsize argvlen[24];
  guint32 *blob = g_new (guint32, dim);
  GPtrArray *keep = g_ptr_array_new_with_free_func (g_free);
  VssValkeyReply *r;
  GError *err = NULL;
  gint n = 0;

  gst_vss_frame_id_new (ts_ms * 1000, id);
  key = g_strdup_printf ("frame:%s:%s", stream, id);
  ts = g_strdup_printf ("%" G_GINT64_FORMAT, ts_ms);
  pts = g_strdup_printf ("%" G_GUINT64_FORMAT, (guint64) ts_ms * GST_MSECOND);
  size = g_strdup ("12345");
  for (guint i = 0; i < dim; i++) {
    guint32 bits;
    memcpy (&bits, &v[i], 4);
    blob[i] = GUINT32_TO_LE (bits);
  }
#define ARG(s) (argv[n] = (s), argvlen[n] = strlen (s), n++)
  ARG ("HSET");
  ARG (key);
  argv[n] = "vector";
  argvlen[n++] = 6;
  argv[n] = (const gchar *) blob;
  argvlen[n++] = dim * 4;
  ARG ("stream");
  ARG (stream);
  ARG ("ts");
  ARG (ts);
  ARG ("pts");
  ARG (pts);
  ARG ("uri");
  ARG (uri);
  ARG ("size");
  ARG (size);
  ARG ("model");
  ARG (model);
  ARG ("id");
  ARG (id);
  if (source) {
    gchar *pos = g_strdup_printf ("%" G_GINT64_FORMAT, position_ms);

    ARG ("source");
    ARG (source);
    ARG ("position");
    ARG (pos);
    g_ptr_array_add (keep, pos);
  }
#undef ARG
  r = vss_valkey_command (client, NULL, &err, n, argv, argvlen);
  fail_unless (r != NULL && r->type == REDIS_REPLY_INTEGER, "HSET: %s",
      err ? err->message : r->str);
  freeReplyObject (r);
  g_free (blob);
  g_free (ts);
  g_free (pts);
  g_free (size);
  g_ptr_array_unref (keep);
  return key;
}

static gchar *
store_frame (const gchar * stream, gint64 ts_ms, const gfloat * v, guint dim,
    const gchar * uri, const gchar * model)
{
  return store_frame_full (stream, ts_ms, v, dim, uri, model, NULL, -1);
}

static gchar *
file_uri (const gchar * path)
{
  return g_filename_to_uri (path, NULL, NULL);
}

static void
setup (void)
{
  VssTestRedisOptions o = { 0, };
  GError *err = NULL;

  for (guint i = 0; i < 3; i++) {
    photo[i] = g_build_filename ("/usr/share/backgrounds/mate/nature",
        photo_names[i], NULL);
    fail_unless (g_file_test (photo[i], G_FILE_TEST_EXISTS),
        "%s is missing: run tools/install-deps.sh (mate-backgrounds)",
        photo[i]);
  }
  tmpdir = g_dir_make_tmp ("vss-search-XXXXXX", &err);
  fail_unless (tmpdir != NULL);
  fail_unless (g_file_test (module_path, G_FILE_TEST_EXISTS),
      "module %s is missing", module_path);
  o.module = module_path;
  redis = vss_test_redis_start (&o, &err);
  fail_unless (redis != NULL, "redis-server: %s", err ? err->message : "");
  url = vss_test_redis_get_url (redis, "cluster=no");
  client = vss_valkey_client_new_from_url (url, &err);
  fail_unless (client != NULL);
}

static void
teardown (void)
{
  g_clear_pointer (&client, vss_valkey_client_free);
  g_clear_pointer (&redis, vss_test_redis_free);
  g_clear_pointer (&url, g_free);
  for (guint i = 0; i < 3; i++)
    g_clear_pointer (&photo[i], g_free);
  vss_test_rm_rf (tmpdir);
  g_clear_pointer (&tmpdir, g_free);
}

/* Runs the CLI; returns its exit status, stdout in @out, stderr in @err.
 * @env: name, value pairs to set (a NULL value unsets the name). */
static gint
run_cli (gchar ** out, gchar ** errout, const gchar * const *env,
    const gchar * first, ...)
{
  GPtrArray *argv = g_ptr_array_new ();
  GSubprocessLauncher *l = g_subprocess_launcher_new
      (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  GSubprocess *p;
  GError *err = NULL;
  const gchar *a;
  va_list ap;
  gint status;

  g_ptr_array_add (argv, (gpointer) cli_path);
  va_start (ap, first);
  for (a = first; a; a = va_arg (ap, const gchar *))
      g_ptr_array_add (argv, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  for (guint i = 0; env && env[i]; i += 2) {
    if (env[i + 1])
      g_subprocess_launcher_setenv (l, env[i], env[i + 1], TRUE);
    else
      g_subprocess_launcher_unsetenv (l, env[i]);
  }
  p = g_subprocess_launcher_spawnv (l, (const gchar * const *) argv->pdata,
      &err);
  fail_unless (p != NULL, "%s: %s", cli_path, err ? err->message : "");
  fail_unless (g_subprocess_communicate_utf8 (p, NULL, NULL, out, errout,
          &err), "%s", err ? err->message : "");
  status = g_subprocess_get_if_exited (p) ? g_subprocess_get_exit_status (p) :
      -1;
  g_object_unref (p);
  g_object_unref (l);
  g_ptr_array_free (argv, TRUE);
  return status;
}

typedef struct
{
  gchar *key[3];
  gchar *jpeg[3];
  gint64 ts[3];
} Stored;

/* Three photographs as local embeddings: photo i in stream cam<i+1>,
 * captured i hours ago; plus a copy of photo 0 in cam3, 3 days ago. */
static void
store_local (Stored * st)
{
  gint64 now = g_get_real_time () / 1000;
  guint dim = 0;

  for (guint i = 0; i < 3; i++) {
    gchar *name = g_strdup_printf ("photo%u.jpg", i);
    gchar *stream = g_strdup_printf ("cam%u", i + 1);
    gchar *uri;
    gfloat *v;

    st->jpeg[i] = write_jpeg (photo[i], name, NULL);
    v = local_vector_of (st->jpeg[i]);
    if (!dim) {
      GstVssQueryEmbedderOptions o = { GST_VSS_QUERY_PROVIDER_LOCAL, };
      GstVssQueryEmbedder *e = gst_vss_query_embedder_new (&o, NULL);
      dim = gst_vss_query_embedder_get_dim (e);
      gst_vss_query_embedder_free (e);
      create_index (dim);
    }
    uri = file_uri (st->jpeg[i]);
    st->ts[i] = now - i * 3600 * 1000;
    st->key[i] = store_frame (stream, st->ts[i], v, dim, uri,
        GST_VSS_EMBED_LOCAL_MODEL);
    if (i == 0)
      g_free (store_frame ("cam3", now - 3 * 86400 * 1000, v, dim, uri,
              GST_VSS_EMBED_LOCAL_MODEL));
    g_free (uri);
    g_free (v);
    g_free (name);
    g_free (stream);
  }
}

static void
stored_clear (Stored * st)
{
  for (guint i = 0; i < 3; i++) {
    g_free (st->key[i]);
    g_free (st->jpeg[i]);
  }
}

static json_t *
cli_json (gint * status, const gchar * first, ...)
{
  /* Up to 12 arguments after the fixed ones. */
  const gchar *a[16] = { NULL, };
  gchar *out = NULL, *err = NULL;
  json_t *o;
  va_list ap;
  guint n = 0;
  const gchar *s;

  va_start (ap, first);
  for (s = first; s && n < 12; s = va_arg (ap, const gchar *))
      a[n++] = s;
  va_end (ap);
  *status = run_cli (&out, &err, NULL, "--json", "-V", url, a[0], a[1], a[2],
      a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], NULL);
  o = json_loads (out, 0, NULL);
  fail_unless (*status != 0 || o != NULL, "bad JSON: %s / %s", out, err);
  g_free (out);
  g_free (err);
  return o;
}

/* ---- CLI ---- */

/* Frames of a file name it and their place in it, in the table, the JSON
 * and the page (issue 18, point 15); frames of live streams do not. */
GST_START_TEST (test_cli_source_position)
{
  Stored st;
  gchar *out = NULL, *err = NULL, *uri, *key, *page, *html = NULL;
  gfloat *v;
  gint status;
  json_t *o, *hit;
  gboolean found = FALSE;

  store_local (&st);
  v = local_vector_of (st.jpeg[1]);
  uri = file_uri (st.jpeg[1]);
  key = store_frame_full ("lobby", g_get_real_time () / 1000, v,
      gst_vss_embed_local_dim (), uri, GST_VSS_EMBED_LOCAL_MODEL,
      "Front door.mkv", 54321);

  status = run_cli (&out, &err, NULL, "--image", st.jpeg[1], "-k", "2",
      "--stream", "lobby", "-V", url, NULL);
  fail_unless (status == 0, "exit %d: %s", status, err);
  fail_unless (strstr (out, "Front door.mkv @ 00:54") != NULL, "%s", out);
  g_free (out);
  g_free (err);

  o = cli_json (&status, "--image", st.jpeg[1], "-k", "4", NULL);
  fail_unless_equals_int (status, 0);
  for (guint i = 0; i < json_array_size (json_object_get (o, "results")); i++) {
    hit = json_array_get (json_object_get (o, "results"), i);
    if (!g_strcmp0 (json_string_value (json_object_get (hit, "key")), key)) {
      fail_unless_equals_string (json_string_value (json_object_get (hit,
                  "source")), "Front door.mkv");
      fail_unless_equals_int (json_integer_value (json_object_get (hit,
                  "position_ms")), 54321);
      found = TRUE;
    } else {
      fail_unless (json_object_get (hit, "source") == NULL);
      fail_unless (json_object_get (hit, "position_ms") == NULL);
    }
  }
  fail_unless (found);
  json_decref (o);

  page = g_build_filename (tmpdir, "source.html", NULL);
  status = run_cli (&out, &err, NULL, "--image", st.jpeg[1], "-k", "2",
      "--stream", "lobby", "-V", url, "--html", page, NULL);
  fail_unless (status == 0, "exit %d: %s", status, err);
  fail_unless (g_file_get_contents (page, &html, NULL, NULL));
  fail_unless (strstr (html, "Front door.mkv @ 00:54") != NULL);
  g_free (html);
  g_free (page);
  g_free (out);
  g_free (err);
  g_free (key);
  g_free (uri);
  g_free (v);
  stored_clear (&st);
}

GST_END_TEST;

GST_START_TEST (test_cli_image_table_and_json)
{
  Stored st;
  gchar *out = NULL, *err = NULL, **lines, *uri0;
  gint status;
  json_t *o, *res;

  store_local (&st);
  uri0 = file_uri (st.jpeg[0]);

  /* Table. */
  status = run_cli (&out, &err, NULL, "--image", st.jpeg[0], "-k", "3", "-V",
      url, NULL);
  fail_unless_equals_int (status, 0);
  lines = g_strsplit (out, "\n", -1);
  fail_unless (g_str_has_prefix (lines[0], "DISTANCE"), "%s", out);
  fail_unless (strstr (lines[0], "STREAM") && strstr (lines[0], "TIME")
      && strstr (lines[0], "SOURCE") && strstr (lines[0], "URI"));
  fail_unless_equals_int (g_strv_length (lines), 5);    /* header, 3, "" */
  {
    gchar **f = g_strsplit_set (lines[1], " ", -1);
    gchar **w = g_new0 (gchar *, 8);
    guint n = 0;
    for (guint i = 0; f[i]; i++)
      if (f[i][0] && n < 7)
        w[n++] = f[i];
    fail_unless_equals_int (n, 5);
    fail_unless (g_ascii_strtod (w[0], NULL) < 0.01, "%s", lines[1]);
    fail_unless (!strcmp (w[1], "cam1") || !strcmp (w[1], "cam3"), "%s",
        lines[1]);
    fail_unless (g_str_has_suffix (w[2], "Z"), "%s", w[2]);
    /* A live stream's frame: no source. */
    fail_unless_equals_string (w[3], "-");
    fail_unless_equals_string (w[4], uri0);
    g_free (w);
    g_strfreev (f);
  }
  g_strfreev (lines);
  g_free (out);
  g_free (err);

  /* JSON, with a stream filter. */
  o = cli_json (&status, "--image", st.jpeg[0], "-k", "5", "--stream",
      "cam2", "--stream", "cam3", NULL);
  fail_unless_equals_int (status, 0);
  res = json_object_get (o, "results");
  /* cam2 (photo 1), cam3 (photo 2, and the old copy of photo 0). */
  fail_unless_equals_int (json_array_size (res), 3);
  fail_unless_equals_string (json_string_value (json_object_get
          (json_array_get (res, 0), "stream")), "cam3");
  fail_unless (json_real_value (json_object_get (json_array_get (res, 0),
              "distance")) < 0.01);
  for (guint i = 1; i < 3; i++) {
    const gchar *sid = json_string_value (json_object_get (json_array_get
            (res, i), "stream"));
    fail_unless (!strcmp (sid, "cam2") || !strcmp (sid, "cam3"));
    fail_unless (json_real_value (json_object_get (json_array_get (res, i),
                "distance")) > 0.1);
  }
  fail_unless_equals_string (json_string_value (json_object_get
          (json_array_get (res, 0), "uri")), uri0);
  fail_unless_equals_string (json_string_value (json_object_get (o, "kind")),
      "image");
  json_decref (o);

  /* A time range: the last 90 minutes holds cam1 (now) and cam2 (1 h). */
  o = cli_json (&status, "--image", st.jpeg[0], "-k", "5", "--since", "90m",
      NULL);
  fail_unless_equals_int (status, 0);
  res = json_object_get (o, "results");
  fail_unless_equals_int (json_array_size (res), 2);
  fail_unless_equals_string (json_string_value (json_object_get
          (json_array_get (res, 0), "key")), st.key[0]);
  fail_unless_equals_int (json_integer_value (json_object_get (json_array_get
              (res, 0), "ts")), st.ts[0]);
  json_decref (o);
  {
    gchar *until = g_strdup_printf ("%" G_GINT64_FORMAT, st.ts[1]);
    o = cli_json (&status, "--image", st.jpeg[0], "-k", "5", "--since",
        "2d", "--until", until, "--exclude-stream", "cam3", NULL);
    fail_unless_equals_int (status, 0);
    res = json_object_get (o, "results");
    /* cam2 (1 h ago) and cam3 (3 d, excluded anyway), not cam1 (now). */
    fail_unless_equals_int (json_array_size (res), 1);
    fail_unless_equals_string (json_string_value (json_object_get
            (json_array_get (res, 0), "key")), st.key[1]);
    json_decref (o);
    g_free (until);
  }
  /* Issue 18, point 16: no float noise in the JSON (0.422, not
   * 0.42199999094009399): distances to 6 decimals, took_ms to 3. */
  {
    gchar *out2 = NULL, *err2 = NULL;
    GRegex *re = g_regex_new ("\"(distance|took_ms)\": -?[0-9]+(\\.[0-9]*)?",
        0, 0, NULL);
    GMatchInfo *mi = NULL;
    guint n = 0;

    status = run_cli (&out2, &err2, NULL, "--json", "-V", url, "--image",
        st.jpeg[1], "-k", "4", NULL);
    fail_unless_equals_int (status, 0);
    g_regex_match (re, out2, 0, &mi);
    while (g_match_info_matches (mi)) {
      gchar *field = g_match_info_fetch (mi, 1);
      gchar *frac = g_match_info_fetch (mi, 2);
      guint max = strcmp (field, "took_ms") == 0 ? 3 : 6;

      fail_unless (strlen (frac) <= max + 1, "float noise in %s: %s", field,
          out2);
      n++;
      g_free (field);
      g_free (frac);
      g_match_info_next (mi, NULL);
    }
    g_match_info_free (mi);
    g_regex_unref (re);
    fail_unless_equals_int (n, 5);      /* took_ms and 4 distances */
    g_free (out2);
    g_free (err2);
  }
  /* ISO 8601 and max-distance. */
  o = cli_json (&status, "--image", st.jpeg[0], "--since",
      "2000-01-01T00:00:00Z", "--max-distance", "0.05", NULL);
  fail_unless_equals_int (status, 0);
  fail_unless_equals_int (json_array_size (json_object_get (o, "results")), 2);
  json_decref (o);

  g_free (uri0);
  stored_clear (&st);
}

GST_END_TEST;

GST_START_TEST (test_cli_errors)
{
  gchar *out = NULL, *err = NULL;
  gint status;

  create_index (4);
  status = run_cli (&out, &err, NULL, "-V", url, NULL);
  fail_unless_equals_int (status, 2);
  fail_unless (strstr (err, "exactly one of --text and --image"), "%s", err);
  g_free (out);
  g_free (err);
  status = run_cli (&out, &err, NULL, "--text", "a red car", "-V", url, NULL);
  fail_unless_equals_int (status, 1);
  fail_unless (strstr (err, "images only") && strstr (err, "bedrock"), "%s",
      err);
  g_free (out);
  g_free (err);
  status = run_cli (&out, &err, NULL, "--image", photo[0], "--since",
      "yesterday", "-V", url, NULL);
  fail_unless_equals_int (status, 2);
  fail_unless (strstr (err, "not a time"), "%s", err);
  g_free (out);
  g_free (err);
  status = run_cli (&out, &err, NULL, "--image", "/nonexistent.jpg", "-V",
      url, NULL);
  fail_unless_equals_int (status, 1);
  fail_unless (strstr (err, "/nonexistent.jpg"), "%s", err);
  g_free (out);
  g_free (err);
  /* The index has 4 dimensions, the local embedding more. Issue 18,
   * point 14: the message names the index, both dimensions, and --index. */
  status = run_cli (&out, &err, NULL, "--image", photo[0], "-V", url, NULL);
  fail_unless_equals_int (status, 1);
  {
    GstVssQueryEmbedderOptions o = { GST_VSS_QUERY_PROVIDER_LOCAL, };
    GstVssQueryEmbedder *e = gst_vss_query_embedder_new (&o, NULL);
    gchar *qdim = g_strdup_printf ("%u", gst_vss_query_embedder_get_dim (e));

    fail_unless (strstr (err, "'frames'") && strstr (err, qdim)
        && strstr (err, " 4") && strstr (err, "--index"), "%s", err);
    gst_vss_query_embedder_free (e);
    g_free (qdim);
  }
  g_free (out);
  g_free (err);
  /* An index that does not exist is named as such. */
  status = run_cli (&out, &err, NULL, "--image", photo[0], "-V", url,
      "--index", "nosuchindex", NULL);
  fail_unless_equals_int (status, 1);
  fail_unless (strstr (err, "no index 'nosuchindex'") != NULL, "%s", err);
  g_free (out);
  g_free (err);
  /* Issue 18, point 16: values that make no sense are refused by name. */
  {
    const gchar *cases[][2] = {
      {"--max-distance", "nan"}, {"--max-distance", "-1"},
      {"--max-distance", "inf"}, {"--index", ""}, {"--dimension", "-3"},
      {"--dimension", "100"}, {"--ef-runtime", "-1"},
      {"--ef-runtime", "5000"}, {"--timeout", "-5"}, {"--stream", ""},
      {"--exclude-stream", ""}, {"--since", "inf"}, {"--until", "nan"},
      {"--since", ""}, {"--model", ""}, {"--region", ""},
      {"--endpoint", ""}, {"--profile", ""}, {"--s3-endpoint", ""},
      {"--valkey", ""}, {"--html", ""}, {"--provider", ""},
    };

    for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
      status = run_cli (&out, &err, NULL, "--image", photo[0], "-V", url,
          cases[i][0], cases[i][1], NULL);
      fail_unless (status == 2 && strstr (err, cases[i][0]) != NULL,
          "%s '%s': exit %d, expected 2 naming the option: %s", cases[i][0],
          cases[i][1], status, err);
      g_free (out);
      g_free (err);
    }
    status = run_cli (&out, &err, NULL, "--text", "", "-V", url, NULL);
    fail_unless (status == 2 && strstr (err, "--text") != NULL, "%d %s",
        status, err);
    g_free (out);
    g_free (err);
    status = run_cli (&out, &err, NULL, "--image", "", "-V", url, NULL);
    fail_unless (status == 2 && strstr (err, "--image") != NULL, "%d %s",
        status, err);
    g_free (out);
    g_free (err);
  }
  /* A password never shows. */
  status = run_cli (&out, &err, NULL, "--image", photo[0], "-V",
      "redis://u:hunter2secret@127.0.0.1:1", NULL);
  fail_unless_equals_int (status, 1);
  fail_unless (strstr (err, "hunter2secret") == NULL, "%s", err);
  g_free (out);
  g_free (err);
}

GST_END_TEST;

/* True when @s is UTF-8 without control characters but newlines. */
static gboolean
is_clean_text (const gchar * s)
{
  if (!g_utf8_validate (s, -1, NULL))
    return FALSE;
  for (const gchar * p = s; *p; p++)
    if ((guchar) * p < 0x20 && *p != '\n')
      return FALSE;
  return TRUE;
}

/* Issue 18, point 14: a server without vector search gets the advice
 * vss-ingest gives, not the raw "unknown command" with the query vector's
 * bytes. */
GST_START_TEST (test_cli_server_without_search)
{
  VssTestRedis *plain;
  GError *e = NULL;
  gchar *purl, *out = NULL, *err = NULL;
  gint status;

  plain = vss_test_redis_start (NULL, &e);
  fail_unless (plain != NULL, "%s", e ? e->message : "");
  purl = vss_test_redis_get_url (plain, NULL);
  status = run_cli (&out, &err, NULL, "--image", photo[0], "-V", purl, NULL);
  fail_unless_equals_int (status, 1);
  fail_unless (is_clean_text (err), "binary bytes in the message");
  fail_unless (strstr (err, "unknown command") == NULL, "%s", err);
  fail_unless (strstr (err, "has no vector search (no FT.SEARCH command)")
      && strstr (err, "vss-search.so") && strstr (err, purl), "%s", err);
  g_free (out);
  g_free (err);
  g_free (purl);
  vss_test_redis_free (plain);
}

GST_END_TEST;

/* Decodes a PNG into RGB. */
static GstSample *
load_png (const gchar * path)
{
  return load_sample (path, "video/x-raw,format=RGB");
}

static guint
count_colour_within (GstSample * s, guint8 r, guint8 g, guint8 b, gint tol)
{
  GstVideoInfo info;
  GstVideoFrame f;
  guint n = 0;

  gst_video_info_from_caps (&info, gst_sample_get_caps (s));
  fail_unless (gst_video_frame_map (&f, &info, gst_sample_get_buffer (s),
          GST_MAP_READ));
  for (gint y = 0; y < GST_VIDEO_INFO_HEIGHT (&info); y++) {
    const guint8 *row = (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&f, 0) +
        y * GST_VIDEO_FRAME_PLANE_STRIDE (&f, 0);
    for (gint x = 0; x < GST_VIDEO_INFO_WIDTH (&info); x++)
      n += abs (row[3 * x] - r) < tol && abs (row[3 * x + 1] - g) < tol
          && abs (row[3 * x + 2] - b) < tol;
  }
  gst_video_frame_unmap (&f);
  return n;
}

static guint
count_colour (GstSample * s, guint8 r, guint8 g, guint8 b)
{
  return count_colour_within (s, r, g, b, 40);
}

/* Headless Chromium: a screenshot of @page_path into @shot, or (@shot
 * NULL) its DOM after scripts ran, returned. */
static gchar *
chromium_run (const gchar * page_path, const gchar * shot)
{
  gchar *chromium = g_find_program_in_path ("chromium");
  gchar *profile = g_build_filename (tmpdir, "chromium-profile", NULL);
  gchar *page_uri = file_uri (page_path);
  gchar *prof_arg = g_strconcat ("--user-data-dir=", profile, NULL);
  gchar *mode = shot ? g_strconcat ("--screenshot=", shot, NULL) :
      g_strdup ("--dump-dom");
  const gchar *argv[] = { chromium, "--headless", "--no-sandbox",
    "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
    "--no-first-run", "--disable-extensions", "--window-size=1400,1000",
    prof_arg, mode, page_uri, NULL
  };
  GError *e = NULL;
  GSubprocess *p;
  gchar *dom = NULL;

  fail_unless (chromium != NULL, "chromium is not installed: run "
      "tools/install-deps.sh --tests");
  p = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE |
      G_SUBPROCESS_FLAGS_STDERR_SILENCE, &e);
  fail_unless (p != NULL, "%s", e ? e->message : "");
  fail_unless (g_subprocess_communicate_utf8 (p, NULL, NULL, &dom, NULL, &e),
      "chromium: %s", e ? e->message : "");
  fail_unless (g_subprocess_get_if_exited (p)
      && g_subprocess_get_exit_status (p) == 0, "chromium failed");
  g_object_unref (p);
  g_free (chromium);
  g_free (profile);
  g_free (page_uri);
  g_free (prof_arg);
  g_free (mode);
  return dom;
}

/* vss-search --html, rendered by headless Chromium: the thumbnails (three
 * solid-colour frames) must be drawn, a missing one must not break it. */
GST_START_TEST (test_cli_html_chromium)
{
  static const struct
  {
    const gchar *src;
    guint8 r, g, b;
  } col[] = {
    {"videotestsrc pattern=solid-color foreground-color=0xffe01010", 0xe0,
        0x10, 0x10},
    {"videotestsrc pattern=solid-color foreground-color=0xff10c010", 0x10,
        0xc0, 0x10},
    {"videotestsrc pattern=solid-color foreground-color=0xff1010e0", 0x10,
        0x10, 0xe0},
  };
  gchar *chromium = g_find_program_in_path ("chromium");
  gchar *page = g_build_filename (tmpdir, "hits.html", NULL);
  gchar *shot = g_build_filename (tmpdir, "shot.png", NULL);
  gchar *profile = g_build_filename (tmpdir, "chromium-profile", NULL);
  gchar *out = NULL, *err = NULL, *html, *page_uri, *shot_arg, *prof_arg;
  gint64 now = g_get_real_time () / 1000;
  guint dim = 0, i;
  gint status;
  GstSample *png;

  fail_unless (chromium != NULL, "chromium is not installed: run "
      "tools/install-deps.sh --tests");
  for (i = 0; i < 3; i++) {
    gchar *name = g_strdup_printf ("solid%u.jpg", i);
    gchar *jpeg = write_jpeg (col[i].src, name, NULL);
    gchar *uri = file_uri (jpeg);
    gfloat *v = local_vector_of (jpeg);
    gchar *stream = g_strdup_printf ("cam%u", i + 1);

    if (!dim) {
      GstVssQueryEmbedderOptions o = { GST_VSS_QUERY_PROVIDER_LOCAL, };
      GstVssQueryEmbedder *e = gst_vss_query_embedder_new (&o, NULL);
      dim = gst_vss_query_embedder_get_dim (e);
      gst_vss_query_embedder_free (e);
      create_index (dim);
    }
    g_free (store_frame (stream, now - i * 1000, v, dim, uri,
            GST_VSS_EMBED_LOCAL_MODEL));
    if (i == 0)                 /* a frame whose object is gone */
      g_free (store_frame ("cam9", now, v, dim, "file:///nonexistent/x.jpg",
              GST_VSS_EMBED_LOCAL_MODEL));
    g_free (v);
    g_free (uri);
    g_free (jpeg);
    g_free (name);
    g_free (stream);
  }
  {
    gchar *q = g_build_filename (tmpdir, "solid0.jpg", NULL);
    status = run_cli (&out, &err, NULL, "--image", q, "-k", "4", "--html",
        page, "-V", url, NULL);
    g_free (q);
  }
  fail_unless_equals_int (status, 0);
  fail_unless (strstr (err, "3 of 4 thumbnails"), "%s", err);
  g_free (out);
  g_free (err);
  fail_unless (g_file_get_contents (page, &html, NULL, NULL));
  fail_unless (strstr (html, "<!DOCTYPE html>") != NULL);
  fail_unless (strstr (html, "src=\"data:image/jpeg;base64,") != NULL);
  /* Self-contained: no external resource. */
  fail_unless (strstr (html, "src=\"http") == NULL);
  fail_unless (strstr (html, "src=\"file:") == NULL);
  fail_unless (strstr (html, "no thumbnail") != NULL);
  fail_unless (strstr (html, "frame:cam1:") != NULL);
  g_free (html);

  page_uri = file_uri (page);
  shot_arg = g_strconcat ("--screenshot=", shot, NULL);
  prof_arg = g_strconcat ("--user-data-dir=", profile, NULL);
  {
    const gchar *argv[] = { chromium, "--headless", "--no-sandbox",
      "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
      "--no-first-run",
      "--disable-extensions", "--window-size=1400,1000", prof_arg, shot_arg,
      page_uri, NULL
    };
    GError *e = NULL;
    GSubprocess *p = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE
        | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &e);
    fail_unless (p != NULL, "%s", e ? e->message : "");
    fail_unless (g_subprocess_wait_check (p, NULL, &e), "chromium: %s",
        e ? e->message : "");
    g_object_unref (p);
  }
  fail_unless (g_file_test (shot, G_FILE_TEST_EXISTS),
      "chromium wrote no screenshot");
  png = load_png (shot);
  for (i = 0; i < 3; i++) {
    guint n = count_colour (png, col[i].r, col[i].g, col[i].b);
    /* Each thumbnail is drawn 320x240 (76800 px): most of it must show. */
    fail_unless (n > 60000, "thumbnail %u: %u pixels of its colour", i, n);
  }
  /* The page's style applies (under its Content-Security-Policy): the
   * missing thumbnail is a 320x240 #eee box. */
  {
    guint n = count_colour_within (png, 0xee, 0xee, 0xee, 6);
    fail_unless (n > 60000, "%u pixels of the missing thumbnail's box", n);
  }
  gst_sample_unref (png);
  g_free (page_uri);
  g_free (shot_arg);
  g_free (prof_arg);
  g_free (chromium);
  g_free (page);
  g_free (shot);
  g_free (profile);
}

GST_END_TEST;

/* Issue 18, point 7: a stored URI becomes a link only for s3://, file://
 * and http(s)://; anything else (javascript:, data:, ...) is text. The page
 * forbids scripts (Content-Security-Policy): even markup that got in could
 * not run. Checked in the file and in what Chromium makes of it. */
GST_START_TEST (test_cli_html_links)
{
  const gchar *bad[] = { "javascript:alert(3)", "JaVaScRiPt:alert(4)",
    " javascript:alert(5)", "data:text/html,<script>alert(6)</script>",
    "vbscript:msgbox(7)", NULL
  };
  gchar *page = g_build_filename (tmpdir, "links.html", NULL);
  gchar *jpeg = write_jpeg (photo[0], "links0.jpg", NULL);
  gchar *uri = file_uri (jpeg);
  gchar *out = NULL, *err = NULL, *html = NULL, *dom, *inj, *p;
  gfloat *v = local_vector_of (jpeg);
  gint64 now = g_get_real_time () / 1000;
  GstVssQueryEmbedderOptions o = { GST_VSS_QUERY_PROVIDER_LOCAL, };
  GstVssQueryEmbedder *e = gst_vss_query_embedder_new (&o, NULL);
  guint dim = gst_vss_query_embedder_get_dim (e), n, i;
  GRegex *href = g_regex_new ("<a [^>]*href=\"([^\"]*)\"", G_REGEX_CASELESS,
      0, NULL);
  GMatchInfo *mi = NULL;
  gint status;

  gst_vss_query_embedder_free (e);
  create_index (dim);
  for (i = 0; bad[i]; i++)
    g_free (store_frame ("bad", now - i, v, dim, bad[i],
            GST_VSS_EMBED_LOCAL_MODEL));
  g_free (store_frame ("web", now, v, dim, "https://example.com/f/x.jpg",
          GST_VSS_EMBED_LOCAL_MODEL));
  g_free (store_frame ("s3", now, v, dim, "s3://bucket/f/x.jpg",
          GST_VSS_EMBED_LOCAL_MODEL));
  g_free (store_frame ("file", now, v, dim, uri, GST_VSS_EMBED_LOCAL_MODEL));
  {
    /* The s3:// thumbnail is asked of a closed loopback port, not AWS. */
    gchar *s3 = g_strdup_printf ("http://127.0.0.1:%u", vss_test_free_port ());
    const gchar *env[] = { "AWS_ACCESS_KEY_ID", "AKIDNOTUSED0000",
      "AWS_SECRET_ACCESS_KEY", "not-used", "AWS_REGION", REGION, NULL
    };
    status = run_cli (&out, &err, env, "--image", jpeg, "-k", "8", "--html",
        page, "--s3-endpoint", s3, "-V", url, NULL);
    g_free (s3);
  }
  fail_unless (status == 0, "exit %d: %s", status, err);
  g_free (out);
  g_free (err);
  fail_unless (g_file_get_contents (page, &html, NULL, NULL));

  /* The file: a policy without scripts; links only to allowed schemes;
   * the other URIs shown as text. */
  fail_unless (strstr (html, "<meta http-equiv=\"Content-Security-Policy\" "
          "content=\"default-src 'none'") != NULL, "no policy: %.300s", html);
  fail_unless (strstr (html, "script-src") == NULL, "scripts allowed");
  fail_unless (strstr (html, "javascript:alert(3)") != NULL);
  fail_unless (strstr (html, "<script") == NULL, "a script in the page");
  n = 0;
  g_regex_match (href, html, 0, &mi);
  while (g_match_info_matches (mi)) {
    gchar *h = g_match_info_fetch (mi, 1);

    fail_unless (g_str_has_prefix (h, "https://") || g_str_has_prefix (h,
            "s3://") || g_str_has_prefix (h, "file://"), "link to %s", h);
    n++;
    g_free (h);
    g_match_info_next (mi, NULL);
  }
  g_clear_pointer (&mi, g_match_info_free);
  fail_unless_equals_int (n, 3);

  /* What Chromium builds from it: the same three links, nothing else. */
  dom = chromium_run (page, NULL);
  fail_unless (strstr (dom, "javascript:alert(3)") != NULL, "%.300s", dom);
  n = 0;
  g_regex_match (href, dom, 0, &mi);
  while (g_match_info_matches (mi)) {
    gchar *h = g_strstrip (g_match_info_fetch (mi, 1));

    fail_if (g_ascii_strncasecmp (h, "javascript:", 11) == 0
        || g_ascii_strncasecmp (h, "data:", 5) == 0
        || g_ascii_strncasecmp (h, "vbscript:", 9) == 0, "link to %s", h);
    n++;
    g_free (h);
    g_match_info_next (mi, NULL);
  }
  g_clear_pointer (&mi, g_match_info_free);
  fail_unless_equals_int (n, 3);
  g_free (dom);

  /* The policy holds: a script slipped into the page does not run; the
   * same page without the policy runs it (so this check can fail). */
  p = strstr (html, "</body>");
  fail_unless (p != NULL);
  inj = g_strdup_printf ("%.*s<script>document.body.setAttribute("
      "'data-pwned','yes')</script>%s", (gint) (p - html), html, p);
  fail_unless (g_file_set_contents (page, inj, -1, NULL));
  dom = chromium_run (page, NULL);
  /* (The dump holds the script's text too: look for what it would do.) */
  fail_unless (strstr (dom, "data-pwned=\"yes\"") == NULL, "a script ran");
  g_free (dom);
  {
    gchar *meta = strstr (inj, "<meta http-equiv=\"Content-Security-Policy\"");
    gchar *end = meta ? strchr (meta, '>') : NULL;

    fail_unless (end != NULL);
    memmove (meta, end + 1, strlen (end + 1) + 1);
    fail_unless (g_file_set_contents (page, inj, -1, NULL));
    dom = chromium_run (page, NULL);
    fail_unless (strstr (dom, "data-pwned=\"yes\"") != NULL, "no script ran");
    g_free (dom);
  }

  g_regex_unref (href);
  g_free (inj);
  g_free (html);
  g_free (v);
  g_free (uri);
  g_free (jpeg);
  g_free (page);
}

GST_END_TEST;

/* ---- s3:// thumbnails from s3rver ---- */

typedef struct
{
  GSubprocess *proc;
  gchar *dir;
  guint16 port;
  gchar *endpoint;
} S3rver;

static S3rver *
s3rver_start (void)
{
  S3rver *s = g_new0 (S3rver, 1);
  GError *err = NULL;

  s->dir = g_build_filename (tmpdir, "s3", NULL);
  g_mkdir_with_parents (s->dir, 0700);
  s->port = vss_test_free_port ();
  s->proc = vss_test_s3rver_start (s->dir, s->port, "frames", &err);
  fail_unless (s->proc != NULL, "%s", err ? err->message : "");
  s->endpoint = g_strdup_printf ("http://127.0.0.1:%u", s->port);
  return s;
}

static void
s3rver_stop (S3rver * s)
{
  vss_test_s3rver_stop (&s->proc);
  g_free (s->dir);
  g_free (s->endpoint);
  g_free (s);
}

/* A SigV4-signed PUT (s3rver's default keys S3RVER/S3RVER). */
static void
s3_put (S3rver * s, const gchar * key, GBytes * data)
{
  GstVssAwsCredentials creds = { (gchar *) "S3RVER", (gchar *) "S3RVER",
    NULL, 0, "properties"
  };
  gchar *ekey = g_uri_escape_string (key, "/", FALSE);
  gchar *url = g_strdup_printf ("%s/frames/%s", s->endpoint, ekey);
  GPtrArray *headers = NULL;
  struct curl_slist *hl = NULL;
  GError *err = NULL;
  glong status = 0;
  gsize len;
  const guint8 *d = g_bytes_get_data (data, &len);
  CURL *h;

  fail_unless (gst_vss_aws_sign_request (&creds, "us-east-1", "s3", "PUT",
          url, NULL, 0, d, len, GST_VSS_AWS_SIGV4_FLAG_S3 |
          GST_VSS_AWS_SIGV4_FLAG_CONTENT_SHA256, g_get_real_time () /
          G_USEC_PER_SEC, &headers, &err), "%s", err ? err->message : "");
  for (guint i = 0; i < headers->len; i++)
    hl = curl_slist_append (hl, g_ptr_array_index (headers, i));
  hl = curl_slist_append (hl, "Content-Type: image/jpeg");
  h = curl_easy_init ();
  curl_easy_setopt (h, CURLOPT_URL, url);
  curl_easy_setopt (h, CURLOPT_CUSTOMREQUEST, "PUT");
  curl_easy_setopt (h, CURLOPT_POSTFIELDS, d);
  curl_easy_setopt (h, CURLOPT_POSTFIELDSIZE, (long) len);
  curl_easy_setopt (h, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt (h, CURLOPT_NOPROXY, "*");
  fail_unless_equals_int (curl_easy_perform (h), CURLE_OK);
  curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &status);
  fail_unless_equals_int (status, 200);
  curl_easy_cleanup (h);
  curl_slist_free_all (hl);
  g_ptr_array_unref (headers);
  g_free (url);
  g_free (ekey);
}

/* vss-search --html reads s3:// thumbnails with a signed GET (s3rver checks
 * the signature); the page inlines exactly the stored bytes. */
GST_START_TEST (test_cli_html_s3)
{
  S3rver *s3 = s3rver_start ();
  gchar *page = g_build_filename (tmpdir, "s3.html", NULL);
  gchar *out = NULL, *err = NULL, *html, *b64, *q;
  GBytes *jpeg[2];
  const gchar *env[] = { "AWS_ACCESS_KEY_ID", "S3RVER",
    "AWS_SECRET_ACCESS_KEY", "S3RVER", "AWS_REGION", "us-east-1", NULL
  };
  /* s3rver checks the access key id of a SigV4 request but not its
   * signature (our S3 signing is cross-checked by vsssigcheck in
   * test-aws-bedrock): an unknown key id must fail. */
  const gchar *bad_env[] = { "AWS_ACCESS_KEY_ID", "AKIDUNKNOWN000000001",
    "AWS_SECRET_ACCESS_KEY", "wrong-s3-secret", "AWS_REGION", "us-east-1",
    NULL
  };
  gint64 now = g_get_real_time () / 1000;
  guint dim = 0;
  gint status;

  for (guint i = 0; i < 2; i++) {
    gchar *name = g_strdup_printf ("s3src%u.jpg", i);
    gchar *path = write_jpeg (photo[i], name, &jpeg[i]);
    gchar *key = g_strdup_printf ("cam%u/2026/12/01/frame %u.jpg", i + 1, i);
    gchar *uri = g_strdup_printf ("s3://frames/%s", key);
    gchar *stream = g_strdup_printf ("cam%u", i + 1);
    gfloat *v = local_vector_of (path);

    if (!dim) {
      GstVssQueryEmbedderOptions o = { GST_VSS_QUERY_PROVIDER_LOCAL, };
      GstVssQueryEmbedder *e = gst_vss_query_embedder_new (&o, NULL);
      dim = gst_vss_query_embedder_get_dim (e);
      gst_vss_query_embedder_free (e);
      create_index (dim);
    }
    s3_put (s3, key, jpeg[i]);
    g_free (store_frame (stream, now - i, v, dim, uri,
            GST_VSS_EMBED_LOCAL_MODEL));
    g_free (v);
    g_free (uri);
    g_free (key);
    g_free (stream);
    g_free (path);
    g_free (name);
  }
  {
    gfloat *unit = g_new0 (gfloat, dim);

    unit[0] = 1.0f;
    g_free (store_frame ("cam9", now, unit, dim,
            "s3://frames/missing/object.jpg", GST_VSS_EMBED_LOCAL_MODEL));
    g_free (unit);
  }

  q = g_build_filename (tmpdir, "s3src0.jpg", NULL);
  status = run_cli (&out, &err, env, "--image", q, "-k", "3", "--html", page,
      "--s3-endpoint", s3->endpoint, "-V", url, NULL);
  fail_unless (status == 0, "exit %d: %s", status, err);
  fail_unless (strstr (err, "2 of 3 thumbnails"), "%s", err);
  g_free (out);
  g_free (err);
  fail_unless (g_file_get_contents (page, &html, NULL, NULL));
  for (guint i = 0; i < 2; i++) {
    b64 = g_base64_encode (g_bytes_get_data (jpeg[i], NULL),
        g_bytes_get_size (jpeg[i]));
    fail_unless (strstr (html, b64) != NULL, "thumbnail %u not inlined", i);
    g_free (b64);
  }
  fail_unless (strstr (html, "HTTP 404") != NULL);
  g_free (html);

  /* Unknown keys: the page says why, the secret is never shown. */
  status = run_cli (&out, &err, bad_env, "--image", q, "-k", "3", "--html",
      page, "--s3-endpoint", s3->endpoint, "-V", url, NULL);
  fail_unless (status == 0, "exit %d: %s", status, err);
  fail_unless (strstr (err, "0 of 3 thumbnails"), "%s", err);
  fail_unless (g_file_get_contents (page, &html, NULL, NULL));
  fail_unless (strstr (html, "HTTP 403") != NULL);
  fail_unless (strstr (html, "wrong-s3-secret") == NULL);
  g_free (html);
  g_free (out);
  g_free (err);

  g_free (q);
  g_bytes_unref (jpeg[0]);
  g_bytes_unref (jpeg[1]);
  g_free (page);
  s3rver_stop (s3);
}

GST_END_TEST;

/* ---- Bedrock: text queries from the CLI ---- */

typedef VssTestBedrock Server;

static Server *
server_start (const gchar * map_file)
{
  gchar *map_arg = g_strconcat ("--text-map=", map_file, NULL);
  const gchar *args[] = { "--access-key=" AK, "--secret-key=" SK,
    "--region=" REGION, map_arg, NULL
  };
  GError *err = NULL;
  Server *s = vss_test_bedrock_start (args, &err);

  fail_unless (s != NULL, "%s", err ? err->message : "");
  g_free (map_arg);
  return s;
}

static void
server_stop (Server * s)
{
  vss_test_bedrock_stop (s);
}

GST_START_TEST (test_cli_bedrock_text)
{
  gchar *map = g_build_filename (tmpdir, "map.json", NULL);
  gchar *jpeg[3], *keys[3];
  GBytes *bytes[3];
  GstVssQueryEmbedder *e;
  GstVssQueryEmbedderOptions o = { GST_VSS_QUERY_PROVIDER_BEDROCK, };
  GstVssAwsSettings aws = { 0, };
  Server *srv;
  gint64 now = g_get_real_time () / 1000;
  gchar *out = NULL, *err = NULL;
  const gchar *env[] = { "AWS_ACCESS_KEY_ID", AK, "AWS_SECRET_ACCESS_KEY", SK,
    "AWS_REGION", REGION, NULL
  };
  gint status;
  json_t *js, *res;
  guint i;

  for (i = 0; i < 3; i++) {
    gchar *name = g_strdup_printf ("photo%u.jpg", i);
    jpeg[i] = write_jpeg (photo[i], name, &bytes[i]);
    g_free (name);
  }
  fail_unless (g_file_set_contents (map, "{\"a lake in the mountains\": "
          "\"photo0.jpg\", \"something like the dunes\": {\"image\": "
          "\"photo2.jpg\", \"distance\": 0.12}, \"un café rouge\": "
          "\"photo1.jpg\"}", -1, NULL));
  srv = server_start (map);
  aws.endpoint_url = srv->endpoint;
  aws.access_key_id = AK;
  aws.secret_access_key = SK;
  aws.region = REGION;
  o.aws = &aws;
  o.dim = 256;
  e = gst_vss_query_embedder_new (&o, NULL);
  fail_unless (e != NULL);
  create_index (256);
  /* The stored vectors are the server's embeddings of the JPEG bytes, as
   * vssembed provider=bedrock would have computed them. */
  for (i = 0; i < 3; i++) {
    GError *er = NULL;
    gfloat *v = gst_vss_query_embedder_embed_image (e, bytes[i], &er);
    gchar *uri = file_uri (jpeg[i]);
    gchar *stream = g_strdup_printf ("cam%u", i + 1);

    fail_unless (v != NULL, "%s", er ? er->message : "");
    keys[i] = store_frame (stream, now - i * 1000, v, 256, uri,
        GST_VSS_BEDROCK_IMAGE_MODEL);
    g_free (v);
    g_free (uri);
    g_free (stream);
  }

  status = run_cli (&out, &err, env, "--provider", "bedrock", "--text",
      "a lake in the mountains", "--dimension", "256", "--endpoint",
      srv->endpoint, "-k", "2", "--json", "-V", url, NULL);
  fail_unless (status == 0, "exit %d: %s", status, err);
  js = json_loads (out, 0, NULL);
  fail_unless (js != NULL, "%s", out);
  res = json_object_get (js, "results");
  fail_unless_equals_int (json_array_size (res), 2);
  fail_unless_equals_string (json_string_value (json_object_get
          (json_array_get (res, 0), "key")), keys[0]);
  fail_unless (json_real_value (json_object_get (json_array_get (res, 0),
              "distance")) < 1e-4);
  fail_unless_equals_string (json_string_value (json_object_get (js, "kind")),
      "text");
  json_decref (js);
  g_free (out);
  g_free (err);

  status = run_cli (&out, &err, env, "--provider", "bedrock", "--text",
      "something like the dunes", "--dimension", "256", "--endpoint",
      srv->endpoint, "-k", "1", "-V", url, NULL);
  fail_unless (status == 0, "exit %d: %s", status, err);
  fail_unless (strstr (out, "0.12") != NULL, "%s", out);
  fail_unless (strstr (out, "cam3") != NULL, "%s", out);
  g_free (out);
  g_free (err);

  /* Issue 18, point 6: UTF-8 text, whatever the locale (unset: the C
   * locale; C; C.UTF-8); the page shows it as it was typed. */
  {
    const gchar *locales[][14] = {
      {"LC_ALL", NULL, "LC_CTYPE", NULL, "LANG", NULL, NULL},
      {"LC_ALL", "C", NULL},
      {"LC_ALL", "C.UTF-8", NULL},
    };
    gchar *page = g_build_filename (tmpdir, "café.html", NULL);

    for (i = 0; i < G_N_ELEMENTS (locales); i++) {
      const gchar *e[14];
      gchar *html = NULL;
      guint n = 0;

      for (guint k = 0; k < 6; k++)
        e[n++] = env[k];
      for (guint k = 0; locales[i][k]; k += 2) {
        e[n++] = locales[i][k];
        e[n++] = locales[i][k + 1];
      }
      e[n] = NULL;
      status = run_cli (&out, &err, e, "--provider", "bedrock", "--text",
          "un café rouge", "--dimension", "256", "--endpoint",
          srv->endpoint, "-k", "1", "--json", "--html", page, "-V", url, NULL);
      fail_unless (status == 0, "locale %u: exit %d: %s", i, status, err);
      js = json_loads (out, 0, NULL);
      fail_unless (js != NULL, "%s", out);
      fail_unless_equals_string (json_string_value (json_object_get (js,
                  "query")), "un café rouge");
      fail_unless_equals_string (json_string_value (json_object_get
              (json_array_get (json_object_get (js, "results"), 0), "key")),
          keys[1]);
      fail_unless (g_file_get_contents (page, &html, NULL, NULL));
      fail_unless (strstr (html, "un café rouge") != NULL, "%s", html);
      g_free (html);
      json_decref (js);
      g_free (out);
      g_free (err);
    }
    g_free (page);
  }

  /* The same text through vssquery's search signal. */
  {
    GstElement *q = gst_element_factory_make ("vssquery", NULL);
    GstStructure *r = NULL;
    const GValue *list;
    gdouble d;

    g_object_set (q, "provider", GST_VSS_QUERY_PROVIDER_BEDROCK, "endpoint",
        srv->endpoint, "region", REGION, "access-key-id", AK,
        "secret-access-key", SK, "dimension", 256, "valkey", url, NULL);
    g_signal_emit_by_name (q, "search", "something like the dunes", NULL, 2u,
        NULL, &r);
    fail_if (gst_structure_has_field (r, "error"), "%s",
        gst_structure_get_string (r, "error"));
    list = gst_structure_get_value (r, "results");
    fail_unless_equals_int (gst_value_list_get_size (list), 2);
    fail_unless_equals_string (gst_structure_get_string
        (gst_value_get_structure (gst_value_list_get_value (list, 0)), "key"),
        keys[2]);
    fail_unless (gst_structure_get_double (gst_value_get_structure
            (gst_value_list_get_value (list, 0)), "distance", &d));
    fail_unless (fabs (d - 0.12) < 1e-3, "distance %f", d);
    gst_structure_free (r);
    gst_object_unref (q);
  }

  /* Wrong secret: a clear error, the secret never printed. */
  {
    const gchar *bad[] = { "AWS_ACCESS_KEY_ID", AK, "AWS_SECRET_ACCESS_KEY",
      "not-the-secret-xyz", "AWS_REGION", REGION, NULL
    };
    status = run_cli (&out, &err, bad, "--provider", "bedrock", "--text",
        "x", "--endpoint", srv->endpoint, "-V", url, NULL);
    fail_unless_equals_int (status, 1);
    fail_unless (strstr (err, "403") != NULL, "%s", err);
    fail_unless (strstr (err, "not-the-secret") == NULL);
    g_free (out);
    g_free (err);
  }

  gst_vss_query_embedder_free (e);
  server_stop (srv);
  for (i = 0; i < 3; i++) {
    g_free (jpeg[i]);
    g_free (keys[i]);
    g_bytes_unref (bytes[i]);
  }
  g_free (map);
}

GST_END_TEST;

/* ---- vssquery history and search signal ---- */

static GstBuffer *
frame_of (const gchar * path, guint index)
{
  GstSample *s = load_sample (path, RAW_CAPS);
  GstBuffer *b = gst_buffer_copy_deep (gst_sample_get_buffer (s));

  gst_sample_unref (s);
  GST_BUFFER_PTS (b) = index * GST_SECOND;
  GST_BUFFER_DURATION (b) = GST_SECOND;
  return b;
}

/* Waits up to @timeout_s for @n vss-match messages with source=history. */
static GList *
wait_history (GstBus * bus, guint n, guint timeout_s)
{
  GList *out = NULL;
  gint64 end = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  while (g_list_length (out) < n && g_get_monotonic_time () < end) {
    GstMessage *m = gst_bus_timed_pop (bus, 100 * GST_MSECOND);
    const GstStructure *s;

    if (!m)
      continue;
    s = gst_message_get_structure (m);
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ELEMENT
        && gst_structure_has_name (s, "vss-match")
        && !g_strcmp0 (gst_structure_get_string (s, "source"), "history"))
      out = g_list_append (out, m);
    else
      gst_message_unref (m);
  }
  return out;
}

GST_START_TEST (test_history_other_streams)
{
  Stored st;
  GstHarness *h;
  GstElement *q;
  GstBus *bus = gst_bus_new ();
  GList *m;
  const GstStructure *s;
  GstStructure *stats;
  guint64 searched = 0;
  gdouble d;
  GstEvent *ev;
  gboolean event_seen = FALSE;

  store_local (&st);
  /* This stream's own earlier frame of the same picture: never reported. */
  {
    gfloat *v = local_vector_of (st.jpeg[0]);
    gchar *uri = file_uri (st.jpeg[0]);
    GstVssQueryEmbedderOptions o = { GST_VSS_QUERY_PROVIDER_LOCAL, };
    GstVssQueryEmbedder *e = gst_vss_query_embedder_new (&o, NULL);
    g_free (store_frame ("live", g_get_real_time () / 1000 - 60000, v,
            gst_vss_query_embedder_get_dim (e), uri,
            GST_VSS_EMBED_LOCAL_MODEL));
    gst_vss_query_embedder_free (e);
    g_free (v);
    g_free (uri);
  }

  h = gst_harness_new_parse ("vssembed ! vssquery name=q");
  q = gst_harness_find_element (h, "vssquery");
  /* The harness starts its element at once: configure it stopped. */
  gst_element_set_state (h->element, GST_STATE_NULL);
  /* Within 2 days: cam1's copy (now), not cam3's (3 days ago). */
  g_object_set (q, "history", TRUE, "stream-id", "live", "valkey", url,
      "history-threshold", 0.05, "history-max-age",
      (guint64) 2 * 86400 * 1000, "history-k", 5, NULL);
  gst_element_set_bus (h->element, bus);
  gst_harness_set_src_caps_str (h, RAW_CAPS ",framerate=1/1");
  gst_harness_play (h);
  fail_unless_equals_int (gst_harness_push (h, frame_of (photo[0], 0)),
      GST_FLOW_OK);
  gst_buffer_unref (gst_harness_pull (h));

  m = wait_history (bus, 1, 20);
  fail_unless_equals_int (g_list_length (m), 1);
  s = gst_message_get_structure (m->data);
  fail_unless_equals_string (gst_structure_get_string (s, "match-stream"),
      "cam1");
  fail_unless_equals_string (gst_structure_get_string (s, "match-key"),
      st.key[0]);
  fail_unless_equals_string (gst_structure_get_string (s, "stream-id"), "live");
  fail_unless (gst_structure_get_double (s, "distance", &d) && d < 0.05);
  {
    gchar *uri0 = file_uri (st.jpeg[0]);
    fail_unless_equals_string (gst_structure_get_string (s, "match-uri"), uri0);
    g_free (uri0);
  }
  g_list_free_full (m, (GDestroyNotify) gst_message_unref);
  /* Nothing more: neither this stream's own frame nor cam3's old one. */
  m = wait_history (bus, 1, 1);
  fail_unless_equals_int (g_list_length (m), 0);

  /* The history event goes downstream before the next frame. */
  fail_unless_equals_int (gst_harness_push (h, frame_of (photo[2], 1)),
      GST_FLOW_OK);
  gst_buffer_unref (gst_harness_pull (h));
  while ((ev = gst_harness_try_pull_event (h))) {
    if (GST_EVENT_TYPE (ev) == GST_EVENT_CUSTOM_DOWNSTREAM
        && gst_event_has_name (ev, "vss-match"))
      event_seen |= !g_strcmp0 (gst_structure_get_string
          (gst_event_get_structure (ev), "source"), "history");
    gst_event_unref (ev);
  }
  fail_unless (event_seen);
  /* Wait for the second frame's search to finish. */
  for (guint i = 0; i < 100 && searched < 2; i++) {
    g_object_get (q, "stats", &stats, NULL);
    gst_structure_get_uint64 (stats, "history-searched", &searched);
    gst_structure_free (stats);
    g_usleep (50000);
  }
  fail_unless_equals_uint64 (searched, 2);

  gst_object_unref (q);
  gst_harness_teardown (h);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  stored_clear (&st);
}

GST_END_TEST;

/* A server that never answers: the stream must not wait, the queue stays
 * bounded and drops are counted. */
typedef struct
{
  GMutex lock;
  GCond cond;
  gboolean release;
} Blocker;

static GBytes *
blocking_handler (gint argc, gchar ** argv, gsize * argvlen, gpointer data)
{
  Blocker *b = data;

  if (argc > 0 && !g_ascii_strcasecmp (argv[0], "FT.SEARCH")) {
    g_mutex_lock (&b->lock);
    while (!b->release)
      g_cond_wait (&b->cond, &b->lock);
    g_mutex_unlock (&b->lock);
    return NULL;
  }
  return vss_fake_reply ("+OK\r\n");
}

GST_START_TEST (test_history_bounded_queue)
{
  Blocker b = { 0, };
  VssFakeValkey *fake;
  GstHarness *h;
  GstElement *q;
  GstBus *bus = gst_bus_new ();
  GstStructure *stats;
  GstBuffer *f;
  GError *err = NULL;
  guint64 submitted = 0, dropped = 0;
  guint qmax = 0, i;
  gint64 t0;
  gchar *furl;
  GstMessage *w;

  g_mutex_init (&b.lock);
  g_cond_init (&b.cond);
  fake = vss_fake_valkey_new (blocking_handler, &b, &err);
  fail_unless (fake != NULL);
  furl = g_strdup_printf ("redis://127.0.0.1:%u?cluster=no"
      "&command_timeout_ms=60000", vss_fake_valkey_get_port (fake));
  h = gst_harness_new_parse ("vssembed ! vssquery name=q");
  q = gst_harness_find_element (h, "vssquery");
  /* The harness starts its element at once: configure it stopped. */
  gst_element_set_state (h->element, GST_STATE_NULL);
  g_object_set (q, "history", TRUE, "stream-id", "live", "valkey", furl,
      "history-queue-size", 2, NULL);
  gst_element_set_bus (h->element, bus);
  gst_harness_set_src_caps_str (h, RAW_CAPS ",framerate=1/1");
  gst_harness_play (h);
  f = frame_of (photo[0], 0);
  t0 = g_get_monotonic_time ();
  for (i = 0; i < 20; i++) {
    GstBuffer *c = gst_buffer_copy_deep (f);
    GST_BUFFER_PTS (c) = i * GST_SECOND;
    fail_unless_equals_int (gst_harness_push (h, c), GST_FLOW_OK);
    gst_buffer_unref (gst_harness_pull (h));
  }
  /* 20 frames while the server hangs: the stream never waited on it. */
  fail_unless (g_get_monotonic_time () - t0 < 10 * G_USEC_PER_SEC);
  g_object_get (q, "stats", &stats, NULL);
  gst_structure_get_uint64 (stats, "history-submitted", &submitted);
  gst_structure_get_uint64 (stats, "history-dropped", &dropped);
  gst_structure_get_uint (stats, "history-queue-max", &qmax);
  gst_structure_free (stats);
  fail_unless_equals_uint64 (submitted + dropped, 20);
  /* One in the worker, two queued. */
  fail_unless (submitted <= 3, "submitted %" G_GUINT64_FORMAT, submitted);
  fail_unless (dropped >= 17);
  fail_unless (qmax <= 2);
  /* A warning says so (once a second at most). */
  w = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  fail_unless (w != NULL);
  gst_message_unref (w);

  /* Stopping cancels the hung search. */
  t0 = g_get_monotonic_time ();
  gst_object_unref (q);
  gst_harness_teardown (h);
  fail_unless (g_get_monotonic_time () - t0 < 10 * G_USEC_PER_SEC);
  g_mutex_lock (&b.lock);
  b.release = TRUE;
  g_cond_broadcast (&b.cond);
  g_mutex_unlock (&b.lock);
  vss_fake_valkey_free (fake);
  gst_buffer_unref (f);
  g_free (furl);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  g_mutex_clear (&b.lock);
  g_cond_clear (&b.cond);
}

GST_END_TEST;

GST_START_TEST (test_search_signal)
{
  Stored st;
  GstElement *q = gst_element_factory_make ("vssquery", NULL);
  GstStructure *filter, *r = NULL;
  const GValue *list;
  GBytes *img;
  gchar *data;
  gsize len;

  store_local (&st);
  g_object_set (q, "valkey", url, NULL);
  fail_unless (g_file_get_contents (st.jpeg[0], &data, &len, NULL));
  img = g_bytes_new_take (data, len);

  /* Stopped element: a temporary embedder is used. */
  g_signal_emit_by_name (q, "search", NULL, img, 3u, NULL, &r);
  fail_unless (r != NULL);
  fail_if (gst_structure_has_field (r, "error"), "%s",
      gst_structure_get_string (r, "error"));
  list = gst_structure_get_value (r, "results");
  fail_unless_equals_int (gst_value_list_get_size (list), 3);
  {
    const GstStructure *first =
        gst_value_get_structure (gst_value_list_get_value (list, 0));
    gdouble d;
    gint64 ts;
    fail_unless (gst_structure_get_double (first, "distance", &d)
        && d < 0.01);
    fail_unless (gst_structure_get_int64 (first, "timestamp", &ts));
    fail_unless (gst_structure_get_string (first, "uri") != NULL);
  }
  gst_structure_free (r);

  /* Filter: cam2 only, or everything but cam1 within 3 h. */
  filter = gst_structure_new ("vss-filter", "streams", G_TYPE_STRING, "cam2",
      NULL);
  g_signal_emit_by_name (q, "search", NULL, img, 5u, filter, &r);
  list = gst_structure_get_value (r, "results");
  fail_unless_equals_int (gst_value_list_get_size (list), 1);
  fail_unless_equals_string (gst_structure_get_string
      (gst_value_get_structure (gst_value_list_get_value (list, 0)), "key"),
      st.key[1]);
  gst_structure_free (r);
  gst_structure_free (filter);
  filter = gst_structure_new ("vss-filter", "exclude-streams", G_TYPE_STRING,
      "cam1", "since", G_TYPE_INT64, g_get_real_time () / 1000 - 10800000,
      NULL);
  g_signal_emit_by_name (q, "search", NULL, img, 5u, filter, &r);
  list = gst_structure_get_value (r, "results");
  fail_unless_equals_int (gst_value_list_get_size (list), 2);   /* cam2, 3 */
  gst_structure_free (r);
  gst_structure_free (filter);

  /* Text with the local provider: an error, no crash. */
  g_signal_emit_by_name (q, "search", "a lake", NULL, 3u, NULL, &r);
  fail_unless (strstr (gst_structure_get_string (r, "error"), "images only"));
  gst_structure_free (r);
  /* Neither text nor image. */
  g_signal_emit_by_name (q, "search", NULL, NULL, 3u, NULL, &r);
  fail_unless (gst_structure_get_string (r, "error") != NULL);
  gst_structure_free (r);
  /* Unknown index. */
  g_object_set (q, "index", "nosuchindex", NULL);
  g_signal_emit_by_name (q, "search", NULL, img, 3u, NULL, &r);
  fail_unless (gst_structure_get_string (r, "error") != NULL);
  gst_structure_free (r);

  g_bytes_unref (img);
  gst_object_unref (q);
  stored_clear (&st);
}

GST_END_TEST;

/* ---- end to end with vsssink ---- */

typedef struct
{
  GstElement *pipeline, *src;
  GList *matches;               /* vss-match structures */
  GList *stored;                /* vss-stored structures */
} E2E;

static void
e2e_run (E2E * e, const gchar * desc, const gchar * queries,
    const guint * photos, guint n, gboolean wait_match)
{
  GError *err = NULL;
  GstBus *bus;
  GstMessage *m;
  gboolean done = FALSE;

  e->pipeline = gst_parse_launch (desc, &err);
  fail_unless (e->pipeline != NULL, "%s: %s", desc, err ? err->message : "");
  if (queries) {
    GstElement *q = gst_bin_get_by_name (GST_BIN (e->pipeline), "q");
    g_object_set (q, "queries", queries, NULL);
    gst_object_unref (q);
  }
  e->src = gst_bin_get_by_name (GST_BIN (e->pipeline), "src");
  bus = gst_element_get_bus (e->pipeline);
  fail_unless (gst_element_set_state (e->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  for (guint i = 0; i < n; i++) {
    GstFlowReturn ret;
    GstBuffer *b = frame_of (photo[photos[i]], i);

    g_signal_emit_by_name (e->src, "push-buffer", b, &ret);
    gst_buffer_unref (b);
  }
  /* History searches run on their own thread: wait for one before EOS. */
  while (wait_match && !e->matches
      && (m = gst_bus_timed_pop (bus, 20 * GST_SECOND))) {
    const GstStructure *st = gst_message_get_structure (m);

    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ELEMENT
        && gst_structure_has_name (st, "vss-match"))
      e->matches = g_list_append (e->matches, gst_structure_copy (st));
    gst_message_unref (m);
  }
  {
    GstFlowReturn ret;
    g_signal_emit_by_name (e->src, "end-of-stream", &ret);
  }
  while (!done && (m = gst_bus_timed_pop (bus, 60 * GST_SECOND))) {
    const GstStructure *st = gst_message_get_structure (m);

    switch (GST_MESSAGE_TYPE (m)) {
      case GST_MESSAGE_EOS:
        done = TRUE;
        break;
      case GST_MESSAGE_ERROR:{
        GError *er = NULL;
        gchar *dbg = NULL;
        gst_message_parse_error (m, &er, &dbg);
        fail ("pipeline error: %s (%s)", er->message, dbg ? dbg : "");
        break;
      }
      case GST_MESSAGE_ELEMENT:
        if (gst_structure_has_name (st, "vss-match"))
          e->matches = g_list_append (e->matches, gst_structure_copy (st));
        else if (gst_structure_has_name (st, "vss-stored"))
          e->stored = g_list_append (e->stored, gst_structure_copy (st));
        break;
      default:
        break;
    }
    gst_message_unref (m);
  }
  fail_unless (done, "no EOS");
  gst_element_set_state (e->pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
}

static void
e2e_clear (E2E * e)
{
  g_list_free_full (e->matches, (GDestroyNotify) gst_structure_free);
  g_list_free_full (e->stored, (GDestroyNotify) gst_structure_free);
  gst_object_unref (e->src);
  gst_object_unref (e->pipeline);
  memset (e, 0, sizeof (*e));
}

static const gchar *
stored_uri (E2E * e, const gchar * frame_id)
{
  for (GList * l = e->stored; l; l = l->next)
    if (!g_strcmp0 (gst_structure_get_string (l->data, "frame-id"), frame_id))
      return gst_structure_get_string (l->data, "uri");
  return NULL;
}

/* vssembed ! jpegenc ! vssquery ! vsssink on camera 1, then vss-search and
 * a second camera's vssquery history find what vsssink stored, with the
 * object URIs vssquery announced. */
GST_START_TEST (test_end_to_end_with_vsssink)
{
  gchar *objects = g_build_filename (tmpdir, "objects", NULL);
  gchar *spool = g_build_filename (tmpdir, "spool", NULL);
  gchar *prefix = file_uri (objects);
  gchar *qjpeg = write_jpeg (photo[0], "query0.jpg", NULL);
  gchar *queries = g_strdup_printf ("[{\"id\":\"lake\",\"image\":\"%s\","
      "\"threshold\":0.1}]", qjpeg);
  gchar *desc, *out = NULL, *err = NULL, *page, *path;
  const gchar *uri, *fid;
  guint cam1[] = { 0, 1, 2 }, cam2[] = { 0 };
  E2E e = { 0, };
  gint status;
  json_t *js, *res;

  g_mkdir_with_parents (objects, 0700);
  desc = g_strdup_printf ("appsrc name=src format=time caps=\"" RAW_CAPS
      ",framerate=1/1\" ! vssembed ! jpegenc ! vssquery name=q "
      "stream-id=cam1 object-uri-prefix=\"%s\" ! vsssink name=sink "
      "frames=\"%s\" stream-id=cam1 valkey=\"%s\" index=frames "
      "spool-dir=\"%s\" post-messages=true sync=false", prefix, prefix, url,
      spool);
  e2e_run (&e, desc, queries, cam1, 3, FALSE);
  g_free (desc);
  fail_unless_equals_int (g_list_length (e.stored), 3);
  fail_unless_equals_int (g_list_length (e.matches), 1);
  fid = gst_structure_get_string (e.matches->data, "frame-id");
  uri = gst_structure_get_string (e.matches->data, "uri");
  fail_unless (uri != NULL);
  /* The URI vssquery announced is the object vsssink wrote. */
  fail_unless_equals_string (stored_uri (&e, fid), uri);
  path = g_filename_from_uri (uri, NULL, NULL);
  fail_unless (g_file_test (path, G_FILE_TEST_IS_REGULAR), "%s", path);
  g_free (path);

  /* The CLI finds it first, and draws all three thumbnails. */
  page = g_build_filename (tmpdir, "e2e.html", NULL);
  status = run_cli (&out, &err, NULL, "--image", qjpeg, "-k", "3",
      "--ef-runtime", "64", "--json", "--html", page, "-V", url, NULL);
  fail_unless (status == 0, "exit %d: %s", status, err);
  js = json_loads (out, 0, NULL);
  fail_unless (js != NULL, "%s", out);
  res = json_object_get (js, "results");
  fail_unless_equals_int (json_array_size (res), 3);
  fail_unless_equals_string (json_string_value (json_object_get
          (json_array_get (res, 0), "uri")), uri);
  fail_unless_equals_string (json_string_value (json_object_get
          (json_array_get (res, 0), "frame_id")), fid);
  fail_unless_equals_string (json_string_value (json_object_get
          (json_array_get (res, 0), "stream")), "cam1");
  json_decref (js);
  g_free (out);
  g_free (err);
  {
    gchar *html;
    guint n = 0;
    const gchar *p;
    fail_unless (g_file_get_contents (page, &html, NULL, NULL));
    for (p = html; (p = strstr (p, "src=\"data:image/jpeg;base64,")); p++)
      n++;
    fail_unless_equals_int (n, 3);
    g_free (html);
  }
  g_free (page);
  {
    gchar *uri0 = g_strdup (uri);
    e2e_clear (&e);

    /* Camera 2 sees the lake too: history reports camera 1's frame. */
    desc = g_strdup_printf ("appsrc name=src format=time caps=\"" RAW_CAPS
        ",framerate=1/1\" ! vssembed ! vssquery name=q stream-id=cam2 "
        "history=true history-threshold=0.05 valkey=\"%s\" ! fakesink "
        "sync=false", url);
    e2e_run (&e, desc, NULL, cam2, 1, TRUE);
    g_free (desc);
    fail_unless (g_list_length (e.matches) >= 1, "no history match");
    fail_unless_equals_string (gst_structure_get_string (e.matches->data,
            "source"), "history");
    fail_unless_equals_string (gst_structure_get_string (e.matches->data,
            "match-uri"), uri0);
    fail_unless_equals_string (gst_structure_get_string (e.matches->data,
            "match-stream"), "cam1");
    g_free (uri0);
  }
  e2e_clear (&e);
  g_free (queries);
  g_free (qjpeg);
  g_free (prefix);
  g_free (objects);
  g_free (spool);
}

GST_END_TEST;

static Suite *
vss_search_suite (void)
{
  Suite *s = suite_create ("vss-search");
  TCase *tc = tcase_create ("search");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_set_timeout (tc, 240);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_cli_image_table_and_json);
  tcase_add_test (tc, test_cli_source_position);
  tcase_add_test (tc, test_cli_errors);
  tcase_add_test (tc, test_cli_server_without_search);
  tcase_add_test (tc, test_cli_html_chromium);
  tcase_add_test (tc, test_cli_html_links);
  tcase_add_test (tc, test_cli_html_s3);
  tcase_add_test (tc, test_cli_bedrock_text);
  tcase_add_test (tc, test_history_other_streams);
  tcase_add_test (tc, test_history_bounded_queue);
  tcase_add_test (tc, test_search_signal);
  tcase_add_test (tc, test_end_to_end_with_vsssink);
  return s;
}

int
main (int argc, char **argv)
{
  Suite *s;

  if (argc < 3) {
    g_printerr ("usage: %s MODULE.so VSS-SEARCH\n", argv[0]);
    return 2;
  }
  module_path = g_canonicalize_filename (argv[1], NULL);
  cli_path = g_canonicalize_filename (argv[2], NULL);
  gst_check_init (&argc, &argv);
  s = vss_search_suite ();
  return gst_check_run_suite (s, "vss-search", __FILE__);
}
