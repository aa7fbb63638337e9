/* watershed.c — reconstruction, h-maxima and the hierarchical-queue flood. */
#include "watershed.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "label.h"

static const int DX[8] = {-1, 0, 1, -1, 1, -1, 0, 1};
static const int DY[8] = {-1, -1, -1, 0, 0, 1, 1, 1};

/* Neighbour offsets in the order of DX/DY, for pixels off the border. */
static void offsets8(int w, ptrdiff_t off[8]) {
  for (int k = 0; k < 8; k++) off[k] = (ptrdiff_t)DY[k] * w + DX[k];
}

nm_status nm_reconstruct(float *J, const float *I, int w, int h, nm_error *err) {
  size_t n = (size_t)w * h;
  int32_t *q = nm_malloc(n, sizeof(int32_t), err);
  uint8_t *inq = nm_calloc(n, 1, err);
  if (!q || !inq) {
    free(q);
    free(inq);
    return err ? err->code : NM_ERR_NOMEM;
  }
  ptrdiff_t off[8];
  offsets8(w, off);
  double invw = 1.0 / (double)w;
  /* forward scan: causal neighbours are the first four of DX/DY. Off the
  ** border, the three above (k = 0..2) do not depend on this row: their
  ** maximum with J[p] is taken for the whole row first (no dependency
  ** between pixels), then the left neighbour (k = 3) in a serial pass,
  ** which is the comparison order of the per-pixel loop. */
  float *t = nm_malloc((size_t)w, sizeof(float), err);
  if (!t) {
    free(q);
    free(inq);
    return err ? err->code : NM_ERR_NOMEM;
  }
  for (int y = 0; y < h; y++) {
    int fast = y > 0 && w >= 3;
    for (int x = 0; x < w; x++) {
      if (fast && x == 1) {
        float *row = J + (size_t)y * w;
        const float *up = row - w, *irow = I + (size_t)y * w;
        for (int xx = 1; xx < w - 1; xx++) {
          float m = row[xx];
          if (up[xx - 1] > m) m = up[xx - 1];
          if (up[xx] > m) m = up[xx];
          if (up[xx + 1] > m) m = up[xx + 1];
          t[xx] = m;
        }
        for (int xx = 1; xx < w - 1; xx++) {
          float m = t[xx];
          if (row[xx - 1] > m) m = row[xx - 1];
          row[xx] = m < irow[xx] ? m : irow[xx];
        }
        x = w - 2;
        continue;
      }
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
  }
  size_t head = 0, tail = 0, len = 0;
#define QPUSH(p_)                \
  do {                           \
    q[tail] = (int32_t)(p_);     \
    if (++tail == n) tail = 0;   \
    len++;                       \
  } while (0)
  /* backward scan: causal neighbours are the last four of DX/DY, compared in
  ** that order. Off the border the three below (k = 5..7) are final: their
  ** running maximum (from -inf, so that a NaN among them is skipped as the
  ** serial loop skips it) is taken for the whole row first, then the right
  ** neighbour (k = 4) in a serial pass, then that maximum if greater: the
  ** same value, sign of zero included, as the serial comparisons (the first
  ** sample of the largest value wins either way). Whether a pixel is queued
  ** depends only on final values, so it is decided for the whole row after
  ** the row is done; pixels are queued in the scan order as before. */
  uint8_t *fl = nm_malloc((size_t)w, 1, err);
  if (!fl) {
    free(t);
    free(q);
    free(inq);
    return err ? err->code : NM_ERR_NOMEM;
  }
  for (int y = h - 1; y >= 0; y--) {
    int fast = y < h - 1 && w >= 3;
    for (int x = w - 1; x >= 0; x--) {
      if (fast && x == w - 2) {
        float *row = J + (size_t)y * w;
        const float *dn = row + w, *irow = I + (size_t)y * w, *idn = irow + w;
        for (int xx = 1; xx < w - 1; xx++) {
          float m = -INFINITY;
          if (dn[xx - 1] > m) m = dn[xx - 1];
          if (dn[xx] > m) m = dn[xx];
          if (dn[xx + 1] > m) m = dn[xx + 1];
          t[xx] = m;
        }
        for (int xx = w - 2; xx >= 1; xx--) {
          float m = row[xx];
          if (row[xx + 1] > m) m = row[xx + 1];
          if (t[xx] > m) m = t[xx];
          row[xx] = m < irow[xx] ? m : irow[xx];
        }
        for (int xx = 1; xx < w - 1; xx++) {
          float v = row[xx];
          fl[xx] = (row[xx + 1] < v && row[xx + 1] < irow[xx + 1]) |
                   (dn[xx - 1] < v && dn[xx - 1] < idn[xx - 1]) |
                   (dn[xx] < v && dn[xx] < idn[xx]) | (dn[xx + 1] < v && dn[xx + 1] < idn[xx + 1]);
        }
        for (int xx = w - 2; xx >= 1; xx--)
          if (fl[xx]) {
            size_t p = (size_t)y * w + xx;
            inq[p] = 1;
            QPUSH(p);
          }
        x = 1;
        continue;
      }
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
          QPUSH(p);
        }
      }
    }
  }
  free(fl);
  free(t);
  while (len) {
    size_t p = (size_t)q[head];
    if (++head == n) head = 0;
    len--;
    inq[p] = 0;
    size_t yq = (size_t)((double)p * invw);
    if (yq * (size_t)w > p) yq--;
    else if (p - yq * (size_t)w >= (size_t)w) yq++;
    int y = (int)yq, x = (int)(p - yq * (size_t)w);
    int inner = x > 0 && x < w - 1 && y > 0 && y < h - 1;
    for (int k = 0; k < 8; k++) {
      size_t qq;
      if (inner) {
        qq = (size_t)((ptrdiff_t)p + off[k]);
      } else {
        int xx = x + DX[k], yy = y + DY[k];
        if (xx < 0 || xx >= w || yy < 0 || yy >= h) continue;
        qq = (size_t)yy * w + xx;
      }
      if (J[qq] < J[p] && I[qq] != J[qq]) {
        J[qq] = J[p] < I[qq] ? J[p] : I[qq];
        if (!inq[qq]) {
          inq[qq] = 1;
          QPUSH(qq);
        }
      }
    }
  }
#undef QPUSH
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
  /* One FIFO per level, as chains of fixed-size chunks (contiguous, so a pop
  ** does not chase a per-pixel link through memory). A pixel is pushed at
  ** most once, so at most n / CH + 2 chunks per level are ever live;
  ** emptied chunks are reused. */
  enum { CH = 64 };
  size_t ncap = n / CH + 2 * (size_t)NLEV + 2;
  int32_t *cdata = nm_malloc(ncap, CH * sizeof(int32_t), err);
  int32_t *cnext = nm_malloc(ncap, sizeof(int32_t), err);
  int32_t *lv = nm_malloc(4 * (size_t)NLEV, sizeof(int32_t), err);
  if (!cdata || !cnext || !lv) {
    free(cdata);
    free(cnext);
    free(lv);
    return err ? err->code : NM_ERR_NOMEM;
  }
  /* per level: head chunk, read position in it, tail chunk, fill of the tail */
  int32_t *headc = lv, *headpos = lv + NLEV, *tailc = lv + 2 * NLEV, *tailn = lv + 3 * NLEV;
  for (int i = 0; i < NLEV; i++) headc[i] = tailc[i] = -1;
  int32_t freec = -1;  /* stack of emptied chunks, linked through cnext */
  size_t fresh = 0;    /* chunks handed out from the pool so far */
  ptrdiff_t off[8];
  offsets8(w, off);
  double invw = 1.0 / (double)w;
#define LEVEL(i) ((int)(((double)cost[i] - lo) * sc))
#define PUSH(lev, i)                                                   \
  do {                                                                 \
    int l_ = (lev);                                                    \
    if (tailc[l_] < 0 || tailn[l_] == CH) {                            \
      int32_t c_;                                                      \
      if (freec >= 0) {                                                \
        c_ = freec;                                                    \
        freec = cnext[c_];                                             \
      } else {                                                         \
        c_ = (int32_t)fresh++; /* fresh <= ncap by the bound above */  \
      }                                                                \
      cnext[c_] = -1;                                                  \
      if (tailc[l_] >= 0) cnext[tailc[l_]] = c_;                       \
      else {                                                           \
        headc[l_] = c_;                                                \
        headpos[l_] = 0;                                               \
      }                                                                \
      tailc[l_] = c_;                                                  \
      tailn[l_] = 0;                                                   \
    }                                                                  \
    cdata[(size_t)tailc[l_] * CH + (size_t)tailn[l_]++] = (int32_t)(i); \
  } while (0)
  for (size_t i = 0; i < n; i++)
    if (labels[i] > 0 && (!roi || roi[i])) PUSH(LEVEL(i), i);
  size_t done = 0;
  for (int lev = 0; lev < NLEV; lev++) {
    while (headc[lev] >= 0) {
      int32_t c = headc[lev];
      int end = c == tailc[lev] ? tailn[lev] : CH;
      if (headpos[lev] >= end) {
        int32_t nc = c == tailc[lev] ? -1 : cnext[c];
        cnext[c] = freec;
        freec = c;
        headc[lev] = nc;
        headpos[lev] = 0;
        if (nc < 0) tailc[lev] = -1;
        continue;
      }
      if (headpos[lev] + 8 < end) {
        /* the FIFO runs ahead of the reads: fetch the neighbourhood of the
        ** pixel eight pops ahead while this one is flooded */
        size_t f = (size_t)cdata[(size_t)c * CH + (size_t)headpos[lev] + 8];
        size_t up = f >= (size_t)w ? f - (size_t)w : f, dn = f + w < n ? f + (size_t)w : f;
        __builtin_prefetch(labels + up);
        __builtin_prefetch(labels + f);
        __builtin_prefetch(labels + dn);
        __builtin_prefetch(cost + up);
        __builtin_prefetch(cost + f);
        __builtin_prefetch(cost + dn);
        if (roi) {
          __builtin_prefetch(roi + up);
          __builtin_prefetch(roi + dn);
        }
      }
      int32_t p = cdata[(size_t)c * CH + (size_t)headpos[lev]++];
      if ((++done & 0xFFFFF) == 0 &&
          nm_progress_tick(progress, (double)done, (double)n, "watershed")) {
        free(cdata);
        free(cnext);
        free(lv);
        return nm_fail(err, NM_ERR_INTERRUPTED, "watershed: interrupted");
      }
      /* row from a double product, corrected: no integer division per
      ** popped pixel */
      int y = (int)((double)p * invw);
      if ((int64_t)y * w > p) y--;
      else if (p - (int64_t)y * w >= w) y++;
      int x = p - y * w;
      int inner = x > 0 && x < w - 1 && y > 0 && y < h - 1;
      for (int k = 0; k < 8; k++) {
        size_t q;
        if (inner) {
          q = (size_t)((ptrdiff_t)p + off[k]);
        } else {
          int xx = x + DX[k], yy = y + DY[k];
          if (xx < 0 || xx >= w || yy < 0 || yy >= h) continue;
          q = (size_t)yy * w + xx;
        }
        if (labels[q] != 0 || (roi && !roi[q])) continue;
        labels[q] = labels[p];
        int lq = LEVEL(q);
        PUSH(lq < lev ? lev : lq, q);
      }
    }
  }
#undef LEVEL
#undef PUSH
  free(cdata);
  free(cnext);
  free(lv);
  return NM_OK;
}
