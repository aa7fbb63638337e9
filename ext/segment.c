/*
** segment.c — the segmentation pipeline of SPEC §2, composed from filter,
** threshold, morph, label, watershed and scalebar_detect.
**
** Steps (every size in pixels is derived from the particle scale d estimated
** for this image, never fixed):
**   1. percentile stretch to [0,1];
**   2. polarity: dark particles (bright field) or bright ones (dark field),
**      decided by which phase forms compact islands rather than a connected
**      network (see choose_polarity); the image is turned so that particles
**      are bright;
**   3. scale d: inscribed diameter (2 x max distance transform) of the
**      components of a first Otsu mask (after removing the illumination at
**      1/8 of the image size and filling holes), area-weighted median, so
**      touching clusters and specks of texture do not move it (bright
**      field: unless the contrast-weighted median is over twice as large,
**      i.e. the first mask is mostly faint film texture);
**   4. denoise: Gaussian of sigma = denoise x d (texture at the particle's own
**      scale needs smoothing in proportion), optional median;
**   5. background flattening: the background level is interpolated from the
**      pixels the first mask calls background (normalised convolution, sigma
**      = background x d), which follows uneven illumination and is not pulled
**      by large clusters; for "local" contrast (supports brighter than vacuum,
**      dark-field) a grey opening of width ~2d is used instead;
**   6. threshold: Otsu of the flattened image, or a local mean threshold;
**      holes filled; components under min_area removed;
**   7. split: exact EDT, h-maxima markers (h = h_frac x d/2; h_sharp in
**      bright field where the mask's outline is refine_edge_ratio times
**      steeper than the film around it), watershed of the
**      inverted EDT inside the mask; pieces still merged (over 1.5 typical
**      particles, or solidity < 0.8) split again on the EDT weighted by the
**      image, keeping only cuts along a line clearly below the particle
**      level of both pieces (split.h; where h_sharp applies, weak cuts are
**      merged back only up to split_merge_cap typical particles, so that
**      the weak cuts of a raft do not chain into one piece, unless a cut
**      ends in no notch and runs along no line; there, adjacent pieces of
**      both splits whose cut has neither are merged: split.h); bright
**      field: pieces still clearly
**      less convex than the image's typical piece are cut between pairs of
**      concave outline points (overlapping particles, concavity.h);
**   8. each particle eroded by erode x d/2 then dilated by as much within its
**      own basin (breaks thin bridges and overlaps, restores the size);
**      then each outline moved to the particle's own mid level, or, in
**      bright field when the image's edges are sharp against the film, to
**      its steepest iso-line (segment_refine.h);
**   9. exclusions: edge, scale_bar, too_small, and in bright field texture
**      (film grains cut into specks, specks.h) (label kept, reason set).
** Bright field with large particles runs steps 4-8a on block means and only
** step 8b at full resolution (see lowres_factor).
*/
#include "segment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "concavity.h"
#include "darkfield.h"
#include "filter.h"
#include "label.h"
#include "morph.h"
#include "polarity.h"
#include "scalebar.h"
#include "segment_refine.h"
#include "specks.h"
#include "split.h"
#include "threshold.h"
#include "watershed.h"

struct nm_segment_opts {
  int polarity;          /* -1 auto, 1 dark particles, 0 bright particles */
  int local;             /* 0 global Otsu, 1 local mean threshold */
  int flatten_mode;      /* -1 auto, 0 normalised convolution, 1 grey opening */
  double scale_px;       /* 0: estimate */
  double stretch_low, stretch_high;
  double denoise;        /* sigma as a fraction of d */
  double median;         /* median radius as a fraction of d (0 off) */
  double background;     /* flattening sigma as a multiple of d (0 off) */
  double local_radius;   /* local threshold window half-size, multiple of d */
  double local_offset;   /* added to the local mean (in stretched units) */
  double threshold_bias; /* multiplies the Otsu threshold of the flattened image */
  double h_frac;         /* h-maxima height as a fraction of d/2 */
  double h_sharp;        /* ... where the edges are sharp (bright field, sharp_edges) */
  double gap_smooth;     /* Gaussian sigma (fraction of d) of the image the gaps are found in */
  double gap_cut;        /* gap depth (fraction of contrast) cut before the EDT; 0 off */
  double erode;          /* erosion radius as a fraction of d/2 */
  double min_area;       /* too_small below this fraction of pi d^2/4 */
  double min_area_px;    /* and below this many pixels */
  double refine;         /* per-particle edge level between background (0) and core (1); 0 off */
  double refine_grow;    /* how far (particle radii) a refined outline may grow */
  double refine_smooth;  /* extra Gaussian (fraction of d) of the image refined on */
  double refine_anchor;  /* weight of the global Otsu level in each particle's level */
  int refine_edge;       /* per-particle level at the steepest iso-line; -1 auto */
  double refine_edge_ratio; /* ... when that iso-line is this much steeper than the background */
  int granulometry;      /* dark field: scale from the top-hat's granulometry */
  double noise_k;        /* dark field: threshold at least median + k sigma of the top-hat */
  double split_intensity; /* exponent of the image weight of the second split; 0 off */
  double split_merge_cap; /* sharp edges: largest merge of weak cuts, typical particles */
  nm_concave_opts concave; /* convexity-defect split (concavity.h) */
  int split_fine;        /* sharp edges: second split on the 1 px copy */
  int split, fill_holes, exclude_edge, exclude_scale_bar, exclude_texture;
  nm_darkfield_opts darkfield; /* its own pipeline for dark field (darkfield.h) */
};

static const char *const KEYS[] = {
    "polarity", "threshold", "flatten", "scale_px", "stretch_low", "stretch_high",
    "denoise", "median", "background", "local_radius", "local_offset",
    "threshold_bias", "h", "h_sharp", "gap_cut", "gap_smooth", "erode", "min_area", "min_area_px", "refine", "refine_grow", "refine_edge", "refine_edge_ratio", "granulometry", "noise_k", "refine_smooth", "refine_anchor", "split", "split_intensity", "split_merge_cap", "split_fine", "split_concave", "split_concave_depth", "split_concave_gain", "split_concave_smooth", "split_concave_margin",
    "fill_holes", "exclude_edge", "exclude_scale_bar", "exclude_texture", "darkfield", NULL};

const char *const *nm_segment_opts_keys(void) { return KEYS; }

const char *nm_exclusion_name(nm_exclusion reason) {
  switch (reason) {
    case NM_EXCL_EDGE: return "edge";
    case NM_EXCL_SCALE_BAR: return "scale_bar";
    case NM_EXCL_OUTLIER: return "outlier";
    case NM_EXCL_TOO_SMALL: return "too_small";
    case NM_EXCL_TEXTURE: return "texture";
    default: return NULL;
  }
}

nm_segment_opts *nm_segment_opts_new(void) {
  nm_segment_opts *o = calloc(1, sizeof *o);
  if (!o) return NULL;
  o->polarity = -1;
  o->local = 0;
  o->flatten_mode = -1;
  o->scale_px = 0;
  o->stretch_low = 0.5;
  o->stretch_high = 99.5;
  o->denoise = 0.05;
  o->median = 0;
  o->background = 2.0;
  o->local_radius = 1.0;
  o->local_offset = 0.0;
  o->threshold_bias = 1.0;
  o->h_frac = 0.35;
  o->h_sharp = 0.2;
  o->gap_cut = 0.25;
  o->gap_smooth = 0.06;
  o->erode = 0.15;
  o->min_area = 0.1;
  o->min_area_px = 9;
  o->refine = 0.5;
  o->refine_grow = 0.5;
  o->refine_edge = -1; /* auto: bright field only (not measured on dark field) */
  o->refine_edge_ratio = 3;
  o->granulometry = 1;
  o->noise_k = 5;
  o->refine_smooth = 0;
  o->refine_anchor = 0.5;
  o->split = 1;
  o->split_intensity = 3;
  o->split_merge_cap = 1.5;
  o->split_fine = 1;
  o->concave.min_solidity = 0.9;
  o->concave.depth = 0.05;
  o->concave.gain = 0.05;
  o->concave.smooth = 0.1;
  o->concave.margin = 0.03;
  o->fill_holes = 1;
  o->exclude_edge = 1;
  o->exclude_scale_bar = 1;
  o->exclude_texture = 1;
  nm_darkfield_opts_default(&o->darkfield);
  return o;
}

void nm_segment_opts_free(nm_segment_opts *opts) { free(opts); }

static nm_status num_opt(double *dst, const char *key, double v, const char *text,
                         double lo, double hi, nm_error *err) {
  if (text || !(v >= lo && v <= hi))
    return nm_fail(err, NM_ERR_ARG, "option '%s' must be a number in [%g, %g]", key, lo, hi);
  *dst = v;
  return NM_OK;
}

static nm_status bool_opt(int *dst, const char *key, double v, const char *text,
                          nm_error *err) {
  if (text || !(v == 0 || v == 1))
    return nm_fail(err, NM_ERR_ARG, "option '%s' must be true or false", key);
  *dst = (int)v;
  return NM_OK;
}

nm_status nm_segment_opts_set(nm_segment_opts *o, const char *key, double num,
                              const char *text, nm_error *err) {
  if (!o || !key) return nm_fail(err, NM_ERR_ARG, "segment options: no key");
  if (!strcmp(key, "polarity")) {
    if (text && !strcmp(text, "auto")) o->polarity = -1;
    else if (text && !strcmp(text, "dark")) o->polarity = 1;
    else if (text && !strcmp(text, "bright")) o->polarity = 0;
    else return nm_fail(err, NM_ERR_ARG, "option 'polarity' must be \"auto\", \"dark\" (bright-field) or \"bright\" (dark-field)");
    return NM_OK;
  }
  if (!strcmp(key, "threshold")) {
    if (text && !strcmp(text, "otsu")) o->local = 0;
    else if (text && !strcmp(text, "local")) o->local = 1;
    else return nm_fail(err, NM_ERR_ARG, "option 'threshold' must be \"otsu\" or \"local\"");
    return NM_OK;
  }
  if (!strcmp(key, "flatten")) {
    if (text && !strcmp(text, "auto")) o->flatten_mode = -1;
    else if (text && !strcmp(text, "background")) o->flatten_mode = 0;
    else if (text && !strcmp(text, "tophat")) o->flatten_mode = 1;
    else return nm_fail(err, NM_ERR_ARG, "option 'flatten' must be \"auto\", \"background\" or \"tophat\"");
    return NM_OK;
  }
  if (!strcmp(key, "scale_px")) return num_opt(&o->scale_px, key, num, text, 0, 1e5, err);
  if (!strcmp(key, "stretch_low")) return num_opt(&o->stretch_low, key, num, text, 0, 50, err);
  if (!strcmp(key, "stretch_high")) return num_opt(&o->stretch_high, key, num, text, 50, 100, err);
  if (!strcmp(key, "denoise")) return num_opt(&o->denoise, key, num, text, 0, 1, err);
  if (!strcmp(key, "median")) return num_opt(&o->median, key, num, text, 0, 0.5, err);
  if (!strcmp(key, "background")) return num_opt(&o->background, key, num, text, 0, 100, err);
  if (!strcmp(key, "local_radius")) return num_opt(&o->local_radius, key, num, text, 0.1, 100, err);
  if (!strcmp(key, "local_offset")) return num_opt(&o->local_offset, key, num, text, -1, 1, err);
  if (!strcmp(key, "threshold_bias")) return num_opt(&o->threshold_bias, key, num, text, 0.1, 10, err);
  if (!strcmp(key, "h")) return num_opt(&o->h_frac, key, num, text, 0, 10, err);
  if (!strcmp(key, "h_sharp")) return num_opt(&o->h_sharp, key, num, text, 0, 10, err);
  if (!strcmp(key, "gap_smooth")) return num_opt(&o->gap_smooth, key, num, text, 0, 1, err);
  if (!strcmp(key, "gap_cut")) return num_opt(&o->gap_cut, key, num, text, 0, 1, err);
  if (!strcmp(key, "erode")) return num_opt(&o->erode, key, num, text, 0, 0.9, err);
  if (!strcmp(key, "min_area")) return num_opt(&o->min_area, key, num, text, 0, 10, err);
  if (!strcmp(key, "min_area_px")) return num_opt(&o->min_area_px, key, num, text, 0, 1e9, err);
  if (!strcmp(key, "refine")) return num_opt(&o->refine, key, num, text, 0, 0.95, err);
  if (!strcmp(key, "refine_grow")) return num_opt(&o->refine_grow, key, num, text, 0, 3, err);
  if (!strcmp(key, "refine_smooth")) return num_opt(&o->refine_smooth, key, num, text, 0, 1, err);
  if (!strcmp(key, "refine_anchor")) return num_opt(&o->refine_anchor, key, num, text, 0, 1, err);
  if (!strcmp(key, "split_intensity")) return num_opt(&o->split_intensity, key, num, text, 0, 10, err);
  if (!strcmp(key, "split_merge_cap"))
    return num_opt(&o->split_merge_cap, key, num, text, 0, 1000, err);
  if (!strcmp(key, "split_concave")) return num_opt(&o->concave.min_solidity, key, num, text, 0, 1, err);
  if (!strcmp(key, "split_concave_depth")) return num_opt(&o->concave.depth, key, num, text, 0, 1, err);
  if (!strcmp(key, "split_concave_gain")) return num_opt(&o->concave.gain, key, num, text, 0, 1, err);
  if (!strcmp(key, "split_concave_smooth")) return num_opt(&o->concave.smooth, key, num, text, 0, 1, err);
  if (!strcmp(key, "split_concave_margin")) return num_opt(&o->concave.margin, key, num, text, 0, 1, err);
  if (!strcmp(key, "refine_edge_ratio")) return num_opt(&o->refine_edge_ratio, key, num, text, 0, 100, err);
  if (!strcmp(key, "noise_k")) return num_opt(&o->noise_k, key, num, text, 0, 100, err);
  if (!strcmp(key, "granulometry")) return bool_opt(&o->granulometry, key, num, text, err);
  if (!strcmp(key, "refine_edge")) return bool_opt(&o->refine_edge, key, num, text, err);
  if (!strcmp(key, "split")) return bool_opt(&o->split, key, num, text, err);
  if (!strcmp(key, "split_fine")) return bool_opt(&o->split_fine, key, num, text, err);
  if (!strcmp(key, "fill_holes")) return bool_opt(&o->fill_holes, key, num, text, err);
  if (!strcmp(key, "exclude_edge")) return bool_opt(&o->exclude_edge, key, num, text, err);
  if (!strcmp(key, "exclude_scale_bar")) return bool_opt(&o->exclude_scale_bar, key, num, text, err);
  if (!strcmp(key, "exclude_texture")) return bool_opt(&o->exclude_texture, key, num, text, err);
  if (!strncmp(key, "darkfield", 9)) return nm_darkfield_opts_set(&o->darkfield, key, num, text, err);
  return nm_fail(err, NM_ERR_ARG, "option '%s' is unknown", key);
}

void nm_segmentation_free(nm_segmentation *seg) {
  if (!seg) return;
  free(seg->labels);
  free(seg->excluded);
  memset(seg, 0, sizeof *seg);
}

/* ------------------------------------------------------------------------ */

typedef struct ws {
  int w, h;
  size_t n;
  float *a, *b, *c, *tmp;
  uint8_t *m, *m2;
  int32_t *lab;
  const nm_progress *progress;
} ws;

static int stop(const ws *W, double step, const char *what) {
  return nm_progress_tick(W->progress, step, 10, what);
}

/* Weighted median of the inscribed diameters 2 rmax[l] (l with rmax >= 1.5
** px) under weights wt[l]; 0 when nothing counts. */
static double weighted_median_diameter(const float *rmax, const double *wt, int count) {
  double total = 0;
  float rmx = 0;
  for (int l = 1; l <= count; l++)
    if (rmax[l] >= 1.5f) {
      total += wt[l];
      rmx = rmax[l] > rmx ? rmax[l] : rmx;
    }
  if (!(total > 0)) return 0;
  /* selection by repeated scan over a small histogram of radii (0.25 px bins) */
  int nb = (int)(rmx * 4) + 2;
  double *hist = calloc((size_t)nb, sizeof(double));
  if (!hist) return 0;
  for (int l = 1; l <= count; l++)
    if (rmax[l] >= 1.5f) hist[(int)(rmax[l] * 4)] += wt[l];
  double acc = 0, d = 0;
  for (int b = 0; b < nb; b++) {
    acc += hist[b];
    if (acc >= total / 2) {
      d = 2.0 * (b + 0.5) / 4.0;
      break;
    }
  }
  free(hist);
  return d;
}

/* Area-weighted median inscribed diameter of the components of mask. Uses
** W->c (squared distances) and W->lab. Returns 0 when nothing is found.
** With img (and its threshold t), *d_contrast is the same median weighted
** by area x (mean excess of img over t)^2 instead: faint components that
** barely pass the threshold (film texture) count for little there. */
static double scale_from_mask(ws *W, const uint8_t *mask, const float *img, double t,
                              double *d_contrast, nm_error *err, nm_status *st) {
  int count = 0;
  if (d_contrast) *d_contrast = 0;
  *st = nm_label(mask, W->w, W->h, 1, W->lab, &count, err);
  if (*st || count == 0) return 0;
  *st = nm_edt_sq(mask, W->w, W->h, 0, W->c, err); /* one square root per component below */
  if (*st) return 0;
  float *rmax = calloc((size_t)count + 1, sizeof(float));
  double *area = calloc((size_t)count + 1, sizeof(double));
  double *exc = calloc((size_t)count + 1, sizeof(double));
  if (!rmax || !area || !exc) {
    free(rmax);
    free(area);
    free(exc);
    *st = nm_fail(err, NM_ERR_NOMEM, "segment: out of memory");
    return 0;
  }
  for (size_t i = 0; i < W->n; i++) {
    int32_t l = W->lab[i];
    if (!l) continue;
    area[l]++;
    if (img) exc[l] += img[i] - t;
    if (W->c[i] > rmax[l]) rmax[l] = W->c[i];
  }
  for (int l = 1; l <= count; l++) rmax[l] = sqrtf(rmax[l]); /* sqrtf is monotone: same maxima */
  /* every component counts, border ones included: in a field full of
  ** particles nearly all of them touch the border */
  double d = weighted_median_diameter(rmax, area, count);
  if (img && d_contrast) {
    for (int l = 1; l <= count; l++) {
      double m = area[l] > 0 ? exc[l] / area[l] : 0;
      exc[l] = m > 0 ? area[l] * m * m : 0;
    }
    *d_contrast = weighted_median_diameter(rmax, exc, count);
  }
  free(rmax);
  free(area);
  free(exc);
  return d;
}

/* Granulometry of a (a white top-hat, particles bright, >= 0): the grey
** volume removed by square openings of growing width 2r+1, r on a 1.25x
** geometric ladder up to rmax. A bright particle of diameter D goes between
** the two openings that bracket D; the volume-weighted median of those
** widths is the particle scale (weighting per unit width or per particle
** instead lets pixel noise at the smallest widths win, see accuracy.md). Unlike a first threshold, this is not
** pulled by the grey support (gone with the top-hat) nor by how particles
** touch, and pixel noise and JPEG blocks carry little volume. The smallest
** rung (r = 1) is left out: it holds the noise. The width returned is the
** midpoint of the rung where half the volume is reached, or with interp the
** point inside it (volume spread evenly over the rung). Uses W->b. */
static double scale_granulometry(ws *W, const float *a, int gw, int gh, int rmax, int interp) {
  size_t gn = (size_t)gw * gh;
  int radii[64], nr = 0;
  for (double r = 1; r <= rmax && nr < 64; r *= 1.25) {
    int ri = (int)lround(r);
    if (nr == 0 || ri > radii[nr - 1]) radii[nr++] = ri;
  }
  if (nr < 3) return 0;
  double vol[64];
  for (int k = 0; k < nr; k++) {
    nm_open(a, W->b, gw, gh, radii[k], W->tmp);
    double v = 0;
    for (size_t i = 0; i < gn; i++) v += W->b[i];
    vol[k] = v;
  }
  double tot = 0, dv[64];
  for (int k = 1; k < nr; k++) {
    dv[k] = vol[k - 1] - vol[k];
    if (dv[k] < 0) dv[k] = 0;
    tot += dv[k];
  }
  dv[0] = 0;
  if (!(tot > 0)) return 0;
  double acc = 0;
  for (int k = 1; k < nr; k++) {
    acc += dv[k];
    /* removed between rungs k-1 and k: widths in (2r_{k-1}+1, 2r_k+1] */
    if (acc >= tot / 2) {
      double w0 = 2 * radii[k - 1] + 1, w1 = 2 * radii[k] + 1;
      if (!interp) return 0.5 * (w0 + w1);
      /* where in the rung the half-volume falls (volume spread evenly) */
      double f = dv[k] > 0 ? (tot / 2 - (acc - dv[k])) / dv[k] : 0.5;
      return w0 + f * (w1 - w0);
    }
  }
  return 0;
}

/* flatten_nc's blurs on block means: the low-resolution sigma at least
** this (px there), and the low-resolution field at least FLATTEN_LOW_SIDE
** px on its short side. Measured (docs/benchmarks.md): on 512 px fields
** even 2x2 blocks moved au-tetra-prism's F1 by -0.015 (a few touching
** particles sit right at the threshold), so small fields keep the exact
** full-resolution blur; there it is cheap anyway. */
#define FLATTEN_LOW_SIGMA 8.0
#define FLATTEN_LOW_SIDE 512

/* Subtracts from img (in place) its background level: the mean of the pixels
** below Otsu's threshold, interpolated by normalised convolution with a
** Gaussian of sigma. Follows uneven illumination without being pulled up by
** large clusters of particles. Uses W->b and W->c. */
static void flatten_nc(ws *W, float *img, double sigma) {
  size_t n = W->n;
  double t = nm_otsu(img, n, NULL);
  for (size_t i = 0; i < n; i++) {
    float wgt = (t == t && img[i] > t) ? 0.0f : 1.0f;
    W->c[i] = wgt;
    W->b[i] = wgt * img[i];
  }
  /* a background this smooth (sigma of tens to hundreds of px) is resolved
  ** as well on f x f block means: the blurs run on f^2 times fewer pixels,
  ** and bilinear interpolation brings both sums back (f a power of two, at
  ** most 8, see FLATTEN_LOW_SIGMA) */
  int f = 1, w = W->w, h = W->h;
  while (f < 8 && sigma / (2 * f) >= FLATTEN_LOW_SIGMA &&
         (w < h ? w : h) / (2 * f) >= FLATTEN_LOW_SIDE)
    f *= 2;
  if (f > 1) {
    /* W->tmp holds 2n + 12 max(w, h) + 64 floats: the two block-mean
    ** images and the filters' scratch for them fit */
    int sw = (w + f - 1) / f, sh = (h + f - 1) / f;
    size_t sn = (size_t)sw * sh;
    float *lb = W->tmp, *lc = W->tmp + sn, *lt = W->tmp + 2 * sn;
    nm_downsample(W->b, w, h, f, lb);
    nm_downsample(W->c, w, h, f, lc);
    nm_gauss(lb, lb, sw, sh, sigma / f, lt);
    nm_gauss(lc, lc, sw, sh, sigma / f, lt);
    nm_upsample(lb, sw, sh, f, W->b, w, h);
    nm_upsample(lc, sw, sh, f, W->c, w, h);
  } else {
    nm_gauss(W->b, W->b, W->w, W->h, sigma, W->tmp);
    nm_gauss(W->c, W->c, W->w, W->h, sigma, W->tmp);
  }
  double gmean = 0, gw = 0;
  for (size_t i = 0; i < n; i++)
    if (W->c[i] > 0) {
      gmean += W->b[i];
      gw += W->c[i];
    }
  float fill = gw > 0 ? (float)(gmean / gw) : 0.0f;
  for (size_t i = 0; i < n; i++) img[i] -= W->c[i] > 1e-3f ? W->b[i] / W->c[i] : fill;
}

/* out = mask without the thin dark gaps between touching bright particles:
** pixels where the grey closing of img (square of side 2r+1, which bridges
** any gap narrower than that) exceeds img by more than frac of the local
** particle level (the closing; the flattened background is ~0, so gaps
** between faint particles count as much as between dark ones). Touching
** particles with a visible gap between them then have a neck in the
** distance transform; the watershed gives the removed pixels back. Cut
** sets under min_area pixels are specks of texture inside a particle, not
** gaps (a gap runs along a whole side), and are not cut. Uses W->b, W->lab. */
static nm_status cut_gaps(ws *W, const float *img_in, const uint8_t *mask, uint8_t *out, int r,
                          double frac, double contrast, double min_area, double sigma,
                          nm_error *err) {
  memcpy(out, mask, W->n);
  if (r < 1 || !(contrast > 0)) return NM_OK;
  const float *img = img_in;
  if (sigma > 0) {
    nm_gauss(img_in, W->c, W->w, W->h, sigma, W->tmp);
    img = W->c;
  }
  nm_close(img, W->b, W->w, W->h, r, W->tmp);
  float lo = (float)(0.1 * contrast);
  for (size_t i = 0; i < W->n; i++) {
    float top = W->b[i] > lo ? W->b[i] : lo;
    out[i] = mask[i] && W->b[i] - img[i] > (float)frac * top;
  }
  nm_status st = nm_remove_small(out, W->w, W->h, 1, (int64_t)ceil(min_area), W->lab, NULL, err);
  if (st) return st;
  for (size_t i = 0; i < W->n; i++) out[i] = mask[i] && !out[i];
  return NM_OK;
}

/* Islands versus network: for a binary phase, counts its components (8-conn)
** that do not touch the border and have some interior, and the holes in it
** (4-connected components of the complement that do not touch the border).
** Particles form many islands with few holes; the background around them
** is connected and is full of holes (the particles). */
static void islands_holes(ws *W, const uint8_t *phase, int min_area, int *islands,
                          int *holes, nm_error *err) {
  int w = W->w, h = W->h;
  *islands = *holes = 0;
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < W->n; i++) W->m2[i] = pass ? !phase[i] : phase[i] != 0;
    int count = 0;
    if (nm_label(W->m2, w, h, pass == 0, W->lab, &count, err)) return;
    int64_t *area = calloc((size_t)count + 1, sizeof(int64_t));
    uint8_t *edge = calloc((size_t)count + 1, 1);
    if (!area || !edge) {
      free(area);
      free(edge);
      return;
    }
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        int32_t l = W->lab[(size_t)y * w + x];
        if (!l) continue;
        area[l]++;
        if (x == 0 || y == 0 || x == w - 1 || y == h - 1) edge[l] = 1;
      }
    int k = 0;
    for (int l = 1; l <= count; l++) k += !edge[l] && area[l] >= min_area;
    if (pass == 0) *islands = k;
    else *holes = k;
    free(area);
    free(edge);
  }
}

/* Returns 1 for dark particles (bright field), 0 for bright ones. I is the
** stretched image.
**
** Cues, in order:
**  - strong blob evidence: one phase has at least 0.3 more of its area in
**    particle-like pieces (convex, fat, surrounded by the other phase;
**    nm_polarity_blobs) than the other. On the 119 shared micrographs the
**    largest margin the wrong way is 0.17 (a raft of cubes with bright
**    Fresnel rims); a dense field of bright particles gets ~0.9;
**  - the main histogram peak (of the lightly smoothed image) in the upper
**    half of the range with almost nothing a quarter of the range above it:
**    a bright-field film/background level, which is the most frequent level
**    whenever the particles do not fill the field;
**  - a peak at the very bottom (< 5 % of the range): an empty, signal-free
**    level, which is vacuum in dark field (HAADF); bright-field particles are
**    never uniformly black over so many pixels;
**  - otherwise (a field full of particles, or a grey support): the phase
**    with more blob evidence, whatever the margin (on the 119 shared
**    micrographs the blob evidence alone names the particle phase of 117,
**    and of all 9 that reach this cue);
**  - when neither phase has such pieces: islands versus network on the
**    white and the black top-hat — particles form compact islands with few
**    holes, the background around them is connected and full of holes (see
**    islands_holes).
** Returns -1 on error (err set). */
static int choose_polarity(ws *W, const float *I, double *score_out, nm_error *err) {
  int w = W->w, h = W->h;
  nm_gauss(I, W->a, w, h, 2.0, W->tmp);
  double hist[64] = {0};
  for (size_t i = 0; i < W->n; i++) {
    int b = (int)(W->a[i] * 64.0f);
    hist[b < 0 ? 0 : b > 63 ? 63 : b]++;
  }
  int mode = 0;
  for (int b = 1; b < 64; b++)
    if (hist[b] > hist[mode]) mode = b;
  double mpos = mode / 63.0;
  if (score_out) *score_out = mpos;
  /* the blob evidence of each phase (polarity.h); the denoising follows
  ** the field like the flattening does (noise, not particles, sets it) */
  nm_blob_score bs;
  double sg = (w < h ? w : h) / 256.0;
  if (nm_polarity_blobs(I, w, h, sg > 1.5 ? sg : 1.5, &bs, err)) return -1;
  double b0 = bs.blob_frac[0], b1 = bs.blob_frac[1];
  /* strong evidence overrides the histogram: a dense field of bright
  ** particles also has its most frequent level high with nothing above it */
  if (fabs(b1 - b0) >= 0.3) return b1 > b0;
  /* a bright-field background peak has (almost) nothing brighter than it:
  ** a grey dark-field support peak has the particles above it */
  double above = 0;
  for (int b = mode + 16; b < 64; b++) above += hist[b];
  if (mpos > 0.5 && above < 0.015 * (double)W->n) return 1;
  if (mpos < 0.05) return 0;
  /* ambiguous peak: the phase whose pieces look more like particles */
  if ((b0 > 0.05 || b1 > 0.05) && fabs(b1 - b0) > 0.02) return b1 > b0;
  /* no evidence either way: compare the islands of the white top-hat
  ** (bright structures narrower than 1/12 of the field) with those of the
  ** black top-hat, each thresholded by Otsu */
  int r = (w < h ? w : h) / 24;
  if (r < 2) r = 2;
  int score[2] = {0, 0};
  for (int dark = 0; dark < 2; dark++) {
    nm_gauss(I, W->a, w, h, 1.0, W->tmp);
    if (dark)
      for (size_t i = 0; i < W->n; i++) W->a[i] = 1.0f - W->a[i];
    nm_open(W->a, W->b, w, h, r, W->tmp);
    for (size_t i = 0; i < W->n; i++) W->a[i] -= W->b[i];
    double t = nm_otsu(W->a, W->n, NULL);
    for (size_t i = 0; i < W->n; i++) W->m[i] = t == t && W->a[i] > t;
    int isl, holes;
    islands_holes(W, W->m, 16, &isl, &holes, err);
    score[dark] = isl - holes;
  }
  return score[1] >= score[0];
}

/* Steps 4-5 on W (at its resolution, d in its pixels): I denoised and
** flattened into W->a (particles bright). */
static nm_status denoise_flatten(ws *W, const float *I, double d, int dark,
                                 const nm_segment_opts *o, nm_error *err) {
  int w = W->w, h = W->h;
  size_t n = W->n;
  /* 4. denoise into a */
  double sigma = o->denoise * d;
  if (sigma > 0 && sigma < 0.5) sigma = 0.5;
  nm_gauss(I, W->a, w, h, sigma, W->tmp);
  if (o->median > 0) {
    int r = (int)lround(o->median * d);
    if (r > 0) {
      nm_median(W->a, W->b, w, h, r);
      memcpy(W->a, W->b, sizeof(float) * n);
    }
  }
  if (stop(W, 4, "segment")) return nm_fail(err, NM_ERR_INTERRUPTED, "segment: interrupted");

  /* 5. background flattening: a -> a - background */
  if (o->background > 0) {
    int mode = o->flatten_mode < 0 ? !dark : o->flatten_mode;
    if (mode == 1) {
      int r = (int)lround(d);
      /* no smoothing of the opening: it would smear support/vacuum steps
      ** into false residues along every support edge */
      nm_open(W->a, W->b, w, h, r, W->tmp);
    } else {
      flatten_nc(W, W->a, o->background * d);
      memset(W->b, 0, sizeof(float) * n);
    }
    for (size_t i = 0; i < n; i++) W->a[i] -= W->b[i];
  }

  return NM_OK;
}

/* Gradient magnitude by central differences at an inner pixel p. */
static float central_gradient(const float *img, size_t p, int w) {
  float gx = img[p + 1] - img[p - 1], gy = img[p + w] - img[p - w];
  return sqrtf(gx * gx + gy * gy);
}

/* How much steeper the mask's outline is than the film around it, before
** any split: mean gradient of img on the outline pixels of W->m2 over its
** mean gradient on the unmasked ring between ra and rb from the mask (the
** background ring of segment_refine.c for a particle of diameter d). The
** image-level form of the refinement's steepest-edge gate, which can only
** be read after the split; 0 when either set is empty. With interior, also
** the mean gradient of the mask's inside (at least ra from its outline)
** over the film's: how rough the particles themselves are against the
** film (0 when either set is empty). Uses W->c. */
static nm_status sharp_edges(ws *W, const float *img, double d, double *ratio, double *interior,
                             nm_error *err) {
  int w = W->w, h = W->h;
  *ratio = 0;
  if (interior) *interior = 0;
  nm_status st = nm_edt(W->m2, w, h, 1, W->c, err);
  if (st) return st;
  double ra = fmax(2.0, 0.15 * d), rb = ra + fmax(3.0, 0.25 * d);
  double gb = 0, gr = 0;
  long nb = 0, nr = 0;
  const uint8_t *m = W->m2;
  for (int y = 1; y < h - 1; y++)
    for (int x = 1; x < w - 1; x++) {
      size_t p = (size_t)y * w + x;
      int bnd = m[p] && (!m[p - 1] || !m[p + 1] || !m[p - w] || !m[p + w]);
      int rng = !m[p] && W->c[p] >= ra && W->c[p] <= rb;
      if (!bnd && !rng) continue;
      float g = central_gradient(img, p, w);
      if (bnd) gb += g, nb++;
      else gr += g, nr++;
    }
  if (nb && nr && gr > 0) *ratio = (gb / (double)nb) / (gr / (double)nr);
  if (interior && nr && gr > 0) {
    /* medians: the lines between crystals are a small share of the inside
    ** (and are what the finer split is for); a texture is everywhere */
    float *din = nm_malloc(W->n, sizeof(float), err);
    float *gf = nm_malloc((size_t)nr, sizeof(float), err);
    if (!din || !gf) {
      free(din);
      free(gf);
      return err && err->code ? err->code : NM_ERR_NOMEM;
    }
    st = nm_edt(W->m2, w, h, 0, din, err);
    size_t ni = 0, nf = 0;
    for (int y = 1; y < h - 1 && !st; y++)
      for (int x = 1; x < w - 1; x++) {
        size_t p = (size_t)y * w + x;
        int in = m[p] && din[p] >= ra;
        int rng = !m[p] && W->c[p] >= ra && W->c[p] <= rb;
        if (!in && !rng) continue;
        float g = central_gradient(img, p, w);
        if (in) din[ni++] = g; /* ni <= p: din[p] was read above */
        else if (nf < (size_t)nr) gf[nf++] = g;
      }
    if (!st && ni && nf) {
      double mf = nm_percentile(gf, nf, 50);
      if (mf > 0) *interior = nm_percentile(din, ni, 50) / mf;
    }
    free(din);
    free(gf);
    if (st) return st;
  }
  return NM_OK;
}

/* split_fine: the largest median gradient of the particles' insides on the
** 1 px copy, over the film's median gradient there (medians: the lines
** between crystals are a small share of the inside). Measured
** (docs/accuracy.md): 0.00-1.19 on the 39 shared images that reach this
** test, 0.9-1.4 on test_segment's clean synthetic fields, 3.0 for a
** particle with a texture of its own (test_split's textured ellipse, which
** the finer split would cut along its texture); 2 is in that gap, not
** fitted: any value from 1.2 to 3 gives the same labels on the shared sets */
#define SPLIT_FINE_ROUGH 2.0

/* Steps 6-8a on W (at its resolution, d in its pixels) from W->a: the
** particles into labels (w*h, zeroed) and *count_out; W->a is kept. */
static nm_status threshold_split(ws *W, const float *I, double d, int dark,
                                 const nm_segment_opts *o, int32_t *labels, int *count_out,
                                 nm_error *err) {
  int w = W->w, h = W->h;
  size_t n = W->n;
  const nm_progress *progress = W->progress;
  nm_status st = NM_OK;
  int count = 0;
  /* 6. threshold into m */
  if (o->local) {
    int r = (int)lround(o->local_radius * d);
    if (r < 1) r = 1;
    nm_threshold_local(W->a, w, h, r, (float)o->local_offset, W->m, W->tmp);
    /* a local mean alone marks half of any flat background: keep only pixels
    ** that are also above half of the global Otsu level (of the flattened
    ** image, so uneven illumination is already gone) */
    double t = nm_otsu(W->a, n, NULL);
    if (t == t)
      for (size_t i = 0; i < n; i++) W->m[i] = W->m[i] && W->a[i] > 0.5 * t;
  } else {
    double t = nm_otsu(W->a, n, NULL);
    if (t != t) t = INFINITY;
    else t *= o->threshold_bias;
    if (!dark && o->noise_k > 0 && t < INFINITY) {
      /* dark field: the top-hat leaves the support's texture as a field of
      ** small residues; a particle must stand out of that noise, not just
      ** out of Otsu's two classes. Noise from the median absolute
      ** deviation of the top-hat (particles are few: they barely move it).
      ** When the particles cover most of the field there is no support
      ** texture to reject, and the median would be the particles' own
      ** level: the rule is then not applied */
      size_t nabove = 0;
      for (size_t i = 0; i < n; i++) nabove += W->a[i] > t;
      if (2 * nabove <= n) {
        float med = nm_percentile(W->a, n, 50);
        for (size_t i = 0; i < n; i++) W->b[i] = fabsf(W->a[i] - med);
        double sd = 1.4826 * nm_percentile(W->b, n, 50);
        double tn = med + o->noise_k * sd;
        if (tn > t) t = tn;
      }
    }
    for (size_t i = 0; i < n; i++) W->m[i] = W->a[i] > t;
  }
  if (o->fill_holes) nm_fill_holes(W->m, w, h, W->lab);
  {
    double amin = o->min_area * M_PI * d * d / 4 * 0.5;
    if (amin < o->min_area_px) amin = o->min_area_px;
    st = nm_remove_small(W->m, w, h, 1, (int64_t)ceil(amin), W->lab, NULL, err);
    if (st) return st;
  }
  if (stop(W, 6, "segment")) return nm_fail(err, NM_ERR_INTERRUPTED, "segment: interrupted");

  /* 7. split */
  if (o->split) {
    /* the distance map of the mask with the visible gaps cut (W->m2), so
    ** that particles touching along a bright line get a neck */
    memcpy(W->m2, W->m, n);
    if (o->gap_cut > 0 && lround(d / 8) >= 2) {
      double t = nm_otsu(W->a, n, NULL);
      if (t == t) {
        st = cut_gaps(W, W->a, W->m, W->m2, (int)lround(d / 8), o->gap_cut,
                      nm_class_contrast(W->a, n, t), d, o->gap_smooth * d, err);
        if (st) return st;
      }
    }
    /* sharp edges on a clean film: the distance map's maxima are not made
    ** by outline noise there, so overlapping and touching particles keep
    ** markers of their own with a lower h, in both splits (sharp_edges;
    ** measured in docs/accuracy.md) */
    double hfrac = o->h_frac, cap = 0;
    const float *simg = W->a;
    if (dark && o->refine_edge != 0) {
      double ratio = 0;
      st = sharp_edges(W, W->a, d, &ratio, NULL, err);
      if (st) return st;
      if (ratio >= o->refine_edge_ratio) hfrac = o->h_sharp, cap = o->split_merge_cap;
      /* the lines between touching crystals are 1-3 px wide: smoothing by
      ** denoise x d (5 px at d = 100) all but erases them before the
      ** second split reads its depth. Where the edges are sharp, and stay
      ** so on the copy smoothed by 1 px only (the same gate read on it,
      ** as for the outlines in segment_refine.h: on textured film the
      ** 1 px copy's film gradient closes it), and where the particles'
      ** insides are not rougher there than the film (particles with a
      ** texture of their own would be cut along it: SPLIT_FINE_ROUGH), the
      ** second split reads the lines on that copy, flattened alike: W->a +
      ** gauss(I, 1) - gauss(I, sigma), into W->b (free until the split is
      ** done) */
      if (cap > 0 && o->split_fine && I) {
        double sg = o->denoise * d;
        if (sg > 0 && sg < 0.5) sg = 0.5;
        nm_gauss(I, W->b, w, h, sg, W->tmp);
        for (size_t i = 0; i < n; i++) W->b[i] = W->a[i] - W->b[i];
        nm_gauss(I, W->c, w, h, 1.0, W->tmp);
        for (size_t i = 0; i < n; i++) W->b[i] += W->c[i];
        double rf = 0, rough = 0;
        st = sharp_edges(W, W->b, d, &rf, &rough, err);
        if (st) return st;
        if (rf >= o->refine_edge_ratio && rough <= SPLIT_FINE_ROUGH) simg = W->b;
      }
    }
    st = nm_edt(W->m2, w, h, 0, W->c, err);
    if (st) return st;
    double hv = hfrac * d / 2;
    if (hv < 0.5) hv = 0.5;
    st = nm_hmax_markers(W->c, W->m2, w, h, hv, labels, &count, err);
    if (st) return st;
    for (size_t i = 0; i < n; i++) W->c[i] = -W->c[i];
    st = nm_watershed(W->c, W->m, w, h, labels, progress, err);
    if (st) return st;
    /* pieces still merged (too large or non-convex) split again on the
    ** distance weighted by the image (split.h) */
    /* a notch, as the concave step counts one (concavity.h): the weak
    ** cuts the merge cap keeps must end in notches (split.h) */
    double notch = o->concave.depth * d;
    if (notch < 2) notch = 2;
    st = nm_split_merged_nd(simg, W->m2, W->c, w, h, labels, &count, d, hfrac,
                            o->split_intensity, cap, notch, progress, err);
    if (st) return st;
    /* where the cap applies (sharp edges), the cuts of both splits that
    ** nothing in the image supports — no notch at their ends, no line
    ** along them — are undone: the first split's gap cut reads lighter
    ** bands inside single crystals (fringes) as gaps (split.h) */
    if (dark && cap > 0) {
      st = nm_merge_unsupported(simg, w, h, labels, count, d, notch, err);
      if (st) return st;
    }
    /* bright field: pieces still non-convex are cut between pairs of
    ** concave outline points (overlapping particles, concavity.h); not
    ** measured on dark field, whose pipeline is being replaced (darkfield.h) */
    if (dark) {
      /* where the second split read the 1 px copy, the particles were
      ** measured smooth inside (no texture to cut along) and its cuts
      ** follow lines in the image: irregular pieces there are no sign of
      ** textured particles cut along their wiggles, so the neck-free
      ** merge (concavity.h) does not undo those cuts (docs/accuracy.md) */
      nm_concave_opts co = o->concave;
      co.keep_cuts = simg != W->a;
      st = nm_split_concave(labels, w, h, &count, d, &co, progress, err);
      if (st) return st;
    }
  } else {
    st = nm_label(W->m, w, h, 1, labels, &count, err);
    if (st) return st;
  }
  if (stop(W, 7, "segment")) return nm_fail(err, NM_ERR_INTERRUPTED, "segment: interrupted");

  /* 8. per-particle erosion then equal dilation within the basin */
  double re = o->erode * d / 2;
  if (re >= 1.0) {
    /* interior: pixels whose 4-neighbours share their label */
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        size_t i = (size_t)y * w + x;
        int32_t l = labels[i];
        W->m[i] = l && (x == 0 || labels[i - 1] == l) && (x == w - 1 || labels[i + 1] == l) &&
                 (y == 0 || labels[i - w] == l) && (y == h - 1 || labels[i + w] == l);
      }
    st = nm_erode_disc(W->m, W->m, w, h, re - 1.0, W->c, err);
    if (st) return st;
    /* regrow: within re of a surviving pixel; survivors of another basin are
    ** farther than re from this one, so the nearest survivor is our own */
    st = nm_edt_sq(W->m, w, h, 1, W->c, err);
    if (st) return st;
    float r2 = (float)(re * re);
    for (size_t i = 0; i < n; i++)
      if (labels[i] && W->c[i] > r2) labels[i] = 0;
    /* a basin cut in two by the erosion keeps both parts under one label;
    ** relabelling by connectivity would split it, which we do not want */
  }
  {
    int32_t *map = nm_malloc((size_t)count + 1, sizeof(int32_t), err);
    if (!map) return err && err->code ? err->code : NM_ERR_NOMEM;
    *count_out = nm_relabel(labels, n, count, map);
    free(map);
  }
  return NM_OK;
}

/* Multi-resolution: with large particles the whole-image passes of steps
** 4-8a (denoising, flattening, threshold, distance transforms, markers,
** watersheds, splits, erosion) run on f x f block means, as long as the
** typical particle still spans LOWRES_MIN_D px there; the labels are
** brought back to full resolution, where step 8b places every outline on
** the full-resolution denoised and flattened image (it moves outlines by up
** to refine_grow particle radii, far more than a block).
**
** Measured (eval-seg, docs/benchmarks.md): at LOWRES_MIN_D 64 every set
** keeps its F1 and area error (nanoshapes F1 0.837, tp 1418 -> 1412 with
** 14 fewer false detections; au-tetra-prism and the rest identical). At
** 24-40 px it is not safe: on au-tetra-prism's dense fields of touching
** tetrahedra (d 80-92 px on 512 px fields) the thin gaps between them fade
** in block means and F1 fell from 0.804 to 0.72-0.75 (not the concave
** split: the loss stayed when that ran at full resolution). Bright field
** only (dark field has its own pipeline, darkfield.h). */
#define LOWRES_MIN_D 64.0
static int lowres_factor(double d, int w, int h, int dark) {
  if (!dark) return 1;
  int f = 1;
  while (f < 4 && d / (2 * f) >= LOWRES_MIN_D && (w < h ? w : h) / (2 * f) >= 64) f *= 2;
  return f;
}

static void ws_free(ws *W) {
  free(W->a);
  free(W->b);
  free(W->c);
  free(W->tmp);
  free(W->m);
  free(W->m2);
  free(W->lab);
}

static nm_status ws_alloc(ws *W, int w, int h, const nm_progress *progress, nm_error *err) {
  memset(W, 0, sizeof *W);
  W->w = w;
  W->h = h;
  W->n = (size_t)w * h;
  W->progress = progress;
  W->a = nm_malloc(W->n, sizeof(float), err);
  W->b = nm_malloc(W->n, sizeof(float), err);
  W->c = nm_malloc(W->n, sizeof(float), err);
  W->tmp = nm_malloc(nm_filter_tmp_size(w, h), sizeof(float), err);
  W->m = nm_malloc(W->n, 1, err);
  W->m2 = nm_malloc(W->n, 1, err);
  W->lab = nm_malloc(W->n, sizeof(int32_t), err);
  if (W->a && W->b && W->c && W->tmp && W->m && W->m2 && W->lab) return NM_OK;
  ws_free(W);
  return err && err->code ? err->code : NM_ERR_NOMEM;
}

/* Steps 4-8a at 1/f resolution (see lowres_factor) into labels (full
** resolution, zeroed), then steps 4-5 at full resolution into W->a for
** the outline placement. */
static nm_status segment_lowres(ws *W, const float *I, double d, int f, int dark,
                                const nm_segment_opts *o, int32_t *labels, int *count,
                                nm_error *err) {
  int w = W->w, h = W->h, sw = (w + f - 1) / f, sh = (h + f - 1) / f;
  ws S;
  nm_status st = ws_alloc(&S, sw, sh, W->progress, err);
  if (st) return st;
  float *I2 = nm_malloc(S.n, sizeof(float), err);
  int32_t *lab2 = nm_calloc(S.n, sizeof(int32_t), err);
  if (!I2 || !lab2) {
    st = err && err->code ? err->code : NM_ERR_NOMEM;
    goto done;
  }
  nm_downsample(I, w, h, f, I2);
  st = denoise_flatten(&S, I2, d / f, dark, o, err);
  if (st) goto done;
  st = threshold_split(&S, I2, d / f, dark, o, lab2, count, err);
  if (st) goto done;
  for (int y = 0; y < h; y++) {
    const int32_t *src = lab2 + (size_t)(y / f) * sw;
    int32_t *dst = labels + (size_t)y * w;
    for (int x = 0; x < w; x++) dst[x] = src[x / f];
  }
  st = denoise_flatten(W, I, d, dark, o, err);
done:
  free(I2);
  free(lab2);
  ws_free(&S);
  return st;
}

nm_status nm_segment(const float *px, int width, int height,
                     const nm_segment_opts *opts_in, const nm_progress *progress,
                     nm_segmentation *out, nm_error *err) {
  memset(out, 0, sizeof *out);
  if (!px) return nm_fail(err, NM_ERR_ARG, "segment: no image");
  if (width <= 0 || height <= 0)
    return nm_fail(err, NM_ERR_ARG, "segment: image is %dx%d", width, height);
  if ((uint64_t)width * (uint64_t)height > ((uint64_t)1 << 30))
    return nm_fail(err, NM_ERR_TOOBIG, "segment: %dx%d image is over 2^30 pixels", width, height);
  for (size_t i = 0, np = (size_t)width * height; i < np; i++)
    if (!isfinite(px[i]))
      return nm_fail(err, NM_ERR_ARG, "segment: pixel %zu is not a finite number", i);
  nm_segment_opts defaults_store;
  const nm_segment_opts *o = opts_in;
  if (!o) {
    nm_segment_opts *d = nm_segment_opts_new();
    if (!d) return nm_fail(err, NM_ERR_NOMEM, "segment: out of memory");
    defaults_store = *d;
    free(d);
    o = &defaults_store;
  }
  ws W;
  memset(&W, 0, sizeof W);
  W.w = width;
  W.h = height;
  W.n = (size_t)width * height;
  W.progress = progress;
  nm_status st = NM_OK;
  int w = width, h = height;
  size_t n = W.n;
  float *I = nm_malloc(n, sizeof(float), err);
  W.a = nm_malloc(n, sizeof(float), err);
  W.b = nm_malloc(n, sizeof(float), err);
  W.c = nm_malloc(n, sizeof(float), err);
  W.tmp = nm_malloc(nm_filter_tmp_size(w, h), sizeof(float), err);
  W.m = nm_malloc(n, 1, err);
  W.m2 = nm_malloc(n, 1, err);
  W.lab = nm_malloc(n, sizeof(int32_t), err);
  int32_t *labels = nm_calloc(n, sizeof(int32_t), err);
  uint8_t *excluded = NULL;
  if (!I || !W.a || !W.b || !W.c || !W.tmp || !W.m || !W.m2 || !W.lab || !labels) {
    st = err && err->code ? err->code : NM_ERR_NOMEM;
    goto fail;
  }

  /* 1. stretch */
  nm_stretch(px, I, n, o->stretch_low, o->stretch_high);
  if (stop(&W, 1, "segment")) goto interrupted;

  /* 2. polarity: afterwards I holds particles bright */
  int dark = o->polarity;
  if (dark < 0) {
    dark = choose_polarity(&W, I, NULL, err);
    if (dark < 0) {
      st = err && err->code ? err->code : NM_ERR_NOMEM;
      goto fail;
    }
  }
  if (dark)
    for (size_t i = 0; i < n; i++) I[i] = 1.0f - I[i];
  if (stop(&W, 2, "segment")) goto interrupted;

  int count = 0;
  double d = o->scale_px;
  if (!dark && o->darkfield.enabled) {
    /* dark field by its own pipeline (darkfield.h), then the same exclusions */
    st = nm_darkfield_segment(I, w, h, &o->darkfield, d, progress, labels, &count, &d, err);
    if (st) goto fail;
    if (count >= 0) goto exclusions;
    count = 0; /* declined (no blob stands out: a dense field): the path below */
    d = o->scale_px;
  }

  /* 3. scale */
  if (!(d > 0)) {
    nm_gauss(I, W.a, w, h, 1.0, W.tmp);
    if (dark) {
      flatten_nc(&W, W.a, (w < h ? w : h) / 8.0);
    } else {
      /* dark field: particles sit on a support brighter than vacuum; only
      ** a local top-hat (structures narrower than 1/20 of the field) shows
      ** them rather than the support. Known limit: dark-field particles
      ** wider than that are under-scaled (give scale_px). */
      nm_open(W.a, W.b, w, h, (w < h ? w : h) / 40, W.tmp);
      for (size_t i = 0; i < n; i++) W.a[i] -= W.b[i];
    }
    double t = nm_otsu(W.a, n, NULL);
    double dw = 0;
    if (!dark && o->granulometry) {
      /* pixel noise (and JPEG blocks) would put volume at the smallest
      ** widths: measured on a lightly smoothed top-hat */
      /* on large fields (>= 1536 px) the openings run on 2x2 block means
      ** (the smoothing then comes from the blocks): four times fewer pixels
      ** for ~15 openings, and widths under 8 px are not expected there */
      int f = (w < h ? w : h) >= 1536 ? 2 : 1;
      if (f == 2) {
        nm_downsample(W.a, w, h, 2, W.c);
        d = 2 * scale_granulometry(&W, W.c, (w + 1) / 2, (h + 1) / 2, (w < h ? w : h) / 80, 0);
      } else {
        nm_gauss(W.a, W.c, w, h, 1.0, W.tmp);
        d = scale_granulometry(&W, W.c, w, h, (w < h ? w : h) / 40, 0);
      }
    } else {
      for (size_t i = 0; i < n; i++) W.m[i] = t == t && W.a[i] > t;
      nm_fill_holes(W.m, w, h, W.lab);
      memcpy(W.m2, W.m, n);
      d = scale_from_mask(&W, W.m, dark ? W.a : NULL, t, &dw, err, &st);
      if (st) goto fail;
    }
    /* a typical inscribed disc over 1/5 of the field suggests rafts of
    ** touching particles (dense monolayers) measured as one: measure again
    ** (only then: a plain field keeps its mask-based estimate) */
    if (dark && t == t && d > (w < h ? w : h) / 5.0) {
      /* first by the granulometry of the flattened image (particles
      ** bright): an opening wider than a particle cannot stay inside it
      ** without crossing the lighter line to its neighbour, even where
      ** that line is too faint or narrow for the binary gap cut below
      ** (rafts of overlapping octahedra: d 150-340 -> 65-160 px; nanoshapes
      ** F1 0.811 -> 0.835, docs/accuracy.md). Square openings read a disc
      ** as ~0.7 of its diameter (and a triangle as less), so the result is
      ** only taken when it says the first estimate merged several
      ** particles (under 0.4 of it; measured: rafts 0.03-0.28, single
      ** prisms and touching discs 0.47-0.9). Widths up to the first
      ** estimate; large fields on 2x2 block means, as for dark field */
      double dg = 0;
      if (o->granulometry) {
        for (size_t i = 0; i < n; i++) W.b[i] = W.a[i] > 0 ? W.a[i] : 0;
        if ((w < h ? w : h) >= 1536) {
          nm_downsample(W.b, w, h, 2, W.c);
          dg = 2 * scale_granulometry(&W, W.c, (w + 1) / 2, (h + 1) / 2, (int)(d / 4), 1);
        } else {
          memcpy(W.c, W.b, sizeof(float) * n);
          dg = scale_granulometry(&W, W.c, w, h, (int)(d / 2), 1);
        }
      }
      if (dg > 0 && dg < 0.4 * d) {
        d = dg;
      } else if (o->gap_cut > 0) {
        /* with the visible gaps between particles cut (only here, since
        ** texture inside faint particles would be cut too) */
        st = cut_gaps(&W, W.a, W.m2, W.m, (w < h ? w : h) / 64, o->gap_cut,
                      nm_class_contrast(W.a, n, t), (w < h ? w : h) / 64.0, 0, err);
        if (st) goto fail;
        double d2 = scale_from_mask(&W, W.m, NULL, t, NULL, err, &st);
        if (st) goto fail;
        if (d2 > 0) d = d2;
      }
    }
    /* bright field: when the first mask is mostly film texture (a sparse
    ** field on strongly textured film, or a dense noisy one), its faint
    ** grains set the area-weighted scale (d = 7 px for 25-40 px particles
    ** on two tem-np-sparse images). Weighted by contrast, the particles
    ** count: a contrast-weighted scale more than twice the area-weighted
    ** one (and not itself raft-sized) is taken. Measured ratio elsewhere:
    ** at most 1.7 (msa-bf-tem), 1.4 (tem-np-sparse), 1.1 (au-tetra-prism);
    ** nanoshapes' rafts read larger but are over the raft limit */
    if (dark && dw > 2 * d && dw <= (w < h ? w : h) / 5.0) d = dw;
    if (!(d > 0)) d = 8;
  }
  double dmax = (w < h ? w : h) / 2.0;
  if (d > dmax) d = dmax;
  if (d < 3) d = 3;
  if (stop(&W, 3, "segment")) goto interrupted;

  {
    int f = lowres_factor(d, w, h, dark);
    if (f > 1) {
      st = segment_lowres(&W, I, d, f, dark, o, labels, &count, err);
      if (st) goto fail;
    } else {
      st = denoise_flatten(&W, I, d, dark, o, err);
      if (st) goto fail;
      if (stop(&W, 5, "segment")) goto interrupted;
      st = threshold_split(&W, I, d, dark, o, labels, &count, err);
      if (st) goto fail;
    }
  }
  /* 8b. outlines moved to each particle's own mid level (W.a still holds
  ** the denoised, flattened image, particles bright) */
  if (o->refine > 0 && count > 0) {
    const float *rimg = W.a;
    double rs = o->refine_smooth * d;
    if (rs > 0.3) {
      nm_gauss(W.a, W.b, w, h, rs, W.tmp);
      rimg = W.b;
    }
    int edge = o->refine_edge < 0 ? dark : o->refine_edge;
    /* sharp edges are placed on a copy smoothed by 1 px only (pixel noise),
    ** flattened alike: W.a + gauss(I, 1) - gauss(I, sigma), see
    ** segment_refine.h */
    const float *fine = NULL, *raw = NULL;
    if (edge && rimg == W.a) {
      double sg = o->denoise * d;
      if (sg > 0 && sg < 0.5) sg = 0.5;
      nm_gauss(I, W.b, w, h, sg, W.tmp);
      nm_gauss(I, W.c, w, h, 1.0, W.tmp);
      for (size_t i = 0; i < n; i++) W.c[i] += W.a[i] - W.b[i];
      fine = W.c;
      /* the same, unsmoothed: each edge's foot is read on it, perimeter-
      ** averaged (averaging, not smoothing, removes the noise there) */
      for (size_t i = 0; i < n; i++) W.b[i] = I[i] + W.a[i] - W.b[i];
      raw = W.b;
    }
    st = nm_refine_outlines_fine(rimg, fine, raw, w, h, labels, count, o->refine, o->refine_grow,
                                 edge, o->refine_edge_ratio, nm_otsu(rimg, n, NULL),
                                 o->refine_anchor, o->fill_holes, NULL, err);
    if (st) goto fail;
  }
  if (stop(&W, 8, "segment")) goto interrupted;

  /* 9. exclusions */
exclusions:
  excluded = nm_calloc((size_t)count + 1, 1, err);
  int64_t *area = nm_calloc((size_t)count + 1, sizeof(int64_t), err);
  int64_t *inbox = nm_calloc((size_t)count + 1, sizeof(int64_t), err);
  if (!excluded || !area || !inbox) {
    free(area);
    free(inbox);
    st = err ? err->code : NM_ERR_NOMEM;
    goto fail;
  }
  nm_scalebar sb;
  memset(&sb, 0, sizeof sb);
  if (o->exclude_scale_bar) {
    st = nm_scalebar_detect(px, w, h, &sb, err);
    if (st) {
      free(area);
      free(inbox);
      goto fail;
    }
  }
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      int32_t l = labels[(size_t)y * w + x];
      if (!l) continue;
      area[l]++;
      if (o->exclude_edge && (x == 0 || y == 0 || x == w - 1 || y == h - 1))
        excluded[l] = NM_EXCL_EDGE;
      if (sb.found && x >= sb.box_x && x < sb.box_x + sb.box_w && y >= sb.box_y &&
          y < sb.box_y + sb.box_h)
        inbox[l]++;
    }
  double amin = o->min_area * M_PI * d * d / 4;
  if (amin < o->min_area_px) amin = o->min_area_px;
  for (int l = 1; l <= count; l++) {
    if (excluded[l]) continue;
    if (sb.found && inbox[l] * 2 >= area[l]) excluded[l] = NM_EXCL_SCALE_BAR;
    else if ((double)area[l] < amin) excluded[l] = NM_EXCL_TOO_SMALL;
  }
  free(area);
  free(inbox);
  /* bright field: film grains cut into specks (specks.h); W.b is free here */
  if (dark && o->exclude_texture) {
    st = nm_specks_flag(I, w, h, labels, count, d, NM_EXCL_TEXTURE, excluded, W.b, W.tmp, NULL,
                        err);
    if (st) goto fail;
  }

  out->width = w;
  out->height = h;
  out->labels = labels;
  out->count = count;
  out->excluded = excluded;
  out->scale_px = d;
  out->dark_particles = dark;
  labels = NULL;
  excluded = NULL;
  goto cleanup;

interrupted:
  st = nm_fail(err, NM_ERR_INTERRUPTED, "segment: interrupted");
fail:
  if (st == NM_OK) st = NM_ERR_NOMEM;
cleanup:
  free(I);
  free(W.a);
  free(W.b);
  free(W.c);
  free(W.tmp);
  free(W.m);
  free(W.m2);
  free(W.lab);
  free(labels);
  free(excluded);
  return st;
}
