/* gst-vss: cluster slot map
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "gstvssvalkeyresp.h"

G_BEGIN_DECLS

typedef struct
{
  gchar *host;
  guint16 port;
  gboolean primary;
} VssValkeyNodeAddr;

typedef struct
{
  guint primary;                /* index into nodes */
  GArray *replicas;             /* guint indexes into nodes */
} VssValkeyShard;

/**
 * VssValkeySlotMap:
 *
 * Who serves each of the 16384 slots, parsed from CLUSTER SHARDS or
 * CLUSTER SLOTS. Nodes are unique by host and port.
 */
typedef struct
{
  GPtrArray *nodes;             /* VssValkeyNodeAddr */
  GArray *shards;               /* VssValkeyShard */
  gint shard_of_slot[VSS_VALKEY_SLOTS];  /* -1 when unassigned */
} VssValkeySlotMap;

VssValkeySlotMap *vss_valkey_slot_map_from_slots (const VssValkeyReply *
    reply, const gchar * asked_host, GError ** error);

VssValkeySlotMap *vss_valkey_slot_map_from_shards (const VssValkeyReply *
    reply, const gchar * asked_host, gboolean tls, GError ** error);

const VssValkeyNodeAddr *vss_valkey_slot_map_route (const VssValkeySlotMap *
    map, guint slot, gboolean replica_ok);

guint vss_valkey_slot_map_n_unassigned (const VssValkeySlotMap * map);

void vss_valkey_slot_map_free (VssValkeySlotMap * map);

G_END_DECLS
