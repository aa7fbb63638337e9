/* clcompare.c — methods x data sets table (see clcompare.h). */
#include "clcompare.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void nm_compare_opts_default(nm_compare_opts *o) {
  memset(o, 0, sizeof *o);
  o->methods = NM_CMP_KMEANS | NM_CMP_GMM | NM_CMP_HCLUST;
  o->datasets = NM_CMP_FEATURES | NM_CMP_TRIPLET | NM_CMP_BOTH;
  o->k_min = 2;
  o->k_max = 12;
  o->linkage = NM_LINK_WARD;
  o->max_rows = NM_LINKAGE_MAX_ROWS;
  nm_kmeans_opts_default(&o->km);
  nm_gmm_opts_default(&o->gm);
  nm_silhouette_opts_default(&o->sil);
}

static cJSON *num(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

/* Mean silhouette of cuts at every K of the range, one distance pass. */
static nm_status hclust_auto(const double *z, size_t n, int d, const nm_compare_opts *o,
                             const nm_merge *tree, int *k_out, nm_silhouette_result *best,
                             const nm_progress *progress, nm_error *err) {
  int nk = o->k_max - o->k_min + 1;
  int *labels = nm_malloc((size_t)nk * n, sizeof(int), err);
  const int **labs = nm_calloc((size_t)nk, sizeof *labs, err);
  int *ks = nm_calloc((size_t)nk, sizeof(int), err);
  nm_silhouette_result *sr = nm_calloc((size_t)nk, sizeof *sr, err);
  nm_status st = NM_OK;
  if (!labels || !labs || !ks || !sr) {
    st = err->code;
    goto done;
  }
  for (int t = 0; t < nk; t++) {
    ks[t] = o->k_min + t;
    st = nm_linkage_cut(tree, n, ks[t], labels + (size_t)t * n, err);
    if (st != NM_OK) goto done;
    labs[t] = labels + (size_t)t * n;
  }
  st = nm_silhouette_multi(z, n, d, labs, ks, nk, &o->sil, sr, NULL, progress, err);
  if (st != NM_OK) goto done;
  int win = 0;
  for (int t = 1; t < nk; t++)
    if (sr[t].mean > sr[win].mean) win = t;
  *k_out = ks[win];
  *best = sr[win];
done:
  free(labels);
  free(labs);
  free(ks);
  free(sr);
  return st;
}

nm_status nm_cluster_compare(const double *x, size_t n, int d, const nm_compare_opts *o,
                             char **json, const nm_progress *progress, nm_error *err) {
  nm_status st = nm_cluster_check_data(x, n, d, "cluster_compare", err);
  if (st != NM_OK) return st;
  if (o->k_min < 2 || o->k_max < o->k_min)
    return nm_fail(err, NM_ERR_ARG, "K range %d..%d is invalid", o->k_min, o->k_max);
  if (n < 3 || (size_t)o->k_max > n - 1)
    return nm_fail(err, NM_ERR_ARG, "choosing K up to %d needs at least %d rows, got %zu",
                   o->k_max, o->k_max + 1, n);
  int in_trip[NM_CLUSTER_MAX_FEATURES] = {0};
  for (int t = 0; t < o->n_triplet; t++) {
    if (o->triplet[t] < 0 || o->triplet[t] >= d)
      return nm_fail(err, NM_ERR_ARG, "triplet column %d is out of range 0..%d", o->triplet[t],
                     d - 1);
    in_trip[o->triplet[t]] = 1;
  }
  int ntrip = 0;
  for (int j = 0; j < d; j++) ntrip += in_trip[j];
  if (o->n_triplet > 0 && ntrip == d && (o->datasets & NM_CMP_FEATURES))
    return nm_fail(err, NM_ERR_ARG, "every column is in the triplet: no feature columns left");

  /* The data sets to run: name and column list. */
  struct {
    const char *name;
    int cols[NM_CLUSTER_MAX_FEATURES];
    int nc;
  } *sets = calloc(3, sizeof *sets);
  if (!sets) return nm_fail(err, NM_ERR_NOMEM, "out of memory");
  int ns = 0;
  if (o->n_triplet == 0) {
    sets[0].name = "all";
    for (int j = 0; j < d; j++) sets[0].cols[sets[0].nc++] = j;
    ns = 1;
  } else {
    if (o->datasets & NM_CMP_FEATURES) {
      sets[ns].name = "features";
      for (int j = 0; j < d; j++)
        if (!in_trip[j]) sets[ns].cols[sets[ns].nc++] = j;
      ns++;
    }
    if (o->datasets & NM_CMP_TRIPLET) {
      sets[ns].name = "triplet";
      for (int j = 0; j < d; j++)
        if (in_trip[j]) sets[ns].cols[sets[ns].nc++] = j;
      ns++;
    }
    if (o->datasets & NM_CMP_BOTH) {
      sets[ns].name = "both";
      for (int j = 0; j < d; j++) sets[ns].cols[sets[ns].nc++] = j;
      ns++;
    }
  }
  cJSON *root = cJSON_CreateObject();
  double *z = nm_malloc(n, (size_t)d * sizeof(double), err);
  nm_merge *tree = nm_malloc(n, sizeof(nm_merge), err);
  if (!root || !z || !tree) {
    st = err->code ? err->code : NM_ERR_NOMEM;
    goto done;
  }
  cJSON_AddNumberToObject(root, "n", (double)n);
  cJSON_AddNumberToObject(root, "k_min", o->k_min);
  cJSON_AddNumberToObject(root, "k_max", o->k_max);
  cJSON *jsets = cJSON_AddArrayToObject(root, "datasets");
  cJSON *rows = cJSON_AddArrayToObject(root, "rows");
  for (int s = 0; s < ns; s++) {
    int dc = sets[s].nc;
    for (size_t i = 0; i < n; i++)
      for (int c = 0; c < dc; c++) z[i * dc + c] = x[i * (size_t)d + sets[s].cols[c]];
    nm_standardize sc;
    st = nm_standardize_fit(z, n, dc, &sc, err);
    if (st != NM_OK) goto done;
    nm_standardize_apply(&sc, z, n);
    nm_standardize_free(&sc);
    double ccc = NAN;
    st = nm_linkage(z, n, dc, NM_LINK_SINGLE, 0, tree, progress, err);
    if (st == NM_OK) st = nm_cophenetic_corr(z, n, dc, tree, &ccc, progress, err);
    if (st != NM_OK) goto done;
    cJSON *js = cJSON_CreateObject();
    cJSON_AddStringToObject(js, "dataset", sets[s].name);
    cJSON_AddItemToObject(js, "columns", cJSON_CreateIntArray(sets[s].cols, dc));
    cJSON_AddItemToObject(js, "ccc", num(ccc));
    cJSON_AddItemToArray(jsets, js);
    for (int m = 0; m < 3; m++) {
      if (!(o->methods & (1 << m))) continue;
      cJSON *r = cJSON_CreateObject();
      cJSON_AddStringToObject(r, "dataset", sets[s].name);
      cJSON_AddStringToObject(r, "method", m == 0 ? "kmeans" : m == 1 ? "gmm" : "hclust");
      int k = 0;
      nm_silhouette_result best = {0};
      double mccc = NAN;
      if (m == 0) {
        nm_kmeans_result km;
        nm_silhouette_result *sr = calloc((size_t)(o->k_max - o->k_min + 1), sizeof *sr);
        if (!sr) {
          cJSON_Delete(r);
          st = nm_fail(err, NM_ERR_NOMEM, "out of memory");
          goto done;
        }
        st = nm_kmeans_auto(z, n, dc, o->k_min, o->k_max, &o->km, &o->sil, &km, sr, NULL,
                            progress, err);
        if (st == NM_OK) {
          k = km.k;
          best = sr[k - o->k_min];
          nm_kmeans_result_free(&km);
        }
        free(sr);
      } else if (m == 1) {
        nm_gmm_model g;
        nm_silhouette_result *sr = calloc((size_t)(o->k_max - o->k_min + 1), sizeof *sr);
        if (!sr) {
          cJSON_Delete(r);
          st = nm_fail(err, NM_ERR_NOMEM, "out of memory");
          goto done;
        }
        st = nm_gmm_auto(z, n, dc, o->k_min, o->k_max, &o->gm, &o->sil, &g, sr, progress, err);
        if (st == NM_OK) {
          k = g.k;
          best = sr[k - o->k_min];
          nm_gmm_free(&g);
        }
        free(sr);
      } else {
        cJSON_AddStringToObject(r, "linkage", nm_linkage_name(o->linkage));
        st = nm_linkage(z, n, dc, o->linkage, o->max_rows, tree, progress, err);
        if (st == NM_ERR_TOOBIG) {
          /* Too many rows for the matrix: say so in the table, go on. */
          cJSON_AddStringToObject(r, "error", err->msg);
          nm_error_clear(err);
          st = NM_OK;
          cJSON_AddItemToArray(rows, r);
          continue;
        }
        if (st == NM_OK) st = nm_cophenetic_corr(z, n, dc, tree, &mccc, progress, err);
        if (st == NM_OK) st = hclust_auto(z, n, dc, o, tree, &k, &best, progress, err);
      }
      if (st != NM_OK) {
        cJSON_Delete(r);
        goto done;
      }
      cJSON_AddNumberToObject(r, "k", k);
      cJSON_AddItemToObject(r, "silhouette", num(best.mean));
      cJSON_AddBoolToObject(r, "silhouette_sampled", best.sampled);
      cJSON_AddItemToObject(r, "ccc", num(ccc));
      cJSON_AddItemToObject(r, "method_ccc", num(mccc));
      cJSON_AddItemToArray(rows, r);
    }
  }
  {
    char *s = cJSON_PrintUnformatted(root);
    if (!s) st = nm_fail(err, NM_ERR_NOMEM, "out of memory");
    else *json = s;
  }
done:
  cJSON_Delete(root);
  free(z);
  free(tree);
  free(sets);
  return st;
}
