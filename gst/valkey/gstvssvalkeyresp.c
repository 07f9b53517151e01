/* gst-vss: RESP helpers on top of hiredis's codec
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Pure functions, no I/O: formatting, parsing a byte buffer, cluster slot
 * hashing and MOVED/ASK parsing, so that they are tested without sockets.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <stdlib.h>
#include "gstvssvalkeyresp.h"

/**
 * vss_valkey_resp_format_command:
 *
 * Returns: (transfer full): the RESP encoding of the command, freed with
 * g_free(), or NULL if hiredis cannot allocate it.
 */
gchar *
vss_valkey_resp_format_command (gint argc, const gchar ** argv,
    const gsize * argvlen, gsize * out_len)
{
  char *cmd = NULL;
  /* int in hiredis 0.14, long long from 1.1: hold it in the wider type. */
  long long len;
  gchar *out;

  len = redisFormatCommandArgv (&cmd, argc, argv, argvlen);
  if (len < 0 || cmd == NULL)
    return NULL;
  /* Copy into GLib's allocator so that every owner frees with g_free(). */
  out = g_memdup2 (cmd, (gsize) len);
  free (cmd);
  *out_len = (gsize) len;
  return out;
}

/**
 * vss_valkey_resp_parse:
 *
 * Parses the first complete reply in @data.
 *
 * Returns: 1 and a reply (and the bytes it took), 0 if @data holds only the
 * beginning of a reply, -1 and @error on bytes that are not RESP.
 */
gint
vss_valkey_resp_parse (const void *data, gsize len, VssValkeyReply ** reply,
    gsize * consumed, GError ** error)
{
  redisReader *r = redisReaderCreate ();
  void *out = NULL;
  gint ret;

  *reply = NULL;
  if (r == NULL) {
    g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_PROTOCOL,
        "Out of memory creating a RESP reader");
    return -1;
  }
  /* Buffer everything up front so that "consumed" is exact. */
  r->maxbuf = 0;
  if (redisReaderFeed (r, data, len) != REDIS_OK
      || redisReaderGetReply (r, &out) != REDIS_OK) {
    g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_PROTOCOL,
        "Malformed RESP reply: %s", r->errstr[0] ? r->errstr : "error");
    ret = -1;
  } else if (out == NULL) {
    ret = 0;
  } else {
    *reply = out;
    /* hiredis drops consumed bytes once past 1 KiB, so count what is left. */
    if (consumed)
      *consumed = len - (r->len - r->pos);
    ret = 1;
  }
  redisReaderFree (r);
  return ret;
}

/* CRC16-CCITT (XMODEM): poly 0x1021, init 0, no reflection. Table-driven:
 * every keyed command hashes its key. */
static guint16 crc16_table[256];

static void
crc16_init (void)
{
  for (guint i = 0; i < 256; i++) {
    guint16 crc = (guint16) (i << 8);
    for (gint b = 0; b < 8; b++)
      crc = (crc & 0x8000) ? (guint16) ((crc << 1) ^ 0x1021) : (guint16) (crc
          << 1);
    crc16_table[i] = crc;
  }
}

guint16
vss_valkey_resp_crc16 (const void *data, gsize len)
{
  static gsize inited = 0;
  const guint8 *p = data;
  guint16 crc = 0;

  if (g_once_init_enter (&inited)) {
    crc16_init ();
    g_once_init_leave (&inited, 1);
  }
  for (gsize i = 0; i < len; i++)
    crc = (guint16) ((crc << 8) ^ crc16_table[((crc >> 8) ^ p[i]) & 0xff]);
  return crc;
}

guint
vss_valkey_resp_key_slot (const void *key, gsize len)
{
  const gchar *k = key;
  const gchar *open = memchr (k, '{', len);

  if (open != NULL) {
    gsize rest = len - (open + 1 - k);
    const gchar *close = memchr (open + 1, '}', rest);
    /* An empty tag "{}" does not count: the whole key is hashed. */
    if (close != NULL && close > open + 1)
      return vss_valkey_resp_crc16 (open + 1,
          close - open - 1) & (VSS_VALKEY_SLOTS - 1);
  }
  return vss_valkey_resp_crc16 (k, len) & (VSS_VALKEY_SLOTS - 1);
}

gboolean
vss_valkey_reply_is_error (const VssValkeyReply * reply, const gchar * prefix)
{
  gsize n;

  if (reply == NULL || reply->type != REDIS_REPLY_ERROR)
    return FALSE;
  if (prefix == NULL)
    return TRUE;
  n = strlen (prefix);
  return reply->len >= n && !strncmp (reply->str, prefix, n)
      && (reply->len == n || reply->str[n] == ' ');
}

/**
 * vss_valkey_resp_parse_redirect:
 *
 * Recognises `MOVED <slot> <host>:<port>` and `ASK <slot> <host>:<port>`.
 * An empty host means the node that was asked; @host is then "".
 */
gboolean
vss_valkey_resp_parse_redirect (const VssValkeyReply * reply, gboolean * ask,
    guint * slot, gchar ** host, guint16 * port)
{
  gchar **parts;
  gboolean ok = FALSE;
  const gchar *colon;
  gchar *end;
  guint64 s, p;

  if (vss_valkey_reply_is_error (reply, "MOVED"))
    *ask = FALSE;
  else if (vss_valkey_reply_is_error (reply, "ASK"))
    *ask = TRUE;
  else
    return FALSE;

  parts = g_strsplit (reply->str, " ", -1);
  if (g_strv_length (parts) != 3)
    goto out;
  s = g_ascii_strtoull (parts[1], &end, 10);
  if (*end != '\0' || end == parts[1] || s >= VSS_VALKEY_SLOTS)
    goto out;
  colon = strrchr (parts[2], ':');
  if (colon == NULL)
    goto out;
  p = g_ascii_strtoull (colon + 1, &end, 10);
  if (*end != '\0' || end == colon + 1 || p == 0 || p > 65535)
    goto out;
  *slot = (guint) s;
  *port = (guint16) p;
  /* IPv6 hosts come without brackets in redirects. */
  *host = g_strndup (parts[2], colon - parts[2]);
  ok = TRUE;
out:
  g_strfreev (parts);
  return ok;
}

/**
 * vss_valkey_reply_to_error:
 *
 * If @reply is an error reply, sets @error to its text, prefixed by
 * @context, and returns TRUE.
 */
gboolean
vss_valkey_reply_to_error (const VssValkeyReply * reply, GError ** error,
    const gchar * context)
{
  if (reply == NULL || reply->type != REDIS_REPLY_ERROR)
    return FALSE;
  g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_SERVER,
      "%s%s%.*s", context ? context : "", context ? ": " : "",
      (int) MIN (reply->len, 1024), reply->str);
  return TRUE;
}

const gchar *
vss_valkey_reply_type_name (gint type)
{
  switch (type) {
    case REDIS_REPLY_STRING:
      return "string";
    case REDIS_REPLY_ARRAY:
      return "array";
    case REDIS_REPLY_INTEGER:
      return "integer";
    case REDIS_REPLY_NIL:
      return "nil";
    case REDIS_REPLY_STATUS:
      return "status";
    case REDIS_REPLY_ERROR:
      return "error";
    default:
      return "unknown";
  }
}
