/* gst-vss test servers: a tiny threaded HTTP/1.1 server on 127.0.0.1
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Locking: `lock` guards `stopping`, `live` (threads still serving a
 * connection) and `finished` (threads that returned and wait to be
 * joined); `cond` signals `stopping` to sleepers. It is a leaf lock; the
 * handler is never called with it held.
 */
#include <string.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include "vsshttpd.h"

#define MAX_HEAD (64 * 1024)
#define MAX_BODY (64 * 1024 * 1024)

struct _VssHttpd
{
  GSocket *listener;
  guint16 port;
  GCancellable *cancel;
  GThread *accept_thread;
  VssHttpHandler handler;
  gpointer user_data;

  GMutex lock;
  GCond cond;
  gboolean stopping;
  GHashTable *live;             /* GThread* -> GSocket* */
  GPtrArray *finished;          /* GThread* */
};

typedef struct
{
  VssHttpd *server;
  GSocket *sock;
} ConnCtx;

const gchar *
vss_http_reason (guint status)
{
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 424:
      return "Failed Dependency";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

const gchar *
vss_http_request_header (const VssHttpRequest * req, const gchar * name)
{
  guint i;

  for (i = 0; i < req->header_names->len; i++)
    if (g_ascii_strcasecmp (req->header_names->pdata[i], name) == 0)
      return req->header_values->pdata[i];
  return NULL;
}

void
vss_http_response_set_json (VssHttpResponse * resp, guint status,
    const gchar * json)
{
  resp->status = status;
  g_string_assign (resp->body, json);
  g_string_append (resp->headers, "Content-Type: application/json\r\n");
}

gboolean
vss_httpd_sleep (VssHttpd * server, guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
  gboolean stopping;

  g_mutex_lock (&server->lock);
  while (!server->stopping && g_cond_wait_until (&server->cond, &server->lock,
          end));
  stopping = server->stopping;
  g_mutex_unlock (&server->lock);
  return !stopping;
}

static gboolean
send_all (VssHttpd * server, GSocket * sock, const gchar * data, gsize len)
{
  while (len > 0) {
    gssize n = g_socket_send (sock, data, len, server->cancel, NULL);

    if (n <= 0)
      return FALSE;
    data += n;
    len -= n;
  }
  return TRUE;
}

static void
request_clear (VssHttpRequest * req)
{
  g_free (req->method);
  g_free (req->target);
  g_free (req->path);
  g_free (req->query);
  if (req->header_names)
    g_ptr_array_free (req->header_names, TRUE);
  if (req->header_values)
    g_ptr_array_free (req->header_values, TRUE);
  g_free (req->body);
  memset (req, 0, sizeof (*req));
}

/* Parses the head (request line and headers, without the final blank
 * line). Returns FALSE on anything malformed. */
static gboolean
parse_head (const gchar * head, VssHttpRequest * req, gboolean * http10)
{
  gchar **lines = g_strsplit (head, "\r\n", -1);
  gchar **parts;
  gchar *q;
  gboolean ok = TRUE;
  guint i;

  parts = g_strsplit (lines[0], " ", 3);
  if (g_strv_length (parts) != 3 || !g_str_has_prefix (parts[2], "HTTP/1.")) {
    g_strfreev (parts);
    g_strfreev (lines);
    return FALSE;
  }
  *http10 = strcmp (parts[2], "HTTP/1.0") == 0;
  req->method = g_strdup (parts[0]);
  req->target = g_strdup (parts[1]);
  q = strchr (parts[1], '?');
  if (q) {
    req->path = g_strndup (parts[1], q - parts[1]);
    req->query = g_strdup (q + 1);
  } else {
    req->path = g_strdup (parts[1]);
  }
  g_strfreev (parts);

  req->header_names = g_ptr_array_new_with_free_func (g_free);
  req->header_values = g_ptr_array_new_with_free_func (g_free);
  for (i = 1; lines[i]; i++) {
    gchar *colon = strchr (lines[i], ':');

    if (colon == NULL || colon == lines[i]) {
      ok = FALSE;
      break;
    }
    g_ptr_array_add (req->header_names, g_strndup (lines[i], colon - lines[i]));
    /* Optional whitespace around a field value is not part of it. */
    g_ptr_array_add (req->header_values, g_strstrip (g_strdup (colon + 1)));
  }
  g_strfreev (lines);
  return ok;
}

static gboolean
send_simple (VssHttpd * server, GSocket * sock, guint status)
{
  gchar *s = g_strdup_printf ("HTTP/1.1 %u %s\r\nContent-Length: 0\r\n"
      "Connection: close\r\n\r\n", status, vss_http_reason (status));
  gboolean ok = send_all (server, sock, s, strlen (s));

  g_free (s);
  return ok;
}

/* Serves requests on one connection until it closes. Returns when the peer
 * closes, on error, or when the server stops. */
static void
serve_connection (VssHttpd * server, GSocket * sock)
{
  GByteArray *buf = g_byte_array_new ();
  gchar tmp[16384];

  for (;;) {
    VssHttpRequest req = { 0, };
    VssHttpResponse resp = { 0, };
    guint8 *end = NULL;
    gsize head_len, need;
    gboolean http10 = FALSE, keep;
    const gchar *cl, *conn, *te, *expect;
    gchar *head, *status_line;
    gint64 clen = 0;

    while (end == NULL) {
      gssize n;

      if (buf->len >= 4)
        end = (guint8 *) g_strstr_len ((gchar *) buf->data, buf->len,
            "\r\n\r\n");
      if (end)
        break;
      if (buf->len > MAX_HEAD) {
        send_simple (server, sock, 400);
        goto out;
      }
      n = g_socket_receive (sock, tmp, sizeof (tmp), server->cancel, NULL);
      if (n <= 0)
        goto out;
      g_byte_array_append (buf, (guint8 *) tmp, n);
    }
    head_len = end - buf->data;
    head = g_strndup ((gchar *) buf->data, head_len);
    g_byte_array_remove_range (buf, 0, head_len + 4);
    if (!parse_head (head, &req, &http10)) {
      g_free (head);
      request_clear (&req);
      send_simple (server, sock, 400);
      goto out;
    }
    g_free (head);

    te = vss_http_request_header (&req, "Transfer-Encoding");
    cl = vss_http_request_header (&req, "Content-Length");
    if (te) {
      request_clear (&req);
      send_simple (server, sock, 501);
      goto out;
    }
    if (cl) {
      gchar *e;

      clen = g_ascii_strtoll (cl, &e, 10);
      while (*e == ' ')
        e++;
      if (*e != '\0' || clen < 0 || clen > MAX_BODY) {
        request_clear (&req);
        send_simple (server, sock, clen > MAX_BODY ? 413 : 400);
        goto out;
      }
    }
    expect = vss_http_request_header (&req, "Expect");
    if (expect && g_ascii_strcasecmp (g_strstrip ((gchar *) expect),
            "100-continue") == 0 && (gsize) clen > buf->len) {
      static const gchar cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

      if (!send_all (server, sock, cont, sizeof (cont) - 1)) {
        request_clear (&req);
        goto out;
      }
    }
    need = clen;
    while (buf->len < need) {
      gssize n = g_socket_receive (sock, tmp, sizeof (tmp), server->cancel,
          NULL);

      if (n <= 0) {
        request_clear (&req);
        goto out;
      }
      g_byte_array_append (buf, (guint8 *) tmp, n);
    }
    req.body = g_malloc (need + 1);
    memcpy (req.body, buf->data, need);
    req.body[need] = 0;
    req.body_len = need;
    g_byte_array_remove_range (buf, 0, need);

    conn = vss_http_request_header (&req, "Connection");
    keep = !http10;
    if (conn && g_strrstr (conn, "close"))
      keep = FALSE;
    if (conn && http10 && g_strrstr (conn, "keep-alive"))
      keep = TRUE;

    resp.status = 200;
    resp.headers = g_string_new (NULL);
    resp.body = g_string_new (NULL);
    server->handler (server, &req, &resp, server->user_data);
    request_clear (&req);

    if (resp.status == 0 || resp.close)
      keep = FALSE;
    if (resp.status != 0) {
      gsize body_send = resp.truncate ? resp.body->len / 2 : resp.body->len;
      gboolean ok;

      status_line = g_strdup_printf ("HTTP/1.1 %u %s\r\nContent-Length: %"
          G_GSIZE_FORMAT "\r\n%sConnection: %s\r\n\r\n", resp.status,
          vss_http_reason (resp.status), resp.body->len, resp.headers->str,
          keep && !resp.truncate ? "keep-alive" : "close");
      ok = send_all (server, sock, status_line, strlen (status_line))
          && send_all (server, sock, resp.body->str, body_send);
      g_free (status_line);
      if (resp.truncate)
        keep = FALSE;
      if (!ok)
        keep = FALSE;
    }
    g_string_free (resp.headers, TRUE);
    g_string_free (resp.body, TRUE);
    if (!keep)
      goto out;
  }

out:
  g_byte_array_unref (buf);
}

static gpointer
conn_thread (gpointer data)
{
  ConnCtx *ctx = data;
  VssHttpd *server = ctx->server;

  serve_connection (server, ctx->sock);
  g_socket_close (ctx->sock, NULL);

  /* Once the server stops, vss_httpd_free() joins every thread still in
   * `live`; before that, the accept thread joins the finished ones. */
  g_mutex_lock (&server->lock);
  if (!server->stopping) {
    g_hash_table_remove (server->live, g_thread_self ());
    g_ptr_array_add (server->finished, g_thread_self ());
  }
  g_mutex_unlock (&server->lock);
  g_object_unref (ctx->sock);
  g_free (ctx);
  return NULL;
}

static void
reap_finished (VssHttpd * server)
{
  GPtrArray *done;
  guint i;

  g_mutex_lock (&server->lock);
  done = server->finished;
  server->finished = g_ptr_array_new ();
  g_mutex_unlock (&server->lock);
  for (i = 0; i < done->len; i++)
    g_thread_join (done->pdata[i]);
  g_ptr_array_free (done, TRUE);
}

static gpointer
accept_thread (gpointer data)
{
  VssHttpd *server = data;

  for (;;) {
    GSocket *s = g_socket_accept (server->listener, server->cancel, NULL);
    ConnCtx *ctx;
    GThread *t;

    reap_finished (server);
    if (s == NULL) {
      if (g_cancellable_is_cancelled (server->cancel))
        break;
      /* EMFILE and friends: back off instead of spinning. */
      if (!vss_httpd_sleep (server, 10))
        break;
      continue;
    }
    g_socket_set_blocking (s, TRUE);
    g_socket_set_option (s, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
    ctx = g_new0 (ConnCtx, 1);
    ctx->server = server;
    ctx->sock = s;
    g_mutex_lock (&server->lock);
    t = g_thread_new ("vss-httpd-conn", conn_thread, ctx);
    g_hash_table_insert (server->live, t, g_object_ref (s));
    g_mutex_unlock (&server->lock);
  }
  return NULL;
}

VssHttpd *
vss_httpd_new (guint16 port, VssHttpHandler handler, gpointer user_data,
    GError ** error)
{
  VssHttpd *server;
  GInetAddress *lo;
  GSocketAddress *addr, *bound;
  GSocket *sock;

  sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, error);
  if (!sock)
    return NULL;
  g_socket_set_option (sock, SOL_SOCKET, SO_REUSEADDR, 1, NULL);
  lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  addr = g_inet_socket_address_new (lo, port);
  g_object_unref (lo);
  if (!g_socket_bind (sock, addr, TRUE, error)) {
    g_object_unref (addr);
    g_object_unref (sock);
    return NULL;
  }
  g_object_unref (addr);
  g_socket_set_listen_backlog (sock, 512);
  if (!g_socket_listen (sock, error)) {
    g_object_unref (sock);
    return NULL;
  }
  bound = g_socket_get_local_address (sock, error);
  if (!bound) {
    g_object_unref (sock);
    return NULL;
  }

  server = g_new0 (VssHttpd, 1);
  server->listener = sock;
  server->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_object_unref (bound);
  server->cancel = g_cancellable_new ();
  server->handler = handler;
  server->user_data = user_data;
  g_mutex_init (&server->lock);
  g_cond_init (&server->cond);
  server->live = g_hash_table_new_full (NULL, NULL, NULL, g_object_unref);
  server->finished = g_ptr_array_new ();
  server->accept_thread = g_thread_new ("vss-httpd-accept", accept_thread,
      server);
  return server;
}

guint16
vss_httpd_get_port (VssHttpd * server)
{
  return server->port;
}

void
vss_httpd_free (VssHttpd * server)
{
  GList *threads, *l;

  if (server == NULL)
    return;
  g_mutex_lock (&server->lock);
  server->stopping = TRUE;
  g_cond_broadcast (&server->cond);
  g_mutex_unlock (&server->lock);
  g_cancellable_cancel (server->cancel);
  g_thread_join (server->accept_thread);

  /* Blocked receives wake on the cancellable; joining every thread keeps
   * the handler's user data alive until the last request returns. */
  g_mutex_lock (&server->lock);
  threads = g_hash_table_get_keys (server->live);
  g_mutex_unlock (&server->lock);
  for (l = threads; l; l = l->next)
    g_thread_join (l->data);
  g_list_free (threads);
  reap_finished (server);

  g_socket_close (server->listener, NULL);
  g_object_unref (server->listener);
  g_object_unref (server->cancel);
  g_hash_table_unref (server->live);
  g_ptr_array_free (server->finished, TRUE);
  g_mutex_clear (&server->lock);
  g_cond_clear (&server->cond);
  g_free (server);
}
