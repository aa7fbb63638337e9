/*
** fuzz_labels.c — libFuzzer target for the user label image of particles():
** nm_particles_run with the label image as a BLOB (option `labels` /
** particles(image, options, labels)), measure = 1.
**
** The input is the label image file (any format the sniffer knows). The
** micrograph is made here: a gray PNG with dark discs, of the label image's
** own size when that decodes to at most 2^18 pixels (so the geometry check
** passes and the label values reach the labelling and feature code), else
** 64 x 64 (the size-mismatch path). The pixel cap is 2^20 for both.
** Properties: success gives n_labels features, exclusions in range and
** labels within 0..n_labels; failure has a message.
** Seeds: 16-bit and 8-bit label PNGs (several labels with gaps, a binary
** mask, particles on the border) made with nm_png_encode, and a 32-bit float
** TIFF (labels above 65535) written with libtiff.
*/
#include "fuzz_util.h"

#include <math.h>

#include <tiffio.h>

#include "../../ext/image.h"
#include "../../ext/particles.h"

#define DEF_SIDE 64

/* A micrograph: background 200, dark discs on a grid. */
static unsigned char *make_micrograph(int w, int h, size_t *n) {
  uint8_t *px = malloc((size_t)w * h);
  if (!px) return NULL;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      int cx = (x / 16) * 16 + 8, cy = (y / 16) * 16 + 8;
      int d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
      px[(size_t)y * w + x] = d2 <= 25 ? 40 : (uint8_t)(200 + (x * 7 + y * 3) % 11);
    }
  unsigned char *png = NULL;
  nm_error err = {0};
  nm_status st = nm_png_encode(px, w, h, 8, 1, &png, n, &err);
  free(px);
  return st == NM_OK ? png : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nm_read_opts ro;
  nm_read_opts_default(&ro);
  ro.max_pixels = (uint64_t)1 << 20;
  nm_image li;
  memset(&li, 0, sizeof li);
  nm_error err = {0};
  int w = DEF_SIDE, h = DEF_SIDE;
  if (nm_image_read_memory(data, size, "fuzz", &ro, &li, &err) == NM_OK) {
    if (li.width >= 1 && li.height >= 1 && (uint64_t)li.width * li.height <= ((uint64_t)1 << 18))
      w = li.width, h = li.height;
  }
  nm_image_free(&li);
  size_t mn = 0;
  unsigned char *mpng = make_micrograph(w, h, &mn);
  FUZZ_REQUIRE(mpng != NULL);

  nm_particles_opts *o = nm_particles_opts_new();
  FUZZ_REQUIRE(o != NULL);
  memset(&err, 0, sizeof err);
  FUZZ_REQUIRE(nm_particles_opts_set(o, "scale_bar", 0, NULL, &err) == NM_OK);
  FUZZ_REQUIRE(nm_particles_opts_set(o, "nm_per_px", 0.5, NULL, &err) == NM_OK);
  FUZZ_REQUIRE(nm_particles_opts_set(o, "max_pixels", 1 << 20, NULL, &err) == NM_OK);
  nm_particles_opts_labels_blob(o, data, size);
  nm_particle_set s;
  nm_status st = nm_particles_run(NULL, mpng, mn, o, 1, NULL, &s, &err);
  if (st == NM_OK) {
    FUZZ_REQUIRE(s.user_labels == 1 && s.width == w && s.height == h);
    FUZZ_REQUIRE(s.n_labels >= 0 && s.labels && s.excluded);
    FUZZ_REQUIRE(s.n_labels == 0 || s.features);
    for (size_t i = 0; i < (size_t)w * h; i++)
      FUZZ_REQUIRE(s.labels[i] >= 0 && s.labels[i] <= s.n_labels);
    for (int k = 0; k <= s.n_labels; k++)
      FUZZ_REQUIRE(s.excluded[k] == NM_EXCL_NONE || nm_exclusion_name(s.excluded[k]) != NULL);
    volatile double sum = 0;
    for (int k = 0; k < s.n_labels; k++) sum += s.features[k].area;
    (void)sum;
    nm_particle_set_free(&s);
  } else {
    FUZZ_FAILED_WITH_MESSAGE(st, err);
  }
  nm_particles_opts_free(o);
  free(mpng);
  return 0;
}

static void write_seeds(void) {
  enum { S = DEF_SIDE };
  uint16_t *lab = calloc((size_t)S * S, sizeof *lab);
  uint8_t *mask = calloc((size_t)S * S, 1);
  if (!lab || !mask) return;
  for (int v = 0; v < 4; v++) {
    memset(lab, 0, (size_t)S * S * sizeof *lab);
    memset(mask, 0, (size_t)S * S);
    int k = 0;
    for (int gy = 0; gy < 4; gy++)
      for (int gx = 0; gx < 4; gx++) {
        k++;
        int cx = gx * 16 + 8 + (v == 3 ? 8 : 0), cy = gy * 16 + 8;
        uint16_t value = (uint16_t)(v == 1 ? k * 997 % 65535 : k);
        for (int y = cy - 5; y <= cy + 5; y++)
          for (int x = cx - 5; x <= cx + 5; x++) {
            if (x < 0 || y < 0 || x >= S || y >= S) continue;
            if ((x - cx) * (x - cx) + (y - cy) * (y - cy) > 25 - (k % 3) * 4) continue;
            lab[(size_t)y * S + x] = value;
            mask[(size_t)y * S + x] = 255;
          }
      }
    unsigned char *png = NULL;
    size_t n = 0;
    nm_error err = {0};
    nm_status st = v == 2 ? nm_png_encode(mask, S, S, 8, 1, &png, &n, &err)
                          : nm_png_encode(lab, S, S, 16, 1, &png, &n, &err);
    if (st == NM_OK) {
      char name[32];
      snprintf(name, sizeof name, "labels-%d.png", v);
      fuzz_write_seed(name, png, n);
      free(png);
    }
  }
  /* float labels beyond 16 bits, as a float TIFF */
  const char *dir = getenv("NM_FUZZ_SEED_DIR");
  char path[4096];
  snprintf(path, sizeof path, "%s/gen-labels-float.tif", dir);
  float *fl = calloc((size_t)S * S, sizeof *fl);
  TIFF *t = fl ? TIFFOpen(path, "w") : NULL;
  if (t) {
    for (size_t i = 0; i < (size_t)S * S; i++) fl[i] = lab[i] ? 70000.0f + lab[i] : 0.0f;
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, S);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, S);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 32);
    TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_IEEEFP);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, S);
    TIFFWriteEncodedStrip(t, 0, fl, (tmsize_t)S * S * sizeof *fl);
    TIFFClose(t);
  }
  free(fl);
  free(lab);
  free(mask);
}

NM_FUZZ_INIT(write_seeds)
