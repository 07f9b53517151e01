/* libvssindex internals: shared by the files of index/ and by its tests.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Layout (hnswlib's shape): every element owns one fixed-size block in one
 * contiguous level-0 array: [vector][level-0 link count + links][id]. The
 * vector comes first so that it is 64-byte aligned. Upper levels, which few
 * elements have, are allocated separately per element.
 *
 * Locking: `lock` (a rwlock) guards every field of vss_index below it.
 * Searches take it shared, storing a row, removal and growth take it
 * exclusive. Linking a stored row into the graph holds `link_lock` (one
 * linker at a time) and no `lock` while it searches for the row's
 * neighbours (the graph changes only under link_lock; stored rows never
 * change; growth, which moves the blocks, takes link_lock first), then
 * `lock` exclusive for the few microseconds it takes to write the new
 * links: searches and stores go on while a row is linked. The context
 * pool has its own mutex, taken only while holding `lock` (either way), so
 * the order is always link_lock -> lock -> pool.lock.
 */
#ifndef VSS_INDEX_PRIVATE_H
#define VSS_INDEX_PRIVATE_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>

#include "vss-index.h"

#define VSS_NONE UINT32_MAX
#define VSS_MAX_LEVEL 16

/* ---- errors ---- */

int vss_set_error (vss_error *err, vss_error_code code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* ---- kernels ---- */

typedef float (*vss_f32_fn) (const float *a, const float *b, size_t n);
/* int8 components are in [-127, 127] (what vss_quantize_i8 makes): the VNNI
 * kernel negates b where a < 0, which -128 would overflow. */
typedef int32_t (*vss_i8_fn) (const int8_t *a, const int8_t *b, size_t n);
/* 4-bit codes (vss_quantize_u4) against an int8 query: the sum over
 * components of nibble * q, for `nblocks` blocks of 128 components. The
 * query is zero-padded to whole blocks. */
typedef int32_t (*vss_u4_fn) (const uint8_t *codes, const int8_t *q,
                              size_t nblocks);

typedef struct {
  const char *name;
  vss_f32_fn dot;
  vss_f32_fn l2sq;
  vss_i8_fn dot_i8;
  vss_u4_fn dot_u4;
} vss_kernels;

/* The kernel set picked for this CPU (VSS_INDEX_KERNEL=name overrides). */
const vss_kernels *vss_kernels_get (void);
/* Every kernel set this build has and this CPU runs, scalar first;
 * NULL past the end. For tests. */
const vss_kernels *vss_kernels_nth (unsigned i);

float vss_dot_f32_scalar (const float *a, const float *b, size_t n);
float vss_l2sq_f32_scalar (const float *a, const float *b, size_t n);
int32_t vss_dot_i8_scalar (const int8_t *a, const int8_t *b, size_t n);
int32_t vss_dot_u4_scalar (const uint8_t *codes, const int8_t *q,
                           size_t nblocks);
extern const vss_kernels vss_kernels_simd; /* SSE2 / NEON via simde */
#if defined(__x86_64__) || defined(__i386__)
extern const vss_kernels vss_kernels_avx2;
extern const vss_kernels vss_kernels_avx512;
extern const vss_kernels vss_kernels_avx512vnni;
/* shared by the two AVX-512 sets */
float vss_dot_f32_avx512 (const float *a, const float *b, size_t n);
float vss_l2sq_f32_avx512 (const float *a, const float *b, size_t n);
#endif

/* int8 form of a vector: q[i] = round (v[i] / scale), scale = max|v| / 127. */
float vss_quantize_i8 (const float *v, size_t n, int8_t *q);

/* 4-bit form, half the bytes of int8, for the walk of first-within searches
 * (the int8 and f32 forms decide near the bound). c[i] = round (v[i] /
 * scale) in [-7, 7], scale = max|v| / 7, stored as the nibble c + 8 in
 * blocks of 128 components: byte j of block b holds component 128b + j in
 * its low nibble and 128b + 64 + j in its high one (so SIMD code unpacks a
 * load with one mask and one shift, against consecutive query bytes).
 * Components past n are 0 (nibble 8). Writes vss_u4_blocks (n) * 64 bytes. */
#define VSS_U4_BLOCK 128
static inline size_t
vss_u4_blocks (size_t n)
{
  return (n + VSS_U4_BLOCK - 1) / VSS_U4_BLOCK;
}
float vss_quantize_u4 (const float *v, size_t n, uint8_t *codes);
/* How far a 4-bit cosine distance may stray from the f32 one before the
 * int8 form is asked: each component errs by at most half a step
 * (max|v| / 14), and the errors of many components mostly cancel; at 1024-d
 * on video-like data the largest error measured is far below this
 * (test-index-kernels checks it). */
#define VSS_U4_MARGIN 0.08f

/* ---- id -> slot map (open addressing, linear probing) ---- */

typedef struct {
  uint64_t *keys;
  uint32_t *vals; /* VSS_NONE = empty */
  size_t cap;     /* power of two */
  size_t len;
} vss_idmap;

int vss_idmap_init (vss_idmap *m, size_t cap);
void vss_idmap_clear (vss_idmap *m);
uint32_t vss_idmap_get (const vss_idmap *m, uint64_t key);
int vss_idmap_put (vss_idmap *m, uint64_t key, uint32_t val);
void vss_idmap_del (vss_idmap *m, uint64_t key);
size_t vss_idmap_memory (const vss_idmap *m);

/* ---- per-search scratch: visited stamps and heaps ---- */

typedef struct {
  float d;
  uint32_t id;
} vss_pair;

typedef struct {
  vss_pair *v;
  size_t len, cap;
} vss_heap;

typedef struct vss_ctx {
  /* visited slots, one bit each: 12.5 KB for 100k rows, so that a search
   * after the caches went cold (a frame a second) reloads little of it.
   * `touched` lists the words set since the last reset, which clears them
   * alone. */
  uint64_t *visited;
  size_t visited_cap; /* slots */
  uint32_t *touched;
  size_t ntouched;
  vss_heap cand; /* min-heap on distance */
  vss_heap res;  /* max-heap on distance */
  float *qf;     /* prepared query, dim floats */
  int8_t *q8;    /* its int8 form (int8 storage) */
  vss_pair *tmp; /* scratch for heuristics and re-rank */
  size_t tmp_cap;
  struct vss_ctx *next;
} vss_ctx;

typedef struct {
  pthread_mutex_t lock; /* guards `free_list` */
  vss_ctx *free_list;
} vss_ctx_pool;

/* ---- the index ---- */

struct vss_index {
  vss_index_params p;
  const vss_kernels *k;
  pthread_mutex_t link_lock;
  /* guarded by link_lock: the linker's plan, records of (slot, level,
   * count, then M0 links) */
  uint32_t *plan;
  size_t plan_cap; /* records */
  pthread_rwlock_t lock;

  /* everything below is guarded by `lock` */
  size_t cap;         /* slots allocated */
  size_t n;           /* slots used, tombstones included */
  /* Slots [0, linked) went through the graph's insertion (HNSW; written
   * with link_lock held too); [linked, n) are stored, found by an exact
   * scan until they are linked. Always n for a flat index. */
  size_t linked;
  float *sbuf; /* storing's scratch: the prepared vector */
  size_t live;        /* slots not removed */
  size_t elem_size;   /* bytes per level-0 block */
  size_t off_links;   /* u32 count then M0 u32 links */
  size_t off_id;      /* u64 */
  size_t vec_bytes;   /* the vector part of a block */
  uint8_t *l0;        /* cap * elem_size, 64-byte aligned */
  uint32_t **upper;   /* per slot, levels 1..level: (1+M) u32 each */
  size_t upper_bytes; /* their total size */
  uint8_t *levels;
  uint8_t *deleted;
  /* The block holds the int8 form (int8 storage, and HNSW with f32 storage,
   * whose graph is built on int8 distances: a quarter of the memory
   * traffic); the f32 vectors are then kept apart in `f32`. */
  int quant;
  float *f32; /* quant: the f32 vectors (re-rank, f32 searches) */
  /* Optional 4-bit codes (vss_index_enable_u4), walked by first-within
   * searches: per slot u4_stride bytes, the codes then the scale and the
   * squared norm. NULL when not enabled. */
  uint8_t *u4;
  size_t u4_stride;
  size_t u4_blocks;
  uint32_t M, M0;
  int max_level;
  uint32_t entry; /* VSS_NONE when empty */
  double level_mult;
  uint64_t rng;
  vss_idmap map;
  vss_ctx *wctx; /* the writer's scratch */
  vss_ctx_pool pool;
};

/* A prepared query: f32 form and, for int8 distances (int8 storage, graph
 * construction), its int8 form; q8 == NULL means f32 distances. */
typedef struct {
  const float *f;
  const int8_t *q8;
  float scale;
  float norm2;
  int u4;        /* walk on the 4-bit codes (q8 is then zero-padded) */
  int32_t q8sum; /* u4: the sum of q8, for the nibbles' offset of 8 */
} vss_query;

static inline uint8_t *
vss_elem (const vss_index *idx, uint32_t slot)
{
  return idx->l0 + (size_t)slot * idx->elem_size;
}

static inline uint32_t *
vss_links (const vss_index *idx, uint32_t slot, int level)
{
  if (level == 0)
    return (uint32_t *)(vss_elem (idx, slot) + idx->off_links);
  return idx->upper[slot] + (size_t)(level - 1) * (idx->M + 1);
}

static inline uint64_t
vss_elem_id (const vss_index *idx, uint32_t slot)
{
  uint64_t id;
  __builtin_memcpy (&id, vss_elem (idx, slot) + idx->off_id, sizeof id);
  return id;
}

/* f32 vector of a slot (the stored one, or the re-rank copy for int8). */
static inline const float *
vss_elem_f32 (const vss_index *idx, uint32_t slot)
{
  if (idx->quant)
    return idx->f32 + (size_t)slot * idx->p.dim;
  return (const float *)vss_elem (idx, slot);
}

static inline const uint8_t *
vss_elem_u4 (const vss_index *idx, uint32_t slot)
{
  return idx->u4 + (size_t)slot * idx->u4_stride;
}

/* Adds 4-bit codes to an empty quantized index of at least VSS_U4_MIN_DIM
 * dimensions (the window's segments): first-within searches then walk on
 * them. 0, or -1 (out of memory, or not such an index). Below 256-d a row
 * is a few cache lines either way, and the 4-bit error grows as 1 /
 * sqrt (dim). */
#define VSS_U4_MIN_DIM 256
int vss_index_enable_u4 (vss_index *idx);

/* Storage-form distance between a query and a slot (4-bit for a u4 query). */
float vss_dist_q (const vss_index *idx, const vss_query *q, uint32_t slot);
/* Exact f32 distance between a prepared f32 query and a slot. */
float vss_dist_exact (const vss_index *idx, const float *qf, uint32_t slot);
/* Builds `q` (pointing into ctx) from a raw f32 vector already validated. */
void vss_query_prepare (const vss_index *idx, vss_ctx *ctx, const float *raw,
                        vss_query *q);
/* Turns a prepared query of an index with 4-bit codes into a 4-bit walk. */
void vss_query_use_u4 (const vss_index *idx, vss_ctx *ctx, vss_query *q);

vss_ctx *vss_ctx_acquire (vss_index *idx);
void vss_ctx_release (vss_index *idx, vss_ctx *ctx);
vss_ctx *vss_ctx_new (const vss_index *idx);
void vss_ctx_free (vss_ctx *ctx);
int vss_ctx_reserve (vss_ctx *ctx, size_t cap);
void vss_ctx_visit_reset (vss_ctx *ctx);
size_t vss_ctx_visited_bytes (const vss_ctx *ctx);

/* Marks a slot visited; non-zero when it already was. */
static inline int
vss_ctx_visit (vss_ctx *ctx, uint32_t slot)
{
  uint64_t *w = ctx->visited + (slot >> 6), bit = (uint64_t)1 << (slot & 63);

  if (*w & bit)
    return 1;
  if (*w == 0)
    ctx->touched[ctx->ntouched++] = slot >> 6;
  *w |= bit;
  return 0;
}
int vss_ctx_tmp_reserve (vss_ctx *ctx, size_t n);
void vss_ctx_pool_init (vss_ctx_pool *pool);
void vss_ctx_pool_clear (vss_ctx_pool *pool);
size_t vss_ctx_pool_memory (vss_ctx_pool *pool);

int vss_heap_push_min (vss_heap *h, float d, uint32_t id);
vss_pair vss_heap_pop_min (vss_heap *h);
int vss_heap_push_max (vss_heap *h, float d, uint32_t id);
vss_pair vss_heap_pop_max (vss_heap *h);

/* ---- graph (vss-hnsw.c) ---- */

/* Linking a stored row into the graph, in two steps, with link_lock held
 * across both so that the graph does not change in between.
 * vss_hnsw_plan, with link_lock only, finds the row's neighbours, writes
 * the row's own link lists (no search reads them: nothing links to the row
 * yet) and puts the neighbours' new lists in idx->plan; 0, or -1 (no
 * memory). vss_hnsw_apply, under the exclusive lock, writes those lists and
 * moves the entry point. */
int vss_hnsw_plan (vss_index *idx, uint32_t slot, size_t *nplan);
void vss_hnsw_apply (vss_index *idx, uint32_t slot, size_t nplan);
int vss_hnsw_random_level (vss_index *idx);

/* Search options shared by graph and flat searches. */
typedef struct {
  uint32_t k;
  uint32_t ef;
  vss_filter_fn filter;
  void *user_data;
  uint32_t min_slot; /* slots below are ignored (window expiry) */
  int within;        /* stop at the first hit with d <= r */
  float r;
  int exact; /* force the exact scan */
  /* within only: on a miss, the nearest accepted row the search met (slot
   * and exact distance; distance INFINITY when it met none). */
  vss_hit *nearest;
} vss_search_opts;

/* Results land in ctx->res (max-heap, storage-form distances) for k-NN;
 * returns the number of results, or, for `within`, 1 with *hit filled / 0.
 * -1 = the graph search gave up (very selective filter): scan instead. */
int vss_hnsw_search (vss_index *idx, vss_ctx *ctx, const vss_query *q,
                     const vss_search_opts *o, vss_hit *hit);
/* Exact scan of slots [lo, hi), newest first. `append` keeps what
 * ctx->res holds (k-NN: the graph's candidates, merged with the scan's). */
int vss_flat_search (vss_index *idx, vss_ctx *ctx, const vss_query *q,
                     const vss_search_opts *o, size_t lo, size_t hi,
                     int append, vss_hit *hit);

/* Locked-already internals used by the window. */
int vss_index_search_opts (vss_index *idx, const float *query, uint32_t dim,
                           const vss_search_opts *o, vss_hit *out,
                           vss_error *err);

/* ---- storage (vss-index.c) ---- */

/* Adding in two steps (the window's segments): storing makes the row
 * count and be found, by an exact scan, at once; linking it into the graph,
 * the expensive part, comes after, while searches run.
 * vss_index_add_unlinked stores a row (the exclusive lock, briefly).
 * vss_index_link_next links the oldest stored row not yet linked; a row
 * below `skip_below` (expired in the window) or removed is passed over,
 * never to be searched through the graph. 1 when it handled a row, 0 when
 * none was waiting, -1 (err set) when linking ran out of memory (the row is
 * then removed). vss_index_unlinked: rows stored and not yet linked. */
int vss_index_add_unlinked (vss_index *idx, uint64_t id, const float *vec,
                            uint32_t dim, vss_error *err);
int vss_index_link_next (vss_index *idx, uint32_t skip_below, vss_error *err);
size_t vss_index_unlinked (vss_index *idx);
/* Links every stored row; the caller holds link_lock. 0, or -1 (err set)
 * when a row could not be linked. */
int vss_index_link_all_locked (vss_index *idx, vss_error *err);

int vss_index_grow (vss_index *idx, size_t cap);
/* Writes vector, id and level of a fresh slot (n is bumped by the caller). */
int vss_index_store (vss_index *idx, uint32_t slot, uint64_t id,
                     const float *prepared, int level);
vss_index *vss_index_new_internal (const vss_index_params *p, int load,
                                   vss_error *err);

/* ---- checksum ---- */

uint32_t vss_crc32 (uint32_t crc, const void *data, size_t len);

#endif /* VSS_INDEX_PRIVATE_H */
