/* gst-vss tests: the Bedrock test server on a loopback port
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <stdio.h>
#include <curl/curl.h>
#include <jansson.h>
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

static gsize
collect (gchar * d, gsize size, gsize n, gpointer user)
{
  g_string_append_len (user, d, size * n);
  return size * n;
}

static json_t *
call (VssTestBedrock * s, const gchar * path, const gchar * post)
{
  CURL *h = curl_easy_init ();
  gchar *url = g_strconcat (s->endpoint, path, NULL);
  GString *body = g_string_new (NULL);
  CURLcode rc;
  json_t *o;

  curl_easy_setopt (h, CURLOPT_URL, url);
  curl_easy_setopt (h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt (h, CURLOPT_WRITEDATA, body);
  if (post)
    curl_easy_setopt (h, CURLOPT_POSTFIELDS, post);
  rc = curl_easy_perform (h);
  o = rc == CURLE_OK ? json_loads (body->str, 0, NULL) : NULL;
  if (o == NULL)
    g_error ("the Bedrock test server at %s did not answer %s with JSON: "
        "%s %s", s->endpoint, path, curl_easy_strerror (rc), body->str);
  curl_easy_cleanup (h);
  g_string_free (body, TRUE);
  g_free (url);
  return o;
}

void
vss_test_bedrock_control (VssTestBedrock * s, const gchar * json)
{
  json_decref (call (s, "/_control", json));
}

gint64
vss_test_bedrock_stat (VssTestBedrock * s, const gchar * key)
{
  json_t *o = call (s, "/_stats", NULL);
  gint64 v = json_integer_value (json_object_get (o, key));

  json_decref (o);
  return v;
}
