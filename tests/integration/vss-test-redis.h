/* gst-vss tests: redis-server fixture (plain, TLS, ACL, cluster)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * VssTestRedisOptions:
 * @tls: serve TLS only (`--port 0 --tls-port P`); the fixture creates a CA
 *   (`ca.crt`), a server certificate for localhost and 127.0.0.1, a client
 *   certificate (`client.crt`, `client.key`) and an unrelated CA
 *   (`other-ca.crt`) in its directory.
 * @tls_auth_clients: "yes" (default), "no" or "optional".
 * @acl_user, @acl_password: create this user with every right and turn the
 *   default user off; "default" sets the default user's password instead
 *   (like requirepass).
 * @appendonly: AOF with fsync always, so that a killed server keeps every
 *   acknowledged write.
 * @extra_args: (nullable): more arguments.
 * @module: (nullable): a module to load (`--loadmodule`), e.g. our
 *   vss-search.so. In a sanitizer build it is instrumented and the server
 *   is not: the server then runs with this process's sanitizer runtimes
 *   preloaded, and writes what they find (errors; data races; leaks when
 *   it exits cleanly) to `sanitizer.<pid>` in its node directory, which
 *   vss_test_redis_check_reports() turns into a test failure. Under
 *   ThreadSanitizer keep the server's default `io-threads 1`: it hands
 *   clients to its I/O threads with atomics that TSan does not see in the
 *   uninstrumented server, so the module's reads of command arguments
 *   would be reported as races.
 * @module_args: (nullable): the module's own arguments (e.g. `INT8`).
 * @cluster_replicas: replicas per primary for vss_test_redis_start_cluster()
 *   (node indexes past the primaries' count may be primaries or replicas:
 *   ask `ROLE`).
 */
typedef struct
{
  gboolean tls;
  const gchar *tls_auth_clients;
  const gchar *acl_user;
  const gchar *acl_password;
  gboolean appendonly;
  const gchar *const *extra_args;
  guint cluster_replicas;
  const gchar *module;
  const gchar *const *module_args;
} VssTestRedisOptions;

typedef struct _VssTestRedis VssTestRedis;

VssTestRedis *vss_test_redis_start (const VssTestRedisOptions * opts,
    GError ** error);

VssTestRedis *vss_test_redis_start_cluster (guint n_primaries,
    const VssTestRedisOptions * opts, GError ** error);

void vss_test_redis_free (VssTestRedis * r);

guint vss_test_redis_get_n_nodes (VssTestRedis * r);

guint16 vss_test_redis_get_port (VssTestRedis * r, guint node);

const gchar *vss_test_redis_get_dir (VssTestRedis * r);

gchar *vss_test_redis_get_path (VssTestRedis * r, const gchar * file);

gchar *vss_test_redis_get_url (VssTestRedis * r, const gchar * extra_query);

void vss_test_redis_stop_node (VssTestRedis * r, guint node, gboolean hard);

gboolean vss_test_redis_restart_node (VssTestRedis * r, guint node,
    GError ** error);

gchar *vss_test_redis_cli (VssTestRedis * r, guint node, GError ** error,
    ...) G_GNUC_NULL_TERMINATED;

gchar *vss_test_redis_cliv (VssTestRedis * r, guint node,
    const gchar * const *args, GError ** error);

gboolean vss_test_redis_require_programs (GError ** error);

/* The sanitizer runtimes this process runs with, as an LD_PRELOAD value
 * ("" without sanitizers): what an uninstrumented program (redis-server,
 * gst-launch-1.0) needs to load our instrumented module or plugins. */
gchar *vss_test_sanitizer_preload (void);

void vss_test_redis_check_reports (VssTestRedis * r);

gboolean vss_test_redis_wait_replicas_online (VssTestRedis * r,
    guint timeout_s, GError ** error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VssTestRedis, vss_test_redis_free);

G_END_DECLS
