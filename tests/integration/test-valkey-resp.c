/* gst-vss tests: URL parsing, RESP helpers, slot maps, and RESP fed
 * truncated, malformed and random bytes (directly and over a socket).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <gio/gio.h>
#include "valkey/gstvssvalkeyclient.h"
#include "valkey/gstvssvalkeycluster.h"
#include "valkey/gstvssvalkeyresp.h"
#include "vss-fake-valkey.h"
#include "resp-build.h"

static void
test_url_ok (void)
{
  GError *err = NULL;
  VssValkeyConfig *c;

  c = vss_valkey_config_new_from_url ("redis://localhost", &err);
  g_assert_no_error (err);
  g_assert_false (c->tls);
  g_assert_cmpuint (c->n_seeds, ==, 1);
  g_assert_cmpstr (c->seeds[0].host, ==, "localhost");
  g_assert_cmpuint (c->seeds[0].port, ==, 6379);
  g_assert_null (c->user);
  g_assert_null (c->password);
  g_assert_cmpint (c->db, ==, 0);
  g_assert_true (c->tls_verify);
  g_assert_cmpint (c->cluster, ==, VSS_VALKEY_CLUSTER_AUTO);
  vss_valkey_config_free (c);

  c = vss_valkey_config_new_from_url ("VALKEYS://alice:p%40ss%3Aw%2Frd@"
      "10.0.0.1:7000,[::1]:7001,node-3.example.com/2?tls_ca_file=/etc/ca.pem"
      "&tls_cert_file=/c.pem&tls_key_file=/k.pem&tls_server_name=cache.local"
      "&connect_timeout_ms=1500&command_timeout_ms=250&cluster=yes"
      "&read_from_replicas=yes&reconnect_attempts=3&max_redirects=4", &err);
  g_assert_no_error (err);
  g_assert_true (c->tls);
  g_assert_cmpstr (c->user, ==, "alice");
  g_assert_cmpstr (c->password, ==, "p@ss:w/rd");
  g_assert_cmpuint (c->n_seeds, ==, 3);
  g_assert_cmpstr (c->seeds[0].host, ==, "10.0.0.1");
  g_assert_cmpuint (c->seeds[0].port, ==, 7000);
  g_assert_cmpstr (c->seeds[1].host, ==, "::1");
  g_assert_cmpuint (c->seeds[1].port, ==, 7001);
  g_assert_cmpstr (c->seeds[2].host, ==, "node-3.example.com");
  g_assert_cmpuint (c->seeds[2].port, ==, 6379);
  g_assert_cmpint (c->db, ==, 2);
  g_assert_cmpstr (c->tls_ca_file, ==, "/etc/ca.pem");
  g_assert_cmpstr (c->tls_cert_file, ==, "/c.pem");
  g_assert_cmpstr (c->tls_key_file, ==, "/k.pem");
  g_assert_cmpstr (c->tls_server_name, ==, "cache.local");
  g_assert_cmpuint (c->connect_timeout_ms, ==, 1500);
  g_assert_cmpuint (c->command_timeout_ms, ==, 250);
  g_assert_cmpint (c->cluster, ==, VSS_VALKEY_CLUSTER_YES);
  g_assert_true (c->read_from_replicas);
  g_assert_cmpuint (c->reconnect_attempts, ==, 3);
  g_assert_cmpuint (c->max_redirects, ==, 4);
  vss_valkey_config_free (c);

  /* Password only (requirepass), verification explicitly off. */
  c = vss_valkey_config_new_from_url ("rediss://:hunter2@h:1/?tls_verify=no",
      &err);
  g_assert_no_error (err);
  g_assert_null (c->user);
  g_assert_cmpstr (c->password, ==, "hunter2");
  g_assert_false (c->tls_verify);
  vss_valkey_config_free (c);
}

static void
test_url_bad (void)
{
  const gchar *bad[] = {
    "", "localhost:6379", "http://h", "redis://", "redis://h:0",
    "redis://h:65536", "redis://h:port", "redis://h/db", "redis://h/-1",
    "redis://h,,i", "redis://::1:6379", "redis://[::1", "redis://h?nope=1",
    "redis://h?tls_ca_file=/x", "redis://h?cluster=maybe",
    "redis://h?tls_verify", "rediss://h?tls_verify=perhaps",
    "rediss://h?tls_cert_file=/c", "redis://alice@h",
    "redis://u:%zz@h", "redis://h?connect_timeout_ms=0",
    "redis://h?command_timeout_ms=abc", "redis://h o:1",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    GError *err = NULL;
    VssValkeyConfig *c = vss_valkey_config_new_from_url (bad[i], &err);
    if (c != NULL)
      g_error ("'%s' was accepted", bad[i]);
    g_assert_error (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_URL);
    g_assert_true (g_str_has_prefix (err->message, "Invalid Valkey URL: "));
    g_clear_error (&err);
  }
}

/* Passwords never reach messages. */
static void
test_url_secrets (void)
{
  GError *err = NULL;
  gchar *m;
  VssValkeyClient *c;

  m = vss_valkey_url_mask ("rediss://bob:T0pS3cret@h:1/0?x=1");
  g_assert_cmpstr (m, ==, "rediss://bob:***@h:1/0?x=1");
  g_free (m);
  m = vss_valkey_url_mask ("redis://T0pS3cret@h");
  g_assert_cmpstr (m, ==, "redis://***@h");
  g_free (m);
  m = vss_valkey_url_mask ("redis://h:1");
  g_assert_cmpstr (m, ==, "redis://h:1");
  g_free (m);

  g_assert_null (vss_valkey_config_new_from_url
      ("redis://bob:T0pS3cret@h:99999", &err));
  g_assert_null (strstr (err->message, "T0pS3cret"));
  g_clear_error (&err);
  g_assert_null (vss_valkey_config_new_from_url
      ("redis://bob:T0pS3cret@h?bad=T0pS3cret", &err));
  g_assert_nonnull (err);
  g_clear_error (&err);

  c = vss_valkey_client_new_from_url ("redis://bob:T0pS3cret@127.0.0.1:1/"
      "?reconnect_attempts=0", &err);
  g_assert_null (strstr (vss_valkey_client_get_display_url (c), "T0pS3cret"));
  g_assert_false (vss_valkey_client_connect (c, NULL, &err));
  g_assert_null (strstr (err->message, "T0pS3cret"));
  g_clear_error (&err);
  vss_valkey_client_free (c);
}

static void
test_slots (void)
{
  struct
  {
    const gchar *key;
    guint slot;
  } v[] = {
    {"foo", 12182}, {"bar", 5061}, {"{user1000}.following", 3443},
    {"{user1000}.followers", 3443}, {"foo{}{bar}", 8363},
    {"foo{{bar}}zap", 4015}, {"foo{bar}{zap}", 5061}, {"", 0},
  };

  g_assert_cmphex (vss_valkey_resp_crc16 ("123456789", 9), ==, 0x31C3);
  for (guint i = 0; i < G_N_ELEMENTS (v); i++)
    g_assert_cmpuint (vss_valkey_resp_key_slot (v[i].key, strlen (v[i].key)),
        ==, v[i].slot);
}

static VssValkeyReply *
parse_owned (gchar * resp)
{
  VssValkeyReply *r = NULL;
  GError *err = NULL;

  g_assert_cmpint (vss_valkey_resp_parse (resp, strlen (resp), &r, NULL, &err),
      ==, 1);
  g_free (resp);
  return r;
}

static void
test_redirects (void)
{
  struct
  {
    const gchar *err;
    gboolean ok, ask;
    guint slot;
    const gchar *host;
    guint16 port;
  } v[] = {
    {"MOVED 3999 127.0.0.1:6381", TRUE, FALSE, 3999, "127.0.0.1", 6381},
    {"ASK 3999 10.0.0.2:7000", TRUE, TRUE, 3999, "10.0.0.2", 7000},
    {"MOVED 1 :6380", TRUE, FALSE, 1, "", 6380},
    {"MOVED 1 ::1:6380", TRUE, FALSE, 1, "::1", 6380},
    {"MOVED 16384 h:1", FALSE},
    {"MOVED x h:1", FALSE},
    {"MOVED 1 h", FALSE},
    {"MOVED 1 h:0", FALSE},
    {"ASKING 1 h:1", FALSE},
    {"ERR MOVED", FALSE},
  };

  for (guint i = 0; i < G_N_ELEMENTS (v); i++) {
    VssValkeyReply *r = parse_owned (rb_err (v[i].err));
    gboolean ask = FALSE;
    guint slot = 0;
    gchar *host = NULL;
    guint16 port = 0;
    gboolean ok = vss_valkey_resp_parse_redirect (r, &ask, &slot, &host, &port);
    g_assert_cmpint (ok, ==, v[i].ok);
    if (ok) {
      g_assert_cmpint (ask, ==, v[i].ask);
      g_assert_cmpuint (slot, ==, v[i].slot);
      g_assert_cmpstr (host, ==, v[i].host);
      g_assert_cmpuint (port, ==, v[i].port);
    }
    g_free (host);
    freeReplyObject (r);
  }
}

static gchar *
slots_node (const gchar * host, long long port)
{
  return rb_array (3, rb_str (host), rb_int (port), rb_str ("id"));
}

static void
test_slot_map (void)
{
  GError *err = NULL;
  VssValkeyReply *r;
  VssValkeySlotMap *m;
  const VssValkeyNodeAddr *a;

  /* CLUSTER SLOTS with a replica and an empty host (the node asked). */
  r = parse_owned (rb_array (2,
          rb_array (4, rb_int (0), rb_int (8000), slots_node ("10.0.0.1",
                  7000), slots_node ("10.0.0.2", 7001)),
          rb_array (3, rb_int (8001), rb_int (16383), slots_node ("", 7002))));
  m = vss_valkey_slot_map_from_slots (r, "seed.local", &err);
  g_assert_no_error (err);
  g_assert_cmpuint (vss_valkey_slot_map_n_unassigned (m), ==, 0);
  a = vss_valkey_slot_map_route (m, 42, FALSE);
  g_assert_cmpstr (a->host, ==, "10.0.0.1");
  g_assert_true (a->primary);
  a = vss_valkey_slot_map_route (m, 42, TRUE);
  g_assert_cmpstr (a->host, ==, "10.0.0.2");
  g_assert_cmpuint (a->port, ==, 7001);
  a = vss_valkey_slot_map_route (m, 9000, TRUE);
  g_assert_cmpstr (a->host, ==, "seed.local");
  g_assert_cmpuint (a->port, ==, 7002);
  vss_valkey_slot_map_free (m);
  freeReplyObject (r);

  /* CLUSTER SHARDS: TLS port chosen on TLS, failed replicas skipped, a
   * gap in the slots left unassigned. */
  r = parse_owned (rb_array (1, rb_map ("slots", rb_array (4, rb_int (0),
                  rb_int (99), rb_int (200), rb_int (16383)),
              "nodes", rb_array (2,
                  rb_map ("id", rb_str ("p"), "port", rb_int (6379),
                      "tls-port", rb_int (6380), "ip", rb_str ("10.1.1.1"),
                      "endpoint", rb_str ("p.cache"), "role",
                      rb_str ("master"), "health", rb_str ("online"), NULL),
                  rb_map ("id", rb_str ("r"), "port", rb_int (6379),
                      "ip", rb_str ("10.1.1.2"), "endpoint", rb_str ("?"),
                      "role", rb_str ("replica"), "health",
                      rb_str ("failed"), NULL)), NULL)));
  m = vss_valkey_slot_map_from_shards (r, "seed", TRUE, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (vss_valkey_slot_map_n_unassigned (m), ==, 100);
  g_assert_null (vss_valkey_slot_map_route (m, 150, FALSE));
  a = vss_valkey_slot_map_route (m, 300, TRUE);
  g_assert_cmpstr (a->host, ==, "p.cache");
  g_assert_cmpuint (a->port, ==, 6380);
  vss_valkey_slot_map_free (m);
  freeReplyObject (r);

  /* Wrong shapes are errors, not crashes. */
  {
    gchar *bad[] = {
      rb_str ("x"),
      rb_array (1, rb_array (2, rb_int (0), rb_int (1))),
      rb_array (1, rb_array (3, rb_int (5), rb_int (1), slots_node ("h", 1))),
      rb_array (1, rb_array (3, rb_int (0), rb_int (20000), slots_node ("h",
                  1))),
      rb_array (1, rb_array (3, rb_int (0), rb_int (1), slots_node ("h",
                  70000))),
      rb_array (1, rb_array (3, rb_int (0), rb_int (1), rb_str ("h"))),
    };
    for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
      r = parse_owned (bad[i]);
      g_assert_null (vss_valkey_slot_map_from_slots (r, "s", &err));
      g_assert_error (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_PROTOCOL);
      g_clear_error (&err);
      g_assert_null (vss_valkey_slot_map_from_shards (r, "s", FALSE, &err));
      g_clear_error (&err);
      freeReplyObject (r);
    }
  }
}

/* Every strict prefix of a valid reply is "incomplete", never an error or a
 * crash; the whole is one reply, binary-safe. */
static void
test_truncated (void)
{
  static const gchar bytes[] =
      "*6\r\n:2\r\n$7\r\nframe:a\r\n*4\r\n$5\r\nscore\r\n$3\r\n0.5\r\n"
      "$6\r\nvector\r\n$8\r\n\x00\x01\r\n\xff\xfe\xfd\xfc\r\n"
      "$7\r\nframe:b\r\n$-1\r\n*3\r\n+OK\r\n-ERR x\r\n:-7\r\n";
  gsize len = sizeof bytes - 1;
  VssValkeyReply *r = NULL;
  GError *err = NULL;
  gsize used = 0;

  for (gsize cut = 0; cut < len; cut++) {
    g_assert_cmpint (vss_valkey_resp_parse (bytes, cut, &r, NULL, &err), ==, 0);
    g_assert_no_error (err);
    g_assert_null (r);
  }
  g_assert_cmpint (vss_valkey_resp_parse (bytes, len, &r, &used, &err), ==, 1);
  g_assert_cmpuint (used, ==, len);
  g_assert_cmpint (r->type, ==, REDIS_REPLY_ARRAY);
  g_assert_cmpuint (r->elements, ==, 6);
  g_assert_cmpint (r->element[4]->type, ==, REDIS_REPLY_NIL);
  g_assert_cmpint (r->element[5]->element[2]->integer, ==, -7);
  g_assert_cmpuint (r->element[2]->element[3]->len, ==, 8);
  g_assert_cmpmem (r->element[2]->element[3]->str, 8,
      "\x00\x01\r\n\xff\xfe\xfd\xfc", 8);
  freeReplyObject (r);
}

static void
test_malformed (void)
{
  const gchar *bad[] = {
    "?what\r\n", "$abc\r\n", "*x\r\n", ":12a\r\n",
    "*1\r\n!\r\n", "$-5\r\n",
    /* deeper than hiredis 0.14 allows (7 levels) */
    "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    VssValkeyReply *r = NULL;
    GError *err = NULL;
    gint ret = vss_valkey_resp_parse (bad[i], strlen (bad[i]), &r, NULL, &err);
    g_assert_cmpint (ret, ==, -1);
    g_assert_error (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_PROTOCOL);
    g_assert_null (r);
    g_clear_error (&err);
  }

  /* hiredis does not check the CRLF after a bulk string: the stray bytes
   * then fail as the next reply, so the connection still breaks. */
  {
    static const gchar b[] = "$3\r\nabcd\r\n";
    VssValkeyReply *r = NULL;
    GError *err = NULL;
    gsize used = 0;
    g_assert_cmpint (vss_valkey_resp_parse (b, strlen (b), &r, &used, &err), ==,
        1);
    g_assert_cmpuint (used, <, strlen (b));
    freeReplyObject (r);
    g_assert_cmpint (vss_valkey_resp_parse (b + used, strlen (b) - used, &r,
            NULL, &err), ==, -1);
    g_clear_error (&err);
  }
}

/* Random bytes and random mutations of a valid reply: any result is fine
 * except a crash, a leak or a sanitizer report. */
static void
test_fuzz (void)
{
  static const gchar valid[] =
      "*4\r\n:3\r\n$5\r\nhello\r\n*2\r\n+OK\r\n-ERR e\r\n$-1\r\n";
  GRand *rand = g_rand_new_with_seed (20261122);
  guint n_ok = 0, n_err = 0, n_more = 0;

  for (guint iter = 0; iter < 20000; iter++) {
    guint8 buf[96];
    gsize len;
    VssValkeyReply *r = NULL;
    GError *err = NULL;
    gint ret;

    if (iter % 2) {
      len = g_rand_int_range (rand, 0, sizeof buf);
      for (gsize i = 0; i < len; i++) {
        /* Mostly RESP-ish characters, so that parsing goes deep. */
        static const gchar alphabet[] = "*$:+-\r\n0123456789-1x";
        buf[i] = g_rand_boolean (rand) ? alphabet[g_rand_int_range (rand, 0,
                sizeof alphabet - 1)] : (guint8) g_rand_int (rand);
      }
    } else {
      len = sizeof valid - 1;
      memcpy (buf, valid, len);
      for (guint m = 0; m < 1 + (iter % 4); m++)
        buf[g_rand_int_range (rand, 0, len)] = (guint8) g_rand_int (rand);
      len = g_rand_int_range (rand, 1, len + 1);
    }
    ret = vss_valkey_resp_parse (buf, len, &r, NULL, &err);
    if (ret == 1) {
      n_ok++;
      g_assert_nonnull (r);
      freeReplyObject (r);
    } else if (ret == -1) {
      n_err++;
      g_assert_nonnull (err);
      g_clear_error (&err);
    } else {
      n_more++;
    }
  }
  g_test_message ("fuzz: %u replies, %u errors, %u incomplete", n_ok, n_err,
      n_more);
  g_assert_cmpuint (n_err, >, 0);
  g_rand_free (rand);
}

/* A server that answers garbage: the client reports a protocol error,
 * drops the connection and works again on a fresh one. */
static GBytes *
garbage_handler (gint argc, gchar ** argv, gsize * argvlen, gpointer data)
{
  gint *n = data;

  if (!g_ascii_strcasecmp (argv[0], "CLUSTER"))
    return vss_fake_reply ("-ERR This instance has cluster support "
        "disabled\r\n");
  (*n)++;
  if (*n == 1)
    return vss_fake_reply ("%%%% not resp\r\n");
  if (*n == 2)
    return vss_fake_reply ("$10\r\nshort");     /* then the reply stalls */
  return vss_fake_reply ("+PONG\r\n");
}

static void
test_garbage_server (void)
{
  gint n = 0;
  GError *err = NULL;
  g_autoptr (VssFakeValkey) fake = vss_fake_valkey_new (garbage_handler, &n,
      &err);
  gchar *url = g_strdup_printf ("redis://127.0.0.1:%u/?command_timeout_ms=300",
      vss_fake_valkey_get_port (fake));
  VssValkeyClient *c = vss_valkey_client_new_from_url (url, &err);
  const gchar *ping[] = { "PING" };
  VssValkeyReply *r;

  r = vss_valkey_command (c, NULL, &err, 1, ping, NULL);
  g_assert_null (r);
  g_assert_error (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_PROTOCOL);
  g_clear_error (&err);
  r = vss_valkey_command (c, NULL, &err, 1, ping, NULL);
  g_assert_null (r);
  g_assert_error (err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&err);
  r = vss_valkey_command (c, NULL, &err, 1, ping, NULL);
  g_assert_no_error (err);
  g_assert_cmpstr (r->str, ==, "PONG");
  freeReplyObject (r);
  vss_valkey_client_free (c);
  g_free (url);
}

/* A cluster whose map leaves the slot of "foo" (12182) to nobody. */
static GBytes *
gap_handler (gint argc, gchar ** argv, gsize * argvlen, gpointer data)
{
  guint16 *port = data;

  if (!g_ascii_strcasecmp (argv[0], "CLUSTER")) {
    gchar *shards = rb_array (1, rb_map ("slots", rb_array (2, rb_int (0),
                rb_int (99)), "nodes", rb_array (1, rb_map ("port",
                    rb_int (*port), "ip", rb_str ("127.0.0.1"), "role",
                    rb_str ("master"), "health", rb_str ("online"), NULL)),
            NULL));
    GBytes *b = vss_fake_reply (shards);
    g_free (shards);
    return b;
  }
  return vss_fake_reply ("+PONG\r\n");
}

static void
test_unserved_slot (void)
{
  guint16 port = 0;
  GError *err = NULL;
  g_autoptr (VssFakeValkey) fake = vss_fake_valkey_new (gap_handler, &port,
      &err);
  gchar *url;
  VssValkeyClient *c;
  g_autoptr (VssValkeyPipeline) p = vss_valkey_pipeline_new ();
  const gchar *ping[] = { "PING" };
  const gchar *get[] = { "GET", "foo" };

  port = vss_fake_valkey_get_port (fake);
  url = g_strdup_printf ("redis://127.0.0.1:%u/?max_redirects=2", port);
  c = vss_valkey_client_new_from_url (url, &err);
  vss_valkey_pipeline_append (p, NULL, 0, 0, 1, ping, NULL);
  vss_valkey_pipeline_append (p, "foo", 3, 0, 2, get, NULL);
  g_assert_false (vss_valkey_client_execute (c, p, NULL, &err));
  g_assert_error (err, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_CLUSTER);
  g_clear_error (&err);
  g_assert_cmpint (vss_valkey_pipeline_get_state (p, 0), ==,
      VSS_VALKEY_COMMAND_DONE);
  g_assert_cmpint (vss_valkey_pipeline_get_state (p, 1), ==,
      VSS_VALKEY_COMMAND_NOT_SENT);
  g_assert_true (vss_valkey_pipeline_needs_retry (p, 1));
  vss_valkey_client_free (c);
  g_free (url);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/valkey/url/ok", test_url_ok);
  g_test_add_func ("/valkey/url/bad", test_url_bad);
  g_test_add_func ("/valkey/url/secrets", test_url_secrets);
  g_test_add_func ("/valkey/resp/slots", test_slots);
  g_test_add_func ("/valkey/resp/redirects", test_redirects);
  g_test_add_func ("/valkey/resp/slot-map", test_slot_map);
  g_test_add_func ("/valkey/resp/truncated", test_truncated);
  g_test_add_func ("/valkey/resp/malformed", test_malformed);
  g_test_add_func ("/valkey/resp/fuzz", test_fuzz);
  g_test_add_func ("/valkey/resp/garbage-server", test_garbage_server);
  g_test_add_func ("/valkey/resp/unserved-slot", test_unserved_slot);
  return g_test_run ();
}
