/* gst-vss bench: the Valkey module's worker threads (issue 19), in local
 * redis-servers over loopback, through our client, one client per thread.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Usage: bench-module-threads MODULE [--quick] [--docs N] [--check]
 *   [--no-workers-arg]
 * Prints one JSON document. With --check it exits 1 when a target is
 * missed. --no-workers-arg never passes the module's WORKERS argument, so
 * that the flow runs against a module without worker threads (every run
 * then measures the module's default, the same for all).
 *
 * 1. Responsiveness: PING p50/p99/max from a client that sends one PING a
 *    millisecond, while one client ingests the N documents (pipelined HSET,
 *    64 deep) and 4 search in a loop; with WORKERS 0 (before: everything
 *    on the main thread) and with the module's default (after). Target
 *    after: p99 <= 1 ms. The same PINGs to the empty server with nothing
 *    else running (idle_ping_*) show what the client and machine allow.
 * 2. FT.SEARCH KNN 10 (EF_RUNTIME 64) queries/s from 1, 2, 4 and 8 clients
 *    with WORKERS 0, 1 and 2 on an index of N documents, recall@10 against
 *    exact search. Targets: WORKERS 2 / WORKERS 1 >= 1.7 from 2 clients up
 *    (one client has one search at a time, which one worker serves),
 *    >= 2,500 queries/s at 4 clients with WORKERS 2, recall >= 0.95.
 * 3. Ingest with read-your-writes: from the first HSET to the reply of an
 *    FT.SEARCH sent after the last HSET's reply, which the module gives
 *    once everything before it is indexed; nothing else running. Target
 *    >= 1,500 docs/s.
 * 4. 8 clients searching a primary alone, then its two replicas (our
 *    client with read_from_replicas=yes, which reads only from the
 *    replicas of a shard), in a one-shard cluster; the replicas (default
 *    WORKERS) take a full sync and index what they load themselves.
 *
 * Filling a server with N documents is what costs (about 4 minutes per
 * 100k on the 2-core build machine), so each server serves all it can,
 * and every server is a cluster node owning all slots (alike for a fair
 * comparison; the default's takes replicas):
 *   WORKERS 0: 1 (before), then 2 for WORKERS 0;
 *   default:   1 (after), 2 for its number of workers (INFO vss-search
 *              worker_threads) when that is 1 or 2, then 4 as the primary;
 *   WORKERS 1 and 2, unless the default's: 3 then 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "valkey/gstvssvalkeysearch.h"
#include "vss-index.h"
#include "vss-bench-module.h"
#include "vss-test-redis.h"

#define DIM VSS_BENCH_DIM
#define K VSS_BENCH_K
#define EF VSS_BENCH_EF

/* No WORKERS argument: the module's default, a worker per core. */
#define DEFAULT_WORKERS -1
#define PING_INTERVAL_US 1000
#define LOAD_SEARCHERS 4
#define REPLICA_CLIENTS 8
#define N_COUNTS 4
static const guint client_counts[N_COUNTS] = { 1, 2, 4, 8 };

#define TARGET_PING_P99_US 1000.0
#define TARGET_SPEEDUP 1.7
#define TARGET_QPS_4_CLIENTS 2500.0
#define TARGET_RECALL 0.95
#define TARGET_INGEST 1500.0

typedef struct
{
  const gchar *module;
  gboolean workers_arg;
  guint n, nq;
  gdouble warmup_s, window_s;
  gfloat *data, *queries;
  guint *truth;                 /* nq × K exact answers */
  VssValkeyArgs **search;       /* nq FT.SEARCH commands, made once */
} Bench;

typedef struct
{
  gdouble hset_s;               /* first HSET to the last one's reply */
  gdouble indexed_s;            /* first HSET to a later FT.SEARCH's reply */
} Ingest;

typedef struct
{
  gdouble p50_us, p99_us, max_us;
  guint pings;
} Pings;

typedef struct
{
  Pings idle;                   /* the empty server, nothing else running */
  Pings loaded;
  Ingest ingest;
  gdouble searches_per_s;
  /* The main thread's time in each HSET, with any wait for room in the
   * indexing thread's queue: what a PING may wait behind. */
  gdouble hset_us;
  /* INFO vss-search main_thread_wait*: those waits (-1: no such field). */
  gdouble waits, wait_us, wait_max_us;
} Responsiveness;

typedef struct
{
  guint clients;
  gdouble qps;
  gdouble recall;
} Point;

typedef struct
{
  gint workers;
  /* Measured on the default's server (its number of workers), which was
   * filled under load: no ingest of its own. */
  gboolean on_default;
  Ingest ingest;                /* read-your-writes, nothing else running */
  Point points[N_COUNTS];
} Throughput;

typedef struct
{
  gdouble replicas_indexed_s;   /* REPLICATE to num_docs N on both */
  Point alone, replicas;
  guint64 calls_alone[3], calls_replicas[3];    /* primary, replica 1, 2 */
} Replicas;

static gdouble
seconds_since (gint64 t0)
{
  return (g_get_monotonic_time () - t0) / 1e6;
}

static VssValkeyArgs *
knn_args (const gfloat * q)
{
  VssValkeyKnnQuery query = { 0, };
  GError *err = NULL;
  VssValkeyArgs *a;

  query.index = VSS_BENCH_INDEX;
  query.vector_field = "vector";
  query.vector = q;
  query.dim = DIM;
  query.k = K;
  query.ef_runtime = EF;
  /* Keys only: all recall needs, and the lightest reply. */
  query.nocontent = TRUE;
  a = vss_valkey_knn_args (&query, &err);
  if (a == NULL)
    g_error ("FT.SEARCH arguments: %s", err->message);
  return a;
}

/* One KNN search for query @qi, sent where the client sends reads (a
 * replica of the one shard with read_from_replicas=yes, else the primary;
 * the server outside a cluster). Returns how many of the exact top K it
 * found. */
static guint
search (const Bench * b, VssValkeyClient * c, guint qi)
{
  const VssValkeyArgs *a = b->search[qi];
  const guint *truth = b->truth + (gsize) qi * K;
  GError *err = NULL;
  GPtrArray *replies;
  guint hits = 0;

  replies = vss_valkey_command_on_shards (c, VSS_VALKEY_COMMAND_READONLY,
      NULL, &err, a->argc, (const gchar **) a->argv, a->argvlen);
  if (replies == NULL)
    g_error ("FT.SEARCH: %s", err->message);
  for (guint i = 0; i < replies->len; i++) {
    const VssValkeyReply *r = g_ptr_array_index (replies, i);

    if (r->type != REDIS_REPLY_ARRAY)
      g_error ("FT.SEARCH: %s", r->str ? r->str : "not an array");
    /* NOCONTENT: the count, then the keys. */
    for (size_t e = 1; e < r->elements; e++) {
      const gchar *key = r->element[e]->str;
      guint id;

      if (key == NULL || !g_str_has_prefix (key, VSS_BENCH_PREFIX))
        continue;
      id = (guint) strtoul (key + strlen (VSS_BENCH_PREFIX), NULL, 10);
      for (guint k = 0; k < K; k++)
        if (truth[k] == id) {
          hits++;
          break;
        }
    }
  }
  g_ptr_array_unref (replies);
  return hits;
}

/* ---- clients that search in a loop ---- */

typedef struct
{
  const Bench *b;
  VssValkeyClient *c;
  guint first;                  /* its first query: clients start apart */
  const gint *stop;
  gint done;                    /* atomic: searches answered */
  guint64 hits;                 /* read after the join */
  GThread *thread;
} Searcher;

typedef struct
{
  gint stop;                    /* atomic */
  guint n;
  Searcher *s;
} Load;

static gpointer
searcher_run (gpointer data)
{
  Searcher *s = data;

  for (guint i = s->first; !g_atomic_int_get (s->stop); i++) {
    s->hits += search (s->b, s->c, i % s->b->nq);
    g_atomic_int_inc (&s->done);
  }
  return NULL;
}

static Load *
load_start (const Bench * b, const gchar * url, guint n)
{
  Load *l = g_new0 (Load, 1);

  l->n = n;
  l->s = g_new0 (Searcher, n);
  for (guint i = 0; i < n; i++) {
    l->s[i].b = b;
    l->s[i].c = vss_bench_connect (url);
    l->s[i].first = i * b->nq / n;
    l->s[i].stop = &l->stop;
  }
  for (guint i = 0; i < n; i++)
    l->s[i].thread = g_thread_new ("searcher", searcher_run, &l->s[i]);
  return l;
}

static guint
load_done (Load * l)
{
  guint done = 0;

  for (guint i = 0; i < l->n; i++)
    done += g_atomic_int_get (&l->s[i].done);
  return done;
}

/* Stops and frees @l; returns the recall@K of all its searches. */
static gdouble
load_stop (Load * l)
{
  guint64 hits = 0, done = 0;

  g_atomic_int_set (&l->stop, 1);
  for (guint i = 0; i < l->n; i++) {
    g_thread_join (l->s[i].thread);
    vss_valkey_client_free (l->s[i].c);
    hits += l->s[i].hits;
    done += l->s[i].done;
  }
  g_free (l->s);
  g_free (l);
  return done ? (gdouble) hits / ((gdouble) done * K) : 0;
}

/* Queries/s of @clients searching in a loop, counted over window_s after
 * warmup_s (connections made, caches warm). */
static void
measure_qps (const Bench * b, const gchar * url, guint clients, Point * p)
{
  Load *l = load_start (b, url, clients);
  guint d0, d1;
  gint64 t0;
  gdouble t;

  g_usleep ((gulong) (b->warmup_s * G_USEC_PER_SEC));
  d0 = load_done (l);
  t0 = g_get_monotonic_time ();
  g_usleep ((gulong) (b->window_s * G_USEC_PER_SEC));
  d1 = load_done (l);
  t = seconds_since (t0);
  p->clients = clients;
  p->recall = load_stop (l);
  p->qps = (d1 - d0) / t;
}

/* ---- a client that PINGs every millisecond ---- */

typedef struct
{
  VssValkeyClient *c;
  gint stop;                    /* atomic */
  GArray *us;                   /* gint64 round trips; read after the join */
  GThread *thread;
} Pinger;

static gpointer
pinger_run (gpointer data)
{
  Pinger *p = data;
  gint64 next = g_get_monotonic_time ();

  while (!g_atomic_int_get (&p->stop)) {
    gint64 t0 = g_get_monotonic_time (), us;

    freeReplyObject (vss_bench_cmd (p->c, "PING", NULL));
    us = g_get_monotonic_time () - t0;
    g_array_append_val (p->us, us);
    /* One PING at a time, one a millisecond; a late reply is not
     * followed by a burst. */
    next = MAX (next + PING_INTERVAL_US, t0 + us);
    us = next - g_get_monotonic_time ();
    if (us > 0)
      g_usleep (us);
  }
  return NULL;
}

static Pinger *
pinger_start (const gchar * url)
{
  Pinger *p = g_new0 (Pinger, 1);

  p->c = vss_bench_connect (url);
  p->us = g_array_new (FALSE, FALSE, sizeof (gint64));
  p->thread = g_thread_new ("pinger", pinger_run, p);
  return p;
}

static gint
cmp_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted @a. */
static gdouble
percentile (GArray * a, gdouble p)
{
  guint i = (guint) (p * a->len + 0.999999);

  if (a->len == 0)
    return 0;
  return g_array_index (a, gint64, CLAMP (i, 1, a->len) - 1);
}

/* Stops and frees @p. */
static void
pinger_stop (Pinger * p, Pings * out)
{
  g_atomic_int_set (&p->stop, 1);
  g_thread_join (p->thread);
  vss_valkey_client_free (p->c);
  g_array_sort (p->us, cmp_gint64);
  out->pings = p->us->len;
  out->p50_us = percentile (p->us, 0.50);
  out->p99_us = percentile (p->us, 0.99);
  out->max_us = percentile (p->us, 1.0);
  g_array_unref (p->us);
  g_free (p);
}

/* ---- servers ---- */

static void
expect_ok (VssValkeyReply * r)
{
  if (r->type != REDIS_REPLY_STATUS)
    g_error ("expected OK, got type %d", r->type);
  freeReplyObject (r);
}

/* @field (calls, usec_per_call...) of command @cmd (lower case) in INFO
 * commandstats since the last CONFIG RESETSTAT; 0 when it has not run. */
static gdouble
command_stat (VssValkeyClient * c, const gchar * cmd, const gchar * field)
{
  VssValkeyReply *r = vss_bench_cmd (c, "INFO", "commandstats", NULL);
  gchar *low = g_ascii_strdown (r->str, -1);
  gchar *key = g_strdup_printf ("cmdstat_%s:", cmd);
  gchar *at = strstr (low, key);
  gdouble v = 0;

  if (at != NULL) {
    gchar **kv = g_strsplit_set (at + strlen (key), ",\r\n", -1);

    for (guint i = 0; kv[i] && kv[i][0]; i++)
      if (g_str_has_prefix (kv[i], field) && kv[i][strlen (field)] == '=')
        v = g_ascii_strtod (kv[i] + strlen (field) + 1, NULL);
    g_strfreev (kv);
  }
  g_free (key);
  g_free (low);
  freeReplyObject (r);
  return v;
}

/* The module's INFO field @name (vss-search_<name>), -1 when it has none
 * (a module without worker threads). */
static gdouble
module_info (VssValkeyClient * c, const gchar * name)
{
  VssValkeyReply *r = vss_bench_cmd (c, "INFO", "vss-search", NULL);
  gchar *key = g_strdup_printf ("\nvss-search_%s:", name);
  const gchar *at = strstr (r->str, key);
  gdouble v = at ? g_ascii_strtod (at + strlen (key), NULL) : -1;

  g_free (key);
  freeReplyObject (r);
  return v;
}

/* Whether @c's answer to INFO-like @a0 @a1 contains @what (a text
 * reply). */
static gboolean
reply_has (VssValkeyClient * c, const gchar * a0, const gchar * a1,
    const gchar * what)
{
  VssValkeyReply *r = vss_bench_cmd (c, a0, a1, NULL);
  gboolean has = r->str != NULL && strstr (r->str, what) != NULL;

  freeReplyObject (r);
  return has;
}

static void
wait_or_die (gint64 until, const gchar * what)
{
  if (g_get_monotonic_time () > until)
    g_error ("%s: timed out", what);
  g_usleep (100 * 1000);
}

/* A server and a direct connection to it. */
typedef struct
{
  VssTestRedis *r;
  gchar *url;                   /* this node alone, cluster=no */
  VssValkeyClient *c;
  guint16 port;
} Node;

/* Every server is a cluster node, so that the default one can take
 * replicas for phase 4 once it has served phase 1; the others are alike
 * for a fair comparison. A @primary takes every slot and gets the index. */
static Node *
node_start (const Bench * b, gint workers, gboolean primary)
{
  const gchar *const cluster_args[] = { "--cluster-enabled", "yes",
    "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000",
    NULL
  };
  gchar count[16];
  const gchar *margs[] = { NULL, NULL, NULL };
  VssTestRedisOptions opts = { 0, };
  GError *err = NULL;
  Node *n = g_new0 (Node, 1);

  if (workers != DEFAULT_WORKERS && b->workers_arg) {
    g_snprintf (count, sizeof count, "%d", workers);
    margs[0] = "WORKERS";
    margs[1] = count;
  }
  opts.module = b->module;
  opts.module_args = margs;
  opts.extra_args = cluster_args;
  n->r = vss_test_redis_start (&opts, &err);
  if (n->r == NULL)
    g_error ("redis-server with %s %s %s: %s%s", b->module,
        margs[0] ? margs[0] : "", margs[1] ? margs[1] : "", err->message,
        margs[0] ? "\n(a module without worker threads refuses WORKERS; "
        "--no-workers-arg runs without it)" : "");
  n->url = vss_test_redis_get_url (n->r, "cluster=no");
  n->c = vss_bench_connect (n->url);
  n->port = vss_test_redis_get_port (n->r, 0);
  if (primary) {
    gint64 until = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

    expect_ok (vss_bench_cmd (n->c, "CLUSTER", "ADDSLOTSRANGE", "0",
            "16383", NULL));
    while (!reply_has (n->c, "CLUSTER", "INFO", "cluster_state:ok"))
      wait_or_die (until, "cluster_state:ok");
    vss_bench_create_index (n->c);
  }
  return n;
}

static void
node_free (Node * n)
{
  vss_valkey_client_free (n->c);
  vss_test_redis_free (n->r);
  g_free (n->url);
  g_free (n);
}

/* Documents 0..N-1 through @c, timed to the last HSET's reply and to the
 * reply of an FT.SEARCH sent after it (read-your-writes). */
static void
ingest (const Bench * b, VssValkeyClient * c, Ingest * out)
{
  gint64 t0 = g_get_monotonic_time ();

  vss_bench_ingest (c, b->data, 0, b->n);
  out->hset_s = seconds_since (t0);
  search (b, c, 0);
  out->indexed_s = seconds_since (t0);
}

static void
check_num_docs (const Bench * b, VssValkeyClient * c)
{
  guint64 docs = vss_bench_num_docs (c);

  if (docs != b->n)
    g_error ("num_docs is %" G_GUINT64_FORMAT ", not %u", docs, b->n);
}

/* Phase 1: PINGs to the empty server, then while one client ingests and 4
 * search. */
static void
fill_loaded (const Bench * b, Node * n, Responsiveness * resp)
{
  /* What the client and this machine allow, for comparison. */
  Pinger *p = pinger_start (n->url);
  Load *l;

  g_usleep ((gulong) (b->warmup_s * G_USEC_PER_SEC));
  pinger_stop (p, &resp->idle);
  expect_ok (vss_bench_cmd (n->c, "CONFIG", "RESETSTAT", NULL));
  p = pinger_start (n->url);
  l = load_start (b, n->url, LOAD_SEARCHERS);
  ingest (b, n->c, &resp->ingest);
  resp->searches_per_s = load_done (l) / resp->ingest.indexed_s;
  load_stop (l);
  pinger_stop (p, &resp->loaded);
  resp->hset_us = command_stat (n->c, "hset", "usec_per_call");
  resp->waits = module_info (n->c, "main_thread_waits");
  resp->wait_us = module_info (n->c, "main_thread_wait_us");
  resp->wait_max_us = module_info (n->c, "main_thread_wait_max_us");
  check_num_docs (b, n->c);
}

/* Phase 3: the ingest alone, then phase 2. */
static void
run_throughput (const Bench * b, Throughput * thr)
{
  Node *n = node_start (b, thr->workers, TRUE);

  ingest (b, n->c, &thr->ingest);
  check_num_docs (b, n->c);
  for (guint i = 0; i < N_COUNTS; i++)
    measure_qps (b, n->url, client_counts[i], &thr->points[i]);
  node_free (n);
}

/* ---- a primary and two replicas ---- */

/* @replica meets the one-node cluster of @primary and replicates it. */
static void
attach_replica (Node * primary, Node * replica)
{
  gint64 until = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  gchar port[8];
  VssValkeyReply *r;
  gchar *id;

  g_snprintf (port, sizeof port, "%u", primary->port);
  r = vss_bench_cmd (primary->c, "CLUSTER", "MYID", NULL);
  id = g_strdup (r->str);
  freeReplyObject (r);
  expect_ok (vss_bench_cmd (replica->c, "CLUSTER", "MEET", "127.0.0.1", port,
          NULL));
  /* REPLICATE names a node the replica must have heard of by gossip. */
  while (!reply_has (replica->c, "CLUSTER", "NODES", id))
    wait_or_die (until, "CLUSTER MEET");
  expect_ok (vss_bench_cmd (replica->c, "CLUSTER", "REPLICATE", id, NULL));
  g_free (id);
}

/* num_docs on a replica, 0 while it loads the primary's data (the server
 * answers LOADING). */
static guint64
replica_num_docs (VssValkeyClient * c)
{
  const gchar *argv[] = { "FT.INFO", VSS_BENCH_INDEX };
  gsize lens[] = { strlen (argv[0]), strlen (argv[1]) };
  GError *err = NULL;
  VssValkeyReply *r = vss_valkey_command (c, NULL, &err, 2, argv, lens);

  if (r == NULL) {
    g_clear_error (&err);
    return 0;
  }
  freeReplyObject (r);
  return vss_bench_num_docs (c);
}

/* FT.SEARCH calls each node has served since the last CONFIG RESETSTAT
 * into @calls (nullable); resets the counts. */
static void
search_calls (Node * node[3], guint64 * calls)
{
  for (guint i = 0; i < 3; i++) {
    if (calls != NULL)
      calls[i] = (guint64) command_stat (node[i]->c, "ft.search", "calls");
    expect_ok (vss_bench_cmd (node[i]->c, "CONFIG", "RESETSTAT", NULL));
  }
}

/* Phase 4 on @primary, filled: two replicas with the default WORKERS take
 * a full sync and index what they load; then 8 clients search the primary
 * alone, then the replicas. */
static void
run_replicas (const Bench * b, Node * primary, Replicas * out)
{
  Node *node[3] = { primary, NULL, NULL };
  gchar *seeds, *replicas;
  GError *err = NULL;
  gint64 t0, until;

  for (guint i = 1; i < 3; i++)
    node[i] = node_start (b, DEFAULT_WORKERS, FALSE);
  t0 = g_get_monotonic_time ();
  for (guint i = 1; i < 3; i++)
    attach_replica (primary, node[i]);
  until = t0 + 30 * 60 * G_USEC_PER_SEC;
  for (guint i = 1; i < 3; i++)
    while (!reply_has (node[i]->c, "INFO", "replication",
            "master_link_status:up")
        || replica_num_docs (node[i]->c) != b->n)
      wait_or_die (until, "the replicas' indexes");
  out->replicas_indexed_s = seconds_since (t0);
  /* Our client reads from no replica that CLUSTER SHARDS calls loading. */
  if (!vss_test_redis_wait_replicas_online (primary->r, 60, &err))
    g_error ("replicas: %s", err->message);

  seeds = g_strdup_printf ("redis://127.0.0.1:%u,127.0.0.1:%u,127.0.0.1:%u"
      "?cluster=yes", node[0]->port, node[1]->port, node[2]->port);
  replicas = g_strconcat (seeds, "&read_from_replicas=yes", NULL);
  search_calls (node, NULL);
  measure_qps (b, seeds, REPLICA_CLIENTS, &out->alone);
  search_calls (node, out->calls_alone);
  measure_qps (b, replicas, REPLICA_CLIENTS, &out->replicas);
  search_calls (node, out->calls_replicas);

  for (guint i = 1; i < 3; i++)
    node_free (node[i]);
  g_free (seeds);
  g_free (replicas);
}

/* ---- JSON ---- */

static const gchar *
jbool (gboolean v)
{
  return v ? "true" : "false";
}

static void
json_workers (GString * s, gint workers)
{
  if (workers == DEFAULT_WORKERS)
    g_string_append (s, "\"workers\": \"default\"");
  else
    g_string_append_printf (s, "\"workers\": %d", workers);
}

static void
json_responsiveness (GString * s, const Bench * b, const gchar * name,
    gint workers, const Responsiveness * r)
{
  g_string_append_printf (s, "    \"%s\": {", name);
  json_workers (s, workers);
  g_string_append_printf (s, ",\n      \"ping_p50_us\": %.0f, "
      "\"ping_p99_us\": %.0f, \"ping_max_us\": %.0f, \"pings\": %u,\n"
      "      \"idle_ping_p50_us\": %.0f, \"idle_ping_p99_us\": %.0f, "
      "\"idle_ping_max_us\": %.0f, \"idle_pings\": %u,\n"
      "      \"ingest_docs_per_s\": %.0f, \"hset_docs_per_s\": %.0f, "
      "\"searches_per_s\": %.0f,\n"
      "      \"hset_main_thread_us_per_call\": %.0f, "
      "\"main_thread_waits\": %.0f, \"main_thread_wait_us\": %.0f, "
      "\"main_thread_wait_max_us\": %.0f}",
      r->loaded.p50_us, r->loaded.p99_us, r->loaded.max_us, r->loaded.pings,
      r->idle.p50_us, r->idle.p99_us, r->idle.max_us, r->idle.pings,
      b->n / r->ingest.indexed_s, b->n / r->ingest.hset_s, r->searches_per_s,
      r->hset_us, r->waits, r->wait_us, r->wait_max_us);
}

static void
json_point (GString * s, const Point * p)
{
  g_string_append_printf (s, "{\"clients\": %u, \"queries_per_s\": %.0f, "
      "\"recall_at_10\": %.4f}", p->clients, p->qps, p->recall);
}

static void
json_calls (GString * s, const gchar * name, const guint64 calls[3])
{
  g_string_append_printf (s, "    \"%s_ft_search_calls\": [%" G_GUINT64_FORMAT
      ", %" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "],\n", name, calls[0],
      calls[1], calls[2]);
}

int
main (int argc, char **argv)
{
  gboolean quick = FALSE, check = FALSE, no_workers_arg = FALSE;
  gint n = 0;
  GOptionEntry entries[] = {
    {"quick", 'q', 0, G_OPTION_ARG_NONE, &quick,
        "5,000 documents, 2 s a measurement (smoke run)", NULL},
    {"docs", 'n', 0, G_OPTION_ARG_INT, &n, "Documents (default 100,000)",
        "N"},
    {"check", 0, 0, G_OPTION_ARG_NONE, &check,
        "Exit 1 when a target is missed", NULL},
    {"no-workers-arg", 0, 0, G_OPTION_ARG_NONE, &no_workers_arg,
        "Never pass WORKERS (a module without worker threads)", NULL},
    {NULL}
  };
  GOptionContext *ctx = g_option_context_new ("MODULE - the Valkey module's "
      "worker threads");
  GError *err = NULL;
  Bench b = { 0, };
  Responsiveness before, after;
  Throughput thr[3] = { {0,}, {1,}, {2,} };
  Replicas repl;
  Node *node;
  gint64 t_start = g_get_monotonic_time ();
  gdouble load0 = vss_bench_load_average (), ratio[N_COUNTS], min_recall = 1;
  gdouble default_workers;
  gboolean met_ping, met_speedup = TRUE, met_qps, met_recall, met_ingest;
  gboolean met_all, first;
  GString *s;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &err))
    g_error ("%s", err->message);
  g_option_context_free (ctx);
  if (argc != 2)
    g_error ("usage: %s MODULE [--quick] [--docs N] [--check] "
        "[--no-workers-arg]", argv[0]);
  /* The servers run in their own directories: an absolute path. */
  b.module = g_canonicalize_filename (argv[1], NULL);
  b.workers_arg = !no_workers_arg;
  b.n = n > 0 ? (guint) n : quick ? 5000 : 100000;
  b.nq = quick ? 200 : 1000;
  b.warmup_s = quick ? 0.5 : 1;
  b.window_s = quick ? 2 : 8;

  b.data = vss_bench_generate (b.n, b.nq, &b.queries);
  b.truth = g_new (guint, (gsize) b.nq * K);
  b.search = g_new (VssValkeyArgs *, b.nq);
  for (guint i = 0; i < b.nq; i++) {
    vss_bench_exact_topk (b.data, b.n, b.queries + (gsize) i * DIM,
        b.truth + (gsize) i * K);
    b.search[i] = knn_args (b.queries + (gsize) i * DIM);
  }

  /* Filling a server is what costs; each serves all its WORKERS setting
   * can. WORKERS 0: phase 1 (before) and its queries/s. */
  node = node_start (&b, 0, TRUE);
  fill_loaded (&b, node, &before);
  for (guint i = 0; i < N_COUNTS; i++)
    measure_qps (&b, node->url, client_counts[i], &thr[0].points[i]);
  node_free (node);

  /* The default: phase 1 (after), phase 2 for its number of workers when
   * that is 1 or 2, then phase 4 with replicas added. */
  node = node_start (&b, DEFAULT_WORKERS, TRUE);
  fill_loaded (&b, node, &after);
  default_workers = module_info (node->c, "worker_threads");
  for (guint w = 1; w < 3; w++) {
    thr[w].on_default = default_workers == w;
    for (guint i = 0; thr[w].on_default && i < N_COUNTS; i++)
      measure_qps (&b, node->url, client_counts[i], &thr[w].points[i]);
  }
  run_replicas (&b, node, &repl);
  node_free (node);

  /* The other counts of workers: phase 3, then 2. */
  for (guint w = 1; w < 3; w++)
    if (!thr[w].on_default)
      run_throughput (&b, &thr[w]);

  for (guint i = 0; i < N_COUNTS; i++) {
    ratio[i] = thr[2].points[i].qps / MAX (thr[1].points[i].qps, 1e-9);
    if (client_counts[i] >= 2 && ratio[i] < TARGET_SPEEDUP)
      met_speedup = FALSE;
    for (guint w = 0; w < 3; w++)
      min_recall = MIN (min_recall, thr[w].points[i].recall);
  }
  met_ping = after.loaded.p99_us <= TARGET_PING_P99_US;
  met_qps = thr[2].points[2].qps >= TARGET_QPS_4_CLIENTS;
  met_recall = min_recall >= TARGET_RECALL;
  met_ingest = TRUE;
  for (guint w = 1; w < 3; w++)
    if (!thr[w].on_default && b.n / thr[w].ingest.indexed_s < TARGET_INGEST)
      met_ingest = FALSE;
  met_all = met_ping && met_speedup && met_qps && met_recall && met_ingest;

  s = g_string_new ("{\n  \"bench\": \"module-threads\",\n");
  g_string_append_printf (s, "  \"quick\": %s,\n  \"workers_arg\": %s,\n",
      jbool (quick), jbool (b.workers_arg));
  if (!b.workers_arg)
    g_string_append (s, "  \"note\": \"--no-workers-arg: no server was "
        "given WORKERS; every run measured the module's default\",\n");
  g_string_append_printf (s, "  \"kernel\": \"%s\",\n  \"cores\": %u,\n"
      "  \"default_workers\": %.0f,\n"
      "  \"docs\": %u,\n  \"dim\": %d,\n  \"m\": 16,\n"
      "  \"ef_construction\": 200,\n  \"k\": %d,\n  \"ef_runtime\": %d,\n"
      "  \"queries\": %u,\n  \"pipeline_depth\": %d,\n"
      "  \"warmup_s\": %.1f,\n  \"window_s\": %.1f,\n", vss_kernel_name (),
      g_get_num_processors (), default_workers, b.n, DIM, K, EF, b.nq,
      VSS_BENCH_DEPTH, b.warmup_s, b.window_s);

  g_string_append_printf (s, "  \"responsiveness\": {\n"
      "    \"ping_interval_us\": %d, \"search_clients\": %d,\n",
      PING_INTERVAL_US, LOAD_SEARCHERS);
  json_responsiveness (s, &b, "before", 0, &before);
  g_string_append (s, ",\n");
  json_responsiveness (s, &b, "after", DEFAULT_WORKERS, &after);
  g_string_append_printf (s, ",\n    \"target\": {\"after_ping_p99_us_max\": "
      "%.0f},\n    \"met\": %s\n  },\n", TARGET_PING_P99_US, jbool (met_ping));

  g_string_append (s, "  \"search_throughput\": {\n    \"runs\": [\n");
  for (guint w = 0; w < 3; w++) {
    g_string_append (s, "      {");
    json_workers (s, thr[w].workers);
    g_string_append_printf (s, ", \"server\": \"%s\", \"points\": [\n",
        w == 0 ? "before" : thr[w].on_default ? "after" : "own");
    for (guint i = 0; i < N_COUNTS; i++) {
      g_string_append (s, "        ");
      json_point (s, &thr[w].points[i]);
      g_string_append (s, i + 1 < N_COUNTS ? ",\n" : "]}");
    }
    g_string_append (s, w < 2 ? ",\n" : "\n    ],\n");
  }
  g_string_append (s, "    \"speedup_2_over_1_workers\": [");
  for (guint i = 0; i < N_COUNTS; i++)
    g_string_append_printf (s, "%s{\"clients\": %u, \"ratio\": %.2f}",
        i ? ", " : "", client_counts[i], ratio[i]);
  g_string_append_printf (s, "],\n    \"targets\": {\"speedup_min\": %.1f, "
      "\"speedup_judged_at_clients\": [2, 4, 8], "
      "\"queries_per_s_at_4_clients_2_workers_min\": %.0f, "
      "\"recall_at_10_min\": %.2f},\n"
      "    \"met\": {\"speedup\": %s, \"queries_per_s_at_4_clients\": %s, "
      "\"recall_at_10\": %s}\n  },\n", TARGET_SPEEDUP, TARGET_QPS_4_CLIENTS,
      TARGET_RECALL, jbool (met_speedup), jbool (met_qps), jbool (met_recall));

  g_string_append (s, "  \"ingest_read_your_writes\": {\n    \"runs\": [");
  first = TRUE;
  for (guint w = 1; w < 3; w++) {
    if (thr[w].on_default)
      continue;
    g_string_append (s, first ? "{" : ", {");
    first = FALSE;
    json_workers (s, thr[w].workers);
    g_string_append_printf (s, ", \"hset_seconds\": %.2f, "
        "\"indexed_seconds\": %.2f, \"docs_per_s\": %.0f}",
        thr[w].ingest.hset_s, thr[w].ingest.indexed_s,
        b.n / thr[w].ingest.indexed_s);
  }
  g_string_append_printf (s, "],\n    \"target\": {\"docs_per_s_min\": %.0f},"
      "\n    \"met\": %s\n  },\n", TARGET_INGEST, jbool (met_ingest));

  g_string_append_printf (s, "  \"replicas\": {\n    \"workers\": "
      "\"default\", \"primary\": \"after\", \"clients\": %d,\n"
      "    \"sync_and_index_seconds\": %.2f,\n    \"primary_alone\": ",
      REPLICA_CLIENTS, repl.replicas_indexed_s);
  json_point (s, &repl.alone);
  g_string_append (s, ",\n");
  json_calls (s, "primary_alone", repl.calls_alone);
  g_string_append (s, "    \"read_from_replicas\": ");
  json_point (s, &repl.replicas);
  g_string_append (s, ",\n");
  json_calls (s, "read_from_replicas", repl.calls_replicas);
  g_string_append_printf (s, "    \"ft_search_calls_are\": [\"primary\", "
      "\"replica\", \"replica\"],\n    \"ratio\": %.2f\n  },\n",
      repl.replicas.qps / MAX (repl.alone.qps, 1e-9));

  g_string_append_printf (s, "  \"load_average_1min\": {\"start\": %.2f, "
      "\"end\": %.2f},\n  \"seconds\": %.0f,\n  \"met_all\": %s\n}\n", load0,
      vss_bench_load_average (), seconds_since (t_start), jbool (met_all));
  fputs (s->str, stdout);
  g_string_free (s, TRUE);

  for (guint i = 0; i < b.nq; i++)
    vss_valkey_args_free (b.search[i]);
  g_free (b.search);
  g_free (b.truth);
  g_free (b.data);
  g_free (b.queries);
  g_free ((gchar *) b.module);
  return check && !met_all ? 1 : 0;
}
