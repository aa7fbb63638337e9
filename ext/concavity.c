/*
** concavity.c — convexity-defect split of non-convex pieces (concavity.h).
** Every piece is worked on in a crop of its bounding box (2 px margin, so
** the hull's outside is never empty).
*/
#include "concavity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "label.h"
#include "morph.h"
#include "split.h"

typedef struct box {
  int32_t l;
  int x0, y0, x1, y1; /* inclusive */
} box;

typedef struct crop {
  int cw, ch;
  size_t cn;
  int32_t *L;   /* 1 piece; then parts 1/2 */
  int32_t *lab; /* components (defects, then cut parts) */
  int32_t *queue;
  uint8_t *H, *Q, *P; /* P: the piece before its closing */
  float *hd;
  nm_ipt *pts, *hull;
} crop;

/* Solidity of {L == v} in the crop; with H, also rasterises its hull
** (pixel centres inside the hull polygon). Returns 0 for an empty set. */
static double solidity(crop *C, const int32_t *L, int32_t v, uint8_t *H, double *area_out) {
  int cw = C->cw, ch = C->ch;
  size_t np = 0;
  double area = 0;
  for (int y = 0; y < ch; y++)
    for (int x = 0; x < cw; x++) {
      size_t i = (size_t)y * cw + x;
      if (L[i] != v) continue;
      area++;
      if (x == 0 || L[i - 1] != v) {
        C->pts[np++] = (nm_ipt){x, y};
        C->pts[np++] = (nm_ipt){x, y + 1};
      }
      if (x == cw - 1 || L[i + 1] != v) {
        C->pts[np++] = (nm_ipt){x + 1, y};
        C->pts[np++] = (nm_ipt){x + 1, y + 1};
      }
    }
  if (area_out) *area_out = area;
  size_t k = nm_convex_hull(C->pts, np, C->hull);
  if (k < 4) return 0;
  double ha = 0;
  for (size_t i = 0; i + 1 < k; i++)
    ha += (double)C->hull[i].x * C->hull[i + 1].y - (double)C->hull[i + 1].x * C->hull[i].y;
  ha = fabs(ha) / 2;
  if (H) {
    /* per row, the span of the polygon at the pixel centres' height */
    memset(H, 0, C->cn);
    for (int y = 0; y < ch; y++) {
      double yc = y + 0.5, xl = INFINITY, xr = -INFINITY;
      for (size_t e = 0; e + 1 < k; e++) {
        nm_ipt a = C->hull[e], b = C->hull[e + 1];
        if ((yc < a.y && yc < b.y) || (yc > a.y && yc > b.y)) continue;
        double xs;
        if (a.y == b.y) {
          xs = a.x < b.x ? a.x : b.x;
          double xe = a.x < b.x ? b.x : a.x;
          if (xs < xl) xl = xs;
          if (xe > xr) xr = xe;
          continue;
        }
        xs = a.x + (yc - a.y) * (double)(b.x - a.x) / (double)(b.y - a.y);
        if (xs < xl) xl = xs;
        if (xs > xr) xr = xs;
      }
      for (int x = 0; x < cw; x++) {
        double xc = x + 0.5;
        if (xc >= xl && xc <= xr) H[(size_t)y * cw + x] = 1;
      }
    }
  }
  return ha > 0 ? area / ha : 0;
}

/* Bresenham (8-connected) from a to b, extended by ext pixels at both ends;
** calls back with each pixel inside the crop. An 8-connected line
** separates 4-connected regions. */
typedef void (*pix_fn)(crop *C, int x, int y, void *ctx);
static void draw_line(crop *C, nm_ipt a, nm_ipt b, int ext, pix_fn fn, void *ctx) {
  double dx = b.x - a.x, dy = b.y - a.y, len = hypot(dx, dy);
  if (len > 0 && ext > 0) {
    a.x = (int)lround(a.x - dx / len * ext);
    a.y = (int)lround(a.y - dy / len * ext);
    b.x = (int)lround(b.x + dx / len * ext);
    b.y = (int)lround(b.y + dy / len * ext);
  }
  int x = a.x, y = a.y, sx = a.x < b.x ? 1 : -1, sy = a.y < b.y ? 1 : -1;
  int ddx = abs(b.x - a.x), ddy = -abs(b.y - a.y), e = ddx + ddy;
  for (;;) {
    if (x >= 0 && y >= 0 && x < C->cw && y < C->ch) fn(C, x, y, ctx);
    if (x == b.x && y == b.y) break;
    int e2 = 2 * e;
    if (e2 >= ddy) e += ddy, x += sx;
    if (e2 <= ddx) e += ddx, y += sy;
  }
}

typedef struct inside_ctx {
  int in, all;
} inside_ctx;
static void count_inside(crop *C, int x, int y, void *ctx) {
  inside_ctx *c = ctx;
  c->all++;
  c->in += C->L[(size_t)y * C->cw + x] == 1;
}
static void clear_q(crop *C, int x, int y, void *ctx) {
  (void)ctx;
  C->Q[(size_t)y * C->cw + x] = 0;
}

typedef struct cand {
  nm_ipt p;
  double dep;
} cand;
typedef struct pair {
  int i, j;
  double score;
} pair;

static int cmp_cand(const void *a, const void *b) {
  double x = ((const cand *)a)->dep, y = ((const cand *)b)->dep;
  return x > y ? -1 : x < y;
}
static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
static int cmp_pair(const void *a, const void *b) {
  double x = ((const pair *)a)->score, y = ((const pair *)b)->score;
  return x < y ? -1 : x > y;
}

#define MAXC 12

/* One cut of the piece in C->L (== 1), or none. On success C->L holds 1 and
** 2 for the two parts and 1 is returned. */
static int cut_piece(crop *C, double d, double thr, const nm_concave_opts *o, nm_error *err,
                     nm_status *st) {
  int cw = C->cw, ch = C->ch;
  size_t cn = C->cn;
  double typical = M_PI * d * d / 4, area = 0;
  for (size_t i = 0; i < cn; i++) C->P[i] = C->L[i] == 1;
  double rc = o->smooth * d;
  if (rc >= 1) {
    /* outline noise (crevices narrower than the closing) is not a defect;
    ** the wide notch where two outlines cross survives it */
    if ((*st = nm_dilate_disc(C->P, C->Q, cw, ch, rc, C->hd, err))) return 0;
    if ((*st = nm_erode_disc(C->Q, C->Q, cw, ch, rc, C->hd, err))) return 0;
    for (size_t i = 0; i < cn; i++) C->L[i] = C->Q[i] || C->P[i];
  }
  double sol = solidity(C, C->L, 1, C->H, &area);
  if (!(sol > 0) || sol >= thr || area < 0.5 * typical) return 0;
  /* defects: hull minus piece, 4-connected */
  for (size_t i = 0; i < cn; i++) C->Q[i] = C->H[i] && C->L[i] != 1;
  int nd = 0;
  if ((*st = nm_label(C->Q, cw, ch, 0, C->lab, &nd, err))) return 0;
  if (nd < 2) return 0;
  if ((*st = nm_edt(C->H, cw, ch, 0, C->hd, err))) return 0;
  cand *best = calloc((size_t)nd + 1, sizeof *best);
  if (!best) {
    *st = nm_fail(err, NM_ERR_NOMEM, "concavity: out of memory");
    return 0;
  }
  for (int y = 0; y < ch; y++)
    for (int x = 0; x < cw; x++) {
      size_t i = (size_t)y * cw + x;
      if (C->L[i] != 1) continue;
      int32_t nb[4] = {x > 0 ? C->lab[i - 1] : 0, x < cw - 1 ? C->lab[i + 1] : 0,
                       y > 0 ? C->lab[i - cw] : 0, y < ch - 1 ? C->lab[i + cw] : 0};
      for (int k = 0; k < 4; k++)
        if (nb[k] > 0 && C->hd[i] > best[nb[k]].dep) best[nb[k]] = (cand){{x, y}, C->hd[i]};
    }
  double dmin = o->depth * d;
  if (dmin < 2) dmin = 2;
  int nc = 0;
  for (int k = 1; k <= nd; k++)
    if (best[k].dep >= dmin) best[nc++] = best[k];
  qsort(best, (size_t)nc, sizeof *best, cmp_cand);
  if (nc > MAXC) nc = MAXC;
  pair pr[MAXC * MAXC];
  int npr = 0;
  for (int i = 0; i < nc; i++)
    for (int j = i + 1; j < nc; j++) {
      double len = hypot(best[i].p.x - best[j].p.x, best[i].p.y - best[j].p.y);
      if (len > 1.5 * d) continue;
      inside_ctx ic = {0, 0};
      draw_line(C, best[i].p, best[j].p, 0, count_inside, &ic);
      if (ic.in < 0.9 * ic.all) continue;
      pr[npr++] = (pair){i, j, len / (best[i].dep + best[j].dep)};
    }
  qsort(pr, (size_t)npr, sizeof *pr, cmp_pair);
  int done = 0;
  for (int t = 0; t < npr && t < 4 && !done; t++) {
    for (size_t i = 0; i < cn; i++) C->Q[i] = C->L[i] == 1;
    draw_line(C, best[pr[t].i].p, best[pr[t].j].p, 2 + (int)ceil(rc), clear_q, NULL);
    int nq = 0;
    if ((*st = nm_label(C->Q, cw, ch, 0, C->lab, &nq, err))) break;
    if (nq < 2) continue;
    int64_t *ar = calloc((size_t)nq + 1, sizeof(int64_t));
    if (!ar) {
      *st = nm_fail(err, NM_ERR_NOMEM, "concavity: out of memory");
      break;
    }
    for (size_t i = 0; i < cn; i++) ar[C->lab[i]] += C->lab[i] > 0;
    int a = 0, b = 0;
    for (int k = 1; k <= nq; k++) {
      if (!a || ar[k] > ar[a]) b = a, a = k;
      else if (!b || ar[k] > ar[b]) b = k;
    }
    int ok = b && ar[b] >= 0.25 * typical;
    free(ar);
    if (!ok) continue;
    /* parts 1 (a) and 2 (b) in lab; the line and any crumbs go, breadth
    ** first, to the part they touch */
    size_t qh = 0, qt = 0;
    for (size_t i = 0; i < cn; i++) {
      int32_t v = C->L[i] == 1 ? (C->lab[i] == a ? 1 : C->lab[i] == b ? 2 : -1) : 0;
      C->lab[i] = v;
      if (v > 0) C->queue[qt++] = (int32_t)i;
    }
    while (qh < qt) {
      int32_t i = C->queue[qh++];
      int x = i % cw, y = i / cw;
      int32_t nb[4] = {x > 0 ? i - 1 : -1, x < cw - 1 ? i + 1 : -1, y > 0 ? i - cw : -1,
                       y < ch - 1 ? i + cw : -1};
      for (int k = 0; k < 4; k++)
        if (nb[k] >= 0 && C->lab[nb[k]] == -1) {
          C->lab[nb[k]] = C->lab[i];
          C->queue[qt++] = nb[k];
        }
    }
    double a1 = 0, a2 = 0;
    double s1 = solidity(C, C->lab, 1, NULL, &a1), s2 = solidity(C, C->lab, 2, NULL, &a2);
    if (a1 + a2 > 0 && (a1 * s1 + a2 * s2) / (a1 + a2) >= sol + o->gain) {
      for (size_t i = 0; i < cn; i++)
        C->L[i] = !C->P[i] ? 0 : C->lab[i] == 2 ? 2 : 1;
      done = 1;
    }
  }
  free(best);
  return done;
}

/* Irregular particles (the image's typical piece is not convex: texture
** arms, jagged outlines) are cut by the distance-transform and intensity
** splits wherever their outline wiggles. Two particles that only touch meet
** at a neck: their shared boundary is shorter than either is thick. A cut
** whose chord (the largest distance between two pixels on it) spans at
** least the thickness (twice the largest inscribed radius) of the thinner of
** its two pieces has no neck, and the two pieces are one particle: merged,
** each piece at most once per round, strongest first, three rounds. */
typedef struct contact {
  uint64_t key; /* a << 32 | b, a < b */
  int32_t x, y; /* a pixel of a next to b */
} contact;

static int cmp_contact(const void *a, const void *b) {
  uint64_t x = ((const contact *)a)->key, y = ((const contact *)b)->key;
  return x < y ? -1 : x > y;
}

typedef struct mcand {
  double ratio;
  int32_t a, b;
} mcand;

static int cmp_mcand(const void *a, const void *b) {
  double x = ((const mcand *)a)->ratio, y = ((const mcand *)b)->ratio;
  return x > y ? -1 : x < y;
}

#define NECK_RATIO 1.0
static nm_status merge_neckless(int32_t *labels, int w, int h, int count, nm_error *err) {
  size_t n = (size_t)w * h;
  uint8_t *m = nm_malloc(n, 1, err);
  float *dt = nm_malloc(n, sizeof(float), err);
  float *rin = nm_malloc((size_t)count + 1, sizeof(float), err);
  int32_t *to = nm_malloc((size_t)count + 1, sizeof(int32_t), err);
  size_t ccap = 1024, nc = 0;
  contact *ct = nm_malloc(ccap, sizeof(contact), err);
  mcand *mc = NULL;
  nm_status st = NM_OK;
  if (!m || !dt || !rin || !to || !ct) {
    st = err && err->code ? err->code : NM_ERR_NOMEM;
    goto done;
  }
  for (int round = 0; round < 3; round++) {
    /* thickness: the inscribed radius, a pixel next to another piece
    ** counting as outline */
    nm_label_untouched(labels, w, h, m);
    if ((st = nm_edt(m, w, h, 0, dt, err))) goto done;
    for (int l = 0; l <= count; l++) rin[l] = 0, to[l] = l;
    for (size_t p = 0; p < n; p++)
      if (labels[p] > 0 && labels[p] <= count && dt[p] > rin[labels[p]]) rin[labels[p]] = dt[p];
    /* contacts: pixels of a with a right or lower neighbour in b, and of b
    ** with one in a */
    nc = 0;
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        size_t p = (size_t)y * w + x;
        int32_t a = labels[p];
        if (a <= 0 || a > count) continue;
        for (int k = 0; k < 2; k++) {
          if ((k == 0 && x == w - 1) || (k == 1 && y == h - 1)) continue;
          int32_t b = labels[p + (k ? (size_t)w : 1)];
          if (b <= 0 || b > count || b == a) continue;
          if (nc + 2 > ccap) {
            contact *nct = realloc(ct, sizeof(contact) * ccap * 2);
            if (!nct) {
              st = nm_fail(err, NM_ERR_NOMEM, "concavity: out of memory");
              goto done;
            }
            ct = nct;
            ccap *= 2;
          }
          uint64_t key = a < b ? (uint64_t)a << 32 | (uint32_t)b : (uint64_t)b << 32 | (uint32_t)a;
          ct[nc++] = (contact){key, x, y};
          ct[nc++] = (contact){key, k ? x : x + 1, k ? y + 1 : y};
        }
      }
    if (!nc) break;
    qsort(ct, nc, sizeof(contact), cmp_contact);
    size_t npair = 0;
    for (size_t i = 0; i < nc;) {
      size_t j = i;
      while (j < nc && ct[j].key == ct[i].key) j++;
      npair++;
      i = j;
    }
    free(mc);
    mc = nm_malloc(npair, sizeof(mcand), err);
    if (!mc) {
      st = err && err->code ? err->code : NM_ERR_NOMEM;
      goto done;
    }
    size_t nm_ = 0;
    for (size_t i = 0; i < nc;) {
      size_t j = i;
      while (j < nc && ct[j].key == ct[i].key) j++;
      int32_t a = (int32_t)(ct[i].key >> 32), b = (int32_t)(ct[i].key & 0xffffffffu);
      double thick = 2 * fmin(rin[a], rin[b]);
      /* chord: farthest pair; quadratic in the contact's pixels, so a long
      ** contact is sampled (every s-th pixel; the chord moves by < s px) */
      size_t cnt = j - i, step = cnt > 400 ? cnt / 400 : 1;
      double c2 = 0;
      for (size_t u = i; u < j; u += step)
        for (size_t v = u + step; v < j; v += step) {
          double dx = ct[u].x - ct[v].x, dy = ct[u].y - ct[v].y;
          if (dx * dx + dy * dy > c2) c2 = dx * dx + dy * dy;
        }
      double chord = sqrt(c2) + 1;
      if (thick > 0 && chord >= NECK_RATIO * thick) mc[nm_++] = (mcand){chord / thick, a, b};
      i = j;
    }
    if (!nm_) break;
    qsort(mc, nm_, sizeof(mcand), cmp_mcand);
    int merged = 0;
    for (size_t i = 0; i < nm_; i++) {
      int32_t a = mc[i].a, b = mc[i].b;
      if (to[a] != a || to[b] != b || rin[a] < 0 || rin[b] < 0) continue;
      to[b] = a;
      rin[a] = rin[b] = -1; /* each piece once per round */
      merged++;
    }
    for (size_t p = 0; p < n; p++)
      if (labels[p] > 0 && labels[p] <= count) labels[p] = to[labels[p]];
    if (!merged) break;
  }
done:
  free(m);
  free(dt);
  free(rin);
  free(to);
  free(ct);
  free(mc);
  return st;
}

nm_status nm_split_concave(int32_t *labels, int w, int h, int *count, double d,
                           const nm_concave_opts *o, const nm_progress *progress,
                           nm_error *err) {
  if (!o || !(o->min_solidity > 0) || *count <= 0 || !(d > 0)) return NM_OK;
  int n0 = *count;
  size_t cap = (size_t)n0 + 16, nb = 0;
  box *bx = malloc(sizeof(box) * cap);
  if (!bx) return nm_fail(err, NM_ERR_NOMEM, "concavity: out of memory");
  for (int l = 0; l <= n0; l++) bx[l] = (box){l, w, h, -1, -1};
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      int32_t l = labels[(size_t)y * w + x];
      if (l <= 0 || l > n0) continue;
      box *b = bx + l;
      if (x < b->x0) b->x0 = x;
      if (x > b->x1) b->x1 = x;
      if (y < b->y0) b->y0 = y;
      if (y > b->y1) b->y1 = y;
    }
  /* particles that are themselves irregular (textured, jagged outlines)
  ** are no evidence of overlap: only pieces clearly less solid than this
  ** image's typical piece are examined */
  double thr = o->min_solidity;
  {
    double *sol = nm_malloc((size_t)n0 + 1, sizeof(double), err);
    int64_t *ar = nm_calloc((size_t)n0 + 1, sizeof(int64_t), err);
    nm_status s2 = sol && ar ? nm_label_solidity(labels, w, h, n0, sol, err) : NM_ERR_NOMEM;
    if (s2) {
      free(sol), free(ar), free(bx);
      return err && err->code ? err->code : s2;
    }
    nm_label_areas(labels, (size_t)w * h, n0, ar);
    int nv = 0;
    for (int l = 1; l <= n0; l++)
      if (ar[l] >= 0.5 * M_PI * d * d / 4) sol[nv++] = sol[l];
    if (nv >= 10) {
      qsort(sol, (size_t)nv, sizeof(double), cmp_double);
      double med = sol[nv / 2];
      if (med < o->min_solidity - o->margin) thr = 0;
      else if (med - o->margin < thr) thr = med - o->margin;
    }
    free(sol), free(ar);
  }
  if (!(thr > 0)) {
    free(bx);
    return o->keep_cuts ? NM_OK : merge_neckless(labels, w, h, n0, err);
  }
  /* the work list: bx[1..nb) */
  nb = (size_t)n0 + 1;
  nm_status st = NM_OK;
  crop C;
  memset(&C, 0, sizeof C);
  size_t ccap = 0;
  /* each cut leaves parts of at least a quarter particle: a piece cannot be
  ** cut more often than 4x its area in particles */
  for (size_t k = 1; k < nb; k++) {
    if (bx[k].x1 < 0) continue;
    if (nm_progress_tick(progress, 7.6, 10, "segment")) {
      st = nm_fail(err, NM_ERR_INTERRUPTED, "segment: interrupted");
      break;
    }
    int m = 3 + (int)ceil(o->smooth * d), x0 = bx[k].x0 - m, y0 = bx[k].y0 - m;
    C.cw = bx[k].x1 - bx[k].x0 + 1 + 2 * m;
    C.ch = bx[k].y1 - bx[k].y0 + 1 + 2 * m;
    C.cn = (size_t)C.cw * C.ch;
    if (C.cn > ccap) {
      free(C.L), free(C.lab), free(C.queue), free(C.H), free(C.Q), free(C.P), free(C.hd), free(C.pts),
          free(C.hull);
      memset(&C, 0, sizeof C);
      C.cw = bx[k].x1 - bx[k].x0 + 1 + 2 * m;
      C.ch = bx[k].y1 - bx[k].y0 + 1 + 2 * m;
      C.cn = (size_t)C.cw * C.ch;
      ccap = C.cn;
      size_t np = 4 * ccap + 8; /* at most 4 run corners per pixel */
      C.L = malloc(sizeof(int32_t) * ccap);
      C.lab = malloc(sizeof(int32_t) * ccap);
      C.queue = malloc(sizeof(int32_t) * ccap);
      C.H = malloc(ccap);
      C.Q = malloc(ccap);
      C.P = malloc(ccap);
      C.hd = malloc(sizeof(float) * ccap);
      C.pts = malloc(sizeof(nm_ipt) * np);
      C.hull = malloc(sizeof(nm_ipt) * (2 * np + 2));
      if (!C.L || !C.lab || !C.queue || !C.H || !C.Q || !C.P || !C.hd || !C.pts || !C.hull) {
        st = nm_fail(err, NM_ERR_NOMEM, "concavity: out of memory");
        break;
      }
    }
    int32_t l = bx[k].l;
    for (int y = 0; y < C.ch; y++)
      for (int x = 0; x < C.cw; x++) {
        int gx = x + x0, gy = y + y0;
        C.L[(size_t)y * C.cw + x] =
            gx >= 0 && gy >= 0 && gx < w && gy < h && labels[(size_t)gy * w + gx] == l;
      }
    if (!cut_piece(&C, d, thr, o, err, &st)) {
      if (st) break;
      continue;
    }
    int32_t nl = ++*count;
    box b1 = {l, w, h, -1, -1}, b2 = {nl, w, h, -1, -1};
    for (int y = 0; y < C.ch; y++)
      for (int x = 0; x < C.cw; x++) {
        int32_t v = C.L[(size_t)y * C.cw + x];
        if (!v) continue;
        int gx = x + x0, gy = y + y0;
        box *b = v == 2 ? &b2 : &b1;
        if (v == 2) labels[(size_t)gy * w + gx] = nl;
        if (gx < b->x0) b->x0 = gx;
        if (gx > b->x1) b->x1 = gx;
        if (gy < b->y0) b->y0 = gy;
        if (gy > b->y1) b->y1 = gy;
      }
    if (nb + 2 > cap) {
      box *nbx = realloc(bx, sizeof(box) * cap * 2);
      if (!nbx) {
        st = nm_fail(err, NM_ERR_NOMEM, "concavity: out of memory");
        break;
      }
      bx = nbx;
      cap *= 2;
    }
    bx[nb++] = b1;
    bx[nb++] = b2;
  }
  free(C.L), free(C.lab), free(C.queue), free(C.H), free(C.Q), free(C.P), free(C.hd), free(C.pts),
      free(C.hull);
  free(bx);
  return st;
}
