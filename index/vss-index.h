/* libvssindex: vector index for gst-vss (plain C11 + simde, no GLib).
 *
 * Two objects:
 *
 *  - vss_index: a flat (exact) or HNSW index of vectors with 64-bit ids,
 *    for cosine, inner-product or L2 distance.
 *  - vss_window: a time-ordered ring of segments for dedup (recent segment
 *    searched exactly, sealed segments with their own HNSW graph), evicted
 *    whole by count and by age.
 *
 * Usage:
 *
 *   vss_index_params p;
 *   vss_error err = { 0 };
 *   vss_index_params_init (&p, VSS_INDEX_HNSW, VSS_METRIC_COSINE, 1024);
 *   vss_index *idx = vss_index_new (&p, &err);
 *   if (!idx) { fprintf (stderr, "%s\n", err.msg); ... }
 *   if (vss_index_add (idx, 42, vec, 1024, &err) < 0) ...
 *   vss_hit hits[10];
 *   int n = vss_index_search (idx, query, 1024, 10, 0, NULL, NULL, hits, &err);
 *   ...
 *   vss_index_free (idx);
 *
 * Distances: cosine = 1 - cos (0..2, vectors are stored L2-normalised),
 * inner product = 1 - dot (as valkey-search reports it), L2 = squared
 * euclidean distance. Smaller is nearer for all three.
 *
 * Errors: every call that can fail returns a negative value (or NULL) and,
 * when `err` is not NULL, fills it with a code and a message. Invalid input
 * (NaN/Inf, zero vector with cosine, wrong dimension, duplicate id, k == 0)
 * is an error, never a crash.
 *
 * Threads: a vss_index may be searched from any number of threads at once
 * (vss_index_search, vss_index_search_within, vss_index_get, count,
 * memory_used, save) while one thread adds or removes; the index locks
 * itself. Concurrent writers are serialised by the index; a search waits
 * for a concurrent add only while the new links are written, not while the
 * add searches for the row's neighbours. A vss_window locks itself: every
 * call but vss_window_free may be made from any thread at any time.
 */
#ifndef VSS_INDEX_H
#define VSS_INDEX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum
{
  VSS_OK = 0,
  VSS_ERR_INVALID,              /* bad argument: k == 0, NaN, zero vector... */
  VSS_ERR_DIMENSION,            /* vector of the wrong dimension */
  VSS_ERR_DUPLICATE,            /* id already present */
  VSS_ERR_NOT_FOUND,            /* id not present */
  VSS_ERR_NOMEM,                /* allocation failed or capacity exceeded */
  VSS_ERR_IO,                   /* file could not be read or written */
  VSS_ERR_FORMAT,               /* file truncated, corrupt or of another version */
} vss_error_code;

typedef struct
{
  vss_error_code code;
  char msg[256];
} vss_error;

typedef enum
{
  VSS_METRIC_COSINE = 0,
  VSS_METRIC_IP,
  VSS_METRIC_L2,
} vss_metric;

typedef enum
{
  VSS_INDEX_FLAT = 0,
  VSS_INDEX_HNSW,
} vss_index_kind;

typedef enum
{
  VSS_STORAGE_F32 = 0,          /* default */
  VSS_STORAGE_INT8,             /* per-vector scaled int8, re-ranked in f32 */
} vss_storage;

typedef struct
{
  vss_index_kind kind;
  vss_metric metric;
  uint32_t dim;
  vss_storage storage;
  uint32_t M;                   /* HNSW links per node (default 16) */
  uint32_t ef_construction;     /* default 200 */
  uint32_t ef_search;           /* default 64; per-query override possible */
  size_t initial_capacity;      /* grows as needed (default 1024) */
  uint64_t seed;                /* level generator seed (default fixed) */
} vss_index_params;

typedef struct
{
  uint64_t id;
  float distance;
} vss_hit;

/* Return non-zero to accept `id`. Called from the searching thread. */
typedef int (*vss_filter_fn) (uint64_t id, void *user_data);

typedef struct vss_index vss_index;

void vss_index_params_init (vss_index_params * p, vss_index_kind kind,
    vss_metric metric, uint32_t dim);

vss_index *vss_index_new (const vss_index_params * p, vss_error * err);
void vss_index_free (vss_index * idx);

/* 0 on success, < 0 on error. */
int vss_index_add (vss_index * idx, uint64_t id, const float *vec,
    uint32_t dim, vss_error * err);
/* 0 on success, < 0 (VSS_ERR_NOT_FOUND) when the id is not present. */
int vss_index_remove (vss_index * idx, uint64_t id, vss_error * err);

/* k nearest, nearest first, into `out` (room for k). `ef` 0 = the index's
 * ef_search. With a filter, still returns k hits when k ids pass it.
 * Returns the number of hits (0..k) or < 0 on error. */
int vss_index_search (vss_index * idx, const float *query, uint32_t dim,
    uint32_t k, uint32_t ef, vss_filter_fn filter, void *user_data,
    vss_hit * out, vss_error * err);

/* First vector found with distance <= r (not necessarily the nearest).
 * Returns 1 and fills `out`, 0 when none, < 0 on error. */
int vss_index_search_within (vss_index * idx, const float *query,
    uint32_t dim, float r, vss_hit * out, vss_error * err);

/* Copies the stored (normalised for cosine) vector; 0, or < 0 if absent. */
int vss_index_get (vss_index * idx, uint64_t id, float *out, uint32_t dim,
    vss_error * err);
int vss_index_contains (vss_index * idx, uint64_t id);

size_t vss_index_count (vss_index * idx);
size_t vss_index_memory_used (vss_index * idx);
uint32_t vss_index_dim (const vss_index * idx);
vss_metric vss_index_metric (const vss_index * idx);
void vss_index_set_ef_search (vss_index * idx, uint32_t ef);
/* Removed rows stay in the graph (traversed, never returned) until this
 * rebuilds it from the live rows: about count() inserts, during which
 * searches wait. 0 on success, < 0 on error (the index is unchanged). */
int vss_index_compact (vss_index * idx, vss_error * err);

/* Persistence: magic, version, endianness, CRC-32 checksum. */
int vss_index_save (vss_index * idx, const char *path, vss_error * err);
vss_index *vss_index_load (const char *path, vss_error * err);

/* ---- Sliding window for dedup ---- */

typedef struct
{
  vss_metric metric;
  uint32_t dim;
  vss_storage storage;
  size_t max_count;             /* 0 = no count limit */
  int64_t max_age;              /* same unit as the timestamps; 0 = none */
  uint32_t segment_size;        /* vectors per segment; 0 (default) = auto:
                                 * max_count within [1024, 131072] (a miss
                                 * searches two graphs; memory up to twice
                                 * the window), 8192 without a count limit */
  uint32_t exact_limit;         /* a segment with at most this many live
                                 * rows (the newest while it fills, the
                                 * oldest as it drains) is searched
                                 * exactly, otherwise through its graph,
                                 * built as rows arrive (0 = 1024) */
  uint32_t M, ef_construction, ef_search;       /* segment graphs (16, 200,
                                                 * 32) */
  uint32_t ef_within;           /* ef of first-within queries; 0 (default)
                                 * = by segment size: 32 up to 32768 rows,
                                 * 64 above (near-duplicates of any of 100k
                                 * video-like frames found 99.8 % of the
                                 * time, 97 % with 32) and for
                                 * search_within_nearest */
  int link_in_background;       /* 0 (default): add links the row into its
                                 * segment's graph before it returns. 1: add
                                 * only stores the row (microseconds); a
                                 * thread of the window links it while the
                                 * caller goes on, and until then searches
                                 * find the row by an exact scan. */
  uint32_t max_unlinked;        /* background linking: when more rows than
                                 * this wait, add links on the caller's
                                 * thread until they are this many again
                                 * (the bound on the exact scan); 0 = 1024 */
} vss_window_params;

typedef struct
{
  uint64_t id;
  int64_t ts;
  float distance;
} vss_window_hit;

typedef struct vss_window vss_window;

void vss_window_params_init (vss_window_params * p, vss_metric metric,
    uint32_t dim);
vss_window *vss_window_new (const vss_window_params * p, vss_error * err);
void vss_window_free (vss_window * w);

/* Timestamps must not decrease (a smaller one is taken as the last one).
 * Evicts by count as needed. 0 on success, < 0 on error; with background
 * linking, a row the thread could not link (out of memory) is reported by
 * the next add, which then adds nothing. */
int vss_window_add (vss_window * w, uint64_t id, int64_t ts,
    const float *vec, uint32_t dim, vss_error * err);
/* Forget entries older than now - max_age. Returns the live count. */
size_t vss_window_expire (vss_window * w, int64_t now);

/* Newest-first; stops at the first live entry with distance <= r.
 * 1 = hit, 0 = none, < 0 = error. */
int vss_window_search_first_within (vss_window * w, const float *query,
    uint32_t dim, float r, vss_window_hit * out, vss_error * err);
/* The dedup decision in one search: as first_within, and when no live row
 * is within r (returns 0), `out` gets the nearest row the search met on its
 * way (exact distance, approximate choice: graph segments report the best
 * of their beam; INFINITY when the window is empty). What a kept frame
 * learns about its neighbourhood at no extra cost. */
int vss_window_search_within_nearest (vss_window * w, const float *query,
    uint32_t dim, float r, vss_window_hit * out, vss_error * err);
/* k nearest live entries. Returns count or < 0. */
int vss_window_search (vss_window * w, const float *query, uint32_t dim,
    uint32_t k, vss_window_hit * out, vss_error * err);

void vss_window_set_max_count (vss_window * w, size_t max_count);
void vss_window_set_max_age (vss_window * w, int64_t max_age);
size_t vss_window_count (vss_window * w);
/* Rows stored and not yet linked into a graph (background linking). */
size_t vss_window_unlinked (vss_window * w);
/* Links every waiting row on the caller's thread. 0, or < 0 on error. */
int vss_window_link_all (vss_window * w, vss_error * err);
size_t vss_window_memory_used (vss_window * w);
void vss_window_clear (vss_window * w);

/* ---- Kernels (picked once at runtime by CPU features) ---- */

const char *vss_kernel_name (void);
float vss_dot_f32 (const float *a, const float *b, size_t n);
float vss_l2sq_f32 (const float *a, const float *b, size_t n);
/* Normalises in place; returns the original norm (0 leaves v unchanged). */
float vss_normalize_f32 (float *v, size_t n);
/* Distance as defined above for two raw vectors (cosine normalises). */
float vss_distance (vss_metric metric, const float *a, const float *b,
    size_t n);

#ifdef __cplusplus
}
#endif
#endif /* VSS_INDEX_H */
