/* gst-vss: Valkey connection URLs
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Error messages never quote the URL itself: it may carry a password. They
 * name the part that is wrong instead.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <stdlib.h>
#include <errno.h>
#include "gstvssvalkeyurl.h"

#define DEFAULT_PORT 6379
#define DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DEFAULT_COMMAND_TIMEOUT_MS 10000
#define DEFAULT_RECONNECT_ATTEMPTS 8
#define DEFAULT_MAX_REDIRECTS 16

static gboolean
url_fail (GError ** error, const gchar * fmt, ...)
G_GNUC_PRINTF (2, 3);

     static gboolean url_fail (GError ** error, const gchar * fmt, ...)
{
  va_list ap;
  gchar *msg;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_URL,
      "Invalid Valkey URL: %s", msg);
  g_free (msg);
  return FALSE;
}

static gboolean
parse_uint (const gchar * s, guint64 max, guint64 * out)
{
  gchar *end = NULL;
  guint64 v;

  if (s == NULL || *s == '\0' || !g_ascii_isdigit (*s))
    return FALSE;
  errno = 0;
  v = g_ascii_strtoull (s, &end, 10);
  if (errno != 0 || *end != '\0' || v > max)
    return FALSE;
  *out = v;
  return TRUE;
}

static gboolean
parse_bool (const gchar * s, gboolean * out)
{
  if (!g_ascii_strcasecmp (s, "yes") || !g_ascii_strcasecmp (s, "true")
      || !strcmp (s, "1")) {
    *out = TRUE;
    return TRUE;
  }
  if (!g_ascii_strcasecmp (s, "no") || !g_ascii_strcasecmp (s, "false")
      || !strcmp (s, "0")) {
    *out = FALSE;
    return TRUE;
  }
  return FALSE;
}

/* One "host", "host:port", "[v6]" or "[v6]:port". */
static gboolean
parse_host_port (const gchar * s, VssValkeyAddr * addr, GError ** error)
{
  const gchar *port_str = NULL;
  guint64 port = DEFAULT_PORT;

  if (*s == '[') {
    const gchar *close = strchr (s, ']');
    if (close == NULL || close == s + 1)
      return url_fail (error, "bad IPv6 address in host list");
    addr->host = g_strndup (s + 1, close - s - 1);
    if (close[1] == ':')
      port_str = close + 2;
    else if (close[1] != '\0')
      return url_fail (error, "unexpected characters after ']' in host list");
  } else {
    const gchar *colon = strchr (s, ':');
    if (colon != NULL) {
      if (strchr (colon + 1, ':') != NULL)
        return url_fail (error,
            "IPv6 addresses must be written in brackets, e.g. [::1]:6379");
      addr->host = g_strndup (s, colon - s);
      port_str = colon + 1;
    } else {
      addr->host = g_strdup (s);
    }
  }
  if (addr->host[0] == '\0')
    return url_fail (error, "empty host name");
  for (const gchar * p = addr->host; *p; p++) {
    if (!g_ascii_isalnum (*p) && !strchr ("-._:%", *p))
      return url_fail (error, "invalid character '%c' in host name", *p);
  }
  if (port_str != NULL && (!parse_uint (port_str, 65535, &port) || port == 0))
    return url_fail (error, "port of '%s' is not a number in 1..65535",
        addr->host);
  addr->port = (guint16) port;
  return TRUE;
}

static gboolean
parse_option (VssValkeyConfig * c, const gchar * key, const gchar * val,
    GError ** error)
{
  guint64 n;

  if (!strcmp (key, "tls_ca_file")) {
    g_free (c->tls_ca_file);
    c->tls_ca_file = g_strdup (val);
  } else if (!strcmp (key, "tls_cert_file")) {
    g_free (c->tls_cert_file);
    c->tls_cert_file = g_strdup (val);
  } else if (!strcmp (key, "tls_key_file")) {
    g_free (c->tls_key_file);
    c->tls_key_file = g_strdup (val);
  } else if (!strcmp (key, "tls_server_name")) {
    g_free (c->tls_server_name);
    c->tls_server_name = g_strdup (val);
  } else if (!strcmp (key, "tls_verify")) {
    if (!parse_bool (val, &c->tls_verify))
      return url_fail (error, "tls_verify must be yes or no");
  } else if (!strcmp (key, "read_from_replicas")) {
    if (!parse_bool (val, &c->read_from_replicas))
      return url_fail (error, "read_from_replicas must be yes or no");
  } else if (!strcmp (key, "cluster")) {
    gboolean b;
    if (!strcmp (val, "auto"))
      c->cluster = VSS_VALKEY_CLUSTER_AUTO;
    else if (parse_bool (val, &b))
      c->cluster = b ? VSS_VALKEY_CLUSTER_YES : VSS_VALKEY_CLUSTER_NO;
    else
      return url_fail (error, "cluster must be auto, yes or no");
  } else if (!strcmp (key, "connect_timeout_ms")) {
    if (!parse_uint (val, 3600 * 1000, &n) || n == 0)
      return url_fail (error, "connect_timeout_ms must be 1..3600000");
    c->connect_timeout_ms = n;
  } else if (!strcmp (key, "command_timeout_ms")) {
    if (!parse_uint (val, 3600 * 1000, &n) || n == 0)
      return url_fail (error, "command_timeout_ms must be 1..3600000");
    c->command_timeout_ms = n;
  } else if (!strcmp (key, "reconnect_attempts")) {
    if (!parse_uint (val, 1000, &n))
      return url_fail (error, "reconnect_attempts must be 0..1000");
    c->reconnect_attempts = n;
  } else if (!strcmp (key, "max_redirects")) {
    if (!parse_uint (val, 1000, &n) || n == 0)
      return url_fail (error, "max_redirects must be 1..1000");
    c->max_redirects = n;
  } else if (!strcmp (key, "db")) {
    if (!parse_uint (val, G_MAXINT, &n))
      return url_fail (error, "db must be a non-negative number");
    c->db = n;
  } else {
    return url_fail (error, "unknown option '%s'", key);
  }
  return TRUE;
}

static gboolean
parse_query (VssValkeyConfig * c, const gchar * query, GError ** error)
{
  gchar **pairs = g_strsplit (query, "&", -1);
  gboolean ok = TRUE;

  for (guint i = 0; ok && pairs[i]; i++) {
    gchar *eq, *key, *val;

    if (pairs[i][0] == '\0')
      continue;
    eq = strchr (pairs[i], '=');
    if (eq == NULL) {
      ok = url_fail (error, "option without '=' in the query string");
      break;
    }
    *eq = '\0';
    key = g_uri_unescape_string (pairs[i], NULL);
    val = g_uri_unescape_string (eq + 1, NULL);
    if (key == NULL || val == NULL)
      ok = url_fail (error, "bad percent-encoding in the query string");
    else
      ok = parse_option (c, key, val, error);
    g_free (key);
    g_free (val);
  }
  g_strfreev (pairs);
  return ok;
}

static gboolean
parse_userinfo (VssValkeyConfig * c, const gchar * ui, gsize len,
    GError ** error)
{
  const gchar *colon = memchr (ui, ':', len);
  gchar *raw_user, *raw_pass = NULL;

  if (colon != NULL) {
    raw_user = g_strndup (ui, colon - ui);
    raw_pass = g_strndup (colon + 1, len - (colon + 1 - ui));
  } else {
    raw_user = g_strndup (ui, len);
  }
  if (raw_user[0] != '\0') {
    c->user = g_uri_unescape_string (raw_user, NULL);
    if (c->user == NULL) {
      g_free (raw_user);
      g_free (raw_pass);
      return url_fail (error, "bad percent-encoding in the user name");
    }
  }
  if (raw_pass != NULL) {
    c->password = g_uri_unescape_string (raw_pass, NULL);
    if (c->password == NULL) {
      g_free (raw_user);
      g_free (raw_pass);
      return url_fail (error, "bad percent-encoding in the password");
    }
  }
  g_free (raw_user);
  g_free (raw_pass);
  if (c->user != NULL && c->password == NULL)
    return url_fail (error, "user name without a password "
        "(write user:password@host, percent-encoding special characters)");
  return TRUE;
}

VssValkeyConfig *
vss_valkey_config_new_from_url (const gchar * url, GError ** error)
{
  VssValkeyConfig *c;
  const gchar *sep, *auth, *auth_end, *at;
  gchar *scheme = NULL, *hosts = NULL, **host_list = NULL;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  c = g_new0 (VssValkeyConfig, 1);
  c->tls_verify = TRUE;
  c->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
  c->command_timeout_ms = DEFAULT_COMMAND_TIMEOUT_MS;
  c->reconnect_attempts = DEFAULT_RECONNECT_ATTEMPTS;
  c->max_redirects = DEFAULT_MAX_REDIRECTS;
  c->cluster = VSS_VALKEY_CLUSTER_AUTO;

  if (url == NULL || *url == '\0') {
    url_fail (error, "empty URL");
    goto fail;
  }
  sep = strstr (url, "://");
  if (sep == NULL) {
    url_fail (error, "missing scheme (expected redis://, rediss://, "
        "valkey:// or valkeys://)");
    goto fail;
  }
  scheme = g_ascii_strdown (url, sep - url);
  if (!strcmp (scheme, "redis") || !strcmp (scheme, "valkey")) {
    c->tls = FALSE;
  } else if (!strcmp (scheme, "rediss") || !strcmp (scheme, "valkeys")) {
    c->tls = TRUE;
  } else {
    gchar *shown = g_strescape (scheme, NULL);
    url_fail (error, "unsupported scheme '%.16s' (expected redis://, "
        "rediss://, valkey:// or valkeys://)", shown);
    g_free (shown);
    goto fail;
  }

  auth = sep + 3;
  auth_end = auth + strcspn (auth, "/?#");
  at = NULL;
  for (const gchar * p = auth; p < auth_end; p++)
    if (*p == '@')
      at = p;
  if (at != NULL) {
    if (!parse_userinfo (c, auth, at - auth, error))
      goto fail;
    auth = at + 1;
  }
  if (auth == auth_end) {
    url_fail (error, "no host");
    goto fail;
  }
  hosts = g_strndup (auth, auth_end - auth);
  host_list = g_strsplit (hosts, ",", -1);
  c->n_seeds = g_strv_length (host_list);
  c->seeds = g_new0 (VssValkeyAddr, c->n_seeds);
  for (guint i = 0; i < c->n_seeds; i++) {
    if (host_list[i][0] == '\0') {
      url_fail (error, "empty entry in the host list");
      goto fail;
    }
    if (!parse_host_port (host_list[i], &c->seeds[i], error))
      goto fail;
  }

  if (*auth_end == '/') {
    const gchar *db = auth_end + 1;
    gsize db_len = strcspn (db, "?#");
    if (db_len > 0) {
      gchar *s = g_strndup (db, db_len);
      guint64 n;
      gboolean ok = parse_uint (s, G_MAXINT, &n);
      g_free (s);
      if (!ok) {
        url_fail (error, "the path must be a database number, e.g. /0");
        goto fail;
      }
      c->db = n;
    }
    auth_end = db + db_len;
  }
  if (*auth_end == '?') {
    const gchar *q = auth_end + 1;
    gchar *query = g_strndup (q, strcspn (q, "#"));
    gboolean ok = parse_query (c, query, error);
    g_free (query);
    if (!ok)
      goto fail;
  }

  if (!c->tls && (c->tls_ca_file || c->tls_cert_file || c->tls_key_file
          || c->tls_server_name)) {
    url_fail (error, "TLS options need a rediss:// or valkeys:// URL");
    goto fail;
  }
  if ((c->tls_cert_file == NULL) != (c->tls_key_file == NULL)) {
    url_fail (error, "tls_cert_file and tls_key_file go together");
    goto fail;
  }

  g_free (scheme);
  g_free (hosts);
  g_strfreev (host_list);
  return c;

fail:
  g_free (scheme);
  g_free (hosts);
  g_strfreev (host_list);
  vss_valkey_config_free (c);
  return NULL;
}

VssValkeyConfig *
vss_valkey_config_copy (const VssValkeyConfig * src)
{
  VssValkeyConfig *c = g_memdup2 (src, sizeof *src);

  c->user = g_strdup (src->user);
  c->password = g_strdup (src->password);
  c->tls_ca_file = g_strdup (src->tls_ca_file);
  c->tls_cert_file = g_strdup (src->tls_cert_file);
  c->tls_key_file = g_strdup (src->tls_key_file);
  c->tls_server_name = g_strdup (src->tls_server_name);
  c->seeds = g_new0 (VssValkeyAddr, src->n_seeds);
  for (guint i = 0; i < src->n_seeds; i++) {
    c->seeds[i].host = g_strdup (src->seeds[i].host);
    c->seeds[i].port = src->seeds[i].port;
  }
  return c;
}

void
vss_valkey_config_free (VssValkeyConfig * c)
{
  if (c == NULL)
    return;
  for (guint i = 0; c->seeds && i < c->n_seeds; i++)
    g_free (c->seeds[i].host);
  g_free (c->seeds);
  g_free (c->user);
  if (c->password != NULL) {
    /* Do not leave the secret in freed heap memory. */
    memset (c->password, 0, strlen (c->password));
    g_free (c->password);
  }
  g_free (c->tls_ca_file);
  g_free (c->tls_cert_file);
  g_free (c->tls_key_file);
  g_free (c->tls_server_name);
  g_free (c);
}

/**
 * vss_valkey_url_mask:
 *
 * Returns: (transfer full): @url with the password replaced by `***`, fit
 * for logs. Works on malformed URLs too.
 */
gchar *
vss_valkey_url_mask (const gchar * url)
{
  const gchar *sep, *auth, *auth_end, *at = NULL, *colon;
  GString *s;

  if (url == NULL)
    return g_strdup ("(null)");
  sep = strstr (url, "://");
  auth = sep ? sep + 3 : url;
  auth_end = auth + strcspn (auth, "/?#");
  for (const gchar * p = auth; p < auth_end; p++)
    if (*p == '@')
      at = p;
  if (at == NULL)
    return g_strdup (url);
  /* A lone userinfo may be a password to some clients: mask it all. */
  colon = memchr (auth, ':', at - auth);
  s = g_string_new_len (url, (colon ? colon : auth) - url);
  g_string_append (s, colon ? ":***" : "***");
  g_string_append (s, at);
  return g_string_free (s, FALSE);
}
