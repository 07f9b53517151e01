/* gst-vss tests: the conformance suite (modules/valkey/conformance) played
 * by vss-conformance against redis-server with vss-search.so.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * argv: module path, vss-conformance path, suite file.
 */
#include <string.h>
#include "vss-test-redis.h"

static const gchar *module_path, *runner, *suite;

static void
test_suite (void)
{
  VssTestRedisOptions opts = { 0, };
  GError *err = NULL;
  VssTestRedis *r;
  gchar *url, *out = NULL, *errout = NULL;
  gint status;

  opts.module = module_path;
  r = vss_test_redis_start (&opts, &err);
  g_assert_no_error (err);
  url = g_strdup_printf ("redis://127.0.0.1:%u", vss_test_redis_get_port (r,
          0));
  {
    const gchar *argv[] = { runner, "-v", url, suite, NULL };
    g_assert_true (g_spawn_sync (NULL, (gchar **) argv, NULL, 0, NULL, NULL,
            &out, &errout, &status, &err));
  }
  g_assert_no_error (err);
  g_test_message ("%s%s", out, errout);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("the conformance suite failed:\n%s%s", out, errout);
  g_assert_nonnull (strstr (out, " passed, 0 failed"));
  vss_test_redis_stop_node (r, 0, FALSE);
  vss_test_redis_check_reports (r);
  vss_test_redis_free (r);
  g_free (out);
  g_free (errout);
  g_free (url);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (argc < 4)
    g_error ("usage: %s MODULE RUNNER SUITE", argv[0]);
  module_path = argv[1];
  runner = argv[2];
  suite = argv[3];
  g_test_add_func ("/module/conformance", test_suite);
  return g_test_run ();
}
