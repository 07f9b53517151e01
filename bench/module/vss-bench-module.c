/* gst-vss bench: what the module benchmarks share
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include "vss-bench-module.h"
#include "vss-index.h"
#include "vss-datagen.h"

#define DIM VSS_BENCH_DIM
#define K VSS_BENCH_K

/* The project's video-like generator (tests/index/vss-datagen.h, after
 * vector-index.md), so that recall here means what it means for index/. */
gfloat *
vss_bench_generate (guint n, guint nq, gfloat ** queries)
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

VssValkeyClient *
vss_bench_connect (const gchar * url)
{
  GError *err = NULL;
  VssValkeyClient *c = vss_valkey_client_new_from_url (url, &err);

  if (c == NULL || !vss_valkey_client_connect (c, NULL, &err))
    g_error ("connect to %s: %s", url, err->message);
  return c;
}

VssValkeyReply *
vss_bench_command (VssValkeyClient * c, gint argc, const gchar ** argv,
    const gsize * lens)
{
  GError *err = NULL;
  VssValkeyReply *r = vss_valkey_command (c, NULL, &err, argc, argv, lens);

  if (r == NULL)
    g_error ("%s: %s", argv[0], err->message);
  return r;
}

VssValkeyReply *
vss_bench_cmd (VssValkeyClient * c, ...)
{
  GPtrArray *argv = g_ptr_array_new ();
  GArray *lens = g_array_new (FALSE, FALSE, sizeof (gsize));
  const gchar *a;
  VssValkeyReply *r;
  va_list ap;

  va_start (ap, c);
  while ((a = va_arg (ap, const gchar *)))
  {
    gsize len = strlen (a);
    g_ptr_array_add (argv, (gpointer) a);
    g_array_append_val (lens, len);
  }
  va_end (ap);
  r = vss_bench_command (c, argv->len, (const gchar **) argv->pdata,
      (const gsize *) lens->data);
  g_ptr_array_unref (argv);
  g_array_unref (lens);
  return r;
}

void
vss_bench_create_index (VssValkeyClient * c)
{
  const gchar *create[] = { "FT.CREATE", VSS_BENCH_INDEX, "ON", "HASH",
    "PREFIX", "1", VSS_BENCH_PREFIX, "SCHEMA", "vector", "VECTOR", "HNSW",
    "10", "TYPE", "FLOAT32", "DIM", "1024", "DISTANCE_METRIC", "COSINE", "M",
    "16", "EF_CONSTRUCTION", "200", "stream", "TAG", "ts", "NUMERIC"
  };
  gsize lens[G_N_ELEMENTS (create)];
  GError *err = NULL;
  GPtrArray *replies;

  for (guint i = 0; i < G_N_ELEMENTS (create); i++)
    lens[i] = strlen (create[i]);
  /* FT.* take no key: in a cluster, FT.CREATE goes to the primaries (a
   * replica would refuse it) and reaches the replicas by replication. */
  replies = vss_valkey_command_on_primaries (c, NULL, &err,
      G_N_ELEMENTS (create), create, lens);
  if (replies == NULL)
    g_error ("FT.CREATE: %s", err->message);
  for (guint i = 0; i < replies->len; i++) {
    const VssValkeyReply *r = g_ptr_array_index (replies, i);
    if (r->type != REDIS_REPLY_STATUS)
      g_error ("FT.CREATE: %s", r->str);
  }
  g_ptr_array_unref (replies);
}

void
vss_bench_ingest (VssValkeyClient * c, const gfloat * data, guint first,
    guint n)
{
  VssValkeyPipeline *p = vss_valkey_pipeline_new ();
  GError *err = NULL;

  for (guint i = first; i < first + n;) {
    gchar keys[VSS_BENCH_DEPTH][32], ts[VSS_BENCH_DEPTH][24];
    vss_valkey_pipeline_clear (p);
    for (guint j = 0; j < VSS_BENCH_DEPTH && i < first + n; j++, i++) {
      const gchar *argv[] = { "HSET", keys[j], "vector",
        (const gchar *) (data + (gsize) i * DIM), "stream", "cam1", "ts",
        ts[j]
      };
      gsize lens[8];
      g_snprintf (keys[j], sizeof keys[j], VSS_BENCH_PREFIX "%u", i);
      g_snprintf (ts[j], sizeof ts[j], "%u", i);
      for (guint k = 0; k < 8; k++)
        lens[k] = k == 3 ? DIM * sizeof (gfloat) : strlen (argv[k]);
      vss_valkey_pipeline_append (p, keys[j], strlen (keys[j]), 0, 8, argv,
          lens);
    }
    if (!vss_valkey_client_execute (c, p, NULL, &err))
      g_error ("HSET: %s", err->message);
  }
  vss_valkey_pipeline_free (p);
}

guint64
vss_bench_num_docs (VssValkeyClient * c)
{
  VssValkeyReply *r = vss_bench_cmd (c, "FT.INFO", VSS_BENCH_INDEX, NULL);
  gint64 n = -1;

  for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements;
      i += 2)
    if (r->element[i]->str && !strcmp (r->element[i]->str, "num_docs"))
      n = r->element[i + 1]->type == REDIS_REPLY_INTEGER ?
          r->element[i + 1]->integer :
          (gint64) g_ascii_strtoull (r->element[i + 1]->str, NULL, 10);
  freeReplyObject (r);
  if (n < 0)
    g_error ("FT.INFO " VSS_BENCH_INDEX " has no num_docs");
  return (guint64) n;
}

/* Exact top-K ids by cosine distance (data is unit length). */
void
vss_bench_exact_topk (const gfloat * data, guint n, const gfloat * q,
    guint * out)
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

/* CPU seconds of the server process, every thread (INFO cpu): throughput
 * per CPU second is what the server can do on an idle machine, whatever the
 * load of this one. The main thread's alone would leave out the module's
 * worker and indexing threads. */
gdouble
vss_bench_server_cpu (VssValkeyClient * c)
{
  VssValkeyReply *r = vss_bench_cmd (c, "INFO", "cpu", NULL);
  const gchar *u = strstr (r->str, "used_cpu_user:");
  const gchar *s = strstr (r->str, "used_cpu_sys:");
  gdouble t;

  if (u == NULL || s == NULL)
    g_error ("INFO cpu lacks the server's CPU time");
  t = g_ascii_strtod (u + strlen ("used_cpu_user:"), NULL)
      + g_ascii_strtod (s + strlen ("used_cpu_sys:"), NULL);
  freeReplyObject (r);
  return t;
}

gdouble
vss_bench_load_average (void)
{
  gchar *text = NULL;
  gdouble l = -1;

  if (g_file_get_contents ("/proc/loadavg", &text, NULL, NULL))
    l = g_ascii_strtod (text, NULL);
  g_free (text);
  return l;
}
