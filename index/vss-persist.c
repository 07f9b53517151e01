/* libvssindex: save and load.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * File format (version 1), in the byte order of the machine that wrote it,
 * which the endianness mark records (a file of the other order is refused):
 *
 *   header   "VSSINDEX" | u32 version | u32 0x01020304 | u32 kind | metric |
 *            dim | storage | M | ef_construction | ef_search | u32 0 |
 *            u64 seed | u64 rng state | u64 n | u64 live | u64 entry |
 *            i64 max_level
 *   n slots  u64 id | u8 deleted | u8 level | u16 0 | f32[dim] (the stored
 *            form: normalised for cosine) | u32 count + u32[2M] level-0
 *            links | level x (u32 count + u32[M]) upper links
 *   trailer  u32 CRC-32 (IEEE) of everything before | "VSSEND\0\0"
 *
 * Save writes "<path>.tmp" and renames it over `path`, so a crash never
 * leaves a half-written index under the real name. Load reads the whole
 * file, checks size, magic, version, endianness and checksum before parsing
 * anything, then bounds-checks every count and link.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vss-index-private.h"

#define VSS_FILE_VERSION 1
#define VSS_ENDIAN_MARK 0x01020304u
#define HEADER_SIZE (8 + 4 * 10 + 8 * 6)
#define TRAILER_SIZE (4 + 8)

static const char magic[8] = { 'V', 'S', 'S', 'I', 'N', 'D', 'E', 'X' };
static const char end_magic[8] = { 'V', 'S', 'S', 'E', 'N', 'D', 0, 0 };

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void
crc_init (void)
{
  uint32_t n, k, c;

  for (n = 0; n < 256; n++) {
    c = n;
    for (k = 0; k < 8; k++)
      c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[n] = c;
  }
}

uint32_t
vss_crc32 (uint32_t crc, const void *data, size_t len)
{
  const uint8_t *p = data;
  size_t i;

  pthread_once (&crc_once, crc_init);
  crc = ~crc;
  for (i = 0; i < len; i++)
    crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

typedef struct {
  FILE *f;
  uint32_t crc;
  int failed;
} writer;

static void
put (writer *w, const void *p, size_t n)
{
  if (w->failed || n == 0)
    return;
  w->crc = vss_crc32 (w->crc, p, n);
  if (fwrite (p, 1, n, w->f) != n)
    w->failed = errno ? errno : EIO;
}

static void
put_u32 (writer *w, uint32_t v)
{
  put (w, &v, 4);
}

static void
put_u64 (writer *w, uint64_t v)
{
  put (w, &v, 8);
}

int
vss_index_save (vss_index *idx, const char *path, vss_error *err)
{
  writer w = { NULL, 0, 0 };
  char *tmp;
  size_t i, plen;
  uint32_t *zero_links;
  int rc = -1;

  if (!idx || !path)
    return vss_set_error (err, VSS_ERR_INVALID, "no index or no path");
  plen = strlen (path);
  tmp = malloc (plen + 5);
  zero_links = calloc ((size_t)idx->M0 + 1, sizeof (uint32_t));
  if (!tmp || !zero_links) {
    free (tmp);
    free (zero_links);
    return vss_set_error (err, VSS_ERR_NOMEM, "out of memory");
  }
  memcpy (tmp, path, plen);
  memcpy (tmp + plen, ".tmp", 5);
  w.f = fopen (tmp, "wb");
  if (!w.f) {
    vss_set_error (err, VSS_ERR_IO, "cannot write %s: %s", tmp,
                   strerror (errno));
    free (tmp);
    free (zero_links);
    return -1;
  }
  /* rows stored by a concurrent add are linked first: the file holds a
   * whole graph */
  pthread_mutex_lock (&idx->link_lock);
  if (vss_index_link_all_locked (idx, err) < 0) {
    pthread_mutex_unlock (&idx->link_lock);
    fclose (w.f);
    remove (tmp);
    free (tmp);
    free (zero_links);
    return -1;
  }
  pthread_rwlock_rdlock (&idx->lock);
  put (&w, magic, 8);
  put_u32 (&w, VSS_FILE_VERSION);
  put_u32 (&w, VSS_ENDIAN_MARK);
  put_u32 (&w, (uint32_t)idx->p.kind);
  put_u32 (&w, (uint32_t)idx->p.metric);
  put_u32 (&w, idx->p.dim);
  put_u32 (&w, (uint32_t)idx->p.storage);
  put_u32 (&w, idx->p.M);
  put_u32 (&w, idx->p.ef_construction);
  put_u32 (&w, idx->p.ef_search);
  put_u32 (&w, 0);
  put_u64 (&w, idx->p.seed);
  put_u64 (&w, idx->rng);
  put_u64 (&w, idx->n);
  put_u64 (&w, idx->live);
  put_u64 (&w, idx->entry == VSS_NONE ? UINT64_MAX : idx->entry);
  put_u64 (&w, (uint64_t)(int64_t)idx->max_level);
  for (i = 0; i < idx->n && !w.failed; i++) {
    uint32_t s = (uint32_t)i;
    uint8_t flags[4] = { idx->deleted[s], idx->levels[s], 0, 0 };
    int l;
    put_u64 (&w, vss_elem_id (idx, s));
    put (&w, flags, 4);
    put (&w, vss_elem_f32 (idx, s), (size_t)idx->p.dim * sizeof (float));
    put (&w, idx->M ? vss_links (idx, s, 0) : zero_links,
         ((size_t)idx->M0 + 1) * sizeof (uint32_t));
    for (l = 1; l <= idx->levels[s]; l++)
      put (&w, vss_links (idx, s, l), ((size_t)idx->M + 1) * 4);
  }
  pthread_rwlock_unlock (&idx->lock);
  pthread_mutex_unlock (&idx->link_lock);
  if (!w.failed) {
    uint32_t crc = w.crc;
    if (fwrite (&crc, 4, 1, w.f) != 1 || fwrite (end_magic, 8, 1, w.f) != 1)
      w.failed = errno ? errno : EIO;
  }
  if (fflush (w.f) != 0 && !w.failed)
    w.failed = errno ? errno : EIO;
  if (fclose (w.f) != 0 && !w.failed)
    w.failed = errno ? errno : EIO;
  if (w.failed) {
    vss_set_error (err, VSS_ERR_IO, "cannot write %s: %s", tmp,
                   strerror (w.failed));
    remove (tmp);
  } else if (rename (tmp, path) != 0) {
    vss_set_error (err, VSS_ERR_IO, "cannot rename %s to %s: %s", tmp, path,
                   strerror (errno));
    remove (tmp);
  } else {
    rc = 0;
  }
  free (tmp);
  free (zero_links);
  return rc;
}

typedef struct {
  const uint8_t *p;
  size_t len, pos;
} reader;

static int
take (reader *r, void *out, size_t n)
{
  if (r->len - r->pos < n)
    return -1;
  memcpy (out, r->p + r->pos, n);
  r->pos += n;
  return 0;
}

static uint8_t *
read_file (const char *path, size_t *len, vss_error *err)
{
  FILE *f = fopen (path, "rb");
  uint8_t *buf = NULL;
  size_t cap = 0, n = 0;

  if (!f) {
    vss_set_error (err, VSS_ERR_IO, "cannot open %s: %s", path,
                   strerror (errno));
    return NULL;
  }
  for (;;) {
    size_t got;
    if (n == cap) {
      uint8_t *nb;
      cap = cap ? cap * 2 : 1 << 16;
      nb = realloc (buf, cap);
      if (!nb) {
        free (buf);
        fclose (f);
        vss_set_error (err, VSS_ERR_NOMEM, "out of memory reading %s", path);
        return NULL;
      }
      buf = nb;
    }
    got = fread (buf + n, 1, cap - n, f);
    n += got;
    if (got == 0)
      break;
  }
  if (ferror (f)) {
    vss_set_error (err, VSS_ERR_IO, "cannot read %s", path);
    free (buf);
    fclose (f);
    return NULL;
  }
  fclose (f);
  *len = n;
  return buf;
}

vss_index *
vss_index_load (const char *path, vss_error *err)
{
  reader r;
  uint8_t *buf;
  size_t len;
  uint32_t version, endian, u[8], crc_file;
  uint64_t seed, rng, n, live, entry, max_level, i, nlive = 0;
  vss_index_params p;
  vss_index *idx = NULL;
  float *vec = NULL;
  int has_graph;

  if (!path) {
    vss_set_error (err, VSS_ERR_INVALID, "no path");
    return NULL;
  }
  buf = read_file (path, &len, err);
  if (!buf)
    return NULL;
  r.p = buf;
  r.len = len;
  r.pos = 0;
  if (len < 8 || memcmp (buf, magic, 8) != 0) {
    vss_set_error (err, VSS_ERR_FORMAT, "%s is not a vss index file", path);
    goto fail;
  }
  if (len < HEADER_SIZE + TRAILER_SIZE) {
    vss_set_error (err, VSS_ERR_FORMAT,
                   "%s is truncated (%zu bytes, header needs %d)", path, len,
                   HEADER_SIZE + TRAILER_SIZE);
    goto fail;
  }
  r.pos = 8;
  take (&r, &version, 4);
  take (&r, &endian, 4);
  if (endian != VSS_ENDIAN_MARK) {
    vss_set_error (err, VSS_ERR_FORMAT,
                   "%s was written on a machine of the "
                   "other byte order (mark %08x)",
                   path, endian);
    goto fail;
  }
  if (version != VSS_FILE_VERSION) {
    vss_set_error (err, VSS_ERR_FORMAT,
                   "%s has format version %u; this "
                   "library reads version %u",
                   path, version, VSS_FILE_VERSION);
    goto fail;
  }
  if (memcmp (buf + len - 8, end_magic, 8) != 0) {
    vss_set_error (err, VSS_ERR_FORMAT, "%s is truncated (no end mark)", path);
    goto fail;
  }
  memcpy (&crc_file, buf + len - TRAILER_SIZE, 4);
  if (vss_crc32 (0, buf, len - TRAILER_SIZE) != crc_file) {
    vss_set_error (err, VSS_ERR_FORMAT, "%s is corrupt (checksum mismatch)",
                   path);
    goto fail;
  }
  r.len = len - TRAILER_SIZE;
  take (&r, u, sizeof u);
  take (&r, &seed, 8);
  take (&r, &rng, 8);
  take (&r, &n, 8);
  take (&r, &live, 8);
  take (&r, &entry, 8);
  take (&r, &max_level, 8);
  memset (&p, 0, sizeof p);
  p.kind = (vss_index_kind)u[0];
  p.metric = (vss_metric)u[1];
  p.dim = u[2];
  p.storage = (vss_storage)u[3];
  p.M = u[4];
  p.ef_construction = u[5];
  p.ef_search = u[6];
  p.seed = seed;
  p.initial_capacity = 1;
  idx = vss_index_new_internal (&p, 1, err);
  if (!idx) {
    if (err)
      err->code = VSS_ERR_FORMAT;
    goto fail;
  }
  has_graph = p.kind == VSS_INDEX_HNSW && n > 0;
  if (n > (r.len - r.pos) / (16 + (size_t)p.dim * 4) || live > n
      || (has_graph
          && (entry >= n || (int64_t)max_level < 0
              || (int64_t)max_level > VSS_MAX_LEVEL))
      || (!has_graph && (entry != UINT64_MAX || (int64_t)max_level != -1))) {
    vss_set_error (err, VSS_ERR_FORMAT, "%s is corrupt (inconsistent header)",
                   path);
    goto fail;
  }
  if (n > 0 && vss_index_grow (idx, n) < 0) {
    vss_set_error (err, VSS_ERR_NOMEM, "out of memory for %llu vectors",
                   (unsigned long long)n);
    goto fail;
  }
  vec = malloc ((size_t)p.dim * sizeof (float));
  if (!vec) {
    vss_set_error (err, VSS_ERR_NOMEM, "out of memory");
    goto fail;
  }
  for (i = 0; i < n; i++) {
    uint64_t id;
    uint8_t flags[4];
    uint32_t s = (uint32_t)i, *l;
    int lv;
    if (take (&r, &id, 8) < 0 || take (&r, flags, 4) < 0
        || take (&r, vec, (size_t)p.dim * 4) < 0)
      goto truncated;
    if ((has_graph ? (int64_t)flags[1] > (int64_t)max_level : flags[1] != 0)
        || flags[0] > 1)
      goto corrupt;
    if (vss_index_store (idx, s, id, vec, flags[1]) < 0) {
      vss_set_error (err, VSS_ERR_NOMEM, "out of memory");
      goto fail;
    }
    idx->n = i + 1; /* so that free () releases upper links */
    idx->deleted[s] = flags[0];
    if (idx->M == 0) {
      uint32_t z;
      if (take (&r, &z, 4) < 0)
        goto truncated;
    } else {
      l = vss_links (idx, s, 0);
      if (take (&r, l, ((size_t)idx->M0 + 1) * 4) < 0)
        goto truncated;
      if (l[0] > idx->M0)
        goto corrupt;
      for (lv = 1; lv <= flags[1]; lv++) {
        l = vss_links (idx, s, lv);
        if (take (&r, l, ((size_t)idx->M + 1) * 4) < 0)
          goto truncated;
        if (l[0] > idx->M)
          goto corrupt;
      }
    }
    if (!flags[0]) {
      if (vss_idmap_get (&idx->map, id) != VSS_NONE)
        goto corrupt;
      if (vss_idmap_put (&idx->map, id, s) < 0) {
        vss_set_error (err, VSS_ERR_NOMEM, "out of memory");
        goto fail;
      }
      nlive++;
    }
  }
  if (r.pos != r.len || nlive != live)
    goto corrupt;
  /* every link must name an element that has that level */
  for (i = 0; i < n && idx->M; i++) {
    int lv;
    for (lv = 0; lv <= idx->levels[i]; lv++) {
      uint32_t *l = vss_links (idx, (uint32_t)i, lv), j;
      for (j = 0; j < l[0]; j++)
        if (l[1 + j] >= n || idx->levels[l[1 + j]] < lv)
          goto corrupt;
    }
  }
  if (has_graph && idx->levels[entry] != (uint8_t)max_level)
    goto corrupt;
  idx->live = live;
  idx->linked = idx->n;
  idx->entry = has_graph ? (uint32_t)entry : VSS_NONE;
  idx->max_level = (int)(int64_t)max_level;
  idx->rng = rng ? rng : 0x5eed5eedULL;
  if (vss_ctx_reserve (idx->wctx, idx->cap) < 0) {
    vss_set_error (err, VSS_ERR_NOMEM, "out of memory");
    goto fail;
  }
  free (vec);
  free (buf);
  return idx;

truncated:
  vss_set_error (err, VSS_ERR_FORMAT, "%s is truncated", path);
  goto fail;
corrupt:
  vss_set_error (err, VSS_ERR_FORMAT, "%s is corrupt (bad element data)", path);
fail:
  vss_index_free (idx);
  free (vec);
  free (buf);
  return NULL;
}
