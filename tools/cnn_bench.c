/*
** tools/cnn_bench.c — batched CNN inference speed (`make bench-cnn`).
**
**   cnn_bench [-m model.nmm] [-n crops] [-b batch] [-N default|paper]
**
** Times nm_cnn_predict (the path cnn_params() takes, called with batches of
** -b crops as cnn_params() does) on n simulated canonical crops, best of 3
** runs, for the default model (or -m) and, for comparison inside the same
** engine, the paper's architecture at 44 px with untrained weights (-N: only
** one of them). One JSON line per net: crops/s (wall clock) and CPU µs per
** crop (all threads; steadier than the wall clock on a loaded machine).
** Crop decoding (PNG) is not included: that is the SQL layer's cost,
** measured apart by the cnn_params line of `make bench-cnn`.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>

#include "../ext/cnn.h"
#include "../ext/crop.h"
#include "../ext/shape.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* nm_cnn_predict runs one thread per OpenBLAS thread (cnn.h). */
static int threads;

static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void bench(const char *name, const nm_cnn *net, const float *x, size_t n, int batch) {
  float *out = malloc(sizeof(float) * 3 * n);
  nm_error err;
  double best = 0, best_cpu = 1e30;
  nm_cnn_predict(net, x, (size_t)batch < n ? (size_t)batch : n, batch, out, &err); /* warm up */
  for (int r = 0; r < 3; r++) {
    double t = now_s(), c = cpu_s();
    for (size_t i = 0; i < n; i += (size_t)batch) {
      size_t k = n - i < (size_t)batch ? n - i : (size_t)batch;
      size_t px = (size_t)nm_cnn_input_size(net) * nm_cnn_input_size(net);
      if (nm_cnn_predict(net, x + i * px, k, batch, out + i * 3, &err) != NM_OK) {
        fprintf(stderr, "cnn_bench: %s\n", err.msg);
        exit(1);
      }
    }
    double rate = n / (now_s() - t), cpu = (cpu_s() - c) / n;
    if (rate > best) best = rate;
    if (cpu < best_cpu) best_cpu = cpu;
  }
  printf("{\"impl\":\"nanomorph\",\"net\":\"%s\",\"arch\":\"%s\",\"input\":%d,\"weights\":%zu,"
         "\"macs\":%.0f,\"batch\":%d,\"gemm_images\":%d,\"threads\":%d,\"cpu_us_per_crop\":%.1f,"
         "\"crops_per_s\":%.0f}\n",
         name, nm_cnn_arch(net), nm_cnn_input_size(net), nm_cnn_weight_count(net), nm_cnn_macs(net),
         batch, batch < NM_CNN_GEMM_IMAGES ? batch : NM_CNN_GEMM_IMAGES, threads, best_cpu * 1e6, best);
  free(out);
}

int main(int argc, char **argv) {
  threads = openblas_get_num_threads();
  const char *model = NULL, *only = NULL;
  size_t n = 8192;
  int batch = 256, c;
  while ((c = getopt(argc, argv, "m:n:b:N:")) != -1) {
    if (c == 'm') model = optarg;
    else if (c == 'n') n = strtoull(optarg, NULL, 10);
    else if (c == 'b') batch = atoi(optarg);
    else if (c == 'N') only = optarg;
    else {
      fprintf(stderr, "usage: %s [-m model.nmm] [-n crops] [-b batch] [-N default|paper]\n", argv[0]);
      return 2;
    }
  }
  if (batch < 1 || n < 1) {
    fprintf(stderr, "cnn_bench: -b and -n must be positive\n");
    return 2;
  }
  nm_error err;
  nm_cnn *net = NULL;
  if (model) {
    FILE *f = fopen(model, "rb");
    if (!f) return 1;
    static uint8_t buf[1 << 24];
    size_t got = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (nm_cnn_load(buf, got, &net, &err) != NM_OK) {
      fprintf(stderr, "cnn_bench: %s\n", err.msg);
      return 1;
    }
  } else {
    size_t nb;
    const uint8_t *b = nm_cnn_default_bytes(&nb);
    if (!b || nm_cnn_load(b, nb, &net, &err) != NM_OK) {
      fprintf(stderr, "cnn_bench: no usable built-in model\n");
      return 1;
    }
  }
  /* 256 distinct simulated crops, repeated up to n. */
  int size = nm_cnn_input_size(net);
  size_t px = (size_t)size * size;
  float *x = malloc(sizeof(float) * px * n);
  nm_sim_opts so;
  nm_sim_opts_default(&so);
  so.size = size;
  for (size_t i = 0; i < n; i++) {
    if (i < 256) {
      nm_shape s;
      if (nm_sim_example(&so, 1, (int64_t)i, &s, x + i * px, NULL, NULL, NULL, &err) != NM_OK) {
        fprintf(stderr, "cnn_bench: %s\n", err.msg);
        return 1;
      }
    } else {
      for (size_t j = 0; j < px; j++) x[i * px + j] = x[(i % 256) * px + j];
    }
  }
  if (!only || !strcmp(only, "default")) bench("default", net, x, n, batch);
  nm_cnn *paper = NULL;
  if ((!only || !strcmp(only, "paper")) && nm_cnn_create("c8,b,r,a,c16,b,r,a,c32,b,r,c32,b,r,d3", 44, 1, &paper, &err) == NM_OK) {
    float *y = malloc(sizeof(float) * 44 * 44 * n);
    for (size_t i = 0; i < n; i++)
      for (int r = 0; r < 44; r++)
        for (int q = 0; q < 44; q++) y[i * 44 * 44 + r * 44 + q] = x[i * px + (r + 10) * size + q + 10];
    bench("paper (44 px, same engine)", paper, y, n, batch);
    free(y);
    nm_cnn_free(paper);
  }
  free(x);
  nm_cnn_free(net);
  return 0;
}
