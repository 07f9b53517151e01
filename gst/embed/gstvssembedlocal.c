/* gst-vss: the built-in, model-free embedding ("vss-local-v1")
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What it is: a global descriptor of the frame's layout of light and colour,
 * in the spirit of MPEG-7's colour layout descriptor.
 *
 *  1. Box-average the frame onto a 32x32 luma grid and 8x8 grids of the two
 *     colour-difference channels, sampling on a stride chosen so that each
 *     cell averages about 64 pixels whatever the resolution. Averaging makes
 *     the result insensitive to sensor noise and compression artefacts; the
 *     grid makes it insensitive to resolution and aspect ratio.
 *  2. 2-D DCT-II of each grid; keep the low-frequency coefficients. Small
 *     motion and zoom move energy between neighbouring high frequencies but
 *     barely change the low ones, which is what makes near-duplicates close.
 *  3. Luma AC coefficients are normalised to unit length (invariance to
 *     exposure and contrast), then weighted; chroma coefficients keep their
 *     absolute scale so that grey frames have no colour part to amplify.
 *  4. A soft-binned 4x4x4 joint Y/U/V histogram of the same samples: blind to
 *     where things are, so pans and zooms barely move it.
 *  5. The mean brightness, lightly weighted, tells a black frame from a white
 *     one; a small constant component keeps a flat grey frame from being a
 *     zero vector; the whole vector is L2-normalised.
 *
 * The weights below were calibrated on photographs with simulated pans,
 * zooms, noise and JPEG re-encoding (tests/gst/test-local-calibration.c) so
 * that a cosine distance of 0.2 separates the same scene from another one.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>
#include "gstvssembedlocal.h"
#include "vss-index.h"

#define LGRID 32                /* luma grid */
#define CGRID 8                 /* chroma grid */
#define LUMA_FREQ_SUM 6         /* keep luma (u, v) with u + v <= this, u + v > 0 */
#define HBINS 4                 /* colour histogram bins per axis (Y, U, V) */
#define CHROMA_FREQ 3           /* keep chroma (u, v) with u, v < this */
#define TARGET_SAMPLES_PER_CELL 64

#define N_LUMA (((LUMA_FREQ_SUM + 1) * (LUMA_FREQ_SUM + 2)) / 2 - 1)
#define N_CHROMA (CHROMA_FREQ * CHROMA_FREQ)
#define N_HIST (HBINS * HBINS * HBINS)
#define DIM (N_LUMA + 1 + 2 * N_CHROMA + N_HIST + 1)

/* Relative weights of the parts of the vector (see the calibration test). */
/* Relative weights of the parts of the vector. The cosine distance of the
 * whole is the average of the parts' distances weighted by these squared:
 * the histogram is robust to motion (same-scene distances ~100x smaller than
 * different-scene ones) but confuses photographs of similar palette; the
 * luma layout tells those apart but moves with pans. Chosen by sweeps of the
 * calibration test and of the dedup quality test (tests/elements), which
 * found photographs of one palette but different layout (a blue sky, a blue
 * foggy lake) confused when the histogram weighed more. */
#define W_LUMA 0.8f
#define W_LUMA_DC 0.2f
#define W_CHROMA 0.5f
#define W_HIST 0.6f
#define W_BIAS 0.05f

static gfloat lcos[LGRID][LGRID];       /* lcos[u][x] orthonormal DCT-II basis */
static gfloat ccos[CGRID][CGRID];

static void
dct_tables_init (void)
{
  gint u, x;

  for (u = 0; u < LGRID; u++)
    for (x = 0; x < LGRID; x++)
      lcos[u][x] = (gfloat) (cos (G_PI * (2 * x + 1) * u / (2.0 * LGRID)) *
          sqrt ((u == 0 ? 1.0 : 2.0) / LGRID));
  for (u = 0; u < CGRID; u++)
    for (x = 0; x < CGRID; x++)
      ccos[u][x] = (gfloat) (cos (G_PI * (2 * x + 1) * u / (2.0 * CGRID)) *
          sqrt ((u == 0 ? 1.0 : 2.0) / CGRID));
}

guint
gst_vss_embed_local_dim (void)
{
  return DIM;
}

gboolean
gst_vss_embed_local_supports_format (GstVideoFormat format)
{
  const GstVideoFormatInfo *finfo;

  if (format == GST_VIDEO_FORMAT_UNKNOWN || format == GST_VIDEO_FORMAT_ENCODED)
    return FALSE;
  finfo = gst_video_format_get_info (format);
  if (finfo == NULL || GST_VIDEO_FORMAT_INFO_IS_TILED (finfo) ||
      GST_VIDEO_FORMAT_INFO_HAS_PALETTE (finfo) ||
      GST_VIDEO_FORMAT_INFO_BITS (finfo) != 8 ||
      GST_VIDEO_FORMAT_INFO_IS_COMPLEX (finfo))
    return FALSE;
  if (GST_VIDEO_FORMAT_INFO_IS_GRAY (finfo))
    return GST_VIDEO_FORMAT_INFO_N_COMPONENTS (finfo) >= 1;
  /* One byte per component at a fixed pixel stride. */
  return GST_VIDEO_FORMAT_INFO_N_COMPONENTS (finfo) >= 3 &&
      GST_VIDEO_FORMAT_INFO_DEPTH (finfo, 0) == 8 &&
      GST_VIDEO_FORMAT_INFO_DEPTH (finfo, 1) == 8 &&
      GST_VIDEO_FORMAT_INFO_DEPTH (finfo, 2) == 8 &&
      GST_VIDEO_FORMAT_INFO_SHIFT (finfo, 0) == 0 &&
      GST_VIDEO_FORMAT_INFO_SHIFT (finfo, 1) == 0 &&
      GST_VIDEO_FORMAT_INFO_SHIFT (finfo, 2) == 0;
}

typedef struct
{
  gfloat y[LGRID * LGRID];
  gfloat u[CGRID * CGRID];
  gfloat v[CGRID * CGRID];
  gfloat hist[N_HIST];
} Grids;

typedef struct
{
  const guint8 *data;
  gint stride;
  gint pstride;
  guint wsub, hsub;
} Comp;

static void
comp_init (Comp * c, const GstVideoFrame * frame, guint i)
{
  const GstVideoFormatInfo *finfo = frame->info.finfo;

  c->data = GST_VIDEO_FRAME_COMP_DATA (frame, i);
  c->stride = GST_VIDEO_FRAME_COMP_STRIDE (frame, i);
  c->pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (frame, i);
  c->wsub = GST_VIDEO_FORMAT_INFO_W_SUB (finfo, i);
  c->hsub = GST_VIDEO_FORMAT_INFO_H_SUB (finfo, i);
}

/* Soft (linear) binning along one axis: value 0..255 to two bins. */
static inline void
soft_bin (gint value, gint * b0, gfloat * w1)
{
  gfloat pos = value * (HBINS / 256.0f) - 0.5f;

  if (pos <= 0.0f) {
    *b0 = 0;
    *w1 = 0.0f;
  } else if (pos >= HBINS - 1) {
    *b0 = HBINS - 2;
    *w1 = 1.0f;
  } else {
    *b0 = (gint) pos;
    *w1 = pos - *b0;
  }
}

static inline void
hist_add (gfloat * hist, gint Y, gint U, gint V, gfloat weight)
{
  gint by, bu, bv, i, j, k;
  gfloat fy[2], fu[2], fv[2];

  soft_bin (Y, &by, &fy[1]);
  soft_bin (U + 128, &bu, &fu[1]);
  soft_bin (V + 128, &bv, &fv[1]);
  fy[0] = 1.0f - fy[1];
  fu[0] = 1.0f - fu[1];
  fv[0] = 1.0f - fv[1];
  for (i = 0; i < 2; i++)
    for (j = 0; j < 2; j++)
      for (k = 0; k < 2; k++)
        hist[((by + i) * HBINS + bu + j) * HBINS + bv + k] +=
            weight * fy[i] * fu[j] * fv[k];
}

/* Box-average onto the grids. Luma sums go to the 32x32 grid, chroma sums
 * to the 8x8 grids; every cell gets the same number of samples +-1 row/col,
 * and each sum is divided by its own count. */
static void
sample_grids (const GstVideoFrame * frame, Grids * g)
{
  const GstVideoFormatInfo *finfo = frame->info.finfo;
  const gint width = GST_VIDEO_FRAME_WIDTH (frame);
  const gint height = GST_VIDEO_FRAME_HEIGHT (frame);
  const gboolean is_rgb = GST_VIDEO_FORMAT_INFO_IS_RGB (finfo);
  const gboolean is_gray = GST_VIDEO_FORMAT_INFO_IS_GRAY (finfo);
  guint32 ysum[LGRID * LGRID] = { 0 }, ycnt[LGRID * LGRID] = { 0 };
  gint32 usum[CGRID * CGRID] = { 0 }, vsum[CGRID * CGRID] = { 0 };
  guint32 ccnt[CGRID * CGRID] = { 0 };
  guint8 xcell[8192];
  gint xs[8192];
  gint nx = 0, step, x, y, i;
  Comp c0, c1, c2;
  gdouble per_cell;
  guint8 ylut[256];
  gint16 clut[256];
  /* Samples are counted on a 16x16x16 Y/U/V lattice first and soft-binned
   * once per lattice cell at the end: a counter increment per sample instead
   * of eight weighted updates. */
  guint32 fine[16 * 16 * 16];

  memset (g->hist, 0, sizeof (g->hist));
  memset (fine, 0, sizeof (fine));
  per_cell = (gdouble) width *height / (LGRID * LGRID);
  step = (gint) floor (sqrt (per_cell / TARGET_SAMPLES_PER_CELL) + 0.5);
  if (step < 1)
    step = 1;
  /* Start half a step in so that the samples sit in the middle. */
  for (x = step / 2; x < width && nx < (gint) G_N_ELEMENTS (xs); x += step) {
    xs[nx] = x;
    xcell[nx] = (guint8) ((gint64) x * LGRID / width);
    nx++;
  }

  /* Video YUV is usually limited range (16-235 / 16-240): expand it so that
   * a picture embeds the same whether it arrives as YUV or RGB. */
  {
    const gboolean limited = !is_rgb &&
        frame->info.colorimetry.range == GST_VIDEO_COLOR_RANGE_16_235;
    for (i = 0; i < 256; i++) {
      gint yv = limited ? ((i - 16) * 255 + 109) / 219 : i;
      gint cv = limited ? ((i - 128) * 255) / 224 : i - 128;
      ylut[i] = (guint8) CLAMP (yv, 0, 255);
      clut[i] = (gint16) CLAMP (cv, -128, 127);
    }
  }
  comp_init (&c0, frame, 0);
  if (!is_gray) {
    comp_init (&c1, frame, 1);
    comp_init (&c2, frame, 2);
  }

  for (y = step / 2; y < height; y += step) {
    const gint gy = (gint) ((gint64) y * LGRID / height);
    guint32 *yrow = ysum + gy * LGRID;
    guint32 *yc = ycnt + gy * LGRID;
    const guint8 *r0 = c0.data + (gsize) (y >> c0.hsub) * c0.stride;

    if (is_gray) {
      for (i = 0; i < nx; i++) {
        gint Y = ylut[r0[(xs[i] >> c0.wsub) * c0.pstride]];

        yrow[xcell[i]] += (guint32) Y;
        yc[xcell[i]]++;
        fine[((Y >> 4) << 8) | (8 << 4) | 8]++;
      }
    } else {
      const guint8 *r1 = c1.data + (gsize) (y >> c1.hsub) * c1.stride;
      const guint8 *r2 = c2.data + (gsize) (y >> c2.hsub) * c2.stride;
      const gint cgy = gy * CGRID / LGRID;
      gint32 *urow = usum + cgy * CGRID;
      gint32 *vrow = vsum + cgy * CGRID;
      guint32 *cc = ccnt + cgy * CGRID;

      for (i = 0; i < nx; i++) {
        const gint xx = xs[i];
        gint a = r0[(xx >> c0.wsub) * c0.pstride];
        gint b = r1[(xx >> c1.wsub) * c1.pstride];
        gint c = r2[(xx >> c2.wsub) * c2.pstride];
        const gint cx = xcell[i] * CGRID / LGRID;
        gint Y, U, V;

        if (is_rgb) {
          /* BT.601 full range, fixed point. a, b, c = R, G, B. */
          Y = (77 * a + 150 * b + 29 * c) >> 8;
          U = (-43 * a - 85 * b + 128 * c) >> 8;
          V = (128 * a - 107 * b - 21 * c) >> 8;
        } else {
          Y = ylut[a];
          U = clut[b];
          V = clut[c];
        }
        yrow[xcell[i]] += (guint32) Y;
        yc[xcell[i]]++;
        urow[cx] += U;
        vrow[cx] += V;
        cc[cx]++;
        fine[((Y >> 4) << 8) | (((U + 128) >> 4) << 4) | ((V + 128) >> 4)]++;
      }
    }
  }

  for (i = 0; i < 16 * 16 * 16; i++)
    if (fine[i])
      hist_add (g->hist, ((i >> 8) << 4) + 8, (((i >> 4) & 15) << 4) + 8 - 128,
          ((i & 15) << 4) + 8 - 128, (gfloat) fine[i]);
  for (i = 0; i < LGRID * LGRID; i++)
    g->y[i] = ycnt[i] ? (gfloat) ysum[i] / (gfloat) ycnt[i] : 0.0f;
  for (i = 0; i < CGRID * CGRID; i++) {
    g->u[i] = ccnt[i] ? (gfloat) usum[i] / (gfloat) ccnt[i] : 0.0f;
    g->v[i] = ccnt[i] ? (gfloat) vsum[i] / (gfloat) ccnt[i] : 0.0f;
  }
  /* A frame smaller than the grid leaves some cells empty: copy the
   * nearest filled row/column so they do not read as black edges. */
  for (y = 0; y < LGRID; y++)
    for (x = 0; x < LGRID; x++)
      if (ycnt[y * LGRID + x] == 0) {
        gint sy = MIN ((gint) ((gint64) y * height / LGRID), height - 1);
        gint sx = MIN ((gint) ((gint64) x * width / LGRID), width - 1);
        gint fy = (gint) ((gint64) sy * LGRID / height);
        gint fx = (gint) ((gint64) sx * LGRID / width);
        g->y[y * LGRID + x] = g->y[fy * LGRID + fx];
      }
  for (y = 0; y < CGRID; y++)
    for (x = 0; x < CGRID; x++)
      if (ccnt[y * CGRID + x] == 0 && !is_gray) {
        gint sy = MIN ((gint) ((gint64) y * height / CGRID), height - 1);
        gint sx = MIN ((gint) ((gint64) x * width / CGRID), width - 1);
        gint fy = (gint) ((gint64) sy * LGRID / height) * CGRID / LGRID;
        gint fx = (gint) ((gint64) sx * LGRID / width) * CGRID / LGRID;
        g->u[y * CGRID + x] = g->u[fy * CGRID + fx];
        g->v[y * CGRID + x] = g->v[fy * CGRID + fx];
      }
}

/* Separable DCT-II of an n x n grid, keeping rows/columns < keep. */
static void
dct2 (const gfloat * in, gint n, const gfloat * basis, gint keep, gfloat * out)
{
  gfloat tmp[LGRID * LGRID];
  gint u, v, x, y;

  /* Rows: tmp[y][u] = sum_x in[y][x] * basis[u][x]. */
  for (y = 0; y < n; y++)
    for (u = 0; u < keep; u++) {
      gfloat s = 0.0f;
      for (x = 0; x < n; x++)
        s += in[y * n + x] * basis[u * n + x];
      tmp[y * keep + u] = s;
    }
  /* Columns: out[v][u] = sum_y tmp[y][u] * basis[v][y]. */
  for (v = 0; v < keep; v++)
    for (u = 0; u < keep; u++) {
      gfloat s = 0.0f;
      for (y = 0; y < n; y++)
        s += tmp[y * keep + u] * basis[v * n + y];
      out[v * keep + u] = s;
    }
}

/**
 * gst_vss_embed_local_frame:
 * @frame: a mapped frame in a format accepted by
 *   gst_vss_embed_local_supports_format()
 * @out: (out caller-allocates) (array): gst_vss_embed_local_dim() floats
 *
 * Computes the unit-length "vss-local-v1" embedding of @frame. Deterministic:
 * the same pixels always give the same vector.
 *
 * Returns: %FALSE when the frame's format is not supported.
 */
gboolean
gst_vss_embed_local_frame (const GstVideoFrame * frame, gfloat * out)
{
  static gsize tables_once = 0;
  Grids g;
  gfloat ldct[(LUMA_FREQ_SUM + 1) * (LUMA_FREQ_SUM + 1)];
  gfloat udct[CHROMA_FREQ * CHROMA_FREQ], vdct[CHROMA_FREQ * CHROMA_FREQ];
  gdouble norm = 0.0, hist[N_HIST], hnorm = 0.0;
  gboolean flat;
  gint u, v, n = 0, i;
  const gint lk = LUMA_FREQ_SUM + 1;

  g_return_val_if_fail (frame != NULL && out != NULL, FALSE);
  if (!gst_vss_embed_local_supports_format (GST_VIDEO_FRAME_FORMAT (frame)) ||
      GST_VIDEO_FRAME_WIDTH (frame) <= 0 || GST_VIDEO_FRAME_HEIGHT (frame) <= 0)
    return FALSE;

  if (g_once_init_enter (&tables_once)) {
    dct_tables_init ();
    g_once_init_leave (&tables_once, 1);
  }

  sample_grids (frame, &g);
  dct2 (g.y, LGRID, &lcos[0][0], lk, ldct);

  for (v = 0; v < lk; v++)
    for (u = 0; u + v <= LUMA_FREQ_SUM; u++) {
      if (u == 0 && v == 0)
        continue;
      out[n++] = ldct[v * lk + u];
    }
  g_assert (n == N_LUMA);
  /* Below about one grey level of contrast the layout is noise: treat the
   * frame as flat. */
  flat = vss_normalize_f32 (out, N_LUMA) < 1.0f * LGRID;
  for (i = 0; i < N_LUMA; i++)
    out[i] = flat ? 0.0f : out[i] * W_LUMA;
  /* DC of the orthonormal DCT is LGRID * mean. */
  out[n++] = (ldct[0] / LGRID - 128.0f) / 128.0f * W_LUMA_DC;

  dct2 (g.u, CGRID, &ccos[0][0], CHROMA_FREQ, udct);
  dct2 (g.v, CGRID, &ccos[0][0], CHROMA_FREQ, vdct);
  /* Chroma in units of full scale (128), per unit of grid area. */
  for (i = 0; i < N_CHROMA; i++) {
    out[n++] = udct[i] / (128.0f * CGRID) * W_CHROMA;
    out[n++] = vdct[i] / (128.0f * CGRID) * W_CHROMA;
  }
  /* Histogram: share of samples per bin, centred on the uniform
   * distribution so that palettes common to most photographs do not make
   * every pair look alike; unit length, weighted. */
  norm = 0.0;
  for (i = 0; i < N_HIST; i++)
    norm += g.hist[i];
  for (i = 0; i < N_HIST; i++) {
    hist[i] = norm > 0 ? g.hist[i] / norm - 1.0 / N_HIST : 0.0;
    hnorm += hist[i] * hist[i];
  }
  hnorm = sqrt (hnorm);
  for (i = 0; i < N_HIST; i++)
    out[n++] = hnorm > 0 ? (gfloat) (hist[i] / hnorm) * W_HIST : 0.0f;
  out[n++] = W_BIAS;
  g_assert (n == DIM);

  vss_normalize_f32 (out, DIM);
  return TRUE;
}
