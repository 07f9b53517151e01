/* gst-vss: crash-safe on-disk spool of opaque records
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Locking: `lock` guards `sizes`, `bytes`, `next_seq` and the journal
 * (`j_*`). It is held while a record is written (so that the size limit
 * holds under concurrent appends) and never while calling out of this
 * file.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "gstvssspool.h"

#define MAGIC "VSSSPOOL"
#define MAGIC_LEN 8
#define SPOOL_VERSION 2
#define HASH_LEN 4
#define HEADER_LEN (MAGIC_LEN + 4 + 4 + HASH_LEN)
/* Largest payload accepted on read: guards against a corrupt length. */
#define MAX_PAYLOAD (256u * 1024 * 1024)
/* A journal segment is closed (and later deleted) past this size. */
#define JOURNAL_SEGMENT_BYTES (8u * 1024 * 1024)

struct _VssSpool
{
  gchar *dir;
  gint lock_fd;
  guint64 max_bytes;

  GMutex lock;
  GHashTable *sizes;            /* seq (guint64 *) -> file size */
  guint64 bytes;
  guint64 next_seq;

  guint64 j_seg;                /* current segment, 0: none open */
  int j_fd;
  guint64 j_size;
  GHashTable *j_live;           /* segment (guint64 *) -> references */
  guint recovered;
};

G_DEFINE_QUARK (vss-spool-error-quark, vss_spool_error);

static gboolean recover_journals (VssSpool * s, GError ** error);
static void journal_close_current (VssSpool * s);

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
  s->j_live = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
      NULL);
  s->j_fd = -1;
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
  if (!recover_journals (s, error))
    goto fail;
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
  if (s->j_live)
    journal_close_current (s);
  if (s->lock_fd >= 0)
    close (s->lock_fd);         /* releases the flock */
  g_hash_table_unref (s->sizes);
  g_hash_table_unref (s->j_live);
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

/* CRC-32 (IEEE 802.3, as zlib), slicing by 8: the journal checksums every
 * frame on the streaming thread, so it must cost far less than the write
 * it protects (SHA-256 cost more than the write). */
static guint32 crc_table[8][256];

static gpointer
crc_init (gpointer unused)
{
  for (guint i = 0; i < 256; i++) {
    guint32 c = i;

    for (guint k = 0; k < 8; k++)
      c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[0][i] = c;
  }
  for (guint i = 0; i < 256; i++)
    for (guint t = 1; t < 8; t++)
      crc_table[t][i] = (crc_table[t - 1][i] >> 8)
          ^ crc_table[0][crc_table[t - 1][i] & 0xff];
  return NULL;
}

static guint32
crc32_of (const guint8 * p, gsize len)
{
  static GOnce once = G_ONCE_INIT;
  guint32 c = 0xFFFFFFFFu;

  g_once (&once, crc_init, NULL);
  while (len >= 8) {
    guint32 lo = c ^ ((guint32) p[0] | (guint32) p[1] << 8 |
        (guint32) p[2] << 16 | (guint32) p[3] << 24);
    guint32 hi = (guint32) p[4] | (guint32) p[5] << 8 |
        (guint32) p[6] << 16 | (guint32) p[7] << 24;

    c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff]
        ^ crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24]
        ^ crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff]
        ^ crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
    p += 8;
    len -= 8;
  }
  while (len--)
    c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

static void
make_header (guint8 header[HEADER_LEN], const guint8 * data, gsize len)
{
  guint32 v;

  memcpy (header, MAGIC, MAGIC_LEN);
  v = GUINT32_TO_LE (SPOOL_VERSION);
  memcpy (header + MAGIC_LEN, &v, 4);
  v = GUINT32_TO_LE ((guint32) len);
  memcpy (header + MAGIC_LEN + 4, &v, 4);
  v = GUINT32_TO_LE (crc32_of (data, len));
  memcpy (header + MAGIC_LEN + 8, &v, 4);
}

/* Checks one record at @p (at most @avail bytes); returns its payload
 * length, or -1 when the bytes are not a whole valid record. */
static gssize
check_record (const guint8 * p, gsize avail)
{
  guint32 version, plen, crc;

  if (avail < HEADER_LEN || memcmp (p, MAGIC, MAGIC_LEN) != 0)
    return -1;
  memcpy (&version, p + MAGIC_LEN, 4);
  memcpy (&plen, p + MAGIC_LEN + 4, 4);
  memcpy (&crc, p + MAGIC_LEN + 8, 4);
  plen = GUINT32_FROM_LE (plen);
  if (GUINT32_FROM_LE (version) != SPOOL_VERSION || plen > MAX_PAYLOAD
      || plen > avail - HEADER_LEN)
    return -1;
  if (crc32_of (p + HEADER_LEN, plen) != GUINT32_FROM_LE (crc))
    return -1;
  return plen;
}

static gboolean append_locked (VssSpool * s, const guint8 * data, gsize len,
    gboolean sync, gboolean limit, guint64 * seq, GError ** error);

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
  gsize len;
  const guint8 *data = g_bytes_get_data (payload, &len);
  gboolean ok;

  g_mutex_lock (&s->lock);
  ok = append_locked (s, data, len, sync, TRUE, seq, error);
  g_mutex_unlock (&s->lock);
  return ok;
}

static gboolean
append_locked (VssSpool * s, const guint8 * data, gsize len, gboolean sync,
    gboolean limit, guint64 * seq, GError ** error)
{
  guint8 header[HEADER_LEN];
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
  if (limit && s->max_bytes && s->bytes + HEADER_LEN + len > s->max_bytes) {
    g_set_error (error, VSS_SPOOL_ERROR, VSS_SPOOL_ERROR_FULL,
        "Spool %s is full: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
        " bytes used, record needs %" G_GSIZE_FORMAT, s->dir, s->bytes,
        s->max_bytes, HEADER_LEN + len);
    return FALSE;
  }
  make_header (header, data, len);
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
  gsize len = 0;
  gssize plen;
  GBytes *out = NULL;

  if (!g_file_get_contents (path, &contents, &len, NULL)) {
    set_errno_error (error, "Cannot read", path);
    goto out;
  }
  plen = check_record ((const guint8 *) contents, len);
  if (plen < 0 || (gsize) plen != len - HEADER_LEN) {
    g_set_error (error, VSS_SPOOL_ERROR, VSS_SPOOL_ERROR_CORRUPT,
        "Spool record %s is corrupt (bad header, length or checksum)", path);
    goto out;
  }
  out = g_bytes_new (contents + HEADER_LEN, plen);
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

/* Journal */

static gchar *
journal_path (VssSpool * s, guint64 seg)
{
  return g_strdup_printf ("%s/journal-%020" G_GUINT64_FORMAT ".log", s->dir,
      seg);
}

/* Turns what a dead owner left in journal segments into spool records. */
static gboolean
recover_journals (VssSpool * s, GError ** error)
{
  GDir *d = g_dir_open (s->dir, 0, error);
  const gchar *name;
  GPtrArray *segs = g_ptr_array_new_with_free_func (g_free);
  gboolean ok = TRUE;

  if (d == NULL)
    return FALSE;
  while ((name = g_dir_read_name (d)))
    if (g_str_has_prefix (name, "journal-") && g_str_has_suffix (name, ".log"))
      g_ptr_array_add (segs, g_build_filename (s->dir, name, NULL));
  g_dir_close (d);
  g_ptr_array_sort (segs, (GCompareFunc) g_strcmp0);
  for (guint i = 0; ok && i < segs->len; i++) {
    const gchar *path = g_ptr_array_index (segs, i);
    const gchar *base = strrchr (path, '/') + 1;
    gchar *contents = NULL;
    gsize len = 0, off = 0;

    s->j_seg = MAX (s->j_seg, g_ascii_strtoull (base + 8, NULL, 10));
    if (!g_file_get_contents (path, &contents, &len, error)) {
      ok = FALSE;
      break;
    }
    /* A torn tail (power loss) ends the segment: it was never complete,
     * so never acknowledged. */
    while (off < len) {
      gssize plen = check_record ((const guint8 *) contents + off, len - off);

      if (plen < 0)
        break;
      if (!append_locked (s, (const guint8 *) contents + off + HEADER_LEN,
              plen, TRUE, FALSE, NULL, error)) {
        ok = FALSE;
        break;
      }
      s->recovered++;
      off += HEADER_LEN + plen;
    }
    g_free (contents);
    if (ok)
      g_unlink (path);
  }
  g_ptr_array_unref (segs);
  return ok;
}

static void
journal_close_current (VssSpool * s)
{
  gpointer refs;
  guint64 seg = s->j_seg;

  if (s->j_fd < 0)
    return;
  close (s->j_fd);
  s->j_fd = -1;
  if (!g_hash_table_lookup_extended (s->j_live, &seg, NULL, &refs)
      || GPOINTER_TO_UINT (refs) == 0) {
    gchar *path = journal_path (s, seg);

    g_unlink (path);
    g_free (path);
    g_hash_table_remove (s->j_live, &seg);
  }
}

/**
 * vss_spool_journal_append:
 * @segment: (out): the segment holding the record, for
 *   vss_spool_journal_release()
 *
 * Writes @payload to the journal with one write() and no fsync.
 */
gboolean
vss_spool_journal_append (VssSpool * s, GBytes * payload, guint64 * segment,
    GError ** error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (payload, &len);
  guint8 header[HEADER_LEN];
  struct iovec iov[2];
  gssize n;
  gpointer refs;
  guint64 *key;

  if (len > MAX_PAYLOAD) {
    g_set_error (error, VSS_SPOOL_ERROR, VSS_SPOOL_ERROR_FULL,
        "Record of %" G_GSIZE_FORMAT " bytes is too large", len);
    return FALSE;
  }
  make_header (header, data, len);
  iov[0].iov_base = header;
  iov[0].iov_len = HEADER_LEN;
  iov[1].iov_base = (void *) data;
  iov[1].iov_len = len;

  g_mutex_lock (&s->lock);
  if (s->j_fd >= 0 && s->j_size >= JOURNAL_SEGMENT_BYTES)
    journal_close_current (s);
  if (s->j_fd < 0) {
    gchar *path;

    s->j_seg++;
    s->j_size = 0;
    path = journal_path (s, s->j_seg);
    s->j_fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND |
        O_CLOEXEC, 0600);
    if (s->j_fd < 0) {
      set_errno_error (error, "Cannot create", path);
      g_free (path);
      g_mutex_unlock (&s->lock);
      return FALSE;
    }
    g_free (path);
  }
  do
    n = writev (s->j_fd, iov, 2);
  while (n < 0 && errno == EINTR);
  if (n != (gssize) (HEADER_LEN + len)) {
    gchar *path = journal_path (s, s->j_seg);

    if (n >= 0)
      errno = ENOSPC;
    set_errno_error (error, "Cannot write", path);
    g_free (path);
    /* A partial record would end the segment's recovery: start anew. */
    journal_close_current (s);
    g_mutex_unlock (&s->lock);
    return FALSE;
  }
  s->j_size += n;
  if (g_hash_table_lookup_extended (s->j_live, &s->j_seg, NULL, &refs)) {
    g_hash_table_replace (s->j_live, g_memdup2 (&s->j_seg, sizeof (guint64)),
        GUINT_TO_POINTER (GPOINTER_TO_UINT (refs) + 1));
  } else {
    key = g_memdup2 (&s->j_seg, sizeof (guint64));
    g_hash_table_insert (s->j_live, key, GUINT_TO_POINTER (1));
  }
  *segment = s->j_seg;
  g_mutex_unlock (&s->lock);
  return TRUE;
}

/**
 * vss_spool_journal_release:
 *
 * Drops one record's reference on @segment (the record is stored or was
 * turned into a spool record).
 */
void
vss_spool_journal_release (VssSpool * s, guint64 segment)
{
  gpointer refs;
  guint r;

  g_mutex_lock (&s->lock);
  if (g_hash_table_lookup_extended (s->j_live, &segment, NULL, &refs)) {
    r = GPOINTER_TO_UINT (refs) - 1;
    if (r > 0) {
      g_hash_table_replace (s->j_live, g_memdup2 (&segment, sizeof (guint64)),
          GUINT_TO_POINTER (r));
    } else if (segment != s->j_seg || s->j_fd < 0) {
      gchar *path = journal_path (s, segment);

      g_unlink (path);
      g_free (path);
      g_hash_table_remove (s->j_live, &segment);
    } else {
      /* The current segment has no live record; it is deleted once full.
       * (Truncating it instead would make ext4 flush it at once: its
       * replace-by-truncate heuristic.) */
      g_hash_table_remove (s->j_live, &segment);
    }
  }
  g_mutex_unlock (&s->lock);
}

/**
 * vss_spool_get_recovered:
 *
 * Returns: how many journal records vss_spool_open() turned into spool
 * records.
 */
guint
vss_spool_get_recovered (VssSpool * s)
{
  return s->recovered;
}
