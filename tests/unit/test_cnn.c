/*
** test_cnn.c — the CNN engine: every layer's gradient against central finite
** differences, save/load bit-exact, corrupt/truncated/foreign BLOBs refused,
** a tiny training run that lowers the loss, same seed → same bytes, and the
** fast inference path against the plain reference.
*/
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "../../ext/cnn.h"
#include "check.h"

static uint64_t lcg = 12345;
static double urand(void) {
  lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(lcg >> 11) * 0x1.0p-53;
}

/* Max relative error of the analytic gradient vs central differences over
** every parameter of a small net on n random images of size s. */
static double grad_check(const char *arch, int s, int n) {
  nm_error err;
  nm_cnn *net = NULL;
  nm_status st = nm_cnn_create(arch, s, 7, &net, &err);
  CHECK_OK(st, err);
  if (st != NM_OK) return 1e9;
  float *x = malloc(sizeof(float) * n * s * s), t[3 * 16];
  for (int i = 0; i < n * s * s; i++) x[i] = (float)urand();
  for (int i = 0; i < 3 * n; i++) t[i] = (float)(2 * urand() - 1);
  size_t np;
  float *p = nm_cnn_params(net, &np);
  /* Batch-norm γ start at 1 and β at 0: perturb so the test is generic. */
  for (size_t i = 0; i < np; i++) p[i] += (float)(0.1 * (urand() - 0.5));
  float *g = malloc(sizeof(float) * np);
  double loss;
  CHECK_OK(nm_cnn_loss_grad(net, x, t, n, &loss, g, &err), err);
  double gmax = 0;
  for (size_t i = 0; i < np; i++) gmax = fmax(gmax, fabs(g[i]));
  /* Central differences at three steps; the closest one counts. A ReLU
  ** input within a step of zero spoils that difference (it averages the
  ** two one-sided slopes), so a few isolated parameters may disagree; a
  ** wrong backward pass disagrees on most parameters of its layer. Result:
  ** the relative error of the whole gradient vector, or 1e9 when more than
  ** a tenth of the parameters disagree by over 1 %. */
  double num = 0, den = 0;
  size_t off = 0;
  for (size_t i = 0; i < np; i++) {
    float keep = p[i];
    double scale = fabs(g[i]) + 1e-2 * gmax + 1e-6, best = 1e9, bestfd = 0;
    const float steps[3] = {1e-3f, 2.5e-4f, 6e-5f};
    for (int k = 0; k < 3; k++) {
      double lp, lm;
      p[i] = keep + steps[k];
      nm_cnn_loss_grad(net, x, t, n, &lp, NULL, &err);
      p[i] = keep - steps[k];
      nm_cnn_loss_grad(net, x, t, n, &lm, NULL, &err);
      p[i] = keep;
      double fd = (lp - lm) / (2.0 * steps[k]);
      if (fabs(fd - g[i]) / scale < best) best = fabs(fd - g[i]) / scale, bestfd = fd;
    }
    if (best > 1e-2) off++;
    num += (bestfd - g[i]) * (bestfd - g[i]);
    den += (double)g[i] * g[i];
  }
  double worst = sqrt(num / (den + 1e-30));
  if (off * 10 > np) worst = 1e9;
  free(x);
  free(g);
  nm_cnn_free(net);
  return worst;
}

static void test_gradients(void) {
  /* Each arch isolates one layer kind behind a convolution so the
  ** convolution's weight gradient passes through that layer's backward. */
  const char *archs[] = {
      "c3k3,d3",                       /* conv (same padding) + dense */
      "c3k4s2p1,d3",                   /* strided conv */
      "c2k3p0,c2k3,d3",                /* conv input gradient (col2im) */
      "c3k3,b,d3",                     /* batch norm */
      "c3k3,r,d3",                     /* ReLU */
      "c3k3,a,d3",                     /* average pool */
      "c2,a,d5,b,r,d3",                /* dense → BN → dense */
      "c4k4s2p1,c4,d3",                /* strided conv input gradient */
      "c4k4s2p1,b,r,a,c4,b,r,d3",      /* a small version of the default */
      "c3k3,a,d12,h3",                 /* multi-hypothesis head */
      "c3k3,b,r,a,d8,h2",              /* head behind BN and ReLU */
  };
  for (size_t i = 0; i < sizeof archs / sizeof *archs; i++) {
    const double tol = 2e-2;
    double e = grad_check(archs[i], 8, 5);
    if (e > tol) fprintf(stderr, "gradient check %s: worst relative error %g\n", archs[i], e);
    CHECK(e <= tol);
  }
}

static nm_cnn *trained_tiny(uint64_t seed, const uint8_t *img, const float *tg, int n, int s) {
  nm_cnn_train_opts o;
  nm_cnn_train_opts_default(&o);
  o.arch = "c4k4s2p1,b,r,a,c8,b,r,a,d3";
  o.epochs = 20;
  o.batch = 16;
  o.seed = seed;
  o.val_fraction = 0.25;
  o.patience = 0;
  nm_error err;
  nm_cnn *net = NULL;
  CHECK_OK(nm_cnn_train(&o, img, (size_t)n, s, tg, NULL, NULL, &net, &err), err);
  return net;
}

/* Images whose targets are simple functions of the image: disc radius,
** brightness and elongation. */
static void make_data(int n, int s, uint8_t *img, float *tg) {
  for (int i = 0; i < n; i++) {
    double r = 2 + 5 * urand(), e = 1 + urand(), v = 0.3 + 0.7 * urand();
    for (int y = 0; y < s; y++)
      for (int x = 0; x < s; x++) {
        double dx = (x - s / 2 + 0.5) / e, dy = y - s / 2 + 0.5;
        img[(size_t)i * s * s + y * s + x] = (uint8_t)(dx * dx + dy * dy < r * r ? 255 * v : 0);
      }
    tg[i * 3 + 0] = (float)r;
    tg[i * 3 + 1] = (float)(3 * v);
    tg[i * 3 + 2] = (float)e;
  }
}

static double mse_of(const nm_cnn *net, const uint8_t *img, const float *tg, int n, int s) {
  float *x = malloc(sizeof(float) * n * s * s), *out = malloc(sizeof(float) * n * 3);
  for (int i = 0; i < n * s * s; i++) x[i] = img[i] / 255.0f;
  nm_error err;
  CHECK_OK(nm_cnn_predict(net, x, (size_t)n, 32, out, &err), err);
  float mean[3], sd[3];
  nm_cnn_standardisation(net, mean, sd);
  double se = 0;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < 3; j++) {
      double e = (out[i * 3 + j] - tg[i * 3 + j]) / sd[j];
      se += e * e;
    }
  free(x);
  free(out);
  return se / (3.0 * n);
}

static void test_training_and_io(void) {
  const int n = 256, s = 16;
  uint8_t *img = malloc((size_t)n * s * s);
  float *tg = malloc(sizeof(float) * n * 3);
  make_data(n, s, img, tg);

  /* An untrained net predicts roughly the mean: standardised MSE ≈ 1. */
  nm_error err;
  nm_cnn *fresh = NULL;
  CHECK_OK(nm_cnn_create("c4k4s2p1,b,r,a,c8,b,r,a,d3", s, 1, &fresh, &err), err);
  nm_cnn *a = trained_tiny(3, img, tg, n, s);
  if (!a || !fresh) return;
  float mean[3], sd[3];
  nm_cnn_standardisation(a, mean, sd);
  nm_cnn_set_standardisation(fresh, mean, sd);
  double before = mse_of(fresh, img, tg, n, s), after = mse_of(a, img, tg, n, s);
  fprintf(stderr, "tiny training: standardised MSE %.3f -> %.3f\n", before, after);
  CHECK(after < 0.6 * before);
  CHECK(strstr(nm_cnn_report(a), "\"curve\":[{\"epoch\":1") != NULL);

  /* Test-time augmentation: the mean of plain predictions over the 8
  ** symmetries of the square, hence the same for a crop and its transpose. */
  {
    enum { K = 5 };
    float *x = malloc(sizeof(float) * K * s * s), *xt = malloc(sizeof(float) * 8 * K * s * s);
    float o4[K * 3], o4t[K * 3], o8[8 * K * 3];
    for (int i = 0; i < K * s * s; i++) x[i] = img[i] / 255.0f;
    for (int t = 0; t < 8; t++)
      for (int k = 0; k < K; k++)
        for (int y = 0; y < s; y++)
          for (int q = 0; q < s; q++) {
            int sx = q, sy = y;
            if (t & 1) sx = y, sy = q;
            if (t & 2) sx = s - 1 - sx;
            if (t & 4) sy = s - 1 - sy;
            xt[((size_t)t * K + k) * s * s + y * s + q] = x[(size_t)k * s * s + sy * s + sx];
          }
    CHECK_OK(nm_cnn_predict_d4(a, x, K, 2, o4, &err), err);
    CHECK_OK(nm_cnn_predict(a, xt, 8 * K, 0, o8, &err), err);
    CHECK_OK(nm_cnn_predict_d4(a, xt + K * s * s, K, 0, o4t, &err), err); /* transposed */
    for (int k = 0; k < K; k++)
      for (int j = 0; j < 3; j++) {
        double m = 0;
        for (int t = 0; t < 8; t++) m += o8[((size_t)t * K + k) * 3 + j] / 8;
        CHECK_NEAR(o4[k * 3 + j], m, 1e-4 * (1 + fabs(m)));
        CHECK_NEAR(o4t[k * 3 + j], o4[k * 3 + j], 1e-4 * (1 + fabs(m)));
      }
    free(x);
    free(xt);
  }

  /* Determinism: same seed, same bytes; another seed, other bytes. */
  nm_cnn *b = trained_tiny(3, img, tg, n, s), *c = trained_tiny(4, img, tg, n, s);
  uint8_t *ba = NULL, *bb = NULL, *bc = NULL;
  size_t na = 0, nb = 0, nc = 0;
  CHECK_OK(nm_cnn_save(a, &ba, &na, &err), err);
  CHECK_OK(nm_cnn_save(b, &bb, &nb, &err), err);
  CHECK_OK(nm_cnn_save(c, &bc, &nc, &err), err);
  CHECK(na == nb && memcmp(ba, bb, na) == 0);
  CHECK(na != nc || memcmp(ba, bc, na) != 0);

  /* Save → load → save is bit-exact, and predictions agree exactly. */
  nm_cnn *l = NULL;
  CHECK_OK(nm_cnn_load(ba, na, &l, &err), err);
  uint8_t *bl = NULL;
  size_t nl = 0;
  if (l) CHECK_OK(nm_cnn_save(l, &bl, &nl, &err), err);
  CHECK(nl == na && bl && memcmp(ba, bl, na) == 0);
  if (l) CHECK(mse_of(l, img, tg, n, s) == after);

  /* Corrupt, truncated and foreign BLOBs are errors, never crashes. */
  nm_cnn *bad = NULL;
  CHECK(nm_cnn_load(ba, 0, &bad, &err) == NM_ERR_FORMAT && !bad);
  CHECK(nm_cnn_load("SQLite format 3\0 and more", 25, &bad, &err) == NM_ERR_FORMAT);
  CHECK(strstr(err.msg, "magic") != NULL);
  for (size_t cut = 8; cut < na; cut += 1 + cut / 3) {
    CHECK(nm_cnn_load(ba, cut, &bad, &err) == NM_ERR_FORMAT && !bad);
  }
  CHECK(nm_cnn_load(ba, na - 1, &bad, &err) == NM_ERR_FORMAT);
  CHECK(strstr(err.msg, "truncated") != NULL);
  int flipped_ok = 1;
  for (size_t i = 8; i < na; i += 7) {
    ba[i] ^= 0x10;
    if (nm_cnn_load(ba, na, &bad, &err) != NM_ERR_FORMAT || bad) flipped_ok = 0;
    ba[i] ^= 0x10;
  }
  CHECK(flipped_ok);
  ba[8] = 99; /* format version */
  CHECK(nm_cnn_load(ba, na, &bad, &err) == NM_ERR_FORMAT && strstr(err.msg, "version 99"));

  /* Option checks come before any work. */
  nm_cnn_train_opts o;
  nm_cnn_train_opts_default(&o);
  o.epochs = 0;
  CHECK(nm_cnn_train(&o, img, n, s, tg, NULL, NULL, &bad, &err) == NM_ERR_ARG && strstr(err.msg, "epochs"));
  nm_cnn_train_opts_default(&o);
  o.arch = "c4,x,d3";
  CHECK(nm_cnn_train(&o, img, n, s, tg, NULL, NULL, &bad, &err) == NM_ERR_ARG && strstr(err.msg, "'x'"));
  o.arch = "c4,b,r";
  CHECK(nm_cnn_create(o.arch, s, 1, &bad, &err) == NM_ERR_ARG && strstr(err.msg, "d3"));
  nm_cnn_train_opts_default(&o);
  tg[5] = NAN;
  CHECK(nm_cnn_train(&o, img, n, s, tg, NULL, NULL, &bad, &err) == NM_ERR_ARG && strstr(err.msg, "row 2"));

  free(ba);
  free(bb);
  free(bc);
  free(bl);
  nm_cnn_free(a);
  nm_cnn_free(b);
  nm_cnn_free(c);
  nm_cnn_free(l);
  nm_cnn_free(fresh);
  free(img);
  free(tg);
}

static int stop_after_two(void *ctx, double done, double total, const char *what) {
  (void)done, (void)total, (void)what;
  return ++*(int *)ctx > 2;
}

static void test_interrupt(void) {
  const int n = 64, s = 16;
  uint8_t *img = malloc((size_t)n * s * s);
  float *tg = malloc(sizeof(float) * n * 3);
  make_data(n, s, img, tg);
  nm_cnn_train_opts o;
  nm_cnn_train_opts_default(&o);
  o.arch = "c4,a,d3";
  o.batch = 8;
  int calls = 0;
  nm_progress pr = {stop_after_two, &calls};
  nm_cnn *net = NULL;
  nm_error err;
  CHECK(nm_cnn_train(&o, img, n, s, tg, NULL, &pr, &net, &err) == NM_ERR_INTERRUPTED && !net);
  free(img);
  free(tg);
}

/* A model with the given arch and random weights, batch-norm γ/β and
** running statistics (patched into its BLOB; the checksum recomputed). */
static nm_cnn *random_model(const char *arch, int s, uint64_t seed) {
  nm_error err;
  nm_cnn *net = NULL;
  CHECK_OK(nm_cnn_create(arch, s, seed, &net, &err), err);
  if (!net) return NULL;
  size_t np;
  float *p = nm_cnn_params(net, &np);
  for (size_t i = 0; i < np; i++) p[i] += (float)(0.2 * (urand() - 0.5));
  const float mean[3] = {5.0f, 3.0f, 1.2f}, sd[3] = {4.0f, 1.5f, 0.3f};
  nm_cnn_set_standardisation(net, mean, sd);
  uint8_t *b = NULL;
  size_t n = 0;
  CHECK_OK(nm_cnn_save(net, &b, &n, &err), err);
  nm_cnn_free(net);
  net = NULL;
  if (!b) return NULL;
  /* layout: magic 8, 4 u32, arch, 6 f32, u32 np, params, u32 ns, stats */
  size_t alen = strlen(arch), off = 8 + 16 + alen + 24;
  off += 4 + np * 4;
  uint32_t ns = (uint32_t)b[off] | (uint32_t)b[off + 1] << 8 | (uint32_t)b[off + 2] << 16 |
                (uint32_t)b[off + 3] << 24;
  off += 4;
  /* running means and variances: every value from [0.05, 1.05], valid as
  ** either */
  for (uint32_t i = 0; i < ns; i++) {
    float v = (float)(0.05 + urand());
    memcpy(b + off + 4 * i, &v, 4);
  }
  uint32_t h = 2166136261u;
  for (size_t i = 0; i + 4 < n; i++) h = (h ^ b[i]) * 16777619u;
  for (int k = 0; k < 4; k++) b[n - 4 + k] = (uint8_t)(h >> (8 * k));
  CHECK_OK(nm_cnn_load(b, n, &net, &err), err);
  free(b);
  return net;
}

/* The fast inference path (batch-norm folded into the weights, NHWC, fused
** bias/ReLU/pool epilogue, micro-batches over threads) against the plain
** layer-by-layer reference, on random weights and statistics: every output
** within 1e-4 relative, for several batch caps and a count that is not a
** multiple of the micro-batch (so the threads get unequal shares). */
static void test_fast_path(void) {
  static const struct {
    const char *arch;
    int size;
  } nets[] = {
      {"c8,b,r,a,c16,b,r,a,c32,b,r,c32,b,r,d3", 44}, /* the paper's */
      {NM_CNN_DEFAULT_ARCH, 64},
      {"c4k5s2,r,b,a,c6k1p0,b,d8,r,d3", 23},         /* strides, 1x1, odd sizes, lone BN */
      {"a,b,c5k3p0,a,r,c7k2,b,d3", 18},               /* pool first, no-ReLU pool, even kernel */
      {"a,c6,b,r,a,c8,b,r,a,d20,h5", 32},             /* multi-hypothesis head */
  };
  nm_error err;
  for (size_t q = 0; q < sizeof nets / sizeof *nets; q++) {
    nm_cnn *net = random_model(nets[q].arch, nets[q].size, 11 + q);
    if (!net) continue;
    const int n = 37, s = nets[q].size;
    float *x = malloc(sizeof(float) * n * s * s), ref[3 * 37], fast[3 * 37];
    for (int i = 0; i < n * s * s; i++) x[i] = (float)urand();
    CHECK_OK(nm_cnn_predict_reference(net, x, n, 0, ref, &err), err);
    const int caps[3] = {0, 3, 1};
    for (int c = 0; c < 3; c++) {
      CHECK_OK(nm_cnn_predict(net, x, n, caps[c], fast, &err), err);
      double worst = 0;
      for (int i = 0; i < 3 * n; i++) {
        double e = fabs(fast[i] - ref[i]) / (1 + fabs(ref[i]));
        if (!(e <= worst)) worst = e;
      }
      CHECK_NEAR(worst, 0, 1e-4);
    }
    /* one thread (OpenBLAS's count decides) gives the same bytes */
    int threads = openblas_get_num_threads();
    float one[3 * 37];
    openblas_set_num_threads(1);
    CHECK_OK(nm_cnn_predict(net, x, n, 0, one, &err), err);
    openblas_set_num_threads(threads);
    CHECK_OK(nm_cnn_predict(net, x, n, 0, fast, &err), err);
    CHECK(memcmp(one, fast, sizeof one) == 0);
    /* one image alone gives the same as inside a batch */
    CHECK_OK(nm_cnn_predict(net, x + 20 * s * s, 1, 0, fast, &err), err);
    for (int j = 0; j < 3; j++) CHECK_NEAR(fast[j], ref[20 * 3 + j], 1e-4 * (1 + fabs(ref[20 * 3 + j])));
    /* the cached plan follows weights changed through nm_cnn_params */
    size_t np;
    float *w = nm_cnn_params(net, &np);
    for (size_t i = 0; i < np; i++) w[i] *= 0.9f;
    CHECK_OK(nm_cnn_predict_reference(net, x, 5, 0, ref, &err), err);
    CHECK_OK(nm_cnn_predict(net, x, 5, 0, fast, &err), err);
    for (int i = 0; i < 15; i++) CHECK_NEAR(fast[i], ref[i], 1e-4 * (1 + fabs(ref[i])));
    free(x);
    nm_cnn_free(net);
  }
}

/* The raw head (nm_cnn_predict_heads) and the engine's answer agree: the
** answer is the mean of the hypotheses weighted by the probabilities squared
** (cnn.c, HEAD_TEMP 0.5); a net without a head is refused. */
static void test_heads(void) {
  nm_error err;
  nm_cnn *net = random_model("a,c6,b,r,a,c8,b,r,a,d20,h5", 32, 5);
  if (!net) return;
  CHECK(nm_cnn_heads(net) == 5);
  const int n = 9, K = 5;
  float *x = malloc(sizeof(float) * n * 32 * 32), h[9 * 4 * 5], ans[9 * 3];
  for (int i = 0; i < n * 32 * 32; i++) x[i] = (float)urand();
  CHECK_OK(nm_cnn_predict_heads(net, x, n, h, &err), err);
  CHECK_OK(nm_cnn_predict_reference(net, x, n, 0, ans, &err), err);
  for (int i = 0; i < n; i++) {
    const float *o = h + i * 4 * K;
    double ps = 0, ws = 0, m[3] = {0};
    for (int q = 0; q < K; q++) {
      ps += o[3 * K + q];
      double w = (double)o[3 * K + q] * o[3 * K + q];
      ws += w;
      for (int j = 0; j < 3; j++) m[j] += w * o[3 * q + j];
    }
    CHECK_NEAR(ps, 1, 1e-5);
    for (int j = 0; j < 3; j++) CHECK_NEAR(ans[i * 3 + j], m[j] / ws, 1e-4 * (1 + fabs(m[j] / ws)));
  }
  free(x);
  nm_cnn_free(net);
  net = random_model("c4,b,r,a,d3", 16, 6);
  if (net) {
    float y[16 * 16], o[4];
    memset(y, 0, sizeof y);
    CHECK(nm_cnn_heads(net) == 0);
    CHECK(nm_cnn_predict_heads(net, y, 1, o, &err) == NM_ERR_ARG);
    CHECK(strstr(err.msg, "head") != NULL);
    nm_cnn_free(net);
  }
}

static void test_default_model(void) {
  size_t n = 0;
  const uint8_t *b = nm_cnn_default_bytes(&n);
  CHECK(b != NULL && n > 100);
  nm_cnn *net = NULL;
  nm_error err;
  if (b) CHECK_OK(nm_cnn_load(b, n, &net, &err), err);
  if (net) {
    CHECK(nm_cnn_input_size(net) == 64);
    nm_cnn_free(net);
  }
}

int main(void) {
  test_gradients();
  test_training_and_io();
  test_interrupt();
  test_fast_path();
  test_heads();
  test_default_model();
  return check_summary("test_cnn");
}
