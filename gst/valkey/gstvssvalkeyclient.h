/* gst-vss: Valkey client (standalone or cluster, TCP or TLS)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include "gstvssvalkeyurl.h"
#include "gstvssvalkeyreply.h"
#include "gstvssvalkeyerror.h"

G_BEGIN_DECLS

/**
 * VssValkeyClient:
 *
 * The one Valkey client of gst-vss: standalone or cluster (found out with
 * CLUSTER SHARDS unless the URL says `cluster=yes|no`), TCP or TLS, one
 * connection per node, opened lazily and re-opened with backoff.
 *
 * Calls block the calling thread (an element's own thread, never a
 * streaming thread waiting on one request at a time) and can be interrupted
 * through their GCancellable: give each element one and cancel it on
 * flush and state changes. A client serves one call at a time (calls from
 * several threads are serialised); use one client per element.
 *
 * |[
 * VssValkeyClient *c = vss_valkey_client_new_from_url (
 *     "valkeys://writer:secret@cache.example:6379?tls_ca_file=/etc/ca.pem",
 *     &error);
 * VssValkeyPipeline *p = vss_valkey_pipeline_new ();
 * vss_valkey_pipeline_append (p, key, key_len, 0, argc, argv, argvlen);
 * ...
 * if (!vss_valkey_client_execute (c, p, cancellable, &error)) {
 *   // some commands have no reply: vss_valkey_pipeline_needs_retry (p, i)
 *   // says which; executing p again resends exactly those.
 * }
 * ]|
 *
 * Writers that want the server busy while they build the next pipeline use
 * vss_valkey_client_send() and vss_valkey_client_receive() instead.
 */
typedef struct _VssValkeyClient VssValkeyClient;
typedef struct _VssValkeyPipeline VssValkeyPipeline;

/**
 * VssValkeyCommandState:
 * @VSS_VALKEY_COMMAND_NOT_SENT: not sent (or redirected and not resent):
 *   it has not run; safe to retry.
 * @VSS_VALKEY_COMMAND_NO_REPLY: sent, but the connection was lost before
 *   its reply: it may or may not have run. Retry only idempotent commands
 *   (HSET of the same document is).
 * @VSS_VALKEY_COMMAND_DONE: a reply arrived; it may be an error reply.
 */
typedef enum
{
  VSS_VALKEY_COMMAND_NOT_SENT,
  VSS_VALKEY_COMMAND_NO_REPLY,
  VSS_VALKEY_COMMAND_DONE,
} VssValkeyCommandState;

/**
 * VssValkeyCommandFlags:
 * @VSS_VALKEY_COMMAND_READONLY: a read that may go to a replica when the URL
 *   says `read_from_replicas=yes`.
 */
typedef enum
{
  VSS_VALKEY_COMMAND_FLAGS_NONE = 0,
  VSS_VALKEY_COMMAND_READONLY = 1 << 0,
} VssValkeyCommandFlags;

typedef struct
{
  guint64 moved;                /* MOVED replies followed */
  guint64 ask;                  /* ASK replies followed */
  guint64 tryagain;             /* TRYAGAIN / CLUSTERDOWN waits */
  guint64 reconnects;           /* connections re-opened after a loss */
  guint64 map_refreshes;        /* slot maps fetched */
} VssValkeyClientStats;

/* Client */

VssValkeyClient *vss_valkey_client_new_from_url (const gchar * url,
    GError ** error);

VssValkeyClient *vss_valkey_client_new (const VssValkeyConfig * config);

void vss_valkey_client_free (VssValkeyClient * client);

gboolean vss_valkey_client_connect (VssValkeyClient * client,
    GCancellable * cancellable, GError ** error);

gboolean vss_valkey_client_is_cluster (VssValkeyClient * client);

guint vss_valkey_client_get_n_primaries (VssValkeyClient * client);

void vss_valkey_client_get_stats (VssValkeyClient * client,
    VssValkeyClientStats * stats);

const gchar *vss_valkey_client_get_display_url (VssValkeyClient * client);

VssValkeyReply *vss_valkey_command (VssValkeyClient * client,
    GCancellable * cancellable, GError ** error, gint argc,
    const gchar ** argv, const gsize * argvlen);

GPtrArray *vss_valkey_command_on_primaries (VssValkeyClient * client,
    GCancellable * cancellable, GError ** error, gint argc,
    const gchar ** argv, const gsize * argvlen);

GPtrArray *vss_valkey_command_on_shards (VssValkeyClient * client,
    guint flags, GCancellable * cancellable, GError ** error, gint argc,
    const gchar ** argv, const gsize * argvlen);

gboolean vss_valkey_client_execute (VssValkeyClient * client,
    VssValkeyPipeline * pipeline, GCancellable * cancellable,
    GError ** error);

gboolean vss_valkey_client_send (VssValkeyClient * client,
    VssValkeyPipeline * pipeline, GCancellable * cancellable,
    GError ** error);

gboolean vss_valkey_client_receive (VssValkeyClient * client,
    VssValkeyPipeline * pipeline, GCancellable * cancellable,
    GError ** error);

/* Pipeline */

VssValkeyPipeline *vss_valkey_pipeline_new (void);

void vss_valkey_pipeline_free (VssValkeyPipeline * pipeline);

void vss_valkey_pipeline_clear (VssValkeyPipeline * pipeline);

guint vss_valkey_pipeline_append (VssValkeyPipeline * pipeline,
    const void *key, gsize keylen, VssValkeyCommandFlags flags, gint argc,
    const gchar ** argv, const gsize * argvlen);

guint vss_valkey_pipeline_get_length (VssValkeyPipeline * pipeline);

VssValkeyCommandState vss_valkey_pipeline_get_state (VssValkeyPipeline *
    pipeline, guint index);

const VssValkeyReply *vss_valkey_pipeline_get_reply (VssValkeyPipeline *
    pipeline, guint index);

VssValkeyReply *vss_valkey_pipeline_steal_reply (VssValkeyPipeline *
    pipeline, guint index);

gboolean vss_valkey_pipeline_needs_retry (VssValkeyPipeline * pipeline,
    guint index);

guint vss_valkey_pipeline_count_state (VssValkeyPipeline * pipeline,
    VssValkeyCommandState state);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VssValkeyClient, vss_valkey_client_free);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VssValkeyPipeline, vss_valkey_pipeline_free);

G_END_DECLS
