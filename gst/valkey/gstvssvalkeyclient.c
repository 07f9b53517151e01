/* gst-vss: Valkey client (standalone or cluster, TCP or TLS)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Locking: `lock` guards everything in the client (the node table and its
 * connections, the slot map, the stats) and is held for the whole of a call,
 * network waits included: a client serves one caller at a time, and each
 * element owns its own client. Waits stay interruptible through the
 * caller's GCancellable. It is a leaf lock.
 *
 * Routing: a pipeline is split per node; each node gets all its commands in
 * one write, then its replies are read in order. MOVED marks the slot map
 * stale (it is fetched again before the next round), ASK sends ASKING and
 * the command to the named node once. Results stay at the caller's indexes.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gst/gst.h>
#include "gstvssvalkeyresp.h"
#include "gstvssvalkeyclient.h"
#include "core/gstvssbackoff.h"
#include "gstvssvalkeyconn.h"
#include "gstvssvalkeycluster.h"
#include "gstvssvalkeypipelinepriv.h"

GST_DEBUG_CATEGORY_STATIC (vss_valkey_debug);
#define GST_CAT_DEFAULT vss_valkey_debug

/* Fetch the slot map again after this long even without MOVED, to learn
 * about replicas that came online and nodes that were added. */
#define MAP_MAX_AGE_US (60 * G_USEC_PER_SEC)

/* Reconnects: equal jitter (never back at once), base 100 ms, cap 2 s. */
static const GstVssBackoff backoff =
    { 100, 2000, GST_VSS_BACKOFF_JITTER_EQUAL };

typedef struct
{
  gchar *host;
  guint16 port;
  gboolean readonly;
  VssValkeyConn *conn;
  gboolean ever_connected;
  /* Per execute round: commands for this node, in caller order. */
  GArray *batch;
  gboolean sent;
} Node;

struct _VssValkeyClient
{
  GMutex lock;
  VssValkeyConfig *cfg;
  gchar *display_url;
  gboolean topology_known;
  gboolean cluster;
  gboolean map_stale;
  VssValkeySlotMap *map;
  gint64 map_time;
  Node *standalone;
  GHashTable *nodes;            /* "host:port" → Node */
  GArray *vecs;                 /* GOutputVector, reused per write */
  GPtrArray *used;              /* nodes written to in the current round */
  gboolean need_pause;          /* the round met TRYAGAIN and friends */
  VssValkeyPipeline *in_flight; /* sent, replies not read yet */
  VssValkeyClientStats stats;
};

static void
node_free (gpointer p)
{
  Node *n = p;

  vss_valkey_conn_free (n->conn);
  g_free (n->host);
  g_array_unref (n->batch);
  g_free (n);
}

static gchar *
display_url (const VssValkeyConfig * cfg)
{
  GString *s = g_string_new (cfg->tls ? "rediss://" : "redis://");

  if (cfg->password)
    g_string_append_printf (s, "%s:***@", cfg->user ? cfg->user : "");
  for (guint i = 0; i < cfg->n_seeds; i++)
    g_string_append_printf (s, i ? ",%s:%u" : "%s:%u", cfg->seeds[i].host,
        cfg->seeds[i].port);
  g_string_append_printf (s, "/%d", cfg->db);
  return g_string_free (s, FALSE);
}

VssValkeyClient *
vss_valkey_client_new (const VssValkeyConfig * config)
{
  static gsize debug_inited = 0;
  VssValkeyClient *c = g_new0 (VssValkeyClient, 1);

  if (g_once_init_enter (&debug_inited)) {
    GST_DEBUG_CATEGORY_INIT (vss_valkey_debug, "vssvalkey", 0,
        "gst-vss Valkey client (messages never show passwords)");
    g_once_init_leave (&debug_inited, 1);
  }
  g_mutex_init (&c->lock);
  c->cfg = vss_valkey_config_copy (config);
  c->display_url = display_url (c->cfg);
  c->nodes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, node_free);
  c->vecs = g_array_new (FALSE, FALSE, sizeof (GOutputVector));
  c->used = g_ptr_array_new ();
  return c;
}

/**
 * vss_valkey_client_new_from_url:
 *
 * Parses @url (see #VssValkeyConfig) and returns a client. Nothing is
 * connected yet: the first command, or vss_valkey_client_connect(),
 * connects.
 */
VssValkeyClient *
vss_valkey_client_new_from_url (const gchar * url, GError ** error)
{
  VssValkeyConfig *cfg = vss_valkey_config_new_from_url (url, error);
  VssValkeyClient *c;

  if (cfg == NULL)
    return NULL;
  c = vss_valkey_client_new (cfg);
  vss_valkey_config_free (cfg);
  return c;
}

void
vss_valkey_client_free (VssValkeyClient * c)
{
  if (c == NULL)
    return;
  g_hash_table_unref (c->nodes);
  vss_valkey_slot_map_free (c->map);
  vss_valkey_config_free (c->cfg);
  g_free (c->display_url);
  g_array_unref (c->vecs);
  g_ptr_array_unref (c->used);
  g_mutex_clear (&c->lock);
  g_free (c);
}

/**
 * vss_valkey_client_get_display_url:
 *
 * Returns: the URL with its password masked, for logs and messages.
 */
const gchar *
vss_valkey_client_get_display_url (VssValkeyClient * c)
{
  return c->display_url;
}

void
vss_valkey_client_get_stats (VssValkeyClient * c, VssValkeyClientStats * s)
{
  g_mutex_lock (&c->lock);
  *s = c->stats;
  g_mutex_unlock (&c->lock);
}

static Node *
get_node (VssValkeyClient * c, const gchar * host, guint16 port,
    gboolean readonly)
{
  gchar *key = g_strdup_printf ("%s|%u|%d", host, port, readonly);
  Node *n = g_hash_table_lookup (c->nodes, key);

  if (n != NULL) {
    g_free (key);
    return n;
  }
  n = g_new0 (Node, 1);
  n->host = g_strdup (host);
  n->port = port;
  n->readonly = readonly;
  n->batch = g_array_new (FALSE, FALSE, sizeof (guint));
  g_hash_table_insert (c->nodes, key, n);
  return n;
}

/* Calls that talk to the server may not interleave with a pipeline sent
 * by vss_valkey_client_send() whose replies are still unread. */
static gboolean
check_idle (VssValkeyClient * c, GError ** error)
{
  if (c->in_flight == NULL)
    return TRUE;
  g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_INVALID_ARGUMENT,
      "A pipeline is in flight: call vss_valkey_client_receive() first");
  return FALSE;
}

static gboolean
sleep_cancellable (guint ms, GCancellable * cancellable, GError ** error)
{
  GPollFD fd;

  if (cancellable != NULL && g_cancellable_make_pollfd (cancellable, &fd)) {
    g_poll (&fd, 1, ms);
    g_cancellable_release_fd (cancellable);
  } else {
    g_usleep ((gulong) ms * 1000);
  }
  return !g_cancellable_set_error_if_cancelled (cancellable, error);
}

static gboolean
is_permanent (const GError * err)
{
  return g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED)
      || g_error_matches (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_AUTH)
      || g_error_matches (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_TLS)
      || g_error_matches (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_SERVER);
}

static VssValkeyConn *
node_conn (VssValkeyClient * c, Node * n, guint attempts,
    GCancellable * cancellable, GError ** error)
{
  if (n->conn != NULL && !vss_valkey_conn_is_broken (n->conn))
    return n->conn;
  g_clear_pointer (&n->conn, vss_valkey_conn_free);

  for (guint attempt = 0;; attempt++) {
    GError *err = NULL;

    n->conn = vss_valkey_conn_open (c->cfg, n->host, n->port, n->readonly,
        cancellable, &err);
    if (n->conn != NULL) {
      GST_INFO ("connected to %s%s%s", vss_valkey_conn_get_name (n->conn),
          c->cfg->tls ? " (TLS)" : "", n->readonly ? " (replica)" : "");
      if (n->ever_connected)
        c->stats.reconnects++;
      n->ever_connected = TRUE;
      return n->conn;
    }
    if (is_permanent (err) || attempt >= attempts) {
      GST_DEBUG ("%s", err->message);
      g_propagate_error (error, err);
      return NULL;
    }
    GST_DEBUG ("attempt %u: %s", attempt + 1, err->message);
    g_clear_error (&err);
    if (!sleep_cancellable (gst_vss_backoff_ms (&backoff, attempt, NULL),
            cancellable, error))
      return NULL;
  }
}

static VssValkeyReply *
roundtrip (VssValkeyClient * c, VssValkeyConn * conn, GCancellable * cancel,
    GError ** error, gint argc, const gchar ** argv)
{
  gsize len;
  gchar *cmd = vss_valkey_resp_format_command (argc, argv, NULL, &len);
  gint64 deadline = vss_valkey_deadline_from_ms (c->cfg->command_timeout_ms);
  gboolean ok;

  ok = vss_valkey_conn_write (conn, cmd, len, deadline, cancel, error);
  g_free (cmd);
  if (!ok)
    return NULL;
  return vss_valkey_conn_read_reply (conn, deadline, cancel, error);
}

/* Asks one node for the slot map. Returns -1 on I/O failure (try another
 * node), 0 with @error when the answer is final, 1 on success. */
static gint
fetch_map_from (VssValkeyClient * c, Node * n, GCancellable * cancel,
    GError ** error)
{
  static const gchar *shards[] = { "CLUSTER", "SHARDS" };
  static const gchar *slots[] = { "CLUSTER", "SLOTS" };
  GError *err = NULL;
  VssValkeyConn *conn;
  VssValkeyReply *r;
  VssValkeySlotMap *map;
  gboolean is_shards;

  conn = node_conn (c, n, 0, cancel, &err);
  if (conn == NULL)
    goto io_failed;
  r = roundtrip (c, conn, cancel, &err, 2, shards);
  if (r == NULL)
    goto io_failed;
  is_shards = TRUE;
  if (r->type == REDIS_REPLY_ERROR && !strstr (r->str, "cluster support")) {
    /* Servers older than 7.0 have only CLUSTER SLOTS. */
    freeReplyObject (r);
    is_shards = FALSE;
    r = roundtrip (c, conn, cancel, &err, 2, slots);
    if (r == NULL)
      goto io_failed;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    /* "ERR This instance has cluster support disabled", or an ACL user
     * that may not ask: in auto mode both mean a single server. */
    if (c->cfg->cluster == VSS_VALKEY_CLUSTER_YES
        || (c->topology_known && c->cluster)) {
      g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_CLUSTER,
          "Cannot read the slot map from %s: %s",
          vss_valkey_conn_get_name (conn), r->str);
      freeReplyObject (r);
      return c->cfg->cluster == VSS_VALKEY_CLUSTER_YES
          && !c->topology_known ? 0 : -1;
    }
    GST_DEBUG ("%s: not a cluster (%s)", vss_valkey_conn_get_name (conn),
        r->str);
    freeReplyObject (r);
    c->cluster = FALSE;
    c->standalone = n;
    c->topology_known = TRUE;
    return 1;
  }
  if (is_shards)
    map = vss_valkey_slot_map_from_shards (r, n->host, c->cfg->tls, error);
  else
    map = vss_valkey_slot_map_from_slots (r, n->host, error);
  freeReplyObject (r);
  if (map == NULL)
    return 0;
  if (map->shards->len == 0) {
    vss_valkey_slot_map_free (map);
    g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_CLUSTER,
        "The cluster at %s serves no slots yet", n->host);
    return -1;
  }
  vss_valkey_slot_map_free (c->map);
  c->map = map;
  c->map_time = g_get_monotonic_time ();
  c->cluster = TRUE;
  c->map_stale = FALSE;
  c->topology_known = TRUE;
  c->stats.map_refreshes++;
  GST_DEBUG ("slot map from %s: %u shards, %u nodes, %u slots unassigned",
      vss_valkey_conn_get_name (conn), map->shards->len, map->nodes->len,
      vss_valkey_slot_map_n_unassigned (map));
  return 1;

io_failed:
  if (is_permanent (err)) {
    g_propagate_error (error, err);
    return 0;
  }
  g_propagate_error (error, err);
  return -1;
}

/* Learns whether the server is a cluster and, if so, its slot map. Tries
 * the known nodes then the seeds, in rounds separated by backoff. */
static gboolean
ensure_topology (VssValkeyClient * c, GCancellable * cancel, GError ** error)
{
  if (c->cluster && g_get_monotonic_time () - c->map_time > MAP_MAX_AGE_US)
    c->map_stale = TRUE;
  if (c->topology_known && !(c->cluster && c->map_stale))
    return TRUE;
  if (c->cfg->cluster == VSS_VALKEY_CLUSTER_NO) {
    c->standalone = get_node (c, c->cfg->seeds[0].host, c->cfg->seeds[0].port,
        FALSE);
    c->topology_known = TRUE;
    return TRUE;
  }
  for (guint attempt = 0;; attempt++) {
    GPtrArray *cands = g_ptr_array_new ();
    GError *last = NULL;

    if (c->map != NULL) {
      for (guint i = 0; i < c->map->nodes->len; i++) {
        VssValkeyNodeAddr *a = g_ptr_array_index (c->map->nodes, i);
        if (a->primary)
          g_ptr_array_add (cands, get_node (c, a->host, a->port, FALSE));
      }
    }
    for (guint i = 0; i < c->cfg->n_seeds; i++)
      g_ptr_array_add (cands, get_node (c, c->cfg->seeds[i].host,
              c->cfg->seeds[i].port, FALSE));
    for (guint i = 0; i < cands->len; i++) {
      gint r;
      g_clear_error (&last);
      r = fetch_map_from (c, g_ptr_array_index (cands, i), cancel, &last);
      if (r >= 0) {
        g_ptr_array_unref (cands);
        if (r == 0)
          g_propagate_error (error, last);
        return r == 1;
      }
    }
    g_ptr_array_unref (cands);
    if (attempt >= c->cfg->reconnect_attempts) {
      g_propagate_prefixed_error (error, last, "No node of %s answered: ",
          c->display_url);
      return FALSE;
    }
    g_clear_error (&last);
    if (!sleep_cancellable (gst_vss_backoff_ms (&backoff, attempt, NULL),
            cancel, error))
      return FALSE;
  }
}

/**
 * vss_valkey_client_connect:
 *
 * Connects to the server (or learns the cluster's slot map) now, so that
 * a bad URL, password or certificate shows at start-up.
 */
gboolean
vss_valkey_client_connect (VssValkeyClient * c, GCancellable * cancel,
    GError ** error)
{
  gboolean ok;

  g_mutex_lock (&c->lock);
  ok = check_idle (c, error) && ensure_topology (c, cancel, error);
  if (ok && !c->cluster)
    ok = node_conn (c, c->standalone, c->cfg->reconnect_attempts, cancel,
        error) != NULL;
  g_mutex_unlock (&c->lock);
  return ok;
}

gboolean
vss_valkey_client_is_cluster (VssValkeyClient * c)
{
  gboolean ret;

  g_mutex_lock (&c->lock);
  ret = c->cluster;
  g_mutex_unlock (&c->lock);
  return ret;
}

/* Primaries, one per shard; the standalone node outside a cluster. */
static GPtrArray *
primaries (VssValkeyClient * c)
{
  GPtrArray *a = g_ptr_array_new ();

  if (!c->cluster) {
    g_ptr_array_add (a, c->standalone);
    return a;
  }
  for (guint i = 0; i < c->map->shards->len; i++) {
    VssValkeyShard *s = &g_array_index (c->map->shards, VssValkeyShard, i);
    VssValkeyNodeAddr *addr = g_ptr_array_index (c->map->nodes, s->primary);
    Node *n = get_node (c, addr->host, addr->port, FALSE);
    if (!g_ptr_array_find (a, n, NULL))
      g_ptr_array_add (a, n);
  }
  return a;
}

guint
vss_valkey_client_get_n_primaries (VssValkeyClient * c)
{
  guint n = 0;

  g_mutex_lock (&c->lock);
  if (c->topology_known) {
    GPtrArray *a = primaries (c);
    n = a->len;
    g_ptr_array_unref (a);
  }
  g_mutex_unlock (&c->lock);
  return n;
}

static Node *
route (VssValkeyClient * c, VssValkeyPipelineEntry * e, Node * any)
{
  const VssValkeyNodeAddr *a;
  gboolean replica;

  if (e->ask_host != NULL)
    return get_node (c, e->ask_host, e->ask_port, FALSE);
  if (!c->cluster)
    return c->standalone;
  if (e->slot < 0)
    return any;
  replica = c->cfg->read_from_replicas
      && (e->flags & VSS_VALKEY_COMMAND_READONLY);
  a = vss_valkey_slot_map_route (c->map, e->slot, replica);
  if (a == NULL)
    return NULL;
  return get_node (c, a->host, a->port, replica && !a->primary);
}

static void
append_vec (GArray * vecs, const void *data, gsize len)
{
  GOutputVector v = { data, len };
  g_array_append_val (vecs, v);
}

static const gchar asking_cmd[] = "*1\r\n$6\r\nASKING\r\n";

/* Sets entry state from its reply; returns TRUE when done. */
static gboolean
take_reply (VssValkeyClient * c, Node * asked, VssValkeyPipelineEntry * e,
    VssValkeyReply * r, gboolean * need_pause)
{
  gboolean ask;
  guint slot;
  gchar *host;
  guint16 port;

  if (e->reply)
    freeReplyObject (e->reply);
  e->reply = r;
  g_clear_pointer (&e->ask_host, g_free);

  if (vss_valkey_resp_parse_redirect (r, &ask, &slot, &host, &port)) {
    if (host[0] == '\0') {
      /* An empty host names the node that was asked. */
      g_free (host);
      host = g_strdup (asked->host);
    }
    GST_LOG ("%s slot %u to %s:%u", ask ? "ASK" : "MOVED", slot, host, port);
    if (ask) {
      c->stats.ask++;
      e->ask_host = host;
      e->ask_port = port;
    } else {
      c->stats.moved++;
      c->map_stale = TRUE;
      g_free (host);
    }
    e->state = VSS_VALKEY_COMMAND_NOT_SENT;
    return FALSE;
  }
  /* Transient: a multi-key command during a migration, a cluster that is
   * healing, a server still loading its data after a restart. */
  if (vss_valkey_reply_is_error (r, "TRYAGAIN")
      || vss_valkey_reply_is_error (r, "CLUSTERDOWN")
      || vss_valkey_reply_is_error (r, "LOADING")) {
    c->stats.tryagain++;
    *need_pause = TRUE;
    c->map_stale = c->cluster;
    e->state = VSS_VALKEY_COMMAND_NOT_SENT;
    return FALSE;
  }
  e->state = VSS_VALKEY_COMMAND_DONE;
  return TRUE;
}

static void
keep_first (GError ** failure, GError * err)
{
  if (*failure == NULL)
    *failure = err;
  else
    g_clear_error (&err);
}

static guint
count_todo (VssValkeyPipeline * p)
{
  return p->entries->len - vss_valkey_pipeline_count_state (p,
      VSS_VALKEY_COMMAND_DONE);
}

/* Splits the commands without reply per node, in caller order, and writes
 * every node's batch before any reply is read, so that the nodes work in
 * parallel. c->used lists the nodes written to (node->sent). */
static void
round_send (VssValkeyClient * c, VssValkeyPipeline * p,
    GCancellable * cancel, GError ** failure)
{
  guint n = p->entries->len;
  Node *any = NULL;

  if (c->cluster) {
    GPtrArray *prim = primaries (c);
    any = g_ptr_array_index (prim, g_random_int_range (0, prim->len));
    g_ptr_array_unref (prim);
  }

  g_ptr_array_set_size (c->used, 0);
  for (guint i = 0; i < n; i++) {
    VssValkeyPipelineEntry *e = &g_array_index (p->entries,
        VssValkeyPipelineEntry, i);
    Node *node;
    if (e->state == VSS_VALKEY_COMMAND_DONE)
      continue;
    node = route (c, e, any);
    if (node == NULL) {
      /* Slot not served: fetch the map again and retry. */
      c->map_stale = TRUE;
      c->need_pause = TRUE;
      continue;
    }
    if (!g_ptr_array_find (c->used, node, NULL)) {
      g_array_set_size (node->batch, 0);
      node->sent = FALSE;
      g_ptr_array_add (c->used, node);
    }
    g_array_append_val (node->batch, i);
  }

  for (guint k = 0; k < c->used->len; k++) {
    Node *node = g_ptr_array_index (c->used, k);
    VssValkeyConn *conn;
    GError *err = NULL;

    conn = node_conn (c, node, c->cfg->reconnect_attempts, cancel, &err);
    if (conn == NULL) {
      keep_first (failure, err);
      if (g_error_matches (*failure, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        break;
      continue;
    }
    g_array_set_size (c->vecs, 0);
    for (guint j = 0; j < node->batch->len; j++) {
      VssValkeyPipelineEntry *e = &g_array_index (p->entries,
          VssValkeyPipelineEntry, g_array_index (node->batch, guint, j));
      if (e->ask_host != NULL)
        append_vec (c->vecs, asking_cmd, sizeof asking_cmd - 1);
      append_vec (c->vecs, e->cmd, e->len);
      e->state = VSS_VALKEY_COMMAND_NO_REPLY;
    }
    node->sent = TRUE;
    if (!vss_valkey_conn_writev (conn, (GOutputVector *) c->vecs->data,
            c->vecs->len,
            vss_valkey_deadline_from_ms (c->cfg->command_timeout_ms),
            cancel, &err)) {
      keep_first (failure, err);
      node->sent = FALSE;
    }
  }
}

/* Reads the replies of what round_send() wrote. */
static void
round_receive (VssValkeyClient * c, VssValkeyPipeline * p,
    GCancellable * cancel, GError ** failure)
{
  for (guint k = 0; k < c->used->len; k++) {
    Node *node = g_ptr_array_index (c->used, k);
    gint64 deadline = vss_valkey_deadline_from_ms (c->cfg->command_timeout_ms);

    if (!node->sent)
      continue;
    for (guint j = 0; j < node->batch->len; j++) {
      VssValkeyPipelineEntry *e = &g_array_index (p->entries,
          VssValkeyPipelineEntry, g_array_index (node->batch, guint, j));
      VssValkeyReply *r;
      GError *err = NULL;

      if (e->ask_host != NULL) {
        r = vss_valkey_conn_read_reply (node->conn, deadline, cancel, &err);
        if (r == NULL) {
          keep_first (failure, err);
          break;
        }
        freeReplyObject (r);
      }
      r = vss_valkey_conn_read_reply (node->conn, deadline, cancel, &err);
      if (r == NULL) {
        keep_first (failure, err);
        break;
      }
      take_reply (c, node, e, r, &c->need_pause);
    }
  }
  g_ptr_array_set_size (c->used, 0);
}

/* Turns the outcome into the return value and error. */
static gboolean
finish (VssValkeyClient * c, VssValkeyPipeline * p, GError * failure,
    gboolean count_in_error, GError ** error)
{
  guint n = p->entries->len;

  if (failure == NULL && count_todo (p) > 0) {
    /* Only commands whose slot no node serves are left. */
    g_set_error (&failure, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_CLUSTER,
        "Some slots are served by no node of %s (cluster down or being "
        "resharded)", c->display_url);
  }
  if (failure == NULL)
    return TRUE;
  if (count_in_error) {
    guint not_sent = vss_valkey_pipeline_count_state (p,
        VSS_VALKEY_COMMAND_NOT_SENT);
    guint no_reply = vss_valkey_pipeline_count_state (p,
        VSS_VALKEY_COMMAND_NO_REPLY);
    if (not_sent + no_reply > 0)
      g_prefix_error (&failure, "%u of %u commands need a retry (%u not "
          "sent, %u sent without reply): ", not_sent + no_reply, n,
          not_sent, no_reply);
  }
  GST_WARNING ("%s", failure->message);
  g_propagate_error (error, failure);
  return FALSE;
}

/* Rounds of send and receive until every command has a reply, following
 * redirections. With @first_sent, round 0 was sent by
 * vss_valkey_client_send() and only its replies remain to be read. */
static gboolean
execute_locked (VssValkeyClient * c, VssValkeyPipeline * p,
    GCancellable * cancel, gboolean first_sent, gboolean count_in_error,
    GError ** error)
{
  GError *failure = NULL;

  for (guint round = 0;; round++) {
    if (!(round == 0 && first_sent)) {
      c->need_pause = FALSE;
      if (count_todo (p) == 0)
        break;
      if (round > c->cfg->max_redirects) {
        /* Give the caller the last redirect as the command's error reply. */
        for (guint i = 0; i < p->entries->len; i++) {
          VssValkeyPipelineEntry *e = &g_array_index (p->entries,
              VssValkeyPipelineEntry, i);
          if (e->state == VSS_VALKEY_COMMAND_NOT_SENT && e->reply != NULL)
            e->state = VSS_VALKEY_COMMAND_DONE;
        }
        break;
      }
      if (!ensure_topology (c, cancel, &failure))
        break;
      round_send (c, p, cancel, &failure);
    }
    round_receive (c, p, cancel, &failure);

    if (failure != NULL) {
      /* The lost node may have failed over: ask again next time. */
      if (c->cluster)
        c->map_stale = TRUE;
      break;
    }
    if (c->need_pause && !sleep_cancellable (MIN (10u << MIN (round, 6),
                500), cancel, &failure))
      break;
  }
  return finish (c, p, failure, count_in_error, error);
}

/**
 * vss_valkey_client_execute:
 *
 * Sends every command of @pipeline that has no reply yet, following cluster
 * redirections, and stores each reply at its command's index.
 *
 * Returns: TRUE when every command has a reply (some may be error replies:
 * check each). FALSE with @error when some have none; their state says
 * whether they were sent. Calling this again retries exactly those, after
 * reconnecting with backoff.
 */
gboolean
vss_valkey_client_execute (VssValkeyClient * c, VssValkeyPipeline * p,
    GCancellable * cancel, GError ** error)
{
  gboolean ok;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  g_mutex_lock (&c->lock);
  ok = check_idle (c, error) && execute_locked (c, p, cancel, FALSE, TRUE,
      error);
  g_mutex_unlock (&c->lock);
  return ok;
}

/**
 * vss_valkey_client_send:
 *
 * The first half of vss_valkey_client_execute(): writes the commands of
 * @pipeline that have no reply yet and returns without waiting, so that the
 * caller can prepare the next pipeline while the server works. One pipeline
 * may be in flight per client; vss_valkey_client_receive() must follow
 * before any other call that talks to the server.
 *
 * Returns: TRUE when @pipeline is in flight. FALSE with @error when it could
 * not be sent whole; it is then not in flight (what was written has been
 * read back) and the states say what needs a retry, as for execute.
 */
gboolean
vss_valkey_client_send (VssValkeyClient * c, VssValkeyPipeline * p,
    GCancellable * cancel, GError ** error)
{
  GError *failure = NULL;
  gboolean ok = TRUE;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  g_mutex_lock (&c->lock);
  if (!check_idle (c, error)) {
    ok = FALSE;
  } else if (!ensure_topology (c, cancel, &failure)) {
    ok = finish (c, p, failure, TRUE, error);
  } else {
    c->need_pause = FALSE;
    round_send (c, p, cancel, &failure);
    if (failure != NULL) {
      round_receive (c, p, cancel, &failure);
      if (c->cluster)
        c->map_stale = TRUE;
      ok = finish (c, p, failure, TRUE, error);
    } else {
      c->in_flight = p;
    }
  }
  g_mutex_unlock (&c->lock);
  return ok;
}

/**
 * vss_valkey_client_receive:
 *
 * The second half of vss_valkey_client_execute() for the pipeline given to
 * vss_valkey_client_send(): reads its replies and follows redirections.
 *
 * Returns: as vss_valkey_client_execute().
 */
gboolean
vss_valkey_client_receive (VssValkeyClient * c, VssValkeyPipeline * p,
    GCancellable * cancel, GError ** error)
{
  gboolean ok;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  g_mutex_lock (&c->lock);
  if (c->in_flight != p) {
    g_mutex_unlock (&c->lock);
    g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_INVALID_ARGUMENT,
        "This pipeline is not in flight");
    return FALSE;
  }
  c->in_flight = NULL;
  ok = execute_locked (c, p, cancel, TRUE, TRUE, error);
  g_mutex_unlock (&c->lock);
  return ok;
}

/* Commands whose first argument is not a key. */
static gboolean
is_keyless (const gchar * name, gsize len)
{
  static const gchar *const keyless[] = {
    "PING", "ECHO", "INFO", "AUTH", "SELECT", "CLUSTER", "CONFIG", "DBSIZE",
    "FLUSHALL", "FLUSHDB", "TIME", "COMMAND", "CLIENT", "ACL", "MODULE",
    "SCRIPT", "FUNCTION", "SCAN", "RANDOMKEY", "KEYS", "WAIT", "SAVE",
    "BGSAVE", "LASTSAVE", "ROLE", "READONLY", "READWRITE", "HELLO", "MEMORY",
    "SLOWLOG", "LATENCY", "DEBUG", "SWAPDB", "LOLWUT", "EVAL", "EVALSHA",
    "FCALL", NULL
  };

  if (len > 3 && (!g_ascii_strncasecmp (name, "FT.", 3)
          || !g_ascii_strncasecmp (name, "_FT.", 4)))
    return TRUE;
  for (guint i = 0; keyless[i]; i++)
    if (strlen (keyless[i]) == len && !g_ascii_strncasecmp (name, keyless[i],
            len))
      return TRUE;
  return FALSE;
}

/**
 * vss_valkey_command:
 *
 * Runs one command. In a cluster it is routed by its first argument,
 * except for commands without keys (FT.*, PING, INFO, ...) which go to any
 * primary.
 *
 * Returns: (transfer full): the reply (free with freeReplyObject()), or NULL
 * with @error, which carries the server's text for an error reply.
 */
VssValkeyReply *
vss_valkey_command (VssValkeyClient * c, GCancellable * cancel,
    GError ** error, gint argc, const gchar ** argv, const gsize * argvlen)
{
  VssValkeyPipeline *p = vss_valkey_pipeline_new ();
  VssValkeyReply *r = NULL;
  gsize name_len = argvlen ? argvlen[0] : strlen (argv[0]);
  gboolean keyed = argc >= 2 && !is_keyless (argv[0], name_len);
  gboolean ok;

  vss_valkey_pipeline_append (p, keyed ? argv[1] : NULL,
      keyed ? (argvlen ? argvlen[1] : strlen (argv[1])) : 0,
      VSS_VALKEY_COMMAND_FLAGS_NONE, argc, argv, argvlen);
  g_mutex_lock (&c->lock);
  ok = check_idle (c, error) && execute_locked (c, p, cancel, FALSE, FALSE,
      error);
  g_mutex_unlock (&c->lock);
  if (ok) {
    r = vss_valkey_pipeline_steal_reply (p, 0);
    if (vss_valkey_reply_to_error (r, error, NULL)) {
      freeReplyObject (r);
      r = NULL;
    }
  }
  vss_valkey_pipeline_free (p);
  return r;
}

/* One node per shard for a read: a random replica when the client reads
 * from replicas and the shard has one that answers, else its primary.
 * Lock held. */
static GPtrArray *
shard_readers (VssValkeyClient * c, GCancellable * cancel)
{
  GPtrArray *a;

  if (!c->cluster || !c->cfg->read_from_replicas)
    return primaries (c);
  a = g_ptr_array_new ();
  for (guint i = 0; i < c->map->shards->len; i++) {
    VssValkeyShard *s = &g_array_index (c->map->shards, VssValkeyShard, i);
    VssValkeyNodeAddr *addr = g_ptr_array_index (c->map->nodes, s->primary);
    Node *n = get_node (c, addr->host, addr->port, FALSE);

    if (s->replicas->len > 0) {
      guint r = g_array_index (s->replicas, guint,
          g_random_int_range (0, s->replicas->len));
      VssValkeyNodeAddr *ra = g_ptr_array_index (c->map->nodes, r);
      Node *rn = get_node (c, ra->host, ra->port, TRUE);

      /* A replica that cannot be reached leaves the read to its primary. */
      if (node_conn (c, rn, 0, cancel, NULL) != NULL)
        n = rn;
    }
    if (!g_ptr_array_find (a, n, NULL))
      g_ptr_array_add (a, n);
  }
  return a;
}

/**
 * vss_valkey_command_on_primaries:
 *
 * Sends a command without keys to every primary (one node outside a
 * cluster), for servers without a search coordinator.
 *
 * Returns: (transfer full): one reply per primary, error replies included
 * (free the array with g_ptr_array_unref()), or NULL with @error when a
 * primary could not be reached.
 */
GPtrArray *
vss_valkey_command_on_primaries (VssValkeyClient * c, GCancellable * cancel,
    GError ** error, gint argc, const gchar ** argv, const gsize * argvlen)
{
  return vss_valkey_command_on_shards (c, VSS_VALKEY_COMMAND_FLAGS_NONE,
      cancel, error, argc, argv, argvlen);
}

/**
 * vss_valkey_command_on_shards:
 * @flags: %VSS_VALKEY_COMMAND_READONLY: a read, which a client made with
 *   `read_from_replicas=yes` sends to a random replica of each shard (its
 *   primary when it has none or it cannot be reached)
 *
 * Sends a command without keys to one node of every shard: its primary,
 * or for a read one of its replicas (one node outside a cluster).
 *
 * Returns: (transfer full): one reply per shard, error replies included
 * (free the array with g_ptr_array_unref()), or NULL with @error when a
 * node could not be reached.
 */
GPtrArray *
vss_valkey_command_on_shards (VssValkeyClient * c, guint flags,
    GCancellable * cancel, GError ** error, gint argc, const gchar ** argv,
    const gsize * argvlen)
{
  GPtrArray *nodes, *replies = NULL;
  gsize len;
  gchar *cmd = vss_valkey_resp_format_command (argc, argv, argvlen, &len);
  gint64 deadline;

  g_mutex_lock (&c->lock);
  if (!check_idle (c, error) || !ensure_topology (c, cancel, error))
    goto out;
  nodes = (flags & VSS_VALKEY_COMMAND_READONLY) ? shard_readers (c, cancel)
      : primaries (c);
  deadline = vss_valkey_deadline_from_ms (c->cfg->command_timeout_ms);
  replies = g_ptr_array_new_with_free_func ((GDestroyNotify) freeReplyObject);
  for (guint i = 0; i < nodes->len && replies; i++) {
    Node *n = g_ptr_array_index (nodes, i);
    VssValkeyConn *conn = node_conn (c, n, c->cfg->reconnect_attempts, cancel,
        error);
    if (conn == NULL || !vss_valkey_conn_write (conn, cmd, len, deadline,
            cancel, error))
      g_clear_pointer (&replies, g_ptr_array_unref);
  }
  for (guint i = 0; i < nodes->len && replies; i++) {
    Node *n = g_ptr_array_index (nodes, i);
    VssValkeyReply *r = vss_valkey_conn_read_reply (n->conn, deadline, cancel,
        error);
    if (r == NULL)
      g_clear_pointer (&replies, g_ptr_array_unref);
    else
      g_ptr_array_add (replies, r);
  }
  /* After a failure some nodes may still owe a reply: drop their
   * connections rather than read it as the answer to a later command. */
  for (guint i = 0; i < nodes->len && !replies; i++) {
    Node *n = g_ptr_array_index (nodes, i);
    g_clear_pointer (&n->conn, vss_valkey_conn_free);
  }
  g_ptr_array_unref (nodes);
out:
  g_mutex_unlock (&c->lock);
  g_free (cmd);
  return replies;
}
