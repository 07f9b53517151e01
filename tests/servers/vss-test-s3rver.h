/* gst-vss tests: s3rver (npm, in tests/node_modules) on a loopback port,
 * and the free-port helpers the fixtures share.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A TCP port on 127.0.0.1 that was free a moment ago. */
guint16 vss_test_free_port (void);
/* TRUE when something accepts connections on 127.0.0.1:port. */
gboolean vss_test_port_open (guint16 port);

/* Starts s3rver with its data in @dir on 127.0.0.1:@port, with @bucket
 * created, and waits until it answers (30 s). s3rver is looked up under
 * $VSS_SOURCE_ROOT/tests/node_modules (installed by tools/install-deps.sh
 * --tests); when it is missing the error says so. */
GSubprocess *vss_test_s3rver_start (const gchar * dir, guint16 port,
    const gchar * bucket, GError ** error);
/* Kills and reaps it; clears *proc. */
void vss_test_s3rver_stop (GSubprocess ** proc);

G_END_DECLS
