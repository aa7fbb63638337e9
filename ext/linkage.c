/* linkage.c — NN-chain / Prim linkage, cut, leaf order, ccc (see linkage.h). */
#include "linkage.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

static const char *const method_names[] = {"ward", "average", "complete", "single"};

int nm_linkage_parse(const char *name) {
  if (!name) return -1;
  for (int i = 0; i < 4; i++)
    if (!strcmp(name, method_names[i])) return i;
  return -1;
}

const char *nm_linkage_name(nm_linkage_method m) {
  return (unsigned)m < 4 ? method_names[m] : "?";
}

/* A raw merge before sorting: representatives x < y of the two clusters. */
typedef struct raw_merge {
  int x, y;
  double h;
} raw_merge;

/* qsort is not stable: ties in height are broken on the original position,
** which makes the order SciPy's (it uses a stable merge sort). */
typedef struct keyed_merge {
  raw_merge r;
  size_t pos;
} keyed_merge;

static int cmp_keyed(const void *pa, const void *pb) {
  const keyed_merge *a = pa, *b = pb;
  if (a->r.h < b->r.h) return -1;
  if (a->r.h > b->r.h) return 1;
  return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* Union-find over rows. */
static int uf_find(int *parent, int i) {
  while (parent[i] != i) {
    parent[i] = parent[parent[i]];
    i = parent[i];
  }
  return i;
}

/* Sorts by height (stably) and relabels the representatives into SciPy
** cluster ids. */
/* A chain's reciprocal pair (xq, yq), positions in the working arrays, made
** x < y so that x is the one that disappears, and recorded with the original
** ids. */
static void record_pair(raw_merge *r, const int *orig, int *xq, int *yq, double h) {
  if (*xq > *yq) {
    int tmp = *xq;
    *xq = *yq;
    *yq = tmp;
  }
  r->x = orig[*xq];
  r->y = orig[*yq];
  r->h = h;
}

static nm_status finish_tree(raw_merge *raw, size_t n, nm_merge *z, nm_error *err) {
  size_t m = n - 1;
  keyed_merge *k = nm_malloc(m, sizeof *k, err);
  int *parent = nm_malloc(n, sizeof(int), err);
  int *cid = nm_malloc(n, sizeof(int), err);
  int *csize = nm_malloc(n, sizeof(int), err);
  if (!k || !parent || !cid || !csize) {
    free(k);
    free(parent);
    free(cid);
    free(csize);
    return err->code;
  }
  for (size_t t = 0; t < m; t++) {
    k[t].r = raw[t];
    k[t].pos = t;
  }
  qsort(k, m, sizeof *k, cmp_keyed);
  for (size_t i = 0; i < n; i++) {
    parent[i] = (int)i;
    cid[i] = (int)i;
    csize[i] = 1;
  }
  for (size_t t = 0; t < m; t++) {
    int rx = uf_find(parent, k[t].r.x), ry = uf_find(parent, k[t].r.y);
    int a = cid[rx], b = cid[ry];
    if (a > b) {
      int tmp = a;
      a = b;
      b = tmp;
    }
    z[t].a = a;
    z[t].b = b;
    z[t].height = k[t].r.h;
    z[t].size = csize[rx] + csize[ry];
    parent[ry] = rx;
    cid[rx] = (int)(n + t);
    csize[rx] = z[t].size;
  }
  free(k);
  free(parent);
  free(cid);
  free(csize);
  return NM_OK;
}

static nm_status linkage_single(const double *x, size_t n, int d, raw_merge *raw,
                                const nm_progress *progress, nm_error *err) {
  double *dmin = nm_malloc(n, sizeof(double), err);
  double *dots = nm_malloc(n, sizeof(double), err);
  double *norms = nm_malloc(n, sizeof(double), err);
  unsigned char *in = nm_calloc(n, 1, err);
  if (!dmin || !dots || !norms || !in) {
    free(dmin);
    free(dots);
    free(norms);
    free(in);
    return err->code;
  }
  nm_row_sqnorms(x, n, d, norms);
  for (size_t i = 0; i < n; i++) dmin[i] = INFINITY;
  size_t cur = 0;
  in[0] = 1;
  nm_status st = NM_OK;
  for (size_t t = 0; t + 1 < n; t++) {
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, d, 1.0, x, d, x + cur * (size_t)d, 1, 0.0,
                dots, 1);
    double best = INFINITY;
    size_t y = 0;
    int found = 0;
    for (size_t j = 0; j < n; j++) {
      if (in[j]) continue;
      double v = norms[cur] + norms[j] - 2 * dots[j];
      v = v > 0 ? sqrt(v) : 0;
      if (v < dmin[j]) dmin[j] = v;
      if (!found || dmin[j] < best) {
        best = dmin[j];
        y = j;
        found = 1;
      }
    }
    raw[t].x = (int)(cur < y ? cur : y);
    raw[t].y = (int)(cur < y ? y : cur);
    raw[t].h = best;
    in[y] = 1;
    cur = y;
    if ((t & 63) == 0 && nm_progress_tick(progress, (double)t, (double)n, "single linkage")) {
      st = nm_fail(err, NM_ERR_INTERRUPTED, "interrupted");
      break;
    }
  }
  free(dmin);
  free(dots);
  free(norms);
  free(in);
  return st;
}

/* Lance–Williams update of d(k, x ∪ y) for the matrix methods (Ward has
** its own chain on centroids, linkage_ward). */
static inline double lw(nm_linkage_method m, double dx, double dy, double nx, double ny) {
  return m == NM_LINK_AVERAGE ? (nx * dx + ny * dy) / (nx + ny) : dx > dy ? dx : dy;
}

/* Smallest of row[i] + pen[i] over i < dim (pen is 0 for live clusters,
** +inf for dead ones) and the first index holding it: the scalar loop's
** result (strictly smaller replaces), two vector passes. */
static size_t row_argmin(const double *row, const double *pen, size_t dim, double *minv) {
  size_t i = 0;
  double m = INFINITY;
#ifdef __SSE2__
  __m128d m0 = _mm_set1_pd(INFINITY), m1 = m0, m2 = m0, m3 = m0;
  for (; i + 8 <= dim; i += 8) {
    m0 = _mm_min_pd(m0, _mm_add_pd(_mm_loadu_pd(row + i), _mm_loadu_pd(pen + i)));
    m1 = _mm_min_pd(m1, _mm_add_pd(_mm_loadu_pd(row + i + 2), _mm_loadu_pd(pen + i + 2)));
    m2 = _mm_min_pd(m2, _mm_add_pd(_mm_loadu_pd(row + i + 4), _mm_loadu_pd(pen + i + 4)));
    m3 = _mm_min_pd(m3, _mm_add_pd(_mm_loadu_pd(row + i + 6), _mm_loadu_pd(pen + i + 6)));
  }
  m0 = _mm_min_pd(_mm_min_pd(m0, m1), _mm_min_pd(m2, m3));
  double lanes[2];
  _mm_storeu_pd(lanes, m0);
  m = lanes[0] < lanes[1] ? lanes[0] : lanes[1];
#endif
  for (; i < dim; i++) {
    double v = row[i] + pen[i];
    if (v < m) m = v;
  }
  *minv = m;
  for (i = 0; i < dim; i++)
    if (row[i] + pen[i] == m) return i;
  return 0;
}

/* Copies into row p the entries of the clusters created since the row was
** last current (see linkage_nnchain); now = merges done so far. */
static inline void bring_up_to_date(double *D, size_t dim, int p, int now, const int *size,
                                    int *stamp, const int *born, const int *created) {
  double *row = D + (size_t)p * dim;
  /* Each copy is a cache miss in another row: prefetch a few ahead. */
  enum { AHEAD = 16 };
  for (int s = stamp[p]; s < now; s++) {
    if (s + AHEAD < now && created[s + AHEAD] >= 0)
      __builtin_prefetch(D + (size_t)created[s + AHEAD] * dim + p, 0, 0);
    int c = created[s];
    if (c >= 0 && size[c] && born[c] == s + 1) row[c] = D[(size_t)c * dim + p];
  }
  stamp[p] = now;
}

static nm_status linkage_nnchain(const double *x, size_t n, int d, nm_linkage_method m,
                                 raw_merge *raw, const nm_progress *progress, nm_error *err) {
  double *D = nm_malloc(n * n, sizeof(double), err);
  double *norms = nm_malloc(n, sizeof(double), err);
  int *size = nm_malloc(n, sizeof(int), err);
  int *chain = nm_malloc(n, sizeof(int), err);
  int *active = nm_malloc(n, sizeof(int), err); /* position -> row id */
  size_t *newpos = nm_malloc(n, sizeof(size_t), err);
  int *stamp = nm_malloc(n, sizeof(int), err);
  int *born = nm_malloc(n, sizeof(int), err);
  int *created = nm_malloc(n, sizeof(int), err);
  double *pen = nm_malloc(n, sizeof(double), err);
  nm_status st = NM_OK;
  if (!D || !norms || !size || !chain || !active || !newpos || !stamp || !born || !created ||
      !pen) {
    st = err->code;
    goto done;
  }
  nm_row_sqnorms(x, n, d, norms);
  /* Upper triangle only, in row blocks (half the dgemm work; progress and
  ** interrupt honoured between blocks): D[i][j>=i] = |xi - xj| from
  ** |xi|^2 + |xj|^2 - 2 xi.xj. */
  for (size_t r0 = 0; r0 < n; r0 += 512) {
    size_t nr = n - r0 < 512 ? n - r0 : 512;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nr, (int)(n - r0), d, -2.0,
                x + r0 * (size_t)d, d, x + r0 * (size_t)d, d, 0.0, D + r0 * n + r0, (int)n);
    for (size_t i = r0; i < r0 + nr; i++) {
      double *row = D + i * n;
      row[i] = INFINITY; /* a cluster is never its own neighbour */
      for (size_t j = i + 1; j < n; j++) {
        double v = row[j] + norms[i] + norms[j];
        v = v > 0 ? v : 0;
        row[j] = sqrt(v);
      }
    }
    if (nm_progress_tick(progress, (double)r0, (double)n, "distances")) {
      st = nm_fail(err, NM_ERR_INTERRUPTED, "interrupted");
      goto done;
    }
  }
  /* Mirror the upper triangle down in 64 x 64 tiles so the strided side
  ** stays in cache; the matrix is then exactly symmetric. */
  enum { T = 64 };
  for (size_t i0 = 0; i0 < n; i0 += T) {
    size_t i1 = i0 + T < n ? i0 + T : n;
    for (size_t j0 = i0; j0 < n; j0 += T) {
      size_t j1 = j0 + T < n ? j0 + T : n;
      for (size_t i = i0; i < i1; i++)
        for (size_t j = (j0 > i + 1 ? j0 : i + 1); j < j1; j++) D[j * n + i] = D[i * n + j];
    }
  }
  /* Positions 0..dim-1 index the (compacted) matrix; orig[] maps them to
  ** row ids. When half the clusters are gone the live rows and columns are
  ** packed to the front (in place, order kept), so scans stay contiguous and
  ** short; the order of positions is the order of ids, so the scan order and
  ** its ties are SciPy's.
  **
  ** A merge rewrites the row of the new cluster but not its column: writing
  ** one element into every other row costs a cache miss (and a TLB miss) per
  ** row, and was half the run time. Instead a row is brought up to date when
  ** it is next read: born[p] is the merge (1-based) that wrote row p,
  ** stamp[p] the merge count when row p was last made current, created[s]
  ** the position written by merge s + 1. Row p's entry for a live cluster c
  ** is stale exactly when born[c] > stamp[p], and the current value is then
  ** D[c][p]. Only rows that are read again pay, and only for clusters still
  ** alive, so the values are the same as with eager updates, bit for bit. */
  size_t dim = n, nact = n;
  int *orig = active;
  for (size_t i = 0; i < n; i++) {
    size[i] = 1;
    orig[i] = (int)i;
    stamp[i] = 0;
    born[i] = 0;
    pen[i] = 0;
  }
  size_t len = 0;
  for (size_t t = 0; t + 1 < n; t++) {
    if (len == 0) {
      size_t p0 = 0;
      while (size[p0] == 0) p0++;
      chain[len++] = (int)p0;
    }
    int xq = 0, yq = 0;
    double cur;
    for (;;) {
      xq = chain[len - 1];
      double *row = D + (size_t)xq * dim;
      bring_up_to_date(D, dim, xq, (int)t, size, stamp, born, created);
      if (len > 1) {
        yq = chain[len - 2];
        cur = row[yq];
      } else {
        cur = INFINITY;
      }
      double best;
      size_t at = row_argmin(row, pen, dim, &best);
      if (best < cur) {
        cur = best;
        yq = (int)at;
      }
      if (len > 1 && yq == chain[len - 2]) break;
      chain[len++] = yq;
    }
    len -= 2;
    record_pair(&raw[t], orig, &xq, &yq, cur);
    double nx = size[xq], ny = size[yq];
    /* x disappears, y holds the union. The row scanned last is current;
    ** the other was scanned before the chain's previous merge, perhaps. */
    bring_up_to_date(D, dim, xq, (int)t, size, stamp, born, created);
    bring_up_to_date(D, dim, yq, (int)t, size, stamp, born, created);
    double *rx = D + (size_t)xq * dim, *ry = D + (size_t)yq * dim;
    for (size_t i = 0; i < dim; i++) {
      if (!size[i] || (int)i == xq || (int)i == yq) continue;
      ry[i] = lw(m, rx[i], ry[i], nx, ny);
    }
    size[yq] = (int)(nx + ny);
    size[xq] = 0;
    pen[xq] = INFINITY;
    born[yq] = stamp[yq] = (int)t + 1;
    created[t] = yq;
    nact--;
    if (nact * 2 <= dim && dim > 256) {
      size_t k = 0;
      for (size_t i = 0; i < dim; i++) newpos[i] = size[i] ? k++ : (size_t)-1;
      for (size_t i = 0; i < dim; i++) {
        if (!size[i]) continue;
        const double *src = D + i * dim;
        double *dst = D + newpos[i] * nact;
        for (size_t j = 0; j < dim; j++)
          if (size[j]) dst[newpos[j]] = src[j];
      }
      for (size_t i = 0; i < dim; i++)
        if (size[i]) {
          size[newpos[i]] = size[i];
          orig[newpos[i]] = orig[i];
          stamp[newpos[i]] = stamp[i];
          born[newpos[i]] = born[i];
        }
      for (size_t s = 0; s <= t; s++)
        if (created[s] >= 0)
          created[s] = newpos[created[s]] == (size_t)-1 ? -1 : (int)newpos[created[s]];
      for (size_t c = 0; c < len; c++) chain[c] = (int)newpos[chain[c]];
      for (size_t i = 0; i < nact; i++) pen[i] = 0;
      dim = nact;
    }
    if ((t & 31) == 0 && nm_progress_tick(progress, (double)t, (double)n, "linkage")) {
      st = nm_fail(err, NM_ERR_INTERRUPTED, "interrupted");
      goto done;
    }
  }
done:
  free(D);
  free(norms);
  free(size);
  free(chain);
  free(active);
  free(newpos);
  free(stamp);
  free(born);
  free(created);
  free(pen);
  return st;
}

/* ---- Ward by centroids -------------------------------------------------
**
** Ward's distance between clusters a and b is a function of their sizes and
** centroids only: squared height 2 na nb / (na + nb) * |ca - cb|^2, which is
** what the Lance–Williams recurrence reproduces on a matrix. So the chain
** needs no n x n matrix: a search from cluster x evaluates its distance to
** every live centroid. To make that cheap, each search runs in two passes:
**
**   1. a float filter over a blocked copy of the centroids (8 clusters x d
**      coordinates per block, scaled by a power of two so nothing overflows)
**      computes f (|cj|^2 + |cx|^2 - 2 cj.cx) with a rigorous error bound
**      e_j: lo_j = value - e_j <= exact <= value + e_j = hi_j, and
**      U = min hi_j bounds the exact minimum from above;
**   2. every cluster with lo_j <= U (all clusters at the minimum, and in
**      practice almost nothing else) is evaluated exactly in double from the
**      double centroids, in position order, with the scalar loop's rule
**      (strictly smaller replaces; the chain's previous element wins ties).
**
** So the chain's choices and the recorded heights are those of an exact
** double evaluation, identical whichever filter kernel ran (AVX+FMA or
** portable), and symmetric in (a, b), which the chain needs to terminate. */

enum { WL = 8 }; /* clusters per filter block */

/* Exact squared Ward height between positions a and b (symmetric in a, b:
** (u - v)^2 == (v - u)^2 and na * nb is exact for sizes below 2^26). */
static inline double ward_exact(const double *c, int d, size_t a, size_t b, double na,
                                double nb) {
  const double *ca = c + a * (size_t)d, *cb = c + b * (size_t)d;
  double s = 0;
  for (int k = 0; k < d; k++) {
    double t = ca[k] - cb[k];
    s += t * t;
  }
  return (2.0 * na * nb) / (na + nb) * s;
}

/* Filter pass over nb blocks for the cluster with scaled float centroid fx,
** squared norm fqx and size nx; writes lo[] and returns U. kappa bounds the
** relative rounding error of the filter value against f (|cj|^2 + |cx|^2)
** (see ward_kappa); the absolute 1e-30 covers coordinates that underflow. */
static float ward_filter_c(const float *fc, const float *fq, const float *fn, const float *pen,
                           size_t nb, int d, const float *fx, float fqx, float nx, float kappa,
                           float *lo, int *cand, size_t *ncand) {
  float U = INFINITY;
  size_t nc = 0;
  for (size_t b = 0; b < nb; b++) {
    const float *blk = fc + b * (size_t)d * WL;
    float dot[WL] = {0};
    for (int k = 0; k < d; k++)
      for (int l = 0; l < WL; l++) dot[l] += blk[k * WL + l] * fx[k];
    for (int l = 0; l < WL; l++) {
      size_t j = b * WL + l;
      float t = fq[j] + fqx, s = t - 2 * dot[l];
      float f = 2 * nx * fn[j] / (nx + fn[j]);
      float a = f * s, e = f * (kappa * t + 1e-30f);
      lo[j] = a - e + pen[j];
      float hi = a + e + pen[j];
      if (hi < U) U = hi;
    }
    int any = 0;
    for (int l = 0; l < WL; l++) any |= lo[b * WL + l] <= U;
    if (any) cand[nc++] = (int)b;
  }
  *ncand = nc;
  return U;
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define NM_WARD_AVX 1
/* The same filter with AVX + FMA, four blocks per step so the broadcasts are
** shared and eight accumulators hide the FMA latency (the filter's sum order
** is free: only its error bound matters). */
__attribute__((target("avx,fma"))) static float ward_filter_avx(
    const float *fc, const float *fq, const float *fn, const float *pen, size_t nb, int d,
    const float *fx, float fqx, float nx, float kappa, float *lo, int *cand, size_t *ncand) {
  __m256 vU = _mm256_set1_ps(INFINITY);
  size_t nc = 0;
  const __m256 vfqx = _mm256_set1_ps(fqx), vnx = _mm256_set1_ps(nx),
               vnx2 = _mm256_set1_ps(2 * nx), vk = _mm256_set1_ps(kappa),
               vtiny = _mm256_set1_ps(1e-30f), vtwo = _mm256_set1_ps(2.0f);
  const size_t bs = (size_t)d * WL;
  for (size_t b = 0; b < nb; b += 4) {
    size_t nh = nb - b < 4 ? nb - b : 4; /* blocks past the end repeat the last one */
    const float *p0 = fc + b * bs;
    const float *p1 = p0 + (nh > 1 ? bs : 0);
    const float *p2 = p0 + (nh > 2 ? 2 * bs : 0);
    const float *p3 = p0 + (nh > 3 ? 3 * bs : 0);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, e0 = a0,
           e1 = a0;
    int k = 0;
    for (; k + 2 <= d; k += 2) {
      __m256 x0 = _mm256_broadcast_ss(fx + k), x1 = _mm256_broadcast_ss(fx + k + 1);
      size_t o0 = (size_t)k * WL, o1 = o0 + WL;
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(p0 + o0), x0, a0);
      b0 = _mm256_fmadd_ps(_mm256_loadu_ps(p1 + o0), x0, b0);
      c0 = _mm256_fmadd_ps(_mm256_loadu_ps(p2 + o0), x0, c0);
      e0 = _mm256_fmadd_ps(_mm256_loadu_ps(p3 + o0), x0, e0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(p0 + o1), x1, a1);
      b1 = _mm256_fmadd_ps(_mm256_loadu_ps(p1 + o1), x1, b1);
      c1 = _mm256_fmadd_ps(_mm256_loadu_ps(p2 + o1), x1, c1);
      e1 = _mm256_fmadd_ps(_mm256_loadu_ps(p3 + o1), x1, e1);
    }
    if (k < d) {
      __m256 x0 = _mm256_broadcast_ss(fx + k);
      size_t o0 = (size_t)k * WL;
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(p0 + o0), x0, a0);
      b0 = _mm256_fmadd_ps(_mm256_loadu_ps(p1 + o0), x0, b0);
      c0 = _mm256_fmadd_ps(_mm256_loadu_ps(p2 + o0), x0, c0);
      e0 = _mm256_fmadd_ps(_mm256_loadu_ps(p3 + o0), x0, e0);
    }
    __m256 dots[4] = {_mm256_add_ps(a0, a1), _mm256_add_ps(b0, b1), _mm256_add_ps(c0, c1),
                      _mm256_add_ps(e0, e1)};
    for (size_t h = 0; h < nh; h++) {
      size_t j = (b + h) * WL;
      __m256 t = _mm256_add_ps(_mm256_loadu_ps(fq + j), vfqx);
      __m256 s = _mm256_fnmadd_ps(vtwo, dots[h], t);
      __m256 nl = _mm256_loadu_ps(fn + j);
      __m256 f = _mm256_div_ps(_mm256_mul_ps(vnx2, nl), _mm256_add_ps(vnx, nl));
      __m256 a = _mm256_mul_ps(f, s);
      __m256 e = _mm256_mul_ps(f, _mm256_fmadd_ps(vk, t, vtiny));
      __m256 p = _mm256_loadu_ps(pen + j);
      __m256 vlo = _mm256_add_ps(_mm256_sub_ps(a, e), p);
      _mm256_storeu_ps(lo + j, vlo);
      vU = _mm256_min_ps(vU, _mm256_add_ps(_mm256_add_ps(a, e), p));
      /* Lane-wise running minima never fall below the final U, so a block
      ** with no lo below them has nothing for the exact pass. */
      if (_mm256_movemask_ps(_mm256_cmp_ps(vlo, vU, _CMP_LE_OQ))) cand[nc++] = (int)(b + h);
    }
  }
  *ncand = nc;
  float u[8];
  _mm256_storeu_ps(u, vU);
  float U = u[0];
  for (int l = 1; l < 8; l++)
    if (u[l] < U) U = u[l];
  return U;
}
#endif

/* Error bound of the filter value relative to f (|cj|^2 + |cx|^2), in units
** where every coordinate is below 1: rounding the centroids to float
** (<= 4u), the d-term dot product (<= (d + 1) u, since 2|cj||cx| <=
** |cj|^2 + |cx|^2), the norms, the subtraction and f (a few u more), so
** (d + 13) u; taken 64 (d + 8) u: the margin costs only a few extra exact
** evaluations per search. */
static float ward_kappa(int d) {
  return (float)(64.0 * (d + 8) * 0x1p-24);
}

static int ward_force_portable;

void nm_linkage_ward_force_portable(int on) {
  ward_force_portable = on;
}

typedef struct ward_state {
  int d;
  double scale; /* power of two: scaled coordinates are below 1 */
  double *c;    /* position -> centroid (double, d per position) */
  double *sz;   /* position -> size, 0 when dead */
  float *fc;    /* blocked scaled float centroids: block b, coordinate k, lane l */
  float *fq;    /* |scaled float centroid|^2 */
  float *fn;    /* size as float, 0 dead or padding */
  float *pen;   /* 0 live, +inf dead, padding, or the searching cluster itself */
  float *lo;
  float *fx;
  int *cand; /* blocks the filter passes to the exact pass, in order */
} ward_state;

/* (Re)computes the float copy of position p from its double centroid. */
static void ward_set_float(ward_state *w, size_t p) {
  int d = w->d;
  float *blk = w->fc + (p / WL) * (size_t)d * WL + p % WL;
  double q = 0;
  for (int k = 0; k < d; k++) {
    float v = (float)(w->c[p * (size_t)d + k] * w->scale);
    blk[k * WL] = v;
    q += (double)v * v;
  }
  w->fq[p] = (float)q;
  w->fn[p] = (float)w->sz[p];
  w->pen[p] = 0;
}

static void ward_kill_float(ward_state *w, size_t p) {
  int d = w->d;
  float *blk = w->fc + (p / WL) * (size_t)d * WL + p % WL;
  for (int k = 0; k < d; k++) blk[k * WL] = 0;
  w->fq[p] = 0;
  w->fn[p] = 0;
  w->pen[p] = INFINITY;
}

/* Nearest live cluster of position x among dim positions: on entry *cur is
** the exact value of the chain's previous element *y (or +inf, *y = -1);
** on return the scalar loop's choice and its exact value. */
static void ward_search(ward_state *w, size_t dim, size_t x, int use_avx, double *cur, int *y) {
  int d = w->d;
  size_t nb = (dim + WL - 1) / WL;
  float *blk = w->fc + (x / WL) * (size_t)d * WL + x % WL;
  for (int k = 0; k < d; k++) w->fx[k] = blk[k * WL];
  float kappa = ward_kappa(d), U;
  size_t ncand = 0;
  w->pen[x] = INFINITY;
#ifdef NM_WARD_AVX
  if (use_avx)
    U = ward_filter_avx(w->fc, w->fq, w->fn, w->pen, nb, d, w->fx, w->fq[x], w->fn[x], kappa,
                        w->lo, w->cand, &ncand);
  else
#endif
    U = ward_filter_c(w->fc, w->fq, w->fn, w->pen, nb, d, w->fx, w->fq[x], w->fn[x], kappa,
                      w->lo, w->cand, &ncand);
  (void)use_avx;
  w->pen[x] = 0;
  double best = *cur, nx = w->sz[x];
  int at = *y;
  const float *lo = w->lo;
  for (size_t i = 0; i < ncand; i++)
    for (size_t j = (size_t)w->cand[i] * WL, j1 = j + WL; j < j1; j++) {
      if (!(lo[j] <= U)) continue; /* dead, padding and self are +inf */
      double v = ward_exact(w->c, d, x, j, nx, w->sz[j]);
      if (v < best) {
        best = v;
        at = (int)j;
      }
    }
  *cur = best;
  *y = at;
}

static nm_status linkage_ward(const double *x, size_t n, int d, raw_merge *raw,
                              const nm_progress *progress, nm_error *err) {
  ward_state w = {0};
  w.d = d;
  size_t nbk = (n + WL - 1) / WL, cap = nbk * WL;
  int *orig = nm_malloc(n, sizeof(int), err);
  int *chain = nm_malloc(n, sizeof(int), err);
  size_t *newpos = nm_malloc(n, sizeof(size_t), err);
  w.c = nm_malloc(n, (size_t)d * sizeof(double), err);
  w.sz = nm_malloc(n, sizeof(double), err);
  w.fc = nm_calloc(cap, (size_t)d * sizeof(float), err);
  w.fq = nm_malloc(cap, sizeof(float), err);
  w.fn = nm_malloc(cap, sizeof(float), err);
  w.pen = nm_malloc(cap, sizeof(float), err);
  w.lo = nm_malloc(cap, sizeof(float), err);
  w.fx = nm_malloc((size_t)d, sizeof(float), err);
  w.cand = nm_malloc(nbk, sizeof(int), err);
  nm_status st = NM_OK;
  if (!orig || !chain || !newpos || !w.c || !w.sz || !w.fc || !w.fq || !w.fn || !w.pen ||
      !w.lo || !w.fx || !w.cand) {
    st = err->code;
    goto done;
  }
  /* Centroids stay inside the data's bounding box, so one scale fits all. */
  double amax = 0;
  for (size_t i = 0; i < n * (size_t)d; i++) {
    double a = fabs(x[i]);
    if (!(a <= 1e300)) {
      st = nm_fail(err, NM_ERR_ARG, "ward linkage: row %zu has a non-finite value",
                   i / (size_t)d + 1);
      goto done;
    }
    if (a > amax) amax = a;
  }
  int ex = 0;
  if (amax > 0) frexp(amax, &ex); /* amax < 2^ex */
  w.scale = ldexp(1.0, -ex);
  memcpy(w.c, x, n * (size_t)d * sizeof(double));
  for (size_t i = 0; i < n; i++) {
    orig[i] = (int)i;
    w.sz[i] = 1;
    ward_set_float(&w, i);
  }
  for (size_t i = n; i < cap; i++) ward_kill_float(&w, i);
  int use_avx = 0;
#ifdef NM_WARD_AVX
  __builtin_cpu_init();
  use_avx = !ward_force_portable && __builtin_cpu_supports("avx") &&
            __builtin_cpu_supports("fma");
#endif
  size_t dim = n, nact = n, len = 0;
  for (size_t t = 0; t + 1 < n; t++) {
    if (len == 0) {
      size_t p0 = 0;
      while (w.sz[p0] == 0) p0++;
      chain[len++] = (int)p0;
    }
    int xq, yq;
    double cur;
    for (;;) {
      xq = chain[len - 1];
      if (len > 1) {
        yq = chain[len - 2];
        cur = ward_exact(w.c, d, (size_t)xq, (size_t)yq, w.sz[xq], w.sz[yq]);
      } else {
        yq = -1;
        cur = INFINITY;
      }
      ward_search(&w, dim, (size_t)xq, use_avx, &cur, &yq);
      if (len > 1 && yq == chain[len - 2]) break;
      chain[len++] = yq;
    }
    len -= 2;
    record_pair(&raw[t], orig, &xq, &yq, sqrt(cur));
    /* x disappears, y holds the union (as in the matrix chain and SciPy). */
    double nx = w.sz[xq], ny = w.sz[yq];
    double *cx = w.c + (size_t)xq * d, *cy = w.c + (size_t)yq * d;
    for (int k = 0; k < d; k++) cy[k] = (nx * cx[k] + ny * cy[k]) / (nx + ny);
    w.sz[yq] = nx + ny;
    w.sz[xq] = 0;
    ward_set_float(&w, (size_t)yq);
    ward_kill_float(&w, (size_t)xq);
    nact--;
    /* Pack the live clusters to the front (order kept, so the scan order
    ** and its ties are unchanged) when an eighth of the positions are dead:
    ** a pack costs about one search, and the filter scans dead ones too. */
    if (nact * 8 <= dim * 7 && dim > 64) {
      size_t k = 0;
      for (size_t i = 0; i < dim; i++) {
        if (w.sz[i] == 0) {
          newpos[i] = (size_t)-1;
          continue;
        }
        newpos[i] = k;
        if (k != i) {
          memcpy(w.c + k * (size_t)d, w.c + i * (size_t)d, (size_t)d * sizeof(double));
          w.sz[k] = w.sz[i];
          orig[k] = orig[i];
        }
        k++;
      }
      for (size_t c = 0; c < len; c++) chain[c] = (int)newpos[chain[c]];
      dim = nact;
      for (size_t i = 0; i < dim; i++) ward_set_float(&w, i);
      for (size_t i = dim; i < (dim + WL - 1) / WL * WL; i++) {
        w.sz[i] = 0;
        ward_kill_float(&w, i);
      }
    }
    if ((t & 31) == 0 && nm_progress_tick(progress, (double)t, (double)n, "ward linkage")) {
      st = nm_fail(err, NM_ERR_INTERRUPTED, "interrupted");
      goto done;
    }
  }
done:
  free(orig);
  free(chain);
  free(newpos);
  free(w.c);
  free(w.sz);
  free(w.fc);
  free(w.fq);
  free(w.fn);
  free(w.pen);
  free(w.lo);
  free(w.fx);
  free(w.cand);
  return st;
}

nm_status nm_linkage(const double *x, size_t n, int d, nm_linkage_method method,
                     size_t max_rows, nm_merge *z, const nm_progress *progress,
                     nm_error *err) {
  if (n < 2) return nm_fail(err, NM_ERR_ARG, "linkage needs at least 2 rows, got %zu", n);
  if ((unsigned)method > NM_LINK_SINGLE)
    return nm_fail(err, NM_ERR_ARG, "unknown linkage method");
  if (n > (size_t)INT32_MAX / 2) return nm_fail(err, NM_ERR_TOOBIG, "too many rows");
  if (!max_rows) max_rows = NM_LINKAGE_MAX_ROWS;
  if (method == NM_LINK_WARD && n > max_rows)
    return nm_fail(err, NM_ERR_TOOBIG,
                   "ward linkage on %zu rows takes time quadratic in the rows; the limit is %zu "
                   "rows (option max_rows), or use single linkage",
                   n, max_rows);
  if (method != NM_LINK_SINGLE && n > max_rows)
    return nm_fail(err, NM_ERR_TOOBIG,
                   "%s linkage on %zu rows needs a %zu x %zu distance matrix; the limit is %zu "
                   "rows (option max_rows), or use single linkage",
                   nm_linkage_name(method), n, n, n, max_rows);
  raw_merge *raw = nm_malloc(n - 1, sizeof *raw, err);
  if (!raw) return err->code;
  nm_status st = method == NM_LINK_SINGLE
                     ? linkage_single(x, n, d, raw, progress, err)
                     : method == NM_LINK_WARD ? linkage_ward(x, n, d, raw, progress, err)
                     : linkage_nnchain(x, n, d, method, raw, progress, err);
  if (st == NM_OK) st = finish_tree(raw, n, z, err);
  free(raw);
  return st;
}

nm_status nm_linkage_cut(const nm_merge *z, size_t n, int k, int *labels, nm_error *err) {
  if (k < 1 || (size_t)k > n)
    return nm_fail(err, NM_ERR_ARG, "cannot cut %zu rows into %d clusters", n, k);
  int *parent = nm_malloc(n, sizeof(int), err);
  int *leaf = nm_malloc(2 * n, sizeof(int), err); /* a row inside each cluster id */
  if (!parent || !leaf) {
    free(parent);
    free(leaf);
    return err->code;
  }
  for (size_t i = 0; i < n; i++) {
    parent[i] = (int)i;
    leaf[i] = (int)i;
  }
  for (size_t t = 0; t + (size_t)k < n; t++) {
    int ra = uf_find(parent, leaf[z[t].a]), rb = uf_find(parent, leaf[z[t].b]);
    parent[rb] = ra;
    leaf[n + t] = ra;
  }
  for (size_t i = 0; i < n; i++) labels[i] = uf_find(parent, (int)i);
  nm_labels_canonical(labels, n);
  free(parent);
  free(leaf);
  return NM_OK;
}

nm_status nm_linkage_leaf_order(const nm_merge *z, size_t n, size_t *order, nm_error *err) {
  if (n == 1) {
    order[0] = 0;
    return NM_OK;
  }
  size_t *stack = nm_malloc(2 * n, sizeof(size_t), err);
  if (!stack) return err->code;
  size_t sp = 0, pos = 0;
  stack[sp++] = 2 * n - 2;
  while (sp) {
    size_t id = stack[--sp];
    if (id < n) {
      order[pos++] = id;
    } else {
      const nm_merge *m = &z[id - n];
      stack[sp++] = (size_t)m->b; /* right pushed first: left comes out first */
      stack[sp++] = (size_t)m->a;
    }
  }
  free(stack);
  return pos == n ? NM_OK : nm_fail(err, NM_ERR_ARG, "linkage tree is malformed");
}

nm_status nm_cophenetic_corr(const double *x, size_t n, int d, const nm_merge *z, double *ccc,
                             const nm_progress *progress, nm_error *err) {
  if (n < 3) return nm_fail(err, NM_ERR_ARG, "cophenetic correlation needs at least 3 rows");
  enum { B = 256 };
  size_t *order = nm_malloc(n, sizeof(size_t), err);
  size_t *start = nm_malloc(2 * n - 1, sizeof(size_t), err);
  double *gap = nm_malloc(n, sizeof(double), err);
  double *xp = nm_malloc(n, (size_t)d * sizeof(double), err);
  double *np = nm_malloc(n, sizeof(double), err);
  double *dist = nm_malloc((size_t)B, n * sizeof(double), err);
  nm_status st = NM_OK;
  if (!order || !start || !gap || !xp || !np || !dist) {
    st = err->code;
    goto done;
  }
  /* Leaf order and, for each merge, the adjacent pair it separates. */
  start[2 * n - 2] = 0;
  for (size_t t = n - 1; t-- > 0;) {
    size_t id = n + t, a = (size_t)z[t].a, b = (size_t)z[t].b;
    size_t sa = a < n ? 1 : (size_t)z[a - n].size;
    start[a] = start[id];
    start[b] = start[id] + sa;
    gap[start[id] + sa - 1] = z[t].height;
    if (z[t].height < (a >= n ? z[a - n].height : 0) ||
        z[t].height < (b >= n ? z[b - n].height : 0)) {
      st = nm_fail(err, NM_ERR_ARG, "cophenetic correlation needs a monotone tree");
      goto done;
    }
  }
  for (size_t i = 0; i < n; i++) order[start[i]] = i;
  for (size_t p = 0; p < n; p++)
    memcpy(xp + p * (size_t)d, x + order[p] * (size_t)d, (size_t)d * sizeof(double));
  nm_row_sqnorms(xp, n, d, np);
  /* Shifted sums (shift = the mean cophenetic distance, exact from the
  ** merges, and a first-block mean distance) keep the one-pass moments
  ** accurate. */
  double npairs = (double)n * (double)(n - 1) / 2;
  double c0 = 0;
  for (size_t t = 0; t + 1 < n; t++) {
    double sa = z[t].a < (int)n ? 1 : z[z[t].a - (int)n].size;
    double sb = z[t].b < (int)n ? 1 : z[z[t].b - (int)n].size;
    c0 += sa * sb * z[t].height;
  }
  c0 /= npairs;
  double d0 = NAN;
  double sc = 0, sd = 0, scc = 0, sdd = 0, scd = 0;
  for (size_t p0 = 0; p0 < n; p0 += B) {
    size_t nb = n - p0 < B ? n - p0 : B;
    nm_sqdist_block(xp + p0 * (size_t)d, np + p0, nb, xp, np, n, d, dist);
    if (isnan(d0)) {
      double s = 0;
      size_t cnt = 0;
      for (size_t q = 1; q < n; q++) {
        s += sqrt(dist[q]);
        cnt++;
      }
      d0 = cnt ? s / (double)cnt : 0;
    }
    for (size_t r = 0; r < nb; r++) {
      size_t p = p0 + r;
      const double *row = dist + r * n;
      double c = -INFINITY;
      double rc = 0, rd = 0, rcc = 0, rdd = 0, rcd = 0;
      for (size_t q = p + 1; q < n; q++) {
        if (gap[q - 1] > c) c = gap[q - 1];
        double dv = sqrt(row[q]) - d0, cv = c - c0;
        rc += cv;
        rd += dv;
        rcc += cv * cv;
        rdd += dv * dv;
        rcd += cv * dv;
      }
      sc += rc;
      sd += rd;
      scc += rcc;
      sdd += rdd;
      scd += rcd;
    }
    if (nm_progress_tick(progress, (double)(p0 + nb), (double)n, "cophenetic correlation")) {
      st = nm_fail(err, NM_ERR_INTERRUPTED, "interrupted");
      goto done;
    }
  }
  double cov = scd - sc * sd / npairs;
  double vc = scc - sc * sc / npairs, vd = sdd - sd * sd / npairs;
  *ccc = (vc > 0 && vd > 0) ? cov / sqrt(vc * vd) : NAN;
done:
  free(order);
  free(start);
  free(gap);
  free(xp);
  free(np);
  free(dist);
  return st;
}
