/* gst-vss tests: vsssink against redis-server with our module (vss-search.so)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The index vsssink creates is the one vssquery and vss-search use: created
 * when missing, filled, and searchable with KNN and the stream TAG, on one
 * server and on a 3-primary cluster. argv[1] is the module path.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include "gstvss.h"
#include "vss-test-redis.h"
#include "vss-test-util.h"
#include "vss-sink-feeder.h"

static const gchar *module_path;
static gchar *self_path;

static VssTestRedis *
start_with_module (guint n_primaries)
{
  VssTestRedisOptions opts = { 0, };
  GError *err = NULL;
  VssTestRedis *r;

  opts.module = module_path;
  r = n_primaries ? vss_test_redis_start_cluster (n_primaries, &opts, &err) :
      vss_test_redis_start (&opts, &err);
  if (r == NULL)
    g_error ("cannot start redis-server with %s: %s", module_path,
        err->message);
  return r;
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
  gchar *dir = vss_test_tmpdir ("vsssink-module");
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
  vss_test_redis_check_reports (r);
  vss_test_rm_rf (dir);
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
  gchar *dir = vss_test_tmpdir ("vsssink-module");
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
  vss_test_redis_check_reports (r);
  g_ptr_array_unref (ids);
  vss_test_rm_rf (dir);
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
  gchar *dir = vss_test_tmpdir ("vsssink-module");
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
  vss_test_redis_check_reports (r);
  g_ptr_array_unref (ids);
  vss_test_rm_rf (dir);
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
  gchar *dir = vss_test_tmpdir ("vsssink-module");
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
  vss_test_redis_check_reports (r);
  vss_test_rm_rf (dir);
  g_free (dir);
  g_free (url);
}

/* Issue 18, point 1: a spool belongs to one destination. */

/* Prints the sink's warnings, infos and errors so far. */
static void
print_messages (Feeder * f)
{
  GstMessage *m;

  while ((m = gst_bus_pop_filtered (f->bus, GST_MESSAGE_WARNING |
              GST_MESSAGE_INFO | GST_MESSAGE_ERROR))) {
    GError *e = NULL;
    gchar *dbg = NULL;
    const gchar *what = "error";

    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_WARNING) {
      gst_message_parse_warning (m, &e, &dbg);
      what = "warning";
    } else if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_INFO) {
      gst_message_parse_info (m, &e, &dbg);
      what = "info";
    } else {
      gst_message_parse_error (m, &e, &dbg);
    }
    printf ("%s: %s | %s\n", what, e->message, dbg ? dbg : "");
    g_error_free (e);
    g_free (dbg);
    gst_message_unref (m);
  }
  fflush (stdout);
}

/* The child of test_destination: @n frames of stream "xs" into a sink
 * writing to URL and FRAMES, with the default spool folder ("-") or
 * another one, adopting another destination's spool when a sixth argument
 * says "adopt". Prints what it accepted and every message. */
static int
child_main (int argc, char **argv)
{
  const gchar *url = argv[2], *frames = argv[3], *spool = argv[4];
  guint n = atoi (argv[5]);
  gboolean adopt = argc > 6 && g_str_equal (argv[6], "adopt");
  gchar *err;
  Feeder *f;

  gst_init (NULL, NULL);
  make_jpegs ();
  if (g_str_equal (spool, "-"))
    f = feeder_new (NULL, "valkey", url, "frames", frames, "stream-id", "xs",
        "max-in-flight", "4", "adopt-spool", adopt ? "true" : "false", NULL);
  else
    f = feeder_new (NULL, "valkey", url, "frames", frames, "stream-id", "xs",
        "max-in-flight", "4", "spool-dir", spool, "adopt-spool",
        adopt ? "true" : "false", NULL);
  /* What the start said (feeder_finish() drops what it pops). */
  print_messages (f);
  for (guint i = 0; i < n; i++) {
    if (feeder_push (f, i) != GST_FLOW_OK) {
      print_messages (f);
      return 2;
    }
    printf ("accepted %s\n", (gchar *) g_ptr_array_index (f->ids, i));
    print_messages (f);
    g_usleep (20 * 1000);
  }
  err = feeder_finish (f, NULL);
  if (err) {
    printf ("error: %s\n", err);
    print_messages (f);
    return 3;
  }
  print_messages (f);
  feeder_free (f);
  return 0;
}

/* Runs the child with @args under XDG_STATE_HOME=@state; its lines go to
 * @lines. Returns its exit status. */
static gint
run_child (const gchar * state, GPtrArray * lines, const gchar * const *args)
{
  GSubprocessLauncher *l =
      g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  GError *e = NULL;
  GSubprocess *p;
  GDataInputStream *in;
  gchar *line;
  gint status;

  g_subprocess_launcher_setenv (l, "XDG_STATE_HOME", state, TRUE);
  p = g_subprocess_launcher_spawnv (l, args, &e);
  g_assert_no_error (e);
  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (p));
  while ((line = g_data_input_stream_read_line (in, NULL, NULL, &e))) {
    g_test_message ("child: %s", line);
    g_ptr_array_add (lines, line);
  }
  g_assert_no_error (e);
  g_assert_true (g_subprocess_wait (p, NULL, NULL));
  status = g_subprocess_get_if_exited (p) ?
      g_subprocess_get_exit_status (p) : -1;
  g_object_unref (in);
  g_object_unref (p);
  g_object_unref (l);
  return status;
}

/* The line of @lines that starts with @prefix and contains @a and @b. */
static const gchar *
find_line (GPtrArray * lines, const gchar * prefix, const gchar * a,
    const gchar * b)
{
  for (guint i = 0; i < lines->len; i++) {
    const gchar *l = g_ptr_array_index (lines, i);

    if (g_str_has_prefix (l, prefix) && strstr (l, a) && (!b || strstr (l, b)))
      return l;
  }
  return NULL;
}

/* The spool folders under @state. */
static GPtrArray *
spool_folders (const gchar * state)
{
  gchar *base = g_build_filename (state, "gst-vss", "spool", NULL);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  GDir *d = g_dir_open (base, 0, NULL);
  const gchar *name;

  while (d && (name = g_dir_read_name (d)))
    g_ptr_array_add (out, g_build_filename (base, name, NULL));
  if (d)
    g_dir_close (d);
  g_free (base);
  return out;
}

static void
admin_cmd (VssValkeyClient * c, ...)
{
  const gchar *argv[8];
  GError *err = NULL;
  VssValkeyReply *r;
  gint argc = 0;
  va_list ap;

  va_start (ap, c);
  while (argc < 8 && (argv[argc] = va_arg (ap, const gchar *)))
      argc++;
  va_end (ap);
  r = vss_valkey_command (c, NULL, &err, argc, argv, NULL);
  g_assert_no_error (err);
  g_assert_false (vss_valkey_reply_is_error (r, NULL));
  freeReplyObject (r);
}

/* A child writing stream "xs" to @url and @uri (default spool folder),
 * SIGKILLed after 15 accepted frames; from the 6th on, the server (@c)
 * holds every write (CLIENT PAUSE; the caller unpauses), so that objects
 * are stored and their keys wait. The accepted ids go to @ids. */
static void
run_killed (const gchar * state, const gchar * url, const gchar * uri,
    VssValkeyClient * c, GPtrArray * ids)
{
  const gchar *args[] = { self_path, "--child", url, uri, "-", "1000", NULL };
  GSubprocessLauncher *l =
      g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  guint64 keys0 = vss_test_count_keys (c, "frame:*"), first = ids->len;
  GDataInputStream *in;
  GError *e = NULL;
  GSubprocess *p;
  gchar *line;

  g_subprocess_launcher_setenv (l, "XDG_STATE_HOME", state, TRUE);
  p = g_subprocess_launcher_spawnv (l, args, &e);
  g_assert_no_error (e);
  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (p));
  while ((line = g_data_input_stream_read_line (in, NULL, NULL, &e))) {
    g_test_message ("child: %s", line);
    g_assert_null (strstr (line, "S3cret"));
    if (g_str_has_prefix (line, "accepted "))
      g_ptr_array_add (ids, g_strdup (line + 9));
    g_free (line);
    if (ids->len == first + 5) {
      gint64 end = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

      while (vss_test_count_keys (c, "frame:*") < keys0 + 5
          && g_get_monotonic_time () < end)
        g_usleep (10 * 1000);
      g_assert_cmpuint (vss_test_count_keys (c, "frame:*"), ==, keys0 + 5);
      admin_cmd (c, "CLIENT", "PAUSE", "60000", "WRITE", NULL);
    }
    if (ids->len == first + 15) {
      g_subprocess_send_signal (p, SIGKILL);
      break;
    }
  }
  g_assert_no_error (e);
  g_subprocess_wait (p, NULL, NULL);
  g_object_unref (in);
  g_object_unref (p);
  g_object_unref (l);
  g_assert_cmpuint (ids->len, ==, first + 15);
}

/* Every frame of @ids has its key in @c. */
static void
assert_keys (VssValkeyClient * c, GPtrArray * ids, guint from)
{
  GError *e = NULL;

  for (guint i = from; i < ids->len; i++) {
    gchar *key = g_strdup_printf ("frame:xs:%s",
        (gchar *) g_ptr_array_index (ids, i));
    const gchar *argv[] = { "EXISTS", key };
    VssValkeyReply *r = vss_valkey_command (c, NULL, &e, 2, argv, NULL);

    g_assert_no_error (e);
    if (r->integer != 1)
      g_error ("frame %u (%s) has no key", i, key);
    freeReplyObject (r);
    g_free (key);
  }
}

/* A run writing to server A and folder A is killed while keys wait (A
 * paused: objects stored, keys not); a run with the default spool folder
 * writing to server B and folder B gets only its own frames and says where
 * A's wait; a run pointed at A's folder with destination B is refused,
 * naming both; the next run to A writes the missing keys. No password in
 * any message. */
static void
test_destination (void)
{
  VssTestRedisOptions opts_a = { 0, };
  g_autoptr (VssTestRedis) ra = NULL;
  g_autoptr (VssTestRedis) rb = NULL;
  gchar *url_a, *url_b, *dir = vss_test_tmpdir ("vsssink-module");
  gchar *state = g_build_filename (dir, "state", NULL);
  gchar *folder_a = g_build_filename (dir, "folder-a", NULL);
  gchar *folder_b = g_build_filename (dir, "folder-b", NULL);
  gchar *uri_a = g_filename_to_uri (folder_a, NULL, NULL);
  gchar *uri_b = g_filename_to_uri (folder_b, NULL, NULL);
  gchar *port_a, *port_b, *spool_a;
  GPtrArray *lines = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *folders;
  VssValkeyClient *ca, *cb;
  GError *e = NULL;
  gint status;

  opts_a.acl_user = "default";
  opts_a.acl_password = "pw-A-S3cret";
  opts_a.module = module_path;
  ra = vss_test_redis_start (&opts_a, &e);
  g_assert_no_error (e);
  rb = start_with_module (0);
  url_a = vss_test_redis_get_url (ra, "cluster=no");
  url_b = vss_test_redis_get_url (rb, "cluster=no");
  port_a = g_strdup_printf ("127.0.0.1:%u", vss_test_redis_get_port (ra, 0));
  port_b = g_strdup_printf ("127.0.0.1:%u", vss_test_redis_get_port (rb, 0));
  ca = vss_valkey_client_new_from_url (url_a, &e);
  g_assert_no_error (e);
  cb = vss_valkey_client_new_from_url (url_b, &e);
  g_assert_no_error (e);

  /* 1. The long clip to A, killed while A holds its writes. */
  run_killed (state, url_a, uri_a, ca, ids);
  admin_cmd (ca, "CLIENT", "UNPAUSE", NULL);
  g_assert_cmpuint (ids->len, ==, 15);
  /* Objects whose keys were never written. */
  g_assert_cmpuint (vss_test_count_keys (ca, "frame:*"), ==, 5);
  g_assert_cmpuint (vss_test_count_files (folder_a, ".jpg", NULL), >, 5);
  folders = spool_folders (state);
  g_assert_cmpuint (folders->len, ==, 1);
  spool_a = g_strdup (g_ptr_array_index (folders, 0));
  g_ptr_array_unref (folders);
  g_assert_cmpuint (vss_test_count_files (spool_a, ".jnl", NULL), >=, 1);

  /* 2. The short clip to B, default spool folder: only its own frames,
   * and a word about A's. */
  {
    const gchar *args[] = { self_path, "--child", url_b, uri_b, "-", "5",
      NULL
    };

    status = run_child (state, lines, args);
  }
  g_assert_cmpint (status, ==, 0);
  g_assert_cmpuint (vss_test_count_keys (cb, "frame:*"), ==, 5);
  g_assert_cmpuint (vss_test_count_files (folder_b, ".jpg", NULL), ==, 5);
  g_assert_cmpuint (vss_test_count_keys (ca, "frame:*"), ==, 5);
  g_assert_nonnull (find_line (lines, "warning: ", spool_a, port_a));
  g_assert_cmpuint (vss_test_count_files (spool_a, ".jnl", NULL), >=, 1);
  g_ptr_array_set_size (lines, 0);

  /* 3. B pointed at A's spool folder: refused, naming both, and how. */
  {
    const gchar *args[] = { self_path, "--child", url_b, uri_b, spool_a, "1",
      NULL
    };

    status = run_child (state, lines, args);
  }
  g_assert_cmpint (status, !=, 0);
  g_assert_nonnull (find_line (lines, "error: ", port_a, port_b));
  g_assert_nonnull (find_line (lines, "error: ", "adopt-spool", NULL));
  g_assert_cmpuint (vss_test_count_keys (cb, "frame:*"), ==, 5);
  g_assert_cmpuint (vss_test_count_files (spool_a, ".jnl",
          NULL) + vss_test_count_files (spool_a, ".rec", NULL), >=, 1);
  g_ptr_array_set_size (lines, 0);

  /* 4. A again: the keys of the objects stored before the kill. */
  {
    const gchar *args[] = { self_path, "--child", url_a, uri_a, "-", "0",
      NULL
    };

    status = run_child (state, lines, args);
  }
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (find_line (lines, "info: ", "Recovered", NULL));
  assert_keys (ca, ids, 0);
  /* At most one frame more than acknowledged, and every object has its
   * key. */
  g_assert_cmpuint (vss_test_count_keys (ca, "frame:*"), >=, 15);
  g_assert_cmpuint (vss_test_count_keys (ca, "frame:*"), <=, 16);
  g_assert_cmpuint (vss_test_count_files (folder_a, ".jpg", NULL), ==,
      vss_test_count_keys (ca, "frame:*"));
  g_assert_cmpuint (vss_test_count_keys (cb, "frame:*"), ==, 5);
  g_assert_cmpuint (vss_test_count_files (spool_a, ".jnl",
          NULL) + vss_test_count_files (spool_a, ".rec", NULL), ==, 0);
  for (guint i = 0; i < lines->len; i++)
    g_assert_null (strstr (g_ptr_array_index (lines, i), "pw-A-S3cret"));
  g_ptr_array_set_size (lines, 0);

  /* 5. A spool folder of an earlier version (the old default name, no
   * destination named) is replayed as it always was, by the next sink
   * with that index and stream, whatever its destination. */
  {
    const gchar *args[] = { self_path, "--child", url_b, uri_b, "-", "0",
      NULL
    };
    gchar *legacy = g_build_filename (state, "gst-vss", "spool", "frames-xs",
        NULL);
    gchar *named = g_build_filename (spool_a, "destination", NULL);
    guint64 keys_b = vss_test_count_keys (cb, "frame:*"), first = ids->len;

    run_killed (state, url_a, uri_a, ca, ids);
    admin_cmd (ca, "CLIENT", "UNPAUSE", NULL);
    g_assert_cmpint (g_unlink (named), ==, 0);
    g_assert_cmpint (g_rename (spool_a, legacy), ==, 0);
    status = run_child (state, lines, args);
    g_assert_cmpint (status, ==, 0);
    g_assert_nonnull (find_line (lines, "info: ", "names no destination",
            legacy));
    g_assert_cmpuint (vss_test_count_keys (cb, "frame:*"), >=, keys_b + 15);
    assert_keys (cb, ids, first);
    g_assert_cmpuint (vss_test_count_files (legacy, ".jnl",
            NULL) + vss_test_count_files (legacy, ".rec", NULL), ==, 0);
    g_ptr_array_set_size (lines, 0);
    vss_test_rm_rf (legacy);
    g_free (named);
    g_free (legacy);
  }

  /* 6. adopt-spool: A's frames written to B on purpose. */
  {
    const gchar *args[] = { self_path, "--child", url_b, uri_b, spool_a, "0",
      "adopt", NULL
    };
    guint64 keys_b = vss_test_count_keys (cb, "frame:*"), first = ids->len;

    run_killed (state, url_a, uri_a, ca, ids);
    admin_cmd (ca, "CLIENT", "UNPAUSE", NULL);
    status = run_child (state, lines, args);
    g_assert_cmpint (status, ==, 0);
    g_assert_nonnull (find_line (lines, "warning: ", "adopt-spool", port_a));
    g_assert_cmpuint (vss_test_count_keys (cb, "frame:*"), >=, keys_b + 15);
    assert_keys (cb, ids, first);
    for (guint i = 0; i < lines->len; i++)
      g_assert_null (strstr (g_ptr_array_index (lines, i), "S3cret"));
  }

  vss_valkey_client_free (ca);
  vss_valkey_client_free (cb);
  vss_test_redis_check_reports (ra);
  vss_test_redis_check_reports (rb);
  g_ptr_array_unref (ids);
  g_ptr_array_unref (lines);
  vss_test_rm_rf (dir);
  g_free (spool_a);
  g_free (port_a);
  g_free (port_b);
  g_free (uri_a);
  g_free (uri_b);
  g_free (folder_a);
  g_free (folder_b);
  g_free (state);
  g_free (dir);
  g_free (url_a);
  g_free (url_b);
}

int
main (int argc, char **argv)
{
  if (argc >= 6 && g_str_equal (argv[1], "--child"))
    return child_main (argc, argv);
  if (argc < 2)
    g_error ("usage: %s MODULE_PATH", argv[0]);
  self_path = g_canonicalize_filename (argv[0], NULL);
  module_path = argv[1];
  if (!g_file_test (module_path, G_FILE_TEST_EXISTS))
    g_error ("the Valkey module %s is missing: build modules/valkey",
        module_path);
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
  g_test_add_func ("/vsssink/module/destination", test_destination);
  return g_test_run ();
}
