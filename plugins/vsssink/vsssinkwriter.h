/* gst-vss: vsssink's writer, the engine beside the element
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include "gstvsssinkrecord.h"
#include "aws/gstvssawscred.h"
#include "valkey/gstvssvalkeysearch.h"

G_BEGIN_DECLS

/**
 * SECTION:vsssinkwriter
 *
 * What vsssink does with a frame once the element has made it, with no pad
 * and no element: the object store, Valkey (pipelined writes, the index),
 * the spool and its journal, the writer thread that replays the spool in
 * order after an outage, and the outage backoff. It is to gstvsssink.c what
 * rtpjitterbuffer.c is to gstrtpjitterbuffer.c.
 *
 * Life: vss_sink_writer_new() copies the settings and opens nothing;
 * vss_sink_writer_start() opens the store, the spool and Valkey and starts
 * the writer thread; vss_sink_writer_submit() hands over frames, blocking
 * while max-in-flight uploads run (vss_sink_writer_set_flushing() and an
 * error interrupt the wait); vss_sink_writer_drain() waits until every
 * frame is stored; vss_sink_writer_stop() gives frames in flight a last
 * chance, then spools them and closes everything. Counters survive stop
 * until vss_sink_writer_free(). A writer starts once.
 *
 * Events come back through #VssSinkWriterCallbacks, called on the writer
 * thread, on the store's threads or, for what happens while submitting or
 * starting, on the caller's thread; never with a lock of the writer held,
 * so a callback may call vss_sink_writer_get_stats().
 *
 * start, submit and stop are called by one thread at a time (with
 * submit only between start and stop, as a streaming thread does); the
 * other functions from any thread.
 */
typedef struct _VssSinkWriter VssSinkWriter;

#define VSS_SINK_WRITER_ERROR (vss_sink_writer_error_quark ())
GQuark vss_sink_writer_error_quark (void);

/**
 * VssSinkWriterError:
 * @VSS_SINK_WRITER_ERROR_STORE: start: the object store cannot be used
 *   (unsupported URI, no credentials, bad bucket name).
 * @VSS_SINK_WRITER_ERROR_SPOOL: start: the spool folder cannot be opened
 *   (rights, another process holds it).
 * @VSS_SINK_WRITER_ERROR_OTHER_DESTINATION: start: the spool folder holds
 *   frames for another destination (vss_sink_writer_describe_destination()),
 *   and @adopt_spool is not set; the folder is left as it is.
 * @VSS_SINK_WRITER_ERROR_URL: start: the Valkey URL is invalid.
 * @VSS_SINK_WRITER_ERROR_CONNECT: start: Valkey refused us for good
 *   (authentication, TLS); an unreachable server is not an error.
 * @VSS_SINK_WRITER_ERROR_INDEX: the vector index cannot be used (no vector
 *   search, another schema); at start or at the first frame.
 * @VSS_SINK_WRITER_ERROR_ACCESS_DENIED: the object store denied access.
 * @VSS_SINK_WRITER_ERROR_NO_SUCH_BUCKET: the S3 bucket does not exist.
 * @VSS_SINK_WRITER_ERROR_OBJECT_REFUSED: the object store refused an
 *   object in another way.
 * @VSS_SINK_WRITER_ERROR_KEY_REFUSED: Valkey refused a frame's key with an
 *   error that a retry would not cure.
 * @VSS_SINK_WRITER_ERROR_NOT_SPOOLED: a frame could neither be stored nor
 *   spooled (spool full, disk error); the report's @cause says why, and
 *   @in_journal whether the frame stays in the journal (the next start
 *   writes it) or is lost.
 * @VSS_SINK_WRITER_ERROR_JOURNAL: submit: the journal could not take the
 *   frame; the writer goes on.
 * @VSS_SINK_WRITER_ERROR_DISK_FULL: submit: the journal could not take the
 *   frame because the spool folder's filesystem is full; the writer goes
 *   on.
 * @VSS_SINK_WRITER_ERROR_FLUSHING: submit: interrupted by flushing.
 * @VSS_SINK_WRITER_ERROR_FAILED: submit: an error reported earlier stopped
 *   the writer.
 * @VSS_SINK_WRITER_ERROR_RECOVERED: notice at start: frames of a run that
 *   died were recovered from the journal and will be written.
 * @VSS_SINK_WRITER_ERROR_UNREACHABLE: notice at start: Valkey cannot be
 *   reached; frames are spooled until it is back.
 * @VSS_SINK_WRITER_ERROR_UNREADABLE: notice: a spooled record is
 *   unreadable and was set aside.
 * @VSS_SINK_WRITER_ERROR_SPOOLING: notice: frames go to the spool, for the
 *   report's @cause; given when spooling begins and when its cause
 *   changes (not again for an UNREACHABLE notice at start).
 * @VSS_SINK_WRITER_ERROR_RESUMED: notice: the spool is written (@n_frames
 *   replayed since spooling began); frames go straight to the services
 *   again.
 * @VSS_SINK_WRITER_ERROR_ADOPTED: notice at start: the spool folder held
 *   @n_frames frames for another destination (@destination; with
 *   @adopt_spool) or for none named (a folder of a build before
 *   destinations); they are written to this writer's.
 *
 * The message of an error in this domain is the technical detail (what
 * the server, the store or the system said); what to tell a user is the
 * caller's choice.
 */
typedef enum
{
  VSS_SINK_WRITER_ERROR_STORE,
  VSS_SINK_WRITER_ERROR_SPOOL,
  VSS_SINK_WRITER_ERROR_URL,
  VSS_SINK_WRITER_ERROR_CONNECT,
  VSS_SINK_WRITER_ERROR_INDEX,
  VSS_SINK_WRITER_ERROR_ACCESS_DENIED,
  VSS_SINK_WRITER_ERROR_NO_SUCH_BUCKET,
  VSS_SINK_WRITER_ERROR_OBJECT_REFUSED,
  VSS_SINK_WRITER_ERROR_KEY_REFUSED,
  VSS_SINK_WRITER_ERROR_NOT_SPOOLED,
  VSS_SINK_WRITER_ERROR_JOURNAL,
  VSS_SINK_WRITER_ERROR_FLUSHING,
  VSS_SINK_WRITER_ERROR_FAILED,
  VSS_SINK_WRITER_ERROR_RECOVERED,
  VSS_SINK_WRITER_ERROR_UNREACHABLE,
  VSS_SINK_WRITER_ERROR_UNREADABLE,
  VSS_SINK_WRITER_ERROR_SPOOLING,
  VSS_SINK_WRITER_ERROR_RESUMED,
  VSS_SINK_WRITER_ERROR_DISK_FULL,
  VSS_SINK_WRITER_ERROR_OTHER_DESTINATION,
  VSS_SINK_WRITER_ERROR_ADOPTED,
} VssSinkWriterError;

/**
 * VssSinkWriterCause:
 * @VSS_SINK_WRITER_CAUSE_NONE: nothing (or nothing known) is wrong
 * @VSS_SINK_WRITER_CAUSE_UNREACHABLE: Valkey cannot be reached (refused,
 *   timed out, connection lost)
 * @VSS_SINK_WRITER_CAUSE_NOT_READY: Valkey answers that it cannot serve
 *   for now (LOADING, BUSY, TRYAGAIN, CLUSTERDOWN, MASTERDOWN)
 * @VSS_SINK_WRITER_CAUSE_OOM: Valkey is out of memory (OOM: used memory
 *   above maxmemory, with a policy that evicts nothing)
 * @VSS_SINK_WRITER_CAUSE_READONLY: the server is a read-only replica
 *   (READONLY)
 * @VSS_SINK_WRITER_CAUSE_AUTH: Valkey refused the credentials (NOAUTH,
 *   WRONGPASS)
 * @VSS_SINK_WRITER_CAUSE_STORE_UNAVAILABLE: the object store cannot be
 *   reached or keeps failing (5xx, timeouts)
 * @VSS_SINK_WRITER_CAUSE_DISK_FULL: the frames folder's filesystem is full
 * @VSS_SINK_WRITER_CAUSE_SPOOL_FULL: the spool reached spool_max_bytes
 * @VSS_SINK_WRITER_CAUSE_SPOOL_DISK_FULL: the spool folder's filesystem is
 *   full
 *
 * Why frames wait in the spool (the first eight), or why a frame could
 * not be spooled (the last two, with NOT_SPOOLED).
 */
typedef enum
{
  VSS_SINK_WRITER_CAUSE_NONE,
  VSS_SINK_WRITER_CAUSE_UNREACHABLE,
  VSS_SINK_WRITER_CAUSE_NOT_READY,
  VSS_SINK_WRITER_CAUSE_OOM,
  VSS_SINK_WRITER_CAUSE_READONLY,
  VSS_SINK_WRITER_CAUSE_AUTH,
  VSS_SINK_WRITER_CAUSE_STORE_UNAVAILABLE,
  VSS_SINK_WRITER_CAUSE_DISK_FULL,
  VSS_SINK_WRITER_CAUSE_SPOOL_FULL,
  VSS_SINK_WRITER_CAUSE_SPOOL_DISK_FULL,
} VssSinkWriterCause;

/**
 * VssSinkWriterSettings:
 * @valkey_url: where keys go (see vss_valkey_client_new_from_url())
 * @frames: (nullable): where images go, s3:// or file://; NULL or "":
 *   vectors only
 * @aws: (nullable): s3:// only, explicit AWS settings
 * @max_in_flight: uploads at once; submit blocks beyond them
 * @timeout_ms: one upload attempt's time limit
 * @max_retries: upload retries before a frame goes to the spool
 * @spool_dir: the spool and journal folder; it belongs to one destination
 *   (see vss_sink_writer_describe_destination()): a folder holding frames
 *   for another one is refused
 * @spool_max_bytes: most the spool may take, 0: no limit
 * @adopt_spool: take a spool folder holding frames for another
 *   destination, and write them to this one
 * @journal: record every frame in the journal before writing it
 * @index: the index name
 * @key_prefix: start of every key and the index's PREFIX
 * @ttl: key expiry in seconds, 0: none
 * @create_index: create the index when missing (and check an existing
 *   one), also when it goes missing later: after every reconnect (a
 *   restarted or failed-over server) and every @index_check_s; FALSE:
 *   leave the index alone
 * @index_check_s: with @create_index, check that the index is still there
 *   this often, in seconds (a server that drops it without a disconnect:
 *   FLUSHALL on valkey-search); 0: only after reconnects
 * @algorithm, @m, @ef_construction: the index, when it is created
 * @dimension: the vectors' dimension, 0: the first frame's (or the
 *   existing index's)
 * @log_id: (nullable): how log lines name this writer (the element's name)
 *
 * Everything is copied by vss_sink_writer_new().
 */
typedef struct
{
  const gchar *valkey_url;
  const gchar *frames;
  const GstVssAwsSettings *aws;
  guint max_in_flight;
  guint timeout_ms;
  guint max_retries;
  const gchar *spool_dir;
  guint64 spool_max_bytes;
  gboolean adopt_spool;
  gboolean journal;
  const gchar *index;
  const gchar *key_prefix;
  guint ttl;
  gboolean create_index;
  guint index_check_s;
  VssValkeyAlgorithm algorithm;
  guint m;
  guint ef_construction;
  guint dimension;
  const gchar *log_id;
} VssSinkWriterSettings;

/**
 * VssSinkWriterReport:
 * @error: what happened: a #VSS_SINK_WRITER_ERROR code and the detail
 * @frame: (nullable): the frame concerned
 * @valkey_error: (nullable): KEY_REFUSED: the server's error reply
 * @http_status: object store errors: the last HTTP status, 0: none
 * @n_frames: RECOVERED: how many frames; SPOOLING: how many wait in the
 *   spool; RESUMED: how many were written from it
 * @cause: SPOOLING, NOT_SPOOLED: why
 * @in_journal: NOT_SPOOLED: the frame stays in the journal, for the next
 *   start
 * @destination: (nullable): ADOPTED: the destination the frames were
 *   spooled for, NULL when the folder named none
 */
typedef struct
{
  const GError *error;
  const VssSinkFrame *frame;
  const gchar *valkey_error;
  glong http_status;
  guint n_frames;
  VssSinkWriterCause cause;
  gboolean in_journal;
  const gchar *destination;
} VssSinkWriterReport;

/**
 * VssSinkWriterCallbacks:
 * @stored: (nullable): a frame's object and key are written (@frame->replay
 *   says whether it came from the spool)
 * @error: an error that stops the writer: it spools what it still holds
 *   and submit fails from now on with VSS_SINK_WRITER_ERROR_FAILED
 * @notice: something worth telling that does not stop the writer
 *   (RECOVERED, UNREACHABLE, UNREADABLE, SPOOLING, RESUMED)
 */
typedef struct
{
  void (*stored) (VssSinkWriter * writer, const VssSinkFrame * frame,
      gpointer user_data);
  void (*error) (VssSinkWriter * writer, const VssSinkWriterReport * report,
      gpointer user_data);
  void (*notice) (VssSinkWriter * writer, const VssSinkWriterReport * report,
      gpointer user_data);
} VssSinkWriterCallbacks;

/**
 * VssSinkWriterStats:
 * @written: keys written (replays included)
 * @retried: upload retries and Valkey write retries
 * @spooled: frames sent to the spool by a failure
 * @replayed: frames written from the spool
 * @failed: frames lost: neither stored, spooled nor kept in the journal,
 *   and unreadable records
 * @recovered: frames of an earlier run that the journal held at start
 *   (written by this run)
 * @journal_kept: frames neither stored nor spooled that stay in the
 *   journal: the next start writes them
 * @in_flight: frames submitted, neither stored nor spooled yet
 * @spool_pending: spooled frames waiting for their replay
 * @spool_records, @spool_bytes: what the spool folder holds (0 once
 *   stopped)
 * @cause: why frames wait in the spool now (NONE when none do, or when
 *   the writer does not know)
 */
typedef struct
{
  guint64 written;
  guint64 retried;
  guint64 spooled;
  guint64 replayed;
  guint64 failed;
  guint64 recovered;
  guint64 journal_kept;
  guint in_flight;
  guint spool_pending;
  guint spool_records;
  guint64 spool_bytes;
  VssSinkWriterCause cause;
} VssSinkWriterStats;

VssSinkWriter *vss_sink_writer_new (const VssSinkWriterSettings * settings,
    const VssSinkWriterCallbacks * callbacks, gpointer user_data);

void vss_sink_writer_free (VssSinkWriter * writer);

const VssSinkWriterSettings *vss_sink_writer_get_settings (VssSinkWriter *
    writer);

gchar *vss_sink_writer_describe_destination (const VssSinkWriterSettings *
    settings, GError ** error);

const gchar *vss_sink_writer_get_destination (VssSinkWriter * writer);

gboolean vss_sink_writer_start (VssSinkWriter * writer, GError ** error);

gboolean vss_sink_writer_accept_dim (VssSinkWriter * writer, guint dim,
    guint * index_dim);

gboolean vss_sink_writer_name_object (VssSinkWriter * writer,
    VssSinkFrame * frame);

gboolean vss_sink_writer_submit (VssSinkWriter * writer, VssSinkFrame * frame,
    GError ** error);

void vss_sink_writer_set_flushing (VssSinkWriter * writer, gboolean flushing);

gboolean vss_sink_writer_drain (VssSinkWriter * writer, guint timeout_ms,
    guint * n_left);

void vss_sink_writer_stop (VssSinkWriter * writer, guint timeout_ms);

void vss_sink_writer_get_stats (VssSinkWriter * writer,
    VssSinkWriterStats * stats);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VssSinkWriter, vss_sink_writer_free);

G_END_DECLS
