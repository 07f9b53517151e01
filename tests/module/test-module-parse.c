/* gst-vss tests: the Valkey module's pure parts: FT.CREATE and FT.SEARCH
 * parsing, the filter grammar and its evaluation, and the document table.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Tables of command lines: words separated by spaces, 'single quotes'
 * around a word with spaces, and VEC standing for an 8-byte query vector
 * (DIM 2).
 */
#include <math.h>
#include <string.h>
#include <glib.h>
#include "vss-ft.h"
#include "vss-docs.h"

static const char vec8[8] = { 0, 0, (char) 0x80, 0x3f, 0, 0, 0, 0 };

/* Splits a command line; the returned args point into the returned strv. */
static vss_ft_arg *
split (const gchar * line, gint * argc, gchar *** keep)
{
  GPtrArray *words = g_ptr_array_new ();
  const gchar *p = line;
  vss_ft_arg *a;

  while (*p) {
    const gchar *start;
    while (*p == ' ')
      p++;
    if (!*p)
      break;
    if (*p == '\'') {
      start = ++p;
      while (*p && *p != '\'')
        p++;
      g_ptr_array_add (words, g_strndup (start, p - start));
      if (*p)
        p++;
    } else {
      start = p;
      while (*p && *p != ' ')
        p++;
      g_ptr_array_add (words, g_strndup (start, p - start));
    }
  }
  g_ptr_array_add (words, NULL);
  *keep = (gchar **) g_ptr_array_free (words, FALSE);
  *argc = (gint) g_strv_length (*keep);
  a = g_new0 (vss_ft_arg, *argc + 1);
  for (gint i = 0; i < *argc; i++) {
    if (!strcmp ((*keep)[i], "VEC")) {
      a[i].ptr = vec8;
      a[i].len = sizeof vec8;
    } else {
      a[i].ptr = (*keep)[i];
      a[i].len = strlen ((*keep)[i]);
    }
  }
  return a;
}

typedef struct
{
  const gchar *line;
  const gchar *error;           /* NULL: must parse; else part of the message */
} Case;

static const Case create_cases[] = {
  {"idx SCHEMA v VECTOR HNSW 6 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2", NULL},
  {"idx ON HASH PREFIX 2 a: b: SCHEMA v AS vec VECTOR FLAT 6 TYPE float32 "
        "DIM 1 DISTANCE_METRIC cosine t TAG SEPARATOR ; CASESENSITIVE "
        "n NUMERIC", NULL},
  {"idx SCHEMA v VECTOR HNSW 14 TYPE FLOAT32 DIM 32767 DISTANCE_METRIC IP "
        "M 64 EF_CONSTRUCTION 4096 EF_RUNTIME 4096 INITIAL_CAP 5", NULL},
  {"idx ON JSON SCHEMA v VECTOR HNSW 6 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2",
      "JSON"},
  {"idx ON SET SCHEMA v VECTOR HNSW 6 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2",
      "data type"},
  {"idx SCHEMA v VECTOR HNSW 6 TYPE FLOAT32 DIM 32768 DISTANCE_METRIC L2",
      "DIM"},
  {"idx SCHEMA v VECTOR HNSW 6 TYPE FLOAT32 DIM 0 DISTANCE_METRIC L2", "DIM"},
  {"idx SCHEMA v VECTOR HNSW 6 TYPE FLOAT32 DIM -1 DISTANCE_METRIC L2",
      "DIM"},
  {"idx SCHEMA v VECTOR HNSW 6 TYPE FLOAT32 DIM 4x DISTANCE_METRIC L2",
      "DIM"},
  {"idx SCHEMA v VECTOR HNSW 8 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 "
        "EF_RUNTIME 4097", "EF_RUNTIME"},
  {"idx SCHEMA v VECTOR HNSW 8 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 "
        "EF_CONSTRUCTION 0", "EF_CONSTRUCTION"},
  {"idx SCHEMA v VECTOR FLAT 8 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 M 8",
      "HNSW only"},
  {"idx SCHEMA v VECTOR HNSW 5 TYPE FLOAT32 DIM 4 DISTANCE_METRIC", "even"},
  {"idx SCHEMA v VECTOR HNSW 8 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2",
      "only 6"},
  {"idx SCHEMA v VECTOR HNSW 4 TYPE FLOAT32 DIM 4", "DISTANCE_METRIC"},
  {"idx SCHEMA v VECTOR HNSW 6 TYPE FLOAT16 DIM 4 DISTANCE_METRIC L2",
      "FLOAT32"},
  {"idx SCHEMA v VECTOR IVF 6 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2",
      "algorithm"},
  {"idx SCHEMA v VECTOR HNSW 6 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L1",
      "DISTANCE_METRIC"},
  {"idx SCHEMA t TAG n NUMERIC", "VECTOR field"},
  {"idx SCHEMA t TEXT", "TEXT"},
  {"idx SCHEMA t GEO", "GEO"},
  {"idx SCHEMA t BLOB", "Unknown field type"},
  {"idx SCHEMA t", "Missing type"},
  {"idx SCHEMA", "no fields"},
  {"idx", "SCHEMA"},
  {"i{x} SCHEMA v VECTOR HNSW 6 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2",
      "hash tag"},
  {"idx PREFIX 1 {a} SCHEMA v VECTOR HNSW 6 TYPE FLOAT32 DIM 4 "
        "DISTANCE_METRIC L2", "hash tag"},
  {"idx PREFIX 5 a b SCHEMA", "PREFIX"},
  {"idx PREFIX 0 SCHEMA v VECTOR HNSW 6 TYPE FLOAT32 DIM 4 "
        "DISTANCE_METRIC L2", "PREFIX"},
  {"idx BOGUS SCHEMA v VECTOR HNSW 6 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2",
      "BOGUS"},
  {"idx SCHEMA v VECTOR HNSW 6 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 v TAG",
      "Duplicate"},
  {"idx SCHEMA v VECTOR HNSW 6 TYPE FLOAT32 DIM 4 DISTANCE_METRIC L2 t TAG "
        "SEPARATOR ab", "SEPARATOR"},
  {"idx SCHEMA v AS", "alias"},
};

static void
test_create (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (create_cases); i++) {
    const Case *c = &create_cases[i];
    gchar **keep;
    gint argc;
    vss_ft_arg *a = split (c->line, &argc, &keep);
    vss_ft_schema *s = NULL;
    char err[VSS_FT_ERRLEN] = "";
    int ret = vss_ft_create_parse (a, argc, &s, err, sizeof err);

    if (c->error == NULL) {
      if (ret != 0)
        g_error ("'%s' refused: %s", c->line, err);
      g_assert_nonnull (s);
      g_assert_cmpint (s->n_args, ==, argc);
    } else {
      if (ret == 0)
        g_error ("'%s' accepted, expected an error with '%s'", c->line,
            c->error);
      g_assert_null (s);
      if (!strstr (err, c->error))
        g_error ("'%s': error '%s' lacks '%s'", c->line, err, c->error);
    }
    vss_ft_schema_free (s);
    g_free (a);
    g_strfreev (keep);
  }
}

static void
test_create_fields (void)
{
  gchar **keep;
  gint argc;
  vss_ft_arg *a = split (create_cases[1].line, &argc, &keep);
  vss_ft_schema *s = NULL;
  char err[VSS_FT_ERRLEN];

  g_assert_cmpint (vss_ft_create_parse (a, argc, &s, err, sizeof err), ==, 0);
  g_assert_cmpstr (s->name, ==, "idx");
  g_assert_cmpuint (s->n_prefixes, ==, 2);
  g_assert_cmpstr (s->prefixes[1], ==, "b:");
  g_assert_cmpuint (s->n_fields, ==, 3);
  g_assert_cmpstr (s->fields[0].identifier, ==, "v");
  g_assert_cmpstr (s->fields[0].alias, ==, "vec");
  g_assert_cmpint (s->fields[0].algorithm, ==, VSS_INDEX_FLAT);
  g_assert_cmpint (s->fields[0].metric, ==, VSS_METRIC_COSINE);
  g_assert_cmpuint (s->fields[0].dim, ==, 1);
  g_assert_cmpint (s->fields[1].type, ==, VSS_FT_TAG);
  g_assert_cmpint (s->fields[1].separator, ==, ';');
  g_assert_true (s->fields[1].case_sensitive);
  g_assert_cmpint (s->fields[2].type, ==, VSS_FT_NUMERIC);
  g_assert_cmpint (vss_ft_schema_find (s, "vec", 3), ==, 0);
  g_assert_cmpint (vss_ft_schema_find (s, "v", 1), ==, -1);
  g_assert_true (vss_ft_schema_matches_key (s, "b:1", 3));
  g_assert_false (vss_ft_schema_matches_key (s, "c:1", 3));
  g_assert_false (vss_ft_schema_matches_key (s, "b", 1));
  vss_ft_schema_free (s);
  g_free (a);
  g_strfreev (keep);

  /* Defaults. */
  a = split (create_cases[0].line, &argc, &keep);
  g_assert_cmpint (vss_ft_create_parse (a, argc, &s, err, sizeof err), ==, 0);
  g_assert_cmpuint (s->fields[0].m, ==, 16);
  g_assert_cmpuint (s->fields[0].ef_construction, ==, 200);
  g_assert_cmpuint (s->fields[0].ef_runtime, ==, 10);
  g_assert_cmpuint (s->fields[0].initial_cap, ==, 10240);
  g_assert_cmpuint (s->n_prefixes, ==, 0);
  g_assert_true (vss_ft_schema_matches_key (s, "anything", 8));
  vss_ft_schema_free (s);
  g_free (a);
  g_strfreev (keep);
}

/* Against the schema below. */
#define SCHEMA "idx SCHEMA v VECTOR HNSW 6 TYPE FLOAT32 DIM 2 " \
  "DISTANCE_METRIC L2 t TAG n NUMERIC c TAG CASESENSITIVE"

static const Case search_cases[] = {
  {"idx '*=>[KNN 3 @v $q]' PARAMS 2 q VEC", NULL},
  {"idx '*=>[KNN 3 @v $q AS score]' PARAMS 2 q VEC RETURN 1 score LIMIT 0 3 "
        "TIMEOUT 100 DIALECT 2", NULL},
  {"idx '(@t:{a | b} @n:[1 (5])=>[KNN 3 @v $q EF_RUNTIME 64 AS s]' PARAMS 2 "
        "q VEC NOCONTENT", NULL},
  {"idx '@t:{a} | -@n:[-inf +inf] ( @c:{X\\ Y} )=>[ KNN $k @v $q ]' "
        "PARAMS 4 q VEC k 2", NULL},
  {"idx '@n:[$lo $hi]=>[KNN 1 @v $q]' PARAMS 6 q VEC lo 1 hi 2", NULL},
  {"idx '@t:{pre*}=>[KNN 1 @v $q]' PARAMS 2 q VEC", NULL},
  {"idx '*=>[KNN 1 @v $q]' PARAMS 2 q VEC RETURN 4 t AS tag n", NULL},
  {"idx '*'", "KNN"},
  {"idx '@t:{a}' PARAMS 2 q VEC", "KNN"},
  {"idx '=>[KNN 1 @v $q]' PARAMS 2 q VEC", "filter"},
  {"idx '*=>[KNN 0 @v $q]' PARAMS 2 q VEC", "KNN count"},
  {"idx '*=>[KNN 10001 @v $q]' PARAMS 2 q VEC", "KNN count"},
  {"idx '*=>[KNN 1 @v $q EF_RUNTIME 4097]' PARAMS 2 q VEC", "EF_RUNTIME"},
  {"idx '*=>[KNN 1 @v $q]' PARAMS 4 q VEC x 1", "not used"},
  {"idx '*=>[KNN 1 @v $r]' PARAMS 2 q VEC", "not defined"},
  {"idx '*=>[KNN 1 @v $q]' PARAMS 3 q VEC", "even"},
  {"idx '*=>[KNN 1 @v $q]' PARAMS 4 q VEC q VEC", "twice"},
  {"idx '*=>[KNN 1 @v $q] extra' PARAMS 2 q VEC", "follow"},
  {"idx '*=>[KNN 1 @v $q BOGUS 1]' PARAMS 2 q VEC", "KNN clause"},
  {"idx '*=>[KNN 1 @v $q' PARAMS 2 q VEC", "]"},
  {"idx '(@t:{a}=>[KNN 1 @v $q]' PARAMS 2 q VEC", ")"},
  {"idx '@t:{a})=>[KNN 1 @v $q]' PARAMS 2 q VEC", ")"},
  {"idx '@t:{a=>[KNN 1 @v $q]' PARAMS 2 q VEC", "}"},
  {"idx '@t:{}=>[KNN 1 @v $q]' PARAMS 2 q VEC", "empty tag"},
  {"idx '@n:[5 1]=>[KNN 1 @v $q]' PARAMS 2 q VEC", "empty"},
  {"idx '@n:[a 1]=>[KNN 1 @v $q]' PARAMS 2 q VEC", "numeric"},
  {"idx '@n:[nan 1]=>[KNN 1 @v $q]' PARAMS 2 q VEC", "numeric"},
  {"idx '@n:[1]=>[KNN 1 @v $q]' PARAMS 2 q VEC", "bound"},
  {"idx '@n 1=>[KNN 1 @v $q]' PARAMS 2 q VEC", ":"},
  {"idx 'hello=>[KNN 1 @v $q]' PARAMS 2 q VEC", "text search"},
  {"idx '@t:{a} ||=>[KNN 1 @v $q]' PARAMS 2 q VEC", "expression"},
  {"idx '*=>[KNN 1 @v $q]' PARAMS 2 q VEC LIMIT 0", "LIMIT"},
  {"idx '*=>[KNN 1 @v $q]' PARAMS 2 q VEC TIMEOUT 60001", "TIMEOUT"},
  {"idx '*=>[KNN 1 @v $q]' PARAMS 2 q VEC DIALECT 1", "DIALECT"},
  {"idx '*=>[KNN 1 @v $q]' PARAMS 2 q VEC RETURN 2 t", "RETURN"},
  {"idx '*=>[KNN 1 @v $q]' PARAMS 2 q VEC WITHSCORES", "WITHSCORES"},
  {"idx '*=>[KNN 1 @v $q]' PARAMS 2 q VEC SORTBY n", "SORTBY"},
  {"idx", "arguments"},
};

/* Errors found when binding to SCHEMA. */
static const Case bind_cases[] = {
  {"idx '*=>[KNN 1 @v $q]' PARAMS 2 q VEC", NULL},
  {"idx '*=>[KNN 1 @x $q]' PARAMS 2 q VEC", "not a field"},
  {"idx '*=>[KNN 1 @t $q]' PARAMS 2 q VEC", "not a VECTOR"},
  {"idx '*=>[KNN 1 @v $q]' PARAMS 2 q short", "size"},
  {"idx '@n:{a}=>[KNN 1 @v $q]' PARAMS 2 q VEC", "not a TAG"},
  {"idx '@t:[1 2]=>[KNN 1 @v $q]' PARAMS 2 q VEC", "not a NUMERIC"},
  {"idx '@z:[1 2]=>[KNN 1 @v $q]' PARAMS 2 q VEC", "not a field"},
};

static vss_ft_schema *
schema (void)
{
  gchar **keep;
  gint argc;
  vss_ft_arg *a = split (SCHEMA, &argc, &keep);
  vss_ft_schema *s = NULL;
  char err[VSS_FT_ERRLEN];

  g_assert_cmpint (vss_ft_create_parse (a, argc, &s, err, sizeof err), ==, 0);
  g_free (a);
  g_strfreev (keep);
  return s;
}

static void
run_search_cases (const Case * cases, guint n, gboolean bind)
{
  vss_ft_schema *s = schema ();

  for (guint i = 0; i < n; i++) {
    const Case *c = &cases[i];
    gchar **keep;
    gint argc;
    vss_ft_arg *a = split (c->line, &argc, &keep);
    vss_ft_query *q = NULL;
    char err[VSS_FT_ERRLEN] = "";
    int ret = vss_ft_search_parse (a, argc, &q, err, sizeof err);

    if (bind && ret == 0)
      ret = vss_ft_query_bind (q, s, err, sizeof err);
    if (c->error == NULL) {
      if (ret != 0)
        g_error ("'%s' refused: %s", c->line, err);
    } else {
      if (ret == 0)
        g_error ("'%s' accepted, expected an error with '%s'", c->line,
            c->error);
      if (!strstr (err, c->error))
        g_error ("'%s': error '%s' lacks '%s'", c->line, err, c->error);
    }
    vss_ft_query_free (q);
    g_free (a);
    g_strfreev (keep);
  }
  vss_ft_schema_free (s);
}

static void
test_search (void)
{
  run_search_cases (search_cases, G_N_ELEMENTS (search_cases), FALSE);
  run_search_cases (bind_cases, G_N_ELEMENTS (bind_cases), TRUE);
}

static vss_ft_query *
parse_bound (vss_ft_schema * s, const gchar * line)
{
  gchar **keep;
  gint argc;
  vss_ft_arg *a = split (line, &argc, &keep);
  vss_ft_query *q = NULL;
  char err[VSS_FT_ERRLEN] = "";

  if (vss_ft_search_parse (a, argc, &q, err, sizeof err) != 0
      || vss_ft_query_bind (q, s, err, sizeof err) != 0)
    g_error ("'%s': %s", line, err);
  g_free (a);
  g_strfreev (keep);
  return q;
}

static void
test_search_fields (void)
{
  vss_ft_schema *s = schema ();
  vss_ft_query *q = parse_bound (s, "idx '*=>[KNN 3 @v $q EF_RUNTIME 77]' "
      "PARAMS 2 q VEC RETURN 4 t AS tag n LIMIT 1 2 TIMEOUT 9 NOCONTENT");

  g_assert_null (q->filter);
  g_assert_cmpuint (q->k, ==, 3);
  g_assert_cmpuint (q->ef_runtime, ==, 77);
  g_assert_cmpstr (q->score_alias, ==, "__v_score");
  g_assert_cmpint (q->vector_field_index, ==, 0);
  g_assert_true (q->vec == vec8);
  g_assert_cmpuint (q->vec_len, ==, 8);
  g_assert_true (q->has_return);
  g_assert_cmpuint (q->n_ret, ==, 2);
  g_assert_cmpstr (q->ret[0].name, ==, "t");
  g_assert_cmpstr (q->ret[0].alias, ==, "tag");
  g_assert_cmpstr (q->ret[1].alias, ==, "n");
  g_assert_cmpuint (q->limit_offset, ==, 1);
  g_assert_cmpuint (q->limit_num, ==, 2);
  g_assert_cmpuint (q->timeout_ms, ==, 9);
  g_assert_true (q->nocontent);
  vss_ft_query_free (q);

  q = parse_bound (s, "idx '*=>[KNN 3 @v $q]' PARAMS 2 q VEC");
  g_assert_cmpuint (q->limit_num, ==, 10);
  g_assert_cmpuint (q->timeout_ms, ==, 50000);
  g_assert_cmpuint (q->ef_runtime, ==, 0);
  vss_ft_query_free (q);
  vss_ft_schema_free (s);
}

typedef struct
{
  const gchar *filter;
  const gchar *t;               /* NULL: field absent */
  const gchar *n;
  const gchar *c;
  gboolean expect;
} EvalCase;

static const EvalCase eval_cases[] = {
  {"@t:{a}", "a", NULL, NULL, TRUE},
  {"@t:{a}", "A", NULL, NULL, TRUE},    /* case-insensitive field */
  {"@t:{A}", "a", NULL, NULL, TRUE},
  {"@t:{a}", "b,a", NULL, NULL, TRUE},
  {"@t:{a}", " b , a ", NULL, NULL, TRUE},
  {"@t:{a}", "ab", NULL, NULL, FALSE},
  {"@t:{a}", NULL, NULL, NULL, FALSE},
  {"@t:{a | b}", "b", NULL, NULL, TRUE},
  {"@t:{a|c}", "b", NULL, NULL, FALSE},
  {"@t:{ab*}", "abc", NULL, NULL, TRUE},
  {"@t:{ab*}", "a", NULL, NULL, FALSE},
  {"@t:{a\\ b}", "a b", NULL, NULL, TRUE},
  {"@t:{a\\,b}", "a,b", NULL, NULL, FALSE},   /* the value splits at ',' */
  {"@t:{a\\*}", "a*", NULL, NULL, TRUE},
  {"@t:{a\\*}", "ab", NULL, NULL, FALSE},
  {"@c:{X}", NULL, NULL, "X", TRUE},
  {"@c:{x}", NULL, NULL, "X", FALSE},   /* CASESENSITIVE */
  {"@n:[1 5]", NULL, "1", NULL, TRUE},
  {"@n:[1 5]", NULL, "5", NULL, TRUE},
  {"@n:[(1 5]", NULL, "1", NULL, FALSE},
  {"@n:[1 (5]", NULL, "5", NULL, FALSE},
  {"@n:[1 (5]", NULL, "4.999", NULL, TRUE},
  {"@n:[-inf 0]", NULL, "-1e300", NULL, TRUE},
  {"@n:[0 +inf]", NULL, "1e300", NULL, TRUE},
  {"@n:[-inf +inf]", NULL, NULL, NULL, FALSE},
  {"@n:[-inf +inf]", NULL, "notanumber", NULL, FALSE},
  {"@n:[1.5 1.5]", NULL, " 1.5 ", NULL, TRUE},
  {"-@t:{a}", "a", NULL, NULL, FALSE},
  {"-@t:{a}", "b", NULL, NULL, TRUE},
  {"-@t:{a}", NULL, NULL, NULL, TRUE},
  {"--@t:{a}", "a", NULL, NULL, TRUE},
  {"@t:{a} @n:[1 2]", "a", "3", NULL, FALSE},
  {"@t:{a} @n:[1 2]", "a", "2", NULL, TRUE},
  {"@t:{a} @n:[1 2] @c:{Z}", "a", "2", "Z", TRUE},
  {"@t:{a} @n:[1 2] @c:{Z}", "a", "2", "Y", FALSE},
  {"@t:{x} | @n:[1 2]", "a", "2", NULL, TRUE},
  /* AND binds tighter than OR (dialect 2). */
  {"@t:{x} @n:[1 2] | @c:{Z}", "a", "9", "Z", TRUE},
  {"@t:{x} (@n:[1 2] | @c:{Z})", "a", "9", "Z", FALSE},
  {"-(@t:{a} | @t:{b})", "c", NULL, NULL, TRUE},
  {"-(@t:{a} | @t:{b})", "b", NULL, NULL, FALSE},
  {"((((@t:{a}))))", "a", NULL, NULL, TRUE},
  {"* @t:{a}", "a", NULL, NULL, TRUE},
  {"*", NULL, NULL, NULL, TRUE},
};

static void
test_eval (void)
{
  vss_ft_schema *s = schema ();

  for (guint i = 0; i < G_N_ELEMENTS (eval_cases); i++) {
    const EvalCase *c = &eval_cases[i];
    gchar *line = g_strdup_printf ("idx '%s=>[KNN 1 @v $q]' PARAMS 2 q VEC",
        c->filter);
    vss_ft_query *q = parse_bound (s, line);
    vss_ft_attrs *a = vss_ft_attrs_new (s->n_fields);

    if (c->t)
      g_assert_cmpint (vss_ft_attrs_set_tags (a, 1, c->t, strlen (c->t), ',',
              0), ==, 0);
    if (c->n)
      vss_ft_attrs_set_num (a, 2, c->n, strlen (c->n));
    if (c->c)
      vss_ft_attrs_set_tags (a, 3, c->c, strlen (c->c), ',', 1);
    if (!vss_ft_filter_eval (q->filter, a) != !c->expect)
      g_error ("'%s' on t=%s n=%s c=%s: expected %d", c->filter, c->t, c->n,
          c->c, c->expect);
    vss_ft_attrs_free (a);
    vss_ft_query_free (q);
    g_free (line);
  }
  vss_ft_schema_free (s);
}

static void
test_deep_nesting (void)
{
  vss_ft_schema *s = schema ();
  GString *f = g_string_new ("idx '");
  gchar **keep;
  gint argc;
  vss_ft_arg *a;
  vss_ft_query *q = NULL;
  char err[VSS_FT_ERRLEN] = "";

  for (guint i = 0; i < 100000; i++)
    g_string_append_c (f, '(');
  g_string_append (f, "@t:{a}=>[KNN 1 @v $q]' PARAMS 2 q VEC");
  a = split (f->str, &argc, &keep);
  g_assert_cmpint (vss_ft_search_parse (a, argc, &q, err, sizeof err), ==,
      -1);
  g_assert_nonnull (strstr (err, "nested"));
  g_free (a);
  g_strfreev (keep);
  g_string_free (f, TRUE);
  vss_ft_schema_free (s);
}

static void
test_tags_split (void)
{
  vss_ft_attrs *a = vss_ft_attrs_new (1);

  g_assert_cmpint (vss_ft_attrs_set_tags (a, 0, " Hello , ,World,", 16, ',',
          0), ==, 0);
  g_assert_cmpuint (a->tags[0].n, ==, 2);
  g_assert_cmpstr (a->tags[0].vals[0], ==, "hello");
  g_assert_cmpstr (a->tags[0].vals[1], ==, "world");
  g_assert_cmpint (vss_ft_attrs_set_tags (a, 0, "", 0, ',', 0), ==, 0);
  g_assert_cmpuint (a->tags[0].n, ==, 0);
  g_assert_cmpint (vss_ft_attrs_set_num (a, 0, "1e3", 3), ==, 0);
  g_assert_cmpfloat (a->nums[0], ==, 1000.0);
  g_assert_cmpint (vss_ft_attrs_set_num (a, 0, "0x10", 4), ==, -1);
  g_assert_false (a->has_num[0]);
  g_assert_cmpint (vss_ft_attrs_set_num (a, 0, "inf", 3), ==, 0);
  g_assert_true (isinf (a->nums[0]));
  g_assert_cmpint (vss_ft_attrs_set_tags (a, 5, "x", 1, ',', 0), ==, -1);
  vss_ft_attrs_free (a);
}

static void
test_docs (void)
{
  vss_docs *d = vss_docs_new ();
  const guint n = 20000;
  uint64_t id;

  for (guint i = 0; i < n; i++) {
    gchar *key = g_strdup_printf ("doc:%u", i);
    vss_doc *doc = vss_doc_new (key, strlen (key), 3);
    g_assert_cmpint (vss_docs_insert (d, doc, &id), ==, 0);
    g_assert_cmpuint (id, ==, i);
    g_free (key);
  }
  /* The same key twice is refused. */
  {
    vss_doc *dup = vss_doc_new ("doc:7", 5, 3);
    g_assert_cmpint (vss_docs_insert (d, dup, &id), ==, -1);
    vss_doc_free (dup);
  }
  g_assert_cmpuint (vss_docs_count (d), ==, n);
  g_assert_cmpint (vss_docs_lookup (d, "doc:123", 7), ==, 123);
  g_assert_cmpint (vss_docs_lookup (d, "doc:x", 5), ==, -1);
  /* Renumbering keeps the key, frees the old id. */
  g_assert_cmpint (vss_docs_renumber (d, 123, &id), ==, 0);
  g_assert_cmpuint (id, ==, n);
  g_assert_cmpint (vss_docs_lookup (d, "doc:123", 7), ==, n);
  g_assert_null (vss_docs_get (d, 123));
  g_assert_cmpstr (vss_docs_get (d, n)->key, ==, "doc:123");
  /* Remove every other one, then insert and remove many more (dead slots
   * must not fill the table). */
  for (guint i = 0; i < n; i += 2) {
    gchar *key = g_strdup_printf ("doc:%u", i);
    int64_t found = vss_docs_lookup (d, key, strlen (key));
    g_assert_cmpint (found, >=, 0);
    vss_doc_free (vss_docs_remove (d, (uint64_t) found));
    g_free (key);
  }
  g_assert_cmpuint (vss_docs_count (d), ==, n / 2);
  for (guint round = 0; round < 5; round++)
    for (guint i = 0; i < n; i++) {
      gchar *key = g_strdup_printf ("tmp:%u", i);
      vss_doc *doc = vss_doc_new (key, strlen (key), 1);
      g_assert_cmpint (vss_docs_insert (d, doc, &id), ==, 0);
      vss_doc_free (vss_docs_remove (d, id));
      g_free (key);
    }
  g_assert_cmpuint (vss_docs_count (d), ==, n / 2);
  for (guint i = 1; i < n; i += 2) {
    gchar *key = g_strdup_printf ("doc:%u", i);
    g_assert_cmpint (vss_docs_lookup (d, key, strlen (key)), >=, 0);
    g_free (key);
  }
  g_assert_null (vss_docs_remove (d, 0));
  vss_docs_free (d);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/module/parse/create", test_create);
  g_test_add_func ("/module/parse/create-fields", test_create_fields);
  g_test_add_func ("/module/parse/search", test_search);
  g_test_add_func ("/module/parse/search-fields", test_search_fields);
  g_test_add_func ("/module/parse/eval", test_eval);
  g_test_add_func ("/module/parse/deep-nesting", test_deep_nesting);
  g_test_add_func ("/module/parse/tags", test_tags_split);
  g_test_add_func ("/module/docs", test_docs);
  return g_test_run ();
}
