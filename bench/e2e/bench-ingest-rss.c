/* gst-vss: bench-ingest-rss — memory of a long live ingest
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   bench-ingest-rss --module vss-search.so [--minutes 30]
 *       [--sample-seconds 60] [--drop-every-minutes 10] [--threshold 0]
 *
 * Streams a 2-minute clip of real photographs over RTSP
 * (tests/servers/vss-rtsp-server) into vss-ingest, which stores into
 * redis-server with our module and a frames folder, for --minutes. Each
 * session ends with the clip (rtspsrc honours the announced range), so
 * vss-ingest reconnects every 2 minutes; on top of that the RTSP server is
 * killed and restarted every --drop-every-minutes. vss-ingest's resident memory (VmRSS) is sampled every
 * --sample-seconds. --threshold 0 (the default here) stores every sampled
 * frame, so that the sink works all along; give 0.2 for the default dedup.
 *
 * Prints one JSON object: the samples, the RSS after the first minutes
 * (the sample at 3 minutes, or the first third of a shorter run), the last,
 * the growth in percent (target: < 5) and vss-ingest's summary. Progress
 * goes to stderr.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include "vss-e2e.h"
#include "vss-test-redis.h"

static gdouble opt_minutes = 30, opt_sample = 60, opt_drop = 10;
static gchar *opt_threshold = NULL, *opt_module = NULL;

static GOptionEntry entries[] = {
  {"minutes", 'm', 0, G_OPTION_ARG_DOUBLE, &opt_minutes,
      "Length of the run (default 30)", "M"},
  {"sample-seconds", 's', 0, G_OPTION_ARG_DOUBLE, &opt_sample,
      "RSS sampling period (default 60)", "S"},
  {"drop-every-minutes", 'D', 0, G_OPTION_ARG_DOUBLE, &opt_drop,
      "Restart the RTSP server this often (default 10; 0 never)", "M"},
  {"threshold", 't', 0, G_OPTION_ARG_STRING, &opt_threshold,
      "vss-ingest --threshold (default 0: store every sampled frame)", "D"},
  {"module", 0, 0, G_OPTION_ARG_FILENAME, &opt_module,
      "vss-search.so to load into redis-server", "PATH"},
  {NULL}
};

static glong
rss_kb (GPid pid)
{
  gchar *path = g_strdup_printf ("/proc/%d/status", (int) pid);
  gchar *text = NULL, *p;
  glong kb = -1;

  if (g_file_get_contents (path, &text, NULL, NULL)
      && (p = strstr (text, "VmRSS:")) != NULL)
    kb = strtol (p + 6, NULL, 10);
  g_free (text);
  g_free (path);
  return kb;
}

int
main (int argc, char **argv)
{
  GOptionContext *ctx = g_option_context_new ("- RSS of a long live ingest");
  GError *err = NULL;
  const gchar *clip_args[] = { "--duration", "120", "--fps", "10", "--width",
    "640", "--height", "360", "--seed", "10", NULL
  };
  VssTestRedisOptions ro = { 0 };
  VssTestRedis *r;
  VssE2eRtsp *srv;
  gchar *cache, *clip, *url, *tmp, *frames, *spool, *dur;
  GSubprocess *p;
  GPid pid;
  json_t *samples = json_array (), *o, *summary = NULL;
  gint64 t0, next_sample, next_drop;
  glong baseline = -1, last = -1, peak = 0;
  gdouble baseline_min = 0, base_at;
  gint status;
  gchar *s;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &err) || opt_minutes <= 0
      || opt_sample <= 0 || opt_module == NULL) {
    g_printerr ("bench-ingest-rss: %s\n", err ? err->message :
        "--module PATH is required; --minutes and --sample-seconds > 0");
    return 2;
  }
  g_option_context_free (ctx);

  cache = g_build_filename (g_getenv ("VSS_BUILD_ROOT") ?
      g_getenv ("VSS_BUILD_ROOT") : ".", "bench", "e2e", NULL);
  g_mkdir_with_parents (cache, 0755);
  clip = vss_e2e_make_clip (cache, "rss-640x360-10fps-120s.mkv", clip_args);

  if (!vss_test_redis_require_programs (&err))
    g_error ("%s", err->message);
  ro.module = opt_module;
  r = vss_test_redis_start (&ro, &err);
  if (r == NULL)
    g_error ("redis-server: %s", err->message);
  url = vss_test_redis_get_url (r, NULL);
  tmp = g_dir_make_tmp ("bench-ingest-rss-XXXXXX", NULL);
  frames = g_build_filename (tmp, "frames", NULL);
  spool = g_build_filename (tmp, "spool", NULL);
  dur = g_strdup_printf ("%.0f", opt_minutes * 60);

  srv = vss_e2e_rtsp_start (clip, 0, TRUE);
  {
    const gchar *args[] = { srv->url, "--valkey", url, "--frames", frames,
      "--spool-dir", spool, "--stream-id", "rss", "--threshold",
      opt_threshold ? opt_threshold : "0", "--duration", dur,
      "--rtsp-transport", "tcp", "--reconnect-delay", "0.5",
      "--reconnect-max-delay", "2", "--json", NULL
    };
    p = vss_e2e_ingest_spawn (args, 0);
  }
  pid = atoi (g_subprocess_get_identifier (p));
  t0 = g_get_monotonic_time ();
  next_sample = t0 + (gint64) (opt_sample * G_USEC_PER_SEC);
  next_drop = opt_drop > 0 ? t0 + (gint64) (opt_drop * 60 * G_USEC_PER_SEC)
      : G_MAXINT64;
  /* "After the first minutes": 3 minutes in, or a third of a short run. */
  base_at = MIN (3.0, opt_minutes / 3);

  /* Sample while the ingest runs; it stops itself after --duration. */
  for (;;) {
    gint64 now = g_get_monotonic_time ();
    gdouble minute = (now - t0) / 60e6;
    glong kb;

    if (g_subprocess_get_identifier (p) == NULL)
      break;
    if (now >= next_drop) {
      guint16 port = srv->port;
      g_printerr ("bench-ingest-rss: %.1f min: restarting the RTSP server\n",
          minute);
      vss_e2e_rtsp_stop (srv);
      g_usleep (2 * G_USEC_PER_SEC);
      srv = vss_e2e_rtsp_start (clip, port, TRUE);
      next_drop += (gint64) (opt_drop * 60 * G_USEC_PER_SEC);
    }
    if (now >= next_sample) {
      kb = rss_kb (pid);
      if (kb < 0)
        break;
      json_array_append_new (samples, json_pack ("{s:f,s:i}", "minute",
              minute, "rss_kb", (json_int_t) kb));
      g_printerr ("bench-ingest-rss: %.1f min: RSS %ld kB\n", minute, kb);
      if (baseline < 0 && minute >= base_at - 1e-6) {
        baseline = kb;
        baseline_min = minute;
      }
      last = kb;
      peak = MAX (peak, kb);
      next_sample += (gint64) (opt_sample * G_USEC_PER_SEC);
    }
    g_usleep (200 * 1000);
    if (minute > opt_minutes + 2)
      break;                    /* ingest should have stopped by now */
  }
  status = vss_e2e_ingest_wait (p, &summary, NULL, NULL);
  g_object_unref (p);
  vss_e2e_rtsp_stop (srv);

  o = json_object ();
  json_object_set_new (o, "benchmark", json_string ("ingest-rss"));
  json_object_set_new (o, "minutes", json_real (opt_minutes));
  json_object_set_new (o, "threshold", json_string (opt_threshold ?
          opt_threshold : "0"));
  json_object_set_new (o, "rtsp_restart_every_minutes", json_real (opt_drop));
  json_object_set_new (o, "samples", samples);
  json_object_set_new (o, "baseline_minute", json_real (baseline_min));
  json_object_set_new (o, "baseline_rss_kb", json_integer (baseline));
  json_object_set_new (o, "final_rss_kb", json_integer (last));
  json_object_set_new (o, "peak_rss_kb", json_integer (peak));
  json_object_set_new (o, "growth_percent", baseline > 0 ?
      json_real (100.0 * (last - baseline) / baseline) : json_null ());
  json_object_set_new (o, "target_growth_percent", json_real (5));
  json_object_set_new (o, "meets_target", json_boolean (baseline > 0
          && 100.0 * (last - baseline) / baseline < 5));
  json_object_set_new (o, "ingest_exit_status", json_integer (status));
  json_object_set_new (o, "ingest_summary", summary ? summary : json_null ());
  s = json_dumps (o, JSON_INDENT (2) | JSON_REAL_PRECISION (5));
  printf ("%s\n", s);
  free (s);
  json_decref (o);

  vss_test_redis_free (r);
  {
    gchar *rm[] = { (gchar *) "rm", (gchar *) "-rf", tmp, NULL };
    g_spawn_sync (NULL, rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
        NULL, NULL);
  }
  g_free (tmp);
  g_free (frames);
  g_free (spool);
  g_free (dur);
  g_free (url);
  g_free (clip);
  g_free (cache);
  return status == 0 ? 0 : 1;
}
