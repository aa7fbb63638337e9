/*
** darkfield.c — see darkfield.h; method, measurements and what was tried
** in docs/darkfield.md.
*/
#include "darkfield.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "label.h"
#include "watershed.h"

void nm_darkfield_opts_default(nm_darkfield_opts *o) {
  memset(o, 0, sizeof *o);
  o->enabled = 1;
  o->k = 4;
  o->kc = 1.0;
  o->level = 0.65;
  o->detect = 3.0;
  o->dmin = 0;
  o->dmax = 0;
  o->amin = 0.25;
  o->amax = 3.0;
  o->open = 0;
  o->fdr = 0;
  o->nms = 1.25;
  o->edge = 10;
  o->ring = 3;
  o->floor = 1;
  o->grow = 2;
  o->grow_level = 0.2;
  o->grow_r = 0.5;
  o->marker = 0.5;
  o->kmax = 8;
  o->fp = 3;
  o->tail = 2;
  o->z0 = 2;
  o->plane = 1;
  o->prior = 0.1;
  o->half_q = 0.25;
  o->grow_sigma = 0.7;
  o->prior_bw = 0.35;
  o->prior_cap = 0;
  o->merged = 8;
}

static nm_status num_opt(double *dst, const char *key, double v, const char *text, double lo,
                         double hi, nm_error *err) {
  if (text || !(v >= lo && v <= hi))
    return nm_fail(err, NM_ERR_ARG, "option '%s' must be a number in [%g, %g]", key, lo, hi);
  *dst = v;
  return NM_OK;
}

nm_status nm_darkfield_opts_set(nm_darkfield_opts *o, const char *key, double num,
                                const char *text, nm_error *err) {
  if (!o || !key) return nm_fail(err, NM_ERR_ARG, "darkfield options: no key");
  if (!strcmp(key, "darkfield")) {
    if (text || !(num == 0 || num == 1))
      return nm_fail(err, NM_ERR_ARG, "option '%s' must be true or false", key);
    o->enabled = (int)num;
    return NM_OK;
  }
  if (!strcmp(key, "darkfield_k")) return num_opt(&o->k, key, num, text, 0, 100, err);
  if (!strcmp(key, "darkfield_fp")) return num_opt(&o->fp, key, num, text, 0, 1e9, err);
  if (!strcmp(key, "darkfield_tail")) return num_opt(&o->tail, key, num, text, 0, 100, err);
  if (!strcmp(key, "darkfield_z0")) return num_opt(&o->z0, key, num, text, -100, 100, err);
  if (!strcmp(key, "darkfield_plane")) {
    if (text || !(num == 0 || num == 1))
      return nm_fail(err, NM_ERR_ARG, "option '%s' must be true or false", key);
    o->plane = (int)num;
    return NM_OK;
  }
  if (!strcmp(key, "darkfield_prior")) return num_opt(&o->prior, key, num, text, 0, 1, err);
  if (!strcmp(key, "darkfield_prior_cap")) return num_opt(&o->prior_cap, key, num, text, 0, 1e9, err);
  if (!strcmp(key, "darkfield_prior_bw")) return num_opt(&o->prior_bw, key, num, text, 0.05, 5, err);
  if (!strcmp(key, "darkfield_merged")) return num_opt(&o->merged, key, num, text, 0, 100, err);
  if (!strcmp(key, "darkfield_half_q")) return num_opt(&o->half_q, key, num, text, 0, 1, err);
  if (!strcmp(key, "darkfield_grow_sigma")) return num_opt(&o->grow_sigma, key, num, text, 0.3, 5, err);
  if (!strcmp(key, "darkfield_kc")) return num_opt(&o->kc, key, num, text, -100, 100, err);
  if (!strcmp(key, "darkfield_level")) return num_opt(&o->level, key, num, text, 0.01, 0.99, err);
  if (!strcmp(key, "darkfield_detect")) return num_opt(&o->detect, key, num, text, 0, 100, err);
  if (!strcmp(key, "darkfield_amin")) return num_opt(&o->amin, key, num, text, 0, 100, err);
  if (!strcmp(key, "darkfield_amax")) return num_opt(&o->amax, key, num, text, 0, 1e6, err);
  if (!strcmp(key, "darkfield_fdr")) return num_opt(&o->fdr, key, num, text, 0, 1, err);
  if (!strcmp(key, "darkfield_kmax")) return num_opt(&o->kmax, key, num, text, 0, 100, err);
  if (!strcmp(key, "darkfield_nms")) return num_opt(&o->nms, key, num, text, 0, 10, err);
  if (!strcmp(key, "darkfield_marker")) return num_opt(&o->marker, key, num, text, 0, 2, err);
  if (!strcmp(key, "darkfield_edge")) return num_opt(&o->edge, key, num, text, 0, 1000, err);
  if (!strcmp(key, "darkfield_ring")) return num_opt(&o->ring, key, num, text, 2, 20, err);
  if (!strcmp(key, "darkfield_grow_r")) return num_opt(&o->grow_r, key, num, text, 0, 10, err);
  if (!strcmp(key, "darkfield_grow_level")) return num_opt(&o->grow_level, key, num, text, -1, 1, err);
  if (!strcmp(key, "darkfield_grow")) return num_opt(&o->grow, key, num, text, 0, 10, err);
  if (!strcmp(key, "darkfield_floor")) return num_opt(&o->floor, key, num, text, 0, 100, err);
  if (!strcmp(key, "darkfield_open")) return num_opt(&o->open, key, num, text, 0, 100, err);
  if (!strcmp(key, "darkfield_dmin")) return num_opt(&o->dmin, key, num, text, 0, 1e6, err);
  if (!strcmp(key, "darkfield_dmax")) return num_opt(&o->dmax, key, num, text, 0, 1e6, err);
  return nm_fail(err, NM_ERR_ARG, "option '%s' is unknown", key);
}

/* ------------------------------------------------------------------------ */

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

typedef struct blob {
  int x, y;
  float r;    /* radius, px */
  float resp; /* scale-normalised DoG response */
  float bg;   /* support level around it (annulus median) */
  float peak; /* brightest smoothed pixel of its core */
  float zd;   /* response over the robust sigma of the response around it */
  float gx, gy; /* the support's slope around it, per px (0: flat) */
  int lev;    /* its scale level */
} blob;

typedef struct blobs {
  blob *v;
  size_t n, cap;
} blobs;

/* The level share f of the way from the support under the blob (its ring
** median, tilted by the support's slope around it) to its peak, at (x, y). */
static float blob_level(const blob *b, int x, int y, double f) {
  return b->bg + b->gx * (float)(x - b->x) + b->gy * (float)(y - b->y) +
         (float)f * (b->peak - b->bg);
}

static int push_blob(blobs *b, blob x) {
  if (b->n == b->cap) {
    size_t cap = b->cap ? 2 * b->cap : 1024;
    blob *v = realloc(b->v, cap * sizeof *v);
    if (!v) return -1;
    b->v = v;
    b->cap = cap;
  }
  b->v[b->n++] = x;
  return 0;
}

/* Median of buf[0..m) into *med, and the robust sigma (1.4826 x the median
** absolute deviation) as the result; reorders and overwrites buf. */
static double median_mad(float *buf, size_t m, float *med) {
  *med = nm_select_kth(buf, m, m / 2);
  for (size_t i = 0; i < m; i++) buf[i] = fabsf(buf[i] - *med);
  return 1.4826 * nm_select_kth(buf, m, m / 2);
}

/* Robust sigma (1.4826 MAD) of img, from a grid of about 2^16 samples. */
static double robust_sigma(const float *img, int w, int h, float *buf) {
  size_t n = (size_t)w * h;
  int s = 1;
  while (n / ((size_t)s * s) > 65536) s++;
  size_t m = 0;
  for (int y = s / 2; y < h; y += s)
    for (int x = s / 2; x < w; x += s) buf[m++] = img[(size_t)y * w + x];
  if (m == 0) return 0;
  float med;
  return median_mad(buf, m, &med);
}

/* Is D[k] at i an extremum of its 3x3x3 neighbourhood (prev/next may be
** NULL): a maximum for sign +1, a minimum (dark blob) for sign -1? Ties go
** to the first pixel in raster order within the level. */
static int is_extremum(const float *prev, const float *cur, const float *next, int w, size_t i,
                       float sign) {
  float v = sign * cur[i];
  const ptrdiff_t off[8] = {-(ptrdiff_t)w - 1, -(ptrdiff_t)w, -(ptrdiff_t)w + 1, -1, 1,
                            (ptrdiff_t)w - 1, (ptrdiff_t)w, (ptrdiff_t)w + 1};
  for (int j = 0; j < 4; j++)
    if (sign * cur[i + off[j]] >= v) return 0;
  for (int j = 4; j < 8; j++)
    if (sign * cur[i + off[j]] > v) return 0;
  if (prev) {
    if (sign * prev[i] >= v) return 0;
    for (int j = 0; j < 8; j++)
      if (sign * prev[i + off[j]] >= v) return 0;
  }
  if (next) {
    if (sign * next[i] > v) return 0;
    for (int j = 0; j < 8; j++)
      if (sign * next[i + off[j]] > v) return 0;
  }
  return 1;
}

/* One annulus ri <= r <= ro around (cx, cy). core: also the sum, count and
** maximum of the values within rc of the centre. half 1/2/3/4: only the
** half right of / left of / below / above the centre (dsum then adds each
** value's distance from the centre's column or row). gx, gy: a support
** plane's slope, subtracted from the annulus values (detrended). */
typedef struct ring_spec {
  int cx, cy;
  double ri, ro, rc;
  int half;
  float gx, gy;
} ring_spec;

typedef struct ring_core {
  double sum;
  int n;
  float peak;
} ring_core;

/* The annulus values of A into buf; returns their count. Each row visits
** only the columns that can be kept, in raster order: the annulus out to the
** outer radius and the core, skipping the hole between them. Where a row's
** segment lies wholly in the annulus or wholly in the core it is copied
** without the per-pixel test; the values, their order and the core's sum are
** those of a scan of the whole square. */
enum { SEG_MIXED, SEG_ANNULUS, SEG_CORE };
static size_t ring_gather(const float *A, int w, int h, const ring_spec *rs, ring_core *core,
                          double *dsum, float *buf) {
  int iro = (int)ceil(rs->ro), half = rs->half;
  double ri2 = rs->ri * rs->ri, ro2 = rs->ro * rs->ro, rc2 = rs->rc * rs->rc;
  size_t m = 0;
  if (core) core->sum = 0, core->n = 0, core->peak = -INFINITY;
  for (int dy = -iro; dy <= iro; dy++) {
    int y = rs->cy + dy;
    if (y < 0 || y >= h || (half == 3 && dy <= 0) || (half == 4 && dy >= 0)) continue;
    double dy2 = (double)dy * dy;
    /* r2 grows with |dx|: |dx| <= oa within the outer radius, <= c within
    ** the core (-1: none), >= i at or beyond the inner radius */
    int oa = iro;
    while (oa >= 0 && (double)oa * oa + dy2 > ro2) oa--;
    int c = -1;
    if (core)
      while (c < iro && (double)(c + 1) * (c + 1) + dy2 <= rc2) c++;
    int i = 0;
    while (i <= iro && (double)i * i + dy2 < ri2) i++;
    int seg[3][3], ns = 0;
#define SEG(a_, b_, k_) (seg[ns][0] = (a_), seg[ns][1] = (b_), seg[ns][2] = (k_), ns++)
    if (c >= 0 && c + 1 >= i) {
      int o = oa > c ? oa : c;
      SEG(-o, o, SEG_MIXED);
    } else if (c < 0 && i == 0) {
      if (oa >= 0) SEG(-oa, oa, SEG_ANNULUS);
    } else {
      if (i <= oa) SEG(-oa, -i, SEG_ANNULUS);
      if (c >= 0) SEG(-c, c, SEG_CORE);
      if (i <= oa) SEG(i, oa, SEG_ANNULUS);
    }
#undef SEG
    const float *row = A + (size_t)y * w + rs->cx;
    const float gyd = rs->gy * (float)dy, gx = rs->gx;
    for (int sg = 0; sg < ns; sg++) {
      int a = seg[sg][0], b = seg[sg][1];
      if (a < -rs->cx) a = -rs->cx;
      if (b > w - 1 - rs->cx) b = w - 1 - rs->cx;
      if (half == 1 && a < 1) a = 1;
      if (half == 2 && b > -1) b = -1;
      if (a > b) continue;
      if (seg[sg][2] == SEG_ANNULUS) {
        float *o = buf + m;
        int dx = a;
#if defined(__SSE2__)
        /* the same float operations four lanes at a time (dx exact in float) */
        __m128 vdx = _mm_setr_ps((float)a, (float)(a + 1), (float)(a + 2), (float)(a + 3));
        const __m128 vgx = _mm_set1_ps(gx), vgy = _mm_set1_ps(gyd), four = _mm_set1_ps(4.0f);
        for (; dx + 3 <= b; dx += 4) {
          __m128 v = _mm_sub_ps(_mm_sub_ps(_mm_loadu_ps(row + dx), _mm_mul_ps(vgx, vdx)), vgy);
          _mm_storeu_ps(o + (dx - a), v);
          vdx = _mm_add_ps(vdx, four);
        }
#endif
        for (; dx <= b; dx++) o[dx - a] = row[dx] - gx * (float)dx - gyd;
        m += (size_t)(b - a + 1);
        if (half && dsum) {
          int64_t t = 0;
          if (half <= 2)
            for (int dx = a; dx <= b; dx++) t += abs(dx);
          else
            t = (int64_t)abs(dy) * (b - a + 1);
          *dsum += (double)t;
        }
      } else if (seg[sg][2] == SEG_CORE) {
        for (int dx = a; dx <= b; dx++) {
          float v = row[dx];
          core->sum += v;
          if (v > core->peak) core->peak = v;
        }
        core->n += b - a + 1;
      } else {
        for (int dx = a; dx <= b; dx++) {
          double r2 = (double)dx * dx + dy2;
          float v = row[dx];
          if (core && r2 <= rc2) {
            core->sum += v;
            core->n++;
            if (v > core->peak) core->peak = v;
          } else if (r2 >= ri2 && r2 <= ro2) {
            buf[m++] = v - gx * (float)dx - gyd;
            if (half && dsum) *dsum += half <= 2 ? abs(dx) : abs(dy);
          }
        }
      }
    }
  }
  return m;
}

/* The k2-th smallest of buf[0..m) just after nm_select_kth(buf, m, k):
** buf is partitioned around k, so only the side holding k2 is searched. */
static float select_again(float *buf, size_t m, size_t k, size_t k2) {
  if (k2 < k) return nm_select_kth(buf, k, k2);
  if (k2 > k) return nm_select_kth(buf + k + 1, m - k - 1, k2 - k - 1);
  return buf[k];
}

/* The support's slope across the annulus along x (axis 0) or y (1): the
** difference of the medians of its two halves over the distance between
** their mean positions (medians: a particle in one half moves it little);
** 0 when a half holds under 8 pixels (image edge). *hi: raised to the
** brighter half's median. */
static float ring_slope(const float *S, int w, int h, ring_spec rs, int axis, float *hi,
                        double hq, float *buf) {
  double d1 = 0, d2 = 0;
  rs.gx = rs.gy = 0;
  rs.half = 1 + 2 * axis;
  size_t m1 = ring_gather(S, w, h, &rs, NULL, &d1, buf);
  if (m1 < 8) return 0;
  float a = nm_select_kth(buf, m1, m1 / 2);
  float qa = select_again(buf, m1, m1 / 2, (size_t)(hq * (double)(m1 - 1)));
  rs.half = 2 + 2 * axis;
  size_t m2 = ring_gather(S, w, h, &rs, NULL, &d2, buf);
  if (m2 < 8) return 0;
  float b = nm_select_kth(buf, m2, m2 / 2);
  float qb = select_again(buf, m2, m2 / 2, (size_t)(hq * (double)(m2 - 1)));
  if (qa > *hi) *hi = qa;
  if (qb > *hi) *hi = qb;
  double dist = d1 / m1 + d2 / m2;
  return dist > 0 ? (float)((a - b) / dist) : 0;
}

/* The blob's band-pass response against the spread of the same response
** over a ring around it (the support's texture at this scale, locally). */
static double band_z(const float *D, int w, int h, const blob *b, int sign, double ring,
                     double floor_sd, float *buf) {
  double R = b->r, ri = 1.5 * R + 1, ro = ring * R + 3;
  if (ro < ri + 2) ro = ri + 2;
  ring_spec rs = {b->x, b->y, ri, ro, 0, 0, 0, 0};
  size_t m = ring_gather(D, w, h, &rs, NULL, NULL, buf);
  if (m < 8) return 0;
  float med;
  double sd = median_mad(buf, m, &med);
  if (sd < floor_sd) sd = floor_sd;
  if (sd < 1e-6) sd = 1e-6;
  return (b->resp - sign * med) / sd;
}

/* Is the response at (x, y) a ridge (an edge or a line) rather than a blob?
** The ratio of the principal curvatures of D, from the Hessian by central
** differences at step hs, exceeds ratio (Lowe's edge test for SIFT
** keypoints: tr^2/det >= (ratio+1)^2/ratio, or det <= 0). ratio <= 0: no test. */
static int ridge(const float *D, int w, int h, int x, int y, int hs, double ratio) {
  if (ratio <= 0) return 0;
  while (hs > 1 && (x < hs || y < hs || x + hs >= w || y + hs >= h)) hs--;
  if (x < hs || y < hs || x + hs >= w || y + hs >= h) return 0;
  size_t i = (size_t)y * w + x, sw = (size_t)hs * w;
  double c = D[i];
  double dxx = D[i + hs] + D[i - hs] - 2 * c;
  double dyy = D[i + sw] + D[i - sw] - 2 * c;
  double dxy = (D[i + sw + hs] - D[i + sw - hs] - D[i - sw + hs] + D[i - sw - hs]) / 4;
  double tr = dxx + dyy, det = dxx * dyy - dxy * dxy;
  return det <= 0 || tr * tr * ratio >= (ratio + 1) * (ratio + 1) * det;
}

/* The local contrast test of one candidate on the smoothed image S: core
** mean against the median and robust sigma of an annulus beyond the blob.
** buf: room for the annulus. Returns 1 when it passes (bg, peak filled). */
static int local_contrast(const float *S, int w, int h, blob *b, double k, double floor_sd,
                          int plane, double hq, float *buf) {
  double R = b->r;
  double rc = 0.5 * R < 1 ? 1 : 0.5 * R;
  double ri = 1.5 * R + 1, ro = 2.5 * R + 2;
  if (ro < ri + 2) ro = ri + 2;
  ring_spec rs = {b->x, b->y, ri, ro, rc, 0, 0, 0};
  float hi = -INFINITY;
  if (plane) {
    rs.gx = ring_slope(S, w, h, rs, 0, &hi, hq, buf);
    rs.gy = ring_slope(S, w, h, rs, 1, &hi, hq, buf);
  }
  ring_core c;
  size_t m = ring_gather(S, w, h, &rs, &c, NULL, buf);
  if (c.n == 0 || m < 8) return 0;
  float med;
  double sd = median_mad(buf, m, &med);
  if (sd < floor_sd) sd = floor_sd;
  double core = c.sum / c.n;
  b->bg = med;
  b->peak = (float)core;
  b->gx = rs.gx;
  b->gy = rs.gy;
  /* a particle adds to the support under it: it is brighter than the
  ** support on every side (a support edge or step is not) */
  if (hi < med) hi = med;
  return core - hi > k * sd;
}

/* The sigma nm_gauss really applies for a requested one (filter.c: exact
** kernel under 2 px, else three box passes of odd widths wl, wl+2). */
static double gauss_sigma(double sigma) {
  if (sigma < 2.0) return sigma;
  double wi = sqrt(12.0 * sigma * sigma / 3 + 1.0);
  int wl = (int)floor(wi);
  if (wl % 2 == 0) wl--;
  double mi = (12.0 * sigma * sigma - 3.0 * wl * wl - 12.0 * wl - 9.0) / (-4.0 * wl - 4.0);
  int m = (int)lround(mi);
  if (m < 0) m = 0;
  if (m > 3) m = 3;
  double var = 0;
  for (int i = 0; i < 3; i++) {
    int bw = i < m ? wl : wl + 2;
    var += (bw * (double)bw - 1) / 12.0;
  }
  return sqrt(var);
}

static int by_float_desc(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x < y) - (x > y);
}

static int by_resp(const void *a, const void *b) {
  float x = ((const blob *)a)->resp, y = ((const blob *)b)->resp;
  return (x < y) - (x > y);
}

/* Scores the blobs B->v[first..n) of one scale level with band_z (sign 1:
** bright, -1: dark) and keeps, in order, those over o->k. */
static void score_band(blobs *B, size_t first, const float *Dc, int w, int h, int sign,
                       const nm_darkfield_opts *o, double sd_c, float *tmp) {
  size_t kept = first;
  for (size_t c = first; c < B->n; c++) {
    B->v[c].zd = (float)band_z(Dc, w, h, &B->v[c], sign, o->ring, o->floor * sd_c, tmp);
    if (B->v[c].zd > o->k) B->v[kept++] = B->v[c];
  }
  B->n = kept;
}

/* Keeps, in order, the blobs whose score is over their level's threshold. */
static void keep_over_level(blobs *B, const double *tl) {
  size_t kept = 0;
  for (size_t c = 0; c < B->n; c++)
    if (B->v[c].zd > tl[B->v[c].lev]) B->v[kept++] = B->v[c];
  B->n = kept;
}

nm_status nm_darkfield_segment(const float *I, int w, int h, const nm_darkfield_opts *o,
                               double scale_px, const nm_progress *progress, int32_t *labels,
                               int *count, double *scale_out, nm_error *err) {
  *count = -1;
  *scale_out = 3;
  if (!I || !o || !labels) return nm_fail(err, NM_ERR_ARG, "darkfield: no image");
  if (w < 8 || h < 8) return NM_OK; /* nothing a blob test can use: declined */
  size_t n = (size_t)w * h;
  nm_status st = NM_OK;
  blobs cand = {0}, dark = {0}, sec = {0};
  /* G and tmp trade places after each level (G: the last Gaussian; tmp: the
  ** filters' scratch, whose first n floats receive the next one) */
  float *G = nm_malloc(nm_filter_tmp_size(w, h), sizeof(float), err);
  float *D0 = nm_malloc(n, sizeof(float), err);
  float *D1 = nm_malloc(n, sizeof(float), err);
  float *D2 = nm_malloc(n, sizeof(float), err);
  float *tmp = nm_malloc(nm_filter_tmp_size(w, h), sizeof(float), err);
  uint8_t *roi = NULL;
  int32_t *queue = NULL;
  if (!G || !D0 || !D1 || !D2 || !tmp) goto nomem;

  /* 1. scales: DoG between sigma_i and q sigma_i answers best to a disc of
  ** radius ~ sqrt(2 q) sigma_i; three levels per octave */
  int side = w < h ? w : h;
  double dmin = o->dmin > 0 ? o->dmin : 3;
  double dmax = o->dmax > 0 ? o->dmax : side / 10.0;
  if (scale_px > 0) {
    if (o->dmin <= 0 && scale_px / 4 > dmin) dmin = scale_px / 4;
    if (o->dmax <= 0) dmax = 4 * scale_px;
  }
  if (dmax > side / 2.0) dmax = side / 2.0;
  if (dmax < dmin) dmax = dmin;
  const double q = pow(2.0, 1.0 / 3);
  /* the levels nm_gauss can tell apart (its box passes quantise sigma
  ** above 2 px), about q apart, from a radius of dmin/2 to dmax/2 */
  double sig[96];
  int L = 0;
  for (double s = dmin / 2 / sqrt(2.0 * q); L < 96; s *= q) {
    double a = gauss_sigma(s);
    if (L > 0 && a < sig[L - 1] * 1.08) continue;
    sig[L++] = a;
    if (L >= 2 && sqrt(2.0 * sig[L - 2] * sig[L - 1]) > dmax / 2) break;
  }
  int K = L - 1; /* DoG levels */
  if (K < 1) goto done; /* declined */

  /* 2. scale-space maxima above detect x the level's robust sigma; level k
  ** is (G(s_k) - G(s_k+1)) s_k s_k+1 / (s_k+1^2 - s_k^2), which is the
  ** scale-normalised Laplacian at s = sqrt(s_k s_k+1), so levels compare */
  float *Dp = NULL, *Dc = D0, *Dn = D1;
  nm_gauss(I, G, w, h, sig[0], tmp);
  nm_gauss(I, tmp, w, h, sig[1], tmp); /* the filters keep tmp's first n floats free */
  {
    float f = (float)(sig[0] * sig[1] / (sig[1] * sig[1] - sig[0] * sig[0]));
    for (size_t i = 0; i < n; i++) Dc[i] = (G[i] - tmp[i]) * f;
  }
  {
    float *t = G;
    G = tmp;
    tmp = t;
  }
  double sd_c = robust_sigma(Dc, w, h, tmp), sd_n = 0;
  size_t ntested = 0, nlev[96] = {0};
  for (int k = 0; k < K; k++) {
    if (nm_progress_tick(progress, k, K + 2, "darkfield")) goto interrupted;
    float *next = NULL;
    if (k + 1 < K) {
      nm_gauss(I, tmp, w, h, sig[k + 2], tmp);
      float f = (float)(sig[k + 1] * sig[k + 2] / (sig[k + 2] * sig[k + 2] - sig[k + 1] * sig[k + 1]));
      for (size_t i = 0; i < n; i++) Dn[i] = (G[i] - tmp[i]) * f;
      float *t = G;
      G = tmp;
      tmp = t;
      sd_n = robust_sigma(Dn, w, h, tmp);
      next = Dn;
    }
    double thr = o->detect * (sd_c > 1e-4 ? sd_c : 1e-4);
    double thr_sec = o->merged * (sd_c > 1e-4 ? sd_c : 1e-4);
    float r = (float)sqrt(2.0 * sig[k] * sig[k + 1]);
    size_t first = cand.n, first_dark = dark.n, first_sec = sec.n;
    int hs = (int)lround(0.5 * sig[k]);
    if (hs < 1) hs = 1;
    /* blocks of 8 in which no pixel can pass either test are skipped: lo
    ** is the largest float <= thr, so for a float v, v > thr implies v > lo */
    float lo = (float)thr;
    if ((double)lo > thr) lo = nextafterf(lo, -INFINITY);
    const v4f lo4 = {lo, lo, lo, lo};
    const int with_dark = o->fdr > 0;
    for (int y = 1; y < h - 1; y++)
      for (int x0 = 1; x0 < w - 1; x0 += 8) {
        int x1 = x0 + 8 < w - 1 ? x0 + 8 : w - 1;
        if (x1 - x0 == 8) {
          v4f a, b;
          memcpy(&a, Dc + (size_t)y * w + x0, sizeof a);
          memcpy(&b, Dc + (size_t)y * w + x0 + 4, sizeof b);
          v4i hit = (a > lo4) | (b > lo4);
          if (with_dark) hit |= (-a > lo4) | (-b > lo4);
          if (!(hit[0] | hit[1] | hit[2] | hit[3])) continue;
        }
        for (int x = x0; x < x1; x++) {
          size_t i = (size_t)y * w + x;
          if (Dc[i] > thr) {
            if (!is_extremum(Dp, Dc, next, w, i, 1)) {
              /* a maximum in position and over the finer scale that only the
              ** coarser scale beats (a particle seen below the scale where it
              ** is tested, or merged there with a neighbour or a support
              ** lump): tested too when strong (merged x the level's sigma) */
              if (o->merged > 0 && next && Dc[i] > thr_sec && is_extremum(Dp, Dc, NULL, w, i, 1) &&
                  !ridge(Dc, w, h, x, y, hs, o->edge)) {
                blob b = {x, y, r, Dc[i], 0, 0, 0, 0, 0, k};
                if (push_blob(&sec, b)) goto nomem;
              }
              continue;
            }
            if (ridge(Dc, w, h, x, y, hs, o->edge)) continue;
            blob b = {x, y, r, Dc[i], 0, 0, 0, 0, 0, k};
            if (push_blob(&cand, b)) goto nomem;
          } else if (o->fdr > 0 && -Dc[i] > thr && is_extremum(Dp, Dc, next, w, i, -1)) {
            blob b = {x, y, r, -Dc[i], 0, 0, 0, 0, 0, k};
            if (push_blob(&dark, b)) goto nomem;
          }
        }
      }
    ntested += cand.n - first;
    nlev[k] = cand.n - first;
    /* each is one more test of "a particle here" */
    ntested += sec.n - first_sec;
    nlev[k] += sec.n - first_sec;
    score_band(&cand, first, Dc, w, h, 1, o, sd_c, tmp);
    score_band(&dark, first_dark, Dc, w, h, -1, o, sd_c, tmp);
    score_band(&sec, first_sec, Dc, w, h, 1, o, sd_c, tmp);
    /* rotate: prev <- cur <- next */
    float *old = Dp ? Dp : D2;
    Dp = Dc;
    Dc = Dn;
    Dn = old;
    sd_c = sd_n;
  }

  /* 2a. local contrast on a lightly smoothed image (JPEG blocks and pixel
  ** noise would otherwise set the annulus sigma); it does not depend on
  ** the threshold below, which uses the blobs that pass it */
  float *S = D0;
  nm_gauss(I, S, w, h, 1.0, tmp);
  double floor_sd = 1e-3;
  size_t kept = 0;
  for (size_t c = 0; c < cand.n; c++) {
    if ((c & 4095) == 0 && nm_progress_tick(progress, K, K + 2, "darkfield")) goto interrupted;
    if (local_contrast(S, w, h, &cand.v[c], o->kc, floor_sd, o->plane, o->half_q, tmp)) cand.v[kept++] = cand.v[c];
  }
  cand.n = kept;

  /* 2b. many tests: every scale-space maximum is one test of "a particle
  ** here", and the support's texture alone makes a z above t with a tail
  ** that falls exponentially, S0(t) = exp(-tail (t - z0)) / 2 (z0 the
  ** median z of a maximum on bare support). Expecting at most fp of the
  ** ntested maxima to pass on texture alone puts the threshold at
  ** z0 + ln(ntested / (2 fp)) / tail (Bonferroni): higher on a large field
  ** with many maxima, lower on a small one; never under k.
  ** 2c. weighted by scale (two stages): the blobs that pass that threshold
  ** tell the image's particle sizes; the fp expected texture passes are
  ** then shared among the scale levels in proportion to that size
  ** distribution (a kernel density over log radius, mixed with a share
  ** prior of the uniform split), so a level where the particles are gets
  ** a lower threshold and one where only texture is a higher one; the sum
  ** of expected texture passes stays fp. */
  if (o->fp > 0 && o->tail > 0 && ntested > 0) {
    double t = o->z0 + log((double)ntested / (2 * o->fp)) / o->tail;
    double tl[96];
    for (int k = 0; k < K; k++) tl[k] = t;
    if (o->prior < 1) {
      double dens[96] = {0}, dsum = 0;
      size_t nconf = 0;
      for (size_t c = 0; c < cand.n; c++) {
        if (cand.v[c].zd <= t) continue;
        nconf++;
        for (int k = 0; k < K; k++) {
          double u = log(sqrt(2.0 * sig[k] * sig[k + 1]) / cand.v[c].r) / o->prior_bw;
          dens[k] += exp(-0.5 * u * u);
        }
      }
      for (int k = 0; k < K; k++) dsum += dens[k];
      if (nconf >= 5 && dsum > 0)
        for (int k = 0; k < K; k++) {
          if (!nlev[k]) continue;
          double share = (1 - o->prior) * dens[k] / dsum + o->prior * (double)nlev[k] / ntested;
          /* a level with few maxima (the coarse ones) would otherwise get
          ** a threshold at the floor from a small share: its per-test rate
          ** stays within prior_cap times the uniform one */
          if (o->prior_cap > 0 && share > o->prior_cap * (double)nlev[k] / ntested)
            share = o->prior_cap * (double)nlev[k] / ntested;
          tl[k] = o->z0 + log((double)nlev[k] / (2 * o->fp * share)) / o->tail;
        }
    }
    keep_over_level(&cand, tl);
    keep_over_level(&sec, tl);
  }
  /* the maxima only a coarser scale beats take no part in the size
  ** density: their intensity test can wait for the threshold (fewer) */
  kept = 0;
  for (size_t c = 0; c < sec.n; c++)
    if (local_contrast(S, w, h, &sec.v[c], o->kc, floor_sd, o->plane, o->half_q, tmp)) sec.v[kept++] = sec.v[c];
  sec.n = kept;

  /* 2d. the image's own false-detection rate: support texture makes dark
  ** blobs as readily as bright ones, particles only bright ones. The
  ** threshold is the lowest z at which the dark blobs above it are at most
  ** fdr times the bright ones (Benjamini-Hochberg style), never under k. */
  if (o->fdr > 0 && cand.n > 0) {
    float *zb = malloc(cand.n * sizeof(float));
    float *zk = malloc((dark.n + 1) * sizeof(float));
    if (!zb || !zk) {
      free(zb);
      free(zk);
      goto nomem;
    }
    for (size_t c = 0; c < cand.n; c++) zb[c] = cand.v[c].zd;
    for (size_t c = 0; c < dark.n; c++) zk[c] = dark.v[c].zd;
    qsort(zb, cand.n, sizeof(float), by_float_desc);
    if (dark.n > 1) qsort(zk, dark.n, sizeof(float), by_float_desc);
    double t = INFINITY;
    size_t j = 0;
    for (size_t i = 0; i < cand.n; i++) {
      while (j < dark.n && zk[j] >= zb[i]) j++;
      if ((double)j <= o->fdr * (double)(i + 1)) t = zb[i];
    }
    free(zb);
    free(zk);
    if (t > o->kmax) t = o->kmax; /* texture as strong as any particle */
    size_t kept_t = 0;
    for (size_t c = 0; c < cand.n; c++)
      if (cand.v[c].zd >= t) cand.v[kept_t++] = cand.v[c];
    cand.n = kept_t;
  }

  /* 4a. the maxima that only a coarser scale beats come after the full
  ** maxima (strongest first among themselves): where a full maximum's
  ** disc holds one, it is that particle seen at a finer scale */
  size_t nprim = cand.n;
  if (nprim > 1) qsort(cand.v, nprim, sizeof(blob), by_resp);
  if (sec.n > 1) qsort(sec.v, sec.n, sizeof(blob), by_resp);
  for (size_t c = 0; c < sec.n; c++)
    if (push_blob(&cand, sec.v[c])) goto nomem;

  /* 4. one blob per particle: strongest first; a blob whose centre lies in a
  ** kept blob's disc, or whose disc holds a kept centre, is the same particle */
  int32_t *owner = labels; /* disc owners, cleared afterwards */
  uint8_t *centre = NULL;
  roi = nm_calloc(n, 1, err);
  if (!roi) goto nomem;
  centre = roi;
  kept = 0;
  for (size_t c = 0; c < cand.n; c++) {
    blob *b = &cand.v[c];
    size_t i0 = (size_t)b->y * w + b->x;
    if (owner[i0]) continue;
    int ir = (int)ceil(b->r), hit = 0;
    for (int dy = -ir; dy <= ir && !hit; dy++) {
      int y = b->y + dy;
      if (y < 0 || y >= h) continue;
      for (int dx = -ir; dx <= ir; dx++) {
        int x = b->x + dx;
        if (x < 0 || x >= w || dx * dx + dy * dy > b->r * b->r) continue;
        if (centre[(size_t)y * w + x]) {
          hit = 1;
          break;
        }
      }
    }
    if (hit) continue;
    cand.v[kept++] = *b;
    centre[i0] = 1;
    /* the blob radius is the particle's to within the scale step (2^1/3):
    ** its disc is owned with that margin */
    double ro = o->nms * b->r;
    int iro = (int)ceil(ro);
    for (int dy = -iro; dy <= iro; dy++) {
      int y = b->y + dy;
      if (y < 0 || y >= h) continue;
      for (int dx = -iro; dx <= iro; dx++) {
        int x = b->x + dx;
        if (x < 0 || x >= w || dx * dx + dy * dy > ro * ro) continue;
        owner[(size_t)y * w + x] = 1;
      }
    }
  }
  cand.n = kept;
  memset(labels, 0, n * sizeof(int32_t));

  memset(roi, 0, n);
  if (cand.n > INT32_MAX - 1) cand.n = INT32_MAX - 1;

  /* 5. extent: watershed on -S from each centre over the pixels above the
  ** covering blob's own level (over its tilted support), within twice its
  ** radius */
  for (size_t c = 0; c < cand.n; c++) {
    blob *b = &cand.v[c];
    int ir = (int)ceil(2 * b->r + 2);
    for (int dy = -ir; dy <= ir; dy++) {
      int y = b->y + dy;
      if (y < 0 || y >= h) continue;
      for (int dx = -ir; dx <= ir; dx++) {
        int x = b->x + dx;
        if (x < 0 || x >= w || dx * dx + dy * dy > ir * ir) continue;
        size_t i = (size_t)y * w + x;
        if (S[i] >= blob_level(b, x, y, o->level)) roi[i] = 1;
      }
    }
  }
  /* markers: each blob's core (half its radius) above its level, the
  ** stronger blob first; a one-pixel marker would lose its own plateau to
  ** a noise peak of a neighbour's flood */
  for (size_t c = 0; c < cand.n; c++) {
    blob *b = &cand.v[c];
    double rc = o->marker * b->r;
    int irc = (int)ceil(rc);
    for (int dy = -irc; dy <= irc; dy++) {
      int y = b->y + dy;
      if (y < 0 || y >= h) continue;
      for (int dx = -irc; dx <= irc; dx++) {
        int x = b->x + dx;
        if (x < 0 || x >= w || dx * dx + dy * dy > rc * rc) continue;
        size_t i = (size_t)y * w + x;
        if (labels[i] || (S[i] < blob_level(b, x, y, o->level) && (dx || dy))) continue;
        labels[i] = (int32_t)(c + 1);
        roi[i] = 1;
      }
    }
    size_t i0 = (size_t)b->y * w + b->x;
    if (!labels[i0]) labels[i0] = (int32_t)(c + 1), roi[i0] = 1;
  }
  float *cost = D1;
  for (size_t i = 0; i < n; i++) cost[i] = -S[i];
  st = nm_watershed(cost, roi, w, h, labels, progress, err);
  if (st) goto fail;
  /* each particle: its pixels above its own level, connected to its centre */
  queue = nm_malloc(n, sizeof(int32_t), err);
  if (!queue) goto nomem;
  memset(roi, 0, n);
  for (size_t c = 0; c < cand.n; c++) {
    int32_t l = (int32_t)(c + 1);
    size_t qh = 0, qt = 0;
    size_t i0 = (size_t)cand.v[c].y * w + cand.v[c].x;
    if (labels[i0] != l) continue;
    roi[i0] = 1;
    queue[qt++] = (int32_t)i0; /* n <= 2^30 (segment.c's cap) */
    double reach = 0, rmax = o->open * cand.v[c].r + 1;
    while (qh < qt) {
      size_t i = (size_t)queue[qh++];
      int x = (int)(i % w), y = (int)(i / w);
      double ddx = x - cand.v[c].x, ddy = y - cand.v[c].y;
      if (ddx * ddx + ddy * ddy > reach) reach = ddx * ddx + ddy * ddy;
      for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++) {
          int xx = x + dx, yy = y + dy;
          if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
          size_t j = (size_t)yy * w + xx;
          if (roi[j] || labels[j] != l || S[j] < blob_level(&cand.v[c], xx, yy, o->level)) continue;
          roi[j] = 1;
          queue[qt++] = (int32_t)j;
        }
    }
    /* not closed within open x its radius: a support edge or ridge the
    ** level runs along, not a particle */
    if (o->open > 0 && reach > rmax * rmax)
      for (size_t q2 = 0; q2 < qt; q2++) roi[queue[q2]] = 0;
  }
  for (size_t i = 0; i < n; i++)
    if (!roi[i]) labels[i] = 0;
  /* a particle fills about its blob's disc: far less is a noise peak on a
  ** larger particle's plateau or rim, far more a support edge or lump that
  ** the level did not close */
  if (o->amin > 0 || o->amax > 0) {
    int64_t *area = nm_calloc(cand.n + 1, sizeof(int64_t), err);
    if (!area) goto nomem;
    nm_label_areas(labels, n, (int)cand.n, area);
    for (size_t c = 0; c < cand.n; c++) {
      double disc = M_PI * cand.v[c].r * cand.v[c].r;
      double a = (double)area[c + 1];
      area[c + 1] = (o->amin > 0 && a < o->amin * disc) || (o->amax > 0 && a > o->amax * disc);
    }
    for (size_t i = 0; i < n; i++)
      if (labels[i] && area[labels[i]]) labels[i] = 0;
    free(area);
  }
  /* outlines moved out by up to grow px over the particle's soft rim (the
  ** pixels still above support + grow_level (peak - support): a blurred
  ** edge, not a sharp one): each pass gives a background pixel the label
  ** its 4-neighbours (as they were before the pass) agree on */
  /* passes per blob: grow px, or grow_r of its radius if more (a thick
  ** particle's intensity falls towards its edge over a share of its size) */
  int gmax = (int)o->grow;
  for (size_t c = 0; c < cand.n; c++) {
    int gc = (int)(o->grow_r * cand.v[c].r);
    if (gc > gmax) gmax = gc;
  }
  /* only pixels next to the last pass's new ones can change: a frontier
  ** list (F) instead of full-frame passes; the decision for a candidate
  ** pixel reads all four of its neighbours as they were before the pass */
  const float *Sr = S;
  if (gmax > 0 && o->grow_sigma > 0 && o->grow_sigma != 1.0) {
    nm_gauss(I, D1, w, h, o->grow_sigma, tmp);
    Sr = D1;
  }
  if (gmax > 0) {
    int32_t *F = queue, *C = nm_malloc(n, sizeof(int32_t), err);
    int32_t *L = nm_malloc(n, sizeof(int32_t), err);
    if (!C || !L) {
      free(C);
      free(L);
      goto nomem;
    }
    size_t nf = 0;
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        size_t i = (size_t)y * w + x;
        if (labels[i] && ((x > 0 && !labels[i - 1]) || (x < w - 1 && !labels[i + 1]) ||
                          (y > 0 && !labels[i - w]) || (y < h - 1 && !labels[i + w])))
          F[nf++] = (int32_t)i;
      }
    memset(roi, 0, n); /* roi: already a candidate in this pass */
    for (int g = 0; g < gmax && nf > 0; g++) {
      size_t nc = 0;
      for (size_t f = 0; f < nf; f++) {
        size_t p = (size_t)F[f];
        int x = (int)(p % w), y = (int)(p / w);
        const size_t nb[4] = {x > 0 ? p - 1 : p, x < w - 1 ? p + 1 : p, y > 0 ? p - w : p,
                              y < h - 1 ? p + w : p};
        for (int j = 0; j < 4; j++)
          if (!labels[nb[j]] && !roi[nb[j]]) {
            roi[nb[j]] = 1;
            C[nc++] = (int32_t)nb[j];
          }
      }
      for (size_t c = 0; c < nc; c++) {
        size_t i = (size_t)C[c];
        int x = (int)(i % w), y = (int)(i / w);
        int32_t l = 0;
        int clash = 0;
        const size_t nb[4] = {x > 0 ? i - 1 : i, x < w - 1 ? i + 1 : i, y > 0 ? i - w : i,
                              y < h - 1 ? i + w : i};
        for (int j = 0; j < 4; j++) {
          int32_t v = labels[nb[j]];
          if (v && Sr[i] < blob_level(&cand.v[v - 1], x, y, o->grow_level)) v = 0;
          if (v && g >= (int)o->grow && g >= (int)(o->grow_r * cand.v[v - 1].r)) v = 0;
          if (v && l && v != l) clash = 1;
          if (v) l = v;
        }
        L[c] = clash ? 0 : l;
      }
      nf = 0;
      for (size_t c = 0; c < nc; c++) {
        roi[C[c]] = 0;
        if (L[c]) {
          labels[C[c]] = L[c];
          F[nf++] = C[c];
        }
      }
    }
    free(C);
    free(L);
  }
  {
    int32_t *map = nm_malloc(cand.n + 1, sizeof(int32_t), err);
    if (!map) goto nomem;
    int cnt = nm_relabel(labels, n, (int)cand.n, map);
    free(map);
    /* typical size: median equivalent diameter */
    if (cnt > 0) {
      int64_t *area = nm_calloc((size_t)cnt + 1, sizeof(int64_t), err);
      if (!area) goto nomem;
      nm_label_areas(labels, n, cnt, area);
      float *dd = tmp;
      for (int l = 1; l <= cnt; l++) dd[l - 1] = (float)sqrt(4.0 * (double)area[l] / M_PI);
      double med = nm_select_kth(dd, (size_t)cnt, (size_t)cnt / 2);
      free(area);
      if (med > 3) *scale_out = med;
    }
    /* nothing stands out of its surroundings: not sparse particles on a
    ** support (a dense field, where every ring holds particles): declined */
    *count = cnt > 0 ? cnt : -1;
  }
  goto done;

interrupted:
  st = nm_fail(err, NM_ERR_INTERRUPTED, "darkfield: interrupted");
  goto fail;
nomem:
  st = err && err->code ? err->code : NM_ERR_NOMEM;
  if (st == NM_OK) st = NM_ERR_NOMEM;
fail:
  memset(labels, 0, n * sizeof(int32_t));
  *count = 0;
done:
  free(cand.v);
  free(dark.v);
  free(sec.v);
  free(G);
  free(D0);
  free(D1);
  free(D2);
  free(tmp);
  free(roi);
  free(queue);
  return st;
}
