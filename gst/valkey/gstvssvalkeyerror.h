/* gst-vss: errors of the Valkey client
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VSS_VALKEY_ERROR (vss_valkey_error_quark ())
GQuark vss_valkey_error_quark (void);

/**
 * VssValkeyError:
 * @VSS_VALKEY_ERROR_URL: the URL or one of its options is invalid.
 * @VSS_VALKEY_ERROR_AUTH: AUTH was refused (wrong user or password).
 * @VSS_VALKEY_ERROR_SERVER: the server answered with an error reply; the
 *   message carries the server's text.
 * @VSS_VALKEY_ERROR_PROTOCOL: the server sent bytes that are not RESP, or a
 *   reply of an unexpected shape.
 * @VSS_VALKEY_ERROR_CLUSTER: the slot map could not be read, or redirections
 *   did not settle.
 * @VSS_VALKEY_ERROR_CONNECTION: the connection was lost or could not be made
 *   (the GIO error is in the message).
 * @VSS_VALKEY_ERROR_TLS: TLS could not be set up: bad certificate, key or
 *   CA file, or the server's certificate was refused. Not retried.
 * @VSS_VALKEY_ERROR_INDEX_MISMATCH: an index exists with another schema.
 * @VSS_VALKEY_ERROR_SEARCH_TIMEOUT: the server answered `Request timed out`.
 * @VSS_VALKEY_ERROR_INVALID_ARGUMENT: a query or schema cannot be expressed
 *   safely (e.g. a field name with punctuation).
 *
 * I/O timeouts and cancellation are reported as %G_IO_ERROR_TIMED_OUT and
 * %G_IO_ERROR_CANCELLED so that callers can tell them apart with
 * g_error_matches().
 */
typedef enum
{
  VSS_VALKEY_ERROR_URL,
  VSS_VALKEY_ERROR_AUTH,
  VSS_VALKEY_ERROR_SERVER,
  VSS_VALKEY_ERROR_PROTOCOL,
  VSS_VALKEY_ERROR_CLUSTER,
  VSS_VALKEY_ERROR_CONNECTION,
  VSS_VALKEY_ERROR_TLS,
  VSS_VALKEY_ERROR_INDEX_MISMATCH,
  VSS_VALKEY_ERROR_SEARCH_TIMEOUT,
  VSS_VALKEY_ERROR_INVALID_ARGUMENT,
} VssValkeyError;

G_END_DECLS
