/* gst-vss: vssdedup
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Locking: the object lock guards the properties, the `settings_changed`
 * flag and the statistics. The window and the ring of kept-frame records are
 * touched only by the streaming thread (and by start/stop, when no buffer
 * flows), so they need no lock of ours; libvssindex locks its own window.
 * The object lock is never held while searching or posting a message.
 */

/**
 * SECTION:element-vssdedup
 * @title: vssdedup
 *
 * Drops near-duplicate video frames. Each frame's embedding (a
 * #GstVssEmbeddingMeta added by vssembed) is compared with the frames kept
 * so far; a frame whose cosine distance to a kept frame is below `threshold`
 * is dropped, otherwise it is kept and joins the window. Only kept frames
 * enter the window, so a slowly changing scene keeps one frame until it has
 * changed enough.
 *
 * In `mode=window` (default) the window holds the last `window-size` kept
 * frames (and, with `window-duration`, only those of the last so much stream
 * time), searched newest first on libvssindex's segmented window (exact scan
 * for recent frames, HNSW for older segments): revisits of an earlier scene
 * are caught too. In `mode=last-kept` a frame is compared with the last kept
 * frame only, like ffmpeg's mpdecimate.
 *
 * A kept frame is stored in the window at once (microseconds) and linked
 * into the window's graph by a thread of the window while the stream goes
 * on; until then searches find it by an exact scan. So the element adds
 * the search time to a frame's latency, never the insertion. Only when
 * kept frames arrive faster than the graph takes them, for longer than 1024
 * of them, does a decision also link one (see `window-unlinked` in `stats`).
 *
 * Kept frames carry a "GstVssDedupMeta" custom meta with the distance to the
 * nearest frame in the window and that frame's id, for vsssink.
 *
 * With `post-messages=true`, every frame posts an element message named
 * `vss-dedup` with these fields:
 *
 *  - `frame-id` (string): the frame's id ("" if it had none)
 *  - `pts` (guint64): the frame's presentation timestamp, ns
 *  - `running-time` (guint64): its running time, ns
 *  - `decision` (string): "kept" or "dropped"
 *  - `distance` (double): cosine distance to `matched-frame-id`: for a dropped
 *    frame the kept frame that made it a duplicate (the newest within the
 *    threshold), for a kept frame its nearest neighbour in the window (the
 *    nearest the search met: exact while the window is scanned exactly,
 *    approximate once it is searched through graphs); 2.0 when the window
 *    was empty, -1 when not measured (measure-nearest=false)
 *  - `threshold` (double): the threshold applied
 *  - `matched-frame-id` (string): "" when the window was empty
 *  - `matched-pts` (guint64): that frame's pts, GST_CLOCK_TIME_NONE if none
 *  - `window-size` (guint): kept frames in the window after the decision
 *  - `decision-us` (double): time taken to decide, microseconds
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 uridecodebin uri=file:///clip.mp4 ! videoconvert ! videorate ! \
 *   video/x-raw,framerate=1/1 ! vssembed ! vssdedup threshold=0.2 ! \
 *   jpegenc ! multifilesink location=kept-%05d.jpg
 * ]|
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>
#include "gstvssdedup.h"
#include "gstvss.h"
#include "vss-index.h"

GST_DEBUG_CATEGORY_STATIC (gst_vss_dedup_debug);
#define GST_CAT_DEFAULT gst_vss_dedup_debug

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

#define DEFAULT_MODEL NULL
#define DEFAULT_THRESHOLD 0.2
#define DEFAULT_WINDOW_SIZE 10000
#define DEFAULT_WINDOW_DURATION 0
#define DEFAULT_MODE GST_VSS_DEDUP_MODE_WINDOW
#define DEFAULT_MISSING_META GST_VSS_DEDUP_MISSING_META_PASS
#define DEFAULT_POST_MESSAGES FALSE
#define DEFAULT_MEASURE_NEAREST TRUE

#define NO_MATCH_DISTANCE 2.0

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_THRESHOLD,
  PROP_WINDOW_SIZE,
  PROP_WINDOW_DURATION,
  PROP_MODE,
  PROP_MISSING_META,
  PROP_POST_MESSAGES,
  PROP_MEASURE_NEAREST,
  PROP_STATS,
};

/* What we remember of a kept frame, in insertion order (the window's live
 * rows are always the newest `len` of them). */
typedef struct
{
  guint64 seq;
  GstClockTime pts;
  gchar frame_id[GST_VSS_FRAME_ID_SIZE];
} KeptFrame;

struct _GstVssDedup
{
  GstBaseTransform parent;

  /* properties (object lock) */
  gchar *model;
  gdouble threshold;
  guint window_size;
  GstClockTime window_duration;
  GstVssDedupMode mode;
  GstVssDedupMissingMeta missing_meta;
  gboolean post_messages;
  gboolean measure_nearest;
  gboolean settings_changed;

  /* stream state (streaming thread) */
  vss_window *window;
  guint dim;
  KeptFrame *ring;
  gsize ring_cap, ring_head, ring_len;
  guint64 next_seq;
  gint64 last_ts;               /* monotonic window time, ns */
  gint64 ts_offset;             /* added to running time to keep it monotonic */
  gfloat *last_kept;            /* mode=last-kept: normalised vector */
  KeptFrame last_kept_info;
  gboolean warned_missing;

  /* The window pointer changes on the streaming thread with `window_lock`
   * held, so that `stats` can read the window from another thread (the
   * window locks itself). */
  GMutex window_lock;

  /* statistics (object lock) */
  guint64 seen, kept, dropped, no_meta, resets;
  guint64 decide_ns_total, decide_ns_max;
  guint window_count;
};

#define gst_vss_dedup_parent_class parent_class
G_DEFINE_TYPE (GstVssDedup, gst_vss_dedup, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (vssdedup, "vssdedup", GST_RANK_NONE,
    GST_TYPE_VSS_DEDUP,
    GST_DEBUG_CATEGORY_INIT (gst_vss_dedup_debug, "vssdedup", 0,
        "Near-duplicate frame dropping"));

GType
gst_vss_dedup_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_VSS_DEDUP_MODE_WINDOW,
          "Compare with every kept frame in the window (catches revisits)",
        "window"},
    {GST_VSS_DEDUP_MODE_LAST_KEPT,
        "Compare with the last kept frame only (like mpdecimate)", "last-kept"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVssDedupMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_vss_dedup_missing_meta_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_VSS_DEDUP_MISSING_META_PASS,
        "Pass the frame on and post one warning", "pass"},
    {GST_VSS_DEDUP_MISSING_META_ERROR, "Stop with an error", "error"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVssDedupMissingMeta", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static void gst_vss_dedup_finalize (GObject * object);
static void gst_vss_dedup_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec);
static void gst_vss_dedup_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec);
static gboolean gst_vss_dedup_start (GstBaseTransform * trans);
static gboolean gst_vss_dedup_stop (GstBaseTransform * trans);
static gboolean gst_vss_dedup_sink_event (GstBaseTransform * trans,
    GstEvent * event);
static GstFlowReturn gst_vss_dedup_transform_ip (GstBaseTransform * trans,
    GstBuffer * buf);

static void
gst_vss_dedup_class_init (GstVssDedupClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->finalize = gst_vss_dedup_finalize;
  gobject_class->set_property = gst_vss_dedup_set_property;
  gobject_class->get_property = gst_vss_dedup_get_property;

  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "Embedding model to compare (name in the embedding meta, e.g. "
          "'vss-local-v2'). NULL or empty: the first embedding of each frame",
          DEFAULT_MODEL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_THRESHOLD,
      g_param_spec_double ("threshold", "Threshold",
          "Cosine distance (0..2) below which a frame is a duplicate of a "
          "kept frame and is dropped. 0 keeps every frame",
          0.0, 2.0, DEFAULT_THRESHOLD, G_PARAM_READWRITE |
          G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_WINDOW_SIZE,
      g_param_spec_uint ("window-size", "Window size",
          "Most kept frames remembered (mode=window); the oldest are "
          "forgotten first. 0 = no limit", 0, G_MAXUINT, DEFAULT_WINDOW_SIZE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_WINDOW_DURATION,
      g_param_spec_uint64 ("window-duration", "Window duration",
          "Kept frames older than this much stream running time (ns) are "
          "forgotten (mode=window). 0 = no age limit", 0, G_MAXINT64,
          DEFAULT_WINDOW_DURATION, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
          | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode",
          "What a frame is compared with: 'window' (every kept frame in the "
          "window, catches revisits) or 'last-kept' (the last kept frame)",
          GST_TYPE_VSS_DEDUP_MODE, DEFAULT_MODE, G_PARAM_READWRITE |
          G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_MISSING_META,
      g_param_spec_enum ("missing-meta", "Missing meta",
          "What to do with a frame that has no embedding of 'model': 'pass' "
          "it on (one warning) or stop with an 'error'",
          GST_TYPE_VSS_DEDUP_MISSING_META, DEFAULT_MISSING_META,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
          "Post a 'vss-dedup' element message for every frame explaining the "
          "decision (fields in the element documentation)",
          DEFAULT_POST_MESSAGES, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_MEASURE_NEAREST,
      g_param_spec_boolean ("measure-nearest", "Measure nearest",
          "For each kept frame, report the nearest frame in the window "
          "(distance in messages and in the meta vsssink stores): the "
          "nearest one the duplicate search met, exact in small windows, "
          "approximate in large ones, at little extra cost. Off: the "
          "distance is reported as unknown (-1)",
          DEFAULT_MEASURE_NEAREST, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
          | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "Counters since the element last started (read-only): seen, kept, "
          "dropped, no-meta (frames without an embedding), resets (window "
          "resets on dimension changes), window-size (kept frames in the "
          "window), window-bytes, window-unlinked (kept frames not yet in "
          "the window's graph, found by an exact scan meanwhile), "
          "mean-decision-us, max-decision-us",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Near-duplicate frame dropper", "Filter/Analyzer/Video",
      "Drops frames whose embedding is within a distance of a recently kept "
      "frame", "gst-vss developers");

  trans_class->start = GST_DEBUG_FUNCPTR (gst_vss_dedup_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_vss_dedup_stop);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_vss_dedup_sink_event);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_vss_dedup_transform_ip);
  trans_class->transform_ip_on_passthrough = FALSE;
  trans_class->passthrough_on_same_caps = FALSE;

  gst_type_mark_as_plugin_api (GST_TYPE_VSS_DEDUP_MODE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_VSS_DEDUP_MISSING_META, 0);
}

static void
gst_vss_dedup_init (GstVssDedup * self)
{
  self->model = NULL;
  self->threshold = DEFAULT_THRESHOLD;
  self->window_size = DEFAULT_WINDOW_SIZE;
  self->window_duration = DEFAULT_WINDOW_DURATION;
  self->mode = DEFAULT_MODE;
  self->missing_meta = DEFAULT_MISSING_META;
  self->post_messages = DEFAULT_POST_MESSAGES;
  self->measure_nearest = DEFAULT_MEASURE_NEAREST;
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
  gst_vss_dedup_meta_register ();
  g_mutex_init (&self->window_lock);
}

static void
gst_vss_dedup_reset (GstVssDedup * self)
{
  vss_window *w;

  g_mutex_lock (&self->window_lock);
  w = self->window;
  self->window = NULL;
  g_mutex_unlock (&self->window_lock);
  /* stops the window's linker thread */
  vss_window_free (w);
  g_clear_pointer (&self->last_kept, g_free);
  self->dim = 0;
  self->ring_head = self->ring_len = 0;
  self->last_ts = 0;
  self->ts_offset = 0;
  GST_OBJECT_LOCK (self);
  self->window_count = 0;
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vss_dedup_finalize (GObject * object)
{
  GstVssDedup *self = GST_VSS_DEDUP (object);

  gst_vss_dedup_reset (self);
  g_mutex_clear (&self->window_lock);
  g_free (self->ring);
  g_free (self->model);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_vss_dedup_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstVssDedup *self = GST_VSS_DEDUP (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free (self->model);
      self->model = g_value_dup_string (value);
      if (self->model != NULL && self->model[0] == '\0')
        g_clear_pointer (&self->model, g_free);
      break;
    case PROP_THRESHOLD:
      self->threshold = g_value_get_double (value);
      break;
    case PROP_WINDOW_SIZE:
      self->window_size = g_value_get_uint (value);
      self->settings_changed = TRUE;
      break;
    case PROP_WINDOW_DURATION:
      self->window_duration = g_value_get_uint64 (value);
      self->settings_changed = TRUE;
      break;
    case PROP_MODE:
      self->mode = g_value_get_enum (value);
      break;
    case PROP_MISSING_META:
      self->missing_meta = g_value_get_enum (value);
      break;
    case PROP_POST_MESSAGES:
      self->post_messages = g_value_get_boolean (value);
      break;
    case PROP_MEASURE_NEAREST:
      self->measure_nearest = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vss_dedup_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstVssDedup *self = GST_VSS_DEDUP (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model);
      break;
    case PROP_THRESHOLD:
      g_value_set_double (value, self->threshold);
      break;
    case PROP_WINDOW_SIZE:
      g_value_set_uint (value, self->window_size);
      break;
    case PROP_WINDOW_DURATION:
      g_value_set_uint64 (value, self->window_duration);
      break;
    case PROP_MODE:
      g_value_set_enum (value, self->mode);
      break;
    case PROP_MISSING_META:
      g_value_set_enum (value, self->missing_meta);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, self->post_messages);
      break;
    case PROP_MEASURE_NEAREST:
      g_value_set_boolean (value, self->measure_nearest);
      break;
    case PROP_STATS:{
      guint64 decided = self->kept + self->dropped;
      gsize bytes = 0, unlinked = 0;

      GST_OBJECT_UNLOCK (self);
      g_mutex_lock (&self->window_lock);
      if (self->window) {
        bytes = vss_window_memory_used (self->window);
        unlinked = vss_window_unlinked (self->window);
      }
      g_mutex_unlock (&self->window_lock);
      GST_OBJECT_LOCK (self);
      g_value_take_boxed (value, gst_structure_new ("vss-dedup-stats",
              "seen", G_TYPE_UINT64, self->seen,
              "kept", G_TYPE_UINT64, self->kept,
              "dropped", G_TYPE_UINT64, self->dropped,
              "no-meta", G_TYPE_UINT64, self->no_meta,
              "resets", G_TYPE_UINT64, self->resets,
              "window-size", G_TYPE_UINT, self->window_count,
              "window-bytes", G_TYPE_UINT64, (guint64) bytes,
              "window-unlinked", G_TYPE_UINT, (guint) unlinked,
              "mean-decision-us", G_TYPE_DOUBLE,
              decided ? self->decide_ns_total / 1000.0 / decided : 0.0,
              "max-decision-us", G_TYPE_DOUBLE,
              self->decide_ns_max / 1000.0, NULL));
      break;
    }
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static gboolean
gst_vss_dedup_start (GstBaseTransform * trans)
{
  GstVssDedup *self = GST_VSS_DEDUP (trans);

  gst_vss_dedup_reset (self);
  self->next_seq = 1;
  self->warned_missing = FALSE;
  GST_OBJECT_LOCK (self);
  self->seen = self->kept = self->dropped = self->no_meta = self->resets = 0;
  self->decide_ns_total = self->decide_ns_max = 0;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gboolean
gst_vss_dedup_stop (GstBaseTransform * trans)
{
  gst_vss_dedup_reset (GST_VSS_DEDUP (trans));
  return TRUE;
}

static gboolean
gst_vss_dedup_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstVssDedup *self = GST_VSS_DEDUP (trans);

  /* A flush starts a new stretch of stream: what was kept before it says
   * nothing about what comes after a seek. */
  if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP) {
    GST_DEBUG_OBJECT (self, "flush: window reset");
    gst_vss_dedup_reset (self);
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

/* ---- kept-frame records: a ring in insertion order ---- */

static void
ring_resize (GstVssDedup * self, gsize cap)
{
  KeptFrame *n = g_new (KeptFrame, cap);
  gsize i;

  for (i = 0; i < self->ring_len; i++)
    n[i] = self->ring[(self->ring_head + i) % self->ring_cap];
  g_free (self->ring);
  self->ring = n;
  self->ring_cap = cap;
  self->ring_head = 0;
}

static void
ring_push (GstVssDedup * self, const KeptFrame * k)
{
  if (self->ring_len == self->ring_cap)
    ring_resize (self, MAX (64, self->ring_cap * 2));
  self->ring[(self->ring_head + self->ring_len) % self->ring_cap] = *k;
  self->ring_len++;
}

/* Forget the records of rows the window no longer holds. */
static void
ring_trim (GstVssDedup * self, gsize live)
{
  while (self->ring_len > live) {
    self->ring_head = (self->ring_head + 1) % self->ring_cap;
    self->ring_len--;
  }
  /* Shrink a ring left mostly empty after a large window shrank. */
  if (self->ring_cap > 1024 && self->ring_len < self->ring_cap / 8)
    ring_resize (self, MAX (64, self->ring_len * 2));
}

static const KeptFrame *
ring_find (GstVssDedup * self, guint64 seq)
{
  guint64 first;

  if (self->ring_len == 0)
    return NULL;
  first = self->ring[self->ring_head].seq;
  if (seq < first || seq - first >= self->ring_len)
    return NULL;
  return &self->ring[(self->ring_head + (seq - first)) % self->ring_cap];
}

/* ---- decisions ---- */

typedef struct
{
  gboolean drop;
  gdouble distance;
  const KeptFrame *match;
} Decision;

static void
gst_vss_dedup_dimension_changed (GstVssDedup * self, guint dim)
{
  GST_ELEMENT_WARNING (self, STREAM, FORMAT,
      ("The embedding dimension changed from %u to %u: the dedup window "
          "starts afresh.", self->dim, dim), (NULL));
  gst_vss_dedup_reset (self);
  GST_OBJECT_LOCK (self);
  self->resets++;
  GST_OBJECT_UNLOCK (self);
}

static gboolean
gst_vss_dedup_ensure_window (GstVssDedup * self, guint dim, guint window_size,
    GstClockTime window_duration, gboolean apply_settings)
{
  vss_window_params wp;
  vss_error err = { 0 };
  vss_window *w;

  if (self->window != NULL && self->dim == dim) {
    if (apply_settings) {
      vss_window_set_max_count (self->window, window_size);
      vss_window_set_max_age (self->window, (int64_t) window_duration);
    }
    return TRUE;
  }
  if (self->dim != 0 && self->dim != dim)
    gst_vss_dedup_dimension_changed (self, dim);
  vss_window_params_init (&wp, VSS_METRIC_COSINE, dim);
  wp.max_count = window_size;
  wp.max_age = (int64_t) window_duration;
  /* graph insertions off the streaming thread */
  wp.link_in_background = 1;
  w = vss_window_new (&wp, &err);
  g_mutex_lock (&self->window_lock);
  self->window = w;
  g_mutex_unlock (&self->window_lock);
  if (self->window == NULL) {
    GST_ELEMENT_ERROR (self, LIBRARY, INIT,
        ("Could not create the dedup window."), ("%s", err.msg));
    return FALSE;
  }
  self->dim = dim;
  return TRUE;
}

static gdouble
cosine_distance_normalised (const gfloat * a, const gfloat * b, guint dim)
{
  gdouble dot = 0;
  guint i;

  for (i = 0; i < dim; i++)
    dot += (gdouble) a[i] * b[i];
  return 1.0 - dot;
}

/* A unit-length copy of @in; FALSE for NaN, infinity or a zero vector. */
static gboolean
normalise_copy (const gfloat * in, guint dim, gfloat * out)
{
  gfloat norm;

  memcpy (out, in, (gsize) dim * sizeof (gfloat));
  norm = vss_normalize_f32 (out, dim);
  return norm > 0 && isfinite (norm);
}

static void
post_decision (GstVssDedup * self, GstBuffer * buf, const gchar * frame_id,
    GstClockTime rt, const Decision * d, gdouble threshold, guint window_count,
    gdouble decision_us)
{
  GstStructure *s = gst_structure_new ("vss-dedup",
      "frame-id", G_TYPE_STRING, frame_id ? frame_id : "",
      "pts", G_TYPE_UINT64, GST_BUFFER_PTS (buf),
      "running-time", G_TYPE_UINT64, rt,
      "decision", G_TYPE_STRING, d->drop ? "dropped" : "kept",
      "distance", G_TYPE_DOUBLE, d->distance,
      "threshold", G_TYPE_DOUBLE, threshold,
      "matched-frame-id", G_TYPE_STRING, d->match ? d->match->frame_id : "",
      "matched-pts", G_TYPE_UINT64,
      d->match ? d->match->pts : GST_CLOCK_TIME_NONE,
      "window-size", G_TYPE_UINT, window_count,
      "decision-us", G_TYPE_DOUBLE, decision_us, NULL);

  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

/* The window's clock: the running time, kept monotonic across segments
 * and discontinuities so that ages only grow; untimed frames do not age
 * it. */
static gint64
window_time (GstVssDedup * self, GstBuffer * buf, GstClockTime * rt)
{
  gint64 ts;

  *rt = gst_segment_to_running_time (&GST_BASE_TRANSFORM (self)->segment,
      GST_FORMAT_TIME, GST_BUFFER_PTS (buf));
  if (!GST_CLOCK_TIME_IS_VALID (*rt))
    return self->last_ts;
  ts = (gint64) * rt + self->ts_offset;
  if (ts < self->last_ts) {
    self->ts_offset += self->last_ts - ts;
    ts = self->last_ts;
  }
  self->last_ts = ts;
  return ts;
}

/* mode=last-kept: compares with the last kept frame only. Takes @vec when
 * the frame is kept (sets it to NULL). Returns the window's size. */
static guint
decide_last_kept (GstVssDedup * self, gfloat ** vec, guint dim,
    gdouble threshold, const KeptFrame * me, Decision * d, KeptFrame * match)
{
  if (self->last_kept != NULL && self->dim == dim) {
    d->distance = cosine_distance_normalised (*vec, self->last_kept, dim);
    *match = self->last_kept_info;
    d->match = match;
    d->drop = threshold > 0.0 && d->distance < threshold;
  } else if (self->dim != 0 && self->dim != dim) {
    gst_vss_dedup_dimension_changed (self, dim);
  }
  if (!d->drop) {
    g_free (self->last_kept);
    self->last_kept = *vec;
    *vec = NULL;
    self->last_kept_info = *me;
    self->dim = dim;
    self->next_seq++;
  }
  return self->last_kept ? 1 : 0;
}

/* mode=window: one search of the window; a kept frame joins it. Returns
 * the window's size after this frame, or -1 with @err (search) or
 * @add_err set. */
static gint
decide_window (GstVssDedup * self, const gfloat * vec, guint dim, gint64 ts,
    gboolean expire, gdouble threshold, gboolean nearest, const KeptFrame * me,
    Decision * d, KeptFrame * match, vss_error * err, gboolean * add_err)
{
  vss_window_hit hit;
  guint count;
  gint rc;

  if (expire)
    ring_trim (self, vss_window_expire (self->window, ts));
  /* The index's test is distance <= r; ours is "below the threshold".
   * With measure-nearest the same search reports the nearest frame it met
   * when none is close enough (threshold 0: none ever is). */
  if (nearest)
    rc = vss_window_search_within_nearest (self->window, vec, dim,
        threshold <= 0.0 ? -1.0f : nextafterf ((gfloat) threshold, 0.0f),
        &hit, err);
  else
    rc = threshold <= 0.0 ? 0 :
        vss_window_search_first_within (self->window, vec, dim,
        nextafterf ((gfloat) threshold, 0.0f), &hit, err);
  if (rc < 0)
    return -1;
  if (rc == 1) {
    d->drop = TRUE;
    d->distance = hit.distance;
    d->match = ring_find (self, hit.id);
  } else {
    /* Kept: what it is nearest to goes on record downstream. */
    if (!nearest) {
      d->distance = -1.0;
    } else if (isfinite (hit.distance)) {
      d->distance = hit.distance;
      d->match = ring_find (self, hit.id);
    }
    if (d->match != NULL) {
      /* The ring may move on push: copy the match first. */
      *match = *d->match;
      d->match = match;
    }
    if (vss_window_add (self->window, me->seq, ts, vec, dim, err) < 0) {
      *add_err = TRUE;
      return -1;
    }
    ring_push (self, me);
    self->next_seq++;
  }
  /* the window after this frame's insertion (which evicts by count) */
  count = (guint) vss_window_count (self->window);
  ring_trim (self, count);
  return (gint) count;
}

static void
count_decision (GstVssDedup * self, const Decision * d, guint64 dt_ns,
    guint window_count)
{
  GST_OBJECT_LOCK (self);
  if (d->drop)
    self->dropped++;
  else
    self->kept++;
  self->decide_ns_total += dt_ns;
  self->decide_ns_max = MAX (self->decide_ns_max, dt_ns);
  self->window_count = window_count;
  GST_OBJECT_UNLOCK (self);
}

/* A frame without the embedding: an error, or passed with one warning. */
static GstFlowReturn
pass_missing_meta (GstVssDedup * self, GstVssDedupMissingMeta missing,
    const gchar * model)
{
  GST_OBJECT_LOCK (self);
  self->no_meta++;
  GST_OBJECT_UNLOCK (self);
  if (missing == GST_VSS_DEDUP_MISSING_META_ERROR) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("A frame has no embedding%s%s: put vssembed before vssdedup.",
            model ? " of model " : "", model ? model : ""),
        ("missing-meta=error"));
    return GST_FLOW_ERROR;
  }
  if (!self->warned_missing) {
    self->warned_missing = TRUE;
    GST_ELEMENT_WARNING (self, STREAM, FAILED,
        ("Frames without an embedding%s%s pass through vssdedup "
            "unchecked.", model ? " of model " : "", model ? model : ""),
        ("put vssembed before vssdedup; this warning is posted once"));
  }
  return GST_FLOW_OK;
}

/* Just over 100 lines because of its error exits, in the style of
 * GStreamer's chain functions: a snapshot of the settings, the decision
 * (decide_last_kept() or decide_window()), then accounting and the bus
 * message. */
static GstFlowReturn
gst_vss_dedup_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstVssDedup *self = GST_VSS_DEDUP (trans);
  GstVssEmbeddingMeta *meta;
  gchar *model;
  gdouble threshold;
  guint window_size;
  GstClockTime window_duration, rt;
  GstVssDedupMode mode;
  GstVssDedupMissingMeta missing;
  gboolean post, apply, nearest, add_err = FALSE;
  Decision d = { FALSE, NO_MATCH_DISTANCE, NULL };
  KeptFrame me, match;
  gint64 t0, ts;
  gfloat *vec = NULL;
  gint window_count;
  vss_error err = { 0 };
  guint64 dt;

  t0 = g_get_monotonic_time ();
  GST_OBJECT_LOCK (self);
  model = g_strdup (self->model);
  threshold = self->threshold;
  window_size = self->window_size;
  window_duration = self->window_duration;
  mode = self->mode;
  missing = self->missing_meta;
  post = self->post_messages;
  nearest = self->measure_nearest;
  apply = self->settings_changed;
  self->settings_changed = FALSE;
  self->seen++;
  GST_OBJECT_UNLOCK (self);

  meta = gst_vss_buffer_get_embedding_meta (buf, model);
  if (meta == NULL || meta->dim == 0 || meta->vector == NULL)
    goto no_meta;
  g_clear_pointer (&model, g_free);

  ts = window_time (self, buf, &rt);
  vec = g_new (gfloat, meta->dim);
  if (!normalise_copy (meta->vector, meta->dim, vec))
    goto bad_vector;
  me.seq = self->next_seq;
  me.pts = GST_BUFFER_PTS (buf);
  g_strlcpy (me.frame_id, meta->frame_id, sizeof (me.frame_id));

  if (mode == GST_VSS_DEDUP_MODE_LAST_KEPT) {
    window_count = (gint) decide_last_kept (self, &vec, meta->dim, threshold,
        &me, &d, &match);
  } else {
    if (self->window != NULL)
      ring_trim (self, vss_window_count (self->window));
    if (!gst_vss_dedup_ensure_window (self, meta->dim, window_size,
            window_duration, apply))
      goto window_failed;
    window_count = decide_window (self, vec, meta->dim, ts,
        window_duration > 0, threshold, nearest, &me, &d, &match, &err,
        &add_err);
    if (window_count < 0)
      goto window_error;
  }

  if (!d.drop)
    gst_vss_buffer_set_dedup_info (buf, d.distance,
        d.match ? d.match->frame_id : "");
  dt = (guint64) (g_get_monotonic_time () - t0) * 1000;
  count_decision (self, &d, dt, (guint) window_count);
  GST_LOG_OBJECT (self, "frame %s: %s (distance %.4f to %s)", me.frame_id,
      d.drop ? "dropped" : "kept", d.distance,
      d.match ? d.match->frame_id : "nothing");
  if (post)
    post_decision (self, buf, me.frame_id, rt, &d, threshold,
        (guint) window_count, dt / 1000.0);
  g_free (vec);
  return d.drop ? GST_BASE_TRANSFORM_FLOW_DROPPED : GST_FLOW_OK;

  /* ERRORS */
no_meta:
  {
    GstFlowReturn ret = pass_missing_meta (self, missing, model);

    g_free (model);
    return ret;
  }
bad_vector:
  {
    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("A frame's embedding is not a usable vector."),
        ("model %s: NaN, infinity or all zeros", meta->model));
    g_free (vec);
    return GST_FLOW_ERROR;
  }
window_failed:
  {
    g_free (vec);
    return GST_FLOW_ERROR;
  }
window_error:
  {
    if (add_err)
      GST_ELEMENT_ERROR (self, LIBRARY, FAILED,
          ("Could not add a frame to the dedup window."), ("%s", err.msg));
    else
      GST_ELEMENT_ERROR (self, LIBRARY, FAILED,
          ("The dedup window search failed."), ("%s", err.msg));
    g_free (vec);
    return GST_FLOW_ERROR;
  }
}
