/* gst-vss tests: Valkey client against a 3-primary redis cluster, with a
 * slot migrated while pipelined writes run (ASK and MOVED both followed).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gio/gio.h>
#include "valkey/gstvssvalkeyresp.h"
#include "valkey/gstvssvalkeyclient.h"
#include "vss-test-redis.h"

#define BATCH 50

static gchar *
cli (VssTestRedis * r, guint node, ...)
{
  GPtrArray *args = g_ptr_array_new ();
  GError *err = NULL;
  const gchar *a;
  gchar *out;
  va_list ap;

  va_start (ap, node);
  while ((a = va_arg (ap, const gchar *)))
      g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  out = vss_test_redis_cliv (r, node, (const gchar * const *) args->pdata,
      &err);
  g_assert_no_error (err);
  g_ptr_array_unref (args);
  return out;
}

/* The node (index into the fixture) that serves @slot, from CLUSTER NODES:
 * "<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <state>
 * <ranges...>" */
static guint
owner_of (VssTestRedis * r, guint slot)
{
  gchar *nodes = cli (r, 0, "CLUSTER", "NODES", NULL);
  gchar **lines = g_strsplit (nodes, "\n", -1);
  guint owner = G_MAXUINT;

  for (guint l = 0; lines[l] && owner == G_MAXUINT; l++) {
    gchar **f = g_strsplit (lines[l], " ", -1);
    guint nf = g_strv_length (f);
    for (guint k = 8; k < nf; k++) {
      guint lo, hi;
      if (f[k][0] == '[')
        continue;
      if (sscanf (f[k], "%u-%u", &lo, &hi) != 2)
        lo = hi = (guint) atoi (f[k]);
      if (slot >= lo && slot <= hi) {
        guint port = (guint) atoi (strchr (f[1], ':') + 1);
        for (guint i = 0; i < vss_test_redis_get_n_nodes (r); i++)
          if (vss_test_redis_get_port (r, i) == port)
            owner = i;
      }
    }
    g_strfreev (f);
  }
  g_strfreev (lines);
  g_free (nodes);
  g_assert_cmpuint (owner, !=, G_MAXUINT);
  return owner;
}

typedef struct
{
  VssValkeyClient *c;
  gint stop;
  gint n;                       /* keys written: {mig}:0..n-1, other:0..n-1 */
  GError *err;
} Writer;

/* Each pipeline mixes keys of the migrating slot with keys spread over
 * every node, so it is split per node and reassembled in order. HINCRBY
 * counts executions: a command run twice would show 2. */
static gpointer
writer_thread (gpointer data)
{
  Writer *w = data;
  VssValkeyPipeline *p = vss_valkey_pipeline_new ();

  while (!g_atomic_int_get (&w->stop) && w->err == NULL) {
    gint base = g_atomic_int_get (&w->n);

    vss_valkey_pipeline_clear (p);
    for (gint i = base; i < base + BATCH; i++) {
      gchar k1[32], k2[32];
      const gchar *a1[] = { "HINCRBY", k1, "n", "1" };
      const gchar *a2[] = { "HINCRBY", k2, "n", "1" };
      g_snprintf (k1, sizeof k1, "{mig}:%d", i);
      g_snprintf (k2, sizeof k2, "other:%d", i);
      vss_valkey_pipeline_append (p, k1, strlen (k1), 0, 4, a1, NULL);
      vss_valkey_pipeline_append (p, k2, strlen (k2), 0, 4, a2, NULL);
    }
    /* Half the batches through send/receive: redirections are then
     * followed inside receive. */
    if ((base / BATCH) % 2) {
      if (!vss_valkey_client_send (w->c, p, NULL, &w->err)
          || !vss_valkey_client_receive (w->c, p, NULL, &w->err))
        break;
    } else if (!vss_valkey_client_execute (w->c, p, NULL, &w->err)) {
      break;
    }
    for (guint i = 0; i < vss_valkey_pipeline_get_length (p); i++) {
      const VssValkeyReply *r = vss_valkey_pipeline_get_reply (p, i);
      if (r->type != REDIS_REPLY_INTEGER || r->integer != 1) {
        g_set_error (&w->err, G_IO_ERROR, G_IO_ERROR_FAILED,
            "command %u of a pipeline: %s %s", i,
            vss_valkey_reply_type_name (r->type), r->type == REDIS_REPLY_ERROR ?
            r->str : "");
        break;
      }
    }
    g_atomic_int_add (&w->n, BATCH);
    g_usleep (2000);
  }
  vss_valkey_pipeline_free (p);
  return NULL;
}

static void
wait_for_redirect (Writer * w, gboolean ask)
{
  gint64 until = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;

  for (;;) {
    VssValkeyClientStats st;
    vss_valkey_client_get_stats (w->c, &st);
    if ((ask ? st.ask : st.moved) > 0)
      return;
    g_assert_no_error (w->err);
    g_assert_cmpint (g_get_monotonic_time (), <, until);
    g_usleep (5000);
  }
}

static void
test_cluster_migration (void)
{
  GError *err = NULL;
  g_autoptr (VssTestRedis) r = vss_test_redis_start_cluster (3, NULL, &err);
  gchar *url;
  Writer w = { 0, };
  GThread *t;
  guint slot = vss_valkey_resp_key_slot ("{mig}:1", 7);
  guint src, dst;
  gchar *src_id, *dst_id, *slot_str, *port_str;
  VssValkeyClientStats st;
  g_autoptr (VssValkeyPipeline) check = vss_valkey_pipeline_new ();
  gint64 total = 0;
  gint n;

  g_assert_no_error (err);
  g_assert_nonnull (r);
  url = vss_test_redis_get_url (r, NULL);
  w.c = vss_valkey_client_new_from_url (url, &err);
  g_free (url);
  g_assert_no_error (err);
  g_assert_true (vss_valkey_client_connect (w.c, NULL, &err));
  g_assert_true (vss_valkey_client_is_cluster (w.c));
  g_assert_cmpuint (vss_valkey_client_get_n_primaries (w.c), ==, 3);

  /* A command without keys on every primary. */
  {
    const gchar *argv[] = { "PING" };
    GPtrArray *all = vss_valkey_command_on_primaries (w.c, NULL, &err, 1,
        argv, NULL);
    g_assert_no_error (err);
    g_assert_cmpuint (all->len, ==, 3);
    g_ptr_array_unref (all);
  }

  src = owner_of (r, slot);
  dst = (src + 1) % 3;
  src_id = cli (r, src, "CLUSTER", "MYID", NULL);
  dst_id = cli (r, dst, "CLUSTER", "MYID", NULL);
  slot_str = g_strdup_printf ("%u", slot);
  port_str = g_strdup_printf ("%u", vss_test_redis_get_port (r, dst));

  t = g_thread_new ("writer", writer_thread, &w);
  while (g_atomic_int_get (&w.n) < 500 && w.err == NULL)
    g_usleep (1000);

  /* 1. Open the migration: new keys of the slot get ASK to the target. */
  g_free (cli (r, dst, "CLUSTER", "SETSLOT", slot_str, "IMPORTING", src_id,
          NULL));
  g_free (cli (r, src, "CLUSTER", "SETSLOT", slot_str, "MIGRATING", dst_id,
          NULL));
  wait_for_redirect (&w, TRUE);

  /* 2. Move the existing keys while writes go on. */
  for (;;) {
    gchar *keys = cli (r, src, "CLUSTER", "GETKEYSINSLOT", slot_str, "100",
        NULL);
    gchar **k = g_strsplit (keys, "\n", -1);
    GPtrArray *args;
    gchar *out;
    g_free (keys);
    if (k[0] == NULL || k[0][0] == '\0') {
      g_strfreev (k);
      break;
    }
    args = g_ptr_array_new ();
    g_ptr_array_add (args, (gpointer) "MIGRATE");
    g_ptr_array_add (args, (gpointer) "127.0.0.1");
    g_ptr_array_add (args, port_str);
    g_ptr_array_add (args, (gpointer) "");
    g_ptr_array_add (args, (gpointer) "0");
    g_ptr_array_add (args, (gpointer) "5000");
    g_ptr_array_add (args, (gpointer) "KEYS");
    for (guint i = 0; k[i]; i++)
      if (k[i][0])
        g_ptr_array_add (args, k[i]);
    g_ptr_array_add (args, NULL);
    out = vss_test_redis_cliv (r, src, (const gchar * const *) args->pdata,
        &err);
    g_assert_no_error (err);
    g_assert_cmpstr (out, ==, "OK");
    g_free (out);
    g_ptr_array_unref (args);
    g_strfreev (k);
  }

  /* 3. Close it: the slot now belongs to the target, the client's map is
   * stale and MOVED sends it there. */
  for (guint i = 0; i < 3; i++) {
    guint node = i == 0 ? dst : i == 1 ? src : 3 - src - dst;
    g_free (cli (r, node, "CLUSTER", "SETSLOT", slot_str, "NODE", dst_id,
            NULL));
  }
  wait_for_redirect (&w, FALSE);
  {
    gint at = g_atomic_int_get (&w.n);
    while (g_atomic_int_get (&w.n) < at + 300 && w.err == NULL)
      g_usleep (1000);
  }
  g_atomic_int_set (&w.stop, 1);
  g_thread_join (t);
  g_assert_no_error (w.err);

  vss_valkey_client_get_stats (w.c, &st);
  g_test_message ("%d keys per family; ask %" G_GUINT64_FORMAT " moved %"
      G_GUINT64_FORMAT " map refreshes %" G_GUINT64_FORMAT, w.n, st.ask,
      st.moved, st.map_refreshes);
  g_assert_cmpuint (st.ask, >, 0);
  g_assert_cmpuint (st.moved, >, 0);

  /* Every key written exactly once, all of the slot on the target. */
  n = w.n;
  for (gint i = 0; i < n; i++) {
    gchar k1[32], k2[32];
    const gchar *a1[] = { "HGET", k1, "n" };
    const gchar *a2[] = { "HGET", k2, "n" };
    g_snprintf (k1, sizeof k1, "{mig}:%d", i);
    g_snprintf (k2, sizeof k2, "other:%d", i);
    vss_valkey_pipeline_append (check, k1, strlen (k1),
        VSS_VALKEY_COMMAND_READONLY, 3, a1, NULL);
    vss_valkey_pipeline_append (check, k2, strlen (k2), 0, 3, a2, NULL);
  }
  g_assert_true (vss_valkey_client_execute (w.c, check, NULL, &err));
  g_assert_no_error (err);
  for (guint i = 0; i < vss_valkey_pipeline_get_length (check); i++) {
    const VssValkeyReply *rep = vss_valkey_pipeline_get_reply (check, i);
    g_assert_cmpint (rep->type, ==, REDIS_REPLY_STRING);
    g_assert_cmpstr (rep->str, ==, "1");
  }
  for (guint i = 0; i < 3; i++) {
    gchar *s = cli (r, i, "DBSIZE", NULL);
    total += g_ascii_strtoll (s, NULL, 10);
    g_free (s);
  }
  g_assert_cmpint (total, ==, 2 * n);
  {
    gchar *on_src = cli (r, src, "CLUSTER", "COUNTKEYSINSLOT", slot_str,
        NULL);
    gchar *on_dst = cli (r, dst, "CLUSTER", "COUNTKEYSINSLOT", slot_str,
        NULL);
    gint64 expect = n;

    /* Some "other:<i>" keys hash to the migrated slot as well. */
    for (gint i = 0; i < n; i++) {
      gchar k2[32];
      g_snprintf (k2, sizeof k2, "other:%d", i);
      if ((vss_valkey_resp_crc16 (k2, strlen (k2)) & 16383) == slot)
        expect++;
    }
    g_assert_cmpstr (on_src, ==, "0");
    g_assert_cmpint (g_ascii_strtoll (on_dst, NULL, 10), ==, expect);
    g_free (on_src);
    g_free (on_dst);
  }

  vss_valkey_client_free (w.c);
  g_free (src_id);
  g_free (dst_id);
  g_free (slot_str);
  g_free (port_str);
}

static guint64
get_calls (VssTestRedis * r, guint node)
{
  gchar *stats = cli (r, node, "INFO", "commandstats", NULL);
  const gchar *p = strstr (stats, "cmdstat_get:calls=");
  guint64 n = p ? g_ascii_strtoull (p + strlen ("cmdstat_get:calls="), NULL,
      10) : 0;

  g_free (stats);
  return n;
}

/* With read_from_replicas=yes, reads flagged READONLY go to replicas (which
 * got READONLY at connect); writes and unflagged reads stay on primaries. */
static void
test_replica_reads (void)
{
  VssTestRedisOptions opts = {.cluster_replicas = 1 };
  GError *err = NULL;
  g_autoptr (VssTestRedis) r = vss_test_redis_start_cluster (3, &opts, &err);
  g_autoptr (VssValkeyPipeline) p = vss_valkey_pipeline_new ();
  VssValkeyClient *c;
  gchar *url;
  guint64 on_replicas = 0, on_primaries = 0;
  const guint n = 300;
  gint64 until;

  g_assert_no_error (err);
  url = vss_test_redis_get_url (r, NULL);
  c = vss_valkey_client_new_from_url (url, &err);
  g_free (url);
  g_assert_no_error (err);

  for (guint i = 0; i < n; i++) {
    gchar k[32];
    const gchar *argv[] = { "SET", k, k };
    g_snprintf (k, sizeof k, "rep:%u", i);
    vss_valkey_pipeline_append (p, k, strlen (k), 0, 3, argv, NULL);
  }
  g_assert_true (vss_valkey_client_execute (c, p, NULL, &err));
  g_assert_no_error (err);
  vss_valkey_client_free (c);

  g_assert_true (vss_test_redis_wait_replicas_online (r, 15, &err));
  g_assert_no_error (err);

  url = vss_test_redis_get_url (r, "read_from_replicas=yes");
  c = vss_valkey_client_new_from_url (url, &err);
  g_free (url);
  g_assert_no_error (err);
  g_assert_true (vss_valkey_client_connect (c, NULL, &err));
  g_assert_cmpuint (vss_valkey_client_get_n_primaries (c), ==, 3);
  for (guint i = 0; i < vss_test_redis_get_n_nodes (r); i++)
    g_free (cli (r, i, "CONFIG", "RESETSTAT", NULL));

  /* Replicas lag a little: read until every value is there. */
  until = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  for (;;) {
    guint good = 0;
    vss_valkey_pipeline_clear (p);
    for (guint i = 0; i < n; i++) {
      gchar k[32];
      const gchar *argv[] = { "GET", k };
      g_snprintf (k, sizeof k, "rep:%u", i);
      vss_valkey_pipeline_append (p, k, strlen (k),
          VSS_VALKEY_COMMAND_READONLY, 2, argv, NULL);
    }
    g_assert_true (vss_valkey_client_execute (c, p, NULL, &err));
    for (guint i = 0; i < n; i++) {
      const VssValkeyReply *rep = vss_valkey_pipeline_get_reply (p, i);
      gchar k[32];
      g_snprintf (k, sizeof k, "rep:%u", i);
      g_assert_cmpint (rep->type, !=, REDIS_REPLY_ERROR);
      good += rep->type == REDIS_REPLY_STRING && !strcmp (rep->str, k);
    }
    if (good == n)
      break;
    g_assert_cmpint (g_get_monotonic_time (), <, until);
    g_usleep (50 * 1000);
  }

  for (guint i = 0; i < vss_test_redis_get_n_nodes (r); i++) {
    gchar *role = cli (r, i, "ROLE", NULL);
    if (g_str_has_prefix (role, "master"))
      on_primaries += get_calls (r, i);
    else
      on_replicas += get_calls (r, i);
    g_free (role);
  }
  g_test_message ("GET on replicas %" G_GUINT64_FORMAT ", on primaries %"
      G_GUINT64_FORMAT, on_replicas, on_primaries);
  g_assert_cmpuint (on_primaries, ==, 0);
  g_assert_cmpuint (on_replicas, >=, n);
  vss_valkey_client_free (c);
}

/* ElastiCache's shape: cluster mode and TLS together. The slot map must
 * name the TLS ports. */
static void
test_tls_cluster (void)
{
  VssTestRedisOptions opts = {.tls = TRUE };
  GError *err = NULL;
  g_autoptr (VssTestRedis) r = vss_test_redis_start_cluster (3, &opts, &err);
  g_autoptr (VssValkeyPipeline) p = vss_valkey_pipeline_new ();
  VssValkeyClient *c;
  gchar *url;
  const guint n = 1000;

  g_assert_no_error (err);
  url = vss_test_redis_get_url (r, NULL);
  g_assert_true (g_str_has_prefix (url, "rediss://"));
  c = vss_valkey_client_new_from_url (url, &err);
  g_free (url);
  g_assert_no_error (err);
  for (guint i = 0; i < n; i++) {
    gchar k[32];
    const gchar *argv[] = { "SET", k, k };
    g_snprintf (k, sizeof k, "tls:%u", i);
    vss_valkey_pipeline_append (p, k, strlen (k), 0, 3, argv, NULL);
  }
  g_assert_true (vss_valkey_client_execute (c, p, NULL, &err));
  g_assert_no_error (err);
  g_assert_true (vss_valkey_client_is_cluster (c));
  g_assert_cmpuint (vss_valkey_client_get_n_primaries (c), ==, 3);
  vss_valkey_pipeline_clear (p);
  for (guint i = 0; i < n; i++) {
    gchar k[32];
    const gchar *argv[] = { "GET", k };
    g_snprintf (k, sizeof k, "tls:%u", i);
    vss_valkey_pipeline_append (p, k, strlen (k), 0, 2, argv, NULL);
  }
  g_assert_true (vss_valkey_client_execute (c, p, NULL, &err));
  for (guint i = 0; i < n; i++) {
    gchar k[32];
    g_snprintf (k, sizeof k, "tls:%u", i);
    g_assert_cmpstr (vss_valkey_pipeline_get_reply (p, i)->str, ==, k);
  }
  vss_valkey_client_free (c);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/valkey/cluster/migration", test_cluster_migration);
  g_test_add_func ("/valkey/cluster/replica-reads", test_replica_reads);
  g_test_add_func ("/valkey/cluster/tls", test_tls_cluster);
  return g_test_run ();
}
