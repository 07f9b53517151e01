/* gst-vss: bench-ingest — end-to-end ingest time against decoding alone
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * On a generated 1080p H.264 clip of real photographs, in the same run:
 *
 *   decode-only:  gst-launch-1.0 uridecodebin uri=CLIP ! fakesink sync=false
 *   ingest:       vss-ingest CLIP (local provider, dedup, JPEG, vsssink into
 *                 redis-server with our module and a frames folder)
 *
 * each --runs times, alternating, both as separate processes (so both pay
 * process start and registry load). Prints one JSON object: the wall times,
 * their medians, the ratio ingest/decode (target <= 1.1) and vss-ingest's
 * own summary of the last run. The clip is made once and kept in
 * --cache-dir (making 1080p takes minutes).
 */
#include <math.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <string.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include "vss-e2e.h"
#include "vss-test-redis.h"

static gint opt_runs = 3;
static gint opt_width = 1920, opt_height = 1080, opt_fps = 30;
static gdouble opt_duration = 20;
static gchar *opt_cache = NULL, *opt_module = NULL;

static GOptionEntry entries[] = {
  {"runs", 'r', 0, G_OPTION_ARG_INT, &opt_runs, "Runs of each (default 3)",
      "N"},
  {"duration", 'd', 0, G_OPTION_ARG_DOUBLE, &opt_duration,
      "Clip length in seconds (default 20)", "S"},
  {"width", 'W', 0, G_OPTION_ARG_INT, &opt_width, "Width (default 1920)",
      "PX"},
  {"height", 'H', 0, G_OPTION_ARG_INT, &opt_height, "Height (default 1080)",
      "PX"},
  {"fps", 'f', 0, G_OPTION_ARG_INT, &opt_fps, "Frame rate (default 30)", "N"},
  {"cache-dir", 'c', 0, G_OPTION_ARG_FILENAME, &opt_cache,
      "Where the clip is kept between runs (default: the build's "
        "bench/e2e)", "DIR"},
  {"module", 'm', 0, G_OPTION_ARG_FILENAME, &opt_module,
      "vss-search.so to load into redis-server", "PATH"},
  {NULL}
};

static gdouble
children_cpu_s (void)
{
  struct rusage ru;

  getrusage (RUSAGE_CHILDREN, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec
      + ru.ru_stime.tv_usec / 1e6;
}

/* Wall time of the run; *cpu: CPU time (user + system) it used. */
static gdouble
run_timed (const gchar * const *argv, gchar ** out, gdouble * cpu)
{
  gint64 t0 = g_get_monotonic_time ();
  gdouble c0 = children_cpu_s ();
  gint status;
  GError *err = NULL;
  gchar *errt = NULL;

  if (!g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
          NULL, out, &errt, &status, &err))
    g_error ("cannot run %s: %s", argv[0], err->message);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("%s failed: %s", argv[0], errt);
  g_free (errt);
  *cpu = children_cpu_s () - c0;
  return (g_get_monotonic_time () - t0) / 1e6;
}

static gdouble
load1 (void)
{
  gchar *t = NULL;
  gdouble l = -1;

  if (g_file_get_contents ("/proc/loadavg", &t, NULL, NULL))
    l = g_ascii_strtod (t, NULL);
  g_free (t);
  return l;
}

static int
cmp_double (const void *a, const void *b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;
  return x < y ? -1 : x > y;
}

static gdouble
median (GArray * a)
{
  gdouble *v = g_memdup2 (a->data, a->len * sizeof (gdouble));
  gdouble m;

  qsort (v, a->len, sizeof (gdouble), cmp_double);
  m = a->len % 2 ? v[a->len / 2] : (v[a->len / 2 - 1] + v[a->len / 2]) / 2;
  g_free (v);
  return m;
}

int
main (int argc, char **argv)
{
  GOptionContext *ctx = g_option_context_new ("- ingest vs decode-only");
  GError *err = NULL;
  gchar *name, *clip, *uri, *ingest, *url, *tmp;
  VssTestRedisOptions ro = { 0 };
  VssTestRedis *r;
  GArray *dec = g_array_new (FALSE, FALSE, sizeof (gdouble));
  GArray *ing = g_array_new (FALSE, FALSE, sizeof (gdouble));
  GArray *dec_cpu = g_array_new (FALSE, FALSE, sizeof (gdouble));
  GArray *ing_cpu = g_array_new (FALSE, FALSE, sizeof (gdouble));
  gdouble mdc, mic;
  json_t *o, *last = NULL, *a1, *a2;
  gchar *s, *wstr, *hstr, *fstr, *dstr;
  gdouble md, mi;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &err) || opt_runs < 1
      || opt_module == NULL) {
    g_printerr ("bench-ingest: %s\n", err ? err->message :
        "--module PATH is required and --runs must be >= 1");
    return 2;
  }
  g_option_context_free (ctx);
  if (opt_cache == NULL)
    opt_cache = g_build_filename (g_getenv ("VSS_BUILD_ROOT") ?
        g_getenv ("VSS_BUILD_ROOT") : ".", "bench", "e2e", NULL);
  g_mkdir_with_parents (opt_cache, 0755);

  name = g_strdup_printf ("bench-%dx%d-%dfps-%.0fs.mkv", opt_width,
      opt_height, opt_fps, opt_duration);
  wstr = g_strdup_printf ("%d", opt_width);
  hstr = g_strdup_printf ("%d", opt_height);
  fstr = g_strdup_printf ("%d", opt_fps);
  dstr = g_strdup_printf ("%g", opt_duration);
  {
    const gchar *args[] = { "--duration", dstr, "--fps", fstr, "--width",
      wstr, "--height", hstr, "--seed", "3", NULL
    };
    g_printerr ("bench-ingest: clip %s (made once, kept in %s)\n", name,
        opt_cache);
    clip = vss_e2e_make_clip (opt_cache, name, args);
  }
  uri = g_filename_to_uri (clip, NULL, NULL);
  ingest = vss_e2e_build_path ("tools/vss-ingest");

  if (!vss_test_redis_require_programs (&err))
    g_error ("%s", err->message);
  ro.module = opt_module;
  r = vss_test_redis_start (&ro, &err);
  if (r == NULL)
    g_error ("redis-server: %s", err->message);
  url = vss_test_redis_get_url (r, NULL);
  tmp = g_dir_make_tmp ("bench-ingest-XXXXXX", NULL);

  for (gint i = 0; i < opt_runs; i++) {
    gchar *uri_arg = g_strdup_printf ("uri=%s", uri);
    const gchar *dargv[] = { "gst-launch-1.0", "-q", "uridecodebin", uri_arg,
      "!", "fakesink", "sync=false", NULL
    };
    gchar *frames = g_build_filename (tmp, "frames", NULL);
    gchar *spool = g_strdup_printf ("%s/spool-%d", tmp, i);
    gchar *sid = g_strdup_printf ("run-%d", i);
    const gchar *iargv[] = { ingest, clip, "--valkey", url, "--frames",
      frames, "--spool-dir", spool, "--stream-id", sid, "--json", NULL
    };
    gchar *out = NULL;
    gdouble t, c;

    /* Alternate which goes first, so that caches and the machine's other
     * load fall on both alike. */
    for (gint k = 0; k < 2; k++) {
      if ((k == 0) == (i % 2 == 0)) {
        t = run_timed (dargv, NULL, &c);
        g_array_append_val (dec, t);
        g_array_append_val (dec_cpu, c);
        g_printerr ("bench-ingest: run %d decode-only %.2f s (CPU %.2f s)\n",
            i, t, c);
      } else {
        g_free (out);
        out = NULL;
        t = run_timed (iargv, &out, &c);
        g_array_append_val (ing, t);
        g_array_append_val (ing_cpu, c);
        g_printerr ("bench-ingest: run %d ingest %.2f s (CPU %.2f s)\n", i,
            t, c);
      }
    }
    if (last)
      json_decref (last);
    last = json_loads (out, 0, NULL);
    g_free (out);
    g_free (uri_arg);
    g_free (frames);
    g_free (spool);
    g_free (sid);
  }

  md = median (dec);
  mi = median (ing);
  mdc = median (dec_cpu);
  mic = median (ing_cpu);
  o = json_object ();
  json_object_set_new (o, "benchmark", json_string ("ingest-vs-decode"));
  json_object_set_new (o, "clip", json_pack ("{s:i,s:i,s:i,s:f,s:s}",
          "width", opt_width, "height", opt_height, "fps", opt_fps,
          "seconds", opt_duration, "codec", "H.264"));
  json_object_set_new (o, "cpus", json_integer (g_get_num_processors ()));
  a1 = json_array ();
  a2 = json_array ();
  for (guint i = 0; i < dec->len; i++) {
    json_array_append_new (a1, json_real (g_array_index (dec, gdouble, i)));
    json_array_append_new (a2, json_real (g_array_index (ing, gdouble, i)));
  }
  json_object_set_new (o, "decode_only_seconds", a1);
  json_object_set_new (o, "ingest_seconds", a2);
  json_object_set_new (o, "median_decode_only_seconds", json_real (md));
  json_object_set_new (o, "median_ingest_seconds", json_real (mi));
  json_object_set_new (o, "ratio", json_real (mi / md));
  /* CPU time is what the pipeline costs; wall time on a shared machine
   * also measures the neighbours. */
  json_object_set_new (o, "median_decode_only_cpu_seconds", json_real (mdc));
  json_object_set_new (o, "median_ingest_cpu_seconds", json_real (mic));
  json_object_set_new (o, "cpu_ratio", json_real (mic / mdc));
  json_object_set_new (o, "load_average_1min", json_real (load1 ()));
  json_object_set_new (o, "target_ratio", json_real (1.1));
  json_object_set_new (o, "meets_target", json_boolean (mi / md <= 1.1));
  json_object_set_new (o, "ingest_summary", last ? json_object_get (last,
          "totals") : json_null ());
  if (last)
    json_incref (json_object_get (last, "totals"));
  s = json_dumps (o, JSON_INDENT (2) | JSON_REAL_PRECISION (4));
  printf ("%s\n", s);
  free (s);
  json_decref (o);
  if (last)
    json_decref (last);

  vss_test_redis_free (r);
  {
    gchar *rm[] = { (gchar *) "rm", (gchar *) "-rf", tmp, NULL };
    g_spawn_sync (NULL, rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
        NULL, NULL);
  }
  g_array_unref (dec);
  g_array_unref (ing);
  g_array_unref (dec_cpu);
  g_array_unref (ing_cpu);
  g_free (tmp);
  g_free (url);
  g_free (ingest);
  g_free (uri);
  g_free (clip);
  g_free (name);
  g_free (wstr);
  g_free (hstr);
  g_free (fstr);
  g_free (dstr);
  g_free (opt_cache);
  g_free (opt_module);
  return 0;
}
