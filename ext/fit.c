/*
** fit.c — re-simulation Jaccard and shape_fit (see fit.h for the protocol).
**
** Speed comes from three representations of the mask, built once:
**  - row prefix counts, so the exact score of a placed polygon is one
**    scanline pass over its edges (O(vertices + rows), no per-pixel work);
**  - fine polar counts: for each 1° angle bin around the centroid, the number
**    of mask pixels with radius below r, on a radius grid (linear between grid
**    points, so the estimate varies smoothly with the candidate);
**  - the same with 4° bins for coarse scans.
** A candidate shape becomes a radius profile around its own centroid at the
** 360 bin centres; rotating it by j° is an index shift, and its estimated
** overlap with the mask is Σ_k count_k(s·profile[k + j]) with
** |shape| ≈ A (the shape is scaled to the mask's area).
*/
#include "fit.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "shape.h"

#define NA 360  /* fine angle bins = 1° rotation steps */
#define NAC 90  /* coarse bins, 4° */
#define CW (NA / NAC)
#define DEG (6.283185307179586476925286766559 / NA)
#define TWO_PI 6.283185307179586476925286766559

/* cos/sin on a quarter-degree grid: with integer d, every angle the search
** needs (bin centres (k + ½)°, half-degree polygon vertices, and d/2 times
** either) falls on it. Built once per process. */
#define QN 1440
static double q_cos[QN], q_sin[QN];
static pthread_once_t q_once = PTHREAD_ONCE_INIT;
static void q_init(void) {
  for (int i = 0; i < QN; i++) {
    q_cos[i] = cos(i * (TWO_PI / QN));
    q_sin[i] = sin(i * (TWO_PI / QN));
  }
}

/* eq. 1 from |cos|, |sin| of d/2·(θ+φ) (the form of nm_shape_radius, with
** exp/log1p instead of two pow calls) */
static inline double radius_cs(double p, double inv_p, double l, double ac, double as) {
  double c = ac * l;
  double m = c > as ? c : as, q = c > as ? as : c;
  double x = q > 0 ? exp(p * log(q / m)) : 0;
  return 1.0 / (m * exp(log1p(x) * inv_p));
}

struct nm_fit_mask {
  int w, h;
  long area;
  double cx, cy, rmax;
  double mu20, mu02, mu11;  /* central second moments / area */
  int32_t *prefix;          /* h × (w + 1) */
  int nr;                   /* radius grid points − 1 */
  double inv_delta;
  float *cum;               /* NA × (nr + 1) */
  float *cumc;              /* NAC × (nr + 1) */
};

void nm_fit_mask_free(nm_fit_mask *m) {
  if (!m) return;
  free(m->prefix);
  free(m->cum);
  free(m->cumc);
  free(m);
}

void nm_fit_mask_info(const nm_fit_mask *m, long *area, double *cx, double *cy) {
  if (area) *area = m->area;
  if (cx) *cx = m->cx;
  if (cy) *cy = m->cy;
}

static int angle_bin(double dx, double dy, int nbins) {
  double a = atan2(dy, dx);
  if (a < 0) a += TWO_PI;
  int k = (int)(a * nbins / TWO_PI);
  return k >= nbins ? nbins - 1 : k < 0 ? 0 : k;
}

nm_status nm_fit_mask_prepare(const uint8_t *mask, int w, int h, int stride,
                              nm_fit_mask **out, nm_error *err) {
  *out = NULL;
  pthread_once(&q_once, q_init);
  if (!mask || w <= 0 || h <= 0 || stride < w)
    return nm_fail(err, NM_ERR_ARG, "mask: bad geometry %dx%d (stride %d)", w, h, stride);
  if ((uint64_t)w * (uint64_t)h > NM_FIT_MAX_PIXELS)
    return nm_fail(err, NM_ERR_TOOBIG, "mask: %dx%d is over the %d-pixel limit", w, h,
                   NM_FIT_MAX_PIXELS);
  nm_fit_mask *m = nm_calloc(1, sizeof *m, err);
  if (!m) return err ? err->code : NM_ERR_NOMEM;
  m->w = w;
  m->h = h;
  m->prefix = nm_malloc((size_t)h * (size_t)(w + 1), sizeof(int32_t), err);
  if (!m->prefix) goto fail;
  double sx = 0, sy = 0;
  long n = 0;
  for (int y = 0; y < h; y++) {
    const uint8_t *row = mask + (size_t)y * stride;
    int32_t *pr = m->prefix + (size_t)y * (w + 1);
    pr[0] = 0;
    for (int x = 0; x < w; x++) {
      int v = row[x] != 0;
      pr[x + 1] = pr[x] + v;
      if (v) {
        sx += x;
        sy += y;
        n++;
      }
    }
  }
  if (n == 0) {
    nm_fail(err, NM_ERR_ARG, "mask: no particle pixel (all zero)");
    goto fail;
  }
  m->area = n;
  m->cx = sx / n;
  m->cy = sy / n;
  double r2 = 0, m20 = 0, m02 = 0, m11 = 0;
  for (int y = 0; y < h; y++) {
    const uint8_t *row = mask + (size_t)y * stride;
    double dy = y - m->cy;
    for (int x = 0; x < w; x++)
      if (row[x]) {
        double dx = x - m->cx;
        double d2 = dx * dx + dy * dy;
        if (d2 > r2) r2 = d2;
        m20 += dx * dx;
        m02 += dy * dy;
        m11 += dx * dy;
      }
  }
  m->rmax = sqrt(r2);
  m->mu20 = m20 / n;
  m->mu02 = m02 / n;
  m->mu11 = m11 / n;
  /* radius grid: 0.25 px or finer than 1/400 of the particle */
  double delta = fmax(0.25, m->rmax / 400.0);
  m->nr = (int)ceil(m->rmax / delta) + 2;
  m->inv_delta = 1.0 / delta;
  size_t stride_r = (size_t)m->nr + 1;
  m->cum = nm_calloc((size_t)NA * stride_r, sizeof(float), err);
  m->cumc = nm_calloc((size_t)NAC * stride_r, sizeof(float), err);
  if (!m->cum || !m->cumc) goto fail;
  for (int y = 0; y < h; y++) {
    const uint8_t *row = mask + (size_t)y * stride;
    double dy = y - m->cy;
    for (int x = 0; x < w; x++)
      if (row[x]) {
        double dx = x - m->cx;
        int b = (int)(sqrt(dx * dx + dy * dy) * m->inv_delta) + 1;
        if (b > m->nr) b = m->nr;
        int k = angle_bin(dx, dy, NA);
        m->cum[(size_t)k * stride_r + b] += 1;
        m->cumc[(size_t)(k / CW) * stride_r + b] += 1;
      }
  }
  for (int k = 0; k < NA; k++) {
    float *c = m->cum + (size_t)k * stride_r;
    for (int j = 1; j <= m->nr; j++) c[j] += c[j - 1];
  }
  for (int k = 0; k < NAC; k++) {
    float *c = m->cumc + (size_t)k * stride_r;
    for (int j = 1; j <= m->nr; j++) c[j] += c[j - 1];
  }
  *out = m;
  return NM_OK;
fail:
  nm_fit_mask_free(m);
  return err ? err->code : NM_ERR_NOMEM;
}

/* ------------------------------------------------------------- candidates */

typedef struct cand {
  nm_shape shape;     /* φ = 0 */
  double area0;       /* unit-scale area */
  double g0x, g0y;    /* unit-scale centroid */
  double s;           /* scale to the mask's area */
  int period;         /* rotation period in 1° steps */
  double sprof[2 * NA]; /* s·radius around the centroid at bin centres, in
                        ** radius-grid units (× inv_delta), stored twice */
} cand;

static int integer_d(double d) { return d == floor(d) && d >= 1 && d <= NA; }


/* Area and centroid of the closed polygon xy (n vertices, x y interleaved),
** by the shoelace formula. */
static void polygon_area_centroid(const double *xy, int n, double *area, double *gx,
                                  double *gy) {
  double a = 0, sx = 0, sy = 0;
  for (int k = 0; k < n; k++) {
    int k1 = k + 1 == n ? 0 : k + 1;
    double cr = xy[2 * k] * xy[2 * k1 + 1] - xy[2 * k1] * xy[2 * k + 1];
    a += cr;
    sx += (xy[2 * k] + xy[2 * k1]) * cr;
    sy += (xy[2 * k + 1] + xy[2 * k1 + 1]) * cr;
  }
  a *= 0.5;
  *area = a;
  *gx = sx / (6 * a);
  *gy = sy / (6 * a);
}

/* Radius profile around the centroid, general case: the polygon's edges
** swept in angle around the centroid, each bin centre ray intersected with
** the edge that spans it (the largest hit if several: outer envelope). */
static void profile_general(cand *c, double *prof) {
  enum { N = 360 }; /* vertices every 1°: enough for a 1° profile */
  double xy[2 * N];
  if (integer_d(c->shape.d) && c->shape.corner_a == 0) {
    /* vertex k at θ = k° = 4k quarter-degrees; d/2·θ = 2dk quarter-degrees */
    int d = (int)c->shape.d;
    double p = c->shape.p, ip = 1.0 / p, l = c->shape.lratio;
    for (int k = 0; k < N; k++) {
      int qa = (int)(((long)2 * d * k) % QN);
      double r = radius_cs(p, ip, l, fabs(q_cos[qa]), fabs(q_sin[qa]));
      xy[2 * k] = r * q_cos[4 * k];
      xy[2 * k + 1] = r * q_sin[4 * k];
    }
  } else {
    nm_shape_polygon(&c->shape, N, xy);
  }
  polygon_area_centroid(xy, N, &c->area0, &c->g0x, &c->g0y);
  for (int k = 0; k < N; k++) {
    xy[2 * k] -= c->g0x;
    xy[2 * k + 1] -= c->g0y;
  }
  for (int k = 0; k < NA; k++) prof[k] = 0;
  for (int k = 0; k < N; k++) {
    int k1 = k + 1 == N ? 0 : k + 1;
    double px = xy[2 * k], py = xy[2 * k + 1], qx = xy[2 * k1], qy = xy[2 * k1 + 1];
    double ea = atan2(py, px), eb = atan2(qy, qx);
    double dlt = eb - ea;
    while (dlt > M_PI) dlt -= TWO_PI;
    while (dlt <= -M_PI) dlt += TWO_PI;
    double lo = dlt >= 0 ? ea : ea + dlt, hi = dlt >= 0 ? ea + dlt : ea;
    int k0 = (int)ceil(lo / DEG - 0.5), kh = (int)floor(hi / DEG - 0.5);
    double ex = qx - px, ey = qy - py;
    double num = px * ey - py * ex;
    for (int b = k0; b <= kh; b++) {
      int bb = ((b % NA) + NA) % NA;
      double ux = q_cos[4 * bb + 2], uy = q_sin[4 * bb + 2];
      double den = ux * ey - uy * ex;
      if (den == 0) continue;
      double r = num / den;
      if (!(r > 0)) continue;
      if (r > prof[bb]) prof[bb] = r;
    }
  }
  /* a bin no edge reached (only for pathological shapes): its neighbour */
  for (int pass = 0; pass < 2; pass++)
    for (int k = 0; k < NA; k++)
      if (prof[k] == 0) prof[k] = prof[(k + NA - 1) % NA];
}

static void cand_init(cand *c, const nm_fit_mask *m, double p, double d, double l) {
  nm_shape_init(&c->shape, p, d, l, 0);
  double prof[NA];
  if (integer_d(d) && d >= 2 && NA % (int)d == 0) {
    /* d-fold symmetric: centroid at the origin, profile = R itself */
    int per = NA / (int)d, di = (int)d;
    double a = 0, ip = 1.0 / p;
    for (int k = 0; k < per; k++) {
      /* d/2·(k + ½)° = d(2k + 1) quarter-degrees */
      int qa = (int)(((long)di * (2 * k + 1)) % QN);
      double r = radius_cs(p, ip, l, fabs(q_cos[qa]), fabs(q_sin[qa]));
      for (int q = k; q < NA; q += per) prof[q] = r;
      a += r * r;
    }
    c->area0 = 0.5 * a * DEG * d;
    c->g0x = c->g0y = 0;
    c->period = per;
  } else {
    profile_general(c, prof);
    c->period = integer_d(d) && NA % (int)d == 0 ? NA / (int)d : NA;
  }
  c->s = sqrt((double)m->area / c->area0);
  /* in radius-grid units, so a lookup is one multiply-free index */
  double u = c->s * m->inv_delta;
  for (int k = 0; k < NA; k++) c->sprof[k] = c->sprof[k + NA] = u * prof[k];
}

static inline double count_at(const float *c, int nr, double t) {
  if (t >= nr) return c[nr];
  int i = (int)t;
  return c[i] + (t - i) * (c[i + 1] - c[i]);
}

/* Estimated Jaccard at rotation j (degrees, 0 ≤ j < NA). */
static double est_fine(const nm_fit_mask *m, const cand *c, int j) {
  size_t sr = (size_t)m->nr + 1;
  const double *sp = c->sprof + j;
  double inter = 0;
  for (int k = 0; k < NA; k++) inter += count_at(m->cum + k * sr, m->nr, sp[k]);
  return inter / (2.0 * m->area - inter);
}

static double est_coarse(const nm_fit_mask *m, const cand *c, int j) {
  size_t sr = (size_t)m->nr + 1;
  const double *sp = c->sprof + j + CW / 2;
  double inter = 0;
  for (int k = 0; k < NAC; k++)
    inter += count_at(m->cumc + k * sr, m->nr, sp[k * CW]);
  return inter / (2.0 * m->area - inter);
}

static int wrapj(int j, int period) { return ((j % period) + period) % period; }

/* Fine hill-climb in j from a hint. */
static double climb(const nm_fit_mask *m, const cand *c, int *jio, long *evals) {
  int j = wrapj(*jio, c->period);
  double best = est_fine(m, c, j);
  (*evals)++;
  int dir = 0;
  for (int it = 0; it < NA; it++) {
    int moved = 0;
    for (int sgn = -1; sgn <= 1; sgn += 2) {
      if (dir && sgn != dir) continue;
      int jj = wrapj(j + sgn, c->period);
      double v = est_fine(m, c, jj);
      (*evals)++;
      if (v > best) {
        best = v;
        j = jj;
        dir = sgn;
        moved = 1;
        break;
      }
    }
    if (!moved) break;
  }
  *jio = j;
  return best;
}

/* Coarse scan every `step` degrees, then the fine climb from the best. */
static double scan(const nm_fit_mask *m, const cand *c, int step, int *jout, long *evals) {
  int bj = 0;
  double bv = -1;
  for (int j = 0; j < c->period; j += step) {
    double v = est_coarse(m, c, j);
    (*evals)++;
    if (v > bv) {
      bv = v;
      bj = j;
    }
  }
  double v = climb(m, c, &bj, evals);
  *jout = bj;
  return v;
}

/* Exact Jaccard over pixel centres of the candidate rotated by j degrees. */
static nm_status exact(const nm_fit_mask *m, const cand *c, int j, double *jac, nm_error *err) {
  double nv = ceil(16.0 * c->s);
  int n = nv < 512 ? 512 : nv > 8192 ? 8192 : (int)nv;
  double *xy = malloc(sizeof(double) * 2 * (size_t)n);
  if (!xy) return nm_fail(err, NM_ERR_NOMEM, "fit: out of memory");
  nm_shape_polygon(&c->shape, n, xy);
  /* area and centroid of this very polygon (the candidate's came from a
  ** 1° profile, good for ranking, ~0.5 % off for spiky shapes) */
  double pa, pgx, pgy;
  polygon_area_centroid(xy, n, &pa, &pgx, &pgy);
  double sc = sqrt((double)m->area / pa);
  double phi = j * DEG, cp = cos(phi), sn = sin(phi);
  double ymin = 1e300, ymax = -1e300;
  for (int k = 0; k < n; k++) {
    double x = sc * (xy[2 * k] - pgx), y = sc * (xy[2 * k + 1] - pgy);
    /* rotate by −φ: R(θ; φ) = R(θ + φ; 0) */
    double xr = x * cp + y * sn, yr = -x * sn + y * cp;
    xy[2 * k] = m->cx + xr;
    xy[2 * k + 1] = m->cy + yr;
    if (xy[2 * k + 1] < ymin) ymin = xy[2 * k + 1];
    if (xy[2 * k + 1] > ymax) ymax = xy[2 * k + 1];
  }
  long y0 = (long)ceil(ymin), y1 = (long)floor(ymax);
  long rows = y1 - y0 + 1;
  if (rows < 1) {
    free(xy);
    *jac = 0;
    return NM_OK;
  }
  if (rows > (1L << 22)) {
    free(xy);
    return nm_fail(err, NM_ERR_TOOBIG, "fit: shape too large to score");
  }
  int *cnt = calloc((size_t)rows + 1, sizeof(int));
  if (!cnt) {
    free(xy);
    return nm_fail(err, NM_ERR_NOMEM, "fit: out of memory");
  }
  for (int k = 0; k < n; k++) {
    int k1 = k + 1 == n ? 0 : k + 1;
    double ya = xy[2 * k + 1], yb = xy[2 * k1 + 1];
    if (ya == yb) continue;
    double lo = ya < yb ? ya : yb, hi = ya < yb ? yb : ya;
    long t0 = (long)ceil(lo), t1 = (long)ceil(hi) - 1;
    for (long t = t0; t <= t1; t++) cnt[t - y0 + 1]++;
  }
  for (long t = 0; t < rows; t++) cnt[t + 1] += cnt[t];
  double *xs = malloc(sizeof(double) * (size_t)(cnt[rows] ? cnt[rows] : 1));
  int *fp = malloc(sizeof(int) * (size_t)(rows + 1));
  if (!xs || !fp) {
    free(xy);
    free(cnt);
    free(xs);
    free(fp);
    return nm_fail(err, NM_ERR_NOMEM, "fit: out of memory");
  }
  memcpy(fp, cnt, sizeof(int) * (size_t)(rows + 1));
  for (int k = 0; k < n; k++) {
    int k1 = k + 1 == n ? 0 : k + 1;
    double xa = xy[2 * k], ya = xy[2 * k + 1], xb = xy[2 * k1], yb = xy[2 * k1 + 1];
    if (ya == yb) continue;
    double lo = ya < yb ? ya : yb, hi = ya < yb ? yb : ya;
    long t0 = (long)ceil(lo), t1 = (long)ceil(hi) - 1;
    double slope = (xb - xa) / (yb - ya);
    for (long t = t0; t <= t1; t++) xs[fp[t - y0]++] = xa + (t - ya) * slope;
  }
  long inter = 0, area_s = 0;
  for (long t = 0; t < rows; t++) {
    int c0 = cnt[t], nc = cnt[t + 1] - c0;
    double *v = xs + c0;
    for (int i = 1; i < nc; i++) {
      double x = v[i];
      int q = i - 1;
      while (q >= 0 && v[q] > x) {
        v[q + 1] = v[q];
        q--;
      }
      v[q + 1] = x;
    }
    long y = y0 + t;
    const int32_t *pr = (y >= 0 && y < m->h) ? m->prefix + (size_t)y * (m->w + 1) : NULL;
    for (int i = 0; i + 1 < nc; i += 2) {
      double a = ceil(v[i]), b = ceil(v[i + 1]);
      if (b <= a) continue;
      area_s += (long)(b - a);
      if (pr) {
        long ia = a < 0 ? 0 : a > m->w ? m->w : (long)a;
        long ib = b < 0 ? 0 : b > m->w ? m->w : (long)b;
        inter += pr[ib] - pr[ia];
      }
    }
  }
  free(xy);
  free(cnt);
  free(xs);
  free(fp);
  long uni = m->area + area_s - inter;
  *jac = uni > 0 ? (double)inter / uni : 0;
  return NM_OK;
}

/* Best exact score around rotation hints (each ±1°). */
static nm_status exact_best(const nm_fit_mask *m, const cand *c, const int *hints, int nh,
                            double *jac, int *jbest, long *evals, nm_error *err) {
  double bv = -1;
  int bj = 0;
  int done[3 * 8];
  int nd = 0;
  for (int h = 0; h < nh && h < 8; h++)
    for (int dj = -1; dj <= 1; dj++) {
      int j = wrapj(hints[h] + dj, c->period);
      int seen = 0;
      for (int q = 0; q < nd; q++) seen |= done[q] == j;
      if (seen) continue;
      done[nd++] = j;
      double v = 0;
      nm_status st = exact(m, c, j, &v, err);
      if (st != NM_OK) return st;
      (*evals)++;
      if (v > bv) {
        bv = v;
        bj = j;
      }
    }
  *jac = bv;
  *jbest = bj;
  return NM_OK;
}

/* Full protocol for one candidate: every 1° step estimated, the 3 best local
** maxima scored exactly. */
static nm_status score_full(const nm_fit_mask *m, const cand *c, double *jac, int *jbest,
                            long *evals, nm_error *err) {
  /* every 1° step ranked by the coarse estimate, the best local maxima
  ** re-ranked by the fine one at ±2°, the 3 best scored exactly */
  double est[NA];
  for (int j = 0; j < c->period; j++) est[j] = est_coarse(m, c, j);
  *evals += c->period;
  {
    int cand_j[6];
    double cv[6];
    int nc = 0;
    for (int j = 0; j < c->period; j++) {
      double v = est[j];
      if (c->period > 2 && (v < est[wrapj(j - 1, c->period)] || v < est[wrapj(j + 1, c->period)]))
        continue;
      int q;
      if (nc == 6) {
        if (v <= cv[5]) continue;
        q = 5;
      } else {
        q = nc++;
      }
      cv[q] = v;
      cand_j[q] = j;
      while (q > 0 && cv[q] > cv[q - 1]) {
        double tv = cv[q];
        cv[q] = cv[q - 1];
        cv[q - 1] = tv;
        int tj = cand_j[q];
        cand_j[q] = cand_j[q - 1];
        cand_j[q - 1] = tj;
        q--;
      }
    }
    for (int j = 0; j < c->period; j++) est[j] = -1;
    for (int q = 0; q < nc; q++)
      for (int dj = -2; dj <= 2; dj++) {
        int jj = wrapj(cand_j[q] + dj, c->period);
        if (est[jj] < 0) {
          est[jj] = est_fine(m, c, jj);
          (*evals)++;
        }
      }
  }
  int hints[3] = {0, 0, 0};
  double hv[3] = {-1, -1, -1};
  for (int j = 0; j < c->period; j++) {
    double v = est[j];
    if (v < 0) continue;
    if (c->period > 2 && (v < est[wrapj(j - 1, c->period)] || v < est[wrapj(j + 1, c->period)]))
      continue;
    for (int q = 0; q < 3; q++)
      if (v > hv[q]) {
        for (int r = 2; r > q; r--) {
          hv[r] = hv[r - 1];
          hints[r] = hints[r - 1];
        }
        hv[q] = v;
        hints[q] = j;
        break;
      }
  }
  int nh = 0;
  while (nh < 3 && hv[nh] >= 0) nh++;
  if (nh == 0) nh = 1;
  return exact_best(m, c, hints, nh, jac, jbest, evals, err);
}

static nm_status check_triplet(double p, double d, double l, nm_error *err) {
  nm_shape s;
  nm_shape_init(&s, p, d, l, 0);
  return nm_shape_check(&s, err);
}

nm_status nm_fit_jaccard(const nm_fit_mask *m, double p, double d, double lratio,
                         double *jaccard, double *phi_out, nm_error *err) {
  nm_status st = check_triplet(p, d, lratio, err);
  if (st != NM_OK) return st;
  cand *c = malloc(sizeof *c);
  if (!c) return nm_fail(err, NM_ERR_NOMEM, "fit: out of memory");
  cand_init(c, m, p, d, lratio);
  long ev = 0;
  int j = 0;
  st = score_full(m, c, jaccard, &j, &ev, err);
  if (st == NM_OK && phi_out) *phi_out = j * DEG;
  free(c);
  return st;
}

nm_status nm_resim_jaccard(const uint8_t *mask, int w, int h, int stride,
                           double p, double d, double lratio, double *jaccard,
                           double *phi_out, nm_error *err) {
  nm_status st = check_triplet(p, d, lratio, err);
  if (st != NM_OK) return st;
  nm_fit_mask *m;
  st = nm_fit_mask_prepare(mask, w, h, stride, &m, err);
  if (st != NM_OK) return st;
  st = nm_fit_jaccard(m, p, d, lratio, jaccard, phi_out, err);
  nm_fit_mask_free(m);
  return st;
}

nm_status nm_fit_baselines(const nm_fit_mask *m, double *circle, double *ellipse,
                           double *ellipse_lratio, nm_error *err) {
  double tr = m->mu20 + m->mu02, det = m->mu20 * m->mu02 - m->mu11 * m->mu11;
  double disc = sqrt(fmax(0, tr * tr / 4 - det));
  double l1 = tr / 2 + disc, l2 = tr / 2 - disc;
  double lr = l2 > 1e-12 ? sqrt(l1 / l2) : NM_SHAPE_L_MAX;
  if (lr > NM_SHAPE_L_MAX) lr = NM_SHAPE_L_MAX;
  if (ellipse_lratio) *ellipse_lratio = lr;
  nm_status st = NM_OK;
  if (circle) st = nm_fit_jaccard(m, 2, 2, 1, circle, NULL, err);
  if (st == NM_OK && ellipse) st = nm_fit_jaccard(m, 2, 2, lr, ellipse, NULL, err);
  return st;
}

/* -------------------------------------------------------------- shape_fit */

void nm_fit_opts_default(nm_fit_opts *o) {
  memset(o, 0, sizeof *o);
  o->p_min = 0.3;
  o->p_max = 40;
  o->d_min = 1;
  o->d_max = 6;
  o->lratio_min = 1;
  o->lratio_max = 5;
  o->restarts = 1;
  o->grid_starts = 2;
  o->max_evals = 30;
  o->seed = 1;
}

/* "[a, b, ...]" → up to maxn numbers; returns the count, −1 on bad syntax. */
static int parse_numbers(const char *text, double *out, int maxn) {
  const char *q = text;
  char *end;
  int n = 0;
  while (*q == ' ') q++;
  if (*q++ != '[') return -1;
  for (;;) {
    while (*q == ' ') q++;
    if (n >= maxn) return -1;
    out[n] = strtod(q, &end);
    if (end == q || !isfinite(out[n])) return -1;
    n++;
    q = end;
    while (*q == ' ') q++;
    if (*q == ',') {
      q++;
      continue;
    }
    if (*q++ != ']') return -1;
    while (*q == ' ') q++;
    return *q ? -1 : n;
  }
}

nm_status nm_fit_opts_check(const nm_fit_opts *o, nm_error *err) {
  if (!(o->p_min >= NM_SHAPE_P_MIN && o->p_max <= NM_SHAPE_P_MAX && o->p_min <= o->p_max))
    return nm_fail(err, NM_ERR_ARG, "option 'p' must lie in [%g, %g] with min <= max",
                   NM_SHAPE_P_MIN, NM_SHAPE_P_MAX);
  if (!(o->d_min >= 1 && o->d_max <= 12 && o->d_min <= o->d_max))
    return nm_fail(err, NM_ERR_ARG, "option 'd' must be integers in [1, 12] with min <= max");
  if (!(o->lratio_min >= 0.05 && o->lratio_max <= NM_SHAPE_L_MAX && o->lratio_min <= o->lratio_max))
    return nm_fail(err, NM_ERR_ARG, "option 'lratio' must lie in [0.05, %g] with min <= max",
                   NM_SHAPE_L_MAX);
  if (o->restarts < 0 || o->restarts > 100)
    return nm_fail(err, NM_ERR_ARG, "option 'restarts' must be in 0..100");
  if (o->grid_starts < 0 || o->grid_starts > 20)
    return nm_fail(err, NM_ERR_ARG, "option 'grid_starts' must be in 0..20");
  if (o->d_max > 12) return nm_fail(err, NM_ERR_ARG, "option 'd' must be at most 12");
  if (o->max_evals < 4 || o->max_evals > 10000)
    return nm_fail(err, NM_ERR_ARG, "option 'max_evals' must be in 4..10000");
  if (o->has_start) {
    nm_error e2;
    if (check_triplet(o->start_p, o->start_d, o->start_lratio, &e2) != NM_OK)
      return nm_fail(err, NM_ERR_ARG, "option 'start': %s", e2.msg);
  }
  return NM_OK;
}

nm_status nm_fit_opts_set(nm_fit_opts *o, const char *key, double num,
                          const char *text, nm_error *err) {
  nm_fit_opts c = *o;
  double v[3];
  if (!strcmp(key, "start")) {
    if (!text || parse_numbers(text, v, 3) != 3)
      return nm_fail(err, NM_ERR_ARG, "option 'start' must be an array [p, d, lratio]");
    c.has_start = 1;
    c.start_p = v[0];
    c.start_d = v[1];
    c.start_lratio = v[2];
  } else if (!strcmp(key, "p") || !strcmp(key, "d") || !strcmp(key, "lratio")) {
    if (text) {
      if (parse_numbers(text, v, 2) != 2)
        return nm_fail(err, NM_ERR_ARG, "option '%s' must be a number or [min, max]", key);
    } else {
      if (!isfinite(num)) return nm_fail(err, NM_ERR_ARG, "option '%s' must be a number or [min, max]", key);
      v[0] = v[1] = num;
    }
    if (v[0] > v[1]) return nm_fail(err, NM_ERR_ARG, "option '%s': min %g > max %g", key, v[0], v[1]);
    if (key[0] == 'p') {
      c.p_min = v[0];
      c.p_max = v[1];
    } else if (key[0] == 'd') {
      if (v[0] != floor(v[0]) || v[1] != floor(v[1]) || fabs(v[0]) > 1e6 || fabs(v[1]) > 1e6)
        return nm_fail(err, NM_ERR_ARG, "option 'd' must be integers");
      c.d_min = (int)v[0];
      c.d_max = (int)v[1];
    } else {
      c.lratio_min = v[0];
      c.lratio_max = v[1];
    }
  } else if (!strcmp(key, "restarts") || !strcmp(key, "grid_starts") ||
             !strcmp(key, "max_evals") || !strcmp(key, "seed")) {
    if (text || !isfinite(num) || num != floor(num) || num < 0 || num > 9007199254740992.0)
      return nm_fail(err, NM_ERR_ARG, "option '%s' must be a non-negative integer", key);
    if (!strcmp(key, "seed")) c.seed = (uint64_t)num;
    else {
      int iv = num > 1e6 ? 1000001 : (int)num;
      if (key[0] == 'r') c.restarts = iv;
      else if (key[0] == 'g') c.grid_starts = iv;
      else c.max_evals = iv;
    }
  } else {
    return nm_fail(err, NM_ERR_ARG,
                   "option '%s' is unknown (known: start, p, d, lratio, restarts, "
                   "grid_starts, max_evals, seed)", key);
  }
  nm_status st = nm_fit_opts_check(&c, err);
  if (st == NM_OK) *o = c;
  return st;
}

typedef struct point {
  double lp, l; /* log p, Lratio */
  double v;     /* estimated Jaccard */
  int j;        /* rotation */
} point;

typedef struct fitter {
  const nm_fit_mask *m;
  const nm_fit_opts *o;
  cand *c;
  long evals;
} fitter;

static double clampd(double v, double a, double b) { return v < a ? a : v > b ? b : v; }

/* Estimated score of (p, d, L) with the rotation climbed from *j (or
** scanned when *j < 0). */
static double eval_point(fitter *f, double lp, double l, int d, int *j) {
  const nm_fit_opts *o = f->o;
  lp = clampd(lp, log(o->p_min), log(o->p_max));
  l = clampd(l, o->lratio_min, o->lratio_max);
  cand_init(f->c, f->m, exp(lp), d, l);
  if (*j < 0) return scan(f->m, f->c, 3, j, &f->evals);
  /* the best rotation can jump when the shape changes (d = 1 flips
  ** between its two ends as Lratio passes ~1.5): probe 7 far rotations with
  ** the coarse estimate and climb from there too when one beats the hint */
  int per = f->c->period, h = wrapj(*j, per), far = h;
  double hv = est_coarse(f->m, f->c, h), fv = hv;
  for (int k = 1; k < 8; k++) {
    int jj = wrapj(h + k * per / 8, per);
    double v = est_coarse(f->m, f->c, jj);
    if (v > fv) {
      fv = v;
      far = jj;
    }
  }
  f->evals += 8;
  double v1 = climb(f->m, f->c, &h, &f->evals);
  if (far != h) {
    double v2 = climb(f->m, f->c, &far, &f->evals);
    if (v2 > v1) {
      *j = far;
      return v2;
    }
  }
  *j = h;
  return v1;
}

/* Nelder–Mead over (log p, L) for fixed d; returns the best vertex. */
static point nelder_mead(fitter *f, point start, int d) {
  const nm_fit_opts *o = f->o;
  double lo0 = log(o->p_min), hi0 = log(o->p_max);
  double step0 = fmin(0.4, 0.25 * (hi0 - lo0) + 1e-9);
  double step1 = fmin(0.3, 0.25 * (o->lratio_max - o->lratio_min) + 1e-9);
  point s[3];
  s[0] = start;
  s[1] = start;
  s[2] = start;
  s[1].lp = start.lp + (start.lp + step0 > hi0 ? -step0 : step0);
  s[2].l = start.l + (start.l + step1 > o->lratio_max ? -step1 : step1);
  for (int i = 1; i < 3; i++) s[i].v = eval_point(f, s[i].lp, s[i].l, d, &s[i].j);
  int used = 2;
#define NM_EVAL(pt)                                                  \
  do {                                                               \
    (pt).j = s[0].j;                                                 \
    (pt).lp = clampd((pt).lp, lo0, hi0);                             \
    (pt).l = clampd((pt).l, o->lratio_min, o->lratio_max);          \
    (pt).v = eval_point(f, (pt).lp, (pt).l, d, &(pt).j);             \
    used++;                                                          \
  } while (0)
  while (used < o->max_evals) {
    /* order: s[0] best (highest v) */
    for (int a = 0; a < 2; a++)
      for (int b = a + 1; b < 3; b++)
        if (s[b].v > s[a].v) {
          point t = s[a];
          s[a] = s[b];
          s[b] = t;
        }
    double sz = fabs(s[1].lp - s[0].lp) + fabs(s[2].lp - s[0].lp) + fabs(s[1].l - s[0].l) +
                fabs(s[2].l - s[0].l);
    if (sz < 2e-3 || s[0].v - s[2].v < 1e-5) break;
    double mx = 0.5 * (s[0].lp + s[1].lp), my = 0.5 * (s[0].l + s[1].l);
    point r = s[0];
    r.lp = mx + (mx - s[2].lp);
    r.l = my + (my - s[2].l);
    NM_EVAL(r);
    if (r.v > s[0].v) {
      point e = s[0];
      e.lp = mx + 2 * (mx - s[2].lp);
      e.l = my + 2 * (my - s[2].l);
      NM_EVAL(e);
      s[2] = e.v > r.v ? e : r;
    } else if (r.v > s[1].v) {
      s[2] = r;
    } else {
      point c = s[0];
      c.lp = mx + 0.5 * (s[2].lp - mx);
      c.l = my + 0.5 * (s[2].l - my);
      NM_EVAL(c);
      if (c.v > s[2].v) {
        s[2] = c;
      } else {
        for (int i = 1; i < 3; i++) {
          s[i].lp = s[0].lp + 0.5 * (s[i].lp - s[0].lp);
          s[i].l = s[0].l + 0.5 * (s[i].l - s[0].l);
          NM_EVAL(s[i]);
        }
      }
    }
  }
#undef NM_EVAL
  point best = s[0];
  for (int i = 1; i < 3; i++)
    if (s[i].v > best.v) best = s[i];
  best.lp = clampd(best.lp, lo0, hi0);
  best.l = clampd(best.l, o->lratio_min, o->lratio_max);
  return best;
}

typedef struct seed_pt {
  point pt;
  int d;
  int ga, gb; /* grid cell (p index, Lratio index), −9 when not from the grid */
} seed_pt;

nm_status nm_shape_fit(const nm_fit_mask *m, const nm_fit_opts *o, nm_fit_result *out,
                       nm_error *err) {
  nm_status st = nm_fit_opts_check(o, err);
  if (st != NM_OK) return st;
  fitter f = {m, o, malloc(sizeof(cand)), 0};
  if (!f.c) return nm_fail(err, NM_ERR_NOMEM, "shape_fit: out of memory");
  double lo0 = log(o->p_min), hi0 = log(o->p_max);

  /* 1. coarse grid: 5 log-spaced p × 4 Lratio (denser near 1, where the
  ** family changes fastest) per d, estimates only */
  enum { GP = 5, GL = 4, MAXG = 6 * 12 * GP * GL };
  static const double lt[GL] = {0, 0.15, 0.4, 0.75};
  int nd = o->d_max - o->d_min + 1;
  seed_pt *grid = calloc((size_t)nd * GP * GL, sizeof(seed_pt));
  if (!grid) {
    free(f.c);
    return nm_fail(err, NM_ERR_NOMEM, "shape_fit: out of memory");
  }
  int ng = 0;
  for (int d = o->d_min; d <= o->d_max; d++)
    for (int a = 0; a < GP; a++)
      for (int b = 0; b < GL; b++) {
        point pt;
        pt.lp = lo0 + (hi0 - lo0) * (a + 0.5) / GP;
        pt.l = o->lratio_min * pow(o->lratio_max / o->lratio_min, lt[b]);
        cand_init(f.c, m, exp(pt.lp), d, pt.l);
        pt.v = scan(m, f.c, 4, &pt.j, &f.evals);
        grid[ng].pt = pt;
        grid[ng].d = d;
        grid[ng].ga = a;
        grid[ng].gb = b;
        ng++;
      }
  /* best first; at most two starts per d, so that they explore */
  for (int a = 1; a < ng; a++) {
    seed_pt t = grid[a];
    int q = a - 1;
    while (q >= 0 && grid[q].pt.v < t.pt.v) {
      grid[q + 1] = grid[q];
      q--;
    }
    grid[q + 1] = t;
  }
  seed_pt top[20];
  int ntop = 0, per_d[13] = {0};
  for (int a = 0; a < ng && ntop < o->grid_starts; a++) {
    if (per_d[grid[a].d] >= 2) continue;
    /* a second start for the same d only from another basin: not a
    ** neighbouring grid cell of the first */
    int near = 0;
    for (int q = 0; q < ntop; q++)
      near |= top[q].d == grid[a].d && abs(top[q].ga - grid[a].ga) <= 1 &&
              abs(top[q].gb - grid[a].gb) <= 1;
    if (near) continue;
    per_d[grid[a].d]++;
    top[ntop++] = grid[a];
  }
  seed_pt fallback = grid[0];
  free(grid);
  (void)MAXG;

  /* 2. starts: the given triplet (d rounded, clamped), the grid's best,
  ** seeded random points */
  seed_pt starts[20 + 1 + 100];
  int ns = 0;
  if (o->has_start) {
    int d = (int)lrint(o->start_d);
    d = d < o->d_min ? o->d_min : d > o->d_max ? o->d_max : d;
    starts[ns].d = d;
    starts[ns].pt.lp = clampd(log(o->start_p), lo0, hi0);
    starts[ns].pt.l = clampd(o->start_lratio, o->lratio_min, o->lratio_max);
    starts[ns].pt.j = -1;
    ns++;
  }
  for (int q = 0; q < ntop; q++) starts[ns++] = top[q];
  nm_rng rng;
  nm_rng_seed(&rng, o->seed);
  for (int q = 0; q < o->restarts; q++) {
    starts[ns].d = (int)nm_rng_int(&rng, o->d_min, o->d_max);
    starts[ns].pt.lp = nm_rng_range(&rng, lo0, hi0);
    starts[ns].pt.l = nm_rng_range(&rng, o->lratio_min, o->lratio_max);
    starts[ns].pt.j = -1;
    ns++;
  }
  seed_pt best = fallback;
  for (int q = 0; q < ns; q++) {
    seed_pt sp = starts[q];
    if (sp.pt.j < 0 || sp.pt.v <= 0) sp.pt.v = eval_point(&f, sp.pt.lp, sp.pt.l, sp.d, &sp.pt.j);
    point r = nelder_mead(&f, sp.pt, sp.d);
    if (r.v > best.pt.v) {
      best.pt = r;
      best.d = sp.d;
    }
  }
  /* 3. the winner, scored by the full protocol (the same number
  ** nm_fit_jaccard gives for the returned triplet) */
  cand_init(f.c, m, exp(best.pt.lp), best.d, best.pt.l);
  double jac;
  int jb;
  st = score_full(m, f.c, &jac, &jb, &f.evals, err);
  if (st == NM_OK) {
    out->p = exp(best.pt.lp);
    out->d = best.d;
    out->lratio = best.pt.l;
    out->phi = wrapj(jb, f.c->period) * DEG;
    out->jaccard = jac;
    out->evals = f.evals;
  }
  free(f.c);
  return st;
}
