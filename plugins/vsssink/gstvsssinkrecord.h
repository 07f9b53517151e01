/* gst-vss: vsssink frames and their spool records
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <sys/uio.h>
#include <glib.h>
#include "core/gstvssrecord.h"

G_BEGIN_DECLS

/**
 * VssSinkFrame:
 * @rec: the frame record as it is stored (core/gstvssrecord.h); @rec.uri
 *   is "" when no images are stored
 * @key: the Valkey key
 * @object_key: the object's name, relative to the store ("" when no
 *   images are stored)
 *
 * Everything vsssink writes for one frame.
 */
typedef struct
{
  GstVssRecord rec;
  gchar *key;
  gchar *object_key;
  gchar *content_type;
  gboolean object_done;
  GBytes *image;                /* NULL once not needed */
  guint64 seq;                  /* spool record (replays) */
  guint64 journal_seg;          /* journal segment holding it, 0: none */
  gboolean replay;
} VssSinkFrame;

VssSinkFrame *vss_sink_frame_new (void);

void vss_sink_frame_free (VssSinkFrame * frame);

/* Pieces of a serialized frame: head (fixed fields and strings), vector,
 * image. */
#define VSS_SINK_FRAME_N_IOV 3

guint8 *vss_sink_frame_to_iov (const VssSinkFrame * frame,
    struct iovec iov[VSS_SINK_FRAME_N_IOV]);

GBytes *vss_sink_frame_serialize (const VssSinkFrame * frame);

VssSinkFrame *vss_sink_frame_deserialize (GBytes * bytes, GError ** error);

G_END_DECLS
