/*
** test_classify.c — the libsvm wrapper: cross-validation equals
** `svm-train -v 10` on the same data (fixture cl_wine.libsvm, counts in
** cluster_ref.txt, exact); grid search + stratified split + held-out
** report; model bytes round-trip bit for bit; corrupt bytes refused.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ext/classify.h"
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
  fprintf(stderr, "no reference %s\n", name);
  return NAN;
}

/* Reads the libsvm-format fixture (every feature explicit). */
static double *load_wine(size_t *n, int *d, int **y) {
  FILE *fp = fopen("tests/fixtures/cl_wine.libsvm", "r");
  *n = 0;
  *y = NULL;
  if (!fp) return NULL;
  size_t cap = 256;
  double *x = malloc(cap * 13 * sizeof(double));
  *y = malloc(cap * sizeof(int));
  *n = 0;
  *d = 13;
  int lab;
  while (fscanf(fp, "%d", &lab) == 1) {
    (*y)[*n] = lab - 1; /* classes 1..3 -> indices 0..2, same order */
    for (int j = 0; j < 13; j++) {
      int idx;
      if (fscanf(fp, " %d:%lf", &idx, &x[*n * 13 + j]) != 2) return NULL;
    }
    (*n)++;
  }
  fclose(fp);
  return x;
}

int main(void) {
  nm_error err = {0};
  size_t n = 0;
  int d = 13, *y = NULL;
  double *x = load_wine(&n, &d, &y);
  CHECK(x != NULL && n == 178);
  if (!x) return check_summary("test_classify");

  /* 1. libsvm CV through the wrapper == svm-train -v 10 (seed 1 = never seeded). */
  struct {
    nm_svm_kernel k;
    double c, g;
    const char *key;
  } cases[] = {{NM_SVM_RBF, 1, 0.1, "svmcv_rbf_c1_g0.1_correct"},
               {NM_SVM_RBF, 10, 0.01, "svmcv_rbf_c10_g0.01_correct"},
               {NM_SVM_RBF, 0.5, 1, "svmcv_rbf_c0.5_g1_correct"},
               {NM_SVM_LINEAR, 1, 0, "svmcv_linear_c1_g0_correct"}};
  for (int i = 0; i < 4; i++) {
    size_t ok = 0;
    CHECK_OK(nm_classify_cv_correct(x, n, d, y, cases[i].k, cases[i].c, cases[i].g, 10, 1, &ok,
                                    &err),
             err);
    CHECK_NEAR((double)ok, ref(cases[i].key), 0);
  }

  /* 2. Full training: split, grid, report. */
  const char *names[3] = {"1", "2", "3"};
  nm_classify_opts o;
  nm_classify_opts_default(&o);
  nm_classifier m;
  CHECK_OK(nm_classify_train(x, n, d, y, 3, names, 1, &o, &m, NULL, &err), err);
  CHECK(m.n_test == 36 && m.n_train == 142); /* round(0.2 * 59, 71, 48) = 12 + 14 + 10 */
  CHECK(m.n_grid == 12);
  CHECK(m.test_accuracy >= 0.9);
  CHECK(m.cv_accuracy >= 0.9);
  int tot = 0, diag = 0;
  for (int i = 0; i < 9; i++) tot += m.confusion[i];
  for (int i = 0; i < 3; i++) diag += m.confusion[i * 4];
  CHECK(tot == m.n_test);
  CHECK_NEAR((double)diag / tot, m.test_accuracy, 1e-15);
  /* The chosen point is the grid's best. */
  for (int i = 0; i < m.n_grid; i++) CHECK(m.grid[i].cv_accuracy <= m.cv_accuracy);

  /* 3. Bytes round-trip bit for bit; predictions agree. */
  unsigned char *b1, *b2;
  size_t l1, l2;
  CHECK_OK(nm_classify_save(&m, &b1, &l1, &err), err);
  nm_classifier back;
  CHECK_OK(nm_classify_load(b1, l1, &back, &err), err);
  CHECK_OK(nm_classify_save(&back, &b2, &l2, &err), err);
  CHECK(l1 == l2 && memcmp(b1, b2, l1) == 0);
  int agree = 1;
  for (size_t i = 0; i < n; i++) {
    int c1, c2;
    nm_classify_predict(&m, x + i * d, d, &c1, &err);
    nm_classify_predict(&back, x + i * d, d, &c2, &err);
    if (c1 != c2) agree = 0;
  }
  CHECK(agree);
  /* Same seed, same bytes. */
  nm_classifier m2;
  CHECK_OK(nm_classify_train(x, n, d, y, 3, names, 1, &o, &m2, NULL, &err), err);
  unsigned char *b3;
  size_t l3;
  CHECK_OK(nm_classify_save(&m2, &b3, &l3, &err), err);
  CHECK(l3 == l1 && memcmp(b1, b3, l1) == 0);

  /* 4. Errors. */
  int cls;
  CHECK(nm_classify_predict(&m, x, 12, &cls, &err) == NM_ERR_ARG);
  CHECK(strstr(err.msg, "trained on 13 features") != NULL);
  nm_classifier bad;
  CHECK(nm_classify_load(b1, l1 - 3, &bad, &err) == NM_ERR_FORMAT);
  CHECK(nm_classify_load("hello", 5, &bad, &err) == NM_ERR_FORMAT);
  /* Every truncation and every single-byte flip is either refused or loads
  ** into something that still predicts without crashing. */
  for (size_t cut = 0; cut < l1; cut += 97) {
    if (nm_classify_load(b1, cut, &bad, &err) == NM_OK) nm_classify_free(&bad);
  }
  unsigned char *flip = malloc(l1);
  for (size_t pos = 0; pos < l1; pos += 13) {
    memcpy(flip, b1, l1);
    flip[pos] ^= 0x5a;
    if (nm_classify_load(flip, l1, &bad, &err) == NM_OK) {
      nm_classify_predict(&bad, x, d, &cls, &err);
      nm_classify_free(&bad);
    }
  }
  free(flip);
  int one[178] = {0};
  CHECK(nm_classify_train(x, n, d, one, 1, names, 1, &o, &bad, NULL, &err) == NM_ERR_ARG);
  o.test = 1.5;
  CHECK(nm_classify_train(x, n, d, y, 3, names, 1, &o, &bad, NULL, &err) == NM_ERR_ARG);

  free(b1);
  free(b2);
  free(b3);
  nm_classify_free(&m);
  nm_classify_free(&m2);
  nm_classify_free(&back);
  free(x);
  free(y);
  return check_summary("test_classify");
}
