/* gst-vss tests: the vss-ingest command on files, bad input and servers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Runs the real program (tools/vss-ingest) as a user would, without a
 * terminal, and checks its exit codes, JSON summary and messages.
 */
#include <math.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "vss-e2e.h"
#include "vss-test-redis.h"

static gchar *tmpdir;
static gchar *clip;             /* 20 s, 10 fps, 320x180 */

static void
test_file_dry_run (void)
{
  json_t *j = NULL;
  const gchar *args[] = { clip, "--dry-run", "--threshold", "0", "--json",
    NULL
  };
  const gchar *args2[] = { clip, "--dry-run", "--threshold", "0", "--json",
    "--interval", "2.5", "--stream-id", "cam-7", NULL
  };
  gint status = vss_e2e_ingest_run (args, &j, NULL, NULL);
  json_t *media;

  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (j);
  g_assert_cmpint (json_integer_value (json_object_get (j, "exit_code")), ==,
      0);
  g_assert_cmpstr (vss_e2e_input_str (j, 0, "status"), ==, "ok");
  g_assert_false (json_is_true (json_object_get (json_array_get
              (json_object_get (j, "inputs"), 0), "live")));
  /* Every frame decoded, one sampled per second of video. */
  g_assert_cmpint (vss_e2e_input_int (j, 0, "frames_decoded"), ==, 200);
  g_assert_cmpint (vss_e2e_input_int (j, 0, "frames_sampled"), >=, 19);
  g_assert_cmpint (vss_e2e_input_int (j, 0, "frames_sampled"), <=, 21);
  g_assert_cmpint (vss_e2e_input_int (j, 0, "frames_kept"), ==,
      vss_e2e_input_int (j, 0, "frames_sampled"));
  media = json_object_get (json_array_get (json_object_get (j, "inputs"), 0),
      "media_seconds");
  g_assert_cmpfloat (json_real_value (media), >, 19.0);
  g_assert_cmpstr (vss_e2e_input_str (j, 0, "stream_id"), ==, "clip");
  json_decref (j);

  status = vss_e2e_ingest_run (args2, &j, NULL, NULL);
  g_assert_cmpint (status, ==, 0);
  g_assert_cmpint (vss_e2e_input_int (j, 0, "frames_sampled"), >=, 7);
  g_assert_cmpint (vss_e2e_input_int (j, 0, "frames_sampled"), <=, 9);
  g_assert_cmpstr (vss_e2e_input_str (j, 0, "stream_id"), ==, "cam-7");
  json_decref (j);
}

#ifdef VSS_HAVE_DEDUP
static void
test_file_dedup (void)
{
  json_t *j = NULL;
  const gchar *args[] = { clip, "--dry-run", "--json", NULL };
  gint status = vss_e2e_ingest_run (args, &j, NULL, NULL);
  json_int_t sampled, dropped, kept;

  g_assert_cmpint (status, ==, 0);
  sampled = vss_e2e_input_int (j, 0, "frames_sampled");
  dropped = vss_e2e_input_int (j, 0, "duplicates_dropped");
  kept = vss_e2e_input_int (j, 0, "frames_kept");
  /* Scenes last 3-20 s: most samples repeat the one before. */
  g_assert_cmpint (dropped, >, sampled / 2);
  g_assert_cmpint (kept, >=, 1);
  g_assert_cmpint (kept + dropped, ==, sampled);
  json_decref (j);
}
#endif

static void
test_two_inputs (void)
{
  json_t *j = NULL;
  const gchar *args[] = { clip, clip, "--dry-run", "--threshold", "0",
    "--json", "--stream-id", "a", "--stream-id", "b", NULL
  };
  gint status = vss_e2e_ingest_run (args, &j, NULL, NULL);
  json_t *tot;

  g_assert_cmpint (status, ==, 0);
  g_assert_cmpint (json_array_size (json_object_get (j, "inputs")), ==, 2);
  g_assert_cmpstr (vss_e2e_input_str (j, 1, "stream_id"), ==, "b");
  tot = json_object_get (j, "totals");
  g_assert_cmpint (json_integer_value (json_object_get (tot,
              "frames_sampled")), ==,
      vss_e2e_input_int (j, 0, "frames_sampled") + vss_e2e_input_int (j, 1,
          "frames_sampled"));
  json_decref (j);
}

static void
expect_usage_error (const gchar * const *args, const gchar * words)
{
  gchar *err = NULL;
  gint status = vss_e2e_ingest_run (args, NULL, NULL, &err);

  g_assert_cmpint (status, ==, 2);
  if (strstr (err, words) == NULL)
    g_error ("expected \"%s\" in: %s", words, err);
  g_free (err);
}

static void
test_usage_errors (void)
{
  const gchar *a1[] = { NULL };
  const gchar *a2[] = { clip, "--interval", "0", NULL };
  const gchar *a3[] = { clip, "--provider", "openai", NULL };
  const gchar *a4[] = { clip, "--no-such-option", NULL };
  const gchar *a5[] = { clip, clip, "--dry-run", NULL };
  const gchar *a6[] = { clip, "--stream-id", "a:b", "--dry-run", NULL };
  const gchar *a7[] = { clip, "--frames", "http://x/y", NULL };
  const gchar *a8[] = { clip, "--valkey", "redis://h:1?bogus=1", NULL };
  const gchar *a9[] = { clip, clip, "--stream-id", "a", NULL };

  expect_usage_error (a1, "no INPUT");
  expect_usage_error (a2, "--interval");
  expect_usage_error (a3, "--provider");
  expect_usage_error (a4, "no-such-option");
  expect_usage_error (a5, "both have stream id");
  expect_usage_error (a6, "--stream-id");
  expect_usage_error (a7, "--frames");
  expect_usage_error (a8, "bogus");
  expect_usage_error (a9, "once per input");
}

/* Issue 18, point 16: values that make no sense are refused (exit 2) by
 * name, before anything runs. */
static void
test_bad_values (void)
{
  const gchar *cases[][3] = {
    {"--duration", "nan", NULL}, {"--duration", "inf", NULL},
    {"--duration", "-1", NULL}, {"--interval", "0", NULL},
    {"--interval", "nan", NULL}, {"--threshold", "nan", NULL},
    {"--threshold", "-0.1", NULL}, {"--window-duration", "inf", NULL},
    {"--window-duration", "nan", NULL}, {"--reconnect-delay", "nan", NULL},
    {"--reconnect-delay", "0", NULL}, {"--reconnect-max-delay", "inf", NULL},
    {"--reconnect-timeout", "-1", NULL}, {"--reconnect-timeout", "nan", NULL},
    {"--stall-timeout", "nan", NULL}, {"--stop-timeout", "inf", NULL},
    {"--index", "", NULL}, {"--key-prefix", "", NULL},
    {"--stream-id", "", NULL}, {"--frames", "", NULL},
    {"--spool-dir", "", NULL}, {"--model", "", NULL},
    {"--region", "", NULL}, {"--valkey", "", NULL},
    {"--provider", "", NULL},
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    /* --dry-run: a value let through runs the clip, it stores nothing. */
    const gchar *args[] = { clip, "--dry-run", cases[i][0], cases[i][1],
      NULL
    };
    gchar *err = NULL;
    gint status = vss_e2e_ingest_run (args, NULL, NULL, &err);

    if (status != 2 || strstr (err, cases[i][0]) == NULL)
      g_error ("%s '%s': exit %d, expected 2 and a message naming the "
          "option: %s", cases[i][0], cases[i][1], status, err);
    g_free (err);
  }
}

/* How many digits follow the decimal point of the JSON number after
 * "@field": in @text (-1 when the field is missing). */
static gint
decimals_of (const gchar * text, const gchar * field)
{
  gchar *key = g_strdup_printf ("\"%s\": ", field);
  const gchar *p = strstr (text, key);
  gint n = 0;

  g_free (key);
  if (p == NULL)
    return -1;
  p += strlen (field) + 4;
  while (*p && *p != '.' && *p != ',' && *p != '\n' && *p != '}')
    p++;
  if (*p == '.')
    for (p++; g_ascii_isdigit (*p); p++)
      n++;
  return n;
}

/* Issue 18, point 16: measurements in the JSON summary have no float noise
 * (19.9, not 19.899999999999999). */
static void
test_json_numbers (void)
{
  const gchar *args[] = { clip, "--dry-run", "--json", NULL };
  gchar *out = NULL;
  gint status = vss_e2e_ingest_run (args, NULL, &out, NULL);

  g_assert_cmpint (status, ==, 0);
  if (decimals_of (out, "wall_seconds") > 3
      || decimals_of (out, "media_seconds") > 3
      || decimals_of (out, "media_seconds") < 0)
    g_error ("float noise: %s", out);
  g_free (out);
}

/* Issue 18, point 16: the last progress line drawn before the summary shows
 * the final state (100 %, the final counts). */
static void
test_progress_final (void)
{
  const gchar *args[] = { clip, "--dry-run", "--threshold", "0", "--json",
    "--progress", NULL
  };
  json_t *j = NULL;
  gchar *err = NULL, *last, *want, *nl;
  const gchar *p;
  gint status = vss_e2e_ingest_run (args, &j, NULL, &err);

  g_assert_cmpint (status, ==, 0);
  /* Each redraw starts with "\r\033[K". */
  p = g_strrstr (err, "\r\033[K");
  g_assert_nonnull (p);
  last = g_strdup (p + 4);
  if ((nl = strchr (last, '\n')) != NULL)
    *nl = '\0';
  want = g_strdup_printf ("sampled %" G_GINT64_FORMAT,
      (gint64) vss_e2e_input_int (j, 0, "frames_sampled"));
  if (strstr (last, "100%") == NULL || strstr (last, want) == NULL
      || strstr (last, "ETA 0:00") == NULL)
    g_error ("last progress line '%s' is not the final state (%s, 100%%)",
        last, want);
  g_free (want);
  g_free (last);
  g_free (err);
  json_decref (j);
}

/* Reads an EBML variable-size integer at @p (length in *len); with @mask,
 * without its length marker (sizes), else as is (element ids). */
static guint64
ebml_vint (const guint8 * p, guint * len, gboolean mask)
{
  guint n = 1;
  guint64 v;

  while (n <= 8 && !(p[0] & (0x80 >> (n - 1))))
    n++;
  g_assert_cmpuint (n, <=, 8);
  v = mask ? (p[0] & (0xff >> n)) : p[0];
  for (guint i = 1; i < n; i++)
    v = (v << 8) | p[i];
  *len = n;
  return v;
}

/* The offsets of the Matroska clusters of @data. */
static GArray *
find_clusters (const guint8 * data, gsize size)
{
  static const guint8 id[] = { 0x1f, 0x43, 0xb6, 0x75 };
  GArray *a = g_array_new (FALSE, FALSE, sizeof (gsize));

  for (gsize i = 0; i + 4 <= size; i++)
    if (memcmp (data + i, id, 4) == 0)
      g_array_append_val (a, i);
  return a;
}

static gchar *
write_variant (const gchar * name, const guint8 * data, gsize size)
{
  gchar *path = g_build_filename (tmpdir, name, NULL);

  g_assert_true (g_file_set_contents (path, (const gchar *) data, size, NULL));
  return path;
}

static gdouble
input_real (json_t * j, const gchar * field)
{
  json_t *v = json_object_get (json_array_get (json_object_get (j, "inputs"),
          0), field);

  if (!json_is_number (v))
    g_error ("no number %s in the summary", field);
  return json_number_value (v);
}

/* Issue 18, point 8: a file that was not decoded to its end, or with
 * frames missing, is not "ok": the summary says how far decoding got
 * against the duration, and the exit status is 6. The clip is 20 s, 10
 * frames a second, H.264 in Matroska, 10 clusters of 2 s. */
static void
test_damaged_inputs (void)
{
  gchar *data = NULL, *path, *out = NULL;
  gsize size = 0;
  GArray *clusters;
  gsize mid;
  json_t *j = NULL;
  gint status;

  g_assert_true (g_file_get_contents (clip, &data, &size, NULL));
  clusters = find_clusters ((const guint8 *) data, size);
  g_assert_cmpuint (clusters->len, >=, 6);
  mid = g_array_index (clusters, gsize, clusters->len / 2);

  /* The complete clip: ok, to its end, nothing missing. */
  {
    const gchar *args[] = { clip, "--dry-run", "--threshold", "0", "--json",
      NULL
    };
    status = vss_e2e_ingest_run (args, &j, NULL, NULL);
    g_assert_cmpint (status, ==, 0);
    g_assert_cmpstr (vss_e2e_input_str (j, 0, "status"), ==, "ok");
    g_assert_cmpfloat (fabs (input_real (j, "duration_seconds") - 20), <, 0.01);
    g_assert_cmpfloat (fabs (input_real (j, "media_seconds") - 20), <, 0.01);
    g_assert_cmpint (vss_e2e_input_int (j, 0, "gaps"), ==, 0);
    g_assert_cmpint (vss_e2e_input_int (j, 0, "decode_warnings"), ==, 0);
    json_decref (j);
  }

  /* Cut in the middle (as a copy that stopped, a download that broke). */
  path = write_variant ("truncated.mkv", (const guint8 *) data, size * 45 /
      100);
  {
    const gchar *args[] = { path, "--dry-run", "--threshold", "0", "--json",
      NULL
    };
    const gchar *text[] = { path, "--dry-run", "--threshold", "0", NULL };

    status = vss_e2e_ingest_run (args, &j, NULL, NULL);
    g_assert_cmpint (status, ==, 6);
    g_assert_cmpint (json_integer_value (json_object_get (j, "exit_code")),
        ==, 6);
    g_assert_cmpstr (vss_e2e_input_str (j, 0, "status"), ==, "incomplete");
    g_assert_cmpfloat (input_real (j, "media_seconds"), <, 10);
    g_assert_cmpfloat (input_real (j, "media_seconds"), >, 5);
    g_assert_cmpfloat (fabs (input_real (j, "duration_seconds") - 20), <, 0.01);
    g_assert_nonnull (strstr (vss_e2e_input_str (j, 0, "error"), "of 20.0 s"));
    json_decref (j);
    status = vss_e2e_ingest_run (text, NULL, &out, NULL);
    g_assert_cmpint (status, ==, 6);
    if (strstr (out, "incomplete") == NULL || strstr (out, "of 20.0 s") == NULL)
      g_error ("summary: %s", out);
    g_free (out);
  }
  g_unlink (path);
  g_free (path);

  /* Random bytes over the middle cluster's header: the demuxer cannot go
   * on from there (it ends, or says it cannot parse what follows: x264's
   * output, so where clusters fall, differs a little from run to run). */
  {
    GRand *r = g_rand_new_with_seed (18);
    gchar *copy = g_memdup2 (data, size);
    const gchar *args[4] = { NULL, "--dry-run", "--json", NULL };

    for (gsize i = mid + 4; i < mid + 68; i++)
      copy[i] = (gchar) g_rand_int_range (r, 0, 256);
    path = write_variant ("corrupt.mkv", (const guint8 *) copy, size);
    args[0] = path;
    status = vss_e2e_ingest_run (args, &j, NULL, NULL);
    g_assert_cmpint (status, ==, 6);
    /* Where the demuxer finds its footing again depends on those bytes
     * and on the encoder's run: it stops (incomplete), or skips to a later
     * cluster and goes on with a hole (decode-errors). Either way the
     * damage is told, never "ok". */
    if (g_strcmp0 (vss_e2e_input_str (j, 0, "status"), "incomplete") == 0)
      g_assert_cmpfloat (input_real (j, "media_seconds"), <, 15);
    else {
      g_assert_cmpstr (vss_e2e_input_str (j, 0, "status"), ==, "decode-errors");
      g_assert_cmpint (vss_e2e_input_int (j, 0, "gaps"), >=, 1);
      g_assert_cmpfloat (input_real (j, "missing_seconds"), >=, 0.1);
    }
    json_decref (j);
    g_unlink (path);
    g_free (path);
    g_free (copy);
    g_rand_free (r);
  }

  /* One corrupted byte: the first block of the middle cluster names a
   * track that does not exist, so the demuxer drops that frame. Decoding
   * reaches the end with a frame missing. */
  {
    gchar *copy = g_memdup2 (data, size);
    const guint8 *p = (const guint8 *) copy + mid + 4;
    const gchar *args[] = { NULL, "--dry-run", "--threshold", "0", "--json",
      NULL
    };
    guint len;
    guint64 id, esize;

    ebml_vint (p, &len, TRUE);  /* the cluster's size */
    p += len;
    /* Timecode, PrevSize, ... then the first SimpleBlock. */
    for (guint n = 0;; n++) {
      g_assert_cmpuint (n, <, 8);
      id = ebml_vint (p, &len, FALSE);
      p += len;
      esize = ebml_vint (p, &len, TRUE);
      p += len;
      if (id == 0xa3)           /* SimpleBlock: track number first */
        break;
      g_assert_cmphex (id, !=, 0xa0);   /* no BlockGroup in our clips */
      p += esize;
    }
    g_assert_cmphex (p[0], ==, 0x81);   /* track 1 */
    copy[p - (const guint8 *) copy] = (gchar) 0x8f;     /* track 15 */
    path = write_variant ("missing-frame.mkv", (const guint8 *) copy, size);
    args[0] = path;
    status = vss_e2e_ingest_run (args, &j, NULL, NULL);
    g_assert_cmpint (status, ==, 6);
    g_assert_cmpstr (vss_e2e_input_str (j, 0, "status"), ==, "decode-errors");
    g_assert_cmpint (vss_e2e_input_int (j, 0, "gaps"), >=, 1);
    g_assert_cmpfloat (input_real (j, "missing_seconds"), >=, 0.1);
    g_assert_cmpfloat (fabs (input_real (j, "media_seconds") - 20), <, 0.01);
    json_decref (j);
    g_unlink (path);
    g_free (path);
    g_free (copy);
  }

  g_array_unref (clusters);
  g_free (data);
}

static void
test_bad_inputs (void)
{
  gchar *junk = g_build_filename (tmpdir, "notes.txt", NULL);
  const gchar *a1[] = { "/nonexistent/clip.mkv", "--dry-run", NULL };
  const gchar *a2[] = { junk, "--dry-run", "--json", "--threshold", "0",
    NULL
  };
  gchar *err = NULL;
  json_t *j = NULL;
  gint status;

  status = vss_e2e_ingest_run (a1, NULL, NULL, &err);
  g_assert_cmpint (status, ==, 4);
  g_assert_nonnull (strstr (err, "no such file"));
  g_free (err);

  /* Not a video: exit 4 with GStreamer's reason, no crash, no hang. */
  g_assert_true (g_file_set_contents (junk, "hello, not a video\n", -1, NULL));
  status = vss_e2e_ingest_run (a2, &j, NULL, &err);
  g_assert_cmpint (status, ==, 4);
  g_assert_cmpstr (vss_e2e_input_str (j, 0, "status"), ==, "input-error");
  g_assert_nonnull (vss_e2e_input_str (j, 0, "error"));
  g_assert_nonnull (strstr (err, "cannot read the input"));
  json_decref (j);
  g_free (err);
  g_unlink (junk);
  g_free (junk);
}

static void
test_no_valkey (void)
{
  gchar *url = g_strdup_printf ("redis://127.0.0.1:%u", vss_e2e_free_port ());
  const gchar *args[] = { clip, "--valkey", url, NULL };
  gchar *err = NULL;
  gint status = vss_e2e_ingest_run (args, NULL, NULL, &err);

  g_assert_cmpint (status, ==, 3);
  g_assert_nonnull (strstr (err, "nothing is answering"));
  g_assert_nonnull (strstr (err, url));
  g_assert_nonnull (strstr (err, "README"));
  g_free (err);
  g_free (url);
}

static void
test_valkey_without_search (void)
{
  GError *error = NULL;
  VssTestRedis *r;
  gchar *url, *err = NULL;
  gint status;

  if (!vss_test_redis_require_programs (&error))
    g_error ("%s", error->message);
  r = vss_test_redis_start (NULL, &error);
  g_assert_no_error (error);
  url = vss_test_redis_get_url (r, NULL);
  {
    const gchar *args[] = { clip, "--valkey", url, NULL };
    status = vss_e2e_ingest_run (args, NULL, NULL, &err);
  }
  g_assert_cmpint (status, ==, 3);
  g_assert_nonnull (strstr (err, "no vector search"));
  g_free (err);
  g_free (url);
  vss_test_redis_free (r);
}

static void
test_print_pipeline (void)
{
  const gchar *args[] = { clip, "--print-pipeline", "--valkey",
    "redis://user:hunter2@127.0.0.1:6379", "--provider", "bedrock", NULL
  };
  gchar *out = NULL;
  gint status = vss_e2e_ingest_run (args, NULL, &out, NULL);

  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (out, "uridecodebin"));
  g_assert_nonnull (strstr (out, "vssembed name=embed provider=local"));
  g_assert_nonnull (strstr (out, "provider=bedrock"));
  g_assert_nonnull (strstr (out, "vsssink"));
  g_assert_null (strstr (out, "hunter2"));
  g_free (out);
}

/* Runs @argv with changes to the environment (name, value pairs; a NULL
 * value unsets), killing it after @timeout_s: a tool that hangs is a
 * failure, not a stuck suite. Returns the exit status. */
static void
on_communicated (GObject * src, GAsyncResult * res, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (res);
}

static gboolean
on_timeout (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

static gint
run_env (const gchar * const *argv, const gchar * const *env, guint timeout_s,
    gchar ** out, gchar ** err)
{
  GSubprocessLauncher *l = g_subprocess_launcher_new
      (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  GMainContext *ctx = g_main_context_new ();
  GAsyncResult *res = NULL;
  gboolean timed_out = FALSE;
  GSubprocess *p;
  GSource *timer;
  GError *e = NULL;
  gint status;

  for (guint i = 0; env && env[i]; i += 2) {
    if (env[i + 1])
      g_subprocess_launcher_setenv (l, env[i], env[i + 1], TRUE);
    else
      g_subprocess_launcher_unsetenv (l, env[i]);
  }
  p = g_subprocess_launcher_spawnv (l, argv, &e);
  g_assert_no_error (e);
  g_main_context_push_thread_default (ctx);
  g_subprocess_communicate_utf8_async (p, NULL, NULL, on_communicated, &res);
  timer = g_timeout_source_new_seconds (timeout_s);
  g_source_set_callback (timer, on_timeout, &timed_out, NULL);
  g_source_attach (timer, ctx);
  while (res == NULL && !timed_out)
    g_main_context_iteration (ctx, TRUE);
  if (res == NULL) {
    g_subprocess_force_exit (p);
    g_error ("%s did not finish within %u s", argv[0], timeout_s);
  }
  g_source_destroy (timer);
  g_source_unref (timer);
  g_assert_true (g_subprocess_communicate_utf8_finish (p, res, out, err, &e));
  g_object_unref (res);
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
  g_assert_true (g_subprocess_get_if_exited (p));
  status = g_subprocess_get_exit_status (p);
  g_object_unref (p);
  g_object_unref (l);
  return status;
}

/* Issue 18, point 6: UTF-8 in arguments and paths works whatever the
 * locale says: LANG and LC_* unset (the C locale), LC_ALL=C, C.UTF-8. */
static void
test_utf8_arguments (void)
{
  const gchar *const locales[][7] = {
    {"LC_ALL", NULL, "LC_CTYPE", NULL, "LANG", NULL, NULL},
    {"LC_ALL", "C", NULL},
    {"LC_ALL", "C.UTF-8", NULL},
  };
  gchar *videos = g_build_filename (tmpdir, "vidéos", NULL);
  gchar *frames = g_build_filename (tmpdir, "fé", NULL);
  gchar *clip_u = g_build_filename (videos, "café.mkv", NULL);
  gchar *truth_u = g_strconcat (clip_u, ".json", NULL);
  gchar *tool = vss_e2e_build_path ("tests/fixtures/vss-make-clip");
  gchar *out = NULL, *err = NULL, *want;
  json_t *j = NULL;
  gint status;

  g_assert_cmpint (g_mkdir_with_parents (videos, 0700), ==, 0);
  {
    /* The clip maker writes to a UTF-8 path in the C locale. */
    const gchar *argv[] = { tool, "--output", clip_u, "--truth", truth_u,
      "--duration", "3", "--fps", "10", "--width", "160", "--height", "90",
      NULL
    };
    status = run_env (argv, locales[0], 120, &out, &err);
    g_assert_cmpint (status, ==, 0);
    g_assert_true (g_file_test (clip_u, G_FILE_TEST_IS_REGULAR));
    g_assert_true (g_file_test (truth_u, G_FILE_TEST_IS_REGULAR));
    g_free (out);
    g_free (err);
  }

  for (guint i = 0; i < G_N_ELEMENTS (locales); i++) {
    const gchar *print[] = { clip_u, "--print-pipeline", "--frames", frames,
      NULL
    };
    const gchar *dry[] = { clip_u, "--dry-run", "--threshold", "0", "--json",
      NULL
    };
    const gchar *sid[] = { clip_u, "--dry-run", "--stream-id", "caméra",
      NULL
    };

    status = vss_e2e_ingest_run_env (print, locales[i], NULL, &out, &err);
    g_assert_cmpint (status, ==, 0);
    want = g_strdup_printf ("frames=\"file://%s\"", frames);
    if (strstr (out, want) == NULL)
      g_error ("locale %u: no %s in: %s", i, want, out);
    g_assert_nonnull (strstr (out, "vid%C3%A9os/caf%C3%A9.mkv"));
    g_free (want);
    g_free (out);
    g_free (err);

    status = vss_e2e_ingest_run_env (dry, locales[i], &j, NULL, NULL);
    g_assert_cmpint (status, ==, 0);
    g_assert_cmpstr (vss_e2e_input_str (j, 0, "input"), ==, clip_u);
    g_assert_cmpstr (vss_e2e_input_str (j, 0, "status"), ==, "ok");
    g_assert_cmpint (vss_e2e_input_int (j, 0, "frames_decoded"), ==, 30);
    json_decref (j);

    /* A stream id has a charset of its own (keys, paths, TAG values):
     * refused for what it is, with a suggestion, not for its bytes. */
    status = vss_e2e_ingest_run_env (sid, locales[i], NULL, NULL, &err);
    g_assert_cmpint (status, ==, 2);
    g_assert_null (strstr (err, "Invalid byte sequence"));
    if (!strstr (err, "--stream-id") || !strstr (err, "caméra")
        || !strstr (err, "'camera'"))
      g_error ("locale %u: %s", i, err);
    g_free (err);
  }

  g_unlink (clip_u);
  g_unlink (truth_u);
  g_rmdir (videos);
  g_free (tool);
  g_free (clip_u);
  g_free (truth_u);
  g_free (videos);
  g_free (frames);
}

/* Issue 18, point 2: files whose names differ never share a stream id;
 * two inputs of one run that would are refused. */
static void
test_stream_ids_differ (void)
{
  const gchar *names[] = { "a b.mkv", "a*b?.mkv", "été.mkv", "ete.mkv",
    "東京.mkv", "大阪.mkv", NULL
  };
  gchar *links[G_N_ELEMENTS (names)] = { NULL };
  gchar *dir = g_build_filename (tmpdir, "names", NULL);
  const gchar *args[G_N_ELEMENTS (names) + 8] = { NULL };
  GHashTable *ids = g_hash_table_new (g_str_hash, g_str_equal);
  json_t *j = NULL;
  gchar *err = NULL;
  guint n = 0, i;
  gint status;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  for (i = 0; names[i]; i++) {
    links[i] = g_build_filename (dir, names[i], NULL);
    g_assert_cmpint (symlink (clip, links[i]), ==, 0);
    args[n++] = links[i];
  }
  args[n++] = "--dry-run";
  args[n++] = "--threshold";
  args[n++] = "0";
  args[n++] = "--interval";
  args[n++] = "5";
  args[n++] = "--json";
  status = vss_e2e_ingest_run (args, &j, NULL, &err);
  if (status != 0)
    g_error ("exit %d: %s", status, err);
  for (i = 0; names[i]; i++) {
    const gchar *id = vss_e2e_input_str (j, i, "stream_id");

    g_assert_nonnull (id);
    if (g_hash_table_contains (ids, id))
      g_error ("%s shares stream id %s with another input", names[i], id);
    g_hash_table_add (ids, (gpointer) id);
  }
  /* Readable where it can be. */
  g_assert_true (g_str_has_prefix (vss_e2e_input_str (j, 0, "stream_id"),
          "a-b-"));
  g_assert_true (g_str_has_prefix (vss_e2e_input_str (j, 2, "stream_id"),
          "ete-"));
  g_assert_cmpstr (vss_e2e_input_str (j, 3, "stream_id"), ==, "ete");
  g_hash_table_unref (ids);
  json_decref (j);
  g_free (err);

  /* The extension is not part of the name: clip.mkv and clip.mp4 of one
   * run would merge, so they are refused. */
  {
    gchar *mp4 = g_build_filename (dir, "clip.mp4", NULL);
    const gchar *a2[] = { clip, mp4, "--dry-run", NULL };

    g_assert_cmpint (symlink (clip, mp4), ==, 0);
    status = vss_e2e_ingest_run (a2, NULL, NULL, &err);
    g_assert_cmpint (status, ==, 2);
    g_assert_nonnull (strstr (err, "both have stream id 'clip'"));
    g_free (err);
    g_unlink (mp4);
    g_free (mp4);
  }

  for (i = 0; names[i]; i++) {
    g_unlink (links[i]);
    g_free (links[i]);
  }
  g_rmdir (dir);
  g_free (dir);
}

int
main (int argc, char **argv)
{
  const gchar *clip_args[] = { "--duration", "20", "--fps", "10", "--width",
    "320", "--height", "180", "--seed", "2", NULL
  };
  gint ret;

  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("vss-ingest-cli-XXXXXX", NULL);
  clip = vss_e2e_make_clip (tmpdir, "clip.mkv", clip_args);

  g_test_add_func ("/ingest-cli/file-dry-run", test_file_dry_run);
#ifdef VSS_HAVE_DEDUP
  g_test_add_func ("/ingest-cli/file-dedup", test_file_dedup);
#endif
  g_test_add_func ("/ingest-cli/two-inputs", test_two_inputs);
  g_test_add_func ("/ingest-cli/usage-errors", test_usage_errors);
  g_test_add_func ("/ingest-cli/bad-values", test_bad_values);
  g_test_add_func ("/ingest-cli/json-numbers", test_json_numbers);
  g_test_add_func ("/ingest-cli/progress-final", test_progress_final);
  g_test_add_func ("/ingest-cli/bad-inputs", test_bad_inputs);
  g_test_add_func ("/ingest-cli/damaged-inputs", test_damaged_inputs);
  g_test_add_func ("/ingest-cli/no-valkey", test_no_valkey);
  g_test_add_func ("/ingest-cli/valkey-without-search",
      test_valkey_without_search);
  g_test_add_func ("/ingest-cli/print-pipeline", test_print_pipeline);
  g_test_add_func ("/ingest-cli/utf-8-arguments", test_utf8_arguments);
  g_test_add_func ("/ingest-cli/stream-ids-differ", test_stream_ids_differ);
  ret = g_test_run ();

  {
    gchar *truth = g_strconcat (clip, ".json", NULL);
    g_unlink (clip);
    g_unlink (truth);
    g_free (truth);
  }
  g_rmdir (tmpdir);
  g_free (clip);
  g_free (tmpdir);
  return ret;
}
