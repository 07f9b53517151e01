/* gst-vss: vssquery
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The element: properties, caps, state, events and messages. The engines
 * beside it have no pads: vssquerymatcher.c holds the standing queries and
 * matches frames against them; vssqueryhistory.c searches the stored frames
 * on a worker thread. Each says what its own locks guard.
 *
 * Locking here:
 *  - the object lock guards the properties, the statistics and `history`
 *    (written by start and stop, read by the stats).
 *  - `events_lock` guards `pending_events`, the history matches waiting for
 *    the next buffer.
 * Lock order: the matcher's locks, then the object lock (the matcher makes
 * the search's embedder with its lock held); the object lock, then the
 * history's lock (stats). events_lock is never held with another lock, and
 * no lock is held while pushing downstream or posting.
 */

/**
 * SECTION:element-vssquery
 * @title: vssquery
 *
 * Compares every frame's embedding (the #GstVssEmbeddingMeta that vssembed
 * attached) with a set of standing queries, and optionally with the frames
 * stored in Valkey from other streams (history). Buffers pass through
 * untouched.
 *
 * ## Standing queries
 *
 * A query is a text or an image file, with a threshold (cosine distance,
 * 0..2; a frame matches when its distance is at most the threshold) and a
 * label. The `queries` property holds them as JSON:
 * |[
 * [{"id":"q1","text":"a woman in a red jacket","threshold":0.3,"label":"red jacket"},
 *  {"id":"q2","image":"/srv/faces/alice.jpg","threshold":0.25,"cooldown_ms":30000}]
 * ]|
 * `id` (letters, digits, `-_.:`; given "qN" when absent), `label`
 * (default: the text or path) and `threshold` (default 0.3) and
 * `cooldown_ms` (default: the `cooldown` property) are optional; exactly one
 * of `text` and `image` is required. Reading `queries` gives the current set
 * in the same form. The `add-query` action signal takes one such object
 * and returns its id (NULL on error, with a warning message on the bus);
 * `remove-query` takes an id. Changes apply from the next frame; the
 * streaming thread is never blocked by them.
 *
 * A set that cannot be used (not JSON, a threshold out of 0..2, an unknown
 * key, a text with provider=local, a missing image...) is an error when
 * the element starts: the state change fails with an element error that
 * names the query and the key. While the element runs, a refused
 * `queries` or `add-query` keeps the current set and posts a warning that
 * says why.
 *
 * Query vectors are computed once, when the element starts or the query is
 * added, by the same provider as vssembed: `provider=bedrock` (Titan
 * Multimodal, `inputText` for texts, images as JPEG/PNG) or
 * `provider=local` (vss-local-v2 or v1: image queries only; a text query is
 * refused with an error). Frames are matched through the meta of the
 * provider's model (`model`); frames without it pass unmatched.
 *
 * ## Matches
 *
 * A match posts an element message and pushes a custom downstream event
 * (GST_EVENT_CUSTOM_DOWNSTREAM) before the frame, both with a structure
 * named `vss-match`:
 *  - `source` (string): "query" or "history"
 *  - `query-id`, `label` (strings): the query ("history" for history)
 *  - `distance`, `threshold` (double): cosine distance and the threshold
 *  - `frame-id`, `stream-id` (strings): the frame (stream-id "" when unset)
 *  - `pts`, `running-time` (guint64, GST_CLOCK_TIME_NONE when unknown)
 *  - `timestamp` (gint64): capture wall-clock time, unix milliseconds
 *  - `uri` (string, only when known): the frame's object URI, built from
 *    `object-uri-prefix` as vsssink names objects
 *    (`<prefix>/<stream>/<yyyy>/<mm>/<dd>/<frame-id>.jpg`, `.png` for PNG
 *    frames; the date is the capture date in UTC)
 *  - history only: `match-key`, `match-stream`, `match-frame-id`,
 *    `match-uri` (strings) and `match-timestamp` (gint64): the stored frame
 *
 * A query that matched is silent for `cooldown` milliseconds (running time)
 * unless a frame comes closer than the last reported match.
 *
 * ## History
 *
 * With `history=true`, frames are also searched (KNN, `history-k`) in the
 * Valkey index `index` at `valkey`, among other streams' frames captured
 * between `history-max-age` and `history-min-age` before the frame; hits
 * within `history-threshold` are reported with `source=history`. Searches
 * run on a worker thread fed by a bounded queue (`history-queue-size`):
 * when it is full the frame is not searched (counted in `stats` as
 * history-dropped, with a warning at most once a second), so the stream is
 * never stalled. History events are pushed before the next frame.
 *
 * ## Ad-hoc search
 *
 * The `search` action signal (text, image bytes, k, filter) embeds the
 * query and searches Valkey in the calling thread; see the signal's doc.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 filesrc location=clip.mp4 ! decodebin ! videoconvert ! \
 *     vssembed provider=local ! \
 *     vssquery provider=local queries='[{"image":"/tmp/door.jpg","threshold":0.25}]' ! \
 *     fakesink
 * ]|
 * |[
 * AWS_REGION=us-east-1 gst-launch-1.0 -m rtspsrc location=rtsp://cam1/ ! \
 *     decodebin ! videoconvert ! videorate ! video/x-raw,framerate=1/1 ! \
 *     vssembed provider=bedrock ! \
 *     vssquery provider=bedrock stream-id=cam1 \
 *       queries='"[{\"text\":\"a person with a red jacket\"}]"' \
 *       history=true valkey=redis://127.0.0.1:6379 history-max-age=600000 ! \
 *     fakesink
 * ]|
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include "gstvssquery.h"
#include "gstvss.h"
#include "vss-index.h"
#include "query/gstvssqueryembed.h"
#include "query/gstvssquerysearch.h"
#include "aws/gstvssawsprops.h"
#include "vssquerymatcher.h"
#include "vssqueryhistory.h"

GST_DEBUG_CATEGORY_STATIC (gst_vss_query_debug);
#define GST_CAT_DEFAULT gst_vss_query_debug

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

#define DEFAULT_PROVIDER GST_VSS_QUERY_PROVIDER_LOCAL
#define DEFAULT_DIMENSION 0
#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_MAX_RETRIES 4
#define DEFAULT_COOLDOWN_MS 10000
#define DEFAULT_POST_MESSAGES TRUE
#define DEFAULT_SEND_EVENTS TRUE
#define DEFAULT_HISTORY FALSE
#define DEFAULT_VALKEY_URL "redis://127.0.0.1:6379"
#define DEFAULT_INDEX GST_VSS_RECORD_DEFAULT_INDEX
#define DEFAULT_HISTORY_K 5
#define DEFAULT_HISTORY_THRESHOLD 0.2
#define DEFAULT_HISTORY_MAX_AGE 0
#define DEFAULT_HISTORY_MIN_AGE 0
#define DEFAULT_HISTORY_QUEUE_SIZE 4
#define DEFAULT_HISTORY_INTERVAL 0
#define DEFAULT_FANOUT FALSE

enum
{
  PROP_0,
  PROP_QUERIES,
  PROP_PROVIDER,
  PROP_MODEL,
  PROP_DIMENSION,
  PROP_REGION,
  PROP_ENDPOINT,
  PROP_PROFILE,
  PROP_ACCESS_KEY_ID,
  PROP_SECRET_ACCESS_KEY,
  PROP_SESSION_TOKEN,
  PROP_TIMEOUT,
  PROP_MAX_RETRIES,
  PROP_COOLDOWN,
  PROP_STREAM_ID,
  PROP_OBJECT_URI_PREFIX,
  PROP_POST_MESSAGES,
  PROP_SEND_EVENTS,
  PROP_HISTORY,
  PROP_VALKEY_URL,
  PROP_INDEX,
  PROP_HISTORY_K,
  PROP_HISTORY_THRESHOLD,
  PROP_HISTORY_MAX_AGE,
  PROP_HISTORY_MIN_AGE,
  PROP_HISTORY_QUEUE_SIZE,
  PROP_HISTORY_INTERVAL,
  PROP_FANOUT,
  PROP_STATS,
};

enum
{
  SIGNAL_ADD_QUERY,
  SIGNAL_REMOVE_QUERY,
  SIGNAL_SEARCH,
  LAST_SIGNAL
};

static guint signals[LAST_SIGNAL];

struct _GstVssQuery
{
  GstBaseTransform parent;

  /* properties (object lock) */
  GstVssQueryProvider provider;
  gchar *model;
  guint dimension;
  GstVssAwsProps aws;
  guint timeout_ms;
  guint max_retries;
  guint64 cooldown_ms;
  gchar *stream_id;
  gchar *object_uri_prefix;
  gboolean post_messages;
  gboolean send_events;
  gboolean history_on;
  gchar *valkey_url;            /* may hold a password: never logged */
  gchar *index;
  guint history_k;
  gdouble history_threshold;
  guint64 history_max_age_ms;
  guint64 history_min_age_ms;
  guint history_queue_size;
  guint64 history_interval_ms;
  gboolean fanout;

  /* the standing queries (locks of its own) */
  VssQueryMatcher *matcher;

  /* streaming thread only; set at start (the history worker reads
   * s_stream_id too, between start and stop) */
  gchar *s_model;
  guint s_dim;
  gchar *s_stream_id;
  gchar *s_uri_prefix;
  guint s_history_queue_size;
  const gchar *content_type;    /* the caps' media type (an interned string) */
  gfloat *scratch;
  guint scratch_len;
  gint64 last_drop_warning_us;
  gboolean warned_dim;

  /* history: created by start, freed by stop (object lock for the pointer;
   * the streaming thread uses it between them without the lock) */
  VssQueryHistory *history;
  gint64 last_error_warning_us; /* the history worker only */
  GMutex events_lock;
  GQueue pending_events;        /* GstEvent for the next buffer */

  /* statistics (object lock) */
  guint64 frames;
  guint64 frames_no_embedding;
  guint64 comparisons;
  guint64 matches;
  guint64 suppressed;
  guint64 compare_ns_total;
  guint64 compare_ns_max;
  VssQueryHistoryStats history_stats;   /* as the last history stopped */
};

#define gst_vss_query_parent_class parent_class
G_DEFINE_TYPE (GstVssQuery, gst_vss_query, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (vssquery, "vssquery", GST_RANK_NONE,
    GST_TYPE_VSS_QUERY);

GType
gst_vss_query_provider_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_VSS_QUERY_PROVIDER_LOCAL,
          "Built-in model-free embedding (vss-local-v2 or v1): image queries only",
        "local"},
    {GST_VSS_QUERY_PROVIDER_BEDROCK,
          "Amazon Bedrock Titan Multimodal Embeddings: text and image queries",
        "bedrock"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVssQueryProvider", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static void gst_vss_query_finalize (GObject * object);
static void gst_vss_query_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec);
static void gst_vss_query_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec);
static gboolean gst_vss_query_start (GstBaseTransform * trans);
static gboolean gst_vss_query_stop (GstBaseTransform * trans);
static GstFlowReturn gst_vss_query_transform_ip (GstBaseTransform * trans,
    GstBuffer * buf);
static gboolean gst_vss_query_set_caps (GstBaseTransform * trans,
    GstCaps * incaps, GstCaps * outcaps);
static gchar *gst_vss_query_add_query (GstVssQuery * self, const gchar * json);
static gboolean gst_vss_query_remove_query (GstVssQuery * self,
    const gchar * id);
static GstStructure *gst_vss_query_search (GstVssQuery * self,
    const gchar * text, GBytes * image, guint k, const GstStructure * filter);

#define RW_READY (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | \
    GST_PARAM_MUTABLE_READY)
#define RW_PLAYING (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | \
    GST_PARAM_MUTABLE_PLAYING)

/* Properties are installed by group, in the order of the element's doc:
 * the query set (in class_init), the embedder (as vssembed's), what a
 * match reports, and history. */

static void
install_provider_properties (GObjectClass * gobject_class)
{
  g_object_class_install_property (gobject_class, PROP_PROVIDER,
      g_param_spec_enum ("provider", "Provider",
          "Embeds the queries, as vssembed's provider of the same name "
          "embeds the frames (use the same settings): 'local' takes image "
          "queries only; 'bedrock' takes texts and images",
          GST_TYPE_VSS_QUERY_PROVIDER, DEFAULT_PROVIDER, RW_READY));
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "The frames' model, whose meta is read and which embeds the "
          "queries. bedrock: NULL is 'amazon.titan-embed-image-v1'. local: "
          "'vss-local-v2' (NULL) or 'vss-local-v1'", NULL, RW_READY));
  g_object_class_install_property (gobject_class, PROP_DIMENSION,
      g_param_spec_uint ("dimension", "Dimension",
          "bedrock: embedding length, as vssembed's (256, 384 or 1024). 0: "
          "the model's default (1024)", 0, 1024, DEFAULT_DIMENSION, RW_READY));
  gst_vss_aws_props_install (gobject_class, PROP_REGION,
      &gst_vss_aws_service_bedrock);
  g_object_class_install_property (gobject_class, PROP_TIMEOUT,
      g_param_spec_uint ("timeout", "Timeout",
          "bedrock: time limit of one request attempt, in milliseconds", 100,
          600000, DEFAULT_TIMEOUT_MS, RW_READY));
  g_object_class_install_property (gobject_class, PROP_MAX_RETRIES,
      g_param_spec_uint ("max-retries", "Max retries",
          "bedrock: retries of a throttled, failed or timed-out request", 0,
          100, DEFAULT_MAX_RETRIES, RW_READY));
}

static void
install_output_properties (GObjectClass * gobject_class)
{
  g_object_class_install_property (gobject_class, PROP_COOLDOWN,
      g_param_spec_uint64 ("cooldown", "Cooldown",
          "After a query matched, further matches of it are not reported for "
          "this many milliseconds of running time unless they are closer "
          "than the last one reported. 0: report every matching frame", 0,
          G_MAXUINT64 / GST_MSECOND, DEFAULT_COOLDOWN_MS, RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_STREAM_ID,
      g_param_spec_string ("stream-id", "Stream id",
          "This stream's id, as vsssink stores it (the `stream` field): "
          "reported in matches and excluded from history searches. Required "
          "by history", NULL, RW_READY));
  g_object_class_install_property (gobject_class, PROP_OBJECT_URI_PREFIX,
      g_param_spec_string ("object-uri-prefix", "Object URI prefix",
          "Where vsssink stores the frames (e.g. 's3://bucket/frames' or "
          "'file:///srv/frames'): matches then carry the frame's object URI "
          "<prefix>/<stream>/<yyyy>/<mm>/<dd>/<frame-id>.jpg (.png for PNG "
          "frames). NULL: no uri", NULL, RW_READY));
  g_object_class_install_property (gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
          "Post a vss-match element message for every reported match",
          DEFAULT_POST_MESSAGES, RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_SEND_EVENTS,
      g_param_spec_boolean ("send-events", "Send events",
          "Push a vss-match custom downstream event for every reported match",
          DEFAULT_SEND_EVENTS, RW_PLAYING));
}

static void
install_history_properties (GObjectClass * gobject_class)
{
  g_object_class_install_property (gobject_class, PROP_HISTORY,
      g_param_spec_boolean ("history", "History",
          "Also search every frame among the stored frames of other streams "
          "(Valkey, on a worker thread) and report hits with source=history",
          DEFAULT_HISTORY, RW_READY));
  g_object_class_install_property (gobject_class, PROP_VALKEY_URL,
      g_param_spec_string ("valkey", "Valkey URL",
          "Valkey for history and the search signal: "
          "(redis|rediss|valkey|valkeys)://[user:password@]host[:port][?opts] "
          "(see the README; the password is never logged)",
          DEFAULT_VALKEY_URL, RW_READY));
  g_object_class_install_property (gobject_class, PROP_INDEX,
      g_param_spec_string ("index", "Index", "The frames' vector index",
          DEFAULT_INDEX, RW_READY));
  g_object_class_install_property (gobject_class, PROP_HISTORY_K,
      g_param_spec_uint ("history-k", "History k",
          "Nearest stored frames asked for per history search", 1, 1000,
          DEFAULT_HISTORY_K, RW_READY));
  g_object_class_install_property (gobject_class, PROP_HISTORY_THRESHOLD,
      g_param_spec_double ("history-threshold", "History threshold",
          "Stored frames within this cosine distance are reported", 0, 2,
          DEFAULT_HISTORY_THRESHOLD, RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_HISTORY_MAX_AGE,
      g_param_spec_uint64 ("history-max-age", "History max age",
          "Search stored frames captured at most this many milliseconds "
          "before the frame. 0: no limit", 0, G_MAXINT64,
          DEFAULT_HISTORY_MAX_AGE, RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_HISTORY_MIN_AGE,
      g_param_spec_uint64 ("history-min-age", "History min age",
          "Search stored frames captured at least this many milliseconds "
          "before the frame. 0: up to the frame's own time", 0, G_MAXINT64,
          DEFAULT_HISTORY_MIN_AGE, RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_HISTORY_QUEUE_SIZE,
      g_param_spec_uint ("history-queue-size", "History queue size",
          "Frames waiting for a history search; when full, frames are not "
          "searched (stats: history-dropped) and the stream never waits", 1,
          1024, DEFAULT_HISTORY_QUEUE_SIZE, RW_READY));
  g_object_class_install_property (gobject_class, PROP_HISTORY_INTERVAL,
      g_param_spec_uint64 ("history-interval", "History interval",
          "Search history at most once per this many milliseconds of running "
          "time. 0: every frame", 0, G_MAXUINT64 / GST_MSECOND,
          DEFAULT_HISTORY_INTERVAL, RW_READY));
  g_object_class_install_property (gobject_class, PROP_FANOUT,
      g_param_spec_boolean ("fanout", "Fan out",
          "Cluster without a search coordinator (e.g. the gst-vss module): "
          "search every primary and merge the results", DEFAULT_FANOUT,
          RW_READY));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "Counters since the element last started (read-only): frames, "
          "frames-without-embedding, queries (in the set), comparisons "
          "(frame x query), matches (reported), suppressed (by cooldown), "
          "mean-compare-ns and max-compare-ns (all queries against one "
          "frame), history-submitted, history-dropped (queue full: not "
          "searched), history-searched, history-errors, history-matches, "
          "history-queue-max, history-queue-size (its bound) and "
          "mean-history-latency-us (queued to answered)",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
}

static void
install_signals (GstVssQueryClass * klass)
{
  /**
   * GstVssQuery::add-query:
   * @query: one query as a JSON object (see the `queries` property)
   *
   * Adds a standing query, embedding it first when the element runs.
   *
   * Returns: (transfer full): its id, or NULL when it was refused (a
   *   warning message on the bus says why).
   */
  signals[SIGNAL_ADD_QUERY] = g_signal_new_class_handler ("add-query",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_CALLBACK (gst_vss_query_add_query), NULL, NULL, NULL, G_TYPE_STRING,
      1, G_TYPE_STRING);
  /**
   * GstVssQuery::remove-query:
   * @id: a query id
   *
   * Returns: whether a query with this id was removed.
   */
  signals[SIGNAL_REMOVE_QUERY] = g_signal_new_class_handler ("remove-query",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_CALLBACK (gst_vss_query_remove_query), NULL, NULL, NULL,
      G_TYPE_BOOLEAN, 1, G_TYPE_STRING);
  /**
   * GstVssQuery::search:
   * @text: (nullable): a text query (provider=bedrock)
   * @image: (nullable): an encoded image (JPEG or PNG)
   * @k: results wanted (1..10000)
   * @filter: (nullable): `vss-filter` with optional fields `streams` and
   *   `exclude-streams` (strings, comma-separated stream ids), `since` and
   *   `until` (gint64, capture time range, unix ms) and `max-distance`
   *   (double)
   *
   * Embeds the query with the element's provider settings and searches the
   * stored frames at `valkey`, blocking the calling thread.
   *
   * Returns: (transfer full): a `vss-search` structure with `results` (a
   *   list of `vss-search-result` structures, nearest first: `key`,
   *   `distance`, `stream`, `frame-id`, `timestamp` (unix ms), `pts`, `uri`,
   *   `model`), or with an `error` string field instead.
   */
  signals[SIGNAL_SEARCH] = g_signal_new_class_handler ("search",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_CALLBACK (gst_vss_query_search), NULL, NULL, NULL,
      GST_TYPE_STRUCTURE, 4, G_TYPE_STRING, G_TYPE_BYTES, G_TYPE_UINT,
      GST_TYPE_STRUCTURE);

}

static void
gst_vss_query_class_init (GstVssQueryClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->finalize = gst_vss_query_finalize;
  gobject_class->set_property = gst_vss_query_set_property;
  gobject_class->get_property = gst_vss_query_get_property;

  g_object_class_install_property (gobject_class, PROP_QUERIES,
      g_param_spec_string ("queries", "Queries",
          "Standing queries as a JSON array of objects: "
          "[{\"id\":\"q1\",\"text\":\"a red car\",\"threshold\":0.3,"
          "\"label\":\"car\",\"cooldown_ms\":5000},{\"image\":\"/path.jpg\"}]. "
          "Exactly one of text and image (a JPEG or PNG file) per query; id "
          "(default qN), label (default the text or path), threshold (cosine "
          "distance 0..2, default 0.3) and cooldown_ms (default: cooldown) are "
          "optional; other keys are errors. Setting it replaces the whole "
          "set. A set that cannot be used makes the element fail to start, "
          "with an error naming the query and the key; while running, the "
          "new queries are embedded first and a bad set is refused with a "
          "warning, keeping the old one", NULL, RW_PLAYING));
  install_provider_properties (gobject_class);
  install_output_properties (gobject_class);
  install_history_properties (gobject_class);
  install_signals (klass);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Video frame query", "Filter/Analyzer/Video",
      "Matches frame embeddings against standing text or image queries and "
      "against stored history, posting vss-match messages and events",
      "gst-vss developers");

  trans_class->start = GST_DEBUG_FUNCPTR (gst_vss_query_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_vss_query_stop);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_vss_query_transform_ip);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_vss_query_set_caps);
  trans_class->transform_ip_on_passthrough = TRUE;
  trans_class->passthrough_on_same_caps = TRUE;

  gst_type_mark_as_plugin_api (GST_TYPE_VSS_QUERY_PROVIDER, 0);
  GST_DEBUG_CATEGORY_INIT (gst_vss_query_debug, "vssquery", 0,
      "Standing and history queries");
}

static void
gst_vss_query_init (GstVssQuery * self)
{
  self->provider = DEFAULT_PROVIDER;
  self->dimension = DEFAULT_DIMENSION;
  self->timeout_ms = DEFAULT_TIMEOUT_MS;
  self->max_retries = DEFAULT_MAX_RETRIES;
  self->cooldown_ms = DEFAULT_COOLDOWN_MS;
  self->post_messages = DEFAULT_POST_MESSAGES;
  self->send_events = DEFAULT_SEND_EVENTS;
  self->history_on = DEFAULT_HISTORY;
  self->valkey_url = g_strdup (DEFAULT_VALKEY_URL);
  self->index = g_strdup (DEFAULT_INDEX);
  self->history_k = DEFAULT_HISTORY_K;
  self->history_threshold = DEFAULT_HISTORY_THRESHOLD;
  self->history_max_age_ms = DEFAULT_HISTORY_MAX_AGE;
  self->history_min_age_ms = DEFAULT_HISTORY_MIN_AGE;
  self->history_queue_size = DEFAULT_HISTORY_QUEUE_SIZE;
  self->history_interval_ms = DEFAULT_HISTORY_INTERVAL;
  self->fanout = DEFAULT_FANOUT;
  self->matcher = vss_query_matcher_new ();
  g_mutex_init (&self->events_lock);
  g_queue_init (&self->pending_events);
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), TRUE);
}

static void
gst_vss_query_finalize (GObject * object)
{
  GstVssQuery *self = GST_VSS_QUERY (object);

  g_free (self->model);
  gst_vss_aws_props_clear (&self->aws);
  g_free (self->stream_id);
  g_free (self->object_uri_prefix);
  g_free (self->valkey_url);
  g_free (self->index);
  g_free (self->s_model);
  g_free (self->s_stream_id);
  g_free (self->s_uri_prefix);
  g_free (self->scratch);
  g_clear_pointer (&self->history, vss_query_history_free);
  vss_query_matcher_free (self->matcher);
  g_queue_clear_full (&self->pending_events, (GDestroyNotify)
      gst_event_unref);
  g_mutex_clear (&self->events_lock);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

/* ---- the query set ---- */

static gchar *
gst_vss_query_add_query (GstVssQuery * self, const gchar * json)
{
  GError *err = NULL;
  gchar *id;

  id = vss_query_matcher_add_query (self->matcher, json, &err);
  if (!id)
    goto refused;
  GST_INFO_OBJECT (self, "added query '%s'", id);
  return id;

  /* ERRORS */
refused:
  {
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS,
        ("The query was refused: %s", err->message), ("add-query"));
    g_error_free (err);
    return NULL;
  }
}

static gboolean
gst_vss_query_remove_query (GstVssQuery * self, const gchar * id)
{
  gboolean found = vss_query_matcher_remove_query (self->matcher, id);

  GST_INFO_OBJECT (self, "remove query '%s': %s", GST_STR_NULL (id),
      found ? "removed" : "no such query");
  return found;
}

/* While running, a refused set keeps the old one and says so on the bus.
 * Before start there may be no bus yet (gst-launch-1.0 sets properties
 * before it adds the element to the pipeline): the matcher keeps the
 * refusal and start fails with it, as an element error. */
static void
set_queries (GstVssQuery * self, const GValue * value)
{
  GError *err = NULL;
  gboolean running = FALSE;

  if (vss_query_matcher_set_queries (self->matcher, g_value_get_string
          (value), &running, &err))
    return;
  if (running)
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS,
        ("The queries were refused: %s", err->message),
        ("queries property; the previous queries stay"));
  else
    GST_WARNING_OBJECT (self, "queries refused, the element will not start "
        "until they are replaced: %s", err->message);
  g_error_free (err);
}

/* ---- properties ---- */

static void
set_string (GstVssQuery * self, gchar ** dst, const GValue * value)
{
  const gchar *s = g_value_get_string (value);

  GST_OBJECT_LOCK (self);
  g_free (*dst);
  *dst = s && s[0] ? g_strdup (s) : NULL;
  GST_OBJECT_UNLOCK (self);
}

#define SET_LOCKED(self, field, v) G_STMT_START { \
  GST_OBJECT_LOCK (self); \
  (self)->field = (v); \
  GST_OBJECT_UNLOCK (self); \
} G_STMT_END

/* The embedder's settings. Returns: whether @prop_id is one of them. */
static gboolean
set_provider_property (GstVssQuery * self, guint prop_id, const GValue * value)
{
  switch (prop_id) {
    case PROP_PROVIDER:
      SET_LOCKED (self, provider, g_value_get_enum (value));
      break;
    case PROP_MODEL:
      set_string (self, &self->model, value);
      break;
    case PROP_DIMENSION:
      SET_LOCKED (self, dimension, g_value_get_uint (value));
      break;
    case PROP_REGION:
    case PROP_ENDPOINT:
    case PROP_PROFILE:
    case PROP_ACCESS_KEY_ID:
    case PROP_SECRET_ACCESS_KEY:
    case PROP_SESSION_TOKEN:
      GST_OBJECT_LOCK (self);
      gst_vss_aws_props_set (&self->aws, PROP_REGION, prop_id, value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_TIMEOUT:
      SET_LOCKED (self, timeout_ms, g_value_get_uint (value));
      break;
    case PROP_MAX_RETRIES:
      SET_LOCKED (self, max_retries, g_value_get_uint (value));
      break;
    default:
      return FALSE;
  }
  return TRUE;
}

/* What a match reports, and when. */
static gboolean
set_output_property (GstVssQuery * self, guint prop_id, const GValue * value)
{
  switch (prop_id) {
    case PROP_COOLDOWN:
      SET_LOCKED (self, cooldown_ms, g_value_get_uint64 (value));
      break;
    case PROP_STREAM_ID:
      set_string (self, &self->stream_id, value);
      break;
    case PROP_OBJECT_URI_PREFIX:
      set_string (self, &self->object_uri_prefix, value);
      break;
    case PROP_POST_MESSAGES:
      SET_LOCKED (self, post_messages, g_value_get_boolean (value));
      break;
    case PROP_SEND_EVENTS:
      SET_LOCKED (self, send_events, g_value_get_boolean (value));
      break;
    default:
      return FALSE;
  }
  return TRUE;
}

static gboolean
set_history_property (GstVssQuery * self, guint prop_id, const GValue * value)
{
  switch (prop_id) {
    case PROP_HISTORY:
      SET_LOCKED (self, history_on, g_value_get_boolean (value));
      break;
    case PROP_VALKEY_URL:
      set_string (self, &self->valkey_url, value);
      break;
    case PROP_INDEX:
      set_string (self, &self->index, value);
      break;
    case PROP_HISTORY_K:
      SET_LOCKED (self, history_k, g_value_get_uint (value));
      break;
    case PROP_HISTORY_THRESHOLD:
      SET_LOCKED (self, history_threshold, g_value_get_double (value));
      break;
    case PROP_HISTORY_MAX_AGE:
      SET_LOCKED (self, history_max_age_ms, g_value_get_uint64 (value));
      break;
    case PROP_HISTORY_MIN_AGE:
      SET_LOCKED (self, history_min_age_ms, g_value_get_uint64 (value));
      break;
    case PROP_HISTORY_QUEUE_SIZE:
      SET_LOCKED (self, history_queue_size, g_value_get_uint (value));
      break;
    case PROP_HISTORY_INTERVAL:
      SET_LOCKED (self, history_interval_ms, g_value_get_uint64 (value));
      break;
    case PROP_FANOUT:
      SET_LOCKED (self, fanout, g_value_get_boolean (value));
      break;
    default:
      return FALSE;
  }
  return TRUE;
}

#undef SET_LOCKED

static void
gst_vss_query_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstVssQuery *self = GST_VSS_QUERY (object);

  if (prop_id == PROP_QUERIES)
    set_queries (self, value);
  else if (!set_provider_property (self, prop_id, value)
      && !set_output_property (self, prop_id, value)
      && !set_history_property (self, prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static GstStructure *
get_stats (GstVssQuery * self)
{
  GstStructure *s;
  VssQueryHistoryStats h;
  guint n_queries = vss_query_matcher_get_n_queries (self->matcher);
  guint64 embedded;

  GST_OBJECT_LOCK (self);
  h = self->history_stats;
  if (self->history)
    vss_query_history_get_stats (self->history, &h);
  embedded = self->frames - self->frames_no_embedding;
  s = gst_structure_new ("vssquery-stats",
      "frames", G_TYPE_UINT64, self->frames,
      "frames-without-embedding", G_TYPE_UINT64, self->frames_no_embedding,
      "queries", G_TYPE_UINT, n_queries,
      "comparisons", G_TYPE_UINT64, self->comparisons,
      "matches", G_TYPE_UINT64, self->matches,
      "suppressed", G_TYPE_UINT64, self->suppressed,
      "mean-compare-ns", G_TYPE_UINT64,
      embedded ? self->compare_ns_total / embedded : 0,
      "max-compare-ns", G_TYPE_UINT64, self->compare_ns_max,
      "history-submitted", G_TYPE_UINT64, h.submitted,
      "history-dropped", G_TYPE_UINT64, h.dropped,
      "history-searched", G_TYPE_UINT64, h.searched,
      "history-errors", G_TYPE_UINT64, h.errors,
      "history-matches", G_TYPE_UINT64, h.matches,
      "history-queue-max", G_TYPE_UINT, h.queue_max,
      "history-queue-size", G_TYPE_UINT, self->history_queue_size,
      "mean-history-latency-us", G_TYPE_UINT64, h.searched ?
      h.latency_us_total / h.searched : 0, NULL);
  GST_OBJECT_UNLOCK (self);
  return s;
}

/* Object lock held. Returns: whether @prop_id is the embedder's. */
static gboolean
get_provider_property (GstVssQuery * self, guint prop_id, GValue * value)
{
  switch (prop_id) {
    case PROP_PROVIDER:
      g_value_set_enum (value, self->provider);
      break;
    case PROP_MODEL:
      g_value_set_string (value, self->model);
      break;
    case PROP_DIMENSION:
      g_value_set_uint (value, self->dimension);
      break;
    case PROP_REGION:
    case PROP_ENDPOINT:
    case PROP_PROFILE:
      gst_vss_aws_props_get (&self->aws, PROP_REGION, prop_id, value);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout_ms);
      break;
    case PROP_MAX_RETRIES:
      g_value_set_uint (value, self->max_retries);
      break;
    default:
      return FALSE;
  }
  return TRUE;
}

/* Object lock held. */
static gboolean
get_output_property (GstVssQuery * self, guint prop_id, GValue * value)
{
  switch (prop_id) {
    case PROP_COOLDOWN:
      g_value_set_uint64 (value, self->cooldown_ms);
      break;
    case PROP_STREAM_ID:
      g_value_set_string (value, self->stream_id);
      break;
    case PROP_OBJECT_URI_PREFIX:
      g_value_set_string (value, self->object_uri_prefix);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, self->post_messages);
      break;
    case PROP_SEND_EVENTS:
      g_value_set_boolean (value, self->send_events);
      break;
    default:
      return FALSE;
  }
  return TRUE;
}

/* Object lock held. */
static gboolean
get_history_property (GstVssQuery * self, guint prop_id, GValue * value)
{
  switch (prop_id) {
    case PROP_HISTORY:
      g_value_set_boolean (value, self->history_on);
      break;
    case PROP_VALKEY_URL:
      g_value_take_string (value, self->valkey_url ?
          vss_valkey_url_mask (self->valkey_url) : NULL);
      break;
    case PROP_INDEX:
      g_value_set_string (value, self->index);
      break;
    case PROP_HISTORY_K:
      g_value_set_uint (value, self->history_k);
      break;
    case PROP_HISTORY_THRESHOLD:
      g_value_set_double (value, self->history_threshold);
      break;
    case PROP_HISTORY_MAX_AGE:
      g_value_set_uint64 (value, self->history_max_age_ms);
      break;
    case PROP_HISTORY_MIN_AGE:
      g_value_set_uint64 (value, self->history_min_age_ms);
      break;
    case PROP_HISTORY_QUEUE_SIZE:
      g_value_set_uint (value, self->history_queue_size);
      break;
    case PROP_HISTORY_INTERVAL:
      g_value_set_uint64 (value, self->history_interval_ms);
      break;
    case PROP_FANOUT:
      g_value_set_boolean (value, self->fanout);
      break;
    default:
      return FALSE;
  }
  return TRUE;
}

static void
gst_vss_query_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstVssQuery *self = GST_VSS_QUERY (object);
  gboolean known;

  switch (prop_id) {
    case PROP_QUERIES:
      g_value_take_string (value,
          vss_query_matcher_get_queries (self->matcher));
      break;
    case PROP_STATS:
      g_value_take_boxed (value, get_stats (self));
      break;
    default:
      GST_OBJECT_LOCK (self);
      known = get_provider_property (self, prop_id, value)
          || get_output_property (self, prop_id, value)
          || get_history_property (self, prop_id, value);
      GST_OBJECT_UNLOCK (self);
      if (!known)
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

/* ---- embedder ---- */

/* Builds an embedder from the current settings. */
static GstVssQueryEmbedder *
make_embedder (GstVssQuery * self, GError ** error)
{
  GstVssAwsSettings aws = { 0, };
  GstVssQueryEmbedderOptions o = { 0, };
  GstVssQueryEmbedder *e;

  GST_OBJECT_LOCK (self);
  o.provider = self->provider;
  o.model = self->model;
  o.dim = self->dimension;
  o.timeout_ms = self->timeout_ms;
  o.max_retries = self->max_retries;
  gst_vss_aws_props_to_settings (&self->aws, &gst_vss_aws_service_bedrock,
      &aws);
  o.aws = &aws;
  /* The settings strings are copied by the client; the lock keeps them
   * alive meanwhile. */
  e = gst_vss_query_embedder_new (&o, error);
  GST_OBJECT_UNLOCK (self);
  return e;
}

/* ---- matches ---- */

/* The fields every vss-match has (see the element doc). */
static GstStructure *
match_structure_new (const gchar * source, const gchar * query_id,
    const gchar * label, gdouble distance, gdouble threshold,
    const gchar * frame_id, const gchar * stream_id, GstClockTime pts,
    GstClockTime running_time, gint64 ts_ms)
{
  return gst_structure_new ("vss-match",
      "source", G_TYPE_STRING, source,
      "query-id", G_TYPE_STRING, query_id,
      "label", G_TYPE_STRING, label,
      "distance", G_TYPE_DOUBLE, distance,
      "threshold", G_TYPE_DOUBLE, threshold,
      "frame-id", G_TYPE_STRING, frame_id,
      "stream-id", G_TYPE_STRING, stream_id ? stream_id : "",
      "pts", G_TYPE_UINT64, pts,
      "running-time", G_TYPE_UINT64, running_time,
      "timestamp", G_TYPE_INT64, ts_ms, NULL);
}

/* Posts @s (taken) and sends it downstream, as the properties say. From
 * the streaming thread the event goes at once; from the history worker it
 * waits for the next buffer. */
static void
emit_match (GstVssQuery * self, GstStructure * s, gboolean from_worker)
{
  gboolean post, send;

  GST_OBJECT_LOCK (self);
  post = self->post_messages;
  send = self->send_events;
  GST_OBJECT_UNLOCK (self);
  if (send) {
    GstEvent *ev = gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM,
        gst_structure_copy (s));

    if (from_worker) {
      g_mutex_lock (&self->events_lock);
      g_queue_push_tail (&self->pending_events, ev);
      g_mutex_unlock (&self->events_lock);
    } else {
      gst_pad_push_event (GST_BASE_TRANSFORM_SRC_PAD (self), ev);
    }
  }
  if (post)
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_element (GST_OBJECT (self), s));
  else
    gst_structure_free (s);
}

static void
push_pending_events (GstVssQuery * self)
{
  GQueue q = G_QUEUE_INIT;
  GstEvent *ev;

  g_mutex_lock (&self->events_lock);
  q = self->pending_events;
  g_queue_init (&self->pending_events);
  g_mutex_unlock (&self->events_lock);
  while ((ev = g_queue_pop_head (&q)))
    gst_pad_push_event (GST_BASE_TRANSFORM_SRC_PAD (self), ev);
}

/* The history worker's answers (VssQueryHistoryFunc). */
static void
history_done (const VssQueryHistoryFrame * f, GPtrArray * hits,
    const GError * error, gpointer user_data)
{
  GstVssQuery *self = user_data;
  guint i;

  if (!hits) {
    gint64 now = g_get_monotonic_time ();

    if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
        && now - self->last_error_warning_us >= G_USEC_PER_SEC) {
      self->last_error_warning_us = now;
      GST_ELEMENT_WARNING (self, RESOURCE, READ,
          ("History search failed: %s", error->message),
          ("frame %s (at most one warning a second; stats count them all)",
              f->frame_id));
    }
    return;
  }
  for (i = 0; i < hits->len; i++) {
    GstVssQuerySearchResult *h = g_ptr_array_index (hits, i);
    GstStructure *s = match_structure_new ("history", "history", "history",
        h->distance, f->max_distance, f->frame_id, self->s_stream_id,
        f->pts, f->running_time, f->ts_ms);

    gst_structure_set (s,
        "match-key", G_TYPE_STRING, h->key,
        "match-stream", G_TYPE_STRING, h->record.stream ? h->record.stream :
        "", "match-frame-id", G_TYPE_STRING, h->record.id,
        "match-timestamp", G_TYPE_INT64, h->record.ts_ms,
        "match-uri", G_TYPE_STRING, h->record.uri ? h->record.uri : "", NULL);
    if (f->uri)
      gst_structure_set (s, "uri", G_TYPE_STRING, f->uri, NULL);
    GST_DEBUG_OBJECT (self, "history: frame %s close to %s (%.4f)",
        f->frame_id, h->key, h->distance);
    emit_match (self, s, TRUE);
  }
}

/* ---- start / stop ---- */

/* Copies what the streaming thread and the history use while running,
 * and zeroes the statistics. Returns: whether history is on. */
static gboolean
take_settings (GstVssQuery * self, VssQueryHistoryOptions * ho)
{
  gboolean history_on;

  GST_OBJECT_LOCK (self);
  g_free (self->s_stream_id);
  self->s_stream_id = g_strdup (self->stream_id);
  g_free (self->s_uri_prefix);
  self->s_uri_prefix = g_strdup (self->object_uri_prefix);
  if (self->s_uri_prefix && g_str_has_suffix (self->s_uri_prefix, "/"))
    self->s_uri_prefix[strlen (self->s_uri_prefix) - 1] = '\0';
  self->s_history_queue_size = self->history_queue_size;
  history_on = self->history_on;
  ho->valkey_url = g_strdup (self->valkey_url);
  ho->index = g_strdup (self->index);
  ho->stream_id = self->s_stream_id;
  ho->k = self->history_k;
  ho->queue_size = self->history_queue_size;
  ho->interval_ms = self->history_interval_ms;
  ho->fanout = self->fanout;
  self->frames = self->frames_no_embedding = self->comparisons = 0;
  self->matches = self->suppressed = 0;
  self->compare_ns_total = self->compare_ns_max = 0;
  memset (&self->history_stats, 0, sizeof (self->history_stats));
  GST_OBJECT_UNLOCK (self);

  self->last_drop_warning_us = 0;
  self->last_error_warning_us = 0;
  self->warned_dim = FALSE;
  return history_on;
}

static gboolean
gst_vss_query_start (GstBaseTransform * trans)
{
  GstVssQuery *self = GST_VSS_QUERY (trans);
  VssQueryHistoryOptions ho = { 0, };
  VssQueryHistory *history = NULL;
  GstVssQueryEmbedder *e;
  GError *err = NULL;

  e = make_embedder (self, &err);
  if (!e)
    goto bad_provider;
  g_free (self->s_model);
  self->s_model = g_strdup (gst_vss_query_embedder_get_model (e));
  self->s_dim = gst_vss_query_embedder_get_dim (e);
  if (!vss_query_matcher_start (self->matcher, e, &err))
    goto bad_query;

  if (take_settings (self, &ho)) {
    if (!self->s_stream_id)
      goto no_stream_id;
    history = vss_query_history_new (&ho, history_done, self, &err);
    if (!history)
      goto bad_url;
  }
  GST_OBJECT_LOCK (self);
  self->history = history;
  GST_OBJECT_UNLOCK (self);
  GST_INFO_OBJECT (self, "started: model %s, dimension %u, %u queries%s",
      self->s_model, self->s_dim,
      vss_query_matcher_get_n_queries (self->matcher),
      history ? ", history on" : "");
  g_free ((gchar *) ho.valkey_url);
  g_free ((gchar *) ho.index);
  return TRUE;

  /* ERRORS */
bad_provider:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("The query provider settings are incomplete or wrong."),
        ("%s", err->message));
    g_error_free (err);
    return FALSE;
  }
bad_query:
  {
    /* A set refused before start (parse errors) or a query that cannot be
     * embedded. */
    if (g_error_matches (err, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_PARSE)
        || g_error_matches (err, GST_VSS_QUERY_ERROR,
            GST_VSS_QUERY_ERROR_DUPLICATE))
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("The standing queries are not valid: %s", err->message),
          ("the queries property was refused before the element started"));
    else
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("A standing query cannot be used: %s", err->message), (NULL));
    g_error_free (err);
    return FALSE;
  }
no_stream_id:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("history=true needs stream-id (this stream's id, to search the "
            "other streams only)."), (NULL));
    g_free ((gchar *) ho.valkey_url);
    g_free ((gchar *) ho.index);
    gst_vss_query_stop (trans);
    return FALSE;
  }
bad_url:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("The Valkey URL is not valid: %s", err->message), (NULL));
    g_error_free (err);
    g_free ((gchar *) ho.valkey_url);
    g_free ((gchar *) ho.index);
    gst_vss_query_stop (trans);
    return FALSE;
  }
}

static gboolean
gst_vss_query_stop (GstBaseTransform * trans)
{
  GstVssQuery *self = GST_VSS_QUERY (trans);
  VssQueryHistory *history;

  /* Stopped first, so that its statistics are final when kept. */
  if (self->history)
    vss_query_history_stop (self->history);
  GST_OBJECT_LOCK (self);
  history = g_steal_pointer (&self->history);
  if (history)
    vss_query_history_get_stats (history, &self->history_stats);
  GST_OBJECT_UNLOCK (self);
  g_clear_pointer (&history, vss_query_history_free);

  g_mutex_lock (&self->events_lock);
  g_queue_clear_full (&self->pending_events, (GDestroyNotify)
      gst_event_unref);
  g_queue_init (&self->pending_events);
  g_mutex_unlock (&self->events_lock);

  vss_query_matcher_stop (self->matcher);
  return TRUE;
}

/* ---- streaming ---- */

/* Where vsssink puts this frame's object: the frame record names it. */
static gchar *
object_uri (GstVssQuery * self, const gchar * frame_id, gint64 ts_ms)
{
  gchar *stream, *name, *uri;

  if (!self->s_uri_prefix || !self->s_stream_id || !frame_id[0])
    return NULL;
  stream = gst_vss_record_sanitize_stream (self->s_stream_id);
  name = gst_vss_record_object_name (stream, frame_id, ts_ms,
      self->content_type);
  uri = g_strconcat (self->s_uri_prefix, "/", name, NULL);
  g_free (name);
  g_free (stream);
  return uri;
}

static gboolean
gst_vss_query_set_caps (GstBaseTransform * trans, GstCaps * incaps,
    GstCaps * outcaps)
{
  GstVssQuery *self = GST_VSS_QUERY (trans);
  const GstStructure *s = gst_caps_get_structure (incaps, 0);

  self->content_type = gst_structure_get_name (s);
  return TRUE;
}

/* A frame being matched: what a standing-query match reports about it. */
typedef struct
{
  GstVssQuery *self;
  const gchar *frame_id;
  GstClockTime pts;
  GstClockTime running_time;
  gint64 ts_ms;
  const gchar *uri;
} Frame;

/* The matcher's reported matches (VssQueryMatchFunc). */
static void
query_matched (const GstVssQuerySpec * q, gdouble distance, gpointer data)
{
  Frame *f = data;
  GstStructure *s = match_structure_new ("query", q->id, q->label, distance,
      q->threshold, f->frame_id, f->self->s_stream_id, f->pts,
      f->running_time, f->ts_ms);

  if (f->uri)
    gst_structure_set (s, "uri", G_TYPE_STRING, f->uri, NULL);
  GST_DEBUG_OBJECT (f->self, "frame %s matches '%s' (%.4f <= %.4f)",
      f->frame_id, q->id, distance, q->threshold);
  emit_match (f->self, s, FALSE);
}

/* The meta of the queries' model, or NULL (counted; a dimension that
 * differs from the queries' is said once). */
static GstVssEmbeddingMeta *
frame_meta (GstVssQuery * self, GstBuffer * buf)
{
  GstVssEmbeddingMeta *meta = self->s_model ?
      gst_vss_buffer_get_embedding_meta (buf, self->s_model) : NULL;

  if (meta && meta->dim == self->s_dim)
    return meta;
  if (meta && !self->warned_dim) {
    self->warned_dim = TRUE;
    GST_ELEMENT_WARNING (self, STREAM, FORMAT,
        ("The frames' %s embeddings have %u dimensions, the queries %u: "
            "set the same dimension on vssembed and vssquery.",
            self->s_model, meta->dim, self->s_dim), (NULL));
  }
  GST_OBJECT_LOCK (self);
  self->frames++;
  self->frames_no_embedding++;
  GST_OBJECT_UNLOCK (self);
  return NULL;
}

/* @meta's vector with unit length, for the dot products. */
static const gfloat *
unit_vector (GstVssQuery * self, const GstVssEmbeddingMeta * meta)
{
  if (meta->normalized)
    return meta->vector;
  if (self->scratch_len < meta->dim) {
    self->scratch = g_renew (gfloat, self->scratch, meta->dim);
    self->scratch_len = meta->dim;
  }
  memcpy (self->scratch, meta->vector, meta->dim * sizeof (gfloat));
  vss_normalize_f32 (self->scratch, meta->dim);
  return self->scratch;
}

/* Queues @f for a history search, saying (at most once a second) when the
 * queue is full. */
static void
submit_history (GstVssQuery * self, const gfloat * v, guint dim,
    const Frame * f)
{
  VssQueryHistoryFrame hf = { {0,}, };
  gint64 now;

  g_strlcpy (hf.frame_id, f->frame_id, sizeof (hf.frame_id));
  hf.pts = f->pts;
  hf.running_time = f->running_time;
  hf.ts_ms = f->ts_ms;
  hf.uri = f->uri;
  GST_OBJECT_LOCK (self);
  hf.max_distance = self->history_threshold;
  hf.max_age_ms = self->history_max_age_ms;
  hf.min_age_ms = self->history_min_age_ms;
  GST_OBJECT_UNLOCK (self);

  if (vss_query_history_submit (self->history, v, dim, &hf) !=
      VSS_QUERY_HISTORY_DROPPED)
    return;
  now = g_get_monotonic_time ();
  if (now - self->last_drop_warning_us >= G_USEC_PER_SEC) {
    self->last_drop_warning_us = now;
    GST_ELEMENT_WARNING (self, RESOURCE, BUSY,
        ("History search cannot keep up: frame %s not searched.",
            f->frame_id), ("queue of %u full (at most one warning a second; "
            "stats history-dropped counts them all)",
            self->s_history_queue_size));
  }
}

static GstFlowReturn
gst_vss_query_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstVssQuery *self = GST_VSS_QUERY (trans);
  GstVssEmbeddingMeta *meta;
  VssQueryMatchCounts c;
  Frame f = { self, };
  const gfloat *v;
  GstClockTime now;
  guint64 cooldown_ms;
  gchar *uri;

  push_pending_events (self);
  meta = frame_meta (self, buf);
  if (!meta)
    return GST_FLOW_OK;

  f.frame_id = meta->frame_id;
  f.pts = GST_BUFFER_PTS (buf);
  f.running_time = gst_segment_to_running_time (&trans->segment,
      GST_FORMAT_TIME, f.pts);
  if (!gst_vss_frame_id_get_time_ms (meta->frame_id, &f.ts_ms))
    f.ts_ms = g_get_real_time () / 1000;
  f.uri = uri = object_uri (self, meta->frame_id, f.ts_ms);
  /* Cooldowns count in running time; without one, in the monotonic clock. */
  now = GST_CLOCK_TIME_IS_VALID (f.running_time) ? f.running_time :
      (GstClockTime) g_get_monotonic_time () * GST_USECOND;
  v = unit_vector (self, meta);

  GST_OBJECT_LOCK (self);
  cooldown_ms = self->cooldown_ms;
  GST_OBJECT_UNLOCK (self);
  vss_query_matcher_match (self->matcher, v, meta->dim, now, cooldown_ms,
      query_matched, &f, &c);

  GST_OBJECT_LOCK (self);
  self->frames++;
  self->comparisons += c.comparisons;
  self->matches += c.matches;
  self->suppressed += c.suppressed;
  self->compare_ns_total += c.compare_ns;
  self->compare_ns_max = MAX (self->compare_ns_max, c.compare_ns);
  GST_OBJECT_UNLOCK (self);

  if (self->history)
    submit_history (self, v, meta->dim, &f);
  g_free (uri);
  return GST_FLOW_OK;
}

/* ---- ad-hoc search ---- */

static gchar **
split_streams (const gchar * s)
{
  gchar **v, **out;
  guint i, n = 0;

  if (!s || !s[0])
    return NULL;
  v = g_strsplit (s, ",", -1);
  out = g_new0 (gchar *, g_strv_length (v) + 1);
  for (i = 0; v[i]; i++) {
    gchar *t = g_strstrip (v[i]);

    if (t[0])
      out[n++] = g_strdup (t);
  }
  g_strfreev (v);
  return out;
}

static GstStructure *
search_error (const gchar * what, const GError * err)
{
  gchar *msg = g_strdup_printf ("%s: %s", what, err->message);
  GstStructure *s = gst_structure_new ("vss-search", "error", G_TYPE_STRING,
      msg, NULL);

  g_free (msg);
  return s;
}

/* The search's temporary embedder, when the element is stopped
 * (VssQueryMakeEmbedderFunc): remembers whether the settings failed. */
typedef struct
{
  GstVssQuery *self;
  gboolean failed;
} SearchEmbedder;

static GstVssQueryEmbedder *
search_make_embedder (gpointer data, GError ** error)
{
  SearchEmbedder *se = data;
  GstVssQueryEmbedder *e = make_embedder (se->self, error);

  se->failed = e == NULL;
  return e;
}

/* A `vss-filter` into @r. @streams and @exclude keep the lists that @r
 * points to: the caller frees them. */
static void
request_from_filter (GstVssQuerySearchRequest * r,
    const GstStructure * filter, gchar *** streams, gchar *** exclude)
{
  gint64 t;
  gdouble d;

  *streams = *exclude = NULL;
  if (!filter)
    return;
  *streams = split_streams (gst_structure_get_string (filter, "streams"));
  *exclude = split_streams (gst_structure_get_string (filter,
          "exclude-streams"));
  if (gst_structure_get_int64 (filter, "since", &t))
    r->since_ms = t;
  if (gst_structure_get_int64 (filter, "until", &t))
    r->until_ms = t;
  if (gst_structure_get_double (filter, "max-distance", &d))
    r->max_distance = d;
  r->streams = (const gchar * const *) *streams;
  r->exclude_streams = (const gchar * const *) *exclude;
}

/* Searches @r at the element's Valkey with a client of its own. */
static GPtrArray *
run_search (GstVssQuery * self, GstVssQuerySearchRequest * r, GError ** error)
{
  VssValkeyClient *client;
  GPtrArray *res = NULL;
  gchar *url, *index;
  gboolean fanout;

  GST_OBJECT_LOCK (self);
  url = g_strdup (self->valkey_url);
  index = g_strdup (self->index);
  fanout = self->fanout;
  GST_OBJECT_UNLOCK (self);
  r->index = index;
  client = vss_valkey_client_new_from_url (url, error);
  if (client) {
    res = gst_vss_query_search_run (client, r, fanout, NULL, error);
    vss_valkey_client_free (client);
  }
  r->index = NULL;
  g_free (url);
  g_free (index);
  return res;
}

static GstStructure *
results_structure (GPtrArray * res)
{
  GValue list = G_VALUE_INIT;
  GstStructure *out;
  guint i;

  g_value_init (&list, GST_TYPE_LIST);
  for (i = 0; i < res->len; i++) {
    GValue item = G_VALUE_INIT;

    g_value_init (&item, GST_TYPE_STRUCTURE);
    g_value_take_boxed (&item,
        gst_vss_query_search_result_to_structure (g_ptr_array_index (res, i)));
    gst_value_list_append_and_take_value (&list, &item);
  }
  out = gst_structure_new_empty ("vss-search");
  gst_structure_take_value (out, "results", &list);
  return out;
}

static GstStructure *
gst_vss_query_search (GstVssQuery * self, const gchar * text, GBytes * image,
    guint k, const GstStructure * filter)
{
  SearchEmbedder se = { self, FALSE };
  GstVssQuerySearchRequest r;
  GError *err = NULL;
  GPtrArray *res;
  GstStructure *out;
  gchar **streams, **exclude;
  gfloat *v;
  guint dim = 0;

  if ((text && text[0]) == (image != NULL)) {
    GError e = { GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_PARSE,
      (gchar *) "give exactly one of text and image"
    };
    return search_error ("bad search", &e);
  }
  /* With the running element's embedder, or a temporary one. */
  v = vss_query_matcher_embed (self->matcher, image ? NULL : text, image,
      search_make_embedder, &se, &dim, &err);
  if (!v) {
    out = search_error (se.failed ? "bad provider settings" :
        "cannot embed the query", err);
    g_error_free (err);
    return out;
  }

  gst_vss_query_search_request_init (&r);
  r.vector = v;
  r.dim = dim;
  r.k = k;
  request_from_filter (&r, filter, &streams, &exclude);
  res = run_search (self, &r, &err);
  g_free (v);
  g_strfreev (streams);
  g_strfreev (exclude);
  if (!res) {
    out = search_error ("search failed", err);
    g_error_free (err);
    return out;
  }
  out = results_structure (res);
  g_ptr_array_unref (res);
  return out;
}
