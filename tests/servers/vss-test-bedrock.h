/* gst-vss tests: the Bedrock test server (tests/servers/vss-bedrock-server)
 * started on a free loopback port.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct
{
  GSubprocess *proc;
  gchar *endpoint;              /* http://127.0.0.1:<port> */
} VssTestBedrock;

/* Starts $VSS_BUILD_ROOT/tests/servers/vss-bedrock-server with @args (NULL
 * terminated: --access-key=..., --text-map=..., ...) and waits for the port
 * it reports. NULL with @error set when the server is missing or did not
 * start. */
VssTestBedrock *vss_test_bedrock_start (const gchar * const *args,
    GError ** error);
void vss_test_bedrock_stop (VssTestBedrock * s);

/* The server's unsigned control endpoints (see vss-bedrock-server.c):
 * POST /_control with @json (faults, latency, clock offset, ...) and
 * GET /_stats. They abort the test (g_error) when the server does not
 * answer with JSON. */
void vss_test_bedrock_control (VssTestBedrock * s, const gchar * json);
gint64 vss_test_bedrock_stat (VssTestBedrock * s, const gchar * key);

G_END_DECLS
