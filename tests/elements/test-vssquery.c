/* gst-vss: vssquery element tests
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Local provider: frames are real photographs (the Debian wallpapers that
 * tests/fixtures uses), embedded by vssembed, and queries are image files of
 * the same or other photographs. Bedrock: tests/servers/vss-bedrock-server
 * with a text map, so that a text maps to a known image's embedding at a
 * chosen cosine distance.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <signal.h>
#include <string.h>
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/app/gstappsink.h>
#include "vss-test-bedrock.h"
#include "gstvss.h"
#include "query/gstvssqueryembed.h"
#include "query/gstvssqueryset.h"
#include "query/gstvssquerydot.h"
#include "vss-scene.h"

#define AK "AKIDVSSQUERYTEST0001"
#define SK "vssquery/test+Secret0123456789abcdefghij"
#define REGION "eu-west-1"

static gchar *photo[3];
static gchar *tmpdir;

/* ---- fixtures ---- */

static void
photos_setup (void)
{
  GError *err = NULL;
  gchar **paths = vss_scene_default_photo_paths (&err);

  fail_unless (paths != NULL, "%s", err ? err->message : "");
  for (guint i = 0; i < 3; i++)
    photo[i] = g_strdup (paths[i]);
  g_strfreev (paths);
  tmpdir = g_dir_make_tmp ("vssquery-XXXXXX", &err);
  fail_unless (tmpdir != NULL);
}

static void
rm_rf (const gchar * dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *n;

  while (d && (n = g_dir_read_name (d))) {
    gchar *p = g_build_filename (dir, n, NULL);
    g_unlink (p);
    g_free (p);
  }
  if (d)
    g_dir_close (d);
  g_rmdir (dir);
}

static void
photos_teardown (void)
{
  for (guint i = 0; i < 3; i++)
    g_clear_pointer (&photo[i], g_free);
  rm_rf (tmpdir);
  g_clear_pointer (&tmpdir, g_free);
}

/* One frame of @path as @caps (raw or JPEG), through a small pipeline. */
static GstSample *
load_sample (const gchar * path, const gchar * caps)
{
  gchar *desc = g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! "
      "videoconvert ! videoscale ! %s ! appsink name=sink", path, caps);
  GstElement *p = gst_parse_launch (desc, NULL);
  GstElement *sink;
  GstSample *s;

  fail_unless (p != NULL, "cannot build %s", desc);
  sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  gst_element_set_state (p, GST_STATE_PLAYING);
  s = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 30 * GST_SECOND);
  fail_unless (s != NULL, "no frame from %s", path);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (p);
  g_free (desc);
  return s;
}

#define RAW_CAPS "video/x-raw,format=I420,width=320,height=240"

static GstBuffer *
frame_of (guint i, guint index)
{
  GstSample *s = load_sample (photo[i], RAW_CAPS);
  GstBuffer *b = gst_buffer_copy_deep (gst_sample_get_buffer (s));

  gst_sample_unref (s);
  GST_BUFFER_PTS (b) = index * GST_SECOND;
  GST_BUFFER_DURATION (b) = GST_SECOND;
  return b;
}

typedef struct
{
  GstHarness *h;
  GstElement *query;
  GstBus *bus;
} Q;

static Q *
q_new (const gchar * embed_props, const gchar * query_props, const gchar * caps)
{
  Q *q = g_new0 (Q, 1);
  gchar *props = g_strdup (query_props), *queries = NULL, *desc;
  gchar *start = strstr (props, "queries='");

  /* gst_parse does not strip single quotes: set the JSON directly. */
  if (start) {
    gchar *end = strchr (start + 9, '\'');
    queries = g_strndup (start + 9, end - start - 9);
    memmove (start, end + 1, strlen (end + 1) + 1);
  }
  desc = g_strdup_printf ("vssembed %s ! vssquery name=q %s", embed_props,
      props);
  q->h = gst_harness_new_parse (desc);
  g_free (desc);
  g_free (props);
  q->query = gst_harness_find_element (q->h, "vssquery");
  if (queries)
    g_object_set (q->query, "queries", queries, NULL);
  g_free (queries);
  q->bus = gst_bus_new ();
  gst_element_set_bus (q->h->element, q->bus);
  gst_harness_set_src_caps_str (q->h, caps ? caps : RAW_CAPS ",framerate=1/1");
  return q;
}

static void
q_free (Q * q)
{
  gst_harness_teardown (q->h);
  gst_object_unref (q->query);
  gst_bus_set_flushing (q->bus, TRUE);
  gst_object_unref (q->bus);
  g_free (q);
}

/* Pushes @buf and pulls it back; returns the vss-match messages posted. */
static GList *
q_push (Q * q, GstBuffer * buf)
{
  GList *out = NULL;
  GstMessage *m;

  fail_unless_equals_int (gst_harness_push (q->h, buf), GST_FLOW_OK);
  gst_buffer_unref (gst_harness_pull (q->h));
  while ((m = gst_bus_pop (q->bus))) {
    const GstStructure *s = gst_message_get_structure (m);

    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ELEMENT
        && gst_structure_has_name (s, "vss-match"))
      out = g_list_append (out, m);
    else
      gst_message_unref (m);
  }
  return out;
}

static void
free_msgs (GList * l)
{
  g_list_free_full (l, (GDestroyNotify) gst_message_unref);
}

static GstMessage *
pop_type (Q * q, GstMessageType type)
{
  GstMessage *m;

  while ((m = gst_bus_pop (q->bus))) {
    if (GST_MESSAGE_TYPE (m) == type)
      return m;
    gst_message_unref (m);
  }
  return NULL;
}

/* Custom downstream vss-match events that reached the harness. */
static guint
count_match_events (Q * q, const gchar * query_id)
{
  GstEvent *e;
  guint n = 0;

  while ((e = gst_harness_try_pull_event (q->h))) {
    if (GST_EVENT_TYPE (e) == GST_EVENT_CUSTOM_DOWNSTREAM
        && gst_event_has_name (e, "vss-match")) {
      const GstStructure *s = gst_event_get_structure (e);
      if (!query_id || !g_strcmp0 (gst_structure_get_string (s, "query-id"),
              query_id))
        n++;
    }
    gst_event_unref (e);
  }
  return n;
}

static guint64
stat_u64 (GstElement * e, const gchar * name)
{
  GstStructure *s;
  guint64 v = 0;

  g_object_get (e, "stats", &s, NULL);
  fail_unless (gst_structure_get_uint64 (s, name, &v), "no stat %s", name);
  gst_structure_free (s);
  return v;
}

static const GstStructure *
msg_s (GList * l, guint i)
{
  return gst_message_get_structure (g_list_nth_data (l, i));
}

/* ---- local provider ---- */

GST_START_TEST (test_local_hit_and_miss)
{
  gchar *props = g_strdup_printf ("queries='[{\"id\":\"a\",\"image\":\"%s\","
      "\"threshold\":0.15,\"label\":\"photo A\"},{\"id\":\"b\","
      "\"image\":\"%s\",\"threshold\":0.15}]' stream-id=cam1 "
      "object-uri-prefix=file:///srv/frames/", photo[0], photo[1]);
  Q *q = q_new ("", props, NULL);
  GList *m;
  const GstStructure *s;
  gdouble d;
  guint64 pts, rt;
  gint64 ts;
  const gchar *fid, *uri;
  gchar *want;

  gst_harness_play (q->h);
  m = q_push (q, frame_of (0, 3));
  fail_unless_equals_int (g_list_length (m), 1);
  s = msg_s (m, 0);
  fail_unless_equals_string (gst_structure_get_string (s, "source"), "query");
  fail_unless_equals_string (gst_structure_get_string (s, "query-id"), "a");
  fail_unless_equals_string (gst_structure_get_string (s, "label"), "photo A");
  fail_unless_equals_string (gst_structure_get_string (s, "stream-id"), "cam1");
  fail_unless (gst_structure_get_double (s, "distance", &d));
  /* Same photograph, decoded at another size: nearly identical. */
  fail_unless (d >= 0 && d < 0.05, "distance %f", d);
  fail_unless (gst_structure_get_uint64 (s, "pts", &pts));
  fail_unless_equals_uint64 (pts, 3 * GST_SECOND);
  fail_unless (gst_structure_get_uint64 (s, "running-time", &rt));
  fail_unless_equals_uint64 (rt, 3 * GST_SECOND);
  fail_unless (gst_structure_get_int64 (s, "timestamp", &ts));
  fail_unless (llabs (ts - g_get_real_time () / 1000) < 60000);
  fid = gst_structure_get_string (s, "frame-id");
  fail_unless (gst_vss_frame_id_is_valid (fid));
  uri = gst_structure_get_string (s, "uri");
  {
    GDateTime *dt = g_date_time_new_from_unix_utc (ts / 1000);
    gchar *date = g_date_time_format (dt, "%Y/%m/%d");
    want = g_strdup_printf ("file:///srv/frames/cam1/%s/%s.jpg", date, fid);
    g_free (date);
    g_date_time_unref (dt);
  }
  fail_unless_equals_string (uri, want);
  g_free (want);
  /* The same structure went downstream as a custom event. */
  {
    GstEvent *e;
    guint n_ev = 0;

    while ((e = gst_harness_try_pull_event (q->h))) {
      if (GST_EVENT_TYPE (e) == GST_EVENT_CUSTOM_DOWNSTREAM) {
        fail_unless (gst_structure_is_equal (gst_event_get_structure (e), s));
        n_ev++;
      }
      gst_event_unref (e);
    }
    fail_unless_equals_int (n_ev, 1);
  }
  free_msgs (m);

  /* A third photograph matches neither query. */
  m = q_push (q, frame_of (2, 4));
  fail_unless_equals_int (g_list_length (m), 0);
  fail_unless_equals_int (count_match_events (q, NULL), 0);
  /* The second query's photograph matches only it. */
  m = q_push (q, frame_of (1, 5));
  fail_unless_equals_int (g_list_length (m), 1);
  fail_unless_equals_string (gst_structure_get_string (msg_s (m, 0),
          "query-id"), "b");
  free_msgs (m);

  fail_unless_equals_uint64 (stat_u64 (q->query, "frames"), 3);
  fail_unless_equals_uint64 (stat_u64 (q->query, "comparisons"), 6);
  fail_unless_equals_uint64 (stat_u64 (q->query, "matches"), 2);
  q_free (q);
  g_free (props);
}

GST_END_TEST;

/* The distance the local provider gives photo 0's frame against photo
 * @i's query image. */
static gdouble
local_distance (guint i)
{
  GstVssQueryEmbedderOptions o = { GST_VSS_QUERY_PROVIDER_LOCAL, };
  GstVssQueryEmbedder *e = gst_vss_query_embedder_new (&o, NULL);
  GstSample *s = load_sample (photo[0], RAW_CAPS);
  GstVideoInfo info;
  GstVideoFrame f;
  guint dim = gst_vss_query_embedder_get_dim (e);
  gfloat *a = g_new (gfloat, dim), *b;
  gdouble d;

  gst_video_info_from_caps (&info, gst_sample_get_caps (s));
  gst_video_frame_map (&f, &info, gst_sample_get_buffer (s), GST_MAP_READ);
  fail_unless (gst_vss_embed_local_frame (&f, a));
  gst_video_frame_unmap (&f);
  gst_sample_unref (s);
  b = gst_vss_query_embedder_embed_file (e, photo[i], NULL);
  fail_unless (b != NULL);
  d = 1.0 - gst_vss_query_dot_f32 (a, b, dim);
  g_free (a);
  g_free (b);
  gst_vss_query_embedder_free (e);
  return d;
}

GST_START_TEST (test_local_threshold)
{
  gdouble d_other = local_distance (1);
  gchar *props;
  Q *q;
  GList *m;

  fail_unless (d_other > 0.2, "photos 0 and 1 are too alike (%f)", d_other);
  /* Just above the distance: a hit; just below: a miss. */
  props = g_strdup_printf ("cooldown=0 queries='[{\"id\":\"in\",\"image\":"
      "\"%s\",\"threshold\":%.6f},{\"id\":\"out\",\"image\":\"%s\","
      "\"threshold\":%.6f}]'", photo[1], d_other + 0.01, photo[1],
      d_other - 0.01);
  q = q_new ("", props, NULL);
  gst_harness_play (q->h);
  m = q_push (q, frame_of (0, 0));
  fail_unless_equals_int (g_list_length (m), 1);
  fail_unless_equals_string (gst_structure_get_string (msg_s (m, 0),
          "query-id"), "in");
  free_msgs (m);
  q_free (q);
  g_free (props);
}

GST_END_TEST;

GST_START_TEST (test_local_cooldown)
{
  gchar *props = g_strdup_printf ("cooldown=2000 queries='[{\"id\":\"a\","
      "\"image\":\"%s\",\"threshold\":0.6},{\"id\":\"z\",\"image\":\"%s\","
      "\"threshold\":0.6,\"cooldown_ms\":0}]'", photo[0], photo[0]);
  Q *q = q_new ("", props, NULL);
  GList *m;
  guint i, n_a = 0, n_z = 0;
  GstBuffer *near = frame_of (0, 0), *far;

  /* A worse frame of the same photo: blended with another photo. */
  far = frame_of (1, 0);
  {
    GstMapInfo a, b;
    gst_buffer_map (near, &a, GST_MAP_READ);
    gst_buffer_map (far, &b, GST_MAP_WRITE);
    for (gsize j = 0; j < b.size; j++)
      b.data[j] = (guint8) ((a.data[j] * 3 + b.data[j]) / 4);
    gst_buffer_unmap (near, &a);
    gst_buffer_unmap (far, &b);
  }

  gst_harness_play (q->h);
  /* Frames at 0, 0.5, ..., 4.5 s of the blended (worse) picture: "a"
   * reports at 0, 2 and 4 s; "z" (cooldown 0) every time. */
  for (i = 0; i < 10; i++) {
    GstBuffer *b = gst_buffer_copy_deep (far);
    GList *l;

    GST_BUFFER_PTS (b) = i * GST_SECOND / 2;
    m = q_push (q, b);
    for (l = m; l; l = l->next) {
      const gchar *id = gst_structure_get_string (gst_message_get_structure
          (l->data), "query-id");
      if (!strcmp (id, "a")) {
        guint64 pts;
        gst_structure_get_uint64 (gst_message_get_structure (l->data), "pts",
            &pts);
        fail_unless (pts % (2 * GST_SECOND) == 0, "reported at %"
            GST_TIME_FORMAT, GST_TIME_ARGS (pts));
        n_a++;
      } else {
        n_z++;
      }
    }
    free_msgs (m);
  }
  fail_unless_equals_int (n_a, 3);
  fail_unless_equals_int (n_z, 10);
  fail_unless_equals_uint64 (stat_u64 (q->query, "suppressed"), 7);

  /* Within the cooldown, a closer frame is reported; an equal one not. */
  {
    GstBuffer *b = gst_buffer_copy_deep (near);
    GST_BUFFER_PTS (b) = 5 * GST_SECOND;
    m = q_push (q, gst_buffer_copy_deep (far));
    free_msgs (m);
    GST_BUFFER_PTS (b) = 5 * GST_SECOND + GST_SECOND / 4;
    m = q_push (q, b);
    n_a = 0;
    for (GList * l = m; l; l = l->next)
      n_a += !strcmp (gst_structure_get_string (gst_message_get_structure
              (l->data), "query-id"), "a");
    fail_unless_equals_int (n_a, 1);
    free_msgs (m);
    b = gst_buffer_copy_deep (near);
    GST_BUFFER_PTS (b) = 5 * GST_SECOND + GST_SECOND / 2;
    m = q_push (q, b);
    n_a = 0;
    for (GList * l = m; l; l = l->next)
      n_a += !strcmp (gst_structure_get_string (gst_message_get_structure
              (l->data), "query-id"), "a");
    fail_unless_equals_int (n_a, 0);
    free_msgs (m);
  }
  gst_buffer_unref (near);
  gst_buffer_unref (far);
  q_free (q);
  g_free (props);
}

GST_END_TEST;

GST_START_TEST (test_local_add_remove)
{
  Q *q = q_new ("", "cooldown=0", NULL);
  gchar *json, *id = NULL, *dup, *prop;
  gboolean removed;
  GList *m;
  GstMessage *w;
  GError *err = NULL;
  gchar *dbg = NULL;

  gst_harness_play (q->h);
  m = q_push (q, frame_of (0, 0));
  fail_unless_equals_int (g_list_length (m), 0);

  json = g_strdup_printf ("{\"image\":\"%s\",\"threshold\":0.2}", photo[0]);
  g_signal_emit_by_name (q->query, "add-query", json, &id);
  fail_unless (id != NULL);
  fail_unless_equals_string (id, "q1");
  m = q_push (q, frame_of (0, 1));
  fail_unless_equals_int (g_list_length (m), 1);
  free_msgs (m);

  /* The property shows it. */
  g_object_get (q->query, "queries", &prop, NULL);
  fail_unless (strstr (prop, "\"id\":\"q1\"") != NULL, "%s", prop);
  g_free (prop);

  /* A duplicate id is refused with a warning. */
  g_free (json);
  json = g_strdup_printf ("{\"id\":\"q1\",\"image\":\"%s\"}", photo[1]);
  g_signal_emit_by_name (q->query, "add-query", json, &dup);
  fail_unless (dup == NULL);
  w = pop_type (q, GST_MESSAGE_WARNING);
  fail_unless (w != NULL);
  gst_message_parse_warning (w, &err, &dbg);
  fail_unless (strstr (err->message, "exists already") != NULL, "%s",
      err->message);
  g_clear_error (&err);
  g_free (dbg);
  gst_message_unref (w);

  /* Text with the local provider: a clear refusal. */
  g_signal_emit_by_name (q->query, "add-query",
      "{\"text\":\"a red car\"}", &dup);
  fail_unless (dup == NULL);
  w = pop_type (q, GST_MESSAGE_WARNING);
  fail_unless (w != NULL);
  gst_message_parse_warning (w, &err, &dbg);
  fail_unless (strstr (err->message, "images only") != NULL, "%s",
      err->message);
  g_clear_error (&err);
  g_free (dbg);
  gst_message_unref (w);

  /* A missing file and malformed JSON. */
  g_signal_emit_by_name (q->query, "add-query",
      "{\"image\":\"/nonexistent/x.jpg\"}", &dup);
  fail_unless (dup == NULL);
  g_signal_emit_by_name (q->query, "add-query", "{\"image\":", &dup);
  fail_unless (dup == NULL);
  g_signal_emit_by_name (q->query, "add-query", "{\"image\":\"a.jpg\","
      "\"threshold\":5}", &dup);
  fail_unless (dup == NULL);

  g_signal_emit_by_name (q->query, "remove-query", id, &removed);
  fail_unless (removed);
  g_signal_emit_by_name (q->query, "remove-query", id, &removed);
  fail_unless (!removed);
  m = q_push (q, frame_of (0, 2));
  fail_unless_equals_int (g_list_length (m), 0);

  /* Replacing the whole set while running; a bad set keeps the old one. */
  g_free (json);
  json = g_strdup_printf ("[{\"id\":\"x\",\"image\":\"%s\"}]", photo[0]);
  g_object_set (q->query, "queries", json, NULL);
  g_object_set (q->query, "queries", "[{\"id\":\"y\",\"text\":\"t\"}]", NULL);
  m = q_push (q, frame_of (0, 3));
  fail_unless_equals_int (g_list_length (m), 1);
  fail_unless_equals_string (gst_structure_get_string (msg_s (m, 0),
          "query-id"), "x");
  free_msgs (m);
  g_free (json);
  g_free (id);
  q_free (q);
}

GST_END_TEST;

typedef struct
{
  GstElement *query;
  volatile gint stop;
  guint adds;
} Churn;

static gpointer
churn_thread (gpointer data)
{
  Churn *c = data;
  gchar *json = g_strdup_printf ("{\"id\":\"churn\",\"image\":\"%s\","
      "\"threshold\":0.2}", photo[0]);

  while (!g_atomic_int_get (&c->stop)) {
    gchar *id = NULL;
    gboolean removed;

    g_signal_emit_by_name (c->query, "add-query", json, &id);
    if (id)
      c->adds++;
    g_free (id);
    g_signal_emit_by_name (c->query, "remove-query", "churn", &removed);
  }
  g_free (json);
  return NULL;
}

/* add/remove from another thread never races the streaming thread (run
 * under ASan and with many frames). */
GST_START_TEST (test_local_concurrent_changes)
{
  gchar *props = g_strdup_printf ("cooldown=0 queries='[{\"id\":\"fixed\","
      "\"image\":\"%s\",\"threshold\":0.2}]'", photo[0]);
  Q *q = q_new ("", props, NULL);
  Churn c = { q->query, 0, 0 };
  GThread *t;
  GstBuffer *f = frame_of (0, 0);
  guint i, fixed = 0;

  gst_harness_play (q->h);
  t = g_thread_new ("churn", churn_thread, &c);
  for (i = 0; i < 150; i++) {
    GstBuffer *b = gst_buffer_copy_deep (f);
    GList *m, *l;

    GST_BUFFER_PTS (b) = i * GST_SECOND;
    m = q_push (q, b);
    for (l = m; l; l = l->next)
      fixed += !strcmp (gst_structure_get_string (gst_message_get_structure
              (l->data), "query-id"), "fixed");
    free_msgs (m);
  }
  g_atomic_int_set (&c.stop, 1);
  g_thread_join (t);
  fail_unless_equals_int (fixed, 150);
  fail_unless (c.adds > 0);
  gst_buffer_unref (f);
  q_free (q);
  g_free (props);
}

GST_END_TEST;

/* Starts a lone vssquery configured by @first_prop, ... and returns the
 * error its start posted (the start must fail); @dbg gets the details. */
static GError *
start_refused (gchar ** dbg, const gchar * first_prop, ...)
{
  GstElement *e = gst_element_factory_make ("vssquery", NULL);
  GstBus *bus = gst_bus_new ();
  GstMessage *m;
  GError *err = NULL;
  va_list args;

  gst_element_set_bus (e, bus);
  va_start (args, first_prop);
  g_object_set_valist (G_OBJECT (e), first_prop, args);
  va_end (args);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (m != NULL);
  gst_message_parse_error (m, &err, dbg);
  gst_message_unref (m);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
  return err;
}

/* Frames embedded with vss-local-v1 (an index filled before v2) are matched
 * by a vssquery told that model; an unknown local model is refused. */
GST_START_TEST (test_local_model_v1)
{
  gchar *props = g_strdup_printf ("model=vss-local-v1 queries='[{\"id\":\"a\","
      "\"image\":\"%s\",\"threshold\":0.15}]'", photo[0]);
  Q *q = q_new ("model=vss-local-v1", props, NULL);
  GList *m;
  GError *err;
  gchar *dbg = NULL;

  gst_harness_play (q->h);
  m = q_push (q, frame_of (0, 1));
  fail_unless_equals_int (g_list_length (m), 1);
  free_msgs (m);
  m = q_push (q, frame_of (2, 2));
  fail_unless_equals_int (g_list_length (m), 0);
  /* Only a v1 meta is there: the match above read it. */
  fail_unless_equals_uint64 (stat_u64 (q->query, "comparisons"), 2);
  q_free (q);
  g_free (props);

  err = start_refused (&dbg, "model", "vss-local-v3", NULL);
  fail_unless (dbg && strstr (dbg, "vss-local-v3") != NULL, "%s", dbg);
  g_error_free (err);
  g_free (dbg);
}

GST_END_TEST;

GST_START_TEST (test_local_text_refused_at_start)
{
  GError *err = start_refused (NULL, "queries", "[{\"text\":\"a red car\"}]",
      NULL);

  fail_unless (strstr (err->message, "images only") != NULL, "%s",
      err->message);
  fail_unless (strstr (err->message, "provider=bedrock") != NULL);
  g_error_free (err);
}

GST_END_TEST;

/* ---- issue 18: refused query sets are errors at start, warnings later ---- */

/* Sets that the parser refuses, and what the message must name (the query,
 * the key, the value given). */
static const struct
{
  const gchar *json;
  const gchar *want[3];
} invalid_sets[] = {
  {"[", {"not valid JSON", NULL}},
  {"[{\"image\":\"/x.jpg\",\"threshold\":-1}]",
      {"query 1", "'threshold' is -1", NULL}},
  {"[{\"image\":\"/x.jpg\",\"threshold\":5}]",
      {"query 1", "'threshold' is 5", NULL}},
  {"[{\"image\":\"/x.jpg\",\"threshold\":\"abc\"}]",
      {"query 1", "'threshold' is \"abc\"", NULL}},
  {"[{\"id\":\"ok\",\"image\":\"/x.jpg\"},{\"image\":\"/y.jpg\","
        "\"colour\":\"red\"}]", {"query 2", "unknown key 'colour'", NULL}},
  {"[{\"image\":\"/x.jpg\",\"cooldown_ms\":-5}]",
      {"query 1", "'cooldown_ms' is -5", NULL}},
};

static void
check_message_names (const gchar * msg, const gchar * const *want,
    const gchar * json)
{
  for (guint i = 0; i < 3 && want[i]; i++)
    fail_unless (strstr (msg, want[i]) != NULL, "%s: message '%s' does not "
        "say '%s'", json, msg, want[i]);
}

/* As gst-launch-1.0 does it: the property is set before the element has a
 * bus, so only the start can report the refusal. */
GST_START_TEST (test_invalid_queries_refused_at_start)
{
  for (guint i = 0; i < G_N_ELEMENTS (invalid_sets); i++) {
    GstElement *e = gst_element_factory_make ("vssquery", NULL);
    GstBus *bus = gst_bus_new ();
    GstMessage *m;
    GError *err = NULL;
    gchar *dbg = NULL, *now;

    g_object_set (e, "queries", invalid_sets[i].json, NULL);
    gst_element_set_bus (e, bus);
    fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED),
        GST_STATE_CHANGE_FAILURE);
    m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    fail_unless (m != NULL, "%s: no error message", invalid_sets[i].json);
    gst_message_parse_error (m, &err, &dbg);
    fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
            GST_RESOURCE_ERROR_SETTINGS), "%s", err->message);
    check_message_names (err->message, invalid_sets[i].want,
        invalid_sets[i].json);
    g_clear_error (&err);
    g_free (dbg);
    gst_message_unref (m);
    /* The refused set did not replace the (empty) one. */
    g_object_get (e, "queries", &now, NULL);
    fail_unless_equals_string (now, "[]");
    g_free (now);
    gst_element_set_state (e, GST_STATE_NULL);
    gst_element_set_bus (e, NULL);
    gst_object_unref (bus);
    gst_object_unref (e);
  }
}

GST_END_TEST;

/* A valid set given after a refused one is what starts. */
GST_START_TEST (test_invalid_queries_replaced_before_start)
{
  GstElement *e = gst_element_factory_make ("vssquery", NULL);
  GstBus *bus = gst_bus_new ();
  gchar *json = g_strdup_printf ("[{\"id\":\"good\",\"image\":\"%s\"}]",
      photo[0]);
  gchar *now;

  gst_element_set_bus (e, bus);
  g_object_set (e, "queries", "[{\"image\":\"/x.jpg\",\"threshold\":5}]", NULL);
  g_object_set (e, "queries", json, NULL);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED),
      GST_STATE_CHANGE_SUCCESS);
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR) == NULL);
  g_object_get (e, "queries", &now, NULL);
  fail_unless (strstr (now, "\"id\":\"good\"") != NULL, "%s", now);
  g_free (now);
  fail_unless_equals_uint64 (stat_u64 (e, "frames"), 0);
  {
    GstStructure *s;
    guint n = 0;

    g_object_get (e, "stats", &s, NULL);
    fail_unless (gst_structure_get_uint (s, "queries", &n));
    fail_unless_equals_int (n, 1);
    gst_structure_free (s);
  }
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
  g_free (json);
}

GST_END_TEST;

/* The line of the issue, through gst_parse_launch as gst-launch-1.0 runs
 * it: the pipeline must not start. */
GST_START_TEST (test_invalid_queries_in_launch_line)
{
  GError *err = NULL;
  GstElement *p = gst_parse_launch ("videotestsrc num-buffers=3 ! vssembed ! "
      "vssquery queries=\"[{\\\"image\\\":\\\"/x.jpg\\\","
      "\\\"threshold\\\":5}]\" ! fakesink", &err);
  GstBus *bus;
  GstMessage *m;
  gchar *dbg = NULL;
  const gchar *want[] = { "query 1", "'threshold' is 5", NULL };

  fail_unless (p != NULL, "%s", err ? err->message : "");
  bus = gst_element_get_bus (p);
  fail_unless_equals_int (gst_element_set_state (p, GST_STATE_PLAYING),
      GST_STATE_CHANGE_FAILURE);
  m = gst_bus_timed_pop_filtered (bus, 5 * GST_SECOND, GST_MESSAGE_ERROR |
      GST_MESSAGE_EOS);
  fail_unless (m != NULL && GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR,
      "the pipeline ran");
  gst_message_parse_error (m, &err, &dbg);
  fail_unless (g_str_has_prefix (GST_OBJECT_NAME (GST_MESSAGE_SRC (m)),
          "vssquery"));
  check_message_names (err->message, want, "launch line");
  g_clear_error (&err);
  g_free (dbg);
  gst_message_unref (m);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (p);
}

GST_END_TEST;

/* While running, a refused set or query keeps the old set and posts a
 * warning that says why; nothing stops. */
GST_START_TEST (test_invalid_queries_at_run_time)
{
  gchar *props = g_strdup_printf ("cooldown=0 queries='[{\"id\":\"x\","
      "\"image\":\"%s\",\"threshold\":0.2}]'", photo[0]);
  Q *q = q_new ("", props, NULL);
  GList *m;
  GstMessage *w;
  GError *err = NULL;
  gchar *dbg = NULL, *now, *id = NULL, *json;

  gst_harness_play (q->h);
  for (guint i = 0; i < G_N_ELEMENTS (invalid_sets); i++) {
    g_object_set (q->query, "queries", invalid_sets[i].json, NULL);
    w = pop_type (q, GST_MESSAGE_WARNING);
    fail_unless (w != NULL, "%s: no warning", invalid_sets[i].json);
    gst_message_parse_warning (w, &err, &dbg);
    check_message_names (err->message, invalid_sets[i].want,
        invalid_sets[i].json);
    g_clear_error (&err);
    g_free (dbg);
    gst_message_unref (w);
  }
  /* One query object through add-query: refused the same way. */
  json = g_strdup_printf ("{\"image\":\"%s\",\"threshold\":\"abc\"}", photo[1]);
  g_signal_emit_by_name (q->query, "add-query", json, &id);
  fail_unless (id == NULL);
  w = pop_type (q, GST_MESSAGE_WARNING);
  fail_unless (w != NULL);
  gst_message_parse_warning (w, &err, &dbg);
  fail_unless (strstr (err->message, "'threshold' is \"abc\"") != NULL, "%s",
      err->message);
  g_clear_error (&err);
  g_free (dbg);
  gst_message_unref (w);

  g_object_get (q->query, "queries", &now, NULL);
  fail_unless (strstr (now, "\"id\":\"x\"") != NULL, "%s", now);
  fail_unless (strstr (now, "},{") == NULL, "%s", now);
  g_free (now);
  m = q_push (q, frame_of (0, 0));
  fail_unless_equals_int (g_list_length (m), 1);
  fail_unless_equals_string (gst_structure_get_string (msg_s (m, 0),
          "query-id"), "x");
  free_msgs (m);
  fail_unless (pop_type (q, GST_MESSAGE_ERROR) == NULL);
  g_free (json);
  q_free (q);
  g_free (props);
}

GST_END_TEST;

GST_START_TEST (test_queries_property)
{
  GstElement *e = gst_element_factory_make ("vssquery", NULL);
  gchar *s;
  GPtrArray *specs;

  g_object_set (e, "queries", "[{\"text\":\"a\",\"threshold\":0.25,"
      "\"label\":\"A\",\"cooldown_ms\":5},{\"id\":\"img\",\"image\":"
      "\"/x.jpg\"}]", NULL);
  g_object_get (e, "queries", &s, NULL);
  specs = gst_vss_query_specs_from_json (s, NULL);
  fail_unless (specs != NULL, "%s", s);
  fail_unless_equals_int (specs->len, 2);
  {
    GstVssQuerySpec *a = g_ptr_array_index (specs, 0);
    GstVssQuerySpec *b = g_ptr_array_index (specs, 1);
    fail_unless_equals_string (a->id, "q1");
    fail_unless_equals_string (a->text, "a");
    fail_unless_equals_string (a->label, "A");
    fail_unless (fabs (a->threshold - 0.25) < 1e-6);
    fail_unless_equals_int (a->cooldown_ms, 5);
    fail_unless_equals_string (b->id, "img");
    fail_unless_equals_string (b->image, "/x.jpg");
    fail_unless_equals_string (b->label, "/x.jpg");
    fail_unless (fabs (b->threshold - GST_VSS_QUERY_DEFAULT_THRESHOLD) < 1e-6);
  }
  g_ptr_array_unref (specs);
  g_free (s);
  /* Errors name the problem. */
  {
    const gchar *bad[] = { "{", "[1]", "[{\"text\":\"a\",\"image\":\"b\"}]",
      "[{}]", "[{\"text\":\"a\",\"bogus\":1}]", "[{\"text\":\"\"}]",
      "[{\"id\":\"a b\",\"text\":\"x\"}]",
      "[{\"id\":\"a\",\"text\":\"x\"},{\"id\":\"a\",\"text\":\"y\"}]",
      "[{\"text\":\"x\",\"threshold\":-1}]", NULL
    };
    for (guint i = 0; bad[i]; i++) {
      GError *err = NULL;
      specs = gst_vss_query_specs_from_json (bad[i], &err);
      fail_unless (specs == NULL, "accepted %s", bad[i]);
      fail_unless (err != NULL && err->message[0]);
      g_error_free (err);
    }
  }
  gst_object_unref (e);
}

GST_END_TEST;

GST_START_TEST (test_no_embedding_passes)
{
  gchar *props = g_strdup_printf ("[{\"image\":\"%s\"}]", photo[0]);
  gchar *desc = g_strdup ("vssquery");
  GstHarness *h = gst_harness_new_parse (desc);
  GstElement *e = gst_harness_find_element (h, "vssquery");
  GstBuffer *b;

  g_object_set (e, "queries", props, NULL);
  gst_harness_set_src_caps_str (h, RAW_CAPS ",framerate=1/1");
  gst_harness_play (h);
  b = frame_of (0, 0);
  fail_unless_equals_int (gst_harness_push (h, b), GST_FLOW_OK);
  gst_buffer_unref (gst_harness_pull (h));
  fail_unless_equals_uint64 (stat_u64 (e, "frames-without-embedding"), 1);
  fail_unless_equals_uint64 (stat_u64 (e, "matches"), 0);
  gst_object_unref (e);
  gst_harness_teardown (h);
  g_free (desc);
  g_free (props);
}

GST_END_TEST;

/* ---- Bedrock ---- */

typedef VssTestBedrock Server;

static Server *
server_start_with (const gchar * map_file, const gchar * extra)
{
  gchar *map_arg = g_strconcat ("--text-map=", map_file, NULL);
  const gchar *args[] = { "--access-key=" AK, "--secret-key=" SK,
    "--region=" REGION, map_arg, extra, NULL
  };
  GError *err = NULL;
  Server *s = vss_test_bedrock_start (args, &err);

  fail_unless (s != NULL, "%s", err ? err->message : "");
  g_free (map_arg);
  return s;
}

static Server *
server_start (const gchar * map_file)
{
  return server_start_with (map_file, NULL);
}

static void
server_stop (Server * s)
{
  vss_test_bedrock_stop (s);
}

/* Writes photo @i as a 320x240 JPEG into tmpdir; the frames pushed are
 * exactly these bytes, so the server's image key is known. */
static gchar *
write_jpeg (guint i, GBytes ** bytes)
{
  GstSample *s = load_sample (photo[i], RAW_CAPS " ! jpegenc quality=85 ! "
      "image/jpeg");
  GstMapInfo map;
  gchar *name = g_strdup_printf ("photo%u.jpg", i);
  gchar *path = g_build_filename (tmpdir, name, NULL);

  gst_buffer_map (gst_sample_get_buffer (s), &map, GST_MAP_READ);
  fail_unless (g_file_set_contents (path, (gchar *) map.data, map.size, NULL));
  *bytes = g_bytes_new (map.data, map.size);
  gst_buffer_unmap (gst_sample_get_buffer (s), &map);
  gst_sample_unref (s);
  g_free (name);
  return path;
}

static Server *
bedrock_setup (GBytes ** jpeg0, GBytes ** jpeg1, gchar ** path0)
{
  gchar *p1, *map = g_build_filename (tmpdir, "map.json", NULL);
  Server *srv;

  *path0 = write_jpeg (0, jpeg0);
  p1 = write_jpeg (1, jpeg1);
  fail_unless (g_file_set_contents (map,
          "{\"photo of the lake\": \"photo0.jpg\","
          " \"near the lake\": {\"image\": \"photo0.jpg\", \"distance\": 0.1},"
          " \"far from the lake\": {\"image\": \"photo0.jpg\", \"distance\": 0.5},"
          " \"the dunes\": \"photo1.jpg\"}", -1, NULL));
  srv = server_start (map);
  g_free (map);
  g_free (p1);
  return srv;
}

#define BEDROCK_PROPS(ep) "provider=bedrock endpoint=%s region=" REGION \
  " access-key-id=" AK " secret-access-key=" SK " dimension=1024"

GST_START_TEST (test_bedrock_text_queries)
{
  GBytes *j0, *j1;
  gchar *p0;
  Server *srv = bedrock_setup (&j0, &j1, &p0);
  gchar *eprops = g_strdup_printf (BEDROCK_PROPS (x), srv->endpoint);
  gchar *qprops = g_strdup_printf (BEDROCK_PROPS (x) " cooldown=0 "
      "queries='[{\"id\":\"exact\",\"text\":\"photo of the lake\","
      "\"threshold\":0.3},{\"id\":\"near\",\"text\":\"near the lake\","
      "\"threshold\":0.3},{\"id\":\"far\",\"text\":\"far from the lake\","
      "\"threshold\":0.3},{\"id\":\"tight\",\"text\":\"near the lake\","
      "\"threshold\":0.05},{\"id\":\"img\",\"image\":\"%s\","
      "\"threshold\":0.01}]'", srv->endpoint, p0);
  Q *q = q_new (eprops, qprops, "image/jpeg,width=320,height=240,"
      "framerate=1/1");
  GList *m, *l;
  GstBuffer *b;
  gboolean seen_exact = FALSE, seen_near = FALSE, seen_img = FALSE;

  gst_harness_play (q->h);
  b = gst_buffer_new_wrapped_bytes (j0);
  GST_BUFFER_PTS (b) = 0;
  m = q_push (q, b);
  for (l = m; l; l = l->next) {
    const GstStructure *s = gst_message_get_structure (l->data);
    const gchar *id = gst_structure_get_string (s, "query-id");
    gdouble d;

    gst_structure_get_double (s, "distance", &d);
    if (!strcmp (id, "exact")) {
      seen_exact = TRUE;
      fail_unless (d < 1e-4, "exact %f", d);
    } else if (!strcmp (id, "near")) {
      seen_near = TRUE;
      fail_unless (fabs (d - 0.1) < 1e-3, "near %f", d);
    } else if (!strcmp (id, "img")) {
      seen_img = TRUE;
      fail_unless (d < 1e-4, "img %f", d);
    } else {
      fail ("unexpected match %s (%f)", id, d);
    }
  }
  fail_unless (seen_exact && seen_near && seen_img);
  fail_unless_equals_int (g_list_length (m), 3);
  free_msgs (m);
  fail_unless_equals_int (count_match_events (q, NULL), 3);

  /* The other photograph: nothing. */
  b = gst_buffer_new_wrapped_bytes (j1);
  GST_BUFFER_PTS (b) = GST_SECOND;
  m = q_push (q, b);
  fail_unless_equals_int (g_list_length (m), 0);

  /* A text added while running is embedded with inputText. */
  {
    gchar *id = NULL;
    g_signal_emit_by_name (q->query, "add-query",
        "{\"id\":\"dunes\",\"text\":\"the dunes\",\"threshold\":0.2}", &id);
    fail_unless_equals_string (id, "dunes");
    g_free (id);
    b = gst_buffer_new_wrapped_bytes (j1);
    GST_BUFFER_PTS (b) = 2 * GST_SECOND;
    m = q_push (q, b);
    fail_unless_equals_int (g_list_length (m), 1);
    fail_unless_equals_string (gst_structure_get_string (msg_s (m, 0),
            "query-id"), "dunes");
    free_msgs (m);
  }
  q_free (q);
  server_stop (srv);
  g_bytes_unref (j0);
  g_bytes_unref (j1);
  g_free (eprops);
  g_free (qprops);
  g_free (p0);
}

GST_END_TEST;

GST_START_TEST (test_bedrock_bad_credentials)
{
  GBytes *j0, *j1;
  gchar *p0;
  Server *srv = bedrock_setup (&j0, &j1, &p0);
  GstElement *e = gst_element_factory_make ("vssquery", NULL);
  GstBus *bus = gst_bus_new ();
  GstMessage *m;
  GError *err = NULL;
  gchar *dbg = NULL;

  gst_element_set_bus (e, bus);
  g_object_set (e, "provider", GST_VSS_QUERY_PROVIDER_BEDROCK, "endpoint",
      srv->endpoint, "region", REGION, "access-key-id", AK,
      "secret-access-key", "wrong-secret-never-logged", "max-retries", 0,
      "queries", "[{\"text\":\"photo of the lake\"}]", NULL);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (m != NULL);
  gst_message_parse_error (m, &err, &dbg);
  fail_unless (strstr (err->message, "403") != NULL, "%s", err->message);
  fail_unless (strstr (err->message, "wrong-secret") == NULL);
  fail_unless (!dbg || strstr (dbg, "wrong-secret") == NULL);
  g_error_free (err);
  g_free (dbg);
  gst_message_unref (m);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
  g_bytes_unref (j0);
  g_bytes_unref (j1);
  g_free (p0);
  server_stop (srv);
}

GST_END_TEST;

typedef struct
{
  GstElement *query;
  gchar *id;
  gint64 took_us;
  gint done;
} SlowAdd;

static gpointer
slow_add_thread (gpointer data)
{
  SlowAdd *a = data;
  gint64 t0 = g_get_monotonic_time ();

  g_signal_emit_by_name (a->query, "add-query",
      "{\"id\":\"lake\",\"text\":\"photo of the lake\"}", &a->id);
  a->took_us = g_get_monotonic_time () - t0;
  g_atomic_int_set (&a->done, 1);
  return NULL;
}

/* Embedding a query added while playing (here a slow Bedrock) never holds
 * up the frames. */
GST_START_TEST (test_bedrock_slow_add_does_not_block)
{
  GBytes *j0, *j1;
  gchar *p0, *map = g_build_filename (tmpdir, "map.json", NULL);
  Server *fast = bedrock_setup (&j0, &j1, &p0);
  Server *slow = server_start_with (map, "--latency-ms=1500");
  gchar *eprops = g_strdup_printf (BEDROCK_PROPS (x), fast->endpoint);
  gchar *qprops = g_strdup_printf (BEDROCK_PROPS (x) " cooldown=0",
      slow->endpoint);
  Q *q = q_new (eprops, qprops, "image/jpeg,width=320,height=240,"
      "framerate=1/1");
  SlowAdd a = { q->query, NULL, 0, 0 };
  GThread *t;
  GList *m;
  guint i, frames = 0;
  gint64 worst = 0;

  gst_harness_play (q->h);
  t = g_thread_new ("slow-add", slow_add_thread, &a);
  /* While the query is being embedded (>= 1.5 s), frames keep flowing. */
  for (i = 0; i < 200 && !g_atomic_int_get (&a.done); i++) {
    GstBuffer *b = gst_buffer_new_wrapped_bytes (j1);
    gint64 t0 = g_get_monotonic_time ();

    GST_BUFFER_PTS (b) = i * GST_SECOND;
    m = q_push (q, b);
    worst = MAX (worst, g_get_monotonic_time () - t0);
    fail_unless_equals_int (g_list_length (m), 0);
    frames++;
    g_usleep (20000);
  }
  g_thread_join (t);
  fail_unless_equals_string (a.id, "lake");
  fail_unless (a.took_us >= 1400000, "add-query took %" G_GINT64_FORMAT
      " us", a.took_us);
  fail_unless (frames >= 5, "only %u frames while the query was embedded",
      frames);
  fail_unless (worst < 1000000, "a frame waited %" G_GINT64_FORMAT " us",
      worst);
  /* Now the query is in place. */
  {
    GstBuffer *b = gst_buffer_new_wrapped_bytes (j0);
    GST_BUFFER_PTS (b) = 1000 * GST_SECOND;
    m = q_push (q, b);
    fail_unless_equals_int (g_list_length (m), 1);
    free_msgs (m);
  }
  g_free (a.id);
  q_free (q);
  server_stop (fast);
  server_stop (slow);
  g_bytes_unref (j0);
  g_bytes_unref (j1);
  g_free (eprops);
  g_free (qprops);
  g_free (p0);
  g_free (map);
}

GST_END_TEST;

static Suite *
vssquery_suite (void)
{
  Suite *s = suite_create ("vssquery");
  TCase *tc = tcase_create ("local");
  TCase *tb = tcase_create ("bedrock");

  tcase_add_checked_fixture (tc, photos_setup, photos_teardown);
  tcase_add_checked_fixture (tb, photos_setup, photos_teardown);
  suite_add_tcase (s, tc);
  suite_add_tcase (s, tb);
  tcase_add_test (tc, test_queries_property);
  tcase_add_test (tc, test_local_hit_and_miss);
  tcase_add_test (tc, test_local_threshold);
  tcase_add_test (tc, test_local_cooldown);
  tcase_add_test (tc, test_local_add_remove);
  tcase_add_test (tc, test_local_concurrent_changes);
  tcase_add_test (tc, test_local_text_refused_at_start);
  tcase_add_test (tc, test_local_model_v1);
  tcase_add_test (tc, test_invalid_queries_refused_at_start);
  tcase_add_test (tc, test_invalid_queries_replaced_before_start);
  tcase_add_test (tc, test_invalid_queries_in_launch_line);
  tcase_add_test (tc, test_invalid_queries_at_run_time);
  tcase_add_test (tc, test_no_embedding_passes);
  tcase_add_test (tb, test_bedrock_text_queries);
  tcase_add_test (tb, test_bedrock_bad_credentials);
  tcase_add_test (tb, test_bedrock_slow_add_does_not_block);
  return s;
}

GST_CHECK_MAIN (vssquery);
