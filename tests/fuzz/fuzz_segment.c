/*
** fuzz_segment.c — libFuzzer target for the segmentation pipeline itself
** (nm_segment on pixel values, not on a file): every path a micrograph can
** take — bright and dark field, Otsu and local threshold, the split passes,
** the concave split, the edge refinement, block-mean multi-resolution for
** large particles — on images the readers would hand over.
**
** Input layout (short inputs are padded with zeros):
**   byte 0  bit 0: draw discs (else the bytes are the pixels, tiled)
**           bit 1: dark-field polarity forced ("bright"), bit 2: "dark"
**           bit 3: local threshold, bit 4: darkfield pipeline off,
**           bit 5: scale_px given (byte 6), bit 6: no edge exclusion
**   bytes 1, 2  width, height: 8 + b (8..263 px; larger fields only slow
**               the fuzzer: a 512² field takes ~2 s under ASan)
**   bytes 3, 4, 5  disc mode: background level, noise sd, noise seed
**   bytes 7..  disc mode: 4 bytes per disc (x, y, radius 1..128, level)
** Properties: nm_segment returns NM_OK or an error with a message; on NM_OK
** the label image has the input size, every label is in 0..count, every
** exclusion code is known, and the scale estimate is finite and positive.
*/
#include "fuzz_util.h"

#include <math.h>

#include "../../ext/segment.h"

#define MAX_DISCS 64

static uint8_t byte_at(const uint8_t *data, size_t size, size_t i) { return i < size ? data[i] : 0; }

/* xorshift32: the noise must be a function of the input alone. */
static double noise(uint32_t *s) {
  double sum = 0;
  for (int k = 0; k < 4; k++) {
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    sum += (*s >> 8) / 16777216.0;
  }
  return (sum - 2.0) * 1.7320508; /* variance 1 */
}

static void draw_discs(const uint8_t *data, size_t size, int w, int h, float *px) {
  double bg = byte_at(data, size, 3), sd = byte_at(data, size, 4) / 4.0;
  uint32_t s = 0x9E3779B9u ^ byte_at(data, size, 5);
  for (size_t i = 0; i < (size_t)w * h; i++) px[i] = (float)bg;
  size_t n = size > 7 ? (size - 7) / 4 : 0;
  if (n > MAX_DISCS) n = MAX_DISCS;
  for (size_t k = 0; k < n; k++) {
    const uint8_t *d = data + 7 + 4 * k;
    double cx = d[0] * w / 256.0, cy = d[1] * h / 256.0, r = 1 + d[2] / 2.0;
    int x0 = (int)fmax(0, cx - r), x1 = (int)fmin(w - 1, cx + r);
    int y0 = (int)fmax(0, cy - r), y1 = (int)fmin(h - 1, cy + r);
    for (int y = y0; y <= y1; y++)
      for (int x = x0; x <= x1; x++)
        if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) px[(size_t)y * w + x] = d[3];
  }
  if (sd > 0)
    for (size_t i = 0; i < (size_t)w * h; i++) px[i] += (float)(sd * noise(&s));
}

static void tile_bytes(const uint8_t *data, size_t size, int w, int h, float *px) {
  size_t n = size > 7 ? size - 7 : 0;
  for (size_t i = 0; i < (size_t)w * h; i++) px[i] = n ? data[7 + i % n] : 0.0f;
}

static void set_opt(nm_segment_opts *o, const char *key, double num, const char *text) {
  nm_error err = {0};
  FUZZ_REQUIRE(nm_segment_opts_set(o, key, num, text, &err) == NM_OK);
}

static nm_segment_opts *options_from(uint8_t flags, uint8_t scale) {
  nm_segment_opts *o = nm_segment_opts_new();
  FUZZ_REQUIRE(o != NULL);
  if (flags & 2) set_opt(o, "polarity", 0, "bright");
  else if (flags & 4) set_opt(o, "polarity", 0, "dark");
  if (flags & 8) set_opt(o, "threshold", 0, "local");
  if (flags & 16) set_opt(o, "darkfield", 0, NULL);
  if (flags & 32) set_opt(o, "scale_px", 2 + scale, NULL);
  if (flags & 64) set_opt(o, "exclude_edge", 0, NULL);
  return o;
}

static void check_result(const nm_segmentation *s, int w, int h) {
  FUZZ_REQUIRE(s->width == w && s->height == h && s->labels && s->excluded);
  FUZZ_REQUIRE(s->count >= 0);
  for (size_t i = 0; i < (size_t)w * h; i++) FUZZ_REQUIRE(s->labels[i] >= 0 && s->labels[i] <= s->count);
  /* every exclusion is one of the named reasons */
  for (int k = 0; k <= s->count; k++)
    FUZZ_REQUIRE(s->excluded[k] == NM_EXCL_NONE || nm_exclusion_name(s->excluded[k]) != NULL);
  FUZZ_REQUIRE(isfinite(s->scale_px) && s->scale_px > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t flags = byte_at(data, size, 0);
  int w = 8 + byte_at(data, size, 1), h = 8 + byte_at(data, size, 2);
  float *px = malloc(sizeof(float) * (size_t)w * h);
  FUZZ_REQUIRE(px != NULL);
  if (flags & 1) draw_discs(data, size, w, h, px);
  else tile_bytes(data, size, w, h, px);
  nm_segment_opts *o = options_from(flags, byte_at(data, size, 6));
  nm_segmentation s;
  memset(&s, 0, sizeof s);
  nm_error err = {0};
  nm_status st = nm_segment(px, w, h, o, NULL, &s, &err);
  if (st == NM_OK) check_result(&s, w, h);
  else FUZZ_FAILED_WITH_MESSAGE(st, err);
  nm_segmentation_free(&s);
  nm_segment_opts_free(o);
  free(px);
  return 0;
}

/* Seeds: a few disc fields (bright and dark field, small and large
** particles, touching pairs) so the fuzzer starts inside the pipeline. */
static void write_seeds(void) {
  static const uint8_t seeds[][7 + 4 * 4] = {
      {1, 60, 60, 200, 40, 1, 0, 60, 60, 40, 50, 100, 60, 40, 50, 180, 180, 30, 50, 60, 190, 20, 50},
      {3, 100, 80, 30, 20, 2, 0, 50, 50, 20, 220, 70, 50, 20, 220, 200, 120, 10, 220, 120, 200, 6, 220},
      {1, 250, 250, 200, 30, 3, 0, 128, 128, 250, 40, 60, 60, 200, 60, 200, 200, 180, 60, 30, 220, 250, 60},
      {9, 120, 120, 180, 60, 4, 0, 40, 40, 30, 90, 60, 40, 30, 90, 150, 150, 60, 90, 200, 60, 10, 90},
  };
  char name[32];
  for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
    snprintf(name, sizeof name, "seed-discs-%zu", i);
    fuzz_write_seed(name, seeds[i], sizeof seeds[i]);
  }
}

NM_FUZZ_INIT(write_seeds)
