/*
** fuzz_cnn_model.c — libFuzzer target for nm_cnn_load (the CNN model BLOB).
**
** Each input is loaded twice: as given (magic, version and checksum checks
** see it), and with its last four bytes replaced by the FNV-1a checksum of
** the rest, so that mutations get past the checksum into the field parsers
** (architecture text, weight and statistics counts, report length).
** A model that loads must: run a forward pass on two crops when it is small
** enough (the loader promises a consistent network, not just parsed bytes),
** save, load back and save to the same bytes; and when the saved BLOB is as
** long as the input, be the input bit for bit.
** Seeds: the compiled-in default model (samples/cnn-default.nmm) and small
** networks of every layer kind made with nm_cnn_create.
*/
#include "fuzz_util.h"

#include <math.h>

#include "../../ext/cnn.h"

static uint32_t fnv1a(const uint8_t *p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

static void check_loaded(nm_cnn *net, const uint8_t *b, size_t n) {
  int size = nm_cnn_input_size(net);
  FUZZ_REQUIRE(size >= 4 && size <= 1024);
  FUZZ_REQUIRE(nm_cnn_arch(net) && nm_cnn_report(net));
  nm_error err = {0};
  /* A forward pass only on small networks: the cap keeps the fuzzer fast. */
  if ((size_t)size * size <= 4096 && nm_cnn_macs(net) <= 2e6) {
    size_t px = (size_t)size * size;
    float *x = malloc(2 * px * sizeof *x);
    float out[6];
    FUZZ_REQUIRE(x != NULL);
    for (size_t i = 0; i < 2 * px; i++) x[i] = (float)((i * 7919u) % 256) / 255.0f;
    nm_status st = nm_cnn_predict(net, x, 2, 0, out, &err);
    if (st != NM_OK) FUZZ_FAILED_WITH_MESSAGE(st, err);
    free(x);
  }
  uint8_t *b2 = NULL, *b3 = NULL;
  size_t n2 = 0, n3 = 0;
  FUZZ_REQUIRE(nm_cnn_save(net, &b2, &n2, &err) == NM_OK);
  nm_cnn *back = NULL;
  nm_status st = nm_cnn_load(b2, n2, &back, &err);
  if (st != NM_OK) fprintf(stderr, "reload: %s\n", err.msg);
  FUZZ_REQUIRE(st == NM_OK);
  FUZZ_REQUIRE(nm_cnn_save(back, &b3, &n3, &err) == NM_OK);
  FUZZ_REQUIRE(n2 == n3 && memcmp(b2, b3, n2) == 0);
  /* Only the report can shrink (text after an embedded NUL is dropped). */
  FUZZ_REQUIRE(n2 <= n);
  if (n2 == n) FUZZ_REQUIRE(memcmp(b, b2, n) == 0);
  nm_cnn_free(back);
  free(b2);
  free(b3);
}

static void try_load(const uint8_t *b, size_t n) {
  nm_cnn *net = NULL;
  nm_error err = {0};
  nm_status st = nm_cnn_load(b, n, &net, &err);
  if (st != NM_OK) {
    FUZZ_FAILED_WITH_MESSAGE(st, err);
    FUZZ_REQUIRE(net == NULL);
    return;
  }
  check_loaded(net, b, n);
  nm_cnn_free(net);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try_load(data, size);
  if (size >= 12) {
    uint8_t *copy = malloc(size);
    if (!copy) return 0;
    memcpy(copy, data, size);
    uint32_t h = fnv1a(copy, size - 4);
    for (int i = 0; i < 4; i++) copy[size - 4 + i] = (uint8_t)(h >> (8 * i));
    try_load(copy, size);
    free(copy);
  }
  return 0;
}

static void write_seeds(void) {
  static const struct {
    const char *arch;
    int size;
  } nets[] = {
      {"d3", 4},
      {"c2,r,a,d3", 8},
      {"c3k5s2p1,b,r,d3", 12},
      {"a,b,r,c4k1,a,d3", 16},
      {"c2k3s1p0,b,r,c2s2,d5,r,d3", 10},
      {NM_CNN_DEFAULT_ARCH, 24},
  };
  for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
    nm_cnn *net = NULL;
    nm_error err = {0};
    if (nm_cnn_create(nets[i].arch, nets[i].size, 7 + i, &net, &err) != NM_OK) {
      fprintf(stderr, "seed %s: %s\n", nets[i].arch, err.msg);
      continue;
    }
    uint8_t *b = NULL;
    size_t n = 0;
    if (nm_cnn_save(net, &b, &n, &err) == NM_OK) {
      char name[64];
      snprintf(name, sizeof name, "cnn-%zu.nmm", i);
      fuzz_write_seed(name, b, n);
      free(b);
    }
    nm_cnn_free(net);
  }
  size_t n = 0;
  const uint8_t *def = nm_cnn_default_bytes(&n);
  if (def && n) fuzz_write_seed("cnn-default.nmm", def, n);
}

NM_FUZZ_INIT(write_seeds)
