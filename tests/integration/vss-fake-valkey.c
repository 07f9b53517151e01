/* gst-vss tests: a scripted RESP server on 127.0.0.1
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Locking: `lock` guards `conns` and `threads` and serialises handler
 * calls, so that scripts keep state without locks of their own. Leaf lock.
 */
#include <string.h>
#include <gio/gio.h>
#include <hiredis/hiredis.h>
#include "vss-fake-valkey.h"

struct _VssFakeValkey
{
  GMutex lock;
  VssFakeValkeyHandler handler;
  gpointer user_data;
  GSocketListener *listener;
  guint16 port;
  GCancellable *cancel;
  GThread *accept_thread;
  GPtrArray *threads;
  GPtrArray *conns;
};

typedef struct
{
  VssFakeValkey *fake;
  GSocketConnection *conn;
} ConnCtx;

GBytes *
vss_fake_reply (const gchar * resp)
{
  return g_bytes_new (resp, strlen (resp));
}

static gpointer
conn_thread (gpointer data)
{
  ConnCtx *ctx = data;
  VssFakeValkey *f = ctx->fake;
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (ctx->conn));
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (ctx->conn));
  redisReader *reader = redisReaderCreate ();
  gchar buf[16384];
  gboolean open = TRUE;

  while (open) {
    gssize n = g_input_stream_read (in, buf, sizeof buf, f->cancel, NULL);
    void *cmd = NULL;

    if (n <= 0)
      break;
    redisReaderFeed (reader, buf, n);
    while (open && redisReaderGetReply (reader, &cmd) == REDIS_OK && cmd) {
      redisReply *r = cmd;
      GBytes *answer = NULL;

      if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        gchar **argv = g_new0 (gchar *, r->elements + 1);
        gsize *argvlen = g_new0 (gsize, r->elements);
        for (size_t i = 0; i < r->elements; i++) {
          argv[i] = g_strndup (r->element[i]->str, r->element[i]->len);
          argvlen[i] = r->element[i]->len;
        }
        g_mutex_lock (&f->lock);
        answer = f->handler (r->elements, argv, argvlen, f->user_data);
        g_mutex_unlock (&f->lock);
        g_strfreev (argv);
        g_free (argvlen);
      }
      freeReplyObject (r);
      if (answer == NULL) {
        open = FALSE;
      } else {
        gsize len;
        const gchar *data = g_bytes_get_data (answer, &len);
        open = g_output_stream_write_all (out, data, len, NULL, f->cancel,
            NULL);
        g_bytes_unref (answer);
      }
    }
  }
  redisReaderFree (reader);
  g_io_stream_close (G_IO_STREAM (ctx->conn), NULL, NULL);
  g_free (ctx);
  return NULL;
}

static gpointer
accept_thread (gpointer data)
{
  VssFakeValkey *f = data;

  for (;;) {
    GSocketConnection *conn = g_socket_listener_accept (f->listener, NULL,
        f->cancel, NULL);
    ConnCtx *ctx;

    if (conn == NULL)
      break;
    ctx = g_new0 (ConnCtx, 1);
    ctx->fake = f;
    ctx->conn = conn;
    g_mutex_lock (&f->lock);
    g_ptr_array_add (f->conns, conn);
    g_ptr_array_add (f->threads, g_thread_new ("fake-conn", conn_thread, ctx));
    g_mutex_unlock (&f->lock);
  }
  return NULL;
}

VssFakeValkey *
vss_fake_valkey_new (VssFakeValkeyHandler handler, gpointer user_data,
    GError ** error)
{
  VssFakeValkey *f = g_new0 (VssFakeValkey, 1);
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *addr = g_inet_socket_address_new (lo, 0);
  GSocketAddress *bound = NULL;

  g_mutex_init (&f->lock);
  f->handler = handler;
  f->user_data = user_data;
  f->cancel = g_cancellable_new ();
  f->threads = g_ptr_array_new ();
  f->conns = g_ptr_array_new_with_free_func (g_object_unref);
  f->listener = g_socket_listener_new ();
  if (!g_socket_listener_add_address (f->listener, addr, G_SOCKET_TYPE_STREAM,
          G_SOCKET_PROTOCOL_TCP, NULL, &bound, error)) {
    g_object_unref (addr);
    g_object_unref (lo);
    vss_fake_valkey_free (f);
    return NULL;
  }
  f->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_object_unref (bound);
  g_object_unref (addr);
  g_object_unref (lo);
  f->accept_thread = g_thread_new ("fake-accept", accept_thread, f);
  return f;
}

guint16
vss_fake_valkey_get_port (VssFakeValkey * f)
{
  return f->port;
}

void
vss_fake_valkey_free (VssFakeValkey * f)
{
  if (f == NULL)
    return;
  g_cancellable_cancel (f->cancel);
  if (f->accept_thread)
    g_thread_join (f->accept_thread);
  /* No more threads can be added now. */
  for (guint i = 0; i < f->threads->len; i++)
    g_thread_join (g_ptr_array_index (f->threads, i));
  g_ptr_array_unref (f->threads);
  g_ptr_array_unref (f->conns);
  g_socket_listener_close (f->listener);
  g_object_unref (f->listener);
  g_object_unref (f->cancel);
  g_mutex_clear (&f->lock);
  g_free (f);
}
