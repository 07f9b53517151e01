/* gst-vss tests: vss-ingest's pure parts (inputs, pipeline description,
 * progress line, summary, exit codes)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "vss-ingest-util.h"

static void
test_stream_id (void)
{
  struct
  {
    const gchar *in, *out;
  } cases[] = {
    {"My Clip.v2", "my-clip-v2"},
    {"", "stream"},
    {"///", "stream"},
    {"cam_1--east", "cam_1--east"},
    {"über", "uber"},
    {"caméra", "camera"},
  };
  gchar *long_in = g_strnfill (200, 'a');
  gchar *s;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    s = vss_ingest_stream_id_sanitize (cases[i].in);
    g_assert_cmpstr (s, ==, cases[i].out);
    g_assert_true (vss_ingest_stream_id_is_valid (s));
    g_free (s);
  }
  s = vss_ingest_stream_id_sanitize (long_in);
  g_assert_cmpuint (strlen (s), ==, 64);
  g_free (s);
  g_free (long_in);
  g_assert_false (vss_ingest_stream_id_is_valid (""));
  g_assert_false (vss_ingest_stream_id_is_valid ("a:b"));
  g_assert_false (vss_ingest_stream_id_is_valid ("a b"));
  g_assert_true (vss_ingest_stream_id_is_valid ("cam-1_x"));
}

/* Issue 18, point 2: different names never share a stream id. */
static void
test_stream_id_from_name (void)
{
  const gchar *names[] = { "clip", "Clip", "a b", "a*b?", "a-b", "été",
    "ete", "東京", "大阪", "", "Front Door", "front-door", "cam_1--east",
    "x.y", "x_y", NULL
  };
  GHashTable *seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  gchar *long_a = g_strnfill (200, 'a'), *long_b = g_strnfill (201, 'a');
  gchar *s, *t;

  for (guint i = 0; names[i]; i++) {
    s = vss_ingest_stream_id_from_name (names[i]);
    g_assert_true (vss_ingest_stream_id_is_valid (s));
    if (g_hash_table_contains (seen, s))
      g_error ("'%s' and an earlier name both give '%s'", names[i], s);
    g_hash_table_add (seen, s);
    /* The same name, the same id. */
    t = vss_ingest_stream_id_from_name (names[i]);
    g_assert_cmpstr (s, ==, t);
    g_free (t);
  }
  g_hash_table_unref (seen);

  /* A name that is already an id stays as it is; others keep a readable
   * part and get 8 hex digits of the name's SHA-256. */
  s = vss_ingest_stream_id_from_name ("clip");
  g_assert_cmpstr (s, ==, "clip");
  g_free (s);
  s = vss_ingest_stream_id_from_name ("cam_1--east");
  g_assert_cmpstr (s, ==, "cam_1--east");
  g_free (s);
  s = vss_ingest_stream_id_from_name ("Front Door");
  g_assert_true (g_str_has_prefix (s, "front-door-"));
  g_assert_cmpuint (strlen (s), ==, strlen ("front-door-") + 8);
  t = g_compute_checksum_for_string (G_CHECKSUM_SHA256, "Front Door", -1);
  g_assert_true (g_str_has_suffix (s, (t[8] = '\0', t)));
  g_free (t);
  g_free (s);
  s = vss_ingest_stream_id_from_name ("été");
  g_assert_true (g_str_has_prefix (s, "ete-"));
  g_free (s);
  s = vss_ingest_stream_id_from_name ("東京");
  g_assert_true (g_str_has_prefix (s, "stream-"));
  g_free (s);

  /* Long names: 64 bytes at most, still told apart. */
  s = vss_ingest_stream_id_from_name (long_a);
  t = vss_ingest_stream_id_from_name (long_b);
  g_assert_cmpuint (strlen (s), <=, 64);
  g_assert_true (vss_ingest_stream_id_is_valid (s));
  g_assert_cmpstr (s, !=, t);
  g_free (s);
  g_free (t);
  g_free (long_a);
  g_free (long_b);
}

static void
test_inputs (void)
{
  VssIngestInput in;
  GError *err = NULL;
  gchar *dir = g_dir_make_tmp ("vss-ingest-XXXXXX", NULL);
  gchar *file = g_build_filename (dir, "Front Door.mkv", NULL);
  gchar *cwd = g_get_current_dir ();
  gchar *uri;

  g_assert_true (g_file_set_contents (file, "x", 1, NULL));

  /* A relative file name becomes an absolute file URI. */
  g_assert_cmpint (g_chdir (dir), ==, 0);
  g_assert_true (vss_ingest_input_resolve ("Front Door.mkv", FALSE, &in, &err));
  g_assert_no_error (err);
  g_assert_cmpint (in.kind, ==, VSS_INGEST_INPUT_URI);
  g_assert_false (in.live);
  g_assert_true (g_str_has_prefix (in.default_stream_id, "front-door-"));
  g_assert_true (vss_ingest_stream_id_is_valid (in.default_stream_id));
  g_assert_true (g_str_has_prefix (in.uri, "file:///"));
  g_assert_true (g_str_has_suffix (in.uri, "Front%20Door.mkv"));
  vss_ingest_input_clear (&in);
  g_assert_cmpint (g_chdir (cwd), ==, 0);

  /* --live turns a file into a live input. */
  g_assert_true (vss_ingest_input_resolve (file, TRUE, &in, &err));
  g_assert_true (in.live);
  vss_ingest_input_clear (&in);

  /* A file URI must exist. */
  uri = g_filename_to_uri (file, NULL, NULL);
  g_assert_true (vss_ingest_input_resolve (uri, FALSE, &in, &err));
  g_assert_cmpstr (in.local_path, ==, file);
  vss_ingest_input_clear (&in);
  g_free (uri);
  g_assert_false (vss_ingest_input_resolve ("file:///nonexistent/x.mkv",
          FALSE, &in, &err));
  g_assert_error (err, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_clear_error (&err);

  g_assert_false (vss_ingest_input_resolve ("/nonexistent/clip.mp4", FALSE,
          &in, &err));
  g_assert_error (err, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_nonnull (strstr (err->message, "no such file"));
  g_clear_error (&err);
  g_assert_false (vss_ingest_input_resolve (dir, FALSE, &in, &err));
  g_assert_error (err, G_FILE_ERROR, G_FILE_ERROR_ISDIR);
  g_clear_error (&err);

  /* RTSP is live; the stream id is its host and path. */
  g_assert_true (vss_ingest_input_resolve ("rtsp://cam1.local:554/live/main",
          FALSE, &in, &err));
  g_assert_true (in.live);
  g_assert_true (g_str_has_prefix (in.default_stream_id,
          "cam1-local-live-main-"));
  vss_ingest_input_clear (&in);

  /* http is not live unless told. */
  g_assert_true (vss_ingest_input_resolve ("http://example.com/v/clip.mp4",
          FALSE, &in, &err));
  g_assert_false (in.live);
  g_assert_cmpstr (in.default_stream_id, ==, "clip");
  vss_ingest_input_clear (&in);

  /* Cameras. */
  g_assert_true (vss_ingest_input_resolve ("/dev/video2", FALSE, &in, &err));
  g_assert_cmpint (in.kind, ==, VSS_INGEST_INPUT_V4L2);
  g_assert_cmpstr (in.device, ==, "/dev/video2");
  g_assert_true (in.live);
  g_assert_cmpstr (in.default_stream_id, ==, "video2");
  vss_ingest_input_clear (&in);
  g_assert_true (vss_ingest_input_resolve ("v4l2:///dev/video1", FALSE, &in,
          &err));
  g_assert_cmpstr (in.device, ==, "/dev/video1");
  vss_ingest_input_clear (&in);

  g_assert_false (vss_ingest_input_resolve ("", FALSE, &in, &err));
  g_clear_error (&err);

  g_unlink (file);
  g_rmdir (dir);
  g_free (file);
  g_free (dir);
  g_free (cwd);
}

static void
test_frames_uri (void)
{
  GError *err = NULL;
  gchar *cwd = g_get_current_dir ();
  gchar *u = vss_ingest_frames_to_uri (NULL, &err);
  gchar *want = g_strconcat ("file://", cwd, "/vss-frames", NULL);

  g_assert_cmpstr (u, ==, want);
  g_free (u);
  g_free (want);
  u = vss_ingest_frames_to_uri ("/data/./frames/", &err);
  g_assert_cmpstr (u, ==, "file:///data/frames");
  g_free (u);
  u = vss_ingest_frames_to_uri ("s3://bucket/prefix", &err);
  g_assert_cmpstr (u, ==, "s3://bucket/prefix");
  g_free (u);
  u = vss_ingest_frames_to_uri ("file:///srv/f", &err);
  g_assert_cmpstr (u, ==, "file:///srv/f");
  g_free (u);
  g_assert_null (vss_ingest_frames_to_uri ("file://relative", &err));
  g_clear_error (&err);
  g_assert_null (vss_ingest_frames_to_uri ("http://x/y", &err));
  g_clear_error (&err);
  g_assert_null (vss_ingest_frames_to_uri ("", &err));
  g_assert_nonnull (strstr (err->message, "--frames"));
  g_clear_error (&err);
  g_free (cwd);
}

static void
test_options_check (void)
{
  VssIngestOptions o;
  GError *err = NULL;

  vss_ingest_options_init (&o);
  g_assert_true (vss_ingest_options_check (&o, &err));
  o.interval = 0;
  g_assert_false (vss_ingest_options_check (&o, &err));
  g_assert_nonnull (strstr (err->message, "--interval"));
  g_clear_error (&err);
  o.interval = 1;
  g_free (o.provider);
  o.provider = g_strdup ("openai");
  g_assert_false (vss_ingest_options_check (&o, &err));
  g_clear_error (&err);
  g_free (o.provider);
  o.provider = g_strdup ("bedrock");
  o.threshold = 2.5;
  g_assert_false (vss_ingest_options_check (&o, &err));
  g_clear_error (&err);
  o.threshold = 0.1;
  o.dimension = 512;
  g_assert_false (vss_ingest_options_check (&o, &err));
  g_clear_error (&err);
  o.dimension = 384;
  o.index = g_strdup ("a\nb");
  g_assert_false (vss_ingest_options_check (&o, &err));
  g_clear_error (&err);
  /* Issue 18, point 16: NaN, infinities and empty values, by name. */
  g_free (o.index);
  o.index = g_strdup ("");
  g_assert_false (vss_ingest_options_check (&o, &err));
  g_assert_nonnull (strstr (err->message, "--index"));
  g_clear_error (&err);
  g_clear_pointer (&o.index, g_free);
  o.window_duration = INFINITY;
  g_assert_false (vss_ingest_options_check (&o, &err));
  g_assert_nonnull (strstr (err->message, "--window-duration"));
  g_clear_error (&err);
  o.window_duration = 0;
  o.interval = NAN;
  g_assert_false (vss_ingest_options_check (&o, &err));
  g_assert_nonnull (strstr (err->message, "--interval"));
  g_clear_error (&err);
  o.interval = 1;
  g_assert_true (vss_ingest_options_check (&o, &err));
  /* The local model: v2 (default) or v1, nothing else. */
  o.local_model = g_strdup ("vss-local-v3");
  g_assert_false (vss_ingest_options_check (&o, &err));
  g_assert_nonnull (strstr (err->message, "--local-model"));
  g_clear_error (&err);
  g_free (o.local_model);
  o.local_model = g_strdup ("vss-local-v1");
  g_assert_true (vss_ingest_options_check (&o, &err));
  g_assert_false (vss_ingest_check_seconds ("--duration", NAN, TRUE, 10, &err));
  g_assert_nonnull (strstr (err->message, "--duration"));
  g_clear_error (&err);
  g_assert_false (vss_ingest_check_seconds ("--x", 0, FALSE, 10, &err));
  g_clear_error (&err);
  g_assert_false (vss_ingest_check_seconds ("--x", 11, TRUE, 10, &err));
  g_clear_error (&err);
  g_assert_true (vss_ingest_check_seconds ("--x", 0, TRUE, 10, &err));
  g_assert_true (vss_ingest_check_seconds ("--x", 10, FALSE, 10, &err));
  vss_ingest_options_clear (&o);
}

static gboolean
appears_in_order (const gchar * s, const gchar * const *parts)
{
  const gchar *p = s;

  for (guint i = 0; parts[i]; i++) {
    p = strstr (p, parts[i]);
    if (p == NULL)
      return FALSE;
    p += strlen (parts[i]);
  }
  return TRUE;
}

static void
test_describe (void)
{
  VssIngestOptions o;
  gchar *d;

  vss_ingest_options_init (&o);
  o.frames = g_strdup ("file:///tmp/f");
  d = vss_ingest_describe_processing (&o, "cam1", NULL, FALSE);
  {
    const gchar *order[] = { "queue", "videoconvert",
      "vssembed name=embed provider=local", "vssdedup name=dedup",
      "threshold=0.2", "window-size=10000", "jpegenc quality=85",
      "vsssink name=sink", "valkey=\"redis://127.0.0.1:6379\"",
      "stream-id=\"cam1\"", "frames=\"file:///tmp/f\"", NULL
    };
    g_assert_true (appears_in_order (d, order));
  }
  g_assert_null (strstr (d, "provider=bedrock"));
  g_assert_null (strstr (d, "source-id"));
  g_assert_null (strstr (d, "adopt-spool"));
  g_free (d);
  o.adopt_spool = TRUE;
  d = vss_ingest_describe_processing (&o, "cam1", NULL, FALSE);
  g_assert_nonnull (strstr (d, " adopt-spool=true"));
  g_free (d);
  o.adopt_spool = FALSE;
  /* --local-model reaches the local vssembed; without it, its default. */
  g_assert_null (strstr (d = vss_ingest_describe_processing (&o, "cam1", NULL,
              FALSE), "model="));
  g_free (d);
  o.local_model = g_strdup ("vss-local-v1");
  d = vss_ingest_describe_processing (&o, "cam1", NULL, FALSE);
  g_assert_nonnull (strstr (d, "vssembed name=embed provider=local "
          "model=\"vss-local-v1\""));
  g_free (d);
  g_clear_pointer (&o.local_model, g_free);

  /* A file: its frames are named by their position in it. */
  {
    VssIngestSource src = { (gchar *) "/v/a \"b\".mkv|10|5.000001", 5000,
      (gchar *) "a \"b\".mkv"
    };

    d = vss_ingest_describe_processing (&o, "cam1", &src, FALSE);
    g_assert_nonnull (strstr (d, "vssembed name=embed provider=local "
            "source-id=\"/v/a \\\"b\\\".mkv|10|5.000001\" source-time=5000 "));
    g_assert_nonnull (strstr (d, " source=\"a \\\"b\\\".mkv\""));
    g_free (d);
  }
  {
    GError *err = NULL;
    VssIngestSource a, b;
    gchar *path = g_build_filename (g_get_tmp_dir (), "vss-src-XXXXXX", NULL);
    gint fd = g_mkstemp (path);

    g_assert_cmpint (fd, >=, 0);
    g_assert_cmpint (write (fd, "abc", 3), ==, 3);
    close (fd);
    g_assert_true (vss_ingest_source_of_file (path, &a, &err));
    g_assert_true (vss_ingest_source_of_file (path, &b, &err));
    g_assert_cmpstr (a.id, ==, b.id);
    g_assert_true (g_str_has_prefix (a.id, path));
    g_assert_nonnull (strstr (a.id, "|3|"));
    g_assert_true (g_str_has_prefix (a.name, "vss-src-"));
    g_assert_cmpint (a.time_ms, >, 0);
    vss_ingest_source_clear (&b);
    /* A changed file is another source. */
    g_assert_true (g_file_set_contents (path, "abcd", 4, NULL));
    g_assert_true (vss_ingest_source_of_file (path, &b, &err));
    g_assert_cmpstr (a.id, !=, b.id);
    vss_ingest_source_clear (&a);
    vss_ingest_source_clear (&b);
    g_assert_false (vss_ingest_source_of_file ("/nonexistent/x.mkv", &a, &err));
    g_assert_nonnull (err);
    g_clear_error (&err);
    g_unlink (path);
    g_free (path);
  }

  /* Two-stage: local for dedup, Bedrock on the survivors' JPEG. */
  g_free (o.provider);
  o.provider = g_strdup ("bedrock");
  o.dimension = 384;
  o.region = g_strdup ("eu-west-1");
  d = vss_ingest_describe_processing (&o, "cam1", NULL, FALSE);
  {
    const gchar *order[] = { "vssembed name=embed provider=local",
      "vssdedup", "jpegenc", "vssembed name=embed-bedrock provider=bedrock",
      "dimension=384", "region=\"eu-west-1\"", "vsssink",
      "model=\"amazon.titan-embed-image-v1\"", NULL
    };
    g_assert_true (appears_in_order (d, order));
  }
  g_free (d);

  /* No dedup with Bedrock: no local embedding at all. */
  o.threshold = 0;
  d = vss_ingest_describe_processing (&o, "cam1", NULL, FALSE);
  g_assert_null (strstr (d, "provider=local"));
  g_assert_null (strstr (d, "vssdedup"));
  g_free (d);

  /* Passwords only in the real description; quotes escaped. */
  g_free (o.provider);
  o.provider = g_strdup ("local");
  g_free (o.valkey);
  o.valkey = g_strdup ("redis://u:s3cret@127.0.0.1:7000");
  o.index = g_strdup ("we\"ird");
  o.ttl = 3600;
  o.window_duration = 1.5;
  o.threshold = 0.15;
  d = vss_ingest_describe_processing (&o, "cam1", NULL, TRUE);
  g_assert_null (strstr (d, "s3cret"));
  g_free (d);
  d = vss_ingest_describe_processing (&o, "cam1", NULL, FALSE);
  g_assert_nonnull (strstr (d, "s3cret"));
  g_assert_nonnull (strstr (d, "index=\"we\\\"ird\""));
  g_assert_nonnull (strstr (d, "ttl=3600"));
  g_assert_nonnull (strstr (d, "window-duration=1500000000"));
  g_assert_nonnull (strstr (d, "threshold=0.15"));
  g_free (d);

  /* The dry-run description parses into a real bin (threshold 0: only
   * elements every build has). */
  o.dry_run = TRUE;
  o.threshold = 0;
  d = vss_ingest_describe_processing (&o, "cam1", NULL, FALSE);
  g_assert_nonnull (strstr (d, "fakesink name=sink"));
  g_assert_null (strstr (d, "vsssink"));
  {
    GError *err = NULL;
    GstElement *bin = gst_parse_bin_from_description_full (d, TRUE, NULL,
        GST_PARSE_FLAG_FATAL_ERRORS, &err);
    GstElement *e;
    GstPad *pad;

    g_assert_no_error (err);
    pad = gst_element_get_static_pad (bin, "sink");
    g_assert_nonnull (pad);
    gst_object_unref (pad);
    e = gst_bin_get_by_name (GST_BIN (bin), "embed");
    g_assert_nonnull (e);
    gst_object_unref (e);
    gst_object_unref (bin);
  }
  g_free (d);
  vss_ingest_options_clear (&o);
}

/* Issue 18, point 11: an element's debug detail, fit for a user. */
static void
test_error_detail (void)
{
  const gchar *secrets[] = { "s3cr3t-key-value", "tok", NULL };
  gchar *d;

  d = vss_ingest_error_detail ("../plugins/vsssink/gstvsssink.c(1342): "
      "gst_vss_sink_start (): /GstPipeline:ingest-0/GstBin:bin0/"
      "GstVssSink:sink:\nIndex 'frames' exists with another schema; its "
      "PREFIX is 'other:'.", NULL);
  g_assert_cmpstr (d, ==, "Index 'frames' exists with another schema; its "
      "PREFIX is 'other:'.");
  g_free (d);
  /* Only the location: no detail. */
  g_assert_null (vss_ingest_error_detail ("../gst/x.c(10): f (): "
          "/GstPipeline:p/GstX:x:", NULL));
  g_assert_null (vss_ingest_error_detail (NULL, NULL));
  g_assert_null (vss_ingest_error_detail ("  \n", NULL));
  /* A detail without the location line is kept whole. */
  d = vss_ingest_error_detail ("Could not resolve host: x.invalid\n", NULL);
  g_assert_cmpstr (d, ==, "Could not resolve host: x.invalid");
  g_free (d);
  /* Secrets and URL passwords never show; short words are left alone. */
  d = vss_ingest_error_detail ("f.c(1): f (): /P:\nkey s3cr3t-key-value "
      "at redis://user:hunter2@h:6379/0 and rediss://onlytoken@h2 (tok)",
      secrets);
  g_assert_null (strstr (d, "s3cr3t"));
  g_assert_null (strstr (d, "hunter2"));
  g_assert_null (strstr (d, "onlytoken"));
  g_assert_nonnull (strstr (d, "redis://user:***@h:6379/0"));
  g_assert_nonnull (strstr (d, "rediss://***@h2"));
  g_assert_nonnull (strstr (d, "(tok)"));
  g_free (d);
}

static void
test_progress (void)
{
  VssIngestProgress p = { 0 };
  gchar *s, *c;

  c = vss_ingest_format_clock (3661);
  g_assert_cmpstr (c, ==, "1:01:01");
  g_free (c);
  c = vss_ingest_format_clock (61.4);
  g_assert_cmpstr (c, ==, "1:01");
  g_free (c);
  c = vss_ingest_format_clock (-1);
  g_assert_cmpstr (c, ==, "--:--");
  g_free (c);

  /* File: percent and ETA from the media position. */
  p.elapsed_s = 10;
  p.position_s = 30;
  p.duration_s = 60;
  p.sampled = 30;
  p.dropped = 12;
  p.stored = 18;
  s = vss_ingest_format_progress (&p);
  g_assert_cmpstr (strstr (s, "ETA"), !=, NULL);
  g_assert_true (g_str_has_prefix (s,
          "[##########----------]  50%  0:30/1:00  ETA 0:10"));
  g_assert_nonnull (strstr (s, "sampled 30"));
  g_assert_nonnull (strstr (s, "duplicates 12"));
  g_assert_nonnull (strstr (s, "stored 18"));
  g_free (s);

  /* Position beyond the duration never shows more than 100%. */
  p.position_s = 70;
  s = vss_ingest_format_progress (&p);
  g_assert_true (g_str_has_prefix (s, "[####################] 100%"));
  g_free (s);

  /* Unknown duration. */
  p.duration_s = -1;
  p.position_s = 5;
  s = vss_ingest_format_progress (&p);
  g_assert_true (g_str_has_prefix (s, "0:05 of media"));
  g_free (s);

  /* Live: rate and counts. */
  p.live = TRUE;
  p.elapsed_s = 20;
  p.sampled = 10;
  p.reconnects = 2;
  p.reconnecting = TRUE;
  p.spooled = 3;
  s = vss_ingest_format_progress (&p);
  g_assert_true (g_str_has_prefix (s, "live 0:20  0.50 frames/s"));
  g_assert_nonnull (strstr (s, "reconnects 2"));
  g_assert_nonnull (strstr (s, "spooled 3"));
  g_assert_nonnull (strstr (s, "(reconnecting)"));
  g_free (s);

  /* Dry run: no "stored". */
  p.dry_run = TRUE;
  s = vss_ingest_format_progress (&p);
  g_assert_null (strstr (s, "stored"));
  g_free (s);
}

static void
test_exit_codes (void)
{
  VssIngestResult r[2] = { {0} };

  r[0].input = r[1].input = "x";
  r[0].stream_id = r[1].stream_id = "x";
  g_assert_cmpint (vss_ingest_exit_code (r, 2, FALSE), ==, 0);
  r[1].status = VSS_INGEST_STATUS_STOPPED;
  g_assert_cmpint (vss_ingest_exit_code (r, 2, FALSE), ==, 0);
  r[1].status = VSS_INGEST_STATUS_INTERRUPTED;
  g_assert_cmpint (vss_ingest_exit_code (r, 2, FALSE), ==, 130);
  r[0].spooled = 3;
  r[0].replayed = 1;
  g_assert_cmpint (vss_ingest_exit_code (r, 2, FALSE), ==, 5);
  /* A dry run stores nothing, so nothing is "not stored". */
  g_assert_cmpint (vss_ingest_exit_code (r, 2, TRUE), ==, 130);
  r[0].replayed = 3;
  r[0].failed = 1;
  g_assert_cmpint (vss_ingest_exit_code (r, 2, FALSE), ==, 5);
  /* Issue 18, point 8: a damaged file is 6, after frames not stored. */
  r[1].status = VSS_INGEST_STATUS_INCOMPLETE;
  g_assert_cmpint (vss_ingest_exit_code (r, 2, FALSE), ==, 5);
  g_assert_cmpint (vss_ingest_exit_code (r, 2, TRUE), ==, 6);
  r[1].status = VSS_INGEST_STATUS_DECODE_ERRORS;
  g_assert_cmpint (vss_ingest_exit_code (r, 2, TRUE), ==, 6);
  r[1].status = VSS_INGEST_STATUS_INPUT_ERROR;
  g_assert_cmpint (vss_ingest_exit_code (r, 2, FALSE), ==, 4);
  r[0].status = VSS_INGEST_STATUS_FAILED;
  g_assert_cmpint (vss_ingest_exit_code (r, 2, FALSE), ==, 1);
}

/* Issue 18, point 8: a file decoded to its end, or not. */
static void
test_file_status (void)
{
  gchar *s;

  /* Within 1 s or 1 % of the duration; unknown durations pass. */
  g_assert_true (vss_ingest_reached_end (20.0, 20.0));
  g_assert_true (vss_ingest_reached_end (19.2, 20.0));
  g_assert_false (vss_ingest_reached_end (18.9, 20.0));
  g_assert_true (vss_ingest_reached_end (3590, 3600));
  g_assert_false (vss_ingest_reached_end (27, 60));
  g_assert_true (vss_ingest_reached_end (5, -1));
  g_assert_cmpint (vss_ingest_file_status (20, 20, 0, 0), ==,
      VSS_INGEST_STATUS_OK);
  g_assert_cmpint (vss_ingest_file_status (27, 60, 0, 0), ==,
      VSS_INGEST_STATUS_INCOMPLETE);
  g_assert_cmpint (vss_ingest_file_status (27, 60, 2, 1), ==,
      VSS_INGEST_STATUS_INCOMPLETE);
  g_assert_cmpint (vss_ingest_file_status (60, 60, 1, 0), ==,
      VSS_INGEST_STATUS_DECODE_ERRORS);
  g_assert_cmpint (vss_ingest_file_status (60, 60, 0, 3), ==,
      VSS_INGEST_STATUS_DECODE_ERRORS);
  g_assert_cmpstr (vss_ingest_status_to_string
      (VSS_INGEST_STATUS_INCOMPLETE), ==, "incomplete");
  g_assert_cmpstr (vss_ingest_status_to_string
      (VSS_INGEST_STATUS_DECODE_ERRORS), ==, "decode-errors");
  s = vss_ingest_describe_damage (VSS_INGEST_STATUS_INCOMPLETE, 27, 60, 0, 0,
      0);
  g_assert_nonnull (strstr (s, "27.0 s of 60.0 s"));
  g_free (s);
  s = vss_ingest_describe_damage (VSS_INGEST_STATUS_DECODE_ERRORS, 60, 60, 2,
      1.5, 3);
  g_assert_nonnull (strstr (s, "2 places (1.5 s of video)"));
  g_assert_nonnull (strstr (s, "warned 3 times"));
  g_free (s);
  g_assert_null (vss_ingest_describe_damage (VSS_INGEST_STATUS_OK, 60, 60, 0,
          0, 0));
}

static void
test_result (void)
{
  VssIngestResult r = { 0 };
  json_t *j;
  gchar *s;

  r.input = "clip.mkv";
  r.stream_id = "clip";
  r.status = VSS_INGEST_STATUS_OK;
  r.wall_s = 2.0;
  r.media_s = 20.0;
  r.decoded = 200;
  r.sampled = 20;
  r.dropped = 12;
  r.kept = 8;
  r.stored = 8;
  j = vss_ingest_result_to_json (&r);
  g_assert_cmpstr (json_string_value (json_object_get (j, "status")), ==, "ok");
  g_assert_true (json_is_null (json_object_get (j, "error")));
  g_assert_cmpint (json_integer_value (json_object_get (j,
              "frames_sampled")), ==, 20);
  g_assert_cmpint (json_integer_value (json_object_get (j,
              "duplicates_dropped")), ==, 12);
  g_assert_cmpint (json_integer_value (json_object_get (j, "stored")), ==, 8);
  json_decref (j);

  s = vss_ingest_format_result (&r, FALSE);
  g_assert_nonnull (strstr (s, "20 frames sampled of 200 decoded"));
  g_assert_nonnull (strstr (s, "10.0x real time"));
  g_assert_null (strstr (s, " of 20.0 s"));
  g_assert_nonnull (strstr (s, "12 duplicates dropped"));
  g_assert_nonnull (strstr (s, "8 stored"));
  g_free (s);

  r.status = VSS_INGEST_STATUS_FAILED;
  r.error = "boom";
  s = vss_ingest_format_result (&r, TRUE);
  g_assert_nonnull (strstr (s, "dry run"));
  g_assert_true (g_str_has_suffix (s, "failed: boom"));
  g_free (s);
  r.error_detail = "why it\nboomed";
  s = vss_ingest_format_result (&r, TRUE);
  g_assert_true (g_str_has_suffix (s, "failed: boom: why it boomed"));
  g_free (s);
  j = vss_ingest_result_to_json (&r);
  g_assert_cmpstr (json_string_value (json_object_get (j, "error_detail")),
      ==, "why it\nboomed");
  json_decref (j);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ingest/stream-id", test_stream_id);
  g_test_add_func ("/ingest/stream-id-from-name", test_stream_id_from_name);
  g_test_add_func ("/ingest/inputs", test_inputs);
  g_test_add_func ("/ingest/frames-uri", test_frames_uri);
  g_test_add_func ("/ingest/options", test_options_check);
  g_test_add_func ("/ingest/describe", test_describe);
  g_test_add_func ("/ingest/error-detail", test_error_detail);
  g_test_add_func ("/ingest/progress", test_progress);
  g_test_add_func ("/ingest/exit-codes", test_exit_codes);
  g_test_add_func ("/ingest/file-status", test_file_status);
  g_test_add_func ("/ingest/result", test_result);
  return g_test_run ();
}
