/* gst-vss: vssembed
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Locking: the object lock guards the properties and `stats`; it is never
 * held while computing an embedding or pushing. The Bedrock path's queue
 * lock is described in gstvssembedbedrock.c; lock order: queue lock, then
 * object lock.
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
 *  - `local`: the built-in model-free embedding "vss-local-v1" (about 100
 *    floats: low-frequency DCT of the frame's luma layout and a coarse colour
 *    layout), computed in well under a millisecond per 1080p frame, with no
 *    network. Calibrated so that a cosine distance below 0.2 means "same
 *    scene".
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
#include "gstvssembedpriv.h"

GST_DEBUG_CATEGORY (gst_vss_embed_debug);
#define GST_CAT_DEFAULT gst_vss_embed_debug

/* image/jpeg and image/png only with provider=bedrock (set_caps says so). */
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
};


#define gst_vss_embed_parent_class parent_class
G_DEFINE_TYPE (GstVssEmbed, gst_vss_embed, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (vssembed, "vssembed", GST_RANK_NONE,
    GST_TYPE_VSS_EMBED);

GType
gst_vss_embed_provider_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_VSS_EMBED_PROVIDER_LOCAL,
        "Built-in model-free embedding (vss-local-v1), no network", "local"},
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
static gboolean gst_vss_embed_start (GstBaseTransform * trans);
static gboolean gst_vss_embed_stop (GstBaseTransform * trans);
static gboolean gst_vss_embed_set_caps (GstBaseTransform * trans,
    GstCaps * incaps, GstCaps * outcaps);
static GstFlowReturn gst_vss_embed_transform_ip (GstBaseTransform * trans,
    GstBuffer * buf);
static gboolean gst_vss_embed_query (GstBaseTransform * trans,
    GstPadDirection direction, GstQuery * query);
static GstStateChangeReturn gst_vss_embed_change_state (GstElement * element,
    GstStateChange transition);

static void
gst_vss_embed_class_init (GstVssEmbedClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->finalize = gst_vss_embed_finalize;
  gobject_class->set_property = gst_vss_embed_set_property;
  gobject_class->get_property = gst_vss_embed_get_property;

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
          "(local: 'vss-local-v1', the only model it has; bedrock: "
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
  gst_vss_aws_props_install (gobject_class, PROP_REGION,
      &gst_vss_aws_service_bedrock);
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

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Video frame embedding", "Filter/Analyzer/Video",
      "Attaches an embedding vector and a frame id to every video frame",
      "gst-vss developers");

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_vss_embed_change_state);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_vss_embed_query);
  trans_class->start = GST_DEBUG_FUNCPTR (gst_vss_embed_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_vss_embed_stop);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_vss_embed_set_caps);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_vss_embed_transform_ip);
  /* We only add metas: never touch pixels, keep every upstream meta. */
  trans_class->transform_ip_on_passthrough = FALSE;
  trans_class->passthrough_on_same_caps = FALSE;

  gst_type_mark_as_plugin_api (GST_TYPE_VSS_EMBED_PROVIDER, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_VSS_EMBED_ON_ERROR, 0);
  GST_DEBUG_CATEGORY_INIT (gst_vss_embed_debug, "vssembed", 0,
      "Frame embeddings");
}

/* provider=bedrock takes over the sink pad's dataflow (jobs queue, source
 * pad task); provider=local keeps GstBaseTransform's. */
static GstFlowReturn
gst_vss_embed_sink_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  GstVssEmbed *self = GST_VSS_EMBED (parent);

  if (self->bedrock)
    return gst_vss_embed_bedrock_chain (self, buf);
  return self->base_chain (pad, parent, buf);
}

static gboolean
gst_vss_embed_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstVssEmbed *self = GST_VSS_EMBED (parent);

  if (self->bedrock)
    return gst_vss_embed_bedrock_sink_event (self, event);
  return self->base_sink_event (pad, parent, event);
}

static gboolean
caps_are_images (GstCaps * caps)
{
  guint i;

  for (i = 0; i < gst_caps_get_size (caps); i++)
    if (g_str_has_prefix (gst_structure_get_name (gst_caps_get_structure
                (caps, i)), "image/"))
      return TRUE;
  return FALSE;
}

static gboolean
gst_vss_embed_sink_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  GstVssEmbed *self = GST_VSS_EMBED (parent);

  gboolean bedrock;

  /* Buffers pass through untouched, so downstream's allocation suits
   * upstream; the base class would refuse before it saw caps itself. */
  if (self->bedrock && GST_QUERY_TYPE (query) == GST_QUERY_ALLOCATION)
    return gst_pad_peer_query (GST_BASE_TRANSFORM_SRC_PAD (self), query);
  /* DRAIN means "everything before me has been pushed". */
  if (self->bedrock && GST_QUERY_TYPE (query) == GST_QUERY_DRAIN
      && !gst_vss_embed_bedrock_drain (self))
    return FALSE;

  /* Encoded images only with provider=bedrock. */
  GST_OBJECT_LOCK (self);
  bedrock = self->provider == GST_VSS_EMBED_PROVIDER_BEDROCK;
  GST_OBJECT_UNLOCK (self);
  if (!bedrock && GST_QUERY_TYPE (query) == GST_QUERY_ACCEPT_CAPS) {
    GstCaps *caps;

    gst_query_parse_accept_caps (query, &caps);
    if (caps_are_images (caps)) {
      GST_DEBUG_OBJECT (self, "provider=local refuses %" GST_PTR_FORMAT, caps);
      gst_query_set_accept_caps_result (query, FALSE);
      return TRUE;
    }
  }
  if (!self->base_sink_query (pad, parent, query))
    return FALSE;
  if (!bedrock && GST_QUERY_TYPE (query) == GST_QUERY_CAPS) {
    GstCaps *caps, *raw;

    gst_query_parse_caps_result (query, &caps);
    raw =
        gst_caps_from_string (GST_VIDEO_CAPS_MAKE
        (GST_VSS_EMBED_LOCAL_FORMATS));
    caps = gst_caps_intersect (caps, raw);
    gst_query_set_caps_result (query, caps);
    gst_caps_unref (caps);
    gst_caps_unref (raw);
  }
  return TRUE;
}

static gboolean
gst_vss_embed_src_activate (GstPad * pad, GstObject * parent,
    GstPadMode mode, gboolean active)
{
  GstVssEmbed *self = GST_VSS_EMBED (parent);
  gboolean bedrock;

  GST_OBJECT_LOCK (self);
  bedrock = self->provider == GST_VSS_EMBED_PROVIDER_BEDROCK;
  GST_OBJECT_UNLOCK (self);
  if (!active)
    gst_vss_embed_bedrock_src_activate (self, pad, FALSE);
  if (!self->base_src_activate (pad, parent, mode, active))
    return FALSE;
  if (active && bedrock && mode == GST_PAD_MODE_PUSH)
    return gst_vss_embed_bedrock_src_activate (self, pad, TRUE);
  return TRUE;
}

static void
gst_vss_embed_init (GstVssEmbed * self)
{
  GstBaseTransform *trans = GST_BASE_TRANSFORM (self);

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
  gst_base_transform_set_in_place (trans, TRUE);

  self->base_chain = GST_PAD_CHAINFUNC (trans->sinkpad);
  self->base_sink_event = GST_PAD_EVENTFUNC (trans->sinkpad);
  self->base_sink_query = GST_PAD_QUERYFUNC (trans->sinkpad);
  self->base_src_activate = GST_PAD_ACTIVATEMODEFUNC (trans->srcpad);
  gst_pad_set_chain_function (trans->sinkpad,
      GST_DEBUG_FUNCPTR (gst_vss_embed_sink_chain));
  gst_pad_set_event_function (trans->sinkpad,
      GST_DEBUG_FUNCPTR (gst_vss_embed_sink_event));
  gst_pad_set_query_function (trans->sinkpad,
      GST_DEBUG_FUNCPTR (gst_vss_embed_sink_query));
  gst_pad_set_activatemode_function (trans->srcpad,
      GST_DEBUG_FUNCPTR (gst_vss_embed_src_activate));
  gst_vss_embed_bedrock_init (self);
}

static void
gst_vss_embed_finalize (GObject * object)
{
  GstVssEmbed *self = GST_VSS_EMBED (object);

  g_free (self->model);
  g_free (self->active_model);
  gst_vss_aws_props_clear (&self->aws);
  gst_vss_embed_bedrock_finalize (self);
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

  GstStructure *s = gst_structure_new ("vss-embed-stats",
      "frames-in", G_TYPE_UINT64, self->frames_in,
      "frames-embedded", G_TYPE_UINT64, self->frames_embedded,
      "ids-reused", G_TYPE_UINT64, self->frames_reused_id,
      "model", G_TYPE_STRING, self->active_model ? self->active_model : "",
      "dimension", G_TYPE_UINT, self->dim,
      "mean-embed-us", G_TYPE_DOUBLE, mean_us,
      "max-embed-us", G_TYPE_DOUBLE, self->embed_time_max_ns / 1000.0, NULL);

  if (self->provider == GST_VSS_EMBED_PROVIDER_BEDROCK)
    gst_vss_embed_bedrock_add_stats (self, s);
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
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static gboolean
gst_vss_embed_start (GstBaseTransform * trans)
{
  GstVssEmbed *self = GST_VSS_EMBED (trans);
  gchar *model;

  GST_OBJECT_LOCK (self);
  self->frames_in = self->frames_embedded = self->frames_reused_id = 0;
  self->frames_skipped = self->frames_dropped = self->frames_reencoded = 0;
  self->embed_time_total_ns = self->embed_time_max_ns = 0;
  self->max_in_flight_seen = 0;
  memset (&self->last_client_stats, 0, sizeof (self->last_client_stats));
  self->bedrock = self->provider == GST_VSS_EMBED_PROVIDER_BEDROCK;
  model = g_strdup (self->model ? self->model : GST_VSS_EMBED_LOCAL_MODEL);
  GST_OBJECT_UNLOCK (self);

  if (self->bedrock) {
    g_free (model);
    return gst_vss_embed_bedrock_start (self);
  }

  if (g_strcmp0 (model, GST_VSS_EMBED_LOCAL_MODEL) != 0)
    goto unknown_model;

  GST_OBJECT_LOCK (self);
  g_free (self->active_model);
  self->active_model = model;
  self->dim = gst_vss_embed_local_dim ();
  GST_OBJECT_UNLOCK (self);
  self->have_info = FALSE;
  GST_DEBUG_OBJECT (self, "provider local, model %s, dimension %u",
      self->active_model, self->dim);
  return TRUE;

  /* ERRORS */
unknown_model:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Model '%s' is not available with provider 'local'.", model),
        ("provider=local only computes '%s'; leave 'model' empty or set it "
            "to that name", GST_VSS_EMBED_LOCAL_MODEL));
    g_free (model);
    return FALSE;
  }
}

static gboolean
gst_vss_embed_stop (GstBaseTransform * trans)
{
  GstVssEmbed *self = GST_VSS_EMBED (trans);

  if (self->bedrock)
    gst_vss_embed_bedrock_stop (self);
  self->have_info = FALSE;
  return TRUE;
}

static GstStateChangeReturn
gst_vss_embed_change_state (GstElement * element, GstStateChange transition)
{
  GstVssEmbed *self = GST_VSS_EMBED (element);

  /* Wake a sink pad blocked on a full queue and cancel requests before the
   * pads are deactivated (which waits for the streaming threads). */
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY && self->bedrock)
    gst_vss_embed_bedrock_set_flushing (self);
  return GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
}

static gboolean
gst_vss_embed_query (GstBaseTransform * trans, GstPadDirection direction,
    GstQuery * query)
{
  GstVssEmbed *self = GST_VSS_EMBED (trans);

  if (self->bedrock && direction == GST_PAD_SRC
      && GST_QUERY_TYPE (query) == GST_QUERY_LATENCY)
    return gst_vss_embed_bedrock_latency (self, query);
  return GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction,
      query);
}

static gboolean
gst_vss_embed_set_caps (GstBaseTransform * trans, GstCaps * incaps,
    GstCaps * outcaps)
{
  GstVssEmbed *self = GST_VSS_EMBED (trans);
  GstVideoInfo info;
  const gchar *name = gst_structure_get_name (gst_caps_get_structure (incaps,
          0));

  if (g_str_has_prefix (name, "image/"))
    goto needs_bedrock;
  if (!gst_video_info_from_caps (&info, incaps))
    goto bad_caps;
  if (!gst_vss_embed_local_supports_format (GST_VIDEO_INFO_FORMAT (&info)))
    goto bad_format;
  if (GST_VIDEO_INFO_WIDTH (&info) <= 0 || GST_VIDEO_INFO_HEIGHT (&info) <= 0)
    goto bad_caps;

  self->info = info;
  self->have_info = TRUE;
  GST_DEBUG_OBJECT (self, "caps %" GST_PTR_FORMAT, incaps);
  return TRUE;

  /* ERRORS */
bad_caps:
  {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("vssembed cannot read these video caps."),
        ("caps %" GST_PTR_FORMAT " do not describe raw video with a size",
            incaps));
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

/* Wall-clock capture time of @buf in microseconds since the epoch.
 *
 * 1. A reference timestamp (timestamp/x-unix) from the source, e.g. rtspsrc's
 *    RTCP sender reports, is the real capture time.
 * 2. Otherwise, when the frame's running time is at most a few seconds
 *    behind the pipeline clock (a live source), the frame was captured that
 *    long ago.
 * 3. Otherwise (files decoded faster than real time) the time we see it.
 */
gint64
gst_vss_embed_capture_time (GstVssEmbed * self, GstBuffer * buf,
    const GstSegment * seg)
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
    GstClockTime rt = gst_segment_to_running_time (seg, GST_FORMAT_TIME,
        GST_BUFFER_PTS (buf));

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

static GstFlowReturn
gst_vss_embed_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstVssEmbed *self = GST_VSS_EMBED (trans);
  GstVideoFrame frame;
  gchar frame_id[GST_VSS_FRAME_ID_SIZE];
  const gchar *existing_id;
  gfloat *vec;
  gint64 t0, dt;
  gboolean reused = FALSE;

  if (G_UNLIKELY (!self->have_info))
    goto not_negotiated;

  if (!gst_video_frame_map (&frame, &self->info, buf, GST_MAP_READ))
    goto map_failed;

  vec = g_new (gfloat, self->dim);
  t0 = g_get_monotonic_time ();
  if (!gst_vss_embed_local_frame (&frame, vec)) {
    gst_video_frame_unmap (&frame);
    g_free (vec);
    goto embed_failed;
  }
  dt = g_get_monotonic_time () - t0;
  gst_video_frame_unmap (&frame);

  existing_id = gst_vss_buffer_get_frame_id (buf);
  if (existing_id != NULL && gst_vss_frame_id_is_valid (existing_id)) {
    g_strlcpy (frame_id, existing_id, sizeof (frame_id));
    reused = TRUE;
  } else {
    gst_vss_frame_id_new (gst_vss_embed_capture_time (self, buf,
            &trans->segment), frame_id);
  }

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
  return GST_FLOW_OK;

  /* ERRORS */
not_negotiated:
  {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("vssembed received a frame before its format was known."),
        ("no caps event before the first buffer"));
    return GST_FLOW_NOT_NEGOTIATED;
  }
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
    return GST_FLOW_ERROR;
  }
embed_failed:
  {
    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("vssembed could not compute the embedding of a frame."),
        ("format %s not supported by the local embedding",
            GST_VIDEO_INFO_NAME (&self->info)));
    return GST_FLOW_ERROR;
  }
meta_failed:
  {
    GST_ELEMENT_ERROR (self, CORE, FAILED,
        ("vssembed could not attach the embedding to the frame."),
        ("buffer not writable or meta registration failed"));
    return GST_FLOW_ERROR;
  }
}
