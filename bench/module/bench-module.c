/* gst-vss bench: the Valkey module (vss-search.so) in a local redis-server
 * over loopback, through our client: pipelined HSET of 1024-d documents
 * with the index maintained, then FT.SEARCH KNN 10 (EF_RUNTIME 64) from one
 * client, with recall@10 against exact search.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Usage: bench-module MODULE [--quick] [--int8] [n_docs] [n_queries]
 * (--int8 loads the module with its INT8 argument).
 * Prints one JSON document. Targets (issue 7): ingest >= 1000 docs/s,
 * >= 1000 queries/s at recall@10 >= 0.95.
 *
 * Data resembles video embeddings (vss_gen_video of tests/index, after
 * vector-index.md): scenes of 30-600 frames whose centre drifts, cuts and
 * revisits. Queries are frames of the same stream held out of the index.
 */
#include <stdio.h>
#include <string.h>
#include "vss-index.h"
#include "vss-bench-module.h"
#include "vss-test-redis.h"

#define DIM VSS_BENCH_DIM
#define K VSS_BENCH_K
#define EF VSS_BENCH_EF

int
main (int argc, char **argv)
{
  const gchar *module;
  gboolean quick = FALSE;
  guint n = 100000, nq = 1000, a = 2;
  GError *err = NULL;
  VssTestRedis *r;
  VssValkeyClient *c;
  gfloat *data, *queries;
  gchar *url;
  gint64 t0, t_ingest, t_search;
  gdouble cpu0, cpu_ingest, cpu_search;
  guint hits = 0;
  gdouble ingest_rate, qps, recall;
  VssValkeyReply *rep;
  guint64 docs;
  const gchar *margs[2] = { NULL, NULL };
  gboolean int8 = FALSE;
  VssTestRedisOptions opts = { 0, };

  if (argc < 2)
    g_error ("usage: %s MODULE [--quick] [n_docs] [n_queries]", argv[0]);
  /* The server runs in its own directory: an absolute path. */
  module = g_canonicalize_filename (argv[1], NULL);
  if (argc > a && !strcmp (argv[a], "--quick")) {
    quick = TRUE;
    n = 5000;
    nq = 200;
    a++;
  }
  if (argc > a && !strcmp (argv[a], "--int8")) {
    int8 = TRUE;
    margs[0] = "INT8";
    a++;
  }
  if (argc > a)
    n = (guint) g_ascii_strtoull (argv[a++], NULL, 10);
  if (argc > a)
    nq = (guint) g_ascii_strtoull (argv[a++], NULL, 10);

  data = vss_bench_generate (n, nq, &queries);

  opts.module = module;
  opts.module_args = margs;
  r = vss_test_redis_start (&opts, &err);
  if (r == NULL)
    g_error ("redis-server with %s: %s", module, err->message);
  url = vss_test_redis_get_url (r, "cluster=no");
  c = vss_bench_connect (url);
  vss_bench_create_index (c);

  /* Ingest: pipelined HSET. The clock stops at FT.INFO's answer, which
   * comes once every acknowledged write is indexed (at once when the module
   * indexes synchronously, later with a background indexing thread). */
  cpu0 = vss_bench_server_cpu (c);
  t0 = g_get_monotonic_time ();
  vss_bench_ingest (c, data, 0, n);
  docs = vss_bench_num_docs (c);
  t_ingest = g_get_monotonic_time () - t0;
  cpu_ingest = vss_bench_server_cpu (c) - cpu0;
  if (docs != n)
    g_error ("num_docs is %" G_GUINT64_FORMAT ", not %u", docs, n);

  /* Search: one client, one query at a time. */
  {
    guint *truth = g_new (guint, (gsize) nq * K);
    gchar **got = g_new0 (gchar *, (gsize) nq * K);
    const gchar *query = "*=>[KNN 10 @vector $q EF_RUNTIME 64 AS score]";
    for (guint i = 0; i < nq; i++)
      vss_bench_exact_topk (data, n, queries + (gsize) i * DIM,
          truth + (gsize) i * K);
    cpu0 = vss_bench_server_cpu (c);
    t0 = g_get_monotonic_time ();
    for (guint i = 0; i < nq; i++) {
      const gchar *argv2[] = { "FT.SEARCH", "frames", query, "PARAMS", "2",
        "q", (const gchar *) (queries + (gsize) i * DIM), "RETURN", "1",
        "score", "DIALECT", "2"
      };
      gsize lens[12];
      for (guint k = 0; k < 12; k++)
        lens[k] = k == 6 ? DIM * sizeof (gfloat) : strlen (argv2[k]);
      rep = vss_bench_command (c, 12, argv2, lens);
      if (rep->type != REDIS_REPLY_ARRAY)
        g_error ("FT.SEARCH: %s", rep->str);
      for (size_t e = 1, k = 0; e < rep->elements && k < K; e += 2, k++)
        got[(gsize) i * K + k] = g_strdup (rep->element[e]->str);
      freeReplyObject (rep);
    }
    t_search = g_get_monotonic_time () - t0;
    cpu_search = vss_bench_server_cpu (c) - cpu0;
    for (guint i = 0; i < nq; i++)
      for (guint k = 0; k < K; k++) {
        gchar want[32];
        g_snprintf (want, sizeof want, "frame:%u", truth[(gsize) i * K + k]);
        for (guint j = 0; j < K; j++)
          if (got[(gsize) i * K + j] && !strcmp (got[(gsize) i * K + j], want)) {
            hits++;
            break;
          }
      }
    for (gsize i = 0; i < (gsize) nq * K; i++)
      g_free (got[i]);
    g_free (got);
    g_free (truth);
  }

  ingest_rate = n / (t_ingest / 1e6);
  qps = nq / (t_search / 1e6);
  recall = (gdouble) hits / ((gdouble) nq * K);
  printf ("{\n  \"bench\": \"module-knn\",\n  \"quick\": %s,\n"
      "  \"storage\": \"%s\",\n"
      "  \"kernel\": \"%s\",\n  \"docs\": %u,\n  \"dim\": %d,\n"
      "  \"m\": 16,\n  \"ef_construction\": 200,\n"
      "  \"ingest_seconds\": %.2f,\n  \"ingest_docs_per_s\": %.0f,\n"
      "  \"queries\": %u,\n  \"k\": %d,\n  \"ef_runtime\": %d,\n"
      "  \"queries_per_s\": %.0f,\n  \"mean_query_ms\": %.3f,\n"
      "  \"recall_at_10\": %.4f,\n"
      "  \"server_cpu_s_ingest\": %.2f,\n"
      "  \"ingest_docs_per_server_cpu_s\": %.0f,\n"
      "  \"server_cpu_s_search\": %.2f,\n"
      "  \"queries_per_server_cpu_s\": %.0f,\n"
      "  \"load_average_1min\": %.2f,\n"
      "  \"targets\": {\"ingest_docs_per_s\": 1000, \"queries_per_s\": 1000, "
      "\"recall_at_10\": 0.95},\n  \"meets_targets\": %s\n}\n",
      quick ? "true" : "false", int8 ? "int8" : "f32", vss_kernel_name (), n,
      DIM, t_ingest / 1e6, ingest_rate, nq, K, EF, qps, t_search / 1e3 / nq,
      recall, cpu_ingest, n / MAX (cpu_ingest, 1e-6), cpu_search,
      nq / MAX (cpu_search, 1e-6), vss_bench_load_average (),
      ingest_rate >= 1000 && qps >= 1000 && recall >= 0.95 ? "true" : "false");

  vss_valkey_client_free (c);
  vss_test_redis_free (r);
  g_free (url);
  g_free ((gchar *) module);
  g_free (data);
  g_free (queries);
  return 0;
}
