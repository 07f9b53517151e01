/* gst-vss Valkey module: the documents of one index (pure C)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every indexed key gets a 64-bit id, the id it has in the vector indexes.
 * Ids are never reused: a document whose vector changes gets a new one
 * (HNSW deletes only mark nodes, so a fresh id never meets a stale node).
 * Lookup by key is an open-addressing hash table of ids; by id, an array.
 */
#ifndef VSS_DOCS_H
#define VSS_DOCS_H

#include <stddef.h>
#include <stdint.h>
#include "vss-ft.h"

typedef struct {
  char *key;
  size_t keylen;
  vss_ft_attrs *attrs;
  uint64_t *vec_hash;     /* per schema field: hash of the vector bytes */
  unsigned char *has_vec; /* per schema field: in that vector index */
} vss_doc;

typedef struct vss_docs vss_docs;

vss_docs *vss_docs_new (void);
/* Frees every document too. */
void vss_docs_free (vss_docs *d);

vss_doc *vss_doc_new (const char *key, size_t keylen, size_t n_fields);
void vss_doc_free (vss_doc *doc);

/* The id of `key`, or -1. */
int64_t vss_docs_lookup (const vss_docs *d, const char *key, size_t len);
vss_doc *vss_docs_get (const vss_docs *d, uint64_t id);
/* Takes `doc` (its key must be absent) and gives it a new id. 0 or -1. */
int vss_docs_insert (vss_docs *d, vss_doc *doc, uint64_t *id);
/* Moves the document to a new id. 0 or -1. */
int vss_docs_renumber (vss_docs *d, uint64_t old_id, uint64_t *new_id);
/* Removes and returns the document (the caller frees it), or NULL. */
vss_doc *vss_docs_remove (vss_docs *d, uint64_t id);
size_t vss_docs_count (const vss_docs *d);
/* Ids are below this. */
uint64_t vss_docs_id_limit (const vss_docs *d);
size_t vss_docs_memory (const vss_docs *d);

uint64_t vss_hash_bytes (const void *data, size_t len);

#endif /* VSS_DOCS_H */
