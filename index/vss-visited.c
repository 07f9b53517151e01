/* libvssindex: per-search scratch (visited bitset, heaps) and
 * the pool that hands one to each searching thread.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The pool's mutex guards only its free list; it is taken while the index
 * lock is held (shared or exclusive), never the other way round.
 */
#include <stdlib.h>
#include <string.h>

#include "vss-index-private.h"

static int
heap_reserve (vss_heap *h, size_t n)
{
  vss_pair *v;
  size_t cap = h->cap ? h->cap : 64;

  if (n <= h->cap)
    return 0;
  while (cap < n)
    cap *= 2;
  v = realloc (h->v, cap * sizeof *v);
  if (!v)
    return -1;
  h->v = v;
  h->cap = cap;
  return 0;
}

int
vss_heap_push_min (vss_heap *h, float d, uint32_t id)
{
  size_t i;

  if (h->len == h->cap && heap_reserve (h, h->len + 1) < 0)
    return -1;
  i = h->len++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (h->v[p].d <= d)
      break;
    h->v[i] = h->v[p];
    i = p;
  }
  h->v[i].d = d;
  h->v[i].id = id;
  return 0;
}

vss_pair
vss_heap_pop_min (vss_heap *h)
{
  vss_pair top = h->v[0], last = h->v[--h->len];
  size_t i = 0, n = h->len;

  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n)
      break;
    if (c + 1 < n && h->v[c + 1].d < h->v[c].d)
      c++;
    if (last.d <= h->v[c].d)
      break;
    h->v[i] = h->v[c];
    i = c;
  }
  if (n > 0)
    h->v[i] = last;
  return top;
}

int
vss_heap_push_max (vss_heap *h, float d, uint32_t id)
{
  size_t i;

  if (h->len == h->cap && heap_reserve (h, h->len + 1) < 0)
    return -1;
  i = h->len++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (h->v[p].d >= d)
      break;
    h->v[i] = h->v[p];
    i = p;
  }
  h->v[i].d = d;
  h->v[i].id = id;
  return 0;
}

vss_pair
vss_heap_pop_max (vss_heap *h)
{
  vss_pair top = h->v[0], last = h->v[--h->len];
  size_t i = 0, n = h->len;

  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n)
      break;
    if (c + 1 < n && h->v[c + 1].d > h->v[c].d)
      c++;
    if (last.d >= h->v[c].d)
      break;
    h->v[i] = h->v[c];
    i = c;
  }
  if (n > 0)
    h->v[i] = last;
  return top;
}

vss_ctx *
vss_ctx_new (const vss_index *idx)
{
  vss_ctx *c = calloc (1, sizeof *c);

  if (!c)
    return NULL;
  c->qf = malloc ((size_t)idx->p.dim * sizeof (float) + 64);
  /* room for the zero padding of 4-bit walks, whole blocks of 128 */
  c->q8 = malloc (vss_u4_blocks (idx->p.dim) * VSS_U4_BLOCK + 64);
  if (!c->qf || !c->q8 || heap_reserve (&c->cand, 256) < 0
      || heap_reserve (&c->res, 256) < 0 || vss_ctx_reserve (c, idx->cap) < 0) {
    vss_ctx_free (c);
    return NULL;
  }
  return c;
}

void
vss_ctx_free (vss_ctx *c)
{
  if (!c)
    return;
  free (c->visited);
  free (c->touched);
  free (c->cand.v);
  free (c->res.v);
  free (c->qf);
  free (c->q8);
  free (c->tmp);
  free (c);
}

int
vss_ctx_reserve (vss_ctx *c, size_t cap)
{
  size_t words = (cap + 63) / 64, old = (c->visited_cap + 63) / 64;
  uint64_t *v;
  uint32_t *t;

  if (cap <= c->visited_cap)
    return 0;
  v = realloc (c->visited, words * sizeof *v);
  if (!v)
    return -1;
  c->visited = v;
  /* new words start clear; the old ones keep the last search's marks,
   * listed in `touched` for the next reset */
  memset (v + old, 0, (words - old) * sizeof *v);
  t = realloc (c->touched, words * sizeof *t);
  if (!t)
    return -1;
  c->touched = t;
  c->visited_cap = cap;
  return 0;
}

void
vss_ctx_visit_reset (vss_ctx *c)
{
  size_t i;

  for (i = 0; i < c->ntouched; i++)
    c->visited[c->touched[i]] = 0;
  c->ntouched = 0;
}

size_t
vss_ctx_visited_bytes (const vss_ctx *c)
{
  return (c->visited_cap + 63) / 64 * (sizeof (uint64_t) + sizeof (uint32_t));
}

int
vss_ctx_tmp_reserve (vss_ctx *c, size_t n)
{
  vss_pair *t;

  if (n <= c->tmp_cap)
    return 0;
  t = realloc (c->tmp, n * sizeof *t);
  if (!t)
    return -1;
  c->tmp = t;
  c->tmp_cap = n;
  return 0;
}

void
vss_ctx_pool_init (vss_ctx_pool *pool)
{
  pthread_mutex_init (&pool->lock, NULL);
  pool->free_list = NULL;
}

void
vss_ctx_pool_clear (vss_ctx_pool *pool)
{
  vss_ctx *c, *n;

  for (c = pool->free_list; c; c = n) {
    n = c->next;
    vss_ctx_free (c);
  }
  pool->free_list = NULL;
  pthread_mutex_destroy (&pool->lock);
}

size_t
vss_ctx_pool_memory (vss_ctx_pool *pool)
{
  size_t m = 0;
  vss_ctx *c;

  pthread_mutex_lock (&pool->lock);
  for (c = pool->free_list; c; c = c->next)
    m += sizeof *c + vss_ctx_visited_bytes (c)
         + (c->cand.cap + c->res.cap + c->tmp_cap) * sizeof (vss_pair);
  pthread_mutex_unlock (&pool->lock);
  return m;
}

/* Called with the index lock held. */
vss_ctx *
vss_ctx_acquire (vss_index *idx)
{
  vss_ctx *c;

  pthread_mutex_lock (&idx->pool.lock);
  c = idx->pool.free_list;
  if (c)
    idx->pool.free_list = c->next;
  pthread_mutex_unlock (&idx->pool.lock);
  if (!c)
    return vss_ctx_new (idx);
  if (vss_ctx_reserve (c, idx->cap) < 0) {
    vss_ctx_release (idx, c);
    return NULL;
  }
  return c;
}

void
vss_ctx_release (vss_index *idx, vss_ctx *c)
{
  pthread_mutex_lock (&idx->pool.lock);
  c->next = idx->pool.free_list;
  idx->pool.free_list = c;
  pthread_mutex_unlock (&idx->pool.lock);
}
