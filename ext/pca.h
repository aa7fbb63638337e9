/*
** pca.h — principal components of standardised data (for the Pareto chart
** of explained variance and 2-D/3-D views of the groups).
**
** The covariance (X^T X / (n - 1), one cblas_dsyrk) is diagonalised with
** LAPACKE_dsyevd; components are returned by decreasing variance, each sign
** fixed so that its largest-magnitude loading is positive (a deterministic
** orientation; LAPACK's is arbitrary). Columns are centred here; scaling is
** the caller's choice.
*/
#ifndef NM_PCA_H
#define NM_PCA_H

#include "cluster.h"

typedef struct nm_pca {
  int d;
  double *mean;       /* d column means removed before projecting */
  double *variance;   /* d eigenvalues, decreasing */
  double *ratio;      /* d explained-variance ratios (sum 1) */
  double *components; /* d x d, row c = component c (unit length) */
} nm_pca;

/* n >= 2 rows. */
nm_status nm_pca_fit(const double *x, size_t n, int d, nm_pca *out, nm_error *err);

/* scores (n x nc) = (x - mean) . components[0..nc)^T. */
nm_status nm_pca_transform(const nm_pca *p, const double *x, size_t n, int nc, double *scores,
                           nm_error *err);

void nm_pca_free(nm_pca *p);

#endif /* NM_PCA_H */
