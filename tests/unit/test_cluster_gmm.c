/*
** test_cluster_gmm.c — Gaussian mixtures recover planted clusters (full and
** diagonal covariance), posteriors are probabilities, same seed same bytes;
** PCA variances equal scikit-learn's to 1e-9 (fixture cl_cloud.txt).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ext/cluster.h"
#include "../../ext/gmm.h"
#include "../../ext/pca.h"
#include "check.h"

static double ref(const char *name) {
  FILE *fp = fopen("tests/fixtures/cluster_ref.txt", "r");
  char key[128], line[512];
  double v;
  if (!fp) return NAN;
  while (fgets(line, sizeof line, fp))
    if (sscanf(line, "%127s %lf", key, &v) == 2 && !strcmp(key, name)) {
      fclose(fp);
      return v;
    }
  fclose(fp);
  return NAN;
}

static double *load_cloud(size_t *n, int *d) {
  FILE *fp = fopen("tests/fixtures/cl_cloud.txt", "r");
  if (!fp || fscanf(fp, "%zu %d", n, d) != 2) return NULL;
  double *x = malloc(*n * (size_t)*d * sizeof(double));
  for (size_t i = 0; i < *n * (size_t)*d; i++)
    if (fscanf(fp, "%lf", &x[i]) != 1) x[i] = NAN;
  fclose(fp);
  return x;
}

/* Elongated, correlated clusters: what a diagonal k-means view misses. */
static double *planted(size_t n, int k, int *truth, uint64_t seed) {
  nm_rng r;
  nm_rng_seed(&r, seed);
  double *x = malloc(n * 3 * sizeof(double));
  for (size_t i = 0; i < n; i++) {
    int c = (int)(i % (size_t)k);
    truth[i] = c;
    double a = nm_rng_normal(&r) * 3, b = nm_rng_normal(&r) * 0.3, e = nm_rng_normal(&r) * 0.3;
    x[i * 3 + 0] = a + 8.0 * c;
    x[i * 3 + 1] = 0.8 * a + b + 3.0 * (c % 2);
    x[i * 3 + 2] = e - 4.0 * c;
  }
  return x;
}

int main(void) {
  nm_error err = {0};
  size_t n = 900;
  int k = 3;
  int *truth = malloc(n * sizeof(int));
  double *x = planted(n, k, truth, 5);
  for (int cov = 0; cov < 2; cov++) {
    nm_gmm_opts o;
    nm_gmm_opts_default(&o);
    o.cov = (nm_gmm_cov)cov;
    nm_gmm_model m, m2;
    CHECK_OK(nm_gmm_fit(x, n, 3, k, &o, 1, &m, NULL, &err), err);
    double ari;
    CHECK_OK(nm_adjusted_rand(m.labels, truth, n, &ari, &err), err);
    CHECK(ari >= 0.99);
    double *post = malloc(n * k * sizeof(double));
    int *lab = malloc(n * sizeof(int));
    CHECK_OK(nm_gmm_predict(&m, x, n, lab, post, &err), err);
    CHECK(memcmp(lab, m.labels, n * sizeof(int)) == 0);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
      double s = 0;
      for (int c = 0; c < k; c++) s += post[i * k + c];
      if (fabs(s - 1) > worst) worst = fabs(s - 1);
    }
    CHECK_NEAR(worst, 0, 1e-12);
    CHECK_NEAR(m.weights[0] + m.weights[1] + m.weights[2], 1, 1e-12);
    CHECK_OK(nm_gmm_fit(x, n, 3, k, &o, 0, &m2, NULL, &err), err);
    CHECK(memcmp(m.means, m2.means, k * 3 * sizeof(double)) == 0);
    CHECK(m.loglik == m2.loglik);
    nm_gmm_model a;
    nm_silhouette_result sil[5];
    CHECK_OK(nm_gmm_auto(x, n, 3, 2, 6, &o, NULL, &a, sil, NULL, &err), err);
    CHECK(a.k >= 2 && a.k <= 6);
    nm_gmm_free(&a);
    free(post);
    free(lab);
    nm_gmm_free(&m);
    nm_gmm_free(&m2);
  }
  nm_gmm_model bad;
  CHECK(nm_gmm_fit(x, 2, 3, 3, NULL, 0, &bad, NULL, &err) == NM_ERR_ARG);

  size_t cn;
  int cd;
  double *c = load_cloud(&cn, &cd);
  CHECK(c != NULL);
  nm_pca p;
  CHECK_OK(nm_pca_fit(c, cn, cd, &p, &err), err);
  char key[64];
  double rs = 0;
  for (int t = 0; t < cd; t++) {
    snprintf(key, sizeof key, "pca_cloud_ratio_%d", t);
    CHECK_NEAR(p.ratio[t], ref(key), 1e-9);
    snprintf(key, sizeof key, "pca_cloud_var_%d", t);
    CHECK_NEAR(p.variance[t], ref(key), 1e-9);
    rs += p.ratio[t];
  }
  CHECK_NEAR(rs, 1, 1e-12);
  double *sc = malloc(cn * 2 * sizeof(double));
  CHECK_OK(nm_pca_transform(&p, c, cn, 2, sc, &err), err);
  double v0 = 0;
  for (size_t i = 0; i < cn; i++) v0 += sc[i * 2] * sc[i * 2];
  CHECK_NEAR(v0 / (double)(cn - 1), p.variance[0], 1e-9);
  free(sc);
  nm_pca_free(&p);
  free(c);
  free(x);
  free(truth);
  return check_summary("test_cluster_gmm");
}
