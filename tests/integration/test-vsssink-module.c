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
  return g_test_run ();
}
