/* gst-vss test servers: a tiny threaded HTTP/1.1 server on 127.0.0.1
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One thread per connection, keep-alive, Content-Length bodies and
 * "Expect: 100-continue". Enough for the loopback servers the tests use
 * (container credentials, IMDSv2, Bedrock); not a general web server.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _VssHttpd VssHttpd;

typedef struct
{
  gchar *method;
  gchar *target;                /* as received: path?query */
  gchar *path;                  /* raw, still percent-encoded */
  gchar *query;                 /* raw, without '?'; NULL when absent */
  GPtrArray *header_names;
  GPtrArray *header_values;
  guint8 *body;
  gsize body_len;
} VssHttpRequest;

typedef struct
{
  guint status;                 /* 0: drop the connection, send nothing */
  GString *headers;             /* extra "Name: value\r\n" lines */
  GString *body;
  gboolean close;               /* close the connection after this reply */
  gboolean truncate;            /* announce the full length, send half, close */
} VssHttpResponse;

/* Called on the connection's thread; may block (latency, hangs) but should
 * use vss_httpd_sleep() so that stopping the server stays quick. */
typedef void (*VssHttpHandler) (VssHttpd * server, const VssHttpRequest * req,
    VssHttpResponse * resp, gpointer user_data);

VssHttpd *vss_httpd_new (guint16 port, VssHttpHandler handler,
    gpointer user_data, GError ** error);
guint16 vss_httpd_get_port (VssHttpd * server);
void vss_httpd_free (VssHttpd * server);

gboolean vss_httpd_sleep (VssHttpd * server, guint ms);

const gchar *vss_http_request_header (const VssHttpRequest * req,
    const gchar * name);

void vss_http_response_set_json (VssHttpResponse * resp, guint status,
    const gchar * json);

const gchar *vss_http_reason (guint status);

G_END_DECLS
