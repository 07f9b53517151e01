/* gst-vss tests: the Bedrock test server on a loopback port
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <stdio.h>
#include "vss-test-bedrock.h"

VssTestBedrock *
vss_test_bedrock_start (const gchar * const *args, GError ** error)
{
  const gchar *root = g_getenv ("VSS_BUILD_ROOT");
  gchar *path = g_build_filename (root ? root : ".", "tests", "servers",
      "vss-bedrock-server", NULL);
  GPtrArray *argv = g_ptr_array_new ();
  VssTestBedrock *s = NULL;
  GSubprocess *proc;
  GDataInputStream *out;
  gchar *line;
  guint port = 0;

  if (!g_file_test (path, G_FILE_TEST_IS_EXECUTABLE)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
        "test server %s is missing (build with -Dtests=enabled)", path);
    goto out;
  }
  g_ptr_array_add (argv, path);
  for (; args && *args; args++)
    g_ptr_array_add (argv, (gpointer) * args);
  g_ptr_array_add (argv, NULL);
  proc = g_subprocess_newv ((const gchar * const *) argv->pdata,
      G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, error);
  if (proc == NULL)
    goto out;
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  line = g_data_input_stream_read_line (out, NULL, NULL, NULL);
  g_object_unref (out);
  if (line == NULL || sscanf (line, "PORT %u", &port) != 1) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
        "the Bedrock test server %s did not report its port", path);
    g_subprocess_force_exit (proc);
    g_subprocess_wait (proc, NULL, NULL);
    g_object_unref (proc);
  } else {
    s = g_new0 (VssTestBedrock, 1);
    s->proc = proc;
    s->endpoint = g_strdup_printf ("http://127.0.0.1:%u", port);
  }
  g_free (line);
out:
  g_ptr_array_free (argv, TRUE);
  g_free (path);
  return s;
}

void
vss_test_bedrock_stop (VssTestBedrock * s)
{
  if (s == NULL)
    return;
  g_subprocess_send_signal (s->proc, SIGTERM);
  g_subprocess_wait (s->proc, NULL, NULL);
  g_object_unref (s->proc);
  g_free (s->endpoint);
  g_free (s);
}
