/*
** kmeans.h — k-means: greedy k-means++ seeding, several restarts, Lloyd
** iterations to convergence, and the automatic choice of K by the mean
** silhouette over a range (the paper's and the authors' rule).
**
** Seeding is scikit-learn's greedy k-means++ (2 + ln K candidate centres per
** step, the one that lowers the potential most is kept). Lloyd's assignment
** step is one cblas_dgemm per iteration (|c|^2 - 2 x.c). Convergence: no
** label changed, or the summed squared centre shift <= tol * mean feature
** variance (scikit-learn's rule). An emptied cluster is re-seeded with the
** row farthest from its centre. The restart with the lowest inertia wins;
** restarts draw from one seeded stream, so a seed fixes every byte.
**
** Callers pass standardised data (kmeans does not scale).
*/
#ifndef NM_KMEANS_H
#define NM_KMEANS_H

#include "cluster.h"
#include "silhouette.h"

typedef struct nm_kmeans_opts {
  int n_init;       /* restarts (default 10) */
  int max_iter;     /* Lloyd iterations per restart (default 300) */
  double tol;       /* relative centre-shift tolerance (default 1e-4) */
  uint64_t seed;    /* default 1 */
} nm_kmeans_opts;

void nm_kmeans_opts_default(nm_kmeans_opts *o);

typedef struct nm_kmeans_result {
  int k, d;
  double *centroids; /* k x d */
  int *labels;       /* n (may be NULL if not asked) */
  double inertia;    /* sum of squared distances to the own centroid */
  int iterations;    /* of the winning restart */
} nm_kmeans_result;

/* One K. labels is allocated only when want_labels. 1 <= k <= n. */
nm_status nm_kmeans_fit(const double *x, size_t n, int d, int k, const nm_kmeans_opts *opts,
                        int want_labels, nm_kmeans_result *out, const nm_progress *progress,
                        nm_error *err);
void nm_kmeans_result_free(nm_kmeans_result *r);

/* Nearest centroid of each of n rows (already standardised). */
void nm_kmeans_assign(const double *centroids, int k, int d, const double *x, size_t n,
                      int *labels);

/*
** Automatic K: fits every K in [k_min, k_max] and scores each labeling by the
** mean silhouette (exact up to sil->exact_max rows, else estimated — see
** silhouette.h), all K in one distance pass. best gets the winning fit
** (labels included); sil_by_k[k - k_min] and inertia_by_k[k - k_min] (each
** k_max - k_min + 1 long, may be NULL) the per-K scores. Ties go to the
** smaller K.
*/
nm_status nm_kmeans_auto(const double *x, size_t n, int d, int k_min, int k_max,
                         const nm_kmeans_opts *opts, const nm_silhouette_opts *sil,
                         nm_kmeans_result *best, nm_silhouette_result *sil_by_k,
                         double *inertia_by_k, const nm_progress *progress, nm_error *err);

#endif /* NM_KMEANS_H */
