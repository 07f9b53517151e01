/* gst-vss: CRC-32C (Castagnoli) and CRC-32 (IEEE 802.3) checksums
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The spool checksums every frame on vsssink's streaming thread, so the
 * checksum must cost far less than the write it protects: CRC-32C has an
 * instruction on x86-64 (SSE4.2, about 8 bytes every 3 cycles), chosen
 * once at run time; elsewhere both polynomials use the same slicing-by-8
 * tables (reflected, as zlib and iSCSI do). CRC-32 (IEEE) stays for
 * records written before the spool moved to CRC-32C.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include "gstvsscrc.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_X86_CRC32C 1
#include <nmmintrin.h>
#endif

#define POLY_CRC32C 0x82F63B78u
#define POLY_CRC32 0xEDB88320u

typedef guint32 (*CrcFunc) (guint32 crc, const guint8 * p, gsize len);

static guint32 table_crc32c[8][256];
static guint32 table_crc32[8][256];

static void
fill_table (guint32 t[8][256], guint32 poly)
{
  for (guint i = 0; i < 256; i++) {
    guint32 c = i;

    for (guint k = 0; k < 8; k++)
      c = c & 1 ? poly ^ (c >> 1) : c >> 1;
    t[0][i] = c;
  }
  for (guint i = 0; i < 256; i++)
    for (guint s = 1; s < 8; s++)
      t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
}

/* On the pre-inverted register @c. */
static guint32
slice8 (guint32 t[8][256], guint32 c, const guint8 * p, gsize len)
{
  while (len >= 8) {
    guint32 lo = c ^ ((guint32) p[0] | (guint32) p[1] << 8 |
        (guint32) p[2] << 16 | (guint32) p[3] << 24);
    guint32 hi = (guint32) p[4] | (guint32) p[5] << 8 |
        (guint32) p[6] << 16 | (guint32) p[7] << 24;

    c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff]
        ^ t[4][lo >> 24] ^ t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff]
        ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
    p += 8;
    len -= 8;
  }
  while (len--)
    c = t[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return c;
}

static guint32
crc32c_table (guint32 c, const guint8 * p, gsize len)
{
  return slice8 (table_crc32c, c, p, len);
}

#ifdef HAVE_X86_CRC32C
__attribute__((target ("sse4.2")))
static guint32
crc32c_sse42 (guint32 c, const guint8 * p, gsize len)
{
  guint64 c64;

  while (len > 0 && ((guintptr) p & 7) != 0) {
    c = _mm_crc32_u8 (c, *p++);
    len--;
  }
  c64 = c;
  while (len >= 8) {
    guint64 v;

    memcpy (&v, p, 8);
    c64 = _mm_crc32_u64 (c64, v);
    p += 8;
    len -= 8;
  }
  c = (guint32) c64;
  while (len--)
    c = _mm_crc32_u8 (c, *p++);
  return c;
}
#endif

static CrcFunc crc32c_impl;

static gpointer
crc_init (gpointer unused)
{
  fill_table (table_crc32c, POLY_CRC32C);
  fill_table (table_crc32, POLY_CRC32);
  crc32c_impl = crc32c_table;
#ifdef HAVE_X86_CRC32C
  __builtin_cpu_init ();
  if (__builtin_cpu_supports ("sse4.2"))
    crc32c_impl = crc32c_sse42;
#endif
  return NULL;
}

static inline void
ensure_init (void)
{
  static GOnce once = G_ONCE_INIT;

  g_once (&once, crc_init, NULL);
}

guint32
vss_crc32c (guint32 crc, gconstpointer data, gsize len)
{
  ensure_init ();
  return ~crc32c_impl (~crc, data, len);
}

guint32
vss_crc32c_portable (guint32 crc, gconstpointer data, gsize len)
{
  ensure_init ();
  return ~crc32c_table (~crc, data, len);
}

gboolean
vss_crc32c_is_accelerated (void)
{
  ensure_init ();
  return crc32c_impl != crc32c_table;
}

guint32
vss_crc32 (guint32 crc, gconstpointer data, gsize len)
{
  ensure_init ();
  return ~slice8 (table_crc32, ~crc, data, len);
}
