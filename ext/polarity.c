/*
** polarity.c — blob evidence for each phase (see polarity.h).
**
** Per phase: Otsu mask of the flattened, smoothed image; exact EDT;
** h-maxima markers (h = 1.5 px: pixel-grid ripples of the EDT, not a
** particle size) and a watershed of the inverted EDT, so touching particles
** become separate pieces as in the segmentation. A piece is particle-like
** when it
**   - does not touch the image border,
**   - has an inscribed radius of at least 2 px (specks are not evidence),
**   - is convex: area / area of the convex hull of its pixel corners >= 0.8
**     (the concave triangles between touching discs have ~0.4),
**   - is fat: area <= 4 pi r^2 for inscribed radius r (an ellipse of aspect
**     4; a thin gap line between two facets is convex but not fat),
**   - is exposed: at least half of its outline faces the other phase. The
**     watershed also cuts a connected background into convex cells between
**     the particles; their outline is mostly the cuts to their sibling cells,
**     a particle's is mostly the background around it.
*/
#include "polarity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "parallel.h"
#include "morph.h"
#include "split.h" /* nm_label_solidity */
#include "threshold.h"
#include "watershed.h"

/* Scores one phase (mask m) into blob area / count. */
static nm_status score_phase(const uint8_t *m, int w, int h, float *dist, int32_t *lab,
                             double *blob_area, int *blobs, nm_error *err) {
  size_t n = (size_t)w * h;
  nm_status st = nm_edt(m, w, h, 0, dist, err);
  if (st) return st;
  int count = 0;
  st = nm_hmax_markers(dist, m, w, h, 1.5, lab, &count, err);
  if (st) return st;
  for (size_t i = 0; i < n; i++) dist[i] = -dist[i];
  st = nm_watershed(dist, m, w, h, lab, NULL, err);
  if (st) return st;
  *blob_area = 0;
  *blobs = 0;
  if (count == 0) return NM_OK;
  size_t nl = (size_t)count + 1;
  double *area = calloc(nl, sizeof(double));
  float *rmax = calloc(nl, sizeof(float));
  uint8_t *border = calloc(nl, 1);
  size_t *nb = calloc(nl, sizeof(size_t)), *nexp = calloc(nl, sizeof(size_t));
  double *solidity = calloc(nl, sizeof(double));
  if (!area || !rmax || !border || !nb || !nexp || !solidity) {
    st = nm_fail(err, NM_ERR_NOMEM, "polarity: out of memory");
    goto done;
  }
  /* per piece: area, depth, border contact, outline exposure */
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      size_t i = (size_t)y * w + x;
      int32_t l = lab[i];
      if (l <= 0) continue;
      area[l]++;
      if (-dist[i] > rmax[l]) rmax[l] = -dist[i];
      if (x == 0 || y == 0 || x == w - 1 || y == h - 1) {
        border[l] = 1;
        continue;
      }
      int32_t nbr[4] = {lab[i - 1], lab[i + 1], lab[i - w], lab[i + w]};
      int out = 0, other = 0;
      for (int k = 0; k < 4; k++) {
        if (!m[i + (k == 0 ? -1 : k == 1 ? 1 : k == 2 ? -(long)w : (long)w)]) out = 1;
        else if (nbr[k] != l) other = 1;
      }
      if (out || other) {
        nb[l]++;
        nexp[l] += out;
      }
    }
  st = nm_label_solidity(lab, w, h, count, solidity, err);
  if (st) goto done;
  for (size_t l = 1; l < nl; l++) {
    if (border[l] || rmax[l] < 2.0f) continue;
    double r = rmax[l];
    if (area[l] > 4 * M_PI * r * r) continue;
    if (nb[l] == 0 || 2 * nexp[l] < nb[l]) continue;
    if (solidity[l] < 0.8) continue;
    *blob_area += area[l];
    (*blobs)++;
  }
done:
  free(area);
  free(rmax);
  free(border);
  free(nb);
  free(nexp);
  free(solidity);
  return st;
}

/* One phase's work, on its own buffers (the phases run in parallel). */
typedef struct phase_job {
  const float *a; /* flattened image, shared read-only */
  double t;       /* its Otsu level */
  int w, h;
  float *b;
  uint8_t *m;
  int32_t *lab;
  size_t np;
  double ba;
  int blobs;
  nm_status st;
  nm_error err;
} phase_job;

static void phase_run(void *arg, int k, int nt) {
  phase_job *P = (phase_job *)arg;
  for (int dark = k; dark < 2; dark += nt) {
    phase_job *J = &P[dark];
    size_t n = (size_t)J->w * J->h, np = 0;
    for (size_t i = 0; i < n; i++) {
      J->m[i] = dark ? !(J->a[i] > J->t) : J->a[i] > J->t;
      np += J->m[i];
    }
    J->np = np;
    J->err.code = NM_OK;
    J->err.msg[0] = 0;
    J->st = score_phase(J->m, J->w, J->h, J->b, J->lab, &J->ba, &J->blobs, &J->err);
  }
}

nm_status nm_polarity_blobs(const float *img, int w, int h, double sigma, nm_blob_score *out,
                            nm_error *err) {
  memset(out, 0, sizeof *out);
  if (!img || w < 3 || h < 3) return nm_fail(err, NM_ERR_ARG, "polarity: image too small");
  /* large fields are scored on block means (2x2 from 1024 px, 4x4 from
  ** 2048 px): the pieces that count are several px across anyway, and the
  ** two watersheds are the cost of this test */
  int mn = w < h ? w : h, f = mn >= 2048 ? 4 : mn >= 1024 ? 2 : 1;
  float *small = NULL;
  if (f > 1) {
    small = nm_malloc((size_t)((w + f - 1) / f) * ((h + f - 1) / f), sizeof(float), err);
    if (!small) return err && err->code ? err->code : NM_ERR_NOMEM;
    nm_downsample(img, w, h, f, small);
    img = small;
    w = (w + f - 1) / f;
    h = (h + f - 1) / f;
    sigma /= f;
    if (sigma < 1) sigma = 1;
  }
  size_t n = (size_t)w * h;
  float *a = nm_malloc(n, sizeof(float), err);
  float *tmp = nm_malloc(nm_filter_tmp_size(w, h), sizeof(float), err);
  phase_job P[2];
  memset(P, 0, sizeof P);
  for (int k = 0; k < 2; k++) {
    P[k].b = nm_malloc(n, sizeof(float), err);
    P[k].m = nm_malloc(n, 1, err);
    P[k].lab = nm_malloc(n, sizeof(int32_t), err);
  }
  nm_status st = NM_OK;
  if (!a || !tmp || !P[0].b || !P[0].m || !P[0].lab || !P[1].b || !P[1].m || !P[1].lab) {
    st = err && err->code ? err->code : NM_ERR_NOMEM;
    goto done;
  }
  float *b = P[0].b;
  nm_gauss(img, a, w, h, sigma, tmp);
  nm_gauss(img, b, w, h, (w < h ? w : h) / 8.0, tmp);
  for (size_t i = 0; i < n; i++) a[i] -= b[i];
  double t = nm_otsu(a, n, NULL);
  if (t != t) goto done;
  /* the two phases are independent: one thread each (their passes then
  ** run serially inside, parallel.h) */
  for (int dark = 0; dark < 2; dark++) {
    P[dark].a = a;
    P[dark].t = t;
    P[dark].w = w;
    P[dark].h = h;
  }
  nm_parallel(nm_threads_for(8 * n) > 1 ? 2 : 1, phase_run, P);
  for (int dark = 0; dark < 2; dark++) {
    if (P[dark].st) {
      st = P[dark].st;
      if (err) *err = P[dark].err;
      goto done;
    }
    out->phase_frac[dark] = (double)P[dark].np / (double)n;
    out->blobs[dark] = P[dark].blobs;
    out->blob_frac[dark] = P[dark].np ? P[dark].ba / (double)P[dark].np : 0;
  }
done:
  free(small);
  free(a);
  free(tmp);
  for (int k = 0; k < 2; k++) {
    free(P[k].b);
    free(P[k].m);
    free(P[k].lab);
  }
  return st;
}
