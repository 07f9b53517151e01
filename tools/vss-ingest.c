/* gst-vss: vss-ingest — run the main job on a file or stream
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Today: decode -> sample every --interval -> vssembed, printing what was
 * computed for each sampled frame (id, time, distance to the previous sample)
 * and a summary. Dedup and storage join as vssdedup and vsssink land.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <gst/gst.h>
#include <gst/app/gstappsink.h>
#include "gstvss.h"

static gdouble opt_interval = 1.0;
static gchar *opt_provider = NULL;
static gboolean opt_json = FALSE;
static gboolean opt_quiet = FALSE;

static GOptionEntry entries[] = {
  {"interval", 'i', 0, G_OPTION_ARG_DOUBLE, &opt_interval,
      "Seconds between sampled frames (default 1)", "S"},
  {"provider", 0, 0, G_OPTION_ARG_STRING, &opt_provider,
      "Embedding provider (default local)", "NAME"},
  {"json", 'j', 0, G_OPTION_ARG_NONE, &opt_json,
      "Print one JSON object per frame and a JSON summary", NULL},
  {"quiet", 'q', 0, G_OPTION_ARG_NONE, &opt_quiet,
      "Print only the summary", NULL},
  {NULL}
};

static gchar *
to_uri (const gchar * input, GError ** error)
{
  if (gst_uri_is_valid (input))
    return g_strdup (input);
  return gst_filename_to_uri (input, error);
}

int
main (int argc, char **argv)
{
  GOptionContext *ctx = g_option_context_new ("INPUT - embed the frames of a "
      "file, URI or stream");
  GError *error = NULL;
  GstElement *pipeline, *sink;
  gchar *uri, *desc;
  gint rate_n, rate_d;
  GstVssEmbeddingMeta *prev = NULL;
  gfloat *prev_vec = NULL;
  guint64 frames = 0;
  gdouble dist_sum = 0;
  guint n_dist = 0;
  GstBus *bus;
  GstMessage *msg;
  gint ret = 0;
  GstStructure *stats = NULL;
  gdouble mean_us = 0;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2) {
    g_printerr ("vss-ingest: %s\nUsage: vss-ingest [OPTIONS] INPUT "
        "(see --help)\n", error ? error->message : "need one INPUT");
    return 2;
  }
  g_option_context_free (ctx);
  if (opt_interval <= 0) {
    g_printerr ("vss-ingest: --interval must be > 0\n");
    return 2;
  }
  if (opt_provider != NULL && strcmp (opt_provider, "local") != 0) {
    g_printerr ("vss-ingest: provider '%s' is not available yet; use "
        "'local'\n", opt_provider);
    return 2;
  }

  uri = to_uri (argv[1], &error);
  if (uri == NULL) {
    g_printerr ("vss-ingest: %s: %s\n", argv[1], error->message);
    return 2;
  }
  gst_util_double_to_fraction (1.0 / opt_interval, &rate_n, &rate_d);
  desc = g_strdup_printf ("uridecodebin uri=\"%s\" ! videoconvert ! "
      "videorate drop-only=true ! video/x-raw,framerate=%d/%d ! "
      "vssembed name=embed provider=local ! "
      "appsink name=sink sync=false max-buffers=8", uri, rate_n, rate_d);
  pipeline = gst_parse_launch (desc, &error);
  g_free (desc);
  if (pipeline == NULL) {
    g_printerr ("vss-ingest: cannot build the pipeline: %s\n(is the gst-vss "
        "plugin on GST_PLUGIN_PATH? see README)\n", error->message);
    return 1;
  }
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);

  for (;;) {
    GstSample *s = gst_app_sink_pull_sample (GST_APP_SINK (sink));
    GstBuffer *buf;
    GstVssEmbeddingMeta *m;
    gdouble d = NAN;

    if (s == NULL)
      break;
    buf = gst_sample_get_buffer (s);
    m = gst_vss_buffer_get_embedding_meta (buf, NULL);
    if (m == NULL) {
      g_printerr ("vss-ingest: a frame came out without an embedding\n");
      ret = 1;
      gst_sample_unref (s);
      break;
    }
    if (prev_vec != NULL) {
      gdouble dot = 0;
      for (guint i = 0; i < m->dim; i++)
        dot += (gdouble) m->vector[i] * prev_vec[i];
      d = 1.0 - dot;
      dist_sum += d;
      n_dist++;
    }
    if (!opt_quiet) {
      gchar *t = g_strdup_printf ("%" GST_TIME_FORMAT,
          GST_TIME_ARGS (GST_BUFFER_PTS (buf)));
      if (opt_json) {
        g_print ("{\"frame_id\": \"%s\", \"pts\": \"%s\", \"model\": \"%s\", "
            "\"dim\": %u, \"distance_to_previous\": %s%.4f%s, \"head\": "
            "[%.4f, %.4f, %.4f, %.4f]}\n", m->frame_id, t, m->model, m->dim,
            isnan (d) ? "null" : "", isnan (d) ? 0 : d, "", m->vector[0],
            m->vector[1], m->vector[2], m->vector[3]);
      } else {
        g_print ("%s  pts %s  %s[%u]  ", m->frame_id, t, m->model, m->dim);
        if (isnan (d))
          g_print ("first frame\n");
        else
          g_print ("distance to previous %.4f%s\n", d,
              d < 0.2 ? "  (same scene)" : "  (new scene)");
      }
      g_free (t);
    }
    g_free (prev_vec);
    prev_vec = g_memdup2 (m->vector, m->dim * sizeof (gfloat));
    prev = m;
    frames++;
    gst_sample_unref (s);
  }
  (void) prev;

  bus = gst_element_get_bus (pipeline);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  if (msg != NULL) {
    GError *err = NULL;
    gchar *dbg = NULL;
    gst_message_parse_error (msg, &err, &dbg);
    g_printerr ("vss-ingest: %s\n", err->message);
    g_error_free (err);
    g_free (dbg);
    gst_message_unref (msg);
    ret = 1;
  }
  gst_object_unref (bus);
  {
    GstElement *embed = gst_bin_get_by_name (GST_BIN (pipeline), "embed");
    g_object_get (embed, "stats", &stats, NULL);
    gst_structure_get_double (stats, "mean-embed-us", &mean_us);
    gst_structure_free (stats);
    gst_object_unref (embed);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);

  if (opt_json)
    g_print ("{\"summary\": {\"input\": \"%s\", \"frames_sampled\": %"
        G_GUINT64_FORMAT ", \"mean_distance_between_samples\": %.4f, "
        "\"mean_embed_us\": %.1f, \"ok\": %s}}\n", uri, frames,
        n_dist ? dist_sum / n_dist : 0, mean_us, ret == 0 ? "true" : "false");
  else
    g_print ("\n%s: %" G_GUINT64_FORMAT " frames sampled every %.2f s, "
        "embedded with %s (%.0f us per frame on average)\n", argv[1], frames,
        opt_interval, GST_VSS_LOCAL_MODEL, mean_us);
  if (ret == 0 && frames == 0) {
    g_printerr ("vss-ingest: no video frames in %s\n", argv[1]);
    ret = 1;
  }

  g_free (prev_vec);
  g_free (uri);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (opt_provider);
  return ret;
}
