/* gst-vss tests: feeding vsssink through its own pad
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Frames are pushed straight into the sink's pad, so that a push returns
 * only once the sink has accepted the frame: what a test counts as
 * "reached vsssink" is exact.
 */
#pragma once

#include <gst/gst.h>
#include "gstvss.h"

G_BEGIN_DECLS

#define MODEL "test-model"
#define DIM 16

/* Six small (160x90) test JPEGs (GBytes), made by make_jpegs(). */
extern GPtrArray *jpegs;

typedef struct
{
  GstElement *sink;
  GstPad *src;
  GstBus *bus;
  GPtrArray *ids;               /* gchar *, frames accepted */
} Feeder;

void make_jpegs (void);
void vector_for (guint i, guint dim, gfloat * v);
GstBuffer *make_frame (guint i, guint dim, gchar id[GST_VSS_FRAME_ID_SIZE]);
Feeder *feeder_new (const gchar * caps_str, const gchar * first_prop, ...)
    G_GNUC_NULL_TERMINATED;
GstFlowReturn feeder_push (Feeder * f, guint i);
gchar *feeder_finish (Feeder * f, guint * n_stored);
gchar *feeder_pop_error (Feeder * f);
GstStructure *feeder_stats (Feeder * f);
guint64 stat_of (const GstStructure * s, const gchar * name);
void feeder_free (Feeder * f);

G_END_DECLS
