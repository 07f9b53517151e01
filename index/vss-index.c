/* libvssindex: the public vss_index API (validation, storage, locking).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Threads: idx->lock is a writer-preferring rwlock. Searches, get, count,
 * memory_used and save hold it shared; storing a row, remove and
 * set_ef_search hold it exclusive. Adding stores the row, then links it into
 * the graph under link_lock: the neighbour search runs without the rwlock,
 * beside searches and the storing of further rows, and only the writing of
 * the links takes the exclusive lock (microseconds), so neither a search
 * nor a store waits for a whole insert.
 * Filter callbacks run under the shared lock: they must not call back into
 * a writing function of the same index.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "vss-index-private.h"

#define VSS_MAX_M 256

void
vss_index_params_init (vss_index_params *p, vss_index_kind kind,
                       vss_metric metric, uint32_t dim)
{
  memset (p, 0, sizeof *p);
  p->kind = kind;
  p->metric = metric;
  p->dim = dim;
  p->storage = VSS_STORAGE_F32;
  p->M = 16;
  p->ef_construction = 200;
  p->ef_search = 64;
  p->initial_capacity = 1024;
  p->seed = 0x5eed5eedULL;
}

static void *
aligned_block (size_t bytes)
{
  void *p = NULL;

  size_t align = 64;

  if (bytes == 0)
    bytes = 64;
#ifdef MADV_HUGEPAGE
  /* A graph search touches a new vector at every step, scattered over the
   * whole block: with 4 KB pages nearly every one costs a TLB miss too.
   * Ask for transparent huge pages (a hint: refused, it costs nothing). */
  if (bytes >= ((size_t)8 << 20))
    align = (size_t)2 << 20;
#endif
  if (posix_memalign (&p, align, bytes) != 0)
    return NULL;
#ifdef MADV_HUGEPAGE
  if (align > 64)
    madvise (p, bytes, MADV_HUGEPAGE);
#endif
  return p;
}

int
vss_index_grow (vss_index *idx, size_t cap)
{
  uint8_t *l0, *levels, *deleted;
  uint32_t **upper;
  float *f32 = NULL;

  if (cap <= idx->cap)
    return 0;
  if (cap > (size_t)UINT32_MAX - 1)
    return -1;
  l0 = aligned_block (cap * idx->elem_size);
  if (!l0)
    return -1;
  if (idx->n)
    memcpy (l0, idx->l0, idx->n * idx->elem_size);
  levels = realloc (idx->levels, cap);
  if (!levels)
    goto fail;
  idx->levels = levels;
  deleted = realloc (idx->deleted, cap);
  if (!deleted)
    goto fail;
  idx->deleted = deleted;
  upper = realloc (idx->upper, cap * sizeof *upper);
  if (!upper)
    goto fail;
  idx->upper = upper;
  if (idx->quant) {
    f32 = aligned_block (cap * idx->p.dim * sizeof (float));
    if (!f32)
      goto fail;
    if (idx->n)
      memcpy (f32, idx->f32, idx->n * idx->p.dim * sizeof (float));
    free (idx->f32);
    idx->f32 = f32;
  }
  if (idx->u4) {
    uint8_t *u4 = aligned_block (cap * idx->u4_stride);
    if (!u4)
      goto fail;
    if (idx->n)
      memcpy (u4, idx->u4, idx->n * idx->u4_stride);
    free (idx->u4);
    idx->u4 = u4;
  }
  free (idx->l0);
  idx->l0 = l0;
  idx->cap = cap;
  return 0;
fail:
  free (l0);
  return -1;
}

vss_index *
vss_index_new_internal (const vss_index_params *p, int load, vss_error *err)
{
  vss_index *idx;
  pthread_rwlockattr_t attr;
  size_t cap;

  if (p == NULL) {
    vss_set_error (err, VSS_ERR_INVALID, "no parameters");
    return NULL;
  }
  if (p->dim == 0 || p->dim > (1u << 20)) {
    vss_set_error (err, VSS_ERR_DIMENSION,
                   "dimension %u out of range (1..1048576)", p->dim);
    return NULL;
  }
  if (p->metric != VSS_METRIC_COSINE && p->metric != VSS_METRIC_IP
      && p->metric != VSS_METRIC_L2) {
    vss_set_error (err, VSS_ERR_INVALID, "unknown metric %d", (int)p->metric);
    return NULL;
  }
  if (p->kind != VSS_INDEX_FLAT && p->kind != VSS_INDEX_HNSW) {
    vss_set_error (err, VSS_ERR_INVALID, "unknown index kind %d", (int)p->kind);
    return NULL;
  }
  if (p->storage != VSS_STORAGE_F32 && p->storage != VSS_STORAGE_INT8) {
    vss_set_error (err, VSS_ERR_INVALID, "unknown storage %d", (int)p->storage);
    return NULL;
  }
  if (p->kind == VSS_INDEX_HNSW && (p->M < 2 || p->M > VSS_MAX_M)) {
    vss_set_error (err, VSS_ERR_INVALID, "M = %u out of range (2..%u)", p->M,
                   VSS_MAX_M);
    return NULL;
  }
  if (p->kind == VSS_INDEX_HNSW && p->ef_construction == 0) {
    vss_set_error (err, VSS_ERR_INVALID, "ef_construction must be > 0");
    return NULL;
  }

  idx = calloc (1, sizeof *idx);
  if (!idx) {
    vss_set_error (err, VSS_ERR_NOMEM, "out of memory");
    return NULL;
  }
  idx->p = *p;
  if (idx->p.ef_search == 0)
    idx->p.ef_search = 64;
  idx->k = vss_kernels_get ();
  idx->entry = VSS_NONE;
  idx->max_level = -1;
  idx->M = p->kind == VSS_INDEX_HNSW ? p->M : 0;
  idx->M0 = 2 * idx->M;
  idx->level_mult = idx->M > 1 ? 1.0 / log ((double)idx->M) : 0;
  idx->rng = p->seed ? p->seed : 0x5eed5eedULL;
  idx->quant = p->storage == VSS_STORAGE_INT8 || p->kind == VSS_INDEX_HNSW;
  if (idx->quant)
    idx->vec_bytes = (((size_t)p->dim + 3) & ~(size_t)3) + 8;
  else
    idx->vec_bytes = (size_t)p->dim * sizeof (float);
  idx->off_links = (idx->vec_bytes + 3) & ~(size_t)3;
  idx->off_id = (idx->off_links + (1 + (size_t)idx->M0) * 4 + 7) & ~(size_t)7;
  idx->elem_size = (idx->off_id + 8 + 63) & ~(size_t)63;

  pthread_rwlockattr_init (&attr);
#ifdef __GLIBC__
  pthread_rwlockattr_setkind_np (&attr,
                                 PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
  pthread_rwlock_init (&idx->lock, &attr);
  pthread_rwlockattr_destroy (&attr);
  pthread_mutex_init (&idx->link_lock, NULL);
  vss_ctx_pool_init (&idx->pool);

  cap = p->initial_capacity ? p->initial_capacity : 1024;
  if (load)
    cap = 1;
  idx->sbuf = malloc ((size_t)p->dim * sizeof (float));
  if (!idx->sbuf || vss_index_grow (idx, cap) < 0
      || vss_idmap_init (&idx->map, cap) < 0
      || !(idx->wctx = vss_ctx_new (idx))) {
    vss_index_free (idx);
    vss_set_error (err, VSS_ERR_NOMEM, "out of memory for %zu vectors", cap);
    return NULL;
  }
  return idx;
}

int
vss_index_enable_u4 (vss_index *idx)
{
  if (idx->u4)
    return 0;
  if (!idx->quant || idx->n > 0 || idx->p.dim < VSS_U4_MIN_DIM)
    return -1;
  idx->u4_blocks = vss_u4_blocks (idx->p.dim);
  /* the codes, then a line of their own for scale and norm: a 1024-d row
   * is 9 lines instead of the 17 of its int8 block */
  idx->u4_stride = idx->u4_blocks * 64 + 64;
  idx->u4 = aligned_block (idx->cap * idx->u4_stride);
  return idx->u4 ? 0 : -1;
}

vss_index *
vss_index_new (const vss_index_params *p, vss_error *err)
{
  return vss_index_new_internal (p, 0, err);
}

static void
free_storage (vss_index *idx)
{
  size_t i;

  if (idx->upper)
    for (i = 0; i < idx->n; i++)
      if (idx->levels[i] > 0)
        free (idx->upper[i]);
  free (idx->upper);
  free (idx->levels);
  free (idx->deleted);
  free (idx->l0);
  free (idx->f32);
  free (idx->u4);
  vss_idmap_clear (&idx->map);
  vss_ctx_free (idx->wctx);
}

void
vss_index_free (vss_index *idx)
{
  if (!idx)
    return;
  free_storage (idx);
  vss_ctx_pool_clear (&idx->pool);
  pthread_rwlock_destroy (&idx->lock);
  pthread_mutex_destroy (&idx->link_lock);
  free (idx->plan);
  free (idx->sbuf);
  free (idx);
}

int
vss_index_compact (vss_index *idx, vss_error *err)
{
  vss_index_params p;
  vss_index *fresh;
  size_t i;

  if (!idx)
    return vss_set_error (err, VSS_ERR_INVALID, "no index");
  pthread_mutex_lock (&idx->link_lock);
  pthread_rwlock_wrlock (&idx->lock);
  if (idx->live == idx->n) {
    pthread_rwlock_unlock (&idx->lock);
    pthread_mutex_unlock (&idx->link_lock);
    return 0;
  }
  p = idx->p;
  p.initial_capacity = idx->live ? idx->live : 1;
  p.seed = idx->rng;
  fresh = vss_index_new (&p, err);
  if (fresh && idx->u4 && vss_index_enable_u4 (fresh) < 0) {
    vss_index_free (fresh);
    fresh = NULL;
    vss_set_error (err, VSS_ERR_NOMEM, "out of memory");
  }
  for (i = 0; fresh && i < idx->n; i++) {
    if (idx->deleted[i])
      continue;
    if (vss_index_add (fresh, vss_elem_id (idx, (uint32_t)i),
                       vss_elem_f32 (idx, (uint32_t)i), p.dim, err)
        < 0) {
      vss_index_free (fresh);
      fresh = NULL;
    }
  }
  if (!fresh) {
    pthread_rwlock_unlock (&idx->lock);
    pthread_mutex_unlock (&idx->link_lock);
    return -1;
  }
  /* take the fresh storage, keep our lock and context pool */
  free_storage (idx);
  idx->cap = fresh->cap;
  idx->n = fresh->n;
  idx->linked = fresh->linked;
  idx->live = fresh->live;
  idx->l0 = fresh->l0;
  idx->upper = fresh->upper;
  idx->upper_bytes = fresh->upper_bytes;
  idx->levels = fresh->levels;
  idx->deleted = fresh->deleted;
  idx->f32 = fresh->f32;
  idx->u4 = fresh->u4;
  idx->max_level = fresh->max_level;
  idx->entry = fresh->entry;
  idx->rng = fresh->rng;
  idx->map = fresh->map;
  idx->wctx = fresh->wctx;
  fresh->l0 = NULL;
  fresh->upper = NULL;
  fresh->levels = NULL;
  fresh->deleted = NULL;
  fresh->f32 = NULL;
  fresh->u4 = NULL;
  fresh->wctx = NULL;
  fresh->n = 0;
  memset (&fresh->map, 0, sizeof fresh->map);
  vss_index_free (fresh);
  pthread_rwlock_unlock (&idx->lock);
  pthread_mutex_unlock (&idx->link_lock);
  return 0;
}

/* Checks a caller's vector; 0 or -1 with err set. */
static int
check_vector (const vss_index *idx, const float *v, uint32_t dim,
              vss_error *err)
{
  double n2 = 0;
  uint32_t i;

  if (v == NULL)
    return vss_set_error (err, VSS_ERR_INVALID, "no vector");
  if (dim != idx->p.dim)
    return vss_set_error (err, VSS_ERR_DIMENSION,
                          "vector has dimension %u, the index %u", dim,
                          idx->p.dim);
  for (i = 0; i < dim; i++) {
    if (!isfinite (v[i]))
      return vss_set_error (err, VSS_ERR_INVALID,
                            "vector component %u is not finite", i);
    n2 += (double)v[i] * v[i];
  }
  if (idx->p.metric == VSS_METRIC_COSINE && !(n2 > 0))
    return vss_set_error (err, VSS_ERR_INVALID,
                          "zero vector has no cosine distance");
  if (!isfinite (n2))
    return vss_set_error (err, VSS_ERR_INVALID,
                          "vector norm overflows a float");
  return 0;
}

int
vss_index_store (vss_index *idx, uint32_t slot, uint64_t id,
                 const float *prepared, int level)
{
  uint8_t *e = vss_elem (idx, slot);
  uint32_t dim = idx->p.dim;

  memset (e, 0, idx->elem_size);
  if (!idx->quant) {
    memcpy (e, prepared, dim * sizeof (float));
  } else {
    size_t pad = ((size_t)dim + 3) & ~(size_t)3;
    float scale = vss_quantize_i8 (prepared, dim, (int8_t *)e);
    float n2 = idx->k->dot (prepared, prepared, dim);
    memcpy (e + pad, &scale, sizeof scale);
    memcpy (e + pad + 4, &n2, sizeof n2);
    memcpy (idx->f32 + (size_t)slot * dim, prepared, dim * sizeof (float));
    if (idx->u4) {
      uint8_t *c = idx->u4 + (size_t)slot * idx->u4_stride;
      float s4 = vss_quantize_u4 (prepared, dim, c);
      memcpy (c + idx->u4_blocks * 64, &s4, sizeof s4);
      memcpy (c + idx->u4_blocks * 64 + 4, &n2, sizeof n2);
    }
  }
  memcpy (e + idx->off_id, &id, sizeof id);
  idx->levels[slot] = (uint8_t)level;
  idx->deleted[slot] = 0;
  idx->upper[slot] = NULL;
  if (level > 0) {
    idx->upper[slot] = calloc ((size_t)level * (idx->M + 1), sizeof (uint32_t));
    if (!idx->upper[slot])
      return -1;
    idx->upper_bytes += (size_t)level * (idx->M + 1) * sizeof (uint32_t);
  }
  return 0;
}

int
vss_index_add_unlinked (vss_index *idx, uint64_t id, const float *vec,
                        uint32_t dim, vss_error *err)
{
  uint32_t slot;
  int level = 0, rc = -1, have_link_lock = 0;

  if (!idx)
    return vss_set_error (err, VSS_ERR_INVALID, "no index");
  if (check_vector (idx, vec, dim, err) < 0)
    return -1;
  pthread_rwlock_wrlock (&idx->lock);
  if (idx->n == idx->cap) {
    /* Growing moves the blocks that a linker reads without the lock:
     * wait for it to finish (link_lock comes first). */
    pthread_rwlock_unlock (&idx->lock);
    pthread_mutex_lock (&idx->link_lock);
    have_link_lock = 1;
    pthread_rwlock_wrlock (&idx->lock);
  }
  if (vss_idmap_get (&idx->map, id) != VSS_NONE) {
    vss_set_error (err, VSS_ERR_DUPLICATE, "id %llu is already present",
                   (unsigned long long)id);
    goto out;
  }
  if (idx->n == idx->cap) {
    size_t want = idx->cap < 1024 ? 1024 : idx->cap * 2;
    if (vss_index_grow (idx, want) < 0
        && vss_index_grow (idx, idx->cap + idx->cap / 8 + 1) < 0) {
      vss_set_error (err, VSS_ERR_NOMEM,
                     "cannot grow the index past %zu vectors", idx->cap);
      goto out;
    }
    /* the linker's visited set, with the linker held off */
    if (vss_ctx_reserve (idx->wctx, idx->cap) < 0) {
      vss_set_error (err, VSS_ERR_NOMEM, "out of memory");
      goto out;
    }
  }
  slot = (uint32_t)idx->n;
  memcpy (idx->sbuf, vec, dim * sizeof (float));
  if (idx->p.metric == VSS_METRIC_COSINE)
    vss_normalize_f32 (idx->sbuf, dim);
  if (idx->p.kind == VSS_INDEX_HNSW)
    level = vss_hnsw_random_level (idx);
  if (vss_index_store (idx, slot, id, idx->sbuf, level) < 0
      || vss_idmap_put (&idx->map, id, slot) < 0) {
    free (idx->upper[slot]);
    idx->upper[slot] = NULL;
    vss_set_error (err, VSS_ERR_NOMEM, "out of memory");
    goto out;
  }
  idx->n++;
  idx->live++;
  if (idx->p.kind != VSS_INDEX_HNSW)
    idx->linked = idx->n;
  rc = 0;
out:
  pthread_rwlock_unlock (&idx->lock);
  if (have_link_lock)
    pthread_mutex_unlock (&idx->link_lock);
  return rc;
}

/* vss_index_link_next with link_lock held. */
static int
link_next_locked (vss_index *idx, uint32_t skip_below, vss_error *err)
{
  uint32_t slot;
  size_t nplan = 0;
  int skip, rc = 0;

  pthread_rwlock_rdlock (&idx->lock);
  if (idx->linked >= idx->n) {
    pthread_rwlock_unlock (&idx->lock);
    return 0;
  }
  slot = (uint32_t)idx->linked;
  skip = idx->p.kind != VSS_INDEX_HNSW || idx->deleted[slot]
         || slot < skip_below;
  pthread_rwlock_unlock (&idx->lock);
  /* Planning reads the graph, which only linkers change (we hold
   * link_lock), and rows stored before the lock above, which never change;
   * growth waits for link_lock. So it holds no lock at all: searches and
   * the storing of new rows go on meanwhile. */
  if (!skip)
    rc = vss_hnsw_plan (idx, slot, &nplan);

  pthread_rwlock_wrlock (&idx->lock);
  if (!skip && rc == 0) {
    vss_hnsw_apply (idx, slot, nplan);
  } else if (!skip) {
    /* stored but not linked: remove it rather than leave it unreachable */
    if (!idx->deleted[slot]) {
      idx->deleted[slot] = 1;
      idx->live--;
      vss_idmap_del (&idx->map, vss_elem_id (idx, slot));
    }
    vss_set_error (err, VSS_ERR_NOMEM, "out of memory while linking id %llu",
                   (unsigned long long)vss_elem_id (idx, slot));
  }
  idx->linked++;
  pthread_rwlock_unlock (&idx->lock);
  return rc < 0 ? -1 : 1;
}

int
vss_index_link_next (vss_index *idx, uint32_t skip_below, vss_error *err)
{
  int rc;

  if (!idx)
    return vss_set_error (err, VSS_ERR_INVALID, "no index");
  pthread_mutex_lock (&idx->link_lock);
  rc = link_next_locked (idx, skip_below, err);
  pthread_mutex_unlock (&idx->link_lock);
  return rc;
}

/* Links every row stored so far; with link_lock held. */
int
vss_index_link_all_locked (vss_index *idx, vss_error *err)
{
  int rc, failed = 0;

  while ((rc = link_next_locked (idx, 0, err)) != 0)
    if (rc < 0)
      failed = 1;
  return failed ? -1 : 0;
}

size_t
vss_index_unlinked (vss_index *idx)
{
  size_t n;

  if (!idx)
    return 0;
  pthread_rwlock_rdlock (&idx->lock);
  n = idx->n - idx->linked;
  pthread_rwlock_unlock (&idx->lock);
  return n;
}

int
vss_index_add (vss_index *idx, uint64_t id, const float *vec, uint32_t dim,
               vss_error *err)
{
  int rc;

  if (vss_index_add_unlinked (idx, id, vec, dim, err) < 0)
    return -1;
  /* this row and any stored before it by another thread */
  pthread_mutex_lock (&idx->link_lock);
  rc = vss_index_link_all_locked (idx, err);
  pthread_mutex_unlock (&idx->link_lock);
  return rc;
}

int
vss_index_remove (vss_index *idx, uint64_t id, vss_error *err)
{
  uint32_t slot;
  int rc = -1;

  if (!idx)
    return vss_set_error (err, VSS_ERR_INVALID, "no index");
  pthread_rwlock_wrlock (&idx->lock);
  slot = vss_idmap_get (&idx->map, id);
  if (slot == VSS_NONE) {
    vss_set_error (err, VSS_ERR_NOT_FOUND, "id %llu is not present",
                   (unsigned long long)id);
  } else {
    idx->deleted[slot] = 1;
    idx->live--;
    vss_idmap_del (&idx->map, id);
    rc = 0;
  }
  pthread_rwlock_unlock (&idx->lock);
  return rc;
}

static int
cmp_pair (const void *a, const void *b)
{
  const vss_pair *x = a, *y = b;
  return x->d < y->d ? -1 : x->d > y->d ? 1 : (x->id > y->id) - (x->id < y->id);
}

/* Moves ctx->res into `out`, nearest first, at most k, with f32 distances. */
static int
collect (vss_index *idx, vss_ctx *ctx, const vss_query *q, uint32_t k,
         vss_hit *out, vss_error *err)
{
  size_t n = ctx->res.len, i;

  if (!idx->quant) {
    while (ctx->res.len > k)
      vss_heap_pop_max (&ctx->res);
    n = ctx->res.len;
    while (ctx->res.len > 0) {
      vss_pair p = vss_heap_pop_max (&ctx->res);
      out[ctx->res.len].id = vss_elem_id (idx, p.id);
      out[ctx->res.len].distance = p.d;
    }
    return (int)n;
  }
  /* int8 distances: re-rank the best candidates in f32. The int8 order is
   * close to the true one, so for int8 storage the nearest 3k (at least
   * k + 20) of the beam suffice, each re-ranked row costing a cold read of
   * its f32 copy; f32 storage re-ranks the whole beam. */
  if (idx->p.storage == VSS_STORAGE_INT8) {
    size_t keep = (size_t)k * 3 > (size_t)k + 20 ? (size_t)k * 3 : k + 20;
    while (ctx->res.len > keep)
      vss_heap_pop_max (&ctx->res);
    n = ctx->res.len;
  }
  if (vss_ctx_tmp_reserve (ctx, n ? n : 1) < 0)
    return vss_set_error (err, VSS_ERR_NOMEM, "out of memory");
  for (i = 0; i < n; i++) {
    uint32_t slot = ctx->res.v[i].id;
    ctx->tmp[i].id = slot;
    ctx->tmp[i].d = vss_dist_exact (idx, q->f, slot);
  }
  ctx->res.len = 0;
  qsort (ctx->tmp, n, sizeof *ctx->tmp, cmp_pair);
  if (n > k)
    n = k;
  for (i = 0; i < n; i++) {
    out[i].id = vss_elem_id (idx, ctx->tmp[i].id);
    out[i].distance = ctx->tmp[i].d;
  }
  return (int)n;
}

/* The graph, and the rows stored but not yet linked by an exact scan:
 * first (the newest rows) for a within search, merged into the graph's
 * candidates for k-NN. -1 asks for an exact scan of everything. */
static int
graph_search (vss_index *idx, vss_ctx *ctx, const vss_query *q,
              const vss_search_opts *o, vss_hit *out)
{
  vss_hit tail_nearest;
  int rc;

  tail_nearest.distance = INFINITY;
  if (o->within && idx->linked < idx->n) {
    rc = vss_flat_search (idx, ctx, q, o, idx->linked, idx->n, 0, out);
    if (rc != 0)
      return rc;
    if (o->nearest)
      tail_nearest = *o->nearest;
  }
  rc = vss_hnsw_search (idx, ctx, q, o, out);
  if (o->within) {
    if (rc == 0 && o->nearest && tail_nearest.distance < o->nearest->distance)
      *o->nearest = tail_nearest;
    return rc;
  }
  /* Fewer than k from the graph while more rows live: a filter, expired
   * rows or tombstones cut the walk short, a row is unreachable, or rows
   * wait to be linked. The exact scan settles it, so k hits come back
   * whenever k rows qualify. */
  if (rc >= 0 && (size_t)rc < o->k && (size_t)rc < idx->live)
    return -1;
  if (rc >= 0 && idx->linked < idx->n)
    rc = vss_flat_search (idx, ctx, q, o, idx->linked, idx->n, 1, out);
  return rc;
}

int
vss_index_search_opts (vss_index *idx, const float *query, uint32_t dim,
                       const vss_search_opts *o, vss_hit *out, vss_error *err)
{
  vss_search_opts oo;
  vss_ctx *ctx;
  vss_query q;
  int rc;

  if (!idx)
    return vss_set_error (err, VSS_ERR_INVALID, "no index");
  if (!o->within && o->k == 0)
    return vss_set_error (err, VSS_ERR_INVALID, "k must be > 0");
  if (!out)
    return vss_set_error (err, VSS_ERR_INVALID, "no output array");
  if (o->within && isnan (o->r))
    return vss_set_error (err, VSS_ERR_INVALID, "r is NaN");
  if (check_vector (idx, query, dim, err) < 0)
    return -1;
  pthread_rwlock_rdlock (&idx->lock);
  if (idx->live == 0) {
    pthread_rwlock_unlock (&idx->lock);
    return 0;
  }
  oo = *o;
  if (oo.ef == 0)
    oo.ef = idx->p.ef_search;
  o = &oo;
  ctx = vss_ctx_acquire (idx);
  if (!ctx) {
    pthread_rwlock_unlock (&idx->lock);
    return vss_set_error (err, VSS_ERR_NOMEM, "out of memory");
  }
  vss_query_prepare (idx, ctx, query, &q);
  if (o->within && idx->u4)
    vss_query_use_u4 (idx, ctx, &q);
  if (idx->p.kind == VSS_INDEX_HNSW && !o->exact)
    rc = graph_search (idx, ctx, &q, o, out);
  else
    rc = -1;
  if (rc == -1)
    rc = vss_flat_search (idx, ctx, &q, o, 0, idx->n, 0, out);
  if (rc == -2)
    rc = vss_set_error (err, VSS_ERR_NOMEM, "out of memory");
  else if (!o->within)
    rc = collect (idx, ctx, &q, o->k, out, err);
  vss_ctx_release (idx, ctx);
  pthread_rwlock_unlock (&idx->lock);
  return rc;
}

int
vss_index_search (vss_index *idx, const float *query, uint32_t dim, uint32_t k,
                  uint32_t ef, vss_filter_fn filter, void *user_data,
                  vss_hit *out, vss_error *err)
{
  vss_search_opts o;

  memset (&o, 0, sizeof o);
  o.k = k;
  o.ef = ef;
  o.filter = filter;
  o.user_data = user_data;
  return vss_index_search_opts (idx, query, dim, &o, out, err);
}

int
vss_index_search_within (vss_index *idx, const float *query, uint32_t dim,
                         float r, vss_hit *out, vss_error *err)
{
  vss_search_opts o;

  memset (&o, 0, sizeof o);
  o.k = 1;
  o.within = 1;
  o.r = r;
  return vss_index_search_opts (idx, query, dim, &o, out, err);
}

int
vss_index_get (vss_index *idx, uint64_t id, float *out, uint32_t dim,
               vss_error *err)
{
  uint32_t slot;
  int rc = -1;

  if (!idx || !out)
    return vss_set_error (err, VSS_ERR_INVALID, "no index or no output");
  if (dim != idx->p.dim)
    return vss_set_error (err, VSS_ERR_DIMENSION,
                          "output has dimension %u, the index %u", dim,
                          idx->p.dim);
  pthread_rwlock_rdlock (&idx->lock);
  slot = vss_idmap_get (&idx->map, id);
  if (slot == VSS_NONE) {
    vss_set_error (err, VSS_ERR_NOT_FOUND, "id %llu is not present",
                   (unsigned long long)id);
  } else {
    memcpy (out, vss_elem_f32 (idx, slot), dim * sizeof (float));
    rc = 0;
  }
  pthread_rwlock_unlock (&idx->lock);
  return rc;
}

int
vss_index_contains (vss_index *idx, uint64_t id)
{
  int r;

  if (!idx)
    return 0;
  pthread_rwlock_rdlock (&idx->lock);
  r = vss_idmap_get (&idx->map, id) != VSS_NONE;
  pthread_rwlock_unlock (&idx->lock);
  return r;
}

size_t
vss_index_count (vss_index *idx)
{
  size_t n;

  if (!idx)
    return 0;
  pthread_rwlock_rdlock (&idx->lock);
  n = idx->live;
  pthread_rwlock_unlock (&idx->lock);
  return n;
}

size_t
vss_index_memory_used (vss_index *idx)
{
  size_t m;

  if (!idx)
    return 0;
  pthread_rwlock_rdlock (&idx->lock);
  /* The two large blocks count by the slots in use: capacity reserved
   * ahead is address space, not memory, until rows are written into it. */
  m = sizeof *idx + idx->cap * (2 + sizeof (uint32_t *))
      + idx->n * idx->elem_size;
  if (idx->f32)
    m += idx->n * idx->p.dim * sizeof (float);
  m += idx->n * idx->u4_stride;
  m += idx->upper_bytes;
  m += vss_idmap_memory (&idx->map);
  m += vss_ctx_visited_bytes (idx->wctx);
  m += vss_ctx_pool_memory (&idx->pool);
  pthread_rwlock_unlock (&idx->lock);
  return m;
}

uint32_t
vss_index_dim (const vss_index *idx)
{
  return idx ? idx->p.dim : 0;
}

vss_metric
vss_index_metric (const vss_index *idx)
{
  return idx ? idx->p.metric : VSS_METRIC_COSINE;
}

void
vss_index_set_ef_search (vss_index *idx, uint32_t ef)
{
  if (!idx)
    return;
  pthread_rwlock_wrlock (&idx->lock);
  idx->p.ef_search = ef ? ef : 64;
  pthread_rwlock_unlock (&idx->lock);
}
