/*
** tools/eval.c — segmentation accuracy on the shared data sets (make eval-seg).
**
**   eval [-d DATA_DIR] [-s SET] [-i SUBSTR] [-g] [-v] [-p|-P] [-o DIR [-c x,y,w,h,z]] [key=value ...]
**
** -p / -P: where the ground-truth outlines sit in each particle's own
** contrast (profile across them, raw / smoothed by 0.05 d), and the film's
** robust sigma against that contrast; see gt_profile.
**
** For every set folder under DATA_DIR (default ../shared/data) that has a
** pairs.tsv, runs particles()'s pipeline on each image (nm_particles_run:
** defaults, or the options given as key=value; a value that is not a number
** is passed as text) and scores the rows it keeps (WHERE excluded IS NULL)
** against the ground truth, following the data README (-g: nm_segment alone,
** without the outlier flags and the read scale bar's box):
**   - instances: `labels*` kinds use the label values, `binary*` kinds the
**     8-connected components of the mask; `boxes` reads x0 y0 x1 y1 lines;
**   - ground-truth particles touching the image border are left out, and so
**     are detections touching it (the pipeline excludes those as `edge`);
**     excluded detections (edge, scale_bar, too_small, texture, outlier)
**     are not detections;
**   - `*-sparse` kinds: a detection that overlaps no annotated particle is
**     neither right nor wrong and is left out (local precision);
**   - au-tetra-prism's overlap/ lens pixels are left out of the IoUs;
**   - one-to-one matching, greedily from the highest IoU, at IoU >= 0.5
**     (mask IoU, or box IoU for `boxes`).
** Prints per set: images, ground truth, detections, true positives,
** precision, recall, F1, mean IoU of matches, median relative area error of
** matches, and seconds spent segmenting (with -g) or in the whole pipeline. Pooled over the set's images.
** A missing DATA_DIR or set prints a note and exits 0 (nothing to score).
*/
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../ext/image.h"
#include "../ext/label.h"
#include "../ext/morph.h"
#include "../ext/particles.h"
#include "../ext/filter.h"
#include "../ext/segment.h"
#include "gt_labels.h"
#include "png_file.h"
#include "pairs_tsv.h"

typedef struct match_stats {
  long gt, pred, tp;
  double iou_sum;
  double *area_err;
  long n_err, cap_err;
  double seconds;
  int images;
  long why[7]; /* -v: gt missed/split/merged/outline, pred fragment/merge/extra */
} match_stats;

static void push_err(match_stats *s, double e) {
  if (s->n_err == s->cap_err) {
    s->cap_err = s->cap_err ? 2 * s->cap_err : 256;
    s->area_err = realloc(s->area_err, sizeof(double) * (size_t)s->cap_err);
    if (!s->area_err) {
      fprintf(stderr, "eval: out of memory\n");
      exit(2);
    }
  }
  s->area_err[s->n_err++] = e;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* -v: the signed median area error of the matches pushed since index i0
** (one image's), 0 when none */
static double signed_median(const match_stats *s, long i0) {
  long m = s->n_err - i0;
  if (m <= 0) return 0;
  double *v = malloc(sizeof(double) * (size_t)m);
  if (!v) return 0;
  memcpy(v, s->area_err + i0, sizeof(double) * (size_t)m);
  qsort(v, (size_t)m, sizeof(double), cmp_double);
  double r = m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
  free(v);
  return r;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct cand {
  double iou;
  int g, p;
} cand;

static int cmp_cand(const void *a, const void *b) {
  double x = ((const cand *)a)->iou, y = ((const cand *)b)->iou;
  return x > y ? -1 : x < y;
}

typedef struct box {
  double x0, y0, x1, y1;
} box;

/* Greedy one-to-one matching of the candidate pairs (already IoU >= 0.5). */
static void greedy(cand *c, int nc, int ng, int np, const double *ga, const double *pa,
                   match_stats *s, long *tp_out, char **gu_out, char **pu_out) {
  qsort(c, (size_t)nc, sizeof *c, cmp_cand);
  char *gu = calloc((size_t)ng + 1, 1), *pu = calloc((size_t)np + 1, 1);
  long tp = 0;
  for (int i = 0; i < nc; i++) {
    if (gu[c[i].g] || pu[c[i].p]) continue;
    gu[c[i].g] = pu[c[i].p] = 1;
    tp++;
    s->iou_sum += c[i].iou;
    push_err(s, (pa[c[i].p] - ga[c[i].g]) / ga[c[i].g]); /* signed; |.| at the end */
  }
  if (gu_out) *gu_out = gu;
  else free(gu);
  if (pu_out) *pu_out = pu;
  else free(pu);
  *tp_out = tp;
}

static int cmpu(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Mask scoring. gt: instance labels 1..ng (0 bg); ignore: pixels left out
** (may be NULL). pred: labels 1..np with keep[p] != 0 for real detections. */
static void score_masks(const int32_t *gt, int ng, const uint8_t *ignore,
                        const int32_t *pred, int np, const uint8_t *keep, int w, int h,
                        int sparse, match_stats *s, int verbose, const char *name) {
  size_t n = (size_t)w * h;
  double *ga = calloc((size_t)ng + 1, sizeof(double));
  double *pa = calloc((size_t)np + 1, sizeof(double));
  char *gedge = calloc((size_t)ng + 1, 1), *ptouch = calloc((size_t)np + 1, 1);
  /* overlap counts: a sorted list of (g,p) keys */
  uint64_t *keys = malloc(sizeof(uint64_t) * n);
  size_t nk = 0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      size_t i = (size_t)y * w + x;
      int g = gt[i], p = pred[i];
      if (p && !keep[p]) p = 0;
      if (g && (x == 0 || y == 0 || x == w - 1 || y == h - 1)) gedge[g] = 1;
      if (p && g) ptouch[p] = 1;
      if (ignore && ignore[i]) continue;
      if (g) ga[g]++;
      if (p) pa[p]++;
      if (g && p) keys[nk++] = ((uint64_t)g << 32) | (uint32_t)p;
    }
  qsort(keys, nk, sizeof *keys, cmpu);
  cand *c = malloc(sizeof(cand) * (nk + 1));
  int nc = 0;
  for (size_t i = 0; i < nk;) {
    size_t j = i;
    while (j < nk && keys[j] == keys[i]) j++;
    int g = (int)(keys[i] >> 32), p = (int)(keys[i] & 0xffffffffu);
    double inter = (double)(j - i);
    double iou = inter / (ga[g] + pa[p] - inter);
    if (iou >= 0.5 && !gedge[g]) c[nc++] = (cand){iou, g, p};
    i = j;
  }
  long gtn = 0, prn = 0, tp = 0;
  for (int g = 1; g <= ng; g++) gtn += ga[g] > 0 && !gedge[g];
  /* a detection matched to an edge particle is not counted either way */
  char *pmatch_edge = calloc((size_t)np + 1, 1);
  for (size_t i = 0; i < nk;) {
    size_t j = i;
    while (j < nk && keys[j] == keys[i]) j++;
    int g = (int)(keys[i] >> 32), p = (int)(keys[i] & 0xffffffffu);
    double inter = (double)(j - i);
    if (gedge[g] && inter / (ga[g] + pa[p] - inter) >= 0.5) pmatch_edge[p] = 1;
    i = j;
  }
  for (int p = 1; p <= np; p++) {
    if (!keep[p] || pa[p] == 0 || pmatch_edge[p]) continue;
    if (sparse && !ptouch[p]) continue;
    prn++;
  }
  double iou0 = s->iou_sum;
  long err0 = s->n_err;
  char *gu = NULL, *pu = NULL;
  greedy(c, nc, ng, np, ga, pa, s, &tp, &gu, &pu);
  if (verbose) {
    /* why the unmatched are unmatched: a ground-truth particle is missed (no
    ** detection covers 20 % of it), split (two or more do), merged (its one
    ** detection also covers 20 % of another) or outlined badly (IoU < 0.5
    ** with its one detection); a detection is a fragment (under half of it
    ** is one particle it shares), a merge (it covers 20 % of two) or extra */
    int *ncov = calloc((size_t)ng + 1, sizeof(int)), *pcov = calloc((size_t)np + 1, sizeof(int));
    int *one = calloc((size_t)ng + 1, sizeof(int));
    double *pin = calloc((size_t)np + 1, sizeof(double));
    for (size_t i = 0; i < nk;) {
      size_t j = i;
      while (j < nk && keys[j] == keys[i]) j++;
      int g = (int)(keys[i] >> 32), p = (int)(keys[i] & 0xffffffffu);
      double inter = (double)(j - i);
      pin[p] += inter;
      if (inter >= 0.2 * ga[g]) ncov[g]++, one[g] = p;
      if (inter >= 0.2 * ga[g] || inter >= 0.2 * pa[p]) pcov[p]++;
      i = j;
    }
    for (int g = 1; g <= ng; g++) {
      if (gedge[g] || ga[g] == 0 || gu[g]) continue;
      if (ncov[g] == 0) s->why[0]++;
      else if (ncov[g] >= 2) s->why[1]++;
      else if (pcov[one[g]] >= 2) s->why[2]++;
      else s->why[3]++;
    }
    for (int p = 1; p <= np; p++) {
      if (!keep[p] || pa[p] == 0 || pmatch_edge[p] || pu[p]) continue;
      if (sparse && !ptouch[p]) continue;
      if (pcov[p] >= 2) s->why[5]++;
      else if (pin[p] < 0.5 * pa[p] && pcov[p] == 0) s->why[6]++;
      else s->why[4]++;
    }
    free(ncov), free(pcov), free(one), free(pin);
  }
  free(gu);
  free(pu);
  s->gt += gtn;
  s->pred += prn;
  s->tp += tp;
  if (verbose)
    printf("  %-40s gt %4ld pred %4ld tp %4ld  F1 %.3f  IoU %.3f  dA %+.1f %%\n", name, gtn,
           prn, tp, gtn + prn ? 2.0 * tp / (gtn + prn) : 1.0,
           tp ? (s->iou_sum - iou0) / tp : 0, 100 * signed_median(s, err0));
  free(ga);
  free(pa);
  free(gedge);
  free(ptouch);
  free(keys);
  free(c);
  free(pmatch_edge);
}

static void score_boxes(const box *gb, int ng, const int32_t *pred, int np,
                        const uint8_t *keep, int w, int h, match_stats *s, int verbose,
                        const char *name) {
  box *pb = malloc(sizeof(box) * ((size_t)np + 1));
  for (int p = 0; p <= np; p++) pb[p] = (box){1e9, 1e9, -1e9, -1e9};
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      int p = pred[(size_t)y * w + x];
      if (!p || !keep[p]) continue;
      if (x < pb[p].x0) pb[p].x0 = x;
      if (y < pb[p].y0) pb[p].y0 = y;
      if (x + 1 > pb[p].x1) pb[p].x1 = x + 1;
      if (y + 1 > pb[p].y1) pb[p].y1 = y + 1;
    }
  double *ga = calloc((size_t)ng + 1, sizeof(double));
  double *pa = calloc((size_t)np + 1, sizeof(double));
  char *gskip = calloc((size_t)ng + 1, 1), *pskip = calloc((size_t)np + 1, 1);
  long gtn = 0, prn = 0;
  for (int g = 1; g <= ng; g++) {
    const box *b = &gb[g];
    ga[g] = (b->x1 - b->x0) * (b->y1 - b->y0);
    gskip[g] = b->x0 < 1 || b->y0 < 1 || b->x1 > w - 1 || b->y1 > h - 1;
    gtn += !gskip[g];
  }
  for (int p = 1; p <= np; p++) {
    const box *b = &pb[p];
    if (!keep[p] || b->x1 < 0) {
      pskip[p] = 1;
      continue;
    }
    pa[p] = (b->x1 - b->x0) * (b->y1 - b->y0);
    pskip[p] = b->x0 < 1 || b->y0 < 1 || b->x1 > w - 1 || b->y1 > h - 1;
    prn += !pskip[p];
  }
  int cap = 1024, nc = 0;
  cand *c = malloc(sizeof(cand) * (size_t)cap);
  for (int g = 1; g <= ng; g++) {
    if (gskip[g]) continue;
    for (int p = 1; p <= np; p++) {
      if (pskip[p]) continue;
      double ix = fmin(gb[g].x1, pb[p].x1) - fmax(gb[g].x0, pb[p].x0);
      double iy = fmin(gb[g].y1, pb[p].y1) - fmax(gb[g].y0, pb[p].y0);
      if (ix <= 0 || iy <= 0) continue;
      double inter = ix * iy, iou = inter / (ga[g] + pa[p] - inter);
      if (iou < 0.5) continue;
      if (nc == cap) c = realloc(c, sizeof(cand) * (size_t)(cap *= 2));
      c[nc++] = (cand){iou, g, p};
    }
  }
  long tp = 0;
  double iou0 = s->iou_sum;
  long err0 = s->n_err;
  greedy(c, nc, ng, np, ga, pa, s, &tp, NULL, NULL);
  s->gt += gtn;
  s->pred += prn;
  s->tp += tp;
  if (verbose)
    printf("  %-40s gt %4ld pred %4ld tp %4ld  F1 %.3f  IoU %.3f  dA %+.1f %%\n", name, gtn,
           prn, tp, gtn + prn ? 2.0 * tp / (gtn + prn) : 1.0,
           tp ? (s->iou_sum - iou0) / tp : 0, 100 * signed_median(s, err0));
  free(pb);
  free(ga);
  free(pa);
  free(gskip);
  free(pskip);
  free(c);
}

static box *read_boxes(const char *path, int *count) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  int cap = 256, n = 0;
  box *b = malloc(sizeof(box) * (size_t)cap);
  double x0, y0, x1, y1;
  while (fscanf(f, "%lf %lf %lf %lf", &x0, &y0, &x1, &y1) == 4) {
    if (n + 2 >= cap) b = realloc(b, sizeof(box) * (size_t)(cap *= 2));
    b[++n] = (box){x0, y0, x1, y1};
  }
  fclose(f);
  *count = n;
  return b;
}

typedef nm_status (*opt_setter)(void *target, const char *key, double num, const char *text,
                                 nm_error *err);

static nm_status set_segment_opt(void *o, const char *key, double num, const char *text,
                                 nm_error *err) {
  return nm_segment_opts_set(o, key, num, text, err);
}

static int apply_opts(opt_setter set, void *o, int argc, char **argv, int first) {
  for (int i = first; i < argc; i++) {
    char key[128];
    const char *eq = strchr(argv[i], '=');
    if (!eq || eq - argv[i] >= (long)sizeof key) {
      fprintf(stderr, "eval: expected key=value, got '%s'\n", argv[i]);
      return 1;
    }
    memcpy(key, argv[i], (size_t)(eq - argv[i]));
    key[eq - argv[i]] = 0;
    char *end;
    double v = strtod(eq + 1, &end);
    nm_error err;
    nm_error_clear(&err);
    nm_status st;
    if (!strcmp(eq + 1, "true")) st = set(o, key, 1, NULL, &err);
    else if (!strcmp(eq + 1, "false")) st = set(o, key, 0, NULL, &err);
    else if (*end == 0 && end != eq + 1) st = set(o, key, v, NULL, &err);
    else st = set(o, key, NAN, eq + 1, &err);
    if (st) {
      fprintf(stderr, "eval: %s\n", err.msg);
      return 1;
    }
  }
  return 0;
}


/* -p: where the ground-truth outlines sit in the image's own contrast. For
** each annotated particle (not touching the border), the mean intensity
** against the signed distance from its outline (-PR..+PR px, inside
** negative), normalised to 0 at its background (median of the unlabelled
** pixels 3-8 px outside it) and 1 at its core (median of the pixels at
** least half its depth inside); pooled over the set. Level ~0.5 at 0 means
** the annotators drew the half-contrast line. */
#define PR 8
static int profile_mode = 0;
static double prof_acc[2 * PR + 1];
static long prof_n[2 * PR + 1];
static long prof_particles;
static double prof_sig[100000];
static void gt_profile(const float *px, int w, int h, const int32_t *gl, int ng) {
  int *bx = malloc(sizeof(int) * 4 * ((size_t)ng + 1));
  for (int g = 0; g <= ng; g++) bx[4 * g] = w, bx[4 * g + 1] = h, bx[4 * g + 2] = -1, bx[4 * g + 3] = -1;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      int g = gl[(size_t)y * w + x];
      if (g <= 0) continue;
      int *b = bx + 4 * g;
      if (x < b[0]) b[0] = x;
      if (y < b[1]) b[1] = y;
      if (x > b[2]) b[2] = x;
      if (y > b[3]) b[3] = y;
    }
  for (int g = 1; g <= ng; g++) {
    int *b = bx + 4 * g;
    if (b[2] < 0 || b[0] == 0 || b[1] == 0 || b[2] == w - 1 || b[3] == h - 1) continue;
    int x0 = b[0] - 12, y0 = b[1] - 12, x1 = b[2] + 12, y1 = b[3] + 12;
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > w - 1) x1 = w - 1;
    if (y1 > h - 1) y1 = h - 1;
    int cw = x1 - x0 + 1, ch = y1 - y0 + 1;
    size_t cn = (size_t)cw * ch;
    uint8_t *m = malloc(cn);
    float *din = malloc(sizeof(float) * cn), *dout = malloc(sizeof(float) * cn);
    float *v = malloc(sizeof(float) * cn), *u = malloc(sizeof(float) * cn);
    for (int y = 0; y < ch; y++)
      for (int x = 0; x < cw; x++) m[(size_t)y * cw + x] = gl[(size_t)(y + y0) * w + x + x0] == g;
    nm_error e;
    nm_error_clear(&e);
    nm_edt(m, cw, ch, 0, din, &e);
    nm_edt(m, cw, ch, 1, dout, &e);
    float maxd = 0;
    for (size_t i = 0; i < cn; i++) if (din[i] > maxd) maxd = din[i];
    size_t nv = 0, nu = 0;
    for (int y = 0; y < ch; y++)
      for (int x = 0; x < cw; x++) {
        size_t i = (size_t)y * cw + x;
        float val = px[(size_t)(y + y0) * w + x + x0];
        if (m[i] && 2 * din[i] >= maxd) v[nv++] = val;
        if (!m[i] && gl[(size_t)(y + y0) * w + x + x0] == 0 && dout[i] >= 3 && dout[i] <= 8) u[nu++] = val;
      }
    if (nv >= 3 && nu >= 12) {
      float core = nm_select_kth(v, nv, nv / 2), bg = nm_select_kth(u, nu, nu / 2);
      if (fabsf(core - bg) > 1e-6f) {
        double sacc[2 * PR + 1] = {0};
        long sn[2 * PR + 1] = {0};
        for (int y = 0; y < ch; y++)
          for (int x = 0; x < cw; x++) {
            size_t i = (size_t)y * cw + x;
            int gg = gl[(size_t)(y + y0) * w + x + x0];
            if (gg != g && gg != 0) continue;
            double sd = m[i] ? -(din[i] - 0.5) : dout[i] - 0.5;
            long k = lround(sd) + PR;
            if (k < 0 || k > 2 * PR) continue;
            sacc[k] += (px[(size_t)(y + y0) * w + x + x0] - bg) / (core - bg);
            sn[k]++;
          }
        for (int k = 0; k <= 2 * PR; k++)
          if (sn[k]) prof_acc[k] += sacc[k] / sn[k], prof_n[k]++;
        for (size_t i = 0; i < nu; i++) u[i] = fabsf(u[i] - bg);
        if (prof_particles < 100000)
          prof_sig[prof_particles] = 1.4826 * nm_select_kth(u, nu, nu / 2) / fabsf(core - bg);
        prof_particles++;
      }
    }
    free(m), free(din), free(dout), free(v), free(u);
  }
  free(bx);
}

static const char *dump_dir = NULL;
/* -i SUBSTR: only the images whose path contains SUBSTR (iterating on a few) */
static const char *image_filter = NULL;
/* -c x,y,w,h,z: the overlays show only that window, magnified z times */
static int crop_x, crop_y, crop_w, crop_h, crop_z;

/* Writes DIR/<image>.png: the image in gray, kept detections' outlines red,
** excluded ones blue, ground-truth outlines (labels/masks) green. */
static void dump_overlay(const char *img, const nm_image *im, const nm_segmentation *seg,
                         const int32_t *gl) {
  int w = im->width, h = im->height;
  size_t n = (size_t)w * h;
  uint8_t *rgb = malloc(n * 3);
  if (!rgb) return;
  float lo = im->px[0], hi = im->px[0];
  for (size_t i = 0; i < n; i++) {
    lo = im->px[i] < lo ? im->px[i] : lo;
    hi = im->px[i] > hi ? im->px[i] : hi;
  }
  for (size_t i = 0; i < n; i++) {
    uint8_t v = (uint8_t)(hi > lo ? 255.0f * (im->px[i] - lo) / (hi - lo) : 0);
    rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = v;
  }
  for (int pass = 0; pass < 2; pass++) {
    const int32_t *L = pass ? seg->labels : gl;
    if (!L) continue;
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        size_t i = (size_t)y * w + x;
        int32_t l = L[i];
        if (!l) continue;
        int edge = x == 0 || y == 0 || x == w - 1 || y == h - 1 || L[i - 1] != l ||
                   L[i + 1] != l || L[i - w] != l || L[i + w] != l;
        if (!edge) continue;
        uint8_t *c = rgb + 3 * i;
        /* yellow where a kept outline lies on a ground-truth one */
        int on_gt = pass && c[0] == 0 && c[1] == 255 && c[2] == 0;
        if (!pass) c[0] = 0, c[1] = 255, c[2] = 0;
        else if (seg->excluded[l]) c[0] = 0, c[1] = 0, c[2] = 255;
        else if (on_gt) c[0] = 255, c[1] = 255, c[2] = 0;
        else c[0] = 255, c[1] = 0, c[2] = 0;
      }
  }
  if (crop_w > 0 && crop_h > 0 && crop_z > 0 && crop_x + crop_w <= w && crop_y + crop_h <= h) {
    int cw = crop_w * crop_z, ch = crop_h * crop_z;
    uint8_t *big = malloc((size_t)cw * ch * 3);
    if (big) {
      for (int y = 0; y < ch; y++)
        for (int x = 0; x < cw; x++)
          memcpy(big + 3 * ((size_t)y * cw + x),
                 rgb + 3 * ((size_t)(crop_y + y / crop_z) * w + crop_x + x / crop_z), 3);
      free(rgb);
      rgb = big;
      w = cw;
      h = ch;
    }
  }
  char path[4096];
  const char *base = strrchr(img, '/') ? strrchr(img, '/') + 1 : img;
  snprintf(path, sizeof path, "%s/%s", dump_dir, base);
  if (png_file_write(path, rgb, w, h, 3)) fprintf(stderr, "eval: cannot write %s\n", path);
  free(rgb);
}

/* Unless -g: score what particles() returns WHERE excluded IS NULL, the
** whole pipeline of particles.h (micrograph reading, scale-bar box, outlier
** flags) in place of nm_segment alone. */
static nm_particles_opts *user_view;

static nm_status run_particles(const char *path, const nm_image *im, nm_segmentation *seg,
                               nm_error *err) {
  nm_particle_set ps;
  memset(seg, 0, sizeof *seg);
  nm_status st = nm_particles_run(path, NULL, 0, user_view, 1, NULL, &ps, err);
  if (st) return st;
  if (ps.width != im->width || ps.height != im->height) {
    /* a databar was cropped: the ground truth no longer lines up */
    nm_particle_set_free(&ps);
    return nm_fail(err, NM_ERR_ARG, "particles() image is %dx%d, not %dx%d", ps.width,
                   ps.height, im->width, im->height);
  }
  seg->labels = ps.labels;
  seg->excluded = ps.excluded;
  seg->count = ps.n_labels;
  seg->scale_px = ps.scale_px;
  seg->dark_particles = ps.dark_particles;
  ps.labels = NULL;
  ps.excluded = NULL;
  nm_particle_set_free(&ps);
  return NM_OK;
}

static void eval_set(const char *root, const char *set, const nm_segment_opts *o,
                     int verbose) {
  char path[4096];
  FILE *f = pairs_open(root, set);
  if (!f) return;
  match_stats s;
  memset(&s, 0, sizeof s);
  int is_boxes = 0, is_sparse = 0, dark = 0;
  double scale_sum = 0;
  if (verbose) printf("%s\n", set);
  pairs_row row;
  while (pairs_next(f, &row)) {
    const char *img = row.img, *gtp = row.gt, *kind = row.kind;
    if (image_filter && !strstr(img, image_filter)) continue;
    is_boxes = !strcmp(kind, "boxes");
    is_sparse = strstr(kind, "sparse") != NULL;
    int is_labels = !strncmp(kind, "labels", 6);
    nm_read_opts ro;
    nm_read_opts_default(&ro);
    nm_image im, gi;
    memset(&gi, 0, sizeof gi);
    int32_t *gl = NULL; /* the ground truth's labels (gt_labels.h) */
    int ng = 0;
    nm_error err;
    nm_error_clear(&err);
    snprintf(path, sizeof path, "%s/%s/%s", root, set, img);
    if (nm_image_read_file(path, &ro, &im, &err)) {
      fprintf(stderr, "eval: %s\n", err.msg);
      continue;
    }
    nm_segmentation seg;
    double t0 = now();
    nm_status st = user_view ? run_particles(path, &im, &seg, &err)
                             : nm_segment(im.px, im.width, im.height, o, NULL, &seg, &err);
    s.seconds += now() - t0;
    if (st) {
      fprintf(stderr, "eval: %s: %s\n", img, err.msg);
      nm_image_free(&im);
      continue;
    }
    s.images++;
    dark += seg.dark_particles;
    scale_sum += seg.scale_px;
    int w = im.width, h = im.height;
    size_t n = (size_t)w * h;
    uint8_t *keep = calloc((size_t)seg.count + 1, 1);
    for (int l = 1; l <= seg.count; l++) keep[l] = seg.excluded[l] == NM_EXCL_NONE;
    char name[1100];
    snprintf(name, sizeof name, "%s (d=%.0f %s)", img, seg.scale_px,
             seg.dark_particles ? "dark" : "bright");
    snprintf(path, sizeof path, "%s/%s/%s", root, set, gtp);
    if (is_boxes) {
      int ng = 0;
      box *gb = read_boxes(path, &ng);
      if (gb) {
        score_boxes(gb, ng, seg.labels, seg.count, keep, w, h, &s, verbose, name);
        if (dump_dir) dump_overlay(img, &im, &seg, NULL);
        free(gb);
      } else {
        fprintf(stderr, "eval: cannot read %s\n", path);
      }
    } else if (nm_image_read_file(path, &ro, &gi, &err) == NM_OK && gi.width == w &&
               gi.height == h && (gl = gt_labels(&gi, is_labels, &ng)) != NULL) {
      uint8_t *ignore = NULL;
      char ov[4096];
      snprintf(ov, sizeof ov, "%s/%s/overlap/%s", root, set, strrchr(gtp, '/') ? strrchr(gtp, '/') + 1 : gtp);
      nm_image oi;
      nm_error e2;
      if (nm_image_read_file(ov, &ro, &oi, &e2) == NM_OK) {
        if (oi.width == w && oi.height == h) {
          ignore = malloc(n);
          for (size_t i = 0; i < n; i++) ignore[i] = oi.px[i] > 0;
        }
        nm_image_free(&oi);
      }
      if (dump_dir) dump_overlay(img, &im, &seg, gl);
      if (profile_mode) {
        float *sm = malloc(sizeof(float) * n), *tm = malloc(sizeof(float) * nm_filter_tmp_size(w, h));
        if (profile_mode > 1) nm_gauss(im.px, sm, w, h, 0.05 * seg.scale_px, tm);
        else memcpy(sm, im.px, sizeof(float) * n);
        gt_profile(sm, w, h, gl, ng);
        free(sm);
        free(tm);
      }
      score_masks(gl, ng, ignore, seg.labels, seg.count, keep, w, h, is_sparse, &s, verbose,
                  name);
      free(ignore);
      free(gl);
    } else {
      fprintf(stderr, "eval: cannot use ground truth %s\n", path);
    }
    nm_image_free(&gi);
    free(keep);
    nm_segmentation_free(&seg);
    nm_image_free(&im);
  }
  fclose(f);
  if (!s.images) return;
  double prec = s.pred ? (double)s.tp / s.pred : 0, rec = s.gt ? (double)s.tp / s.gt : 0;
  double f1 = s.gt + s.pred ? 2.0 * s.tp / (s.gt + s.pred) : 0;
  double med = NAN, smed = NAN;
  if (s.n_err) {
    /* signed median first (over- or under-sized outlines), then |error| */
    qsort(s.area_err, (size_t)s.n_err, sizeof(double), cmp_double);
    smed = s.n_err % 2 ? s.area_err[s.n_err / 2]
                       : 0.5 * (s.area_err[s.n_err / 2 - 1] + s.area_err[s.n_err / 2]);
    for (long e = 0; e < s.n_err; e++) s.area_err[e] = fabs(s.area_err[e]);
    qsort(s.area_err, (size_t)s.n_err, sizeof(double), cmp_double);
    med = s.n_err % 2 ? s.area_err[s.n_err / 2]
                      : 0.5 * (s.area_err[s.n_err / 2 - 1] + s.area_err[s.n_err / 2]);
  }
  if (verbose) printf("  signed median area error (pred/gt - 1): %+.1f %%\n", 100 * smed);
  if (verbose)
    printf("  unmatched ground truth: %ld missed, %ld split, %ld merged, %ld outline; "
           "unmatched detections: %ld fragment/other, %ld merge, %ld extra\n",
           s.why[0], s.why[1], s.why[2], s.why[3], s.why[4], s.why[5], s.why[6]);
  if (profile_mode && prof_particles) {
    printf("  ground-truth profile over %ld particles (signed px: level)", prof_particles);
    for (int k = 0; k <= 2 * PR; k++)
      printf(" %+d:%.2f", k - PR, prof_n[k] ? prof_acc[k] / prof_n[k] : NAN);
    long np_ = prof_particles < 100000 ? prof_particles : 100000;
    qsort(prof_sig, (size_t)np_, sizeof(double), cmp_double);
    printf("  sigma/contrast p25 %.3f median %.3f p75 %.3f\n", prof_sig[np_ / 4], prof_sig[np_ / 2],
           prof_sig[3 * np_ / 4]);
    memset(prof_acc, 0, sizeof prof_acc);
    memset(prof_n, 0, sizeof prof_n);
    prof_particles = 0;
  }
  printf("| %-17s | %3d | %5ld | %5ld | %5ld | %.3f | %.3f | **%.3f** | %.3f | %5.1f %% | %3d/%d | %6.2f |\n",
         set, s.images, s.gt, s.pred, s.tp, prec, rec, f1, s.tp ? s.iou_sum / s.tp : 0,
         100 * med, dark, s.images, s.seconds);
  (void)is_sparse;
  (void)scale_sum;
  fflush(stdout);
  free(s.area_err);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
  const char *root = "../shared/data", *only = NULL;
  int verbose = 0, use_particles = 1, i = 1;
  for (; i < argc; i++) {
    if (!strcmp(argv[i], "-d") && i + 1 < argc) root = argv[++i];
    else if (!strcmp(argv[i], "-s") && i + 1 < argc) only = argv[++i];
    else if (!strcmp(argv[i], "-v")) verbose = 1;
    else if (!strcmp(argv[i], "-g")) use_particles = 0;
    else if (!strcmp(argv[i], "-p")) profile_mode = 1;
    else if (!strcmp(argv[i], "-P")) profile_mode = 2; /* on the image smoothed by 0.05 d */
    else if (!strcmp(argv[i], "-o") && i + 1 < argc) dump_dir = argv[++i];
    else if (!strcmp(argv[i], "-i") && i + 1 < argc) image_filter = argv[++i];
    else if (!strcmp(argv[i], "-c") && i + 1 < argc)
      sscanf(argv[++i], "%d,%d,%d,%d,%d", &crop_x, &crop_y, &crop_w, &crop_h, &crop_z);
    else break;
  }
  nm_segment_opts *o = nm_segment_opts_new();
  if (!o || apply_opts(set_segment_opt, o, argc, argv, i)) return 2;
  if (use_particles) {
    user_view = nm_particles_opts_new();
    if (!user_view || apply_opts(nm_particles_opts_set, user_view, argc, argv, i)) return 2;
  }
  DIR *dir = opendir(root);
  if (!dir) {
    printf("eval-seg: %s not found, nothing to score\n", root);
    nm_segment_opts_free(o);
    return 0;
  }
  char *names[256];
  int nn = 0;
  struct dirent *de;
  while ((de = readdir(dir)) && nn < 256)
    if (de->d_name[0] != '.') names[nn++] = strdup(de->d_name);
  closedir(dir);
  qsort(names, (size_t)nn, sizeof *names, cmp_str);
  printf("| set | images | gt | pred | tp | precision | recall | F1 | mean IoU | median area err | dark particles | seconds |\n");
  printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (int k = 0; k < nn; k++) {
    if (!only || !strcmp(only, names[k])) eval_set(root, names[k], o, verbose);
    free(names[k]);
  }
  nm_segment_opts_free(o);
  nm_particles_opts_free(user_view);
  return 0;
}
