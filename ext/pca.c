/* pca.c — covariance eigen-decomposition through LAPACKE (see pca.h). */
#include "pca.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void nm_pca_free(nm_pca *p) {
  free(p->mean);
  free(p->variance);
  free(p->ratio);
  free(p->components);
  memset(p, 0, sizeof *p);
}

nm_status nm_pca_fit(const double *x, size_t n, int d, nm_pca *out, nm_error *err) {
  memset(out, 0, sizeof *out);
  if (n < 2) return nm_fail(err, NM_ERR_ARG, "PCA needs at least 2 rows, got %zu", n);
  nm_status st = nm_cluster_check_data(x, n, d, "PCA", err);
  if (st != NM_OK) return st;
  out->d = d;
  out->mean = nm_calloc((size_t)d, sizeof(double), err);
  out->variance = nm_calloc((size_t)d, sizeof(double), err);
  out->ratio = nm_calloc((size_t)d, sizeof(double), err);
  out->components = nm_calloc((size_t)d * d, sizeof(double), err);
  double *xc = nm_malloc(n, (size_t)d * sizeof(double), err);
  double *cov = nm_calloc((size_t)d * d, sizeof(double), err);
  double *w = nm_calloc((size_t)d, sizeof(double), err);
  if (!out->mean || !out->variance || !out->ratio || !out->components || !xc || !cov || !w) {
    st = err->code;
    goto done;
  }
  for (size_t i = 0; i < n; i++)
    for (int j = 0; j < d; j++) out->mean[j] += x[i * (size_t)d + j];
  for (int j = 0; j < d; j++) out->mean[j] /= (double)n;
  for (size_t i = 0; i < n; i++)
    for (int j = 0; j < d; j++) xc[i * d + j] = x[i * (size_t)d + j] - out->mean[j];
  cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, d, (int)n, 1.0 / (double)(n - 1), xc, d,
              0.0, cov, d);
  if (LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'L', d, cov, d, w) != 0) {
    st = nm_fail(err, NM_ERR_ARG, "PCA: eigen-decomposition did not converge");
    goto done;
  }
  /* dsyevd: ascending eigenvalues, eigenvectors in columns. */
  double total = 0;
  for (int c = 0; c < d; c++) total += w[c] > 0 ? w[c] : 0;
  for (int c = 0; c < d; c++) {
    int src = d - 1 - c;
    double v = w[src] > 0 ? w[src] : 0;
    out->variance[c] = v;
    out->ratio[c] = total > 0 ? v / total : 0;
    double *row = out->components + (size_t)c * d;
    int big = 0;
    for (int j = 0; j < d; j++) {
      row[j] = cov[j * d + src];
      if (fabs(row[j]) > fabs(row[big])) big = j;
    }
    if (row[big] < 0)
      for (int j = 0; j < d; j++) row[j] = -row[j];
  }
done:
  free(xc);
  free(cov);
  free(w);
  if (st != NM_OK) nm_pca_free(out);
  return st;
}

nm_status nm_pca_transform(const nm_pca *p, const double *x, size_t n, int nc, double *scores,
                           nm_error *err) {
  if (nc < 1 || nc > p->d) return nm_fail(err, NM_ERR_ARG, "PCA: %d components out of 1..%d", nc, p->d);
  int d = p->d;
  double *xc = nm_malloc(n, (size_t)d * sizeof(double), err);
  if (!xc) return err->code;
  for (size_t i = 0; i < n; i++)
    for (int j = 0; j < d; j++) xc[i * d + j] = x[i * (size_t)d + j] - p->mean[j];
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, nc, d, 1.0, xc, d, p->components,
              d, 0.0, scores, nc);
  free(xc);
  return NM_OK;
}
