/* libvssindex: API behaviour, invalid input and edge cases, for the flat and
 * the HNSW index, f32 and int8, every metric.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <unistd.h>
#include <unistd.h>

#include "vss-check.h"
#include "vss-datagen.h"
#include "vss-index-private.h"

static vss_index *
make (vss_index_kind kind, vss_metric metric, uint32_t dim, vss_storage st)
{
  vss_index_params p;
  vss_error err = { 0 };
  vss_index *idx;

  vss_index_params_init (&p, kind, metric, dim);
  p.storage = st;
  p.initial_capacity = 4; /* exercise growth */
  idx = vss_index_new (&p, &err);
  if (!idx)
    fprintf (stderr, "vss_index_new: %s\n", err.msg);
  return idx;
}

static const struct {
  vss_index_kind kind;
  vss_storage st;
  const char *name;
} variants[] = {
  { VSS_INDEX_FLAT, VSS_STORAGE_F32, "flat/f32" },
  { VSS_INDEX_HNSW, VSS_STORAGE_F32, "hnsw/f32" },
  { VSS_INDEX_FLAT, VSS_STORAGE_INT8, "flat/int8" },
  { VSS_INDEX_HNSW, VSS_STORAGE_INT8, "hnsw/int8" },
};

#define N_VARIANTS 4

static void
test_invalid_input (void)
{
  int v;

  for (v = 0; v < N_VARIANTS; v++) {
    vss_index *idx
        = make (variants[v].kind, VSS_METRIC_COSINE, 4, variants[v].st);
    vss_error err = { 0 };
    float ok[4] = { 1, 2, 3, 4 }, bad[4] = { 1, NAN, 3, 4 };
    float inf[4] = { 1, INFINITY, 3, 4 }, zero[4] = { 0 };
    vss_hit hits[4];

    CHECK (idx);
    CHECK (vss_index_add (idx, 1, bad, 4, &err) < 0
           && err.code == VSS_ERR_INVALID && strstr (err.msg, "finite"));
    CHECK (vss_index_add (idx, 1, inf, 4, &err) < 0
           && err.code == VSS_ERR_INVALID);
    CHECK (vss_index_add (idx, 1, zero, 4, &err) < 0
           && err.code == VSS_ERR_INVALID && strstr (err.msg, "zero"));
    CHECK (vss_index_add (idx, 1, ok, 3, &err) < 0
           && err.code == VSS_ERR_DIMENSION);
    CHECK (vss_index_add (idx, 1, NULL, 4, &err) < 0
           && err.code == VSS_ERR_INVALID);
    CHECK (vss_index_add (idx, 1, ok, 4, &err) == 0);
    CHECK (vss_index_add (idx, 1, ok, 4, &err) < 0
           && err.code == VSS_ERR_DUPLICATE);
    CHECK (vss_index_add (idx, 1, ok, 4, NULL) < 0); /* NULL err is fine */
    CHECK (vss_index_search (idx, ok, 4, 0, 0, NULL, NULL, hits, &err) < 0
           && err.code == VSS_ERR_INVALID);
    CHECK (vss_index_search (idx, bad, 4, 1, 0, NULL, NULL, hits, &err) < 0);
    CHECK (vss_index_search (idx, ok, 5, 1, 0, NULL, NULL, hits, &err) < 0
           && err.code == VSS_ERR_DIMENSION);
    CHECK (vss_index_search (idx, zero, 4, 1, 0, NULL, NULL, hits, &err) < 0);
    CHECK (vss_index_search_within (idx, ok, 4, NAN, hits, &err) < 0);
    CHECK (vss_index_remove (idx, 2, &err) < 0
           && err.code == VSS_ERR_NOT_FOUND);
    CHECK (vss_index_get (idx, 2, ok, 4, &err) < 0
           && err.code == VSS_ERR_NOT_FOUND);
    CHECK (vss_index_get (idx, 1, ok, 3, &err) < 0
           && err.code == VSS_ERR_DIMENSION);
    CHECK (vss_index_count (idx) == 1);
    vss_index_free (idx);
  }
  {
    vss_index_params p;
    vss_error err = { 0 };
    vss_index_params_init (&p, VSS_INDEX_HNSW, VSS_METRIC_L2, 0);
    CHECK (vss_index_new (&p, &err) == NULL && err.code == VSS_ERR_DIMENSION);
    vss_index_params_init (&p, VSS_INDEX_HNSW, VSS_METRIC_L2, 8);
    p.M = 1;
    CHECK (vss_index_new (&p, &err) == NULL && err.code == VSS_ERR_INVALID);
    vss_index_params_init (&p, VSS_INDEX_HNSW, (vss_metric)9, 8);
    CHECK (vss_index_new (&p, &err) == NULL && err.code == VSS_ERR_INVALID);
    CHECK (vss_index_new (NULL, &err) == NULL);
    /* an L2 or IP index takes zero vectors */
    vss_index_params_init (&p, VSS_INDEX_HNSW, VSS_METRIC_L2, 2);
    {
      vss_index *idx = vss_index_new (&p, &err);
      float z[2] = { 0, 0 };
      CHECK (idx && vss_index_add (idx, 5, z, 2, &err) == 0);
      vss_index_free (idx);
    }
  }
}

/* Random vectors; the nearest of each stored vector is itself. */
static void
test_basic_all_metrics (void)
{
  vss_metric metrics[] = { VSS_METRIC_COSINE, VSS_METRIC_IP, VSS_METRIC_L2 };
  int v, m;
  uint32_t d = 24;
  size_t n = 600, i;
  float *x = malloc (n * d * sizeof (float));
  vss_rng r = { 7, 0, 0 };

  for (i = 0; i < n * d; i++)
    x[i] = (float)vss_rng_normal (&r);
  for (m = 0; m < 3; m++) {
    for (v = 0; v < N_VARIANTS; v++) {
      vss_index *idx = make (variants[v].kind, metrics[m], d, variants[v].st);
      vss_error err = { 0 };
      vss_hit hits[10];
      float got[24];
      size_t self = 0;
      CHECK (idx);
      for (i = 0; i < n; i++) {
        float *vec = x + i * d;
        if (metrics[m] == VSS_METRIC_IP)
          vss_gen_normalise (vec, d); /* IP on unit vectors = cosine */
        CHECK_MSG (vss_index_add (idx, 1000 + i, vec, d, &err) == 0, "%s",
                   err.msg);
      }
      CHECK (vss_index_count (idx) == n);
      CHECK (vss_index_dim (idx) == d && vss_index_metric (idx) == metrics[m]);
      CHECK (vss_index_memory_used (idx) > n * d);
      for (i = 0; i < n; i++) {
        int k = vss_index_search (idx, x + i * d, d, 10, 0, NULL, NULL, hits,
                                  &err);
        int j;
        CHECK_MSG (k == 10, "%s: %d %s", variants[v].name, k, err.msg);
        for (j = 1; j < k; j++)
          CHECK (hits[j - 1].distance <= hits[j].distance);
        if (hits[0].id == 1000 + i)
          self++;
        /* the distance is the exact one, whatever the storage */
        CHECK (fabsf (hits[0].distance
                      - vss_distance (metrics[m], x + i * d,
                                      x + (hits[0].id - 1000) * d, d))
               < 1e-4);
      }
      CHECK_MSG (self >= n * 99 / 100, "%s metric %d: self-hit %zu/%zu",
                 variants[v].name, m, self, n);
      /* get returns the stored form: normalised for cosine */
      CHECK (vss_index_get (idx, 1003, got, d, &err) == 0);
      if (metrics[m] == VSS_METRIC_COSINE) {
        float ref[24];
        memcpy (ref, x + 3 * d, sizeof ref);
        vss_gen_normalise (ref, d);
        for (i = 0; i < d; i++)
          CHECK (fabsf (got[i] - ref[i]) < 1e-6);
      } else {
        CHECK (memcmp (got, x + 3 * d, sizeof got) == 0);
      }
      CHECK (vss_index_contains (idx, 1003) && !vss_index_contains (idx, 3));
      vss_index_free (idx);
    }
  }
  free (x);
}

static void
test_empty_and_small (void)
{
  int v;

  for (v = 0; v < N_VARIANTS; v++) {
    vss_index *idx = make (variants[v].kind, VSS_METRIC_L2, 1, variants[v].st);
    vss_error err = { 0 };
    vss_hit hits[8];
    float q = 0.4f, x;
    int i, n;

    CHECK (idx);
    /* empty */
    CHECK (vss_index_search (idx, &q, 1, 5, 0, NULL, NULL, hits, &err) == 0);
    CHECK (vss_index_search_within (idx, &q, 1, 10, hits, &err) == 0);
    CHECK (vss_index_count (idx) == 0);
    /* dimension 1, k > n */
    for (i = 0; i < 3; i++) {
      x = (float)i;
      CHECK (vss_index_add (idx, i, &x, 1, &err) == 0);
    }
    n = vss_index_search (idx, &q, 1, 8, 0, NULL, NULL, hits, &err);
    CHECK_MSG (n == 3, "%s: %d", variants[v].name, n);
    CHECK (hits[0].id == 0 && hits[1].id == 1 && hits[2].id == 2);
    CHECK (fabsf (hits[0].distance - 0.16f) < 1e-5);
    CHECK (vss_index_search_within (idx, &q, 1, 0.5f, hits, &err) == 1
           && hits[0].id != 2);
    CHECK (vss_index_search_within (idx, &q, 1, 0.1f, hits, &err) == 0);
    vss_index_free (idx);
  }
}

static int
accept_mod (uint64_t id, void *ud)
{
  return id % *(uint64_t *)ud == 3;
}

static void
test_remove (void)
{
  int v;
  uint32_t d = 16;
  size_t n = 2000, i;
  float *x = malloc (n * d * sizeof (float));

  vss_gen_video (x, n, d, 3);
  for (v = 0; v < N_VARIANTS; v++) {
    vss_index *idx
        = make (variants[v].kind, VSS_METRIC_COSINE, d, variants[v].st);
    vss_error err = { 0 };
    vss_hit hits[10];
    int k, j;

    CHECK (idx);
    for (i = 0; i < n; i++)
      CHECK (vss_index_add (idx, i, x + i * d, d, &err) == 0);
    /* remove every even id, and the entry point whatever it is */
    for (i = 0; i < n; i += 2)
      CHECK (vss_index_remove (idx, i, &err) == 0);
    CHECK (vss_index_remove (idx, 0, &err) < 0);
    CHECK (vss_index_count (idx) == n / 2);
    for (i = 0; i < n; i += 97) {
      k = vss_index_search (idx, x + i * d, d, 10, 0, NULL, NULL, hits, &err);
      CHECK_MSG (k == 10, "%s: %d", variants[v].name, k);
      for (j = 0; j < k; j++)
        CHECK (hits[j].id % 2 == 1);
      if (i % 2 == 1)
        CHECK (hits[0].id == i);
      CHECK (vss_index_search_within (idx, x + i * d, d, 2.0f, hits, &err) == 1
             && hits[0].id % 2 == 1);
    }
    /* an id may come back after removal */
    CHECK (vss_index_add (idx, 4, x + 4 * d, d, &err) == 0);
    k = vss_index_search (idx, x + 4 * d, d, 1, 0, NULL, NULL, hits, &err);
    CHECK (k == 1 && hits[0].id == 4);
    /* compaction drops the tombstones and keeps the rest */
    {
      size_t before = vss_index_memory_used (idx);
      CHECK (vss_index_compact (idx, &err) == 0);
      CHECK (vss_index_count (idx) == n / 2 + 1);
      CHECK (vss_index_memory_used (idx) < before);
      k = vss_index_search (idx, x + 5 * d, d, 10, 0, NULL, NULL, hits, &err);
      CHECK (k == 10 && hits[0].id == 5);
      CHECK (vss_index_contains (idx, 4) && !vss_index_contains (idx, 6));
    }
    /* everything removed */
    CHECK (vss_index_remove (idx, 4, &err) == 0);
    for (i = 1; i < n; i += 2)
      CHECK (vss_index_remove (idx, i, &err) == 0);
    CHECK (vss_index_count (idx) == 0);
    CHECK (vss_index_search (idx, x, d, 5, 0, NULL, NULL, hits, &err) == 0);
    CHECK (vss_index_search_within (idx, x, d, 2.0f, hits, &err) == 0);
    /* and it still works afterwards */
    CHECK (vss_index_add (idx, 77, x + 77 * d, d, &err) == 0);
    CHECK (vss_index_search (idx, x, d, 5, 0, NULL, NULL, hits, &err) == 1
           && hits[0].id == 77);
    vss_index_free (idx);
  }
  free (x);
}

static void
test_filter (void)
{
  int v;
  uint32_t d = 32;
  size_t n = 3000, i;
  float *x = malloc (n * d * sizeof (float));

  vss_gen_video (x, n, d, 5);
  for (v = 0; v < N_VARIANTS; v++) {
    vss_index *idx
        = make (variants[v].kind, VSS_METRIC_COSINE, d, variants[v].st);
    vss_error err = { 0 };
    vss_hit hits[10];
    uint64_t mods[] = { 10, 500, 1000, 5000 };
    int mi;

    CHECK (idx);
    for (i = 0; i < n; i++)
      CHECK (vss_index_add (idx, i, x + i * d, d, &err) == 0);
    for (mi = 0; mi < 4; mi++) {
      uint64_t mod = mods[mi];
      size_t passing = 0, q;
      for (i = 0; i < n; i++)
        passing += i % mod == 3;
      for (q = 0; q < 20; q++) {
        const float *qv = x + ((q * 149) % n) * d;
        int k = vss_index_search (idx, qv, d, 10, 0, accept_mod, &mod, hits,
                                  &err);
        int j;
        size_t want = passing < 10 ? passing : 10;
        CHECK_MSG ((size_t)k == want, "%s mod %llu: %d of %zu",
                   variants[v].name, (unsigned long long)mod, k, want);
        for (j = 0; j < k; j++)
          CHECK (hits[j].id % mod == 3);
      }
    }
    vss_index_free (idx);
  }
  free (x);
}

static void
test_ef_and_params (void)
{
  vss_index *idx = make (VSS_INDEX_HNSW, VSS_METRIC_COSINE, 8, VSS_STORAGE_F32);
  vss_error err = { 0 };
  float x[8 * 300];
  vss_hit hits[300];
  size_t i;

  CHECK (idx);
  vss_gen_video (x, 300, 8, 9);
  for (i = 0; i < 300; i++)
    CHECK (vss_index_add (idx, i, x + i * 8, 8, &err) == 0);
  vss_index_set_ef_search (idx, 16);
  /* k larger than ef still returns k */
  CHECK (vss_index_search (idx, x, 8, 300, 0, NULL, NULL, hits, &err) == 300);
  CHECK (vss_index_search (idx, x, 8, 50, 500, NULL, NULL, hits, &err) == 50);
  vss_index_free (idx);
}

static char *
tmp_path (const char *name)
{
  static char buf[4][512];
  static int i;
  const char *dir = getenv ("TMPDIR");
  char *b = buf[i++ % 4];
  snprintf (b, 512, "%s/vss-test-%d-%s", dir ? dir : "/tmp", (int)getpid (),
            name);
  return b;
}

static long
file_size (const char *path)
{
  FILE *f = fopen (path, "rb");
  long n;
  if (!f)
    return -1;
  fseek (f, 0, SEEK_END);
  n = ftell (f);
  fclose (f);
  return n;
}

/* Rewrites `path` with byte `at` xor-ed with `mask`, or cut at `cut`. */
static void
damage (const char *path, long at, uint8_t mask, long cut)
{
  long n = file_size (path);
  uint8_t *b = malloc (n);
  FILE *f = fopen (path, "rb");
  if (fread (b, 1, n, f) != (size_t)n)
    abort ();
  fclose (f);
  if (at >= 0)
    b[at] ^= mask;
  f = fopen (path, "wb");
  fwrite (b, 1, cut >= 0 ? cut : n, f);
  fclose (f);
  free (b);
}

static void
test_persist (void)
{
  int v;
  uint32_t d = 48;
  size_t n = 1500, i;
  float *x = malloc (n * d * sizeof (float));
  const char *path = tmp_path ("persist.vss");
  const char *bad = tmp_path ("bad.vss");
  const char *missing = tmp_path ("missing.vss");

  vss_gen_video (x, n, d, 21);
  for (v = 0; v < N_VARIANTS; v++) {
    vss_index *idx
        = make (variants[v].kind, VSS_METRIC_COSINE, d, variants[v].st);
    vss_index *back;
    vss_error err = { 0 };
    vss_hit a[10], b[10];
    float ga[48], gb[48];
    long size;

    CHECK (idx);
    for (i = 0; i < n; i++)
      CHECK (vss_index_add (idx, i * 3 + 1, x + i * d, d, &err) == 0);
    for (i = 0; i < n; i += 5)
      CHECK (vss_index_remove (idx, i * 3 + 1, &err) == 0);
    CHECK_MSG (vss_index_save (idx, path, &err) == 0, "%s", err.msg);
    back = vss_index_load (path, &err);
    CHECK_MSG (back != NULL, "%s", err.msg);
    CHECK (vss_index_count (back) == vss_index_count (idx));
    CHECK (vss_index_dim (back) == d);
    CHECK (vss_index_metric (back) == VSS_METRIC_COSINE);
    for (i = 0; i < n; i += 37) {
      int j;
      int ka = vss_index_search (idx, x + i * d, d, 10, 0, NULL, NULL, a, &err);
      int kb
          = vss_index_search (back, x + i * d, d, 10, 0, NULL, NULL, b, &err);
      CHECK (ka == 10 && kb == ka);
      for (j = 0; j < ka; j++)
        CHECK_MSG (a[j].id == b[j].id && a[j].distance == b[j].distance,
                   "%s: results differ", variants[v].name);
    }
    CHECK (vss_index_get (idx, 4, ga, d, &err) == 0);
    CHECK (vss_index_get (back, 4, gb, d, &err) == 0);
    CHECK (memcmp (ga, gb, sizeof ga) == 0);
    CHECK (!vss_index_contains (back, 1)); /* removed before saving */
    /* the loaded index keeps working */
    CHECK (vss_index_add (back, 1, x, d, &err) == 0);
    CHECK (vss_index_add (back, 4, x, d, &err) < 0
           && err.code == VSS_ERR_DUPLICATE);
    CHECK (vss_index_remove (back, 4, &err) == 0);
    CHECK (vss_index_search (back, x, d, 1, 0, NULL, NULL, a, &err) == 1
           && a[0].id == 1);

    size = file_size (path);
    CHECK (size > (long)(n * d * 4));
    /* corruption anywhere: checksum */
    CHECK (vss_index_save (idx, bad, &err) == 0);
    damage (bad, size / 2, 0x10, -1);
    CHECK (vss_index_load (bad, &err) == NULL);
    CHECK_MSG (err.code == VSS_ERR_FORMAT && strstr (err.msg, "checksum"), "%s",
               err.msg);
    /* truncation: at several places */
    {
      long cuts[] = { 0, 5, 20, 100, size / 3, size - 13, size - 1 };
      size_t c;
      for (c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        CHECK (vss_index_save (idx, bad, &err) == 0);
        damage (bad, -1, 0, cuts[c]);
        memset (&err, 0, sizeof err);
        CHECK (vss_index_load (bad, &err) == NULL);
        CHECK_MSG (err.code == VSS_ERR_FORMAT
                       && (strstr (err.msg, "truncated")
                           || strstr (err.msg, "not a vss index")),
                   "cut %ld: %s", cuts[c], err.msg);
      }
    }
    /* version, byte order, magic */
    CHECK (vss_index_save (idx, bad, &err) == 0);
    damage (bad, 8, 0x02, -1);
    CHECK (vss_index_load (bad, &err) == NULL && err.code == VSS_ERR_FORMAT
           && strstr (err.msg, "version"));
    CHECK (vss_index_save (idx, bad, &err) == 0);
    damage (bad, 12, 0x07, -1);
    CHECK (vss_index_load (bad, &err) == NULL && err.code == VSS_ERR_FORMAT
           && strstr (err.msg, "byte order"));
    CHECK (vss_index_save (idx, bad, &err) == 0);
    damage (bad, 0, 0x01, -1);
    CHECK (vss_index_load (bad, &err) == NULL && err.code == VSS_ERR_FORMAT
           && strstr (err.msg, "not a vss index"));
    /* I/O errors */
    CHECK (vss_index_load (missing, &err) == NULL && err.code == VSS_ERR_IO);
    CHECK (vss_index_save (idx, "/nonexistent-dir/x.vss", &err) < 0
           && err.code == VSS_ERR_IO);
    remove (path);
    remove (bad);
    vss_index_free (idx);
    vss_index_free (back);
  }
  /* an empty index round-trips */
  {
    vss_index *idx = make (VSS_INDEX_HNSW, VSS_METRIC_L2, 3, VSS_STORAGE_F32);
    vss_index *back;
    vss_error err = { 0 };
    vss_hit h;
    float q[3] = { 1, 2, 3 };
    CHECK (vss_index_save (idx, path, &err) == 0);
    back = vss_index_load (path, &err);
    CHECK_MSG (back != NULL, "%s", err.msg);
    CHECK (vss_index_count (back) == 0);
    CHECK (vss_index_search (back, q, 3, 1, 0, NULL, NULL, &h, &err) == 0);
    CHECK (vss_index_add (back, 9, q, 3, &err) == 0);
    CHECK (vss_index_search (back, q, 3, 1, 0, NULL, NULL, &h, &err) == 1);
    remove (path);
    vss_index_free (idx);
    vss_index_free (back);
  }
  free (x);
}

/* The graph's entry point itself removed: searches still start there,
 * walk through it, and never return it. */
static void
test_remove_entry_point (void)
{
  uint32_t d = 16;
  size_t n = 800, i;
  float *x = malloc (n * d * sizeof (float));
  vss_index *idx = make (VSS_INDEX_HNSW, VSS_METRIC_L2, d, VSS_STORAGE_F32);
  vss_error err = { 0 };
  vss_hit hits[10];
  uint64_t entry_id;
  int k, j;

  CHECK (idx);
  vss_gen_video (x, n, d, 13);
  for (i = 0; i < n; i++)
    CHECK (vss_index_add (idx, i, x + i * d, d, &err) == 0);
  entry_id = vss_elem_id (idx, idx->entry);
  CHECK (vss_index_remove (idx, entry_id, &err) == 0);
  k = vss_index_search (idx, x + entry_id * d, d, 10, 0, NULL, NULL, hits,
                        &err);
  CHECK (k == 10);
  for (j = 0; j < k; j++)
    CHECK (hits[j].id != entry_id);
  CHECK (vss_index_search_within (idx, x + entry_id * d, d, 1e-9f, hits, &err)
         == 0);
  /* all but one removed */
  for (i = 0; i < n - 1; i++)
    if (i != entry_id)
      CHECK (vss_index_remove (idx, i, &err) == 0);
  k = vss_index_search (idx, x, d, 10, 0, NULL, NULL, hits, &err);
  CHECK (k == 1 && hits[0].id == n - 1);
  vss_index_free (idx);
  free (x);
}

/* Rows stored and not yet linked are found by an exact scan (within, the
 * nearest on a miss, k-NN), and linking them afterwards builds the very
 * graph that adding them one by one builds. */
static void
test_unlinked_tail (void)
{
  uint32_t d = 64;
  size_t n = 1200, extra = 60, i, tail_nearest = 0;
  float *x = malloc ((n + extra) * d * sizeof (float));
  vss_index_params p;
  vss_error err = { 0 };
  vss_index *a, *b;
  vss_hit hits[10], hb[10];

  vss_gen_video (x, n + extra, d, 77);
  vss_index_params_init (&p, VSS_INDEX_HNSW, VSS_METRIC_COSINE, d);
  p.initial_capacity = 64; /* growth with rows waiting */
  a = vss_index_new (&p, &err);
  b = vss_index_new (&p, &err);
  CHECK (a && b);
  for (i = 0; i < n + extra; i++) {
    CHECK (vss_index_add (a, i, x + i * d, d, &err) == 0);
    if (i < n)
      CHECK (vss_index_add (b, i, x + i * d, d, &err) == 0);
    else
      CHECK (vss_index_add_unlinked (b, i, x + i * d, d, &err) == 0);
  }
  CHECK (vss_index_unlinked (b) == extra);
  CHECK (vss_index_count (b) == n + extra);
  CHECK (vss_index_add_unlinked (b, n, x, d, &err) < 0
         && err.code == VSS_ERR_DUPLICATE);
  for (i = n; i < n + extra; i++) {
    vss_search_opts o;
    vss_hit h, near;
    float q[64];
    size_t j, best = 0;
    float best_d = INFINITY;
    CHECK (vss_index_search_within (b, x + i * d, d, 1e-5f, &h, &err) == 1);
    CHECK_MSG (h.id == i || h.distance < 1e-6f, "%zu: %llu %g", i,
               (unsigned long long)h.id, h.distance);
    CHECK (vss_index_search (b, x + i * d, d, 5, 0, NULL, NULL, hits, &err)
           == 5);
    CHECK (hits[0].distance < 1e-6f);
    /* a miss reports the nearest row, here one that waits */
    for (j = 0; j < d; j++)
      q[j] = x[i * d + j] + 0.002f * (float)((int)((j * 7 + i) % 5) - 2);
    for (j = 0; j < n + extra; j++) {
      float dd = 0, nq = 0, nx = 0;
      size_t c;
      for (c = 0; c < d; c++) {
        dd += q[c] * x[j * d + c];
        nq += q[c] * q[c];
        nx += x[j * d + c] * x[j * d + c];
      }
      dd = 1 - dd / sqrtf (nq * nx);
      if (dd < best_d) {
        best_d = dd;
        best = j;
      }
    }
    memset (&o, 0, sizeof o);
    o.k = 1;
    o.within = 1;
    o.r = best_d / 2;
    o.nearest = &near;
    CHECK (vss_index_search_opts (b, q, d, &o, &h, &err) == 0);
    tail_nearest += best >= n;
    if (best >= n)
      CHECK_MSG (near.id == best && fabsf (near.distance - best_d) < 1e-4f,
                 "%zu: nearest %llu %g, truth %zu %g", i,
                 (unsigned long long)near.id, near.distance, best, best_d);
  }
  CHECK_MSG (tail_nearest > extra / 2, "%zu", tail_nearest);
  /* k-NN merges the graph's candidates with the waiting rows */
  for (i = 0; i < 50; i++) {
    const float *q = x + ((i * 37) % (n + extra)) * d;
    int k1 = vss_index_search (a, q, d, 10, 64, NULL, NULL, hits, &err);
    int k2 = vss_index_search (b, q, d, 10, 64, NULL, NULL, hb, &err);
    CHECK (k1 == 10 && k2 == 10);
    CHECK (hits[0].distance == hb[0].distance);
  }
  while (vss_index_link_next (b, 0, &err) > 0)
    ;
  CHECK (vss_index_unlinked (b) == 0);
  CHECK (vss_index_link_next (b, 0, &err) == 0);
  /* the same graph as adding row by row: the same answers */
  for (i = 0; i < 100; i++) {
    const float *q = x + ((i * 53) % (n + extra)) * d;
    int k1 = vss_index_search (a, q, d, 10, 16, NULL, NULL, hits, &err), j;
    int k2 = vss_index_search (b, q, d, 10, 16, NULL, NULL, hb, &err);
    CHECK (k1 == k2);
    for (j = 0; j < k1; j++)
      CHECK_MSG (hits[j].id == hb[j].id && hits[j].distance == hb[j].distance,
                 "query %zu rank %d: %llu vs %llu", i, j,
                 (unsigned long long)hits[j].id, (unsigned long long)hb[j].id);
  }
  vss_index_free (a);
  vss_index_free (b);
  free (x);
}

static const vss_test tests[]
    = { { "invalid_input", test_invalid_input },
        { "persist", test_persist },
        { "basic_all_metrics", test_basic_all_metrics },
        { "empty_and_small", test_empty_and_small },
        { "remove", test_remove },
        { "remove_entry_point", test_remove_entry_point },
        { "filter", test_filter },
        { "ef_and_params", test_ef_and_params },
        { "unlinked_tail", test_unlinked_tail },
        { NULL, NULL } };

int
main (int argc, char **argv)
{
  return vss_run_tests (tests, argc, argv);
}
