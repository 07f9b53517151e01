/* gst-vss tests: the main job end to end, from a live RTSP stream that drops
 * to a search by image
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * redis-server with our module (vss-search.so) on a free port, an RTSP
 * server (tests/servers/vss-rtsp-server) streaming an H.264 clip made from
 * real photographs, and the real programs: vss-ingest stores the stream,
 * the RTSP server is stopped and started again mid-stream and ingest must
 * resume; then every stored key must have its object, and vss-search with
 * one of the source photographs must return that photograph's frames first.
 *
 * Which photograph a stored frame shows is decided from the stored JPEG
 * itself: its local embedding is nearest to that photograph's among the
 * clip's photographs (the clip's views are crops of 1-1.4x zoom, so the
 * right photograph is far nearer than any other; the calibration test
 * asserts that margin).
 *
 * Argument: the path of vss-search.so.
 */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <gst/app/gstappsink.h>
#include <gst/video/video.h>
#include "embed/gstvssembedlocal.h"
#include "vss-e2e.h"
#include "vss-test-redis.h"
#include "vss-test-util.h"

static const gchar *module_path;

static gfloat *
embed_image (const gchar * path)
{
  gchar *q = g_strescape (path, NULL);
  gchar *desc = g_strdup_printf ("filesrc location=\"%s\" ! jpegdec ! "
      "videoconvert ! videoscale ! video/x-raw,format=I420,width=640,"
      "pixel-aspect-ratio=1/1 ! appsink name=s", q);
  GError *err = NULL;
  GstElement *p = gst_parse_launch (desc, &err);
  GstElement *s;
  GstSample *sample;
  GstVideoInfo info;
  GstVideoFrame frame;
  gfloat *v = g_new0 (gfloat, gst_vss_embed_local_dim ());

  g_assert_no_error (err);
  s = gst_bin_get_by_name (GST_BIN (p), "s");
  gst_element_set_state (p, GST_STATE_PLAYING);
  sample = gst_app_sink_pull_sample (GST_APP_SINK (s));
  if (sample == NULL)
    g_error ("cannot decode %s", path);
  g_assert_true (gst_video_info_from_caps (&info,
          gst_sample_get_caps (sample)));
  g_assert_true (gst_video_frame_map (&frame, &info,
          gst_sample_get_buffer (sample), GST_MAP_READ));
  g_assert_true (gst_vss_embed_local_frame (&frame, v));
  gst_video_frame_unmap (&frame);
  gst_sample_unref (sample);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (s);
  gst_object_unref (p);
  g_free (desc);
  g_free (q);
  return v;
}

static gdouble
cosine_distance (const gfloat * a, const gfloat * b)
{
  gdouble dot = 0, na = 0, nb = 0;

  for (guint i = 0; i < gst_vss_embed_local_dim (); i++) {
    dot += (gdouble) a[i] * b[i];
    na += (gdouble) a[i] * a[i];
    nb += (gdouble) b[i] * b[i];
  }
  return 1.0 - dot / sqrt (na * nb);
}

/* Index of the photograph (in paths) nearest to the image at path. */
static guint
nearest_photo (const gchar * path, GPtrArray * photo_vecs)
{
  gfloat *v = embed_image (path);
  guint best = 0;
  gdouble best_d = G_MAXDOUBLE;

  for (guint i = 0; i < photo_vecs->len; i++) {
    gdouble d = cosine_distance (v, g_ptr_array_index (photo_vecs, i));
    if (d < best_d) {
      best_d = d;
      best = i;
    }
  }
  g_free (v);
  return best;
}

static gchar *
cli1 (VssTestRedis * r, const gchar * a, const gchar * b, const gchar * c)
{
  GError *err = NULL;
  gchar *out = vss_test_redis_cli (r, 0, &err, a, b, c, NULL);

  g_assert_no_error (err);
  g_strstrip (out);
  return out;
}

static void
test_rtsp_drop_store_search (void)
{
  const gchar *clip_args[] = { "--duration", "40", "--fps", "10", "--width",
    "640", "--height", "360", "--seed", "9", NULL
  };
  gchar *dir = g_dir_make_tmp ("vss-ingest-e2e-XXXXXX", NULL);
  gchar *clip = vss_e2e_make_clip (dir, "clip.mkv", clip_args);
  gchar *truth_path = g_strconcat (clip, ".json", NULL);
  gchar *frames = g_build_filename (dir, "frames", NULL);
  gchar *spool = g_build_filename (dir, "spool", NULL);
  VssTestRedisOptions ro = { 0 };
  VssTestRedis *r;
  GError *err = NULL;
  gchar *url, *out, **keys;
  VssE2eRtsp *srv;
  guint16 port = vss_e2e_free_port ();
  GSubprocess *p;
  json_t *j = NULL, *truth, *scenes, *res;
  GPtrArray *photos = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *photo_vecs = g_ptr_array_new_with_free_func (g_free);
  guint n_keys = 0, target;
  gint status;
  gboolean other_seen = FALSE;
  guint n_target_hits = 0;

  /* The clip's photographs, in order of first appearance. */
  truth = json_load_file (truth_path, 0, NULL);
  g_assert_nonnull (truth);
  scenes = json_object_get (truth, "scenes");
  g_assert_cmpuint (json_array_size (scenes), >=, 3);
  for (gsize i = 0; i < json_array_size (scenes); i++) {
    const gchar *path = json_string_value (json_object_get (json_array_get
            (scenes, i), "path"));
    gboolean have = FALSE;
    for (guint k = 0; k < photos->len; k++)
      have |= strcmp (g_ptr_array_index (photos, k), path) == 0;
    if (!have) {
      g_ptr_array_add (photos, g_strdup (path));
      g_ptr_array_add (photo_vecs, embed_image (path));
    }
  }
  /* The first scene's photograph: shown at the start of both
   * connections, so it is surely stored. */
  target = 0;

  if (!vss_test_redis_require_programs (&err))
    g_error ("%s", err->message);
  ro.module = module_path;
  r = vss_test_redis_start (&ro, &err);
  g_assert_no_error (err);
  url = vss_test_redis_get_url (r, NULL);

  srv = vss_e2e_rtsp_start (clip, port, FALSE);
  {
    const gchar *args[] = { srv->url, "--valkey", url, "--frames", frames,
      "--spool-dir", spool, "--stream-id", "cam1", "--rtsp-transport", "tcp",
      "--duration", "30", "--reconnect-delay", "0.5",
      "--reconnect-max-delay", "2", "--json", NULL
    };
    p = vss_e2e_ingest_spawn (args, 0);
  }
  g_usleep (10 * G_USEC_PER_SEC);
  vss_e2e_rtsp_stop (srv);
  g_usleep (3 * G_USEC_PER_SEC);
  srv = vss_e2e_rtsp_start (clip, port, FALSE);
  status = vss_e2e_ingest_wait (p, &j, NULL, NULL);
  g_object_unref (p);
  vss_e2e_rtsp_stop (srv);

  /* Ingest went on after the drop, and stored everything it kept. */
  g_assert_cmpint (status, ==, 0);
  g_assert_cmpstr (vss_e2e_input_str (j, 0, "status"), ==, "stopped");
  g_assert_cmpint (vss_e2e_input_int (j, 0, "connections"), >=, 2);
  g_assert_cmpint (vss_e2e_input_int (j, 0, "reconnects"), >=, 1);
  g_assert_cmpint (vss_e2e_input_int (j, 0, "frames_sampled"), >=, 15);
  g_assert_cmpint (vss_e2e_input_int (j, 0, "duplicates_dropped"), >, 0);
  g_assert_cmpint (vss_e2e_input_int (j, 0, "stored"), >=, 2);
  g_assert_cmpint (vss_e2e_input_int (j, 0, "stored"), ==,
      vss_e2e_input_int (j, 0, "frames_kept"));
  g_assert_cmpint (vss_e2e_input_int (j, 0, "failed"), ==, 0);

  /* Every key has its object, of the recorded size. */
  out = cli1 (r, "KEYS", "frame:cam1:*", NULL);
  keys = g_strsplit (out, "\n", -1);
  g_free (out);
  for (guint i = 0; keys[i]; i++) {
    gchar *uri, *size, *path, *data = NULL;
    gsize len = 0;

    g_strstrip (keys[i]);
    if (*keys[i] == '\0')
      continue;
    n_keys++;
    uri = cli1 (r, "HGET", keys[i], "uri");
    size = cli1 (r, "HGET", keys[i], "size");
    g_assert_true (g_str_has_prefix (uri, "file://"));
    path = g_filename_from_uri (uri, NULL, NULL);
    if (path == NULL)
      path = g_strdup (uri + strlen ("file://"));
    g_assert_true (g_str_has_prefix (path, frames));
    if (!g_file_get_contents (path, &data, &len, NULL))
      g_error ("key %s: object %s is missing", keys[i], path);
    g_assert_cmpuint (len, ==, g_ascii_strtoull (size, NULL, 10));
    g_assert_cmpuint (len, >, 1000);
    g_assert_true ((guint8) data[0] == 0xff && (guint8) data[1] == 0xd8);
    g_free (data);
    g_free (path);
    g_free (uri);
    g_free (size);
  }
  g_strfreev (keys);
  g_assert_cmpint (n_keys, ==, vss_e2e_input_int (j, 0, "stored"));
  json_decref (j);

  /* Search by the photograph: its frames come first. */
  {
    gchar *tool = vss_e2e_build_path ("tools/vss-search");
    const gchar *argv[] = { tool, "--valkey", url, "--image",
      g_ptr_array_index (photos, target), "--stream", "cam1", "-k", "10",
      "--json", NULL
    };
    gchar *sout = NULL, *serr = NULL;
    gint st;

    g_assert_true (g_spawn_sync (NULL, (gchar **) argv, NULL,
            G_SPAWN_DEFAULT, NULL, NULL, &sout, &serr, &st, &err));
    g_assert_no_error (err);
    if (!g_spawn_check_wait_status (st, NULL))
      g_error ("vss-search failed: %s", serr);
    j = json_loads (sout, 0, NULL);
    g_assert_nonnull (j);
    g_free (sout);
    g_free (serr);
    g_free (tool);
  }
  res = json_object_get (j, "results");
  g_assert_cmpuint (json_array_size (res), ==, n_keys < 10 ? n_keys : 10);
  for (gsize i = 0; i < json_array_size (res); i++) {
    const gchar *uri = json_string_value (json_object_get (json_array_get
            (res, i), "uri"));
    gchar *path = g_filename_from_uri (uri, NULL, NULL);
    guint shows = nearest_photo (path, photo_vecs);

    g_printerr ("hit %" G_GSIZE_FORMAT ": distance %.4f, shows photo %u "
        "(%s)\n", i, json_real_value (json_object_get (json_array_get (res,
                    i), "distance")), shows,
        (const gchar *) g_ptr_array_index (photos, shows));
    if (shows == target) {
      g_assert_false (other_seen);      /* no other photo's frame before */
      n_target_hits++;
    } else {
      other_seen = TRUE;
    }
    g_free (path);
  }
  g_assert_cmpuint (n_target_hits, >=, 1);
  g_assert_cmpfloat (json_real_value (json_object_get (json_array_get (res,
                  0), "distance")), <, 0.3);
  json_decref (j);
  json_decref (truth);

  vss_test_redis_free (r);
  g_free (url);
  g_ptr_array_unref (photos);
  g_ptr_array_unref (photo_vecs);
  {
    gchar *argv[] = { (gchar *) "rm", (gchar *) "-rf", dir, NULL };
    g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL,
        NULL, NULL, NULL);
  }
  g_free (frames);
  g_free (spool);
  g_free (truth_path);
  g_free (clip);
  g_free (dir);
}

/* Valkey dies mid-ingest: frames go to the spool, vss-ingest says so and
 * exits 5; the next run with the same spool replays them: nothing lost. */
static void
test_valkey_outage (void)
{
  const gchar *clip_args[] = { "--duration", "20", "--fps", "10", "--width",
    "320", "--height", "180", "--seed", "9", NULL
  };
  gchar *dir = g_dir_make_tmp ("vss-ingest-outage-XXXXXX", NULL);
  gchar *clip = vss_e2e_make_clip (dir, "clip.mkv", clip_args);
  gchar *frames = g_build_filename (dir, "frames", NULL);
  gchar *spool = g_build_filename (dir, "spool", NULL);
  VssTestRedisOptions ro = { 0 };
  VssTestRedis *r;
  GError *err = NULL;
  GSubprocess *p;
  json_t *j = NULL;
  gchar *url, *out;
  gint status;
  json_int_t spooled, stored1, stored2, replayed;

  ro.module = module_path;
  r = vss_test_redis_start (&ro, &err);
  g_assert_no_error (err);
  url = vss_test_redis_get_url (r, NULL);

  {
    /* --live on a file: decoded as fast as it goes, reopened at its end,
     * --threshold 0: every sampled frame is stored. */
    const gchar *args[] = { clip, "--live", "--threshold", "0", "--interval",
      "0.5", "--valkey", url, "--frames", frames, "--spool-dir", spool,
      "--stream-id", "outage", "--duration", "120", "--json", NULL
    };
    p = vss_e2e_ingest_spawn (args, 0);
  }
  /* Once frames are being stored, the server dies; a little later the
   * user presses Ctrl-C. */
  for (guint i = 0; i < 600; i++) {
    gchar *n = vss_test_redis_cli (r, 0, &err, "DBSIZE", NULL);
    g_assert_no_error (err);
    if (g_ascii_strtoll (n, NULL, 10) >= 3) {
      g_free (n);
      break;
    }
    g_free (n);
    g_usleep (100 * 1000);
  }
  vss_test_redis_stop_node (r, 0, TRUE);
  g_usleep (3 * G_USEC_PER_SEC);
  g_subprocess_send_signal (p, SIGINT);
  status = vss_e2e_ingest_wait (p, &j, NULL, &out);
  g_object_unref (p);
  g_assert_cmpint (status, ==, 5);
  spooled = vss_e2e_input_int (j, 0, "spooled");
  stored1 = vss_e2e_input_int (j, 0, "stored");
  g_assert_cmpint (stored1, >, 0);
  g_assert_cmpint (spooled, >, 0);
  g_assert_cmpint (vss_e2e_input_int (j, 0, "failed"), ==, 0);
  g_assert_cmpint (json_integer_value (json_object_get (j, "exit_code")), ==,
      5);
  g_assert_cmpstr (vss_e2e_input_str (j, 0, "status"), ==, "interrupted");
  json_decref (j);
  g_free (out);

  /* The server comes back (empty: no persistence in the fixture). */
  g_assert_true (vss_test_redis_restart_node (r, 0, &err));
  g_assert_no_error (err);
  {
    const gchar *args[] = { clip, "--threshold", "0", "--valkey", url,
      "--frames", frames, "--spool-dir", spool, "--stream-id", "outage",
      "--json", NULL
    };
    status = vss_e2e_ingest_run (args, &j, NULL, NULL);
  }
  g_assert_cmpint (status, ==, 0);
  replayed = vss_e2e_input_int (j, 0, "replayed");
  stored2 = vss_e2e_input_int (j, 0, "stored");
  g_assert_cmpint (replayed, >=, spooled);
  json_decref (j);
  {
    gchar *n = vss_test_redis_cli (r, 0, &err, "DBSIZE", NULL);
    g_assert_no_error (err);
    /* This run's frames and every frame the outage left in the spool. */
    g_assert_cmpint (g_ascii_strtoll (n, NULL, 10), >=, stored2);
    g_assert_cmpint (g_ascii_strtoll (n, NULL, 10), >=, spooled + 20);
    g_free (n);
  }

  vss_test_redis_free (r);
  {
    gchar *rm[] = { (gchar *) "rm", (gchar *) "-rf", dir, NULL };
    g_spawn_sync (NULL, rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
        NULL, NULL);
  }
  g_free (url);
  g_free (frames);
  g_free (spool);
  g_free (clip);
  g_free (dir);
}

/* ---- Issue 18, point 11: element errors come with their detail ---- */

static VssTestRedis *
start_module_server (const VssTestRedisOptions * base)
{
  VssTestRedisOptions ro = { 0 };
  VssTestRedis *r;
  GError *err = NULL;

  if (base)
    ro = *base;
  ro.module = module_path;
  r = vss_test_redis_start (&ro, &err);
  g_assert_no_error (err);
  return r;
}

/* The run failed (exit 1) with @message and @detail on stderr and in the
 * JSON summary, without GStreamer's source-location prefix and without
 * any of @secrets. */
static void
expect_error_detail (gint status, json_t * j, const gchar * out,
    const gchar * err, const gchar * message, const gchar * detail,
    const gchar * const *secrets)
{
  const gchar *jerr, *jdetail;

  if (status != 1 || strstr (err, message) == NULL
      || strstr (err, detail) == NULL)
    g_error ("exit %d, expected 1 with \"%s\" and \"%s\" on stderr: %s",
        status, message, detail, err);
  g_assert_nonnull (j);
  jerr = vss_e2e_input_str (j, 0, "error");
  jdetail = vss_e2e_input_str (j, 0, "error_detail");
  g_assert_nonnull (jerr);
  if (jdetail == NULL || strstr (jerr, message) == NULL
      || strstr (jdetail, detail) == NULL)
    g_error ("JSON error \"%s\", detail \"%s\"", jerr,
        jdetail ? jdetail : "(none)");
  /* "../plugins/vsssink/gstvsssink.c(1342): gst_vss_sink_start (): ..." */
  g_assert_null (strstr (err, ".c("));
  g_assert_null (strstr (jdetail, ".c("));
  g_assert_null (strstr (jdetail, "/GstPipeline:"));
  for (guint i = 0; secrets && secrets[i]; i++) {
    g_assert_null (strstr (err, secrets[i]));
    g_assert_null (strstr (out, secrets[i]));
  }
}

/* Makes @dir a folder this process cannot write to: read-only rights; as
 * root (who ignores them) the immutable attribute; where that is not
 * allowed either, a folder under a regular file. Returns the folder to
 * give, to undo with unmake_read_only(). */
static gchar *
make_read_only (const gchar * dir)
{
  gchar *probe = g_build_filename (dir, "probe", NULL);
  gboolean writable;
  int fd, flags = 0;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_cmpint (g_chmod (dir, 0555), ==, 0);
  writable = g_file_set_contents (probe, "x", 1, NULL);
  g_unlink (probe);
  g_free (probe);
  if (!writable)
    return g_strdup (dir);
  fd = open (dir, O_RDONLY | O_DIRECTORY);
  if (fd >= 0 && ioctl (fd, FS_IOC_GETFLAGS, &flags) == 0) {
    flags |= FS_IMMUTABLE_FL;
    if (ioctl (fd, FS_IOC_SETFLAGS, &flags) == 0) {
      close (fd);
      return g_strdup (dir);
    }
  }
  if (fd >= 0)
    close (fd);
  g_assert_cmpint (g_chmod (dir, 0755), ==, 0);
  probe = g_build_filename (dir, "a-file", NULL);
  g_assert_true (g_file_set_contents (probe, "x", 1, NULL));
  {
    gchar *under = g_build_filename (probe, "frames", NULL);
    g_free (probe);
    return under;
  }
}

static void
unmake_read_only (const gchar * dir)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY), flags = 0;

  if (fd >= 0 && ioctl (fd, FS_IOC_GETFLAGS, &flags) == 0
      && (flags & FS_IMMUTABLE_FL)) {
    flags &= ~FS_IMMUTABLE_FL;
    ioctl (fd, FS_IOC_SETFLAGS, &flags);
  }
  if (fd >= 0)
    close (fd);
  g_chmod (dir, 0755);
}

/* ---- Issue 18, point 2: a rerun of a file after a kill ---- */

static gint64
dbsize (VssTestRedis * r)
{
  GError *err = NULL;
  gchar *n = vss_test_redis_cli (r, 0, &err, "DBSIZE", NULL);
  gint64 v;

  g_assert_no_error (err);
  v = g_ascii_strtoll (n, NULL, 10);
  g_free (n);
  return v;
}

/* vss-ingest of a file is killed half way; the same command again stores
 * what the first run did not and nothing twice: a file's frames keep their
 * ids from run to run. */
static void
test_rerun_after_kill (void)
{
  const gchar *clip_args[] = { "--duration", "60", "--fps", "10", "--width",
    "1280", "--height", "720", "--seed", "21", NULL
  };
  gchar *dir = g_dir_make_tmp ("vss-ingest-rerun-XXXXXX", NULL);
  gchar *clip = vss_e2e_make_clip (dir, "clip.mkv", clip_args);
  gchar *frames = g_build_filename (dir, "frames", NULL);
  gchar *spool = g_build_filename (dir, "spool", NULL);
  VssTestRedis *r = start_module_server (NULL);
  gchar *url = vss_test_redis_get_url (r, NULL);
  /* Every sampled frame is kept (no dedup): 600 keys for 60 s. */
  const gchar *args[] = { clip, "--threshold", "0", "--interval", "0.1",
    "--valkey", url, "--frames", frames, "--spool-dir", spool,
    "--stream-id", "rerun", "--json", NULL
  };
  GSubprocess *p;
  json_t *j = NULL;
  gint64 killed_at, keys;
  json_int_t kept;
  gint status;

  p = vss_e2e_ingest_spawn (args, 0);
  for (guint i = 0; i < 1200 && dbsize (r) < 30; i++)
    g_usleep (50 * 1000);
  g_subprocess_send_signal (p, SIGKILL);
  g_subprocess_wait (p, NULL, NULL);
  g_object_unref (p);
  killed_at = dbsize (r);
  g_assert_cmpint (killed_at, >=, 30);
  /* The kill came half way. */
  g_assert_cmpint (killed_at, <, 600);

  status = vss_e2e_ingest_run (args, &j, NULL, NULL);
  g_assert_cmpint (status, ==, 0);
  kept = vss_e2e_input_int (j, 0, "frames_kept");
  json_decref (j);
  g_assert_cmpint (kept, ==, 600);
  /* Every frame once: the keys of the first run were written again, not
   * next to new ones; one object per key. */
  keys = dbsize (r);
  g_assert_cmpint (keys, ==, kept);
  g_assert_cmpuint (vss_test_count_files (frames, NULL, NULL), ==, kept);

  /* Each frame names its file and its place in it (search results show
   * "clip.mkv @ 00:54"). */
  {
    GError *err = NULL;
    gchar *key = vss_test_redis_cli (r, 0, &err, "RANDOMKEY", NULL);
    gchar *src, *pos;

    g_assert_no_error (err);
    g_strstrip (key);
    src = vss_test_redis_cli (r, 0, &err, "HGET", key, "source", NULL);
    pos = vss_test_redis_cli (r, 0, &err, "HGET", key, "position", NULL);
    g_assert_no_error (err);
    g_assert_cmpstr (g_strstrip (src), ==, "clip.mkv");
    g_assert_cmpint (g_ascii_strtoll (pos, NULL, 10), >=, 0);
    g_assert_cmpint (g_ascii_strtoll (pos, NULL, 10), <, 60000);
    g_free (key);
    g_free (src);
    g_free (pos);
  }

  /* And once more: nothing changes. */
  status = vss_e2e_ingest_run (args, &j, NULL, NULL);
  g_assert_cmpint (status, ==, 0);
  json_decref (j);
  g_assert_cmpint (dbsize (r), ==, kept);
  g_assert_cmpuint (vss_test_count_files (frames, NULL, NULL), ==, kept);

  vss_test_redis_free (r);
  vss_test_rm_rf (dir);
  g_free (url);
  g_free (frames);
  g_free (spool);
  g_free (clip);
  g_free (dir);
}

static void
test_error_details (void)
{
  const gchar *clip_args[] = { "--duration", "6", "--fps", "10", "--width",
    "320", "--height", "180", "--seed", "4", NULL
  };
  gchar *dir = g_dir_make_tmp ("vss-ingest-details-XXXXXX", NULL);
  gchar *clip = vss_e2e_make_clip (dir, "clip.mkv", clip_args);
  gchar *frames = g_build_filename (dir, "frames", NULL);
  gchar *spool = g_build_filename (dir, "spool", NULL);
  VssTestRedisOptions ro = { 0 };
  VssTestRedis *r;
  GError *err = NULL;
  json_t *j = NULL;
  gchar *url, *out = NULL, *errt = NULL, *reply;
  gint status;

  /* 1. The index exists with another schema; the URL has a password. */
  ro.acl_user = "default";
  ro.acl_password = "hunter2-valkey-pass";
  r = start_module_server (&ro);
  url = vss_test_redis_get_url (r, NULL);
  reply = vss_test_redis_cli (r, 0, &err, "FT.CREATE", "frames", "ON", "HASH",
      "PREFIX", "1", "other:", "SCHEMA", "vector", "VECTOR", "HNSW", "6",
      "TYPE", "FLOAT32", "DIM", "4", "DISTANCE_METRIC", "COSINE", NULL);
  g_assert_no_error (err);
  g_free (reply);
  {
    const gchar *args[] = { clip, "--valkey", url, "--frames", frames,
      "--spool-dir", spool, "--json", NULL
    };
    const gchar *secrets[] = { "hunter2-valkey-pass", NULL };

    status = vss_e2e_ingest_run (args, &j, &out, &errt);
    expect_error_detail (status, j, out, errt,
        "The vector index 'frames' cannot be used",
        "its PREFIX is 'other:', not 'frame:'", secrets);
    g_assert_nonnull (strstr (errt, "FT.DROPINDEX frames"));
    json_decref (j);
    g_free (out);
    g_free (errt);
  }
  g_free (url);
  vss_test_redis_free (r);

  r = start_module_server (NULL);
  url = vss_test_redis_get_url (r, NULL);

  /* 2. The frames folder cannot be written to. */
  {
    gchar *ro_dir = g_build_filename (dir, "read-only", NULL);
    gchar *given = make_read_only (ro_dir);
    const gchar *args[] = { clip, "--valkey", url, "--frames", given,
      "--spool-dir", spool, "--json", NULL
    };

    status = vss_e2e_ingest_run (args, &j, &out, &errt);
    unmake_read_only (ro_dir);
    expect_error_detail (status, j, out, errt, "Cannot use the object store",
        "Cannot write to folder", NULL);
    json_decref (j);
    g_free (out);
    g_free (errt);
    g_free (given);
    g_free (ro_dir);
  }

  /* 3. Two ingests share one spool folder. */
  {
    const gchar *first[] = { clip, "--live", "--valkey", url, "--frames",
      frames, "--spool-dir", spool, "--stream-id", "first", "--duration",
      "120", "--json", NULL
    };
    const gchar *second[] = { clip, "--valkey", url, "--frames", frames,
      "--spool-dir", spool, "--stream-id", "second", "--json", NULL
    };
    GSubprocess *p = vss_e2e_ingest_spawn (first, 0);

    /* Once the first stores frames, it holds the spool. */
    for (guint i = 0; i < 600; i++) {
      gchar *n = vss_test_redis_cli (r, 0, &err, "DBSIZE", NULL);
      gboolean some;

      g_assert_no_error (err);
      some = g_ascii_strtoll (n, NULL, 10) > 0;
      g_free (n);
      if (some)
        break;
      g_usleep (100 * 1000);
    }
    status = vss_e2e_ingest_run (second, &j, &out, &errt);
    /* The first one is stopped before anything is asserted. */
    g_subprocess_send_signal (p, SIGINT);
    g_assert_cmpint (vss_e2e_ingest_wait (p, NULL, NULL, NULL), ==, 130);
    g_object_unref (p);
    expect_error_detail (status, j, out, errt,
        "Cannot open the spool folder", "in use by another process", NULL);
    json_decref (j);
    g_free (out);
    g_free (errt);
  }
  g_free (url);
  vss_test_redis_free (r);

  /* 4. Bedrock's endpoint does not resolve (.invalid never does). */
  {
    const gchar *env[] = { "AWS_ACCESS_KEY_ID", "AKIDVSSINGESTTEST001",
      "AWS_SECRET_ACCESS_KEY", "vss-ingest/test+Secret0123456789xyz",
      "AWS_SESSION_TOKEN", "vss-ingest-session-token-42",
      "AWS_REGION", "eu-west-1",
      "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://nonexistent.invalid",
      "AWS_CONFIG_FILE", "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE",
      "/nonexistent", "AWS_PROFILE", NULL, "AWS_EC2_METADATA_DISABLED", "true",
      NULL
    };
    const gchar *args[] = { clip, "--provider", "bedrock", "--threshold", "0",
      "--dry-run", "--json", NULL
    };
    const gchar *secrets[] = { "Secret0123456789xyz",
      "vss-ingest-session-token-42", NULL
    };

    status = vss_e2e_ingest_run_env (args, env, &j, &out, &errt);
    expect_error_detail (status, j, out, errt,
        "Amazon Bedrock did not answer", "nonexistent.invalid", secrets);
    g_assert_nonnull (strstr (errt, "resolve"));
    json_decref (j);
    g_free (out);
    g_free (errt);
  }

  vss_test_rm_rf (dir);
  g_free (frames);
  g_free (spool);
  g_free (clip);
  g_free (dir);
}

/* Waits up to @timeout_s for @path to hold a line with every one of
 * @words; returns that line (or NULL). */
static gchar *
wait_for_line (const gchar * path, const gchar * const *words, guint timeout_s)
{
  gint64 end = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  do {
    gchar *text = NULL, **lines, *found = NULL;

    if (g_file_get_contents (path, &text, NULL, NULL)) {
      lines = g_strsplit (text, "\n", -1);
      for (guint i = 0; lines[i] && !found; i++) {
        gboolean all = TRUE;
        for (guint k = 0; words[k] && all; k++)
          all = strstr (lines[i], words[k]) != NULL;
        if (all)
          found = g_strdup (lines[i]);
      }
      g_strfreev (lines);
      g_free (text);
    }
    if (found)
      return found;
    g_usleep (200 * 1000);
  } while (g_get_monotonic_time () < end);
  return NULL;
}

static guint
count_lines_with (const gchar * path, const gchar * word)
{
  gchar *text = NULL;
  guint n = 0;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  for (const gchar * p = text; (p = strstr (p, word)) != NULL; p++)
    n++;
  g_free (text);
  return n;
}

/* Issue 18, point 13: without a terminal, an outage and its end are each
 * one line on stderr, naming the service and the frames waiting. */
static void
test_outage_lines (void)
{
  const gchar *clip_args[] = { "--duration", "20", "--fps", "10", "--width",
    "320", "--height", "180", "--seed", "11", NULL
  };
  gchar *dir = g_dir_make_tmp ("vss-ingest-outage-lines-XXXXXX", NULL);
  gchar *clip = vss_e2e_make_clip (dir, "clip.mkv", clip_args);
  gchar *frames = g_build_filename (dir, "frames", NULL);
  gchar *spool = g_build_filename (dir, "spool", NULL);
  gchar *log = g_build_filename (dir, "stderr.txt", NULL);
  VssTestRedis *r = start_module_server (NULL);
  gchar *url = vss_test_redis_get_url (r, NULL);
  gchar *where = g_strdup_printf ("Valkey at %s", url);
  GError *err = NULL;
  GSubprocess *p;
  gchar *down, *back;
  const gchar *w;
  gint status;

  {
    /* --live on a file: it goes on until stopped. */
    const gchar *args[] = { clip, "--live", "--threshold", "0", "--interval",
      "0.5", "--valkey", url, "--frames", frames, "--spool-dir", spool,
      "--stream-id", "outage-lines", "--duration", "150", NULL
    };
    p = vss_e2e_ingest_spawn_env (args, NULL, log);
  }
  for (guint i = 0; i < 600; i++) {
    gchar *n = vss_test_redis_cli (r, 0, &err, "DBSIZE", NULL);
    gboolean enough;

    g_assert_no_error (err);
    enough = g_ascii_strtoll (n, NULL, 10) >= 3;
    g_free (n);
    if (enough)
      break;
    g_usleep (100 * 1000);
  }
  g_assert_cmpuint (count_lines_with (log, "is unreachable:"), ==, 0);

  vss_test_redis_stop_node (r, 0, TRUE);
  {
    const gchar *words[] = { where, "is unreachable", "waiting", NULL };
    down = wait_for_line (log, words, 30);
  }
  if (down == NULL) {
    gchar *text = NULL;
    g_file_get_contents (log, &text, NULL, NULL);
    g_subprocess_force_exit (p);
    g_error ("no line about the outage on stderr: %s", text);
  }
  g_assert_true (vss_test_redis_restart_node (r, 0, &err));
  g_assert_no_error (err);
  {
    const gchar *words[] = { where, "is back:", "caught up", NULL };
    back = wait_for_line (log, words, 60);
  }
  if (back == NULL) {
    gchar *text = NULL;
    g_file_get_contents (log, &text, NULL, NULL);
    g_subprocess_force_exit (p);
    g_error ("no line about the end of the outage on stderr: %s", text);
  }
  g_subprocess_send_signal (p, SIGINT);
  status = vss_e2e_ingest_wait (p, NULL, NULL, NULL);
  g_object_unref (p);
  /* "... (N waiting)": some frames were. */
  w = g_strrstr (down, "(");
  g_assert_nonnull (w);
  g_assert_cmpint (g_ascii_strtoll (w + 1, NULL, 10), >, 0);
  /* One line each, and nothing was lost. */
  g_assert_cmpuint (count_lines_with (log, "is unreachable:"), ==, 1);
  g_assert_cmpuint (count_lines_with (log, "is back:"), ==, 1);
  g_assert_cmpint (status, ==, 130);

  g_free (down);
  g_free (back);
  vss_test_redis_free (r);
  vss_test_rm_rf (dir);
  g_free (where);
  g_free (url);
  g_free (log);
  g_free (frames);
  g_free (spool);
  g_free (clip);
  g_free (dir);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  if (argc < 2 || !g_file_test (argv[1], G_FILE_TEST_IS_REGULAR))
    g_error ("usage: test-ingest-e2e PATH-TO-vss-search.so (the module is "
        "built with the index library)");
  module_path = argv[1];
  g_test_add_func ("/ingest-e2e/rtsp-drop-store-search",
      test_rtsp_drop_store_search);
  g_test_add_func ("/ingest-e2e/valkey-outage", test_valkey_outage);
  g_test_add_func ("/ingest-e2e/error-details", test_error_details);
  g_test_add_func ("/ingest-e2e/rerun-after-kill", test_rerun_after_kill);
  g_test_add_func ("/ingest-e2e/outage-lines", test_outage_lines);
  return g_test_run ();
}
