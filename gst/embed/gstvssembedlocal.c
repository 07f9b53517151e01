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
/* v2 samples more sparsely (its structure part reads the samples; its
 * layout part averages fewer per cell): half v1's cost of sampling. */
#define V2_SAMPLES_PER_CELL 32

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

/* gst_vss_embed_local_model_dim() of the default model. */
guint
gst_vss_embed_local_dim (void)
{
  return gst_vss_embed_local_model_dim (GST_VSS_EMBED_LOCAL_DEFAULT);
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
/* The luma samples themselves, one byte each on the sampling lattice
 * (about 226x127 for a 16:9 frame at v2's density, at any resolution): what
 * vss-local-v2 reads its structure from. */
typedef struct
{
  guint8 *y;
  gint w, h;
} Lattice;

static void
sample_grids (const GstVideoFrame * frame, gint samples_per_cell, Grids * g,
    Lattice * lat)
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
  step = (gint) floor (sqrt (per_cell / samples_per_cell) + 0.5);
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
  if (lat != NULL) {
    lat->w = nx;
    lat->h = (height - step / 2 + step - 1) / step;
    lat->y = g_malloc ((gsize) lat->w * MAX (lat->h, 1));
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
    guint8 *lrow = lat ? lat->y + (gsize) (y / step) * lat->w : NULL;

    if (is_gray) {
      for (i = 0; i < nx; i++) {
        gint Y = ylut[r0[(xs[i] >> c0.wsub) * c0.pstride]];

        if (lrow)
          lrow[i] = (guint8) Y;
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
        if (lrow)
          lrow[i] = (guint8) CLAMP (Y, 0, 255);
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

/* ---- vss-local-v2: structure ------------------------------------------ */

/* Gradient-orientation histograms (in the spirit of HOG and SIFT's
 * descriptors) at two scales of the sampling lattice, over a TGRID x TGRID
 * grid of the frame: what separates a dark grid pattern from a dark
 * landscape, which v1's light-and-colour layout cannot. */
#define TGRID 4                 /* spatial cells per axis */
#define TBINS 8                 /* unsigned orientations of 22.5 degrees; 2^n */
#define TSCALES 2
#define N_TEX (TSCALES * TGRID * TGRID * TBINS + TSCALES)
#define DIM_V2 (DIM + N_TEX)

/* Calibrated with tests/gst/test-local-calibration.c and bench-dedup-quality
 * (see the README): */
#define W_TEX 1.6               /* weight of each scale's histograms */
#define TEX_REF 3.0             /* the histograms' unit, per lattice sample */
#define W_CONTRAST 0.3          /* per octave of gradient energy */
#define SCALE1_STRIDE 2         /* scale 1 reads every other pixel (quincunx) */
/* Gradient magnitudes below these (grey levels) are noise. */
static const gfloat noise_level[TSCALES] = { 2.0f, 1.0f };

/* What reads as 0 octaves of contrast, in TEX_REF units: the median gradient
 * energy of the calibration photographs, measured on a lattice twice as
 * dense as v2's final one (a coarser lattice shifts every picture's energy
 * alike, which moves the two contrast floats by a constant). */
static const gdouble contrast_ref[TSCALES] = { 0.23, 0.53 };

/* 2x2 box average: (w, h) values to (w / 2, h / 2) floats, from the
 * lattice's bytes (@b) or from floats (@f). */
static gfloat *
halve (const guint8 * b, const gfloat * f, gint w, gint h, gint * ow, gint * oh)
{
  gint x, y, nw = MAX (w / 2, 1), nh = MAX (h / 2, 1);
  gfloat *out = g_new (gfloat, (gsize) nw * nh);

#define AT(i) (b ? (gfloat) b[i] : f[i])
  for (y = 0; y < nh; y++) {
    const gsize r0 = (gsize) MIN (2 * y, h - 1) * w;
    const gsize r1 = (gsize) MIN (2 * y + 1, h - 1) * w;

    for (x = 0; x < nw; x++) {
      gint x0 = MIN (2 * x, w - 1), x1 = MIN (2 * x + 1, w - 1);
      out[y * nw + x] = 0.25f * (AT (r0 + x0) + AT (r0 + x1) + AT (r1 + x0) +
          AT (r1 + x1));
    }
  }
#undef AT
  *ow = nw;
  *oh = nh;
  return out;
}

/* Orientation of (dx, dy) folded to [0, pi), in bins of pi / TBINS, without
 * atan2 and without branches (their mispredictions cost more than the
 * arithmetic): a rational approximation of atan on [0, 1], error below 0.3
 * degree, plenty for 22.5-degree bins. Returns 0 <= pos < TBINS. */
static inline gfloat
orientation_bins (gfloat dx, gfloat dy)
{
  const gfloat s = copysignf (1.0f, dy);
  gfloat ax, ay, mn, mx, t, z, r, a;

  dx *= s;                      /* (dx, dy) and (-dx, -dy): one orientation */
  ax = fabsf (dx);
  ay = fabsf (dy);
  /* MIN and MAX, not fminf and fmaxf: those are libm calls unless the
   * compiler may assume no NaN. */
  mn = MIN (ax, ay);
  mx = MAX (ax, ay);
  t = mn / MAX (mx, 1e-20f);
  z = t * t;
  r = t * (0.99997726f + z * (-0.33262347f + z * (0.19354346f +
              z * (-0.11643287f + z * (0.05265332f - z * 0.01172120f)))));
  r = ay > ax ? (gfloat) G_PI_2 - r : r;
  a = dx < 0 ? (gfloat) G_PI - r : r;
  a *= TBINS / (gfloat) G_PI;
  return a >= TBINS ? a - TBINS : a;
}

/* Orientation histograms of one scale: each pixel's gradient goes to the
 * two nearest orientation bins of its sub-cell (SUBGRID x SUBGRID), and
 * each sub-cell is then spread over the TGRID x TGRID cells bilinearly, as
 * if every pixel had been (to a sub-cell's precision), at a quarter of the
 * memory updates. */
#define SUBGRID (4 * TGRID)

static void
texture_scale (const gfloat * img, gint w, gint h, gint stride,
    gdouble thresh, gfloat * hist)
{
  gint x, y, i, j;
  gint *sx;
  gfloat sub[SUBGRID * SUBGRID * TBINS];
  const gfloat th = (gfloat) thresh;

  memset (hist, 0, sizeof (gfloat) * TGRID * TGRID * TBINS);
  if (w < 3 || h < 3)
    return;
  memset (sub, 0, sizeof (sub));
  sx = g_new (gint, w);
  for (x = 0; x < w; x++)
    sx[x] = (gint) ((gint64) x * SUBGRID / w) * TBINS;
  for (y = 1; y < h - 1; y += stride) {
    const gfloat *r = img + (gsize) y * w;
    gfloat *srow = sub + (gint) ((gint64) y * SUBGRID / h) * SUBGRID * TBINS;

    for (x = 1 + (y / stride) % stride; x < w - 1; x += stride) {
      gfloat dx = r[x + 1] - r[x - 1];
      gfloat dy = r[x + w] - r[x - w];
      gfloat m = MAX (sqrtf (dx * dx + dy * dy) - th, 0.0f), o, wo1;
      gint b0;
      gfloat *cell;

      o = orientation_bins (dx, dy) - 0.5f;
      if (o < 0)
        o += TBINS;
      b0 = (gint) o;
      wo1 = o - b0;
      b0 &= TBINS - 1;
      cell = srow + sx[x];
      cell[b0] += m * (1.0f - wo1);
      cell[(b0 + 1) & (TBINS - 1)] += m * wo1;
    }
  }
  g_free (sx);

  /* Sub-cells to cells: bilinear in the sub-cell's centre. */
  for (j = 0; j < SUBGRID; j++) {
    gfloat fy = (j + 0.5f) * TGRID / SUBGRID - 0.5f;
    gint cy0 = (gint) floorf (fy);
    gfloat wy1 = fy - cy0;

    for (i = 0; i < SUBGRID; i++) {
      gfloat fx = (i + 0.5f) * TGRID / SUBGRID - 0.5f;
      gint cx0 = (gint) floorf (fx);
      gfloat wx1 = fx - cx0;
      const gfloat *s = sub + (j * SUBGRID + i) * TBINS;

      for (gint a = 0; a < 2; a++) {
        gint cy = cy0 + a;
        gfloat wy = a ? wy1 : 1.0f - wy1;

        if (cy < 0 || cy >= TGRID)
          continue;
        for (gint b = 0; b < 2; b++) {
          gint cx = cx0 + b;
          gfloat ww = wy * (b ? wx1 : 1.0f - wx1);
          gfloat *cell;

          if (cx < 0 || cx >= TGRID)
            continue;
          cell = hist + (cy * TGRID + cx) * TBINS;
          for (gint k = 0; k < TBINS; k++)
            cell[k] += ww * s[k];
        }
      }
    }
  }
}

/* Appends N_TEX floats of structure to @out. */
static void
texture_part (const Lattice * lat, gfloat * out)
{
  gint w = lat->w, h = lat->h, k, i;
  gfloat *s1, *s2;
  gdouble contrast[TSCALES];
  gint w1, h1, w2, h2;

  s1 = halve (lat->y, NULL, w, h, &w1, &h1);
  s2 = halve (NULL, s1, w1, h1, &w2, &h2);
  texture_scale (s1, w1, h1, SCALE1_STRIDE, noise_level[0], out);
  texture_scale (s2, w2, h2, 1, noise_level[1], out + TGRID * TGRID * TBINS);
  for (k = 0; k < TSCALES; k++) {
    gfloat *part = out + k * TGRID * TGRID * TBINS;
    const gint np = TGRID * TGRID * TBINS;
    gdouble norm = 0, mean = 0, unit;

    /* Square roots (a Hellinger kernel, as RootSIFT does): strong edges do
     * not drown the rest. Centred, so that what every picture has (some
     * gradient everywhere) does not make every pair look alike. */
    for (i = 0; i < np; i++) {
      part[i] = sqrtf (part[i]);
      mean += part[i];
    }
    mean /= np;
    for (i = 0; i < np; i++) {
      part[i] -= (gfloat) mean;
      norm += (gdouble) part[i] * part[i];
    }
    norm = sqrt (norm);
    /* In a fixed unit (per sample, so the frame size does not matter)
     * rather than to unit length: a busy picture's structure weighs more
     * beside its layout than a flat one's, whose few gradients are mostly
     * noise. Only beyond the unit is it normalised. */
    unit = TEX_REF * sqrt ((gdouble) w * h) / (k == 0 ? 2.0 : 4.0);
    for (i = 0; i < np; i++)
      part[i] = (gfloat) (part[i] / MAX (norm, unit) * W_TEX);
    contrast[k] = log2 (MAX (norm, 1e-3 * unit) / (unit * contrast_ref[k]));
  }
  /* How much structure there is, in octaves (clamped): tells a picture
   * from a faint cross-fade of it, while exposure drift barely moves it. */
  for (k = 0; k < TSCALES; k++)
    out[TSCALES * TGRID * TGRID * TBINS + k] =
        (gfloat) (W_CONTRAST * CLAMP (contrast[k], -4.0, 4.0));
  g_free (s1);
  g_free (s2);
}

/* ---- the models ---------------------------------------------------------- */

/**
 * gst_vss_embed_local_model_from_name:
 * @name: a model name, or %NULL or "" for the default
 *
 * Returns: %TRUE and the model in @model when @name is one of the local
 *   models ("vss-local-v1", "vss-local-v2").
 */
gboolean
gst_vss_embed_local_model_from_name (const gchar * name,
    GstVssEmbedLocalModel * model)
{
  GstVssEmbedLocalModel m;

  if (name == NULL || *name == '\0')
    m = GST_VSS_EMBED_LOCAL_DEFAULT;
  else if (strcmp (name, GST_VSS_EMBED_LOCAL_MODEL_V1) == 0)
    m = GST_VSS_EMBED_LOCAL_V1;
  else if (strcmp (name, GST_VSS_EMBED_LOCAL_MODEL_V2) == 0)
    m = GST_VSS_EMBED_LOCAL_V2;
  else
    return FALSE;
  if (model)
    *model = m;
  return TRUE;
}

const gchar *
gst_vss_embed_local_model_name (GstVssEmbedLocalModel model)
{
  return model == GST_VSS_EMBED_LOCAL_V1 ? GST_VSS_EMBED_LOCAL_MODEL_V1 :
      GST_VSS_EMBED_LOCAL_MODEL_V2;
}

guint
gst_vss_embed_local_model_dim (GstVssEmbedLocalModel model)
{
  return model == GST_VSS_EMBED_LOCAL_V1 ? DIM : DIM_V2;
}

/* v1's layout and colour vector (sampled at @samples_per_cell), not yet
 * normalised: DIM floats. Fills @lat when not NULL. */
static void
layout_part (const GstVideoFrame * frame, gint samples_per_cell, gfloat * out,
    Lattice * lat)
{
  static gsize tables_once = 0;
  Grids g;
  gfloat ldct[(LUMA_FREQ_SUM + 1) * (LUMA_FREQ_SUM + 1)];
  gfloat udct[CHROMA_FREQ * CHROMA_FREQ], vdct[CHROMA_FREQ * CHROMA_FREQ];
  gdouble norm = 0.0, hist[N_HIST], hnorm = 0.0;
  gboolean flat;
  gint u, v, n = 0, i;
  const gint lk = LUMA_FREQ_SUM + 1;

  if (g_once_init_enter (&tables_once)) {
    dct_tables_init ();
    g_once_init_leave (&tables_once, 1);
  }

  sample_grids (frame, samples_per_cell, &g, lat);
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
}

/**
 * gst_vss_embed_local_model_frame:
 * @model: which local model
 * @frame: a mapped frame in a format accepted by
 *   gst_vss_embed_local_supports_format()
 * @out: (out caller-allocates) (array): gst_vss_embed_local_model_dim()
 *   floats
 *
 * Computes the unit-length embedding of @frame. Deterministic: the same
 * pixels always give the same vector.
 *
 * Returns: %FALSE when the frame's format is not supported.
 */
gboolean
gst_vss_embed_local_model_frame (GstVssEmbedLocalModel model,
    const GstVideoFrame * frame, gfloat * out)
{
  Lattice lat = { NULL, 0, 0 };

  g_return_val_if_fail (frame != NULL && out != NULL, FALSE);
  if (!gst_vss_embed_local_supports_format (GST_VIDEO_FRAME_FORMAT (frame)) ||
      GST_VIDEO_FRAME_WIDTH (frame) <= 0 || GST_VIDEO_FRAME_HEIGHT (frame) <= 0)
    return FALSE;

  if (model == GST_VSS_EMBED_LOCAL_V1) {
    layout_part (frame, TARGET_SAMPLES_PER_CELL, out, NULL);
    vss_normalize_f32 (out, DIM);
    return TRUE;
  }
  layout_part (frame, V2_SAMPLES_PER_CELL, out, &lat);
  vss_normalize_f32 (out, DIM);
  texture_part (&lat, out + DIM);
  g_free (lat.y);
  vss_normalize_f32 (out, DIM_V2);
  return TRUE;
}

/**
 * gst_vss_embed_local_frame:
 *
 * gst_vss_embed_local_model_frame() with the default model
 * (%GST_VSS_EMBED_LOCAL_MODEL).
 */
gboolean
gst_vss_embed_local_frame (const GstVideoFrame * frame, gfloat * out)
{
  return gst_vss_embed_local_model_frame (GST_VSS_EMBED_LOCAL_DEFAULT, frame,
      out);
}
