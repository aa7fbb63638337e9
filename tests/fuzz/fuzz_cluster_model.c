/*
** fuzz_cluster_model.c — libFuzzer target for the clustering model text
** (kmeans_fit / gmm_fit / hclust_fit output): nm_clmodel_parse, which the
** *_label functions use, and nm_clmodel_info (model_info()).
**
** The input is the JSON text, with no terminating NUL (both functions take a
** length). A model that parses must label a row of zeros and a row of large
** values into 0..k-1, with GMM posteriors that are finite, in [0, 1], and
** sum to 1; a row with the wrong feature count must be refused with a
** message. tests/fuzz/cluster_model.dict holds the JSON keys.
** Seeds: k-means, GMM (full and diagonal) and hclust models printed by
** nm_clmodel_json.
*/
#include "fuzz_util.h"

#include <math.h>

#include "../../ext/clmodel.h"

static void check_parsed(const nm_clmodel *m) {
  FUZZ_REQUIRE(m->d >= 1 && m->k >= 1 && m->centroids != NULL);
  nm_error err = {0};
  double *row = calloc((size_t)m->d + 1, sizeof *row);
  double *post = calloc((size_t)m->k, sizeof *post);
  FUZZ_REQUIRE(row && post);
  for (int pass = 0; pass < 2; pass++) {
    if (pass) for (int j = 0; j < m->d; j++) row[j] = 1e6 * (j % 2 ? -1 : 1);
    int g = -1;
    nm_status st = nm_clmodel_label(m, row, m->d, &g,
                                    m->kind == NM_CLM_GMM ? post : NULL, &err);
    if (st != NM_OK) {
      FUZZ_FAILED_WITH_MESSAGE(st, err);
      continue;
    }
    FUZZ_REQUIRE(g >= 0 && g < m->k);
    if (m->kind == NM_CLM_GMM) {
      double sum = 0;
      for (int c = 0; c < m->k; c++) {
        FUZZ_REQUIRE(isfinite(post[c]) && post[c] >= 0 && post[c] <= 1 + 1e-9);
        sum += post[c];
      }
      FUZZ_REQUIRE(fabs(sum - 1) < 1e-6);
    }
  }
  int g = -1;
  nm_status st = nm_clmodel_label(m, row, m->d + 1, &g, NULL, &err);
  FUZZ_FAILED_WITH_MESSAGE(st, err);
  free(row);
  free(post);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nm_clmodel m;
  nm_error err = {0};
  nm_status st = nm_clmodel_parse((const char *)data, size, &m, &err);
  if (st == NM_OK) {
    check_parsed(&m);
    nm_clmodel_free(&m);
  } else {
    FUZZ_FAILED_WITH_MESSAGE(st, err);
  }
  char *info = NULL;
  nm_error err2 = {0};
  st = nm_clmodel_info((const char *)data, size, &info, &err2);
  if (st == NM_OK) FUZZ_REQUIRE(info != NULL);
  else FUZZ_FAILED_WITH_MESSAGE(st, err2);
  free(info);
  return 0;
}

static void write_one(const nm_clmodel_fit *f, const char *name) {
  char *json = NULL;
  nm_error err = {0};
  if (nm_clmodel_json(f, &json, &err) != NM_OK) {
    fprintf(stderr, "cluster seed %s: %s\n", name, err.msg);
    return;
  }
  fuzz_write_seed(name, json, strlen(json));
  free(json);
}

static void write_seeds(void) {
  enum { D = 3, K = 2, N = 6 };
  double mean[D] = {1, -2, 0.5}, sd[D] = {1, 2, 0.25};
  nm_standardize sc = {D, mean, sd};
  double cen[K * D] = {-1, 0, 1, 1, 0.5, -1};
  int labels[N] = {0, 1, 0, 1, 1, 0};
  double sil[3] = {0.5, 0.4, NAN}, inertia[3] = {10, 6, 5};
  nm_clmodel_fit f;
  memset(&f, 0, sizeof f);
  f.kind = NM_CLM_KMEANS;
  f.d = D, f.k = K, f.k_auto = 1, f.k_min = 2;
  f.n = N;
  f.scale = &sc;
  f.centroids = cen;
  f.labels = labels;
  f.silhouette = 0.5;
  f.n_by_k = 3;
  f.sil_by_k = sil;
  f.inertia_by_k = inertia;
  f.inertia = 10;
  f.seed = 1;
  write_one(&f, "kmeans.json");

  f.kind = NM_CLM_HCLUST;
  f.inertia_by_k = NULL;
  f.k_auto = 0;
  f.linkage = "ward";
  f.ccc = 0.8;
  write_one(&f, "hclust.json");

  double w[K] = {0.4, 0.6};
  double full[K * D * D] = {1, 0.2, 0, 0.2, 1, 0.1, 0, 0.1, 1, 2, 0, 0, 0, 1, 0, 0, 0, 0.5};
  double diag[K * D] = {1, 2, 0.5, 0.3, 1, 1};
  nm_gmm_model g;
  memset(&g, 0, sizeof g);
  g.k = K, g.d = D, g.cov = NM_GMM_FULL;
  g.weights = w, g.means = cen, g.covs = full;
  g.loglik = -3.5;
  f.kind = NM_CLM_GMM;
  f.linkage = NULL;
  f.gmm = &g;
  write_one(&f, "gmm-full.json");
  g.cov = NM_GMM_DIAG;
  g.covs = diag;
  write_one(&f, "gmm-diag.json");
}

NM_FUZZ_INIT(write_seeds)
