/* gst-vss tests: Valkey client against a real redis-server
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <gio/gio.h>
#include "valkey/gstvssvalkeyclient.h"
#include "vss-test-redis.h"

static VssTestRedis *
start_or_fail (const VssTestRedisOptions * opts)
{
  GError *err = NULL;
  VssTestRedis *r = vss_test_redis_start (opts, &err);

  g_assert_no_error (err);
  g_assert_nonnull (r);
  return r;
}

static VssValkeyClient *
client_for (VssTestRedis * r, const gchar * extra)
{
  GError *err = NULL;
  gchar *url = vss_test_redis_get_url (r, extra);
  VssValkeyClient *c = vss_valkey_client_new_from_url (url, &err);

  g_assert_no_error (err);
  g_free (url);
  return c;
}

static VssValkeyReply *
cmd (VssValkeyClient * c, GError ** err, ...)
{
  const gchar *argv[16];
  gint argc = 0;
  va_list ap;

  va_start (ap, err);
  while ((argv[argc] = va_arg (ap, const gchar *)))
      argc++;
  va_end (ap);
  return vss_valkey_command (c, NULL, err, argc, argv, NULL);
}

static void
assert_string_reply (VssValkeyReply * r, const gchar * expected)
{
  g_assert_nonnull (r);
  g_assert_true (r->type == REDIS_REPLY_STRING
      || r->type == REDIS_REPLY_STATUS);
  g_assert_cmpstr (r->str, ==, expected);
  freeReplyObject (r);
}

/* SET/GET, a server error with its text, binary values, SELECT. */
static void
test_plain (void)
{
  g_autoptr (VssTestRedis) r = start_or_fail (NULL);
  g_autoptr (VssValkeyClient) c = client_for (r, NULL);
  g_autoptr (VssValkeyClient) c2 = client_for (r, "db=3");
  GError *err = NULL;
  VssValkeyReply *rep;
  const gchar bin[] = "a\0b\r\nc";
  const gchar *argv[] = { "SET", "bin", bin };
  gsize argvlen[] = { 3, 3, sizeof bin };

  g_assert_true (vss_valkey_client_connect (c, NULL, &err));
  g_assert_no_error (err);
  g_assert_false (vss_valkey_client_is_cluster (c));

  assert_string_reply (cmd (c, &err, "SET", "k", "v1", NULL), "OK");
  assert_string_reply (cmd (c, &err, "GET", "k", NULL), "v1");
  g_assert_no_error (err);

  rep = vss_valkey_command (c, NULL, &err, 3, argv, argvlen);
  assert_string_reply (rep, "OK");
  rep = cmd (c, &err, "GET", "bin", NULL);
  g_assert_cmpint (rep->len, ==, sizeof bin);
  g_assert_cmpmem (rep->str, rep->len, bin, sizeof bin);
  freeReplyObject (rep);

  /* Server errors come back with their text. */
  rep = cmd (c, &err, "INCR", "k", NULL);
  g_assert_null (rep);
  g_assert_error (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_SERVER);
  g_assert_nonnull (strstr (err->message, "not an integer"));
  g_clear_error (&err);

  /* db=3 is another keyspace. */
  rep = cmd (c2, &err, "GET", "k", NULL);
  g_assert_no_error (err);
  g_assert_cmpint (rep->type, ==, REDIS_REPLY_NIL);
  freeReplyObject (rep);
}

/* 10000 commands in one pipeline, results in caller order, an error reply
 * in the middle that does not disturb its neighbours. */
static void
test_pipeline (void)
{
  g_autoptr (VssTestRedis) r = start_or_fail (NULL);
  g_autoptr (VssValkeyClient) c = client_for (r, NULL);
  g_autoptr (VssValkeyPipeline) p = vss_valkey_pipeline_new ();
  GError *err = NULL;
  const guint n = 10000;

  assert_string_reply (cmd (c, &err, "SET", "str", "x", NULL), "OK");
  for (guint i = 0; i < n; i++) {
    gchar key[32];
    const gchar *argv[] = { "INCRBY", key, key + 2 };
    g_snprintf (key, sizeof key, "k:%u", i);
    if (i == n / 2) {
      const gchar *bad[] = { "INCR", "str" };
      vss_valkey_pipeline_append (p, "str", 3, 0, 2, bad, NULL);
    } else {
      vss_valkey_pipeline_append (p, key, strlen (key), 0, 3, argv, NULL);
    }
  }
  g_assert_true (vss_valkey_client_execute (c, p, NULL, &err));
  g_assert_no_error (err);
  for (guint i = 0; i < n; i++) {
    const VssValkeyReply *rep = vss_valkey_pipeline_get_reply (p, i);
    g_assert_cmpint (vss_valkey_pipeline_get_state (p, i), ==,
        VSS_VALKEY_COMMAND_DONE);
    if (i == n / 2) {
      g_assert_cmpint (rep->type, ==, REDIS_REPLY_ERROR);
    } else {
      g_assert_cmpint (rep->type, ==, REDIS_REPLY_INTEGER);
      g_assert_cmpint (rep->integer, ==, i);
    }
  }
  /* Executing again sends nothing: every command has its reply. */
  g_assert_true (vss_valkey_client_execute (c, p, NULL, &err));
  g_assert_cmpint (vss_valkey_pipeline_get_reply (p, 7)->integer, ==, 7);
}

/* Two pipelines alternate: one in flight while the next is built. Calls
 * that would interleave with the one in flight are refused. */
static void
test_send_receive (void)
{
  g_autoptr (VssTestRedis) r = start_or_fail (NULL);
  g_autoptr (VssValkeyClient) c = client_for (r, NULL);
  VssValkeyPipeline *p[2] = { vss_valkey_pipeline_new (),
    vss_valkey_pipeline_new ()
  };
  GError *err = NULL;
  guint next = 0;
  const guint rounds = 50, per = 100;

  for (guint round = 0; round < rounds; round++) {
    VssValkeyPipeline *q = p[round % 2];
    vss_valkey_pipeline_clear (q);
    for (guint i = 0; i < per; i++) {
      const gchar *argv[] = { "INCR", "counter" };
      vss_valkey_pipeline_append (q, "counter", 7, 0, 2, argv, NULL);
    }
    g_assert_true (vss_valkey_client_send (c, q, NULL, &err));
    g_assert_no_error (err);
    if (round == 0) {
      /* Misuse while in flight: refused, nothing disturbed. */
      g_assert_null (cmd (c, &err, "PING", NULL));
      g_assert_error (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_INVALID_ARGUMENT);
      g_clear_error (&err);
      g_assert_false (vss_valkey_client_execute (c, p[1], NULL, &err));
      g_clear_error (&err);
      g_assert_false (vss_valkey_client_send (c, p[1], NULL, &err));
      g_clear_error (&err);
      g_assert_false (vss_valkey_client_receive (c, p[1], NULL, &err));
      g_clear_error (&err);
    }
    g_assert_true (vss_valkey_client_receive (c, q, NULL, &err));
    g_assert_no_error (err);
    for (guint i = 0; i < per; i++)
      g_assert_cmpint (vss_valkey_pipeline_get_reply (q, i)->integer, ==,
          ++next);
  }
  g_assert_cmpuint (next, ==, rounds * per);
  vss_valkey_pipeline_free (p[0]);
  vss_valkey_pipeline_free (p[1]);
}

static void
test_tls (void)
{
  VssTestRedisOptions opts = {.tls = TRUE };
  g_autoptr (VssTestRedis) r = start_or_fail (&opts);
  GError *err = NULL;
  VssValkeyClient *c;
  gchar *url, *ca, *other;

  /* Verified against the fixture's CA, with a client certificate. */
  c = client_for (r, NULL);
  assert_string_reply (cmd (c, &err, "SET", "t", "tls", NULL), "OK");
  assert_string_reply (cmd (c, &err, "GET", "t", NULL), "tls");
  g_assert_no_error (err);
  vss_valkey_client_free (c);

  /* The name checked can differ from the address dialled. */
  c = client_for (r, "tls_server_name=localhost");
  assert_string_reply (cmd (c, &err, "GET", "t", NULL), "tls");
  vss_valkey_client_free (c);

  /* A certificate from an unrelated CA is refused, clearly and at once. */
  ca = vss_test_redis_get_path (r, "ca.crt");
  other = vss_test_redis_get_path (r, "other-ca.crt");
  url = vss_test_redis_get_url (r, NULL);
  {
    gchar **parts = g_strsplit (url, ca, 2);
    gchar *bad = g_strjoinv (other, parts);
    c = vss_valkey_client_new_from_url (bad, &err);
    g_assert_no_error (err);
    g_assert_false (vss_valkey_client_connect (c, NULL, &err));
    g_assert_error (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_TLS);
    g_assert_nonnull (strstr (err->message, "TLS handshake"));
    g_test_message ("expected error: %s", err->message);
    g_clear_error (&err);
    vss_valkey_client_free (c);
    g_strfreev (parts);
    g_free (bad);
  }

  /* The name must match the certificate. */
  c = client_for (r, "tls_server_name=wrong.example");
  g_assert_false (vss_valkey_client_connect (c, NULL, &err));
  g_assert_error (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_TLS);
  g_clear_error (&err);
  vss_valkey_client_free (c);

  /* Verification off: no CA needed (client certificate still is). */
  {
    gchar *u = g_strdup_printf ("rediss://127.0.0.1:%u/?tls_verify=no"
        "&tls_cert_file=%s/client.crt&tls_key_file=%s/client.key",
        vss_test_redis_get_port (r, 0), vss_test_redis_get_dir (r),
        vss_test_redis_get_dir (r));
    c = vss_valkey_client_new_from_url (u, &err);
    g_assert_no_error (err);
    assert_string_reply (cmd (c, &err, "GET", "t", NULL), "tls");
    vss_valkey_client_free (c);
    g_free (u);
  }

  /* Without a client certificate the server (tls-auth-clients yes) hangs
   * up: an error, not a hang. */
  {
    gchar *u = g_strdup_printf ("rediss://127.0.0.1:%u/?tls_ca_file=%s"
        "&reconnect_attempts=0&command_timeout_ms=3000",
        vss_test_redis_get_port (r, 0), ca);
    VssValkeyReply *rep;
    c = vss_valkey_client_new_from_url (u, &err);
    rep = cmd (c, &err, "GET", "t", NULL);
    g_assert_null (rep);
    g_assert_nonnull (err);
    g_test_message ("expected error: %s", err->message);
    g_clear_error (&err);
    vss_valkey_client_free (c);
    g_free (u);
  }
  g_free (url);
  g_free (ca);
  g_free (other);
}

static void
test_acl (void)
{
  VssTestRedisOptions opts = {.acl_user = "vss-writer",
    .acl_password = "s3cr3t:/@pass"
  };
  g_autoptr (VssTestRedis) r = start_or_fail (&opts);
  GError *err = NULL;
  VssValkeyClient *c;
  gchar *u;

  /* Right user and password (percent-encoded in the URL). */
  c = client_for (r, NULL);
  assert_string_reply (cmd (c, &err, "SET", "a", "1", NULL), "OK");
  g_assert_no_error (err);
  assert_string_reply (cmd (c, &err, "ACL", "WHOAMI", NULL), "vss-writer");
  vss_valkey_client_free (c);

  /* Wrong password: a clear AUTH error, at once, without the password. */
  u = g_strdup_printf ("redis://vss-writer:wrong-horse@127.0.0.1:%u",
      vss_test_redis_get_port (r, 0));
  c = vss_valkey_client_new_from_url (u, &err);
  g_assert_null (cmd (c, &err, "GET", "a", NULL));
  g_assert_error (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_AUTH);
  g_assert_nonnull (strstr (err->message, "vss-writer"));
  g_assert_nonnull (strstr (err->message, "WRONGPASS"));
  g_assert_null (strstr (err->message, "wrong-horse"));
  g_assert_null (strstr (vss_valkey_client_get_display_url (c), "wrong-horse"));
  g_test_message ("expected error: %s", err->message);
  g_clear_error (&err);
  vss_valkey_client_free (c);
  g_free (u);

  /* No credentials: the default user is off. */
  u = g_strdup_printf ("redis://127.0.0.1:%u", vss_test_redis_get_port (r, 0));
  c = vss_valkey_client_new_from_url (u, &err);
  g_assert_null (cmd (c, &err, "GET", "a", NULL));
  g_assert_error (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_SERVER);
  g_assert_nonnull (strstr (err->message, "NOAUTH"));
  g_clear_error (&err);
  vss_valkey_client_free (c);
  g_free (u);
}

/* requirepass style: a password without a user name (AUTH <password>). */
static void
test_password_only (void)
{
  VssTestRedisOptions opts = {.acl_user = "default",.acl_password = "pw-only"
  };
  g_autoptr (VssTestRedis) r = start_or_fail (&opts);
  GError *err = NULL;
  VssValkeyClient *c;
  gchar *u;

  u = g_strdup_printf ("redis://:pw-only@127.0.0.1:%u/1",
      vss_test_redis_get_port (r, 0));
  c = vss_valkey_client_new_from_url (u, &err);
  assert_string_reply (cmd (c, &err, "SET", "p", "1", NULL), "OK");
  assert_string_reply (cmd (c, &err, "ACL", "WHOAMI", NULL), "default");
  g_assert_no_error (err);
  vss_valkey_client_free (c);
  g_free (u);

  u = g_strdup_printf ("redis://:nope@127.0.0.1:%u",
      vss_test_redis_get_port (r, 0));
  c = vss_valkey_client_new_from_url (u, &err);
  g_assert_false (vss_valkey_client_connect (c, NULL, &err));
  g_assert_error (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_AUTH);
  g_assert_null (strstr (err->message, "nope"));
  g_clear_error (&err);
  vss_valkey_client_free (c);
  g_free (u);
}

typedef struct
{
  VssValkeyClient *c;
  GCancellable *cancel;
  GError *err;
  gint64 took_us;
} BlockCtx;

static gpointer
block_thread (gpointer data)
{
  BlockCtx *b = data;
  const gchar *argv[] = { "BLPOP", "nothing", "30" };
  gint64 t0 = g_get_monotonic_time ();
  VssValkeyReply *rep = vss_valkey_command (b->c, b->cancel, &b->err, 3,
      argv, NULL);

  b->took_us = g_get_monotonic_time () - t0;
  if (rep)
    freeReplyObject (rep);
  return NULL;
}

/* A flush or state change cancels a blocked call at once; a command
 * timeout ends one that the server never answers. */
static void
test_cancel_and_timeout (void)
{
  g_autoptr (VssTestRedis) r = start_or_fail (NULL);
  BlockCtx b = { 0, };
  GThread *t;
  VssValkeyClient *c;
  GError *err = NULL;

  b.c = client_for (r, NULL);
  b.cancel = g_cancellable_new ();
  g_assert_true (vss_valkey_client_connect (b.c, NULL, &err));
  t = g_thread_new ("blpop", block_thread, &b);
  g_usleep (200 * 1000);
  g_cancellable_cancel (b.cancel);
  g_thread_join (t);
  g_assert_error (b.err, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (b.took_us, <, 5 * G_USEC_PER_SEC);
  g_clear_error (&b.err);
  /* The client is still usable (it reconnects). */
  assert_string_reply (cmd (b.c, &err, "PING", NULL), "PONG");
  g_assert_no_error (err);
  g_object_unref (b.cancel);
  vss_valkey_client_free (b.c);

  c = client_for (r, "command_timeout_ms=300");
  {
    gint64 t0 = g_get_monotonic_time ();
    g_assert_null (cmd (c, &err, "BLPOP", "nothing", "30", NULL));
    g_assert_error (err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    g_assert_cmpint (g_get_monotonic_time () - t0, <, 3 * G_USEC_PER_SEC);
    g_clear_error (&err);
  }
  assert_string_reply (cmd (c, &err, "PING", NULL), "PONG");
  vss_valkey_client_free (c);
}

typedef struct
{
  VssValkeyClient *c;
  volatile gint stop;
  gint n_written;               /* keys 0..n_written-1 attempted */
  guint n_failures;             /* executes that reported lost commands */
  guint n_retried;
  GError *fatal;
} Writer;

/* Pipelines of HSET; when an execute fails, checks that the acknowledged
 * commands are a prefix, records what was lost, then retries exactly the
 * rest by executing the same pipeline again. */
static gpointer
writer_thread (gpointer data)
{
  Writer *w = data;
  VssValkeyPipeline *p = vss_valkey_pipeline_new ();

  while (!g_atomic_int_get (&w->stop)) {
    guint base = (guint) g_atomic_int_get (&w->n_written);
    GError *err = NULL;

    vss_valkey_pipeline_clear (p);
    for (guint i = 0; i < 200; i++) {
      gchar key[32], val[32];
      const gchar *argv[] = { "HSET", key, "n", val };
      g_snprintf (key, sizeof key, "doc:%u", base + i);
      g_snprintf (val, sizeof val, "%u", base + i);
      vss_valkey_pipeline_append (p, key, strlen (key), 0, 4, argv, NULL);
    }
    g_atomic_int_add (&w->n_written, 200);
    if (vss_valkey_client_execute (w->c, p, NULL, &err))
      continue;

    w->n_failures++;
    g_test_message ("write failed as expected: %s", err->message);
    g_clear_error (&err);
    {
      /* One connection: replies are in order, so DONE is a prefix and
       * every later command is NO_REPLY or NOT_SENT. */
      guint i = 0, lost;
      while (i < 200 && vss_valkey_pipeline_get_state (p, i) ==
          VSS_VALKEY_COMMAND_DONE)
        i++;
      lost = 200 - i;
      for (; i < 200; i++)
        if (!vss_valkey_pipeline_needs_retry (p, i))
          g_set_error (&w->fatal, G_IO_ERROR, G_IO_ERROR_FAILED,
              "command %u has a reply after a lost one", i);
      g_assert_cmpuint (vss_valkey_pipeline_count_state (p,
              VSS_VALKEY_COMMAND_NOT_SENT) + vss_valkey_pipeline_count_state
          (p, VSS_VALKEY_COMMAND_NO_REPLY), ==, lost);
      w->n_retried += lost;
    }
    /* HSET of the same value is idempotent: retry until the server is
     * back (the client reconnects with backoff inside). */
    for (guint attempt = 0; attempt < 20; attempt++) {
      if (vss_valkey_client_execute (w->c, p, NULL, &err))
        break;
      g_clear_error (&err);
    }
    if (vss_valkey_pipeline_count_state (p, VSS_VALKEY_COMMAND_DONE) != 200) {
      g_set_error (&w->fatal, G_IO_ERROR, G_IO_ERROR_FAILED,
          "retries did not complete the pipeline");
      break;
    }
  }
  vss_valkey_pipeline_free (p);
  return NULL;
}

static void
test_restart (void)
{
  VssTestRedisOptions opts = {.appendonly = TRUE };
  g_autoptr (VssTestRedis) r = start_or_fail (&opts);
  Writer w = { 0, };
  GThread *t;
  GError *err = NULL;
  VssValkeyReply *rep;
  VssValkeyClientStats st;

  w.c = client_for (r, "reconnect_attempts=20");
  g_assert_true (vss_valkey_client_connect (w.c, NULL, &err));
  t = g_thread_new ("writer", writer_thread, &w);
  /* Kill the server hard in the middle of the stream, then restart it on
   * the same port with its append-only file. */
  while (g_atomic_int_get (&w.n_written) < 2000) {
    g_assert_no_error (w.fatal);
    g_usleep (1000);
  }
  vss_test_redis_stop_node (r, 0, TRUE);
  g_usleep (300 * 1000);
  g_assert_true (vss_test_redis_restart_node (r, 0, &err));
  g_assert_no_error (err);
  {
    gint at_restart = g_atomic_int_get (&w.n_written);
    while (g_atomic_int_get (&w.n_written) < at_restart + 2000
        && w.fatal == NULL)
      g_usleep (1000);
  }
  g_atomic_int_set (&w.stop, 1);
  g_thread_join (t);
  g_assert_no_error (w.fatal);
  g_assert_cmpuint (w.n_failures, >=, 1);
  g_test_message ("%d keys written, %u failed executes, %u commands retried",
      w.n_written, w.n_failures, w.n_retried);

  vss_valkey_client_get_stats (w.c, &st);
  g_assert_cmpuint (st.reconnects, >=, 1);

  /* Every key is there exactly as written. */
  rep = cmd (w.c, &err, "DBSIZE", NULL);
  g_assert_no_error (err);
  g_assert_cmpint (rep->integer, ==, w.n_written);
  freeReplyObject (rep);
  for (gint i = 0; i < w.n_written; i += 97) {
    gchar key[32], val[32];
    g_snprintf (key, sizeof key, "doc:%d", i);
    g_snprintf (val, sizeof val, "%d", i);
    assert_string_reply (cmd (w.c, &err, "HGET", key, "n", NULL), val);
  }
  vss_valkey_client_free (w.c);
}

/* Nothing listening: bounded attempts, then a clear error. */
static void
test_refused (void)
{
  GError *err = NULL;
  VssValkeyClient *c;
  gint64 t0 = g_get_monotonic_time ();

  c = vss_valkey_client_new_from_url ("redis://127.0.0.1:1/?"
      "reconnect_attempts=2", &err);
  g_assert_false (vss_valkey_client_connect (c, NULL, &err));
  g_assert_error (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_CONNECTION);
  g_assert_nonnull (strstr (err->message, "127.0.0.1:1"));
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 5 * G_USEC_PER_SEC);
  g_clear_error (&err);
  vss_valkey_client_free (c);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/valkey/client/plain", test_plain);
  g_test_add_func ("/valkey/client/pipeline", test_pipeline);
  g_test_add_func ("/valkey/client/send-receive", test_send_receive);
  g_test_add_func ("/valkey/client/tls", test_tls);
  g_test_add_func ("/valkey/client/acl", test_acl);
  g_test_add_func ("/valkey/client/password-only", test_password_only);
  g_test_add_func ("/valkey/client/cancel-and-timeout",
      test_cancel_and_timeout);
  g_test_add_func ("/valkey/client/restart", test_restart);
  g_test_add_func ("/valkey/client/refused", test_refused);
  return g_test_run ();
}
