/* gst-vss tests: a scripted RESP server on 127.0.0.1
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * VssFakeValkeyHandler:
 *
 * Called for each command received, one at a time (calls never overlap).
 *
 * Returns: (transfer full) (nullable): the RESP bytes to answer, or NULL to
 * close the connection.
 */
typedef GBytes *(*VssFakeValkeyHandler) (gint argc, gchar ** argv,
    gsize * argvlen, gpointer user_data);

typedef struct _VssFakeValkey VssFakeValkey;

VssFakeValkey *vss_fake_valkey_new (VssFakeValkeyHandler handler,
    gpointer user_data, GError ** error);

guint16 vss_fake_valkey_get_port (VssFakeValkey * fake);

void vss_fake_valkey_free (VssFakeValkey * fake);

GBytes *vss_fake_reply (const gchar * resp);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VssFakeValkey, vss_fake_valkey_free);

G_END_DECLS
