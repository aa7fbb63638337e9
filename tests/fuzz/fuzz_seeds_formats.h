/*
** fuzz_seeds_formats.h — small valid image files made at run time, one set
** per reader, so the reader targets have seeds on a machine without the
** format corpus (../shared/formats): a 16-bit and an 8-bit PNG, 8/16/float
** TIFFs (libtiff), DM3 and DM4 trees with a calibration, SER 0x0210 and
** 0x0220 with two frames, MRC modes 0/1/2/6, and a Velox-style EMD (libhdf5
** in-memory file). The layouts follow tests/unit/test_formats_bad.c, which
** checks that the readers accept them. Written only when NM_FUZZ_SEED_DIR is
** set (fuzz_util.h).
*/
#ifndef NM_FUZZ_SEEDS_FORMATS_H
#define NM_FUZZ_SEEDS_FORMATS_H

#include <hdf5.h>
#include <tiffio.h>

#include "../../ext/image.h"
#include "fuzz_util.h"

typedef struct sbuf {
  uint8_t *p;
  size_t n, cap;
} sbuf;

static inline void sb_put(sbuf *b, const void *d, size_t n) {
  if (b->n + n > b->cap) {
    size_t cap = (b->n + n) * 2 + 64;
    uint8_t *p = realloc(b->p, cap);
    if (!p) abort();
    b->p = p, b->cap = cap;
  }
  memcpy(b->p + b->n, d, n);
  b->n += n;
}

static inline void sb_uint(sbuf *b, uint64_t v, int size, int little) {
  uint8_t t[8];
  for (int i = 0; i < size; i++) t[i] = (uint8_t)(v >> (little ? 8 * i : 8 * (size - 1 - i)));
  sb_put(b, t, (size_t)size);
}

static inline void sb_f32(sbuf *b, float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  sb_uint(b, u, 4, 1);
}

static inline void sb_f64(sbuf *b, double d) {
  uint64_t u;
  memcpy(&u, &d, 8);
  sb_uint(b, u, 8, 1);
}

static inline void seed_out(const char *name, sbuf *b) {
  fuzz_write_seed(name, b->p, b->n);
  free(b->p);
  memset(b, 0, sizeof *b);
}

/* ---- PNG ---- */
static inline void seeds_png(void) {
  uint16_t px16[12 * 9];
  uint8_t px8[12 * 9 * 3];
  for (int i = 0; i < 12 * 9; i++) px16[i] = (uint16_t)(i * 601), px8[i] = (uint8_t)(i * 7);
  for (int i = 12 * 9; i < 12 * 9 * 3; i++) px8[i] = (uint8_t)i;
  unsigned char *png = NULL;
  size_t n = 0;
  nm_error err = {0};
  if (nm_png_encode(px16, 12, 9, 16, 1, &png, &n, &err) == NM_OK) fuzz_write_seed("g16.png", png, n);
  free(png);
  png = NULL;
  if (nm_png_encode(px8, 12, 9, 8, 3, &png, &n, &err) == NM_OK) fuzz_write_seed("rgb8.png", png, n);
  free(png);
}

/* ---- TIFF ---- */
static inline void seed_tiff(const char *name, int bits, int fmt, int pages) {
  char path[4096];
  snprintf(path, sizeof path, "%s/gen-%s", getenv("NM_FUZZ_SEED_DIR"), name);
  TIFF *t = TIFFOpen(path, "w");
  if (!t) return;
  uint8_t row[16 * 4];
  for (int pg = 0; pg < pages; pg++) {
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 16);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, 8);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, bits);
    TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, fmt);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 4);
    TIFFSetField(t, TIFFTAG_XRESOLUTION, 1e7 / 2.5);
    TIFFSetField(t, TIFFTAG_YRESOLUTION, 1e7 / 2.5);
    TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_CENTIMETER);
    if (pages > 1) TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
    for (int y = 0; y < 8; y++) {
      for (int x = 0; x < 16; x++) {
        float f = (float)(x * y + pg);
        if (bits == 8) row[x] = (uint8_t)(x * 16 + y);
        else if (bits == 16) ((uint16_t *)(void *)row)[x] = (uint16_t)(x * 4000 + y);
        else memcpy(row + 4 * x, &f, 4);
      }
      TIFFWriteScanline(t, row, (uint32_t)y, 0);
    }
    TIFFWriteDirectory(t);
  }
  TIFFClose(t);
}

static inline void seeds_tiff(void) {
  seed_tiff("u8.tif", 8, SAMPLEFORMAT_UINT, 1);
  seed_tiff("u16-2pages.tif", 16, SAMPLEFORMAT_UINT, 2);
  seed_tiff("f32.tif", 32, SAMPLEFORMAT_IEEEFP, 1);
}

/* ---- DM3 / DM4: ImageList/[0]/ImageData/{Calibrations, Data, DataType, Dimensions} ---- */
static inline void dm_word(sbuf *b, int wide, uint64_t v) { sb_uint(b, v, wide ? 8 : 4, 0); }
static inline void dm_tag(sbuf *b, int wide, int kind, const char *label) {
  sb_uint(b, (uint64_t)kind, 1, 0);
  sb_uint(b, strlen(label), 2, 0);
  sb_put(b, label, strlen(label));
  if (wide) sb_uint(b, 0, 8, 0);
}
static inline void dm_group(sbuf *b, int wide, const char *label, uint64_t ntags) {
  dm_tag(b, wide, 20, label);
  sb_uint(b, 0, 2, 0);
  dm_word(b, wide, ntags);
}
static inline void dm_scalar(sbuf *b, int wide, const char *label, int type, uint32_t bits) {
  dm_tag(b, wide, 21, label);
  sb_put(b, "%%%%", 4);
  dm_word(b, wide, 1);
  dm_word(b, wide, (uint64_t)type);
  sb_uint(b, bits, 4, 1);
}
static inline void seeds_dm(void) {
  for (int wide = 0; wide < 2; wide++) {
    sbuf b = {0};
    float scale = 0.25f;
    uint32_t sbits;
    memcpy(&sbits, &scale, 4);
    sb_uint(&b, wide ? 4 : 3, 4, 0);
    dm_word(&b, wide, 0);
    sb_uint(&b, 1, 4, 0);
    sb_uint(&b, 0, 2, 0);
    dm_word(&b, wide, 1);
    dm_group(&b, wide, "ImageList", 1);
    dm_group(&b, wide, "", 1);
    dm_group(&b, wide, "ImageData", 4);
    dm_group(&b, wide, "Calibrations", 1);
    dm_group(&b, wide, "Dimension", 2);
    for (int k = 0; k < 2; k++) {
      dm_group(&b, wide, "", 2);
      dm_scalar(&b, wide, "Scale", 6, sbits);
      dm_tag(&b, wide, 21, "Units");
      sb_put(&b, "%%%%", 4);
      dm_word(&b, wide, 3);
      dm_word(&b, wide, 20);
      dm_word(&b, wide, 4);
      dm_word(&b, wide, 2);
      sb_uint(&b, 'n', 2, 1);
      sb_uint(&b, 'm', 2, 1);
    }
    dm_tag(&b, wide, 21, "Data");
    sb_put(&b, "%%%%", 4);
    dm_word(&b, wide, 3);
    dm_word(&b, wide, 20);
    dm_word(&b, wide, 4); /* uint16 */
    dm_word(&b, wide, 12);
    for (int i = 0; i < 12; i++) sb_uint(&b, (uint64_t)i * 100, 2, 1);
    dm_scalar(&b, wide, "DataType", 5, 10);
    dm_group(&b, wide, "Dimensions", 2);
    dm_scalar(&b, wide, "", 5, 4);
    dm_scalar(&b, wide, "", 5, 3);
    seed_out(wide ? "g.dm4" : "g.dm3", &b);
  }
}

/* ---- TIA SER: two 3 x 2 uint16 frames ---- */
static inline void seeds_ser(void) {
  for (int v = 0; v < 2; v++) {
    int wide = v == 1;
    sbuf b = {0};
    uint32_t total = 2;
    uint64_t header = wide ? 34 : 30, osz = wide ? 8 : 4;
    sb_uint(&b, 0x4949, 2, 1);
    sb_uint(&b, 0x0197, 2, 1);
    sb_uint(&b, wide ? 0x220 : 0x210, 2, 1);
    sb_uint(&b, 0x4122, 4, 1);
    sb_uint(&b, 0x4152, 4, 1);
    sb_uint(&b, total, 4, 1);
    sb_uint(&b, total, 4, 1);
    sb_uint(&b, header, (int)osz, 1);
    sb_uint(&b, 0, 4, 1);
    uint64_t elem0 = header + 2 * total * osz, esz = 8 + 8 + 4 + 8 + 8 + 4 + 2 + 4 + 4 + 12;
    for (uint32_t i = 0; i < total; i++) sb_uint(&b, elem0 + i * esz, (int)osz, 1);
    for (uint32_t i = 0; i < total; i++) sb_uint(&b, 0, (int)osz, 1);
    for (uint32_t i = 0; i < total; i++) {
      sb_f64(&b, 0);
      sb_f64(&b, 2e-9);
      sb_uint(&b, 0, 4, 1);
      sb_f64(&b, 0);
      sb_f64(&b, 2e-9);
      sb_uint(&b, 0, 4, 1);
      sb_uint(&b, 6, 2, 1); /* int16 */
      sb_uint(&b, 3, 4, 1);
      sb_uint(&b, 2, 4, 1);
      for (int k = 0; k < 6; k++) sb_uint(&b, (uint64_t)(k + 10 * i), 2, 1);
    }
    seed_out(wide ? "v220.ser" : "v210.ser", &b);
  }
}

/* ---- MRC ---- */
static inline void seeds_mrc(void) {
  static const int modes[] = {0, 1, 2, 6};
  static const int bytes[] = {1, 2, 4, 2};
  for (int m = 0; m < 4; m++) {
    sbuf b = {0};
    uint8_t h[1024] = {0};
    int32_t ints[] = {5, 4, 2, modes[m]};
    memcpy(h, ints, sizeof ints);
    int32_t grid[3] = {5, 4, 2};
    memcpy(h + 28, grid, sizeof grid);
    float cell[3] = {12.5f, 10.0f, 5.0f};
    memcpy(h + 40, cell, sizeof cell);
    memcpy(h + 208, "MAP DD\0\0", 8);
    sb_put(&b, h, sizeof h);
    for (int i = 0; i < 5 * 4 * 2 * bytes[m]; i++) sb_uint(&b, (uint64_t)(i * 37), 1, 1);
    char name[32];
    snprintf(name, sizeof name, "mode%d.mrc", modes[m]);
    seed_out(name, &b);
  }
}

/* ---- Velox EMD: /Data/Image/<id>/{Data, Metadata} in an in-memory HDF5 file ---- */
static inline void seeds_emd(void) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_core(fapl, 1 << 16, 0);
  hid_t f = H5Fcreate("fuzz-seed-in-memory.emd", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (f < 0) {
    H5Pclose(fapl);
    return;
  }
  hid_t g1 = H5Gcreate2(f, "/Data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hid_t g2 = H5Gcreate2(f, "/Data/Image", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hid_t g3 = H5Gcreate2(g2, "0123abcd", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t dims[3] = {4, 3, 2};
  hid_t space = H5Screate_simple(3, dims, NULL);
  hid_t d = H5Dcreate2(g3, "Data", H5T_STD_U16LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  uint16_t px[24];
  for (int i = 0; i < 24; i++) px[i] = (uint16_t)(i * 50);
  H5Dwrite(d, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, px);
  const char *json = "{\"BinaryResult\": {\"PixelSize\": {\"width\": \"2.5e-10\", "
                     "\"height\": \"2.5e-10\"}, \"PixelUnitX\": \"m\", \"PixelUnitY\": \"m\"}}";
  hsize_t mdims[2] = {256, 2};
  uint8_t meta[512] = {0};
  memcpy(meta, json, strlen(json));
  hid_t ms = H5Screate_simple(2, mdims, NULL);
  hid_t md = H5Dcreate2(g3, "Metadata", H5T_STD_U8LE, ms, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(md, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, meta);
  H5Dclose(md);
  H5Sclose(ms);
  H5Dclose(d);
  H5Sclose(space);
  H5Gclose(g3);
  H5Gclose(g2);
  H5Gclose(g1);
  H5Fflush(f, H5F_SCOPE_GLOBAL);
  ssize_t n = H5Fget_file_image(f, NULL, 0);
  if (n > 0) {
    sbuf b = {malloc((size_t)n), (size_t)n, (size_t)n};
    if (b.p && H5Fget_file_image(f, b.p, (size_t)n) == n) seed_out("velox.emd", &b);
    else free(b.p);
  }
  H5Fclose(f);
  H5Pclose(fapl);
}

#endif /* NM_FUZZ_SEEDS_FORMATS_H */
