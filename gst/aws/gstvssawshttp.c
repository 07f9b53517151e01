/* gst-vss: small blocking HTTP requests (credential endpoints)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <curl/curl.h>
#include <gio/gio.h>
#include "gstvssawshttp.h"

static gsize
write_cb (gchar * data, gsize size, gsize nmemb, gpointer user)
{
  GString *body = user;
  gsize n = size * nmemb;

  /* Returning less than n aborts the transfer with CURLE_WRITE_ERROR. */
  if (body->len + n > GST_VSS_AWS_HTTP_SIMPLE_MAX_BODY)
    return 0;
  g_string_append_len (body, data, n);
  return n;
}

static gpointer
global_init (gpointer unused)
{
  curl_global_init (CURL_GLOBAL_DEFAULT);
  return NULL;
}

/**
 * gst_vss_aws_http_simple:
 * @method: "GET" or "PUT" (PUT is sent with an empty body)
 * @headers: NULL-terminated "Name: value" lines, or NULL
 * @status: (out): the HTTP status
 * @body: (out): the response body, NUL-terminated
 *
 * Proxies are bypassed: these endpoints are link-local or loopback, and
 * sending credentials requests through a proxy would leak them.
 *
 * Returns: FALSE when no HTTP response arrived (connect error, timeout,
 * oversized body); an HTTP error status is not a failure here.
 */
gboolean
gst_vss_aws_http_simple (const gchar * method, const gchar * url,
    const gchar * const *headers, guint timeout_ms, glong * status,
    gchar ** body, GError ** error)
{
  static GOnce once = G_ONCE_INIT;
  struct curl_slist *list = NULL;
  GString *buf = g_string_new (NULL);
  CURL *h;
  CURLcode rc;
  guint i;

  g_once (&once, global_init, NULL);
  h = curl_easy_init ();
  if (!h) {
    g_string_free (buf, TRUE);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "curl_easy_init failed");
    return FALSE;
  }
  for (i = 0; headers && headers[i]; i++)
    list = curl_slist_append (list, headers[i]);
  curl_easy_setopt (h, CURLOPT_URL, url);
  curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt (h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (h, CURLOPT_TIMEOUT_MS, (long) timeout_ms);
  curl_easy_setopt (h, CURLOPT_CONNECTTIMEOUT_MS, (long) timeout_ms);
  curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt (h, CURLOPT_WRITEDATA, buf);
  curl_easy_setopt (h, CURLOPT_HTTPHEADER, list);
  if (strcmp (method, "GET") != 0) {
    curl_easy_setopt (h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt (h, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt (h, CURLOPT_POSTFIELDSIZE, 0L);
  }
  rc = curl_easy_perform (h);
  if (rc == CURLE_OK)
    curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, status);
  curl_easy_cleanup (h);
  /* The headers can hold an authorization token: wipe before freeing. */
  {
    struct curl_slist *l;

    for (l = list; l; l = l->next)
      memset (l->data, 0, strlen (l->data));
  }
  curl_slist_free_all (list);

  if (rc != CURLE_OK) {
    g_string_free (buf, TRUE);
    g_set_error (error, G_IO_ERROR, rc == CURLE_OPERATION_TIMEDOUT ?
        G_IO_ERROR_TIMED_OUT : G_IO_ERROR_FAILED, "%s %s: %s", method, url,
        curl_easy_strerror (rc));
    return FALSE;
  }
  *body = g_string_free (buf, FALSE);
  return TRUE;
}
