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

/* Quick outage detection: one reconnect attempt, short timeouts. */
#define FAST "reconnect_attempts=1&connect_timeout_ms=500&command_timeout_ms=2000"

/* Waits up to 30 s for the sink to have written @n frames. */
static void
wait_written (Feeder * f, guint64 n)
{
  gint64 end = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  guint64 written = 0;

  while (g_get_monotonic_time () < end) {
    GstStructure *st = feeder_stats (f);

    written = stat_of (st, "written");
    gst_structure_free (st);
    if (written >= n)
      return;
    g_usleep (20 * 1000);
  }
  g_error ("%" G_GUINT64_FORMAT " frames written of %" G_GUINT64_FORMAT,
      written, n);
}

/* FT.INFO of the index on node @node, through redis-cli: NULL when the
 * node does not have it. */
static gchar *
ft_info_on (VssTestRedis * r, guint node)
{
  GError *err = NULL;
  gchar *out = vss_test_redis_cli (r, node, &err, "FT.INFO", "frames", NULL);

  g_assert_no_error (err);
  if (strstr (out, "num_docs") == NULL)
    g_clear_pointer (&out, g_free);
  return out;
}

/* Waits up to 20 s until every node has the index with @n documents in
 * all (the index is filled from existing keys after FT.CREATE). */
static void
wait_indexed (VssTestRedis * r, VssValkeyClient * c, guint64 n)
{
  gint64 end = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  const gchar *argv[] = { "FT.INFO", "frames" };
  guint64 docs = 0;

  while (g_get_monotonic_time () < end) {
    GPtrArray *rs = vss_valkey_command_on_primaries (c, NULL, NULL, 2, argv,
        NULL);
    gboolean all = rs != NULL;

    docs = 0;
    for (guint i = 0; rs && i < rs->len; i++) {
      VssValkeyReply *rep = g_ptr_array_index (rs, i);
      VssValkeyIndexInfo *info = vss_valkey_reply_is_error (rep, NULL) ?
          NULL : vss_valkey_index_info_parse (rep, NULL);

      if (info == NULL) {
        all = FALSE;
        continue;
      }
      docs += info->num_docs;
      vss_valkey_index_info_free (info);
    }
    if (rs)
      g_ptr_array_unref (rs);
    if (all && docs == n)
      return;
    g_usleep (100 * 1000);
  }
  g_error ("the index has %" G_GUINT64_FORMAT " documents of %"
      G_GUINT64_FORMAT " (or is missing on a node)", docs, n);
}

/* Frame @i of @ids (stream @stream) is its own nearest neighbour. */
static void
assert_found (VssValkeyClient * c, GPtrArray * ids, guint i,
    const gchar * stream, gboolean fanout)
{
  gfloat v[DIM];
  VssValkeyKnnQuery q = { 0, };
  GError *err = NULL;
  GPtrArray *hits;
  gchar *want = g_strdup_printf ("frame:%s:%s", stream,
      (gchar *) g_ptr_array_index (ids, i));

  vector_for (i, DIM, v);
  q.index = "frames";
  q.vector_field = "vector";
  q.vector = v;
  q.dim = DIM;
  q.k = 1;
  hits = vss_valkey_knn_search (c, &q, fanout, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (hits->len, ==, 1);
  g_assert_cmpstr (((VssValkeyHit *) g_ptr_array_index (hits, 0))->key, ==,
      want);
  g_ptr_array_unref (hits);
  g_free (want);
}

/* Issue 18, point 3: a server restarted empty (no persistence) in the
 * middle of a stream comes back without the index; the sink creates it
 * again (on every primary of a cluster) and the frames written after the
 * restart are searchable. @node: the node restarted. */
static void
run_index_restart (guint n_primaries, guint node)
{
  g_autoptr (VssTestRedis) r = start_with_module (n_primaries);
  gchar *url = vss_test_redis_get_url (r, n_primaries ? "cluster=yes&" FAST :
      "cluster=no&" FAST);
  gchar *dir = tmpdir ();
  GPtrArray *ids;
  GError *err = NULL;
  VssValkeyClient *c;
  guint64 lost = 0;
  gchar *info;
  Feeder *f;

  f = feeder_new (NULL, "valkey", url, "spool-dir", dir, "stream-id", "cam1",
      "max-in-flight", "4", NULL);
  for (guint i = 0; i < 12; i++)
    g_assert_cmpint (feeder_push (f, i), ==, GST_FLOW_OK);
  wait_written (f, 12);
  info = ft_info_on (r, node);
  g_assert_nonnull (info);
  g_free (info);
  if (n_primaries) {
    gchar *out = vss_test_redis_cli (r, node, &err, "DBSIZE", NULL);

    g_assert_no_error (err);
    lost = g_ascii_strtoull (out, NULL, 10);
    g_free (out);
  } else {
    lost = 12;
  }

  vss_test_redis_stop_node (r, node, TRUE);
  for (guint i = 12; i < 16; i++) {
    g_assert_cmpint (feeder_push (f, i), ==, GST_FLOW_OK);
    g_usleep (20 * 1000);
  }
  /* Back empty, without the index (the sink may have made it again by
   * the time we could look). */
  g_assert_true (vss_test_redis_restart_node (r, node, &err));
  g_assert_no_error (err);
  for (guint i = 16; i < 30; i++) {
    g_assert_cmpint (feeder_push (f, i), ==, GST_FLOW_OK);
    g_usleep (20 * 1000);
  }
  g_assert_null (feeder_finish (f, NULL));
  ids = g_ptr_array_ref (f->ids);
  feeder_free (f);

  /* The index is back where it was lost, and holds every key there is
   * (the restarted node's keys from before the restart are gone). */
  info = ft_info_on (r, node);
  if (info == NULL)
    g_error ("no index on node %u after its restart", node);
  g_free (info);
  c = vss_valkey_client_new_from_url (url, &err);
  g_assert_no_error (err);
  wait_indexed (r, c, 30 - lost);
  for (guint i = 16; i < 30; i += 3)
    assert_found (c, ids, i, "cam1", n_primaries > 0);
  vss_valkey_client_free (c);
  module_test_check_reports (vss_test_redis_get_dir (r));
  g_ptr_array_unref (ids);
  rm_rf (dir);
  g_free (dir);
  g_free (url);
}

static void
test_index_restart (void)
{
  run_index_restart (0, 0);
}

static void
test_index_restart_cluster (void)
{
  run_index_restart (3, 1);
}

/* Issue 18, point 3: an index dropped without a disconnect (FT.DROPINDEX
 * here; FLUSHALL on servers that drop indexes with the data) is found
 * missing by the periodic check (index-check-interval) and created
 * again; the frames written meanwhile are indexed with it. */
static void
test_index_dropped (void)
{
  g_autoptr (VssTestRedis) r = start_with_module (0);
  gchar *url = vss_test_redis_get_url (r, "cluster=no");
  gchar *dir = tmpdir ();
  const gchar *drop[] = { "FT.DROPINDEX", "frames" };
  GError *err = NULL;
  VssValkeyClient *c;
  VssValkeyReply *rep;
  gint64 end;
  gchar *info;
  Feeder *f;
  guint i;

  c = vss_valkey_client_new_from_url (url, &err);
  g_assert_no_error (err);
  f = feeder_new (NULL, "valkey", url, "spool-dir", dir, "stream-id", "cam1",
      "index-check-interval", "1", NULL);
  for (i = 0; i < 5; i++)
    g_assert_cmpint (feeder_push (f, i), ==, GST_FLOW_OK);
  wait_written (f, 5);
  rep = vss_valkey_command (c, NULL, &err, 2, drop, NULL);
  g_assert_no_error (err);
  g_assert_false (vss_valkey_reply_is_error (rep, NULL));
  freeReplyObject (rep);
  info = ft_info_on (r, 0);
  g_assert_null (info);
  /* Frames for 2.5 s: the check runs within a second of the drop. */
  end = g_get_monotonic_time () + 2500 * 1000;
  for (; g_get_monotonic_time () < end; i++) {
    g_assert_cmpint (feeder_push (f, i), ==, GST_FLOW_OK);
    g_usleep (100 * 1000);
  }
  g_assert_null (feeder_finish (f, NULL));
  info = ft_info_on (r, 0);
  if (info == NULL)
    g_error ("the dropped index was not created again");
  g_free (info);
  wait_indexed (r, c, i);
  assert_found (c, f->ids, i - 1, "cam1", FALSE);
  assert_found (c, f->ids, 2, "cam1", FALSE);
  feeder_free (f);
  vss_valkey_client_free (c);
  module_test_check_reports (vss_test_redis_get_dir (r));
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
  g_test_add_func ("/vsssink/module/index-restart", test_index_restart);
  g_test_add_func ("/vsssink/module/index-restart-cluster",
      test_index_restart_cluster);
  g_test_add_func ("/vsssink/module/index-dropped", test_index_dropped);
  return g_test_run ();
}
