/* gst-vss Valkey module: FT.* command parsers and filter evaluation (pure C,
 * no server calls, so that they can be unit-tested and fuzzed).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Arguments arrive as (pointer, length) pairs: they may hold any byte,
 * including NUL (vectors in PARAMS). Every parser returns 0 and a new
 * object, or -1 with a message for the client in `err` (never a crash on
 * any input). Messages follow valkey-search's wording where it is known.
 */
#ifndef VSS_FT_H
#define VSS_FT_H

#include <stddef.h>
#include <stdint.h>
#include "vss-index.h"

#ifdef __cplusplus
extern "C" {
#endif

/* valkey-search 1.0 limits. */
#define VSS_FT_MAX_INDEXES 10
#define VSS_FT_MAX_FIELDS 50
#define VSS_FT_MAX_DIM 32767
#define VSS_FT_MAX_EF 4096
#define VSS_FT_MAX_M 512
#define VSS_FT_MAX_K 10000
#define VSS_FT_MAX_TIMEOUT_MS 60000
#define VSS_FT_DEFAULT_TIMEOUT_MS 50000
#define VSS_FT_DEFAULT_M 16
#define VSS_FT_DEFAULT_EF_CONSTRUCTION 200
#define VSS_FT_DEFAULT_EF_RUNTIME 10
#define VSS_FT_DEFAULT_INITIAL_CAP 10240
#define VSS_FT_ERRLEN 256

typedef struct {
  const char *ptr;
  size_t len;
} vss_ft_arg;

typedef enum {
  VSS_FT_VECTOR = 0,
  VSS_FT_TAG,
  VSS_FT_NUMERIC,
} vss_ft_type;

typedef struct {
  char *identifier; /* hash field name */
  char *alias;      /* name used in queries (AS), = identifier by default */
  vss_ft_type type;
  /* TAG */
  char separator;
  int case_sensitive;
  /* VECTOR */
  vss_index_kind algorithm;
  vss_metric metric;
  uint32_t dim;
  uint32_t m;
  uint32_t ef_construction;
  uint32_t ef_runtime;
  uint64_t initial_cap;
  uint64_t block_size;
} vss_ft_field;

typedef struct {
  char *name;
  char **prefixes; /* n_prefixes strings; none = every key */
  size_t n_prefixes;
  vss_ft_field *fields;
  size_t n_fields;
  /* The arguments after "FT.CREATE", kept to persist the definition. */
  vss_ft_arg *args;
  int n_args;
} vss_ft_schema;

/* argv: the arguments after "FT.CREATE" (index name first). */
int vss_ft_create_parse (const vss_ft_arg *argv, int argc, vss_ft_schema **out,
                         char *err, size_t errlen);
void vss_ft_schema_free (vss_ft_schema *s);
/* Index of the field whose alias (or, failing that, identifier) is `name`,
 * or -1. */
int vss_ft_schema_find (const vss_ft_schema *s, const char *name, size_t len);
/* Non-zero when `key` starts with one of the prefixes. */
int vss_ft_schema_matches_key (const vss_ft_schema *s, const char *key,
                               size_t len);

/* ---- Filter expressions ---- */

typedef enum {
  VSS_FT_NODE_ALL = 0,
  VSS_FT_NODE_TAG,
  VSS_FT_NODE_NUMERIC,
  VSS_FT_NODE_AND,
  VSS_FT_NODE_OR,
  VSS_FT_NODE_NOT,
} vss_ft_node_type;

typedef struct vss_ft_node vss_ft_node;
struct vss_ft_node {
  vss_ft_node_type type;
  char *field;     /* as written after '@' */
  int field_index; /* set by vss_ft_query_bind() */
  /* TAG: values ORed; a value ending in an unescaped '*' is a prefix. */
  char **tags;
  size_t *tag_lens;
  unsigned char *tag_prefix;
  size_t n_tags;
  /* NUMERIC */
  double lo, hi;
  int lo_excl, hi_excl;
  /* AND, OR, NOT */
  vss_ft_node **kids;
  size_t n_kids;
};

typedef struct {
  char *name;  /* the field as asked */
  char *alias; /* name in the reply */
} vss_ft_return;

typedef struct {
  char *index;
  vss_ft_node *filter; /* NULL for '*' */
  uint32_t k;
  char *vector_field;
  int vector_field_index; /* set by vss_ft_query_bind() */
  char *score_alias;      /* AS name, or "__<field>_score" */
  uint32_t ef_runtime;    /* 0 = the field's default */
  const char *vec;        /* points into argv: the PARAMS value */
  size_t vec_len;
  int has_return;
  vss_ft_return *ret;
  size_t n_ret;
  int nocontent;
  uint64_t limit_offset, limit_num;
  uint32_t timeout_ms;
  int dialect;
} vss_ft_query;

/* argv: the arguments after "FT.SEARCH" (index name first). The query keeps
 * pointers into argv (the vector), so argv must outlive it. */
int vss_ft_search_parse (const vss_ft_arg *argv, int argc, vss_ft_query **out,
                         char *err, size_t errlen);
void vss_ft_query_free (vss_ft_query *q);
/* Resolves field names against the schema and checks types, the vector
 * size and the filter. Lowercases tag values for case-insensitive fields. */
int vss_ft_query_bind (vss_ft_query *q, const vss_ft_schema *s, char *err,
                       size_t errlen);

/* ---- Document attributes, as the filter sees them ---- */

typedef struct {
  char **vals; /* normalised (trimmed, lowercased unless case-sensitive) */
  size_t *lens;
  size_t n;
} vss_ft_tagset;

/* One slot per schema field; only the slots of its type are used. */
typedef struct {
  size_t n_fields;
  double *nums;
  unsigned char *has_num;
  vss_ft_tagset *tags;
} vss_ft_attrs;

vss_ft_attrs *vss_ft_attrs_new (size_t n_fields);
void vss_ft_attrs_free (vss_ft_attrs *a);
/* Splits `s` at the field's separator; replaces what the slot held.
 * Returns 0, or -1 when out of memory. */
int vss_ft_attrs_set_tags (vss_ft_attrs *a, size_t field, const char *s,
                           size_t len, char sep, int case_sensitive);
/* Parses a NUMERIC value; returns 0, or -1 when it is not a number (the
 * slot is then empty). */
int vss_ft_attrs_set_num (vss_ft_attrs *a, size_t field, const char *s,
                          size_t len);
void vss_ft_attrs_clear (vss_ft_attrs *a, size_t field);

/* Non-zero when the attributes pass the (bound) filter; NULL passes all. */
int vss_ft_filter_eval (const vss_ft_node *n, const vss_ft_attrs *a);

/* Parses a decimal integer in [min, max]; 0 on success. */
int vss_ft_parse_u64 (const char *s, size_t len, uint64_t min, uint64_t max,
                      uint64_t *out);

#ifdef __cplusplus
}
#endif
#endif /* VSS_FT_H */
