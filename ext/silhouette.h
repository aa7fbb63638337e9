/*
** silhouette.h — mean silhouette value (Rousseeuw 1987), Euclidean distance.
**
** s(i) = (b(i) - a(i)) / max(a(i), b(i)), a(i) the mean distance from i to
** the other members of its cluster, b(i) the smallest mean distance to
** another cluster; s(i) = 0 when i's cluster has one member (as
** scikit-learn's silhouette_score).
**
** Exact when n <= exact_max (default 20,000): every pair is used, in row
** blocks of distances from one cblas_dgemm each, so memory stays O(block·n).
** Above exact_max the mean is ESTIMATED, and the result says so
** (sampled = 1): `sample` rows drawn uniformly without replacement with the
** given seed each get their exact s(i) against ALL n rows, and the mean of
** those is an unbiased estimate of the full mean; `stderr_` is its standard
** error (SD of the sampled s(i) / sqrt(sample)).
**
** Several labelings of the same rows (k-means at K = 2..12, say) are scored
** in one pass, so the distances are computed once, not once per K.
*/
#ifndef NM_SILHOUETTE_H
#define NM_SILHOUETTE_H

#include "cluster.h"

typedef struct nm_silhouette_opts {
  size_t exact_max; /* exact up to this many rows (default 20000) */
  size_t sample;    /* rows sampled above it (default 10000) */
  uint64_t seed;    /* sample seed */
} nm_silhouette_opts;

void nm_silhouette_opts_default(nm_silhouette_opts *o);

typedef struct nm_silhouette_result {
  double mean;    /* mean silhouette (exact or estimated) */
  double stderr_; /* 0 when exact */
  int sampled;    /* 1 when estimated on a sample */
  size_t used;    /* rows whose s(i) entered the mean */
} nm_silhouette_result;

/*
** Scores nl labelings of the rows of x (n x d): labels[l] has n labels in
** 0..ks[l]-1, each 2 <= ks[l] <= n-1 (else an error, as scikit-learn).
** out[l] receives the result of labeling l. per_row, if not NULL, receives
** s(i) of labeling 0 for the scored rows (n values; unscored rows NAN).
*/
nm_status nm_silhouette_multi(const double *x, size_t n, int d, const int *const *labels,
                              const int *ks, int nl, const nm_silhouette_opts *opts,
                              nm_silhouette_result *out, double *per_row,
                              const nm_progress *progress, nm_error *err);

/* One labeling. */
nm_status nm_silhouette(const double *x, size_t n, int d, const int *labels, int k,
                        const nm_silhouette_opts *opts, nm_silhouette_result *out,
                        const nm_progress *progress, nm_error *err);

#endif /* NM_SILHOUETTE_H */
