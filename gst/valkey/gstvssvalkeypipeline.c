/* gst-vss: a batch of commands sent in as few round trips as possible
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Only the container lives here; vss_valkey_client_execute() sends it.
 * Commands are formatted once at append, so a retry resends the very same
 * bytes.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include "gstvssvalkeyresp.h"
#include "gstvssvalkeypipelinepriv.h"

static void
entry_clear (gpointer p)
{
  VssValkeyPipelineEntry *e = p;

  free (e->cmd);                /* hiredis's allocation */
  g_free (e->ask_host);
  if (e->reply)
    freeReplyObject (e->reply);
}

VssValkeyPipeline *
vss_valkey_pipeline_new (void)
{
  VssValkeyPipeline *p = g_new0 (VssValkeyPipeline, 1);

  p->entries = g_array_new (FALSE, TRUE, sizeof (VssValkeyPipelineEntry));
  g_array_set_clear_func (p->entries, entry_clear);
  return p;
}

void
vss_valkey_pipeline_free (VssValkeyPipeline * p)
{
  if (p == NULL)
    return;
  g_array_unref (p->entries);
  g_free (p);
}

void
vss_valkey_pipeline_clear (VssValkeyPipeline * p)
{
  g_array_set_size (p->entries, 0);
}

/**
 * vss_valkey_pipeline_append:
 * @key: (nullable): the key that routes the command in a cluster; NULL for
 *   commands without keys (FT.*, PING), which go to any primary.
 *
 * Returns: the index of the command, which is also the index of its result.
 */
guint
vss_valkey_pipeline_append (VssValkeyPipeline * p, const void *key,
    gsize keylen, VssValkeyCommandFlags flags, gint argc,
    const gchar ** argv, const gsize * argvlen)
{
  VssValkeyPipelineEntry e = { 0, };
  /* int in hiredis 0.14, long long from 1.1: hold it in the wider type. */
  long long len;

  g_return_val_if_fail (argc > 0, G_MAXUINT);
  /* Kept in hiredis's own buffer: no second copy on the hot path. */
  len = redisFormatCommandArgv (&e.cmd, argc, argv, argvlen);
  if (len < 0 || e.cmd == NULL)
    g_error ("Out of memory formatting a command");
  e.len = (gsize) len;
  e.slot = key ? (gint) vss_valkey_resp_key_slot (key, keylen) : -1;
  e.flags = flags;
  e.state = VSS_VALKEY_COMMAND_NOT_SENT;
  g_array_append_val (p->entries, e);
  return p->entries->len - 1;
}

guint
vss_valkey_pipeline_get_length (VssValkeyPipeline * p)
{
  return p->entries->len;
}

#define ENTRY(p, i) (&g_array_index ((p)->entries, VssValkeyPipelineEntry, (i)))

VssValkeyCommandState
vss_valkey_pipeline_get_state (VssValkeyPipeline * p, guint i)
{
  g_return_val_if_fail (i < p->entries->len, VSS_VALKEY_COMMAND_NOT_SENT);
  return ENTRY (p, i)->state;
}

/**
 * vss_valkey_pipeline_get_reply:
 *
 * Returns: (transfer none) (nullable): the reply of a DONE command (maybe
 * an error reply), NULL otherwise.
 */
const VssValkeyReply *
vss_valkey_pipeline_get_reply (VssValkeyPipeline * p, guint i)
{
  g_return_val_if_fail (i < p->entries->len, NULL);
  if (ENTRY (p, i)->state != VSS_VALKEY_COMMAND_DONE)
    return NULL;
  return ENTRY (p, i)->reply;
}

VssValkeyReply *
vss_valkey_pipeline_steal_reply (VssValkeyPipeline * p, guint i)
{
  VssValkeyReply *r;

  g_return_val_if_fail (i < p->entries->len, NULL);
  if (ENTRY (p, i)->state != VSS_VALKEY_COMMAND_DONE)
    return NULL;
  r = ENTRY (p, i)->reply;
  ENTRY (p, i)->reply = NULL;
  return r;
}

/**
 * vss_valkey_pipeline_needs_retry:
 *
 * Returns: TRUE for a command without a reply (NOT_SENT or NO_REPLY).
 * Calling vss_valkey_client_execute() again on the same pipeline sends
 * exactly these.
 */
gboolean
vss_valkey_pipeline_needs_retry (VssValkeyPipeline * p, guint i)
{
  return vss_valkey_pipeline_get_state (p, i) != VSS_VALKEY_COMMAND_DONE;
}

guint
vss_valkey_pipeline_count_state (VssValkeyPipeline * p,
    VssValkeyCommandState state)
{
  guint n = 0;

  for (guint i = 0; i < p->entries->len; i++)
    n += ENTRY (p, i)->state == state;
  return n;
}
