/* gst-vss tests: vector-search helpers: query building, reply parsing
 * (valkey-search 1.0 and RediSearch shapes) and ensure-index / fan-out
 * against scripted servers.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>
#include <gio/gio.h>
#include "valkey/gstvssvalkeysearch.h"
#include "valkey/gstvssvalkeyresp.h"
#include "vss-fake-valkey.h"
#include "resp-build.h"

static const gchar *const tag_fields[] = { "stream", NULL };
static const gchar *const numeric_fields[] = { "ts", NULL };

static const VssValkeyIndexSpec frames_spec = {
  .name = "frames",
  .prefix = "frame:",
  .vector_field = "vector",
  .dim = 1024,
  .metric = VSS_VALKEY_METRIC_COSINE,
  .algorithm = VSS_VALKEY_ALGORITHM_HNSW,
  .m = 16,
  .ef_construction = 200,
  .tag_fields = tag_fields,
  .numeric_fields = numeric_fields,
};

static VssValkeyReply *
parse_owned (gchar * resp)
{
  VssValkeyReply *r = NULL;
  GError *err = NULL;
  gsize used = 0;
  gint ret = vss_valkey_resp_parse (resp, strlen (resp), &r, &used, &err);

  g_assert_no_error (err);
  g_assert_cmpint (ret, ==, 1);
  g_assert_cmpuint (used, ==, strlen (resp));
  g_free (resp);
  return r;
}

/* FT.INFO as valkey-search 1.0 answers it. */
static gchar *
valkey_search_info (guint dim, const gchar * metric, const gchar * prefix)
{
  return rb_map ("index_name", rb_str ("frames"),
      "index_options", rb_array (0),
      "index_definition", rb_map ("key_type", rb_str ("HASH"),
          "prefixes", rb_array (1, rb_str (prefix)),
          "default_score", rb_str ("1"), NULL),
      "attributes", rb_array (3,
          rb_map ("identifier", rb_str ("vector"),
              "attribute", rb_str ("vector"),
              "type", rb_str ("VECTOR"),
              "index", rb_map ("capacity", rb_int (10240),
                  "dimensions", rb_int (dim),
                  "distance_metric", rb_str (metric),
                  "size", rb_str ("0"),
                  "data_type", rb_str ("FLOAT32"),
                  "algorithm", rb_map ("name", rb_str ("HNSW"),
                      "m", rb_int (16), "ef_construction", rb_int (200),
                      "ef_runtime", rb_int (10), NULL), NULL), NULL),
          rb_map ("identifier", rb_str ("stream"),
              "attribute", rb_str ("stream"),
              "type", rb_str ("TAG"),
              "SEPARATOR", rb_str (","), NULL),
          rb_map ("identifier", rb_str ("ts"),
              "attribute", rb_str ("ts"),
              "type", rb_str ("NUMERIC"), NULL)),
      "num_docs", rb_str ("42"),
      "hash_indexing_failures", rb_str ("0"), "state", rb_str ("ready"), NULL);
}

/* FT.INFO as RediSearch 2.x answers it in RESP2. */
static gchar *
redisearch_info (void)
{
  return rb_map ("index_name", rb_str ("frames"),
      "index_options", rb_array (0),
      "index_definition", rb_map ("key_type", rb_str ("HASH"),
          "prefixes", rb_array (1, rb_str ("frame:")),
          "default_score", rb_str ("1"), NULL),
      "attributes", rb_array (2,
          rb_map ("identifier", rb_str ("vector"),
              "attribute", rb_str ("vector"),
              "type", rb_str ("VECTOR"),
              "algorithm", rb_str ("HNSW"),
              "data_type", rb_str ("FLOAT32"),
              "dim", rb_int (1024),
              "distance_metric", rb_str ("COSINE"),
              "M", rb_int (16), "ef_construction", rb_int (200), NULL),
          rb_map ("identifier", rb_str ("stream"),
              "attribute", rb_str ("stream"),
              "type", rb_str ("TAG"), "SEPARATOR", rb_str (","), NULL)),
      "num_docs", rb_str ("7"),
      "max_doc_id", rb_str ("7"), "indexing", rb_str ("0"), NULL);
}

static void
test_escape_tag (void)
{
  struct
  {
    const gchar *in, *out;
  } cases[] = {
    {"cam1", "cam1"},
    {"cam_1", "cam_1"},
    {"cam-1", "cam\\-1"},
    {"a b,c", "a\\ b\\,c"},
    {"{x}|y", "\\{x\\}\\|y"},
    {"@f:[1 2]", "\\@f\\:\\[1\\ 2\\]"},
    {"back\\slash", "back\\\\slash"},
    {"caméra", "cam\xc3\xa9ra"},
    {"\"q\"'", "\\\"q\\\"\\'"},
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    gchar *e = vss_valkey_escape_tag (cases[i].in);
    g_assert_cmpstr (e, ==, cases[i].out);
    g_free (e);
  }
}

static gchar *
join_args (const VssValkeyArgs * a, guint from, guint to)
{
  GString *s = g_string_new (NULL);

  for (guint i = from; i < to && i < (guint) a->argc; i++)
    g_string_append_printf (s, "%s%s", i > from ? " " : "", a->argv[i]);
  return g_string_free (s, FALSE);
}

static void
test_create_args (void)
{
  GError *err = NULL;
  VssValkeyArgs *a = vss_valkey_index_create_args (&frames_spec, &err);
  gchar *s;
  VssValkeyIndexSpec bad;

  g_assert_no_error (err);
  s = join_args (a, 0, a->argc);
  g_assert_cmpstr (s, ==, "FT.CREATE frames ON HASH PREFIX 1 frame: SCHEMA "
      "vector VECTOR HNSW 10 TYPE FLOAT32 DIM 1024 DISTANCE_METRIC COSINE "
      "M 16 EF_CONSTRUCTION 200 stream TAG ts NUMERIC");
  g_free (s);
  vss_valkey_args_free (a);

  bad = frames_spec;
  bad.m = 0;
  bad.ef_construction = 0;
  bad.algorithm = VSS_VALKEY_ALGORITHM_FLAT;
  bad.metric = VSS_VALKEY_METRIC_L2;
  a = vss_valkey_index_create_args (&bad, &err);
  s = join_args (a, 8, 18);
  g_assert_cmpstr (s, ==, "vector VECTOR FLAT 6 TYPE FLOAT32 DIM 1024 "
      "DISTANCE_METRIC L2");
  g_free (s);
  vss_valkey_args_free (a);

  /* Names that cannot be used safely are refused, not escaped. */
  {
    const gchar *bad_index[] = { "", "my index", "{frames}", "a\"b" };
    for (guint i = 0; i < G_N_ELEMENTS (bad_index); i++) {
      bad = frames_spec;
      bad.name = bad_index[i];
      g_assert_null (vss_valkey_index_create_args (&bad, &err));
      g_assert_error (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_INVALID_ARGUMENT);
      g_clear_error (&err);
    }
  }
  bad = frames_spec;
  bad.vector_field = "vec-tor";
  g_assert_null (vss_valkey_index_create_args (&bad, &err));
  g_assert_error (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_INVALID_ARGUMENT);
  g_clear_error (&err);
  bad = frames_spec;
  bad.dim = 40000;
  g_assert_null (vss_valkey_index_create_args (&bad, &err));
  g_assert_nonnull (strstr (err->message, "DIM"));
  g_clear_error (&err);
}

static void
test_knn_args (void)
{
  GError *err = NULL;
  gfloat vec[4] = { 1.0f, -2.5f, 0.0f, 3.25f };
  const gchar *cams[] = { "cam-1", "lobby cam", NULL };
  VssValkeyTagFilter tags[] = { {"stream", cams} };
  VssValkeyNumericFilter ranges[] = {
    {"ts", 1700000000000.0, INFINITY, FALSE, FALSE},
    {"pts", -INFINITY, 2.5, FALSE, TRUE},
  };
  const gchar *ret[] = { "stream", "ts", NULL };
  VssValkeyKnnQuery q = {
    .index = "frames",.vector_field = "vector",.vector = vec,.dim = 4,
    .k = 5,.ef_runtime = 64,.tags = tags,.n_tags = 1,.ranges = ranges,
    .n_ranges = 2,.return_fields = ret,.timeout_ms = 1500,
  };
  VssValkeyArgs *a = vss_valkey_knn_args (&q, &err);
  gchar *rest;

  g_assert_no_error (err);
  g_assert_cmpstr (a->argv[0], ==, "FT.SEARCH");
  g_assert_cmpstr (a->argv[1], ==, "frames");
  g_assert_cmpstr (a->argv[2], ==,
      "(@stream:{cam\\-1 | lobby\\ cam} @ts:[1700000000000 +inf] "
      "@pts:[-inf (2.5])=>[KNN 5 @vector $vec EF_RUNTIME 64 AS score]");
  g_assert_cmpstr (a->argv[3], ==, "PARAMS");
  g_assert_cmpstr (a->argv[4], ==, "2");
  g_assert_cmpstr (a->argv[5], ==, "vec");
  g_assert_cmpuint (a->argvlen[6], ==, 16);
  {
    /* Little-endian float32: 1.0f is 00 00 80 3f. */
    const guint8 *b = (const guint8 *) a->argv[6];
    g_assert_cmpuint (b[0], ==, 0x00);
    g_assert_cmpuint (b[2], ==, 0x80);
    g_assert_cmpuint (b[3], ==, 0x3f);
  }
  rest = join_args (a, 7, a->argc);
  g_assert_cmpstr (rest, ==, "RETURN 3 score stream ts LIMIT 0 5 TIMEOUT 1500 "
      "DIALECT 2");
  g_free (rest);
  vss_valkey_args_free (a);

  /* No filter, no RETURN, NOCONTENT. */
  q.n_tags = 0;
  q.n_ranges = 0;
  q.return_fields = NULL;
  q.ef_runtime = 0;
  q.timeout_ms = 0;
  q.nocontent = TRUE;
  a = vss_valkey_knn_args (&q, &err);
  g_assert_cmpstr (a->argv[2], ==, "*=>[KNN 5 @vector $vec AS score]");
  rest = join_args (a, 7, a->argc);
  g_assert_cmpstr (rest, ==, "NOCONTENT LIMIT 0 5 DIALECT 2");
  g_free (rest);
  vss_valkey_args_free (a);

  /* Refused: NaN bound, empty range, bad field, empty tag, k 0. */
  {
    VssValkeyNumericFilter nan_r[] = { {"ts", NAN, 1, FALSE, FALSE} };
    VssValkeyNumericFilter empty_r[] = { {"ts", 5, 1, FALSE, FALSE} };
    VssValkeyNumericFilter badf_r[] = { {"t s", 0, 1, FALSE, FALSE} };
    const gchar *empty_v[] = { "", NULL };
    VssValkeyTagFilter empty_t[] = { {"stream", empty_v} };
    VssValkeyKnnQuery b;

    b = q;
    b.ranges = nan_r;
    b.n_ranges = 1;
    g_assert_null (vss_valkey_knn_args (&b, &err));
    g_assert_error (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_INVALID_ARGUMENT);
    g_clear_error (&err);
    b.ranges = empty_r;
    g_assert_null (vss_valkey_knn_args (&b, &err));
    g_clear_error (&err);
    b.ranges = badf_r;
    g_assert_null (vss_valkey_knn_args (&b, &err));
    g_clear_error (&err);
    b = q;
    b.tags = empty_t;
    b.n_tags = 1;
    g_assert_null (vss_valkey_knn_args (&b, &err));
    g_clear_error (&err);
    b = q;
    b.k = 0;
    g_assert_null (vss_valkey_knn_args (&b, &err));
    g_clear_error (&err);
  }
}

static void
test_info_parse (void)
{
  GError *err = NULL;
  VssValkeyReply *r;
  VssValkeyIndexInfo *info;
  VssValkeyIndexSpec other;

  r = parse_owned (valkey_search_info (1024, "COSINE", "frame:"));
  info = vss_valkey_index_info_parse (r, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (info->name, ==, "frames");
  g_assert_cmpstr (info->vector_field, ==, "vector");
  g_assert_cmpuint (info->dim, ==, 1024);
  g_assert_cmpstr (info->metric, ==, "COSINE");
  g_assert_cmpstr (info->prefixes[0], ==, "frame:");
  g_assert_null (info->prefixes[1]);
  g_assert_cmpuint (info->num_docs, ==, 42);
  g_assert_cmpstr (info->state, ==, "ready");
  g_assert_true (vss_valkey_index_info_check (info, &frames_spec, &err));

  other = frames_spec;
  other.dim = 512;
  other.metric = VSS_VALKEY_METRIC_L2;
  g_assert_false (vss_valkey_index_info_check (info, &other, &err));
  g_assert_error (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_INDEX_MISMATCH);
  g_assert_nonnull (strstr (err->message, "DIM is 1024, not 512"));
  g_assert_nonnull (strstr (err->message, "DISTANCE_METRIC is COSINE, not L2"));
  g_clear_error (&err);
  other = frames_spec;
  other.prefix = "img:";
  g_assert_false (vss_valkey_index_info_check (info, &other, &err));
  g_assert_nonnull (strstr (err->message, "PREFIX is 'frame:', not 'img:'"));
  g_clear_error (&err);
  vss_valkey_index_info_free (info);
  freeReplyObject (r);

  r = parse_owned (redisearch_info ());
  info = vss_valkey_index_info_parse (r, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (info->dim, ==, 1024);
  g_assert_cmpuint (info->num_docs, ==, 7);
  g_assert_null (info->state);
  g_assert_true (vss_valkey_index_info_check (info, &frames_spec, &err));
  vss_valkey_index_info_free (info);
  freeReplyObject (r);

  /* An error reply keeps its text; a vector without DIM is malformed. */
  r = parse_owned (rb_err ("Index with name 'frames' not found"));
  g_assert_null (vss_valkey_index_info_parse (r, &err));
  g_assert_error (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_SERVER);
  g_assert_nonnull (strstr (err->message, "not found"));
  g_clear_error (&err);
  freeReplyObject (r);
  r = parse_owned (rb_map ("attributes", rb_array (1,
              rb_map ("identifier", rb_str ("v"), "type", rb_str ("VECTOR"),
                  NULL)), NULL));
  g_assert_null (vss_valkey_index_info_parse (r, &err));
  g_assert_error (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_PROTOCOL);
  g_clear_error (&err);
  freeReplyObject (r);
}

static const gchar *
field (VssValkeyHit * h, const gchar * name)
{
  GBytes *b = g_hash_table_lookup (h->fields, name);
  return b ? g_bytes_get_data (b, NULL) : NULL;
}

static void
test_knn_parse (void)
{
  GError *err = NULL;
  VssValkeyReply *r;
  GPtrArray *hits;
  VssValkeyHit *h;

  /* valkey-search 1.0: score first, as a string. */
  r = parse_owned (rb_array (5, rb_int (2),
          rb_str ("frame:cam1:A"), rb_array (4, rb_str ("score"),
              rb_str ("0.0123"), rb_str ("stream"), rb_str ("cam1")),
          rb_str ("frame:cam2:B"), rb_array (4, rb_str ("score"),
              rb_str ("0.5"), rb_str ("stream"), rb_str ("cam2"))));
  hits = vss_valkey_knn_parse (r, FALSE, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (hits->len, ==, 2);
  h = g_ptr_array_index (hits, 0);
  g_assert_cmpstr (h->key, ==, "frame:cam1:A");
  g_assert_cmpfloat_with_epsilon (h->score, 0.0123, 1e-12);
  g_assert_cmpstr (field (h, "stream"), ==, "cam1");
  g_ptr_array_unref (hits);
  freeReplyObject (r);

  /* RediSearch: score anywhere among the fields, nil values. */
  r = parse_owned (rb_array (3, rb_int (1), rb_str ("frame:x"),
          rb_array (6, rb_str ("stream"), rb_str ("c"), rb_str ("gone"),
              rb_nil (), rb_str ("score"), rb_str ("1.5"))));
  hits = vss_valkey_knn_parse (r, FALSE, &err);
  g_assert_no_error (err);
  h = g_ptr_array_index (hits, 0);
  g_assert_cmpfloat (h->score, ==, 1.5);
  g_assert_null (field (h, "gone"));
  g_ptr_array_unref (hits);
  freeReplyObject (r);

  /* RediSearch WITHSCORES: key, score, fields. */
  r = parse_owned (rb_array (4, rb_int (1), rb_str ("frame:y"),
          rb_str ("0.25"), rb_array (2, rb_str ("stream"), rb_str ("d"))));
  hits = vss_valkey_knn_parse (r, FALSE, &err);
  g_assert_no_error (err);
  g_assert_cmpfloat (((VssValkeyHit *) g_ptr_array_index (hits, 0))->score,
      ==, 0.25);
  g_ptr_array_unref (hits);
  freeReplyObject (r);

  /* NOCONTENT: keys only. */
  r = parse_owned (rb_array (3, rb_int (2), rb_str ("a"), rb_str ("b")));
  hits = vss_valkey_knn_parse (r, TRUE, &err);
  g_assert_cmpuint (hits->len, ==, 2);
  g_assert_true (isnan (((VssValkeyHit *) g_ptr_array_index (hits, 1))->score));
  g_ptr_array_unref (hits);
  freeReplyObject (r);

  /* Empty result. */
  r = parse_owned (rb_array (1, rb_int (0)));
  hits = vss_valkey_knn_parse (r, FALSE, &err);
  g_assert_cmpuint (hits->len, ==, 0);
  g_ptr_array_unref (hits);
  freeReplyObject (r);

  /* The timeout is a status reply, not an error. */
  r = parse_owned (g_strdup ("+Request timed out\r\n"));
  g_assert_null (vss_valkey_knn_parse (r, FALSE, &err));
  g_assert_error (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_SEARCH_TIMEOUT);
  g_clear_error (&err);
  freeReplyObject (r);

  r = parse_owned (g_strdup ("-Index with name 'nope' not found\r\n"));
  g_assert_null (vss_valkey_knn_parse (r, FALSE, &err));
  g_assert_error (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_SERVER);
  g_assert_nonnull (strstr (err->message, "nope"));
  g_clear_error (&err);
  freeReplyObject (r);

  /* Malformed shapes. */
  {
    gchar *bad[] = {
      rb_array (2, rb_str ("2"), rb_str ("k")),
      rb_array (3, rb_int (1), rb_str ("k"), rb_array (1, rb_str ("odd"))),
      rb_array (3, rb_int (1), rb_str ("k"), rb_array (2, rb_str ("score"),
              rb_str ("abc"))),
      rb_array (2, rb_int (1), rb_int (5)),
      rb_str ("OK"),
      rb_array (0),
    };
    for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
      r = parse_owned (bad[i]);
      g_assert_null (vss_valkey_knn_parse (r, FALSE, &err));
      g_assert_error (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_PROTOCOL);
      g_clear_error (&err);
      freeReplyObject (r);
    }
  }
}

static VssValkeyHit *
mkhit (const gchar * key, gdouble score)
{
  VssValkeyHit *h = g_new0 (VssValkeyHit, 1);

  h->key = g_strdup (key);
  h->score = score;
  h->fields = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) g_bytes_unref);
  return h;
}

static void
test_merge (void)
{
  GPtrArray *nodes[3];
  GPtrArray *out;

  for (guint i = 0; i < 3; i++)
    nodes[i] = g_ptr_array_new_with_free_func ((GDestroyNotify)
        vss_valkey_hit_free);
  g_ptr_array_add (nodes[0], mkhit ("a", 0.3));
  g_ptr_array_add (nodes[0], mkhit ("b", 0.9));
  g_ptr_array_add (nodes[1], mkhit ("c", 0.1));
  g_ptr_array_add (nodes[1], mkhit ("a", 0.3));
  g_ptr_array_add (nodes[2], mkhit ("d", 0.2));
  out = vss_valkey_knn_merge (nodes, 3, 3);
  g_assert_cmpuint (out->len, ==, 3);
  g_assert_cmpstr (((VssValkeyHit *) out->pdata[0])->key, ==, "c");
  g_assert_cmpstr (((VssValkeyHit *) out->pdata[1])->key, ==, "d");
  g_assert_cmpstr (((VssValkeyHit *) out->pdata[2])->key, ==, "a");
  g_assert_null (nodes[0]);
  g_ptr_array_unref (out);
}

/* ---- against scripted servers ---- */

typedef enum
{
  INFO_MISSING_THEN_OK,         /* unknown index until FT.CREATE */
  INFO_RACE,                    /* unknown, then someone else creates it */
  INFO_DIM_512,
  INFO_NO_SEARCH,
  INFO_OK_REDISEARCH,
} InfoMode;

typedef struct
{
  InfoMode mode;
  gboolean created;
  guint n_info, n_create, n_search;
  gchar *last_create;
  gchar *last_query;
  gchar *shards;                /* CLUSTER SHARDS answer; NULL: standalone */
  gchar *search_reply;
} Script;

static GBytes *
take (gchar * s)
{
  GBytes *b = vss_fake_reply (s);
  g_free (s);
  return b;
}

static GBytes *
script_handler (gint argc, gchar ** argv, gsize * argvlen, gpointer data)
{
  Script *s = data;

  if (!g_ascii_strcasecmp (argv[0], "CLUSTER")) {
    if (s->shards)
      return vss_fake_reply (s->shards);
    return vss_fake_reply ("-ERR This instance has cluster support "
        "disabled\r\n");
  }
  if (!g_ascii_strcasecmp (argv[0], "FT.INFO")) {
    s->n_info++;
    switch (s->mode) {
      case INFO_NO_SEARCH:
        return vss_fake_reply ("-ERR unknown command 'FT.INFO', with args "
            "beginning with: 'frames'\r\n");
      case INFO_DIM_512:
        return take (valkey_search_info (512, "COSINE", "frame:"));
      case INFO_OK_REDISEARCH:
        return take (redisearch_info ());
      case INFO_RACE:
      case INFO_MISSING_THEN_OK:
      default:
        if (!s->created)
          return take (rb_err ("Index with name 'frames' not found in "
                  "database 0"));
        return take (valkey_search_info (1024, "COSINE", "frame:"));
    }
  }
  if (!g_ascii_strcasecmp (argv[0], "FT.CREATE")) {
    s->n_create++;
    g_free (s->last_create);
    s->last_create = g_strjoinv (" ", argv);
    if (s->mode == INFO_RACE) {
      s->created = TRUE;
      return vss_fake_reply ("-Index frames already exists.\r\n");
    }
    s->created = TRUE;
    return vss_fake_reply ("+OK\r\n");
  }
  if (!g_ascii_strcasecmp (argv[0], "FT.SEARCH")) {
    s->n_search++;
    g_free (s->last_query);
    s->last_query = g_strdup (argv[2]);
    return vss_fake_reply (s->search_reply);
  }
  return vss_fake_reply ("-ERR unexpected command in this script\r\n");
}

static void
script_clear (Script * s)
{
  g_free (s->last_create);
  g_free (s->last_query);
  g_free (s->shards);
  g_free (s->search_reply);
}

static VssValkeyClient *
client_for_port (guint16 port, const gchar * extra)
{
  GError *err = NULL;
  gchar *url = g_strdup_printf ("redis://127.0.0.1:%u/?reconnect_attempts=1"
      "%s", port, extra ? extra : "");
  VssValkeyClient *c = vss_valkey_client_new_from_url (url, &err);

  g_assert_no_error (err);
  g_free (url);
  return c;
}

static void
run_ensure (InfoMode mode, gboolean expect_ok, gint expect_code,
    guint expect_creates)
{
  Script s = {.mode = mode };
  GError *err = NULL;
  g_autoptr (VssFakeValkey) fake = vss_fake_valkey_new (script_handler, &s,
      &err);
  VssValkeyClient *c = client_for_port (vss_fake_valkey_get_port (fake),
      NULL);
  gboolean ok;

  g_assert_no_error (err);
  ok = vss_valkey_ensure_index (c, &frames_spec, FALSE, NULL, &err);
  if (expect_ok) {
    g_assert_no_error (err);
    g_assert_true (ok);
  } else {
    g_assert_false (ok);
    g_assert_error (err, VSS_VALKEY_ERROR, expect_code);
    g_test_message ("expected error: %s", err->message);
    g_clear_error (&err);
  }
  g_assert_cmpuint (s.n_create, ==, expect_creates);
  if (expect_creates)
    g_assert_cmpstr (s.last_create, ==, "FT.CREATE frames ON HASH PREFIX 1 "
        "frame: SCHEMA vector VECTOR HNSW 10 TYPE FLOAT32 DIM 1024 "
        "DISTANCE_METRIC COSINE M 16 EF_CONSTRUCTION 200 stream TAG ts "
        "NUMERIC");
  vss_valkey_client_free (c);
  vss_fake_valkey_free (g_steal_pointer (&fake));
  script_clear (&s);
}

static void
test_ensure_create (void)
{
  run_ensure (INFO_MISSING_THEN_OK, TRUE, 0, 1);
}

static void
test_ensure_concurrent_creator (void)
{
  run_ensure (INFO_RACE, TRUE, 0, 1);
}

static void
test_ensure_exists (void)
{
  run_ensure (INFO_OK_REDISEARCH, TRUE, 0, 0);
}

static void
test_ensure_mismatch (void)
{
  run_ensure (INFO_DIM_512, FALSE, VSS_VALKEY_ERROR_INDEX_MISMATCH, 0);
}

static void
test_ensure_no_search (void)
{
  run_ensure (INFO_NO_SEARCH, FALSE, VSS_VALKEY_ERROR_SERVER, 0);
}

static void
test_knn_search_fake (void)
{
  Script s = {.mode = INFO_MISSING_THEN_OK };
  GError *err = NULL;
  g_autoptr (VssFakeValkey) fake = vss_fake_valkey_new (script_handler, &s,
      &err);
  VssValkeyClient *c = client_for_port (vss_fake_valkey_get_port (fake),
      NULL);
  gfloat vec[8] = { 0 };
  const gchar *cams[] = { "cam1", NULL };
  VssValkeyTagFilter tags[] = { {"stream", cams} };
  VssValkeyKnnQuery q = {.index = "frames",.vector_field = "vector",
    .vector = vec,.dim = 8,.k = 2,.tags = tags,.n_tags = 1
  };
  GPtrArray *hits;

  s.search_reply = rb_array (3, rb_int (1), rb_str ("frame:cam1:X"),
      rb_array (2, rb_str ("score"), rb_str ("0.125")));
  hits = vss_valkey_knn_search (c, &q, FALSE, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (hits->len, ==, 1);
  g_assert_cmpstr (s.last_query, ==,
      "(@stream:{cam1})=>[KNN 2 @vector $vec AS score]");
  g_ptr_array_unref (hits);

  g_free (s.search_reply);
  s.search_reply = g_strdup ("+Request timed out\r\n");
  g_assert_null (vss_valkey_knn_search (c, &q, FALSE, NULL, &err));
  g_assert_error (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_SEARCH_TIMEOUT);
  g_clear_error (&err);

  vss_valkey_client_free (c);
  vss_fake_valkey_free (g_steal_pointer (&fake));
  script_clear (&s);
}

/* Two primaries without a coordinator: FT.CREATE on both, and the top-k
 * is merged from both. */
static void
test_fanout (void)
{
  Script s[2] = { {.mode = INFO_MISSING_THEN_OK}, {.mode = INFO_RACE} };
  GError *err = NULL;
  VssFakeValkey *fakes[2];
  VssValkeyClient *c;
  gfloat vec[8] = { 0 };
  VssValkeyKnnQuery q = {.index = "frames",.vector_field = "vector",
    .vector = vec,.dim = 8,.k = 3
  };
  GPtrArray *hits;
  gchar *shards;

  for (guint i = 0; i < 2; i++) {
    fakes[i] = vss_fake_valkey_new (script_handler, &s[i], &err);
    g_assert_no_error (err);
  }
  shards = rb_array (2,
      rb_map ("slots", rb_array (2, rb_int (0), rb_int (8191)),
          "nodes", rb_array (1, rb_map ("id", rb_str ("a"),
                  "port", rb_int (vss_fake_valkey_get_port (fakes[0])),
                  "ip", rb_str ("127.0.0.1"), "endpoint",
                  rb_str ("127.0.0.1"), "role", rb_str ("master"),
                  "health", rb_str ("online"), NULL)), NULL),
      rb_map ("slots", rb_array (2, rb_int (8192), rb_int (16383)),
          "nodes", rb_array (1, rb_map ("id", rb_str ("b"),
                  "port", rb_int (vss_fake_valkey_get_port (fakes[1])),
                  "ip", rb_str ("127.0.0.1"), "endpoint",
                  rb_str ("127.0.0.1"), "role", rb_str ("master"),
                  "health", rb_str ("online"), NULL)), NULL));
  for (guint i = 0; i < 2; i++)
    s[i].shards = g_strdup (shards);
  g_free (shards);
  s[0].search_reply = rb_array (5, rb_int (2),
      rb_str ("frame:a"), rb_array (2, rb_str ("score"), rb_str ("0.4")),
      rb_str ("frame:b"), rb_array (2, rb_str ("score"), rb_str ("0.1")));
  s[1].search_reply = rb_array (5, rb_int (2),
      rb_str ("frame:c"), rb_array (2, rb_str ("score"), rb_str ("0.2")),
      rb_str ("frame:d"), rb_array (2, rb_str ("score"), rb_str ("0.9")));

  c = client_for_port (vss_fake_valkey_get_port (fakes[0]), NULL);
  g_assert_true (vss_valkey_ensure_index (c, &frames_spec, TRUE, NULL, &err));
  g_assert_no_error (err);
  g_assert_true (vss_valkey_client_is_cluster (c));
  g_assert_cmpuint (s[0].n_create, ==, 1);
  g_assert_cmpuint (s[1].n_create, ==, 1);

  hits = vss_valkey_knn_search (c, &q, TRUE, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (s[0].n_search, ==, 1);
  g_assert_cmpuint (s[1].n_search, ==, 1);
  g_assert_cmpuint (hits->len, ==, 3);
  g_assert_cmpstr (((VssValkeyHit *) hits->pdata[0])->key, ==, "frame:b");
  g_assert_cmpstr (((VssValkeyHit *) hits->pdata[1])->key, ==, "frame:c");
  g_assert_cmpstr (((VssValkeyHit *) hits->pdata[2])->key, ==, "frame:a");
  g_ptr_array_unref (hits);

  /* One primary timing out fails the whole search, clearly. */
  g_free (s[1].search_reply);
  s[1].search_reply = g_strdup ("+Request timed out\r\n");
  g_assert_null (vss_valkey_knn_search (c, &q, TRUE, NULL, &err));
  g_assert_error (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_SEARCH_TIMEOUT);
  g_clear_error (&err);

  vss_valkey_client_free (c);
  for (guint i = 0; i < 2; i++) {
    vss_fake_valkey_free (fakes[i]);
    script_clear (&s[i]);
  }
}

/* A negated TAG filter ("other streams only") next to a positive one. */
static void
test_knn_args_negated (void)
{
  GError *err = NULL;
  gfloat vec[2] = { 1.0f, 0.0f };
  const gchar *mine[] = { "cam 1", NULL };
  const gchar *some[] = { "cam2", "cam3", NULL };
  VssValkeyTagFilter tags[] = { {"stream", some, FALSE},
  {"stream", mine, TRUE}
  };
  VssValkeyNumericFilter range = { "ts", 10, 20, FALSE, FALSE };
  VssValkeyKnnQuery q = {
    .index = "frames",.vector_field = "vector",.vector = vec,.dim = 2,
    .k = 3,.tags = tags,.n_tags = 2,.ranges = &range,.n_ranges = 1,
  };
  VssValkeyArgs *a = vss_valkey_knn_args (&q, &err);

  g_assert_no_error (err);
  g_assert_cmpstr (a->argv[2], ==, "(@stream:{cam2 | cam3} "
      "-@stream:{cam\\ 1} @ts:[10 20])=>[KNN 3 @vector $vec AS score]");
  vss_valkey_args_free (a);
  q.n_tags = 1;
  q.tags = &tags[1];
  q.n_ranges = 0;
  a = vss_valkey_knn_args (&q, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (a->argv[2], ==, "(-@stream:{cam\\ 1})=>[KNN 3 @vector "
      "$vec AS score]");
  vss_valkey_args_free (a);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/valkey/search/escape-tag", test_escape_tag);
  g_test_add_func ("/valkey/search/create-args", test_create_args);
  g_test_add_func ("/valkey/search/knn-args", test_knn_args);
  g_test_add_func ("/valkey/search/knn-args-negated", test_knn_args_negated);
  g_test_add_func ("/valkey/search/info-parse", test_info_parse);
  g_test_add_func ("/valkey/search/knn-parse", test_knn_parse);
  g_test_add_func ("/valkey/search/merge", test_merge);
  g_test_add_func ("/valkey/search/ensure/create", test_ensure_create);
  g_test_add_func ("/valkey/search/ensure/concurrent-creator",
      test_ensure_concurrent_creator);
  g_test_add_func ("/valkey/search/ensure/exists", test_ensure_exists);
  g_test_add_func ("/valkey/search/ensure/mismatch", test_ensure_mismatch);
  g_test_add_func ("/valkey/search/ensure/no-search", test_ensure_no_search);
  g_test_add_func ("/valkey/search/knn-search", test_knn_search_fake);
  g_test_add_func ("/valkey/search/fanout", test_fanout);
  return g_test_run ();
}
