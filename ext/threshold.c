/* threshold.c — Otsu on histograms and a local mean threshold. */
#include "threshold.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "parallel.h"

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

/* Otsu's passes over slices of the pixels (parallel.h): the range of each
** slice, then four interleaved integer histograms per slice (consecutive
** equal pixels do not wait on one counter). Minima, maxima and counts are
** exact, so the merged result does not depend on the slicing. */
enum { NB = 1024 };
typedef struct otsu_job {
  const float *px;
  const uint8_t *mask;
  int n;
  float lo, hi, slo[64], shi[64];
  double sc;
  uint32_t *h4; /* 4 * NB per slice */
} otsu_job;

static void otsu_range(void *arg, int t, int nt) {
  otsu_job *J = arg;
  int i0, i1;
  nm_slice(J->n, t, nt, 64, &i0, &i1);
  float lo = INFINITY, hi = -INFINITY;
  const float *px = J->px;
  const uint8_t *mask = J->mask;
  /* without a mask, four lanes at a time: the same values; a zero extreme
  ** may come back with the other sign, which changes nothing below (lo
  ** only enters as v - lo, truncated to a bin, and lo + a positive step) */
  if (!mask) {
    nm_range(px + i0, (size_t)(i1 - i0), &J->slo[t], &J->shi[t]);
    return;
  }
  for (int i = i0; i < i1; i++) {
    if (mask && !mask[i]) continue;
    if (px[i] < lo) lo = px[i];
    if (px[i] > hi) hi = px[i];
  }
  J->slo[t] = lo;
  J->shi[t] = hi;
}

static void otsu_hist(void *arg, int t, int nt) {
  otsu_job *J = arg;
  int i0, i1;
  nm_slice(J->n, t, nt, 64, &i0, &i1);
  uint32_t *h4 = J->h4 + (size_t)t * 4 * NB;
  const float *px = J->px;
  const uint8_t *mask = J->mask;
  float lo = J->lo;
  double sc = J->sc;
  int i = i0;
  if (!mask) {
    for (; i + 4 <= i1; i += 4) {
      h4[(int)((px[i] - lo) * sc)]++;
      h4[NB + (int)((px[i + 1] - lo) * sc)]++;
      h4[2 * NB + (int)((px[i + 2] - lo) * sc)]++;
      h4[3 * NB + (int)((px[i + 3] - lo) * sc)]++;
    }
  }
  for (; i < i1; i++) {
    if (mask && !mask[i]) continue;
    h4[(int)((px[i] - lo) * sc)]++;
  }
}

double nm_otsu(const float *px, size_t n, const uint8_t *mask) {
  float lo = INFINITY, hi = -INFINITY;
  double hist[NB];
  int nt = n <= (size_t)INT32_MAX ? nm_threads_for(n) : 1;
  if (nt > 64) nt = 64;
  uint32_t *h4 = NULL;
  if (n < ((size_t)1 << 32) && n <= (size_t)INT32_MAX) {
    h4 = calloc((size_t)nt * 4 * NB, sizeof(uint32_t));
    if (!h4 && nt > 1) {
      nt = 1;
      h4 = calloc(4 * NB, sizeof(uint32_t));
    }
  }
  if (h4) {
    otsu_job J = {px, mask, (int)n, 0, 0, {0}, {0}, 0, h4};
    nm_parallel(nt, otsu_range, &J);
    for (int t = 0; t < nt; t++) {
      if (J.slo[t] < lo) lo = J.slo[t];
      if (J.shi[t] > hi) hi = J.shi[t];
    }
    if (!(hi > lo)) {
      free(h4);
      return NAN;
    }
    J.lo = lo;
    J.hi = hi;
    J.sc = (NB - 1) / ((double)hi - lo);
    nm_parallel(nt, otsu_hist, &J);
    for (int b = 0; b < NB; b++) {
      uint64_t c = 0;
      for (int t = 0; t < nt; t++) {
        const uint32_t *s = h4 + (size_t)t * 4 * NB;
        c += (uint64_t)s[b] + s[NB + b] + s[2 * NB + b] + s[3 * NB + b];
      }
      hist[b] = (double)c;
    }
    free(h4);
  } else {
    for (size_t i = 0; i < n; i++) {
      if (mask && !mask[i]) continue;
      if (px[i] < lo) lo = px[i];
      if (px[i] > hi) hi = px[i];
    }
    if (!(hi > lo)) return NAN;
    memset(hist, 0, sizeof hist);
    double sc = (NB - 1) / ((double)hi - lo);
    for (size_t i = 0; i < n; i++) {
      if (mask && !mask[i]) continue;
      hist[(int)((px[i] - lo) * sc)]++;
    }
  }
  double sc = (NB - 1) / ((double)hi - lo);
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

double nm_class_contrast(const float *px, size_t n, double t) {
  double s0 = 0, s1 = 0;
  size_t n0 = 0, n1 = 0;
  for (size_t i = 0; i < n; i++)
    if (px[i] > t) s1 += px[i], n1++;
    else s0 += px[i], n0++;
  return n0 && n1 ? s1 / n1 - s0 / n0 : 0;
}
