/* gst-vss tests: small helpers every test against servers and folders uses
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "vss-test-redis.h"
#include "valkey/gstvssvalkeyclient.h"

G_BEGIN_DECLS

/* A new temporary folder; aborts the test when it cannot be made. */
gchar *vss_test_tmpdir (const gchar * prefix);

/* Removes @path and everything under it (no symlink is followed). */
void vss_test_rm_rf (const gchar * path);

/* Files under @dir (recursively) whose names end in @suffix (NULL: any,
 * hidden ones excluded); *@hidden set when a name starts with '.'. */
guint vss_test_count_files (const gchar * dir, const gchar * suffix,
    gboolean * hidden);

/* vss_test_redis_start() that aborts the test, saying why, on failure. */
VssTestRedis *vss_test_redis_start_or_die (const VssTestRedisOptions * opts);

/* A connected client; aborts the test on a bad URL. */
VssValkeyClient *vss_test_client (const gchar * url);

/* Keys matching @pattern on every primary (KEYS: small test datasets). */
guint64 vss_test_count_keys (VssValkeyClient * c, const gchar * pattern);

/* A HASH field with a NUL after its @len bytes, or NULL when absent. */
gchar *vss_test_hget (VssValkeyClient * c, const gchar * key,
    const gchar * field, gsize * len);

/* Every field of a HASH: name -> GBytes. */
GHashTable *vss_test_hgetall (VssValkeyClient * c, const gchar * key);

G_END_DECLS
