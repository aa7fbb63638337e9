/*
** filter.c — separable image passes. Every 2-D filter here is two 1-D passes
** (rows, then columns) over line buffers taken from the caller's scratch, so
** columns are processed with unit stride and nothing is allocated per call.
*/
#include "filter.h"

#include <math.h>
#include <string.h>

#define HIST_BINS 4096

static int imax(int a, int b) { return a > b ? a : b; }
static int imin(int a, int b) { return a < b ? a : b; }
static int q8(float v) {
  int q = (int)(v * 256.0f);
  return q < 0 ? 0 : q > 255 ? 255 : q;
}

size_t nm_filter_tmp_size(int w, int h) {
  size_t m = (size_t)imax(w, h);
  return 2 * (size_t)w * (size_t)h + 12 * m + 64;
}

float nm_percentile(const float *px, size_t n, double pct) {
  float lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < n; i++) {
    float v = px[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(hi > lo)) return isfinite(lo) ? lo : 0.0f;
  static const int nb = HIST_BINS;
  size_t hist[HIST_BINS];
  memset(hist, 0, sizeof hist);
  double sc = (nb - 1) / ((double)hi - lo);
  size_t cnt = 0;
  for (size_t i = 0; i < n; i++) {
    float v = px[i];
    if (v != v) continue;
    hist[(int)((v - lo) * sc)]++;
    cnt++;
  }
  double target = pct / 100.0 * (double)cnt;
  size_t acc = 0;
  for (int b = 0; b < nb; b++) {
    acc += hist[b];
    if ((double)acc >= target) return (float)(lo + (b + 0.5) / sc);
  }
  return hi;
}

int nm_stretch(const float *in, float *out, size_t n, double lo_pct, double hi_pct) {
  float lo = nm_percentile(in, n, lo_pct), hi = nm_percentile(in, n, hi_pct);
  if (!(hi > lo)) {
    /* percentiles can coincide on a sparse image: fall back to min/max */
    lo = nm_percentile(in, n, 0);
    hi = nm_percentile(in, n, 100);
  }
  if (!(hi > lo)) {
    for (size_t i = 0; i < n; i++) out[i] = 0;
    return 0;
  }
  float sc = 1.0f / (hi - lo);
  for (size_t i = 0; i < n; i++) {
    float v = (in[i] - lo) * sc;
    out[i] = v < 0 ? 0 : v > 1 ? 1 : v != v ? 0 : v;
  }
  return 1;
}

/* ---- 1-D line kernels: src has r replicated pixels of padding each side ---- */

typedef void (*line_fn)(const float *src, float *dst, int n, int r, void *arg);

/* Blocked transpose of the w x h image src into the h x w image dst. */
static void transpose(const float *src, float *dst, int w, int h) {
  enum { B = 32 };
  for (int y0 = 0; y0 < h; y0 += B)
    for (int x0 = 0; x0 < w; x0 += B) {
      int y1 = imin(y0 + B, h), x1 = imin(x0 + B, w);
      for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) dst[(size_t)x * h + y] = src[(size_t)y * w + x];
    }
}

static void rows_pass(float *img, int w, int h, int r, line_fn fn, void *arg, float *lb) {
  int m = imax(w, h);
  float *src = lb, *dst = lb + (m + 2 * r + 2);
  for (int y = 0; y < h; y++) {
    float *row = img + (size_t)y * w;
    for (int i = 0; i < r; i++) src[i] = row[0];
    memcpy(src + r, row, sizeof(float) * (size_t)w);
    for (int i = 0; i < r; i++) src[r + w + i] = row[w - 1];
    fn(src, dst, w, r, arg);
    memcpy(row, dst, sizeof(float) * (size_t)w);
  }
}

/* Runs fn over every row then every column. Columns are done as rows of the
** transposed image (tr: w*h floats), which keeps every pass at unit stride.
** Line buffers come from lb (room for 10 * max(w,h) + 5 floats). */
static void separable(const float *in, float *out, int w, int h, int r,
                      line_fn fn, void *arg, float *lb, float *tr) {
  if (in != out) memcpy(out, in, sizeof(float) * (size_t)w * (size_t)h);
  rows_pass(out, w, h, r, fn, arg, lb);
  transpose(out, tr, w, h);
  rows_pass(tr, h, w, r, fn, arg, lb);
  transpose(tr, out, h, w);
}

static void line_box(const float *src, float *dst, int n, int r, void *arg) {
  (void)arg;
  double s = 0;
  int k = 2 * r + 1;
  for (int i = 0; i < k; i++) s += src[i];
  float inv = 1.0f / (float)k;
  for (int i = 0; i < n; i++) {
    dst[i] = (float)s * inv;
    if (i + 1 < n) s += src[i + k] - src[i];
  }
}

/* Box mean of radius r along columns into dst (w x h), row by row with one
** running sum per column: unit stride, no transpose. Borders replicate.
** acc: w doubles (taken from the line buffers). */
static void box_cols(const float *src, float *dst, int w, int h, int r, double *acc) {
  float inv = 1.0f / (float)(2 * r + 1);
  for (int x = 0; x < w; x++) acc[x] = 0;
  for (int j = -r; j <= r; j++) {
    const float *row = src + (size_t)imin(imax(j, 0), h - 1) * w;
    for (int x = 0; x < w; x++) acc[x] += row[x];
  }
  for (int y = 0; y < h; y++) {
    float *o = dst + (size_t)y * w;
    for (int x = 0; x < w; x++) o[x] = (float)acc[x] * inv;
    if (y + 1 < h) {
      const float *add = src + (size_t)imin(y + r + 1, h - 1) * w;
      const float *sub = src + (size_t)imax(y - r, 0) * w;
      for (int x = 0; x < w; x++) acc[x] += add[x] - sub[x];
    }
  }
}

/* 2-D box mean: rows in place in out, then columns through tr back to out. */
static void box2d(const float *in, float *out, int w, int h, int r, float *lb, float *tr) {
  if (in != out) memcpy(out, in, sizeof(float) * (size_t)w * (size_t)h);
  rows_pass(out, w, h, r, line_box, NULL, lb);
  box_cols(out, tr, w, h, r, (double *)(void *)lb);
  memcpy(out, tr, sizeof(float) * (size_t)w * (size_t)h);
}

static void line_kernel(const float *src, float *dst, int n, int r, void *arg) {
  const float *kern = arg; /* 2r+1 taps */
  for (int i = 0; i < n; i++) {
    const float *p = src + i;
    float s = 0;
    for (int j = 0; j <= 2 * r; j++) s += p[j] * kern[j];
    dst[i] = s;
  }
}

/* van Herk / Gil-Werman: block prefix and suffix extrema, 3 comparisons per
** sample whatever the window. */
static void line_minmax(const float *src, float *dst, int n, int r, void *arg) {
  int is_max = *(const int *)arg;
  int k = 2 * r + 1, len = n + 2 * r;
  float *g = dst + n + 1; /* dst area has room: see separable() sizing */
  float *hh = g + len + 1;
  for (int i = 0; i < len; i++) {
    if (i % k == 0) g[i] = src[i];
    else g[i] = is_max ? (g[i - 1] > src[i] ? g[i - 1] : src[i]) : (g[i - 1] < src[i] ? g[i - 1] : src[i]);
  }
  for (int i = len - 1; i >= 0; i--) {
    if (i == len - 1 || (i + 1) % k == 0) hh[i] = src[i];
    else hh[i] = is_max ? (hh[i + 1] > src[i] ? hh[i + 1] : src[i]) : (hh[i + 1] < src[i] ? hh[i + 1] : src[i]);
  }
  for (int i = 0; i < n; i++) {
    float a = hh[i], b = g[i + k - 1];
    dst[i] = is_max ? (a > b ? a : b) : (a < b ? a : b);
  }
}

void nm_box_mean(const float *in, float *out, int w, int h, int r, float *tmp) {
  r = imin(imax(r, 0), imax(w, h));
  float *lb = tmp + 2 * (size_t)w * h;
  box2d(in, out, w, h, r, lb, tmp + (size_t)w * h);
}

void nm_minmax(const float *in, float *out, int w, int h, int r, int is_max, float *tmp) {
  r = imin(imax(r, 0), imax(w, h));
  /* line_minmax needs dst + two arrays of n+2r: the line area is 12*max(w,h) */
  float *lb = tmp + 2 * (size_t)w * h;
  separable(in, out, w, h, r, line_minmax, &is_max, lb, tmp + (size_t)w * h);
}

void nm_open(const float *in, float *out, int w, int h, int r, float *tmp) {
  nm_minmax(in, out, w, h, r, 0, tmp);
  nm_minmax(out, out, w, h, r, 1, tmp);
}

void nm_close(const float *in, float *out, int w, int h, int r, float *tmp) {
  nm_minmax(in, out, w, h, r, 1, tmp);
  nm_minmax(out, out, w, h, r, 0, tmp);
}

void nm_gauss(const float *in, float *out, int w, int h, double sigma, float *tmp) {
  size_t n = (size_t)w * h;
  float *lb = tmp + 2 * n, *tr = tmp + n;
  if (!(sigma > 0)) {
    if (in != out) memcpy(out, in, sizeof(float) * n);
    return;
  }
  if (sigma < 2.0) {
    int r = (int)ceil(3.0 * sigma);
    float kern[16];
    double s = 0;
    for (int j = -r; j <= r; j++) s += kern[j + r] = (float)exp(-0.5 * j * j / (sigma * sigma));
    for (int j = 0; j <= 2 * r; j++) kern[j] = (float)(kern[j] / s);
    separable(in, out, w, h, r, line_kernel, kern, lb, tr);
    return;
  }
  /* Three box passes whose combined variance equals sigma^2 (box widths
  ** wl and wl+2 mixed so the variance is exact). */
  const int nb = 3;
  double wi = sqrt(12.0 * sigma * sigma / nb + 1.0);
  int wl = (int)floor(wi);
  if (wl % 2 == 0) wl--;
  int wu = wl + 2;
  double mi = (12.0 * sigma * sigma - nb * wl * wl - 4.0 * nb * wl - 3.0 * nb) / (-4.0 * wl - 4.0);
  int m = (int)lround(mi);
  const float *src = in;
  for (int i = 0; i < nb; i++) {
    int r = ((i < m ? wl : wu) - 1) / 2;
    r = imin(r, imax(w, h));
    box2d(src, out, w, h, r, lb, tr);
    src = out;
  }
}

void nm_median(const float *in, float *out, int w, int h, int r) {
  if (r <= 0) {
    memcpy(out, in, sizeof(float) * (size_t)w * h);
    return;
  }
  int hist[256];
  int k = 2 * r + 1, half = (k * k) / 2;
#define Q(x, y) q8(in[(size_t)imin(imax(y, 0), h - 1) * w + imin(imax(x, 0), w - 1)])
  for (int y = 0; y < h; y++) {
    memset(hist, 0, sizeof hist);
    for (int dy = -r; dy <= r; dy++)
      for (int dx = -r; dx <= r; dx++) hist[Q(dx, y + dy)]++;
    for (int x = 0; x < w; x++) {
      if (x > 0) {
        for (int dy = -r; dy <= r; dy++) {
          hist[Q(x - r - 1, y + dy)]--;
          hist[Q(x + r, y + dy)]++;
        }
      }
      int acc = 0, b = 0;
      for (; b < 255; b++) {
        acc += hist[b];
        if (acc > half) break;
      }
      out[(size_t)y * w + x] = (b + 0.5f) / 256.0f;
    }
  }
#undef Q
}

void nm_downsample(const float *in, int w, int h, int f, float *out) {
  int sw = (w + f - 1) / f, sh = (h + f - 1) / f;
  for (int sy = 0; sy < sh; sy++)
    for (int sx = 0; sx < sw; sx++) {
      double s = 0;
      int c = 0;
      for (int y = sy * f; y < imin(h, sy * f + f); y++)
        for (int x = sx * f; x < imin(w, sx * f + f); x++) {
          s += in[(size_t)y * w + x];
          c++;
        }
      out[(size_t)sy * sw + sx] = (float)(s / c);
    }
}

void nm_upsample(const float *in, int sw, int sh, int f, float *out, int w, int h) {
  for (int y = 0; y < h; y++) {
    double fy = (y + 0.5) / f - 0.5;
    if (fy < 0) fy = 0;
    if (fy > sh - 1) fy = sh - 1;
    int y0 = (int)fy, y1 = imin(y0 + 1, sh - 1);
    float ty = (float)(fy - y0);
    for (int x = 0; x < w; x++) {
      double fx = (x + 0.5) / f - 0.5;
      if (fx < 0) fx = 0;
      if (fx > sw - 1) fx = sw - 1;
      int x0 = (int)fx, x1 = imin(x0 + 1, sw - 1);
      float tx = (float)(fx - x0);
      float a = in[(size_t)y0 * sw + x0] * (1 - tx) + in[(size_t)y0 * sw + x1] * tx;
      float b = in[(size_t)y1 * sw + x0] * (1 - tx) + in[(size_t)y1 * sw + x1] * tx;
      out[(size_t)y * w + x] = a * (1 - ty) + b * ty;
    }
  }
}
