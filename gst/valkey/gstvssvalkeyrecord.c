/* gst-vss: the frame record as a Valkey HASH and index
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The record's fields and index schema are core's (core/gstvssrecord.h);
 * this file only says how they travel: one HSET (plus EXPIRE with a TTL),
 * an FT.CREATE spec, and a search hit read back.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include "gstvssvalkeyrecord.h"

/**
 * vss_valkey_record_index_spec:
 *
 * Fills the name, prefix, vector field, dimension, metric (cosine) and the
 * TAG and NUMERIC fields of @spec from the frame record; the algorithm and
 * its parameters are left as they are. The strings must outlive @spec.
 */
void
vss_valkey_record_index_spec (VssValkeyIndexSpec * spec, const gchar * index,
    const gchar * key_prefix, guint dim)
{
  spec->name = index;
  spec->prefix = key_prefix;
  spec->vector_field = GST_VSS_RECORD_FIELD_VECTOR;
  spec->dim = dim;
  spec->metric = VSS_VALKEY_METRIC_COSINE;
  spec->tag_fields = gst_vss_record_tag_fields ();
  spec->numeric_fields = gst_vss_record_numeric_fields ();
}

#define MAX_ARGS (2 + 2 * GST_VSS_RECORD_N_FIELDS)

typedef struct
{
  const gchar *argv[MAX_ARGS];
  gsize argvlen[MAX_ARGS];
  gchar *copies[MAX_ARGS];
  gint argc;
} Args;

static void
add_value (const GstVssRecordField * f, const gchar * value, gsize len,
    gpointer user_data)
{
  Args *a = user_data;

  a->argv[a->argc] = f->name;
  a->argvlen[a->argc++] = strlen (f->name);
  /* Numbers are formatted in a buffer that the next field reuses: copy
   * them. Strings and the vector are the record's own. */
  if (f->type == GST_VSS_RECORD_TYPE_INT64
      || f->type == GST_VSS_RECORD_TYPE_DOUBLE)
    value = a->copies[a->argc] = g_strndup (value, len);
  a->argv[a->argc] = value;
  a->argvlen[a->argc++] = len;
}

/**
 * vss_valkey_record_append:
 * @ttl_s: 0, or the key's expiry in seconds
 *
 * Appends `HSET <key> <field> <value> ...` (and `EXPIRE <key> <ttl_s>`).
 *
 * Returns: the number of commands appended (1 or 2).
 */
guint
vss_valkey_record_append (VssValkeyPipeline * p, const gchar * key,
    const GstVssRecord * r, guint ttl_s)
{
  Args a = { 0, };
  gsize keylen = strlen (key);

  a.argv[0] = "HSET";
  a.argvlen[0] = 4;
  a.argv[1] = key;
  a.argvlen[1] = keylen;
  a.argc = 2;
  gst_vss_record_foreach_value (r, add_value, &a);
  vss_valkey_pipeline_append (p, key, keylen, 0, a.argc, a.argv, a.argvlen);
  for (gint i = 0; i < a.argc; i++)
    g_free (a.copies[i]);
  if (ttl_s == 0)
    return 1;
  {
    gchar ttl[16];
    const gchar *eargv[3] = { "EXPIRE", key, ttl };
    gsize elen[3] = { 6, keylen, 0 };

    elen[2] = g_snprintf (ttl, sizeof ttl, "%u", ttl_s);
    vss_valkey_pipeline_append (p, key, keylen, 0, 3, eargv, elen);
  }
  return 2;
}

static const gchar *
hit_field (const gchar * name, gpointer user_data)
{
  const VssValkeyHit *h = user_data;
  GBytes *b = h->fields ? g_hash_table_lookup (h->fields, name) : NULL;

  /* The values carry a NUL after the data. */
  return b ? g_bytes_get_data (b, NULL) : NULL;
}

/**
 * vss_valkey_record_from_hit:
 *
 * Fills @record (initialised here) from a search hit's fields.
 */
void
vss_valkey_record_from_hit (GstVssRecord * r, const VssValkeyHit * hit)
{
  gst_vss_record_parse (r, hit->key, hit_field, (gpointer) hit);
}
