/* gst-vss Valkey module: the documents of one index (pure C)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>
#include "vss-docs.h"

#define SLOT_EMPTY 0
#define SLOT_DEAD UINT64_MAX

struct vss_docs {
  vss_doc **by_id; /* by_id_cap entries, NULL where removed */
  uint64_t by_id_cap;
  uint64_t next_id;
  uint64_t *slots; /* id + 1, SLOT_EMPTY or SLOT_DEAD */
  size_t n_slots;  /* power of two */
  size_t used;     /* live + dead slots */
  size_t count;
};

uint64_t
vss_hash_bytes (const void *data, size_t len)
{
  /* FNV-1a, 64 bits, then a final mix so that low bits spread. */
  const unsigned char *p = data;
  uint64_t h = 1469598103934665603ULL;

  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

vss_docs *
vss_docs_new (void)
{
  vss_docs *d = calloc (1, sizeof *d);

  if (d == NULL)
    return NULL;
  d->n_slots = 64;
  d->slots = calloc (d->n_slots, sizeof *d->slots);
  if (d->slots == NULL) {
    free (d);
    return NULL;
  }
  return d;
}

void
vss_doc_free (vss_doc *doc)
{
  if (doc == NULL)
    return;
  free (doc->key);
  vss_ft_attrs_free (doc->attrs);
  free (doc->vec_hash);
  free (doc->has_vec);
  free (doc);
}

vss_doc *
vss_doc_new (const char *key, size_t keylen, size_t n_fields)
{
  vss_doc *doc = calloc (1, sizeof *doc);

  if (doc == NULL)
    return NULL;
  doc->key = malloc (keylen + 1);
  doc->attrs = vss_ft_attrs_new (n_fields);
  doc->vec_hash = calloc (n_fields ? n_fields : 1, sizeof *doc->vec_hash);
  doc->has_vec = calloc (n_fields ? n_fields : 1, sizeof *doc->has_vec);
  if (doc->key == NULL || doc->attrs == NULL || doc->vec_hash == NULL
      || doc->has_vec == NULL) {
    vss_doc_free (doc);
    return NULL;
  }
  memcpy (doc->key, key, keylen);
  doc->key[keylen] = '\0';
  doc->keylen = keylen;
  return doc;
}

void
vss_docs_free (vss_docs *d)
{
  if (d == NULL)
    return;
  for (uint64_t i = 0; i < d->next_id; i++)
    vss_doc_free (d->by_id[i]);
  free (d->by_id);
  free (d->slots);
  free (d);
}

/* The slot holding `key`, or the first free one on its probe path (a
 * dead slot is reused only when the key is absent). */
static size_t
find_slot (const vss_docs *d, const char *key, size_t len, int *found)
{
  size_t mask = d->n_slots - 1;
  size_t i = (size_t)vss_hash_bytes (key, len) & mask;
  size_t first_dead = (size_t)-1;

  *found = 0;
  for (;;) {
    uint64_t s = d->slots[i];
    if (s == SLOT_EMPTY)
      return first_dead != (size_t)-1 ? first_dead : i;
    if (s == SLOT_DEAD) {
      if (first_dead == (size_t)-1)
        first_dead = i;
    } else {
      const vss_doc *doc = d->by_id[s - 1];
      if (doc->keylen == len && !memcmp (doc->key, key, len)) {
        *found = 1;
        return i;
      }
    }
    i = (i + 1) & mask;
  }
}

static int
grow_slots (vss_docs *d)
{
  size_t n = d->n_slots;
  uint64_t *old = d->slots;

  /* Rehash to twice the live count (at least the current size). */
  while (n < 4 * (d->count + 1))
    n *= 2;
  d->slots = calloc (n, sizeof *d->slots);
  if (d->slots == NULL) {
    d->slots = old;
    return -1;
  }
  d->n_slots = n;
  d->used = 0;
  for (uint64_t id = 0; id < d->next_id; id++) {
    const vss_doc *doc = d->by_id[id];
    int found;
    size_t i;
    if (doc == NULL)
      continue;
    i = find_slot (d, doc->key, doc->keylen, &found);
    d->slots[i] = id + 1;
    d->used++;
  }
  free (old);
  return 0;
}

int64_t
vss_docs_lookup (const vss_docs *d, const char *key, size_t len)
{
  int found;
  size_t i = find_slot (d, key, len, &found);

  return found ? (int64_t)(d->slots[i] - 1) : -1;
}

vss_doc *
vss_docs_get (const vss_docs *d, uint64_t id)
{
  return id < d->next_id ? d->by_id[id] : NULL;
}

static int
new_id (vss_docs *d, vss_doc *doc, uint64_t *id)
{
  if (d->next_id == d->by_id_cap) {
    uint64_t cap = d->by_id_cap ? d->by_id_cap * 2 : 1024;
    vss_doc **n = realloc (d->by_id, cap * sizeof *n);
    if (n == NULL)
      return -1;
    d->by_id = n;
    d->by_id_cap = cap;
  }
  *id = d->next_id++;
  d->by_id[*id] = doc;
  return 0;
}

int
vss_docs_insert (vss_docs *d, vss_doc *doc, uint64_t *id)
{
  int found;
  size_t i;

  if ((d->used + 1) * 4 > d->n_slots * 3 && grow_slots (d) < 0)
    return -1;
  i = find_slot (d, doc->key, doc->keylen, &found);
  if (found)
    return -1;
  if (new_id (d, doc, id) < 0)
    return -1;
  if (d->slots[i] == SLOT_EMPTY)
    d->used++;
  d->slots[i] = *id + 1;
  d->count++;
  return 0;
}

int
vss_docs_renumber (vss_docs *d, uint64_t old_id, uint64_t *id)
{
  vss_doc *doc = vss_docs_get (d, old_id);
  int found;
  size_t i;

  if (doc == NULL)
    return -1;
  i = find_slot (d, doc->key, doc->keylen, &found);
  if (!found || new_id (d, doc, id) < 0)
    return -1;
  d->by_id[old_id] = NULL;
  d->slots[i] = *id + 1;
  return 0;
}

vss_doc *
vss_docs_remove (vss_docs *d, uint64_t id)
{
  vss_doc *doc = vss_docs_get (d, id);
  int found;
  size_t i;

  if (doc == NULL)
    return NULL;
  i = find_slot (d, doc->key, doc->keylen, &found);
  if (found)
    d->slots[i] = SLOT_DEAD;
  d->by_id[id] = NULL;
  d->count--;
  return doc;
}

size_t
vss_docs_count (const vss_docs *d)
{
  return d->count;
}

uint64_t
vss_docs_id_limit (const vss_docs *d)
{
  return d->next_id;
}

size_t
vss_docs_memory (const vss_docs *d)
{
  return sizeof *d + d->by_id_cap * sizeof (vss_doc *)
         + d->n_slots * sizeof (uint64_t);
}
