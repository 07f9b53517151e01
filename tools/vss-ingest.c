/* gst-vss: vss-ingest — ingest files, URIs, RTSP streams and cameras
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   vss-ingest INPUT... [OPTIONS]
 *
 * One pipeline per input:
 *
 *   [source bin: uridecodebin | v4l2src ! decodebin]  --(sampling probe)-->
 *   [processing bin: queue ! videoconvert ! vssembed ! vssdedup ! jpegenc
 *                    ! vsssink]
 *
 * The processing bin is built from one description
 * (vss_ingest_describe_processing()); the source bin is made per connection
 * so that a live source that drops (error, EOS, or no data for
 * --stall-timeout) is torn down and rebuilt after a backoff while the
 * processing bin, and what it holds, stays. A pad probe on the source bin's
 * output lets one frame per --interval through (running time), counts
 * decoded frames and tracks the position for the progress bar.
 *
 * Threads: everything runs in the main loop's thread except the probe, which
 * runs in the source's streaming thread and touches only the fields under
 * Job.lock, and the outage check, which asks Valkey from a GTask thread and
 * touches no Job (its result comes back to the main thread). Lock order:
 * Job.lock is a leaf (nothing is called with it held).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <glib-unix.h>
#include <gst/gst.h>
#include "gstvss.h"
#include "vss-ingest-util.h"
#include "vss-locale.h"
#include "vss-tool.h"

typedef enum
{
  JOB_RUNNING,
  JOB_WAITING,                  /* live source dropped, backoff timer set */
  JOB_STOPPING,                 /* EOS sent, waiting for the sink to finish */
  JOB_DONE,
} JobState;

typedef struct _Job Job;

/* An outage as vss-ingest tells it: vsssink's spool fills (Valkey or the
 * object store away), then empties once the service is back. */
typedef enum
{
  OUTAGE_NONE,
  OUTAGE_ASKING,                /* spooling began; finding which service */
  OUTAGE_ON,                    /* said so; waiting for the spool to empty */
} OutageState;

typedef struct
{
  Job *job;
  guint gen;
  gboolean seen;                /* under Job.lock */
} ProbeData;

struct _Job
{
  guint index;
  gchar *arg;
  VssIngestInput in;
  gchar *stream_id;
  VssIngestSource file;         /* files: what names their frames */

  GstElement *pipeline, *proc, *source;
  GstPad *proc_sink;
  GstElement *dedup, *sink;
  guint bus_watch;
  guint retry_timer, stop_timer;
  guint gen;                    /* source generation; stale ones are ignored */
  JobState state;
  VssIngestStatus status, stop_status;
  gchar *error, *error_detail;
  guint attempt;
  gint stopping;                /* atomic: the probe lets EOS through */
  gint64 t_start, t_end, source_started_us, last_frame_seen_us;
  gboolean ever_frame;
  guint64 reconnects, errors;
  gdouble duration_s;
  /* Stats polled from the elements (main thread). */
  guint64 dropped, kept_dedup, stored, spooled, replayed, retried, failed;
  guint spool_pending;          /* spooled frames not written yet */
  gboolean have_dedup_stats;
  OutageState outage;
  guint64 spooled_seen, replayed_before_outage;
  gchar *outage_service;
  GCancellable *outage_cancel;

  guint64 decode_warnings;      /* warnings from the source part */

  GMutex lock;                  /* guards the fields below (probe) */
  GstSegment segment;
  GstClockTime next_rt;
  gint64 last_buffer_us;
  gdouble position_s;           /* end of the last frame, stream time */
  GstClockTime last_pts, last_dur;      /* of the last frame, for gaps */
  guint64 gaps;                 /* where frames are missing */
  gdouble missing_s;
  guint64 decoded, sampled, kept;
  guint64 connections;          /* sources that delivered a frame */
};

/* Options */
static VssIngestOptions opts;
static gchar **opt_inputs = NULL;
static gchar **opt_stream_ids = NULL;
static gchar *opt_frames = NULL, *opt_provider = NULL, *opt_valkey = NULL,
    *opt_transport = NULL;
static gboolean opt_json = FALSE, opt_quiet = FALSE, opt_progress = FALSE,
    opt_no_progress = FALSE, opt_print = FALSE, opt_live = FALSE,
    opt_wait = FALSE;
static gdouble opt_duration = 0, opt_reconnect_delay = 1.0,
    opt_reconnect_max = 30.0, opt_reconnect_timeout = 0,
    opt_stall_timeout = 10.0, opt_stop_timeout = 60.0;

/* State */
static GMainLoop *loop;
static GPtrArray *jobs;
static guint n_active;
static gboolean show_progress;
static gboolean progress_drawn;
static gint64 t0_us;
static guint n_signals;
static GRand *rand_gen;
static gchar **secrets;         /* never printed: passwords, AWS secrets */

#define APP_MSG_SOURCE_EOS "vss-ingest-source-eos"

static void job_schedule_reconnect (Job * j, const gchar * why);
static void job_shutdown (Job * j);

/* ------------------------------------------------------------------------ */
/* Output */

static void
clear_progress (void)
{
  if (progress_drawn) {
    fputs ("\r\033[K", stderr);
    progress_drawn = FALSE;
  }
}

static void
G_GNUC_PRINTF (1, 2)
say (const gchar * fmt, ...)
{
  va_list ap;
  gchar *s;

  if (opt_quiet)
    return;
  va_start (ap, fmt);
  s = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  clear_progress ();
  g_printerr ("vss-ingest: %s\n", s);
  g_free (s);
}

/* ------------------------------------------------------------------------ */
/* Sampling probe (streaming thread) */

static gboolean
sample_decide (Job * j, GstClockTime rt)
{
  GstClockTime iv = (GstClockTime) (opts.interval * GST_SECOND);

  if (!GST_CLOCK_TIME_IS_VALID (rt))
    return TRUE;
  /* Keep the cadence on a grid (no drift), re-anchor after a gap or when
   * time goes back (a new segment). */
  if (!GST_CLOCK_TIME_IS_VALID (j->next_rt) || rt >= j->next_rt + iv
      || rt + 2 * iv < j->next_rt) {
    j->next_rt = rt + iv;
    return TRUE;
  }
  if (rt >= j->next_rt) {
    j->next_rt += iv;
    return TRUE;
  }
  return FALSE;
}

/* Frames missing between two decoded ones: the next frame starts more
 * than half a frame after the last one ended (a demuxer that skipped what
 * it could not parse, a decoder that dropped frames). Under Job.lock. */
static void
track_gap (Job * j, GstClockTime pts, GstClockTime dur)
{
  if (GST_CLOCK_TIME_IS_VALID (j->last_pts)
      && GST_CLOCK_TIME_IS_VALID (j->last_dur) && j->last_dur > 0
      && pts > j->last_pts + j->last_dur + j->last_dur / 2) {
    j->gaps++;
    j->missing_s += (gdouble) (pts - j->last_pts - j->last_dur) / GST_SECOND;
  }
  j->last_pts = pts;
  j->last_dur = dur;
}

static GstPadProbeReturn
sample_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  ProbeData *pd = user_data;
  Job *j = pd->job;

  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
    GstClockTime pts = GST_BUFFER_PTS (buf), rt = GST_CLOCK_TIME_NONE;
    gboolean pass;

    g_mutex_lock (&j->lock);
    if (!pd->seen) {
      pd->seen = TRUE;
      j->connections++;
    }
    j->decoded++;
    j->last_buffer_us = g_get_monotonic_time ();
    if (GST_CLOCK_TIME_IS_VALID (pts) && j->segment.format == GST_FORMAT_TIME) {
      GstClockTime dur = GST_BUFFER_DURATION (buf);
      guint64 st = gst_segment_to_stream_time (&j->segment, GST_FORMAT_TIME,
          GST_CLOCK_TIME_IS_VALID (dur) ? pts + dur : pts);

      rt = gst_segment_to_running_time (&j->segment, GST_FORMAT_TIME, pts);
      if (GST_CLOCK_TIME_IS_VALID (st))
        j->position_s = (gdouble) st / GST_SECOND;
      track_gap (j, pts, dur);
    }
    pass = sample_decide (j, rt);
    if (pass)
      j->sampled++;
    g_mutex_unlock (&j->lock);
    return pass ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP;
  }

  if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);

    if (GST_EVENT_TYPE (ev) == GST_EVENT_SEGMENT) {
      const GstSegment *seg;
      gst_event_parse_segment (ev, &seg);
      g_mutex_lock (&j->lock);
      gst_segment_copy_into (seg, &j->segment);
      /* A new segment (a reconnection, a seek) is no gap. */
      j->last_pts = GST_CLOCK_TIME_NONE;
      g_mutex_unlock (&j->lock);
    } else if (GST_EVENT_TYPE (ev) == GST_EVENT_EOS && j->in.live
        && !g_atomic_int_get (&j->stopping)) {
      /* A live source ended: keep the processing part running and let the
       * main thread reconnect. */
      gst_element_post_message (j->pipeline,
          gst_message_new_application (NULL,
              gst_structure_new (APP_MSG_SOURCE_EOS, "generation",
                  G_TYPE_UINT, pd->gen, NULL)));
      return GST_PAD_PROBE_DROP;
    }
  }
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
kept_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Job *j = user_data;

  g_mutex_lock (&j->lock);
  j->kept++;
  g_mutex_unlock (&j->lock);
  return GST_PAD_PROBE_OK;
}

/* ------------------------------------------------------------------------ */
/* Source bin */

static void
on_pad_added (GstElement * dec, GstPad * pad, gpointer user_data)
{
  GstElement *bin = GST_ELEMENT (gst_object_get_parent (GST_OBJECT (dec)));
  GstPad *ghost, *target;
  GstCaps *caps;
  gboolean video = FALSE;

  if (bin == NULL)
    return;
  caps = gst_pad_get_current_caps (pad);
  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  if (caps != NULL && gst_caps_get_size (caps) > 0)
    video = g_str_has_prefix (gst_structure_get_name (gst_caps_get_structure
            (caps, 0)), "video/x-raw");
  gst_clear_caps (&caps);

  ghost = gst_element_get_static_pad (bin, "src");
  target = gst_ghost_pad_get_target (GST_GHOST_PAD (ghost));
  if (video && target == NULL) {
    gst_ghost_pad_set_target (GST_GHOST_PAD (ghost), pad);
  } else {
    /* A second video stream or anything else: consume it quietly. */
    GstElement *fs = gst_element_factory_make ("fakesink", NULL);
    GstPad *fsp;

    g_object_set (fs, "sync", FALSE, "async", FALSE, NULL);
    gst_bin_add (GST_BIN (bin), fs);
    fsp = gst_element_get_static_pad (fs, "sink");
    gst_pad_link (pad, fsp);
    gst_object_unref (fsp);
    gst_element_sync_state_with_parent (fs);
  }
  gst_clear_object (&target);
  gst_object_unref (ghost);
  gst_object_unref (bin);
}

static void
on_source_setup (GstElement * uridecodebin, GstElement * source,
    gpointer user_data)
{
  GObjectClass *k = G_OBJECT_GET_CLASS (source);

  if (g_object_class_find_property (k, "protocols") != NULL
      && g_strcmp0 (opts.rtsp_transport, "auto") != 0
      && g_str_has_prefix (G_OBJECT_TYPE_NAME (source), "GstRTSPSrc"))
    gst_util_set_object_arg (G_OBJECT (source), "protocols",
        opts.rtsp_transport);
}

static GstElement *
job_make_source (Job * j, GError ** error)
{
  gchar *name = g_strdup_printf ("source-%u", j->gen);
  GstElement *bin = gst_bin_new (name);
  GstElement *dec;
  GstPad *ghost;
  ProbeData *pd;

  g_free (name);
  /* Its preroll is its own business: adding it to a playing pipeline must
   * not make the pipeline lose its state. */
  g_object_set (bin, "async-handling", TRUE, NULL);

  if (j->in.kind == VSS_INGEST_INPUT_V4L2) {
    GstElement *src = gst_element_factory_make ("v4l2src", NULL);
    dec = gst_element_factory_make ("decodebin", NULL);
    if (src == NULL || dec == NULL) {
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
          "v4l2src or decodebin is missing (install "
          "gstreamer1.0-plugins-good and gstreamer1.0-plugins-base)");
      gst_clear_object (&src);
      gst_clear_object (&dec);
      gst_object_unref (bin);
      return NULL;
    }
    g_object_set (src, "device", j->in.device, NULL);
    gst_bin_add_many (GST_BIN (bin), src, dec, NULL);
    gst_element_link (src, dec);
  } else {
    /* Decode video only; other streams are not exposed. ("video/x-raw"
     * without (ANY) makes decodebin 1.22 refuse H.264 when combined with
     * expose-all-streams=false.) */
    GstCaps *caps = gst_caps_from_string ("video/x-raw(ANY)");
    dec = gst_element_factory_make ("uridecodebin", NULL);
    if (dec == NULL) {
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
          "uridecodebin is missing (install gstreamer1.0-plugins-base)");
      gst_caps_unref (caps);
      gst_object_unref (bin);
      return NULL;
    }
    g_object_set (dec, "uri", j->in.uri, "caps", caps,
        "expose-all-streams", FALSE, NULL);
    gst_caps_unref (caps);
    g_signal_connect (dec, "source-setup", G_CALLBACK (on_source_setup), j);
    gst_bin_add (GST_BIN (bin), dec);
  }
  g_signal_connect (dec, "pad-added", G_CALLBACK (on_pad_added), j);

  ghost = gst_ghost_pad_new_no_target ("src", GST_PAD_SRC);
  pd = g_new0 (ProbeData, 1);
  pd->job = j;
  pd->gen = j->gen;
  gst_pad_add_probe (ghost, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, sample_probe, pd, g_free);
  gst_element_add_pad (bin, ghost);
  return bin;
}

static gboolean
job_add_source (Job * j, GError ** error)
{
  GstElement *src = job_make_source (j, error);
  GstPad *ghost;
  GstPadLinkReturn lr;

  if (src == NULL)
    return FALSE;
  g_mutex_lock (&j->lock);
  gst_segment_init (&j->segment, GST_FORMAT_UNDEFINED);
  g_mutex_unlock (&j->lock);
  gst_bin_add (GST_BIN (j->pipeline), src);
  ghost = gst_element_get_static_pad (src, "src");
  lr = gst_pad_link (ghost, j->proc_sink);
  gst_object_unref (ghost);
  if (lr != GST_PAD_LINK_OK) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
        "cannot link the source to the pipeline (%s)",
        gst_pad_link_get_name (lr));
    gst_bin_remove (GST_BIN (j->pipeline), src);
    return FALSE;
  }
  j->source = src;
  j->source_started_us = g_get_monotonic_time ();
  return TRUE;
}

static void
job_remove_source (Job * j)
{
  GstElement *src = j->source;

  if (src == NULL)
    return;
  j->source = NULL;
  j->gen++;
  /* From the main thread: the source's streaming thread may be waiting for
   * room in the queue, which the processing thread keeps draining. */
  gst_element_set_locked_state (src, TRUE);
  gst_element_set_state (src, GST_STATE_NULL);
  gst_bin_remove (GST_BIN (j->pipeline), src);
#ifdef __GLIBC__
  /* The connection's threads (demuxer, jitterbuffer, decoder pool) each had
   * a malloc arena; glibc keeps what they freed. A camera that reconnects
   * every few minutes for weeks would grow the process by megabytes per
   * reconnect: give it back. */
  malloc_trim (0);
#endif
}

/* ------------------------------------------------------------------------ */
/* Job life */

static void
job_poll_stats (Job * j)
{
  GstStructure *s = NULL;

  if (j->dedup != NULL) {
    g_object_get (j->dedup, "stats", &s, NULL);
    if (s != NULL) {
      gst_structure_get_uint64 (s, "dropped", &j->dropped);
      gst_structure_get_uint64 (s, "kept", &j->kept_dedup);
      j->have_dedup_stats = TRUE;
      gst_structure_free (s);
      s = NULL;
    }
  }
  if (j->sink != NULL && !opts.dry_run) {
    g_object_get (j->sink, "stats", &s, NULL);
    if (s != NULL) {
      gst_structure_get_uint64 (s, "written", &j->stored);
      gst_structure_get_uint64 (s, "spooled", &j->spooled);
      gst_structure_get_uint64 (s, "replayed", &j->replayed);
      gst_structure_get_uint64 (s, "retried", &j->retried);
      gst_structure_get_uint64 (s, "failed", &j->failed);
      gst_structure_get_uint (s, "spool-pending", &j->spool_pending);
      gst_structure_free (s);
    }
  }
}

/* Outages: one line when the spool starts filling, one when it is empty
 * again, so that logs (no terminal, no progress line) show them. */

/* GTask thread: whether Valkey answers PING now. */
static void
ask_valkey (GTask * task, gpointer source, gpointer task_data,
    GCancellable * cancel)
{
  const gchar *argv[] = { "PING" };
  gsize argvlen[] = { 4 };
  VssValkeyClient *c = vss_valkey_client_new_from_url (task_data, NULL);
  VssValkeyReply *r = c ? vss_valkey_command (c, cancel, NULL, 1, argv,
      argvlen) : NULL;

  g_task_return_boolean (task, r != NULL);
  if (r)
    freeReplyObject (r);
  if (c)
    vss_valkey_client_free (c);
}

/* The service a spool that fills is waiting for: Valkey when it does not
 * answer, else the object store (vsssink spools for either). Called from
 * the main loop, which stops before jobs are freed; job_free() cancels the
 * question so that its thread ends soon. */
static void
on_valkey_answered (GObject * source, GAsyncResult * res, gpointer user_data)
{
  Job *j = user_data;
  gboolean valkey_up = g_task_propagate_boolean (G_TASK (res), NULL);

  gchar *masked, *valkey, *store;

  masked = vss_valkey_url_mask (opts.valkey);
  valkey = g_strdup_printf ("Valkey at %s", masked);
  g_free (masked);
  store = g_str_has_prefix (opts.frames, "file://") ?
      g_strdup_printf ("the frames folder %s", opts.frames + 7) :
      g_strdup_printf ("the object store %s", opts.frames);
  g_free (j->outage_service);
  if (!valkey_up)
    j->outage_service = g_steal_pointer (&valkey);
  else if (j->spool_pending > 0)
    j->outage_service = g_steal_pointer (&store);
  else                          /* over before we asked: either */
    j->outage_service = g_strdup_printf ("%s or %s", valkey, store);
  g_free (valkey);
  g_free (store);
  j->outage = OUTAGE_ON;
  say ("%s: %s is unreachable: frames wait in the spool until it is back "
      "(%u waiting)", j->arg, j->outage_service, j->spool_pending);
}

static void
job_watch_outage_end (Job * j)
{
  if (j->outage != OUTAGE_ON || j->spool_pending > 0)
    return;
  say ("%s: %s is back: the spool has caught up (%" G_GUINT64_FORMAT
      " frames written from it, none waiting)", j->arg, j->outage_service,
      j->replayed - j->replayed_before_outage);
  j->outage = OUTAGE_NONE;
}

/* After each poll of the sink's stats (main thread). */
static void
job_watch_outage (Job * j)
{
  if (opts.dry_run || j->sink == NULL)
    return;
  switch (j->outage) {
    case OUTAGE_NONE:
      /* This run spooled frames: an outage began (frames left in the spool
       * by an earlier run are replayed without one). */
      if (j->spooled > j->spooled_seen) {
        GTask *t = g_task_new (NULL, j->outage_cancel, on_valkey_answered, j);

        j->outage = OUTAGE_ASKING;
        j->replayed_before_outage = j->replayed;
        g_task_set_task_data (t, g_strdup (opts.valkey), g_free);
        g_task_run_in_thread (t, ask_valkey);
        g_object_unref (t);
      }
      break;
    case OUTAGE_ASKING:
      break;
    case OUTAGE_ON:
      job_watch_outage_end (j);
      break;
  }
  j->spooled_seen = j->spooled;
}

/* Files: the media duration, once the source knows it (main thread, while
 * the source is linked). */
static void
job_query_duration (Job * j)
{
  gint64 d = -1;

  if (j->duration_s > 0 || j->in.live || j->proc_sink == NULL
      || j->source == NULL)
    return;
  if (gst_pad_peer_query_duration (j->proc_sink, GST_FORMAT_TIME, &d)
      && d > 0) {
    g_mutex_lock (&j->lock);
    j->duration_s = (gdouble) d / GST_SECOND;
    g_mutex_unlock (&j->lock);
  }
}

/* A file that ended by itself: was it decoded to its end, and whole? */
static void
job_check_file (Job * j)
{
  gdouble reached, missing;
  guint64 gaps;
  gchar *why;

  j->status = VSS_INGEST_STATUS_OK;
  if (j->in.live)
    return;
  g_mutex_lock (&j->lock);
  reached = j->position_s;
  gaps = j->gaps;
  missing = j->missing_s;
  g_mutex_unlock (&j->lock);
  j->status = vss_ingest_file_status (reached, j->duration_s, gaps,
      j->decode_warnings);
  why = vss_ingest_describe_damage (j->status, reached, j->duration_s, gaps,
      missing, j->decode_warnings);
  if (why != NULL) {
    say ("%s: %s", j->arg, why);
    if (j->error == NULL)
      j->error = g_steal_pointer (&why);
    g_free (why);
  }
}

static void
job_shutdown (Job * j)
{
  if (j->state == JOB_DONE)
    return;
  if (j->retry_timer) {
    g_source_remove (j->retry_timer);
    j->retry_timer = 0;
  }
  if (j->stop_timer) {
    g_source_remove (j->stop_timer);
    j->stop_timer = 0;
  }
  g_atomic_int_set (&j->stopping, 1);
  job_remove_source (j);
  job_poll_stats (j);
  /* An outage that ended while the sink drained (not later: a stopped
   * sink may not count its spool). */
  job_watch_outage_end (j);
  gst_element_set_state (j->pipeline, GST_STATE_NULL);
  /* The sink flushes what it holds on the way to NULL: read again. */
  job_poll_stats (j);
  j->state = JOB_DONE;
  j->t_end = g_get_monotonic_time ();
  if (--n_active == 0)
    g_main_loop_quit (loop);
}

/* What an element said besides its short message (see
 * vss_ingest_error_detail()), printable; NULL when nothing. */
static gchar *
message_detail (const gchar * debug)
{
  gchar *d = vss_ingest_error_detail (debug, (const gchar * const *) secrets);
  gchar *p;

  if (d == NULL)
    return NULL;
  p = vss_tool_printable (d, 2000);
  g_free (d);
  return p;
}

/* Prints @detail under a message, each line indented. */
static void
print_detail (const gchar * detail)
{
  gchar **lines;

  if (detail == NULL)
    return;
  lines = g_strsplit (detail, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    g_printerr ("  %s\n", lines[i]);
  g_strfreev (lines);
}

/* @detail: (nullable): what the element said besides @msg */
static void
job_fail_with_detail (Job * j, VssIngestStatus status, const gchar * msg,
    const gchar * detail)
{
  if (j->state == JOB_DONE)
    return;
  j->status = status;
  if (j->error == NULL) {
    j->error = g_strdup (msg);
    j->error_detail = g_strdup (detail);
  }
  /* Errors are printed even with --quiet. */
  clear_progress ();
  g_printerr ("vss-ingest: %s: %s\n", j->arg, msg);
  print_detail (detail);
  job_shutdown (j);
}

static void
job_fail (Job * j, VssIngestStatus status, const gchar * msg)
{
  job_fail_with_detail (j, status, msg, NULL);
}

static gboolean
on_stop_timeout (gpointer user_data)
{
  Job *j = user_data;

  j->stop_timer = 0;
  j->status = j->stop_status;
  job_fail (j, VSS_INGEST_STATUS_FAILED, "the pipeline did not finish within "
      "--stop-timeout after the end of the input; frames still in flight "
      "may not be stored");
  return G_SOURCE_REMOVE;
}

/* Ends the input the clean way: drop the source, send EOS through the
 * processing part so that the sink stores (or spools) what it holds. */
static void
job_request_stop (Job * j, VssIngestStatus status)
{
  GstEvent *ss;

  if (j->state == JOB_DONE || j->state == JOB_STOPPING)
    return;
  j->stop_status = status;
  g_atomic_int_set (&j->stopping, 1);
  if (j->retry_timer) {
    g_source_remove (j->retry_timer);
    j->retry_timer = 0;
  }
  job_remove_source (j);
  j->state = JOB_STOPPING;
  ss = gst_pad_get_sticky_event (j->proc_sink, GST_EVENT_STREAM_START, 0);
  if (ss == NULL) {
    /* Nothing ever flowed: nothing to drain. */
    j->status = status;
    job_shutdown (j);
    return;
  }
  gst_event_unref (ss);
  gst_pad_send_event (j->proc_sink, gst_event_new_eos ());
  j->stop_timer = g_timeout_add ((guint) (opt_stop_timeout * 1000),
      on_stop_timeout, j);
}

static gboolean
on_retry (gpointer user_data)
{
  Job *j = user_data;
  GError *err = NULL;

  j->retry_timer = 0;
  if (!job_add_source (j, &err)) {
    job_fail (j, VSS_INGEST_STATUS_FAILED, err->message);
    g_error_free (err);
    return G_SOURCE_REMOVE;
  }
  j->state = JOB_RUNNING;
  if (gst_element_sync_state_with_parent (j->source) == FALSE)
    job_schedule_reconnect (j, "the source did not start");
  return G_SOURCE_REMOVE;
}

static void
job_schedule_reconnect (Job * j, const gchar * why)
{
  gint64 now = g_get_monotonic_time ();
  gint64 since;
  GstVssBackoff backoff = { 0, 0, GST_VSS_BACKOFF_JITTER_EQUAL };
  guint delay;

  if (j->state != JOB_RUNNING)
    return;
  job_remove_source (j);
  since = now - MAX (j->last_frame_seen_us, j->t_start);
  if (opt_reconnect_timeout > 0 && since > opt_reconnect_timeout * 1e6) {
    gchar *m = g_strdup_printf ("%s; no frame for %.0f s, giving up "
        "(--reconnect-timeout)", why, since / 1e6);
    job_fail (j, VSS_INGEST_STATUS_FAILED, m);
    g_free (m);
    return;
  }
  /* Equal jitter: half the delay fixed, half random, so that many
   * ingesters of one camera do not retry in step. */
  backoff.base_ms = (guint) (opt_reconnect_delay * 1000);
  backoff.cap_ms = (guint) (opt_reconnect_max * 1000);
  delay = gst_vss_backoff_ms (&backoff, j->attempt++, rand_gen);
  j->reconnects++;
  say ("%s: %s; reconnecting in %.1f s", j->arg, why, delay / 1000.0);
  j->state = JOB_WAITING;
  j->retry_timer = g_timeout_add (MAX (delay, 1), on_retry, j);
}

/* Which part of the pipeline a message comes from: the current source,
 * an old one (ignored), or the processing part. */
typedef enum
{
  FROM_SOURCE,
  FROM_STALE,
  FROM_OTHER
} Origin;

static Origin
message_origin (Job * j, GstMessage * msg)
{
  GstObject *o = GST_MESSAGE_SRC (msg);
  Origin r = FROM_OTHER;

  if (o == NULL)
    return FROM_OTHER;
  gst_object_ref (o);
  for (;;) {
    GstObject *parent = gst_object_get_parent (o);
    if (parent == NULL) {
      /* Not (or no longer) in the pipeline. */
      r = (o == GST_OBJECT (j->pipeline)) ? FROM_OTHER : FROM_STALE;
      break;
    }
    if (parent == GST_OBJECT (j->pipeline)) {
      if (j->source != NULL && o == GST_OBJECT (j->source))
        r = FROM_SOURCE;
      else if (g_str_has_prefix (GST_OBJECT_NAME (o), "source-"))
        r = FROM_STALE;
      gst_object_unref (parent);
      break;
    }
    gst_object_unref (o);
    o = parent;
  }
  gst_object_unref (o);
  return r;
}

static gboolean
job_got_frame (Job * j)
{
  gboolean got;

  g_mutex_lock (&j->lock);
  got = j->last_buffer_us >= j->source_started_us && j->last_buffer_us > 0;
  if (j->last_buffer_us > 0) {
    j->ever_frame = TRUE;
    j->last_frame_seen_us = j->last_buffer_us;
  }
  g_mutex_unlock (&j->lock);
  return got;
}

static gboolean
on_bus (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  Job *j = user_data;

  if (j->state == JOB_DONE)
    return G_SOURCE_CONTINUE;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:{
      GError *err = NULL;
      gchar *dbg = NULL, *m, *detail;
      Origin origin = message_origin (j, msg);

      gst_message_parse_error (msg, &err, &dbg);
      GST_DEBUG ("error from %s: %s (%s)", GST_MESSAGE_SRC_NAME (msg),
          err->message, dbg ? dbg : "");
      detail = message_detail (dbg);
      job_got_frame (j);
      if (origin == FROM_STALE || (origin == FROM_SOURCE
              && j->state == JOB_STOPPING)) {
        /* An old connection's last words. */
      } else if (origin == FROM_SOURCE && j->in.live && (j->ever_frame
              || opt_wait)) {
        j->errors++;
        m = g_strdup_printf ("stream error: %s", err->message);
        job_schedule_reconnect (j, m);
        g_free (m);
      } else if (origin == FROM_SOURCE && j->ever_frame && !j->in.live) {
        /* A file that decoded for a while, then broke (a demuxer that
         * cannot parse what follows): damaged, like one that ends early. */
        gdouble reached;

        j->errors++;
        job_query_duration (j);
        g_mutex_lock (&j->lock);
        reached = j->position_s;
        g_mutex_unlock (&j->lock);
        if (j->duration_s > 0)
          m = g_strdup_printf ("cannot read the input past %.1f s of %.1f s: "
              "%s", reached, j->duration_s, err->message);
        else
          m = g_strdup_printf ("cannot read the input past %.1f s: %s",
              reached, err->message);
        job_fail_with_detail (j, VSS_INGEST_STATUS_INCOMPLETE, m, detail);
        g_free (m);
      } else if (origin == FROM_SOURCE) {
        j->errors++;
        m = g_strdup_printf ("cannot read the input: %s%s", err->message,
            j->in.live ? " (--wait keeps retrying the first connection)" : "");
        job_fail_with_detail (j, j->ever_frame ? VSS_INGEST_STATUS_FAILED :
            VSS_INGEST_STATUS_INPUT_ERROR, m, detail);
        g_free (m);
      } else {
        j->errors++;
        m = g_strdup_printf ("%s (from %s)", err->message,
            GST_MESSAGE_SRC_NAME (msg));
        job_fail_with_detail (j, VSS_INGEST_STATUS_FAILED, m, detail);
        g_free (m);
      }
      g_error_free (err);
      g_free (dbg);
      g_free (detail);
      break;
    }
    case GST_MESSAGE_WARNING:{
      GError *err = NULL;
      gchar *dbg = NULL, *detail;
      Origin origin = message_origin (j, msg);

      if (origin != FROM_STALE) {
        gst_message_parse_warning (msg, &err, &dbg);
        /* The decoder, the demuxer or the source said something was wrong
         * with the input. */
        if (origin == FROM_SOURCE)
          j->decode_warnings++;
        detail = message_detail (dbg);
        say ("%s: warning from %s: %s%s%s", j->arg, GST_MESSAGE_SRC_NAME (msg),
            err->message, detail ? "\n  " : "", detail ? detail : "");
        g_error_free (err);
        g_free (dbg);
        g_free (detail);
      }
      break;
    }
    case GST_MESSAGE_EOS:
      /* A file shorter than a tick ends before the duration was asked. */
      job_query_duration (j);
      if (j->state == JOB_STOPPING)
        j->status = j->stop_status;
      else
        job_check_file (j);
      job_shutdown (j);
      break;
    case GST_MESSAGE_APPLICATION:{
      const GstStructure *s = gst_message_get_structure (msg);
      guint gen = 0;

      if (gst_structure_has_name (s, APP_MSG_SOURCE_EOS)
          && gst_structure_get_uint (s, "generation", &gen) && gen == j->gen
          && j->state == JOB_RUNNING) {
        job_got_frame (j);
        job_schedule_reconnect (j, "the stream ended");
      }
      break;
    }
    case GST_MESSAGE_LATENCY:
      gst_bin_recalculate_latency (GST_BIN (j->pipeline));
      break;
    case GST_MESSAGE_CLOCK_LOST:
      gst_element_set_state (j->pipeline, GST_STATE_PAUSED);
      gst_element_set_state (j->pipeline, GST_STATE_PLAYING);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
job_build (Job * j, GError ** error)
{
  gchar *desc = vss_ingest_describe_processing (&opts, j->stream_id,
      &j->file, FALSE);
  GstElement *kept_el;
  GstPad *pad;
  GstBus *bus;
  gchar *name;

  j->proc = gst_parse_bin_from_description_full (desc, TRUE, NULL,
      GST_PARSE_FLAG_FATAL_ERRORS, error);
  g_free (desc);
  if (j->proc == NULL)
    return FALSE;
  name = g_strdup_printf ("ingest-%u", j->index);
  j->pipeline = gst_pipeline_new (name);
  g_free (name);
  gst_object_ref_sink (j->pipeline);
  gst_bin_add (GST_BIN (j->pipeline), j->proc);
  j->proc_sink = gst_element_get_static_pad (j->proc, "sink");
  j->dedup = gst_bin_get_by_name (GST_BIN (j->proc), "dedup");
  j->sink = gst_bin_get_by_name (GST_BIN (j->proc), "sink");
  /* Frames that reach the sink: what dedup kept. */
  kept_el = j->sink;
  pad = gst_element_get_static_pad (kept_el, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, kept_probe, j, NULL);
  gst_object_unref (pad);
  bus = gst_pipeline_get_bus (GST_PIPELINE (j->pipeline));
  j->bus_watch = gst_bus_add_watch (bus, on_bus, j);
  gst_object_unref (bus);
  g_mutex_lock (&j->lock);
  gst_segment_init (&j->segment, GST_FORMAT_UNDEFINED);
  j->next_rt = GST_CLOCK_TIME_NONE;
  j->last_pts = j->last_dur = GST_CLOCK_TIME_NONE;
  g_mutex_unlock (&j->lock);
  j->duration_s = -1;
  return TRUE;
}

static void
job_start (Job * j)
{
  GError *err = NULL;

  j->t_start = g_get_monotonic_time ();
  j->state = JOB_RUNNING;
  n_active++;
  if (!job_add_source (j, &err)) {
    job_fail (j, VSS_INGEST_STATUS_FAILED, err->message);
    g_error_free (err);
    return;
  }
  /* A failure here also posts an error message, handled in on_bus. */
  gst_element_set_state (j->pipeline, GST_STATE_PLAYING);
}

static void
job_free (Job * j)
{
  if (j->pipeline) {
    gst_element_set_state (j->pipeline, GST_STATE_NULL);
    if (j->bus_watch)
      g_source_remove (j->bus_watch);
  }
  gst_clear_object (&j->proc_sink);
  gst_clear_object (&j->dedup);
  gst_clear_object (&j->sink);
  gst_clear_object (&j->pipeline);
  vss_ingest_input_clear (&j->in);
  vss_ingest_source_clear (&j->file);
  g_free (j->arg);
  g_free (j->stream_id);
  g_free (j->error);
  g_free (j->error_detail);
  g_cancellable_cancel (j->outage_cancel);
  g_clear_object (&j->outage_cancel);
  g_free (j->outage_service);
  g_mutex_clear (&j->lock);
  g_free (j);
}

/* ------------------------------------------------------------------------ */
/* Ticks: watchdog, stats, progress */

static void
draw_progress (void)
{
  VssIngestProgress p = { 0 };
  gchar *line;
  gboolean any_file = FALSE;
  gdouble dur = 0;

  p.elapsed_s = (g_get_monotonic_time () - t0_us) / 1e6;
  p.dry_run = opts.dry_run;
  for (guint i = 0; i < jobs->len; i++) {
    Job *j = g_ptr_array_index (jobs, i);

    p.live |= j->in.live;
    g_mutex_lock (&j->lock);
    p.sampled += j->sampled;
    if (!j->in.live) {
      any_file = TRUE;
      /* A file done to its end shows 100 %; one cut short, where it
       * stopped. */
      p.position_s += j->state == JOB_DONE && j->duration_s > 0
          && j->status == VSS_INGEST_STATUS_OK ? j->duration_s : j->position_s;
      if (j->duration_s > 0 && dur >= 0)
        dur += j->duration_s;
      else
        dur = -1;
    }
    g_mutex_unlock (&j->lock);
    p.dropped += j->dropped;
    p.stored += j->stored;
    p.spooled += j->spooled;
    p.failed += j->failed;
    p.reconnects += j->reconnects;
    p.reconnecting |= j->state == JOB_WAITING;
  }
  /* Mixed files and live streams: show the live view. */
  p.duration_s = any_file ? dur : -1;
  line = vss_ingest_format_progress (&p);
  fprintf (stderr, "\r\033[K%s", line);
  fflush (stderr);
  progress_drawn = TRUE;
  g_free (line);
}

static gboolean
on_tick (gpointer user_data)
{
  gint64 now = g_get_monotonic_time ();

  for (guint i = 0; i < jobs->len; i++) {
    Job *j = g_ptr_array_index (jobs, i);

    if (j->state == JOB_DONE)
      continue;
    if (job_got_frame (j))
      j->attempt = 0;
    job_query_duration (j);
    if (j->state == JOB_RUNNING && j->in.live && opt_stall_timeout > 0) {
      gint64 last;
      g_mutex_lock (&j->lock);
      last = MAX (j->last_buffer_us, j->source_started_us);
      g_mutex_unlock (&j->lock);
      if (now - last > opt_stall_timeout * 1e6) {
        gchar *m = g_strdup_printf ("no frame for %.0f s", (now - last) / 1e6);
        j->errors++;
        job_schedule_reconnect (j, m);
        g_free (m);
      }
    }
    if (j->state != JOB_DONE) {
      job_poll_stats (j);
      job_watch_outage (j);
    }
  }
  if (show_progress && n_active > 0)
    draw_progress ();
  return G_SOURCE_CONTINUE;
}

static gboolean
on_duration_elapsed (gpointer user_data)
{
  for (guint i = 0; i < jobs->len; i++)
    job_request_stop (g_ptr_array_index (jobs, i), VSS_INGEST_STATUS_STOPPED);
  return G_SOURCE_REMOVE;
}

static gboolean
on_signal (gpointer user_data)
{
  n_signals++;
  if (n_signals == 1) {
    say ("stopping: storing what is in flight (press Ctrl-C again to quit "
        "at once)");
    for (guint i = 0; i < jobs->len; i++)
      job_request_stop (g_ptr_array_index (jobs, i),
          VSS_INGEST_STATUS_INTERRUPTED);
  } else {
    for (guint i = 0; i < jobs->len; i++) {
      Job *j = g_ptr_array_index (jobs, i);
      if (j->state != JOB_DONE) {
        j->status = VSS_INGEST_STATUS_INTERRUPTED;
        job_shutdown (j);
      }
    }
  }
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------------ */
/* Valkey check */

static VssIngestExit
check_valkey (void)
{
  GError *err = NULL;
  VssValkeyClient *c = vss_valkey_client_new_from_url (opts.valkey, &err);
  gchar *masked = vss_valkey_url_mask (opts.valkey);
  VssIngestExit ret = VSS_INGEST_EXIT_OK;
  gboolean has_search = FALSE;

  if (c == NULL) {
    g_printerr ("vss-ingest: --valkey %s: %s\n", masked, err->message);
    ret = VSS_INGEST_EXIT_USAGE;
    goto done;
  }
  if (!vss_tool_has_vector_search (c, &has_search, &err)) {
    if (g_error_matches (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_CONNECTION)
        || g_error_matches (err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
      g_printerr ("vss-ingest: nothing is answering at %s (%s).\n"
          "  vss-ingest stores vectors in a Valkey or Redis server with vector "
          "search. Start one as the\n  README explains (\"Local Valkey\": "
          "redis-server --loadmodule build/modules/valkey/vss-search.so),\n"
          "  or point --valkey at yours, or use --dry-run to ingest without "
          "storing.\n", masked, err->message);
    else
      g_printerr ("vss-ingest: cannot use Valkey at %s: %s\n", masked,
          err->message);
    ret = VSS_INGEST_EXIT_VALKEY;
    goto done;
  }
  if (!has_search) {
    gchar *advice = vss_tool_no_search_advice (masked);

    g_printerr ("vss-ingest: %s\n", advice);
    g_free (advice);
    ret = VSS_INGEST_EXIT_VALKEY;
  }
done:
  g_clear_error (&err);
  g_free (masked);
  if (c)
    vss_valkey_client_free (c);
  return ret;
}

/* ------------------------------------------------------------------------ */

static GOptionEntry entries[] = {
  {"interval", 'i', 0, G_OPTION_ARG_DOUBLE, &opts.interval,
      "Seconds between sampled frames (default 1)", "S"},
  {"provider", 'p', 0, G_OPTION_ARG_STRING, &opt_provider,
      "Embedding provider: local (default, no network) or bedrock "
        "(Amazon Bedrock Titan; local still serves dedup)", "NAME"},
  {"model", 0, 0, G_OPTION_ARG_STRING, &opts.model,
      "Bedrock model (default amazon.titan-embed-image-v1)", "ID"},
  {"local-model", 0, 0, G_OPTION_ARG_STRING, &opts.local_model,
      "Local embedding (dedup, and what is stored with --provider local): "
        "vss-local-v2 (default) or vss-local-v1, to keep filling an index "
        "made with it", "NAME"},
  {"dimension", 0, 0, G_OPTION_ARG_INT, &opts.dimension,
      "Bedrock dimension: 256, 384 or 1024 (default 1024)", "N"},
  {"region", 0, 0, G_OPTION_ARG_STRING, &opts.region,
      "AWS region of Bedrock and of an s3:// --frames bucket (default from "
        "the environment)", "REGION"},
  {"threshold", 't', 0, G_OPTION_ARG_DOUBLE, &opts.threshold,
      "Dedup: drop a frame closer than this cosine distance to a kept one "
        "(default 0.2; 0 keeps every sampled frame)", "D"},
  {"window", 'w', 0, G_OPTION_ARG_INT, &opts.window,
      "Dedup: kept frames remembered (default 10000; 0 no limit)", "N"},
  {"window-duration", 0, 0, G_OPTION_ARG_DOUBLE, &opts.window_duration,
      "Dedup: forget kept frames older than this (default 0: never)", "S"},
  {"valkey", 'V', 0, G_OPTION_ARG_STRING, &opt_valkey,
      "Valkey URL (default redis://127.0.0.1:6379)", "URL"},
  {"index", 0, 0, G_OPTION_ARG_STRING, &opts.index,
      "Search index name (default: vsssink's)", "NAME"},
  {"key-prefix", 0, 0, G_OPTION_ARG_STRING, &opts.key_prefix,
      "Key prefix (default: vsssink's, frame:)", "PREFIX"},
  {"frames", 'f', 0, G_OPTION_ARG_STRING, &opt_frames,
      "Where frames go: a folder, file:///folder or s3://bucket/prefix "
        "(default ./vss-frames)", "WHERE"},
  {"stream-id", 's', 0, G_OPTION_ARG_STRING_ARRAY, &opt_stream_ids,
      "Stream id (once per input, in order; default from the input's "
        "name)", "ID"},
  {"ttl", 0, 0, G_OPTION_ARG_INT, &opts.ttl,
      "Expire the keys (vectors) after this many seconds (default 0: "
        "keep; objects need a lifecycle rule of their own)", "S"},
  {"spool-dir", 0, 0, G_OPTION_ARG_FILENAME, &opts.spool_dir,
      "Where vsssink spools frames while Valkey is down", "DIR"},
  {"adopt-spool", 0, 0, G_OPTION_ARG_NONE, &opts.adopt_spool,
      "Write the frames --spool-dir holds for another destination (another "
        "server, index, key prefix or frames store) to this run's", NULL},
  {"jpeg-quality", 0, 0, G_OPTION_ARG_INT, &opts.jpeg_quality,
      "JPEG quality of stored frames (default 85)", "Q"},
  {"dry-run", 'n', 0, G_OPTION_ARG_NONE, &opts.dry_run,
      "Decode, sample, embed and dedup, but store nothing", NULL},
  {"live", 0, 0, G_OPTION_ARG_NONE, &opt_live,
      "Treat every input as live: reconnect when it ends or fails", NULL},
  {"wait", 0, 0, G_OPTION_ARG_NONE, &opt_wait,
      "Live inputs: keep retrying the first connection too", NULL},
  {"reconnect-delay", 0, 0, G_OPTION_ARG_DOUBLE, &opt_reconnect_delay,
      "First reconnect delay, doubled each attempt (default 1)", "S"},
  {"reconnect-max-delay", 0, 0, G_OPTION_ARG_DOUBLE, &opt_reconnect_max,
      "Longest reconnect delay (default 30)", "S"},
  {"reconnect-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &opt_reconnect_timeout,
      "Give up after this long without a frame (default 0: never)", "S"},
  {"stall-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &opt_stall_timeout,
        "Live inputs: reconnect after this long without a frame (default 10)",
      "S"},
  {"rtsp-transport", 0, 0, G_OPTION_ARG_STRING, &opt_transport,
      "RTSP transport: auto (default), tcp or udp", "T"},
  {"duration", 'd', 0, G_OPTION_ARG_DOUBLE, &opt_duration,
      "Stop after this many seconds (default 0: at the end, or Ctrl-C)", "S"},
  {"stop-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &opt_stop_timeout,
      "Longest wait for in-flight frames when stopping (default 60)", "S"},
  {"json", 'j', 0, G_OPTION_ARG_NONE, &opt_json,
      "Print the summary as one JSON object on stdout", NULL},
  {"quiet", 'q', 0, G_OPTION_ARG_NONE, &opt_quiet,
      "No progress, no messages; only errors and the summary", NULL},
  {"progress", 0, 0, G_OPTION_ARG_NONE, &opt_progress,
      "Show the progress line even when stderr is not a terminal", NULL},
  {"no-progress", 0, 0, G_OPTION_ARG_NONE, &opt_no_progress,
      "Never show the progress line", NULL},
  {"print-pipeline", 0, 0, G_OPTION_ARG_NONE, &opt_print,
      "Print the pipeline of each input (gst-launch syntax) and exit", NULL},
  {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_inputs,
      NULL, "INPUT..."},
  {NULL}
};

#define DESCRIPTION \
  "INPUT is a video file, a URI (file://, http://, rtsp://, ...) or a V4L2\n" \
  "camera (/dev/video0). Each input is decoded, sampled every --interval,\n" \
  "embedded (vssembed), deduplicated (vssdedup), encoded as JPEG and stored\n" \
  "(vsssink): the frame in --frames, its vector and metadata in Valkey.\n" \
  "Live inputs (rtsp://, cameras, --live) are reconnected with backoff when\n" \
  "they drop. Ctrl-C stops cleanly (frames in flight are stored).\n\n" \
  "Exit status: 0 done; 1 the pipeline failed; 2 bad command line;\n" \
  "3 Valkey unreachable or without vector search; 4 an input could not be\n" \
  "opened; 5 done but some frames are not stored (failed, or still\n" \
  "spooled); 6 done but a file was not decoded to its end or had frames\n" \
  "missing (truncated or damaged); 130 interrupted.\n"

/* What must never be printed, even inside a server's or a library's
 * message: the Valkey password, the AWS secret key and session token. */
static void
collect_secrets (void)
{
  GPtrArray *a = g_ptr_array_new ();
  VssValkeyConfig *cfg = vss_valkey_config_new_from_url (opts.valkey, NULL);
  const gchar *env[] = { "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", NULL };

  if (cfg != NULL && cfg->password != NULL)
    g_ptr_array_add (a, g_strdup (cfg->password));
  if (cfg != NULL)
    vss_valkey_config_free (cfg);
  for (guint i = 0; env[i]; i++)
    if (g_getenv (env[i]) != NULL && *g_getenv (env[i]))
      g_ptr_array_add (a, g_strdup (g_getenv (env[i])));
  g_ptr_array_add (a, NULL);
  secrets = (gchar **) g_ptr_array_free (a, FALSE);
}

static gint
print_summary (void)
{
  VssIngestResult *res = g_new0 (VssIngestResult, jobs->len);
  VssIngestExit code;

  for (guint i = 0; i < jobs->len; i++) {
    Job *j = g_ptr_array_index (jobs, i);
    VssIngestResult *r = &res[i];

    r->input = j->arg;
    r->stream_id = j->stream_id;
    r->live = j->in.live;
    r->status = j->status;
    r->error = j->error;
    r->error_detail = j->error_detail;
    r->wall_s = j->t_start ? ((j->t_end ? j->t_end : g_get_monotonic_time ())
        - j->t_start) / 1e6 : 0;
    g_mutex_lock (&j->lock);
    r->media_s = j->in.live ? 0 : j->position_s;
    r->duration_s = j->in.live ? 0 : j->duration_s;
    r->gaps = j->gaps;
    r->missing_s = j->missing_s;
    r->decode_warnings = j->decode_warnings;
    r->decoded = j->decoded;
    r->sampled = j->sampled;
    r->kept = j->kept;
    r->connections = j->connections;
    g_mutex_unlock (&j->lock);
    r->dropped = j->have_dedup_stats ? j->dropped : 0;
    r->stored = j->stored;
    r->spooled = j->spooled;
    r->replayed = j->replayed;
    r->retried = j->retried;
    r->failed = j->failed;
    r->reconnects = j->reconnects;
    r->errors = j->errors;
  }
  code = vss_ingest_exit_code (res, jobs->len, opts.dry_run);

  clear_progress ();
  if (opt_json) {
    json_t *o = json_object (), *arr = json_array ();
    json_t *tot = json_object ();
    guint64 t[6] = { 0 };
    gchar *s, *masked = vss_valkey_url_mask (opts.valkey);

    for (guint i = 0; i < jobs->len; i++) {
      json_array_append_new (arr, vss_ingest_result_to_json (&res[i]));
      t[0] += res[i].sampled;
      t[1] += res[i].dropped;
      t[2] += res[i].stored;
      t[3] += res[i].spooled;
      t[4] += res[i].failed;
      t[5] += res[i].reconnects;
    }
    json_object_set_new (tot, "frames_sampled", json_integer (t[0]));
    json_object_set_new (tot, "duplicates_dropped", json_integer (t[1]));
    json_object_set_new (tot, "stored", json_integer (t[2]));
    json_object_set_new (tot, "spooled", json_integer (t[3]));
    json_object_set_new (tot, "failed", json_integer (t[4]));
    json_object_set_new (tot, "reconnects", json_integer (t[5]));
    json_object_set_new (o, "inputs", arr);
    json_object_set_new (o, "totals", tot);
    json_object_set_new (o, "dry_run", json_boolean (opts.dry_run));
    json_object_set_new (o, "provider", json_string (opts.provider));
    json_object_set_new (o, "valkey", opts.dry_run ? json_null () :
        json_string (masked));
    json_object_set_new (o, "frames", opts.dry_run ? json_null () :
        json_string (opts.frames));
    if (opts.index)
      json_object_set_new (o, "index", json_string (opts.index));
    json_object_set_new (o, "exit_code", json_integer (code));
    /* Measurements are rounded where they are made; 15 significant
     * digits print them as decimals (19.9, not 19.899999999999999). */
    s = json_dumps (o, JSON_INDENT (2) | JSON_REAL_PRECISION (15));
    printf ("%s\n", s);
    free (s);
    json_decref (o);
    g_free (masked);
  } else {
    for (guint i = 0; i < jobs->len; i++) {
      gchar *line = vss_ingest_format_result (&res[i], opts.dry_run);
      printf ("%s\n", line);
      g_free (line);
    }
    if (!opts.dry_run) {
      gchar *masked = vss_valkey_url_mask (opts.valkey);
      printf ("frames in %s, vectors in %s%s%s\n", opts.frames, masked,
          opts.index ? " index " : "", opts.index ? opts.index : "");
      g_free (masked);
    }
  }
  fflush (stdout);
  g_free (res);
  return code;
}

int
main (int argc, char **argv)
{
  GOptionContext *ctx;
  GError *err = NULL;
  guint n_inputs, n_ids;
  gint ret = VSS_INGEST_EXIT_OK;
  guint tick;

  vss_tool_setlocale ();
  vss_ingest_options_init (&opts);
  jobs = g_ptr_array_new_with_free_func ((GDestroyNotify) job_free);
  rand_gen = g_rand_new ();
  ctx = g_option_context_new ("- ingest video into a searchable store");
  g_option_context_set_description (ctx, DESCRIPTION);
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    g_printerr ("vss-ingest: %s\nUsage: vss-ingest INPUT... [OPTIONS] (see "
        "--help)\n", err->message);
    g_option_context_free (ctx);
    ret = VSS_INGEST_EXIT_USAGE;
    goto out;
  }
  g_option_context_free (ctx);
  /* String options start NULL (GOption does not free what it replaces):
   * apply them over the defaults here. */
  if (opt_provider) {
    g_free (opts.provider);
    opts.provider = g_steal_pointer (&opt_provider);
  }
  if (opt_valkey) {
    g_free (opts.valkey);
    opts.valkey = g_steal_pointer (&opt_valkey);
  }
  if (opt_transport) {
    g_free (opts.rtsp_transport);
    opts.rtsp_transport = g_steal_pointer (&opt_transport);
  }
  collect_secrets ();
  n_inputs = opt_inputs ? g_strv_length (opt_inputs) : 0;
  n_ids = opt_stream_ids ? g_strv_length (opt_stream_ids) : 0;
  ret = VSS_INGEST_EXIT_USAGE;
  if (n_inputs == 0) {
    g_printerr ("vss-ingest: no INPUT given\nUsage: vss-ingest INPUT... "
        "[OPTIONS] (see --help)\n");
    goto out;
  }
  if (n_ids > 0 && n_ids != n_inputs) {
    g_printerr ("vss-ingest: give --stream-id once per input (%u inputs, %u "
        "stream ids)\n", n_inputs, n_ids);
    goto out;
  }
  opts.frames = vss_ingest_frames_to_uri (opt_frames, &err);
  if (opts.frames == NULL || !vss_ingest_options_check (&opts, &err)
      || !vss_ingest_check_seconds ("--duration", opt_duration, TRUE,
          VSS_INGEST_MAX_SECONDS, &err)
      || !vss_ingest_check_seconds ("--reconnect-delay", opt_reconnect_delay,
          FALSE, 86400, &err)
      || !vss_ingest_check_seconds ("--reconnect-max-delay",
          opt_reconnect_max, FALSE, 86400, &err)
      || !vss_ingest_check_seconds ("--reconnect-timeout",
          opt_reconnect_timeout, TRUE, VSS_INGEST_MAX_SECONDS, &err)
      || !vss_ingest_check_seconds ("--stall-timeout", opt_stall_timeout,
          TRUE, 86400, &err)
      || !vss_ingest_check_seconds ("--stop-timeout", opt_stop_timeout, FALSE,
          86400, &err)) {
    g_printerr ("vss-ingest: %s\n", err->message);
    goto out;
  }

  for (guint i = 0; i < n_inputs; i++) {
    Job *j = g_new0 (Job, 1);

    g_mutex_init (&j->lock);
    j->outage_cancel = g_cancellable_new ();
    j->index = i;
    j->arg = g_strdup (opt_inputs[i]);
    g_ptr_array_add (jobs, j);
    if (!vss_ingest_input_resolve (opt_inputs[i], opt_live, &j->in, &err)) {
      g_printerr ("vss-ingest: %s\n", err->message);
      ret = err->code == G_FILE_ERROR_NOENT || err->code == G_FILE_ERROR_ISDIR
          ? VSS_INGEST_EXIT_INPUT : VSS_INGEST_EXIT_USAGE;
      goto out;
    }
    j->stream_id = g_strdup (n_ids ? opt_stream_ids[i] :
        j->in.default_stream_id);
    /* A file's frames keep their ids from run to run (a rerun after a kill
     * writes the same keys and objects); live ones get new ids. */
    if (!j->in.live && j->in.local_path
        && !vss_ingest_source_of_file (j->in.local_path, &j->file, &err)) {
      g_printerr ("vss-ingest: %s\n", err->message);
      ret = VSS_INGEST_EXIT_INPUT;
      goto out;
    }
    if (!vss_ingest_stream_id_is_valid (j->stream_id)) {
      /* It goes into keys, object paths and a TAG value, so it is not
       * changed behind the user's back: say what would do. */
      gchar *hint = vss_ingest_stream_id_sanitize (j->stream_id);
      g_printerr ("vss-ingest: --stream-id '%s': use 1-64 ASCII letters, "
          "digits, '-' or '_' (for example '%s')\n", j->stream_id, hint);
      g_free (hint);
      ret = VSS_INGEST_EXIT_USAGE;
      goto out;
    }
    for (guint k = 0; k < i; k++) {
      Job *o = g_ptr_array_index (jobs, k);
      if (strcmp (o->stream_id, j->stream_id) == 0) {
        g_printerr ("vss-ingest: inputs %s and %s both have stream id '%s': "
            "give each its own with --stream-id\n", o->arg, j->arg,
            j->stream_id);
        ret = VSS_INGEST_EXIT_USAGE;
        goto out;
      }
    }
  }

  if (opt_print) {
    for (guint i = 0; i < jobs->len; i++) {
      Job *j = g_ptr_array_index (jobs, i);
      gchar *src = vss_ingest_describe_source (&j->in, &opts);
      gchar *proc = vss_ingest_describe_processing (&opts, j->stream_id,
          &j->file, TRUE);
      printf ("%s ! (one frame every %g s) %s\n", src, opts.interval, proc);
      g_free (src);
      g_free (proc);
    }
    ret = VSS_INGEST_EXIT_OK;
    goto out;
  }

  if (!opts.dry_run) {
    ret = check_valkey ();
    if (ret != VSS_INGEST_EXIT_OK)
      goto out;
  }

  for (guint i = 0; i < jobs->len; i++) {
    Job *j = g_ptr_array_index (jobs, i);
    if (!job_build (j, &err)) {
      g_printerr ("vss-ingest: cannot build the pipeline: %s\n  (are the "
          "gst-vss plugins installed or on GST_PLUGIN_PATH? see README, "
          "\"Building by hand\")\n", err->message);
      ret = VSS_INGEST_EXIT_FAILED;
      goto out;
    }
  }

  show_progress = !opt_quiet && !opt_no_progress && (opt_progress
      || isatty (fileno (stderr)));
  loop = g_main_loop_new (NULL, FALSE);
  t0_us = g_get_monotonic_time ();
  for (guint i = 0; i < jobs->len; i++)
    job_start (g_ptr_array_index (jobs, i));
  g_unix_signal_add (SIGINT, on_signal, NULL);
  g_unix_signal_add (SIGTERM, on_signal, NULL);
  if (opt_duration > 0)
    g_timeout_add ((guint) (opt_duration * 1000), on_duration_elapsed, NULL);
  tick = g_timeout_add (500, on_tick, NULL);
  if (n_active > 0)
    g_main_loop_run (loop);
  g_source_remove (tick);
  if (show_progress) {
    /* The last redraw shows where the run ended (100 %, the final counts)
     * and stays above the summary. */
    draw_progress ();
    fputc ('\n', stderr);
    progress_drawn = FALSE;
  }
  ret = print_summary ();
  g_main_loop_unref (loop);

out:
  g_clear_error (&err);
  g_ptr_array_unref (jobs);
  g_rand_free (rand_gen);
  vss_ingest_options_clear (&opts);
  g_strfreev (opt_inputs);
  g_strfreev (opt_stream_ids);
  g_free (opt_frames);
  g_free (opt_provider);
  g_free (opt_valkey);
  g_free (opt_transport);
  g_strfreev (secrets);
  return ret;
}
