/* libvssindex: distance kernels, scalar reference and runtime dispatch.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The SIMD kernels live in one file per instruction set, each compiled with
 * its own -m flags so that simde maps to native instructions; the set is
 * picked once, at the first use, from the CPU's features.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vss-index-private.h"

float
vss_dot_f32_scalar (const float *a, const float *b, size_t n)
{
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;

  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; i++)
    s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

float
vss_l2sq_f32_scalar (const float *a, const float *b, size_t n)
{
  float s0 = 0, s1 = 0;
  size_t i = 0;

  for (; i + 2 <= n; i += 2) {
    float d0 = a[i] - b[i], d1 = a[i + 1] - b[i + 1];
    s0 += d0 * d0;
    s1 += d1 * d1;
  }
  for (; i < n; i++) {
    float d = a[i] - b[i];
    s0 += d * d;
  }
  return s0 + s1;
}

int32_t
vss_dot_i8_scalar (const int8_t *a, const int8_t *b, size_t n)
{
  int32_t s = 0;
  size_t i;

  for (i = 0; i < n; i++)
    s += (int32_t)a[i] * b[i];
  return s;
}

int32_t
vss_dot_u4_scalar (const uint8_t *codes, const int8_t *q, size_t nblocks)
{
  int32_t s = 0;
  size_t b, j;

  for (b = 0; b < nblocks; b++) {
    const uint8_t *c = codes + b * 64;
    const int8_t *x = q + b * VSS_U4_BLOCK;
    for (j = 0; j < 64; j++)
      s += (int32_t)(c[j] & 15) * x[j] + (int32_t)(c[j] >> 4) * x[64 + j];
  }
  return s;
}

static const vss_kernels vss_kernels_scalar
    = { "scalar", vss_dot_f32_scalar, vss_l2sq_f32_scalar, vss_dot_i8_scalar,
        vss_dot_u4_scalar };

static const vss_kernels *picked;
static pthread_once_t pick_once = PTHREAD_ONCE_INIT;

static int
cpu_runs (const vss_kernels *k)
{
  if (k == &vss_kernels_scalar || k == &vss_kernels_simd)
    return 1;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init ();
  if (k == &vss_kernels_avx2)
    return __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma");
  if (k == &vss_kernels_avx512)
    return __builtin_cpu_supports ("avx512f")
           && __builtin_cpu_supports ("avx512bw");
  if (k == &vss_kernels_avx512vnni)
    return __builtin_cpu_supports ("avx512f")
           && __builtin_cpu_supports ("avx512bw")
           && __builtin_cpu_supports ("avx512vnni");
#endif
  return 0;
}

static const vss_kernels *const all_kernels[] = {
  &vss_kernels_scalar,
  &vss_kernels_simd,
#if defined(__x86_64__) || defined(__i386__)
  &vss_kernels_avx2,
  &vss_kernels_avx512,
  &vss_kernels_avx512vnni,
#endif
};

#define N_KERNELS (sizeof all_kernels / sizeof all_kernels[0])

const vss_kernels *
vss_kernels_nth (unsigned i)
{
  unsigned j, seen = 0;

  for (j = 0; j < N_KERNELS; j++) {
    if (!cpu_runs (all_kernels[j]))
      continue;
    if (seen++ == i)
      return all_kernels[j];
  }
  return NULL;
}

static void
pick (void)
{
  const char *want = getenv ("VSS_INDEX_KERNEL");
  unsigned j;

  picked = &vss_kernels_scalar;
  for (j = 0; j < N_KERNELS; j++) {
    if (!cpu_runs (all_kernels[j]))
      continue;
    if (want && *want) {
      if (strcmp (want, all_kernels[j]->name) == 0) {
        picked = all_kernels[j];
        return;
      }
    } else {
      /* the table is ordered from slowest to fastest */
      picked = all_kernels[j];
    }
  }
}

const vss_kernels *
vss_kernels_get (void)
{
  pthread_once (&pick_once, pick);
  return picked;
}

const char *
vss_kernel_name (void)
{
  return vss_kernels_get ()->name;
}

float
vss_dot_f32 (const float *a, const float *b, size_t n)
{
  return vss_kernels_get ()->dot (a, b, n);
}

float
vss_l2sq_f32 (const float *a, const float *b, size_t n)
{
  return vss_kernels_get ()->l2sq (a, b, n);
}

float
vss_normalize_f32 (float *v, size_t n)
{
  double s = 0, inv;
  size_t i;
  float norm;

  for (i = 0; i < n; i++)
    s += (double)v[i] * v[i];
  norm = (float)sqrt (s);
  if (!(norm > 0) || !isfinite (norm))
    return norm;
  inv = 1.0 / sqrt (s);
  for (i = 0; i < n; i++)
    v[i] = (float)(v[i] * inv);
  return norm;
}

float
vss_distance (vss_metric metric, const float *a, const float *b, size_t n)
{
  const vss_kernels *k = vss_kernels_get ();

  switch (metric) {
  case VSS_METRIC_COSINE: {
    float na = sqrtf (k->dot (a, a, n)), nb = sqrtf (k->dot (b, b, n));
    if (!(na > 0) || !(nb > 0))
      return 1.0f;
    return 1.0f - k->dot (a, b, n) / (na * nb);
  }
  case VSS_METRIC_IP:
    return 1.0f - k->dot (a, b, n);
  case VSS_METRIC_L2:
  default:
    return k->l2sq (a, b, n);
  }
}

float
vss_quantize_i8 (const float *v, size_t n, int8_t *q)
{
  float m = 0, scale, inv;
  size_t i;

  for (i = 0; i < n; i++) {
    float a = fabsf (v[i]);
    if (a > m)
      m = a;
  }
  if (m == 0) {
    memset (q, 0, n);
    return 0;
  }
  scale = m / 127.0f;
  inv = 127.0f / m;
  for (i = 0; i < n; i++) {
    long r = lrintf (v[i] * inv);
    q[i] = (int8_t)(r > 127 ? 127 : r < -127 ? -127 : r);
  }
  return scale;
}

float
vss_quantize_u4 (const float *v, size_t n, uint8_t *codes)
{
  size_t nb = vss_u4_blocks (n), i;
  float m = 0, inv;

  memset (codes, 0x88, nb * 64);
  for (i = 0; i < n; i++) {
    float a = fabsf (v[i]);
    if (a > m)
      m = a;
  }
  if (m == 0)
    return 0;
  inv = 7.0f / m;
  for (i = 0; i < n; i++) {
    long r = lrintf (v[i] * inv);
    uint8_t u = (uint8_t)((r > 7 ? 7 : r < -7 ? -7 : r) + 8);
    size_t b = i / VSS_U4_BLOCK, j = i % VSS_U4_BLOCK;
    uint8_t *c = codes + b * 64 + (j & 63);
    *c = j < 64 ? (uint8_t)((*c & 0xf0) | u) : (uint8_t)((*c & 0x0f) | (u << 4));
  }
  return m / 7.0f;
}

int
vss_set_error (vss_error *err, vss_error_code code, const char *fmt, ...)
{
  va_list ap;

  if (err == NULL)
    return -1;
  err->code = code;
  va_start (ap, fmt);
  vsnprintf (err->msg, sizeof err->msg, fmt, ap);
  va_end (ap);
  return -1;
}
