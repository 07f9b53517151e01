/* gst-vss: vssquery's engines without a pipeline
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   test-query-engine MODULE.so
 *
 * The matcher (plugins/vssquery/vssquerymatcher.c) with the local provider:
 * queries are real photographs, and frame vectors are built at chosen
 * cosine distances from their embeddings, so that thresholds and cooldowns
 * are checked to the thousandth. The history worker
 * (plugins/vssquery/vssqueryhistory.c) against redis-server with our
 * vss-search.so module, frames written as vsssink writes them.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>
#include <gst/gst.h>
#include "gstvss.h"
#include "vss-index.h"
#include "valkey/gstvssvalkeyrecord.h"
#include "vssquerymatcher.h"
#include "vssqueryhistory.h"
#include "vss-scene.h"
#include "vss-test-redis.h"

static const gchar *module_path;
static gchar *photo[3];

/* ---- matcher fixtures ---- */

typedef struct
{
  GstVssQueryEmbedder *embedder;        /* the test's own, same provider */
  guint dim;
  gfloat *q[2];                 /* unit embeddings of photo 0 and 1 */
  gdouble cos01;
  gfloat *u;                    /* a unit vector orthogonal to both */
} Vectors;

static GstVssQueryEmbedder *
local_embedder (void)
{
  GstVssQueryEmbedderOptions o = { GST_VSS_QUERY_PROVIDER_LOCAL, };
  GError *err = NULL;
  GstVssQueryEmbedder *e = gst_vss_query_embedder_new (&o, &err);

  g_assert_no_error (err);
  return e;
}

static gdouble
dot (const gfloat * a, const gfloat * b, guint n)
{
  gdouble s = 0;

  for (guint i = 0; i < n; i++)
    s += (gdouble) a[i] * b[i];
  return s;
}

/* @v minus its component along the unit vector @w. */
static void
remove_component (gfloat * v, const gfloat * w, guint n)
{
  gdouble c = dot (v, w, n);

  for (guint i = 0; i < n; i++)
    v[i] -= (gfloat) (c * w[i]);
}

static void
vectors_init (Vectors * vx)
{
  GError *err = NULL;
  gfloat *b;

  vx->embedder = local_embedder ();
  vx->dim = gst_vss_query_embedder_get_dim (vx->embedder);
  for (guint i = 0; i < 2; i++) {
    vx->q[i] = gst_vss_query_embedder_embed_file (vx->embedder, photo[i], &err);
    g_assert_no_error (err);
    g_assert_cmpfloat (vss_normalize_f32 (vx->q[i], vx->dim), >, 0);
  }
  vx->cos01 = dot (vx->q[0], vx->q[1], vx->dim);
  /* The photographs must differ for the checks below to mean anything
   * (frames built around one never reach the other's thresholds). */
  g_assert_cmpfloat (1 - vx->cos01, >, 0.15);

  /* Gram-Schmidt: u is orthogonal to q0 and q1. */
  b = g_memdup2 (vx->q[1], vx->dim * sizeof (gfloat));
  remove_component (b, vx->q[0], vx->dim);
  vss_normalize_f32 (b, vx->dim);
  vx->u = g_new (gfloat, vx->dim);
  for (guint i = 0; i < vx->dim; i++)
    vx->u[i] = (gfloat) sin (0.37 * i + 1.0);
  remove_component (vx->u, vx->q[0], vx->dim);
  remove_component (vx->u, b, vx->dim);
  g_assert_cmpfloat (vss_normalize_f32 (vx->u, vx->dim), >, 0.1);
  g_free (b);
}

static void
vectors_clear (Vectors * vx)
{
  gst_vss_query_embedder_free (vx->embedder);
  g_free (vx->q[0]);
  g_free (vx->q[1]);
  g_free (vx->u);
}

/* A unit vector at cosine distance @d from photo @i's embedding; its
 * distance to the other photo is then 1 - (1 - d) * cos01. */
static gfloat *
vector_at (const Vectors * vx, guint i, gdouble d)
{
  gfloat *v = g_new (gfloat, vx->dim);
  gdouble c = 1 - d, s = sqrt (1 - c * c);

  for (guint j = 0; j < vx->dim; j++)
    v[j] = (gfloat) (c * vx->q[i][j] + s * vx->u[j]);
  return v;
}

typedef struct
{
  GPtrArray *ids;               /* reported query ids, in order */
  GArray *distances;            /* gdouble */
} Reported;

static void
reported_init (Reported * r)
{
  r->ids = g_ptr_array_new_with_free_func (g_free);
  r->distances = g_array_new (FALSE, FALSE, sizeof (gdouble));
}

static void
reported_reset (Reported * r)
{
  g_ptr_array_set_size (r->ids, 0);
  g_array_set_size (r->distances, 0);
}

static void
reported_clear (Reported * r)
{
  g_ptr_array_unref (r->ids);
  g_array_unref (r->distances);
}

static void
on_match (const GstVssQuerySpec * q, gdouble distance, gpointer data)
{
  Reported *r = data;

  g_assert_cmpfloat (distance, <=, q->threshold);
  g_ptr_array_add (r->ids, g_strdup (q->id));
  g_array_append_val (r->distances, distance);
}

/* Matches @v at @now_ms and returns the reported ids joined by ",". */
static gchar *
match_at (VssQueryMatcher * m, const Vectors * vx, const gfloat * v,
    guint64 now_ms, guint64 default_cooldown_ms, Reported * r,
    VssQueryMatchCounts * counts)
{
  guint n;

  reported_reset (r);
  n = vss_query_matcher_match (m, v, vx->dim, now_ms * GST_MSECOND,
      default_cooldown_ms, on_match, r, counts);
  g_assert_cmpuint (n, ==, r->ids->len);
  g_ptr_array_add (r->ids, NULL);
  {
    gchar *s = g_strjoinv (",", (gchar **) r->ids->pdata);
    g_ptr_array_remove_index (r->ids, r->ids->len - 1);
    return s;
  }
}

static gchar *
two_queries_json (gdouble ta, gdouble tb, const gchar * extra_a)
{
  return g_strdup_printf ("[{\"id\":\"a\",\"image\":\"%s\",\"threshold\":%.6f"
      "%s},{\"id\":\"b\",\"image\":\"%s\",\"threshold\":%.6f}]", photo[0], ta,
      extra_a ? extra_a : "", photo[1], tb);
}

/* ---- matcher ---- */

static void
test_matcher_thresholds (void)
{
  g_autoptr (VssQueryMatcher) m = vss_query_matcher_new ();
  Vectors vx;
  Reported r;
  VssQueryMatchCounts c;
  GError *err = NULL;
  gdouble tb;
  gchar *json, *got;

  vectors_init (&vx);
  reported_init (&r);
  /* b's threshold is below any distance of a frame built around a. */
  tb = (1 - vx.cos01) / 2;
  json = two_queries_json (0.1, tb, NULL);
  g_assert_true (vss_query_matcher_set_queries (m, json, NULL, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (vss_query_matcher_get_n_queries (m), ==, 2);

  /* Stopped: nothing is compared. */
  {
    gfloat *v = vector_at (&vx, 0, 0.0);
    got = match_at (m, &vx, v, 0, 0, &r, &c);
    g_assert_cmpstr (got, ==, "");
    g_assert_cmpuint (c.comparisons, ==, 0);
    g_free (got);
    g_free (v);
  }

  g_assert_true (vss_query_matcher_start (m, local_embedder (), &err));
  g_assert_no_error (err);
  {
    /* distance to a, whether a is reported */
    const struct
    {
      gdouble d;
      const gchar *want;
    } cases[] = {
      {0.0, "a"}, {0.05, "a"}, {0.098, "a"}, {0.102, ""}, {0.3, ""},
    };

    for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
      gfloat *v = vector_at (&vx, 0, cases[i].d);

      got = match_at (m, &vx, v, 1000 * i, 0, &r, &c);
      g_assert_cmpstr (got, ==, cases[i].want);
      g_assert_cmpuint (c.comparisons, ==, 2);
      g_assert_cmpuint (c.matches, ==, strlen (cases[i].want) > 0);
      g_assert_cmpuint (c.suppressed, ==, 0);
      if (r.distances->len)
        g_assert_cmpfloat_with_epsilon (g_array_index (r.distances, gdouble,
                0), cases[i].d, 1e-4);
      g_free (got);
      g_free (v);
    }
  }
  /* Around b: b only, at the distance built. */
  {
    gfloat *v = vector_at (&vx, 1, tb / 2);

    got = match_at (m, &vx, v, 10000, 0, &r, &c);
    g_assert_cmpstr (got, ==, "b");
    g_assert_cmpfloat_with_epsilon (g_array_index (r.distances, gdouble, 0),
        tb / 2, 1e-4);
    g_free (got);
    g_free (v);
  }
  /* A vector of another length compares nothing. */
  {
    gfloat *v = vector_at (&vx, 0, 0.0);

    reported_reset (&r);
    g_assert_cmpuint (vss_query_matcher_match (m, v, vx.dim - 1, 0, 0,
            on_match, &r, &c), ==, 0);
    g_assert_cmpuint (c.comparisons, ==, 0);
    g_assert_cmpuint (r.ids->len, ==, 0);
    g_free (v);
  }
  vss_query_matcher_stop (m);
  reported_clear (&r);
  vectors_clear (&vx);
  g_free (json);
}

static void
test_matcher_cooldowns (void)
{
  g_autoptr (VssQueryMatcher) m = vss_query_matcher_new ();
  Vectors vx;
  Reported r;
  VssQueryMatchCounts c;
  GError *err = NULL;
  gfloat *worse, *better;
  guint64 suppressed = 0;
  GString *seen = g_string_new (NULL);
  gchar *json;

  vectors_init (&vx);
  reported_init (&r);
  /* "a" has the default cooldown (2000 ms here), "z" none, "s" 1000 ms. */
  json = g_strdup_printf ("[{\"id\":\"a\",\"image\":\"%s\",\"threshold\":0.2},"
      "{\"id\":\"z\",\"image\":\"%s\",\"threshold\":0.2,\"cooldown_ms\":0},"
      "{\"id\":\"s\",\"image\":\"%s\",\"threshold\":0.2,\"cooldown_ms\":1000}]",
      photo[0], photo[0], photo[0]);
  g_assert_true (vss_query_matcher_set_queries (m, json, NULL, &err));
  g_assert_true (vss_query_matcher_start (m, local_embedder (), &err));
  g_assert_no_error (err);

  worse = vector_at (&vx, 0, 0.1);
  better = vector_at (&vx, 0, 0.05);
  /* Every 500 ms from 0 to 4500 ms, the same distance. */
  for (guint i = 0; i < 10; i++) {
    gchar *got = match_at (m, &vx, worse, 500 * i, 2000, &r, &c);

    g_string_append_printf (seen, "%u:%s;", 500 * i, got);
    suppressed += c.suppressed;
    g_free (got);
  }
  g_assert_cmpstr (seen->str, ==, "0:a,z,s;500:z;1000:z,s;1500:z;"
      "2000:a,z,s;2500:z;3000:z,s;3500:z;4000:a,z,s;4500:z;");
  g_assert_cmpuint (suppressed, ==, 7 + 5);

  /* Within the cooldown a closer frame is reported, an equal one not. */
  {
    gchar *got = match_at (m, &vx, better, 4600, 2000, &r, &c);
    g_assert_cmpstr (got, ==, "a,z,s");
    g_free (got);
    got = match_at (m, &vx, better, 4700, 2000, &r, &c);
    g_assert_cmpstr (got, ==, "z");
    g_assert_cmpuint (c.suppressed, ==, 2);
    g_free (got);
  }
  /* The default comes from the call: 0 reports "a" every time. */
  {
    gchar *got = match_at (m, &vx, better, 4800, 0, &r, &c);
    g_assert_cmpstr (got, ==, "a,z");
    g_free (got);
  }
  /* A stop forgets the cooldowns. */
  vss_query_matcher_stop (m);
  g_assert_true (vss_query_matcher_start (m, local_embedder (), &err));
  {
    gchar *got = match_at (m, &vx, worse, 4900, 2000, &r, &c);
    g_assert_cmpstr (got, ==, "a,z,s");
    g_free (got);
  }
  g_free (worse);
  g_free (better);
  g_string_free (seen, TRUE);
  reported_clear (&r);
  vectors_clear (&vx);
  g_free (json);
}

/* Sets the parser refuses, and what the error must name. */
static const struct
{
  const gchar *json;
  const gchar *want[2];
} invalid_sets[] = {
  {"[", {"not valid JSON", NULL}},
  {"{\"image\":\"/x.jpg\",\"threshold\":-1}", {"query 1", "'threshold' is -1"}},
  {"[{\"image\":\"/x.jpg\",\"threshold\":5}]", {"query 1", "'threshold' is 5"}},
  {"[{\"image\":\"/x.jpg\",\"threshold\":\"abc\"}]",
      {"query 1", "'threshold' is \"abc\""}},
  {"[{\"image\":\"/x.jpg\"},{\"text\":\"t\",\"colour\":\"red\"}]",
      {"query 2", "unknown key 'colour'"}},
  {"[{\"text\":\"t\",\"image\":\"/x.jpg\"}]", {"query 1", "exactly one"}},
  {"[{\"id\":\"a\",\"text\":\"x\"},{\"id\":\"a\",\"text\":\"y\"}]",
      {"query 2", "'a' is used twice"}},
  {"[{\"id\":\"a b\",\"text\":\"x\"}]", {"query 1", "'id'"}},
};

static void
assert_names (const GError * err, guint i)
{
  g_assert_nonnull (err);
  g_assert_true (err->domain == GST_VSS_QUERY_ERROR);
  for (guint j = 0; j < 2 && invalid_sets[i].want[j]; j++)
    if (!strstr (err->message, invalid_sets[i].want[j]))
      g_error ("%s: '%s' does not say '%s'", invalid_sets[i].json,
          err->message, invalid_sets[i].want[j]);
}

static void
test_matcher_invalid_sets (void)
{
  g_autoptr (VssQueryMatcher) m = vss_query_matcher_new ();
  Vectors vx;
  Reported r;
  VssQueryMatchCounts c;
  GError *err = NULL;
  gchar *good = g_strdup_printf ("[{\"id\":\"good\",\"image\":\"%s\","
      "\"threshold\":0.2}]", photo[0]);
  gchar *got, *now;
  gboolean running = TRUE;
  gfloat *v;

  vectors_init (&vx);
  reported_init (&r);
  v = vector_at (&vx, 0, 0.05);
  g_assert_true (vss_query_matcher_set_queries (m, good, NULL, &err));

  /* Stopped: refused, the set stays, and start fails with the reason. */
  for (guint i = 0; i < G_N_ELEMENTS (invalid_sets); i++) {
    g_assert_false (vss_query_matcher_set_queries (m, invalid_sets[i].json,
            &running, &err));
    g_assert_false (running);
    assert_names (err, i);
    g_clear_error (&err);
    now = vss_query_matcher_get_queries (m);
    g_assert_nonnull (strstr (now, "\"id\":\"good\""));
    g_free (now);
    g_assert_false (vss_query_matcher_start (m, local_embedder (), &err));
    assert_names (err, i);
    g_clear_error (&err);
    /* Still stopped: nothing compared. */
    got = match_at (m, &vx, v, 0, 0, &r, &c);
    g_assert_cmpuint (c.comparisons, ==, 0);
    g_free (got);
  }
  /* A refused add-query does not make the set invalid; a valid set
   * replaces the refused one. */
  g_assert_true (vss_query_matcher_set_queries (m, good, NULL, &err));
  g_assert_null (vss_query_matcher_add_query (m, "{\"image\":\"/x.jpg\","
          "\"threshold\":9}", &err));
  g_assert_nonnull (strstr (err->message, "'threshold' is 9"));
  g_clear_error (&err);
  g_assert_true (vss_query_matcher_start (m, local_embedder (), &err));
  g_assert_no_error (err);

  /* Running: refused, the old set keeps matching. */
  for (guint i = 0; i < G_N_ELEMENTS (invalid_sets); i++) {
    g_assert_false (vss_query_matcher_set_queries (m, invalid_sets[i].json,
            &running, &err));
    g_assert_true (running);
    assert_names (err, i);
    g_clear_error (&err);
    got = match_at (m, &vx, v, 1000 * i, 0, &r, &c);
    g_assert_cmpstr (got, ==, "good");
    g_free (got);
  }
  /* Valid JSON that cannot be embedded: a text with the local provider,
   * a missing image. The old set stays. */
  g_assert_false (vss_query_matcher_set_queries (m, "[{\"id\":\"t\","
          "\"text\":\"a red car\"}]", &running, &err));
  g_assert_true (g_error_matches (err, GST_VSS_QUERY_ERROR,
          GST_VSS_QUERY_ERROR_UNSUPPORTED));
  g_assert_nonnull (strstr (err->message, "query 't'"));
  g_clear_error (&err);
  g_assert_false (vss_query_matcher_set_queries (m, "[{\"id\":\"gone\","
          "\"image\":\"/nonexistent/x.jpg\"}]", &running, &err));
  g_assert_nonnull (strstr (err->message, "query 'gone'"));
  g_clear_error (&err);
  /* add-query: one object, a new id. */
  g_assert_null (vss_query_matcher_add_query (m, good, &err));
  g_assert_true (g_error_matches (err, GST_VSS_QUERY_ERROR,
          GST_VSS_QUERY_ERROR_DUPLICATE));
  g_clear_error (&err);
  g_assert_null (vss_query_matcher_add_query (m, "[{\"text\":\"a\"},"
          "{\"text\":\"b\"}]", &err));
  g_assert_nonnull (strstr (err->message, "exactly one"));
  g_clear_error (&err);
  g_assert_cmpuint (vss_query_matcher_get_n_queries (m), ==, 1);
  now = vss_query_matcher_get_queries (m);
  g_assert_nonnull (strstr (now, "\"id\":\"good\""));
  g_free (now);
  got = match_at (m, &vx, v, 100000, 0, &r, &c);
  g_assert_cmpstr (got, ==, "good");
  g_free (got);

  /* A set refused before start, while stopped, fails the next start even
   * though the last start succeeded. */
  vss_query_matcher_stop (m);
  g_assert_false (vss_query_matcher_set_queries (m, "[", NULL, &err));
  g_clear_error (&err);
  g_assert_false (vss_query_matcher_start (m, local_embedder (), &err));
  g_assert_nonnull (err);
  g_clear_error (&err);

  g_free (v);
  g_free (good);
  reported_clear (&r);
  vectors_clear (&vx);
}

static void
test_matcher_add_remove (void)
{
  g_autoptr (VssQueryMatcher) m = vss_query_matcher_new ();
  Vectors vx;
  Reported r;
  VssQueryMatchCounts c;
  GError *err = NULL;
  gchar *q, *id, *got, *json;
  gfloat *v;

  vectors_init (&vx);
  reported_init (&r);
  v = vector_at (&vx, 0, 0.05);
  /* Ids: "qN" for queries without one, never one in use. */
  json = g_strdup_printf ("[{\"image\":\"%s\",\"threshold\":0.01},{\"id\":"
      "\"q2\",\"image\":\"%s\",\"threshold\":0.01}]", photo[0], photo[1]);
  g_assert_true (vss_query_matcher_set_queries (m, json, NULL, &err));
  g_assert_true (vss_query_matcher_start (m, local_embedder (), &err));
  got = match_at (m, &vx, v, 0, 0, &r, &c);
  g_assert_cmpstr (got, ==, "");
  g_free (got);

  q = g_strdup_printf ("{\"image\":\"%s\",\"threshold\":0.1}", photo[0]);
  id = vss_query_matcher_add_query (m, q, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (id, ==, "q3");
  g_assert_cmpuint (vss_query_matcher_get_n_queries (m), ==, 3);
  got = match_at (m, &vx, v, 0, 0, &r, &c);
  g_assert_cmpstr (got, ==, "q3");
  g_assert_cmpuint (c.comparisons, ==, 3);
  g_free (got);

  g_assert_true (vss_query_matcher_remove_query (m, "q3"));
  g_assert_false (vss_query_matcher_remove_query (m, "q3"));
  g_assert_false (vss_query_matcher_remove_query (m, NULL));
  got = match_at (m, &vx, v, 0, 0, &r, &c);
  g_assert_cmpstr (got, ==, "");
  g_assert_cmpuint (c.comparisons, ==, 2);
  g_free (got);
  {
    gchar *s = vss_query_matcher_get_queries (m);
    GPtrArray *specs = gst_vss_query_specs_from_json (s, &err);

    g_assert_no_error (err);
    g_assert_cmpuint (specs->len, ==, 2);
    g_assert_cmpstr (((GstVssQuerySpec *) specs->pdata[0])->id, ==, "q1");
    g_assert_cmpstr (((GstVssQuerySpec *) specs->pdata[1])->id, ==, "q2");
    g_ptr_array_unref (specs);
    g_free (s);
  }
  /* Added while stopped: embedded at the next start. */
  vss_query_matcher_stop (m);
  g_free (id);
  id = vss_query_matcher_add_query (m, q, &err);
  g_assert_cmpstr (id, ==, "q4");
  got = match_at (m, &vx, v, 0, 0, &r, &c);
  g_assert_cmpuint (c.comparisons, ==, 0);
  g_free (got);
  g_assert_true (vss_query_matcher_start (m, local_embedder (), &err));
  got = match_at (m, &vx, v, 0, 0, &r, &c);
  g_assert_cmpstr (got, ==, "q4");
  g_free (got);

  g_free (id);
  g_free (q);
  g_free (v);
  g_free (json);
  reported_clear (&r);
  vectors_clear (&vx);
}

typedef struct
{
  guint calls;
  gboolean fail;
} Maker;

static GstVssQueryEmbedder *
make_local (gpointer data, GError ** error)
{
  Maker *mk = data;

  mk->calls++;
  if (mk->fail) {
    g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_EMBED,
        "no embedder today");
    return NULL;
  }
  return local_embedder ();
}

static void
test_matcher_embed (void)
{
  g_autoptr (VssQueryMatcher) m = vss_query_matcher_new ();
  Maker mk = { 0, FALSE };
  Vectors vx;
  GError *err = NULL;
  GBytes *img;
  gchar *data;
  gsize len;
  guint dim = 0;
  gfloat *v;

  vectors_init (&vx);
  g_assert_true (g_file_get_contents (photo[0], &data, &len, NULL));
  img = g_bytes_new_take (data, len);

  /* Stopped: a temporary embedder from the callback. */
  v = vss_query_matcher_embed (m, NULL, img, make_local, &mk, &dim, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (mk.calls, ==, 1);
  g_assert_cmpuint (dim, ==, vx.dim);
  vss_normalize_f32 (v, dim);
  g_assert_cmpfloat_with_epsilon (dot (v, vx.q[0], dim), 1.0, 1e-4);
  g_free (v);
  mk.fail = TRUE;
  g_assert_null (vss_query_matcher_embed (m, NULL, img, make_local, &mk,
          &dim, &err));
  g_assert_nonnull (strstr (err->message, "no embedder today"));
  g_clear_error (&err);
  /* Started: the matcher's own; the callback is not asked. */
  g_assert_true (vss_query_matcher_start (m, local_embedder (), &err));
  v = vss_query_matcher_embed (m, NULL, img, make_local, &mk, &dim, &err);
  g_assert_nonnull (v);
  g_assert_cmpuint (mk.calls, ==, 2);
  g_free (v);
  /* The embedder's refusal comes through. */
  g_assert_null (vss_query_matcher_embed (m, "a lake", NULL, make_local, &mk,
          &dim, &err));
  g_assert_true (g_error_matches (err, GST_VSS_QUERY_ERROR,
          GST_VSS_QUERY_ERROR_UNSUPPORTED));
  g_clear_error (&err);
  g_bytes_unref (img);
  vectors_clear (&vx);
}

/* ---- history: redis-server with the module ---- */

#define DIM 8

typedef struct
{
  VssTestRedis *redis;
  gchar *url;
  VssValkeyClient *client;
  gint64 now_ms;
  gchar *key[5];                /* cam1 now-1h, cam2 now-2h, live now-1h,
                                 * cam3 now-3d, cam4 now-1h (far) */
} Store;

static VssTestRedis *
start_redis (void)
{
  VssTestRedisOptions o = { 0, };
  VssTestRedis *redis;
  GError *err = NULL;

  o.module = module_path;
  redis = vss_test_redis_start (&o, &err);
  g_assert_no_error (err);
  return redis;
}

static void
unit (gfloat * v, gdouble x, gdouble y)
{
  memset (v, 0, DIM * sizeof (gfloat));
  v[0] = (gfloat) x;
  v[1] = (gfloat) y;
  vss_normalize_f32 (v, DIM);
}

/* Writes a frame as vsssink does (the frame record through the same
 * helper); returns its key. */
static gchar *
store_frame (Store * st, const gchar * stream, gint64 ts_ms, const gfloat * v)
{
  GstVssRecord r;
  gchar id[GST_VSS_FRAME_ID_SIZE];
  VssValkeyPipeline *p = vss_valkey_pipeline_new ();
  const VssValkeyReply *reply;
  GError *err = NULL;
  gchar *key;

  gst_vss_frame_id_new (ts_ms * 1000, id);
  gst_vss_record_init (&r);
  r.id = g_strdup (id);
  r.stream = g_strdup (stream);
  r.ts_ms = ts_ms;
  r.pts = 0;
  r.uri = g_strdup_printf ("file:///srv/frames/%s/%s.jpg", stream, id);
  r.size = 1000;
  r.model = g_strdup ("test-8d");
  r.vector = gst_vss_record_vector_from_floats (v, DIM);
  key = gst_vss_record_key (GST_VSS_RECORD_DEFAULT_KEY_PREFIX, stream, id);
  vss_valkey_record_append (p, key, &r, 0);
  vss_valkey_client_execute (st->client, p, NULL, &err);
  g_assert_no_error (err);
  reply = vss_valkey_pipeline_get_reply (p, 0);
  g_assert_nonnull (reply);
  g_assert_cmpint (reply->type, ==, REDIS_REPLY_INTEGER);
  vss_valkey_pipeline_free (p);
  gst_vss_record_clear (&r);
  return key;
}

static void
store_setup (Store * st)
{
  VssValkeyIndexSpec spec = { 0, };
  GError *err = NULL;
  gfloat e0[DIM], near[DIM], e1[DIM];
  const gint64 hour = 3600 * 1000;

  memset (st, 0, sizeof (*st));
  st->redis = start_redis ();
  st->url = vss_test_redis_get_url (st->redis, "cluster=no");
  st->client = vss_valkey_client_new_from_url (st->url, &err);
  g_assert_no_error (err);
  vss_valkey_record_index_spec (&spec, GST_VSS_RECORD_DEFAULT_INDEX,
      GST_VSS_RECORD_DEFAULT_KEY_PREFIX, DIM);
  vss_valkey_ensure_index (st->client, &spec, FALSE, NULL, &err);
  g_assert_no_error (err);

  st->now_ms = g_get_real_time () / 1000;
  unit (e0, 1, 0);
  unit (near, 1, 0.3);          /* 1 - 1/sqrt(1.09) = 0.0422 from e0 */
  unit (e1, 0, 1);
  st->key[0] = store_frame (st, "cam1", st->now_ms - hour, e0);
  st->key[1] = store_frame (st, "cam2", st->now_ms - 2 * hour, near);
  st->key[2] = store_frame (st, "live", st->now_ms - hour, e0);
  st->key[3] = store_frame (st, "cam3", st->now_ms - 72 * hour, e0);
  st->key[4] = store_frame (st, "cam4", st->now_ms - hour, e1);
}

static void
store_teardown (Store * st)
{
  for (guint i = 0; i < G_N_ELEMENTS (st->key); i++)
    g_free (st->key[i]);
  vss_valkey_client_free (st->client);
  g_free (st->url);
  vss_test_redis_free (st->redis);
}

/* What the callback got, one per finished search. */
typedef struct
{
  VssQueryHistoryFrame frame;
  gchar *uri;
  gchar *keys;                  /* the hits' keys joined by "," */
  GArray *distances;
  GError *error;
  GThread *thread;
} Done;

static void
done_free (Done * d)
{
  g_free (d->uri);
  g_free (d->keys);
  if (d->distances)
    g_array_unref (d->distances);
  g_clear_error (&d->error);
  g_free (d);
}

static void
on_history (const VssQueryHistoryFrame * frame, GPtrArray * hits,
    const GError * error, gpointer user_data)
{
  GAsyncQueue *q = user_data;
  Done *d = g_new0 (Done, 1);

  d->frame = *frame;
  d->uri = g_strdup (frame->uri);
  d->frame.uri = d->uri;
  d->thread = g_thread_self ();
  if (hits) {
    GString *s = g_string_new (NULL);

    d->distances = g_array_new (FALSE, FALSE, sizeof (gdouble));
    for (guint i = 0; i < hits->len; i++) {
      GstVssQuerySearchResult *h = g_ptr_array_index (hits, i);

      g_string_append_printf (s, "%s%s", i ? "," : "", h->key);
      g_array_append_val (d->distances, h->distance);
    }
    d->keys = g_string_free (s, FALSE);
  }
  if (error)
    d->error = g_error_copy (error);
  g_async_queue_push (q, d);
}

static Done *
wait_done (GAsyncQueue * q)
{
  Done *d = g_async_queue_timeout_pop (q, 20 * G_USEC_PER_SEC);

  g_assert_nonnull (d);
  return d;
}

static VssQueryHistory *
history_new (const gchar * url, const gchar * index, guint queue_size,
    guint64 interval_ms, GAsyncQueue * q)
{
  VssQueryHistoryOptions o = { 0, };
  GError *err = NULL;
  VssQueryHistory *h;

  o.valkey_url = url;
  o.index = index;
  o.stream_id = "live";
  o.k = 5;
  o.queue_size = queue_size;
  o.interval_ms = interval_ms;
  h = vss_query_history_new (&o, on_history, q, &err);
  g_assert_no_error (err);
  g_assert_nonnull (h);
  return h;
}

static void
frame_init (VssQueryHistoryFrame * f, const gchar * id_seed, gint64 ts_ms,
    GstClockTime rt, gdouble max_distance, guint64 max_age_ms,
    guint64 min_age_ms)
{
  memset (f, 0, sizeof (*f));
  g_strlcpy (f->frame_id, id_seed, sizeof (f->frame_id));
  f->pts = rt;
  f->running_time = rt;
  f->ts_ms = ts_ms;
  f->uri = "file:///srv/frames/live/x.jpg";
  f->max_distance = max_distance;
  f->max_age_ms = max_age_ms;
  f->min_age_ms = min_age_ms;
}

/* Searches @v with these limits and returns the callback's answer. */
static Done *
search (VssQueryHistory * h, GAsyncQueue * q, const gfloat * v,
    const gchar * id, gint64 ts_ms, gdouble max_distance,
    guint64 max_age_ms, guint64 min_age_ms)
{
  VssQueryHistoryFrame f;
  Done *d;

  frame_init (&f, id, ts_ms, GST_CLOCK_TIME_NONE, max_distance, max_age_ms,
      min_age_ms);
  g_assert_cmpint (vss_query_history_submit (h, v, DIM, &f), ==,
      VSS_QUERY_HISTORY_QUEUED);
  d = wait_done (q);
  g_assert_cmpstr (d->frame.frame_id, ==, id);
  return d;
}

static void
test_history_results (void)
{
  GAsyncQueue *q = g_async_queue_new_full ((GDestroyNotify) done_free);
  const guint64 day = 86400 * 1000;
  VssQueryHistoryStats stats;
  VssQueryHistory *h;
  Store st;
  gfloat e0[DIM];
  gchar *want;
  Done *d;

  store_setup (&st);
  unit (e0, 1, 0);
  h = history_new (st.url, NULL, 4, 0, q);

  /* Within 2 days and 0.1: cam1 (0) then cam2 (0.042); not this stream's
   * own frame, not cam3's (3 days), not cam4's (far). */
  d = search (h, q, e0, "f1", st.now_ms, 0.1, 2 * day, 0);
  g_assert_no_error (d->error);
  want = g_strdup_printf ("%s,%s", st.key[0], st.key[1]);
  g_assert_cmpstr (d->keys, ==, want);
  g_free (want);
  g_assert_cmpfloat_with_epsilon (g_array_index (d->distances, gdouble, 0),
      0, 1e-4);
  g_assert_cmpfloat_with_epsilon (g_array_index (d->distances, gdouble, 1),
      1 - 1 / sqrt (1.09), 1e-4);
  /* The frame comes back as submitted, on the worker thread. */
  g_assert_cmpint (d->frame.ts_ms, ==, st.now_ms);
  g_assert_cmpstr (d->frame.uri, ==, "file:///srv/frames/live/x.jpg");
  g_assert_cmpfloat (d->frame.max_distance, ==, 0.1);
  g_assert_true (d->thread != g_thread_self ());
  done_free (d);

  /* A tighter distance: cam1 only. */
  d = search (h, q, e0, "f2", st.now_ms, 0.01, 2 * day, 0);
  g_assert_cmpstr (d->keys, ==, st.key[0]);
  done_free (d);
  /* At least 90 minutes old: cam2 only. */
  d = search (h, q, e0, "f3", st.now_ms, 0.1, 2 * day, 90 * 60 * 1000);
  g_assert_cmpstr (d->keys, ==, st.key[1]);
  done_free (d);
  /* No age limit: cam3's old copy too (tied with cam1), then cam2. */
  d = search (h, q, e0, "f4", st.now_ms, 0.1, 0, 0);
  g_assert_nonnull (d->keys);
  {
    gchar **k = g_strsplit (d->keys, ",", -1);

    g_assert_cmpuint (g_strv_length (k), ==, 3);
    g_assert_true ((!g_strcmp0 (k[0], st.key[0])
            && !g_strcmp0 (k[1], st.key[3])) || (!g_strcmp0 (k[0], st.key[3])
            && !g_strcmp0 (k[1], st.key[0])));
    g_assert_cmpstr (k[2], ==, st.key[1]);
    g_strfreev (k);
  }
  done_free (d);
  /* Nothing near: an empty answer, not an error. */
  {
    gfloat far[DIM];

    memset (far, 0, sizeof (far));
    far[5] = 1;
    d = search (h, q, far, "f5", st.now_ms, 0.1, 0, 0);
    g_assert_no_error (d->error);
    g_assert_cmpstr (d->keys, ==, "");
    done_free (d);
  }
  vss_query_history_get_stats (h, &stats);
  g_assert_cmpuint (stats.submitted, ==, 5);
  g_assert_cmpuint (stats.searched, ==, 5);
  g_assert_cmpuint (stats.matches, ==, 2 + 1 + 1 + 3 + 0);
  g_assert_cmpuint (stats.errors, ==, 0);
  g_assert_cmpuint (stats.dropped, ==, 0);
  g_assert_cmpuint (stats.latency_us_total, >, 0);
  vss_query_history_free (h);

  /* A search that fails: the callback has the error, stats count it. */
  h = history_new (st.url, "nosuchindex", 4, 0, q);
  {
    VssQueryHistoryFrame f;

    frame_init (&f, "f6", st.now_ms, 0, 0.1, 0, 0);
    g_assert_cmpint (vss_query_history_submit (h, e0, DIM, &f), ==,
        VSS_QUERY_HISTORY_QUEUED);
    d = wait_done (q);
    g_assert_nonnull (d->error);
    g_assert_false (g_error_matches (d->error, G_IO_ERROR,
            G_IO_ERROR_CANCELLED));
    g_assert_null (d->keys);
    done_free (d);
  }
  vss_query_history_get_stats (h, &stats);
  g_assert_cmpuint (stats.errors, ==, 1);
  g_assert_cmpuint (stats.searched, ==, 0);
  vss_query_history_free (h);

  g_async_queue_unref (q);
  store_teardown (&st);
}

static void
test_history_interval (void)
{
  GAsyncQueue *q = g_async_queue_new_full ((GDestroyNotify) done_free);
  /* running time (ms; -1: unknown) -> what submit says */
  const struct
  {
    gint64 rt_ms;
    VssQueryHistorySubmit want;
  } seq[] = {
    {0, VSS_QUERY_HISTORY_QUEUED}, {400, VSS_QUERY_HISTORY_SKIPPED},
    {999, VSS_QUERY_HISTORY_SKIPPED}, {1000, VSS_QUERY_HISTORY_QUEUED},
    {1999, VSS_QUERY_HISTORY_SKIPPED}, {2000, VSS_QUERY_HISTORY_QUEUED},
    {-1, VSS_QUERY_HISTORY_QUEUED}, {2100, VSS_QUERY_HISTORY_QUEUED},
  };
  VssQueryHistoryStats stats;
  VssQueryHistory *h;
  Store st;
  gfloat e0[DIM];
  guint queued = 0;

  store_setup (&st);
  unit (e0, 1, 0);
  h = history_new (st.url, NULL, 16, 1000, q);
  for (guint i = 0; i < G_N_ELEMENTS (seq); i++) {
    VssQueryHistoryFrame f;
    gchar id[16];

    g_snprintf (id, sizeof id, "i%u", i);
    frame_init (&f, id, st.now_ms, seq[i].rt_ms < 0 ? GST_CLOCK_TIME_NONE :
        (GstClockTime) seq[i].rt_ms * GST_MSECOND, 0.1, 0, 0);
    g_assert_cmpint (vss_query_history_submit (h, e0, DIM, &f), ==,
        seq[i].want);
    queued += seq[i].want == VSS_QUERY_HISTORY_QUEUED;
  }
  /* Every queued frame is searched, in order. */
  for (guint i = 0; i < G_N_ELEMENTS (seq); i++) {
    Done *d;
    gchar id[16];

    if (seq[i].want != VSS_QUERY_HISTORY_QUEUED)
      continue;
    d = wait_done (q);
    g_snprintf (id, sizeof id, "i%u", i);
    g_assert_cmpstr (d->frame.frame_id, ==, id);
    g_assert_no_error (d->error);
    done_free (d);
  }
  vss_query_history_get_stats (h, &stats);
  g_assert_cmpuint (stats.submitted, ==, queued);
  g_assert_cmpuint (stats.searched, ==, queued);
  g_assert_cmpuint (stats.dropped, ==, 0);
  vss_query_history_free (h);
  g_async_queue_unref (q);
  store_teardown (&st);
}

/* A server that stops answering (CLIENT PAUSE): frames beyond the queue
 * are dropped and counted without waiting, and stop cancels the search in
 * flight and forgets the queued ones. */
static void
test_history_overflow_and_stop (void)
{
  GAsyncQueue *q = g_async_queue_new_full ((GDestroyNotify) done_free);
  VssQueryHistoryStats stats;
  VssQueryHistoryFrame f;
  VssQueryHistory *h;
  GError *err = NULL;
  Store st;
  gfloat e0[DIM];
  gchar *out;
  gint64 t0;
  guint queued = 0, dropped = 0;
  Done *d;

  store_setup (&st);
  unit (e0, 1, 0);
  h = history_new (st.url, NULL, 2, 0, q);
  out = vss_test_redis_cli (st.redis, 0, &err, "CLIENT", "PAUSE", "60000",
      "ALL", NULL);
  g_assert_no_error (err);
  g_assert_cmpstr (g_strstrip (out), ==, "OK");
  g_free (out);

  frame_init (&f, "first", st.now_ms, 0, 0.1, 0, 0);
  g_assert_cmpint (vss_query_history_submit (h, e0, DIM, &f), ==,
      VSS_QUERY_HISTORY_QUEUED);
  /* Wait for the worker to take it (it then hangs on the server). */
  for (guint i = 0; i < 200; i++) {
    vss_query_history_get_stats (h, &stats);
    if (stats.queued == 0)
      break;
    g_usleep (10000);
  }
  g_assert_cmpuint (stats.queued, ==, 0);

  t0 = g_get_monotonic_time ();
  for (guint i = 0; i < 10; i++) {
    gchar id[16];

    g_snprintf (id, sizeof id, "n%u", i);
    frame_init (&f, id, st.now_ms, (i + 1) * GST_SECOND, 0.1, 0, 0);
    switch (vss_query_history_submit (h, e0, DIM, &f)) {
      case VSS_QUERY_HISTORY_QUEUED:
        queued++;
        break;
      case VSS_QUERY_HISTORY_DROPPED:
        dropped++;
        break;
      default:
        g_assert_not_reached ();
    }
  }
  /* Never waited on the server. */
  g_assert_cmpint (g_get_monotonic_time () - t0, <, G_USEC_PER_SEC);
  g_assert_cmpuint (queued, ==, 2);
  g_assert_cmpuint (dropped, ==, 8);
  vss_query_history_get_stats (h, &stats);
  g_assert_cmpuint (stats.submitted, ==, 3);
  g_assert_cmpuint (stats.dropped, ==, 8);
  g_assert_cmpuint (stats.queue_max, ==, 2);
  g_assert_cmpuint (stats.queued, ==, 2);
  g_assert_null (g_async_queue_try_pop (q));

  /* Stop: well before the pause ends. */
  t0 = g_get_monotonic_time ();
  vss_query_history_stop (h);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 10 * G_USEC_PER_SEC);
  /* The search in flight answered "cancelled"; the queued two never ran. */
  d = g_async_queue_try_pop (q);
  g_assert_nonnull (d);
  g_assert_cmpstr (d->frame.frame_id, ==, "first");
  g_assert_true (g_error_matches (d->error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  done_free (d);
  g_assert_null (g_async_queue_try_pop (q));
  vss_query_history_get_stats (h, &stats);
  g_assert_cmpuint (stats.errors, ==, 1);
  g_assert_cmpuint (stats.searched, ==, 0);
  g_assert_cmpuint (stats.queued, ==, 0);

  /* Stopped: nothing more is taken or called back. */
  frame_init (&f, "late", st.now_ms, 100 * GST_SECOND, 0.1, 0, 0);
  g_assert_cmpint (vss_query_history_submit (h, e0, DIM, &f), ==,
      VSS_QUERY_HISTORY_STOPPED);
  vss_query_history_stop (h);
  g_usleep (200000);
  g_assert_null (g_async_queue_try_pop (q));
  vss_query_history_get_stats (h, &stats);
  g_assert_cmpuint (stats.submitted, ==, 3);
  g_assert_cmpuint (stats.dropped, ==, 8);
  vss_query_history_free (h);

  g_async_queue_unref (q);
  /* The paused server is killed by the fixture. */
  store_teardown (&st);
}

static void
test_history_bad_options (void)
{
  VssQueryHistoryOptions o = { 0, };
  GError *err = NULL;

  o.valkey_url = "http://127.0.0.1:1";
  o.stream_id = "live";
  o.k = 5;
  o.queue_size = 1;
  g_assert_null (vss_query_history_new (&o, on_history, NULL, &err));
  g_assert_nonnull (err);
  g_clear_error (&err);
  o.valkey_url = "redis://127.0.0.1:1";
  o.stream_id = NULL;
  g_assert_null (vss_query_history_new (&o, on_history, NULL, &err));
  g_assert_nonnull (strstr (err->message, "stream"));
  g_clear_error (&err);
}

int
main (int argc, char **argv)
{
  GError *err = NULL;
  gchar **paths;
  gint ret;

  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  if (argc < 2) {
    g_printerr ("usage: %s MODULE.so\n", argv[0]);
    return 2;
  }
  module_path = argv[1];
  paths = vss_scene_default_photo_paths (&err);
  g_assert_no_error (err);
  for (guint i = 0; i < 3; i++)
    photo[i] = g_strdup (paths[i]);
  g_strfreev (paths);

  g_test_add_func ("/query-engine/matcher/thresholds", test_matcher_thresholds);
  g_test_add_func ("/query-engine/matcher/cooldowns", test_matcher_cooldowns);
  g_test_add_func ("/query-engine/matcher/invalid-sets",
      test_matcher_invalid_sets);
  g_test_add_func ("/query-engine/matcher/add-remove", test_matcher_add_remove);
  g_test_add_func ("/query-engine/matcher/embed", test_matcher_embed);
  g_test_add_func ("/query-engine/history/results", test_history_results);
  g_test_add_func ("/query-engine/history/interval", test_history_interval);
  g_test_add_func ("/query-engine/history/overflow-and-stop",
      test_history_overflow_and_stop);
  g_test_add_func ("/query-engine/history/bad-options",
      test_history_bad_options);
  ret = g_test_run ();
  for (guint i = 0; i < 3; i++)
    g_free (photo[i]);
  return ret;
}
