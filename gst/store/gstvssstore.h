/* gst-vss: object stores for frame images (s3:// and file://)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "../aws/gstvssawscred.h"

G_BEGIN_DECLS

#define VSS_STORE_ERROR (vss_store_error_quark ())
GQuark vss_store_error_quark (void);

/**
 * VssStoreError:
 * @VSS_STORE_ERROR_CONFIG: the store URI or the AWS settings are
 *   unusable (no region, no credentials, bad bucket name).
 * @VSS_STORE_ERROR_UNAVAILABLE: the store could not be reached or
 *   kept failing (5xx, SlowDown, timeouts, lost connections, a folder that
 *   cannot be written for now) after every retry. Worth trying later.
 * @VSS_STORE_ERROR_ACCESS_DENIED: S3 AccessDenied (also
 *   InvalidAccessKeyId, SignatureDoesNotMatch), or a folder without write
 *   permission. Not retried.
 * @VSS_STORE_ERROR_NO_SUCH_BUCKET: the bucket does not exist.
 * @VSS_STORE_ERROR_REFUSED: any other refusal (4xx).
 * @VSS_STORE_ERROR_INVALID_KEY: the object key could escape the
 *   store (`..`, absolute, control characters).
 * @VSS_STORE_ERROR_CANCELLED: cancelled by
 *   vss_store_cancel_all() or vss_store_free().
 * @VSS_STORE_ERROR_NO_SPACE: file://: the folder's filesystem is full
 *   (ENOSPC, or EDQUOT: the quota). Worth trying later, once space is
 *   freed.
 */
typedef enum
{
  VSS_STORE_ERROR_CONFIG,
  VSS_STORE_ERROR_UNAVAILABLE,
  VSS_STORE_ERROR_ACCESS_DENIED,
  VSS_STORE_ERROR_NO_SUCH_BUCKET,
  VSS_STORE_ERROR_REFUSED,
  VSS_STORE_ERROR_INVALID_KEY,
  VSS_STORE_ERROR_CANCELLED,
  VSS_STORE_ERROR_NO_SPACE,
} VssStoreError;

/**
 * VssStoreOptions:
 * @aws: (nullable): s3:// only: explicit AWS settings (region, endpoint,
 *   profile, keys); NULL or unset fields fall back to the environment and
 *   the shared files. service_env_id and endpoint_prefix are filled in.
 * @max_connections: puts running at once (0: 8)
 * @timeout_ms: one attempt's time limit (0: 30000)
 * @max_retries: retries after the first attempt of a put that failed in a
 *   way worth retrying (G_MAXUINT: the default, 4)
 * @retry_max_time_ms: no retry starts later than this after the first
 *   attempt (0: 20000)
 * @fsync: file://: fsync each object before it is renamed into place
 */
typedef struct
{
  const GstVssAwsSettings *aws;
  guint max_connections;
  guint timeout_ms;
  guint max_retries;
  guint retry_max_time_ms;
  gboolean fsync;
} VssStoreOptions;

/**
 * VssStorePutResult:
 * @error: NULL on success
 * @attempts: attempts made (1 when the first one succeeded)
 * @http_status: s3:// only: the last HTTP status (0: none)
 */
typedef struct
{
  const GError *error;
  guint attempts;
  glong http_status;
} VssStorePutResult;

/* Called exactly once per put, on a thread of the store, with no lock of
 * the store held. */
typedef void (*VssStoreDoneFunc) (const VssStorePutResult *
    result, gpointer user_data);

typedef struct _VssStore VssStore;

VssStore *vss_store_new (const gchar * uri,
    const VssStoreOptions * options, GError ** error);

void vss_store_free (VssStore * store);

const gchar *vss_store_describe (VssStore * store);

gchar *vss_store_object_uri (VssStore * store,
    const gchar * key);

void vss_store_put_async (VssStore * store, const gchar * key,
    const gchar * content_type, GBytes * data, VssStoreDoneFunc done,
    gpointer user_data);

gboolean vss_store_put (VssStore * store, const gchar * key,
    const gchar * content_type, GBytes * data, GError ** error);

GBytes *vss_store_get (VssStore * store, const gchar * key, gsize max_bytes,
    GError ** error);

void vss_store_cancel_all (VssStore * store);

/* Pure helpers (tested without a server) */

gboolean vss_store_key_is_safe (const gchar * key);

gchar *vss_store_s3_url (const gchar * endpoint, const gchar * region,
    gboolean custom_endpoint, const gchar * bucket, const gchar * key);


G_END_DECLS
