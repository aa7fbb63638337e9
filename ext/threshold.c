/* threshold.c — Otsu on histograms and a local mean threshold. */
#include "threshold.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

int nm_otsu_hist(const double *hist, int nbins) {
  double total = 0, sum = 0;
  int occupied = 0;
  for (int i = 0; i < nbins; i++) {
    total += hist[i];
    sum += (double)i * hist[i];
    if (hist[i] > 0) occupied++;
  }
  if (occupied < 2 || total <= 0) return -1;
  double w0 = 0, s0 = 0, best = -1;
  int bt = -1, bt_end = -1;
  for (int t = 0; t < nbins - 1; t++) {
    w0 += hist[t];
    s0 += (double)t * hist[t];
    double w1 = total - w0;
    if (w0 <= 0 || w1 <= 0) continue;
    double m0 = s0 / w0, m1 = (sum - s0) / w1;
    double v = w0 * w1 * (m0 - m1) * (m0 - m1);
    if (v > best * (1 + 1e-12)) {
      best = v;
      bt = bt_end = t;
    } else if (v >= best * (1 - 1e-12)) {
      bt_end = t; /* a flat optimum (empty bins between modes): take its middle */
    }
  }
  return (bt + bt_end) / 2;
}

double nm_otsu(const float *px, size_t n, const uint8_t *mask) {
  enum { NB = 1024 };
  float lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < n; i++) {
    if (mask && !mask[i]) continue;
    if (px[i] < lo) lo = px[i];
    if (px[i] > hi) hi = px[i];
  }
  if (!(hi > lo)) return NAN;
  double hist[NB];
  double sc = (NB - 1) / ((double)hi - lo);
  /* four interleaved integer histograms: consecutive equal pixels do not
  ** wait on one counter; the counts (exact) are summed afterwards */
  static_assert(NB % 4 == 0, "NB");
  uint32_t *h4 = calloc(4 * NB, sizeof(uint32_t));
  if (h4 && n < ((size_t)1 << 32)) {
    size_t i = 0;
    if (!mask) {
      for (; i + 4 <= n; i += 4) {
        h4[(int)((px[i] - lo) * sc)]++;
        h4[NB + (int)((px[i + 1] - lo) * sc)]++;
        h4[2 * NB + (int)((px[i + 2] - lo) * sc)]++;
        h4[3 * NB + (int)((px[i + 3] - lo) * sc)]++;
      }
    }
    for (; i < n; i++) {
      if (mask && !mask[i]) continue;
      h4[(int)((px[i] - lo) * sc)]++;
    }
    for (int b = 0; b < NB; b++)
      hist[b] = (double)((uint64_t)h4[b] + h4[NB + b] + h4[2 * NB + b] + h4[3 * NB + b]);
  } else {
    memset(hist, 0, sizeof hist);
    for (size_t i = 0; i < n; i++) {
      if (mask && !mask[i]) continue;
      hist[(int)((px[i] - lo) * sc)]++;
    }
  }
  free(h4);
  int t = nm_otsu_hist(hist, NB);
  if (t < 0) return NAN;
  return lo + (t + 1) / sc - 0.5 / sc;
}

void nm_threshold_local(const float *px, int w, int h, int r, float offset,
                        uint8_t *out, float *tmp) {
  size_t n = (size_t)w * h;
  /* the filters keep their line buffers after tmp + w*h: the mean fits before */
  float *mean = tmp;
  nm_box_mean(px, mean, w, h, r, tmp);
  for (size_t i = 0; i < n; i++) out[i] = px[i] > mean[i] + offset;
}
