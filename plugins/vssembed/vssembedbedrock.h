/* gst-vss: vssembed's Bedrock engine: frames embedded concurrently, handed
 * back in input order
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A plain object with no pads and no element: one thread submits frames
 * (and serialized events, which keep their place between the frames), up
 * to max_in_flight requests are outstanding on the Bedrock client at once,
 * and another thread pops the jobs in the order they were submitted, each
 * once its embedding arrived or failed for good. Submitting blocks while
 * max_in_flight + queue_size frames are inside (back-pressure); flushing
 * cancels every request and wakes every wait at once.
 *
 * Threads: submit_frame, submit_event and drain from one producer thread;
 * pop and job_done from one consumer thread; set_flow, set_flushing and
 * get_stats from any thread. Nothing is called back.
 */
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>
#include "bedrock/gstvssbedrock.h"

G_BEGIN_DECLS

typedef struct _VssEmbedBedrock VssEmbedBedrock;

/**
 * VssEmbedBedrockConfig:
 * @model: Bedrock model id (copied)
 * @dim: embedding length asked for and expected back (not 0)
 * @max_in_flight: requests outstanding at once (at least 1)
 * @queue_size: frames waiting beyond @max_in_flight before submit blocks
 */
typedef struct
{
  const gchar *model;
  guint dim;
  guint max_in_flight;
  guint queue_size;
} VssEmbedBedrockConfig;

/**
 * VssEmbedBedrockJob:
 * @buffer: the frame of a frame job (else NULL); set it to NULL to keep it
 * @event: the event of an event job (else NULL); set it to NULL to keep it
 * @user_data: what was given with the frame
 * @status: GST_VSS_BEDROCK_OK, or why the frame has no embedding
 * @bad_input: the frame could not be turned into a request (unreadable
 *   buffer, undecodable image); @status is GST_VSS_BEDROCK_REQUEST_ERROR
 * @vector: (transfer full): the embedding when @status is OK; set it to
 *   NULL to keep it
 * @dim: length of @vector
 * @http_status: last HTTP status (0: no answer)
 * @error_type: AWS error type of the last answer, or NULL
 * @message: what went wrong, or NULL
 * @attempts: HTTP attempts made
 * @done_time: g_get_monotonic_time() when the outcome was known
 *
 * A finished job, as vss_embed_bedrock_pop() returns it. Give it back with
 * vss_embed_bedrock_job_done().
 */
typedef struct
{
  GstBuffer *buffer;
  GstEvent *event;
  gpointer user_data;

  GstVssBedrockStatus status;
  gboolean bad_input;
  gfloat *vector;
  guint dim;
  glong http_status;
  gchar *error_type;
  gchar *message;
  guint attempts;
  gint64 done_time;
} VssEmbedBedrockJob;

/**
 * VssEmbedBedrockStats:
 * @client: the client's counters (requests, retries, throttles, ...)
 * @frames_reencoded: encoded images scaled down to fit the model's limits
 * @max_in_flight_seen: most requests outstanding at once
 */
typedef struct
{
  GstVssBedrockStats client;
  guint64 frames_reencoded;
  guint max_in_flight_seen;
} VssEmbedBedrockStats;

VssEmbedBedrock *vss_embed_bedrock_new (GstVssBedrockClient * client,
    const VssEmbedBedrockConfig * config);
void vss_embed_bedrock_free (VssEmbedBedrock * self);

GstFlowReturn vss_embed_bedrock_submit_frame (VssEmbedBedrock * self,
    GstBuffer * buffer, const GstVideoInfo * info, gpointer user_data,
    GDestroyNotify destroy);
gboolean vss_embed_bedrock_submit_event (VssEmbedBedrock * self,
    GstEvent * event);

VssEmbedBedrockJob *vss_embed_bedrock_pop (VssEmbedBedrock * self);
void vss_embed_bedrock_job_done (VssEmbedBedrock * self,
    VssEmbedBedrockJob * job, GstFlowReturn ret);

void vss_embed_bedrock_set_flow (VssEmbedBedrock * self, GstFlowReturn ret);
void vss_embed_bedrock_set_flushing (VssEmbedBedrock * self, gboolean flushing);
gboolean vss_embed_bedrock_drain (VssEmbedBedrock * self);

void vss_embed_bedrock_get_stats (VssEmbedBedrock * self,
    VssEmbedBedrockStats * stats);

G_END_DECLS
