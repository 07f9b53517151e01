/* gst-vss: vsssink frames and their spool records
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <sys/uio.h>
#include <glib.h>

G_BEGIN_DECLS

/**
 * VssSinkFrame:
 *
 * Everything vsssink writes for one frame. @object_key is relative to the
 * store ("" when no images are stored); @vector holds @dim little-endian
 * float32.
 */
typedef struct
{
  gchar *id;
  gchar *stream;
  gchar *key;
  gchar *object_key;
  gchar *uri;
  gchar *content_type;
  gchar *model;
  gint64 ts_ms;
  gint64 pts;                   /* ns; -1 when unknown */
  guint64 size;
  gdouble dedup_distance;
  gboolean has_dedup;
  gboolean object_done;
  GBytes *vector;
  GBytes *image;                /* NULL once not needed */
  guint64 seq;                  /* spool record (replays) */
  guint64 journal_seg;          /* journal segment holding it, 0: none */
  gboolean replay;
} VssSinkFrame;

void vss_sink_frame_free (VssSinkFrame * frame);

/* Pieces of a serialized frame: head (fixed fields and strings), vector,
 * image. */
#define VSS_SINK_FRAME_N_IOV 3

guint8 *vss_sink_frame_to_iov (const VssSinkFrame * frame,
    struct iovec iov[VSS_SINK_FRAME_N_IOV]);

GBytes *vss_sink_frame_serialize (const VssSinkFrame * frame);

VssSinkFrame *vss_sink_frame_deserialize (GBytes * bytes, GError ** error);

G_END_DECLS
