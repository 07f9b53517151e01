/* gst-vss bench: standing queries and vss-search
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   bench-query [--quick] [--module vss-search.so --cli vss-search]
 *               [--bedrock-server vss-bedrock-server]
 *
 * Prints one JSON document:
 *  - standing: per-frame cost of comparing one 1024-d frame embedding with
 *    1, 10 and 100 standing queries (the SIMD kernel and threshold scan that
 *    vssquery runs per frame; target <= 50 us for 100 queries);
 *  - element (with --bedrock-server): vssquery in a harness with 100 text
 *    queries embedded by the Bedrock test server, frames carrying a 1024-d
 *    meta: wall time per frame through the element, and its own
 *    mean-compare-ns;
 *  - search (with --module and --cli): redis-server with our module, N
 *    frames (100k; 10k with --quick) of 111-d local embeddings in the index
 *    "frames", then `vss-search --image ... --json` run end to end (process
 *    start, image decode and embedding, FT.SEARCH, output) and the same
 *    search in-process (gst_vss_query_search_run), with p50/p95 latencies, at
 *    EF_RUNTIME 64, and in-process at the server's default EF_RUNTIME;
 *    nearest_found says whether the query photo's own frame came first in
 *    every run.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <gio/gio.h>
#include <gst/gst.h>
#include <gst/check/gstharness.h>
#include "gstvss.h"
#include "query/gstvssquerydot.h"
#include "query/gstvssqueryset.h"
#include "query/gstvssqueryembed.h"
#include "query/gstvssquerysearch.h"
#include "vss-index.h"
#include "vss-test-redis.h"

#define DIM 1024
#define AK "AKIDVSSBENCHQUERY001"
#define SK "bench/query+Secret0123456789abcdefghijk"

static gboolean opt_quick;
static gchar *opt_module, *opt_cli, *opt_server;

static GOptionEntry entries[] = {
  {"quick", 0, 0, G_OPTION_ARG_NONE, &opt_quick, "Smoke run", NULL},
  {"module", 0, 0, G_OPTION_ARG_FILENAME, &opt_module, "vss-search.so",
      "PATH"},
  {"cli", 0, 0, G_OPTION_ARG_FILENAME, &opt_cli, "vss-search binary", "PATH"},
  {"bedrock-server", 0, 0, G_OPTION_ARG_FILENAME, &opt_server,
      "vss-bedrock-server", "PATH"},
  {NULL}
};

static void
random_unit (GRand * r, gfloat * v, guint dim)
{
  for (guint i = 0; i < dim; i++)
    v[i] = (gfloat) g_rand_double_range (r, -1, 1);
  vss_normalize_f32 (v, dim);
}

static int
cmp_double (gconstpointer a, gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;
  return x < y ? -1 : x > y;
}

static gdouble
percentile (GArray * a, gdouble p)
{
  guint i;

  g_array_sort (a, cmp_double);
  i = (guint) MIN (a->len - 1, floor (p * (a->len - 1) + 0.5));
  return g_array_index (a, gdouble, i);
}

/* ---- standing queries: the per-frame kernel ---- */

static void
bench_standing (GString * out)
{
  static const guint ns[] = { 1, 10, 100 };
  GRand *r = g_rand_new_with_seed (7);
  guint frames = opt_quick ? 2000 : 50000;

  g_string_append_printf (out, "  \"standing\": {\"dim\": %u, \"kernel\": "
      "\"%s\", \"frames\": %u, \"target_us_100\": 50, \"results\": [", DIM,
      gst_vss_query_dot_f32_impl (), frames);
  for (guint k = 0; k < G_N_ELEMENTS (ns); k++) {
    GstVssQuerySet *set = gst_vss_query_set_new (DIM);
    gfloat *v = g_new (gfloat, DIM), *fv = g_new (gfloat, 64 * DIM);
    gfloat *d = g_new (gfloat, ns[k]);
    gint64 t0, dt;
    guint hits = 0;
    GArray *per = g_array_new (FALSE, FALSE, sizeof (gdouble));

    for (guint i = 0; i < ns[k]; i++) {
      GstVssQuerySpec s = { 0, };
      s.id = g_strdup_printf ("q%u", i);
      s.text = (gchar *) "x";
      s.threshold = 0.3;
      s.cooldown_ms = -1;
      random_unit (r, v, DIM);
      gst_vss_query_set_add (set, &s, v, DIM, NULL);
      g_free (s.id);
    }
    for (guint i = 0; i < 64; i++)
      random_unit (r, fv + i * DIM, DIM);
    t0 = g_get_monotonic_time ();
    for (guint f = 0; f < frames; f++) {
      gint64 a = (f % 1000 == 0) ? g_get_monotonic_time () : 0;
      gst_vss_query_set_distances (set, fv + (f % 64) * DIM, d);
      for (guint i = 0; i < ns[k]; i++)
        hits += d[i] <= gst_vss_query_set_get_spec (set, i)->threshold;
      if (a) {
        gdouble x = (gdouble) (g_get_monotonic_time () - a);
        g_array_append_val (per, x);
      }
    }
    dt = g_get_monotonic_time () - t0;
    g_string_append_printf (out, "%s\n    {\"queries\": %u, "
        "\"us_per_frame\": %.3f, \"ns_per_query\": %.1f, \"hits\": %u}",
        k ? "," : "", ns[k], (gdouble) dt / frames,
        (gdouble) dt * 1000.0 / frames / ns[k], hits);
    g_array_unref (per);
    g_free (v);
    g_free (fv);
    g_free (d);
    gst_vss_query_set_unref (set);
  }
  g_string_append (out, "\n  ]}");
  g_rand_free (r);
}

/* ---- the element with 100 Bedrock text queries ---- */

static GSubprocess *
start_server (gchar ** endpoint)
{
  const gchar *argv[] = { opt_server, "--access-key=" AK, "--secret-key=" SK,
    "--region=us-east-1", NULL
  };
  GError *err = NULL;
  GSubprocess *p = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDIN_PIPE |
      G_SUBPROCESS_FLAGS_STDOUT_PIPE, &err);
  GDataInputStream *in;
  gchar *line;
  guint port = 0;

  if (!p)
    g_error ("%s: %s", opt_server, err->message);
  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (p));
  line = g_data_input_stream_read_line (in, NULL, NULL, NULL);
  g_object_unref (in);
  if (!line || sscanf (line, "PORT %u", &port) != 1)
    g_error ("the Bedrock test server did not start");
  g_free (line);
  *endpoint = g_strdup_printf ("http://127.0.0.1:%u", port);
  return p;
}

static void
bench_element (GString * out)
{
  gchar *endpoint;
  GSubprocess *srv = start_server (&endpoint);
  GString *q = g_string_new ("[");
  GstHarness *h = gst_harness_new ("vssquery");
  GstStructure *stats;
  GRand *r = g_rand_new_with_seed (3);
  guint frames = opt_quick ? 500 : 10000;
  gfloat *v = g_new (gfloat, DIM);
  guint64 cmp_ns = 0, matches = 0;
  gint64 t0, t_setup, dt;
  GstBuffer *tmpl;

  for (guint i = 0; i < 100; i++)
    g_string_append_printf (q, "%s{\"text\":\"query number %u\","
        "\"threshold\":0.3}", i ? "," : "", i);
  g_string_append_c (q, ']');
  gst_element_set_state (h->element, GST_STATE_NULL);
  g_object_set (h->element, "provider", GST_VSS_QUERY_PROVIDER_BEDROCK,
      "endpoint", endpoint, "region", "us-east-1", "access-key-id", AK,
      "secret-access-key", SK, "queries", q->str, NULL);
  t_setup = g_get_monotonic_time ();
  gst_harness_set_src_caps_str (h, "video/x-raw,format=I420,width=64,"
      "height=48,framerate=30/1");
  gst_harness_play (h);
  t_setup = g_get_monotonic_time () - t_setup;
  random_unit (r, v, DIM);
  tmpl = gst_buffer_new_allocate (NULL, 64 * 48 * 3 / 2, NULL);
  t0 = g_get_monotonic_time ();
  for (guint f = 0; f < frames; f++) {
    GstBuffer *b = gst_buffer_copy (tmpl);
    gchar id[GST_VSS_FRAME_ID_SIZE];

    gst_vss_frame_id_new (g_get_real_time (), id);
    gst_vss_buffer_add_embedding_meta (b, GST_VSS_BEDROCK_IMAGE_MODEL, v, DIM,
        TRUE, id);
    GST_BUFFER_PTS (b) = f * GST_SECOND / 30;
    gst_harness_push (h, b);
    gst_buffer_unref (gst_harness_pull (h));
  }
  dt = g_get_monotonic_time () - t0;
  g_object_get (h->element, "stats", &stats, NULL);
  gst_structure_get_uint64 (stats, "mean-compare-ns", &cmp_ns);
  gst_structure_get_uint64 (stats, "matches", &matches);
  gst_structure_free (stats);
  g_string_append_printf (out, ",\n  \"element\": {\"queries\": 100, "
      "\"dim\": %u, \"frames\": %u, \"start_ms_embedding_100_texts\": %.1f, "
      "\"us_per_frame_through_harness\": %.2f, \"mean_compare_us\": %.2f, "
      "\"matches\": %" G_GUINT64_FORMAT "}", DIM, frames, t_setup / 1000.0,
      (gdouble) dt / frames, cmp_ns / 1000.0, matches);
  gst_buffer_unref (tmpl);
  gst_harness_teardown (h);
  g_subprocess_send_signal (srv, SIGTERM);
  g_subprocess_wait (srv, NULL, NULL);
  g_object_unref (srv);
  g_free (endpoint);
  g_string_free (q, TRUE);
  g_rand_free (r);
  g_free (v);
}

/* ---- vss-search end to end with N frames ---- */

static const gchar *
query_photo (void)
{
  return "/usr/share/backgrounds/mate/nature/Aqua.jpg";
}

static void
bench_search (GString * out)
{
  const gchar *extra[] = { "--loadmodule", opt_module, NULL };
  static const gchar *const tags[] = { "stream", NULL };
  static const gchar *const nums[] = { "ts", NULL };
  VssTestRedisOptions o = { 0, };
  VssValkeyIndexSpec spec = { 0, };
  GstVssQueryEmbedderOptions eo = { GST_VSS_QUERY_PROVIDER_LOCAL, };
  GstVssQueryEmbedder *e;
  VssTestRedis *redis;
  VssValkeyClient *c;
  VssValkeyPipeline *p;
  GError *err = NULL;
  GRand *r = g_rand_new_with_seed (11);
  guint n = opt_quick ? 10000 : 100000, runs = opt_quick ? 5 : 20;
  guint dim, depth = 500, done = 0;
  gfloat *v, *qv;
  gchar *url, *nearest_key = NULL;
  gint64 now = g_get_real_time () / 1000, t0;
  gdouble load_s;
  GArray *cli_ms = g_array_new (FALSE, FALSE, sizeof (gdouble));
  GArray *inproc_ms = g_array_new (FALSE, FALSE, sizeof (gdouble));
  GArray *inproc_default_ms = g_array_new (FALSE, FALSE, sizeof (gdouble));
  gboolean correct = TRUE, correct_default = TRUE;

  o.extra_args = extra;
  redis = vss_test_redis_start (&o, &err);
  if (!redis)
    g_error ("redis-server: %s", err->message);
  url = vss_test_redis_get_url (redis, "cluster=no");
  c = vss_valkey_client_new_from_url (url, &err);
  e = gst_vss_query_embedder_new (&eo, NULL);
  dim = gst_vss_query_embedder_get_dim (e);
  spec.name = "frames";
  spec.prefix = "frame:";
  spec.vector_field = "vector";
  spec.dim = dim;
  spec.metric = VSS_VALKEY_METRIC_COSINE;
  spec.algorithm = VSS_VALKEY_ALGORITHM_HNSW;
  spec.tag_fields = tags;
  spec.numeric_fields = nums;
  if (!vss_valkey_ensure_index (c, &spec, FALSE, NULL, &err))
    g_error ("FT.CREATE: %s", err->message);
  qv = gst_vss_query_embedder_embed_file (e, query_photo (), &err);
  if (!qv)
    g_error ("%s", err->message);

  /* N documents: random unit vectors, and the query photo's own vector
   * in the middle, whose key must come back first. */
  v = g_new (gfloat, dim);
  p = vss_valkey_pipeline_new ();
  t0 = g_get_monotonic_time ();
  while (done < n) {
    GPtrArray *keep = g_ptr_array_new_with_free_func (g_free);

    vss_valkey_pipeline_clear (p);
    for (guint j = 0; j < depth && done < n; j++, done++) {
      gchar id[GST_VSS_FRAME_ID_SIZE];
      gchar *key, *ts, *stream, *uri;
      const gchar *argv[12];
      gsize argvlen[12];
      guint32 *blob = g_new (guint32, dim);

      if (done == n / 2)
        memcpy (v, qv, dim * sizeof (gfloat));
      else
        random_unit (r, v, dim);
      for (guint i = 0; i < dim; i++)
        memcpy (&blob[i], &v[i], 4);
      gst_vss_frame_id_new ((now - (gint64) (n - done) * 1000) * 1000, id);
      stream = g_strdup_printf ("cam%u", done % 8);
      key = g_strdup_printf ("frame:%s:%s", stream, id);
      if (done == n / 2)
        nearest_key = g_strdup (key);
      ts = g_strdup_printf ("%" G_GINT64_FORMAT, now - (gint64) (n - done) *
          1000);
      uri = g_strdup_printf ("file:///srv/frames/%s/%s.jpg", stream, id);
      argv[0] = "HSET";
      argv[1] = key;
      argv[2] = "vector";
      argv[3] = (const gchar *) blob;
      argv[4] = "stream";
      argv[5] = stream;
      argv[6] = "ts";
      argv[7] = ts;
      argv[8] = "uri";
      argv[9] = uri;
      argv[10] = "id";
      argv[11] = id;
      for (guint i = 0; i < 12; i++)
        argvlen[i] = i == 3 ? dim * 4 : strlen (argv[i]);
      vss_valkey_pipeline_append (p, key, strlen (key), 0, 12, argv, argvlen);
      g_ptr_array_add (keep, key);
      g_ptr_array_add (keep, ts);
      g_ptr_array_add (keep, stream);
      g_ptr_array_add (keep, uri);
      g_ptr_array_add (keep, blob);
    }
    if (!vss_valkey_client_execute (c, p, NULL, &err))
      g_error ("HSET: %s", err->message);
    g_ptr_array_unref (keep);
  }
  load_s = (g_get_monotonic_time () - t0) / 1e6;

  for (guint i = 0; i < 2 * runs; i++) {
    GstVssQuerySearchRequest req;
    GPtrArray *res;
    gdouble ms;
    gboolean found;

    /* Even runs: the server's default EF_RUNTIME; odd runs: 64. */
    gst_vss_query_search_request_init (&req);
    req.vector = qv;
    req.dim = dim;
    req.k = 10;
    req.ef_runtime = i % 2 ? 64 : 0;
    t0 = g_get_monotonic_time ();
    res = gst_vss_query_search_run (c, &req, FALSE, NULL, &err);
    ms = (g_get_monotonic_time () - t0) / 1000.0;
    if (!res)
      g_error ("search: %s", err->message);
    found = res->len > 0 && !g_strcmp0 (((GstVssQuerySearchResult *)
            g_ptr_array_index (res, 0))->key, nearest_key);
    if (i % 2) {
      correct &= found;
      g_array_append_val (inproc_ms, ms);
    } else {
      correct_default &= found;
      g_array_append_val (inproc_default_ms, ms);
    }
    g_ptr_array_unref (res);
  }
  for (guint i = 0; i < runs; i++) {
    const gchar *argv[] = { opt_cli, "--image", query_photo (), "-k", "10",
      "--ef-runtime", "64", "--json", "-V", url, NULL
    };
    GSubprocess *sp;
    gchar *so = NULL;
    gdouble ms;

    t0 = g_get_monotonic_time ();
    sp = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &err);
    if (!sp || !g_subprocess_communicate_utf8 (sp, NULL, NULL, &so, NULL, &err))
      g_error ("%s: %s", opt_cli, err->message);
    ms = (g_get_monotonic_time () - t0) / 1000.0;
    correct &= g_subprocess_get_exit_status (sp) == 0 && so
        && strstr (so, nearest_key) != NULL;
    g_free (so);
    g_object_unref (sp);
    g_array_append_val (cli_ms, ms);
  }
  g_string_append_printf (out, ",\n  \"search\": {\"frames\": %u, \"dim\": "
      "%u, \"k\": 10, \"ef_runtime\": 64, \"load_s\": %.1f, \"runs\": %u, "
      "\"nearest_found\": %s, \"cli_ms_p50\": %.2f, \"cli_ms_p95\": %.2f, "
      "\"inprocess_ms_p50\": %.3f, \"inprocess_ms_p95\": %.3f, "
      "\"default_ef\": {\"nearest_found\": %s, \"inprocess_ms_p50\": %.3f}}",
      n, dim, load_s, runs, correct ? "true" : "false",
      percentile (cli_ms, 0.5), percentile (cli_ms, 0.95),
      percentile (inproc_ms, 0.5), percentile (inproc_ms, 0.95),
      correct_default ? "true" : "false", percentile (inproc_default_ms, 0.5));

  g_array_unref (cli_ms);
  g_array_unref (inproc_ms);
  g_array_unref (inproc_default_ms);
  g_free (nearest_key);
  g_free (v);
  g_free (qv);
  vss_valkey_pipeline_free (p);
  vss_valkey_client_free (c);
  gst_vss_query_embedder_free (e);
  vss_test_redis_free (redis);
  g_free (url);
  g_rand_free (r);
}

int
main (int argc, char **argv)
{
  GOptionContext *ctx = g_option_context_new ("- vssquery / vss-search "
      "benchmark");
  GError *err = NULL;
  GString *out = g_string_new ("{\n");

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    g_printerr ("%s\n", err->message);
    return 2;
  }
  g_option_context_free (ctx);
  gst_init (NULL, NULL);
  if (g_getenv ("VSS_BENCH_QUICK"))
    opt_quick = TRUE;
  g_string_append_printf (out, "  \"benchmark\": \"query\", \"quick\": %s,\n",
      opt_quick ? "true" : "false");
  bench_standing (out);
  if (opt_server)
    bench_element (out);
  if (opt_module && opt_cli)
    bench_search (out);
  g_string_append (out, "\n}\n");
  fputs (out->str, stdout);
  g_string_free (out, TRUE);
  return 0;
}
