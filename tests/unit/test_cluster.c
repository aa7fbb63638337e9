/*
** test_cluster.c — silhouette, adjusted Rand index, linkage trees and the
** cophenetic correlation against scikit-learn / SciPy reference values
** (tests/fixtures/, written by tools/make_cluster_fixtures.py), to 1e-9;
** k-means on planted blobs; the sampled silhouette; the nearest-neighbour
** chain on 600 rows (matrix compacted twice, lazily updated rows) against a naive
** closest-pair-first agglomeration.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ext/cluster.h"
#include "../../ext/kmeans.h"
#include "../../ext/linkage.h"
#include "../../ext/rng.h"
#include "../../ext/silhouette.h"
#include "check.h"

typedef struct fixture {
  size_t n;
  int d;
  double *x;
  int *labels;
} fixture;

static int load_fixture(const char *name, fixture *f) {
  char path[256];
  snprintf(path, sizeof path, "tests/fixtures/%s", name);
  FILE *fp = fopen(path, "r");
  memset(f, 0, sizeof *f);
  if (!fp) {
    fprintf(stderr, "cannot open %s\n", path);
    return 0;
  }
  if (fscanf(fp, "%zu %d", &f->n, &f->d) != 2) return 0;
  f->x = malloc(f->n * (size_t)f->d * sizeof(double));
  for (size_t i = 0; i < f->n * (size_t)f->d; i++)
    if (fscanf(fp, "%lf", &f->x[i]) != 1) return 0;
  char word[16];
  if (fscanf(fp, "%15s", word) == 1 && !strcmp(word, "labels")) {
    f->labels = malloc(f->n * sizeof(int));
    for (size_t i = 0; i < f->n; i++)
      if (fscanf(fp, "%d", &f->labels[i]) != 1) return 0;
  }
  fclose(fp);
  return 1;
}

static void free_fixture(fixture *f) {
  free(f->x);
  free(f->labels);
}

static double ref(const char *name) {
  FILE *fp = fopen("tests/fixtures/cluster_ref.txt", "r");
  char key[128];
  double v;
  if (!fp) return NAN;
  char line[512];
  while (fgets(line, sizeof line, fp)) {
    if (sscanf(line, "%127s %lf", key, &v) == 2 && !strcmp(key, name)) {
      fclose(fp);
      return v;
    }
  }
  fclose(fp);
  fprintf(stderr, "no reference value %s\n", name);
  return NAN;
}

static int nclusters(const int *lab, size_t n) {
  int k = 0;
  for (size_t i = 0; i < n; i++)
    if (lab[i] + 1 > k) k = lab[i] + 1;
  return k;
}

static void test_silhouette_ari(void) {
  nm_error err = {0};
  fixture f, g, c, a;
  CHECK(load_fixture("cl_blobs.txt", &f));
  CHECK(load_fixture("cl_blobs_noisy.txt", &g));
  CHECK(load_fixture("cl_cloud.txt", &c));
  CHECK(load_fixture("cl_ari.txt", &a));
  nm_silhouette_result r;
  CHECK_OK(nm_silhouette(f.x, f.n, f.d, f.labels, 3, NULL, &r, NULL, &err), err);
  CHECK_NEAR(r.mean, ref("sil_blobs_truth"), 1e-9);
  CHECK(!r.sampled);
  CHECK_OK(nm_silhouette(g.x, g.n, g.d, g.labels, 3, NULL, &r, NULL, &err), err);
  CHECK_NEAR(r.mean, ref("sil_blobs_noisy"), 1e-9);
  CHECK_OK(nm_silhouette(c.x, c.n, c.d, c.labels, 4, NULL, &r, NULL, &err), err);
  CHECK_NEAR(r.mean, ref("sil_cloud"), 1e-9);

  /* Several labelings in one pass give the same numbers. */
  const int *labs[3] = {f.labels, g.labels, f.labels};
  int ks[3] = {3, 3, 3};
  nm_silhouette_result rs[3];
  CHECK_OK(nm_silhouette_multi(f.x, f.n, f.d, labs, ks, 3, NULL, rs, NULL, NULL, &err), err);
  CHECK_NEAR(rs[0].mean, ref("sil_blobs_truth"), 1e-9);
  CHECK_NEAR(rs[1].mean, ref("sil_blobs_noisy"), 1e-9);

  /* Errors: one cluster, a label out of range. */
  int one[3] = {0, 0, 0};
  CHECK(nm_silhouette(f.x, 3, f.d, one, 1, NULL, &r, NULL, &err) == NM_ERR_ARG);
  CHECK(nm_silhouette(f.x, f.n, f.d, g.labels, 2, NULL, &r, NULL, &err) == NM_ERR_ARG);

  double ari;
  CHECK_OK(nm_adjusted_rand(f.labels, g.labels, f.n, &ari, &err), err);
  CHECK_NEAR(ari, ref("ari_blobs_truth_noisy"), 1e-9);
  int *la = malloc(a.n * sizeof(int)), *lb = malloc(a.n * sizeof(int));
  for (size_t i = 0; i < a.n; i++) {
    la[i] = (int)a.x[2 * i];
    lb[i] = (int)a.x[2 * i + 1];
  }
  CHECK_OK(nm_adjusted_rand(la, lb, a.n, &ari, &err), err);
  CHECK_NEAR(ari, ref("ari_pair"), 1e-9);
  CHECK_OK(nm_adjusted_rand(lb, la, a.n, &ari, &err), err);
  CHECK_NEAR(ari, ref("ari_pair_rev"), 1e-9);
  CHECK_OK(nm_adjusted_rand(la, la, a.n, &ari, &err), err);
  CHECK_NEAR(ari, 1.0, 1e-15);
  free(la);
  free(lb);
  free_fixture(&f);
  free_fixture(&g);
  free_fixture(&c);
  free_fixture(&a);
}

static void test_trees(const char *file, const char *tag) {
  nm_error err = {0};
  fixture f;
  CHECK(load_fixture(file, &f));
  for (int m = 0; m < 4; m++) {
    const char *name = nm_linkage_name((nm_linkage_method)m);
    nm_merge *z = malloc((f.n - 1) * sizeof *z);
    CHECK_OK(nm_linkage(f.x, f.n, f.d, (nm_linkage_method)m, 0, z, NULL, &err), err);
    char key[128];
    snprintf(key, sizeof key, "top_height_%s_%s", tag, name);
    CHECK_NEAR(z[f.n - 2].height, ref(key), 1e-9);
    CHECK(z[f.n - 2].size == (int)f.n);
    double ccc;
    CHECK_OK(nm_cophenetic_corr(f.x, f.n, f.d, z, &ccc, NULL, &err), err);
    snprintf(key, sizeof key, "ccc_%s_%s", tag, name);
    CHECK_NEAR(ccc, ref(key), 1e-9);
    int *lab = malloc(f.n * sizeof(int));
    int ks[3] = {2, 3, 5};
    for (int t = 0; t < 3; t++) {
      CHECK_OK(nm_linkage_cut(z, f.n, ks[t], lab, &err), err);
      CHECK(nclusters(lab, f.n) == ks[t]);
      nm_silhouette_result r;
      CHECK_OK(nm_silhouette(f.x, f.n, f.d, lab, ks[t], NULL, &r, NULL, &err), err);
      snprintf(key, sizeof key, "cut_%s_%s_%d_silhouette", tag, name, ks[t]);
      CHECK_NEAR(r.mean, ref(key), 1e-9);
    }
    size_t *order = malloc(f.n * sizeof(size_t));
    CHECK_OK(nm_linkage_leaf_order(z, f.n, order, &err), err);
    /* A permutation. */
    int *seen = calloc(f.n, sizeof(int));
    int perm = 1;
    for (size_t i = 0; i < f.n; i++) {
      if (order[i] >= f.n || seen[order[i]]++) perm = 0;
    }
    CHECK(perm);
    free(seen);
    free(order);
    free(lab);
    free(z);
  }
  /* The matrix methods refuse more rows than max_rows. */
  nm_merge *z = malloc((f.n - 1) * sizeof *z);
  CHECK(nm_linkage(f.x, f.n, f.d, NM_LINK_WARD, 10, z, NULL, &err) == NM_ERR_TOOBIG);
  CHECK(strstr(err.msg, "max_rows") != NULL);
  CHECK_OK(nm_linkage(f.x, f.n, f.d, NM_LINK_SINGLE, 10, z, NULL, &err), err);
  free(z);
  free_fixture(&f);
}

/* Planted blobs: well separated Gaussian clusters in 5-D. */
static double *planted(size_t n, int d, int k, uint64_t seed, int *truth) {
  nm_rng r;
  nm_rng_seed(&r, seed);
  double *centres = malloc((size_t)k * d * sizeof(double));
  for (int c = 0; c < k * d; c++) centres[c] = 12.0 * nm_rng_uniform(&r) - 6.0;
  /* spread the centres apart along the first axis so they never overlap */
  for (int c = 0; c < k; c++) centres[c * d] = 10.0 * c;
  double *x = malloc(n * d * sizeof(double));
  for (size_t i = 0; i < n; i++) {
    int c = (int)(i % (size_t)k);
    truth[i] = c;
    for (int j = 0; j < d; j++) x[i * d + j] = centres[c * d + j] + nm_rng_normal(&r);
  }
  free(centres);
  return x;
}

static void test_kmeans(void) {
  nm_error err = {0};
  size_t n = 1200;
  int d = 5, k = 4;
  int *truth = malloc(n * sizeof(int));
  double *x = planted(n, d, k, 42, truth);
  nm_kmeans_opts o;
  nm_kmeans_opts_default(&o);
  nm_kmeans_result best;
  nm_silhouette_result sil[9];
  double inertia[9];
  CHECK_OK(nm_kmeans_auto(x, n, d, 2, 10, &o, NULL, &best, sil, inertia, NULL, &err), err);
  CHECK(best.k == k);
  double ari = 0;
  CHECK_OK(nm_adjusted_rand(best.labels, truth, n, &ari, &err), err);
  CHECK(ari >= 0.99);
  /* inertia falls with K (restarts make it monotone on such data) */
  for (int t = 1; t < 9; t++) CHECK(inertia[t] <= inertia[t - 1] * (1 + 1e-12));
  /* same seed, same bytes; assign() reproduces the fit's labels */
  nm_kmeans_result again;
  CHECK_OK(nm_kmeans_fit(x, n, d, k, &o, 1, &again, NULL, &err), err);
  CHECK(memcmp(again.centroids, best.centroids, (size_t)k * d * sizeof(double)) == 0);
  int *lab = malloc(n * sizeof(int));
  nm_kmeans_assign(best.centroids, k, d, x, n, lab);
  CHECK(memcmp(lab, best.labels, n * sizeof(int)) == 0);
  /* errors */
  nm_kmeans_result bad;
  CHECK(nm_kmeans_fit(x, 3, d, 4, &o, 0, &bad, NULL, &err) == NM_ERR_ARG);
  CHECK(strstr(err.msg, "at least 4 rows") != NULL);
  CHECK(nm_kmeans_fit(x, n, d, 0, &o, 0, &bad, NULL, &err) == NM_ERR_ARG);
  CHECK(nm_kmeans_auto(x, 5, d, 2, 12, &o, NULL, &bad, NULL, NULL, NULL, &err) == NM_ERR_ARG);

  /* Sampled silhouette: forced on 1200 rows, within 4 standard errors of
  ** the exact mean, and flagged. */
  nm_silhouette_result exact, est;
  nm_silhouette_opts so;
  nm_silhouette_opts_default(&so);
  CHECK_OK(nm_silhouette(x, n, d, truth, k, &so, &exact, NULL, &err), err);
  so.exact_max = 500;
  so.sample = 300;
  so.seed = 9;
  CHECK_OK(nm_silhouette(x, n, d, truth, k, &so, &est, NULL, &err), err);
  CHECK(est.sampled && est.used == 300 && est.stderr_ > 0);
  CHECK(fabs(est.mean - exact.mean) <= 4 * est.stderr_ + 1e-12);
  nm_silhouette_result est2;
  CHECK_OK(nm_silhouette(x, n, d, truth, k, &so, &est2, NULL, &err), err);
  CHECK(est2.mean == est.mean);

  nm_kmeans_result_free(&best);
  nm_kmeans_result_free(&again);
  free(lab);
  free(truth);
  free(x);
}

static void test_standardize(void) {
  nm_error err = {0};
  double x[] = {1, 5, 2, 5, 3, 5, 4, 5};
  nm_standardize s;
  CHECK_OK(nm_standardize_fit(x, 4, 2, &s, &err), err);
  CHECK_NEAR(s.mean[0], 2.5, 1e-15);
  CHECK_NEAR(s.sd[0], sqrt(1.25), 1e-15);
  CHECK_NEAR(s.sd[1], 1.0, 0); /* constant feature: sd 1, values 0 */
  nm_standardize_apply(&s, x, 4);
  CHECK_NEAR(x[1], 0, 0);
  CHECK_NEAR(x[0], -1.5 / sqrt(1.25), 1e-15);
  nm_standardize_free(&s);
  double bad[] = {1, NAN};
  CHECK(nm_cluster_check_data(bad, 1, 2, "test", &err) == NM_ERR_ARG);
}

/* Closest pair first over a full matrix, Lance–Williams updates: O(n^3),
** the textbook definition. Returns the merge heights in merge order (for a
** reducible linkage without ties: the NN-chain's heights, sorted). */
static void naive_heights(const double *x, size_t n, int d, nm_linkage_method m, double *h) {
  double *D = malloc(n * n * sizeof(double));
  double *sz = malloc(n * sizeof(double));
  for (size_t i = 0; i < n; i++) {
    sz[i] = 1;
    for (size_t j = 0; j < n; j++) {
      double s = 0;
      for (int k = 0; k < d; k++) {
        double t = x[i * d + k] - x[j * d + k];
        s += t * t;
      }
      D[i * n + j] = m == NM_LINK_WARD ? s : sqrt(s);
    }
  }
  for (size_t t = 0; t + 1 < n; t++) {
    size_t a = 0, b = 0;
    double best = INFINITY;
    for (size_t i = 0; i < n; i++)
      for (size_t j = i + 1; j < n; j++)
        if (sz[i] > 0 && sz[j] > 0 && D[i * n + j] < best) {
          best = D[i * n + j];
          a = i;
          b = j;
        }
    h[t] = m == NM_LINK_WARD ? sqrt(best) : best;
    for (size_t k = 0; k < n; k++) {
      if (sz[k] == 0 || k == a || k == b) continue;
      double da = D[a * n + k], db = D[b * n + k], v;
      if (m == NM_LINK_AVERAGE) v = (sz[a] * da + sz[b] * db) / (sz[a] + sz[b]);
      else if (m == NM_LINK_COMPLETE) v = da > db ? da : db;
      else v = ((sz[a] + sz[k]) * da + (sz[b] + sz[k]) * db - sz[k] * best) / (sz[a] + sz[b] + sz[k]);
      D[b * n + k] = D[k * n + b] = v;
    }
    sz[b] += sz[a];
    sz[a] = 0;
  }
  free(D);
  free(sz);
}

static int cmp_double(const void *pa, const void *pb) {
  double a = *(const double *)pa, b = *(const double *)pb;
  return a < b ? -1 : a > b;
}

/* 600 rows: the chain compacts its matrix twice (at 300 and 150 live) and
** rows go stale between scans; every height equals the naive one. */
static void test_chain_vs_naive(void) {
  nm_error err = {0};
  size_t n = 600;
  int d = 3;
  nm_rng r;
  nm_rng_seed(&r, 11);
  double *x = malloc(n * d * sizeof(double));
  for (size_t i = 0; i < n * (size_t)d; i++) x[i] = nm_rng_normal(&r) + (i % 7 == 0 ? 4 : 0);
  nm_merge *z = malloc((n - 1) * sizeof *z);
  double *h = malloc((n - 1) * sizeof(double)), *ref_h = malloc((n - 1) * sizeof(double));
  for (int m = 0; m < 3; m++) {
    CHECK_OK(nm_linkage(x, n, d, (nm_linkage_method)m, 0, z, NULL, &err), err);
    naive_heights(x, n, d, (nm_linkage_method)m, ref_h);
    qsort(ref_h, n - 1, sizeof(double), cmp_double);
    double worst = 0;
    for (size_t t = 0; t + 1 < n; t++) {
      h[t] = z[t].height;
      double rel = fabs(h[t] - ref_h[t]) / (ref_h[t] > 1e-300 ? ref_h[t] : 1);
      if (rel > worst) worst = rel;
    }
    CHECK(worst < 1e-12);
    CHECK(z[n - 2].size == (int)n);
  }
  free(x);
  free(z);
  free(h);
  free(ref_h);
}

/* Reference for Ward: the nearest-neighbour chain as a plain scalar scan
** over all live clusters with the exact centroid formula (no filter, no
** compaction), then sorted stably by height and relabelled as SciPy does.
** The engine's float pre-filter must not change a single choice, so the
** trees must be equal bit for bit, ties included. */
static double ref_ward(const double *c, int d, size_t a, size_t b, double na, double nb) {
  double s = 0;
  for (int k = 0; k < d; k++) {
    double t = c[a * d + k] - c[b * d + k];
    s += t * t;
  }
  return (2.0 * na * nb) / (na + nb) * s;
}

static void ref_ward_tree(const double *x, size_t n, int d, nm_merge *z) {
  double *c = malloc(n * d * sizeof(double)), *sz = malloc(n * sizeof(double));
  int *chain = malloc(n * sizeof(int)), *rx = malloc(n * sizeof(int)),
      *ry = malloc(n * sizeof(int)), *parent = malloc(n * sizeof(int)),
      *cid = malloc(n * sizeof(int)), *csz = malloc(n * sizeof(int));
  double *rh = malloc(n * sizeof(double));
  size_t *ord = malloc(n * sizeof(size_t));
  memcpy(c, x, n * d * sizeof(double));
  for (size_t i = 0; i < n; i++) sz[i] = 1;
  size_t len = 0;
  for (size_t t = 0; t + 1 < n; t++) {
    if (len == 0) {
      size_t p = 0;
      while (sz[p] == 0) p++;
      chain[len++] = (int)p;
    }
    int xq, yq;
    double cur;
    for (;;) {
      xq = chain[len - 1];
      yq = len > 1 ? chain[len - 2] : -1;
      cur = len > 1 ? ref_ward(c, d, xq, yq, sz[xq], sz[yq]) : INFINITY;
      for (size_t j = 0; j < n; j++) {
        if (sz[j] == 0 || (int)j == xq) continue;
        double v = ref_ward(c, d, xq, j, sz[xq], sz[j]);
        if (v < cur) {
          cur = v;
          yq = (int)j;
        }
      }
      if (len > 1 && yq == chain[len - 2]) break;
      chain[len++] = yq;
    }
    len -= 2;
    if (xq > yq) {
      int tmp = xq;
      xq = yq;
      yq = tmp;
    }
    rx[t] = xq;
    ry[t] = yq;
    rh[t] = sqrt(cur);
    for (int k = 0; k < d; k++)
      c[yq * d + k] = (sz[xq] * c[xq * d + k] + sz[yq] * c[yq * d + k]) / (sz[xq] + sz[yq]);
    sz[yq] += sz[xq];
    sz[xq] = 0;
  }
  /* Stable insertion sort of the merge order by height. */
  for (size_t t = 0; t + 1 < n; t++) {
    size_t u = t;
    while (u > 0 && rh[ord[u - 1]] > rh[t]) {
      ord[u] = ord[u - 1];
      u--;
    }
    ord[u] = t;
  }
  for (size_t i = 0; i < n; i++) {
    parent[i] = (int)i;
    cid[i] = (int)i;
    csz[i] = 1;
  }
  for (size_t t = 0; t + 1 < n; t++) {
    int a = rx[ord[t]], b = ry[ord[t]];
    while (parent[a] != a) a = parent[a];
    while (parent[b] != b) b = parent[b];
    z[t].a = cid[a] < cid[b] ? cid[a] : cid[b];
    z[t].b = cid[a] < cid[b] ? cid[b] : cid[a];
    z[t].height = rh[ord[t]];
    z[t].size = csz[a] + csz[b];
    parent[b] = a;
    cid[a] = (int)(n + t);
    csz[a] = z[t].size;
  }
  free(c);
  free(sz);
  free(chain);
  free(rx);
  free(ry);
  free(rh);
  free(ord);
  free(parent);
  free(cid);
  free(csz);
}

static int same_tree(const nm_merge *a, const nm_merge *b, size_t n, double hscale) {
  for (size_t t = 0; t + 1 < n; t++)
    if (a[t].a != b[t].a || a[t].b != b[t].b || a[t].size != b[t].size ||
        a[t].height != b[t].height * hscale)
      return 0;
  return 1;
}

static int stop_now(void *ctx, double done, double total, const char *what) {
  (void)done;
  (void)total;
  (void)what;
  return ++*(int *)ctx > 3;
}

/* Ward's float pre-filter with exact evaluation: equal to the exact scan on
** 1,200 x 33 blobs (the pack of dead positions runs several times, d is odd)
** and on 800 points of an 8 x 8 x 8 integer grid (duplicates, zero heights and
** ties everywhere); the same with the portable kernel; and the same choices
** after scaling by 2^-300 and 2^300 (heights scale exactly). */
static void test_ward_exact_chain(void) {
  nm_error err = {0};
  nm_rng r;
  nm_rng_seed(&r, 5);
  struct {
    size_t n;
    int d;
  } sets[2] = {{1200, 33}, {800, 3}};
  for (int s = 0; s < 2; s++) {
    size_t n = sets[s].n;
    int d = sets[s].d;
    double *x = malloc(n * d * sizeof(double)), *xs = malloc(n * d * sizeof(double));
    for (size_t i = 0; i < n; i++) {
      double off = (double)nm_rng_below(&r, 6);
      for (int k = 0; k < d; k++)
        x[i * d + k] = s == 0 ? nm_rng_normal(&r) * 0.4 + (k % 6 == off ? 3 : 0)
                              : (double)nm_rng_below(&r, 8);
    }
    nm_merge *z = malloc((n - 1) * sizeof *z), *ref_z = malloc((n - 1) * sizeof *ref_z);
    nm_merge *zs = malloc((n - 1) * sizeof *zs);
    ref_ward_tree(x, n, d, ref_z);
    CHECK_OK(nm_linkage(x, n, d, NM_LINK_WARD, 0, z, NULL, &err), err);
    CHECK(same_tree(z, ref_z, n, 1));
    nm_linkage_ward_force_portable(1);
    CHECK_OK(nm_linkage(x, n, d, NM_LINK_WARD, 0, zs, NULL, &err), err);
    nm_linkage_ward_force_portable(0);
    CHECK(same_tree(zs, ref_z, n, 1));
    for (int e = -300; e <= 300; e += 600) {
      for (size_t i = 0; i < n * d; i++) xs[i] = ldexp(x[i], e);
      CHECK_OK(nm_linkage(xs, n, d, NM_LINK_WARD, 0, zs, NULL, &err), err);
      CHECK(same_tree(zs, ref_z, n, ldexp(1, e)));
    }
    if (s == 1) CHECK(z[0].height == 0); /* duplicates merge at 0 */
    free(x);
    free(xs);
    free(z);
    free(ref_z);
    free(zs);
  }
  /* Non-finite values are refused, and an interrupt stops the chain. */
  double bad[6] = {0, 1, 2, INFINITY, 4, 5};
  nm_merge zb[2];
  CHECK(nm_linkage(bad, 3, 2, NM_LINK_WARD, 0, zb, NULL, &err) == NM_ERR_ARG);
  CHECK(strstr(err.msg, "row 2") != NULL);
  size_t n = 500;
  double *x = malloc(n * 2 * sizeof(double));
  for (size_t i = 0; i < 2 * n; i++) x[i] = nm_rng_normal(&r);
  nm_merge *z = malloc((n - 1) * sizeof *z);
  int calls = 0;
  nm_progress stop = {stop_now, &calls};
  CHECK(nm_linkage(x, n, 2, NM_LINK_WARD, 0, z, &stop, &err) == NM_ERR_INTERRUPTED);
  free(x);
  free(z);
}

int main(void) {
  test_standardize();
  test_silhouette_ari();
  test_trees("cl_blobs.txt", "blobs");
  test_trees("cl_cloud.txt", "cloud");
  test_chain_vs_naive();
  test_ward_exact_chain();
  test_kmeans();
  return check_summary("test_cluster");
}
