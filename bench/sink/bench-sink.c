/* gst-vss bench: vsssink throughput against the raw rate of the same writes
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * 640x360 JPEG frames with 1024-d vectors into a local redis-server plus a
 * folder, then plus s3rver. Each target is measured twice in the same run:
 * through vsssink (frames pushed into its pad, timed from the first push to
 * EOS, i.e. until everything is stored) and by a minimal loop doing the same
 * writes with the same building blocks (object store puts kept
 * max-in-flight deep, HSETs pipelined by 64), without the element. Runs
 * alternate over a few rounds and the best of each side counts.
 *
 *   bench-sink [--quick] [--frames N] [--folder-only]
 *
 * For profiling, BENCH_SINK_ONLY=raw, sink or nj (sink without journal)
 * runs only that kind of folder run, s3raw or s3sink only that kind of
 * s3rver run (the ratios are then meaningless), e.g.
 * BENCH_SINK_ONLY=sink perf record -g bench-sink --folder-only.
 */
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <string.h>
#include <gio/gio.h>
#include <gst/gst.h>
#include "gstvss.h"
#include "vss-test-redis.h"
#include "vss-test-s3rver.h"

#define DIM 1024
#define MAX_IN_FLIGHT 32
#define BATCH 64

static GPtrArray *jpegs;
static gsize jpeg_bytes;

/* Process CPU time (every thread), microseconds: steadier than wall time
 * on a busy machine. */
static gint64
cpu_us (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return (gint64) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * G_USEC_PER_SEC
      + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

/* Best (lowest) CPU microseconds per frame of each kind of run. */
static gdouble cpu_best[5] = { G_MAXDOUBLE, G_MAXDOUBLE, G_MAXDOUBLE,
  G_MAXDOUBLE, G_MAXDOUBLE
};

enum
{ CPU_RAW_F, CPU_SINK_F, CPU_SINK_NJ_F, CPU_RAW_S, CPU_SINK_S };

/* Records the CPU time per frame since c0 and restarts c0. */
#define CPU(kind, n) G_STMT_START { gint64 c1 = cpu_us (); \
    cpu_best[kind] = MIN (cpu_best[kind], (c1 - c0) / (gdouble) (n)); \
    c0 = c1; } G_STMT_END

static void
make_jpegs (guint n)
{
  GError *err = NULL;
  /* A moving zone plate: about 40 kB a frame, like a busy camera view. */
  gchar *desc = g_strdup_printf ("videotestsrc pattern=zone-plate kx2=12 "
      "ky2=12 kt=1 num-buffers=%u ! "
      "video/x-raw,width=640,height=360 ! jpegenc quality=85 ! "
      "appsink name=out sync=false", n);
  GstElement *p = gst_parse_launch (desc, &err), *out;
  GstSample *s;

  if (p == NULL || err != NULL)
    g_error ("cannot make frames: %s", err->message);
  out = gst_bin_get_by_name (GST_BIN (p), "out");
  jpegs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  gst_element_set_state (p, GST_STATE_PLAYING);
  while (TRUE) {
    GstMapInfo map;
    GstBuffer *b;

    g_signal_emit_by_name (out, "pull-sample", &s);
    if (s == NULL)
      break;
    b = gst_sample_get_buffer (s);
    gst_buffer_map (b, &map, GST_MAP_READ);
    g_ptr_array_add (jpegs, g_bytes_new (map.data, map.size));
    jpeg_bytes += map.size;
    gst_buffer_unmap (b, &map);
    gst_sample_unref (s);
  }
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (out);
  gst_object_unref (p);
  g_free (desc);
  if (jpegs->len == 0)
    g_error ("no frames were made (videotestsrc, jpegenc)");
}

static gfloat *
vector_for (guint i)
{
  gfloat *v = g_new (gfloat, DIM);

  for (guint j = 0; j < DIM; j++)
    v[j] = sinf ((gfloat) (i * 31 + j) * 0.01f);
  return v;
}

/* Through vsssink */

static gdouble
run_sink (guint n, const gchar * url, const gchar * frames,
    const gchar * endpoint, const gchar * spool, gboolean journal)
{
  GstElement *sink = gst_element_factory_make ("vsssink", NULL);
  GstPad *src = gst_pad_new ("src", GST_PAD_SRC), *sinkpad;
  GstBus *bus = gst_bus_new ();
  GstCaps *caps = gst_caps_new_empty_simple ("image/jpeg");
  GstBuffer **bufs = g_new (GstBuffer *, n);
  GstSegment seg;
  GstMessage *m;
  gint64 t0, t1;

  if (sink == NULL)
    g_error ("vsssink not found: set GST_PLUGIN_PATH to the build folder");
  g_object_set (sink, "async", FALSE, "valkey", url, "frames", frames,
      "spool-dir", spool, "stream-id", "bench", "create-index", 1,
      "max-in-flight", MAX_IN_FLIGHT, "journal", journal, NULL);
  if (endpoint)
    g_object_set (sink, "endpoint", endpoint, "region", "us-east-1",
        "access-key-id", "S3RVER", "secret-access-key", "S3RVER", NULL);
  gst_element_set_bus (sink, bus);
  gst_pad_set_active (src, TRUE);
  sinkpad = gst_element_get_static_pad (sink, "sink");
  gst_pad_link (src, sinkpad);
  gst_object_unref (sinkpad);
  if (gst_element_set_state (sink, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE)
    g_error ("vsssink did not start");

  /* Buffers are made before the clock starts: only the sink is timed. */
  for (guint i = 0; i < n; i++) {
    GBytes *j = g_ptr_array_index (jpegs, i % jpegs->len);
    gchar id[GST_VSS_FRAME_ID_SIZE];
    gfloat *v = vector_for (i);

    bufs[i] = gst_buffer_new_wrapped_bytes (j);
    gst_vss_frame_id_new (g_get_real_time (), id);
    gst_vss_buffer_add_embedding_meta_take (bufs[i], "bench", v, DIM, FALSE,
        id);
  }
  gst_pad_push_event (src, gst_event_new_stream_start ("bench"));
  gst_pad_push_event (src, gst_event_new_caps (caps));
  gst_segment_init (&seg, GST_FORMAT_TIME);
  gst_pad_push_event (src, gst_event_new_segment (&seg));

  t0 = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    if (gst_pad_push (src, bufs[i]) != GST_FLOW_OK)
      g_error ("vsssink refused frame %u", i);
  gst_pad_push_event (src, gst_event_new_eos ());
  m = gst_bus_timed_pop_filtered (bus, 300 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  t1 = g_get_monotonic_time ();
  if (m == NULL || GST_MESSAGE_TYPE (m) != GST_MESSAGE_EOS)
    g_error ("vsssink did not finish");
  gst_message_unref (m);
  {
    GstStructure *st;
    guint64 written = 0;

    g_object_get (sink, "stats", &st, NULL);
    gst_structure_get_uint64 (st, "written", &written);
    if (written != n)
      g_error ("vsssink wrote %" G_GUINT64_FORMAT " of %u frames", written, n);
    gst_structure_free (st);
  }
  gst_element_set_state (sink, GST_STATE_NULL);
  gst_element_set_bus (sink, NULL);
  gst_object_unref (sink);
  gst_object_unref (src);
  gst_object_unref (bus);
  gst_caps_unref (caps);
  g_free (bufs);
  return n / ((t1 - t0) / 1e6);
}

/* The minimal loop */

typedef struct
{
  GAsyncQueue *done;
  guint index;
} RawPut;

static void
raw_put_done (const VssStorePutResult * res, gpointer user_data)
{
  RawPut *p = user_data;

  if (res->error)
    g_error ("raw put failed: %s", res->error->message);
  g_async_queue_push (p->done, GUINT_TO_POINTER (p->index + 1));
  g_free (p);
}

static void
raw_flush (VssValkeyClient * c, GArray * batch, gchar ** keys,
    gfloat ** vecs, gchar ** uris)
{
  g_autoptr (VssValkeyPipeline) p = vss_valkey_pipeline_new ();
  GError *err = NULL;

  for (guint b = 0; b < batch->len; b++) {
    guint i = g_array_index (batch, guint, b);
    gchar ts[32], size[32];
    const gchar *argv[] = { "HSET", keys[i], "vector", (gchar *) vecs[i],
      "stream", "raw", "ts", ts, "uri", uris[i], "size", size, "model",
      "bench", "id", keys[i] + 10
    };
    gsize len[G_N_ELEMENTS (argv)];

    g_snprintf (ts, sizeof ts, "%" G_GINT64_FORMAT, g_get_real_time () / 1000);
    g_snprintf (size, sizeof size, "%" G_GSIZE_FORMAT,
        g_bytes_get_size (g_ptr_array_index (jpegs, i % jpegs->len)));
    for (guint a = 0; a < G_N_ELEMENTS (argv); a++)
      len[a] = strlen (argv[a]);
    len[3] = DIM * sizeof (gfloat);
    vss_valkey_pipeline_append (p, keys[i], strlen (keys[i]), 0,
        G_N_ELEMENTS (argv), argv, len);
  }
  if (!vss_valkey_client_execute (c, p, NULL, &err))
    g_error ("raw HSET failed: %s", err->message);
  g_array_set_size (batch, 0);
}

static gdouble
run_raw (guint n, const gchar * url, const gchar * frames,
    const gchar * endpoint)
{
  GstVssAwsSettings aws = { 0, };
  VssStoreOptions opts = { 0, };
  GError *err = NULL;
  VssStore *store;
  VssValkeyClient *c = vss_valkey_client_new_from_url (url, &err);
  GAsyncQueue *done = g_async_queue_new ();
  GArray *batch = g_array_new (FALSE, FALSE, sizeof (guint));
  gchar **keys = g_new0 (gchar *, n + 1), **uris = g_new0 (gchar *, n + 1);
  gchar **okeys = g_new0 (gchar *, n + 1);
  gfloat **vecs = g_new0 (gfloat *, n);
  guint in_flight = 0, completed = 0;
  gint64 t0, t1;

  aws.endpoint_url = endpoint;
  aws.region = "us-east-1";
  aws.access_key_id = "S3RVER";
  aws.secret_access_key = "S3RVER";
  opts.aws = &aws;
  opts.max_connections = MAX_IN_FLIGHT;
  opts.max_retries = G_MAXUINT;
  store = vss_store_new (frames, &opts, &err);
  if (store == NULL || c == NULL || !vss_valkey_client_connect (c, NULL, &err))
    g_error ("raw loop: %s", err->message);
  for (guint i = 0; i < n; i++) {
    gchar id[GST_VSS_FRAME_ID_SIZE];

    gst_vss_frame_id_new (g_get_real_time (), id);
    keys[i] = g_strdup_printf ("frame:raw:%s", id);
    okeys[i] = g_strdup_printf ("raw/2026/01/01/%s.jpg", id);
    uris[i] = vss_store_object_uri (store, okeys[i]);
    vecs[i] = vector_for (i);
  }

  t0 = g_get_monotonic_time ();
  for (guint i = 0; i < n || completed < n;) {
    if (i < n && in_flight < MAX_IN_FLIGHT) {
      RawPut *p = g_new0 (RawPut, 1);

      p->done = done;
      p->index = i;
      vss_store_put_async (store, okeys[i], "image/jpeg",
          g_ptr_array_index (jpegs, i % jpegs->len), raw_put_done, p);
      in_flight++;
      i++;
      continue;
    }
    {
      guint idx = GPOINTER_TO_UINT (g_async_queue_pop (done)) - 1;

      in_flight--;
      completed++;
      g_array_append_val (batch, idx);
      if (batch->len >= BATCH || completed == n)
        raw_flush (c, batch, keys, vecs, uris);
    }
  }
  t1 = g_get_monotonic_time ();

  vss_store_free (store);
  vss_valkey_client_free (c);
  g_async_queue_unref (done);
  g_array_unref (batch);
  for (guint i = 0; i < n; i++)
    g_free (vecs[i]);
  g_free (vecs);
  g_strfreev (keys);
  g_strfreev (uris);
  g_strfreev (okeys);
  return n / ((t1 - t0) / 1e6);
}

/* s3rver */

static GSubprocess *
start_s3rver (const gchar * dir, guint16 port)
{
  GError *err = NULL;
  GSubprocess *proc = vss_test_s3rver_start (dir, port, "bench", &err);

  if (proc == NULL)
    g_error ("%s", err->message);
  return proc;
}

static void
rm_rf (const gchar * path)
{
  gchar *argv[] = { (gchar *) "rm", (gchar *) "-rf", (gchar *) path, NULL };

  g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
      NULL, NULL);
}

int
main (int argc, char **argv)
{
  gboolean quick = FALSE, folder_only = FALSE;
  gint n_folder = 0, n_s3 = 0;
  GOptionEntry entries[] = {
    {"quick", 'q', 0, G_OPTION_ARG_NONE, &quick, "Few frames (smoke run)",
        NULL},
    {"frames", 'n', 0, G_OPTION_ARG_INT, &n_folder, "Frames per folder run",
        "N"},
    {"folder-only", 0, 0, G_OPTION_ARG_NONE, &folder_only,
        "Skip the s3rver runs", NULL},
    {NULL}
  };
  GOptionContext *ctx = g_option_context_new ("- vsssink throughput");
  GError *err = NULL;
  VssTestRedis *r;
  gchar *url, *dir, *frames_dir, *frames_uri, *spool, *s3dir, *endpoint;
  gdouble f_sink, f_sink_nj, f_raw, s_sink = 0, s_raw = 1;
  guint16 port;
  guint rounds;
  GSubprocess *s3;

  g_option_context_add_main_entries (ctx, entries, NULL);
  gst_init (&argc, &argv);
  if (!g_option_context_parse (ctx, &argc, &argv, &err))
    g_error ("%s", err->message);
  g_option_context_free (ctx);
  if (n_folder <= 0)
    n_folder = quick ? 300 : 3000;
  n_s3 = quick ? 100 : MAX (n_folder / 6, 100);
  rounds = quick ? 2 : 3;

  make_jpegs (quick ? 30 : 120);
  r = vss_test_redis_start (NULL, &err);
  if (r == NULL)
    g_error ("cannot start redis-server: %s", err->message);
  url = vss_test_redis_get_url (r, NULL);
  dir = g_dir_make_tmp ("bench-sink-XXXXXX", NULL);
  frames_dir = g_build_filename (dir, "frames", NULL);
  frames_uri = g_filename_to_uri (frames_dir, NULL, NULL);
  spool = g_build_filename (dir, "spool", NULL);

  /* Folder: rounds of raw, sink, sink without journal; the best of each
   * counts, so that a busy neighbour on the machine hurts neither side
   * more than the other. */
  f_raw = f_sink = f_sink_nj = 0;
  for (guint round = 0; round < rounds; round++) {
    gint64 c0 = cpu_us ();

    const gchar *only = g_getenv ("BENCH_SINK_ONLY");

    if (!only || g_str_equal (only, "raw"))
      f_raw = MAX (f_raw, run_raw (n_folder, url, frames_uri, NULL));
    CPU (CPU_RAW_F, n_folder);
    if (!only || g_str_equal (only, "sink"))
      f_sink = MAX (f_sink, run_sink (n_folder, url, frames_uri, NULL, spool,
              TRUE));
    CPU (CPU_SINK_F, n_folder);
    if (!only || g_str_equal (only, "nj"))
      f_sink_nj = MAX (f_sink_nj, run_sink (n_folder, url, frames_uri, NULL,
              spool, FALSE));
    CPU (CPU_SINK_NJ_F, n_folder);
  }
  if (g_getenv ("BENCH_SINK_VERBOSE"))
    g_printerr ("folder: raw %.0f sink %.0f nj %.0f\n", f_raw, f_sink,
        f_sink_nj);
  if (folder_only)
    goto out;

  s3dir = g_build_filename (dir, "s3", NULL);
  g_mkdir_with_parents (s3dir, 0700);
  port = vss_test_free_port ();
  s3 = start_s3rver (s3dir, port);
  endpoint = g_strdup_printf ("http://127.0.0.1:%u", port);
  s_raw = s_sink = 0;
  for (guint round = 0; round < rounds; round++) {
    gint64 c0 = cpu_us ();

    const gchar *only = g_getenv ("BENCH_SINK_ONLY");

    if (!only || g_str_equal (only, "s3raw"))
      s_raw = MAX (s_raw, run_raw (n_s3, url, "s3://bench/raw", endpoint));
    CPU (CPU_RAW_S, n_s3);
    if (!only || g_str_equal (only, "s3sink"))
      s_sink = MAX (s_sink, run_sink (n_s3, url, "s3://bench/sink", endpoint,
              spool, TRUE));
    CPU (CPU_SINK_S, n_s3);
  }
  g_subprocess_send_signal (s3, SIGTERM);
  g_subprocess_wait (s3, NULL, NULL);
  g_object_unref (s3);
  g_free (endpoint);
  g_free (s3dir);

out:
  printf ("{\n"
      "  \"benchmark\": \"vsssink\",\n"
      "  \"quick\": %s,\n"
      "  \"frame\": {\"width\": 640, \"height\": 360, \"mean_jpeg_bytes\": %"
      G_GSIZE_FORMAT "},\n"
      "  \"dim\": %d,\n"
      "  \"max_in_flight\": %d,\n"
      "  \"rounds\": %u,\n"
      "  \"folder\": {\"frames\": %d, \"sink_fps\": %.1f, "
      "\"sink_no_journal_fps\": %.1f, \"raw_fps\": %.1f, \"ratio\": %.3f, "
      "\"ratio_no_journal\": %.3f, \"cpu_us_per_frame\": {\"sink\": %.0f, "
      "\"sink_no_journal\": %.0f, \"raw\": %.0f}},\n"
      "  \"s3rver\": {\"frames\": %d, \"sink_fps\": %.1f, \"raw_fps\": %.1f, "
      "\"ratio\": %.3f, \"cpu_us_per_frame\": {\"sink\": %.0f, "
      "\"raw\": %.0f}},\n"
      "  \"target_ratio\": 0.8,\n"
      "  \"meets_target\": %s\n"
      "}\n", quick ? "true" : "false", jpeg_bytes / jpegs->len, DIM,
      MAX_IN_FLIGHT, rounds, n_folder, f_sink, f_sink_nj, f_raw, f_sink / f_raw,
      f_sink_nj / f_raw, cpu_best[CPU_SINK_F], cpu_best[CPU_SINK_NJ_F],
      cpu_best[CPU_RAW_F], n_s3, s_sink, s_raw, s_sink / s_raw,
      folder_only ? 0 : cpu_best[CPU_SINK_S], folder_only ? 0 :
      cpu_best[CPU_RAW_S],
      f_sink / f_raw >= 0.8 && s_sink / s_raw >= 0.8 ? "true" : "false");

  vss_test_redis_free (r);
  rm_rf (dir);
  g_free (spool);
  g_free (frames_uri);
  g_free (frames_dir);
  g_free (dir);
  g_free (url);
  g_ptr_array_unref (jpegs);
  return 0;
}
