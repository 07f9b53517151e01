/* gst-vss tests: vsssink against redis-server with our module (vss-search.so)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The index vsssink creates is the one vssquery and vss-search use: created
 * when missing, filled, and searchable with KNN and the stream TAG, on one
 * server and on a 3-primary cluster. argv[1] is the module path.
 */
#include <math.h>
#include <string.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include "gstvss.h"
#include "vss-test-redis.h"
#include "vss-sink-feeder.h"
#include "module-test-env.h"

static const gchar *module_path;

static VssTestRedis *
start_with_module (guint n_primaries)
{
  const gchar *args[] = { "--loadmodule", module_path, NULL };
  VssTestRedisOptions opts = { 0, };
  GError *err = NULL;
  VssTestRedis *r;

  opts.extra_args = args;
  r = n_primaries ? vss_test_redis_start_cluster (n_primaries, &opts, &err) :
      vss_test_redis_start (&opts, &err);
  if (r == NULL)
    g_error ("cannot start redis-server with %s: %s", module_path,
        err->message);
  return r;
}

static gchar *
tmpdir (void)
{
  GError *err = NULL;
  gchar *d = g_dir_make_tmp ("vsssink-module-XXXXXX", &err);

  g_assert_no_error (err);
  return d;
}

static void
rm_rf (const gchar * path)
{
  gchar *argv[] = { (gchar *) "rm", (gchar *) "-rf", (gchar *) path, NULL };

  g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
      NULL, NULL);
}

/* Pushes @n frames through a sink that creates the index, then checks the
 * index with FT.INFO and finds each of a few frames as its own nearest
 * neighbour, with the stream filter. */
static void
run_index_and_search (guint n_primaries)
{
  g_autoptr (VssTestRedis) r = start_with_module (n_primaries);
  gchar *url = vss_test_redis_get_url (r, n_primaries ? "cluster=yes" :
      "cluster=no");
  gchar *dir = tmpdir ();
  const guint n = 30;
  GError *err = NULL;
  VssValkeyClient *c;
  Feeder *f;
  const gchar *tags[] = { "stream", NULL };
  const gchar *numerics[] = { "ts", NULL };
  VssValkeyIndexSpec spec = { "frames", "frame:", "vector", DIM,
    VSS_VALKEY_METRIC_COSINE, VSS_VALKEY_ALGORITHM_HNSW, 16, 200, tags,
    numerics
  };

  f = feeder_new (NULL, "valkey", url, "spool-dir", dir, "stream-id", "cam1",
      NULL);
  for (guint i = 0; i < n; i++)
    g_assert_cmpint (feeder_push (f, i), ==, GST_FLOW_OK);
  g_assert_null (feeder_finish (f, NULL));

  c = vss_valkey_client_new_from_url (url, &err);
  g_assert_no_error (err);
  /* Exists with the schema vssquery expects (same spec: no mismatch). */
  g_assert_true (vss_valkey_ensure_index (c, &spec, n_primaries > 0, NULL,
          &err));
  g_assert_no_error (err);
  if (n_primaries == 0) {
    const gchar *argv[] = { "FT.INFO", "frames" };
    VssValkeyReply *rep = vss_valkey_command (c, NULL, &err, 2, argv, NULL);
    VssValkeyIndexInfo *info;

    g_assert_no_error (err);
    info = vss_valkey_index_info_parse (rep, &err);
    g_assert_no_error (err);
    g_assert_cmpuint (info->dim, ==, DIM);
    g_assert_cmpstr (info->vector_field, ==, "vector");
    g_assert_cmpuint (info->num_docs, ==, n);
    vss_valkey_index_info_free (info);
    freeReplyObject (rep);
  }

  for (guint i = 0; i < n; i += 7) {
    gfloat v[DIM];
    const gchar *cam[] = { "cam1", NULL };
    VssValkeyTagFilter tag = { "stream", cam };
    VssValkeyKnnQuery q = { 0, };
    GPtrArray *hits;
    gchar *want = g_strdup_printf ("frame:cam1:%s",
        (gchar *) g_ptr_array_index (f->ids, i));
    VssValkeyHit *h;

    vector_for (i, DIM, v);
    q.index = "frames";
    q.vector_field = "vector";
    q.vector = v;
    q.dim = DIM;
    q.k = 3;
    q.tags = &tag;
    q.n_tags = 1;
    hits = vss_valkey_knn_search (c, &q, n_primaries > 0, NULL, &err);
    g_assert_no_error (err);
    g_assert_cmpuint (hits->len, >=, 1);
    h = g_ptr_array_index (hits, 0);
    g_assert_cmpstr (h->key, ==, want);
    g_assert_cmpfloat (h->score, <, 1e-4);
    g_ptr_array_unref (hits);
    g_free (want);
  }
  vss_valkey_client_free (c);
  feeder_free (f);

  /* A frame of another dimension than the index is refused clearly, even
   * by a new sink that did not create the index. */
  if (n_primaries == 0) {
    gchar id[GST_VSS_FRAME_ID_SIZE];
    gchar *e;

    f = feeder_new (NULL, "valkey", url, "spool-dir", dir, "stream-id",
        "cam1", NULL);
    g_assert_cmpint (gst_pad_push (f->src, make_frame (0, DIM * 2, id)), ==,
        GST_FLOW_ERROR);
    e = feeder_pop_error (f);
    g_assert_nonnull (e);
    g_assert_nonnull (strstr (e, "32-dimensional vector"));
    g_assert_nonnull (strstr (e, "index 'frames' holds 16-dimensional"));
    g_free (e);
    feeder_free (f);

    /* dimension=32 against the 16-dimensional index: a start error. */
    f = feeder_new (NULL, "valkey", url, "spool-dir", dir, "dimension", "32",
        NULL);
    e = feeder_pop_error (f);
    g_assert_nonnull (e);
    g_assert_nonnull (strstr (e, "index 'frames' cannot be used"));
    g_free (e);
    feeder_free (f);
  }
  module_test_check_reports (vss_test_redis_get_dir (r));
  rm_rf (dir);
  g_free (dir);
  g_free (url);
}

static void
test_standalone (void)
{
  run_index_and_search (0);
}

static void
test_cluster (void)
{
  run_index_and_search (3);
}

static GHashTable *
hgetall (VssValkeyClient * c, const gchar * key)
{
  const gchar *argv[] = { "HGETALL", key };
  GError *err = NULL;
  VssValkeyReply *r = vss_valkey_command (c, NULL, &err, 2, argv, NULL);
  GHashTable *h = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      g_free);

  g_assert_no_error (err);
  g_assert_true (r->type == REDIS_REPLY_ARRAY);
  for (gsize i = 0; i + 1 < r->elements; i += 2)
    g_hash_table_insert (h, g_strdup (r->element[i]->str),
        g_strndup (r->element[i + 1]->str, r->element[i + 1]->len));
  freeReplyObject (r);
  return h;
}

/* Pushes frame @i with @pts; its id goes to @ids. */
static void
push_at (Feeder * f, guint i, GstClockTime pts, GPtrArray * ids)
{
  gchar id[GST_VSS_FRAME_ID_SIZE];
  GstBuffer *b = make_frame (i, DIM, id);

  GST_BUFFER_PTS (b) = pts;
  g_assert_cmpint (gst_pad_push (f->src, b), ==, GST_FLOW_OK);
  g_ptr_array_add (ids, g_strdup (id));
}

static void
push_segment (Feeder * f, GstClockTime start, GstClockTime time,
    GstClockTime base)
{
  GstSegment seg;

  gst_segment_init (&seg, GST_FORMAT_TIME);
  seg.start = seg.position = start;
  seg.time = time;
  seg.base = base;
  g_assert_true (gst_pad_push_event (f->src, gst_event_new_segment (&seg)));
}

/* The nearest frame to frame @i's vector in @stream, as the search
 * structure vss-search and vssquery read. */
static GstStructure *
search_frame (VssValkeyClient * c, guint i, const gchar * stream)
{
  const gchar *streams[] = { stream, NULL };
  GstVssQuerySearchRequest req;
  GError *err = NULL;
  GPtrArray *res;
  GstStructure *s;
  gfloat v[DIM];

  vector_for (i, DIM, v);
  gst_vss_query_search_request_init (&req);
  req.vector = v;
  req.dim = DIM;
  req.k = 1;
  req.streams = streams;
  res = gst_vss_query_search_run (c, &req, FALSE, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (res->len, ==, 1);
  s = gst_vss_query_search_result_to_structure (g_ptr_array_index (res, 0));
  g_ptr_array_unref (res);
  return s;
}

/* Issue 18, point 15: frames from a file carry their source and their
 * position in it (the buffer's stream time, in ms: not the PTS, not the
 * running time), across a segment that does not start at 0 and a seek;
 * searches return both. A sink without a source stores neither. */
static void
test_source_position (void)
{
  g_autoptr (VssTestRedis) r = start_with_module (0);
  gchar *url = vss_test_redis_get_url (r, "cluster=no");
  gchar *dir = tmpdir ();
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  /* Positions of frames 0-5 in ms. */
  const gint64 want[] = { 40000, 41500, 43000, 54000, 54250, -1 };
  GError *err = NULL;
  VssValkeyClient *c;
  Feeder *f;

  f = feeder_new (NULL, "valkey", url, "spool-dir", dir, "stream-id", "clip",
      "source", "clip.mkv", NULL);
  /* PTS from 10 s, stream time 40 s there, running time 5 s there. */
  push_segment (f, 10 * GST_SECOND, 40 * GST_SECOND, 5 * GST_SECOND);
  for (guint i = 0; i < 3; i++)
    push_at (f, i, 10 * GST_SECOND + i * 1500 * GST_MSECOND, ids);
  /* A seek to 0:54. */
  g_assert_true (gst_pad_push_event (f->src, gst_event_new_flush_start ()));
  g_assert_true (gst_pad_push_event (f->src, gst_event_new_flush_stop (TRUE)));
  push_segment (f, 54 * GST_SECOND, 54 * GST_SECOND, 0);
  push_at (f, 3, 54 * GST_SECOND, ids);
  push_at (f, 4, 54 * GST_SECOND + 250 * GST_MSECOND, ids);
  g_assert_null (feeder_finish (f, NULL));
  feeder_free (f);

  /* A live source: no source, no position. */
  f = feeder_new (NULL, "valkey", url, "spool-dir", dir, "stream-id", "live",
      NULL);
  push_segment (f, 10 * GST_SECOND, 40 * GST_SECOND, 0);
  push_at (f, 5, 12 * GST_SECOND, ids);
  g_assert_null (feeder_finish (f, NULL));
  feeder_free (f);

  c = vss_valkey_client_new_from_url (url, &err);
  g_assert_no_error (err);
  for (guint i = 0; i < ids->len; i++) {
    const gchar *stream = want[i] >= 0 ? "clip" : "live";
    gchar *key = g_strdup_printf ("frame:%s:%s", stream,
        (gchar *) g_ptr_array_index (ids, i));
    GHashTable *h = hgetall (c, key);
    GstStructure *s;
    gint64 pos = 0;

    if (want[i] >= 0) {
      gchar *p = g_strdup_printf ("%" G_GINT64_FORMAT, want[i]);

      g_assert_cmpstr (g_hash_table_lookup (h, "source"), ==, "clip.mkv");
      g_assert_cmpstr (g_hash_table_lookup (h, "position"), ==, p);
      g_free (p);
    } else {
      g_assert_false (g_hash_table_contains (h, "source"));
      g_assert_false (g_hash_table_contains (h, "position"));
    }
    /* The search result says the same. */
    s = search_frame (c, i, stream);
    g_assert_cmpstr (gst_structure_get_string (s, "key"), ==, key);
    g_assert_cmpstr (gst_structure_get_string (s, "source"), ==,
        want[i] >= 0 ? "clip.mkv" : "");
    g_assert_true (gst_structure_get_int64 (s, "position-ms", &pos));
    g_assert_cmpint (pos, ==, want[i]);
    gst_structure_free (s);
    g_hash_table_unref (h);
    g_free (key);
  }
  vss_valkey_client_free (c);
  module_test_check_reports (vss_test_redis_get_dir (r));
  g_ptr_array_unref (ids);
  rm_rf (dir);
  g_free (dir);
  g_free (url);
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    g_error ("usage: %s MODULE_PATH", argv[0]);
  module_path = argv[1];
  if (!g_file_test (module_path, G_FILE_TEST_EXISTS))
    g_error ("the Valkey module %s is missing: build modules/valkey",
        module_path);
  module_test_env_setup ();
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  make_jpegs ();
  g_test_add_func ("/vsssink/module/standalone", test_standalone);
  g_test_add_func ("/vsssink/module/cluster", test_cluster);
  g_test_add_func ("/vsssink/module/source-position", test_source_position);
  return g_test_run ();
}
