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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gio/gio.h>
#include "valkey/gstvssvalkeyclient.h"
#include "vss-index.h"
#include "vss-datagen.h"
#include "vss-test-redis.h"

#define DIM 1024
#define K 10
#define EF 64
#define DEPTH 64

/* The project's video-like generator (tests/index/vss-datagen.h, after
 * vector-index.md), so that recall here means what it means for index/. */
static gfloat *
generate (guint n, guint nq, gfloat ** queries)
{
  gfloat *all = g_new (gfloat, (gsize) (n + nq) * DIM);
  gfloat *base = g_new (gfloat, (gsize) n * DIM);
  gsize got;

  *queries = g_new (gfloat, (gsize) nq * DIM);
  vss_gen_video (all, n + nq, DIM, 42);
  got = vss_gen_split (all, n + nq, DIM, (n + nq) / nq, base, *queries, nq);
  if (got != nq)
    g_error ("could not split %u queries", nq);
  g_free (all);
  return base;
}

static gint64
now_us (void)
{
  return g_get_monotonic_time ();
}

static VssValkeyReply *
command (VssValkeyClient * c, gint argc, const gchar ** argv,
    const gsize * lens)
{
  GError *err = NULL;
  VssValkeyReply *r = vss_valkey_command (c, NULL, &err, argc, argv, lens);

  if (r == NULL)
    g_error ("%s: %s", argv[0], err->message);
  return r;
}

static VssValkeyReply *
simple (VssValkeyClient * c, const gchar * a0, const gchar * a1,
    const gchar * a2)
{
  const gchar *argv[] = { a0, a1, a2 };
  gsize lens[3];
  gint argc = a2 ? 3 : a1 ? 2 : 1;

  for (gint i = 0; i < argc; i++)
    lens[i] = strlen (argv[i]);
  return command (c, argc, argv, lens);
}

/* CPU seconds of the server's main thread (INFO cpu): throughput per CPU
 * second is what the server can do on an idle machine, whatever the load of
 * this one. */
static gdouble
server_cpu (VssValkeyClient * c)
{
  VssValkeyReply *r = simple (c, "INFO", "cpu", NULL);
  const gchar *u = strstr (r->str, "used_cpu_user_main_thread:");
  const gchar *s = strstr (r->str, "used_cpu_sys_main_thread:");
  gdouble t;

  if (u == NULL || s == NULL)
    g_error ("INFO cpu lacks the main thread's CPU time");
  t = g_ascii_strtod (u + strlen ("used_cpu_user_main_thread:"), NULL)
      + g_ascii_strtod (s + strlen ("used_cpu_sys_main_thread:"), NULL);
  freeReplyObject (r);
  return t;
}

/* Exact top-K ids by cosine distance (data is unit length). */
static void
exact_topk (const gfloat * data, guint n, const gfloat * q, guint * out)
{
  gfloat best[K];
  guint m = 0;

  for (guint i = 0; i < n; i++) {
    gfloat d = 1.0f - vss_dot_f32 (q, data + (gsize) i * DIM, DIM);
    gint j;
    if (m == K && d >= best[K - 1])
      continue;
    j = m < K ? (gint) m++ : K - 1;
    while (j > 0 && best[j - 1] > d) {
      best[j] = best[j - 1];
      out[j] = out[j - 1];
      j--;
    }
    best[j] = d;
    out[j] = i;
  }
}

static gdouble
load_average (void)
{
  gchar *text = NULL;
  gdouble l = -1;

  if (g_file_get_contents ("/proc/loadavg", &text, NULL, NULL))
    l = g_ascii_strtod (text, NULL);
  g_free (text);
  return l;
}

int
main (int argc, char **argv)
{
  const gchar *module;
  gboolean quick = FALSE;
  guint n = 100000, nq = 1000, a = 2;
  GError *err = NULL;
  VssTestRedis *r;
  VssValkeyClient *c;
  VssValkeyPipeline *p;
  gfloat *data, *queries;
  gchar *url;
  gint64 t0, t_ingest, t_search;
  gdouble cpu0, cpu_ingest, cpu_search;
  guint hits = 0;
  gdouble ingest_rate, qps, recall;
  VssValkeyReply *rep;
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

  data = generate (n, nq, &queries);

  opts.module = module;
  opts.module_args = margs;
  r = vss_test_redis_start (&opts, &err);
  if (r == NULL)
    g_error ("redis-server with %s: %s", module, err->message);
  url = vss_test_redis_get_url (r, "cluster=no");
  c = vss_valkey_client_new_from_url (url, &err);
  if (c == NULL || !vss_valkey_client_connect (c, NULL, &err))
    g_error ("connect: %s", err->message);
  {
    const gchar *create[] = { "FT.CREATE", "frames", "ON", "HASH", "PREFIX",
      "1", "frame:", "SCHEMA", "vector", "VECTOR", "HNSW", "10", "TYPE",
      "FLOAT32", "DIM", "1024", "DISTANCE_METRIC", "COSINE", "M", "16",
      "EF_CONSTRUCTION", "200", "stream", "TAG", "ts", "NUMERIC"
    };
    gsize lens[G_N_ELEMENTS (create)];
    for (guint i = 0; i < G_N_ELEMENTS (create); i++)
      lens[i] = strlen (create[i]);
    rep = command (c, G_N_ELEMENTS (create), create, lens);
    if (rep->type != REDIS_REPLY_STATUS)
      g_error ("FT.CREATE: %s", rep->str);
    freeReplyObject (rep);
  }

  /* Ingest: pipelined HSET, the index maintained synchronously. */
  p = vss_valkey_pipeline_new ();
  cpu0 = server_cpu (c);
  t0 = now_us ();
  for (guint i = 0; i < n;) {
    gchar keys[DEPTH][32], ts[DEPTH][24];
    vss_valkey_pipeline_clear (p);
    for (guint j = 0; j < DEPTH && i < n; j++, i++) {
      const gchar *argv2[] = { "HSET", keys[j], "vector",
        (const gchar *) (data + (gsize) i * DIM), "stream", "cam1", "ts",
        ts[j]
      };
      gsize lens[8];
      g_snprintf (keys[j], sizeof keys[j], "frame:%u", i);
      g_snprintf (ts[j], sizeof ts[j], "%u", i);
      for (guint k = 0; k < 8; k++)
        lens[k] = k == 3 ? DIM * sizeof (gfloat) : strlen (argv2[k]);
      vss_valkey_pipeline_append (p, keys[j], strlen (keys[j]), 0, 8, argv2,
          lens);
    }
    if (!vss_valkey_client_execute (c, p, NULL, &err))
      g_error ("HSET: %s", err->message);
  }
  t_ingest = now_us () - t0;
  cpu_ingest = server_cpu (c) - cpu0;
  vss_valkey_pipeline_free (p);
  rep = simple (c, "FT.INFO", "frames", NULL);
  for (size_t i = 0; i + 1 < rep->elements; i += 2)
    if (!strcmp (rep->element[i]->str, "num_docs")
        && g_ascii_strtoull (rep->element[i + 1]->str, NULL, 10) != n)
      g_error ("num_docs is %s, not %u", rep->element[i + 1]->str, n);
  freeReplyObject (rep);

  /* Search: one client, one query at a time. */
  {
    guint *truth = g_new (guint, (gsize) nq * K);
    gchar **got = g_new0 (gchar *, (gsize) nq * K);
    const gchar *query = "*=>[KNN 10 @vector $q EF_RUNTIME 64 AS score]";
    for (guint i = 0; i < nq; i++)
      exact_topk (data, n, queries + (gsize) i * DIM, truth + (gsize) i * K);
    cpu0 = server_cpu (c);
    t0 = now_us ();
    for (guint i = 0; i < nq; i++) {
      const gchar *argv2[] = { "FT.SEARCH", "frames", query, "PARAMS", "2",
        "q", (const gchar *) (queries + (gsize) i * DIM), "RETURN", "1",
        "score", "DIALECT", "2"
      };
      gsize lens[12];
      for (guint k = 0; k < 12; k++)
        lens[k] = k == 6 ? DIM * sizeof (gfloat) : strlen (argv2[k]);
      rep = command (c, 12, argv2, lens);
      if (rep->type != REDIS_REPLY_ARRAY)
        g_error ("FT.SEARCH: %s", rep->str);
      for (size_t e = 1, k = 0; e < rep->elements && k < K; e += 2, k++)
        got[(gsize) i * K + k] = g_strdup (rep->element[e]->str);
      freeReplyObject (rep);
    }
    t_search = now_us () - t0;
    cpu_search = server_cpu (c) - cpu0;
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
      quick ? "true" : "false", int8 ? "int8" : "f32", vss_kernel_name (), n, DIM, t_ingest / 1e6,
      ingest_rate, nq, K, EF, qps, t_search / 1e3 / nq, recall,
      cpu_ingest, n / MAX (cpu_ingest, 1e-6), cpu_search,
      nq / MAX (cpu_search, 1e-6), load_average (),
      ingest_rate >= 1000 && qps >= 1000 && recall >= 0.95 ? "true" : "false");

  vss_valkey_client_free (c);
  vss_test_redis_free (r);
  g_free (url);
  g_free ((gchar *) module);
  g_free (data);
  g_free (queries);
  return 0;
}
