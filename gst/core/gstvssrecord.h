/* gst-vss: the frame record, what a stored frame is
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * SECTION:gstvssrecord
 *
 * One definition of a stored frame, read by everything that writes or
 * reads frames (vsssink, vssquery, vss-search, the lake):
 *
 * - the Valkey key `<key-prefix><stream>:<frame-id>` (default prefix
 *   `frame:`), a HASH with the fields below;
 * - the index (default name `frames`): `FT.CREATE <index> ON HASH PREFIX 1
 *   <key-prefix> SCHEMA vector VECTOR HNSW|FLAT ... TYPE FLOAT32 DIM <d>
 *   DISTANCE_METRIC COSINE stream TAG ts NUMERIC`;
 * - the object name `<stream>/<yyyy>/<mm>/<dd>/<frame-id>.<jpg|png>`
 *   (UTC date of the capture time) under the store's prefix;
 * - the lake's table columns, with their Iceberg field ids.
 *
 * Fields are only ever added (at the end, with new column ids): HASHes
 * and spool records written before a field existed read back with it
 * unknown.
 */

#define GST_VSS_RECORD_DEFAULT_INDEX "frames"
#define GST_VSS_RECORD_DEFAULT_KEY_PREFIX "frame:"

/* Field names in the HASH. */
#define GST_VSS_RECORD_FIELD_VECTOR "vector"
#define GST_VSS_RECORD_FIELD_STREAM "stream"
#define GST_VSS_RECORD_FIELD_TS "ts"
#define GST_VSS_RECORD_FIELD_PTS "pts"
#define GST_VSS_RECORD_FIELD_URI "uri"
#define GST_VSS_RECORD_FIELD_SIZE "size"
#define GST_VSS_RECORD_FIELD_MODEL "model"
#define GST_VSS_RECORD_FIELD_ID "id"
#define GST_VSS_RECORD_FIELD_DEDUP_DISTANCE "dedup_distance"
#define GST_VSS_RECORD_FIELD_SOURCE "source"
#define GST_VSS_RECORD_FIELD_POSITION "position"

/* The fields, in schema order. */
typedef enum
{
  GST_VSS_RECORD_VECTOR,
  GST_VSS_RECORD_STREAM,
  GST_VSS_RECORD_TS,
  GST_VSS_RECORD_PTS,
  GST_VSS_RECORD_URI,
  GST_VSS_RECORD_SIZE,
  GST_VSS_RECORD_MODEL,
  GST_VSS_RECORD_ID,
  GST_VSS_RECORD_DEDUP_DISTANCE,
  GST_VSS_RECORD_SOURCE,
  GST_VSS_RECORD_POSITION,
  GST_VSS_RECORD_N_FIELDS
} GstVssRecordFieldId;

/**
 * GstVssRecordType:
 * @GST_VSS_RECORD_TYPE_STRING: UTF-8 text
 * @GST_VSS_RECORD_TYPE_INT64: decimal integer in the HASH
 * @GST_VSS_RECORD_TYPE_DOUBLE: shortest round-trip decimal in the HASH
 * @GST_VSS_RECORD_TYPE_VECTOR: little-endian float32 blob
 */
typedef enum
{
  GST_VSS_RECORD_TYPE_STRING,
  GST_VSS_RECORD_TYPE_INT64,
  GST_VSS_RECORD_TYPE_DOUBLE,
  GST_VSS_RECORD_TYPE_VECTOR,
} GstVssRecordType;

/**
 * GstVssRecordIndexing:
 * How the index sees a field: not at all, as the KNN vector, as a TAG
 * (exact match filters) or as NUMERIC (range filters).
 */
typedef enum
{
  GST_VSS_RECORD_INDEX_NONE,
  GST_VSS_RECORD_INDEX_VECTOR,
  GST_VSS_RECORD_INDEX_TAG,
  GST_VSS_RECORD_INDEX_NUMERIC,
} GstVssRecordIndexing;

/**
 * GstVssRecordField:
 * @name: the HASH field
 * @optional: absent from the HASH when unknown
 * @column: the lake's column name
 * @column_id: its Iceberg field id (never reused; new columns get new ids)
 * @column_type: its Iceberg type
 */
typedef struct
{
  GstVssRecordFieldId id;
  const gchar *name;
  GstVssRecordType type;
  GstVssRecordIndexing indexing;
  gboolean optional;
  const gchar *column;
  guint column_id;
  const gchar *column_type;
} GstVssRecordField;

const GstVssRecordField *gst_vss_record_get_fields (guint * n_fields);
const GstVssRecordField *gst_vss_record_find_field (const gchar * name);

/* The index schema's TAG and NUMERIC fields, NULL-terminated. */
const gchar *const *gst_vss_record_tag_fields (void);
const gchar *const *gst_vss_record_numeric_fields (void);
/* Every field but the vector: what a search returns. */
const gchar *const *gst_vss_record_return_fields (void);

/**
 * GstVssRecord:
 * @id: the frame id
 * @stream: the stream id (see gst_vss_record_sanitize_stream())
 * @ts_ms: capture time, unix milliseconds (from the frame id)
 * @pts: the buffer's PTS in nanoseconds, -1 when unknown
 * @uri: the object's URI (s3:// or file://), "" when no image is stored
 * @size: the image's size in bytes
 * @model: the embedding model
 * @has_dedup: whether @dedup_distance is known
 * @dedup_distance: cosine distance to the nearest earlier kept frame
 * @vector: (nullable): the embedding as little-endian float32
 * @source: (nullable): what the frame comes from when that is a file or
 *   another recording (e.g. "clip.mkv"); NULL for live streams
 * @position_ms: the frame's position in @source in milliseconds (the
 *   buffer's stream time), -1 when unknown or without a source
 *
 * A frame as stored. Strings are owned; searches fill everything but
 * @vector. gst_vss_record_format_source() writes @source and @position_ms
 * as a person reads them ("clip.mkv @ 00:54").
 */
typedef struct
{
  gchar *id;
  gchar *stream;
  gint64 ts_ms;
  gint64 pts;
  gchar *uri;
  guint64 size;
  gchar *model;
  gboolean has_dedup;
  gdouble dedup_distance;
  GBytes *vector;
  gchar *source;
  gint64 position_ms;
} GstVssRecord;

void gst_vss_record_init (GstVssRecord * record);
void gst_vss_record_clear (GstVssRecord * record);
void gst_vss_record_copy_into (GstVssRecord * dest, const GstVssRecord * src);

GBytes *gst_vss_record_vector_from_floats (const gfloat * vector, guint dim);

gchar *gst_vss_record_key (const gchar * key_prefix, const gchar * stream,
    const gchar * frame_id);
gchar *gst_vss_record_object_name (const gchar * stream,
    const gchar * frame_id, gint64 ts_ms, const gchar * content_type);
const gchar *gst_vss_record_extension (const gchar * content_type);
gchar *gst_vss_record_sanitize_stream (const gchar * stream);

/**
 * GstVssRecordValueFunc:
 * Called once per field present, in schema order. @value holds @len bytes
 * (strings and numbers as text, the vector as its blob).
 */
typedef void (*GstVssRecordValueFunc) (const GstVssRecordField * field,
    const gchar * value, gsize len, gpointer user_data);

void gst_vss_record_foreach_value (const GstVssRecord * record,
    GstVssRecordValueFunc func, gpointer user_data);

/**
 * GstVssRecordLookupFunc:
 * Returns the NUL-terminated value of field @name, or NULL when absent.
 */
typedef const gchar *(*GstVssRecordLookupFunc) (const gchar * name,
    gpointer user_data);

void gst_vss_record_parse (GstVssRecord * record, const gchar * key,
    GstVssRecordLookupFunc lookup, gpointer user_data);

gchar *gst_vss_record_format_time (gint64 unix_ms);
gchar *gst_vss_record_format_position (gint64 position_ms);
gchar *gst_vss_record_format_source (const GstVssRecord * record);

G_END_DECLS
