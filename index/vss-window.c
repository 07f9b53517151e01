/* libvssindex: the sliding window for dedup, a time-ordered ring of
 * segments.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Rows get a global sequence number in insertion order; timestamps never
 * decrease, so the live rows are always the suffix [first_live, total). Each
 * segment holds up to `cap` consecutive rows (see segment_rows) in its own HNSW index (local
 * id = row - base), built as rows arrive; the newest segment is searched
 * exactly while it holds at most `exact_limit` rows. A segment whose rows are
 * all dead is freed whole (O(1)); the dead rows of the oldest, partly expired
 * segment are skipped at search time. Nothing is ever removed from a graph.
 *
 * A row is stored in its segment at once and linked into the segment's
 * graph afterwards (vss_index_add_unlinked, vss_index_link_next): on the
 * caller's thread before add returns, or, with link_in_background, on the
 * window's linker thread, while searches find the waiting rows by an exact
 * scan of the segment's tail.
 *
 * Threads: `lock` (a rwlock) guards every field below it; searches hold it
 * shared (the segment indexes lock themselves too, in the order window ->
 * index), add, expire, the setters and clear hold it exclusive, briefly.
 * Linking a row holds `link_lock` (one linker at a time: the thread, or a
 * caller linking itself) but not `lock`: the segment is marked busy first,
 * and a busy segment that leaves the window (expired, cleared) is freed by
 * its linker instead. Order: link_lock -> lock -> index locks. `wake_lock`
 * guards the linker's wake-up flags and is never held with another.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vss-index-private.h"

typedef struct vss_segment vss_segment;
struct vss_segment {
  vss_index *idx;
  uint64_t *ids;
  int64_t *ts;
  uint64_t base; /* sequence number of local row 0 */
  uint32_t n;
  uint32_t cap;     /* rows this segment takes before the next one starts */
  int busy;         /* the linker is at work on it */
  int retired;      /* out of the window: the linker frees it */
  vss_segment *next; /* in the graveyard */
};

struct vss_window {
  vss_window_params p;
  pthread_mutex_t link_lock;
  pthread_mutex_t wake_lock;
  pthread_cond_t wake;
  int work, quit; /* guarded by wake_lock; quit also read atomically */
  pthread_rwlock_t lock;
  vss_segment **ring; /* oldest at head */
  size_t ring_cap, head, len;
  uint64_t total; /* rows ever added */
  uint64_t first_live;
  int64_t last_ts;
  int have_ts;
  pthread_t linker;
  int have_linker;
  vss_error link_err; /* the linker's last failure, for the next add */
  int link_failed;
  /* Segments out of the window, for the linker thread to free: unmapping
   * a large segment takes milliseconds, not to be spent in a decision. */
  vss_segment *graveyard;
};

void
vss_window_params_init (vss_window_params *p, vss_metric metric, uint32_t dim)
{
  memset (p, 0, sizeof *p);
  p->metric = metric;
  p->dim = dim;
  p->storage = VSS_STORAGE_F32;
  p->segment_size = 0;
  p->exact_limit = 0;
  p->M = 16;
  p->ef_construction = 200;
  /* a duplicate is very near its witness: a narrow beam finds it */
  p->ef_search = 32;
  p->ef_within = 0; /* automatic, see within_ef */
}

/* Rows per new segment. Automatic sizing makes a segment as large as a
 * count-bounded window, so that a miss searches at most two graphs (the
 * partly expired older one and the newest): a novel frame is searched in
 * every live segment, and one search of a large graph costs about log(n),
 * much less than several searches of small ones. The price is memory: up
 * to twice the window while the older segment drains. */
static uint32_t
segment_rows (const vss_window *w)
{
  size_t n;

  if (w->p.segment_size > 0)
    return w->p.segment_size;
  if (w->p.max_count == 0)
    return 8192;
  n = w->p.max_count;
  if (n < 1024)
    n = 1024;
  if (n > 131072)
    n = 131072;
  return (uint32_t)n;
}

static uint32_t
exact_rows (const vss_window *w, const vss_segment *s)
{
  uint32_t lim = w->p.exact_limit ? w->p.exact_limit : 1024;
  return lim < s->cap ? lim : s->cap;
}

static void
segment_free (vss_segment *s)
{
  if (!s)
    return;
  vss_index_free (s->idx);
  free (s->ids);
  free (s->ts);
  free (s);
}

static vss_segment *
segment_new (const vss_window *w, vss_error *err)
{
  vss_index_params ip;
  vss_segment *s = calloc (1, sizeof *s);

  if (!s) {
    vss_set_error (err, VSS_ERR_NOMEM, "out of memory");
    return NULL;
  }
  vss_index_params_init (&ip, VSS_INDEX_HNSW, w->p.metric, w->p.dim);
  ip.storage = w->p.storage;
  ip.M = w->p.M;
  ip.ef_construction = w->p.ef_construction;
  ip.ef_search = w->p.ef_search;
  s->cap = segment_rows (w);
  /* all at once: growing copies the graph, a pause in the stream; pages
   * not yet written cost no memory */
  ip.initial_capacity = s->cap;
  s->idx = vss_index_new (&ip, err);
  /* large rows: the walk of first-within searches reads 4-bit codes, half
   * the memory of int8 (the finer forms still decide near r) */
  if (s->idx && w->p.dim >= VSS_U4_MIN_DIM
      && vss_index_enable_u4 (s->idx) < 0) {
    vss_index_free (s->idx);
    s->idx = NULL;
    vss_set_error (err, VSS_ERR_NOMEM, "out of memory");
  }
  s->ids = malloc (s->cap * sizeof *s->ids);
  s->ts = malloc (s->cap * sizeof *s->ts);
  if (!s->idx || !s->ids || !s->ts) {
    if (s->idx)
      vss_set_error (err, VSS_ERR_NOMEM, "out of memory");
    segment_free (s);
    return NULL;
  }
  s->base = w->total;
  return s;
}

static inline vss_segment *
seg_at (const vss_window *w, size_t i)
{
  return w->ring[(w->head + i) % w->ring_cap];
}

vss_window *
vss_window_new (const vss_window_params *p, vss_error *err)
{
  vss_window *w;
  vss_index_params ip;
  vss_index *probe;
  pthread_rwlockattr_t attr;

  if (!p) {
    vss_set_error (err, VSS_ERR_INVALID, "no parameters");
    return NULL;
  }
  /* let the index check metric, dimension, M and storage */
  vss_index_params_init (&ip, VSS_INDEX_HNSW, p->metric, p->dim);
  ip.storage = p->storage;
  ip.M = p->M;
  ip.ef_construction = p->ef_construction;
  ip.initial_capacity = 1;
  probe = vss_index_new (&ip, err);
  if (!probe)
    return NULL;
  vss_index_free (probe);
  if (p->max_age < 0) {
    vss_set_error (err, VSS_ERR_INVALID, "max_age must be >= 0");
    return NULL;
  }
  w = calloc (1, sizeof *w);
  if (!w) {
    vss_set_error (err, VSS_ERR_NOMEM, "out of memory");
    return NULL;
  }
  w->p = *p;
  if (w->p.ef_search == 0)
    w->p.ef_search = 32;
  pthread_rwlockattr_init (&attr);
#ifdef __GLIBC__
  pthread_rwlockattr_setkind_np (&attr,
                                 PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
  pthread_rwlock_init (&w->lock, &attr);
  pthread_rwlockattr_destroy (&attr);
  pthread_mutex_init (&w->link_lock, NULL);
  pthread_mutex_init (&w->wake_lock, NULL);
  pthread_cond_init (&w->wake, NULL);
  if (w->p.max_unlinked == 0)
    w->p.max_unlinked = 1024;
  return w;
}

/* A segment left the window: its linker frees it when done, the linker
 * thread when there is one, else we do. With `lock` held. */
static void
retire_segment (vss_window *w, vss_segment *s)
{
  if (s->busy > 0) {
    s->retired = 1;
  } else if (w->have_linker) {
    s->next = w->graveyard;
    w->graveyard = s;
  } else {
    segment_free (s);
  }
}

static void
free_graveyard (vss_window *w)
{
  vss_segment *g;

  pthread_rwlock_wrlock (&w->lock);
  g = w->graveyard;
  w->graveyard = NULL;
  pthread_rwlock_unlock (&w->lock);
  while (g) {
    vss_segment *next = g->next;
    segment_free (g);
    g = next;
  }
}

static void
wake_linker (vss_window *w)
{
  pthread_mutex_lock (&w->wake_lock);
  w->work = 1;
  pthread_cond_signal (&w->wake);
  pthread_mutex_unlock (&w->wake_lock);
}

static void
drop_all (vss_window *w)
{
  size_t i;

  for (i = 0; i < w->len; i++)
    retire_segment (w, seg_at (w, i));
  w->head = w->len = 0;
}

void
vss_window_free (vss_window *w)
{
  if (!w)
    return;
  if (w->have_linker) {
    pthread_mutex_lock (&w->wake_lock);
    __atomic_store_n (&w->quit, 1, __ATOMIC_RELAXED);
    pthread_cond_signal (&w->wake);
    pthread_mutex_unlock (&w->wake_lock);
    pthread_join (w->linker, NULL);
    w->have_linker = 0;
  }
  drop_all (w);
  free_graveyard (w);
  free (w->ring);
  pthread_rwlock_destroy (&w->lock);
  pthread_cond_destroy (&w->wake);
  pthread_mutex_destroy (&w->wake_lock);
  pthread_mutex_destroy (&w->link_lock);
  free (w);
}

/* Frees the segments with no live row left: O(1) each. */
static void
drop_dead (vss_window *w)
{
  while (w->len > 0) {
    vss_segment *s = seg_at (w, 0);
    if (s->base + s->n > w->first_live)
      break;
    retire_segment (w, s);
    w->head = (w->head + 1) % w->ring_cap;
    w->len--;
  }
  if (w->len == 0)
    w->head = 0;
}

static void
evict_count (vss_window *w)
{
  if (w->p.max_count > 0 && w->total - w->first_live > w->p.max_count)
    w->first_live = w->total - w->p.max_count;
  drop_dead (w);
}

static int
push_segment (vss_window *w, vss_error *err)
{
  vss_segment *s;

  if (w->len == w->ring_cap) {
    size_t cap = w->ring_cap ? w->ring_cap * 2 : 16, i;
    vss_segment **r = malloc (cap * sizeof *r);
    if (!r)
      return vss_set_error (err, VSS_ERR_NOMEM, "out of memory");
    for (i = 0; i < w->len; i++)
      r[i] = seg_at (w, i);
    free (w->ring);
    w->ring = r;
    w->ring_cap = cap;
    w->head = 0;
  }
  s = segment_new (w, err);
  if (!s)
    return -1;
  w->ring[(w->head + w->len) % w->ring_cap] = s;
  w->len++;
  return 0;
}

/* Rows stored and not linked yet; with `lock` held (the segments count
 * them: only a linker, under link_lock, changes the count down). */
static size_t
unlinked_rows (const vss_window *w)
{
  size_t i, n = 0;

  for (i = 0; i < w->len; i++)
    n += vss_index_unlinked (seg_at (w, i)->idx);
  return n;
}

/* Links the oldest waiting row; 1 when one was handled, 0 when none waits,
 * -1 (err set) when it could not be linked (it is then gone from the
 * window). Rows already expired are passed over unlinked. */
static int
link_one (vss_window *w, vss_error *err)
{
  vss_segment *s = NULL;
  uint32_t skip = 0;
  size_t i;
  int rc;

  pthread_mutex_lock (&w->link_lock);
  pthread_rwlock_wrlock (&w->lock);
  for (i = 0; i < w->len && !s; i++)
    if (vss_index_unlinked (seg_at (w, i)->idx) > 0)
      s = seg_at (w, i);
  if (s) {
    s->busy++;
    if (s->base < w->first_live)
      skip = w->first_live - s->base > s->n ? s->n
                                            : (uint32_t)(w->first_live - s->base);
  }
  pthread_rwlock_unlock (&w->lock);
  if (!s) {
    pthread_mutex_unlock (&w->link_lock);
    return 0;
  }
  /* 1 (or -1): the rows waiting, counted above under link_lock, are there */
  rc = vss_index_link_next (s->idx, skip, err);
  pthread_rwlock_wrlock (&w->lock);
  s->busy--;
  if (s->retired && s->busy == 0)
    segment_free (s);
  pthread_rwlock_unlock (&w->lock);
  pthread_mutex_unlock (&w->link_lock);
  return rc;
}

/* Links on the caller's thread until at most `limit` rows wait. */
static int
link_until (vss_window *w, size_t limit, vss_error *err)
{
  for (;;) {
    size_t waiting;
    int rc;
    pthread_rwlock_rdlock (&w->lock);
    waiting = unlinked_rows (w);
    pthread_rwlock_unlock (&w->lock);
    if (waiting <= limit)
      return 0;
    rc = link_one (w, err);
    if (rc <= 0)
      return rc;
  }
}

static void *
linker_main (void *data)
{
  vss_window *w = data;

  pthread_mutex_lock (&w->wake_lock);
  while (!w->quit) {
    if (!w->work) {
      pthread_cond_wait (&w->wake, &w->wake_lock);
      continue;
    }
    w->work = 0;
    pthread_mutex_unlock (&w->wake_lock);
    free_graveyard (w);
    while (!__atomic_load_n (&w->quit, __ATOMIC_RELAXED)) {
      vss_error e = { 0 };
      int rc = link_one (w, &e);
      if (rc == 0)
        break;
      if (rc < 0) {
        pthread_rwlock_wrlock (&w->lock);
        w->link_err = e;
        w->link_failed = 1;
        pthread_rwlock_unlock (&w->lock);
      }
    }
    pthread_mutex_lock (&w->wake_lock);
  }
  pthread_mutex_unlock (&w->wake_lock);
  return NULL;
}

int
vss_window_add (vss_window *w, uint64_t id, int64_t ts, const float *vec,
                uint32_t dim, vss_error *err)
{
  vss_segment *s;
  size_t waiting = 0;
  int rc = -1, background;

  if (!w)
    return vss_set_error (err, VSS_ERR_INVALID, "no window");
  pthread_rwlock_wrlock (&w->lock);
  if (w->link_failed) {
    w->link_failed = 0;
    vss_set_error (err, w->link_err.code, "%s", w->link_err.msg);
    goto out;
  }
  if (w->have_ts && ts < w->last_ts)
    ts = w->last_ts;
  if (w->len == 0 || seg_at (w, w->len - 1)->n >= seg_at (w, w->len - 1)->cap) {
    if (push_segment (w, err) < 0)
      goto out;
  }
  s = seg_at (w, w->len - 1);
  /* a fresh, still empty segment stays on failure: the next add uses it */
  if (vss_index_add_unlinked (s->idx, s->n, vec, dim, err) < 0)
    goto out;
  s->ids[s->n] = id;
  s->ts[s->n] = ts;
  s->n++;
  w->total++;
  w->last_ts = ts;
  w->have_ts = 1;
  evict_count (w);
  if (w->p.link_in_background && !w->have_linker)
    w->have_linker
        = pthread_create (&w->linker, NULL, linker_main, w) == 0;
  waiting = unlinked_rows (w);
  rc = 0;
out:
  background = w->have_linker;
  pthread_rwlock_unlock (&w->lock);
  if (rc < 0)
    return rc;
  /* without a linker thread (not asked for, or it could not start), the
   * caller links */
  if (!background)
    return link_until (w, 0, err);
  wake_linker (w);
  if (waiting > w->p.max_unlinked)
    return link_until (w, w->p.max_unlinked, err);
  return 0;
}

size_t
vss_window_unlinked (vss_window *w)
{
  size_t n;

  if (!w)
    return 0;
  pthread_rwlock_rdlock (&w->lock);
  n = unlinked_rows (w);
  pthread_rwlock_unlock (&w->lock);
  return n;
}

int
vss_window_link_all (vss_window *w, vss_error *err)
{
  if (!w)
    return vss_set_error (err, VSS_ERR_INVALID, "no window");
  return link_until (w, 0, err);
}

size_t
vss_window_expire (vss_window *w, int64_t now)
{
  size_t live;
  int wake;

  if (!w)
    return 0;
  pthread_rwlock_wrlock (&w->lock);
  if (w->p.max_age > 0 && w->len > 0) {
    /* rows with ts < cutoff are gone; avoid overflow near INT64_MIN */
    int64_t cutoff
        = now < INT64_MIN + w->p.max_age ? INT64_MIN : now - w->p.max_age;
    while (w->len > 0) {
      vss_segment *s = seg_at (w, 0);
      uint32_t lo, hi;
      if (s->n > 0 && s->ts[s->n - 1] < cutoff) {
        if (w->first_live < s->base + s->n)
          w->first_live = s->base + s->n;
        drop_dead (w);
        continue;
      }
      /* first row with ts >= cutoff */
      lo = 0;
      hi = s->n;
      while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->ts[mid] < cutoff)
          lo = mid + 1;
        else
          hi = mid;
      }
      if (w->first_live < s->base + lo)
        w->first_live = s->base + lo;
      break;
    }
  }
  live = (size_t)(w->total - w->first_live);
  wake = w->graveyard != NULL;
  pthread_rwlock_unlock (&w->lock);
  if (wake)
    wake_linker (w);
  return live;
}

/* The beam of a first-within search. A larger graph needs a wider beam
 * for the same chance of reaching a near-duplicate's witness: on 1024-d
 * video-like data ef 32 finds 99.9 % of them in 30k rows, but only 97 % in
 * 100k, where ef 64 finds 99.8 %. The nearest row met on a miss is the
 * true nearest more often with 64 as well. */
static uint32_t
within_ef (const vss_window *w, const vss_segment *s, int nearest)
{
  if (w->p.ef_within)
    return w->p.ef_within;
  /* reporting the nearest row met on a miss wants the wider beam too */
  return s->n <= 32768 && !nearest ? 32 : 64;
}

/* Runs `o` on segment i (newest = len - 1). */
static int
search_segment (const vss_window *w, size_t i, const float *query, uint32_t dim,
                vss_search_opts *o, vss_hit *out, vss_error *err)
{
  vss_segment *s = seg_at (w, i);

  o->min_slot
      = s->base < w->first_live ? (uint32_t)(w->first_live - s->base) : 0;
  if (o->min_slot >= s->n)
    return 0;
  /* the newest segment while small, and what is left of an old one */
  o->exact = s->n - o->min_slot <= exact_rows (w, s);
  if (o->within)
    o->ef = within_ef (w, s, o->nearest != NULL);
  return vss_index_search_opts (s->idx, query, dim, o, out, err);
}

static int
check_query (const vss_window *w, const float *q, uint32_t dim, vss_error *err)
{
  uint32_t i;
  double n2 = 0;

  if (!q)
    return vss_set_error (err, VSS_ERR_INVALID, "no query vector");
  if (dim != w->p.dim)
    return vss_set_error (err, VSS_ERR_DIMENSION,
                          "vector has dimension %u, the window %u", dim,
                          w->p.dim);
  for (i = 0; i < dim; i++) {
    if (!isfinite (q[i]))
      return vss_set_error (err, VSS_ERR_INVALID,
                            "vector component %u is not finite", i);
    n2 += (double)q[i] * q[i];
  }
  if (w->p.metric == VSS_METRIC_COSINE && !(n2 > 0))
    return vss_set_error (err, VSS_ERR_INVALID,
                          "zero vector has no cosine distance");
  return 0;
}

static int
first_within (vss_window *w, const float *query, uint32_t dim, float r,
              vss_window_hit *out, vss_window_hit *nearest, vss_error *err)
{
  vss_search_opts o;
  vss_hit nh;
  size_t i;
  int rc = 0;

  if (!w || !out)
    return vss_set_error (err, VSS_ERR_INVALID, "no window or no output");
  if (isnan (r))
    return vss_set_error (err, VSS_ERR_INVALID, "r is NaN");
  if (check_query (w, query, dim, err) < 0)
    return -1;
  memset (&o, 0, sizeof o);
  o.k = 1;
  o.within = 1;
  o.r = r;
  if (nearest) {
    nearest->id = 0;
    nearest->ts = 0;
    nearest->distance = INFINITY;
    o.nearest = &nh;
  }
  pthread_rwlock_rdlock (&w->lock);
  for (i = w->len; i > 0; i--) {
    vss_segment *s = seg_at (w, i - 1);
    vss_hit h;
    nh.distance = INFINITY;
    rc = search_segment (w, i - 1, query, dim, &o, &h, err);
    if (rc < 0)
      break;
    if (rc == 1) {
      out->id = s->ids[h.id];
      out->ts = s->ts[h.id];
      out->distance = h.distance;
      break;
    }
    if (nearest && nh.distance < nearest->distance) {
      nearest->id = s->ids[nh.id];
      nearest->ts = s->ts[nh.id];
      nearest->distance = nh.distance;
    }
  }
  pthread_rwlock_unlock (&w->lock);
  return rc;
}

int
vss_window_search_first_within (vss_window *w, const float *query, uint32_t dim,
                                float r, vss_window_hit *out, vss_error *err)
{
  return first_within (w, query, dim, r, out, NULL, err);
}

int
vss_window_search_within_nearest (vss_window *w, const float *query,
                                  uint32_t dim, float r, vss_window_hit *out,
                                  vss_error *err)
{
  vss_window_hit nearest;
  int rc = first_within (w, query, dim, r, out, &nearest, err);

  if (rc == 0)
    *out = nearest;
  return rc;
}

int
vss_window_search (vss_window *w, const float *query, uint32_t dim, uint32_t k,
                   vss_window_hit *out, vss_error *err)
{
  vss_search_opts o;
  vss_hit *h;
  size_t i;
  int n = 0, rc = 0;

  if (!w || !out)
    return vss_set_error (err, VSS_ERR_INVALID, "no window or no output");
  if (k == 0)
    return vss_set_error (err, VSS_ERR_INVALID, "k must be > 0");
  if (check_query (w, query, dim, err) < 0)
    return -1;
  h = malloc (k * sizeof *h);
  if (!h)
    return vss_set_error (err, VSS_ERR_NOMEM, "out of memory");
  memset (&o, 0, sizeof o);
  o.k = k;
  pthread_rwlock_rdlock (&w->lock);
  for (i = w->len; i > 0; i--) {
    vss_segment *s = seg_at (w, i - 1);
    int j, m = search_segment (w, i - 1, query, dim, &o, h, err);
    if (m < 0) {
      rc = -1;
      break;
    }
    /* merge into out (sorted, nearest first; ties keep the newer) */
    for (j = 0; j < m; j++) {
      int pos = n;
      if (n == (int)k && !(h[j].distance < out[n - 1].distance))
        continue;
      if (n < (int)k)
        n++;
      pos = n - 1;
      while (pos > 0 && h[j].distance < out[pos - 1].distance) {
        out[pos] = out[pos - 1];
        pos--;
      }
      out[pos].id = s->ids[h[j].id];
      out[pos].ts = s->ts[h[j].id];
      out[pos].distance = h[j].distance;
    }
  }
  pthread_rwlock_unlock (&w->lock);
  free (h);
  return rc < 0 ? rc : n;
}

void
vss_window_set_max_count (vss_window *w, size_t max_count)
{
  int wake;

  if (!w)
    return;
  pthread_rwlock_wrlock (&w->lock);
  w->p.max_count = max_count;
  evict_count (w);
  wake = w->graveyard != NULL;
  pthread_rwlock_unlock (&w->lock);
  if (wake)
    wake_linker (w);
}

void
vss_window_set_max_age (vss_window *w, int64_t max_age)
{
  if (!w)
    return;
  pthread_rwlock_wrlock (&w->lock);
  w->p.max_age = max_age > 0 ? max_age : 0;
  pthread_rwlock_unlock (&w->lock);
}

size_t
vss_window_count (vss_window *w)
{
  size_t n;

  if (!w)
    return 0;
  pthread_rwlock_rdlock (&w->lock);
  n = (size_t)(w->total - w->first_live);
  pthread_rwlock_unlock (&w->lock);
  return n;
}

size_t
vss_window_memory_used (vss_window *w)
{
  size_t m, i;

  if (!w)
    return 0;
  pthread_rwlock_rdlock (&w->lock);
  m = sizeof *w + w->ring_cap * sizeof *w->ring;
  for (i = 0; i < w->len; i++) {
    vss_segment *s = seg_at (w, i);
    m += sizeof *s + vss_index_memory_used (s->idx)
         + s->cap * (sizeof *s->ids + sizeof *s->ts);
  }
  pthread_rwlock_unlock (&w->lock);
  return m;
}

void
vss_window_clear (vss_window *w)
{
  int wake;

  if (!w)
    return;
  pthread_rwlock_wrlock (&w->lock);
  drop_all (w);
  w->first_live = w->total;
  w->have_ts = 0;
  wake = w->graveyard != NULL;
  pthread_rwlock_unlock (&w->lock);
  if (wake)
    wake_linker (w);
}
