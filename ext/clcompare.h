/*
** clcompare.h — the paper's Tables S8/S9: every clustering method on every
** data set, with the chosen K, its mean silhouette and the cophenetic
** correlation coefficient (ccc).
**
** Data sets are column subsets of the same rows: "features" (every column
** not in the triplet), "triplet" (the columns named by the caller, e.g. the
** CNN's p, d, Lratio), "both" (all columns); with no triplet there is one
** data set, "all". Each is z-scored on its own.
**
** Per data set, `ccc` is the authors' number: the cophenetic correlation of
** the single-linkage tree of the standardised rows against their Euclidean
** distances. It scores the data set, not a method, so every method row of
** that data set repeats it. `method_ccc` is the method's own tree's ccc
** where it has one (hclust: the tree of the chosen linkage); k-means and
** GMM have no tree, so theirs is null. K is chosen per method by the mean
** silhouette over [k_min, k_max] (see silhouette.h for when it is sampled).
*/
#ifndef NM_CLCOMPARE_H
#define NM_CLCOMPARE_H

#include "cluster.h"
#include "gmm.h"
#include "kmeans.h"
#include "linkage.h"
#include "silhouette.h"

enum { NM_CMP_KMEANS = 1, NM_CMP_GMM = 2, NM_CMP_HCLUST = 4 };
enum { NM_CMP_FEATURES = 1, NM_CMP_TRIPLET = 2, NM_CMP_BOTH = 4 };

typedef struct nm_compare_opts {
  int methods;            /* NM_CMP_* bits (default all three) */
  int datasets;           /* NM_CMP_* data set bits (default all three) */
  int k_min, k_max;       /* default 2..12 */
  int n_triplet;
  int triplet[NM_CLUSTER_MAX_FEATURES]; /* 0-based column indices */
  nm_linkage_method linkage; /* hclust's (default ward) */
  size_t max_rows;        /* hclust matrix cap (default NM_LINKAGE_MAX_ROWS) */
  nm_kmeans_opts km;
  nm_gmm_opts gm;
  nm_silhouette_opts sil;
} nm_compare_opts;

void nm_compare_opts_default(nm_compare_opts *o);

/* x: n raw rows of d columns. *json (malloc'd):
** {"n":..,"k_min":..,"k_max":..,"datasets":[{"dataset","columns","ccc"}],
**  "rows":[{"dataset","method","k","silhouette","silhouette_sampled",
**           "ccc","method_ccc"[,"linkage"][,"error"]}]} */
nm_status nm_cluster_compare(const double *x, size_t n, int d, const nm_compare_opts *opts,
                             char **json, const nm_progress *progress, nm_error *err);

#endif /* NM_CLCOMPARE_H */
