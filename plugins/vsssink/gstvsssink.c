/* gst-vss: vsssink element
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-vsssink
 * @title: vsssink
 *
 * The end of the ingest pipeline. Each JPEG or PNG frame with an embedding
 * meta is stored exactly once: its image in an object store (`frames`:
 * `s3://bucket/prefix` or `file:///folder`, named by the frame id), then a
 * Valkey HASH `<key-prefix><stream-id>:<frame-id>` with these fields:
 *
 * * `vector`: the embedding, little-endian float32 (index field, VECTOR)
 * * `stream`: the stream id (TAG)
 * * `ts`: capture time, unix milliseconds, from the frame id (NUMERIC)
 * * `pts`: the buffer's PTS in nanoseconds (absent when it has none)
 * * `uri`: the object's URI (absent when `frames` is empty)
 * * `size`: the image's size in bytes
 * * `model`: the embedding model
 * * `id`: the frame id
 * * `dedup_distance`: distance to the nearest earlier frame, when vssdedup
 *   said
 * * `source`: what the frames come from (the `source` property, e.g. the
 *   file name), absent when it is not set (live streams)
 * * `position`: with `source`, the frame's position in it in milliseconds
 *   (the buffer's stream time: after a seek to 0:54 it is 54000)
 *
 * The object is written before the key, so a key always points at an
 * object; both writes are idempotent (same id, same names). Uploads run
 * concurrently, Valkey writes are pipelined. The index
 * `FT.CREATE <index> ON HASH PREFIX 1 <key-prefix> SCHEMA vector VECTOR
 * HNSW ... TYPE FLOAT32 DIM <d> DISTANCE_METRIC COSINE stream TAG ts
 * NUMERIC` is created when missing, and again when it goes missing: after
 * a reconnect (a server restarted empty, a failover) and, every
 * `index-check-interval` seconds, when a server drops it without closing
 * the connection.
 *
 * What cannot be written after retries goes to a crash-safe spool on disk
 * (`spool-dir`) and is replayed in order once the service is back, or on
 * the next start. With `journal` (the default) every frame is recorded in
 * the spool before it is written, so that even a killed process loses
 * nothing. A spool belongs to one destination (Valkey endpoint, index, key
 * prefix, frames store): the default folder is named after it, and a
 * folder holding frames for another one is refused (`adopt-spool`). When
 * frames go to the spool a warning says why (Valkey unreachable, out of
 * memory, read-only, credentials refused; a full disk) and what to do.
 *
 * `vss-stored` element messages (when `post-messages` is set) carry:
 * `frame-id` (string), `key` (string), `uri` (string, "" without
 * `frames`), `stream-id` (string) and `replayed` (boolean: written from the
 * spool).
 *
 * Logs: `GST_DEBUG=vsssink*:5` shows the element (`vsssink`) and its
 * writer (`vsssinkwriter`: uploads, Valkey writes, outages, the spool).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=clip.mp4 ! decodebin ! videorate ! \
 *     video/x-raw,framerate=1/1 ! videoconvert ! vssembed ! jpegenc ! \
 *     vsssink valkey=redis://127.0.0.1:6379 frames=file:///var/lib/frames \
 *     stream-id=cam1
 * ]|
 */
/* What the element does: properties, caps, start and stop, events (stream
 * id, EOS drain, flushing), turning a buffer into a frame (metas, frame id,
 * record), back-pressure, messages and errors. What happens to a frame
 * then (uploads, Valkey pipelines, the spool and its replay, outages, the
 * index) is the writer's, beside this file in vsssinkwriter.c.
 *
 * Locking: GST_OBJECT_LOCK guards the settings, `writer` (set by start,
 * cleared by stop; the streaming thread reads it without the lock, since it
 * only changes while no buffer flows), `stream` and `last_stats`. Lock
 * order: GST_OBJECT_LOCK, then the writer's own lock (vsssinkwriter.c).
 * The writer calls back into the element (messages, errors) with none of
 * its locks held, and no lock is held while waiting on the writer (submit,
 * drain, stop) or while posting messages. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gst/gst.h>
#include "gstvsssink.h"
#include "gstvsssinkrecord.h"
#include "vsssinkwriter.h"
#include "core/gstvssmeta.h"
#include "core/gstvssdedupmeta.h"
#include "core/gstvssframeid.h"
#include "core/gstvssrecord.h"
#include "aws/gstvssawsprops.h"
#include "valkey/gstvssvalkeyurl.h"
#include "store/gstvssstorespool.h"

GST_DEBUG_CATEGORY_STATIC (gst_vss_sink_debug);
#define GST_CAT_DEFAULT gst_vss_sink_debug

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("image/jpeg; image/png"));

#define DEFAULT_VALKEY "redis://127.0.0.1:6379"
#define DEFAULT_INDEX GST_VSS_RECORD_DEFAULT_INDEX
#define DEFAULT_KEY_PREFIX GST_VSS_RECORD_DEFAULT_KEY_PREFIX
#define DEFAULT_TTL 0
#define DEFAULT_CREATE_INDEX GST_VSS_SINK_CREATE_INDEX_AUTO
#define DEFAULT_INDEX_CHECK_INTERVAL 30
#define DEFAULT_ALGORITHM GST_VSS_SINK_ALGORITHM_HNSW
#define DEFAULT_M 16
#define DEFAULT_EF_CONSTRUCTION 200
#define DEFAULT_DIMENSION 0
#define DEFAULT_MAX_IN_FLIGHT 32
#define DEFAULT_SPOOL_MAX_BYTES (1024 * G_GUINT64_CONSTANT (1024) * 1024)
#define DEFAULT_DRAIN_TIMEOUT_MS 30000
#define DEFAULT_POST_MESSAGES FALSE
#define DEFAULT_JOURNAL TRUE
#define DEFAULT_ADOPT_SPOOL FALSE
#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_MAX_RETRIES 4

enum
{
  PROP_0,
  PROP_VALKEY,
  PROP_INDEX,
  PROP_KEY_PREFIX,
  PROP_STREAM_ID,
  PROP_FRAMES,
  PROP_MODEL,
  PROP_REGION,
  PROP_ENDPOINT,
  PROP_PROFILE,
  PROP_ACCESS_KEY_ID,
  PROP_SECRET_ACCESS_KEY,
  PROP_SESSION_TOKEN,
  PROP_TTL,
  PROP_CREATE_INDEX,
  PROP_INDEX_CHECK_INTERVAL,
  PROP_ALGORITHM,
  PROP_M,
  PROP_EF_CONSTRUCTION,
  PROP_DIMENSION,
  PROP_MAX_IN_FLIGHT,
  PROP_TIMEOUT,
  PROP_MAX_RETRIES,
  PROP_SPOOL_DIR,
  PROP_SPOOL_MAX_BYTES,
  PROP_ADOPT_SPOOL,
  PROP_JOURNAL,
  PROP_DRAIN_TIMEOUT,
  PROP_POST_MESSAGES,
  PROP_SOURCE,
  PROP_STATS,
};

struct _GstVssSink
{
  GstBaseSink parent;

  /* settings, under GST_OBJECT_LOCK */
  gchar *valkey;
  gchar *index;
  gchar *key_prefix;
  gchar *stream_id;
  gchar *frames;
  gchar *model;
  GstVssAwsProps aws;
  guint ttl;
  GstVssSinkCreateIndex create_index;
  guint index_check_interval;
  GstVssSinkAlgorithm algorithm;
  guint m;
  guint ef_construction;
  guint dimension;
  guint max_in_flight;
  guint timeout_ms;
  guint max_retries;
  gchar *spool_dir;
  guint64 spool_max_bytes;
  gboolean adopt_spool;
  gboolean journal;
  guint drain_timeout_ms;
  gboolean post_messages;
  gchar *source;

  /* running state, under GST_OBJECT_LOCK (see the top) */
  VssSinkWriter *writer;
  gchar *stream;                /* sanitised stream id in use */
  VssSinkWriterStats last_stats;        /* of the last run, once stopped */

  /* streaming thread only */
  gchar *content_type;
  const gchar *ext;
};

#define gst_vss_sink_parent_class parent_class
G_DEFINE_TYPE (GstVssSink, gst_vss_sink, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (vsssink, "vsssink", GST_RANK_NONE,
    GST_TYPE_VSS_SINK);

GType
gst_vss_sink_create_index_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_VSS_SINK_CREATE_INDEX_AUTO, "Create the index when it is missing",
        "auto"},
    {GST_VSS_SINK_CREATE_INDEX_NEVER, "Never create or check the index",
        "never"},
    {0, NULL, NULL}
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVssSinkCreateIndex", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_vss_sink_algorithm_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_VSS_SINK_ALGORITHM_HNSW, "HNSW graph (approximate, fast)", "hnsw"},
    {GST_VSS_SINK_ALGORITHM_FLAT, "Flat (exact, linear scan)", "flat"},
    {0, NULL, NULL}
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVssSinkAlgorithm", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

/* Messages and errors */

static void
on_stored (VssSinkWriter * writer, const VssSinkFrame * f, gpointer user_data)
{
  GstVssSink *self = user_data;

  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self),
          gst_structure_new ("vss-stored", "frame-id", G_TYPE_STRING, f->rec.id,
              "key", G_TYPE_STRING, f->key, "uri", G_TYPE_STRING, f->rec.uri,
              "stream-id", G_TYPE_STRING, f->rec.stream, "replayed",
              G_TYPE_BOOLEAN, f->replay, NULL)));
}

/* A folder store's path, for messages ("" for other stores). */
static gchar *
frames_folder (const VssSinkWriterSettings * s)
{
  gchar *path = s->frames ? g_filename_from_uri (s->frames, NULL, NULL) : NULL;

  return path ? path : g_strdup (s->frames ? s->frames : "");
}

/* Why frames wait in the spool and what to do about it, in the user's
 * words (issue 18, point 12: "when the service is back" is no advice when
 * a disk is full). */
static gchar *
spool_reason (VssSinkWriter * writer, VssSinkWriterCause cause)
{
  const VssSinkWriterSettings *s = vss_sink_writer_get_settings (writer);
  gchar *masked = vss_valkey_url_mask (s->valkey_url);
  gchar *folder = frames_folder (s);
  gchar *out;

  switch (cause) {
    case VSS_SINK_WRITER_CAUSE_UNREACHABLE:
      out = g_strdup_printf ("Valkey at %s cannot be reached; the frames are "
          "written when it is back.", masked);
      break;
    case VSS_SINK_WRITER_CAUSE_NOT_READY:
      out = g_strdup_printf ("Valkey at %s cannot serve for now (loading its "
          "data, busy, or its cluster is down); the frames are written when "
          "it can.", masked);
      break;
    case VSS_SINK_WRITER_CAUSE_OOM:
      out = g_strdup_printf ("Valkey at %s is out of memory (OOM: its used "
          "memory is above maxmemory and nothing may be evicted). Raise "
          "maxmemory or free memory on the server (expire or delete keys); "
          "the frames are written then.", masked);
      break;
    case VSS_SINK_WRITER_CAUSE_READONLY:
      out = g_strdup_printf ("Valkey at %s is a read-only replica (READONLY). "
          "Point valkey= at the primary, or make this server a primary "
          "again (REPLICAOF NO ONE); the frames are written then.", masked);
      break;
    case VSS_SINK_WRITER_CAUSE_AUTH:
      out = g_strdup_printf ("Valkey at %s refused the credentials (NOAUTH or "
          "WRONGPASS). Fix the user and password in valkey= or the server's "
          "ACL; the frames are written then.", masked);
      break;
    case VSS_SINK_WRITER_CAUSE_STORE_UNAVAILABLE:
      out = g_strdup_printf ("The object store %s cannot be reached or keeps "
          "failing; the frames are written when it answers.", folder);
      break;
    case VSS_SINK_WRITER_CAUSE_DISK_FULL:
      out = g_strdup_printf ("The disk of the frames folder %s is full. Free "
          "space there; the frames are written once there is room.", folder);
      break;
    default:
      out = g_strdup ("The frames are written when Valkey and the object "
          "store answer.");
      break;
  }
  g_free (folder);
  g_free (masked);
  return out;
}

/* Why a frame could not be spooled, in the user's words. */
static gchar *
not_spooled_reason (VssSinkWriter * writer, const VssSinkWriterReport * r)
{
  const VssSinkWriterSettings *s = vss_sink_writer_get_settings (writer);

  switch (r->cause) {
    case VSS_SINK_WRITER_CAUSE_SPOOL_FULL:
      return g_strdup_printf ("the spool %s is full (spool-max-bytes %"
          G_GUINT64_FORMAT "): raise spool-max-bytes, or fix what keeps the "
          "frames from being stored", s->spool_dir, s->spool_max_bytes);
    case VSS_SINK_WRITER_CAUSE_SPOOL_DISK_FULL:
      return g_strdup_printf ("the disk of the spool folder %s is full: free "
          "space there, or set spool-dir to a folder with room", s->spool_dir);
    default:
      return g_strdup_printf ("the spool %s cannot be written", s->spool_dir);
  }
}

/* The spool folder holds frames for another destination: which, how
 * many, and the ways out. */
static void
other_destination_error (GstVssSink * self, VssSinkWriter * writer,
    const gchar * detail)
{
  const VssSinkWriterSettings *s = vss_sink_writer_get_settings (writer);
  VssStoreSpoolInfo info;

  if (!vss_store_spool_peek (s->spool_dir, &info, NULL))
    memset (&info, 0, sizeof info);
  GST_ELEMENT_ERROR (self, RESOURCE, BUSY,
      ("Spool folder %s holds %u frames for another destination (%s); this "
          "sink writes to %s. Run a sink with that destination (the same "
          "valkey, index, key-prefix and frames) to write them, set "
          "adopt-spool=true to write them to this one, or give this sink "
          "another spool-dir.", s->spool_dir, info.n_records + info.n_journal,
          info.owner ? info.owner : "?",
          vss_sink_writer_get_destination (writer)), ("%s", detail));
  vss_store_spool_info_clear (&info);
}

/* What stopped the writer, at start or later, in the user's words; the
 * writer's detail is the debug text. */
static void
post_writer_error (GstVssSink * self, VssSinkWriter * writer,
    const VssSinkWriterReport * r)
{
  const VssSinkWriterSettings *s = vss_sink_writer_get_settings (writer);
  const gchar *detail = r->error->message;
  const gchar *fid = r->frame ? r->frame->rec.id : "";
  gchar *masked, *reason;

#define HTTP ("http-status-code", G_TYPE_UINT, (guint) r->http_status, NULL)
#define VALKEY(e) ("valkey-error", G_TYPE_STRING, (e), NULL)
  switch (r->error->code) {
    case VSS_SINK_WRITER_ERROR_STORE:
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("Cannot use the object store '%s'.", s->frames), ("%s", detail));
      break;
    case VSS_SINK_WRITER_ERROR_SPOOL:
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ_WRITE,
          ("Cannot open the spool folder '%s'.", s->spool_dir), ("%s", detail));
      break;
    case VSS_SINK_WRITER_ERROR_OTHER_DESTINATION:
      other_destination_error (self, writer, detail);
      break;
    case VSS_SINK_WRITER_ERROR_URL:
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("Invalid Valkey URL."), ("%s", detail));
      break;
    case VSS_SINK_WRITER_ERROR_CONNECT:
      masked = vss_valkey_url_mask (s->valkey_url);
      GST_ELEMENT_ERROR_WITH_DETAILS (self, RESOURCE, OPEN_WRITE,
          ("Cannot connect to Valkey at %s.", masked), ("%s", detail),
          VALKEY (detail));
      g_free (masked);
      break;
    case VSS_SINK_WRITER_ERROR_INDEX:
      GST_ELEMENT_ERROR_WITH_DETAILS (self, RESOURCE, SETTINGS,
          ("The vector index '%s' cannot be used.", s->index),
          ("%s", detail), VALKEY (detail));
      break;
    case VSS_SINK_WRITER_ERROR_ACCESS_DENIED:
      GST_ELEMENT_ERROR_WITH_DETAILS (self, RESOURCE, NOT_AUTHORIZED,
          ("Access to the object store was denied."), ("%s", detail), HTTP);
      break;
    case VSS_SINK_WRITER_ERROR_NO_SUCH_BUCKET:
      GST_ELEMENT_ERROR_WITH_DETAILS (self, RESOURCE, NOT_FOUND,
          ("The S3 bucket does not exist."), ("%s", detail), HTTP);
      break;
    case VSS_SINK_WRITER_ERROR_OBJECT_REFUSED:
      GST_ELEMENT_ERROR_WITH_DETAILS (self, RESOURCE, WRITE,
          ("The object store refused a frame."), ("%s", detail), HTTP);
      break;
    case VSS_SINK_WRITER_ERROR_KEY_REFUSED:
      GST_ELEMENT_ERROR_WITH_DETAILS (self, RESOURCE, WRITE,
          ("Valkey refused frame %s.", fid), ("%s", detail),
          VALKEY (r->valkey_error));
      break;
    case VSS_SINK_WRITER_ERROR_NOT_SPOOLED:
      reason = not_spooled_reason (writer, r);
      /* In the journal, the frame is not lost: the next start writes it. */
      if (r->in_journal)
        GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
            ("Frame %s could not be spooled: %s. It stays in the journal and "
                "is written by the next start.", fid, reason), ("%s", detail));
      else
        GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
            ("Frame %s could not be stored nor spooled: %s.", fid, reason),
            ("%s", detail));
      g_free (reason);
      break;
    default:
      GST_ELEMENT_ERROR (self, RESOURCE, FAILED,
          ("Frames cannot be stored."), ("%s", detail));
      break;
  }
#undef HTTP
#undef VALKEY
}

static void
on_error (VssSinkWriter * writer, const VssSinkWriterReport * r,
    gpointer user_data)
{
  post_writer_error (GST_VSS_SINK (user_data), writer, r);
}

static void
on_notice (VssSinkWriter * writer, const VssSinkWriterReport * r,
    gpointer user_data)
{
  GstVssSink *self = user_data;
  const gchar *detail = r->error->message;
  gchar *masked;

  gchar *reason;

  switch (r->error->code) {
    case VSS_SINK_WRITER_ERROR_RECOVERED:
      GST_ELEMENT_INFO (self, RESOURCE, OPEN_READ_WRITE,
          ("Recovered %u %s from the journal of a run that did not stop "
              "cleanly; they are written again.", r->n_frames,
              r->n_frames == 1 ? "frame" : "frames"), ("%s", detail));
      break;
    case VSS_SINK_WRITER_ERROR_SPOOLING:
      reason = spool_reason (writer, r->cause);
      GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
          ("%s Until then frames are kept in the spool %s.", reason,
              vss_sink_writer_get_settings (writer)->spool_dir),
          ("%s", detail));
      g_free (reason);
      break;
    case VSS_SINK_WRITER_ERROR_ADOPTED:
      if (r->destination)
        GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
            ("Writing %u frames that spool folder %s held for another "
                "destination (%s) to this sink's, %s (adopt-spool).",
                r->n_frames, vss_sink_writer_get_settings (writer)->spool_dir,
                r->destination, vss_sink_writer_get_destination (writer)),
            ("%s", detail));
      else
        GST_ELEMENT_INFO (self, RESOURCE, WRITE,
            ("Spool folder %s names no destination (an earlier version "
                "wrote it): its %u frames are written to this sink's, %s.",
                vss_sink_writer_get_settings (writer)->spool_dir, r->n_frames,
                vss_sink_writer_get_destination (writer)), ("%s", detail));
      break;
    case VSS_SINK_WRITER_ERROR_RESUMED:
      GST_ELEMENT_INFO (self, RESOURCE, WRITE,
          ("Frames are stored again (%u written from the spool).",
              r->n_frames), ("%u frames written from the spool", r->n_frames));
      break;
    case VSS_SINK_WRITER_ERROR_UNREACHABLE:
      masked = vss_valkey_url_mask
          (vss_sink_writer_get_settings (writer)->valkey_url);
      GST_ELEMENT_WARNING (self, RESOURCE, OPEN_WRITE,
          ("Valkey at %s is unreachable; frames are spooled until it is back.",
              masked), ("%s", detail));
      g_free (masked);
      break;
    case VSS_SINK_WRITER_ERROR_UNREADABLE:
      GST_ELEMENT_WARNING (self, RESOURCE, READ,
          ("A spooled frame is unreadable and was set aside."), ("%s", detail));
      break;
    default:
      GST_WARNING_OBJECT (self, "writer: %s", detail);
      break;
  }
}

/* Streaming */

static gboolean
gst_vss_sink_set_caps (GstBaseSink * bsink, GstCaps * caps)
{
  GstVssSink *self = GST_VSS_SINK (bsink);
  const gchar *name = gst_structure_get_name (gst_caps_get_structure (caps,
          0));

  g_free (self->content_type);
  self->content_type = g_strdup (name);
  self->ext = g_str_equal (name, "image/png") ? "png" : "jpg";
  return TRUE;
}

static gchar *
derive_stream_id (const gchar * upstream)
{
  /* Upstream ids are often "<hash>/<track>": keep the readable tail. */
  const gchar *slash = upstream ? strrchr (upstream, '/') : NULL;
  gchar *head, *out;

  if (upstream == NULL || upstream[0] == '\0')
    return g_strdup ("default");
  head = g_strndup (upstream, slash ? (gsize) (slash - upstream) :
      strlen (upstream));
  if (strlen (head) > 16)
    head[16] = '\0';
  out = gst_vss_record_sanitize_stream (head);
  g_free (head);
  return out;
}

/* At EOS: what is still not stored, why, and what to do. */
static void
warn_left (GstVssSink * self, guint n_left, guint timeout)
{
  VssSinkWriterStats st;
  gchar *reason;

  vss_sink_writer_get_stats (self->writer, &st);
  reason = st.cause == VSS_SINK_WRITER_CAUSE_NONE ? g_strdup ("") :
      spool_reason (self->writer, st.cause);
  GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
      ("%u frames could not be stored within %u ms; they are kept in the "
          "spool %s. %s%sWhat is still there when the sink stops is written "
          "by the next start.", n_left, timeout,
          vss_sink_writer_get_settings (self->writer)->spool_dir, reason,
          reason[0] ? " " : ""), ("spool %s",
          vss_sink_writer_get_settings (self->writer)->spool_dir));
  g_free (reason);
}

static gboolean
gst_vss_sink_event (GstBaseSink * bsink, GstEvent * event)
{
  GstVssSink *self = GST_VSS_SINK (bsink);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_STREAM_START:{
      const gchar *sid = NULL;

      GST_OBJECT_LOCK (self);
      if (self->stream_id == NULL) {
        gst_event_parse_stream_start (event, &sid);
        g_free (self->stream);
        self->stream = derive_stream_id (sid);
        GST_INFO_OBJECT (self, "stream id '%s' (from '%s')", self->stream,
            GST_STR_NULL (sid));
      }
      GST_OBJECT_UNLOCK (self);
      break;
    }
    case GST_EVENT_EOS:{
      guint timeout;
      guint n_left = 0;

      GST_OBJECT_LOCK (self);
      timeout = self->drain_timeout_ms;
      GST_OBJECT_UNLOCK (self);
      if (!vss_sink_writer_drain (self->writer, timeout, &n_left))
        warn_left (self, n_left, timeout);
      break;
    }
    default:
      break;
  }
  return GST_BASE_SINK_CLASS (parent_class)->event (bsink, event);
}

typedef struct
{
  GstBuffer *buf;
  GstMapInfo map;
} MappedBuffer;

static void
mapped_buffer_free (gpointer data)
{
  MappedBuffer *m = data;

  gst_buffer_unmap (m->buf, &m->map);
  gst_buffer_unref (m->buf);
  g_free (m);
}

/* The image without a copy: the bytes keep the buffer mapped and alive. */
static GBytes *
bytes_of_buffer (GstBuffer * buf)
{
  MappedBuffer *m = g_new0 (MappedBuffer, 1);

  m->buf = gst_buffer_ref (buf);
  if (!gst_buffer_map (m->buf, &m->map, GST_MAP_READ)) {
    gst_buffer_unref (m->buf);
    g_free (m);
    return NULL;
  }
  return g_bytes_new_with_free_func (m->map.data, m->map.size,
      mapped_buffer_free, m);
}

/* The first bytes must say what the caps say, so that a store never holds
 * a "JPEG" that is something else. */
static gboolean
image_matches_caps (GstVssSink * self, GstBuffer * buf)
{
  static const guint8 jpeg[] = { 0xff, 0xd8, 0xff };
  static const guint8 png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  gboolean is_png = self->ext && g_str_equal (self->ext, "png");
  const guint8 *want = is_png ? png : jpeg;
  gsize n = is_png ? sizeof png : sizeof jpeg;
  guint8 head[8];

  return gst_buffer_extract (buf, 0, head, n) == n
      && memcmp (head, want, n) == 0;
}

/* The embedding meta of @model on @buf and the frame id, checked with
 * the image's bytes; NULL, after posting the error, when the buffer cannot
 * be stored. */
static GstVssEmbeddingMeta *
checked_meta (GstVssSink * self, GstBuffer * buf, const gchar * model,
    const gchar ** frame_id)
{
  GstVssEmbeddingMeta *meta = gst_vss_buffer_get_embedding_meta (buf, model);
  const gchar *fid = NULL;

  if (meta == NULL)
    goto no_meta;
  fid = meta->frame_id[0] ? meta->frame_id : gst_vss_buffer_get_frame_id (buf);
  if (fid == NULL || !gst_vss_frame_id_is_valid (fid))
    goto no_id;
  if (meta->dim == 0 || meta->vector == NULL)
    goto no_meta;
  if (gst_buffer_get_size (buf) == 0)
    goto empty;
  if (!image_matches_caps (self, buf))
    goto not_image;
  *frame_id = fid;
  return meta;

  /* ERRORS */
no_meta:
  {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Frame without an embedding%s%s: put vssembed upstream.",
            model ? " of model " : "", model ? model : ""),
        ("buffer %" GST_PTR_FORMAT " has %u embedding metas", buf,
            gst_vss_buffer_n_embedding_metas (buf)));
    return NULL;
  }
no_id:
  {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Frame without a valid frame id."), ("id '%s'", GST_STR_NULL (fid)));
    return NULL;
  }
empty:
  {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Empty image buffer."),
        ("frame %s", fid));
    return NULL;
  }
not_image:
  {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Frame %s is not a %s image (the caps say it is).", fid,
            self->ext && g_str_equal (self->ext, "png") ? "PNG" : "JPEG"),
        ("%" G_GSIZE_FORMAT " bytes with another signature",
            gst_buffer_get_size (buf)));
    return NULL;
  }
}

/* Where @buf is in the file: its stream time (the position a player
 * shows, which a seek or a segment not starting at 0 keeps right), in ms;
 * -1 when it has none. Streaming thread: the segment is basesink's. */
static gint64
position_in_source (GstVssSink * self, GstBuffer * buf)
{
  GstSegment *seg = &GST_BASE_SINK (self)->segment;
  guint64 st;

  if (!GST_BUFFER_PTS_IS_VALID (buf) || seg->format != GST_FORMAT_TIME)
    return -1;
  st = gst_segment_to_stream_time (seg, GST_FORMAT_TIME, GST_BUFFER_PTS (buf));
  return GST_CLOCK_TIME_IS_VALID (st) ? (gint64) (st / GST_MSECOND) : -1;
}

/* The frame for @buf: its record, key, object name and image (without a
 * copy). NULL when the buffer cannot be read. */
static VssSinkFrame *
frame_new (GstVssSink * self, GstBuffer * buf,
    const GstVssEmbeddingMeta * meta, const gchar * fid)
{
  const VssSinkWriterSettings *s = vss_sink_writer_get_settings (self->writer);
  VssSinkFrame *f = vss_sink_frame_new ();
  const gchar *matched;
  gdouble dist;

  GST_OBJECT_LOCK (self);
  f->rec.stream = g_strdup (self->stream);
  f->rec.source = g_strdup (self->source);
  GST_OBJECT_UNLOCK (self);
  f->rec.id = g_strdup (fid);
  f->key = gst_vss_record_key (s->key_prefix, f->rec.stream, f->rec.id);
  f->rec.model = g_strdup (meta->model);
  f->content_type = g_strdup (self->content_type ? self->content_type :
      "image/jpeg");
  if (!gst_vss_frame_id_get_time_ms (f->rec.id, &f->rec.ts_ms))
    f->rec.ts_ms = g_get_real_time () / 1000;
  f->rec.pts =
      GST_BUFFER_PTS_IS_VALID (buf) ? (gint64) GST_BUFFER_PTS (buf) : -1;
  if (f->rec.source)
    f->rec.position_ms = position_in_source (self, buf);
  f->rec.size = gst_buffer_get_size (buf);
  f->rec.has_dedup = gst_vss_buffer_get_dedup_info (buf, &dist, &matched);
  f->rec.dedup_distance = f->rec.has_dedup ? dist : 0;
  f->rec.vector = gst_vss_record_vector_from_floats (meta->vector, meta->dim);
  if (vss_sink_writer_name_object (self->writer, f)
      && (f->image = bytes_of_buffer (buf)) == NULL) {
    vss_sink_frame_free (f);
    return NULL;
  }
  return f;
}

static GstFlowReturn
gst_vss_sink_render (GstBaseSink * bsink, GstBuffer * buf)
{
  GstVssSink *self = GST_VSS_SINK (bsink);
  GstVssEmbeddingMeta *meta;
  VssSinkFrame *f;
  const gchar *fid = NULL;
  gchar *model;
  guint want;
  GError *err = NULL;

  GST_OBJECT_LOCK (self);
  model = g_strdup (self->model);
  GST_OBJECT_UNLOCK (self);
  meta = checked_meta (self, buf, model, &fid);
  g_free (model);
  if (meta == NULL)
    return GST_FLOW_ERROR;
  if (!vss_sink_writer_accept_dim (self->writer, meta->dim, &want))
    goto wrong_dim;
  if ((f = frame_new (self, buf, meta, fid)) == NULL)
    goto map_failed;
  /* Blocks while the writer has max-in-flight uploads running. */
  if (!vss_sink_writer_submit (self->writer, f, &err))
    goto not_taken;
  return GST_FLOW_OK;

  /* ERRORS */
wrong_dim:
  {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Frame %s has a %u-dimensional vector, but the index '%s' holds "
            "%u-dimensional vectors.", fid, meta->dim,
            vss_sink_writer_get_settings (self->writer)->index, want),
        ("model %s", meta->model));
    return GST_FLOW_ERROR;
  }
map_failed:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, READ, ("Cannot read the frame."),
        (NULL));
    return GST_FLOW_ERROR;
  }
not_taken:
  {
    GstFlowReturn ret = GST_FLOW_ERROR;

    /* FAILED: the writer posted its error already. */
    if (g_error_matches (err, VSS_SINK_WRITER_ERROR,
            VSS_SINK_WRITER_ERROR_FLUSHING))
      ret = GST_FLOW_FLUSHING;
    else if (g_error_matches (err, VSS_SINK_WRITER_ERROR,
            VSS_SINK_WRITER_ERROR_JOURNAL))
      GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
          ("The spool cannot take more frames."), ("%s", err->message));
    else if (g_error_matches (err, VSS_SINK_WRITER_ERROR,
            VSS_SINK_WRITER_ERROR_DISK_FULL))
      GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
          ("The disk of the spool folder %s is full: free space there, or set "
              "spool-dir to a folder with room.",
              vss_sink_writer_get_settings (self->writer)->spool_dir),
          ("%s", err->message));
    g_error_free (err);
    return ret;
  }
}

static gboolean
gst_vss_sink_unlock (GstBaseSink * bsink)
{
  GstVssSink *self = GST_VSS_SINK (bsink);

  GST_OBJECT_LOCK (self);
  if (self->writer)
    vss_sink_writer_set_flushing (self->writer, TRUE);
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gboolean
gst_vss_sink_unlock_stop (GstBaseSink * bsink)
{
  GstVssSink *self = GST_VSS_SINK (bsink);

  GST_OBJECT_LOCK (self);
  if (self->writer)
    vss_sink_writer_set_flushing (self->writer, FALSE);
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

/* Start and stop */

/* Default spool folders (issue 18, point 1): a spool belongs to one
 * destination, so the default folder is named after it:
 * $XDG_STATE_HOME/gst-vss/spool/<index>-<stream>-<tag>, the tag being the
 * first 8 hex digits of the SHA-256 of the destination. Sinks writing
 * elsewhere never share a folder by default, and a killed run's frames
 * wait for a sink with its destination. Builds before this one used
 * <index>-<stream>: while such a folder holds frames and names no
 * destination (or ours), it is used, and replayed, as they did. */

static gchar *
spool_base (void)
{
  return g_build_filename (g_get_user_state_dir (), "gst-vss", "spool", NULL);
}

static gchar *
spool_leaf (const gchar * index, const gchar * stream)
{
  gchar *a = gst_vss_record_sanitize_stream (index);
  gchar *b = gst_vss_record_sanitize_stream (stream ? stream : "default");
  gchar *leaf = g_strconcat (a, "-", b, NULL);

  g_free (a);
  g_free (b);
  return leaf;
}

static gchar *
destination_tag (const gchar * destination)
{
  gchar *sum = g_compute_checksum_for_string (G_CHECKSUM_SHA256, destination,
      -1);

  sum[8] = '\0';
  return sum;
}

static gboolean
holds_frames (const VssStoreSpoolInfo * info)
{
  return info->n_records + info->n_journal > 0;
}

/* @destination: NULL when the URL is invalid (the start fails anyway). */
static gchar *
default_spool_dir (const gchar * index, const gchar * stream,
    const gchar * destination)
{
  gchar *base = spool_base ();
  gchar *leaf = spool_leaf (index, stream);
  gchar *legacy = g_build_filename (base, leaf, NULL);
  gchar *tag, *named, *dir = NULL;
  VssStoreSpoolInfo info;

  if (destination == NULL) {
    dir = g_strdup (legacy);
  } else if (vss_store_spool_peek (legacy, &info, NULL)) {
    if (holds_frames (&info) && (info.owner == NULL
            || g_str_equal (info.owner, destination)))
      dir = g_strdup (legacy);
    vss_store_spool_info_clear (&info);
  }
  if (dir == NULL) {
    tag = destination_tag (destination);
    named = g_strconcat (leaf, "-", tag, NULL);
    dir = g_build_filename (base, named, NULL);
    g_free (named);
    g_free (tag);
  }
  g_free (legacy);
  g_free (leaf);
  g_free (base);
  return dir;
}

/* Whether folder @name is a default spool folder of @leaf for @owner:
 * <leaf> itself, or <leaf>-<tag of owner>. */
static gboolean
default_folder_of (const gchar * name, const gchar * leaf, const gchar * owner)
{
  gsize n = strlen (leaf);
  gchar *tag;
  gboolean ok;

  if (!g_str_has_prefix (name, leaf))
    return FALSE;
  if (name[n] == '\0')
    return TRUE;
  if (name[n] != '-')
    return FALSE;
  tag = destination_tag (owner);
  ok = g_str_equal (name + n + 1, tag);
  g_free (tag);
  return ok;
}

/* Says where frames of this index and stream wait for another
 * destination, in default folders this sink leaves alone. */
static void
warn_other_spools (GstVssSink * self, const gchar * index,
    const gchar * stream, const gchar * destination, const gchar * used)
{
  gchar *base = spool_base ();
  gchar *leaf = spool_leaf (index, stream);
  GDir *d = g_dir_open (base, 0, NULL);
  const gchar *name;

  while (d && (name = g_dir_read_name (d))) {
    gchar *path = g_build_filename (base, name, NULL);
    VssStoreSpoolInfo info;

    if (!g_str_equal (path, used) && g_str_has_prefix (name, leaf)
        && vss_store_spool_peek (path, &info, NULL)) {
      if (!info.busy && holds_frames (&info) && info.owner
          && !g_str_equal (info.owner, destination)
          && default_folder_of (name, leaf, info.owner))
        GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
            ("Spool folder %s holds %u frames for another destination (%s); "
                "this sink writes to %s and leaves them there. A sink with "
                "that destination (the same valkey, index, key-prefix and "
                "frames) writes them, or one with spool-dir=%s "
                "adopt-spool=true writes them to its own.", path,
                info.n_records + info.n_journal, info.owner, destination,
                path), ("%u spool records, %u journal records",
                info.n_records, info.n_journal));
      vss_store_spool_info_clear (&info);
    }
    g_free (path);
  }
  if (d)
    g_dir_close (d);
  g_free (leaf);
  g_free (base);
}

/* The destination of the current settings (NULL for an invalid URL).
 * Under GST_OBJECT_LOCK. */
static gchar *
destination_of (GstVssSink * self)
{
  VssSinkWriterSettings ws = { 0, };

  ws.valkey_url = self->valkey;
  ws.frames = self->frames;
  ws.index = self->index;
  ws.key_prefix = self->key_prefix;
  return vss_sink_writer_describe_destination (&ws, NULL);
}

/* The writer for the current settings and @spool_dir. Under
 * GST_OBJECT_LOCK: the writer copies the strings it is given. */
static VssSinkWriter *
writer_new (GstVssSink * self, const gchar * spool_dir)
{
  GstVssAwsSettings aws = { 0, };
  VssSinkWriterSettings ws = { 0, };
  VssSinkWriterCallbacks cb = { NULL, on_error, on_notice };
  VssSinkWriter *writer;

  ws.valkey_url = self->valkey;
  ws.frames = self->frames;
  ws.max_in_flight = self->max_in_flight;
  ws.timeout_ms = self->timeout_ms;
  ws.max_retries = self->max_retries;
  ws.spool_dir = spool_dir;
  ws.spool_max_bytes = self->spool_max_bytes;
  ws.adopt_spool = self->adopt_spool;
  ws.journal = self->journal;
  ws.index = self->index;
  ws.key_prefix = self->key_prefix;
  ws.ttl = self->ttl;
  ws.create_index = self->create_index == GST_VSS_SINK_CREATE_INDEX_AUTO;
  ws.index_check_s = self->index_check_interval;
  ws.algorithm = self->algorithm == GST_VSS_SINK_ALGORITHM_FLAT ?
      VSS_VALKEY_ALGORITHM_FLAT : VSS_VALKEY_ALGORITHM_HNSW;
  ws.m = self->m;
  ws.ef_construction = self->ef_construction;
  ws.dimension = self->dimension;
  ws.log_id = GST_OBJECT_NAME (self);
  gst_vss_aws_props_to_settings (&self->aws, &gst_vss_aws_service_s3, &aws);
  ws.aws = &aws;
  if (self->post_messages)
    cb.stored = on_stored;
  writer = vss_sink_writer_new (&ws, &cb, self);
  return writer;
}

static gboolean
gst_vss_sink_start (GstBaseSink * bsink)
{
  GstVssSink *self = GST_VSS_SINK (bsink);
  VssSinkWriter *writer;
  GError *err = NULL;
  gchar *spool_dir, *index, *stream_id, *destination;
  gboolean by_default;

  /* The default spool folder looks at the disk: not under the lock. */
  GST_OBJECT_LOCK (self);
  spool_dir = g_strdup (self->spool_dir);
  index = g_strdup (self->index);
  stream_id = g_strdup (self->stream_id);
  destination = destination_of (self);
  GST_OBJECT_UNLOCK (self);
  by_default = spool_dir == NULL;
  if (by_default)
    spool_dir = default_spool_dir (index, stream_id, destination);

  GST_OBJECT_LOCK (self);
  writer = writer_new (self, spool_dir);
  g_free (self->stream);
  self->stream = self->stream_id ?
      gst_vss_record_sanitize_stream (self->stream_id) : g_strdup ("default");
  memset (&self->last_stats, 0, sizeof self->last_stats);
  GST_OBJECT_UNLOCK (self);

  /* Opens the store, the spool and Valkey, and replays what the spool
   * holds. */
  if (!vss_sink_writer_start (writer, &err))
    goto start_failed;
  GST_OBJECT_LOCK (self);
  self->writer = writer;
  GST_OBJECT_UNLOCK (self);
  if (by_default)
    warn_other_spools (self, index, stream_id, destination, spool_dir);
  g_free (spool_dir);
  g_free (index);
  g_free (stream_id);
  g_free (destination);
  return TRUE;

  /* ERRORS */
start_failed:
  {
    VssSinkWriterReport r = { 0, };

    r.error = err;
    post_writer_error (self, writer, &r);
    g_error_free (err);
    vss_sink_writer_free (writer);
    g_free (spool_dir);
    g_free (index);
    g_free (stream_id);
    g_free (destination);
    return FALSE;
  }
}

static gboolean
gst_vss_sink_stop (GstBaseSink * bsink)
{
  GstVssSink *self = GST_VSS_SINK (bsink);
  VssSinkWriter *writer;
  guint timeout;

  GST_OBJECT_LOCK (self);
  timeout = self->drain_timeout_ms;
  writer = self->writer;
  GST_OBJECT_UNLOCK (self);

  /* Frames accepted but not stored get a last chance, then the spool. */
  if (writer)
    vss_sink_writer_stop (writer, timeout);
  GST_OBJECT_LOCK (self);
  if (writer)
    vss_sink_writer_get_stats (writer, &self->last_stats);
  self->writer = NULL;
  g_clear_pointer (&self->stream, g_free);
  GST_OBJECT_UNLOCK (self);
  vss_sink_writer_free (writer);
  g_clear_pointer (&self->content_type, g_free);
  return TRUE;
}

/* Properties */

/* The stats' name of a cause. */
static const gchar *
cause_nick (VssSinkWriterCause cause)
{
  static const gchar *nicks[] = { "", "unreachable", "not-ready", "oom",
    "readonly", "auth", "store-unavailable", "disk-full", "spool-full",
    "spool-disk-full"
  };

  return (guint) cause < G_N_ELEMENTS (nicks) ? nicks[cause] : "";
}

static GstStructure *
get_stats (GstVssSink * self)
{
  VssSinkWriterStats st;

  GST_OBJECT_LOCK (self);
  if (self->writer)
    vss_sink_writer_get_stats (self->writer, &st);
  else
    st = self->last_stats;
  GST_OBJECT_UNLOCK (self);
  return gst_structure_new ("vsssink-stats",
      "written", G_TYPE_UINT64, st.written,
      "retried", G_TYPE_UINT64, st.retried,
      "spooled", G_TYPE_UINT64, st.spooled,
      "replayed", G_TYPE_UINT64, st.replayed,
      "failed", G_TYPE_UINT64, st.failed,
      "recovered", G_TYPE_UINT64, st.recovered,
      "journal-kept", G_TYPE_UINT64, st.journal_kept,
      "in-flight", G_TYPE_UINT, st.in_flight,
      "spool-pending", G_TYPE_UINT, st.spool_pending,
      "spool-records", G_TYPE_UINT, st.spool_records,
      "spool-bytes", G_TYPE_UINT64, st.spool_bytes,
      "spool-cause", G_TYPE_STRING, cause_nick (st.cause), NULL);
}

#define SET_STR(field) G_STMT_START { g_free (self->field); \
    self->field = g_value_dup_string (value); } G_STMT_END

static void
gst_vss_sink_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstVssSink *self = GST_VSS_SINK (object);

  GST_OBJECT_LOCK (self);
  if (gst_vss_aws_props_set (&self->aws, PROP_REGION, prop_id, value)) {
    GST_OBJECT_UNLOCK (self);
    return;
  }
  switch (prop_id) {
    case PROP_VALKEY:
      SET_STR (valkey);
      if (self->valkey == NULL)
        self->valkey = g_strdup (DEFAULT_VALKEY);
      break;
    case PROP_INDEX:
      SET_STR (index);
      if (self->index == NULL)
        self->index = g_strdup (DEFAULT_INDEX);
      break;
    case PROP_KEY_PREFIX:
      SET_STR (key_prefix);
      if (self->key_prefix == NULL)
        self->key_prefix = g_strdup (DEFAULT_KEY_PREFIX);
      break;
    case PROP_STREAM_ID:
      SET_STR (stream_id);
      if (self->stream_id && !self->stream_id[0])
        g_clear_pointer (&self->stream_id, g_free);
      break;
    case PROP_FRAMES:
      SET_STR (frames);
      break;
    case PROP_MODEL:
      SET_STR (model);
      if (self->model && !self->model[0])
        g_clear_pointer (&self->model, g_free);
      break;
    case PROP_TTL:
      self->ttl = g_value_get_uint (value);
      break;
    case PROP_CREATE_INDEX:
      self->create_index = g_value_get_enum (value);
      break;
    case PROP_INDEX_CHECK_INTERVAL:
      self->index_check_interval = g_value_get_uint (value);
      break;
    case PROP_ALGORITHM:
      self->algorithm = g_value_get_enum (value);
      break;
    case PROP_M:
      self->m = g_value_get_uint (value);
      break;
    case PROP_EF_CONSTRUCTION:
      self->ef_construction = g_value_get_uint (value);
      break;
    case PROP_DIMENSION:
      self->dimension = g_value_get_uint (value);
      break;
    case PROP_MAX_IN_FLIGHT:
      self->max_in_flight = g_value_get_uint (value);
      break;
    case PROP_TIMEOUT:
      self->timeout_ms = g_value_get_uint (value);
      break;
    case PROP_MAX_RETRIES:
      self->max_retries = g_value_get_uint (value);
      break;
    case PROP_SPOOL_DIR:
      SET_STR (spool_dir);
      break;
    case PROP_SPOOL_MAX_BYTES:
      self->spool_max_bytes = g_value_get_uint64 (value);
      break;
    case PROP_ADOPT_SPOOL:
      self->adopt_spool = g_value_get_boolean (value);
      break;
    case PROP_JOURNAL:
      self->journal = g_value_get_boolean (value);
      break;
    case PROP_DRAIN_TIMEOUT:
      self->drain_timeout_ms = g_value_get_uint (value);
      break;
    case PROP_POST_MESSAGES:
      self->post_messages = g_value_get_boolean (value);
      break;
    case PROP_SOURCE:
      SET_STR (source);
      if (self->source && !self->source[0])
        g_clear_pointer (&self->source, g_free);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vss_sink_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstVssSink *self = GST_VSS_SINK (object);

  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, get_stats (self));
    return;
  }
  GST_OBJECT_LOCK (self);
  if (gst_vss_aws_props_get (&self->aws, PROP_REGION, prop_id, value)) {
    GST_OBJECT_UNLOCK (self);
    return;
  }
  switch (prop_id) {
    case PROP_VALKEY:
      g_value_take_string (value, vss_valkey_url_mask (self->valkey));
      break;
    case PROP_INDEX:
      g_value_set_string (value, self->index);
      break;
    case PROP_KEY_PREFIX:
      g_value_set_string (value, self->key_prefix);
      break;
    case PROP_STREAM_ID:
      g_value_set_string (value, self->stream_id);
      break;
    case PROP_FRAMES:
      g_value_set_string (value, self->frames);
      break;
    case PROP_MODEL:
      g_value_set_string (value, self->model);
      break;
    case PROP_TTL:
      g_value_set_uint (value, self->ttl);
      break;
    case PROP_CREATE_INDEX:
      g_value_set_enum (value, self->create_index);
      break;
    case PROP_INDEX_CHECK_INTERVAL:
      g_value_set_uint (value, self->index_check_interval);
      break;
    case PROP_ALGORITHM:
      g_value_set_enum (value, self->algorithm);
      break;
    case PROP_M:
      g_value_set_uint (value, self->m);
      break;
    case PROP_EF_CONSTRUCTION:
      g_value_set_uint (value, self->ef_construction);
      break;
    case PROP_DIMENSION:
      g_value_set_uint (value, self->dimension);
      break;
    case PROP_MAX_IN_FLIGHT:
      g_value_set_uint (value, self->max_in_flight);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout_ms);
      break;
    case PROP_MAX_RETRIES:
      g_value_set_uint (value, self->max_retries);
      break;
    case PROP_SPOOL_DIR:
      g_value_set_string (value, self->spool_dir);
      break;
    case PROP_SPOOL_MAX_BYTES:
      g_value_set_uint64 (value, self->spool_max_bytes);
      break;
    case PROP_ADOPT_SPOOL:
      g_value_set_boolean (value, self->adopt_spool);
      break;
    case PROP_JOURNAL:
      g_value_set_boolean (value, self->journal);
      break;
    case PROP_DRAIN_TIMEOUT:
      g_value_set_uint (value, self->drain_timeout_ms);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, self->post_messages);
      break;
    case PROP_SOURCE:
      g_value_set_string (value, self->source);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vss_sink_finalize (GObject * object)
{
  GstVssSink *self = GST_VSS_SINK (object);

  g_free (self->valkey);
  g_free (self->index);
  g_free (self->key_prefix);
  g_free (self->stream_id);
  g_free (self->frames);
  g_free (self->model);
  gst_vss_aws_props_clear (&self->aws);
  g_free (self->spool_dir);
  g_free (self->source);
  g_free (self->stream);
  g_free (self->content_type);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

#define RW_READY (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | \
    GST_PARAM_MUTABLE_READY)
#define W_READY (G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS | \
    GST_PARAM_MUTABLE_READY)

/* Longer than the other functions on purpose: one property install after
 * another, each with the blurb gst-inspect-1.0 shows (the AWS settings come
 * from the helper every element uses). */
static void
gst_vss_sink_class_init (GstVssSinkClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *bsink_class = GST_BASE_SINK_CLASS (klass);

  gobject_class->finalize = gst_vss_sink_finalize;
  gobject_class->set_property = gst_vss_sink_set_property;
  gobject_class->get_property = gst_vss_sink_get_property;

  g_object_class_install_property (gobject_class, PROP_VALKEY,
      g_param_spec_string ("valkey", "Valkey URL",
          "Where vectors go: (redis|rediss|valkey|valkeys)://[[user]:"
          "password@]host[:port][,host:port...][/db][?tls_ca_file=...&"
          "cluster=auto|yes|no&...]; rediss/valkeys mean TLS. The password "
          "is masked when read back", DEFAULT_VALKEY, RW_READY));
  g_object_class_install_property (gobject_class, PROP_INDEX,
      g_param_spec_string ("index", "Index",
          "Name of the vector index (FT.CREATE <index>)", DEFAULT_INDEX,
          RW_READY));
  g_object_class_install_property (gobject_class, PROP_KEY_PREFIX,
      g_param_spec_string ("key-prefix", "Key prefix",
          "Start of every key, and the index's PREFIX: keys are "
          "<key-prefix><stream-id>:<frame-id>", DEFAULT_KEY_PREFIX, RW_READY));
  g_object_class_install_property (gobject_class, PROP_STREAM_ID,
      g_param_spec_string ("stream-id", "Stream id",
          "Camera or file name used in keys, object names and the 'stream' "
          "TAG. Anything but letters, digits, '-', '_' and '.' becomes '_'. "
          "NULL: derived from the upstream stream-start id ('default' when "
          "there is none)", NULL, RW_READY));
  g_object_class_install_property (gobject_class, PROP_FRAMES,
      g_param_spec_string ("frames", "Frames store",
          "Where the images go: 's3://bucket/prefix', 'file:///folder', or "
          "NULL/empty to store vectors only. Objects are named "
          "<prefix>/<stream-id>/<yyyy>/<mm>/<dd>/<frame-id>.jpg|png", NULL,
          RW_READY));
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "Which embedding meta to store, by model name (e.g. "
          "'amazon.titan-embed-image-v1'). NULL: the first one on the buffer",
          NULL, RW_READY));
  gst_vss_aws_props_install (gobject_class, PROP_REGION,
      &gst_vss_aws_service_s3);
  g_object_class_install_property (gobject_class, PROP_TTL,
      g_param_spec_uint ("ttl", "TTL",
          "Expiry of each frame's key in seconds (EXPIRE). 0: keys never "
          "expire. Objects are not expired: use a bucket lifecycle rule", 0,
          G_MAXUINT, DEFAULT_TTL, RW_READY));
  g_object_class_install_property (gobject_class, PROP_CREATE_INDEX,
      g_param_spec_enum ("create-index", "Create index",
          "'auto': create the index when missing (once the dimension is "
          "known) and refuse an existing one with another schema; 'never': "
          "leave the index to someone else", GST_TYPE_VSS_SINK_CREATE_INDEX,
          DEFAULT_CREATE_INDEX, RW_READY));
  g_object_class_install_property (gobject_class, PROP_INDEX_CHECK_INTERVAL,
      g_param_spec_uint ("index-check-interval", "Index check interval",
          "create-index=auto: how often, in seconds, to check that the index "
          "is still on the server and create it again when it is not (a "
          "server that loses it without closing the connection, e.g. "
          "FLUSHALL on valkey-search); one FT.INFO per primary. It is also "
          "checked after every reconnect (a server restarted empty, a "
          "failover). 0: only after reconnects", 0, 86400,
          DEFAULT_INDEX_CHECK_INTERVAL, RW_READY));
  g_object_class_install_property (gobject_class, PROP_ALGORITHM,
      g_param_spec_enum ("algorithm", "Algorithm",
          "Index algorithm when the index is created",
          GST_TYPE_VSS_SINK_ALGORITHM, DEFAULT_ALGORITHM, RW_READY));
  g_object_class_install_property (gobject_class, PROP_M,
      g_param_spec_uint ("m", "M",
          "HNSW: links per node when the index is created (more: better "
          "recall, more memory). 0: the server's default", 0, 512, DEFAULT_M,
          RW_READY));
  g_object_class_install_property (gobject_class, PROP_EF_CONSTRUCTION,
      g_param_spec_uint ("ef-construction", "EF construction",
          "HNSW: candidate list size while building. 0: the server's "
          "default", 0, 4096, DEFAULT_EF_CONSTRUCTION, RW_READY));
  g_object_class_install_property (gobject_class, PROP_DIMENSION,
      g_param_spec_uint ("dimension", "Dimension",
          "Vector dimension of the index; frames with another one are "
          "refused. 0: the first frame's (the index is then created at the "
          "first frame rather than at start)", 0, 32767, DEFAULT_DIMENSION,
          RW_READY));
  g_object_class_install_property (gobject_class, PROP_MAX_IN_FLIGHT,
      g_param_spec_uint ("max-in-flight", "Max frames in flight",
          "Concurrent uploads; when they are all busy, rendering blocks "
          "(back-pressure). At most 256 more uploaded frames wait for their "
          "Valkey pipeline", 1, 1024, DEFAULT_MAX_IN_FLIGHT, RW_READY));
  g_object_class_install_property (gobject_class, PROP_TIMEOUT,
      g_param_spec_uint ("timeout", "Upload timeout",
          "Time limit of one upload attempt in milliseconds", 100, 600000,
          DEFAULT_TIMEOUT_MS, RW_READY));
  g_object_class_install_property (gobject_class, PROP_MAX_RETRIES,
      g_param_spec_uint ("max-retries", "Max retries",
          "Upload retries (with backoff) on 5xx, SlowDown or timeouts before "
          "the frame goes to the spool", 0, 100, DEFAULT_MAX_RETRIES,
          RW_READY));
  g_object_class_install_property (gobject_class, PROP_SPOOL_DIR,
      g_param_spec_string ("spool-dir", "Spool folder",
          "Folder for frames that could not be written yet (and the journal). "
          "One running sink per folder, and one destination: a folder "
          "holding frames for another Valkey endpoint, index, key prefix or "
          "frames store is an error (see adopt-spool). NULL: "
          "$XDG_STATE_HOME/gst-vss/spool/<index>-<stream-id>-<8 hex digits "
          "naming the destination>", NULL, RW_READY));
  g_object_class_install_property (gobject_class, PROP_SPOOL_MAX_BYTES,
      g_param_spec_uint64 ("spool-max-bytes", "Spool size limit",
          "Most the spool may take on disk, in bytes; a frame that does not "
          "fit is an element error. 0: no limit", 0, G_MAXUINT64,
          DEFAULT_SPOOL_MAX_BYTES, RW_READY));
  g_object_class_install_property (gobject_class, PROP_ADOPT_SPOOL,
      g_param_spec_boolean ("adopt-spool", "Adopt spool",
          "Write the frames that spool-dir holds for another destination "
          "(another Valkey server or database, index, key prefix or frames "
          "store: e.g. after the server moved) to this sink's; they keep "
          "their keys, and the object URIs of images stored already. FALSE: "
          "such a folder is an error that names both destinations",
          DEFAULT_ADOPT_SPOOL, RW_READY));
  g_object_class_install_property (gobject_class, PROP_JOURNAL,
      g_param_spec_boolean ("journal", "Journal",
          "Append every frame to a journal in spool-dir before writing it "
          "(one write() per frame, no fsync), so that a killed process loses "
          "nothing: the next start stores what the journal still holds. "
          "FALSE: only failed frames are spooled, frames in flight die with "
          "the process", DEFAULT_JOURNAL, RW_READY));
  g_object_class_install_property (gobject_class, PROP_DRAIN_TIMEOUT,
      g_param_spec_uint ("drain-timeout", "Drain timeout",
          "At EOS and when stopping: how long to wait for frames in flight "
          "and the spool to be written, in milliseconds. What is left stays "
          "in the spool (a warning says how much)", 0, G_MAXUINT,
          DEFAULT_DRAIN_TIMEOUT_MS, G_PARAM_READWRITE |
          G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
          "Post a 'vss-stored' element message per stored frame: frame-id, "
          "key, uri, stream-id, replayed", DEFAULT_POST_MESSAGES, RW_READY));
  g_object_class_install_property (gobject_class, PROP_SOURCE,
      g_param_spec_string ("source", "Source",
          "What the frames come from when it is a file or another recording "
          "(e.g. its file name, 'clip.mkv'): stored with every frame, with "
          "the frame's position in it (the buffer's stream time, in "
          "milliseconds), so that search results say 'clip.mkv @ 00:54'. "
          "NULL: neither is stored (live streams, whose positions mean "
          "nothing later)", NULL, RW_READY));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "Counters since start (read-only): written (keys written), retried "
          "(upload retries and Valkey write retries), spooled (frames sent "
          "to the spool by a failure), replayed (frames written from the "
          "spool), failed (frames lost: neither stored, spooled nor kept in "
          "the journal, or unreadable records), recovered (frames of an "
          "earlier run found in the journal at start), journal-kept (frames "
          "that could not be spooled but stay in the journal for the next "
          "start), in-flight, spool-pending, spool-records, spool-bytes, "
          "spool-cause (why frames wait in the spool now: '', unreachable, "
          "not-ready, oom, readonly, auth, store-unavailable, disk-full)",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class,
      "Vector store sink", "Sink/Video",
      "Stores frames in S3 or a folder and their embeddings in Valkey for "
      "vector similarity search, without loss through outages",
      "gst-vss developers");

  bsink_class->start = GST_DEBUG_FUNCPTR (gst_vss_sink_start);
  bsink_class->stop = GST_DEBUG_FUNCPTR (gst_vss_sink_stop);
  bsink_class->set_caps = GST_DEBUG_FUNCPTR (gst_vss_sink_set_caps);
  bsink_class->render = GST_DEBUG_FUNCPTR (gst_vss_sink_render);
  bsink_class->event = GST_DEBUG_FUNCPTR (gst_vss_sink_event);
  bsink_class->unlock = GST_DEBUG_FUNCPTR (gst_vss_sink_unlock);
  bsink_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_vss_sink_unlock_stop);

  gst_type_mark_as_plugin_api (GST_TYPE_VSS_SINK_CREATE_INDEX, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_VSS_SINK_ALGORITHM, 0);
  GST_DEBUG_CATEGORY_INIT (gst_vss_sink_debug, "vsssink", 0, "vsssink element");
}


static void
gst_vss_sink_init (GstVssSink * self)
{
  self->valkey = g_strdup (DEFAULT_VALKEY);
  self->index = g_strdup (DEFAULT_INDEX);
  self->key_prefix = g_strdup (DEFAULT_KEY_PREFIX);
  self->ttl = DEFAULT_TTL;
  self->create_index = DEFAULT_CREATE_INDEX;
  self->index_check_interval = DEFAULT_INDEX_CHECK_INTERVAL;
  self->algorithm = DEFAULT_ALGORITHM;
  self->m = DEFAULT_M;
  self->ef_construction = DEFAULT_EF_CONSTRUCTION;
  self->dimension = DEFAULT_DIMENSION;
  self->max_in_flight = DEFAULT_MAX_IN_FLIGHT;
  self->timeout_ms = DEFAULT_TIMEOUT_MS;
  self->max_retries = DEFAULT_MAX_RETRIES;
  self->spool_max_bytes = DEFAULT_SPOOL_MAX_BYTES;
  self->journal = DEFAULT_JOURNAL;
  self->adopt_spool = DEFAULT_ADOPT_SPOOL;
  self->drain_timeout_ms = DEFAULT_DRAIN_TIMEOUT_MS;
  self->post_messages = DEFAULT_POST_MESSAGES;
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
}
