/*
** cluster.c — SQL bindings of the shape-group engine (ext/kmeans, gmm,
** linkage, silhouette, clmodel, clcompare).
**
**   -- fit: an aggregate over the rows, returns the model as JSON text
**   CREATE TABLE km AS SELECT kmeans_fit('{"k":"auto","k_max":12,"seed":1}',
**          p, d, lratio, area_nm2, circularity) AS model FROM feat;
**   SELECT json_extract(model, '$.k'), model_info(model) FROM km;
**   -- label: row by row, group numbers 1..K
**   SELECT kmeans_label((SELECT model FROM km), p, d, lratio, area_nm2, circularity) FROM feat;
**   SELECT gmm_label(m, x...), gmm_posterior(m, x...), hclust_label(m, x...) ...;
**   -- the paper's Tables S8/S9
**   SELECT cluster_compare('{"triplet":[0,1,2]}', p, d, lratio, area_nm2, circularity) FROM feat;
**   SELECT adjusted_rand(truth, grp) FROM t;
**
** Models are JSON text (kind, version, n_features, standardisation, ...: see
** ext/clmodel.h) so json_extract works on them; a model argument may also be
** the name of a row of nanomorph_models. The decoded model is cached per
** statement with sqlite3_set_auxdata. Fit aggregates collect the rows in
** xStep and free them in xFinal, which SQLite calls even when the statement
** fails.
*/
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../ext/clcompare.h"
#include "../ext/clmodel.h"
#include "../ext/gmm.h"
#include "../ext/kmeans.h"
#include "../ext/linkage.h"
#include "../ext/silhouette.h"
#include "bind.h"
#include "register.h"

/* Rows x features are capped before growing the buffer (2^27 doubles, 1 GiB). */
#define MAX_VALUES ((size_t)1 << 27)

enum { F_KMEANS = 0, F_GMM = 1, F_HCLUST = 2, F_COMPARE = 3 };
static const char *const fit_names[] = {"kmeans_fit", "gmm_fit", "hclust_fit", "cluster_compare"};

typedef struct fit_opts {
  int fn;
  int k; /* 0 = auto */
  int k_min, k_max;
  int standardize;
  nm_kmeans_opts km;
  nm_gmm_opts gm;
  nm_silhouette_opts sil;
  nm_linkage_method linkage;
  size_t max_rows;
  nm_compare_opts cmp;
} fit_opts;

static nm_status int_opt(const char *key, double num, double lo, double hi, int *out,
                         nm_error *err) {
  if (isnan(num) || num != floor(num) || num < lo || num > hi)
    return nm_fail(err, NM_ERR_ARG, "option '%s' must be an integer in %g..%g", key, lo, hi);
  *out = (int)num;
  return NM_OK;
}

static nm_status parse_list(const char *key, const char *text, cJSON **out, nm_error *err) {
  *out = text ? cJSON_Parse(text) : NULL;
  if (!*out || !cJSON_IsArray(*out)) {
    cJSON_Delete(*out);
    *out = NULL;
    return nm_fail(err, NM_ERR_ARG, "option '%s' must be a JSON array", key);
  }
  return NM_OK;
}

static nm_status set_fit_opt(void *target, const char *key, double num, const char *text,
                             nm_error *err) {
  fit_opts *o = target;
  int v = 0;
  nm_status st = NM_OK;
  if (!strcmp(key, "k") && o->fn != F_COMPARE) {
    if (text && !strcmp(text, "auto")) o->k = 0;
    else st = int_opt(key, num, 1, NM_CLUSTER_MAX_K, &o->k, err);
    if (st != NM_OK) return nm_fail(err, NM_ERR_ARG, "option 'k' must be \"auto\" or an integer in 1..%d", NM_CLUSTER_MAX_K);
  } else if (!strcmp(key, "k_min")) {
    st = int_opt(key, num, 2, NM_CLUSTER_MAX_K, &o->k_min, err);
  } else if (!strcmp(key, "k_max")) {
    st = int_opt(key, num, 2, NM_CLUSTER_MAX_K, &o->k_max, err);
  } else if (!strcmp(key, "seed")) {
    if (isnan(num) || num != floor(num) || num < 0 || num > 9007199254740992.0)
      return nm_fail(err, NM_ERR_ARG, "option 'seed' must be a non-negative integer");
    o->km.seed = o->gm.seed = o->sil.seed = (uint64_t)num;
  } else if (!strcmp(key, "standardize") && o->fn != F_COMPARE) {
    if (isnan(num)) return nm_fail(err, NM_ERR_ARG, "option 'standardize' must be true or false");
    o->standardize = num != 0;
  } else if (!strcmp(key, "silhouette_exact_max")) {
    st = int_opt(key, num, 2, 1e9, &v, err);
    o->sil.exact_max = (size_t)v;
  } else if (!strcmp(key, "silhouette_sample")) {
    st = int_opt(key, num, 10, 1e9, &v, err);
    o->sil.sample = (size_t)v;
  } else if (!strcmp(key, "n_init") && o->fn != F_HCLUST) {
    st = int_opt(key, num, 1, 1000, &v, err);
    o->km.n_init = o->gm.n_init = v;
  } else if (!strcmp(key, "max_iter") && o->fn != F_HCLUST) {
    st = int_opt(key, num, 1, 100000, &v, err);
    o->km.max_iter = o->gm.max_iter = v;
  } else if (!strcmp(key, "tol") && o->fn != F_HCLUST) {
    if (!(num >= 0)) return nm_fail(err, NM_ERR_ARG, "option 'tol' must be a number >= 0");
    o->km.tol = o->gm.tol = num;
  } else if (!strcmp(key, "reg") && (o->fn == F_GMM || o->fn == F_COMPARE)) {
    if (!(num >= 0)) return nm_fail(err, NM_ERR_ARG, "option 'reg' must be a number >= 0");
    o->gm.reg = num;
  } else if (!strcmp(key, "covariance") && (o->fn == F_GMM || o->fn == F_COMPARE)) {
    if (text && !strcmp(text, "full")) o->gm.cov = NM_GMM_FULL;
    else if (text && !strcmp(text, "diag")) o->gm.cov = NM_GMM_DIAG;
    else return nm_fail(err, NM_ERR_ARG, "option 'covariance' must be \"full\" or \"diag\"");
  } else if (!strcmp(key, "linkage") && (o->fn == F_HCLUST || o->fn == F_COMPARE)) {
    int m = nm_linkage_parse(text);
    if (m < 0)
      return nm_fail(err, NM_ERR_ARG,
                     "option 'linkage' must be \"ward\", \"average\", \"complete\" or \"single\"");
    o->linkage = (nm_linkage_method)m;
  } else if (!strcmp(key, "max_rows") && (o->fn == F_HCLUST || o->fn == F_COMPARE)) {
    st = int_opt(key, num, 2, 1e6, &v, err);
    o->max_rows = (size_t)v;
  } else if (!strcmp(key, "triplet") && o->fn == F_COMPARE) {
    cJSON *a;
    if ((st = parse_list(key, text, &a, err)) != NM_OK) return st;
    o->cmp.n_triplet = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) {
      if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) || e->valuedouble < 0 ||
          e->valuedouble >= NM_CLUSTER_MAX_FEATURES || o->cmp.n_triplet >= NM_CLUSTER_MAX_FEATURES) {
        cJSON_Delete(a);
        return nm_fail(err, NM_ERR_ARG, "option 'triplet' must list 0-based column numbers");
      }
      o->cmp.triplet[o->cmp.n_triplet++] = (int)e->valuedouble;
    }
    cJSON_Delete(a);
  } else if ((!strcmp(key, "methods") || !strcmp(key, "datasets")) && o->fn == F_COMPARE) {
    int is_m = key[0] == 'm';
    static const char *const mn[] = {"kmeans", "gmm", "hclust"};
    static const char *const dn[] = {"features", "triplet", "both"};
    cJSON *a;
    if ((st = parse_list(key, text, &a, err)) != NM_OK) return st;
    int bits = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) {
      int found = -1;
      for (int i = 0; i < 3; i++)
        if (cJSON_IsString(e) && !strcmp(e->valuestring, is_m ? mn[i] : dn[i])) found = i;
      if (found < 0) {
        cJSON_Delete(a);
        return nm_fail(err, NM_ERR_ARG,
                       is_m ? "option 'methods' takes \"kmeans\", \"gmm\", \"hclust\""
                            : "option 'datasets' takes \"features\", \"triplet\", \"both\"");
      }
      bits |= 1 << found;
    }
    cJSON_Delete(a);
    if (!bits) return nm_fail(err, NM_ERR_ARG, "option '%s' is empty", key);
    if (is_m) o->cmp.methods = bits;
    else o->cmp.datasets = bits;
  } else {
    return nm_fail(err, NM_ERR_ARG, "option '%s' is unknown", key);
  }
  return st;
}

static void fit_opts_default(fit_opts *o, int fn) {
  memset(o, 0, sizeof *o);
  o->fn = fn;
  o->k = 0;
  o->k_min = 2;
  o->k_max = 12;
  o->standardize = 1;
  nm_kmeans_opts_default(&o->km);
  nm_gmm_opts_default(&o->gm);
  nm_silhouette_opts_default(&o->sil);
  o->linkage = NM_LINK_WARD;
  o->max_rows = NM_LINKAGE_MAX_ROWS;
  nm_compare_opts_default(&o->cmp);
}

/* The aggregate's state (zeroed by sqlite3_aggregate_context). */
typedef struct fit_acc {
  int started;
  int d;
  size_t n, cap;
  double *x;
  char *err; /* first error, reported by xFinal */
  fit_opts opts;
} fit_acc;

/* A feature value: INTEGER/REAL, or TEXT that reads as a number. */
static int feature_value(sqlite3_value *v, double *out) {
  int t = sqlite3_value_numeric_type(v);
  if (t == SQLITE_INTEGER || t == SQLITE_FLOAT) {
    *out = sqlite3_value_double(v);
    return isfinite(*out) ? SQLITE_OK : SQLITE_MISMATCH;
  }
  return t;
}

/* Reads n feature args into row; on failure returns a sqlite3_malloc'd message. */
static char *read_features(sqlite3_value **argv, int nf, double *row, size_t rowno) {
  for (int j = 0; j < nf; j++) {
    int t = feature_value(argv[j], &row[j]);
    if (t == SQLITE_OK) continue;
    char where[48] = "";
    if (rowno) sqlite3_snprintf(sizeof where, where, "row %lld: ", (long long)rowno);
    if (t == SQLITE_NULL) return sqlite3_mprintf("%sfeature %d is NULL", where, j + 1);
    if (t == SQLITE_MISMATCH) return sqlite3_mprintf("%sfeature %d is not finite", where, j + 1);
    if (t == SQLITE_BLOB) return sqlite3_mprintf("%sfeature %d is a BLOB, not a number", where, j + 1);
    return sqlite3_mprintf("%sfeature %d is not a number ('%.40s')", where, j + 1,
                           (const char *)sqlite3_value_text(argv[j]));
  }
  return NULL;
}

static void fit_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  int fn = (int)(intptr_t)sqlite3_user_data(ctx);
  fit_acc *a = sqlite3_aggregate_context(ctx, sizeof *a);
  if (!a) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (a->err) return;
  if (!a->started) {
    a->started = 1;
    a->d = argc - 1;
    fit_opts_default(&a->opts, fn);
    nm_error err = {0};
    if (nm_bind_options(sqlite3_context_db_handle(ctx), argv[0], fit_names[fn], set_fit_opt,
                        &a->opts, &err) != NM_OK) {
      a->err = sqlite3_mprintf("%s", err.msg);
      return;
    }
    if (a->d < 1) {
      a->err = sqlite3_mprintf("needs at least one feature after the options");
      return;
    }
  }
  if ((a->n + 1) * (size_t)a->d > MAX_VALUES) {
    a->err = sqlite3_mprintf("too many values (limit %zu rows x features)", MAX_VALUES);
    return;
  }
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 256;
    double *x = sqlite3_realloc64(a->x, cap * (size_t)a->d * sizeof(double));
    if (!x) {
      a->err = sqlite3_mprintf("out of memory");
      return;
    }
    a->x = x;
    a->cap = cap;
  }
  a->err = read_features(argv + 1, a->d, a->x + a->n * (size_t)a->d, a->n + 1);
  if (!a->err) a->n++;
}

static void fit_acc_free(fit_acc *a) {
  sqlite3_free(a->x);
  sqlite3_free(a->err);
  a->x = NULL;
  a->err = NULL;
}

static void identity_scale(nm_standardize *s, int d, nm_error *err) {
  s->d = d;
  s->mean = nm_calloc((size_t)d, sizeof(double), err);
  s->sd = nm_malloc((size_t)d, sizeof(double), err);
  if (s->sd)
    for (int j = 0; j < d; j++) s->sd[j] = 1;
}

static void fit_final(sqlite3_context *ctx) {
  int fn = (int)(intptr_t)sqlite3_user_data(ctx);
  const char *fname = fit_names[fn];
  fit_acc *a = sqlite3_aggregate_context(ctx, 0);
  if (!a || a->n == 0) {
    if (a && a->err) nm_bind_errorf(ctx, fname, "%s", a->err);
    else nm_bind_errorf(ctx, fname, "no rows to cluster");
    if (a) fit_acc_free(a);
    return;
  }
  if (a->err) {
    nm_bind_errorf(ctx, fname, "%s", a->err);
    fit_acc_free(a);
    return;
  }
  fit_opts *o = &a->opts;
  nm_error err = {0};
  nm_status st = NM_OK;
  nm_bind_progress prog;
  nm_bind_progress_begin(&prog, sqlite3_context_db_handle(ctx), fname);
  size_t n = a->n;
  int d = a->d;
  char *json = NULL;
  nm_standardize scale = {0};
  nm_silhouette_result *sr = NULL;
  double *sil = NULL, *inert = NULL, *cent = NULL;
  int *labels = NULL;
  nm_kmeans_result km = {0};
  nm_gmm_model gm = {0};
  nm_merge *tree = NULL;

  if (fn == F_COMPARE) {
    o->cmp.k_min = o->k_min;
    o->cmp.k_max = o->k_max;
    o->cmp.linkage = o->linkage;
    o->cmp.max_rows = o->max_rows;
    o->cmp.km = o->km;
    o->cmp.gm = o->gm;
    o->cmp.sil = o->sil;
    st = nm_cluster_compare(a->x, n, d, &o->cmp, &json, &prog.progress, &err);
    goto finish;
  }
  if (o->k_max < o->k_min) {
    st = nm_fail(&err, NM_ERR_ARG, "k_max (%d) is below k_min (%d)", o->k_max, o->k_min);
    goto finish;
  }
  if (o->k && (size_t)o->k > n) {
    st = nm_fail(&err, NM_ERR_ARG, "k = %d needs at least %d rows, got %zu", o->k, o->k, n);
    goto finish;
  }
  if (!o->k && n < (size_t)o->k_max + 1) {
    st = nm_fail(&err, NM_ERR_ARG,
                 "choosing K up to k_max = %d needs at least %d rows, got %zu (lower k_max or give k)",
                 o->k_max, o->k_max + 1, n);
    goto finish;
  }
  if (o->standardize) {
    st = nm_standardize_fit(a->x, n, d, &scale, &err);
    if (st != NM_OK) goto finish;
    nm_standardize_apply(&scale, a->x, n);
  } else {
    identity_scale(&scale, d, &err);
    if (!scale.mean || !scale.sd) {
      st = NM_ERR_NOMEM;
      goto finish;
    }
  }
  int nk = o->k ? 0 : o->k_max - o->k_min + 1;
  sr = calloc((size_t)nk + 1, sizeof *sr);
  sil = calloc((size_t)nk + 1, sizeof(double));
  inert = calloc((size_t)nk + 1, sizeof(double));
  if (!sr || !sil || !inert) {
    st = nm_fail(&err, NM_ERR_NOMEM, "out of memory");
    goto finish;
  }
  nm_clmodel_fit f = {0};
  f.kind = (nm_clmodel_kind)fn;
  f.d = d;
  f.n = n;
  f.scale = &scale;
  f.k_auto = o->k == 0;
  f.k_min = o->k_min;
  f.n_by_k = nk;
  f.sil_by_k = sil;
  f.seed = o->km.seed;
  nm_silhouette_result chosen = {0};
  chosen.mean = NAN;
  if (fn == F_KMEANS) {
    if (o->k) {
      st = nm_kmeans_fit(a->x, n, d, o->k, &o->km, 1, &km, &prog.progress, &err);
      if (st == NM_OK && o->k >= 2 && (size_t)o->k < n)
        st = nm_silhouette(a->x, n, d, km.labels, o->k, &o->sil, &chosen, &prog.progress, &err);
    } else {
      st = nm_kmeans_auto(a->x, n, d, o->k_min, o->k_max, &o->km, &o->sil, &km, sr, inert,
                          &prog.progress, &err);
      if (st == NM_OK) chosen = sr[km.k - o->k_min];
    }
    if (st != NM_OK) goto finish;
    f.k = km.k;
    f.centroids = km.centroids;
    f.labels = km.labels;
    f.inertia = km.inertia;
    f.inertia_by_k = nk ? inert : NULL;
  } else if (fn == F_GMM) {
    if (o->k) {
      st = nm_gmm_fit(a->x, n, d, o->k, &o->gm, 1, &gm, &prog.progress, &err);
      if (st == NM_OK && o->k >= 2 && (size_t)o->k < n) {
        int *canon = malloc(n * sizeof(int));
        if (!canon) {
          st = nm_fail(&err, NM_ERR_NOMEM, "out of memory");
          goto finish;
        }
        memcpy(canon, gm.labels, n * sizeof(int));
        int used = nm_labels_canonical(canon, n);
        if (used >= 2)
          st = nm_silhouette(a->x, n, d, canon, used, &o->sil, &chosen, &prog.progress, &err);
        free(canon);
      }
    } else {
      st = nm_gmm_auto(a->x, n, d, o->k_min, o->k_max, &o->gm, &o->sil, &gm, sr, &prog.progress,
                       &err);
      if (st == NM_OK) chosen = sr[gm.k - o->k_min];
    }
    if (st != NM_OK) goto finish;
    f.k = gm.k;
    f.centroids = gm.means;
    f.labels = gm.labels;
    f.gmm = &gm;
  } else {
    tree = nm_malloc(n, sizeof *tree, &err);
    labels = nm_malloc(n, sizeof(int), &err);
    if (!tree || !labels) {
      st = err.code;
      goto finish;
    }
    if (n < 2) {
      st = nm_fail(&err, NM_ERR_ARG, "hierarchical clustering needs at least 2 rows");
      goto finish;
    }
    st = nm_linkage(a->x, n, d, o->linkage, o->max_rows, tree, &prog.progress, &err);
    if (st != NM_OK) goto finish;
    f.ccc = NAN;
    if (n >= 3) {
      st = nm_cophenetic_corr(a->x, n, d, tree, &f.ccc, &prog.progress, &err);
      if (st != NM_OK) goto finish;
    }
    int k = o->k;
    if (!k) {
      int *all = nm_malloc((size_t)nk, n * sizeof(int), &err);
      const int **labs = calloc((size_t)nk, sizeof *labs);
      int *ks = calloc((size_t)nk, sizeof(int));
      if (!all || !labs || !ks) {
        free(all);
        free(labs);
        free(ks);
        st = nm_fail(&err, NM_ERR_NOMEM, "out of memory");
        goto finish;
      }
      for (int t = 0; t < nk && st == NM_OK; t++) {
        ks[t] = o->k_min + t;
        labs[t] = all + (size_t)t * n;
        st = nm_linkage_cut(tree, n, ks[t], all + (size_t)t * n, &err);
      }
      if (st == NM_OK) st = nm_silhouette_multi(a->x, n, d, labs, ks, nk, &o->sil, sr, NULL, &prog.progress, &err);
      int win = 0;
      for (int t = 1; st == NM_OK && t < nk; t++)
        if (sr[t].mean > sr[win].mean) win = t;
      if (st == NM_OK) {
        k = ks[win];
        chosen = sr[win];
      }
      free(all);
      free(labs);
      free(ks);
      if (st != NM_OK) goto finish;
    }
    st = nm_linkage_cut(tree, n, k, labels, &err);
    if (st == NM_OK && !o->k) {
      /* chosen already scored */
    } else if (st == NM_OK && k >= 2 && (size_t)k < n) {
      st = nm_silhouette(a->x, n, d, labels, k, &o->sil, &chosen, &prog.progress, &err);
    }
    if (st != NM_OK) goto finish;
    cent = nm_calloc((size_t)k * d, sizeof(double), &err);
    size_t *cnt = nm_calloc((size_t)k, sizeof(size_t), &err);
    if (!cent || !cnt) {
      free(cnt);
      st = err.code;
      goto finish;
    }
    for (size_t i = 0; i < n; i++) {
      cnt[labels[i]]++;
      for (int j = 0; j < d; j++) cent[(size_t)labels[i] * d + j] += a->x[i * (size_t)d + j];
    }
    for (int c = 0; c < k; c++)
      for (int j = 0; j < d; j++) cent[(size_t)c * d + j] /= (double)cnt[c];
    free(cnt);
    f.k = k;
    f.centroids = cent;
    f.labels = labels;
    f.linkage = nm_linkage_name(o->linkage);
  }
  for (int t = 0; t < nk; t++) sil[t] = sr[t].mean;
  f.silhouette = chosen.mean;
  f.silhouette_sampled = chosen.sampled;
  f.silhouette_stderr = chosen.stderr_;
  st = nm_clmodel_json(&f, &json, &err);
finish:
  nm_bind_progress_end(&prog);
  if (st == NM_OK) sqlite3_result_text(ctx, json, -1, SQLITE_TRANSIENT);
  else nm_bind_error(ctx, fname, &err);
  free(json);
  nm_standardize_free(&scale);
  free(sr);
  free(sil);
  free(inert);
  free(cent);
  free(labels);
  free(tree);
  nm_kmeans_result_free(&km);
  nm_gmm_free(&gm);
  fit_acc_free(a);
}

/* ---- labelling ------------------------------------------------------ */

static void clmodel_destroy(void *p) {
  nm_clmodel_free(p);
  sqlite3_free(p);
}

static void *decode_clmodel(const void *bytes, size_t n, nm_error *err) {
  nm_clmodel *m = sqlite3_malloc(sizeof *m);
  if (!m) {
    nm_fail(err, NM_ERR_NOMEM, "out of memory");
    return NULL;
  }
  if (nm_clmodel_parse(bytes, n, m, err) != NM_OK) {
    sqlite3_free(m);
    return NULL;
  }
  return m;
}

/* The model of argument 0 (JSON text, a BLOB or a name), decoded once per statement. */
static nm_clmodel *get_model(sqlite3_context *ctx, sqlite3_value *arg, const char *fname) {
  return nm_bind_cached_model(ctx, 0, arg, fname, decode_clmodel, clmodel_destroy);
}

enum { L_KMEANS = 0, L_GMM = 1, L_HCLUST = 2, L_POSTERIOR = 3 };
static const char *const label_names[] = {"kmeans_label", "gmm_label", "hclust_label",
                                          "gmm_posterior"};

static void label_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  int which = (int)(intptr_t)sqlite3_user_data(ctx);
  const char *fname = label_names[which];
  if (argc < 2) {
    nm_bind_errorf(ctx, fname, "needs a model and at least one feature");
    return;
  }
  nm_clmodel *m = get_model(ctx, argv[0], fname);
  if (!m) return;
  nm_clmodel_kind want = which == L_POSTERIOR ? NM_CLM_GMM : (nm_clmodel_kind)which;
  if (m->kind != want) {
    nm_bind_errorf(ctx, fname, "the model is a %s model, not %s", nm_clmodel_kind_name(m->kind),
                   nm_clmodel_kind_name(want));
    return;
  }
  int d = argc - 1;
  if (d != m->d) {
    nm_bind_errorf(ctx, fname, "the model was fitted on %d features, got %d", m->d, d);
    return;
  }
  double row[NM_CLUSTER_MAX_FEATURES], post[NM_CLUSTER_MAX_K];
  char *msg = read_features(argv + 1, d, row, 0);
  if (msg) {
    nm_bind_errorf(ctx, fname, "%s", msg);
    sqlite3_free(msg);
    return;
  }
  nm_error err = {0};
  int g;
  if (nm_clmodel_label(m, row, d, &g, which == L_POSTERIOR ? post : NULL, &err) != NM_OK) {
    nm_bind_error(ctx, fname, &err);
    return;
  }
  if (which != L_POSTERIOR) {
    sqlite3_result_int(ctx, g + 1);
    return;
  }
  sqlite3_str *s = sqlite3_str_new(NULL);
  sqlite3_str_appendchar(s, 1, '[');
  for (int c = 0; c < m->k; c++) sqlite3_str_appendf(s, c ? ",%!.17g" : "%!.17g", post[c]);
  sqlite3_str_appendchar(s, 1, ']');
  int len = sqlite3_str_length(s);
  char *out = sqlite3_str_finish(s);
  if (!out) sqlite3_result_error_nomem(ctx);
  else sqlite3_result_text(ctx, out, len, sqlite3_free);
}

/* model_info(model): the clustering model without its big arrays, or the
** classifier's report (classifier models are BLOBs that start "NMSVM"). */
int nm_classify_info_json(sqlite3_context *ctx, const void *bytes, int n);

static void model_info_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  const char *fname = "model_info";
  nm_error err = {0};
  void *bytes = NULL;
  int n = 0;
  int type = sqlite3_value_type(argv[0]);
  const char *text = type == SQLITE_TEXT ? (const char *)sqlite3_value_text(argv[0]) : NULL;
  while (text && (*text == ' ' || *text == '\n' || *text == '\t' || *text == '\r')) text++;
  if (text && *text == '{') {
    n = sqlite3_value_bytes(argv[0]);
    bytes = sqlite3_malloc64((sqlite3_uint64)n + 1);
    if (bytes) memcpy(bytes, sqlite3_value_text(argv[0]), (size_t)n);
    else {
      sqlite3_result_error_nomem(ctx);
      return;
    }
  } else if (nm_bind_model_bytes(sqlite3_context_db_handle(ctx), argv[0], NULL, fname, &bytes,
                                 &n, &err) != NM_OK) {
    nm_bind_error(ctx, fname, &err);
    return;
  }
  if (n >= 5 && !memcmp(bytes, "NMSVM", 5)) {
    nm_classify_info_json(ctx, bytes, n);
    sqlite3_free(bytes);
    return;
  }
  char *info = NULL;
  if (nm_clmodel_info(bytes, (size_t)n, &info, &err) != NM_OK) nm_bind_error(ctx, fname, &err);
  else sqlite3_result_text(ctx, info, -1, SQLITE_TRANSIENT);
  free(info);
  sqlite3_free(bytes);
}

/* ---- adjusted_rand(a, b): aggregate over label pairs ------------------- */

typedef struct ari_acc {
  size_t n, cap;
  int *a, *b;
  char **names[2];
  int nnames[2], capnames[2];
  char *err;
} ari_acc;

static int intern(ari_acc *s, int side, const char *v) {
  for (int i = 0; i < s->nnames[side]; i++)
    if (!strcmp(s->names[side][i], v)) return i;
  if (s->nnames[side] >= 65535) return -1;
  if (s->nnames[side] == s->capnames[side]) {
    int cap = s->capnames[side] ? s->capnames[side] * 2 : 16;
    char **q = sqlite3_realloc64(s->names[side], (size_t)cap * sizeof(char *));
    if (!q) return -2;
    s->names[side] = q;
    s->capnames[side] = cap;
  }
  char *c = sqlite3_mprintf("%s", v);
  if (!c) return -2;
  s->names[side][s->nnames[side]] = c;
  return s->nnames[side]++;
}

static void ari_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  ari_acc *s = sqlite3_aggregate_context(ctx, sizeof *s);
  if (!s) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (s->err) return;
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) {
    s->err = sqlite3_mprintf("row %lld: a label is NULL", (long long)s->n + 1);
    return;
  }
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 256;
    int *a = sqlite3_realloc64(s->a, cap * sizeof(int));
    if (a) s->a = a;
    int *b = a ? sqlite3_realloc64(s->b, cap * sizeof(int)) : NULL;
    if (!a || !b) {
      s->err = sqlite3_mprintf("out of memory");
      return;
    }
    s->b = b;
    s->cap = cap;
  }
  int ia = intern(s, 0, (const char *)sqlite3_value_text(argv[0]));
  int ib = intern(s, 1, (const char *)sqlite3_value_text(argv[1]));
  if (ia < 0 || ib < 0) {
    s->err = sqlite3_mprintf(ia == -1 || ib == -1 ? "too many distinct labels" : "out of memory");
    return;
  }
  s->a[s->n] = ia;
  s->b[s->n] = ib;
  s->n++;
}

static void ari_final(sqlite3_context *ctx) {
  ari_acc *s = sqlite3_aggregate_context(ctx, 0);
  if (!s) {
    sqlite3_result_null(ctx);
    return;
  }
  nm_error err = {0};
  double ari;
  if (s->err) nm_bind_errorf(ctx, "adjusted_rand", "%s", s->err);
  else if (s->n == 0) sqlite3_result_null(ctx);
  else if (nm_adjusted_rand(s->a, s->b, s->n, &ari, &err) != NM_OK)
    nm_bind_error(ctx, "adjusted_rand", &err);
  else sqlite3_result_double(ctx, ari);
  sqlite3_free(s->a);
  sqlite3_free(s->b);
  for (int side = 0; side < 2; side++) {
    for (int i = 0; i < s->nnames[side]; i++) sqlite3_free(s->names[side][i]);
    sqlite3_free(s->names[side]);
  }
  sqlite3_free(s->err);
}

int nm_register_cluster(sqlite3 *db, char **pzErrMsg) {
  (void)pzErrMsg;
  int rc = SQLITE_OK;
  for (int fn = 0; fn < 4 && rc == SQLITE_OK; fn++)
    rc = sqlite3_create_function(db, fit_names[fn], -1, NM_PURE, (void *)(intptr_t)fn, NULL,
                                 fit_step, fit_final);
  for (int w = 0; w < 4 && rc == SQLITE_OK; w++)
    rc = sqlite3_create_function(db, label_names[w], -1, NM_PURE, (void *)(intptr_t)w,
                                 label_func, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_function(db, "model_info", 1, NM_PURE, NULL, model_info_func, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_function(db, "adjusted_rand", 2, NM_PURE, NULL, NULL, ari_step,
                                 ari_final);
  return rc;
}
