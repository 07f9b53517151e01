/* gst-vss tests: vsssink's writer driven on its own, with no pipeline and
 * no element, against redis-server (with and without our vss-search
 * module), a folder, s3rver and a SigV4-checking S3 that answers slowly.
 * argv[1], when given, is the module's path.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <gio/gio.h>
#include <gst/gst.h>
#include "gstvss.h"
#include "vsssinkwriter.h"
#include "vss-test-redis.h"
#include "vss-test-util.h"
#include "vss-test-s3rver.h"
#include "vsshttpd.h"
#include "vsssigcheck.h"
#include "vss-sink-feeder.h"

static const gchar *module_path;

/* Quick outage detection: one reconnect attempt, short timeouts. */
#define FAST "reconnect_attempts=1&connect_timeout_ms=500&command_timeout_ms=2000"

/* What the callbacks saw */

typedef struct
{
  GMutex lock;
  GCond cond;
  GPtrArray *stored;            /* gchar *: frame ids, in callback order */
  GPtrArray *replayed;          /* gchar *: of which replays, in order */
  GArray *replay_seqs;          /* guint64: their spool records */
  GPtrArray *bad_keys;          /* gchar *: keys not named by the record */
  GPtrArray *errors;            /* GError * */
  GArray *error_http;           /* glong */
  GPtrArray *error_frames;      /* gchar *: frame ids, "" when none */
  GPtrArray *notices;           /* GError * */
} Events;

static void
events_init (Events * ev)
{
  g_mutex_init (&ev->lock);
  g_cond_init (&ev->cond);
  ev->stored = g_ptr_array_new_with_free_func (g_free);
  ev->replayed = g_ptr_array_new_with_free_func (g_free);
  ev->replay_seqs = g_array_new (FALSE, FALSE, sizeof (guint64));
  ev->bad_keys = g_ptr_array_new_with_free_func (g_free);
  ev->errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  ev->error_http = g_array_new (FALSE, FALSE, sizeof (glong));
  ev->error_frames = g_ptr_array_new_with_free_func (g_free);
  ev->notices = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
}

static void
events_clear (Events * ev)
{
  g_ptr_array_unref (ev->stored);
  g_ptr_array_unref (ev->replayed);
  g_array_unref (ev->replay_seqs);
  g_ptr_array_unref (ev->bad_keys);
  g_ptr_array_unref (ev->errors);
  g_array_unref (ev->error_http);
  g_ptr_array_unref (ev->error_frames);
  g_ptr_array_unref (ev->notices);
  g_mutex_clear (&ev->lock);
  g_cond_clear (&ev->cond);
}

static void
on_stored (VssSinkWriter * w, const VssSinkFrame * f, gpointer data)
{
  Events *ev = data;
  gchar *want = gst_vss_record_key ("frame:", f->rec.stream, f->rec.id);

  g_mutex_lock (&ev->lock);
  g_ptr_array_add (ev->stored, g_strdup (f->rec.id));
  if (f->replay) {
    g_ptr_array_add (ev->replayed, g_strdup (f->rec.id));
    g_array_append_val (ev->replay_seqs, f->seq);
  }
  if (g_strcmp0 (f->key, want) != 0)
    g_ptr_array_add (ev->bad_keys, g_strdup (f->key));
  g_cond_broadcast (&ev->cond);
  g_mutex_unlock (&ev->lock);
  g_free (want);
}

static void
on_error (VssSinkWriter * w, const VssSinkWriterReport * r, gpointer data)
{
  Events *ev = data;

  g_mutex_lock (&ev->lock);
  g_ptr_array_add (ev->errors, g_error_copy (r->error));
  g_array_append_val (ev->error_http, r->http_status);
  g_ptr_array_add (ev->error_frames, g_strdup (r->frame ? r->frame->rec.id :
          ""));
  g_cond_broadcast (&ev->cond);
  g_mutex_unlock (&ev->lock);
}

static void
on_notice (VssSinkWriter * w, const VssSinkWriterReport * r, gpointer data)
{
  Events *ev = data;

  g_mutex_lock (&ev->lock);
  g_ptr_array_add (ev->notices, g_error_copy (r->error));
  g_cond_broadcast (&ev->cond);
  g_mutex_unlock (&ev->lock);
}

/* Waits up to @timeout_s for *@counter (a GPtrArray of @ev) to reach @n. */
static gboolean
events_wait (Events * ev, GPtrArray * counter, guint n, guint timeout_s)
{
  gint64 end = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;
  gboolean ok;

  g_mutex_lock (&ev->lock);
  while (counter->len < n && g_cond_wait_until (&ev->cond, &ev->lock, end));
  ok = counter->len >= n;
  g_mutex_unlock (&ev->lock);
  return ok;
}

/* Writers */

static void
settings_init (VssSinkWriterSettings * s, const gchar * url,
    const gchar * frames, const gchar * spool_dir)
{
  memset (s, 0, sizeof *s);
  s->valkey_url = url;
  s->frames = frames;
  s->max_in_flight = 4;
  s->timeout_ms = 10000;
  s->max_retries = 1;
  s->spool_dir = spool_dir;
  s->journal = TRUE;
  s->index = "frames";
  s->key_prefix = "frame:";
  s->algorithm = VSS_VALKEY_ALGORITHM_HNSW;
  s->m = 16;
  s->ef_construction = 200;
  s->log_id = "test-writer";
}

static VssSinkWriter *
writer_new (const VssSinkWriterSettings * s, Events * ev)
{
  VssSinkWriterCallbacks cb = { on_stored, on_error, on_notice };

  return vss_sink_writer_new (s, &cb, ev);
}

/* A started writer; the test fails when it does not start. */
static VssSinkWriter *
writer_start (const VssSinkWriterSettings * s, Events * ev)
{
  VssSinkWriter *w = writer_new (s, ev);
  GError *err = NULL;

  g_assert_nonnull (w);
  if (!vss_sink_writer_start (w, &err))
    g_error ("the writer did not start: %s", err->message);
  return w;
}

/* Frame @i of a test: test JPEG i % 6, vector_for (i), a new id. */
static VssSinkFrame *
frame_for (VssSinkWriter * w, guint i, const gchar * stream, GPtrArray * ids)
{
  VssSinkFrame *f = vss_sink_frame_new ();
  GBytes *jpeg = g_ptr_array_index (jpegs, i % jpegs->len);
  gchar id[GST_VSS_FRAME_ID_SIZE];
  gfloat v[DIM];

  gst_vss_frame_id_new (-1, id);
  vector_for (i, DIM, v);
  f->rec.id = g_strdup (id);
  f->rec.stream = g_strdup (stream);
  f->rec.model = g_strdup (MODEL);
  g_assert_true (gst_vss_frame_id_get_time_ms (id, &f->rec.ts_ms));
  f->rec.pts = i * 40 * GST_MSECOND;
  f->rec.source = g_strdup ("clip.mkv");
  f->rec.position_ms = 1000 + i * 40;
  f->rec.size = g_bytes_get_size (jpeg);
  f->rec.vector = gst_vss_record_vector_from_floats (v, DIM);
  f->key = gst_vss_record_key ("frame:", stream, id);
  f->content_type = g_strdup ("image/jpeg");
  if (vss_sink_writer_name_object (w, f))
    f->image = g_bytes_ref (jpeg);
  if (ids)
    g_ptr_array_add (ids, g_strdup (id));
  return f;
}

/* Submits frames @first.. @first + @n - 1; each must be taken. */
static void
submit_frames (VssSinkWriter * w, guint first, guint n, const gchar * stream,
    GPtrArray * ids)
{
  for (guint i = first; i < first + n; i++) {
    GError *err = NULL;

    if (!vss_sink_writer_submit (w, frame_for (w, i, stream, ids), &err))
      g_error ("frame %u refused: %s", i, err->message);
  }
}

static VssSinkWriterStats
stats_of (VssSinkWriter * w)
{
  VssSinkWriterStats st;

  vss_sink_writer_get_stats (w, &st);
  return st;
}

/* Servers and files */

/* With the module; its sanitizer build gets the runtimes preloaded into
 * this redis-server only (not into s3rver, started by other tests). */
static VssTestRedis *
start_redis_with_module (void)
{
  VssTestRedisOptions opts = { 0, };

  opts.module = module_path;
  return vss_test_redis_start_or_die (&opts);
}

/* Frame @i, stored as @id: its HASH has the record's fields and, with
 * @root (a folder store), its object holds the image's bytes. */
static void
check_frame (VssValkeyClient * c, const gchar * stream, const gchar * id,
    guint i, const gchar * root)
{
  gchar *key = gst_vss_record_key ("frame:", stream, id);
  GBytes *jpeg = g_ptr_array_index (jpegs, i % jpegs->len);
  gchar *s, *uri;
  gsize len = 0;
  gint64 ms;

  s = vss_test_hget (c, key, "id", NULL);
  if (s == NULL)
    g_error ("frame %u (%s) missing: no key %s", i, id, key);
  g_assert_cmpstr (s, ==, id);
  g_free (s);
  s = vss_test_hget (c, key, "stream", NULL);
  g_assert_cmpstr (s, ==, stream);
  g_free (s);
  s = vss_test_hget (c, key, "model", NULL);
  g_assert_cmpstr (s, ==, MODEL);
  g_free (s);
  s = vss_test_hget (c, key, "ts", NULL);
  g_assert_true (gst_vss_frame_id_get_time_ms (id, &ms));
  g_assert_cmpint (g_ascii_strtoll (s, NULL, 10), ==, ms);
  g_free (s);
  s = vss_test_hget (c, key, "size", NULL);
  g_assert_cmpuint (g_ascii_strtoull (s, NULL, 10), ==,
      g_bytes_get_size (jpeg));
  g_free (s);
  /* The source and the position, also through the spool. */
  s = vss_test_hget (c, key, "source", NULL);
  g_assert_cmpstr (s, ==, "clip.mkv");
  g_free (s);
  s = vss_test_hget (c, key, "position", NULL);
  g_assert_cmpint (g_ascii_strtoll (s, NULL, 10), ==, 1000 + i * 40);
  g_free (s);
  s = vss_test_hget (c, key, "vector", &len);
  g_assert_nonnull (s);
  g_assert_cmpuint (len, ==, DIM * sizeof (gfloat));
  g_free (s);
  uri = vss_test_hget (c, key, "uri", NULL);
  if (root) {
    gchar *path = uri ? g_filename_from_uri (uri, NULL, NULL) : NULL;
    gchar *contents = NULL;

    g_assert_nonnull (path);
    g_assert_true (g_str_has_prefix (path, root));
    if (!g_file_get_contents (path, &contents, &len, NULL))
      g_error ("frame %u: object %s missing", i, uri);
    g_assert_cmpmem (contents, len, g_bytes_get_data (jpeg, NULL),
        g_bytes_get_size (jpeg));
    g_free (contents);
    g_free (path);
  } else {
    g_assert_null (uri);
  }
  g_free (uri);
  g_free (key);
}

/* An S3 that checks each signature and answers @delay_ms late. */

typedef struct
{
  GMutex lock;
  GHashTable *objects;          /* key -> GBytes */
  guint delay_ms;
  guint bad_signatures;
  VssHttpd *httpd;
  gchar *endpoint;
} SlowS3;

static void
slow_s3_handler (VssHttpd * server, const VssHttpRequest * req,
    VssHttpResponse * resp, gpointer user_data)
{
  SlowS3 *s = user_data;
  VssSigCheckConfig cfg = { "AKIDTEST", "secret/test+key", NULL, "us-east-1",
    g_get_real_time () / G_USEC_PER_SEC, 900
  };
  gchar *service = NULL, *type = NULL, *msg = NULL;
  const gchar *path = req->path + 1;
  guint status = 0, delay;

  g_mutex_lock (&s->lock);
  delay = s->delay_ms;
  g_mutex_unlock (&s->lock);
  if (delay)
    vss_httpd_sleep (server, delay);
  g_mutex_lock (&s->lock);
  if (!vss_sigcheck_verify (&cfg, req, &service, &status, &type, &msg)) {
    s->bad_signatures++;
    resp->status = 403;
    g_string_printf (resp->body, "<Error><Code>SignatureDoesNotMatch</Code>"
        "<Message>%s</Message></Error>", msg);
  } else if (g_str_has_prefix (path, "frames/")) {
    g_hash_table_insert (s->objects, g_strdup (path + strlen ("frames/")),
        g_bytes_new (req->body, req->body_len));
    resp->status = 200;
  } else {
    resp->status = 404;
    g_string_assign (resp->body, "<Error><Code>NoSuchBucket</Code>"
        "<Message>no bucket</Message></Error>");
  }
  g_mutex_unlock (&s->lock);
  g_free (service);
  g_free (type);
  g_free (msg);
}

static void
slow_s3_start (SlowS3 * s, guint delay_ms)
{
  GError *err = NULL;

  g_mutex_init (&s->lock);
  s->objects = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) g_bytes_unref);
  s->delay_ms = delay_ms;
  s->httpd = vss_httpd_new (0, slow_s3_handler, s, &err);
  g_assert_no_error (err);
  s->endpoint = g_strdup_printf ("http://127.0.0.1:%u",
      vss_httpd_get_port (s->httpd));
}

static void
slow_s3_set_delay (SlowS3 * s, guint delay_ms)
{
  g_mutex_lock (&s->lock);
  s->delay_ms = delay_ms;
  g_mutex_unlock (&s->lock);
}

static guint
slow_s3_n_objects (SlowS3 * s)
{
  guint n;

  g_mutex_lock (&s->lock);
  n = g_hash_table_size (s->objects);
  g_mutex_unlock (&s->lock);
  return n;
}

static void
slow_s3_stop (SlowS3 * s)
{
  vss_httpd_free (s->httpd);
  g_hash_table_unref (s->objects);
  g_free (s->endpoint);
  g_mutex_clear (&s->lock);
}

static void
aws_for (GstVssAwsSettings * aws, const gchar * endpoint, const gchar * key_id,
    const gchar * secret)
{
  memset (aws, 0, sizeof *aws);
  aws->region = "us-east-1";
  aws->endpoint_url = endpoint;
  aws->access_key_id = key_id;
  aws->secret_access_key = secret;
}

/* Tests */

/* Frames into a folder and a plain server: every key with its fields,
 * every object with its bytes, a stored event each, stats, an empty spool;
 * counters still readable once stopped. */
static void
test_store (void)
{
  g_autoptr (VssTestRedis) r = vss_test_redis_start_or_die (NULL);
  gchar *url = vss_test_redis_get_url (r, NULL);
  gchar *dir = vss_test_tmpdir ("sink-writer");
  gchar *frames = g_build_filename (dir, "frames", NULL);
  gchar *frames_uri = g_filename_to_uri (frames, NULL, NULL);
  gchar *spool = g_build_filename (dir, "spool", NULL);
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  VssValkeyClient *c = vss_test_client (url);
  VssSinkWriterSettings s;
  VssSinkWriterStats st;
  VssSinkWriter *w;
  Events ev;
  guint n_left = 99;

  events_init (&ev);
  settings_init (&s, url, frames_uri, spool);
  w = writer_start (&s, &ev);
  submit_frames (w, 0, 20, "cam1", ids);
  g_assert_true (vss_sink_writer_drain (w, 30000, &n_left));
  g_assert_cmpuint (n_left, ==, 0);

  st = stats_of (w);
  g_assert_cmpuint (st.written, ==, 20);
  g_assert_cmpuint (st.spooled, ==, 0);
  g_assert_cmpuint (st.replayed, ==, 0);
  g_assert_cmpuint (st.failed, ==, 0);
  g_assert_cmpuint (st.in_flight, ==, 0);
  g_assert_cmpuint (st.spool_pending, ==, 0);
  g_assert_cmpuint (st.spool_records, ==, 0);
  g_assert_cmpuint (ev.stored->len, ==, 20);
  g_assert_cmpuint (ev.replayed->len, ==, 0);
  g_assert_cmpuint (ev.bad_keys->len, ==, 0);
  g_assert_cmpuint (ev.errors->len, ==, 0);
  g_assert_cmpuint (ev.notices->len, ==, 0);
  for (guint i = 0; i < ids->len; i++) {
    gboolean seen = FALSE;

    for (guint j = 0; j < ev.stored->len && !seen; j++)
      seen = g_str_equal (g_ptr_array_index (ev.stored, j),
          g_ptr_array_index (ids, i));
    g_assert_true (seen);
    check_frame (c, "cam1", g_ptr_array_index (ids, i), i, frames);
  }
  g_assert_cmpuint (vss_test_count_keys (c, "frame:*"), ==, 20);
  g_assert_cmpuint (vss_test_count_files (frames, ".jpg", NULL), ==, 20);
  g_assert_cmpuint (vss_test_count_files (spool, ".rec", NULL), ==, 0);

  vss_sink_writer_stop (w, 1000);
  st = stats_of (w);
  g_assert_cmpuint (st.written, ==, 20);
  vss_sink_writer_free (w);

  events_clear (&ev);
  vss_valkey_client_free (c);
  g_ptr_array_unref (ids);
  vss_test_rm_rf (dir);
  g_free (spool);
  g_free (frames_uri);
  g_free (frames);
  g_free (dir);
  g_free (url);
}

/* The index: created by the first frame's dimension, then what a later
 * writer learns from it (and refuses against it); a server without vector
 * search cannot start a writer that creates the index. */
static void
test_index (void)
{
  g_autoptr (VssTestRedis) plain = NULL;
  g_autoptr (VssTestRedis) r = NULL;
  gchar *url, *plain_url, *dir;
  const gchar *info_argv[] = { "FT.INFO", "frames" };
  VssSinkWriterSettings s;
  VssValkeyIndexInfo *info;
  VssValkeyReply *rep;
  VssValkeyClient *c;
  VssSinkWriter *w;
  GError *err = NULL;
  VssSinkFrame *f;
  Events ev;
  guint d = 0;

  if (module_path == NULL)
    g_error ("the Valkey module (modules/valkey/vss-search.so) is not built: "
        "the index tests need it");
  r = start_redis_with_module ();
  url = vss_test_redis_get_url (r, "cluster=no");
  dir = vss_test_tmpdir ("sink-writer");
  c = vss_test_client (url);
  events_init (&ev);
  settings_init (&s, url, NULL, dir);
  s.create_index = TRUE;

  /* No dimension yet: no index yet. */
  w = writer_start (&s, &ev);
  rep = vss_valkey_command (c, NULL, &err, 2, info_argv, NULL);
  g_assert_null (rep);
  g_assert_nonnull (err);
  g_assert_nonnull (strstr (err->message, "not found"));
  g_clear_error (&err);
  /* Vectors only: no object to name. */
  f = frame_for (w, 0, "cam1", NULL);
  g_assert_cmpstr (f->object_key, ==, "");
  g_assert_cmpstr (f->rec.uri, ==, "");
  g_assert_true (f->object_done);
  g_assert_null (f->image);
  vss_sink_frame_free (f);
  g_assert_true (vss_sink_writer_accept_dim (w, DIM, &d));
  g_assert_cmpuint (d, ==, DIM);
  submit_frames (w, 0, 6, "cam1", NULL);
  g_assert_true (vss_sink_writer_drain (w, 30000, NULL));
  g_assert_cmpuint (stats_of (w).written, ==, 6);
  g_assert_cmpuint (ev.errors->len, ==, 0);
  vss_sink_writer_free (w);

  rep = vss_valkey_command (c, NULL, &err, 2, info_argv, NULL);
  g_assert_no_error (err);
  info = vss_valkey_index_info_parse (rep, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (info->dim, ==, DIM);
  g_assert_cmpuint (info->num_docs, ==, 6);
  vss_valkey_index_info_free (info);
  freeReplyObject (rep);

  /* A new writer takes the index's dimension and refuses another. */
  w = writer_start (&s, &ev);
  g_assert_false (vss_sink_writer_accept_dim (w, DIM * 2, &d));
  g_assert_cmpuint (d, ==, DIM);
  g_assert_true (vss_sink_writer_accept_dim (w, DIM, NULL));
  vss_sink_writer_free (w);

  /* A dimension set against the existing index: it cannot be used. */
  s.dimension = DIM * 2;
  w = writer_new (&s, &ev);
  g_assert_false (vss_sink_writer_start (w, &err));
  g_assert_error (err, VSS_SINK_WRITER_ERROR, VSS_SINK_WRITER_ERROR_INDEX);
  g_clear_error (&err);
  vss_sink_writer_free (w);

  /* No vector search on the server at all. */
  plain = vss_test_redis_start_or_die (NULL);
  plain_url = vss_test_redis_get_url (plain, NULL);
  s.valkey_url = plain_url;
  s.dimension = DIM;
  w = writer_new (&s, &ev);
  g_assert_false (vss_sink_writer_start (w, &err));
  g_assert_error (err, VSS_SINK_WRITER_ERROR, VSS_SINK_WRITER_ERROR_INDEX);
  g_clear_error (&err);
  vss_sink_writer_free (w);
  /* ...which a writer that leaves the index alone does not mind. */
  s.create_index = FALSE;
  w = writer_start (&s, &ev);
  vss_sink_writer_free (w);
  g_assert_cmpuint (ev.errors->len, ==, 0);

  vss_test_redis_check_reports (r);
  events_clear (&ev);
  vss_valkey_client_free (c);
  vss_test_rm_rf (dir);
  g_free (dir);
  g_free (plain_url);
  g_free (url);
}

/* Valkey killed in the middle: frames go to the spool (nothing is
 * refused), then come back in the order they were taken, each once. */
static void
test_outage (void)
{
  VssTestRedisOptions opts = { 0, };
  g_autoptr (VssTestRedis) r = NULL;
  gchar *url, *dir = vss_test_tmpdir ("sink-writer");
  gchar *frames = g_build_filename (dir, "frames", NULL);
  gchar *frames_uri = g_filename_to_uri (frames, NULL, NULL);
  gchar *spool = g_build_filename (dir, "spool", NULL);
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  VssSinkWriterSettings s;
  VssSinkWriterStats st;
  VssValkeyClient *c;
  VssSinkWriter *w;
  GError *e = NULL;
  gint64 end;
  guint n_left = 0;
  Events ev;

  opts.appendonly = TRUE;
  r = vss_test_redis_start_or_die (&opts);
  url = vss_test_redis_get_url (r, FAST);
  events_init (&ev);
  settings_init (&s, url, frames_uri, spool);
  w = writer_start (&s, &ev);

  /* Before: stored directly. */
  submit_frames (w, 0, 10, "cam2", ids);
  g_assert_true (vss_sink_writer_drain (w, 30000, NULL));
  g_assert_cmpuint (ev.stored->len, ==, 10);

  /* The outage. The first frame after it fails in Valkey and is spooled;
   * from then on, frames go straight to the spool, in order. */
  vss_test_redis_stop_node (r, 0, TRUE);
  submit_frames (w, 10, 1, "cam2", ids);
  end = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (stats_of (w).spooled < 1 && g_get_monotonic_time () < end)
    g_usleep (20000);
  g_assert_cmpuint (stats_of (w).spooled, ==, 1);
  submit_frames (w, 11, 14, "cam2", ids);
  g_assert_false (vss_sink_writer_drain (w, 500, &n_left));
  g_assert_cmpuint (n_left, ==, 15);
  st = stats_of (w);
  g_assert_cmpuint (st.written, ==, 10);
  g_assert_cmpuint (st.spooled, ==, 15);
  g_assert_cmpuint (st.spool_pending, ==, 15);
  g_assert_cmpuint (st.spool_records, ==, 15);
  g_assert_cmpuint (st.failed, ==, 0);
  g_assert_cmpuint (vss_test_count_files (spool, ".rec", NULL), ==, 15);

  /* Back: replayed, in order, and nothing lost. */
  g_assert_true (vss_test_redis_restart_node (r, 0, &e));
  g_assert_no_error (e);
  g_assert_true (vss_sink_writer_drain (w, 60000, &n_left));
  st = stats_of (w);
  g_assert_cmpuint (st.written, ==, 25);
  g_assert_cmpuint (st.replayed, ==, 15);
  g_assert_cmpuint (st.spool_pending, ==, 0);
  g_assert_cmpuint (st.spool_records, ==, 0);
  g_assert_cmpuint (ev.replayed->len, ==, 15);
  for (guint i = 0; i < 15; i++)
    g_assert_cmpstr (g_ptr_array_index (ev.replayed, i), ==,
        g_ptr_array_index (ids, 10 + i));
  for (guint i = 1; i < ev.replay_seqs->len; i++)
    g_assert_cmpuint (g_array_index (ev.replay_seqs, guint64, i - 1), <,
        g_array_index (ev.replay_seqs, guint64, i));
  g_assert_cmpuint (ev.bad_keys->len, ==, 0);
  g_assert_cmpuint (ev.errors->len, ==, 0);
  c = vss_test_client (url);
  for (guint i = 0; i < ids->len; i++)
    check_frame (c, "cam2", g_ptr_array_index (ids, i), i, frames);
  g_assert_cmpuint (vss_test_count_keys (c, "frame:*"), ==, 25);
  g_assert_cmpuint (vss_test_count_files (frames, ".jpg", NULL), ==, 25);
  g_assert_cmpuint (vss_test_count_files (spool, ".rec", NULL), ==, 0);
  vss_sink_writer_free (w);

  events_clear (&ev);
  vss_valkey_client_free (c);
  g_ptr_array_unref (ids);
  vss_test_rm_rf (dir);
  g_free (spool);
  g_free (frames_uri);
  g_free (frames);
  g_free (dir);
  g_free (url);
}

/* Runs one writer against s3rver whose puts are refused; returns the
 * error code reported. The refused frame is kept in @spool. */
static gint
run_refused (const gchar * url, const gchar * store, const gchar * endpoint,
    const gchar * key_id, const gchar * spool, glong want_http)
{
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  GstVssAwsSettings aws;
  VssSinkWriterSettings s;
  VssSinkWriterStats st;
  VssSinkWriter *w;
  GError *err = NULL;
  gint64 end;
  Events ev;
  gint code;

  events_init (&ev);
  settings_init (&s, url, store, spool);
  aws_for (&aws, endpoint, key_id, "S3RVER");
  s.aws = &aws;
  s.max_retries = 0;
  w = writer_start (&s, &ev);
  submit_frames (w, 0, 1, "cam3", ids);
  g_assert_true (events_wait (&ev, ev.errors, 1, 30));
  /* The frame is spooled once the writer has stopped taking frames. */
  end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (stats_of (w).spooled < 1 && g_get_monotonic_time () < end)
    g_usleep (10000);
  code = ((GError *) g_ptr_array_index (ev.errors, 0))->code;
  g_assert_cmpint (g_array_index (ev.error_http, glong, 0), ==, want_http);
  g_assert_cmpstr (g_ptr_array_index (ev.error_frames, 0), ==,
      g_ptr_array_index (ids, 0));
  /* The writer stopped: more frames are refused, drain does not wait. */
  g_assert_false (vss_sink_writer_submit (w, frame_for (w, 1, "cam3", NULL),
          &err));
  g_assert_error (err, VSS_SINK_WRITER_ERROR, VSS_SINK_WRITER_ERROR_FAILED);
  g_clear_error (&err);
  g_assert_false (vss_sink_writer_drain (w, 30000, NULL));
  /* The refused frame is kept, not lost. */
  st = stats_of (w);
  g_assert_cmpuint (st.written, ==, 0);
  g_assert_cmpuint (st.spooled, ==, 1);
  g_assert_cmpuint (st.failed, ==, 0);
  g_assert_cmpuint (ev.stored->len, ==, 0);
  vss_sink_writer_free (w);
  events_clear (&ev);
  g_ptr_array_unref (ids);
  return code;
}

/* s3rver refuses: a bucket that does not exist, an unknown key id. Each is
 * an error through the callback; the frames are spooled and stored once
 * the settings are right. */
static void
test_store_refused (void)
{
  g_autoptr (VssTestRedis) r = vss_test_redis_start_or_die (NULL);
  gchar *url = vss_test_redis_get_url (r, NULL);
  gchar *dir = vss_test_tmpdir ("sink-writer");
  gchar *spools[2] = { g_build_filename (dir, "spool-bucket", NULL),
    g_build_filename (dir, "spool-key", NULL)
  };
  gchar *s3dir = g_build_filename (dir, "s3", NULL);
  guint16 port = vss_test_free_port ();
  gchar *endpoint = g_strdup_printf ("http://127.0.0.1:%u", port);
  VssValkeyClient *c = vss_test_client (url);
  GstVssAwsSettings aws;
  VssSinkWriterSettings s;
  VssSinkWriterStats st;
  VssSinkWriter *w;
  GSubprocess *s3;
  GError *err = NULL;
  Events ev;

  g_mkdir_with_parents (s3dir, 0700);
  s3 = vss_test_s3rver_start (s3dir, port, "frames", &err);
  g_assert_no_error (err);

  g_assert_cmpint (run_refused (url, "s3://nobucket/x", endpoint, "S3RVER",
          spools[0], 404), ==, VSS_SINK_WRITER_ERROR_NO_SUCH_BUCKET);
  g_assert_cmpint (run_refused (url, "s3://frames/x", endpoint, "NOSUCHKEY",
          spools[1], 403), ==, VSS_SINK_WRITER_ERROR_ACCESS_DENIED);
  g_assert_cmpuint (vss_test_count_keys (c, "frame:*"), ==, 0);

  /* Right settings: each kept frame is written. The first spool belongs
   * to the bucket that does not exist (another destination): it is
   * refused, unless adopted. */
  for (guint i = 0; i < 2; i++) {
    g_assert_cmpuint (vss_test_count_files (spools[i], ".rec", NULL), ==, 1);
    events_init (&ev);
    settings_init (&s, url, "s3://frames/x", spools[i]);
    aws_for (&aws, endpoint, "S3RVER", "S3RVER");
    s.aws = &aws;
    if (i == 0) {
      w = writer_new (&s, &ev);
      g_assert_false (vss_sink_writer_start (w, &err));
      g_assert_error (err, VSS_SINK_WRITER_ERROR,
          VSS_SINK_WRITER_ERROR_OTHER_DESTINATION);
      g_clear_error (&err);
      vss_sink_writer_free (w);
      g_assert_cmpuint (vss_test_count_files (spools[i], ".rec", NULL), ==, 1);
      s.adopt_spool = TRUE;
    }
    w = writer_start (&s, &ev);
    g_assert_true (vss_sink_writer_drain (w, 30000, NULL));
    st = stats_of (w);
    g_assert_cmpuint (st.replayed, ==, 1);
    g_assert_cmpuint (ev.replayed->len, ==, 1);
    g_assert_cmpuint (ev.errors->len, ==, 0);
    g_assert_cmpuint (vss_test_count_files (spools[i], ".rec", NULL), ==, 0);
    vss_sink_writer_free (w);
    events_clear (&ev);
  }
  g_assert_cmpuint (vss_test_count_keys (c, "frame:*"), ==, 2);
  {
    gchar *bucket = g_build_filename (s3dir, "frames", NULL);

    g_assert_cmpuint (vss_test_count_files (bucket, "._S3rver_object", NULL),
        ==, 2);
    g_free (bucket);
  }

  vss_test_s3rver_stop (&s3);
  vss_valkey_client_free (c);
  vss_test_rm_rf (dir);
  g_free (endpoint);
  g_free (s3dir);
  g_free (spools[0]);
  g_free (spools[1]);
  g_free (dir);
  g_free (url);
}

typedef struct
{
  VssSinkWriter *w;
  VssSinkFrame *frame;
  gboolean ok;
  gint code;
  gint64 returned_us;
  gint done;
} SubmitCtx;

static gpointer
submit_thread (gpointer data)
{
  SubmitCtx *ctx = data;
  GError *err = NULL;

  ctx->ok = vss_sink_writer_submit (ctx->w, ctx->frame, &err);
  ctx->code = err ? err->code : -1;
  g_clear_error (&err);
  ctx->returned_us = g_get_monotonic_time ();
  g_atomic_int_set (&ctx->done, 1);
  return NULL;
}

/* max-in-flight 1 and uploads that take 2.5 s: a second submit waits for
 * the first upload, flushing releases it at once (the frame is not taken),
 * and flushing also ends a drain. */
static void
test_backpressure (void)
{
  g_autoptr (VssTestRedis) r = vss_test_redis_start_or_die (NULL);
  gchar *url = vss_test_redis_get_url (r, NULL);
  gchar *dir = vss_test_tmpdir ("sink-writer");
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  VssValkeyClient *c = vss_test_client (url);
  SubmitCtx ctx = { 0, };
  GstVssAwsSettings aws;
  VssSinkWriterSettings s;
  VssSinkWriterStats st;
  VssSinkWriter *w;
  SlowS3 s3 = { 0, };
  gint64 t0, flushed;
  GThread *th;
  Events ev;

  slow_s3_start (&s3, 2500);
  events_init (&ev);
  settings_init (&s, url, "s3://frames/bp", dir);
  aws_for (&aws, s3.endpoint, "AKIDTEST", "secret/test+key");
  s.aws = &aws;
  s.max_in_flight = 1;
  w = writer_start (&s, &ev);

  t0 = g_get_monotonic_time ();
  submit_frames (w, 0, 1, "bp", ids);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 1000 * 1000);

  /* Blocked on the one upload slot. */
  ctx.w = w;
  ctx.frame = frame_for (w, 1, "bp", NULL);
  th = g_thread_new ("submit", submit_thread, &ctx);
  g_usleep (300 * 1000);
  g_assert_cmpint (g_atomic_int_get (&ctx.done), ==, 0);
  flushed = g_get_monotonic_time ();
  vss_sink_writer_set_flushing (w, TRUE);
  g_thread_join (th);
  g_assert_false (ctx.ok);
  g_assert_cmpint (ctx.code, ==, VSS_SINK_WRITER_ERROR_FLUSHING);
  g_assert_cmpint (ctx.returned_us - flushed, <, 1000 * 1000);
  st = stats_of (w);
  g_assert_cmpuint (st.in_flight, ==, 1);
  g_assert_cmpuint (st.failed, ==, 0);

  /* Not flushing: the next submit returns once the first upload is done. */
  vss_sink_writer_set_flushing (w, FALSE);
  submit_frames (w, 2, 1, "bp", ids);
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, 2000 * 1000);

  /* Flushing ends a drain that would wait 2.5 s for that upload. */
  vss_sink_writer_set_flushing (w, TRUE);
  flushed = g_get_monotonic_time ();
  g_assert_false (vss_sink_writer_drain (w, 20000, NULL));
  g_assert_cmpint (g_get_monotonic_time () - flushed, <, 1000 * 1000);
  vss_sink_writer_set_flushing (w, FALSE);
  g_assert_true (vss_sink_writer_drain (w, 20000, NULL));

  st = stats_of (w);
  g_assert_cmpuint (st.written, ==, 2);
  g_assert_cmpuint (ev.errors->len, ==, 0);
  g_assert_cmpuint (vss_test_count_keys (c, "frame:*"), ==, 2);
  for (guint i = 0; i < ids->len; i++) {
    gchar *key = gst_vss_record_key ("frame:", "bp",
        g_ptr_array_index (ids, i));
    gchar *id = vss_test_hget (c, key, "id", NULL);

    g_assert_cmpstr (id, ==, g_ptr_array_index (ids, i));
    g_free (id);
    g_free (key);
  }
  g_assert_cmpuint (slow_s3_n_objects (&s3), ==, 2);
  g_assert_cmpuint (s3.bad_signatures, ==, 0);
  vss_sink_writer_free (w);

  events_clear (&ev);
  slow_s3_stop (&s3);
  vss_valkey_client_free (c);
  g_ptr_array_unref (ids);
  vss_test_rm_rf (dir);
  g_free (dir);
  g_free (url);
}

/* Stopped with four uploads that take 3 s: stop does not wait them out,
 * the frames are spooled (not lost, not failed), and the next start
 * stores them. */
static void
test_stop_spools (void)
{
  g_autoptr (VssTestRedis) r = vss_test_redis_start_or_die (NULL);
  gchar *url = vss_test_redis_get_url (r, NULL);
  gchar *dir = vss_test_tmpdir ("sink-writer");
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  VssValkeyClient *c = vss_test_client (url);
  GstVssAwsSettings aws;
  VssSinkWriterSettings s;
  VssSinkWriterStats st;
  VssSinkWriter *w;
  SlowS3 s3 = { 0, };
  gint64 t0;
  Events ev;

  slow_s3_start (&s3, 3000);
  events_init (&ev);
  settings_init (&s, url, "s3://frames/st", dir);
  aws_for (&aws, s3.endpoint, "AKIDTEST", "secret/test+key");
  s.aws = &aws;
  w = writer_start (&s, &ev);
  submit_frames (w, 0, 4, "st", ids);
  g_assert_cmpuint (stats_of (w).in_flight, ==, 4);

  t0 = g_get_monotonic_time ();
  vss_sink_writer_stop (w, 200);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 2500 * 1000);
  st = stats_of (w);
  g_assert_cmpuint (st.written, ==, 0);
  g_assert_cmpuint (st.spooled, ==, 4);
  g_assert_cmpuint (st.failed, ==, 0);
  g_assert_cmpuint (st.in_flight, ==, 0);
  g_assert_cmpuint (ev.errors->len, ==, 0);
  g_assert_cmpuint (ev.stored->len, ==, 0);
  g_assert_cmpuint (vss_test_count_files (dir, ".rec", NULL), ==, 4);
  vss_sink_writer_free (w);
  g_assert_cmpuint (vss_test_count_keys (c, "frame:*"), ==, 0);

  /* The next start, with a quick store. */
  slow_s3_set_delay (&s3, 0);
  w = writer_start (&s, &ev);
  g_assert_true (vss_sink_writer_drain (w, 30000, NULL));
  st = stats_of (w);
  g_assert_cmpuint (st.written, ==, 4);
  g_assert_cmpuint (st.replayed, ==, 4);
  g_assert_cmpuint (ev.replayed->len, ==, 4);
  for (guint i = 1; i < ev.replay_seqs->len; i++)
    g_assert_cmpuint (g_array_index (ev.replay_seqs, guint64, i - 1), <,
        g_array_index (ev.replay_seqs, guint64, i));
  for (guint i = 0; i < ids->len; i++) {
    gboolean seen = FALSE;

    for (guint j = 0; j < ev.replayed->len && !seen; j++)
      seen = g_str_equal (g_ptr_array_index (ev.replayed, j),
          g_ptr_array_index (ids, i));
    g_assert_true (seen);
  }
  /* The journal had nothing left to recover: the spool held the frames. */
  g_assert_cmpuint (ev.notices->len, ==, 0);
  g_assert_cmpuint (vss_test_count_keys (c, "frame:*"), ==, 4);
  g_assert_cmpuint (slow_s3_n_objects (&s3), ==, 4);
  g_assert_cmpuint (s3.bad_signatures, ==, 0);
  g_assert_cmpuint (vss_test_count_files (dir, ".rec", NULL), ==, 0);
  vss_sink_writer_free (w);

  events_clear (&ev);
  slow_s3_stop (&s3);
  vss_valkey_client_free (c);
  g_ptr_array_unref (ids);
  vss_test_rm_rf (dir);
  g_free (dir);
  g_free (url);
}

/* Issue 18, point 1: what a spool belongs to, with neither the user nor
 * the password, whatever the order of the seeds and the options. */
static void
test_destination (void)
{
  VssSinkWriterSettings s;
  GError *err = NULL;
  gchar *d, *d2;

  settings_init (&s, "redis://writer:S3cret@h2:7000,h1:7001/3?"
      "connect_timeout_ms=100", "file:///srv/frames/", "/tmp/x");
  s.index = "idx";
  s.key_prefix = "f:";
  d = vss_sink_writer_describe_destination (&s, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (d, ==, "valkey=h1:7001,h2:7000/3 index=idx key-prefix=f: "
      "frames=file:///srv/frames");
  g_assert_null (strstr (d, "S3cret"));
  g_assert_null (strstr (d, "writer"));
  s.valkey_url = "rediss://other:pw@h1:7001,h2:7000/3";
  d2 = vss_sink_writer_describe_destination (&s, &err);
  g_assert_cmpstr (d, ==, d2);
  g_free (d2);
  g_free (d);

  settings_init (&s, "redis://[::1]:6380", NULL, "/tmp/x");
  d = vss_sink_writer_describe_destination (&s, &err);
  g_assert_cmpstr (d, ==, "valkey=[::1]:6380/0 index=frames key-prefix=frame: "
      "frames=none");
  g_free (d);
  s.valkey_url = "redis://h:1?bogus=1";
  g_assert_null (vss_sink_writer_describe_destination (&s, &err));
  g_assert_nonnull (err);
  g_clear_error (&err);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  if (argc >= 2) {
    module_path = argv[1];
    if (!g_file_test (module_path, G_FILE_TEST_EXISTS))
      g_error ("the Valkey module %s is missing: build modules/valkey",
          module_path);
  }
  make_jpegs ();
  g_test_add_func ("/sink-writer/destination", test_destination);
  g_test_add_func ("/sink-writer/store", test_store);
  g_test_add_func ("/sink-writer/index", test_index);
  g_test_add_func ("/sink-writer/outage", test_outage);
  g_test_add_func ("/sink-writer/store-refused", test_store_refused);
  g_test_add_func ("/sink-writer/backpressure", test_backpressure);
  g_test_add_func ("/sink-writer/stop-spools", test_stop_spools);
  return g_test_run ();
}
