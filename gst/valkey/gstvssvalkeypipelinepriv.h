/* gst-vss: pipeline internals shared by the pipeline and the client
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "gstvssvalkeyclient.h"

G_BEGIN_DECLS

typedef struct
{
  char *cmd;                    /* RESP bytes, from hiredis: free() */
  gsize len;
  gint slot;                    /* -1: no key, any node */
  VssValkeyCommandFlags flags;
  VssValkeyCommandState state;
  VssValkeyReply *reply;        /* the reply, or the last redirect */
  gchar *ask_host;              /* set after ASK: send ASKING + cmd there */
  guint16 ask_port;
} VssValkeyPipelineEntry;

struct _VssValkeyPipeline
{
  GArray *entries;              /* VssValkeyPipelineEntry */
};

G_END_DECLS
