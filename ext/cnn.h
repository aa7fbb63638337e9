/*
** cnn.h — the shape CNN: a small convolutional regressor from a canonical
** crop (crop.h) to the triplet (p, d, Lratio), trained on simulated crops.
**
** Layers work on a batch at once in [channel][image][row][col] order, so a
** convolution over the whole batch is one im2col + one cblas_sgemm, and so is
** its backward pass; OpenBLAS threads the GEMMs. Everything that is random
** (initial weights, shuffling, augmentation, the validation split) comes from
** the seed in nm_cnn_train_opts: same seed, same data → same model bytes.
**
** Architecture string: comma-separated layers, applied left to right
**   c<F>[k<K>][s<S>][p<P>]  convolution to F channels, K×K kernel (3), stride
**                           S (1), zero padding P (K/2); with a bias
**   b                       batch normalisation (batch statistics when
**                           training, running averages at inference)
**   r                       ReLU
**   a                       2×2 average pool, stride 2
**   d<N>                    dense layer to N outputs (the last layer is d3)
**   h<K>                    (last item, after d<4K>) a multi-hypothesis head:
**                           the last layer gives K triplets and K selector
**                           logits; training is relaxed winner-takes-all
**                           (the hypothesis nearest the target learns it)
**                           plus a cross-entropy teaching the selector which
**                           one wins; inference answers the mean of the
**                           hypotheses weighted by the selector's
**                           probabilities squared (a tempered mean, cnn.c).
**                           For masks that fit several triplets (a near-circle
**                           is every d) a d3 regression answers the mean of
**                           the modes, a shape that is none of them; this
**                           leans to the most probable mode. K in 2..NM_CNN_MAX_HEADS.
** e.g. the paper's net at 44 px: "c8,b,r,a,c16,b,r,a,c32,b,r,c32,b,r,d3".
**
** Models serialise to a self-describing little-endian BLOB:
**   "NMCNN\0\r\n" magic, u32 format version, u32 crop version, u32 input size,
**   arch string, target standardisation (mean, std of p, d, Lratio), weights,
**   batch-norm running statistics, training report (JSON text), and an FNV-1a
**   checksum of all preceding bytes. Loading checks every field: a corrupt,
**   truncated or foreign BLOB is an NM_ERR_FORMAT error, never a crash.
*/
#ifndef NM_CNN_H
#define NM_CNN_H

#include <stddef.h>
#include <stdint.h>

#include "nm_common.h"

#define NM_CNN_FORMAT_VERSION 1
#define NM_CNN_MAX_LAYERS 32
#define NM_CNN_OUTPUTS 3
#define NM_CNN_MAX_HEADS 16
/* The default architecture, chosen by measurement (docs/cnn.md). */
#define NM_CNN_DEFAULT_ARCH "a,c12,b,r,a,c24,b,r,a,c48,b,r,a,d16,h4"

typedef struct nm_cnn nm_cnn;

/* A fresh network for size×size inputs with seeded He-initialised weights. */
nm_status nm_cnn_create(const char *arch, int size, uint64_t seed,
                        nm_cnn **out, nm_error *err);
void nm_cnn_free(nm_cnn *net);

int nm_cnn_input_size(const nm_cnn *net);
int nm_cnn_crop_version(const nm_cnn *net);
const char *nm_cnn_arch(const nm_cnn *net);
/* Number of trainable weights (batch-norm running statistics excluded). */
size_t nm_cnn_weight_count(const nm_cnn *net);
/* Multiply-adds per image of one forward pass. */
double nm_cnn_macs(const nm_cnn *net);
/* The training report (JSON object text, "{}" when untrained). */
const char *nm_cnn_report(const nm_cnn *net);
/* Target standardisation: mean[3], std[3] of (p, d, Lratio). */
void nm_cnn_standardisation(const nm_cnn *net, float mean[3], float std[3]);
void nm_cnn_set_standardisation(nm_cnn *net, const float mean[3], const float std[3]);

/*
** Inference on n crops (n*size*size floats, values in [0,1], row-major, one
** image after another) → out n*3 floats (p, d, Lratio per crop, in original
** units). Batch-norm is folded into the convolutions, and bias, ReLU and
** pooling are fused into one pass after each GEMM. The crops go through the
** net in micro-batches of min(batch, NM_CNN_GEMM_IMAGES) images (batch 0 =
** no cap): one im2col per layer per micro-batch, its product handed to
** OpenBLAS in column blocks small enough for its unpacked small-matrix
** kernels, so the activations stay in a core's cache (sizes measured, see
** cnn.c and docs/cnn.md). The micro-batches are shared among as many
** threads as OpenBLAS would use (the cores, or OPENBLAS_NUM_THREADS), and
** OpenBLAS runs single-threaded meanwhile (process-wide, restored
** afterwards; cnn.c says why). The model is only read, so one model can
** serve several threads. The folded plan and one set of scratch buffers
** are built on the first call and kept with the model until nm_cnn_free or
** nm_cnn_params (a lock guards the build; the buffers serve one thread at a
** time, others allocate their own). Results equal nm_cnn_predict_reference within
** float rounding (relative 1e-4, tests/unit/test_cnn.c) and do not depend on
** the thread count.
*/
#define NM_CNN_GEMM_IMAGES 2
nm_status nm_cnn_predict(const nm_cnn *net, const float *x, size_t n, int batch,
                         float *out, nm_error *err);

/* The plain layer-by-layer path: batches of `batch` (0 = 256) in the training
** layout, one thread, batch-norm applied after the GEMM. Training's
** validation uses it (so a model's bytes do not depend on the fast path), and
** the tests compare nm_cnn_predict against it. */
nm_status nm_cnn_predict_reference(const nm_cnn *net, const float *x, size_t n, int batch,
                                   float *out, nm_error *err);

/* The multi-hypothesis head's raw answer (reference path, for studying
** answer rules): per crop, 4K floats — the K hypotheses' triplets (p, d,
** Lratio in original units, hypothesis after hypothesis) then the K selector
** probabilities. K = nm_cnn_heads(net); NM_ERR_ARG for a net without a head. */
int nm_cnn_heads(const nm_cnn *net);
nm_status nm_cnn_predict_heads(const nm_cnn *net, const float *x, size_t n, float *out,
                               nm_error *err);

/* The same, averaged over the 8 symmetries of the square (test-time
** augmentation: the triplet does not change under any of them): 8 forward
** passes per crop. */
nm_status nm_cnn_predict_d4(const nm_cnn *net, const float *x, size_t n, int batch,
                            float *out, nm_error *err);

/*
** Training. images: n*size*size bytes (crop value·255, as in the crop PNG),
** targets: n*3 floats (p, d, Lratio). Validation rows (early stopping on
** validation RMSE = sqrt of the mean standardised per-parameter MSE; the
** best epoch's weights are returned) are those with is_val[i] != 0, or, when
** is_val is NULL, a seeded val_fraction of the rows.
*/
typedef struct nm_cnn_train_opts {
  const char *arch;     /* NULL = NM_CNN_DEFAULT_ARCH */
  int epochs;           /* 30 */
  int batch;            /* 64 */
  double lr;            /* 2e-3, Adam, cosine-decayed to lr/20 over `epochs` */
  uint64_t seed;        /* 1 */
  double val_fraction;  /* 0.1 when is_val is NULL (0 = no validation, no
                           early stopping) */
  int patience;         /* 6 epochs without improvement stops (0 = never) */
  int augment;          /* 1: random rotation by 90° steps and flips */
  double max_seconds;   /* 0 = no limit; stops after the epoch that passes it
                           (a budget, so not reproducible: off by default) */
} nm_cnn_train_opts;

void nm_cnn_train_opts_default(nm_cnn_train_opts *o);
/* Checks option values before any work; NM_ERR_ARG naming the option. */
nm_status nm_cnn_train_opts_check(const nm_cnn_train_opts *o, nm_error *err);

nm_status nm_cnn_train(const nm_cnn_train_opts *o, const uint8_t *images,
                       size_t n, int size, const float *targets,
                       const uint8_t *is_val, const nm_progress *progress,
                       nm_cnn **out, nm_error *err);

/*
** Diagnostics of n predictions against the truth (both n*3: p, d, Lratio), as
** a malloc'd JSON object (free()): n; rmse, bias per parameter; the RMSE of p
** for true p <= 10; the fraction with round(d) = true d; rmse_by_p (rows per
** bin of true p); d_by_true_d (mean, sd of predicted d per integer true d);
** d_qq (matching quantiles of true and predicted d, the Q–Q plot).
*/
nm_status nm_cnn_eval_json(const float *pred, const float *truth, size_t n,
                           char **json, nm_error *err);

/* Serialise to a malloc'd BLOB (caller frees with free()). */
nm_status nm_cnn_save(const nm_cnn *net, uint8_t **bytes, size_t *n,
                      nm_error *err);
/* Parse a BLOB; NM_ERR_FORMAT with a message on anything malformed. */
nm_status nm_cnn_load(const void *bytes, size_t n, nm_cnn **out, nm_error *err);

/*
** The built-in default model (samples/cnn-default.nmm, compiled in). Returns
** its bytes; *n = 0 when the build carries none.
*/
const uint8_t *nm_cnn_default_bytes(size_t *n);

/*
** For gradient checks and tests: the trainable parameters (read/write), and
** one training-mode forward/backward pass on n images (floats) with
** standardised targets t (n*3): *loss = mean squared error (with h<K>: the
** multi-hypothesis loss), grad (same length
** as the parameters) = its gradient. Batch-norm uses batch statistics and
** does not update its running averages here.
*/
/* nm_cnn_params drops the inference cache: call it again after predicting
** before changing weights, never while another thread predicts. */
float *nm_cnn_params(nm_cnn *net, size_t *count);
nm_status nm_cnn_loss_grad(nm_cnn *net, const float *x, const float *t,
                           int n, double *loss, float *grad, nm_error *err);

#endif /* NM_CNN_H */
