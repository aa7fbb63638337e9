/*
** cluster.h — what the shape-group modules share: the data matrix,
** z-score standardisation, squared Euclidean
** distance blocks through BLAS, the adjusted Rand index and label helpers.
**
** The algorithms live one per file and include this header:
**   kmeans.h      k-means++ seeding, restarts, Lloyd iterations, auto K
**   gmm.h         Gaussian mixtures by EM (full / diagonal covariance)
**   linkage.h     agglomerative trees (Ward, average, complete, single),
**                 cut at K, cophenetic correlation
**   silhouette.h  mean silhouette, exact or on a documented sample
**   pca.h         principal components through LAPACKE
**   clmodel.h     the JSON model text every fit returns
**
** Data are row-major doubles: row i, feature j is x[i*d + j]. Labels are
** 0-based ints. Nothing here keeps state between calls; every random choice
** comes from the project's one generator (rng.h, xoshiro256** seeded through
** splitmix64) seeded by the caller, so the same seed gives the same bytes.
*/
#ifndef NM_CLUSTER_H
#define NM_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "nm_common.h"
#include "rng.h"

/* Hard caps checked before allocating. */
#define NM_CLUSTER_MAX_FEATURES 1024
#define NM_CLUSTER_MAX_K 256

/* ---- standardisation: z = (x - mean) / sd, sd the population SD (ddof 0,
** as scikit-learn's StandardScaler). A constant feature gets sd = 1 so it
** becomes all zeros instead of NaN. */
typedef struct nm_standardize {
  int d;
  double *mean; /* d */
  double *sd;   /* d */
} nm_standardize;

nm_status nm_standardize_fit(const double *x, size_t n, int d, nm_standardize *out,
                             nm_error *err);
/* In place on n rows. */
void nm_standardize_apply(const nm_standardize *s, double *x, size_t n);
void nm_standardize_free(nm_standardize *s);

/* Checks the common preconditions of every fit: n >= 1, 1 <= d <= cap, all
** values finite. `what` names the caller in the message. */
nm_status nm_cluster_check_data(const double *x, size_t n, int d, const char *what,
                                nm_error *err);

/* ---- distances. Squared row norms of x (n rows). */
void nm_row_sqnorms(const double *x, size_t n, int d, double *out);

/*
** Squared Euclidean distances between rows a[0..na) and b[0..nb):
** out[i*nb + j] = |a_i|^2 + |b_j|^2 - 2 a_i.b_j through one cblas_dgemm,
** clamped at 0. an/bn are the precomputed squared norms.
*/
void nm_sqdist_block(const double *a, const double *an, size_t na, const double *b,
                     const double *bn, size_t nb, int d, double *out);

/* ---- comparing partitions */

/* Adjusted Rand index of two labelings of n items (labels >= 0, any range
** below `kmax`; both assumed < kmax). Same definition as scikit-learn's
** adjusted_rand_score (1.0 when both are a single cluster). */
nm_status nm_adjusted_rand(const int *a, const int *b, size_t n, double *ari,
                           nm_error *err);

/* Renumbers labels 0..k-1 by first appearance, returns k. */
int nm_labels_canonical(int *labels, size_t n);

#endif /* NM_CLUSTER_H */
