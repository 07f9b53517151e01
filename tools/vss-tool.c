/* gst-vss: what the command-line tools share
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include "vss-tool.h"

/**
 * vss_tool_has_vector_search:
 * @has_search: (out): whether the server knows FT.SEARCH
 *
 * Asks `COMMAND INFO FT.SEARCH`, which every server answers (a nil entry
 * for an unknown command) without needing an index.
 *
 * Returns: FALSE with @error when the server could not be asked.
 */
gboolean
vss_tool_has_vector_search (VssValkeyClient * client, gboolean * has_search,
    GError ** error)
{
  const gchar *argv[] = { "COMMAND", "INFO", "FT.SEARCH" };
  gsize argvlen[] = { 7, 4, 9 };
  VssValkeyReply *r = vss_valkey_command (client, NULL, error, 3, argv,
      argvlen);

  if (r == NULL)
    return FALSE;
  *has_search = !(r->type == REDIS_REPLY_ARRAY && r->elements == 1
      && r->element[0]->type == REDIS_REPLY_NIL);
  freeReplyObject (r);
  return TRUE;
}

/**
 * vss_tool_no_search_advice:
 * @masked_url: the server's URL, password masked
 *
 * Returns: (transfer full): what to do about a server without vector
 * search, in lines (the first without a prefix, the next indented).
 */
gchar *
vss_tool_no_search_advice (const gchar * masked_url)
{
  return g_strdup_printf ("the server at %s has no vector search (no "
      "FT.SEARCH command).\n  Load the gst-vss module (redis-server "
      "--loadmodule build/modules/valkey/vss-search.so, see README)\n"
      "  or use a server with valkey-search.", masked_url);
}

/**
 * vss_tool_printable:
 *
 * Text from a server or a library made fit for a terminal: bytes that are
 * not UTF-8 and control characters (but newlines) become '?', and it is
 * cut after about @max_bytes ("..." added). A server's error may quote the
 * command it refused, binary vector included.
 *
 * Returns: (transfer full)
 */
gchar *
vss_tool_printable (const gchar * text, gsize max_bytes)
{
  GString *s = g_string_new (NULL);
  const gchar *p = text ? text : "";
  const gchar *end = p + strlen (p);

  while (p < end && s->len < max_bytes) {
    gunichar c = g_utf8_get_char_validated (p, end - p);

    if (c == (gunichar) - 1 || c == (gunichar) - 2) {
      g_string_append_c (s, '?');
      p++;
      continue;
    }
    if ((c < 0x20 && c != '\n') || (c >= 0x7f && c < 0xa0))
      g_string_append_c (s, '?');
    else
      g_string_append_unichar (s, c);
    p = g_utf8_next_char (p);
  }
  if (p < end)
    g_string_append (s, "...");
  return g_string_free (s, FALSE);
}
