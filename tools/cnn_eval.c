/*
** tools/cnn_eval.c — accuracy of a shape CNN, on simulated and on REAL
** particles (`make eval-cnn`).
**
**   cnn_eval [-m model.nmm] [-r ../shared/data] [-n 65000] [-s 42]
**
** 1. Simulated: the test rows of simulate(n, seed) (the same rows
**    `make model` held out) → RMSE per parameter, p ≤ 10, by true p, …
** 2. Real: every ground-truth particle of au-tetra-prism (tetra_* and prism_*
**    apart) and msa-bf-tem that does not touch the image border (and has at
**    least 20 px) → its canonical crop → the CNN triplet (one batched call
**    per set) → re-simulation Jaccard (fit.h protocol) of that triplet, beside
**    the moment ellipse's and the equal-area circle's under the same
**    protocol, and the fraction of triangles with round(d) = 3.
** -S: simulator options of the model's data set ("key=value;key=[a,b]");
** -C delta: also the simulated RMSEs against canonical labels (sim_canon.h);
** -T: test-time augmentation (mean over the 8 symmetries of the square);
** -R rule: another answer rule of the multi-hypothesis head (c<t>: commit
** at probability >= t, else the mean; t<T>: tempered mean); -V: only the
** rule study on the simulated validation split (choose rules there);
** -D: per-particle TSV (subset, mask, label, area, p, d, Lratio, Jaccard
** CNN, Jaccard ellipse, ellipse Lratio; with a multi-hypothesis model then
** p, d, Lratio, probability, Jaccard of each hypothesis; last shape_fit's
** p, d, Lratio, Jaccard from its own search). Without -m the built-in default
** model is evaluated. Prints JSON lines and a Markdown table (the one in
** docs/cnn.md).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../ext/cnn.h"
#include "../ext/crop.h"
#include "../ext/fit.h"
#include "../ext/image.h"
#include "../ext/label.h"
#include "../ext/shape.h"
#include "gt_labels.h"
#include "pairs_tsv.h"
#include "sim_canon.h"
#include "sim_opts_arg.h"

typedef struct subset {
  const char *name;
  double jc_cnn, jc_ell, jc_circ;
  size_t n, d3;
} subset;

static nm_cnn *net;

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/* The re-simulation Jaccard of a triplet on a prepared mask, the triplet as
** predicted but only kept inside eq. 1's valid domain. */
static nm_status triplet_jaccard(const nm_fit_mask *fm, double p, double d, double l, double *j,
                                 nm_error *err) {
  return nm_fit_jaccard(fm, clampd(p, 0.1, 100), clampd(d, 0.5, 12), clampd(l, 1.0, 20), j, NULL,
                        err);
}
static int tta;      /* -T: average over the 8 symmetries of the square */
static FILE *dump;   /* -D: one line per real particle */

/* -R: an answer rule of the multi-hypothesis head instead of the engine's
** ('c' commit threshold t: the most probable hypothesis when its probability
** is >= t, else the probability-weighted mean — c0.5 was the engine's rule, c0
** always commits, c1.01 always averages; 't' tempered mean: weights p^(1/T),
** t0.5 is the engine's rule). */
typedef struct rule {
  char kind; /* 0 = the engine's answer */
  double v;
} rule;
static rule rule_opt;

static void apply_rule(rule r, const float *h, int K, float t[3]) {
  const float *pr = h + 3 * K;
  int k = 0;
  for (int q = 1; q < K; q++)
    if (pr[q] > pr[k]) k = q;
  double w[NM_CNN_MAX_HEADS], ws = 0;
  if (r.kind == 'c' && pr[k] >= r.v) {
    for (int j = 0; j < 3; j++) t[j] = h[3 * k + j];
    return;
  }
  for (int q = 0; q < K; q++)
    ws += (w[q] = r.kind == 't' ? pow(pr[q] / pr[k], 1.0 / r.v) : pr[q]);
  for (int j = 0; j < 3; j++) {
    double m = 0;
    for (int q = 0; q < K; q++) m += w[q] * h[3 * q + j];
    t[j] = (float)(m / ws);
  }
}

static int parse_rule(const char *s, rule *r) {
  if ((s[0] != 'c' && s[0] != 't') || !s[1]) return 0;
  r->kind = s[0];
  r->v = atof(s + 1);
  return r->kind == 'c' || r->v > 0;
}

static nm_status predict_rule(rule r, const float *x, size_t n, float *out, nm_error *err) {
  int K = nm_cnn_heads(net);
  if (!r.kind) return nm_cnn_predict(net, x, n, 256, out, err);
  float *h = malloc(sizeof(float) * 4 * K * (n ? n : 1));
  if (!h) return nm_fail(err, NM_ERR_NOMEM, "out of memory");
  nm_status st = nm_cnn_predict_heads(net, x, n, h, err);
  for (size_t i = 0; st == NM_OK && i < n; i++) apply_rule(r, h + i * 4 * K, K, out + i * 3);
  free(h);
  return st;
}

static nm_status predict(const float *x, size_t n, float *out, nm_error *err) {
  if (rule_opt.kind) return predict_rule(rule_opt, x, n, out, err);
  if (!tta) return nm_cnn_predict(net, x, n, 256, out, err);
  return nm_cnn_predict_d4(net, x, n, 256, out, err);
}

/*
** -V: the answer rules measured on the simulated VALIDATION split (rows with
** split 1 of the -S distribution; never the test rows, never real particles),
** which is where a rule may be chosen: RMSE per parameter, the standardised
** RMSE training's early stopping uses, and the mean re-simulation Jaccard of
** the answer on the row's own mask (the crop at >= 1/2, fit.h protocol; every
** 4th row).
*/
static int study_rules(const nm_sim_opts *so, size_t nsim, uint64_t seed) {
  int size = nm_cnn_input_size(net), K = nm_cnn_heads(net);
  if (!K) return fprintf(stderr, "cnn_eval: -V needs a multi-hypothesis model\n"), 1;
  size_t px = (size_t)size * size, nv = 0;
  for (size_t i = 0; i < nsim; i++) nv += nm_sim_split(seed, (int64_t)i) == 1;
  float *x = malloc(sizeof(float) * px * nv), *truth = malloc(sizeof(float) * 3 * nv),
        *h = malloc(sizeof(float) * 4 * K * nv);
  uint8_t *u = malloc(px * nv);
  nm_error err;
  if (!x || !truth || !h || !u) return fprintf(stderr, "cnn_eval: out of memory\n"), 1;
  size_t k = 0;
  for (size_t i = 0; i < nsim; i++) {
    if (nm_sim_split(seed, (int64_t)i) != 1) continue;
    nm_shape s;
    if (nm_sim_example(so, seed, (int64_t)i, &s, x + k * px, NULL, NULL, NULL, &err) != NM_OK)
      return fprintf(stderr, "cnn_eval: simulate row %zu: %s\n", i, err.msg), 1;
    nm_crop_to_u8(x + k * px, size, u + k * px);
    for (size_t j = 0; j < px; j++) x[k * px + j] = u[k * px + j] / 255.0f;
    truth[k * 3] = (float)s.p, truth[k * 3 + 1] = (float)s.d, truth[k * 3 + 2] = (float)s.lratio;
    k++;
  }
  if (nm_cnn_predict_heads(net, x, nv, h, &err) != NM_OK)
    return fprintf(stderr, "cnn_eval: %s\n", err.msg), 1;
  free(x);
  nm_fit_mask **fm = calloc(nv, sizeof *fm);
  uint8_t *m = malloc(px);
  for (size_t i = 0; i < nv; i += 4) {
    for (size_t j = 0; j < px; j++) m[j] = u[i * px + j] >= 128;
    if (nm_fit_mask_prepare(m, size, size, size, &fm[i], &err) != NM_OK) fm[i] = NULL;
  }
  free(m);
  float mean[3], sd[3];
  nm_cnn_standardisation(net, mean, sd);
  static const rule grid[] = {{'c', 0},   {'c', 0.3},  {'c', 0.4},  {'c', 0.45}, {'c', 0.5},
                              {'c', 0.55}, {'c', 0.6}, {'c', 0.7},  {'c', 0.8},  {'c', 1.01},
                              {'t', 0.25}, {'t', 0.3}, {'t', 0.35}, {'t', 0.4},  {'t', 0.45},
                              {'t', 0.5},  {'t', 0.6}, {'t', 0.75}, {'t', 1.5}};
  printf("\n| rule (simulated validation, n = %zu) | p | p (p <= 10) | d | Lratio | standardised | Jaccard (n = %zu) | committed |\n",
         nv, (nv + 3) / 4);
  printf("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (size_t g = 0; g < sizeof grid / sizeof grid[0]; g++) {
    double se[3] = {0}, se10 = 0, st = 0, jc = 0;
    size_t n10 = 0, nj = 0, ncommit = 0;
    for (size_t i = 0; i < nv; i++) {
      float t[3];
      const float *hi = h + i * 4 * K;
      apply_rule(grid[g], hi, K, t);
      float pm = 0;
      for (int q = 0; q < K; q++) pm = hi[3 * K + q] > pm ? hi[3 * K + q] : pm;
      ncommit += grid[g].kind == 'c' && pm >= grid[g].v;
      for (int j = 0; j < 3; j++) {
        double e = t[j] - truth[i * 3 + j];
        se[j] += e * e;
        st += e * e / ((double)sd[j] * sd[j]);
      }
      if (truth[i * 3] <= 10) se10 += (t[0] - truth[i * 3]) * (t[0] - truth[i * 3]), n10++;
      double j1 = 0;
      if (fm[i] && triplet_jaccard(fm[i], t[0], t[1], t[2], &j1, &err) == NM_OK)
        jc += j1, nj++;
    }
    printf("| %c%g | %.3f | %.3f | %.3f | %.3f | %.4f | %.4f | %.0f %% |\n", grid[g].kind, grid[g].v,
           sqrt(se[0] / nv), sqrt(se10 / (n10 ? n10 : 1)), sqrt(se[1] / nv), sqrt(se[2] / nv),
           sqrt(st / (3.0 * nv)), nj ? jc / nj : 0, 100.0 * ncommit / nv);
  }
  for (size_t i = 0; i < nv; i++) nm_fit_mask_free(fm[i]);
  free(fm);
  free(u);
  free(truth);
  free(h);
  return 0;
}


/* All interior particles of one ground-truth image, added to subset s. */
static int eval_image(const char *root, const char *set, const char *img_rel, const char *gt_rel,
                      const char *kind, subset *s) {
  char path[8192];
  snprintf(path, sizeof path, "%s/%s/%s", root, set, gt_rel);
  nm_read_opts ro;
  nm_read_opts_default(&ro);
  nm_image im = {0};
  nm_error err;
  (void)img_rel;
  if (nm_image_read_file(path, &ro, &im, &err) != NM_OK) {
    fprintf(stderr, "cnn_eval: %s\n", err.msg);
    return 1;
  }
  int w = im.width, h = im.height, count = 0;
  int32_t *lab = gt_labels(&im, !strcmp(kind, "labels"), &count);
  nm_image_free(&im);
  if (!lab) {
    fprintf(stderr, "cnn_eval: cannot label %s\n", path);
    return 1;
  }
  /* Boxes and border contact per label. */
  int *x0 = malloc(sizeof(int) * (count + 1) * 4), *y0 = x0 + count + 1, *x1 = y0 + count + 1,
      *y1 = x1 + count + 1;
  long *area = calloc(count + 1, sizeof(long));
  for (int k = 0; k <= count; k++) x0[k] = y0[k] = 1 << 30, x1[k] = y1[k] = -1;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      int k = lab[(size_t)y * w + x];
      if (k <= 0) continue;
      area[k]++;
      if (x < x0[k]) x0[k] = x;
      if (x > x1[k]) x1[k] = x;
      if (y < y0[k]) y0[k] = y;
      if (y > y1[k]) y1[k] = y;
    }
  int size = nm_cnn_input_size(net);
  size_t px = (size_t)size * size;
  float *crops = malloc(sizeof(float) * px * (count + 1)), *pred = malloc(sizeof(float) * 3 * (count + 1));
  int *ids = malloc(sizeof(int) * (count + 1)), n = 0;
  for (int k = 1; k <= count; k++) {
    if (area[k] < 20 || x0[k] == 0 || y0[k] == 0 || x1[k] == w - 1 || y1[k] == h - 1) continue;
    if (nm_crop_from_labels(lab, w, h, k, x0[k], y0[k], x1[k] - x0[k] + 1, y1[k] - y0[k] + 1, size,
                            crops + (size_t)n * px, &err) != NM_OK)
      continue;
    /* The stored form is 8-bit: quantise as particles() does. */
    uint8_t *u = malloc(px);
    nm_crop_to_u8(crops + (size_t)n * px, size, u);
    for (size_t i = 0; i < px; i++) crops[(size_t)n * px + i] = u[i] / 255.0f;
    free(u);
    ids[n++] = k;
  }
  if (n && predict(crops, (size_t)n, pred, &err) != NM_OK) {
    fprintf(stderr, "cnn_eval: %s\n", err.msg);
    return 1;
  }
  /* -D with a multi-hypothesis model: the raw hypotheses too. */
  int K = dump ? nm_cnn_heads(net) : 0;
  float *heads = K && n ? malloc(sizeof(float) * 4 * K * n) : NULL;
  if (heads && nm_cnn_predict_heads(net, crops, (size_t)n, heads, &err) != NM_OK) {
    fprintf(stderr, "cnn_eval: %s\n", err.msg);
    return 1;
  }
  for (int i = 0; i < n; i++) {
    int k = ids[i], bw = x1[k] - x0[k] + 1, bh = y1[k] - y0[k] + 1;
    uint8_t *m = malloc((size_t)bw * bh);
    for (int y = 0; y < bh; y++)
      for (int x = 0; x < bw; x++) m[y * bw + x] = lab[(size_t)(y + y0[k]) * w + x + x0[k]] == k;
    nm_fit_mask *fm = NULL;
    double jc = 0, je = 0, jo = 0, le = 0;
    if (nm_fit_mask_prepare(m, bw, bh, bw, &fm, &err) == NM_OK) {
      if (triplet_jaccard(fm, pred[i * 3], pred[i * 3 + 1], pred[i * 3 + 2], &jc, &err) != NM_OK)
        jc = 0;
      if (nm_fit_baselines(fm, &jo, &je, &le, &err) != NM_OK) je = jo = 0;
      if (dump) {
        fprintf(dump, "%s\t%s\t%d\t%ld\t%.3f\t%.3f\t%.3f\t%.4f\t%.4f\t%.3f", s->name, gt_rel, k,
                area[k], pred[i * 3], pred[i * 3 + 1], pred[i * 3 + 2], jc, je, le);
        /* then per hypothesis: p, d, Lratio, probability, its Jaccard */
        for (int q = 0; heads && q < K; q++) {
          const float *hq = heads + (size_t)i * 4 * K;
          double jq = 0;
          if (triplet_jaccard(fm, hq[3 * q], hq[3 * q + 1], hq[3 * q + 2], &jq, &err) != NM_OK)
            jq = 0;
          fprintf(dump, "\t%.3f\t%.3f\t%.3f\t%.3f\t%.4f", hq[3 * q], hq[3 * q + 1], hq[3 * q + 2],
                  hq[3 * K + q], jq);
        }
        /* then shape_fit's own seeded search (not started from the CNN): p, d, Lratio, Jaccard */
        nm_fit_opts fo;
        nm_fit_opts_default(&fo);
        nm_fit_result fr;
        if (nm_shape_fit(fm, &fo, &fr, &err) != NM_OK) memset(&fr, 0, sizeof fr);
        fprintf(dump, "\t%.3f\t%.0f\t%.3f\t%.4f\n", fr.p, fr.d, fr.lratio, fr.jaccard);
      }
      nm_fit_mask_free(fm);
    }
    free(m);
    s->jc_cnn += jc;
    s->jc_ell += je;
    s->jc_circ += jo;
    s->d3 += lround(pred[i * 3 + 1]) == 3;
    s->n++;
  }
  free(lab);
  free(x0);
  free(area);
  free(crops);
  free(pred);
  free(heads);
  free(ids);
  return 0;
}

static int eval_set(const char *root, const char *set, subset *subs, int nsub) {
  FILE *f = pairs_open(root, set);
  if (!f) {
    fprintf(stderr, "cnn_eval: cannot open %s/%s/pairs.tsv (skipped)\n", root, set);
    return 0;
  }
  pairs_row r;
  int rc = 0;
  while (!rc && pairs_next(f, &r)) {
    subset *s = &subs[0];
    for (int i = 0; i < nsub; i++)
      if (!strncmp(r.img_base, subs[i].name, strlen(subs[i].name))) s = &subs[i];
    rc = eval_image(root, set, r.img, r.gt, r.kind, s);
  }
  fclose(f);
  return rc;
}

int main(int argc, char **argv) {
  const char *model = NULL, *root = "../shared/data";
  size_t nsim = 65000;
  uint64_t seed = 42;
  int c;
  nm_sim_opts so;
  nm_sim_opts_default(&so);
  double canon_delta = -1;
  int study = 0;
  while ((c = getopt(argc, argv, "m:r:n:s:S:TD:C:R:V")) != -1) {
    if (c == 'm') model = optarg;
    else if (c == 'V') study = 1;
    else if (c == 'R') {
      if (!parse_rule(optarg, &rule_opt)) return fprintf(stderr, "cnn_eval: -R c<t> or t<T>\n"), 2;
    }
    else if (c == 'S') {
      if (!parse_sim_opts(optarg, &so)) return 2;
    } else if (c == 'T') tta = 1;
    else if (c == 'C') canon_delta = atof(optarg);
    else if (c == 'D') {
      if (!(dump = fopen(optarg, "w"))) return fprintf(stderr, "cnn_eval: cannot write %s\n", optarg), 1;
    }
    else if (c == 'r') root = optarg;
    else if (c == 'n') nsim = strtoull(optarg, NULL, 10);
    else if (c == 's') seed = strtoull(optarg, NULL, 10);
    else {
      fprintf(stderr, "usage: %s [-m model.nmm] [-r data_root] [-n sim_rows] [-s sim_seed] "
                      "[-S sim_options] [-T] [-D dump.tsv] [-C canon_delta] [-R rule] [-V]\n", argv[0]);
      return 2;
    }
  }
  nm_error err;
  if (model) {
    FILE *f = fopen(model, "rb");
    if (!f) {
      fprintf(stderr, "cnn_eval: cannot open %s\n", model);
      return 1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    size_t got = fread(b, 1, (size_t)n, f);
    fclose(f);
    if (nm_cnn_load(b, got, &net, &err) != NM_OK) {
      fprintf(stderr, "cnn_eval: %s: %s\n", model, err.msg);
      return 1;
    }
    free(b);
  } else {
    size_t n;
    const uint8_t *b = nm_cnn_default_bytes(&n);
    if (!b || nm_cnn_load(b, n, &net, &err) != NM_OK) {
      fprintf(stderr, "cnn_eval: no usable built-in model\n");
      return 1;
    }
  }

  if (rule_opt.kind && !nm_cnn_heads(net))
    return fprintf(stderr, "cnn_eval: -R needs a multi-hypothesis model\n"), 1;
  if (study) {
    int rc = study_rules(&so, nsim, seed);
    nm_cnn_free(net);
    return rc;
  }

  /* 1. simulated test split */
  int size = nm_cnn_input_size(net);
  size_t px = (size_t)size * size, nt = 0;
  for (size_t i = 0; i < nsim; i++) nt += nm_sim_split(seed, (int64_t)i) == 2;
  float *x = malloc(sizeof(float) * px * nt), *truth = malloc(sizeof(float) * 3 * nt),
        *pred = malloc(sizeof(float) * 3 * nt);
  uint8_t *u = malloc(px * nt);
  size_t k = 0;
  for (size_t i = 0; i < nsim; i++) {
    if (nm_sim_split(seed, (int64_t)i) != 2) continue;
    nm_shape s;
    if (nm_sim_example(&so, seed, (int64_t)i, &s, x + k * px, NULL, NULL, NULL, &err) != NM_OK) {
      fprintf(stderr, "cnn_eval: simulate row %zu: %s\n", i, err.msg);
      return 1;
    }
    nm_crop_to_u8(x + k * px, size, u + k * px);
    for (size_t j = 0; j < px; j++) x[k * px + j] = u[k * px + j] / 255.0f;
    truth[k * 3] = (float)s.p, truth[k * 3 + 1] = (float)s.d, truth[k * 3 + 2] = (float)s.lratio;
    k++;
  }
  char *json = NULL;
  if (predict(x, nt, pred, &err) != NM_OK ||
      nm_cnn_eval_json(pred, truth, nt, &json, &err) != NM_OK) {
    fprintf(stderr, "cnn_eval: %s\n", err.msg);
    return 1;
  }
  printf("{\"simulated_test\":%s}\n", json);
  free(json);
  if (canon_delta >= 0) {
    size_t nc = canon_labels(u, nt, size, canon_delta, truth, 2);
    if (nm_cnn_eval_json(pred, truth, nt, &json, &err) != NM_OK) {
      fprintf(stderr, "cnn_eval: %s\n", err.msg);
      return 1;
    }
    printf("{\"simulated_test_canonical\":{\"delta\":%g,\"relabelled\":%zu,\"eval\":%s}}\n", canon_delta,
           nc, json);
    free(json);
  }
  free(x);
  free(truth);
  free(pred);
  free(u);

  /* 2. real particles */
  subset at[2] = {{"tetra_", 0, 0, 0, 0, 0}, {"prism_", 0, 0, 0, 0, 0}};
  subset ms[1] = {{"msa-bf-tem", 0, 0, 0, 0, 0}};
  if (eval_set(root, "au-tetra-prism", at, 2) || eval_set(root, "msa-bf-tem", ms, 1)) return 1;
  subset *all[3] = {&at[0], &at[1], &ms[0]};
  const char *label[3] = {"tetrahedra (au-tetra-prism tetra_*)", "prisms (au-tetra-prism prism_*)",
                          "round (msa-bf-tem)"};
  printf("\n| subset | n | Jaccard CNN | Jaccard ellipse | Jaccard circle | round(d) = 3 |\n");
  printf("| --- | --- | --- | --- | --- | --- |\n");
  for (int i = 0; i < 3; i++) {
    subset *s = all[i];
    if (!s->n) continue;
    printf("| %s | %zu | %.3f | %.3f | %.3f | %.0f %% |\n", label[i], s->n, s->jc_cnn / s->n,
           s->jc_ell / s->n, s->jc_circ / s->n, 100.0 * s->d3 / s->n);
  }
  nm_cnn_free(net);
  return 0;
}
