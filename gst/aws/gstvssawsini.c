/* gst-vss: AWS shared config/credentials file reader
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The format is the AWS CLI's INI dialect: "[section]", "key = value",
 * full-line comments starting with '#' or ';', and indented lines that
 * belong to a nested block of the previous key.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include "gstvssawsini.h"

static void
wipe_free (gpointer p)
{
  gchar *s = p;

  /* Values include secret keys. */
  if (s)
    memset (s, 0, strlen (s));
  g_free (s);
}

GHashTable *
gst_vss_aws_ini_load (const gchar * path, GError ** error)
{
  GHashTable *ini, *cur = NULL;
  gchar *text = NULL, *next;
  gsize len;

  if (!g_file_get_contents (path, &text, &len, error))
    return NULL;
  ini = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) g_hash_table_unref);
  /* Parsed in place so that one wipe of `text` clears every secret. */
  for (next = text; next;) {
    gchar *line = next;
    gchar *nl = strchr (line, '\n');
    gchar *eq, *key, *value;

    if (nl)
      *nl = '\0';
    next = nl ? nl + 1 : NULL;

    if (line[0] == ' ' || line[0] == '\t')
      continue;                 /* nested block line */
    g_strstrip (line);
    if (line[0] == '\0' || line[0] == '#' || line[0] == ';')
      continue;
    if (line[0] == '[') {
      gchar *end = strchr (line, ']');
      gchar *name;

      cur = NULL;
      if (!end)
        continue;
      name = g_strstrip (g_strndup (line + 1, end - line - 1));
      /* "[profile  x]" and "[profile x]" are the same section. */
      if (g_str_has_prefix (name, "profile ") || g_str_has_prefix (name,
              "profile\t")) {
        gchar *rest = g_strstrip (g_strdup (name + 8));

        g_free (name);
        name = g_strconcat ("profile ", rest, NULL);
        g_free (rest);
      }
      cur = g_hash_table_lookup (ini, name);
      if (!cur) {
        cur = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
            wipe_free);
        g_hash_table_insert (ini, name, cur);
      } else {
        g_free (name);
      }
      continue;
    }
    eq = strchr (line, '=');
    if (!cur || !eq)
      continue;
    *eq = '\0';
    key = g_ascii_strdown (g_strstrip (line), -1);
    value = g_strdup (g_strstrip (eq + 1));
    g_hash_table_insert (cur, key, value);
  }

  memset (text, 0, len);
  g_free (text);
  return ini;
}

GHashTable *
gst_vss_aws_ini_profile (GHashTable * ini, const gchar * profile,
    gboolean config_file)
{
  GHashTable *sec = NULL;
  gchar *name;

  if (!ini)
    return NULL;
  if (!config_file)
    return g_hash_table_lookup (ini, profile);
  name = g_strconcat ("profile ", profile, NULL);
  sec = g_hash_table_lookup (ini, name);
  g_free (name);
  if (!sec && strcmp (profile, "default") == 0)
    sec = g_hash_table_lookup (ini, "default");
  return sec;
}
