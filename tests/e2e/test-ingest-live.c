/* gst-vss tests: vss-ingest on a live RTSP stream that drops
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * tests/servers/vss-rtsp-server streams a clip made from real photographs;
 * vss-ingest (the real program) consumes it. The server is killed and
 * started again on the same port mid-stream, or its stream simply ends, and
 * ingest must reconnect and go on. Storage is left out here (--dry-run);
 * test-ingest-e2e checks what is stored.
 */
#include <signal.h>
#include <string.h>
#include <glib/gstdio.h>
#include "vss-e2e.h"

static gchar *tmpdir;
static gchar *clip;             /* 40 s, 10 fps, 320x180 */
static gchar *short_clip;       /* 4 s */

static void
sleep_s (gdouble s)
{
  g_usleep ((gulong) (s * G_USEC_PER_SEC));
}

static void
test_server_restart (void)
{
  guint16 port = vss_e2e_free_port ();
  VssE2eRtsp *srv = vss_e2e_rtsp_start (clip, port, FALSE);
  const gchar *args[] = { srv->url, "--dry-run", "--threshold", "0",
    "--json", "--rtsp-transport", "tcp", "--duration", "24",
    "--reconnect-delay", "0.5", "--reconnect-max-delay", "2", NULL
  };
  GSubprocess *p = vss_e2e_ingest_spawn (args, 0);
  json_t *j = NULL;
  gint status;

  sleep_s (8);
  vss_e2e_rtsp_stop (srv);      /* the camera goes away ... */
  sleep_s (3);
  srv = vss_e2e_rtsp_start (clip, port, FALSE); /* ... and comes back */
  g_assert_cmpuint (srv->port, ==, port);
  status = vss_e2e_ingest_wait (p, &j, NULL, NULL);
  g_object_unref (p);
  vss_e2e_rtsp_stop (srv);

  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (j);
  g_assert_cmpstr (vss_e2e_input_str (j, 0, "status"), ==, "stopped");
  g_assert_true (json_is_true (json_object_get (json_array_get
              (json_object_get (j, "inputs"), 0), "live")));
  /* It reconnected (possibly after failed attempts while the server was
   * down) and frames came through both connections. */
  g_assert_cmpint (vss_e2e_input_int (j, 0, "reconnects"), >=, 1);
  g_assert_cmpint (vss_e2e_input_int (j, 0, "connections"), >=, 2);
  /* 24 s minus ~3-5 s of outage, one frame per second. */
  g_assert_cmpint (vss_e2e_input_int (j, 0, "frames_sampled"), >=, 12);
  g_assert_cmpint (vss_e2e_input_int (j, 0, "frames_sampled"), <=, 25);
  json_decref (j);
}

static void
test_stream_ends (void)
{
  VssE2eRtsp *srv = vss_e2e_rtsp_start (short_clip, 0, FALSE);
  const gchar *args[] = { srv->url, "--dry-run", "--threshold", "0",
    "--json", "--duration", "14", "--reconnect-delay", "0.5",
    "--reconnect-max-delay", "1", NULL
  };
  json_t *j = NULL;
  gint status = vss_e2e_ingest_run (args, &j, NULL, NULL);

  vss_e2e_rtsp_stop (srv);
  g_assert_cmpint (status, ==, 0);
  /* Each 4 s session ends with EOS; ingest starts a new one each time. */
  g_assert_cmpint (vss_e2e_input_int (j, 0, "connections"), >=, 2);
  g_assert_cmpint (vss_e2e_input_int (j, 0, "frames_sampled"), >=, 6);
  json_decref (j);
}

static void
test_interrupt (void)
{
  VssE2eRtsp *srv = vss_e2e_rtsp_start (clip, 0, TRUE);
  const gchar *args[] = { srv->url, "--dry-run", "--threshold", "0",
    "--json", "--duration", "60", NULL
  };
  GSubprocess *p = vss_e2e_ingest_spawn (args, 0);
  json_t *j = NULL;
  gint64 t0;
  gint status;

  sleep_s (5);
  t0 = g_get_monotonic_time ();
  g_subprocess_send_signal (p, SIGINT);
  status = vss_e2e_ingest_wait (p, &j, NULL, NULL);
  g_object_unref (p);
  vss_e2e_rtsp_stop (srv);

  g_assert_cmpint (status, ==, 130);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 10 * G_USEC_PER_SEC);
  g_assert_cmpstr (vss_e2e_input_str (j, 0, "status"), ==, "interrupted");
  g_assert_cmpint (vss_e2e_input_int (j, 0, "frames_sampled"), >=, 1);
  g_assert_cmpint (json_integer_value (json_object_get (j, "exit_code")), ==,
      130);
  json_decref (j);
}

static void
test_nothing_listening (void)
{
  gchar *url = g_strdup_printf ("rtsp://127.0.0.1:%u/stream",
      vss_e2e_free_port ());
  const gchar *args[] = { url, "--dry-run", "--threshold", "0", "--json",
    NULL
  };
  const gchar *wait_args[] = { url, "--dry-run", "--threshold", "0",
    "--json", "--wait", "--duration", "4", "--reconnect-delay", "0.3", NULL
  };
  json_t *j = NULL;
  gint status;

  /* A first connection that fails is an input error... */
  status = vss_e2e_ingest_run (args, &j, NULL, NULL);
  g_assert_cmpint (status, ==, 4);
  g_assert_cmpstr (vss_e2e_input_str (j, 0, "status"), ==, "input-error");
  json_decref (j);

  /* ... unless --wait: then it retries until stopped. */
  status = vss_e2e_ingest_run (wait_args, &j, NULL, NULL);
  g_assert_cmpint (status, ==, 0);
  g_assert_cmpint (vss_e2e_input_int (j, 0, "reconnects"), >=, 2);
  g_assert_cmpint (vss_e2e_input_int (j, 0, "connections"), ==, 0);
  json_decref (j);
  g_free (url);
}

int
main (int argc, char **argv)
{
  const gchar *clip_args[] = { "--duration", "40", "--fps", "10", "--width",
    "320", "--height", "180", "--seed", "4", NULL
  };
  const gchar *short_args[] = { "--duration", "4", "--fps", "10", "--width",
    "320", "--height", "180", "--seed", "5", NULL
  };
  gint ret;

  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("vss-ingest-live-XXXXXX", NULL);
  clip = vss_e2e_make_clip (tmpdir, "clip.mkv", clip_args);
  short_clip = vss_e2e_make_clip (tmpdir, "short.mkv", short_args);

  g_test_add_func ("/ingest-live/server-restart", test_server_restart);
  g_test_add_func ("/ingest-live/stream-ends", test_stream_ends);
  g_test_add_func ("/ingest-live/interrupt", test_interrupt);
  g_test_add_func ("/ingest-live/nothing-listening", test_nothing_listening);
  ret = g_test_run ();

  for (guint i = 0; i < 2; i++) {
    gchar *c = i == 0 ? clip : short_clip;
    gchar *truth = g_strconcat (c, ".json", NULL);
    g_unlink (c);
    g_unlink (truth);
    g_free (truth);
    g_free (c);
  }
  g_rmdir (tmpdir);
  g_free (tmpdir);
  return ret;
}
