/* classify.c — libsvm wrapper: split, scale, grid search, model bytes
** (see classify.h). */
#include "classify.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <svm.h>

/* rand() and libsvm's print hook are process-global. */
static pthread_mutex_t svm_lock = PTHREAD_MUTEX_INITIALIZER;

static void quiet(const char *s) { (void)s; }

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

void nm_classify_opts_default(nm_classify_opts *o) {
  memset(o, 0, sizeof *o);
  o->kernel = NM_SVM_RBF;
  o->folds = 10;
  o->test = 0.2;
  o->seed = 1;
  static const double cs[] = {0.1, 1, 10, 100}, gs[] = {0.01, 0.1, 1};
  o->n_c = 4;
  memcpy(o->c, cs, sizeof cs);
  o->n_gamma = 3;
  memcpy(o->gamma, gs, sizeof gs);
  o->cache_mb = 100;
  o->eps = 1e-3;
}

void nm_classify_free(nm_classifier *m) {
  nm_standardize_free(&m->scale);
  if (m->class_names)
    for (int i = 0; i < m->n_classes; i++) free(m->class_names[i]);
  free(m->class_names);
  free(m->confusion);
  free(m->grid);
  if (m->svm) svm_free_and_destroy_model(&m->svm);
  memset(m, 0, sizeof *m);
}

static void set_param(struct svm_parameter *p, nm_svm_kernel k, double c, double gamma,
                      double cache, double eps) {
  memset(p, 0, sizeof *p);
  p->svm_type = C_SVC;
  p->kernel_type = k == NM_SVM_LINEAR ? LINEAR : RBF;
  p->degree = 3;
  p->gamma = gamma;
  p->coef0 = 0;
  p->cache_size = cache;
  p->eps = eps;
  p->C = c;
  p->nu = 0.5;
  p->p = 0.1;
  p->shrinking = 1;
  p->probability = 0;
}

/* A libsvm problem over rows idx[0..m) of scaled x, every feature explicit. */
typedef struct problem {
  struct svm_problem p;
  struct svm_node *space;
} problem;

static nm_status make_problem(const double *x, int d, const int *y, const size_t *idx, size_t m,
                              problem *out, nm_error *err) {
  memset(out, 0, sizeof *out);
  out->p.l = (int)m;
  out->p.y = nm_malloc(m ? m : 1, sizeof(double), err);
  out->p.x = nm_malloc(m ? m : 1, sizeof(struct svm_node *), err);
  out->space = nm_malloc(m ? m : 1, ((size_t)d + 1) * sizeof(struct svm_node), err);
  if (!out->p.y || !out->p.x || !out->space) {
    free(out->p.y);
    free(out->p.x);
    free(out->space);
    return err->code;
  }
  for (size_t i = 0; i < m; i++) {
    size_t r = idx ? idx[i] : i;
    struct svm_node *nd = out->space + i * ((size_t)d + 1);
    for (int j = 0; j < d; j++) {
      nd[j].index = j + 1;
      nd[j].value = x[r * (size_t)d + j];
    }
    nd[d].index = -1;
    nd[d].value = 0;
    out->p.x[i] = nd;
    out->p.y[i] = (double)y[r];
  }
  return NM_OK;
}

static void free_problem(problem *p) {
  free(p->p.y);
  free(p->p.x);
  free(p->space);
}

/* Caller holds svm_lock. */
static size_t cv_locked(const problem *pr, const struct svm_parameter *param, int folds,
                        uint64_t seed, double *target) {
  svm_set_print_string_function(quiet);
  srand((unsigned)seed);
  svm_cross_validation(&pr->p, param, folds, target);
  size_t ok = 0;
  for (int i = 0; i < pr->p.l; i++)
    if (target[i] == pr->p.y[i]) ok++;
  return ok;
}

nm_status nm_classify_cv_correct(const double *x, size_t n, int d, const int *y,
                                 nm_svm_kernel kernel, double c, double gamma, int folds,
                                 uint64_t seed, size_t *correct, nm_error *err) {
  problem pr;
  nm_status st = make_problem(x, d, y, NULL, n, &pr, err);
  if (st != NM_OK) return st;
  double *target = nm_malloc(n, sizeof(double), err);
  if (!target) {
    free_problem(&pr);
    return err->code;
  }
  struct svm_parameter param;
  set_param(&param, kernel, c, gamma, 100, 1e-3);
  const char *why = svm_check_parameter(&pr.p, &param);
  if (why) {
    st = nm_fail(err, NM_ERR_ARG, "libsvm: %s", why);
  } else {
    pthread_mutex_lock(&svm_lock);
    *correct = cv_locked(&pr, &param, folds, seed, target);
    pthread_mutex_unlock(&svm_lock);
  }
  free(target);
  free_problem(&pr);
  return st;
}

/* ---- model bytes ---------------------------------------------------- */

typedef struct wbuf {
  unsigned char *p;
  size_t len, cap;
  int failed;
} wbuf;

static void put(wbuf *w, const void *src, size_t n) {
  if (w->failed) return;
  if (w->len + n > w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 4096;
    while (cap < w->len + n) cap *= 2;
    unsigned char *q = realloc(w->p, cap);
    if (!q) {
      w->failed = 1;
      return;
    }
    w->p = q;
    w->cap = cap;
  }
  memcpy(w->p + w->len, src, n);
  w->len += n;
}

static void put_u64(wbuf *w, uint64_t v) {
  unsigned char b[8];
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
  put(w, b, 8);
}
static void put_u32(wbuf *w, uint32_t v) {
  unsigned char b[4];
  for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
  put(w, b, 4);
}
static void put_i32(wbuf *w, int v) { put_u32(w, (uint32_t)v); }
static void put_f64(wbuf *w, double v) {
  uint64_t u;
  memcpy(&u, &v, 8);
  put_u64(w, u);
}
static void put_str(wbuf *w, const char *s) {
  size_t n = strlen(s);
  put_u32(w, (uint32_t)n);
  put(w, s, n);
}

typedef struct rbuf {
  const unsigned char *p;
  size_t len, pos;
  int bad;
} rbuf;

static int take(rbuf *r, void *dst, size_t n) {
  if (r->bad || r->len - r->pos < n) {
    r->bad = 1;
    if (dst) memset(dst, 0, n);
    return 0;
  }
  if (dst) memcpy(dst, r->p + r->pos, n);
  r->pos += n;
  return 1;
}
static uint64_t get_u64(rbuf *r) {
  unsigned char b[8];
  take(r, b, 8);
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
  return v;
}
static uint32_t get_u32(rbuf *r) {
  unsigned char b[4];
  take(r, b, 4);
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static int get_i32(rbuf *r) { return (int)get_u32(r); }
static double get_f64(rbuf *r) {
  uint64_t u = get_u64(r);
  double v;
  memcpy(&v, &u, 8);
  return v;
}
/* A count that must fit in what is left (each item at least `unit` bytes). */
static int get_count(rbuf *r, size_t unit, uint32_t max) {
  uint32_t v = get_u32(r);
  if (v > max || (unit && (size_t)v > (r->len - r->pos) / unit)) {
    r->bad = 1;
    return 0;
  }
  return (int)v;
}
static char *get_str(rbuf *r) {
  int n = get_count(r, 1, 1u << 20);
  if (r->bad) return NULL;
  char *s = malloc((size_t)n + 1);
  if (!s) {
    r->bad = 1;
    return NULL;
  }
  take(r, s, (size_t)n);
  s[n] = 0;
  return s;
}

static const char MAGIC[8] = {'N', 'M', 'S', 'V', 'M', 0, 0, 0};

static void put_svm(wbuf *w, const struct svm_model *s, int d) {
  int k = s->nr_class, l = s->l;
  put_i32(w, s->param.svm_type);
  put_i32(w, s->param.kernel_type);
  put_i32(w, s->param.degree);
  put_f64(w, s->param.gamma);
  put_f64(w, s->param.coef0);
  put_i32(w, k);
  put_i32(w, l);
  for (int i = 0; i < k * (k - 1) / 2; i++) put_f64(w, s->rho[i]);
  for (int i = 0; i < k; i++) put_i32(w, s->label[i]);
  for (int i = 0; i < k; i++) put_i32(w, s->nSV[i]);
  for (int c = 0; c < k - 1; c++)
    for (int i = 0; i < l; i++) put_f64(w, s->sv_coef[c][i]);
  for (int i = 0; i < l; i++) {
    int cnt = 0;
    while (s->SV[i][cnt].index != -1) cnt++;
    put_i32(w, cnt);
    for (int j = 0; j < cnt; j++) {
      put_i32(w, s->SV[i][j].index);
      put_f64(w, s->SV[i][j].value);
    }
  }
  (void)d;
}

/* Builds a model laid out as svm_load_model does (free_sv = 1, all nodes in
** one block at SV[0]) so svm_free_and_destroy_model releases it. */
static struct svm_model *get_svm(rbuf *r, int d, int n_classes) {
  struct svm_model *s = calloc(1, sizeof *s);
  if (!s) {
    r->bad = 1;
    return NULL;
  }
  s->free_sv = 1;
  s->param.svm_type = get_i32(r);
  s->param.kernel_type = get_i32(r);
  s->param.degree = get_i32(r);
  s->param.gamma = get_f64(r);
  s->param.coef0 = get_f64(r);
  int k = get_i32(r);
  int l = get_count(r, 4, 1u << 28);
  if (r->bad || s->param.svm_type != C_SVC ||
      (s->param.kernel_type != RBF && s->param.kernel_type != LINEAR) || k != n_classes ||
      k < 2 || l < 1) {
    r->bad = 1;
    svm_free_and_destroy_model(&s);
    return NULL;
  }
  s->nr_class = k;
  s->l = l;
  s->rho = malloc(sizeof(double) * (size_t)(k * (k - 1) / 2));
  s->label = malloc(sizeof(int) * (size_t)k);
  s->nSV = malloc(sizeof(int) * (size_t)k);
  s->sv_coef = calloc((size_t)(k - 1), sizeof(double *));
  s->SV = calloc((size_t)l, sizeof(struct svm_node *));
  if (!s->rho || !s->label || !s->nSV || !s->sv_coef || !s->SV) goto bad;
  for (int i = 0; i < k * (k - 1) / 2; i++) s->rho[i] = get_f64(r);
  long total = 0;
  for (int i = 0; i < k; i++) s->label[i] = get_i32(r);
  for (int i = 0; i < k; i++) {
    s->nSV[i] = get_i32(r);
    if (s->nSV[i] < 0) r->bad = 1;
    total += s->nSV[i];
  }
  if (r->bad || total != l) goto bad;
  if ((size_t)l * (size_t)(k - 1) > (r->len - r->pos) / 8) goto bad;
  for (int c = 0; c < k - 1; c++) {
    s->sv_coef[c] = malloc(sizeof(double) * (size_t)l);
    if (!s->sv_coef[c]) goto bad;
    for (int i = 0; i < l; i++) s->sv_coef[c][i] = get_f64(r);
  }
  /* Count the nodes first so they can live in one block. */
  size_t save = r->pos, nodes = 0;
  for (int i = 0; i < l && !r->bad; i++) {
    int cnt = get_count(r, 12, (uint32_t)d);
    take(r, NULL, (size_t)cnt * 12);
    nodes += (size_t)cnt + 1;
  }
  if (r->bad) goto bad;
  r->pos = save;
  struct svm_node *space = malloc(nodes * sizeof(struct svm_node));
  if (!space) goto bad;
  s->SV[0] = space; /* owned from here: freed through SV[0] */
  size_t at = 0;
  for (int i = 0; i < l; i++) {
    int cnt = get_count(r, 12, (uint32_t)d);
    s->SV[i] = space + at;
    for (int j = 0; j < cnt; j++) {
      space[at].index = get_i32(r);
      space[at].value = get_f64(r);
      if (space[at].index < 1 || space[at].index > d) r->bad = 1;
      at++;
    }
    space[at].index = -1;
    space[at].value = 0;
    at++;
  }
  if (r->bad) goto bad;
  return s;
bad:
  r->bad = 1;
  if (s->SV && !s->SV[0]) s->l = 0; /* nothing to free through SV[0] */
  svm_free_and_destroy_model(&s);
  return NULL;
}

nm_status nm_classify_save(const nm_classifier *m, unsigned char **buf, size_t *len,
                           nm_error *err) {
  wbuf w = {0};
  put(&w, MAGIC, 8);
  put_u32(&w, NM_CLASSIFY_VERSION);
  put_u32(&w, (uint32_t)m->d);
  for (int j = 0; j < m->d; j++) put_f64(&w, m->scale.mean[j]);
  for (int j = 0; j < m->d; j++) put_f64(&w, m->scale.sd[j]);
  put_u32(&w, (uint32_t)m->n_classes);
  put_u32(&w, (uint32_t)m->names_are_integers);
  for (int i = 0; i < m->n_classes; i++) put_str(&w, m->class_names[i]);
  put_u32(&w, (uint32_t)m->kernel);
  put_f64(&w, m->c);
  put_f64(&w, m->gamma);
  put_i32(&w, m->folds);
  put_f64(&w, m->test_fraction);
  put_u64(&w, m->seed);
  put_f64(&w, m->cv_accuracy);
  put_f64(&w, m->test_accuracy);
  put_i32(&w, m->n_train);
  put_i32(&w, m->n_test);
  for (int i = 0; i < m->n_classes * m->n_classes; i++) put_i32(&w, m->confusion[i]);
  put_u32(&w, (uint32_t)m->n_grid);
  for (int i = 0; i < m->n_grid; i++) {
    put_f64(&w, m->grid[i].c);
    put_f64(&w, m->grid[i].gamma);
    put_f64(&w, m->grid[i].cv_accuracy);
  }
  put_svm(&w, m->svm, m->d);
  if (w.failed) {
    free(w.p);
    return nm_fail(err, NM_ERR_NOMEM, "out of memory writing the model");
  }
  *buf = w.p;
  *len = w.len;
  return NM_OK;
}

nm_status nm_classify_load(const void *buf, size_t len, nm_classifier *out, nm_error *err) {
  memset(out, 0, sizeof *out);
  rbuf r = {buf, len, 0, 0};
  char magic[8];
  if (!take(&r, magic, 8) || memcmp(magic, MAGIC, 8) != 0)
    return nm_fail(err, NM_ERR_FORMAT, "not a nanomorph classifier model (bad magic)");
  uint32_t ver = get_u32(&r);
  if (ver != NM_CLASSIFY_VERSION)
    return nm_fail(err, NM_ERR_FORMAT, "classifier model version %u is not supported (this is %d)",
                   ver, NM_CLASSIFY_VERSION);
  int d = get_count(&r, 16, NM_CLUSTER_MAX_FEATURES);
  if (r.bad || d < 1) goto corrupt;
  out->d = d;
  out->scale.d = d;
  out->scale.mean = malloc((size_t)d * sizeof(double));
  out->scale.sd = malloc((size_t)d * sizeof(double));
  if (!out->scale.mean || !out->scale.sd) goto nomem;
  for (int j = 0; j < d; j++) out->scale.mean[j] = get_f64(&r);
  for (int j = 0; j < d; j++) {
    out->scale.sd[j] = get_f64(&r);
    if (!(out->scale.sd[j] > 0)) r.bad = 1;
  }
  int nc = get_count(&r, 4, NM_CLASSIFY_MAX_CLASSES);
  if (r.bad || nc < 2) goto corrupt;
  out->n_classes = nc;
  out->names_are_integers = (int)get_u32(&r);
  out->class_names = calloc((size_t)nc, sizeof(char *));
  if (!out->class_names) goto nomem;
  for (int i = 0; i < nc && !r.bad; i++) out->class_names[i] = get_str(&r);
  uint32_t kern = get_u32(&r);
  if (kern > 1) r.bad = 1;
  out->kernel = (nm_svm_kernel)kern;
  out->c = get_f64(&r);
  out->gamma = get_f64(&r);
  out->folds = get_i32(&r);
  out->test_fraction = get_f64(&r);
  out->seed = get_u64(&r);
  out->cv_accuracy = get_f64(&r);
  out->test_accuracy = get_f64(&r);
  out->n_train = get_i32(&r);
  out->n_test = get_i32(&r);
  if (r.bad || (size_t)nc * nc > (r.len - r.pos) / 4) goto corrupt;
  out->confusion = malloc((size_t)nc * nc * sizeof(int));
  if (!out->confusion) goto nomem;
  for (int i = 0; i < nc * nc; i++) out->confusion[i] = get_i32(&r);
  out->n_grid = get_count(&r, 24, 4096);
  if (r.bad) goto corrupt;
  out->grid = calloc((size_t)out->n_grid + 1, sizeof *out->grid);
  if (!out->grid) goto nomem;
  for (int i = 0; i < out->n_grid; i++) {
    out->grid[i].c = get_f64(&r);
    out->grid[i].gamma = get_f64(&r);
    out->grid[i].cv_accuracy = get_f64(&r);
  }
  if (r.bad) goto corrupt;
  out->svm = get_svm(&r, d, nc);
  if (r.bad || !out->svm) goto corrupt;
  for (int i = 0; i < nc; i++)
    if (out->svm->label[i] < 0 || out->svm->label[i] >= nc) goto corrupt;
  if (r.pos != r.len) goto corrupt;
  return NM_OK;
corrupt:
  nm_classify_free(out);
  return nm_fail(err, NM_ERR_FORMAT, "classifier model is truncated or corrupt");
nomem:
  nm_classify_free(out);
  return nm_fail(err, NM_ERR_NOMEM, "out of memory reading the model");
}

nm_status nm_classify_predict(const nm_classifier *m, const double *row, int d, int *cls,
                              nm_error *err) {
  if (d != m->d)
    return nm_fail(err, NM_ERR_ARG, "the model was trained on %d features, got %d", m->d, d);
  struct svm_node stack_nodes[65], *nodes = stack_nodes;
  if (d + 1 > 65) {
    nodes = nm_malloc((size_t)d + 1, sizeof *nodes, err);
    if (!nodes) return err->code;
  }
  for (int j = 0; j < d; j++) {
    if (!isfinite(row[j])) {
      if (nodes != stack_nodes) free(nodes);
      return nm_fail(err, NM_ERR_ARG, "feature %d is not a finite number", j + 1);
    }
    nodes[j].index = j + 1;
    nodes[j].value = (row[j] - m->scale.mean[j]) / m->scale.sd[j];
  }
  nodes[d].index = -1;
  double v = svm_predict(m->svm, nodes);
  if (nodes != stack_nodes) free(nodes);
  int c = (int)v;
  if (c < 0 || c >= m->n_classes) return nm_fail(err, NM_ERR_FORMAT, "model predicted an unknown class");
  *cls = c;
  return NM_OK;
}

nm_status nm_classify_train(const double *x, size_t n, int d, const int *y, int n_classes,
                            const char *const *names, int names_are_integers,
                            const nm_classify_opts *opts, nm_classifier *out,
                            const nm_progress *progress, nm_error *err) {
  memset(out, 0, sizeof *out);
  nm_classify_opts def;
  if (!opts) {
    nm_classify_opts_default(&def);
    opts = &def;
  }
  nm_status st = nm_cluster_check_data(x, n, d, "classifier", err);
  if (st != NM_OK) return st;
  if (n_classes < 2)
    return nm_fail(err, NM_ERR_ARG, "a classifier needs at least 2 classes, got %d", n_classes);
  if (n_classes > NM_CLASSIFY_MAX_CLASSES)
    return nm_fail(err, NM_ERR_ARG, "too many classes (%d, limit %d)", n_classes,
                   NM_CLASSIFY_MAX_CLASSES);
  if (n > (size_t)INT32_MAX / 2) return nm_fail(err, NM_ERR_TOOBIG, "too many rows");
  if (!(opts->test >= 0 && opts->test < 1))
    return nm_fail(err, NM_ERR_ARG, "option 'test' must be in [0, 1)");
  if (opts->n_c < 1 || (opts->kernel == NM_SVM_RBF && opts->n_gamma < 1))
    return nm_fail(err, NM_ERR_ARG, "empty C or gamma grid");
  for (int i = 0; i < opts->n_c; i++)
    if (!(opts->c[i] > 0)) return nm_fail(err, NM_ERR_ARG, "C values must be > 0");
  for (int i = 0; i < opts->n_gamma; i++)
    if (!(opts->gamma[i] > 0)) return nm_fail(err, NM_ERR_ARG, "gamma values must be > 0");

  size_t *count = nm_calloc((size_t)n_classes, sizeof(size_t), err);
  size_t *order = nm_malloc(n, sizeof(size_t), err);
  size_t *train = nm_malloc(n, sizeof(size_t), err);
  size_t *test = nm_malloc(n, sizeof(size_t), err);
  double *xs = nm_malloc(n, (size_t)d * sizeof(double), err);
  double *target = nm_malloc(n, sizeof(double), err);
  problem pr = {0};
  int have_pr = 0;
  if (!count || !order || !train || !test || !xs || !target) {
    st = err->code;
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    if (y[i] < 0 || y[i] >= n_classes) {
      st = nm_fail(err, NM_ERR_ARG, "row %zu: class index out of range", i + 1);
      goto done;
    }
    count[y[i]]++;
  }
  for (int c = 0; c < n_classes; c++)
    if (count[c] == 0) {
      st = nm_fail(err, NM_ERR_ARG, "class '%s' has no rows", names[c]);
      goto done;
    }
  /* Stratified split: per class, shuffled, the first round(test*count) out. */
  nm_rng rng;
  nm_rng_seed(&rng, opts->seed);
  size_t ntr = 0, nte = 0;
  for (int c = 0; c < n_classes; c++) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
      if (y[i] == c) order[m++] = i;
    nm_rng_shuffle(&rng, order, m, sizeof *order);
    size_t out_n = (size_t)floor(opts->test * (double)m + 0.5);
    if (out_n >= m) out_n = m - 1; /* every class keeps a training row */
    for (size_t t = 0; t < m; t++) {
      if (t < out_n) test[nte++] = order[t];
      else train[ntr++] = order[t];
    }
  }
  /* Keep the original row order inside each part (libsvm's class order is
  ** first appearance; this makes it the data's). */
  qsort(train, ntr, sizeof(size_t), cmp_size);
  qsort(test, nte, sizeof(size_t), cmp_size);
  /* Scale with the training rows only. */
  for (size_t i = 0; i < ntr; i++)
    memcpy(xs + i * (size_t)d, x + train[i] * (size_t)d, (size_t)d * sizeof(double));
  st = nm_standardize_fit(xs, ntr, d, &out->scale, err);
  if (st != NM_OK) goto done;
  memcpy(xs, x, n * (size_t)d * sizeof(double));
  nm_standardize_apply(&out->scale, xs, n);
  st = make_problem(xs, d, y, train, ntr, &pr, err);
  if (st != NM_OK) goto done;
  have_pr = 1;

  out->d = d;
  out->n_classes = n_classes;
  out->names_are_integers = names_are_integers;
  out->kernel = opts->kernel;
  out->folds = opts->folds;
  out->test_fraction = opts->test;
  out->seed = opts->seed;
  out->n_train = (int)ntr;
  out->n_test = (int)nte;
  out->class_names = calloc((size_t)n_classes, sizeof(char *));
  out->confusion = calloc((size_t)n_classes * n_classes, sizeof(int));
  int ng = opts->kernel == NM_SVM_LINEAR ? 1 : opts->n_gamma;
  out->grid = calloc((size_t)opts->n_c * ng + 1, sizeof *out->grid);
  if (!out->class_names || !out->confusion || !out->grid) {
    st = nm_fail(err, NM_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int c = 0; c < n_classes; c++) {
    out->class_names[c] = strdup(names[c]);
    if (!out->class_names[c]) {
      st = nm_fail(err, NM_ERR_NOMEM, "out of memory");
      goto done;
    }
  }

  /* Grid search (or the single given point). */
  int search = opts->folds >= 2;
  if (search && (size_t)opts->folds > ntr) {
    st = nm_fail(err, NM_ERR_ARG, "%d-fold cross-validation needs at least %d training rows, got %zu",
                 opts->folds, opts->folds, ntr);
    goto done;
  }
  double best_acc = -1;
  out->c = opts->c[0];
  out->gamma = opts->kernel == NM_SVM_LINEAR ? 0 : opts->gamma[0];
  out->cv_accuracy = NAN;
  for (int ci = 0; ci < opts->n_c && search; ci++)
    for (int gi = 0; gi < ng; gi++) {
      double gval = opts->kernel == NM_SVM_LINEAR ? 0 : opts->gamma[gi];
      struct svm_parameter param;
      set_param(&param, opts->kernel, opts->c[ci], gval, opts->cache_mb, opts->eps);
      const char *why = svm_check_parameter(&pr.p, &param);
      if (why) {
        st = nm_fail(err, NM_ERR_ARG, "libsvm: %s", why);
        goto done;
      }
      pthread_mutex_lock(&svm_lock);
      size_t ok = cv_locked(&pr, &param, opts->folds, opts->seed, target);
      pthread_mutex_unlock(&svm_lock);
      double acc = (double)ok / (double)ntr;
      nm_classify_grid_point *g = &out->grid[out->n_grid++];
      g->c = opts->c[ci];
      g->gamma = gval;
      g->cv_accuracy = acc;
      if (acc > best_acc) {
        best_acc = acc;
        out->c = g->c;
        out->gamma = gval;
        out->cv_accuracy = acc;
      }
      if (nm_progress_tick(progress, out->n_grid, opts->n_c * ng, "SVM grid search")) {
        st = nm_fail(err, NM_ERR_INTERRUPTED, "interrupted");
        goto done;
      }
    }

  /* Final model: train, serialise at once (its SVs point into pr), reload. */
  {
    struct svm_parameter param;
    set_param(&param, opts->kernel, out->c, out->gamma, opts->cache_mb, opts->eps);
    const char *why = svm_check_parameter(&pr.p, &param);
    if (why) {
      st = nm_fail(err, NM_ERR_ARG, "libsvm: %s", why);
      goto done;
    }
    pthread_mutex_lock(&svm_lock);
    svm_set_print_string_function(quiet);
    srand((unsigned)opts->seed);
    struct svm_model *fresh = svm_train(&pr.p, &param);
    pthread_mutex_unlock(&svm_lock);
    if (!fresh) {
      st = nm_fail(err, NM_ERR_NOMEM, "libsvm training failed");
      goto done;
    }
    out->svm = fresh;
    unsigned char *bytes = NULL;
    size_t blen = 0;
    st = nm_classify_save(out, &bytes, &blen, err);
    out->svm = NULL;
    svm_free_and_destroy_model(&fresh);
    if (st != NM_OK) goto done;
    nm_classifier back;
    st = nm_classify_load(bytes, blen, &back, err);
    free(bytes);
    if (st != NM_OK) goto done;
    out->svm = back.svm;
    back.svm = NULL;
    nm_classify_free(&back);
  }
  /* Held-out evaluation. */
  if (nte > 0) {
    size_t ok = 0;
    for (size_t t = 0; t < nte; t++) {
      int cls;
      st = nm_classify_predict(out, x + test[t] * (size_t)d, d, &cls, err);
      if (st != NM_OK) goto done;
      out->confusion[y[test[t]] * n_classes + cls]++;
      if (cls == y[test[t]]) ok++;
    }
    out->test_accuracy = (double)ok / (double)nte;
  } else {
    out->test_accuracy = NAN;
  }
done:
  if (have_pr) free_problem(&pr);
  free(count);
  free(order);
  free(train);
  free(test);
  free(xs);
  free(target);
  if (st != NM_OK) nm_classify_free(out);
  return st;
}

static cJSON *num_or_null(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

nm_status nm_classify_report_json(const nm_classifier *m, char **json, nm_error *err) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return nm_fail(err, NM_ERR_NOMEM, "out of memory");
  cJSON_AddStringToObject(o, "kind", "svm");
  cJSON_AddNumberToObject(o, "version", NM_CLASSIFY_VERSION);
  cJSON_AddNumberToObject(o, "n_features", m->d);
  cJSON_AddStringToObject(o, "kernel", m->kernel == NM_SVM_LINEAR ? "linear" : "rbf");
  cJSON_AddItemToObject(o, "C", cJSON_CreateNumber(m->c));
  if (m->kernel == NM_SVM_RBF) cJSON_AddItemToObject(o, "gamma", cJSON_CreateNumber(m->gamma));
  else cJSON_AddNullToObject(o, "gamma");
  cJSON_AddNumberToObject(o, "folds", m->folds);
  cJSON_AddItemToObject(o, "cv_accuracy", num_or_null(m->cv_accuracy));
  cJSON_AddItemToObject(o, "accuracy", num_or_null(m->test_accuracy));
  cJSON_AddNumberToObject(o, "n_train", m->n_train);
  cJSON_AddNumberToObject(o, "n_test", m->n_test);
  cJSON_AddNumberToObject(o, "test_fraction", m->test_fraction);
  cJSON_AddNumberToObject(o, "seed", (double)m->seed);
  cJSON_AddNumberToObject(o, "n_support_vectors", m->svm ? m->svm->l : 0);
  cJSON *cls = cJSON_AddArrayToObject(o, "classes");
  for (int i = 0; i < m->n_classes; i++) {
    if (m->names_are_integers)
      cJSON_AddItemToArray(cls, cJSON_CreateNumber(strtod(m->class_names[i], NULL)));
    else
      cJSON_AddItemToArray(cls, cJSON_CreateString(m->class_names[i]));
  }
  cJSON *conf = cJSON_AddArrayToObject(o, "confusion");
  for (int i = 0; i < m->n_classes; i++) {
    cJSON *row = cJSON_CreateIntArray(m->confusion + (size_t)i * m->n_classes, m->n_classes);
    cJSON_AddItemToArray(conf, row);
  }
  cJSON *grid = cJSON_AddArrayToObject(o, "grid");
  for (int i = 0; i < m->n_grid; i++) {
    cJSON *g = cJSON_CreateObject();
    cJSON_AddNumberToObject(g, "C", m->grid[i].c);
    if (m->kernel == NM_SVM_RBF) cJSON_AddNumberToObject(g, "gamma", m->grid[i].gamma);
    cJSON_AddNumberToObject(g, "cv_accuracy", m->grid[i].cv_accuracy);
    cJSON_AddItemToArray(grid, g);
  }
  cJSON *sc = cJSON_AddObjectToObject(o, "standardize");
  cJSON_AddItemToObject(sc, "mean", cJSON_CreateDoubleArray(m->scale.mean, m->d));
  cJSON_AddItemToObject(sc, "sd", cJSON_CreateDoubleArray(m->scale.sd, m->d));
  char *s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (!s) return nm_fail(err, NM_ERR_NOMEM, "out of memory");
  *json = s;
  return NM_OK;
}
