/* gst-vss Valkey module (vss-search.so): the valkey-search 1.0 command
 * subset on libvssindex, for Redis 7.0 and Valkey 7.2/8 servers that have
 * no valkey-search.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * redis-server --loadmodule /path/to/vss-search.so
 *
 * Threads (module argument WORKERS n, default: one per core; WORKERS 0
 * runs everything on the main thread). The main thread parses commands,
 * reads the keys that keyspace notifications and the backfill name
 * (cheap: a few field copies) and queues them as mutations; one indexing
 * thread applies mutations in order (the HNSW insertions); n reader
 * threads run FT.SEARCH, each search waiting until every mutation queued
 * before it arrived has been applied, so a search sees every write whose
 * reply was sent before it (read-your-writes, for every client). The
 * searching client is blocked meanwhile and its reply, including the
 * RETURN fields read from the keys, is written on the main thread. In
 * MULTI, scripts or wherever the server cannot block a client, the
 * search waits for the queue and runs on the main thread.
 *
 * Locks: each index's `lock` (a writer-preferring rwlock) guards its
 * document table and the vector index pointers: readers hold it for a
 * whole search, the indexing thread takes it for writing only around
 * document-table changes, not while an HNSW insertion searches for
 * neighbours (the vector index locks itself). vss-workers.c's queue lock
 * is never held together with an index lock. Only database 0 is indexed
 * (as in cluster mode).
 *
 * Persistence: the FT.CREATE arguments of every index are kept in the RDB
 * as module aux data; on load the indexes are rebuilt from the keys by the
 * same incremental backfill that FT.CREATE starts.
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "vss-module-api.h"
#include "vss-ft.h"
#include "vss-docs.h"
#include "vss-workers.h"

#define MODULE_NAME "vss-search"
#define MODULE_VERSION 10000
#define TYPE_NAME "vsssearch" /* exactly 9 characters */
#define AUX_ENCVER 1
/* Backfill work per timer tick, so that the server never stalls longer:
 * indexing on the main thread (WORKERS 0), or only reading keys. */
#define BACKFILL_BUDGET_US 2000
#define BACKFILL_BUDGET_THREADED_US 250
/* Back-pressure on writers. At QUEUE_PAUSE_AT mutations waiting for the
 * indexing thread the module pauses write commands (CLIENT PAUSE WRITE,
 * renewed every PAUSE_MS) until the queue is down to QUEUE_RESUME_AT:
 * writers wait, the main thread and every read (PING, FT.SEARCH) go on.
 * A search waits behind at most about QUEUE_PAUSE_AT insertions (tens of
 * ms at 100k 1024-d vectors). Writes that cannot be paused (a primary's
 * replication stream, AOF loading) fill the queue up to
 * MUTATION_QUEUE_LIMIT, where the main thread waits for room. */
#define QUEUE_PAUSE_AT 32
#define QUEUE_RESUME_AT 8
#define PAUSE_MS 50
#define MUTATION_QUEUE_LIMIT 1024
/* A filter passed by at most this many documents is answered exactly. */
#define EXACT_FILTER_LIMIT 2048
/* The most vector bytes preallocated on FT.CREATE whatever INITIAL_CAP
 * says (the index grows as needed). */
#define MAX_PREALLOC_BYTES (64u << 20)

#define VSS_RM_DEFINE(ret, name, args) static ret (*rm_##name) args;
VSS_RM_API (VSS_RM_DEFINE)
#undef VSS_RM_DEFINE

typedef struct {
  vss_ft_schema *schema; /* immutable */
  int refs;              /* atomic: indexes[], queued work */
  pthread_rwlock_t lock; /* guards vec (the pointers), docs, failures */
  vss_index **vec;       /* per schema field; NULL for non-vector fields */
  vss_docs *docs;
  uint64_t failures;
  int dropped; /* atomic: FT.DROPINDEX or an RDB load replaced it */
  /* Backfill: main thread only */
  int backfilling;
  int scan_done;
  RedisModuleScanCursor *cursor;
  char **pending;
  size_t *pending_len;
  size_t n_pending, pending_pos, pending_cap;
  unsigned long long scanned, total;
} vss_idx;

static vss_idx *indexes[VSS_FT_MAX_INDEXES];
static int n_indexes;
static int timer_armed;
static RedisModuleTimerID timer_id;
static int loading;
/* Used by whichever thread applies mutations (one at a time). */
static float *scratch;
static size_t scratch_len;
/* Module argument WORKERS: reader threads; 0 = no threads at all
 * (vss_workers_running () tells which). */
static int n_workers = -1;
/* Module argument INT8: vectors stored as per-vector scaled int8 (about
 * twice as fast to insert and search, a quarter of the memory); results
 * are re-ranked, and scores computed, in float32. */
static vss_storage storage = VSS_STORAGE_F32;
/* For INFO vss-search: the longest backfill slice, in thread CPU time (the
 * work done while the server was blocked, whatever the machine's load). */
static long long backfill_slice_max_us;
static long long backfill_slices;
static long long backfill_slices_over_10ms;
static long long backfill_slices_over_1ms;

static uint64_t
now_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static long long
cpu_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static float *
scratch_floats (size_t n)
{
  if (n > scratch_len) {
    float *s = realloc (scratch, n * sizeof *s);
    if (s == NULL)
      return NULL;
    scratch = s;
    scratch_len = n;
  }
  return scratch;
}

/* Little-endian float32 bytes to floats (the blob may be unaligned). */
static void
blob_to_floats (const char *blob, uint32_t dim, float *out)
{
  for (uint32_t i = 0; i < dim; i++) {
    uint32_t bits = (uint32_t)(unsigned char)blob[4 * i]
                    | (uint32_t)(unsigned char)blob[4 * i + 1] << 8
                    | (uint32_t)(unsigned char)blob[4 * i + 2] << 16
                    | (uint32_t)(unsigned char)blob[4 * i + 3] << 24;
    memcpy (&out[i], &bits, 4);
  }
}

static vss_idx *
find_index (const char *name, size_t len)
{
  for (int i = 0; i < n_indexes; i++)
    if (strlen (indexes[i]->schema->name) == len
        && !memcmp (indexes[i]->schema->name, name, len))
      return indexes[i];
  return NULL;
}

/* ---- index state ---- */

static void
free_vectors (vss_idx *x)
{
  if (x->vec == NULL)
    return;
  for (size_t i = 0; i < x->schema->n_fields; i++)
    vss_index_free (x->vec[i]);
  free (x->vec);
  x->vec = NULL;
}

/* Empty vector indexes and document table. */
static int
make_empty (vss_idx *x, char *err, size_t errlen)
{
  vss_error e = { 0 };

  x->docs = vss_docs_new ();
  x->vec = calloc (x->schema->n_fields, sizeof *x->vec);
  if (x->docs == NULL || x->vec == NULL) {
    snprintf (err, errlen, "out of memory");
    return -1;
  }
  for (size_t i = 0; i < x->schema->n_fields; i++) {
    const vss_ft_field *f = &x->schema->fields[i];
    vss_index_params p;
    if (f->type != VSS_FT_VECTOR)
      continue;
    vss_index_params_init (&p, f->algorithm, f->metric, f->dim);
    p.M = f->m;
    p.ef_construction = f->ef_construction;
    p.ef_search = f->ef_runtime;
    p.storage = storage;
    p.initial_capacity = f->initial_cap < MAX_PREALLOC_BYTES / (4u * f->dim)
                             ? (size_t)f->initial_cap
                             : MAX_PREALLOC_BYTES / (4u * f->dim);
    x->vec[i] = vss_index_new (&p, &e);
    if (x->vec[i] == NULL) {
      snprintf (err, errlen, "Could not create the vector index: %.200s",
                e.msg);
      return -1;
    }
  }
  return 0;
}

static void
pending_clear (vss_idx *x)
{
  for (size_t i = x->pending_pos; i < x->n_pending; i++)
    free (x->pending[i]);
  x->n_pending = x->pending_pos = 0;
}

static void
backfill_stop (vss_idx *x)
{
  pending_clear (x);
  if (x->cursor != NULL)
    rm_ScanCursorDestroy (x->cursor);
  x->cursor = NULL;
  x->backfilling = 0;
  x->scan_done = 0;
}

/* Frees what is left once no one holds a reference (any thread: the
 * backfill, a main-thread thing, was stopped by idx_drop). */
static void
idx_free (vss_idx *x)
{
  if (x == NULL)
    return;
  free (x->pending);
  free (x->pending_len);
  free_vectors (x);
  vss_docs_free (x->docs);
  vss_ft_schema_free (x->schema);
  pthread_rwlock_destroy (&x->lock);
  free (x);
}

static vss_idx *
idx_ref (vss_idx *x)
{
  __atomic_add_fetch (&x->refs, 1, __ATOMIC_RELAXED);
  return x;
}

static void
idx_unref (vss_idx *x)
{
  if (x != NULL && __atomic_sub_fetch (&x->refs, 1, __ATOMIC_ACQ_REL) == 0)
    idx_free (x);
}

/* Takes `x` out of use (main thread): searches still running or queued
 * keep it alive until they end, and then report it gone. */
static void
idx_drop (vss_idx *x)
{
  backfill_stop (x);
  __atomic_store_n (&x->dropped, 1, __ATOMIC_RELEASE);
  idx_unref (x);
}

/* Forgets every document (FLUSHALL, RDB load), on the thread that applies
 * mutations. */
static void
idx_clear (vss_idx *x)
{
  char err[VSS_FT_ERRLEN];

  pthread_rwlock_wrlock (&x->lock);
  free_vectors (x);
  vss_docs_free (x->docs);
  x->docs = NULL;
  if (make_empty (x, err, sizeof err) < 0)
    x->failures++; /* the index stays empty: no document can be added */
  pthread_rwlock_unlock (&x->lock);
}

static void backfill_tick (RedisModuleCtx *ctx, void *data);

/* Period 0: the next turn of the event loop, after the clients; 1 ms
 * while the indexing thread's queue is full. */
static void
arm_timer (RedisModuleCtx *ctx, mstime_t period)
{
  if (!timer_armed) {
    timer_id = rm_CreateTimer (ctx, period, backfill_tick, NULL);
    timer_armed = 1;
  }
}

/* Stops the timer once no index needs it (the server refuses MODULE UNLOAD
 * while a module timer is pending). */
static void
disarm_timer_if_idle (RedisModuleCtx *ctx)
{
  for (int i = 0; i < n_indexes; i++)
    if (indexes[i]->backfilling)
      return;
  if (timer_armed) {
    rm_StopTimer (ctx, timer_id, NULL);
    timer_armed = 0;
  }
}

static void
backfill_start (RedisModuleCtx *ctx, vss_idx *x)
{
  int db0 = rm_GetSelectedDb (ctx) == 0;

  backfill_stop (x);
  x->scanned = 0;
  /* The keys of database 0 (the caller may have selected another one). */
  x->total = db0 ? rm_DbSize (ctx) : 0;
  x->backfilling = 1;
  if (loading)
    return; /* started again when loading ends */
  if (db0 && x->total == 0) {
    x->backfilling = 0; /* nothing to index: ready at once */
    return;
  }
  x->cursor = rm_ScanCursorCreate ();
  arm_timer (ctx, 0);
}

/* ---- indexing one key ----
 *
 * The main thread reads a key into a mutation (mutation_read); whichever
 * thread applies mutations (the indexing thread, or the main thread with
 * WORKERS 0) changes the index (mutation_apply). */

typedef enum { MUT_UPSERT, MUT_REMOVE, MUT_CLEAR } mutation_kind;

typedef struct {
  vss_work work;
  mutation_kind kind;
  vss_idx *x; /* a reference */
  char *key;
  size_t keylen;
  vss_ft_attrs *attrs;
  size_t n_attrs; /* tag and numeric fields that parsed */
  char **vec;     /* per field: the vector's bytes, when of the right size */
  size_t n_valid;
  int bad_vector; /* a vector field of the wrong size */
} mutation;

static void
mutation_free (mutation *m)
{
  if (m == NULL)
    return;
  if (m->vec != NULL)
    for (size_t f = 0; f < m->x->schema->n_fields; f++)
      free (m->vec[f]);
  free (m->vec);
  vss_ft_attrs_free (m->attrs);
  free (m->key);
  idx_unref (m->x);
  free (m);
}

static mutation *
mutation_new (vss_idx *x, mutation_kind kind, const char *key, size_t len)
{
  mutation *m = calloc (1, sizeof *m);

  if (m == NULL)
    return NULL;
  m->kind = kind;
  m->x = idx_ref (x);
  if (key != NULL) {
    m->key = malloc (len ? len : 1);
    if (m->key == NULL) {
      mutation_free (m);
      return NULL;
    }
    memcpy (m->key, key, len);
    m->keylen = len;
  }
  return m;
}

/* Under x->lock for writing. */
static void
remove_doc (vss_idx *x, const char *key, size_t len)
{
  int64_t id;
  vss_doc *doc;

  if (x->docs == NULL || (id = vss_docs_lookup (x->docs, key, len)) < 0)
    return;
  doc = vss_docs_get (x->docs, (uint64_t)id);
  for (size_t f = 0; f < x->schema->n_fields; f++)
    if (doc->has_vec[f])
      vss_index_remove (x->vec[f], (uint64_t)id, NULL);
  vss_doc_free (vss_docs_remove (x->docs, (uint64_t)id));
}

/* Reads the schema's fields of the key into an upsert, or a removal when
 * the key is gone, not a hash or has none of them. Main thread. */
static mutation *
mutation_read (RedisModuleCtx *ctx, vss_idx *x, RedisModuleString *keyname)
{
  size_t klen, n = x->schema->n_fields;
  const char *k = rm_StringPtrLen (keyname, &klen);
  RedisModuleKey *key
      = rm_OpenKey (ctx, keyname, RM_READ | RM_OPEN_KEY_NOTOUCH);
  mutation *m = NULL;
  size_t present = 0;

  if (key == NULL || rm_KeyType (key) != RM_KEYTYPE_HASH)
    goto remove;
  m = mutation_new (x, MUT_UPSERT, k, klen);
  if (m == NULL || (m->attrs = vss_ft_attrs_new (n)) == NULL
      || (m->vec = calloc (n, sizeof *m->vec)) == NULL)
    goto oom;
  for (size_t f = 0; f < n; f++) {
    const vss_ft_field *fd = &x->schema->fields[f];
    RedisModuleString *val = NULL;
    const char *p;
    size_t len;

    rm_HashGet (key, RM_HASH_CFIELDS, fd->identifier, &val, NULL);
    if (val == NULL)
      continue;
    present++;
    p = rm_StringPtrLen (val, &len);
    if (fd->type == VSS_FT_TAG)
      m->n_attrs += vss_ft_attrs_set_tags (m->attrs, f, p, len, fd->separator,
                                           fd->case_sensitive)
                    == 0;
    else if (fd->type == VSS_FT_NUMERIC)
      m->n_attrs += vss_ft_attrs_set_num (m->attrs, f, p, len) == 0;
    else if (len == (size_t)fd->dim * 4) {
      m->vec[f] = malloc (len);
      if (m->vec[f] == NULL) {
        rm_FreeString (ctx, val);
        goto oom;
      }
      memcpy (m->vec[f], p, len);
      m->n_valid++;
    } else
      m->bad_vector = 1;
    rm_FreeString (ctx, val);
  }
  rm_CloseKey (key);
  if (present == 0) {
    mutation_free (m);
    return mutation_new (x, MUT_REMOVE, k, klen);
  }
  return m;

oom:
  /* The document leaves the index rather than keeping stale fields. */
  mutation_free (m);
remove:
  if (key != NULL)
    rm_CloseKey (key);
  return mutation_new (x, MUT_REMOVE, k, klen);
}

static int
add_vector (vss_idx *x, size_t f, uint64_t id, const char *blob)
{
  uint32_t dim = x->schema->fields[f].dim;
  float *buf = scratch_floats (dim);

  if (buf == NULL)
    return -1;
  blob_to_floats (blob, dim, buf);
  return vss_index_add (x->vec[f], id, buf, dim, NULL);
}

static void
apply_upsert (mutation *m)
{
  vss_idx *x = m->x;
  size_t n = x->schema->n_fields;
  vss_doc *doc;
  int64_t found;
  uint64_t id;
  int vec_changed = 0;
  unsigned char *added;

  pthread_rwlock_wrlock (&x->lock);
  if (x->docs == NULL)
    goto unlock;
  /* Like valkey-search 1.0: a key under the prefix is a document (FT.INFO
   * num_docs) while at least one of its fields is indexed: a tag, a number
   * or a vector. A vector of the wrong size is counted in
   * hash_indexing_failures and left out of the vector index, so such a
   * document is never a search result (every query is a KNN query). */
  if (m->bad_vector)
    x->failures++;
  if (m->n_attrs == 0 && m->n_valid == 0) {
    remove_doc (x, m->key, m->keylen);
    goto unlock;
  }
  found = vss_docs_lookup (x->docs, m->key, m->keylen);
  if (found < 0) {
    doc = vss_doc_new (m->key, m->keylen, n);
    if (doc == NULL || vss_docs_insert (x->docs, doc, &id) < 0) {
      vss_doc_free (doc);
      goto unlock;
    }
    vec_changed = m->n_valid > 0;
  } else {
    id = (uint64_t)found;
    doc = vss_docs_get (x->docs, id);
    for (size_t f = 0; f < n; f++)
      if (x->vec[f] != NULL
          && ((m->vec[f] != NULL) != doc->has_vec[f]
              || (m->vec[f] != NULL
                  && vss_hash_bytes (m->vec[f],
                                     (size_t)x->schema->fields[f].dim * 4)
                         != doc->vec_hash[f])))
        vec_changed = 1;
  }
  vss_ft_attrs_free (doc->attrs);
  doc->attrs = m->attrs;
  m->attrs = NULL;
  if (!vec_changed)
    goto unlock;
  if (found >= 0) {
    for (size_t f = 0; f < n; f++)
      if (doc->has_vec[f])
        vss_index_remove (x->vec[f], id, NULL);
    if (vss_docs_renumber (x->docs, id, &id) < 0) {
      vss_doc_free (vss_docs_remove (x->docs, id));
      goto unlock;
    }
  }
  for (size_t f = 0; f < n; f++)
    doc->has_vec[f] = 0;
  pthread_rwlock_unlock (&x->lock);

  /* The insertions search the graph for neighbours: searches go on
   * meanwhile (only this thread changes x->vec and the document table).
   * A search may meet the new id before has_vec is set: unfiltered, it
   * is a result (the document exists); a filter leaves it out. */
  added = calloc (n, 1);
  for (size_t f = 0; f < n; f++)
    /* NaN, infinities or a zero vector under COSINE fail. */
    if (m->vec[f] != NULL && added != NULL)
      added[f] = add_vector (x, f, id, m->vec[f]) == 0;

  pthread_rwlock_wrlock (&x->lock);
  doc = vss_docs_get (x->docs, id);
  if (doc != NULL) {
    size_t n_added = 0;
    for (size_t f = 0; f < n; f++) {
      if (m->vec[f] == NULL)
        continue;
      if (added == NULL || !added[f]) {
        x->failures++;
        continue;
      }
      doc->has_vec[f] = 1;
      doc->vec_hash[f]
          = vss_hash_bytes (m->vec[f], (size_t)x->schema->fields[f].dim * 4);
      n_added++;
    }
    if (n_added == 0 && m->n_attrs == 0)
      vss_doc_free (vss_docs_remove (x->docs, id));
  }
  free (added);
unlock:
  pthread_rwlock_unlock (&x->lock);
}

/* Applies and frees `m` (a vss_work function). */
static void
mutation_apply (vss_work *w)
{
  mutation *m = (mutation *)w;

  if (m->kind == MUT_CLEAR)
    idx_clear (m->x);
  else if (m->kind == MUT_REMOVE) {
    pthread_rwlock_wrlock (&m->x->lock);
    remove_doc (m->x, m->key, m->keylen);
    pthread_rwlock_unlock (&m->x->lock);
  } else
    apply_upsert (m);
  mutation_free (m);
}

/* ---- back-pressure: CLIENT PAUSE WRITE while the queue is long ---- */

static int writes_paused;
static uint64_t pause_until_us;
static int pause_timer_armed;
static RedisModuleTimerID pause_timer;
static long long write_pauses;

static int
client_pause (RedisModuleCtx *ctx, int on)
{
  char ms[16];
  RedisModuleCallReply *r;
  int ok;

  snprintf (ms, sizeof ms, "%d", PAUSE_MS);
  r = on ? rm_Call (ctx, "CLIENT", "ccc", "PAUSE", ms, "WRITE")
         : rm_Call (ctx, "CLIENT", "c", "UNPAUSE");
  ok = r != NULL && rm_CallReplyType (r) != RM_REPLY_ERROR;
  if (r != NULL)
    rm_FreeCallReply (r);
  if (ok && on)
    pause_until_us = now_us () + PAUSE_MS * 1000u;
  return ok;
}

/* From the event loop only: Redis asserts that no client pause starts
 * while a command's effects wait to be propagated (replicas, AOF), which
 * is the case inside a write's keyspace event. */
static void
pause_tick (RedisModuleCtx *ctx, void *data)
{
  (void)data;
  pause_timer_armed = 0;
  if (!writes_paused) {
    /* Not on a replica (its writes come from its primary, and it
     * propagates them) nor while loading: the hard limit applies. */
    if (vss_workers_queued () < QUEUE_PAUSE_AT
        || (rm_GetContextFlags (ctx)
            & (RM_CTX_FLAGS_SLAVE | RM_CTX_FLAGS_LOADING))
        || !client_pause (ctx, 1))
      return;
    writes_paused = 1;
    write_pauses++;
  } else if (vss_workers_queued () <= QUEUE_RESUME_AT) {
    client_pause (ctx, 0);
    writes_paused = 0;
    return;
  } else if (now_us () + 10000 > pause_until_us)
    client_pause (ctx, 1); /* renew before it lapses */
  pause_timer = rm_CreateTimer (ctx, 1, pause_tick, NULL);
  pause_timer_armed = 1;
}

/* Main thread, after queueing: pauses writers at the next turn of the
 * event loop once the queue is long. */
static void
maybe_pause_writers (RedisModuleCtx *ctx)
{
  if (writes_paused || pause_timer_armed
      || vss_workers_queued () < QUEUE_PAUSE_AT)
    return;
  pause_timer = rm_CreateTimer (ctx, 0, pause_tick, NULL);
  pause_timer_armed = 1;
}

/* Queues `m` for the indexing thread, or applies it here without one. */
static void
mutation_submit (RedisModuleCtx *ctx, mutation *m)
{
  if (m == NULL)
    return;
  m->work.run = mutation_apply;
  if (vss_workers_running ()) {
    vss_workers_mutate (&m->work);
    maybe_pause_writers (ctx);
  } else
    mutation_apply (&m->work);
}

static void
index_key (RedisModuleCtx *ctx, vss_idx *x, RedisModuleString *keyname)
{
  size_t klen;
  const char *k = rm_StringPtrLen (keyname, &klen);

  if (vss_ft_schema_matches_key (x->schema, k, klen))
    mutation_submit (ctx, mutation_read (ctx, x, keyname));
}

/* Forgets every document, after what is queued (main thread). */
static void
index_clear (RedisModuleCtx *ctx, vss_idx *x)
{
  mutation *m = mutation_new (x, MUT_CLEAR, NULL, 0);

  backfill_stop (x);
  if (m != NULL)
    mutation_submit (ctx, m);
  else {
    /* Out of memory: left as it was. */
    pthread_rwlock_wrlock (&x->lock);
    x->failures++;
    pthread_rwlock_unlock (&x->lock);
  }
}

/* ---- keyspace notifications ---- */

static int
on_keyspace (RedisModuleCtx *ctx, int type, const char *event,
             RedisModuleString *key)
{
  int gone;
  size_t klen;
  const char *k;

  (void)type;
  if (n_indexes == 0 || rm_GetSelectedDb (ctx) != 0)
    return RM_OK;
  gone = !strcmp (event, "del") || !strcmp (event, "expired")
         || !strcmp (event, "evicted") || !strcmp (event, "rename_from")
         || !strcmp (event, "move_from");
  k = rm_StringPtrLen (key, &klen);
  for (int i = 0; i < n_indexes; i++) {
    vss_idx *x = indexes[i];
    if (!vss_ft_schema_matches_key (x->schema, k, klen))
      continue;
    if (gone)
      mutation_submit (ctx, mutation_new (x, MUT_REMOVE, k, klen));
    else
      index_key (ctx, x, key);
  }
  return RM_OK;
}

static void
on_flush (RedisModuleCtx *ctx, RedisModuleEvent eid, uint64_t sub, void *data)
{
  const RedisModuleFlushInfo *fi = data;

  (void)ctx;
  (void)eid;
  if (sub != RM_SUBEVENT_FLUSHDB_START || (fi->dbnum != -1 && fi->dbnum != 0))
    return;
  for (int i = 0; i < n_indexes; i++)
    index_clear (ctx, indexes[i]);
  disarm_timer_if_idle (ctx);
}

static void
on_loading (RedisModuleCtx *ctx, RedisModuleEvent eid, uint64_t sub, void *data)
{
  (void)eid;
  (void)data;
  if (sub == RM_SUBEVENT_LOADING_RDB_START
      || sub == RM_SUBEVENT_LOADING_AOF_START
      || sub == RM_SUBEVENT_LOADING_REPL_START) {
    loading = 1;
    return;
  }
  if (sub != RM_SUBEVENT_LOADING_ENDED && sub != RM_SUBEVENT_LOADING_FAILED)
    return;
  loading = 0;
  for (int i = 0; i < n_indexes; i++) {
    index_clear (ctx, indexes[i]);
    backfill_start (ctx, indexes[i]);
  }
}

/* ---- backfill ---- */

static void
scan_cb (RedisModuleCtx *ctx, RedisModuleString *keyname, RedisModuleKey *key,
         void *privdata)
{
  vss_idx *x = privdata;
  size_t len;
  const char *k = rm_StringPtrLen (keyname, &len);

  (void)ctx;
  (void)key;
  x->scanned++;
  if (!vss_ft_schema_matches_key (x->schema, k, len))
    return;
  if (x->n_pending == x->pending_cap) {
    size_t cap = x->pending_cap ? 2 * x->pending_cap : 64;
    char **p = realloc (x->pending, cap * sizeof *p);
    size_t *pl;
    if (p == NULL)
      return;
    x->pending = p;
    pl = realloc (x->pending_len, cap * sizeof *pl);
    if (pl == NULL)
      return;
    x->pending_len = pl;
    x->pending_cap = cap;
  }
  x->pending[x->n_pending] = malloc (len ? len : 1);
  if (x->pending[x->n_pending] == NULL)
    return;
  memcpy (x->pending[x->n_pending], k, len);
  x->pending_len[x->n_pending++] = len;
}

static void
backfill_tick (RedisModuleCtx *ctx, void *data)
{
  uint64_t deadline = now_us ()
                      + (vss_workers_running () ? BACKFILL_BUDGET_THREADED_US
                                                : BACKFILL_BUDGET_US);
  long long cpu0 = cpu_us ();
  int more = 0, full = 0;

  (void)data;
  timer_armed = 0;
  if (loading)
    return;
  for (int i = 0; i < n_indexes; i++) {
    vss_idx *x = indexes[i];
    if (!x->backfilling)
      continue;
    if (x->cursor == NULL)
      x->cursor = rm_ScanCursorCreate ();
    while (x->backfilling && now_us () < deadline) {
      /* Never wait for the indexing thread here, nor make searches wait
       * behind a long queue: come back later. */
      if (vss_workers_running () && vss_workers_queued () >= QUEUE_PAUSE_AT) {
        full = 1;
        break;
      }
      if (x->pending_pos < x->n_pending) {
        size_t p = x->pending_pos++;
        RedisModuleString *s
            = rm_CreateString (ctx, x->pending[p], x->pending_len[p]);
        free (x->pending[p]);
        x->pending[p] = NULL;
        index_key (ctx, x, s);
        rm_FreeString (ctx, s);
        continue;
      }
      x->n_pending = x->pending_pos = 0;
      if (x->scan_done) {
        backfill_stop (x);
        break;
      }
      if (!rm_Scan (ctx, x->cursor, scan_cb, x))
        x->scan_done = 1;
    }
    more |= x->backfilling;
  }
  cpu0 = cpu_us () - cpu0;
  if (cpu0 > backfill_slice_max_us)
    backfill_slice_max_us = cpu0;
  if (cpu0 > 10000)
    backfill_slices_over_10ms++;
  if (cpu0 > 1000)
    backfill_slices_over_1ms++;
  backfill_slices++;
  if (more)
    arm_timer (ctx, full ? 1 : 0);
}

/* ---- replies ---- */

static int
reply_err (RedisModuleCtx *ctx, const char *msg)
{
  return rm_ReplyWithError (ctx, msg);
}

/* The arguments as (pointer, length) pairs, for the pure parsers. */
static vss_ft_arg *
args_of (RedisModuleString **argv, int argc)
{
  vss_ft_arg *a = calloc ((size_t)argc + 1, sizeof *a);

  if (a == NULL)
    return NULL;
  for (int i = 0; i < argc; i++)
    a[i].ptr = rm_StringPtrLen (argv[i], &a[i].len);
  return a;
}

static int
in_multi_or_script (RedisModuleCtx *ctx)
{
  int flags = rm_GetContextFlags (ctx);

  /* What the primary sent or the AOF holds was checked when it ran. */
  if (flags & (RM_CTX_FLAGS_REPLICATED | RM_CTX_FLAGS_LOADING))
    return 0;
  return (flags & (RM_CTX_FLAGS_MULTI | RM_CTX_FLAGS_LUA)) != 0;
}

static vss_idx *
idx_new (vss_ft_schema *s, char *err, size_t errlen)
{
  vss_idx *x = calloc (1, sizeof *x);

  if (x == NULL) {
    vss_ft_schema_free (s);
    snprintf (err, errlen, "out of memory");
    return NULL;
  }
  x->schema = s;
  x->refs = 1;
  {
    /* Writer-preferring, so a stream of searches cannot starve the
     * indexing thread. */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init (&attr);
    pthread_rwlockattr_setkind_np (
        &attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init (&x->lock, &attr);
    pthread_rwlockattr_destroy (&attr);
  }
  if (make_empty (x, err, errlen) < 0) {
    idx_free (x);
    return NULL;
  }
  return x;
}

static int
cmd_create (RedisModuleCtx *ctx, RedisModuleString **argv, int argc)
{
  char err[VSS_FT_ERRLEN] = "";
  vss_ft_arg *a;
  vss_ft_schema *s = NULL;
  vss_idx *x;

  if (argc < 2)
    return rm_WrongArity (ctx);
  if (in_multi_or_script (ctx))
    return reply_err (ctx, "FT.CREATE is not allowed inside MULTI or a "
                           "script");
  a = args_of (argv + 1, argc - 1);
  if (a == NULL)
    return reply_err (ctx, "out of memory");
  if (vss_ft_create_parse (a, argc - 1, &s, err, sizeof err) < 0) {
    free (a);
    return reply_err (ctx, err);
  }
  free (a);
  if (find_index (s->name, strlen (s->name))) {
    snprintf (err, sizeof err, "Index %s already exists.", s->name);
    vss_ft_schema_free (s);
    return reply_err (ctx, err);
  }
  if (n_indexes == VSS_FT_MAX_INDEXES) {
    vss_ft_schema_free (s);
    return reply_err (ctx, "Maximum number of indexes reached (10)");
  }
  x = idx_new (s, err, sizeof err);
  if (x == NULL)
    return reply_err (ctx, err);
  indexes[n_indexes++] = x;
  backfill_start (ctx, x);
  /* Replicas and the AOF get the command as it came: a replica builds the
   * index from the data it holds, as valkey-search's replicas do. */
  rm_ReplicateVerbatim (ctx);
  return rm_ReplyWithSimpleString (ctx, "OK");
}

static int
reply_not_found_str (RedisModuleCtx *ctx, const char *n, size_t len)
{
  char err[VSS_FT_ERRLEN];

  snprintf (err, sizeof err, "Index with name '%.*s' not found",
            (int)(len > 128 ? 128 : len), n);
  return reply_err (ctx, err);
}

static int
reply_not_found (RedisModuleCtx *ctx, RedisModuleString *name)
{
  size_t len;
  const char *n = rm_StringPtrLen (name, &len);

  return reply_not_found_str (ctx, n, len);
}

static int
cmd_dropindex (RedisModuleCtx *ctx, RedisModuleString **argv, int argc)
{
  size_t len;
  const char *n;

  if (argc == 3)
    return reply_err (ctx, "FT.DROPINDEX takes only the index name (DD is "
                           "not supported: keys are never deleted)");
  if (argc != 2)
    return rm_WrongArity (ctx);
  n = rm_StringPtrLen (argv[1], &len);
  for (int i = 0; i < n_indexes; i++)
    if (strlen (indexes[i]->schema->name) == len
        && !memcmp (indexes[i]->schema->name, n, len)) {
      idx_drop (indexes[i]);
      memmove (&indexes[i], &indexes[i + 1],
               (size_t)(n_indexes - i - 1) * sizeof indexes[0]);
      indexes[--n_indexes] = NULL;
      disarm_timer_if_idle (ctx);
      rm_ReplicateVerbatim (ctx);
      return rm_ReplyWithSimpleString (ctx, "OK");
    }
  return reply_not_found (ctx, argv[1]);
}

static int
cmd_list (RedisModuleCtx *ctx, RedisModuleString **argv, int argc)
{
  (void)argv;
  if (argc != 1)
    return rm_WrongArity (ctx);
  rm_ReplyWithArray (ctx, n_indexes);
  for (int i = 0; i < n_indexes; i++)
    rm_ReplyWithSimpleString (ctx, indexes[i]->schema->name);
  return RM_OK;
}

static const char *
metric_name (vss_metric m)
{
  return m == VSS_METRIC_L2 ? "L2" : m == VSS_METRIC_IP ? "IP" : "COSINE";
}

static void
reply_str (RedisModuleCtx *ctx, const char *s)
{
  rm_ReplyWithCString (ctx, s);
}

static void reply_strf (RedisModuleCtx *ctx, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
reply_strf (RedisModuleCtx *ctx, const char *fmt, ...)
{
  char buf[64];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (buf, sizeof buf, fmt, ap);
  va_end (ap);
  rm_ReplyWithCString (ctx, buf);
}

static void
reply_field_info (RedisModuleCtx *ctx, vss_idx *x, size_t i)
{
  const vss_ft_field *f = &x->schema->fields[i];
  long n = 6;

  if (f->type == VSS_FT_TAG)
    n += f->case_sensitive ? 3 : 2;
  else if (f->type == VSS_FT_VECTOR)
    n += 2;
  rm_ReplyWithArray (ctx, n);
  reply_str (ctx, "identifier");
  reply_str (ctx, f->identifier);
  reply_str (ctx, "attribute");
  reply_str (ctx, f->alias);
  reply_str (ctx, "type");
  if (f->type == VSS_FT_NUMERIC)
    reply_str (ctx, "NUMERIC");
  else if (f->type == VSS_FT_TAG) {
    char sep[2] = { f->separator, '\0' };
    reply_str (ctx, "TAG");
    reply_str (ctx, "SEPARATOR");
    reply_str (ctx, sep);
    if (f->case_sensitive)
      reply_str (ctx, "CASESENSITIVE");
  } else {
    reply_str (ctx, "VECTOR");
    reply_str (ctx, "index");
    rm_ReplyWithArray (ctx, 12);
    reply_str (ctx, "capacity");
    rm_ReplyWithLongLong (ctx, (long long)f->initial_cap);
    reply_str (ctx, "dimensions");
    rm_ReplyWithLongLong (ctx, f->dim);
    reply_str (ctx, "distance_metric");
    reply_str (ctx, metric_name (f->metric));
    reply_str (ctx, "size");
    rm_ReplyWithLongLong (ctx, (long long)vss_index_count (x->vec[i]));
    reply_str (ctx, "data_type");
    reply_str (ctx, "FLOAT32");
    reply_str (ctx, "algorithm");
    if (f->algorithm == VSS_INDEX_HNSW) {
      rm_ReplyWithArray (ctx, 8);
      reply_str (ctx, "name");
      reply_str (ctx, "HNSW");
      reply_str (ctx, "m");
      rm_ReplyWithLongLong (ctx, f->m);
      reply_str (ctx, "ef_construction");
      rm_ReplyWithLongLong (ctx, f->ef_construction);
      reply_str (ctx, "ef_runtime");
      rm_ReplyWithLongLong (ctx, f->ef_runtime);
    } else {
      rm_ReplyWithArray (ctx, 4);
      reply_str (ctx, "name");
      reply_str (ctx, "FLAT");
      reply_str (ctx, "block_size");
      rm_ReplyWithLongLong (ctx, (long long)f->block_size);
    }
  }
}

/* FT.INFO's reply (main thread), once what was queued before it is in. */
static int
reply_info (RedisModuleCtx *ctx, vss_idx *x)
{
  double pct = 1.0;
  size_t num_docs;
  unsigned long long failures;
  vss_workers_stats ws;

  if (__atomic_load_n (&x->dropped, __ATOMIC_ACQUIRE))
    return reply_not_found_str (ctx, x->schema->name, strlen (x->schema->name));
  vss_workers_get_stats (&ws);
  pthread_rwlock_rdlock (&x->lock);
  num_docs = x->docs != NULL ? vss_docs_count (x->docs) : 0;
  failures = (unsigned long long)x->failures;
  if (x->backfilling)
    pct = x->total ? (double)x->scanned / (double)x->total : 0.0;
  if (pct > 1.0)
    pct = x->backfilling ? 0.99 : 1.0;

  rm_ReplyWithArray (ctx, 26);
  reply_str (ctx, "index_name");
  reply_str (ctx, x->schema->name);
  reply_str (ctx, "index_options");
  rm_ReplyWithArray (ctx, 0);
  reply_str (ctx, "index_definition");
  rm_ReplyWithArray (ctx, 6);
  reply_str (ctx, "key_type");
  reply_str (ctx, "HASH");
  reply_str (ctx, "prefixes");
  rm_ReplyWithArray (ctx, (long)x->schema->n_prefixes);
  for (size_t i = 0; i < x->schema->n_prefixes; i++)
    reply_str (ctx, x->schema->prefixes[i]);
  reply_str (ctx, "default_score");
  reply_str (ctx, "1");
  reply_str (ctx, "attributes");
  rm_ReplyWithArray (ctx, (long)x->schema->n_fields);
  for (size_t i = 0; i < x->schema->n_fields; i++)
    reply_field_info (ctx, x, i);
  pthread_rwlock_unlock (&x->lock);
  reply_str (ctx, "num_docs");
  reply_strf (ctx, "%zu", num_docs);
  reply_str (ctx, "num_terms");
  reply_str (ctx, "0");
  reply_str (ctx, "num_records");
  reply_strf (ctx, "%zu", num_docs);
  reply_str (ctx, "hash_indexing_failures");
  reply_strf (ctx, "%llu", failures);
  reply_str (ctx, "backfill_in_progress");
  reply_str (ctx, x->backfilling ? "1" : "0");
  reply_str (ctx, "backfill_complete_percent");
  reply_strf (ctx, "%f", pct);
  /* Across indexes: what the indexing thread has yet to apply. */
  reply_str (ctx, "mutation_queue_size");
  reply_strf (ctx, "%zu", ws.mutations_queued);
  reply_str (ctx, "recent_mutations_queue_delay");
  reply_str (ctx, "0 sec");
  reply_str (ctx, "state");
  reply_str (ctx, x->backfilling ? "backfill_in_progress" : "ready");
  return RM_OK;
}

/* ---- FT.SEARCH and FT.INFO: reads ----
 *
 * A read is parsed on the main thread, runs on a reader thread once what
 * was queued before it is applied (or on the main thread where the client
 * cannot be blocked), and is answered on the main thread, where the keys
 * can be read. */

typedef struct {
  vss_work work;
  int is_info;
  vss_idx *x; /* a reference */
  vss_ft_query *q;
  float *query;
  RedisModuleBlockedClient *bc;
  uint64_t t0;
  /* What the search found: keys copied under the index lock. */
  int n;
  vss_hit *hits;
  char **keys;
  size_t *keylens;
  int gone, timed_out;
  char err[VSS_FT_ERRLEN];
} read_work;

static void
read_work_free (read_work *r)
{
  if (r == NULL)
    return;
  for (int i = 0; r->keys != NULL && i < r->n; i++)
    free (r->keys[i]);
  free (r->keys);
  free (r->keylens);
  free (r->hits);
  free (r->query);
  vss_ft_query_free (r->q);
  idx_unref (r->x);
  free (r);
}

typedef struct {
  const vss_idx *x;
  const vss_ft_query *q;
  size_t field;
} filter_ctx;

static int
filter_cb (uint64_t id, void *user_data)
{
  const filter_ctx *fc = user_data;
  const vss_doc *doc = vss_docs_get (fc->x->docs, id);

  return doc != NULL && doc->has_vec[fc->field]
         && vss_ft_filter_eval (fc->q->filter, doc->attrs);
}

/* Exact top-k over the documents that pass the filter. Returns the count,
 * or -1 when more than EXACT_FILTER_LIMIT pass (use the graph then). */
static int
exact_filtered (const filter_ctx *fc, const float *query, vss_hit *out,
                float *buf)
{
  vss_idx *x = (vss_idx *)fc->x;
  const vss_ft_field *f = &x->schema->fields[fc->field];
  uint64_t limit = vss_docs_id_limit (x->docs);
  size_t passed = 0;
  int n = 0;

  for (uint64_t id = 0; id < limit; id++)
    if (filter_cb (id, (void *)fc) && ++passed > EXACT_FILTER_LIMIT)
      return -1;
  for (uint64_t id = 0; id < limit; id++) {
    float d;
    int j;
    if (!filter_cb (id, (void *)fc)
        || vss_index_get (x->vec[fc->field], id, buf, f->dim, NULL) < 0)
      continue;
    d = vss_distance (f->metric, query, buf, f->dim);
    if (n == (int)fc->q->k && d >= out[n - 1].distance)
      continue;
    j = n < (int)fc->q->k ? n++ : n - 1;
    while (j > 0 && out[j - 1].distance > d) {
      out[j] = out[j - 1];
      j--;
    }
    out[j].id = id;
    out[j].distance = d;
  }
  return n;
}

typedef struct {
  RedisModuleCtx *ctx;
  long n;
} scan_reply;

static void
reply_field_cb (RedisModuleKey *key, RedisModuleString *field,
                RedisModuleString *value, void *privdata)
{
  scan_reply *r = privdata;

  (void)key;
  rm_ReplyWithString (r->ctx, field);
  rm_ReplyWithString (r->ctx, value);
  r->n += 2;
}

/* The search itself, on a reader thread or the main thread. */
static void
run_search (read_work *r)
{
  vss_idx *x = r->x;
  const vss_ft_query *q = r->q;
  const vss_ft_field *f = &x->schema->fields[q->vector_field_index];
  float *buf = malloc ((size_t)f->dim * sizeof *buf);
  vss_error e = { 0 };
  int n = -1;

  r->hits = calloc (q->k, sizeof *r->hits);
  if (buf == NULL || r->hits == NULL) {
    snprintf (r->err, sizeof r->err, "out of memory");
    free (buf);
    return;
  }
  pthread_rwlock_rdlock (&x->lock);
  if (__atomic_load_n (&x->dropped, __ATOMIC_ACQUIRE)) {
    r->gone = 1;
    goto unlock;
  }
  if (x->docs == NULL) {
    snprintf (r->err, sizeof r->err, "out of memory");
    goto unlock;
  }
  if (q->filter != NULL) {
    filter_ctx fc = { x, q, (size_t)q->vector_field_index };
    n = exact_filtered (&fc, r->query, r->hits, buf);
    if (n < 0)
      n = vss_index_search (x->vec[q->vector_field_index], r->query, f->dim,
                            q->k, q->ef_runtime, filter_cb, &fc, r->hits, &e);
  } else
    n = vss_index_search (x->vec[q->vector_field_index], r->query, f->dim, q->k,
                          q->ef_runtime, NULL, NULL, r->hits, &e);
  if (n < 0) {
    snprintf (r->err, sizeof r->err, "Invalid query vector: %.200s", e.msg);
    goto unlock;
  }
  r->keys = calloc ((size_t)n + 1, sizeof *r->keys);
  r->keylens = calloc ((size_t)n + 1, sizeof *r->keylens);
  if (r->keys == NULL || r->keylens == NULL) {
    snprintf (r->err, sizeof r->err, "out of memory");
    goto unlock;
  }
  r->n = n;
  for (int i = 0; i < n; i++) {
    /* Always there: the table and the graph change together. */
    const vss_doc *doc = vss_docs_get (x->docs, r->hits[i].id);
    if (doc == NULL || (r->keys[i] = malloc (doc->keylen + 1)) == NULL)
      continue;
    memcpy (r->keys[i], doc->key, doc->keylen);
    r->keys[i][doc->keylen] = '\0';
    r->keylens[i] = doc->keylen;
  }
unlock:
  pthread_rwlock_unlock (&x->lock);
  free (buf);
  if (now_us () - r->t0 > (uint64_t)q->timeout_ms * 1000u)
    r->timed_out = 1;
}

static void
reply_hit (RedisModuleCtx *ctx, const vss_idx *x, const vss_ft_query *q,
           RedisModuleKey *key, const char *keyname, size_t keylen,
           float distance)
{
  char score[40];
  long n = 0;

  snprintf (score, sizeof score, "%.12g", (double)distance);
  rm_ReplyWithStringBuffer (ctx, keyname, keylen);
  rm_ReplyWithArray (ctx, RM_POSTPONED_LEN);
  if (!q->has_return) {
    scan_reply r = { ctx, 0 };
    RedisModuleScanCursor *c = rm_ScanCursorCreate ();
    rm_ReplyWithCString (ctx, q->score_alias);
    rm_ReplyWithCString (ctx, score);
    while (rm_ScanKey (key, c, reply_field_cb, &r))
      ;
    rm_ScanCursorDestroy (c);
    n = 2 + r.n;
  } else
    for (size_t i = 0; i < q->n_ret; i++) {
      const vss_ft_return *ret = &q->ret[i];
      const char *field = ret->name;
      RedisModuleString *val = NULL;
      int fi;
      if (!strcmp (ret->name, q->score_alias)) {
        rm_ReplyWithCString (ctx, ret->alias);
        rm_ReplyWithCString (ctx, score);
        n += 2;
        continue;
      }
      fi = vss_ft_schema_find (x->schema, ret->name, strlen (ret->name));
      if (fi >= 0)
        field = x->schema->fields[fi].identifier;
      rm_HashGet (key, RM_HASH_CFIELDS, field, &val, NULL);
      if (val == NULL)
        continue;
      rm_ReplyWithCString (ctx, ret->alias);
      rm_ReplyWithString (ctx, val);
      rm_FreeString (ctx, val);
      n += 2;
    }
  rm_ReplySetArrayLength (ctx, n);
}

/* FT.SEARCH's reply, on the main thread. The keys are read now, after the
 * search: like valkey-search, a result whose key was deleted (or is no
 * longer a hash) meanwhile is left out and not counted; one changed
 * meanwhile is returned as it is now, with the distance the search
 * computed. */
static int
reply_search (RedisModuleCtx *ctx, read_work *r)
{
  const vss_ft_query *q = r->q;
  RedisModuleKey **open;
  int nocontent, alive = 0, skipped = 0;
  long shown = 0;

  if (r->gone)
    return reply_not_found_str (ctx, q->index, strlen (q->index));
  if (r->err[0])
    return reply_err (ctx, r->err);
  if (r->timed_out)
    return rm_ReplyWithSimpleString (ctx, "Request timed out");
  open = calloc ((size_t)r->n + 1, sizeof *open);
  if (open == NULL)
    return reply_err (ctx, "out of memory");
  for (int i = 0; i < r->n; i++) {
    RedisModuleString *kn;
    if (r->keys[i] == NULL)
      continue;
    kn = rm_CreateString (ctx, r->keys[i], r->keylens[i]);
    open[i] = rm_OpenKey (ctx, kn, RM_READ | RM_OPEN_KEY_NOTOUCH);
    rm_FreeString (ctx, kn);
    if (open[i] != NULL && rm_KeyType (open[i]) != RM_KEYTYPE_HASH) {
      rm_CloseKey (open[i]);
      open[i] = NULL;
    }
    alive += open[i] != NULL;
  }
  nocontent = q->nocontent || (q->has_return && q->n_ret == 0);
  rm_ReplyWithArray (ctx, RM_POSTPONED_LEN);
  rm_ReplyWithLongLong (ctx, alive);
  for (int i = 0; i < r->n; i++) {
    if (open[i] == NULL)
      continue;
    if ((uint64_t)skipped < q->limit_offset) {
      skipped++;
      continue;
    }
    if ((uint64_t)shown >= q->limit_num)
      break;
    shown++;
    if (nocontent)
      rm_ReplyWithStringBuffer (ctx, r->keys[i], r->keylens[i]);
    else
      reply_hit (ctx, r->x, q, open[i], r->keys[i], r->keylens[i],
                 r->hits[i].distance);
  }
  rm_ReplySetArrayLength (ctx, 1 + shown * (nocontent ? 1 : 2));
  for (int i = 0; i < r->n; i++)
    if (open[i] != NULL)
      rm_CloseKey (open[i]);
  free (open);
  return RM_OK;
}

static int
reply_read (RedisModuleCtx *ctx, read_work *r)
{
  return r->is_info ? reply_info (ctx, r->x) : reply_search (ctx, r);
}

/* On a reader thread. */
static void
read_run (vss_work *w)
{
  read_work *r = (read_work *)w;

  if (!r->is_info)
    run_search (r);
  rm_UnblockClient (r->bc, r);
}

static int
read_reply_cb (RedisModuleCtx *ctx, RedisModuleString **argv, int argc)
{
  (void)argv;
  (void)argc;
  return reply_read (ctx, rm_GetBlockedClientPrivateData (ctx));
}

static void
read_free_cb (RedisModuleCtx *ctx, void *privdata)
{
  (void)ctx;
  read_work_free (privdata);
}

/* Runs `r` on a reader thread with the client blocked, or here when there
 * are no threads or the client cannot be blocked; takes `r`. */
static int
read_submit (RedisModuleCtx *ctx, read_work *r)
{
  int flags = rm_GetContextFlags (ctx), rc;

  if (vss_workers_running ()
      && !(flags
           & (RM_CTX_FLAGS_MULTI | RM_CTX_FLAGS_LUA
              | RM_CTX_FLAGS_DENY_BLOCKING))) {
    r->bc = rm_BlockClient (ctx, read_reply_cb, NULL, read_free_cb, 0);
    if (r->bc != NULL) {
      r->work.run = read_run;
      vss_workers_read (&r->work);
      return RM_OK;
    }
  }
  if (vss_workers_running ())
    vss_workers_drain ();
  if (!r->is_info)
    run_search (r);
  rc = reply_read (ctx, r);
  read_work_free (r);
  return rc;
}

static int
cmd_info (RedisModuleCtx *ctx, RedisModuleString **argv, int argc)
{
  size_t len;
  const char *n;
  vss_idx *x;
  read_work *r;

  if (argc != 2)
    return rm_WrongArity (ctx);
  n = rm_StringPtrLen (argv[1], &len);
  x = find_index (n, len);
  if (x == NULL)
    return reply_not_found (ctx, argv[1]);
  r = calloc (1, sizeof *r);
  if (r == NULL)
    return reply_err (ctx, "out of memory");
  r->is_info = 1;
  r->x = idx_ref (x);
  return read_submit (ctx, r);
}

static int
cmd_search (RedisModuleCtx *ctx, RedisModuleString **argv, int argc)
{
  char err[VSS_FT_ERRLEN] = "";
  vss_ft_arg *a;
  vss_ft_query *q = NULL;
  vss_idx *x;
  const vss_ft_field *f;
  read_work *r;
  uint64_t t0 = now_us ();

  if (argc < 3)
    return rm_WrongArity (ctx);
  a = args_of (argv + 1, argc - 1);
  if (a == NULL)
    return reply_err (ctx, "out of memory");
  if (vss_ft_search_parse (a, argc - 1, &q, err, sizeof err) < 0)
    goto error;
  x = find_index (q->index, strlen (q->index));
  if (x == NULL) {
    reply_not_found (ctx, argv[1]);
    goto out;
  }
  if (vss_ft_query_bind (q, x->schema, err, sizeof err) < 0)
    goto error;
  f = &x->schema->fields[q->vector_field_index];
  r = calloc (1, sizeof *r);
  if (r == NULL
      || (r->query = malloc ((size_t)f->dim * sizeof *r->query)) == NULL) {
    free (r);
    snprintf (err, sizeof err, "out of memory");
    goto error;
  }
  blob_to_floats (q->vec, f->dim, r->query);
  q->vec = NULL; /* it pointed into argv, which the reply may outlive */
  r->q = q;
  r->x = idx_ref (x);
  r->t0 = t0;
  free (a);
  return read_submit (ctx, r);

error:
  reply_err (ctx, err);
out:
  vss_ft_query_free (q);
  free (a);
  return RM_OK;
}

/* ---- RDB ---- */

static void
aux_save (RedisModuleIO *io, int when)
{
  if (when != RM_AUX_BEFORE_RDB)
    return;
  rm_SaveUnsigned (io, (uint64_t)n_indexes);
  for (int i = 0; i < n_indexes; i++) {
    const vss_ft_schema *s = indexes[i]->schema;
    rm_SaveUnsigned (io, (uint64_t)s->n_args);
    for (int j = 0; j < s->n_args; j++)
      rm_SaveStringBuffer (io, s->args[j].ptr, s->args[j].len);
  }
}

static int
aux_load (RedisModuleIO *io, int encver, int when)
{
  uint64_t n;

  if (encver != AUX_ENCVER) {
    rm_Log (NULL, "warning", MODULE_NAME ": unknown RDB data version %d",
            encver);
    return RM_ERR;
  }
  if (when != RM_AUX_BEFORE_RDB)
    return RM_OK;
  /* The RDB replaces what we had (DEBUG RELOAD, a replica's full sync). */
  for (int i = 0; i < n_indexes; i++) {
    idx_drop (indexes[i]);
    indexes[i] = NULL;
  }
  n_indexes = 0;
  n = rm_LoadUnsigned (io);
  if (rm_IsIOError (io) || n > VSS_FT_MAX_INDEXES)
    return RM_ERR;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t argc = rm_LoadUnsigned (io);
    vss_ft_arg *args;
    char **bufs;
    vss_ft_schema *s = NULL;
    char err[VSS_FT_ERRLEN] = "";
    int ok = 1;

    if (rm_IsIOError (io) || argc == 0 || argc > 4096)
      return RM_ERR;
    args = calloc (argc, sizeof *args);
    bufs = calloc (argc, sizeof *bufs);
    if (args == NULL || bufs == NULL)
      ok = 0;
    for (uint64_t j = 0; ok && j < argc; j++) {
      bufs[j] = rm_LoadStringBuffer (io, &args[j].len);
      if (rm_IsIOError (io) || bufs[j] == NULL)
        ok = 0;
      args[j].ptr = bufs[j];
    }
    if (ok && vss_ft_create_parse (args, (int)argc, &s, err, sizeof err) < 0)
      rm_Log (NULL, "warning",
              MODULE_NAME ": index definition in the RDB "
                          "refused: %s",
              err);
    for (uint64_t j = 0; bufs != NULL && j < argc; j++)
      if (bufs[j] != NULL)
        rm_Free (bufs[j]);
    free (bufs);
    free (args);
    if (!ok) {
      vss_ft_schema_free (s);
      return RM_ERR;
    }
    if (s != NULL && find_index (s->name, strlen (s->name)) == NULL) {
      vss_idx *x = idx_new (s, err, sizeof err);
      if (x == NULL)
        rm_Log (NULL, "warning", MODULE_NAME ": %s", err);
      else {
        x->backfilling = 1; /* runs when loading ends */
        indexes[n_indexes++] = x;
      }
    } else
      vss_ft_schema_free (s);
  }
  return RM_OK;
}

static void *
rdb_load_none (RedisModuleIO *io, int encver)
{
  (void)io;
  (void)encver;
  return NULL;
}

static void
rdb_save_none (RedisModuleIO *io, void *value)
{
  (void)io;
  (void)value;
}

static void
free_none (void *value)
{
  (void)value;
}

static void
info_cb (RedisModuleInfoCtx *ctx, int for_crash_report)
{
  long long docs = 0;
  vss_workers_stats ws;

  (void)for_crash_report;
  vss_workers_get_stats (&ws);
  for (int i = 0; i < n_indexes; i++) {
    pthread_rwlock_rdlock (&indexes[i]->lock);
    if (indexes[i]->docs != NULL)
      docs += (long long)vss_docs_count (indexes[i]->docs);
    pthread_rwlock_unlock (&indexes[i]->lock);
  }
  rm_InfoAddSection (ctx, "stats");
  rm_InfoAddFieldLongLong (ctx, "indexes", n_indexes);
  rm_InfoAddFieldLongLong (ctx, "documents", docs);
  rm_InfoAddFieldLongLong (ctx, "backfill_slices", backfill_slices);
  rm_InfoAddFieldLongLong (ctx, "backfill_slice_max_us", backfill_slice_max_us);
  rm_InfoAddFieldLongLong (ctx, "backfill_slices_over_10ms",
                           backfill_slices_over_10ms);
  rm_InfoAddFieldLongLong (ctx, "backfill_slices_over_1ms",
                           backfill_slices_over_1ms);
  rm_InfoAddFieldLongLong (ctx, "worker_threads", (long long)ws.readers);
  rm_InfoAddFieldLongLong (ctx, "mutation_queue_size",
                           (long long)ws.mutations_queued);
  rm_InfoAddFieldLongLong (ctx, "mutations_applied",
                           (long long)ws.mutations_applied);
  rm_InfoAddFieldLongLong (ctx, "reads_queued", (long long)ws.reads_queued);
  rm_InfoAddFieldLongLong (ctx, "reads_done", (long long)ws.reads_done);
  rm_InfoAddFieldLongLong (ctx, "write_pauses", write_pauses);
  rm_InfoAddFieldLongLong (ctx, "main_thread_waits", (long long)ws.main_waits);
  rm_InfoAddFieldLongLong (ctx, "main_thread_wait_us",
                           (long long)ws.main_wait_us);
  rm_InfoAddFieldLongLong (ctx, "main_thread_wait_max_us",
                           (long long)ws.main_wait_max_us);
}

/* ---- load / unload ---- */

/* The only symbols the module exports. */
#define VSS_EXPORT __attribute__ ((visibility ("default")))
VSS_EXPORT int RedisModule_OnLoad (RedisModuleCtx *ctx,
                                   RedisModuleString **argv, int argc);
VSS_EXPORT int RedisModule_OnUnload (RedisModuleCtx *ctx);

int
RedisModule_OnLoad (RedisModuleCtx *ctx, RedisModuleString **argv, int argc)
{
  int (*get_api) (const char *, void *) = ((void **)ctx)[0];
  RedisModuleTypeMethods tm = { 0 };
  static const RedisModuleEvent flush_ev = { RM_EVENT_FLUSHDB, 1 };
  static const RedisModuleEvent loading_ev = { RM_EVENT_LOADING, 1 };
  int persist = 1;

#define VSS_RM_FETCH(ret, name, args)                                          \
  if (get_api ("RedisModule_" #name, (void *)&rm_##name) != RM_OK              \
      || rm_##name == NULL)                                                    \
    return RM_ERR;
  VSS_RM_API (VSS_RM_FETCH)
#undef VSS_RM_FETCH

  rm_SetModuleAttribs (ctx, MODULE_NAME, MODULE_VERSION, RM_APIVER_1);
  for (int i = 0; i < argc; i++) {
    size_t len;
    const char *s = rm_StringPtrLen (argv[i], &len);
    if (len == 9 && !strncasecmp (s, "NOPERSIST", 9))
      persist = 0;
    else if (len == 4 && !strncasecmp (s, "INT8", 4))
      storage = VSS_STORAGE_INT8;
    else if (len == 7 && !strncasecmp (s, "WORKERS", 7) && i + 1 < argc) {
      const char *v = rm_StringPtrLen (argv[++i], &len);
      char *end;
      long w = strtol (v, &end, 10);
      if (len == 0 || end != v + len || w < 0 || w > 256) {
        rm_Log (ctx, "warning",
                MODULE_NAME ": WORKERS takes a number of threads from 0 "
                            "to 256, not '%.*s'",
                (int)len, v);
        return RM_ERR;
      }
      n_workers = (int)w;
    } else {
      rm_Log (ctx, "warning",
              MODULE_NAME ": unknown module argument "
                          "'%.*s' (NOPERSIST, INT8 or WORKERS n)",
              (int)len, s);
      return RM_ERR;
    }
  }
  if (n_workers < 0) {
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    n_workers = cores > 0 ? (int)(cores > 256 ? 256 : cores) : 1;
  }
  if (persist) {
    tm.version = RM_TYPE_METHOD_VERSION_AUX;
    tm.rdb_load = rdb_load_none;
    tm.rdb_save = rdb_save_none;
    tm.free = free_none;
    tm.aux_load = aux_load;
    tm.aux_save = aux_save;
    tm.aux_save_triggers = RM_AUX_BEFORE_RDB;
    if (rm_CreateDataType (ctx, TYPE_NAME, AUX_ENCVER, &tm) == NULL)
      return RM_ERR;
  }
  if (rm_CreateCommand (ctx, "FT.CREATE", cmd_create, "write deny-oom", 0, 0, 0)
          != RM_OK
      || rm_CreateCommand (ctx, "FT.SEARCH", cmd_search, "readonly", 0, 0, 0)
             != RM_OK
      || rm_CreateCommand (ctx, "FT.INFO", cmd_info, "readonly", 0, 0, 0)
             != RM_OK
      || rm_CreateCommand (ctx, "FT._LIST", cmd_list, "readonly", 0, 0, 0)
             != RM_OK
      || rm_CreateCommand (ctx, "FT.DROPINDEX", cmd_dropindex, "write", 0, 0, 0)
             != RM_OK)
    return RM_ERR;
  if (rm_SubscribeToKeyspaceEvents (
          ctx,
          RM_NOTIFY_GENERIC | RM_NOTIFY_STRING | RM_NOTIFY_LIST | RM_NOTIFY_SET
              | RM_NOTIFY_HASH | RM_NOTIFY_ZSET | RM_NOTIFY_EXPIRED
              | RM_NOTIFY_EVICTED | RM_NOTIFY_STREAM | RM_NOTIFY_MODULE,
          on_keyspace)
          != RM_OK
      || rm_SubscribeToServerEvent (ctx, flush_ev, on_flush) != RM_OK
      || rm_SubscribeToServerEvent (ctx, loading_ev, on_loading) != RM_OK
      || rm_RegisterInfoFunc (ctx, info_cb) != RM_OK)
    return RM_ERR;
  if (n_workers > 0) {
    if (vss_workers_start ((unsigned)n_workers, MUTATION_QUEUE_LIMIT) < 0) {
      rm_Log (ctx, "warning", MODULE_NAME ": could not start %d worker threads",
              n_workers);
      return RM_ERR;
    }
  }
  rm_Log (ctx, "notice",
          MODULE_NAME ": loaded (vector kernels: %s, %d search threads%s%s%s)",
          vss_kernel_name (), n_workers,
          n_workers ? " and an indexing thread" : ": all on the main thread",
          persist ? "" : ", no RDB persistence",
          storage == VSS_STORAGE_INT8 ? ", int8 vectors" : "");
  return RM_OK;
}

/* Only reachable with NOPERSIST: a module that registers a data type
 * (our RDB aux data) cannot be unloaded. */
int
RedisModule_OnUnload (RedisModuleCtx *ctx)
{
  if (timer_armed) {
    rm_StopTimer (ctx, timer_id, NULL);
    timer_armed = 0;
  }
  /* Applies what is queued; no search is (the server refuses to unload a
   * module with blocked clients). */
  vss_workers_stop ();
  if (pause_timer_armed) {
    rm_StopTimer (ctx, pause_timer, NULL);
    pause_timer_armed = 0;
  }
  if (writes_paused) {
    client_pause (ctx, 0);
    writes_paused = 0;
  }
  for (int i = 0; i < n_indexes; i++) {
    idx_drop (indexes[i]);
    indexes[i] = NULL;
  }
  n_indexes = 0;
  free (scratch);
  scratch = NULL;
  scratch_len = 0;
  return RM_OK;
}
