/* gst-vss: object stores for frame images (s3:// and file://)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * s3:// sends each PutObject through the shared AWS request path
 * (aws/gstvssawsclient.c: SigV4 with S3 rules and the payload hash,
 * retries with backoff, Retry-After, clock skew), so no thread sleeps, and
 * turns its outcome into a store error. file:// writes a temporary file
 * next to the object and renames it into place on a small thread pool.
 *
 * Locking: `lock` guards `outstanding` and `gen`; `idle` is signalled when
 * `outstanding` drops to 0. It is a leaf lock: never held while calling the
 * worker, the signer or a done callback.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include "gstvssstore.h"
#include "aws/gstvssawsclient.h"

GST_DEBUG_CATEGORY_STATIC (vss_store_debug);
#define GST_CAT_DEFAULT vss_store_debug

#define DEFAULT_MAX_CONNECTIONS 8
#define DEFAULT_MAX_RETRIES 4
#define DEFAULT_RETRY_MAX_TIME_MS 20000
/* Puts are small and many: a lower cap than the AWS default. */
static const GstVssBackoff s3_backoff = { 100, 5000,
  GST_VSS_BACKOFF_JITTER_FULL
};

typedef enum
{
  KIND_FILE,
  KIND_S3,
} Kind;

struct _VssStore
{
  Kind kind;
  gchar *uri;                   /* as given, for messages */
  gchar *prefix;                /* key prefix ("" or "a/b/"); s3 only */
  gboolean fsync;

  /* file:// */
  gchar *root;
  GThreadPool *pool;

  /* s3:// */
  gchar *bucket;
  GstVssAwsClient *aws;
  const gchar *endpoint;        /* the client's */
  const gchar *region;          /* the client's */
  gboolean custom_endpoint;

  GMutex lock;
  GCond idle;
  guint outstanding;
  guint gen;
};

typedef struct
{
  VssStore *store;
  gchar *key;
  gchar *url;
  gchar *content_type;
  GBytes *data;
  guint attempts;
  guint gen;
  VssStoreDoneFunc done;
  gpointer user_data;
} Op;

G_DEFINE_QUARK (vss - object - store - error - quark, vss_store_error);

static gpointer
init_debug (gpointer unused)
{
  GST_DEBUG_CATEGORY_INIT (vss_store_debug, "vssobjectstore", 0,
      "gst-vss object stores");
  return NULL;
}

/* Pure helpers */

/**
 * vss_store_key_is_safe:
 *
 * A key is relative, made of non-empty segments separated by single '/',
 * none of them "." or "..", with no backslash or control character.
 */
gboolean
vss_store_key_is_safe (const gchar * key)
{
  gchar **segs;
  gboolean ok = TRUE;

  if (key == NULL || key[0] == '\0' || key[0] == '/' || strlen (key) > 1024)
    return FALSE;
  for (const gchar * p = key; *p; p++)
    if ((guchar) * p < 0x20 || *p == 0x7f || *p == '\\')
      return FALSE;
  segs = g_strsplit (key, "/", -1);
  for (guint i = 0; segs[i]; i++)
    if (segs[i][0] == '\0' || strcmp (segs[i], ".") == 0
        || strcmp (segs[i], "..") == 0)
      ok = FALSE;
  g_strfreev (segs);
  return ok;
}

/**
 * vss_store_s3_url:
 * @custom_endpoint: the endpoint is not AWS's own (S3-compatible store,
 *   local test server): path-style
 *
 * AWS endpoints get virtual-hosted URLs (`https://<bucket>.s3.<region>...`)
 * unless the bucket name has a dot (the wildcard certificate would not
 * match); custom endpoints get path-style `<endpoint>/<bucket>/<key>`.
 * Key segments are percent-encoded once (S3 rules), '/' kept.
 */
gchar *
vss_store_s3_url (const gchar * endpoint, const gchar * region,
    gboolean custom_endpoint, const gchar * bucket, const gchar * key)
{
  gchar *ekey = gst_vss_aws_sigv4_uri_encode (key, -1, TRUE);
  gchar *url;

  if (!custom_endpoint && strchr (bucket, '.') == NULL
      && g_str_has_prefix (endpoint, "https://"))
    url = g_strdup_printf ("https://%s.%s/%s", bucket,
        endpoint + strlen ("https://"), ekey);
  else
    url = g_strdup_printf ("%s/%s/%s", endpoint, bucket, ekey);
  g_free (ekey);
  return url;
}

/* Outstanding puts */

static gboolean
op_begin (VssStore * s, Op * op)
{
  g_mutex_lock (&s->lock);
  s->outstanding++;
  op->gen = s->gen;
  g_mutex_unlock (&s->lock);
  return TRUE;
}

static void
op_finish (Op * op, const GError * error, glong status)
{
  VssStore *s = op->store;
  VssStorePutResult res = { error, op->attempts, status };

  op->done (&res, op->user_data);
  g_free (op->key);
  g_free (op->url);
  g_free (op->content_type);
  g_bytes_unref (op->data);
  g_free (op);
  g_mutex_lock (&s->lock);
  if (--s->outstanding == 0)
    g_cond_broadcast (&s->idle);
  g_mutex_unlock (&s->lock);
}

static gboolean
op_cancelled (Op * op)
{
  gboolean c;

  g_mutex_lock (&op->store->lock);
  c = op->gen != op->store->gen;
  g_mutex_unlock (&op->store->lock);
  return c;
}

/* file:// */

static gboolean
file_write (VssStore * s, const gchar * key, GBytes * data, GError ** error)
{
  gchar *path = g_build_filename (s->root, key, NULL);
  gchar *dir = g_path_get_dirname (path);
  gchar *base = g_path_get_basename (path);
  gchar *tmpl = g_strdup_printf ("%s/.%s.XXXXXX", dir, base);
  gsize len;
  const guint8 *p = g_bytes_get_data (data, &len);
  int fd = -1, e = 0;
  gboolean ok = FALSE;

  if (g_mkdir_with_parents (dir, 0755) != 0) {
    e = errno;
    goto out;
  }
  fd = g_mkstemp_full (tmpl, O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    e = errno;
    goto out;
  }
  while (len > 0) {
    ssize_t n = write (fd, p, len);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      e = n < 0 ? errno : EIO;
      goto out;
    }
    p += n;
    len -= n;
  }
  if (s->fsync && fsync (fd) != 0) {
    e = errno;
    goto out;
  }
  if (close (fd) != 0) {
    fd = -1;
    e = errno;
    goto out;
  }
  fd = -1;
  if (g_rename (tmpl, path) != 0) {
    e = errno;
    goto out;
  }
  ok = TRUE;
out:
  if (!ok) {
    if (fd >= 0)
      close (fd);
    g_unlink (tmpl);
    g_set_error (error, VSS_STORE_ERROR,
        (e == EACCES || e == EPERM || e == EROFS) ?
        VSS_STORE_ERROR_ACCESS_DENIED : (e == ENOSPC || e == EDQUOT) ?
        VSS_STORE_ERROR_NO_SPACE : VSS_STORE_ERROR_UNAVAILABLE,
        "Cannot write %s: %s", path, g_strerror (e));
  }
  g_free (tmpl);
  g_free (base);
  g_free (dir);
  g_free (path);
  return ok;
}

static void
file_job (gpointer data, gpointer user_data)
{
  Op *op = data;
  GError *err = NULL;

  op->attempts = 1;
  if (op_cancelled (op))
    g_set_error (&err, VSS_STORE_ERROR, VSS_STORE_ERROR_CANCELLED, "Cancelled");
  else
    file_write (op->store, op->key, op->data, &err);
  op_finish (op, err, 0);
  g_clear_error (&err);
}

/* s3:// */

static void
s3_done (const GstVssAwsResponse * res, gpointer user_data)
{
  Op *op = user_data;
  VssStore *s = op->store;
  GError *err = NULL;
  const gchar *code = res->code, *msg = res->message;

  op->attempts = res->attempts;
  if (res->kind == GST_VSS_AWS_RESPONSE_CANCELLED || op_cancelled (op)) {
    g_set_error (&err, VSS_STORE_ERROR, VSS_STORE_ERROR_CANCELLED, "Cancelled");
  } else if (res->kind == GST_VSS_AWS_RESPONSE_OK) {
  } else if (res->kind == GST_VSS_AWS_RESPONSE_REQUEST_ERROR) {
    g_set_error (&err, VSS_STORE_ERROR, VSS_STORE_ERROR_CONFIG,
        "Cannot sign S3 PUT: %s", msg ? msg : "unknown error");
  } else if (res->kind == GST_VSS_AWS_RESPONSE_TRANSPORT) {
    g_set_error (&err, VSS_STORE_ERROR, VSS_STORE_ERROR_UNAVAILABLE,
        "S3 PUT of %s failed after %u attempts: %s", op->key, res->attempts,
        res->transport_error);
  } else if (gst_vss_aws_is_retryable (res->status, code, 0)) {
    g_set_error (&err, VSS_STORE_ERROR, VSS_STORE_ERROR_UNAVAILABLE,
        "S3 PUT of %s failed after %u attempts: HTTP %ld %s%s%s", op->key,
        res->attempts, res->status, code ? code : "", msg ? ": " : "",
        msg ? msg : "");
  } else if (res->status == 403 || !g_strcmp0 (code, "AccessDenied")
      || !g_strcmp0 (code, "InvalidAccessKeyId")
      || !g_strcmp0 (code, "SignatureDoesNotMatch")) {
    g_set_error (&err, VSS_STORE_ERROR, VSS_STORE_ERROR_ACCESS_DENIED,
        "S3 refused PUT s3://%s/%s: HTTP %ld %s: %s (check the credentials "
        "and that they allow s3:PutObject on the bucket)", s->bucket, op->key,
        res->status, code ? code : "AccessDenied", msg ? msg : "");
  } else if (!g_strcmp0 (code, "NoSuchBucket")) {
    g_set_error (&err, VSS_STORE_ERROR, VSS_STORE_ERROR_NO_SUCH_BUCKET,
        "S3 bucket '%s' does not exist (HTTP %ld NoSuchBucket) at %s",
        s->bucket, res->status, s->endpoint);
  } else {
    g_set_error (&err, VSS_STORE_ERROR, VSS_STORE_ERROR_REFUSED,
        "S3 refused PUT s3://%s/%s: HTTP %ld %s%s%s", s->bucket, op->key,
        res->status, code ? code : "", msg ? ": " : "", msg ? msg : "");
  }
  op_finish (op, err, res->status);
  g_clear_error (&err);
}

static void
s3_put (Op * op)
{
  VssStore *s = op->store;
  GstVssAwsHttpHeader hdr = { "Content-Type", op->content_type };
  GstVssAwsRequest req = { 0, };

  req.method = "PUT";
  req.url = op->url;
  req.headers = &hdr;
  req.n_headers = 1;
  req.body = op->data;
  req.sign_flags = GST_VSS_AWS_SIGV4_FLAG_S3 |
      GST_VSS_AWS_SIGV4_FLAG_CONTENT_SHA256;
  gst_vss_aws_client_send_async (s->aws, &req, s3_done, op);
}

/* Public API */

static gboolean
parse_s3_uri (VssStore * s, const gchar * uri, GError ** error)
{
  const gchar *rest = uri + strlen ("s3://");
  const gchar *slash = strchr (rest, '/');
  gchar *prefix;

  s->bucket = slash ? g_strndup (rest, slash - rest) : g_strdup (rest);
  prefix = g_strdup (slash ? slash + 1 : "");
  /* Bucket names: 3..63 of lower-case letters, digits, '.', '-'. */
  if (strlen (s->bucket) < 3 || strlen (s->bucket) > 63)
    goto bad;
  for (const gchar * p = s->bucket; *p; p++)
    if (!(g_ascii_islower (*p) || g_ascii_isdigit (*p) || *p == '.'
            || *p == '-'))
      goto bad;
  while (g_str_has_suffix (prefix, "/"))
    prefix[strlen (prefix) - 1] = '\0';
  if (prefix[0] && !vss_store_key_is_safe (prefix)) {
    g_set_error (error, VSS_STORE_ERROR, VSS_STORE_ERROR_CONFIG,
        "Invalid key prefix '%s' in %s", prefix, uri);
    g_free (prefix);
    return FALSE;
  }
  s->prefix = prefix[0] ? g_strconcat (prefix, "/", NULL) : g_strdup ("");
  g_free (prefix);
  return TRUE;

bad:
  g_set_error (error, VSS_STORE_ERROR, VSS_STORE_ERROR_CONFIG,
      "Invalid S3 bucket name '%s' in %s (3 to 63 lower-case letters, "
      "digits, '.' or '-')", s->bucket, uri);
  g_free (prefix);
  return FALSE;
}

/**
 * vss_store_new:
 * @uri: `s3://bucket[/prefix]` or `file:///folder`
 *
 * file:// creates the folder when missing. s3:// resolves the region,
 * endpoint and credentials now, so that a missing one is reported before
 * the first frame.
 *
 * Returns: the store, or NULL with @error (%VSS_STORE_ERROR_CONFIG).
 */
VssStore *
vss_store_new (const gchar * uri, const VssStoreOptions * opts, GError ** error)
{
  static GOnce once = G_ONCE_INIT;
  VssStoreOptions defaults = { 0, };
  VssStore *s;
  guint max_conn;

  g_once (&once, init_debug, NULL);
  if (opts == NULL) {
    opts = &defaults;
    defaults.max_retries = G_MAXUINT;
  }
  s = g_new0 (VssStore, 1);
  g_mutex_init (&s->lock);
  g_cond_init (&s->idle);
  s->uri = g_strdup (uri);
  s->fsync = opts->fsync;
  max_conn = opts->max_connections ? opts->max_connections :
      DEFAULT_MAX_CONNECTIONS;

  if (g_str_has_prefix (uri, "file://")) {
    GError *err = NULL;

    s->kind = KIND_FILE;
    s->root = g_filename_from_uri (uri, NULL, &err);
    if (s->root == NULL) {
      g_set_error (error, VSS_STORE_ERROR,
          VSS_STORE_ERROR_CONFIG, "Invalid folder URI '%s': %s", uri,
          err->message);
      g_error_free (err);
      goto fail;
    }
    if (g_mkdir_with_parents (s->root, 0755) != 0
        || g_access (s->root, W_OK) != 0) {
      int e = errno;

      g_set_error (error, VSS_STORE_ERROR,
          e == EACCES || e == EROFS ? VSS_STORE_ERROR_ACCESS_DENIED :
          VSS_STORE_ERROR_CONFIG, "Cannot write to folder %s: %s",
          s->root, g_strerror (e));
      goto fail;
    }
    s->prefix = g_strdup ("");
    s->pool = g_thread_pool_new (file_job, s, (gint) max_conn, FALSE, NULL);
  } else if (g_str_has_prefix (uri, "s3://")) {
    GstVssAwsClientOptions o = { 0, };
    GstVssAwsCredentials *creds;
    GError *err = NULL;
    gchar *def;

    s->kind = KIND_S3;
    if (!parse_s3_uri (s, uri, error))
      goto fail;
    o.signing_name = "s3";
    o.service_env_id = "S3";
    o.endpoint_prefix = "s3";
    o.protocol = GST_VSS_AWS_PROTOCOL_XML;
    o.settings = opts->aws;
    o.max_connections = max_conn;
    o.timeout_ms = opts->timeout_ms;
    o.max_retries = opts->max_retries == G_MAXUINT ? DEFAULT_MAX_RETRIES :
        opts->max_retries;
    o.retry_max_time_ms = opts->retry_max_time_ms ? opts->retry_max_time_ms :
        DEFAULT_RETRY_MAX_TIME_MS;
    o.backoff = &s3_backoff;
    s->aws = gst_vss_aws_client_new (&o, &err);
    if (s->aws == NULL) {
      g_set_error (error, VSS_STORE_ERROR,
          VSS_STORE_ERROR_CONFIG, "AWS settings for %s: %s", uri, err->message);
      g_error_free (err);
      goto fail;
    }
    s->region = gst_vss_aws_client_get_region (s->aws);
    s->endpoint = gst_vss_aws_client_get_endpoint (s->aws);
    def = g_strdup_printf ("https://s3.%s.amazonaws.com", s->region);
    s->custom_endpoint = !g_str_has_prefix (s->endpoint, def);
    g_free (def);
    creds = gst_vss_aws_client_get_credentials (s->aws, &err);
    if (creds == NULL) {
      g_set_error (error, VSS_STORE_ERROR,
          VSS_STORE_ERROR_CONFIG, "No AWS credentials for %s: %s", uri,
          err->message);
      g_error_free (err);
      goto fail;
    }
    GST_INFO ("%s: region %s, endpoint %s (%s), credentials from %s", uri,
        s->region, s->endpoint, s->custom_endpoint ? "path-style" :
        "virtual-hosted", creds->source);
    gst_vss_aws_credentials_free (creds);
  } else {
    g_set_error (error, VSS_STORE_ERROR, VSS_STORE_ERROR_CONFIG,
        "Unsupported object store '%s': use s3://bucket/prefix or "
        "file:///folder", uri);
    goto fail;
  }
  return s;

fail:
  vss_store_free (s);
  return NULL;
}

/**
 * vss_store_cancel_all:
 *
 * Cancels every put; their callbacks run soon with
 * %VSS_STORE_ERROR_CANCELLED (file puts already writing finish).
 */
void
vss_store_cancel_all (VssStore * s)
{
  g_mutex_lock (&s->lock);
  s->gen++;
  g_mutex_unlock (&s->lock);
  if (s->aws)
    gst_vss_aws_client_cancel_all (s->aws);
}

/**
 * vss_store_free:
 *
 * Cancels what is outstanding and waits for every callback.
 */
void
vss_store_free (VssStore * s)
{
  if (s == NULL)
    return;
  vss_store_cancel_all (s);
  g_mutex_lock (&s->lock);
  while (s->outstanding > 0)
    g_cond_wait (&s->idle, &s->lock);
  g_mutex_unlock (&s->lock);
  if (s->pool)
    g_thread_pool_free (s->pool, FALSE, TRUE);
  g_clear_pointer (&s->aws, gst_vss_aws_client_free);
  g_free (s->bucket);
  g_free (s->root);
  g_free (s->prefix);
  g_free (s->uri);
  g_mutex_clear (&s->lock);
  g_cond_clear (&s->idle);
  g_free (s);
}

/**
 * vss_store_describe:
 *
 * Returns: the store's URI as given (it holds no secret).
 */
const gchar *
vss_store_describe (VssStore * s)
{
  return s->uri;
}

/**
 * vss_store_object_uri:
 *
 * Returns: (transfer full): where the object of @key is:
 * `s3://bucket/prefix/key` or `file:///folder/key`.
 */
gchar *
vss_store_object_uri (VssStore * s, const gchar * key)
{
  if (s->kind == KIND_S3)
    return g_strdup_printf ("s3://%s/%s%s", s->bucket, s->prefix, key);
  else {
    gchar *path = g_build_filename (s->root, key, NULL);
    gchar *uri = g_filename_to_uri (path, NULL, NULL);

    g_free (path);
    return uri;
  }
}

/**
 * vss_store_put_async:
 * @key: relative object key (must pass vss_store_key_is_safe())
 * @data: the object, referenced until @done
 *
 * Writes the object (replacing one of the same key, so that a retried or
 * replayed put is harmless). @done runs exactly once on a store thread.
 */
void
vss_store_put_async (VssStore * s, const gchar * key,
    const gchar * content_type, GBytes * data, VssStoreDoneFunc done,
    gpointer user_data)
{
  Op *op = g_new0 (Op, 1);
  GError *err = NULL;

  op->store = s;
  op->key = g_strconcat (s->prefix, key, NULL);
  op->content_type = g_strdup (content_type ? content_type :
      "application/octet-stream");
  op->data = g_bytes_ref (data);
  op->done = done;
  op->user_data = user_data;
  op_begin (s, op);
  if (!vss_store_key_is_safe (key)) {
    g_set_error (&err, VSS_STORE_ERROR,
        VSS_STORE_ERROR_INVALID_KEY,
        "Object key '%s' could escape the store", key);
    op_finish (op, err, 0);
    g_error_free (err);
    return;
  }
  if (s->kind == KIND_FILE) {
    g_thread_pool_push (s->pool, op, NULL);
    return;
  }
  op->url = vss_store_s3_url (s->endpoint, s->region, s->custom_endpoint,
      s->bucket, op->key);
  s3_put (op);
}

typedef struct
{
  GMutex lock;
  GCond cond;
  gboolean done;
  GError *error;
} SyncPut;

static void
sync_done (const VssStorePutResult * res, gpointer user_data)
{
  SyncPut *sp = user_data;

  g_mutex_lock (&sp->lock);
  if (res->error)
    sp->error = g_error_copy (res->error);
  sp->done = TRUE;
  g_cond_signal (&sp->cond);
  g_mutex_unlock (&sp->lock);
}

/**
 * vss_store_put:
 *
 * vss_store_put_async() that waits for the outcome.
 */
gboolean
vss_store_put (VssStore * s, const gchar * key,
    const gchar * content_type, GBytes * data, GError ** error)
{
  SyncPut sp = { 0, };
  gboolean ok;

  g_mutex_init (&sp.lock);
  g_cond_init (&sp.cond);
  vss_store_put_async (s, key, content_type, data, sync_done, &sp);
  g_mutex_lock (&sp.lock);
  while (!sp.done)
    g_cond_wait (&sp.cond, &sp.lock);
  g_mutex_unlock (&sp.lock);
  ok = sp.error == NULL;
  if (sp.error)
    g_propagate_error (error, sp.error);
  g_mutex_clear (&sp.lock);
  g_cond_clear (&sp.cond);
  return ok;
}

/**
 * vss_store_get:
 * @key: relative object key, as given to vss_store_put_async()
 * @max_bytes: refuse objects larger than this (0: no limit of ours)
 *
 * Reads an object back (s3:// through the same signed, retried path as
 * puts). Blocks: not for streaming threads.
 *
 * Returns: (transfer full): the object, or NULL with @error
 *   (%VSS_STORE_ERROR_REFUSED for a missing object, with the store's
 *   words).
 */
GBytes *
vss_store_get (VssStore * s, const gchar * key, gsize max_bytes,
    GError ** error)
{
  GstVssAwsRequest req = { 0, };
  GstVssAwsResponse *res;
  GBytes *out = NULL;
  gchar *full, *url;

  if (!vss_store_key_is_safe (key)) {
    g_set_error (error, VSS_STORE_ERROR, VSS_STORE_ERROR_INVALID_KEY,
        "Object key '%s' could escape the store", key);
    return NULL;
  }
  full = g_strconcat (s->prefix, key, NULL);
  if (s->kind == KIND_FILE) {
    gchar *path = g_build_filename (s->root, full, NULL);
    gchar *data;
    gsize len;

    if (g_file_get_contents (path, &data, &len, error)) {
      if (max_bytes && len > max_bytes) {
        g_free (data);
        g_set_error (error, VSS_STORE_ERROR, VSS_STORE_ERROR_REFUSED,
            "%s is larger than %" G_GSIZE_FORMAT " bytes", path, max_bytes);
      } else {
        out = g_bytes_new_take (data, len);
      }
    }
    g_free (path);
    g_free (full);
    return out;
  }
  url = vss_store_s3_url (s->endpoint, s->region, s->custom_endpoint,
      s->bucket, full);
  req.method = "GET";
  req.url = url;
  req.sign_flags = GST_VSS_AWS_SIGV4_FLAG_S3 |
      GST_VSS_AWS_SIGV4_FLAG_CONTENT_SHA256;
  res = gst_vss_aws_client_send (s->aws, &req);
  if (res->kind == GST_VSS_AWS_RESPONSE_OK && (max_bytes == 0
          || g_bytes_get_size (res->body) <= max_bytes))
    out = g_bytes_ref (res->body);
  else if (res->kind == GST_VSS_AWS_RESPONSE_OK)
    g_set_error (error, VSS_STORE_ERROR, VSS_STORE_ERROR_REFUSED,
        "s3://%s/%s is larger than %" G_GSIZE_FORMAT " bytes", s->bucket,
        full, max_bytes);
  else if (res->kind == GST_VSS_AWS_RESPONSE_REFUSED)
    g_set_error (error, VSS_STORE_ERROR, res->status == 403 ?
        VSS_STORE_ERROR_ACCESS_DENIED : VSS_STORE_ERROR_REFUSED,
        "GET s3://%s/%s: HTTP %ld %s%s%s", s->bucket, full, res->status,
        res->code ? res->code : "", res->message ? ": " : "",
        res->message ? res->message : "");
  else
    g_set_error (error, VSS_STORE_ERROR, VSS_STORE_ERROR_UNAVAILABLE,
        "GET s3://%s/%s failed after %u attempts: %s", s->bucket, full,
        res->attempts, res->transport_error ? res->transport_error :
        res->message ? res->message : "cancelled");
  gst_vss_aws_response_free (res);
  g_free (url);
  g_free (full);
  return out;
}
