/* cluster.c — shared pieces of the shape-group modules (see cluster.h). */
#include "cluster.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

nm_status nm_cluster_check_data(const double *x, size_t n, int d, const char *what,
                                nm_error *err) {
  if (n == 0) return nm_fail(err, NM_ERR_ARG, "%s: no rows", what);
  if (d < 1 || d > NM_CLUSTER_MAX_FEATURES)
    return nm_fail(err, NM_ERR_ARG, "%s: %d features (expected 1..%d)", what, d,
                   NM_CLUSTER_MAX_FEATURES);
  for (size_t i = 0; i < n * (size_t)d; i++)
    if (!isfinite(x[i]))
      return nm_fail(err, NM_ERR_ARG, "%s: row %zu feature %d is not a finite number", what,
                     i / (size_t)d + 1, (int)(i % (size_t)d) + 1);
  return NM_OK;
}

nm_status nm_standardize_fit(const double *x, size_t n, int d, nm_standardize *out,
                             nm_error *err) {
  memset(out, 0, sizeof *out);
  if (n == 0 || d < 1) return nm_fail(err, NM_ERR_ARG, "standardise: no data");
  out->mean = nm_calloc((size_t)d, sizeof(double), err);
  out->sd = nm_calloc((size_t)d, sizeof(double), err);
  if (!out->mean || !out->sd) {
    nm_standardize_free(out);
    return err ? err->code : NM_ERR_NOMEM;
  }
  out->d = d;
  /* Two passes (mean, then squared deviations) for accuracy. */
  for (size_t i = 0; i < n; i++)
    for (int j = 0; j < d; j++) out->mean[j] += x[i * (size_t)d + j];
  for (int j = 0; j < d; j++) out->mean[j] /= (double)n;
  for (size_t i = 0; i < n; i++)
    for (int j = 0; j < d; j++) {
      double t = x[i * (size_t)d + j] - out->mean[j];
      out->sd[j] += t * t;
    }
  for (int j = 0; j < d; j++) {
    double sd = sqrt(out->sd[j] / (double)n);
    /* Relative test: a feature whose spread is rounding noise is constant. */
    out->sd[j] = (sd > 1e-12 * (fabs(out->mean[j]) + 1e-300)) ? sd : 1.0;
  }
  return NM_OK;
}

void nm_standardize_apply(const nm_standardize *s, double *x, size_t n) {
  for (size_t i = 0; i < n; i++)
    for (int j = 0; j < s->d; j++) {
      double *v = &x[i * (size_t)s->d + j];
      *v = (*v - s->mean[j]) / s->sd[j];
    }
}

void nm_standardize_free(nm_standardize *s) {
  free(s->mean);
  free(s->sd);
  s->mean = s->sd = NULL;
  s->d = 0;
}

void nm_row_sqnorms(const double *x, size_t n, int d, double *out) {
  for (size_t i = 0; i < n; i++) {
    const double *r = x + i * (size_t)d;
    double s = 0;
    for (int j = 0; j < d; j++) s += r[j] * r[j];
    out[i] = s;
  }
}

void nm_sqdist_block(const double *a, const double *an, size_t na, const double *b,
                     const double *bn, size_t nb, int d, double *out) {
  if (na == 0 || nb == 0) return;
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)na, (int)nb, d, -2.0, a, d, b, d,
              0.0, out, (int)nb);
  for (size_t i = 0; i < na; i++) {
    double *row = out + i * nb;
    double ai = an[i];
    for (size_t j = 0; j < nb; j++) {
      double v = row[j] + ai + bn[j];
      row[j] = v > 0 ? v : 0;
    }
  }
}

static double comb2(double v) { return v * (v - 1) / 2; }

nm_status nm_adjusted_rand(const int *a, const int *b, size_t n, double *ari,
                           nm_error *err) {
  int ka = 0, kb = 0;
  for (size_t i = 0; i < n; i++) {
    if (a[i] < 0 || b[i] < 0) return nm_fail(err, NM_ERR_ARG, "adjusted Rand: negative label");
    if (a[i] >= ka) ka = a[i] + 1;
    if (b[i] >= kb) kb = b[i] + 1;
  }
  if ((size_t)ka > n + 1 || (size_t)kb > n + 1 || ka > 1 << 16 || kb > 1 << 16)
    return nm_fail(err, NM_ERR_ARG, "adjusted Rand: labels must be numbered below %d", 1 << 16);
  double *table = nm_calloc((size_t)ka * (size_t)kb + (size_t)ka + (size_t)kb, sizeof(double), err);
  if (!table) return err ? err->code : NM_ERR_NOMEM;
  double *ra = table + (size_t)ka * (size_t)kb, *rb = ra + ka;
  for (size_t i = 0; i < n; i++) {
    table[(size_t)a[i] * (size_t)kb + (size_t)b[i]] += 1;
    ra[a[i]] += 1;
    rb[b[i]] += 1;
  }
  double sum_ij = 0, sum_a = 0, sum_b = 0;
  for (size_t t = 0; t < (size_t)ka * (size_t)kb; t++) sum_ij += comb2(table[t]);
  for (int i = 0; i < ka; i++) sum_a += comb2(ra[i]);
  for (int j = 0; j < kb; j++) sum_b += comb2(rb[j]);
  free(table);
  double total = comb2((double)n);
  double expected = total > 0 ? sum_a * sum_b / total : 0;
  double maxv = (sum_a + sum_b) / 2;
  /* Both partitions trivial (one cluster each, or all singletons): identical. */
  if (maxv == expected) {
    *ari = 1.0;
    return NM_OK;
  }
  *ari = (sum_ij - expected) / (maxv - expected);
  return NM_OK;
}

int nm_labels_canonical(int *labels, size_t n) {
  int max = -1;
  for (size_t i = 0; i < n; i++)
    if (labels[i] > max) max = labels[i];
  if (max < 0) return 0;
  int *map = malloc(((size_t)max + 1) * sizeof(int));
  if (!map) return -1;
  for (int i = 0; i <= max; i++) map[i] = -1;
  int k = 0;
  for (size_t i = 0; i < n; i++) {
    if (map[labels[i]] < 0) map[labels[i]] = k++;
    labels[i] = map[labels[i]];
  }
  free(map);
  return k;
}
