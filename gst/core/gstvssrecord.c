/* gst-vss: the frame record, what a stored frame is
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Everything here is pure: no I/O, no Valkey client, no store. The Valkey
 * layer writes and reads a record through gst_vss_record_foreach_value()
 * and gst_vss_record_parse(); the lake will write the columns below.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include "gstvssrecord.h"

/* Schema order: the order of the HASH fields and of the lake's columns.
 * Field ids are the lake's; they are never reused. */
static const GstVssRecordField fields[] = {
  {GST_VSS_RECORD_VECTOR, GST_VSS_RECORD_FIELD_VECTOR,
        GST_VSS_RECORD_TYPE_VECTOR,
      GST_VSS_RECORD_INDEX_VECTOR, FALSE, "vector", 9, "list<float>"},
  {GST_VSS_RECORD_STREAM, GST_VSS_RECORD_FIELD_STREAM,
        GST_VSS_RECORD_TYPE_STRING,
      GST_VSS_RECORD_INDEX_TAG, FALSE, "stream", 1, "string"},
  {GST_VSS_RECORD_TS, GST_VSS_RECORD_FIELD_TS,
        GST_VSS_RECORD_TYPE_INT64,
      GST_VSS_RECORD_INDEX_NUMERIC, FALSE, "ts", 3, "timestamptz"},
  {GST_VSS_RECORD_PTS, GST_VSS_RECORD_FIELD_PTS,
        GST_VSS_RECORD_TYPE_INT64,
      GST_VSS_RECORD_INDEX_NONE, TRUE, "pts", 4, "long"},
  {GST_VSS_RECORD_URI, GST_VSS_RECORD_FIELD_URI,
        GST_VSS_RECORD_TYPE_STRING,
      GST_VSS_RECORD_INDEX_NONE, TRUE, "uri", 5, "string"},
  {GST_VSS_RECORD_SIZE, GST_VSS_RECORD_FIELD_SIZE,
        GST_VSS_RECORD_TYPE_INT64,
      GST_VSS_RECORD_INDEX_NONE, FALSE, "size", 6, "long"},
  {GST_VSS_RECORD_MODEL, GST_VSS_RECORD_FIELD_MODEL,
        GST_VSS_RECORD_TYPE_STRING,
      GST_VSS_RECORD_INDEX_NONE, FALSE, "model", 7, "string"},
  {GST_VSS_RECORD_ID, GST_VSS_RECORD_FIELD_ID,
        GST_VSS_RECORD_TYPE_STRING,
      GST_VSS_RECORD_INDEX_NONE, FALSE, "frame_id", 2, "string"},
  {GST_VSS_RECORD_DEDUP_DISTANCE, GST_VSS_RECORD_FIELD_DEDUP_DISTANCE,
        GST_VSS_RECORD_TYPE_DOUBLE,
      GST_VSS_RECORD_INDEX_NONE, TRUE, "dedup_distance", 8, "double"},
  {GST_VSS_RECORD_SOURCE, GST_VSS_RECORD_FIELD_SOURCE,
        GST_VSS_RECORD_TYPE_STRING,
      GST_VSS_RECORD_INDEX_NONE, TRUE, "source", 10, "string"},
  {GST_VSS_RECORD_POSITION, GST_VSS_RECORD_FIELD_POSITION,
        GST_VSS_RECORD_TYPE_INT64,
      GST_VSS_RECORD_INDEX_NONE, TRUE, "position_ms", 11, "long"},
};

#define N_FIELDS G_N_ELEMENTS (fields)
G_STATIC_ASSERT (N_FIELDS == GST_VSS_RECORD_N_FIELDS);

const GstVssRecordField *
gst_vss_record_get_fields (guint * n_fields)
{
  *n_fields = N_FIELDS;
  return fields;
}

const GstVssRecordField *
gst_vss_record_find_field (const gchar * name)
{
  for (guint i = 0; i < N_FIELDS; i++)
    if (g_strcmp0 (fields[i].name, name) == 0)
      return &fields[i];
  return NULL;
}

/* NULL-terminated names of the fields that @keep selects, built once. */
typedef gboolean (*FieldFilter) (const GstVssRecordField * f);

static const gchar **
names_where (FieldFilter keep)
{
  const gchar **names = g_new0 (const gchar *, N_FIELDS + 1);
  guint n = 0;

  for (guint i = 0; i < N_FIELDS; i++)
    if (keep (&fields[i]))
      names[n++] = fields[i].name;
  return names;
}

static gboolean
is_tag (const GstVssRecordField * f)
{
  return f->indexing == GST_VSS_RECORD_INDEX_TAG;
}

static gboolean
is_numeric (const GstVssRecordField * f)
{
  return f->indexing == GST_VSS_RECORD_INDEX_NUMERIC;
}

static gboolean
is_returned (const GstVssRecordField * f)
{
  return f->type != GST_VSS_RECORD_TYPE_VECTOR;
}

#define NAMES_ONCE(filter) G_STMT_START { \
    static const gchar **names; \
    if (g_once_init_enter (&names)) \
      g_once_init_leave (&names, names_where (filter)); \
    return (const gchar * const *) names; \
  } G_STMT_END

const gchar *const *
gst_vss_record_tag_fields (void)
{
  NAMES_ONCE (is_tag);
}

const gchar *const *
gst_vss_record_numeric_fields (void)
{
  NAMES_ONCE (is_numeric);
}

const gchar *const *
gst_vss_record_return_fields (void)
{
  NAMES_ONCE (is_returned);
}

void
gst_vss_record_init (GstVssRecord * r)
{
  memset (r, 0, sizeof (*r));
  r->pts = -1;
  r->position_ms = -1;
}

void
gst_vss_record_clear (GstVssRecord * r)
{
  g_free (r->id);
  g_free (r->stream);
  g_free (r->uri);
  g_free (r->model);
  g_free (r->source);
  if (r->vector)
    g_bytes_unref (r->vector);
  gst_vss_record_init (r);
}

void
gst_vss_record_copy_into (GstVssRecord * d, const GstVssRecord * s)
{
  *d = *s;
  d->id = g_strdup (s->id);
  d->stream = g_strdup (s->stream);
  d->uri = g_strdup (s->uri);
  d->model = g_strdup (s->model);
  d->source = g_strdup (s->source);
  d->vector = s->vector ? g_bytes_ref (s->vector) : NULL;
}

/* The stored form of a vector: little-endian float32. */
GBytes *
gst_vss_record_vector_from_floats (const gfloat * vector, guint dim)
{
  guint32 *v = g_new (guint32, MAX (dim, 1));

  memcpy (v, vector, (gsize) dim * sizeof (guint32));
  for (guint i = 0; i < dim; i++)
    v[i] = GUINT32_TO_LE (v[i]);
  return g_bytes_new_take (v, (gsize) dim * sizeof (guint32));
}

/**
 * gst_vss_record_key:
 *
 * Returns: (transfer full): `<key_prefix><stream>:<frame_id>`
 */
gchar *
gst_vss_record_key (const gchar * key_prefix, const gchar * stream,
    const gchar * frame_id)
{
  return g_strconcat (key_prefix, stream, ":", frame_id, NULL);
}

/**
 * gst_vss_record_extension:
 *
 * Returns: "png" for image/png, else "jpg".
 */
const gchar *
gst_vss_record_extension (const gchar * content_type)
{
  return g_strcmp0 (content_type, "image/png") == 0 ? "png" : "jpg";
}

/**
 * gst_vss_record_object_name:
 * @content_type: (nullable): "image/png" or "image/jpeg" (the default)
 *
 * Returns: (transfer full): `<stream>/<yyyy>/<mm>/<dd>/<frame_id>.<ext>`,
 *   the date being the UTC day of @ts_ms; relative to the store's prefix.
 */
gchar *
gst_vss_record_object_name (const gchar * stream, const gchar * frame_id,
    gint64 ts_ms, const gchar * content_type)
{
  GDateTime *dt = g_date_time_new_from_unix_utc (MAX (ts_ms, 0) / 1000);
  gchar *name;

  if (dt == NULL)
    dt = g_date_time_new_from_unix_utc (0);
  name = g_strdup_printf ("%s/%04d/%02d/%02d/%s.%s", stream,
      g_date_time_get_year (dt), g_date_time_get_month (dt),
      g_date_time_get_day_of_month (dt), frame_id,
      gst_vss_record_extension (content_type));
  g_date_time_unref (dt);
  return name;
}

/**
 * gst_vss_record_sanitize_stream:
 *
 * Makes @stream safe as one key segment, one path segment and a TAG value:
 * letters, digits, '-', '_' and '.' stay, everything else becomes '_';
 * "", "." and ".." become "_", a leading '.' becomes '_'; at most 128
 * bytes.
 *
 * Returns: (transfer full): the stream id to store under
 */
gchar *
gst_vss_record_sanitize_stream (const gchar * stream)
{
  GString *s = g_string_new (NULL);
  const gchar *p;

  for (p = stream ? stream : ""; *p && s->len < 128; p++) {
    gchar c = *p;

    g_string_append_c (s, g_ascii_isalnum (c) || c == '-' || c == '_'
        || c == '.' ? c : '_');
  }
  if (s->len == 0 || strcmp (s->str, ".") == 0 || strcmp (s->str, "..") == 0)
    g_string_assign (s, "_");
  /* No hidden files (temporary files start with '.'). */
  if (s->str[0] == '.')
    s->str[0] = '_';
  return g_string_free (s, FALSE);
}

/**
 * gst_vss_record_foreach_value:
 *
 * Calls @func with every field @record has, as it is stored. The values
 * live until @func returns.
 */
void
gst_vss_record_foreach_value (const GstVssRecord * r,
    GstVssRecordValueFunc func, gpointer user_data)
{
  gchar num[G_ASCII_DTOSTR_BUF_SIZE];

  for (guint i = 0; i < N_FIELDS; i++) {
    const GstVssRecordField *f = &fields[i];
    const gchar *text = num;

    switch (f->id) {
      case GST_VSS_RECORD_VECTOR:{
        gsize len = 0;
        const gchar *data = r->vector ? g_bytes_get_data (r->vector, &len) :
            NULL;

        func (f, data ? data : "", len, user_data);
        continue;
      }
      case GST_VSS_RECORD_STREAM:
        text = r->stream ? r->stream : "";
        break;
      case GST_VSS_RECORD_TS:
        g_snprintf (num, sizeof num, "%" G_GINT64_FORMAT, r->ts_ms);
        break;
      case GST_VSS_RECORD_PTS:
        if (r->pts < 0)
          continue;
        g_snprintf (num, sizeof num, "%" G_GINT64_FORMAT, r->pts);
        break;
      case GST_VSS_RECORD_URI:
        if (r->uri == NULL || r->uri[0] == '\0')
          continue;
        text = r->uri;
        break;
      case GST_VSS_RECORD_SIZE:
        g_snprintf (num, sizeof num, "%" G_GUINT64_FORMAT, r->size);
        break;
      case GST_VSS_RECORD_MODEL:
        text = r->model ? r->model : "";
        break;
      case GST_VSS_RECORD_ID:
        text = r->id ? r->id : "";
        break;
      case GST_VSS_RECORD_DEDUP_DISTANCE:
        if (!r->has_dedup)
          continue;
        g_ascii_dtostr (num, sizeof num, r->dedup_distance);
        break;
      case GST_VSS_RECORD_SOURCE:
        if (r->source == NULL || r->source[0] == '\0')
          continue;
        text = r->source;
        break;
      case GST_VSS_RECORD_POSITION:
        if (r->position_ms < 0)
          continue;
        g_snprintf (num, sizeof num, "%" G_GINT64_FORMAT, r->position_ms);
        break;
      case GST_VSS_RECORD_N_FIELDS:
      default:
        g_assert_not_reached ();
    }
    func (f, text, strlen (text), user_data);
  }
}

static gchar *
dup_nonempty (const gchar * s)
{
  return s && s[0] ? g_strdup (s) : NULL;
}

/**
 * gst_vss_record_parse:
 * @key: (nullable): the HASH's key; the frame id is its last part when the
 *   `id` field is missing
 *
 * Fills @record (initialised here) from stored fields. Strings that are
 * absent or empty stay NULL; numbers that are absent stay 0 (pts and
 * position_ms -1).
 */
void
gst_vss_record_parse (GstVssRecord * r, const gchar * key,
    GstVssRecordLookupFunc lookup, gpointer user_data)
{
  const gchar *s;

  gst_vss_record_init (r);
  r->stream = dup_nonempty (lookup (GST_VSS_RECORD_FIELD_STREAM, user_data));
  r->uri = dup_nonempty (lookup (GST_VSS_RECORD_FIELD_URI, user_data));
  r->model = dup_nonempty (lookup (GST_VSS_RECORD_FIELD_MODEL, user_data));
  r->source = dup_nonempty (lookup (GST_VSS_RECORD_FIELD_SOURCE, user_data));
  r->id = dup_nonempty (lookup (GST_VSS_RECORD_FIELD_ID, user_data));
  if (r->id == NULL && key) {
    s = strrchr (key, ':');
    r->id = g_strdup (s ? s + 1 : key);
  }
  s = lookup (GST_VSS_RECORD_FIELD_TS, user_data);
  r->ts_ms = s ? (gint64) g_ascii_strtod (s, NULL) : 0;
  s = lookup (GST_VSS_RECORD_FIELD_PTS, user_data);
  r->pts = s && s[0] ? (gint64) g_ascii_strtoull (s, NULL, 10) : -1;
  s = lookup (GST_VSS_RECORD_FIELD_SIZE, user_data);
  r->size = s && s[0] ? g_ascii_strtoull (s, NULL, 10) : 0;
  s = lookup (GST_VSS_RECORD_FIELD_DEDUP_DISTANCE, user_data);
  r->has_dedup = s && s[0];
  r->dedup_distance = r->has_dedup ? g_ascii_strtod (s, NULL) : 0;
  s = lookup (GST_VSS_RECORD_FIELD_POSITION, user_data);
  r->position_ms = s && s[0] ? g_ascii_strtoll (s, NULL, 10) : -1;
  if (r->position_ms < 0)
    r->position_ms = -1;
}

/**
 * gst_vss_record_format_time:
 *
 * Returns: (transfer full): "2026-12-01T09:30:20.123Z" (UTC), or "" for 0.
 */
gchar *
gst_vss_record_format_time (gint64 ms)
{
  GDateTime *dt;
  gchar *s, *ret;

  if (ms <= 0)
    return g_strdup ("");
  dt = g_date_time_new_from_unix_utc (ms / 1000);
  if (!dt)
    return g_strdup ("");
  s = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%S");
  ret = g_strdup_printf ("%s.%03dZ", s, (gint) (ms % 1000));
  g_free (s);
  g_date_time_unref (dt);
  return ret;
}

/**
 * gst_vss_record_format_position:
 *
 * Returns: (transfer full): @position_ms as a player shows it: "00:54",
 *   "12:05", "1:02:03" past an hour; "" when negative (unknown).
 */
gchar *
gst_vss_record_format_position (gint64 ms)
{
  gint64 s = ms / 1000;

  if (ms < 0)
    return g_strdup ("");
  if (s >= 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT ":%02d:%02d", s / 3600,
        (gint) (s / 60 % 60), (gint) (s % 60));
  return g_strdup_printf ("%02d:%02d", (gint) (s / 60), (gint) (s % 60));
}

/**
 * gst_vss_record_format_source:
 *
 * Returns: (transfer full): where the frame is in its source, as search
 *   results show it: "clip.mkv @ 00:54", "clip.mkv" when the position is
 *   unknown, "" without a source (live streams).
 */
gchar *
gst_vss_record_format_source (const GstVssRecord * r)
{
  gchar *pos, *out;

  if (r->source == NULL || r->source[0] == '\0')
    return g_strdup ("");
  if (r->position_ms < 0)
    return g_strdup (r->source);
  pos = gst_vss_record_format_position (r->position_ms);
  out = g_strconcat (r->source, " @ ", pos, NULL);
  g_free (pos);
  return out;
}
