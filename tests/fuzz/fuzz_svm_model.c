/*
** fuzz_svm_model.c — libFuzzer target for nm_classify_load (the SVM
** classifier BLOB: standardisation, class names, report, libsvm model).
**
** A model that loads must: predict a class in range for a row of zeros and a
** row of large values (libsvm walks the support vectors and the per-class
** counts the loader accepted), print its report, save, load back and save to
** the same bytes; and when the saved BLOB is as long as the input, be the
** input bit for bit (classify.h promises save(load(b)) == b).
** Seeds: small linear and RBF classifiers trained with nm_classify_train.
*/
#include "fuzz_util.h"

#include <math.h>

#include "../../ext/classify.h"

static void check_loaded(nm_classifier *m, const uint8_t *b, size_t n) {
  FUZZ_REQUIRE(m->d >= 1 && m->n_classes >= 2 && m->svm != NULL);
  nm_error err = {0};
  double *row = calloc((size_t)m->d, sizeof *row);
  FUZZ_REQUIRE(row != NULL);
  for (int pass = 0; pass < 2; pass++) {
    if (pass) for (int j = 0; j < m->d; j++) row[j] = 1e6 * (j % 2 ? -1 : 1);
    int cls = -1;
    nm_status st = nm_classify_predict(m, row, m->d, &cls, &err);
    if (st == NM_OK) FUZZ_REQUIRE(cls >= 0 && cls < m->n_classes);
    else FUZZ_FAILED_WITH_MESSAGE(st, err);
  }
  free(row);
  char *json = NULL;
  nm_status st = nm_classify_report_json(m, &json, &err);
  if (st == NM_OK) FUZZ_REQUIRE(json && json[0] == '{');
  else FUZZ_FAILED_WITH_MESSAGE(st, err);
  free(json);
  unsigned char *b2 = NULL, *b3 = NULL;
  size_t n2 = 0, n3 = 0;
  FUZZ_REQUIRE(nm_classify_save(m, &b2, &n2, &err) == NM_OK);
  nm_classifier back;
  st = nm_classify_load(b2, n2, &back, &err);
  if (st != NM_OK) fprintf(stderr, "reload: %s\n", err.msg);
  FUZZ_REQUIRE(st == NM_OK);
  FUZZ_REQUIRE(nm_classify_save(&back, &b3, &n3, &err) == NM_OK);
  FUZZ_REQUIRE(n2 == n3 && memcmp(b2, b3, n2) == 0);
  /* Only class names can shrink (text after an embedded NUL is dropped). */
  FUZZ_REQUIRE(n2 <= n);
  if (n2 == n) FUZZ_REQUIRE(memcmp(b, b2, n) == 0);
  nm_classify_free(&back);
  free(b2);
  free(b3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nm_classifier m;
  nm_error err = {0};
  nm_status st = nm_classify_load(data, size, &m, &err);
  if (st != NM_OK) {
    FUZZ_FAILED_WITH_MESSAGE(st, err);
    return 0;
  }
  check_loaded(&m, data, size);
  nm_classify_free(&m);
  return 0;
}

/* Three well separated blobs in d dimensions, rows per class = per. */
static void write_seeds(void) {
  static const char *const names[] = {"cube", "rod", "plate"};
  static const char *const ints[] = {"1", "2", "3"};
  for (int v = 0; v < 4; v++) {
    int d = v < 2 ? 2 : 3 + v, nc = v == 3 ? 2 : 3, per = 12;
    size_t n = (size_t)nc * per;
    double *x = malloc(n * d * sizeof *x);
    int *y = malloc(n * sizeof *y);
    if (!x || !y) return;
    for (size_t i = 0; i < n; i++) {
      y[i] = (int)(i % nc);
      for (int j = 0; j < d; j++)
        x[i * d + j] = 3.0 * y[i] * (j == y[i] % d) + 0.1 * (double)((i * 31 + j * 7) % 11);
    }
    nm_classify_opts o;
    nm_classify_opts_default(&o);
    o.kernel = v % 2 ? NM_SVM_LINEAR : NM_SVM_RBF;
    o.folds = v == 2 ? 3 : 0; /* one seed with a searched grid */
    o.n_c = v == 2 ? 2 : 1;
    o.n_gamma = 1;
    o.seed = 5;
    nm_classifier m;
    nm_error err = {0};
    if (nm_classify_train(x, n, d, y, nc, v == 1 ? ints : names, v == 1, &o, &m, NULL, &err) ==
        NM_OK) {
      unsigned char *b = NULL;
      size_t len = 0;
      if (nm_classify_save(&m, &b, &len, &err) == NM_OK) {
        char name[32];
        snprintf(name, sizeof name, "svm-%d.nms", v);
        fuzz_write_seed(name, b, len);
        free(b);
      }
      nm_classify_free(&m);
    } else {
      fprintf(stderr, "svm seed %d: %s\n", v, err.msg);
    }
    free(x);
    free(y);
  }
}

NM_FUZZ_INIT(write_seeds)
