/*
** cnn.c — the shape CNN (see cnn.h for the contract and the BLOB format).
**
** Activations of a batch are stored [channel][image][row][col]: an im2col
** matrix of the whole batch then has one column per output pixel of every
** image, and a layer is a single sgemm. Reductions that decide the bytes of
** a trained model (batch-norm sums, bias gradients, col2im) are plain ordered
** C loops in double precision, so they do not depend on thread scheduling.
*/
#include "cnn.h"

#include <cblas.h>
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crop.h"
#include "rng.h"

enum { L_CONV, L_BN, L_RELU, L_AVG, L_DENSE };

typedef struct layer {
  int type;
  int ic, ih, iw, oc, oh, ow;
  int k, s, pad;
  size_t w, nw, b, nb; /* offsets/counts in params (BN: gamma, beta) */
  size_t st;           /* BN: running mean at st, running var at st+oc */
} layer;

struct nm_cnn {
  int size;
  int crop_version;
  int nl;
  layer L[NM_CNN_MAX_LAYERS];
  char arch[256];
  float *params;
  size_t np;
  float *stats;
  size_t ns;
  float tmean[3], tstd[3];
  int heads;           /* 0: the last layer is the triplet; K >= 2: K
                          hypotheses + K selector logits (cnn.h, "h<K>") */
  char *report;
  /* Inference cache, built on the first nm_cnn_predict and kept until the
  ** model is freed or its parameters are handed out (nm_cnn_params): the
  ** folded plan (shared read-only by every caller) and one set of scratch
  ** buffers, lent to one caller thread at a time (others allocate their
  ** own). A single-row prediction otherwise spent ~15 % of its time
  ** refolding batch-norm and allocating. */
  pthread_mutex_t mu, scratch_mu;
  struct plan *fast;
  float *scratch;
};

#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f
#define MAX_PARAMS ((size_t)1 << 26)

/* ---------- architecture ---------- */

static int read_int(const char **p, int *v) {
  if (!isdigit((unsigned char)**p)) return 0;
  long x = 0;
  while (isdigit((unsigned char)**p)) {
    x = x * 10 + (**p - '0');
    if (x > 100000) return 0;
    (*p)++;
  }
  *v = (int)x;
  return 1;
}

/* Parses arch for size×size inputs into net->L, counting params and stats. */
static nm_status parse_arch(nm_cnn *net, const char *arch, int size, nm_error *err) {
  if (!arch || !arch[0]) return nm_fail(err, NM_ERR_ARG, "arch is empty");
  if (strlen(arch) >= sizeof net->arch)
    return nm_fail(err, NM_ERR_ARG, "arch is longer than %zu characters", sizeof net->arch - 1);
  if (size < 4 || size > 1024)
    return nm_fail(err, NM_ERR_ARG, "input size %d is out of range 4..1024", size);
  strcpy(net->arch, arch);
  net->size = size;
  net->nl = 0;
  net->heads = 0;
  net->np = net->ns = 0;
  int c = 1, h = size, w = size;
  const char *p = arch;
  while (*p) {
    const char *tok = p;
    if (net->nl >= NM_CNN_MAX_LAYERS)
      return nm_fail(err, NM_ERR_ARG, "arch has more than %d layers", NM_CNN_MAX_LAYERS);
    if (*p == 'h') {
      /* The multi-hypothesis head: not a layer, a reading of the last one. */
      int K = 0;
      p++;
      if (!read_int(&p, &K) || *p || K < 2 || K > NM_CNN_MAX_HEADS)
        return nm_fail(err, NM_ERR_ARG, "arch: 'h<K>' must be the last item, K in 2..%d", NM_CNN_MAX_HEADS);
      net->heads = K;
      break;
    }
    layer *L = &net->L[net->nl];
    memset(L, 0, sizeof *L);
    L->ic = c, L->ih = h, L->iw = w;
    char t = *p++;
    int ok = 1;
    if (t == 'c') {
      int F = 0, K = 3, S = 1, P = -1;
      ok = read_int(&p, &F);
      while (ok && (*p == 'k' || *p == 's' || *p == 'p')) {
        char q = *p++;
        ok = read_int(&p, q == 'k' ? &K : q == 's' ? &S : &P);
      }
      if (P < 0) P = K / 2;
      if (ok && (F < 1 || F > 1024 || K < 1 || K > 11 || S < 1 || S > 4 || P >= K)) ok = 0;
      if (ok) {
        L->type = L_CONV;
        L->k = K, L->s = S, L->pad = P;
        L->oc = F;
        L->oh = (h + 2 * P - K) / S + 1;
        L->ow = (w + 2 * P - K) / S + 1;
        if (h + 2 * P < K || L->oh < 1 || L->ow < 1)
          return nm_fail(err, NM_ERR_ARG, "arch layer %d: convolution on %dx%d leaves nothing", net->nl + 1, h, w);
        L->nw = (size_t)F * c * K * K;
        L->nb = (size_t)F;
      }
    } else if (t == 'b') {
      L->type = L_BN;
      L->oc = c, L->oh = h, L->ow = w;
      L->nw = L->nb = (size_t)c;
      L->st = net->ns;
      net->ns += 2 * (size_t)c;
    } else if (t == 'r') {
      L->type = L_RELU;
      L->oc = c, L->oh = h, L->ow = w;
    } else if (t == 'a') {
      if (h < 2 || w < 2)
        return nm_fail(err, NM_ERR_ARG, "arch layer %d: cannot pool a %dx%d map", net->nl + 1, h, w);
      L->type = L_AVG;
      L->oc = c, L->oh = h / 2, L->ow = w / 2;
    } else if (t == 'd') {
      int N = 0;
      ok = read_int(&p, &N) && N >= 1 && N <= 4096;
      if (ok) {
        L->type = L_DENSE;
        L->oc = N, L->oh = 1, L->ow = 1;
        L->nw = (size_t)N * c * h * w;
        L->nb = (size_t)N;
      }
    } else {
      ok = 0;
    }
    if (ok && *p && *p != ',') ok = 0;
    if (!ok) {
      int len = 0;
      while (tok[len] && tok[len] != ',') len++;
      return nm_fail(err, NM_ERR_ARG, "arch: cannot read layer '%.*s' (layers: c<F>[k<K>][s<S>][p<P>], b, r, a, d<N>; last: h<K>)",
                     len > 40 ? 40 : len, tok);
    }
    if (*p == ',') p++;
    L->w = net->np;
    L->b = net->np + L->nw;
    net->np += L->nw + L->nb;
    if (net->np > MAX_PARAMS) return nm_fail(err, NM_ERR_TOOBIG, "arch has more than %zu weights", MAX_PARAMS);
    if ((size_t)L->oc * L->oh * L->ow > ((size_t)1 << 22))
      return nm_fail(err, NM_ERR_TOOBIG, "arch layer %d output is too large", net->nl + 1);
    c = L->oc, h = L->oh, w = L->ow;
    net->nl++;
  }
  if (net->nl == 0) return nm_fail(err, NM_ERR_ARG, "arch is empty");
  const layer *last = &net->L[net->nl - 1];
  if (net->heads) {
    if (last->type != L_DENSE || last->oc != (NM_CNN_OUTPUTS + 1) * net->heads)
      return nm_fail(err, NM_ERR_ARG, "arch: h%d needs a last dense layer d%d (%d triplets + %d selector outputs)",
                     net->heads, (NM_CNN_OUTPUTS + 1) * net->heads, net->heads, net->heads);
    return NM_OK;
  }
  if (last->type != L_DENSE || last->oc != NM_CNN_OUTPUTS)
    return nm_fail(err, NM_ERR_ARG, "arch must end with d3 (the outputs p, d, Lratio)");
  return NM_OK;
}

static nm_cnn *cnn_alloc(const char *arch, int size, nm_error *err) {
  nm_cnn *net = nm_calloc(1, sizeof *net, err);
  if (!net) return NULL;
  if (parse_arch(net, arch, size, err) != NM_OK) {
    free(net);
    return NULL;
  }
  pthread_mutex_init(&net->mu, NULL);
  pthread_mutex_init(&net->scratch_mu, NULL);
  net->crop_version = NM_CROP_VERSION;
  net->params = nm_calloc(net->np, sizeof(float), err);
  net->stats = nm_calloc(net->ns ? net->ns : 1, sizeof(float), err);
  net->report = nm_calloc(3, 1, err);
  if (!net->params || !net->stats || !net->report) {
    nm_cnn_free(net);
    return NULL;
  }
  strcpy(net->report, "{}");
  for (int i = 0; i < 3; i++) net->tmean[i] = 0, net->tstd[i] = 1;
  return net;
}

nm_status nm_cnn_create(const char *arch, int size, uint64_t seed, nm_cnn **out,
                        nm_error *err) {
  *out = NULL;
  nm_cnn *net = cnn_alloc(arch ? arch : NM_CNN_DEFAULT_ARCH, size, err);
  if (!net) return err ? err->code : NM_ERR_ARG;
  nm_rng r;
  nm_rng_seed2(&r, seed, 1); /* stream 1: initial weights */
  for (int l = 0; l < net->nl; l++) {
    layer *L = &net->L[l];
    if (L->type == L_CONV || L->type == L_DENSE) {
      /* He initialisation: fan-in of one output. */
      double fan = (double)L->nw / (double)L->oc;
      double sd = sqrt(2.0 / fan);
      if (l == net->nl - 1) sd = sqrt(1.0 / fan);
      for (size_t i = 0; i < L->nw; i++) net->params[L->w + i] = (float)(sd * nm_rng_normal(&r));
    } else if (L->type == L_BN) {
      for (int c = 0; c < L->oc; c++) {
        net->params[L->w + c] = 1.0f;
        net->stats[L->st + L->oc + c] = 1.0f;
      }
    }
  }
  *out = net;
  return NM_OK;
}

static void cache_drop(nm_cnn *net);

void nm_cnn_free(nm_cnn *net) {
  if (!net) return;
  cache_drop(net);
  pthread_mutex_destroy(&net->mu);
  pthread_mutex_destroy(&net->scratch_mu);
  free(net->params);
  free(net->stats);
  free(net->report);
  free(net);
}

int nm_cnn_input_size(const nm_cnn *net) { return net->size; }
int nm_cnn_crop_version(const nm_cnn *net) { return net->crop_version; }
const char *nm_cnn_arch(const nm_cnn *net) { return net->arch; }
const char *nm_cnn_report(const nm_cnn *net) { return net->report; }

size_t nm_cnn_weight_count(const nm_cnn *net) { return net->np; }

double nm_cnn_macs(const nm_cnn *net) {
  double m = 0;
  for (int l = 0; l < net->nl; l++) {
    const layer *L = &net->L[l];
    if (L->type == L_CONV || L->type == L_DENSE)
      m += (double)L->nw * L->oh * L->ow;
  }
  return m;
}

void nm_cnn_standardisation(const nm_cnn *net, float mean[3], float std[3]) {
  for (int i = 0; i < 3; i++) mean[i] = net->tmean[i], std[i] = net->tstd[i];
}

void nm_cnn_set_standardisation(nm_cnn *net, const float mean[3], const float std[3]) {
  for (int i = 0; i < 3; i++) net->tmean[i] = mean[i], net->tstd[i] = std[i];
}

float *nm_cnn_params(nm_cnn *net, size_t *count) {
  cache_drop(net); /* the caller may change the weights */
  *count = net->np;
  return net->params;
}

/* ---------- workspace ---------- */

typedef struct ws {
  int cap;                       /* images per batch */
  int train;                     /* keeps every activation */
  float *act[NM_CNN_MAX_LAYERS + 1];
  float *ping, *pong;            /* inference: two alternating buffers */
  float *g0, *g1;                /* backward: gradient ping-pong */
  float *col;
  float *flat;
  double *bn_mean, *bn_inv;      /* per BN channel, indexed by L->st/2 */
} ws;

static size_t act_size(const layer *L) { return (size_t)L->oc * L->oh * L->ow; }

static void ws_free(ws *w) {
  for (int i = 0; i <= NM_CNN_MAX_LAYERS; i++) free(w->act[i]);
  free(w->ping);
  free(w->pong);
  free(w->g0);
  free(w->g1);
  free(w->col);
  free(w->flat);
  free(w->bn_mean);
  free(w->bn_inv);
  memset(w, 0, sizeof *w);
}

static nm_status ws_init(ws *w, const nm_cnn *net, int cap, int train, nm_error *err) {
  memset(w, 0, sizeof *w);
  w->cap = cap;
  w->train = train;
  size_t maxact = (size_t)net->size * net->size, maxcol = 1, maxflat = 1;
  for (int l = 0; l < net->nl; l++) {
    const layer *L = &net->L[l];
    if (act_size(L) > maxact) maxact = act_size(L);
    if (L->type == L_CONV) {
      size_t c = (size_t)L->ic * L->k * L->k * L->oh * L->ow;
      if (c > maxcol) maxcol = c;
    }
    if (L->type == L_DENSE) {
      size_t d = (size_t)L->ic * L->ih * L->iw;
      if (d > maxflat) maxflat = d;
      if (d > maxcol) maxcol = d;
    }
  }
  if (train) {
    for (int l = 0; l < net->nl; l++) {
      w->act[l + 1] = nm_malloc(act_size(&net->L[l]) * cap, sizeof(float), err);
      if (!w->act[l + 1]) goto fail;
    }
    w->g0 = nm_malloc(maxact * cap, sizeof(float), err);
    w->g1 = nm_malloc(maxact * cap, sizeof(float), err);
    w->bn_mean = nm_calloc(net->ns / 2 + 1, sizeof(double), err);
    w->bn_inv = nm_calloc(net->ns / 2 + 1, sizeof(double), err);
    if (!w->g0 || !w->g1 || !w->bn_mean || !w->bn_inv) goto fail;
  } else {
    w->ping = nm_malloc(maxact * cap, sizeof(float), err);
    w->pong = nm_malloc(maxact * cap, sizeof(float), err);
    if (!w->ping || !w->pong) goto fail;
  }
  w->col = nm_malloc(maxcol * cap, sizeof(float), err);
  w->flat = nm_malloc(maxflat * cap, sizeof(float), err);
  if (!w->col || !w->flat) goto fail;
  return NM_OK;
fail:
  ws_free(w);
  return err ? err->code : NM_ERR_NOMEM;
}

/* ---------- layer kernels ---------- */

static void im2col(const float *in, int C, int nb, int H, int W, int K, int S,
                   int P, int OH, int OW, float *col) {
  size_t N = (size_t)nb * OH * OW;
  for (int c = 0; c < C; c++)
    for (int ky = 0; ky < K; ky++)
      for (int kx = 0; kx < K; kx++) {
        float *dst = col + ((size_t)(c * K + ky) * K + kx) * N;
        for (int b = 0; b < nb; b++) {
          const float *src = in + ((size_t)c * nb + b) * H * W;
          for (int oy = 0; oy < OH; oy++) {
            int iy = oy * S - P + ky;
            if (iy < 0 || iy >= H) {
              memset(dst, 0, sizeof(float) * OW);
              dst += OW;
              continue;
            }
            const float *row = src + (size_t)iy * W;
            if (S == 1) {
              int ox = 0;
              for (; ox < OW && ox - P + kx < 0; ox++) *dst++ = 0;
              int hi = W + P - kx; /* first ox with ix >= W */
              if (hi > OW) hi = OW;
              if (hi > ox) {
                memcpy(dst, row + ox - P + kx, sizeof(float) * (hi - ox));
                dst += hi - ox;
                ox = hi;
              }
              for (; ox < OW; ox++) *dst++ = 0;
            } else {
              for (int ox = 0; ox < OW; ox++) {
                int ix = ox * S - P + kx;
                *dst++ = (ix >= 0 && ix < W) ? row[ix] : 0.0f;
              }
            }
          }
        }
      }
}

static void col2im(const float *col, int C, int nb, int H, int W, int K, int S,
                   int P, int OH, int OW, float *in) {
  size_t N = (size_t)nb * OH * OW;
  memset(in, 0, sizeof(float) * (size_t)C * nb * H * W);
  for (int c = 0; c < C; c++)
    for (int ky = 0; ky < K; ky++)
      for (int kx = 0; kx < K; kx++) {
        const float *src = col + ((size_t)(c * K + ky) * K + kx) * N;
        for (int b = 0; b < nb; b++) {
          float *dst = in + ((size_t)c * nb + b) * H * W;
          for (int oy = 0; oy < OH; oy++) {
            int iy = oy * S - P + ky;
            if (iy < 0 || iy >= H) {
              src += OW;
              continue;
            }
            float *row = dst + (size_t)iy * W;
            if (S == 1) {
              int lo = P - kx > 0 ? P - kx : 0, hi = W + P - kx < OW ? W + P - kx : OW;
              float *r = row - P + kx;
              for (int ox = lo; ox < hi; ox++) r[ox] += src[ox];
              src += OW;
            } else {
              for (int ox = 0; ox < OW; ox++, src++) {
                int ix = ox * S - P + kx;
                if (ix >= 0 && ix < W) row[ix] += *src;
              }
            }
          }
        }
      }
}

static void conv_forward(const nm_cnn *net, const layer *L, const float *in, int nb,
                         float *col, float *out) {
  int Kc = L->ic * L->k * L->k;
  int N = nb * L->oh * L->ow;
  im2col(in, L->ic, nb, L->ih, L->iw, L->k, L->s, L->pad, L->oh, L->ow, col);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L->oc, N, Kc, 1.0f,
              net->params + L->w, Kc, col, N, 0.0f, out, N);
}

/* Adds the bias, then (inference) the folded batch-norm affine and ReLU. */
static void channel_affine(float *x, int C, size_t N, const float *scale,
                           const float *shift, int relu) {
  for (int c = 0; c < C; c++) {
    float a = scale ? scale[c] : 1.0f, b = shift[c];
    float *v = x + (size_t)c * N;
    if (relu)
      for (size_t i = 0; i < N; i++) {
        float y = v[i] * a + b;
        v[i] = y > 0 ? y : 0;
      }
    else
      for (size_t i = 0; i < N; i++) v[i] = v[i] * a + b;
  }
}

static void avg_forward(const layer *L, const float *in, int nb, float *out) {
  size_t planes = (size_t)L->ic * nb;
  int H = L->ih, W = L->iw, OH = L->oh, OW = L->ow;
  for (size_t p = 0; p < planes; p++) {
    const float *s = in + p * H * W;
    float *d = out + p * OH * OW;
    for (int y = 0; y < OH; y++) {
      const float *r0 = s + (size_t)(2 * y) * W, *r1 = r0 + W;
      for (int x = 0; x < OW; x++)
        d[y * OW + x] = 0.25f * (r0[2 * x] + r0[2 * x + 1] + r1[2 * x] + r1[2 * x + 1]);
    }
  }
}

static void avg_backward(const layer *L, const float *dout, int nb, float *din) {
  size_t planes = (size_t)L->ic * nb;
  int H = L->ih, W = L->iw, OH = L->oh, OW = L->ow;
  memset(din, 0, sizeof(float) * planes * H * W);
  for (size_t p = 0; p < planes; p++) {
    const float *s = dout + p * OH * OW;
    float *d = din + p * H * W;
    for (int y = 0; y < OH; y++) {
      float *r0 = d + (size_t)(2 * y) * W, *r1 = r0 + W;
      for (int x = 0; x < OW; x++) {
        float g = 0.25f * s[y * OW + x];
        r0[2 * x] = r0[2 * x + 1] = r1[2 * x] = r1[2 * x + 1] = g;
      }
    }
  }
}

/* [C][nb][HW] → [C*HW][nb], the dense layer's input matrix. */
static void flatten(const layer *L, const float *in, int nb, float *flat) {
  int HW = L->ih * L->iw;
  for (int c = 0; c < L->ic; c++)
    for (int b = 0; b < nb; b++) {
      const float *s = in + ((size_t)c * nb + b) * HW;
      for (int k = 0; k < HW; k++) flat[((size_t)c * HW + k) * nb + b] = s[k];
    }
}

static void unflatten(const layer *L, const float *flat, int nb, float *out) {
  int HW = L->ih * L->iw;
  for (int c = 0; c < L->ic; c++)
    for (int b = 0; b < nb; b++) {
      float *d = out + ((size_t)c * nb + b) * HW;
      for (int k = 0; k < HW; k++) d[k] = flat[((size_t)c * HW + k) * nb + b];
    }
}

static void dense_forward(const nm_cnn *net, const layer *L, const float *in, int nb,
                          float *flat, float *out) {
  int D = L->ic * L->ih * L->iw;
  const float *X = in;
  if (L->ih * L->iw != 1) {
    flatten(L, in, nb, flat);
    X = flat;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L->oc, nb, D, 1.0f,
              net->params + L->w, D, X, nb, 0.0f, out, nb);
  channel_affine(out, L->oc, (size_t)nb, NULL, net->params + L->b, 0);
}

/* Batch-norm over each channel's nb*H*W values, batch statistics. */
/* Sums in 16 float lanes, combined in double at the end: vectorisable, and
** the order of additions is fixed, so results do not depend on the machine's
** vector width or on threads. */
#define LANES 16
static double lane_sum(const float *x, size_t n) {
  float acc[LANES] = {0};
  size_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int k = 0; k < LANES; k++) acc[k] += x[i + k];
  double s = 0;
  for (int k = 0; k < LANES; k++) s += acc[k];
  for (; i < n; i++) s += x[i];
  return s;
}

static double lane_sqdev(const float *x, size_t n, float mean) {
  float acc[LANES] = {0};
  size_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int k = 0; k < LANES; k++) {
      float d = x[i + k] - mean;
      acc[k] += d * d;
    }
  double s = 0;
  for (int k = 0; k < LANES; k++) s += acc[k];
  for (; i < n; i++) s += (double)(x[i] - mean) * (x[i] - mean);
  return s;
}

/* Σ dy and Σ dy·(x − mean). */
static void lane_dot(const float *dy, const float *x, size_t n, float mean, double *sdy,
                     double *sdyx) {
  float a1[LANES] = {0}, a2[LANES] = {0};
  size_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int k = 0; k < LANES; k++) {
      a1[k] += dy[i + k];
      a2[k] += dy[i + k] * (x[i + k] - mean);
    }
  double s1 = 0, s2 = 0;
  for (int k = 0; k < LANES; k++) s1 += a1[k], s2 += a2[k];
  for (; i < n; i++) s1 += dy[i], s2 += (double)dy[i] * (x[i] - mean);
  *sdy = s1;
  *sdyx = s2;
}

/* Batch-norm over each channel's nb*H*W values, batch statistics. */
static void bn_forward_train(nm_cnn *net, const layer *L, const float *in, int nb,
                             float *out, ws *w, int update) {
  size_t N = (size_t)nb * L->oh * L->ow;
  const float *g = net->params + L->w, *be = net->params + L->b;
  for (int c = 0; c < L->oc; c++) {
    const float *x = in + c * N;
    double mean = lane_sum(x, N) / (double)N;
    double ss = lane_sqdev(x, N, (float)mean);
    double var = ss / (double)N;
    double inv = 1.0 / sqrt(var + BN_EPS);
    w->bn_mean[L->st / 2 + c] = mean;
    w->bn_inv[L->st / 2 + c] = inv;
    float a = (float)(g[c] * inv), b = (float)(be[c] - g[c] * inv * mean);
    float *y = out + c * N;
    for (size_t i = 0; i < N; i++) y[i] = x[i] * a + b;
    if (update) {
      float *rm = net->stats + L->st, *rv = net->stats + L->st + L->oc;
      double unbiased = N > 1 ? ss / (double)(N - 1) : var;
      rm[c] = (float)((1 - BN_MOMENTUM) * rm[c] + BN_MOMENTUM * mean);
      rv[c] = (float)((1 - BN_MOMENTUM) * rv[c] + BN_MOMENTUM * unbiased);
    }
  }
}

static void bn_backward(const nm_cnn *net, const layer *L, const float *in,
                        const float *dout, int nb, float *din, float *grad, const ws *w) {
  size_t N = (size_t)nb * L->oh * L->ow;
  const float *g = net->params + L->w;
  for (int c = 0; c < L->oc; c++) {
    const float *x = in + c * N, *dy = dout + c * N;
    double mean = w->bn_mean[L->st / 2 + c], inv = w->bn_inv[L->st / 2 + c];
    double sdy, sdxm;
    lane_dot(dy, x, N, (float)mean, &sdy, &sdxm);
    double sdyx = sdxm * inv;
    grad[L->w + c] = (float)sdyx;
    grad[L->b + c] = (float)sdy;
    if (din) {
      /* dx = γ·inv·(dy − mean(dy) − x̂·mean(dy·x̂)), x̂ = (x − mean)·inv */
      float *dx = din + c * N;
      float k = (float)(g[c] * inv), m1 = (float)(sdy / (double)N);
      float k2 = (float)(sdyx / (double)N * inv), fm = (float)mean;
      for (size_t i = 0; i < N; i++) dx[i] = k * (dy[i] - m1 - (x[i] - fm) * k2);
    }
  }
}

/* ---------- forward passes ---------- */

/* Inference: conv/dense → bias (+ batch-norm affine) (+ ReLU) fused. x holds
** nb images; returns a pointer to the [3][nb] output inside w. */
static const float *forward_eval(const nm_cnn *net, const float *x, int nb, ws *w) {
  const float *cur = x;
  float *bufs[2] = {w->ping, w->pong};
  int which = 0;
  float scale[1024], shift[1024];
  for (int l = 0; l < net->nl; l++) {
    const layer *L = &net->L[l];
    float *dst = bufs[which];
    size_t N = (size_t)nb * L->oh * L->ow;
    if (L->type == L_CONV) {
      conv_forward(net, L, cur, nb, w->col, dst);
      const float *bias = net->params + L->b;
      int relu = 0, skip = 0;
      if (l + 1 < net->nl && net->L[l + 1].type == L_BN) {
        const layer *B = &net->L[l + 1];
        const float *g = net->params + B->w, *be = net->params + B->b;
        const float *rm = net->stats + B->st, *rv = net->stats + B->st + B->oc;
        for (int c = 0; c < L->oc; c++) {
          float inv = 1.0f / sqrtf(rv[c] + BN_EPS);
          scale[c] = g[c] * inv;
          shift[c] = (bias[c] - rm[c]) * scale[c] + be[c];
        }
        skip = 1;
        if (l + 2 < net->nl && net->L[l + 2].type == L_RELU) relu = 1, skip = 2;
        channel_affine(dst, L->oc, N, scale, shift, relu);
      } else {
        if (l + 1 < net->nl && net->L[l + 1].type == L_RELU) relu = 1, skip = 1;
        channel_affine(dst, L->oc, N, NULL, bias, relu);
      }
      l += skip;
    } else if (L->type == L_BN) {
      const float *g = net->params + L->w, *be = net->params + L->b;
      const float *rm = net->stats + L->st, *rv = net->stats + L->st + L->oc;
      for (int c = 0; c < L->oc; c++) {
        float inv = 1.0f / sqrtf(rv[c] + BN_EPS);
        scale[c] = g[c] * inv;
        shift[c] = be[c] - rm[c] * scale[c];
      }
      memcpy(dst, cur, sizeof(float) * N * L->oc);
      channel_affine(dst, L->oc, N, scale, shift, 0);
    } else if (L->type == L_RELU) {
      size_t n = N * L->oc;
      for (size_t i = 0; i < n; i++) dst[i] = cur[i] > 0 ? cur[i] : 0;
    } else if (L->type == L_AVG) {
      avg_forward(L, cur, nb, dst);
    } else {
      dense_forward(net, L, cur, nb, w->flat, dst);
    }
    cur = dst;
    which ^= 1;
  }
  return cur;
}

/* Training-mode forward; every layer output kept in w->act[l+1]. */
static void forward_train(nm_cnn *net, const float *x, int nb, ws *w, int update) {
  w->act[0] = (float *)x;
  for (int l = 0; l < net->nl; l++) {
    const layer *L = &net->L[l];
    const float *in = w->act[l];
    float *out = w->act[l + 1];
    size_t N = (size_t)nb * L->oh * L->ow;
    switch (L->type) {
      case L_CONV:
        conv_forward(net, L, in, nb, w->col, out);
        channel_affine(out, L->oc, N, NULL, net->params + L->b, 0);
        break;
      case L_BN:
        bn_forward_train(net, L, in, nb, out, w, update);
        break;
      case L_RELU:
        for (size_t i = 0; i < N * L->oc; i++) out[i] = in[i] > 0 ? in[i] : 0;
        break;
      case L_AVG:
        avg_forward(L, in, nb, out);
        break;
      default:
        dense_forward(net, L, in, nb, w->flat, out);
    }
  }
  w->act[0] = NULL;
}

/* Backward from dout = dLoss/d(output) ([3][nb]) to grad (all params). */
static void backward(nm_cnn *net, const float *x, int nb, ws *w, const float *dout0,
                     float *grad) {
  const float *dout = dout0;
  float *bufs[2] = {w->g0, w->g1};
  int which = 0;
  for (int l = net->nl - 1; l >= 0; l--) {
    const layer *L = &net->L[l];
    const float *in = l ? w->act[l] : x;
    float *din = l ? bufs[which] : NULL;
    size_t N = (size_t)nb * L->oh * L->ow;
    switch (L->type) {
      case L_CONV: {
        int Kc = L->ic * L->k * L->k;
        for (int c = 0; c < L->oc; c++) grad[L->b + c] = (float)lane_sum(dout + (size_t)c * N, N);
        im2col(in, L->ic, nb, L->ih, L->iw, L->k, L->s, L->pad, L->oh, L->ow, w->col);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L->oc, Kc, (int)N, 1.0f,
                    dout, (int)N, w->col, (int)N, 0.0f, grad + L->w, Kc);
        if (din) {
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Kc, (int)N, L->oc, 1.0f,
                      net->params + L->w, Kc, dout, (int)N, 0.0f, w->col, (int)N);
          col2im(w->col, L->ic, nb, L->ih, L->iw, L->k, L->s, L->pad, L->oh, L->ow, din);
        }
        break;
      }
      case L_BN:
        bn_backward(net, L, in, dout, nb, din, grad, w);
        break;
      case L_RELU:
        if (din) {
          const float *y = w->act[l + 1];
          for (size_t i = 0; i < N * L->oc; i++) din[i] = y[i] > 0 ? dout[i] : 0;
        }
        break;
      case L_AVG:
        if (din) avg_backward(L, dout, nb, din);
        break;
      default: {
        int D = L->ic * L->ih * L->iw;
        const float *X = in;
        int spatial = L->ih * L->iw != 1;
        if (spatial) {
          flatten(L, in, nb, w->flat);
          X = w->flat;
        }
        for (int o = 0; o < L->oc; o++) {
          double s = 0;
          for (int b = 0; b < nb; b++) s += dout[(size_t)o * nb + b];
          grad[L->b + o] = (float)s;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L->oc, D, nb, 1.0f, dout, nb,
                    X, nb, 0.0f, grad + L->w, D);
        if (din) {
          float *dX = spatial ? w->col : din;
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, D, nb, L->oc, 1.0f,
                      net->params + L->w, D, dout, nb, 0.0f, dX, nb);
          if (spatial) unflatten(L, dX, nb, din);
        }
      }
    }
    if (din) {
      dout = din;
      which ^= 1;
    }
  }
}

/* Outputs of the last layer per image: 3, or 4 per hypothesis. */
static int n_out(const nm_cnn *net) {
  return net->heads ? (NM_CNN_OUTPUTS + 1) * net->heads : NM_CNN_OUTPUTS;
}

/* The standardised triplet of image b in the last layer's output y
** ([n_out][nb]): the triplet itself, or the answer of the hypotheses. */
/*
** With a multi-hypothesis head, the answer is the mean of the hypotheses
** weighted by the selector's probabilities raised to the power 1/HEAD_TEMP
** (a tempered mean: the most probable hypothesis dominates more than its
** probability alone would give it, yet the answer moves continuously with
** the probabilities). Measured (docs/cnn.md): always committing to the most
** probable hypothesis halves the real-particle error of a regression but the
** simulated RMSEs of the masks that are truly ambiguous (a near-circle drawn
** with any d) double, since a committed wrong mode costs more than the mean;
** the plain mean gives the real gain back. HEAD_TEMP was chosen on the
** simulated validation split (cnn_eval -V): the largest mean re-simulation
** Jaccard of the answers with the three simulated RMSE targets met; it also
** lowers every validation RMSE of the previous rule (commit at p >= 0.5,
** else the plain mean).
*/
/* The selector's softmax at temperature temp over its K logits z[0],
** z[stride], ...: unnormalised weights (the largest logit weighs 1, so exp
** cannot overflow) into w; returns their sum. */
static double selector_weights(const float *z, size_t stride, int K, double temp, double *w) {
  double zm = z[0], sum = 0;
  for (int q = 1; q < K; q++)
    if (z[(size_t)q * stride] > zm) zm = z[(size_t)q * stride];
  for (int q = 0; q < K; q++) sum += (w[q] = exp(((double)z[(size_t)q * stride] - zm) / temp));
  return sum;
}

#define HEAD_TEMP 0.5
static void head_triplet(const nm_cnn *net, const float *y, int nb, int b, float t[3]) {
  int K = net->heads;
  if (K) {
    double w[NM_CNN_MAX_HEADS];
    double ws = selector_weights(y + (size_t)3 * K * nb + b, (size_t)nb, K, HEAD_TEMP, w);
    for (int j = 0; j < 3; j++) {
      double m = 0;
      for (int q = 0; q < K; q++) m += w[q] * y[(size_t)(3 * q + j) * nb + b];
      t[j] = (float)(m / ws);
    }
    return;
  }
  for (int j = 0; j < 3; j++) t[j] = y[(size_t)j * nb + b];
}

/* Mean squared error of out ([3][nb]) against t ([nb][3]); fills dout. */
static double mse_loss(const float *out, const float *t, int nb, float *dout) {
  double s = 0, k = 2.0 / (3.0 * nb);
  for (int j = 0; j < 3; j++)
    for (int b = 0; b < nb; b++) {
      double e = (double)out[(size_t)j * nb + b] - t[(size_t)b * 3 + j];
      s += e * e;
      if (dout) dout[(size_t)j * nb + b] = (float)(k * e);
    }
  return s / (3.0 * nb);
}

/*
** The multi-hypothesis loss (K = net->heads): per image, the hypothesis
** nearest the target (MSE over the 3 standardised parameters) is the
** winner; the loss is the winner's MSE weighted 1 − HEAD_EPS plus the
** others' weighted HEAD_EPS/(K − 1) (relaxed winner-takes-all: a
** hypothesis that seldom wins still learns, so none is left dead), plus
** HEAD_SEL times the cross-entropy of the selector logits against the
** winner. A mean-squared-error head answers the mean of the modes when a
** mask fits several triplets (a near-circle is every d; a rounded triangle
** is nearly an ellipse): a non-integer d, a shape that is none of them.
** Each hypothesis here answers one mode. Training starts the hypotheses'
** d at the K quantiles of the training d (nm_cnn_train) so that they begin
** apart. (Measured, docs/cnn.md: choosing the winner by d alone instead
** was worse on simulated and real particles.)
*/
#define HEAD_EPS 0.05
#define HEAD_SEL 0.1
static double head_loss(const nm_cnn *net, const float *out, const float *t, int nb,
                        float *dout) {
  int K = net->heads;
  double total = 0, kr = 2.0 / (3.0 * nb);
  const float *z = out + (size_t)3 * K * nb;
  for (int b = 0; b < nb; b++) {
    double e[NM_CNN_MAX_HEADS], p[NM_CNN_MAX_HEADS];
    int w = 0;
    double dbest = INFINITY;
    for (int k = 0; k < K; k++) {
      double s = 0;
      for (int j = 0; j < 3; j++) {
        double d = (double)out[(size_t)(3 * k + j) * nb + b] - t[(size_t)b * 3 + j];
        s += d * d;
      }
      e[k] = s / 3.0;
      if (e[k] < dbest) dbest = e[k], w = k;
    }
    double zs = selector_weights(z + b, (size_t)nb, K, 1.0, p);
    double reg = 0;
    for (int k = 0; k < K; k++) {
      double a = k == w ? 1.0 - HEAD_EPS : HEAD_EPS / (K - 1);
      reg += a * e[k];
      p[k] /= zs;
      if (!dout) continue;
      for (int j = 0; j < 3; j++) {
        double d = (double)out[(size_t)(3 * k + j) * nb + b] - t[(size_t)b * 3 + j];
        dout[(size_t)(3 * k + j) * nb + b] = (float)(a * kr * d);
      }
      dout[(size_t)(3 * K + k) * nb + b] = (float)(HEAD_SEL * (p[k] - (k == w)) / nb);
    }
    total += reg - HEAD_SEL * log(p[w] > 1e-300 ? p[w] : 1e-300);
  }
  return total / nb;
}

static double loss_fn(const nm_cnn *net, const float *out, const float *t, int nb, float *dout) {
  return net->heads ? head_loss(net, out, t, nb, dout) : mse_loss(out, t, nb, dout);
}

nm_status nm_cnn_loss_grad(nm_cnn *net, const float *x, const float *t, int n,
                           double *loss, float *grad, nm_error *err) {
  if (n < 1) return nm_fail(err, NM_ERR_ARG, "no images");
  ws w;
  nm_status st = ws_init(&w, net, n, 1, err);
  if (st != NM_OK) return st;
  float *d = n <= 4096 ? nm_malloc((size_t)n * n_out(net), sizeof(float), err) : NULL;
  if (!d) {
    ws_free(&w);
    return n > 4096 ? nm_fail(err, NM_ERR_TOOBIG, "at most 4096 images") : err ? err->code : NM_ERR_NOMEM;
  }
  forward_train(net, x, n, &w, 0);
  *loss = loss_fn(net, w.act[net->nl], t, n, d);
  if (grad) backward(net, x, n, &w, d, grad);
  free(d);
  ws_free(&w);
  return NM_OK;
}

int nm_cnn_heads(const nm_cnn *net) { return net->heads; }

/* Runs the layer-by-layer forward pass over x in batches of at most batch
** images and hands each image's output column to emit. */
typedef void (*emit_fn)(const nm_cnn *net, const float *y, int nb, int b, float *out);
static nm_status eval_in_batches(const nm_cnn *net, const float *x, size_t n, int batch,
                                 emit_fn emit, float *out, size_t out_stride, nm_error *err) {
  if (n == 0) return NM_OK;
  if (batch <= 0) batch = 256;
  if ((size_t)batch > n) batch = (int)n;
  ws w;
  nm_status st = ws_init(&w, net, batch, 0, err);
  if (st != NM_OK) return st;
  size_t px = (size_t)net->size * net->size;
  for (size_t i = 0; i < n; i += (size_t)batch) {
    int nb = (int)((n - i) < (size_t)batch ? (n - i) : (size_t)batch);
    const float *y = forward_eval(net, x + i * px, nb, &w);
    for (int b = 0; b < nb; b++) emit(net, y, nb, b, out + (i + b) * out_stride);
  }
  ws_free(&w);
  return NM_OK;
}

/* Every hypothesis in physical units, then the selector's probabilities. */
static void emit_heads(const nm_cnn *net, const float *y, int nb, int b, float *o) {
  int K = net->heads;
  double pr[NM_CNN_MAX_HEADS];
  double zs = selector_weights(y + (size_t)3 * K * nb + b, (size_t)nb, K, 1.0, pr);
  for (int q = 0; q < K; q++) {
    for (int j = 0; j < 3; j++)
      o[3 * q + j] = y[(size_t)(3 * q + j) * nb + b] * net->tstd[j] + net->tmean[j];
    o[3 * K + q] = (float)(pr[q] / zs);
  }
}

nm_status nm_cnn_predict_heads(const nm_cnn *net, const float *x, size_t n, float *out,
                               nm_error *err) {
  if (!net->heads) return nm_fail(err, NM_ERR_ARG, "the model has no multi-hypothesis head");
  return eval_in_batches(net, x, n, 256, emit_heads, out, 4 * (size_t)net->heads, err);
}

/* The answer triplet in physical units. */
static void emit_triplet(const nm_cnn *net, const float *y, int nb, int b, float *o) {
  float t[3];
  head_triplet(net, y, nb, b, t);
  for (int j = 0; j < 3; j++) o[j] = t[j] * net->tstd[j] + net->tmean[j];
}

nm_status nm_cnn_predict_reference(const nm_cnn *net, const float *x, size_t n, int batch,
                                   float *out, nm_error *err) {
  return eval_in_batches(net, x, n, batch, emit_triplet, out, 3, err);
}

/* dst = src (size×size) under symmetry t of the square: bit 0 transposes,
** bit 1 mirrors x, bit 2 mirrors y (as augment_copy below). */
static void d4_copy(const float *src, int size, int t, float *dst) {
  for (int y = 0; y < size; y++)
    for (int x = 0; x < size; x++) {
      int sx = x, sy = y;
      if (t & 1) sx = y, sy = x;
      if (t & 2) sx = size - 1 - sx;
      if (t & 4) sy = size - 1 - sy;
      dst[y * size + x] = src[(size_t)sy * size + sx];
    }
}

/* ---------- inference: folded, fused, cache-sized, threaded ---------- */

/*
** The inference path keeps the training layout ([channel][image][row][col])
** and the same im2col, and differs in four measured ways:
**   - batch-norm (running statistics) is folded into the convolution's
**     weights and bias once per call, and bias + ReLU + 2×2 average pool run
**     as one pass over the GEMM output, writing the pooled map;
**   - images go through the whole net NM_CNN_GEMM_IMAGES at a time, so a
**     micro-batch's activations and im2col matrix stay in the core's cache;
**   - each convolution's product is issued in column blocks of at most
**     GEMM_MACS multiply-adds: OpenBLAS runs products that small with its
**     small-matrix kernels, straight from the operands, and larger ones by
**     first packing the im2col matrix, which cost as much as the arithmetic
**     here (per image, the default net's 2nd convolution took 12 µs as one
**     block and 24 µs inside a 4-image product);
**   - the micro-batches are shared among threads (predict_run).
*/

#define GEMM_MACS 1000000.0

enum { S_CONV, S_DENSE, S_POOL, S_AFFINE, S_RELU };

typedef struct stage {
  int kind;
  const layer *L;     /* the conv/dense/BN/pool layer: shapes */
  int relu, pool;     /* fused into the epilogue */
  float *w, *b;       /* folded weights (training order) and bias; S_AFFINE:
                         scale, shift */
} stage;

typedef struct plan {
  int n;
  stage S[NM_CNN_MAX_LAYERS];
  float *mem;
  size_t act, col; /* floats per image: largest activation, largest im2col */
} plan;

static void plan_free(plan *p) {
  free(p->mem);
  p->mem = NULL;
}

/* BN layer B's inference affine: y = x·scale + shift. */
static void bn_affine(const nm_cnn *net, const layer *B, int c, float *scale, float *shift) {
  const float *g = net->params + B->w, *be = net->params + B->b;
  const float *rm = net->stats + B->st, *rv = net->stats + B->st + B->oc;
  float inv = 1.0f / sqrtf(rv[c] + BN_EPS);
  *scale = g[c] * inv;
  *shift = be[c] - rm[c] * *scale;
}

static nm_status plan_build(const nm_cnn *net, plan *p, nm_error *err) {
  memset(p, 0, sizeof *p);
  size_t total = 0;
  for (int l = 0; l < net->nl; l++) total += net->L[l].nw + 2 * (size_t)net->L[l].oc;
  p->mem = nm_malloc(total ? total : 1, sizeof(float), err);
  if (!p->mem) return err ? err->code : NM_ERR_NOMEM;
  float *m = p->mem;
  p->act = (size_t)net->size * net->size;
  p->col = 1;
  for (int l = 0; l < net->nl; l++) {
    const layer *L = &net->L[l];
    stage *S = &p->S[p->n++];
    memset(S, 0, sizeof *S);
    S->L = L;
    if (L->type == L_CONV || L->type == L_DENSE) {
      int F = L->oc;
      size_t per = L->nw / (size_t)F;
      S->kind = L->type == L_CONV ? S_CONV : S_DENSE;
      S->w = m, m += L->nw;
      S->b = m, m += F;
      const float *W = net->params + L->w, *bias = net->params + L->b;
      const layer *B = l + 1 < net->nl && net->L[l + 1].type == L_BN ? &net->L[++l] : NULL;
      for (int o = 0; o < F; o++) {
        float scale = 1.0f, shift = 0.0f;
        if (B) bn_affine(net, B, o, &scale, &shift);
        S->b[o] = B ? bias[o] * scale + shift : bias[o];
        for (size_t k = 0; k < per; k++) S->w[o * per + k] = W[o * per + k] * scale;
      }
      if (l + 1 < net->nl && net->L[l + 1].type == L_RELU) S->relu = 1, l++;
      if (S->kind == S_CONV && l + 1 < net->nl && net->L[l + 1].type == L_AVG) S->pool = 1, l++;
      size_t c = S->kind == S_CONV ? per * L->oh * L->ow : per;
      if (c > p->col) p->col = c;
    } else if (L->type == L_BN) {
      S->kind = S_AFFINE;
      S->w = m, m += L->oc;
      S->b = m, m += L->oc;
      for (int c = 0; c < L->oc; c++) bn_affine(net, L, c, &S->w[c], &S->b[c]);
    } else {
      S->kind = L->type == L_RELU ? S_RELU : S_POOL;
    }
    size_t a = act_size(L);
    if (a > p->act) p->act = a;
  }
  return NM_OK;
}

/* The model's folded plan, built once under its lock (the model is const
** to callers; the cache is the only state inference writes). */
static const plan *plan_cached(nm_cnn *net, nm_error *err) {
  pthread_mutex_lock(&net->mu);
  if (!net->fast) {
    plan *p = nm_malloc(1, sizeof *p, err);
    if (p && plan_build(net, p, err) != NM_OK) {
      free(p);
      p = NULL;
    }
    net->fast = p;
  }
  const plan *p = net->fast;
  pthread_mutex_unlock(&net->mu);
  return p;
}

static void cache_drop(nm_cnn *net) {
  pthread_mutex_lock(&net->mu);
  if (net->fast) {
    plan_free(net->fast);
    free(net->fast);
    net->fast = NULL;
  }
  pthread_mutex_unlock(&net->mu);
  pthread_mutex_lock(&net->scratch_mu);
  free(net->scratch);
  net->scratch = NULL;
  pthread_mutex_unlock(&net->scratch_mu);
}

/* The passes below are short loops: GCC vectorises them at -O3 (the project
** builds at -O2); most rows are 8–32 floats, too short for memcpy/memset
** calls to pay, so GCC must not turn the loops into such calls. */
#if defined(__GNUC__) && !defined(__clang__)
#define NM_HOT __attribute__((optimize("O3", "no-tree-loop-distribute-patterns")))
#else
#define NM_HOT
#endif

/* Bias (+ ReLU) over C planes of n values, in place. */
NM_HOT static void bias_relu(float *restrict y, int C, size_t n, const float *restrict bias,
                             int relu) {
  for (int c = 0; c < C; c++, y += n) {
    float b = bias[c];
    if (relu)
      for (size_t i = 0; i < n; i++) {
        float v = y[i] + b;
        y[i] = v > 0 ? v : 0.0f;
      }
    else
      for (size_t i = 0; i < n; i++) y[i] += b;
  }
}

/* 2×2 average pool of `planes` H×W planes, with the bias and ReLU of the
** layer before it applied first when bias is not NULL. */
NM_HOT static void pool_planes(const float *restrict in, size_t planes, int H, int W,
                               const float *restrict bias, int nb, int relu,
                               float *restrict out) {
  int OH = H / 2, OW = W / 2;
  for (size_t p = 0; p < planes; p++) {
    float b = bias ? bias[p / (size_t)nb] : 0.0f;
    const float *s = in + p * H * W;
    float *d = out + p * OH * OW;
    for (int y = 0; y < OH; y++, d += OW) {
      const float *r0 = s + (size_t)(2 * y) * W, *r1 = r0 + W;
      if (relu)
        for (int x = 0; x < OW; x++) {
          float a0 = r0[2 * x] + b, a1 = r0[2 * x + 1] + b, a2 = r1[2 * x] + b, a3 = r1[2 * x + 1] + b;
          a0 = a0 > 0 ? a0 : 0.0f, a1 = a1 > 0 ? a1 : 0.0f;
          a2 = a2 > 0 ? a2 : 0.0f, a3 = a3 > 0 ? a3 : 0.0f;
          d[x] = 0.25f * (a0 + a1 + a2 + a3);
        }
      else
        for (int x = 0; x < OW; x++) d[x] = 0.25f * (r0[2 * x] + r0[2 * x + 1] + r1[2 * x] + r1[2 * x + 1]) + b;
    }
  }
}

/* im2col (as above, same matrix) for inference: rows are short here, so
** plain loops rather than memcpy/memset. */
NM_HOT static void im2col_short(const float *restrict in, const layer *L, int nb,
                                float *restrict col) {
  int C = L->ic, H = L->ih, W = L->iw, K = L->k, S = L->s, P = L->pad, OH = L->oh, OW = L->ow;
  for (int c = 0; c < C; c++)
    for (int ky = 0; ky < K; ky++)
      for (int kx = 0; kx < K; kx++) {
        /* ox range whose ix = ox·S − P + kx is inside [0, W) */
        int lo = 0, hi = OW;
        while (lo < OW && lo * S - P + kx < 0) lo++;
        while (hi > lo && (hi - 1) * S - P + kx >= W) hi--;
        for (int b = 0; b < nb; b++) {
          const float *src = in + ((size_t)c * nb + b) * H * W;
          for (int oy = 0; oy < OH; oy++, col += OW) {
            int iy = oy * S - P + ky;
            if (iy < 0 || iy >= H) {
              for (int ox = 0; ox < OW; ox++) col[ox] = 0.0f;
              continue;
            }
            const float *row = src + (size_t)iy * W - P + kx;
            for (int ox = 0; ox < lo; ox++) col[ox] = 0.0f;
            if (S == 1)
              for (int ox = lo; ox < hi; ox++) col[ox] = row[ox];
            else
              for (int ox = lo; ox < hi; ox++) col[ox] = row[ox * S];
            for (int ox = hi; ox < OW; ox++) col[ox] = 0.0f;
          }
        }
      }
}

/* out[F][N] = W[F][K] · col[K][N], in column blocks of at most GEMM_MACS. */
static void gemm_blocks(int F, int N, int K, const float *W, const float *col, float *out) {
  double blocks = ceil((double)F * K * N / GEMM_MACS);
  int step = (int)ceil(N / blocks);
  if (step < 16) step = N; /* a big layer: one ordinary product */
  for (int j = 0; j < N; j += step) {
    int w = N - j < step ? N - j : step;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, F, w, K, 1.0f, W, K, col + j, N, 0.0f,
                out + j, N);
  }
}

/* Runs nb images (x) through the plan; returns the [3][nb] output.
** buf[0..2]: activations, col: im2col matrix. */
static const float *plan_forward(const plan *p, const float *x, int nb, float *const buf[3],
                                 float *col) {
  const float *cur = x;
  for (int i = 0; i < p->n; i++) {
    const stage *S = &p->S[i];
    const layer *L = S->L;
    /* two buffers that are not cur: the GEMM's output and the pool's */
    float *d0 = cur == buf[0] ? buf[1] : buf[0], *d1 = buf[2];
    if (d1 == cur) d1 = d0 == buf[0] ? buf[1] : buf[0];
    size_t N = (size_t)nb * L->oh * L->ow;
    if (S->kind == S_CONV) {
      int Kc = L->ic * L->k * L->k;
      const float *B = cur;
      if (!(L->k == 1 && L->s == 1 && L->pad == 0)) {
        im2col_short(cur, L, nb, col);
        B = col;
      }
      gemm_blocks(L->oc, (int)N, Kc, S->w, B, d0);
      if (S->pool) {
        pool_planes(d0, (size_t)L->oc * nb, L->oh, L->ow, S->b, nb, S->relu, d1);
        d0 = d1;
      } else {
        bias_relu(d0, L->oc, N, S->b, S->relu);
      }
    } else if (S->kind == S_DENSE) {
      int D = L->ic * L->ih * L->iw;
      const float *X = cur;
      if (L->ih * L->iw != 1) {
        flatten(L, cur, nb, col);
        X = col;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L->oc, nb, D, 1.0f, S->w, D, X, nb,
                  0.0f, d0, nb);
      bias_relu(d0, L->oc, (size_t)nb, S->b, S->relu);
    } else if (S->kind == S_AFFINE) {
      for (int c = 0; c < L->oc; c++)
        for (size_t q = 0; q < N; q++) d0[c * N + q] = cur[c * N + q] * S->w[c] + S->b[c];
    } else if (S->kind == S_RELU) {
      size_t n = N * L->oc;
      for (size_t q = 0; q < n; q++) d0[q] = cur[q] > 0 ? cur[q] : 0.0f;
    } else {
      pool_planes(cur, (size_t)L->ic * nb, L->ih, L->iw, NULL, nb, 0, d0);
    }
    cur = d0;
  }
  return cur;
}

/* One thread's share: images [i0, i1) of x, micro-batches of mb. */
typedef struct predict_job {
  const nm_cnn *net;
  const plan *p;
  const float *x;
  float *out;
  size_t i0, i1;
  int mb, d4;
  nm_status st;
} predict_job;

/* Floats of one worker's buffers for micro-batches of mb: 3 activations,
** the im2col matrix, the symmetry copy of the input. */
static size_t scratch_floats(const nm_cnn *net, const plan *p, size_t mb) {
  return (3 * p->act + p->col + (size_t)net->size * net->size) * mb;
}

static void *predict_worker(void *arg) {
  predict_job *j = arg;
  nm_cnn *net = (nm_cnn *)j->net; /* only the cache lock is written */
  size_t px = (size_t)net->size * net->size, mb = (size_t)j->mb;
  float *buf[3] = {NULL, NULL, NULL}, *col = NULL, *xt = NULL, *mem = NULL;
  /* The model's scratch buffers when no other thread holds them. */
  int lent = mb <= NM_CNN_GEMM_IMAGES && pthread_mutex_trylock(&net->scratch_mu) == 0;
  if (lent && !net->scratch) net->scratch = malloc(sizeof(float) * scratch_floats(net, j->p, NM_CNN_GEMM_IMAGES));
  if (lent && !net->scratch) {
    pthread_mutex_unlock(&net->scratch_mu);
    lent = 0;
  }
  mem = lent ? net->scratch : malloc(sizeof(float) * scratch_floats(net, j->p, mb));
  if (mem) {
    for (int k = 0; k < 3; k++) buf[k] = mem + (size_t)k * j->p->act * mb;
    col = mem + 3 * j->p->act * mb;
    xt = col + j->p->col * mb;
  }
  double acc[3 * 64];
  if (!mem || mb > 64) {
    j->st = NM_ERR_NOMEM;
    goto done;
  }
  for (size_t i = j->i0; i < j->i1; i += mb) {
    int nb = (int)(j->i1 - i < mb ? j->i1 - i : mb);
    if (!j->d4) {
      const float *y = plan_forward(j->p, j->x + i * px, nb, buf, col);
      for (int b = 0; b < nb; b++) emit_triplet(net, y, nb, b, j->out + (i + b) * 3);
      continue;
    }
    memset(acc, 0, sizeof acc);
    for (int t = 0; t < 8; t++) {
      for (int b = 0; b < nb; b++) d4_copy(j->x + (i + b) * px, net->size, t, xt + (size_t)b * px);
      const float *y = plan_forward(j->p, xt, nb, buf, col);
      for (int b = 0; b < nb; b++) {
        float tr[3];
        head_triplet(net, y, nb, b, tr);
        for (int k = 0; k < 3; k++) acc[b * 3 + k] += tr[k];
      }
    }
    for (int b = 0; b < nb; b++)
      for (int k = 0; k < 3; k++)
        j->out[(i + b) * 3 + k] = (float)(acc[b * 3 + k] / 8.0) * net->tstd[k] + net->tmean[k];
  }
  j->st = NM_OK;
done:
  if (lent) pthread_mutex_unlock(&net->scratch_mu);
  else free(mem);
  return NULL;
}

/*
** Threads. The GEMMs of a micro-batch are small (a few thousand rows), and
** OpenBLAS's own threads cost more than they give on them: on the 2-core
** machine (at load ≈ 8), one caller thread with 2 BLAS threads ran the
** default net at less than half the rate of one thread with 1 BLAS thread,
** and two of our threads each calling a 2-thread OpenBLAS were slower still
** (its level-3 calls from several threads take turns). So the micro-batches are shared among as many
** threads of our own as OpenBLAS would have used (openblas_get_num_threads:
** the cores, or OPENBLAS_NUM_THREADS), and OpenBLAS is switched to one thread
** while any prediction runs. The switch is process-wide, counted under a
** mutex so overlapping predictions restore the setting once, after the last;
** a GEMM elsewhere in the process meanwhile runs single-threaded, with the
** same result (OpenBLAS splits rows and columns among threads, never the sum).
*/
static pthread_mutex_t blas_mu = PTHREAD_MUTEX_INITIALIZER;
static int blas_users, blas_saved;

static int blas_single_begin(void) {
  pthread_mutex_lock(&blas_mu);
  if (blas_users++ == 0) {
    blas_saved = openblas_get_num_threads();
    if (blas_saved > 1) openblas_set_num_threads(1);
  }
  int n = blas_saved;
  pthread_mutex_unlock(&blas_mu);
  return n < 1 ? 1 : n > 16 ? 16 : n;
}

static void blas_single_end(void) {
  pthread_mutex_lock(&blas_mu);
  if (--blas_users == 0 && blas_saved > 1) openblas_set_num_threads(blas_saved);
  pthread_mutex_unlock(&blas_mu);
}

static nm_status predict_run(const nm_cnn *net, const float *x, size_t n, int batch, int d4,
                             float *out, nm_error *err) {
  if (n == 0) return NM_OK;
  int mb = batch > 0 && batch < NM_CNN_GEMM_IMAGES ? batch : NM_CNN_GEMM_IMAGES;
  const plan *p = plan_cached((nm_cnn *)net, err);
  if (!p) return err ? err->code : NM_ERR_NOMEM;
  size_t chunks = (n + (size_t)mb - 1) / (size_t)mb;
  int nt = blas_single_begin();
  if ((size_t)nt > chunks) nt = (int)chunks;
  predict_job jobs[16];
  pthread_t tid[16];
  int started[16] = {0};
  size_t per = (chunks + (size_t)nt - 1) / (size_t)nt * (size_t)mb;
  for (int t = 0; t < nt; t++) {
    size_t i0 = per * (size_t)t, i1 = i0 + per > n ? n : i0 + per;
    jobs[t] = (predict_job){net, p, x, out, i0 < n ? i0 : n, i1, mb, d4, NM_OK};
  }
  /* A thread that cannot start leaves its share to this one. */
  for (int t = 1; t < nt; t++) started[t] = pthread_create(&tid[t], NULL, predict_worker, &jobs[t]) == 0;
  predict_worker(&jobs[0]);
  for (int t = 1; t < nt; t++) {
    if (started[t]) pthread_join(tid[t], NULL);
    else predict_worker(&jobs[t]);
  }
  blas_single_end();
  for (int t = 0; t < nt; t++)
    if (jobs[t].st != NM_OK) return nm_fail(err, NM_ERR_NOMEM, "out of memory running the CNN");
  return NM_OK;
}

nm_status nm_cnn_predict(const nm_cnn *net, const float *x, size_t n, int batch, float *out,
                         nm_error *err) {
  return predict_run(net, x, n, batch, 0, out, err);
}

nm_status nm_cnn_predict_d4(const nm_cnn *net, const float *x, size_t n, int batch, float *out,
                            nm_error *err) {
  return predict_run(net, x, n, batch, 1, out, err);
}

/* ---------- training ---------- */

void nm_cnn_train_opts_default(nm_cnn_train_opts *o) {
  memset(o, 0, sizeof *o);
  o->arch = NULL;
  o->epochs = 30;
  o->batch = 64;
  o->lr = 2e-3;
  o->seed = 1;
  o->val_fraction = 0.1;
  o->patience = 6;
  o->augment = 1;
  o->max_seconds = 0;
}

nm_status nm_cnn_train_opts_check(const nm_cnn_train_opts *o, nm_error *err) {
  if (o->epochs < 1 || o->epochs > 10000)
    return nm_fail(err, NM_ERR_ARG, "option 'epochs' must be an integer in 1..10000");
  if (o->batch < 1 || o->batch > 4096)
    return nm_fail(err, NM_ERR_ARG, "option 'batch' must be an integer in 1..4096");
  if (!(o->lr > 0 && o->lr <= 1))
    return nm_fail(err, NM_ERR_ARG, "option 'lr' must be in (0, 1]");
  if (!(o->val_fraction >= 0 && o->val_fraction < 1))
    return nm_fail(err, NM_ERR_ARG, "option 'val_fraction' must be in [0, 1)");
  if (o->patience < 0)
    return nm_fail(err, NM_ERR_ARG, "option 'patience' must be >= 0");
  if (!(o->max_seconds >= 0))
    return nm_fail(err, NM_ERR_ARG, "option 'max_seconds' must be >= 0");
  return NM_OK;
}

/* A growing text buffer for the report. */
typedef struct sbuf {
  char *s;
  size_t n, cap;
  int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void sb_printf(sbuf *b, const char *fmt, ...) {
  if (b->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
    va_end(ap);
    if (k < 0) {
      b->oom = 1;
      return;
    }
    if (b->s && b->n + (size_t)k < b->cap) {
      b->n += (size_t)k;
      return;
    }
    size_t nc = (b->cap ? b->cap * 2 : 1024) + (size_t)k;
    char *ns = realloc(b->s, nc);
    if (!ns) {
      b->oom = 1;
      return;
    }
    b->s = ns;
    b->cap = nc;
  }
}

/* Writes image src (size×size bytes) into dst as floats under one of the 8
** symmetries of the square (the targets do not change under any of them). */
static void augment_copy(const uint8_t *src, int size, int t, float *dst) {
  const float k = 1.0f / 255.0f;
  for (int y = 0; y < size; y++)
    for (int x = 0; x < size; x++) {
      int sx = x, sy = y;
      if (t & 1) sx = y, sy = x;
      if (t & 2) sx = size - 1 - sx;
      if (t & 4) sy = size - 1 - sy;
      dst[y * size + x] = src[(size_t)sy * size + sx] * k;
    }
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Validation: RMSE per parameter in original units (rmse[3]) and the
** early-stopping score sqrt(mean of standardised MSEs). */
static nm_status validate(const nm_cnn *net, const uint8_t *images, const float *targets,
                          const size_t *idx, size_t nval, int size, float *xb, float *pred,
                          int batch, double rmse[3], double *score, nm_error *err) {
  double se[3] = {0, 0, 0};
  size_t px = (size_t)size * size;
  for (size_t i = 0; i < nval; i += (size_t)batch) {
    int nb = (int)(nval - i < (size_t)batch ? nval - i : (size_t)batch);
    for (int b = 0; b < nb; b++) augment_copy(images + idx[i + b] * px, size, 0, xb + b * px);
    nm_status st = nm_cnn_predict_reference(net, xb, (size_t)nb, nb, pred, err);
    if (st != NM_OK) return st;
    for (int b = 0; b < nb; b++)
      for (int j = 0; j < 3; j++) {
        double e = pred[b * 3 + j] - targets[idx[i + b] * 3 + j];
        se[j] += e * e;
      }
  }
  double s = 0;
  for (int j = 0; j < 3; j++) {
    rmse[j] = sqrt(se[j] / (double)nval);
    s += se[j] / (double)nval / ((double)net->tstd[j] * net->tstd[j]);
  }
  *score = sqrt(s / 3.0);
  return NM_OK;
}

static int cmp_float(const void *a, const void *b);

nm_status nm_cnn_train(const nm_cnn_train_opts *o, const uint8_t *images, size_t n,
                       int size, const float *targets, const uint8_t *is_val,
                       const nm_progress *progress, nm_cnn **out, nm_error *err) {
  *out = NULL;
  nm_status st = nm_cnn_train_opts_check(o, err);
  if (st != NM_OK) return st;
  if (n < 2) return nm_fail(err, NM_ERR_ARG, "training needs at least 2 images, got %zu", n);
  for (size_t i = 0; i < n * 3; i++)
    if (!isfinite(targets[i])) return nm_fail(err, NM_ERR_ARG, "target of row %zu is not a finite number", i / 3 + 1);
  size_t nval = o->val_fraction > 0 ? (size_t)llround(o->val_fraction * (double)n) : 0;
  if (o->val_fraction > 0 && nval < 1) nval = 1;
  if (is_val) {
    nval = 0;
    for (size_t i = 0; i < n; i++) nval += is_val[i] != 0;
  }
  if (nval >= n) return nm_fail(err, NM_ERR_ARG, "every row is a validation row: nothing to train on");
  size_t ntrain = n - nval;
  size_t px = (size_t)size * size;
  int B = o->batch;
  if ((size_t)B > ntrain) B = (int)ntrain;

  nm_cnn *net = NULL;
  size_t *perm = NULL;
  float *xb = NULL, *tb = NULL, *dout = NULL, *grad = NULL, *m = NULL, *v = NULL, *pred = NULL;
  float *best_params = NULL, *best_stats = NULL;
  sbuf rep = {0};
  ws w = {0};
  int have_ws = 0;

  st = nm_cnn_create(o->arch, size, o->seed, &net, err);
  if (st != NM_OK) goto done;

  nm_rng r;
  nm_rng_seed2(&r, o->seed, 2); /* stream 2: split, shuffles, augmentation */
  perm = nm_malloc(n, sizeof *perm, err);
  xb = nm_malloc((size_t)B * px, sizeof(float), err);
  tb = nm_malloc((size_t)B * 3, sizeof(float), err);
  dout = nm_malloc((size_t)B * n_out(net), sizeof(float), err);
  pred = nm_malloc((size_t)B * 3, sizeof(float), err);
  grad = nm_calloc(net->np, sizeof(float), err);
  m = nm_calloc(net->np, sizeof(float), err);
  v = nm_calloc(net->np, sizeof(float), err);
  best_params = nm_malloc(net->np, sizeof(float), err);
  best_stats = nm_malloc(net->ns + 1, sizeof(float), err);
  if (!perm || !xb || !tb || !dout || !pred || !grad || !m || !v || !best_params || !best_stats) {
    st = err ? err->code : NM_ERR_NOMEM;
    goto done;
  }
  if (is_val) {
    /* The caller's split: validation rows first, in row order. */
    size_t a = 0, b = nval;
    for (size_t i = 0; i < n; i++) perm[is_val[i] ? a++ : b++] = i;
  } else {
    for (size_t i = 0; i < n; i++) perm[i] = i;
    for (size_t i = n - 1; i > 0; i--) {
      size_t j = (size_t)nm_rng_below(&r, i + 1), t = perm[i];
      perm[i] = perm[j], perm[j] = t;
    }
  }
  size_t *val = perm, *train = perm + nval;

  /* Standardise targets with the training rows' mean and spread. */
  for (int j = 0; j < 3; j++) {
    double s = 0, ss = 0;
    for (size_t i = 0; i < ntrain; i++) s += targets[train[i] * 3 + j];
    double mean = s / (double)ntrain;
    for (size_t i = 0; i < ntrain; i++) {
      double d = targets[train[i] * 3 + j] - mean;
      ss += d * d;
    }
    double sd = sqrt(ss / (double)ntrain);
    net->tmean[j] = (float)mean;
    net->tstd[j] = sd > 1e-6 ? (float)sd : 1.0f;
  }

  if (net->heads) {
    /* Hypothesis k starts at the (k + 1/2)/K quantile of the training d
    ** (standardised; p and Lratio at their means): see head_loss. */
    int K = net->heads;
    const layer *Ld = &net->L[net->nl - 1];
    float *dv = nm_malloc(ntrain, sizeof(float), err);
    if (!dv) {
      st = err ? err->code : NM_ERR_NOMEM;
      goto done;
    }
    for (size_t i = 0; i < ntrain; i++) dv[i] = targets[train[i] * 3 + 1];
    qsort(dv, ntrain, sizeof(float), cmp_float);
    for (int k = 0; k < K; k++) {
      double q = dv[(size_t)(((double)k + 0.5) / K * (double)(ntrain - 1))];
      net->params[Ld->b + 3 * k + 1] = (float)((q - net->tmean[1]) / net->tstd[1]);
    }
    free(dv);
  }

  st = ws_init(&w, net, B, 1, err);
  if (st != NM_OK) goto done;
  have_ws = 1;

  sb_printf(&rep, "{\"arch\":\"%s\",\"input_size\":%d,\"crop_version\":%d,\"weights\":%zu,"
                  "\"macs\":%.0f,\"seed\":%llu,\"epochs\":%d,\"batch\":%d,\"lr\":%.6g,"
                  "\"augment\":%s,\"n_train\":%zu,\"n_val\":%zu,"
                  "\"target_mean\":[%.6g,%.6g,%.6g],\"target_std\":[%.6g,%.6g,%.6g],\"curve\":[",
            net->arch, size, net->crop_version, net->np, nm_cnn_macs(net),
            (unsigned long long)o->seed, o->epochs, B, o->lr, o->augment ? "true" : "false",
            ntrain, nval, net->tmean[0], net->tmean[1], net->tmean[2], net->tstd[0],
            net->tstd[1], net->tstd[2]);

  size_t steps_per_epoch = (ntrain + (size_t)B - 1) / (size_t)B;
  double total_steps = (double)steps_per_epoch * o->epochs;
  double best_score = INFINITY, best_rmse[3] = {NAN, NAN, NAN};
  int best_epoch = 0, epochs_run = 0;
  size_t step = 0;
  double t0 = now_s();
  const float b1 = 0.9f, b2 = 0.999f;
  double b1t = 1, b2t = 1;
  char what[96];
  snprintf(what, sizeof what, "epoch 1/%d", o->epochs);
  for (int ep = 0; ep < o->epochs; ep++) {
    for (size_t i = ntrain - 1; i > 0; i--) {
      size_t j = (size_t)nm_rng_below(&r, i + 1), t = train[i];
      train[i] = train[j], train[j] = t;
    }
    double loss_sum = 0;
    size_t loss_n = 0;
    for (size_t i0 = 0; i0 < ntrain; i0 += (size_t)B) {
      int nb = (int)(ntrain - i0 < (size_t)B ? ntrain - i0 : (size_t)B);
      if (nb < 2 && i0 > 0) break; /* batch-norm needs 2 images; drop a lone tail */
      for (int b = 0; b < nb; b++) {
        size_t k = train[i0 + b];
        int t = o->augment ? (int)nm_rng_below(&r, 8) : 0;
        augment_copy(images + k * px, size, t, xb + (size_t)b * px);
        for (int j = 0; j < 3; j++) tb[b * 3 + j] = (targets[k * 3 + j] - net->tmean[j]) / net->tstd[j];
      }
      forward_train(net, xb, nb, &w, 1);
      double loss = loss_fn(net, w.act[net->nl], tb, nb, dout);
      backward(net, xb, nb, &w, dout, grad);
      loss_sum += loss * nb;
      loss_n += (size_t)nb;
      /* Adam with a cosine learning-rate decay to lr/20. */
      double frac = (double)step / total_steps;
      double lr = o->lr * (0.05 + 0.95 * 0.5 * (1.0 + cos(3.141592653589793 * frac)));
      step++;
      b1t *= b1, b2t *= b2;
      float a = (float)(lr * sqrt(1.0 - b2t) / (1.0 - b1t));
      for (size_t q = 0; q < net->np; q++) {
        float g = grad[q];
        m[q] = b1 * m[q] + (1 - b1) * g;
        v[q] = b2 * v[q] + (1 - b2) * g * g;
        net->params[q] -= a * m[q] / (sqrtf(v[q]) + 1e-8f);
      }
      if (nm_progress_tick(progress, (double)ep * ntrain + i0 + nb, (double)o->epochs * ntrain, what)) {
        st = nm_fail(err, NM_ERR_INTERRUPTED, "training interrupted");
        goto done;
      }
    }
    epochs_run = ep + 1;
    double train_rmse = sqrt(loss_sum / (double)(loss_n ? loss_n : 1));
    double rmse[3] = {NAN, NAN, NAN}, score = train_rmse;
    if (nval) {
      st = validate(net, images, targets, val, nval, size, xb, pred, B, rmse, &score, err);
      if (st != NM_OK) goto done;
    }
    sb_printf(&rep, "%s{\"epoch\":%d,\"images\":%zu,\"train_rmse\":%.6g", ep ? "," : "", ep + 1,
              (size_t)(ep + 1) * ntrain, train_rmse);
    if (nval)
      sb_printf(&rep, ",\"val_rmse\":%.6g,\"val_rmse_p\":%.6g,\"val_rmse_d\":%.6g,\"val_rmse_lratio\":%.6g",
                score, rmse[0], rmse[1], rmse[2]);
    sb_printf(&rep, "}");
    if (score < best_score) {
      best_score = score;
      best_epoch = ep + 1;
      memcpy(best_rmse, rmse, sizeof rmse);
      memcpy(best_params, net->params, net->np * sizeof(float));
      memcpy(best_stats, net->stats, net->ns * sizeof(float));
    }
    snprintf(what, sizeof what, "epoch %d/%d val %.4f", ep + 2 > o->epochs ? o->epochs : ep + 2,
             o->epochs, score);
    if (nval && o->patience && ep + 1 - best_epoch >= o->patience) break;
    if (o->max_seconds > 0 && now_s() - t0 >= o->max_seconds) break;
  }
  if (nval) {
    memcpy(net->params, best_params, net->np * sizeof(float));
    memcpy(net->stats, best_stats, net->ns * sizeof(float));
  }
  sb_printf(&rep, "],\"epochs_run\":%d,\"best_epoch\":%d", epochs_run, nval ? best_epoch : epochs_run);
  if (nval)
    sb_printf(&rep, ",\"val_rmse\":{\"p\":%.6g,\"d\":%.6g,\"lratio\":%.6g}", best_rmse[0],
              best_rmse[1], best_rmse[2]);
  sb_printf(&rep, "}");
  if (rep.oom) {
    st = nm_fail(err, NM_ERR_NOMEM, "out of memory writing the training report");
    goto done;
  }
  free(net->report);
  net->report = rep.s;
  rep.s = NULL;
  *out = net;
  net = NULL;
  st = NM_OK;
done:
  if (have_ws) ws_free(&w);
  free(rep.s);
  free(perm);
  free(xb);
  free(tb);
  free(dout);
  free(pred);
  free(grad);
  free(m);
  free(v);
  free(best_params);
  free(best_stats);
  nm_cnn_free(net);
  return st;
}

/* ---------- diagnostics ---------- */

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

static double quantile(const float *sorted, size_t n, double q) {
  double pos = q * (double)(n - 1);
  size_t i = (size_t)pos;
  if (i + 1 >= n) return sorted[n - 1];
  return sorted[i] + (pos - (double)i) * (sorted[i + 1] - sorted[i]);
}

nm_status nm_cnn_eval_json(const float *pred, const float *truth, size_t n, char **json,
                           nm_error *err) {
  *json = NULL;
  if (n == 0) return nm_fail(err, NM_ERR_ARG, "no rows to evaluate");
  double se[3] = {0}, bias[3] = {0}, se10 = 0;
  size_t n10 = 0, dhit = 0;
  for (size_t i = 0; i < n; i++) {
    for (int j = 0; j < 3; j++) {
      double e = (double)pred[i * 3 + j] - truth[i * 3 + j];
      se[j] += e * e;
      bias[j] += e;
    }
    if (truth[i * 3] <= 10) {
      double e = (double)pred[i * 3] - truth[i * 3];
      se10 += e * e;
      n10++;
    }
    if (lround(pred[i * 3 + 1]) == lround(truth[i * 3 + 1])) dhit++;
  }
  sbuf b = {0};
  sb_printf(&b, "{\"n\":%zu,\"rmse\":{\"p\":%.6g,\"d\":%.6g,\"lratio\":%.6g},"
                "\"bias\":{\"p\":%.6g,\"d\":%.6g,\"lratio\":%.6g},",
            n, sqrt(se[0] / n), sqrt(se[1] / n), sqrt(se[2] / n), bias[0] / n, bias[1] / n, bias[2] / n);
  if (n10) sb_printf(&b, "\"rmse_p_true_p_le_10\":%.6g,\"n_true_p_le_10\":%zu,", sqrt(se10 / n10), n10);
  sb_printf(&b, "\"d_round_accuracy\":%.6g,\"rmse_by_p\":[", (double)dhit / n);
  static const double edges[] = {0, 1, 2, 3, 5, 7.5, 10, 15, 20, INFINITY};
  int first = 1;
  for (int k = 0; k + 1 < (int)(sizeof edges / sizeof *edges); k++) {
    double s[3] = {0};
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
      if (!(truth[i * 3] >= edges[k] && truth[i * 3] < edges[k + 1])) continue;
      c++;
      for (int j = 0; j < 3; j++) {
        double e = (double)pred[i * 3 + j] - truth[i * 3 + j];
        s[j] += e * e;
      }
    }
    if (!c) continue;
    char hi[32];
    if (isinf(edges[k + 1])) snprintf(hi, sizeof hi, "null");
    else snprintf(hi, sizeof hi, "%g", edges[k + 1]);
    sb_printf(&b, "%s{\"p_lo\":%g,\"p_hi\":%s,\"n\":%zu,\"rmse_p\":%.6g,\"rmse_d\":%.6g,\"rmse_lratio\":%.6g}",
              first ? "" : ",", edges[k], hi, c, sqrt(s[0] / c), sqrt(s[1] / c), sqrt(s[2] / c));
    first = 0;
  }
  sb_printf(&b, "],\"d_by_true_d\":[");
  first = 1;
  for (int d = 1; d <= 64; d++) {
    double s = 0, ss = 0;
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
      if (truth[i * 3 + 1] == (float)d) {
        s += pred[i * 3 + 1];
        ss += (double)pred[i * 3 + 1] * pred[i * 3 + 1];
        c++;
      }
    if (!c) continue;
    double m = s / c, var = ss / c - m * m;
    sb_printf(&b, "%s{\"d\":%d,\"n\":%zu,\"mean\":%.6g,\"sd\":%.6g}", first ? "" : ",", d, c, m,
              sqrt(var > 0 ? var : 0));
    first = 0;
  }
  sb_printf(&b, "],\"d_qq\":[");
  float *tq = malloc(sizeof(float) * n), *pq = malloc(sizeof(float) * n);
  if (!tq || !pq) {
    free(tq);
    free(pq);
    free(b.s);
    return nm_fail(err, NM_ERR_NOMEM, "out of memory");
  }
  for (size_t i = 0; i < n; i++) tq[i] = truth[i * 3 + 1], pq[i] = pred[i * 3 + 1];
  qsort(tq, n, sizeof(float), cmp_float);
  qsort(pq, n, sizeof(float), cmp_float);
  for (int k = 1; k <= 49; k++) {
    double q = k / 50.0;
    sb_printf(&b, "%s{\"q\":%.2f,\"true\":%.6g,\"pred\":%.6g}", k > 1 ? "," : "", q, quantile(tq, n, q),
              quantile(pq, n, q));
  }
  free(tq);
  free(pq);
  sb_printf(&b, "]}");
  if (b.oom) {
    free(b.s);
    return nm_fail(err, NM_ERR_NOMEM, "out of memory");
  }
  *json = b.s;
  return NM_OK;
}

/* ---------- serialisation ---------- */

static const unsigned char MAGIC[8] = {'N', 'M', 'C', 'N', 'N', 0, '\r', '\n'};

static uint32_t fnv1a(const uint8_t *p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

static void put_u32(uint8_t **p, uint32_t v) {
  (*p)[0] = (uint8_t)v, (*p)[1] = (uint8_t)(v >> 8), (*p)[2] = (uint8_t)(v >> 16), (*p)[3] = (uint8_t)(v >> 24);
  *p += 4;
}
static void put_f32(uint8_t **p, float f) {
  uint32_t v;
  memcpy(&v, &f, 4);
  put_u32(p, v);
}

nm_status nm_cnn_save(const nm_cnn *net, uint8_t **bytes, size_t *n, nm_error *err) {
  *bytes = NULL;
  *n = 0;
  size_t alen = strlen(net->arch), rlen = strlen(net->report);
  size_t total = 8 + 4 * 4 + alen + 6 * 4 + 4 + net->np * 4 + 4 + net->ns * 4 + 4 + rlen + 4;
  uint8_t *buf = nm_malloc(total, 1, err);
  if (!buf) return err ? err->code : NM_ERR_NOMEM;
  uint8_t *p = buf;
  memcpy(p, MAGIC, 8);
  p += 8;
  put_u32(&p, NM_CNN_FORMAT_VERSION);
  put_u32(&p, (uint32_t)net->crop_version);
  put_u32(&p, (uint32_t)net->size);
  put_u32(&p, (uint32_t)alen);
  memcpy(p, net->arch, alen);
  p += alen;
  for (int i = 0; i < 3; i++) put_f32(&p, net->tmean[i]);
  for (int i = 0; i < 3; i++) put_f32(&p, net->tstd[i]);
  put_u32(&p, (uint32_t)net->np);
  for (size_t i = 0; i < net->np; i++) put_f32(&p, net->params[i]);
  put_u32(&p, (uint32_t)net->ns);
  for (size_t i = 0; i < net->ns; i++) put_f32(&p, net->stats[i]);
  put_u32(&p, (uint32_t)rlen);
  memcpy(p, net->report, rlen);
  p += rlen;
  put_u32(&p, fnv1a(buf, (size_t)(p - buf)));
  *bytes = buf;
  *n = total;
  return NM_OK;
}

typedef struct reader {
  const uint8_t *p, *end;
} reader;

static int get_u32(reader *r, uint32_t *v) {
  if (r->end - r->p < 4) return 0;
  *v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
  r->p += 4;
  return 1;
}
static int get_f32(reader *r, float *f) {
  uint32_t v;
  if (!get_u32(r, &v)) return 0;
  memcpy(f, &v, 4);
  return 1;
}

nm_status nm_cnn_load(const void *bytes, size_t n, nm_cnn **out, nm_error *err) {
  *out = NULL;
  const uint8_t *b = bytes;
  if (!b || n < 8 || memcmp(b, MAGIC, 8) != 0)
    return nm_fail(err, NM_ERR_FORMAT, "not a nanomorph CNN model (bad magic)");
  reader r = {b + 8, b + n};
  uint32_t ver, crop, size, alen;
  if (!get_u32(&r, &ver)) goto truncated;
  if (ver != NM_CNN_FORMAT_VERSION)
    return nm_fail(err, NM_ERR_FORMAT, "CNN model format version %u is not supported (this build reads version %d)",
                   ver, NM_CNN_FORMAT_VERSION);
  if (!get_u32(&r, &crop) || !get_u32(&r, &size) || !get_u32(&r, &alen)) goto truncated;
  if (crop != NM_CROP_VERSION)
    return nm_fail(err, NM_ERR_FORMAT, "CNN model was trained on crop format version %u, this build makes version %d",
                   crop, NM_CROP_VERSION);
  if (alen == 0 || alen > 255) return nm_fail(err, NM_ERR_FORMAT, "CNN model is corrupt (architecture length %u)", alen);
  if ((size_t)(r.end - r.p) < alen) goto truncated;
  char arch[256];
  memcpy(arch, r.p, alen);
  arch[alen] = 0;
  r.p += alen;
  if (strlen(arch) != alen) return nm_fail(err, NM_ERR_FORMAT, "CNN model is corrupt (architecture text)");
  nm_error perr;
  nm_cnn *net = cnn_alloc(arch, (int)size, &perr);
  if (!net) {
    if (perr.code == NM_ERR_NOMEM) return nm_fail(err, NM_ERR_NOMEM, "%s", perr.msg);
    return nm_fail(err, NM_ERR_FORMAT, "CNN model is corrupt (%s)", perr.msg);
  }
  uint32_t np, ns, rlen;
  for (int i = 0; i < 3; i++)
    if (!get_f32(&r, &net->tmean[i])) goto truncated_free;
  for (int i = 0; i < 3; i++)
    if (!get_f32(&r, &net->tstd[i])) goto truncated_free;
  if (!get_u32(&r, &np)) goto truncated_free;
  if (np != net->np) {
    size_t want = net->np;
    nm_cnn_free(net);
    return nm_fail(err, NM_ERR_FORMAT, "CNN model is corrupt (%u weights stored, architecture has %zu)", np, want);
  }
  if ((size_t)(r.end - r.p) / 4 < np) goto truncated_free;
  for (size_t i = 0; i < np; i++) get_f32(&r, &net->params[i]);
  if (!get_u32(&r, &ns)) goto truncated_free;
  if (ns != net->ns) {
    nm_cnn_free(net);
    return nm_fail(err, NM_ERR_FORMAT, "CNN model is corrupt (batch-norm statistics do not match the architecture)");
  }
  if ((size_t)(r.end - r.p) / 4 < ns) goto truncated_free;
  for (size_t i = 0; i < ns; i++) get_f32(&r, &net->stats[i]);
  if (!get_u32(&r, &rlen)) goto truncated_free;
  if ((size_t)(r.end - r.p) < (size_t)rlen + 4) goto truncated_free;
  char *rep = malloc((size_t)rlen + 1);
  if (!rep) {
    nm_cnn_free(net);
    return nm_fail(err, NM_ERR_NOMEM, "out of memory loading a CNN model");
  }
  memcpy(rep, r.p, rlen);
  rep[rlen] = 0;
  r.p += rlen;
  free(net->report);
  net->report = rep;
  uint32_t sum;
  size_t body = (size_t)(r.p - b);
  get_u32(&r, &sum);
  if (r.p != r.end) {
    nm_cnn_free(net);
    return nm_fail(err, NM_ERR_FORMAT, "CNN model is corrupt (%zu extra bytes at the end)", (size_t)(r.end - r.p));
  }
  if (sum != fnv1a(b, body)) {
    nm_cnn_free(net);
    return nm_fail(err, NM_ERR_FORMAT, "CNN model is corrupt (checksum mismatch)");
  }
  for (int i = 0; i < 3; i++)
    if (!isfinite(net->tmean[i]) || !(net->tstd[i] > 0) || !isfinite(net->tstd[i])) {
      nm_cnn_free(net);
      return nm_fail(err, NM_ERR_FORMAT, "CNN model is corrupt (target standardisation)");
    }
  for (size_t i = 0; i < net->np; i++)
    if (!isfinite(net->params[i])) {
      nm_cnn_free(net);
      return nm_fail(err, NM_ERR_FORMAT, "CNN model is corrupt (a weight is not finite)");
    }
  for (int l = 0; l < net->nl; l++) {
    const layer *L = &net->L[l];
    if (L->type != L_BN) continue;
    for (int c = 0; c < L->oc; c++)
      if (!isfinite(net->stats[L->st + c]) || !(net->stats[L->st + L->oc + c] >= 0) ||
          !isfinite(net->stats[L->st + L->oc + c])) {
        nm_cnn_free(net);
        return nm_fail(err, NM_ERR_FORMAT, "CNN model is corrupt (batch-norm statistics)");
      }
  }
  *out = net;
  return NM_OK;
truncated_free:
  nm_cnn_free(net);
truncated:
  return nm_fail(err, NM_ERR_FORMAT, "CNN model is truncated");
}

/* ---------- the built-in model ---------- */

/* Defined in cnn_default_weights.S, which .incbin's samples/cnn-default.nmm. */
extern const uint8_t nm_cnn_default_model[];
extern const uint32_t nm_cnn_default_model_size;

const uint8_t *nm_cnn_default_bytes(size_t *n) {
  *n = nm_cnn_default_model_size;
  return *n ? nm_cnn_default_model : NULL;
}
