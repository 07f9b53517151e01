/* libvssindex: 64-bit id -> slot map (open addressing, linear probing,
 * backward-shift deletion so that no tombstones build up).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "vss-index-private.h"

static inline size_t
hash64 (uint64_t x)
{
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return (size_t)x;
}

int
vss_idmap_init (vss_idmap *m, size_t cap)
{
  size_t c = 16;

  while (c < cap * 2)
    c <<= 1;
  m->keys = malloc (c * sizeof *m->keys);
  m->vals = malloc (c * sizeof *m->vals);
  if (!m->keys || !m->vals) {
    free (m->keys);
    free (m->vals);
    m->keys = NULL;
    m->vals = NULL;
    return -1;
  }
  memset (m->vals, 0xff, c * sizeof *m->vals);
  m->cap = c;
  m->len = 0;
  return 0;
}

void
vss_idmap_clear (vss_idmap *m)
{
  free (m->keys);
  free (m->vals);
  m->keys = NULL;
  m->vals = NULL;
  m->cap = m->len = 0;
}

uint32_t
vss_idmap_get (const vss_idmap *m, uint64_t key)
{
  size_t mask = m->cap - 1, i = hash64 (key) & mask;

  while (m->vals[i] != VSS_NONE) {
    if (m->keys[i] == key)
      return m->vals[i];
    i = (i + 1) & mask;
  }
  return VSS_NONE;
}

static int
grow (vss_idmap *m)
{
  vss_idmap n;
  size_t i;

  if (vss_idmap_init (&n, m->cap) < 0)
    return -1;
  for (i = 0; i < m->cap; i++)
    if (m->vals[i] != VSS_NONE)
      vss_idmap_put (&n, m->keys[i], m->vals[i]);
  vss_idmap_clear (m);
  *m = n;
  return 0;
}

/* Inserts or replaces. */
int
vss_idmap_put (vss_idmap *m, uint64_t key, uint32_t val)
{
  size_t mask, i;

  if ((m->len + 1) * 2 > m->cap && grow (m) < 0)
    return -1;
  mask = m->cap - 1;
  i = hash64 (key) & mask;
  while (m->vals[i] != VSS_NONE) {
    if (m->keys[i] == key) {
      m->vals[i] = val;
      return 0;
    }
    i = (i + 1) & mask;
  }
  m->keys[i] = key;
  m->vals[i] = val;
  m->len++;
  return 0;
}

void
vss_idmap_del (vss_idmap *m, uint64_t key)
{
  size_t mask = m->cap - 1, i = hash64 (key) & mask, j;

  while (m->vals[i] != VSS_NONE && m->keys[i] != key)
    i = (i + 1) & mask;
  if (m->vals[i] == VSS_NONE)
    return;
  m->vals[i] = VSS_NONE;
  m->len--;
  /* shift back the entries of the probe run that follows */
  j = i;
  for (;;) {
    size_t h;
    j = (j + 1) & mask;
    if (m->vals[j] == VSS_NONE)
      break;
    h = hash64 (m->keys[j]) & mask;
    /* can the entry at j move to the hole at i? (h cyclically not in (i, j]) */
    if ((i <= j) ? (h <= i || h > j) : (h <= i && h > j)) {
      m->keys[i] = m->keys[j];
      m->vals[i] = m->vals[j];
      m->vals[j] = VSS_NONE;
      i = j;
    }
  }
}

size_t
vss_idmap_memory (const vss_idmap *m)
{
  return m->cap * (sizeof *m->keys + sizeof *m->vals);
}
