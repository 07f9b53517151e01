/* gst-vss tests: helpers for end-to-end tests
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <string.h>
#include <glib/gstdio.h>
#include "vss-e2e.h"
#include "vss-test-redis.h"

gchar *
vss_e2e_build_path (const gchar * rel)
{
  const gchar *root = g_getenv ("VSS_BUILD_ROOT");
  gchar *p = g_build_filename (root ? root : ".", rel, NULL);

  if (!g_file_test (p, G_FILE_TEST_IS_EXECUTABLE))
    g_error ("%s is missing (VSS_BUILD_ROOT=%s): build the project with "
        "-Dtests=enabled first", p, root ? root : "(unset)");
  return p;
}

guint16
vss_e2e_free_port (void)
{
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, NULL);
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *a = g_inet_socket_address_new (lo, 0);
  GSocketAddress *bound;
  guint16 port;

  g_assert_nonnull (s);
  g_assert_true (g_socket_bind (s, a, FALSE, NULL));
  bound = g_socket_get_local_address (s, NULL);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_object_unref (bound);
  g_object_unref (a);
  g_object_unref (lo);
  g_socket_close (s, NULL);
  g_object_unref (s);
  return port;
}

gchar *
vss_e2e_make_clip (const gchar * dir, const gchar * name,
    const gchar * const *extra_args)
{
  gchar *clip = g_build_filename (dir, name, NULL);
  gchar *truth = g_strconcat (clip, ".json", NULL);
  gchar *tool;
  GPtrArray *argv;
  GError *err = NULL;
  gint status = 0;
  gchar *out = NULL, *errtxt = NULL;

  if (g_file_test (clip, G_FILE_TEST_IS_REGULAR)
      && g_file_test (truth, G_FILE_TEST_IS_REGULAR)) {
    g_free (truth);
    return clip;
  }
  tool = vss_e2e_build_path ("tests/fixtures/vss-make-clip");
  argv = g_ptr_array_new ();
  g_ptr_array_add (argv, tool);
  g_ptr_array_add (argv, (gpointer) "--output");
  g_ptr_array_add (argv, clip);
  g_ptr_array_add (argv, (gpointer) "--truth");
  g_ptr_array_add (argv, truth);
  for (guint i = 0; extra_args && extra_args[i]; i++)
    g_ptr_array_add (argv, (gpointer) extra_args[i]);
  g_ptr_array_add (argv, NULL);
  if (!g_spawn_sync (NULL, (gchar **) argv->pdata, NULL, G_SPAWN_DEFAULT,
          NULL, NULL, &out, &errtxt, &status, &err))
    g_error ("cannot run vss-make-clip: %s", err->message);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("vss-make-clip failed (it needs the wallpaper packages of "
        "tools/install-deps.sh): %s%s", out, errtxt);
  g_free (out);
  g_free (errtxt);
  g_ptr_array_unref (argv);
  g_free (tool);
  g_free (truth);
  return clip;
}

VssE2eRtsp *
vss_e2e_rtsp_start (const gchar * clip, guint16 port, gboolean loop)
{
  gchar *tool = vss_e2e_build_path ("tests/servers/vss-rtsp-server");
  gchar *port_s = g_strdup_printf ("%u", port);
  const gchar *argv[] = { tool, "--clip", clip, "--port", port_s,
    "--exit-on-stdin-eof", loop ? "--loop" : NULL, NULL
  };
  VssE2eRtsp *s = g_new0 (VssE2eRtsp, 1);
  GDataInputStream *in;
  GError *err = NULL;
  const gchar *p;

  /* stdin is a pipe: the server dies with the test. */
  s->proc = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDIN_PIPE |
      G_SUBPROCESS_FLAGS_STDOUT_PIPE, &err);
  if (s->proc == NULL)
    g_error ("cannot start vss-rtsp-server: %s", err->message);
  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (s->proc));
  s->url = g_data_input_stream_read_line (in, NULL, NULL, &err);
  g_object_unref (in);
  if (s->url == NULL)
    g_error ("vss-rtsp-server did not start on port %u: %s", port,
        err ? err->message : "no URL printed");
  p = strrchr (s->url, ':');
  g_assert_nonnull (p);
  s->port = (guint16) g_ascii_strtoull (p + 1, NULL, 10);
  g_free (tool);
  g_free (port_s);
  return s;
}

void
vss_e2e_rtsp_stop (VssE2eRtsp * s)
{
  if (s == NULL)
    return;
  g_subprocess_send_signal (s->proc, SIGTERM);
  g_subprocess_wait (s->proc, NULL, NULL);
  g_object_unref (s->proc);
  g_free (s->url);
  g_free (s);
}

static GSubprocess *
ingest_spawn (const gchar * const *args, GSubprocessFlags extra_flags,
    const gchar * const *env, const gchar * stderr_path)
{
  gchar *tool = vss_e2e_build_path ("tools/vss-ingest");
  GPtrArray *argv = g_ptr_array_new ();
  GSubprocessLauncher *l;
  GSubprocess *p;
  GError *err = NULL;

  g_ptr_array_add (argv, tool);
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
      (stderr_path ? 0 : G_SUBPROCESS_FLAGS_STDERR_PIPE) | extra_flags);
  for (guint i = 0; env && env[i]; i += 2) {
    if (env[i + 1])
      g_subprocess_launcher_setenv (l, env[i], env[i + 1], TRUE);
    else
      g_subprocess_launcher_unsetenv (l, env[i]);
  }
  if (stderr_path)
    g_subprocess_launcher_set_stderr_file_path (l, stderr_path);
  p = g_subprocess_launcher_spawnv (l, (const gchar * const *) argv->pdata,
      &err);
  if (p == NULL)
    g_error ("cannot run vss-ingest: %s", err->message);
  g_object_unref (l);
  g_ptr_array_unref (argv);
  g_free (tool);
  return p;
}

GSubprocess *
vss_e2e_ingest_spawn (const gchar * const *args, GSubprocessFlags extra_flags)
{
  return ingest_spawn (args, extra_flags, NULL, NULL);
}

GSubprocess *
vss_e2e_ingest_spawn_env (const gchar * const *args,
    const gchar * const *env, const gchar * stderr_path)
{
  return ingest_spawn (args, 0, env, stderr_path);
}

gint
vss_e2e_ingest_wait (GSubprocess * p, json_t ** json, gchar ** out_text,
    gchar ** err_text)
{
  gchar *out = NULL, *errt = NULL;
  GError *err = NULL;
  gint status;

  if (!g_subprocess_communicate_utf8 (p, NULL, NULL, &out, &errt, &err))
    g_error ("vss-ingest: %s", err->message);
  if (errt == NULL)             /* stderr went to a file */
    errt = g_strdup ("");
  if (!g_subprocess_get_if_exited (p))
    g_error ("vss-ingest was killed by signal %d; stderr:\n%s",
        g_subprocess_get_term_sig (p), errt);
  status = g_subprocess_get_exit_status (p);
  g_printerr ("vss-ingest exited with %d; stderr:\n%s\n", status, errt);
  if (json != NULL) {
    json_error_t jerr;
    *json = json_loads (out, 0, &jerr);
  }
  if (out_text)
    *out_text = out;
  else
    g_free (out);
  if (err_text)
    *err_text = errt;
  else
    g_free (errt);
  return status;
}

gint
vss_e2e_ingest_run (const gchar * const *args, json_t ** json,
    gchar ** out_text, gchar ** err_text)
{
  GSubprocess *p = vss_e2e_ingest_spawn (args, 0);
  gint status = vss_e2e_ingest_wait (p, json, out_text, err_text);

  g_object_unref (p);
  return status;
}

gint
vss_e2e_ingest_run_env (const gchar * const *args, const gchar * const *env,
    json_t ** json, gchar ** out_text, gchar ** err_text)
{
  GSubprocess *p = vss_e2e_ingest_spawn_env (args, env, NULL);
  gint status = vss_e2e_ingest_wait (p, json, out_text, err_text);

  g_object_unref (p);
  return status;
}

json_int_t
vss_e2e_input_int (json_t * summary, guint input, const gchar * field)
{
  json_t *in = json_array_get (json_object_get (summary, "inputs"), input);
  json_t *v = json_object_get (in, field);

  if (!json_is_integer (v))
    g_error ("summary has no integer %s for input %u", field, input);
  return json_integer_value (v);
}

const gchar *
vss_e2e_input_str (json_t * summary, guint input, const gchar * field)
{
  json_t *in = json_array_get (json_object_get (summary, "inputs"), input);

  return json_string_value (json_object_get (in, field));
}

/**
 * vss_e2e_uninstrumented_preload:
 *
 * What an uninstrumented program of the system (gst-launch-1.0, bash
 * running one) needs preloaded to load our plugins in a sanitizer build:
 * the sanitizer runtimes, and libstdc++ so that ASan finds the real
 * __cxa_throw when a C++ library (libproxy, through GIO) throws.
 *
 * Returns: (transfer full) (nullable): an LD_PRELOAD value, NULL without
 *   sanitizers.
 */
gchar *
vss_e2e_uninstrumented_preload (void)
{
  gchar *san = vss_test_sanitizer_preload ();
  gchar *pre = san[0] ? g_strconcat (san, " libstdc++.so.6", NULL) : NULL;

  g_free (san);
  return pre;
}
