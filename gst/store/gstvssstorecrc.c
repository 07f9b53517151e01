/* gst-vss: CRC-32C (Castagnoli) and CRC-32 (IEEE 802.3) checksums
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The spool checksums every frame on vsssink's streaming thread, so the
 * checksum must cost far less than the write it protects: CRC-32C has an
 * instruction on x86-64 (SSE4.2), chosen once at run time; elsewhere both
 * polynomials use the same slicing-by-8 tables (reflected, as zlib and
 * iSCSI do). CRC-32 (IEEE) stays for records written before the spool
 * moved to CRC-32C.
 *
 * The instruction has a latency of 3 cycles and a throughput of 1, so
 * long buffers are checksummed as three interleaved streams whose CRCs
 * are then combined: a CRC is moved past n zero bytes by a linear
 * operator over GF(2), precomputed as four byte tables for the two block
 * lengths used (the method of zlib's crc32_combine and of Mark Adler's
 * crc32c.c).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include "gstvssstorecrc.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_X86_CRC32C 1
#include <nmmintrin.h>
#endif

#define POLY_CRC32C 0x82F63B78u
#define POLY_CRC32 0xEDB88320u

typedef guint32 (*CrcFunc) (guint32 crc, const guint8 * p, gsize len);

static guint32 table_crc32c[8][256];
static guint32 table_crc32[8][256];

/* Interleaved block lengths (powers of two) and their shift tables. */
#define LONG_BLOCK 8192
#define SHORT_BLOCK 256
static guint32 shift_long[4][256];
static guint32 shift_short[4][256];

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

/* GF(2) 32x32 matrices as 32 columns. */
static guint32
gf2_times (const guint32 mat[32], guint32 vec)
{
  guint32 sum = 0;

  for (guint i = 0; vec; i++, vec >>= 1)
    if (vec & 1)
      sum ^= mat[i];
  return sum;
}

static void
gf2_square (guint32 square[32], const guint32 mat[32])
{
  for (guint i = 0; i < 32; i++)
    square[i] = gf2_times (mat, mat[i]);
}

/* The tables that move a (pre-inverted) CRC-32C register past @len zero
 * bytes; @len a power of two, at least 1. */
static void
fill_shift (guint32 t[4][256], gsize len)
{
  guint32 op[32], sq[32];

  /* One zero bit, then squared three times: one zero byte. */
  op[0] = POLY_CRC32C;
  for (guint i = 1; i < 32; i++)
    op[i] = 1u << (i - 1);
  for (guint k = 0; k < 3; k++) {
    gf2_square (sq, op);
    memcpy (op, sq, sizeof op);
  }
  for (; len > 1; len >>= 1) {
    gf2_square (sq, op);
    memcpy (op, sq, sizeof op);
  }
  for (guint n = 0; n < 256; n++)
    for (guint b = 0; b < 4; b++)
      t[b][n] = gf2_times (op, (guint32) n << (8 * b));
}

static inline guint32
shift (guint32 t[4][256], guint32 c)
{
  return t[0][c & 0xff] ^ t[1][(c >> 8) & 0xff] ^ t[2][(c >> 16) & 0xff]
      ^ t[3][c >> 24];
}

#ifdef HAVE_X86_CRC32C
__attribute__((target ("sse4.2")))
     static guint64
         sse42_three (guint64 c0, const guint8 * p, gsize block,
    guint32 t[4][256])
{
  guint64 c1 = 0, c2 = 0, v0, v1, v2;

  for (gsize i = 0; i < block; i += 8) {
    memcpy (&v0, p + i, 8);
    memcpy (&v1, p + block + i, 8);
    memcpy (&v2, p + 2 * block + i, 8);
    c0 = _mm_crc32_u64 (c0, v0);
    c1 = _mm_crc32_u64 (c1, v1);
    c2 = _mm_crc32_u64 (c2, v2);
  }
  c0 = shift (t, (guint32) c0) ^ (guint32) c1;
  return shift (t, (guint32) c0) ^ (guint32) c2;
}

__attribute__((target ("sse4.2")))
     static guint32 crc32c_sse42 (guint32 c, const guint8 * p, gsize len)
{
  guint64 c64;

  while (len > 0 && ((guintptr) p & 7) != 0) {
    c = _mm_crc32_u8 (c, *p++);
    len--;
  }
  c64 = c;
  for (; len >= 3 * LONG_BLOCK; p += 3 * LONG_BLOCK, len -= 3 * LONG_BLOCK)
    c64 = sse42_three (c64, p, LONG_BLOCK, shift_long);
  for (; len >= 3 * SHORT_BLOCK; p += 3 * SHORT_BLOCK, len -= 3 * SHORT_BLOCK)
    c64 = sse42_three (c64, p, SHORT_BLOCK, shift_short);
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
  fill_shift (shift_long, LONG_BLOCK);
  fill_shift (shift_short, SHORT_BLOCK);
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
vss_store_crc32c (guint32 crc, gconstpointer data, gsize len)
{
  ensure_init ();
  return ~crc32c_impl (~crc, data, len);
}

guint32
vss_store_crc32c_portable (guint32 crc, gconstpointer data, gsize len)
{
  ensure_init ();
  return ~crc32c_table (~crc, data, len);
}

gboolean
vss_store_crc32c_is_accelerated (void)
{
  ensure_init ();
  return crc32c_impl != crc32c_table;
}

guint32
vss_store_crc32_ieee (guint32 crc, gconstpointer data, gsize len)
{
  ensure_init ();
  return ~slice8 (table_crc32, ~crc, data, len);
}
