/* gst-vss: vsssink's writer, the engine beside the element
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A frame goes: submit() (back-pressure, journal) -> upload on a store
 * thread -> `ready` -> the writer thread pipelines keys into Valkey. What
 * fails after retries is spooled (fsync'ed) and its sequence number queued
 * in `pending`; while anything is pending, new frames go straight to the
 * spool too, and the writer thread replays `pending` in spool order, so
 * that nothing overtakes what waits in the spool. (Frames that were
 * uploading or waiting for Valkey when an outage began are spooled as they
 * fail, which may be after frames taken meanwhile.) Writes are idempotent
 * (same id, same key, same object name), so a replay after a crash never
 * duplicates.
 */
/* Locking: `lock` guards everything under "shared state" in the struct;
 * `cond` signals the submitting and draining side (slots freed, frames
 * stored or spooled, flushing, an error), `wcond` the writer thread (frames
 * ready, spool records to replay, quit). `lock` is a leaf: it is never held
 * while calling a callback, the store, Valkey or a spool function that
 * touches the disk; vss_store_spool_get_usage() (a counter under the
 * spool's own lock) is the one call made under it. The settings, the
 * callbacks and, between start and stop, client, store, spool and cancel
 * are read-only. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include "vsssinkwriter.h"
#include "core/gstvssbackoff.h"
#include "store/gstvssstore.h"
#include "store/gstvssstorespool.h"
#include "valkey/gstvssvalkeyclient.h"
#include "valkey/gstvssvalkeyrecord.h"

GST_DEBUG_CATEGORY_STATIC (vss_sink_writer_debug);
#define GST_CAT_DEFAULT vss_sink_writer_debug

/* Valkey writes go in pipelines of at most this many frames. */
#define MAX_BATCH 256
/* Outage probing: one writer, so no jitter; base 100 ms, cap 2 s. */
static const GstVssBackoff outage_backoff = { 100, 2000,
  GST_VSS_BACKOFF_JITTER_NONE
};

struct _VssSinkWriter
{
  VssSinkWriterSettings s;      /* strings owned */
  GstVssAwsSettings aws;        /* strings owned, secrets wiped on free */
  gboolean has_aws;
  VssSinkWriterCallbacks cb;
  gpointer user_data;
  const gchar *id;              /* log id: s.log_id or "vsssinkwriter" */
  VssValkeyIndexSpec spec;      /* strings point into s */
  gchar *destination;           /* set by start */

  /* writer thread only, once started */
  guint64 seen_links;           /* the client's reconnects + slot maps */
  gint64 next_index_check_us;

  /* running state, set in start() and read-only until stop() */
  gboolean started;             /* start() was called: a writer runs once */
  VssValkeyClient *client;
  VssStore *store;
  VssStoreSpool *spool;         /* cleared under `lock` by stop() */
  GCancellable *cancel;
  GThread *thread;

  /* shared state, under `lock` */
  GMutex lock;
  GCond cond;
  GCond wcond;
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
  VssSinkWriterCause cause;     /* why frames are spooled, while they are */
  VssSinkWriterCause notified;  /* the cause last told (SPOOLING) */
  guint64 replayed_at_notice;   /* `replayed` when spooling was told */
  guint64 written, retried, spooled, replayed, failed, recovered;
  guint64 journal_kept;
};

G_DEFINE_QUARK (vss - sink - writer - error - quark, vss_sink_writer_error);

/* Reports */

/* Calls the error (@fatal) or notice callback with @code and @detail as
 * the report's error; @r holds the rest. No lock held. */
static void
emit (VssSinkWriter * w, gboolean fatal, VssSinkWriterReport * r, gint code,
    const gchar * detail)
{
  GError *e = g_error_new_literal (VSS_SINK_WRITER_ERROR, code, detail);

  r->error = e;
  if (fatal)
    w->cb.error (w, r, w->user_data);
  else if (w->cb.notice)
    w->cb.notice (w, r, w->user_data);
  g_error_free (e);
}

static void
set_fatal (VssSinkWriter * w)
{
  g_mutex_lock (&w->lock);
  w->fatal = TRUE;
  g_cond_broadcast (&w->cond);
  g_mutex_unlock (&w->lock);
}

/* Causes */

/* Whether @text starts with the server's error @code, or has it after a
 * ": " (our messages put the server's reply after a context). */
static gboolean
has_code (const gchar * text, const gchar * code)
{
  gsize n = strlen (code);

  for (const gchar * p = text; p; p = strstr (p, ": ")) {
    if (p != text)
      p += 2;
    if (strncmp (p, code, n) == 0 && (p[n] == ' ' || p[n] == '\0'))
      return TRUE;
  }
  return FALSE;
}

/* The cause named by a server's error text; NONE for errors that waiting
 * does not cure (a refused command, a bad argument). */
static VssSinkWriterCause
cause_of_text (const gchar * text)
{
  static const struct
  {
    const gchar *code;
    VssSinkWriterCause cause;
  } codes[] = {
    {"OOM", VSS_SINK_WRITER_CAUSE_OOM},
    {"READONLY", VSS_SINK_WRITER_CAUSE_READONLY},
    {"NOAUTH", VSS_SINK_WRITER_CAUSE_AUTH},
    {"WRONGPASS", VSS_SINK_WRITER_CAUSE_AUTH},
    {"LOADING", VSS_SINK_WRITER_CAUSE_NOT_READY},
    {"BUSY", VSS_SINK_WRITER_CAUSE_NOT_READY},
    {"TRYAGAIN", VSS_SINK_WRITER_CAUSE_NOT_READY},
    {"CLUSTERDOWN", VSS_SINK_WRITER_CAUSE_NOT_READY},
    {"MASTERDOWN", VSS_SINK_WRITER_CAUSE_NOT_READY},
  };

  for (guint i = 0; text && i < G_N_ELEMENTS (codes); i++)
    if (has_code (text, codes[i].code))
      return codes[i].cause;
  /* What Redis answers to a long command from a connection that has not
   * authenticated (and then closes it), rather than NOAUTH. */
  if (text && strstr (text, "Protocol error: unauthenticated"))
    return VSS_SINK_WRITER_CAUSE_AUTH;
  return VSS_SINK_WRITER_CAUSE_NONE;
}

static VssSinkWriterCause
cause_of_reply (const VssValkeyReply * r)
{
  return vss_valkey_reply_is_error (r, NULL) ? cause_of_text (r->str) :
      VSS_SINK_WRITER_CAUSE_NONE;
}

/* Why a call to Valkey failed; NONE when waiting would not help (a bad
 * URL, TLS refused, an index of another schema). */
static VssSinkWriterCause
cause_of_error (const GError * e)
{
  if (e->domain != VSS_VALKEY_ERROR)
    return VSS_SINK_WRITER_CAUSE_UNREACHABLE;   /* I/O, timeouts */
  switch (e->code) {
    case VSS_VALKEY_ERROR_AUTH:
      return VSS_SINK_WRITER_CAUSE_AUTH;
    case VSS_VALKEY_ERROR_SERVER:
      return cause_of_text (e->message);
    case VSS_VALKEY_ERROR_CONNECTION:
    case VSS_VALKEY_ERROR_CLUSTER:
    case VSS_VALKEY_ERROR_PROTOCOL:
      return VSS_SINK_WRITER_CAUSE_UNREACHABLE;
    default:
      return VSS_SINK_WRITER_CAUSE_NONE;
  }
}

static VssSinkWriterCause
cause_of_store_error (const GError * e)
{
  if (g_error_matches (e, VSS_STORE_ERROR, VSS_STORE_ERROR_NO_SPACE))
    return VSS_SINK_WRITER_CAUSE_DISK_FULL;
  if (g_error_matches (e, VSS_STORE_ERROR, VSS_STORE_ERROR_UNAVAILABLE))
    return VSS_SINK_WRITER_CAUSE_STORE_UNAVAILABLE;
  return VSS_SINK_WRITER_CAUSE_NONE;
}

/* Frames are (or are about to be) spooled because of @cause: a SPOOLING
 * notice when spooling begins or its cause changes. No lock held. */
static void
report_cause (VssSinkWriter * w, VssSinkWriterCause cause, const gchar * detail)
{
  VssSinkWriterReport r = { 0, };
  gboolean tell = FALSE;

  if (cause == VSS_SINK_WRITER_CAUSE_NONE)
    return;
  g_mutex_lock (&w->lock);
  w->cause = cause;
  if (cause != w->notified) {
    if (w->notified == VSS_SINK_WRITER_CAUSE_NONE)
      w->replayed_at_notice = w->replayed;
    w->notified = cause;
    r.n_frames = g_queue_get_length (&w->pending);
    tell = TRUE;
  }
  g_mutex_unlock (&w->lock);
  if (tell) {
    r.cause = cause;
    emit (w, FALSE, &r, VSS_SINK_WRITER_ERROR_SPOOLING, detail ? detail : "");
  }
}

/* Once the spool is empty after an outage that was told: RESUMED. No
 * lock held. */
static void
report_resumed (VssSinkWriter * w)
{
  VssSinkWriterReport r = { 0, };
  gboolean tell = FALSE;

  g_mutex_lock (&w->lock);
  if (w->notified != VSS_SINK_WRITER_CAUSE_NONE && !w->spooling
      && g_queue_is_empty (&w->pending)) {
    r.n_frames = w->replayed - w->replayed_at_notice;
    w->notified = w->cause = VSS_SINK_WRITER_CAUSE_NONE;
    tell = TRUE;
  }
  g_mutex_unlock (&w->lock);
  if (tell)
    emit (w, FALSE, &r, VSS_SINK_WRITER_ERROR_RESUMED, "spool written");
}

static void
report_store_error (VssSinkWriter * w, const VssSinkFrame * f,
    const VssStorePutResult * res)
{
  VssSinkWriterReport r = { 0, };
  gint code = VSS_SINK_WRITER_ERROR_OBJECT_REFUSED;

  if (g_error_matches (res->error, VSS_STORE_ERROR,
          VSS_STORE_ERROR_ACCESS_DENIED))
    code = VSS_SINK_WRITER_ERROR_ACCESS_DENIED;
  else if (g_error_matches (res->error, VSS_STORE_ERROR,
          VSS_STORE_ERROR_NO_SUCH_BUCKET))
    code = VSS_SINK_WRITER_ERROR_NO_SUCH_BUCKET;
  r.frame = f;
  r.http_status = res->http_status;
  emit (w, TRUE, &r, code, res->error->message);
  set_fatal (w);
}

/* An upload that failed for good (not an outage, not a cancel) is an
 * error; the frame is spooled either way. */
static gboolean
store_error_is_fatal (const GError * e)
{
  return cause_of_store_error (e) == VSS_SINK_WRITER_CAUSE_NONE
      && !g_error_matches (e, VSS_STORE_ERROR, VSS_STORE_ERROR_CANCELLED);
}

/* Spool */

/* Keeps failed seqs sorted: failures arrive out of order across threads,
 * and replay goes by seq. Under `lock`. */
static void
pending_insert (VssSinkWriter * w, guint64 seq)
{
  guint64 *p = g_new (guint64, 1);
  GList *l;

  *p = seq;
  if (g_queue_is_empty (&w->pending)
      || *(guint64 *) g_queue_peek_tail (&w->pending) < seq) {
    g_queue_push_tail (&w->pending, p);
    return;
  }
  l = w->pending.head;
  while (l && *(guint64 *) l->data < seq)
    l = l->next;
  if (l)
    g_queue_insert_before (&w->pending, l, p);
  else
    g_queue_push_tail (&w->pending, p);
}

/* Keeps a frame that could not be written: in the spool, fsync'ed, queued
 * for replay. Takes @f. Any thread, no lock held. Returns whether it is
 * spooled. */
static gboolean
spool_frame (VssSinkWriter * w, VssSinkFrame * f)
{
  GError *err = NULL;
  struct iovec iov[VSS_SINK_FRAME_N_IOV];
  guint8 *head = vss_sink_frame_to_iov (f, iov);
  guint64 seq = 0;
  gboolean ok;

  ok = vss_store_spool_appendv (w->spool, iov, VSS_SINK_FRAME_N_IOV, TRUE,
      &seq, &err);
  g_free (head);
  /* A frame that could not be spooled stays in the journal (when it is
   * there): the next start recovers it, so it is not lost. */
  if (ok && f->journal_seg)
    vss_store_spool_journal_release (w->spool, f->journal_seg);
  g_mutex_lock (&w->lock);
  if (ok) {
    pending_insert (w, seq);
    w->spooling = TRUE;
    w->spooled++;
  } else {
    if (f->journal_seg)
      w->journal_kept++;
    else
      w->failed++;
    w->fatal = TRUE;
  }
  w->in_flight--;
  g_cond_broadcast (&w->cond);
  g_cond_signal (&w->wcond);
  g_mutex_unlock (&w->lock);

  if (!ok) {
    VssSinkWriterReport r = { 0, };

    r.frame = f;
    r.in_journal = f->journal_seg != 0;
    if (g_error_matches (err, VSS_STORE_SPOOL_ERROR,
            VSS_STORE_SPOOL_ERROR_FULL))
      r.cause = VSS_SINK_WRITER_CAUSE_SPOOL_FULL;
    else if (g_error_matches (err, VSS_STORE_SPOOL_ERROR,
            VSS_STORE_SPOOL_ERROR_NO_SPACE))
      r.cause = VSS_SINK_WRITER_CAUSE_SPOOL_DISK_FULL;
    emit (w, TRUE, &r, VSS_SINK_WRITER_ERROR_NOT_SPOOLED, err->message);
    g_error_free (err);
  } else {
    GST_DEBUG_ID (w->id, "frame %s spooled as record %" G_GUINT64_FORMAT,
        f->rec.id, seq);
  }
  vss_sink_frame_free (f);
  return ok;
}

/* Uploads */

typedef struct
{
  VssSinkWriter *w;
  VssSinkFrame *frame;
} UploadCtx;

static void
upload_done (const VssStorePutResult * res, gpointer user_data)
{
  UploadCtx *ctx = user_data;
  VssSinkWriter *w = ctx->w;
  VssSinkFrame *f = ctx->frame;

  g_free (ctx);
  g_mutex_lock (&w->lock);
  w->uploading--;
  if (res->attempts > 1)
    w->retried += res->attempts - 1;
  if (res->error == NULL) {
    f->object_done = TRUE;
    g_clear_pointer (&f->image, g_bytes_unref);
    g_queue_push_tail (&w->ready, f);
    g_cond_signal (&w->wcond);
    g_cond_broadcast (&w->cond);
    g_mutex_unlock (&w->lock);
    return;
  }
  g_cond_broadcast (&w->cond);
  g_mutex_unlock (&w->lock);
  GST_WARNING_ID (w->id, "upload of %s failed: %s", f->rec.id,
      res->error->message);
  if (store_error_is_fatal (res->error)) {
    report_store_error (w, f, res);
    spool_frame (w, f);
  } else if (spool_frame (w, f)) {
    report_cause (w, cause_of_store_error (res->error), res->error->message);
  }
}

/* Valkey writes */

/* Connections the client made and slot maps it read so far: when this
 * changes, the server may be another one (restarted empty, failed over)
 * that lacks the index. */
static guint64
client_links (VssSinkWriter * w)
{
  VssValkeyClientStats cs;

  vss_valkey_client_get_stats (w->client, &cs);
  return cs.reconnects + cs.map_refreshes;
}

/* Forgets that the index is there when it may be gone: the client
 * reconnected or read a new slot map since the index was last seen, or
 * the periodic check is due. Writer thread. */
static void
index_maybe_lost (VssSinkWriter * w)
{
  guint64 links;
  gboolean due;

  if (!w->s.create_index)
    return;
  links = client_links (w);
  due = links != w->seen_links || (w->s.index_check_s > 0
      && g_get_monotonic_time () >= w->next_index_check_us);
  w->seen_links = links;
  if (!due)
    return;
  g_mutex_lock (&w->lock);
  if (w->index_ready)
    GST_DEBUG_ID (w->id, "checking that index %s is still there", w->s.index);
  w->index_ready = FALSE;
  g_mutex_unlock (&w->lock);
}

/* Creates the index when it is missing, on every primary of a cluster;
 * checks an existing one. Once per start, and again whenever
 * index_maybe_lost() says so. */
static gboolean
ensure_index (VssSinkWriter * w, GError ** error)
{
  VssValkeyIndexSpec spec;
  gboolean ok;

  g_mutex_lock (&w->lock);
  if (w->index_ready || w->dim == 0) {
    g_mutex_unlock (&w->lock);
    return TRUE;
  }
  spec = w->spec;
  spec.dim = w->dim;
  g_mutex_unlock (&w->lock);

  ok = vss_valkey_ensure_index (w->client, &spec,
      vss_valkey_client_is_cluster (w->client), w->cancel, error);
  if (ok) {
    GST_INFO_ID (w->id, "index %s ready (dimension %u)", spec.name, spec.dim);
    /* What reconnecting took to get here is not a reason to look again. */
    w->seen_links = client_links (w);
    w->next_index_check_us = g_get_monotonic_time () +
        (gint64) w->s.index_check_s * G_USEC_PER_SEC;
    g_mutex_lock (&w->lock);
    w->index_ready = TRUE;
    g_mutex_unlock (&w->lock);
  }
  return ok;
}

/* An existing index decides the dimension, so that a frame with another
 * one is refused with both numbers rather than by the server. */
static void
learn_index_dim (VssSinkWriter * w)
{
  const gchar *argv[2] = { "FT.INFO", w->s.index };
  VssValkeyReply *r = vss_valkey_command (w->client, w->cancel, NULL,
      2, argv, NULL);
  VssValkeyIndexInfo *info;

  if (r == NULL)
    return;
  info = vss_valkey_reply_is_error (r, NULL) ? NULL :
      vss_valkey_index_info_parse (r, NULL);
  if (info && info->dim > 0) {
    GST_INFO_ID (w->id, "index %s exists with dimension %u", info->name,
        info->dim);
    g_mutex_lock (&w->lock);
    if (w->dim == 0)
      w->dim = info->dim;
    g_mutex_unlock (&w->lock);
  }
  if (info)
    vss_valkey_index_info_free (info);
  freeReplyObject (r);
}

/* What made a write fail: the first cause found, with its detail. */
typedef struct
{
  VssSinkWriterCause cause;
  gchar *detail;
} Failure;

static void
failure_note (Failure * fl, VssSinkWriterCause cause, const gchar * detail)
{
  if (fl->cause != VSS_SINK_WRITER_CAUSE_NONE)
    return;
  fl->cause = cause;
  fl->detail = g_strdup (detail);
}

/* Before the first write: an index that cannot be used is an error; a
 * server that cannot be reached, or cannot serve for now (out of memory,
 * read-only, credentials refused), an outage noted in @fl. Returns FALSE
 * for both. */
static gboolean
index_usable (VssSinkWriter * w, Failure * fl)
{
  VssSinkWriterReport r = { 0, };
  GError *err = NULL;
  VssSinkWriterCause cause;

  if (ensure_index (w, &err))
    return TRUE;
  cause = cause_of_error (err);
  if (cause != VSS_SINK_WRITER_CAUSE_NONE) {
    GST_WARNING_ID (w->id, "Valkey unavailable: %s", err->message);
    failure_note (fl, cause, err->message);
  } else {
    r.valkey_error = err->message;
    emit (w, TRUE, &r, VSS_SINK_WRITER_ERROR_INDEX, err->message);
    set_fatal (w);
  }
  g_error_free (err);
  return FALSE;
}

/* Whether frame @i's commands in @p all succeeded; a refusal is an error,
 * a transient error clears @reachable. */
static gboolean
frame_written (VssSinkWriter * w, VssValkeyPipeline * p, guint i, guint per,
    const VssSinkFrame * f, gboolean * reachable, Failure * fl)
{
  gboolean all = TRUE;

  for (guint j = 0; j < per; j++) {
    const VssValkeyReply *r;

    if (vss_valkey_pipeline_get_state (p, i * per + j) !=
        VSS_VALKEY_COMMAND_DONE) {
      all = FALSE;
      continue;
    }
    r = vss_valkey_pipeline_get_reply (p, i * per + j);
    if (!vss_valkey_reply_is_error (r, NULL))
      continue;
    all = FALSE;
    if (cause_of_reply (r) != VSS_SINK_WRITER_CAUSE_NONE) {
      *reachable = FALSE;
      failure_note (fl, cause_of_reply (r), r->str);
    } else {
      VssSinkWriterReport rep = { 0, };
      gchar *detail = g_strdup_printf ("%s: %s", f->key, r->str);

      rep.frame = f;
      rep.valkey_error = r->str;
      emit (w, TRUE, &rep, VSS_SINK_WRITER_ERROR_KEY_REFUSED, detail);
      g_free (detail);
      set_fatal (w);
    }
  }
  return all;
}

/* Writes @frames in one pipeline. @ok[i] says which were written. Returns
 * FALSE when the server could not be used (an outage, why in @fl). */
static gboolean
write_frames (VssSinkWriter * w, VssSinkFrame ** frames, guint n, gboolean * ok,
    Failure * fl)
{
  g_autoptr (VssValkeyPipeline) p = vss_valkey_pipeline_new ();
  guint per = w->s.ttl > 0 ? 2 : 1;
  GError *err = NULL;
  gboolean reachable = TRUE;

  for (guint i = 0; i < n; i++)
    ok[i] = FALSE;
  index_maybe_lost (w);
  if (!index_usable (w, fl))
    return FALSE;
  for (guint i = 0; i < n; i++)
    vss_valkey_record_append (p, frames[i]->key, &frames[i]->rec, w->s.ttl);
  if (!vss_valkey_client_execute (w->client, p, w->cancel, &err)) {
    VssSinkWriterCause cause = cause_of_error (err);

    GST_WARNING_ID (w->id, "Valkey write failed: %s", err->message);
    reachable = FALSE;
    failure_note (fl, cause != VSS_SINK_WRITER_CAUSE_NONE ? cause :
        VSS_SINK_WRITER_CAUSE_UNREACHABLE, err->message);
    g_clear_error (&err);
  }
  for (guint i = 0; i < n; i++)
    ok[i] = frame_written (w, p, i, per, frames[i], &reachable, fl);
  /* The server these keys went to may have come back empty: the index
   * is created now rather than at the next frame, which may never come. */
  index_maybe_lost (w);
  if (reachable && !index_usable (w, fl))
    reachable = FALSE;
  return reachable;
}

static void
note_outage (VssSinkWriter * w)
{
  guint ms;

  g_mutex_lock (&w->lock);
  ms = gst_vss_backoff_ms (&outage_backoff, w->retry_round, NULL);
  w->retry_round++;
  w->next_retry_us = g_get_monotonic_time () + ms * 1000;
  g_mutex_unlock (&w->lock);
}

static void
note_success (VssSinkWriter * w)
{
  g_mutex_lock (&w->lock);
  w->retry_round = 0;
  w->next_retry_us = 0;
  g_mutex_unlock (&w->lock);
}

/* Frames that went through the object store and wait for Valkey. */
static void
write_direct (VssSinkWriter * w, VssSinkFrame ** frames, guint n,
    gboolean try_valkey)
{
  gboolean ok[MAX_BATCH];
  gboolean reachable = FALSE;
  Failure fl = { 0, };

  if (try_valkey) {
    reachable = write_frames (w, frames, n, ok, &fl);
    if (reachable)
      note_success (w);
    else
      note_outage (w);
  } else {
    memset (ok, 0, sizeof ok);
  }
  for (guint i = 0; i < n; i++) {
    VssSinkFrame *f = frames[i];

    if (ok[i]) {
      if (f->journal_seg)
        vss_store_spool_journal_release (w->spool, f->journal_seg);
      if (w->cb.stored)
        w->cb.stored (w, f, w->user_data);
      g_mutex_lock (&w->lock);
      w->written++;
      w->in_flight--;
      g_cond_broadcast (&w->cond);
      g_mutex_unlock (&w->lock);
      vss_sink_frame_free (f);
    } else {
      if (try_valkey) {
        g_mutex_lock (&w->lock);
        w->retried++;
        g_mutex_unlock (&w->lock);
      }
      spool_frame (w, f);
    }
  }
  /* Told once the frames are in the spool. */
  report_cause (w, fl.cause, fl.detail);
  g_free (fl.detail);
  if (reachable)
    report_resumed (w);
}

/* Replay */

typedef struct
{
  GMutex lock;
  GCond cond;
  guint remaining;
} ReplayUploads;

typedef struct
{
  ReplayUploads *ru;
  VssSinkFrame *frame;
  VssSinkWriter *w;
} ReplayCtx;

static void
replay_upload_done (const VssStorePutResult * res, gpointer user_data)
{
  ReplayCtx *ctx = user_data;
  ReplayUploads *ru = ctx->ru;

  if (res->error == NULL)
    ctx->frame->object_done = TRUE;
  else if (store_error_is_fatal (res->error))
    report_store_error (ctx->w, ctx->frame, res);
  else
    report_cause (ctx->w, cause_of_store_error (res->error),
        res->error->message);
  g_mutex_lock (&ru->lock);
  if (--ru->remaining == 0)
    g_cond_signal (&ru->cond);
  g_mutex_unlock (&ru->lock);
  g_free (ctx);
}

/* Reads spool record @seq for a replay; NULL when it is unusable, after
 * setting it aside (and counting it). */
static VssSinkFrame *
read_spooled (VssSinkWriter * w, guint64 seq)
{
  GError *err = NULL;
  GBytes *b = vss_store_spool_read (w->spool, seq, &err);
  VssSinkFrame *f = b ? vss_sink_frame_deserialize (b, &err) : NULL;

  if (b)
    g_bytes_unref (b);
  if (f == NULL) {
    VssSinkWriterReport r = { 0, };

    emit (w, FALSE, &r, VSS_SINK_WRITER_ERROR_UNREADABLE, err->message);
    g_error_free (err);
    vss_store_spool_quarantine (w->spool, seq);
    g_mutex_lock (&w->lock);
    w->failed++;
    g_mutex_unlock (&w->lock);
    return NULL;
  }
  f->seq = seq;
  f->replay = TRUE;
  /* The object goes where this run stores objects. */
  if (!f->object_done && w->store) {
    g_free (f->rec.uri);
    f->rec.uri = vss_store_object_uri (w->store, f->object_key);
  } else if (!f->object_done) {
    GST_WARNING_ID (w->id, "spooled frame %s has an image but 'frames' is "
        "not set: storing its vector only", f->rec.id);
    g_free (f->rec.uri);
    f->rec.uri = g_strdup ("");
    f->object_done = TRUE;
  }
  return f;
}

/* Uploads the objects of @frames that need one, concurrently, and waits
 * for them all. */
static void
replay_objects (VssSinkWriter * w, VssSinkFrame ** frames, guint n)
{
  ReplayUploads ru = { 0, };

  g_mutex_init (&ru.lock);
  g_cond_init (&ru.cond);
  ru.remaining = 1;
  for (guint i = 0; i < n; i++) {
    ReplayCtx *ctx;

    if (!frames[i] || frames[i]->object_done || !w->store)
      continue;
    ctx = g_new0 (ReplayCtx, 1);
    ctx->ru = &ru;
    ctx->frame = frames[i];
    ctx->w = w;
    g_mutex_lock (&ru.lock);
    ru.remaining++;
    g_mutex_unlock (&ru.lock);
    vss_store_put_async (w->store, frames[i]->object_key,
        frames[i]->content_type, frames[i]->image, replay_upload_done, ctx);
  }
  g_mutex_lock (&ru.lock);
  ru.remaining--;
  while (ru.remaining > 0)
    g_cond_wait (&ru.cond, &ru.lock);
  g_mutex_unlock (&ru.lock);
  g_mutex_clear (&ru.lock);
  g_cond_clear (&ru.cond);
}

/* Writes the keys of @frames, in order, up to the first one whose object
 * is not stored; sets @done for what is written or was unreadable (NULL).
 * @progress: records were set aside already. Returns TRUE when that or a
 * key was written. */
static gboolean
replay_keys (VssSinkWriter * w, VssSinkFrame ** frames, guint n,
    gboolean * done, gboolean progress)
{
  VssSinkFrame *batch[MAX_BATCH];
  gboolean ok[MAX_BATCH];
  guint idx[MAX_BATCH];
  guint m = 0, i;
  gboolean reachable;
  Failure fl = { 0, };

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
  reachable = m > 0 ? write_frames (w, batch, m, ok, &fl) : FALSE;
  report_cause (w, fl.cause, fl.detail);
  g_free (fl.detail);
  for (i = 0; i < m; i++) {
    if (!ok[i])
      continue;
    done[idx[i]] = TRUE;
    vss_store_spool_remove (w->spool, batch[i]->seq);
    if (w->cb.stored)
      w->cb.stored (w, batch[i], w->user_data);
    progress = TRUE;
    g_mutex_lock (&w->lock);
    w->written++;
    w->replayed++;
    g_mutex_unlock (&w->lock);
  }
  if (!progress || !reachable)
    note_outage (w);
  else
    note_success (w);
  return progress;
}

/* Forgets the seqs that are done (written or set aside). */
static void
forget_replayed (VssSinkWriter * w, const guint64 * seqs,
    const gboolean * done, guint n)
{
  GList *l;

  g_mutex_lock (&w->lock);
  for (l = w->pending.head; l;) {
    GList *next = l->next;
    guint64 seq = *(guint64 *) l->data;

    for (guint i = 0; i < n; i++) {
      if (seqs[i] == seq && done[i]) {
        g_free (l->data);
        g_queue_delete_link (&w->pending, l);
        break;
      }
    }
    l = next;
  }
  if (g_queue_is_empty (&w->pending))
    w->spooling = FALSE;
  g_cond_broadcast (&w->cond);
  g_mutex_unlock (&w->lock);
  report_resumed (w);
}

/* Replays the oldest spooled frames: objects first, then keys in order.
 * Returns TRUE when it made progress. */
static gboolean
replay_some (VssSinkWriter * w)
{
  VssSinkFrame *frames[MAX_BATCH];
  guint64 seqs[MAX_BATCH];
  gboolean done[MAX_BATCH];
  guint n = 0, want, i;
  GList *l;
  gboolean progress = FALSE;

  g_mutex_lock (&w->lock);
  want = MIN (MAX_BATCH, MAX (w->s.max_in_flight, 8));
  for (l = w->pending.head; l && n < want; l = l->next)
    seqs[n++] = *(guint64 *) l->data;
  g_mutex_unlock (&w->lock);

  for (i = 0; i < n; i++) {
    frames[i] = read_spooled (w, seqs[i]);
    if (frames[i] == NULL)
      progress = TRUE;
  }
  replay_objects (w, frames, n);
  progress = replay_keys (w, frames, n, done, progress);
  forget_replayed (w, seqs, done, n);
  for (i = 0; i < n; i++)
    vss_sink_frame_free (frames[i]);
  return progress;
}

/* The writer thread: pipelines uploaded frames into Valkey and replays the
 * spool when the services are back. */
static gpointer
writer_loop (gpointer user_data)
{
  VssSinkWriter *w = user_data;

  g_mutex_lock (&w->lock);
  while (!w->quit) {
    gint64 now = g_get_monotonic_time ();
    gboolean backoff = w->next_retry_us > now;

    if (!g_queue_is_empty (&w->ready)) {
      VssSinkFrame *frames[MAX_BATCH];
      guint n = 0;

      /* Uploads finish one by one: give them a moment to fill a pipeline
       * rather than paying a round trip per frame. */
      if (w->uploading > 0 && g_queue_get_length (&w->ready) <
          MIN (w->uploading, 16u) && !backoff)
        g_cond_wait_until (&w->wcond, &w->lock, now + 500);
      while (n < MAX_BATCH && !g_queue_is_empty (&w->ready))
        frames[n++] = g_queue_pop_head (&w->ready);
      g_mutex_unlock (&w->lock);
      /* During an outage's backoff, straight to the spool. */
      write_direct (w, frames, n, !backoff);
      g_mutex_lock (&w->lock);
      continue;
    }
    if (!g_queue_is_empty (&w->pending) && !backoff) {
      g_mutex_unlock (&w->lock);
      replay_some (w);
      g_mutex_lock (&w->lock);
      continue;
    }
    if (!g_queue_is_empty (&w->pending))
      g_cond_wait_until (&w->wcond, &w->lock, w->next_retry_us);
    else
      g_cond_wait (&w->wcond, &w->lock);
  }
  g_mutex_unlock (&w->lock);
  return NULL;
}

/* Life */

static void
wipe_free (const gchar * s)
{
  if (s)
    memset ((gchar *) s, 0, strlen (s));
  g_free ((gchar *) s);
}

/**
 * vss_sink_writer_new:
 * @settings: what to write where; copied
 * @callbacks: copied; @error is required, the others may be NULL
 * @user_data: for the callbacks
 *
 * Returns: (transfer full): a writer that has opened nothing yet.
 */
VssSinkWriter *
vss_sink_writer_new (const VssSinkWriterSettings * settings,
    const VssSinkWriterCallbacks * callbacks, gpointer user_data)
{
  VssSinkWriter *w;
  static gsize debug_init = 0;

  g_return_val_if_fail (settings != NULL, NULL);
  g_return_val_if_fail (callbacks != NULL && callbacks->error != NULL, NULL);
  w = g_new0 (VssSinkWriter, 1);
  if (g_once_init_enter (&debug_init)) {
    GST_DEBUG_CATEGORY_INIT (vss_sink_writer_debug, "vsssinkwriter", 0,
        "vsssink's writer: uploads, Valkey writes, spool");
    g_once_init_leave (&debug_init, 1);
  }
  w->s = *settings;
  w->s.valkey_url = g_strdup (settings->valkey_url);
  w->s.frames = settings->frames && settings->frames[0] ?
      g_strdup (settings->frames) : NULL;
  w->s.spool_dir = g_strdup (settings->spool_dir);
  w->s.index = g_strdup (settings->index);
  w->s.key_prefix = g_strdup (settings->key_prefix);
  w->s.log_id = g_strdup (settings->log_id);
  w->s.aws = NULL;
  if (settings->aws) {
    const GstVssAwsSettings *a = settings->aws;

    w->has_aws = TRUE;
    w->aws = *a;
    w->aws.access_key_id = g_strdup (a->access_key_id);
    w->aws.secret_access_key = g_strdup (a->secret_access_key);
    w->aws.session_token = g_strdup (a->session_token);
    w->aws.profile = g_strdup (a->profile);
    w->aws.region = g_strdup (a->region);
    w->aws.endpoint_url = g_strdup (a->endpoint_url);
    w->aws.service_env_id = g_strdup (a->service_env_id);
    w->aws.endpoint_prefix = g_strdup (a->endpoint_prefix);
    w->aws.container_base_url = g_strdup (a->container_base_url);
    w->s.aws = &w->aws;
  }
  w->id = w->s.log_id ? w->s.log_id : "vsssinkwriter";
  w->cb = *callbacks;
  w->user_data = user_data;
  vss_valkey_record_index_spec (&w->spec, w->s.index, w->s.key_prefix, 0);
  w->spec.algorithm = settings->algorithm;
  w->spec.m = settings->m;
  w->spec.ef_construction = settings->ef_construction;
  w->dim = settings->dimension;
  w->index_ready = !settings->create_index;
  g_mutex_init (&w->lock);
  g_cond_init (&w->cond);
  g_cond_init (&w->wcond);
  g_queue_init (&w->ready);
  g_queue_init (&w->pending);
  return w;
}

/**
 * vss_sink_writer_free:
 *
 * Stops the writer first when it runs (without waiting for frames in
 * flight: they are spooled).
 */
void
vss_sink_writer_free (VssSinkWriter * w)
{
  if (w == NULL)
    return;
  if (w->thread)
    vss_sink_writer_stop (w, 0);
  g_free ((gchar *) w->s.valkey_url);
  g_free ((gchar *) w->s.frames);
  g_free ((gchar *) w->s.spool_dir);
  g_free ((gchar *) w->s.index);
  g_free ((gchar *) w->s.key_prefix);
  g_free ((gchar *) w->s.log_id);
  g_free (w->destination);
  if (w->has_aws) {
    g_free ((gchar *) w->aws.access_key_id);
    wipe_free (w->aws.secret_access_key);
    wipe_free (w->aws.session_token);
    g_free ((gchar *) w->aws.profile);
    g_free ((gchar *) w->aws.region);
    g_free ((gchar *) w->aws.endpoint_url);
    g_free ((gchar *) w->aws.service_env_id);
    g_free ((gchar *) w->aws.endpoint_prefix);
    g_free ((gchar *) w->aws.container_base_url);
  }
  g_mutex_clear (&w->lock);
  g_cond_clear (&w->cond);
  g_cond_clear (&w->wcond);
  g_free (w);
}

/**
 * vss_sink_writer_get_settings:
 *
 * Returns: (transfer none): the writer's copy of its settings (@frames is
 * NULL when it was "").
 */
const VssSinkWriterSettings *
vss_sink_writer_get_settings (VssSinkWriter * w)
{
  return &w->s;
}

/* For g_ptr_array_sort(), which passes pointers to the elements. */
static gint
cmp_str_ptr (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar * const *) a, *(const gchar * const *) b);
}

/* The seeds of @cfg as "host:port", sorted, joined by ','. */
static gchar *
seeds_text (const VssValkeyConfig * cfg)
{
  GPtrArray *a = g_ptr_array_new_with_free_func (g_free);
  gchar *out;

  for (guint i = 0; i < cfg->n_seeds; i++)
    g_ptr_array_add (a, g_strdup_printf (strchr (cfg->seeds[i].host, ':') ?
            "[%s]:%u" : "%s:%u", cfg->seeds[i].host, cfg->seeds[i].port));
  g_ptr_array_sort (a, cmp_str_ptr);
  g_ptr_array_add (a, NULL);
  out = g_strjoinv (",", (gchar **) a->pdata);
  g_ptr_array_unref (a);
  return out;
}

/**
 * vss_sink_writer_describe_destination:
 * @settings: a writer's settings
 *
 * What a spool folder belongs to: the Valkey endpoint (its seeds, sorted,
 * and database; neither the user nor the password, nor TLS and timeout
 * options), the index, the key prefix and the object store, on one line,
 * e.g. `valkey=127.0.0.1:6379/0 index=frames key-prefix=frame:
 * frames=file:///srv/frames`.
 *
 * Returns: (transfer full): the destination, or NULL with @error when the
 *   Valkey URL is invalid
 */
gchar *
vss_sink_writer_describe_destination (const VssSinkWriterSettings * s,
    GError ** error)
{
  VssValkeyConfig *cfg = vss_valkey_config_new_from_url (s->valkey_url,
      error);
  gchar *seeds, *frames, *out;
  gsize n;

  if (cfg == NULL)
    return NULL;
  seeds = seeds_text (cfg);
  frames = g_strdup (s->frames && s->frames[0] ? s->frames : "none");
  n = strlen (frames);
  while (n > 1 && frames[n - 1] == '/' && frames[n - 2] != '/')
    frames[--n] = '\0';
  out = g_strdup_printf ("valkey=%s/%d index=%s key-prefix=%s frames=%s",
      seeds, cfg->db, s->index, s->key_prefix, frames);
  g_free (frames);
  g_free (seeds);
  vss_valkey_config_free (cfg);
  return out;
}

/**
 * vss_sink_writer_get_destination:
 *
 * Returns: (nullable): this writer's destination, once started (see
 * vss_sink_writer_describe_destination())
 */
const gchar *
vss_sink_writer_get_destination (VssSinkWriter * w)
{
  return w->destination;
}

/* Opens the spool for this writer's destination: a folder holding frames
 * for another one is refused unless adopt_spool; frames of another (or of
 * an unnamed) destination that are taken are told (ADOPTED), and so are
 * the frames a dead run left in the journal (RECOVERED). */
static gboolean
open_spool (VssSinkWriter * w, GError ** error)
{
  VssSinkWriterReport r = { 0, };
  GError *err = NULL;
  gchar *detail;

  w->spool = vss_store_spool_open_owned (w->s.spool_dir, w->s.spool_max_bytes,
      w->destination, w->s.adopt_spool, &err);
  if (w->spool == NULL) {
    g_set_error (error, VSS_SINK_WRITER_ERROR, g_error_matches (err,
            VSS_STORE_SPOOL_ERROR, VSS_STORE_SPOOL_ERROR_OTHER_OWNER) ?
        VSS_SINK_WRITER_ERROR_OTHER_DESTINATION : VSS_SINK_WRITER_ERROR_SPOOL,
        "%s", err->message);
    g_error_free (err);
    return FALSE;
  }
  if (vss_store_spool_get_adopted (w->spool) > 0) {
    r.n_frames = vss_store_spool_get_adopted (w->spool);
    r.destination = vss_store_spool_get_previous_owner (w->spool);
    detail = g_strdup_printf ("spool %s: %u frames of %s written to %s",
        w->s.spool_dir, r.n_frames, r.destination ? r.destination :
        "a destination it does not name", w->destination);
    emit (w, FALSE, &r, VSS_SINK_WRITER_ERROR_ADOPTED, detail);
    g_free (detail);
  }
  if (vss_store_spool_get_recovered (w->spool) > 0) {
    memset (&r, 0, sizeof r);
    r.n_frames = vss_store_spool_get_recovered (w->spool);
    g_mutex_lock (&w->lock);
    w->recovered = r.n_frames;
    g_mutex_unlock (&w->lock);
    detail = g_strconcat ("spool ", w->s.spool_dir, NULL);
    emit (w, FALSE, &r, VSS_SINK_WRITER_ERROR_RECOVERED, detail);
    g_free (detail);
  }
  return TRUE;
}

/* Valkey at start: an unreachable server (or one that cannot serve for
 * now) is an outage (a notice), refused credentials, another refusal or
 * an unusable index an error. */
static gboolean
connect_valkey (VssSinkWriter * w, GError ** error)
{
  VssSinkWriterReport r = { 0, };
  GError *err = NULL;
  VssSinkWriterCause cause;

  w->client = vss_valkey_client_new_from_url (w->s.valkey_url, &err);
  if (w->client == NULL)
    goto bad_url;
  if (!vss_valkey_client_connect (w->client, w->cancel, &err)) {
    if (cause_of_error (err) != VSS_SINK_WRITER_CAUSE_UNREACHABLE)
      goto connect_failed;
    /* An outage at start: frames are spooled until Valkey is back. */
    g_mutex_lock (&w->lock);
    w->notified = w->cause = VSS_SINK_WRITER_CAUSE_UNREACHABLE;
    g_mutex_unlock (&w->lock);
    emit (w, FALSE, &r, VSS_SINK_WRITER_ERROR_UNREACHABLE, err->message);
    g_clear_error (&err);
    return TRUE;
  }
  if (w->dim == 0)
    learn_index_dim (w);
  if (!ensure_index (w, &err)) {
    cause = cause_of_error (err);
    /* A server that wants a password the URL does not give. */
    if (cause == VSS_SINK_WRITER_CAUSE_AUTH)
      goto connect_failed;
    if (cause == VSS_SINK_WRITER_CAUSE_NONE)
      goto index_failed;
    g_clear_error (&err);
  }
  return TRUE;

  /* ERRORS */
bad_url:
  {
    g_set_error (error, VSS_SINK_WRITER_ERROR, VSS_SINK_WRITER_ERROR_URL,
        "%s", err->message);
    g_error_free (err);
    return FALSE;
  }
connect_failed:
  {
    g_set_error (error, VSS_SINK_WRITER_ERROR, VSS_SINK_WRITER_ERROR_CONNECT,
        "%s", err->message);
    g_error_free (err);
    return FALSE;
  }
index_failed:
  {
    g_set_error (error, VSS_SINK_WRITER_ERROR, VSS_SINK_WRITER_ERROR_INDEX,
        "%s", err->message);
    g_error_free (err);
    return FALSE;
  }
}

/* What a crash or an outage left: replayed first, in order. */
static void
queue_spooled (VssSinkWriter * w)
{
  GArray *seqs = vss_store_spool_list (w->spool);

  g_mutex_lock (&w->lock);
  for (guint i = 0; i < seqs->len; i++) {
    guint64 *p = g_new (guint64, 1);

    *p = g_array_index (seqs, guint64, i);
    g_queue_push_tail (&w->pending, p);
  }
  w->spooling = seqs->len > 0;
  g_mutex_unlock (&w->lock);
  if (seqs->len > 0)
    GST_INFO_ID (w->id, "%u frames in spool %s to replay", seqs->len,
        w->s.spool_dir);
  g_array_unref (seqs);
}

/**
 * vss_sink_writer_start:
 * @error: a #VSS_SINK_WRITER_ERROR: URL, STORE, SPOOL, OTHER_DESTINATION,
 *   CONNECT or INDEX
 *
 * Opens the object store, the spool for this writer's destination (notice
 * ADOPTED when it held frames of another destination, with adopt_spool,
 * or of an unnamed one; RECOVERED when the journal of a run that died held
 * frames) and Valkey (notice UNREACHABLE when it
 * cannot be reached: frames are then spooled), checks or creates the index
 * when the dimension is known, queues what the spool holds for replay and
 * starts the writer thread. On failure everything opened is closed again.
 * A writer starts once: after stop (or a failed start), make a new one.
 */
gboolean
vss_sink_writer_start (VssSinkWriter * w, GError ** error)
{
  VssStoreOptions sopts = { 0, };
  GError *err = NULL;
  gchar *masked;

  g_return_val_if_fail (!w->started, FALSE);
  w->started = TRUE;
  sopts.aws = w->s.aws;
  sopts.max_connections = w->s.max_in_flight;
  sopts.timeout_ms = w->s.timeout_ms;
  sopts.max_retries = w->s.max_retries;
  w->destination = vss_sink_writer_describe_destination (&w->s, &err);
  if (w->destination == NULL)
    goto bad_url;
  if (w->s.frames && !(w->store = vss_store_new (w->s.frames, &sopts, &err)))
    goto bad_store;
  if (!open_spool (w, error))
    goto fail;
  w->cancel = g_cancellable_new ();
  if (!connect_valkey (w, error))
    goto fail;
  queue_spooled (w);
  w->thread = g_thread_new ("vsssink-writer", writer_loop, w);
  masked = vss_valkey_url_mask (w->s.valkey_url);
  GST_INFO_ID (w->id, "writing to %s, images to %s, spool %s", masked,
      w->s.frames ? w->s.frames : "(none)", w->s.spool_dir);
  g_free (masked);
  return TRUE;

  /* ERRORS */
bad_url:
  {
    g_set_error (error, VSS_SINK_WRITER_ERROR, VSS_SINK_WRITER_ERROR_URL,
        "%s", err->message);
    g_error_free (err);
    goto fail;
  }
bad_store:
  {
    g_set_error (error, VSS_SINK_WRITER_ERROR, VSS_SINK_WRITER_ERROR_STORE,
        "%s", err->message);
    g_error_free (err);
    goto fail;
  }
fail:
  {
    g_clear_object (&w->cancel);
    g_clear_pointer (&w->client, vss_valkey_client_free);
    g_clear_pointer (&w->spool, vss_store_spool_close);
    g_clear_pointer (&w->store, vss_store_free);
    return FALSE;
  }
}

/**
 * vss_sink_writer_accept_dim:
 * @dim: a frame's vector dimension
 * @index_dim: (out) (optional): the dimension of the index
 *
 * The first dimension seen (or set, or read from an existing index) is the
 * index's; frames of another one must not be submitted.
 *
 * Returns: whether @dim is the index's.
 */
gboolean
vss_sink_writer_accept_dim (VssSinkWriter * w, guint dim, guint * index_dim)
{
  gboolean ok;

  g_mutex_lock (&w->lock);
  if (w->dim == 0)
    w->dim = dim;
  ok = w->dim == dim;
  if (index_dim)
    *index_dim = w->dim;
  g_mutex_unlock (&w->lock);
  return ok;
}

/**
 * vss_sink_writer_name_object:
 * @frame: a frame with its id, stream, ts_ms and content type
 *
 * Sets @frame's object key and URI where this writer stores images (after
 * start), or "" for both and object_done when it stores none.
 *
 * Returns: whether @frame needs its image.
 */
gboolean
vss_sink_writer_name_object (VssSinkWriter * w, VssSinkFrame * f)
{
  g_free (f->object_key);
  g_free (f->rec.uri);
  if (w->store == NULL) {
    f->object_key = g_strdup ("");
    f->rec.uri = g_strdup ("");
    f->object_done = TRUE;
    return FALSE;
  }
  f->object_key = gst_vss_record_object_name (f->rec.stream, f->rec.id,
      f->rec.ts_ms, f->content_type);
  f->rec.uri = vss_store_object_uri (w->store, f->object_key);
  return TRUE;
}

/* Back-pressure: at most max-in-flight uploads, and at most a pipeline
 * more frames waiting for Valkey. Takes a slot for @f; FALSE with @error
 * when flushing or failed. */
static gboolean
take_slot (VssSinkWriter * w, const VssSinkFrame * f, gboolean * spooling,
    GError ** error)
{
  g_mutex_lock (&w->lock);
  while ((w->uploading >= w->s.max_in_flight
          || w->in_flight >= w->s.max_in_flight + MAX_BATCH)
      && !w->flushing && !w->fatal)
    g_cond_wait (&w->cond, &w->lock);
  if (w->flushing || w->fatal) {
    gboolean fatal = w->fatal;

    g_mutex_unlock (&w->lock);
    g_set_error_literal (error, VSS_SINK_WRITER_ERROR, fatal ?
        VSS_SINK_WRITER_ERROR_FAILED : VSS_SINK_WRITER_ERROR_FLUSHING,
        fatal ? "the writer stopped on an error" : "flushing");
    return FALSE;
  }
  w->in_flight++;
  *spooling = w->spooling;
  if (!*spooling && w->store && !f->object_done)
    w->uploading++;
  g_mutex_unlock (&w->lock);
  return TRUE;
}

/* Records @f in the journal, straight from its buffers: no copy of the
 * image. On failure gives the slot back. */
static gboolean
journal_frame (VssSinkWriter * w, VssSinkFrame * f, GError ** error)
{
  struct iovec iov[VSS_SINK_FRAME_N_IOV];
  guint8 *head = vss_sink_frame_to_iov (f, iov);
  GError *err = NULL;
  gboolean ok = vss_store_spool_journal_appendv (w->spool, iov,
      VSS_SINK_FRAME_N_IOV, &f->journal_seg, &err);

  g_free (head);
  if (ok)
    return TRUE;
  g_mutex_lock (&w->lock);
  w->in_flight--;
  if (w->store && !f->object_done)
    w->uploading--;
  w->failed++;
  g_cond_broadcast (&w->cond);
  g_mutex_unlock (&w->lock);
  g_set_error (error, VSS_SINK_WRITER_ERROR, g_error_matches (err,
          VSS_STORE_SPOOL_ERROR, VSS_STORE_SPOOL_ERROR_NO_SPACE) ?
      VSS_SINK_WRITER_ERROR_DISK_FULL : VSS_SINK_WRITER_ERROR_JOURNAL,
      "%s", err->message);
  g_error_free (err);
  return FALSE;
}

/**
 * vss_sink_writer_submit:
 * @frame: (transfer full): a complete frame: record, key, and object named
 *   by vss_sink_writer_name_object() with its image when one is needed
 * @error: FLUSHING, FAILED (the error was reported through the callback)
 *   or JOURNAL or DISK_FULL (not reported)
 *
 * Blocks while max-in-flight uploads run and while a pipeline's worth of
 * frames waits for Valkey; vss_sink_writer_set_flushing() and an error end
 * the wait. From one thread at a time, between start and stop.
 *
 * Returns: whether the writer took the frame (it is then stored or
 * spooled, never lost).
 */
gboolean
vss_sink_writer_submit (VssSinkWriter * w, VssSinkFrame * f, GError ** error)
{
  gboolean spooling = FALSE;

  if (!take_slot (w, f, &spooling, error))
    goto refused;
  if (w->s.journal && !spooling && !journal_frame (w, f, error))
    goto refused;
  if (spooling) {
    gboolean fatal;

    /* An outage: keep the order, the writer thread replays the spool. */
    spool_frame (w, f);
    g_mutex_lock (&w->lock);
    fatal = w->fatal;
    g_mutex_unlock (&w->lock);
    if (fatal)
      g_set_error_literal (error, VSS_SINK_WRITER_ERROR,
          VSS_SINK_WRITER_ERROR_FAILED, "the writer stopped on an error");
    return !fatal;
  }
  if (w->store && !f->object_done) {
    UploadCtx *ctx = g_new0 (UploadCtx, 1);

    ctx->w = w;
    ctx->frame = f;
    vss_store_put_async (w->store, f->object_key, f->content_type, f->image,
        upload_done, ctx);
  } else {
    g_mutex_lock (&w->lock);
    g_queue_push_tail (&w->ready, f);
    g_cond_signal (&w->wcond);
    g_mutex_unlock (&w->lock);
  }
  return TRUE;

refused:
  vss_sink_frame_free (f);
  return FALSE;
}

/**
 * vss_sink_writer_set_flushing:
 *
 * While flushing, submit and drain return at once (a submit blocked on
 * back-pressure too). Frames already taken are still written.
 */
void
vss_sink_writer_set_flushing (VssSinkWriter * w, gboolean flushing)
{
  g_mutex_lock (&w->lock);
  w->flushing = flushing;
  g_cond_broadcast (&w->cond);
  g_mutex_unlock (&w->lock);
}

/**
 * vss_sink_writer_drain:
 * @timeout_ms: the longest wait
 * @n_left: (out) (optional): frames not stored yet (in flight and in the
 *   spool), when it returns FALSE
 *
 * Waits until every frame taken is stored, the spool replayed included,
 * or until the timeout, flushing or an error.
 *
 * Returns: whether everything is stored.
 */
gboolean
vss_sink_writer_drain (VssSinkWriter * w, guint timeout_ms, guint * n_left)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gboolean drained;

  g_mutex_lock (&w->lock);
  while (!(drained = w->in_flight == 0 && g_queue_is_empty (&w->pending)
          && g_queue_is_empty (&w->ready)) && !w->flushing && !w->fatal) {
    /* Replays wait for their backoff: try again now and then. */
    if (!g_cond_wait_until (&w->cond, &w->lock,
            MIN (end, g_get_monotonic_time () + 100 * 1000))
        && g_get_monotonic_time () >= end)
      break;
  }
  if (n_left)
    *n_left = drained ? 0 : w->in_flight + g_queue_get_length (&w->pending);
  g_mutex_unlock (&w->lock);
  return drained;
}

/**
 * vss_sink_writer_stop:
 * @timeout_ms: how long frames in flight get to be stored
 *
 * Waits up to @timeout_ms for the frames in flight (not the spool's
 * replay), cancels the uploads still running, stops the writer thread,
 * spools whatever is not stored and closes the store, Valkey and the
 * spool. What the spool holds is replayed by the next start.
 */
void
vss_sink_writer_stop (VssSinkWriter * w, guint timeout_ms)
{
  VssStoreSpool *spool;

  g_mutex_lock (&w->lock);
  w->flushing = FALSE;
  g_mutex_unlock (&w->lock);
  if (w->thread) {
    gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

    g_mutex_lock (&w->lock);
    while ((w->in_flight > 0 || !g_queue_is_empty (&w->ready))
        && !w->fatal && g_cond_wait_until (&w->cond, &w->lock, end));
    g_mutex_unlock (&w->lock);
  }
  /* Outstanding uploads end as cancelled and go to the spool. */
  if (w->store)
    vss_store_cancel_all (w->store);
  g_mutex_lock (&w->lock);
  w->quit = TRUE;
  g_cond_broadcast (&w->cond);
  g_cond_signal (&w->wcond);
  g_mutex_unlock (&w->lock);
  if (w->cancel)
    g_cancellable_cancel (w->cancel);
  if (w->thread) {
    g_thread_join (w->thread);
    w->thread = NULL;
  }
  /* Waits for every upload callback. */
  g_clear_pointer (&w->store, vss_store_free);
  g_mutex_lock (&w->lock);
  while (!g_queue_is_empty (&w->ready)) {
    VssSinkFrame *f = g_queue_pop_head (&w->ready);

    g_mutex_unlock (&w->lock);
    spool_frame (w, f);
    g_mutex_lock (&w->lock);
  }
  g_queue_clear_full (&w->pending, g_free);
  spool = w->spool;
  w->spool = NULL;
  g_mutex_unlock (&w->lock);

  g_clear_pointer (&w->client, vss_valkey_client_free);
  g_clear_object (&w->cancel);
  g_clear_pointer (&spool, vss_store_spool_close);
}

/**
 * vss_sink_writer_get_stats:
 *
 * Counters since the writer was made; any thread, also after stop.
 */
void
vss_sink_writer_get_stats (VssSinkWriter * w, VssSinkWriterStats * st)
{
  memset (st, 0, sizeof *st);
  g_mutex_lock (&w->lock);
  if (w->spool)
    vss_store_spool_get_usage (w->spool, &st->spool_records, &st->spool_bytes);
  st->written = w->written;
  st->retried = w->retried;
  st->spooled = w->spooled;
  st->replayed = w->replayed;
  st->failed = w->failed;
  st->recovered = w->recovered;
  st->journal_kept = w->journal_kept;
  st->cause = w->spooling || !g_queue_is_empty (&w->pending) ? w->cause :
      VSS_SINK_WRITER_CAUSE_NONE;
  st->in_flight = w->in_flight;
  st->spool_pending = g_queue_get_length (&w->pending);
  g_mutex_unlock (&w->lock);
}
