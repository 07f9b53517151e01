/* gst-vss: vssembed internals shared by the element and its Bedrock path
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/video/video.h>
#include "gstvssembed.h"
#include "gstvss.h"
#include "bedrock/gstvssbedrock.h"
#include "aws/gstvssawsprops.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (gst_vss_embed_debug);

typedef enum
{
  GST_VSS_EMBED_INPUT_RAW,
  GST_VSS_EMBED_INPUT_JPEG,
  GST_VSS_EMBED_INPUT_PNG,
} GstVssEmbedInput;

struct _GstVssEmbed
{
  GstBaseTransform parent;

  /* base class pad functions, for provider=local */
  GstPadChainFunction base_chain;
  GstPadEventFunction base_sink_event;
  GstPadQueryFunction base_sink_query;
  GstPadActivateModeFunction base_src_activate;

  /* properties (object lock) */
  GstVssEmbedProvider provider;
  gchar *model;
  guint dimension;
  GstVssAwsProps aws;
  guint max_in_flight;
  guint queue_size;
  guint timeout_ms;
  guint max_retries;
  guint retry_max_time_ms;
  GstVssEmbedOnError on_error;
  guint latency_ms;

  /* stream state, streaming thread only */
  GstVideoInfo info;
  gboolean have_info;
  gchar *active_model;          /* model name written into the metas */
  guint dim;

  /* Bedrock: settings copied at start, then read-only while streaming */
  gboolean bedrock;
  guint s_max_in_flight;
  guint s_queue_size;
  GstVssEmbedOnError s_on_error;
  GstVssEmbedInput input;       /* sink streaming thread */
  GstSegment in_segment;        /* sink streaming thread */
  GstVssBedrockClient *client;  /* qlock; set in start, freed in stop */
  GstVssBedrockClient *stats_client;    /* object lock; same client */
  GstClockTime frame_dur;       /* object lock; NONE when unknown */

  /* Bedrock job queue (qlock): jobs in input order, buffers and serialized
   * events; the source-pad task pushes the head once it is done. */
  GMutex qlock;
  GCond qcond;
  GQueue fifo;
  guint n_frames;               /* buffer jobs in fifo */
  guint in_flight;              /* submitted, not answered, this epoch */
  guint epoch;                  /* bumped by every flush */
  gboolean pushing;             /* the task is pushing a popped job */

  /* source pad task only: skip warnings are rate-limited */
  gint64 last_warning_us;
  guint warnings_suppressed;
  gboolean flushing;
  GstFlowReturn srcresult;

  /* statistics (object lock) */
  guint64 frames_in;
  guint64 frames_embedded;
  guint64 frames_reused_id;
  guint64 frames_skipped;
  guint64 frames_dropped;
  guint64 frames_reencoded;
  guint64 embed_time_total_ns;
  guint64 embed_time_max_ns;
  guint max_in_flight_seen;
  GstVssBedrockStats last_client_stats;
};

gint64 gst_vss_embed_capture_time (GstVssEmbed * self, GstBuffer * buf,
    const GstSegment * segment);

/* gstvssembedbedrock.c */
void gst_vss_embed_bedrock_init (GstVssEmbed * self);
void gst_vss_embed_bedrock_finalize (GstVssEmbed * self);
gboolean gst_vss_embed_bedrock_start (GstVssEmbed * self);
void gst_vss_embed_bedrock_stop (GstVssEmbed * self);
void gst_vss_embed_bedrock_set_flushing (GstVssEmbed * self);
GstFlowReturn gst_vss_embed_bedrock_chain (GstVssEmbed * self,
    GstBuffer * buf);
gboolean gst_vss_embed_bedrock_sink_event (GstVssEmbed * self,
    GstEvent * event);
gboolean gst_vss_embed_bedrock_src_activate (GstVssEmbed * self,
    GstPad * pad, gboolean active);
gboolean gst_vss_embed_bedrock_drain (GstVssEmbed * self);
gboolean gst_vss_embed_bedrock_latency (GstVssEmbed * self,
    GstQuery * query);
void gst_vss_embed_bedrock_add_stats (GstVssEmbed * self, GstStructure * s);

G_END_DECLS
