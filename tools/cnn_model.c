/*
** tools/cnn_model.c — trains a shape CNN on the simulated data set and
** writes its model file; `make model` runs it to produce the default weights
** samples/cnn-default.nmm.
**
**   cnn_model [-n 65000] [-s 42] [-o samples/cnn-default.nmm] [-e epochs]
**             [-b batch] [-l lr] [-a arch] [-t seed] [-c cache] [-j threads]
**             [-C delta]
**
** Row i of the data set is exactly row i of `simulate(n, seed)` (the same
** engine call, nm_sim_example, quantised to 8 bits as in the crop PNG), with
** its train/val/test split: training rows train, validation rows drive early
** stopping, test rows give the RMSEs printed at the end (JSON on stdout).
** -S sets simulator options as "key=value;key=[min,max]" (the keys of
** simulate()'s options); -c caches the generated crops in a file so that architecture trials do not
** simulate again. -j sets the simulation threads (training threads are
** OpenBLAS's; see docs/cnn.md on determinism). -C trains on canonical labels
** (sim_canon.h: a row whose mask the moment ellipse explains within delta of
** its drawn triplet is labelled as that ellipse); the test RMSEs are printed
** against the drawn labels and, beside them, against the canonical ones.
*/
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../ext/cnn.h"
#include "sim_canon.h"
#include "sim_opts_arg.h"
#include "../ext/crop.h"
#include "../ext/shape.h"

typedef struct data {
  size_t n;
  int size;
  uint8_t *img;
  float *tg;
  uint8_t *split;
} data;

static nm_sim_opts sim_opts;

typedef struct job {
  data *d;
  uint64_t seed;
  size_t lo, hi;
  int failed;
  char msg[600];
} job;

static void *sim_range(void *arg) {
  job *j = arg;
  nm_sim_opts o = sim_opts;
  size_t px = (size_t)j->d->size * j->d->size;
  float *crop = malloc(sizeof(float) * px);
  for (size_t i = j->lo; i < j->hi && crop; i++) {
    nm_shape s;
    nm_error err;
    if (nm_sim_example(&o, j->seed, (int64_t)i, &s, crop, NULL, NULL, NULL, &err) != NM_OK) {
      j->failed = 1;
      snprintf(j->msg, sizeof j->msg, "row %zu: %s", i, err.msg);
      break;
    }
    nm_crop_to_u8(crop, j->d->size, j->d->img + i * px);
    j->d->tg[i * 3 + 0] = (float)s.p;
    j->d->tg[i * 3 + 1] = (float)s.d;
    j->d->tg[i * 3 + 2] = (float)s.lratio;
    j->d->split[i] = (uint8_t)nm_sim_split(j->seed, (int64_t)i);
  }
  free(crop);
  return NULL;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int load_cache(const char *path, data *d, uint64_t seed) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  uint64_t hdr[3];
  int ok = fread(hdr, sizeof hdr, 1, f) == 1 && hdr[0] == d->n && hdr[1] == (uint64_t)d->size &&
           hdr[2] == seed;
  size_t px = (size_t)d->size * d->size;
  ok = ok && fread(d->img, px, d->n, f) == d->n && fread(d->tg, sizeof(float) * 3, d->n, f) == d->n &&
       fread(d->split, 1, d->n, f) == d->n;
  fclose(f);
  return ok;
}

static void save_cache(const char *path, const data *d, uint64_t seed) {
  FILE *f = fopen(path, "wb");
  if (!f) return;
  uint64_t hdr[3] = {d->n, (uint64_t)d->size, seed};
  size_t px = (size_t)d->size * d->size;
  fwrite(hdr, sizeof hdr, 1, f);
  fwrite(d->img, px, d->n, f);
  fwrite(d->tg, sizeof(float) * 3, d->n, f);
  fwrite(d->split, 1, d->n, f);
  fclose(f);
}

static int tick(void *ctx, double done, double total, const char *what) {
  double *last = ctx, t = now_s();
  if (t - *last > 10) {
    *last = t;
    fprintf(stderr, "  %s: %.0f/%.0f images\n", what, done, total);
  }
  return 0;
}

int main(int argc, char **argv) {
  size_t n = 65000;
  uint64_t seed = 42;
  const char *out = NULL, *cache = NULL;
  int threads = 2;
  uint64_t seed_tag = 0;
  nm_cnn_train_opts o;
  nm_cnn_train_opts_default(&o);
  int c;
  const char *sim_spec = NULL;
  double canon_delta = -1;
  nm_sim_opts_default(&sim_opts);
  while ((c = getopt(argc, argv, "n:s:o:e:b:l:a:t:c:j:p:S:C:")) != -1) {
    switch (c) {
      case 'n': n = strtoull(optarg, NULL, 10); break;
      case 's': seed = strtoull(optarg, NULL, 10); break;
      case 'o': out = optarg; break;
      case 'e': o.epochs = atoi(optarg); break;
      case 'b': o.batch = atoi(optarg); break;
      case 'l': o.lr = atof(optarg); break;
      case 'a': o.arch = optarg; break;
      case 't': o.seed = strtoull(optarg, NULL, 10); break;
      case 'c': cache = optarg; break;
      case 'j': threads = atoi(optarg); break;
      case 'p': o.patience = atoi(optarg); break;
      case 'S': sim_spec = optarg; break;
      case 'C': canon_delta = atof(optarg); break;
      default:
        fprintf(stderr, "usage: %s [-n N] [-s sim_seed] [-o out.nmm] [-e epochs] [-b batch] [-l lr] "
                        "[-a arch] [-t train_seed] [-p patience] [-c cache] [-j sim_threads] "
                        "[-S sim_options] [-C canon_delta]\n", argv[0]);
        return 2;
    }
  }
  if (n < 20 || threads < 1 || threads > 64) {
    fprintf(stderr, "cnn_model: bad -n or -j\n");
    return 2;
  }
  if (sim_spec && !parse_sim_opts(sim_spec, &sim_opts)) return 2;
  /* the cache is only valid for the same simulator options */
  for (const char *q = sim_spec ? sim_spec : ""; *q; q++) seed_tag = (seed_tag ^ (uint8_t)*q) * 1099511628211ULL;
  data d = {n, NM_CROP_SIZE, NULL, NULL, NULL};
  size_t px = (size_t)d.size * d.size;
  d.img = malloc(px * n);
  d.tg = malloc(sizeof(float) * 3 * n);
  d.split = malloc(n);
  if (!d.img || !d.tg || !d.split) {
    fprintf(stderr, "cnn_model: out of memory\n");
    return 1;
  }
  double t0 = now_s();
  if (!cache || !load_cache(cache, &d, seed ^ seed_tag)) {
    pthread_t th[64];
    job jobs[64];
    for (int k = 0; k < threads; k++) {
      jobs[k] = (job){&d, seed, n * k / threads, n * (k + 1) / threads, 0, ""};
      pthread_create(&th[k], NULL, sim_range, &jobs[k]);
    }
    for (int k = 0; k < threads; k++) pthread_join(th[k], NULL);
    for (int k = 0; k < threads; k++)
      if (jobs[k].failed) {
        fprintf(stderr, "cnn_model: simulate: %s\n", jobs[k].msg);
        return 1;
      }
    if (cache) save_cache(cache, &d, seed ^ seed_tag);
  }
  double t_sim = now_s() - t0;
  fprintf(stderr, "cnn_model: %zu simulated crops in %.1f s\n", n, t_sim);
  /* Labels the network learns: the drawn ones, or canonical (-C). */
  float *ctg = malloc(sizeof(float) * 3 * n);
  if (!ctg) return 1;
  memcpy(ctg, d.tg, sizeof(float) * 3 * n);
  size_t n_canon = 0;
  double t_canon = 0;
  if (canon_delta >= 0) {
    t0 = now_s();
    n_canon = canon_labels(d.img, n, d.size, canon_delta, ctg, threads);
    t_canon = now_s() - t0;
    fprintf(stderr, "cnn_model: %zu of %zu labels made canonical (ellipse) in %.1f s\n", n_canon, n,
            t_canon);
  }

  /* Training set = train + val rows (val flagged); test rows kept apart. */
  size_t ntv = 0, ntest = 0;
  for (size_t i = 0; i < n; i++) {
    if (d.split[i] == 2) ntest++;
    else ntv++;
  }
  uint8_t *img = malloc(px * ntv), *isval = malloc(ntv), *timg = malloc(px * ntest);
  float *tg = malloc(sizeof(float) * 3 * ntv), *ttg = malloc(sizeof(float) * 3 * ntest),
        *tctg = malloc(sizeof(float) * 3 * ntest);
  float *tx = malloc(sizeof(float) * px * ntest), *pred = malloc(sizeof(float) * 3 * ntest);
  if (!img || !isval || !timg || !tg || !ttg || !tctg || !tx || !pred) return 1;
  size_t a = 0, b = 0;
  for (size_t i = 0; i < n; i++) {
    if (d.split[i] == 2) {
      memcpy(timg + b * px, d.img + i * px, px);
      memcpy(ttg + b * 3, d.tg + i * 3, sizeof(float) * 3);
      memcpy(tctg + b * 3, ctg + i * 3, sizeof(float) * 3);
      b++;
    } else {
      memcpy(img + a * px, d.img + i * px, px);
      memcpy(tg + a * 3, ctg + i * 3, sizeof(float) * 3);
      isval[a] = d.split[i] == 1;
      a++;
    }
  }
  free(d.img);
  double last = now_s();
  nm_progress pr = {tick, &last};
  nm_cnn *net = NULL;
  nm_error err;
  t0 = now_s();
  if (nm_cnn_train(&o, img, ntv, d.size, tg, isval, &pr, &net, &err) != NM_OK) {
    fprintf(stderr, "cnn_model: %s\n", err.msg);
    return 1;
  }
  double t_train = now_s() - t0;

  for (size_t i = 0; i < px * ntest; i++) tx[i] = timg[i] / 255.0f;
  t0 = now_s();
  if (nm_cnn_predict(net, tx, ntest, 256, pred, &err) != NM_OK) {
    fprintf(stderr, "cnn_model: %s\n", err.msg);
    return 1;
  }
  double t_pred = now_s() - t0;
  double se[3] = {0}, se10 = 0, sc[3] = {0};
  size_t n10 = 0;
  for (size_t i = 0; i < ntest; i++) {
    for (int j = 0; j < 3; j++) se[j] += (pred[i * 3 + j] - ttg[i * 3 + j]) * (pred[i * 3 + j] - ttg[i * 3 + j]);
    for (int j = 0; j < 3; j++) sc[j] += (pred[i * 3 + j] - tctg[i * 3 + j]) * (pred[i * 3 + j] - tctg[i * 3 + j]);
    if (ttg[i * 3] <= 10) {
      se10 += (pred[i * 3] - ttg[i * 3]) * (pred[i * 3] - ttg[i * 3]);
      n10++;
    }
  }
  printf("{\"arch\":\"%s\",\"weights\":%zu,\"macs\":%.0f,\"n_train_val\":%zu,\"n_test\":%zu,"
         "\"test_rmse\":{\"p\":%.4f,\"p_true_le_10\":%.4f,\"d\":%.4f,\"lratio\":%.4f},"
         "\"canonical\":{\"delta\":%g,\"n\":%zu,\"s\":%.1f,\"test_rmse\":{\"p\":%.4f,\"d\":%.4f,\"lratio\":%.4f}},"
         "\"sim_s\":%.1f,\"train_s\":%.1f,\"predict_per_s\":%.0f,\"report\":%s}\n",
         nm_cnn_arch(net), nm_cnn_weight_count(net), nm_cnn_macs(net), ntv, ntest,
         sqrt(se[0] / ntest), sqrt(se10 / (n10 ? n10 : 1)), sqrt(se[1] / ntest), sqrt(se[2] / ntest),
         canon_delta, n_canon, t_canon, sqrt(sc[0] / ntest), sqrt(sc[1] / ntest), sqrt(sc[2] / ntest),
         t_sim, t_train, ntest / t_pred, nm_cnn_report(net));
  if (out) {
    uint8_t *bytes;
    size_t nb;
    if (nm_cnn_save(net, &bytes, &nb, &err) != NM_OK) {
      fprintf(stderr, "cnn_model: %s\n", err.msg);
      return 1;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    FILE *f = fopen(tmp, "wb");
    if (!f || fwrite(bytes, 1, nb, f) != nb || fclose(f) != 0 || rename(tmp, out) != 0) {
      fprintf(stderr, "cnn_model: cannot write %s: %s\n", out, strerror(errno));
      return 1;
    }
    fprintf(stderr, "cnn_model: wrote %s (%zu bytes)\n", out, nb);
    free(bytes);
  }
  nm_cnn_free(net);
  free(img);
  free(isval);
  free(timg);
  free(tg);
  free(ttg);
  free(tctg);
  free(ctg);
  free(tx);
  free(pred);
  free(d.tg);
  free(d.split);
  return 0;
}
