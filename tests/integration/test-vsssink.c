/* gst-vss tests: vsssink against real redis-server (plain, TLS, cluster,
 * restarted), a folder, s3rver, a SigV4-checking fake S3 with faults, and a
 * pipeline killed with SIGKILL during an outage.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <signal.h>
#include <string.h>
#include <stdio.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include "gstvss.h"
#include "vss-test-redis.h"
#include "vss-test-util.h"
#include "vss-test-s3rver.h"
#include "vsshttpd.h"
#include "vsssigcheck.h"

#include "vss-sink-feeder.h"

static gchar *self_path;

static gchar *
field (GHashTable * h, const gchar * name)
{
  GBytes *b = g_hash_table_lookup (h, name);

  return b ? g_strndup (g_bytes_get_data (b, NULL), g_bytes_get_size (b)) :
      NULL;
}

/* Every accepted frame: its key with the right fields, its object with the
 * right bytes (via @object_path), and nothing else. */
typedef gchar *(*ObjectPathFunc) (const gchar * uri, gpointer data);

static void
check_stored (VssValkeyClient * c, GPtrArray * ids, const gchar * stream,
    ObjectPathFunc object_path, gpointer data, guint64 expected_keys)
{
  for (guint i = 0; i < ids->len; i++) {
    const gchar *id = g_ptr_array_index (ids, i);
    gchar *key = g_strdup_printf ("frame:%s:%s", stream, id);
    GHashTable *h = vss_test_hgetall (c, key);
    gchar *s, *uri;
    gint64 ms;
    GBytes *vec = g_hash_table_lookup (h, "vector");
    gfloat want[DIM];

    if (g_hash_table_size (h) == 0)
      g_error ("frame %u (%s) missing: no key %s", i, id, key);
    s = field (h, "stream");
    g_assert_cmpstr (s, ==, stream);
    g_free (s);
    s = field (h, "id");
    g_assert_cmpstr (s, ==, id);
    g_free (s);
    s = field (h, "model");
    g_assert_cmpstr (s, ==, MODEL);
    g_free (s);
    s = field (h, "ts");
    g_assert_true (gst_vss_frame_id_get_time_ms (id, &ms));
    g_assert_cmpint (g_ascii_strtoll (s, NULL, 10), ==, ms);
    g_free (s);
    g_assert_nonnull (vec);
    g_assert_cmpuint (g_bytes_get_size (vec), ==, DIM * 4);
    s = field (h, "size");
    g_assert_nonnull (s);
    g_free (s);
    (void) want;
    uri = field (h, "uri");
    if (object_path) {
      gchar *path, *contents = NULL;
      gsize len = 0;
      GError *err = NULL;
      gchar *size = field (h, "size");

      g_assert_nonnull (uri);
      path = object_path (uri, data);
      if (!g_file_get_contents (path, &contents, &len, &err))
        g_error ("frame %s: object %s missing: %s", id, uri, err->message);
      g_assert_cmpuint (len, ==, g_ascii_strtoull (size, NULL, 10));
      g_free (size);
      g_free (contents);
      g_free (path);
    } else {
      g_assert_null (uri);
    }
    g_free (uri);
    g_hash_table_unref (h);
    g_free (key);
  }
  g_assert_cmpuint (vss_test_count_keys (c, "frame:*"), ==, expected_keys);
}

static gchar *
file_object_path (const gchar * uri, gpointer root)
{
  gchar *path = g_filename_from_uri (uri, NULL, NULL);

  g_assert_nonnull (path);
  g_assert_true (g_str_has_prefix (path, root));
  return path;
}

/* Quick outage detection in tests: one reconnect attempt, short timeouts. */
#define FAST "reconnect_attempts=1&connect_timeout_ms=500&command_timeout_ms=2000"

/* Tests */

/* A folder and a plain server: every field, every object, messages,
 * stats, no temporary files, and a stream id that tries to escape. */
static void
test_folder (void)
{
  g_autoptr (VssTestRedis) r = vss_test_redis_start_or_die (NULL);
  gchar *url = vss_test_redis_get_url (r, NULL);
  gchar *dir = vss_test_tmpdir ("vsssink");
  gchar *frames = g_build_filename (dir, "frames", NULL);
  gchar *frames_uri = g_filename_to_uri (frames, NULL, NULL);
  gchar *spool = g_build_filename (dir, "spool", NULL);
  g_autoptr (VssValkeyClient) c = vss_test_client (url);
  Feeder *f = feeder_new (NULL, "valkey", url, "frames", frames_uri,
      "spool-dir", spool, "stream-id", "../../cam 1", "create-index", "never",
      "post-messages", "true", NULL);
  GstStructure *st;
  gboolean hidden = FALSE;
  guint stored = 0;
  gchar *err;

  for (guint i = 0; i < 24; i++)
    g_assert_cmpint (feeder_push (f, i), ==, GST_FLOW_OK);
  err = feeder_finish (f, &stored);
  g_assert_null (err);
  g_assert_cmpuint (stored, ==, 24);
  st = feeder_stats (f);
  g_assert_cmpuint (stat_of (st, "written"), ==, 24);
  g_assert_cmpuint (stat_of (st, "failed"), ==, 0);
  g_assert_cmpuint (stat_of (st, "spooled"), ==, 0);
  gst_structure_free (st);
  /* "../../cam 1" stays inside the folder. */
  check_stored (c, f->ids, "_._.._cam_1", file_object_path, frames, 24);
  g_assert_cmpuint (vss_test_count_files (frames, ".jpg", &hidden), ==, 24);
  g_assert_false (hidden);
  /* The journal is empty once everything is stored. */
  g_assert_cmpuint (vss_test_count_files (spool, ".rec", NULL), ==, 0);
  feeder_free (f);

  vss_test_rm_rf (dir);
  g_free (spool);
  g_free (frames_uri);
  g_free (frames);
  g_free (dir);
  g_free (url);
}

/* No images: keys without uri; dedup distance and TTL when given; PNG. */
static void
test_vectors_only (void)
{
  g_autoptr (VssTestRedis) r = vss_test_redis_start_or_die (NULL);
  gchar *url = vss_test_redis_get_url (r, NULL);
  gchar *dir = vss_test_tmpdir ("vsssink");
  g_autoptr (VssValkeyClient) c = vss_test_client (url);
  Feeder *f = feeder_new (NULL, "valkey", url, "spool-dir", dir,
      "stream-id", "cam2", "create-index", "never", "ttl", "600", NULL);
  gchar id[GST_VSS_FRAME_ID_SIZE];
  GstBuffer *b = make_frame (1, DIM, id);
  gchar *key, *s;
  GHashTable *h;
  const gchar *argv[2] = { "TTL", NULL };
  VssValkeyReply *rep;

  gst_vss_buffer_set_dedup_info (b, 0.375, NULL);
  g_assert_cmpint (gst_pad_push (f->src, b), ==, GST_FLOW_OK);
  g_ptr_array_add (f->ids, g_strdup (id));
  for (guint i = 2; i < 6; i++)
    g_assert_cmpint (feeder_push (f, i), ==, GST_FLOW_OK);
  g_assert_null (feeder_finish (f, NULL));
  check_stored (c, f->ids, "cam2", NULL, NULL, 5);
  key = g_strdup_printf ("frame:cam2:%s", id);
  h = vss_test_hgetall (c, key);
  s = field (h, "dedup_distance");
  g_assert_cmpstr (s, ==, "0.375");
  g_free (s);
  s = field (h, "pts");
  g_assert_cmpstr (s, ==, "40000000");
  g_free (s);
  argv[1] = key;
  rep = vss_valkey_command (c, NULL, NULL, 2, argv, NULL);
  g_assert_cmpint (rep->integer, >, 500);
  freeReplyObject (rep);
  g_hash_table_unref (h);
  g_free (key);
  feeder_free (f);
  vss_test_rm_rf (dir);
  g_free (dir);
  g_free (url);
}

/* PNG frames are stored as .png objects. */
static void
test_png (void)
{
  g_autoptr (VssTestRedis) r = vss_test_redis_start_or_die (NULL);
  gchar *url = vss_test_redis_get_url (r, NULL);
  gchar *dir = vss_test_tmpdir ("vsssink");
  gchar *frames = g_build_filename (dir, "frames", NULL);
  gchar *frames_uri = g_filename_to_uri (frames, NULL, NULL);
  gchar *spool = g_build_filename (dir, "spool", NULL);
  g_autoptr (VssValkeyClient) c = vss_test_client (url);
  GError *err = NULL;
  GstElement *p = gst_parse_launch ("videotestsrc num-buffers=1 ! "
      "video/x-raw,width=32,height=32 ! pngenc ! appsink name=out", &err);
  GstElement *out;
  GstSample *sample;
  GstBuffer *png;
  gchar id[GST_VSS_FRAME_ID_SIZE], *key, *uri;
  gfloat v[DIM];
  GHashTable *h;
  Feeder *f;

  g_assert_no_error (err);
  out = gst_bin_get_by_name (GST_BIN (p), "out");
  gst_element_set_state (p, GST_STATE_PLAYING);
  g_signal_emit_by_name (out, "pull-sample", &sample);
  g_assert_nonnull (sample);
  png = gst_buffer_copy_deep (gst_sample_get_buffer (sample));
  gst_sample_unref (sample);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (out);
  gst_object_unref (p);

  f = feeder_new ("image/png", "valkey", url, "frames", frames_uri,
      "spool-dir", spool, "stream-id", "png", "create-index", "never", NULL);
  gst_vss_frame_id_new (g_get_real_time (), id);
  vector_for (3, DIM, v);
  gst_vss_buffer_add_embedding_meta (png, MODEL, v, DIM, FALSE, id);
  g_assert_cmpint (gst_pad_push (f->src, png), ==, GST_FLOW_OK);
  g_assert_null (feeder_finish (f, NULL));
  key = g_strdup_printf ("frame:png:%s", id);
  h = vss_test_hgetall (c, key);
  uri = field (h, "uri");
  g_assert_nonnull (uri);
  g_assert_true (g_str_has_suffix (uri, ".png"));
  g_assert_cmpuint (vss_test_count_files (frames, ".png", NULL), ==, 1);
  g_free (uri);
  g_free (key);
  g_hash_table_unref (h);
  feeder_free (f);
  vss_test_rm_rf (dir);
  g_free (spool);
  g_free (frames_uri);
  g_free (frames);
  g_free (dir);
  g_free (url);
}

/* Bad input gets clear errors. */
static void
test_bad_input (void)
{
  g_autoptr (VssTestRedis) r = vss_test_redis_start_or_die (NULL);
  gchar *url = vss_test_redis_get_url (r, NULL);
  gchar *dir = vss_test_tmpdir ("vsssink");
  Feeder *f;
  GstBuffer *b;
  gchar id[GST_VSS_FRAME_ID_SIZE];
  gchar *err;
  GstElement *e;
  GstPad *pad;
  GstCaps *caps;

  /* No embedding meta. */
  f = feeder_new (NULL, "valkey", url, "spool-dir", dir, "create-index",
      "never", NULL);
  b = gst_buffer_new_memdup ("\xff\xd8\xff\xd9", 4);
  g_assert_cmpint (gst_pad_push (f->src, b), ==, GST_FLOW_ERROR);
  err = feeder_pop_error (f);
  g_assert_nonnull (err);
  g_assert_nonnull (strstr (err, "without an embedding"));
  g_free (err);
  feeder_free (f);

  /* Bytes that are not what the caps say. */
  f = feeder_new (NULL, "valkey", url, "spool-dir", dir, "create-index",
      "never", NULL);
  b = make_frame (0, DIM, id);
  gst_buffer_memset (b, 0, 0x41, 4);
  g_assert_cmpint (gst_pad_push (f->src, b), ==, GST_FLOW_ERROR);
  err = feeder_pop_error (f);
  g_assert_nonnull (strstr (err, "is not a JPEG image"));
  g_free (err);
  feeder_free (f);

  /* A vector of another dimension than the first (and the index). */
  f = feeder_new (NULL, "valkey", url, "spool-dir", dir, "create-index",
      "never", NULL);
  g_assert_cmpint (feeder_push (f, 0), ==, GST_FLOW_OK);
  g_assert_cmpint (gst_pad_push (f->src, make_frame (1, DIM * 2, id)), ==,
      GST_FLOW_ERROR);
  err = feeder_pop_error (f);
  g_assert_nonnull (strstr (err, "32-dimensional vector"));
  g_assert_nonnull (strstr (err, "16-dimensional"));
  g_free (err);
  feeder_free (f);

  /* dimension set and frames of another one. */
  f = feeder_new (NULL, "valkey", url, "spool-dir", dir, "create-index",
      "never", "dimension", "8", NULL);
  g_assert_cmpint (feeder_push (f, 0), ==, GST_FLOW_ERROR);
  err = feeder_pop_error (f);
  g_assert_nonnull (strstr (err, "16-dimensional vector"));
  g_free (err);
  feeder_free (f);

  /* Wrong caps are refused at the pad. */
  e = gst_element_factory_make ("vsssink", NULL);
  pad = gst_element_get_static_pad (e, "sink");
  caps = gst_caps_from_string ("video/x-raw,format=RGB,width=4,height=4");
  g_assert_false (gst_pad_query_accept_caps (pad, caps));
  gst_caps_unref (caps);
  gst_object_unref (pad);
  gst_object_unref (e);

  /* A server without vector search and create-index=auto. */
  f = feeder_new (NULL, "valkey", url, "spool-dir", dir, "dimension", "16",
      NULL);
  err = feeder_pop_error (f);
  g_assert_nonnull (err);
  g_assert_nonnull (strstr (err, "index 'frames' cannot be used"));
  g_free (err);
  feeder_free (f);

  /* An unsupported store and a bad URL. */
  f = feeder_new (NULL, "valkey", url, "spool-dir", dir, "frames",
      "ftp://x/y", NULL);
  err = feeder_pop_error (f);
  g_assert_nonnull (strstr (err, "Cannot use the object store"));
  g_free (err);
  feeder_free (f);
  f = feeder_new (NULL, "valkey", "redis://h:1?bogus=1", "spool-dir", dir,
      NULL);
  err = feeder_pop_error (f);
  g_assert_nonnull (strstr (err, "Invalid Valkey URL"));
  g_free (err);
  feeder_free (f);

  vss_test_rm_rf (dir);
  g_free (dir);
  g_free (url);
}

/* redis-server stops in the middle of the stream and comes back: every
 * frame ends up stored, exactly once. */
static void
run_redis_restart (gboolean journal)
{
  VssTestRedisOptions opts = { 0, };
  g_autoptr (VssTestRedis) r = NULL;
  gchar *url, *dir = vss_test_tmpdir ("vsssink");
  gchar *frames = g_build_filename (dir, "frames", NULL);
  gchar *frames_uri = g_filename_to_uri (frames, NULL, NULL);
  gchar *spool = g_build_filename (dir, "spool", NULL);
  VssValkeyClient *c;
  GstStructure *st;
  GError *e = NULL;
  Feeder *f;

  opts.appendonly = TRUE;
  r = vss_test_redis_start_or_die (&opts);
  url = vss_test_redis_get_url (r, FAST);
  f = feeder_new (NULL, "valkey", url, "frames", frames_uri, "spool-dir",
      spool, "stream-id", "cam3", "create-index", "never", "journal",
      journal ? "true" : "false", "max-in-flight", "4", NULL);
  for (guint i = 0; i < 40; i++) {
    if (i == 10)
      vss_test_redis_stop_node (r, 0, TRUE);
    if (i == 25) {
      g_assert_true (vss_test_redis_restart_node (r, 0, &e));
      g_assert_no_error (e);
    }
    g_assert_cmpint (feeder_push (f, i), ==, GST_FLOW_OK);
    g_usleep (20000);
  }
  g_assert_null (feeder_finish (f, NULL));
  st = feeder_stats (f);
  {
    gchar *t = gst_structure_to_string (st);

    g_test_message ("stats: %s", t);
    g_free (t);
  }
  g_assert_cmpuint (stat_of (st, "written"), ==, 40);
  g_assert_cmpuint (stat_of (st, "spooled"), >, 0);
  g_assert_cmpuint (stat_of (st, "replayed"), ==, stat_of (st, "spooled"));
  gst_structure_free (st);
  c = vss_test_client (url);
  check_stored (c, f->ids, "cam3", file_object_path, frames, 40);
  g_assert_cmpuint (vss_test_count_files (frames, ".jpg", NULL), ==, 40);
  g_assert_cmpuint (vss_test_count_files (spool, ".rec", NULL), ==, 0);
  vss_valkey_client_free (c);
  feeder_free (f);
  vss_test_rm_rf (dir);
  g_free (spool);
  g_free (frames_uri);
  g_free (frames);
  g_free (dir);
  g_free (url);
}

static void
test_redis_restart (void)
{
  run_redis_restart (TRUE);
}

static void
test_redis_restart_no_journal (void)
{
  run_redis_restart (FALSE);
}

/* TLS with client certificates. */
static void
test_tls (void)
{
  VssTestRedisOptions opts = { 0, };
  g_autoptr (VssTestRedis) r = NULL;
  gchar *url, *dir = vss_test_tmpdir ("vsssink");
  VssValkeyClient *c;
  Feeder *f;

  opts.tls = TRUE;
  r = vss_test_redis_start_or_die (&opts);
  url = vss_test_redis_get_url (r, NULL);
  f = feeder_new (NULL, "valkey", url, "spool-dir", dir, "stream-id", "tls",
      "create-index", "never", NULL);
  for (guint i = 0; i < 10; i++)
    g_assert_cmpint (feeder_push (f, i), ==, GST_FLOW_OK);
  g_assert_null (feeder_finish (f, NULL));
  c = vss_test_client (url);
  check_stored (c, f->ids, "tls", NULL, NULL, 10);
  vss_valkey_client_free (c);
  feeder_free (f);
  vss_test_rm_rf (dir);
  g_free (dir);
  g_free (url);
}

/* A 3-primary cluster: keys spread over the slots, every one written. */
static void
test_cluster (void)
{
  GError *err = NULL;
  g_autoptr (VssTestRedis) r = vss_test_redis_start_cluster (3, NULL, &err);
  gchar *url, *dir = vss_test_tmpdir ("vsssink");
  VssValkeyClient *c;
  Feeder *f;
  guint nonempty = 0;

  if (r == NULL)
    g_error ("cannot start a redis cluster: %s", err->message);
  url = vss_test_redis_get_url (r, "cluster=yes");
  f = feeder_new (NULL, "valkey", url, "spool-dir", dir, "stream-id",
      "cluster", "create-index", "never", NULL);
  for (guint i = 0; i < 30; i++)
    g_assert_cmpint (feeder_push (f, i), ==, GST_FLOW_OK);
  g_assert_null (feeder_finish (f, NULL));
  c = vss_test_client (url);
  check_stored (c, f->ids, "cluster", NULL, NULL, 30);
  for (guint n = 0; n < 3; n++) {
    gchar *out = vss_test_redis_cli (r, n, &err, "DBSIZE", NULL);

    g_assert_no_error (err);
    if (g_ascii_strtoull (out, NULL, 10) > 0)
      nonempty++;
    g_free (out);
  }
  g_assert_cmpuint (nonempty, ==, 3);
  vss_valkey_client_free (c);
  feeder_free (f);
  vss_test_rm_rf (dir);
  g_free (dir);
  g_free (url);
}

/* s3rver */

typedef struct
{
  GSubprocess *proc;
  gchar *dir;
  guint16 port;
} S3rver;

static void
s3rver_start (S3rver * s)
{
  GError *err = NULL;

  s->proc = vss_test_s3rver_start (s->dir, s->port, "frames", &err);
  g_assert_no_error (err);
}

static void
s3rver_stop (S3rver * s)
{
  vss_test_s3rver_stop (&s->proc);
}

static gchar *
s3rver_object_path (const gchar * uri, gpointer data)
{
  S3rver *s = data;

  g_assert_true (g_str_has_prefix (uri, "s3://frames/"));
  return g_strdup_printf ("%s/frames/%s._S3rver_object", s->dir,
      uri + strlen ("s3://frames/"));
}

static void
run_s3rver (gboolean outage)
{
  g_autoptr (VssTestRedis) r = vss_test_redis_start_or_die (NULL);
  gchar *url = vss_test_redis_get_url (r, NULL);
  gchar *dir = vss_test_tmpdir ("vsssink");
  gchar *spool = g_build_filename (dir, "spool", NULL);
  gchar *endpoint;
  S3rver s = { 0, };
  VssValkeyClient *c;
  GstStructure *st;
  Feeder *f;
  guint n = outage ? 24 : 16;

  s.dir = g_build_filename (dir, "s3", NULL);
  g_mkdir_with_parents (s.dir, 0700);
  s.port = vss_test_free_port ();
  s3rver_start (&s);
  endpoint = g_strdup_printf ("http://127.0.0.1:%u", s.port);
  f = feeder_new (NULL, "valkey", url, "frames", "s3://frames/pfx",
      "endpoint", endpoint, "region", "us-east-1", "access-key-id", "S3RVER",
      "secret-access-key", "S3RVER", "spool-dir", spool, "stream-id", "s3",
      "create-index", "never", "max-retries", "1", "timeout", "3000",
      "max-in-flight", "4", NULL);
  for (guint i = 0; i < n; i++) {
    if (outage && i == 8)
      s3rver_stop (&s);
    if (outage && i == 16)
      s3rver_start (&s);
    g_assert_cmpint (feeder_push (f, i), ==, GST_FLOW_OK);
    g_usleep (outage ? 50000 : 0);
  }
  g_assert_null (feeder_finish (f, NULL));
  st = feeder_stats (f);
  {
    gchar *t = gst_structure_to_string (st);

    g_test_message ("stats: %s", t);
    g_free (t);
  }
  g_assert_cmpuint (stat_of (st, "written"), ==, n);
  if (outage)
    g_assert_cmpuint (stat_of (st, "spooled"), >, 0);
  gst_structure_free (st);
  c = vss_test_client (url);
  check_stored (c, f->ids, "s3", s3rver_object_path, &s, n);
  {
    gchar *b = g_build_filename (s.dir, "frames", NULL);

    g_assert_cmpuint (vss_test_count_files (b, "._S3rver_object", NULL), ==, n);
    g_free (b);
  }
  vss_valkey_client_free (c);
  feeder_free (f);
  s3rver_stop (&s);
  vss_test_rm_rf (dir);
  g_free (s.dir);
  g_free (endpoint);
  g_free (spool);
  g_free (dir);
  g_free (url);
}

static void
test_s3rver (void)
{
  run_s3rver (FALSE);
}

static void
test_s3rver_outage (void)
{
  run_s3rver (TRUE);
}

/* A fake S3 that checks every signature with the independent verifier and
 * answers with scripted faults. */

typedef struct
{
  GMutex lock;
  GHashTable *objects;          /* key -> GBytes */
  guint fail_next;              /* answer 503 SlowDown this many times */
  const gchar *refuse;          /* NULL, "AccessDenied" */
  guint delay_ms;               /* answer this much later */
  guint puts, bad_signatures;
} FakeS3;

static void
fake_s3_handler (VssHttpd * server, const VssHttpRequest * req,
    VssHttpResponse * resp, gpointer user_data)
{
  FakeS3 *s = user_data;
  VssSigCheckConfig cfg = { "AKIDTEST", "secret/test+key", NULL, "us-east-1",
    g_get_real_time () / G_USEC_PER_SEC, 900
  };
  gchar *service = NULL, *type = NULL, *msg = NULL;
  guint status = 0;
  const gchar *path = req->path + 1, *slash = strchr (path, '/');
  const gchar *code = NULL;

  if (s->delay_ms)
    vss_httpd_sleep (server, s->delay_ms);
  g_mutex_lock (&s->lock);
  s->puts++;
  if (!vss_sigcheck_verify (&cfg, req, &service, &status, &type, &msg)) {
    s->bad_signatures++;
    g_string_printf (resp->body, "<Error><Code>SignatureDoesNotMatch</Code>"
        "<Message>%s</Message></Error>", msg);
    resp->status = 403;
  } else if (g_strcmp0 (service, "s3") != 0 || !slash
      || strncmp (path, "frames/", 7) != 0) {
    code = "NoSuchBucket";
    resp->status = 404;
  } else if (s->refuse) {
    code = s->refuse;
    resp->status = 403;
  } else if (s->fail_next > 0) {
    s->fail_next--;
    code = "SlowDown";
    resp->status = 503;
  } else {
    g_hash_table_insert (s->objects, g_strdup (slash + 1),
        g_bytes_new (req->body, req->body_len));
    resp->status = 200;
  }
  if (code)
    g_string_printf (resp->body, "<?xml version=\"1.0\"?><Error><Code>%s"
        "</Code><Message>scripted %s</Message></Error>", code, code);
  g_mutex_unlock (&s->lock);
  g_free (service);
  g_free (type);
  g_free (msg);
}

static void
test_fake_s3 (void)
{
  g_autoptr (VssTestRedis) r = vss_test_redis_start_or_die (NULL);
  gchar *url = vss_test_redis_get_url (r, NULL);
  gchar *dir = vss_test_tmpdir ("vsssink");
  FakeS3 s = { 0, };
  GError *e = NULL;
  VssHttpd *httpd;
  gchar *endpoint, *err;
  GstStructure *st;
  Feeder *f;

  g_mutex_init (&s.lock);
  s.objects = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) g_bytes_unref);
  s.fail_next = 5;
  httpd = vss_httpd_new (0, fake_s3_handler, &s, &e);
  g_assert_no_error (e);
  endpoint = g_strdup_printf ("http://127.0.0.1:%u",
      vss_httpd_get_port (httpd));

  /* SlowDown five times: retried with backoff, nothing spooled. */
  f = feeder_new (NULL, "valkey", url, "frames", "s3://frames/a%20b",
      "endpoint", endpoint, "region", "us-east-1", "access-key-id",
      "AKIDTEST", "secret-access-key", "secret/test+key", "spool-dir", dir,
      "stream-id", "fake", "create-index", "never", "max-retries", "8", NULL);
  for (guint i = 0; i < 8; i++)
    g_assert_cmpint (feeder_push (f, i), ==, GST_FLOW_OK);
  g_assert_null (feeder_finish (f, NULL));
  st = feeder_stats (f);
  g_assert_cmpuint (stat_of (st, "written"), ==, 8);
  g_assert_cmpuint (stat_of (st, "retried"), >=, 5);
  g_assert_cmpuint (stat_of (st, "spooled"), ==, 0);
  gst_structure_free (st);
  g_assert_cmpuint (s.bad_signatures, ==, 0);
  g_assert_cmpuint (g_hash_table_size (s.objects), ==, 8);
  feeder_free (f);

  /* AccessDenied and NoSuchBucket: element errors that say so; the frame
   * is kept in the spool. */
  s.refuse = "AccessDenied";
  f = feeder_new (NULL, "valkey", url, "frames", "s3://frames/x",
      "endpoint", endpoint, "region", "us-east-1", "access-key-id",
      "AKIDTEST", "secret-access-key", "secret/test+key", "spool-dir", dir,
      "create-index", "never", NULL);
  feeder_push (f, 0);
  err = feeder_finish (f, NULL);
  g_assert_nonnull (err);
  g_assert_nonnull (strstr (err, "denied"));
  g_free (err);
  feeder_free (f);
  g_assert_cmpuint (vss_test_count_files (dir, ".rec", NULL), ==, 1);
  s.refuse = NULL;

  /* (The spool holds a frame for s3://frames/x: another destination, to
   * adopt.) */
  f = feeder_new (NULL, "valkey", url, "frames", "s3://nobucket/x",
      "endpoint", endpoint, "region", "us-east-1", "access-key-id",
      "AKIDTEST", "secret-access-key", "secret/test+key", "spool-dir", dir,
      "create-index", "never", "adopt-spool", "true", NULL);
  feeder_push (f, 0);
  err = feeder_finish (f, NULL);
  g_assert_nonnull (err);
  g_assert_nonnull (strstr (err, "bucket does not exist"));
  g_free (err);
  feeder_free (f);

  /* The same spool with the right settings: the kept frame is replayed. */
  {
    guint before = g_hash_table_size (s.objects);

    f = feeder_new (NULL, "valkey", url, "frames", "s3://frames/x",
        "endpoint", endpoint, "region", "us-east-1", "access-key-id",
        "AKIDTEST", "secret-access-key", "secret/test+key", "spool-dir", dir,
        "create-index", "never", "adopt-spool", "true", NULL);
    g_assert_null (feeder_finish (f, NULL));
    st = feeder_stats (f);
    g_assert_cmpuint (stat_of (st, "replayed"), >=, 1);
    gst_structure_free (st);
    g_assert_cmpuint (g_hash_table_size (s.objects), >, before);
    g_assert_cmpuint (vss_test_count_files (dir, ".rec", NULL), ==, 0);
    feeder_free (f);
  }
  g_assert_cmpuint (s.bad_signatures, ==, 0);

  vss_httpd_free (httpd);
  g_hash_table_unref (s.objects);
  g_mutex_clear (&s.lock);
  vss_test_rm_rf (dir);
  g_free (dir);
  g_free (endpoint);
  g_free (url);
}

typedef struct
{
  Feeder *f;
  GstFlowReturn ret;
  gint64 returned_us;
} PushCtx;

static gpointer
push_thread (gpointer data)
{
  PushCtx *ctx = data;

  ctx->ret = feeder_push (ctx->f, 99);
  ctx->returned_us = g_get_monotonic_time ();
  return NULL;
}

/* Back-pressure: with slow uploads, render blocks at max-in-flight instead
 * of queueing; a flush interrupts the wait; EOS waits for the uploads. */
static void
test_backpressure_and_flush (void)
{
  g_autoptr (VssTestRedis) r = vss_test_redis_start_or_die (NULL);
  gchar *url = vss_test_redis_get_url (r, NULL);
  gchar *dir = vss_test_tmpdir ("vsssink");
  FakeS3 s = { 0, };
  GError *e = NULL;
  VssHttpd *httpd;
  gchar *endpoint;
  GstStructure *st;
  Feeder *f;
  gint64 t0, t1, flushed;
  PushCtx ctx = { 0, };
  GThread *th;
  GstSegment seg;

  g_mutex_init (&s.lock);
  s.objects = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) g_bytes_unref);
  s.delay_ms = 2000;
  httpd = vss_httpd_new (0, fake_s3_handler, &s, &e);
  g_assert_no_error (e);
  endpoint = g_strdup_printf ("http://127.0.0.1:%u",
      vss_httpd_get_port (httpd));
  f = feeder_new (NULL, "valkey", url, "frames", "s3://frames/bp",
      "endpoint", endpoint, "region", "us-east-1", "access-key-id",
      "AKIDTEST", "secret-access-key", "secret/test+key", "spool-dir", dir,
      "stream-id", "bp", "create-index", "never", "max-in-flight", "1", NULL);
  /* One upload at a time: the second push waits for the first upload. */
  t0 = g_get_monotonic_time ();
  g_assert_cmpint (feeder_push (f, 0), ==, GST_FLOW_OK);
  g_assert_cmpint (feeder_push (f, 1), ==, GST_FLOW_OK);
  t1 = g_get_monotonic_time ();
  g_assert_cmpint (t1 - t0, >=, 1500 * 1000);
  st = feeder_stats (f);
  g_assert_cmpuint (g_value_get_uint (gst_structure_get_value (st,
              "in-flight")), <=, 2);
  gst_structure_free (st);

  /* Blocked again (frame 1 uploading for 2 s); a flush releases the push
   * long before the slot would. */
  ctx.f = f;
  th = g_thread_new ("push", push_thread, &ctx);
  g_usleep (100 * 1000);
  flushed = g_get_monotonic_time ();
  gst_pad_push_event (f->src, gst_event_new_flush_start ());
  g_thread_join (th);
  g_assert_cmpint (ctx.ret, ==, GST_FLOW_FLUSHING);
  g_assert_cmpint (ctx.returned_us - flushed, <, 1000 * 1000);
  gst_pad_push_event (f->src, gst_event_new_flush_stop (TRUE));
  gst_segment_init (&seg, GST_FORMAT_TIME);
  gst_pad_push_event (f->src, gst_event_new_segment (&seg));

  /* Accepted frames are all stored by EOS, flush or not. */
  g_assert_null (feeder_finish (f, NULL));
  st = feeder_stats (f);
  g_assert_cmpuint (stat_of (st, "written"), ==, 2);
  gst_structure_free (st);
  g_assert_cmpuint (g_hash_table_size (s.objects), ==, 2);
  feeder_free (f);

  vss_httpd_free (httpd);
  g_hash_table_unref (s.objects);
  g_mutex_clear (&s.lock);
  vss_test_rm_rf (dir);
  g_free (dir);
  g_free (endpoint);
  g_free (url);
}

/* EOS during an outage: the sink waits drain-timeout, then says what is
 * left; the next start writes it. */
static void
test_drain_timeout (void)
{
  VssTestRedisOptions opts = { 0, };
  g_autoptr (VssTestRedis) r = NULL;
  gchar *url, *dir = vss_test_tmpdir ("vsssink");
  VssValkeyClient *c;
  GstMessage *m;
  GError *e = NULL;
  gboolean warned = FALSE;
  GPtrArray *ids;
  gint64 t0;
  Feeder *f;

  opts.appendonly = TRUE;
  r = vss_test_redis_start_or_die (&opts);
  url = vss_test_redis_get_url (r, FAST);
  vss_test_redis_stop_node (r, 0, TRUE);
  f = feeder_new (NULL, "valkey", url, "spool-dir", dir, "stream-id", "dr",
      "create-index", "never", "drain-timeout", "1500", NULL);
  for (guint i = 0; i < 5; i++)
    g_assert_cmpint (feeder_push (f, i), ==, GST_FLOW_OK);
  t0 = g_get_monotonic_time ();
  gst_pad_push_event (f->src, gst_event_new_eos ());
  while ((m = gst_bus_timed_pop (f->bus, 30 * GST_SECOND))) {
    gboolean eos = GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS;

    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_WARNING) {
      GError *w;

      gst_message_parse_warning (m, &w, NULL);
      if (strstr (w->message, "5 frames could not be stored"))
        warned = TRUE;
      g_error_free (w);
    }
    g_assert_cmpint (GST_MESSAGE_TYPE (m), !=, GST_MESSAGE_ERROR);
    gst_message_unref (m);
    if (eos)
      break;
  }
  g_assert_true (warned);
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, 1400 * 1000);
  ids = g_ptr_array_ref (f->ids);
  feeder_free (f);

  g_assert_true (vss_test_redis_restart_node (r, 0, &e));
  g_assert_no_error (e);
  f = feeder_new (NULL, "valkey", url, "spool-dir", dir, "stream-id", "dr",
      "create-index", "never", NULL);
  g_assert_null (feeder_finish (f, NULL));
  feeder_free (f);
  c = vss_test_client (url);
  check_stored (c, ids, "dr", NULL, NULL, 5);
  vss_valkey_client_free (c);
  g_ptr_array_unref (ids);
  vss_test_rm_rf (dir);
  g_free (dir);
  g_free (url);
}

/* A full spool during an outage is an element error, not a silent drop. */
static void
test_spool_full (void)
{
  g_autoptr (VssTestRedis) r = vss_test_redis_start_or_die (NULL);
  gchar *url = vss_test_redis_get_url (r, FAST);
  gchar *dir = vss_test_tmpdir ("vsssink");
  Feeder *f;
  GstFlowReturn ret = GST_FLOW_OK;
  gchar *err;
  guint i;

  vss_test_redis_stop_node (r, 0, TRUE);
  f = feeder_new (NULL, "valkey", url, "spool-dir", dir, "create-index",
      "never", "spool-max-bytes", "20000", "drain-timeout", "100", NULL);
  for (i = 0; i < 3000 && ret == GST_FLOW_OK; i++) {
    ret = feeder_push (f, i);
    g_usleep (2000);
  }
  g_assert_cmpint (ret, ==, GST_FLOW_ERROR);
  err = feeder_pop_error (f);
  g_assert_nonnull (err);
  g_assert_nonnull (strstr (err, "full"));
  g_free (err);
  feeder_free (f);
  vss_test_rm_rf (dir);
  g_free (dir);
  g_free (url);
}

/* SIGKILL during an outage, then a new start: every accepted frame is
 * stored exactly once. The child is this program with --child. */
static int
child_main (int argc, char **argv)
{
  const gchar *url = argv[2], *frames = argv[3], *spool = argv[4];
  guint n = atoi (argv[5]);
  Feeder *f;
  gchar *err;

  gst_init (NULL, NULL);
  make_jpegs ();
  if (argc >= 7)                /* fake S3 endpoint */
    f = feeder_new (NULL, "valkey", url, "frames", frames, "spool-dir", spool,
        "stream-id", "kill", "create-index", "never", "max-in-flight", "4",
        "endpoint", argv[6], "region", "us-east-1", "access-key-id",
        "AKIDTEST", "secret-access-key", "secret/test+key", NULL);
  else
    f = feeder_new (NULL, "valkey", url, "frames", frames, "spool-dir", spool,
        "stream-id", "kill", "create-index", "never", "max-in-flight", "4",
        NULL);
  for (guint i = 0; i < n; i++) {
    if (feeder_push (f, i) != GST_FLOW_OK)
      return 2;
    printf ("accepted %s\n", (gchar *) g_ptr_array_index (f->ids, i));
    fflush (stdout);
    g_usleep (20000);
  }
  err = feeder_finish (f, NULL);
  if (err) {
    fprintf (stderr, "child: %s\n", err);
    return 3;
  }
  feeder_free (f);
  return 0;
}

static void
test_sigkill (void)
{
  VssTestRedisOptions opts = { 0, };
  g_autoptr (VssTestRedis) r = NULL;
  gchar *url, *dir = vss_test_tmpdir ("vsssink");
  gchar *frames = g_build_filename (dir, "frames", NULL);
  gchar *frames_uri = g_filename_to_uri (frames, NULL, NULL);
  gchar *spool = g_build_filename (dir, "spool", NULL);
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  GSubprocess *p;
  GDataInputStream *in;
  GError *e = NULL;
  gchar *line;
  VssValkeyClient *c;
  gint status;

  opts.appendonly = TRUE;
  r = vss_test_redis_start_or_die (&opts);
  url = vss_test_redis_get_url (r, FAST);
  /* Some frames stored normally, then the outage, then the kill. */
  p = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &e, self_path,
      "--child", url, frames_uri, spool, "1000", NULL);
  g_assert_no_error (e);
  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (p));
  while ((line = g_data_input_stream_read_line (in, NULL, NULL, &e))) {
    g_assert_true (g_str_has_prefix (line, "accepted "));
    g_ptr_array_add (ids, g_strdup (line + 9));
    g_free (line);
    if (ids->len == 10)
      vss_test_redis_stop_node (r, 0, TRUE);
    if (ids->len == 30) {
      g_subprocess_send_signal (p, SIGKILL);
      break;
    }
  }
  g_assert_no_error (e);
  g_subprocess_wait (p, NULL, NULL);
  g_object_unref (in);
  g_object_unref (p);
  g_assert_cmpuint (ids->len, ==, 30);
  /* The outage's frames wait in the spool (the ones in flight at the kill
   * are in the journal). */
  g_assert_cmpuint (vss_test_count_files (spool, ".rec", NULL), >=, 1);

  /* Back up; a new run with no new frames replays the spool and drains. */
  g_assert_true (vss_test_redis_restart_node (r, 0, &e));
  g_assert_no_error (e);
  p = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &e, self_path, "--child",
      url, frames_uri, spool, "0", NULL);
  g_assert_no_error (e);
  g_assert_true (g_subprocess_wait (p, NULL, &e));
  status = g_subprocess_get_exit_status (p);
  g_assert_cmpint (status, ==, 0);
  g_object_unref (p);

  c = vss_test_client (url);
  /* The child may have accepted a frame it could not report: at most one
   * more than the 30 acknowledged. */
  check_stored (c, ids, "kill", file_object_path, frames,
      vss_test_count_keys (c, "frame:*"));
  g_assert_cmpuint (vss_test_count_keys (c, "frame:*"), >=, 30);
  g_assert_cmpuint (vss_test_count_keys (c, "frame:*"), <=, 31);
  g_assert_cmpuint (vss_test_count_files (frames, ".jpg", NULL), ==,
      vss_test_count_keys (c, "frame:*"));
  g_assert_cmpuint (vss_test_count_files (spool, ".rec", NULL), ==, 0);
  vss_valkey_client_free (c);
  g_ptr_array_unref (ids);
  vss_test_rm_rf (dir);
  g_free (spool);
  g_free (frames_uri);
  g_free (frames);
  g_free (dir);
  g_free (url);
}

static gchar *
fake_object_path (const gchar * uri, gpointer data)
{
  FakeS3 *s = data;
  GBytes *b;
  gchar *path;

  g_assert_true (g_str_has_prefix (uri, "s3://frames/"));
  g_mutex_lock (&s->lock);
  b = g_hash_table_lookup (s->objects, uri + strlen ("s3://frames/"));
  if (b == NULL)
    g_error ("object %s was never stored", uri);
  path = g_build_filename (g_get_tmp_dir (), "vsssink-fake-object", NULL);
  g_assert_true (g_file_set_contents (path, g_bytes_get_data (b, NULL),
          g_bytes_get_size (b), NULL));
  g_mutex_unlock (&s->lock);
  return path;
}

/* SIGKILL while every service works but uploads are slow: the frames in
 * flight exist only in the journal, and the next start stores them. */
static void
test_sigkill_in_flight (void)
{
  g_autoptr (VssTestRedis) r = vss_test_redis_start_or_die (NULL);
  gchar *url = vss_test_redis_get_url (r, FAST);
  gchar *dir = vss_test_tmpdir ("vsssink");
  gchar *spool = g_build_filename (dir, "spool", NULL);
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  FakeS3 s = { 0, };
  VssHttpd *httpd;
  gchar *endpoint, *line, *fake;
  GSubprocess *p;
  GDataInputStream *in;
  GError *e = NULL;
  VssValkeyClient *c;
  guint64 n_keys;

  g_mutex_init (&s.lock);
  s.objects = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) g_bytes_unref);
  s.delay_ms = 3000;
  httpd = vss_httpd_new (0, fake_s3_handler, &s, &e);
  g_assert_no_error (e);
  endpoint = g_strdup_printf ("http://127.0.0.1:%u",
      vss_httpd_get_port (httpd));

  p = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &e, self_path,
      "--child", url, "s3://frames/k", spool, "1000", endpoint, NULL);
  g_assert_no_error (e);
  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (p));
  while ((line = g_data_input_stream_read_line (in, NULL, NULL, &e))) {
    g_ptr_array_add (ids, g_strdup (line + 9));
    g_free (line);
    if (ids->len == 4) {
      g_subprocess_send_signal (p, SIGKILL);
      break;
    }
  }
  g_subprocess_wait (p, NULL, NULL);
  g_object_unref (in);
  g_object_unref (p);
  g_assert_cmpuint (ids->len, ==, 4);
  /* Nothing was stored yet; nothing is in the spool proper. */
  c = vss_test_client (url);
  g_assert_cmpuint (vss_test_count_keys (c, "frame:*"), ==, 0);
  g_assert_cmpuint (vss_test_count_files (spool, ".rec", NULL), ==, 0);
  g_assert_cmpuint (vss_test_count_files (spool, ".jnl", NULL), ==, 1);

  s.delay_ms = 0;
  p = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &e, self_path, "--child",
      url, "s3://frames/k", spool, "0", endpoint, NULL);
  g_assert_no_error (e);
  g_assert_true (g_subprocess_wait (p, NULL, &e));
  g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 0);
  g_object_unref (p);

  n_keys = vss_test_count_keys (c, "frame:*");
  g_assert_cmpuint (n_keys, >=, 4);
  g_assert_cmpuint (n_keys, <=, 5);
  check_stored (c, ids, "kill", fake_object_path, &s, n_keys);
  g_assert_cmpuint (vss_test_count_files (spool, ".rec", NULL), ==, 0);
  g_assert_cmpuint (vss_test_count_files (spool, ".jnl", NULL), ==, 0);
  g_assert_cmpuint (s.bad_signatures, ==, 0);
  fake = g_build_filename (g_get_tmp_dir (), "vsssink-fake-object", NULL);
  g_unlink (fake);
  g_free (fake);

  vss_valkey_client_free (c);
  /* The killed child's connections may still be waiting on the server. */
  vss_httpd_free (httpd);
  g_hash_table_unref (s.objects);
  g_mutex_clear (&s.lock);
  g_ptr_array_unref (ids);
  vss_test_rm_rf (dir);
  g_free (spool);
  g_free (dir);
  g_free (endpoint);
  g_free (url);
}

/* Small filesystems. A child of this test runs in a mount namespace of its
 * own (unshare(1) with a user namespace, so that no privilege is needed)
 * where a folder is a tmpfs of a given size: the disk a user's spool or
 * frames folder may sit on. Systems without user namespaces fail the test,
 * saying so. */

static gboolean
tmpfs_possible (const gchar * dir, gchar ** why)
{
  const gchar *argv[] = { "unshare", "--user", "--map-root-user", "--mount",
    "mount", "-t", "tmpfs", "-o", "size=64k", "vss-test", dir, NULL
  };
  gchar *err = NULL;
  gint status = -1;
  gboolean ok;

  ok = g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_SEARCH_PATH |
      G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err, &status, NULL)
      && g_spawn_check_wait_status (status, NULL);
  if (!ok)
    *why = g_strdup_printf ("cannot mount a tmpfs in a user namespace "
        "(unshare --user --map-root-user --mount): %s", err ? err : "");
  g_free (err);
  return ok;
}

/* This program with @args, in a namespace where @dir is a tmpfs of
 * @size ("1m"); stdout piped. */
static GSubprocess *
spawn_with_tmpfs (const gchar * dir, const gchar * size,
    const gchar * const *args)
{
  GPtrArray *argv = g_ptr_array_new ();
  GSubprocess *p;
  GError *e = NULL;

  g_ptr_array_add (argv, (gpointer) "unshare");
  g_ptr_array_add (argv, (gpointer) "--user");
  g_ptr_array_add (argv, (gpointer) "--map-root-user");
  g_ptr_array_add (argv, (gpointer) "--mount");
  g_ptr_array_add (argv, (gpointer) "sh");
  g_ptr_array_add (argv, (gpointer) "-c");
  g_ptr_array_add (argv, (gpointer)
      "mount -t tmpfs -o size=\"$0\" vss-test \"$1\" && shift && "
      "exec \"$@\"");
  g_ptr_array_add (argv, (gpointer) size);
  g_ptr_array_add (argv, (gpointer) dir);
  g_ptr_array_add (argv, self_path);
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  p = g_subprocess_newv ((const gchar * const *) argv->pdata,
      G_SUBPROCESS_FLAGS_STDOUT_PIPE, &e);
  g_assert_no_error (e);
  g_ptr_array_unref (argv);
  return p;
}

/* The child's stdout, line by line, into @lines; returns its exit
 * status. */
static gint
child_output (GSubprocess * p, GPtrArray * lines)
{
  GDataInputStream *in =
      g_data_input_stream_new (g_subprocess_get_stdout_pipe (p));
  GError *e = NULL;
  gchar *line;

  while ((line = g_data_input_stream_read_line (in, NULL, NULL, &e))) {
    g_test_message ("child: %s", line);
    g_ptr_array_add (lines, line);
  }
  g_assert_no_error (e);
  g_object_unref (in);
  g_assert_true (g_subprocess_wait (p, NULL, NULL));
  return g_subprocess_get_if_exited (p) ? g_subprocess_get_exit_status (p) : -1;
}

/* The child of test_small_spool: @n frames into a sink whose spool folder
 * is a 1 MiB filesystem, Valkey up. */
static int
child_small_spool (gchar ** argv)
{
  const gchar *url = argv[2], *frames = argv[3], *spool = argv[4];
  guint n = atoi (argv[5]), i;
  Feeder *f;
  gchar *err;

  gst_init (NULL, NULL);
  make_jpegs ();
  f = feeder_new (NULL, "valkey", url, "frames", frames, "spool-dir", spool,
      "spool-max-bytes", "1048576", "stream-id", "small", "create-index",
      "never", NULL);
  for (i = 0; i < n; i++) {
    if (feeder_push (f, i) != GST_FLOW_OK) {
      err = feeder_pop_error (f);
      printf ("refused frame %u: %s\n", i, err ? err : "");
      g_free (err);
      break;
    }
  }
  printf ("accepted %u\n", i);
  err = i == n ? feeder_finish (f, NULL) : NULL;
  if (err)
    printf ("error: %s\n", err);
  fflush (stdout);
  feeder_free (f);
  return i == n && err == NULL ? 0 : 2;
}

/* Issue 18, point 16: a spool folder on a 1 MiB filesystem. Journal
 * segments of 8 MiB filled it after a few hundred of these small frames
 * (38 of a user's 27 kB frames) and the sink stopped; segments sized to
 * the limit and the free space let every frame through. */
static void
test_small_spool (void)
{
  g_autoptr (VssTestRedis) r = vss_test_redis_start_or_die (NULL);
  gchar *url = vss_test_redis_get_url (r, NULL);
  gchar *dir = vss_test_tmpdir ("vsssink");
  gchar *frames = g_build_filename (dir, "frames", NULL);
  gchar *frames_uri = g_filename_to_uri (frames, NULL, NULL);
  gchar *spool = g_build_filename (dir, "spool", NULL);
  const gchar *args[] = { "--child-small-spool", url, frames_uri, spool,
    "1500", NULL
  };
  GPtrArray *lines = g_ptr_array_new_with_free_func (g_free);
  VssValkeyClient *c;
  gchar *why = NULL;
  gint status;

  g_mkdir_with_parents (spool, 0700);
  /* A real full disk needs a small filesystem: without one the test fails
   * and says what is missing (never a silent skip). */
  if (!tmpfs_possible (spool, &why))
    g_error ("%s", why);
  status = child_output (spawn_with_tmpfs (spool, "1m", args), lines);
  g_assert_cmpuint (lines->len, >, 0);
  g_assert_cmpstr (g_ptr_array_index (lines, lines->len - 1), ==,
      "accepted 1500");
  g_assert_cmpint (status, ==, 0);
  c = vss_test_client (url);
  g_assert_cmpuint (vss_test_count_keys (c, "frame:*"), ==, 1500);
  g_assert_cmpuint (vss_test_count_files (frames, ".jpg", NULL), ==, 1500);
  vss_valkey_client_free (c);
  g_ptr_array_unref (lines);
  vss_test_rm_rf (dir);
  g_free (spool);
  g_free (frames_uri);
  g_free (frames);
  g_free (dir);
  g_free (url);
}

/* Issue 18, point 12: why frames go to the spool. */

/* Runs a command on @c; it must not fail. */
static void
admin (VssValkeyClient * c, ...)
{
  const gchar *argv[16];
  GError *err = NULL;
  VssValkeyReply *r;
  gint argc = 0;
  va_list ap;

  va_start (ap, c);
  while (argc < 16 && (argv[argc] = va_arg (ap, const gchar *)))
      argc++;
  va_end (ap);
  r = vss_valkey_command (c, NULL, &err, argc, argv, NULL);
  g_assert_no_error (err);
  if (vss_valkey_reply_is_error (r, NULL))
    g_error ("%s: %s", argv[0], r->str);
  freeReplyObject (r);
}

/* Waits up to @timeout_s for a message of @type whose text contains
 * @needle (and @needle2 when given); returns its text. The text and debug
 * of every warning, info and error seen go to @seen. An error that is not
 * awaited fails the test. */
static gchar *
wait_message (Feeder * f, GstMessageType type, const gchar * needle,
    const gchar * needle2, guint timeout_s, GString * seen)
{
  gint64 end = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < end) {
    GstMessage *m = gst_bus_timed_pop_filtered (f->bus, 100 * GST_MSECOND,
        GST_MESSAGE_WARNING | GST_MESSAGE_INFO | GST_MESSAGE_ERROR);
    GError *e = NULL;
    gchar *dbg = NULL;
    GstMessageType t;

    if (m == NULL)
      continue;
    t = GST_MESSAGE_TYPE (m);
    if (t == GST_MESSAGE_WARNING)
      gst_message_parse_warning (m, &e, &dbg);
    else if (t == GST_MESSAGE_INFO)
      gst_message_parse_info (m, &e, &dbg);
    else
      gst_message_parse_error (m, &e, &dbg);
    gst_message_unref (m);
    g_string_append_printf (seen, "%s | %s\n", e->message, dbg ? dbg : "");
    g_test_message ("%s: %s | %s", t == GST_MESSAGE_WARNING ? "warning" :
        t == GST_MESSAGE_INFO ? "info" : "error", e->message, dbg ? dbg : "");
    g_free (dbg);
    if (t == type && strstr (e->message, needle)
        && (needle2 == NULL || strstr (e->message, needle2))) {
      gchar *text = g_strdup (e->message);

      g_error_free (e);
      return text;
    }
    if (t == GST_MESSAGE_ERROR)
      g_error ("unexpected error: %s", e->message);
    g_error_free (e);
  }
  g_error ("no message with '%s' within %u s", needle, timeout_s);
  return NULL;
}

/* Waits up to 30 s until nothing waits in the spool nor in flight. */
static void
wait_drained (Feeder * f)
{
  gint64 end = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < end) {
    GstStructure *st = feeder_stats (f);
    guint pending = 1, in_flight = 1;

    gst_structure_get_uint (st, "spool-pending", &pending);
    gst_structure_get_uint (st, "in-flight", &in_flight);
    gst_structure_free (st);
    if (pending == 0 && in_flight == 0)
      return;
    g_usleep (50 * 1000);
  }
  g_error ("the spool was not replayed within 30 s");
}

static void
wait_written_n (Feeder * f, guint64 n)
{
  gint64 end = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < end) {
    GstStructure *st = feeder_stats (f);
    guint64 w = stat_of (st, "written");

    gst_structure_free (st);
    if (w >= n)
      return;
    g_usleep (20 * 1000);
  }
  g_error ("fewer than %" G_GUINT64_FORMAT " frames written", n);
}

/* A server out of memory, turned into a read-only replica, asking for a
 * password, then gone: each time the warning says why frames go to the
 * spool and what to do, and the frames are written once it is fixed. */
static void
test_spool_causes (void)
{
  g_autoptr (VssTestRedis) r = vss_test_redis_start_or_die (NULL);
  g_autoptr (VssTestRedis) primary = vss_test_redis_start_or_die (NULL);
  gchar *url = vss_test_redis_get_url (r, FAST);
  gchar *dir = vss_test_tmpdir ("vsssink");
  VssValkeyClient *c = vss_test_client (url);
  GString *seen = g_string_new (NULL);
  gchar *port = g_strdup_printf ("%u", vss_test_redis_get_port (primary, 0));
  GstStructure *st;
  GError *e = NULL;
  gchar *w;
  Feeder *f;
  guint i = 0;

  f = feeder_new (NULL, "valkey", url, "spool-dir", dir, "stream-id",
      "causes", "create-index", "never", NULL);
  for (; i < 3; i++)
    g_assert_cmpint (feeder_push (f, i), ==, GST_FLOW_OK);
  wait_written_n (f, 3);

  /* Out of memory. */
  admin (c, "CONFIG", "SET", "maxmemory-policy", "noeviction", NULL);
  admin (c, "CONFIG", "SET", "maxmemory", "1", NULL);
  g_assert_cmpint (feeder_push (f, i++), ==, GST_FLOW_OK);
  w = wait_message (f, GST_MESSAGE_WARNING, "out of memory", "maxmemory", 20,
      seen);
  g_free (w);
  admin (c, "CONFIG", "SET", "maxmemory", "0", NULL);
  wait_drained (f);
  w = wait_message (f, GST_MESSAGE_INFO, "Frames are stored again",
      "written from the spool", 10, seen);
  g_free (w);

  /* A read-only replica. */
  admin (c, "REPLICAOF", "127.0.0.1", port, NULL);
  g_assert_cmpint (feeder_push (f, i++), ==, GST_FLOW_OK);
  w = wait_message (f, GST_MESSAGE_WARNING, "read-only replica", "primary",
      30, seen);
  g_free (w);
  admin (c, "REPLICAOF", "NO", "ONE", NULL);
  wait_drained (f);

  /* A password the sink does not have (NOAUTH once it reconnects). */
  admin (c, "CONFIG", "SET", "requirepass", "S3cr3t-pw", NULL);
  admin (c, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes", NULL);
  g_assert_cmpint (feeder_push (f, i++), ==, GST_FLOW_OK);
  w = wait_message (f, GST_MESSAGE_WARNING, "refused the credentials",
      "password", 20, seen);
  g_free (w);
  admin (c, "CONFIG", "SET", "requirepass", "", NULL);
  wait_drained (f);

  /* Gone. */
  vss_test_redis_stop_node (r, 0, TRUE);
  g_assert_cmpint (feeder_push (f, i++), ==, GST_FLOW_OK);
  w = wait_message (f, GST_MESSAGE_WARNING, "cannot be reached", NULL, 20,
      seen);
  g_free (w);
  g_assert_true (vss_test_redis_restart_node (r, 0, &e));
  g_assert_no_error (e);
  wait_drained (f);

  g_assert_null (feeder_finish (f, NULL));
  st = feeder_stats (f);
  g_assert_cmpuint (stat_of (st, "written"), ==, i);
  g_assert_cmpuint (stat_of (st, "spooled"), >=, 4);
  g_assert_cmpuint (stat_of (st, "replayed"), ==, stat_of (st, "spooled"));
  g_assert_cmpuint (stat_of (st, "failed"), ==, 0);
  gst_structure_free (st);
  g_assert_null (strstr (seen->str, "S3cr3t-pw"));
  feeder_free (f);
  vss_valkey_client_free (c);
  g_string_free (seen, TRUE);
  vss_test_rm_rf (dir);
  g_free (dir);
  g_free (port);
  g_free (url);
}

/* An ACL user whose password changes under a running sink (WRONGPASS at
 * its reconnect): the warning says so, without either password, and the
 * frames are written once the password is right again. */
static void
test_spool_cause_wrongpass (void)
{
  VssTestRedisOptions opts = { 0, };
  g_autoptr (VssTestRedis) r = NULL;
  gchar *url, *admin_url, *dir = vss_test_tmpdir ("vsssink");
  GString *seen = g_string_new (NULL);
  GError *e = NULL;
  VssValkeyClient *c;
  GstStructure *st;
  gchar *out, *w;
  Feeder *f;

  opts.acl_user = "writer";
  opts.acl_password = "pw-One-S3cret";
  r = vss_test_redis_start_or_die (&opts);
  url = vss_test_redis_get_url (r, FAST);
  out = vss_test_redis_cli (r, 0, &e, "ACL", "SETUSER", "admin", "on",
      ">admin-pw", "~*", "&*", "+@all", NULL);
  g_assert_no_error (e);
  g_free (out);
  admin_url = g_strdup_printf ("redis://admin:admin-pw@127.0.0.1:%u",
      vss_test_redis_get_port (r, 0));
  c = vss_test_client (admin_url);

  f = feeder_new (NULL, "valkey", url, "spool-dir", dir, "stream-id", "acl",
      "create-index", "never", NULL);
  g_assert_cmpint (feeder_push (f, 0), ==, GST_FLOW_OK);
  wait_written_n (f, 1);
  admin (c, "ACL", "SETUSER", "writer", "resetpass", ">pw-Two-S3cret", NULL);
  admin (c, "CLIENT", "KILL", "USER", "writer", NULL);
  g_assert_cmpint (feeder_push (f, 1), ==, GST_FLOW_OK);
  w = wait_message (f, GST_MESSAGE_WARNING, "refused the credentials",
      "password", 20, seen);
  g_free (w);
  admin (c, "ACL", "SETUSER", "writer", "resetpass", ">pw-One-S3cret", NULL);
  wait_drained (f);
  g_assert_null (feeder_finish (f, NULL));
  st = feeder_stats (f);
  g_assert_cmpuint (stat_of (st, "written"), ==, 2);
  g_assert_cmpuint (stat_of (st, "failed"), ==, 0);
  gst_structure_free (st);
  g_assert_null (strstr (seen->str, "S3cret"));
  feeder_free (f);
  vss_valkey_client_free (c);
  g_string_free (seen, TRUE);
  vss_test_rm_rf (dir);
  g_free (dir);
  g_free (admin_url);
  g_free (url);
}

/* The child of test_disk_full: the frames folder is a full 1 MiB
 * filesystem. */
static int
child_disk_full (gchar ** argv)
{
  const gchar *url = argv[2], *frames = argv[3], *spool = argv[4];
  gchar *frames_uri = g_filename_to_uri (frames, NULL, NULL);
  gchar *filler = g_build_filename (frames, "filler", NULL);
  GString *seen = g_string_new (NULL);
  guint8 block[4096] = { 0, };
  GstStructure *st;
  gchar *w;
  Feeder *f;
  FILE *fp;

  gst_init (NULL, NULL);
  make_jpegs ();
  fp = fopen (filler, "w");
  g_assert_nonnull (fp);
  while (fwrite (block, 1, sizeof block, fp) == sizeof block && fflush (fp)
      == 0);
  fclose (fp);
  f = feeder_new (NULL, "valkey", url, "frames", frames_uri, "spool-dir",
      spool, "stream-id", "full", "create-index", "never", NULL);
  g_assert_cmpint (feeder_push (f, 0), ==, GST_FLOW_OK);
  w = wait_message (f, GST_MESSAGE_WARNING, "is full", "Free space", 20, seen);
  printf ("warning: %s\n", w);
  g_free (w);
  for (guint i = 1; i < 5; i++)
    g_assert_cmpint (feeder_push (f, i), ==, GST_FLOW_OK);
  /* Uploads run apart from the pushes: every frame is spooled before the
   * disk gets room. */
  {
    gint64 end = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
    guint64 spooled = 0;

    while (spooled < 5 && g_get_monotonic_time () < end) {
      st = feeder_stats (f);
      spooled = stat_of (st, "spooled");
      gst_structure_free (st);
      g_usleep (20 * 1000);
    }
    g_assert_cmpuint (spooled, ==, 5);
  }
  /* Room again: the frames are written. */
  g_assert_cmpint (g_unlink (filler), ==, 0);
  wait_drained (f);
  g_assert_null (feeder_finish (f, NULL));
  st = feeder_stats (f);
  printf ("written %" G_GUINT64_FORMAT " spooled %" G_GUINT64_FORMAT
      " replayed %" G_GUINT64_FORMAT " failed %" G_GUINT64_FORMAT "\n",
      stat_of (st, "written"), stat_of (st, "spooled"), stat_of (st,
          "replayed"), stat_of (st, "failed"));
  fflush (stdout);
  g_assert_cmpuint (stat_of (st, "written"), ==, 5);
  g_assert_cmpuint (stat_of (st, "spooled"), ==, 5);
  g_assert_cmpuint (stat_of (st, "replayed"), ==, 5);
  g_assert_cmpuint (stat_of (st, "failed"), ==, 0);
  gst_structure_free (st);
  feeder_free (f);
  g_string_free (seen, TRUE);
  g_free (filler);
  g_free (frames_uri);
  return 0;
}

/* The disk of the frames folder is full (ENOSPC, a real 1 MiB tmpfs in a
 * namespace of the child's own): the warning says so and says to free
 * space, not to wait for a service; once there is room the frames are
 * written. */
static void
test_disk_full (void)
{
  g_autoptr (VssTestRedis) r = vss_test_redis_start_or_die (NULL);
  gchar *url = vss_test_redis_get_url (r, NULL);
  gchar *dir = vss_test_tmpdir ("vsssink");
  gchar *frames = g_build_filename (dir, "frames", NULL);
  gchar *spool = g_build_filename (dir, "spool", NULL);
  const gchar *args[] = { "--child-disk-full", url, frames, spool, "-", NULL };
  GPtrArray *lines = g_ptr_array_new_with_free_func (g_free);
  gboolean warned = FALSE;
  VssValkeyClient *c;
  gchar *why = NULL;
  gint status;

  g_mkdir_with_parents (frames, 0700);
  if (!tmpfs_possible (frames, &why))
    g_error ("%s", why);
  status = child_output (spawn_with_tmpfs (frames, "1m", args), lines);
  for (guint i = 0; i < lines->len; i++) {
    const gchar *l = g_ptr_array_index (lines, i);

    if (g_str_has_prefix (l, "warning: ") && strstr (l, frames))
      warned = TRUE;
  }
  g_assert_cmpint (status, ==, 0);
  g_assert_true (warned);
  c = vss_test_client (url);
  g_assert_cmpuint (vss_test_count_keys (c, "frame:*"), ==, 5);
  vss_valkey_client_free (c);
  g_ptr_array_unref (lines);
  vss_test_rm_rf (dir);
  g_free (spool);
  g_free (frames);
  g_free (dir);
  g_free (url);
}

/* A frame that could not be spooled (spool-max-bytes far too small) but
 * was in the journal is not lost: it is not counted as failed, the error
 * says where it is, and the next start recovers it from the journal with
 * a message and a counter. */
static void
test_journal_kept (void)
{
  VssTestRedisOptions opts = { 0, };
  g_autoptr (VssTestRedis) r = NULL;
  gchar *url, *dir = vss_test_tmpdir ("vsssink");
  GString *seen = g_string_new (NULL);
  GstStructure *st;
  GError *e = NULL;
  VssValkeyClient *c;
  gchar *w;
  Feeder *f;

  opts.appendonly = TRUE;
  r = vss_test_redis_start_or_die (&opts);
  url = vss_test_redis_get_url (r, FAST);
  vss_test_redis_stop_node (r, 0, TRUE);
  f = feeder_new (NULL, "valkey", url, "spool-dir", dir, "stream-id", "jk",
      "create-index", "never", "spool-max-bytes", "100", NULL);
  g_assert_cmpint (feeder_push (f, 0), ==, GST_FLOW_OK);
  w = wait_message (f, GST_MESSAGE_ERROR, "stays in the journal", NULL, 20,
      seen);
  g_free (w);
  st = feeder_stats (f);
  g_assert_cmpuint (stat_of (st, "failed"), ==, 0);
  g_assert_cmpuint (stat_of (st, "journal-kept"), ==, 1);
  gst_structure_free (st);
  feeder_free (f);

  g_assert_true (vss_test_redis_restart_node (r, 0, &e));
  g_assert_no_error (e);
  f = feeder_new (NULL, "valkey", url, "spool-dir", dir, "stream-id", "jk",
      "create-index", "never", NULL);
  w = wait_message (f, GST_MESSAGE_INFO, "Recovered 1 frame", NULL, 10, seen);
  g_free (w);
  g_assert_null (feeder_finish (f, NULL));
  st = feeder_stats (f);
  g_assert_cmpuint (stat_of (st, "recovered"), ==, 1);
  g_assert_cmpuint (stat_of (st, "written"), ==, 1);
  g_assert_cmpuint (stat_of (st, "failed"), ==, 0);
  gst_structure_free (st);
  feeder_free (f);
  c = vss_test_client (url);
  g_assert_cmpuint (vss_test_count_keys (c, "frame:jk:*"), ==, 1);
  vss_valkey_client_free (c);
  g_string_free (seen, TRUE);
  vss_test_rm_rf (dir);
  g_free (dir);
  g_free (url);
}

/* Pure parts: key safety, S3 URLs and error bodies, the spool's checks. */
static void
test_pure (void)
{
  gchar *s, *dir = vss_test_tmpdir ("vsssink");
  GError *e = NULL;
  VssStoreSpool *sp;
  GBytes *b, *rb;
  guint64 seq;
  GArray *seqs;
  gchar *path;

  s = gst_vss_record_sanitize_stream ("../a b/ü");
  g_assert_cmpstr (s, ==, "_._a_b___");
  g_free (s);
  s = gst_vss_record_sanitize_stream ("..");
  g_assert_cmpstr (s, ==, "_");
  g_free (s);
  g_assert_true (vss_store_key_is_safe ("cam/2024/01/02/x.jpg"));
  g_assert_false (vss_store_key_is_safe ("../x"));
  g_assert_false (vss_store_key_is_safe ("a/../x"));
  g_assert_false (vss_store_key_is_safe ("/x"));
  g_assert_false (vss_store_key_is_safe ("a//x"));

  s = vss_store_s3_url ("https://s3.eu-west-1.amazonaws.com", "eu-west-1",
      FALSE, "bkt", "p q/x.jpg");
  g_assert_cmpstr (s, ==, "https://bkt.s3.eu-west-1.amazonaws.com/p%20q/x.jpg");
  g_free (s);
  s = vss_store_s3_url ("http://127.0.0.1:9000", "us-east-1", TRUE, "bkt",
      "x.jpg");
  g_assert_cmpstr (s, ==, "http://127.0.0.1:9000/bkt/x.jpg");
  g_free (s);
  s = vss_store_s3_url ("https://s3.us-east-1.amazonaws.com", "us-east-1",
      FALSE, "my.bkt", "x.jpg");
  g_assert_cmpstr (s, ==, "https://s3.us-east-1.amazonaws.com/my.bkt/x.jpg");
  g_free (s);
  /* S3 errors and their retry policy: tests/gst/test-bedrock.c. */

  sp = vss_store_spool_open (dir, 0, &e);
  g_assert_no_error (e);
  g_assert_null (vss_store_spool_open (dir, 0, &e));
  g_assert_error (e, VSS_STORE_SPOOL_ERROR, VSS_STORE_SPOOL_ERROR_BUSY);
  g_clear_error (&e);
  b = g_bytes_new_static ("hello", 5);
  g_assert_true (vss_store_spool_append (sp, b, TRUE, &seq, &e));
  g_assert_true (vss_store_spool_append (sp, b, FALSE, NULL, &e));
  rb = vss_store_spool_read (sp, seq, &e);
  g_assert_true (g_bytes_equal (rb, b));
  g_bytes_unref (rb);
  /* Flip a payload byte: the checksum catches it. */
  path = g_strdup_printf ("%s/%020" G_GUINT64_FORMAT ".rec", dir, seq);
  {
    gchar *c;
    gsize len;

    g_assert_true (g_file_get_contents (path, &c, &len, NULL));
    c[len - 1] ^= 1;
    g_assert_true (g_file_set_contents (path, c, len, NULL));
    g_free (c);
  }
  g_assert_null (vss_store_spool_read (sp, seq, &e));
  g_assert_error (e, VSS_STORE_SPOOL_ERROR, VSS_STORE_SPOOL_ERROR_CORRUPT);
  g_clear_error (&e);
  g_assert_true (vss_store_spool_quarantine (sp, seq));
  vss_store_spool_close (sp);
  /* Reopened: one record left, numbering continues, limit enforced. */
  sp = vss_store_spool_open (dir, 150, &e);
  seqs = vss_store_spool_list (sp);
  g_assert_cmpuint (seqs->len, ==, 1);
  g_assert_cmpuint (g_array_index (seqs, guint64, 0), ==, seq + 1);
  g_array_unref (seqs);
  g_assert_true (vss_store_spool_append (sp, b, FALSE, &seq, &e));
  g_assert_cmpuint (seq, ==, 3);
  {
    GBytes *big = g_bytes_new_take (g_malloc0 (200), 200);

    g_assert_false (vss_store_spool_append (sp, big, FALSE, NULL, &e));
    g_assert_error (e, VSS_STORE_SPOOL_ERROR, VSS_STORE_SPOOL_ERROR_FULL);
    g_clear_error (&e);
    g_bytes_unref (big);
  }
  vss_store_spool_close (sp);

  /* The record header's checksum is the standard CRC-32C (iSCSI's). */
  vss_test_rm_rf (dir);
  sp = vss_store_spool_open (dir, 0, &e);
  {
    GBytes *check = g_bytes_new_static ("123456789", 9);
    gchar *c, *p1;
    gsize len;

    g_assert_true (vss_store_spool_append (sp, check, FALSE, &seq, &e));
    p1 = g_strdup_printf ("%s/%020" G_GUINT64_FORMAT ".rec", dir, seq);
    g_assert_true (g_file_get_contents (p1, &c, &len, NULL));
    g_assert_cmpuint (len, ==, 20 + 9);
    g_assert_cmpmem (c + 16, 4, "\x83\x92\x06\xe3", 4);
    g_free (c);
    g_free (p1);
    g_bytes_unref (check);
  }
  vss_store_spool_close (sp);

  /* Journal: released records go with their segment; a run that dies
   * leaves its segment, and the next open turns it into records. */
  vss_test_rm_rf (dir);
  sp = vss_store_spool_open (dir, 0, &e);
  g_assert_no_error (e);
  {
    guint64 s1, s2;
    guint n_rec;

    g_assert_true (vss_store_spool_journal_append (sp, b, &s1, &e));
    vss_store_spool_journal_release (sp, s1);
    vss_store_spool_close (sp);
    sp = vss_store_spool_open (dir, 0, &e);
    g_assert_cmpuint (vss_store_spool_get_recovered (sp), ==, 0);
    g_assert_true (vss_store_spool_journal_append (sp, b, &s1, &e));
    g_assert_true (vss_store_spool_journal_append (sp, b, &s2, &e));
    vss_store_spool_journal_release (sp, s1);
    vss_store_spool_close (sp); /* s2 still live: the segment stays */
    sp = vss_store_spool_open (dir, 0, &e);
    g_assert_no_error (e);
    g_assert_cmpuint (vss_store_spool_get_recovered (sp), ==, 2);
    vss_store_spool_get_usage (sp, &n_rec, NULL);
    g_assert_cmpuint (n_rec, ==, 2);
    seqs = vss_store_spool_list (sp);
    rb = vss_store_spool_read (sp, g_array_index (seqs, guint64, 1), &e);
    g_assert_true (g_bytes_equal (rb, b));
    g_bytes_unref (rb);
    g_array_unref (seqs);
    vss_store_spool_close (sp);
  }
  g_bytes_unref (b);
  g_free (path);
  vss_test_rm_rf (dir);
  g_free (dir);
}

int
main (int argc, char **argv)
{
  if (argc >= 6 && strcmp (argv[1], "--child") == 0)
    return child_main (argc, argv);
  if (argc >= 6 && strcmp (argv[1], "--child-small-spool") == 0)
    return child_small_spool (argv);
  if (argc >= 6 && strcmp (argv[1], "--child-disk-full") == 0)
    return child_disk_full (argv);
  self_path = g_canonicalize_filename (argv[0], NULL);
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  make_jpegs ();
  g_test_add_func ("/vsssink/pure", test_pure);
  g_test_add_func ("/vsssink/folder", test_folder);
  g_test_add_func ("/vsssink/vectors-only", test_vectors_only);
  g_test_add_func ("/vsssink/png", test_png);
  g_test_add_func ("/vsssink/bad-input", test_bad_input);
  g_test_add_func ("/vsssink/redis-restart", test_redis_restart);
  g_test_add_func ("/vsssink/redis-restart-no-journal",
      test_redis_restart_no_journal);
  g_test_add_func ("/vsssink/tls", test_tls);
  g_test_add_func ("/vsssink/cluster", test_cluster);
  g_test_add_func ("/vsssink/s3rver", test_s3rver);
  g_test_add_func ("/vsssink/s3rver-outage", test_s3rver_outage);
  g_test_add_func ("/vsssink/fake-s3", test_fake_s3);
  g_test_add_func ("/vsssink/spool-full", test_spool_full);
  g_test_add_func ("/vsssink/backpressure-and-flush",
      test_backpressure_and_flush);
  g_test_add_func ("/vsssink/drain-timeout", test_drain_timeout);
  g_test_add_func ("/vsssink/sigkill", test_sigkill);
  g_test_add_func ("/vsssink/sigkill-in-flight", test_sigkill_in_flight);
  g_test_add_func ("/vsssink/small-spool", test_small_spool);
  g_test_add_func ("/vsssink/spool-causes", test_spool_causes);
  g_test_add_func ("/vsssink/spool-cause-wrongpass",
      test_spool_cause_wrongpass);
  g_test_add_func ("/vsssink/disk-full", test_disk_full);
  g_test_add_func ("/vsssink/journal-kept", test_journal_kept);
  return g_test_run ();
}
