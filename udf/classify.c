/*
** classify.c — SQL bindings of the libsvm classifier (ext/classify.h).
**
**   -- train: aggregate; label first, then the features, options JSON last
**   CREATE TABLE clf AS SELECT svm_train(grp, p, d, lratio, area_nm2, circularity,
**          '{"cv":10,"test":0.2,"seed":1}') AS model FROM labelled;
**   SELECT svm_predict((SELECT model FROM clf), p, d, lratio, area_nm2, circularity) FROM newdata;
**   SELECT svm_report((SELECT model FROM clf));   -- accuracy, confusion, C, gamma
**
** The last argument is the options when it is TEXT starting with '{'.
** Labels may be integers (predictions come back as integers) or text
** (predictions come back as the same text). The model is a BLOB ("NMSVM"
** header) or the name of a row of nanomorph_models; it is decoded once per
** statement (sqlite3_set_auxdata).
*/
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../ext/classify.h"
#include "bind.h"
#include "register.h"

#define MAX_VALUES ((size_t)1 << 27)

static nm_status set_svm_opt(void *target, const char *key, double num, const char *text,
                             nm_error *err) {
  nm_classify_opts *o = target;
  if (!strcmp(key, "cv") || !strcmp(key, "folds")) {
    if (isnan(num) || num != floor(num) || num < 0 || num > 100)
      return nm_fail(err, NM_ERR_ARG, "option '%s' must be an integer in 0..100 (0 or 1: no search)", key);
    o->folds = (int)num;
  } else if (!strcmp(key, "test")) {
    if (!(num >= 0 && num < 1)) return nm_fail(err, NM_ERR_ARG, "option 'test' must be in [0, 1)");
    o->test = num;
  } else if (!strcmp(key, "seed")) {
    if (isnan(num) || num != floor(num) || num < 0 || num > 4294967295.0)
      return nm_fail(err, NM_ERR_ARG, "option 'seed' must be an integer in 0..4294967295");
    o->seed = (uint64_t)num;
  } else if (!strcmp(key, "kernel")) {
    if (text && !strcmp(text, "rbf")) o->kernel = NM_SVM_RBF;
    else if (text && !strcmp(text, "linear")) o->kernel = NM_SVM_LINEAR;
    else return nm_fail(err, NM_ERR_ARG, "option 'kernel' must be \"rbf\" or \"linear\"");
  } else if (!strcmp(key, "C") || !strcmp(key, "gamma")) {
    int isc = key[0] == 'C';
    double *dst = isc ? o->c : o->gamma;
    int *cnt = isc ? &o->n_c : &o->n_gamma;
    if (!isnan(num)) {
      if (!(num > 0)) return nm_fail(err, NM_ERR_ARG, "option '%s' must be > 0", key);
      dst[0] = num;
      *cnt = 1;
    } else {
      cJSON *a = text ? cJSON_Parse(text) : NULL;
      int ok = cJSON_IsArray(a) && cJSON_GetArraySize(a) >= 1 &&
               cJSON_GetArraySize(a) <= NM_CLASSIFY_MAX_GRID;
      int i = 0;
      const cJSON *e;
      if (ok) cJSON_ArrayForEach(e, a) {
          if (!cJSON_IsNumber(e) || !(e->valuedouble > 0)) ok = 0;
          else dst[i++] = e->valuedouble;
        }
      cJSON_Delete(a);
      if (!ok)
        return nm_fail(err, NM_ERR_ARG, "option '%s' must be a number > 0 or an array of 1..%d of them",
                       key, NM_CLASSIFY_MAX_GRID);
      *cnt = i;
    }
  } else if (!strcmp(key, "cache_mb")) {
    if (!(num >= 1 && num <= 65536)) return nm_fail(err, NM_ERR_ARG, "option 'cache_mb' must be in 1..65536");
    o->cache_mb = num;
  } else if (!strcmp(key, "eps")) {
    if (!(num > 0)) return nm_fail(err, NM_ERR_ARG, "option 'eps' must be > 0");
    o->eps = num;
  } else {
    return nm_fail(err, NM_ERR_ARG, "option '%s' is unknown", key);
  }
  return NM_OK;
}

typedef struct svm_acc {
  int started, d, has_opts, all_int;
  size_t n, cap;
  double *x;
  int *y;
  char **names;
  int nnames, capnames;
  char *err;
  nm_classify_opts opts;
} svm_acc;

static int is_options(sqlite3_value *v) {
  if (sqlite3_value_type(v) != SQLITE_TEXT) return 0;
  const char *t = (const char *)sqlite3_value_text(v);
  while (t && (*t == ' ' || *t == '\n' || *t == '\t' || *t == '\r')) t++;
  return t && *t == '{';
}

static int class_of(svm_acc *s, const char *name) {
  for (int i = 0; i < s->nnames; i++)
    if (!strcmp(s->names[i], name)) return i;
  if (s->nnames >= NM_CLASSIFY_MAX_CLASSES) return -1;
  if (s->nnames == s->capnames) {
    int cap = s->capnames ? s->capnames * 2 : 16;
    char **q = sqlite3_realloc64(s->names, (size_t)cap * sizeof(char *));
    if (!q) return -2;
    s->names = q;
    s->capnames = cap;
  }
  char *c = sqlite3_mprintf("%s", name);
  if (!c) return -2;
  s->names[s->nnames] = c;
  return s->nnames++;
}

static void svm_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  svm_acc *s = sqlite3_aggregate_context(ctx, sizeof *s);
  if (!s) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (s->err) return;
  if (!s->started) {
    s->started = 1;
    s->all_int = 1;
    nm_classify_opts_default(&s->opts);
    s->has_opts = argc >= 3 && is_options(argv[argc - 1]);
    s->d = argc - 1 - s->has_opts;
    if (s->d < 1) {
      s->err = sqlite3_mprintf("needs a label and at least one feature");
      return;
    }
    nm_error err = {0};
    if (s->has_opts && nm_bind_options(sqlite3_context_db_handle(ctx), argv[argc - 1], "svm_train",
                                       set_svm_opt, &s->opts, &err) != NM_OK) {
      s->err = sqlite3_mprintf("%s", err.msg);
      return;
    }
  }
  size_t row = s->n + 1;
  if ((s->n + 1) * (size_t)s->d > MAX_VALUES) {
    s->err = sqlite3_mprintf("too many values (limit %zu rows x features)", MAX_VALUES);
    return;
  }
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 256;
    double *x = sqlite3_realloc64(s->x, cap * (size_t)s->d * sizeof(double));
    if (x) s->x = x;
    int *y = x ? sqlite3_realloc64(s->y, cap * sizeof(int)) : NULL;
    if (!x || !y) {
      s->err = sqlite3_mprintf("out of memory");
      return;
    }
    s->y = y;
    s->cap = cap;
  }
  /* Label: integer (or integral real) or text. */
  int lt = sqlite3_value_type(argv[0]);
  if (lt == SQLITE_NULL) {
    s->err = sqlite3_mprintf("row %lld: the label is NULL", (long long)row);
    return;
  }
  if (lt == SQLITE_BLOB) {
    s->err = sqlite3_mprintf("row %lld: the label is a BLOB (use an integer or text)", (long long)row);
    return;
  }
  char buf[32];
  const char *name;
  if (lt == SQLITE_FLOAT) {
    double v = sqlite3_value_double(argv[0]);
    if (v != floor(v) || fabs(v) > 9e15) {
      s->err = sqlite3_mprintf("row %lld: the label %g is not an integer (use integers or text)",
                               (long long)row, v);
      return;
    }
    sqlite3_snprintf(sizeof buf, buf, "%lld", (long long)v);
    name = buf;
  } else {
    if (lt == SQLITE_TEXT) s->all_int = 0;
    name = (const char *)sqlite3_value_text(argv[0]);
  }
  for (int j = 0; j < s->d; j++) {
    sqlite3_value *v = argv[1 + j];
    int t = sqlite3_value_numeric_type(v);
    double val = sqlite3_value_double(v);
    if ((t != SQLITE_INTEGER && t != SQLITE_FLOAT) || !isfinite(val)) {
      s->err = t == SQLITE_NULL
                   ? sqlite3_mprintf("row %lld: feature %d is NULL", (long long)row, j + 1)
                   : sqlite3_mprintf("row %lld: feature %d is not a number", (long long)row, j + 1);
      return;
    }
    s->x[s->n * (size_t)s->d + j] = val;
  }
  int c = class_of(s, name);
  if (c < 0) {
    s->err = sqlite3_mprintf(c == -1 ? "more than %d classes" : "out of memory",
                             NM_CLASSIFY_MAX_CLASSES);
    return;
  }
  s->y[s->n++] = c;
}

static int cmp_names_int(const void *a, const void *b) {
  long long x = strtoll(*(char *const *)a, NULL, 10), y = strtoll(*(char *const *)b, NULL, 10);
  return x < y ? -1 : x > y;
}
static int cmp_names_text(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void svm_final(sqlite3_context *ctx) {
  const char *fname = "svm_train";
  svm_acc *s = sqlite3_aggregate_context(ctx, 0);
  if (!s) {
    nm_bind_errorf(ctx, fname, "no rows to train on");
    return;
  }
  nm_classifier m;
  memset(&m, 0, sizeof m);
  nm_error err = {0};
  char **sorted = NULL;
  int *map = NULL;
  if (s->err) {
    nm_bind_errorf(ctx, fname, "%s", s->err);
  } else if (s->n == 0) {
    nm_bind_errorf(ctx, fname, "no rows to train on");
  } else {
    /* Classes in a fixed order (numeric or text sort), whatever the row order. */
    sorted = malloc((size_t)s->nnames * sizeof(char *));
    map = malloc((size_t)s->nnames * sizeof(int));
    if (!sorted || !map) {
      sqlite3_result_error_nomem(ctx);
      goto done;
    }
    memcpy(sorted, s->names, (size_t)s->nnames * sizeof(char *));
    qsort(sorted, (size_t)s->nnames, sizeof(char *), s->all_int ? cmp_names_int : cmp_names_text);
    for (int i = 0; i < s->nnames; i++)
      for (int j = 0; j < s->nnames; j++)
        if (sorted[j] == s->names[i]) map[i] = j;
    for (size_t i = 0; i < s->n; i++) s->y[i] = map[s->y[i]];
    nm_bind_progress prog;
    nm_bind_progress_begin(&prog, sqlite3_context_db_handle(ctx), fname);
    nm_status st = nm_classify_train(s->x, s->n, s->d, s->y, s->nnames,
                                     (const char *const *)sorted, s->all_int, &s->opts, &m,
                                     &prog.progress, &err);
    nm_bind_progress_end(&prog);
    unsigned char *bytes = NULL;
    size_t len = 0;
    if (st == NM_OK) st = nm_classify_save(&m, &bytes, &len, &err);
    if (st != NM_OK) nm_bind_error(ctx, fname, &err);
    else sqlite3_result_blob64(ctx, bytes, len, SQLITE_TRANSIENT);
    free(bytes);
    nm_classify_free(&m);
  }
done:
  free(sorted);
  free(map);
  sqlite3_free(s->x);
  sqlite3_free(s->y);
  for (int i = 0; i < s->nnames; i++) sqlite3_free(s->names[i]);
  sqlite3_free(s->names);
  sqlite3_free(s->err);
}

static void classifier_destroy(void *p) {
  nm_classify_free(p);
  sqlite3_free(p);
}

static void *decode_classifier(const void *bytes, size_t n, nm_error *err) {
  nm_classifier *m = sqlite3_malloc(sizeof *m);
  if (!m) {
    nm_fail(err, NM_ERR_NOMEM, "out of memory");
    return NULL;
  }
  if (nm_classify_load(bytes, n, m, err) != NM_OK) {
    sqlite3_free(m);
    return NULL;
  }
  return m;
}

static nm_classifier *get_classifier(sqlite3_context *ctx, sqlite3_value *arg, const char *fname) {
  return nm_bind_cached_model(ctx, 0, arg, fname, decode_classifier, classifier_destroy);
}

static void svm_predict_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const char *fname = "svm_predict";
  if (argc < 2) {
    nm_bind_errorf(ctx, fname, "needs a model and at least one feature");
    return;
  }
  nm_classifier *m = get_classifier(ctx, argv[0], fname);
  if (!m) return;
  int d = argc - 1;
  if (d != m->d) {
    nm_bind_errorf(ctx, fname, "the model was trained on %d features, got %d", m->d, d);
    return;
  }
  double row[NM_CLUSTER_MAX_FEATURES];
  for (int j = 0; j < d; j++) {
    int t = sqlite3_value_numeric_type(argv[1 + j]);
    row[j] = sqlite3_value_double(argv[1 + j]);
    if (t == SQLITE_NULL) {
      nm_bind_errorf(ctx, fname, "feature %d is NULL", j + 1);
      return;
    }
    if ((t != SQLITE_INTEGER && t != SQLITE_FLOAT) || !isfinite(row[j])) {
      nm_bind_errorf(ctx, fname, "feature %d is not a number", j + 1);
      return;
    }
  }
  nm_error err = {0};
  int cls;
  if (nm_classify_predict(m, row, d, &cls, &err) != NM_OK) {
    nm_bind_error(ctx, fname, &err);
    return;
  }
  if (m->names_are_integers)
    sqlite3_result_int64(ctx, strtoll(m->class_names[cls], NULL, 10));
  else
    sqlite3_result_text(ctx, m->class_names[cls], -1, SQLITE_TRANSIENT);
}

/* Shared with model_info() in udf/cluster.c. */
int nm_classify_info_json(sqlite3_context *ctx, const void *bytes, int n) {
  nm_classifier m;
  nm_error err = {0};
  char *json = NULL;
  if (nm_classify_load(bytes, (size_t)n, &m, &err) != NM_OK) {
    nm_bind_error(ctx, "model_info", &err);
    return 1;
  }
  if (nm_classify_report_json(&m, &json, &err) != NM_OK) nm_bind_error(ctx, "model_info", &err);
  else sqlite3_result_text(ctx, json, -1, SQLITE_TRANSIENT);
  free(json);
  nm_classify_free(&m);
  return 0;
}

static void svm_report_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  const char *fname = "svm_report";
  nm_classifier *m = get_classifier(ctx, argv[0], fname);
  if (!m) return;
  nm_error err = {0};
  char *json = NULL;
  if (nm_classify_report_json(m, &json, &err) != NM_OK) nm_bind_error(ctx, fname, &err);
  else sqlite3_result_text(ctx, json, -1, SQLITE_TRANSIENT);
  free(json);
}

int nm_register_classify(sqlite3 *db, char **pzErrMsg) {
  (void)pzErrMsg;
  int rc = sqlite3_create_function(db, "svm_train", -1, NM_PURE, NULL, NULL, svm_step, svm_final);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_function(db, "svm_predict", -1, NM_PURE, NULL, svm_predict_func, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_function(db, "svm_report", 1, NM_PURE, NULL, svm_report_func, NULL, NULL);
  return rc;
}
