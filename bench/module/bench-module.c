/* gst-vss bench: the Valkey module (vss-search.so) in a local redis-server
 * over loopback, through our client: pipelined HSET of 1024-d documents
 * with the index maintained, then FT.SEARCH KNN 10 (EF_RUNTIME 64) from one
 * client, with recall@10 against exact search.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Usage: bench-module MODULE [--quick] [n_docs] [n_queries]
 * Prints one JSON document. Targets (issue 7): ingest >= 1000 docs/s,
 * >= 1000 queries/s at recall@10 >= 0.95.
 *
 * Data resembles video embeddings (see vector-index.md): scenes of 30-600
 * frames whose centre drifts, frames scattered around it, cuts and
 * revisits of earlier scenes. Queries are new frames near random documents.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gio/gio.h>
#include "gstvssvalkeyclient.h"
#include "vss-index.h"
#include "vss-test-redis.h"

#define DIM 1024
#define K 10
#define EF 64
#define DEPTH 64

static guint64 rng_state = 0x9e3779b97f4a7c15ULL;

static guint64
rng_next (void)
{
  guint64 x = rng_state;

  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return rng_state = x;
}

static gdouble
rng_uniform (void)
{
  return ((rng_next () >> 11) + 0.5) / 9007199254740992.0;
}

static gfloat
rng_normal (void)
{
  return (gfloat) (sqrt (-2.0 * log (rng_uniform ()))
      * cos (2 * G_PI * rng_uniform ()));
}

static void
normalise (gfloat * v)
{
  vss_normalize_f32 (v, DIM);
}

static void
random_unit (gfloat * v)
{
  for (guint i = 0; i < DIM; i++)
    v[i] = rng_normal ();
  normalise (v);
}

/* n video-like vectors. */
static gfloat *
generate (guint n)
{
  gfloat *data = g_new (gfloat, (gsize) n * DIM);
  gfloat *centre = g_new (gfloat, DIM);
  guint i = 0, scenes = 0;

  while (i < n) {
    guint len = 30 + (guint) (rng_uniform () * 571);
    if (scenes > 4 && rng_uniform () < 0.1) {
      /* Revisit: start again near a frame of an earlier scene. */
      memcpy (centre, data + (gsize) (rng_uniform () * i) * DIM,
          DIM * sizeof (gfloat));
    } else
      random_unit (centre);
    scenes++;
    for (guint f = 0; f < len && i < n; f++, i++) {
      gfloat *v = data + (gsize) i * DIM;
      for (guint d = 0; d < DIM; d++)
        centre[d] += 0.02f * rng_normal () / sqrtf (DIM);
      normalise (centre);
      for (guint d = 0; d < DIM; d++)
        v[d] = centre[d] + 0.01f * rng_normal () / sqrtf (DIM) * 10;
      normalise (v);
    }
  }
  g_free (centre);
  return data;
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
  guint hits = 0;
  gdouble ingest_rate, qps, recall;
  VssValkeyReply *rep;
  const gchar *serv_args[3] = { "--loadmodule", NULL, NULL };
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
  if (argc > a)
    n = (guint) g_ascii_strtoull (argv[a++], NULL, 10);
  if (argc > a)
    nq = (guint) g_ascii_strtoull (argv[a++], NULL, 10);

  data = generate (n);
  queries = g_new (gfloat, (gsize) nq * DIM);
  for (guint i = 0; i < nq; i++) {
    const gfloat *base = data + (gsize) (rng_uniform () * n) * DIM;
    gfloat *q = queries + (gsize) i * DIM;
    for (guint d = 0; d < DIM; d++)
      q[d] = base[d] + 0.01f * rng_normal () / sqrtf (DIM) * 10;
    normalise (q);
  }

  serv_args[1] = module;
  opts.extra_args = serv_args;
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
      "  \"kernel\": \"%s\",\n  \"docs\": %u,\n  \"dim\": %d,\n"
      "  \"m\": 16,\n  \"ef_construction\": 200,\n"
      "  \"ingest_seconds\": %.2f,\n  \"ingest_docs_per_s\": %.0f,\n"
      "  \"queries\": %u,\n  \"k\": %d,\n  \"ef_runtime\": %d,\n"
      "  \"queries_per_s\": %.0f,\n  \"mean_query_ms\": %.3f,\n"
      "  \"recall_at_10\": %.4f,\n"
      "  \"targets\": {\"ingest_docs_per_s\": 1000, \"queries_per_s\": 1000, "
      "\"recall_at_10\": 0.95},\n  \"meets_targets\": %s\n}\n",
      quick ? "true" : "false", vss_kernel_name (), n, DIM, t_ingest / 1e6,
      ingest_rate, nq, K, EF, qps, t_search / 1e3 / nq, recall,
      ingest_rate >= 1000 && qps >= 1000 && recall >= 0.95 ? "true" : "false");

  vss_valkey_client_free (c);
  vss_test_redis_free (r);
  g_free (url);
  g_free ((gchar *) module);
  g_free (data);
  g_free (queries);
  return 0;
}
