/* gst-vss: spool framing, CRC-32C and vsssink's frame records
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <glib/gstdio.h>
#include "store/gstvssstorecrc.h"
#include "store/gstvssstorespool.h"
#include "gstvsssinkrecord.h"

#define HEADER_LEN 20

/* CRC */

static void
test_crc_vectors (void)
{
  guint8 buf[32];
  /* RFC 3720 (iSCSI), appendix B.4 */
  static const struct
  {
    guint8 fill;
    gint step;
    guint32 crc;
  } iscsi[] = {
    {0x00, 0, 0x8A9136AA},
    {0xFF, 0, 0x62A8AB43},
    {0x00, 1, 0x46DD794E},
    {0x1F, -1, 0x113FDB5C},
  };

  g_test_message ("CRC-32C in hardware: %s",
      vss_store_crc32c_is_accelerated ()? "yes" : "no");
  g_assert_cmphex (vss_store_crc32c (0, "123456789", 9), ==, 0xE3069283);
  g_assert_cmphex (vss_store_crc32c_portable (0, "123456789", 9), ==,
      0xE3069283);
  g_assert_cmphex (vss_store_crc32_ieee (0, "123456789", 9), ==, 0xCBF43926);
  g_assert_cmphex (vss_store_crc32c (0, NULL, 0), ==, 0);
  g_assert_cmphex (vss_store_crc32_ieee (0, "", 0), ==, 0);
  for (guint v = 0; v < G_N_ELEMENTS (iscsi); v++) {
    for (guint i = 0; i < 32; i++)
      buf[i] = (guint8) (iscsi[v].fill + iscsi[v].step * (gint) i);
    g_assert_cmphex (vss_store_crc32c (0, buf, 32), ==, iscsi[v].crc);
    g_assert_cmphex (vss_store_crc32c_portable (0, buf, 32), ==, iscsi[v].crc);
  }
}

/* The dispatched CRC agrees with the table at every alignment and length,
 * and in pieces with the whole. */
static void
test_crc_agree (void)
{
  GRand *r = g_rand_new_with_seed (7);
  guint8 *data = g_malloc (70000);

  for (guint i = 0; i < 70000; i++)
    data[i] = (guint8) g_rand_int (r);
  for (guint off = 0; off < 16; off++) {
    for (guint len = 0; len < 300; len++)
      g_assert_cmphex (vss_store_crc32c (0, data + off, len), ==,
          vss_store_crc32c_portable (0, data + off, len));
  }
  /* Around the interleaved block lengths (3 x 256, 3 x 8192). */
  {
    const guint lens[] = { 767, 768, 769, 1536, 24575, 24576, 24577, 25351,
      49152, 65535
    };

    for (guint off = 0; off < 8; off++)
      for (guint i = 0; i < G_N_ELEMENTS (lens); i++)
        g_assert_cmphex (vss_store_crc32c (0, data + off, lens[i]), ==,
            vss_store_crc32c_portable (0, data + off, lens[i]));
  }
  for (guint n = 0; n < 200; n++) {
    guint len = g_rand_int_range (r, 0, 65536);
    guint off = g_rand_int_range (r, 0, 4000);
    guint cut = len ? g_rand_int_range (r, 0, len + 1) : 0;
    guint32 whole = vss_store_crc32c (0, data + off, len);

    g_assert_cmphex (vss_store_crc32c_portable (0, data + off, len), ==, whole);
    g_assert_cmphex (vss_store_crc32c (vss_store_crc32c (0, data + off, cut),
            data + off + cut, len - cut), ==, whole);
    g_assert_cmphex (vss_store_crc32_ieee (vss_store_crc32_ieee (0, data + off,
                cut), data + off + cut, len - cut), ==, vss_store_crc32_ieee (0,
            data + off, len));
  }
  g_free (data);
  g_rand_free (r);
}

/* Spool */

static gchar *
record_path (const gchar * dir, guint64 seq)
{
  return g_strdup_printf ("%s/%020" G_GUINT64_FORMAT ".rec", dir, seq);
}

static void
rm_dir (const gchar * dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d))) {
    gchar *p = g_build_filename (dir, name, NULL);

    g_unlink (p);
    g_free (p);
  }
  g_dir_close (d);
  g_rmdir (dir);
}

/* A record as spool version 2 wrote it: CRC-32 (IEEE). */
static GByteArray *
legacy_record (const guint8 * payload, guint32 len)
{
  GByteArray *a = g_byte_array_new ();
  guint32 v;

  g_byte_array_append (a, (const guint8 *) "VSSSPOOL", 8);
  v = GUINT32_TO_LE (2);
  g_byte_array_append (a, (const guint8 *) &v, 4);
  v = GUINT32_TO_LE (len);
  g_byte_array_append (a, (const guint8 *) &v, 4);
  v = GUINT32_TO_LE (vss_store_crc32_ieee (0, payload, len));
  g_byte_array_append (a, (const guint8 *) &v, 4);
  g_byte_array_append (a, payload, len);
  return a;
}

static void
expect_corrupt (VssStoreSpool * sp, guint64 seq)
{
  GError *e = NULL;

  g_assert_null (vss_store_spool_read (sp, seq, &e));
  g_assert_error (e, VSS_STORE_SPOOL_ERROR, VSS_STORE_SPOOL_ERROR_CORRUPT);
  g_clear_error (&e);
}

static void
test_spool_records (void)
{
  gchar *dir = g_dir_make_tmp ("test-spool-XXXXXX", NULL);
  GError *e = NULL;
  VssStoreSpool *sp = vss_store_spool_open (dir, 0, &e);
  struct iovec iov[3];
  guint64 seq, seq2;
  GBytes *rb;
  gchar *path, *c;
  gsize len;
  guint32 crc;

  g_assert_no_error (e);
  /* Pieces are written as their concatenation, checksummed with
   * CRC-32C in a version 3 header. */
  iov[0].iov_base = (void *) "1234";
  iov[0].iov_len = 4;
  iov[1].iov_base = NULL;
  iov[1].iov_len = 0;
  iov[2].iov_base = (void *) "56789";
  iov[2].iov_len = 5;
  g_assert_true (vss_store_spool_appendv (sp, iov, 3, TRUE, &seq, &e));
  g_assert_no_error (e);
  rb = vss_store_spool_read (sp, seq, &e);
  g_assert_no_error (e);
  g_assert_cmpmem (g_bytes_get_data (rb, NULL), g_bytes_get_size (rb),
      "123456789", 9);
  g_bytes_unref (rb);
  path = record_path (dir, seq);
  g_assert_true (g_file_get_contents (path, &c, &len, NULL));
  g_assert_cmpuint (len, ==, HEADER_LEN + 9);
  g_assert_cmpmem (c, 12, "VSSSPOOL\x03\0\0\0", 12);
  memcpy (&crc, c + 16, 4);
  g_assert_cmphex (GUINT32_FROM_LE (crc), ==, 0xE3069283);

  /* Any flipped byte (header or payload) is caught. */
  for (gsize i = 0; i < len; i++) {
    if (i >= 12 && i < 16)
      continue;                 /* the length: caught below, as truncation */
    c[i] ^= 0x20;
    g_assert_true (g_file_set_contents (path, c, len, NULL));
    expect_corrupt (sp, seq);
    c[i] ^= 0x20;
  }
  /* A length that does not match the file, a truncated or longer file. */
  c[12] ^= 1;
  g_assert_true (g_file_set_contents (path, c, len, NULL));
  expect_corrupt (sp, seq);
  c[12] ^= 1;
  for (gsize cut = 0; cut < len; cut++) {
    g_assert_true (g_file_set_contents (path, c, cut, NULL));
    expect_corrupt (sp, seq);
  }
  {
    gchar *longer = g_malloc (len + 1);

    memcpy (longer, c, len);
    longer[len] = 0;
    g_assert_true (g_file_set_contents (path, longer, len + 1, NULL));
    expect_corrupt (sp, seq);
    g_free (longer);
  }
  /* An unknown version is refused. */
  c[8] = 9;
  g_assert_true (g_file_set_contents (path, c, len, NULL));
  expect_corrupt (sp, seq);
  g_free (c);

  /* Version 2 (CRC-32) records of earlier builds are read. */
  {
    GBytes *x = g_bytes_new_static ("x", 1);

    g_assert_true (vss_store_spool_append (sp, x, FALSE, &seq2, &e));
    g_bytes_unref (x);
  }
  g_free (path);
  path = record_path (dir, seq2);
  {
    GByteArray *old = legacy_record ((const guint8 *) "old payload", 11);

    g_assert_true (g_file_set_contents (path, (gchar *) old->data, old->len,
            NULL));
    rb = vss_store_spool_read (sp, seq2, &e);
    g_assert_no_error (e);
    g_assert_cmpmem (g_bytes_get_data (rb, NULL), g_bytes_get_size (rb),
        "old payload", 11);
    g_bytes_unref (rb);
    old->data[old->len - 1] ^= 1;
    g_assert_true (g_file_set_contents (path, (gchar *) old->data, old->len,
            NULL));
    expect_corrupt (sp, seq2);
    g_byte_array_unref (old);
  }
  vss_store_spool_close (sp);
  g_free (path);
  rm_dir (dir);
  g_free (dir);
}

/* A journal segment left by a dead process: whole records come back as
 * spool records, in order, up to a torn tail; version 2 records too. */
static void
test_journal_recovery (void)
{
  gchar *dir = g_dir_make_tmp ("test-spool-XXXXXX", NULL);
  GError *e = NULL;
  VssStoreSpool *sp = vss_store_spool_open (dir, 0, &e);
  guint64 seg;
  gchar *seg_path, *c;
  gsize len;
  GArray *seqs;
  struct iovec iov[2];

  g_assert_no_error (e);
  for (guint i = 0; i < 3; i++) {
    gchar rec[16];

    g_snprintf (rec, sizeof rec, "record-%u", i);
    iov[0].iov_base = rec;
    iov[0].iov_len = 7;
    iov[1].iov_base = rec + 7;
    iov[1].iov_len = strlen (rec) - 7;
    g_assert_true (vss_store_spool_journal_appendv (sp, iov, 2, &seg, &e));
    g_assert_no_error (e);
  }
  vss_store_spool_close (sp);   /* as if killed: nothing was released */

  seg_path = g_strdup_printf ("%s/journal-%020" G_GUINT64_FORMAT ".jnl", dir,
      seg);
  g_assert_true (g_file_get_contents (seg_path, &c, &len, NULL));
  g_assert_cmpuint (len, ==, 3 * (HEADER_LEN + 8));
  /* Tear the last record, then add a version 2 segment after it, named as
   * earlier builds named them. */
  g_assert_true (g_file_set_contents (seg_path, c, len - 3, NULL));
  g_free (c);
  {
    GByteArray *old = legacy_record ((const guint8 *) "legacy", 6);
    gchar *p2 = g_strdup_printf ("%s/journal-%020" G_GUINT64_FORMAT ".log",
        dir, seg + 1);

    g_assert_true (g_file_set_contents (p2, (gchar *) old->data, old->len,
            NULL));
    g_byte_array_unref (old);
    g_free (p2);
  }
  sp = vss_store_spool_open (dir, 0, &e);
  g_assert_no_error (e);
  g_assert_cmpuint (vss_store_spool_get_recovered (sp), ==, 3);
  seqs = vss_store_spool_list (sp);
  g_assert_cmpuint (seqs->len, ==, 3);
  for (guint i = 0; i < 3; i++) {
    GBytes *b = vss_store_spool_read (sp, g_array_index (seqs, guint64, i), &e);
    const gchar *want[] = { "record-0", "record-1", "legacy" };

    g_assert_no_error (e);
    g_assert_cmpmem (g_bytes_get_data (b, NULL), g_bytes_get_size (b),
        want[i], strlen (want[i]));
    g_bytes_unref (b);
  }
  g_array_unref (seqs);
  g_assert_false (g_file_test (seg_path, G_FILE_TEST_EXISTS));
  vss_store_spool_close (sp);
  g_free (seg_path);
  rm_dir (dir);
  g_free (dir);
}

/* Whether segment @seg's file is there as a journal (".jnl") or a spare
 * (".tmp"). */
static gboolean
exists (const gchar * dir, const gchar * ext, guint64 seg)
{
  gchar *path = g_strdup_printf ("%s/journal-%020" G_GUINT64_FORMAT "%s",
      dir, seg, ext);
  gboolean ok = g_file_test (path, G_FILE_TEST_EXISTS);

  g_free (path);
  return ok;
}

#define LOG ".jnl"
#define SPARE ".tmp"
#define REC (1024 * 1024)

/* Released segments are recycled; what a recycled file held before is
 * never recovered. */
static void
test_journal_recycle (void)
{
  gchar *dir = g_dir_make_tmp ("test-spool-XXXXXX", NULL);
  GError *e = NULL;
  VssStoreSpool *sp = vss_store_spool_open (dir, 0, &e);
  guint8 *data = g_malloc (REC);
  guint64 segs[17];
  struct iovec iov;
  GArray *seqs;
  GBytes *b;
  gchar *path;
  GStatBuf st;

  g_assert_no_error (e);
  iov.iov_base = data;
  iov.iov_len = REC;
  /* 8 records of 1 MiB fill a segment (8 MiB): the ninth opens the next. */
  for (guint i = 0; i < 17; i++) {
    memset (data, 'a' + i, REC);
    g_assert_true (vss_store_spool_journal_appendv (sp, &iov, 1, &segs[i], &e));
    g_assert_no_error (e);
    g_assert_cmpuint (segs[i], ==, i / 8 + 1);
    if (i == 8) {
      /* Segment 1 is all stored: it becomes a spare. */
      for (guint k = 0; k < 8; k++)
        vss_store_spool_journal_release (sp, segs[k]);
      g_assert_false (exists (dir, LOG, 1));
      g_assert_true (exists (dir, SPARE, 1));
    }
  }
  /* Segment 3 was written into segment 1's file. */
  g_assert_false (exists (dir, SPARE, 1));
  g_assert_true (exists (dir, LOG, 3));
  path = g_strdup_printf ("%s/journal-%020u.jnl", dir, 3);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_size, >=, 8 * REC);
  g_free (path);
  for (guint k = 8; k < 16; k++)
    vss_store_spool_journal_release (sp, segs[k]);
  g_assert_true (exists (dir, SPARE, 2));
  vss_store_spool_close (sp);   /* killed with record 16 live */
  g_assert_false (exists (dir, SPARE, 2));

  sp = vss_store_spool_open (dir, 0, &e);
  g_assert_no_error (e);
  g_assert_cmpuint (vss_store_spool_get_recovered (sp), ==, 1);
  seqs = vss_store_spool_list (sp);
  g_assert_cmpuint (seqs->len, ==, 1);
  b = vss_store_spool_read (sp, g_array_index (seqs, guint64, 0), &e);
  g_assert_no_error (e);
  memset (data, 'a' + 16, REC);
  g_assert_cmpmem (g_bytes_get_data (b, NULL), g_bytes_get_size (b), data, REC);
  g_bytes_unref (b);
  g_array_unref (seqs);
  vss_store_spool_close (sp);
  g_free (data);
  rm_dir (dir);
  g_free (dir);
}

/* Issue 18, point 16: journal segments fit the spool's limit. With a
 * 1 MiB limit a segment takes at most an eighth of it (128 KiB), so that a
 * small spool folder (a 1 MiB filesystem) never holds an 8 MiB segment:
 * 64 KiB records go two to a segment, and a segment whose records are all
 * stored is deleted rather than kept as a spare. */
static void
test_journal_segment_size (void)
{
  gchar *dir = g_dir_make_tmp ("test-spool-XXXXXX", NULL);
  GError *e = NULL;
  VssStoreSpool *sp = vss_store_spool_open (dir, 1024 * 1024, &e);
  const gsize rec = 64 * 1024;
  guint8 *data = g_malloc0 (rec);
  guint64 segs[8];
  struct iovec iov;
  GStatBuf st;

  g_assert_no_error (e);
  iov.iov_base = data;
  iov.iov_len = rec;
  for (guint i = 0; i < G_N_ELEMENTS (segs); i++) {
    g_assert_true (vss_store_spool_journal_appendv (sp, &iov, 1, &segs[i], &e));
    g_assert_no_error (e);
    g_assert_cmpuint (segs[i], ==, i / 2 + 1);
  }
  for (guint i = 0; i < G_N_ELEMENTS (segs); i++) {
    gchar *path = g_strdup_printf ("%s/journal-%020" G_GUINT64_FORMAT ".jnl",
        dir, segs[i]);

    g_assert_cmpint (g_stat (path, &st), ==, 0);
    g_assert_cmpint (st.st_size, <=, 2 * (rec + HEADER_LEN));
    g_free (path);
  }
  for (guint i = 0; i < 4; i++)
    vss_store_spool_journal_release (sp, segs[i]);
  g_assert_false (exists (dir, ".jnl", 1));
  g_assert_false (exists (dir, ".tmp", 1));
  g_assert_false (exists (dir, ".tmp", 2));
  vss_store_spool_close (sp);
  g_free (data);
  rm_dir (dir);
  g_free (dir);
}

/* Issue 18, point 1: a folder names whom its records are for; another
 * owner is refused and the folder left as it is, unless it adopts; a
 * folder that names nobody (earlier builds) is taken as it always was. */
static void
test_owner (void)
{
  gchar *dir = g_dir_make_tmp ("test-spool-XXXXXX", NULL);
  gchar *named = g_build_filename (dir, "destination", NULL);
  GBytes *b = g_bytes_new_static ("rec", 3);
  VssStoreSpoolInfo info;
  VssStoreSpool *sp;
  GError *e = NULL;
  guint64 seg;
  gchar *c;

  sp = vss_store_spool_open_owned (dir, 0, "A", FALSE, &e);
  g_assert_no_error (e);
  g_assert_cmpuint (vss_store_spool_get_adopted (sp), ==, 0);
  g_assert_null (vss_store_spool_get_previous_owner (sp));
  g_assert_true (g_file_get_contents (named, &c, NULL, NULL));
  g_assert_cmpstr (c, ==, "A\n");
  g_free (c);
  g_assert_true (vss_store_spool_append (sp, b, TRUE, NULL, &e));
  g_assert_true (vss_store_spool_journal_append (sp, b, &seg, &e));
  /* Open: busy, its journal is not read. */
  g_assert_true (vss_store_spool_peek (dir, &info, &e));
  g_assert_true (info.busy);
  g_assert_cmpstr (info.owner, ==, "A");
  g_assert_cmpuint (info.n_records, ==, 1);
  g_assert_cmpuint (info.n_journal, ==, 0);
  vss_store_spool_info_clear (&info);
  vss_store_spool_close (sp);   /* killed: the journal record stays */

  g_assert_true (vss_store_spool_peek (dir, &info, &e));
  g_assert_false (info.busy);
  g_assert_cmpuint (info.n_records, ==, 1);
  g_assert_cmpuint (info.n_journal, ==, 1);
  vss_store_spool_info_clear (&info);

  /* Another owner: refused, nothing changed. */
  g_assert_null (vss_store_spool_open_owned (dir, 0, "B", FALSE, &e));
  g_assert_error (e, VSS_STORE_SPOOL_ERROR, VSS_STORE_SPOOL_ERROR_OTHER_OWNER);
  g_assert_nonnull (strstr (e->message, "2 records for A, not for B"));
  g_clear_error (&e);
  g_assert_true (vss_store_spool_peek (dir, &info, &e));
  g_assert_cmpstr (info.owner, ==, "A");
  g_assert_cmpuint (info.n_records, ==, 1);
  g_assert_cmpuint (info.n_journal, ==, 1);
  vss_store_spool_info_clear (&info);

  /* Adopted: the records are B's now. */
  sp = vss_store_spool_open_owned (dir, 0, "B", TRUE, &e);
  g_assert_no_error (e);
  g_assert_cmpuint (vss_store_spool_get_adopted (sp), ==, 2);
  g_assert_cmpstr (vss_store_spool_get_previous_owner (sp), ==, "A");
  g_assert_cmpuint (vss_store_spool_get_recovered (sp), ==, 1);
  {
    GArray *seqs = vss_store_spool_list (sp);

    g_assert_cmpuint (seqs->len, ==, 2);
    for (guint i = 0; i < seqs->len; i++)
      vss_store_spool_remove (sp, g_array_index (seqs, guint64, i));
    g_array_unref (seqs);
  }
  vss_store_spool_close (sp);

  /* Empty: any owner takes it. */
  sp = vss_store_spool_open_owned (dir, 0, "C", FALSE, &e);
  g_assert_no_error (e);
  g_assert_cmpuint (vss_store_spool_get_adopted (sp), ==, 0);
  g_assert_true (vss_store_spool_append (sp, b, TRUE, NULL, &e));
  vss_store_spool_close (sp);
  g_assert_true (g_file_get_contents (named, &c, NULL, NULL));
  g_assert_cmpstr (c, ==, "C\n");
  g_free (c);

  /* A folder that names nobody: its record is taken, and it is named. */
  g_assert_cmpint (g_unlink (named), ==, 0);
  sp = vss_store_spool_open_owned (dir, 0, "D", FALSE, &e);
  g_assert_no_error (e);
  g_assert_cmpuint (vss_store_spool_get_adopted (sp), ==, 1);
  g_assert_null (vss_store_spool_get_previous_owner (sp));
  vss_store_spool_close (sp);
  g_assert_true (g_file_get_contents (named, &c, NULL, NULL));
  g_assert_cmpstr (c, ==, "D\n");
  g_free (c);

  /* Without an owner, nothing is checked nor named. */
  sp = vss_store_spool_open (dir, 0, &e);
  g_assert_no_error (e);
  vss_store_spool_close (sp);
  g_assert_true (g_file_get_contents (named, &c, NULL, NULL));
  g_assert_cmpstr (c, ==, "D\n");
  g_free (c);

  g_bytes_unref (b);
  g_free (named);
  rm_dir (dir);
  g_free (dir);
}

/* vsssink frame records */

static VssSinkFrame *
make_frame (gboolean with_image)
{
  VssSinkFrame *f = vss_sink_frame_new ();
  guint8 *img = g_malloc (1000);
  gfloat vec[8];

  for (guint i = 0; i < 1000; i++)
    img[i] = (guint8) (i * 7);
  for (guint i = 0; i < G_N_ELEMENTS (vec); i++)
    vec[i] = 0.25f * i - 1;
  f->rec.id = g_strdup ("01KB1Z6Q3M4V5W6X7Y8Z9ABCDE");
  f->rec.stream = g_strdup ("cam-é1");
  f->key = g_strdup ("frame:cam-é1:01KB1Z6Q3M4V5W6X7Y8Z9ABCDE");
  f->object_key = g_strdup (with_image ? "cam/2026/12/01/x.jpg" : "");
  f->rec.uri = g_strdup (with_image ? "file:///srv/cam/2026/12/01/x.jpg" : "");
  f->content_type = g_strdup ("image/jpeg");
  f->rec.model = g_strdup ("local-v1");
  f->rec.ts_ms = G_GINT64_CONSTANT (1764547200123);
  f->rec.pts = -1;
  f->rec.size = 1000;
  f->rec.dedup_distance = 0.125;
  f->rec.has_dedup = TRUE;
  f->rec.vector = g_bytes_new (vec, sizeof vec);
  f->rec.source = g_strdup ("clip é.mkv");
  f->rec.position_ms = G_GINT64_CONSTANT (3723004);
  if (with_image)
    f->image = g_bytes_new_take (img, 1000);
  else
    g_free (img);
  f->object_done = !with_image;
  return f;
}

static void
assert_same_frame (const VssSinkFrame * a, const VssSinkFrame * b)
{
  g_assert_cmpstr (a->rec.id, ==, b->rec.id);
  g_assert_cmpstr (a->rec.stream, ==, b->rec.stream);
  g_assert_cmpstr (a->key, ==, b->key);
  g_assert_cmpstr (a->object_key, ==, b->object_key);
  g_assert_cmpstr (a->rec.uri, ==, b->rec.uri);
  g_assert_cmpstr (a->content_type, ==, b->content_type);
  g_assert_cmpstr (a->rec.model, ==, b->rec.model);
  g_assert_cmpint (a->rec.ts_ms, ==, b->rec.ts_ms);
  g_assert_cmpint (a->rec.pts, ==, b->rec.pts);
  g_assert_cmpuint (a->rec.size, ==, b->rec.size);
  g_assert_cmpfloat (a->rec.dedup_distance, ==, b->rec.dedup_distance);
  g_assert_cmpint (a->rec.has_dedup, ==, b->rec.has_dedup);
  g_assert_cmpint (a->object_done, ==, b->object_done);
  g_assert_cmpstr (a->rec.source, ==, b->rec.source);
  g_assert_cmpint (a->rec.position_ms, ==, b->rec.position_ms);
  g_assert_true (g_bytes_equal (a->rec.vector, b->rec.vector));
  if (a->image == NULL || b->image == NULL)
    g_assert_true (a->image == b->image);
  else
    g_assert_true (g_bytes_equal (a->image, b->image));
}

static VssSinkFrame *
decode (const guint8 * data, gsize len, GError ** error)
{
  GBytes *b = g_bytes_new (data, len);
  VssSinkFrame *f = vss_sink_frame_deserialize (b, error);

  g_bytes_unref (b);
  return f;
}

static void
expect_refused (const guint8 * data, gsize len)
{
  GError *e = NULL;

  g_assert_null (decode (data, len, &e));
  g_assert_error (e, VSS_STORE_SPOOL_ERROR, VSS_STORE_SPOOL_ERROR_CORRUPT);
  g_clear_error (&e);
}

static void
test_frame_record (void)
{
  for (guint with_image = 0; with_image < 2; with_image++) {
    VssSinkFrame *f = make_frame (with_image), *g;
    struct iovec iov[VSS_SINK_FRAME_N_IOV];
    guint8 *head = vss_sink_frame_to_iov (f, iov);
    GBytes *rec = vss_sink_frame_serialize (f);
    gsize len, off = 0;
    guint8 *d = g_bytes_unref_to_data (rec, &len);
    GError *e = NULL;

    /* The pieces point into the frame's own buffers. */
    g_assert_true (iov[1].iov_base == g_bytes_get_data (f->rec.vector, NULL));
    if (with_image)
      g_assert_true (iov[2].iov_base == g_bytes_get_data (f->image, NULL));
    else
      g_assert_cmpuint (iov[2].iov_len, ==, 0);
    for (guint i = 0; i < VSS_SINK_FRAME_N_IOV; i++) {
      g_assert_cmpmem (d + off, iov[i].iov_len, iov[i].iov_base,
          iov[i].iov_len);
      off += iov[i].iov_len;
    }
    g_assert_cmpuint (off, ==, len);
    g_free (head);

    g = decode (d, len, &e);
    g_assert_no_error (e);
    assert_same_frame (f, g);
    vss_sink_frame_free (g);

    /* Every shorter or longer record is refused. */
    for (gsize cut = 0; cut < len; cut++)
      expect_refused (d, cut);
    {
      guint8 *longer = g_malloc (len + 1);

      memcpy (longer, d, len);
      longer[len] = 0;
      expect_refused (longer, len + 1);
      g_free (longer);
    }
    /* Wrong lengths, flags, layout, strings. */
    for (guint at = 40; at < 80; at += 4) {
      d[at] ^= 1;
      expect_refused (d, len);
      d[at] ^= 1;
    }
    d[6] ^= 4;                  /* unknown flag */
    expect_refused (d, len);
    d[6] ^= 4;
    d[6] ^= 2;                  /* "object stored" disagrees with the image */
    expect_refused (d, len);
    d[6] ^= 2;
    d[4] = 3;                   /* layout 3 */
    g_assert_null (decode (d, len, &e));
    g_assert_error (e, VSS_STORE_SPOOL_ERROR, VSS_STORE_SPOOL_ERROR_CORRUPT);
    g_assert_nonnull (strstr (e->message, "layout 3"));
    g_clear_error (&e);
    d[4] = 1;                   /* layout 1 reads the lengths elsewhere */
    expect_refused (d, len);
    d[4] = 2;
    d[88] = 0;                  /* a NUL in the id */
    expect_refused (d, len);
    d[88] = 0xC3;               /* a broken UTF-8 sequence */
    expect_refused (d, len);
    d[88] = '0';
    g = decode (d, len, &e);
    g_assert_no_error (e);
    vss_sink_frame_free (g);

    g_free (d);
    vss_sink_frame_free (f);
  }
}

/* A record as layout 1 (builds before the source and position) wrote
 * it: seven strings, no position. */
static GBytes *
layout1_record (const VssSinkFrame * f)
{
  const gchar *str[7] = { f->rec.id, f->rec.stream, f->key, f->object_key,
    f->rec.uri, f->content_type, f->rec.model
  };
  GByteArray *a = g_byte_array_new ();
  guint8 head[76];
  guint16 v16;
  guint32 v32;
  guint64 v64;
  gsize vlen, ilen = 0;
  const guint8 *vec = g_bytes_get_data (f->rec.vector, &vlen);
  const guint8 *img = f->image ? g_bytes_get_data (f->image, &ilen) : NULL;

  memcpy (head, "VSSF", 4);
  v16 = GUINT16_TO_LE (1);
  memcpy (head + 4, &v16, 2);
  v16 = GUINT16_TO_LE ((f->rec.has_dedup ? 1 : 0) | (img ? 0 : 2));
  memcpy (head + 6, &v16, 2);
  v64 = GUINT64_TO_LE ((guint64) f->rec.ts_ms);
  memcpy (head + 8, &v64, 8);
  v64 = GUINT64_TO_LE ((guint64) f->rec.pts);
  memcpy (head + 16, &v64, 8);
  v64 = GUINT64_TO_LE (f->rec.size);
  memcpy (head + 24, &v64, 8);
  memcpy (&v64, &f->rec.dedup_distance, 8);
  v64 = GUINT64_TO_LE (v64);
  memcpy (head + 32, &v64, 8);
  for (guint i = 0; i < 7; i++) {
    v32 = GUINT32_TO_LE ((guint32) strlen (str[i]));
    memcpy (head + 40 + 4 * i, &v32, 4);
  }
  v32 = GUINT32_TO_LE ((guint32) vlen);
  memcpy (head + 68, &v32, 4);
  v32 = GUINT32_TO_LE ((guint32) ilen);
  memcpy (head + 72, &v32, 4);
  g_byte_array_append (a, head, sizeof head);
  for (guint i = 0; i < 7; i++)
    g_byte_array_append (a, (const guint8 *) str[i], strlen (str[i]));
  g_byte_array_append (a, vec, vlen);
  if (img)
    g_byte_array_append (a, img, ilen);
  return g_byte_array_free_to_bytes (a);
}

/* Records of layout 1 still decode, without a source nor a position. */
static void
test_frame_record_layout1 (void)
{
  for (guint with_image = 0; with_image < 2; with_image++) {
    VssSinkFrame *f = make_frame (with_image), *g;
    GBytes *b = layout1_record (f);
    GError *e = NULL;

    g = vss_sink_frame_deserialize (b, &e);
    g_assert_no_error (e);
    g_clear_pointer (&f->rec.source, g_free);
    f->rec.position_ms = -1;
    assert_same_frame (f, g);
    vss_sink_frame_free (g);
    g_bytes_unref (b);
    vss_sink_frame_free (f);
  }
}

/* Records of builds before layout 1 (a GVariant) still decode. */
static void
test_frame_record_legacy (void)
{
  VssSinkFrame *f = make_frame (TRUE), *g;
  GVariant *v =
      g_variant_new ("(sssssssxxtdbb@ay@ay)", f->rec.id, f->rec.stream,
      f->key, f->object_key, f->rec.uri, f->content_type, f->rec.model,
      f->rec.ts_ms,
      f->rec.pts, f->rec.size, f->rec.dedup_distance, f->rec.has_dedup,
      f->object_done,
      g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, f->rec.vector, TRUE),
      g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, f->image, TRUE));
  GBytes *b;
  GError *e = NULL;

  g_variant_ref_sink (v);
  b = g_variant_get_data_as_bytes (v);
  /* Those builds knew neither the source nor the position. */
  g_clear_pointer (&f->rec.source, g_free);
  f->rec.position_ms = -1;
  g = vss_sink_frame_deserialize (b, &e);
  g_assert_no_error (e);
  assert_same_frame (f, g);
  vss_sink_frame_free (g);
  g_variant_unref (v);
  /* And as a whole: a version 2 spool file holding a GVariant frame, as
   * earlier builds left them, reads back as the frame. */
  {
    gchar *dir = g_dir_make_tmp ("test-spool-XXXXXX", NULL);
    VssStoreSpool *sp = vss_store_spool_open (dir, 0, &e);
    GBytes *x = g_bytes_new_static ("x", 1), *rb;
    GByteArray *old = legacy_record (g_bytes_get_data (b, NULL),
        g_bytes_get_size (b));
    gchar *path;
    guint64 seq;

    g_assert_no_error (e);
    g_assert_true (vss_store_spool_append (sp, x, FALSE, &seq, &e));
    path = record_path (dir, seq);
    g_assert_true (g_file_set_contents (path, (gchar *) old->data, old->len,
            NULL));
    rb = vss_store_spool_read (sp, seq, &e);
    g_assert_no_error (e);
    g = vss_sink_frame_deserialize (rb, &e);
    g_assert_no_error (e);
    assert_same_frame (f, g);
    vss_sink_frame_free (g);
    g_bytes_unref (rb);
    g_bytes_unref (x);
    g_byte_array_unref (old);
    g_free (path);
    vss_store_spool_close (sp);
    rm_dir (dir);
    g_free (dir);
  }
  /* Garbage that is neither layout is refused. */
  expect_refused ((const guint8 *) "0123456789", 10);
  expect_refused ((const guint8 *) "", 0);
  g_bytes_unref (b);
  vss_sink_frame_free (f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/spool/crc/vectors", test_crc_vectors);
  g_test_add_func ("/spool/crc/agree", test_crc_agree);
  g_test_add_func ("/spool/records", test_spool_records);
  g_test_add_func ("/spool/journal-recovery", test_journal_recovery);
  g_test_add_func ("/spool/journal-recycle", test_journal_recycle);
  g_test_add_func ("/spool/journal-segment-size", test_journal_segment_size);
  g_test_add_func ("/spool/owner", test_owner);
  g_test_add_func ("/spool/frame-record", test_frame_record);
  g_test_add_func ("/spool/frame-record-layout1", test_frame_record_layout1);
  g_test_add_func ("/spool/frame-record-legacy", test_frame_record_legacy);
  return g_test_run ();
}
