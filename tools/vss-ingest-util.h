/* gst-vss: vss-ingest — the parts that need no pipeline (inputs, the
 * pipeline description, backoff, progress line, summary, exit codes)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Kept apart from the runner so that tests check them without a terminal,
 * a server or a stream.
 */
#pragma once

#include <glib.h>
#include <jansson.h>

G_BEGIN_DECLS
#define VSS_INGEST_DEFAULT_VALKEY "redis://127.0.0.1:6379"
#define VSS_INGEST_DEFAULT_FRAMES_DIR "vss-frames"
/* Exit codes, documented in --help and the README. */
    typedef enum
{
  VSS_INGEST_EXIT_OK = 0,
  VSS_INGEST_EXIT_FAILED = 1,   /* the pipeline failed (decoder, store, ...) */
  VSS_INGEST_EXIT_USAGE = 2,    /* bad command line */
  VSS_INGEST_EXIT_VALKEY = 3,   /* Valkey unreachable or without search */
  VSS_INGEST_EXIT_INPUT = 4,    /* an input could not be opened */
  VSS_INGEST_EXIT_NOT_STORED = 5,       /* done, but frames failed or are
                                         * still in the spool */
  VSS_INGEST_EXIT_DAMAGED = 6,  /* done, but a file was not decoded to its
                                 * end, or frames were missing */
  VSS_INGEST_EXIT_INTERRUPTED = 130,    /* stopped by SIGINT or SIGTERM */
} VssIngestExit;

typedef enum
{
  VSS_INGEST_INPUT_URI,         /* uridecodebin: files, http, rtsp */
  VSS_INGEST_INPUT_V4L2,        /* v4l2src device=... ! decodebin */
} VssIngestInputKind;

typedef struct
{
  VssIngestInputKind kind;
  gchar *uri;                   /* URI kind */
  gchar *device;                /* V4L2 kind */
  gchar *local_path;            /* file:// inputs: the file */
  gboolean live;                /* reconnect when it drops */
  gchar *default_stream_id;
} VssIngestInput;

typedef struct
{
  gdouble interval;             /* seconds between samples */
  gchar *provider;              /* local | bedrock */
  gchar *model;                 /* bedrock model (NULL: the element's) */
  gchar *local_model;           /* local model (NULL: vss-local-v2) */
  gint dimension;               /* bedrock dimension (0: the element's) */
  gchar *region;                /* bedrock region (NULL: environment) */
  gdouble threshold;            /* dedup threshold, 0: no dedup */
  gint window;                  /* dedup window size */
  gdouble window_duration;      /* seconds, 0: no age limit */
  gchar *valkey;                /* URL */
  gchar *index;                 /* NULL: the sink's default */
  gchar *key_prefix;            /* NULL: the sink's default */
  gchar *frames;                /* file:///dir or s3://bucket/prefix */
  gint ttl;                     /* seconds, 0: keep */
  gchar *spool_dir;             /* NULL: the sink's default */
  gboolean adopt_spool;         /* write another destination's spool here */
  gint jpeg_quality;
  gboolean dry_run;             /* store nothing: fakesink */
  gchar *rtsp_transport;        /* auto | tcp | udp */
} VssIngestOptions;

/* The longest time any option takes: 30 days (timers count milliseconds
 * in 32 bits). */
#define VSS_INGEST_MAX_SECONDS (30 * 86400.0)

gboolean vss_ingest_check_seconds (const gchar * option, gdouble v,
    gboolean zero_ok, gdouble max, GError ** error);

void vss_ingest_options_init (VssIngestOptions * o);

void vss_ingest_options_clear (VssIngestOptions * o);

gboolean vss_ingest_options_check (const VssIngestOptions * o, GError ** error);

gboolean vss_ingest_input_resolve (const gchar * arg, gboolean force_live,
    VssIngestInput * out, GError ** error);

void vss_ingest_input_clear (VssIngestInput * in);

gchar *vss_ingest_stream_id_sanitize (const gchar * text);

gchar *vss_ingest_stream_id_from_name (const gchar * name);

gboolean vss_ingest_stream_id_is_valid (const gchar * id);

gchar *vss_ingest_frames_to_uri (const gchar * frames, GError ** error);

/**
 * VssIngestSource:
 * @id: what identifies a file (its absolute path, size and modification
 *   time): vssembed's source-id, so that a rerun gives its frames the ids
 *   they had
 * @time_ms: the file's modification time, unix ms: vssembed's source-time
 * @name: the file's name, stored with each frame (vsssink's source) so
 *   search results say which file and where in it
 *
 * Files only; live inputs have none (their frame ids stay random).
 */
typedef struct
{
  gchar *id;
  gint64 time_ms;
  gchar *name;
} VssIngestSource;

gboolean vss_ingest_source_of_file (const gchar * local_path,
    VssIngestSource * source, GError ** error);
void vss_ingest_source_clear (VssIngestSource * source);

gchar *vss_ingest_describe_processing (const VssIngestOptions * o,
    const gchar * stream_id, const VssIngestSource * source,
    gboolean for_display);

gchar *vss_ingest_describe_source (const VssIngestInput * in,
    const VssIngestOptions * o);

gchar *vss_ingest_error_detail (const gchar * debug,
    const gchar * const *secrets);

/* What the progress line shows: one set for all inputs together. */
typedef struct
{
  gboolean live;                /* any input is live */
  gdouble elapsed_s;
  gdouble position_s;           /* files: media time done, summed */
  gdouble duration_s;           /* files: total media time, < 0 unknown */
  guint64 sampled, dropped, stored, spooled, failed, reconnects;
  gboolean reconnecting;
  gboolean dry_run;
} VssIngestProgress;

gchar *vss_ingest_format_progress (const VssIngestProgress * p);

gchar *vss_ingest_format_clock (gdouble seconds);

/* The result of one input. */
typedef enum
{
  VSS_INGEST_STATUS_OK,
  VSS_INGEST_STATUS_STOPPED,    /* --duration reached */
  VSS_INGEST_STATUS_INTERRUPTED,
  VSS_INGEST_STATUS_INPUT_ERROR,
  VSS_INGEST_STATUS_FAILED,
  VSS_INGEST_STATUS_INCOMPLETE, /* a file ended before its duration */
  VSS_INGEST_STATUS_DECODE_ERRORS,      /* to its end, but frames missing or
                                         * decoder warnings */
} VssIngestStatus;

typedef struct
{
  const gchar *input;
  const gchar *stream_id;
  gboolean live;
  VssIngestStatus status;
  const gchar *error;           /* NULL when none */
  const gchar *error_detail;    /* what the element said besides, or NULL */
  gdouble wall_s;
  gdouble media_s;              /* media time covered (files) */
  gdouble duration_s;           /* the file's duration, <= 0 unknown */
  guint64 gaps;                 /* places where decoded frames are missing */
  gdouble missing_s;            /* media time missing in them */
  guint64 decode_warnings;      /* warnings of the decoder, demuxer, ... */
  guint64 decoded, sampled, dropped, kept;
  guint64 stored, spooled, replayed, retried, failed;
  guint64 reconnects;           /* reconnect attempts */
  guint64 connections;          /* connections that delivered frames */
  guint64 errors;
} VssIngestResult;

const gchar *vss_ingest_status_to_string (VssIngestStatus s);

gboolean vss_ingest_reached_end (gdouble reached_s, gdouble duration_s);

VssIngestStatus vss_ingest_file_status (gdouble reached_s,
    gdouble duration_s, guint64 gaps, guint64 decode_warnings);

gchar *vss_ingest_describe_damage (VssIngestStatus status, gdouble reached_s,
    gdouble duration_s, guint64 gaps, gdouble missing_s,
    guint64 decode_warnings);

VssIngestExit vss_ingest_exit_code (const VssIngestResult * results,
    guint n_results, gboolean dry_run);

json_t *vss_ingest_result_to_json (const VssIngestResult * r);

gchar *vss_ingest_format_result (const VssIngestResult * r, gboolean dry_run);

G_END_DECLS
