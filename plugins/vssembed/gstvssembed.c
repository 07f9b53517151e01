/* gst-vss: vssembed
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A plain GstElement with a sink and a source pad, as queue is, because
 * provider=bedrock needs a thread of its own: provider=local computes the
 * embedding in the sink pad's chain function and pushes the frame at once;
 * provider=bedrock hands frames and serialized events to its engine
 * (vssembedbedrock.c, no pads, no knowledge of this file) and pushes them,
 * in input order, from the source pad's task.
 *
 * Locking: the object lock guards the properties, the `stats` counters,
 * `frame_dur`, the `s_*` copies of the settings and `engine` as `stats`
 * readers see it. It is never held while computing an embedding, pushing
 * or waiting; the one engine call made under it is
 * vss_embed_bedrock_get_stats(), so the lock order is the object lock, then
 * the engine's own lock (described in vssembedbedrock.c), which is never
 * held while the engine calls anything of ours (it calls nothing).
 *
 * The stream state (`bedrock`, `engine`, `active_model`, `dim`) is set in
 * start() before the pads are activated and cleared in stop() after they
 * are deactivated, so the streaming threads read it without a lock.
 */

/**
 * SECTION:element-vssembed
 * @title: vssembed
 *
 * Computes an embedding of every video frame and attaches it to the buffer as
 * a #GstVssEmbeddingMeta, together with the frame's id. Downstream elements
 * (vssdedup, vssquery, vsssink) read the meta by model name. The buffer's
 * pixels pass through untouched.
 *
 * The frame id is created once per frame: when the buffer already carries one
 * (an earlier vssembed with another model), it is kept, so that both
 * embeddings name the same frame.
 *
 * Providers:
 *  - `local`: the built-in model-free embeddings, with no network:
 *    "vss-local-v2" (the default, 369 floats: v1's layout plus the frame's
 *    structure, gradient orientations at two scales over a 4x4 grid) or
 *    "vss-local-v1" (111 floats: low-frequency DCT of the frame's luma
 *    layout, a coarse colour layout and a colour histogram), each computed
 *    in well under a millisecond per 1080p frame. Calibrated so that a
 *    cosine distance below 0.2 means "same scene".
 *  - `bedrock`: Amazon Bedrock Titan Multimodal Embeddings G1
 *    (`amazon.titan-embed-image-v1`, 256, 384 or 1024 floats). Raw frames
 *    are scaled to fit 2048x2048 (never up) and JPEG-encoded; `image/jpeg`
 *    and `image/png` input is sent as it is when within the model's limits
 *    (2048 px, 5 MB), else scaled and re-encoded. Up to `max-in-flight`
 *    requests are outstanding at once; frames leave in input order from
 *    the source pad's own thread, and at most `max-in-flight` +
 *    `queue-size` frames wait inside the element (the sink pad blocks
 *    beyond that). Throttling, 5xx answers and timeouts are retried with
 *    exponential backoff and full jitter (base 100 ms, cap 20 s), at most
 *    `max-retries` times and not later than `retry-max-time` after the
 *    first attempt. A frame that cannot be embedded is handled as
 *    `on-error` says. Errors carry a details structure with
 *    `http-status-code` (int, 0 when there was no answer), `aws-error-type`
 *    (string, e.g. "AccessDeniedException") and `aws-message` (string).
 *    Credentials, region and endpoint come from the properties, else the
 *    environment, the shared AWS files (`profile`), container credentials
 *    and EC2 instance metadata, in the AWS SDKs' order.
 *
 *    Latency: in a live pipeline the element adds `latency` ms to the
 *    minimum latency (the expected time of one request; the timeout would
 *    be far too pessimistic) and (`max-in-flight` + `queue-size`) frame
 *    durations to the maximum (what it can hold), or makes the maximum
 *    unbounded when the frame rate is unknown.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 videotestsrc num-buffers=10 ! vssembed provider=local ! fakesink
 * ]|
 * |[
 * AWS_REGION=us-east-1 gst-launch-1.0 uridecodebin uri=file:///clip.mp4 ! \
 *     videoconvert ! videorate ! video/x-raw,framerate=1/1 ! \
 *     vssembed provider=bedrock dimension=384 ! fakesink
 * ]|
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gst/video/video.h>
#include "gstvssembed.h"
#include "gstvss.h"
#include "aws/gstvssawsprops.h"
#include "vssembedbedrock.h"

GST_DEBUG_CATEGORY_STATIC (gst_vss_embed_debug);
#define GST_CAT_DEFAULT gst_vss_embed_debug

/* image/jpeg and image/png only with provider=bedrock (the caps and
 * accept-caps answers and set_caps say so). */
#define CAPS_STR GST_VIDEO_CAPS_MAKE (GST_VSS_EMBED_LOCAL_FORMATS) \
  "; image/jpeg; image/png"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (CAPS_STR));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (CAPS_STR));

#define DEFAULT_PROVIDER GST_VSS_EMBED_PROVIDER_LOCAL
#define DEFAULT_MODEL NULL
#define DEFAULT_DIMENSION 0
#define DEFAULT_MAX_IN_FLIGHT 16
#define DEFAULT_QUEUE_SIZE 16
#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_MAX_RETRIES 4
#define DEFAULT_RETRY_MAX_TIME_MS 30000
#define DEFAULT_ON_ERROR GST_VSS_EMBED_ON_ERROR_FAIL
#define DEFAULT_LATENCY_MS 250
#define DEFAULT_SOURCE_TIME -1

enum
{
  PROP_0,
  PROP_PROVIDER,
  PROP_MODEL,
  PROP_STATS,
  PROP_DIMENSION,
  PROP_REGION,
  PROP_ENDPOINT,
  PROP_PROFILE,
  PROP_ACCESS_KEY_ID,
  PROP_SECRET_ACCESS_KEY,
  PROP_SESSION_TOKEN,
  PROP_MAX_IN_FLIGHT,
  PROP_QUEUE_SIZE,
  PROP_TIMEOUT,
  PROP_MAX_RETRIES,
  PROP_RETRY_MAX_TIME,
  PROP_ON_ERROR,
  PROP_LATENCY,
  PROP_SOURCE_ID,
  PROP_SOURCE_TIME,
};

struct _GstVssEmbed
{
  GstElement parent;

  GstPad *sinkpad;
  GstPad *srcpad;

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
  gchar *source_id;
  gint64 source_time_ms;

  /* stream state: set in start(), cleared in stop(); written under the
   * object lock where `stats` reads it */
  gboolean bedrock;
  gchar *active_model;          /* model name written into the metas */
  guint dim;
  GstVssEmbedLocalModel local_model;    /* local only */
  VssEmbedBedrock *engine;      /* bedrock only */

  /* settings as they were at start (object lock) */
  gchar *s_source_id;           /* NULL: frame ids are random */
  gint64 s_source_time_ms;
  guint s_max_in_flight;
  guint s_queue_size;
  GstClockTime frame_dur;       /* NONE when unknown */

  /* sink streaming thread */
  GstVideoInfo info;
  gboolean have_info;
  gboolean input_is_image;      /* image/jpeg or image/png, bedrock only */
  GstSegment segment;

  /* source pad task only: skip warnings are rate-limited */
  gint64 last_warning_us;
  guint warnings_suppressed;

  /* statistics (object lock) */
  guint64 frames_in;
  guint64 frames_embedded;
  guint64 frames_reused_id;
  guint64 frames_skipped;
  guint64 frames_dropped;
  guint64 embed_time_total_ns;
  guint64 embed_time_max_ns;
  VssEmbedBedrockStats last_engine_stats;       /* the engine's, at stop */
};

/* What the element keeps with a frame while the engine embeds it. */
typedef struct
{
  gchar frame_id[GST_VSS_FRAME_ID_SIZE];
  gboolean reused_id;
  gint64 t_in;
} EmbedFrame;

#define gst_vss_embed_parent_class parent_class
G_DEFINE_TYPE (GstVssEmbed, gst_vss_embed, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (vssembed, "vssembed", GST_RANK_NONE,
    GST_TYPE_VSS_EMBED);

GType
gst_vss_embed_provider_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_VSS_EMBED_PROVIDER_LOCAL,
          "Built-in model-free embedding (vss-local-v2 or v1), no network",
        "local"},
    {GST_VSS_EMBED_PROVIDER_BEDROCK,
          "Amazon Bedrock Titan Multimodal Embeddings (network, AWS account)",
        "bedrock"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVssEmbedProvider", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_vss_embed_on_error_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_VSS_EMBED_ON_ERROR_FAIL, "Post an element error and stop", "fail"},
    {GST_VSS_EMBED_ON_ERROR_SKIP,
        "Pass the frame on without an embedding, post a warning", "skip"},
    {GST_VSS_EMBED_ON_ERROR_DROP, "Drop the frame", "drop"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVssEmbedOnError", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static void gst_vss_embed_finalize (GObject * object);
static void gst_vss_embed_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec);
static void gst_vss_embed_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec);
static GstStateChangeReturn gst_vss_embed_change_state (GstElement * element,
    GstStateChange transition);
static GstFlowReturn gst_vss_embed_chain (GstPad * pad, GstObject * parent,
    GstBuffer * buf);
static gboolean gst_vss_embed_sink_event (GstPad * pad, GstObject * parent,
    GstEvent * event);
static gboolean gst_vss_embed_sink_query (GstPad * pad, GstObject * parent,
    GstQuery * query);
static gboolean gst_vss_embed_src_query (GstPad * pad, GstObject * parent,
    GstQuery * query);
static gboolean gst_vss_embed_src_activate_mode (GstPad * pad,
    GstObject * parent, GstPadMode mode, gboolean active);

/* The properties are the element's manual (gst-inspect-1.0 vssembed), so
 * their blurbs are long; two helpers and the AWS settings' own install
 * them, in the order gst-inspect lists them, so that class_init stays
 * readable. First what every provider has. */
static void
gst_vss_embed_install_embedding_properties (GObjectClass * gobject_class)
{
  g_object_class_install_property (gobject_class, PROP_PROVIDER,
      g_param_spec_enum ("provider", "Provider",
          "Where embeddings come from: 'local' is the built-in model-free "
          "embedding (no network, deterministic, for near-duplicate "
          "detection); 'bedrock' is Amazon Bedrock Titan Multimodal "
          "Embeddings (semantic, needs an AWS account)",
          GST_TYPE_VSS_EMBED_PROVIDER, DEFAULT_PROVIDER,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "Model name written into the embedding meta and used by downstream "
          "elements to find it. Empty or NULL: the provider's model "
          "(local: 'vss-local-v2'; 'vss-local-v1' keeps the first local model, "
          "for indexes filled with it; bedrock: "
          "'amazon.titan-embed-image-v1', the only Titan model that embeds "
          "images)", DEFAULT_MODEL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "Counters since the element last started (read-only): frames-in, "
          "frames-embedded, ids-reused (frames that already had a frame id), "
          "model, dimension, mean-embed-us and max-embed-us (time to compute "
          "one embedding, in microseconds; bedrock: from frame in to answer). "
          "bedrock adds requests (HTTP attempts), retries, throttles (429 "
          "answers), failures (frames whose embedding failed for good), "
          "bytes-sent (request bodies), mean-latency-ms (per successful "
          "request), frames-skipped, frames-dropped, frames-reencoded "
          "(images scaled to fit the model) and max-in-flight-seen",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_DIMENSION,
      g_param_spec_uint ("dimension", "Dimension",
          "bedrock: length of the embedding. 0: the model's default (1024); "
          "amazon.titan-embed-image-v1 offers 256, 384 or 1024", 0, 1024,
          DEFAULT_DIMENSION, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
}

/* Where frame ids come from. */
static void
gst_vss_embed_install_identity_properties (GObjectClass * gobject_class)
{
  g_object_class_install_property (gobject_class, PROP_SOURCE_ID,
      g_param_spec_string ("source-id", "Source id",
          "What identifies the source when it is a file (e.g. its path, size "
          "and modification time). Set: each frame's id is derived from it "
          "and the frame's position in the source (stream time), so the same "
          "frame of the same file always gets the same id and storing the "
          "file again (after a kill) writes the same keys and objects "
          "instead of new ones. NULL: ids are random (unique), as live "
          "sources need. vss-ingest sets it for files", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_SOURCE_TIME,
      g_param_spec_int64 ("source-time", "Source time",
          "With source-id: the capture time of the source's start, unix "
          "milliseconds (e.g. the file's modification time); a frame's "
          "capture time is this plus its position. -1: the time the element "
          "starts (ids then differ between runs)", -1, G_MAXINT64,
          DEFAULT_SOURCE_TIME, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
}

/* How provider=bedrock's requests flow. */
static void
gst_vss_embed_install_request_properties (GObjectClass * gobject_class)
{
  g_object_class_install_property (gobject_class, PROP_MAX_IN_FLIGHT,
      g_param_spec_uint ("max-in-flight", "Max requests in flight",
          "bedrock: requests outstanding at once. Throughput is about "
          "max-in-flight / request latency frames per second", 1, 256,
          DEFAULT_MAX_IN_FLIGHT, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_QUEUE_SIZE,
      g_param_spec_uint ("queue-size", "Queue size",
          "bedrock: frames waiting for a request slot or for earlier frames, "
          "beyond max-in-flight; when full, the sink pad blocks "
          "(back-pressure)", 0, 4096, DEFAULT_QUEUE_SIZE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_TIMEOUT,
      g_param_spec_uint ("timeout", "Timeout",
          "bedrock: time limit of one request attempt, in milliseconds "
          "(a timed-out attempt is retried)", 100, 600000, DEFAULT_TIMEOUT_MS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_MAX_RETRIES,
      g_param_spec_uint ("max-retries", "Max retries",
          "bedrock: retries of a throttled (429), failed (500, 503, ...) or "
          "timed-out request after its first attempt. 0: no retries", 0, 100,
          DEFAULT_MAX_RETRIES, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_RETRY_MAX_TIME,
      g_param_spec_uint ("retry-max-time", "Retry max time",
          "bedrock: no retry starts later than this many milliseconds after "
          "a frame's first attempt. 0: bounded by max-retries only", 0,
          G_MAXUINT, DEFAULT_RETRY_MAX_TIME_MS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_ON_ERROR,
      g_param_spec_enum ("on-error", "On error",
          "bedrock: what to do with a frame whose embedding failed for good "
          "(refused request, retries exhausted, malformed answer): 'fail' "
          "posts an element error and stops, 'skip' passes the frame on "
          "without an embedding and posts a warning (at most one a second; "
          "stats counts them all), 'drop' drops it",
          GST_TYPE_VSS_EMBED_ON_ERROR, DEFAULT_ON_ERROR,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_LATENCY,
      g_param_spec_uint ("latency", "Latency",
          "bedrock: expected time of one request in milliseconds, added to "
          "the pipeline's minimum latency when live", 0, 600000,
          DEFAULT_LATENCY_MS, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
}

static void
gst_vss_embed_class_init (GstVssEmbedClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->finalize = gst_vss_embed_finalize;
  gobject_class->set_property = gst_vss_embed_set_property;
  gobject_class->get_property = gst_vss_embed_get_property;
  gst_vss_embed_install_embedding_properties (gobject_class);
  gst_vss_aws_props_install (gobject_class, PROP_REGION,
      &gst_vss_aws_service_bedrock);
  gst_vss_embed_install_request_properties (gobject_class);
  gst_vss_embed_install_identity_properties (gobject_class);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Video frame embedding", "Filter/Analyzer/Video",
      "Attaches an embedding vector and a frame id to every video frame",
      "gst-vss developers");

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_vss_embed_change_state);

  gst_type_mark_as_plugin_api (GST_TYPE_VSS_EMBED_PROVIDER, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_VSS_EMBED_ON_ERROR, 0);
  GST_DEBUG_CATEGORY_INIT (gst_vss_embed_debug, "vssembed", 0,
      "Frame embeddings");
}

static void
gst_vss_embed_init (GstVssEmbed * self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_vss_embed_chain));
  gst_pad_set_event_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_vss_embed_sink_event));
  gst_pad_set_query_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_vss_embed_sink_query));
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_query_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_vss_embed_src_query));
  gst_pad_set_activatemode_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_vss_embed_src_activate_mode));
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->provider = DEFAULT_PROVIDER;
  self->model = NULL;
  self->dimension = DEFAULT_DIMENSION;
  self->max_in_flight = DEFAULT_MAX_IN_FLIGHT;
  self->queue_size = DEFAULT_QUEUE_SIZE;
  self->timeout_ms = DEFAULT_TIMEOUT_MS;
  self->max_retries = DEFAULT_MAX_RETRIES;
  self->retry_max_time_ms = DEFAULT_RETRY_MAX_TIME_MS;
  self->on_error = DEFAULT_ON_ERROR;
  self->latency_ms = DEFAULT_LATENCY_MS;
  self->source_time_ms = DEFAULT_SOURCE_TIME;
  self->frame_dur = GST_CLOCK_TIME_NONE;
  gst_segment_init (&self->segment, GST_FORMAT_TIME);
}

static void
gst_vss_embed_finalize (GObject * object)
{
  GstVssEmbed *self = GST_VSS_EMBED (object);

  g_free (self->model);
  g_free (self->active_model);
  g_free (self->source_id);
  g_free (self->s_source_id);
  gst_vss_aws_props_clear (&self->aws);
  /* Only left when the element was dropped without going back to READY. */
  vss_embed_bedrock_free (self->engine);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_vss_embed_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstVssEmbed *self = GST_VSS_EMBED (object);

  GST_OBJECT_LOCK (self);
  if (gst_vss_aws_props_set (&self->aws, PROP_REGION, prop_id, value)) {
    GST_OBJECT_UNLOCK (self);
    return;
  }
  switch (prop_id) {
    case PROP_PROVIDER:
      self->provider = g_value_get_enum (value);
      break;
    case PROP_MODEL:
      g_free (self->model);
      self->model = g_value_dup_string (value);
      if (self->model != NULL && self->model[0] == '\0')
        g_clear_pointer (&self->model, g_free);
      break;
    case PROP_DIMENSION:
      self->dimension = g_value_get_uint (value);
      break;
    case PROP_MAX_IN_FLIGHT:
      self->max_in_flight = g_value_get_uint (value);
      break;
    case PROP_QUEUE_SIZE:
      self->queue_size = g_value_get_uint (value);
      break;
    case PROP_TIMEOUT:
      self->timeout_ms = g_value_get_uint (value);
      break;
    case PROP_MAX_RETRIES:
      self->max_retries = g_value_get_uint (value);
      break;
    case PROP_RETRY_MAX_TIME:
      self->retry_max_time_ms = g_value_get_uint (value);
      break;
    case PROP_ON_ERROR:
      self->on_error = g_value_get_enum (value);
      break;
    case PROP_LATENCY:
      self->latency_ms = g_value_get_uint (value);
      break;
    case PROP_SOURCE_ID:
      g_free (self->source_id);
      self->source_id = g_value_dup_string (value);
      if (self->source_id != NULL && self->source_id[0] == '\0')
        g_clear_pointer (&self->source_id, g_free);
      break;
    case PROP_SOURCE_TIME:
      self->source_time_ms = g_value_get_int64 (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static GstStructure *
gst_vss_embed_stats_locked (GstVssEmbed * self)
{
  gdouble mean_us = self->frames_embedded ?
      (gdouble) self->embed_time_total_ns / self->frames_embedded / 1000.0 : 0;
  VssEmbedBedrockStats st;

  GstStructure *s = gst_structure_new ("vss-embed-stats",
      "frames-in", G_TYPE_UINT64, self->frames_in,
      "frames-embedded", G_TYPE_UINT64, self->frames_embedded,
      "ids-reused", G_TYPE_UINT64, self->frames_reused_id,
      "model", G_TYPE_STRING, self->active_model ? self->active_model : "",
      "dimension", G_TYPE_UINT, self->dim,
      "mean-embed-us", G_TYPE_DOUBLE, mean_us,
      "max-embed-us", G_TYPE_DOUBLE, self->embed_time_max_ns / 1000.0, NULL);

  if (self->provider != GST_VSS_EMBED_PROVIDER_BEDROCK)
    return s;
  if (self->engine)
    vss_embed_bedrock_get_stats (self->engine, &st);
  else
    st = self->last_engine_stats;
  gst_structure_set (s,
      "requests", G_TYPE_UINT64, st.client.requests,
      "retries", G_TYPE_UINT64, st.client.retries,
      "throttles", G_TYPE_UINT64, st.client.throttles,
      "failures", G_TYPE_UINT64, st.client.failures,
      "bytes-sent", G_TYPE_UINT64, st.client.bytes_sent,
      "mean-latency-ms", G_TYPE_DOUBLE, st.client.latency_count ?
      st.client.latency_total_us / 1000.0 / st.client.latency_count : 0.0,
      "frames-skipped", G_TYPE_UINT64, self->frames_skipped,
      "frames-dropped", G_TYPE_UINT64, self->frames_dropped,
      "frames-reencoded", G_TYPE_UINT64, st.frames_reencoded,
      "max-in-flight-seen", G_TYPE_UINT, st.max_in_flight_seen, NULL);
  return s;
}

static void
gst_vss_embed_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstVssEmbed *self = GST_VSS_EMBED (object);

  GST_OBJECT_LOCK (self);
  if (gst_vss_aws_props_get (&self->aws, PROP_REGION, prop_id, value)) {
    GST_OBJECT_UNLOCK (self);
    return;
  }
  switch (prop_id) {
    case PROP_PROVIDER:
      g_value_set_enum (value, self->provider);
      break;
    case PROP_MODEL:
      g_value_set_string (value, self->model);
      break;
    case PROP_STATS:
      g_value_take_boxed (value, gst_vss_embed_stats_locked (self));
      break;
    case PROP_DIMENSION:
      g_value_set_uint (value, self->dimension);
      break;
    case PROP_MAX_IN_FLIGHT:
      g_value_set_uint (value, self->max_in_flight);
      break;
    case PROP_QUEUE_SIZE:
      g_value_set_uint (value, self->queue_size);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout_ms);
      break;
    case PROP_MAX_RETRIES:
      g_value_set_uint (value, self->max_retries);
      break;
    case PROP_RETRY_MAX_TIME:
      g_value_set_uint (value, self->retry_max_time_ms);
      break;
    case PROP_ON_ERROR:
      g_value_set_enum (value, self->on_error);
      break;
    case PROP_LATENCY:
      g_value_set_uint (value, self->latency_ms);
      break;
    case PROP_SOURCE_ID:
      g_value_set_string (value, self->source_id);
      break;
    case PROP_SOURCE_TIME:
      g_value_set_int64 (value, self->source_time_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static gboolean
gst_vss_embed_start_local (GstVssEmbed * self)
{
  gchar *model;
  GstVssEmbedLocalModel local;

  GST_OBJECT_LOCK (self);
  model = g_strdup (self->model);
  GST_OBJECT_UNLOCK (self);
  if (!gst_vss_embed_local_model_from_name (model, &local))
    goto unknown_model;
  g_free (model);

  GST_OBJECT_LOCK (self);
  g_free (self->active_model);
  self->active_model = g_strdup (gst_vss_embed_local_model_name (local));
  self->local_model = local;
  self->dim = gst_vss_embed_local_model_dim (local);
  self->bedrock = FALSE;
  GST_OBJECT_UNLOCK (self);
  GST_DEBUG_OBJECT (self, "provider local, model %s, dimension %u",
      self->active_model, self->dim);
  return TRUE;

  /* ERRORS */
unknown_model:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Model '%s' is not available with provider 'local'.", model),
        ("provider=local computes '%s' (the default) or '%s'; leave 'model' "
            "empty or set it to one of them", GST_VSS_EMBED_LOCAL_MODEL_V2,
            GST_VSS_EMBED_LOCAL_MODEL_V1));
    g_free (model);
    return FALSE;
  }
}

/* Makes the Bedrock client (settings, credentials) and the engine. */
static gboolean
gst_vss_embed_start_bedrock (GstVssEmbed * self)
{
  GstVssAwsSettings aws = { 0, };
  GstVssBedrockOptions opts = { 0, };
  VssEmbedBedrockConfig config = { 0, };
  GstVssBedrockClient *client;
  GstVssAwsCredentials *creds;
  VssEmbedBedrock *engine;
  GError *err = NULL;
  gchar *model;
  guint dim;

  GST_OBJECT_LOCK (self);
  model = g_strdup (self->model ? self->model : GST_VSS_BEDROCK_IMAGE_MODEL);
  dim = self->dimension;
  gst_vss_aws_props_to_settings (&self->aws, &gst_vss_aws_service_bedrock,
      &aws);
  opts.aws = &aws;
  opts.max_connections = self->max_in_flight;
  opts.timeout_ms = self->timeout_ms;
  opts.max_retries = self->max_retries;
  opts.retry_max_time_ms = self->retry_max_time_ms;
  self->s_max_in_flight = self->max_in_flight;
  self->s_queue_size = self->queue_size;
  self->frame_dur = GST_CLOCK_TIME_NONE;
  /* Settings strings are copied by the config; the lock keeps them alive. */
  if (!gst_vss_bedrock_check_model (model, dim, TRUE, &err)) {
    GST_OBJECT_UNLOCK (self);
    goto bad_model;
  }
  client = gst_vss_bedrock_client_new (&opts, &err);
  config.max_in_flight = self->s_max_in_flight;
  config.queue_size = self->s_queue_size;
  GST_OBJECT_UNLOCK (self);
  if (!client)
    goto bad_settings;
  creds = gst_vss_bedrock_client_get_credentials (client, &err);
  if (!creds)
    goto no_credentials;
  GST_INFO_OBJECT (self, "model %s, dimension %u, region %s, endpoint %s, "
      "credentials from %s", model, dim ? dim :
      gst_vss_bedrock_model_default_dim (model),
      gst_vss_bedrock_client_get_region (client),
      gst_vss_bedrock_client_get_endpoint (client), creds->source);
  gst_vss_aws_credentials_free (creds);

  config.model = model;
  config.dim = dim ? dim : gst_vss_bedrock_model_default_dim (model);
  engine = vss_embed_bedrock_new (client, &config);
  GST_OBJECT_LOCK (self);
  g_free (self->active_model);
  self->active_model = model;
  self->dim = config.dim;
  self->engine = engine;
  self->bedrock = TRUE;
  GST_OBJECT_UNLOCK (self);
  return TRUE;

  /* ERRORS */
bad_model:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Model '%s' cannot embed frames with provider 'bedrock'.", model),
        ("%s", err->message));
    g_error_free (err);
    g_free (model);
    return FALSE;
  }
bad_settings:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("The AWS settings for Amazon Bedrock are incomplete or wrong."),
        ("%s", err->message));
    g_error_free (err);
    g_free (model);
    return FALSE;
  }
no_credentials:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_AUTHORIZED,
        ("No AWS credentials for Amazon Bedrock."), ("%s", err->message));
    g_error_free (err);
    gst_vss_bedrock_client_free (client);
    g_free (model);
    return FALSE;
  }
}

/* READY to PAUSED, before the pads are activated. */
static gboolean
gst_vss_embed_start (GstVssEmbed * self)
{
  gboolean bedrock;

  GST_OBJECT_LOCK (self);
  self->frames_in = self->frames_embedded = self->frames_reused_id = 0;
  self->frames_skipped = self->frames_dropped = 0;
  self->embed_time_total_ns = self->embed_time_max_ns = 0;
  memset (&self->last_engine_stats, 0, sizeof (self->last_engine_stats));
  bedrock = self->provider == GST_VSS_EMBED_PROVIDER_BEDROCK;
  g_free (self->s_source_id);
  self->s_source_id = g_strdup (self->source_id);
  self->s_source_time_ms = self->source_time_ms >= 0 ? self->source_time_ms :
      g_get_real_time () / 1000;
  GST_OBJECT_UNLOCK (self);

  self->have_info = FALSE;
  self->input_is_image = FALSE;
  self->last_warning_us = 0;
  self->warnings_suppressed = 0;
  gst_segment_init (&self->segment, GST_FORMAT_TIME);
  return bedrock ? gst_vss_embed_start_bedrock (self) :
      gst_vss_embed_start_local (self);
}

/* PAUSED to READY, after the pads were deactivated: nothing streams. */
static void
gst_vss_embed_stop (GstVssEmbed * self)
{
  VssEmbedBedrock *engine;

  GST_OBJECT_LOCK (self);
  engine = self->engine;
  self->engine = NULL;
  self->bedrock = FALSE;
  if (engine)
    vss_embed_bedrock_get_stats (engine, &self->last_engine_stats);
  GST_OBJECT_UNLOCK (self);
  /* Cancels what is left; returns once every answer is in. */
  vss_embed_bedrock_free (engine);
  self->have_info = FALSE;
}

static GstStateChangeReturn
gst_vss_embed_change_state (GstElement * element, GstStateChange transition)
{
  GstVssEmbed *self = GST_VSS_EMBED (element);
  GstStateChangeReturn ret;

  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      if (!gst_vss_embed_start (self))
        return GST_STATE_CHANGE_FAILURE;
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      /* Wake a sink pad blocked on a full queue and cancel requests before
       * the pads are deactivated (which waits for the streaming threads). */
      if (self->engine)
        vss_embed_bedrock_set_flushing (self->engine, TRUE);
      break;
    default:
      break;
  }

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);

  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      if (ret == GST_STATE_CHANGE_FAILURE)
        gst_vss_embed_stop (self);
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      gst_vss_embed_stop (self);
      break;
    default:
      break;
  }
  return ret;
}

/* What the element takes and gives: with provider=local, raw video in the
 * formats the local embedding reads; with provider=bedrock, its templates
 * (raw video of any of those formats, JPEG, PNG). */
static GstCaps *
gst_vss_embed_allowed_caps (GstVssEmbed * self)
{
  static GstStaticCaps local_caps =
      GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (GST_VSS_EMBED_LOCAL_FORMATS));
  gboolean bedrock;

  GST_OBJECT_LOCK (self);
  bedrock = self->provider == GST_VSS_EMBED_PROVIDER_BEDROCK;
  GST_OBJECT_UNLOCK (self);
  if (bedrock)
    return gst_static_pad_template_get_caps (&sink_template);
  return gst_static_caps_get (&local_caps);
}

/* Buffers pass through untouched: one pad takes what the other's peer
 * takes, within what the provider reads. */
static gboolean
gst_vss_embed_query_caps (GstVssEmbed * self, GstPad * pad, GstQuery * query)
{
  GstPad *other = pad == self->sinkpad ? self->srcpad : self->sinkpad;
  GstCaps *filter, *allowed, *peer_filter = NULL, *peer, *caps;

  gst_query_parse_caps (query, &filter);
  allowed = gst_vss_embed_allowed_caps (self);
  if (filter)
    peer_filter = gst_caps_intersect_full (filter, allowed,
        GST_CAPS_INTERSECT_FIRST);
  peer = gst_pad_peer_query_caps (other, peer_filter);
  caps = gst_caps_intersect_full (peer, allowed, GST_CAPS_INTERSECT_FIRST);
  if (filter) {
    GstCaps *filtered = gst_caps_intersect_full (filter, caps,
        GST_CAPS_INTERSECT_FIRST);

    gst_caps_unref (caps);
    caps = filtered;
  }
  GST_LOG_OBJECT (pad, "caps %" GST_PTR_FORMAT, caps);
  gst_query_set_caps_result (query, caps);
  gst_caps_unref (caps);
  gst_caps_unref (peer);
  if (peer_filter)
    gst_caps_unref (peer_filter);
  gst_caps_unref (allowed);
  return TRUE;
}

/* As GstBaseTransform did: caps that fit what the provider reads; whether
 * they suit downstream shows when the caps event is pushed. */
static gboolean
gst_vss_embed_query_accept_caps (GstVssEmbed * self, GstQuery * query)
{
  GstCaps *caps, *allowed;
  gboolean ok;

  gst_query_parse_accept_caps (query, &caps);
  allowed = gst_vss_embed_allowed_caps (self);
  ok = gst_caps_can_intersect (caps, allowed);
  if (!ok)
    GST_DEBUG_OBJECT (self, "refusing %" GST_PTR_FORMAT, caps);
  gst_query_set_accept_caps_result (query, ok);
  gst_caps_unref (allowed);
  return TRUE;
}

static gboolean
gst_vss_embed_query_latency (GstVssEmbed * self, GstQuery * query)
{
  GstClockTime min, max, dur;
  gboolean live;
  guint latency_ms, frames;

  if (!gst_pad_peer_query (self->sinkpad, query))
    return FALSE;
  gst_query_parse_latency (query, &live, &min, &max);
  GST_OBJECT_LOCK (self);
  latency_ms = self->latency_ms;
  frames = self->s_max_in_flight + self->s_queue_size;
  dur = self->frame_dur;
  GST_OBJECT_UNLOCK (self);
  if (live) {
    min += latency_ms * GST_MSECOND;
    if (GST_CLOCK_TIME_IS_VALID (max)) {
      if (GST_CLOCK_TIME_IS_VALID (dur))
        max += frames * dur;
      else
        max = GST_CLOCK_TIME_NONE;
    }
  }
  GST_DEBUG_OBJECT (self, "latency: live %d, min %" GST_TIME_FORMAT ", max %"
      GST_TIME_FORMAT, live, GST_TIME_ARGS (min), GST_TIME_ARGS (max));
  gst_query_set_latency (query, live, min, max);
  return TRUE;
}

static gboolean
gst_vss_embed_sink_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  GstVssEmbed *self = GST_VSS_EMBED (parent);

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS:
      return gst_vss_embed_query_caps (self, pad, query);
    case GST_QUERY_ACCEPT_CAPS:
      return gst_vss_embed_query_accept_caps (self, query);
    case GST_QUERY_ALLOCATION:
      /* Buffers pass through untouched, so downstream's allocation suits
       * upstream. */
      return gst_pad_peer_query (self->srcpad, query);
    case GST_QUERY_DRAIN:
      /* DRAIN means "everything before me has been pushed". */
      if (self->engine && !vss_embed_bedrock_drain (self->engine))
        return FALSE;
      break;
    default:
      break;
  }
  return gst_pad_query_default (pad, parent, query);
}

static gboolean
gst_vss_embed_src_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  GstVssEmbed *self = GST_VSS_EMBED (parent);
  gboolean bedrock;

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS:
      return gst_vss_embed_query_caps (self, pad, query);
    case GST_QUERY_ACCEPT_CAPS:
      return gst_vss_embed_query_accept_caps (self, query);
    case GST_QUERY_LATENCY:
      GST_OBJECT_LOCK (self);
      bedrock = self->bedrock;
      GST_OBJECT_UNLOCK (self);
      if (bedrock)
        return gst_vss_embed_query_latency (self, query);
      break;
    default:
      break;
  }
  return gst_pad_query_default (pad, parent, query);
}

static gboolean
gst_vss_embed_set_caps_local (GstVssEmbed * self, GstCaps * caps)
{
  GstVideoInfo info;
  const gchar *name = gst_structure_get_name (gst_caps_get_structure (caps,
          0));

  if (g_str_has_prefix (name, "image/"))
    goto needs_bedrock;
  if (!gst_video_info_from_caps (&info, caps))
    goto bad_caps;
  if (!gst_vss_embed_local_supports_format (GST_VIDEO_INFO_FORMAT (&info)))
    goto bad_format;
  if (GST_VIDEO_INFO_WIDTH (&info) <= 0 || GST_VIDEO_INFO_HEIGHT (&info) <= 0)
    goto bad_caps;

  self->info = info;
  self->have_info = TRUE;
  GST_DEBUG_OBJECT (self, "caps %" GST_PTR_FORMAT, caps);
  return TRUE;

  /* ERRORS */
bad_caps:
  {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("vssembed cannot read these video caps."),
        ("caps %" GST_PTR_FORMAT " do not describe raw video with a size",
            caps));
    return FALSE;
  }
bad_format:
  {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("vssembed cannot read video format %s.",
            gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&info))),
        ("supported: %s; put videoconvert before vssembed",
            GST_VSS_EMBED_LOCAL_FORMATS));
    return FALSE;
  }
needs_bedrock:
  {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("vssembed provider=local cannot read %s input.", name),
        ("only provider=bedrock takes encoded images; with provider=local "
            "decode first (e.g. jpegdec ! videoconvert)"));
    return FALSE;
  }
}

static gboolean
gst_vss_embed_set_caps_bedrock (GstVssEmbed * self, GstCaps * caps)
{
  GstStructure *s = gst_caps_get_structure (caps, 0);
  const gchar *name = gst_structure_get_name (s);
  GstClockTime dur = GST_CLOCK_TIME_NONE;
  gint fn = 0, fd = 1;

  if (gst_structure_has_name (s, "image/jpeg")
      || gst_structure_has_name (s, "image/png")) {
    self->input_is_image = TRUE;
  } else {
    GstVideoInfo info;

    if (!gst_video_info_from_caps (&info, caps)
        || GST_VIDEO_INFO_WIDTH (&info) <= 0
        || GST_VIDEO_INFO_HEIGHT (&info) <= 0)
      goto bad_caps;
    self->info = info;
    self->input_is_image = FALSE;
  }
  if (gst_structure_get_fraction (s, "framerate", &fn, &fd) && fn > 0 && fd > 0)
    dur = gst_util_uint64_scale_int (GST_SECOND, fd, fn);
  GST_OBJECT_LOCK (self);
  self->frame_dur = dur;
  GST_OBJECT_UNLOCK (self);
  self->have_info = TRUE;
  GST_DEBUG_OBJECT (self, "caps %" GST_PTR_FORMAT, caps);
  return TRUE;

  /* ERRORS */
bad_caps:
  {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("vssembed cannot read these caps (%s).", name),
        ("caps %" GST_PTR_FORMAT " do not describe raw video with a size",
            caps));
    return FALSE;
  }
}

static void gst_vss_embed_src_loop (GstVssEmbed * self);

static gboolean
gst_vss_embed_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstVssEmbed *self = GST_VSS_EMBED (parent);
  gboolean ret;

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_START:
      ret = gst_pad_push_event (self->srcpad, event);
      if (self->engine) {
        vss_embed_bedrock_set_flushing (self->engine, TRUE);
        gst_pad_pause_task (self->srcpad);
      }
      return ret;
    case GST_EVENT_FLUSH_STOP:
      gst_segment_init (&self->segment, GST_FORMAT_TIME);
      if (self->engine == NULL)
        return gst_pad_push_event (self->srcpad, event);
      vss_embed_bedrock_set_flushing (self->engine, FALSE);
      ret = gst_pad_push_event (self->srcpad, event);
      gst_pad_start_task (self->srcpad, (GstTaskFunction)
          gst_vss_embed_src_loop, self, NULL);
      return ret;
    case GST_EVENT_CAPS:{
      GstCaps *caps;
      gboolean ok;

      gst_event_parse_caps (event, &caps);
      ok = self->engine ? gst_vss_embed_set_caps_bedrock (self, caps) :
          gst_vss_embed_set_caps_local (self, caps);
      if (!ok) {
        gst_event_unref (event);
        return FALSE;
      }
      break;
    }
    case GST_EVENT_SEGMENT:
      gst_event_copy_segment (event, &self->segment);
      break;
    default:
      break;
  }
  /* With provider=bedrock, serialized events keep their place between the
   * frames and leave from the source pad's task. */
  if (self->engine && GST_EVENT_IS_SERIALIZED (event))
    return vss_embed_bedrock_submit_event (self->engine, event);
  return gst_pad_push_event (self->srcpad, event);
}

/* Wall-clock capture time of @buf in microseconds since the epoch.
 *
 * 1. A reference timestamp (timestamp/x-unix) from the source, e.g. rtspsrc's
 *    RTCP sender reports, is the real capture time.
 * 2. Otherwise, when the frame's running time is at most a few seconds
 *    behind the pipeline clock (a live source), the frame was captured that
 *    long ago.
 * 3. Otherwise (files decoded faster than real time) the time we see it.
 */
static gint64
gst_vss_embed_capture_time (GstVssEmbed * self, GstBuffer * buf)
{
  static GstCaps *unix_caps = NULL;
  GstReferenceTimestampMeta *ref;
  GstClock *clock;
  gint64 now = g_get_real_time ();

  if (g_once_init_enter (&unix_caps)) {
    GstCaps *c = gst_caps_new_empty_simple ("timestamp/x-unix");
    GST_MINI_OBJECT_FLAG_SET (c, GST_MINI_OBJECT_FLAG_MAY_BE_LEAKED);
    g_once_init_leave (&unix_caps, c);
  }

  ref = gst_buffer_get_reference_timestamp_meta (buf, unix_caps);
  if (ref != NULL && GST_CLOCK_TIME_IS_VALID (ref->timestamp))
    return (gint64) (ref->timestamp / 1000);

  clock = gst_element_get_clock (GST_ELEMENT (self));
  if (clock != NULL && GST_BUFFER_PTS_IS_VALID (buf)) {
    GstClockTime base = gst_element_get_base_time (GST_ELEMENT (self));
    GstClockTime clock_now = gst_clock_get_time (clock);
    GstClockTime rt = gst_segment_to_running_time (&self->segment,
        GST_FORMAT_TIME, GST_BUFFER_PTS (buf));

    if (GST_CLOCK_TIME_IS_VALID (rt) && clock_now >= base) {
      GstClockTimeDiff age = GST_CLOCK_DIFF (rt, clock_now - base);

      if (age >= 0 && age < 10 * GST_SECOND)
        now -= age / 1000;
    }
  }
  if (clock)
    gst_object_unref (clock);
  return now;
}

/* The frame id is made once per frame: one that @buf already carries (an
 * earlier vssembed's, with another model) is kept. Returns TRUE then. */
static gboolean
gst_vss_embed_frame_id (GstVssEmbed * self, GstBuffer * buf, gchar * id)
{
  const gchar *existing = gst_vss_buffer_get_frame_id (buf);

  guint64 pos;

  if (existing != NULL && gst_vss_frame_id_is_valid (existing)) {
    g_strlcpy (id, existing, GST_VSS_FRAME_ID_SIZE);
    return TRUE;
  }
  /* A frame of a file: named by its position in it. */
  pos = self->s_source_id && GST_BUFFER_PTS_IS_VALID (buf) ?
      gst_segment_to_stream_time (&self->segment, GST_FORMAT_TIME,
      GST_BUFFER_PTS (buf)) : GST_CLOCK_TIME_NONE;
  if (GST_CLOCK_TIME_IS_VALID (pos))
    gst_vss_frame_id_for_position (self->s_source_time_ms +
        (gint64) (pos / GST_MSECOND), self->s_source_id, pos, id);
  else
    gst_vss_frame_id_new (gst_vss_embed_capture_time (self, buf), id);
  return FALSE;
}

/* provider=local: embed and push in the streaming thread, no hop. */
static GstFlowReturn
gst_vss_embed_chain_local (GstVssEmbed * self, GstBuffer * buf)
{
  GstVideoFrame frame;
  gchar frame_id[GST_VSS_FRAME_ID_SIZE];
  gfloat *vec;
  gint64 t0, dt;
  gboolean reused;

  if (!gst_video_frame_map (&frame, &self->info, buf, GST_MAP_READ))
    goto map_failed;

  vec = g_new (gfloat, self->dim);
  t0 = g_get_monotonic_time ();
  if (!gst_vss_embed_local_model_frame (self->local_model, &frame, vec)) {
    gst_video_frame_unmap (&frame);
    g_free (vec);
    goto embed_failed;
  }
  dt = g_get_monotonic_time () - t0;
  gst_video_frame_unmap (&frame);

  reused = gst_vss_embed_frame_id (self, buf, frame_id);
  /* Shares the pixels; only the metas are the buffer's own. */
  buf = gst_buffer_make_writable (buf);
  if (!gst_vss_buffer_add_embedding_meta_take (buf, self->active_model, vec,
          self->dim, TRUE, frame_id))
    goto meta_failed;

  GST_LOG_OBJECT (self, "frame %s pts %" GST_TIME_FORMAT " embedded in %"
      G_GINT64_FORMAT " us", frame_id, GST_TIME_ARGS (GST_BUFFER_PTS (buf)),
      dt);

  GST_OBJECT_LOCK (self);
  self->frames_in++;
  self->frames_embedded++;
  if (reused)
    self->frames_reused_id++;
  self->embed_time_total_ns += (guint64) dt *1000;
  self->embed_time_max_ns = MAX (self->embed_time_max_ns, (guint64) dt * 1000);
  GST_OBJECT_UNLOCK (self);
  return gst_pad_push (self->srcpad, buf);

  /* ERRORS */
map_failed:
  {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("vssembed received a frame that does not match its caps."),
        ("buffer of %" G_GSIZE_FORMAT " bytes, caps need %" G_GSIZE_FORMAT
            " bytes for %dx%d %s", gst_buffer_get_size (buf),
            GST_VIDEO_INFO_SIZE (&self->info),
            GST_VIDEO_INFO_WIDTH (&self->info),
            GST_VIDEO_INFO_HEIGHT (&self->info),
            GST_VIDEO_INFO_NAME (&self->info)));
    gst_buffer_unref (buf);
    return GST_FLOW_ERROR;
  }
embed_failed:
  {
    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("vssembed could not compute the embedding of a frame."),
        ("format %s not supported by the local embedding",
            GST_VIDEO_INFO_NAME (&self->info)));
    gst_buffer_unref (buf);
    return GST_FLOW_ERROR;
  }
meta_failed:
  {
    GST_ELEMENT_ERROR (self, CORE, FAILED,
        ("vssembed could not attach the embedding to the frame."),
        ("buffer not writable or meta registration failed"));
    gst_buffer_unref (buf);
    return GST_FLOW_ERROR;
  }
}

/* provider=bedrock: hand the frame to the engine; it leaves from the
 * source pad's task. Blocks while the engine is full. */
static GstFlowReturn
gst_vss_embed_chain_bedrock (GstVssEmbed * self, GstBuffer * buf)
{
  EmbedFrame *f = g_new (EmbedFrame, 1);
  GstFlowReturn ret;

  f->t_in = g_get_monotonic_time ();
  f->reused_id = gst_vss_embed_frame_id (self, buf, f->frame_id);
  ret = vss_embed_bedrock_submit_frame (self->engine, buf,
      self->input_is_image ? NULL : &self->info, f, g_free);
  if (ret != GST_FLOW_OK) {
    GST_DEBUG_OBJECT (self, "refusing buffer: %s", gst_flow_get_name (ret));
    return ret;
  }
  GST_OBJECT_LOCK (self);
  self->frames_in++;
  GST_OBJECT_UNLOCK (self);
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_vss_embed_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  GstVssEmbed *self = GST_VSS_EMBED (parent);

  if (G_UNLIKELY (!self->have_info))
    goto not_negotiated;
  if (self->engine)
    return gst_vss_embed_chain_bedrock (self, buf);
  return gst_vss_embed_chain_local (self, buf);

  /* ERRORS */
not_negotiated:
  {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("vssembed received a frame before its format was known."),
        ("no caps event before the first buffer"));
    gst_buffer_unref (buf);
    return GST_FLOW_NOT_NEGOTIATED;
  }
}

/* Posts the failure of @job as an error (fail) or a warning (skip). */
static void
gst_vss_embed_post_failure (GstVssEmbed * self, VssEmbedBedrockJob * job,
    gboolean error)
{
  EmbedFrame *f = job->user_data;
  gchar *text, *debug;
  const gchar *type = job->error_type ? job->error_type : "";
  const gchar *msg = job->message ? job->message : "";

  switch (job->status) {
    case GST_VSS_BEDROCK_HTTP_ERROR:
      text = g_strdup_printf ("Amazon Bedrock refused to embed a frame: HTTP "
          "%ld %s.", job->http_status, type[0] ? type : "(no error type)");
      break;
    case GST_VSS_BEDROCK_TRANSPORT_ERROR:
      text = g_strdup ("Amazon Bedrock did not answer.");
      break;
    case GST_VSS_BEDROCK_BAD_RESPONSE:
      text = g_strdup ("Amazon Bedrock sent an unusable answer.");
      break;
    default:
      text = g_strdup (job->bad_input ? "vssembed could not prepare a frame "
          "for Amazon Bedrock." : "vssembed could not make a Bedrock "
          "request.");
      break;
  }
  debug = g_strdup_printf ("%s%s(model %s, frame %s, %u attempt%s)%s", msg,
      msg[0] ? " " : "", self->active_model, f->frame_id, job->attempts,
      job->attempts == 1 ? "" : "s", !error && self->warnings_suppressed ?
      "; more frames failed since the last warning, see stats" : "");
#define DETAILS ("http-status-code", G_TYPE_INT, (gint) job->http_status, \
      "aws-error-type", G_TYPE_STRING, type, "aws-message", G_TYPE_STRING, \
      msg, NULL)
  if (error && (job->http_status == 401 || job->http_status == 403))
    GST_ELEMENT_ERROR_WITH_DETAILS (self, RESOURCE, NOT_AUTHORIZED,
        ("%s", text), ("%s", debug), DETAILS);
  else if (error)
    GST_ELEMENT_ERROR_WITH_DETAILS (self, RESOURCE, FAILED, ("%s", text),
        ("%s", debug), DETAILS);
  else
    GST_ELEMENT_WARNING_WITH_DETAILS (self, RESOURCE, FAILED, ("%s", text),
        ("%s", debug), DETAILS);
#undef DETAILS
  g_free (text);
  g_free (debug);
}

/* A frame whose embedding failed for good, as on-error says. Returns the
 * flow; *posted tells whether an error message was posted. */
static GstFlowReturn
gst_vss_embed_finish_failed (GstVssEmbed * self, VssEmbedBedrockJob * job,
    GstBuffer * buf, gboolean * posted)
{
  EmbedFrame *f = job->user_data;
  GstVssEmbedOnError on_error;
  gint64 now;

  GST_OBJECT_LOCK (self);
  on_error = self->on_error;
  if (on_error == GST_VSS_EMBED_ON_ERROR_SKIP)
    self->frames_skipped++;
  else if (on_error == GST_VSS_EMBED_ON_ERROR_DROP)
    self->frames_dropped++;
  GST_OBJECT_UNLOCK (self);
  GST_DEBUG_OBJECT (self, "frame %s failed: status %d, HTTP %ld %s",
      f->frame_id, job->status, job->http_status,
      job->error_type ? job->error_type : "");
  switch (on_error) {
    case GST_VSS_EMBED_ON_ERROR_SKIP:
      /* At most one warning a second: an outage must not flood the bus. */
      now = g_get_monotonic_time ();
      if (self->last_warning_us == 0
          || now - self->last_warning_us >= G_USEC_PER_SEC) {
        gst_vss_embed_post_failure (self, job, FALSE);
        self->last_warning_us = now;
        self->warnings_suppressed = 0;
      } else {
        self->warnings_suppressed++;
      }
      return gst_pad_push (self->srcpad, buf);
    case GST_VSS_EMBED_ON_ERROR_DROP:
      gst_buffer_unref (buf);
      return GST_FLOW_OK;
    default:
      /* Refuse upstream before the error is seen, so nothing slips in. */
      vss_embed_bedrock_set_flow (self->engine, GST_FLOW_ERROR);
      gst_vss_embed_post_failure (self, job, TRUE);
      *posted = TRUE;
      gst_buffer_unref (buf);
      return GST_FLOW_ERROR;
  }
}

/* Pushes (or not) a frame the engine is done with. */
static GstFlowReturn
gst_vss_embed_finish_frame (GstVssEmbed * self, VssEmbedBedrockJob * job,
    gboolean * posted)
{
  EmbedFrame *f = job->user_data;
  GstBuffer *buf = job->buffer;
  guint64 dt;

  job->buffer = NULL;
  *posted = FALSE;
  if (job->status == GST_VSS_BEDROCK_CANCELLED) {
    gst_buffer_unref (buf);
    return GST_FLOW_FLUSHING;
  }
  if (job->status != GST_VSS_BEDROCK_OK)
    return gst_vss_embed_finish_failed (self, job, buf, posted);

  buf = gst_buffer_make_writable (buf);
  gst_vss_buffer_add_embedding_meta_take (buf, self->active_model,
      job->vector, job->dim, TRUE, f->frame_id);
  job->vector = NULL;
  dt = (guint64) (g_get_monotonic_time () - f->t_in) * 1000;
  GST_OBJECT_LOCK (self);
  self->frames_embedded++;
  if (f->reused_id)
    self->frames_reused_id++;
  self->embed_time_total_ns += dt;
  self->embed_time_max_ns = MAX (self->embed_time_max_ns, dt);
  GST_OBJECT_UNLOCK (self);
  GST_LOG_OBJECT (self, "frame %s embedded after %u attempt(s)", f->frame_id,
      job->attempts);
  return gst_pad_push (self->srcpad, buf);
}

/* The source pad's task (provider=bedrock): one frame or event per turn,
 * in input order. */
static void
gst_vss_embed_src_loop (GstVssEmbed * self)
{
  VssEmbedBedrockJob *job;
  GstFlowReturn ret = GST_FLOW_OK;
  gboolean posted = FALSE;

  job = vss_embed_bedrock_pop (self->engine);
  if (job == NULL)
    goto flushing;

  if (job->event) {
    GstEvent *ev = job->event;

    job->event = NULL;
    GST_DEBUG_OBJECT (self, "pushing %" GST_PTR_FORMAT, ev);
    gst_pad_push_event (self->srcpad, ev);
  } else {
    ret = gst_vss_embed_finish_frame (self, job, &posted);
  }
  vss_embed_bedrock_job_done (self->engine, job, ret);
  if (ret == GST_FLOW_OK)
    return;

  if (!posted && (ret == GST_FLOW_NOT_LINKED || ret < GST_FLOW_EOS)
      && ret != GST_FLOW_FLUSHING)
    GST_ELEMENT_FLOW_ERROR (self, ret);
  GST_DEBUG_OBJECT (self, "pausing task: %s", gst_flow_get_name (ret));
  gst_pad_pause_task (self->srcpad);
  return;

flushing:
  GST_DEBUG_OBJECT (self, "flushing, pausing task");
  gst_pad_pause_task (self->srcpad);
}

static gboolean
gst_vss_embed_src_activate_mode (GstPad * pad, GstObject * parent,
    GstPadMode mode, gboolean active)
{
  GstVssEmbed *self = GST_VSS_EMBED (parent);

  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  /* provider=local pushes from the sink pad's thread: no task. */
  if (self->engine == NULL)
    return TRUE;
  if (active) {
    vss_embed_bedrock_set_flushing (self->engine, FALSE);
    return gst_pad_start_task (pad, (GstTaskFunction) gst_vss_embed_src_loop,
        self, NULL);
  }
  vss_embed_bedrock_set_flushing (self->engine, TRUE);
  return gst_pad_stop_task (pad);
}
