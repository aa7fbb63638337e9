/* gmm.c — EM for Gaussian mixtures (see gmm.h). */
#include "gmm.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmeans.h"

#define LOG_2PI 1.8378770664093453

void nm_gmm_opts_default(nm_gmm_opts *o) {
  o->cov = NM_GMM_FULL;
  o->n_init = 3;
  o->max_iter = 200;
  o->tol = 1e-3;
  o->reg = 1e-6;
  o->seed = 1;
}

void nm_gmm_free(nm_gmm_model *m) {
  free(m->weights);
  free(m->means);
  free(m->covs);
  free(m->chol);
  free(m->labels);
  memset(m, 0, sizeof *m);
}

static size_t cov_len(const nm_gmm_model *m) {
  return m->cov == NM_GMM_FULL ? (size_t)m->d * m->d : (size_t)m->d;
}

static nm_status alloc_model(nm_gmm_model *m, int k, int d, nm_gmm_cov cov, nm_error *err) {
  memset(m, 0, sizeof *m);
  m->k = k;
  m->d = d;
  m->cov = cov;
  size_t cl = cov_len(m);
  m->weights = nm_calloc((size_t)k, sizeof(double), err);
  m->means = nm_calloc((size_t)k * d, sizeof(double), err);
  m->covs = nm_calloc((size_t)k * cl, sizeof(double), err);
  m->chol = nm_calloc((size_t)k * cl, sizeof(double), err);
  if (!m->weights || !m->means || !m->covs || !m->chol) {
    nm_gmm_free(m);
    return err->code;
  }
  return NM_OK;
}

nm_status nm_gmm_prepare(nm_gmm_model *m, nm_error *err) {
  int d = m->d;
  size_t cl = cov_len(m);
  for (int c = 0; c < m->k; c++) {
    double *src = m->covs + (size_t)c * cl, *L = m->chol + (size_t)c * cl;
    if (m->cov == NM_GMM_FULL) {
      memcpy(L, src, cl * sizeof(double));
      if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', d, L, d) != 0)
        return nm_fail(err, NM_ERR_ARG,
                       "Gaussian mixture: covariance of component %d is not positive definite "
                       "(raise option reg)",
                       c + 1);
      for (int i = 0; i < d; i++)
        for (int j = i + 1; j < d; j++) L[i * d + j] = 0;
    } else {
      for (int j = 0; j < d; j++) {
        if (!(src[j] > 0))
          return nm_fail(err, NM_ERR_ARG, "Gaussian mixture: variance of component %d is not positive",
                         c + 1);
        L[j] = sqrt(src[j]);
      }
    }
  }
  return NM_OK;
}

/* logp[i*k + c] = log w_c + log N(x_i | mu_c, S_c). diff is n x d scratch. */
static void log_prob(const nm_gmm_model *m, const double *x, size_t n, double *diff,
                     double *logp) {
  int d = m->d, k = m->k;
  size_t cl = cov_len(m);
  for (int c = 0; c < k; c++) {
    const double *mu = m->means + (size_t)c * d, *L = m->chol + (size_t)c * cl;
    double logdet = 0;
    for (int j = 0; j < d; j++) logdet += 2 * log(m->cov == NM_GMM_FULL ? L[j * d + j] : L[j]);
    for (size_t i = 0; i < n; i++)
      for (int j = 0; j < d; j++) diff[i * d + j] = x[i * (size_t)d + j] - mu[j];
    if (m->cov == NM_GMM_FULL) {
      /* Rows y solve L y = (x - mu): Y = D L^-T. */
      cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, (int)n, d,
                  1.0, L, d, diff, d);
    } else {
      for (size_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++) diff[i * d + j] /= L[j];
    }
    double base = log(m->weights[c]) - 0.5 * (d * LOG_2PI + logdet);
    for (size_t i = 0; i < n; i++) {
      double s = 0;
      const double *r = diff + i * (size_t)d;
      for (int j = 0; j < d; j++) s += r[j] * r[j];
      logp[i * k + c] = base - 0.5 * s;
    }
  }
}

/* Turns logp into responsibilities in place; returns the mean log-likelihood. */
static double normalise(double *logp, size_t n, int k) {
  double total = 0;
  for (size_t i = 0; i < n; i++) {
    double *r = logp + i * (size_t)k, mx = r[0];
    for (int c = 1; c < k; c++)
      if (r[c] > mx) mx = r[c];
    double s = 0;
    for (int c = 0; c < k; c++) s += exp(r[c] - mx);
    double lse = mx + log(s);
    total += lse;
    for (int c = 0; c < k; c++) r[c] = exp(r[c] - lse);
  }
  return total / (double)n;
}

/* M-step from responsibilities resp (n x k). */
static nm_status m_step(nm_gmm_model *m, const double *x, size_t n, const double *resp,
                        double reg, double *diff, nm_error *err) {
  int d = m->d, k = m->k;
  size_t cl = cov_len(m);
  for (int c = 0; c < k; c++) {
    double nk = 0;
    for (size_t i = 0; i < n; i++) nk += resp[i * k + c];
    nk += 10 * 2.220446049250313e-16;
    m->weights[c] = nk / (double)n;
    double *mu = m->means + (size_t)c * d;
    memset(mu, 0, (size_t)d * sizeof(double));
    for (size_t i = 0; i < n; i++) {
      double r = resp[i * k + c];
      if (r == 0) continue;
      for (int j = 0; j < d; j++) mu[j] += r * x[i * (size_t)d + j];
    }
    for (int j = 0; j < d; j++) mu[j] /= nk;
    double *S = m->covs + (size_t)c * cl;
    if (m->cov == NM_GMM_FULL) {
      /* S = (sqrt(r) (x - mu))^T (sqrt(r) (x - mu)) / nk through one dsyrk. */
      for (size_t i = 0; i < n; i++) {
        double w = sqrt(resp[i * k + c]);
        for (int j = 0; j < d; j++) diff[i * d + j] = w * (x[i * (size_t)d + j] - mu[j]);
      }
      cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, d, (int)n, 1.0 / nk, diff, d, 0.0, S, d);
      for (int i = 0; i < d; i++) {
        for (int j = i + 1; j < d; j++) S[i * d + j] = S[j * d + i];
        S[i * d + i] += reg;
      }
    } else {
      memset(S, 0, (size_t)d * sizeof(double));
      for (size_t i = 0; i < n; i++) {
        double r = resp[i * k + c];
        for (int j = 0; j < d; j++) {
          double t = x[i * (size_t)d + j] - mu[j];
          S[j] += r * t * t;
        }
      }
      for (int j = 0; j < d; j++) S[j] = S[j] / nk + reg;
    }
  }
  double wsum = 0;
  for (int c = 0; c < k; c++) wsum += m->weights[c];
  for (int c = 0; c < k; c++) m->weights[c] /= wsum;
  return nm_gmm_prepare(m, err);
}

nm_status nm_gmm_fit(const double *x, size_t n, int d, int k, const nm_gmm_opts *opts,
                     int want_labels, nm_gmm_model *out, const nm_progress *progress,
                     nm_error *err) {
  memset(out, 0, sizeof *out);
  nm_gmm_opts def;
  if (!opts) {
    nm_gmm_opts_default(&def);
    opts = &def;
  }
  if (k < 1 || k > NM_CLUSTER_MAX_K)
    return nm_fail(err, NM_ERR_ARG, "k = %d is out of range 1..%d", k, NM_CLUSTER_MAX_K);
  if ((size_t)k > n)
    return nm_fail(err, NM_ERR_ARG, "k = %d needs at least %d rows, got %zu", k, k, n);
  if (opts->n_init < 1 || opts->max_iter < 1 || !(opts->reg >= 0))
    return nm_fail(err, NM_ERR_ARG, "Gaussian mixture: bad n_init, max_iter or reg");
  double *resp = nm_malloc(n, (size_t)k * sizeof(double), err);
  double *diff = nm_malloc(n, (size_t)d * sizeof(double), err);
  nm_gmm_model cur = {0}, best = {0};
  int have_best = 0;
  nm_status st = NM_OK;
  if (!resp || !diff) {
    st = err->code;
    goto done;
  }
  nm_rng rng;
  nm_rng_seed(&rng, opts->seed);
  for (int run = 0; run < opts->n_init; run++) {
    nm_kmeans_opts ko;
    nm_kmeans_opts_default(&ko);
    ko.n_init = 1;
    ko.seed = nm_rng_u64(&rng);
    nm_kmeans_result km;
    st = nm_kmeans_fit(x, n, d, k, &ko, 1, &km, progress, err);
    if (st != NM_OK) goto done;
    memset(resp, 0, n * (size_t)k * sizeof(double));
    for (size_t i = 0; i < n; i++) resp[i * k + km.labels[i]] = 1;
    nm_kmeans_result_free(&km);
    st = alloc_model(&cur, k, d, opts->cov, err);
    if (st != NM_OK) goto done;
    st = m_step(&cur, x, n, resp, opts->reg, diff, err);
    double prev = -INFINITY;
    int it = 0, conv = 0;
    while (st == NM_OK && it < opts->max_iter) {
      log_prob(&cur, x, n, diff, resp);
      double ll = normalise(resp, n, k);
      cur.loglik = ll;
      it++;
      if (fabs(ll - prev) < opts->tol) {
        conv = 1;
        break;
      }
      prev = ll;
      st = m_step(&cur, x, n, resp, opts->reg, diff, err);
      if (st == NM_OK && nm_progress_tick(progress, run * opts->max_iter + it,
                                          opts->n_init * opts->max_iter, "Gaussian mixture"))
        st = nm_fail(err, NM_ERR_INTERRUPTED, "interrupted");
    }
    if (st != NM_OK) goto done;
    cur.iterations = it;
    cur.converged = conv;
    if (!have_best || cur.loglik > best.loglik) {
      nm_gmm_free(&best);
      best = cur;
      memset(&cur, 0, sizeof cur);
      have_best = 1;
    } else {
      nm_gmm_free(&cur);
    }
  }
  /* Final labels from the winning parameters. */
  if (want_labels) {
    best.labels = nm_malloc(n, sizeof(int), err);
    if (!best.labels) {
      st = err->code;
      goto done;
    }
    st = nm_gmm_predict(&best, x, n, best.labels, NULL, err);
    if (st != NM_OK) goto done;
  }
  *out = best;
  memset(&best, 0, sizeof best);
done:
  nm_gmm_free(&cur);
  nm_gmm_free(&best);
  free(resp);
  free(diff);
  return st;
}

nm_status nm_gmm_predict(const nm_gmm_model *m, const double *x, size_t n, int *labels,
                         double *post, nm_error *err) {
  double *lp = nm_malloc(n, (size_t)m->k * sizeof(double), err);
  double *diff = nm_malloc(n, (size_t)m->d * sizeof(double), err);
  if (!lp || !diff) {
    free(lp);
    free(diff);
    return err->code;
  }
  log_prob(m, x, n, diff, lp);
  /* A row so far from every component that each density underflows to 0
  ** (|z| beyond ~1e154) has no comparable posterior: refuse it rather than
  ** answer NaN or an arbitrary group. */
  for (size_t i = 0; i < n; i++) {
    int finite = 0;
    for (int c = 0; c < m->k; c++) finite |= isfinite(lp[i * (size_t)m->k + c]);
    if (!finite) {
      free(lp);
      free(diff);
      return nm_fail(err, NM_ERR_ARG,
                     "row %zu is too far from every mixture component to score "
                     "(a feature value is absurdly large)",
                     i + 1);
    }
  }
  normalise(lp, n, m->k);
  for (size_t i = 0; i < n; i++) {
    const double *r = lp + i * (size_t)m->k;
    int b = 0;
    for (int c = 1; c < m->k; c++)
      if (r[c] > r[b]) b = c;
    if (labels) labels[i] = b;
  }
  if (post) memcpy(post, lp, n * (size_t)m->k * sizeof(double));
  free(lp);
  free(diff);
  return NM_OK;
}

nm_status nm_gmm_auto(const double *x, size_t n, int d, int k_min, int k_max,
                      const nm_gmm_opts *opts, const nm_silhouette_opts *sil,
                      nm_gmm_model *best, nm_silhouette_result *sil_by_k,
                      const nm_progress *progress, nm_error *err) {
  memset(best, 0, sizeof *best);
  if (k_min < 2 || k_max < k_min || k_max > NM_CLUSTER_MAX_K)
    return nm_fail(err, NM_ERR_ARG, "K range %d..%d is invalid (need 2 <= k_min <= k_max <= %d)",
                   k_min, k_max, NM_CLUSTER_MAX_K);
  if (n < 3 || (size_t)k_max > n - 1)
    return nm_fail(err, NM_ERR_ARG,
                   "choosing K up to %d by silhouette needs at least %d rows, got %zu", k_max,
                   k_max + 1, n);
  int nk = k_max - k_min + 1;
  nm_gmm_model *fits = nm_calloc((size_t)nk, sizeof *fits, err);
  const int **labs = nm_calloc((size_t)nk, sizeof *labs, err);
  int *ks = nm_calloc((size_t)nk, sizeof(int), err);
  int **canon = nm_calloc((size_t)nk, sizeof *canon, err);
  nm_silhouette_result *sr = nm_calloc((size_t)nk, sizeof *sr, err);
  nm_status st = NM_OK;
  if (!fits || !labs || !ks || !canon || !sr) {
    st = err->code;
    goto done;
  }
  for (int t = 0; t < nk; t++) {
    st = nm_gmm_fit(x, n, d, k_min + t, opts, 1, &fits[t], progress, err);
    if (st != NM_OK) goto done;
    /* A mixture can leave components empty; score the labels it gives. */
    canon[t] = nm_malloc(n, sizeof(int), err);
    if (!canon[t]) {
      st = err->code;
      goto done;
    }
    memcpy(canon[t], fits[t].labels, n * sizeof(int));
    ks[t] = nm_labels_canonical(canon[t], n);
    labs[t] = canon[t];
  }
  /* Labelings with fewer than 2 used components score -1 (worst). */
  int *idx = nm_calloc((size_t)nk, sizeof(int), err);
  if (!idx) {
    st = err->code;
    goto done;
  }
  int m = 0;
  for (int t = 0; t < nk; t++)
    if (ks[t] >= 2) idx[m++] = t;
  const int **sl = nm_calloc((size_t)nk, sizeof *sl, err);
  int *sk = nm_calloc((size_t)nk, sizeof(int), err);
  nm_silhouette_result *ss = nm_calloc((size_t)nk, sizeof *ss, err);
  if (!sl || !sk || !ss) {
    free(idx);
    free(sl);
    free(sk);
    free(ss);
    st = err->code;
    goto done;
  }
  for (int t = 0; t < m; t++) {
    sl[t] = labs[idx[t]];
    sk[t] = ks[idx[t]];
  }
  for (int t = 0; t < nk; t++) {
    sr[t].mean = -1;
    sr[t].stderr_ = 0;
    sr[t].sampled = 0;
    sr[t].used = 0;
  }
  if (m > 0) st = nm_silhouette_multi(x, n, d, sl, sk, m, sil, ss, NULL, progress, err);
  for (int t = 0; t < m && st == NM_OK; t++) sr[idx[t]] = ss[t];
  free(idx);
  free(sl);
  free(sk);
  free(ss);
  if (st != NM_OK) goto done;
  int win = 0;
  for (int t = 1; t < nk; t++)
    if (sr[t].mean > sr[win].mean) win = t;
  if (sil_by_k)
    for (int t = 0; t < nk; t++) sil_by_k[t] = sr[t];
  *best = fits[win];
  memset(&fits[win], 0, sizeof fits[win]);
done:
  if (fits)
    for (int t = 0; t < nk; t++) nm_gmm_free(&fits[t]);
  if (canon)
    for (int t = 0; t < nk; t++) free(canon[t]);
  free(fits);
  free(labs);
  free(ks);
  free(canon);
  free(sr);
  return st;
}
