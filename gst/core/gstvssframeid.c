/* gst-vss: frame identity
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Locking: `id_lock` guards `last_ms` and `last_rand`, the state that makes
 * ids created in one millisecond strictly increasing. It is a leaf lock.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include "gstvssframeid.h"

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static GMutex id_lock;
static guint64 last_ms;
static guint16 last_rand_hi;    /* 16 high bits of the 80 random bits */
static guint64 last_rand_lo;    /* 64 low bits */
static gboolean have_last;

static void
random_bits (guint16 * hi, guint64 * lo)
{
  /* GLib's global generator is seeded from /dev/urandom, so two processes
   * started in the same millisecond still draw different bits. */
  *hi = (guint16) g_random_int ();
  *lo = ((guint64) g_random_int () << 32) | g_random_int ();
}

static void
encode (guint64 ms, guint16 hi, guint64 lo, gchar out[GST_VSS_FRAME_ID_SIZE])
{
  gint i;

  /* 48-bit time: 10 characters (50 bits, the top 2 always zero). */
  for (i = 9; i >= 0; i--) {
    out[i] = crockford[ms & 31];
    ms >>= 5;
  }
  /* 80 random bits: 16 characters. */
  for (i = 25; i >= 10; i--) {
    out[i] = crockford[lo & 31];
    lo = (lo >> 5) | ((guint64) (hi & 31) << 59);
    hi >>= 5;
  }
  out[GST_VSS_FRAME_ID_LEN] = '\0';
}

/**
 * gst_vss_frame_id_new:
 * @capture_time_us: capture time in microseconds since the unix epoch, or a
 *   negative value for "now"
 * @out: where to write the id and its terminating NUL
 *
 * Creates a new frame id. Ids created by one process for the same millisecond
 * are strictly increasing; across processes they are unique with 80 random
 * bits. Thread-safe.
 */
void
gst_vss_frame_id_new (gint64 capture_time_us, gchar out[GST_VSS_FRAME_ID_SIZE])
{
  guint64 ms;
  guint16 hi;
  guint64 lo;

  if (capture_time_us < 0)
    capture_time_us = g_get_real_time ();
  ms = (guint64) (capture_time_us / 1000) & G_GUINT64_CONSTANT (0xFFFFFFFFFFFF);

  g_mutex_lock (&id_lock);
  if (have_last && ms == last_ms) {
    /* Same millisecond: increment so that ids stay unique and ordered. On the
     * (2^80 per ms) overflow, borrow the next millisecond. */
    hi = last_rand_hi;
    lo = last_rand_lo + 1;
    if (lo == 0) {
      hi++;
      if (hi == 0)
        ms++;
    }
  } else {
    random_bits (&hi, &lo);
    /* Leave headroom for increments within one millisecond. */
    hi &= 0x7FFF;
  }
  last_ms = ms;
  last_rand_hi = hi;
  last_rand_lo = lo;
  have_last = TRUE;
  g_mutex_unlock (&id_lock);

  encode (ms, hi, lo, out);
}

/**
 * gst_vss_frame_id_for_position:
 * @capture_time_ms: the frame's capture time, unix milliseconds
 * @source: what identifies the source (for a file: its path, size and
 *   modification time), so that two sources never share ids
 * @position: the frame's position in the source, nanoseconds
 * @out: where to write the id and its terminating NUL
 *
 * The id of the frame at @position of @source: the same arguments always
 * give the same id, so a frame taken from a file again (a rerun after a
 * kill) is stored under the key and object it had, and storing it again
 * changes nothing. The 80 low bits are the first bits of
 * SHA-256(source NUL position), so ids of different frames
 * collide no more often than random ones; the time part keeps them sorted
 * by capture time.
 */
void
gst_vss_frame_id_for_position (gint64 capture_time_ms, const gchar * source,
    guint64 position, gchar out[GST_VSS_FRAME_ID_SIZE])
{
  GChecksum *sum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 digest[32];
  gsize len = sizeof digest;
  guint64 pos_le = GUINT64_TO_LE (position), lo = 0;
  guint64 ms = (guint64) MAX (capture_time_ms, 0) &
      G_GUINT64_CONSTANT (0xFFFFFFFFFFFF);
  guint16 hi;
  gint i;

  g_checksum_update (sum, (const guchar *) source, strlen (source) + 1);
  g_checksum_update (sum, (const guchar *) &pos_le, sizeof pos_le);
  g_checksum_get_digest (sum, digest, &len);
  g_checksum_free (sum);
  hi = (guint16) ((digest[0] << 8) | digest[1]);
  for (i = 2; i < 10; i++)
    lo = (lo << 8) | digest[i];
  encode (ms, hi, lo, out);
}

gboolean
gst_vss_frame_id_is_valid (const gchar * id)
{
  gint i;

  if (id == NULL || strlen (id) != GST_VSS_FRAME_ID_LEN)
    return FALSE;
  /* The first character holds only 3 bits of the 48-bit time. */
  if (id[0] > '7')
    return FALSE;
  for (i = 0; i < GST_VSS_FRAME_ID_LEN; i++)
    if (strchr (crockford, id[i]) == NULL || id[i] == '\0')
      return FALSE;
  return TRUE;
}

/**
 * gst_vss_frame_id_get_time_ms:
 * @id: a frame id
 * @unix_ms: (out): the capture time in unix milliseconds
 *
 * Returns: %FALSE when @id is not a valid frame id.
 */
gboolean
gst_vss_frame_id_get_time_ms (const gchar * id, gint64 * unix_ms)
{
  guint64 ms = 0;
  gint i;

  if (!gst_vss_frame_id_is_valid (id))
    return FALSE;
  for (i = 0; i < 10; i++)
    ms = (ms << 5) | (guint64) (strchr (crockford, id[i]) - crockford);
  *unix_ms = (gint64) ms;
  return TRUE;
}
