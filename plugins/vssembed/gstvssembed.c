/* gst-vss: vssembed
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Locking: the object lock guards the properties and `stats`; it is never
 * held while computing an embedding or pushing.
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
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc num-buffers=10 ! vssembed provider=local ! fakesink
 * ]|
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/video/video.h>
#include "gstvssembed.h"
#include "gstvss.h"

GST_DEBUG_CATEGORY_STATIC (gst_vss_embed_debug);
#define GST_CAT_DEFAULT gst_vss_embed_debug

#define CAPS_STR GST_VIDEO_CAPS_MAKE (GST_VSS_LOCAL_FORMATS)

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (CAPS_STR));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (CAPS_STR));

#define DEFAULT_PROVIDER GST_VSS_EMBED_PROVIDER_LOCAL
#define DEFAULT_MODEL NULL

enum
{
  PROP_0,
  PROP_PROVIDER,
  PROP_MODEL,
  PROP_STATS,
};

struct _GstVssEmbed
{
  GstBaseTransform parent;

  /* properties (object lock) */
  GstVssEmbedProvider provider;
  gchar *model;

  /* stream state, streaming thread only */
  GstVideoInfo info;
  gboolean have_info;
  gchar *active_model;          /* model name written into the metas */
  guint dim;

  /* statistics (object lock) */
  guint64 frames_in;
  guint64 frames_embedded;
  guint64 frames_reused_id;
  guint64 embed_time_total_ns;
  guint64 embed_time_max_ns;
};

#define gst_vss_embed_parent_class parent_class
G_DEFINE_TYPE (GstVssEmbed, gst_vss_embed, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (vssembed, "vssembed", GST_RANK_NONE,
    GST_TYPE_VSS_EMBED,
    GST_DEBUG_CATEGORY_INIT (gst_vss_embed_debug, "vssembed", 0,
        "Frame embeddings"));

GType
gst_vss_embed_provider_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_VSS_EMBED_PROVIDER_LOCAL,
        "Built-in model-free embedding (vss-local-v1), no network", "local"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVssEmbedProvider", values);
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
          "detection)", GST_TYPE_VSS_EMBED_PROVIDER, DEFAULT_PROVIDER,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "Model name written into the embedding meta and used by downstream "
          "elements to find it. Empty or NULL: the provider's model "
          "(local: 'vss-local-v1', the only model it has)", DEFAULT_MODEL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "Counters since the element last started (read-only): frames-in, "
          "frames-embedded, ids-reused (frames that already had a frame id), "
          "model, dimension, mean-embed-us and max-embed-us (time to compute "
          "one embedding, in microseconds)", GST_TYPE_STRUCTURE,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Video frame embedding", "Filter/Analyzer/Video",
      "Attaches an embedding vector and a frame id to every video frame",
      "gst-vss developers");

  trans_class->start = GST_DEBUG_FUNCPTR (gst_vss_embed_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_vss_embed_stop);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_vss_embed_set_caps);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_vss_embed_transform_ip);
  /* We only add metas: never touch pixels, keep every upstream meta. */
  trans_class->transform_ip_on_passthrough = FALSE;
  trans_class->passthrough_on_same_caps = FALSE;

  gst_type_mark_as_plugin_api (GST_TYPE_VSS_EMBED_PROVIDER, 0);
}

static void
gst_vss_embed_init (GstVssEmbed * self)
{
  self->provider = DEFAULT_PROVIDER;
  self->model = NULL;
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
}

static void
gst_vss_embed_finalize (GObject * object)
{
  GstVssEmbed *self = GST_VSS_EMBED (object);

  g_free (self->model);
  g_free (self->active_model);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_vss_embed_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstVssEmbed *self = GST_VSS_EMBED (object);

  GST_OBJECT_LOCK (self);
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

  return gst_structure_new ("vss-embed-stats",
      "frames-in", G_TYPE_UINT64, self->frames_in,
      "frames-embedded", G_TYPE_UINT64, self->frames_embedded,
      "ids-reused", G_TYPE_UINT64, self->frames_reused_id,
      "model", G_TYPE_STRING, self->active_model ? self->active_model : "",
      "dimension", G_TYPE_UINT, self->dim,
      "mean-embed-us", G_TYPE_DOUBLE, mean_us,
      "max-embed-us", G_TYPE_DOUBLE, self->embed_time_max_ns / 1000.0, NULL);
}

static void
gst_vss_embed_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstVssEmbed *self = GST_VSS_EMBED (object);

  GST_OBJECT_LOCK (self);
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
  model = g_strdup (self->model ? self->model : GST_VSS_LOCAL_MODEL);
  self->frames_in = self->frames_embedded = self->frames_reused_id = 0;
  self->embed_time_total_ns = self->embed_time_max_ns = 0;
  GST_OBJECT_UNLOCK (self);

  if (g_strcmp0 (model, GST_VSS_LOCAL_MODEL) != 0)
    goto unknown_model;

  GST_OBJECT_LOCK (self);
  g_free (self->active_model);
  self->active_model = model;
  self->dim = gst_vss_local_embed_dim ();
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
            "to that name", GST_VSS_LOCAL_MODEL));
    g_free (model);
    return FALSE;
  }
}

static gboolean
gst_vss_embed_stop (GstBaseTransform * trans)
{
  GstVssEmbed *self = GST_VSS_EMBED (trans);

  self->have_info = FALSE;
  return TRUE;
}

static gboolean
gst_vss_embed_set_caps (GstBaseTransform * trans, GstCaps * incaps,
    GstCaps * outcaps)
{
  GstVssEmbed *self = GST_VSS_EMBED (trans);
  GstVideoInfo info;

  if (!gst_video_info_from_caps (&info, incaps))
    goto bad_caps;
  if (!gst_vss_local_embed_supports_format (GST_VIDEO_INFO_FORMAT (&info)))
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
            GST_VSS_LOCAL_FORMATS));
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
    GstSegment *seg = &GST_BASE_TRANSFORM (self)->segment;
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
  if (!gst_vss_local_embed_frame (&frame, vec)) {
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
    gst_vss_frame_id_new (gst_vss_embed_capture_time (self, buf), frame_id);
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
