/* silhouette.c — exact or sampled mean silhouette (see silhouette.h). */
#include "silhouette.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SIL_BLOCK 256

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

void nm_silhouette_opts_default(nm_silhouette_opts *o) {
  o->exact_max = 20000;
  o->sample = 10000;
  o->seed = 1;
}

nm_status nm_silhouette_multi(const double *x, size_t n, int d, const int *const *labels,
                              const int *ks, int nl, const nm_silhouette_opts *opts,
                              nm_silhouette_result *out, double *per_row,
                              const nm_progress *progress, nm_error *err) {
  nm_silhouette_opts def;
  if (!opts) {
    nm_silhouette_opts_default(&def);
    opts = &def;
  }
  if (nl < 1) return nm_fail(err, NM_ERR_ARG, "silhouette: no labeling");
  int kmax = 0;
  for (int l = 0; l < nl; l++) {
    if (ks[l] < 2 || (size_t)ks[l] > n - 1)
      return nm_fail(err, NM_ERR_ARG,
                     "silhouette: needs 2 <= number of clusters <= rows - 1 (got %d clusters, %zu rows)",
                     ks[l], n);
    for (size_t i = 0; i < n; i++)
      if (labels[l][i] < 0 || labels[l][i] >= ks[l])
        return nm_fail(err, NM_ERR_ARG, "silhouette: label %d out of 0..%d", labels[l][i],
                       ks[l] - 1);
    if (ks[l] > kmax) kmax = ks[l];
  }

  /* Rows to score: all, or a seeded sample. */
  size_t m = n;
  int sampled = 0;
  size_t *rows = nm_malloc(n, sizeof(size_t), err);
  if (!rows) return err->code;
  for (size_t i = 0; i < n; i++) rows[i] = i;
  if (n > opts->exact_max && opts->sample > 0 && opts->sample < n) {
    nm_rng r;
    nm_rng_seed(&r, opts->seed);
    /* Partial Fisher–Yates: the first `sample` entries are the sample. */
    for (size_t i = 0; i < opts->sample; i++) {
      size_t j = i + (size_t)nm_rng_below(&r, n - i);
      size_t t = rows[i];
      rows[i] = rows[j];
      rows[j] = t;
    }
    m = opts->sample;
    sampled = 1;
    /* Sorted rows keep the gathered block cache-friendly and the sums in a
    ** fixed order. */
    qsort(rows, m, sizeof(size_t), cmp_size);
  }

  nm_status st = NM_OK;
  double *norms = nm_malloc(n, sizeof(double), err);
  double *blockx = nm_malloc((size_t)SIL_BLOCK * (size_t)d, sizeof(double), err);
  double *blockn = nm_malloc(SIL_BLOCK, sizeof(double), err);
  double *dist = nm_malloc((size_t)SIL_BLOCK, n * sizeof(double), err);
  double *sums = nm_malloc((size_t)kmax, sizeof(double), err);
  size_t *counts = nm_calloc((size_t)nl * (size_t)kmax, sizeof(size_t), err);
  double *acc = nm_calloc((size_t)nl * 2, sizeof(double), err); /* sum s, sum s^2 */
  if (!norms || !blockx || !blockn || !dist || !sums || !counts || !acc) {
    st = err->code;
    goto done;
  }
  nm_row_sqnorms(x, n, d, norms);
  for (int l = 0; l < nl; l++)
    for (size_t i = 0; i < n; i++) counts[(size_t)l * kmax + labels[l][i]]++;
  if (per_row)
    for (size_t i = 0; i < n; i++) per_row[i] = NAN;

  for (size_t b0 = 0; b0 < m; b0 += SIL_BLOCK) {
    size_t nb = m - b0 < SIL_BLOCK ? m - b0 : SIL_BLOCK;
    for (size_t t = 0; t < nb; t++) {
      memcpy(blockx + t * (size_t)d, x + rows[b0 + t] * (size_t)d, (size_t)d * sizeof(double));
      blockn[t] = norms[rows[b0 + t]];
    }
    nm_sqdist_block(blockx, blockn, nb, x, norms, n, d, dist);
    for (size_t t = 0; t < nb * n; t++) dist[t] = sqrt(dist[t]);
    for (size_t t = 0; t < nb; t++) {
      size_t i = rows[b0 + t];
      double *row = dist + t * n;
      row[i] = 0; /* exact zero on the diagonal whatever the rounding */
      for (int l = 0; l < nl; l++) {
        const int *lab = labels[l];
        int k = ks[l];
        memset(sums, 0, (size_t)k * sizeof(double));
        for (size_t j = 0; j < n; j++) sums[lab[j]] += row[j];
        int own = lab[i];
        size_t nown = counts[(size_t)l * kmax + own];
        double s = 0;
        if (nown > 1) {
          double a = sums[own] / (double)(nown - 1);
          double b = INFINITY;
          for (int c = 0; c < k; c++) {
            size_t nc = counts[(size_t)l * kmax + c];
            if (c == own || nc == 0) continue;
            double v = sums[c] / (double)nc;
            if (v < b) b = v;
          }
          double mx = a > b ? a : b;
          s = mx > 0 ? (b - a) / mx : 0;
        }
        acc[2 * l] += s;
        acc[2 * l + 1] += s * s;
        if (l == 0 && per_row) per_row[i] = s;
      }
    }
    if (nm_progress_tick(progress, (double)(b0 + nb), (double)m, "silhouette")) {
      st = nm_fail(err, NM_ERR_INTERRUPTED, "interrupted");
      goto done;
    }
  }
  for (int l = 0; l < nl; l++) {
    double mean = acc[2 * l] / (double)m;
    out[l].mean = mean;
    out[l].sampled = sampled;
    out[l].used = m;
    if (sampled && m > 1) {
      double var = (acc[2 * l + 1] - (double)m * mean * mean) / (double)(m - 1);
      out[l].stderr_ = var > 0 ? sqrt(var / (double)m) : 0;
    } else {
      out[l].stderr_ = 0;
    }
  }
done:
  free(rows);
  free(norms);
  free(blockx);
  free(blockn);
  free(dist);
  free(sums);
  free(counts);
  free(acc);
  return st;
}

nm_status nm_silhouette(const double *x, size_t n, int d, const int *labels, int k,
                        const nm_silhouette_opts *opts, nm_silhouette_result *out,
                        const nm_progress *progress, nm_error *err) {
  const int *ls[1] = {labels};
  return nm_silhouette_multi(x, n, d, ls, &k, 1, opts, out, NULL, progress, err);
}
