/* clmodel.c — clustering models as JSON (see clmodel.h). */
#include "clmodel.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"kmeans", "gmm", "hclust"};

const char *nm_clmodel_kind_name(nm_clmodel_kind k) {
  return (unsigned)k < 3 ? kind_names[k] : "?";
}

void nm_clmodel_free(nm_clmodel *m) {
  nm_standardize_free(&m->scale);
  free(m->centroids);
  nm_gmm_free(&m->gmm);
  memset(m, 0, sizeof *m);
}

static cJSON *num(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

static cJSON *vec(const double *v, int n) {
  cJSON *a = cJSON_CreateArray();
  for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, num(v[i]));
  return a;
}

static cJSON *mat(const double *v, int rows, int cols) {
  cJSON *a = cJSON_CreateArray();
  for (int i = 0; a && i < rows; i++) cJSON_AddItemToArray(a, vec(v + (size_t)i * cols, cols));
  return a;
}

nm_status nm_clmodel_json(const nm_clmodel_fit *f, char **json, nm_error *err) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return nm_fail(err, NM_ERR_NOMEM, "out of memory");
  cJSON_AddStringToObject(o, "kind", nm_clmodel_kind_name(f->kind));
  cJSON_AddNumberToObject(o, "version", NM_CLMODEL_VERSION);
  cJSON_AddNumberToObject(o, "n_features", f->d);
  cJSON_AddNumberToObject(o, "n", (double)f->n);
  cJSON_AddNumberToObject(o, "k", f->k);
  cJSON_AddBoolToObject(o, "k_auto", f->k_auto);
  cJSON_AddNumberToObject(o, "seed", (double)f->seed);
  if (f->kind == NM_CLM_HCLUST) {
    cJSON_AddStringToObject(o, "linkage", f->linkage ? f->linkage : "ward");
    cJSON_AddItemToObject(o, "ccc", num(f->ccc));
  }
  cJSON_AddItemToObject(o, "silhouette", num(f->silhouette));
  cJSON_AddBoolToObject(o, "silhouette_sampled", f->silhouette_sampled);
  cJSON_AddItemToObject(o, "silhouette_stderr", num(f->silhouette_stderr));
  if (f->kind == NM_CLM_KMEANS) cJSON_AddItemToObject(o, "inertia", num(f->inertia));
  if (f->kind == NM_CLM_GMM && f->gmm) cJSON_AddItemToObject(o, "loglik", num(f->gmm->loglik));
  cJSON *byk = cJSON_AddArrayToObject(o, "by_k");
  for (int i = 0; i < f->n_by_k; i++) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "k", f->k_min + i);
    cJSON_AddItemToObject(e, "silhouette", num(f->sil_by_k ? f->sil_by_k[i] : NAN));
    if (f->inertia_by_k) cJSON_AddItemToObject(e, "inertia", num(f->inertia_by_k[i]));
    cJSON_AddItemToArray(byk, e);
  }
  if (f->labels) {
    cJSON *sz = cJSON_AddArrayToObject(o, "sizes");
    for (int c = 0; c < f->k; c++) {
      size_t cnt = 0;
      for (size_t i = 0; i < f->n; i++)
        if (f->labels[i] == c) cnt++;
      cJSON_AddItemToArray(sz, cJSON_CreateNumber((double)cnt));
    }
  }
  cJSON *sc = cJSON_AddObjectToObject(o, "standardize");
  cJSON_AddItemToObject(sc, "mean", vec(f->scale->mean, f->d));
  cJSON_AddItemToObject(sc, "sd", vec(f->scale->sd, f->d));
  cJSON_AddItemToObject(o, "centroids", mat(f->centroids, f->k, f->d));
  if (f->kind == NM_CLM_GMM && f->gmm) {
    const nm_gmm_model *g = f->gmm;
    cJSON_AddStringToObject(o, "covariance", g->cov == NM_GMM_FULL ? "full" : "diag");
    cJSON_AddItemToObject(o, "weights", vec(g->weights, g->k));
    cJSON *cv = cJSON_AddArrayToObject(o, "covariances");
    for (int c = 0; c < g->k; c++) {
      if (g->cov == NM_GMM_FULL)
        cJSON_AddItemToArray(cv, mat(g->covs + (size_t)c * g->d * g->d, g->d, g->d));
      else
        cJSON_AddItemToArray(cv, vec(g->covs + (size_t)c * g->d, g->d));
    }
  }
  /* cJSON prints %1.15g and falls back to %1.17g when that would not read
  ** back exactly, so doubles round-trip bit for bit. */
  char *s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (!s) return nm_fail(err, NM_ERR_NOMEM, "out of memory writing the model");
  *json = s;
  return NM_OK;
}

/* Reads an array of exactly n finite numbers. */
static int read_vec(const cJSON *a, int n, double *out) {
  if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n) return 0;
  int i = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, a) {
    if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble)) return 0;
    out[i++] = e->valuedouble;
  }
  return 1;
}

static int read_mat(const cJSON *a, int rows, int cols, double *out) {
  if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != rows) return 0;
  int i = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, a) {
    if (!read_vec(e, cols, out + (size_t)i * cols)) return 0;
    i++;
  }
  return 1;
}

nm_status nm_clmodel_parse(const char *json, size_t len, nm_clmodel *out, nm_error *err) {
  memset(out, 0, sizeof *out);
  cJSON *o = cJSON_ParseWithLength(json, len);
  if (!o || !cJSON_IsObject(o)) {
    cJSON_Delete(o);
    return nm_fail(err, NM_ERR_FORMAT, "model is not valid JSON");
  }
  nm_status st = NM_OK;
  const char *what = "";
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
  const cJSON *ver = cJSON_GetObjectItemCaseSensitive(o, "version");
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "n_features");
  const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "k");
  int ki = -1;
  for (int i = 0; i < 3; i++)
    if (cJSON_IsString(kind) && !strcmp(kind->valuestring, kind_names[i])) ki = i;
  if (ki < 0) {
    st = nm_fail(err, NM_ERR_FORMAT, "not a clustering model (kind is not kmeans, gmm or hclust)");
    goto done;
  }
  if (!cJSON_IsNumber(ver) || ver->valuedouble != NM_CLMODEL_VERSION) {
    st = nm_fail(err, NM_ERR_FORMAT, "clustering model version is not %d", NM_CLMODEL_VERSION);
    goto done;
  }
  if (!cJSON_IsNumber(d) || d->valuedouble < 1 || d->valuedouble > NM_CLUSTER_MAX_FEATURES ||
      !cJSON_IsNumber(k) || k->valuedouble < 1 || k->valuedouble > NM_CLUSTER_MAX_K) {
    what = "n_features or k";
    goto corrupt;
  }
  out->kind = (nm_clmodel_kind)ki;
  out->d = (int)d->valuedouble;
  out->k = (int)k->valuedouble;
  out->scale.d = out->d;
  out->scale.mean = malloc((size_t)out->d * sizeof(double));
  out->scale.sd = malloc((size_t)out->d * sizeof(double));
  out->centroids = malloc((size_t)out->k * out->d * sizeof(double));
  if (!out->scale.mean || !out->scale.sd || !out->centroids) {
    st = nm_fail(err, NM_ERR_NOMEM, "out of memory");
    goto done;
  }
  const cJSON *sc = cJSON_GetObjectItemCaseSensitive(o, "standardize");
  if (!read_vec(cJSON_GetObjectItemCaseSensitive(sc, "mean"), out->d, out->scale.mean) ||
      !read_vec(cJSON_GetObjectItemCaseSensitive(sc, "sd"), out->d, out->scale.sd)) {
    what = "standardize";
    goto corrupt;
  }
  for (int j = 0; j < out->d; j++)
    if (!(out->scale.sd[j] > 0)) {
      what = "standardize.sd";
      goto corrupt;
    }
  if (!read_mat(cJSON_GetObjectItemCaseSensitive(o, "centroids"), out->k, out->d,
                out->centroids)) {
    what = "centroids";
    goto corrupt;
  }
  if (out->kind == NM_CLM_GMM) {
    const cJSON *cov = cJSON_GetObjectItemCaseSensitive(o, "covariance");
    nm_gmm_cov ct;
    if (cJSON_IsString(cov) && !strcmp(cov->valuestring, "full")) ct = NM_GMM_FULL;
    else if (cJSON_IsString(cov) && !strcmp(cov->valuestring, "diag")) ct = NM_GMM_DIAG;
    else {
      what = "covariance";
      goto corrupt;
    }
    nm_gmm_model *g = &out->gmm;
    g->k = out->k;
    g->d = out->d;
    g->cov = ct;
    size_t cl = ct == NM_GMM_FULL ? (size_t)g->d * g->d : (size_t)g->d;
    g->weights = malloc((size_t)g->k * sizeof(double));
    g->means = malloc((size_t)g->k * g->d * sizeof(double));
    g->covs = malloc((size_t)g->k * cl * sizeof(double));
    g->chol = malloc((size_t)g->k * cl * sizeof(double));
    if (!g->weights || !g->means || !g->covs || !g->chol) {
      st = nm_fail(err, NM_ERR_NOMEM, "out of memory");
      goto done;
    }
    memcpy(g->means, out->centroids, (size_t)g->k * g->d * sizeof(double));
    if (!read_vec(cJSON_GetObjectItemCaseSensitive(o, "weights"), g->k, g->weights)) {
      what = "weights";
      goto corrupt;
    }
    for (int c = 0; c < g->k; c++)
      if (!(g->weights[c] > 0)) {
        what = "weights";
        goto corrupt;
      }
    const cJSON *cv = cJSON_GetObjectItemCaseSensitive(o, "covariances");
    if (!cJSON_IsArray(cv) || cJSON_GetArraySize(cv) != g->k) {
      what = "covariances";
      goto corrupt;
    }
    int c = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cv) {
      int okv = ct == NM_GMM_FULL ? read_mat(e, g->d, g->d, g->covs + (size_t)c * cl)
                                  : read_vec(e, g->d, g->covs + (size_t)c * cl);
      if (!okv) {
        what = "covariances";
        goto corrupt;
      }
      c++;
    }
    st = nm_gmm_prepare(g, err);
    if (st != NM_OK) goto done;
  }
  goto done;
corrupt:
  st = nm_fail(err, NM_ERR_FORMAT, "%s model is corrupt (%s)", nm_clmodel_kind_name(out->kind),
               what);
done:
  cJSON_Delete(o);
  if (st != NM_OK) nm_clmodel_free(out);
  return st;
}

nm_status nm_clmodel_label(const nm_clmodel *m, const double *row, int d, int *group,
                           double *post, nm_error *err) {
  if (d != m->d)
    return nm_fail(err, NM_ERR_ARG, "the %s model was fitted on %d features, got %d",
                   nm_clmodel_kind_name(m->kind), m->d, d);
  double z[NM_CLUSTER_MAX_FEATURES];
  for (int j = 0; j < d; j++) {
    if (!isfinite(row[j]))
      return nm_fail(err, NM_ERR_ARG, "feature %d is not a finite number", j + 1);
    z[j] = (row[j] - m->scale.mean[j]) / m->scale.sd[j];
  }
  if (m->kind == NM_CLM_GMM) return nm_gmm_predict(&m->gmm, z, 1, group, post, err);
  int best = 0;
  double bv = INFINITY;
  for (int c = 0; c < m->k; c++) {
    const double *cc = m->centroids + (size_t)c * d;
    double s = 0;
    for (int j = 0; j < d; j++) {
      double t = z[j] - cc[j];
      s += t * t;
    }
    if (s < bv) {
      bv = s;
      best = c;
    }
  }
  *group = best;
  return NM_OK;
}

nm_status nm_clmodel_info(const char *json, size_t len, char **info, nm_error *err) {
  nm_clmodel tmp;
  nm_status st = nm_clmodel_parse(json, len, &tmp, err);
  if (st != NM_OK) return st;
  nm_clmodel_free(&tmp);
  cJSON *o = cJSON_ParseWithLength(json, len);
  if (!o) return nm_fail(err, NM_ERR_FORMAT, "model is not valid JSON");
  static const char *const drop[] = {"centroids", "covariances", "standardize", "weights"};
  for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
    cJSON_DeleteItemFromObjectCaseSensitive(o, drop[i]);
  char *s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (!s) return nm_fail(err, NM_ERR_NOMEM, "out of memory");
  *info = s;
  return NM_OK;
}
