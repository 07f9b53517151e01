/* libvssindex: the HNSW graph (insert, layer search, neighbour heuristic)
 * and the distance helpers both graph and flat searches use.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Called with the index lock held: shared for searches, exclusive for
 * inserts. Removed elements stay in the graph as tombstones: they are
 * traversed, never returned (no repair, as in hnswlib's mark-delete).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vss-index-private.h"

#define VSS_MAX_M0 512
#ifndef VSS_PREFETCH_AHEAD
#define VSS_PREFETCH_AHEAD 2
#endif

static inline const int8_t *
elem_i8 (const vss_index *idx, uint32_t slot, float *scale, float *norm2)
{
  const uint8_t *e = vss_elem (idx, slot);
  size_t pad = ((size_t)idx->p.dim + 3) & ~(size_t)3;

  memcpy (scale, e + pad, sizeof *scale);
  memcpy (norm2, e + pad + 4, sizeof *norm2);
  return (const int8_t *)e;
}

/* The distance from an estimated dot product and the row's squared norm. */
static inline float
dist_from_dot (const vss_index *idx, const vss_query *q, float n2, float dot)
{
  if (idx->p.metric == VSS_METRIC_L2)
    return q->norm2 + n2 - 2.0f * dot;
  return 1.0f - dot;
}

static inline float
dist_i8 (const vss_index *idx, const vss_query *q, uint32_t slot)
{
  float s, n2;
  const int8_t *v = elem_i8 (idx, slot, &s, &n2);

  return dist_from_dot (idx, q, n2,
                        q->scale * s * (float)idx->k->dot_i8 (q->q8, v, idx->p.dim));
}

static inline float
dist_u4 (const vss_index *idx, const vss_query *q, uint32_t slot)
{
  const uint8_t *c = vss_elem_u4 (idx, slot);
  float s, n2;
  int32_t raw;

  memcpy (&s, c + idx->u4_blocks * 64, sizeof s);
  memcpy (&n2, c + idx->u4_blocks * 64 + 4, sizeof n2);
  raw = idx->k->dot_u4 (c, q->q8, idx->u4_blocks) - 8 * q->q8sum;
  return dist_from_dot (idx, q, n2, q->scale * s * (float)raw);
}

float
vss_dist_q (const vss_index *idx, const vss_query *q, uint32_t slot)
{
  uint32_t dim = idx->p.dim;

  if (q->q8 == NULL) {
    const float *v = vss_elem_f32 (idx, slot);
    if (idx->p.metric == VSS_METRIC_L2)
      return idx->k->l2sq (q->f, v, dim);
    return 1.0f - idx->k->dot (q->f, v, dim);
  }
  if (q->u4)
    return dist_u4 (idx, q, slot);
  return dist_i8 (idx, q, slot);
}

float
vss_dist_exact (const vss_index *idx, const float *qf, uint32_t slot)
{
  const float *v = vss_elem_f32 (idx, slot);

  if (idx->p.metric == VSS_METRIC_L2)
    return idx->k->l2sq (qf, v, idx->p.dim);
  return 1.0f - idx->k->dot (qf, v, idx->p.dim);
}

void
vss_query_prepare (const vss_index *idx, vss_ctx *ctx, const float *raw,
                   vss_query *q)
{
  uint32_t dim = idx->p.dim;

  memcpy (ctx->qf, raw, dim * sizeof (float));
  if (idx->p.metric == VSS_METRIC_COSINE)
    vss_normalize_f32 (ctx->qf, dim);
  q->f = ctx->qf;
  q->q8 = NULL;
  q->scale = 0;
  q->norm2 = 0;
  q->u4 = 0;
  q->q8sum = 0;
  if (idx->quant) {
    q->scale = vss_quantize_i8 (ctx->qf, dim, ctx->q8);
    q->q8 = ctx->q8;
    q->norm2 = idx->k->dot (ctx->qf, ctx->qf, dim);
  }
}

void
vss_query_use_u4 (const vss_index *idx, vss_ctx *ctx, vss_query *q)
{
  uint32_t dim = idx->p.dim, i;

  memset (ctx->q8 + dim, 0, idx->u4_blocks * VSS_U4_BLOCK - dim);
  q->u4 = 1;
  q->q8sum = 0;
  for (i = 0; i < dim; i++)
    q->q8sum += q->q8[i];
}

/* The query form of a stored element (for inserts). */
static void
query_of_slot (const vss_index *idx, uint32_t slot, vss_query *q)
{
  q->f = vss_elem_f32 (idx, slot);
  q->q8 = NULL;
  q->scale = 0;
  q->norm2 = 0;
  q->u4 = 0;
  q->q8sum = 0;
  if (idx->quant)
    q->q8 = elem_i8 (idx, slot, &q->scale, &q->norm2);
}

static inline float
dist_slots (const vss_index *idx, uint32_t a, uint32_t b)
{
  vss_query q;

  query_of_slot (idx, a, &q);
  return vss_dist_q (idx, &q, b);
}

int
vss_hnsw_random_level (vss_index *idx)
{
  /* xorshift64* */
  uint64_t x = idx->rng;
  double u, l;

  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  idx->rng = x;
  u = (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
  if (u <= 0)
    u = 1e-300;
  l = -log (u) * idx->level_mult;
  return l >= VSS_MAX_LEVEL ? VSS_MAX_LEVEL : (int)l;
}

/* The whole vector: at 1024 dimensions a distance is memory-bound, and
 * fetching the next vector while computing this one doubles the lines in
 * flight. */
static inline void
prefetch_elem (const vss_index *idx, const vss_query *q, uint32_t slot)
{
  const uint8_t *e;
  size_t off, len;

  if (q->q8 == NULL) {
    e = (const uint8_t *)vss_elem_f32 (idx, slot);
    len = (size_t)idx->p.dim * sizeof (float);
  } else if (q->u4) {
    e = vss_elem_u4 (idx, slot);
    len = idx->u4_stride;
  } else {
    /* the vector, then the links (read when it is expanded) */
    e = vss_elem (idx, slot);
    len = idx->off_id;
  }
  for (off = 0; off < len; off += 64)
    __builtin_prefetch (e + off, 0, 3);
}

static inline int
accepted (const vss_index *idx, const vss_search_opts *o, uint32_t slot)
{
  if (o == NULL)
    return 1;
  if (idx->deleted[slot] || slot < o->min_slot)
    return 0;
  return o->filter == NULL || o->filter (vss_elem_id (idx, slot), o->user_data);
}

/* A within-r search with no filter callback only skips expired rows and
 * tombstones: they still count towards the beam, so that the walk converges
 * as an unfiltered one does instead of wandering in search of ef accepted
 * rows. A witness within r of the query is near it, among what the beam
 * looks at either way. */
static inline int
loose_within (const vss_search_opts *o)
{
  return o != NULL && o->within && o->filter == NULL;
}

/* Within-r test on a storage-form distance: 4-bit and int8 distances are
 * only estimates, so near the bound the finer form decides: 4-bit, then
 * int8, then f32. */
static inline int
within_hit (const vss_index *idx, const vss_query *q, uint32_t slot, float d,
            const vss_search_opts *o, vss_hit *hit)
{
  if (q->u4) {
    float margin = idx->p.metric == VSS_METRIC_L2
                       ? VSS_U4_MARGIN * (q->norm2 + 1e-6f) + VSS_U4_MARGIN * d
                       : VSS_U4_MARGIN;
    if (d > o->r + margin)
      return 0;
    d = dist_i8 (idx, q, slot);
  }
  if (q->q8 != NULL) {
    float margin = idx->p.metric == VSS_METRIC_L2
                       ? 0.03f * (q->norm2 + 1e-6f) + 0.03f * d
                       : 0.03f;
    if (d > o->r + margin)
      return 0;
    d = vss_dist_exact (idx, q->f, slot);
  }
  if (d > o->r)
    return 0;
  hit->id = vss_elem_id (idx, slot);
  hit->distance = d;
  return 1;
}

/* Greedy walk at one upper level. */
static uint32_t
greedy (const vss_index *idx, const vss_query *q, uint32_t cur, float *curd,
        int level, const vss_search_opts *o, vss_hit *hit, int *found)
{
  int changed = 1;

  while (changed) {
    const uint32_t *l = vss_links (idx, cur, level);
    uint32_t i, cnt = l[0];
    changed = 0;
    /* upper levels are few hops of at most M rows: all in flight at once */
    for (i = 0; i < cnt; i++)
      prefetch_elem (idx, q, l[1 + i]);
    for (i = 0; i < cnt; i++) {
      uint32_t nb = l[1 + i];
      float d;
      d = vss_dist_q (idx, q, nb);
      if (o && o->within && accepted (idx, o, nb)
          && within_hit (idx, q, nb, d, o, hit)) {
        *found = 1;
        return nb;
      }
      if (d < *curd) {
        *curd = d;
        cur = nb;
        changed = 1;
      }
    }
  }
  return cur;
}

/* Beam search at `level` from `ep`; the ef best accepted elements end up in
 * ctx->res (max-heap). Returns 0, 1 (within hit), -1 (gave up: visited more
 * than `visit_cap` without filling the result), -2 (no memory). */
static int
search_layer (const vss_index *idx, vss_ctx *ctx, const vss_query *q,
              uint32_t ep, float ep_d, int level, uint32_t ef,
              const vss_search_opts *o, vss_hit *hit, size_t visit_cap)
{
  float bound = INFINITY;
  size_t visited = 1;
  uint32_t fresh[VSS_MAX_M0];
  int loose = loose_within (o), acc;
  /* a 4-bit row is 9 lines, not 18: twice as many rows in flight (a walk
   * on caches gone cold between frames went from 0.43 to 0.39 ms) */
  uint32_t ahead = q->u4 ? 2 * VSS_PREFETCH_AHEAD : VSS_PREFETCH_AHEAD;

  ctx->cand.len = 0;
  ctx->res.len = 0;
  vss_ctx_visit_reset (ctx);
  vss_ctx_visit (ctx, ep);
  acc = accepted (idx, o, ep);
  if (acc && o && o->within && within_hit (idx, q, ep, ep_d, o, hit))
    return 1;
  if (acc || loose) {
    vss_heap_push_max (&ctx->res, ep_d, ep);
    bound = ep_d;
  }
  if (vss_heap_push_min (&ctx->cand, ep_d, ep) < 0)
    return -2;

  while (ctx->cand.len > 0) {
    vss_pair c = ctx->cand.v[0];
    const uint32_t *l;
    uint32_t i, cnt, nf = 0;

    if (c.d > bound && ctx->res.len >= ef)
      break;
    vss_heap_pop_min (&ctx->cand);
    l = vss_links (idx, c.id, level);
    cnt = l[0];
    for (i = 0; i < cnt; i++) {
      uint32_t nb = l[1 + i];
      if (!vss_ctx_visit (ctx, nb))
        fresh[nf++] = nb;
    }
    for (i = 0; i < nf && i < ahead; i++)
      prefetch_elem (idx, q, fresh[i]);
    visited += nf;
    for (i = 0; i < nf; i++) {
      uint32_t nb = fresh[i];
      float d;
      if (i + ahead < nf)
        prefetch_elem (idx, q, fresh[i + ahead]);
      d = vss_dist_q (idx, q, nb);
      if (ctx->res.len < ef || d < bound) {
        if (vss_heap_push_min (&ctx->cand, d, nb) < 0)
          return -2;
        if (q->u4) {
          /* its links, read if it is expanded (the codes live apart) */
          const uint8_t *e = vss_elem (idx, nb);
          size_t off;
          for (off = idx->off_links; off < idx->off_id; off += 64)
            __builtin_prefetch (e + off, 0, 3);
        }
        acc = accepted (idx, o, nb);
        if (acc && o && o->within && within_hit (idx, q, nb, d, o, hit))
          return 1;
        if (acc || loose) {
          if (vss_heap_push_max (&ctx->res, d, nb) < 0)
            return -2;
          if (ctx->res.len > ef)
            vss_heap_pop_max (&ctx->res);
          bound = ctx->res.v[0].d;
        }
      }
    }
    if (visited > visit_cap && ctx->res.len < ef)
      return -1;
  }
  return 0;
}

static int
cmp_pair (const void *a, const void *b)
{
  const vss_pair *x = a, *y = b;
  return x->d < y->d ? -1 : x->d > y->d ? 1 : (x->id > y->id) - (x->id < y->id);
}

/* hnswlib's heuristic: keep a candidate only if it is nearer to the base
 * than to every neighbour kept so far. `c` is sorted nearest first. */
static uint32_t
select_neighbors (const vss_index *idx, const vss_pair *c, size_t nc,
                  uint32_t m, uint32_t *out, int keep_pruned)
{
  uint32_t n = 0, np = 0;
  uint32_t pruned[VSS_MAX_M0];
  size_t i;

  if (nc <= m) {
    for (i = 0; i < nc; i++)
      out[i] = c[i].id;
    return (uint32_t)nc;
  }
  for (i = 0; i < nc && n < m; i++) {
    vss_query cq;
    uint32_t j;
    int good = 1;
    query_of_slot (idx, c[i].id, &cq);
    for (j = 0; j < n; j++) {
      if (vss_dist_q (idx, &cq, out[j]) < c[i].d) {
        good = 0;
        break;
      }
    }
    if (good)
      out[n++] = c[i].id;
    else if (np < m)
      pruned[np++] = c[i].id;
  }
  /* Fill the list up with the nearest pruned ones: in tight clusters of
   * near-duplicates (video) the heuristic alone leaves nodes with no
   * in-links, unreachable by any search. */
  for (i = 0; keep_pruned && i < np && n < m; i++)
    out[n++] = pruned[i];
  return n;
}

/* The new link list of `s` at `level` once `fresh` links to it, into
 * `out` (mmax entries); returns its length. Reads the graph only. */
static uint32_t
plan_back (const vss_index *idx, uint32_t s, uint32_t fresh, int level,
           uint32_t *out)
{
  const uint32_t *l = vss_links (idx, s, level);
  uint32_t mmax = level == 0 ? idx->M0 : idx->M;
  uint32_t cnt = l[0], i;
  vss_pair c[VSS_MAX_M0 + 1];

  if (cnt < mmax) {
    memcpy (out, l + 1, cnt * sizeof (uint32_t));
    out[cnt] = fresh;
    return cnt + 1;
  }
  for (i = 0; i < cnt; i++) {
    c[i].id = l[1 + i];
    c[i].d = dist_slots (idx, s, l[1 + i]);
  }
  c[cnt].id = fresh;
  c[cnt].d = dist_slots (idx, s, fresh);
  qsort (c, cnt + 1, sizeof c[0], cmp_pair);
  return select_neighbors (idx, c, cnt + 1, mmax, out, 1);
}

static inline uint32_t *
plan_rec (const vss_index *idx, size_t i)
{
  return idx->plan + i * (3 + (size_t)idx->M0);
}

int
vss_hnsw_plan (vss_index *idx, uint32_t slot, size_t *nplan)
{
  vss_ctx *ctx = idx->wctx;
  vss_query q;
  uint32_t cur;
  float curd;
  int l, top, level = idx->levels[slot];
  size_t np = 0, want;

  *nplan = 0;
  /* sized by vss_index_add_unlinked */
  if (ctx->visited_cap < idx->cap)
    return -1;
  if (idx->entry == VSS_NONE)
    return 0;
  top = level < idx->max_level ? level : idx->max_level;
  want = (size_t)(top + 1) * idx->M;
  if (want > idx->plan_cap) {
    uint32_t *p = realloc (idx->plan, want * (3 + (size_t)idx->M0)
                                          * sizeof (uint32_t));
    if (!p)
      return -1;
    idx->plan = p;
    idx->plan_cap = want;
  }
  query_of_slot (idx, slot, &q);
  cur = idx->entry;
  curd = vss_dist_q (idx, &q, cur);
  for (l = idx->max_level; l > level; l--) {
    int found = 0;
    cur = greedy (idx, &q, cur, &curd, l, NULL, NULL, &found);
  }
  for (l = top; l >= 0; l--) {
    uint32_t *ln = vss_links (idx, slot, l);
    uint32_t i, n;
    size_t nc;
    int rc = search_layer (idx, ctx, &q, cur, curd, l, idx->p.ef_construction,
                           NULL, NULL, SIZE_MAX);
    if (rc < 0)
      return -1;
    nc = ctx->res.len;
    if (vss_ctx_tmp_reserve (ctx, nc) < 0)
      return -1;
    while (ctx->res.len > 0) {
      vss_pair p = vss_heap_pop_max (&ctx->res);
      ctx->tmp[ctx->res.len] = p;
    }
    cur = ctx->tmp[0].id;
    curd = ctx->tmp[0].d;
    /* the row's own list: nothing reads it before the row is linked */
    n = select_neighbors (idx, ctx->tmp, nc, idx->M, ln + 1, 0);
    ln[0] = n;
    for (i = 0; i < n; i++) {
      uint32_t *rec = plan_rec (idx, np++);
      rec[0] = ln[1 + i];
      rec[1] = (uint32_t)l;
      rec[2] = plan_back (idx, ln[1 + i], slot, l, rec + 3);
    }
  }
  *nplan = np;
  return 0;
}

void
vss_hnsw_apply (vss_index *idx, uint32_t slot, size_t nplan)
{
  int level = idx->levels[slot];
  size_t i;

  for (i = 0; i < nplan; i++) {
    const uint32_t *rec = plan_rec (idx, i);
    uint32_t *l = vss_links (idx, rec[0], (int)rec[1]);
    memcpy (l + 1, rec + 3, rec[2] * sizeof (uint32_t));
    l[0] = rec[2];
  }
  if (idx->entry == VSS_NONE || level > idx->max_level) {
    idx->max_level = level;
    idx->entry = slot;
  }
}

/* After a within miss: the nearest accepted row of the beam. Storage-form
 * distances pick a few, the f32 ones decide; after a 4-bit walk, whose
 * estimates are coarser, int8 distances first narrow 16 down to 4. */
static void
nearest_in_beam (const vss_index *idx, const vss_ctx *ctx, const vss_query *q,
                 const vss_search_opts *o)
{
  vss_pair best[16];
  size_t i, nb = 0, j, want = q->u4 ? 16 : 4;

  for (i = 0; i < ctx->res.len; i++) {
    vss_pair p = ctx->res.v[i];
    if (!accepted (idx, o, p.id))
      continue;
    if (nb < want)
      nb++;
    else if (!(p.d < best[nb - 1].d))
      continue;
    for (j = nb - 1; j > 0 && p.d < best[j - 1].d; j--)
      best[j] = best[j - 1];
    best[j] = p;
  }
  if (q->u4) {
    for (i = 0; i < nb; i++)
      best[i].d = dist_i8 (idx, q, best[i].id);
    qsort (best, nb, sizeof best[0], cmp_pair);
    if (nb > 4)
      nb = 4;
  }
  o->nearest->distance = INFINITY;
  for (j = 0; j < nb; j++) {
    float d = q->q8 ? vss_dist_exact (idx, q->f, best[j].id) : best[j].d;
    if (d < o->nearest->distance) {
      o->nearest->distance = d;
      o->nearest->id = vss_elem_id (idx, best[j].id);
    }
  }
}

int
vss_hnsw_search (vss_index *idx, vss_ctx *ctx, const vss_query *q,
                 const vss_search_opts *o, vss_hit *hit)
{
  uint32_t cur, ef = o->ef > o->k ? o->ef : o->k;
  float curd;
  int l, rc, found = 0;
  size_t cap = SIZE_MAX;

  if (o->nearest)
    o->nearest->distance = INFINITY;
  if (idx->entry == VSS_NONE)
    return 0;
  cur = idx->entry;
  curd = vss_dist_q (idx, q, cur);
  if (o->within && accepted (idx, o, cur)
      && within_hit (idx, q, cur, curd, o, hit))
    return 1;
  for (l = idx->max_level; l > 0; l--) {
    cur = greedy (idx, q, cur, &curd, l, o, hit, &found);
    if (found)
      return 1;
  }
  /* A selective filter (or many tombstones) makes the beam wander: past a
   * third of the index an exact scan is cheaper. */
  if (!loose_within (o)
      && (o->filter || o->min_slot > 0 || idx->live < idx->n))
    cap = idx->n / 3 + 2 * (size_t)ef;
  rc = search_layer (idx, ctx, q, cur, curd, 0, ef, o, hit, cap);
  if (rc == -2)
    return -2;
  if (rc == -1)
    return -1;
  if (o->within) {
    if (rc == 0 && o->nearest)
      nearest_in_beam (idx, ctx, q, o);
    return rc;
  }
  return (int)ctx->res.len;
}

int
vss_flat_search (vss_index *idx, vss_ctx *ctx, const vss_query *q,
                 const vss_search_opts *o, size_t lo, size_t hi, int append,
                 vss_hit *hit)
{
  uint32_t keep = o->k, best = VSS_NONE;
  float best_d = INFINITY;
  size_t s;

  if (idx->quant && !o->within) {
    /* candidates for the f32 re-rank */
    keep = o->ef > o->k ? o->ef : o->k;
    if (keep < o->k + 16)
      keep = o->k + 16;
  }
  if (!append)
    ctx->res.len = 0;
  if (o->nearest)
    o->nearest->distance = INFINITY;
  if (lo < o->min_slot)
    lo = o->min_slot;
  /* newest first: a dedup hit is most likely among recent rows */
  for (s = hi; s > lo; s--) {
    uint32_t slot = (uint32_t)(s - 1);
    float d;
    if (s >= 2 + lo)
      prefetch_elem (idx, q, slot - 1);
    if (!accepted (idx, o, slot))
      continue;
    d = vss_dist_q (idx, q, slot);
    if (o->within) {
      if (within_hit (idx, q, slot, d, o, hit))
        return 1;
      if (o->nearest && d < best_d) {
        best_d = d;
        best = slot;
      }
      continue;
    }
    if (ctx->res.len < keep) {
      if (vss_heap_push_max (&ctx->res, d, slot) < 0)
        return -2;
    } else if (d < ctx->res.v[0].d) {
      vss_heap_pop_max (&ctx->res);
      vss_heap_push_max (&ctx->res, d, slot);
    }
  }
  if (o->within && o->nearest && best != VSS_NONE) {
    o->nearest->id = vss_elem_id (idx, best);
    o->nearest->distance
        = q->q8 ? vss_dist_exact (idx, q->f, best) : best_d;
  }
  return o->within ? 0 : (int)ctx->res.len;
}
