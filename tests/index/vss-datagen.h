/* Test and benchmark data for libvssindex: video-like vectors (the generator
 * of /work/shared/reference/vector-index.md), fashion-mnist (Debian's
 * dataset-fashion-mnist, IDX files), .fvecs files, exact ground truth.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Header-only (static functions) so that tests and bench/ share it without
 * a library of their own.
 */
#ifndef VSS_DATAGEN_H
#define VSS_DATAGEN_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vss-index.h"

typedef struct {
  uint64_t s;
  int have_spare;
  double spare;
} vss_rng;

static inline uint64_t
vss_rng_next (vss_rng *r)
{
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static inline double
vss_rng_uniform (vss_rng *r)
{
  return ((vss_rng_next (r) >> 11) + 0.5) / 9007199254740992.0;
}

static inline double
vss_rng_normal (vss_rng *r)
{
  double u, v;
  if (r->have_spare) {
    r->have_spare = 0;
    return r->spare;
  }
  u = vss_rng_uniform (r);
  v = vss_rng_uniform (r);
  r->spare = sqrt (-2 * log (u)) * sin (2 * M_PI * v);
  r->have_spare = 1;
  return sqrt (-2 * log (u)) * cos (2 * M_PI * v);
}

/* Test data is made without the library under test (its own
 * vss_normalize_f32 is what the tests check), so this stays separate. */
static inline void
vss_gen_normalise (float *v, uint32_t d)
{
  double s = 0;
  uint32_t i;
  for (i = 0; i < d; i++)
    s += (double)v[i] * v[i];
  s = sqrt (s);
  for (i = 0; i < d; i++)
    v[i] = (float)(v[i] / s);
}

/* n video-like vectors of dimension d into out (n * d floats): scenes of
 * 30..600 frames whose centre drifts; a third of the cuts revisit an
 * earlier scene's centre. */
static inline void
vss_gen_video (float *out, size_t n, uint32_t d, uint64_t seed)
{
  vss_rng r = { seed * 7919 + 1, 0, 0 };
  float *centre = malloc (d * sizeof (float));
  float *saved = NULL;
  size_t nsaved = 0, cap = 0, i = 0;
  uint32_t j;

  while (i < n) {
    size_t len = 30 + (size_t)(vss_rng_uniform (&r) * 571), f;
    if (nsaved > 0 && vss_rng_uniform (&r) < 0.33) {
      size_t pick = (size_t)(vss_rng_uniform (&r) * nsaved);
      memcpy (centre, saved + pick * d, d * sizeof (float));
    } else {
      for (j = 0; j < d; j++)
        centre[j] = (float)vss_rng_normal (&r);
      vss_gen_normalise (centre, d);
    }
    if (nsaved == cap) {
      cap = cap ? cap * 2 : 16;
      saved = realloc (saved, cap * d * sizeof (float));
    }
    memcpy (saved + nsaved * d, centre, d * sizeof (float));
    nsaved++;
    for (f = 0; f < len && i < n; f++, i++) {
      float *v = out + i * d;
      for (j = 0; j < d; j++)
        centre[j] += (float)(0.02 * vss_rng_normal (&r));
      vss_gen_normalise (centre, d);
      for (j = 0; j < d; j++)
        v[j] = centre[j] + (float)(0.01 * vss_rng_normal (&r));
      vss_gen_normalise (v, d);
    }
  }
  free (centre);
  free (saved);
}

/* Splits a generated stream into base and queries: every `stride`-th vector
 * (from `offset`) becomes a query. Returns the number of queries. */
static inline size_t
vss_gen_split (const float *all, size_t n, uint32_t d, size_t stride,
               float *base, float *queries, size_t max_q)
{
  size_t i, nb = 0, nq = 0;
  for (i = 0; i < n; i++) {
    if (i % stride == stride / 2 && nq < max_q)
      memcpy (queries + (nq++) * d, all + i * d, d * sizeof (float));
    else
      memcpy (base + (nb++) * d, all + i * d, d * sizeof (float));
  }
  return nq;
}

static inline uint32_t
vss_be32 (const unsigned char *p)
{
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8)
         | p[3];
}

/* Reads an IDX3 unsigned-byte image file (optionally gzip'd: then through
 * `gzip -dc`) into floats scaled to 0..1. Returns the vectors (malloc'd) or
 * NULL with a message in `why`. */
static inline float *
vss_read_idx_images (const char *path, size_t *n, uint32_t *d, char *why,
                     size_t why_len)
{
  FILE *f;
  unsigned char h[16];
  size_t len, i, got;
  unsigned char *buf;
  float *out;
  int piped = 0;
  size_t pl = strlen (path);

  if (pl > 3 && strcmp (path + pl - 3, ".gz") == 0) {
    char cmd[1200];
    snprintf (cmd, sizeof cmd, "gzip -dc '%s'", path);
    f = popen (cmd, "r");
    piped = 1;
  } else {
    f = fopen (path, "rb");
  }
  if (!f) {
    snprintf (why, why_len, "cannot open %s", path);
    return NULL;
  }
  if (fread (h, 1, 16, f) != 16 || vss_be32 (h) != 0x803) {
    snprintf (why, why_len, "%s is not an IDX3 ubyte file", path);
    piped ? pclose (f) : fclose (f);
    return NULL;
  }
  *n = vss_be32 (h + 4);
  *d = vss_be32 (h + 8) * vss_be32 (h + 12);
  len = *n * *d;
  buf = malloc (len);
  out = malloc (len * sizeof (float));
  got = buf ? fread (buf, 1, len, f) : 0;
  piped ? pclose (f) : fclose (f);
  if (!buf || !out || got != len) {
    snprintf (why, why_len, "%s: truncated (%zu of %zu bytes)", path, got, len);
    free (buf);
    free (out);
    return NULL;
  }
  for (i = 0; i < len; i++)
    out[i] = buf[i] / 255.0f;
  free (buf);
  return out;
}

/* Finds a fashion-mnist file ("train-images-idx3-ubyte" or
 * "t10k-images-idx3-ubyte") as installed by dataset-fashion-mnist. */
static inline int
vss_find_fmnist (const char *name, char *path, size_t len)
{
  static const char *dirs[]
      = { "/usr/share/dataset-fashion-mnist", "/usr/share/fashion-mnist",
          "/usr/share/datasets/fashion-mnist", NULL };
  static const char *suffix[] = { "", ".gz", NULL };
  int i, j;
  const char *env = getenv ("VSS_FMNIST_DIR");

  for (i = -1; i < 0 || dirs[i]; i++) {
    const char *dir = i < 0 ? env : dirs[i];
    if (!dir)
      continue;
    for (j = 0; suffix[j]; j++) {
      FILE *f;
      snprintf (path, len, "%s/%s%s", dir, name, suffix[j]);
      f = fopen (path, "rb");
      if (f) {
        fclose (f);
        return 0;
      }
    }
  }
  return -1;
}

/* texmex .fvecs: per vector an int32 dimension then the floats. */
static inline float *
vss_read_fvecs (const char *path, size_t *n, uint32_t *d, size_t max_n,
                char *why, size_t why_len)
{
  FILE *f = fopen (path, "rb");
  float *out = NULL;
  size_t cap = 0;
  int32_t dim;

  *n = 0;
  *d = 0;
  if (!f) {
    snprintf (why, why_len, "cannot open %s", path);
    return NULL;
  }
  while ((max_n == 0 || *n < max_n) && fread (&dim, 4, 1, f) == 1) {
    if (dim <= 0 || dim > (1 << 20) || (*d && (uint32_t)dim != *d)) {
      snprintf (why, why_len, "%s: bad dimension %d at vector %zu", path, dim,
                *n);
      free (out);
      fclose (f);
      return NULL;
    }
    *d = (uint32_t)dim;
    if (*n == cap) {
      cap = cap ? cap * 2 : 1024;
      out = realloc (out, cap * *d * sizeof (float));
    }
    if (fread (out + *n * *d, sizeof (float), *d, f) != *d) {
      snprintf (why, why_len, "%s: truncated at vector %zu", path, *n);
      free (out);
      fclose (f);
      return NULL;
    }
    (*n)++;
  }
  fclose (f);
  if (*n == 0)
    snprintf (why, why_len, "%s: no vectors", path);
  return out;
}

/* Exact k-NN ids for each query (nq * k), by brute force in double. */
static inline void
vss_ground_truth (const float *base, size_t n, const float *q, size_t nq,
                  uint32_t d, vss_metric metric, uint32_t k, uint64_t *gt)
{
  size_t qi, i;
  vss_hit *best = malloc (k * sizeof *best);

  for (qi = 0; qi < nq; qi++) {
    uint32_t m = 0;
    for (i = 0; i < n; i++) {
      float dist = vss_distance (metric, q + qi * d, base + i * d, d);
      uint32_t p;
      if (m == k && dist >= best[k - 1].distance)
        continue;
      if (m < k)
        m++;
      p = m - 1;
      while (p > 0 && dist < best[p - 1].distance) {
        best[p] = best[p - 1];
        p--;
      }
      best[p].id = i;
      best[p].distance = dist;
    }
    for (i = 0; i < k; i++)
      gt[qi * k + i] = i < m ? best[i].id : UINT64_MAX;
  }
  free (best);
}

/* recall@k of `got` (hits of one query) against ground-truth ids. */
static inline double
vss_recall (const vss_hit *got, int ngot, const uint64_t *gt, uint32_t k)
{
  int i;
  uint32_t j, hit = 0;
  for (i = 0; i < ngot; i++)
    for (j = 0; j < k; j++)
      if (got[i].id == gt[j]) {
        hit++;
        break;
      }
  return (double)hit / k;
}

#endif /* VSS_DATAGEN_H */
