/*
** split.c — intensity-aware second split of merged pieces (see split.h).
*/
#include "split.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "label.h"
#include "morph.h"
#include "threshold.h"
#include "watershed.h"

static int cmp_ipt(const void *a, const void *b) {
  const nm_ipt *p = a, *q = b;
  if (p->x != q->x) return p->x < q->x ? -1 : 1;
  return (p->y > q->y) - (p->y < q->y);
}

static double cross(nm_ipt o, nm_ipt a, nm_ipt b) {
  return (double)(a.x - o.x) * (b.y - o.y) - (double)(a.y - o.y) * (b.x - o.x);
}

/* Andrew's monotone chain. */
size_t nm_convex_hull(nm_ipt *p, size_t n, nm_ipt *hull) {
  if (n < 3) return 0;
  qsort(p, n, sizeof *p, cmp_ipt);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    while (k >= 2 && cross(hull[k - 2], hull[k - 1], p[i]) <= 0) k--;
    hull[k++] = p[i];
  }
  for (size_t i = n - 1, t = k + 1; i-- > 0;) {
    while (k >= t && cross(hull[k - 2], hull[k - 1], p[i]) <= 0) k--;
    hull[k++] = p[i];
  }
  return k;
}

/* The hull, then the shoelace formula. */
double nm_hull_area(nm_ipt *p, size_t n, nm_ipt *hull) {
  size_t k = nm_convex_hull(p, n, hull);
  if (k < 3) return 0;
  double a = 0;
  for (size_t i = 0; i + 1 < k; i++)
    a += (double)hull[i].x * hull[i + 1].y - (double)hull[i + 1].x * hull[i].y;
  return fabs(a) / 2;
}

nm_status nm_label_solidity(const int32_t *lab, int w, int h, int count, double *solidity,
                            nm_error *err) {
  size_t nl = (size_t)count + 1;
  double *area = calloc(nl, sizeof(double));
  size_t *off = calloc(nl + 1, sizeof(size_t)), *fill = calloc(nl, sizeof(size_t));
  if (!area || !off || !fill) {
    free(area);
    free(off);
    free(fill);
    return nm_fail(err, NM_ERR_NOMEM, "split: out of memory");
  }
  /* the two outer corners of each end of every row run: the hull of the
  ** pixel squares is the hull of these */
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      size_t i = (size_t)y * w + x;
      int32_t l = lab[i];
      if (l <= 0 || l > count) continue;
      area[l]++;
      if (x == 0 || lab[i - 1] != l) off[l] += 2;
      if (x == w - 1 || lab[i + 1] != l) off[l] += 2;
    }
  size_t total = 0;
  for (size_t l = 0; l < nl; l++) {
    size_t c = off[l];
    off[l] = total;
    total += c;
  }
  off[nl] = total;
  nm_ipt *pts = malloc(sizeof(nm_ipt) * (total + 1));
  nm_ipt *hull = malloc(sizeof(nm_ipt) * (2 * total + 2));
  if (!pts || !hull) {
    free(area);
    free(off);
    free(fill);
    free(pts);
    free(hull);
    return nm_fail(err, NM_ERR_NOMEM, "split: out of memory");
  }
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      size_t i = (size_t)y * w + x;
      int32_t l = lab[i];
      if (l <= 0 || l > count) continue;
      nm_ipt *p = pts + off[l] + fill[l];
      if (x == 0 || lab[i - 1] != l) {
        p[0] = (nm_ipt){x, y};
        p[1] = (nm_ipt){x, y + 1};
        p += 2;
        fill[l] += 2;
      }
      if (x == w - 1 || lab[i + 1] != l) {
        p[0] = (nm_ipt){x + 1, y};
        p[1] = (nm_ipt){x + 1, y + 1};
        fill[l] += 2;
      }
    }
  solidity[0] = 0;
  for (size_t l = 1; l < nl; l++) {
    double ha = nm_hull_area(pts + off[l], off[l + 1] - off[l], hull);
    solidity[l] = ha > 0 ? area[l] / ha : 0;
  }
  free(area);
  free(off);
  free(fill);
  free(pts);
  free(hull);
  return NM_OK;
}

typedef struct edge {
  int32_t a, b;
  float dep;
} edge;

static int cmp_edge(const void *x, const void *y) {
  const edge *p = x, *q = y;
  if (p->a != q->a) return p->a < q->a ? -1 : 1;
  return (p->b > q->b) - (p->b < q->b);
}

static int cmp_edge_dep(const void *x, const void *y) {
  const edge *p = x, *q = y;
  if (p->dep != q->dep) return p->dep < q->dep ? -1 : 1;
  return cmp_edge(x, y);
}

/* Bounding box of a piece (union of merged pieces), inclusive. */
typedef struct bbox {
  int x0, y0, x1, y1;
} bbox;

static void bbox_add(bbox *q, int x, int y) {
  if (x < q->x0) q->x0 = x;
  if (x > q->x1) q->x1 = x;
  if (y < q->y0) q->y0 = y;
  if (y > q->y1) q->y1 = y;
}

static bbox bbox_union(bbox a, bbox b) {
  return (bbox){a.x0 < b.x0 ? a.x0 : b.x0, a.y0 < b.y0 ? a.y0 : b.y0, a.x1 > b.x1 ? a.x1 : b.x1,
                a.y1 > b.y1 ? a.y1 : b.y1};
}

/* The point buffers cut_end_depth works in, grown to hold a union's box. */
typedef struct cut_scratch {
  nm_ipt *pts, *hull, *ends;
  size_t cap; /* pixels of the largest box they hold */
} cut_scratch;

/* 0, or -1 when out of memory (the buffers are then freed). */
static int cut_scratch_fit(cut_scratch *s, bbox u) {
  size_t area = (size_t)(u.x1 - u.x0 + 1) * (size_t)(u.y1 - u.y0 + 1);
  if (area <= s->cap) return 0;
  free(s->pts);
  free(s->hull);
  free(s->ends);
  s->pts = malloc(sizeof(nm_ipt) * (4 * area + 2));
  s->hull = malloc(sizeof(nm_ipt) * (8 * area + 6));
  s->ends = malloc(sizeof(nm_ipt) * (area + 1));
  s->cap = area;
  if (s->pts && s->hull && s->ends) return 0;
  free(s->pts);
  free(s->hull);
  free(s->ends);
  *s = (cut_scratch){0};
  return -1;
}

static void cut_scratch_free(cut_scratch *s) {
  free(s->pts);
  free(s->hull);
  free(s->ends);
}

/* The image at pixel scale (Gaussian of 1 px) into g and its closing by
** a disc of d/8 (the local particle level) into c; returns the radius. A
** line between particles is where g lies below c. */
static int pixel_scale_close(const float *img, int w, int h, double d, float *g, float *c,
                             float *tmp) {
  nm_gauss(img, g, w, h, 1.0, tmp);
  int r = (int)lround(d / 8);
  if (r < 1) r = 1;
  nm_close(g, c, w, h, r, tmp);
  return r;
}

/* How far the image (smooth) lies below its closing (closed: the local
** particle level), as a share of that level (at least lo), in 0..1. */
static float depth_below(float closed, float smooth, float lo) {
  float dep = (closed - smooth) / (closed > lo ? closed : lo);
  return dep < 0 ? 0 : dep > 1 ? 1 : dep;
}

/* The deepest end of the cut between roots ra and rb: over the pixels of
** either piece that touch the other piece and also something outside their
** union (the cut's ends on the union's outline), the largest distance of a
** pixel centre inside the union's convex hull (pixel squares). A cut
** between two particles ends in the notches where their outlines meet; a
** cut across one convex particle ends on its hull. -1: no end found.
** *line: the mean of d1 along the cut over its mean in the rest of the
** union (how much deeper the cut runs than the inside, at pixel scale). */
static double cut_end_depth(const int32_t *mk, const uint8_t *roi, const float *d1, int32_t *par,
                            int w, int h, int32_t ra, int32_t rb, bbox b,
                            const cut_scratch *s, double *line) {
  nm_ipt *pts = s->pts, *hull = s->hull, *ends = s->ends;
  size_t np = 0, ne = 0;
  double sl = 0, si = 0, nl = 0, ni = 0;
  int32_t lastl = 0, lastr = 0;
  for (int y = b.y0; y <= b.y1; y++)
    for (int x = b.x0; x <= b.x1; x++) {
      size_t i = (size_t)y * w + x;
      int32_t l = mk[i];
      if (!roi[i] || l <= 0) continue;
      if (l != lastl) lastl = l, lastr = nm_uf_find(par, l);
      int32_t r = lastr;
      if (r != ra && r != rb) continue;
      /* inside one piece (4-neighbours of its own label): only the mean */
      if (x > 0 && x < w - 1 && y > 0 && y < h - 1 && mk[i - 1] == l && mk[i + 1] == l &&
          mk[i - w] == l && mk[i + w] == l && roi[i - 1] && roi[i + 1] && roi[i - w] &&
          roi[i + w]) {
        si += d1[i], ni++;
        continue;
      }
      int left = x == 0 || !roi[i - 1] || mk[i - 1] <= 0 ? 1 : 0;
      int right = x == w - 1 || !roi[i + 1] || mk[i + 1] <= 0 ? 1 : 0;
      int32_t rl = left ? 0 : nm_uf_find(par, mk[i - 1]);
      int32_t rr = right ? 0 : nm_uf_find(par, mk[i + 1]);
      if (left || (rl != ra && rl != rb)) pts[np++] = (nm_ipt){x, y}, pts[np++] = (nm_ipt){x, y + 1};
      if (right || (rr != ra && rr != rb))
        pts[np++] = (nm_ipt){x + 1, y}, pts[np++] = (nm_ipt){x + 1, y + 1};
      int32_t nb[4] = {rl, rr, y == 0 || !roi[i - w] || mk[i - w] <= 0 ? 0 : nm_uf_find(par, mk[i - w]),
                       y == h - 1 || !roi[i + w] || mk[i + w] <= 0 ? 0 : nm_uf_find(par, mk[i + w])};
      int other = r == ra ? rb : ra, touch = 0, out = 0;
      for (int k = 0; k < 4; k++) {
        if (nb[k] == other) touch = 1;
        else if (nb[k] != ra && nb[k] != rb) out = 1;
      }
      if (touch && out) ends[ne++] = (nm_ipt){x, y};
      if (touch) sl += d1[i], nl++;
      else si += d1[i], ni++;
    }
  *line = nl > 0 ? sl / nl : 0;
  if (ni > 0 && si > 0) *line /= si / ni;
  else *line = *line > 0 ? INFINITY : 0;
  if (ne == 0) return -1;
  size_t k = nm_convex_hull(pts, np, hull);
  if (k < 4) return -1;
  double orient = 0;
  for (size_t j = 0; j + 1 < k; j++)
    orient += (double)hull[j].x * hull[j + 1].y - (double)hull[j + 1].x * hull[j].y;
  double sgn = orient > 0 ? 1 : -1, worst = 0;
  for (size_t e = 0; e < ne; e++) {
    double px = ends[e].x + 0.5, py = ends[e].y + 0.5, dmin = INFINITY;
    for (size_t j = 0; j + 1 < k; j++) {
      double ex = hull[j + 1].x - hull[j].x, ey = hull[j + 1].y - hull[j].y;
      double len = hypot(ex, ey);
      if (!(len > 0)) continue;
      double dd = sgn * (ex * (py - hull[j].y) - ey * (px - hull[j].x)) / len;
      if (dd < dmin) dmin = dd;
    }
    if (dmin > worst) worst = dmin;
  }
  return worst;
}

/* Merges adjacent pieces of the same parent whose shared boundary is
** shallow: mean depth (dep, where roi) along it below thr. A gap line is
** deep along its whole length; a cut through texture is not. */
static nm_status merge_weak(int32_t *mk, int nm, const uint8_t *roi, const int32_t *parent,
                            const float *dep, const float *d1, int w, int h, double thr,
                            double amax, double notch, nm_error *err) {
  size_t cap = 1024, ne = 0;
  edge *e = malloc(sizeof(edge) * cap);
  int32_t *par = malloc(sizeof(int32_t) * ((size_t)nm + 1));
  if (!e || !par) {
    free(e);
    free(par);
    return nm_fail(err, NM_ERR_NOMEM, "split: out of memory");
  }
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      size_t i = (size_t)y * w + x;
      if (!roi[i] || mk[i] <= 0) continue;
      for (int k = 0; k < 2; k++) {
        if (k == 0 ? x == w - 1 : y == h - 1) continue;
        size_t j = k == 0 ? i + 1 : i + (size_t)w;
        if (!roi[j] || mk[j] <= 0 || mk[j] == mk[i] || parent[j] != parent[i]) continue;
        if (ne == cap) {
          edge *ne2 = realloc(e, sizeof(edge) * cap * 2);
          if (!ne2) {
            free(e);
            free(par);
            return nm_fail(err, NM_ERR_NOMEM, "split: out of memory");
          }
          e = ne2;
          cap *= 2;
        }
        int32_t a = mk[i], b = mk[j];
        e[ne++] = (edge){a < b ? a : b, a < b ? b : a, 0.5f * (dep[i] + dep[j])};
      }
    }
  qsort(e, ne, sizeof *e, cmp_edge);
  double *inner = calloc((size_t)nm + 1, sizeof(double));
  double *cnt = calloc((size_t)nm + 1, sizeof(double));
  if (!inner || !cnt) {
    free(e);
    free(par);
    free(inner);
    free(cnt);
    return nm_fail(err, NM_ERR_NOMEM, "split: out of memory");
  }
  for (size_t i = 0; i < (size_t)w * h; i++)
    if (roi[i] && mk[i] > 0) inner[mk[i]] += dep[i], cnt[mk[i]]++;
  for (int32_t l = 1; l <= nm; l++) inner[l] = cnt[l] > 0 ? inner[l] / cnt[l] : 0;
  for (int32_t l = 0; l <= nm; l++) par[l] = l;
  /* one entry per weak pair (compacted in place), then merged weakest
  ** first; a merge whose result would be larger than amax is refused:
  ** merges undo cuts through one particle, and chained merges of many
  ** weak cuts otherwise rebuild a whole raft (docs/accuracy.md) */
  size_t np = 0;
  for (size_t i = 0; i < ne;) {
    size_t j = i;
    double sum = 0;
    while (j < ne && e[j].a == e[i].a && e[j].b == e[i].b) sum += e[j++].dep;
    double in = inner[e[i].a] > inner[e[i].b] ? inner[e[i].a] : inner[e[i].b];
    double mean = sum / (double)(j - i);
    if (mean < thr || mean < 2 * in) e[np++] = (edge){e[i].a, e[i].b, (float)mean};
    i = j;
  }
  qsort(e, np, sizeof *e, cmp_edge_dep);
  bbox *bb = NULL;
  cut_scratch scratch = {0};
  if (notch > 0 && d1 && amax > 0 && np > 0) {
    bb = malloc(sizeof(bbox) * ((size_t)nm + 1));
    if (!bb) {
      free(e);
      free(par);
      free(inner);
      free(cnt);
      return nm_fail(err, NM_ERR_NOMEM, "split: out of memory");
    }
    for (int32_t l = 0; l <= nm; l++) bb[l] = (bbox){w, h, -1, -1};
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        size_t i = (size_t)y * w + x;
        if (roi[i] && mk[i] > 0) bbox_add(bb + mk[i], x, y);
      }
  }
  for (size_t i = 0; i < np; i++) {
    int32_t ra = nm_uf_find(par, e[i].a), rb = nm_uf_find(par, e[i].b);
    if (ra == rb) continue;
    if (amax > 0 && cnt[ra] + cnt[rb] > amax) {
      /* the cap stops chains of weak cuts across a raft of particles. A
      ** weak cut is still undone when nothing in the image supports it:
      ** it ends on no notch of the union's outline (touching particles'
      ** outlines meet in notches; a cut across one convex particle runs
      ** hull to hull) and runs along no line at pixel scale (mean depth
      ** on d1 under twice the inside's, the merge test's factor: crystals
      ** aligned face to face meet in no notch but show their line). The
      ** cap's size test reads d, which on faceted particles is read low,
      ** so fringes and twin planes inside one crystal stayed cut */
      if (!(notch > 0) || !d1) continue;
      bbox u = bbox_union(bb[ra], bb[rb]);
      if (cut_scratch_fit(&scratch, u) != 0) {
        free(e);
        free(par);
        free(inner);
        free(cnt);
        free(bb);
        return nm_fail(err, NM_ERR_NOMEM, "split: out of memory");
      }
      double line = 0;
      double de = cut_end_depth(mk, roi, d1, par, w, h, ra, rb, u, &scratch, &line);
      if (!(de >= 0) || de >= notch || !(line < 2)) continue;
    }
    nm_uf_union(par, ra, rb);
    int32_t r = nm_uf_find(par, ra);
    cnt[r] = cnt[ra] + cnt[rb];
    if (bb) bb[r] = bbox_union(bb[ra], bb[rb]);
  }
  free(bb);
  cut_scratch_free(&scratch);
  for (size_t i = 0; i < (size_t)w * h; i++)
    if (roi[i] && mk[i] > 0) mk[i] = nm_uf_find(par, mk[i]);
  free(e);
  free(par);
  free(inner);
  free(cnt);
  return NM_OK;
}

nm_status nm_split_merged(const float *img, const uint8_t *mask, int w, int h, int32_t *labels,
                          int *count, double d, double h_frac, double power,
                          const nm_progress *progress, nm_error *err) {
  return nm_split_merged_nd(img, mask, NULL, w, h, labels, count, d, h_frac, power, 0, 0,
                            progress, err);
}

nm_status nm_split_merged_nd(const float *img, const uint8_t *mask, const float *neg_dist, int w,
                             int h, int32_t *labels, int *count, double d, double h_frac,
                             double power, double merge_cap, double notch,
                             const nm_progress *progress, nm_error *err) {
  if (!(power > 0) || *count <= 0 || !(d > 0)) return NM_OK;
  size_t n = (size_t)w * h, nl = (size_t)*count + 1;
  nm_status st = NM_OK;
  double *sol = nm_malloc(nl, sizeof(double), err);
  int64_t *area = nm_calloc(nl, sizeof(int64_t), err);
  uint8_t *suspect = nm_calloc(nl, 1, err);
  float *f = nm_malloc(n, sizeof(float), err);
  float *g = nm_malloc(n, sizeof(float), err);
  float *c = nm_malloc(n, sizeof(float), err);
  float *tmp = nm_malloc(nm_filter_tmp_size(w, h), sizeof(float), err);
  uint8_t *roi = nm_malloc(n, 1, err);
  int32_t *mk = nm_malloc(n, sizeof(int32_t), err);
  /* the pixel-scale depth, kept for the cap's notch test (merge_weak) */
  float *d1 = merge_cap > 0 && notch > 0 ? nm_calloc(n, sizeof(float), err) : NULL;
  if (!sol || !area || !suspect || !f || !g || !c || !tmp || !roi || !mk ||
      (merge_cap > 0 && notch > 0 && !d1)) {
    st = err && err->code ? err->code : NM_ERR_NOMEM;
    goto done;
  }
  st = nm_label_solidity(labels, w, h, *count, sol, err);
  if (st) goto done;
  for (size_t i = 0; i < n; i++)
    if (labels[i] > 0 && labels[i] <= *count) area[labels[i]]++;
  double typical = M_PI * d * d / 4;
  int any = 0;
  for (size_t l = 1; l < nl; l++) {
    suspect[l] = area[l] > 0 && ((double)area[l] > 1.5 * typical || sol[l] < 0.8);
    any |= suspect[l];
  }
  if (!any) goto done;
  for (size_t i = 0; i < n; i++) roi[i] = labels[i] > 0 && labels[i] <= *count && suspect[labels[i]];
  /* depth below the local particle level, at pixel scale */
  int r = pixel_scale_close(img, w, h, d, g, c, tmp);
  double contrast = nm_class_contrast(img, n, nm_otsu(img, n, NULL)); /* depths' unit */
  if (!(contrast > 0)) goto done;
  float lo = (float)(0.1 * contrast);
  if (neg_dist) {
    for (size_t i = 0; i < n; i++) f[i] = -neg_dist[i]; /* exact */
  } else {
    st = nm_edt(mask, w, h, 0, f, err);
    if (st) goto done;
  }
  for (size_t i = 0; i < n; i++) {
    if (!roi[i]) continue;
    float dep = depth_below(c[i], g[i], lo);
    f[i] *= (float)pow(1.0 - dep, power);
    if (d1) d1[i] = dep;
  }
  {
    /* the merge test reads depth on a smoother image: the watershed line
    ** runs by construction through the deepest pixels, which in noise are
    ** deep only by chance */
    /* pixel noise, not the particle scale, sets this: on small particles
    ** it can only keep more merges, i.e. fall back to the first split */
    double st_sig = 3;
    nm_gauss(img, g, w, h, st_sig, tmp);
    nm_close(g, c, w, h, r, tmp);
    for (size_t i = 0; i < n; i++) c[i] = depth_below(c[i], g[i], lo);
  }
  if (nm_progress_tick(progress, 7.3, 10, "segment")) {
    st = nm_fail(err, NM_ERR_INTERRUPTED, "segment: interrupted");
    goto done;
  }
  double hv = h_frac * d / 2;
  if (hv < 0.5) hv = 0.5;
  int nm = 0;
  st = nm_hmax_markers(f, roi, w, h, hv, mk, &nm, err);
  if (st || nm == 0) goto done;
  for (size_t i = 0; i < n; i++) f[i] = -f[i];
  st = nm_watershed(f, roi, w, h, mk, progress, err);
  if (st) goto done;
  st = merge_weak(mk, nm, roi, labels, c, d1, w, h, 0.1, merge_cap * typical, notch, err);
  if (st) goto done;
  /* pixels no marker reached keep their old piece */
  for (size_t i = 0; i < n; i++)
    if (roi[i] && mk[i] > 0) labels[i] = *count + mk[i];
  *count += nm;
done:
  free(sol);
  free(area);
  free(suspect);
  free(f);
  free(g);
  free(c);
  free(tmp);
  free(roi);
  free(mk);
  free(d1);
  return st;
}

typedef struct cpair {
  int32_t a, b;
  double sum, n;
} cpair;

static int cmp_cpair(const void *x, const void *y) {
  const cpair *p = x, *q = y;
  if (p->a != q->a) return p->a < q->a ? -1 : 1;
  return (p->b > q->b) - (p->b < q->b);
}

static int cmp_cpair_mean(const void *x, const void *y) {
  const cpair *p = x, *q = y;
  double a = p->sum / p->n, b = q->sum / q->n;
  if (a != b) return a < b ? -1 : 1;
  return cmp_cpair(x, y);
}

nm_status nm_merge_unsupported(const float *img, int w, int h, int32_t *labels, int count,
                               double d, double notch, nm_error *err) {
  if (count < 2 || !(d > 0) || !(notch > 0)) return NM_OK;
  size_t n = (size_t)w * h, nl = (size_t)count + 1;
  nm_status st = NM_OK;
  float *g = nm_malloc(n, sizeof(float), err);
  float *c = nm_malloc(n, sizeof(float), err);
  float *tmp = nm_malloc(nm_filter_tmp_size(w, h), sizeof(float), err);
  uint8_t *roi = nm_malloc(n, 1, err);
  int32_t *par = nm_malloc(nl, sizeof(int32_t), err);
  bbox *bb = nm_malloc(nl, sizeof(bbox), err);
  cpair *e = NULL;
  cut_scratch scratch = {0};
  size_t ne = 0, ecap = 0;
  if (!g || !c || !tmp || !roi || !par || !bb) {
    st = err && err->code ? err->code : NM_ERR_NOMEM;
    goto done;
  }
  for (size_t i = 0; i < n; i++) roi[i] = labels[i] > 0 && labels[i] <= count;
  /* the pixel-scale depth below the local particle level, as the second
  ** split reads it */
  pixel_scale_close(img, w, h, d, g, c, tmp);
  double contrast = nm_class_contrast(img, n, nm_otsu(img, n, NULL)); /* depths' unit */
  if (!(contrast > 0)) goto done;
  float lo = (float)(0.1 * contrast);
  for (size_t i = 0; i < n; i++) g[i] = roi[i] ? depth_below(c[i], g[i], lo) : 0;
  for (size_t l = 0; l < nl; l++) par[l] = (int32_t)l, bb[l] = (bbox){w, h, -1, -1};
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      size_t i = (size_t)y * w + x;
      int32_t l = labels[i];
      if (!roi[i]) continue;
      bbox_add(bb + l, x, y);
      for (int k = 0; k < 2; k++) {
        if (k == 0 ? x == w - 1 : y == h - 1) continue;
        size_t j = k == 0 ? i + 1 : i + (size_t)w;
        if (!roi[j] || labels[j] == l) continue;
        if (ne == ecap) {
          size_t nc = ecap ? 2 * ecap : 1024;
          cpair *e2 = realloc(e, sizeof(cpair) * nc);
          if (!e2) {
            st = nm_fail(err, NM_ERR_NOMEM, "split: out of memory");
            goto done;
          }
          e = e2;
          ecap = nc;
        }
        int32_t a = l, b = labels[j];
        e[ne++] = (cpair){a < b ? a : b, a < b ? b : a, 0.5 * (g[i] + g[j]), 1};
      }
    }
  if (ne == 0) goto done;
  qsort(e, ne, sizeof *e, cmp_cpair);
  size_t np = 0;
  for (size_t i = 0; i < ne;) {
    size_t j = i;
    cpair p = {e[i].a, e[i].b, 0, 0};
    while (j < ne && e[j].a == e[i].a && e[j].b == e[i].b) p.sum += e[j].sum, p.n++, j++;
    e[np++] = p;
    i = j;
  }
  qsort(e, np, sizeof *e, cmp_cpair_mean);
  for (size_t i = 0; i < np; i++) {
    int32_t ra = nm_uf_find(par, e[i].a), rb = nm_uf_find(par, e[i].b);
    if (ra == rb) continue;
    bbox u = bbox_union(bb[ra], bb[rb]);
    if (cut_scratch_fit(&scratch, u) != 0) {
      st = nm_fail(err, NM_ERR_NOMEM, "split: out of memory");
      goto done;
    }
    double line = 0;
    double de = cut_end_depth(labels, roi, g, par, w, h, ra, rb, u, &scratch, &line);
    if (!(de >= 0) || de >= notch || !(line < 2)) continue;
    nm_uf_union(par, ra, rb);
    bb[nm_uf_find(par, ra)] = u;
  }
  for (size_t i = 0; i < n; i++)
    if (roi[i]) labels[i] = nm_uf_find(par, labels[i]);
done:
  free(g);
  free(c);
  free(tmp);
  free(roi);
  free(par);
  free(bb);
  free(e);
  cut_scratch_free(&scratch);
  return st;
}
