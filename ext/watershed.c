/* watershed.c — reconstruction, h-maxima and the hierarchical-queue flood. */
#include "watershed.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "label.h"

static const int DX[8] = {-1, 0, 1, -1, 1, -1, 0, 1};
static const int DY[8] = {-1, -1, -1, 0, 0, 1, 1, 1};

nm_status nm_reconstruct(float *J, const float *I, int w, int h, nm_error *err) {
  size_t n = (size_t)w * h;
  int32_t *q = nm_malloc(n, sizeof(int32_t), err);
  uint8_t *inq = nm_calloc(n, 1, err);
  if (!q || !inq) {
    free(q);
    free(inq);
    return err ? err->code : NM_ERR_NOMEM;
  }
  /* forward scan: causal neighbours are the first four of DX/DY */
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      size_t p = (size_t)y * w + x;
      float m = J[p];
      for (int k = 0; k < 4; k++) {
        int xx = x + DX[k], yy = y + DY[k];
        if (xx < 0 || xx >= w || yy < 0) continue;
        float v = J[(size_t)yy * w + xx];
        if (v > m) m = v;
      }
      J[p] = m < I[p] ? m : I[p];
    }
  size_t head = 0, tail = 0, len = 0;
  for (int y = h - 1; y >= 0; y--)
    for (int x = w - 1; x >= 0; x--) {
      size_t p = (size_t)y * w + x;
      float m = J[p];
      for (int k = 4; k < 8; k++) {
        int xx = x + DX[k], yy = y + DY[k];
        if (xx < 0 || xx >= w || yy >= h) continue;
        float v = J[(size_t)yy * w + xx];
        if (v > m) m = v;
      }
      J[p] = m < I[p] ? m : I[p];
      for (int k = 4; k < 8; k++) {
        int xx = x + DX[k], yy = y + DY[k];
        if (xx < 0 || xx >= w || yy >= h) continue;
        size_t qq = (size_t)yy * w + xx;
        if (J[qq] < J[p] && J[qq] < I[qq] && !inq[p]) {
          inq[p] = 1;
          q[tail] = (int32_t)p;
          tail = (tail + 1) % n;
          len++;
        }
      }
    }
  while (len) {
    size_t p = (size_t)q[head];
    head = (head + 1) % n;
    len--;
    inq[p] = 0;
    int x = (int)(p % w), y = (int)(p / w);
    for (int k = 0; k < 8; k++) {
      int xx = x + DX[k], yy = y + DY[k];
      if (xx < 0 || xx >= w || yy < 0 || yy >= h) continue;
      size_t qq = (size_t)yy * w + xx;
      if (J[qq] < J[p] && I[qq] != J[qq]) {
        J[qq] = J[p] < I[qq] ? J[p] : I[qq];
        if (!inq[qq]) {
          inq[qq] = 1;
          q[tail] = (int32_t)qq;
          tail = (tail + 1) % n;
          len++;
        }
      }
    }
  }
  free(q);
  free(inq);
  return NM_OK;
}

nm_status nm_hmax_markers(const float *f, const uint8_t *roi, int w, int h,
                          double hval, int32_t *markers, int *count, nm_error *err) {
  size_t n = (size_t)w * h;
  float *J = nm_malloc(n, sizeof(float), err);
  float *I = nm_malloc(n, sizeof(float), err);
  uint8_t *m = nm_malloc(n, 1, err);
  nm_status st = NM_OK;
  if (!J || !I || !m) {
    st = err ? err->code : NM_ERR_NOMEM;
    goto done;
  }
  /* outside the roi the image is pinned at a floor below everything so that
  ** maxima of separate components never see each other */
  float lo = INFINITY;
  for (size_t i = 0; i < n; i++)
    if ((!roi || roi[i]) && f[i] < lo) lo = f[i];
  if (!isfinite(lo)) lo = 0;
  float floor_v = lo - (float)hval - 1.0f;
  for (size_t i = 0; i < n; i++) {
    I[i] = (!roi || roi[i]) ? f[i] : floor_v;
    J[i] = I[i] - (float)hval;
  }
  st = nm_reconstruct(J, I, w, h, err);
  if (st) goto done;
  float eps = (float)(hval * 1e-3 + 1e-6);
  for (size_t i = 0; i < n; i++) m[i] = (!roi || roi[i]) && I[i] - J[i] >= (float)hval - eps;
  st = nm_label(m, w, h, 1, markers, count, err);
done:
  free(J);
  free(I);
  free(m);
  return st;
}

#define NLEV 4096

nm_status nm_watershed(const float *cost, const uint8_t *roi, int w, int h,
                       int32_t *labels, const nm_progress *progress, nm_error *err) {
  size_t n = (size_t)w * h;
  float lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < n; i++) {
    if (roi && !roi[i]) continue;
    if (cost[i] < lo) lo = cost[i];
    if (cost[i] > hi) hi = cost[i];
  }
  if (!isfinite(lo)) return NM_OK; /* empty roi */
  double sc = hi > lo ? (NLEV - 1) / ((double)hi - lo) : 0;
  int32_t *next = nm_malloc(n, sizeof(int32_t), err);
  int32_t *headv = nm_malloc(NLEV, sizeof(int32_t), err);
  int32_t *tailv = nm_malloc(NLEV, sizeof(int32_t), err);
  if (!next || !headv || !tailv) {
    free(next);
    free(headv);
    free(tailv);
    return err ? err->code : NM_ERR_NOMEM;
  }
  for (int i = 0; i < NLEV; i++) headv[i] = tailv[i] = -1;
#define LEVEL(i) ((int)(((double)cost[i] - lo) * sc))
#define PUSH(lev, i)                                   \
  do {                                                 \
    int l_ = (lev);                                    \
    next[i] = -1;                                      \
    if (tailv[l_] < 0) headv[l_] = (int32_t)(i);       \
    else next[tailv[l_]] = (int32_t)(i);               \
    tailv[l_] = (int32_t)(i);                          \
  } while (0)
  for (size_t i = 0; i < n; i++)
    if (labels[i] > 0 && (!roi || roi[i])) PUSH(LEVEL(i), i);
  size_t done = 0;
  for (int lev = 0; lev < NLEV; lev++) {
    while (headv[lev] >= 0) {
      int32_t p = headv[lev];
      headv[lev] = next[p];
      if (headv[lev] < 0) tailv[lev] = -1;
      if ((++done & 0xFFFFF) == 0 &&
          nm_progress_tick(progress, (double)done, (double)n, "watershed")) {
        free(next);
        free(headv);
        free(tailv);
        return nm_fail(err, NM_ERR_INTERRUPTED, "watershed: interrupted");
      }
      int x = p % w, y = p / w;
      for (int k = 0; k < 8; k++) {
        int xx = x + DX[k], yy = y + DY[k];
        if (xx < 0 || xx >= w || yy < 0 || yy >= h) continue;
        size_t q = (size_t)yy * w + xx;
        if (labels[q] != 0 || (roi && !roi[q])) continue;
        labels[q] = labels[p];
        int lq = LEVEL(q);
        PUSH(lq < lev ? lev : lq, q);
      }
    }
  }
#undef LEVEL
#undef PUSH
  free(next);
  free(headv);
  free(tailv);
  return NM_OK;
}
