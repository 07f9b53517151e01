/* gst-vss: vsssink frames and their spool records
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A record is written from its pieces (vss_sink_frame_to_iov()): a small
 * head built here, then the vector and the image straight from the
 * frame's buffers, so that journaling a frame copies nothing but the
 * head. All integers are little-endian:
 *
 *   0  "VSSF"                       magic
 *   4  u16 layout version (2)
 *   6  u16 flags                    1: has dedup distance, 2: object stored
 *   8  i64 ts_ms, i64 pts, u64 size, f64 dedup_distance (IEEE 754 bits)
 *  40  u32 lengths of id, stream, key, object_key, uri, content_type,
 *      model, source
 *  72  u32 vector bytes, u32 image bytes
 *  80  i64 position_ms (-1: unknown)
 *  88  the eight strings (UTF-8, no NUL), the vector, the image
 *
 * Layout 1 (earlier builds) is the same without source and position_ms:
 * seven string lengths at 40, the vector and image lengths at 68, the
 * strings from 76. It is still read, the two fields unknown.
 *
 * Reading checks the whole shape (lengths add up to the record, strings
 * are UTF-8, no unknown flag or version) on top of the spool's checksum.
 * Records that do not start with the magic are read as the GVariant
 * "(sssssssxxtdbbayay)" that builds before layout 1 wrote (their first
 * byte is a frame id's first character, a digit): spools and journals
 * left by those builds are replayed.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include "gstvsssinkrecord.h"
#include "store/gstvssstorespool.h"

#define MAGIC "VSSF"
#define LAYOUT_VERSION 2
#define FLAG_HAS_DEDUP 1u
#define FLAG_OBJECT_DONE 2u
/* Strings of the current layout; layout 1 has all but the last. */
#define N_STRINGS 8
#define N_STRINGS_V1 7
#define HEAD_FIXED (8 + 32 + 4 * N_STRINGS + 8 + 8)
#define HEAD_FIXED_V1 (8 + 32 + 4 * N_STRINGS_V1 + 8)

#define LEGACY_TYPE "(sssssssxxtdbbayay)"

VssSinkFrame *
vss_sink_frame_new (void)
{
  VssSinkFrame *f = g_new0 (VssSinkFrame, 1);

  gst_vss_record_init (&f->rec);
  return f;
}

void
vss_sink_frame_free (VssSinkFrame * f)
{
  if (f == NULL)
    return;
  gst_vss_record_clear (&f->rec);
  g_free (f->key);
  g_free (f->object_key);
  g_free (f->content_type);
  if (f->image)
    g_bytes_unref (f->image);
  g_free (f);
}

static void
put_u16 (guint8 * p, guint16 v)
{
  v = GUINT16_TO_LE (v);
  memcpy (p, &v, 2);
}

static void
put_u32 (guint8 * p, guint32 v)
{
  v = GUINT32_TO_LE (v);
  memcpy (p, &v, 4);
}

static void
put_u64 (guint8 * p, guint64 v)
{
  v = GUINT64_TO_LE (v);
  memcpy (p, &v, 8);
}

static guint16
get_u16 (const guint8 * p)
{
  guint16 v;

  memcpy (&v, p, 2);
  return GUINT16_FROM_LE (v);
}

static guint32
get_u32 (const guint8 * p)
{
  guint32 v;

  memcpy (&v, p, 4);
  return GUINT32_FROM_LE (v);
}

static guint64
get_u64 (const guint8 * p)
{
  guint64 v;

  memcpy (&v, p, 8);
  return GUINT64_FROM_LE (v);
}

static void
frame_strings (const VssSinkFrame * f, const gchar * s[N_STRINGS])
{
  s[0] = f->rec.id;
  s[1] = f->rec.stream;
  s[2] = f->key;
  s[3] = f->object_key;
  s[4] = f->rec.uri;
  s[5] = f->content_type;
  s[6] = f->rec.model;
  s[7] = f->rec.source;
}

/**
 * vss_sink_frame_to_iov:
 * @iov: (out): the record's pieces, valid while @frame and the returned
 *   head are
 *
 * Returns: (transfer full): the head (iov[0]), to g_free() once written.
 */
guint8 *
vss_sink_frame_to_iov (const VssSinkFrame * f,
    struct iovec iov[VSS_SINK_FRAME_N_IOV])
{
  const gchar *s[N_STRINGS];
  gsize slen[N_STRINGS], total = HEAD_FIXED, vlen = 0, ilen = 0;
  const void *vdata = NULL, *idata = NULL;
  guint16 flags = 0;
  guint64 bits;
  guint8 *head, *p;

  frame_strings (f, s);
  for (guint i = 0; i < N_STRINGS; i++) {
    slen[i] = s[i] ? strlen (s[i]) : 0;
    total += slen[i];
  }
  if (f->rec.vector)
    vdata = g_bytes_get_data (f->rec.vector, &vlen);
  if (!f->object_done && f->image)
    idata = g_bytes_get_data (f->image, &ilen);
  if (f->rec.has_dedup)
    flags |= FLAG_HAS_DEDUP;
  if (ilen == 0)
    flags |= FLAG_OBJECT_DONE;

  head = p = g_malloc (total);
  memcpy (p, MAGIC, 4);
  put_u16 (p + 4, LAYOUT_VERSION);
  put_u16 (p + 6, flags);
  put_u64 (p + 8, (guint64) f->rec.ts_ms);
  put_u64 (p + 16, (guint64) f->rec.pts);
  put_u64 (p + 24, f->rec.size);
  memcpy (&bits, &f->rec.dedup_distance, 8);
  put_u64 (p + 32, bits);
  for (guint i = 0; i < N_STRINGS; i++)
    put_u32 (p + 40 + 4 * i, (guint32) slen[i]);
  put_u32 (p + 72, (guint32) vlen);
  put_u32 (p + 76, (guint32) ilen);
  put_u64 (p + 80, (guint64) f->rec.position_ms);
  p += HEAD_FIXED;
  for (guint i = 0; i < N_STRINGS; i++) {
    if (slen[i])
      memcpy (p, s[i], slen[i]);
    p += slen[i];
  }
  iov[0].iov_base = head;
  iov[0].iov_len = total;
  iov[1].iov_base = (void *) vdata;
  iov[1].iov_len = vlen;
  iov[2].iov_base = (void *) idata;
  iov[2].iov_len = ilen;
  return head;
}

/**
 * vss_sink_frame_serialize:
 *
 * Returns: (transfer full): the record of vss_sink_frame_to_iov() in one
 * piece.
 */
GBytes *
vss_sink_frame_serialize (const VssSinkFrame * f)
{
  struct iovec iov[VSS_SINK_FRAME_N_IOV];
  guint8 *head = vss_sink_frame_to_iov (f, iov);
  gsize len = 0;
  guint8 *out, *p;

  for (guint i = 0; i < VSS_SINK_FRAME_N_IOV; i++)
    len += iov[i].iov_len;
  out = p = g_malloc (len);
  for (guint i = 0; i < VSS_SINK_FRAME_N_IOV; i++) {
    if (iov[i].iov_len)
      memcpy (p, iov[i].iov_base, iov[i].iov_len);
    p += iov[i].iov_len;
  }
  g_free (head);
  return g_bytes_new_take (out, len);
}

static VssSinkFrame *
deserialize_legacy (GBytes * bytes, GError ** error)
{
  GVariant *v = g_variant_new_from_bytes (G_VARIANT_TYPE (LEGACY_TYPE),
      bytes, FALSE);
  VssSinkFrame *f;
  GVariant *vec, *img;

  g_variant_ref_sink (v);
  if (!g_variant_is_normal_form (v)) {
    g_variant_unref (v);
    g_set_error (error, VSS_STORE_SPOOL_ERROR, VSS_STORE_SPOOL_ERROR_CORRUPT,
        "Spool record is not a vsssink frame");
    return NULL;
  }
  f = vss_sink_frame_new ();
  g_variant_get (v, "(sssssssxxtdbb@ay@ay)", &f->rec.id, &f->rec.stream,
      &f->key, &f->object_key, &f->rec.uri, &f->content_type, &f->rec.model,
      &f->rec.ts_ms, &f->rec.pts, &f->rec.size, &f->rec.dedup_distance,
      &f->rec.has_dedup, &f->object_done, &vec, &img);
  f->rec.vector = g_variant_get_data_as_bytes (vec);
  if (!f->object_done && g_variant_n_children (img) > 0)
    f->image = g_variant_get_data_as_bytes (img);
  else
    f->object_done = TRUE;
  g_variant_unref (vec);
  g_variant_unref (img);
  g_variant_unref (v);
  return f;
}

/**
 * vss_sink_frame_deserialize:
 *
 * Reads layout 2, layout 1 (no source nor position) and the GVariant of
 * earlier builds.
 *
 * Returns: (transfer full): the frame (its vector and image point into
 * @bytes), or NULL with a %VSS_STORE_SPOOL_ERROR_CORRUPT @error saying what is
 * wrong.
 */
VssSinkFrame *
vss_sink_frame_deserialize (GBytes * bytes, GError ** error)
{
  gsize len;
  const guint8 *p = g_bytes_get_data (bytes, &len);
  gchar **s[N_STRINGS];
  guint64 need, off, bits;
  guint32 slen[N_STRINGS], vlen, ilen;
  guint16 version, flags;
  guint n_strings, head;
  VssSinkFrame *f;

  if (len < 4 || memcmp (p, MAGIC, 4) != 0)
    return deserialize_legacy (bytes, error);
  if (len < 8)
    goto truncated;
  version = get_u16 (p + 4);
  flags = get_u16 (p + 6);
  if (version != LAYOUT_VERSION && version != 1) {
    g_set_error (error, VSS_STORE_SPOOL_ERROR, VSS_STORE_SPOOL_ERROR_CORRUPT,
        "Spool record has frame layout %u; this build reads layouts 1 and %u "
        "(written by a newer gst-vss?)", version, LAYOUT_VERSION);
    return NULL;
  }
  n_strings = version == 1 ? N_STRINGS_V1 : N_STRINGS;
  head = version == 1 ? HEAD_FIXED_V1 : HEAD_FIXED;
  if (len < head)
    goto truncated;
  if (flags & ~(FLAG_HAS_DEDUP | FLAG_OBJECT_DONE))
    goto bad;
  need = head;
  for (guint i = 0; i < n_strings; i++) {
    slen[i] = get_u32 (p + 40 + 4 * i);
    need += slen[i];
  }
  vlen = get_u32 (p + 40 + 4 * n_strings);
  ilen = get_u32 (p + 44 + 4 * n_strings);
  need += (guint64) vlen + ilen;
  if (need > len)
    goto truncated;
  if (need < len || vlen % 4 != 0
      || ((flags & FLAG_OBJECT_DONE) != 0) != (ilen == 0))
    goto bad;
  off = head;
  for (guint i = 0; i < n_strings; i++) {
    if (!g_utf8_validate_len ((const gchar *) p + off, slen[i], NULL))
      goto bad;
    off += slen[i];
  }

  f = vss_sink_frame_new ();
  s[0] = &f->rec.id;
  s[1] = &f->rec.stream;
  s[2] = &f->key;
  s[3] = &f->object_key;
  s[4] = &f->rec.uri;
  s[5] = &f->content_type;
  s[6] = &f->rec.model;
  s[7] = &f->rec.source;
  off = head;
  for (guint i = 0; i < n_strings; i++) {
    *s[i] = g_strndup ((const gchar *) p + off, slen[i]);
    off += slen[i];
  }
  /* An empty source is no source, as in the HASH. */
  if (f->rec.source && f->rec.source[0] == '\0')
    g_clear_pointer (&f->rec.source, g_free);
  f->rec.ts_ms = (gint64) get_u64 (p + 8);
  f->rec.pts = (gint64) get_u64 (p + 16);
  f->rec.size = get_u64 (p + 24);
  bits = get_u64 (p + 32);
  memcpy (&f->rec.dedup_distance, &bits, 8);
  if (version >= 2)
    f->rec.position_ms = MAX ((gint64) get_u64 (p + 80), -1);
  f->rec.has_dedup = (flags & FLAG_HAS_DEDUP) != 0;
  f->object_done = (flags & FLAG_OBJECT_DONE) != 0;
  f->rec.vector = g_bytes_new_from_bytes (bytes, off, vlen);
  off += vlen;
  if (ilen > 0)
    f->image = g_bytes_new_from_bytes (bytes, off, ilen);
  return f;

  /* ERRORS */
truncated:
  {
    g_set_error (error, VSS_STORE_SPOOL_ERROR, VSS_STORE_SPOOL_ERROR_CORRUPT,
        "Spool record is truncated (%" G_GSIZE_FORMAT " bytes)", len);
    return NULL;
  }
bad:
  {
    g_set_error (error, VSS_STORE_SPOOL_ERROR, VSS_STORE_SPOOL_ERROR_CORRUPT,
        "Spool record is not a well-formed vsssink frame");
    return NULL;
  }
}
