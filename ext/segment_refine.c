/*
** segment_refine.c — per-particle outline refinement (see segment_refine.h).
**
** Three breadth-first passes share one queue: the interior depth of every
** particle (from its outline inwards), the geodesic distance and nearest
** particle of unlabelled pixels (from all outlines outwards, stopped at each
** particle's own reach), and, after re-thresholding, the part of each
** particle connected to its core. Medians are taken by bucketing pixel values
** per particle (prefix sums) and a quickselect per bucket.
*/
#include "segment_refine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FAR 0xFFFFu

static float select_kth(float *v, size_t n, size_t k) {
  size_t lo = 0, hi = n - 1;
  while (lo < hi) {
    float piv = v[lo + (hi - lo) / 2];
    size_t i = lo, j = hi;
    while (i <= j) {
      while (v[i] < piv) i++;
      while (v[j] > piv) j--;
      if (i <= j) {
        float t = v[i];
        v[i] = v[j];
        v[j] = t;
        i++;
        if (j == 0) break;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return v[k];
  }
  return v[k];
}

/* Median per label of img over the pixels where sel[p] is nonzero, sel
** holding the label. med[l] = NAN when a label has fewer than min_n pixels.
** vals (n floats) and off (count+2) are scratch. */
static void medians(const float *img, const int32_t *sel, size_t n, int count, size_t min_n,
                    float *vals, size_t *off, float *med) {
  memset(off, 0, sizeof(size_t) * ((size_t)count + 2));
  for (size_t p = 0; p < n; p++)
    if (sel[p] > 0) off[sel[p] + 1]++;
  for (int l = 1; l <= count + 1; l++) off[l] += off[l - 1];
  /* off[l] is now the start of bucket l; fill using off[l] as a cursor */
  for (size_t p = 0; p < n; p++)
    if (sel[p] > 0) vals[off[sel[p]]++] = img[p];
  /* cursors moved to the bucket ends: bucket l is [end(l-1), end(l)) */
  size_t start = 0;
  for (int l = 1; l <= count; l++) {
    size_t end = off[l], m = end - start;
    med[l] = m >= min_n && m > 0 ? select_kth(vals + start, m, m / 2) : NAN;
    start = end;
  }
}

/* The candidate particle of pixel p: its own label, or the nearest particle
** when p lies within grow x that particle's radius of it. */
static int32_t candidate(const int32_t *labels, const uint16_t *dist, const int32_t *owner,
                         const int64_t *area, double grow, size_t p) {
  if (labels[p] > 0) return labels[p];
  if (dist[p] == FAR || owner[p] <= 0) return 0;
  double r = sqrt((double)area[owner[p]] / M_PI);
  return dist[p] <= fmax(1.0, grow * r) ? owner[p] : 0;
}

/* Per particle, the level (fraction of the way from background to core)
** whose iso-line has the steepest mean gradient: the edge of a blurred step
** lies where the profile is steepest, which for a particle thinning towards
** its rim, or one with a dark centre, is not at half the core level. Levels
** 0.2..0.8; thr[] is replaced where enough pixels vote. grad: n floats. */
#define NLEV 13
static nm_status edge_levels(const float *img, int w, int h, const int32_t *labels, int count,
                             const uint16_t *dist, const int32_t *owner, const int64_t *area,
                             double grow, const float *core, const float *bg, float *thr,
                             float *grad, nm_error *err) {
  double *gs = nm_calloc((size_t)count + 1, sizeof(double) * NLEV, err);
  int64_t *gc = nm_calloc((size_t)count + 1, sizeof(int64_t) * NLEV, err);
  if (!gs || !gc) {
    free(gs);
    free(gc);
    return err && err->code ? err->code : NM_ERR_NOMEM;
  }
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      size_t p = (size_t)y * w + x;
      float gx = img[p + (x < w - 1)] - img[p - (x > 0)];
      float gy = img[p + (y < h - 1 ? (size_t)w : 0)] - img[p - (y > 0 ? (size_t)w : 0)];
      grad[p] = sqrtf(gx * gx + gy * gy);
    }
  size_t n = (size_t)w * h;
  for (size_t p = 0; p < n; p++) {
    int32_t l = candidate(labels, dist, owner, area, grow, p);
    if (!l || thr[l] != thr[l]) continue;
    double f = (img[p] - bg[l]) / (core[l] - bg[l]);
    long k = lround((f - 0.2) / 0.05);
    if (k < 0 || k >= NLEV) continue;
    gs[(size_t)l * NLEV + k] += grad[p];
    gc[(size_t)l * NLEV + k]++;
  }
  for (int l = 1; l <= count; l++) {
    if (thr[l] != thr[l]) continue;
    const double *s = gs + (size_t)l * NLEV;
    const int64_t *c = gc + (size_t)l * NLEV;
    double best = -1;
    int bk = -1;
    for (int k = 0; k < NLEV; k++) {
      /* [1 2 1] over neighbouring levels steadies the vote */
      double ss = 2 * s[k], cc = 2.0 * (double)c[k];
      if (k > 0) ss += s[k - 1], cc += (double)c[k - 1];
      if (k < NLEV - 1) ss += s[k + 1], cc += (double)c[k + 1];
      if (cc < 8) continue;
      if (ss / cc > best) best = ss / cc, bk = k;
    }
    if (bk >= 0) thr[l] = bg[l] + (float)(0.2 + 0.05 * bk) * (core[l] - bg[l]);
  }
  free(gs);
  free(gc);
  return NM_OK;
}

static nm_status refine_once(const float *img, int w, int h, int32_t *labels, int count,
                             double level, double grow, int edge_search, double anchor,
                             double anchor_weight, int fill_holes, nm_refine_stats *stats,
                             nm_error *err) {
  if (stats) memset(stats, 0, sizeof *stats);
  if (!img || !labels || w <= 0 || h <= 0 || count < 0)
    return nm_fail(err, NM_ERR_ARG, "refine: bad arguments");
  if (count == 0) return NM_OK;
  size_t n = (size_t)w * h;
  uint16_t *dist = nm_malloc(n, sizeof(uint16_t), err);
  int32_t *owner = nm_malloc(n, sizeof(int32_t), err);
  int32_t *sel = nm_malloc(n, sizeof(int32_t), err);
  uint32_t *q = nm_malloc(n, sizeof(uint32_t), err);
  float *vals = nm_malloc(n, sizeof(float), err);
  uint8_t *iscore = nm_malloc(n, 1, err);
  size_t *off = nm_malloc((size_t)count + 2, sizeof(size_t), err);
  int64_t *area = nm_calloc((size_t)count + 1, sizeof(int64_t), err);
  uint16_t *maxd = nm_calloc((size_t)count + 1, sizeof(uint16_t), err);
  uint16_t *reach = nm_calloc((size_t)count + 1, sizeof(uint16_t), err);
  float *core = nm_malloc((size_t)count + 1, sizeof(float), err);
  float *bg = nm_malloc((size_t)count + 1, sizeof(float), err);
  float *thr = nm_malloc((size_t)count + 1, sizeof(float), err);
  nm_status st = NM_OK;
  if (!dist || !owner || !sel || !q || !vals || !iscore || !off || !area || !maxd || !reach || !core ||
      !bg || !thr) {
    st = err && err->code ? err->code : NM_ERR_NOMEM;
    goto done;
  }
  for (size_t p = 0; p < n; p++)
    if (labels[p] > 0 && labels[p] <= count) area[labels[p]]++;

  /* 1. interior depth (4-connected steps from the outline; 1 on it) */
  size_t qh = 0, qt = 0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      size_t p = (size_t)y * w + x;
      int32_t l = labels[p];
      dist[p] = FAR;
      if (l <= 0) continue;
      if (x == 0 || y == 0 || x == w - 1 || y == h - 1 || labels[p - 1] != l ||
          labels[p + 1] != l || labels[p - w] != l || labels[p + w] != l) {
        dist[p] = 1;
        q[qt++] = (uint32_t)p;
      }
    }
  while (qh < qt) {
    size_t p = q[qh++];
    int x = (int)(p % (size_t)w), y = (int)(p / (size_t)w);
    int32_t l = labels[p];
    uint16_t nd = dist[p] < FAR - 1 ? dist[p] + 1 : dist[p];
    if (dist[p] > maxd[l]) maxd[l] = dist[p];
    size_t nb[4];
    int k = 0;
    if (x > 0) nb[k++] = p - 1;
    if (x < w - 1) nb[k++] = p + 1;
    if (y > 0) nb[k++] = p - w;
    if (y < h - 1) nb[k++] = p + w;
    for (int j = 0; j < k; j++)
      if (labels[nb[j]] == l && dist[nb[j]] == FAR) {
        dist[nb[j]] = nd;
        q[qt++] = (uint32_t)nb[j];
      }
  }
  /* core: at least half the particle's maximal depth */
  for (size_t p = 0; p < n; p++) {
    int32_t l = labels[p];
    iscore[p] = l > 0 && 2 * (int)dist[p] >= (int)maxd[l] + 1;
    sel[p] = iscore[p] ? l : 0;
  }
  medians(img, sel, n, count, 1, vals, off, core);

  /* 2. outside: geodesic (8-connected) distance to the nearest particle and
  ** which one, each particle reaching as far as its ring or growth needs */
  for (int l = 1; l <= count; l++) {
    double r = sqrt((double)area[l] / M_PI);
    double rb = fmax(2.0, 0.3 * r) + fmax(3.0, 0.5 * r);
    double g = fmax(1.0, grow * r);
    double m = fmax(rb, g) + 1;
    reach[l] = (uint16_t)(m > FAR - 2 ? FAR - 2 : m);
  }
  qh = qt = 0;
  for (size_t p = 0; p < n; p++) {
    owner[p] = labels[p] > 0 ? labels[p] : 0;
    if (labels[p] > 0) {
      dist[p] = 0;
      /* only outline pixels need to seed the outward pass */
      int x = (int)(p % (size_t)w), y = (int)(p / (size_t)w);
      int32_t l = labels[p];
      if (x == 0 || y == 0 || x == w - 1 || y == h - 1 || labels[p - 1] != l ||
          labels[p + 1] != l || labels[p - w] != l || labels[p + w] != l)
        q[qt++] = (uint32_t)p;
    } else {
      dist[p] = FAR;
    }
  }
  while (qh < qt) {
    size_t p = q[qh++];
    int x = (int)(p % (size_t)w), y = (int)(p / (size_t)w);
    int32_t l = owner[p];
    if (dist[p] >= reach[l]) continue;
    uint16_t nd = dist[p] + 1;
    for (int dy = -1; dy <= 1; dy++) {
      int yy = y + dy;
      if (yy < 0 || yy >= h) continue;
      for (int dx = -1; dx <= 1; dx++) {
        int xx = x + dx;
        if (xx < 0 || xx >= w || (!dx && !dy)) continue;
        size_t s = (size_t)yy * w + xx;
        if (dist[s] != FAR) continue;
        dist[s] = nd;
        owner[s] = l;
        q[qt++] = (uint32_t)s;
      }
    }
  }
  /* ring: unlabelled pixels nearest to l, between ra and rb from it */
  for (size_t p = 0; p < n; p++) {
    sel[p] = 0;
    if (labels[p] > 0 || dist[p] == FAR) continue;
    int32_t l = owner[p];
    double r = sqrt((double)area[l] / M_PI);
    double ra = fmax(2.0, 0.3 * r), rb = ra + fmax(3.0, 0.5 * r);
    if (dist[p] >= ra && dist[p] <= rb) sel[p] = l;
  }
  medians(img, sel, n, count, 12, vals, off, bg);
  /* fallback background: unlabelled pixels away from every particle */
  {
    size_t m = 0;
    for (size_t p = 0; p < n; p++)
      if (labels[p] <= 0 && (dist[p] == FAR || dist[p] >= 3)) vals[m++] = img[p];
    float gbg = m ? select_kth(vals, m, m / 2) : NAN;
    for (int l = 1; l <= count; l++) {
      if (bg[l] != bg[l]) bg[l] = gbg;
      float c = core[l], b = bg[l];
      if (c == c && b == b && c > b) thr[l] = b + (float)level * (c - b);
      else thr[l] = NAN;
    }
  }
  if (anchor == anchor && anchor_weight > 0)
    for (int l = 1; l <= count; l++)
      if (thr[l] == thr[l] && anchor > bg[l] && anchor < core[l])
        thr[l] = (float)((1 - anchor_weight) * thr[l] + anchor_weight * anchor);
  if (edge_search) {
    st = edge_levels(img, w, h, labels, count, dist, owner, area, grow, core, bg, thr, vals, err);
    if (st) goto done;
  }

  /* 3. re-threshold: each pixel has one candidate particle */
  for (size_t p = 0; p < n; p++) {
    int32_t l = candidate(labels, dist, owner, area, grow, p);
    sel[p] = 0;
    if (!l) continue;
    if (thr[l] != thr[l]) sel[p] = labels[p] > 0 ? l : 0; /* not refined */
    else if (img[p] > thr[l]) sel[p] = l;
  }
  /* keep what is connected to the core (4-connected); owner marks visits */
  qh = qt = 0;
  for (size_t p = 0; p < n; p++) {
    int32_t l = iscore[p] ? labels[p] : 0;
    owner[p] = 0;
    if (l > 0 && sel[p] == l) {
      owner[p] = l;
      q[qt++] = (uint32_t)p;
    }
  }
  while (qh < qt) {
    size_t p = q[qh++];
    int x = (int)(p % (size_t)w), y = (int)(p / (size_t)w);
    int32_t l = owner[p];
    size_t nb[4];
    int k = 0;
    if (x > 0) nb[k++] = p - 1;
    if (x < w - 1) nb[k++] = p + 1;
    if (y > 0) nb[k++] = p - w;
    if (y < h - 1) nb[k++] = p + w;
    for (int j = 0; j < k; j++)
      if (sel[nb[j]] == l && owner[nb[j]] == 0) {
        owner[nb[j]] = l;
        q[qt++] = (uint32_t)nb[j];
      }
  }
  /* a particle left with too little (its interior fell below its own
  ** level: a hollow or very uneven particle) keeps its old pixels */
  memset(maxd, 0, sizeof(uint16_t) * ((size_t)count + 1));
  {
    int64_t *na = nm_calloc((size_t)count + 1, sizeof(int64_t), err);
    if (!na) {
      st = err && err->code ? err->code : NM_ERR_NOMEM;
      goto done;
    }
    for (size_t p = 0; p < n; p++)
      if (owner[p] > 0) na[owner[p]]++;
    for (int l = 1; l <= count; l++)
      if (area[l] > 0 && (thr[l] != thr[l] || na[l] * 4 < area[l])) maxd[l] = 1;
    for (size_t p = 0; p < n; p++) {
      int32_t l = labels[p];
      if (l > 0 && maxd[l]) continue;
      int32_t o = owner[p];
      if (o > 0 && maxd[o]) o = 0;
      labels[p] = o;
    }
    if (stats)
      for (int l = 1; l <= count; l++)
        if (area[l] > 0) {
          if (maxd[l]) stats->kept++;
          else stats->refined++;
        }
    free(na);
  }

  /* 4. holes enclosed by a single particle */
  if (fill_holes) {
    /* 4-connected components of the background, flood from each seed */
    for (size_t p = 0; p < n; p++) sel[p] = 0;
    for (size_t s0 = 0; s0 < n; s0++) {
      if (labels[s0] > 0 || sel[s0]) continue;
      qh = qt = 0;
      q[qt++] = (uint32_t)s0;
      sel[s0] = 1;
      int32_t around = 0;
      int border = 0;
      while (qh < qt) {
        size_t p = q[qh++];
        int x = (int)(p % (size_t)w), y = (int)(p / (size_t)w);
        if (x == 0 || y == 0 || x == w - 1 || y == h - 1) border = 1;
        size_t nb[4];
        int k = 0;
        if (x > 0) nb[k++] = p - 1;
        if (x < w - 1) nb[k++] = p + 1;
        if (y > 0) nb[k++] = p - w;
        if (y < h - 1) nb[k++] = p + w;
        for (int j = 0; j < k; j++) {
          int32_t l = labels[nb[j]];
          if (l > 0) {
            if (around == 0) around = l;
            else if (around != l) around = -1;
          } else if (!sel[nb[j]]) {
            sel[nb[j]] = 1;
            q[qt++] = (uint32_t)nb[j];
          }
        }
      }
      if (!border && around > 0)
        for (size_t i = 0; i < qt; i++) labels[q[i]] = around;
    }
  }

done:
  free(dist);
  free(owner);
  free(sel);
  free(q);
  free(vals);
  free(iscore);
  free(off);
  free(area);
  free(maxd);
  free(reach);
  free(core);
  free(bg);
  free(thr);
  return st;
}

/* Two passes: a starting outline far too tight puts part of the particle's
** own rim into its background ring; the second pass measures the ring from
** the corrected outline. */
nm_status nm_refine_outlines(const float *img, int w, int h, int32_t *labels, int count,
                             double level, double grow, int edge_search, double anchor,
                             double anchor_weight, int fill_holes, nm_refine_stats *stats,
                             nm_error *err) {
  nm_status st = NM_OK;
  for (int pass = 0; pass < 2 && st == NM_OK; pass++)
    st = refine_once(img, w, h, labels, count, level, grow, edge_search, anchor, anchor_weight,
                     fill_holes, stats, err);
  return st;
}
