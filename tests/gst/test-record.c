/* gst-vss: the frame record (core/gstvssrecord.c) and how it travels to
 * Valkey (valkey/gstvssvalkeyrecord.c)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gst/gst.h>
#include "core/gstvssrecord.h"
#include "valkey/gstvssvalkeyrecord.h"

#define ID "01KB1Z6Q3M4V5W6X7Y8Z9ABCDE"

static void
test_schema (void)
{
  guint n, i, j;
  const GstVssRecordField *f = gst_vss_record_get_fields (&n);
  const gchar *const *tags = gst_vss_record_tag_fields ();
  const gchar *const *nums = gst_vss_record_numeric_fields ();
  const gchar *const *ret = gst_vss_record_return_fields ();
  guint n_vector = 0;

  g_assert_cmpuint (n, ==, GST_VSS_RECORD_N_FIELDS);
  for (i = 0; i < n; i++) {
    /* The table is indexed by its ids; names and column ids are unique. */
    g_assert_cmpint (f[i].id, ==, i);
    g_assert_true (gst_vss_record_find_field (f[i].name) == &f[i]);
    g_assert_cmpuint (f[i].column_id, >, 0);
    for (j = i + 1; j < n; j++) {
      g_assert_cmpstr (f[i].name, !=, f[j].name);
      g_assert_cmpstr (f[i].column, !=, f[j].column);
      g_assert_cmpuint (f[i].column_id, !=, f[j].column_id);
    }
    if (f[i].indexing == GST_VSS_RECORD_INDEX_VECTOR)
      n_vector++;
  }
  g_assert_cmpuint (n_vector, ==, 1);
  g_assert_null (gst_vss_record_find_field ("nope"));
  g_assert_cmpstr (tags[0], ==, "stream");
  g_assert_null (tags[1]);
  g_assert_cmpstr (nums[0], ==, "ts");
  g_assert_null (nums[1]);
  /* Searches return everything but the vector. */
  for (i = 0; ret[i]; i++)
    g_assert_cmpstr (ret[i], !=, "vector");
  g_assert_cmpuint (i, ==, n - 1);
  /* Built once. */
  g_assert_true (tags == gst_vss_record_tag_fields ());
}

static void
test_names (void)
{
  gchar *s;

  s = gst_vss_record_key ("frame:", "cam1", ID);
  g_assert_cmpstr (s, ==, "frame:cam1:" ID);
  g_free (s);
  /* 2026-12-01T23:59:59.999Z is still the 1st in UTC. */
  s = gst_vss_record_object_name ("cam1", ID, 1796169599999, "image/jpeg");
  g_assert_cmpstr (s, ==, "cam1/2026/12/01/" ID ".jpg");
  g_free (s);
  s = gst_vss_record_object_name ("cam1", ID, 1796169600000, "image/png");
  g_assert_cmpstr (s, ==, "cam1/2026/12/02/" ID ".png");
  g_free (s);
  s = gst_vss_record_object_name ("cam1", ID, 0, NULL);
  g_assert_cmpstr (s, ==, "cam1/1970/01/01/" ID ".jpg");
  g_free (s);
  s = gst_vss_record_sanitize_stream ("../a b/ü");
  g_assert_cmpstr (s, ==, "_._a_b___");
  g_free (s);
  s = gst_vss_record_format_time (1796169599999);
  g_assert_cmpstr (s, ==, "2026-12-01T23:59:59.999Z");
  g_free (s);
  s = gst_vss_record_format_time (0);
  g_assert_cmpstr (s, ==, "");
  g_free (s);
}

static void
fill (GstVssRecord * r)
{
  const gfloat v[3] = { 1.0f, -0.5f, 0.25f };

  gst_vss_record_init (r);
  r->id = g_strdup (ID);
  r->stream = g_strdup ("cam1");
  r->ts_ms = 1796169599999;
  r->pts = 3000000000;
  r->uri = g_strdup ("file:///srv/frames/cam1/2026/12/01/" ID ".jpg");
  r->size = 12345;
  r->model = g_strdup ("vss-local-v1");
  r->has_dedup = TRUE;
  r->dedup_distance = 0.375;
  r->vector = gst_vss_record_vector_from_floats (v, 3);
  r->source = g_strdup ("clip é.mkv");
  r->position_ms = 54321;
}

static void
collect (const GstVssRecordField * f, const gchar * value, gsize len,
    gpointer user_data)
{
  g_hash_table_insert (user_data, g_strdup (f->name), g_bytes_new (value, len));
}

static const gchar *
lookup (const gchar * name, gpointer user_data)
{
  GBytes *b = g_hash_table_lookup (user_data, name);
  static gchar buf[256];
  gsize n;

  if (b == NULL)
    return NULL;
  n = MIN (g_bytes_get_size (b), sizeof buf - 1);
  memcpy (buf, g_bytes_get_data (b, NULL), n);
  buf[n] = '\0';
  return buf;
}

static void
test_round_trip (void)
{
  GHashTable *h = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) g_bytes_unref);
  GstVssRecord a, b;
  const guint32 *le;
  gfloat x;

  fill (&a);
  gst_vss_record_foreach_value (&a, collect, h);
  g_assert_cmpuint (g_hash_table_size (h), ==, GST_VSS_RECORD_N_FIELDS);
  g_assert_cmpuint (g_bytes_get_size (g_hash_table_lookup (h, "vector")), ==,
      12);
  le = g_bytes_get_data (g_hash_table_lookup (h, "vector"), NULL);
  memcpy (&x, le + 1, 4);
  g_assert_cmpfloat (x, ==, -0.5f);
  g_assert_cmpstr (lookup ("ts", h), ==, "1796169599999");
  g_assert_cmpstr (lookup ("dedup_distance", h), ==, "0.375");
  g_assert_cmpstr (lookup ("source", h), ==, "clip é.mkv");
  g_assert_cmpstr (lookup ("position", h), ==, "54321");
  gst_vss_record_parse (&b, "frame:cam1:" ID, lookup, h);
  g_assert_cmpstr (b.id, ==, a.id);
  g_assert_cmpstr (b.stream, ==, a.stream);
  g_assert_cmpint (b.ts_ms, ==, a.ts_ms);
  g_assert_cmpint (b.pts, ==, a.pts);
  g_assert_cmpstr (b.uri, ==, a.uri);
  g_assert_cmpuint (b.size, ==, a.size);
  g_assert_cmpstr (b.model, ==, a.model);
  g_assert_true (b.has_dedup);
  g_assert_cmpfloat (b.dedup_distance, ==, 0.375);
  g_assert_cmpstr (b.source, ==, a.source);
  g_assert_cmpint (b.position_ms, ==, 54321);
  gst_vss_record_clear (&b);

  /* Optional fields stay out when unknown, and come back unknown. */
  g_hash_table_remove_all (h);
  a.pts = -1;
  g_clear_pointer (&a.uri, g_free);
  a.has_dedup = FALSE;
  g_clear_pointer (&a.id, g_free);
  g_clear_pointer (&a.source, g_free);
  a.position_ms = -1;
  gst_vss_record_foreach_value (&a, collect, h);
  g_assert_false (g_hash_table_contains (h, "pts"));
  g_assert_false (g_hash_table_contains (h, "uri"));
  g_assert_false (g_hash_table_contains (h, "dedup_distance"));
  g_assert_false (g_hash_table_contains (h, "source"));
  g_assert_false (g_hash_table_contains (h, "position"));
  g_hash_table_remove (h, "id");
  gst_vss_record_parse (&b, "frame:cam1:" ID, lookup, h);
  g_assert_cmpint (b.pts, ==, -1);
  g_assert_null (b.uri);
  g_assert_false (b.has_dedup);
  g_assert_null (b.source);
  g_assert_cmpint (b.position_ms, ==, -1);
  /* Without an `id` field the key names the frame. */
  g_assert_cmpstr (b.id, ==, ID);
  gst_vss_record_clear (&b);
  gst_vss_record_clear (&a);
  g_hash_table_unref (h);
}

static gchar *
args_to_string (const VssValkeyArgs * a)
{
  GString *s = g_string_new (NULL);

  for (gint i = 0; i < a->argc; i++)
    g_string_append_printf (s, "%s%.*s", i ? " " : "", (gint) a->argvlen[i],
        a->argv[i]);
  return g_string_free (s, FALSE);
}

/* Issue 18, point 15: the source and the position are the last two
 * fields, with column ids of their own; a record copies them and says
 * where the frame is as a person reads it. */
static void
test_source (void)
{
  const GstVssRecordField *src =
      gst_vss_record_find_field (GST_VSS_RECORD_FIELD_SOURCE);
  const GstVssRecordField *pos =
      gst_vss_record_find_field (GST_VSS_RECORD_FIELD_POSITION);
  GstVssRecord a, b;
  gchar *s;

  g_assert_nonnull (src);
  g_assert_nonnull (pos);
  g_assert_cmpstr (src->name, ==, "source");
  g_assert_cmpstr (src->column, ==, "source");
  g_assert_cmpuint (src->column_id, ==, 10);
  g_assert_cmpstr (src->column_type, ==, "string");
  g_assert_true (src->optional);
  g_assert_cmpint (src->indexing, ==, GST_VSS_RECORD_INDEX_NONE);
  g_assert_cmpstr (pos->name, ==, "position");
  g_assert_cmpstr (pos->column, ==, "position_ms");
  g_assert_cmpuint (pos->column_id, ==, 11);
  g_assert_cmpstr (pos->column_type, ==, "long");
  g_assert_true (pos->optional);
  g_assert_cmpint (pos->indexing, ==, GST_VSS_RECORD_INDEX_NONE);

  fill (&a);
  gst_vss_record_copy_into (&b, &a);
  g_assert_cmpstr (b.source, ==, "clip é.mkv");
  g_assert_true (b.source != a.source);
  g_assert_cmpint (b.position_ms, ==, 54321);
  s = gst_vss_record_format_source (&b);
  g_assert_cmpstr (s, ==, "clip é.mkv @ 00:54");
  g_free (s);
  b.position_ms = -1;
  s = gst_vss_record_format_source (&b);
  g_assert_cmpstr (s, ==, "clip é.mkv");
  g_free (s);
  g_clear_pointer (&b.source, g_free);
  b.position_ms = 1000;
  s = gst_vss_record_format_source (&b);
  g_assert_cmpstr (s, ==, "");
  g_free (s);
  gst_vss_record_clear (&b);
  gst_vss_record_clear (&a);
  gst_vss_record_init (&a);
  g_assert_null (a.source);
  g_assert_cmpint (a.position_ms, ==, -1);

  s = gst_vss_record_format_position (0);
  g_assert_cmpstr (s, ==, "00:00");
  g_free (s);
  s = gst_vss_record_format_position (725999);
  g_assert_cmpstr (s, ==, "12:05");
  g_free (s);
  s = gst_vss_record_format_position (3723000);
  g_assert_cmpstr (s, ==, "1:02:03");
  g_free (s);
  s = gst_vss_record_format_position (-1);
  g_assert_cmpstr (s, ==, "");
  g_free (s);
}

static void
test_valkey (void)
{
  VssValkeyIndexSpec spec = { 0, };
  g_autoptr (VssValkeyArgs) a = NULL;
  g_autoptr (VssValkeyPipeline) p = vss_valkey_pipeline_new ();
  GstVssRecord r;
  gchar *s;

  vss_valkey_record_index_spec (&spec, "frames", "frame:", 111);
  spec.algorithm = VSS_VALKEY_ALGORITHM_HNSW;
  a = vss_valkey_index_create_args (&spec, NULL);
  g_assert_nonnull (a);
  s = args_to_string (a);
  g_assert_true (g_str_has_prefix (s,
          "FT.CREATE frames ON HASH PREFIX 1 frame: SCHEMA vector VECTOR HNSW"));
  g_assert_nonnull (strstr (s, "TYPE FLOAT32 DIM 111 DISTANCE_METRIC COSINE"));
  g_assert_true (g_str_has_suffix (s, "stream TAG ts NUMERIC"));
  g_free (s);

  fill (&r);
  g_assert_cmpuint (vss_valkey_record_append (p, "frame:cam1:" ID, &r, 0),
      ==, 1);
  g_assert_cmpuint (vss_valkey_record_append (p, "frame:cam1:" ID, &r, 60),
      ==, 2);
  g_assert_cmpuint (vss_valkey_pipeline_get_length (p), ==, 3);
  gst_vss_record_clear (&r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/record/schema", test_schema);
  g_test_add_func ("/record/names", test_names);
  g_test_add_func ("/record/round-trip", test_round_trip);
  g_test_add_func ("/record/source", test_source);
  g_test_add_func ("/record/valkey", test_valkey);
  return g_test_run ();
}
