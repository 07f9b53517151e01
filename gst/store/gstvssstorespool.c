/* gst-vss: crash-safe on-disk spool of opaque records
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Locking: `lock` guards `sizes`, `bytes`, `next_seq` and the journal's
 * segments (`j_seg`, `j_fd`, `j_live`, `j_spare`). It is held while a
 * spool record is written (so that the size limit holds under concurrent
 * appends) and never while calling out of this file. `j_append`
 * serializes journal appends and guards `j_size`; a journal record is
 * written under it alone, so that releases (another thread, once frames
 * are stored) never wait for a write. `j_seg` and `j_fd` change only
 * under both. Lock order: `j_append`, then `lock`.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "gstvssstorecrc.h"
#include "gstvssstorespool.h"

#define MAGIC "VSSSPOOL"
#define MAGIC_LEN 8
/* Version 3: CRC-32C. Version 2 (CRC-32, IEEE) is still read: spools and
 * journals written by earlier builds are replayed. */
#define SPOOL_VERSION 3
#define LEGACY_VERSION 2
#define HASH_LEN 4
#define HEADER_LEN (MAGIC_LEN + 4 + 4 + HASH_LEN)
/* Largest payload accepted on read: guards against a corrupt length. */
#define MAX_PAYLOAD (256u * 1024 * 1024)
/* A journal segment is closed (and later recycled or deleted) past this
 * size, or past an eighth of the spool's limit or of the free space when
 * that is less (a small spool folder), but never below the floor. */
#define JOURNAL_SEGMENT_BYTES (8u * 1024 * 1024)
#define JOURNAL_SEGMENT_MIN_BYTES (16u * 1024)
#define JOURNAL_SEGMENT_SHARE 8
/* Free segments kept for reuse, when segments have their full size. */
#define MAX_SPARES 2
/* Journal segments of version 3 records. Earlier builds wrote ".log"
 * (version 2), still recovered; they ignore ".jnl", so that a downgrade
 * leaves these segments for the next upgrade instead of deleting records
 * it cannot read. */
#define JOURNAL_EXT ".jnl"
#define LEGACY_JOURNAL_EXT ".log"
/* The owner's name: whom the records are for (vsssink: their
 * destination). One line of text. */
#define OWNER_FILE "destination"
#define MAX_OWNER_LEN 4096
/* vss_store_spool_open() waits this long for a lock held for a moment
 * (vss_store_spool_peek() by another process) before it says BUSY. */
#define LOCK_WAIT_US (200 * 1000)

struct _VssStoreSpool
{
  gchar *dir;
  gint lock_fd;
  guint64 max_bytes;

  GMutex lock;
  GHashTable *sizes;            /* seq (guint64 *) -> file size */
  guint64 bytes;
  guint64 next_seq;

  GMutex j_append;
  guint64 j_seg;                /* current segment, 0: none open */
  int j_fd;
  guint64 j_size;
  guint64 j_limit;              /* the current segment's size limit */
  GHashTable *j_live;           /* segment (guint64 *) -> guint * refs */
  guint64 j_spare[MAX_SPARES];  /* free segments, `journal-<n>.tmp` */
  guint n_spare;
  guint recovered;

  /* set by open, read-only */
  gchar *previous_owner;        /* another owner whose records we took */
  guint adopted;                /* records of another or of no owner */
};

G_DEFINE_QUARK (vss - spool - error - quark, vss_store_spool_error);

static gboolean recover_journals (VssStoreSpool * s, GError ** error);
static guint count_journal_records (const gchar * dir);
static void journal_close_current (VssStoreSpool * s);
static gchar *spare_path (VssStoreSpool * s, guint64 seg);

static gchar *
record_path (VssStoreSpool * s, guint64 seq, const gchar * ext)
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

  g_set_error (error, VSS_STORE_SPOOL_ERROR, e == ENOSPC || e == EDQUOT ?
      VSS_STORE_SPOOL_ERROR_NO_SPACE : VSS_STORE_SPOOL_ERROR_IO,
      "%s %s: %s", what, path, g_strerror (e));
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

/* The owner a folder names, NULL when it names none. */
static gchar *
read_owner (const gchar * dir)
{
  gchar *path = g_build_filename (dir, OWNER_FILE, NULL);
  gchar *text = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &text, &len, NULL) || len == 0
      || len > MAX_OWNER_LEN || !g_utf8_validate_len (text, len, NULL)) {
    g_clear_pointer (&text, g_free);
  } else {
    g_strchomp (text);
  }
  g_free (path);
  return text;
}

static gboolean
write_owner (const gchar * dir, const gchar * owner, GError ** error)
{
  gchar *path = g_build_filename (dir, OWNER_FILE, NULL);
  gchar *text = g_strconcat (owner, "\n", NULL);
  GError *err = NULL;
  gboolean ok = g_file_set_contents_full (path, text, -1,
      G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0600,
      &err);

  if (!ok) {
    g_set_error (error, VSS_STORE_SPOOL_ERROR, VSS_STORE_SPOOL_ERROR_IO,
        "Cannot write %s: %s", path, err->message);
    g_error_free (err);
  }
  g_free (text);
  g_free (path);
  return ok;
}

/* Spool records (`<seq>.rec`) in @dir. */
static guint
count_records (const gchar * dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;
  guint n = 0;
  guint64 seq;

  while (d && (name = g_dir_read_name (d)))
    if (parse_seq (name, &seq))
      n++;
  if (d)
    g_dir_close (d);
  return n;
}

/* Takes the folder's lock, waiting a moment for a peek to let go. */
static gboolean
lock_folder (int fd)
{
  gint64 end = g_get_monotonic_time () + LOCK_WAIT_US;

  while (flock (fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR)
      return FALSE;
    if (g_get_monotonic_time () >= end)
      return FALSE;
    g_usleep (10 * 1000);
  }
  return TRUE;
}

/* Checks @owner against the one the folder names (see
 * vss_store_spool_open_owned()) and names it. Lock held, journals not yet
 * recovered. */
static gboolean
claim (VssStoreSpool * s, const gchar * owner, gboolean adopt, GError ** error)
{
  gchar *found = read_owner (s->dir);
  guint pending;
  gboolean same = found && g_str_equal (found, owner);

  if (same) {
    g_free (found);
    return TRUE;
  }
  pending = g_hash_table_size (s->sizes) + count_journal_records (s->dir);
  if (found && pending > 0 && !adopt) {
    g_set_error (error, VSS_STORE_SPOOL_ERROR,
        VSS_STORE_SPOOL_ERROR_OTHER_OWNER,
        "Spool folder %s holds %u records for %s, not for %s", s->dir,
        pending, found, owner);
    g_free (found);
    return FALSE;
  }
  if (pending > 0) {
    s->previous_owner = found;
    s->adopted = pending;
  } else {
    g_free (found);
  }
  return write_owner (s->dir, owner, error);
}

/**
 * vss_store_spool_open:
 * @dir: the folder; created (with parents) when missing
 * @max_bytes: the most the records may take on disk; 0: no limit
 *
 * vss_store_spool_open_owned() without an owner: whatever the folder
 * holds is taken, and the folder's owner is left as it is.
 */
VssStoreSpool *
vss_store_spool_open (const gchar * dir, guint64 max_bytes, GError ** error)
{
  return vss_store_spool_open_owned (dir, max_bytes, NULL, FALSE, error);
}

/**
 * vss_store_spool_open_owned:
 * @dir: the folder; created (with parents) when missing
 * @max_bytes: the most the records may take on disk; 0: no limit
 * @owner: (nullable): whom the records are for, one line of text (vsssink:
 *   its destination); NULL: no check
 * @adopt: take the records of another owner
 *
 * Opens the spool, removes temporary files of records whose write did not
 * finish (they were never acknowledged), counts what is there and turns
 * what journals a dead process left into records.
 *
 * A folder names its owner (in the file `destination`). When it names
 * another @owner and still holds records (or journals), it is refused with
 * %VSS_STORE_SPOOL_ERROR_OTHER_OWNER and left as it is, unless @adopt;
 * otherwise it is named after @owner. Records of a folder that names no
 * owner (written by builds before owners) are taken as they always were;
 * vss_store_spool_get_adopted() counts what was taken from another or from
 * no owner.
 *
 * Returns: the spool, or NULL with @error (%VSS_STORE_SPOOL_ERROR_BUSY when
 * another process has it open, %VSS_STORE_SPOOL_ERROR_OTHER_OWNER).
 */
VssStoreSpool *
vss_store_spool_open_owned (const gchar * dir, guint64 max_bytes,
    const gchar * owner, gboolean adopt, GError ** error)
{
  VssStoreSpool *s;
  GDir *d;
  const gchar *name;
  gchar *lock_path;

  if (g_mkdir_with_parents (dir, 0700) != 0) {
    set_errno_error (error, "Cannot create spool folder", dir);
    return NULL;
  }
  s = g_new0 (VssStoreSpool, 1);
  s->dir = g_strdup (dir);
  s->max_bytes = max_bytes;
  s->lock_fd = -1;
  s->next_seq = 1;
  s->sizes = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  s->j_live = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
      g_free);
  s->j_fd = -1;
  g_mutex_init (&s->lock);
  g_mutex_init (&s->j_append);

  lock_path = g_build_filename (dir, ".lock", NULL);
  s->lock_fd = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (s->lock_fd < 0) {
    set_errno_error (error, "Cannot open", lock_path);
    g_free (lock_path);
    goto fail;
  }
  if (!lock_folder (s->lock_fd)) {
    g_set_error (error, VSS_STORE_SPOOL_ERROR, VSS_STORE_SPOOL_ERROR_BUSY,
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
  if (owner && !claim (s, owner, adopt, error))
    goto fail;
  if (!recover_journals (s, error))
    goto fail;
  return s;

fail:
  vss_store_spool_close (s);
  return NULL;
}

/**
 * vss_store_spool_get_previous_owner:
 *
 * Returns: (nullable): the other owner whose records
 *   vss_store_spool_open_owned() took (with @adopt); NULL when it took
 *   none, or records of a folder that named no owner.
 */
const gchar *
vss_store_spool_get_previous_owner (VssStoreSpool * s)
{
  return s->previous_owner;
}

/**
 * vss_store_spool_get_adopted:
 *
 * Returns: how many records (spool records and journal records)
 *   vss_store_spool_open_owned() took from another owner or from a folder
 *   that named none.
 */
guint
vss_store_spool_get_adopted (VssStoreSpool * s)
{
  return s->adopted;
}

/**
 * vss_store_spool_peek:
 * @dir: a spool folder
 * @info: (out caller-allocates): what it holds; clear it with
 *   vss_store_spool_info_clear()
 *
 * Looks into a spool folder without opening it: its owner, its records
 * and whether a process has it open (then the journal is not read: it
 * belongs to that process). Nothing is changed.
 *
 * Returns: FALSE with @error when @dir cannot be read.
 */
gboolean
vss_store_spool_peek (const gchar * dir, VssStoreSpoolInfo * info,
    GError ** error)
{
  gchar *lock_path = g_build_filename (dir, ".lock", NULL);
  int fd;

  memset (info, 0, sizeof *info);
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, VSS_STORE_SPOOL_ERROR, VSS_STORE_SPOOL_ERROR_IO,
        "%s is not a folder", dir);
    g_free (lock_path);
    return FALSE;
  }
  fd = open (lock_path, O_RDWR | O_CLOEXEC);
  if (fd >= 0) {
    if (flock (fd, LOCK_EX | LOCK_NB) != 0)
      info->busy = TRUE;
    close (fd);                 /* releases the flock */
  }
  g_free (lock_path);
  info->owner = read_owner (dir);
  info->n_records = count_records (dir);
  if (!info->busy)
    info->n_journal = count_journal_records (dir);
  return TRUE;
}

void
vss_store_spool_info_clear (VssStoreSpoolInfo * info)
{
  g_clear_pointer (&info->owner, g_free);
}

void
vss_store_spool_close (VssStoreSpool * s)
{
  if (s == NULL)
    return;
  if (s->j_live) {
    journal_close_current (s);
    for (guint i = 0; i < s->n_spare; i++) {
      gchar *spare = spare_path (s, s->j_spare[i]);

      g_unlink (spare);
      g_free (spare);
    }
  }
  if (s->lock_fd >= 0)
    close (s->lock_fd);         /* releases the flock */
  g_hash_table_unref (s->sizes);
  g_hash_table_unref (s->j_live);
  g_mutex_clear (&s->lock);
  g_mutex_clear (&s->j_append);
  g_free (s->previous_owner);
  g_free (s->dir);
  g_free (s);
}

const gchar *
vss_store_spool_get_dir (VssStoreSpool * s)
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
 * vss_store_spool_list:
 *
 * Returns: (transfer full) (element-type guint64): the sequence numbers of
 * every record, oldest first.
 */
GArray *
vss_store_spool_list (VssStoreSpool * s)
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

/* Writes @n_iov pieces whole (consumes @iov: pieces are advanced). */
static gboolean
writev_all (int fd, struct iovec *iov, guint n_iov)
{
  while (n_iov > 0) {
    ssize_t n = writev (fd, iov, n_iov);

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return FALSE;
    if (n == 0) {
      errno = ENOSPC;
      return FALSE;
    }
    while (n_iov > 0 && (gsize) n >= iov->iov_len) {
      n -= iov->iov_len;
      iov++;
      n_iov--;
    }
    if (n_iov > 0) {
      iov->iov_base = (guint8 *) iov->iov_base + n;
      iov->iov_len -= n;
    }
  }
  return TRUE;
}

/* The payload's checksum, over its pieces; CRC-32C since version 3 (an
 * instruction on x86-64: the journal checksums every frame on the
 * streaming thread). */
static guint32
payload_crc (const struct iovec *iov, guint n_iov)
{
  guint32 crc = 0;

  for (guint i = 0; i < n_iov; i++)
    crc = vss_store_crc32c (crc, iov[i].iov_base, iov[i].iov_len);
  return crc;
}

/* What a journal record's checksum is XORed with: its segment's number, so
 * that records left in a recycled segment file by its previous use fail
 * the check (distinct numbers give distinct salts: CRC-32C maps distinct
 * 8-byte inputs differing in their low 32 bits to distinct values).
 * Spool files: 0. */
static guint32
journal_salt (guint64 seg)
{
  guint64 le = GUINT64_TO_LE (seg);

  return vss_store_crc32c (0, &le, 8);
}

static void
make_header (guint8 header[HEADER_LEN], gsize len, guint32 crc)
{
  guint32 v;

  memcpy (header, MAGIC, MAGIC_LEN);
  v = GUINT32_TO_LE (SPOOL_VERSION);
  memcpy (header + MAGIC_LEN, &v, 4);
  v = GUINT32_TO_LE ((guint32) len);
  memcpy (header + MAGIC_LEN + 4, &v, 4);
  v = GUINT32_TO_LE (crc);
  memcpy (header + MAGIC_LEN + 8, &v, 4);
}

/* Sum of the pieces' lengths, or G_MAXSIZE past MAX_PAYLOAD. */
static gsize
iov_total (const struct iovec *iov, guint n_iov)
{
  gsize len = 0;

  for (guint i = 0; i < n_iov; i++) {
    if (iov[i].iov_len > MAX_PAYLOAD || len + iov[i].iov_len > MAX_PAYLOAD)
      return G_MAXSIZE;
    len += iov[i].iov_len;
  }
  return len;
}

/* Checks one record at @p (at most @avail bytes; @salt: see
 * journal_salt()); returns its payload length, or -1 when the bytes are
 * not a whole valid record. */
static gssize
check_record (const guint8 * p, gsize avail, guint32 salt)
{
  guint32 version, plen, crc;

  if (avail < HEADER_LEN || memcmp (p, MAGIC, MAGIC_LEN) != 0)
    return -1;
  memcpy (&version, p + MAGIC_LEN, 4);
  memcpy (&plen, p + MAGIC_LEN + 4, 4);
  memcpy (&crc, p + MAGIC_LEN + 8, 4);
  plen = GUINT32_FROM_LE (plen);
  version = GUINT32_FROM_LE (version);
  if ((version != SPOOL_VERSION && version != LEGACY_VERSION)
      || plen > MAX_PAYLOAD || plen > avail - HEADER_LEN)
    return -1;
  /* Version 2 journals were never recycled: no salt. */
  if ((version == SPOOL_VERSION ? vss_store_crc32c (0, p + HEADER_LEN,
              plen) ^ salt : vss_store_crc32_ieee (0, p + HEADER_LEN,
              plen)) != GUINT32_FROM_LE (crc))
    return -1;
  return plen;
}

static gboolean append_locked (VssStoreSpool * s, const struct iovec *iov,
    guint n_iov, gboolean sync, gboolean limit, guint64 * seq, GError ** error);

/* At most this many pieces in one record (plus the header). */
#define MAX_PIECES 16

/**
 * vss_store_spool_append:
 * @sync: fsync the record and the folder before returning
 * @seq: (out) (optional): the record's sequence number
 *
 * Returns: FALSE with @error when the record could not be written whole
 * (nothing is left behind) or does not fit (%VSS_STORE_SPOOL_ERROR_FULL).
 */
gboolean
vss_store_spool_append (VssStoreSpool * s, GBytes * payload, gboolean sync,
    guint64 * seq, GError ** error)
{
  struct iovec iov;
  gsize len;

  iov.iov_base = (void *) g_bytes_get_data (payload, &len);
  iov.iov_len = len;
  return vss_store_spool_appendv (s, &iov, 1, sync, seq, error);
}

/**
 * vss_store_spool_appendv:
 * @iov: (array length=n_iov): the payload's pieces, concatenated
 * @n_iov: how many (at most 16)
 *
 * vss_store_spool_append() of the pieces' concatenation, without building it.
 */
gboolean
vss_store_spool_appendv (VssStoreSpool * s, const struct iovec *iov,
    guint n_iov, gboolean sync, guint64 * seq, GError ** error)
{
  gboolean ok;

  g_return_val_if_fail (n_iov <= MAX_PIECES, FALSE);
  g_mutex_lock (&s->lock);
  ok = append_locked (s, iov, n_iov, sync, TRUE, seq, error);
  g_mutex_unlock (&s->lock);
  return ok;
}

static gboolean
append_locked (VssStoreSpool * s, const struct iovec *iov, guint n_iov,
    gboolean sync, gboolean limit, guint64 * seq, GError ** error)
{
  guint8 header[HEADER_LEN];
  struct iovec all[MAX_PIECES + 1];
  guint64 n, *key;
  gchar *tmp, *path;
  gsize len = iov_total (iov, n_iov);
  int fd;
  gboolean ok = FALSE;

  if (len == G_MAXSIZE) {
    g_set_error (error, VSS_STORE_SPOOL_ERROR, VSS_STORE_SPOOL_ERROR_FULL,
        "Record is larger than a spool record may be (%u bytes)", MAX_PAYLOAD);
    return FALSE;
  }
  if (limit && s->max_bytes && s->bytes + HEADER_LEN + len > s->max_bytes) {
    g_set_error (error, VSS_STORE_SPOOL_ERROR, VSS_STORE_SPOOL_ERROR_FULL,
        "Spool %s is full: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
        " bytes used, record needs %" G_GSIZE_FORMAT, s->dir, s->bytes,
        s->max_bytes, HEADER_LEN + len);
    return FALSE;
  }
  make_header (header, len, payload_crc (iov, n_iov));
  all[0].iov_base = header;
  all[0].iov_len = HEADER_LEN;
  memcpy (all + 1, iov, n_iov * sizeof *iov);
  n = s->next_seq++;
  tmp = record_path (s, n, ".tmp");
  path = record_path (s, n, ".rec");
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    set_errno_error (error, "Cannot create", tmp);
    goto out;
  }
  if (!writev_all (fd, all, n_iov + 1) || (sync && fsync (fd) != 0)) {
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
 * vss_store_spool_sync:
 *
 * Makes a record written without @sync durable.
 */
gboolean
vss_store_spool_sync (VssStoreSpool * s, guint64 seq, GError ** error)
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
 * vss_store_spool_read:
 *
 * Returns: (transfer full): the record's payload, or NULL with @error
 * (%VSS_STORE_SPOOL_ERROR_CORRUPT when the framing or checksum is wrong).
 */
GBytes *
vss_store_spool_read (VssStoreSpool * s, guint64 seq, GError ** error)
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
  plen = check_record ((const guint8 *) contents, len, 0);
  if (plen < 0 || (gsize) plen != len - HEADER_LEN) {
    g_set_error (error, VSS_STORE_SPOOL_ERROR, VSS_STORE_SPOOL_ERROR_CORRUPT,
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
vss_store_spool_remove (VssStoreSpool * s, guint64 seq)
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
 * vss_store_spool_quarantine:
 *
 * Renames a record that cannot be used to `<seq>.bad`, out of the replay
 * order but kept for inspection.
 */
gboolean
vss_store_spool_quarantine (VssStoreSpool * s, guint64 seq)
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
vss_store_spool_get_usage (VssStoreSpool * s, guint * n_records,
    guint64 * bytes)
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
journal_path (VssStoreSpool * s, guint64 seg)
{
  return g_strdup_printf ("%s/journal-%020" G_GUINT64_FORMAT JOURNAL_EXT,
      s->dir, seg);
}

/* For g_ptr_array_sort(), which passes pointers to the elements. Segment
 * names have a fixed width: name order is segment order. */
static gint
cmp_path (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar * const *) a, *(const gchar * const *) b);
}

/* The journal segments in @dir (also those of earlier builds), oldest
 * first; NULL with @error when @dir cannot be read. */
static GPtrArray *
journal_segments (const gchar * dir, GError ** error)
{
  GDir *d = g_dir_open (dir, 0, error);
  const gchar *name;
  GPtrArray *segs;

  if (d == NULL)
    return NULL;
  segs = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (d)))
    if (g_str_has_prefix (name, "journal-") && (g_str_has_suffix (name,
                JOURNAL_EXT) || g_str_has_suffix (name, LEGACY_JOURNAL_EXT)))
      g_ptr_array_add (segs, g_build_filename (dir, name, NULL));
  g_dir_close (d);
  g_ptr_array_sort (segs, cmp_path);
  return segs;
}

/* The whole records at the start of segment file @path (@contents, @len),
 * in @lengths (payload lengths) when given. */
static guint
segment_records (const gchar * path, const gchar * contents, gsize len,
    GArray * lengths)
{
  const gchar *base = strrchr (path, '/') + 1;
  guint32 salt = journal_salt (g_ascii_strtoull (base + 8, NULL, 10));
  gsize off = 0;
  guint n = 0;

  /* A torn tail (power loss) ends the segment: it was never complete,
   * so never acknowledged. So does what a recycled segment held before
   * (another salt). */
  while (off < len) {
    gssize plen = check_record ((const guint8 *) contents + off, len - off,
        salt);

    if (plen < 0)
      break;
    if (lengths)
      g_array_append_val (lengths, plen);
    off += HEADER_LEN + plen;
    n++;
  }
  return n;
}

/* Records in the journal segments of @dir. */
static guint
count_journal_records (const gchar * dir)
{
  GPtrArray *segs = journal_segments (dir, NULL);
  guint n = 0;

  for (guint i = 0; segs && i < segs->len; i++) {
    const gchar *path = g_ptr_array_index (segs, i);
    gchar *contents = NULL;
    gsize len = 0;

    if (g_file_get_contents (path, &contents, &len, NULL))
      n += segment_records (path, contents, len, NULL);
    g_free (contents);
  }
  if (segs)
    g_ptr_array_unref (segs);
  return n;
}

/* Turns what a dead owner left in journal segments into spool records. */
static gboolean
recover_journals (VssStoreSpool * s, GError ** error)
{
  GPtrArray *segs = journal_segments (s->dir, error);
  gboolean ok = TRUE;

  if (segs == NULL)
    return FALSE;
  for (guint i = 0; ok && i < segs->len; i++) {
    const gchar *path = g_ptr_array_index (segs, i);
    const gchar *base = strrchr (path, '/') + 1;
    gchar *contents = NULL;
    gsize len = 0, off = 0;
    GArray *lengths = g_array_new (FALSE, FALSE, sizeof (gssize));

    s->j_seg = MAX (s->j_seg, g_ascii_strtoull (base + 8, NULL, 10));
    if (!g_file_get_contents (path, &contents, &len, error)) {
      g_array_unref (lengths);
      ok = FALSE;
      break;
    }
    segment_records (path, contents, len, lengths);
    for (guint k = 0; ok && k < lengths->len; k++) {
      gssize plen = g_array_index (lengths, gssize, k);
      struct iovec piece;

      piece.iov_base = contents + off + HEADER_LEN;
      piece.iov_len = plen;
      if (!append_locked (s, &piece, 1, TRUE, FALSE, NULL, error))
        ok = FALSE;
      else
        s->recovered++;
      off += HEADER_LEN + plen;
    }
    g_array_unref (lengths);
    g_free (contents);
    if (ok)
      g_unlink (path);
  }
  g_ptr_array_unref (segs);
  return ok;
}

static gchar *
spare_path (VssStoreSpool * s, guint64 seg)
{
  return g_strdup_printf ("%s/journal-%020" G_GUINT64_FORMAT ".tmp", s->dir,
      seg);
}

/* A closed segment whose records are all released: kept as a spare (its
 * pages stay in the page cache, so that writing the next segment into it
 * costs no allocation), else deleted; always deleted when segments are
 * cut short for lack of room, since a spare holds its blocks. A spare's name is not a journal's:
 * a crash leaves nothing to recover in it (vss_store_spool_open() deletes
 * `.tmp` files). Lock held. */
static void
journal_retire (VssStoreSpool * s, guint64 seg)
{
  gchar *path = journal_path (s, seg);

  if (s->n_spare < MAX_SPARES && s->j_limit == JOURNAL_SEGMENT_BYTES) {
    gchar *spare = spare_path (s, seg);

    if (g_rename (path, spare) == 0)
      s->j_spare[s->n_spare++] = seg;
    else
      g_unlink (path);
    g_free (spare);
  } else {
    g_unlink (path);
  }
  g_free (path);
  g_hash_table_remove (s->j_live, &seg);
}

/* The live records of @seg (lock held). */
static guint *
journal_refs (VssStoreSpool * s, guint64 seg)
{
  guint *refs = g_hash_table_lookup (s->j_live, &seg);

  if (refs == NULL) {
    refs = g_new0 (guint, 1);
    g_hash_table_insert (s->j_live, g_memdup2 (&seg, sizeof seg), refs);
  }
  return refs;
}

static void
journal_close_current (VssStoreSpool * s)
{
  guint *refs;
  guint64 seg = s->j_seg;

  if (s->j_fd < 0)
    return;
  close (s->j_fd);
  s->j_fd = -1;
  refs = g_hash_table_lookup (s->j_live, &seg);
  if (refs == NULL || *refs == 0)
    journal_retire (s, seg);
}

/* How large the next segment may grow: JOURNAL_SEGMENT_BYTES, or an
 * eighth of the spool's limit or of the space free on its filesystem when
 * that is less, so that a small spool folder (a 1 MiB filesystem, a
 * spool-max-bytes of a few MiB) is never filled by the journal of frames
 * that are stored a moment later. Asked once per segment: one statvfs(). */
static guint64
journal_segment_limit (VssStoreSpool * s)
{
  guint64 limit = JOURNAL_SEGMENT_BYTES;
  struct statvfs v;

  if (s->max_bytes > 0)
    limit = MIN (limit, s->max_bytes / JOURNAL_SEGMENT_SHARE);
  if (statvfs (s->dir, &v) == 0)
    limit = MIN (limit, (guint64) v.f_bavail * v.f_frsize /
        JOURNAL_SEGMENT_SHARE);
  return MAX (limit, JOURNAL_SEGMENT_MIN_BYTES);
}

/* Opens the next segment, in a spare's file when there is one and
 * segments have their full size. Lock held. */
static gboolean
journal_open_next (VssStoreSpool * s, GError ** error)
{
  gchar *path;

  s->j_seg++;
  s->j_size = 0;
  s->j_limit = journal_segment_limit (s);
  path = journal_path (s, s->j_seg);
  /* Short of room: the spares' blocks are better given back. */
  while (s->n_spare > 0 && s->j_limit < JOURNAL_SEGMENT_BYTES) {
    gchar *spare = spare_path (s, s->j_spare[--s->n_spare]);

    g_unlink (spare);
    g_free (spare);
  }
  if (s->n_spare > 0) {
    gchar *spare = spare_path (s, s->j_spare[--s->n_spare]);

    if (g_rename (spare, path) != 0)
      g_unlink (spare);
    g_free (spare);
  }
  /* No O_TRUNC: a recycled file keeps its pages; what it held fails the
   * salted checksum. No O_APPEND: records go at j_size. */
  s->j_fd = open (path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (s->j_fd < 0) {
    set_errno_error (error, "Cannot create", path);
    g_free (path);
    return FALSE;
  }
  g_free (path);
  return TRUE;
}

/**
 * vss_store_spool_journal_append:
 * @segment: (out): the segment holding the record, for
 *   vss_store_spool_journal_release()
 *
 * Writes @payload to the journal with one write() and no fsync.
 */
gboolean
vss_store_spool_journal_append (VssStoreSpool * s, GBytes * payload,
    guint64 * segment, GError ** error)
{
  struct iovec iov;
  gsize len;

  iov.iov_base = (void *) g_bytes_get_data (payload, &len);
  iov.iov_len = len;
  return vss_store_spool_journal_appendv (s, &iov, 1, segment, error);
}

/**
 * vss_store_spool_journal_appendv:
 * @iov: (array length=n_iov): the payload's pieces, concatenated
 * @n_iov: how many (at most 16)
 *
 * vss_store_spool_journal_append() of the pieces' concatenation: one writev()
 * straight from them, checksummed piece by piece.
 */
gboolean
vss_store_spool_journal_appendv (VssStoreSpool * s, const struct iovec *iov,
    guint n_iov, guint64 * segment, GError ** error)
{
  gsize len = iov_total (iov, n_iov);
  guint8 header[HEADER_LEN];
  struct iovec all[MAX_PIECES + 1];
  guint32 crc;
  guint64 seg;
  gssize n;
  int fd;

  g_return_val_if_fail (n_iov <= MAX_PIECES, FALSE);
  if (len == G_MAXSIZE) {
    g_set_error (error, VSS_STORE_SPOOL_ERROR, VSS_STORE_SPOOL_ERROR_FULL,
        "Record is larger than a journal record may be (%u bytes)",
        MAX_PAYLOAD);
    return FALSE;
  }
  /* Checksummed before taking any lock; the segment's salt is added once
   * the segment is known. */
  crc = payload_crc (iov, n_iov);
  all[0].iov_base = header;
  all[0].iov_len = HEADER_LEN;
  memcpy (all + 1, iov, n_iov * sizeof *iov);

  g_mutex_lock (&s->j_append);
  g_mutex_lock (&s->lock);
  if (s->j_fd >= 0 && s->j_size >= s->j_limit)
    journal_close_current (s);
  if (s->j_fd < 0 && !journal_open_next (s, error)) {
    g_mutex_unlock (&s->lock);
    g_mutex_unlock (&s->j_append);
    return FALSE;
  }
  /* Counted before it is written: the segment stays while we write. */
  seg = s->j_seg;
  fd = s->j_fd;
  (*journal_refs (s, seg))++;
  g_mutex_unlock (&s->lock);

  make_header (header, len, crc ^ journal_salt (seg));
  do
    n = pwritev (fd, all, n_iov + 1, s->j_size);
  while (n < 0 && errno == EINTR);
  if (n != (gssize) (HEADER_LEN + len)) {
    gchar *path = journal_path (s, seg);

    if (n >= 0)
      errno = ENOSPC;
    set_errno_error (error, "Cannot write", path);
    g_free (path);
    /* A partial record would end the segment's recovery: start anew. */
    g_mutex_lock (&s->lock);
    (*journal_refs (s, seg))--;
    journal_close_current (s);
    g_mutex_unlock (&s->lock);
    g_mutex_unlock (&s->j_append);
    return FALSE;
  }
  s->j_size += n;
  g_mutex_unlock (&s->j_append);
  *segment = seg;
  return TRUE;
}

/**
 * vss_store_spool_journal_release:
 *
 * Drops one record's reference on @segment (the record is stored or was
 * turned into a spool record).
 */
void
vss_store_spool_journal_release (VssStoreSpool * s, guint64 segment)
{
  guint *refs;

  g_mutex_lock (&s->lock);
  refs = g_hash_table_lookup (s->j_live, &segment);
  if (refs && *refs > 0 && --(*refs) == 0) {
    if (segment != s->j_seg || s->j_fd < 0) {
      journal_retire (s, segment);
    } else {
      /* The current segment has no live record; it is retired once full.
       * (Truncating it instead would make ext4 flush it at once: its
       * replace-by-truncate heuristic.) */
      g_hash_table_remove (s->j_live, &segment);
    }
  }
  g_mutex_unlock (&s->lock);
}

/**
 * vss_store_spool_get_recovered:
 *
 * Returns: how many journal records vss_store_spool_open() turned into spool
 * records.
 */
guint
vss_store_spool_get_recovered (VssStoreSpool * s)
{
  return s->recovered;
}
