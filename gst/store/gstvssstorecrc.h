/* gst-vss: CRC-32C (Castagnoli) and CRC-32 (IEEE 802.3) checksums
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Both checksums are incremental in zlib's way: start with 0 and pass the
 * previous result back in, so that crc (crc (0, a), b) == crc (0, a || b).
 *
 * vss_store_crc32c() uses the SSE4.2 crc32 instruction when the CPU has it
 * (checked once, at the first call) and a slicing-by-8 table otherwise;
 * vss_store_crc32c_portable() is that table version, always.
 * Check values (of "123456789"): CRC-32C 0xE3069283, CRC-32 0xCBF43926.
 */
guint32 vss_store_crc32c (guint32 crc, gconstpointer data, gsize len);

guint32 vss_store_crc32c_portable (guint32 crc, gconstpointer data, gsize len);

gboolean vss_store_crc32c_is_accelerated (void);

/* CRC-32 (IEEE), for spool records of version 2 only. Named apart from
 * libvssindex's internal vss_crc32, which plugins link statically. */
guint32 vss_store_crc32_ieee (guint32 crc, gconstpointer data, gsize len);

G_END_DECLS
