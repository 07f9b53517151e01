/* gst-vss: vector-search helpers (valkey-search 1.0 subset)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "gstvssvalkeyclient.h"

G_BEGIN_DECLS

typedef enum
{
  VSS_VALKEY_METRIC_COSINE,
  VSS_VALKEY_METRIC_L2,
  VSS_VALKEY_METRIC_IP,
} VssValkeyMetric;

typedef enum
{
  VSS_VALKEY_ALGORITHM_HNSW,
  VSS_VALKEY_ALGORITHM_FLAT,
} VssValkeyAlgorithm;

/**
 * VssValkeyIndexSpec:
 * @m, @ef_construction: HNSW parameters; 0 leaves the server's default.
 * @tag_fields, @numeric_fields: (nullable): NULL-terminated field names.
 *
 * The index a pipeline needs: `FT.CREATE <name> ON HASH PREFIX 1 <prefix>
 * SCHEMA <vector_field> VECTOR ... <tag> TAG ... <numeric> NUMERIC ...`.
 */
typedef struct
{
  const gchar *name;
  const gchar *prefix;
  const gchar *vector_field;
  guint dim;
  VssValkeyMetric metric;
  VssValkeyAlgorithm algorithm;
  guint m;
  guint ef_construction;
  const gchar *const *tag_fields;
  const gchar *const *numeric_fields;
} VssValkeyIndexSpec;

/* What FT.INFO says about an index, in both valkey-search and RediSearch
 * shapes. */
typedef struct
{
  gchar *name;
  gchar **prefixes;
  gchar *vector_field;          /* NULL when the index has no vector */
  guint dim;
  gchar *metric;                /* as the server spells it */
  guint64 num_docs;
  gchar *state;                 /* NULL when the server does not say */
} VssValkeyIndexInfo;

typedef struct
{
  const gchar *field;
  const gchar *const *values;   /* NULL-terminated; any of them matches */
  gboolean negate;              /* match documents with none of them */
} VssValkeyTagFilter;

typedef struct
{
  const gchar *field;
  gdouble min;                  /* -INFINITY for no lower bound */
  gdouble max;                  /* INFINITY for no upper bound */
  gboolean min_exclusive;
  gboolean max_exclusive;
} VssValkeyNumericFilter;

/**
 * VssValkeyKnnQuery:
 * @vector: @dim floats, sent as little-endian float32.
 * @ef_runtime: 0 leaves the server's default.
 * @return_fields: (nullable): NULL-terminated; NULL returns every field.
 * @nocontent: keys only (no scores either: not usable with fan-out).
 * @timeout_ms: 0 leaves the server's default.
 *
 * A KNN query; filters are ANDed, the values of one tag filter ORed.
 */
typedef struct
{
  const gchar *index;
  const gchar *vector_field;
  const gfloat *vector;
  guint dim;
  guint k;
  guint ef_runtime;
  const VssValkeyTagFilter *tags;
  guint n_tags;
  const VssValkeyNumericFilter *ranges;
  guint n_ranges;
  const gchar *const *return_fields;
  gboolean nocontent;
  guint timeout_ms;
} VssValkeyKnnQuery;

/* A command as arguments: argv[i] holds argvlen[i] bytes. */
typedef struct
{
  gint argc;
  gchar **argv;
  gsize *argvlen;
} VssValkeyArgs;

typedef struct
{
  gchar *key;
  gdouble score;                /* distance, ascending; NAN with nocontent */
  GHashTable *fields;           /* name → GBytes (NUL after the data) */
} VssValkeyHit;

/* The name given to the KNN distance with `AS`. */
#define VSS_VALKEY_SCORE_FIELD "score"

/* Pure helpers */

gchar *vss_valkey_escape_tag (const gchar * value);

const gchar *vss_valkey_metric_to_string (VssValkeyMetric metric);

VssValkeyArgs *vss_valkey_index_create_args (const VssValkeyIndexSpec * spec,
    GError ** error);

VssValkeyArgs *vss_valkey_knn_args (const VssValkeyKnnQuery * query,
    GError ** error);

void vss_valkey_args_free (VssValkeyArgs * args);

VssValkeyIndexInfo *vss_valkey_index_info_parse (const VssValkeyReply * reply,
    GError ** error);

void vss_valkey_index_info_free (VssValkeyIndexInfo * info);

gboolean vss_valkey_index_info_check (const VssValkeyIndexInfo * info,
    const VssValkeyIndexSpec * spec, GError ** error);

GPtrArray *vss_valkey_knn_parse (const VssValkeyReply * reply,
    gboolean nocontent, GError ** error);

GPtrArray *vss_valkey_knn_merge (GPtrArray ** per_node, guint n_nodes,
    guint k);

void vss_valkey_hit_free (VssValkeyHit * hit);

/* With a client */

gboolean vss_valkey_ensure_index (VssValkeyClient * client,
    const VssValkeyIndexSpec * spec, gboolean fanout,
    GCancellable * cancellable, GError ** error);

GPtrArray *vss_valkey_knn_search (VssValkeyClient * client,
    const VssValkeyKnnQuery * query, gboolean fanout,
    GCancellable * cancellable, GError ** error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VssValkeyArgs, vss_valkey_args_free);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VssValkeyIndexInfo, vss_valkey_index_info_free);

G_END_DECLS
