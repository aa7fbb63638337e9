/* kmeans.c — k-means++ / Lloyd / auto K (see kmeans.h). */
#include "kmeans.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void nm_kmeans_opts_default(nm_kmeans_opts *o) {
  o->n_init = 10;
  o->max_iter = 300;
  o->tol = 1e-4;
  o->seed = 1;
}

void nm_kmeans_result_free(nm_kmeans_result *r) {
  free(r->centroids);
  free(r->labels);
  memset(r, 0, sizeof *r);
}

static double sqdist(const double *a, const double *b, int d) {
  double s = 0;
  for (int j = 0; j < d; j++) {
    double t = a[j] - b[j];
    s += t * t;
  }
  return s;
}

/* Work buffers shared by the restarts of one fit. */
typedef struct km_work {
  double *xn;     /* n row norms */
  double *dots;   /* n x k */
  double *cn;     /* k centroid norms */
  double *mind;   /* n closest squared distance (seeding) */
  double *cand;   /* trials x n (seeding) */
  double *candx;  /* trials x d */
  double *candn;  /* trials */
  double *sums;   /* k x d */
  size_t *counts; /* k */
} km_work;

/* Greedy k-means++: each step draws `trials` candidates with probability
** proportional to the current squared distance and keeps the one that lowers
** the potential most. Candidate distances come from one dgemm per step. */
static void seed_plusplus(const double *x, size_t n, int d, int k, nm_rng *rng, km_work *w,
                          double *cent) {
  int trials = 2 + (int)log((double)k);
  size_t first = (size_t)nm_rng_below(rng, n);
  memcpy(cent, x + first * (size_t)d, (size_t)d * sizeof(double));
  double pot = 0;
  for (size_t i = 0; i < n; i++) {
    w->mind[i] = sqdist(x + i * (size_t)d, cent, d);
    pot += w->mind[i];
  }
  for (int c = 1; c < k; c++) {
    size_t idx[64];
    for (int t = 0; t < trials; t++) {
      if (pot > 0) {
        double r = nm_rng_uniform(rng) * pot, acc = 0;
        idx[t] = n - 1;
        for (size_t i = 0; i < n; i++) {
          acc += w->mind[i];
          if (acc > r) {
            idx[t] = i;
            break;
          }
        }
      } else {
        idx[t] = (size_t)nm_rng_below(rng, n);
      }
      memcpy(w->candx + (size_t)t * d, x + idx[t] * (size_t)d, (size_t)d * sizeof(double));
      w->candn[t] = w->xn[idx[t]];
    }
    nm_sqdist_block(w->candx, w->candn, (size_t)trials, x, w->xn, n, d, w->cand);
    int best = 0;
    double best_pot = INFINITY;
    for (int t = 0; t < trials; t++) {
      double *cd = w->cand + (size_t)t * n;
      double p = 0;
      for (size_t i = 0; i < n; i++) {
        if (cd[i] > w->mind[i]) cd[i] = w->mind[i];
        p += cd[i];
      }
      if (p < best_pot) {
        best_pot = p;
        best = t;
      }
    }
    memcpy(cent + (size_t)c * d, w->candx + (size_t)best * d, (size_t)d * sizeof(double));
    memcpy(w->mind, w->cand + (size_t)best * n, n * sizeof(double));
    pot = best_pot;
  }
}

/* Assignment via dgemm; returns number of changed labels; fills dist2. */
static size_t assign_step(const double *x, size_t n, int d, const double *cent, int k,
                          km_work *w, int *labels, double *dist2) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, k, d, 1.0, x, d, cent, d, 0.0,
              w->dots, k);
  nm_row_sqnorms(cent, (size_t)k, d, w->cn);
  size_t changed = 0;
  for (size_t i = 0; i < n; i++) {
    const double *row = w->dots + i * (size_t)k;
    int best = 0;
    double bv = w->cn[0] - 2 * row[0];
    for (int c = 1; c < k; c++) {
      double v = w->cn[c] - 2 * row[c];
      if (v < bv) {
        bv = v;
        best = c;
      }
    }
    if (labels[i] != best) {
      labels[i] = best;
      changed++;
    }
    if (dist2) {
      double v = bv + w->xn[i];
      dist2[i] = v > 0 ? v : 0;
    }
  }
  return changed;
}

/* Centre update; empty clusters take the farthest rows. Returns squared
** centre shift. */
static double update_step(const double *x, size_t n, int d, double *cent, int k, km_work *w,
                          int *labels, double *dist2) {
  memset(w->sums, 0, (size_t)k * (size_t)d * sizeof(double));
  memset(w->counts, 0, (size_t)k * sizeof(size_t));
  for (size_t i = 0; i < n; i++) {
    double *s = w->sums + (size_t)labels[i] * d;
    const double *r = x + i * (size_t)d;
    for (int j = 0; j < d; j++) s[j] += r[j];
    w->counts[labels[i]]++;
  }
  double shift = 0;
  for (int c = 0; c < k; c++) {
    if (w->counts[c] == 0) {
      /* Re-seed with the row farthest from its centre (not already moved). */
      size_t far = 0;
      double fv = -1;
      for (size_t i = 0; i < n; i++)
        if (dist2[i] > fv && w->counts[labels[i]] > 1) {
          fv = dist2[i];
          far = i;
        }
      const double *r = x + far * (size_t)d;
      double *os = w->sums + (size_t)labels[far] * d;
      for (int j = 0; j < d; j++) os[j] -= r[j];
      w->counts[labels[far]]--;
      labels[far] = c;
      memcpy(w->sums + (size_t)c * d, r, (size_t)d * sizeof(double));
      w->counts[c] = 1;
      dist2[far] = 0;
    }
  }
  for (int c = 0; c < k; c++) {
    double *cc = cent + (size_t)c * d;
    const double *s = w->sums + (size_t)c * d;
    double inv = 1.0 / (double)w->counts[c];
    for (int j = 0; j < d; j++) {
      double v = s[j] * inv;
      double t = v - cc[j];
      shift += t * t;
      cc[j] = v;
    }
  }
  return shift;
}

nm_status nm_kmeans_fit(const double *x, size_t n, int d, int k, const nm_kmeans_opts *opts,
                        int want_labels, nm_kmeans_result *out, const nm_progress *progress,
                        nm_error *err) {
  memset(out, 0, sizeof *out);
  nm_kmeans_opts def;
  if (!opts) {
    nm_kmeans_opts_default(&def);
    opts = &def;
  }
  if (k < 1 || k > NM_CLUSTER_MAX_K)
    return nm_fail(err, NM_ERR_ARG, "k = %d is out of range 1..%d", k, NM_CLUSTER_MAX_K);
  if ((size_t)k > n)
    return nm_fail(err, NM_ERR_ARG, "k = %d needs at least %d rows, got %zu", k, k, n);
  if (opts->n_init < 1 || opts->max_iter < 1)
    return nm_fail(err, NM_ERR_ARG, "k-means: n_init and max_iter must be >= 1");
  int trials = 2 + (int)log((double)k);
  km_work w = {0};
  double *cent = nm_malloc((size_t)k * (size_t)d, sizeof(double), err);
  double *best_cent = nm_malloc((size_t)k * (size_t)d, sizeof(double), err);
  int *labels = nm_malloc(n, sizeof(int), err);
  int *best_labels = nm_malloc(n, sizeof(int), err);
  double *dist2 = nm_malloc(n, sizeof(double), err);
  w.xn = nm_malloc(n, sizeof(double), err);
  w.dots = nm_malloc(n, (size_t)k * sizeof(double), err);
  w.cn = nm_malloc((size_t)k, sizeof(double), err);
  w.mind = nm_malloc(n, sizeof(double), err);
  w.cand = nm_malloc(n, (size_t)trials * sizeof(double), err);
  w.candx = nm_malloc((size_t)trials * (size_t)d, sizeof(double), err);
  w.candn = nm_malloc((size_t)trials, sizeof(double), err);
  w.sums = nm_malloc((size_t)k * (size_t)d, sizeof(double), err);
  w.counts = nm_malloc((size_t)k, sizeof(size_t), err);
  nm_status st = NM_OK;
  if (!cent || !best_cent || !labels || !best_labels || !dist2 || !w.xn || !w.dots || !w.cn ||
      !w.mind || !w.cand || !w.candx || !w.candn || !w.sums || !w.counts) {
    st = err->code;
    goto done;
  }
  nm_row_sqnorms(x, n, d, w.xn);
  /* tol is relative to the mean feature variance, as in scikit-learn. */
  double var = 0;
  for (int j = 0; j < d; j++) {
    double m = 0, s = 0;
    for (size_t i = 0; i < n; i++) m += x[i * (size_t)d + j];
    m /= (double)n;
    for (size_t i = 0; i < n; i++) {
      double t = x[i * (size_t)d + j] - m;
      s += t * t;
    }
    var += s / (double)n;
  }
  double tol = opts->tol * var / d;
  nm_rng rng;
  nm_rng_seed(&rng, opts->seed);
  double best_inertia = INFINITY;
  int best_iter = 0;
  for (int run = 0; run < opts->n_init; run++) {
    seed_plusplus(x, n, d, k, &rng, &w, cent);
    for (size_t i = 0; i < n; i++) labels[i] = -1;
    int it;
    for (it = 0; it < opts->max_iter; it++) {
      size_t changed = assign_step(x, n, d, cent, k, &w, labels, dist2);
      if (changed == 0 && it > 0) break;
      double shift = update_step(x, n, d, cent, k, &w, labels, dist2);
      if (nm_progress_tick(progress, run * opts->max_iter + it, opts->n_init * opts->max_iter,
                           "k-means")) {
        st = nm_fail(err, NM_ERR_INTERRUPTED, "interrupted");
        goto done;
      }
      if (shift <= tol) {
        /* Converged on the centres: final labels for these centres. */
        assign_step(x, n, d, cent, k, &w, labels, dist2);
        it++;
        break;
      }
    }
    /* Inertia from exact differences, not the dgemm expansion. */
    double inertia = 0;
    for (size_t i = 0; i < n; i++)
      inertia += sqdist(x + i * (size_t)d, cent + (size_t)labels[i] * d, d);
    if (inertia < best_inertia) {
      best_inertia = inertia;
      best_iter = it;
      memcpy(best_cent, cent, (size_t)k * (size_t)d * sizeof(double));
      memcpy(best_labels, labels, n * sizeof(int));
    }
  }
  out->k = k;
  out->d = d;
  out->centroids = best_cent;
  best_cent = NULL;
  out->inertia = best_inertia;
  out->iterations = best_iter;
  if (want_labels) {
    out->labels = best_labels;
    best_labels = NULL;
  }
done:
  free(cent);
  free(best_cent);
  free(labels);
  free(best_labels);
  free(dist2);
  free(w.xn);
  free(w.dots);
  free(w.cn);
  free(w.mind);
  free(w.cand);
  free(w.candx);
  free(w.candn);
  free(w.sums);
  free(w.counts);
  return st;
}

void nm_kmeans_assign(const double *centroids, int k, int d, const double *x, size_t n,
                      int *labels) {
  for (size_t i = 0; i < n; i++) {
    int best = 0;
    double bv = INFINITY;
    for (int c = 0; c < k; c++) {
      double v = sqdist(x + i * (size_t)d, centroids + (size_t)c * d, d);
      if (v < bv) {
        bv = v;
        best = c;
      }
    }
    labels[i] = best;
  }
}

nm_status nm_kmeans_auto(const double *x, size_t n, int d, int k_min, int k_max,
                         const nm_kmeans_opts *opts, const nm_silhouette_opts *sil,
                         nm_kmeans_result *best, nm_silhouette_result *sil_by_k,
                         double *inertia_by_k, const nm_progress *progress, nm_error *err) {
  memset(best, 0, sizeof *best);
  if (k_min < 2 || k_max < k_min || k_max > NM_CLUSTER_MAX_K)
    return nm_fail(err, NM_ERR_ARG, "K range %d..%d is invalid (need 2 <= k_min <= k_max <= %d)",
                   k_min, k_max, NM_CLUSTER_MAX_K);
  if ((size_t)k_max > n - 1 || n < 3)
    return nm_fail(err, NM_ERR_ARG,
                   "choosing K up to %d by silhouette needs at least %d rows, got %zu", k_max,
                   k_max + 1, n);
  int nk = k_max - k_min + 1;
  nm_kmeans_result *fits = nm_calloc((size_t)nk, sizeof *fits, err);
  const int **labs = nm_calloc((size_t)nk, sizeof *labs, err);
  int *ks = nm_calloc((size_t)nk, sizeof(int), err);
  nm_silhouette_result *sr = nm_calloc((size_t)nk, sizeof *sr, err);
  nm_status st = NM_OK;
  if (!fits || !labs || !ks || !sr) {
    st = err->code;
    goto done;
  }
  for (int t = 0; t < nk; t++) {
    st = nm_kmeans_fit(x, n, d, k_min + t, opts, 1, &fits[t], progress, err);
    if (st != NM_OK) goto done;
    labs[t] = fits[t].labels;
    ks[t] = k_min + t;
  }
  st = nm_silhouette_multi(x, n, d, labs, ks, nk, sil, sr, NULL, progress, err);
  if (st != NM_OK) goto done;
  int win = 0;
  for (int t = 1; t < nk; t++)
    if (sr[t].mean > sr[win].mean) win = t;
  for (int t = 0; t < nk; t++) {
    if (sil_by_k) sil_by_k[t] = sr[t];
    if (inertia_by_k) inertia_by_k[t] = fits[t].inertia;
  }
  *best = fits[win];
  memset(&fits[win], 0, sizeof fits[win]);
done:
  if (fits)
    for (int t = 0; t < nk; t++) nm_kmeans_result_free(&fits[t]);
  free(fits);
  free(labs);
  free(ks);
  free(sr);
  return st;
}
