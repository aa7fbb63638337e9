/*
** outliers.c — population fences around the typical particle (outliers.h).
*/
#include "outliers.h"

#include <stdlib.h>

#include "segment.h"

/* The core is the particles within this factor of the typical area either
** way (twice or half the typical diameter): wide enough for any size
** distribution a synthesis gives, narrow enough to leave out specks an order
** of magnitude smaller and clumps of several particles. */
#define CORE_AREA_FACTOR 4.0

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* q-quantile of n sorted values, linear between ranks */
static double quantile(const double *v, int n, double q) {
  double pos = q * (n - 1);
  int i = (int)pos;
  if (i >= n - 1) return v[n - 1];
  return v[i] + (pos - i) * (v[i + 1] - v[i]);
}

/* The area that holds the median particle pixel: the smallest sorted area
** whose running sum reaches half the total. */
static double area_weighted_median(const double *sorted_area, int n) {
  double total = 0, run = 0;
  for (int i = 0; i < n; i++) total += sorted_area[i];
  for (int i = 0; i < n; i++) {
    run += sorted_area[i];
    if (run >= total / 2) return sorted_area[i];
  }
  return sorted_area[n - 1];
}

static int eligible(const nm_features *p, const uint8_t *excluded, int k) {
  return !excluded[k] && p->area > 0;
}

typedef struct {
  double area_hi, solidity_lo;
} fences;

/* Fences from the core's quartiles; 0 when the core is too small to say. */
static int core_fences(const nm_features *f, int n_labels, const uint8_t *excluded,
                       double *area, double *sol, fences *out) {
  int n = 0;
  for (int k = 1; k <= n_labels; k++)
    if (eligible(&f[k - 1], excluded, k)) area[n++] = f[k - 1].area;
  if (n < NM_OUTLIERS_MIN_COUNT) return 0;
  qsort(area, (size_t)n, sizeof *area, cmp_double);
  double typical = area_weighted_median(area, n);
  int core = 0;
  for (int k = 1; k <= n_labels; k++) {
    const nm_features *p = &f[k - 1];
    if (!eligible(p, excluded, k) || p->area < typical / CORE_AREA_FACTOR ||
        p->area > typical * CORE_AREA_FACTOR)
      continue;
    area[core] = p->area;
    sol[core] = p->solidity;
    core++;
  }
  if (core < NM_OUTLIERS_MIN_COUNT) return 0;
  qsort(area, (size_t)core, sizeof *area, cmp_double);
  qsort(sol, (size_t)core, sizeof *sol, cmp_double);
  double q1 = quantile(area, core, 0.25), q3 = quantile(area, core, 0.75);
  double s1 = quantile(sol, core, 0.25), s3 = quantile(sol, core, 0.75);
  double s_median = quantile(sol, core, 0.5);
  out->area_hi = q3 + 3 * (q3 - q1);
  out->solidity_lo = s1 - 3 * (s3 - s1);
  if (out->solidity_lo > s_median - 0.1) out->solidity_lo = s_median - 0.1;
  return 1;
}

int nm_outliers_flag(const nm_features *f, int n_labels, uint8_t *excluded) {
  if (!f || !excluded || n_labels <= 0) return 0;
  double *area = malloc(sizeof *area * (size_t)n_labels);
  double *sol = malloc(sizeof *sol * (size_t)n_labels);
  fences fc;
  int flagged = 0;
  if (area && sol && core_fences(f, n_labels, excluded, area, sol, &fc))
    for (int k = 1; k <= n_labels; k++) {
      const nm_features *p = &f[k - 1];
      if (!eligible(p, excluded, k)) continue;
      if (p->area > fc.area_hi || p->solidity < fc.solidity_lo) {
        excluded[k] = NM_EXCL_OUTLIER;
        flagged++;
      }
    }
  free(area);
  free(sol);
  return flagged;
}
