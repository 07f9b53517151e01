/* gst-vss tests: small helpers every test against servers and folders uses
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <gio/gio.h>
#include "vss-test-util.h"

gchar *
vss_test_tmpdir (const gchar * prefix)
{
  GError *err = NULL;
  gchar *tmpl = g_strconcat (prefix, "-XXXXXX", NULL);
  gchar *d = g_dir_make_tmp (tmpl, &err);

  if (d == NULL)
    g_error ("cannot make a temporary folder: %s", err->message);
  g_free (tmpl);
  return d;
}

void
vss_test_rm_rf (const gchar * path)
{
  GFile *f = g_file_new_for_path (path);
  GFileEnumerator *e = g_file_enumerate_children (f,
      G_FILE_ATTRIBUTE_STANDARD_NAME, G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS,
      NULL, NULL);

  if (e) {
    GFileInfo *info;

    while ((info = g_file_enumerator_next_file (e, NULL, NULL))) {
      gchar *child = g_build_filename (path, g_file_info_get_name (info),
          NULL);

      vss_test_rm_rf (child);
      g_free (child);
      g_object_unref (info);
    }
    g_object_unref (e);
  }
  g_file_delete (f, NULL, NULL);
  g_object_unref (f);
}

guint
vss_test_count_files (const gchar * dir, const gchar * suffix,
    gboolean * hidden)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;
  guint n = 0;

  if (d == NULL)
    return 0;
  while ((name = g_dir_read_name (d))) {
    gchar *p = g_build_filename (dir, name, NULL);

    if (name[0] == '.' && hidden)
      *hidden = TRUE;
    if (g_file_test (p, G_FILE_TEST_IS_DIR))
      n += vss_test_count_files (p, suffix, hidden);
    else if (suffix ? g_str_has_suffix (name, suffix) : name[0] != '.')
      n++;
    g_free (p);
  }
  g_dir_close (d);
  return n;
}

VssTestRedis *
vss_test_redis_start_or_die (const VssTestRedisOptions * opts)
{
  GError *err = NULL;
  VssTestRedis *r = vss_test_redis_start (opts, &err);

  if (r == NULL)
    g_error ("cannot start redis-server%s%s: %s", opts && opts->module ?
        " with " : "", opts && opts->module ? opts->module : "", err->message);
  return r;
}

VssValkeyClient *
vss_test_client (const gchar * url)
{
  GError *err = NULL;
  VssValkeyClient *c = vss_valkey_client_new_from_url (url, &err);

  if (c == NULL)
    g_error ("bad Valkey URL: %s", err->message);
  return c;
}

guint64
vss_test_count_keys (VssValkeyClient * c, const gchar * pattern)
{
  const gchar *argv[] = { "KEYS", pattern };
  GError *err = NULL;
  GPtrArray *rs = vss_valkey_command_on_primaries (c, NULL, &err, 2, argv,
      NULL);
  guint64 n = 0;

  if (rs == NULL)
    g_error ("KEYS %s: %s", pattern, err->message);
  for (guint i = 0; i < rs->len; i++)
    n += ((VssValkeyReply *) g_ptr_array_index (rs, i))->elements;
  g_ptr_array_unref (rs);
  return n;
}

gchar *
vss_test_hget (VssValkeyClient * c, const gchar * key, const gchar * field,
    gsize * len)
{
  const gchar *argv[] = { "HGET", key, field };
  GError *err = NULL;
  VssValkeyReply *r = vss_valkey_command (c, NULL, &err, 3, argv, NULL);
  gchar *out = NULL;

  if (r == NULL)
    g_error ("HGET %s %s: %s", key, field, err->message);
  if (r->type == REDIS_REPLY_STRING) {
    out = g_memdup2 (r->str, r->len + 1);
    if (len)
      *len = r->len;
  }
  freeReplyObject (r);
  return out;
}

GHashTable *
vss_test_hgetall (VssValkeyClient * c, const gchar * key)
{
  const gchar *argv[] = { "HGETALL", key };
  GError *err = NULL;
  VssValkeyReply *r = vss_valkey_command (c, NULL, &err, 2, argv, NULL);
  GHashTable *h = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) g_bytes_unref);

  if (r == NULL || r->type != REDIS_REPLY_ARRAY)
    g_error ("HGETALL %s: %s", key, err ? err->message : "not an array");
  for (gsize i = 0; i + 1 < r->elements; i += 2)
    g_hash_table_insert (h, g_strdup (r->element[i]->str),
        g_bytes_new (r->element[i + 1]->str, r->element[i + 1]->len));
  freeReplyObject (r);
  return h;
}
