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

#include "label.h"
#include "parallel.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define BIG 1e20

/* 1-D squared EDT of f[0..n) into d; v scratch of n, z of 3n + 3.
** Infinite samples (>= BIG / 2: no target in that column) have no parabola
** at all; when no sample is finite d is BIG. Intersections are kept as
** fractions num / den (den > 0) and compared by cross-multiplying: every
** quantity is an integer and the products stay far under 2^53 for image
** sides up to 2^16, so the comparisons are exact and no division is made.
** The minimum at each position is the exact lower envelope, as the former
** rounded-quotient form also gave (distinct intersections never rounded to
** the same double); which of two equal parabolas wins a tie does not
** matter, they give equal values. */
static void edt_1d(const double *f, double *d, int n, int *v, double *z) {
  /* g[k] = f[v[k]] + v[k]^2 of the envelope's parabolas, kept beside v so
  ** the pops do not go back to f through v (the same exact values) */
  double *zn = z, *zd = z + n + 1, *g = z + 2 * (size_t)n + 2;
  int k = -1;
  for (int q = 0; q < n; q++) {
    if (f[q] >= BIG / 2) continue;
    double fq = f[q] + (double)q * q;
    if (k < 0) {
      v[k = 0] = q;
      g[0] = fq;
      continue;
    }
    double a, b;
    for (;;) {
      int p = v[k];
      a = fq - g[k];
      b = 2.0 * (q - p);
      /* s = a / b <= z[k] = zn / zd (z[0] = -infinity: never) */
      if (k > 0 && a * zd[k] <= zn[k] * b) {
        k--;
        continue;
      }
      break;
    }
    k++;
    v[k] = q;
    g[k] = fq;
    zn[k] = a;
    zd[k] = b;
  }
  if (k < 0) {
    for (int q = 0; q < n; q++) d[q] = BIG;
    return;
  }
  int top = k;
  k = 0;
  int vk = v[0];
  double fk = f[vk];
  for (int q = 0; q < n; q++) {
    /* z[k + 1] < q */
    if (k < top && zn[k + 1] < (double)q * zd[k + 1]) {
      do k++;
      while (k < top && zn[k + 1] < (double)q * zd[k + 1]);
      vk = v[k];
      fk = f[vk];
    }
    double dq = q - vk;
    d[q] = dq * dq + fk;
  }
}

/* Row pass of the squared EDT over one row: f holds the squared column
** distances (BIG where the column has no target). A sample with f == 0 is
** its own nearest point, and no parabola beyond the nearest zero on either
** side can win inside a run (it is farther and starts no lower), so each run
** of nonzero samples is solved with the parabolas from the zero before it to
** the zero after it. The envelope is exact (edt_1d), so this gives the
** same minimum as one envelope over the whole row. */
static void edt_row(double *f, double *d, int n, int *v, double *z) {
  int x = 0;
  while (x < n) {
    if (f[x] == 0) {
      d[x++] = 0;
      continue;
    }
    int a = x; /* run [a, b) of nonzero samples */
    while (x < n && f[x] != 0) x++;
    int b = x;
    if (a == 0 && b == n) {
      edt_1d(f, d, n, v, z);
      return;
    }
    int lo = a > 0 ? a - 1 : a, hi = b < n ? b + 1 : b;
    edt_1d(f + lo, d + lo, hi - lo, v, z);
    if (lo < a) d[lo] = 0;
    if (hi > b) d[b] = 0;
  }
}

/* The passes over slices (parallel.h): the column sweeps over blocks of
** columns, the row pass over blocks of rows. Each row or column goes through
** the same operations whatever slice holds it. */
typedef struct edt_job {
  const uint8_t *mask;
  int w, h, invert, root;
  float *dist2, *below;
  double bound; /* parabolas with f > bound left out (erode/dilate); BIG: none */
  double *buf[64]; /* per slice: f, d, z (5m + 5) */
  int *v[64];      /* per slice: m + 1 */
} edt_job;

/* NONE (no target on that side) absorbs +1 in float. */
static const float NONE = 1e30f;

/* Column pass as two sweeps over whole rows (unit stride) of columns
** [x0, x1): the distance to the nearest target above, then below. */
static void edt_cols(void *arg, int t, int nt) {
  const edt_job *J = arg;
  int w = J->w, h = J->h, x0, x1;
  nm_slice(w, t, nt, 16, &x0, &x1);
  if (x1 <= x0) return;
  uint8_t tv = J->invert ? 1 : 0;
  for (int y = 0; y < h; y++) {
    const uint8_t *mr = J->mask + (size_t)y * w;
    float *row = J->dist2 + (size_t)y * w;
    const float *up = y ? row - w : NULL;
    for (int x = x0; x < x1; x++) {
      int target = (mr[x] != 0) == tv;
      row[x] = target ? 0.0f : (up ? up[x] + 1.0f : NONE);
    }
  }
  float *below = J->below;
  for (int x = x0; x < x1; x++) below[x] = NONE;
  for (int y = h - 1; y >= 0; y--) {
    float *row = J->dist2 + (size_t)y * w;
    for (int x = x0; x < x1; x++) {
      float b = below[x] + 1.0f, g = row[x] < b ? row[x] : b;
      below[x] = g;
      /* squared in float: the exact square rounded once, as (float) of the
      ** exact double square would be */
      row[x] = g >= NONE ? (float)BIG : g * g;
    }
  }
}

static void edt_rows(void *arg, int t, int nt) {
  const edt_job *J = arg;
  int w = J->w, h = J->h, y0, y1, m = w > h ? w : h;
  nm_slice(h, t, nt, 1, &y0, &y1);
  double *f = J->buf[t], *d = f + m, *z = f + 2 * m;
  int *v = J->v[t];
  float cap = (float)(w + h) * (float)(w + h);
  for (int y = y0; y < y1; y++) {
    float *row = J->dist2 + (size_t)y * w;
    int x = 0;
#if defined(__SSE2__)
    /* four at a time, the same IEEE operations (exact conversions, the
    ** comparisons as selects, minps(cap, r) being r > cap ? cap : r and
    ** sqrtps the correctly rounded square root, as sqrtf) */
    const __m128d half = _mm_set1_pd(BIG / 2), big = _mm_set1_pd(BIG);
    const __m128d thr = _mm_set1_pd((double)(float)(BIG / 2)), bnd = _mm_set1_pd(J->bound);
    for (; x + 4 <= w; x += 4) {
      __m128 r4 = _mm_loadu_ps(row + x);
      __m128d lo = _mm_cvtps_pd(r4), hi = _mm_cvtps_pd(_mm_movehl_ps(r4, r4));
      __m128d ml = _mm_or_pd(_mm_cmpge_pd(lo, thr), _mm_cmpgt_pd(lo, bnd));
      __m128d mh = _mm_or_pd(_mm_cmpge_pd(hi, thr), _mm_cmpgt_pd(hi, bnd));
      _mm_storeu_pd(f + x, _mm_or_pd(_mm_and_pd(ml, big), _mm_andnot_pd(ml, lo)));
      _mm_storeu_pd(f + x + 2, _mm_or_pd(_mm_and_pd(mh, big), _mm_andnot_pd(mh, hi)));
    }
#endif
    for (; x < w; x++) f[x] = row[x] >= (float)(BIG / 2) || row[x] > J->bound ? BIG : row[x];
    edt_row(f, d, w, v, z);
    x = 0;
#if defined(__SSE2__)
    const __m128 capv = _mm_set1_ps(cap);
    for (; x + 4 <= w; x += 4) {
      __m128d a = _mm_loadu_pd(d + x), b = _mm_loadu_pd(d + x + 2);
      __m128d ma = _mm_cmplt_pd(a, half), mb = _mm_cmplt_pd(b, half);
      a = _mm_or_pd(_mm_and_pd(ma, a), _mm_andnot_pd(ma, big));
      b = _mm_or_pd(_mm_and_pd(mb, b), _mm_andnot_pd(mb, big));
      __m128 r = _mm_movelh_ps(_mm_cvtpd_ps(a), _mm_cvtpd_ps(b));
      r = _mm_min_ps(capv, r);
      _mm_storeu_ps(row + x, J->root ? _mm_sqrt_ps(r) : r);
    }
#endif
    if (J->root)
      for (; x < w; x++) {
        float r = (float)(d[x] < BIG / 2 ? d[x] : BIG);
        row[x] = sqrtf(r > cap ? cap : r);
      }
    else
      for (; x < w; x++) {
        float r = (float)(d[x] < BIG / 2 ? d[x] : BIG);
        row[x] = r > cap ? cap : r;
      }
  }
}

/* The squared EDT, or its square root (root: sqrtf of the same float,
** taken row by row while the row is in cache). */
static nm_status edt_any(const uint8_t *mask, int w, int h, int invert, float *dist2, int root,
                         double bound, nm_error *err) {
  int m = w > h ? w : h;
  int nt = nm_threads_for((size_t)w * h);
  if (nt > 64) nt = 64;
  size_t per = (size_t)5 * m + 5, perv = (size_t)m + 1;
  double *buf = NULL;
  int *v = NULL;
  for (;;) {
    buf = malloc((size_t)nt * per * sizeof(double));
    v = malloc((size_t)nt * perv * sizeof(int));
    if ((buf && v) || nt == 1) break;
    free(buf);
    free(v);
    nt = 1;
  }
  float *below = nm_malloc((size_t)w, sizeof(float), err);
  if (!buf || !v || !below) {
    free(buf);
    free(v);
    free(below);
    if (err && !err->code) nm_fail(err, NM_ERR_NOMEM, "edt: out of memory");
    return err ? err->code : NM_ERR_NOMEM;
  }
  edt_job J = {mask, w, h, invert, root, dist2, below, bound, {0}, {0}};
  for (int t = 0; t < nt; t++) {
    J.buf[t] = buf + (size_t)t * per;
    J.v[t] = v + (size_t)t * perv;
  }
  nm_parallel(nt, edt_cols, &J);
  nm_parallel(nt, edt_rows, &J);
  free(buf);
  free(v);
  free(below);
  return NM_OK;
}

nm_status nm_edt_sq(const uint8_t *mask, int w, int h, int invert, float *dist2,
                    nm_error *err) {
  return edt_any(mask, w, h, invert, dist2, 0, BIG, err);
}

nm_status nm_edt(const uint8_t *mask, int w, int h, int invert, float *dist,
                 nm_error *err) {
  return edt_any(mask, w, h, invert, dist, 1, BIG, err);
}

/* Erosion and dilation only ask whether a squared distance d (an integer)
** is over r2: the row pass leaves out the parabolas whose f is over r2
** (edt_job.bound). The one giving the minimum has f <= d, so where d <= r2
** it stays in and the value is exact; where d > r2 the value found is still
** over r2 (or BIG). Inside large particles, far from the border, nearly
** every parabola is left out. */
nm_status nm_erode_disc(const uint8_t *in, uint8_t *out, int w, int h, double r,
                        float *dist2, nm_error *err) {
  float r2 = (float)(r * r);
  nm_status st = edt_any(in, w, h, 0, dist2, 0, r2 >= 0 ? (double)r2 : 0, err);
  if (st) return st;
  size_t n = (size_t)w * h;
  /* a pixel survives when the whole disc of radius r around it is inside */
  for (size_t i = 0; i < n; i++) out[i] = in[i] && dist2[i] > r2;
  return NM_OK;
}

nm_status nm_dilate_disc(const uint8_t *in, uint8_t *out, int w, int h, double r,
                         float *dist2, nm_error *err) {
  float r2 = (float)(r * r);
  nm_status st = edt_any(in, w, h, 1, dist2, 0, r2 >= 0 ? (double)r2 : 0, err);
  if (st) return st;
  size_t n = (size_t)w * h;
  for (size_t i = 0; i < n; i++) out[i] = in[i] || dist2[i] <= r2;
  return NM_OK;
}

/* Hole filling by runs: the background runs of each row are united with
** the runs of the row above they share a column with (4-connectivity) and
** with node 0, the outside, when they touch the border; a run whose root is
** not 0 is a hole. The same pixels as the flood from the border, with one
** union per pair of touching runs instead of a queue entry per pixel. par:
** one entry per run + 1. Returns 0 (nothing changed) without memory. */
static int fill_holes_runs(uint8_t *mask, int w, int h, int32_t *par) {
  typedef struct brun {
    int x0, x1;
    int32_t id;
  } brun;
  size_t cap = (size_t)w / 2 + 2;
  brun *rb = malloc(2 * cap * sizeof *rb);
  if (!rb) return 0;
  brun *prev = rb, *cur = rb + cap;
  int nprev = 0;
  int32_t next = 1;
  par[0] = 0;
  for (int y = 0; y < h; y++) {
    const uint8_t *row = mask + (size_t)y * w;
    int ncur = 0, j = 0, x = 0;
    while (x < w) {
      if (row[x]) {
        x++;
        continue;
      }
      int x0 = x;
      while (x < w && !row[x]) x++;
      int32_t id = next++;
      par[id] = id;
      if (y == 0 || y == h - 1 || x0 == 0 || x == w) nm_uf_union(par, id, 0);
      while (j < nprev && prev[j].x1 <= x0) j++;
      for (int k = j; k < nprev && prev[k].x0 < x; k++) nm_uf_union(par, id, prev[k].id);
      cur[ncur].x0 = x0;
      cur[ncur].x1 = x;
      cur[ncur].id = id;
      ncur++;
    }
    brun *t = prev;
    prev = cur;
    cur = t;
    nprev = ncur;
  }
  free(rb);
  /* runs again in the same order (same ids): outside -> 0, holes -> 1;
  ** foreground -> 1, except the value 2, which the flood used as its mark
  ** (kept for identical output) */
  next = 1;
  for (int y = 0; y < h; y++) {
    uint8_t *row = mask + (size_t)y * w;
    int x = 0;
    while (x < w) {
      if (row[x]) {
        row[x] = row[x] != 2;
        x++;
        continue;
      }
      int x0 = x;
      while (x < w && !row[x]) x++;
      if (nm_uf_find(par, next++) != 0) memset(row + x0, 1, (size_t)(x - x0));
    }
  }
  return 1;
}

void nm_fill_holes(uint8_t *mask, int w, int h, int32_t *queue) {
  size_t n = (size_t)w * h;
  /* at most ceil(w/2) background runs per row, + node 0: fits in queue
  ** for w >= 2 */
  if (w >= 2 && ((size_t)w + 1) / 2 * (size_t)h + 1 <= n && n <= (size_t)INT32_MAX &&
      fill_holes_runs(mask, w, h, queue))
    return;
  /* mark border-reachable background as 2 with a BFS, then fill the rest */
  size_t head = 0, tail = 0;
  double invw = 1.0 / (double)w;
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
    /* row from a double product, corrected: no 64-bit division per pixel */
    size_t yq = (size_t)((double)i * invw);
    if (yq * (size_t)w > i) yq--;
    else if (i - yq * (size_t)w >= (size_t)w) yq++;
    int y = (int)yq, x = (int)(i - yq * (size_t)w);
    if (x > 0) SEED(i - 1);
    if (x < w - 1) SEED(i + 1);
    if (y > 0) SEED(i - w);
    if (y < h - 1) SEED(i + w);
  }
#undef SEED
  for (size_t i = 0; i < n; i++) mask[i] = mask[i] != 2;
}
