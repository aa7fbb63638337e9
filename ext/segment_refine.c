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
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "label.h"
#include "morph.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define FAR 0xFFFFu
#define PBINS 64 /* bins of the perimeter-averaged profiles (profile_shift) */

/* x, y of pixel p without a 64-bit division per queue element: the quotient
** from a double product (exact to within one), then corrected. */
typedef struct coords {
  size_t w;
  double inv;
} coords;

static inline void xy_of(const coords *c, size_t p, int *x, int *y) {
  size_t q = (size_t)((double)p * c->inv);
  size_t qw = q * c->w;
  if (qw > p) q--, qw -= c->w;
  else if (p - qw >= c->w) q++, qw += c->w;
  *x = (int)(p - qw);
  *y = (int)q;
}

/* k-th smallest (0-based) of v[0..n) by value, for large n: a radix select
** on the order-preserving integer keys of the floats (two histogram passes
** of 16 bits), exact like nm_select_kth. No NaNs in v. */
static inline uint32_t fkey(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  if (u == 0x80000000u) u = 0; /* -0 sorts with +0 */
  return (u & 0x80000000u) ? ~u : u | 0x80000000u;
}

static float radix_select(const float *v, size_t n, size_t k, uint32_t *hist) {
  memset(hist, 0, sizeof(uint32_t) * 65536);
  for (size_t i = 0; i < n; i++) hist[fkey(v[i]) >> 16]++;
  size_t acc = 0;
  uint32_t hi = 0;
  for (;; hi++) {
    if (acc + hist[hi] > k) break;
    acc += hist[hi];
  }
  k -= acc;
  memset(hist, 0, sizeof(uint32_t) * 65536);
  for (size_t i = 0; i < n; i++) {
    uint32_t key = fkey(v[i]);
    if ((key >> 16) == hi) hist[key & 0xFFFFu]++;
  }
  acc = 0;
  uint32_t lo = 0;
  for (;; lo++) {
    if (acc + hist[lo] > k) break;
    acc += hist[lo];
  }
  uint32_t key = hi << 16 | lo;
  uint32_t u = (key & 0x80000000u) ? key & 0x7FFFFFFFu : ~key;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* The end of the run of value l in a[e..n) (a[e - 1] == l): four at a time. */
static inline size_t run_end32(const int32_t *a, size_t e, size_t n, int32_t l) {
#if defined(__SSE2__)
  const __m128i lv = _mm_set1_epi32(l);
  for (; e + 4 <= n; e += 4) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(a + e));
    int mk = _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(v, lv)));
    if (mk != 15) return e + (size_t)__builtin_ctz(~mk & 15);
  }
#endif
  while (e < n && a[e] == l) e++;
  return e;
}

/* Median per label of img over the pixels where sel[p] is nonzero, sel
** holding the label. med[l] = NAN when a label has fewer than min_n pixels.
** vals (n floats) and off (count+2) are scratch. */
static void medians(const float *img, const int32_t *sel, size_t n, int count, size_t min_n,
                    float *vals, size_t *off, float *med) {
  /* by runs of one value (sel is mostly runs of 0 and of one label along a
  ** row): the same buckets, filled in the same raster order */
  memset(off, 0, sizeof(size_t) * ((size_t)count + 2));
  for (size_t p = 0; p < n;) {
    int32_t l = sel[p];
    size_t e = run_end32(sel, p + 1, n, l);
    if (l > 0) off[l + 1] += e - p;
    p = e;
  }
  for (int l = 1; l <= count + 1; l++) off[l] += off[l - 1];
  /* off[l] is now the start of bucket l; fill using off[l] as a cursor */
  for (size_t p = 0; p < n;) {
    int32_t l = sel[p];
    size_t e = run_end32(sel, p + 1, n, l);
    if (l > 0) {
      memcpy(vals + off[l], img + p, sizeof(float) * (e - p));
      off[l] += e - p;
    }
    p = e;
  }
  /* cursors moved to the bucket ends: bucket l is [end(l-1), end(l)) */
  size_t start = 0;
  for (int l = 1; l <= count; l++) {
    size_t end = off[l], m = end - start;
    med[l] = m >= min_n && m > 0 ? nm_select_kth(vals + start, m, m / 2) : NAN;
    start = end;
  }
}

/* The candidate particle of pixel p: its own label, or the nearest particle
** when p lies within grow x that particle's radius of it. */
static inline int32_t candidate(const int32_t *labels, const uint16_t *dist,
                                const int32_t *owner, const double *lim, size_t p) {
  if (labels[p] > 0) return labels[p];
  if (dist[p] == FAR || owner[p] <= 0) return 0;
  return dist[p] <= lim[owner[p]] ? owner[p] : 0;
}

/* lim[l] = max(1, grow x radius of l): how far outside l a pixel is still
** its candidate. */
static void grow_limits(const int64_t *area, int count, double grow, double *lim) {
  lim[0] = 0;
  for (int l = 1; l <= count; l++) {
    double r = sqrt((double)area[l] / M_PI);
    lim[l] = fmax(1.0, grow * r);
  }
}

/* One breadth-first step from p (at x, y, owned by l): every unreached
** 8-neighbour gets distance nd and owner l and is queued, in the order of
** off8 (rows top to bottom, left to right); returns the new queue tail. */
static inline size_t expand8(const ptrdiff_t *off8, size_t p, int x, int y, int w, int h,
                             uint16_t nd, int32_t l, uint16_t *dist, int32_t *owner,
                             uint32_t *q, size_t qt) {
  if (x > 0 && y > 0 && x < w - 1 && y < h - 1) {
    for (int k = 0; k < 8; k++) {
      size_t s = (size_t)((ptrdiff_t)p + off8[k]);
      if (dist[s] != FAR) continue;
      dist[s] = nd;
      owner[s] = l;
      q[qt++] = (uint32_t)s;
    }
    return qt;
  }
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
  return qt;
}

/* Neighbour offsets of expand8's interior path. */
static void offsets8(int w, ptrdiff_t *off8) {
  const ptrdiff_t W = w;
  const ptrdiff_t o[8] = {-W - 1, -W, -W + 1, -1, 1, W - 1, W, W + 1};
  memcpy(off8, o, sizeof o);
}

/* The background ring of each particle: unlabelled pixels nearest to it
** between ra and rb (geodesic steps) from its outline, r its equivalent
** radius; ring[2l] = ra, ring[2l+1] = rb. */
static void ring_bounds(const int64_t *area, int count, double *ring) {
  for (int l = 0; l <= count; l++) {
    double r = sqrt((double)area[l] / M_PI);
    double ra = fmax(2.0, 0.3 * r), rb = ra + fmax(3.0, 0.5 * r);
    ring[2 * l] = ra;
    ring[2 * l + 1] = rb;
  }
}

typedef struct vrun {
  int x0, x1;
  int32_t v, id;
} vrun;

/* owner[p] = sel[p] where p's 4-connected component of equal sel values
** holds a seed (a core pixel whose label is that value), else 0: the pixels a
** flood from the cores through their own candidate pixels would reach.
** Components from runs of equal values (union-find on runs, the seed flag
** carried to the root). par, seeded: n entries of scratch. kept: when not
** NULL, kept[l] += the pixels with owner l (l > 0). */
static nm_status keep_core_connected(const int32_t *sel, const int32_t *labels,
                                     const uint8_t *iscore, int w, int h, int32_t *owner,
                                     int32_t *par, uint8_t *seeded, int64_t *kept,
                                     nm_error *err) {
  vrun *rb = nm_malloc(2 * (size_t)w, sizeof(vrun), err);
  if (!rb) return err && err->code ? err->code : NM_ERR_NOMEM;
  vrun *prev = rb, *cur = rb + w;
  int nprev = 0;
  int32_t next = 0;
  for (int y = 0; y < h; y++) {
    const int32_t *sr = sel + (size_t)y * w, *lr = labels + (size_t)y * w;
    const uint8_t *cr = iscore + (size_t)y * w;
    int ncur = 0, j = 0, x = 0;
    while (x < w) {
      int32_t v = sr[x];
      if (v <= 0) {
        x = (int)run_end32(sr, (size_t)x + 1, (size_t)w, v);
        continue;
      }
      int x0 = x;
      uint8_t seed = 0;
      for (; x < w && sr[x] == v; x++) seed |= cr[x] && lr[x] == v;
      int32_t id = next++;
      par[id] = id;
      seeded[id] = seed;
      while (j < nprev && prev[j].x1 <= x0) j++;
      for (int k = j; k < nprev && prev[k].x0 < x; k++) {
        if (prev[k].v != v) continue;
        int32_t a = nm_uf_find(par, id), b = nm_uf_find(par, prev[k].id);
        if (a == b) continue;
        if (b < a) {
          int32_t t = a;
          a = b;
          b = t;
        }
        par[b] = a;
        seeded[a] |= seeded[b];
      }
      cur[ncur].x0 = x0;
      cur[ncur].x1 = x;
      cur[ncur].v = v;
      cur[ncur].id = id;
      ncur++;
      owner[(size_t)y * w + x0] = id; /* provisional, on the run's first pixel */
    }
    vrun *t = prev;
    prev = cur;
    cur = t;
    nprev = ncur;
  }
  free(rb);
  for (int y = 0; y < h; y++) {
    const int32_t *sr = sel + (size_t)y * w;
    int32_t *orow = owner + (size_t)y * w;
    int x = 0;
    while (x < w) {
      int32_t v = sr[x];
      if (v <= 0) {
        int e = (int)run_end32(sr, (size_t)x + 1, (size_t)w, v);
        memset(orow + x, 0, sizeof(int32_t) * (size_t)(e - x));
        x = e;
        continue;
      }
      int32_t o = seeded[nm_uf_find(par, orow[x])] ? v : 0;
      int x0 = x;
      for (; x < w && sr[x] == v; x++) orow[x] = o;
      if (kept && o > 0) kept[o] += x - x0;
    }
  }
  return NM_OK;
}

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Per particle, the level (fraction of the way from background to core)
** whose iso-line has the steepest mean gradient: the edge of a blurred step
** lies where the profile is steepest, which for a particle thinning towards
** its rim, or one with a dark centre, is not at half the core level. Levels
** 0.2..0.8; thr[] is replaced where enough pixels vote. grad: n floats.
** ring (the background ring's label per pixel) is replaced by each pixel's
** candidate particle. */
#define NLEV 13
static nm_status edge_levels(const float *img, int w, int h, const int32_t *labels, int count,
                             const uint16_t *dist, const int32_t *owner, const double *lim,
                             const float *core, const float *bg, int32_t *ring,
                             double min_ratio, float *thr, float *grad, int *taken,
                             nm_error *err) {
  double *gs = nm_calloc((size_t)count + 1, sizeof(double) * NLEV, err);
  int64_t *gc = nm_calloc((size_t)count + 1, sizeof(int64_t) * NLEV, err);
  double *rs = nm_calloc((size_t)count + 1, sizeof(double), err);
  int64_t *rc = nm_calloc((size_t)count + 1, sizeof(int64_t), err);
  if (!gs || !gc || !rs || !rc) {
    free(gs);
    free(gc);
    free(rs);
    free(rc);
    return err && err->code ? err->code : NM_ERR_NOMEM;
  }
  (void)grad;
  /* the gradient is taken only where it is read (ring and candidate
  ** pixels, a small part of the image), row by row */
  for (int y = 0; y < h; y++) {
    size_t up = y > 0 ? (size_t)w : 0, dn = y < h - 1 ? (size_t)w : 0;
    for (int x = 0; x < w; x++) {
      size_t p = (size_t)y * w + x;
      int32_t rl = ring[p];
      int32_t l = candidate(labels, dist, owner, lim, p);
      ring[p] = l; /* for the caller's re-threshold */
      int inring = rl > 0 && rl <= count;
      if (!inring && (!l || thr[l] != thr[l])) continue;
      float gx = img[p + (x < w - 1)] - img[p - (x > 0)];
      float gy = img[p + dn] - img[p - up];
      float g = sqrtf(gx * gx + gy * gy);
      /* the background's own gradient (film texture, noise) around each particle */
      if (inring) rs[rl] += g, rc[rl]++;
      if (!l || thr[l] != thr[l]) continue;
      double f = (img[p] - bg[l]) / (core[l] - bg[l]);
      /* lround, exactly (half away from zero), without the library call */
      double t = (f - 0.2) / 0.05;
      if (!(t > -0.5 && t < NLEV)) continue; /* k < 0 or k >= NLEV (or NaN) */
      double ti = trunc(t);
      long k = (long)ti + (t - ti >= 0.5) - (t - ti <= -0.5);
      if (k < 0 || k >= NLEV) continue;
      gs[(size_t)l * NLEV + k] += g;
      gc[(size_t)l * NLEV + k]++;
    }
  }
  /* per particle: the steepest level (bks, -1 none) and how much steeper
  ** than its background ring that iso-line is */
  double *ratios = nm_malloc((size_t)count + 1, sizeof(double), err);
  int *bks = nm_malloc((size_t)count + 1, sizeof(int), err);
  if (!ratios || !bks) {
    free(gs), free(gc), free(rs), free(rc), free(ratios), free(bks);
    return err && err->code ? err->code : NM_ERR_NOMEM;
  }
  int nrat = 0;
  for (int l = 1; l <= count; l++) {
    bks[l] = -1;
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
    double rg = rc[l] ? rs[l] / (double)rc[l] : 0;
    if (bk >= 0) {
      bks[l] = bk;
      ratios[nrat++] = rg > 0 ? best / rg : HUGE_VAL;
    }
  }
  /* one decision per image: where the typical particle's steepest iso-line
  ** is hardly steeper than the film around it (texture, noise), the
  ** steepest line is texture and the fixed level stays for every particle;
  ** where edges are sharp (faceted crystals) every particle takes its own */
  if (nrat > 0) {
    qsort(ratios, (size_t)nrat, sizeof(double), cmp_dbl);
    if (ratios[nrat / 2] >= min_ratio) *taken = 1;
    if (ratios[nrat / 2] >= min_ratio)
      for (int l = 1; l <= count; l++)
        if (bks[l] >= 0) thr[l] = bg[l] + (float)(0.2 + 0.05 * bks[l]) * (core[l] - bg[l]);
  }
  free(ratios);
  free(bks);
  free(gs);
  free(gc);
  free(rs);
  free(rc);
  return NM_OK;
}

/* The per-pixel scratch of one pass, allocated once for both passes. */
typedef struct refine_bufs {
  uint16_t *dist;
  int32_t *owner, *sel;
  uint32_t *q;
  float *vals, *dev;
  uint8_t *iscore;
  int edge_taken; /* the last pass put outlines on their steepest iso-lines */
  int fine_taken; /* ... and those were read on the lightly smoothed copy */
  int probe;      /* stop once the gate is decided when it stays closed (the
                  ** caller then keeps its labels; labels are not yet touched) */
} refine_bufs;

static nm_status refine_once(const float *img, int w, int h, int32_t *labels, int count,
                             double level, double grow, int edge_search, double edge_ratio,
                             double anchor, double anchor_weight, int fill_holes,
                             nm_refine_stats *stats, refine_bufs *B, nm_error *err) {
  if (stats) memset(stats, 0, sizeof *stats);
  if (!img || !labels || w <= 0 || h <= 0 || count < 0)
    return nm_fail(err, NM_ERR_ARG, "refine: bad arguments");
  if (count == 0) return NM_OK;
  size_t n = (size_t)w * h;
  uint16_t *dist = B->dist;
  int32_t *owner = B->owner, *sel = B->sel;
  uint32_t *q = B->q;
  float *vals = B->vals;
  uint8_t *iscore = B->iscore;
  size_t *off = nm_malloc((size_t)count + 2, sizeof(size_t), err);
  int64_t *area = nm_calloc((size_t)count + 1, sizeof(int64_t), err);
  uint16_t *maxd = nm_calloc((size_t)count + 1, sizeof(uint16_t), err);
  uint16_t *reach = nm_calloc((size_t)count + 1, sizeof(uint16_t), err);
  float *core = nm_malloc((size_t)count + 1, sizeof(float), err);
  float *bg = nm_malloc((size_t)count + 1, sizeof(float), err);
  float *thr = nm_malloc((size_t)count + 1, sizeof(float), err);
  double *lim = nm_malloc((size_t)count + 1, sizeof(double), err);
  double *ring = nm_malloc(2 * ((size_t)count + 1), sizeof(double), err);
  nm_status st = NM_OK;
  if (!off || !area || !maxd || !reach || !core || !bg || !thr || !lim || !ring) {
    st = err && err->code ? err->code : NM_ERR_NOMEM;
    goto done;
  }
  coords cw = {(size_t)w, 1.0 / (double)w};

  /* 1. interior depth (4-connected steps from the outline; 1 on it): the
  ** city-block distance to the nearest pixel of another label (or off the
  ** image). Two raster passes give it exactly, without a queue: from a
  ** pixel, the L-shaped path towards that nearest pixel (vertical leg
  ** first for a pixel above, horizontal first below) stops at its first
  ** foreign pixel, which is no farther, so the path up to it lies in the
  ** particle and is one the forward pass (down, right moves) and then the
  ** backward pass (up, left moves) follow. Saturates at FAR - 1. */
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      size_t p = (size_t)y * w + x;
      int32_t l = labels[p];
      dist[p] = FAR;
      if (l <= 0) continue;
      if (l <= count) area[l]++;
      if (x == 0 || y == 0 || x == w - 1 || y == h - 1 || labels[p - 1] != l ||
          labels[p + 1] != l || labels[p - w] != l || labels[p + w] != l) {
        dist[p] = 1;
      } else {
        /* inner pixel: left and upper neighbours share l and are done */
        unsigned a = dist[p - 1] < dist[p - w] ? dist[p - 1] : dist[p - w];
        dist[p] = (uint16_t)(a + 1 < FAR - 1 ? a + 1 : FAR - 1);
      }
    }
  for (int y = h - 1; y >= 0; y--)
    for (int x = w - 1; x >= 0; x--) {
      size_t p = (size_t)y * w + x;
      int32_t l = labels[p];
      if (l <= 0) continue;
      if (dist[p] > 1) { /* inner pixel: all four neighbours share l */
        unsigned a = dist[p + 1] < dist[p + w] ? dist[p + 1] : dist[p + w];
        a = a + 1 < FAR - 1 ? a + 1 : FAR - 1;
        if (a < dist[p]) dist[p] = (uint16_t)a;
      }
      if (dist[p] > maxd[l]) maxd[l] = dist[p];
    }
  grow_limits(area, count, grow, lim);
  /* 2. outside: geodesic (8-connected) distance to the nearest particle and
  ** which one, each particle reaching as far as its ring or growth needs */
  for (int l = 1; l <= count; l++) {
    double r = sqrt((double)area[l] / M_PI);
    double rb = fmax(2.0, 0.3 * r) + fmax(3.0, 0.5 * r);
    double g = fmax(1.0, grow * r);
    double m = fmax(rb, g) + 1;
    reach[l] = (uint16_t)(m > FAR - 2 ? FAR - 2 : m);
  }
  /* one pass: the core (at least half the particle's maximal depth) from
  ** the depth, then dist and owner start the outward pass from the outline
  ** pixels (depth 1: the inner pixels' depths are at least 2) */
  size_t qh = 0, qt = 0;
  for (size_t p = 0; p < n; p++) {
    int32_t l = labels[p];
    iscore[p] = l > 0 && 2 * (int)dist[p] >= (int)maxd[l] + 1;
    sel[p] = iscore[p] ? l : 0;
    owner[p] = l > 0 ? l : 0;
    if (l > 0) {
      if (dist[p] == 1) q[qt++] = (uint32_t)p;
      dist[p] = 0;
    }
  }
  medians(img, sel, n, count, 1, vals, off, core);
  ptrdiff_t off8[8];
  offsets8(w, off8);
  while (qh < qt) {
    /* the queue runs ahead of the reads: fetch what a later element will
    ** look at (its three rows of dist, its owner) while this one is done */
    if (qh + 16 < qt) {
      size_t f = q[qh + 16];
      __builtin_prefetch(dist + f);
      __builtin_prefetch(dist + f - (f >= (size_t)w ? (size_t)w : 0));
      __builtin_prefetch(dist + f + (f + w < n ? (size_t)w : 0));
      __builtin_prefetch(owner + f);
    }
    size_t p = q[qh++];
    int32_t l = owner[p];
    if (dist[p] >= reach[l]) continue;
    int x, y;
    xy_of(&cw, p, &x, &y);
    qt = expand8(off8, p, x, y, w, h, (uint16_t)(dist[p] + 1), l, dist, owner, q, qt);
  }
  /* ring: unlabelled pixels nearest to l, between ra and rb from it */
  ring_bounds(area, count, ring);
  for (size_t p = 0; p < n; p++) {
    sel[p] = 0;
    if (labels[p] > 0 || dist[p] == FAR) continue;
    int32_t l = owner[p];
    if (dist[p] >= ring[2 * l] && dist[p] <= ring[2 * l + 1]) sel[p] = l;
  }
  medians(img, sel, n, count, 12, vals, off, bg);
  /* fallback background: unlabelled pixels away from every particle; its
  ** median is only taken when some particle has no ring */
  {
    int need = 0;
    for (int l = 1; l <= count && !need; l++) need = bg[l] != bg[l];
    size_t m = 0;
    if (need)
      for (size_t p = 0; p < n; p++)
        if (labels[p] <= 0 && (dist[p] == FAR || dist[p] >= 3)) vals[m++] = img[p];
    float gbg = NAN;
    if (m >= 65536) {
      uint32_t *hist = nm_malloc(65536, sizeof(uint32_t), err);
      if (!hist) {
        st = err && err->code ? err->code : NM_ERR_NOMEM;
        goto done;
      }
      gbg = radix_select(vals, m, m / 2, hist);
      free(hist);
    } else if (m) {
      gbg = nm_select_kth(vals, m, m / 2);
    }
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
  int have_cand = 0; /* sel holds each pixel's candidate (edge_levels) */
  if (edge_search) {
    have_cand = 1;
    st = edge_levels(img, w, h, labels, count, dist, owner, lim, core, bg, sel, edge_ratio, thr,
                     vals, &B->edge_taken, err);
    if (st) goto done;
    if (B->probe && !B->edge_taken) goto done;
  }

  /* 3. re-threshold: each pixel has one candidate particle */
  for (size_t p = 0; p < n; p++) {
    int32_t l = have_cand ? sel[p] : candidate(labels, dist, owner, lim, p);
    sel[p] = 0;
    if (!l) continue;
    if (thr[l] != thr[l]) sel[p] = labels[p] > 0 ? l : 0; /* not refined */
    else if (img[p] > thr[l]) sel[p] = l;
  }
  /* keep what is connected to the core (4-connected); na: what each keeps */
  int64_t *na = nm_calloc((size_t)count + 1, sizeof(int64_t), err);
  if (!na) {
    st = err && err->code ? err->code : NM_ERR_NOMEM;
    goto done;
  }
  st = keep_core_connected(sel, labels, iscore, w, h, owner, (int32_t *)q, (uint8_t *)vals, na,
                           err);
  if (st) {
    free(na);
    goto done;
  }
  /* a particle left with too little (its interior fell below its own
  ** level: a hollow or very uneven particle) keeps its old pixels */
  memset(maxd, 0, sizeof(uint16_t) * ((size_t)count + 1));
  {
    for (int l = 1; l <= count; l++)
      if (area[l] > 0 && (thr[l] != thr[l] || na[l] * 4 < area[l])) maxd[l] = 1;
    /* and the background mask of step 4 in the same pass */
    for (size_t p = 0; p < n; p++) {
      int32_t l = labels[p];
      if (!(l > 0 && maxd[l])) {
        int32_t o = owner[p];
        if (o > 0 && maxd[o]) o = 0;
        labels[p] = l = o;
      }
      iscore[p] = l <= 0;
    }
    if (stats)
      for (int l = 1; l <= count; l++)
        if (area[l] > 0) {
          if (maxd[l]) stats->kept++;
          else stats->refined++;
        }
    free(na);
  }

  /* 4. holes enclosed by a single particle: 4-connected components of the
  ** background (by labelling, not a flood per component), each filled when
  ** it does not reach the border and touches exactly one particle */
  if (fill_holes) {
    int nc = 0;
    st = nm_label(iscore, w, h, 0, sel, &nc, err);
    if (st) goto done;
    int32_t *around = nm_calloc((size_t)nc + 1, sizeof(int32_t), err);
    if (!around) {
      st = err && err->code ? err->code : NM_ERR_NOMEM;
      goto done;
    }
    /* around[c]: 0 none yet, l one particle, -1 several or the border */
#define TOUCH(c, lab)                                         \
  do {                                                        \
    int32_t l_ = (lab);                                       \
    if (l_ > 0 && around[c] != l_)                            \
      around[c] = around[c] == 0 ? l_ : -1;                   \
  } while (0)
    /* a run of particle pixels (0) or of a component already known to
    ** reach the border or several particles (-1 stays) is passed at once */
    for (int y = 0; y < h; y++) {
      const int32_t *sr = sel + (size_t)y * w;
      for (int x = 0; x < w;) {
        size_t p = (size_t)y * w + x;
        int32_t c = sr[x];
        if (!c || around[c] < 0) {
          x = (int)run_end32(sr, (size_t)x + 1, (size_t)w, c);
          continue;
        }
        x++;
        if (x == 1 || y == 0 || x == w || y == h - 1) {
          around[c] = -1;
          continue;
        }
        TOUCH(c, labels[p - 1]);
        TOUCH(c, labels[p + 1]);
        TOUCH(c, labels[p - w]);
        TOUCH(c, labels[p + w]);
      }
    }
#undef TOUCH
    for (size_t p = 0; p < n;) {
      int32_t c = sel[p];
      size_t e = run_end32(sel, p + 1, n, c);
      if (c && around[c] > 0)
        for (size_t i = p; i < e; i++) labels[i] = around[c];
      p = e;
    }
    free(around);
  }

done:
  free(off);
  free(area);
  free(maxd);
  free(reach);
  free(core);
  free(bg);
  free(thr);
  free(lim);
  free(ring);
  return st;
}

/* The outer foot of a sharp edge from one particle's perimeter-averaged
** profile (s[k] / cn[k]: mean intensity in PBINS bins of signed distance
** over [-wl, wl], particle bright): where the tangent at the profile's
** steepest point meets the background level bg, as a signed distance from
** the current outline (NAN: no falling edge found). The slope at each
** position (0.1 px steps within FOOT_SEARCH of the outline) is a
** least-squares line through the bins within FOOT_HW of it, weighted by
** their pixel counts: pixel distances to a pixel outline take few values
** near it (0.5, 0.91, 1.5 ...), so single bins are sparse. Within 0.75 px
** of a pixel outline those distances are compressed and the slope reads
** steeper than it is (1.9x on a synthetic linear ramp), so the foot found
** lies short of the true tangent foot on wide ramps; wider fits (1, 1.5
** px) read a ramp right but did worse on the data (docs/accuracy.md). */
#define FOOT_WIN 6.0
#define FOOT_SEARCH 3.0
#define FOOT_HW 0.75
static double foot_offset(const double *s, const int64_t *cn, double wl, double bg) {
  double bw = 2 * wl / PBINS, best = 0, bx = NAN, bv = 0;
  for (int i = 0; i <= (int)lround(20 * FOOT_SEARCH); i++) {
    double c0 = -FOOT_SEARCH + 0.1 * i;
    double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int k = 0; k < PBINS; k++) {
      if (!cn[k]) continue;
      double x = -wl + (k + 0.5) * bw - c0;
      if (fabs(x) > FOOT_HW) continue;
      double wt = (double)cn[k], y = s[k] / (double)cn[k];
      sw += wt, sx += wt * x, sy += wt * y, sxx += wt * x * x, sxy += wt * x * y;
    }
    double den = sw * sxx - sx * sx;
    if (sw < 8 || den <= 1e-12 * sw * sw) continue;
    double beta = (sw * sxy - sx * sy) / den;
    if (-beta > best) best = -beta, bx = c0, bv = (sy - beta * sx) / sw;
  }
  if (bx != bx || !(bv > bg)) return NAN;
  /* a step sampled at pixel centres reads its foot half a pixel out (the
  ** pixel outline's own spread); spreads of independent blurs add in
  ** quadrature, so that half pixel is taken out the same way */
  double ft = bx + (bv - bg) / best;
  return ft > 0.5 ? sqrt(ft * ft - 0.25) : ft > 0 ? 0 : ft;
}

/* Outlines on a textured film. Where the film's own fluctuation is large
** against a particle's contrast, the half-contrast level lies inside the
** film's texture band: the pixels above it that connect to the particle
** include every texture grain touching it, and the soft rim there cannot be
** told from texture (annotators draw such particles on their dark core).
** Such a particle's edge is placed at NOISE_K robust sigmas of its
** background ring above the ring's median (at most NOISE_CAP of its
** contrast) instead, but not by re-thresholding pixels at that level (the
** particle's interior has the same texture and would break into pieces):
** the profile across the outline (mean intensity against signed distance
** from it), averaged over the whole perimeter, loses the texture; where it
** crosses the level is where the edge lies on average, and the outline is
** moved there as a whole (eroded or dilated by that offset, which also
** removes texture arms thinner than the offset). Particles whose half
** level is already above the film's band keep their outline.
** foot (sharp edges, on the lightly smoothed copy, after their outlines
** were put on its steepest iso-lines): every particle's outline is moved
** the same way to the outer foot of its averaged edge, where the tangent at
** the steepest point meets the background (foot_offset). The steepest line
** is where a blurred step is half-way up, but the particle begins where its
** edge leaves the film: a thinning rim (projected tetrahedra, spheres)
** makes the edge a blurred ramp whose tangent extrapolates to its foot.
** Signed distance: inside, minus the Euclidean distance to the nearest
** pixel not of this particle (a pixel touching a neighbour counts as
** outline); outside, the distance to the nearest particle, for pixels whose
** nearest particle (breadth-first, as in refine_once) is this one. */
#define NOISE_K 2.0
#define NOISE_CAP 0.85
static nm_status profile_shift(const float *img, int w, int h, int32_t *labels, int count,
                               double level, double grow, int foot, const refine_bufs *B,
                               nm_error *err) {
  size_t n = (size_t)w * h;
  float *din = nm_malloc(n, sizeof(float), err);
  float *dout = nm_malloc(n, sizeof(float), err);
  uint8_t *m = nm_malloc(n, 1, err);
  int64_t *area = nm_calloc((size_t)count + 1, sizeof(int64_t), err);
  double *ps = nm_calloc((size_t)count + 1, sizeof(double) * PBINS, err);
  int64_t *pc = nm_calloc((size_t)count + 1, sizeof(int64_t) * PBINS, err);
  double *win = nm_malloc((size_t)count + 1, sizeof(double), err);
  double *lev = nm_malloc((size_t)count + 1, sizeof(double), err);
  double *shift = nm_malloc((size_t)count + 1, sizeof(double), err);
  float *core = nm_malloc((size_t)count + 1, sizeof(float), err);
  float *bg = nm_malloc((size_t)count + 1, sizeof(float), err);
  float *sig = nm_malloc((size_t)count + 1, sizeof(float), err);
  float *maxin = nm_calloc((size_t)count + 1, sizeof(float), err);
  size_t *off = nm_malloc((size_t)count + 2, sizeof(size_t), err);
  double *ringb = nm_malloc(2 * ((size_t)count + 1), sizeof(double), err);
  uint16_t *dist = B->dist;
  int32_t *owner = B->owner, *sel = B->sel;
  uint32_t *q = B->q;
  nm_status st = NM_OK;
  if (!din || !dout || !m || !area || !ps || !pc || !win || !lev || !shift || !core || !bg ||
      !sig || !maxin || !off || !ringb) {
    st = err && err->code ? err->code : NM_ERR_NOMEM;
    goto done;
  }
  for (size_t p = 0; p < n; p++)
    if (labels[p] > 0 && labels[p] <= count) area[labels[p]]++;
  /* inside distance: to the nearest pixel not of this particle */
  nm_label_untouched(labels, w, h, m);
  st = nm_edt(m, w, h, 0, din, err);
  if (st) goto done;
  /* nearest particle of the unlabelled pixels (8-connected breadth-first
  ** from every particle pixel), as far as the background ring reaches */
  {
    size_t qh = 0, qt = 0;
    /* a particle pixel with no unlabelled 8-neighbour would expand
    ** nothing: only the others are queued (their order unchanged) */
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        size_t p = (size_t)y * w + x;
        owner[p] = labels[p] > 0 ? labels[p] : 0;
        dist[p] = labels[p] > 0 ? 0 : FAR;
        if (labels[p] <= 0) continue;
        int open = 0;
        for (int dy = -1; dy <= 1 && !open; dy++) {
          int yy = y + dy;
          if (yy < 0 || yy >= h) continue;
          for (int dx = -1; dx <= 1; dx++) {
            int xx = x + dx;
            if (xx < 0 || xx >= w) continue;
            if (labels[(size_t)yy * w + xx] <= 0) {
              open = 1;
              break;
            }
          }
        }
        if (open) q[qt++] = (uint32_t)p;
      }
    coords cw = {(size_t)w, 1.0 / (double)w};
    /* per particle once, not per queue element: its ring's bounds (ring,
    ** 2 per label) and reach (win, reused below for the profile window) */
    ring_bounds(area, count, ringb);
    for (int l = 0; l <= count; l++) win[l] = ringb[2 * l + 1] + 1;
    ptrdiff_t off8[8];
    offsets8(w, off8);
    while (qh < qt) {
      if (qh + 16 < qt) { /* as in refine_once */
        size_t f = q[qh + 16];
        __builtin_prefetch(dist + f);
        __builtin_prefetch(dist + f - (f >= (size_t)w ? (size_t)w : 0));
        __builtin_prefetch(dist + f + (f + w < n ? (size_t)w : 0));
        __builtin_prefetch(owner + f);
      }
      size_t p = q[qh++];
      int32_t l = owner[p];
      if (dist[p] >= win[l] || dist[p] >= FAR - 2) continue;
      int x, y;
      xy_of(&cw, p, &x, &y);
      qt = expand8(off8, p, x, y, w, h, (uint16_t)(dist[p] + 1), l, dist, owner, q, qt);
    }
  }
  /* core: deep interior (at least half the maximal depth); background and
  ** its robust sigma: the ring of refine_once */
  for (size_t p = 0; p < n; p++)
    if (labels[p] > 0 && din[p] > maxin[labels[p]]) maxin[labels[p]] = din[p];
  for (size_t p = 0; p < n; p++)
    sel[p] = labels[p] > 0 && 2 * din[p] >= maxin[labels[p]] ? labels[p] : 0;
  medians(img, sel, n, count, 1, B->vals, off, core);
  for (size_t p = 0; p < n; p++) {
    sel[p] = 0;
    if (labels[p] > 0 || dist[p] == FAR || owner[p] <= 0) continue;
    int32_t l = owner[p];
    if (dist[p] >= ringb[2 * l] && dist[p] <= ringb[2 * l + 1]) sel[p] = l;
  }
  medians(img, sel, n, count, 12, B->vals, off, bg);
  for (size_t p = 0; p < n; p++)
    B->dev[p] = sel[p] > 0 && bg[sel[p]] == bg[sel[p]] ? fabsf(img[p] - bg[sel[p]]) : 0;
  medians(B->dev, sel, n, count, 12, B->vals, off, sig);
  int any = 0;
  for (int l = 1; l <= count; l++) {
    double r = sqrt((double)area[l] / M_PI);
    win[l] = fmax(3.0, 0.5 * r);
    lev[l] = NAN;
    float c = core[l], b = bg[l];
    if (!(c == c && b == b && sig[l] == sig[l] && c > b) || area[l] == 0) continue;
    if (foot) {
      win[l] = FOOT_WIN;
      lev[l] = 0, any = 1;
      continue;
    }
    double f = NOISE_K * 1.4826 * sig[l] / (c - b);
    if (f > NOISE_CAP) f = NOISE_CAP;
    if (f > level) lev[l] = f, any = 1;
  }
  if (!any) goto done;
  for (size_t p = 0; p < n; p++) m[p] = labels[p] > 0;
  st = nm_edt(m, w, h, 1, dout, err);
  if (st) goto done;
  /* the profiles: PBINS bins of signed distance over [-win, +win] */
  for (size_t p = 0; p < n; p++) {
    int32_t l = labels[p] > 0 ? labels[p] : (dist[p] != FAR ? owner[p] : 0);
    if (l <= 0 || lev[l] != lev[l]) continue;
    double s = labels[p] > 0 ? -(din[p] - 0.5) : dout[p] - 0.5;
    double wl = win[l];
    long k = (long)floor((s + wl) / (2 * wl) * PBINS);
    if (k < 0 || k >= PBINS) continue;
    ps[(size_t)l * PBINS + k] += img[p];
    pc[(size_t)l * PBINS + k]++;
  }
  for (int l = 1; l <= count; l++) {
    shift[l] = NAN;
    if (lev[l] != lev[l]) continue;
    double hl = bg[l] + lev[l] * (core[l] - bg[l]), wl = win[l], bw = 2 * wl / PBINS;
    const double *s = ps + (size_t)l * PBINS;
    const int64_t *cn = pc + (size_t)l * PBINS;
    if (foot) {
      shift[l] = foot_offset(s, cn, wl, bg[l]);
      if (shift[l] == shift[l]) {
        double r = sqrt((double)area[l] / M_PI);
        double lo = -0.5 * r, hi = fmax(1.0, grow * r);
        shift[l] = shift[l] < lo ? lo : shift[l] > hi ? hi : shift[l];
      }
      continue;
    }
    /* the falling crossing (bright inside) nearest the current outline;
    ** bins finer than the pixel distances' spacing may be empty: crossings
    ** are read between consecutive bins that hold pixels */
    double best = NAN;
    int k = 0;
    while (k < PBINS && cn[k] < 3) k++;
    while (k < PBINS) {
      int k2 = k + 1;
      while (k2 < PBINS && cn[k2] < 3) k2++;
      if (k2 >= PBINS) break;
      double a = s[k] / (double)cn[k], bb = s[k2] / (double)cn[k2];
      if (a >= hl && bb < hl) {
        double sc = -wl + (k + 0.5 + (a - hl) / (a - bb) * (k2 - k)) * bw;
        if (best != best || fabs(sc) < fabs(best)) best = sc;
      }
      k = k2;
    }
    if (best == best) {
      double r = sqrt((double)area[l] / M_PI);
      double lo = -0.5 * r, hi = fmax(1.0, grow * r);
      shift[l] = best < lo ? lo : best > hi ? hi : best;
    }
  }
  /* move each outline by its shift */
  for (size_t p = 0; p < n; p++) {
    int32_t l = labels[p];
    if (l > 0) {
      sel[p] = shift[l] == shift[l] && -(din[p] - 0.5) >= shift[l] ? 0 : l;
    } else {
      int32_t o = dist[p] != FAR ? owner[p] : 0;
      sel[p] = o > 0 && shift[o] == shift[o] && dout[p] - 0.5 < shift[o] ? o : 0;
    }
  }
  /* keep the part connected to the deep interior (an arm cut off by the
  ** erosion is not the particle) */
  for (size_t p = 0; p < n; p++)
    m[p] = labels[p] > 0 && 2 * din[p] >= maxin[labels[p]] && sel[p] == labels[p];
  /* a particle the shift would empty keeps its outline (area: what each keeps) */
  memset(area, 0, sizeof(int64_t) * ((size_t)count + 1));
  st = keep_core_connected(sel, sel, m, w, h, owner, (int32_t *)q, (uint8_t *)B->vals, area,
                           err);
  if (st) goto done;
  for (size_t p = 0; p < n; p++) {
    int32_t l = labels[p];
    if (l > 0 && area[l] == 0) continue;
    int32_t o = owner[p];
    labels[p] = o > 0 && area[o] > 0 ? o : 0;
  }
done:
  free(din);
  free(dout);
  free(m);
  free(area);
  free(ps);
  free(pc);
  free(win);
  free(lev);
  free(shift);
  free(core);
  free(bg);
  free(sig);
  free(maxin);
  free(off);
  free(ringb);
  return st;
}

/* Two passes: a starting outline far too tight puts part of the particle's
** own rim into its background ring; the second pass measures the ring from
** the corrected outline. */
nm_status nm_refine_outlines(const float *img, int w, int h, int32_t *labels, int count,
                             double level, double grow, int edge_search, double edge_ratio,
                             double anchor, double anchor_weight, int fill_holes,
                             nm_refine_stats *stats, nm_error *err) {
  return nm_refine_outlines_fine(img, NULL, NULL, w, h, labels, count, level, grow, edge_search,
                                 edge_ratio, anchor, anchor_weight, fill_holes, stats, err);
}

nm_status nm_refine_outlines_fine(const float *img, const float *fine, const float *raw, int w,
                                  int h, int32_t *labels, int count, double level, double grow,
                                  int edge_search, double edge_ratio, double anchor,
                                  double anchor_weight, int fill_holes, nm_refine_stats *stats,
                                  nm_error *err) {
  if (!img || !labels || w <= 0 || h <= 0 || count <= 0)
    return refine_once(img, w, h, labels, count, level, grow, edge_search, edge_ratio, anchor,
                       anchor_weight, fill_holes, stats, NULL, err);
  size_t n = (size_t)w * h;
  refine_bufs B;
  B.dist = nm_malloc(n, sizeof(uint16_t), err);
  B.owner = nm_malloc(n, sizeof(int32_t), err);
  B.sel = nm_malloc(n, sizeof(int32_t), err);
  B.q = nm_malloc(n, sizeof(uint32_t), err);
  B.vals = nm_malloc(n, sizeof(float), err);
  B.dev = nm_malloc(n, sizeof(float), err);
  B.iscore = nm_malloc(n, 1, err);
  nm_status st = NM_OK;
  if (!B.dist || !B.owner || !B.sel || !B.q || !B.vals || !B.dev || !B.iscore)
    st = err && err->code ? err->code : NM_ERR_NOMEM;
  B.probe = 0;
  B.fine_taken = 0;
  for (int pass = 0; pass < 2 && st == NM_OK; pass++) {
    B.edge_taken = 0;
    st = refine_once(img, w, h, labels, count, level, grow, edge_search, edge_ratio, anchor,
                     anchor_weight, fill_holes, stats, &B, err);
  }
  /* sharp edges: their steepest iso-lines are read again on the lightly
  ** smoothed image. The particle-scale smoothing of img moves the steepest
  ** line of an asymmetric edge (a thinning rim inside a sharp step) inwards
  ** by a good part of its sigma. The same gate must open on fine too (its
  ** film texture is less smoothed): else the outlines of img stand */
  if (st == NM_OK && B.edge_taken && fine) {
    int32_t *keep = nm_malloc(n, sizeof(int32_t), err);
    if (!keep) st = err && err->code ? err->code : NM_ERR_NOMEM;
    if (keep) {
      memcpy(keep, labels, sizeof(int32_t) * n);
      B.edge_taken = 0;
      B.probe = stats == NULL; /* stats report the discarded pass too */
      st = refine_once(fine, w, h, labels, count, level, grow, 1, edge_ratio, NAN, 0, fill_holes,
                       stats, &B, err);
      if (st == NM_OK && !B.edge_taken) memcpy(labels, keep, sizeof(int32_t) * n);
      else if (st == NM_OK) {
        st = refine_once(fine, w, h, labels, count, level, grow, 1, 0, NAN, 0, fill_holes, stats,
                         &B, err);
        B.fine_taken = 1;
      }
      B.edge_taken = 1;
      B.probe = 0;
      free(keep);
    }
  }
  /* sharp edges (the steepest iso-lines were taken) stand out of the film's
  ** texture by the gate's own measure: nothing to hide their rim */
  if (st == NM_OK && !B.edge_taken)
    st = profile_shift(img, w, h, labels, count, level, grow, 0, &B, err);
  /* a sharp edge's outer foot: see profile_shift */
  if (st == NM_OK && B.fine_taken)
    st = profile_shift(raw ? raw : fine, w, h, labels, count, level, grow, 1, &B, err);
  free(B.dist);
  free(B.owner);
  free(B.sel);
  free(B.q);
  free(B.vals);
  free(B.dev);
  free(B.iscore);
  return st;
}
