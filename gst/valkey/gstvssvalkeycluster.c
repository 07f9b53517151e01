/* gst-vss: cluster slot map
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Pure parsing of CLUSTER SHARDS (Redis 7+, Valkey) and CLUSTER SLOTS
 * (everything since 3.0) into one map; no I/O here.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include "gstvssvalkeycluster.h"

static void
node_free (gpointer p)
{
  VssValkeyNodeAddr *n = p;
  g_free (n->host);
  g_free (n);
}

static void
shard_clear (gpointer p)
{
  VssValkeyShard *s = p;
  g_clear_pointer (&s->replicas, g_array_unref);
}

static VssValkeySlotMap *
map_new (void)
{
  VssValkeySlotMap *m = g_new0 (VssValkeySlotMap, 1);

  m->nodes = g_ptr_array_new_with_free_func (node_free);
  m->shards = g_array_new (FALSE, TRUE, sizeof (VssValkeyShard));
  g_array_set_clear_func (m->shards, shard_clear);
  for (guint i = 0; i < VSS_VALKEY_SLOTS; i++)
    m->shard_of_slot[i] = -1;
  return m;
}

void
vss_valkey_slot_map_free (VssValkeySlotMap * m)
{
  if (m == NULL)
    return;
  g_ptr_array_unref (m->nodes);
  g_array_unref (m->shards);
  g_free (m);
}

static guint
node_index (VssValkeySlotMap * m, const gchar * host, guint16 port,
    gboolean primary)
{
  VssValkeyNodeAddr *n;

  for (guint i = 0; i < m->nodes->len; i++) {
    n = g_ptr_array_index (m->nodes, i);
    if (n->port == port && !strcmp (n->host, host)) {
      n->primary |= primary;
      return i;
    }
  }
  n = g_new0 (VssValkeyNodeAddr, 1);
  n->host = g_strdup (host);
  n->port = port;
  n->primary = primary;
  g_ptr_array_add (m->nodes, n);
  return m->nodes->len - 1;
}

static gboolean
bad_shape (GError ** error, const gchar * what)
{
  g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_PROTOCOL,
      "Unexpected %s reply: %s", what == NULL ? "CLUSTER" : what,
      "not the documented shape");
  return FALSE;
}

static gboolean
is_str (const redisReply * r)
{
  return r != NULL && (r->type == REDIS_REPLY_STRING
      || r->type == REDIS_REPLY_STATUS);
}

/* Empty host or "?" means: the node we asked. */
static const gchar *
pick_host (const gchar * h, const gchar * asked)
{
  if (h == NULL || h[0] == '\0' || !strcmp (h, "?"))
    return asked;
  return h;
}

static gboolean
assign (VssValkeySlotMap * m, long long start, long long end, guint shard,
    GError ** error)
{
  if (start < 0 || end >= VSS_VALKEY_SLOTS || start > end)
    return bad_shape (error, "CLUSTER slot range");
  for (long long s = start; s <= end; s++)
    m->shard_of_slot[s] = shard;
  return TRUE;
}

VssValkeySlotMap *
vss_valkey_slot_map_from_slots (const VssValkeyReply * reply,
    const gchar * asked_host, GError ** error)
{
  VssValkeySlotMap *m;

  if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
    bad_shape (error, "CLUSTER SLOTS");
    return NULL;
  }
  m = map_new ();
  for (size_t i = 0; i < reply->elements; i++) {
    const redisReply *e = reply->element[i];
    VssValkeyShard shard = { 0, g_array_new (FALSE, FALSE, sizeof (guint)) };

    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3
        || e->element[0]->type != REDIS_REPLY_INTEGER
        || e->element[1]->type != REDIS_REPLY_INTEGER) {
      g_array_unref (shard.replicas);
      goto bad;
    }
    for (size_t j = 2; j < e->elements; j++) {
      const redisReply *n = e->element[j];
      guint idx;
      if (n->type != REDIS_REPLY_ARRAY || n->elements < 2
          || !is_str (n->element[0])
          || n->element[1]->type != REDIS_REPLY_INTEGER
          || n->element[1]->integer <= 0 || n->element[1]->integer > 65535) {
        g_array_unref (shard.replicas);
        goto bad;
      }
      idx = node_index (m, pick_host (n->element[0]->str, asked_host),
          (guint16) n->element[1]->integer, j == 2);
      if (j == 2)
        shard.primary = idx;
      else
        g_array_append_val (shard.replicas, idx);
    }
    g_array_append_val (m->shards, shard);
    if (!assign (m, e->element[0]->integer, e->element[1]->integer,
            m->shards->len - 1, error))
      goto fail;
  }
  return m;

bad:
  bad_shape (error, "CLUSTER SLOTS");
fail:
  vss_valkey_slot_map_free (m);
  return NULL;
}

/* RESP2 maps are flat [key, value, ...] arrays. */
static const redisReply *
map_get (const redisReply * map, const gchar * key)
{
  if (map == NULL || map->type != REDIS_REPLY_ARRAY)
    return NULL;
  for (size_t i = 0; i + 1 < map->elements; i += 2)
    if (is_str (map->element[i]) && !strcmp (map->element[i]->str, key))
      return map->element[i + 1];
  return NULL;
}

VssValkeySlotMap *
vss_valkey_slot_map_from_shards (const VssValkeyReply * reply,
    const gchar * asked_host, gboolean tls, GError ** error)
{
  VssValkeySlotMap *m;

  if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
    bad_shape (error, "CLUSTER SHARDS");
    return NULL;
  }
  m = map_new ();
  for (size_t i = 0; i < reply->elements; i++) {
    const redisReply *slots = map_get (reply->element[i], "slots");
    const redisReply *nodes = map_get (reply->element[i], "nodes");
    VssValkeyShard shard = { 0, NULL };
    gboolean have_primary = FALSE;

    if (slots == NULL || nodes == NULL || slots->type != REDIS_REPLY_ARRAY
        || nodes->type != REDIS_REPLY_ARRAY || slots->elements % 2)
      goto bad;
    if (slots->elements == 0)
      continue;                 /* a shard that serves nothing */
    shard.replicas = g_array_new (FALSE, FALSE, sizeof (guint));
    for (size_t j = 0; j < nodes->elements; j++) {
      const redisReply *n = nodes->element[j];
      const redisReply *role = map_get (n, "role");
      const redisReply *health = map_get (n, "health");
      const redisReply *endpoint = map_get (n, "endpoint");
      const redisReply *ip = map_get (n, "ip");
      const redisReply *port = map_get (n, tls ? "tls-port" : "port");
      const gchar *host;
      gboolean primary;
      guint idx;

      if (port == NULL)
        port = map_get (n, "port");
      if (!is_str (role) || port == NULL || port->type != REDIS_REPLY_INTEGER
          || port->integer <= 0 || port->integer > 65535) {
        g_array_unref (shard.replicas);
        goto bad;
      }
      primary = !strcmp (role->str, "master") || !strcmp (role->str, "primary");
      /* A failed replica is no place to read from. */
      if (!primary && is_str (health) && strcmp (health->str, "online"))
        continue;
      host = is_str (endpoint) ? endpoint->str : NULL;
      if ((host == NULL || !strcmp (host, "?")) && is_str (ip))
        host = ip->str;
      idx = node_index (m, pick_host (host, asked_host),
          (guint16) port->integer, primary);
      if (primary) {
        shard.primary = idx;
        have_primary = TRUE;
      } else {
        g_array_append_val (shard.replicas, idx);
      }
    }
    if (!have_primary) {
      g_array_unref (shard.replicas);
      continue;
    }
    g_array_append_val (m->shards, shard);
    for (size_t j = 0; j < slots->elements; j += 2) {
      if (slots->element[j]->type != REDIS_REPLY_INTEGER
          || slots->element[j + 1]->type != REDIS_REPLY_INTEGER)
        goto bad;
      if (!assign (m, slots->element[j]->integer,
              slots->element[j + 1]->integer, m->shards->len - 1, error))
        goto fail;
    }
  }
  return m;

bad:
  bad_shape (error, "CLUSTER SHARDS");
fail:
  vss_valkey_slot_map_free (m);
  return NULL;
}

guint
vss_valkey_slot_map_n_unassigned (const VssValkeySlotMap * m)
{
  guint n = 0;

  for (guint i = 0; i < VSS_VALKEY_SLOTS; i++)
    n += m->shard_of_slot[i] < 0;
  return n;
}

/**
 * vss_valkey_slot_map_route:
 * @replica_ok: pick a random replica of the slot when it has one.
 *
 * Returns: (nullable): the node serving @slot, NULL if no node does.
 */
const VssValkeyNodeAddr *
vss_valkey_slot_map_route (const VssValkeySlotMap * m, guint slot,
    gboolean replica_ok)
{
  const VssValkeyShard *s;
  guint idx;

  if (slot >= VSS_VALKEY_SLOTS || m->shard_of_slot[slot] < 0)
    return NULL;
  s = &g_array_index (m->shards, VssValkeyShard, m->shard_of_slot[slot]);
  idx = s->primary;
  if (replica_ok && s->replicas->len > 0)
    idx = g_array_index (s->replicas, guint,
        g_random_int_range (0, s->replicas->len));
  return g_ptr_array_index (m->nodes, idx);
}
