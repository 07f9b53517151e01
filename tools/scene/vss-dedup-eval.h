/* gst-vss: dedup quality against a clip's ground truth (tests and benchmarks)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  guint sampled;                /* frames sampled at 1 fps */
  guint kept;
  guint visits;                 /* scene visits with at least one sample */
  guint photos_shown;           /* distinct photographs shown */
  guint photos_covered;         /* ... with at least one kept frame */
  guint revisits_in_window;     /* revisits whose earlier kept frame was in the window */
  guint revisits_recognised;    /* ... whose first frame was dropped as seen before */
  guint revisits_suppressed;    /* ... of which no frame at all was kept */
  gdouble coverage;             /* photos_covered / photos_shown */
  gdouble redundancy;           /* kept / visits */
  gdouble revisit_suppression;  /* revisits_recognised / revisits_in_window */
  gdouble revisit_full_suppression;     /* revisits_suppressed / revisits_in_window */
  gdouble seconds;              /* wall time of the run */
} VssDedupQuality;

/* Runs decode -> 1 fps -> vssembed -> vssdedup (threshold, window-size) on
 * @clip and scores the kept frames against @truth (from vss-make-clip). */
gboolean vss_dedup_eval_ours (const gchar * clip, const gchar * truth,
    gdouble threshold, guint window_size, VssDedupQuality * q,
    GError ** error);

/* The same with ffmpeg's fps=1,mpdecimate (defaults) on the same clip. */
gboolean vss_dedup_eval_mpdecimate (const gchar * clip, const gchar * truth,
    guint window_size, VssDedupQuality * q, GError ** error);

gchar *vss_dedup_quality_to_json (const VssDedupQuality * q);

G_END_DECLS
