/* gst-vss tests: the scripts in examples/pipelines run as documented
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each example runs as a user would (bash, gst-launch-1.0, vss-search)
 * against redis-server with our module, on a short clip of real
 * photographs: file ingest, search by image, live alerts, two-stage dedup
 * against the local Bedrock test server, RTSP ingest from the RTSP test
 * server. Webcam needs a camera: only its refusal without one is checked.
 *
 * Arguments: the path of vss-search.so, then of vss-bedrock-server.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "vss-e2e.h"
#include "vss-test-redis.h"

static const gchar *module_path, *bedrock_server;
static gchar *dir, *clip, *photo;
static VssTestRedis *redis;
static gchar *valkey;

static gint
run_example (const gchar * script, const gchar * const *args,
    const gchar * const *env_extra, gint timeout_s, gchar ** out)
{
  const gchar *src = g_getenv ("VSS_SOURCE_ROOT");
  gchar *path = g_build_filename (src ? src : ".", "examples", "pipelines",
      script, NULL);
  gchar *to = g_strdup_printf ("%d", timeout_s);
  GPtrArray *argv = g_ptr_array_new ();
  gchar **envp = g_get_environ ();
  gchar *frames_uri = g_strconcat ("file://", dir, "/frames", NULL);
  gchar *state = g_build_filename (dir, "state", NULL);
  gchar *o = NULL, *e = NULL;
  GError *err = NULL;
  gint status;

  /* timeout -s INT: a live example ends as on Ctrl-C (gst-launch -e). */
  g_ptr_array_add (argv, (gpointer) "timeout");
  g_ptr_array_add (argv, (gpointer) "-s");
  g_ptr_array_add (argv, (gpointer) "INT");
  g_ptr_array_add (argv, to);
  g_ptr_array_add (argv, (gpointer) "bash");
  g_ptr_array_add (argv, path);
  for (guint i = 0; args && args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  envp = g_environ_setenv (envp, "VALKEY", valkey, TRUE);
  envp = g_environ_setenv (envp, "FRAMES", frames_uri, TRUE);
  /* vsssink's default spool folder is under XDG_STATE_HOME: the examples'
   * own, not one that another test or run on this machine may hold. */
  envp = g_environ_setenv (envp, "XDG_STATE_HOME", state, TRUE);
  for (guint i = 0; env_extra && env_extra[i]; i += 2)
    envp = g_environ_setenv (envp, env_extra[i], env_extra[i + 1], TRUE);
  {
    /* gst-launch-1.0 is not instrumented; our plugins are in an ASan
     * build. Its own allocations at exit are not ours to judge. */
    gchar *pre = vss_e2e_uninstrumented_preload ();
    if (pre != NULL) {
      envp = g_environ_setenv (envp, "LD_PRELOAD", pre, TRUE);
      envp = g_environ_setenv (envp, "ASAN_OPTIONS", "detect_leaks=0", TRUE);
      g_free (pre);
    }
  }
  if (!g_spawn_sync (dir, (gchar **) argv->pdata, envp, G_SPAWN_SEARCH_PATH,
          NULL, NULL, &o, &e, &status, &err))
    g_error ("cannot run %s: %s", script, err->message);
  g_printerr ("%s: wait status %d\nstdout:\n%s\nstderr:\n%s\n", script,
      status, o, e);
  if (out)
    *out = o;
  else
    g_free (o);
  g_free (e);
  g_strfreev (envp);
  g_free (state);
  g_ptr_array_unref (argv);
  g_free (path);
  g_free (to);
  g_free (frames_uri);
  return g_spawn_check_wait_status (status, NULL) ? 0 :
      (WIFEXITED (status) ? WEXITSTATUS (status) : -1);
}

static guint
count_keys (const gchar * pattern)
{
  GError *err = NULL;
  gchar *out = vss_test_redis_cli (redis, 0, &err, "KEYS", pattern, NULL);
  gchar **lines;
  guint n = 0;

  g_assert_no_error (err);
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    if (*g_strstrip (lines[i]))
      n++;
  g_strfreev (lines);
  g_free (out);
  return n;
}

static void
test_file_ingest_and_search (void)
{
  const gchar *a1[] = { clip, NULL };
  const gchar *a2[] = { photo, "3", NULL };
  gchar *out = NULL;

  g_assert_cmpint (run_example ("file-ingest.sh", a1, NULL, 120, NULL), ==, 0);
  g_assert_cmpuint (count_keys ("frame:file:*"), >=, 2);
  g_assert_cmpint (run_example ("search-by-image.sh", a2, NULL, 60, &out), ==,
      0);
  g_assert_nonnull (strstr (out, "DISTANCE"));
  g_assert_nonnull (strstr (out, "file://"));
  g_free (out);
}

static void
test_live_alerts (void)
{
  const gchar *args[] = { clip, photo, "0.3", NULL };
  gchar *out = NULL;

  run_example ("live-alerts.sh", args, NULL, 120, &out);
  g_assert_nonnull (strstr (out, "ALERT: "));
  g_assert_nonnull (strstr (out, "query-id=(string)q1"));
  g_free (out);
}

/* Paths with spaces (and a quote) for the video and the query image: the
 * query's JSON reaches vssquery whole, and the label is the file name. */
static void
test_live_alerts_spaces (void)
{
  gchar *folder = g_build_filename (dir, "ref photos", NULL);
  gchar *image = g_build_filename (folder, "front door \"2\".jpg", NULL);
  gchar *video = g_build_filename (folder, "door camera.mkv", NULL);
  const gchar *args[] = { video, image, "0.3", NULL };
  gchar *bytes = NULL, *out = NULL;
  gsize len = 0;

  g_assert_cmpint (g_mkdir_with_parents (folder, 0700), ==, 0);
  g_assert_true (g_file_get_contents (photo, &bytes, &len, NULL));
  g_assert_true (g_file_set_contents (image, bytes, len, NULL));
  g_assert_cmpint (symlink (clip, video), ==, 0);
  run_example ("live-alerts.sh", args, NULL, 120, &out);
  g_assert_nonnull (strstr (out, "ALERT: "));
  g_assert_nonnull (strstr (out, "query-id=(string)q1"));
  /* GstStructure's form of the label: front door "2".jpg */
  g_assert_nonnull (strstr (out, "label=(string)\"front\\ door\\ "
          "\\\"2\\\".jpg\""));
  g_free (out);
  g_free (bytes);
  g_free (video);
  g_free (image);
  g_free (folder);
}

static void
test_rtsp_ingest (void)
{
  VssE2eRtsp *srv = vss_e2e_rtsp_start (clip, 0, TRUE);
  const gchar *args[] = { srv->url, NULL };
  const gchar *env[] = { "STREAM", "rtspcam", NULL };

  /* Runs until Ctrl-C: 10 s of it. */
  run_example ("rtsp-ingest.sh", args, env, 10, NULL);
  vss_e2e_rtsp_stop (srv);
  g_assert_cmpuint (count_keys ("frame:rtspcam:*"), >=, 1);
}

static void
test_two_stage (void)
{
  const gchar *argv[] = { bedrock_server, "--access-key", "AKIDEXAMPLE0001",
    "--secret-key", "examplesecret/0123456789", "--region", "us-east-1", NULL
  };
  GError *err = NULL;
  GSubprocess *srv = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDIN_PIPE |
      G_SUBPROCESS_FLAGS_STDOUT_PIPE, &err);
  GDataInputStream *in;
  gchar *line, *endpoint;
  const gchar *args[] = { clip, NULL };

  g_assert_no_error (err);
  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (srv));
  line = g_data_input_stream_read_line (in, NULL, NULL, &err);
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, "PORT "));
  endpoint = g_strdup_printf ("http://127.0.0.1:%s", line + 5);
  {
    const gchar *env[] = { "AWS_REGION", "us-east-1",
      "AWS_ACCESS_KEY_ID", "AKIDEXAMPLE0001",
      "AWS_SECRET_ACCESS_KEY", "examplesecret/0123456789",
      "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", endpoint,
      "AWS_EC2_METADATA_DISABLED", "true", "AWS_PROFILE", "",
      "STREAM", "twostage", NULL
    };
    g_assert_cmpint (run_example ("two-stage-dedup.sh", args, env, 120,
            NULL), ==, 0);
  }
  g_subprocess_send_signal (srv, SIGTERM);
  g_subprocess_wait (srv, NULL, NULL);
  g_object_unref (srv);
  g_object_unref (in);
  g_free (line);
  g_free (endpoint);

  /* Titan vectors under their own prefix, 1024 floats each; as many as
   * the local stage kept, not one per sampled frame. */
  {
    GError *e = NULL;
    gchar *keys = vss_test_redis_cli (redis, 0, &e, "KEYS", "titan:*", NULL);
    gchar **k = g_strsplit (g_strstrip (keys), "\n", -1);
    gchar *len;

    g_assert_no_error (e);
    g_assert_nonnull (k[0]);
    g_assert_cmpuint (g_strv_length (k), >=, 2);
    g_assert_cmpuint (g_strv_length (k), <, 20);
    len = vss_test_redis_cli (redis, 0, &e, "HSTRLEN", g_strstrip (k[0]),
        "vector", NULL);
    g_assert_cmpint (atoi (len), ==, 1024 * 4);
    g_free (len);
    g_strfreev (k);
    g_free (keys);
  }
}

static void
test_webcam_without_camera (void)
{
  const gchar *args[] = { "/dev/video-none", NULL };

  g_assert_cmpint (run_example ("webcam.sh", args, NULL, 30, NULL), ==, 4);
}

int
main (int argc, char **argv)
{
  const gchar *clip_args[] = { "--duration", "20", "--fps", "10", "--width",
    "320", "--height", "180", "--seed", "9", NULL
  };
  VssTestRedisOptions ro = { 0 };
  GError *err = NULL;
  gchar *truth_path;
  json_t *truth;
  gint ret;

  g_test_init (&argc, &argv, NULL);
  if (argc < 3)
    g_error ("usage: test-examples vss-search.so vss-bedrock-server");
  module_path = argv[1];
  bedrock_server = argv[2];

  dir = g_dir_make_tmp ("vss-examples-XXXXXX", NULL);
  clip = vss_e2e_make_clip (dir, "clip.mkv", clip_args);
  truth_path = g_strconcat (clip, ".json", NULL);
  truth = json_load_file (truth_path, 0, NULL);
  g_assert_nonnull (truth);
  photo = g_strdup (json_string_value (json_object_get (json_array_get
              (json_object_get (truth, "scenes"), 0), "path")));
  json_decref (truth);
  g_free (truth_path);

  if (!vss_test_redis_require_programs (&err))
    g_error ("%s", err->message);
  ro.module = module_path;
  redis = vss_test_redis_start (&ro, &err);
  g_assert_no_error (err);
  valkey = vss_test_redis_get_url (redis, NULL);

  g_test_add_func ("/examples/file-ingest-and-search",
      test_file_ingest_and_search);
  g_test_add_func ("/examples/live-alerts", test_live_alerts);
  g_test_add_func ("/examples/live-alerts-spaces", test_live_alerts_spaces);
  g_test_add_func ("/examples/rtsp-ingest", test_rtsp_ingest);
  g_test_add_func ("/examples/two-stage-dedup", test_two_stage);
  g_test_add_func ("/examples/webcam-without-camera",
      test_webcam_without_camera);
  ret = g_test_run ();

  vss_test_redis_free (redis);
  {
    gchar *rm[] = { (gchar *) "rm", (gchar *) "-rf", dir, NULL };
    g_spawn_sync (NULL, rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
        NULL, NULL);
  }
  g_free (valkey);
  g_free (photo);
  g_free (clip);
  g_free (dir);
  return ret;
}
