/* libvssindex: save and load (see vss-persist.c history for the format).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>

#include "vss-index-private.h"

uint32_t
vss_crc32 (uint32_t crc, const void *data, size_t len)
{
  static uint32_t table[256];
  static int ready;
  const uint8_t *p = data;
  size_t i;

  if (!ready) {
    uint32_t n, k, c;
    for (n = 0; n < 256; n++) {
      c = n;
      for (k = 0; k < 8; k++)
        c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[n] = c;
    }
    ready = 1;
  }
  crc = ~crc;
  for (i = 0; i < len; i++)
    crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

int
vss_index_save (vss_index *idx, const char *path, vss_error *err)
{
  (void)idx;
  (void)path;
  return vss_set_error (err, VSS_ERR_IO, "saving is not implemented yet");
}

vss_index *
vss_index_load (const char *path, vss_error *err)
{
  (void)path;
  vss_set_error (err, VSS_ERR_IO, "loading is not implemented yet");
  return NULL;
}
