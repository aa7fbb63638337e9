/*
** classify.h — the shape-group classifier: a multiclass C-SVM from libsvm
** (one-vs-one, RBF or linear kernel), never a hand-written SVM.
**
** Training (nm_classify_train):
**   1. stratified hold-out: in each class, rows are shuffled with the seed and
**      round(test * count) of them are held out (default 20 %);
**   2. the features are z-scored with the TRAINING rows' mean and SD (kept in
**      the model, so new rows are scaled the same way);
**   3. grid search: every (C, gamma) of the grid is scored by libsvm's own
**      k-fold cross-validation (svm_cross_validation, stratified) on the
**      training rows; rand() is reseeded with the seed before each grid point,
**      so each point sees the folds `svm-train -v k` would see with srand(seed)
**      (svm-train never calls srand: seed 1 reproduces it). Highest CV
**      accuracy wins; ties go to the earlier grid point (smaller C, then
**      smaller gamma);
**   4. the final model is trained on all training rows and scored on the
**      held-out rows: accuracy and confusion matrix (rows = true class,
**      columns = predicted class).
**
** libsvm traps handled here: its print function is replaced by a silent one;
** rand() (cross-validation shuffles) is process-global, so every libsvm call
** runs under one mutex with srand(seed) first; a freshly trained model
** points into the training problem, so it is serialised before the problem
** is freed and the kept model is the one read back from those bytes; libsvm
** saves only to file names (and calls setlocale there), so the model is
** (de)serialised here into a byte buffer: doubles as their IEEE-754 bits,
** little-endian, so save(load(b)) == b bit for bit.
**
** Interrupts are checked between grid points and folds of work that libsvm
** runs as one call; libsvm itself has no cancellation hook.
*/
#ifndef NM_CLASSIFY_H
#define NM_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

#include "cluster.h"

#define NM_CLASSIFY_VERSION 1
#define NM_CLASSIFY_MAX_GRID 32
#define NM_CLASSIFY_MAX_CLASSES 1000

typedef enum nm_svm_kernel { NM_SVM_RBF = 0, NM_SVM_LINEAR = 1 } nm_svm_kernel;

typedef struct nm_classify_opts {
  nm_svm_kernel kernel; /* default RBF */
  int folds;            /* cross-validation folds (default 10; < 2 = no search) */
  double test;          /* held-out fraction, 0 <= test < 1 (default 0.2) */
  uint64_t seed;        /* default 1 */
  int n_c, n_gamma;     /* grid sizes */
  double c[NM_CLASSIFY_MAX_GRID];     /* default 0.1 1 10 100 */
  double gamma[NM_CLASSIFY_MAX_GRID]; /* default 0.01 0.1 1 (RBF only) */
  double cache_mb;      /* libsvm kernel cache (default 100) */
  double eps;           /* libsvm stopping tolerance (default 1e-3) */
} nm_classify_opts;

void nm_classify_opts_default(nm_classify_opts *o);

typedef struct nm_classify_grid_point {
  double c, gamma, cv_accuracy;
} nm_classify_grid_point;

struct svm_model;

typedef struct nm_classifier {
  int d;
  nm_standardize scale;
  int n_classes;
  char **class_names;   /* n_classes strings */
  int names_are_integers;
  nm_svm_kernel kernel;
  double c, gamma;      /* chosen */
  int folds;
  double test_fraction;
  uint64_t seed;
  double cv_accuracy;   /* of the chosen point (NAN without search) */
  double test_accuracy; /* NAN without held-out rows */
  int n_train, n_test;
  int *confusion;       /* n_classes x n_classes, true x predicted */
  int n_grid;
  nm_classify_grid_point *grid;
  struct svm_model *svm;
} nm_classifier;

/*
** x: n rows of d raw features; y: class index 0..n_classes-1 of each row;
** names: the class names (copied); names_are_integers tells the SQL layer
** to give predictions back as integers.
*/
nm_status nm_classify_train(const double *x, size_t n, int d, const int *y, int n_classes,
                            const char *const *names, int names_are_integers,
                            const nm_classify_opts *opts, nm_classifier *out,
                            const nm_progress *progress, nm_error *err);

/* Class index of one raw (unscaled) row of d features. */
nm_status nm_classify_predict(const nm_classifier *m, const double *row, int d, int *cls,
                              nm_error *err);

void nm_classify_free(nm_classifier *m);

/* Model bytes: "NMSVM" magic, version, standardisation, classes, report,
** libsvm model. *buf is malloc'd. */
nm_status nm_classify_save(const nm_classifier *m, unsigned char **buf, size_t *len,
                           nm_error *err);
/* Refuses foreign, truncated or corrupt bytes with a clear error. */
nm_status nm_classify_load(const void *buf, size_t len, nm_classifier *out, nm_error *err);

/* The report as JSON text (malloc'd): kind, version, features, classes,
** kernel, chosen C and gamma, CV and test accuracy, confusion matrix, grid. */
nm_status nm_classify_report_json(const nm_classifier *m, char **json, nm_error *err);

/*
** libsvm's k-fold cross-validation on already scaled rows, as
** `svm-train -v folds` would run it after srand(seed): number of rows
** predicted right. For tests and the grid search.
*/
nm_status nm_classify_cv_correct(const double *x, size_t n, int d, const int *y,
                                 nm_svm_kernel kernel, double c, double gamma, int folds,
                                 uint64_t seed, size_t *correct, nm_error *err);

#endif /* NM_CLASSIFY_H */
