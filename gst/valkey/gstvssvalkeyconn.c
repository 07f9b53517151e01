/* gst-vss: one connection to one Valkey node (TCP or TLS over GIO)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The socket is non-blocking (GSocket always is underneath); reads and
 * writes use the pollable stream interfaces and wait with
 * g_socket_condition_timed_wait(), so that every wait honours both the
 * command deadline (in microseconds, not whole seconds as GSocket timeouts
 * would) and the caller's GCancellable. A connection is used by one thread
 * at a time (the client's lock) and has no lock of its own.
 *
 * Any I/O failure, timeout or cancellation marks the connection broken:
 * replies still in flight would otherwise be read as answers to later
 * commands.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include "gstvssvalkeyresp.h"
#include "gstvssvalkeyconn.h"

#define READ_CHUNK (64 * 1024)

struct _VssValkeyConn
{
  gchar *name;                  /* host:port, for messages */
  GSocketConnection *tcp;
  GIOStream *stream;            /* tcp, or the TLS connection over it */
  GSocket *socket;
  GPollableInputStream *in;
  GPollableOutputStream *out;
  redisReader *reader;
  guint8 *buf;
  guint command_timeout_ms;
  gboolean broken;
};

gint64
vss_valkey_deadline_from_ms (guint ms)
{
  return g_get_monotonic_time () + (gint64) ms *1000;
}

static gchar *
addr_name (const gchar * host, guint16 port)
{
  if (strchr (host, ':') != NULL)
    return g_strdup_printf ("[%s]:%u", host, port);
  return g_strdup_printf ("%s:%u", host, port);
}

const gchar *
vss_valkey_conn_get_name (const VssValkeyConn * conn)
{
  return conn->name;
}

gboolean
vss_valkey_conn_is_broken (const VssValkeyConn * conn)
{
  return conn->broken;
}

/* Turns a GIO failure into the error callers see, and breaks the
 * connection. Cancellation and timeouts keep their G_IO_ERROR codes. */
static void
conn_fail (VssValkeyConn * conn, GError * err, const gchar * what,
    GError ** error)
{
  conn->broken = TRUE;
  if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_propagate_error (error, err);
    return;
  }
  if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
        "Timed out %s %s (command timeout %u ms)", what, conn->name,
        conn->command_timeout_ms);
  } else {
    g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_CONNECTION,
        "Connection to %s lost %s it: %s", conn->name, what,
        err ? err->message : "closed by the server");
  }
  g_clear_error (&err);
}

static gboolean
wait_for (VssValkeyConn * conn, GIOCondition cond, gint64 deadline,
    GCancellable * cancellable, GError ** err)
{
  gint64 remaining = deadline - g_get_monotonic_time ();

  if (remaining <= 0) {
    g_set_error_literal (err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "timed out");
    return FALSE;
  }
  return g_socket_condition_timed_wait (conn->socket, cond, remaining,
      cancellable, err);
}

gboolean
vss_valkey_conn_write (VssValkeyConn * conn, const void *data, gsize len,
    gint64 deadline, GCancellable * cancellable, GError ** error)
{
  const guint8 *p = data;
  gsize off = 0;

  if (conn->broken) {
    g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_CONNECTION,
        "Connection to %s is broken", conn->name);
    return FALSE;
  }
  while (off < len) {
    GError *err = NULL;
    gssize n = g_pollable_output_stream_write_nonblocking (conn->out,
        p + off, len - off, cancellable, &err);

    if (n > 0) {
      off += n;
      continue;
    }
    if (n < 0 && !g_error_matches (err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
      conn_fail (conn, err, "writing to", error);
      return FALSE;
    }
    g_clear_error (&err);
    if (!wait_for (conn, G_IO_OUT, deadline, cancellable, &err)) {
      conn_fail (conn, err, "writing to", error);
      return FALSE;
    }
  }
  return TRUE;
}

/**
 * vss_valkey_conn_writev:
 * @vecs: (inout): advanced past what was written.
 *
 * Writes a whole pipeline without first copying it into one buffer.
 */
gboolean
vss_valkey_conn_writev (VssValkeyConn * conn, GOutputVector * vecs,
    gsize n_vecs, gint64 deadline, GCancellable * cancellable, GError ** error)
{
  gsize i = 0;

  if (conn->broken) {
    g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_CONNECTION,
        "Connection to %s is broken", conn->name);
    return FALSE;
  }
  while (i < n_vecs) {
    GError *err = NULL;
    gsize written = 0;
    /* Stay under IOV_MAX (1024 on Linux). */
    GPollableReturn ret = g_pollable_output_stream_writev_nonblocking
        (conn->out, vecs + i, MIN (n_vecs - i, 512), &written, cancellable,
        &err);

    if (ret == G_POLLABLE_RETURN_FAILED) {
      conn_fail (conn, err, "writing to", error);
      return FALSE;
    }
    if (ret == G_POLLABLE_RETURN_WOULD_BLOCK) {
      if (!wait_for (conn, G_IO_OUT, deadline, cancellable, &err)) {
        conn_fail (conn, err, "writing to", error);
        return FALSE;
      }
      continue;
    }
    while (i < n_vecs && written >= vecs[i].size) {
      written -= vecs[i].size;
      i++;
    }
    if (written > 0) {
      vecs[i].buffer = (const guint8 *) vecs[i].buffer + written;
      vecs[i].size -= written;
    }
  }
  return TRUE;
}

VssValkeyReply *
vss_valkey_conn_read_reply (VssValkeyConn * conn, gint64 deadline,
    GCancellable * cancellable, GError ** error)
{
  if (conn->broken) {
    g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_CONNECTION,
        "Connection to %s is broken", conn->name);
    return NULL;
  }
  for (;;) {
    void *reply = NULL;
    GError *err = NULL;
    gssize n;

    if (redisReaderGetReply (conn->reader, &reply) != REDIS_OK) {
      conn->broken = TRUE;
      g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_PROTOCOL,
          "Malformed reply from %s: %s", conn->name, conn->reader->errstr);
      return NULL;
    }
    if (reply != NULL)
      return reply;

    n = g_pollable_input_stream_read_nonblocking (conn->in, conn->buf,
        READ_CHUNK, cancellable, &err);
    if (n > 0) {
      if (redisReaderFeed (conn->reader, (const char *) conn->buf,
              n) != REDIS_OK) {
        conn->broken = TRUE;
        g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_PROTOCOL,
            "Cannot buffer the reply from %s", conn->name);
        return NULL;
      }
      continue;
    }
    if (n == 0) {
      conn_fail (conn, NULL, "reading from", error);
      return NULL;
    }
    if (!g_error_matches (err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
      conn_fail (conn, err, "reading from", error);
      return NULL;
    }
    g_clear_error (&err);
    if (!wait_for (conn, G_IO_IN, deadline, cancellable, &err)) {
      conn_fail (conn, err, "reading from", error);
      return NULL;
    }
  }
}

static gboolean
accept_any_certificate (GTlsConnection * tls, GTlsCertificate * cert,
    GTlsCertificateFlags errors, gpointer user_data)
{
  return TRUE;
}

static gboolean
start_tls (VssValkeyConn * conn, const VssValkeyConfig * cfg,
    const gchar * host, guint16 port, GCancellable * cancellable,
    GError ** error)
{
  GSocketConnectable *identity;
  GIOStream *tls;
  GError *err = NULL;

  identity = g_network_address_new (cfg->tls_server_name ?
      cfg->tls_server_name : host, port);
  tls = g_tls_client_connection_new (G_IO_STREAM (conn->tcp), identity, &err);
  g_object_unref (identity);
  if (tls == NULL)
    goto tls_failed;

  if (cfg->tls_ca_file != NULL) {
    GTlsDatabase *db = g_tls_file_database_new (cfg->tls_ca_file, &err);
    if (db == NULL) {
      g_object_unref (tls);
      g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_TLS,
          "Cannot load the CA file %s: %s", cfg->tls_ca_file, err->message);
      g_clear_error (&err);
      return FALSE;
    }
    g_tls_connection_set_database (G_TLS_CONNECTION (tls), db);
    g_object_unref (db);
  }
  if (cfg->tls_cert_file != NULL) {
    GTlsCertificate *cert = g_tls_certificate_new_from_files
        (cfg->tls_cert_file, cfg->tls_key_file, &err);
    if (cert == NULL) {
      g_object_unref (tls);
      g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_TLS,
          "Cannot load the client certificate %s / key %s: %s",
          cfg->tls_cert_file, cfg->tls_key_file, err->message);
      g_clear_error (&err);
      return FALSE;
    }
    g_tls_connection_set_certificate (G_TLS_CONNECTION (tls), cert);
    g_object_unref (cert);
  }
  if (!cfg->tls_verify)
    g_signal_connect (tls, "accept-certificate",
        G_CALLBACK (accept_any_certificate), NULL);

  /* The handshake is bounded by the socket timeout set at connect time. */
  if (!g_tls_connection_handshake (G_TLS_CONNECTION (tls), cancellable, &err)) {
    g_object_unref (tls);
    goto tls_failed;
  }
  conn->stream = tls;
  return TRUE;

tls_failed:
  if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_propagate_error (error, err);
    return FALSE;
  }
  /* Only a refused certificate or a TLS protocol error is final; a reset
   * during the handshake is an ordinary connection failure. */
  g_set_error (error, VSS_VALKEY_ERROR, err->domain == G_TLS_ERROR ?
      VSS_VALKEY_ERROR_TLS : VSS_VALKEY_ERROR_CONNECTION,
      "TLS handshake with %s failed: %s%s", conn->name, err->message,
      g_error_matches (err, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE) ?
      " (check tls_ca_file and tls_server_name)" : "");
  g_clear_error (&err);
  return FALSE;
}

/* AUTH, SELECT and READONLY in one round trip. */
static gboolean
handshake (VssValkeyConn * conn, const VssValkeyConfig * cfg,
    gboolean readonly, GCancellable * cancellable, GError ** error)
{
  GString *buf = g_string_new (NULL);
  const gchar *what[3];
  guint n = 0;
  gint64 deadline = vss_valkey_deadline_from_ms (cfg->command_timeout_ms);
  gboolean ok = TRUE;

  if (cfg->password != NULL) {
    const gchar *argv[3] = { "AUTH", cfg->user, cfg->password };
    gsize argvlen[3] = { 4, cfg->user ? strlen (cfg->user) : 0,
      strlen (cfg->password)
    };
    gsize len;
    gchar *cmd;

    if (cfg->user == NULL) {
      argv[1] = cfg->password;
      argvlen[1] = argvlen[2];
    }
    cmd =
        vss_valkey_resp_format_command (cfg->user ? 3 : 2, argv, argvlen, &len);
    g_string_append_len (buf, cmd, len);
    memset (cmd, 0, len);
    g_free (cmd);
    what[n++] = "AUTH";
  }
  if (cfg->db != 0) {
    gchar db[16];
    g_snprintf (db, sizeof db, "%d", cfg->db);
    g_string_append_printf (buf, "*2\r\n$6\r\nSELECT\r\n$%zu\r\n%s\r\n",
        strlen (db), db);
    what[n++] = "SELECT";
  }
  if (readonly) {
    g_string_append (buf, "*1\r\n$8\r\nREADONLY\r\n");
    what[n++] = "READONLY";
  }
  if (n > 0)
    ok = vss_valkey_conn_write (conn, buf->str, buf->len, deadline,
        cancellable, error);
  memset (buf->str, 0, buf->len);
  g_string_free (buf, TRUE);

  for (guint i = 0; ok && i < n; i++) {
    VssValkeyReply *r = vss_valkey_conn_read_reply (conn, deadline,
        cancellable, error);
    if (r == NULL)
      return FALSE;
    if (r->type == REDIS_REPLY_ERROR) {
      if (!strcmp (what[i], "AUTH"))
        g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_AUTH,
            "Authentication to %s as user '%s' failed: %s", conn->name,
            cfg->user ? cfg->user : "default", r->str);
      else
        g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_SERVER,
            "%s on %s failed: %s", what[i], conn->name, r->str);
      ok = FALSE;
    }
    freeReplyObject (r);
  }
  return ok;
}

/**
 * vss_valkey_conn_open:
 * @readonly: send READONLY (for reads from a cluster replica).
 *
 * Connects, runs the TLS handshake if configured, then AUTH and SELECT.
 */
VssValkeyConn *
vss_valkey_conn_open (const VssValkeyConfig * cfg, const gchar * host,
    guint16 port, gboolean readonly, GCancellable * cancellable,
    GError ** error)
{
  VssValkeyConn *conn = g_new0 (VssValkeyConn, 1);
  GSocketClient *client;
  GSocketConnectable *addr;
  GError *err = NULL;

  conn->name = addr_name (host, port);
  conn->command_timeout_ms = cfg->command_timeout_ms;

  client = g_socket_client_new ();
  /* GSocketClient counts whole seconds; round up so that 1 ms is not 0. */
  g_socket_client_set_timeout (client, (cfg->connect_timeout_ms + 999) / 1000);
  addr = g_network_address_new (host, port);
  conn->tcp = g_socket_client_connect (client, addr, cancellable, &err);
  g_object_unref (addr);
  g_object_unref (client);
  if (conn->tcp == NULL) {
    if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      g_propagate_error (error, err);
    } else {
      g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_CONNECTION,
          "Cannot connect to %s: %s", conn->name, err->message);
      g_clear_error (&err);
    }
    goto fail;
  }
  conn->socket = g_socket_connection_get_socket (conn->tcp);
  /* Pipelines are written whole; Nagle would only add latency. */
  g_socket_set_option (conn->socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);

  if (cfg->tls) {
    if (!start_tls (conn, cfg, host, port, cancellable, error))
      goto fail;
  } else {
    conn->stream = g_object_ref (G_IO_STREAM (conn->tcp));
  }
  /* From now on waits use our own deadlines. */
  g_socket_set_timeout (conn->socket, 0);

  conn->in = G_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream
      (conn->stream));
  conn->out = G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream
      (conn->stream));
  conn->reader = redisReaderCreate ();
  conn->buf = g_malloc (READ_CHUNK);

  if (!handshake (conn, cfg, readonly, cancellable, error))
    goto fail;
  return conn;

fail:
  vss_valkey_conn_free (conn);
  return NULL;
}

void
vss_valkey_conn_free (VssValkeyConn * conn)
{
  if (conn == NULL)
    return;
  if (conn->stream != NULL) {
    /* A TLS close writes close_notify: never let it block for long. */
    g_socket_set_timeout (conn->socket, 1);
    g_io_stream_close (conn->stream, NULL, NULL);
  }
  g_clear_object (&conn->stream);
  g_clear_object (&conn->tcp);
  if (conn->reader != NULL)
    redisReaderFree (conn->reader);
  g_free (conn->buf);
  g_free (conn->name);
  g_free (conn);
}
