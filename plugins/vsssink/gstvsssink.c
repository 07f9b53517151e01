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
 *
 * The object is written before the key, so a key always points at an
 * object; both writes are idempotent (same id, same names). Uploads run
 * concurrently, Valkey writes are pipelined. The index
 * `FT.CREATE <index> ON HASH PREFIX 1 <key-prefix> SCHEMA vector VECTOR
 * HNSW ... TYPE FLOAT32 DIM <d> DISTANCE_METRIC COSINE stream TAG ts
 * NUMERIC` is created when missing.
 *
 * What cannot be written after retries goes to a crash-safe spool on disk
 * (`spool-dir`) and is replayed in order once the service is back, or on
 * the next start. With `journal` (the default) every frame is recorded in
 * the spool before it is written, so that even a killed process loses
 * nothing.
 *
 * `vss-stored` element messages (when `post-messages` is set) carry:
 * `frame-id` (string), `key` (string), `uri` (string, "" without
 * `frames`), `stream-id` (string) and `replayed` (boolean: written from the
 * spool).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=clip.mp4 ! decodebin ! videorate ! \
 *     video/x-raw,framerate=1/1 ! videoconvert ! vssembed ! jpegenc ! \
 *     vsssink valkey=redis://127.0.0.1:6379 frames=file:///var/lib/frames \
 *     stream-id=cam1
 * ]|
 */
/* Locking: `lock` guards everything under "shared state" in the instance
 * struct and `cond` signals changes of it (slots freed, frames ready,
 * spool drained, flushing, quit). Settings are under GST_OBJECT_LOCK. Lock
 * order: GST_OBJECT_LOCK, then `lock`; neither is held while waiting on the
 * network, on the disk or while posting messages. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>
#include <gst/gst.h>
#include "gstvsssink.h"
#include "gstvsssinkrecord.h"
#include "core/gstvssmeta.h"
#include "core/gstvssdedupmeta.h"
#include "core/gstvssframeid.h"
#include "core/gstvssbackoff.h"
#include "store/gstvssstore.h"
#include "store/gstvssstorespool.h"
#include "valkey/gstvssvalkeyclient.h"
#include "valkey/gstvssvalkeysearch.h"
#include "valkey/gstvssvalkeyrecord.h"
#include "core/gstvssrecord.h"
#include "aws/gstvssawsprops.h"

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
#define DEFAULT_ALGORITHM GST_VSS_SINK_ALGORITHM_HNSW
#define DEFAULT_M 16
#define DEFAULT_EF_CONSTRUCTION 200
#define DEFAULT_DIMENSION 0
#define DEFAULT_MAX_IN_FLIGHT 32
#define DEFAULT_SPOOL_MAX_BYTES (1024 * G_GUINT64_CONSTANT (1024) * 1024)
#define DEFAULT_DRAIN_TIMEOUT_MS 30000
#define DEFAULT_POST_MESSAGES FALSE
#define DEFAULT_JOURNAL TRUE
#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_MAX_RETRIES 4

/* Valkey writes go in pipelines of at most this many frames. */
#define MAX_BATCH 256
/* Outage probing: one writer, so no jitter; base 100 ms, cap 2 s. */
static const GstVssBackoff outage_backoff = { 100, 2000,
  GST_VSS_BACKOFF_JITTER_NONE
};

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
  PROP_ALGORITHM,
  PROP_M,
  PROP_EF_CONSTRUCTION,
  PROP_DIMENSION,
  PROP_MAX_IN_FLIGHT,
  PROP_TIMEOUT,
  PROP_MAX_RETRIES,
  PROP_SPOOL_DIR,
  PROP_SPOOL_MAX_BYTES,
  PROP_JOURNAL,
  PROP_DRAIN_TIMEOUT,
  PROP_POST_MESSAGES,
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
  GstVssSinkAlgorithm algorithm;
  guint m;
  guint ef_construction;
  guint dimension;
  guint max_in_flight;
  guint timeout_ms;
  guint max_retries;
  gchar *spool_dir;
  guint64 spool_max_bytes;
  gboolean journal;
  guint drain_timeout_ms;
  gboolean post_messages;

  /* running state, set in start() and read-only until stop() */
  VssValkeyClient *client;
  VssStore *store;
  VssStoreSpool *spool;
  GCancellable *cancel;
  GThread *writer;
  gchar *r_index;
  gchar *r_key_prefix;
  guint r_max_in_flight;
  guint r_ttl;
  gboolean r_journal;
  gboolean r_messages;
  VssValkeyIndexSpec spec;      /* strings point at r_index/r_key_prefix */

  /* streaming thread only */
  gchar *content_type;
  const gchar *ext;

  /* shared state, under `lock` */
  GMutex lock;
  GCond cond;                   /* slots, drained, flushing: streaming side */
  GCond wcond;                  /* work for the writer */
  gchar *stream;                /* sanitised stream id in use */
  guint dim;                    /* vector dimension, 0 until known */
  gboolean index_ready;
  guint in_flight;              /* accepted, neither stored nor spooled */
  guint uploading;              /* of which uploads running */
  GQueue ready;                 /* VssSinkFrame *, uploaded */
  GQueue pending;               /* guint64 * spool seqs to replay, in order */
  gboolean spooling;            /* an outage: new frames go to the spool */
  gboolean flushing;
  gboolean quit;
  gboolean fatal;
  gint64 next_retry_us;
  guint retry_round;
  guint64 written, retried, spooled, replayed, failed;
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
post_stored (GstVssSink * self, const VssSinkFrame * f)
{
  if (!self->r_messages)
    return;
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self),
          gst_structure_new ("vss-stored", "frame-id", G_TYPE_STRING, f->rec.id,
              "key", G_TYPE_STRING, f->key, "uri", G_TYPE_STRING, f->rec.uri,
              "stream-id", G_TYPE_STRING, f->rec.stream, "replayed",
              G_TYPE_BOOLEAN, f->replay, NULL)));
}

static void
set_fatal (GstVssSink * self)
{
  g_mutex_lock (&self->lock);
  self->fatal = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

static void
post_object_store_error (GstVssSink * self, const GError * err,
    glong http_status)
{
#define DETAILS ("http-status-code", G_TYPE_UINT, (guint) http_status, NULL)
  if (err->code == VSS_STORE_ERROR_ACCESS_DENIED)
    GST_ELEMENT_ERROR_WITH_DETAILS (self, RESOURCE, NOT_AUTHORIZED,
        ("Access to the object store was denied."), ("%s", err->message),
        DETAILS);
  else if (err->code == VSS_STORE_ERROR_NO_SUCH_BUCKET)
    GST_ELEMENT_ERROR_WITH_DETAILS (self, RESOURCE, NOT_FOUND,
        ("The S3 bucket does not exist."), ("%s", err->message), DETAILS);
  else
    GST_ELEMENT_ERROR_WITH_DETAILS (self, RESOURCE, WRITE,
        ("The object store refused a frame."), ("%s", err->message), DETAILS);
#undef DETAILS
  set_fatal (self);
}

/* Spool */

/* Keeps a frame that could not be written: in the spool, fsync'ed, queued
 * for replay. Takes @f. Any thread, no lock held. */
static void
spool_frame (GstVssSink * self, VssSinkFrame * f)
{
  GError *err = NULL;
  struct iovec iov[VSS_SINK_FRAME_N_IOV];
  guint8 *head = vss_sink_frame_to_iov (f, iov);
  guint64 seq = 0;
  gboolean ok;

  ok = vss_store_spool_appendv (self->spool, iov, VSS_SINK_FRAME_N_IOV, TRUE,
      &seq, &err);
  g_free (head);
  /* A frame that could not be spooled stays in the journal (when it is
   * there): the next start recovers it. */
  if (ok && f->journal_seg)
    vss_store_spool_journal_release (self->spool, f->journal_seg);
  g_mutex_lock (&self->lock);
  if (ok) {
    guint64 *p = g_new (guint64, 1);

    *p = seq;
    /* Failures arrive out of order across threads; replay goes by seq. */
    if (g_queue_is_empty (&self->pending)
        || *(guint64 *) g_queue_peek_tail (&self->pending) < seq)
      g_queue_push_tail (&self->pending, p);
    else {
      GList *l = self->pending.head;

      while (l && *(guint64 *) l->data < seq)
        l = l->next;
      if (l)
        g_queue_insert_before (&self->pending, l, p);
      else
        g_queue_push_tail (&self->pending, p);
    }
    self->spooling = TRUE;
    self->spooled++;
  } else {
    self->failed++;
    self->fatal = TRUE;
  }
  self->in_flight--;
  g_cond_broadcast (&self->cond);
  g_cond_signal (&self->wcond);
  g_mutex_unlock (&self->lock);

  if (!ok) {
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
        ("Frame %s could not be stored nor spooled.", f->rec.id),
        ("%s", err->message));
    g_error_free (err);
  } else {
    GST_DEBUG_OBJECT (self, "frame %s spooled as record %" G_GUINT64_FORMAT,
        f->rec.id, seq);
  }
  vss_sink_frame_free (f);
}

/* Uploads */

typedef struct
{
  GstVssSink *self;
  VssSinkFrame *frame;
} UploadCtx;

static void
direct_upload_done (const VssStorePutResult * res, gpointer user_data)
{
  UploadCtx *ctx = user_data;
  GstVssSink *self = ctx->self;
  VssSinkFrame *f = ctx->frame;

  g_free (ctx);
  g_mutex_lock (&self->lock);
  self->uploading--;
  if (res->attempts > 1)
    self->retried += res->attempts - 1;
  if (res->error == NULL) {
    f->object_done = TRUE;
    g_clear_pointer (&f->image, g_bytes_unref);
    g_queue_push_tail (&self->ready, f);
    g_cond_signal (&self->wcond);
    g_cond_broadcast (&self->cond);
    g_mutex_unlock (&self->lock);
    return;
  }
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  GST_WARNING_OBJECT (self, "upload of %s failed: %s", f->rec.id,
      res->error->message);
  if (!g_error_matches (res->error, VSS_STORE_ERROR,
          VSS_STORE_ERROR_UNAVAILABLE)
      && !g_error_matches (res->error, VSS_STORE_ERROR,
          VSS_STORE_ERROR_CANCELLED))
    post_object_store_error (self, res->error, res->http_status);
  spool_frame (self, f);
}

/* Valkey writes */

static gboolean
reply_is_transient (const VssValkeyReply * r)
{
  static const gchar *prefixes[] = { "LOADING", "BUSY", "TRYAGAIN",
    "CLUSTERDOWN", "MASTERDOWN", "OOM", "READONLY", NULL
  };

  for (guint i = 0; prefixes[i]; i++)
    if (vss_valkey_reply_is_error (r, prefixes[i]))
      return TRUE;
  return FALSE;
}

static gboolean
ensure_index (GstVssSink * self, GError ** error)
{
  VssValkeyIndexSpec spec;
  gboolean ok;

  g_mutex_lock (&self->lock);
  if (self->index_ready || self->dim == 0) {
    g_mutex_unlock (&self->lock);
    return TRUE;
  }
  spec = self->spec;
  spec.dim = self->dim;
  g_mutex_unlock (&self->lock);

  ok = vss_valkey_ensure_index (self->client, &spec,
      vss_valkey_client_is_cluster (self->client), self->cancel, error);
  if (ok) {
    GST_INFO_OBJECT (self, "index %s ready (dimension %u)", spec.name,
        spec.dim);
    g_mutex_lock (&self->lock);
    self->index_ready = TRUE;
    g_mutex_unlock (&self->lock);
  }
  return ok;
}

/* An existing index decides the dimension, so that a frame with another
 * one is refused with both numbers rather than by the server. */
static void
learn_index_dim (GstVssSink * self)
{
  const gchar *argv[2] = { "FT.INFO", self->r_index };
  VssValkeyReply *r = vss_valkey_command (self->client, self->cancel, NULL,
      2, argv, NULL);
  VssValkeyIndexInfo *info;

  if (r == NULL)
    return;
  info = vss_valkey_reply_is_error (r, NULL) ? NULL :
      vss_valkey_index_info_parse (r, NULL);
  if (info && info->dim > 0) {
    GST_INFO_OBJECT (self, "index %s exists with dimension %u", info->name,
        info->dim);
    g_mutex_lock (&self->lock);
    if (self->dim == 0)
      self->dim = info->dim;
    g_mutex_unlock (&self->lock);
  }
  if (info)
    vss_valkey_index_info_free (info);
  freeReplyObject (r);
}

static gboolean
error_is_transient (const GError * e)
{
  return e->domain != VSS_VALKEY_ERROR
      || e->code == VSS_VALKEY_ERROR_CONNECTION
      || e->code == VSS_VALKEY_ERROR_CLUSTER
      || e->code == VSS_VALKEY_ERROR_PROTOCOL;
}

/* Writes @frames in one pipeline. @ok[i] says which were written. Returns
 * FALSE when the server could not be used (an outage). */
static gboolean
write_frames (GstVssSink * self, VssSinkFrame ** frames, guint n, gboolean * ok)
{
  g_autoptr (VssValkeyPipeline) p = vss_valkey_pipeline_new ();
  guint per = self->r_ttl > 0 ? 2 : 1;
  GError *err = NULL;
  gboolean reachable = TRUE;

  for (guint i = 0; i < n; i++)
    ok[i] = FALSE;
  if (!ensure_index (self, &err)) {
    if (error_is_transient (err)
        || g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED)
        || err->domain == G_IO_ERROR) {
      GST_WARNING_OBJECT (self, "Valkey unavailable: %s", err->message);
    } else {
      GST_ELEMENT_ERROR_WITH_DETAILS (self, RESOURCE, SETTINGS,
          ("The vector index '%s' cannot be used.", self->r_index),
          ("%s", err->message), ("valkey-error", G_TYPE_STRING, err->message,
              NULL));
      set_fatal (self);
    }
    g_error_free (err);
    return FALSE;
  }
  for (guint i = 0; i < n; i++)
    vss_valkey_record_append (p, frames[i]->key, &frames[i]->rec, self->r_ttl);
  if (!vss_valkey_client_execute (self->client, p, self->cancel, &err)) {
    GST_WARNING_OBJECT (self, "Valkey write failed: %s", err->message);
    reachable = FALSE;
    g_clear_error (&err);
  }
  for (guint i = 0; i < n; i++) {
    gboolean all = TRUE;

    for (guint j = 0; j < per; j++) {
      const VssValkeyReply *r;

      if (vss_valkey_pipeline_get_state (p, i * per + j) !=
          VSS_VALKEY_COMMAND_DONE) {
        all = FALSE;
        continue;
      }
      r = vss_valkey_pipeline_get_reply (p, i * per + j);
      if (vss_valkey_reply_is_error (r, NULL)) {
        all = FALSE;
        if (reply_is_transient (r)) {
          reachable = FALSE;
        } else {
          GST_ELEMENT_ERROR_WITH_DETAILS (self, RESOURCE, WRITE,
              ("Valkey refused frame %s.", frames[i]->rec.id),
              ("%s: %s", frames[i]->key, r->str),
              ("valkey-error", G_TYPE_STRING, r->str, NULL));
          set_fatal (self);
        }
      }
    }
    ok[i] = all;
  }
  return reachable;
}

static void
note_outage (GstVssSink * self)
{
  guint ms;

  g_mutex_lock (&self->lock);
  ms = gst_vss_backoff_ms (&outage_backoff, self->retry_round, NULL);
  self->retry_round++;
  self->next_retry_us = g_get_monotonic_time () + ms * 1000;
  g_mutex_unlock (&self->lock);
}

static void
note_success (GstVssSink * self)
{
  g_mutex_lock (&self->lock);
  self->retry_round = 0;
  self->next_retry_us = 0;
  g_mutex_unlock (&self->lock);
}

/* Frames that went through the object store and wait for Valkey. */
static void
write_direct (GstVssSink * self, VssSinkFrame ** frames, guint n,
    gboolean try_valkey)
{
  gboolean ok[MAX_BATCH];
  gboolean reachable = FALSE;

  if (try_valkey) {
    reachable = write_frames (self, frames, n, ok);
    if (reachable)
      note_success (self);
    else
      note_outage (self);
  } else {
    memset (ok, 0, sizeof ok);
  }
  for (guint i = 0; i < n; i++) {
    VssSinkFrame *f = frames[i];

    if (ok[i]) {
      if (f->journal_seg)
        vss_store_spool_journal_release (self->spool, f->journal_seg);
      post_stored (self, f);
      g_mutex_lock (&self->lock);
      self->written++;
      self->in_flight--;
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
      vss_sink_frame_free (f);
    } else {
      if (try_valkey) {
        g_mutex_lock (&self->lock);
        self->retried++;
        g_mutex_unlock (&self->lock);
      }
      spool_frame (self, f);
    }
  }
}

typedef struct
{
  GMutex lock;
  GCond cond;
  guint remaining;
  gboolean failed;
} ReplayUploads;

typedef struct
{
  ReplayUploads *ru;
  VssSinkFrame *frame;
  GstVssSink *self;
} ReplayCtx;

static void
replay_upload_done (const VssStorePutResult * res, gpointer user_data)
{
  ReplayCtx *ctx = user_data;
  ReplayUploads *ru = ctx->ru;

  if (res->error == NULL)
    ctx->frame->object_done = TRUE;
  else if (!g_error_matches (res->error, VSS_STORE_ERROR,
          VSS_STORE_ERROR_UNAVAILABLE)
      && !g_error_matches (res->error, VSS_STORE_ERROR,
          VSS_STORE_ERROR_CANCELLED))
    post_object_store_error (ctx->self, res->error, res->http_status);
  g_mutex_lock (&ru->lock);
  if (res->error)
    ru->failed = TRUE;
  if (--ru->remaining == 0)
    g_cond_signal (&ru->cond);
  g_mutex_unlock (&ru->lock);
  g_free (ctx);
}

/* Replays the oldest spooled frames. Returns TRUE when it made progress. */
static gboolean
replay_some (GstVssSink * self)
{
  VssSinkFrame *frames[MAX_BATCH];
  guint64 seqs[MAX_BATCH];
  gboolean ok[MAX_BATCH], done[MAX_BATCH];
  ReplayUploads ru = { 0, };
  guint n = 0, want, i;
  GList *l;
  gboolean progress = FALSE, reachable;

  g_mutex_lock (&self->lock);
  want = MIN (MAX_BATCH, MAX (self->r_max_in_flight, 8));
  for (l = self->pending.head; l && n < want; l = l->next)
    seqs[n++] = *(guint64 *) l->data;
  g_mutex_unlock (&self->lock);

  /* Read the records; unusable ones are moved aside (and counted). */
  for (i = 0; i < n; i++) {
    GError *err = NULL;
    GBytes *b = vss_store_spool_read (self->spool, seqs[i], &err);

    frames[i] = b ? vss_sink_frame_deserialize (b, &err) : NULL;
    if (b)
      g_bytes_unref (b);
    if (frames[i] == NULL) {
      GST_ELEMENT_WARNING (self, RESOURCE, READ,
          ("A spooled frame is unreadable and was set aside."),
          ("%s", err->message));
      g_error_free (err);
      vss_store_spool_quarantine (self->spool, seqs[i]);
      g_mutex_lock (&self->lock);
      self->failed++;
      g_mutex_unlock (&self->lock);
      progress = TRUE;
      continue;
    }
    frames[i]->seq = seqs[i];
    frames[i]->replay = TRUE;
    /* The object goes where this run stores objects. */
    if (!frames[i]->object_done && self->store) {
      g_free (frames[i]->rec.uri);
      frames[i]->rec.uri = vss_store_object_uri (self->store,
          frames[i]->object_key);
    } else if (!frames[i]->object_done) {
      GST_WARNING_OBJECT (self, "spooled frame %s has an image but 'frames' "
          "is not set: storing its vector only", frames[i]->rec.id);
      g_free (frames[i]->rec.uri);
      frames[i]->rec.uri = g_strdup ("");
      frames[i]->object_done = TRUE;
    }
  }

  /* Objects first, concurrently. */
  g_mutex_init (&ru.lock);
  g_cond_init (&ru.cond);
  ru.remaining = 1;
  for (i = 0; i < n; i++) {
    ReplayCtx *ctx;

    if (!frames[i] || frames[i]->object_done || !self->store)
      continue;
    ctx = g_new0 (ReplayCtx, 1);
    ctx->ru = &ru;
    ctx->frame = frames[i];
    ctx->self = self;
    g_mutex_lock (&ru.lock);
    ru.remaining++;
    g_mutex_unlock (&ru.lock);
    vss_store_put_async (self->store, frames[i]->object_key,
        frames[i]->content_type, frames[i]->image, replay_upload_done, ctx);
  }
  g_mutex_lock (&ru.lock);
  ru.remaining--;
  while (ru.remaining > 0)
    g_cond_wait (&ru.cond, &ru.lock);
  g_mutex_unlock (&ru.lock);
  g_mutex_clear (&ru.lock);
  g_cond_clear (&ru.cond);

  /* Then the keys, in order, for the prefix whose objects are stored. */
  {
    VssSinkFrame *batch[MAX_BATCH];
    guint idx[MAX_BATCH];
    guint m = 0;

    for (i = 0; i < n; i++) {
      done[i] = frames[i] == NULL;
      if (frames[i] == NULL)
        continue;
      if (!frames[i]->object_done)
        break;
      idx[m] = i;
      batch[m++] = frames[i];
    }
    for (; i < n; i++)
      done[i] = frames[i] == NULL;
    reachable = m > 0 ? write_frames (self, batch, m, ok) : FALSE;
    for (i = 0; i < m; i++) {
      if (!ok[i])
        continue;
      done[idx[i]] = TRUE;
      vss_store_spool_remove (self->spool, batch[i]->seq);
      post_stored (self, batch[i]);
      progress = TRUE;
      g_mutex_lock (&self->lock);
      self->written++;
      self->replayed++;
      g_mutex_unlock (&self->lock);
    }
    if (!progress || !reachable)
      note_outage (self);
    else
      note_success (self);
  }

  /* Forget what is done (written or set aside). */
  g_mutex_lock (&self->lock);
  for (l = self->pending.head; l;) {
    GList *next = l->next;
    guint64 seq = *(guint64 *) l->data;

    for (i = 0; i < n; i++) {
      if (seqs[i] == seq && done[i]) {
        g_free (l->data);
        g_queue_delete_link (&self->pending, l);
        break;
      }
    }
    l = next;
  }
  if (g_queue_is_empty (&self->pending))
    self->spooling = FALSE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  for (i = 0; i < n; i++)
    vss_sink_frame_free (frames[i]);
  return progress;
}

/* The writer thread: pipelines uploaded frames into Valkey and replays the
 * spool when the services are back. */
static gpointer
writer_loop (gpointer user_data)
{
  GstVssSink *self = user_data;

  g_mutex_lock (&self->lock);
  while (!self->quit) {
    gint64 now = g_get_monotonic_time ();
    gboolean backoff = self->next_retry_us > now;

    if (!g_queue_is_empty (&self->ready)) {
      VssSinkFrame *frames[MAX_BATCH];
      guint n = 0;

      /* Uploads finish one by one: give them a moment to fill a pipeline
       * rather than paying a round trip per frame. */
      if (self->uploading > 0 && g_queue_get_length (&self->ready) <
          MIN (self->uploading, 16u) && !backoff)
        g_cond_wait_until (&self->wcond, &self->lock, now + 500);
      while (n < MAX_BATCH && !g_queue_is_empty (&self->ready))
        frames[n++] = g_queue_pop_head (&self->ready);
      g_mutex_unlock (&self->lock);
      /* During an outage's backoff, straight to the spool. */
      write_direct (self, frames, n, !backoff);
      g_mutex_lock (&self->lock);
      continue;
    }
    if (!g_queue_is_empty (&self->pending) && !backoff) {
      g_mutex_unlock (&self->lock);
      replay_some (self);
      g_mutex_lock (&self->lock);
      continue;
    }
    if (!g_queue_is_empty (&self->pending))
      g_cond_wait_until (&self->wcond, &self->lock, self->next_retry_us);
    else
      g_cond_wait (&self->wcond, &self->lock);
  }
  g_mutex_unlock (&self->lock);
  return NULL;
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

static gboolean
wait_drained (GstVssSink * self, guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gboolean drained;

  g_mutex_lock (&self->lock);
  while (!(drained = self->in_flight == 0 && g_queue_is_empty (&self->pending)
          && g_queue_is_empty (&self->ready)) && !self->flushing
      && !self->fatal) {
    /* Replays wait for their backoff: try again now and then. */
    if (!g_cond_wait_until (&self->cond, &self->lock,
            MIN (end, g_get_monotonic_time () + 100 * 1000))
        && g_get_monotonic_time () >= end)
      break;
  }
  g_mutex_unlock (&self->lock);
  return drained;
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
        gchar *derived;

        gst_event_parse_stream_start (event, &sid);
        derived = derive_stream_id (sid);
        g_mutex_lock (&self->lock);
        g_free (self->stream);
        self->stream = derived;
        g_mutex_unlock (&self->lock);
        GST_INFO_OBJECT (self, "stream id '%s' (from '%s')", derived,
            GST_STR_NULL (sid));
      }
      GST_OBJECT_UNLOCK (self);
      break;
    }
    case GST_EVENT_EOS:{
      guint timeout;
      guint n_rec = 0;

      GST_OBJECT_LOCK (self);
      timeout = self->drain_timeout_ms;
      GST_OBJECT_UNLOCK (self);
      if (!wait_drained (self, timeout)) {
        g_mutex_lock (&self->lock);
        n_rec = self->in_flight + g_queue_get_length (&self->pending);
        g_mutex_unlock (&self->lock);
        GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
            ("%u frames could not be stored within %u ms; they are kept in "
                "the spool and will be written when the service is back or "
                "on the next start.", n_rec, timeout),
            ("spool %s", vss_store_spool_get_dir (self->spool)));
      }
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

static GstFlowReturn
gst_vss_sink_render (GstBaseSink * bsink, GstBuffer * buf)
{
  GstVssSink *self = GST_VSS_SINK (bsink);
  GstVssEmbeddingMeta *meta;
  VssSinkFrame *f;
  const gchar *fid;
  gchar *model;
  gdouble dist;
  const gchar *matched;
  gboolean spooling;
  GError *err = NULL;

  GST_OBJECT_LOCK (self);
  model = g_strdup (self->model);
  GST_OBJECT_UNLOCK (self);
  meta = gst_vss_buffer_get_embedding_meta (buf, model);
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

  g_mutex_lock (&self->lock);
  if (self->dim == 0)
    self->dim = meta->dim;
  if (self->dim != meta->dim) {
    guint want = self->dim;

    g_mutex_unlock (&self->lock);
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Frame %s has a %u-dimensional vector, but the index '%s' holds "
            "%u-dimensional vectors.", fid, meta->dim, self->r_index, want),
        ("model %s", meta->model));
    g_free (model);
    return GST_FLOW_ERROR;
  }
  f = vss_sink_frame_new ();
  f->rec.stream = g_strdup (self->stream);
  g_mutex_unlock (&self->lock);

  f->rec.id = g_strdup (fid);
  f->key = gst_vss_record_key (self->r_key_prefix, f->rec.stream, f->rec.id);
  f->rec.model = g_strdup (meta->model);
  f->content_type = g_strdup (self->content_type ? self->content_type :
      "image/jpeg");
  if (!gst_vss_frame_id_get_time_ms (f->rec.id, &f->rec.ts_ms))
    f->rec.ts_ms = g_get_real_time () / 1000;
  f->rec.pts =
      GST_BUFFER_PTS_IS_VALID (buf) ? (gint64) GST_BUFFER_PTS (buf) : -1;
  f->rec.size = gst_buffer_get_size (buf);
  f->rec.has_dedup = gst_vss_buffer_get_dedup_info (buf, &dist, &matched);
  f->rec.dedup_distance = f->rec.has_dedup ? dist : 0;
  f->rec.vector = gst_vss_record_vector_from_floats (meta->vector, meta->dim);
  if (self->store) {
    f->object_key = gst_vss_record_object_name (f->rec.stream, f->rec.id,
        f->rec.ts_ms, f->content_type);
    f->rec.uri = vss_store_object_uri (self->store, f->object_key);
    f->image = bytes_of_buffer (buf);
    if (f->image == NULL) {
      vss_sink_frame_free (f);
      goto map_failed;
    }
  } else {
    f->object_key = g_strdup ("");
    f->rec.uri = g_strdup ("");
    f->object_done = TRUE;
  }
  g_free (model);

  /* Back-pressure: at most max-in-flight uploads, and at most a pipeline
   * more frames waiting for Valkey. */
  g_mutex_lock (&self->lock);
  while ((self->uploading >= self->r_max_in_flight
          || self->in_flight >= self->r_max_in_flight + MAX_BATCH)
      && !self->flushing && !self->fatal)
    g_cond_wait (&self->cond, &self->lock);
  if (self->flushing || self->fatal) {
    gboolean fatal = self->fatal;

    g_mutex_unlock (&self->lock);
    vss_sink_frame_free (f);
    return fatal ? GST_FLOW_ERROR : GST_FLOW_FLUSHING;
  }
  self->in_flight++;
  spooling = self->spooling;
  if (!spooling && self->store && !f->object_done)
    self->uploading++;
  g_mutex_unlock (&self->lock);

  if (self->r_journal && !spooling) {
    /* Straight from the frame's buffers: no copy of the image. */
    struct iovec iov[VSS_SINK_FRAME_N_IOV];
    guint8 *head = vss_sink_frame_to_iov (f, iov);
    gboolean ok = vss_store_spool_journal_appendv (self->spool, iov,
        VSS_SINK_FRAME_N_IOV, &f->journal_seg, &err);

    g_free (head);
    if (!ok) {
      g_mutex_lock (&self->lock);
      self->in_flight--;
      if (self->store && !f->object_done)
        self->uploading--;
      self->failed++;
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
      vss_sink_frame_free (f);
      goto spool_failed;
    }
  }
  if (spooling) {
    /* An outage: keep the order, the writer replays the spool. */
    spool_frame (self, f);
    return self->fatal ? GST_FLOW_ERROR : GST_FLOW_OK;
  }
  if (self->store && !f->object_done) {
    UploadCtx *ctx = g_new0 (UploadCtx, 1);

    ctx->self = self;
    ctx->frame = f;
    vss_store_put_async (self->store, f->object_key, f->content_type,
        f->image, direct_upload_done, ctx);
  } else {
    g_mutex_lock (&self->lock);
    g_queue_push_tail (&self->ready, f);
    g_cond_signal (&self->wcond);
    g_mutex_unlock (&self->lock);
  }
  return GST_FLOW_OK;

  /* ERRORS */
no_meta:
  {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Frame without an embedding%s%s: put vssembed upstream.",
            model ? " of model " : "", model ? model : ""),
        ("buffer %" GST_PTR_FORMAT " has %u embedding metas", buf,
            gst_vss_buffer_n_embedding_metas (buf)));
    g_free (model);
    return GST_FLOW_ERROR;
  }
no_id:
  {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Frame without a valid frame id."), ("id '%s'", GST_STR_NULL (fid)));
    g_free (model);
    return GST_FLOW_ERROR;
  }
empty:
  {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Empty image buffer."),
        ("frame %s", fid));
    g_free (model);
    return GST_FLOW_ERROR;
  }
not_image:
  {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Frame %s is not a %s image (the caps say it is).", fid,
            self->ext && g_str_equal (self->ext, "png") ? "PNG" : "JPEG"),
        ("%" G_GSIZE_FORMAT " bytes with another signature",
            gst_buffer_get_size (buf)));
    g_free (model);
    return GST_FLOW_ERROR;
  }
map_failed:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, READ, ("Cannot read the frame."),
        (NULL));
    return GST_FLOW_ERROR;
  }
spool_failed:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
        ("The spool cannot take more frames."), ("%s", err->message));
    g_error_free (err);
    return GST_FLOW_ERROR;
  }
}

static gboolean
gst_vss_sink_unlock (GstBaseSink * bsink)
{
  GstVssSink *self = GST_VSS_SINK (bsink);

  g_mutex_lock (&self->lock);
  self->flushing = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

static gboolean
gst_vss_sink_unlock_stop (GstBaseSink * bsink)
{
  GstVssSink *self = GST_VSS_SINK (bsink);

  g_mutex_lock (&self->lock);
  self->flushing = FALSE;
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* Start and stop */

static gchar *
default_spool_dir (const gchar * index, const gchar * stream)
{
  gchar *a = gst_vss_record_sanitize_stream (index);
  gchar *b = gst_vss_record_sanitize_stream (stream ? stream : "default");
  gchar *leaf = g_strconcat (a, "-", b, NULL);
  gchar *dir = g_build_filename (g_get_user_state_dir (), "gst-vss", "spool",
      leaf, NULL);

  g_free (a);
  g_free (b);
  g_free (leaf);
  return dir;
}

static gboolean
gst_vss_sink_start (GstBaseSink * bsink)
{
  GstVssSink *self = GST_VSS_SINK (bsink);
  GstVssAwsSettings aws = { 0, };
  VssStoreOptions sopts = { 0, };
  GError *err = NULL;
  gchar *url, *frames, *spool_dir, *masked;
  guint64 spool_max;
  GArray *seqs;

  GST_OBJECT_LOCK (self);
  url = g_strdup (self->valkey);
  frames = self->frames && self->frames[0] ? g_strdup (self->frames) : NULL;
  spool_dir = self->spool_dir ? g_strdup (self->spool_dir) :
      default_spool_dir (self->index, self->stream_id);
  spool_max = self->spool_max_bytes;
  self->r_index = g_strdup (self->index);
  self->r_key_prefix = g_strdup (self->key_prefix);
  self->r_max_in_flight = self->max_in_flight;
  self->r_ttl = self->ttl;
  self->r_journal = self->journal;
  self->r_messages = self->post_messages;
  vss_valkey_record_index_spec (&self->spec, self->r_index,
      self->r_key_prefix, 0);
  self->spec.algorithm = self->algorithm == GST_VSS_SINK_ALGORITHM_FLAT ?
      VSS_VALKEY_ALGORITHM_FLAT : VSS_VALKEY_ALGORITHM_HNSW;
  self->spec.m = self->m;
  self->spec.ef_construction = self->ef_construction;
  g_mutex_lock (&self->lock);
  self->dim = self->dimension;
  self->index_ready = self->create_index == GST_VSS_SINK_CREATE_INDEX_NEVER;
  self->stream = self->stream_id ?
      gst_vss_record_sanitize_stream (self->stream_id)
      : g_strdup ("default");
  self->in_flight = 0;
  self->uploading = 0;
  self->spooling = FALSE;
  self->flushing = FALSE;
  self->quit = FALSE;
  self->fatal = FALSE;
  self->next_retry_us = 0;
  self->retry_round = 0;
  self->written = self->retried = self->spooled = self->replayed =
      self->failed = 0;
  g_mutex_unlock (&self->lock);
  gst_vss_aws_props_to_settings (&self->aws, &gst_vss_aws_service_s3, &aws);
  sopts.aws = &aws;
  sopts.max_connections = self->max_in_flight;
  sopts.timeout_ms = self->timeout_ms;
  sopts.max_retries = self->max_retries;
  /* The store copies what it needs; the lock keeps the strings alive. */
  if (frames)
    self->store = vss_store_new (frames, &sopts, &err);
  GST_OBJECT_UNLOCK (self);
  if (frames && self->store == NULL)
    goto bad_store;

  self->spool = vss_store_spool_open (spool_dir, spool_max, &err);
  if (self->spool == NULL)
    goto bad_spool;
  if (vss_store_spool_get_recovered (self->spool) > 0)
    GST_ELEMENT_INFO (self, RESOURCE, OPEN_READ_WRITE,
        ("Recovered %u frames from the journal of a run that did not stop "
            "cleanly; they are written again.",
            vss_store_spool_get_recovered (self->spool)), ("spool %s",
            spool_dir));

  self->client = vss_valkey_client_new_from_url (url, &err);
  if (self->client == NULL)
    goto bad_url;
  self->cancel = g_cancellable_new ();
  masked = vss_valkey_url_mask (url);
  if (!vss_valkey_client_connect (self->client, self->cancel, &err)) {
    if (!error_is_transient (err))
      goto connect_failed;
    /* An outage at start: frames are spooled until Valkey is back. */
    GST_ELEMENT_WARNING (self, RESOURCE, OPEN_WRITE,
        ("Valkey at %s is unreachable; frames are spooled until it is back.",
            masked), ("%s", err->message));
    g_clear_error (&err);
  } else {
    if (self->dim == 0)
      learn_index_dim (self);
    if (!ensure_index (self, &err)) {
      if (!error_is_transient (err) && err->domain != G_IO_ERROR)
        goto index_failed;
      g_clear_error (&err);
    }
  }

  /* What a crash or an outage left: replay it first, in order. */
  seqs = vss_store_spool_list (self->spool);
  g_mutex_lock (&self->lock);
  for (guint i = 0; i < seqs->len; i++) {
    guint64 *p = g_new (guint64, 1);

    *p = g_array_index (seqs, guint64, i);
    g_queue_push_tail (&self->pending, p);
  }
  self->spooling = seqs->len > 0;
  g_mutex_unlock (&self->lock);
  if (seqs->len > 0)
    GST_INFO_OBJECT (self, "%u frames in spool %s to replay", seqs->len,
        spool_dir);
  g_array_unref (seqs);

  self->writer = g_thread_new ("vsssink-writer", writer_loop, self);
  GST_INFO_OBJECT (self, "writing to %s, images to %s, spool %s", masked,
      frames ? frames : "(none)", spool_dir);
  g_free (masked);
  g_free (url);
  g_free (frames);
  g_free (spool_dir);
  return TRUE;

  /* ERRORS */
bad_store:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Cannot use the object store '%s'.", frames), ("%s", err->message));
    goto fail;
  }
bad_spool:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ_WRITE,
        ("Cannot open the spool folder '%s'.", spool_dir),
        ("%s", err->message));
    goto fail;
  }
bad_url:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Invalid Valkey URL."), ("%s", err->message));
    goto fail;
  }
connect_failed:
  {
    GST_ELEMENT_ERROR_WITH_DETAILS (self, RESOURCE, OPEN_WRITE,
        ("Cannot connect to Valkey at %s.", masked), ("%s", err->message),
        ("valkey-error", G_TYPE_STRING, err->message, NULL));
    g_free (masked);
    goto fail;
  }
index_failed:
  {
    GST_ELEMENT_ERROR_WITH_DETAILS (self, RESOURCE, SETTINGS,
        ("The vector index '%s' cannot be used.", self->r_index),
        ("%s", err->message), ("valkey-error", G_TYPE_STRING, err->message,
            NULL));
    g_free (masked);
    goto fail;
  }
fail:
  {
    g_clear_error (&err);
    g_free (url);
    g_free (frames);
    g_free (spool_dir);
    g_clear_object (&self->cancel);
    g_clear_pointer (&self->client, vss_valkey_client_free);
    g_clear_pointer (&self->spool, vss_store_spool_close);
    g_clear_pointer (&self->store, vss_store_free);
    g_clear_pointer (&self->r_index, g_free);
    g_clear_pointer (&self->r_key_prefix, g_free);
    return FALSE;
  }
}

static gboolean
gst_vss_sink_stop (GstBaseSink * bsink)
{
  GstVssSink *self = GST_VSS_SINK (bsink);
  guint timeout;

  GST_OBJECT_LOCK (self);
  timeout = self->drain_timeout_ms;
  GST_OBJECT_UNLOCK (self);

  /* Frames accepted but not stored get a last chance, then the spool. */
  g_mutex_lock (&self->lock);
  self->flushing = FALSE;
  g_mutex_unlock (&self->lock);
  if (self->writer) {
    gint64 end = g_get_monotonic_time () + (gint64) timeout * 1000;

    g_mutex_lock (&self->lock);
    while ((self->in_flight > 0 || !g_queue_is_empty (&self->ready))
        && !self->fatal && g_cond_wait_until (&self->cond, &self->lock, end));
    g_mutex_unlock (&self->lock);
  }
  /* Outstanding uploads end as cancelled and go to the spool. */
  if (self->store)
    vss_store_cancel_all (self->store);
  g_mutex_lock (&self->lock);
  self->quit = TRUE;
  g_cond_broadcast (&self->cond);
  g_cond_signal (&self->wcond);
  g_mutex_unlock (&self->lock);
  if (self->cancel)
    g_cancellable_cancel (self->cancel);
  if (self->writer) {
    g_thread_join (self->writer);
    self->writer = NULL;
  }
  /* Waits for every upload callback. */
  g_clear_pointer (&self->store, vss_store_free);
  g_mutex_lock (&self->lock);
  while (!g_queue_is_empty (&self->ready)) {
    VssSinkFrame *f = g_queue_pop_head (&self->ready);

    g_mutex_unlock (&self->lock);
    spool_frame (self, f);
    g_mutex_lock (&self->lock);
  }
  g_queue_clear_full (&self->pending, g_free);
  g_clear_pointer (&self->stream, g_free);
  g_mutex_unlock (&self->lock);

  g_clear_pointer (&self->client, vss_valkey_client_free);
  g_clear_object (&self->cancel);
  g_clear_pointer (&self->spool, vss_store_spool_close);
  g_clear_pointer (&self->r_index, g_free);
  g_clear_pointer (&self->r_key_prefix, g_free);
  g_clear_pointer (&self->content_type, g_free);
  return TRUE;
}

/* Properties */

static GstStructure *
get_stats (GstVssSink * self)
{
  guint n_rec = 0;
  guint64 bytes = 0;
  GstStructure *s;

  if (self->spool)
    vss_store_spool_get_usage (self->spool, &n_rec, &bytes);
  g_mutex_lock (&self->lock);
  s = gst_structure_new ("vsssink-stats",
      "written", G_TYPE_UINT64, self->written,
      "retried", G_TYPE_UINT64, self->retried,
      "spooled", G_TYPE_UINT64, self->spooled,
      "replayed", G_TYPE_UINT64, self->replayed,
      "failed", G_TYPE_UINT64, self->failed,
      "in-flight", G_TYPE_UINT, self->in_flight,
      "spool-pending", G_TYPE_UINT, g_queue_get_length (&self->pending),
      "spool-records", G_TYPE_UINT, n_rec,
      "spool-bytes", G_TYPE_UINT64, bytes, NULL);
  g_mutex_unlock (&self->lock);
  return s;
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
    case PROP_JOURNAL:
      self->journal = g_value_get_boolean (value);
      break;
    case PROP_DRAIN_TIMEOUT:
      self->drain_timeout_ms = g_value_get_uint (value);
      break;
    case PROP_POST_MESSAGES:
      self->post_messages = g_value_get_boolean (value);
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
    case PROP_JOURNAL:
      g_value_set_boolean (value, self->journal);
      break;
    case PROP_DRAIN_TIMEOUT:
      g_value_set_uint (value, self->drain_timeout_ms);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, self->post_messages);
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
  g_free (self->stream);
  g_free (self->content_type);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  g_cond_clear (&self->wcond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

#define RW_READY (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | \
    GST_PARAM_MUTABLE_READY)
#define W_READY (G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS | \
    GST_PARAM_MUTABLE_READY)

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
          "One running sink per folder. NULL: "
          "$XDG_STATE_HOME/gst-vss/spool/<index>-<stream-id>", NULL, RW_READY));
  g_object_class_install_property (gobject_class, PROP_SPOOL_MAX_BYTES,
      g_param_spec_uint64 ("spool-max-bytes", "Spool size limit",
          "Most the spool may take on disk, in bytes; a frame that does not "
          "fit is an element error. 0: no limit", 0, G_MAXUINT64,
          DEFAULT_SPOOL_MAX_BYTES, RW_READY));
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
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "Counters since start (read-only): written (keys written), retried "
          "(upload retries and Valkey write retries), spooled (frames sent "
          "to the spool by a failure), replayed (frames written from the "
          "spool), failed (frames neither stored nor spooled, or unreadable "
          "records), in-flight, spool-pending, spool-records, spool-bytes",
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
  self->algorithm = DEFAULT_ALGORITHM;
  self->m = DEFAULT_M;
  self->ef_construction = DEFAULT_EF_CONSTRUCTION;
  self->dimension = DEFAULT_DIMENSION;
  self->max_in_flight = DEFAULT_MAX_IN_FLIGHT;
  self->timeout_ms = DEFAULT_TIMEOUT_MS;
  self->max_retries = DEFAULT_MAX_RETRIES;
  self->spool_max_bytes = DEFAULT_SPOOL_MAX_BYTES;
  self->journal = DEFAULT_JOURNAL;
  self->drain_timeout_ms = DEFAULT_DRAIN_TIMEOUT_MS;
  self->post_messages = DEFAULT_POST_MESSAGES;
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_cond_init (&self->wcond);
  g_queue_init (&self->ready);
  g_queue_init (&self->pending);
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
}
