/* gst-vss: crash-safe on-disk spool of opaque records
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <sys/uio.h>
#include <glib.h>

G_BEGIN_DECLS

#define VSS_STORE_SPOOL_ERROR (vss_store_spool_error_quark ())
GQuark vss_store_spool_error_quark (void);

/**
 * VssStoreSpoolError:
 * @VSS_STORE_SPOOL_ERROR_IO: the folder or a record could not be created, read
 *   or written (the errno text is in the message).
 * @VSS_STORE_SPOOL_ERROR_FULL: the record does not fit in the size limit.
 * @VSS_STORE_SPOOL_ERROR_CORRUPT: a record fails its checksum or framing.
 * @VSS_STORE_SPOOL_ERROR_BUSY: another process holds the folder's lock.
 * @VSS_STORE_SPOOL_ERROR_NO_SPACE: the folder's filesystem is full (ENOSPC,
 *   or EDQUOT: the quota); the errno text is in the message.
 * @VSS_STORE_SPOOL_ERROR_OTHER_OWNER: the folder holds records for another
 *   owner (see vss_store_spool_open_owned()).
 */
typedef enum
{
  VSS_STORE_SPOOL_ERROR_IO,
  VSS_STORE_SPOOL_ERROR_FULL,
  VSS_STORE_SPOOL_ERROR_CORRUPT,
  VSS_STORE_SPOOL_ERROR_BUSY,
  VSS_STORE_SPOOL_ERROR_NO_SPACE,
  VSS_STORE_SPOOL_ERROR_OTHER_OWNER,
} VssStoreSpoolError;

/**
 * VssStoreSpool:
 *
 * A folder of numbered records, one file each (`<seq>.rec`), replayed in
 * sequence order. A record is written to a temporary file and renamed, so
 * that a crash leaves either the whole record or none; with @sync the file
 * and the folder are fsync'ed before vss_store_spool_append() returns, so the
 * record also survives a power loss. Each file starts with a magic, a
 * version, the payload length and the payload's checksum, checked on read:
 * CRC-32C since version 3; records of version 2 (CRC-32, written by
 * earlier builds) are still read. Payloads are opaque; the append
 * functions take them whole (#GBytes) or in pieces (struct iovec), which
 * are written with one writev() and checksummed without being copied.
 *
 * The journal is a cheaper companion for records that are usually not
 * needed: an append-only segment file (`journal-<n>.jnl`, same record
 * framing) written with one write() per record and no fsync, so that it
 * survives the death of the process (not of the machine). Each record
 * holds a reference on its segment until released; once a segment is full
 * and every reference is gone it is kept as a spare (`journal-<n>.tmp`,
 * reused for a later segment: its pages stay in the page cache) or
 * deleted. A segment is full at 8 MiB, or at an eighth of the spool's
 * limit or of the space free on its filesystem when that is less (at
 * least 16 KiB), so that the journal fits a small spool folder; such short
 * segments are never kept as spares. A journal record's checksum is XORed with the CRC-32C of its
 * segment number, so that what a reused file held before is never taken
 * for a record. On open, records of journal segments left behind (also
 * `journal-<n>.log` of earlier builds) are turned into ordinary spool
 * records: their owner died before it could release them.
 *
 * A folder may name its owner, whom its records are for (vsssink: the
 * destination they are written to): see vss_store_spool_open_owned().
 *
 * One process at a time: the folder is locked with flock() while open.
 * All functions are thread-safe.
 */
typedef struct _VssStoreSpool VssStoreSpool;

/**
 * VssStoreSpoolInfo:
 * @owner: (nullable): whom the folder's records are for; NULL: it names
 *   nobody (a new folder, or one of a build before owners)
 * @n_records: spool records
 * @n_journal: records in journal segments (0 when @busy: they belong to
 *   the running process)
 * @busy: a process has the folder open
 *
 * What vss_store_spool_peek() finds.
 */
typedef struct
{
  gchar *owner;
  guint n_records;
  guint n_journal;
  gboolean busy;
} VssStoreSpoolInfo;

VssStoreSpool *vss_store_spool_open (const gchar * dir, guint64 max_bytes,
    GError ** error);

VssStoreSpool *vss_store_spool_open_owned (const gchar * dir,
    guint64 max_bytes, const gchar * owner, gboolean adopt, GError ** error);

const gchar *vss_store_spool_get_previous_owner (VssStoreSpool * spool);

guint vss_store_spool_get_adopted (VssStoreSpool * spool);

gboolean vss_store_spool_peek (const gchar * dir, VssStoreSpoolInfo * info,
    GError ** error);

void vss_store_spool_info_clear (VssStoreSpoolInfo * info);

void vss_store_spool_close (VssStoreSpool * spool);

const gchar *vss_store_spool_get_dir (VssStoreSpool * spool);

GArray *vss_store_spool_list (VssStoreSpool * spool);

gboolean vss_store_spool_append (VssStoreSpool * spool, GBytes * payload, gboolean sync,
    guint64 * seq, GError ** error);

gboolean vss_store_spool_appendv (VssStoreSpool * spool, const struct iovec * iov,
    guint n_iov, gboolean sync, guint64 * seq, GError ** error);

gboolean vss_store_spool_sync (VssStoreSpool * spool, guint64 seq, GError ** error);

GBytes *vss_store_spool_read (VssStoreSpool * spool, guint64 seq, GError ** error);

void vss_store_spool_remove (VssStoreSpool * spool, guint64 seq);

gboolean vss_store_spool_quarantine (VssStoreSpool * spool, guint64 seq);

void vss_store_spool_get_usage (VssStoreSpool * spool, guint * n_records,
    guint64 * bytes);

gboolean vss_store_spool_journal_append (VssStoreSpool * spool, GBytes * payload,
    guint64 * segment, GError ** error);

gboolean vss_store_spool_journal_appendv (VssStoreSpool * spool,
    const struct iovec * iov, guint n_iov, guint64 * segment,
    GError ** error);

void vss_store_spool_journal_release (VssStoreSpool * spool, guint64 segment);

guint vss_store_spool_get_recovered (VssStoreSpool * spool);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VssStoreSpool, vss_store_spool_close);

G_END_DECLS
