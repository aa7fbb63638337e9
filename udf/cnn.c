/*
** udf/cnn.c — SQL functions of the shape CNN (engine: ext/cnn.h).
**
**   -- train: an aggregate over crop PNGs and their true triplets → model BLOB
**   INSERT INTO nanomorph_models(name, kind, model)
**     SELECT 'shape-v1', 'cnn',
**            cnn_train(image, p, d, lratio, '{"epochs":30,"seed":1}', split)
**     FROM sim WHERE split IN ('train', 'val');
**   -- one crop → '{"p":..,"d":..,"lratio":..}' (built-in weights by default)
**   SELECT cnn_predict(crop) FROM particle LIMIT 5;
**   SELECT cnn_predict(crop, 'shape-v1') FROM particle;
**   -- diagnostics on a test split: RMSE per parameter, RMSE by true p,
**   -- Q–Q of d, d by true d (JSON the figure functions can draw)
**   SELECT cnn_eval('shape-v1', image, p, d, lratio) FROM sim WHERE split = 'test';
**   -- the training report of a model: learning curve and settings
**   SELECT cnn_report('shape-v1');  SELECT cnn_report();   -- built-in model
**
** Every model argument is a model BLOB or the name of a row of
** nanomorph_models (kind 'cnn'); the name 'default', when no such row exists,
** is the built-in model. A model is decoded once per statement
** (sqlite3_set_auxdata) — never once per row.
**
** cnn_train options (JSON object; unknown keys are errors):
**   epochs (30), batch (64), lr (0.002), seed (1), val_fraction (0.1),
**   patience (6), augment (true), arch (the default architecture),
**   max_seconds (0 = none).
** With the 6th argument `split`, rows whose split is 'val' are the validation
** rows and 'train' rows train (val_fraction is then unused); any other value
** is an error. Training prints a progress line on stderr when it is a
** terminal, and stops on sqlite3_interrupt (Ctrl-C) with an error and no
** result, so an INSERT writes nothing.
*/
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../ext/cnn.h"
#include "../ext/crop.h"
#include "bind.h"
#include "cnn_model.h"
#include "register.h"

/* Upper bound on training rows held in memory (4 KiB each at 64 px). */
#define TRAIN_MAX_ROWS 4000000

/* ---------------------------------------------------------------- models */

static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static nm_cnn *default_net;
static nm_error default_err;

static void load_default(void) {
  size_t n = 0;
  const uint8_t *b = nm_cnn_default_bytes(&n);
  if (!b || !n) {
    nm_fail(&default_err, NM_ERR_ARG, "this build carries no default CNN model (run `make model`)");
    return;
  }
  if (nm_cnn_load(b, n, &default_net, &default_err) != NM_OK) default_net = NULL;
}

/* The shared default model lives as long as the extension is loaded: freed
** when the library is unloaded (dlclose), so leak checkers see no leak. */
__attribute__((destructor)) static void free_default(void) {
  nm_cnn_free(default_net);
  default_net = NULL;
}

nm_status nm_cnn_bind_model(sqlite3 *db, sqlite3_value *arg, const char *fname,
                            nm_cnn **net, int *owned, nm_error *err) {
  *net = NULL;
  *owned = 0;
  int use_default = arg == NULL;
  if (!use_default && sqlite3_value_type(arg) == SQLITE_TEXT &&
      strcmp((const char *)sqlite3_value_text(arg), "default") == 0) {
    sqlite3_stmt *st = NULL;
    use_default = 1;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM nanomorph_models WHERE name = 'default'", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
      use_default = 0;
    sqlite3_finalize(st);
  }
  if (use_default) {
    pthread_once(&default_once, load_default);
    if (!default_net) {
      if (err) *err = default_err;
      return default_err.code;
    }
    *net = default_net;
    return NM_OK;
  }
  if (sqlite3_value_type(arg) == SQLITE_NULL)
    return nm_fail(err, NM_ERR_ARG, "model is NULL (expected a model BLOB or a name in nanomorph_models)");
  void *bytes = NULL;
  int n = 0;
  nm_status st = nm_bind_model_bytes(db, arg, "cnn", fname, &bytes, &n, err);
  if (st != NM_OK) return st;
  st = nm_cnn_load(bytes, (size_t)n, net, err);
  sqlite3_free(bytes);
  if (st == NM_OK) *owned = 1;
  return st;
}

/* Decodes a crop PNG into u8 (out8) or floats in [0,1] (outf). */
static nm_status decode_crop(sqlite3_value *arg, int size, uint8_t *out8, float *outf,
                             nm_error *err) {
  int type = sqlite3_value_type(arg);
  if (type == SQLITE_NULL) return nm_fail(err, NM_ERR_ARG, "crop is NULL");
  if (type != SQLITE_BLOB)
    return nm_fail(err, NM_ERR_ARG, "crop must be a crop PNG BLOB (as made by particles() or simulate())");
  nm_read_opts ro;
  nm_read_opts_default(&ro);
  ro.max_pixels = (uint64_t)size * size * 4;
  nm_image img = {0};
  nm_status st = nm_image_read_memory(sqlite3_value_blob(arg), (size_t)sqlite3_value_bytes(arg),
                                      "crop", &ro, &img, err);
  if (st != NM_OK) return st;
  if (img.width != size || img.height != size) {
    st = nm_fail(err, NM_ERR_ARG, "crop is %dx%d, the model takes %dx%d crops", img.width,
                 img.height, size, size);
  } else {
    double scale = img.sample_float ? 1.0 : 1.0 / (double)((1u << (img.bits > 16 ? 16 : img.bits)) - 1);
    size_t px = (size_t)size * size;
    for (size_t i = 0; i < px; i++) {
      double v = img.px[i] * scale;
      v = v < 0 ? 0 : v > 1 ? 1 : v;
      if (outf) outf[i] = (float)v;
      if (out8) out8[i] = (uint8_t)lround(v * 255.0);
    }
  }
  nm_image_free(&img);
  return st;
}

nm_status nm_cnn_bind_crop(sqlite3_value *arg, int size, float *out, nm_error *err) {
  return decode_crop(arg, size, NULL, out, err);
}

static void free_net(void *p) { nm_cnn_free(p); }

/* ------------------------------------------------------------- cnn_train */

typedef struct train_agg {
  int init;
  int failed;
  int has_split;
  nm_cnn_train_opts opts;
  char arch[256];
  uint8_t *img;
  float *tg;
  uint8_t *isval;
  size_t n, cap;
} train_agg;

static nm_status train_opt(void *target, const char *key, double num, const char *text,
                           nm_error *err) {
  train_agg *a = target;
  nm_cnn_train_opts *o = &a->opts;
  if (!strcmp(key, "arch")) {
    if (!text || strlen(text) >= sizeof a->arch)
      return nm_fail(err, NM_ERR_ARG, "option 'arch' must be an architecture text");
    strcpy(a->arch, text);
    o->arch = a->arch;
    return NM_OK;
  }
  if (text || !isfinite(num))
    return nm_fail(err, NM_ERR_ARG, "option '%s' must be a number", key);
  int integral = num == floor(num) && fabs(num) < 1e15;
  if (!strcmp(key, "epochs") || !strcmp(key, "batch") || !strcmp(key, "patience") ||
      !strcmp(key, "seed")) {
    if (!integral || num < 0)
      return nm_fail(err, NM_ERR_ARG, "option '%s' must be a non-negative integer", key);
    if (key[0] == 'e') o->epochs = num > 1e6 ? 1000000 : (int)num;
    else if (key[0] == 'b') o->batch = num > 1e6 ? 1000000 : (int)num;
    else if (key[0] == 'p') o->patience = num > 1e6 ? 1000000 : (int)num;
    else o->seed = (uint64_t)num;
  } else if (!strcmp(key, "lr")) {
    o->lr = num;
  } else if (!strcmp(key, "val_fraction")) {
    o->val_fraction = num;
  } else if (!strcmp(key, "augment")) {
    o->augment = num != 0;
  } else if (!strcmp(key, "max_seconds")) {
    o->max_seconds = num;
  } else {
    return nm_fail(err, NM_ERR_ARG,
                   "option '%s' is unknown (known: epochs, batch, lr, seed, val_fraction, "
                   "patience, augment, arch, max_seconds)", key);
  }
  return NM_OK;
}

static void train_free(train_agg *a) {
  free(a->img);
  free(a->tg);
  free(a->isval);
  a->img = NULL;
  a->tg = NULL;
  a->isval = NULL;
  a->n = a->cap = 0;
}

static void train_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  train_agg *a = sqlite3_aggregate_context(ctx, sizeof *a);
  if (!a) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (a->failed) return;
  nm_error err;
  nm_error_clear(&err);
  if (!a->init) {
    a->init = 1;
    nm_cnn_train_opts_default(&a->opts);
    a->has_split = argc >= 6;
    if (argc >= 5 &&
        nm_bind_options(sqlite3_context_db_handle(ctx), argv[4], "cnn_train", train_opt, a, &err) != NM_OK)
      goto fail;
    if (nm_cnn_train_opts_check(&a->opts, &err) != NM_OK) goto fail;
    nm_cnn *probe = NULL; /* refuse a bad arch before reading every row */
    if (nm_cnn_create(a->opts.arch, NM_CROP_SIZE, 0, &probe, &err) != NM_OK) goto fail;
    nm_cnn_free(probe);
  }
  size_t row = a->n + 1;
  if (a->n >= TRAIN_MAX_ROWS) {
    nm_fail(&err, NM_ERR_TOOBIG, "more than %d training rows", TRAIN_MAX_ROWS);
    goto fail;
  }
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 1024;
    size_t px = (size_t)NM_CROP_SIZE * NM_CROP_SIZE;
    uint8_t *img = realloc(a->img, cap * px);
    if (img) a->img = img;
    float *tg = realloc(a->tg, cap * 3 * sizeof(float));
    if (tg) a->tg = tg;
    uint8_t *iv = realloc(a->isval, cap);
    if (iv) a->isval = iv;
    if (!img || !tg || !iv) {
      nm_fail(&err, NM_ERR_NOMEM, "out of memory");
      goto fail;
    }
    a->cap = cap;
  }
  static const char *names[3] = {"p", "d", "lratio"};
  for (int j = 0; j < 3; j++) {
    int t = sqlite3_value_type(argv[1 + j]);
    if (t != SQLITE_INTEGER && t != SQLITE_FLOAT) {
      nm_fail(&err, NM_ERR_ARG, "row %zu: %s must be a number%s", row, names[j],
              t == SQLITE_NULL ? ", not NULL" : "");
      goto fail;
    }
    a->tg[a->n * 3 + j] = (float)sqlite3_value_double(argv[1 + j]);
  }
  a->isval[a->n] = 0;
  if (a->has_split) {
    const char *s = sqlite3_value_type(argv[5]) == SQLITE_TEXT ? (const char *)sqlite3_value_text(argv[5]) : NULL;
    if (s && !strcmp(s, "val")) a->isval[a->n] = 1;
    else if (!s || strcmp(s, "train") != 0) {
      nm_fail(&err, NM_ERR_ARG, "row %zu: split must be 'train' or 'val'", row);
      goto fail;
    }
  }
  nm_error cerr;
  if (decode_crop(argv[0], NM_CROP_SIZE, a->img + a->n * (size_t)NM_CROP_SIZE * NM_CROP_SIZE, NULL,
                  &cerr) != NM_OK) {
    nm_fail(&err, cerr.code, "row %zu: %s", row, cerr.msg);
    goto fail;
  }
  a->n++;
  return;
fail:
  a->failed = 1;
  train_free(a);
  nm_bind_error(ctx, "cnn_train", &err);
}

static void train_final(sqlite3_context *ctx) {
  train_agg *a = sqlite3_aggregate_context(ctx, 0);
  if (a && a->failed) {
    train_free(a);
    return;
  }
  if (!a || a->n == 0) {
    if (a) train_free(a);
    nm_bind_errorf(ctx, "cnn_train", "no training rows");
    return;
  }
  nm_error err;
  nm_error_clear(&err);
  nm_bind_progress pr;
  nm_bind_progress_begin(&pr, sqlite3_context_db_handle(ctx), "cnn_train");
  nm_cnn *net = NULL;
  nm_status st = nm_cnn_train(&a->opts, a->img, a->n, NM_CROP_SIZE, a->tg,
                              a->has_split ? a->isval : NULL, &pr.progress, &net, &err);
  nm_bind_progress_end(&pr);
  train_free(a);
  if (st != NM_OK) {
    nm_bind_error(ctx, "cnn_train", &err);
    return;
  }
  uint8_t *bytes = NULL;
  size_t n = 0;
  st = nm_cnn_save(net, &bytes, &n, &err);
  nm_cnn_free(net);
  if (st != NM_OK) {
    nm_bind_error(ctx, "cnn_train", &err);
    return;
  }
  sqlite3_result_blob64(ctx, bytes, n, free);
}

/* ----------------------------------------------------------- cnn_predict */

/* The model of argument `i` for this statement: cached as auxdata when the
** argument is constant; *transfer = 1 when the caller must hand it to
** sqlite3_set_auxdata after use. */
static nm_cnn *model_arg(sqlite3_context *ctx, sqlite3_value **argv, int argc, int i,
                         const char *fname, int *transfer, nm_error *err) {
  *transfer = 0;
  if (i >= argc) {
    nm_cnn *net;
    int owned;
    return nm_cnn_bind_model(sqlite3_context_db_handle(ctx), NULL, fname, &net, &owned, err) == NM_OK ? net : NULL;
  }
  nm_cnn *net = sqlite3_get_auxdata(ctx, i);
  if (net) return net;
  int owned = 0;
  if (nm_cnn_bind_model(sqlite3_context_db_handle(ctx), argv[i], fname, &net, &owned, err) != NM_OK)
    return NULL;
  *transfer = owned;
  return net;
}

static char *triplet_json(const float *t) {
  return sqlite3_mprintf("{\"p\":%.6g,\"d\":%.6g,\"lratio\":%.6g}", t[0], t[1], t[2]);
}

static void predict_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  nm_error err;
  nm_error_clear(&err);
  int transfer = 0;
  nm_cnn *net = model_arg(ctx, argv, argc, 1, "cnn_predict", &transfer, &err);
  if (!net) {
    nm_bind_error(ctx, "cnn_predict", &err);
    return;
  }
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
    sqlite3_result_null(ctx); /* no crop (e.g. a particle without one): no triplet */
  } else {
    int size = nm_cnn_input_size(net);
    float *x = malloc(sizeof(float) * (size_t)size * size), out[3];
    if (!x) {
      sqlite3_result_error_nomem(ctx);
    } else if (nm_cnn_bind_crop(argv[0], size, x, &err) != NM_OK ||
               nm_cnn_predict(net, x, 1, 1, out, &err) != NM_OK) {
      nm_bind_error(ctx, "cnn_predict", &err);
    } else {
      char *j = triplet_json(out);
      if (j) sqlite3_result_text(ctx, j, -1, sqlite3_free);
      else sqlite3_result_error_nomem(ctx);
    }
    free(x);
  }
  if (transfer) sqlite3_set_auxdata(ctx, 1, net, free_net);
}

/* ------------------------------------------------------------- cnn_eval */

#define EVAL_BATCH 256

typedef struct eval_agg {
  int init, failed, owned;
  nm_cnn *net;
  int size;
  float *x;      /* EVAL_BATCH pending crops */
  float *truth;  /* pending truths, then all */
  float *pred;
  size_t pending, n, cap;
} eval_agg;

static void eval_free(eval_agg *a) {
  if (a->owned) nm_cnn_free(a->net);
  a->net = NULL;
  free(a->x);
  free(a->truth);
  free(a->pred);
  a->x = a->truth = a->pred = NULL;
}

static nm_status eval_flush(eval_agg *a, nm_error *err) {
  if (!a->pending) return NM_OK;
  nm_status st = nm_cnn_predict(a->net, a->x, a->pending, EVAL_BATCH, a->pred + (a->n - a->pending) * 3, err);
  a->pending = 0;
  return st;
}

static void eval_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  eval_agg *a = sqlite3_aggregate_context(ctx, sizeof *a);
  if (!a) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (a->failed) return;
  nm_error err;
  nm_error_clear(&err);
  if (!a->init) {
    a->init = 1;
    if (nm_cnn_bind_model(sqlite3_context_db_handle(ctx), argv[0], "cnn_eval", &a->net, &a->owned,
                          &err) != NM_OK)
      goto fail;
    a->size = nm_cnn_input_size(a->net);
    a->x = malloc(sizeof(float) * EVAL_BATCH * (size_t)a->size * a->size);
    if (!a->x) {
      nm_fail(&err, NM_ERR_NOMEM, "out of memory");
      goto fail;
    }
  }
  size_t row = a->n + 1;
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 1024;
    float *t = realloc(a->truth, cap * 3 * sizeof(float));
    if (t) a->truth = t;
    float *p = realloc(a->pred, cap * 3 * sizeof(float));
    if (p) a->pred = p;
    if (!t || !p) {
      nm_fail(&err, NM_ERR_NOMEM, "out of memory");
      goto fail;
    }
    a->cap = cap;
  }
  static const char *names[3] = {"p", "d", "lratio"};
  for (int j = 0; j < 3; j++) {
    int t = sqlite3_value_type(argv[2 + j]);
    if (t != SQLITE_INTEGER && t != SQLITE_FLOAT) {
      nm_fail(&err, NM_ERR_ARG, "row %zu: %s must be a number%s", row, names[j],
              t == SQLITE_NULL ? ", not NULL" : "");
      goto fail;
    }
    a->truth[a->n * 3 + j] = (float)sqlite3_value_double(argv[2 + j]);
  }
  nm_error cerr;
  if (nm_cnn_bind_crop(argv[1], a->size, a->x + a->pending * (size_t)a->size * a->size, &cerr) != NM_OK) {
    nm_fail(&err, cerr.code, "row %zu: %s", row, cerr.msg);
    goto fail;
  }
  a->n++;
  a->pending++;
  if (a->pending == EVAL_BATCH && eval_flush(a, &err) != NM_OK) goto fail;
  return;
fail:
  a->failed = 1;
  eval_free(a);
  nm_bind_error(ctx, "cnn_eval", &err);
}

static void eval_final(sqlite3_context *ctx) {
  eval_agg *a = sqlite3_aggregate_context(ctx, 0);
  if (a && a->failed) {
    eval_free(a);
    return;
  }
  if (!a || a->n == 0) {
    if (a) eval_free(a);
    nm_bind_errorf(ctx, "cnn_eval", "no rows to evaluate");
    return;
  }
  nm_error err;
  nm_error_clear(&err);
  char *json = NULL;
  if (eval_flush(a, &err) != NM_OK || nm_cnn_eval_json(a->pred, a->truth, a->n, &json, &err) != NM_OK)
    nm_bind_error(ctx, "cnn_eval", &err);
  else
    sqlite3_result_text(ctx, json, -1, free);
  eval_free(a);
}

/* ------------------------------------------------------------ cnn_report */

static void report_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  nm_error err;
  nm_error_clear(&err);
  int transfer = 0;
  nm_cnn *net = model_arg(ctx, argv, argc, 0, "cnn_report", &transfer, &err);
  if (!net) {
    nm_bind_error(ctx, "cnn_report", &err);
    return;
  }
  sqlite3_result_text(ctx, nm_cnn_report(net), -1, SQLITE_TRANSIENT);
  if (transfer) sqlite3_set_auxdata(ctx, 0, net, free_net);
}

int nm_register_cnn(sqlite3 *db, char **pzErrMsg) {
  (void)pzErrMsg;
  /* Not DETERMINISTIC: a model name reads nanomorph_models, whose rows change. */
  const int flags = SQLITE_UTF8 | SQLITE_INNOCUOUS;
  int rc = SQLITE_OK;
  for (int n = 4; n <= 6 && rc == SQLITE_OK; n++)
    rc = sqlite3_create_function(db, "cnn_train", n, SQLITE_UTF8, NULL, NULL, train_step, train_final);
  for (int n = 1; n <= 2 && rc == SQLITE_OK; n++)
    rc = sqlite3_create_function(db, "cnn_predict", n, flags, NULL, predict_func, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_function(db, "cnn_eval", 5, flags, NULL, NULL, eval_step, eval_final);
  for (int n = 0; n <= 1 && rc == SQLITE_OK; n++)
    rc = sqlite3_create_function(db, "cnn_report", n, flags, NULL, report_func, NULL, NULL);
  return rc;
}
