/*
** morph.c — exact EDT and what is built on it, hole filling.
**
** The EDT is separable: a 1-D squared-distance pass down every column, then
** for every row the lower envelope of the parabolas (x - q)^2 + f(q)
** (Felzenszwalb & Huttenlocher 2012). Both passes are O(n) per line.
*/
#include "morph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BIG 1e20

/* 1-D squared EDT of f[0..n) into d; v, z scratch of n and n+1. Infinite
** samples are BIG: their parabolas lose every comparison, so the standard
** recurrence needs no special case. */
static void edt_1d(const double *f, double *d, int n, int *v, double *z) {
  int k = 0;
  v[0] = 0;
  z[0] = -BIG;
  z[1] = BIG;
  for (int q = 1; q < n; q++) {
    double s;
    for (;;) {
      s = ((f[q] + (double)q * q) - (f[v[k]] + (double)v[k] * v[k])) /
          (2.0 * (q - v[k]));
      if (s <= z[k] && k > 0) {
        k--;
        continue;
      }
      break;
    }
    if (s <= z[k]) { /* k == 0: q replaces the first parabola */
      v[0] = q;
      z[0] = -BIG;
      z[1] = BIG;
      continue;
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = BIG;
  }
  k = 0;
  for (int q = 0; q < n; q++) {
    while (z[k + 1] < q) k++;
    double dq = q - v[k];
    d[q] = dq * dq + f[v[k]];
  }
}

nm_status nm_edt_sq(const uint8_t *mask, int w, int h, int invert, float *dist2,
                    nm_error *err) {
  int m = w > h ? w : h;
  double *buf = nm_malloc((size_t)3 * m + 2, sizeof(double), err);
  int *v = nm_malloc((size_t)m + 1, sizeof(int), err);
  if (!buf || !v) {
    free(buf);
    free(v);
    return err ? err->code : NM_ERR_NOMEM;
  }
  double *f = buf, *d = buf + m, *z = buf + 2 * m;
  size_t n = (size_t)w * h;
  for (int x = 0; x < w; x++) {
    for (int y = 0; y < h; y++) {
      uint8_t mv = mask[(size_t)y * w + x];
      int target = invert ? mv != 0 : mv == 0;
      f[y] = target ? 0.0 : BIG;
    }
    edt_1d(f, d, h, v, z);
    for (int y = 0; y < h; y++) dist2[(size_t)y * w + x] = (float)(d[y] < BIG / 2 ? d[y] : BIG);
  }
  for (int y = 0; y < h; y++) {
    float *row = dist2 + (size_t)y * w;
    for (int x = 0; x < w; x++) f[x] = row[x] >= (float)(BIG / 2) ? BIG : row[x];
    edt_1d(f, d, w, v, z);
    for (int x = 0; x < w; x++) row[x] = (float)(d[x] < BIG / 2 ? d[x] : BIG);
  }
  float cap = (float)(w + h) * (float)(w + h);
  for (size_t i = 0; i < n; i++)
    if (dist2[i] > cap) dist2[i] = cap;
  free(buf);
  free(v);
  return NM_OK;
}

nm_status nm_edt(const uint8_t *mask, int w, int h, int invert, float *dist,
                 nm_error *err) {
  nm_status st = nm_edt_sq(mask, w, h, invert, dist, err);
  if (st) return st;
  size_t n = (size_t)w * h;
  for (size_t i = 0; i < n; i++) dist[i] = sqrtf(dist[i]);
  return NM_OK;
}

nm_status nm_erode_disc(const uint8_t *in, uint8_t *out, int w, int h, double r,
                        float *dist2, nm_error *err) {
  nm_status st = nm_edt_sq(in, w, h, 0, dist2, err);
  if (st) return st;
  size_t n = (size_t)w * h;
  float r2 = (float)(r * r);
  /* a pixel survives when the whole disc of radius r around it is inside */
  for (size_t i = 0; i < n; i++) out[i] = in[i] && dist2[i] > r2;
  return NM_OK;
}

nm_status nm_dilate_disc(const uint8_t *in, uint8_t *out, int w, int h, double r,
                         float *dist2, nm_error *err) {
  nm_status st = nm_edt_sq(in, w, h, 1, dist2, err);
  if (st) return st;
  size_t n = (size_t)w * h;
  float r2 = (float)(r * r);
  for (size_t i = 0; i < n; i++) out[i] = in[i] || dist2[i] <= r2;
  return NM_OK;
}

void nm_fill_holes(uint8_t *mask, int w, int h, int32_t *queue) {
  size_t n = (size_t)w * h;
  /* mark border-reachable background as 2 with a BFS, then fill the rest */
  size_t head = 0, tail = 0;
#define SEED(i)                      \
  do {                               \
    size_t i_ = (i);                 \
    if (mask[i_] == 0) {             \
      mask[i_] = 2;                  \
      queue[tail++] = (int32_t)i_;   \
    }                                \
  } while (0)
  for (int x = 0; x < w; x++) {
    SEED((size_t)x);
    SEED((size_t)(h - 1) * w + x);
  }
  for (int y = 0; y < h; y++) {
    SEED((size_t)y * w);
    SEED((size_t)y * w + w - 1);
  }
  while (head < tail) {
    size_t i = (size_t)queue[head++];
    int x = (int)(i % w), y = (int)(i / w);
    if (x > 0) SEED(i - 1);
    if (x < w - 1) SEED(i + 1);
    if (y > 0) SEED(i - w);
    if (y < h - 1) SEED(i + w);
  }
#undef SEED
  for (size_t i = 0; i < n; i++) mask[i] = mask[i] != 2;
}
