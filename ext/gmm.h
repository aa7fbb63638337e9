/*
** gmm.h — Gaussian mixture models by expectation–maximisation.
**
** Covariance full (one d x d matrix per component, Cholesky-factored with
** LAPACKE_dpotrf, Mahalanobis terms through cblas_dtrsm) or diagonal. Each
** covariance gets `reg` added to its diagonal (default 1e-6, as
** scikit-learn's reg_covar) so a collapsing component cannot make it
** singular. Each start is initialised from a one-restart k-means of the
** same seed stream (scikit-learn's init_params="kmeans"); EM stops when
** the mean log-likelihood per row changes by less than tol; the start with
** the highest final log-likelihood wins. Labels are the most probable
** component; posteriors are the responsibilities.
**
** Callers pass standardised data.
*/
#ifndef NM_GMM_H
#define NM_GMM_H

#include "cluster.h"
#include "silhouette.h"

typedef enum nm_gmm_cov { NM_GMM_FULL = 0, NM_GMM_DIAG = 1 } nm_gmm_cov;

typedef struct nm_gmm_opts {
  nm_gmm_cov cov; /* default full */
  int n_init;     /* starts (default 3) */
  int max_iter;   /* EM iterations per start (default 200) */
  double tol;     /* on the mean log-likelihood (default 1e-3) */
  double reg;     /* added to covariance diagonals (default 1e-6) */
  uint64_t seed;  /* default 1 */
} nm_gmm_opts;

void nm_gmm_opts_default(nm_gmm_opts *o);

typedef struct nm_gmm_model {
  int k, d;
  nm_gmm_cov cov;
  double *weights; /* k */
  double *means;   /* k x d */
  double *covs;    /* full: k x d x d; diag: k x d (variances) */
  double *chol;    /* full: k lower Cholesky factors d x d; diag: k x d SDs */
  double loglik;   /* mean log-likelihood per row of the training data */
  int iterations;
  int converged;
  int *labels;     /* training labels when asked for, else NULL */
} nm_gmm_model;

nm_status nm_gmm_fit(const double *x, size_t n, int d, int k, const nm_gmm_opts *opts,
                     int want_labels, nm_gmm_model *out, const nm_progress *progress,
                     nm_error *err);

/* Rebuilds chol from covs (after loading a model); checks positivity. */
nm_status nm_gmm_prepare(nm_gmm_model *m, nm_error *err);

/* Most probable component per row; post (n x k, may be NULL) gets the
** posterior probabilities. */
nm_status nm_gmm_predict(const nm_gmm_model *m, const double *x, size_t n, int *labels,
                         double *post, nm_error *err);

void nm_gmm_free(nm_gmm_model *m);

/* K by mean silhouette over [k_min, k_max], as nm_kmeans_auto. */
nm_status nm_gmm_auto(const double *x, size_t n, int d, int k_min, int k_max,
                      const nm_gmm_opts *opts, const nm_silhouette_opts *sil,
                      nm_gmm_model *best, nm_silhouette_result *sil_by_k,
                      const nm_progress *progress, nm_error *err);

#endif /* NM_GMM_H */
