/* gst-vss tests: s3rver on a loopback port
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include "vss-test-s3rver.h"

guint16
vss_test_free_port (void)
{
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, NULL);
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *a = g_inet_socket_address_new (lo, 0), *bound;
  guint16 port = 0;

  if (s != NULL && g_socket_bind (s, a, FALSE, NULL)) {
    bound = g_socket_get_local_address (s, NULL);
    port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
    g_object_unref (bound);
  }
  if (port == 0)
    g_error ("no free loopback port");
  g_object_unref (a);
  g_object_unref (lo);
  g_object_unref (s);
  return port;
}

gboolean
vss_test_port_open (guint16 port)
{
  GSocketClient *c = g_socket_client_new ();
  GSocketConnection *conn = g_socket_client_connect_to_host (c, "127.0.0.1",
      port, NULL, NULL);
  gboolean ok = conn != NULL;

  g_clear_object (&conn);
  g_object_unref (c);
  return ok;
}

GSubprocess *
vss_test_s3rver_start (const gchar * dir, guint16 port, const gchar * bucket,
    GError ** error)
{
  const gchar *root = g_getenv ("VSS_SOURCE_ROOT");
  gchar *bin = g_build_filename (root ? root : VSS_TEST_SOURCE_ROOT, "tests",
      "node_modules", ".bin", "s3rver", NULL);
  gchar *p = g_strdup_printf ("%u", port);
  GSubprocess *proc = NULL;

  if (!g_file_test (bin, G_FILE_TEST_IS_EXECUTABLE)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
        "s3rver is not installed at %s: run tools/install-deps.sh --tests",
        bin);
    goto out;
  }
  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
      G_SUBPROCESS_FLAGS_STDERR_SILENCE, error, bin, "-d", dir, "-a",
      "127.0.0.1", "-p", p, "-s", "--configure-bucket", bucket, NULL);
  if (proc == NULL)
    goto out;
  for (guint i = 0; i < 300 && !vss_test_port_open (port); i++)
    g_usleep (100000);
  if (!vss_test_port_open (port)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
        "s3rver did not start on port %u in 30 s", port);
    vss_test_s3rver_stop (&proc);
  }
out:
  g_free (p);
  g_free (bin);
  return proc;
}

void
vss_test_s3rver_stop (GSubprocess ** proc)
{
  if (*proc == NULL)
    return;
  g_subprocess_send_signal (*proc, SIGKILL);
  g_subprocess_wait (*proc, NULL, NULL);
  g_clear_object (proc);
}
