/* gst-vss: crash-safe on-disk spool of opaque records
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Locking: `lock` guards `sizes`, `bytes` and `next_seq`. It is held while a
 * record is written (so that the size limit holds under concurrent
 * appends) and never while calling out of this file.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "gstvssspool.h"

#define MAGIC "VSSSPOOL"
#define MAGIC_LEN 8
#define SPOOL_VERSION 1
#define HASH_LEN 32
#define HEADER_LEN (MAGIC_LEN + 4 + 4 + HASH_LEN)
/* Largest payload accepted on read: guards against a corrupt length. */
#define MAX_PAYLOAD (256u * 1024 * 1024)

struct _VssSpool
{
  gchar *dir;
  gint lock_fd;
  guint64 max_bytes;

  GMutex lock;
  GHashTable *sizes;            /* seq (guint64 *) -> file size */
  guint64 bytes;
  guint64 next_seq;
};

G_DEFINE_QUARK (vss-spool-error-quark, vss_spool_error);

static gchar *
record_path (VssSpool * s, guint64 seq, const gchar * ext)
{
  return g_strdup_printf ("%s/%020" G_GUINT64_FORMAT "%s", s->dir, seq, ext);
}

static gboolean
parse_seq (const gchar * name, guint64 * seq)
{
  gchar *end = NULL;

  if (strlen (name) != 24 || !g_str_has_suffix (name, ".rec")
      || !g_ascii_isdigit (name[0]))
    return FALSE;
  *seq = g_ascii_strtoull (name, &end, 10);
  return end == name + 20;
}

static void
set_errno_error (GError ** error, const gchar * what, const gchar * path)
{
  int e = errno;

  g_set_error (error, VSS_SPOOL_ERROR, VSS_SPOOL_ERROR_IO, "%s %s: %s", what,
      path, g_strerror (e));
}

static gboolean
fsync_dir (const gchar * dir, GError ** error)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0 || fsync (fd) != 0) {
    set_errno_error (error, "Cannot sync folder", dir);
    if (fd >= 0)
      close (fd);
    return FALSE;
  }
  close (fd);
  return TRUE;
}

/**
 * vss_spool_open:
 * @dir: the folder; created (with parents) when missing
 * @max_bytes: the most the records may take on disk; 0: no limit
 *
 * Opens the spool, removes temporary files of records whose write did not
 * finish (they were never acknowledged) and counts what is there.
 *
 * Returns: the spool, or NULL with @error (%VSS_SPOOL_ERROR_BUSY when
 * another process has it open).
 */
VssSpool *
vss_spool_open (const gchar * dir, guint64 max_bytes, GError ** error)
{
  VssSpool *s;
  GDir *d;
  const gchar *name;
  gchar *lock_path;

  if (g_mkdir_with_parents (dir, 0700) != 0) {
    set_errno_error (error, "Cannot create spool folder", dir);
    return NULL;
  }
  s = g_new0 (VssSpool, 1);
  s->dir = g_strdup (dir);
  s->max_bytes = max_bytes;
  s->lock_fd = -1;
  s->next_seq = 1;
  s->sizes = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
      NULL);
  g_mutex_init (&s->lock);

  lock_path = g_build_filename (dir, ".lock", NULL);
  s->lock_fd = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (s->lock_fd < 0) {
    set_errno_error (error, "Cannot open", lock_path);
    g_free (lock_path);
    goto fail;
  }
  if (flock (s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    g_set_error (error, VSS_SPOOL_ERROR, VSS_SPOOL_ERROR_BUSY,
        "Spool folder %s is in use by another process", dir);
    g_free (lock_path);
    goto fail;
  }
  g_free (lock_path);

  d = g_dir_open (dir, 0, error);
  if (d == NULL)
    goto fail;
  while ((name = g_dir_read_name (d)) != NULL) {
    guint64 seq;
    GStatBuf st;
    gchar *path = g_build_filename (dir, name, NULL);

    if (g_str_has_suffix (name, ".tmp")) {
      g_unlink (path);
    } else if (parse_seq (name, &seq) && g_stat (path, &st) == 0) {
      guint64 *key = g_new (guint64, 1);

      *key = seq;
      g_hash_table_insert (s->sizes, key, GSIZE_TO_POINTER ((gsize)
              st.st_size));
      s->bytes += st.st_size;
      s->next_seq = MAX (s->next_seq, seq + 1);
    }
    g_free (path);
  }
  g_dir_close (d);
  return s;

fail:
  vss_spool_close (s);
  return NULL;
}

void
vss_spool_close (VssSpool * s)
{
  if (s == NULL)
    return;
  if (s->lock_fd >= 0)
    close (s->lock_fd);         /* releases the flock */
  g_hash_table_unref (s->sizes);
  g_mutex_clear (&s->lock);
  g_free (s->dir);
  g_free (s);
}

const gchar *
vss_spool_get_dir (VssSpool * s)
{
  return s->dir;
}

static gint
cmp_u64 (gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;

  return x < y ? -1 : x > y;
}

/**
 * vss_spool_list:
 *
 * Returns: (transfer full) (element-type guint64): the sequence numbers of
 * every record, oldest first.
 */
GArray *
vss_spool_list (VssSpool * s)
{
  GArray *a = g_array_new (FALSE, FALSE, sizeof (guint64));
  GHashTableIter it;
  gpointer key;

  g_mutex_lock (&s->lock);
  g_hash_table_iter_init (&it, s->sizes);
  while (g_hash_table_iter_next (&it, &key, NULL))
    g_array_append_val (a, *(guint64 *) key);
  g_mutex_unlock (&s->lock);
  g_array_sort (a, cmp_u64);
  return a;
}

static gboolean
write_all (int fd, const guint8 * data, gsize len)
{
  while (len > 0) {
    ssize_t n = write (fd, data, len);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return FALSE;
    data += n;
    len -= n;
  }
  return TRUE;
}

/**
 * vss_spool_append:
 * @sync: fsync the record and the folder before returning
 * @seq: (out) (optional): the record's sequence number
 *
 * Returns: FALSE with @error when the record could not be written whole
 * (nothing is left behind) or does not fit (%VSS_SPOOL_ERROR_FULL).
 */
gboolean
vss_spool_append (VssSpool * s, GBytes * payload, gboolean sync,
    guint64 * seq, GError ** error)
{
  guint8 header[HEADER_LEN];
  gsize len;
  const guint8 *data = g_bytes_get_data (payload, &len);
  gsize digest_len = HASH_LEN;
  GChecksum *sum;
  guint32 v;
  guint64 n, *key;
  gchar *tmp, *path;
  int fd;
  gboolean ok = FALSE;

  if (len > MAX_PAYLOAD) {
    g_set_error (error, VSS_SPOOL_ERROR, VSS_SPOOL_ERROR_FULL,
        "Record of %" G_GSIZE_FORMAT " bytes is larger than a spool record "
        "may be", len);
    return FALSE;
  }
  memcpy (header, MAGIC, MAGIC_LEN);
  v = GUINT32_TO_LE (SPOOL_VERSION);
  memcpy (header + MAGIC_LEN, &v, 4);
  v = GUINT32_TO_LE ((guint32) len);
  memcpy (header + MAGIC_LEN + 4, &v, 4);
  sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (sum, data, len);
  g_checksum_get_digest (sum, header + MAGIC_LEN + 8, &digest_len);
  g_checksum_free (sum);

  g_mutex_lock (&s->lock);
  if (s->max_bytes && s->bytes + HEADER_LEN + len > s->max_bytes) {
    g_set_error (error, VSS_SPOOL_ERROR, VSS_SPOOL_ERROR_FULL,
        "Spool %s is full: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
        " bytes used, record needs %" G_GSIZE_FORMAT, s->dir, s->bytes,
        s->max_bytes, HEADER_LEN + len);
    g_mutex_unlock (&s->lock);
    return FALSE;
  }
  n = s->next_seq++;
  tmp = record_path (s, n, ".tmp");
  path = record_path (s, n, ".rec");
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    set_errno_error (error, "Cannot create", tmp);
    goto out;
  }
  if (!write_all (fd, header, HEADER_LEN) || !write_all (fd, data, len)
      || (sync && fsync (fd) != 0)) {
    set_errno_error (error, "Cannot write", tmp);
    close (fd);
    g_unlink (tmp);
    goto out;
  }
  if (close (fd) != 0 || g_rename (tmp, path) != 0) {
    set_errno_error (error, "Cannot write", path);
    g_unlink (tmp);
    goto out;
  }
  if (sync && !fsync_dir (s->dir, error)) {
    g_unlink (path);
    goto out;
  }
  key = g_new (guint64, 1);
  *key = n;
  g_hash_table_insert (s->sizes, key, GSIZE_TO_POINTER (HEADER_LEN + len));
  s->bytes += HEADER_LEN + len;
  if (seq)
    *seq = n;
  ok = TRUE;
out:
  g_mutex_unlock (&s->lock);
  g_free (tmp);
  g_free (path);
  return ok;
}

/**
 * vss_spool_sync:
 *
 * Makes a record written without @sync durable.
 */
gboolean
vss_spool_sync (VssSpool * s, guint64 seq, GError ** error)
{
  gchar *path = record_path (s, seq, ".rec");
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  gboolean ok = fd >= 0 && fsync (fd) == 0;

  if (!ok)
    set_errno_error (error, "Cannot sync", path);
  if (fd >= 0)
    close (fd);
  g_free (path);
  return ok && fsync_dir (s->dir, error);
}

/**
 * vss_spool_read:
 *
 * Returns: (transfer full): the record's payload, or NULL with @error
 * (%VSS_SPOOL_ERROR_CORRUPT when the framing or checksum is wrong).
 */
GBytes *
vss_spool_read (VssSpool * s, guint64 seq, GError ** error)
{
  gchar *path = record_path (s, seq, ".rec");
  gchar *contents = NULL;
  gsize len = 0, digest_len = HASH_LEN;
  guint8 digest[HASH_LEN];
  guint32 version, plen;
  GChecksum *sum;
  GBytes *out = NULL;

  if (!g_file_get_contents (path, &contents, &len, NULL)) {
    set_errno_error (error, "Cannot read", path);
    goto out;
  }
  if (len < HEADER_LEN || memcmp (contents, MAGIC, MAGIC_LEN) != 0)
    goto corrupt;
  memcpy (&version, contents + MAGIC_LEN, 4);
  memcpy (&plen, contents + MAGIC_LEN + 4, 4);
  if (GUINT32_FROM_LE (version) != SPOOL_VERSION
      || GUINT32_FROM_LE (plen) != len - HEADER_LEN)
    goto corrupt;
  sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (sum, (const guint8 *) contents + HEADER_LEN,
      len - HEADER_LEN);
  g_checksum_get_digest (sum, digest, &digest_len);
  g_checksum_free (sum);
  if (memcmp (digest, contents + MAGIC_LEN + 8, HASH_LEN) != 0)
    goto corrupt;
  out = g_bytes_new (contents + HEADER_LEN, len - HEADER_LEN);
  goto out;

corrupt:
  g_set_error (error, VSS_SPOOL_ERROR, VSS_SPOOL_ERROR_CORRUPT,
      "Spool record %s is corrupt (bad header, length or checksum)", path);
out:
  g_free (contents);
  g_free (path);
  return out;
}

void
vss_spool_remove (VssSpool * s, guint64 seq)
{
  gchar *path = record_path (s, seq, ".rec");
  gpointer size;

  g_unlink (path);
  g_mutex_lock (&s->lock);
  if (g_hash_table_lookup_extended (s->sizes, &seq, NULL, &size)) {
    s->bytes -= GPOINTER_TO_SIZE (size);
    g_hash_table_remove (s->sizes, &seq);
  }
  g_mutex_unlock (&s->lock);
  g_free (path);
}

/**
 * vss_spool_quarantine:
 *
 * Renames a record that cannot be used to `<seq>.bad`, out of the replay
 * order but kept for inspection.
 */
gboolean
vss_spool_quarantine (VssSpool * s, guint64 seq)
{
  gchar *path = record_path (s, seq, ".rec");
  gchar *bad = record_path (s, seq, ".bad");
  gboolean ok = g_rename (path, bad) == 0;
  gpointer size;

  g_mutex_lock (&s->lock);
  if (g_hash_table_lookup_extended (s->sizes, &seq, NULL, &size)) {
    s->bytes -= GPOINTER_TO_SIZE (size);
    g_hash_table_remove (s->sizes, &seq);
  }
  g_mutex_unlock (&s->lock);
  g_free (path);
  g_free (bad);
  return ok;
}

void
vss_spool_get_usage (VssSpool * s, guint * n_records, guint64 * bytes)
{
  g_mutex_lock (&s->lock);
  if (n_records)
    *n_records = g_hash_table_size (s->sizes);
  if (bytes)
    *bytes = s->bytes;
  g_mutex_unlock (&s->lock);
}
