/*
** clmodel.h — the clustering model as JSON text: what kmeans_fit, gmm_fit and
** hclust_fit return and what the *_label functions read back.
**
** JSON (not a binary BLOB) so that SQL can look inside with json_extract
** (`json_extract(model, '$.k')`); numbers are written with 17 significant
** digits, so every double reads back to the same bits. Every model carries:
**
**   kind          "kmeans" | "gmm" | "hclust"
**   version       1
**   n_features    d; labelling rows with another count is an error
**   n             training rows
**   standardize   {"mean":[d], "sd":[d]} (sd 1 everywhere when the fit was
**                 asked not to standardise)
**   k             the number of groups (chosen or given)
**   k_auto        true when K was chosen by the mean silhouette
**   by_k          [{"k":..,"silhouette":..,(kmeans) "inertia":..}, ...]
**   silhouette    mean silhouette of the chosen K; silhouette_sampled,
**                 silhouette_stderr say whether it is an estimate
**   sizes         rows per group
**   centroids     k x d group means in the standardised space (labelling
**                 = nearest centroid, for hclust too)
** kmeans adds inertia; gmm adds covariance ("full"/"diag"), weights, means
** (= centroids), covariances (k x d x d or k x d), loglik; hclust adds linkage
** and ccc (its own tree's cophenetic correlation).
*/
#ifndef NM_CLMODEL_H
#define NM_CLMODEL_H

#include "cluster.h"
#include "gmm.h"

#define NM_CLMODEL_VERSION 1

typedef enum nm_clmodel_kind { NM_CLM_KMEANS = 0, NM_CLM_GMM, NM_CLM_HCLUST } nm_clmodel_kind;

const char *nm_clmodel_kind_name(nm_clmodel_kind k);

/* What labelling needs, parsed from the JSON. */
typedef struct nm_clmodel {
  nm_clmodel_kind kind;
  int d, k;
  nm_standardize scale;
  double *centroids; /* k x d */
  nm_gmm_model gmm;  /* kind gmm only, prepared */
} nm_clmodel;

/* Parses and validates; a foreign or corrupt text is NM_ERR_FORMAT with a
** message saying what is wrong. */
nm_status nm_clmodel_parse(const char *json, size_t len, nm_clmodel *out, nm_error *err);
void nm_clmodel_free(nm_clmodel *m);

/* Group (0-based) of one raw row; post (k values, may be NULL) receives the
** GMM posteriors (kind gmm only). */
nm_status nm_clmodel_label(const nm_clmodel *m, const double *row, int d, int *group,
                           double *post, nm_error *err);

/* ---- writing. A builder collects the parts, then nm_clmodel_json prints. */
typedef struct nm_clmodel_fit {
  nm_clmodel_kind kind;
  int d, k, k_auto, k_min;
  size_t n;
  const nm_standardize *scale;
  const double *centroids;   /* k x d */
  const int *labels;         /* n, for sizes */
  double silhouette, silhouette_stderr;
  int silhouette_sampled;
  int n_by_k;                /* entries in by_k arrays (K = k_min + i) */
  const double *sil_by_k;    /* may contain NAN (not scored) */
  const double *inertia_by_k;
  double inertia;            /* kmeans */
  uint64_t seed;
  const nm_gmm_model *gmm;   /* gmm */
  const char *linkage;       /* hclust */
  double ccc;                /* hclust */
} nm_clmodel_fit;

/* malloc'd JSON text. */
nm_status nm_clmodel_json(const nm_clmodel_fit *f, char **json, nm_error *err);

/* A summary for model_info(): the model without its large arrays
** (centroids, covariances, means, standardisation vectors). malloc'd. */
nm_status nm_clmodel_info(const char *json, size_t len, char **info, nm_error *err);

#endif /* NM_CLMODEL_H */
