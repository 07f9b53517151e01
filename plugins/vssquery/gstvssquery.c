/* gst-vss: vssquery
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Locking:
 *  - `embed_lock` serialises the writers of the query set (the `queries`
 *    property, add-query, remove-query, start, stop) and guards `embedder`.
 *    Embedding a query (maybe a network request) happens under it, never
 *    under the other locks.
 *  - `set_lock` guards `specs` and `set`. It is held only to swap or take a
 *    reference on the set, so the streaming thread never waits for an
 *    embedding: it takes a reference and compares without any lock.
 *  - the object lock guards the other properties and the statistics.
 *  - `hlock` guards the history queue, `pending_events`, `hstop`.
 * Lock order: embed_lock, set_lock, object lock; hlock is never held with
 * another lock.
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
 * Query vectors are computed once, when the element starts or the query is
 * added, by the same provider as vssembed: `provider=bedrock` (Titan
 * Multimodal, `inputText` for texts, images as JPEG/PNG) or
 * `provider=local` (vss-local-v1: image queries only; a text query is
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
 *     vssquery provider=local queries='[{"image":"/tmp/door.jpg","threshold":0.15}]' ! \
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

#include <math.h>
#include <string.h>
#include "gstvssquery.h"
#include "gstvss.h"
#include "query/gstvssqueryset.h"
#include "query/gstvssqueryembed.h"
#include "query/gstvssquerysearch.h"
#include "aws/gstvssawsprops.h"

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

typedef struct
{
  GstClockTime last;            /* running time of the last report */
  gfloat best;                  /* its distance */
} Cooldown;

typedef struct
{
  gfloat *vector;
  guint dim;
  gchar frame_id[GST_VSS_FRAME_ID_SIZE];
  GstClockTime pts;
  GstClockTime running_time;
  gint64 ts_ms;
  gchar *uri;
} HistoryJob;

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
  gboolean history;
  gchar *valkey_url;            /* may hold a password: never logged */
  gchar *index;
  guint history_k;
  gdouble history_threshold;
  guint64 history_max_age_ms;
  guint64 history_min_age_ms;
  guint history_queue_size;
  guint64 history_interval_ms;
  gboolean fanout;

  /* query set (see the top of the file) */
  GMutex embed_lock;
  GstVssQueryEmbedder *embedder;
  GMutex set_lock;
  GPtrArray *specs;             /* GstVssQuerySpec, ids all set */
  GstVssQuerySet *set;          /* NULL while stopped */
  guint next_id;                /* object lock */

  /* streaming thread only; copied at start */
  gchar *s_model;
  guint s_dim;
  gchar *s_stream_id;
  gchar *s_uri_prefix;
  gboolean s_history;
  guint64 s_history_interval_ms;
  const gchar *content_type;    /* the caps' media type (an interned string) */
  GHashTable *cooldowns;        /* query id -> Cooldown */
  gfloat *scratch;
  gfloat *dists;
  guint dists_len;
  GstClockTime last_history_rt;
  gint64 last_drop_warning_us;
  gboolean warned_dim;

  /* history worker (hlock) */
  GMutex hlock;
  GCond hcond;
  GQueue hqueue;                /* HistoryJob */
  guint hqueue_size;
  gboolean hstop;
  GQueue pending_events;        /* GstEvent for the next buffer */
  GThread *hthread;
  GCancellable *hcancel;
  VssValkeyClient *hclient;     /* worker only */
  gint64 last_error_warning_us; /* worker only */

  /* statistics (object lock) */
  guint64 frames;
  guint64 frames_no_embedding;
  guint64 comparisons;
  guint64 matches;
  guint64 suppressed;
  guint64 compare_ns_total;
  guint64 compare_ns_max;
  guint64 history_submitted;
  guint64 history_dropped;
  guint64 history_searched;
  guint64 history_errors;
  guint64 history_matches;
  guint64 history_latency_us_total;
  guint history_queue_max;
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
          "Built-in model-free embedding (vss-local-v1): image queries only",
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
          "optional. Setting it replaces the whole set; while running, the "
          "new queries are embedded first and a bad set is refused with a "
          "warning, keeping the old one", NULL, RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_PROVIDER,
      g_param_spec_enum ("provider", "Provider",
          "Embeds the queries, as vssembed's provider of the same name "
          "embeds the frames (use the same settings): 'local' takes image "
          "queries only; 'bedrock' takes texts and images",
          GST_TYPE_VSS_QUERY_PROVIDER, DEFAULT_PROVIDER, RW_READY));
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "bedrock: the frames' model, whose meta is read and which embeds the "
          "queries. NULL: 'amazon.titan-embed-image-v1'. local: always "
          "'vss-local-v1'", NULL, RW_READY));
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
history_job_free (HistoryJob * j)
{
  g_free (j->vector);
  g_free (j->uri);
  g_free (j);
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
  self->history = DEFAULT_HISTORY;
  self->valkey_url = g_strdup (DEFAULT_VALKEY_URL);
  self->index = g_strdup (DEFAULT_INDEX);
  self->history_k = DEFAULT_HISTORY_K;
  self->history_threshold = DEFAULT_HISTORY_THRESHOLD;
  self->history_max_age_ms = DEFAULT_HISTORY_MAX_AGE;
  self->history_min_age_ms = DEFAULT_HISTORY_MIN_AGE;
  self->history_queue_size = DEFAULT_HISTORY_QUEUE_SIZE;
  self->history_interval_ms = DEFAULT_HISTORY_INTERVAL;
  self->fanout = DEFAULT_FANOUT;
  g_mutex_init (&self->embed_lock);
  g_mutex_init (&self->set_lock);
  g_mutex_init (&self->hlock);
  g_cond_init (&self->hcond);
  g_queue_init (&self->hqueue);
  g_queue_init (&self->pending_events);
  self->specs =
      g_ptr_array_new_with_free_func ((GDestroyNotify) gst_vss_query_spec_free);
  self->cooldowns = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      g_free);
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
  g_free (self->dists);
  g_ptr_array_unref (self->specs);
  g_clear_pointer (&self->set, gst_vss_query_set_unref);
  g_clear_pointer (&self->embedder, gst_vss_query_embedder_free);
  g_hash_table_unref (self->cooldowns);
  g_queue_clear_full (&self->hqueue, (GDestroyNotify) history_job_free);
  g_queue_clear_full (&self->pending_events, (GDestroyNotify)
      gst_event_unref);
  g_mutex_clear (&self->embed_lock);
  g_mutex_clear (&self->set_lock);
  g_mutex_clear (&self->hlock);
  g_cond_clear (&self->hcond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

/* ---- the query set ---- */

/* Gives every spec without an id the next free "qN". Object lock must not
 * be held; set_lock must (the ids in use are in `specs`). */
static void
assign_ids_locked (GstVssQuery * self, GPtrArray * specs)
{
  guint i, j;

  for (i = 0; i < specs->len; i++) {
    GstVssQuerySpec *s = g_ptr_array_index (specs, i);
    gboolean taken;

    while (!s->id) {
      gchar *id;

      GST_OBJECT_LOCK (self);
      id = g_strdup_printf ("q%u", ++self->next_id);
      GST_OBJECT_UNLOCK (self);
      taken = FALSE;
      for (j = 0; j < specs->len && !taken; j++)
        taken = !g_strcmp0 (((GstVssQuerySpec *) g_ptr_array_index (specs,
                    j))->id, id);
      for (j = 0; j < self->specs->len && !taken; j++)
        taken = !g_strcmp0 (((GstVssQuerySpec *) g_ptr_array_index (self->specs,
                    j))->id, id);
      if (taken)
        g_free (id);
      else
        s->id = id;
    }
  }
}

/* Embeds @spec. Called with embed_lock held and an embedder. */
static gfloat *
embed_spec (GstVssQuery * self, const GstVssQuerySpec * spec, GError ** error)
{
  GError *err = NULL;
  gfloat *v;

  if (spec->text)
    v = gst_vss_query_embedder_embed_text (self->embedder, spec->text, &err);
  else
    v = gst_vss_query_embedder_embed_file (self->embedder, spec->image, &err);
  if (!v) {
    g_set_error (error, err->domain, err->code, "query '%s': %s", spec->id,
        err->message);
    g_error_free (err);
  }
  return v;
}

/* Adds @specs to @set, embedding each. embed_lock held. */
static gboolean
compile_into (GstVssQuery * self, GstVssQuerySet * set, GPtrArray * specs,
    GError ** error)
{
  guint i;

  for (i = 0; i < specs->len; i++) {
    const GstVssQuerySpec *s = g_ptr_array_index (specs, i);
    gfloat *v = embed_spec (self, s, error);
    gboolean ok;

    if (!v)
      return FALSE;
    ok = gst_vss_query_set_add (set, s, v,
        gst_vss_query_embedder_get_dim (self->embedder), error);
    g_free (v);
    if (!ok)
      return FALSE;
    GST_INFO_OBJECT (self, "query '%s' (%s) ready, threshold %.3f", s->id,
        s->text ? "text" : "image", s->threshold);
  }
  return TRUE;
}

/* Replaces the whole set. While running the new specs are embedded first;
 * on failure nothing changes. */
static gboolean
replace_queries (GstVssQuery * self, GPtrArray * specs, GError ** error)
{
  GstVssQuerySet *set = NULL, *old;
  GPtrArray *old_specs;
  guint i;

  g_mutex_lock (&self->embed_lock);
  /* Ids of the new set only: the old one goes away. */
  g_mutex_lock (&self->set_lock);
  old_specs = self->specs;
  self->specs = g_ptr_array_new ();
  assign_ids_locked (self, specs);
  g_ptr_array_unref (self->specs);
  self->specs = old_specs;
  g_mutex_unlock (&self->set_lock);
  for (i = 0; i < specs->len; i++) {
    GstVssQuerySpec *a = g_ptr_array_index (specs, i);
    guint j;

    for (j = 0; j < i; j++)
      if (!g_strcmp0 (a->id, ((GstVssQuerySpec *) g_ptr_array_index (specs,
                      j))->id)) {
        g_set_error (error, GST_VSS_QUERY_ERROR,
            GST_VSS_QUERY_ERROR_DUPLICATE, "id '%s' is used twice", a->id);
        g_mutex_unlock (&self->embed_lock);
        return FALSE;
      }
  }
  if (self->embedder) {
    set = gst_vss_query_set_new (gst_vss_query_embedder_get_dim
        (self->embedder));
    if (!compile_into (self, set, specs, error)) {
      gst_vss_query_set_unref (set);
      g_mutex_unlock (&self->embed_lock);
      return FALSE;
    }
  }
  g_mutex_lock (&self->set_lock);
  old_specs = self->specs;
  self->specs = g_ptr_array_ref (specs);
  old = self->set;
  if (set)
    self->set = set;
  g_mutex_unlock (&self->set_lock);
  g_mutex_unlock (&self->embed_lock);
  g_ptr_array_unref (old_specs);
  if (set && old)
    gst_vss_query_set_unref (old);
  return TRUE;
}

static gchar *
gst_vss_query_add_query (GstVssQuery * self, const gchar * json)
{
  GError *err = NULL;
  GPtrArray *parsed;
  GstVssQuerySpec *spec;
  GstVssQuerySet *set = NULL, *old = NULL;
  gchar *id = NULL;
  gfloat *v;

  parsed = gst_vss_query_specs_from_json (json, &err);
  if (!parsed)
    goto refused;
  if (parsed->len != 1) {
    g_set_error (&err, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_PARSE,
        "add-query takes exactly one query object");
    goto refused;
  }
  spec = g_ptr_array_index (parsed, 0);

  g_mutex_lock (&self->embed_lock);
  g_mutex_lock (&self->set_lock);
  assign_ids_locked (self, parsed);
  for (guint i = 0; i < self->specs->len; i++)
    if (!g_strcmp0 (((GstVssQuerySpec *) g_ptr_array_index (self->specs,
                    i))->id, spec->id)) {
      g_set_error (&err, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_DUPLICATE,
          "a query with id '%s' exists already", spec->id);
      g_mutex_unlock (&self->set_lock);
      g_mutex_unlock (&self->embed_lock);
      goto refused;
    }
  g_mutex_unlock (&self->set_lock);

  if (self->embedder) {
    v = embed_spec (self, spec, &err);
    if (!v) {
      g_mutex_unlock (&self->embed_lock);
      goto refused;
    }
    /* Only writers change `set`, and we hold embed_lock: reading it without
     * set_lock is safe here. */
    set = gst_vss_query_set_copy_without (self->set, NULL);
    if (!gst_vss_query_set_add (set, spec, v,
            gst_vss_query_embedder_get_dim (self->embedder), &err)) {
      g_free (v);
      gst_vss_query_set_unref (set);
      g_mutex_unlock (&self->embed_lock);
      goto refused;
    }
    g_free (v);
  }
  g_mutex_lock (&self->set_lock);
  g_ptr_array_add (self->specs, gst_vss_query_spec_copy (spec));
  if (set) {
    old = self->set;
    self->set = set;
  }
  g_mutex_unlock (&self->set_lock);
  g_mutex_unlock (&self->embed_lock);
  if (old)
    gst_vss_query_set_unref (old);
  id = g_strdup (spec->id);
  GST_INFO_OBJECT (self, "added query '%s'", id);
  g_ptr_array_unref (parsed);
  return id;

refused:
  GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS,
      ("The query was refused: %s", err->message), ("add-query"));
  g_error_free (err);
  if (parsed)
    g_ptr_array_unref (parsed);
  return NULL;
}

static gboolean
gst_vss_query_remove_query (GstVssQuery * self, const gchar * id)
{
  GstVssQuerySet *set = NULL, *old = NULL;
  gboolean found = FALSE;
  guint i;

  if (!id)
    return FALSE;
  g_mutex_lock (&self->embed_lock);
  if (self->set)
    set = gst_vss_query_set_copy_without (self->set, id);
  g_mutex_lock (&self->set_lock);
  for (i = 0; i < self->specs->len; i++)
    if (!g_strcmp0 (((GstVssQuerySpec *) g_ptr_array_index (self->specs,
                    i))->id, id)) {
      g_ptr_array_remove_index (self->specs, i);
      found = TRUE;
      break;
    }
  if (set && found) {
    old = self->set;
    self->set = set;
    set = NULL;
  }
  g_mutex_unlock (&self->set_lock);
  g_mutex_unlock (&self->embed_lock);
  if (set)
    gst_vss_query_set_unref (set);
  if (old)
    gst_vss_query_set_unref (old);
  GST_INFO_OBJECT (self, "remove query '%s': %s", id, found ? "removed" :
      "no such query");
  return found;
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

static void
gst_vss_query_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstVssQuery *self = GST_VSS_QUERY (object);

  switch (prop_id) {
    case PROP_QUERIES:{
      GError *err = NULL;
      GPtrArray *specs = gst_vss_query_specs_from_json (g_value_get_string
          (value), &err);

      if (!specs || !replace_queries (self, specs, &err)) {
        GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS,
            ("The queries were refused: %s", err->message),
            ("queries property; the previous queries stay"));
        g_error_free (err);
      }
      if (specs)
        g_ptr_array_unref (specs);
      break;
    }
    case PROP_PROVIDER:
      GST_OBJECT_LOCK (self);
      self->provider = g_value_get_enum (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_MODEL:
      set_string (self, &self->model, value);
      break;
    case PROP_DIMENSION:
      GST_OBJECT_LOCK (self);
      self->dimension = g_value_get_uint (value);
      GST_OBJECT_UNLOCK (self);
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
      GST_OBJECT_LOCK (self);
      self->timeout_ms = g_value_get_uint (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_MAX_RETRIES:
      GST_OBJECT_LOCK (self);
      self->max_retries = g_value_get_uint (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_COOLDOWN:
      GST_OBJECT_LOCK (self);
      self->cooldown_ms = g_value_get_uint64 (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_STREAM_ID:
      set_string (self, &self->stream_id, value);
      break;
    case PROP_OBJECT_URI_PREFIX:
      set_string (self, &self->object_uri_prefix, value);
      break;
    case PROP_POST_MESSAGES:
      GST_OBJECT_LOCK (self);
      self->post_messages = g_value_get_boolean (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_SEND_EVENTS:
      GST_OBJECT_LOCK (self);
      self->send_events = g_value_get_boolean (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_HISTORY:
      GST_OBJECT_LOCK (self);
      self->history = g_value_get_boolean (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_VALKEY_URL:
      set_string (self, &self->valkey_url, value);
      break;
    case PROP_INDEX:
      set_string (self, &self->index, value);
      break;
    case PROP_HISTORY_K:
      GST_OBJECT_LOCK (self);
      self->history_k = g_value_get_uint (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_HISTORY_THRESHOLD:
      GST_OBJECT_LOCK (self);
      self->history_threshold = g_value_get_double (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_HISTORY_MAX_AGE:
      GST_OBJECT_LOCK (self);
      self->history_max_age_ms = g_value_get_uint64 (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_HISTORY_MIN_AGE:
      GST_OBJECT_LOCK (self);
      self->history_min_age_ms = g_value_get_uint64 (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_HISTORY_QUEUE_SIZE:
      GST_OBJECT_LOCK (self);
      self->history_queue_size = g_value_get_uint (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_HISTORY_INTERVAL:
      GST_OBJECT_LOCK (self);
      self->history_interval_ms = g_value_get_uint64 (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_FANOUT:
      GST_OBJECT_LOCK (self);
      self->fanout = g_value_get_boolean (value);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static GstStructure *
get_stats (GstVssQuery * self)
{
  GstStructure *s;
  guint n_queries = 0, qsize;

  g_mutex_lock (&self->set_lock);
  n_queries = self->specs->len;
  g_mutex_unlock (&self->set_lock);
  GST_OBJECT_LOCK (self);
  qsize = self->history_queue_size;
  s = gst_structure_new ("vssquery-stats",
      "frames", G_TYPE_UINT64, self->frames,
      "frames-without-embedding", G_TYPE_UINT64, self->frames_no_embedding,
      "queries", G_TYPE_UINT, n_queries,
      "comparisons", G_TYPE_UINT64, self->comparisons,
      "matches", G_TYPE_UINT64, self->matches,
      "suppressed", G_TYPE_UINT64, self->suppressed,
      "mean-compare-ns", G_TYPE_UINT64, self->frames - self->frames_no_embedding
      ? self->compare_ns_total / (self->frames - self->frames_no_embedding) : 0,
      "max-compare-ns", G_TYPE_UINT64, self->compare_ns_max,
      "history-submitted", G_TYPE_UINT64, self->history_submitted,
      "history-dropped", G_TYPE_UINT64, self->history_dropped,
      "history-searched", G_TYPE_UINT64, self->history_searched,
      "history-errors", G_TYPE_UINT64, self->history_errors,
      "history-matches", G_TYPE_UINT64, self->history_matches,
      "history-queue-max", G_TYPE_UINT, self->history_queue_max,
      "history-queue-size", G_TYPE_UINT, qsize,
      "mean-history-latency-us", G_TYPE_UINT64, self->history_searched ?
      self->history_latency_us_total / self->history_searched : 0, NULL);
  GST_OBJECT_UNLOCK (self);
  return s;
}

static void
gst_vss_query_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstVssQuery *self = GST_VSS_QUERY (object);

  switch (prop_id) {
    case PROP_QUERIES:
      g_mutex_lock (&self->set_lock);
      g_value_take_string (value, gst_vss_query_specs_to_json (self->specs));
      g_mutex_unlock (&self->set_lock);
      break;
    case PROP_STATS:
      g_value_take_boxed (value, get_stats (self));
      break;
    default:
      GST_OBJECT_LOCK (self);
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
        case PROP_HISTORY:
          g_value_set_boolean (value, self->history);
          break;
        case PROP_VALKEY_URL:{
          gchar *masked = self->valkey_url ?
              vss_valkey_url_mask (self->valkey_url) : NULL;
          g_value_take_string (value, masked);
          break;
        }
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
          G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
          break;
      }
      GST_OBJECT_UNLOCK (self);
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

/* ---- history worker ---- */

static void
post_and_queue (GstVssQuery * self, GstStructure * s, gboolean from_worker)
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
      g_mutex_lock (&self->hlock);
      g_queue_push_tail (&self->pending_events, ev);
      g_mutex_unlock (&self->hlock);
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
run_history_job (GstVssQuery * self, HistoryJob * j)
{
  GstVssQuerySearchRequest r;
  const gchar *exclude[2] = { NULL, NULL };
  GError *err = NULL;
  GPtrArray *res;
  guint64 max_age, min_age;
  gint64 t0 = g_get_monotonic_time ();
  gchar *index;
  gboolean fanout;
  guint i;

  gst_vss_query_search_request_init (&r);
  GST_OBJECT_LOCK (self);
  r.k = self->history_k;
  r.max_distance = self->history_threshold;
  max_age = self->history_max_age_ms;
  min_age = self->history_min_age_ms;
  index = g_strdup (self->index);
  fanout = self->fanout;
  GST_OBJECT_UNLOCK (self);
  exclude[0] = self->s_stream_id;
  r.index = index;
  r.vector = j->vector;
  r.dim = j->dim;
  r.exclude_streams = exclude;
  if (max_age > 0)
    r.since_ms = j->ts_ms - (gint64) max_age;
  r.until_ms = j->ts_ms - (gint64) min_age;

  res =
      gst_vss_query_search_run (self->hclient, &r, fanout, self->hcancel, &err);
  g_free (index);
  if (!res) {
    gint64 now = g_get_monotonic_time ();

    GST_OBJECT_LOCK (self);
    self->history_errors++;
    GST_OBJECT_UNLOCK (self);
    if (!g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED)
        && now - self->last_error_warning_us >= G_USEC_PER_SEC) {
      self->last_error_warning_us = now;
      GST_ELEMENT_WARNING (self, RESOURCE, READ,
          ("History search failed: %s", err->message),
          ("frame %s (at most one warning a second; stats count them all)",
              j->frame_id));
    }
    g_error_free (err);
    return;
  }
  GST_OBJECT_LOCK (self);
  self->history_searched++;
  self->history_latency_us_total += g_get_monotonic_time () - t0;
  self->history_matches += res->len;
  GST_OBJECT_UNLOCK (self);
  for (i = 0; i < res->len; i++) {
    GstVssQuerySearchResult *h = g_ptr_array_index (res, i);
    GstStructure *s = gst_structure_new ("vss-match",
        "source", G_TYPE_STRING, "history",
        "query-id", G_TYPE_STRING, "history",
        "label", G_TYPE_STRING, "history",
        "distance", G_TYPE_DOUBLE, h->distance,
        "threshold", G_TYPE_DOUBLE, r.max_distance,
        "frame-id", G_TYPE_STRING, j->frame_id,
        "stream-id", G_TYPE_STRING, self->s_stream_id,
        "pts", G_TYPE_UINT64, j->pts,
        "running-time", G_TYPE_UINT64, j->running_time,
        "timestamp", G_TYPE_INT64, j->ts_ms,
        "match-key", G_TYPE_STRING, h->key,
        "match-stream", G_TYPE_STRING, h->record.stream ? h->record.stream :
        "", "match-frame-id", G_TYPE_STRING, h->record.id,
        "match-timestamp", G_TYPE_INT64, h->record.ts_ms,
        "match-uri", G_TYPE_STRING, h->record.uri ? h->record.uri : "", NULL);

    if (j->uri)
      gst_structure_set (s, "uri", G_TYPE_STRING, j->uri, NULL);
    GST_DEBUG_OBJECT (self, "history: frame %s close to %s (%.4f)",
        j->frame_id, h->key, h->distance);
    post_and_queue (self, s, TRUE);
  }
  g_ptr_array_unref (res);
}

static gpointer
history_thread (gpointer data)
{
  GstVssQuery *self = data;

  g_mutex_lock (&self->hlock);
  while (TRUE) {
    HistoryJob *j;

    while (!self->hstop && g_queue_is_empty (&self->hqueue))
      g_cond_wait (&self->hcond, &self->hlock);
    if (self->hstop)
      break;
    j = g_queue_pop_head (&self->hqueue);
    g_mutex_unlock (&self->hlock);
    run_history_job (self, j);
    history_job_free (j);
    g_mutex_lock (&self->hlock);
  }
  g_mutex_unlock (&self->hlock);
  return NULL;
}

/* ---- start / stop ---- */

static gboolean
gst_vss_query_start (GstBaseTransform * trans)
{
  GstVssQuery *self = GST_VSS_QUERY (trans);
  GstVssQueryEmbedder *e;
  GstVssQuerySet *set;
  GPtrArray *specs;
  GError *err = NULL;
  gboolean history;
  gchar *url;

  e = make_embedder (self, &err);
  if (!e)
    goto bad_provider;

  g_mutex_lock (&self->embed_lock);
  self->embedder = e;
  g_mutex_lock (&self->set_lock);
  specs = g_ptr_array_ref (self->specs);
  g_mutex_unlock (&self->set_lock);
  set = gst_vss_query_set_new (gst_vss_query_embedder_get_dim (e));
  if (!compile_into (self, set, specs, &err)) {
    g_ptr_array_unref (specs);
    gst_vss_query_set_unref (set);
    g_clear_pointer (&self->embedder, gst_vss_query_embedder_free);
    g_mutex_unlock (&self->embed_lock);
    goto bad_query;
  }
  g_ptr_array_unref (specs);
  g_mutex_lock (&self->set_lock);
  g_clear_pointer (&self->set, gst_vss_query_set_unref);
  self->set = set;
  g_mutex_unlock (&self->set_lock);
  g_free (self->s_model);
  self->s_model = g_strdup (gst_vss_query_embedder_get_model (e));
  self->s_dim = gst_vss_query_embedder_get_dim (e);
  g_mutex_unlock (&self->embed_lock);

  GST_OBJECT_LOCK (self);
  g_free (self->s_stream_id);
  self->s_stream_id = g_strdup (self->stream_id);
  g_free (self->s_uri_prefix);
  self->s_uri_prefix = self->object_uri_prefix ?
      g_strdup (self->object_uri_prefix) : NULL;
  if (self->s_uri_prefix && g_str_has_suffix (self->s_uri_prefix, "/"))
    self->s_uri_prefix[strlen (self->s_uri_prefix) - 1] = '\0';
  history = self->s_history = self->history;
  self->s_history_interval_ms = self->history_interval_ms;
  url = g_strdup (self->valkey_url);
  self->frames = self->frames_no_embedding = self->comparisons = 0;
  self->matches = self->suppressed = 0;
  self->compare_ns_total = self->compare_ns_max = 0;
  self->history_submitted = self->history_dropped = 0;
  self->history_searched = self->history_errors = 0;
  self->history_matches = self->history_latency_us_total = 0;
  self->history_queue_max = 0;
  self->hqueue_size = self->history_queue_size;
  GST_OBJECT_UNLOCK (self);

  g_hash_table_remove_all (self->cooldowns);
  self->last_history_rt = GST_CLOCK_TIME_NONE;
  self->last_drop_warning_us = 0;
  self->warned_dim = FALSE;
  self->last_error_warning_us = 0;

  if (history) {
    if (!self->s_stream_id)
      goto no_stream_id;
    self->hclient = vss_valkey_client_new_from_url (url, &err);
    if (!self->hclient)
      goto bad_url;
    self->hcancel = g_cancellable_new ();
    self->hstop = FALSE;
    self->hthread = g_thread_new ("vssquery-history", history_thread, self);
  }
  g_free (url);
  GST_INFO_OBJECT (self, "started: model %s, dimension %u, %u queries%s",
      self->s_model, self->s_dim, gst_vss_query_set_get_size (set),
      history ? ", history on" : "");
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
    g_free (url);
    gst_vss_query_stop (trans);
    return FALSE;
  }
bad_url:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("The Valkey URL is not valid: %s", err->message), (NULL));
    g_error_free (err);
    g_free (url);
    gst_vss_query_stop (trans);
    return FALSE;
  }
}

static gboolean
gst_vss_query_stop (GstBaseTransform * trans)
{
  GstVssQuery *self = GST_VSS_QUERY (trans);

  if (self->hthread) {
    g_mutex_lock (&self->hlock);
    self->hstop = TRUE;
    g_cond_broadcast (&self->hcond);
    g_mutex_unlock (&self->hlock);
    g_cancellable_cancel (self->hcancel);
    g_thread_join (self->hthread);
    self->hthread = NULL;
  }
  g_clear_object (&self->hcancel);
  g_clear_pointer (&self->hclient, vss_valkey_client_free);
  g_mutex_lock (&self->hlock);
  g_queue_clear_full (&self->hqueue, (GDestroyNotify) history_job_free);
  g_queue_init (&self->hqueue);
  g_queue_clear_full (&self->pending_events, (GDestroyNotify)
      gst_event_unref);
  g_queue_init (&self->pending_events);
  g_mutex_unlock (&self->hlock);

  g_mutex_lock (&self->embed_lock);
  g_clear_pointer (&self->embedder, gst_vss_query_embedder_free);
  g_mutex_lock (&self->set_lock);
  g_clear_pointer (&self->set, gst_vss_query_set_unref);
  g_mutex_unlock (&self->set_lock);
  g_mutex_unlock (&self->embed_lock);
  g_hash_table_remove_all (self->cooldowns);
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

static void
submit_history (GstVssQuery * self, const gfloat * v, guint dim,
    const gchar * frame_id, GstClockTime pts, GstClockTime rt, gint64 ts_ms,
    const gchar * uri)
{
  HistoryJob *j;
  gboolean dropped = FALSE;
  guint len = 0;

  if (self->s_history_interval_ms && GST_CLOCK_TIME_IS_VALID (rt)
      && GST_CLOCK_TIME_IS_VALID (self->last_history_rt)
      && rt < self->last_history_rt + self->s_history_interval_ms * GST_MSECOND)
    return;
  self->last_history_rt = rt;

  g_mutex_lock (&self->hlock);
  if (g_queue_get_length (&self->hqueue) >= self->hqueue_size) {
    dropped = TRUE;
  } else {
    j = g_new0 (HistoryJob, 1);
    j->vector = g_memdup2 (v, dim * sizeof (gfloat));
    j->dim = dim;
    g_strlcpy (j->frame_id, frame_id, sizeof (j->frame_id));
    j->pts = pts;
    j->running_time = rt;
    j->ts_ms = ts_ms;
    j->uri = g_strdup (uri);
    g_queue_push_tail (&self->hqueue, j);
    len = g_queue_get_length (&self->hqueue);
    g_cond_signal (&self->hcond);
  }
  g_mutex_unlock (&self->hlock);

  GST_OBJECT_LOCK (self);
  if (dropped) {
    self->history_dropped++;
  } else {
    self->history_submitted++;
    self->history_queue_max = MAX (self->history_queue_max, len);
  }
  GST_OBJECT_UNLOCK (self);
  if (dropped) {
    gint64 now = g_get_monotonic_time ();

    if (now - self->last_drop_warning_us >= G_USEC_PER_SEC) {
      self->last_drop_warning_us = now;
      GST_ELEMENT_WARNING (self, RESOURCE, BUSY,
          ("History search cannot keep up: frame %s not searched.", frame_id),
          ("queue of %u full (at most one warning a second; stats "
              "history-dropped counts them all)", self->hqueue_size));
    }
  }
}

static void
push_pending_events (GstVssQuery * self)
{
  GQueue q = G_QUEUE_INIT;
  GstEvent *ev;

  g_mutex_lock (&self->hlock);
  q = self->pending_events;
  g_queue_init (&self->pending_events);
  g_mutex_unlock (&self->hlock);
  while ((ev = g_queue_pop_head (&q)))
    gst_pad_push_event (GST_BASE_TRANSFORM_SRC_PAD (self), ev);
}

static GstFlowReturn
gst_vss_query_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstVssQuery *self = GST_VSS_QUERY (trans);
  GstVssEmbeddingMeta *meta;
  GstVssQuerySet *set = NULL;
  const gfloat *v;
  GstClockTime pts = GST_BUFFER_PTS (buf), rt, now_t;
  gint64 ts_ms, t0, dt;
  guint64 cooldown_default;
  guint n = 0, i, n_matches = 0, n_suppressed = 0;
  gchar *uri = NULL;

  push_pending_events (self);

  meta = self->s_model ? gst_vss_buffer_get_embedding_meta (buf,
      self->s_model) : NULL;
  if (!meta || meta->dim != self->s_dim) {
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
    return GST_FLOW_OK;
  }

  rt = gst_segment_to_running_time (&trans->segment, GST_FORMAT_TIME, pts);
  if (!gst_vss_frame_id_get_time_ms (meta->frame_id, &ts_ms))
    ts_ms = g_get_real_time () / 1000;
  now_t = GST_CLOCK_TIME_IS_VALID (rt) ? rt :
      (GstClockTime) g_get_monotonic_time () * GST_USECOND;

  /* Unit vector for the dot products. */
  v = meta->vector;
  if (!meta->normalized) {
    gdouble norm = 0;

    self->scratch = g_renew (gfloat, self->scratch, meta->dim);
    for (i = 0; i < meta->dim; i++)
      norm += (gdouble) meta->vector[i] * meta->vector[i];
    norm = sqrt (norm);
    for (i = 0; i < meta->dim; i++)
      self->scratch[i] = norm > 0 ? (gfloat) (meta->vector[i] / norm) : 0;
    v = self->scratch;
  }

  uri = object_uri (self, meta->frame_id, ts_ms);

  g_mutex_lock (&self->set_lock);
  if (self->set)
    set = gst_vss_query_set_ref (self->set);
  g_mutex_unlock (&self->set_lock);
  GST_OBJECT_LOCK (self);
  cooldown_default = self->cooldown_ms;
  GST_OBJECT_UNLOCK (self);

  t0 = g_get_monotonic_time ();
  if (set && (n = gst_vss_query_set_get_size (set)) > 0) {
    if (self->dists_len < n) {
      self->dists = g_renew (gfloat, self->dists, n);
      self->dists_len = n;
    }
    gst_vss_query_set_distances (set, v, self->dists);
  }
  dt = g_get_monotonic_time () - t0;

  for (i = 0; i < n; i++) {
    const GstVssQuerySpec *q = gst_vss_query_set_get_spec (set, i);
    gfloat d = self->dists[i];
    guint64 cooldown;
    Cooldown *c;
    GstStructure *s;

    if (d > q->threshold)
      continue;
    cooldown = q->cooldown_ms >= 0 ? (guint64) q->cooldown_ms :
        cooldown_default;
    c = g_hash_table_lookup (self->cooldowns, q->id);
    if (c && cooldown > 0 && now_t >= c->last
        && now_t - c->last < cooldown * GST_MSECOND && d >= c->best) {
      n_suppressed++;
      continue;
    }
    if (!c) {
      c = g_new0 (Cooldown, 1);
      g_hash_table_insert (self->cooldowns, g_strdup (q->id), c);
    }
    c->last = now_t;
    c->best = d;
    n_matches++;
    s = gst_structure_new ("vss-match",
        "source", G_TYPE_STRING, "query",
        "query-id", G_TYPE_STRING, q->id,
        "label", G_TYPE_STRING, q->label,
        "distance", G_TYPE_DOUBLE, (gdouble) d,
        "threshold", G_TYPE_DOUBLE, q->threshold,
        "frame-id", G_TYPE_STRING, meta->frame_id,
        "stream-id", G_TYPE_STRING, self->s_stream_id ? self->s_stream_id : "",
        "pts", G_TYPE_UINT64, pts,
        "running-time", G_TYPE_UINT64, rt,
        "timestamp", G_TYPE_INT64, ts_ms, NULL);
    if (uri)
      gst_structure_set (s, "uri", G_TYPE_STRING, uri, NULL);
    GST_DEBUG_OBJECT (self, "frame %s matches '%s' (%.4f <= %.4f)",
        meta->frame_id, q->id, d, q->threshold);
    post_and_queue (self, s, FALSE);
  }

  GST_OBJECT_LOCK (self);
  self->frames++;
  self->comparisons += n;
  self->matches += n_matches;
  self->suppressed += n_suppressed;
  self->compare_ns_total += (guint64) dt *1000;
  self->compare_ns_max = MAX (self->compare_ns_max, (guint64) dt * 1000);
  GST_OBJECT_UNLOCK (self);
  if (set)
    gst_vss_query_set_unref (set);

  if (self->s_history)
    submit_history (self, v, meta->dim, meta->frame_id, pts, rt, ts_ms, uri);
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

static GstStructure *
gst_vss_query_search (GstVssQuery * self, const gchar * text, GBytes * image,
    guint k, const GstStructure * filter)
{
  GstVssQueryEmbedder *own = NULL;
  GstVssQuerySearchRequest r;
  VssValkeyClient *client;
  GError *err = NULL;
  GPtrArray *res;
  GstStructure *out;
  GValue list = G_VALUE_INIT;
  gchar **streams = NULL, **exclude = NULL, *url, *index;
  gfloat *v;
  gboolean fanout;
  guint dim, i;

  if ((text && text[0]) == (image != NULL)) {
    GError e = { GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_PARSE,
      (gchar *) "give exactly one of text and image"
    };
    return search_error ("bad search", &e);
  }

  /* Embed with the running element's embedder, or a temporary one. */
  g_mutex_lock (&self->embed_lock);
  if (!self->embedder) {
    own = make_embedder (self, &err);
    if (!own) {
      g_mutex_unlock (&self->embed_lock);
      out = search_error ("bad provider settings", err);
      g_error_free (err);
      return out;
    }
  }
  {
    GstVssQueryEmbedder *e = own ? own : self->embedder;

    v = text ? gst_vss_query_embedder_embed_text (e, text, &err) :
        gst_vss_query_embedder_embed_image (e, image, &err);
    dim = gst_vss_query_embedder_get_dim (e);
  }
  g_mutex_unlock (&self->embed_lock);
  if (own)
    gst_vss_query_embedder_free (own);
  if (!v) {
    out = search_error ("cannot embed the query", err);
    g_error_free (err);
    return out;
  }

  gst_vss_query_search_request_init (&r);
  r.vector = v;
  r.dim = dim;
  r.k = k;
  if (filter) {
    gint64 t;
    gdouble d;

    streams = split_streams (gst_structure_get_string (filter, "streams"));
    exclude = split_streams (gst_structure_get_string (filter,
            "exclude-streams"));
    if (gst_structure_get_int64 (filter, "since", &t))
      r.since_ms = t;
    if (gst_structure_get_int64 (filter, "until", &t))
      r.until_ms = t;
    if (gst_structure_get_double (filter, "max-distance", &d))
      r.max_distance = d;
  }
  r.streams = (const gchar * const *) streams;
  r.exclude_streams = (const gchar * const *) exclude;

  GST_OBJECT_LOCK (self);
  url = g_strdup (self->valkey_url);
  index = g_strdup (self->index);
  fanout = self->fanout;
  GST_OBJECT_UNLOCK (self);
  r.index = index;

  client = vss_valkey_client_new_from_url (url, &err);
  res =
      client ? gst_vss_query_search_run (client, &r, fanout, NULL, &err) : NULL;
  if (client)
    vss_valkey_client_free (client);
  g_free (url);
  g_free (index);
  g_free (v);
  g_strfreev (streams);
  g_strfreev (exclude);
  if (!res) {
    out = search_error ("search failed", err);
    g_error_free (err);
    return out;
  }

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
  g_ptr_array_unref (res);
  return out;
}
